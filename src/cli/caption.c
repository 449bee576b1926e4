/* caption.c — `mmc caption --model RUN IMAGE...` (captions for images) and `mmc eval RUN`
 * for caption runs (BLEU-1..4, CIDEr-D, exact match on a split). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The decoding flags shared by both commands; returns 1 if argv[*i] was one of them, -1 on
 * a bad value (message printed), 0 if not ours. */
static int decode_flag(const char *who, int argc, char **argv, int *i, mmc_caption_opts *o, int *have) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int is = !strcmp(a, "--beam") || !strcmp(a, "--max-len") || !strcmp(a, "--length-penalty") || !strcmp(a, "--no-repeat-ngram");
    if (!is) return 0;
    if (!v) { cli_error(1, "%s: %s needs a value", who, a); return -1; }
    (*i)++;
    if (!strcmp(a, "--beam")) {
        if (cli_parse_int(v, 1, 64, &o->beam)) { cli_error(1, "%s: --beam needs an integer in 1..64, got '%s'", who, v); return -1; }
        have[0] = 1;
    } else if (!strcmp(a, "--max-len")) {
        if (cli_parse_int(v, 1, 1024, &o->max_len)) { cli_error(1, "%s: --max-len needs an integer in 1..1024, got '%s'", who, v); return -1; }
    } else if (!strcmp(a, "--no-repeat-ngram")) {
        if (cli_parse_int(v, 0, 16, &o->no_repeat_ngram)) { cli_error(1, "%s: --no-repeat-ngram needs an integer in 0..16, got '%s'", who, v); return -1; }
        have[1] = 1;
    } else {
        char *end = NULL;
        double x = strtod(v, &end);
        if (!end || *end || end == v || !(x >= 0 && x <= 10)) { cli_error(1, "%s: --length-penalty needs a number in 0..10, got '%s'", who, v); return -1; }
        o->length_penalty = (float)x;
        have[2] = 1;
    }
    return 1;
}

/* Flags given override the model's defaults (config.json). */
static void apply_defaults(const mmc_captioner *m, mmc_caption_opts *o, const int *have) {
    mmc_caption_opts d = mmc_caption_opts_default(m);
    if (!have[1]) o->no_repeat_ngram = d.no_repeat_ngram;
    if (!have[2]) o->length_penalty = d.length_penalty;
}

int cmd_caption(int argc, char **argv) {
    const char *model = NULL;
    int json = 0, best = 0, have[3] = {0};
    mmc_caption_opts o = mmc_caption_opts_default(NULL);
    char **images = calloc((size_t)argc + 1, sizeof(char *));
    int n_img = 0;
    if (!images) return cli_error(3, "caption: out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = decode_flag("caption", argc, argv, &i, &o, have);
        if (r < 0) { free(images); return 1; }
        if (r) continue;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--best")) best = 1;
        else if (!strcmp(a, "--model")) {
            if (i + 1 >= argc) { free(images); return cli_error(1, "caption: --model needs a value"); }
            model = argv[++i];
        } else if (a[0] == '-' && a[1]) { free(images); return cli_error(1, "caption: unknown option '%s' (see: mmc help caption)", a); }
        else images[n_img++] = argv[i];
    }
    if (!model) { free(images); return cli_error(1, "caption: --model RUN is required (usage: mmc caption --model RUN IMAGE... [--beam K] [--json])"); }
    if (n_img == 0) { free(images); return cli_error(1, "caption: no images given"); }
    mmc_error err = {0};
    const char *task = cli_run_task(model);
    if (task && strcmp(task, "caption")) {
        free(images);
        return cli_error(2, "caption: %s is a %s run, not a captioning run", model, task);
    }
    mmc_captioner *m = mmc_captioner_load(model, best ? "model-best.safetensors" : NULL, &err);
    if (!m) { free(images); return cli_error_from(&err); }
    apply_defaults(m, &o, have);
    int rc = 0;
    for (int k = 0; k < n_img && !rc; k++) {
        if (cli_check_utf8("an image path", images[k])) { rc = 2; break; }
        mmc_caption_result r;
        if (mmc_captioner_caption_file(m, images[k], &o, &r, &err)) { rc = cli_error_from(&err); break; }
        if (r.n < 1) {
            mmc_caption_result_free(&r);
            rc = cli_error(3, "caption: no caption for %s", images[k]);
            break;
        }
        if (json) {
            cJSON *obj = cJSON_CreateObject();
            cJSON_AddStringToObject(obj, "image", images[k]);
            cJSON_AddStringToObject(obj, "caption", r.hyps[0].text);
            cJSON_AddNumberToObject(obj, "score", r.hyps[0].score);
            if (o.beam > 1) {
                cJSON *beams = cJSON_AddArrayToObject(obj, "beams");
                for (int i = 0; i < r.n; i++) {
                    cJSON *b = cJSON_CreateObject();
                    cJSON_AddStringToObject(b, "caption", r.hyps[i].text);
                    cJSON_AddNumberToObject(b, "score", r.hyps[i].score);
                    cJSON_AddItemToArray(beams, b);
                }
            }
            char *s = cJSON_PrintUnformatted(obj);
            if (s) printf("%s\n", s);
            cJSON_free(s);
            cJSON_Delete(obj);
        } else {
            printf("%s: %s  (score %.4f)\n", images[k], r.hyps[0].text, r.hyps[0].score);
            for (int i = 1; i < r.n; i++) printf("    beam %d: %s  (score %.4f)\n", i + 1, r.hyps[i].text, r.hyps[i].score);
        }
        fflush(stdout);
        mmc_caption_result_free(&r);
    }
    mmc_captioner_free(m);
    free(images);
    return rc;
}

int cmd_eval_caption(int argc, char **argv) {
    const char *run = NULL, *data = NULL, *split = "test";
    int json = 0, best = 0, max_images = 0, have[3] = {0};
    mmc_caption_opts o = mmc_caption_opts_default(NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = decode_flag("eval", argc, argv, &i, &o, have);
        if (r < 0) return 1;
        if (r) continue;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--best")) best = 1;
        else if (!strcmp(a, "--data") || !strcmp(a, "--split") || !strcmp(a, "--max-images")) {
            if (!v) return cli_error(1, "eval: %s needs a value", a);
            i++;
            if (!strcmp(a, "--data")) data = v;
            else if (!strcmp(a, "--split")) split = v;
            else if (cli_parse_int(v, 0, 1000000000, &max_images)) return cli_error(1, "eval: --max-images needs an integer >= 0, got '%s'", v);
        } else if (a[0] == '-') return cli_error(1, "eval: unknown option '%s' (see: mmc help eval)", a);
        else if (!run) run = a;
        else return cli_error(1, "eval: one run folder, got '%s' and '%s'", run, a);
    }
    if (!run) return cli_error(1, "eval: which run? usage: mmc eval RUN --data DIR [--split test] [--beam K] [--json]");
    if (!data) return cli_error(1, "eval: --data DIR is required");
    mmc_error err = {0};
    const char *weights = best ? "model-best.safetensors" : "model.safetensors";
    mmc_captioner *m = mmc_captioner_load(run, weights, &err);
    if (!m) return cli_error_from(&err);
    apply_defaults(m, &o, have);
    mmc_caption_metrics mt;
    double t0 = mmc_now();
    int rc = mmc_captioner_evaluate(m, data, split, &o, max_images, &mt, &err);
    char lang[4];
    snprintf(lang, sizeof lang, "%s", mmc_captioner_config(m)->lang);
    const char *what = strcmp(mmc_captioner_config(m)->target, "video") ? "images" : "clips";
    mmc_captioner_free(m);
    if (rc) return cli_error_from(&err);
    double secs = mmc_now() - t0;
    if (json) {
        cJSON *obj = cJSON_CreateObject();
        static const char *names[4] = {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"};
        for (int k = 0; k < 4; k++) cJSON_AddNumberToObject(obj, names[k], mt.bleu[k]);
        cJSON_AddNumberToObject(obj, "CIDEr-D", mt.cider_d);
        cJSON_AddNumberToObject(obj, "exact_match", mt.exact_match);
        cJSON_AddNumberToObject(obj, "exact_first", mt.exact_first);
        cJSON_AddNumberToObject(obj, "n_images", mt.n_images);
        cJSON_AddStringToObject(obj, "split", split);
        cJSON_AddStringToObject(obj, "lang", lang);
        cJSON_AddNumberToObject(obj, "beam", o.beam);
        cJSON_AddStringToObject(obj, "checkpoint", weights);
        cJSON_AddNumberToObject(obj, "seconds", secs);
        char *s = cJSON_Print(obj);
        if (s) printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(obj);
    } else {
        printf("%s on %s/%s (%d %s, %s, %s, %.1f s):\n", run, data, split, mt.n_images,
               what, o.beam > 1 ? "beam search" : "greedy", weights, secs);
        if (o.beam > 1) printf("  beam %d, length penalty %g\n", o.beam, (double)o.length_penalty);
        printf("  BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f\n", mt.bleu[0], mt.bleu[1], mt.bleu[2], mt.bleu[3]);
        printf("  CIDEr-D %.4f\n", mt.cider_d);
        printf("  exact match %.4f (any caption), %.4f (the first caption)\n", mt.exact_match, mt.exact_first);
    }
    return 0;
}

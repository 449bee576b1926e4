/* caption.c — `mmc caption --model RUN IMAGE...` (captions for images) and `mmc eval RUN`
 * for caption runs (BLEU-1..4, CIDEr-D, exact match on a split). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* --keyframes K of one clip: the frames the summary r leans on most (the K largest drops of
 * mmc_captioner_frame_importance), in time order, written at the video's own size as
 * DIR/BASE-kfI.png; printed, or added to obj (--json). 0 or an exit code. */
/* A clip as the video captioner takes it: T frames at image_size, (T, 3, S, S) floats
 * (malloc'd into *chw), decoded once for both the summary and its keyframes. */
static int clip_chw(const mmc_captioner *m, const char *path, float **chw, mmc_error *err) {
    int T = mmc_captioner_frames(m), S = mmc_captioner_config(m)->image_size;
    mmc_video v = {0};
    mmc_video_opts vo = mmc_video_opts_default();
    vo.frames = T;
    vo.size = S;
    const float half[3] = {0.5f, 0.5f, 0.5f};
    *chw = malloc(sizeof(float) * (size_t)T * 3 * S * S);
    int rc = *chw ? mmc_video_load(&v, path, &vo, err) : mmc_error_set(err, MMC_ERR_RUNTIME, "caption: out of memory");
    if (!rc && v.n != T) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: %d frames decoded, %d wanted", path, v.n, T);
    if (!rc) rc = mmc_video_to_chw(&v, *chw, 1.0 / 255.0, half, half, err);
    mmc_video_free(&v);
    return rc;
}

static int keyframes(mmc_captioner *m, const char *path, const float *chw, const mmc_caption_hyp *h, int K, const char *dir,
                     cJSON *obj) {
    int T = mmc_captioner_frames(m), rc = 0;
    mmc_error err = {0};
    mmc_video full = {0};
    mmc_video_opts vo = mmc_video_opts_default();
    vo.frames = T;
    float drop[64];
    if (mmc_captioner_frame_importance(m, chw, h->ids, h->n_ids, h->ended, drop, &err)) rc = cli_error_from(&err);
    /* the same instants at the video's own size, for the files */
    if (!rc && (mmc_video_load(&full, path, &vo, &err) || full.n != T)) rc = err.code ? cli_error_from(&err) : cli_error(2, "%s: frames changed between reads", path);
    if (!rc && mkdir(dir, 0755) != 0 && errno != EEXIST) rc = cli_error(2, "caption: cannot create the folder %s: %s", dir, strerror(errno));
    int pick[64], n = K < T ? K : T;
    char used[64] = {0};
    for (int k = 0; k < n && !rc; k++) { /* the n largest drops (ties: the earlier frame) */
        int best = -1;
        for (int t = 0; t < T; t++)
            if (!used[t] && (best < 0 || drop[t] > drop[best])) best = t;
        used[best] = 1;
        pick[k] = best;
    }
    for (int a = 0; a < n && !rc; a++) /* time order */
        for (int b = a + 1; b < n; b++)
            if (pick[b] < pick[a]) { int x = pick[a]; pick[a] = pick[b]; pick[b] = x; }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path, *ext = strrchr(base, '.');
    int blen = (int)(ext && ext > base ? ext - base : (long)strlen(base));
    cJSON *arr = obj && !rc ? cJSON_AddArrayToObject(obj, "keyframes") : NULL;
    for (int k = 0; k < n && !rc; k++) {
        int t = pick[k];
        char out[4096];
        if (snprintf(out, sizeof out, "%s/%.*s-kf%d.png", dir, blen, base, k + 1) >= (int)sizeof out) {
            rc = cli_error(1, "caption: the keyframe path for %s is too long", path);
            break;
        }
        const mmc_image *f = &full.frames[t];
        if (mmc_png_write(out, f->w, f->h, f->c, f->data, &err)) { rc = cli_error_from(&err); break; }
        if (arr) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "frame", t);
            cJSON_AddNumberToObject(e, "time", full.t[t]);
            cJSON_AddNumberToObject(e, "drop", drop[t]);
            cJSON_AddStringToObject(e, "png", out);
            cJSON_AddItemToArray(arr, e);
        } else printf("    keyframe %d: frame %d of %d at %.3f s (log-prob drop %.3f) -> %s\n", k + 1, t, T, full.t[t], drop[t], out);
    }
    mmc_video_free(&full);
    return rc;
}

/* Flags given override the model's defaults (config.json). */
static void apply_defaults(const mmc_captioner *m, mmc_caption_opts *o, const int *have) {
    mmc_caption_opts d = mmc_caption_opts_default(m);
    if (!have[1]) o->no_repeat_ngram = d.no_repeat_ngram;
    if (!have[2]) o->length_penalty = d.length_penalty;
}

int cmd_caption(int argc, char **argv) {
    const char *model = NULL, *kf_dir = "keyframes";
    int json = 0, best = 0, have[3] = {0}, n_kf = 0;
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
        else if (!strcmp(a, "--keyframes") || !strcmp(a, "--keyframes-dir")) {
            if (i + 1 >= argc) { free(images); return cli_error(1, "caption: %s needs a value", a); }
            const char *v = argv[++i];
            if (!strcmp(a, "--keyframes-dir")) kf_dir = v;
            else if (cli_parse_int(v, 1, 64, &n_kf)) { free(images); return cli_error(1, "caption: --keyframes needs an integer in 1..64, got '%s'", v); }
        } else if (!strcmp(a, "--model")) {
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
    if (n_kf > 0 && mmc_captioner_frames(m) < 2) {
        mmc_captioner_free(m);
        free(images);
        return cli_error(1, "caption: --keyframes is for a video captioner (mmc train caption --video); %s describes images", model);
    }
    int rc = 0;
    for (int k = 0; k < n_img && !rc; k++) {
        if (cli_check_utf8("an image path", images[k])) { rc = 2; break; }
        mmc_caption_result r;
        float *clip = NULL; /* --keyframes: the clip decoded once for the summary and its keyframes */
        if (n_kf > 0 ? clip_chw(m, images[k], &clip, &err) || mmc_captioner_caption_chw(m, clip, &o, &r, &err)
                     : mmc_captioner_caption_file(m, images[k], &o, &r, &err)) {
            free(clip);
            rc = cli_error_from(&err);
            break;
        }
        if (r.n < 1) {
            mmc_caption_result_free(&r);
            free(clip);
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
            if (n_kf > 0 && (rc = keyframes(m, images[k], clip, &r.hyps[0], n_kf, kf_dir, obj))) {
                cJSON_Delete(obj);
                mmc_caption_result_free(&r);
                free(clip);
                break;
            }
            char *s = cJSON_PrintUnformatted(obj);
            if (s) printf("%s\n", s);
            cJSON_free(s);
            cJSON_Delete(obj);
        } else {
            printf("%s: %s  (score %.4f)\n", images[k], r.hyps[0].text, r.hyps[0].score);
            for (int i = 1; i < r.n; i++) printf("    beam %d: %s  (score %.4f)\n", i + 1, r.hyps[i].text, r.hyps[i].score);
            if (n_kf > 0 && (rc = keyframes(m, images[k], clip, &r.hyps[0], n_kf, kf_dir, NULL))) {
                mmc_caption_result_free(&r);
                free(clip);
                break;
            }
        }
        fflush(stdout);
        mmc_caption_result_free(&r);
        free(clip);
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

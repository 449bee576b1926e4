/* eval.c — `mmc eval RUN --data DIR [--split test] [--json] [--best] [--first-caption] [--dtype f32|int8]`:
 * retrieval recall of a trained run on a dataset split, every caption of the run's
 * language used (with --first-caption only each sample's first, e.g. an emoji's name). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

const char *cli_run_task(const char *run) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", run);
    cJSON *root;
    mmc_error e = {0};
    if (mmc_json_load(path, (size_t)1 << 20, 1, &root, &e)) return NULL; /* the run's own loader names the problem */
    const char *task = "retrieval";
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(root, "task");
    if (cJSON_IsString(mt) && (!strcmp(mt->valuestring, "clip") || !strcmp(mt->valuestring, "chinese_clip"))) task = "clip";
    else if (cJSON_IsString(tk) && cli_task_find(tk->valuestring)) task = cli_task_find(tk->valuestring)->name;
    cJSON_Delete(root);
    return task;
}

/* 1 when RUN/config.json names a Hugging Face CLIP / Chinese-CLIP ("model_type"). */
static int is_clip_folder(const char *run) {
    const char *t = cli_run_task(run);
    return t && !strcmp(t, "clip");
}

static void print_dir(const char *name, const mmc_recall *r, int last) {
    printf("  \"%s\": {\"R@1\": %.4f, \"R@5\": %.4f, \"R@10\": %.4f, \"median_rank\": %g, \"mean_rank\": %.3f}%s\n", name, r->r1, r->r5,
           r->r10, r->median_rank, r->mean_rank, last ? "" : ",");
}

int cmd_eval(int argc, char **argv) {
    for (int i = 1; i < argc; i++) { /* caption and vqa runs have their own evaluations */
        if (argv[i][0] == '-') {
            if (!strcmp(argv[i], "--data") || !strcmp(argv[i], "--split") || !strcmp(argv[i], "--beam") ||
                !strcmp(argv[i], "--dtype"))
                i++;
            continue;
        }
        const cli_task *t = cli_task_find(cli_run_task(argv[i]));
        if (t && t->eval) return t->eval(argc, argv);
        break;
    }
    const char *run = NULL, *data = NULL, *split = "test";
    int json = 0, best = 0, first = 0, qtype = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--dtype")) {
            if (!v) return cli_error(1, "eval: --dtype needs a value (f32, int8, q8 or q4)");
            if (cli_parse_dtype("eval", v, &qtype)) return 1;
            i++;
        }
        else if (!strcmp(a, "--best")) best = 1;
        else if (!strcmp(a, "--first-caption")) first = 1;
        else if (!strcmp(a, "--data") || !strcmp(a, "--split")) {
            if (!v) return cli_error(1, "eval: %s needs a value", a);
            if (!strcmp(a, "--data")) data = v;
            else split = v;
            i++;
        } else if (a[0] == '-') return cli_error(1, "eval: unknown option '%s' (see: mmc help eval)", a);
        else if (!run) run = a;
        else return cli_error(1, "eval: one run folder, got '%s' and '%s'", run, a);
    }
    if (!run) return cli_error(1, "eval: which run? usage: mmc eval RUN --data DIR [--split test] [--json]");
    if (!data) return cli_error(1, "eval: --data DIR is required");
    mmc_error err = {0};
    mmc_retrieval_metrics mt;
    double t0 = mmc_now();
    char lang[8]; /* copied: the config dies with the model */
    const char *tgt = "image", *q = "text"; /* the two sides: query -> target */
    int rc;
    if (is_clip_folder(run)) { /* a Hugging Face CLIP folder (e.g. from train --init): its weights */
        if (best) return cli_error(1, "eval: --best is for retrieval run folders; %s is a CLIP folder", run);
        if (first) return cli_error(1, "eval: --first-caption is for retrieval run folders; %s is a CLIP folder", run);
        mmc_clip_opts co = {MMC_CLIP_STORAGE_AUTO, qtype};
        mmc_clip *c = mmc_clip_load_ex(run, &co, &err);
        if (!c) return cli_error_from(&err);
        snprintf(lang, sizeof lang, "%s", mmc_clip_is_chinese(c) ? "zh" : "en");
        rc = mmc_clip_evaluate(c, data, split, lang, 0, &mt, &err);
        mmc_clip_free(c);
    } else {
        mmc_retrieval *m = mmc_retrieval_load_weights(run, best ? "model-best.safetensors" : NULL, &err);
        if (!m) return cli_error_from(&err);
        if (qtype && mmc_retrieval_quantize(m, run, qtype, &err)) {
            mmc_retrieval_free(m);
            return cli_error_from(&err);
        }
        rc = mmc_retrieval_evaluate_captions(m, data, split, 0, first, &mt, &err);
        snprintf(lang, sizeof lang, "%s", mmc_retrieval_get_config(m)->lang);
        if (mmc_retrieval_video_frames(m) > 0) tgt = "video";
        if (!strcmp(mmc_retrieval_query(m), "audio")) q = "audio", tgt = !strcmp(mmc_retrieval_target(m), "text") ? "text" : "image";
        mmc_retrieval_free(m);
    }
    if (rc) return cli_error_from(&err);
    if (json) {
        printf("{\n");
        char k1[32], k2[32];
        snprintf(k1, sizeof k1, "%s_to_%s", q, tgt);
        snprintf(k2, sizeof k2, "%s_to_%s", tgt, q);
        print_dir(k1, &mt.t2i, 0);
        print_dir(k2, &mt.i2t, 0);
        printf("  \"rsum\": %.2f,\n  \"n_%ss\": %d,\n  \"n_%ss\": %d,\n  \"split\": \"%s\",\n  \"lang\": \"%s\",\n  \"captions\": \"%s\",\n  \"dtype\": \"%s\",\n  \"checkpoint\": \"%s\"\n}\n",
               mt.rsum, !strcmp(q, "audio") && !strcmp(tgt, "text") ? "target_text" : tgt, mt.n_images, !strcmp(q, "audio") ? "clip" : "text", mt.n_texts, split, lang, first ? "first" : "all",
               qtype == MMC_QTYPE_Q8 ? "int8" : qtype == MMC_QTYPE_Q4 ? "q4" : "f32", best ? "model-best.safetensors" : "model.safetensors");
    } else {
        printf("%s on %s/%s (%d %ss, %d %s %s, %s) in %.1f s\n", run, data, split, mt.n_images, tgt, mt.n_texts, lang,
               !strcmp(q, "audio") ? "spoken captions" : "captions",
               best ? "model-best.safetensors" : "model.safetensors", mmc_now() - t0);
        printf("  %5s->%-5s  R@1 %5.1f%%  R@5 %5.1f%%  R@10 %5.1f%%  median rank %g  mean rank %.1f\n", q, tgt, 100 * mt.t2i.r1, 100 * mt.t2i.r5,
               100 * mt.t2i.r10, mt.t2i.median_rank, mt.t2i.mean_rank);
        printf("  %5s->%-5s  R@1 %5.1f%%  R@5 %5.1f%%  R@10 %5.1f%%  median rank %g  mean rank %.1f\n", tgt, q, 100 * mt.i2t.r1, 100 * mt.i2t.r5,
               100 * mt.i2t.r10, mt.i2t.median_rank, mt.i2t.mean_rank);
        printf("  rsum %.1f (sum of the six recalls in %%)\n", mt.rsum);
    }
    return 0;
}

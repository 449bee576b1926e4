/* vqa.c — `mmc vqa --model RUN IMAGE|VIDEO --question Q [--json]` (one answer with the top 5) and
 * `mmc eval RUN --data DIR [--split test] [--json] [--best]` for vqa and classify runs
 * (accuracy overall and by question type). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* A JSON string literal of s (valid UTF-8), printed. */
static void print_json_string(const char *s) {
    cJSON *j = cJSON_CreateString(s);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    fputs(t ? t : "\"\"", stdout);
    cJSON_free(t);
    cJSON_Delete(j);
}

int cmd_vqa(int argc, char **argv) {
    const char *run = NULL, *image = NULL, *question = NULL;
    int json = 0, best = 0, top_k = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--best")) best = 1;
        else if (!strcmp(a, "--model") || !strcmp(a, "--question") || !strcmp(a, "--top")) {
            if (!v) return cli_error(1, "vqa: %s needs a value", a);
            i++;
            if (!strcmp(a, "--model")) run = v;
            else if (!strcmp(a, "--question")) question = v;
            else if (cli_parse_int(v, 1, 100, &top_k)) return cli_error(1, "vqa: --top needs an integer in 1..100, got '%s'", v);
        } else if (a[0] == '-' && a[1]) return cli_error(1, "vqa: unknown option '%s' (see: mmc help vqa)", a);
        else if (!image) image = a;
        else return cli_error(1, "vqa: one image, got '%s' and '%s'", image, a);
    }
    if (!run) return cli_error(1, "vqa: --model RUN is required (usage: mmc vqa --model RUN IMAGE --question Q [--json])");
    if (!image) return cli_error(1, "vqa: which image? usage: mmc vqa --model RUN IMAGE --question Q [--json]");
    mmc_error err = {0};
    mmc_vqa *m = mmc_vqa_load(run, best ? "model-best.safetensors" : NULL, &err);
    if (!m) return cli_error_from(&err);
    /* a classifier of sound tracks (or of frames alone) takes no question */
    const char *query = mmc_vqa_get_config(m)->query;
    if (strcmp(query, "text")) {
        if (question) {
            const char *what = strcmp(query, "audio") ? "frames" : "frames and sound track";
            mmc_vqa_free(m); /* query points into m */
            return cli_error(1, "vqa: %s classifies a clip's %s, it takes no --question", run, what);
        }
        question = "";
    } else {
        int bad = !question ? cli_error(1, "vqa: --question Q is required") : cli_check_utf8("the question", question) ? 2 : 0;
        const char *p = question;
        while (!bad && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (!bad && !*p) bad = cli_error(1, "vqa: the question is empty");
        if (bad) {
            mmc_vqa_free(m);
            return bad;
        }
    }
    int top[100];
    float prob[100];
    int rc = mmc_vqa_answer_file(m, image, question, top_k, top, prob, &err); /* an image, or a video file for a video run */
    if (rc) {
        mmc_vqa_free(m);
        return cli_error_from(&err);
    }
    int k = top_k < mmc_vqa_n_classes(m) ? top_k : mmc_vqa_n_classes(m);
    if (json) {
        if (cli_check_utf8("the image path", image)) { mmc_vqa_free(m); return 2; }
        printf("{\"image\": ");
        print_json_string(image);
        printf(", \"question\": ");
        print_json_string(question);
        printf(", \"answer\": ");
        print_json_string(mmc_vqa_class(m, top[0]));
        printf(", \"probability\": %.6f, \"top\": [", (double)prob[0]);
        for (int i = 0; i < k; i++) {
            printf("%s{\"answer\": ", i ? ", " : "");
            print_json_string(mmc_vqa_class(m, top[i]));
            printf(", \"probability\": %.6f}", (double)prob[i]);
        }
        printf("]}\n");
    } else {
        printf("%s  (%.1f%%)\n", mmc_vqa_class(m, top[0]), 100.0 * prob[0]);
        for (int i = 1; i < k; i++) printf("  %-16s %5.1f%%\n", mmc_vqa_class(m, top[i]), 100.0 * prob[i]);
    }
    mmc_vqa_free(m);
    return 0;
}

int cmd_eval_vqa(int argc, char **argv) {
    const char *run = NULL, *data = NULL, *split = "test";
    int json = 0, best = 0, max_images = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--best")) best = 1;
        else if (!strcmp(a, "--data") || !strcmp(a, "--split") || !strcmp(a, "--max-images")) {
            if (!v) return cli_error(1, "eval: %s needs a value", a);
            i++;
            if (!strcmp(a, "--data")) data = v;
            else if (!strcmp(a, "--split")) split = v;
            else if (cli_parse_int(v, 0, 1000000000, &max_images))
                return cli_error(1, "eval: --max-images needs an integer >= 0, got '%s'", v);
        } else if (a[0] == '-') return cli_error(1, "eval: unknown option '%s' (see: mmc help eval)", a);
        else if (!run) run = a;
        else return cli_error(1, "eval: one run folder, got '%s' and '%s'", run, a);
    }
    if (!run) return cli_error(1, "eval: which run? usage: mmc eval RUN --data DIR [--split test] [--json]");
    if (!data) return cli_error(1, "eval: --data DIR is required");
    mmc_error err = {0};
    double t0 = mmc_now();
    const char *ckpt = best ? "model-best.safetensors" : "model.safetensors";
    mmc_vqa *m = mmc_vqa_load(run, best ? ckpt : NULL, &err);
    if (!m) return cli_error_from(&err);
    mmc_vqa_metrics mt;
    int rc = mmc_vqa_evaluate(m, data, split, max_images, &mt, &err);
    const mmc_vqa_config *c = mmc_vqa_get_config(m);
    char task[16], fusion[16], what[32];
    snprintf(task, sizeof task, "%s", c->task);
    snprintf(fusion, sizeof fusion, "%s", c->fusion);
    snprintf(what, sizeof what, "%s", !strcmp(c->task, "vqa") ? "questions" : !strcmp(c->source, "match") ? "caption pairs" : "captions");
    mmc_vqa_free(m);
    if (rc) return cli_error_from(&err);
    if (json) {
        printf("{\n  \"task\": \"%s\",\n  \"accuracy\": %.6f,\n  \"n\": %d,\n  \"by_type\": {", task, mt.accuracy, mt.n);
        for (int i = 0; i < mt.n_types; i++) {
            printf("%s\n    ", i ? "," : "");
            print_json_string(mt.types[i].name);
            printf(": {\"accuracy\": %.6f, \"n\": %d}", mt.types[i].accuracy, mt.types[i].n);
        }
        printf("\n  },\n  \"split\": ");
        print_json_string(split);
        printf(",\n  \"fusion\": \"%s\",\n  \"checkpoint\": \"%s\"\n}\n", fusion, ckpt);
    } else {
        printf("%s on %s/%s (%d %s, fusion %s, %s) in %.1f s\n", run, data, split, mt.n, what, fusion, ckpt, mmc_now() - t0);
        printf("  accuracy %5.1f%%\n", 100 * mt.accuracy);
        for (int i = 0; i < mt.n_types; i++)
            printf("    %-12s %5.1f%%  (%d)\n", mt.types[i].name, 100 * mt.types[i].accuracy, mt.types[i].n);
    }
    return 0;
}

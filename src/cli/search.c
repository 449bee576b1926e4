/* search.c — `mmc search INDEX (--text S | --image P) [-k K] [--model M] [--json]`: opens
 * the model whose id the index recorded (or --model, for a run folder that has moved),
 * embeds the query and prints the k nearest indexed items by cosine similarity. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define SEARCH_DEFAULT_K 10

/* A video segment's item, PATH#t=START,END (`mmc index build --videos`): the last "#t=" when
 * the span runs to the end of the item, with *t0 and *t1; NULL for anything else. */
static const char *segment_of(const char *item, double *t0, double *t1) {
    const char *frag = NULL;
    for (const char *p = item; p && (p = strstr(p, "#t=")); p++) frag = p;
    int n = 0;
    if (!frag || sscanf(frag, "#t=%lf,%lf%n", t0, t1, &n) != 2 || frag[n]) return NULL;
    return frag;
}

int cmd_search(int argc, char **argv) {
    const char *index = NULL, *text = NULL, *image = NULL, *model = NULL;
    int k = SEARCH_DEFAULT_K, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) {
            json = 1;
        } else if (!strcmp(o, "-k") || !strcmp(o, "--k")) {
            if (!v || cli_parse_int(v, 1, 1000000, &k))
                return cli_error(1, "search: -k needs an integer from 1 to 1000000 (got '%s')", v ? v : "");
            i++;
        } else if (!strcmp(o, "--text") || !strcmp(o, "--image") || !strcmp(o, "--model")) {
            const char **dst = o[2] == 't' ? &text : o[2] == 'i' ? &image : &model;
            if (!v || (!*v && dst != &text)) return cli_error(1, "search: %s needs a value", o);
            if (*dst) return cli_error(1, "search: %s given twice", o);
            *dst = v;
            i++;
        } else if (o[0] == '-' && o[1]) {
            return cli_error(1, "search: unknown option '%s' (see: mmc help search)", o);
        } else if (!index) {
            index = o;
        } else {
            return cli_error(1, "search: one index at a time (got '%s' and '%s')", index, o);
        }
    }
    if (!index) return cli_error(1, "search: missing INDEX (see: mmc help search)");
    if (!text == !image) return cli_error(1, "search: give one query, --text S or --image P");
    int rc = cli_check_utf8(text ? "search: --text" : "search: --image path", text ? text : image);
    if (rc) return rc;

    mmc_error err = {0};
    mmc_index *ix = mmc_index_open(index, &err);
    if (!ix) return cli_error_from(&err);
    const char *model_path = model ? model : mmc_index_model_id(ix);
    if (!model_path || !*model_path) {
        mmc_index_close(ix);
        return cli_error(2, "search: %s records no model; give --model M", index);
    }
    mmc_embedder *e = mmc_embedder_open(model_path, &err);
    if (!e) {
        mmc_index_close(ix);
        if (!model) fprintf(stderr, "mmc: note: %s was built with the model %s (give --model M if it moved)\n", index,
                            model_path);
        return cli_error_from(&err);
    }
    int dim = mmc_embedder_dim(e);
    float *q = mmc_malloc(sizeof(float) * (size_t)dim);
    int64_t *idx = mmc_malloc(sizeof(int64_t) * (size_t)k);
    float *scores = mmc_malloc(sizeof(float) * (size_t)k);
    int got = 0;
    if (!q || !idx || !scores) rc = cli_error(3, "search: out of memory");
    else if (dim != mmc_index_dim(ix))
        rc = cli_error(2, "search: the model %s makes %d-dimensional embeddings, the index %s holds %d", model_path,
                       dim, index, mmc_index_dim(ix));
    else if (text ? mmc_embedder_texts(e, &text, 1, q, &err) : mmc_embedder_image_files(e, &image, 1, q, &err))
        rc = cli_error_from(&err);
    else if (mmc_index_search(ix, q, 1, k, 0, idx, scores, &got, &err))
        rc = cli_error_from(&err);
    if (!rc && json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "query", text ? text : image);
        cJSON_AddStringToObject(doc, "kind", text ? "text" : "image");
        cJSON_AddStringToObject(doc, "index", index);
        cJSON_AddStringToObject(doc, "model", model_path);
        cJSON *res = cJSON_AddArrayToObject(doc, "results");
        for (int r = 0; r < got; r++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "rank", r + 1);
            const char *item = mmc_index_item(ix, idx[r]);
            double t0 = 0, t1 = 0;
            const char *frag = segment_of(item, &t0, &t1);
            if (frag) { /* a video segment: the file and its span */
                cJSON_AddItemToObject(o, "path", cJSON_CreateString(""));
                cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path");
                char *dup = mmc_malloc((size_t)(frag - item) + 1);
                if (dup) {
                    memcpy(dup, item, (size_t)(frag - item));
                    dup[frag - item] = 0;
                    cJSON_SetValuestring(p, dup);
                    mmc_free(dup);
                }
                cJSON_AddNumberToObject(o, "start", t0);
                cJSON_AddNumberToObject(o, "end", t1);
                cJSON_AddStringToObject(o, "item", item);
            } else cJSON_AddStringToObject(o, "path", item);
            /* through a 9-digit string so the float prints as itself, not its double */
            char buf[32];
            snprintf(buf, sizeof buf, "%.9g", (double)scores[r]);
            cJSON_AddItemToObject(o, "score", cJSON_CreateRaw(buf));
            cJSON_AddItemToArray(res, o);
        }
        char *s = cJSON_Print(doc);
        if (s) printf("%s\n", s);
        else rc = cli_error(3, "search: out of memory");
        cJSON_free(s);
        cJSON_Delete(doc);
    } else if (!rc) {
        printf("%s query: %s\n", text ? "text" : "image", text ? text : image);
        printf("%4s  %7s  %s\n", "rank", "score", "path");
        for (int r = 0; r < got; r++) {
            const char *item = mmc_index_item(ix, idx[r]);
            double t0 = 0, t1 = 0;
            const char *frag = segment_of(item, &t0, &t1);
            if (frag) /* a video segment */
                printf("%4d  %7.4f  %.*s  at %.3f-%.3f s\n", r + 1, scores[r], (int)(frag - item), item, t0, t1);
            else printf("%4d  %7.4f  %s\n", r + 1, scores[r], item);
        }
        if (got < k) printf("(the index holds %lld items)\n", (long long)mmc_index_count(ix));
    }
    mmc_free(q);
    mmc_free(idx);
    mmc_free(scores);
    mmc_embedder_close(e);
    mmc_index_close(ix);
    return rc;
}

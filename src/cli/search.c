/* search.c — `mmc search INDEX (--text S | --image P | --audio F) [-k K] [--model M] [--json]`: opens
 * the model whose id the index recorded (or --model, for a run folder that has moved),
 * embeds the query and prints the k nearest indexed items by cosine similarity. The items
 * are images or video segments (a media index) or texts, with or without ids (a text
 * index: `mmc index build --texts`; an image query on it is 以图搜文). The JSON document is
 * built by cli_search_doc, which `mmc serve` calls too, so both answer the same. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A JSON string of the first n bytes of s; NULL on out of memory. */
static cJSON *string_n(const char *s, size_t n) {
    char *dup = mmc_malloc(n + 1);
    if (!dup) return NULL;
    memcpy(dup, s, n);
    dup[n] = 0;
    cJSON *o = cJSON_CreateString(dup);
    mmc_free(dup);
    return o;
}

/* One result: rank, row (the 0-based index row: `mmc serve` fetches thumbnails by it), what
 * the item is — a media path (a video segment's file, span and whole item), or a text with
 * its id first when the index has ids — and the score. NULL on out of memory. */
static cJSON *result_object(const mmc_index *ix, int rank, int64_t row, float score) {
    const char *item = mmc_index_item(ix, row);
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddNumberToObject(o, "rank", rank) && cJSON_AddNumberToObject(o, "row", (double)row);
    double t0 = 0, t1 = 0;
    const char *frag;
    switch (mmc_index_kind(ix)) {
    case MMC_INDEX_TEXTS_IDS: { /* the index guarantees ID<tab>TEXT */
        const char *tab = strchr(item, '\t');
        ok = ok && cJSON_AddItemToObject(o, "id", string_n(item, (size_t)(tab - item))) &&
             cJSON_AddStringToObject(o, "text", tab + 1);
        break;
    }
    case MMC_INDEX_TEXTS: ok = ok && cJSON_AddStringToObject(o, "text", item); break;
    default:
        if ((frag = segment_of(item, &t0, &t1))) /* a video segment: the file and its span */
            ok = ok && cJSON_AddItemToObject(o, "path", string_n(item, (size_t)(frag - item))) &&
                 cJSON_AddNumberToObject(o, "start", t0) && cJSON_AddNumberToObject(o, "end", t1) &&
                 cJSON_AddStringToObject(o, "item", item);
        else ok = ok && cJSON_AddStringToObject(o, "path", item);
    }
    /* through a 9-digit string so the float prints as itself, not its double */
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)score);
    ok = ok && cJSON_AddItemToObject(o, "score", cJSON_CreateRaw(buf));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

cJSON *cli_search_doc(const mmc_index *ix, const char *index_name, const char *model, const char *kind,
                      const char *query, const float *q, int k, mmc_error *err) {
    if (!ix || !q || !kind || !query || k < 1) {
        mmc_error_set(err, MMC_ERR_USAGE, "search: an index, a query and k >= 1 are required");
        return NULL;
    }
    /* k' = min(k, count) results: a huge k costs nothing more than the index holds */
    int64_t n = mmc_index_count(ix);
    int kk = (int64_t)k < n ? k : (int)n;
    int64_t *idx = mmc_malloc(sizeof(int64_t) * (size_t)(kk > 0 ? kk : 1));
    float *scores = mmc_malloc(sizeof(float) * (size_t)(kk > 0 ? kk : 1));
    int got = 0;
    cJSON *doc = NULL;
    if (!idx || !scores) mmc_error_set(err, MMC_ERR_RUNTIME, "search: out of memory");
    else if (mmc_index_search(ix, q, 1, kk, 0, idx, scores, &got, err) == MMC_OK) {
        doc = cJSON_CreateObject();
        cJSON *res = NULL;
        int ok = doc && cJSON_AddStringToObject(doc, "query", query) && cJSON_AddStringToObject(doc, "kind", kind) &&
                 cJSON_AddStringToObject(doc, "index", index_name ? index_name : "") &&
                 cJSON_AddStringToObject(doc, "model", model ? model : "") && (res = cJSON_AddArrayToObject(doc, "results"));
        for (int r = 0; ok && r < got; r++) {
            cJSON *o = result_object(ix, r + 1, idx[r], scores[r]);
            ok = o && cJSON_AddItemToArray(res, o);
        }
        if (!ok) {
            cJSON_Delete(doc);
            doc = NULL;
            mmc_error_set(err, MMC_ERR_RUNTIME, "search: out of memory");
        }
    }
    mmc_free(idx);
    mmc_free(scores);
    return doc;
}

/* s on one line: a text from a JSON-lines file may hold line breaks and tabs, which would
 * break the table; they print escaped as in JSON. */
static void print_one_line(const char *s) {
    for (; *s; s++) {
        if (*s == '\n') fputs("\\n", stdout);
        else if (*s == '\r') fputs("\\r", stdout);
        else if (*s == '\t') fputs("\\t", stdout);
        else putchar(*s);
    }
}

/* The human table from the document cli_search_doc made (one path from search to output). */
static void print_human(const cJSON *doc, const mmc_index *ix, int k) {
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(doc, "results"), *o;
    int kind = mmc_index_kind(ix);
    printf("%s query: %s\n", cJSON_GetObjectItemCaseSensitive(doc, "kind")->valuestring,
           cJSON_GetObjectItemCaseSensitive(doc, "query")->valuestring);
    printf("%4s  %7s  %s\n", "rank", "score", kind == MMC_INDEX_TEXTS_IDS ? "id  text" : kind == MMC_INDEX_TEXTS ? "text" : "path");
    cJSON_ArrayForEach(o, res) {
        int rank = cJSON_GetObjectItemCaseSensitive(o, "rank")->valueint;
        /* nine digits give back the float itself, so the rounding to four matches the score */
        double score = strtof(cJSON_GetObjectItemCaseSensitive(o, "score")->valuestring, NULL);
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path"), *start = cJSON_GetObjectItemCaseSensitive(o, "start");
        printf("%4d  %7.4f  ", rank, score);
        if (kind == MMC_INDEX_TEXTS_IDS) {
            print_one_line(cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring);
            fputs("  ", stdout);
        }
        if (kind != MMC_INDEX_MEDIA) print_one_line(cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring);
        else if (start) /* a video segment */
            printf("%s  at %.3f-%.3f s", path->valuestring, start->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(o, "end")->valuedouble);
        else fputs(path->valuestring, stdout);
        putchar('\n');
    }
    if (cJSON_GetArraySize(res) < k) printf("(the index holds %lld items)\n", (long long)mmc_index_count(ix));
}

int cmd_search(int argc, char **argv) {
    const char *index = NULL, *text = NULL, *image = NULL, *audio = NULL, *model = NULL;
    int k = SEARCH_DEFAULT_K, json = 0;
    mmc_embedder_opts eo = {0};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) {
            json = 1;
        } else if (!strcmp(o, "--dtype")) {
            if (cli_parse_dtype("search", v, &eo.quantize)) return 1;
            i++;
        } else if (!strcmp(o, "-k") || !strcmp(o, "--k")) {
            if (!v || cli_parse_int(v, 1, 1000000, &k))
                return cli_error(1, "search: -k needs an integer from 1 to 1000000 (got '%s')", v ? v : "");
            i++;
        } else if (!strcmp(o, "--text") || !strcmp(o, "--image") || !strcmp(o, "--audio") || !strcmp(o, "--model")) {
            const char **dst = o[2] == 't' ? &text : o[2] == 'i' ? &image : o[2] == 'a' ? &audio : &model;
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
    if (!!text + !!image + !!audio != 1) return cli_error(1, "search: give one query, --text S, --image P or --audio F");
    const char *qv = text ? text : image ? image : audio, *qk = text ? "text" : image ? "image" : "audio";
    int rc = cli_check_utf8(text ? "search: --text" : image ? "search: --image path" : "search: --audio path", qv);
    if (rc) return rc;

    mmc_error err = {0};
    mmc_index *ix = mmc_index_open(index, &err);
    if (!ix) return cli_error_from(&err);
    const char *model_path = model ? model : mmc_index_model_id(ix);
    if (!model_path || !*model_path) {
        mmc_index_close(ix);
        return cli_error(2, "search: %s records no model; give --model M", index);
    }
    mmc_embedder *e = mmc_embedder_open_ex(model_path, &eo, &err);
    if (!e) {
        mmc_index_close(ix);
        if (!model) fprintf(stderr, "mmc: note: %s was built with the model %s (give --model M if it moved)\n", index,
                            model_path);
        return cli_error_from(&err);
    }
    int dim = mmc_embedder_dim(e);
    float *q = mmc_malloc(sizeof(float) * (size_t)dim);
    cJSON *doc = NULL;
    if (!q) rc = cli_error(3, "search: out of memory");
    else if (dim != mmc_index_dim(ix))
        rc = cli_error(2, "search: the model %s makes %d-dimensional embeddings, the index %s holds %d", model_path,
                       dim, index, mmc_index_dim(ix));
    else if (text ? mmc_embedder_texts(e, &text, 1, q, &err)
                  : image ? mmc_embedder_image_files(e, &image, 1, q, &err) : mmc_embedder_audio_files(e, &audio, 1, q, &err))
        rc = cli_error_from(&err);
    else if (!(doc = cli_search_doc(ix, index, model_path, qk, qv, q, k, &err)))
        rc = cli_error_from(&err);
    if (!rc && json) {
        char *s = cJSON_Print(doc);
        if (s) printf("%s\n", s);
        else rc = cli_error(3, "search: out of memory");
        cJSON_free(s);
    } else if (!rc) {
        print_human(doc, ix, k);
    }
    cJSON_Delete(doc);
    mmc_free(q);
    mmc_embedder_close(e);
    mmc_index_close(ix);
    return rc;
}

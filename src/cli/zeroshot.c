/* zeroshot.c — zero-shot classification with a model that embeds text and images (CLIP's
 * recipe): each label becomes a caption through a template ("a photo of a {}"), each image
 * is scored against every caption by cosine similarity, and
 *     p(label | image) = softmax(scale * cosine)
 * where scale is the model's learned logit scale when it has one (an InfoNCE-trained run:
 * exp(logit_scale), at most 100), else 100 — CLIP's trained value, which turns cosine
 * gaps of a few hundredths into confident but not saturated probabilities. The scale
 * changes the probabilities, never the ranking.
 *
 *   mmc zeroshot --model M IMAGE... --labels "a,b,c" [--template T] [-k K] [--json]
 *   mmc zeroshot --model M --data DIR [--split test] [--field label] [--labels ...] [--json]
 * The second form scores every image of a manifest split against the labels (by default
 * every distinct value of the field in that split) and reports accuracy, overall and per
 * class. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZS_DEFAULT_TEMPLATE "a photo of a {}"
#define ZS_DEFAULT_SCALE 100.0f
#define ZS_DEFAULT_K 5
#define ZS_BATCH 64
#define ZS_MAX_LABELS 100000

typedef struct str_list {
    char **v;
    int n, cap;
} str_list;

static void strs_free(str_list *l) {
    for (int i = 0; i < l->n; i++) mmc_free(l->v[i]);
    mmc_free(l->v);
    memset(l, 0, sizeof *l);
}

/* Appends a copy of s[0..n); returns its index, or -1 on OOM. */
static int strs_add(str_list *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = mmc_realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    char *c = mmc_malloc(n + 1);
    if (!c) return -1;
    memcpy(c, s, n);
    c[n] = 0;
    l->v[l->n] = c;
    return l->n++;
}

static int strs_find(const str_list *l, const char *s) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s)) return i;
    return -1;
}

/* "a, b ,c" -> {"a", "b", "c"}: spaces around each label are dropped; an empty label or a
 * repeated one is a usage error (it would split the probability or mean nothing). */
static int parse_labels(const char *s, str_list *out) {
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e == p) return cli_error(1, "zeroshot: --labels has an empty label (in \"%s\")", s);
        char tmp[512];
        if ((size_t)(e - p) >= sizeof tmp) return cli_error(1, "zeroshot: a label is longer than 511 bytes");
        memcpy(tmp, p, (size_t)(e - p));
        tmp[e - p] = 0;
        if (strs_find(out, tmp) >= 0) return cli_error(1, "zeroshot: label \"%s\" is given twice", tmp);
        if (out->n >= ZS_MAX_LABELS) return cli_error(1, "zeroshot: more than %d labels", ZS_MAX_LABELS);
        if (strs_add(out, p, (size_t)(e - p)) < 0) return cli_error(3, "zeroshot: out of memory");
        if (!comma) break;
        p = comma + 1;
    }
    return out->n < 2 ? cli_error(1, "zeroshot: give at least two labels (got \"%s\")", s) : 0;
}

/* Every "{}" in the template replaced by the label. */
static char *fill_template(const char *tpl, const char *label) {
    size_t nt = strlen(tpl), nl = strlen(label), holes = 0;
    for (const char *q = tpl; (q = strstr(q, "{}")); q += 2) holes++;
    char *s = mmc_malloc(nt + holes * nl + 1), *w = s;
    if (!s) return NULL;
    for (const char *q = tpl; *q;) {
        if (q[0] == '{' && q[1] == '}') {
            memcpy(w, label, nl);
            w += nl;
            q += 2;
        } else *w++ = *q++;
    }
    *w = 0;
    return s;
}

/* Embeds the labels through the template into (n_labels, dim). */
static int embed_labels(mmc_embedder *e, const str_list *labels, const char *tpl, float **out) {
    int dim = mmc_embedder_dim(e), rc = 0;
    char **prompts = mmc_calloc((size_t)labels->n, sizeof *prompts);
    *out = mmc_malloc(sizeof(float) * (size_t)dim * (size_t)labels->n);
    if (!prompts || !*out) rc = cli_error(3, "zeroshot: out of memory");
    for (int i = 0; !rc && i < labels->n; i++)
        if (!(prompts[i] = fill_template(tpl, labels->v[i]))) rc = cli_error(3, "zeroshot: out of memory");
    mmc_error err = {0};
    if (!rc && mmc_embedder_texts(e, (const char *const *)prompts, labels->n, *out, &err)) rc = cli_error_from(&err);
    for (int i = 0; prompts && i < labels->n; i++) mmc_free(prompts[i]);
    mmc_free(prompts);
    return rc;
}

/* probs[n_labels] = softmax(scale * img . lab_j); the max is subtracted so exp never
 * overflows. cos[n_labels] gets the cosines. */
static void classify(const float *img, const float *lab, int n_labels, int dim, float scale, float *cos,
                     float *probs) {
    float mx = -INFINITY;
    for (int j = 0; j < n_labels; j++) {
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)img[d] * lab[(size_t)j * dim + d];
        cos[j] = (float)s;
        if (scale * cos[j] > mx) mx = scale * cos[j];
    }
    double z = 0;
    for (int j = 0; j < n_labels; j++) z += (probs[j] = expf(scale * cos[j] - mx));
    for (int j = 0; j < n_labels; j++) probs[j] = (float)(probs[j] / z);
}

/* Labels in order of probability, best first; ties keep the label order. */
static void rank_labels(const float *probs, int n, int *order) {
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: stable, and label lists are short */
        int v = order[i], j = i;
        while (j > 0 && probs[order[j - 1]] < probs[v]) order[j] = order[j - 1], j--;
        order[j] = v;
    }
}

static cJSON *raw_float(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)x);
    return cJSON_CreateRaw(buf);
}

static int print_json(cJSON *o, int pretty) {
    char *s = pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return cli_error(3, "zeroshot: out of memory");
    printf("%s\n", s);
    cJSON_free(s);
    return 0;
}

/* The object printed for one image: its best label, then the k best with probability and
 * cosine. NULL on out of memory. */
static cJSON *image_object(const char *image, const char *const *labels, const int *order, const float *probs,
                           const float *cos, int k) {
    cJSON *o = cJSON_CreateObject(), *arr;
    int ok = o && cJSON_AddStringToObject(o, "image", image) && cJSON_AddStringToObject(o, "label", labels[order[0]]) &&
             (arr = cJSON_AddArrayToObject(o, "labels"));
    for (int r = 0; ok && r < k; r++) {
        cJSON *p = cJSON_CreateObject();
        ok = p && cJSON_AddItemToArray(arr, p) && cJSON_AddStringToObject(p, "label", labels[order[r]]) &&
             cJSON_AddItemToObject(p, "prob", raw_float(probs[order[r]])) &&
             cJSON_AddItemToObject(p, "cosine", raw_float(cos[order[r]]));
    }
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

cJSON *cli_zeroshot_doc(mmc_embedder *e, const float *img, const char *image, const char *const *labels, int n_labels,
                        const char *tpl, int k, mmc_error *err) {
    int dim = mmc_embedder_dim(e), L = n_labels;
    if (L < 2 || !tpl || !strstr(tpl, "{}")) {
        mmc_error_set(err, MMC_ERR_USAGE, "zeroshot: give at least two labels and a template with {}");
        return NULL;
    }
    float s = mmc_embedder_logit_scale(e), scale = s > 0 ? s : ZS_DEFAULT_SCALE;
    char **prompts = mmc_calloc((size_t)L, sizeof *prompts);
    float *lab = mmc_malloc(sizeof(float) * (size_t)dim * L), *cos = mmc_malloc(sizeof(float) * L),
          *probs = mmc_malloc(sizeof(float) * L);
    int *order = mmc_malloc(sizeof(int) * L), rc = MMC_OK;
    if (!prompts || !lab || !cos || !probs || !order) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "zeroshot: out of memory");
    for (int i = 0; !rc && i < L; i++)
        if (!(prompts[i] = fill_template(tpl, labels[i]))) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "zeroshot: out of memory");
    if (!rc) rc = mmc_embedder_texts(e, (const char *const *)prompts, L, lab, err);
    cJSON *o = NULL;
    if (!rc) {
        classify(img, lab, L, dim, scale, cos, probs);
        rank_labels(probs, L, order);
        if (!(o = image_object(image, labels, order, probs, cos, k < L ? k : L)))
            mmc_error_set(err, MMC_ERR_RUNTIME, "zeroshot: out of memory");
    }
    for (int i = 0; prompts && i < L; i++) mmc_free(prompts[i]);
    mmc_free(prompts);
    mmc_free(lab);
    mmc_free(cos);
    mmc_free(probs);
    mmc_free(order);
    return o;
}

typedef struct zs_args {
    const char *model, *labels, *tpl, *data, *split, *field;
    int k, json;
    const char **images;
    int n_images;
} zs_args;

/* ---------------------------------------------------------- images on the command line */

static int zs_images(const zs_args *a, mmc_embedder *e, float scale) {
    str_list labels = {0};
    int rc = parse_labels(a->labels, &labels), dim = mmc_embedder_dim(e), L = labels.n;
    float *lab = NULL, *img = mmc_malloc(sizeof(float) * (size_t)dim * (size_t)a->n_images);
    float *cos = mmc_malloc(sizeof(float) * (size_t)(L ? L : 1)), *probs = mmc_malloc(sizeof(float) * (size_t)(L ? L : 1));
    int *order = mmc_malloc(sizeof(int) * (size_t)(L ? L : 1));
    mmc_error err = {0};
    if (!rc && (!img || !cos || !probs || !order)) rc = cli_error(3, "zeroshot: out of memory");
    if (!rc) rc = embed_labels(e, &labels, a->tpl, &lab);
    /* images in one batch; a video file (by its name) on its own: meanP over 8 frames of the
     * whole file (mmc_embedder_video_file), or a text:video run's clip */
    const char **ims = rc ? NULL : mmc_malloc(sizeof(char *) * (size_t)a->n_images);
    int *at = rc ? NULL : mmc_malloc(sizeof(int) * (size_t)a->n_images), n_im = 0;
    if (!rc && (!ims || !at)) rc = cli_error(3, "zeroshot: out of memory");
    for (int i = 0; !rc && i < a->n_images; i++) {
        if (!cli_is_video_name(a->images[i])) { at[n_im] = i; ims[n_im++] = a->images[i]; continue; }
        mmc_video_segments sg;
        if (mmc_embedder_video_file(e, a->images[i], 0, 0, &sg, &err)) rc = cli_error_from(&err);
        else memcpy(img + (size_t)i * dim, sg.emb, sizeof(float) * (size_t)dim);
        mmc_video_segments_free(&sg);
    }
    float *tmp = !rc && n_im ? mmc_malloc(sizeof(float) * (size_t)dim * n_im) : NULL;
    if (!rc && n_im && !tmp) rc = cli_error(3, "zeroshot: out of memory");
    if (!rc && n_im && mmc_embedder_image_files(e, ims, n_im, tmp, &err)) rc = cli_error_from(&err);
    for (int j = 0; !rc && j < n_im; j++) memcpy(img + (size_t)at[j] * dim, tmp + (size_t)j * dim, sizeof(float) * (size_t)dim);
    mmc_free(tmp);
    mmc_free(ims);
    mmc_free(at);
    int k = a->k < L ? a->k : L;
    if (!rc && !a->json) printf("model %s, %d labels, template \"%s\", scale %.2f\n", mmc_embedder_id(e), L, a->tpl, scale);
    for (int i = 0; !rc && i < a->n_images; i++) {
        classify(img + (size_t)i * dim, lab, L, dim, scale, cos, probs);
        rank_labels(probs, L, order);
        if (a->json) {
            cJSON *o = image_object(a->images[i], (const char *const *)labels.v, order, probs, cos, k);
            rc = o ? print_json(o, 0) : cli_error(3, "zeroshot: out of memory");
        } else {
            printf("%s\n", a->images[i]);
            for (int r = 0; r < k; r++)
                printf("  %6.2f%%  %-24s (cosine %.4f)\n", 100.0 * probs[order[r]], labels.v[order[r]], cos[order[r]]);
        }
    }
    mmc_free(lab);
    mmc_free(img);
    mmc_free(cos);
    mmc_free(probs);
    mmc_free(order);
    strs_free(&labels);
    return rc;
}

/* ---------------------------------------------------------- a labelled dataset split */

/* The text of field `f` in a JSON object: a string as is, an integer number as its digits
 * (as the manifest reader keeps "label"); NULL when absent or of another type. */
static char *field_text(const cJSON *o, const char *f) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);
    char buf[64];
    const char *s = NULL;
    if (cJSON_IsString(v)) s = v->valuestring;
    else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15) snprintf(buf, sizeof buf, "%lld", (long long)d);
        else snprintf(buf, sizeof buf, "%.17g", d);
        s = buf;
    }
    if (!s) return NULL;
    size_t n = strlen(s);
    char *c = mmc_malloc(n + 1);
    if (c) memcpy(c, s, n + 1);
    return c;
}

static int line_is_blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

/* truth[i] = the field of sample i. "label" comes from the manifest reader; another field
 * is read from the raw lines (the reader keeps only the fields it knows), matched to the
 * samples by position and checked by id. */
static int read_field(const mmc_manifest *m, const char *field, char **truth) {
    if (!strcmp(field, "label")) {
        for (int i = 0; i < m->count; i++) {
            const char *l = m->samples[i].label;
            if (!l) continue;
            size_t len = strlen(l);
            if (!(truth[i] = mmc_malloc(len + 1))) return cli_error(3, "zeroshot: out of memory");
            memcpy(truth[i], l, len + 1);
        }
        return 0;
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    mmc_error err = {0};
    if (mmc_read_file(m->path, MMC_MANIFEST_MAX_BYTES, &buf, &n, &err)) return cli_error_from(&err);
    int k = 0, rc = 0;
    for (size_t pos = 0; pos < n && !rc;) {
        const char *p = (const char *)buf + pos, *nl = memchr(p, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - p) : n - pos;
        if (!line_is_blank(p, len)) {
            cJSON *o = cJSON_ParseWithLength(p, len);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
            if (k >= m->count || !cJSON_IsString(id) || strcmp(id->valuestring, m->samples[k].id))
                rc = cli_error(2, "%s: changed while it was read", m->path);
            else truth[k++] = field_text(o, field);
            cJSON_Delete(o);
        }
        pos += len + 1;
    }
    mmc_free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int zs_data(const zs_args *a, mmc_embedder *e, float scale) {
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_load(a->data, a->split, &err);
    if (!m) return cli_error_from(&err);
    int rc = mmc_manifest_check_images(m, &err) ? cli_error_from(&err) : 0;
    int N = m->count, dim = mmc_embedder_dim(e);
    char **truth = mmc_calloc((size_t)N, sizeof *truth);
    str_list labels = {0};
    if (!rc && !truth) rc = cli_error(3, "zeroshot: out of memory");
    if (!rc) rc = read_field(m, a->field, truth);
    if (!rc && a->labels) rc = parse_labels(a->labels, &labels);
    else if (!rc) {
        for (int i = 0; !rc && i < N; i++)
            if (truth[i] && strs_find(&labels, truth[i]) < 0 && strs_add(&labels, truth[i], strlen(truth[i])) < 0)
                rc = cli_error(3, "zeroshot: out of memory");
        if (!rc && labels.n) qsort(labels.v, (size_t)labels.n, sizeof *labels.v, cmp_str);
        if (!rc && labels.n < 2)
            rc = cli_error(2, "zeroshot: %s has %d distinct values of \"%s\"; need at least two classes", m->path,
                           labels.n, a->field);
    }
    /* The samples to score: those whose field names one of the labels. */
    int L = labels.n, n = 0, skipped = 0;
    int *truth_id = mmc_malloc(sizeof(int) * (size_t)(N ? N : 1)), *pred = mmc_malloc(sizeof(int) * (size_t)(N ? N : 1));
    const char **paths = mmc_malloc(sizeof(char *) * (size_t)(N ? N : 1));
    char **joined = mmc_calloc((size_t)(N ? N : 1), sizeof *joined);
    if (!rc && (!truth_id || !pred || !paths || !joined)) rc = cli_error(3, "zeroshot: out of memory");
    for (int i = 0; !rc && i < N; i++) {
        int c = truth[i] ? strs_find(&labels, truth[i]) : -1;
        if (c < 0) {
            skipped++;
            continue;
        }
        size_t a1 = strlen(m->dir), b1 = strlen(m->samples[i].image);
        if (!(joined[n] = mmc_malloc(a1 + b1 + 2))) {
            rc = cli_error(3, "zeroshot: out of memory");
            break;
        }
        snprintf(joined[n], a1 + b1 + 2, "%s/%s", m->dir, m->samples[i].image);
        paths[n] = joined[n];
        truth_id[n++] = c;
    }
    if (!rc && !n) rc = cli_error(2, "zeroshot: no sample of %s has a \"%s\" among the labels", m->path, a->field);
    float *lab = NULL, *img = mmc_malloc(sizeof(float) * (size_t)dim * ZS_BATCH);
    float *cos = mmc_malloc(sizeof(float) * (size_t)(L ? L : 1)), *probs = mmc_malloc(sizeof(float) * (size_t)(L ? L : 1));
    if (!rc && (!img || !cos || !probs)) rc = cli_error(3, "zeroshot: out of memory");
    if (!rc) rc = embed_labels(e, &labels, a->tpl, &lab);
    cli_progress_state pr = {stderr, mmc_now(), mmc_now(), isatty(STDERR_FILENO)};
    for (int at = 0; !rc && at < n; at += ZS_BATCH) {
        int b = n - at < ZS_BATCH ? n - at : ZS_BATCH;
        if (mmc_embedder_image_files(e, paths + at, b, img, &err)) {
            rc = cli_error_from(&err);
            break;
        }
        for (int i = 0; i < b; i++) {
            classify(img + (size_t)i * dim, lab, L, dim, scale, cos, probs);
            pred[at + i] = mmc_eval_argmax(probs, L);
        }
        if (pr.tty) cli_progress(&pr, "images", at + b, n);
    }
    mmc_accuracy acc;
    int *cc = mmc_malloc(sizeof(int) * (size_t)(L ? L : 1)), *ct = mmc_malloc(sizeof(int) * (size_t)(L ? L : 1));
    if (!rc && (!cc || !ct)) rc = cli_error(3, "zeroshot: out of memory");
    if (!rc && mmc_eval_accuracy(pred, truth_id, n, L, &acc, cc, ct, &err)) rc = cli_error_from(&err);
    if (!rc && a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", mmc_embedder_id(e));
        cJSON_AddStringToObject(o, "data", a->data);
        cJSON_AddStringToObject(o, "split", a->split);
        cJSON_AddStringToObject(o, "field", a->field);
        cJSON_AddStringToObject(o, "template", a->tpl);
        cJSON_AddItemToObject(o, "scale", raw_float(scale));
        cJSON_AddNumberToObject(o, "n", acc.n);
        cJSON_AddNumberToObject(o, "correct", acc.correct);
        cJSON_AddNumberToObject(o, "skipped", skipped);
        cJSON_AddNumberToObject(o, "accuracy", acc.overall);
        cJSON_AddNumberToObject(o, "mean_per_class", acc.mean_per_class);
        cJSON *cl = cJSON_AddArrayToObject(o, "classes");
        for (int c = 0; c < L; c++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "label", labels.v[c]);
            cJSON_AddNumberToObject(x, "n", ct[c]);
            cJSON_AddNumberToObject(x, "correct", cc[c]);
            if (ct[c]) cJSON_AddNumberToObject(x, "accuracy", (double)cc[c] / ct[c]);
            else cJSON_AddNullToObject(x, "accuracy");
            cJSON_AddItemToArray(cl, x);
        }
        rc = print_json(o, 1);
    } else if (!rc) {
        printf("zero-shot on %s (%s, field \"%s\"): %d images, %d classes, template \"%s\", scale %.2f\n", a->data,
               a->split, a->field, n, L, a->tpl, scale);
        if (skipped) printf("skipped %d samples whose \"%s\" is missing or not among the labels\n", skipped, a->field);
        printf("accuracy %.2f%% (%d/%d), mean per class %.2f%%, chance %.2f%%\n", 100 * acc.overall, acc.correct,
               acc.n, 100 * acc.mean_per_class, 100.0 / L);
        printf("  %-24s %6s %8s\n", "class", "n", "accuracy");
        for (int c = 0; c < L; c++) {
            if (ct[c]) printf("  %-24s %6d %7.2f%%\n", labels.v[c], ct[c], 100.0 * cc[c] / ct[c]);
            else printf("  %-24s %6d %8s\n", labels.v[c], 0, "-");
        }
    }
    for (int i = 0; truth && i < N; i++) mmc_free(truth[i]);
    for (int i = 0; joined && i < n; i++) mmc_free(joined[i]);
    mmc_free(truth);
    mmc_free(joined);
    mmc_free(paths);
    mmc_free(truth_id);
    mmc_free(pred);
    mmc_free(lab);
    mmc_free(img);
    mmc_free(cos);
    mmc_free(probs);
    mmc_free(cc);
    mmc_free(ct);
    strs_free(&labels);
    mmc_manifest_free(m);
    return rc;
}

int cmd_zeroshot(int argc, char **argv) {
    zs_args a = {NULL, NULL, ZS_DEFAULT_TEMPLATE, NULL, "test", "label", ZS_DEFAULT_K, 0, NULL, 0};
    a.images = mmc_calloc((size_t)argc, sizeof *a.images);
    if (!a.images) return cli_error(3, "zeroshot: out of memory");
    int rc = 0;
    mmc_embedder_opts eo = {0};
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dst = !strcmp(o, "--model") ? &a.model : !strcmp(o, "--labels") ? &a.labels
                         : !strcmp(o, "--template") ? &a.tpl : !strcmp(o, "--data") ? &a.data
                         : !strcmp(o, "--split") ? &a.split : !strcmp(o, "--field") ? &a.field : NULL;
        if (!strcmp(o, "--json")) a.json = 1;
        else if (!strcmp(o, "--dtype")) rc = cli_parse_dtype("zeroshot", v, &eo.quantize), i++;
        else if (!strcmp(o, "-k") || !strcmp(o, "--k")) {
            if (!v || cli_parse_int(v, 1, ZS_MAX_LABELS, &a.k))
                rc = cli_error(1, "zeroshot: -k needs an integer from 1 to %d (got '%s')", ZS_MAX_LABELS, v ? v : "");
            i++;
        } else if (dst) {
            if (!v || !*v) rc = cli_error(1, "zeroshot: %s needs a value (see: mmc help zeroshot)", o);
            else *dst = v, i++;
        } else if (o[0] == '-' && o[1]) {
            rc = cli_error(1, "zeroshot: unknown option '%s' (see: mmc help zeroshot)", o);
        } else {
            a.images[a.n_images++] = o;
        }
    }
    if (!rc && !a.model) rc = cli_error(1, "zeroshot: missing --model M (see: mmc help zeroshot)");
    if (!rc && !strstr(a.tpl, "{}")) rc = cli_error(1, "zeroshot: --template needs a {} where the label goes");
    if (!rc && a.data && a.n_images) rc = cli_error(1, "zeroshot: give IMAGE... or --data DIR, not both");
    if (!rc && !a.data && !a.n_images) rc = cli_error(1, "zeroshot: give IMAGE... --labels \"a,b\", or --data DIR");
    if (!rc && !a.data && !a.labels) rc = cli_error(1, "zeroshot: missing --labels \"a,b,c\"");
    if (!rc) rc = cli_check_utf8("zeroshot: --template", a.tpl);
    if (!rc && a.labels) rc = cli_check_utf8("zeroshot: --labels", a.labels);
    for (int i = 0; !rc && i < a.n_images; i++) rc = cli_check_utf8("zeroshot: an image path", a.images[i]);
    mmc_embedder *e = NULL;
    if (!rc) {
        mmc_error err = {0};
        if (!(e = mmc_embedder_open_ex(a.model, &eo, &err))) rc = cli_error_from(&err);
    }
    if (!rc) {
        float s = mmc_embedder_logit_scale(e);
        float scale = s > 0 ? s : ZS_DEFAULT_SCALE;
        rc = a.data ? zs_data(&a, e, scale) : zs_images(&a, e, scale);
    }
    mmc_embedder_close(e);
    mmc_free(a.images);
    return rc;
}

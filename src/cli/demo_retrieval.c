/* demo_retrieval.c — the demo's retrieval stage: an English and a Chinese dual encoder
 * (the default config of `mmc train retrieval`), each trained for a fixed step count,
 * evaluated on the test split, then asked for the top 5 test images of a few queries.
 *
 * The queries are written for the demo's test split (data seed 7; a scene does not depend
 * on how many scenes the split has): each says which objects a matching scene has, and the
 * demo checks every retrieved scene against that by rebuilding it (mmc_shapes_make), so the
 * "match" marks are facts about the scene, not the model's opinion. */
#include "demo.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steps per model: about 40 s (en) and 90 s (zh) on 2 idle cores. The Chinese model gets
 * more: its character sequences are ~1.5x longer and it learns later (test text->image
 * R@1 of the 200 test scenes: en 0.77 after 300 steps, 0.80 after 500; zh 0.39 after 300,
 * 0.72 after 500). */
#define DEMO_STEPS_EN 300
#define DEMO_STEPS_ZH 450
#define DEMO_QUICK_STEPS 20 /* steps 1, 10 and 20 are logged: a curve, not a dot */

enum { REL_NONE = -1, REL_LEFT_OF = 0, REL_ABOVE = 1, REL_AND = 2 };
typedef struct qobj {
    const char *colour, *shape; /* English names (mmc_shapes_*_name) */
    int large;                  /* 1 large, 0 small, -1 either */
} qobj;
typedef struct demo_query {
    const char *lang, *text;
    int n_obj;
    qobj obj[2];
    int rel; /* REL_*: how obj[0] stands to obj[1] */
} demo_query;

static const demo_query QUERIES[] = {
    {"en", "a large cyan circle", 1, {{"cyan", "circle", 1}}, REL_NONE},
    {"en", "a red circle to the left of a yellow square", 2, {{"red", "circle", -1}, {"yellow", "square", -1}}, REL_LEFT_OF},
    {"en", "a green diamond and a white cross", 2, {{"green", "diamond", -1}, {"white", "cross", -1}}, REL_AND},
    {"zh", "一个小的橙色圆形", 1, {{"orange", "circle", 0}}, REL_NONE},
    {"zh", "蓝色星形和黄色圆形", 2, {{"blue", "star", -1}, {"yellow", "circle", -1}}, REL_AND},
};
enum { NQUERIES = sizeof QUERIES / sizeof QUERIES[0] };

static int find_name(const char *(*name)(int), int n, const char *want) {
    for (int i = 0; i < n; i++)
        if (name(i) && !strcmp(name(i), want)) return i;
    return -1;
}

static int obj_matches(const mmc_shape_obj *o, const qobj *q) {
    return o->shape == find_name(mmc_shapes_shape_name, MMC_SHAPES_N_SHAPES, q->shape) &&
           o->colour == find_name(mmc_shapes_colour_name, MMC_SHAPES_N_COLOURS, q->colour) && (q->large < 0 || o->large == q->large);
}

/* The relation the captions use (src/data/shapes.c): the axis of the larger offset. */
static int stands(const mmc_shape_obj *a, const mmc_shape_obj *b, int rel) {
    float dx = b->cx - a->cx, dy = b->cy - a->cy;
    if (rel == REL_LEFT_OF) return fabsf(dx) >= fabsf(dy) && dx > 0;
    if (rel == REL_ABOVE) return fabsf(dy) > fabsf(dx) && dy > 0;
    return 1;
}

static int scene_matches(const mmc_shapes_scene *sc, const demo_query *q) {
    for (int i = 0; i < sc->n; i++) {
        if (!obj_matches(&sc->obj[i], &q->obj[0])) continue;
        if (q->n_obj == 1) return 1;
        for (int j = 0; j < sc->n; j++)
            if (j != i && obj_matches(&sc->obj[j], &q->obj[1]) && stands(&sc->obj[i], &sc->obj[j], q->rel)) return 1;
    }
    return 0;
}

/* Test scene i of the demo's world, rebuilt. */
static int test_scene(const demo_ctx *d, int64_t i, mmc_shapes_scene *sc) {
    mmc_error err = {0};
    return mmc_shapes_make(d->data_seed, "test", i, d->image_size, sc, NULL, NULL, &err) ? cli_error_from(&err) : 0;
}

static void tiny_config(mmc_retrieval_config *c) {
    c->image_size = 32;
    memset(c->image.cnn_widths, 0, sizeof c->image.cnn_widths);
    c->image.cnn_widths[0] = 8;
    c->image.cnn_widths[1] = 16;
    c->embed_dim = 32;
    c->text.word_dim = 16;
    c->text.text_hidden = 32;
    c->batch_size = 16;
}

static int train(const void *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_retrieval_train(cfg, o, err); }

/* Trains OUT/retrieval-LANG. */
static int train_one(demo_ctx *d, const char *lang, const char *run, int64_t steps) {
    mmc_retrieval_config cfg = mmc_retrieval_config_default();
    snprintf(cfg.lang, sizeof cfg.lang, "%s", lang);
    if (d->quick) tiny_config(&cfg);
    return demo_train(d, "retrieval", run, steps, train, &cfg);
}

/* Test recall of one run: printed and into the metrics table. */
static int evaluate(demo_ctx *d, const char *lang, const char *run, int64_t steps) {
    mmc_error err = {0};
    mmc_retrieval *m = mmc_retrieval_load(run, &err);
    if (!m) return cli_error_from(&err);
    mmc_retrieval_metrics mt;
    int rc = mmc_retrieval_evaluate(m, d->data_dir, "test", 0, &mt, &err);
    mmc_retrieval_free(m);
    if (rc) return cli_error_from(&err);
    printf("test (%d images, %d %s captions): text->image R@1 %.3f R@5 %.3f R@10 %.3f; image->text R@1 %.3f R@5 %.3f R@10 %.3f\n",
           mt.n_images, mt.n_texts, lang, mt.t2i.r1, mt.t2i.r5, mt.t2i.r10, mt.i2t.r1, mt.i2t.r5, mt.i2t.r10);
    char model[128];
    snprintf(model, sizeof model, "%s dual encoder, %lld steps", !strcmp(lang, "en") ? "English" : "Chinese", (long long)steps);
    const char *names[6] = {"text→image R@1", "text→image R@5", "text→image R@10", "image→text R@1", "image→text R@5", "image→text R@10"};
    double v[6] = {mt.t2i.r1, mt.t2i.r5, mt.t2i.r10, mt.i2t.r1, mt.i2t.r5, mt.i2t.r10};
    for (int i = 0; i < 6; i++)
        if ((rc = demo_metric(d, "retrieval", model, names[i], "%.3f", v[i]))) return rc;
    return 0;
}

/* Embeds the test images with the run, saves OUT/test-LANG.idx, answers the queries of
 * that language into the report. */
static int search(demo_ctx *d, const char *lang, const char *run, int64_t steps) {
    const mmc_manifest *test = demo_test_split(d);
    if (!test) return 2;
    mmc_error err = {0};
    mmc_embedder *e = mmc_embedder_open(run, &err);
    if (!e) return cli_error_from(&err);
    int n = test->count, dim = mmc_embedder_dim(e), rc = 0;
    char **paths = calloc((size_t)n, sizeof *paths);
    float *emb = malloc(sizeof(float) * (size_t)n * dim), q[4096];
    mmc_index *ix = NULL;
    if (!paths || !emb || dim > 4096) rc = cli_error(3, "demo: out of memory");
    for (int i = 0; i < n && !rc; i++) {
        char buf[4200], abs[4200];
        demo_image_path(test, &test->samples[i], buf, sizeof buf);
        paths[i] = strdup(realpath(buf, abs) ? abs : buf);
        if (!paths[i]) rc = cli_error(3, "demo: out of memory");
    }
    if (!rc && mmc_embedder_image_files(e, (const char *const *)paths, n, emb, &err)) rc = cli_error_from(&err);
    if (!rc && !(ix = mmc_index_build(emb, n, dim, (const char *const *)paths, mmc_embedder_id(e), MMC_INDEX_F32, &err)))
        rc = cli_error_from(&err);
    char ixpath[4200], name[64];
    snprintf(name, sizeof name, "test-%s.idx", lang);
    demo_path(d, name, ixpath, sizeof ixpath);
    if (!rc && mmc_index_save(ix, ixpath, &err)) rc = cli_error_from(&err);
    int nq = 0, sum_hits = 0, sum_best = 0;
    for (int qi = 0; qi < NQUERIES && !rc; qi++) {
        const demo_query *qq = &QUERIES[qi];
        if (strcmp(qq->lang, lang)) continue;
        int64_t idx[5];
        float score[5];
        int k = 0;
        if (mmc_embedder_texts(e, &qq->text, 1, q, &err) || mmc_index_search(ix, q, 1, 5, 0, idx, score, &k, &err)) {
            rc = cli_error_from(&err);
            break;
        }
        int total = 0, hits = 0;
        mmc_shapes_scene sc;
        for (int i = 0; i < n && !rc; i++) {
            if ((rc = test_scene(d, i, &sc))) break;
            total += scene_matches(&sc, qq);
        }
        int match[5] = {0};
        for (int r = 0; r < k && !rc; r++) {
            if ((rc = test_scene(d, idx[r], &sc))) break;
            match[r] = scene_matches(&sc, qq);
            hits += match[r];
        }
        if (rc) break;
        int best = total < k ? total : k;
        nq++;
        sum_hits += hits;
        sum_best += best;
        printf("query \"%s\": %d of the top %d match (%d test scenes match in all)\n", qq->text, hits, k, total);
        char title[512];
        snprintf(title, sizeof title, "“%s” — %d of the top %d match; %d of the %d test scenes match, so at most %d could",
                 qq->text, hits, k, total, n, best);
        int g = mmc_report_gallery(d->report, title, &err);
        if (g < 0) { rc = cli_error_from(&err); break; }
        for (int r = 0; r < k; r++) {
            const mmc_sample *s = &test->samples[idx[r]];
            const char *cap = !strcmp(lang, "zh") ? (s->n_captions_zh ? s->captions_zh[0] : "") : (s->n_captions ? s->captions[0] : "");
            printf("  %d. %.3f  %-5s %s  %s\n", r + 1, score[r], match[r] ? "match" : "-", s->id, cap);
            char text[2048];
            snprintf(text, sizeof text, "#%d  score %.3f%s\n%s", r + 1, score[r], match[r] ? "  ✓ match" : "", cap);
            if (mmc_report_example_file(d->report, g, paths[idx[r]], text, match[r] ? 1 : 0, &err)) { rc = cli_error_from(&err); break; }
        }
    }
    if (!rc) {
        char model[128], metric[128];
        snprintf(model, sizeof model, "%s dual encoder, %lld steps", !strcmp(lang, "en") ? "English" : "Chinese", (long long)steps);
        snprintf(metric, sizeof metric, "query matches in the top 5 (%d queries below)", nq);
        rc = demo_metric(d, "retrieval", model, metric, "%d of %d possible", sum_hits, sum_best);
    }
    mmc_index_close(ix);
    for (int i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
    free(emb);
    mmc_embedder_close(e);
    fflush(stdout);
    return rc;
}

int demo_stage_retrieval(demo_ctx *d) {
    static const char *langs[2] = {"en", "zh"};
    int64_t steps_of[2] = {DEMO_STEPS_EN, DEMO_STEPS_ZH};
    for (int l = 0; l < 2; l++) steps_of[l] = d->steps > 0 ? d->steps : d->quick ? DEMO_QUICK_STEPS : steps_of[l];
    char runs[2][4200];
    mmc_error err = {0};
    for (int l = 0; l < 2; l++) {
        int64_t steps = steps_of[l];
        char name[32];
        snprintf(name, sizeof name, "retrieval-%s", langs[l]);
        demo_path(d, name, runs[l], sizeof runs[l]);
        printf("%s dual encoder (CNN image tower, GRU text tower, InfoNCE): %lld steps into %s\n", l ? "Chinese" : "English",
               (long long)steps, runs[l]);
        fflush(stdout);
        if (*d->interrupt) return demo_interrupted(d, NULL, NULL);
        int rc = train_one(d, langs[l], runs[l], steps);
        if (!rc) rc = evaluate(d, langs[l], runs[l], steps);
        if (rc) return rc;
    }
    int rc = mmc_report_heading(d->report, "Text-to-image retrieval", &err);
    char text[16000];
    snprintf(text, sizeof text,
             "Two dual encoders (a CNN for images, a GRU for text, trained with symmetric InfoNCE so that a caption and "
             "its image embed close together), one on the English captions (word tokens) and one on the Chinese captions "
             "(characters), %lld and %lld steps of batch %d. Run folders: %s and %s. Below, each query's five best test images "
             "by cosine similarity, with the scene's first caption; a green frame marks a scene that has what the query "
             "asks for (checked on the scene itself). Try more: mmc search %s/test-en.idx --text \"a small white star\"",
             (long long)steps_of[0], (long long)steps_of[1], d->quick ? 16 : mmc_retrieval_config_default().batch_size, runs[0],
             runs[1], d->out);
    if (!rc) rc = mmc_report_text(d->report, text, &err);
    if (rc) return cli_error_from(&err);
    const char *names[2] = {"English", "Chinese"}, *dirs[2] = {runs[0], runs[1]};
    if ((rc = demo_chart_runs(d, "retrieval: training loss (InfoNCE)", "loss", "loss", 2, names, dirs))) return rc;
    if ((rc = demo_chart_runs(d, "retrieval: validation text→image R@1", "R@1", "val.text_to_image.R@1", 2, names, dirs))) return rc;
    for (int l = 0; l < 2 && !rc; l++) {
        printf("%s queries (top 5 of the %d test images):\n", names[l], d->n_test);
        rc = search(d, langs[l], runs[l], steps_of[l]);
    }
    return rc;
}

/* test_loader.c — the data loader: same batches whatever the worker count, one visit per
 * sample per epoch, bit-exact resume, errors reported (not crashed on), no allocation
 * once warm, eval mode, tokens, and the rate it feeds a trainer at. Each test writes a
 * small shapes world into its own temporary folder. */
#include "test.h"
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

static char g_dir[64];

static void dataset_cleanup(void) {
    if (!g_dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    g_dir[0] = 0;
}

/* n shapes scenes of `size` px as split "train" in a fresh folder; NULL on failure. */
static mmc_manifest *dataset(int n, int size) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mmc_loader_test_XXXXXX");
    if (!mkdtemp(g_dir)) {
        g_dir[0] = 0;
        mmc_test_fail(__FILE__, __LINE__, "mkdtemp failed");
        return NULL;
    }
    static int registered;
    if (!registered++) atexit(dataset_cleanup); /* also when a REQUIRE returns early */
    mmc_error err = {0};
    mmc_manifest *m = NULL;
    if (mmc_shapes_write_split(g_dir, "train", n, 7, size, NULL, NULL, &err) == MMC_OK)
        m = mmc_manifest_load(g_dir, "train", &err);
    if (!m) mmc_test_fail(__FILE__, __LINE__, "dataset: %s", err.msg);
    return m;
}

static void done(mmc_manifest *m) {
    mmc_manifest_free(m);
    dataset_cleanup();
}

/* Everything a run of batches produced, concatenated, for exact comparison. */
typedef struct run_log {
    float *images;
    int *samples, *captions, *sizes;
    int64_t *epochs, *indices;
    int n_batches, n_samples;
    size_t n_floats;
} run_log;

static void log_free(run_log *r) {
    free(r->images);
    free(r->samples);
    free(r->captions);
    free(r->sizes);
    free(r->epochs);
    free(r->indices);
    memset(r, 0, sizeof *r);
}

static void log_add(run_log *r, const mmc_loader_batch *b) {
    size_t nf = (size_t)b->images->numel;
    r->images = realloc(r->images, sizeof(float) * (r->n_floats + nf));
    memcpy(r->images + r->n_floats, b->images->data, sizeof(float) * nf);
    r->n_floats += nf;
    r->samples = realloc(r->samples, sizeof(int) * (r->n_samples + b->size));
    r->captions = realloc(r->captions, sizeof(int) * (r->n_samples + b->size));
    memcpy(r->samples + r->n_samples, b->samples, sizeof(int) * b->size);
    memcpy(r->captions + r->n_samples, b->captions, sizeof(int) * b->size);
    r->n_samples += b->size;
    r->sizes = realloc(r->sizes, sizeof(int) * (r->n_batches + 1));
    r->epochs = realloc(r->epochs, sizeof(int64_t) * (r->n_batches + 1));
    r->indices = realloc(r->indices, sizeof(int64_t) * (r->n_batches + 1));
    r->sizes[r->n_batches] = b->size;
    r->epochs[r->n_batches] = b->epoch;
    r->indices[r->n_batches] = b->index;
    r->n_batches++;
}

/* Takes up to n batches from l into r; returns the number taken (stops at an error or the
 * end of the stream). */
static int take(mmc_loader *l, int n, run_log *r) {
    mmc_error err = {0};
    for (int k = 0; k < n; k++) {
        const mmc_loader_batch *b;
        int rc = mmc_loader_next(l, &b, &err);
        if (rc != MMC_OK) {
            mmc_test_fail(__FILE__, __LINE__, "loader_next: %s", err.msg);
            return -1;
        }
        if (!b) return k;
        log_add(r, b);
    }
    return n;
}

static int logs_equal(const run_log *a, const run_log *b) {
    return a->n_batches == b->n_batches && a->n_samples == b->n_samples && a->n_floats == b->n_floats &&
           memcmp(a->images, b->images, sizeof(float) * a->n_floats) == 0 &&
           memcmp(a->samples, b->samples, sizeof(int) * a->n_samples) == 0 &&
           memcmp(a->captions, b->captions, sizeof(int) * a->n_samples) == 0 &&
           memcmp(a->sizes, b->sizes, sizeof(int) * a->n_batches) == 0 &&
           memcmp(a->epochs, b->epochs, sizeof(int64_t) * a->n_batches) == 0 &&
           memcmp(a->indices, b->indices, sizeof(int64_t) * a->n_batches) == 0;
}

/* Training with every augmentation on. */
static mmc_loader_opts train_opts(int B, int S, int workers) {
    mmc_loader_opts o = mmc_loader_defaults(B, S);
    o.train = 1;
    o.seed = 42;
    o.workers = workers;
    o.random_resized_crop = 1;
    return o;
}

/* Up to n batches from a new loader over m with options o, into r; 1 unless the loader
 * failed (a shorter stream is for the caller to judge, from r->n_batches). */
static int run_loader(const mmc_manifest *m, const mmc_loader_opts *o, int n, run_log *r) {
    mmc_error err = {0};
    mmc_loader *l = mmc_loader_new(m, o, &err);
    if (!l) {
        mmc_test_fail(__FILE__, __LINE__, "loader_new: %s", err.msg);
        return 0;
    }
    take(l, n, r);
    mmc_loader_free(l);
    return 1;
}

/* -------------------------------------------------------------------- tests */

/* 1 worker, 3 workers, and 3 workers with the cache (24 px images at S = 24: the cached
 * base image is the decoded one) give the same bytes, across an epoch boundary and a
 * partial last batch. */
TEST(loader_deterministic_across_workers) {
    mmc_manifest *m = dataset(60, 24);
    REQUIRE(m, "no dataset");
    run_log a = {0}, b = {0}, c = {0};
    mmc_loader_opts o = train_opts(8, 24, 1);
    o.prefetch = 2;
    run_loader(m, &o, 10, &a);
    o.workers = 3;
    o.prefetch = 5;
    run_loader(m, &o, 10, &b);
    o.cache = 1;
    run_loader(m, &o, 10, &c);
    if (a.n_batches == 10) {
        CHECK(a.sizes[7] == 4 && a.epochs[8] == 1 && a.indices[8] == 0, "8 batches per epoch, the last of 4");
        CHECK(logs_equal(&a, &b), "1 worker and 3 workers gave different batches");
        CHECK(logs_equal(&a, &c), "the cache changed the batches");
    }
    log_free(&a);
    log_free(&b);
    log_free(&c);
    done(m);
}

/* Counts each sample's visits in batches [from, to) of r; CHECKs each was seen `want`
 * times (0 allowed for samples left out by drop_last when want < 0). */
static int visits_ok(const run_log *r, int from, int to, int n, int allow_missing) {
    int *seen = calloc((size_t)n, sizeof(int)), pos = 0, ok = 1, missing = 0;
    for (int k = 0; k < from; k++) pos += r->sizes[k];
    for (int k = from; k < to; k++)
        for (int i = 0; i < r->sizes[k]; i++) seen[r->samples[pos++]]++;
    for (int i = 0; i < n; i++) {
        if (seen[i] > 1) ok = 0;
        if (seen[i] == 0) missing++;
    }
    free(seen);
    return ok && missing == allow_missing;
}

static int orders_differ(const run_log *r, int a, int b, int len) {
    return memcmp(r->samples + a, r->samples + b, sizeof(int) * len) != 0;
}

TEST(loader_epoch_permutation) {
    mmc_manifest *m = dataset(100, 16);
    REQUIRE(m, "no dataset");
    mmc_loader_opts o = mmc_loader_defaults(16, 16);
    o.train = 1;
    o.seed = 3;
    o.epochs = 3;
    run_log r = {0}, d = {0}, s2 = {0};
    REQUIRE(run_loader(m, &o, 22, &r) && r.n_batches == 21, "3 epochs of 7 batches then the end (got %d)", r.n_batches);
    for (int e = 0; e < 3; e++) CHECK(visits_ok(&r, 7 * e, 7 * e + 7, 100, 0), "epoch %d: each sample once", e);
    CHECK(r.sizes[6] == 4 && r.sizes[5] == 16, "last batch holds the 4 left over");
    CHECK(orders_differ(&r, 0, 100, 100) && orders_differ(&r, 100, 200, 100), "epochs share an order");
    int identity = 1;
    for (int i = 0; i < 100; i++) identity &= r.samples[i] == i;
    CHECK(!identity, "training order is the manifest order");
    int caps[5] = {0};
    for (int i = 0; i < r.n_samples; i++)
        if (r.captions[i] >= 0 && r.captions[i] < 5) caps[r.captions[i]]++;
    for (int c = 0; c < 5; c++) CHECK(caps[c] > 20, "caption %d chosen %d times of 300", c, caps[c]);

    o.drop_last = 1;
    REQUIRE(run_loader(m, &o, 19, &d) && d.n_batches == 18, "drop_last: 6 batches per epoch (got %d)", d.n_batches);
    for (int k = 0; k < d.n_batches; k++) CHECK(d.sizes[k] == 16, "drop_last batch %d has %d samples", k, d.sizes[k]);
    for (int e = 0; e < 3; e++) CHECK(visits_ok(&d, 6 * e, 6 * e + 6, 100, 4), "drop_last epoch %d: 96 distinct", e);
    CHECK(memcmp(d.samples, r.samples, sizeof(int) * 96) == 0, "drop_last changed the order");

    o.drop_last = 0;
    o.seed = 4;
    REQUIRE(run_loader(m, &o, 7, &s2) && s2.n_batches == 7, "seed 4");
    CHECK(memcmp(s2.samples, r.samples, sizeof(int) * 100) != 0, "seeds share an order");
    log_free(&r);
    log_free(&d);
    log_free(&s2);
    done(m);
}

/* Save the state mid-epoch, make a new loader (other worker count), restore: the batches
 * that follow are the same bytes, epoch boundary included. */
TEST(loader_resume_bit_exact) {
    mmc_manifest *m = dataset(120, 32);
    REQUIRE(m, "no dataset");
    mmc_loader_opts o = train_opts(16, 24, 2);
    mmc_error err = {0};
    mmc_loader *l = mmc_loader_new(m, &o, &err);
    REQUIRE(l, "loader_new: %s", err.msg);
    run_log head = {0}, tail = {0}, resumed = {0};
    take(l, 5, &head);
    mmc_loader_state st = mmc_loader_get_state(l);
    CHECK(st.epoch == 0 && st.batch == 5, "state (%lld, %lld), want (0, 5)", (long long)st.epoch, (long long)st.batch);
    take(l, 10, &tail);
    mmc_loader_free(l);

    o.workers = 3;
    l = mmc_loader_new(m, &o, &err);
    REQUIRE(l, "loader_new: %s", err.msg);
    take(l, 9, &resumed); /* ahead of the saved state, into epoch 1: set_state rewinds */
    log_free(&resumed);
    CHECK(mmc_loader_set_state(l, st, &err) == MMC_OK, "set_state: %s", err.msg);
    take(l, 10, &resumed);
    CHECK(tail.n_batches == 10 && logs_equal(&tail, &resumed), "resumed batches differ");
    CHECK(tail.epochs[9] == 1, "the compared run crosses into epoch 1");
    mmc_loader_state bad = {0, 99};
    CHECK(mmc_loader_set_state(l, bad, &err) == MMC_ERR_USAGE, "batch 99 of 8 accepted");
    mmc_loader_free(l);
    log_free(&head);
    log_free(&tail);
    log_free(&resumed);
    done(m);
}

static void corrupt(const char *dir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/images/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    if (!f) return;
    fseek(f, 40, SEEK_SET); /* after the signature and IHDR: the header parses, the data doesn't */
    for (int i = 0; i < 200; i++) fputc(0x5A, f);
    fclose(f);
}

/* n batches of an eval loader; returns the first error code (its message in err). */
static int take_until_error(mmc_loader *l, int n, int *got, mmc_error *err) {
    *got = 0;
    for (int k = 0; k < n; k++) {
        const mmc_loader_batch *b;
        int rc = mmc_loader_next(l, &b, err);
        if (rc != MMC_OK) return rc;
        if (b) (*got)++;
    }
    return MMC_OK;
}

TEST(loader_bad_image_reports_error) {
    mmc_manifest *m = dataset(64, 16);
    REQUIRE(m, "no dataset");
    corrupt(g_dir, "train-000021.png");
    mmc_loader_opts o = mmc_loader_defaults(8, 16);
    o.workers = 3;
    mmc_error err = {0};
    mmc_loader *l = mmc_loader_new(m, &o, &err);
    REQUIRE(l, "loader_new: %s", err.msg);
    int got = 0;
    int rc = take_until_error(l, 8, &got, &err);
    CHECK(rc == MMC_ERR_INPUT && got == 2, "want 2 good batches then MMC_ERR_INPUT, got %d then rc %d", got, rc);
    CHECK(strstr(err.msg, "train-000021.png") && strstr(err.msg, "sample 22"), "message: %s", err.msg);
    mmc_error again = {0};
    const mmc_loader_batch *b;
    CHECK(mmc_loader_next(l, &b, &again) == MMC_ERR_INPUT && !b, "the error is not repeated");
    double t0 = mmc_now();
    mmc_loader_free(l);
    CHECK(mmc_now() - t0 < 1.0, "free took %.2f s", mmc_now() - t0);

    /* A missing file, in training, found while workers are busy far ahead. */
    char path[256];
    snprintf(path, sizeof path, "%s/images/train-000050.png", g_dir);
    unlink(path);
    o.train = 1;
    o.prefetch = 8;
    l = mmc_loader_new(m, &o, &err);
    REQUIRE(l, "loader_new: %s", err.msg);
    rc = take_until_error(l, 8, &got, &err);
    CHECK(rc == MMC_ERR_INPUT, "missing or corrupt image not reported (rc %d)", rc);
    CHECK(strstr(err.msg, "train-0000") != NULL, "message names no file: %s", err.msg);
    mmc_loader_free(l);
    done(m);
}

TEST(loader_no_malloc_when_warm) {
    mmc_manifest *m = dataset(96, 32);
    REQUIRE(m, "no dataset");
    mmc_error err = {0};
    const char *texts[1] = {"a large red circle"};
    mmc_tokenizer *tok = mmc_tokenizer_build_word(texts, 1, 1, 0, &err);
    REQUIRE(tok, "tokenizer: %s", err.msg);
    for (int train = 0; train <= 1; train++) {
        mmc_loader_opts o = mmc_loader_defaults(16, 32);
        o.train = train; /* flip and colour jitter, in place on a copy of the cached pixels */
        o.cache = 1;
        o.tokenizer = tok;
        o.max_len = 12;
        mmc_loader *l = mmc_loader_new(m, &o, &err);
        REQUIRE(l, "loader_new: %s", err.msg);
        run_log r = {0};
        take(l, 8, &r); /* epoch 0 decodes (and caches) every image */
        uint64_t before = mmc_alloc_count();
        const mmc_loader_batch *b = NULL;
        for (int k = 0; k < 18; k++) mmc_loader_next(l, &b, &err);
        uint64_t after = mmc_alloc_count();
        CHECK(b && after == before, "train=%d: %llu allocations in 18 warm batches", train,
              (unsigned long long)(after - before));
        mmc_loader_free(l);
        log_free(&r);
    }
    mmc_tokenizer_free(tok);
    done(m);
}

/* Eval: manifest order, caption 0, no augmentation (seed-free), exactly the image's
 * normalised pixels, and the stream ends after `epochs`. */
TEST(loader_eval_mode) {
    mmc_manifest *m = dataset(40, 32);
    REQUIRE(m, "no dataset");
    mmc_loader_opts o = mmc_loader_defaults(16, 32);
    o.epochs = 1;
    o.hflip = 1.0f; /* would flip every image, were it training */
    o.random_resized_crop = 1;
    run_log a = {0}, b = {0}, t = {0};
    REQUIRE(run_loader(m, &o, 4, &a) && a.n_batches == 3, "one epoch of 3 batches, then the end (got %d)", a.n_batches);
    for (int i = 0; i < 40; i++) CHECK(a.samples[i] == i && a.captions[i] == 0, "sample %d: %d, caption %d", i, a.samples[i], a.captions[i]);
    o.seed = 99;
    REQUIRE(run_loader(m, &o, 3, &b) && b.n_batches == 3, "seed 99");
    CHECK(logs_equal(&a, &b), "eval depends on the seed");

    mmc_image img;
    mmc_error err = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, m->samples[17].image);
    REQUIRE(mmc_image_load(&img, path, 3, &err) == MMC_OK, "%s", err.msg);
    float *want = malloc(sizeof(float) * 3 * 32 * 32);
    mmc_image_to_chw(&img, want, 1.0 / 255.0, o.mean, o.std);
    CHECK(memcmp(want, a.images + (size_t)17 * 3 * 32 * 32, sizeof(float) * 3 * 32 * 32) == 0,
          "sample 17 is not its image, normalised");
    free(want);
    mmc_image_free(&img);

    o.train = 1;
    REQUIRE(run_loader(m, &o, 3, &t) && t.n_batches == 3, "train");
    CHECK(memcmp(a.images, t.images, sizeof(float) * a.n_floats) != 0, "training did not augment");

    /* S = 20 from 32 px: resized, every value finite. */
    run_log s = {0};
    o = mmc_loader_defaults(16, 20);
    REQUIRE(run_loader(m, &o, 1, &s) && s.n_batches == 1, "S = 20");
    CHECK(s.n_floats == (size_t)16 * 3 * 20 * 20, "shape");
    int finite = 1;
    for (size_t i = 0; i < s.n_floats; i++) finite &= isfinite(s.images[i]);
    CHECK(finite, "non-finite pixel");
    log_free(&a);
    log_free(&b);
    log_free(&t);
    log_free(&s);
    done(m);
}

/* Batches carry the chosen caption's ids, padded to max_len, as encode_batch gives them. */
TEST(loader_tokenized_captions) {
    mmc_manifest *m = dataset(32, 16);
    REQUIRE(m, "no dataset");
    mmc_error err = {0};
    const char *texts[32];
    for (int i = 0; i < 32; i++) texts[i] = m->samples[i].captions[0];
    mmc_tokenizer *tok = mmc_tokenizer_build_word(texts, 32, 1, 0, &err);
    REQUIRE(tok, "tokenizer: %s", err.msg);
    mmc_loader_opts o = mmc_loader_defaults(8, 16);
    o.train = 1;
    o.tokenizer = tok;
    o.max_len = 10;
    mmc_loader *l = mmc_loader_new(m, &o, &err);
    REQUIRE(l, "loader_new: %s", err.msg);
    const mmc_loader_batch *b;
    REQUIRE(mmc_loader_next(l, &b, &err) == MMC_OK && b && b->ids && b->mask, "next: %s", err.msg);
    for (int i = 0; i < b->size; i++) {
        int32_t ids[10], mask[10];
        const char *cap = m->samples[b->samples[i]].captions[b->captions[i]];
        REQUIRE(mmc_tokenizer_encode_batch(tok, &cap, 1, 10, ids, mask, &err) == MMC_OK, "%s", err.msg);
        CHECK(memcmp(ids, b->ids + i * 10, sizeof ids) == 0 && memcmp(mask, b->mask + i * 10, sizeof mask) == 0,
              "sample %d: tokens differ from encode_batch", i);
    }
    mmc_loader_free(l);
    mmc_tokenizer_free(tok);
    done(m);
}

TEST(loader_bad_options) {
    mmc_manifest *m = dataset(10, 16);
    REQUIRE(m, "no dataset");
    mmc_error err = {0};
    mmc_loader_opts o = mmc_loader_defaults(16, 16);
    o.drop_last = 1;
    CHECK(!mmc_loader_new(m, &o, &err) && err.code == MMC_ERR_USAGE, "drop_last with 10 < 16 samples accepted");
    o = mmc_loader_defaults(0, 16);
    CHECK(!mmc_loader_new(m, &o, &err) && err.code == MMC_ERR_USAGE, "batch 0 accepted");
    o = mmc_loader_defaults(4, 16);
    o.workers = 0;
    CHECK(!mmc_loader_new(m, &o, &err) && err.code == MMC_ERR_USAGE, "0 workers accepted");
    o = mmc_loader_defaults(4, 16);
    o.std[1] = 0;
    CHECK(!mmc_loader_new(m, &o, &err) && err.code == MMC_ERR_USAGE, "std 0 accepted");
    o = mmc_loader_defaults(4, 16);
    o.train = 1;
    o.random_resized_crop = 1;
    o.scale_lo = 0;
    CHECK(!mmc_loader_new(m, &o, &err) && err.code == MMC_ERR_USAGE, "scale 0 accepted");
    done(m);
}

/* Freeing while workers are mid-batch, at once or after one batch, joins them promptly. */
TEST(loader_free_mid_epoch) {
    mmc_manifest *m = dataset(64, 32);
    REQUIRE(m, "no dataset");
    mmc_error err = {0};
    double slowest = 0;
    for (int k = 0; k < 20; k++) {
        mmc_loader_opts o = train_opts(8, 32, 1 + k % 4);
        mmc_loader *l = mmc_loader_new(m, &o, &err);
        REQUIRE(l, "loader_new: %s", err.msg);
        const mmc_loader_batch *b;
        if (k % 2) CHECK(mmc_loader_next(l, &b, &err) == MMC_OK && b, "next: %s", err.msg);
        double t0 = mmc_now();
        mmc_loader_free(l); /* waits only for the samples in hand: a few ms */
        double dt = mmc_now() - t0;
        if (dt > slowest) slowest = dt;
    }
    CHECK(slowest < 1.0, "a free took %.2f s", slowest);
    done(m);
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Images per wall-clock second and per CPU second over `batches` batches of l, after
 * `warm` batches. On a shared machine the wall rate swings with the load; the CPU rate
 * (times the worker count: what idle cores would give) is the steadier figure. */
static void rate(mmc_loader *l, int warm, int batches, double *wall, double *cpu) {
    mmc_error err = {0};
    const mmc_loader_batch *b;
    for (int k = 0; k < warm; k++) mmc_loader_next(l, &b, &err);
    double t0 = mmc_now(), c0 = cpu_seconds();
    int64_t images = 0;
    for (int k = 0; k < batches; k++)
        if (mmc_loader_next(l, &b, &err) == MMC_OK && b) images += b->size;
    *wall = (double)images / (mmc_now() - t0);
    *cpu = (double)images / (cpu_seconds() - c0);
}

/* Sanitized builds run ~10x slower; they check correctness, not speed. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RATE_BATCH 8
#define RATE_BATCHES 3
#else
#define RATE_BATCH 32
#define RATE_BATCHES 8
#endif

/* 64 px PNGs, decoded and augmented (random resized crop, flip, jitter) by 2 workers, with
 * and without the cache. Prints the rates; asserts nothing about speed. */
TEST(loader_rate) {
    mmc_manifest *m = dataset(4 * RATE_BATCH, 64);
    REQUIRE(m, "no dataset");
    mmc_error err = {0};
    static const char *what[3] = {"decode+crop+flip+jitter", "cached, crop+flip+jitter", "cached, flip+jitter"};
    for (int k = 0; k < 3; k++) {
        mmc_loader_opts o = train_opts(RATE_BATCH, 64, 2);
        o.cache = k > 0;
        o.random_resized_crop = k < 2;
        mmc_loader *l = mmc_loader_new(m, &o, &err);
        REQUIRE(l, "loader_new: %s", err.msg);
        double wall, cpu;
        rate(l, k ? 5 : 1, RATE_BATCHES, &wall, &cpu); /* the cached runs start after a full epoch */
        mmc_loader_free(l);
        printf("loader_rate: 64 px, 2 workers, %-25s %6.0f images/s (%6.0f per CPU second)\n", what[k], wall, cpu);
        CHECK(wall > 0 && cpu > 0, "no images");
    }
    done(m);
}

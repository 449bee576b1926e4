/* test_loss.c — the losses of src/loss: PyTorch parity, finite-difference gradients,
 * argument errors, and sanity (a better match gives a lower loss; descent lowers it).
 *
 * parity_loss_<loss>: every loss_<loss>_<case> fixture (tools/fixtures/losses.py): the
 * value and the gradients of out * gout against PyTorch's float64 reference, sampled
 * negatives included (the fixture replays mmc's PCG32). */
#include "test.h"
#include <stdlib.h>

#define PARITY_TOL 1e-4
#define FD_EPS 1e-3f
#define FD_TOL 1e-2

/* ------------------------------------------------------------------ fixtures */

typedef struct fixture {
    mmc_safetensors st;
    mmc_tensor *held[16];
    int *ints[8];
    int nheld, nints;
} fixture;

static mmc_tensor *fx_get(fixture *f, const char *name) {
    mmc_tensor *t = test_fixture_get(&f->st, name);
    if (t && f->nheld < 16) f->held[f->nheld++] = t;
    return t;
}

static int fx_int(fixture *f, const char *name) {
    int *v = test_fixture_ints(&f->st, name, NULL);
    if (!v) return 0;
    if (f->nints < 8) f->ints[f->nints++] = v;
    return v[0];
}

static float fx_float(fixture *f, const char *name) {
    mmc_tensor *t = fx_get(f, name);
    return t ? t->data[0] : 0.0f;
}

static void fx_close(fixture *f) {
    for (int i = 0; i < f->nheld; i++) mmc_tensor_free(f->held[i]);
    for (int i = 0; i < f->nints; i++) free(f->ints[i]);
    mmc_safetensors_close(&f->st);
}

typedef mmc_tensor *(*build_fn)(mmc_ctx *ctx, fixture *f, mmc_tensor **in);

/* Compares the loss and the gradients of the named inputs with the fixture. */
static void parity_case(const char *fxname, const char *const *names, int n_in, build_fn build) {
    fixture f;
    memset(&f, 0, sizeof f);
    if (!test_fixture_open(&f.st, fxname)) return;
    mmc_tensor *in[3], *want = fx_get(&f, "out"), *gout = fx_get(&f, "gout");
    int ok = want && gout;
    for (int i = 0; i < n_in; i++) {
        in[i] = fx_get(&f, names[i]);
        if (in[i]) in[i]->requires_grad = 1;
        ok = ok && in[i];
    }
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *out = ok ? build(ctx, &f, in) : NULL;
    CHECK(out, "%s: forward: %s", fxname, ctx->err.msg);
    if (out) {
        CHECK(out->ndim == 1 && out->numel == 1, "%s: the loss is not shape (1)", fxname);
        test_close(fxname, out->data, want->data, 1, PARITY_TOL);
        int rc = mmc_backward_with(ctx, out, gout->data);
        CHECK(rc == MMC_OK, "%s: backward: %s", fxname, ctx->err.msg);
        for (int i = 0; rc == MMC_OK && i < n_in; i++) {
            char gname[64], what[128];
            snprintf(gname, sizeof gname, "grad_%s", names[i]);
            snprintf(what, sizeof what, "%s %s", fxname, gname);
            mmc_tensor *gw = fx_get(&f, gname);
            if (!gw) continue;
            CHECK(in[i]->grad, "%s: no gradient", what);
            if (in[i]->grad) test_close(what, in[i]->grad, gw->data, gw->numel, PARITY_TOL);
        }
    }
    mmc_ctx_free(ctx);
    fx_close(&f);
}

static void parity_cases(const char *loss, int ncases, const char *const *names, int n_in,
                         build_fn build) {
    for (int i = 0; i < ncases; i++) {
        char fx[64];
        snprintf(fx, sizeof fx, "loss_%s_%d", loss, i);
        parity_case(fx, names, n_in, build);
    }
}

static const char *const AB[] = {"a", "b"};
static const char *const ABL[] = {"a", "b", "logit_scale"};

static mmc_tensor *b_contrastive(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    mmc_rng rng;
    mmc_rng_seed(&rng, (uint64_t)fx_int(f, "seed"), (uint64_t)fx_int(f, "stream"));
    return mmc_loss_contrastive(c, in[0], in[1], fx_float(f, "margin"), fx_int(f, "distance"),
                                fx_int(f, "n_neg"), &rng);
}
static mmc_tensor *b_triplet(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_loss_triplet(c, in[0], in[1], fx_float(f, "margin"), fx_int(f, "hardest"));
}
static mmc_tensor *b_cosine_embedding(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    mmc_rng rng;
    mmc_rng_seed(&rng, (uint64_t)fx_int(f, "seed"), (uint64_t)fx_int(f, "stream"));
    return mmc_loss_cosine_embedding(c, in[0], in[1], fx_float(f, "margin"), fx_int(f, "n_neg"), &rng);
}
static mmc_tensor *b_infonce(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_loss_infonce(c, in[0], in[1], in[2], fx_float(f, "max_scale"));
}

/* cases 0, 1: all negatives, Euclidean (with a positive at distance 0) and cosine;
 * 2, 3: sampled negatives, Euclidean and cosine (3 draws more than N-1, so repeats) */
TEST(parity_loss_contrastive) { parity_cases("contrastive", 4, AB, 2, b_contrastive); }
/* 0, 3: sum over negatives; 1, 2: hardest negative */
TEST(parity_loss_triplet) { parity_cases("triplet", 4, AB, 2, b_triplet); }
/* 0, 1: all negatives, margins 0 and 0.3; 2: two sampled negatives per anchor */
TEST(parity_loss_cosine_embedding) { parity_cases("cosine_embedding", 3, AB, 2, b_cosine_embedding); }

/* 0: CLIP's init scale; 1: above the clamp; 2: exactly at it; 3: raw embeddings at t = 100;
 * 4: N = 70 (more than one column block) */
TEST(parity_loss_infonce) {
    parity_cases("infonce", 5, ABL, 3, b_infonce);
    /* the clamp, stated outright: no gradient above max_scale, a gradient at it */
    for (int k = 1; k <= 2; k++) {
        char fx[64];
        snprintf(fx, sizeof fx, "loss_infonce_%d", k);
        fixture f;
        memset(&f, 0, sizeof f);
        if (!test_fixture_open(&f.st, fx)) return;
        mmc_tensor *a = fx_get(&f, "a"), *b = fx_get(&f, "b"), *ls = fx_get(&f, "logit_scale");
        REQUIRE(a && b && ls, "%s: inputs", fx);
        ls->requires_grad = 1;
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *L = mmc_loss_infonce(ctx, a, b, ls, fx_float(&f, "max_scale"));
        CHECK(L && mmc_backward(ctx, L) == MMC_OK, "%s: %s", fx, ctx->err.msg);
        float g = ls->grad ? ls->grad[0] : 0.0f;
        if (k == 1) CHECK(g == 0.0f, "%s: a clamped logit_scale got gradient %g", fx, g);
        else CHECK(g != 0.0f, "%s: logit_scale at max_scale got no gradient", fx);
        mmc_ctx_free(ctx);
        fx_close(&f);
    }
}

/* ------------------------------------------------------------- finite differences */

typedef struct loss_args {
    int kind; /* 0 contrastive, 1 triplet, 2 cosine embedding, 3 infonce */
    float margin;
    int distance, n_neg, hardest;
    float max_scale;
} loss_args;

/* A fresh rng per call, so the perturbed forwards draw the same negatives. */
static mmc_tensor *g_loss(mmc_ctx *c, mmc_tensor **in, void *u) {
    const loss_args *p = u;
    mmc_rng rng;
    mmc_rng_seed(&rng, 77, 2);
    switch (p->kind) {
    case 0: return mmc_loss_contrastive(c, in[0], in[1], p->margin, p->distance, p->n_neg, &rng);
    case 1: return mmc_loss_triplet(c, in[0], in[1], p->margin, p->hardest);
    case 2: return mmc_loss_cosine_embedding(c, in[0], in[1], p->margin, p->n_neg, &rng);
    default: return mmc_loss_infonce(c, in[0], in[1], in[2], p->max_scale);
    }
}

/* b = a + noise (so positives and negatives fall on both sides of the hinges); seeds
 * are fixed and chosen so no hinge sits within FD_EPS of its kink. */
static void gradcheck_loss(const char *what, loss_args p, int n, int d, float noise, uint64_t seed) {
    int shape[2] = {n, d};
    mmc_tensor *a = test_randn(2, shape, seed, 1.0f), *b = test_randn(2, shape, seed + 1, noise);
    for (int64_t i = 0; i < a->numel; i++) b->data[i] += a->data[i];
    mmc_tensor *ls = mmc_tensor_new(1, (int[]){1});
    ls->data[0] = 1.2f;
    a->requires_grad = b->requires_grad = ls->requires_grad = 1;
    mmc_tensor *in[3] = {a, b, ls};
    test_gradcheck(what, g_loss, in, p.kind == 3 ? 3 : 2, &p, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(a);
    mmc_tensor_free(b);
    mmc_tensor_free(ls);
}

TEST(grad_loss_contrastive) {
    gradcheck_loss("contrastive euclidean all", (loss_args){.kind = 0, .margin = 2.5f, .distance = MMC_DIST_EUCLIDEAN, .n_neg = 0}, 5, 4, 1.0f, 10);
    gradcheck_loss("contrastive euclidean sampled", (loss_args){.kind = 0, .margin = 2.5f, .distance = MMC_DIST_EUCLIDEAN, .n_neg = 3}, 5, 4, 1.0f, 20);
    gradcheck_loss("contrastive cosine all", (loss_args){.kind = 0, .margin = 1.0f, .distance = MMC_DIST_COSINE, .n_neg = 0}, 5, 4, 0.8f, 30);
    gradcheck_loss("contrastive cosine sampled", (loss_args){.kind = 0, .margin = 1.0f, .distance = MMC_DIST_COSINE, .n_neg = 2}, 6, 3, 0.8f, 40);
}

TEST(grad_loss_triplet) {
    gradcheck_loss("triplet sum", (loss_args){.kind = 1, .margin = 0.5f, .hardest = 0}, 5, 4, 0.7f, 50);
    gradcheck_loss("triplet hardest", (loss_args){.kind = 1, .margin = 0.5f, .hardest = 1}, 5, 4, 0.7f, 60);
}

TEST(grad_loss_cosine_embedding) {
    gradcheck_loss("cosine_embedding all", (loss_args){.kind = 2, .margin = 0.2f, .n_neg = 0}, 5, 4, 0.8f, 70);
    gradcheck_loss("cosine_embedding sampled", (loss_args){.kind = 2, .margin = 0.1f, .n_neg = 3}, 5, 4, 0.8f, 80);
}

TEST(grad_loss_infonce) {
    gradcheck_loss("infonce", (loss_args){.kind = 3, .max_scale = 4.6052f}, 5, 4, 0.8f, 90);
    /* clamped: logit_scale (1.2) above max_scale (0.5) must get 0, as the numeric one */
    gradcheck_loss("infonce clamped", (loss_args){.kind = 3, .max_scale = 0.5f}, 4, 3, 0.8f, 91);
}

/* ------------------------------------------------------------------ bad arguments */

/* Runs one call that must fail with a usage error whose message contains `expect`. */
#define EXPECT_FAIL(ctx, call, expect)                                                        \
    do {                                                                                      \
        mmc_ctx_reset(ctx);                                                                   \
        mmc_tensor *r__ = (call);                                                             \
        CHECK(!r__, "%s: should fail", #call);                                                \
        CHECK((ctx)->err.code == MMC_ERR_USAGE, "%s: code %d", #call, (ctx)->err.code);       \
        CHECK(strstr((ctx)->err.msg, expect), "%s: message \"%s\" lacks \"%s\"", #call,       \
              (ctx)->err.msg, expect);                                                        \
    } while (0)

TEST(loss_bad_args) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_tensor *a = mmc_tensor_new(2, (int[]){4, 3}), *b = mmc_tensor_new(2, (int[]){4, 3});
    mmc_tensor *wide = mmc_tensor_new(2, (int[]){4, 5}), *tall = mmc_tensor_new(2, (int[]){5, 3});
    mmc_tensor *flat = mmc_tensor_new(1, (int[]){12}), *empty = mmc_tensor_new(2, (int[]){0, 3});
    mmc_tensor *one = mmc_tensor_new(2, (int[]){1, 3});
    mmc_tensor *ls = mmc_tensor_new(1, (int[]){1}), *ls2 = mmc_tensor_new(1, (int[]){2});
    const int E = MMC_DIST_EUCLIDEAN;

    /* shape mismatch, for every loss */
    EXPECT_FAIL(ctx, mmc_loss_contrastive(ctx, a, wide, 1.0f, E, 0, NULL), "b (4, 5)");
    EXPECT_FAIL(ctx, mmc_loss_triplet(ctx, a, tall, 0.2f, 0), "b (5, 3)");
    EXPECT_FAIL(ctx, mmc_loss_cosine_embedding(ctx, flat, b, 0.0f, 0, NULL), "a (12)");
    EXPECT_FAIL(ctx, mmc_loss_infonce(ctx, a, wide, ls, 4.6f), "must both be (N, D)");
    /* N = 0 */
    EXPECT_FAIL(ctx, mmc_loss_contrastive(ctx, empty, empty, 1.0f, E, 0, NULL), "empty batch");
    EXPECT_FAIL(ctx, mmc_loss_triplet(ctx, empty, empty, 0.2f, 1), "empty batch");
    EXPECT_FAIL(ctx, mmc_loss_cosine_embedding(ctx, empty, empty, 0.0f, 0, NULL), "empty batch");
    EXPECT_FAIL(ctx, mmc_loss_infonce(ctx, empty, empty, ls, 4.6f), "empty batch");
    /* NULL inputs (an earlier op failed) */
    EXPECT_FAIL(ctx, mmc_loss_infonce(ctx, NULL, b, ls, 4.6f), "a (image embeddings) is NULL");
    EXPECT_FAIL(ctx, mmc_loss_triplet(ctx, a, NULL, 0.2f, 0), "b (text embeddings) is NULL");
    /* the other arguments */
    EXPECT_FAIL(ctx, mmc_loss_contrastive(ctx, a, b, NAN, E, 0, NULL), "margin must be finite");
    EXPECT_FAIL(ctx, mmc_loss_contrastive(ctx, a, b, 1.0f, 7, 0, NULL), "distance must be");
    EXPECT_FAIL(ctx, mmc_loss_contrastive(ctx, a, b, 1.0f, E, -1, &rng), "n_neg must be >= 0");
    EXPECT_FAIL(ctx, mmc_loss_cosine_embedding(ctx, a, b, 0.0f, 2, NULL), "need an rng");
    EXPECT_FAIL(ctx, mmc_loss_cosine_embedding(ctx, one, one, 0.0f, 2, &rng), "no other row");
    EXPECT_FAIL(ctx, mmc_loss_triplet(ctx, a, b, INFINITY, 0), "margin must be finite");
    EXPECT_FAIL(ctx, mmc_loss_triplet(ctx, a, b, 0.2f, 2), "hardest must be");
    EXPECT_FAIL(ctx, mmc_loss_infonce(ctx, a, b, NULL, 4.6f), "logit_scale is NULL");
    EXPECT_FAIL(ctx, mmc_loss_infonce(ctx, a, b, ls2, 4.6f), "one element");
    EXPECT_FAIL(ctx, mmc_loss_infonce(ctx, a, b, ls, NAN), "NaN");
    ls->data[0] = 200.0f; /* exp overflows and nothing clamps it */
    EXPECT_FAIL(ctx, mmc_loss_infonce(ctx, a, b, ls, INFINITY), "not a positive finite");

    mmc_tensor *all[] = {a, b, wide, tall, flat, empty, one, ls, ls2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mmc_tensor_free(all[i]);
    mmc_ctx_free(ctx);
}

/* ------------------------------------------------------------------ sanity */

/* One loss by kind on a, b with the usual settings (NULL on failure). */
static mmc_tensor *loss_of(mmc_ctx *ctx, int kind, mmc_tensor *a, mmc_tensor *b, mmc_tensor *ls) {
    loss_args p[4] = {{.kind = 0, .margin = 1.0f, .distance = MMC_DIST_COSINE},
                      {.kind = 1, .margin = 0.2f, .hardest = 1},
                      {.kind = 2, .margin = 0.2f},
                      {.kind = 3, .max_scale = 4.6052f}};
    mmc_tensor *in[3] = {a, b, ls};
    return g_loss(ctx, in, &p[kind]);
}

static void normalize_rows(mmc_tensor *t) {
    int n = t->shape[0], d = t->shape[1];
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)t->data[i * d + k] * t->data[i * d + k];
        for (int k = 0; k < d; k++) t->data[i * d + k] /= (float)sqrt(s);
    }
}

/* For each loss: b closer to a scores lower than an unrelated b, and 20 steps of gradient
 * descent on b (then re-normalised, as the caller of triplet/InfoNCE keeps it) lower it. */
TEST(loss_decreases_when_matched) {
    const char *names[4] = {"contrastive", "triplet", "cosine_embedding", "infonce"};
    int shape[2] = {8, 6};
    for (int kind = 0; kind < 4; kind++) {
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *a = test_randn(2, shape, 100, 1.0f), *b = test_randn(2, shape, 200, 1.0f);
        mmc_tensor *near = test_randn(2, shape, 300, 0.2f);
        mmc_tensor *ls = mmc_tensor_new(1, (int[]){1});
        ls->data[0] = 2.0f;
        for (int64_t i = 0; i < a->numel; i++) near->data[i] += a->data[i];
        normalize_rows(a), normalize_rows(b), normalize_rows(near);
        mmc_tensor *L = loss_of(ctx, kind, a, b, ls);
        float far_l = L ? L->data[0] : NAN;
        mmc_ctx_reset(ctx);
        L = loss_of(ctx, kind, a, near, ls);
        float near_l = L ? L->data[0] : NAN;
        CHECK(near_l < far_l, "%s: matching b gives %g, not below unrelated b's %g", names[kind], near_l,
              far_l);
        b->requires_grad = 1;
        float first = NAN, last = NAN;
        for (int step = 0; step < 20; step++) {
            mmc_ctx_reset(ctx);
            mmc_tensor_zero_grad(b);
            L = loss_of(ctx, kind, a, b, ls);
            REQUIRE(L && mmc_backward(ctx, L) == MMC_OK, "%s: backward: %s", names[kind], ctx->err.msg);
            float v = L->data[0];
            if (step == 0) first = v;
            last = v;
            for (int64_t i = 0; i < b->numel; i++) b->data[i] -= 0.5f * b->grad[i];
            normalize_rows(b);
        }
        CHECK(last < 0.8f * first, "%s: 20 descent steps went from %g to only %g", names[kind], first, last);
        mmc_tensor_free(a), mmc_tensor_free(b), mmc_tensor_free(near), mmc_tensor_free(ls);
        mmc_ctx_free(ctx);
    }
}

/* N = 1: no negatives. Contrastive and cosine embedding are the positive term alone,
 * triplet is 0, InfoNCE is 0 (a softmax over one logit); each still runs backward. */
TEST(loss_single_pair) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a = mmc_tensor_new(2, (int[]){1, 2}), *b = mmc_tensor_new(2, (int[]){1, 2});
    mmc_tensor *ls = mmc_tensor_new(1, (int[]){1});
    a->data[0] = 3, a->data[1] = 0, b->data[0] = 0, b->data[1] = 4; /* d = 5, cos = 0 */
    a->requires_grad = b->requires_grad = 1;
    float want[4] = {5.0f, 0.0f, 1.0f, 0.0f};
    for (int kind = 0; kind < 4; kind++) {
        mmc_ctx_reset(ctx);
        mmc_rng rng;
        mmc_rng_seed(&rng, 1, 1);
        mmc_tensor *L = kind == 0   ? mmc_loss_contrastive(ctx, a, b, 1.0f, MMC_DIST_EUCLIDEAN, 0, &rng)
                        : kind == 1 ? mmc_loss_triplet(ctx, a, b, 0.2f, kind & 1)
                        : kind == 2 ? mmc_loss_cosine_embedding(ctx, a, b, 0.0f, 0, &rng)
                                    : mmc_loss_infonce(ctx, a, b, ls, 4.6052f);
        REQUIRE(L, "kind %d: %s", kind, ctx->err.msg);
        CHECK(fabsf(L->data[0] - want[kind]) < 1e-6f, "kind %d: loss %g, want %g", kind, L->data[0], want[kind]);
        CHECK(mmc_backward(ctx, L) == MMC_OK, "kind %d: backward: %s", kind, ctx->err.msg);
    }
    mmc_tensor_free(a), mmc_tensor_free(b), mmc_tensor_free(ls);
    mmc_ctx_free(ctx);
}

/* The fused kernels split rows and column blocks over threads above a size threshold
 * (N = 200 crosses it). 1 and 2 threads must give the same loss bit for bit (each row's or
 * column's sum has a fixed order and the partial sums are added serially) and gradients
 * equal to float rounding (OpenBLAS's GEMM in the backward is not bit-stable across thread
 * counts, so exact equality is not promised there). */
TEST(loss_threads_deterministic) {
    int shape[2] = {200, 16};
    mmc_tensor *a = test_randn(2, shape, 5, 1.0f), *b = test_randn(2, shape, 6, 1.0f);
    mmc_tensor *ls = mmc_tensor_new(1, (int[]){1});
    normalize_rows(a), normalize_rows(b);
    ls->data[0] = 2.6f;
    a->requires_grad = b->requires_grad = ls->requires_grad = 1;
    /* the parallel paths: sampled and dense pair reductions, triplet's row and column
     * passes, InfoNCE's rows and column blocks (triplet hardest is serial) */
    loss_args cases[4] = {{.kind = 0, .margin = 0.5f, .distance = MMC_DIST_COSINE, .n_neg = 5},
                          {.kind = 1, .margin = 0.2f, .hardest = 0},
                          {.kind = 2, .margin = 0.1f},
                          {.kind = 3, .max_scale = 4.6052f}};
    int saved = mmc_get_threads();
    size_t na = (size_t)a->numel;
    float *g = malloc(sizeof(float) * 2 * (na + 1)); /* runs: 2 threads, 1 thread */
    for (int c = 0; c < 4; c++) {
        float val[2];
        for (int run = 0; run < 2; run++) {
            mmc_set_threads(2 - run);
            mmc_ctx *ctx = mmc_ctx_new();
            mmc_tensor_zero_grad(a), mmc_tensor_zero_grad(b), mmc_tensor_zero_grad(ls);
            mmc_tensor *in[3] = {a, b, ls};
            mmc_tensor *L = g_loss(ctx, in, &cases[c]);
            int ok = L && mmc_backward(ctx, L) == MMC_OK && a->grad;
            CHECK(ok, "case %d: %s", c, ctx->err.msg);
            val[run] = ok ? L->data[0] : NAN;
            float *gr = g + run * (na + 1);
            if (ok) memcpy(gr, a->grad, sizeof(float) * na);
            gr[na] = ls->grad ? ls->grad[0] : 0.0f;
            mmc_ctx_free(ctx);
        }
        CHECK(val[0] == val[1], "case %d: loss %.9g with 2 threads, %.9g with 1", c, val[0], val[1]);
        char what[64];
        snprintf(what, sizeof what, "case %d: grads, 2 threads vs 1", c);
        test_close(what, g, g + na + 1, (int64_t)na + 1, 1e-6);
    }
    free(g);
    mmc_set_threads(saved);
    mmc_tensor_free(a), mmc_tensor_free(b), mmc_tensor_free(ls);
}

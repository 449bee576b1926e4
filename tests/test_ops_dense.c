/* test_ops_dense.c — gradient checks, PyTorch parity and argument checks for the dense
 * ops: matmul.c, conv.c, norm.c, embedding.c, attention.c.
 *
 * Parity fixtures (tools/fixtures/ops_dense.py) hold the inputs, "out", the seed gradient
 * "gout" and "grad_<input>" for every input that takes a gradient; parity() runs an op on
 * them and compares the forward output and every input gradient. */
#include "test.h"
#include <stdlib.h>

#define PARITY_TOL 1e-4
#define FD_EPS 1e-2f
#define FD_TOL 2e-2

/* ------------------------------------------------------------ fixture access */

#define FX_MAX 16

typedef struct fx {
    mmc_safetensors st;
    int n;
    char names[FX_MAX][64];
    mmc_tensor *ts[FX_MAX];
    int *ints[4]; /* int arrays handed out by fx_ints, freed by fx_close */
    int nints;
    uint8_t *mask;
} fx;

/* Fixture tensor `name` (cached); as an input it requires grad. NULL if absent. */
static mmc_tensor *fx_load(fx *f, const char *name, int input) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) return f->ts[i];
    if (!mmc_safetensors_find(&f->st, name) || f->n == FX_MAX) return NULL;
    mmc_tensor *t = test_fixture_get(&f->st, name);
    if (!t) return NULL;
    t->requires_grad = input;
    snprintf(f->names[f->n], sizeof f->names[0], "%s", name);
    f->ts[f->n++] = t;
    return t;
}
#define FX_IN(f, name) fx_load((f), (name), 1)
#define FX(f, name) fx_load((f), (name), 0)

static int *fx_ints(fx *f, const char *name, int64_t *count) {
    if (!mmc_safetensors_find(&f->st, name) || f->nints == 4) return NULL;
    int *v = test_fixture_ints(&f->st, name, count);
    if (v) f->ints[f->nints++] = v;
    return v;
}

static void fx_close(fx *f) {
    for (int i = 0; i < f->n; i++) mmc_tensor_free(f->ts[i]);
    for (int i = 0; i < f->nints; i++) free(f->ints[i]);
    free(f->mask);
    mmc_safetensors_close(&f->st);
}

typedef mmc_tensor *(*build_fn)(mmc_ctx *ctx, fx *f, const void *user);

/* Builds the op on fixture `name`, compares out and the gradient of every input. */
static void parity(const char *name, build_fn build, const void *user) {
    fx f;
    memset(&f, 0, sizeof f);
    if (!test_fixture_open(&f.st, name)) return;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *out = build(ctx, &f, user);
    mmc_tensor *want = FX(&f, "out"), *gout = FX(&f, "gout");
    char what[128];
    if (!out || !want || !gout) {
        mmc_test_fail(__FILE__, __LINE__, "%s: %s", name, out ? "fixture incomplete" : ctx->err.msg);
    } else if (!mmc_tensor_same_shape(out, want)) {
        char s1[64], s2[64];
        mmc_test_fail(__FILE__, __LINE__, "%s: output shape %s, want %s", name,
                      mmc_shape_str(out, s1, sizeof s1), mmc_shape_str(want, s2, sizeof s2));
    } else {
        snprintf(what, sizeof what, "%s: out", name);
        test_close(what, out->data, want->data, want->numel, PARITY_TOL);
        if (mmc_backward_with(ctx, out, gout->data) != MMC_OK) {
            mmc_test_fail(__FILE__, __LINE__, "%s backward: %s", name, ctx->err.msg);
        } else {
            int n = f.n; /* the grad_ tensors loaded below are not inputs */
            for (int i = 0; i < n; i++) {
                if (!f.ts[i]->requires_grad) continue;
                char gname[64];
                snprintf(gname, sizeof gname, "grad_%s", f.names[i]);
                mmc_tensor *gw = FX(&f, gname);
                snprintf(what, sizeof what, "%s: %s", name, gname);
                if (!gw || !f.ts[i]->grad) mmc_test_fail(__FILE__, __LINE__, "%s missing", what);
                else test_close(what, f.ts[i]->grad, gw->data, gw->numel, PARITY_TOL);
            }
        }
    }
    mmc_ctx_free(ctx);
    fx_close(&f);
}

/* Options stored in a fixture as integers; zeros if absent. */
static void fx_opts(fx *f, int *o, int n) {
    int64_t cnt = 0;
    int *v = fx_ints(f, "opts", &cnt);
    for (int i = 0; i < n; i++) o[i] = v && i < cnt ? v[i] : 0;
}

/* ------------------------------------------------------------------ helpers */

/* Persistent random tensor that requires grad. */
static mmc_tensor *param(int ndim, const int *shape, uint64_t seed, float std) {
    mmc_tensor *t = test_randn(ndim, shape, seed, std);
    t->requires_grad = 1;
    return t;
}

static void free_all(mmc_tensor **ts, int n) {
    for (int i = 0; i < n; i++) mmc_tensor_free(ts[i]);
}

/* ------------------------------------------------------------------ matmul */

static mmc_tensor *b_matmul(mmc_ctx *ctx, fx *f, const void *u) {
    const int *t = u;
    return mmc_matmul(ctx, FX_IN(f, "a"), FX_IN(f, "b"), t[0], t[1]);
}

TEST(parity_matmul) {
    static const int tt[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "mm_%d%d", tt[i][0], tt[i][1]);
        parity(name, b_matmul, tt[i]);
    }
}

static mmc_tensor *g_matmul(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    const int *t = u;
    return mmc_matmul(ctx, in[0], in[1], t[0], t[1]);
}

TEST(grad_matmul) {
    int M = 4, K = 6, N = 5;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            mmc_tensor *in[2] = {param(2, ta ? (int[]){K, M} : (int[]){M, K}, 10 + ta, 1.0f),
                                 param(2, tb ? (int[]){N, K} : (int[]){K, N}, 20 + tb, 1.0f)};
            char what[64];
            snprintf(what, sizeof what, "matmul ta=%d tb=%d", ta, tb);
            test_gradcheck(what, g_matmul, in, 2, (int[]){ta, tb}, FD_EPS, FD_TOL, 0);
            free_all(in, 2);
        }
}

/* --------------------------------------------------------------------- bmm */

static mmc_tensor *b_bmm(mmc_ctx *ctx, fx *f, const void *u) {
    int o[2];
    fx_opts(f, o, 2);
    return mmc_bmm(ctx, FX_IN(f, "a"), FX_IN(f, "b"), o[0], o[1]);
}

TEST(parity_bmm) {
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "bmm_%d", i);
        parity(name, b_bmm, NULL);
    }
}

static mmc_tensor *g_bmm(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    const int *t = u;
    return mmc_bmm(ctx, in[0], in[1], t[0], t[1]);
}

TEST(grad_bmm) {
    /* shared b; shared a (transposed); both batched with both transposes */
    struct { int na, sa[4], nb, sb[4], ta, tb; } cs[] = {
        {3, {3, 4, 5}, 2, {5, 2}, 0, 0},
        {2, {5, 4}, 3, {3, 2, 5}, 1, 1},
        {4, {2, 2, 5, 4}, 4, {2, 2, 3, 5}, 1, 1},
        {3, {3, 4, 5}, 2, {2, 5}, 0, 1}};
    for (int i = 0; i < 4; i++) {
        mmc_tensor *in[2] = {param(cs[i].na, cs[i].sa, 30 + i, 1.0f), param(cs[i].nb, cs[i].sb, 40 + i, 1.0f)};
        char what[64];
        snprintf(what, sizeof what, "bmm case %d", i);
        test_gradcheck(what, g_bmm, in, 2, (int[]){cs[i].ta, cs[i].tb}, FD_EPS, FD_TOL, 0);
        free_all(in, 2);
    }
}

/* ------------------------------------------------------------------ linear */

static mmc_tensor *b_linear(mmc_ctx *ctx, fx *f, const void *u) {
    return mmc_linear(ctx, FX_IN(f, "x"), FX_IN(f, "w"), FX_IN(f, "b"));
}

TEST(parity_linear) {
    parity("linear_bias", b_linear, NULL);
    parity("linear_nobias", b_linear, NULL);
}

static mmc_tensor *g_linear(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    return mmc_linear(ctx, in[0], in[1], u ? in[2] : NULL);
}

TEST(grad_linear) {
    for (int bias = 0; bias < 2; bias++) {
        mmc_tensor *in[3] = {param(3, (int[]){2, 3, 5}, 50, 1.0f), param(2, (int[]){4, 5}, 51, 1.0f),
                             param(1, (int[]){4}, 52, 1.0f)};
        test_gradcheck(bias ? "linear with bias" : "linear", g_linear, in, bias ? 3 : 2,
                       bias ? (void *)1 : NULL, FD_EPS, FD_TOL, 0);
        free_all(in, 3);
    }
}

/* ------------------------------------------------------------------ conv2d */

static mmc_conv2d_opts conv_opts(const int *o) {
    return (mmc_conv2d_opts){o[0], o[1], o[2], o[3], o[4], o[5], o[6]};
}

static mmc_tensor *b_conv(mmc_ctx *ctx, fx *f, const void *u) {
    int o[7];
    fx_opts(f, o, 7);
    return mmc_conv2d(ctx, FX_IN(f, "x"), FX_IN(f, "w"), FX_IN(f, "b"), conv_opts(o));
}

TEST(parity_conv2d) {
    const char *names[] = {"conv_plain", "conv_strided", "conv_asym", "conv_1x1"};
    for (int i = 0; i < 4; i++) parity(names[i], b_conv, NULL);
}

static mmc_tensor *g_conv(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    return mmc_conv2d(ctx, in[0], in[1], in[2], conv_opts(u));
}

TEST(grad_conv2d) {
    /* plain; stride 2 + padding + dilation 2 + groups 2; 1×1; batch >= threads and < threads */
    struct { int x[4], w[4], o[7]; } cs[] = {
        {{3, 2, 5, 6}, {3, 2, 3, 3}, {1, 1, 0, 0, 1, 1, 1}},
        {{2, 4, 7, 8}, {4, 2, 3, 2}, {2, 2, 1, 2, 2, 1, 2}},
        {{2, 3, 3, 4}, {2, 3, 1, 1}, {1, 1, 0, 0, 1, 1, 1}},
        {{1, 2, 5, 5}, {3, 2, 3, 3}, {1, 2, 1, 1, 1, 1, 1}}};
    for (int i = 0; i < 4; i++) {
        mmc_tensor *in[3] = {param(4, cs[i].x, 60 + i, 1.0f), param(4, cs[i].w, 70 + i, 0.5f),
                             param(1, (int[]){cs[i].w[0]}, 80 + i, 1.0f)};
        char what[64];
        snprintf(what, sizeof what, "conv2d case %d", i);
        test_gradcheck(what, g_conv, in, 3, cs[i].o, FD_EPS, FD_TOL, 60);
        free_all(in, 3);
    }
}

/* Forward + backward twice: bit-identical results (per-thread dW partials reduced in order). */
TEST(conv2d_deterministic) {
    mmc_tensor *x = param(4, (int[]){5, 3, 9, 9}, 90, 1.0f), *w = param(4, (int[]){4, 3, 3, 3}, 91, 1.0f);
    mmc_tensor *b = param(1, (int[]){4}, 92, 1.0f);
    float *ref[4] = {0};
    for (int run = 0; run < 2; run++) {
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor_zero_grad(x), mmc_tensor_zero_grad(w), mmc_tensor_zero_grad(b);
        mmc_conv2d_opts o = mmc_conv2d_defaults();
        o.pad_h = o.pad_w = 1;
        mmc_tensor *y = mmc_conv2d(ctx, x, w, b, o);
        REQUIRE(y, "conv2d: %s", ctx->err.msg);
        float *seed = malloc(sizeof(float) * (size_t)y->numel);
        for (int64_t i = 0; i < y->numel; i++) seed[i] = (float)((i * 7919) % 13) - 6.0f;
        CHECK(mmc_backward_with(ctx, y, seed) == MMC_OK, "backward: %s", ctx->err.msg);
        float *got[4] = {y->data, x->grad, w->grad, b->grad};
        int64_t n[4] = {y->numel, x->numel, w->numel, b->numel};
        for (int k = 0; k < 4; k++) {
            if (run == 0) {
                ref[k] = malloc(sizeof(float) * (size_t)n[k]);
                memcpy(ref[k], got[k], sizeof(float) * (size_t)n[k]);
            } else {
                CHECK(memcmp(ref[k], got[k], sizeof(float) * (size_t)n[k]) == 0,
                      "conv2d result %d differs between identical runs", k);
                free(ref[k]);
            }
        }
        free(seed);
        mmc_ctx_free(ctx);
    }
    mmc_tensor_free(x), mmc_tensor_free(w), mmc_tensor_free(b);
}

/* ----------------------------------------------------------------- pooling */

typedef mmc_tensor *(*pool_fn)(mmc_ctx *, mmc_tensor *, int, int, int);

static mmc_tensor *b_pool(mmc_ctx *ctx, fx *f, const void *u) {
    int o[3];
    fx_opts(f, o, 3);
    return ((pool_fn)u)(ctx, FX_IN(f, "x"), o[0], o[1], o[2]);
}

TEST(parity_max_pool2d) {
    parity("max_pool_k3s2p1", b_pool, (const void *)mmc_max_pool2d);
    parity("max_pool_k2s2p0", b_pool, (const void *)mmc_max_pool2d);
}

TEST(parity_avg_pool2d) {
    parity("avg_pool_k3s2p1", b_pool, (const void *)mmc_avg_pool2d);
    parity("avg_pool_k2s2p0", b_pool, (const void *)mmc_avg_pool2d);
}

static mmc_tensor *g_pool(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    return ((pool_fn)u)(ctx, in[0], 3, 2, 1);
}

/* Distinct values 0.1 apart (a shuffled ramp), so a finite-difference step never changes
 * which element of a window is the maximum. */
static mmc_tensor *ramp_input(int ndim, const int *shape, uint64_t seed) {
    mmc_tensor *t = mmc_tensor_new(ndim, shape);
    int *perm = malloc(sizeof(int) * (size_t)t->numel);
    mmc_rng r;
    mmc_rng_seed(&r, seed, 3);
    mmc_rng_permutation(&r, perm, (int)t->numel);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = 0.1f * (float)perm[i] - 3.0f;
    free(perm);
    t->requires_grad = 1;
    return t;
}

TEST(grad_max_pool2d) {
    mmc_tensor *x = ramp_input(4, (int[]){2, 2, 6, 7}, 100);
    test_gradcheck("max_pool2d k3 s2 p1", g_pool, &x, 1, (void *)mmc_max_pool2d, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
}

TEST(grad_avg_pool2d) {
    mmc_tensor *x = param(4, (int[]){2, 2, 6, 7}, 101, 1.0f);
    test_gradcheck("avg_pool2d k3 s2 p1", g_pool, &x, 1, (void *)mmc_avg_pool2d, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
}

static mmc_tensor *b_gap(mmc_ctx *ctx, fx *f, const void *u) {
    return mmc_global_avg_pool2d(ctx, FX_IN(f, "x"));
}

TEST(parity_global_avg_pool2d) { parity("global_avg_pool", b_gap, NULL); }

static mmc_tensor *g_gap(mmc_ctx *ctx, mmc_tensor **in, void *u) { return mmc_global_avg_pool2d(ctx, in[0]); }

TEST(grad_global_avg_pool2d) {
    mmc_tensor *x = param(4, (int[]){2, 3, 4, 5}, 102, 1.0f);
    test_gradcheck("global_avg_pool2d", g_gap, &x, 1, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
}

/* -------------------------------------------------------------- batch norm */

/* Runs batch norm on the fixture and checks the running statistics it leaves behind. */
static mmc_tensor *b_bn(mmc_ctx *ctx, fx *f, const void *u) {
    int o[1];
    fx_opts(f, o, 1);
    mmc_tensor *rm = FX(f, "running_mean"), *rv = FX(f, "running_var");
    mmc_tensor *y = mmc_batch_norm(ctx, FX_IN(f, "x"), FX_IN(f, "gamma"), FX_IN(f, "beta"), rm, rv,
                                   o[0], 0.1f, 1e-5f);
    mmc_tensor *rm_w = FX(f, "running_mean_after"), *rv_w = FX(f, "running_var_after");
    if (y && rm && rv && rm_w && rv_w) {
        test_close("running_mean", rm->data, rm_w->data, rm->numel, 1e-5);
        test_close("running_var", rv->data, rv_w->data, rv->numel, 1e-5);
    } else if (y) {
        mmc_test_fail(__FILE__, __LINE__, "batch_norm fixture lacks running statistics");
    }
    return y;
}

TEST(parity_batch_norm) {
    const char *names[] = {"bn_train", "bn_eval", "bn_train_2d", "bn_train_3d"};
    for (int i = 0; i < 4; i++) parity(names[i], b_bn, NULL);
}

static mmc_tensor *g_bn(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    int training = u != NULL;
    return mmc_batch_norm(ctx, in[0], in[1], in[2], in[3], in[4], training, 0.1f, 1e-5f);
}

TEST(grad_batch_norm) {
    for (int training = 1; training >= 0; training--) {
        mmc_tensor *in[5] = {param(4, (int[]){3, 2, 3, 4}, 110, 1.5f), param(1, (int[]){2}, 111, 1.0f),
                             param(1, (int[]){2}, 112, 1.0f), mmc_tensor_new(1, (int[]){2}),
                             mmc_tensor_new(1, (int[]){2})};
        in[4]->data[0] = 0.7f, in[4]->data[1] = 1.3f;
        in[3]->data[0] = 0.2f, in[3]->data[1] = -0.4f;
        test_gradcheck(training ? "batch_norm train" : "batch_norm eval", g_bn, in, 5,
                       training ? (void *)1 : NULL, FD_EPS, FD_TOL, 0);
        free_all(in, 5);
    }
}

/* -------------------------------------------------------------- layer norm */

static mmc_tensor *b_ln(mmc_ctx *ctx, fx *f, const void *u) {
    return mmc_layer_norm(ctx, FX_IN(f, "x"), FX_IN(f, "gamma"), FX_IN(f, "beta"), 1e-5f);
}

TEST(parity_layer_norm) {
    parity("ln_affine", b_ln, NULL);
    parity("ln_plain", b_ln, NULL);
}

static mmc_tensor *g_ln(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    return mmc_layer_norm(ctx, in[0], in[1], in[2], 1e-5f);
}

TEST(grad_layer_norm) {
    mmc_tensor *in[3] = {param(3, (int[]){2, 3, 8}, 120, 1.5f), param(1, (int[]){8}, 121, 1.0f),
                         param(1, (int[]){8}, 122, 1.0f)};
    test_gradcheck("layer_norm", g_ln, in, 3, NULL, FD_EPS, FD_TOL, 0);
    free_all(in, 3);
}

/* --------------------------------------------------------------- embedding */

static mmc_tensor *b_emb(mmc_ctx *ctx, fx *f, const void *u) {
    int64_t n = 0;
    int *ids = fx_ints(f, "ids", &n);
    return mmc_embedding(ctx, FX_IN(f, "table"), ids, (int)n);
}

TEST(parity_embedding) { parity("embedding", b_emb, NULL); }

static mmc_tensor *g_emb(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    static const int ids[] = {4, 0, 4, 2, 6, 4, 0};
    return mmc_embedding(ctx, in[0], ids, 7);
}

TEST(grad_embedding) {
    mmc_tensor *t = param(2, (int[]){7, 5}, 130, 1.0f);
    test_gradcheck("embedding", g_emb, &t, 1, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(t);
}

/* ----------------------------------------------------------------- dropout */

TEST(dropout_statistics) {
    const int R = 200, Cn = 500;
    const float p = 0.3f;
    mmc_tensor *x = mmc_tensor_new(2, (int[]){R, Cn});
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = 1.0f;
    x->requires_grad = 1;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_rng r1, r2;
    mmc_rng_seed(&r1, 42, 0);
    mmc_rng_seed(&r2, 42, 0);
    mmc_tensor *y1 = mmc_dropout(ctx, x, p, 1, &r1), *y2 = mmc_dropout(ctx, x, p, 1, &r2);
    REQUIRE(y1 && y2, "dropout: %s", ctx->err.msg);
    int64_t zeros = 0, bad = 0;
    for (int64_t i = 0; i < y1->numel; i++) {
        if (y1->data[i] == 0.0f) zeros++;
        else if (fabsf(y1->data[i] - 1.0f / (1.0f - p)) > 1e-6f) bad++;
    }
    double rate = (double)zeros / (double)y1->numel; /* sd of the rate ~ 0.0014 */
    CHECK(fabs(rate - p) < 0.01, "drop rate %.4f, want %.2f", rate, (double)p);
    CHECK(bad == 0, "%lld kept values not scaled by 1/(1-p)", (long long)bad);
    CHECK(memcmp(y1->data, y2->data, sizeof(float) * (size_t)y1->numel) == 0,
          "same seed gave different masks");
    mmc_tensor *y3 = mmc_dropout(ctx, x, p, 1, &r1); /* generator moved on: a new mask */
    REQUIRE(y3, "dropout: %s", ctx->err.msg);
    CHECK(memcmp(y1->data, y3->data, sizeof(float) * (size_t)y1->numel) != 0, "mask did not change");

    /* gradient flows through kept units only, scaled like the forward */
    mmc_ctx_reset(ctx);
    mmc_tensor_zero_grad(x);
    mmc_rng_seed(&r1, 7, 0);
    mmc_tensor *y = mmc_dropout(ctx, x, p, 1, &r1);
    float *seed = malloc(sizeof(float) * (size_t)x->numel);
    for (int64_t i = 0; i < x->numel; i++) seed[i] = 1.0f;
    REQUIRE(y && mmc_backward_with(ctx, y, seed) == MMC_OK, "dropout backward: %s", ctx->err.msg);
    CHECK(memcmp(x->grad, y->data, sizeof(float) * (size_t)x->numel) == 0,
          "grad must equal mask * 1/(1-p) (x is all ones)");
    free(seed);

    /* eval, and p = 0, are the identity and draw nothing */
    mmc_rng before = r1;
    mmc_tensor *e = mmc_dropout(ctx, x, p, 0, &r1), *z = mmc_dropout(ctx, x, 0.0f, 1, &r1);
    REQUIRE(e && z, "dropout identity: %s", ctx->err.msg);
    CHECK(memcmp(e->data, x->data, sizeof(float) * (size_t)x->numel) == 0, "eval is not the identity");
    CHECK(memcmp(z->data, x->data, sizeof(float) * (size_t)x->numel) == 0, "p = 0 is not the identity");
    CHECK(before.state == r1.state, "eval dropout consumed random numbers");
    CHECK(mmc_dropout(ctx, x, 0.0f, 0, NULL) != NULL, "eval needs no rng");

    /* bad p, missing rng */
    float badp[] = {1.0f, -0.1f, NAN};
    for (int i = 0; i < 3; i++) {
        mmc_ctx_reset(ctx);
        CHECK(!mmc_dropout(ctx, x, badp[i], 1, &r1) && strstr(ctx->err.msg, "dropout"),
              "p = %g accepted (%s)", (double)badp[i], ctx->err.msg);
    }
    mmc_ctx_reset(ctx);
    CHECK(!mmc_dropout(ctx, x, 0.5f, 1, NULL) && strstr(ctx->err.msg, "rng"), "training without rng accepted");
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
}

/* --------------------------------------------------------------- attention */

static mmc_tensor *b_attn(mmc_ctx *ctx, fx *f, const void *u) {
    int o[1];
    fx_opts(f, o, 1);
    int64_t n = 0;
    int *m = fx_ints(f, "mask", &n);
    if (m) {
        f->mask = malloc((size_t)n);
        for (int64_t i = 0; i < n; i++) f->mask[i] = (uint8_t)m[i];
    }
    return mmc_attention(ctx, FX_IN(f, "q"), FX_IN(f, "k"), FX_IN(f, "v"), o[0], f->mask);
}

TEST(parity_attention) {
    const char *names[] = {"attn_causal", "attn_mask", "attn_both", "attn_empty_rows"};
    for (int i = 0; i < 4; i++) parity(names[i], b_attn, NULL);
}

typedef struct attn_case { int causal; const uint8_t *mask; } attn_case;

static mmc_tensor *g_attn(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    const attn_case *c = u;
    return mmc_attention(ctx, in[0], in[1], in[2], c->causal, c->mask);
}

TEST(grad_attention) {
    static const uint8_t mask[] = {1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    /* causal Tq = Tk; padding with Tq != Tk; both with Tq > Tk (some rows see nothing) */
    struct { int tq, tk; attn_case c; } cs[] = {{4, 4, {1, NULL}}, {3, 6, {0, mask}}, {6, 4, {1, mask}}};
    for (int i = 0; i < 3; i++) {
        mmc_tensor *in[3] = {param(4, (int[]){2, 2, cs[i].tq, 3}, 140 + i, 1.0f),
                             param(4, (int[]){2, 2, cs[i].tk, 3}, 150 + i, 1.0f),
                             param(4, (int[]){2, 2, cs[i].tk, 3}, 160 + i, 1.0f)};
        char what[64];
        snprintf(what, sizeof what, "attention case %d", i);
        test_gradcheck(what, g_attn, in, 3, &cs[i].c, FD_EPS, FD_TOL, 0);
        free_all(in, 3);
    }
}

/* Rows that see no key: zeros out, zero gradient, no NaN. */
TEST(attention_empty_rows_zero) {
    mmc_tensor *q = param(4, (int[]){1, 1, 2, 4}, 170, 1.0f), *k = param(4, (int[]){1, 1, 3, 4}, 171, 1.0f);
    mmc_tensor *v = param(4, (int[]){1, 1, 3, 4}, 172, 1.0f);
    static const uint8_t none[] = {0, 0, 0};
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *y = mmc_attention(ctx, q, k, v, 0, none);
    REQUIRE(y, "attention: %s", ctx->err.msg);
    float seed[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    REQUIRE(mmc_backward_with(ctx, y, seed) == MMC_OK, "backward: %s", ctx->err.msg);
    for (int i = 0; i < 8; i++) CHECK(y->data[i] == 0.0f && q->grad[i] == 0.0f, "row not zero at %d", i);
    for (int i = 0; i < 12; i++) CHECK(k->grad[i] == 0.0f && v->grad[i] == 0.0f, "k/v grad not zero at %d", i);
    mmc_ctx_free(ctx);
    mmc_tensor_free(q), mmc_tensor_free(k), mmc_tensor_free(v);
}

/* ------------------------------------------------------------ bad arguments */

/* expr must return NULL with an error naming `op`; the ctx is reset afterwards. */
#define EXPECT_FAIL(ctx, op, expr)                                                             \
    do {                                                                                       \
        mmc_tensor *r_ = (expr);                                                               \
        CHECK(!r_ && (ctx)->err.code != MMC_OK && strstr((ctx)->err.msg, op),                   \
              "%s: expected a failure naming %s, got %s (\"%s\")", #expr, op,                  \
              r_ ? "a tensor" : "NULL", (ctx)->err.msg);                                       \
        mmc_ctx_reset(ctx);                                                                    \
    } while (0)

TEST(dense_bad_args) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a34 = mmc_tensor_new(2, (int[]){3, 4}), *a45 = mmc_tensor_new(2, (int[]){4, 5});
    mmc_tensor *a234 = mmc_tensor_new(3, (int[]){2, 3, 4}), *a345 = mmc_tensor_new(3, (int[]){3, 4, 5});
    mmc_tensor *x4 = mmc_tensor_new(4, (int[]){2, 4, 6, 6}), *w4 = mmc_tensor_new(4, (int[]){3, 4, 3, 3});
    mmc_tensor *v3 = mmc_tensor_new(1, (int[]){3}), *v5 = mmc_tensor_new(1, (int[]){5});
    mmc_tensor *q = mmc_tensor_new(4, (int[]){1, 2, 3, 4}), *k = mmc_tensor_new(4, (int[]){1, 2, 5, 4});
    mmc_tensor *kbad = mmc_tensor_new(4, (int[]){1, 2, 5, 3});

    EXPECT_FAIL(ctx, "matmul", mmc_matmul(ctx, a34, a34, 0, 0));      /* K 4 vs 3 */
    EXPECT_FAIL(ctx, "(3, 4)", mmc_matmul(ctx, a34, a34, 0, 0));      /* the message shows shapes */
    EXPECT_FAIL(ctx, "matmul", mmc_matmul(ctx, a234, a45, 0, 0));     /* 3-D */
    EXPECT_FAIL(ctx, "matmul", mmc_matmul(ctx, NULL, a45, 0, 0));
    EXPECT_FAIL(ctx, "bmm", mmc_bmm(ctx, a234, a345, 0, 0));          /* batch 2 vs 3 */
    EXPECT_FAIL(ctx, "bmm", mmc_bmm(ctx, a34, a45, 0, 0));            /* nothing batched */
    EXPECT_FAIL(ctx, "linear", mmc_linear(ctx, a234, a45, NULL));     /* w (4, 5): IN 5 != 4 */
    EXPECT_FAIL(ctx, "linear", mmc_linear(ctx, a234, a34, v5));       /* bias 5 vs OUT 3 */
    mmc_conv2d_opts o = mmc_conv2d_defaults();
    EXPECT_FAIL(ctx, "conv2d", mmc_conv2d(ctx, x4, a34, NULL, o));    /* w not 4-D */
    o.groups = 3;
    EXPECT_FAIL(ctx, "conv2d", mmc_conv2d(ctx, x4, w4, NULL, o));     /* groups do not divide C */
    o = mmc_conv2d_defaults();
    o.dil_h = 4;
    EXPECT_FAIL(ctx, "conv2d", mmc_conv2d(ctx, x4, w4, NULL, o));     /* dilated kernel 9 > 6 */
    o = mmc_conv2d_defaults();
    o.stride_w = 0;
    EXPECT_FAIL(ctx, "conv2d", mmc_conv2d(ctx, x4, w4, NULL, o));
    o = mmc_conv2d_defaults();
    EXPECT_FAIL(ctx, "conv2d", mmc_conv2d(ctx, x4, w4, v5, o));       /* bias 5 vs OC 3 */
    EXPECT_FAIL(ctx, "max_pool2d", mmc_max_pool2d(ctx, x4, 2, 2, 2)); /* padding > k/2 */
    EXPECT_FAIL(ctx, "avg_pool2d", mmc_avg_pool2d(ctx, a34, 2, 2, 0));
    EXPECT_FAIL(ctx, "global_avg_pool2d", mmc_global_avg_pool2d(ctx, a234));
    EXPECT_FAIL(ctx, "batch_norm", mmc_batch_norm(ctx, x4, v3, NULL, NULL, NULL, 1, 0.1f, 1e-5f));
    EXPECT_FAIL(ctx, "batch_norm", mmc_batch_norm(ctx, x4, NULL, NULL, NULL, NULL, 1, 1.5f, 1e-5f));
    EXPECT_FAIL(ctx, "batch_norm", mmc_batch_norm(ctx, mmc_tensor_2d(ctx, 1, 3), NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f));
    EXPECT_FAIL(ctx, "layer_norm", mmc_layer_norm(ctx, a345, v3, NULL, 1e-5f));
    int ids_hi[] = {0, 1, 3}, ids_neg[] = {-1};
    EXPECT_FAIL(ctx, "out of range", mmc_embedding(ctx, a34, ids_hi, 3)); /* V = 3 */
    EXPECT_FAIL(ctx, "embedding", mmc_embedding(ctx, a34, ids_neg, 1));
    EXPECT_FAIL(ctx, "embedding", mmc_embedding(ctx, a34, NULL, 2));
    EXPECT_FAIL(ctx, "attention", mmc_attention(ctx, q, kbad, kbad, 0, NULL)); /* Dh 4 vs 3 */
    EXPECT_FAIL(ctx, "attention", mmc_attention(ctx, q, k, kbad, 0, NULL));    /* k, v differ */
    EXPECT_FAIL(ctx, "attention", mmc_attention(ctx, a34, k, k, 0, NULL));
    CHECK(mmc_attention(ctx, q, k, k, 1, NULL) != NULL, "valid attention failed: %s", ctx->err.msg);

    mmc_tensor *all[] = {a34, a45, a234, a345, x4, w4, v3, v5, q, k, kbad};
    free_all(all, 11);
    mmc_ctx_free(ctx);
}

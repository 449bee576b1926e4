/* test_ops_math.c — gradient checks, PyTorch parity and argument errors for
 * src/ops/reduce.c, softmax.c, shape.c and similarity.c.
 *
 * parity_<op>: every math_<op>_<case> fixture (tools/fixtures/ops_math.py): forward output
 * and the input gradients of sum(out * gout) against PyTorch's float64 reference.
 * grad_<op>: central finite differences on small random inputs. */
#include "test.h"
#include <stdlib.h>

#define PARITY_TOL 1e-4
#define FD_EPS 1e-3f
#define FD_TOL 1e-2

/* ------------------------------------------------------------------ fixtures */

/* An open fixture file and everything taken from it, released together by fx_close. */
typedef struct fixture {
    mmc_safetensors st;
    mmc_tensor *held[24];
    int *ints[8];
    int nheld, nints;
} fixture;

static int fx_open(fixture *f, const char *name) {
    memset(f, 0, sizeof *f);
    return test_fixture_open(&f->st, name);
}

static mmc_tensor *fx_get(fixture *f, const char *name) {
    mmc_tensor *t = test_fixture_get(&f->st, name);
    if (t && f->nheld < 24) f->held[f->nheld++] = t;
    return t;
}

static int *fx_ints(fixture *f, const char *name) {
    int *v = test_fixture_ints(&f->st, name, NULL);
    if (v && f->nints < 8) f->ints[f->nints++] = v;
    return v;
}

static int fx_int(fixture *f, const char *name) {
    int *v = fx_ints(f, name);
    return v ? v[0] : 0;
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

/* The fixture stores a 0-dim result as shape (1). */
static int shape_matches(const mmc_tensor *got, const mmc_tensor *want) {
    if (got->ndim == 0) return want->numel == 1;
    return mmc_tensor_same_shape(got, want);
}

/* Builds the op's output from the fixture's inputs (and its integer/float arguments). */
typedef mmc_tensor *(*build_fn)(mmc_ctx *ctx, fixture *f, mmc_tensor **in);

/* Compares out and grads of the named inputs with the fixture's out / grad_<name>. */
static void parity_case(const char *fxname, const char *const *names, int n_in, build_fn build) {
    fixture f;
    if (!fx_open(&f, fxname)) return;
    mmc_tensor *in[4], *want = fx_get(&f, "out"), *gout = fx_get(&f, "gout");
    int ok = want && gout;
    for (int i = 0; i < n_in; i++) {
        in[i] = fx_get(&f, names[i]);
        if (in[i]) in[i]->requires_grad = 1;
        ok = ok && in[i];
    }
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *out = ok ? build(ctx, &f, in) : NULL;
    CHECK(out, "%s: forward: %s", fxname, ctx->err.msg);
    if (out) CHECK(shape_matches(out, want), "%s: output shape", fxname);
    if (out && shape_matches(out, want)) {
        test_close(fxname, out->data, want->data, want->numel, PARITY_TOL);
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

static void parity_cases(const char *op, int ncases, const char *const *names, int n_in, build_fn build) {
    for (int i = 0; i < ncases; i++) {
        char fx[64];
        snprintf(fx, sizeof fx, "math_%s_%d", op, i);
        parity_case(fx, names, n_in, build);
    }
}

static const char *const X[] = {"x"};
static const char *const AB[] = {"a", "b"};
static const char *const X3[] = {"x0", "x1", "x2"};

/* ------------------------------------------------------------------ reductions */

static mmc_tensor *b_sum(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_sum(c, in[0], fx_ints(f, "axes"), fx_int(f, "naxes"), fx_int(f, "keepdim"));
}
static mmc_tensor *b_mean(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_mean(c, in[0], fx_ints(f, "axes"), fx_int(f, "naxes"), fx_int(f, "keepdim"));
}
static mmc_tensor *b_max(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_max(c, in[0], fx_int(f, "axis"), fx_int(f, "keepdim"));
}

TEST(parity_sum) { parity_cases("sum", 5, X, 1, b_sum); }
TEST(parity_mean) { parity_cases("mean", 5, X, 1, b_mean); }
TEST(parity_max) { parity_cases("max", 3, X, 1, b_max); }

typedef struct red_case {
    int ndim, shape[4], axes[4], naxes, keepdim;
} red_case;

static const red_case RED[] = {
    {3, {2, 3, 4}, {1}, 1, 0},     {3, {2, 3, 4}, {-1, 0}, 2, 1},
    {3, {2, 3, 4}, {0}, 0, 0},     {4, {2, 3, 2, 3}, {1, 3}, 2, 0},
    {2, {3, 5}, {-2}, 1, 1},
};

static mmc_tensor *g_sum(mmc_ctx *c, mmc_tensor **in, void *u) {
    const red_case *r = u;
    return mmc_sum(c, in[0], r->axes, r->naxes, r->keepdim);
}
static mmc_tensor *g_mean(mmc_ctx *c, mmc_tensor **in, void *u) {
    const red_case *r = u;
    return mmc_mean(c, in[0], r->axes, r->naxes, r->keepdim);
}

static void grad_reductions(const char *op, test_graph_fn g) {
    for (size_t i = 0; i < sizeof RED / sizeof RED[0]; i++) {
        mmc_tensor *x = test_randn(RED[i].ndim, RED[i].shape, 100 + i, 1.0f);
        x->requires_grad = 1;
        char what[64];
        snprintf(what, sizeof what, "%s case %zu", op, i);
        test_gradcheck(what, g, &x, 1, (void *)&RED[i], FD_EPS, FD_TOL, 0);
        mmc_tensor_free(x);
    }
}

TEST(grad_sum) { grad_reductions("sum", g_sum); }
TEST(grad_mean) { grad_reductions("mean", g_mean); }

static mmc_tensor *g_max(mmc_ctx *c, mmc_tensor **in, void *u) {
    const int *a = u;
    return mmc_max(c, in[0], a[0], a[1]);
}

TEST(grad_max) {
    /* random normal data: ties (where differences are meaningless) do not occur */
    static const int args[3][2] = {{1, 0}, {-1, 1}, {0, 0}};
    for (int i = 0; i < 3; i++) {
        mmc_tensor *x = test_randn(3, (int[]){3, 4, 5}, 200 + i, 1.0f);
        x->requires_grad = 1;
        test_gradcheck("max", g_max, &x, 1, (void *)args[i], FD_EPS, FD_TOL, 0);
        mmc_tensor_free(x);
    }
}

TEST(errors_reduce) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_sum(ctx, x, (int[]){2}, 1, 0), "sum axis 2 of a 2-D tensor fails");
    CHECK(ctx->err.code == MMC_ERR_USAGE && strstr(ctx->err.msg, "sum") && strstr(ctx->err.msg, "(2, 3)"),
          "message names op and shape: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_mean(ctx, x, (int[]){1, -1}, 2, 0) && strstr(ctx->err.msg, "repeated"), "repeated axis: %s",
          ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_mean(ctx, x, NULL, 3, 0) && ctx->err.code == MMC_ERR_USAGE, "too many axes: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_max(ctx, x, -3, 0) && strstr(ctx->err.msg, "max") && strstr(ctx->err.msg, "-3"),
          "max bad axis: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    CHECK(!mmc_sum(ctx, NULL, NULL, 0, 0) && ctx->err.code == MMC_ERR_USAGE, "NULL input");
    mmc_ctx_free(ctx);
}

/* --------------------------------------------------------------- softmax family */

static mmc_tensor *b_softmax(mmc_ctx *c, fixture *f, mmc_tensor **in) { return mmc_softmax(c, in[0]); }
static mmc_tensor *b_log_softmax(mmc_ctx *c, fixture *f, mmc_tensor **in) { return mmc_log_softmax(c, in[0]); }
static mmc_tensor *b_cross_entropy(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_cross_entropy(c, in[0], fx_ints(f, "targets"), fx_int(f, "ignore_index"),
                             fx_float(f, "label_smoothing"));
}

TEST(parity_softmax) { parity_cases("softmax", 2, X, 1, b_softmax); }
TEST(parity_log_softmax) { parity_cases("log_softmax", 2, X, 1, b_log_softmax); }
TEST(parity_cross_entropy) { parity_cases("cross_entropy", 3, X, 1, b_cross_entropy); }

static mmc_tensor *g_unary(mmc_ctx *c, mmc_tensor **in, void *u) {
    return ((mmc_tensor * (*)(mmc_ctx *, mmc_tensor *)) u)(c, in[0]);
}

static void grad_softmaxes(const char *op, mmc_tensor *(*f)(mmc_ctx *, mmc_tensor *)) {
    int shapes[2][3] = {{4, 7}, {2, 3, 5}}, nd[2] = {2, 3};
    for (int i = 0; i < 2; i++) {
        mmc_tensor *x = test_randn(nd[i], shapes[i], 300 + i, 2.0f);
        x->requires_grad = 1;
        test_gradcheck(op, g_unary, &x, 1, (void *)f, FD_EPS, FD_TOL, 0);
        mmc_tensor_free(x);
    }
}

TEST(grad_softmax) { grad_softmaxes("softmax", mmc_softmax); }
TEST(grad_log_softmax) { grad_softmaxes("log_softmax", mmc_log_softmax); }

typedef struct ce_case {
    int targets[6], ignore;
    float smoothing;
} ce_case;

static mmc_tensor *g_ce(mmc_ctx *c, mmc_tensor **in, void *u) {
    const ce_case *k = u;
    return mmc_cross_entropy(c, in[0], k->targets, k->ignore, k->smoothing);
}

TEST(grad_cross_entropy) {
    static const ce_case cases[] = {{{1, -100, 3, 0, 2, -100}, -100, 0.1f},
                                    {{0, 1, 2, 3, 3, 1}, -100, 0.0f},
                                    {{2, 1, 2, 0, 3, 2}, 2, 0.5f}};
    for (int i = 0; i < 3; i++) {
        mmc_tensor *x = test_randn(2, (int[]){6, 4}, 400 + i, 2.0f);
        x->requires_grad = 1;
        /* the gradients are O(1/N): a tighter tolerance than the default (float32 loss
         * noise over a 2e-3 step is ~1e-4) so a small smoothing term cannot hide */
        test_gradcheck("cross_entropy", g_ce, &x, 1, (void *)&cases[i], FD_EPS, 2e-3, 0);
        mmc_tensor_free(x);
    }
}

TEST(cross_entropy_all_ignored) {
    /* PyTorch gives nan (0/0); mmc gives 0 and zero gradients (documented in softmax.c) */
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = test_randn(2, (int[]){3, 4}, 7, 1.0f);
    x->requires_grad = 1;
    mmc_tensor *l = mmc_cross_entropy(ctx, x, (int[]){-100, -100, -100}, -100, 0.1f);
    CHECK(l && l->data[0] == 0.0f, "loss is 0");
    CHECK(l && mmc_backward(ctx, l) == MMC_OK, "backward: %s", ctx->err.msg);
    for (int i = 0; i < 12; i++) CHECK(!x->grad || x->grad[i] == 0.0f, "zero grad at %d", i);
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
}

TEST(errors_softmax) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = mmc_tensor_2d(ctx, 3, 4);
    CHECK(!mmc_cross_entropy(ctx, x, (int[]){0, 7, 1}, -100, 0.0f), "target 7 with C = 4 fails");
    CHECK(ctx->err.code == MMC_ERR_USAGE && strstr(ctx->err.msg, "row 1") && strstr(ctx->err.msg, "7"),
          "message names the row and value: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 3, 4);
    CHECK(!mmc_cross_entropy(ctx, x, (int[]){0, -1, 1}, -100, 0.0f) && strstr(ctx->err.msg, "-1"),
          "negative target: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_3d(ctx, 2, 3, 4);
    CHECK(!mmc_cross_entropy(ctx, x, (int[]){0, 1}, -100, 0.0f) && strstr(ctx->err.msg, "(2, 3, 4)"),
          "3-D logits: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 3, 4);
    CHECK(!mmc_cross_entropy(ctx, x, (int[]){0, 1, 2}, -100, 1.5f) && strstr(ctx->err.msg, "label_smoothing"),
          "smoothing out of range: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 3, 4);
    CHECK(!mmc_cross_entropy(ctx, x, NULL, -100, 0.0f) && strstr(ctx->err.msg, "NULL"), "NULL targets");
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 3, 0);
    CHECK(!mmc_softmax(ctx, x) && strstr(ctx->err.msg, "softmax"), "empty last axis: %s", ctx->err.msg);
    mmc_ctx_free(ctx);
}

/* ------------------------------------------------------------------ shape ops */

static mmc_tensor *b_reshape(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_exp(c, mmc_reshape(c, in[0], 2, fx_ints(f, "shape")));
}
static mmc_tensor *b_transpose(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    int *d = fx_ints(f, "dims");
    return d ? mmc_transpose(c, in[0], d[0], d[1]) : NULL;
}
static mmc_tensor *b_permute(mmc_ctx *c, fixture *f, mmc_tensor **in) { return mmc_permute(c, in[0], fx_ints(f, "perm")); }
static mmc_tensor *b_concat(mmc_ctx *c, fixture *f, mmc_tensor **in) { return mmc_concat(c, in, 3, fx_int(f, "axis")); }
static mmc_tensor *b_slice(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    int *a = fx_ints(f, "args");
    return a ? mmc_slice(c, in[0], a[0], a[1], a[2]) : NULL;
}
static mmc_tensor *b_gather(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    mmc_tensor *want = fx_get(f, "out"); /* the index has the output's shape */
    int axis = fx_int(f, "axis");
    int ax = axis < 0 ? axis + in[0]->ndim : axis;
    return want ? mmc_gather(c, in[0], axis, fx_ints(f, "index"), want->shape[ax]) : NULL;
}

TEST(parity_reshape) { parity_cases("reshape", 1, X, 1, b_reshape); }
TEST(parity_transpose) { parity_cases("transpose", 2, X, 1, b_transpose); }
TEST(parity_permute) { parity_cases("permute", 3, X, 1, b_permute); }
TEST(parity_concat) { parity_cases("concat", 3, X3, 3, b_concat); }
TEST(parity_slice) { parity_cases("slice", 4, X, 1, b_slice); }
TEST(parity_gather) { parity_cases("gather", 3, X, 1, b_gather); }

/* One split per output, each in its own ctx: a second mmc_backward_with on the same tape
 * would run the first output's node again (its seeded grad is still there). */
static void parity_split_case(const char *fxname) {
    fixture f;
    if (!fx_open(&f, fxname)) return;
    mmc_tensor *x = fx_get(&f, "x"), *gx = fx_get(&f, "grad_x");
    int *sizes = fx_ints(&f, "sizes"), axis = fx_int(&f, "axis"), ok = x && gx && sizes;
    if (ok) x->requires_grad = 1;
    for (int k = 0; ok && k < 3; k++) {
        char on[16], gn[16];
        snprintf(on, sizeof on, "out%d", k);
        snprintf(gn, sizeof gn, "gout%d", k);
        mmc_tensor *want = fx_get(&f, on), *g = fx_get(&f, gn), *outs[3] = {0};
        mmc_ctx *ctx = mmc_ctx_new();
        ok = want && g && mmc_split(ctx, x, axis, sizes, 3, outs) == MMC_OK;
        CHECK(ok, "%s: split: %s", fxname, ctx->err.msg);
        if (ok) ok = mmc_tensor_same_shape(outs[k], want);
        CHECK(ok, "%s: out%d shape", fxname, k);
        if (ok) {
            test_close(on, outs[k]->data, want->data, want->numel, PARITY_TOL);
            ok = mmc_backward_with(ctx, outs[k], g->data) == MMC_OK; /* accumulates into x->grad */
            CHECK(ok, "%s backward: %s", fxname, ctx->err.msg);
        }
        mmc_ctx_free(ctx);
    }
    if (ok) test_close(fxname, x->grad, gx->data, gx->numel, PARITY_TOL);
    fx_close(&f);
}

TEST(parity_split) {
    parity_split_case("math_split_0");
    parity_split_case("math_split_1");
}

/* out = reshape(exp(x)) * w: the gradient crosses a view of an arena tensor */
static mmc_tensor *g_reshape(mmc_ctx *c, mmc_tensor **in, void *u) {
    return mmc_mul(c, mmc_reshape(c, mmc_exp(c, in[0]), 2, (int[]){-1, 6}), in[1]);
}

TEST(grad_reshape) {
    mmc_tensor *x = test_randn(3, (int[]){2, 3, 4}, 500, 1.0f), *w = test_randn(2, (int[]){4, 6}, 501, 1.0f);
    x->requires_grad = w->requires_grad = 1;
    test_gradcheck("reshape", g_reshape, (mmc_tensor *[]){x, w}, 2, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
    mmc_tensor_free(w);
}

TEST(reshape_is_a_view) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = test_randn(2, (int[]){4, 6}, 9, 1.0f);
    x->requires_grad = 1;
    mmc_tensor *v = mmc_reshape(ctx, x, 3, (int[]){2, -1, 3});
    REQUIRE(v, "reshape: %s", ctx->err.msg);
    CHECK(v->data == x->data && v->base == x && v->shape[1] == 4 && v->requires_grad, "view of x");
    CHECK(ctx->tape_len == 0, "no tape node");
    /* backward from the view itself lands in x's grad */
    float seed[24];
    for (int i = 0; i < 24; i++) seed[i] = (float)i;
    CHECK(mmc_backward_with(ctx, v, seed) == MMC_OK, "backward: %s", ctx->err.msg);
    for (int i = 0; i < 24 && x->grad; i++) CHECK(x->grad[i] == (float)i, "grad[%d]", i);
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
}

static mmc_tensor *g_transpose(mmc_ctx *c, mmc_tensor **in, void *u) {
    const int *d = u;
    return mmc_transpose(c, in[0], d[0], d[1]);
}

TEST(grad_transpose) {
    static const int dims[2][2] = {{0, 2}, {-1, 1}};
    for (int i = 0; i < 2; i++) {
        mmc_tensor *x = test_randn(3, (int[]){2, 3, 4}, 510 + i, 1.0f);
        x->requires_grad = 1;
        test_gradcheck("transpose", g_transpose, &x, 1, (void *)dims[i], FD_EPS, FD_TOL, 0);
        mmc_tensor_free(x);
    }
}

static mmc_tensor *g_permute(mmc_ctx *c, mmc_tensor **in, void *u) { return mmc_permute(c, in[0], u); }

TEST(grad_permute) {
    static const int perm[] = {2, 0, 3, 1};
    mmc_tensor *x = test_randn(4, (int[]){2, 3, 4, 2}, 520, 1.0f);
    x->requires_grad = 1;
    test_gradcheck("permute", g_permute, &x, 1, (void *)perm, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
}

static mmc_tensor *g_concat(mmc_ctx *c, mmc_tensor **in, void *u) { return mmc_concat(c, in, 3, *(int *)u); }

TEST(grad_concat) {
    int shapes[3][3] = {{2, 1, 3}, {2, 3, 3}, {2, 2, 3}}, axis = -2;
    mmc_tensor *in[3];
    for (int k = 0; k < 3; k++) {
        in[k] = test_randn(3, shapes[k], 530 + k, 1.0f);
        in[k]->requires_grad = k != 1; /* a middle input without grad must be skipped */
    }
    test_gradcheck("concat", g_concat, in, 3, &axis, FD_EPS, FD_TOL, 0);
    for (int k = 0; k < 3; k++) mmc_tensor_free(in[k]);
}

/* split x into 3 parts, then reassemble as (exp(p0), p2, p1) so each part has its own
 * gradient path */
static mmc_tensor *g_split(mmc_ctx *c, mmc_tensor **in, void *u) {
    mmc_tensor *p[3];
    if (mmc_split(c, in[0], 1, (int[]){2, 1, 3}, 3, p) != MMC_OK) return NULL;
    return mmc_concat(c, (mmc_tensor *[]){mmc_exp(c, p[0]), p[2], p[1]}, 3, 1);
}

TEST(grad_split) {
    mmc_tensor *x = test_randn(3, (int[]){2, 6, 2}, 540, 1.0f);
    x->requires_grad = 1;
    test_gradcheck("split", g_split, &x, 1, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
}

static mmc_tensor *g_slice(mmc_ctx *c, mmc_tensor **in, void *u) {
    const int *a = u;
    return mmc_exp(c, mmc_slice(c, in[0], a[0], a[1], a[2]));
}

TEST(grad_slice) {
    static const int args[3][3] = {{1, -4, -1}, {0, 1, 100}, {-1, 0, 2}};
    for (int i = 0; i < 3; i++) {
        mmc_tensor *x = test_randn(3, (int[]){4, 6, 3}, 550 + i, 1.0f);
        x->requires_grad = 1;
        test_gradcheck("slice", g_slice, &x, 1, (void *)args[i], FD_EPS, FD_TOL, 0);
        mmc_tensor_free(x);
    }
}

static mmc_tensor *g_gather(mmc_ctx *c, mmc_tensor **in, void *u) {
    /* x (3, 4, 2) along axis 1, index (3, 5, 2): repeats make backward accumulate */
    static const int idx[30] = {0, 3, 3, 3, 1, 2, 0, 0, 2, 1, 1, 1, 3, 0, 2, 2, 0, 1, 3, 3,
                                1, 1, 1, 2, 0, 3, 2, 0, 3, 1};
    return mmc_gather(c, in[0], 1, idx, 5);
}

TEST(grad_gather) {
    mmc_tensor *x = test_randn(3, (int[]){3, 4, 2}, 560, 1.0f);
    x->requires_grad = 1;
    test_gradcheck("gather", g_gather, &x, 1, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
}

TEST(errors_shape) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a = mmc_tensor_2d(ctx, 2, 3), *b = mmc_tensor_2d(ctx, 3, 4);
    CHECK(!mmc_concat(ctx, (mmc_tensor *[]){a, b}, 2, 1), "concat (2, 3) with (3, 4) along 1 fails");
    CHECK(ctx->err.code == MMC_ERR_USAGE && strstr(ctx->err.msg, "concat") && strstr(ctx->err.msg, "(2, 3)") &&
              strstr(ctx->err.msg, "(3, 4)"), "message names both shapes: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_concat(ctx, (mmc_tensor *[]){a, NULL}, 2, 0) && strstr(ctx->err.msg, "NULL"), "NULL input");
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_concat(ctx, (mmc_tensor *[]){a}, 1, 2) && strstr(ctx->err.msg, "axis 2"), "bad axis: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_reshape(ctx, a, 2, (int[]){4, 2}) && strstr(ctx->err.msg, "(2, 3)"), "reshape numel: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_reshape(ctx, a, 3, (int[]){-1, -1, 3}) && ctx->err.code == MMC_ERR_USAGE, "two -1: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_reshape(ctx, a, 2, (int[]){-1, 4}) && strstr(ctx->err.msg, "infer"), "-1 no fit: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_permute(ctx, a, (int[]){1, 1}) && strstr(ctx->err.msg, "repeated"), "permute: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_transpose(ctx, a, 0, 2) && strstr(ctx->err.msg, "transpose"), "transpose: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_slice(ctx, a, 3, 0, 1) && strstr(ctx->err.msg, "slice"), "slice axis: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    mmc_tensor *outs[2] = {a, a};
    CHECK(mmc_split(ctx, a, 1, (int[]){1, 1}, 2, outs) == MMC_ERR_USAGE && !outs[0] && !outs[1] &&
              strstr(ctx->err.msg, "sum to 3"), "split sizes: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(mmc_split(ctx, a, 1, (int[]){4, -1}, 2, outs) == MMC_ERR_USAGE, "negative split size");
    mmc_ctx_free(ctx);
}

TEST(errors_gather) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = mmc_tensor_2d(ctx, 2, 3);
    /* out (2, 2) along axis 1: index 3 is past the end */
    CHECK(!mmc_gather(ctx, x, 1, (int[]){0, 2, 3, 1}, 2), "index 3 of an axis of 3 fails");
    CHECK(ctx->err.code == MMC_ERR_USAGE && strstr(ctx->err.msg, "index[2] = 3") && strstr(ctx->err.msg, "(2, 3)"),
          "message names the position, value and shape: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_gather(ctx, x, 0, (int[]){0, -1, 1}, 1) && strstr(ctx->err.msg, "-1"), "negative: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_gather(ctx, x, 2, (int[]){0}, 1) && ctx->err.code == MMC_ERR_USAGE, "bad axis");
    mmc_ctx_reset(ctx);
    x = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_gather(ctx, x, 1, NULL, 2) && strstr(ctx->err.msg, "NULL"), "NULL index");
    mmc_ctx_free(ctx);
}

/* ------------------------------------------------------------------ similarity */

static mmc_tensor *b_l2n(mmc_ctx *c, fixture *f, mmc_tensor **in) { return mmc_l2_normalize(c, in[0], fx_float(f, "eps")); }
static mmc_tensor *b_cos(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_cosine_similarity(c, in[0], in[1], fx_float(f, "eps"));
}
static mmc_tensor *b_pdist(mmc_ctx *c, fixture *f, mmc_tensor **in) {
    return mmc_pairwise_distance(c, in[0], in[1], fx_float(f, "eps"));
}

TEST(parity_l2_normalize) { parity_cases("l2_normalize", 2, X, 1, b_l2n); }
TEST(parity_cosine_similarity) { parity_cases("cosine_similarity", 2, AB, 2, b_cos); }
TEST(parity_pairwise_distance) { parity_cases("pairwise_distance", 2, AB, 2, b_pdist); }

static mmc_tensor *g_l2n(mmc_ctx *c, mmc_tensor **in, void *u) { return mmc_l2_normalize(c, in[0], 1e-12f); }
static mmc_tensor *g_cos(mmc_ctx *c, mmc_tensor **in, void *u) { return mmc_cosine_similarity(c, in[0], in[1], 1e-8f); }
static mmc_tensor *g_pdist(mmc_ctx *c, mmc_tensor **in, void *u) { return mmc_pairwise_distance(c, in[0], in[1], 1e-6f); }

TEST(grad_l2_normalize) {
    mmc_tensor *x = test_randn(3, (int[]){2, 3, 5}, 600, 1.0f);
    x->requires_grad = 1;
    test_gradcheck("l2_normalize", g_l2n, &x, 1, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(x);
}

TEST(grad_cosine_similarity) {
    mmc_tensor *a = test_randn(2, (int[]){5, 6}, 610, 1.0f), *b = test_randn(2, (int[]){5, 6}, 611, 1.0f);
    a->requires_grad = b->requires_grad = 1;
    test_gradcheck("cosine_similarity", g_cos, (mmc_tensor *[]){a, b}, 2, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(a);
    mmc_tensor_free(b);
}

TEST(grad_pairwise_distance) {
    mmc_tensor *a = test_randn(2, (int[]){4, 3}, 620, 1.0f), *b = test_randn(2, (int[]){5, 3}, 621, 1.0f);
    a->requires_grad = b->requires_grad = 1;
    test_gradcheck("pairwise_distance", g_pdist, (mmc_tensor *[]){a, b}, 2, NULL, FD_EPS, FD_TOL, 0);
    mmc_tensor_free(a);
    mmc_tensor_free(b);
}

TEST(pairwise_distance_zero_is_finite) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a = test_randn(2, (int[]){2, 3}, 630, 1.0f), *b = mmc_tensor_new(2, (int[]){1, 3});
    memcpy(b->data, a->data, 3 * sizeof(float)); /* d[0, 0] == 0 */
    a->requires_grad = b->requires_grad = 1;
    mmc_tensor *d = mmc_pairwise_distance(ctx, a, b, 1e-6f);
    REQUIRE(d && d->data[0] == 0.0f, "d = 0: %s", ctx->err.msg);
    CHECK(mmc_backward(ctx, mmc_sum(ctx, d, NULL, 0, 0)) == MMC_OK, "backward: %s", ctx->err.msg);
    for (int k = 0; k < 3 && a->grad && b->grad; k++)
        CHECK(isfinite(a->grad[k]) && a->grad[k] == 0.0f && isfinite(b->grad[k]), "finite, 0 at d = 0");
    mmc_ctx_free(ctx);
    mmc_tensor_free(a);
    mmc_tensor_free(b);
}

TEST(errors_similarity) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a = mmc_tensor_2d(ctx, 2, 3), *b = mmc_tensor_2d(ctx, 2, 4);
    CHECK(!mmc_cosine_similarity(ctx, a, b, 1e-8f) && strstr(ctx->err.msg, "(2, 3)") && strstr(ctx->err.msg, "(2, 4)"),
          "cosine shapes: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    b = mmc_tensor_2d(ctx, 5, 4);
    CHECK(!mmc_pairwise_distance(ctx, a, b, 0) && strstr(ctx->err.msg, "pairwise_distance"), "pdist: %s", ctx->err.msg);
    mmc_ctx_reset(ctx);
    a = mmc_tensor_2d(ctx, 2, 3);
    CHECK(!mmc_l2_normalize(ctx, a, -1.0f) && strstr(ctx->err.msg, "eps"), "negative eps: %s", ctx->err.msg);
    mmc_ctx_free(ctx);
}

/* ---------------------------------------------------------- threads and determinism */

/* Runs ops big enough for their OpenMP paths with 1 and 2 threads: outputs and gradients
 * must be bit-identical (each output element is computed by exactly one thread). */
static void run_big(int threads, float *out, float *grad, mmc_tensor *x, mmc_tensor *y) {
    mmc_set_threads(threads);
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor_zero_grad(x);
    mmc_tensor_zero_grad(y);
    int tg[300];
    for (int i = 0; i < 300; i++) tg[i] = (i * 7) % 200;
    mmc_tensor *s = mmc_sum(ctx, mmc_softmax(ctx, x), (int[]){0}, 1, 0);                /* (200) */
    mmc_tensor *m = mmc_max(ctx, mmc_permute(ctx, x, (int[]){1, 0}), 1, 0);            /* (200) */
    mmc_tensor *ce = mmc_cross_entropy(ctx, x, tg, 3, 0.1f);                           /* (1) */
    mmc_tensor *cs = mmc_cosine_similarity(ctx, x, mmc_l2_normalize(ctx, y, 1e-12f), 1e-8f); /* (300) */
    mmc_tensor *pd = mmc_mean(ctx, mmc_pairwise_distance(ctx, x, y, 1e-6f), NULL, 0, 0);
    mmc_tensor *g = mmc_gather(ctx, x, 0, tg, 1);                                      /* (1, 200) */
    mmc_tensor *parts[] = {s, m, mmc_reshape(ctx, ce, 1, (int[]){1}), cs, mmc_reshape(ctx, pd, 1, (int[]){1}),
                           mmc_reshape(ctx, g, 1, (int[]){200})};
    mmc_tensor *all = mmc_concat(ctx, parts, 6, 0);
    mmc_tensor *loss = mmc_sum(ctx, mmc_mul(ctx, all, all), NULL, 0, 0);
    if (!loss || mmc_backward(ctx, loss) != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "big graph: %s", ctx->err.msg);
    } else {
        memcpy(out, all->data, sizeof(float) * (size_t)all->numel);
        memcpy(grad, x->grad, sizeof(float) * (size_t)x->numel);
    }
    mmc_ctx_free(ctx);
}

TEST(math_threads_deterministic) {
    mmc_tensor *x = test_randn(2, (int[]){300, 200}, 700, 2.0f), *y = test_randn(2, (int[]){300, 200}, 701, 1.0f);
    x->requires_grad = y->requires_grad = 1;
    int nout = 200 + 200 + 1 + 300 + 1 + 200;
    float *o1 = calloc(nout, 4), *o2 = calloc(nout, 4), *g1 = calloc(60000, 4), *g2 = calloc(60000, 4);
    int prev = mmc_get_threads();
    run_big(1, o1, g1, x, y);
    run_big(2, o2, g2, x, y);
    mmc_set_threads(prev);
    CHECK(memcmp(o1, o2, sizeof(float) * nout) == 0, "outputs identical for 1 and 2 threads");
    CHECK(memcmp(g1, g2, sizeof(float) * 60000) == 0, "gradients identical for 1 and 2 threads");
    free(o1); free(o2); free(g1); free(g2);
    mmc_tensor_free(x);
    mmc_tensor_free(y);
}

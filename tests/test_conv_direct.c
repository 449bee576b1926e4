/* Tests of the im2col-free convolution kernels (src/ops/conv_direct.c): mmc_conv2d forward,
 * dL/dX, dL/dW and dL/db on shapes that send each part down each kernel — direct (stride 1,
 * widths that are multiples of 16), NHWC (strides, other widths, dilation) and the im2col
 * path that remains for a strided dL/dX — with channel and position counts that leave partial
 * tiles, against a plain double-precision loop written here. On a CPU without AVX-512 the
 * same checks run on the im2col path. */
#include "conv_direct.h"
#include "internal.h"
#include "test.h"
#include <stdlib.h>

typedef struct conv_case {
    int x[4], w[4];
    int sh, sw, ph, pw, dh, dw;
    int bias;
} conv_case;

/* y, dx, dw, db of sum(y * seed) in double, groups 1 */
static void reference(const conv_case *k, const float *x, const float *w, const float *b,
                      const float *seed, int OH, int OW, double *y, double *dx, double *dw, double *db) {
    int B = k->x[0], C = k->x[1], H = k->x[2], W = k->x[3], OC = k->w[0], KH = k->w[2], KW = k->w[3];
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OC; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    int64_t yi = (((int64_t)i * OC + o) * OH + oh) * OW + ow;
                    double s = b ? b[o] : 0.0, gy = seed[yi];
                    if (db) db[o] += gy;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * k->sh - k->ph + kh * k->dh, iw = ow * k->sw - k->pw + kw * k->dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                int64_t xi = (((int64_t)i * C + c) * H + ih) * W + iw;
                                int64_t wi = (((int64_t)o * C + c) * KH + kh) * KW + kw;
                                s += (double)x[xi] * w[wi];
                                dx[xi] += gy * w[wi];
                                dw[wi] += gy * x[xi];
                            }
                    y[yi] = s;
                }
}

static float *to_float(const double *d, int64_t n) {
    float *f = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}

/* wrap: the convolution's input is an intermediate result (x · 1), whose gradient buffer the
 * backward creates and writes whole, rather than the leaf x, whose gradient it adds to. */
static void check_case_as(const conv_case *k, int idx, int wrap);
static void check_case(const conv_case *k, int idx) {
    check_case_as(k, idx, 0);
    check_case_as(k, 1000 + idx, 1);
}

static void check_case_as(const conv_case *k, int idx, int wrap) {
    mmc_tensor *x = test_randn(4, k->x, 500 + idx, 1.0f), *w = test_randn(4, k->w, 600 + idx, 0.3f);
    mmc_tensor *b = k->bias ? test_randn(1, (int[]){k->w[0]}, 700 + idx, 1.0f) : NULL;
    x->requires_grad = w->requires_grad = 1;
    if (b) b->requires_grad = 1;
    mmc_conv2d_opts o = {k->sh, k->sw, k->ph, k->pw, k->dh, k->dw, 1};
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *y = mmc_conv2d(ctx, wrap ? mmc_scale(ctx, x, 1.0f) : x, w, b, o);
    REQUIRE(y, "case %d: conv2d: %s", idx, ctx->err.msg);
    int OH = y->shape[2], OW = y->shape[3];
    mmc_tensor *seed = test_randn(4, y->shape, 800 + idx, 1.0f);
    if (wrap) { /* the gradient buffers backward takes hold NaN bits until written */
        size_t dirty = sizeof(float) * (size_t)(x->numel + y->numel) * 4;
        void *d = mmc_arena_alloc_reuse(ctx->arena, dirty);
        REQUIRE(d, "case %d: arena", idx);
        memset(d, 0xff, dirty);
        mmc_arena_recycle(ctx->arena, d, dirty);
    }
    REQUIRE(mmc_backward_with(ctx, y, seed->data) == MMC_OK, "case %d: backward: %s", idx, ctx->err.msg);
    double *ry = calloc((size_t)y->numel, sizeof(double)), *rdx = calloc((size_t)x->numel, sizeof(double));
    double *rdw = calloc((size_t)w->numel, sizeof(double)), *rdb = calloc((size_t)k->w[0], sizeof(double));
    reference(k, x->data, w->data, b ? b->data : NULL, seed->data, OH, OW, ry, rdx, rdw, b ? rdb : NULL);
    float *fy = to_float(ry, y->numel), *fdx = to_float(rdx, x->numel), *fdw = to_float(rdw, w->numel);
    float *fdb = to_float(rdb, k->w[0]);
    char what[64];
    snprintf(what, sizeof what, "case %d y", idx);
    test_close(what, y->data, fy, y->numel, 1e-5);
    snprintf(what, sizeof what, "case %d dx", idx);
    test_close(what, x->grad, fdx, x->numel, 1e-5);
    snprintf(what, sizeof what, "case %d dw", idx);
    test_close(what, w->grad, fdw, w->numel, 1e-5);
    if (b) {
        snprintf(what, sizeof what, "case %d db", idx);
        test_close(what, b->grad, fdb, k->w[0], 1e-5);
    }
    free(ry), free(rdx), free(rdw), free(rdb), free(fy), free(fdx), free(fdw), free(fdb);
    mmc_ctx_free(ctx);
    mmc_tensor_free(seed), mmc_tensor_free(x), mmc_tensor_free(w), mmc_tensor_free(b);
}

static const conv_case CASES[] = {
    /* everything direct; 7 output channels (a partial 4-tile), 5 input channels (dW tile of 8) */
    {{3, 5, 6, 32}, {7, 5, 3, 3}, 1, 1, 1, 1, 1, 1, 1},
    /* a stem: 3 input channels (dW tile of 4), 32 outputs, no bias (dX of a leaf image) */
    {{2, 3, 16, 16}, {32, 3, 3, 3}, 1, 1, 1, 1, 1, 1, 0},
    /* stride 2: forward NHWC (33 outputs: a 48-wide tile), dX on im2col, dW direct (a 16-wide
     * column block) */
    {{2, 20, 9, 16}, {33, 20, 3, 3}, 2, 2, 1, 1, 1, 1, 1},
    /* 5×3 kernel, dilation (1, 2), padding (2, 2): direct both ways */
    {{2, 4, 8, 16}, {6, 4, 5, 3}, 1, 1, 2, 2, 1, 2, 1},
    /* 1×1 */
    {{2, 16, 6, 16}, {16, 16, 1, 1}, 1, 1, 0, 0, 1, 1, 0},
    /* no padding: forward direct (width 18 -> 16), dX NHWC (input width 18: tiles 8 + 8 + 2) */
    {{2, 6, 5, 18}, {9, 6, 3, 3}, 1, 1, 0, 0, 1, 1, 1},
    /* one sample (fewer than the threads), 13 input channels: dW tiles 12 + 4 */
    {{1, 13, 4, 48}, {8, 13, 3, 3}, 1, 1, 1, 1, 1, 1, 1},
    /* more than one reduction slice in the forward (many channels on a wide row) */
    {{2, 40, 3, 96}, {4, 40, 3, 3}, 1, 1, 1, 1, 1, 1, 0},
    /* strides (2, 1), padding (1, 0): NHWC forward with 11 positions a row (8 + 3) and 20
     * outputs (a 32-wide tile); dX on im2col */
    {{2, 7, 11, 13}, {20, 7, 3, 3}, 2, 1, 1, 0, 1, 1, 1},
    /* dilation (2, 1) on a 3×5 kernel, width 12: NHWC both ways */
    {{2, 5, 10, 12}, {9, 5, 3, 5}, 1, 1, 1, 2, 2, 1, 0},
    /* strided 1×1 (a downsampling shortcut): run on the subsampled plane, output width 32
     * (direct) and 17 (NHWC, odd input size) */
    {{2, 8, 8, 64}, {12, 8, 1, 1}, 2, 2, 0, 0, 1, 1, 0},
    {{2, 6, 9, 34}, {10, 6, 1, 1}, 2, 2, 0, 0, 1, 1, 1},
};

TEST(conv_direct_matches_reference) {
    for (int i = 0; i < (int)(sizeof CASES / sizeof CASES[0]); i++) check_case(&CASES[i], i);
}

/* The same cases with the direct kernels switched off: the im2col path against the same
 * reference (so both paths are pinned, whichever one a CPU takes by default). */
TEST(conv_direct_off_matches_reference) {
    int prev = cd_set_enabled(0);
    for (int i = 0; i < (int)(sizeof CASES / sizeof CASES[0]); i++) check_case(&CASES[i], 100 + i);
    cd_set_enabled(prev);
}

static mmc_tensor *g_conv(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    mmc_conv2d_opts o = mmc_conv2d_defaults();
    o.pad_h = o.pad_w = 1;
    (void)u;
    return mmc_conv2d(ctx, in[0], in[1], in[2], o);
}

/* Finite differences on a shape the direct kernels take in all three directions. */
TEST(grad_conv2d_direct) {
    mmc_tensor *in[3] = {test_randn(4, (int[]){2, 3, 4, 16}, 41, 1.0f), test_randn(4, (int[]){5, 3, 3, 3}, 42, 0.5f),
                         test_randn(1, (int[]){5}, 43, 1.0f)};
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    test_gradcheck("conv2d direct", g_conv, in, 3, NULL, 1e-2f, 2e-2, 60);
    for (int i = 0; i < 3; i++) mmc_tensor_free(in[i]);
}

/* Forward + backward twice on a direct shape: bit-identical. */
TEST(conv2d_direct_deterministic) {
    mmc_tensor *x = test_randn(4, (int[]){6, 8, 8, 32}, 51, 1.0f), *w = test_randn(4, (int[]){12, 8, 3, 3}, 52, 0.3f);
    x->requires_grad = w->requires_grad = 1;
    float *ref[3] = {0};
    for (int run = 0; run < 2; run++) {
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor_zero_grad(x), mmc_tensor_zero_grad(w);
        mmc_conv2d_opts o = mmc_conv2d_defaults();
        o.pad_h = o.pad_w = 1;
        mmc_tensor *y = mmc_conv2d(ctx, x, w, NULL, o);
        REQUIRE(y, "conv2d: %s", ctx->err.msg);
        mmc_tensor *seed = test_randn(4, y->shape, 53, 1.0f);
        CHECK(mmc_backward_with(ctx, y, seed->data) == MMC_OK, "backward: %s", ctx->err.msg);
        float *got[3] = {y->data, x->grad, w->grad};
        int64_t n[3] = {y->numel, x->numel, w->numel};
        for (int k = 0; k < 3; k++) {
            if (run == 0) {
                ref[k] = malloc(sizeof(float) * (size_t)n[k]);
                memcpy(ref[k], got[k], sizeof(float) * (size_t)n[k]);
            } else {
                CHECK(memcmp(ref[k], got[k], sizeof(float) * (size_t)n[k]) == 0, "result %d differs between runs", k);
                free(ref[k]);
            }
        }
        mmc_tensor_free(seed);
        mmc_ctx_free(ctx);
    }
    mmc_tensor_free(x), mmc_tensor_free(w);
}

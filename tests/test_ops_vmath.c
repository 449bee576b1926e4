/* test_ops_vmath.c — the vector kernels of src/ops/vmath.c against the scalar code they
 * replace (libm's expf, the element-by-element formulas), over tails of every length, the
 * edges of exp's range and special values; and the ops that use them (quick_gelu forward and
 * backward, attention, layer norm) with the vector path forced off and on. Also the ops whose
 * loops changed for speed: same-shape binary ops with one tensor as both operands, and eval
 * dropout, which is now its input itself. */
#include "test.h"
#include "vmath.h"
#include <stdint.h>
#include <stdlib.h>

static int have_v512(void) { return mmc_cpu_has_avx512f(); }

static void fill(float *x, int64_t n, uint32_t seed, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = lo + (hi - lo) * (float)(seed >> 8) / (float)(1u << 24);
    }
}

/* Distance in units in the last place between two finite floats of the same sign (a large
 * number when the signs differ). */
static int64_t ulps(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4), memcpy(&ib, &b, 4);
    if ((ia < 0) != (ib < 0)) return a == b ? 0 : INT32_MAX;
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

/* got agrees with want: both NaN, equal (infinities too), within `ulp` ulps, or both below
 * the normal range and within 4 subnormal steps (where a relative bound means nothing). */
static int agrees(float got, float want, int ulp) {
    if (isnan(want)) return isnan(got);
    if (got == want) return 1;
    if (isinf(want) || isinf(got)) return 0;
    if (fabsf(want) < 1.2e-38f && fabsf(got) < 1.2e-38f) return fabsf(got - want) <= 4 * 1.4e-45f;
    return ulps(got, want) <= ulp;
}

TEST(vmath_exp_matches_expf) {
    if (!have_v512()) SKIP("no AVX-512: mmc_vexp runs libm's expf itself");
    enum { N = 20000 };
    float *x = malloc(sizeof(float) * (N + 64)), *y = malloc(sizeof(float) * (N + 64));
    REQUIRE(x && y, "out of memory");
    /* a sweep over [-110, 100] (past both ends of the range), then specials */
    for (int i = 0; i < N; i++) x[i] = -110.0f + 210.0f * (float)i / N;
    const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-45f, 88.72f, 88.7228f, 88.73f, -87.33f,
                             -103.9f, -104.5f, 89.5f, INFINITY, -INFINITY, NAN, 0.5f * 0.6931472f,
                             -0.5f * 0.6931472f, 1.0f, -1.0f, 20.0f};
    int ns = (int)(sizeof special / sizeof special[0]);
    for (int i = 0; i < ns; i++) x[N + i] = special[i];
    int n = N + ns, bad = 0;
    mmc_vexp(x, y, n);
    for (int i = 0; i < n && bad < 5; i++)
        if (!agrees(y[i], expf(x[i]), 2)) {
            CHECK(0, "exp(%.9g) = %.9g, expf %.9g", x[i], y[i], expf(x[i]));
            bad++;
        }
    /* every tail length, in place */
    for (int len = 0; len <= 40; len++) {
        fill(x, len + 1, 100u + (uint32_t)len, -30.0f, 30.0f);
        float sentinel = x[len];
        memcpy(y, x, sizeof(float) * (size_t)(len + 1));
        mmc_vexp(y, y, len);
        for (int i = 0; i < len; i++) CHECK(agrees(y[i], expf(x[i]), 2), "len %d: exp(%g) = %g", len, x[i], y[i]);
        CHECK(y[len] == sentinel, "len %d: wrote past the end", len);
    }
    free(x), free(y);
}

/* quick_gelu and its gradient, vector against the scalar formulas, over every tail length
 * and across the range where exp(-1.702 x) overflows. */
TEST(vmath_quick_gelu_matches_scalar) {
    if (!have_v512()) SKIP("no AVX-512: the vector kernels are not used");
    float x[80], y[80], g[80], gx[80], want_gx[80];
    for (int len = 1; len <= 67; len += 2) {
        fill(x, 80, 7u * (uint32_t)len, -60.0f, 60.0f);
        x[0] = len == 1 ? -INFINITY : x[0];
        if (len > 3) x[1] = 0.0f, x[2] = -0.0f, x[3] = NAN;
        fill(g, 80, 3u + (uint32_t)len, -1.0f, 1.0f);
        y[len] = 12345.0f;
        mmc_vqgelu(x, y, len);
        CHECK(y[len] == 12345.0f, "len %d: forward wrote past the end", len);
        for (int i = 0; i < len; i++) {
            float want = x[i] / (1.0f + expf(-1.702f * x[i]));
            CHECK(agrees(y[i], want, 3), "len %d: quick_gelu(%.9g) = %.9g, scalar %.9g", len, x[i], y[i], want);
        }
        for (int i = 0; i < 80; i++) gx[i] = want_gx[i] = 0.25f;
        mmc_vqgelu_backward(x, g, gx, len);
        for (int i = 0; i < len; i++) {
            float s = 1.0f / (1.0f + expf(-1.702f * x[i]));
            want_gx[i] += g[i] * (s + 1.702f * x[i] * s * (1.0f - s));
            /* an absolute floor: the derivative crosses zero near x = -1.28 */
            int ok = isnan(want_gx[i]) ? isnan(gx[i]) : fabsf(gx[i] - want_gx[i]) <= 1e-6f * (1.0f + fabsf(want_gx[i]));
            CHECK(ok, "len %d: grad at %.9g = %.9g, scalar %.9g", len, x[i], gx[i], want_gx[i]);
        }
        CHECK(gx[len] == 0.25f, "len %d: backward wrote past the end", len);
    }
}

/* The op, chunked over threads (4096-element chunks plus a tail): vector and forced-scalar
 * runs agree, forward and backward. */
TEST(quick_gelu_op_vector_equals_scalar) {
    int n = 3 * 4096 + 37;
    mmc_tensor *x = mmc_tensor_new(1, &n);
    REQUIRE(x, "out of memory");
    fill(x->data, n, 11u, -12.0f, 12.0f);
    x->requires_grad = 1;
    float *out[2], *grad[2];
    for (int pass = 0; pass < 2; pass++) {
        int prev = mmc_vmath_force_scalar(pass == 0);
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor_zero_grad(x);
        mmc_tensor *y = mmc_quick_gelu(ctx, x);
        REQUIRE(y && mmc_backward(ctx, mmc_sum(ctx, mmc_mul(ctx, y, y), NULL, 0, 0)) == MMC_OK, "quick_gelu: %s", ctx->err.msg);
        out[pass] = malloc(sizeof(float) * (size_t)n), grad[pass] = malloc(sizeof(float) * (size_t)n);
        memcpy(out[pass], y->data, sizeof(float) * (size_t)n);
        memcpy(grad[pass], x->grad, sizeof(float) * (size_t)n);
        mmc_ctx_free(ctx);
        mmc_vmath_force_scalar(prev);
    }
    test_close("quick_gelu forward", out[1], out[0], n, 1e-6);
    test_close("quick_gelu backward", grad[1], grad[0], n, 1e-6);
    for (int p = 0; p < 2; p++) free(out[p]), free(grad[p]);
    mmc_tensor_free(x);
}

TEST(vmath_softmax_row) {
    if (!have_v512()) SKIP("no AVX-512: mmc_vsoftmax_row declines every row");
    float x[80], keep[80];
    for (int n = 1; n <= 70; n++) {
        fill(x, n, 31u * (uint32_t)n, -40.0f, 40.0f);
        if (n > 5) x[2] = -INFINITY, x[n - 1] = -INFINITY; /* masked scores */
        memcpy(keep, x, sizeof(float) * (size_t)n);
        x[n] = 777.0f;
        REQUIRE(mmc_vsoftmax_row(x, n) == 1, "n %d: declined a finite row", n);
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < n; j++) mx = keep[j] > mx ? keep[j] : mx;
        for (int j = 0; j < n; j++) sum += exp((double)keep[j] - mx);
        for (int j = 0; j < n; j++) {
            double want = exp((double)keep[j] - mx) / sum;
            /* float's x - max is off by up to half an ulp of it, which exp turns into a
             * relative error of that size: allow it, and a few ulps besides */
            if (isinf(keep[j])) {
                CHECK(x[j] == 0.0f, "n %d: a -inf score got %g", n, x[j]);
                continue;
            }
            double tol = (1e-6 + 1.2e-7 * fabs((double)keep[j] - mx)) * want + 1e-30;
            CHECK(fabs(x[j] - want) <= tol, "n %d: p[%d] = %.9g, want %.9g", n, j, x[j], want);
        }
        CHECK(x[n] == 777.0f, "n %d: wrote past the end", n);
    }
    /* rows it leaves to the caller, untouched */
    float nan_row[20], inf_row[20];
    fill(nan_row, 20, 5u, -1.0f, 1.0f);
    nan_row[17] = NAN;
    for (int j = 0; j < 20; j++) inf_row[j] = -INFINITY;
    memcpy(keep, nan_row, sizeof nan_row);
    CHECK(mmc_vsoftmax_row(nan_row, 20) == 0 && !memcmp(keep, nan_row, sizeof nan_row), "a NaN row was taken");
    CHECK(mmc_vsoftmax_row(inf_row, 20) == 0 && inf_row[0] == -INFINITY, "an all -inf row was taken");
}

/* Attention (50 keys, 12 heads, as CLIP ViT-B/32) and layer norm: vector and forced-scalar
 * runs agree, forward and backward. */
TEST(attention_layer_norm_vector_equals_scalar) {
    int qs[4] = {2, 12, 50, 16}, xs[2] = {37, 768};
    mmc_tensor *q = mmc_tensor_new(4, qs), *k = mmc_tensor_new(4, qs), *v = mmc_tensor_new(4, qs);
    mmc_tensor *x = mmc_tensor_new(2, xs), *gm = mmc_tensor_new(1, &xs[1]), *bt = mmc_tensor_new(1, &xs[1]);
    REQUIRE(q && k && v && x && gm && bt, "out of memory");
    mmc_tensor *all[] = {q, k, v, x, gm, bt};
    for (int i = 0; i < 6; i++) {
        fill(all[i]->data, all[i]->numel, 40u + (uint32_t)i, -3.0f, 3.0f);
        all[i]->requires_grad = 1;
    }
    for (int64_t i = 0; i < x->numel; i++) x->data[i] += 5.0f; /* a mean far from 0 */
    float *res[2][8];
    for (int pass = 0; pass < 2; pass++) {
        int prev = mmc_vmath_force_scalar(pass == 0);
        mmc_ctx *ctx = mmc_ctx_new();
        for (int i = 0; i < 6; i++) mmc_tensor_zero_grad(all[i]);
        mmc_tensor *o = mmc_attention(ctx, q, k, v, 0, NULL);
        mmc_tensor *l = mmc_layer_norm(ctx, x, gm, bt, 1e-5f);
        mmc_tensor *loss = mmc_add(ctx, mmc_sum(ctx, mmc_mul(ctx, o, o), NULL, 0, 0), mmc_sum(ctx, mmc_mul(ctx, l, l), NULL, 0, 0));
        REQUIRE(loss && mmc_backward(ctx, loss) == MMC_OK, "pass %d: %s", pass, ctx->err.msg);
        mmc_tensor *src[8] = {o, l, q, k, v, x, gm, bt};
        for (int i = 0; i < 8; i++) {
            const float *d = i < 2 ? src[i]->data : src[i]->grad;
            res[pass][i] = malloc(sizeof(float) * (size_t)src[i]->numel);
            memcpy(res[pass][i], d, sizeof(float) * (size_t)src[i]->numel);
        }
        mmc_ctx_free(ctx);
        mmc_vmath_force_scalar(prev);
    }
    static const char *names[8] = {"attention out", "layer norm out", "dq", "dk", "dv", "dx", "dgamma", "dbeta"};
    int64_t sizes[8] = {q->numel, x->numel, q->numel, k->numel, v->numel, x->numel, gm->numel, bt->numel};
    for (int i = 0; i < 8; i++) {
        test_close(names[i], res[1][i], res[0][i], sizes[i], 1e-5);
        free(res[0][i]), free(res[1][i]);
    }
    for (int i = 0; i < 6; i++) mmc_tensor_free(all[i]);
}

TEST(vmath_row_stats) {
    float x[800];
    for (int n = 1; n <= 800; n += n < 40 ? 1 : 97) {
        fill(x, n, 9u * (uint32_t)n, -2.0f, 2.0f);
        for (int j = 0; j < n; j++) x[j] += 1000.0f; /* cancellation: the variance is small next to the mean */
        double s = 0.0, ss = 0.0;
        for (int j = 0; j < n; j++) s += x[j];
        double m = s / n;
        for (int j = 0; j < n; j++) ss += (x[j] - m) * (x[j] - m);
        float want_m = (float)m, want_r = (float)(1.0 / sqrt(ss / n + 1e-5));
        for (int pass = 0; pass < 2; pass++) {
            int prev = mmc_vmath_force_scalar(pass);
            float mean, rstd;
            mmc_vrow_stats(x, n, 1e-5f, &mean, &rstd);
            mmc_vmath_force_scalar(prev);
            CHECK(fabsf(mean - want_m) <= 1e-6f * fabsf(want_m) && fabsf(rstd - want_r) <= 1e-5f * want_r,
                  "n %d (%s): mean %.9g rstd %.9g, want %.9g %.9g", n, pass ? "scalar" : "vector", mean, rstd,
                  want_m, want_r);
        }
    }
}

/* Same-shape binary ops over more than one 8192-element chunk, with the same tensor as both
 * operands: the gradients of x+x, x-x, x*x, x/x are 2, 0, 2x, 0. */
TEST(binary_same_operand_grads) {
    int n = 2 * 8192 + 123;
    mmc_tensor *x = mmc_tensor_new(1, &n);
    REQUIRE(x, "out of memory");
    fill(x->data, n, 3u, 0.5f, 2.0f);
    x->requires_grad = 1;
    mmc_tensor *(*ops[4])(mmc_ctx *, mmc_tensor *, mmc_tensor *) = {mmc_add, mmc_sub, mmc_mul, mmc_div};
    for (int op = 0; op < 4; op++) {
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor_zero_grad(x);
        mmc_tensor *y = ops[op](ctx, x, x);
        REQUIRE(y && mmc_backward(ctx, mmc_sum(ctx, y, NULL, 0, 0)) == MMC_OK, "op %d: %s", op, ctx->err.msg);
        int bad = 0;
        for (int i = 0; i < n && bad < 3; i++) {
            float xi = x->data[i];
            float fwd = op == 0 ? xi + xi : op == 1 ? xi - xi : op == 2 ? xi * xi : xi / xi;
            float want = op == 0 ? 2.0f : op == 1 ? 0.0f : op == 2 ? 2.0f * xi : 0.0f;
            if (y->data[i] != fwd || fabsf(x->grad[i] - want) > 1e-6f * (1.0f + fabsf(want))) {
                CHECK(0, "op %d at %d: y %g (want %g), grad %g (want %g)", op, i, y->data[i], fwd, x->grad[i], want);
                bad++;
            }
        }
        mmc_ctx_free(ctx);
    }
    mmc_tensor_free(x);
}

/* Eval dropout is the identity as x itself (no copy, no tape node), and the gradient reaches
 * x through it. */
TEST(dropout_eval_returns_input) {
    int n = 10;
    mmc_tensor *x = mmc_tensor_new(1, &n);
    REQUIRE(x, "out of memory");
    fill(x->data, n, 1u, -1.0f, 1.0f);
    x->requires_grad = 1;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *y = mmc_dropout(ctx, x, 0.3f, 0, NULL);
    CHECK(y == x, "eval dropout returned a new tensor");
    mmc_tensor *z = mmc_dropout(ctx, x, 0.0f, 1, NULL);
    CHECK(z == x, "p = 0 dropout returned a new tensor");
    REQUIRE(mmc_backward(ctx, mmc_sum(ctx, mmc_scale(ctx, y, 3.0f), NULL, 0, 0)) == MMC_OK, "backward: %s", ctx->err.msg);
    for (int i = 0; i < n; i++) CHECK(x->grad[i] == 3.0f, "grad[%d] = %g, want 3", i, x->grad[i]);
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
}

/* test_fused_ops.c — PyTorch parity and gradient checks for the kernels of the performance
 * work: mmc_batch_norm_act (batch norm + shortcut add + ReLU in one op, src/ops/norm.c) and
 * mmc_conv2d on shapes the im2col-free kernels take (src/ops/conv_direct.c).
 *
 * Fixtures: tools/fixtures/perf_ops.py (inputs, "out", the seed "gout", "grad_<input>" for
 * every input, running statistics before and after). */
#include "conv_direct.h"
#include "test.h"
#include <stdlib.h>

#define PARITY_TOL 1e-4

typedef struct fx {
    mmc_safetensors st;
    int n;
    char names[24][48];
    mmc_tensor *ts[24];
} fx;

/* Fixture tensor `name` (owned by f), or NULL when absent; inputs require grad. */
static mmc_tensor *fx_get(fx *f, const char *name, int input) {
    if (!mmc_safetensors_find(&f->st, name) || f->n == 24) return NULL;
    mmc_tensor *t = test_fixture_get(&f->st, name);
    if (!t) return NULL;
    t->requires_grad = input;
    snprintf(f->names[f->n], sizeof f->names[0], "%s", name);
    f->ts[f->n++] = t;
    return t;
}

static void fx_close(fx *f) {
    for (int i = 0; i < f->n; i++) mmc_tensor_free(f->ts[i]);
    mmc_safetensors_close(&f->st);
}

/* Compares out with the fixture's, runs backward with its gout, compares every input's
 * gradient (inputs: the first n_in names). */
static void compare(const char *name, fx *f, mmc_ctx *ctx, mmc_tensor *out, const char *const *inputs, int n_in) {
    mmc_tensor *want = fx_get(f, "out", 0), *gout = fx_get(f, "gout", 0);
    REQUIRE(out && want && gout, "%s: %s", name, out ? "fixture incomplete" : ctx->err.msg);
    REQUIRE(mmc_tensor_same_shape(out, want), "%s: output shape", name);
    char what[96];
    snprintf(what, sizeof what, "%s: out", name);
    test_close(what, out->data, want->data, want->numel, PARITY_TOL);
    REQUIRE(mmc_backward_with(ctx, out, gout->data) == MMC_OK, "%s backward: %s", name, ctx->err.msg);
    for (int i = 0; i < n_in; i++) {
        mmc_tensor *t = NULL;
        for (int j = 0; j < f->n; j++)
            if (!strcmp(f->names[j], inputs[i])) t = f->ts[j];
        if (!t) continue;
        char gname[64];
        snprintf(gname, sizeof gname, "grad_%s", inputs[i]);
        mmc_tensor *gw = fx_get(f, gname, 0);
        snprintf(what, sizeof what, "%s: %s", name, gname);
        CHECK(gw && t->grad, "%s missing", what);
        if (gw && t->grad) test_close(what, t->grad, gw->data, gw->numel, PARITY_TOL);
    }
}

TEST(parity_batch_norm_act) {
    const char *names[] = {"bn_act_relu", "bn_act_res_relu", "bn_act_res", "bn_act_eval_res_relu"};
    for (int i = 0; i < 4; i++) {
        fx f = {0};
        if (!test_fixture_open(&f.st, names[i])) return;
        mmc_tensor *x = fx_get(&f, "x", 1), *gm = fx_get(&f, "gamma", 1), *bt = fx_get(&f, "beta", 1);
        mmc_tensor *res = fx_get(&f, "res", 1), *rm = fx_get(&f, "running_mean", 0), *rv = fx_get(&f, "running_var", 0);
        mmc_tensor *rm_w = fx_get(&f, "running_mean_after", 0), *rv_w = fx_get(&f, "running_var_after", 0);
        int64_t cnt = 0;
        int *o = test_fixture_ints(&f.st, "opts", &cnt);
        REQUIRE(x && gm && bt && rm && rv && rm_w && rv_w && o && cnt == 2, "%s: fixture incomplete", names[i]);
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *y = mmc_batch_norm_act(ctx, x, gm, bt, rm, rv, o[0], 0.1f, 1e-5f, res, o[1]);
        static const char *const inputs[] = {"x", "gamma", "beta", "res"};
        compare(names[i], &f, ctx, y, inputs, 4);
        char what[96];
        snprintf(what, sizeof what, "%s: running_mean", names[i]);
        test_close(what, rm->data, rm_w->data, rm->numel, PARITY_TOL);
        snprintf(what, sizeof what, "%s: running_var", names[i]);
        test_close(what, rv->data, rv_w->data, rv->numel, PARITY_TOL);
        free(o);
        mmc_ctx_free(ctx);
        fx_close(&f);
    }
}

static mmc_tensor *g_bn_act(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    const int *o = u; /* training, relu, wrap: x and res as intermediate results (new gradients) */
    mmc_tensor *x = o[2] ? mmc_scale(ctx, in[0], 1.0f) : in[0], *r = o[2] ? mmc_scale(ctx, in[3], 1.0f) : in[3];
    return mmc_batch_norm_act(ctx, x, in[1], in[2], NULL, NULL, o[0], 0.1f, 1e-5f, r, o[1]);
}

/* Finite differences through the gate, the shortcut and the batch statistics. The inputs are
 * spread so that few pre-activations sit within the step of zero. */
TEST(grad_batch_norm_act) {
    int opts[4][3] = {{1, 1, 0}, {1, 0, 0}, {1, 1, 1}, {0, 1, 1}};
    for (int k = 0; k < 4; k++) {
        int sx[4] = {3, 2, 3, 4};
        mmc_tensor *in[4] = {test_randn(4, sx, 31 + k, 2.0f), test_rand(1, (int[]){2}, 32 + k, 0.5f, 1.5f),
                             test_randn(1, (int[]){2}, 33 + k, 0.5f), test_randn(4, sx, 34 + k, 1.0f)};
        for (int i = 0; i < 4; i++) in[i]->requires_grad = 1;
        char what[64];
        snprintf(what, sizeof what, "batch_norm_act training=%d relu=%d wrapped=%d", opts[k][0], opts[k][1], opts[k][2]);
        test_gradcheck(what, g_bn_act, in, 4, opts[k], 1e-2f, 3e-2, 0);
        for (int i = 0; i < 4; i++) mmc_tensor_free(in[i]);
    }
}

TEST(batch_norm_act_bad_args) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = test_randn(4, (int[]){2, 3, 4, 4}, 1, 1.0f), *r = test_randn(4, (int[]){2, 3, 4, 5}, 2, 1.0f);
    CHECK(!mmc_batch_norm_act(ctx, x, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, r, 1) &&
              strstr(ctx->err.msg, "residual"),
          "a residual of another shape must fail, got: %s", ctx->err.msg);
    mmc_tensor_free(x), mmc_tensor_free(r);
    mmc_ctx_free(ctx);
}

/* conv2d against PyTorch on shapes the direct kernels take (and, switched off, on im2col). */
TEST(parity_conv2d_wide) {
    const char *names[] = {"conv_wide", "conv_wide_strided", "conv_wide_stem"};
    for (int pass = 0; pass < 2; pass++) {
        int prev = cd_set_enabled(pass == 0);
        for (int i = 0; i < 3; i++) {
            fx f = {0};
            if (!test_fixture_open(&f.st, names[i])) break;
            mmc_tensor *x = fx_get(&f, "x", 1), *w = fx_get(&f, "w", 1), *b = fx_get(&f, "b", 1);
            int64_t cnt = 0;
            int *o = test_fixture_ints(&f.st, "opts", &cnt);
            if (!x || !w || !o || cnt != 7) {
                mmc_test_fail(__FILE__, __LINE__, "%s: fixture incomplete", names[i]);
                free(o);
                fx_close(&f);
                continue;
            }
            mmc_ctx *ctx = mmc_ctx_new();
            mmc_tensor *y = mmc_conv2d(ctx, x, w, b, (mmc_conv2d_opts){o[0], o[1], o[2], o[3], o[4], o[5], o[6]});
            static const char *const inputs[] = {"x", "w", "b"};
            compare(names[i], &f, ctx, y, inputs, 3);
            free(o);
            mmc_ctx_free(ctx);
            fx_close(&f);
        }
        cd_set_enabled(prev);
    }
}

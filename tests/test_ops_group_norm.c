/* test_ops_group_norm.c — mmc_group_norm (src/ops/norm.c): PyTorch parity (fixtures from
 * tools/fixtures/ops_group_norm.py), finite-difference gradients, batch independence and
 * argument checks. */
#include "test.h"
#include <stdlib.h>

/* Runs group norm on fixture `name` and compares out and every input gradient. */
static void gn_parity(const char *name) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, name)) return;
    mmc_tensor *x = test_fixture_get(&st, "x"), *want = test_fixture_get(&st, "out"), *gout = test_fixture_get(&st, "gout");
    mmc_tensor *gamma = mmc_safetensors_find(&st, "gamma") ? test_fixture_get(&st, "gamma") : NULL;
    mmc_tensor *beta = mmc_safetensors_find(&st, "beta") ? test_fixture_get(&st, "beta") : NULL;
    int64_t cnt = 0;
    int *opts = test_fixture_ints(&st, "opts", &cnt);
    REQUIRE(x && want && gout && opts && cnt == 1, "%s: fixture incomplete", name);
    mmc_tensor *in[3] = {x, gamma, beta};
    const char *gnames[3] = {"grad_x", "grad_gamma", "grad_beta"};
    for (int i = 0; i < 3; i++)
        if (in[i]) in[i]->requires_grad = 1;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *out = mmc_group_norm(ctx, x, opts[0], gamma, beta, 1e-5f);
    char what[96];
    if (!out) mmc_test_fail(__FILE__, __LINE__, "%s: %s", name, ctx->err.msg);
    else if (!mmc_tensor_same_shape(out, want)) mmc_test_fail(__FILE__, __LINE__, "%s: output shape differs", name);
    else {
        snprintf(what, sizeof what, "%s: out", name);
        test_close(what, out->data, want->data, want->numel, 1e-4);
        CHECK(mmc_backward_with(ctx, out, gout->data) == MMC_OK, "%s backward: %s", name, ctx->err.msg);
        for (int i = 0; i < 3; i++) {
            if (!in[i]) continue;
            mmc_tensor *gw = test_fixture_get(&st, gnames[i]);
            snprintf(what, sizeof what, "%s: %s", name, gnames[i]);
            if (!gw || !in[i]->grad) mmc_test_fail(__FILE__, __LINE__, "%s missing", what);
            else test_close(what, in[i]->grad, gw->data, gw->numel, 1e-4);
            mmc_tensor_free(gw);
        }
    }
    mmc_ctx_free(ctx);
    for (int i = 0; i < 3; i++) mmc_tensor_free(in[i]);
    mmc_tensor_free(want);
    mmc_tensor_free(gout);
    free(opts);
    mmc_safetensors_close(&st);
}

TEST(parity_group_norm) {
    const char *names[] = {"gn_affine", "gn_one_group", "gn_per_channel", "gn_3d", "gn_plain"};
    for (int i = 0; i < 5; i++) gn_parity(names[i]);
}

/* u: the group count, negative for no affine (then in holds x alone) */
static mmc_tensor *g_gn(mmc_ctx *ctx, mmc_tensor **in, void *u) {
    int g = (int)(intptr_t)u;
    return g > 0 ? mmc_group_norm(ctx, in[0], g, in[1], in[2], 1e-5f) : mmc_group_norm(ctx, in[0], -g, NULL, NULL, 1e-5f);
}

static mmc_tensor *param(int ndim, const int *shape, uint64_t seed, float std) {
    mmc_tensor *t = test_randn(ndim, shape, seed, std);
    t->requires_grad = 1;
    return t;
}

TEST(grad_group_norm) {
    /* 2 groups of 2 channels, then 1 group, then no affine */
    for (int k = 0; k < 3; k++) {
        int groups = k == 1 ? 1 : 2;
        mmc_tensor *in[3] = {param(4, (int[]){3, 4, 3, 2}, 130 + k, 1.5f), NULL, NULL};
        if (k < 2) {
            in[1] = param(1, (int[]){4}, 140 + k, 1.0f);
            in[2] = param(1, (int[]){4}, 150 + k, 1.0f);
        }
        test_gradcheck("group_norm", g_gn, in, k < 2 ? 3 : 1, (void *)(intptr_t)(k < 2 ? groups : -groups), 1e-2f, 2e-2, 0);
        for (int i = 0; i < 3; i++) mmc_tensor_free(in[i]);
    }
}

/* A sample's output is the same alone or inside a batch (what batch norm cannot give). */
TEST(group_norm_batch_independent) {
    mmc_tensor *x = test_randn(4, (int[]){5, 6, 4, 4}, 160, 2.0f), *gamma = test_rand(1, (int[]){6}, 161, 0.5f, 1.5f),
               *beta = test_randn(1, (int[]){6}, 162, 1.0f);
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *all = mmc_group_norm(ctx, x, 3, gamma, beta, 1e-5f);
    REQUIRE(all, "group_norm: %s", ctx->err.msg);
    int per = 6 * 4 * 4;
    for (int b = 0; b < 5; b++) {
        mmc_tensor *one = mmc_tensor_from(ctx, 4, (int[]){1, 6, 4, 4}, x->data + (size_t)b * per);
        mmc_tensor *y = mmc_group_norm(ctx, one, 3, gamma, beta, 1e-5f);
        REQUIRE(y, "group_norm: %s", ctx->err.msg);
        for (int i = 0; i < per; i++)
            CHECK(y->data[i] == all->data[(size_t)b * per + i], "sample %d element %d: %g alone, %g in the batch", b, i,
                  (double)y->data[i], (double)all->data[(size_t)b * per + i]);
        /* and each group has mean ~0, variance ~1 before the affine: check via gamma=1, beta=0 */
        mmc_tensor *z = mmc_group_norm(ctx, one, 3, NULL, NULL, 0.0f);
        for (int g = 0; g < 3; g++) {
            double s = 0, ss = 0;
            for (int i = 0; i < 32; i++) s += z->data[g * 32 + i], ss += (double)z->data[g * 32 + i] * z->data[g * 32 + i];
            CHECK(fabs(s / 32) < 1e-5 && fabs(ss / 32 - 1) < 1e-4, "group %d: mean %g, mean square %g", g, s / 32, ss / 32);
        }
    }
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
    mmc_tensor_free(gamma);
    mmc_tensor_free(beta);
}

#define EXPECT_GN_FAIL(ctx, expr)                                                                      \
    do {                                                                                               \
        mmc_tensor *r_ = (expr);                                                                       \
        CHECK(!r_ && (ctx)->err.code == MMC_ERR_USAGE && strstr((ctx)->err.msg, "group_norm"),         \
              "%s: expected a group_norm usage error, got %s (\"%s\")", #expr, r_ ? "a tensor" : "NULL", \
              (ctx)->err.msg);                                                                         \
        mmc_ctx_reset(ctx);                                                                            \
    } while (0)

TEST(group_norm_bad_args) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = mmc_tensor_new(4, (int[]){2, 6, 3, 3}), *v6 = mmc_tensor_new(1, (int[]){6}),
               *v4 = mmc_tensor_new(1, (int[]){4}), *x1 = mmc_tensor_new(1, (int[]){6});
    EXPECT_GN_FAIL(ctx, mmc_group_norm(ctx, x, 4, v6, v6, 1e-5f)); /* 6 channels in 4 groups */
    EXPECT_GN_FAIL(ctx, mmc_group_norm(ctx, x, 0, NULL, NULL, 1e-5f));
    EXPECT_GN_FAIL(ctx, mmc_group_norm(ctx, x, 3, v4, NULL, 1e-5f));
    EXPECT_GN_FAIL(ctx, mmc_group_norm(ctx, x, 3, v6, v4, 1e-5f));
    EXPECT_GN_FAIL(ctx, mmc_group_norm(ctx, x, 3, NULL, NULL, -1.0f));
    EXPECT_GN_FAIL(ctx, mmc_group_norm(ctx, x1, 3, NULL, NULL, 1e-5f)); /* no channel axis */
    mmc_tensor *ok = mmc_group_norm(ctx, x, 3, v6, v6, 1e-5f);
    CHECK(ok != NULL, "group_norm on valid arguments: %s", ctx->err.msg);
    mmc_ctx_free(ctx);
    mmc_tensor *all[4] = {x, v6, v4, x1};
    for (int i = 0; i < 4; i++) mmc_tensor_free(all[i]);
}

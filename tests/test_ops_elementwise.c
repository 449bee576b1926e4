/* test_ops_elementwise.c — gradient checks and PyTorch parity for src/ops/elementwise.c */
#include "test.h"
#include <stdlib.h>

typedef mmc_tensor *(*binop)(mmc_ctx *, mmc_tensor *, mmc_tensor *);
typedef mmc_tensor *(*unop)(mmc_ctx *, mmc_tensor *);

static mmc_tensor *g_binary(mmc_ctx *ctx, mmc_tensor **in, void *u) { return ((binop)u)(ctx, in[0], in[1]); }
static mmc_tensor *g_unary(mmc_ctx *ctx, mmc_tensor **in, void *u) { return ((unop)u)(ctx, in[0]); }

static mmc_tensor *op_scale(mmc_ctx *c, mmc_tensor *a) { return mmc_scale(c, a, -1.5f); }
static mmc_tensor *op_add_scalar(mmc_ctx *c, mmc_tensor *a) { return mmc_add_scalar(c, a, 0.25f); }
static mmc_tensor *op_pow(mmc_ctx *c, mmc_tensor *a) { return mmc_pow(c, a, 2.5f); }

static const struct { const char *name; binop f; } BIN[] = {
    {"add", mmc_add}, {"sub", mmc_sub}, {"mul", mmc_mul}, {"div", mmc_div}};
static const struct { const char *name; unop f; int positive; } UN[] = {
    {"exp", mmc_exp, 0},   {"log", mmc_log, 1},         {"sqrt", mmc_sqrt, 1},
    {"pow", op_pow, 1},    {"relu", mmc_relu, 0},       {"gelu", mmc_gelu, 0},
    {"gelu_tanh", mmc_gelu_tanh, 0}, {"quick_gelu", mmc_quick_gelu, 0},
    {"sigmoid", mmc_sigmoid, 0}, {"tanh", mmc_tanh, 0}, {"scale", op_scale, 0},
    {"add_scalar", op_add_scalar, 0}};

/* Parity: forward output and input gradients against PyTorch (float64 reference). */
static void parity_binary(const char *name, binop f) {
    for (int i = 0; i < 4; i++) {
        char fx[64];
        snprintf(fx, sizeof fx, "ew_%s_%d", name, i);
        mmc_safetensors st;
        if (!test_fixture_open(&st, fx)) return;
        mmc_tensor *a = test_fixture_get(&st, "a"), *b = test_fixture_get(&st, "b");
        mmc_tensor *want = test_fixture_get(&st, "out"), *gout = test_fixture_get(&st, "gout");
        mmc_tensor *ga = test_fixture_get(&st, "grad_a"), *gb = test_fixture_get(&st, "grad_b");
        REQUIRE(a && b && want && gout && ga && gb, "fixture %s incomplete", fx);
        a->requires_grad = b->requires_grad = 1;
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_tensor *out = f(ctx, a, b);
        REQUIRE(out, "%s: %s", fx, ctx->err.msg);
        REQUIRE(mmc_tensor_same_shape(out, want), "%s: output shape", fx);
        test_close(fx, out->data, want->data, want->numel, 1e-5);
        REQUIRE(mmc_backward_with(ctx, out, gout->data) == MMC_OK, "%s backward: %s", fx, ctx->err.msg);
        test_close("grad a", a->grad, ga->data, ga->numel, 1e-5);
        test_close("grad b", b->grad, gb->data, gb->numel, 1e-5);
        mmc_ctx_free(ctx);
        mmc_tensor *all[] = {a, b, want, gout, ga, gb};
        for (int k = 0; k < 6; k++) mmc_tensor_free(all[k]);
        mmc_safetensors_close(&st);
    }
}

static void parity_unary(const char *name, unop f) {
    char fx[64];
    snprintf(fx, sizeof fx, "ew_%s", name);
    mmc_safetensors st;
    if (!test_fixture_open(&st, fx)) return;
    mmc_tensor *a = test_fixture_get(&st, "a"), *want = test_fixture_get(&st, "out");
    mmc_tensor *gout = test_fixture_get(&st, "gout"), *ga = test_fixture_get(&st, "grad_a");
    REQUIRE(a && want && gout && ga, "fixture %s incomplete", fx);
    a->requires_grad = 1;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *out = f(ctx, a);
    REQUIRE(out, "%s: %s", fx, ctx->err.msg);
    test_close(fx, out->data, want->data, want->numel, 1e-5);
    REQUIRE(mmc_backward_with(ctx, out, gout->data) == MMC_OK, "%s backward: %s", fx, ctx->err.msg);
    test_close("grad a", a->grad, ga->data, ga->numel, 1e-5);
    mmc_ctx_free(ctx);
    mmc_tensor_free(a); mmc_tensor_free(want); mmc_tensor_free(gout); mmc_tensor_free(ga);
    mmc_safetensors_close(&st);
}

TEST(parity_binary_broadcast) {
    for (size_t i = 0; i < sizeof BIN / sizeof BIN[0]; i++) parity_binary(BIN[i].name, BIN[i].f);
}

TEST(parity_unary) {
    for (size_t i = 0; i < sizeof UN / sizeof UN[0]; i++) parity_unary(UN[i].name, UN[i].f);
}

TEST(grad_binary_broadcast) {
    int sa[4][4] = {{3, 4}, {2, 3, 4}, {2, 1, 4}, {2, 3, 1, 5}}, na[4] = {2, 3, 3, 4};
    int sb[4][4] = {{3, 4}, {4}, {3, 1}, {1, 3, 4, 1}}, nb[4] = {2, 1, 2, 4};
    for (size_t k = 0; k < sizeof BIN / sizeof BIN[0]; k++)
        for (int i = 0; i < 4; i++) {
            mmc_tensor *a = test_randn(na[i], sa[i], 10 + i, 1.0f), *b = test_randn(nb[i], sb[i], 20 + i, 1.0f);
            if (BIN[k].f == mmc_div)
                for (int64_t j = 0; j < b->numel; j++) b->data[j] = b->data[j] >= 0 ? b->data[j] + 0.5f : b->data[j] - 0.5f;
            a->requires_grad = b->requires_grad = 1;
            char what[64];
            snprintf(what, sizeof what, "%s case %d", BIN[k].name, i);
            test_gradcheck(what, g_binary, (mmc_tensor *[]){a, b}, 2, (void *)BIN[k].f, 1e-2f, 2e-2, 0);
            mmc_tensor_free(a);
            mmc_tensor_free(b);
        }
}

TEST(grad_unary) {
    for (size_t k = 0; k < sizeof UN / sizeof UN[0]; k++) {
        mmc_tensor *a = test_randn(2, (int[]){5, 7}, 3 + k, 1.5f);
        for (int64_t j = 0; j < a->numel; j++) {
            if (UN[k].positive) a->data[j] = fabsf(a->data[j]) + 0.2f;
            /* stay off relu's kink where finite differences are meaningless */
            if (fabsf(a->data[j]) < 0.05f) a->data[j] += 0.1f;
        }
        a->requires_grad = 1;
        test_gradcheck(UN[k].name, g_unary, &a, 1, (void *)UN[k].f, 1e-2f, 2e-2, 0);
        mmc_tensor_free(a);
    }
}

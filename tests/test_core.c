/* test_core.c — arena, rng, tape basics. */
#include "test.h"
#include <stdlib.h>

TEST(core_arena_reuse) {
    mmc_arena *a = mmc_arena_new(1 << 20);
    REQUIRE(a, "arena_new");
    /* A step that overflows the first chunk, twice: the second step must not malloc. */
    for (int step = 0; step < 3; step++) {
        uint64_t before = mmc_alloc_count();
        for (int i = 0; i < 40; i++) {
            char *p = mmc_arena_alloc(a, 100000);
            REQUIRE(p, "alloc");
            CHECK(((uintptr_t)p & 63) == 0, "64-byte alignment");
            memset(p, i, 100000);
        }
        uint64_t made = mmc_alloc_count() - before;
        if (step > 0) CHECK(made == 0, "step %d made %llu allocations after warm-up", step, (unsigned long long)made);
        mmc_arena_reset(a);
        CHECK(mmc_arena_used(a) == 0, "reset");
    }
    CHECK(mmc_arena_peak(a) >= 4000000, "peak %zu", mmc_arena_peak(a));
    mmc_arena_free(a);
}

TEST(core_rng_determinism) {
    mmc_rng a, b;
    mmc_rng_seed(&a, 42, 3);
    mmc_rng_seed(&b, 42, 3);
    for (int i = 0; i < 1000; i++) REQUIRE(mmc_rng_u32(&a) == mmc_rng_u32(&b), "same seed, same stream");
    mmc_rng saved = a; /* state save/restore is a struct copy */
    float x1 = mmc_rng_normal(&a);
    a = saved;
    CHECK(mmc_rng_normal(&a) == x1, "restored state repeats");
    mmc_rng_seed(&b, 42, 4);
    int differ = 0;
    for (int i = 0; i < 10; i++) differ += mmc_rng_u32(&a) != mmc_rng_u32(&b);
    CHECK(differ > 5, "another stream differs");
}

TEST(core_rng_distributions) {
    mmc_rng r;
    mmc_rng_seed(&r, 7, 0);
    enum { N = 200000 };
    double s = 0, s2 = 0, u = 0;
    int bern = 0;
    for (int i = 0; i < N; i++) {
        double x = mmc_rng_normal(&r);
        s += x;
        s2 += x * x;
        float v = mmc_rng_uniform(&r);
        CHECK(v >= 0 && v < 1, "uniform in [0,1)");
        u += v;
        bern += mmc_rng_bernoulli(&r, 0.3f);
    }
    CHECK(fabs(s / N) < 0.01, "normal mean %g", s / N);
    CHECK(fabs(s2 / N - 1) < 0.02, "normal var %g", s2 / N);
    CHECK(fabs(u / N - 0.5) < 0.005, "uniform mean %g", u / N);
    CHECK(fabs((double)bern / N - 0.3) < 0.005, "bernoulli %g", (double)bern / N);
    int perm[100], seen[100] = {0};
    mmc_rng_permutation(&r, perm, 100);
    for (int i = 0; i < 100; i++) {
        REQUIRE(perm[i] >= 0 && perm[i] < 100, "range");
        seen[perm[i]]++;
    }
    for (int i = 0; i < 100; i++) CHECK(seen[i] == 1, "permutation hits %d once", i);
    int counts[3] = {0};
    for (int i = 0; i < 30000; i++) counts[mmc_rng_below(&r, 3)]++;
    for (int i = 0; i < 3; i++) CHECK(abs(counts[i] - 10000) < 400, "below(3) bucket %d: %d", i, counts[i]);
}

TEST(core_tape_accumulates) {
    /* y = a*b + a ; dy/da = b + 1, dy/db = a; backward twice accumulates (2x). */
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a = mmc_tensor_new(1, (int[]){3}), *b = mmc_tensor_new(1, (int[]){3});
    for (int i = 0; i < 3; i++) { a->data[i] = (float)i + 1; b->data[i] = 2.0f * (float)i - 1; }
    a->requires_grad = b->requires_grad = 1;
    for (int rep = 0; rep < 2; rep++) {
        mmc_tensor *y = mmc_add(ctx, mmc_mul(ctx, a, b), a);
        mmc_tensor *l = mmc_sum(ctx, y, NULL, 0, 0);
        REQUIRE(l, "forward: %s", ctx->err.msg);
        REQUIRE(mmc_backward(ctx, l) == MMC_OK, "backward: %s", ctx->err.msg);
        mmc_ctx_reset(ctx);
    }
    for (int i = 0; i < 3; i++) {
        CHECK(fabsf(a->grad[i] - 2 * (b->data[i] + 1)) < 1e-6f, "da[%d]", i);
        CHECK(fabsf(b->grad[i] - 2 * a->data[i]) < 1e-6f, "db[%d]", i);
    }
    /* no-grad scope records nothing */
    int prev = mmc_grad_mode(ctx, 0);
    mmc_tensor *y = mmc_mul(ctx, a, b);
    CHECK(y && !y->requires_grad && ctx->tape_len == 0, "no-grad records nothing");
    CHECK(mmc_backward(ctx, mmc_sum(ctx, y, NULL, 0, 0)) == MMC_ERR_USAGE, "backward without grad is a usage error");
    mmc_grad_mode(ctx, prev);
    mmc_tensor_free(a);
    mmc_tensor_free(b);
    mmc_ctx_free(ctx);
}

TEST(core_errors_not_crashes) {
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a = mmc_tensor_2d(ctx, 2, 3), *b = mmc_tensor_2d(ctx, 4, 3);
    mmc_tensor *y = mmc_add(ctx, a, b);
    CHECK(!y, "mismatched shapes fail");
    CHECK(ctx->err.code == MMC_ERR_USAGE && strstr(ctx->err.msg, "(2, 3)") && strstr(ctx->err.msg, "(4, 3)"),
          "message names both shapes: %s", ctx->err.msg);
    /* chained calls after a failure return NULL and keep the first message */
    mmc_tensor *z = mmc_relu(ctx, mmc_exp(ctx, y));
    CHECK(!z && strstr(ctx->err.msg, "broadcast"), "first error kept: %s", ctx->err.msg);
    mmc_ctx_free(ctx);
}

TEST(core_backward_twice_on_one_tape) {
    /* Two outputs of one graph, backward from each in turn: the leaf gets the sum of both
     * gradients, and the second call does not re-send the first call's gradient. */
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *a = mmc_tensor_new(1, (int[]){2});
    a->data[0] = 1.5f; a->data[1] = -2.0f;
    a->requires_grad = 1;
    mmc_tensor *h = mmc_mul(ctx, a, a);      /* h = a^2 */
    mmc_tensor *y1 = mmc_scale(ctx, h, 3.0f); /* dy1/da = 6a */
    mmc_tensor *y2 = mmc_exp(ctx, a);         /* dy2/da = e^a */
    REQUIRE(y1 && y2, "%s", ctx->err.msg);
    REQUIRE(mmc_backward_with(ctx, y1, (float[]){1, 1}) == MMC_OK, "%s", ctx->err.msg);
    REQUIRE(mmc_backward_with(ctx, y2, (float[]){1, 1}) == MMC_OK, "%s", ctx->err.msg);
    for (int i = 0; i < 2; i++) {
        float want = 6 * a->data[i] + expf(a->data[i]);
        CHECK(fabsf(a->grad[i] - want) < 1e-5f, "grad[%d] %g want %g", i, a->grad[i], want);
    }
    mmc_tensor_free(a);
    mmc_ctx_free(ctx);
}

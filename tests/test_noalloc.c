/* test_noalloc.c — DESIGN §3: once warm, a training step (forward, backward, optimizer
 * step, ctx reset) makes no heap allocation through libmmc. The stronger check, which
 * also sees OpenBLAS's and OpenMP's allocations, is the separate executable in
 * tests/noalloc_libc/ (ctest: noalloc_libc_malloc_count). */
#include "test.h"
#include "tiny_models.h"

TEST(noalloc_warm_training_step) {
    mmc_error err = {0};
    tiny_model m;
    REQUIRE(tiny_model_init(&m, TINY_CNN, 5, &err) == MMC_OK, "%s", err.msg);
    mmc_optim *opt = mmc_optim_adamw(m.t, m.nparams, mmc_adamw_defaults(1e-3f), &err);
    REQUIRE(opt, "%s", err.msg);
    mmc_ctx *ctx = mmc_ctx_new();
    float x[4 * 3 * 8 * 8];
    mmc_rng rng;
    mmc_rng_seed(&rng, 9, 1);
    mmc_rng_fill_normal(&rng, x, 4 * 3 * 8 * 8, 0.0f, 1.0f);
    const int y[4] = {0, 2, 1, 2};
    uint64_t before = 0;
    for (int step = 0; step < 5; step++) {
        if (step == 2) before = mmc_alloc_count(); /* two warm-up steps, then count */
        mmc_optim_zero_grad(opt);
        /* the batch is copied into the arena each step, as a data loader would */
        mmc_tensor *xb = mmc_tensor_from(ctx, 4, (int[]){4, 3, 8, 8}, x);
        mmc_tensor *loss = mmc_cross_entropy(ctx, tiny_model_forward(ctx, &m, xb), y, -100, 0.0f);
        REQUIRE(loss, "step %d: %s", step, ctx->err.msg);
        REQUIRE(mmc_backward(ctx, loss) == MMC_OK, "step %d backward: %s", step, ctx->err.msg);
        mmc_clip_grad_norm(m.t, m.nparams, 1.0f);
        mmc_optim_step(opt);
        mmc_ctx_reset(ctx);
    }
    uint64_t n = mmc_alloc_count() - before;
    CHECK(n == 0, "3 warm training steps made %llu mmc allocations (want 0)", (unsigned long long)n);
    mmc_ctx_free(ctx);
    mmc_optim_free(opt);
    tiny_model_free(&m);
}

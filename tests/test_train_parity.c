/* test_train_parity.c — a few optimizer steps of the tiny MLP and CNN (tests/tiny_models.c)
 * against the same steps in PyTorch (tools/fixtures/train.py): same initial weights, same
 * data. Checks every step's loss, the clipped norms, and the final parameters and BN
 * running statistics. Everything between forward and optimizer has to agree for this to
 * pass, so it is the end-to-end check of the training path. */
#include "test.h"
#include "tiny_models.h"
#include <stdlib.h>

typedef mmc_optim *(*make_fn)(tiny_model *m, mmc_error *err);

/* Per-value relative error, as asked of the losses (they are all of order 1). */
static void check_rel(const char *what, int step, float got, float want, double tol) {
    double rel = fabs((double)got - want) / fmax(fabs((double)want), 1e-12);
    CHECK(rel <= tol, "%s step %d: got %.7g, want %.7g (relative error %.3g > %.3g)", what, step,
          got, want, rel, tol);
}

static void replay(const char *fixture, int kind, make_fn make, float clip) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, fixture)) return;
    mmc_error err = {0};
    tiny_model m;
    REQUIRE(tiny_model_load(&m, kind, &st, &err) == MMC_OK, "%s: %s", fixture, err.msg);
    mmc_tensor *x = test_fixture_get(&st, "x"), *losses = test_fixture_get(&st, "losses");
    mmc_tensor *norms = clip > 0 ? test_fixture_get(&st, "norms") : NULL;
    int64_t ny = 0;
    int *y = test_fixture_ints(&st, "y", &ny);
    REQUIRE(x && losses && y && (clip <= 0 || norms), "%s: incomplete", fixture);
    mmc_optim *opt = make(&m, &err);
    REQUIRE(opt, "%s: %s", fixture, err.msg);
    mmc_ctx *ctx = mmc_ctx_new();
    for (int k = 0; k < losses->numel; k++) {
        mmc_optim_zero_grad(opt);
        mmc_tensor *loss = mmc_cross_entropy(ctx, tiny_model_forward(ctx, &m, x), y, -100, 0.0f);
        REQUIRE(loss, "%s step %d forward: %s", fixture, k, ctx->err.msg);
        REQUIRE(mmc_backward(ctx, loss) == MMC_OK, "%s step %d backward: %s", fixture, k, ctx->err.msg);
        check_rel(fixture, k, loss->data[0], losses->data[k], 1e-4);
        if (clip > 0) check_rel("clip norm", k, mmc_clip_grad_norm(m.t, m.nparams, clip), norms->data[k], 1e-4);
        mmc_optim_step(opt);
        mmc_ctx_reset(ctx);
    }
    for (int i = 0; i < m.n; i++) {
        char name[128];
        snprintf(name, sizeof name, "final.%s", m.t[i]->name);
        mmc_tensor *want = test_fixture_get(&st, name);
        if (!want) continue;
        CHECK(want->numel == m.t[i]->numel, "%s: %s size", fixture, name);
        if (want->numel == m.t[i]->numel) test_close(name, m.t[i]->data, want->data, want->numel, 1e-4);
        mmc_tensor_free(want);
    }
    mmc_ctx_free(ctx);
    mmc_optim_free(opt);
    tiny_model_free(&m);
    mmc_tensor_free(x);
    mmc_tensor_free(losses);
    mmc_tensor_free(norms);
    free(y);
    mmc_safetensors_close(&st);
}

static mmc_optim *sgd_momentum(tiny_model *m, mmc_error *e) {
    mmc_sgd_opts o = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-3f};
    return mmc_optim_sgd(m->t, m->nparams, o, e);
}
static mmc_optim *adam(tiny_model *m, mmc_error *e) {
    mmc_adam_opts o = mmc_adam_defaults(1e-2f);
    o.weight_decay = 1e-3f;
    return mmc_optim_adam(m->t, m->nparams, o, e);
}
static mmc_optim *adamw(tiny_model *m, mmc_error *e) {
    return mmc_optim_adamw(m->t, m->nparams, mmc_adamw_defaults(1e-2f), e);
}

TEST(train_mlp_parity_sgd) { replay("train_mlp_sgd", TINY_MLP, sgd_momentum, 0); }
TEST(train_mlp_parity_adam_clip) { replay("train_mlp_adam_clip", TINY_MLP, adam, 0.5f); }
TEST(train_cnn_parity_adamw) { replay("train_cnn_adamw", TINY_CNN, adamw, 0); }

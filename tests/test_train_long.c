/* test_train_long.c — learning-rate schedules against torch's schedulers, and ten steps of
 * training with parameter groups (no weight decay for biases and norm weights), global
 * norm clipping and a schedule, against the same ten steps in PyTorch
 * (tools/fixtures/train10.py). */
#include "test.h"
#include "tiny_models.h"
#include <stdlib.h>

/* ---------------------------------------------------------------- schedules */

static void check_schedule(const char *fixture, mmc_schedule s) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, fixture)) return;
    mmc_error err = {0};
    CHECK(mmc_schedule_check(&s, &err) == MMC_OK, "%s: %s", fixture, err.msg);
    mmc_tensor *want = test_fixture_get(&st, "lr");
    if (want) {
        for (int64_t k = 0; k < want->numel; k++) {
            float got = mmc_schedule_lr(&s, k);
            double rel = fabs((double)got - want->data[k]) / fmax(fabs((double)want->data[k]), 1e-12);
            CHECK(rel <= 1e-6, "%s step %lld: lr %.9g, torch %.9g", fixture, (long long)k, got, want->data[k]);
        }
    }
    mmc_tensor_free(want);
    mmc_safetensors_close(&st);
}

static mmc_schedule warmed(mmc_schedule s, int64_t w, float f) {
    s.warmup_steps = w;
    s.warmup_start_factor = f;
    return s;
}

TEST(schedule_constant_step_cosine_match_torch) {
    check_schedule("sched_constant", mmc_schedule_constant(0.5f));
    check_schedule("sched_step", mmc_schedule_step(0.5f, 7, 0.5f));
    check_schedule("sched_cosine", mmc_schedule_cosine(0.5f, 20, 1e-3f));
}

TEST(schedule_warmup_matches_torch) {
    check_schedule("sched_warmup_cosine", warmed(mmc_schedule_cosine(0.5f, 15, 0.01f), 5, 0.1f));
    check_schedule("sched_warmup_step", warmed(mmc_schedule_step(0.5f, 4, 0.3f), 6, 0.25f));
    check_schedule("sched_warmup_constant", warmed(mmc_schedule_constant(0.5f), 8, 0.2f));
}

TEST(schedule_check_refuses_bad_fields) {
    mmc_error err = {0};
    mmc_schedule s = mmc_schedule_step(0.1f, 0, 0.5f);
    CHECK(mmc_schedule_check(&s, &err) == MMC_ERR_USAGE && strstr(err.msg, "step_size"), "step_size 0: %s", err.msg);
    s = mmc_schedule_cosine(0.1f, 0, 0);
    CHECK(mmc_schedule_check(&s, &err) == MMC_ERR_USAGE && strstr(err.msg, "total_steps"), "T 0: %s", err.msg);
    s = warmed(mmc_schedule_constant(0.1f), 3, 1.5f);
    CHECK(mmc_schedule_check(&s, &err) == MMC_ERR_USAGE && strstr(err.msg, "warmup"), "factor: %s", err.msg);
    s = mmc_schedule_constant(NAN);
    CHECK(mmc_schedule_check(&s, &err) == MMC_ERR_USAGE, "NaN lr accepted");
    s.kind = 42;
    s.base_lr = 0.1f;
    CHECK(mmc_schedule_check(&s, &err) == MMC_ERR_USAGE, "unknown kind accepted");
    /* a negative step is the first step, not an extrapolation */
    s = warmed(mmc_schedule_constant(1.0f), 4, 0.5f);
    CHECK(mmc_schedule_lr(&s, -3) == 0.5f, "step -3: %g", mmc_schedule_lr(&s, -3));
}

/* ------------------------------------------------------- ten training steps */

typedef mmc_optim *(*make_fn)(tiny_model *m, mmc_error *err);

static void check_rel(const char *what, int step, float got, float want, double tol) {
    double rel = fabs((double)got - want) / fmax(fabs((double)want), 1e-12);
    CHECK(rel <= tol, "%s step %d: got %.7g, want %.7g (relative error %.3g > %.3g)", what, step, got, want, rel, tol);
}

/* Compares the final parameters and buffers with the fixture's final.<name>. */
static void check_final(const char *fixture, const mmc_safetensors *st, tiny_model *m) {
    for (int i = 0; i < m->n; i++) {
        char name[128];
        snprintf(name, sizeof name, "final.%s", m->t[i]->name);
        mmc_tensor *want = test_fixture_get(st, name);
        if (!want) continue;
        CHECK(want->numel == m->t[i]->numel, "%s: %s size", fixture, name);
        if (want->numel == m->t[i]->numel) test_close(name, m->t[i]->data, want->data, want->numel, 1e-4);
        mmc_tensor_free(want);
    }
}

/* The training loop of train10.py: zero_grad, forward, backward, clip, step (with the
 * schedule's lr), checking each step's loss, norm and lr on the way. */
static void replay10(const char *fixture, int kind, make_fn make, mmc_schedule sched, float clip) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, fixture)) return;
    mmc_error err = {0};
    tiny_model m;
    REQUIRE(tiny_model_load(&m, kind, &st, &err) == MMC_OK, "%s: %s", fixture, err.msg);
    mmc_tensor *x = test_fixture_get(&st, "x"), *losses = test_fixture_get(&st, "losses");
    mmc_tensor *norms = test_fixture_get(&st, "norms"), *lrs = test_fixture_get(&st, "lrs");
    int64_t ny = 0;
    int *y = test_fixture_ints(&st, "y", &ny);
    mmc_optim *opt = make(&m, &err);
    REQUIRE(x && losses && norms && lrs && y && opt, "%s: incomplete fixture or optimizer: %s", fixture, err.msg);
    CHECK(losses->numel == 10, "%s: %lld steps, want 10", fixture, (long long)losses->numel);
    /* torch's groups: decay for weights of 2+ dims, none for biases and norm weights */
    uint8_t no_decay[TINY_MAX] = {0};
    for (int i = 0; i < m.nparams; i++) no_decay[i] = m.t[i]->ndim <= 1;
    mmc_optim_set_decay_mask(opt, no_decay);
    mmc_ctx *ctx = mmc_ctx_new();
    for (int k = 0; k < losses->numel; k++) {
        mmc_optim_zero_grad(opt);
        mmc_tensor *loss = mmc_cross_entropy(ctx, tiny_model_forward(ctx, &m, x), y, -100, 0.0f);
        REQUIRE(loss && mmc_backward(ctx, loss) == MMC_OK, "%s step %d: %s", fixture, k, ctx->err.msg);
        check_rel("loss", k, loss->data[0], losses->data[k], 1e-4);
        check_rel("clip norm", k, mmc_clip_grad_norm(m.t, m.nparams, clip), norms->data[k], 1e-4);
        mmc_optim_set_lr(opt, mmc_schedule_lr(&sched, k));
        check_rel("lr", k, mmc_optim_get_lr(opt), lrs->data[k], 1e-6);
        mmc_optim_step(opt);
        mmc_ctx_reset(ctx);
    }
    check_final(fixture, &st, &m);
    mmc_ctx_free(ctx);
    mmc_optim_free(opt);
    tiny_model_free(&m);
    mmc_tensor_free(x);
    mmc_tensor_free(losses);
    mmc_tensor_free(norms);
    mmc_tensor_free(lrs);
    free(y);
    mmc_safetensors_close(&st);
}

static mmc_optim *sgd(tiny_model *m, mmc_error *e) {
    mmc_sgd_opts o = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-2f};
    return mmc_optim_sgd(m->t, m->nparams, o, e);
}
static mmc_optim *adam(tiny_model *m, mmc_error *e) {
    mmc_adam_opts o = mmc_adam_defaults(2e-2f);
    o.weight_decay = 1e-2f;
    return mmc_optim_adam(m->t, m->nparams, o, e);
}
static mmc_optim *adamw(tiny_model *m, mmc_error *e) {
    mmc_adam_opts o = mmc_adamw_defaults(2e-2f);
    o.weight_decay = 0.1f;
    return mmc_optim_adamw(m->t, m->nparams, o, e);
}

TEST(train_sgd_clip_cosine_10_steps) {
    replay10("train10_sgd_clip_cosine", TINY_MLP, sgd, mmc_schedule_cosine(0.1f, 10, 0.01f), 0.5f);
}
TEST(train_adam_clip_cosine_10_steps) {
    replay10("train10_adam_clip_cosine", TINY_MLP, adam, mmc_schedule_cosine(2e-2f, 10, 1e-3f), 0.5f);
}
TEST(train_adamw_clip_warmup_cosine_10_steps) {
    replay10("train10_adamw_clip_warmup_cosine", TINY_CNN, adamw,
             warmed(mmc_schedule_cosine(2e-2f, 7, 1e-3f), 3, 0.2f), 0.3f);
}

/* The mask from a registry matches by tensor, so buffers between parameters do not shift
 * it; a parameter the registry does not hold keeps its decay. */
TEST(optim_no_decay_from_params) {
    mmc_params P = {0};
    mmc_error err = {0};
    int s2[2] = {2, 2}, s1[1] = {2};
    mmc_tensor *w = mmc_params_new(&P, "fc", "weight", MMC_PARAM, 2, s2, &err);
    mmc_params_new(&P, "bn", "running_mean", MMC_BUFFER, 1, s1, &err);
    mmc_tensor *b = mmc_params_new(&P, "fc", "bias", MMC_PARAM, 1, s1, &err);
    mmc_tensor *other = mmc_tensor_new(1, s1);
    REQUIRE(w && b && other, "setup: %s", err.msg);
    mmc_tensor *ps[3] = {w, b, other};
    mmc_adam_opts o = mmc_adamw_defaults(0.1f);
    o.weight_decay = 0.5f;
    mmc_optim *opt = mmc_optim_adamw(ps, 3, o, &err);
    REQUIRE(opt, "%s", err.msg);
    mmc_optim_no_decay_from_params(opt, &P);
    for (int i = 0; i < 3; i++) {
        mmc_init_constant(ps[i], 1.0f);
        mmc_tensor_grad(NULL, ps[i]); /* zero gradient: only the decay moves p */
    }
    mmc_optim_step(opt);
    /* decoupled decay multiplies by 1 - lr * wd = 0.95; the zero-grad Adam step adds 0 */
    CHECK(w->data[0] == 0.95f, "weight decayed to %g, want 0.95", w->data[0]);
    CHECK(b->data[0] == 1.0f, "bias (no_decay) moved to %g", b->data[0]);
    CHECK(other->data[0] == 0.95f, "unregistered tensor moved to %g, want 0.95", other->data[0]);
    mmc_optim_free(opt);
    mmc_tensor_free(other);
    mmc_params_free(&P);
}

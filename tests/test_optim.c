/* test_optim.c — SGD, Adam, AdamW and gradient clipping against torch.optim on hand-set
 * tensors (fixtures from tools/fixtures/optim.py), plus option validation. */
#include "test.h"
#include <stdlib.h>

#define NP 3
#define STEPS 4

typedef mmc_optim *(*make_fn)(mmc_tensor *const *ps, mmc_error *err);

/* Replays a fixture: feeds the recorded gradients (p2 has none at step 0) and compares
 * every parameter after every step. The optimizer does the same f32 arithmetic as
 * torch's, so the tolerance is tight. */
static void replay(const char *fixture, make_fn make) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, fixture)) return;
    mmc_tensor *p[NP];
    char name[64];
    for (int i = 0; i < NP; i++) {
        snprintf(name, sizeof name, "p%d", i);
        p[i] = test_fixture_get(&st, name);
        REQUIRE(p[i], "%s: missing %s", fixture, name);
    }
    mmc_error err = {0};
    mmc_optim *opt = make(p, &err);
    REQUIRE(opt, "%s: %s", fixture, err.msg);
    mmc_ctx *ctx = mmc_ctx_new();
    for (int k = 0; k < STEPS; k++) {
        for (int i = 0; i < NP; i++) {
            snprintf(name, sizeof name, "g%d_%d", k, i);
            if (!mmc_safetensors_find(&st, name)) {
                REQUIRE(!p[i]->grad, "%s: %s has no gradient in the fixture", fixture, name);
                continue;
            }
            mmc_tensor *g = test_fixture_get(&st, name);
            REQUIRE(g && g->numel == p[i]->numel, "%s: bad %s", fixture, name);
            memcpy(mmc_tensor_grad(ctx, p[i]), g->data, sizeof(float) * (size_t)g->numel);
            mmc_tensor_free(g);
        }
        mmc_optim_step(opt);
        for (int i = 0; i < NP; i++) {
            snprintf(name, sizeof name, "after%d_%d", k, i);
            mmc_tensor *want = test_fixture_get(&st, name);
            REQUIRE(want, "%s: missing %s", fixture, name);
            char what[128];
            snprintf(what, sizeof what, "%s step %d param %d", fixture, k, i);
            test_close(what, p[i]->data, want->data, want->numel, 1e-6);
            mmc_tensor_free(want);
        }
    }
    CHECK(mmc_optim_get_steps(opt, 0) == STEPS && mmc_optim_get_steps(opt, 2) == STEPS - 1,
          "%s: step counts %lld, %lld", fixture, (long long)mmc_optim_get_steps(opt, 0),
          (long long)mmc_optim_get_steps(opt, 2));
    mmc_ctx_free(ctx);
    mmc_optim_free(opt);
    for (int i = 0; i < NP; i++) mmc_tensor_free(p[i]);
    mmc_safetensors_close(&st);
}

static mmc_optim *sgd_plain(mmc_tensor *const *ps, mmc_error *e) {
    return mmc_optim_sgd(ps, NP, mmc_sgd_defaults(0.1f), e);
}
static mmc_optim *sgd_momentum(mmc_tensor *const *ps, mmc_error *e) {
    mmc_sgd_opts o = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f};
    return mmc_optim_sgd(ps, NP, o, e);
}
static mmc_optim *sgd_dampening(mmc_tensor *const *ps, mmc_error *e) {
    mmc_sgd_opts o = {.lr = 0.05f, .momentum = 0.9f, .dampening = 0.3f};
    return mmc_optim_sgd(ps, NP, o, e);
}
static mmc_optim *sgd_nesterov(mmc_tensor *const *ps, mmc_error *e) {
    mmc_sgd_opts o = {.lr = 0.05f, .momentum = 0.8f, .nesterov = 1, .weight_decay = 0.001f};
    return mmc_optim_sgd(ps, NP, o, e);
}
static mmc_optim *adam(mmc_tensor *const *ps, mmc_error *e) {
    return mmc_optim_adam(ps, NP, mmc_adam_defaults(1e-2f), e);
}
static mmc_optim *adam_wd(mmc_tensor *const *ps, mmc_error *e) {
    mmc_adam_opts o = {.lr = 3e-2f, .beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f, .weight_decay = 0.1f};
    return mmc_optim_adam(ps, NP, o, e);
}
static mmc_optim *adamw(mmc_tensor *const *ps, mmc_error *e) {
    return mmc_optim_adamw(ps, NP, mmc_adamw_defaults(1e-2f), e);
}
static mmc_optim *adamw_wd(mmc_tensor *const *ps, mmc_error *e) {
    mmc_adam_opts o = {.lr = 3e-2f, .beta1 = 0.85f, .beta2 = 0.995f, .eps = 1e-7f, .weight_decay = 0.2f};
    return mmc_optim_adamw(ps, NP, o, e);
}

TEST(optim_sgd_parity) {
    replay("optim_sgd_plain", sgd_plain);
    replay("optim_sgd_momentum", sgd_momentum);
    replay("optim_sgd_dampening", sgd_dampening);
    replay("optim_sgd_nesterov", sgd_nesterov);
}

TEST(optim_adam_parity) {
    replay("optim_adam", adam);
    replay("optim_adam_wd", adam_wd);
}

TEST(optim_adamw_parity) {
    replay("optim_adamw", adamw);
    replay("optim_adamw_wd", adamw_wd);
}

TEST(clip_grad_norm) {
    mmc_safetensors st;
    if (!test_fixture_open(&st, "optim_clip")) return;
    mmc_tensor *g0 = test_fixture_get(&st, "g0"), *g1 = test_fixture_get(&st, "g1");
    REQUIRE(g0 && g1, "optim_clip incomplete");
    const char *tags[] = {"clip", "noclip"};
    const float max_norm[] = {1.0f, 100.0f};
    for (int c = 0; c < 2; c++) {
        mmc_tensor *p[NP] = {mmc_tensor_new(g0->ndim, g0->shape), mmc_tensor_new(g1->ndim, g1->shape),
                             mmc_tensor_new(2, (int[]){2, 3})};
        mmc_ctx *ctx = mmc_ctx_new();
        memcpy(mmc_tensor_grad(ctx, p[0]), g0->data, sizeof(float) * (size_t)g0->numel);
        memcpy(mmc_tensor_grad(ctx, p[1]), g1->data, sizeof(float) * (size_t)g1->numel);
        float total = mmc_clip_grad_norm(p, NP, max_norm[c]); /* p[2] has no grad: skipped */
        char name[64];
        snprintf(name, sizeof name, "%s_total", tags[c]);
        mmc_tensor *want_total = test_fixture_get(&st, name);
        snprintf(name, sizeof name, "%s_g0", tags[c]);
        mmc_tensor *w0 = test_fixture_get(&st, name);
        snprintf(name, sizeof name, "%s_g1", tags[c]);
        mmc_tensor *w1 = test_fixture_get(&st, name);
        REQUIRE(want_total && w0 && w1, "optim_clip: missing %s tensors", tags[c]);
        test_close(tags[c], &total, want_total->data, 1, 1e-6);
        test_close("clipped grad 0", p[0]->grad, w0->data, w0->numel, 1e-6);
        test_close("clipped grad 1", p[1]->grad, w1->data, w1->numel, 1e-6);
        CHECK(p[2]->grad == NULL, "clip gave a gradient to a parameter without one");
        mmc_tensor_free(want_total); mmc_tensor_free(w0); mmc_tensor_free(w1);
        for (int i = 0; i < NP; i++) mmc_tensor_free(p[i]);
        mmc_ctx_free(ctx);
    }
    CHECK(mmc_clip_grad_norm(NULL, 0, 1.0f) == 0.0f, "empty list: norm should be 0");
    mmc_tensor_free(g0);
    mmc_tensor_free(g1);
    mmc_safetensors_close(&st);
}

/* Bad options and parameter lists are reported, not crashed on. */
TEST(optim_bad_options) {
    mmc_tensor *p = mmc_tensor_new(1, (int[]){4});
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *arena = mmc_tensor_1d(ctx, 4);
    mmc_error err = {0};
    mmc_sgd_opts s = mmc_sgd_defaults(-1.0f);
    CHECK(!mmc_optim_sgd(&p, 1, s, &err) && strstr(err.msg, "lr"), "negative lr: %s", err.msg);
    s = (mmc_sgd_opts){.lr = 0.1f, .nesterov = 1};
    CHECK(!mmc_optim_sgd(&p, 1, s, &err) && strstr(err.msg, "nesterov"), "nesterov without momentum: %s", err.msg);
    mmc_adam_opts a = mmc_adam_defaults(1e-3f);
    a.beta2 = 1.0f;
    CHECK(!mmc_optim_adam(&p, 1, a, &err) && strstr(err.msg, "betas"), "beta2 = 1: %s", err.msg);
    CHECK(!mmc_optim_adamw(&arena, 1, mmc_adamw_defaults(1e-3f), &err) && strstr(err.msg, "persistent"),
          "arena parameter: %s", err.msg);
    CHECK(!mmc_optim_adamw((mmc_tensor *[]){p, p}, 2, mmc_adamw_defaults(1e-3f), &err) &&
              strstr(err.msg, "twice"), "duplicate parameter: %s", err.msg);
    CHECK(!mmc_optim_sgd((mmc_tensor *[]){p, NULL}, 2, mmc_sgd_defaults(0.1f), &err) &&
              strstr(err.msg, "NULL"), "NULL parameter: %s", err.msg);
    mmc_optim *opt = mmc_optim_sgd(&p, 1, mmc_sgd_defaults(0.1f), &err);
    REQUIRE(opt, "valid sgd: %s", err.msg);
    CHECK(mmc_optim_state(opt, 0, 0) == NULL, "plain SGD has no momentum buffer");
    mmc_optim_set_lr(opt, 0.5f);
    CHECK(mmc_optim_get_lr(opt) == 0.5f, "set_lr");
    mmc_optim_step(opt); /* no grad anywhere: nothing moves */
    CHECK(mmc_optim_get_steps(opt, 0) == 0 && p->data[0] == 0.0f, "step without grads moved something");
    mmc_optim_free(opt);
    mmc_ctx_free(ctx);
    mmc_tensor_free(p);
}

/* Large parameters are updated by an OpenMP loop, small ones serially: the same numbers
 * split into two halves below the threshold must come out bit-identical. */
TEST(optim_parallel_path) {
    enum { N = 40000, H = N / 2 }; /* N above MMC_OPTIM_PARALLEL_MIN, H below */
    for (int kind = 0; kind < 3; kind++) {
        mmc_tensor *big = test_randn(1, (int[]){N}, 1, 1.0f);
        mmc_tensor *half[2] = {mmc_tensor_new(1, (int[]){H}), mmc_tensor_new(1, (int[]){H})};
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_rng rng;
        mmc_rng_seed(&rng, 2, 2);
        float *gb = mmc_tensor_grad(ctx, big), *gh[2] = {mmc_tensor_grad(ctx, half[0]), mmc_tensor_grad(ctx, half[1])};
        for (int h = 0; h < 2; h++) memcpy(half[h]->data, big->data + h * H, sizeof(float) * H);
        mmc_error err = {0};
        mmc_sgd_opts so = {.lr = 0.1f, .momentum = 0.9f, .nesterov = 1, .weight_decay = 0.01f};
        mmc_adam_opts ao = mmc_adamw_defaults(1e-2f);
        mmc_optim *a = kind == 0 ? mmc_optim_sgd(&big, 1, so, &err)
                     : kind == 1 ? mmc_optim_adam(&big, 1, ao, &err) : mmc_optim_adamw(&big, 1, ao, &err);
        mmc_optim *b = kind == 0 ? mmc_optim_sgd(half, 2, so, &err)
                     : kind == 1 ? mmc_optim_adam(half, 2, ao, &err) : mmc_optim_adamw(half, 2, ao, &err);
        REQUIRE(a && b, "%s", err.msg);
        for (int step = 0; step < 3; step++) {
            mmc_rng_fill_normal(&rng, gb, N, 0.0f, 1.0f);
            for (int h = 0; h < 2; h++) memcpy(gh[h], gb + h * H, sizeof(float) * H);
            float na = mmc_clip_grad_norm(&big, 1, 50.0f), nb = mmc_clip_grad_norm(half, 2, 50.0f);
            CHECK(fabsf(na - nb) <= 1e-6f * na, "kind %d: clip norms %g vs %g", kind, na, nb);
            mmc_optim_step(a);
            mmc_optim_step(b);
        }
        for (int h = 0; h < 2; h++)
            CHECK(!memcmp(big->data + h * H, half[h]->data, sizeof(float) * H),
                  "kind %d: parallel and serial updates differ (half %d)", kind, h);
        mmc_optim_free(a);
        mmc_optim_free(b);
        mmc_ctx_free(ctx);
        mmc_tensor_free(big);
        mmc_tensor_free(half[0]);
        mmc_tensor_free(half[1]);
    }
}

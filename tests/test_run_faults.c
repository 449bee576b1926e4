/* test_run_faults.c — mmc_run_load (src/io/run.c) refuses a checkpoint whose weights or
 * optimizer moments hold NaN or Inf, naming the file and the tensor, and leaves the
 * caller's model and optimizer as they were: a resumed run must not start from poisoned
 * state and show it only later as a "diverged" loss. (The retrieval trainer's own loader
 * is checked at the CLI by tests/bad-input.) */
#include "test.h"
#include <stdlib.h>
#include <unistd.h>

typedef struct small_run {
    mmc_params P;
    mmc_tensor *w;
    mmc_optim *opt;
    mmc_trainer_state ts;
} small_run;

static int small_init(small_run *r, float fill, mmc_error *err) {
    memset(r, 0, sizeof *r);
    r->w = mmc_params_new(&r->P, NULL, "w", MMC_PARAM, 2, (const int[]){3, 4}, err);
    if (!r->w) return err->code;
    for (int i = 0; i < 12; i++) r->w->data[i] = fill + 0.25f * (float)i;
    mmc_tensor *ws[1] = {r->w};
    r->opt = mmc_optim_adamw(ws, 1, mmc_adamw_defaults(1e-3f), err);
    if (!r->opt) return err->code;
    r->ts = mmc_trainer_state_init(5);
    r->ts.step = 7;
    return MMC_OK;
}

static void small_free(small_run *r) {
    mmc_optim_free(r->opt);
    mmc_params_free(&r->P);
}

/* saves `bad` into dir, loads it into a fresh run: refused naming file, fresh run unchanged */
static void expect_refused(const char *dir, small_run *bad, const char *file, const char *what) {
    mmc_error err = {0};
    REQUIRE(mmc_run_save(dir, &bad->P, bad->opt, &bad->ts, NULL, &err) == MMC_OK, "%s: save: %s", what, err.msg);
    small_run u;
    REQUIRE(small_init(&u, 100.0f, &err) == MMC_OK, "init: %s", err.msg);
    float m0 = mmc_optim_state(u.opt, 0, 0)->data[0];
    int rc = mmc_run_load(dir, &u.P, u.opt, &u.ts, &err);
    CHECK(rc == MMC_ERR_INPUT && strstr(err.msg, file) && strstr(err.msg, "non-finite"), "%s: rc %d: %s", what, rc,
          err.msg);
    CHECK(u.w->data[0] == 100.0f && mmc_optim_state(u.opt, 0, 0)->data[0] == m0 && u.ts.step == 7,
          "%s: a refused load changed the caller's state", what);
    small_free(&u);
}

TEST(run_load_refuses_nonfinite) {
    char dir[] = "/tmp/mmc_runfault_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    mmc_error err = {0};
    small_run r;
    REQUIRE(small_init(&r, 1.0f, &err) == MMC_OK, "init: %s", err.msg);
    /* the clean checkpoint loads (so the refusals below are for the values) */
    REQUIRE(mmc_run_save(dir, &r.P, r.opt, &r.ts, NULL, &err) == MMC_OK, "save: %s", err.msg);
    small_run u;
    REQUIRE(small_init(&u, 100.0f, &err) == MMC_OK, "init: %s", err.msg);
    CHECK(mmc_run_load(dir, &u.P, u.opt, &u.ts, &err) == MMC_OK && u.w->data[1] == 1.25f, "clean load: %s", err.msg);
    small_free(&u);

    r.w->data[5] = NAN;
    expect_refused(dir, &r, "model.safetensors", "NaN weight");
    r.w->data[5] = INFINITY;
    expect_refused(dir, &r, "model.safetensors", "Inf weight");
    r.w->data[5] = 1.0f;
    mmc_optim_state(r.opt, 0, 0)->data[2] = -INFINITY;
    expect_refused(dir, &r, "optimizer.safetensors", "-Inf first moment");
    mmc_optim_state(r.opt, 0, 0)->data[2] = 0.0f;
    mmc_optim_state(r.opt, 0, 1)->data[11] = NAN;
    expect_refused(dir, &r, "optimizer.safetensors", "NaN second moment");
    small_free(&r);
    const char *names[] = {"model.safetensors", "optimizer.safetensors", "trainer.json", NULL};
    char p[128];
    for (int i = 0; names[i]; i++) snprintf(p, sizeof p, "%s/%s", dir, names[i]), unlink(p);
    rmdir(dir);
}

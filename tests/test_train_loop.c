/* test_train_loop.c — the one training loop (src/models/train_loop.c) against run folders
 * written before it existed (tests/fixtures/legacy-runs, made by the code of 18f0fc4; its
 * README says how): resuming each with today's code continues exactly as the old code's
 * uninterrupted run did. That pins the older layouts' readers (retrieval's own
 * trainer.json and optimizer names; caption's and VQA's run fields in config.json) and that
 * moving the trainers onto the loop changed no step of training. */
#include "test.h"
#include "../src/models/train_loop.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy_tree(const char *from, const char *to) {
    char cmd[2600];
    if (strchr(from, '\'') || strchr(to, '\'')) return 0;
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", from, to);
    return system(cmd) == 0;
}

typedef int (*resume_fn)(const mmc_retrieval_train_opts *o, mmc_error *err);
static int resume_retrieval(const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_retrieval_train(NULL, o, err); }
static int resume_caption(const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_caption_train(NULL, o, err); }
static int resume_vqa(const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_vqa_train(NULL, o, err); }

static void legacy_case(const char *name, resume_fn resume) {
    char dir[64], src[1024], run[256], want[1100], got[300], why[256];
    snprintf(dir, sizeof dir, "/tmp/mmc-legacy-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(src, sizeof src, "%s", test_path("tests/fixtures/legacy-runs"));
    char from[1100];
    snprintf(from, sizeof from, "%s/%s-cut", src, name);
    snprintf(run, sizeof run, "%s/%s", dir, name);
    REQUIRE(copy_tree(from, run), "cannot copy %s", from);
    char data[1100];
    snprintf(data, sizeof data, "%s/data", src);
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data, o.run_dir = run, o.steps = 6, o.seed = 3, o.resume = 1;
    mmc_error err = {0};
    int prev = mmc_get_threads();
    mmc_set_threads(1); /* the old runs were made with one thread */
    int rc = resume(&o, &err);
    mmc_set_threads(prev);
    CHECK(rc == MMC_OK, "%s: resume: %s", name, err.msg);
    snprintf(want, sizeof want, "%.1000s/%.8s-straight-model.safetensors", src, name);
    snprintf(got, sizeof got, "%s/model.safetensors", run);
    if (rc == MMC_OK) CHECK(test_same_tensors_file(want, got, why, sizeof why), "%s: %s", name, why);
    /* the next checkpoint is in the loop's layout: trainer.json with the run's fields */
    mmc_trainer_state ts;
    CHECK(mmc_run_read_trainer(run, &ts, &err) == MMC_OK && ts.step == 6 && ts.has_run && ts.seed == 3 && ts.n_train == 16,
          "%s: trainer.json after resume: %s", name, err.msg);
    test_rm_tmpdir(dir);
}

TEST(legacy_runs_resume_bit_exact) {
    legacy_case("ret", resume_retrieval);
    legacy_case("cap", resume_caption);
    legacy_case("vqa", resume_vqa);
}

/* The schedule on its two axes: a step-bound warm-up + cosine, and a --minutes run whose
 * cosine runs over training time (milliseconds) to lr·min_lr_ratio at the end. */
TEST(train_loop_lr_axes) {
    mmc_train_loop L;
    memset(&L, 0, sizeof L);
    L.spec.lr = 1e-3f, L.spec.min_lr_ratio = 0.1f, L.spec.warmup_steps = 10, L.total_steps = 110;
    L.ts.step = 0;
    CHECK(fabs(train_loop_lr(&L) - 1e-4) < 1e-9, "first warm-up step %g", train_loop_lr(&L));
    L.ts.step = 9;
    CHECK(fabs(train_loop_lr(&L) - 1e-3) < 1e-9, "last warm-up step %g", train_loop_lr(&L));
    L.ts.step = 60; /* half-way through the cosine: the mean of lr and min */
    CHECK(fabs(train_loop_lr(&L) - 0.55e-3) < 1e-8, "mid cosine %g", train_loop_lr(&L));
    L.ts.step = 110;
    CHECK(fabs(train_loop_lr(&L) - 1e-4) < 1e-9, "end %g", train_loop_lr(&L));
    L.ts.step = 500; /* past the end: stays at the floor (torch's cosine would climb back) */
    CHECK(fabs(train_loop_lr(&L) - 1e-4) < 1e-9, "past the end %g", train_loop_lr(&L));
    L.total_steps = 0, L.budget_s = 100; /* time-bound */
    L.ts.step = 1000, L.ts.train_seconds = 50;
    CHECK(fabs(train_loop_lr(&L) - 0.55e-3) < 1e-8, "half the time %g", train_loop_lr(&L));
    L.ts.train_seconds = 100;
    CHECK(fabs(train_loop_lr(&L) - 1e-4) < 1e-9, "all the time %g", train_loop_lr(&L));
    L.spec.warmup_steps = 0, L.spec.warmup_frac = 0.1f; /* VQA: warm-up over 10% of the axis, from 0.01 lr */
    L.ts.train_seconds = 0;
    CHECK(fabs(train_loop_lr(&L) - 1e-5) < 1e-10, "fraction warm-up start %g", train_loop_lr(&L));
    L.ts.train_seconds = 55; /* 10 s of warm-up, then half of the remaining 90 s */
    CHECK(fabs(train_loop_lr(&L) - 0.55e-3) < 1e-8, "fraction warm-up, mid cosine %g", train_loop_lr(&L));
}

/* test_run.c — run folders (src/io/run.c): a resumed run continues bit for bit, hostile
 * files are refused with the file named and nothing changed, and a failing save leaves
 * the previous checkpoint loadable.
 *
 * The run trains the tiny CNN (tests/tiny_models.c) held in an mmc_params registry, with
 * dropout on the logits (so the rng stream matters), AdamW with a no-decay group, a warmup
 * + cosine schedule and clipping, over a small data set visited in a per-epoch shuffled
 * order (so the data position matters). */
#include "test.h"
#include "tiny_models.h"
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_DATA 12
#define BATCH 4
#define IMG (3 * 8 * 8)

typedef struct trainer {
    mmc_params P;
    tiny_model m; /* t[] borrowed from P */
    mmc_optim *opt;
    mmc_schedule sched;
    mmc_trainer_state ts;
    mmc_ctx *ctx;
    float x[N_DATA * IMG];
    int y[N_DATA];
} trainer;

/* ------------------------------------------------------------------ helpers */

static void rmtree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rmtree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *tmpdir(char *buf) {
    strcpy(buf, "/tmp/mmc_run_XXXXXX");
    return mkdtemp(buf);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int exists(const char *dir, const char *name) {
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* --------------------------------------------------------------- the trainer */

/* model_seed picks the initial weights; a loaded run must not depend on them. */
static int trainer_init(trainer *T, uint64_t model_seed, mmc_error *err) {
    memset(T, 0, sizeof *T);
    tiny_model init;
    int rc = tiny_model_init(&init, TINY_CNN, model_seed, err);
    if (rc) return rc;
    T->m = init;
    for (int i = 0; i < init.n && !rc; i++) {
        int kind = i < init.nparams ? MMC_PARAM : MMC_BUFFER;
        T->m.t[i] = mmc_params_new(&T->P, NULL, init.t[i]->name, kind, init.t[i]->ndim, init.t[i]->shape, err);
        if (!T->m.t[i]) rc = err->code;
        else memcpy(T->m.t[i]->data, init.t[i]->data, sizeof(float) * (size_t)init.t[i]->numel);
    }
    tiny_model_free(&init);
    if (rc) return rc;
    mmc_adam_opts o = mmc_adamw_defaults(1e-2f);
    o.weight_decay = 0.05f;
    T->opt = mmc_optim_adamw(T->m.t, T->m.nparams, o, err);
    if (!T->opt) return err->code;
    mmc_optim_no_decay_from_params(T->opt, &T->P);
    T->sched = mmc_schedule_cosine(1e-2f, 17, 1e-4f);
    T->sched.warmup_steps = 3;
    T->sched.warmup_start_factor = 0.1f;
    T->ts = mmc_trainer_state_init(99);
    T->ctx = mmc_ctx_new();
    mmc_rng data;
    mmc_rng_seed(&data, 2024, 1);
    mmc_rng_fill_normal(&data, T->x, N_DATA * IMG, 0.0f, 1.0f);
    for (int i = 0; i < N_DATA; i++) T->y[i] = (int)mmc_rng_below(&data, 3);
    return MMC_OK;
}

static void trainer_free(trainer *T) {
    mmc_optim_free(T->opt);
    mmc_params_free(&T->P);
    mmc_ctx_free(T->ctx);
    memset(T, 0, sizeof *T);
}

/* One step on the next batch. The epoch's order comes from (data seed, epoch), so the
 * position (epoch, batch) alone says which samples are next; dropout draws from ts.rng. */
static int train_step(trainer *T) {
    mmc_rng order;
    int perm[N_DATA], y[BATCH];
    float xb[BATCH * IMG];
    mmc_rng_seed(&order, 555, (uint64_t)T->ts.epoch);
    mmc_rng_permutation(&order, perm, N_DATA);
    for (int j = 0; j < BATCH; j++) {
        int s = perm[T->ts.batch * BATCH + j];
        memcpy(xb + j * IMG, T->x + s * IMG, sizeof(float) * IMG);
        y[j] = T->y[s];
    }
    mmc_ctx *ctx = T->ctx;
    const int shape[4] = {BATCH, 3, 8, 8};
    mmc_optim_zero_grad(T->opt);
    mmc_tensor *logits = tiny_model_forward(ctx, &T->m, mmc_tensor_from(ctx, 4, shape, xb));
    mmc_tensor *loss = mmc_cross_entropy(ctx, mmc_dropout(ctx, logits, 0.3f, 1, &T->ts.rng), y, -100, 0.0f);
    if (!loss || mmc_backward(ctx, loss) != MMC_OK) return 0;
    mmc_clip_grad_norm(T->m.t, T->m.nparams, 0.5f);
    mmc_optim_set_lr(T->opt, mmc_schedule_lr(&T->sched, T->ts.schedule_step));
    mmc_optim_step(T->opt);
    mmc_ctx_reset(ctx);
    T->ts.step++;
    T->ts.schedule_step++;
    if (++T->ts.batch == N_DATA / BATCH) {
        T->ts.batch = 0;
        T->ts.epoch++;
    }
    return 1;
}

static int train(trainer *T, int steps) {
    for (int k = 0; k < steps; k++)
        if (!train_step(T)) return 0;
    return 1;
}

/* A trainer at step `steps`, saved into dir. */
static int saved_run(trainer *T, const char *dir, int steps, mmc_error *err) {
    int rc = trainer_init(T, 7, err);
    if (!rc && !train(T, steps)) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "training failed: %s", T->ctx->err.msg);
    if (!rc) rc = mmc_run_save(dir, &T->P, T->opt, &T->ts, "{\"model\": \"tiny_cnn\"}", err);
    return rc;
}

/* ------------------------------------------------------------ bit-exact resume */

static void check_identical(trainer *A, trainer *B) {
    for (int i = 0; i < A->P.n; i++)
        CHECK(!memcmp(A->P.tensors[i]->data, B->P.tensors[i]->data, sizeof(float) * (size_t)A->P.tensors[i]->numel),
              "tensor %s differs after the resume", A->P.names[i]);
    for (int i = 0; i < mmc_optim_count(A->opt); i++) {
        CHECK(mmc_optim_get_steps(A->opt, i) == mmc_optim_get_steps(B->opt, i), "step count of %d", i);
        for (int k = 0; k < mmc_optim_slots(A->opt); k++) {
            mmc_tensor *a = mmc_optim_state(A->opt, i, k), *b = mmc_optim_state(B->opt, i, k);
            CHECK(!memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel), "optimizer %s of %s differs",
                  mmc_optim_slot_name(A->opt, k), A->P.names[i]);
        }
    }
    CHECK(A->ts.rng.state == B->ts.rng.state && A->ts.rng.inc == B->ts.rng.inc, "rng differs");
    CHECK(A->ts.step == B->ts.step && A->ts.epoch == B->ts.epoch && A->ts.batch == B->ts.batch &&
              A->ts.schedule_step == B->ts.schedule_step,
          "position differs: step %lld/%lld epoch %lld/%lld batch %lld/%lld", (long long)A->ts.step,
          (long long)B->ts.step, (long long)A->ts.epoch, (long long)B->ts.epoch, (long long)A->ts.batch,
          (long long)B->ts.batch);
}

TEST(resume_bit_exact) {
    char dir[64];
    REQUIRE(tmpdir(dir), "mkdtemp");
    mmc_error err = {0};
    trainer *A = calloc(1, sizeof *A), *B = calloc(1, sizeof *B);
    REQUIRE(A && B, "oom");
    /* straight through */
    REQUIRE(trainer_init(A, 7, &err) == MMC_OK && train(A, 20), "run A: %s", err.msg);
    /* ten steps, checkpoint (mid-epoch: 10 = 3 epochs of 3 batches + 1), free everything */
    REQUIRE(trainer_init(B, 7, &err) == MMC_OK && train(B, 10), "run B: %s", err.msg);
    B->ts.best_metric = 0.8125;
    strcpy(B->ts.best_metric_name, "val_accuracy");
    REQUIRE(mmc_run_save(dir, &B->P, B->opt, &B->ts, "{\"model\": \"tiny_cnn\"}", &err) == MMC_OK, "save: %s", err.msg);
    trainer_free(B);
    /* fresh objects with other initial weights: everything must come from the folder */
    REQUIRE(trainer_init(B, 12345, &err) == MMC_OK, "init: %s", err.msg);
    REQUIRE(mmc_run_load(dir, &B->P, B->opt, &B->ts, &err) == MMC_OK, "load: %s", err.msg);
    CHECK(B->ts.step == 10 && B->ts.epoch == 3 && B->ts.batch == 1, "loaded position %lld/%lld/%lld",
          (long long)B->ts.step, (long long)B->ts.epoch, (long long)B->ts.batch);
    CHECK(B->ts.best_metric == 0.8125 && !strcmp(B->ts.best_metric_name, "val_accuracy"), "best metric %g %s",
          B->ts.best_metric, B->ts.best_metric_name);
    REQUIRE(train(B, 10), "run B resumed: %s", B->ctx->err.msg);
    check_identical(A, B);
    trainer_free(A);
    trainer_free(B);
    free(A);
    free(B);
    rmtree(dir);
}

/* ------------------------------------------------------------------ hostile */

/* Loads dir into a fresh trainer: expects MMC_ERR_INPUT naming `file`, and the trainer's
 * weights, optimizer steps and position untouched. */
static void expect_refused(const char *dir, const char *file, const char *what) {
    trainer *T = calloc(1, sizeof *T);
    mmc_error err = {0};
    if (!T || trainer_init(T, 3, &err)) {
        CHECK(0, "%s: init: %s", what, err.msg);
        free(T);
        return;
    }
    float w0 = T->m.t[0]->data[0];
    int rc = mmc_run_load(dir, &T->P, T->opt, &T->ts, &err);
    CHECK(rc == MMC_ERR_INPUT, "%s: load returned %d (%s), want MMC_ERR_INPUT", what, rc, err.msg);
    CHECK(strstr(err.msg, file) != NULL, "%s: message does not name %s: %s", what, file, err.msg);
    CHECK(T->m.t[0]->data[0] == w0 && T->ts.step == 0 && mmc_optim_get_steps(T->opt, 0) == 0,
          "%s: a refused load changed the objects", what);
    trainer_free(T);
    free(T);
}

static void trainer_json(const char *dir, const char *step, const char *state, const char *inc, const char *best) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"mmc_version\": \"0.1.0\", \"step\": %s, \"epoch\": 0, \"batch_in_epoch\": 2, \"schedule_step\": 2,"
             " \"rng\": {\"state\": %s, \"inc\": %s}, \"best_metric\": %s, \"best_metric_name\": \"\"}",
             step, state, inc, best);
    write_text(dir, "trainer.json", text);
}

static void truncate_file(const char *dir, const char *name, long keep) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK(truncate(p, keep) == 0, "truncate %s", p);
}

TEST(run_folder_hostile) {
    char dir[64];
    REQUIRE(tmpdir(dir), "mkdtemp");
    mmc_error err = {0};
    trainer *T = calloc(1, sizeof *T);
    REQUIRE(T && saved_run(T, dir, 2, &err) == MMC_OK, "save: %s", err.msg);
    /* a hand-written trainer.json that loads, so each case below breaks one thing */
    trainer_json(dir, "2", "\"12345678901234567890\"", "\"99\"", "null");
    trainer *U = calloc(1, sizeof *U);
    REQUIRE(U && trainer_init(U, 3, &err) == MMC_OK, "init: %s", err.msg);
    REQUIRE(mmc_run_load(dir, &U->P, U->opt, &U->ts, &err) == MMC_OK, "baseline load: %s", err.msg);
    CHECK(U->ts.rng.state == 12345678901234567890ULL, "rng state above 2^53 lost: %llu",
          (unsigned long long)U->ts.rng.state);
    trainer_free(U);
    free(U);

    write_text(dir, "trainer.json", "this is not JSON {");
    expect_refused(dir, "trainer.json", "garbage trainer.json");
    write_text(dir, "trainer.json", "[1, 2, 3]");
    expect_refused(dir, "trainer.json", "trainer.json array");
    trainer_json(dir, "\"2\"", "\"1\"", "\"99\"", "null");
    expect_refused(dir, "trainer.json", "step as a string");
    trainer_json(dir, "1e15", "\"1\"", "\"99\"", "null");
    expect_refused(dir, "trainer.json", "step beyond sane");
    trainer_json(dir, "-1", "\"1\"", "\"99\"", "null");
    expect_refused(dir, "trainer.json", "negative step");
    trainer_json(dir, "2.5", "\"1\"", "\"99\"", "null");
    expect_refused(dir, "trainer.json", "fractional step");
    trainer_json(dir, "2", "\"18446744073709551616\"", "\"99\"", "null");
    expect_refused(dir, "trainer.json", "rng state 2^64");
    trainer_json(dir, "2", "\"-5\"", "\"99\"", "null");
    expect_refused(dir, "trainer.json", "negative rng state");
    trainer_json(dir, "2", "12345", "\"99\"", "null");
    expect_refused(dir, "trainer.json", "rng state as a number");
    trainer_json(dir, "2", "\"1\"", "\"98\"", "null");
    expect_refused(dir, "trainer.json", "even rng increment");
    trainer_json(dir, "2", "\"1\"", "\"99\"", "\"high\"");
    expect_refused(dir, "trainer.json", "best_metric a string");
    trainer_json(dir, "2", "\"1\"", "\"99\"", "1e999");
    expect_refused(dir, "trainer.json", "best_metric infinite");
    write_text(dir, "trainer.json", "{\"mmc_version\": \"0.1.0\", \"step\": 2}");
    expect_refused(dir, "trainer.json", "missing fields");
    /* a model and optimizer from step 2 under a trainer.json of step 3: a torn save */
    trainer_json(dir, "3", "\"1\"", "\"99\"", "null");
    expect_refused(dir, "model.safetensors", "step mismatch");

    REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_OK, "resave: %s", err.msg);
    truncate_file(dir, "model.safetensors", 200);
    expect_refused(dir, "model.safetensors", "truncated model");
    REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_OK, "resave: %s", err.msg);
    truncate_file(dir, "optimizer.safetensors", 100);
    expect_refused(dir, "optimizer.safetensors", "truncated optimizer");

    /* a tensor of the wrong shape, with the right name and step */
    REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_OK, "resave: %s", err.msg);
    int s3[1] = {3};
    mmc_tensor *wrong = mmc_tensor_new(1, s3);
    const char *nm = "fc.bias";
    char p[1024];
    snprintf(p, sizeof p, "%s/optimizer.safetensors", dir);
    mmc_tensor *st[1] = {wrong};
    REQUIRE(mmc_safetensors_write(p, st, &nm, 1, "{\"optimizer\":\"adamw\"}", &err) == MMC_OK, "%s", err.msg);
    expect_refused(dir, "optimizer.safetensors", "optimizer file of another model");
    int s5[1] = {5};
    mmc_tensor *big = mmc_tensor_new(1, s5);
    mmc_tensor *saved_bias = T->P.tensors[6];
    T->P.tensors[6] = big; /* fc.bias (3) saved as (5) */
    REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_OK, "resave: %s", err.msg);
    T->P.tensors[6] = saved_bias;
    expect_refused(dir, "model.safetensors", "model tensor of the wrong shape");
    mmc_tensor_free(big);
    mmc_tensor_free(wrong);

    /* optimizer of another kind */
    REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_OK, "resave: %s", err.msg);
    trainer *S = calloc(1, sizeof *S);
    REQUIRE(S && trainer_init(S, 3, &err) == MMC_OK, "init: %s", err.msg);
    mmc_optim_free(S->opt);
    S->opt = mmc_optim_sgd(S->m.t, S->m.nparams, (mmc_sgd_opts){.lr = 0.1f, .momentum = 0.9f}, &err);
    CHECK(mmc_run_load(dir, &S->P, S->opt, &S->ts, &err) == MMC_ERR_INPUT && strstr(err.msg, "optimizer.safetensors"),
          "adamw state into sgd: %s", err.msg);
    trainer_free(S);
    free(S);

    static const char *const files[] = {"trainer.json", "model.safetensors", "optimizer.safetensors"};
    for (int i = 0; i < 3; i++) {
        REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_OK, "resave: %s", err.msg);
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
        expect_refused(dir, files[i], files[i]);
    }
    char *cfg = NULL;
    CHECK(mmc_run_read_config(dir, &cfg, &err) == MMC_OK && cfg, "config: %s", err.msg);
    mmc_free(cfg);
    cfg = NULL;
    write_text(dir, "config.json", "[\"not an object\"]");
    CHECK(mmc_run_read_config(dir, &cfg, &err) == MMC_ERR_INPUT && strstr(err.msg, "config.json") && !cfg,
          "config not an object: %s", err.msg);
    trainer_free(T);
    free(T);
    rmtree(dir);
}

/* ------------------------------------------------------------------ atomic */

/* Loads dir into a fresh trainer and checks it is at `step` with A's weights. */
static void expect_checkpoint(const char *dir, trainer *A, int64_t step, const char *what) {
    trainer *T = calloc(1, sizeof *T);
    mmc_error err = {0};
    if (!T || trainer_init(T, 3, &err) || mmc_run_load(dir, &T->P, T->opt, &T->ts, &err)) {
        CHECK(0, "%s: the checkpoint does not load: %s", what, err.msg);
    } else {
        CHECK(T->ts.step == step, "%s: checkpoint at step %lld, want %lld", what, (long long)T->ts.step, (long long)step);
        for (int i = 0; i < A->P.n; i++)
            CHECK(!memcmp(A->P.tensors[i]->data, T->P.tensors[i]->data, sizeof(float) * (size_t)T->P.tensors[i]->numel),
                  "%s: %s is not the checkpoint's", what, A->P.names[i]);
    }
    if (T && T->opt) trainer_free(T);
    free(T);
}

TEST(run_folder_atomic) {
    char dir[64], sub[128], p[256];
    REQUIRE(tmpdir(dir), "mkdtemp");
    mmc_error err = {0};
    trainer *A = calloc(1, sizeof *A), *B = calloc(1, sizeof *B);
    REQUIRE(A && B && saved_run(A, dir, 2, &err) == MMC_OK, "save: %s", err.msg);
    REQUIRE(trainer_init(B, 7, &err) == MMC_OK && train(B, 4), "B: %s", err.msg);
    /* a directory where the save stages a file: the save fails part-way */
    static const char *const blocked[] = {"optimizer.safetensors.next", "trainer.json.next", "model.safetensors.next"};
    for (int i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, blocked[i]);
        REQUIRE(mkdir(sub, 0755) == 0, "mkdir %s", sub);
        write_text(sub, "keep", "x");
        int rc = mmc_run_save(dir, &B->P, B->opt, &B->ts, "{\"changed\": true}", &err);
        CHECK(rc != MMC_OK, "save through %s succeeded", blocked[i]);
        CHECK(!exists(dir, "model.safetensors.next") || i == 2, "%s: staged model left behind", blocked[i]);
        CHECK(!exists(dir, "config.json.next"), "%s: staged config left behind", blocked[i]);
        expect_checkpoint(dir, A, 2, blocked[i]);
        char *cfg = NULL;
        CHECK(mmc_run_read_config(dir, &cfg, &err) == MMC_OK && cfg && strstr(cfg, "tiny_cnn"), "%s: config changed",
              blocked[i]);
        mmc_free(cfg);
        rmtree(sub);
    }
    /* the run folder's path taken by a file */
    snprintf(p, sizeof p, "%s/file", dir);
    write_text(dir, "file", "x");
    CHECK(mmc_run_save(p, &B->P, B->opt, &B->ts, NULL, &err) == MMC_ERR_RUNTIME && strstr(err.msg, "file"),
          "save onto a file: %s", err.msg);
    /* the obstacle gone, the next save goes through */
    REQUIRE(mmc_run_save(dir, &B->P, B->opt, &B->ts, NULL, &err) == MMC_OK, "save: %s", err.msg);
    expect_checkpoint(dir, B, 4, "after the obstacle is gone");
    CHECK(!exists(dir, "trainer.json.next") && !exists(dir, "model.safetensors.next"), "staged files left behind");
    trainer_free(A);
    trainer_free(B);
    free(A);
    free(B);
    rmtree(dir);
}

/* ------------------------------------------------------- config and metrics */

TEST(run_folder_config_and_metrics) {
    char dir[64];
    REQUIRE(tmpdir(dir), "mkdtemp");
    mmc_error err = {0};
    trainer *T = calloc(1, sizeof *T);
    REQUIRE(T && trainer_init(T, 7, &err) == MMC_OK, "init: %s", err.msg);
    CHECK(mmc_run_save(dir, &T->P, T->opt, &T->ts, "[1, 2]", &err) == MMC_ERR_USAGE, "config array accepted");
    CHECK(!exists(dir, "trainer.json") && !exists(dir, "model.safetensors"), "refused save wrote files");
    T->ts.rng.inc = 4;
    CHECK(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_ERR_USAGE && strstr(err.msg, "rng"),
          "even rng increment saved: %s", err.msg);
    T->ts = mmc_trainer_state_init(5);
    REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, "{\"width\": 8,\n \"name\": \"cnn\"}", &err) == MMC_OK, "%s", err.msg);
    char *cfg = NULL;
    REQUIRE(mmc_run_read_config(dir, &cfg, &err) == MMC_OK, "%s", err.msg);
    CHECK(!strcmp(cfg, "{\"width\": 8,\n \"name\": \"cnn\"}"), "config changed on the way: %s", cfg);
    mmc_free(cfg);
    CHECK(mmc_run_log_metrics(dir, "{\"step\": 1,\n \"loss\": 0.5}", &err) == MMC_OK, "%s", err.msg);
    CHECK(mmc_run_log_metrics(dir, "{\"step\": 2, \"loss\": 0.25}", &err) == MMC_OK, "%s", err.msg);
    CHECK(mmc_run_log_metrics(dir, "0.5", &err) == MMC_ERR_USAGE, "a number logged as a metrics line");
    CHECK(mmc_run_log_metrics(dir, "{\"x\": ", &err) == MMC_ERR_USAGE, "broken JSON logged");
    REQUIRE(mmc_run_save(dir, &T->P, T->opt, &T->ts, NULL, &err) == MMC_OK, "%s", err.msg);
    char p[256];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    uint8_t *text = NULL;
    size_t n = 0;
    REQUIRE(mmc_read_file(p, 4096, &text, &n, &err) == MMC_OK, "%s", err.msg);
    CHECK(!strcmp((char *)text, "{\"step\":1,\"loss\":0.5}\n{\"step\":2,\"loss\":0.25}\n"), "metrics.jsonl: %s", text);
    mmc_free(text);
    trainer_free(T);
    free(T);
    rmtree(dir);
}

/* ------------------------------------------------------- an example for the CLI */

/* Writes tests-work/run_example (relative to the build folder, where ctest runs) for
 * tests/cli/inspect_run.cmake: a small model after 3 AdamW steps, with a config, a best
 * metric and two metrics lines. */
TEST(run_folder_example_for_cli) {
    const char *dir = "tests-work/run_example";
    mkdir("tests-work", 0777);
    rmtree(dir);
    mmc_error err = {0};
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 0);
    mmc_nn_linear fc;
    REQUIRE(mmc_nn_linear_init(&fc, &P, "encoder", 3, 4, 1, &rng, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *params[2];
    int np = mmc_params_trainable(&P, params);
    mmc_optim *opt = mmc_optim_adamw(params, np, mmc_adamw_defaults(1e-2f), &err);
    REQUIRE(opt, "%s", err.msg);
    mmc_trainer_state ts = mmc_trainer_state_init(3);
    for (int k = 0; k < 3; k++, ts.step++, ts.schedule_step++) {
        for (int i = 0; i < np; i++) mmc_init_constant(params[i], 0.0f), mmc_tensor_grad(NULL, params[i])[0] = 1.0f;
        mmc_optim_step(opt);
    }
    ts.epoch = 1;
    ts.best_metric = 0.75;
    strcpy(ts.best_metric_name, "val_accuracy");
    REQUIRE(mmc_run_save(dir, &P, opt, &ts, "{\"task\": \"classify\", \"width\": 4, \"vocab\": [\"a\", \"b\"]}", &err) ==
                MMC_OK,
            "%s", err.msg);
    CHECK(mmc_run_log_metrics(dir, "{\"step\": 3, \"loss\": 0.5}", &err) == MMC_OK, "%s", err.msg);
    mmc_optim_free(opt);
    mmc_params_free(&P);
}

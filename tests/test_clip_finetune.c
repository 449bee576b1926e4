/* test_clip_finetune.c — fine-tuning pretrained CLIP / Chinese-CLIP folders (the random-
 * weight fixtures in ../shared/fixtures/hf; skipped when ../shared is absent):
 *   - one InfoNCE backward through both towers reaches every tensor, logit_scale included;
 *   - mmc_clip_train on a tiny shapes world (32 px) lowers the loss, changes the weights
 *     and writes a Hugging Face folder that loads again. */
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fixture(const char *name, char *buf, size_t n) {
    char rel[128], cfg[1200];
    snprintf(rel, sizeof rel, "../shared/fixtures/hf/%s", name);
    snprintf(buf, n, "%s", test_path(rel));
    snprintf(cfg, sizeof cfg, "%s/config.json", buf);
    struct stat sb;
    return stat(cfg, &sb) == 0 ? buf : NULL;
}

static void all_grads(const char *name) {
    char dir[1024];
    if (!fixture(name, dir, sizeof dir)) SKIP("%s/config.json absent (../shared not here): nothing to fine-tune", dir);
    mmc_error err = {0};
    mmc_clip_opts o = {MMC_CLIP_STORAGE_F32, 0};
    mmc_clip *m = mmc_clip_load_ex(dir, &o, &err);
    REQUIRE(m, "load %s: %s", dir, err.msg);
    const char *texts[3] = {"a large red circle", "two blue squares", "\xe7\xba\xa2\xe8\x89\xb2 x"};
    int32_t *ids, *mask;
    int T, S = mmc_clip_image_size(m);
    REQUIRE(!mmc_clip_tokenize(m, texts, 3, &ids, &mask, &T, &err), "tokenize: %s", err.msg);
    mmc_tensor *px = test_randn(4, (int[]){3, 3, S, S}, 7, 1.0f);
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){3, 3, S, S}, px->data);
    mmc_clip_vision_out vo;
    mmc_clip_text_out to;
    REQUIRE(!mmc_clip_vision_forward(ctx, m, x, &vo), "vision: %s", ctx->err.msg);
    REQUIRE(!mmc_clip_text_forward(ctx, m, ids, mask, NULL, 3, T, &to), "text: %s", ctx->err.msg);
    mmc_params *P = mmc_clip_params(m);
    mmc_tensor *ls = NULL;
    for (int i = 0; i < P->n; i++)
        if (!strcmp(P->tensors[i]->name, "logit_scale")) ls = P->tensors[i];
    REQUIRE(ls, "no logit_scale parameter");
    mmc_tensor *loss = mmc_loss_infonce(ctx, vo.embeds, to.embeds, ls, logf(100.0f));
    REQUIRE(loss && mmc_backward(ctx, loss) == MMC_OK, "backward: %s", ctx->err.msg);
    int n_params = 0;
    for (int i = 0; i < P->n; i++) {
        mmc_tensor *t = P->tensors[i];
        if (P->kind[i] != MMC_PARAM) continue;
        n_params++;
        double s = 0;
        for (int64_t k = 0; t->grad && k < t->numel; k++) s += fabs(t->grad[k]);
        CHECK(s > 0 && isfinite(s), "%s: %s has no gradient (sum |g| = %g)", name, t->name, s);
    }
    CHECK(n_params > 20, "only %d parameters", n_params);
    mmc_ctx_free(ctx);
    mmc_tensor_free(px);
    mmc_free(ids), mmc_free(mask);
    mmc_clip_free(m);
}

TEST(clip_finetune_all_params_get_grads) { all_grads("clip"); }
TEST(chinese_clip_finetune_all_params_get_grads) { all_grads("chinese-clip"); }

typedef struct losses {
    double v[64];
    int n;
} losses;

static void on_ev(void *user, const mmc_train_event *ev) {
    losses *l = user;
    if (ev->kind == MMC_TRAIN_EV_STEP && l->n < 64) l->v[l->n++] = ev->loss;
}

TEST(clip_finetune_loss_decreases) {
    char init[1024];
    if (!fixture("clip", init, sizeof init)) SKIP("%s/config.json absent (../shared not here): nothing to fine-tune", init);
    char dir[64], data[128], run[128];
    snprintf(dir, sizeof dir, "/tmp/mmc-cft-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    mmc_error err = {0};
    REQUIRE(!mmc_shapes_write_split(data, "train", 16, 3, 32, NULL, NULL, &err), "shapes: %s", err.msg);
    REQUIRE(!mmc_shapes_write_split(data, "val", 8, 3, 32, NULL, NULL, &err), "shapes: %s", err.msg);
    mmc_clip_train_config c = mmc_clip_train_config_default();
    c.batch_size = 16;
    c.lr = 2e-3f;
    c.warmup_steps = 0;
    c.min_lr_ratio = 1.0f; /* constant lr: the test is about descent, not the schedule */
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data, o.run_dir = run, o.steps = 8, o.log_every = 1;
    o.val_split = ""; /* 1 step per epoch here: validation each step would dominate; evaluated below */
    losses L = {{0}, 0};
    o.callback = on_ev, o.user = &L;
    int rc = mmc_clip_train(init, &c, &o, &err);
    CHECK(rc == MMC_OK, "train: %s", err.msg);
    CHECK(L.n == 8, "%d step events", L.n);
    if (rc == MMC_OK && L.n == 8) {
        double first = (L.v[0] + L.v[1]) / 2, last = (L.v[6] + L.v[7]) / 2;
        fprintf(stderr, "loss %.4f -> %.4f\n", first, last);
        CHECK(last < first - 0.05, "loss did not go down: %.4f -> %.4f", first, last);
    }
    /* the run folder is a CLIP folder again, with other weights */
    mmc_clip *a = mmc_clip_load(init, &err), *b = rc ? NULL : mmc_clip_load(run, &err);
    CHECK(a && b, "reload: %s", err.msg);
    if (a && b) {
        mmc_params *pa = mmc_clip_params(a), *pb = mmc_clip_params(b);
        CHECK(pa->n == pb->n, "%d vs %d tensors", pa->n, pb->n);
        int changed = 0;
        for (int i = 0; i < pa->n && i < pb->n; i++) {
            REQUIRE(!strcmp(pa->tensors[i]->name, pb->tensors[i]->name), "order differs at %d", i);
            for (int64_t k = 0; k < pa->tensors[i]->numel; k++)
                if (pa->tensors[i]->data[k] != pb->tensors[i]->data[k]) { changed++; break; }
        }
        CHECK(changed > pa->n / 2, "only %d of %d tensors changed", changed, pa->n);
        CHECK(mmc_clip_logit_scale(a) != mmc_clip_logit_scale(b), "logit_scale unchanged (%g)", mmc_clip_logit_scale(a));
        mmc_retrieval_metrics mt;
        CHECK(!mmc_clip_evaluate(b, data, "val", NULL, 0, &mt, &err) && mt.n_images == 8, "evaluate: %s", err.msg);
    }
    mmc_clip_free(a);
    mmc_clip_free(b);
    char p[200];
    const char *files[] = {"config.json", "model.safetensors", "trainer.json", "metrics.jsonl",
                           "tokenizer.json", "preprocessor_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", run, files[i]);
        CHECK(access(p, R_OK) == 0, "the run has no %s", files[i]);
    }
    test_rm_tmpdir(dir);
}

/* Fine-tuning runs on the training loop: 6 steps straight equal 3 + resume + 3, bit for
 * bit (weights, AdamW moments), with validation and a warm-up in the way; the resumed run
 * takes its settings from finetune.json, not from the arguments. */
static void clip_resume_case(const char *which) {
    char init[1024];
    if (!fixture(which, init, sizeof init)) SKIP("%s/config.json absent (../shared not here): nothing to fine-tune", init);
    char dir[64], data[128], a[128], b[128], pa[200], pb[200], why[256];
    snprintf(dir, sizeof dir, "/tmp/mmc-cftr-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(a, sizeof a, "%s/straight", dir);
    snprintf(b, sizeof b, "%s/cut", dir);
    mmc_error err = {0};
    REQUIRE(!mmc_shapes_write_split(data, "train", 16, 3, 32, NULL, NULL, &err), "shapes: %s", err.msg);
    REQUIRE(!mmc_shapes_write_split(data, "val", 4, 3, 32, NULL, NULL, &err), "shapes: %s", err.msg);
    mmc_clip_train_config c = mmc_clip_train_config_default();
    c.batch_size = 8; /* 2 steps an epoch: validation and checkpoints between steps */
    c.lr = 1e-3f;
    c.warmup_steps = 2;
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data, o.steps = 6, o.seed = 5;
    o.run_dir = a;
    REQUIRE(mmc_clip_train(init, &c, &o, &err) == MMC_OK, "straight: %s", err.msg);
    o.run_dir = b, o.stop_at_step = 3;
    REQUIRE(mmc_clip_train(init, &c, &o, &err) == MMC_OK, "first half: %s", err.msg);
    mmc_clip_train_config other = c;
    other.lr = 0.5f; /* ignored: the run's own settings come back */
    o.resume = 1, o.stop_at_step = 0;
    REQUIRE(mmc_clip_train(NULL, &other, &o, &err) == MMC_OK, "resume: %s", err.msg);
    const char *files[] = {"model.safetensors", "optimizer.safetensors", "model-best.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "%s: %s", files[i], why);
    }
    /* the resumed run is still a hub folder that loads */
    mmc_clip *m = mmc_clip_load(b, &err);
    CHECK(m != NULL, "reload: %s", err.msg);
    mmc_clip_free(m);
    /* a wrong seed is refused before anything is written */
    o.seed = 6;
    CHECK(mmc_clip_train(NULL, &c, &o, &err) == MMC_ERR_USAGE && strstr(err.msg, "--seed"), "seed: %s", err.msg);
    test_rm_tmpdir(dir);
}

TEST(clip_finetune_resume_bit_exact) { clip_resume_case("clip"); }
TEST(chinese_clip_finetune_resume_bit_exact) { clip_resume_case("chinese-clip"); }

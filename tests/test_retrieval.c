/* test_retrieval.c — the dual encoder: it learns, it saves and reloads, it resumes
 * bit-exactly, every loss trains, recall is counted right, and hostile run folders are
 * refused with the file named. Datasets are tiny shapes worlds at 32 px in /tmp. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary folder holding a shapes dataset (train n_train, val n_val) at 32 px. */
/* A model small enough to train in a second: 32 px, 3 stages to a 4×4 grid. */
static mmc_retrieval_config tiny_config(void) {
    mmc_retrieval_config c = mmc_retrieval_config_default();
    c.image_size = 32;
    int w[6] = {8, 16, 32, 0, 0, 0};
    memcpy(c.image.cnn_widths, w, sizeof w);
    c.text.word_dim = 32;
    c.text.text_hidden = 64;
    c.embed_dim = 64;
    c.batch_size = 16;
    c.lr = 3e-3f;
    c.warmup_steps = 5;
    c.augment_shift = 0;
    c.image.vit_patch = 8;
    c.image.vit_dim = 32;
    c.image.vit_depth = 1;
    c.image.vit_heads = 2;
    int rw[4] = {8, 8, 16, 16}, rl[4] = {1, 1, 1, 1};
    memcpy(c.image.resnet_widths, rw, sizeof rw);
    memcpy(c.image.resnet_layers, rl, sizeof rl);
    c.text.text_heads = 2;
    return c;
}

typedef struct loss_log {
    double first, last;
    int n;
} loss_log;
static void record(void *user, const mmc_train_event *ev) {
    loss_log *l = user;
    if (ev->kind != MMC_TRAIN_EV_STEP) return;
    if (l->n++ == 0) l->first = ev->loss;
    l->last = ev->loss;
}

static int train_run(const mmc_retrieval_config *c, const char *data, const char *run, int64_t steps, int64_t stop_at,
                     int resume, loss_log *log, mmc_error *err) {
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data;
    o.run_dir = run;
    o.steps = steps;
    o.stop_at_step = stop_at;
    o.resume = resume;
    o.seed = 5;
    o.log_every = 1;
    o.callback = log ? record : NULL;
    o.user = log;
    return mmc_retrieval_train(c, &o, err);
}

TEST(retrieval_overfit_tiny) {
    char dir[64], run[128];
    REQUIRE(test_shapes_dir(dir, sizeof dir, "retr", 32, 0), "cannot make the dataset");
    snprintf(run, sizeof run, "%s/run", dir);
    mmc_retrieval_config c = tiny_config();
    c.batch_size = 32; /* the whole set in each batch */
    c.lr = 5e-3f;
    mmc_error err = {0};
    loss_log log = {0};
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = dir;
    o.run_dir = run;
    o.steps = 60;
    o.val_split = "";
    o.log_every = 1;
    o.callback = record;
    o.user = &log;
    double t0 = mmc_now();
    int rc = mmc_retrieval_train(&c, &o, &err);
    REQUIRE(rc == MMC_OK, "train: %s", err.msg);
    CHECK(log.last < 0.3 * log.first, "loss did not fall enough: %.3f -> %.3f", log.first, log.last);
    mmc_retrieval *m = mmc_retrieval_load(run, &err);
    REQUIRE(m, "load: %s", err.msg);
    mmc_retrieval_metrics mt;
    REQUIRE(mmc_retrieval_evaluate(m, dir, "train", 0, &mt, &err) == MMC_OK, "evaluate: %s", err.msg);
    CHECK(mt.n_images == 32 && mt.n_texts == 160, "counted %d images, %d texts", mt.n_images, mt.n_texts);
    CHECK(mt.t2i.r1 >= 0.9, "train text->image R@1 %.3f < 0.9", mt.t2i.r1);
    CHECK(mt.i2t.r1 >= 0.9, "train image->text R@1 %.3f < 0.9", mt.i2t.r1);
    /* only the first caption of each scene: 32 queries, the same 32 candidates */
    mmc_retrieval_metrics m1;
    REQUIRE(mmc_retrieval_evaluate_captions(m, dir, "train", 0, 1, &m1, &err) == MMC_OK, "evaluate first: %s", err.msg);
    CHECK(m1.n_images == 32 && m1.n_texts == 32, "first captions: counted %d images, %d texts", m1.n_images, m1.n_texts);
    CHECK(m1.t2i.r1 >= 0.9, "train text->image R@1 over first captions %.3f < 0.9", m1.t2i.r1);
    printf("overfit: loss %.3f -> %.3f, train R@1 t2i %.3f i2t %.3f in %.1f s\n", log.first, log.last, mt.t2i.r1, mt.i2t.r1, mmc_now() - t0);
    mmc_retrieval_free(m);
    test_rm_tmpdir(dir);
}

/* A fixed (B, 3, 32, 32) batch and a few captions, embedded by m. */
static int embed_fixed(mmc_retrieval *m, float *img_out, float *txt_out, mmc_error *err) {
    static const char *texts[3] = {"a large red circle to the left of a small blue square", "a green star", "nothing known zzz"};
    float *chw = malloc(sizeof(float) * 4 * 3 * 32 * 32);
    mmc_rng r;
    mmc_rng_seed(&r, 3, 3);
    mmc_rng_fill_uniform(&r, chw, 4 * 3 * 32 * 32, -1, 1);
    int rc = mmc_retrieval_embed_chw(m, chw, 4, img_out, err);
    if (!rc) rc = mmc_retrieval_embed_texts(m, texts, 3, txt_out, err);
    free(chw);
    return rc;
}

static mmc_tokenizer *tiny_vocab(mmc_error *err) {
    static const char *texts[2] = {"a large red circle to the left of a small blue square", "a green star"};
    return mmc_tokenizer_build_word(texts, 2, 1, 0, err);
}

TEST(retrieval_save_load_same_embeddings) {
    static const char *encs[][2] = {{"cnn", "gru"}, {"resnet", "lstm"}, {"vit", "transformer"}, {"cnn", "bag"}};
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-retr-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    for (int k = 0; k < 4; k++) {
        mmc_error err = {0};
        mmc_retrieval_config c = tiny_config();
        strcpy(c.image.encoder, encs[k][0]);
        strcpy(c.text.encoder, encs[k][1]);
        c.max_len = 16;
        mmc_retrieval *a = mmc_retrieval_create(&c, tiny_vocab(&err), 7, &err);
        REQUIRE(a, "create %s/%s: %s", encs[k][0], encs[k][1], err.msg);
        REQUIRE(mmc_retrieval_save(a, dir, NULL, &err) == MMC_OK, "save: %s", err.msg);
        mmc_retrieval *b = mmc_retrieval_load(dir, &err);
        REQUIRE(b, "load %s/%s: %s", encs[k][0], encs[k][1], err.msg);
        float ia[4 * 64], ta[3 * 64], ib[4 * 64], tb[3 * 64];
        REQUIRE(embed_fixed(a, ia, ta, &err) == MMC_OK && embed_fixed(b, ib, tb, &err) == MMC_OK, "embed: %s", err.msg);
        CHECK(!memcmp(ia, ib, sizeof ia), "%s: image embeddings differ after reload", encs[k][0]);
        CHECK(!memcmp(ta, tb, sizeof ta), "%s: text embeddings differ after reload", encs[k][1]);
        float n2 = 0;
        for (int i = 0; i < 64; i++) n2 += ia[i] * ia[i];
        CHECK(fabsf(n2 - 1) < 1e-4f, "embedding not unit length (%g)", n2);
        /* a different seed gives a different model: the comparison above can fail */
        mmc_retrieval *d = mmc_retrieval_create(&c, tiny_vocab(&err), 8, &err);
        REQUIRE(d && embed_fixed(d, ib, tb, &err) == MMC_OK, "seed 8: %s", err.msg);
        CHECK(memcmp(ia, ib, sizeof ia), "seed 7 and 8 gave the same image embeddings");
        mmc_retrieval_free(a);
        mmc_retrieval_free(b);
        mmc_retrieval_free(d);
    }
    test_rm_tmpdir(dir);
}

/* mode 0: the default; 1: subword trigrams + word dropout; 2: BatchNorm with precise-BN
 * recomputation at every validation */
static void resume_bit_exact(int mode) {
    char dir[64], ra[128], rb[128], why[1200] = "";
    REQUIRE(test_shapes_dir(dir, sizeof dir, "retr", 48, 16), "cannot make the dataset");
    snprintf(ra, sizeof ra, "%s/straight", dir);
    snprintf(rb, sizeof rb, "%s/resumed", dir);
    mmc_retrieval_config c = tiny_config();
    if (mode == 1) { /* the trigram features and word dropout draw from the step's stream */
        c.subword_buckets = 64;
        c.word_dropout = 0.2f;
    } else if (mode == 2) {
        strcpy(c.cnn_norm, "batch");
        c.bn_recompute = 2;
    }
    mmc_error err = {0};
    /* 3 steps per epoch: 14 steps cross epochs (new order) and the checkpoint at 7 is mid-epoch */
    REQUIRE(train_run(&c, dir, ra, 14, 0, 0, NULL, &err) == MMC_OK, "straight: %s", err.msg);
    REQUIRE(train_run(&c, dir, rb, 14, 7, 0, NULL, &err) == MMC_OK, "first half: %s", err.msg);
    char pa[256], pb[256];
    snprintf(pa, sizeof pa, "%s/model.safetensors", ra);
    snprintf(pb, sizeof pb, "%s/model.safetensors", rb);
    CHECK(!test_same_tensors_file(pa, pb, why, sizeof why), "after 7 of 14 steps the weights already equal the finished run's");
    REQUIRE(train_run(&c, dir, rb, 14, 0, 1, NULL, &err) == MMC_OK, "resume: %s", err.msg);
    CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "model after resume: %s", why);
    snprintf(pa, sizeof pa, "%s/optimizer.safetensors", ra);
    snprintf(pb, sizeof pb, "%s/optimizer.safetensors", rb);
    CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "optimizer after resume: %s", why);
    /* resuming with another seed is refused */
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = dir;
    o.run_dir = rb;
    o.steps = 20;
    o.resume = 1;
    o.seed = 6;
    CHECK(mmc_retrieval_train(&c, &o, &err) == MMC_ERR_USAGE, "resume with another seed: %s", err.msg);
    test_rm_tmpdir(dir);
}

TEST(retrieval_resume_bit_exact) { resume_bit_exact(0); }
TEST(retrieval_resume_bit_exact_subword) { resume_bit_exact(1); }
TEST(retrieval_resume_bit_exact_batchnorm) { resume_bit_exact(2); }

TEST(retrieval_losses_train) {
    static const char *losses[] = {"infonce", "contrastive", "triplet", "triplet_hardest", "cosine"};
    char dir[64];
    REQUIRE(test_shapes_dir(dir, sizeof dir, "retr", 32, 0), "cannot make the dataset");
    for (int k = 0; k < 5; k++) {
        char run[128];
        snprintf(run, sizeof run, "%s/%s", dir, losses[k]);
        mmc_retrieval_config c = tiny_config();
        strcpy(c.loss, losses[k]);
        if (!strcmp(losses[k], "contrastive")) c.margin = 1.0f;
        c.warmup_steps = 0;
        mmc_error err = {0};
        loss_log log = {0};
        mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
        o.data_dir = dir;
        o.run_dir = run;
        o.steps = 12;
        o.val_split = "";
        o.log_every = 1;
        o.callback = record;
        o.user = &log;
        int rc = mmc_retrieval_train(&c, &o, &err);
        CHECK(rc == MMC_OK, "%s: %s", losses[k], err.msg);
        CHECK(log.n == 12 && isfinite(log.first) && isfinite(log.last) && log.first > 0, "%s: losses %g .. %g over %d steps", losses[k], log.first, log.last, log.n);
        CHECK(log.last < log.first, "%s: loss did not fall in 12 steps (%g -> %g)", losses[k], log.first, log.last);
    }
    test_rm_tmpdir(dir);
}

TEST(retrieval_recall_counts) {
    /* 3 images (unit axes), 4 captions: caption 0, 1 -> image 0; 2 -> image 1; 3 -> image 2.
     * caption 1 points at image 1 (rank 2 for its image 0); caption 3 points between
     * images 1 and 2 but nearer 1 (rank 2). */
    float img[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    float txt[12] = {1, 0, 0, 0.6f, 0.8f, 0, 0, 1, 0, 0, 0.8f, 0.6f};
    int ti[4] = {0, 0, 1, 2};
    mmc_retrieval_metrics m;
    mmc_error err = {0};
    REQUIRE(mmc_retrieval_recall(img, 3, txt, ti, 4, 3, &m, &err) == MMC_OK, "%s", err.msg);
    CHECK(fabs(m.t2i.r1 - 0.5) < 1e-12, "t2i R@1 %g, want 0.5 (captions 0 and 2)", m.t2i.r1);
    CHECK(fabs(m.t2i.median_rank - 1.5) < 1e-12, "t2i median rank %g, want 1.5", m.t2i.median_rank);
    /* image 0: best caption 0 (score 1) ranks first; image 1: caption 2 (score 1) first;
     * image 2: its caption 3 scores 0.6 but caption... none above 0.6 except none: rank 1? captions
     * scoring > 0.6 against image 2: none (0, 0, 0, 0.6) -> rank 1. */
    CHECK(fabs(m.i2t.r1 - 1.0) < 1e-12, "i2t R@1 %g, want 1", m.i2t.r1);
    CHECK(fabs(m.rsum - (50 + 100 + 100 + 100 + 100 + 100)) < 1e-9, "rsum %g, want 550", m.rsum);
    CHECK(mmc_retrieval_recall(img, 3, txt, (int[]){0, 0, 3, 2}, 4, 3, &m, &err) == MMC_ERR_USAGE, "a caption naming image 3 of 3 was accepted");
}

/* Writes text to dir/config.json. */
static void put(const char *dir, const char *name, const char *text) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) { fputs(text, f); fclose(f); }
}

TEST(retrieval_config_hostile) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-retr-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    mmc_error err = {0};
    mmc_retrieval_config c = tiny_config();
    c.max_len = 16;
    mmc_retrieval *m = mmc_retrieval_create(&c, tiny_vocab(&err), 1, &err);
    REQUIRE(m && mmc_retrieval_save(m, dir, NULL, &err) == MMC_OK, "setup: %s", err.msg);
    mmc_retrieval_free(m);
    char good[65536];
    {
        char p[256];
        snprintf(p, sizeof p, "%s/config.json", dir);
        FILE *f = fopen(p, "rb");
        REQUIRE(f, "no config.json written");
        size_t n = fread(good, 1, sizeof good - 1, f);
        good[n] = 0;
        fclose(f);
    }
    m = mmc_retrieval_load(dir, &err);
    REQUIRE(m, "the good folder does not load: %s", err.msg);
    mmc_retrieval_free(m);
    char *tok = strstr(good, "\"tokenizer\"");
    REQUIRE(tok, "config.json has no tokenizer");
    const char *bad[] = {
        "",                                          /* empty */
        "[1, 2, 3]",                                 /* not an object */
        "{\"image_size\": ",                         /* truncated */
        "{\"no_such_key\": 1}",                      /* unknown key */
        "{\"image_size\": \"64\"}",                  /* wrong type */
        "{\"image_size\": 1e30}",                    /* huge */
        "{\"embed_dim\": -5}",                       /* negative */
        "{\"text_layers\": 2.5}",                    /* not an integer */
        "{\"loss\": \"hinge\"}",                     /* unknown name */
        "{\"cnn_widths\": [8, 0, 16]}",              /* bad list */
        "{\"cnn_widths\": [8, 16, 32, 64, 128, 256, 512]}", /* too long */
        "{\"max_len\": 16}",                         /* no tokenizer */
        "{\"max_len\": 16, \"tokenizer\": {\"kind\": \"word\", \"tokens\": 7}}", /* bad vocab */
        "{\"max_len\": 16, \"tokenizer\": [] }",    /* vocab of the wrong type */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put(dir, "config.json", bad[i]);
        err = (mmc_error){0};
        m = mmc_retrieval_load(dir, &err);
        CHECK(!m && err.code == MMC_ERR_INPUT, "bad config %zu (%s) gave code %d: %s", i, bad[i], err.code, err.msg);
        CHECK(strstr(err.msg, "config.json") != NULL, "bad config %zu: the message does not name the file: %s", i, err.msg);
        mmc_retrieval_free(m);
    }
    /* a valid config that builds a different model than the weights: the weights file is named */
    char changed[65536];
    snprintf(changed, sizeof changed, "{\"embed_dim\": 32, %s", tok);
    changed[strlen(changed)] = 0;
    /* splice: keep every key of the good config but embed_dim */
    char *q = strstr(good, "\"embed_dim\":");
    REQUIRE(q, "no embed_dim in config.json");
    char *comma = strchr(q, ',');
    snprintf(changed, sizeof changed, "%.*s\"embed_dim\": 32%s", (int)(q - good), good, comma);
    put(dir, "config.json", changed);
    m = mmc_retrieval_load(dir, &err);
    CHECK(!m && err.code == MMC_ERR_INPUT && strstr(err.msg, "model.safetensors"), "mismatched weights: code %d: %s", err.code, err.msg);
    mmc_retrieval_free(m);
    /* a missing folder */
    put(dir, "config.json", good);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    m = mmc_retrieval_load(missing, &err);
    CHECK(!m && err.code == MMC_ERR_INPUT, "missing run folder: code %d", err.code);
    /* a --config file is checked the same way */
    put(dir, "user.json", "{\"lr\": \"fast\"}");
    char up[128];
    snprintf(up, sizeof up, "%s/user.json", dir);
    mmc_retrieval_config uc = mmc_retrieval_config_default();
    CHECK(mmc_retrieval_config_load(&uc, up, &err) == MMC_ERR_INPUT && strstr(err.msg, "user.json") && strstr(err.msg, "lr"),
          "bad --config file: %s", err.msg);
    test_rm_tmpdir(dir);
}

TEST(retrieval_config_round_trip) {
    mmc_retrieval_config a = mmc_retrieval_config_default(), b = mmc_retrieval_config_default();
    strcpy(a.text.encoder, "lstm");
    a.lr = 1.2345e-3f;
    a.image.cnn_widths[2] = 7;
    a.temperature = 0.05f;
    char *s = mmc_retrieval_config_to_json(&a);
    REQUIRE(s, "to_json");
    mmc_error err = {0};
    CHECK(mmc_retrieval_config_parse(&b, s, strlen(s), "x", &err) == MMC_OK, "%s", err.msg);
    CHECK(!memcmp(&a, &b, sizeof a), "config changed through JSON");
    mmc_free(s);
}

/* Images (B, 3, 32, 32) through the image tower in training mode, all at once and one by
 * one; returns the largest difference. */
static float batch_vs_alone(mmc_retrieval *m, const float *chw, int B) {
    int E = mmc_retrieval_dim(m), per = 3 * 32 * 32;
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_tensor *all = mmc_retrieval_encode_images(ctx, m, mmc_tensor_from(ctx, 4, (int[]){B, 3, 32, 32}, chw), 1);
    float worst = all ? 0.0f : INFINITY;
    for (int b = 0; all && b < B; b++) {
        mmc_tensor *one = mmc_retrieval_encode_images(ctx, m, mmc_tensor_from(ctx, 4, (int[]){1, 3, 32, 32}, chw + (size_t)b * per), 1);
        if (!one) return INFINITY;
        for (int i = 0; i < E; i++) worst = fmaxf(worst, fabsf(one->data[i] - all->data[(size_t)b * E + i]));
    }
    mmc_ctx_free(ctx);
    return worst;
}

/* The cnn with GroupNorm embeds an image the same alone or in a batch, in training as at
 * inference, so training, validation and `mmc embed` agree; BatchNorm in training does
 * not. */
TEST(retrieval_group_norm_batch_independent) {
    mmc_error err = {0};
    float chw[4 * 3 * 32 * 32];
    mmc_rng r;
    mmc_rng_seed(&r, 4, 4);
    mmc_rng_fill_uniform(&r, chw, 4 * 3 * 32 * 32, -1, 1);
    for (int k = 0; k < 2; k++) {
        mmc_retrieval_config c = tiny_config();
        c.max_len = 16;
        strcpy(c.cnn_norm, k ? "batch" : "group");
        mmc_retrieval *m = mmc_retrieval_create(&c, tiny_vocab(&err), 7, &err);
        REQUIRE(m, "create: %s", err.msg);
        CHECK((mmc_params_find(mmc_retrieval_params(m), "image_encoder.gn.0.weight") != NULL) == !k &&
                  (mmc_params_find(mmc_retrieval_params(m), "image_encoder.bn.0.running_mean") != NULL) == k,
              "%s: wrong norm tensors", k ? "batch" : "group");
        float d = batch_vs_alone(m, chw, 4);
        if (!k) CHECK(d < 1e-5f, "group norm: an image's training embedding changes with its batch by %g", d);
        else CHECK(d > 1e-3f, "batch norm: training embeddings alone and in a batch agree (%g): the check cannot tell", d);
        if (!k) { /* and training mode equals inference (no dropout in this model) */
            float ie[4 * 64];
            REQUIRE(mmc_retrieval_embed_chw(m, chw, 4, ie, &err) == MMC_OK, "embed: %s", err.msg);
            mmc_ctx *ctx = mmc_ctx_new();
            mmc_tensor *t = mmc_retrieval_encode_images(ctx, m, mmc_tensor_from(ctx, 4, (int[]){4, 3, 32, 32}, chw), 1);
            REQUIRE(t, "encode: %s", ctx->err.msg);
            float w = 0;
            for (int i = 0; i < 4 * 64; i++) w = fmaxf(w, fabsf(t->data[i] - ie[i]));
            CHECK(w < 1e-5f, "group norm: training and inference embeddings differ by %g", w);
            mmc_ctx_free(ctx);
        }
        mmc_retrieval_free(m);
    }
}

/* A run folder written before cnn_norm existed (BatchNorm, no cnn_norm/norm_groups keys in
 * config.json) still loads, as BatchNorm, with the same embeddings. */
TEST(retrieval_old_run_folder_loads) {
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/mmc-retr-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    mmc_error err = {0};
    mmc_retrieval_config c = tiny_config();
    c.max_len = 16;
    strcpy(c.cnn_norm, "batch");
    mmc_retrieval *a = mmc_retrieval_create(&c, tiny_vocab(&err), 7, &err);
    REQUIRE(a && mmc_retrieval_save(a, dir, NULL, &err) == MMC_OK, "save: %s", err.msg);
    /* strip the two keys, as an old config.json */
    snprintf(path, sizeof path, "%s/config.json", dir);
    uint8_t *buf = NULL;
    size_t n = 0;
    REQUIRE(mmc_read_file(path, 1 << 20, &buf, &n, &err) == MMC_OK, "read: %s", err.msg);
    char *text = malloc(n + 1), *out = malloc(n + 1);
    memcpy(text, buf, n);
    text[n] = 0;
    mmc_free(buf);
    size_t o = 0;
    int stripped = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "\"cnn_norm\"") || strstr(line, "\"norm_groups\"")) { stripped++; continue; }
        o += (size_t)sprintf(out + o, "%s\n", line);
    }
    CHECK(stripped == 2, "config.json had %d of the two keys on their own lines", stripped);
    REQUIRE(mmc_write_file_atomic(path, out, o, &err) == MMC_OK, "write: %s", err.msg);
    free(text);
    free(out);
    mmc_retrieval *b = mmc_retrieval_load(dir, &err);
    REQUIRE(b, "load an old run folder: %s", err.msg);
    CHECK(!strcmp(mmc_retrieval_get_config(b)->cnn_norm, "batch"), "loaded as %s", mmc_retrieval_get_config(b)->cnn_norm);
    float ia[4 * 64], ta[3 * 64], ib[4 * 64], tb[3 * 64];
    REQUIRE(embed_fixed(a, ia, ta, &err) == MMC_OK && embed_fixed(b, ib, tb, &err) == MMC_OK, "embed: %s", err.msg);
    CHECK(!memcmp(ia, ib, sizeof ia) && !memcmp(ta, tb, sizeof ta), "embeddings differ after loading the old folder");
    mmc_retrieval_free(a);
    mmc_retrieval_free(b);
    test_rm_tmpdir(dir);
}

static float cosine(const float *a, const float *b, int n) {
    double d = 0, na = 0, nb = 0;
    for (int i = 0; i < n; i++) d += a[i] * b[i], na += a[i] * a[i], nb += b[i] * b[i];
    return (float)(d / sqrt(na * nb + 1e-30));
}

/* subword_buckets: an unknown word keeps a meaning through its character trigrams. With
 * fresh weights, two unknown words that share most trigrams embed close together and
 * unrelated ones do not (without subword features every unknown word is the same <unk>);
 * captions of known words agree whether the trigrams come from the text or the vocabulary
 * (the split matches the tokenizer's); the weights save and load. */
TEST(retrieval_subword_unknown_words) {
    static const char *texts[6] = {"trouser", "trousers", "qqqqq", "zebra", "a large red circle", "A  large RED circle"};
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-retr-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    mmc_error err = {0};
    for (int sub = 0; sub < 2; sub++) {
        mmc_retrieval_config c = tiny_config();
        c.max_len = 16;
        strcpy(c.text.encoder, "bag");
        c.subword_buckets = sub ? 4096 : 0;
        mmc_retrieval *m = mmc_retrieval_create(&c, tiny_vocab(&err), 7, &err);
        REQUIRE(m, "create: %s", err.msg);
        float e[6 * 64];
        REQUIRE(mmc_retrieval_embed_texts(m, texts, 6, e, &err) == MMC_OK, "embed: %s", err.msg);
        float near = cosine(e, e + 64, 64), far1 = cosine(e, e + 128, 64), far2 = cosine(e, e + 192, 64);
        printf("subword %d: cosine trouser/trousers %.4f, trouser/qqqqq %.4f, trouser/zebra %.4f\n", sub, near, far1, far2);
        if (!sub) CHECK(near > 0.9999f && far1 > 0.9999f, "without subword features unknown words should all be <unk> (%g, %g)", near, far1);
        else {
            /* the bag's start and end tokens are shared by all four: compare the distances */
            CHECK(1 - near < 0.3f * (1 - far1) && 1 - near < 0.3f * (1 - far2),
                  "trouser vs trousers: cosine %g, not much closer than vs qqqqq %g or zebra %g", near, far1, far2);
        }
        CHECK(cosine(e + 256, e + 320, 64) > 0.9999f, "case and spaces changed a caption's embedding");
        if (sub) {
            /* known words: trigrams from the text = trigrams from the vocabulary */
            int32_t ids[16], mask[16];
            REQUIRE(mmc_tokenizer_encode_batch(mmc_retrieval_tokenizer(m), texts + 4, 1, 16, ids, mask, &err) == MMC_OK, "%s", err.msg);
            mmc_ctx *ctx = mmc_ctx_new();
            mmc_grad_mode(ctx, 0);
            mmc_tensor *t = mmc_retrieval_encode_texts(ctx, m, ids, mask, 1, 16, 0);
            REQUIRE(t, "encode: %s", ctx->err.msg);
            float w = 0;
            for (int i = 0; i < 64; i++) w = fmaxf(w, fabsf(t->data[i] - e[256 + i]));
            CHECK(w < 1e-6f, "a known caption's embedding from ids and from text differ by %g", w);
            mmc_ctx_free(ctx);
            CHECK(mmc_params_find(mmc_retrieval_params(m), "text_encoder.ngram_embedding.weight") != NULL, "no trigram table");
            REQUIRE(mmc_retrieval_save(m, dir, NULL, &err) == MMC_OK, "save: %s", err.msg);
            mmc_retrieval *b = mmc_retrieval_load(dir, &err);
            REQUIRE(b, "load: %s", err.msg);
            float f[6 * 64];
            REQUIRE(mmc_retrieval_embed_texts(b, texts, 6, f, &err) == MMC_OK, "embed: %s", err.msg);
            CHECK(!memcmp(e, f, sizeof e), "embeddings differ after save and load");
            mmc_retrieval_free(b);
        }
        mmc_retrieval_free(m);
    }
    test_rm_tmpdir(dir);
}

/* Precise BN: with bn_recompute batches covering the whole training set, each BatchNorm's
 * running mean is the mean of its input over every training image at the final weights;
 * checked for the first layer against a convolution computed here. Without it the running
 * mean is a moving average and differs. */
TEST(retrieval_bn_recompute_running_mean) {
    char dir[64], run[2][128];
    REQUIRE(test_shapes_dir(dir, sizeof dir, "retr", 32, 8), "cannot make the dataset");
    float diff[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        snprintf(run[k], sizeof run[k], "%s/run%d", dir, k);
        mmc_retrieval_config c = tiny_config();
        strcpy(c.cnn_norm, "batch");
        c.bn_recompute = k ? 2 : 0; /* 2 batches of 16 = the 32 training images */
        mmc_error err = {0};
        REQUIRE(train_run(&c, dir, run[k], 6, 0, 0, NULL, &err) == MMC_OK, "train: %s", err.msg);
        mmc_retrieval *m = mmc_retrieval_load(run[k], &err);
        REQUIRE(m, "load: %s", err.msg);
        mmc_manifest *man = mmc_manifest_load(dir, "train", &err);
        REQUIRE(man, "manifest: %s", err.msg);
        float *chw = malloc(sizeof(float) * 32 * 3 * 32 * 32);
        for (int i = 0; i < 32; i++) {
            char path[512];
            mmc_image img = {0};
            snprintf(path, sizeof path, "%s/%s", man->dir, man->samples[i].image);
            REQUIRE(mmc_image_load(&img, path, 3, &err) == MMC_OK && mmc_retrieval_image_to_chw(m, &img, chw + (size_t)i * 3 * 32 * 32, &err) == MMC_OK,
                    "image: %s", err.msg);
            mmc_image_free(&img);
        }
        mmc_params *P = mmc_retrieval_params(m);
        mmc_tensor *w = mmc_params_find(P, "image_encoder.conv.0.weight"), *b = mmc_params_find(P, "image_encoder.conv.0.bias"),
                   *rm = mmc_params_find(P, "image_encoder.bn.0.running_mean");
        REQUIRE(w && rm, "conv.0 / bn.0 tensors missing");
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_grad_mode(ctx, 0);
        mmc_conv2d_opts o = mmc_conv2d_defaults();
        o.stride_h = o.stride_w = 2;
        o.pad_h = o.pad_w = 1;
        mmc_tensor *y = mmc_conv2d(ctx, mmc_tensor_from(ctx, 4, (int[]){32, 3, 32, 32}, chw), w, b, o); // (32, C, 16, 16)
        REQUIRE(y, "conv: %s", ctx->err.msg);
        int C = y->shape[1], HW = y->shape[2] * y->shape[3];
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int i = 0; i < 32; i++)
                for (int p = 0; p < HW; p++) s += y->data[((size_t)i * C + ch) * HW + p];
            diff[k] = fmaxf(diff[k], fabsf((float)(s / (32.0 * HW)) - rm->data[ch]));
        }
        mmc_ctx_free(ctx);
        free(chw);
        mmc_manifest_free(man);
        mmc_retrieval_free(m);
    }
    CHECK(diff[1] < 1e-4f, "with bn_recompute the running mean is off the data mean by %g", diff[1]);
    CHECK(diff[0] > 1e-3f, "without bn_recompute the running mean already equals the data mean (%g): the check cannot tell", diff[0]);
    test_rm_tmpdir(dir);
}

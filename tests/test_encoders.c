/* test_encoders.c — the encoder registry (src/models/encoder.h) as the tasks see it: every
 * task trains with every encoder of the modalities it needs and resumes bit-exactly
 * (6 steps straight == 3 steps, save, resume, 3 more: model and optimizer bytes equal),
 * the names resolve, pretrained-only towers and fusions an encoder cannot serve are
 * refused as bad input. Tiny shapes worlds at 16 px in /tmp. */
#include "test.h"
#include "../src/models/encoder.h"
#include <stdio.h>
#include <string.h>

typedef int (*train_fn)(const void *cfg, const mmc_retrieval_train_opts *o, mmc_error *err);
static int train_retrieval(const void *c, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_retrieval_train(c, o, err); }
static int train_caption(const void *c, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_caption_train(c, o, err); }
static int train_vqa(const void *c, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_vqa_train(c, o, err); }

static int run(train_fn f, const void *c, const char *data, const char *out, int steps, int stop_at, int resume, mmc_error *err) {
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data;
    o.run_dir = out;
    o.steps = steps;
    o.stop_at_step = stop_at;
    o.resume = resume;
    o.seed = 11;
    o.log_every = 100;
    return f(c, &o, err);
}

/* 6 steps straight against 3 + resume + 3, in dir/<tag>-{a,b} */
static void resume_exact(train_fn f, const void *c, const char *dir, const char *tag) {
    char ra[160], rb[160], pa[256], pb[256], why[1200] = "";
    snprintf(ra, sizeof ra, "%s/%s-a", dir, tag);
    snprintf(rb, sizeof rb, "%s/%s-b", dir, tag);
    mmc_error err = {0};
    REQUIRE(run(f, c, dir, ra, 6, 0, 0, &err) == MMC_OK, "%s straight: %s", tag, err.msg);
    REQUIRE(run(f, c, dir, rb, 6, 3, 0, &err) == MMC_OK, "%s first half: %s", tag, err.msg);
    REQUIRE(run(f, c, dir, rb, 6, 0, 1, &err) == MMC_OK, "%s resume: %s", tag, err.msg);
    snprintf(pa, sizeof pa, "%s/model.safetensors", ra);
    snprintf(pb, sizeof pb, "%s/model.safetensors", rb);
    CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "%s: model after resume: %s", tag, why);
    snprintf(pa, sizeof pa, "%s/optimizer.safetensors", ra);
    snprintf(pb, sizeof pb, "%s/optimizer.safetensors", rb);
    CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "%s: optimizer after resume: %s", tag, why);
}

/* the tiny sizes of each image encoder, written into any task config with these keys */
#define TINY_IMAGE(c)                                                   \
    do {                                                                \
        (c).image_size = 16;                                            \
        int w_[6] = {4, 8, 0, 0, 0, 0}, rl_[4] = {1, 1, 1, 1}, rw_[4] = {4, 4, 8, 8}; \
        memcpy((c).image.cnn_widths, w_, sizeof w_);                          \
        memcpy((c).image.resnet_layers, rl_, sizeof rl_);                     \
        memcpy((c).image.resnet_widths, rw_, sizeof rw_);                     \
        (c).image.vit_patch = 8, (c).image.vit_dim = 8, (c).image.vit_depth = 1, (c).image.vit_heads = 2; \
    } while (0)

TEST(encoder_registry_names) {
    CHECK(enc_image_find("cnn") && enc_image_find("resnet") && enc_image_find("vit") && enc_image_find("clip-vision"),
          "image encoders missing");
    CHECK(enc_text_find("bag") && enc_text_find("gru") && enc_text_find("lstm") && enc_text_find("transformer") &&
              enc_text_find("clip-text") && enc_text_find("bert"),
          "text encoders missing");
    CHECK(!enc_image_find("gru") && !enc_text_find("cnn") && !enc_find(MMC_MOD_VIDEO, "cnn"), "names leak across modalities");
    CHECK(!strcmp(enc_names(MMC_MOD_IMAGE), "cnn, resnet, vit"), "image names: %s", enc_names(MMC_MOD_IMAGE));
    CHECK(!strcmp(enc_names(MMC_MOD_TEXT), "bag, gru, lstm, transformer"), "text names: %s", enc_names(MMC_MOD_TEXT));
    mmc_error err = {0};
    CHECK(enc_check_name(MMC_MOD_IMAGE, "clip-vision", "cfg", "image_encoder", &err) == MMC_ERR_INPUT && strstr(err.msg, "pretrained"),
          "clip-vision: %s", err.msg);
    /* a task config naming a pretrained tower or an unknown encoder is bad input */
    mmc_retrieval_config r = mmc_retrieval_config_default();
    CHECK(mmc_retrieval_config_parse(&r, "{\"text_encoder\": \"bert\"}", 24, "cfg", &err) == MMC_ERR_INPUT &&
              strstr(err.msg, "bert") && strstr(err.msg, "pretrained"),
          "bert accepted: %s", err.msg);
    mmc_caption_config cc = mmc_caption_config_default();
    CHECK(mmc_caption_config_parse(&cc, "{\"task\":\"caption\",\"image_encoder\":\"mlp\"}", 40, "cfg", &err) == MMC_ERR_INPUT &&
              strstr(err.msg, "cnn, resnet, vit"),
          "mlp accepted: %s", err.msg);
}

TEST(encoder_vqa_fusion_refuses_encoder) {
    static const char *const bad[][2] = {{"hybrid", "resnet"}, {"early", "vit"}, {"joint", "resnet"}, {"none", "vit"}};
    for (int i = 0; i < 4; i++) {
        mmc_vqa_config c = mmc_vqa_config_default("vqa", bad[i][0]);
        TINY_IMAGE(c);
        c.pool_grid = 2;
        char text[96];
        int n = snprintf(text, sizeof text, "{\"image_encoder\": \"%s\"}", bad[i][1]);
        mmc_error err = {0};
        CHECK(mmc_vqa_config_parse(&c, text, (size_t)n, "cfg", &err) == MMC_ERR_INPUT && strstr(err.msg, "image_encoder must be cnn"),
              "%s with %s: %s", bad[i][0], bad[i][1], err.msg);
    }
    mmc_vqa_config c = mmc_vqa_config_default("vqa", "late");
    TINY_IMAGE(c);
    c.pool_grid = 2;
    mmc_error err = {0};
    CHECK(mmc_vqa_config_parse(&c, "{\"image_encoder\": \"vit\"}", 25, "cfg", &err) == MMC_OK, "late with vit: %s", err.msg);
}

TEST(encoder_retrieval_every_encoder_resumes) {
    /* every image encoder and every text encoder at least once */
    static const char *const pairs[][2] = {{"cnn", "gru"}, {"resnet", "bag"}, {"vit", "lstm"}, {"cnn", "transformer"}};
    char dir[64];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "enc-retr", 16, 4, 5, 16), "cannot make the dataset");
    for (int i = 0; i < 4; i++) {
        mmc_retrieval_config c = mmc_retrieval_config_default();
        TINY_IMAGE(c);
        strcpy(c.image.encoder, pairs[i][0]);
        strcpy(c.text.encoder, pairs[i][1]);
        c.pool_grid = 2, c.text.word_dim = 8, c.text.text_hidden = 8, c.text.text_heads = 2, c.embed_dim = 8;
        c.batch_size = 6, c.warmup_steps = 2, c.bn_recompute = 2, c.dropout = 0.1f;
        char tag[32];
        snprintf(tag, sizeof tag, "%s-%s", pairs[i][0], pairs[i][1]);
        resume_exact(train_retrieval, &c, dir, tag);
    }
    test_rm_tmpdir(dir);
}

TEST(encoder_caption_every_encoder_resumes) {
    static const char *const img[] = {"cnn", "resnet", "vit"};
    char dir[64];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "enc-cap", 16, 4, 5, 16), "cannot make the dataset");
    for (int i = 0; i < 3; i++) {
        mmc_caption_config c = mmc_caption_config_default();
        TINY_IMAGE(c);
        strcpy(c.image.encoder, img[i]);
        c.pool_grid = 2, c.word_dim = 8, c.hidden = 8, c.dec_heads = 2, c.dec_layers = 1;
        c.batch_size = 6, c.warmup_steps = 2, c.val_max_images = 4, c.dropout = 0.1f;
        resume_exact(train_caption, &c, dir, img[i]);
    }
    test_rm_tmpdir(dir);
}

TEST(encoder_vqa_every_encoder_resumes) {
    /* late takes every image encoder; every text encoder with the default (hybrid) too */
    static const char *const runs[][3] = {{"late", "resnet", "bag"}, {"late", "vit", "lstm"}, {"late", "cnn", "gru"},
                                          {"hybrid", "cnn", "transformer"}};
    char dir[64];
    REQUIRE(test_shapes_dir_at(dir, sizeof dir, "enc-vqa", 16, 4, 5, 16), "cannot make the dataset");
    for (int i = 0; i < 4; i++) {
        mmc_vqa_config c = mmc_vqa_config_default("vqa", runs[i][0]);
        TINY_IMAGE(c);
        strcpy(c.image.encoder, runs[i][1]);
        strcpy(c.text.encoder, runs[i][2]);
        memset(c.image.cnn_strides, 0, sizeof c.image.cnn_strides);
        c.pool_grid = 2, c.image_dim = 8, c.text.word_dim = 6, c.text.text_hidden = 8, c.text.text_heads = 2, c.fuse_dim = 8, c.hidden = 8;
        c.film_from = 1, c.batch_images = 4, c.per_image = 2, c.dropout = 0.1f;
        char tag[48];
        snprintf(tag, sizeof tag, "%s-%s-%s", runs[i][0], runs[i][1], runs[i][2]);
        resume_exact(train_vqa, &c, dir, tag);
    }
    test_rm_tmpdir(dir);
}

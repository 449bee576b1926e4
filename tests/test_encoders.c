/* test_encoders.c — the encoder registry (src/models/encoder.h) as the tasks see it: every
 * task trains with every encoder of the modalities it needs and resumes bit-exactly
 * (6 steps straight == 3 steps, save, resume, 3 more: model and optimizer bytes equal),
 * the names resolve, pretrained-only towers and fusions an encoder cannot serve are
 * refused as bad input. Tiny shapes worlds at 16 px in /tmp. */
#include "test.h"
#include "../src/models/encoder.h"
#include "../src/models/retrieval_internal.h"
#include "../src/models/task_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The encoders' keys live in one place (their sub-tables, over mmc_image_encoder_opts /
 * mmc_text_encoder_opts), stand flat in every task's config.json, and a task refuses the
 * ones it does not take; caption's word_dim is its decoder's, not a text encoder's. */
TEST(encoder_keys_one_table) {
    mmc_error err = {0};
    mmc_retrieval_config r = mmc_retrieval_config_default();
    static const char rj[] = "{\"image_encoder\": \"vit\", \"vit_patch\": 16, \"word_dim\": 32, \"text_layers\": 2}";
    REQUIRE(mmc_retrieval_config_parse(&r, rj, strlen(rj), "cfg", &err) == MMC_OK, "retrieval: %s", err.msg);
    CHECK(!strcmp(r.image.encoder, "vit") && r.image.vit_patch == 16 && r.text.word_dim == 32 && r.text.text_layers == 2,
          "retrieval keys not in .image / .text");
    char *js = mmc_retrieval_config_to_json(&r);
    REQUIRE(js, "to_json");
    const char *at = strstr(js, "\"vit_patch\"");
    CHECK(at && !strstr(at + 1, "\"vit_patch\"") && strstr(js, "\"word_dim\"") && !strstr(js, "\"cnn_strides\"") &&
              !strstr(js, "\"coord\""),
          "retrieval writes each of its keys once, and none it does not take: %s", js);
    mmc_free(js);
    static const char *const refused[][2] = {{"r", "{\"cnn_strides\": [1]}"}, {"r", "{\"coord\": 1}"},
                                             {"c", "{\"task\": \"caption\", \"text_hidden\": 8}"},
                                             {"c", "{\"task\": \"caption\", \"norm_groups\": 4}"},
                                             {"c", "{\"task\": \"caption\", \"text_encoder\": \"gru\"}"},
                                             {"v", "{\"cnn_depth\": 2}"}, {"v", "{\"norm_groups\": 4}"}};
    for (int i = 0; i < 7; i++) {
        const char *text = refused[i][1];
        mmc_caption_config c = mmc_caption_config_default();
        mmc_vqa_config v = mmc_vqa_config_default("vqa", NULL);
        mmc_retrieval_config rr = mmc_retrieval_config_default();
        int rc = refused[i][0][0] == 'r'   ? mmc_retrieval_config_parse(&rr, text, strlen(text), "cfg", &err)
                 : refused[i][0][0] == 'c' ? mmc_caption_config_parse(&c, text, strlen(text), "cfg", &err)
                                           : mmc_vqa_config_parse(&v, text, strlen(text), "cfg", &err);
        CHECK(rc == MMC_ERR_INPUT && strstr(err.msg, "unknown key"), "%s accepted by %s: %s", text, refused[i][0], err.msg);
    }
    mmc_caption_config c = mmc_caption_config_default();
    static const char cj[] = "{\"task\": \"caption\", \"word_dim\": 24}";
    REQUIRE(mmc_caption_config_parse(&c, cj, strlen(cj), "cfg", &err) == MMC_OK, "%s", err.msg);
    CHECK(c.word_dim == 24, "caption's word_dim (the decoder's) is %d", c.word_dim);
    /* an encoder's own check, through every task: vit needs image_size a multiple of vit_patch */
    static const char vj[] = "{\"image_encoder\": \"vit\", \"image_size\": 60}";
    r = mmc_retrieval_config_default();
    CHECK(mmc_retrieval_config_parse(&r, vj, strlen(vj), "cfg", &err) == MMC_ERR_INPUT && strstr(err.msg, "vit_patch"), "vit: %s",
          err.msg);
    mmc_image_encoder_opts io = mmc_image_encoder_defaults();
    mmc_text_encoder_opts to = mmc_text_encoder_defaults();
    CHECK(!strcmp(io.encoder, "cnn") && io.cnn_widths[3] == 128 && io.vit_patch == 8 && io.resnet_layers[0] == 1 &&
              !strcmp(to.encoder, "gru") && to.word_dim == 64 && to.text_hidden == 128 && to.text_heads == 4,
          "the registry's defaults");
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

/* ------------------------------------------------------------------ video */

/* A tiny moving-shapes world (16 px, 4 frames) in /tmp/mmc-PREFIX-XXXXXX. */
static int video_dir(char *dir, size_t n, const char *prefix, int n_train, int n_val) {
    snprintf(dir, n, "/tmp/mmc-%s-XXXXXX", prefix);
    if (!mkdtemp(dir)) return 0;
    mmc_error err = {0};
    if (mmc_shapes_write_video_split(dir, "train", n_train, 5, 16, 4, 4, NULL, NULL, &err)) return 0;
    return !n_val || !mmc_shapes_write_video_split(dir, "val", n_val, 5, 16, 4, 4, NULL, NULL, &err);
}

static void tiny_video(mmc_retrieval_config *c, const char *venc, const char *frame) {
    *c = mmc_retrieval_config_default();
    TINY_IMAGE(*c);
    strcpy(c->target, "video");
    strcpy(c->video.encoder, venc);
    strcpy(c->video.frame_encoder, frame);
    c->video.frames = 4, c->video.temporal_hidden = 8, c->video.temporal_heads = 2;
    c->pool_grid = 2, c->text.word_dim = 8, c->text.text_hidden = 8, c->embed_dim = 8;
    c->batch_size = 6, c->warmup_steps = 2, c->bn_recompute = 2, c->dropout = 0.1f;
}

TEST(encoder_video_registry) {
    CHECK(!strcmp(enc_names(MMC_MOD_VIDEO), "gru, mean, transformer, early"), "video names: %s", enc_names(MMC_MOD_VIDEO));
    mmc_video_encoder_opts o = mmc_video_encoder_defaults();
    CHECK(!strcmp(o.encoder, "early") && !strcmp(o.frame_encoder, "cnn") && o.frames == 8 && o.temporal_hidden == 128 &&
              o.temporal_layers == 1 && o.temporal_heads == 4,
          "the video defaults");
    mmc_retrieval_config r = mmc_retrieval_config_default();
    CHECK(!strcmp(r.target, "image"), "retrieval's default target is %s", r.target);
    /* bad video configs name the key (the CLI exits 2 on them) */
    static const char *const bad[][2] = {
        {"{\"target\": \"audio\"}", "target"},
        {"{\"target\": \"video\", \"video_encoder\": \"lstm\"}", "video_encoder"},
        {"{\"target\": \"video\", \"video_frame_encoder\": \"gru\"}", "video_frame_encoder"},
        {"{\"target\": \"video\", \"video_frame_encoder\": \"clip-vision\"}", "pretrained"},
        {"{\"target\": \"video\", \"video_encoder\": \"early\", \"video_frame_encoder\": \"vit\"}", "video_frame_encoder"},
        {"{\"target\": \"video\", \"video_frames\": 0}", "video_frames"},
        {"{\"target\": \"video\", \"video_frames\": 65}", "video_frames"},
        {"{\"target\": \"video\", \"video_encoder\": \"transformer\", \"temporal_hidden\": 10}", "temporal_hidden"},
        {"{\"target\": \"video\", \"video_encoder\": \"gru\", \"temporal_layers\": 3}", "temporal_layers"},
        {"{\"target\": \"video\", \"temporal_heads\": 0}", "temporal_heads"},
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        mmc_error err = {0};
        r = mmc_retrieval_config_default();
        CHECK(mmc_retrieval_config_parse(&r, bad[i][0], strlen(bad[i][0]), "cfg", &err) == MMC_ERR_INPUT && strstr(err.msg, bad[i][1]),
              "%s: %s", bad[i][0], err.msg);
    }
    /* the keys stand flat in config.json, read back the same */
    mmc_error err = {0};
    static const char ok[] = "{\"target\": \"video\", \"video_encoder\": \"transformer\", \"video_frames\": 6, \"temporal_hidden\": 16}";
    r = mmc_retrieval_config_default();
    REQUIRE(mmc_retrieval_config_parse(&r, ok, strlen(ok), "cfg", &err) == MMC_OK, "%s", err.msg);
    char *js = mmc_retrieval_config_to_json(&r);
    mmc_retrieval_config back = mmc_retrieval_config_default();
    REQUIRE(js && mmc_retrieval_config_parse(&back, js, strlen(js), "json", &err) == MMC_OK, "round trip: %s", err.msg);
    CHECK(!strcmp(back.target, "video") && !strcmp(back.video.encoder, "transformer") && back.video.frames == 6 &&
              back.video.temporal_hidden == 16,
          "round trip: %s", js);
    mmc_free(js);
}

TEST(encoder_retrieval_every_video_encoder_resumes) {
    /* every temporal module and early fusion; frame encoders other than the cnn by name */
    static const char *const runs[][2] = {{"gru", "cnn"}, {"mean", "cnn"}, {"transformer", "cnn"}, {"early", "cnn"},
                                          {"gru", "resnet"}, {"transformer", "vit"}};
    char dir[64];
    REQUIRE(video_dir(dir, sizeof dir, "enc-vid", 16, 4), "cannot make the video dataset");
    for (int i = 0; i < (int)(sizeof runs / sizeof runs[0]); i++) {
        mmc_retrieval_config c;
        tiny_video(&c, runs[i][0], runs[i][1]);
        char tag[48];
        snprintf(tag, sizeof tag, "video-%s-%s", runs[i][0], runs[i][1]);
        resume_exact(train_retrieval, &c, dir, tag);
    }
    /* the run evaluates text->video on its clips */
    char run[128];
    snprintf(run, sizeof run, "%s/video-gru-cnn-a", dir);
    mmc_error err = {0};
    mmc_retrieval *m = mmc_retrieval_load(run, &err);
    REQUIRE(m, "load: %s", err.msg);
    CHECK(mmc_retrieval_video_frames(m) == 4, "frames %d", mmc_retrieval_video_frames(m));
    mmc_retrieval_metrics mt;
    CHECK(mmc_retrieval_evaluate(m, dir, "val", 0, &mt, &err) == MMC_OK && mt.n_images == 4 && mt.n_texts == 12, "eval: %s", err.msg);
    float e[8];
    CHECK(mmc_retrieval_embed_chw(m, (float[3 * 16 * 16]){0}, 1, e, &err) == MMC_ERR_USAGE && strstr(err.msg, "clips"),
          "a video model embedding an image: %s", err.msg);
    mmc_retrieval_free(m);
    test_rm_tmpdir(dir);
}

/* The clip of seed and the same clip played backwards, as (2·T, 3, S, S) floats in x: the
 * two clips' frames in time order. 0 when the world cannot make it, or the clip is its own
 * reverse. */
enum { REV_T = 4, REV_S = 16 };
static int clip_and_reverse(uint64_t seed, float *x, mmc_error *err) {
    mmc_shapes_clip clip;
    static uint8_t rgb[2][REV_T * REV_S * REV_S * 3];
    if (mmc_shapes_clip_make(seed, "test", 0, REV_S, REV_T, &clip, rgb[0], NULL, err) != MMC_OK) return 0;
    mmc_shapes_clip_reverse(&clip);
    mmc_shapes_clip_render(&clip, rgb[1]);
    for (int c = 0; c < 2; c++)
        for (int t = 0; t < REV_T; t++) task_images_chw(rgb[c], REV_S, t, 0, 0, x + ((size_t)c * REV_T + t) * 3 * REV_S * REV_S);
    return memcmp(rgb[0], rgb[1], sizeof rgb[0]) != 0;
}

/* The video encoder `name` over a tiny cnn (pool_grid g), from a fixed seed, into P. */
static int tiny_video_encoder(enc_video *e, const char *name, int g, mmc_params *P, mmc_error *err) {
    mmc_retrieval_config rc;
    tiny_video(&rc, name, "cnn");
    rc.dropout = 0;
    if (g) rc.pool_grid = g;
    enc_video_cfg vc;
    ret_video_cfg(&rc, &vc);
    mmc_rng rng;
    mmc_rng_seed(&rng, 7, 1);
    return enc_video_init(e, enc_video_find(name), &vc, P, "video_encoder", &rng, &rng, err);
}

/* |a - b| / |a| over n values */
static double rel_diff(const float *a, const float *b, size_t n) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        diff += d * d;
        norm += (double)a[i] * a[i];
    }
    return sqrt(diff / (norm > 0 ? norm : 1));
}

/* meanP cannot tell a clip from its reverse (the same embedding, up to the order of a
 * float sum); gru, transformer and early fusion can. */
TEST(video_encoder_time_reversal) {
    enum { T = REV_T, S = REV_S };
    mmc_error err = {0};
    static float x[2 * T * 3 * S * S];
    REQUIRE(clip_and_reverse(3, x, &err), "no clip that differs from its reverse: %s", err.msg);
    static const char *const names[] = {"mean", "gru", "transformer", "early"};
    for (int k = 0; k < 4; k++) {
        mmc_params P = {0};
        enc_video e;
        REQUIRE(tiny_video_encoder(&e, names[k], 0, &P, &err) == MMC_OK, "%s: %s", names[k], err.msg);
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_grad_mode(ctx, 0);
        mmc_tensor *h = enc_video_forward(ctx, &e, mmc_tensor_from(ctx, 4, (int[]){2 * T, 3, S, S}, x), 0); // (2, F)
        REQUIRE(h && h->shape[0] == 2, "%s: %s", names[k], ctx->err.msg);
        int F = h->shape[1];
        double rel = rel_diff(h->data, h->data + F, (size_t)F);
        if (k == 0) CHECK(rel < 1e-5, "mean: a clip and its reverse differ by %g", rel);
        else CHECK(rel > 1e-3, "%s: a clip and its reverse embed alike (%g)", names[k], rel);
        mmc_ctx_free(ctx);
        mmc_params_free(&P);
    }
}

/* video captioning on every video encoder (the tokens are the decoder's regions) and video
 * QA (frames stacked as channels) under early, late and hybrid fusion: N steps straight
 * equal N/2 + resume + N/2, and the runs evaluate on clips. */
TEST(encoder_video_caption_and_vqa_resume) {
    char dir[64];
    REQUIRE(video_dir(dir, sizeof dir, "enc-vcap", 16, 4), "cannot make the video dataset");
    static const char *const venc[] = {"early", "mean", "gru", "transformer"};
    for (int i = 0; i < 4; i++) {
        mmc_caption_config c = mmc_caption_config_default();
        TINY_IMAGE(c);
        strcpy(c.target, "video");
        strcpy(c.video.encoder, venc[i]);
        c.video.frames = 4, c.video.temporal_hidden = 8, c.video.temporal_heads = 2;
        c.pool_grid = 2, c.word_dim = 8, c.hidden = 8, c.dec_heads = 2, c.dec_layers = 1;
        c.batch_size = 6, c.warmup_steps = 2, c.val_max_images = 4, c.dropout = 0.1f;
        char tag[48];
        snprintf(tag, sizeof tag, "cap-%s", venc[i]);
        resume_exact(train_caption, &c, dir, tag);
    }
    static const char *const fus[] = {"early", "late", "hybrid"};
    for (int i = 0; i < 3; i++) {
        mmc_vqa_config c = mmc_vqa_config_default("vqa", fus[i]);
        TINY_IMAGE(c);
        strcpy(c.target, "video");
        c.video.frames = 4;
        memset(c.image.cnn_strides, 0, sizeof c.image.cnn_strides);
        c.pool_grid = 2, c.image_dim = 8, c.text.word_dim = 6, c.text.text_hidden = 8, c.fuse_dim = 8, c.hidden = 8;
        c.early_stage = 1, c.film_from = 1, c.batch_images = 4, c.per_image = 2, c.dropout = 0.1f;
        char tag[48];
        snprintf(tag, sizeof tag, "vqa-%s", fus[i]);
        resume_exact(train_vqa, &c, dir, tag);
    }
    mmc_error err = {0};
    char run[128];
    snprintf(run, sizeof run, "%s/cap-gru-a", dir);
    mmc_captioner *cm = mmc_captioner_load(run, NULL, &err);
    REQUIRE(cm, "caption load: %s", err.msg);
    mmc_caption_opts co = mmc_caption_opts_default(cm);
    mmc_caption_metrics cmt;
    CHECK(mmc_captioner_evaluate(cm, dir, "val", &co, 0, &cmt, &err) == MMC_OK && cmt.n_images == 4, "caption eval on clips: %s", err.msg);
    co.beam = 2; /* the per-clip path */
    CHECK(mmc_captioner_evaluate(cm, dir, "val", &co, 0, &cmt, &err) == MMC_OK && cmt.n_images == 4, "caption beam eval: %s", err.msg);
    /* keyframes: a clip of one frame repeated loses nothing when a frame is replaced by its
     * neighbour (every drop exactly 0); a moving clip does */
    {
        enum { T = 4, S = 16 };
        static float still[T * 3 * S * S], moving[T * 3 * S * S];
        static uint8_t rgb[T * S * S * 3];
        mmc_shapes_clip clip;
        REQUIRE(mmc_shapes_clip_make(3, "test", 0, S, T, &clip, rgb, NULL, &err) == MMC_OK, "%s", err.msg);
        for (int t = 0; t < T; t++) {
            task_images_chw(rgb, S, t, 0, 0, moving + (size_t)t * 3 * S * S);
            task_images_chw(rgb, S, 0, 0, 0, still + (size_t)t * 3 * S * S);
        }
        int32_t ids[3] = {4, 5, 6};
        float d0[T], d1[T];
        CHECK(mmc_captioner_frame_importance(cm, still, ids, 3, 1, d0, &err) == MMC_OK, "importance: %s", err.msg);
        CHECK(mmc_captioner_frame_importance(cm, moving, ids, 3, 1, d1, &err) == MMC_OK, "importance: %s", err.msg);
        float any = 0;
        for (int t = 0; t < T; t++) {
            CHECK(d0[t] == 0.0f, "a still clip: frame %d drop %g", t, d0[t]);
            any += fabsf(d1[t]);
        }
        CHECK(any > 0, "a moving clip: no frame changes the summary's log-probability");
    }
    mmc_captioner_free(cm);
    snprintf(run, sizeof run, "%s/vqa-late-a", dir);
    mmc_vqa *vm = mmc_vqa_load(run, NULL, &err);
    REQUIRE(vm, "vqa load: %s", err.msg);
    CHECK(mmc_vqa_frames(vm) == 4, "vqa frames %d", mmc_vqa_frames(vm));
    mmc_vqa_metrics vmt;
    CHECK(mmc_vqa_evaluate(vm, dir, "val", 0, &vmt, &err) == MMC_OK && vmt.n > 0, "vqa eval on clips: %s", err.msg);
    int top;
    float prob;
    mmc_image img = {0};
    CHECK(mmc_vqa_answer(vm, &img, "what moves?", 1, &top, &prob, &err) == MMC_ERR_USAGE && strstr(err.msg, "clips"),
          "a video vqa model answering about an image: %s", err.msg);
    mmc_vqa_free(vm);
    /* vqa on video: only the stacked frames; no joint */
    mmc_vqa_config bad = mmc_vqa_config_default("vqa", "late");
    strcpy(bad.target, "video");
    strcpy(bad.video.encoder, "gru");
    CHECK(mmc_vqa_config_check(&bad, "cfg", &err) == MMC_ERR_INPUT && strstr(err.msg, "video_encoder"), "vqa gru: %s", err.msg);
    bad = mmc_vqa_config_default("vqa", "joint");
    strcpy(bad.target, "video");
    CHECK(mmc_vqa_config_check(&bad, "cfg", &err) == MMC_ERR_INPUT && strstr(err.msg, "joint"), "vqa joint: %s", err.msg);
    test_rm_tmpdir(dir);
}

/* enc_video_tokens: shapes per encoder; meanP's tokens are the same for a clip and its
 * reverse, the others' differ. */
TEST(video_encoder_tokens) {
    enum { T = REV_T, S = REV_S };
    mmc_error err = {0};
    static float x[2 * T * 3 * S * S];
    REQUIRE(clip_and_reverse(5, x, &err), "no clip that differs from its reverse: %s", err.msg);
    static const char *const names[] = {"mean", "gru", "transformer", "early"};
    for (int k = 0; k < 4; k++) {
        mmc_params P = {0};
        enc_video e;
        REQUIRE(tiny_video_encoder(&e, names[k], 2, &P, &err) == MMC_OK, "%s: %s", names[k], err.msg);
        int wantL = k == 1 || k == 2 ? T : 4; /* gru, transformer: a token per frame; mean, early: the 2×2 cells */
        CHECK(e.tok_L == wantL, "%s: tok_L %d, want %d", names[k], e.tok_L, wantL);
        mmc_ctx *ctx = mmc_ctx_new();
        mmc_grad_mode(ctx, 0);
        mmc_tensor *h = enc_video_tokens(ctx, &e, mmc_tensor_from(ctx, 4, (int[]){2 * T, 3, S, S}, x), 0);
        REQUIRE(h && h->ndim == 3 && h->shape[0] == 2 && h->shape[1] == e.tok_L && h->shape[2] == e.tok_C, "%s tokens: %s", names[k],
                ctx->err.msg);
        size_t F = (size_t)e.tok_L * e.tok_C;
        double rel = rel_diff(h->data, h->data + F, F);
        if (k == 0) CHECK(rel < 1e-5, "mean tokens: a clip and its reverse differ by %g", rel);
        else CHECK(rel > 1e-3, "%s tokens: a clip and its reverse alike (%g)", names[k], rel);
        CHECK(!enc_video_tokens(ctx, &e, mmc_tensor_from(ctx, 4, (int[]){T + 1, 3, S, S}, x), 0) && ctx->err.code == MMC_ERR_USAGE,
              "%s: %d frames taken as clips of %d", names[k], T + 1, T);
        mmc_ctx_free(ctx);
        mmc_params_free(&P);
    }
}

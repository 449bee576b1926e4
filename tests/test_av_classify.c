/* test_av_classify.c — audio-visual classification (`mmc train classify --inputs
 * video,audio`): the fusion model with the sound track in the question's place (query
 * "audio"), the frames alone (query "none") and the sound alone (fusion none), on a tiny
 * sounding-shapes split: refused configs, training, evaluation, answering a file, resume
 * bit for bit. */
#include "test.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

static mmc_vqa_config av_cfg(const char *fusion, const char *query) {
    mmc_vqa_config c = mmc_vqa_config_default("classify", fusion);
    strcpy(c.target, "video");
    strcpy(c.query, query);
    c.image_size = 16;
    int w[6] = {4, 6, 0, 0, 0, 0}, st[6] = {2, 2, 0, 0, 0, 0};
    memcpy(c.image.cnn_widths, w, sizeof w);
    memcpy(c.image.cnn_strides, st, sizeof st);
    c.pool_grid = 2;
    c.image_dim = 8;
    c.fuse_dim = 8;
    c.hidden = 8;
    c.early_stage = 1;
    c.early_dim = 3;
    c.film_from = 1;
    c.dropout = 0.1f;
    c.max_len = 0;
    c.batch_images = 6;
    c.lr = 5e-3f;
    c.audio.channels = 8;
    c.audio.hidden = 6;
    c.video.frames = 4;
    return c;
}

static int run(const mmc_vqa_config *c, const char *data, const char *out, int64_t steps, int64_t stop_at, int resume, mmc_error *err) {
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data;
    o.run_dir = out;
    o.steps = steps;
    o.stop_at_step = stop_at;
    o.resume = resume;
    o.seed = 5;
    o.log_every = 5;
    return mmc_vqa_train(c, &o, err);
}

TEST(av_classify_config_refused) {
    static const char *bad[][3] = {
        {"vqa", "hybrid", "audio"},     /* the sound track stands in for a question only in classify */
        {"classify", "hybrid", "none"}, /* frames alone: late */
        {"classify", "joint", "audio"}, /* joint reads tokens */
    };
    for (int i = 0; i < 3; i++) {
        mmc_vqa_config c = mmc_vqa_config_default(bad[i][0], bad[i][1]);
        strcpy(c.query, bad[i][2]);
        mmc_error err = {0};
        CHECK(mmc_vqa_config_check(&c, "cfg.json", &err) == MMC_ERR_INPUT && strstr(err.msg, "cfg.json"), "accepted %s/%s/%s: %s",
              bad[i][0], bad[i][1], bad[i][2], err.msg);
    }
    mmc_vqa_config c = mmc_vqa_config_default("classify", "late"), d = c;
    const char *js = "{\"query\": \"audio\", \"audio_encoder\": \"mean\", \"audio_channels\": 16}";
    mmc_error err = {0};
    REQUIRE(mmc_vqa_config_parse(&c, js, strlen(js), "x", &err) == MMC_OK, "%s", err.msg);
    CHECK(!strcmp(c.query, "audio") && !strcmp(c.audio.encoder, "mean") && c.audio.channels == 16, "the audio keys did not parse");
    js = "{\"query\": \"speech\"}";
    CHECK(mmc_vqa_config_parse(&d, js, strlen(js), "x", &err) == MMC_ERR_INPUT, "query speech accepted");
    CHECK(!strcmp(mmc_vqa_config_default("classify", NULL).query, "text"), "the default query is not text");
}

TEST(av_classify_train_eval_resume) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-avc-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    mmc_error err = {0};
    REQUIRE(mmc_shapes_write_av_split(dir, "train", 18, 4, 16, 4, 4, NULL, NULL, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(mmc_shapes_write_av_split(dir, "val", 7, 4, 16, 4, 4, NULL, NULL, &err) == MMC_OK, "%s", err.msg);
    static const char *kinds[][2] = {{"hybrid", "audio"}, {"early", "audio"}, {"late", "audio"}, {"late", "none"}, {"none", "audio"}};
    for (int k = 0; k < 5; k++) {
        char ra[160], rb[160], pa[256], pb[256], why[1200] = "";
        snprintf(ra, sizeof ra, "%s/%s-%s-a", dir, kinds[k][0], kinds[k][1]);
        snprintf(rb, sizeof rb, "%s/%s-%s-b", dir, kinds[k][0], kinds[k][1]);
        mmc_vqa_config c = av_cfg(kinds[k][0], kinds[k][1]);
        REQUIRE(run(&c, dir, ra, 7, 0, 0, &err) == MMC_OK, "%s/%s: %s", kinds[k][0], kinds[k][1], err.msg);
        /* 3 steps an epoch: the checkpoint at 4 is mid-epoch */
        REQUIRE(run(&c, dir, rb, 7, 4, 0, &err) == MMC_OK, "%s/%s first part: %s", kinds[k][0], kinds[k][1], err.msg);
        REQUIRE(run(&c, dir, rb, 7, 0, 1, &err) == MMC_OK, "%s/%s resume: %s", kinds[k][0], kinds[k][1], err.msg);
        snprintf(pa, sizeof pa, "%s/model.safetensors", ra);
        snprintf(pb, sizeof pb, "%s/model.safetensors", rb);
        CHECK(test_same_tensors_file(pa, pb, why, sizeof why), "%s/%s: resumed model differs: %s", kinds[k][0], kinds[k][1], why);
        mmc_vqa *m = mmc_vqa_load(ra, NULL, &err);
        REQUIRE(m, "load: %s", err.msg);
        mmc_vqa_metrics mt;
        REQUIRE(mmc_vqa_evaluate(m, dir, "val", 0, &mt, &err) == MMC_OK, "evaluate: %s", err.msg);
        CHECK(mt.n == 7, "%s/%s: %d samples evaluated, want 7 (one a clip)", kinds[k][0], kinds[k][1], mt.n);
        /* answering one file: the same answer as the evaluation's for that clip */
        mmc_manifest *man = mmc_manifest_load(dir, "val", &err);
        REQUIRE(man, "%s", err.msg);
        char clip[256];
        snprintf(clip, sizeof clip, "%s/%s", dir, man->samples[0].video);
        int top[3];
        float prob[3];
        CHECK(mmc_vqa_answer_file(m, clip, NULL, 3, top, prob, &err) == MMC_OK, "answer %s: %s", clip, err.msg);
        CHECK(prob[0] >= prob[1] && prob[1] >= prob[2] && prob[0] > 0 && prob[0] <= 1, "probabilities %g %g %g", prob[0], prob[1], prob[2]);
        if (!strcmp(kinds[k][1], "audio")) { /* a file without a sound track: refused, named */
            snprintf(clip, sizeof clip, "%s/%s", dir, man->samples[0].image);
            CHECK(mmc_vqa_answer_file(m, clip, NULL, 1, top, prob, &err) != MMC_OK, "an image answered as a clip with sound");
        }
        mmc_manifest_free(man);
        mmc_vqa_free(m);
    }
    test_rm_tmpdir(dir);
}

/* Every task's config.json names each key once (keys that two encoders share, like
 * text_hidden of gru and lstm, were written once per encoder). */
static int dup_key(const char *js, char *which, size_t n) {
    cJSON *o = cJSON_Parse(js);
    int dup = !o;
    for (const cJSON *a = o ? o->child : NULL; a && !dup; a = a->next)
        for (const cJSON *b = a->next; b && !dup; b = b->next)
            if (!strcmp(a->string, b->string)) dup = 1, snprintf(which, n, "%s", a->string);
    cJSON_Delete(o);
    return dup;
}
TEST(config_json_keys_once) {
    mmc_retrieval_config rc = mmc_retrieval_config_default();
    mmc_caption_config cc = mmc_caption_config_default();
    mmc_vqa_config vc = mmc_vqa_config_default("classify", NULL);
    char *js[3] = {mmc_retrieval_config_to_json(&rc), mmc_caption_config_to_json(&cc), mmc_vqa_config_to_json(&vc)};
    static const char *name[3] = {"retrieval", "caption", "vqa"};
    for (int i = 0; i < 3; i++) {
        char which[64] = "";
        REQUIRE(js[i], "%s: no JSON", name[i]);
        CHECK(!dup_key(js[i], which, sizeof which), "%s config.json has '%s' twice", name[i], which);
        mmc_free(js[i]);
    }
}

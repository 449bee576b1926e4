/* test_embedder.c — mmc_embedder_open's dispatch on config.json, without a trained model
 * (the CLI tests tests/cli/embed_search.cmake cover a real run end to end). */
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Opens dir and expects NULL with MMC_ERR_INPUT and a message containing `want`. */
static void expect_refused(const char *dir, const char *want) {
    mmc_error err = {0};
    mmc_embedder *e = mmc_embedder_open(dir, &err);
    CHECK(!e, "%s: opened", dir);
    CHECK(err.code == MMC_ERR_INPUT, "%s: code %d (%s)", dir, err.code, err.msg);
    CHECK(strstr(err.msg, want) != NULL, "%s: message '%s' lacks '%s'", dir, err.msg, want);
    mmc_embedder_close(e);
}

TEST(embedder_open_dispatch) {
    char root[] = "/tmp/mmc_embedder_XXXXXX";
    REQUIRE(mkdtemp(root), "mkdtemp");
    char path[256], cfg[300];

    snprintf(path, sizeof path, "%s/missing", root);
    expect_refused(path, "missing");

    snprintf(path, sizeof path, "%s/file", root);
    write_text(path, "x");
    expect_refused(path, "not a model folder");

    snprintf(path, sizeof path, "%s/noconfig", root);
    mkdir(path, 0700);
    expect_refused(path, "config.json");

    snprintf(path, sizeof path, "%s/clip", root);
    mkdir(path, 0700);
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    write_text(cfg, "{\"model_type\": \"clip\", \"projection_dim\": 512}");
    expect_refused(path, "text_config"); /* dispatched to the CLIP loader, which names what is wrong */

    snprintf(path, sizeof path, "%s/cnclip", root);
    mkdir(path, 0700);
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    write_text(cfg, "{\"model_type\": \"chinese_clip\"}");
    expect_refused(path, "config.json");

    snprintf(path, sizeof path, "%s/bert", root);
    mkdir(path, 0700);
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    write_text(cfg, "{\"model_type\": \"bert\"}");
    expect_refused(path, "\"bert\"");

    snprintf(path, sizeof path, "%s/badjson", root);
    mkdir(path, 0700);
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    write_text(cfg, "{\"task\": ");
    expect_refused(path, "not a JSON object");

    /* Says it is a retrieval run but has no weights: the retrieval loader's error. */
    snprintf(path, sizeof path, "%s/noweights", root);
    mkdir(path, 0700);
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    write_text(cfg, "{\"task\": \"retrieval\"}");
    mmc_error err = {0};
    mmc_embedder *e = mmc_embedder_open(path, &err);
    CHECK(!e && err.code == MMC_ERR_INPUT, "retrieval without weights: code %d (%s)", err.code, err.msg);
    mmc_embedder_close(e);

    mmc_error uerr = {0};
    CHECK(!mmc_embedder_open(NULL, &uerr) && uerr.code == MMC_ERR_USAGE, "NULL path");
    CHECK(mmc_embedder_dim(NULL) == 0 && mmc_embedder_logit_scale(NULL) == 0, "NULL embedder getters");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
}

/* --dtype int8 on a retrieval run (mmc_embedder_open_ex): every 2-D parameter gets an int8
 * copy beside its floats, so the Linear products run int8 — the embeddings move a little
 * (not bit-equal: the integer path ran) and stay close (cosine); q4 and unknown types are
 * usage errors. A ViT image tower and a transformer text tower: most of their weights are
 * Linears. */
TEST(embedder_retrieval_dtype_int8) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mmc-embq-XXXXXX");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    mmc_error err = {0};
    mmc_retrieval_config c = mmc_retrieval_config_default();
    c.image_size = 32, c.embed_dim = 64, c.max_len = 16;
    strcpy(c.image.encoder, "vit");
    c.image.vit_patch = 8, c.image.vit_dim = 32, c.image.vit_depth = 1, c.image.vit_heads = 2;
    strcpy(c.text.encoder, "transformer");
    c.text.word_dim = 32, c.text.text_hidden = 64, c.text.text_heads = 2;
    static const char *vocab[2] = {"a large red circle to the left of a small blue square", "a green star"};
    mmc_retrieval *m = mmc_retrieval_create(&c, mmc_tokenizer_build_word(vocab, 2, 1, 0, &err), 7, &err);
    REQUIRE(m && mmc_retrieval_save(m, dir, NULL, &err) == MMC_OK, "setup: %s", err.msg);
    mmc_retrieval_free(m);

    static const char *texts[3] = {"a large red circle", "a green star to the left of a blue square", "zzz"};
    enum { NI = 3, S = 40 };
    uint8_t px[NI][S * S * 3];
    mmc_image imgs[NI];
    for (int i = 0; i < NI; i++) {
        for (int k = 0; k < S * S * 3; k++) px[i][k] = (uint8_t)((k * (7 + 13 * i) + i * 31) % 251);
        imgs[i] = (mmc_image){S, S, 3, px[i]};
    }
    float tf[3 * 64], tq[3 * 64], imf[NI * 64], imq[NI * 64];
    mmc_embedder *ef = mmc_embedder_open(dir, &err);
    REQUIRE(ef, "open f32: %s", err.msg);
    REQUIRE(mmc_embedder_texts(ef, texts, 3, tf, &err) == MMC_OK && mmc_embedder_images(ef, imgs, NI, imf, &err) == MMC_OK,
            "embed f32: %s", err.msg);
    mmc_embedder_opts o = {MMC_QTYPE_Q8};
    mmc_embedder *eq = mmc_embedder_open_ex(dir, &o, &err);
    REQUIRE(eq, "open int8: %s", err.msg);
    REQUIRE(mmc_embedder_texts(eq, texts, 3, tq, &err) == MMC_OK && mmc_embedder_images(eq, imgs, NI, imq, &err) == MMC_OK,
            "embed int8: %s", err.msg);
    CHECK(memcmp(tf, tq, sizeof tf) != 0, "int8 text embeddings equal the f32 ones bit for bit: the int8 path did not run");
    CHECK(memcmp(imf, imq, sizeof imf) != 0, "int8 image embeddings equal the f32 ones: the int8 path did not run");
    float ct = test_min_cosine(tf, tq, 3, 64), ci = test_min_cosine(imf, imq, NI, 64);
    CHECK(ct >= 0.999f, "text cosine int8 vs f32 %.5f", ct);
    CHECK(ci >= 0.999f, "image cosine int8 vs f32 %.5f", ci);
    /* the floats stay: a second embedding through the same model gives the same bits */
    float tq2[3 * 64];
    REQUIRE(mmc_embedder_texts(eq, texts, 3, tq2, &err) == MMC_OK, "embed again: %s", err.msg);
    CHECK(!memcmp(tq, tq2, sizeof tq), "int8 embeddings are not deterministic");
    mmc_embedder_close(ef);
    mmc_embedder_close(eq);

    mmc_embedder_opts q4 = {MMC_QTYPE_Q4}, bad = {7};
    mmc_error e4 = {0}, eb = {0};
    CHECK(!mmc_embedder_open_ex(dir, &q4, &e4) && e4.code == MMC_ERR_USAGE && strstr(e4.msg, "q4"),
          "q4 on a retrieval run: code %d (%s)", e4.code, e4.msg);
    CHECK(!mmc_embedder_open_ex(dir, &bad, &eb) && eb.code == MMC_ERR_USAGE, "type 7: code %d (%s)", eb.code, eb.msg);
    test_rm_tmpdir(dir);
}

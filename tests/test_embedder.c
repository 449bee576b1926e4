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

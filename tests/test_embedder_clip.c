/* test_embedder_clip.c — the embedder interface (what `mmc embed`, `mmc index build`,
 * `mmc search` and `mmc zeroshot` use) over Hugging Face CLIP and Chinese-CLIP folders:
 * from the raw strings and PNGs of reference.json it must reproduce transformers'
 * text_embeds and image_embeds (cosine >= 0.999, the pretrained issue's bar). */
#include "test.h"
#include <cjson/cJSON.h>
#include <stdlib.h>

static double cosine(const float *a, const float *b, int d) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < d; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return ab / (sqrt(aa) * sqrt(bb) + 1e-30);
}

static void check_folder(const char *name) {
    char dir[512], rel[256];
    snprintf(rel, sizeof rel, "../shared/fixtures/hf/%s", name);
    snprintf(dir, sizeof dir, "%s", test_path(rel));
    char refj[600], refs[600];
    snprintf(refj, sizeof refj, "%s/reference.json", dir);
    snprintf(refs, sizeof refs, "%s/reference.safetensors", dir);
    uint8_t *buf;
    size_t n;
    mmc_error err = {0};
    if (mmc_read_file(refj, 1 << 24, &buf, &n, &err)) SKIP("%s absent (../shared not here): %s", refj, err.msg);
    cJSON *root = cJSON_ParseWithLength((const char *)buf, n);
    mmc_free(buf);
    REQUIRE(root, "%s: JSON", refj);
    cJSON *texts = cJSON_GetObjectItem(root, "texts"), *images = cJSON_GetObjectItem(root, "images");
    int nt = cJSON_GetArraySize(texts), ni = cJSON_GetArraySize(images);
    const char *tv[16];
    char *iv[16];
    REQUIRE(nt > 0 && nt <= 16 && ni > 0 && ni <= 16, "reference sizes");
    for (int i = 0; i < nt; i++) tv[i] = cJSON_GetArrayItem(texts, i)->valuestring;
    for (int i = 0; i < ni; i++) {
        iv[i] = malloc(700);
        snprintf(iv[i], 700, "%s/%s", dir, cJSON_GetArrayItem(images, i)->valuestring);
    }
    mmc_embedder *e = mmc_embedder_open(dir, &err);
    REQUIRE(e, "open %s: %s", dir, err.msg);
    int d = mmc_embedder_dim(e);
    CHECK(!strcmp(mmc_embedder_kind(e), strcmp(name, "clip") ? "chinese_clip" : "clip"), "kind %s", mmc_embedder_kind(e));
    float *te = malloc(sizeof(float) * (size_t)nt * d), *ie = malloc(sizeof(float) * (size_t)ni * d);
    REQUIRE(mmc_embedder_texts(e, tv, nt, te, &err) == MMC_OK, "texts: %s", err.msg);
    REQUIRE(mmc_embedder_image_files(e, (const char *const *)iv, ni, ie, &err) == MMC_OK, "images: %s", err.msg);
    mmc_safetensors st;
    REQUIRE(mmc_safetensors_open(&st, refs, &err) == MMC_OK, "%s", err.msg);
    mmc_tensor *rt = mmc_safetensors_get(&st, "text_embeds", &err), *ri = mmc_safetensors_get(&st, "image_embeds", &err);
    REQUIRE(rt && ri && rt->shape[1] == d, "reference embeds: %s", err.msg);
    for (int i = 0; i < nt; i++) {
        double c = cosine(te + (size_t)i * d, rt->data + (size_t)i * d, d);
        CHECK(c >= 0.999, "%s text %d cosine %.6f", name, i, c);
    }
    for (int i = 0; i < ni; i++) {
        double c = cosine(ie + (size_t)i * d, ri->data + (size_t)i * d, d);
        CHECK(c >= 0.999, "%s image %d cosine %.6f", name, i, c);
    }
    mmc_tensor_free(rt);
    mmc_tensor_free(ri);
    mmc_safetensors_close(&st);
    free(te);
    free(ie);
    for (int i = 0; i < ni; i++) free(iv[i]);
    mmc_embedder_close(e);
    cJSON_Delete(root);
}

TEST(embedder_clip_matches_transformers) { check_folder("clip"); }
TEST(embedder_chinese_clip_matches_transformers) { check_folder("chinese-clip"); }

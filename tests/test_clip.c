/* test_clip.c — pretrained CLIP and Chinese-CLIP against Hugging Face transformers.
 *
 * ../shared/fixtures/hf/{clip,chinese-clip} are model folders with random weights and the
 * outputs transformers computed for them (see their README). Every hidden state, the pooled
 * outputs, features, embeddings and logits must agree within 1e-4; raw strings and PNG
 * files must embed to the same directions (cosine >= 0.999). The tests skip, saying why,
 * when ../shared is absent. */
#include "test.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>

#define PARITY_TOL 1e-4

static const char *hf_dir(const char *name, char *buf, size_t n) {
    char rel[256];
    snprintf(rel, sizeof rel, "../shared/fixtures/hf/%s", name);
    snprintf(buf, n, "%s", test_path(rel));
    struct stat sb;
    return stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode) ? buf : NULL;
}

static double max_abs(const float *a, const float *b, int64_t n) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return INFINITY;
        if (d > w) w = d;
    }
    return w;
}

/* Compares got with the reference tensor `name`; returns the max abs error (INFINITY if it
 * cannot be compared) and records a failure above tol. */
static double compare(const mmc_safetensors *ref, const char *name, const mmc_tensor *got, double tol,
                      double *worst) {
    mmc_error err = {0};
    mmc_tensor *want = mmc_safetensors_get(ref, name, &err);
    double e = INFINITY;
    if (!want) mmc_test_fail(__FILE__, __LINE__, "reference %s: %s", name, err.msg);
    else if (!got) mmc_test_fail(__FILE__, __LINE__, "%s: no output", name);
    else if (got->numel != want->numel) {
        char a[64], b[64];
        mmc_test_fail(__FILE__, __LINE__, "%s: shape %s, reference %s", name, mmc_shape_str(got, a, sizeof a),
                      mmc_shape_str(want, b, sizeof b));
    } else {
        e = max_abs(got->data, want->data, got->numel);
        CHECK(e <= tol, "%s: max abs error %.3g > %.3g", name, e, tol);
    }
    mmc_tensor_free(want);
    if (e > *worst) *worst = e;
    return e;
}

static int32_t *ref_ints(const mmc_safetensors *ref, const char *name, int64_t *count, int *B, int *T) {
    const mmc_st_entry *e = mmc_safetensors_find(ref, name);
    if (!e || e->ndim != 2) return NULL;
    mmc_error err = {0};
    int64_t *v = mmc_safetensors_get_i64(ref, name, count, &err);
    if (!v) return NULL;
    int32_t *r = malloc(sizeof(int32_t) * (size_t)*count);
    for (int64_t i = 0; i < *count; i++) r[i] = (int32_t)v[i];
    mmc_free(v);
    *B = (int)e->shape[0], *T = (int)e->shape[1];
    return r;
}

/* Runs both towers on the reference inputs of folder dir (reference file ref_path) and
 * compares every output. tol: max abs error allowed. Prints the errors. */
void test_clip_parity_folder(const char *dir, const char *ref_path, const mmc_clip_opts *opts, double tol);
void test_clip_parity_folder(const char *dir, const char *ref_path, const mmc_clip_opts *opts, double tol) {
    mmc_error err = {0};
    mmc_clip *m = mmc_clip_load_ex(dir, opts, &err);
    REQUIRE(m, "load %s: %s", dir, err.msg);
    mmc_safetensors ref;
    if (mmc_safetensors_open(&ref, ref_path, &err)) {
        mmc_clip_free(m);
        REQUIRE(0, "%s", err.msg);
    }
    int64_t n = 0;
    int B = 0, T = 0, B2, T2;
    int32_t *ids = ref_ints(&ref, "input_ids", &n, &B, &T);
    int32_t *mask = ref_ints(&ref, "attention_mask", &n, &B2, &T2);
    int32_t *tt = ref_ints(&ref, "token_type_ids", &n, &B2, &T2);
    mmc_tensor *px = mmc_safetensors_get(&ref, "pixel_values", &err);
    mmc_ctx *ctx = mmc_ctx_new();
    mmc_clip_text_out to;
    mmc_clip_vision_out vo;
    double text_worst = 0, vis_worst = 0, head_worst = 0;
    if (!ids || !mask || !px) {
        mmc_test_fail(__FILE__, __LINE__, "%s: reference inputs missing", ref_path);
        goto done;
    }
    int rc = mmc_clip_text_forward(ctx, m, ids, mask, tt, B, T, &to);
    if (rc) { mmc_test_fail(__FILE__, __LINE__, "text forward: %s", ctx->err.msg); goto done; }
    rc = mmc_clip_vision_forward(ctx, m, px, &vo);
    if (rc) { mmc_test_fail(__FILE__, __LINE__, "vision forward: %s", ctx->err.msg); goto done; }
    char name[128];
    CHECK(to.n_hidden == mmc_clip_text_layers(m) + 1, "text hidden states: %d", to.n_hidden);
    for (int i = 0; i < to.n_hidden; i++) {
        snprintf(name, sizeof name, "text_model.hidden_states.%d", i);
        compare(&ref, name, to.hidden_states[i], tol, &text_worst);
    }
    snprintf(name, sizeof name, "text_model.hidden_states.%d", to.n_hidden);
    CHECK(!mmc_safetensors_find(&ref, name), "the reference has more text hidden states than %d", to.n_hidden);
    for (int i = 0; i < vo.n_hidden; i++) {
        snprintf(name, sizeof name, "vision_model.hidden_states.%d", i);
        compare(&ref, name, vo.hidden_states[i], tol, &vis_worst);
    }
    snprintf(name, sizeof name, "vision_model.hidden_states.%d", vo.n_hidden);
    CHECK(!mmc_safetensors_find(&ref, name), "the reference has more vision hidden states than %d", vo.n_hidden);
    compare(&ref, "text_model.last_hidden_state", to.last_hidden_state, tol, &text_worst);
    if (mmc_safetensors_find(&ref, "text_model.pooler_output")) /* Chinese-CLIP's text model has no pooler */
        compare(&ref, "text_model.pooler_output", to.pooler_output, tol, &text_worst);
    compare(&ref, "vision_model.last_hidden_state", vo.last_hidden_state, tol, &vis_worst);
    compare(&ref, "vision_model.pooler_output", vo.pooler_output, tol, &vis_worst);
    compare(&ref, "text_features", to.features, tol, &head_worst);
    compare(&ref, "image_features", vo.features, tol, &head_worst);
    compare(&ref, "text_embeds", to.embeds, tol, &head_worst);
    compare(&ref, "image_embeds", vo.embeds, tol, &head_worst);
    mmc_tensor *lpt = mmc_clip_logits(ctx, m, to.embeds, vo.embeds);
    compare(&ref, "logits_per_text", lpt, tol, &head_worst);
    compare(&ref, "logits_per_image", lpt ? mmc_transpose(ctx, lpt, 0, 1) : NULL, tol, &head_worst);
    int compact = 0;
    size_t bytes = mmc_clip_memory_bytes(m, &compact);
    printf("%s: max abs error text %.3g, vision %.3g, features/embeds/logits %.3g (storage %s, %.1f KiB of weights)\n",
           dir, text_worst, vis_worst, head_worst, compact ? "compact" : "f32", bytes / 1024.0);
done:
    free(ids), free(mask), free(tt);
    mmc_tensor_free(px);
    mmc_ctx_free(ctx);
    mmc_safetensors_close(&ref);
    mmc_clip_free(m);
}

static void parity(const char *name) {
    char dir[4096], ref[4200];
    if (!hf_dir(name, dir, sizeof dir)) SKIP("../shared/fixtures/hf/%s is absent (the shared fixtures are not here)", name);
    snprintf(ref, sizeof ref, "%s/reference.safetensors", dir);
    test_clip_parity_folder(dir, ref, NULL, PARITY_TOL);
}

TEST(clip_hidden_states_parity) { parity("clip"); }
TEST(chinese_clip_hidden_states_parity) { parity("chinese-clip"); }

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb + 1e-30);
}

static void raw_inputs(const char *name) {
    char dir[4096], path[4300];
    if (!hf_dir(name, dir, sizeof dir)) SKIP("../shared/fixtures/hf/%s is absent (the shared fixtures are not here)", name);
    mmc_error err = {0};
    mmc_clip *m = mmc_clip_load(dir, &err);
    REQUIRE(m, "load: %s", err.msg);
    snprintf(path, sizeof path, "%s/reference.json", dir);
    uint8_t *buf = NULL;
    size_t nb = 0;
    REQUIRE(mmc_read_file(path, 1 << 24, &buf, &nb, &err) == MMC_OK, "%s", err.msg);
    cJSON *root = cJSON_ParseWithLength((const char *)buf, nb);
    mmc_free(buf);
    const cJSON *texts = cJSON_GetObjectItem(root, "texts"), *images = cJSON_GetObjectItem(root, "images");
    int nt = cJSON_GetArraySize(texts), ni = cJSON_GetArraySize(images), P = mmc_clip_dim(m);
    const char *tv[16], *iv[16];
    char ipaths[16][4300];
    for (int i = 0; i < nt && i < 16; i++) tv[i] = cJSON_GetArrayItem(texts, i)->valuestring;
    for (int i = 0; i < ni && i < 16; i++) {
        snprintf(ipaths[i], sizeof ipaths[i], "%s/%s", dir, cJSON_GetArrayItem(images, i)->valuestring);
        iv[i] = ipaths[i];
    }
    mmc_safetensors ref;
    snprintf(path, sizeof path, "%s/reference.safetensors", dir);
    if (mmc_safetensors_open(&ref, path, &err)) {
        cJSON_Delete(root);
        mmc_clip_free(m);
        REQUIRE(0, "%s", err.msg);
    }
    mmc_tensor *te = mmc_safetensors_get(&ref, "text_embeds", &err), *ie = mmc_safetensors_get(&ref, "image_embeds", &err);
    float *got_t = calloc((size_t)nt * P, sizeof(float)), *got_i = calloc((size_t)ni * P, sizeof(float));
    int rc = mmc_clip_embed_texts(m, tv, nt, got_t, &err);
    CHECK(rc == MMC_OK, "embed texts: %s", err.msg);
    rc = rc ? rc : mmc_clip_embed_image_files(m, iv, ni, got_i, &err);
    CHECK(rc == MMC_OK, "embed images: %s", err.msg);
    /* the tokenisation itself: the reference ids where the mask is 1 */
    int32_t *ids = NULL, *mask = NULL;
    int T = 0;
    int64_t cnt;
    int64_t *rid = mmc_safetensors_get_i64(&ref, "input_ids", &cnt, &err);
    int64_t *rmask = mmc_safetensors_get_i64(&ref, "attention_mask", &cnt, &err);
    if (mmc_clip_tokenize(m, tv, nt, &ids, &mask, &T, &err) == MMC_OK && rid && rmask) {
        int RT = (int)(cnt / nt);
        for (int i = 0; i < nt; i++)
            for (int j = 0; j < RT; j++)
                if (rmask[(int64_t)i * RT + j])
                    CHECK(j < T && ids[(int64_t)i * T + j] == rid[(int64_t)i * RT + j], "text %d token %d differs", i, j);
    }
    double worst = 1;
    if (!rc && te && ie && te->numel == (int64_t)nt * P && ie->numel == (int64_t)ni * P) {
        for (int i = 0; i < nt; i++) {
            double c = cosine(got_t + (size_t)i * P, te->data + (size_t)i * P, P);
            CHECK(c >= 0.999, "text %d (\"%s\"): cosine %.6f < 0.999", i, tv[i], c);
            if (c < worst) worst = c;
        }
        for (int i = 0; i < ni; i++) {
            double c = cosine(got_i + (size_t)i * P, ie->data + (size_t)i * P, P);
            CHECK(c >= 0.999, "image %d (%s): cosine %.6f < 0.999", i, iv[i], c);
            if (c < worst) worst = c;
        }
        printf("%s: raw strings and PNGs: lowest cosine to transformers' embeddings %.7f\n", name, worst);
    } else CHECK(0, "no embeddings to compare");
    mmc_free(ids), mmc_free(mask), mmc_free(rid), mmc_free(rmask);
    free(got_t), free(got_i);
    mmc_tensor_free(te), mmc_tensor_free(ie);
    mmc_safetensors_close(&ref);
    cJSON_Delete(root);
    mmc_clip_free(m);
}

TEST(clip_embed_raw_inputs) {
    raw_inputs("clip");
    raw_inputs("chinese-clip");
}

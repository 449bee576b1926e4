/* test_tokenizer.c — the four tokenizer kinds: small vocabularies with hand-worked ids,
 * the transformers reference cases in ../shared (CLIP and Chinese-CLIP), batches against
 * reference.safetensors, save/load, and a catalogue of hostile vocabulary files. */
#include "test.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static const char *shared_hf(const char *rel) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", test_path("../shared/fixtures/hf/"));
    strncat(buf, rel, sizeof buf - strlen(buf) - 1);
    return buf;
}

static int have_shared(void) {
    struct stat st;
    return stat(shared_hf("clip/reference.json"), &st) == 0;
}

/* A fresh temp folder for this process; files written into it. */
static const char *tmp_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/mmc_tok_%d", (int)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

static const char *write_tmp(const char *name, const char *data, size_t n) {
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmp_dir(), name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
    return p;
}
#define WRITE_TMP(name, lit) write_tmp(name, lit, sizeof(lit) - 1)

/* Encodes and compares with want[0..nwant); reports the text on mismatch. */
static int expect_ids(const mmc_tokenizer *t, const char *text, int add_special, int max_len, const int32_t *want,
                      int nwant) {
    int32_t *ids = NULL;
    int n = 0;
    mmc_error err = {0};
    int rc = mmc_tokenizer_encode(t, text, (size_t)-1, add_special, max_len, &ids, &n, &err);
    int ok = rc == MMC_OK && n == nwant && (n == 0 || memcmp(ids, want, sizeof *ids * (size_t)n) == 0);
    if (!ok) {
        char got[512] = "", w[512] = "";
        for (int i = 0; i < n && strlen(got) < 480; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%d ", ids[i]);
        for (int i = 0; i < nwant && strlen(w) < 480; i++) snprintf(w + strlen(w), sizeof w - strlen(w), "%d ", want[i]);
        mmc_test_fail(__FILE__, __LINE__, "'%s' (max_len %d): rc %d %s; got [%s] want [%s]", text, max_len, rc, err.msg, got, w);
    }
    mmc_free(ids);
    return ok;
}
#define EXPECT(t, text, special, max_len, ...)                                                   \
    expect_ids(t, text, special, max_len, (const int32_t[]){__VA_ARGS__},                        \
               (int)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

static int32_t *json_ids(const cJSON *arr, int *n) {
    *n = cJSON_GetArraySize(arr);
    int32_t *v = malloc(sizeof *v * (size_t)(*n + 1));
    int i = 0;
    for (const cJSON *it = arr ? arr->child : NULL; it; it = it->next) v[i++] = (int32_t)it->valueint;
    return v;
}

static cJSON *load_reference(const char *model) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/reference.json", model);
    uint8_t *buf;
    size_t n;
    mmc_error err = {0};
    if (mmc_read_file(shared_hf(rel), 1 << 24, &buf, &n, &err)) return NULL;
    cJSON *root = cJSON_ParseWithLength((const char *)buf, n);
    mmc_free(buf);
    return root;
}

/* Runs every tokenizer_cases entry: full ids, truncated ids, and tokens when listed.
 * Returns the number of cases that matched in full; *total gets the count. */
static int run_reference_cases(const mmc_tokenizer *t, const char *model, int max_len, int *total) {
    cJSON *root = load_reference(model);
    *total = 0;
    if (!root) {
        mmc_test_fail(__FILE__, __LINE__, "%s/reference.json unreadable", model);
        return 0;
    }
    char trunc_key[32];
    snprintf(trunc_key, sizeof trunc_key, "ids_truncated_%d", max_len);
    int passed = 0;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "tokenizer_cases");
    for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next) {
        const char *text = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
        int n1, n2, ok = 1;
        int32_t *ids = json_ids(cJSON_GetObjectItemCaseSensitive(c, "ids"), &n1);
        int32_t *tr = json_ids(cJSON_GetObjectItemCaseSensitive(c, trunc_key), &n2);
        ok &= expect_ids(t, text, 1, 0, ids, n1);
        ok &= expect_ids(t, text, 1, max_len, tr, n2);
        const cJSON *toks = cJSON_GetObjectItemCaseSensitive(c, "tokens");
        int i = 1;
        for (const cJSON *k = toks ? toks->child : NULL; k; k = k->next, i++) {
            const char *got = i < n1 ? mmc_tokenizer_token(t, ids[i]) : NULL;
            if (!got || strcmp(got, k->valuestring) != 0) {
                mmc_test_fail(__FILE__, __LINE__, "'%s': token %d is '%s', want '%s'", text, i, got ? got : "(none)", k->valuestring);
                ok = 0;
            }
        }
        passed += ok;
        (*total)++;
        free(ids);
        free(tr);
    }
    cJSON_Delete(root);
    return passed;
}

/* ------------------------------------------------- reference (transformers) */

TEST(tokenizer_clip_reference_cases) {
    if (!have_shared()) SKIP("../shared/fixtures/hf is absent (tokenizer parity needs the shared fixtures)");
    mmc_error err = {0};
    char v[4096];
    snprintf(v, sizeof v, "%s", shared_hf("clip/vocab.json"));
    double t0 = mmc_now();
    mmc_tokenizer *a = mmc_tokenizer_load_clip(v, shared_hf("clip/merges.txt"), &err);
    double load_s = mmc_now() - t0;
    REQUIRE(a, "load vocab.json + merges.txt: %s", err.msg);
    mmc_tokenizer *b = mmc_tokenizer_load_clip_json(shared_hf("clip/tokenizer.json"), &err);
    REQUIRE(b, "load tokenizer.json: %s", err.msg);
    CHECK(mmc_tokenizer_vocab_size(a) == 49408 && mmc_tokenizer_vocab_size(b) == 49408, "vocab size %d / %d",
          mmc_tokenizer_vocab_size(a), mmc_tokenizer_vocab_size(b));
    int total_a, total_b;
    int pass_a = run_reference_cases(a, "clip", 77, &total_a);
    int pass_b = run_reference_cases(b, "clip", 77, &total_b);
    printf("clip: %d/%d cases (vocab.json+merges.txt), %d/%d (tokenizer.json); load %.1f ms\n", pass_a, total_a, pass_b,
           total_b, 1e3 * load_s);
    CHECK(total_a >= 12 && pass_a == total_a && pass_b == total_b, "cases passed: %d/%d, %d/%d", pass_a, total_a, pass_b,
          total_b);
    mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(a);
    CHECK(sp.start == 49406 && sp.end == 49407 && sp.pad == 49407, "specials %d %d %d", sp.start, sp.end, sp.pad);
    mmc_tokenizer_free(a);
    mmc_tokenizer_free(b);
}

TEST(tokenizer_chinese_clip_reference_cases) {
    if (!have_shared()) SKIP("../shared/fixtures/hf is absent (tokenizer parity needs the shared fixtures)");
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_load_dir(shared_hf("chinese-clip"), &err);
    REQUIRE(t, "load chinese-clip: %s", err.msg);
    CHECK(mmc_tokenizer_kind_of(t) == MMC_TOK_WORDPIECE && mmc_tokenizer_vocab_size(t) == 21128, "kind/size");
    int total, pass = run_reference_cases(t, "chinese-clip", 52, &total);
    printf("chinese-clip: %d/%d cases\n", pass, total);
    CHECK(total >= 10 && pass == total, "cases passed: %d/%d", pass, total);
    mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(t);
    CHECK(sp.cls == 101 && sp.sep == 102 && sp.pad == 0 && sp.unk == 100 && sp.mask == 103, "specials");
    mmc_tokenizer_free(t);
}

/* The batch in reference.safetensors: padding="max_length" with the pad id, mask 1/0. */
static void check_batch(const char *model, int max_len) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/reference.safetensors", model);
    mmc_error err = {0};
    mmc_safetensors st;
    REQUIRE(mmc_safetensors_open(&st, shared_hf(rel), &err) == MMC_OK, "%s", err.msg);
    int64_t nid = 0, nmask = 0;
    int64_t *want_ids = mmc_safetensors_get_i64(&st, "input_ids", &nid, &err);
    int64_t *want_mask = mmc_safetensors_get_i64(&st, "attention_mask", &nmask, &err);
    mmc_safetensors_close(&st);
    cJSON *root = load_reference(model);
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(root, "texts");
    int n = cJSON_GetArraySize(texts);
    const char *tx[16];
    int i = 0;
    for (const cJSON *it = texts ? texts->child : NULL; it && i < 16; it = it->next) tx[i++] = it->valuestring;
    mmc_tokenizer *t = mmc_tokenizer_load_dir(shared_hf(model), &err);
    int32_t *ids = calloc((size_t)n * max_len, sizeof *ids), *mask = calloc((size_t)n * max_len, sizeof *mask);
    if (t && want_ids && want_mask && nid == (int64_t)n * max_len && nmask == nid) {
        CHECK(mmc_tokenizer_encode_batch(t, tx, n, max_len, ids, mask, &err) == MMC_OK, "batch: %s", err.msg);
        for (int64_t k = 0; k < nid; k++) {
            if (ids[k] != want_ids[k] || mask[k] != want_mask[k]) {
                mmc_test_fail(__FILE__, __LINE__, "%s row %d col %d: id %d mask %d, want %lld %lld", model, (int)(k / max_len),
                              (int)(k % max_len), ids[k], mask[k], (long long)want_ids[k], (long long)want_mask[k]);
                break;
            }
        }
    } else {
        mmc_test_fail(__FILE__, __LINE__, "%s: setup failed (%s; %lld ids for %d texts)", model, err.msg, (long long)nid, n);
    }
    free(ids);
    free(mask);
    mmc_free(want_ids);
    mmc_free(want_mask);
    mmc_tokenizer_free(t);
    cJSON_Delete(root);
}

TEST(tokenizer_reference_batch_input_ids) {
    if (!have_shared()) SKIP("../shared/fixtures/hf is absent (tokenizer parity needs the shared fixtures)");
    check_batch("clip", 77);
    check_batch("chinese-clip", 52);
}

TEST(tokenizer_clip_decode_roundtrip) {
    if (!have_shared()) SKIP("../shared/fixtures/hf is absent (tokenizer parity needs the shared fixtures)");
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_load_dir(shared_hf("clip"), &err);
    REQUIRE(t, "%s", err.msg);
    static const char *cases[][2] = {
        {"A Photo of a FOX!!", "a photo of a fox !!"},
        {"naïve café résumé", "naïve café résumé"},
        {"emoji 😀 smile", "emoji 😀 smile"},
        {"红色的车", "红色的车"}, /* one letter run: BPE over its bytes, decoded back whole */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t *ids;
        int n;
        REQUIRE(mmc_tokenizer_encode(t, cases[i][0], (size_t)-1, 1, 0, &ids, &n, &err) == MMC_OK, "%s", err.msg);
        char *s = mmc_tokenizer_decode(t, ids, n, 1, &err);
        CHECK(s && strcmp(s, cases[i][1]) == 0, "decode '%s' -> '%s'", cases[i][0], s ? s : err.msg);
        mmc_free(s);
        mmc_free(ids);
    }
    /* Ids that do not form UTF-8 (a lone continuation byte) decode with U+FFFD. */
    int lone = mmc_tokenizer_token_id(t, "\xc2\xa9"); /* GPT-2 stand-in for byte 0xA9 */
    REQUIRE(lone >= 0, "byte symbol");
    char *s = mmc_tokenizer_decode(t, (int32_t[]){lone}, 1, 1, &err);
    CHECK(s && strcmp(s, "\xef\xbf\xbd") == 0, "lone byte -> U+FFFD, got '%s'", s ? s : err.msg);
    mmc_free(s);
    mmc_tokenizer_free(t);
}

TEST(tokenizer_clip_load_is_fast) {
    if (!have_shared()) SKIP("../shared/fixtures/hf is absent (tokenizer parity needs the shared fixtures)");
    mmc_error err = {0};
    char v[4096];
    snprintf(v, sizeof v, "%s", test_path("../shared/vocab/vocab.json"));
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = mmc_now();
        mmc_tokenizer *t = mmc_tokenizer_load_clip(v, test_path("../shared/vocab/merges.txt"), &err);
        double dt = mmc_now() - t0;
        REQUIRE(t, "%s", err.msg);
        mmc_tokenizer_free(t);
        if (dt < best) best = dt;
    }
    printf("CLIP vocab + merges load: %.1f ms\n", best * 1e3);
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
    CHECK(best < 2.0, "load took %.0f ms", best * 1e3); /* sanitizers are slow */
#else
    CHECK(best < 0.1, "load took %.0f ms (want < 100 ms)", best * 1e3);
#endif
}

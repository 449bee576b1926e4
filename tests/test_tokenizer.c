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
    for (int r = 0; r < 5; r++) {
        double t0 = mmc_now();
        mmc_tokenizer *t = mmc_tokenizer_load_clip(v, test_path("../shared/vocab/merges.txt"), &err);
        double dt = mmc_now() - t0;
        REQUIRE(t, "%s", err.msg);
        mmc_tokenizer_free(t);
        if (dt < best) best = dt;
    }
    printf("CLIP vocab + merges load: %.1f ms\n", best * 1e3);
    /* About 30-50 ms on an idle 2-core machine. The bound is loose because the machine is
     * shared and tests run in parallel; it still catches a quadratic merge table or a
     * per-line printf (each cost seconds or ~2x). */
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
    CHECK(best < 3.0, "load took %.0f ms", best * 1e3); /* sanitizers are slow */
#else
    CHECK(best < 0.5, "load took %.0f ms (want < 500 ms even on a busy machine)", best * 1e3);
#endif
}

/* ------------------------------------------------------- small, hand-worked */

/* A BPE small enough to work by hand. Merge ranks: 0 "l o", 1 "lo w</w>", 2 "e r</w>",
 * 3 "lo w". */
static mmc_tokenizer *small_bpe(mmc_error *err) {
    const char *v = WRITE_TMP("small_vocab.json",
                              "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"l\": 2, \"o\": 3, \"w\": 4, \"e\": 5,"
                              " \"r\": 6, \"w</w>\": 7, \"r</w>\": 8, \"lo\": 9, \"low</w>\": 10, \"er</w>\": 11,"
                              " \"low\": 12, \"!</w>\": 13, \"o</w>\": 14, \"e</w>\": 15, \"l</w>\": 16}");
    const char *m = WRITE_TMP("small_merges.txt", "#version: 0.2\nl o\nlo w</w>\ne r</w>\nlo w\n");
    return mmc_tokenizer_load_clip(v, m, err);
}

TEST(tokenizer_bpe_small_vocab) {
    mmc_error err = {0};
    mmc_tokenizer *t = small_bpe(&err);
    REQUIRE(t, "%s", err.msg);
    EXPECT(t, "low", 1, 0, 0, 10, 1);           /* l o w</w> -> lo w</w> -> low</w> */
    EXPECT(t, "lower", 1, 0, 0, 12, 11, 1);     /* rank 2 (e r</w>) before rank 3 (lo w) */
    EXPECT(t, "LOW!", 1, 0, 0, 10, 13, 1);      /* lowercased; "!" its own piece */
    EXPECT(t, "lol", 0, 0, 9, 16);              /* no specials */
    EXPECT(t, "x", 1, 0, 0, 1, 1);              /* x</w> unknown -> <|endoftext|> */
    EXPECT(t, " \t\n ", 1, 0, 0, 1);
    EXPECT(t, "<|endoftext|>low", 1, 0, 0, 1, 10, 1); /* special tokens in text are matched */
    EXPECT(t, "low low low low", 1, 4, 0, 10, 10, 1); /* truncation keeps the end token */
    EXPECT(t, "low low low low", 0, 2, 10, 10);
    char *s = mmc_tokenizer_decode(t, (int32_t[]){0, 12, 11, 10, 1}, 5, 1, &err);
    CHECK(s && strcmp(s, "lower low") == 0, "decode '%s'", s ? s : err.msg);
    mmc_free(s);
    s = mmc_tokenizer_decode(t, (int32_t[]){0, 10, 1}, 3, 0, &err);
    CHECK(s && strcmp(s, "<|startoftext|>low <|endoftext|>") == 0, "decode with specials '%s'", s ? s : err.msg);
    mmc_free(s);
    CHECK(mmc_tokenizer_decode(t, (int32_t[]){17}, 1, 0, &err) == NULL && err.code == MMC_ERR_INPUT, "id out of range");
    mmc_tokenizer_free(t);
}

static mmc_tokenizer *small_wordpiece(int lower, mmc_error *err) {
    const char *v = WRITE_TMP("small_vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nrun\n##ning\n!\n"
                                                 "\xe4\xb8\xad\n\xe6\x96\x87\ncafe\n,\na\n");
    mmc_wordpiece_opts o = mmc_wordpiece_defaults();
    o.do_lower_case = lower;
    return mmc_tokenizer_load_wordpiece(v, &o, err);
}

TEST(tokenizer_wordpiece_small_vocab) {
    mmc_error err = {0};
    mmc_tokenizer *t = small_wordpiece(1, &err);
    REQUIRE(t, "%s", err.msg);
    EXPECT(t, "unaffable", 1, 0, 2, 5, 6, 7, 3);
    EXPECT(t, "Running!", 1, 0, 2, 8, 9, 10, 3);
    EXPECT(t, "\xe4\xb8\xad\xe6\x96\x87", 0, 0, 11, 12);            /* 中文: CJK split apart */
    EXPECT(t, "Caf\xc3\xa9, a", 0, 0, 13, 14, 15);                   /* accent stripped */
    EXPECT(t, "Cafe\xcc\x81", 0, 0, 13);                             /* decomposed accent too */
    EXPECT(t, "xyz unxx", 0, 0, 1, 1);                               /* no match: whole word [UNK] */
    EXPECT(t, "a\x01" "a\xef\xbf\xbd", 0, 0, 1);                     /* control, U+FFFD dropped: "aa" */
    EXPECT(t, "[MASK] a", 1, 0, 2, 4, 15, 3);
    EXPECT(t, "a a a a", 1, 4, 2, 15, 15, 3);
    char longword[202];
    memset(longword, 'a', 200);
    longword[200] = 0;
    EXPECT(t, longword, 0, 0, 1); /* over 100 characters */
    char *s = mmc_tokenizer_decode(t, (int32_t[]){2, 5, 6, 7, 10, 3}, 6, 1, &err);
    CHECK(s && strcmp(s, "unaffable !") == 0, "decode '%s'", s ? s : err.msg);
    mmc_free(s);
    mmc_tokenizer_free(t);
    t = small_wordpiece(0, &err);
    REQUIRE(t, "%s", err.msg);
    EXPECT(t, "Running running", 0, 0, 1, 8, 9); /* cased: "Running" has no match */
    mmc_tokenizer_free(t);
}

TEST(tokenizer_wordpiece_config) {
    mmc_error err = {0};
    mmc_wordpiece_opts o = mmc_wordpiece_defaults();
    const char *p = WRITE_TMP("tokenizer_config.json", "{\"do_lower_case\": false, \"strip_accents\": null, \"tokenize_chinese_chars\": false}");
    REQUIRE(mmc_wordpiece_read_config(p, &o, &err) == MMC_OK, "%s", err.msg);
    CHECK(o.do_lower_case == 0 && o.strip_accents == -1 && o.tokenize_chinese_chars == 0, "options read");
    p = WRITE_TMP("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
    CHECK(mmc_wordpiece_read_config(p, &o, &err) == MMC_ERR_INPUT && strstr(err.msg, "do_lower_case") &&
              strstr(err.msg, "tokenizer_config.json"),
          "wrong type: %s", err.msg);
    p = WRITE_TMP("tokenizer_config.json", "[]");
    CHECK(mmc_wordpiece_read_config(p, &o, &err) == MMC_ERR_INPUT, "not an object");
}

static const char *const CAPTIONS[] = {"A red circle.", "a blue circle", "The red square!"};

TEST(tokenizer_word_build_encode_decode) {
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_build_word(CAPTIONS, 3, 2, 0, &err);
    REQUIRE(t, "%s", err.msg);
    /* specials, then count 2 in byte order: a circle red */
    CHECK(mmc_tokenizer_vocab_size(t) == 7, "vocab %d", mmc_tokenizer_vocab_size(t));
    CHECK(mmc_tokenizer_token_id(t, "a") == 4 && mmc_tokenizer_token_id(t, "circle") == 5 && mmc_tokenizer_token_id(t, "red") == 6,
          "ids by frequency then bytes");
    EXPECT(t, "Red circle, a cat", 1, 0, 2, 6, 5, 1, 4, 1, 3);
    EXPECT(t, "red red red", 1, 3, 2, 6, 3);
    mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(t);
    CHECK(sp.pad == 0 && sp.unk == 1 && sp.start == 2 && sp.end == 3 && sp.cls == -1, "specials");
    char *s = mmc_tokenizer_decode(t, (int32_t[]){2, 6, 5, 3, 0, 0}, 6, 1, &err);
    CHECK(s && strcmp(s, "red circle") == 0, "decode '%s'", s ? s : err.msg);
    mmc_free(s);
    mmc_tokenizer_free(t);
    t = mmc_tokenizer_build_word(CAPTIONS, 3, 1, 0, &err);
    REQUIRE(t, "%s", err.msg);
    static const char *order[] = {"a", "circle", "red", "!", ".", "blue", "square", "the"};
    for (int i = 0; i < 8; i++) CHECK(strcmp(mmc_tokenizer_token(t, 4 + i), order[i]) == 0, "token %d is %s", 4 + i, mmc_tokenizer_token(t, 4 + i));
    mmc_tokenizer_free(t);
    t = mmc_tokenizer_build_word(CAPTIONS, 3, 1, 6, &err);
    CHECK(t && mmc_tokenizer_vocab_size(t) == 6, "max_vocab caps the size");
    mmc_tokenizer_free(t);
    const char *bad[] = {"ok", "bad \xc3\x28 text"};
    CHECK(!mmc_tokenizer_build_word(bad, 2, 1, 0, &err) && err.code == MMC_ERR_INPUT && strstr(err.msg, "texts[1]") &&
              strstr(err.msg, "offset 4"),
          "invalid UTF-8 in training text: %s", err.msg);
}

TEST(tokenizer_char_build_encode_decode) {
    mmc_error err = {0};
    const char *texts[] = {"一个红色的圆", "红色的 car 2026"};
    mmc_tokenizer *t = mmc_tokenizer_build_char(texts, 2, 1, 0, &err);
    REQUIRE(t, "%s", err.msg);
    /* count 2: "2" 的 红 色 (UTF-8 byte order); count 1: "0" "6" "car" 一 个 圆 */
    static const char *order[] = {"2", "的", "红", "色", "0", "6", "car", "一", "个", "圆"};
    CHECK(mmc_tokenizer_vocab_size(t) == 14, "vocab %d", mmc_tokenizer_vocab_size(t));
    for (int i = 0; i < 10; i++) CHECK(strcmp(mmc_tokenizer_token(t, 4 + i), order[i]) == 0, "token %d is %s", 4 + i, mmc_tokenizer_token(t, 4 + i));
    EXPECT(t, "红色的Car 2026", 1, 0, 2, 6, 7, 5, 10, 4, 8, 4, 9, 3);
    EXPECT(t, "蓝色的", 0, 0, 1, 7, 5);
    char *s = mmc_tokenizer_decode(t, (int32_t[]){2, 6, 7, 5, 10, 4, 8, 4, 9, 3}, 10, 1, &err);
    CHECK(s && strcmp(s, "红色的car 2026") == 0, "decode '%s'", s ? s : err.msg);
    mmc_free(s);
    mmc_tokenizer_free(t);
}

TEST(tokenizer_vocab_save_load) {
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_build_word(CAPTIONS, 3, 1, 0, &err);
    REQUIRE(t, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/vocab_word.json", tmp_dir());
    REQUIRE(mmc_tokenizer_save(t, path, &err) == MMC_OK, "%s", err.msg);
    mmc_tokenizer *u = mmc_tokenizer_load(path, &err);
    REQUIRE(u, "%s", err.msg);
    CHECK(mmc_tokenizer_kind_of(u) == MMC_TOK_WORD && mmc_tokenizer_vocab_size(u) == mmc_tokenizer_vocab_size(t), "same vocab");
    for (int i = 0; i < mmc_tokenizer_vocab_size(t); i++)
        CHECK(strcmp(mmc_tokenizer_token(t, i), mmc_tokenizer_token(u, i)) == 0, "token %d", i);
    mmc_tokenizer_free(u);
    mmc_tokenizer_free(t);
    const char *texts[] = {"红色的车"};
    t = mmc_tokenizer_build_char(texts, 1, 1, 0, &err);
    char *json = mmc_tokenizer_to_json(t, &err);
    REQUIRE(json, "%s", err.msg);
    u = mmc_tokenizer_from_json(json, strlen(json), "config.json", &err);
    CHECK(u && mmc_tokenizer_kind_of(u) == MMC_TOK_CHAR && mmc_tokenizer_vocab_size(u) == 8, "char round trip: %s", err.msg);
    mmc_free(json);
    mmc_tokenizer_free(u);
    mmc_tokenizer_free(t);
    t = small_bpe(&err);
    CHECK(t && mmc_tokenizer_to_json(t, &err) == NULL && err.code == MMC_ERR_USAGE, "BPE is not saved as a word vocab");
    mmc_tokenizer_free(t);
}

TEST(tokenizer_rejects_invalid_utf8_text) {
    mmc_error err = {0};
    mmc_tokenizer *kinds[4] = {mmc_tokenizer_build_word(CAPTIONS, 3, 1, 0, &err), mmc_tokenizer_build_char(CAPTIONS, 3, 1, 0, &err),
                               small_bpe(&err), small_wordpiece(1, &err)};
    static const char *bad[] = {"low\xc0\x80", "low\xed\xa0\x80", "low\xe4\xb8", "low\x80x"};
    for (int k = 0; k < 4; k++) {
        REQUIRE(kinds[k], "kind %d: %s", k, err.msg);
        for (int i = 0; i < 4; i++) {
            int32_t *ids = NULL;
            int n = -1;
            int rc = mmc_tokenizer_encode(kinds[k], bad[i], (size_t)-1, 1, 0, &ids, &n, &err);
            CHECK(rc == MMC_ERR_INPUT && strstr(err.msg, "byte offset 3") && ids == NULL && n == 0,
                  "kind %d text %d: rc %d '%s'", k, i, rc, err.msg);
        }
        mmc_tokenizer_free(kinds[k]);
    }
}

/* ------------------------------------------------------------- hostile files */

typedef struct hostile {
    const char *name, *data; /* file written as tmp/<name> */
    const char *expect;      /* in the message, besides the file name */
} hostile;

static void check_clip_hostile(const hostile *cases, int n, int vocab_side) {
    static const char *good_vocab = "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"a\": 2, \"b</w>\": 3, \"ab</w>\": 4}";
    for (int i = 0; i < n; i++) {
        mmc_error err = {0};
        const char *p = write_tmp(cases[i].name, cases[i].data, strlen(cases[i].data));
        char pp[512];
        snprintf(pp, sizeof pp, "%s", p);
        const char *other = vocab_side ? write_tmp("ok_merges.txt", "a b</w>\n", 8)
                                       : write_tmp("ok_vocab.json", good_vocab, strlen(good_vocab));
        mmc_tokenizer *t = vocab_side ? mmc_tokenizer_load_clip(pp, other, &err) : mmc_tokenizer_load_clip(other, pp, &err);
        CHECK(!t && err.code == MMC_ERR_INPUT, "%s case %d: rc %d (%s)", cases[i].name, i, err.code, err.msg);
        CHECK(strstr(err.msg, cases[i].name) && strstr(err.msg, cases[i].expect), "%s case %d: message '%s' lacks '%s'",
              cases[i].name, i, err.msg, cases[i].expect);
        mmc_tokenizer_free(t);
    }
}

TEST(tokenizer_hostile_vocab_json) {
    static char huge[3000];
    snprintf(huge, sizeof huge, "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"%02000d\": 2}", 7);
    const hostile cases[] = {
        {"v.json", "", "empty"},
        {"v.json", "{\"a\": 0,", "not valid JSON"},
        {"v.json", "[\"a\", \"b\"]", "not a JSON object"},
        {"v.json", "{}", "empty"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": \"1\"}", "not an integer"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1.5}", "not an integer"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": -1}", "outside"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 7}", "outside"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 0}", "used by both"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|startoftext|>\": 1}", "appears twice"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"\xff\": 2}", "UTF-8"},
        {"v.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"\": 2}", "empty string"},
        {"v.json", huge, "bytes (limit"},
        {"v.json", "{\"a\": 0, \"b</w>\": 1, \"ab</w>\": 2}", "lacks <|startoftext|>"},
    };
    check_clip_hostile(cases, (int)(sizeof cases / sizeof cases[0]), 1);
}

TEST(tokenizer_hostile_merges_txt) {
    static char huge[5000];
    memset(huge, 'a', sizeof huge - 1);
    huge[2200] = ' ';
    const hostile cases[] = {
        {"m.txt", "", "no merges"},
        {"m.txt", "#version: 0.2\n", "no merges"},
        {"m.txt", "a b</w>\na b c\n", "m.txt:2"},
        {"m.txt", "a\n", "two tokens"},
        {"m.txt", "a  b</w>\n", "two tokens"},
        {"m.txt", "a b</w>\n\n", "m.txt:2"},
        {"m.txt", "a zz\n", "'zz' is not in the vocabulary"},
        {"m.txt", "a a\n", "makes 'aa'"},
        {"m.txt", "a b</w>\na b</w>\n", "appears twice"},
        {"m.txt", "a \xc3\n", "UTF-8"},
        {"m.txt", huge, "longer than any merge"},
    };
    check_clip_hostile(cases, (int)(sizeof cases / sizeof cases[0]), 0);
    /* NUL inside a line: strlen cannot write it, so build it by hand. */
    mmc_error err = {0};
    char v[512];
    snprintf(v, sizeof v, "%s", WRITE_TMP("ok_vocab.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"a\": 2, \"b</w>\": 3, \"ab</w>\": 4}"));
    const char *m = write_tmp("nul.txt", "a b</w>\na\0b\n", 12);
    mmc_tokenizer *t = mmc_tokenizer_load_clip(v, m, &err);
    CHECK(!t && err.code == MMC_ERR_INPUT && strstr(err.msg, "nul.txt:2") && strstr(err.msg, "NUL"), "NUL: %s", err.msg);
    /* Missing files and directories. */
    t = mmc_tokenizer_load_clip(v, "/nonexistent/merges.txt", &err);
    CHECK(!t && err.code == MMC_ERR_INPUT && strstr(err.msg, "/nonexistent/merges.txt"), "missing: %s", err.msg);
    t = mmc_tokenizer_load_clip(tmp_dir(), m, &err);
    CHECK(!t && err.code == MMC_ERR_INPUT && strstr(err.msg, "directory"), "directory: %s", err.msg);
    t = mmc_tokenizer_load_dir("/nonexistent", &err);
    CHECK(!t && err.code == MMC_ERR_INPUT, "missing dir");
}

TEST(tokenizer_hostile_tokenizer_json) {
    const hostile cases[] = {
        {"t.json", "[]", "not a JSON object"},
        {"t.json", "{\"model\": {\"type\": \"WordPiece\"}}", "expected BPE"},
        {"t.json", "{\"model\": {\"type\": \"BPE\", \"end_of_word_suffix\": \"\"}}", "not a CLIP tokenizer"},
        {"t.json", "{\"model\": {\"type\": \"BPE\", \"end_of_word_suffix\": \"</w>\", \"vocab\": [1]}}", "not a JSON object"},
        {"t.json",
         "{\"model\": {\"type\": \"BPE\", \"end_of_word_suffix\": \"</w>\", \"vocab\": {\"<|startoftext|>\": 0, "
         "\"<|endoftext|>\": 1, \"a\": 2, \"b</w>\": 3, \"ab</w>\": 4}, \"merges\": \"a b</w>\"}}",
         "not an array"},
        {"t.json",
         "{\"model\": {\"type\": \"BPE\", \"end_of_word_suffix\": \"</w>\", \"vocab\": {\"<|startoftext|>\": 0, "
         "\"<|endoftext|>\": 1, \"a\": 2, \"b</w>\": 3, \"ab</w>\": 4}, \"merges\": [[\"a\", 3]]}}",
         "model.merges[0]"},
        {"t.json",
         "{\"model\": {\"type\": \"BPE\", \"end_of_word_suffix\": \"</w>\", \"vocab\": {\"<|startoftext|>\": 0, "
         "\"<|endoftext|>\": 1, \"a\": 2, \"b</w>\": 3, \"ab</w>\": 4}, \"merges\": [\"a b</w>\", [\"b</w>\", \"a\"]]}}",
         "model.merges[1]"},
        {"t.json",
         "{\"added_tokens\": [{\"id\": 9, \"content\": \"<|endoftext|>\"}], \"model\": {\"type\": \"BPE\", "
         "\"end_of_word_suffix\": \"</w>\", \"vocab\": {\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"a\": 2, "
         "\"b</w>\": 3, \"ab</w>\": 4}, \"merges\": [[\"a\", \"b</w>\"]]}}",
         "does not match"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mmc_error err = {0};
        const char *p = write_tmp(cases[i].name, cases[i].data, strlen(cases[i].data));
        mmc_tokenizer *t = mmc_tokenizer_load_clip_json(p, &err);
        CHECK(!t && err.code == MMC_ERR_INPUT && strstr(err.msg, cases[i].name) && strstr(err.msg, cases[i].expect),
              "case %zu: rc %d '%s' lacks '%s'", i, err.code, err.msg, cases[i].expect);
        mmc_tokenizer_free(t);
    }
    /* The same content, well-formed, loads and encodes "ab" as one token. */
    mmc_error err = {0};
    const char *ok = WRITE_TMP("t_ok.json", "{\"model\": {\"type\": \"BPE\", \"end_of_word_suffix\": \"</w>\", \"vocab\": "
                                            "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1, \"a\": 2, \"b</w>\": 3, "
                                            "\"ab</w>\": 4}, \"merges\": [\"a b</w>\"]}}");
    mmc_tokenizer *t = mmc_tokenizer_load_clip_json(ok, &err);
    REQUIRE(t, "%s", err.msg);
    EXPECT(t, "ab", 1, 0, 0, 4, 1);
    mmc_tokenizer_free(t);
}

TEST(tokenizer_hostile_vocab_txt) {
    static char huge[3000];
    memset(huge, 'x', sizeof huge - 1);
    const hostile cases[] = {
        {"vocab.txt", "", "empty"},
        {"vocab.txt", "[UNK]\n[CLS]\n[SEP]\n[CLS]\n", "vocab.txt:4"},
        {"vocab.txt", "[UNK]\n\n[CLS]\n[SEP]\n", "vocab.txt:2: empty line"},
        {"vocab.txt", "[UNK]\n[CLS]\n\xe4\xb8\n[SEP]\n", "vocab.txt:3: invalid UTF-8"},
        {"vocab.txt", huge, "vocab.txt:1: line of"},
        {"vocab.txt", "[CLS]\n[SEP]\na\n", "lacks [UNK]"},
        {"vocab.txt", "[UNK]\n[CLS]\na\n", "lacks [SEP]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mmc_error err = {0};
        const char *p = write_tmp(cases[i].name, cases[i].data, strlen(cases[i].data));
        mmc_tokenizer *t = mmc_tokenizer_load_wordpiece(p, NULL, &err);
        CHECK(!t && err.code == MMC_ERR_INPUT && strstr(err.msg, cases[i].name) && strstr(err.msg, cases[i].expect),
              "case %zu: rc %d '%s' lacks '%s'", i, err.code, err.msg, cases[i].expect);
        mmc_tokenizer_free(t);
    }
    mmc_error err = {0};
    CHECK(!mmc_tokenizer_load_wordpiece("/nonexistent/vocab.txt", NULL, &err) && err.code == MMC_ERR_INPUT &&
              strstr(err.msg, "/nonexistent/vocab.txt"),
          "missing: %s", err.msg);
    CHECK(!mmc_tokenizer_load_wordpiece(tmp_dir(), NULL, &err) && err.code == MMC_ERR_INPUT && strstr(err.msg, "directory"),
          "directory: %s", err.msg);
}

TEST(tokenizer_hostile_saved_vocab) {
    const hostile cases[] = {
        {"w.json", "", "not a JSON object"},
        {"w.json", "{\"kind\": \"bpe\", \"tokens\": []}", "\"kind\""},
        {"w.json", "{\"kind\": \"word\", \"tokens\": {}}", "not an array"},
        {"w.json", "{\"kind\": \"word\", \"tokens\": [\"<pad>\", \"<unk>\"]}", "fewer than the 4 specials"},
        {"w.json", "{\"kind\": \"word\", \"tokens\": [\"<unk>\", \"<pad>\", \"<start>\", \"<end>\"]}", "expected <pad>"},
        {"w.json", "{\"kind\": \"word\", \"tokens\": [\"<pad>\", \"<unk>\", \"<start>\", \"<end>\", \"a\", \"a\"]}", "repeats tokens[4]"},
        {"w.json", "{\"kind\": \"char\", \"tokens\": [\"<pad>\", \"<unk>\", \"<start>\", \"<end>\", 5]}", "not a string"},
        {"w.json", "{\"kind\": \"char\", \"tokens\": [\"<pad>\", \"<unk>\", \"<start>\", \"<end>\", \"\\u00e9\xff\"]}", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mmc_error err = {0};
        const char *p = write_tmp(cases[i].name, cases[i].data, strlen(cases[i].data));
        mmc_tokenizer *t = mmc_tokenizer_load(p, &err);
        CHECK(!t && err.code == MMC_ERR_INPUT && strstr(err.msg, cases[i].name) && strstr(err.msg, cases[i].expect),
              "case %zu: rc %d '%s' lacks '%s'", i, err.code, err.msg, cases[i].expect);
        mmc_tokenizer_free(t);
    }
}

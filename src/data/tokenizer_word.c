/* tokenizer_word.c — the tokenizers mmc trains its own models with: WORD (English
 * captions: lowercase words and punctuation marks) and CHAR (Chinese captions: one token
 * per ideograph). Vocabularies are built from training texts and saved as JSON in a run
 * folder, so a model is always read back with the vocabulary it was trained on.
 *
 * Both lowercase (after NFC, so composed and decomposed accents agree) and never fail on
 * valid UTF-8: words outside the vocabulary become <unk>. */
#include "tokenizer_internal.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *const SPECIALS[4] = {"<pad>", "<unk>", "<start>", "<end>"};

/* A sink for the tokens a splitter finds: (code points, count). */
typedef int (*tok_sink)(void *ctx, const uint32_t *s, size_t n);

static int is_separator(uint32_t c) { return mmc_unicode_is_space(c) || mmc_unicode_is_bert_control(c); }

/* WORD: whitespace separates; each punctuation character (BERT's definition, so ASCII
 * symbols like $ and + too) is a token of its own; the rest runs together. */
static int split_words(const uint32_t *s, size_t n, tok_sink f, void *ctx) {
    for (size_t i = 0; i < n;) {
        if (is_separator(s[i])) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (!mmc_unicode_is_bert_punct(s[i]))
            while (j < n && !is_separator(s[j]) && !mmc_unicode_is_bert_punct(s[j])) j++;
        int rc = f(ctx, s + i, j - i);
        if (rc) return rc;
        i = j;
    }
    return MMC_OK;
}

/* Letters (and the marks on them) of scripts written with spaces: Latin, Greek, ... */
static int is_word_char(uint32_t c) {
    return !mmc_unicode_is_cjk(c) && (mmc_unicode_is_letter(c) || mmc_unicode_is_mark(c));
}

/* CHAR: one token per CJK ideograph, digit, punctuation or symbol; runs of other letters
 * are words. */
static int split_chars(const uint32_t *s, size_t n, tok_sink f, void *ctx) {
    for (size_t i = 0; i < n;) {
        if (is_separator(s[i])) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (is_word_char(s[i]))
            while (j < n && is_word_char(s[j])) j++;
        int rc = f(ctx, s + i, j - i);
        if (rc) return rc;
        i = j;
    }
    return MMC_OK;
}

/* Validates, NFC-normalises, lowercases and splits one text. */
static int split_text(mmc_tokenizer_kind kind, const char *text, size_t len, const char *what, tok_sink f, void *ctx,
                      mmc_error *err) {
    uint32_t *cps, *nfc = NULL, *low = NULL;
    size_t n, m, k;
    int rc = tok_decode_text(text, len, &cps, &n, what, err);
    if (rc) return rc;
    nfc = mmc_unicode_nfc(cps, n, &m);
    if (nfc) low = mmc_unicode_lower(nfc, m, &k);
    if (!low) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", what);
    else rc = (kind == MMC_TOK_WORD ? split_words : split_chars)(low, k, f, ctx);
    if (rc == MMC_ERR_RUNTIME) mmc_error_set(err, rc, "%s: out of memory", what);
    mmc_free(cps);
    mmc_free(nfc);
    mmc_free(low);
    return rc;
}

/* Code points -> UTF-8 in a small stack buffer or the heap; tokens are short. */
static char *utf8_of(const uint32_t *s, size_t n, char *stack, size_t cap, size_t *len) {
    char *b = 4 * n <= cap ? stack : mmc_malloc(4 * n);
    if (!b) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)mmc_utf8_encode(s[i], b + k);
    *len = k;
    return b;
}

/* ------------------------------------------------------------------ build */

typedef struct counter {
    tok_vocab seen;
    int64_t *count;
    int cap;
} counter;

static int count_token(void *ctx, const uint32_t *s, size_t n) {
    counter *c = ctx;
    char stack[256] = "";
    size_t len;
    char *b = utf8_of(s, n, stack, sizeof stack, &len);
    if (!b) return MMC_ERR_RUNTIME;
    int id, rc = tok_vocab_add(&c->seen, b, len, &id);
    if (b != stack) mmc_free(b);
    if (rc) return rc;
    if (id < 0) id = -1 - id;
    if (id >= c->cap) {
        int cap = c->cap ? c->cap * 2 : 1024;
        int64_t *p = mmc_realloc(c->count, sizeof *p * (size_t)cap);
        if (!p) return MMC_ERR_RUNTIME;
        memset(p + c->cap, 0, sizeof *p * (size_t)(cap - c->cap));
        c->count = p;
        c->cap = cap;
    }
    c->count[id]++;
    return MMC_OK;
}

typedef struct ranked {
    int64_t count;
    const char *s;
    uint32_t len;
} ranked;

static int by_count(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->s, y->s);
}

/* Specials, then the counted tokens most frequent first (ties in byte order, so the
 * vocabulary does not depend on the order of the texts). */
static int fill_vocab(mmc_tokenizer *t, const counter *c, int min_count, int max_vocab) {
    ranked *r = mmc_malloc(sizeof *r * (size_t)(c->seen.n + 1));
    if (!r || tok_add_basic_specials(t)) {
        mmc_free(r);
        return MMC_ERR_RUNTIME;
    }
    for (int i = 0; i < c->seen.n; i++) r[i] = (ranked){c->count[i], c->seen.str[i], c->seen.len[i]};
    qsort(r, (size_t)c->seen.n, sizeof *r, by_count);
    int rc = MMC_OK, id;
    for (int i = 0; i < c->seen.n && !rc; i++) {
        if (r[i].count < min_count || (max_vocab > 0 && t->vocab.n >= max_vocab)) break;
        rc = tok_vocab_add(&t->vocab, r[i].s, r[i].len, &id);
    }
    mmc_free(r);
    return rc;
}

static mmc_tokenizer *build(mmc_tokenizer_kind kind, const char *const *texts, int n, int min_count, int max_vocab,
                            mmc_error *err) {
    if (n < 0 || (n && !texts) || (max_vocab > 0 && max_vocab < 4)) {
        mmc_error_set(err, MMC_ERR_USAGE, "tokenizer build: bad arguments (n %d, max_vocab %d)", n, max_vocab);
        return NULL;
    }
    counter c = {0};
    int rc = MMC_OK;
    for (int i = 0; i < n && !rc; i++) {
        char what[48];
        snprintf(what, sizeof what, "texts[%d]", i);
        if (!texts[i]) rc = mmc_error_set(err, MMC_ERR_USAGE, "tokenizer build: %s is NULL", what);
        else rc = split_text(kind, texts[i], strlen(texts[i]), what, count_token, &c, err);
    }
    mmc_tokenizer *t = rc ? NULL : tok_new(kind);
    if (!rc && (!t || fill_vocab(t, &c, min_count < 1 ? 1 : min_count, max_vocab)))
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "tokenizer build: out of memory");
    tok_vocab_free(&c.seen);
    mmc_free(c.count);
    if (rc) {
        mmc_tokenizer_free(t);
        return NULL;
    }
    return t;
}

mmc_tokenizer *mmc_tokenizer_build_word(const char *const *texts, int n, int min_count, int max_vocab, mmc_error *err) {
    return build(MMC_TOK_WORD, texts, n, min_count, max_vocab, err);
}

mmc_tokenizer *mmc_tokenizer_build_char(const char *const *texts, int n, int min_count, int max_vocab, mmc_error *err) {
    return build(MMC_TOK_CHAR, texts, n, min_count, max_vocab, err);
}

/* ----------------------------------------------------------------- encode */

typedef struct lookup {
    const mmc_tokenizer *t;
    tok_ivec *out;
} lookup;

static int emit_id(void *ctx, const uint32_t *s, size_t n) {
    lookup *l = ctx;
    char stack[256] = "";
    size_t len;
    char *b = utf8_of(s, n, stack, sizeof stack, &len);
    if (!b) return MMC_ERR_RUNTIME;
    int id = tok_vocab_find(&l->t->vocab, b, len);
    if (b != stack) mmc_free(b);
    return tok_ivec_push(l->out, id >= 0 ? id : l->t->sp.unk);
}

int tok_word_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err) {
    lookup l = {t, out};
    return split_text(MMC_TOK_WORD, s, n, "text", emit_id, &l, err);
}

int tok_char_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err) {
    lookup l = {t, out};
    return split_text(MMC_TOK_CHAR, s, n, "text", emit_id, &l, err);
}

/* ----------------------------------------------------------------- decode */

int tok_word_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *b) {
    int rc = MMC_OK;
    for (int i = 0; i < n && !rc; i++) {
        if (skip && tok_is_special(t, ids[i])) continue;
        if (b->n) rc = tok_buf_put(b, " ", 1);
        if (!rc) rc = tok_buf_put(b, t->vocab.str[ids[i]], t->vocab.len[ids[i]]);
    }
    return rc;
}

/* 1 for a letter of a spaced script, 2 for a number, 0 otherwise (CJK, punctuation). */
static int glue_class(uint32_t c) {
    if (mmc_unicode_is_number(c)) return 2;
    return is_word_char(c) ? 1 : 0;
}

static uint32_t first_cp(const char *s, uint32_t len) {
    uint32_t cp[4];
    size_t l = len < 4 ? len : 4;
    while (l && mmc_utf8_decode(s, l, cp, NULL) < 0) l--; /* a prefix that is whole */
    return l ? cp[0] : 0;
}

static uint32_t last_cp(const char *s, uint32_t len) {
    uint32_t i = len;
    while (i > 0 && ((uint8_t)s[i - 1] & 0xC0) == 0x80) i--;
    return i > 0 ? first_cp(s + i - 1, len - i + 1) : 0;
}

/* CHAR: no spaces, except between two words, or a word and a number, so "red car" and
 * "iphone 15" survive while "红色的车" and "2026" stay joined. */
int tok_char_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *b) {
    int rc = MMC_OK, prev = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (skip && tok_is_special(t, ids[i])) continue;
        const char *s = t->vocab.str[ids[i]];
        uint32_t len = t->vocab.len[ids[i]];
        int first = glue_class(first_cp(s, len));
        if (b->n && prev && first && !(prev == 2 && first == 2)) rc = tok_buf_put(b, " ", 1);
        if (!rc) rc = tok_buf_put(b, s, len);
        prev = glue_class(last_cp(s, len));
    }
    return rc;
}

/* ------------------------------------------------------------------- JSON */

char *mmc_tokenizer_to_json(const mmc_tokenizer *t, mmc_error *err) {
    if (!t || (t->kind != MMC_TOK_WORD && t->kind != MMC_TOK_CHAR)) {
        mmc_error_set(err, MMC_ERR_USAGE, "tokenizer to_json: only word and char vocabularies are saved (others load from their files)");
        return NULL;
    }
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    int ok = root && arr && cJSON_AddStringToObject(root, "kind", t->kind == MMC_TOK_WORD ? "word" : "char");
    if (ok) cJSON_AddItemToObject(root, "tokens", arr);
    else cJSON_Delete(arr);
    for (int i = 0; i < t->vocab.n && ok; i++) {
        cJSON *s = cJSON_CreateString(t->vocab.str[i]);
        ok = s && cJSON_AddItemToArray(arr, s);
    }
    char *txt = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    char *out = NULL;
    if (txt) {
        size_t n = strlen(txt);
        out = mmc_malloc(n + 1);
        if (out) memcpy(out, txt, n + 1);
        cJSON_free(txt);
    }
    if (!out) mmc_error_set(err, MMC_ERR_RUNTIME, "tokenizer to_json: out of memory");
    return out;
}

static int tokens_from_json(mmc_tokenizer *t, const cJSON *arr, const char *name, mmc_error *err) {
    if (!cJSON_IsArray(arr)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"tokens\" is not an array", name);
    int i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        size_t bad;
        int id;
        if (!cJSON_IsString(it)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: tokens[%d] is not a string", name, i);
        const char *s = it->valuestring;
        size_t n = strlen(s);
        if (n == 0 || n > TOK_MAX_TOKEN_BYTES)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: tokens[%d] is %zu bytes (1..%d)", name, i, n, TOK_MAX_TOKEN_BYTES);
        if (mmc_utf8_validate(s, n, &bad))
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: tokens[%d] is not valid UTF-8 (byte %zu)", name, i, bad);
        if (i < 4 && strcmp(s, SPECIALS[i]) != 0)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: tokens[%d] is '%.32s', expected %s", name, i, s, SPECIALS[i]);
        if (tok_vocab_add(&t->vocab, s, n, &id)) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name);
        if (id < 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: tokens[%d] '%.64s' repeats tokens[%d]", name, i, s, -1 - id);
    }
    if (i < 4) return mmc_error_set(err, MMC_ERR_INPUT, "%s: %d tokens, fewer than the 4 specials", name, i);
    t->sp.pad = 0;
    t->sp.unk = 1;
    t->sp.start = 2;
    t->sp.end = 3;
    return MMC_OK;
}

mmc_tokenizer *mmc_tokenizer_from_json(const char *json, size_t len, const char *name, mmc_error *err) {
    if (!name) name = "<tokenizer json>";
    cJSON *root = json ? cJSON_ParseWithLength(json, len) : NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    mmc_tokenizer_kind k = 0;
    int rc = MMC_OK;
    if (!cJSON_IsObject(root)) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", name);
    else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "word") == 0) k = MMC_TOK_WORD;
    else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "char") == 0) k = MMC_TOK_CHAR;
    else rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: \"kind\" must be \"word\" or \"char\"", name);
    mmc_tokenizer *t = rc ? NULL : tok_new(k);
    if (!rc && !t) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name);
    if (!rc) rc = tokens_from_json(t, cJSON_GetObjectItemCaseSensitive(root, "tokens"), name, err);
    cJSON_Delete(root);
    if (rc) {
        mmc_tokenizer_free(t);
        return NULL;
    }
    return t;
}

int mmc_tokenizer_save(const mmc_tokenizer *t, const char *path, mmc_error *err) {
    char *json = mmc_tokenizer_to_json(t, err);
    if (!json) return (t && (t->kind == MMC_TOK_WORD || t->kind == MMC_TOK_CHAR)) ? MMC_ERR_RUNTIME : MMC_ERR_USAGE;
    int rc = mmc_write_file_atomic(path, json, strlen(json), err);
    mmc_free(json);
    return rc;
}

mmc_tokenizer *mmc_tokenizer_load(const char *path, mmc_error *err) {
    uint8_t *buf;
    size_t size;
    if (!path) {
        mmc_error_set(err, MMC_ERR_USAGE, "tokenizer load: NULL path");
        return NULL;
    }
    if (mmc_read_file(path, TOK_MAX_FILE_BYTES, &buf, &size, err)) return NULL;
    mmc_tokenizer *t = mmc_tokenizer_from_json((const char *)buf, size, path, err);
    mmc_free(buf);
    return t;
}

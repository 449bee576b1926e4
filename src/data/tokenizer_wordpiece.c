/* tokenizer_wordpiece.c — BERT's WordPiece tokenizer (Chinese-CLIP's text side), as
 * transformers 5 runs it (the tokenizers crate's BertNormalizer, BertPreTokenizer and
 * WordPiece model):
 *
 *   clean       drop NUL, U+FFFD and control characters (any C* category but \t \n \r);
 *               every White_Space character -> " "
 *   CJK         a space on both sides of every CJK ideograph (BERT's block list)
 *   accents     when stripping: NFD, then drop every mark (M*)
 *   lowercase   per character
 *   split       at whitespace (dropped) and around each punctuation character (kept)
 *   WordPiece   greedy longest match from the left, continuation pieces prefixed "##";
 *               a word longer than max_chars_per_word, or with a part no entry matches,
 *               is one [UNK]
 *
 * transformers 4's Python BasicTokenizer also NFC-normalised first and dropped only Mn
 * marks; with accent stripping on (BERT's default) NFC makes no difference. */
#include "tokenizer_internal.h"
#include <cjson/cJSON.h>
#include <string.h>

mmc_wordpiece_opts mmc_wordpiece_defaults(void) {
    return (mmc_wordpiece_opts){.do_lower_case = 1, .strip_accents = -1, .tokenize_chinese_chars = 1,
                                .max_chars_per_word = 100};
}

/* ----------------------------------------------------------------- config */

static int read_bool(const cJSON *root, const char *key, int *out, int allow_null, const char *path, mmc_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return MMC_OK;
    if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
    else if (allow_null && cJSON_IsNull(v)) *out = -1;
    else return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"%s\" must be true or false%s", path, key, allow_null ? " or null" : "");
    return MMC_OK;
}

int mmc_wordpiece_read_config(const char *path, mmc_wordpiece_opts *o, mmc_error *err) {
    uint8_t *buf;
    size_t size;
    int rc = mmc_read_file(path, 16u << 20, &buf, &size, err);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength((const char *)buf, size);
    mmc_free(buf);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", path);
    }
    mmc_wordpiece_opts n = *o;
    rc = read_bool(root, "do_lower_case", &n.do_lower_case, 0, path, err);
    if (!rc) rc = read_bool(root, "strip_accents", &n.strip_accents, 1, path, err);
    if (!rc) rc = read_bool(root, "tokenize_chinese_chars", &n.tokenize_chinese_chars, 0, path, err);
    cJSON_Delete(root);
    if (!rc) *o = n;
    return rc;
}

/* ------------------------------------------------------------------- load */

static int vocab_line(mmc_tokenizer *t, const char *p, size_t n, const char *path, int lineno, mmc_error *err) {
    size_t bad;
    int id;
    if (n == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s:%d: empty line (every line is a token)", path, lineno);
    if (n > TOK_MAX_TOKEN_BYTES)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s:%d: line of %zu bytes is longer than %d", path, lineno, n, TOK_MAX_TOKEN_BYTES);
    if (memchr(p, 0, n)) return mmc_error_set(err, MMC_ERR_INPUT, "%s:%d: NUL byte in token", path, lineno);
    if (mmc_utf8_validate(p, n, &bad))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s:%d: invalid UTF-8 at column %zu", path, lineno, bad + 1);
    if (tok_vocab_add(&t->vocab, p, n, &id)) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    if (id < 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s:%d: token '%.*s' already on line %d", path, lineno, (int)n, p, -id);
    return MMC_OK;
}

static int read_vocab_txt(mmc_tokenizer *t, const char *path, mmc_error *err) {
    uint8_t *buf;
    size_t size;
    int rc = mmc_read_file(path, TOK_MAX_FILE_BYTES, &buf, &size, err);
    if (rc) return rc;
    if (size == 0) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: file is empty", path);
    const char *s = (const char *)buf, *end = s + size;
    int lineno = 0;
    for (const char *p = s; p < end && !rc;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n && p[n - 1] == '\r') n--; /* CRLF files */
        rc = vocab_line(t, p, n, path, ++lineno, err);
        p = nl ? nl + 1 : end;
    }
    mmc_free(buf);
    return rc;
}

static int find_special(mmc_tokenizer *t, const char *name, int required, const char *path, mmc_error *err) {
    int id = tok_vocab_find(&t->vocab, name, strlen(name));
    if (id < 0 && required) mmc_error_set(err, MMC_ERR_INPUT, "%s: vocabulary lacks %s", path, name);
    if (id >= 0) t->added[t->n_added++] = id;
    return id;
}

mmc_tokenizer *mmc_tokenizer_load_wordpiece(const char *path, const mmc_wordpiece_opts *opts, mmc_error *err) {
    if (!path) {
        mmc_error_set(err, MMC_ERR_USAGE, "load_wordpiece: NULL path");
        return NULL;
    }
    mmc_tokenizer *t = tok_new(MMC_TOK_WORDPIECE);
    if (!t) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
        return NULL;
    }
    if (opts) t->wp = *opts;
    if (t->wp.max_chars_per_word <= 0) t->wp.max_chars_per_word = 100;
    if (read_vocab_txt(t, path, err)) {
        mmc_tokenizer_free(t);
        return NULL;
    }
    t->sp.unk = find_special(t, "[UNK]", 1, path, err);
    t->sp.cls = t->sp.start = find_special(t, "[CLS]", 1, path, err);
    t->sp.sep = t->sp.end = find_special(t, "[SEP]", 1, path, err);
    t->sp.pad = find_special(t, "[PAD]", 0, path, err);
    t->sp.mask = find_special(t, "[MASK]", 0, path, err);
    if (t->sp.unk < 0 || t->sp.cls < 0 || t->sp.sep < 0) {
        mmc_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* ----------------------------------------------------------------- encode */

/* clean + CJK spacing + accents + lowercase; returns a new array. */
static uint32_t *bert_normalize(const mmc_tokenizer *t, const uint32_t *cps, size_t n, size_t *out_n) {
    uint32_t *a = mmc_malloc(sizeof *a * (3 * n + 1));
    if (!a) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cps[i];
        if (c == 0 || c == 0xFFFD || mmc_unicode_is_bert_control(c)) continue;
        if (c == '\t' || c == '\n' || c == '\r' || mmc_unicode_is_space(c)) c = ' ';
        int cjk = t->wp.tokenize_chinese_chars && mmc_unicode_is_cjk(c);
        if (cjk) a[k++] = ' ';
        a[k++] = c;
        if (cjk) a[k++] = ' ';
    }
    int strip = t->wp.strip_accents < 0 ? t->wp.do_lower_case : t->wp.strip_accents;
    if (strip) {
        size_t m;
        uint32_t *s = mmc_unicode_strip_accents(a, k, &m);
        mmc_free(a);
        if (!s) return NULL;
        a = s;
        k = m;
    }
    if (t->wp.do_lower_case) {
        uint32_t *l = mmc_unicode_lower(a, k, out_n);
        mmc_free(a);
        return l;
    }
    *out_n = k;
    return a;
}

/* Greedy longest-match-first WordPiece of one word w[0..n). buf has room for
 * 2 + 4 * n bytes. */
static int wordpiece_word(const mmc_tokenizer *t, const uint32_t *w, size_t n, char *buf, tok_ivec *out) {
    if (n > (size_t)t->wp.max_chars_per_word) return tok_ivec_push(out, t->sp.unk);
    int first = out->n;
    for (size_t start = 0; start < n;) {
        int found = -1;
        size_t end = n;
        for (; end > start; end--) {
            size_t k = 0;
            if (start > 0) buf[k++] = '#', buf[k++] = '#';
            for (size_t j = start; j < end; j++) k += (size_t)mmc_utf8_encode(w[j], buf + k);
            found = tok_vocab_find(&t->vocab, buf, k);
            if (found >= 0) break;
        }
        if (found < 0) {
            out->n = first; /* one unmatched part makes the whole word unknown */
            return tok_ivec_push(out, t->sp.unk);
        }
        if (tok_ivec_push(out, found)) return MMC_ERR_RUNTIME;
        start = end;
    }
    return MMC_OK;
}

/* Splits at whitespace and punctuation and runs WordPiece on each word. */
static int bert_words(const mmc_tokenizer *t, const uint32_t *s, size_t n, tok_ivec *out) {
    size_t longest = 1, run = 0;
    for (size_t i = 0; i < n; i++) {
        run = (s[i] == ' ' || mmc_unicode_is_bert_punct(s[i])) ? 0 : run + 1;
        if (run > longest) longest = run;
    }
    if (longest > (size_t)t->wp.max_chars_per_word) longest = (size_t)t->wp.max_chars_per_word;
    char *buf = mmc_malloc(2 + 4 * longest);
    if (!buf) return MMC_ERR_RUNTIME;
    int rc = MMC_OK;
    size_t i = 0;
    while (i < n && !rc) {
        if (mmc_unicode_is_space(s[i])) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (!mmc_unicode_is_bert_punct(s[i]))
            while (j < n && !mmc_unicode_is_space(s[j]) && !mmc_unicode_is_bert_punct(s[j])) j++;
        rc = wordpiece_word(t, s + i, j - i, buf, out);
        i = j;
    }
    mmc_free(buf);
    return rc;
}

int tok_wordpiece_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err) {
    uint32_t *cps;
    size_t ncp, m;
    int rc = tok_decode_text(s, n, &cps, &ncp, "text", err);
    if (rc) return rc;
    uint32_t *norm = bert_normalize(t, cps, ncp, &m);
    mmc_free(cps);
    rc = norm ? bert_words(t, norm, m, out) : MMC_ERR_RUNTIME;
    mmc_free(norm);
    if (rc) return mmc_error_set(err, rc, "text: out of memory while tokenizing %zu bytes", n);
    return MMC_OK;
}

/* ----------------------------------------------------------------- decode */

int tok_wordpiece_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *b) {
    int rc = MMC_OK;
    for (int i = 0; i < n && !rc; i++) {
        if (skip && tok_is_special(t, ids[i])) continue;
        const char *s = t->vocab.str[ids[i]];
        size_t l = t->vocab.len[ids[i]];
        if (b->n && l > 2 && s[0] == '#' && s[1] == '#') rc = tok_buf_put(b, s + 2, l - 2);
        else if (b->n) rc = tok_buf_put(b, " ", 1) || tok_buf_put(b, s, l);
        else rc = tok_buf_put(b, s, l);
    }
    return rc;
}

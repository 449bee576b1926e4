/* tokenizer_common.c — the parts every tokenizer kind shares: the vocabulary hash table,
 * encode (added tokens, specials, truncation), batch padding, decode, accessors, and
 * loading a Hugging Face folder. */
#include "tokenizer_internal.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------- vocabulary */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a: short keys, good enough spread */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static int vocab_rehash(tok_vocab *v, size_t ns) {
    int32_t *slots = mmc_malloc(sizeof *slots * ns);
    if (!slots) return MMC_ERR_RUNTIME;
    for (size_t i = 0; i < ns; i++) slots[i] = -1;
    for (int id = 0; id < v->n; id++) {
        size_t j = hash_bytes(v->str[id], v->len[id]) & (ns - 1);
        while (slots[j] >= 0) j = (j + 1) & (ns - 1);
        slots[j] = id;
    }
    mmc_free(v->slots);
    v->slots = slots;
    v->nslots = ns;
    return MMC_OK;
}

int tok_vocab_find(const tok_vocab *v, const char *s, size_t n) {
    if (!v->nslots) return -1;
    size_t j = hash_bytes(s, n) & (v->nslots - 1);
    for (; v->slots[j] >= 0; j = (j + 1) & (v->nslots - 1)) {
        int id = v->slots[j];
        if (v->len[id] == n && memcmp(v->str[id], s, n) == 0) return id;
    }
    return -1;
}

int tok_vocab_add(tok_vocab *v, const char *s, size_t n, int *id) {
    int old = tok_vocab_find(v, s, n);
    if (old >= 0) {
        *id = -1 - old;
        return MMC_OK;
    }
    if ((size_t)(v->n + 1) * 2 > v->nslots && vocab_rehash(v, v->nslots ? v->nslots * 2 : 1024)) return MMC_ERR_RUNTIME;
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 256;
        char **str = mmc_realloc(v->str, sizeof *str * (size_t)cap);
        if (!str) return MMC_ERR_RUNTIME;
        v->str = str;
        uint32_t *len = mmc_realloc(v->len, sizeof *len * (size_t)cap);
        if (!len) return MMC_ERR_RUNTIME;
        v->len = len;
        v->cap = cap;
    }
    char *copy = mmc_malloc(n + 1);
    if (!copy) return MMC_ERR_RUNTIME;
    memcpy(copy, s, n);
    copy[n] = 0;
    v->str[v->n] = copy;
    v->len[v->n] = (uint32_t)n;
    size_t j = hash_bytes(s, n) & (v->nslots - 1);
    while (v->slots[j] >= 0) j = (j + 1) & (v->nslots - 1);
    v->slots[j] = v->n;
    *id = v->n++;
    return MMC_OK;
}

int tok_vocab_reserve(tok_vocab *v, int n) {
    size_t ns = 1024;
    while (ns < 2 * (size_t)n + 2) ns *= 2;
    if (ns > v->nslots && vocab_rehash(v, ns)) return MMC_ERR_RUNTIME;
    if (n > v->cap) {
        char **str = mmc_realloc(v->str, sizeof *str * (size_t)n);
        if (!str) return MMC_ERR_RUNTIME;
        v->str = str;
        uint32_t *len = mmc_realloc(v->len, sizeof *len * (size_t)n);
        if (!len) return MMC_ERR_RUNTIME;
        v->len = len;
        v->cap = n;
    }
    return MMC_OK;
}

void tok_vocab_free(tok_vocab *v) {
    for (int i = 0; i < v->n; i++) mmc_free(v->str[i]);
    mmc_free(v->str);
    mmc_free(v->len);
    mmc_free(v->slots);
    memset(v, 0, sizeof *v);
}

/* ---------------------------------------------------------------- helpers */

int tok_ivec_push(tok_ivec *a, int32_t x) {
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = mmc_realloc(a->v, sizeof *v * (size_t)cap);
        if (!v) return MMC_ERR_RUNTIME;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return MMC_OK;
}

int tok_buf_put(tok_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = mmc_realloc(b->s, cap);
        if (!p) return MMC_ERR_RUNTIME;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return MMC_OK;
}

int tok_buf_cp(tok_buf *b, uint32_t cp) {
    char u[4];
    int l = mmc_utf8_encode(cp, u);
    return tok_buf_put(b, u, (size_t)l);
}

int tok_decode_text(const char *s, size_t n, uint32_t **cps, size_t *ncp, const char *what, mmc_error *err) {
    *cps = mmc_malloc(sizeof **cps * (n + 1));
    if (!*cps) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for %zu bytes of text", what, n);
    size_t bad = 0;
    int64_t k = mmc_utf8_decode(s, n, *cps, &bad);
    if (k < 0) {
        mmc_free(*cps);
        *cps = NULL;
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: invalid UTF-8 at byte offset %zu (byte 0x%02X)", what, bad,
                             (unsigned)(uint8_t)s[bad]);
    }
    *ncp = (size_t)k;
    return MMC_OK;
}

mmc_tokenizer *tok_new(mmc_tokenizer_kind kind) {
    mmc_tokenizer *t = mmc_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->sp = (mmc_tokenizer_specials){-1, -1, -1, -1, -1, -1, -1};
    t->wp = mmc_wordpiece_defaults();
    return t;
}

int tok_add_basic_specials(mmc_tokenizer *t) {
    static const char *names[4] = {"<pad>", "<unk>", "<start>", "<end>"};
    for (int i = 0; i < 4; i++) {
        int id;
        if (tok_vocab_add(&t->vocab, names[i], strlen(names[i]), &id)) return MMC_ERR_RUNTIME;
    }
    t->sp.pad = 0;
    t->sp.unk = 1;
    t->sp.start = 2;
    t->sp.end = 3;
    return MMC_OK;
}

void mmc_tokenizer_free(mmc_tokenizer *t) {
    if (!t) return;
    tok_vocab_free(&t->vocab);
    mmc_free(t->merges);
    mmc_free(t);
}

/* ----------------------------------------------------------------- encode */

static int encode_segment(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err) {
    switch (t->kind) {
    case MMC_TOK_WORD: return tok_word_encode(t, s, n, out, err);
    case MMC_TOK_CHAR: return tok_char_encode(t, s, n, out, err);
    case MMC_TOK_CLIP_BPE: return tok_bpe_encode(t, s, n, out, err);
    case MMC_TOK_WORDPIECE: return tok_wordpiece_encode(t, s, n, out, err);
    }
    return mmc_error_set(err, MMC_ERR_USAGE, "tokenizer: unknown kind %d", (int)t->kind);
}

/* The added token starting at s (longest wins), or -1. */
static int added_at(const mmc_tokenizer *t, const char *s, size_t n, size_t *len) {
    int best = -1;
    *len = 0;
    for (int i = 0; i < t->n_added; i++) {
        int id = t->added[i];
        size_t l = t->vocab.len[id];
        if (l <= n && l > *len && memcmp(s, t->vocab.str[id], l) == 0) {
            best = id;
            *len = l;
        }
    }
    return best;
}

/* Splits the text at added tokens (as transformers does before normalising) and encodes
 * the pieces between them with the kind's pipeline. */
static int encode_body(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err) {
    size_t seg = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        int id = (t->n_added && (s[i] == '<' || s[i] == '[')) ? added_at(t, s + i, n - i, &l) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        int rc = i > seg ? encode_segment(t, s + seg, i - seg, out, err) : MMC_OK;
        if (rc) return rc;
        if (tok_ivec_push(out, id)) return mmc_error_set(err, MMC_ERR_RUNTIME, "tokenizer: out of memory");
        i += l;
        seg = i;
    }
    return n > seg ? encode_segment(t, s + seg, n - seg, out, err) : MMC_OK;
}

static int start_id(const mmc_tokenizer *t) { return t->kind == MMC_TOK_WORDPIECE ? t->sp.cls : t->sp.start; }
static int end_id(const mmc_tokenizer *t) { return t->kind == MMC_TOK_WORDPIECE ? t->sp.sep : t->sp.end; }

int mmc_tokenizer_encode(const mmc_tokenizer *t, const char *text, size_t len, int add_special, int max_len,
                         int32_t **ids, int *n, mmc_error *err) {
    *ids = NULL;
    *n = 0;
    if (!t || (!text && len)) return mmc_error_set(err, MMC_ERR_USAGE, "tokenizer encode: NULL argument");
    if (max_len < 0 || (add_special && max_len == 1))
        return mmc_error_set(err, MMC_ERR_USAGE, "tokenizer encode: max_len %d leaves no room (need 0 or >= %d)",
                             max_len, add_special ? 2 : 1);
    if (len == (size_t)-1) len = text ? strlen(text) : 0;
    if (len > (size_t)INT32_MAX / 2)
        return mmc_error_set(err, MMC_ERR_INPUT, "tokenizer encode: text of %zu bytes is too long", len);
    size_t bad;
    if (mmc_utf8_validate(text, len, &bad))
        return mmc_error_set(err, MMC_ERR_INPUT, "text: invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                             (unsigned)(uint8_t)text[bad]);
    tok_ivec out = {0};
    int rc = MMC_OK;
    if (add_special) rc = tok_ivec_push(&out, start_id(t));
    if (!rc) rc = encode_body(t, text, len, &out, err);
    else mmc_error_set(err, rc, "tokenizer: out of memory");
    if (rc) {
        mmc_free(out.v);
        return rc;
    }
    if (max_len > 0 && out.n > max_len - (add_special ? 1 : 0)) out.n = max_len - (add_special ? 1 : 0);
    if (add_special && tok_ivec_push(&out, end_id(t))) {
        mmc_free(out.v);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "tokenizer: out of memory");
    }
    if (!out.v && tok_ivec_push(&out, 0) == MMC_OK) out.n = 0; /* never hand back NULL on success */
    if (!out.v) return mmc_error_set(err, MMC_ERR_RUNTIME, "tokenizer: out of memory");
    *ids = out.v;
    *n = out.n;
    return MMC_OK;
}

int mmc_tokenizer_encode_batch(const mmc_tokenizer *t, const char *const *texts, int n, int max_len,
                               int32_t *ids, int32_t *mask, mmc_error *err) {
    if (!t || !texts || !ids || n < 0 || max_len < 2)
        return mmc_error_set(err, MMC_ERR_USAGE, "tokenizer encode_batch: bad arguments (n %d, max_len %d)", n, max_len);
    int pad = t->sp.pad >= 0 ? t->sp.pad : end_id(t);
    for (int b = 0; b < n; b++) {
        int32_t *one;
        int len;
        int rc = mmc_tokenizer_encode(t, texts[b], (size_t)-1, 1, max_len, &one, &len, err);
        if (rc) return rc;
        for (int i = 0; i < max_len; i++) {
            ids[(size_t)b * max_len + i] = i < len ? one[i] : pad;
            if (mask) mask[(size_t)b * max_len + i] = i < len;
        }
        mmc_free(one);
    }
    return MMC_OK;
}

/* ----------------------------------------------------------------- decode */

int tok_is_special(const mmc_tokenizer *t, int id) {
    const mmc_tokenizer_specials *s = &t->sp;
    return id == s->pad || id == s->start || id == s->end || id == s->cls || id == s->sep || id == s->mask;
}

char *mmc_tokenizer_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip_special, mmc_error *err) {
    if (!t || (n && !ids) || n < 0) {
        mmc_error_set(err, MMC_ERR_USAGE, "tokenizer decode: bad arguments");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->vocab.n) {
            mmc_error_set(err, MMC_ERR_INPUT, "tokenizer decode: id %d at position %d is outside the vocabulary (0..%d)",
                          (int)ids[i], i, t->vocab.n - 1);
            return NULL;
        }
    tok_buf b = {0};
    int rc = tok_buf_put(&b, "", 0);
    if (!rc) {
        switch (t->kind) {
        case MMC_TOK_WORD: rc = tok_word_decode(t, ids, n, skip_special, &b); break;
        case MMC_TOK_CHAR: rc = tok_char_decode(t, ids, n, skip_special, &b); break;
        case MMC_TOK_CLIP_BPE: rc = tok_bpe_decode(t, ids, n, skip_special, &b); break;
        case MMC_TOK_WORDPIECE: rc = tok_wordpiece_decode(t, ids, n, skip_special, &b); break;
        }
    }
    if (rc) {
        mmc_free(b.s);
        mmc_error_set(err, MMC_ERR_RUNTIME, "tokenizer decode: out of memory");
        return NULL;
    }
    return b.s;
}

/* -------------------------------------------------------------- accessors */

mmc_tokenizer_kind mmc_tokenizer_kind_of(const mmc_tokenizer *t) { return t->kind; }
int mmc_tokenizer_vocab_size(const mmc_tokenizer *t) { return t ? t->vocab.n : 0; }
mmc_tokenizer_specials mmc_tokenizer_special_ids(const mmc_tokenizer *t) { return t->sp; }

const char *mmc_tokenizer_token(const mmc_tokenizer *t, int id) {
    return (t && id >= 0 && id < t->vocab.n) ? t->vocab.str[id] : NULL;
}

int mmc_tokenizer_token_id(const mmc_tokenizer *t, const char *token) {
    return (t && token) ? tok_vocab_find(&t->vocab, token, strlen(token)) : -1;
}

/* ------------------------------------------------------- Hugging Face dir */

static int exists_in(const char *dir, const char *name, char *path, size_t n) {
    snprintf(path, n, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

mmc_tokenizer *mmc_tokenizer_load_dir(const char *dir, mmc_error *err) {
    char a[4096], b[4096];
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: not a directory", dir ? dir : "(null)");
        return NULL;
    }
    /* BERT folders ship vocab.txt; read it (and the config) rather than tokenizer.json,
     * whose WordPiece model we do not parse. */
    if (exists_in(dir, "vocab.txt", a, sizeof a)) {
        mmc_wordpiece_opts o = mmc_wordpiece_defaults();
        if (exists_in(dir, "tokenizer_config.json", b, sizeof b) && mmc_wordpiece_read_config(b, &o, err))
            return NULL;
        return mmc_tokenizer_load_wordpiece(a, &o, err);
    }
    if (exists_in(dir, "tokenizer.json", a, sizeof a)) return mmc_tokenizer_load_clip_json(a, err);
    if (exists_in(dir, "vocab.json", a, sizeof a) && exists_in(dir, "merges.txt", b, sizeof b))
        return mmc_tokenizer_load_clip(a, b, err);
    mmc_error_set(err, MMC_ERR_INPUT, "%s: no tokenizer files (vocab.txt, tokenizer.json, or vocab.json + merges.txt)", dir);
    return NULL;
}

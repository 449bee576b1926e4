/* tokenizer_bpe.c — CLIP's byte-level BPE, as transformers 5 runs it (its CLIPTokenizer
 * is the `tokenizers` pipeline stored in a CLIP tokenizer.json):
 *
 *   normalise   NFC; every run of White_Space -> one " "; lowercase (per character, so
 *               no final-sigma rule, as the Rust crate does)
 *   split       <|startoftext|> | <|endoftext|> | 's 't 're 've 'm 'll 'd | letter runs |
 *               one number character | runs of anything else but whitespace; whitespace
 *               is dropped (GPT-2's byte-level regex that follows splits nothing further)
 *   bytes       each piece's UTF-8 bytes become GPT-2's printable stand-ins
 *   BPE         the last symbol carries "</w>"; the lowest-ranked adjacent pair merges
 *               first, the leftmost among equals, as the Rust crate's merge queue does
 *
 * transformers 4 without ftfy ran a BERT BasicTokenizer first, which also split CJK
 * ideographs apart and dropped control characters; transformers 5 (which made our
 * fixtures, see tokenizer_config.json "backend": "tokenizers") does not, and neither do we.
 *
 * Files are untrusted: vocab ids must be exactly 0..n-1, tokens unique and valid UTF-8,
 * every merge's halves and result in the vocabulary. */
#include "tokenizer_internal.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char START_TOK[] = "<|startoftext|>", END_TOK[] = "<|endoftext|>", EOW[] = "</w>";

/* ------------------------------------------------------------------ load */

/* GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes map to
 * U+0100 upwards in byte order, so no symbol is whitespace or a control character. */
static void init_byte_chars(uint16_t *map) {
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        map[b] = (uint16_t)(printable ? b : next++);
    }
}

static int check_token(const char *s, const char *path, const char *what, mmc_error *err) {
    size_t n = strlen(s), bad;
    if (n == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s is an empty string", path, what);
    if (n > TOK_MAX_TOKEN_BYTES)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s is %zu bytes (limit %d)", path, what, n, TOK_MAX_TOKEN_BYTES);
    if (mmc_utf8_validate(s, n, &bad))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s is not valid UTF-8 (byte %zu)", path, what, bad);
    return MMC_OK;
}

/* Fills t->vocab from a JSON object {token: id}. */
static int vocab_from_json(mmc_tokenizer *t, const cJSON *obj, const char *path, mmc_error *err) {
    if (!cJSON_IsObject(obj)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: vocabulary is not a JSON object", path);
    int n = cJSON_GetArraySize(obj);
    if (n <= 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: vocabulary is empty", path);
    const char **by_id = mmc_calloc((size_t)n, sizeof *by_id);
    if (!by_id || tok_vocab_reserve(&t->vocab, n)) {
        mmc_free(by_id);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    }
    int rc = MMC_OK;
    for (const cJSON *it = obj->child; it && !rc; it = it->next) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
        rc = check_token(it->string, path, "a vocabulary token", err);
        if (rc) break;
        /* floor, not a cast to int: casting a double beyond int's range is undefined */
        if (!cJSON_IsNumber(it) || v != floor(v))
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: id of token '%.64s' is not an integer", path, it->string);
        else if (!(v >= 0 && v < n))
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: id %.0f of token '%.64s' is outside 0..%d (ids must be dense)", path, v,
                               it->string, n - 1);
        else if (by_id[(int)v])
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: id %d is used by both '%.64s' and '%.64s'", path, (int)v,
                               by_id[(int)v], it->string);
        else
            by_id[(int)v] = it->string;
    }
    for (int id = 0; id < n && !rc; id++) {
        int got;
        if (tok_vocab_add(&t->vocab, by_id[id], strlen(by_id[id]), &got))
            rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
        else if (got < 0)
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: token '%.64s' appears twice", path, by_id[id]);
    }
    mmc_free(by_id);
    return rc;
}

static size_t merge_slot(const mmc_tokenizer *t, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (t->merge_slots - 1);
}

static const tok_merge *merge_find(const mmc_tokenizer *t, int32_t a, int32_t b) {
    if (a < 0 || b < 0 || !t->merge_slots) return NULL;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (size_t j = merge_slot(t, key);; j = (j + 1) & (t->merge_slots - 1)) {
        if (t->merges[j].key == key) return &t->merges[j];
        if (t->merges[j].key == UINT64_MAX) return NULL;
    }
}

static int merges_alloc(mmc_tokenizer *t, size_t count, const char *path, mmc_error *err) {
    size_t ns = 64;
    while (ns < 2 * count + 2) ns *= 2;
    t->merges = mmc_malloc(sizeof *t->merges * ns);
    if (!t->merges) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for %zu merges", path, count);
    for (size_t i = 0; i < ns; i++) t->merges[i].key = UINT64_MAX;
    t->merge_slots = ns;
    return MMC_OK;
}

/* Where a merge came from, formatted only when there is an error to report (formatting
 * ~50,000 locations up front costs more than the rest of the load). */
typedef struct merge_src {
    const char *path;
    int line;  /* merges.txt line, or 0 */
    int index; /* index in tokenizer.json model.merges, when line is 0 */
} merge_src;

static const char *where_str(const merge_src *m, char *buf, size_t n) {
    if (m->line) snprintf(buf, n, "%s:%d", m->path, m->line);
    else snprintf(buf, n, "%s: model.merges[%d]", m->path, m->index);
    return buf;
}

/* Records merge number t->n_merges: "a" + "b". */
static int add_merge(mmc_tokenizer *t, const char *a, size_t na, const char *b, size_t nb, const merge_src *src,
                     mmc_error *err) {
    char where[1100];
    int ia = tok_vocab_find(&t->vocab, a, na), ib = tok_vocab_find(&t->vocab, b, nb);
    if (ia < 0 || ib < 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: merge '%.*s %.*s': '%.*s' is not in the vocabulary",
                             where_str(src, where, sizeof where), (int)na, a,
                             (int)nb, b, ia < 0 ? (int)na : (int)nb, ia < 0 ? a : b);
    char joined[2 * TOK_MAX_TOKEN_BYTES + 1];
    if (na + nb > 2 * TOK_MAX_TOKEN_BYTES)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: merge is too long", where_str(src, where, sizeof where));
    memcpy(joined, a, na);
    memcpy(joined + na, b, nb);
    int r = tok_vocab_find(&t->vocab, joined, na + nb);
    if (r < 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: merge '%.*s %.*s' makes '%.*s', which is not in the vocabulary",
                             where_str(src, where, sizeof where),
                             (int)na, a, (int)nb, b, (int)(na + nb), joined);
    if (merge_find(t, ia, ib))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: merge '%.*s %.*s' appears twice", where_str(src, where, sizeof where),
                             (int)na, a, (int)nb, b);
    uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    size_t j = merge_slot(t, key);
    while (t->merges[j].key != UINT64_MAX) j = (j + 1) & (t->merge_slots - 1);
    t->merges[j] = (tok_merge){key, t->n_merges++, r};
    return MMC_OK;
}

/* Byte symbols and special tokens, once vocabulary and merges are in. */
static int finish_clip(mmc_tokenizer *t, const char *path, mmc_error *err) {
    init_byte_chars(t->byte_char);
    for (int b = 0; b < 256; b++) {
        char s[8];
        int l = mmc_utf8_encode(t->byte_char[b], s);
        t->byte_id[b] = tok_vocab_find(&t->vocab, s, (size_t)l);
        memcpy(s + l, EOW, 4);
        t->byte_end_id[b] = tok_vocab_find(&t->vocab, s, (size_t)l + 4);
    }
    int st = tok_vocab_find(&t->vocab, START_TOK, strlen(START_TOK));
    int en = tok_vocab_find(&t->vocab, END_TOK, strlen(END_TOK));
    if (st < 0 || en < 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: vocabulary lacks %s", path, st < 0 ? START_TOK : END_TOK);
    t->sp.start = st;
    t->sp.end = t->sp.pad = t->sp.unk = en;
    t->added[0] = st;
    t->added[1] = en;
    t->n_added = 2;
    return MMC_OK;
}

/* One merges.txt line "a b" (exactly one space, both halves non-empty). */
static int merge_line(mmc_tokenizer *t, const char *line, size_t n, const merge_src *src, mmc_error *err) {
    size_t bad;
    char where[1100];
    if (memchr(line, 0, n))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: NUL byte in line", where_str(src, where, sizeof where));
    if (mmc_utf8_validate(line, n, &bad))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: invalid UTF-8 at column %zu", where_str(src, where, sizeof where), bad + 1);
    const char *sp = memchr(line, ' ', n);
    if (!sp || sp == line || sp + 1 == line + n || memchr(sp + 1, ' ', (size_t)(line + n - sp - 1)))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: expected two tokens separated by one space, got '%.*s'",
                             where_str(src, where, sizeof where), n > 80 ? 80 : (int)n, line);
    return add_merge(t, line, (size_t)(sp - line), sp + 1, (size_t)(line + n - sp - 1), src, err);
}

static int load_merges_txt(mmc_tokenizer *t, const char *path, mmc_error *err) {
    uint8_t *buf;
    size_t size;
    int rc = mmc_read_file(path, TOK_MAX_FILE_BYTES, &buf, &size, err);
    if (rc) return rc;
    const char *s = (const char *)buf, *end = s + size;
    size_t lines = 0;
    for (const char *p = s; p < end; p++) lines += *p == '\n';
    rc = merges_alloc(t, lines + 1, path, err);
    int lineno = 0;
    for (const char *p = s; p < end && !rc;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        lineno++;
        if (n && p[n - 1] == '\r') n--;
        if (n > 2 * TOK_MAX_TOKEN_BYTES + 1)
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s:%d: line of %zu bytes is longer than any merge can be", path, lineno, n);
        else if (lineno == 1 && n >= 8 && memcmp(p, "#version", 8) == 0)
            ; /* the header line */
        else if (n == 0 && !nl)
            ; /* no newline at the end */
        else
            rc = merge_line(t, p, n, &(merge_src){path, lineno, 0}, err);
        p = nl ? nl + 1 : end;
    }
    if (!rc && t->n_merges == 0) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no merges", path);
    mmc_free(buf);
    return rc;
}

static cJSON *read_json(const char *path, mmc_error *err) {
    uint8_t *buf;
    size_t size;
    if (mmc_read_file(path, TOK_MAX_FILE_BYTES, &buf, &size, err)) return NULL;
    if (size == 0) {
        mmc_free(buf);
        mmc_error_set(err, MMC_ERR_INPUT, "%s: file is empty", path);
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)buf, size);
    mmc_free(buf);
    if (!root) mmc_error_set(err, MMC_ERR_INPUT, "%s: not valid JSON", path);
    return root;
}

mmc_tokenizer *mmc_tokenizer_load_clip(const char *vocab_json, const char *merges_txt, mmc_error *err) {
    if (!vocab_json || !merges_txt) {
        mmc_error_set(err, MMC_ERR_USAGE, "load_clip: NULL path");
        return NULL;
    }
    mmc_tokenizer *t = tok_new(MMC_TOK_CLIP_BPE);
    if (!t) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", vocab_json);
        return NULL;
    }
    cJSON *root = read_json(vocab_json, err);
    int rc = root ? vocab_from_json(t, root, vocab_json, err) : MMC_ERR_INPUT;
    cJSON_Delete(root);
    if (!rc) rc = load_merges_txt(t, merges_txt, err);
    if (!rc) rc = finish_clip(t, vocab_json, err);
    if (rc) {
        mmc_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* model.merges of a tokenizer.json: "a b" strings (older files) or ["a", "b"] pairs. */
static int merges_from_json(mmc_tokenizer *t, const cJSON *m, const char *path, mmc_error *err) {
    if (!cJSON_IsArray(m)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: model.merges is not an array", path);
    int n = cJSON_GetArraySize(m), i = 0, rc = merges_alloc(t, (size_t)n, path, err);
    for (const cJSON *it = m->child; it && !rc; it = it->next, i++) {
        merge_src src = {path, 0, i};
        char where[1100];
        if (cJSON_IsString(it)) {
            rc = merge_line(t, it->valuestring, strlen(it->valuestring), &src, err);
            continue;
        }
        const cJSON *a = cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 ? it->child : NULL;
        if (!a || !cJSON_IsString(a) || !cJSON_IsString(a->next))
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: must be a string \"a b\" or a pair of strings",
                               where_str(&src, where, sizeof where));
        else if (!(rc = check_token(a->valuestring, path, "a merge half", err)) &&
                 !(rc = check_token(a->next->valuestring, path, "a merge half", err)))
            rc = add_merge(t, a->valuestring, strlen(a->valuestring), a->next->valuestring, strlen(a->next->valuestring),
                           &src, err);
    }
    if (!rc && t->n_merges == 0) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: model.merges is empty", path);
    return rc;
}

/* added_tokens must name tokens the vocabulary already has, with the same ids. */
static int check_added(const mmc_tokenizer *t, const cJSON *added, const char *path, mmc_error *err) {
    if (!added || cJSON_IsNull(added)) return MMC_OK;
    if (!cJSON_IsArray(added)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: added_tokens is not an array", path);
    for (const cJSON *it = added->child; it; it = it->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(c))
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: an added token lacks a numeric id or string content", path);
        int have = tok_vocab_find(&t->vocab, c->valuestring, strlen(c->valuestring));
        if (have < 0 || (double)have != id->valuedouble)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: added token '%.64s' (id %.0f) does not match the vocabulary", path,
                                 c->valuestring, id->valuedouble);
    }
    return MMC_OK;
}

static int clip_from_tokenizer_json(mmc_tokenizer *t, const cJSON *root, const char *path, mmc_error *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsObject(model) || !cJSON_IsString(type))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no \"model\" object with a \"type\"", path);
    if (strcmp(type->valuestring, "BPE") != 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: model type '%.32s', expected BPE", path, type->valuestring);
    const cJSON *eow = cJSON_GetObjectItemCaseSensitive(model, "end_of_word_suffix");
    if (!cJSON_IsString(eow) || strcmp(eow->valuestring, EOW) != 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: end_of_word_suffix is not \"</w>\" (not a CLIP tokenizer)", path);
    int rc = vocab_from_json(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"), path, err);
    if (!rc) rc = merges_from_json(t, cJSON_GetObjectItemCaseSensitive(model, "merges"), path, err);
    if (!rc) rc = check_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), path, err);
    if (!rc) rc = finish_clip(t, path, err);
    return rc;
}

mmc_tokenizer *mmc_tokenizer_load_clip_json(const char *path, mmc_error *err) {
    if (!path) {
        mmc_error_set(err, MMC_ERR_USAGE, "load_clip_json: NULL path");
        return NULL;
    }
    cJSON *root = read_json(path, err);
    if (!root) return NULL;
    mmc_tokenizer *t = tok_new(MMC_TOK_CLIP_BPE);
    int rc = t ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    if (!rc && !cJSON_IsObject(root)) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", path);
    if (!rc) rc = clip_from_tokenizer_json(t, root, path, err);
    cJSON_Delete(root);
    if (rc) {
        mmc_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* ---------------------------------------------------------------- encode */

/* NFC, every whitespace run -> one ' ', lowercase (the CLIP tokenizer.json normaliser). */
static uint32_t *clip_normalize(const uint32_t *cps, size_t n, size_t *out_n) {
    size_t m, k = 0;
    uint32_t *nfc = mmc_unicode_nfc(cps, n, &m);
    if (!nfc) return NULL;
    int in_space = 0;
    for (size_t i = 0; i < m; i++) {
        int sp = mmc_unicode_is_space(nfc[i]);
        if (!sp) nfc[k++] = nfc[i];
        else if (!in_space) nfc[k++] = ' ';
        in_space = sp;
    }
    uint32_t *low = mmc_unicode_lower(nfc, k, out_n);
    mmc_free(nfc);
    return low;
}

static int starts_with(const uint32_t *s, size_t n, const char *lit) {
    size_t l = strlen(lit);
    if (l > n) return 0;
    for (size_t i = 0; i < l; i++)
        if (s[i] != (uint8_t)lit[i]) return 0;
    return 1;
}

/* Length of the CLIP-regex piece at s[0..n), or 0 for whitespace (skipped). */
static size_t piece_len(const uint32_t *s, size_t n) {
    if (mmc_unicode_is_space(s[0])) return 0;
    if (starts_with(s, n, START_TOK)) return strlen(START_TOK);
    if (starts_with(s, n, END_TOK)) return strlen(END_TOK);
    if (s[0] == '\'' && n >= 2) {
        if (n >= 3 && ((s[1] == 'r' && s[2] == 'e') || (s[1] == 'v' && s[2] == 'e') || (s[1] == 'l' && s[2] == 'l')))
            return 3;
        if (s[1] == 's' || s[1] == 't' || s[1] == 'm' || s[1] == 'd') return 2;
    }
    size_t i = 1;
    if (mmc_unicode_is_letter(s[0])) {
        while (i < n && mmc_unicode_is_letter(s[i])) i++;
        return i;
    }
    if (mmc_unicode_is_number(s[0])) return 1;
    while (i < n && !mmc_unicode_is_space(s[i]) && !mmc_unicode_is_letter(s[i]) && !mmc_unicode_is_number(s[i])) i++;
    return i;
}

typedef struct bpe_scratch {
    int32_t *sym, *prev, *next;
    uint64_t *heap; /* rank << 32 | position: the smallest is the next merge */
    int nheap;
} bpe_scratch;

static void heap_push(bpe_scratch *w, uint64_t x) {
    int i = w->nheap++;
    while (i > 0 && w->heap[(i - 1) / 2] > x) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = x;
}

static uint64_t heap_pop(bpe_scratch *w) {
    uint64_t top = w->heap[0], x = w->heap[--w->nheap];
    int i = 0, n = w->nheap;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && w->heap[c + 1] < w->heap[c]) c++;
        if (w->heap[c] >= x) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = x;
    return top;
}

static void push_pair(const mmc_tokenizer *t, bpe_scratch *w, int pos) {
    if (pos < 0 || w->next[pos] < 0) return;
    const tok_merge *m = merge_find(t, w->sym[pos], w->sym[w->next[pos]]);
    if (m) heap_push(w, (uint64_t)(uint32_t)m->rank << 32 | (uint32_t)pos);
}

/* BPE over one piece's bytes; appends the resulting ids. */
static int bpe_piece(const mmc_tokenizer *t, const uint8_t *b, int n, bpe_scratch *w, tok_ivec *out) {
    for (int i = 0; i < n; i++) {
        int id = i == n - 1 ? t->byte_end_id[b[i]] : t->byte_id[b[i]];
        w->sym[i] = id >= 0 ? id : t->sp.unk;
        w->prev[i] = i - 1;
        w->next[i] = i + 1 < n ? i + 1 : -1;
    }
    w->nheap = 0;
    for (int i = 0; i + 1 < n; i++) push_pair(t, w, i);
    while (w->nheap) {
        uint64_t top = heap_pop(w);
        int pos = (int)(uint32_t)top, r = w->next[pos];
        if (w->sym[pos] < 0 || r < 0) continue; /* stale: merged away since */
        const tok_merge *m = merge_find(t, w->sym[pos], w->sym[r]);
        if (!m || (uint64_t)(uint32_t)m->rank != top >> 32) continue;
        w->sym[pos] = m->result;
        w->sym[r] = -1;
        w->next[pos] = w->next[r];
        if (w->next[r] >= 0) w->prev[w->next[r]] = pos;
        push_pair(t, w, w->prev[pos]);
        push_pair(t, w, pos);
    }
    for (int i = 0; i >= 0; i = w->next[i])
        if (tok_ivec_push(out, w->sym[i])) return MMC_ERR_RUNTIME;
    return MMC_OK;
}

static int piece_bytes(const uint32_t *s, size_t l) {
    int nb = 0;
    char u[4];
    for (size_t j = 0; j < l; j++) nb += mmc_utf8_encode(s[j], u);
    return nb;
}

/* Encodes normalised code points s[0..n): split, byte-map, BPE. */
static int bpe_pieces(const mmc_tokenizer *t, const uint32_t *s, size_t n, tok_ivec *out) {
    size_t cap = 1;
    for (size_t i = 0; i < n;) {
        size_t l = piece_len(s + i, n - i);
        if (l && (size_t)piece_bytes(s + i, l) > cap) cap = (size_t)piece_bytes(s + i, l);
        i += l ? l : 1;
    }
    /* Every merge removes a symbol and pushes at most two pairs: 3 heap slots per byte. */
    bpe_scratch w = {0};
    uint8_t *bytes = mmc_malloc(cap);
    w.sym = mmc_malloc(sizeof(int32_t) * cap * 3);
    w.heap = mmc_malloc(sizeof(uint64_t) * cap * 3);
    int rc = bytes && w.sym && w.heap ? MMC_OK : MMC_ERR_RUNTIME;
    if (!rc) {
        w.prev = w.sym + cap;
        w.next = w.sym + 2 * cap;
    }
    for (size_t i = 0; i < n && !rc;) {
        size_t l = piece_len(s + i, n - i);
        if (!l) {
            i++;
            continue;
        }
        int nb = 0;
        for (size_t j = i; j < i + l; j++) nb += mmc_utf8_encode(s[j], (char *)bytes + nb);
        rc = bpe_piece(t, bytes, nb, &w, out);
        i += l;
    }
    mmc_free(bytes);
    mmc_free(w.sym);
    mmc_free(w.heap);
    return rc;
}

int tok_bpe_encode(const mmc_tokenizer *t, const char *s, size_t n, tok_ivec *out, mmc_error *err) {
    size_t ncp, m;
    uint32_t *cps;
    int rc = tok_decode_text(s, n, &cps, &ncp, "text", err);
    if (rc) return rc;
    uint32_t *norm = clip_normalize(cps, ncp, &m);
    mmc_free(cps);
    rc = norm ? bpe_pieces(t, norm, m, out) : MMC_ERR_RUNTIME;
    mmc_free(norm);
    if (rc) return mmc_error_set(err, rc, "text: out of memory while tokenizing %zu bytes", n);
    return MMC_OK;
}

/* ---------------------------------------------------------------- decode */

/* Length of the maximal ill-formed prefix at s[0..n) that Python's errors="replace" turns
 * into one U+FFFD: a valid lead byte and the continuation bytes that fit it so far. */
static size_t bad_prefix(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
    uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    size_t k = 1;
    while (k < (size_t)len && k < n && s[k] >= (k == 1 ? lo : 0x80) && s[k] <= (k == 1 ? hi : 0xBF)) k++;
    return k;
}

static int put_utf8_replacing(tok_buf *b, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t bad, run = n - i;
        if (mmc_utf8_validate((const char *)s + i, run, &bad) == MMC_OK) return tok_buf_put(b, (const char *)s + i, run);
        if (tok_buf_put(b, (const char *)s + i, bad) || tok_buf_cp(b, 0xFFFD)) return MMC_ERR_RUNTIME;
        i += bad + bad_prefix(s + i + bad, n - i - bad);
    }
    return MMC_OK;
}

int tok_bpe_decode(const mmc_tokenizer *t, const int32_t *ids, int n, int skip, tok_buf *out) {
    uint8_t inv[324 * 2]; /* GPT-2 stand-in code point -> byte; [cp + 324] = 1 if mapped */
    memset(inv, 0, sizeof inv);
    for (int b = 0; b < 256; b++) {
        inv[t->byte_char[b]] = (uint8_t)b;
        inv[324 + t->byte_char[b]] = 1;
    }
    tok_buf raw = {0};
    int rc = MMC_OK;
    for (int i = 0; i < n && !rc; i++) {
        if (skip && tok_is_special(t, ids[i])) continue;
        const char *s = t->vocab.str[ids[i]];
        uint32_t cps[TOK_MAX_TOKEN_BYTES];
        int64_t m = mmc_utf8_decode(s, t->vocab.len[ids[i]], cps, NULL);
        for (int64_t j = 0; j < m && !rc; j++) {
            if (cps[j] < 324 && inv[324 + cps[j]]) rc = tok_buf_put(&raw, (const char *)&inv[cps[j]], 1);
            else rc = tok_buf_cp(&raw, cps[j]);
        }
    }
    /* "</w>" ends a word: a space, then trim the ends as transformers does. */
    size_t k = 0;
    for (size_t i = 0; i < raw.n && !rc; i++) {
        if (i + 4 <= raw.n && memcmp(raw.s + i, EOW, 4) == 0) {
            raw.s[k++] = ' ';
            i += 3;
        } else {
            raw.s[k++] = raw.s[i];
        }
    }
    size_t a = 0;
    while (a < k && raw.s[a] == ' ') a++;
    while (k > a && raw.s[k - 1] == ' ') k--;
    if (!rc && k > a) rc = put_utf8_replacing(out, (const uint8_t *)raw.s + a, k - a);
    mmc_free(raw.s);
    return rc;
}

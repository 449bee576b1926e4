/* retrieval_subword.c — character trigrams of each caption token (fastText's subword
 * features, Bojanowski et al. 2017), for `subword_buckets` > 0.
 *
 * A word-level vocabulary knows only the words of the training captions: a prompt with
 * another form of a word ("a photo of a trouser" when training said "a pair of trousers")
 * gets <unk> and loses its meaning. With subword features each token's embedding is its
 * word embedding plus the mean of the embeddings of its character trigrams, taken over
 * "<" + token + ">" and hashed (FNV-1a over the code points) into subword_buckets rows;
 * "trouser" then shares 6 of its 7 trigrams with "trousers", and an unknown word still
 * lands near its relatives.
 *
 * The trigrams need the token's text, which <unk> has lost, so they are computed from the
 * caption itself: the text is split exactly as the WORD/CHAR tokenizer splits it (NFC,
 * lowercase, the same separator and punctuation rules, through the same src/data/unicode
 * functions), and the pieces are matched to the ids position by position. If the counts
 * ever disagree, or only ids are at hand (mmc_retrieval_encode_texts), the known tokens
 * take their trigrams from the vocabulary and <unk> gets none. */
#include "retrieval_internal.h"
#include <string.h>

static int is_separator(uint32_t c) { return mmc_unicode_is_space(c) || mmc_unicode_is_bert_control(c); }
static int is_word_char(uint32_t c) {
    return !mmc_unicode_is_cjk(c) && (mmc_unicode_is_letter(c) || mmc_unicode_is_mark(c));
}

/* The trigram buckets of one token (code points s[0..n)) into out[RET_NGRAM_MAX], -1 after
 * the last; tokens longer than RET_NGRAM_MAX trigrams keep their first ones. */
static void token_trigrams(const uint32_t *s, size_t n, int buckets, int32_t *out) {
    int k = 0;
    for (size_t i = 0; i < n && k < RET_NGRAM_MAX; i++) { /* trigram i of "<" s ">": n of them */
        uint32_t h = 2166136261u;
        for (size_t j = i; j < i + 3; j++) {
            uint32_t c = j == 0 ? '<' : j == n + 1 ? '>' : s[j - 1];
            for (int b = 0; b < 4; b++) h = (h ^ ((c >> (8 * b)) & 0xffu)) * 16777619u;
        }
        out[k++] = (int32_t)(h % (uint32_t)buckets);
    }
    for (; k < RET_NGRAM_MAX; k++) out[k] = -1;
}

/* A token string (UTF-8, from the vocabulary) -> its trigrams; invalid UTF-8 gets none. */
static void string_trigrams(const char *tok, int buckets, int32_t *out) {
    uint32_t cps[64];
    size_t len = strlen(tok), bad = 0;
    int64_t n = len <= 64 ? mmc_utf8_decode(tok, len, cps, &bad) : -1;
    if (n < 0) {
        for (int k = 0; k < RET_NGRAM_MAX; k++) out[k] = -1;
        return;
    }
    token_trigrams(cps, (size_t)n, buckets, out);
}

void ret_subword_from_ids(const mmc_retrieval *m, const int32_t *ids, int B, int T, int32_t *ngr) {
    mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(m->tok);
    for (int64_t p = 0; p < (int64_t)B * T; p++) {
        int32_t *o = ngr + p * RET_NGRAM_MAX, id = ids[p];
        const char *s = mmc_tokenizer_token(m->tok, id);
        if (!s || id == sp.pad || id == sp.unk || id == sp.start || id == sp.end) {
            for (int k = 0; k < RET_NGRAM_MAX; k++) o[k] = -1;
        } else string_trigrams(s, m->cfg.subword_buckets, o);
    }
}

/* One caption: NFC + lowercase, split as the model's tokenizer does, then pieces 1..T-2 of
 * its row (between <start> and <end>; mask says which are real) get their trigrams.
 * Returns 0 when the piece count does not match the row (the caller falls back), 1 on
 * success. */
static int caption_trigrams(const mmc_retrieval *m, const char *text, const int32_t *mask, int T, int32_t *ngr) {
    size_t len = strlen(text), bad = 0, nn = 0, nl = 0;
    uint32_t *cps = mmc_malloc(sizeof(uint32_t) * (len + 1));
    if (!cps) return 0;
    int64_t n = mmc_utf8_decode(text, len, cps, &bad);
    uint32_t *nfc = n >= 0 ? mmc_unicode_nfc(cps, (size_t)n, &nn) : NULL;
    uint32_t *low = nfc ? mmc_unicode_lower(nfc, nn, &nl) : NULL;
    int ok = low != NULL, word = mmc_tokenizer_kind_of(m->tok) == MMC_TOK_WORD;
    int real = 0; /* real tokens of the row, start and end included */
    for (int t = 0; t < T; t++) real += mask[t] != 0;
    int pos = 1;
    for (size_t i = 0; ok && i < nl;) {
        if (is_separator(low[i])) { i++; continue; }
        size_t j = i + 1;
        if (word) {
            if (!mmc_unicode_is_bert_punct(low[i]))
                while (j < nl && !is_separator(low[j]) && !mmc_unicode_is_bert_punct(low[j])) j++;
        } else if (is_word_char(low[i])) {
            while (j < nl && is_word_char(low[j])) j++;
        }
        if (pos < real - 1) token_trigrams(low + i, j - i, m->cfg.subword_buckets, ngr + (size_t)pos * RET_NGRAM_MAX);
        pos++;
        i = j;
    }
    /* every piece seen: pos - 1 pieces; the row holds real - 2 of them (truncation keeps the first) */
    if (ok && (pos - 1 < real - 2 || (pos - 1 > real - 2 && real < T))) ok = 0;
    mmc_free(cps);
    mmc_free(nfc);
    mmc_free(low);
    return ok;
}

void ret_subword_from_texts(const mmc_retrieval *m, const char *const *texts, const int32_t *ids, const int32_t *mask,
                            int B, int T, int32_t *ngr) {
    for (int64_t p = 0; p < (int64_t)B * T * RET_NGRAM_MAX; p++) ngr[p] = -1;
    for (int b = 0; b < B; b++) {
        int32_t *row = ngr + (size_t)b * T * RET_NGRAM_MAX;
        if (!caption_trigrams(m, texts[b], mask + (size_t)b * T, T, row)) {
            ret_subword_from_ids(m, ids + (size_t)b * T, 1, T, row);
        }
    }
}

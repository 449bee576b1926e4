/* fuzz_tokenize_text.c — libFuzzer target for the TEXT side: fixed tokenizers, fuzzed text.
 *
 * The tokenizers are made once per process, in memory, so the target needs no files from
 * outside: a CLIP BPE (GPT-2's 256 byte symbols alone and with "</w>", the two specials,
 * and the merges that build a few dozen words, some of them non-ASCII), two WordPiece
 * vocabularies (BERT defaults; and no lowercasing, no accent stripping, no CJK splitting,
 * 4 characters per word at most), and WORD and CHAR vocabularies built from a few
 * sentences. The input is the text, any bytes (invalid UTF-8 and NULs included), given to
 * every tokenizer with and without specials and truncated; ids must be in range and
 * decode again.
 *
 * The same bytes go through the UTF-8 and Unicode layer: validate and decode must agree,
 * re-encoding the code points must give the input back, and the normalisations must be
 * consistent (NFC(NFD(x)) = NFC(x), NFD(NFC(x)) = NFD(x), strip_accents output has no
 * marks). A mismatch aborts: tokenizers built on a wrong normalisation give wrong ids
 * silently.
 *
 * MMC_FUZZ_MAX_LEN 4096 */
#include "tmpdir.h"
#include "mmc.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ----------------------------------------------------------- tokenizers */

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) abort();
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* GPT-2's byte -> code point table (printable Latin-1 stands for itself, the other 68
 * bytes take U+0100 upwards), written out here from its definition. */
static char byte_sym[256][4];
static int byte_len[256];

static void init_byte_syms(void) {
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        byte_len[b] = mmc_utf8_encode((uint32_t)(printable ? b : next++), byte_sym[b]);
    }
}

/* vocabulary entries seen so far, for de-duplication (a few hundred: linear is fine) */
static char *seen[2048];
static int n_seen;

static int add_token(sbuf *vocab, const char *tok) {
    for (int i = 0; i < n_seen; i++)
        if (!strcmp(seen[i], tok)) return 0;
    if (n_seen == 2048) abort();
    seen[n_seen] = strdup(tok);
    if (!seen[n_seen]) abort();
    sbuf q = {0};
    puts_(&q, n_seen ? ",\"" : "\"");
    for (const char *p = tok; *p; p++) {
        if (*p == '"' || *p == '\\') put(&q, "\\", 1);
        put(&q, p, 1);
    }
    char num[32];
    snprintf(num, sizeof num, "\":%d", n_seen);
    puts_(&q, num);
    put(vocab, q.s, q.n);
    free(q.s);
    n_seen++;
    return 1;
}

/* Merges that build `word` left to right: s1 s2 -> s1s2, s1s2 s3 -> ..., the last symbol
 * carrying "</w>". Every intermediate symbol joins the vocabulary. */
static void add_word(sbuf *vocab, sbuf *merges, const char *word) {
    size_t n = strlen(word);
    char left[256] = "", right[64];
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)word[i];
        memcpy(right, byte_sym[b], (size_t)byte_len[b]);
        right[byte_len[b]] = 0;
        if (i + 1 == n) strcat(right, "</w>");
        if (i == 0) {
            strcpy(left, right);
            continue;
        }
        char joined[320];
        snprintf(joined, sizeof joined, "%s%s", left, right);
        if (add_token(vocab, joined)) {
            puts_(merges, left);
            puts_(merges, " ");
            puts_(merges, right);
            puts_(merges, "\n");
        }
        strcpy(left, joined);
    }
}

static mmc_tokenizer *make_clip(void) {
    static const char *const words[] = {
        "a", "the", "photo", "of", "cat", "dog", "red", "blue", "green", "circle", "square", "triangle", "low",
        "lower", "lowest", "er", "ing", "'s", "12", "!!", "...", "caf\xc3\xa9", "na\xc3\xafve",
        "\xe4\xb8\xad\xe6\x96\x87", "\xe7\xba\xa2\xe8\x89\xb2", "\xf0\x9f\x98\x80", "\xce\xb1\xce\xb2\xce\xb3",
    };
    sbuf vocab = {0}, merges = {0};
    puts_(&vocab, "{");
    puts_(&merges, "#version: 0.2\n");
    add_token(&vocab, "<|startoftext|>");
    add_token(&vocab, "<|endoftext|>");
    for (int b = 0; b < 256; b++) {
        char s[16];
        memcpy(s, byte_sym[b], (size_t)byte_len[b]);
        s[byte_len[b]] = 0;
        add_token(&vocab, s);
        strcat(s, "</w>");
        add_token(&vocab, s);
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) add_word(&vocab, &merges, words[i]);
    puts_(&vocab, "}");
    char vp[1024], mp[1024];
    fz_write(vp, sizeof vp, "vocab.json", vocab.s, vocab.n);
    fz_write(mp, sizeof mp, "merges.txt", merges.s, merges.n);
    free(vocab.s);
    free(merges.s);
    for (int i = 0; i < n_seen; i++) free(seen[i]);
    n_seen = 0;
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_load_clip(vp, mp, &err);
    if (!t) {
        fprintf(stderr, "fuzz_tokenize_text: the built-in CLIP vocabulary does not load: %s\n", err.msg);
        abort();
    }
    return t;
}

static mmc_tokenizer *make_wordpiece(int bert_defaults) {
    static const char vocab[] =
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nrun\n##ning\n##s\n##ed\nthe\na\nphoto\nof\ncat\n"
        "red\ncircle\ncafe\ncaf\xc3\xa9\n##\xc3\xa9\n!\n,\n.\n'\n?\n\xe4\xb8\xad\n\xe6\x96\x87\n\xe7\xba\xa2\n"
        "\xe8\x89\xb2\n##\xe6\x96\x87\n\xe7\x9a\x84\n1\n##2\n\xce\xb1\n##\xce\xb2\nCat\nRed\n";
    char vp[1024];
    fz_write(vp, sizeof vp, "vocab.txt", vocab, sizeof vocab - 1);
    mmc_wordpiece_opts o = mmc_wordpiece_defaults();
    if (!bert_defaults) {
        o.do_lower_case = 0;
        o.strip_accents = 0;
        o.tokenize_chinese_chars = 0;
        o.max_chars_per_word = 4;
    }
    mmc_error err = {0};
    mmc_tokenizer *t = mmc_tokenizer_load_wordpiece(vp, &o, &err);
    if (!t) {
        fprintf(stderr, "fuzz_tokenize_text: the built-in WordPiece vocabulary does not load: %s\n", err.msg);
        abort();
    }
    return t;
}

static mmc_tokenizer *make_built(int chars) {
    static const char *const texts[] = {
        "a red circle left of a blue square", "two green triangles, one small!",
        "\xe4\xb8\x80\xe4\xb8\xaa\xe7\xba\xa2\xe8\x89\xb2\xe7\x9a\x84\xe5\x9c\x86 and 3 cars",
        "caf\xc3\xa9 na\xc3\xafve \xce\xb1\xce\xb2\xce\xb3 ... ?",
    };
    mmc_error err = {0};
    mmc_tokenizer *t = chars ? mmc_tokenizer_build_char(texts, 4, 1, 0, &err)
                             : mmc_tokenizer_build_word(texts, 4, 1, 0, &err);
    if (!t) abort();
    return t;
}

/* ---------------------------------------------------------------- checks */

static void check_tokenizer(const mmc_tokenizer *t, const char *text, size_t len, int text_ok) {
    mmc_error err = {0};
    int nv = mmc_tokenizer_vocab_size(t);
    static const int modes[3][2] = {{1, 0}, {0, 0}, {1, 7}}; /* add_special, max_len */
    for (int m = 0; m < 3; m++) {
        int32_t *ids = NULL;
        int n = 0;
        int rc = mmc_tokenizer_encode(t, text, len, modes[m][0], modes[m][1], &ids, &n, &err);
        /* bad UTF-8 must be refused, good text accepted */
        if ((rc == MMC_OK) != text_ok) abort();
        if (rc != MMC_OK) {
            if (err.code != MMC_ERR_INPUT) abort();
            continue;
        }
        if (n < 0 || (modes[m][1] && n > modes[m][1])) abort();
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= nv) abort();
        char *s = mmc_tokenizer_decode(t, ids, n, m == 0, &err);
        if (!s) abort(); /* ids the encoder made always decode */
        mmc_free(s);
        mmc_free(ids);
    }
}

static int same_cps(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* validate vs decode vs encode, and the normalisation identities. Returns 1 if valid. */
static int check_utf8(const char *s, size_t n) {
    size_t bad1 = (size_t)-1, bad2 = (size_t)-2;
    int valid = mmc_utf8_validate(s, n, &bad1) == MMC_OK;
    uint32_t *cps = malloc((n ? n : 1) * sizeof *cps);
    if (!cps) abort();
    int64_t ncp = mmc_utf8_decode(s, n, cps, &bad2);
    if (valid != (ncp >= 0)) abort();
    if (!valid) {
        if (bad1 != bad2 || bad1 >= n) abort(); /* both name the same first bad byte */
        free(cps);
        return 0;
    }
    /* re-encoding gives the bytes back */
    size_t off = 0;
    for (int64_t i = 0; i < ncp; i++) {
        char b[4];
        int l = mmc_utf8_encode(cps[i], b);
        if (l <= 0 || off + (size_t)l > n || memcmp(s + off, b, (size_t)l) != 0) abort();
        off += (size_t)l;
    }
    if (off != n) abort();
    size_t nd, nc, ndc, ncd, nl, na;
    uint32_t *d = mmc_unicode_nfd(cps, (size_t)ncp, &nd);
    uint32_t *c = mmc_unicode_nfc(cps, (size_t)ncp, &nc);
    uint32_t *dc = d ? mmc_unicode_nfc(d, nd, &ndc) : NULL;
    uint32_t *cd = c ? mmc_unicode_nfd(c, nc, &ncd) : NULL;
    uint32_t *lo = mmc_unicode_lower(cps, (size_t)ncp, &nl);
    uint32_t *sa = mmc_unicode_strip_accents(cps, (size_t)ncp, &na);
    if (!d || !c || !dc || !cd || !lo || !sa) abort(); /* out of memory on 4 KB of text */
    if (!same_cps(dc, ndc, c, nc) || !same_cps(cd, ncd, d, nd)) abort();
    for (size_t i = 0; i < na; i++)
        if (mmc_unicode_is_mark(sa[i])) abort();
    mmc_free(d);
    mmc_free(c);
    mmc_free(dc);
    mmc_free(cd);
    mmc_free(lo);
    mmc_free(sa);
    free(cps);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static mmc_tokenizer *tok[5];
    if (!tok[0]) {
        init_byte_syms();
        tok[0] = make_clip();
        tok[1] = make_wordpiece(1);
        tok[2] = make_wordpiece(0);
        tok[3] = make_built(0);
        tok[4] = make_built(1);
        fz_cleanup(); /* the files are read; nothing else needs the folder */
    }
    const char *text = (const char *)data;
    int ok = check_utf8(text, size);
    for (int i = 0; i < 5; i++) check_tokenizer(tok[i], text, size, ok);
    return 0;
}

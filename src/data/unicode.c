/* unicode.c — Unicode character classes, lowercasing and canonical normalisation
 * (NFD/NFC), for the tokenizers. (UTF-8 itself is src/core/utf8.c.)
 *
 * The character data is generated from the Unicode Character Database
 * (tools/gen_unicode_tables.py -> unicode_tables.inc) so that "letter", "number",
 * "punctuation" and the normal forms agree with Python and the Rust tokenizers crate on
 * every script, not only the ones we test. Lookups are binary searches over sorted
 * tables; there is no global state. */
#include "internal.h"
#include "mmc/data.h"
#include <string.h>

#include "unicode_tables.inc"

enum { UC_C = 0, UC_L = 1, UC_M = 2, UC_N = 3, UC_P = 4, UC_S = 5, UC_Z = 6 };

/* ---------------------------------------------------------------- classes */

/* Binary search in a table of {first, last, value} ranges; 0 when cp is in none. */
static uint32_t range_lookup(const uint32_t (*t)[3], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < t[mid][0]) hi = mid;
        else if (cp > t[mid][1]) lo = mid + 1;
        else return t[mid][2];
    }
    return 0;
}

static int major_class(uint32_t cp) {
    return (int)range_lookup(uc_class, sizeof uc_class / sizeof uc_class[0], cp);
}

const char *mmc_unicode_version(void) { return MMC_UNICODE_VERSION; }
int mmc_unicode_is_letter(uint32_t cp) { return major_class(cp) == UC_L; }
int mmc_unicode_is_number(uint32_t cp) { return major_class(cp) == UC_N; }
int mmc_unicode_is_mark(uint32_t cp) { return major_class(cp) == UC_M; }

int mmc_unicode_is_space(uint32_t cp) {
    /* White_Space is a short fixed list (PropList.txt), stable since Unicode 6.3. */
    if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680)
        return 1;
    if ((cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
        cp == 0x205F || cp == 0x3000)
        return 1;
    return 0;
}

int mmc_unicode_is_bert_whitespace(uint32_t cp) {
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return 1;
    /* Zs: the separators that are not line/paragraph separators. */
    return major_class(cp) == UC_Z && cp != 0x2028 && cp != 0x2029;
}

int mmc_unicode_is_bert_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    return major_class(cp) == UC_C;
}

int mmc_unicode_is_bert_punct(uint32_t cp) {
    /* BERT counts all non-alphanumeric ASCII as punctuation ($, +, ^, ` are symbols in
     * Unicode) so that they split words consistently. */
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126))
        return 1;
    return major_class(cp) == UC_P;
}

int mmc_unicode_is_cjk(uint32_t cp) {
    /* BERT's _is_chinese_char ranges (transformers' Python BasicTokenizer). */
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* ------------------------------------------------------------ lowercasing */

static uint32_t lower1(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    size_t lo = 0, hi = sizeof uc_lower / sizeof uc_lower[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < uc_lower[mid][0]) hi = mid;
        else if (cp > uc_lower[mid][0]) lo = mid + 1;
        else return uc_lower[mid][1];
    }
    return cp;
}

uint32_t *mmc_unicode_lower(const uint32_t *cps, size_t n, size_t *out_n) {
    /* Only U+0130 (capital I with dot) lowercases to two code points. */
    uint32_t *out = mmc_malloc(sizeof *out * (2 * n + 1));
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cps[i] == 0x130) {
            out[k++] = 'i';
            out[k++] = 0x307;
        } else {
            out[k++] = lower1(cps[i]);
        }
    }
    *out_n = k;
    return out;
}

/* ---------------------------------------------------------- normalisation */

enum { HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
       HANGUL_LC = 19, HANGUL_VC = 21, HANGUL_TC = 28, HANGUL_N = 21 * 28, HANGUL_SC = 19 * 21 * 28 };

static int ccc(uint32_t cp) {
    return (int)range_lookup(uc_ccc, sizeof uc_ccc / sizeof uc_ccc[0], cp);
}

static const uint32_t *decomp_of(uint32_t cp) {
    size_t lo = 0, hi = sizeof uc_decomp / sizeof uc_decomp[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < uc_decomp[mid][0]) hi = mid;
        else if (cp > uc_decomp[mid][0]) lo = mid + 1;
        else return uc_decomp[mid];
    }
    return NULL;
}

/* Appends the full canonical decomposition of cp to out; returns the new length. The
 * table holds first-level mappings, so recurse (depth is at most 4 in the UCD). */
static size_t decompose(uint32_t cp, uint32_t *out, size_t k) {
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SC) {
        uint32_t s = cp - HANGUL_S;
        out[k++] = HANGUL_L + s / HANGUL_N;
        out[k++] = HANGUL_V + (s % HANGUL_N) / HANGUL_TC;
        if (s % HANGUL_TC) out[k++] = HANGUL_T + s % HANGUL_TC;
        return k;
    }
    const uint32_t *d = cp >= 0xC0 ? decomp_of(cp) : NULL;
    if (!d) {
        out[k++] = cp;
        return k;
    }
    k = decompose(d[1], out, k);
    if (d[2]) k = decompose(d[2], out, k);
    return k;
}

/* Canonical ordering: a stable sort by combining class within each run of non-starters
 * (runs are short, so insertion sort). */
static void canonical_order(uint32_t *s, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int c = ccc(s[i]);
        if (!c) continue;
        size_t j = i;
        uint32_t x = s[i];
        while (j > 0 && ccc(s[j - 1]) > c) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = x;
    }
}

uint32_t *mmc_unicode_nfd(const uint32_t *cps, size_t n, size_t *out_n) {
    /* The longest canonical decomposition in the UCD is 4 code points. */
    uint32_t *out = mmc_malloc(sizeof *out * (4 * n + 1));
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k = decompose(cps[i], out, k);
    canonical_order(out, k);
    *out_n = k;
    return out;
}

/* The primary composite of (a, b), or 0: Hangul by arithmetic, the rest from the sorted
 * composition table. */
static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LC && b >= HANGUL_V && b < HANGUL_V + HANGUL_VC)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_VC + (b - HANGUL_V)) * HANGUL_TC;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SC && (a - HANGUL_S) % HANGUL_TC == 0 &&
        b > HANGUL_T && b < HANGUL_T + HANGUL_TC)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = sizeof uc_comp / sizeof uc_comp[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uint32_t *r = uc_comp[mid];
        if (a < r[0] || (a == r[0] && b < r[1])) hi = mid;
        else if (a > r[0] || b > r[1]) lo = mid + 1;
        else return r[2];
    }
    return 0;
}

/* Whether cp can be the second half of a composition: every such code point is a
 * combining mark or a Hangul jamo (checked when the tables were generated), so the
 * common starter-after-starter case skips the search. */
static int may_compose_second(uint32_t cp) {
    if (cp >= HANGUL_V && cp < HANGUL_T + HANGUL_TC) return 1;
    return cp >= 0x300 && major_class(cp) == UC_M;
}

uint32_t *mmc_unicode_nfc(const uint32_t *cps, size_t n, size_t *out_n) {
    size_t m;
    uint32_t *s = mmc_unicode_nfd(cps, n, &m);
    if (!s) return NULL;
    /* Canonical composition (UAX #15): each character composes with the last starter
     * unless a character in between blocks it (same or higher combining class). */
    size_t starter = 0, k = 0;
    int have_starter = 0, last_ccc = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t c = s[i];
        int cc = ccc(c);
        if (have_starter && may_compose_second(c) && (last_ccc < cc || (last_ccc == 0 && k == starter + 1))) {
            uint32_t comp = compose_pair(s[starter], c);
            if (comp) {
                s[starter] = comp;
                continue;
            }
        }
        if (cc == 0) {
            starter = k;
            have_starter = 1;
            last_ccc = 0;
        } else {
            last_ccc = cc;
        }
        s[k++] = c;
    }
    *out_n = k;
    return s;
}

uint32_t *mmc_unicode_strip_accents(const uint32_t *cps, size_t n, size_t *out_n) {
    size_t m;
    uint32_t *s = mmc_unicode_nfd(cps, n, &m);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (!mmc_unicode_is_mark(s[i])) s[k++] = s[i];
    *out_n = k;
    return s;
}

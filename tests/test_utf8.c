/* test_utf8.c — UTF-8 validation and decoding, character classes, lowercasing and the
 * normal forms the tokenizers rely on. Expected values were worked out by hand and checked
 * against Python's unicodedata (the source of the generated tables). */
#include "test.h"

TEST(utf8_validate_cases) {
    static const struct { const char *s; size_t n; int ok; size_t bad; const char *what; } cases[] = {
        {"abc", 3, 1, 0, "ASCII"},
        {"a\0b", 3, 1, 0, "NUL is a valid character"},
        {"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 9, 1, 0, "2-, 3- and 4-byte forms"},
        {"\xf4\x8f\xbf\xbf", 4, 1, 0, "U+10FFFF"},
        {"\xc0\x80", 2, 0, 0, "overlong NUL"},
        {"\xc1\xbf", 2, 0, 0, "overlong 2-byte"},
        {"a\xe0\x80\x80", 4, 0, 1, "overlong 3-byte"},
        {"ab\xf0\x80\x80\x80", 6, 0, 2, "overlong 4-byte"},
        {"\xed\xa0\x80", 3, 0, 0, "high surrogate"},
        {"xy\xed\xbf\xbf", 5, 0, 2, "low surrogate"},
        {"\xf4\x90\x80\x80", 4, 0, 0, "past U+10FFFF"},
        {"\xf5\x80\x80\x80", 4, 0, 0, "lead byte F5"},
        {"\xff", 1, 0, 0, "byte FF"},
        {"ok\x80", 3, 0, 2, "stray continuation byte"},
        {"ab\xe4\xb8", 4, 0, 2, "truncated 3-byte at the end"},
        {"\xe4\xb8\xad\xe4\xb8", 5, 0, 3, "truncated after a good character"},
        {"\xe4\xb8z", 3, 0, 0, "continuation replaced by ASCII"},
        {"\xf0\x9f\x98", 3, 0, 0, "truncated 4-byte"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 999;
        int rc = mmc_utf8_validate(cases[i].s, cases[i].n, &bad);
        if (cases[i].ok) {
            CHECK(rc == MMC_OK, "%s: rejected at %zu", cases[i].what, bad);
        } else {
            CHECK(rc == MMC_ERR_INPUT, "%s: accepted", cases[i].what);
            CHECK(bad == cases[i].bad, "%s: bad offset %zu, want %zu", cases[i].what, bad, cases[i].bad);
        }
    }
}

TEST(utf8_decode_encode) {
    uint32_t cps[16];
    size_t bad = 0;
    const char *s = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"; /* a é 中 😀 */
    int64_t n = mmc_utf8_decode(s, strlen(s), cps, &bad);
    CHECK(n == 4 && cps[0] == 'a' && cps[1] == 0xE9 && cps[2] == 0x4E2D && cps[3] == 0x1F600, "decode: %lld", (long long)n);
    CHECK(mmc_utf8_decode("ab\xed\xa0\x80", 5, cps, &bad) == -1 && bad == 2, "decode rejects a surrogate at 2");
    /* Every scalar value round-trips; surrogates and > U+10FFFF do not encode. */
    int fails = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x1000 ? 1 : 97)) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        char b[4];
        int l = mmc_utf8_encode(cp, b);
        uint32_t back;
        if (l < 1 || mmc_utf8_decode(b, (size_t)l, &back, NULL) != 1 || back != cp) fails++;
    }
    CHECK(fails == 0, "%d code points failed to round-trip", fails);
    char b[4];
    CHECK(mmc_utf8_encode(0xD800, b) == 0 && mmc_utf8_encode(0x110000, b) == 0, "invalid scalars refuse to encode");
}

TEST(utf8_character_classes) {
    static const uint32_t letters[] = {'a', 'Z', 0xE9, 0x3A9, 0x416, 0x4E2D, 0x3042, 0xD55C, 0x5D0};
    static const uint32_t numbers[] = {'0', '9', 0x663 /* Arabic-Indic 3 */, 0xBD /* ½ */, 0xFF11 /* fullwidth 1 */};
    for (size_t i = 0; i < sizeof letters / sizeof *letters; i++)
        CHECK(mmc_unicode_is_letter(letters[i]) && !mmc_unicode_is_number(letters[i]), "letter U+%04X", letters[i]);
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        CHECK(mmc_unicode_is_number(numbers[i]) && !mmc_unicode_is_letter(numbers[i]), "number U+%04X", numbers[i]);
    CHECK(mmc_unicode_is_mark(0x301) && mmc_unicode_is_mark(0xFE0F) && !mmc_unicode_is_mark('a'), "marks");
    /* BERT punctuation: ASCII symbols count, CJK punctuation counts, letters do not. */
    static const uint32_t punct[] = {'!', '$', '+', '^', '`', '~', 0xFF0C /* ， */, 0x3002 /* 。 */, 0x2014 /* — */};
    for (size_t i = 0; i < sizeof punct / sizeof *punct; i++) CHECK(mmc_unicode_is_bert_punct(punct[i]), "punct U+%04X", punct[i]);
    CHECK(!mmc_unicode_is_bert_punct('a') && !mmc_unicode_is_bert_punct(0x4E2D) && !mmc_unicode_is_bert_punct(0x1F600),
          "non-punct");
    CHECK(mmc_unicode_is_bert_whitespace(' ') && mmc_unicode_is_bert_whitespace('\n') &&
              mmc_unicode_is_bert_whitespace(0x3000) && mmc_unicode_is_bert_whitespace(0xA0) &&
              !mmc_unicode_is_bert_whitespace(0x2028) && !mmc_unicode_is_bert_whitespace('a'),
          "BERT whitespace: space, \\n, ideographic space, NBSP; not U+2028");
    CHECK(mmc_unicode_is_bert_control(0x01) && mmc_unicode_is_bert_control(0x200B) && mmc_unicode_is_bert_control(0xE000) &&
              mmc_unicode_is_bert_control(0x378) && !mmc_unicode_is_bert_control('\t') && !mmc_unicode_is_bert_control('a'),
          "BERT control: C0, format, private use, unassigned; not \\t");
    CHECK(mmc_unicode_is_space(0x2028) && mmc_unicode_is_space(0x85) && mmc_unicode_is_space(0x3000) &&
              !mmc_unicode_is_space(0x200B),
          "White_Space");
    CHECK(mmc_unicode_is_cjk(0x4E2D) && mmc_unicode_is_cjk(0x3400) && mmc_unicode_is_cjk(0x20000) && mmc_unicode_is_cjk(0xF900) &&
              !mmc_unicode_is_cjk(0x3042) && !mmc_unicode_is_cjk(0xD55C) && !mmc_unicode_is_cjk(0xFF0C),
          "CJK ideographs only (not kana, hangul, fullwidth punctuation)");
}

static int same(const uint32_t *got, size_t n, const uint32_t *want, size_t m) {
    return got && n == m && memcmp(got, want, n * sizeof *got) == 0;
}
#define CPS(...) (const uint32_t[]){__VA_ARGS__}, sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t)

static void check_transform(const char *what, uint32_t *(*f)(const uint32_t *, size_t, size_t *), const uint32_t *in,
                            size_t n, const uint32_t *want, size_t m) {
    size_t k = 0;
    uint32_t *out = f(in, n, &k);
    if (!same(out, k, want, m)) {
        char buf[256] = "";
        for (size_t i = 0; out && i < k && strlen(buf) < 230; i++) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%04X ", out[i]);
        mmc_test_fail(__FILE__, __LINE__, "%s: got [%s]", what, buf);
    }
    mmc_free(out);
}
#define TRANSFORM(what, f, in, want) check_transform(what, f, in, want)

TEST(utf8_lowercase) {
    TRANSFORM("ASCII and Latin-1", mmc_unicode_lower, CPS('A', 'z', 0xC0, 0xC9, 0xDE, 0xDF), CPS('a', 'z', 0xE0, 0xE9, 0xFE, 0xDF));
    TRANSFORM("Latin Extended-A", mmc_unicode_lower, CPS(0x100, 0x141, 0x178), CPS(0x101, 0x142, 0xFF));
    TRANSFORM("Greek (sigma has no final-form rule)", mmc_unicode_lower, CPS(0x391, 0x3A3, 0x3A9), CPS(0x3B1, 0x3C3, 0x3C9));
    TRANSFORM("Cyrillic", mmc_unicode_lower, CPS(0x410, 0x416, 0x401), CPS(0x430, 0x436, 0x451));
    TRANSFORM("fullwidth and Deseret", mmc_unicode_lower, CPS(0xFF21, 0x10400), CPS(0xFF41, 0x10428));
    TRANSFORM("dotted capital I expands", mmc_unicode_lower, CPS('X', 0x130, 'Y'), CPS('x', 'i', 0x307, 'y'));
    TRANSFORM("CJK unchanged", mmc_unicode_lower, CPS(0x4E2D, 0x1F600), CPS(0x4E2D, 0x1F600));
}

TEST(utf8_normal_forms) {
    TRANSFORM("NFD é", mmc_unicode_nfd, CPS(0xE9), CPS('e', 0x301));
    TRANSFORM("NFD recursive ṩ", mmc_unicode_nfd, CPS(0x1E69), CPS('s', 0x323, 0x307));
    TRANSFORM("NFD reorders marks", mmc_unicode_nfd, CPS('d', 0x307, 0x323), CPS('d', 0x323, 0x307));
    TRANSFORM("NFD Hangul", mmc_unicode_nfd, CPS(0xD55C), CPS(0x1112, 0x1161, 0x11AB));
    TRANSFORM("NFC e + acute", mmc_unicode_nfc, CPS('e', 0x301), CPS(0xE9));
    TRANSFORM("NFC reorders then composes", mmc_unicode_nfc, CPS('d', 0x307, 0x323), CPS(0x1E0D, 0x307));
    TRANSFORM("NFC singleton Angstrom", mmc_unicode_nfc, CPS(0x212B), CPS(0xC5));
    TRANSFORM("NFC Hangul jamo", mmc_unicode_nfc, CPS(0x1112, 0x1161, 0x11AB), CPS(0xD55C));
    TRANSFORM("NFC blocked by a same-class mark", mmc_unicode_nfc, CPS('a', 0x301, 0x301), CPS(0xE1, 0x301));
    TRANSFORM("NFC leaves composed text", mmc_unicode_nfc, CPS('c', 'a', 'f', 0xE9, 0x4E2D), CPS('c', 'a', 'f', 0xE9, 0x4E2D));
    TRANSFORM("NFC keeps excluded composites apart", mmc_unicode_nfc, CPS(0x915, 0x93C), CPS(0x915, 0x93C));
    TRANSFORM("strip accents Latin", mmc_unicode_strip_accents, CPS('C', 'a', 'f', 0xE9, ' ', 0xEF, 0x107, 0x15E),
              CPS('C', 'a', 'f', 'e', ' ', 'i', 'c', 'S'));
    TRANSFORM("strip accents Greek, keeps ligature", mmc_unicode_strip_accents, CPS(0x3AC, 0xFB01), CPS(0x3B1, 0xFB01));
    TRANSFORM("strip accents drops variation selector", mmc_unicode_strip_accents, CPS(0x1F336, 0xFE0F), CPS(0x1F336));
}

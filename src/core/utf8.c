/* utf8.c — UTF-8 validation, decoding and encoding. In core because every parser of
 * outside bytes (safetensors headers, manifests, tokenizer files, text) validates with it. */
#include "internal.h"
#include <string.h>

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the well-formed sequence at s[i..n), or 0 if ill-formed (Unicode Table 3-7:
 * the second byte's range depends on the first, which rules out overlongs, surrogates and
 * values past U+10FFFF without decoding). */
static int seq_len(const uint8_t *s, size_t i, size_t n) {
    uint8_t c = s[i];
    if (c < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n - i < (size_t)len) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (int k = 2; k < len; k++)
        if ((s[i + k] & 0xC0) != 0x80) return 0;
    return len;
}

int mmc_utf8_validate(const char *str, size_t n, size_t *bad_offset) {
    const uint8_t *s = (const uint8_t *)str;
    for (size_t i = 0; i < n;) {
        int l = seq_len(s, i, n);
        if (!l) {
            if (bad_offset) *bad_offset = i;
            return MMC_ERR_INPUT;
        }
        i += (size_t)l;
    }
    return MMC_OK;
}

int64_t mmc_utf8_decode(const char *str, size_t n, uint32_t *out, size_t *bad_offset) {
    const uint8_t *s = (const uint8_t *)str;
    int64_t k = 0;
    for (size_t i = 0; i < n;) {
        int l = seq_len(s, i, n);
        if (!l) {
            if (bad_offset) *bad_offset = i;
            return -1;
        }
        uint32_t cp = l == 1 ? s[i] : (uint32_t)(s[i] & (0x7F >> l));
        for (int j = 1; j < l; j++) cp = (cp << 6) | (s[i + j] & 0x3F);
        out[k++] = cp;
        i += (size_t)l;
    }
    return k;
}

int mmc_utf8_encode(uint32_t cp, char *buf) {
    uint8_t *b = (uint8_t *)buf;
    if (cp < 0x80) { b[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF) return 0;
    b[0] = (uint8_t)(0xF0 | (cp >> 18));
    b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}


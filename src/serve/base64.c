/* base64.c — uploaded images arrive as base64 or as data URLs
 * ("data:image/png;base64,iVBOR..."), the form a browser's FileReader.readAsDataURL makes.
 * The decoder is strict: the standard alphabet only (no whitespace, no URL-safe letters),
 * padding optional but only at the end, and no bits left over in a final partial group.
 * Anything else is refused with the offset of the first bad byte, so a client learns what
 * it sent wrong instead of getting a garbled image. */
#include "serve.h"
#include <string.h>

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int srv_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_n, const char **why, size_t *at) {
    *out = NULL;
    *out_n = 0;
    *at = 0;
    size_t start = 0;
    if (n >= 5 && !memcmp(s, "data:", 5)) { /* data:[<type>][;base64],<data> */
        const char *comma = memchr(s, ',', n);
        if (!comma) return *why = "a data URL without a comma", -1;
        size_t head = (size_t)(comma - s);
        if (head < 12 || memcmp(comma - 7, ";base64", 7) != 0)
            return *why = "a data URL that is not base64 (expected data:TYPE;base64,...)", *at = head, -1;
        start = head + 1;
    }
    size_t len = n - start, pad = 0;
    while (len > 0 && s[start + len - 1] == '=' && pad < 2) len--, pad++;
    if (len == 0) return *why = "no data", *at = start, -1;
    if (pad && (len + pad) % 4) return *why = "padding that does not complete a group of four", *at = start + len, -1;
    if (len % 4 == 1) return *why = "a length that no bytes encode", *at = n, -1;
    size_t cap = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    uint8_t *o = mmc_malloc(cap ? cap : 1);
    if (!o) return *why = "out of memory", -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[start + i]);
        if (v < 0) {
            mmc_free(o);
            *at = start + i;
            return *why = "a character outside the base64 alphabet", -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[w++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* the leftover bits of a partial group must be zero (canonical form) */
        mmc_free(o);
        *at = n - 1;
        return *why = "stray bits in the last group", -1;
    }
    *out = o;
    *out_n = w;
    return 0;
}

/* import_sha512.c — SHA-512 (FIPS 180-4) and npm integrity strings.
 *
 * npm records a tarball's "dist.integrity" as "sha512-" + base64(SHA-512 of the .tgz). We
 * pin those strings in the source, so a tarball that changed on the registry or in the
 * cache is refused instead of imported. Written from the standard; checked against its
 * test vectors in tests/test_import.c. */
#include "import_internal.h"
#include <errno.h>
#include <string.h>

static const uint64_t K[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL, 0x3956c25bf348b538ULL,
    0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL, 0xd807aa98a3030242ULL, 0x12835b0145706fbeULL,
    0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL, 0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL,
    0xc19bf174cf692694ULL, 0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL, 0x983e5152ee66dfabULL,
    0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL, 0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
    0x06ca6351e003826fULL, 0x142929670a0e6e70ULL, 0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL,
    0x53380d139d95b3dfULL, 0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL, 0xd192e819d6ef5218ULL,
    0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL, 0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL,
    0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL, 0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL,
    0x682e6ff3d6b2b8a3ULL, 0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL, 0xca273eceea26619cULL,
    0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL, 0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL,
    0x113f9804bef90daeULL, 0x1b710b35131c471bULL, 0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL,
    0x431d67c49c100d4cULL, 0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL};

typedef struct sha512_ctx {
    uint64_t h[8];
    uint8_t block[128];
    size_t fill;
    uint64_t total; /* bytes; a tarball is far below 2^61 */
} sha512_ctx;

static uint64_t rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static void compress(uint64_t h[8], const uint8_t *p) {
    uint64_t w[80];
    for (int t = 0; t < 16; t++) {
        w[t] = 0;
        for (int k = 0; k < 8; k++) w[t] = (w[t] << 8) | p[8 * t + k];
    }
    for (int t = 16; t < 80; t++) {
        uint64_t s0 = rotr(w[t - 15], 1) ^ rotr(w[t - 15], 8) ^ (w[t - 15] >> 7);
        uint64_t s1 = rotr(w[t - 2], 19) ^ rotr(w[t - 2], 61) ^ (w[t - 2] >> 6);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint64_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 80; t++) {
        uint64_t t1 = hh + (rotr(e, 14) ^ rotr(e, 18) ^ rotr(e, 41)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint64_t t2 = (rotr(a, 28) ^ rotr(a, 34) ^ rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha_init(sha512_ctx *c) {
    static const uint64_t H0[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                                   0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                   0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
    memcpy(c->h, H0, sizeof H0);
    c->fill = 0;
    c->total = 0;
}

static void sha_update(sha512_ctx *c, const uint8_t *p, size_t n) {
    c->total += n;
    while (n) {
        size_t take = 128 - c->fill < n ? 128 - c->fill : n;
        memcpy(c->block + c->fill, p, take);
        c->fill += take, p += take, n -= take;
        if (c->fill == 128) compress(c->h, c->block), c->fill = 0;
    }
}

/* Padding: 0x80, zeros, then the length in bits as a 128-bit big-endian number. */
static void sha_final(sha512_ctx *c, uint8_t out[64]) {
    uint64_t bits = c->total * 8;
    uint8_t pad[128 + 16] = {0x80};
    size_t padlen = (c->fill < 112 ? 112 : 240) - c->fill;
    for (int k = 0; k < 8; k++) pad[padlen + 8 + k] = (uint8_t)(bits >> (56 - 8 * k));
    sha_update(c, pad, padlen + 16);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 8; k++) out[8 * i + k] = (uint8_t)(c->h[i] >> (56 - 8 * k));
}

void mmc_sha512(const void *data, size_t n, uint8_t digest[64]) {
    sha512_ctx c;
    sha_init(&c);
    sha_update(&c, data, n);
    sha_final(&c, digest);
}

static void base64(const uint8_t *p, size_t n, char *out) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[o++] = A[v >> 18 & 63];
        out[o++] = A[v >> 12 & 63];
        out[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    out[o] = 0;
}

/* Streams the file through the hash: tarballs are tens of MB. */
int mmc_npm_integrity_check(const char *path, const char *integrity, mmc_error *err) {
    if (!integrity || strncmp(integrity, "sha512-", 7))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: integrity '%s' is not a sha512- string", path,
                             integrity ? integrity : "(none)");
    FILE *f = fopen(path, "rb");
    if (!f) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    sha512_ctx c;
    sha_init(&c);
    uint8_t buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) sha_update(&c, buf, got);
    int bad = ferror(f);
    fclose(f);
    if (bad) return mmc_error_set(err, MMC_ERR_INPUT, "%s: read error", path);
    uint8_t d[64];
    char b64[100] = "sha512-";
    sha_final(&c, d);
    base64(d, 64, b64 + 7);
    if (strcmp(b64, integrity))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: integrity mismatch: expected %s, found %s", path, integrity, b64);
    return MMC_OK;
}

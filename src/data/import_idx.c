/* import_idx.c — IDX files (MNIST / Fashion-MNIST), gzip or plain, as hostile input.
 *
 * The header cannot be trusted to size an allocation: a 30-byte file may claim 2^40 bytes.
 * So the buffer grows as data actually arrives and the claim is only checked against what
 * the file held. */
#include "import_internal.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define CHUNK (1 << 20)

void mmc_idx_free(mmc_idx *x) {
    if (!x) return;
    mmc_free(x->data);
    memset(x, 0, sizeof *x);
}

/* Reads exactly n bytes unless the stream ends; returns the count or -1 on a zlib error. */
static int64_t read_some(gzFile g, uint8_t *p, int64_t n) {
    int64_t got = 0;
    while (got < n) {
        unsigned want = n - got > CHUNK ? CHUNK : (unsigned)(n - got);
        int r = gzread(g, p + got, want);
        if (r < 0) return -1;
        if (r == 0) break;
        got += r;
    }
    return got;
}

/* Why the stream stopped early: zlib's message for a corrupt gzip stream or a read error,
 * else that the file is too short. */
static int short_read(gzFile g, const char *path, const char *what, mmc_error *err) {
    int zerr = 0;
    const char *why = gzerror(g, &zerr);
    if (zerr == Z_ERRNO) return mmc_error_set(err, MMC_ERR_INPUT, "%s: read error: %s", path, strerror(errno));
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: corrupt gzip data: %s", path, why ? why : "?");
    return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s", path, what);
}

static int read_header(gzFile g, const char *path, int64_t max_bytes, mmc_idx *x, mmc_error *err) {
    uint8_t h[4 + 4 * 4];
    if (read_some(g, h, 4) != 4) return short_read(g, path, "too short for an IDX header", err);
    if (h[0] || h[1] || h[2] != 0x08)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: bad magic %02x %02x %02x %02x (IDX of unsigned bytes starts 00 00 08 NDIM)",
                             path, h[0], h[1], h[2], h[3]);
    if (h[3] < 1 || h[3] > 4) return mmc_error_set(err, MMC_ERR_INPUT, "%s: %d dims (1 to 4 supported)", path, h[3]);
    x->ndim = h[3];
    if (read_some(g, h + 4, 4 * x->ndim) != 4 * x->ndim) return short_read(g, path, "truncated in the header's dims", err);
    x->size = 1;
    for (int d = 0; d < x->ndim; d++) {
        const uint8_t *p = h + 4 + 4 * d;
        x->dims[d] = (int64_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
        if (x->dims[d] == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: dim %d is 0", path, d);
        /* each dim < 2^32, and max_bytes bounds the product before it can overflow */
        x->size *= x->dims[d];
        if (x->size > max_bytes)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: dims claim more than %lld bytes of data", path,
                                 (long long)max_bytes);
    }
    return MMC_OK;
}

/* Reads size bytes, growing the buffer as they arrive; one extra byte detects trailing data. */
static int read_data(gzFile g, const char *path, mmc_idx *x, mmc_error *err) {
    int64_t cap = 0, got = 0;
    for (;;) {
        int64_t want = x->size + 1 - got;
        if (want <= 0) break;
        if (got == cap) {
            int64_t ncap = cap ? cap * 2 : CHUNK;
            if (ncap > x->size + 1) ncap = x->size + 1;
            uint8_t *p = mmc_realloc(x->data, (size_t)ncap);
            if (!p) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
            x->data = p, cap = ncap;
        }
        int64_t r = read_some(g, x->data + got, cap - got);
        if (r < 0) {
            int zerr = 0;
            const char *why = gzerror(g, &zerr);
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: corrupt gzip data: %s", path, why ? why : "?");
        }
        got += r;
        if (got < cap) break; /* end of stream */
    }
    if (got < x->size)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated: the dims say %lld data bytes, the file has %lld", path,
                             (long long)x->size, (long long)got);
    if (got > x->size)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: data continues past the %lld bytes the dims say", path,
                             (long long)x->size);
    return MMC_OK;
}

int mmc_idx_read(const char *path, int64_t max_bytes, mmc_idx *out, mmc_error *err) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) /* gzopen opens a folder; reading it fails */
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a regular file", path);
    gzFile g = gzopen(path, "rb");
    if (!g) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    int rc = read_header(g, path, max_bytes, out, err);
    if (!rc) rc = read_data(g, path, out, err);
    gzclose(g);
    if (rc) mmc_idx_free(out);
    return rc;
}

/* image_ppm.c — Netpbm PGM/PPM: P5/P6 (binary) and P2/P3 (ASCII), maxval 1..65535,
 * read as Pillow reads them:
 *   - header tokens are separated by whitespace; '#' starts a comment that runs through
 *     the next CR or LF and is deleted (so it can even split a token); tokens are at most
 *     10 digits;
 *   - binary samples are 1 byte when maxval < 256, else 2 bytes big-endian, and start
 *     right after the single whitespace byte that ends maxval;
 *   - samples become round(v / maxval * 255), half to even, capped at 255 (for maxval 255
 *     that is v itself); ASCII samples above maxval are an error;
 *   - gray with maxval > 255 becomes Pillow's 32-bit mode "I" (scaled to 0..65535), and
 *     its conversion to RGB clips at 255 — a quirk we keep so pixels match. */
#include "image_internal.h"
#include <math.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n, off;
    const char *name;
    mmc_error *err;
} ppm_reader;

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

static void skip_comment(ppm_reader *r) {
    while (r->off < r->n) {
        uint8_t c = r->p[r->off++];
        if (c == '\r' || c == '\n') return;
    }
}

/* Next decimal token into *v. Returns MMC_OK, or an error naming `what`. */
static int next_number(ppm_reader *r, const char *what, uint32_t *v) {
    char tok[12];
    int len = 0;
    while (r->off < r->n) {
        uint8_t c = r->p[r->off++];
        if (is_space(c)) {
            if (len) break;
            continue;
        }
        if (c == '#') {
            skip_comment(r);
            continue;
        }
        if (c < '0' || c > '9')
            return mmc_error_set(r->err, MMC_ERR_INPUT, "%s: bad PPM/PGM %s: unexpected byte 0x%02x at offset %zu",
                                 r->name, what, c, r->off - 1);
        if (len == 10)
            return mmc_error_set(r->err, MMC_ERR_INPUT, "%s: bad PPM/PGM %s: number longer than 10 digits at offset %zu",
                                 r->name, what, r->off - 1);
        tok[len++] = (char)c;
    }
    if (!len)
        return mmc_error_set(r->err, MMC_ERR_INPUT, "%s: truncated PPM/PGM: the file ends before the %s",
                             r->name, what);
    uint64_t x = 0;
    for (int i = 0; i < len; i++) x = x * 10 + (uint64_t)(tok[i] - '0');
    *v = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
    return MMC_OK;
}

typedef struct {
    int plain, channels;
    uint32_t w, h, maxval;
} ppm_header;

static int read_header(ppm_reader *r, ppm_header *hd) {
    const uint8_t *p = r->p;
    if (r->n < 3 || p[0] != 'P' || (p[1] != '2' && p[1] != '3' && p[1] != '5' && p[1] != '6') ||
        !is_space(p[2]))
        return mmc_error_set(r->err, MMC_ERR_INPUT, "%s: not a PPM/PGM file (bad magic number)", r->name);
    hd->plain = p[1] == '2' || p[1] == '3';
    hd->channels = (p[1] == '3' || p[1] == '6') ? 3 : 1;
    r->off = 2;
    int rc = next_number(r, "width", &hd->w);
    if (rc == MMC_OK) rc = next_number(r, "height", &hd->h);
    if (rc == MMC_OK) rc = next_number(r, "maxval", &hd->maxval);
    if (rc != MMC_OK) return rc;
    if (hd->maxval == 0 || hd->maxval > 65535)
        return mmc_error_set(r->err, MMC_ERR_INPUT, "%s: bad PPM/PGM maxval %u: must be 1..65535", r->name, hd->maxval);
    return mmc_image_check_dims(hd->w, hd->h, 3, r->name, "PPM/PGM", r->err);
}

/* One sample to 8 bits, as Pillow's "ppm" decoders then convert("RGB") do. */
static uint8_t scale_sample(uint32_t v, uint32_t maxval, int gray) {
    if (gray && maxval > 255) {
        /* mode "I": 0..65535 (maxval 65535 is taken raw), then clipped to 255 */
        double s = maxval == 65535 ? v : fmin(65535.0, nearbyint((double)v / maxval * 65535.0));
        return s >= 255.0 ? 255 : (uint8_t)s;
    }
    if (maxval == 255) return (uint8_t)(v > 255 ? 255 : v);
    double s = nearbyint((double)v / maxval * 255.0); /* Python's round(): half to even */
    return s >= 255.0 ? 255 : (uint8_t)s;
}

static int read_raw(ppm_reader *r, const ppm_header *hd, uint8_t *out, size_t count) {
    size_t bps = hd->maxval < 256 ? 1 : 2; /* the length was checked before allocating */
    const uint8_t *s = r->p + r->off;
    for (size_t i = 0; i < count; i++) {
        uint32_t v = bps == 1 ? s[i] : ((uint32_t)s[2 * i] << 8 | s[2 * i + 1]);
        out[i] = scale_sample(v, hd->maxval, hd->channels == 1);
    }
    return MMC_OK;
}

static int read_plain(ppm_reader *r, const ppm_header *hd, uint8_t *out, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t v;
        int rc = next_number(r, "pixel data", &v);
        if (rc != MMC_OK) return rc;
        if (v > hd->maxval)
            return mmc_error_set(r->err, MMC_ERR_INPUT, "%s: bad PPM/PGM: sample %u is above maxval %u (offset %zu)",
                                 r->name, v, hd->maxval, r->off);
        out[i] = scale_sample(v, hd->maxval, hd->channels == 1);
    }
    return MMC_OK;
}

int mmc_ppm_decode(mmc_image *img, const uint8_t *p, size_t n, const char *name, mmc_error *err) {
    memset(img, 0, sizeof *img);
    ppm_reader r = {p, n, 0, name, err};
    ppm_header hd;
    int rc = read_header(&r, &hd);
    if (rc != MMC_OK) return rc;
    size_t px = (size_t)hd.w * hd.h, count = px * hd.channels;
    /* Cheap refusal before allocating: ASCII needs a digit and a separator per sample. */
    if (hd.plain && r.n - r.off < 2 * count - 1)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated PPM/PGM: %zu bytes cannot hold %zu ASCII samples",
                             name, r.n - r.off, count);
    size_t bps = hd.maxval < 256 ? 1 : 2;
    if (!hd.plain && r.n - r.off < count * bps)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: truncated PPM/PGM: %zu bytes of pixel data, need %zu",
                             name, r.n - r.off, count * bps);
    rc = mmc_image_alloc(img, (int)hd.w, (int)hd.h, 3, err);
    if (rc != MMC_OK) return rc;
    /* Samples go to the front of the buffer; gray is then spread to RGB from the back. */
    rc = hd.plain ? read_plain(&r, &hd, img->data, count) : read_raw(&r, &hd, img->data, count);
    if (rc != MMC_OK) {
        mmc_image_free(img);
        return rc;
    }
    if (hd.channels == 1)
        for (size_t i = px; i-- > 0;) img->data[3 * i] = img->data[3 * i + 1] = img->data[3 * i + 2] = img->data[i];
    return MMC_OK;
}

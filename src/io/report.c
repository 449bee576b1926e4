/* report.c — self-contained HTML reports: headings, paragraphs, tables, line charts as
 * inline SVG, galleries of examples with their images inlined as base64 data: URIs.
 *
 * The page has no scripts and no external resources (no fonts, no stylesheets, no image
 * links), so it opens the same offline, in a headless browser or attached to a mail.
 * Everything that comes from the caller is text to escape, never markup: texts are
 * checked for UTF-8 when they are added and escaped (& < > " ') when the page is made.
 * Images are decoded before they are embedded, so a broken file is refused here rather
 * than shown as a broken picture. */
#include "internal.h"
#include "mmc/io.h"
#include "mmc/data.h" /* mmc_image: the report embeds images */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { BLK_HEADING, BLK_TEXT, BLK_TABLE, BLK_CHART, BLK_GALLERY };
#define MAX_COLS 64
#define MAX_DRAWN_POINTS 2000
#define EMBED_AS_IS_SIDE 512 /* PNG/JPEG files up to this side are embedded unchanged */
#define THUMB_SIDE 256       /* others are downscaled to this on the longer side */
#define WIDE_MAX_H 256   /* strips kept as they are: at most this tall ... */
#define WIDE_MAX_W 2048  /* ... and this wide */
#define MAX_IMAGE_FILE (64u << 20)
#define MAX_AUDIO_FILE (16u << 20) /* a clip of a report: seconds, not an album */
#define MAX_JSONL_FILE (1u << 30)

typedef struct series {
    char *name;
    double *x, *y;
    int n;
} series;

typedef struct example {
    const char *mime; /* static string; "audio/..." makes it a sound clip with player controls */
    char *b64;        /* NULL: text only */
    char *text;
    int mark;
    int wide; /* > 0: a strip (w >= 3 h, e.g. a clip's frames side by side) of this width, shown at its own size */
} example;

typedef struct block {
    int kind;
    char *title;                  /* heading / paragraph text, table caption, chart title */
    char *x_label, *y_label;      /* chart */
    int ncols, nrows, cap_rows;   /* table: cells[(row + 1) * ncols + col], row -1 = header */
    char **cells;
    series *ser;                  /* chart */
    int nser;
    example *ex;                  /* gallery */
    int nex;
} block;

struct mmc_report {
    char *title;
    block *blk;
    int n, cap;
};

/* ---------------------------------------------------------------- text in */

/* A checked copy of s: valid UTF-8, control characters other than '\n' made spaces. */
/* Public functions take err == NULL; they point it at a local then. */
#define LOCAL_ERR mmc_error local_err_; if (!err) err = &local_err_

static char *text_dup(const char *s, const char *what, mmc_error *err) {
    if (!s) s = "";
    size_t n = strlen(s), bad = 0;
    if (mmc_utf8_validate(s, n, &bad) != MMC_OK) {
        mmc_error_set(err, MMC_ERR_INPUT, "report: %s is not valid UTF-8 (byte %zu)", what, bad);
        return NULL;
    }
    char *d = mmc_malloc(n + 1);
    if (!d) { mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory"); return NULL; }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        d[i] = (c < 0x20 && c != '\n') || c == 0x7f ? ' ' : (char)c;
    }
    d[n] = 0;
    return d;
}

mmc_report *mmc_report_new(const char *title, mmc_error *err) {
    LOCAL_ERR;
    mmc_report *r = mmc_calloc(1, sizeof *r);
    if (!r) { mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory"); return NULL; }
    r->title = text_dup(title, "the title", err);
    if (!r->title) { mmc_free(r); return NULL; }
    return r;
}

static void free_block(block *b) {
    mmc_free(b->title);
    mmc_free(b->x_label);
    mmc_free(b->y_label);
    if (b->cells)
        for (int i = 0; i < (b->nrows + 1) * b->ncols; i++) mmc_free(b->cells[i]);
    mmc_free(b->cells);
    for (int i = 0; i < b->nser; i++) {
        mmc_free(b->ser[i].name);
        mmc_free(b->ser[i].x);
        mmc_free(b->ser[i].y);
    }
    mmc_free(b->ser);
    for (int i = 0; i < b->nex; i++) {
        mmc_free(b->ex[i].b64);
        mmc_free(b->ex[i].text);
    }
    mmc_free(b->ex);
}

void mmc_report_free(mmc_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free_block(&r->blk[i]);
    mmc_free(r->blk);
    mmc_free(r->title);
    mmc_free(r);
}

/* A new block of `kind` with its title copied; its index, or -1 with err. */
static int add_block(mmc_report *r, int kind, const char *title, const char *what, mmc_error *err) {
    if (!r) return mmc_error_set(err, MMC_ERR_USAGE, "report: NULL report"), -1;
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        block *nb = mmc_realloc(r->blk, sizeof *nb * (size_t)cap);
        if (!nb) return mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory"), -1;
        r->blk = nb;
        r->cap = cap;
    }
    block b;
    memset(&b, 0, sizeof b);
    b.kind = kind;
    b.title = text_dup(title, what, err);
    if (!b.title) return -1;
    r->blk[r->n] = b;
    return r->n++;
}

static block *get_block(mmc_report *r, int id, int kind, const char *what, mmc_error *err) {
    if (!r || id < 0 || id >= r->n || r->blk[id].kind != kind) {
        mmc_error_set(err, MMC_ERR_USAGE, "report: %d is not a %s of this report", id, what);
        return NULL;
    }
    return &r->blk[id];
}

int mmc_report_heading(mmc_report *r, const char *text, mmc_error *err) {
    LOCAL_ERR;
    return add_block(r, BLK_HEADING, text, "a heading", err) < 0 ? err->code : MMC_OK;
}

int mmc_report_text(mmc_report *r, const char *text, mmc_error *err) {
    LOCAL_ERR;
    return add_block(r, BLK_TEXT, text, "a paragraph", err) < 0 ? err->code : MMC_OK;
}

/* ------------------------------------------------------------------ tables */

int mmc_report_table(mmc_report *r, const char *caption, int ncols, const char *const *header, mmc_error *err) {
    LOCAL_ERR;
    if (ncols < 1 || ncols > MAX_COLS || !header)
        return mmc_error_set(err, MMC_ERR_USAGE, "report: a table needs 1..%d columns and a header", MAX_COLS), -1;
    int id = add_block(r, BLK_TABLE, caption, "a table caption", err);
    if (id < 0) return -1;
    block *b = &r->blk[id];
    b->ncols = ncols;
    b->cells = mmc_calloc((size_t)ncols, sizeof(char *));
    if (!b->cells) { free_block(b); r->n--; return mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory"), -1; }
    for (int c = 0; c < ncols; c++)
        if (!(b->cells[c] = text_dup(header[c], "a table header", err))) { free_block(b); r->n--; return -1; }
    return id;
}

int mmc_report_table_row(mmc_report *r, int table, const char *const *cells, mmc_error *err) {
    LOCAL_ERR;
    block *b = get_block(r, table, BLK_TABLE, "table", err);
    if (!b) return err->code;
    if (!cells) return mmc_error_set(err, MMC_ERR_USAGE, "report: NULL row");
    if (b->nrows >= b->cap_rows) {
        int cap = b->cap_rows ? b->cap_rows * 2 : 8;
        char **nc = mmc_realloc(b->cells, sizeof(char *) * (size_t)(cap + 1) * (size_t)b->ncols);
        if (!nc) return mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory");
        b->cells = nc;
        b->cap_rows = cap;
    }
    char **row = b->cells + (size_t)(b->nrows + 1) * b->ncols;
    for (int c = 0; c < b->ncols; c++) {
        row[c] = text_dup(cells[c], "a table cell", err);
        if (!row[c]) {
            for (int k = 0; k < c; k++) mmc_free(row[k]);
            return err->code;
        }
    }
    b->nrows++;
    return MMC_OK;
}

/* ------------------------------------------------------------------ charts */

int mmc_report_chart(mmc_report *r, const char *title, const char *x_label, const char *y_label, mmc_error *err) {
    LOCAL_ERR;
    int id = add_block(r, BLK_CHART, title, "a chart title", err);
    if (id < 0) return -1;
    block *b = &r->blk[id];
    b->x_label = text_dup(x_label, "an axis label", err);
    b->y_label = b->x_label ? text_dup(y_label, "an axis label", err) : NULL;
    if (!b->y_label) { free_block(b); r->n--; return -1; }
    return id;
}

int mmc_report_series(mmc_report *r, int chart, const char *name, const double *x, const double *y, int n, mmc_error *err) {
    LOCAL_ERR;
    block *b = get_block(r, chart, BLK_CHART, "chart", err);
    if (!b) return err->code;
    if (n < 0 || (n > 0 && (!x || !y))) return mmc_error_set(err, MMC_ERR_USAGE, "report: bad series (n %d)", n);
    series s;
    memset(&s, 0, sizeof s);
    s.name = text_dup(name, "a series name", err);
    if (!s.name) return err->code;
    s.x = mmc_malloc(sizeof(double) * (size_t)(n ? n : 1));
    s.y = mmc_malloc(sizeof(double) * (size_t)(n ? n : 1));
    series *ns = s.x && s.y ? mmc_realloc(b->ser, sizeof *ns * (size_t)(b->nser + 1)) : NULL;
    if (!ns) {
        mmc_free(s.name); mmc_free(s.x); mmc_free(s.y);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory");
    }
    b->ser = ns;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) { s.x[s.n] = x[i]; s.y[s.n] = y[i]; s.n++; }
    b->ser[b->nser++] = s;
    return MMC_OK;
}

/* The number at dotted path key inside obj, or NULL. */
static const cJSON *json_path(const cJSON *obj, const char *key) {
    char part[256];
    const char *p = key;
    while (obj && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len >= sizeof part) return NULL;
        memcpy(part, p, len);
        part[len] = 0;
        obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, part) : NULL;
        p += len + (dot ? 1 : 0);
        if (dot && !*p) return NULL;
    }
    return obj && cJSON_IsNumber(obj) ? obj : NULL;
}

int mmc_report_series_jsonl(mmc_report *r, int chart, const char *name, const char *path, const char *x_key,
                            const char *y_key, int *n_points, mmc_error *err) {
    LOCAL_ERR;
    if (n_points) *n_points = 0;
    if (!get_block(r, chart, BLK_CHART, "chart", err)) return err->code;
    if (!path || !x_key || !y_key) return mmc_error_set(err, MMC_ERR_USAGE, "report: NULL path or key");
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mmc_read_file(path, MAX_JSONL_FILE, &buf, &len, err);
    if (rc) return rc;
    double *x = NULL, *y = NULL;
    int n = 0, cap = 0, line = 0;
    size_t at = 0;
    while (!rc && at < len) {
        size_t end = at;
        while (end < len && buf[end] != '\n') end++;
        line++;
        size_t b0 = at, b1 = end;
        while (b0 < b1 && (buf[b0] == ' ' || buf[b0] == '\t' || buf[b0] == '\r')) b0++;
        while (b1 > b0 && (buf[b1 - 1] == ' ' || buf[b1 - 1] == '\t' || buf[b1 - 1] == '\r')) b1--;
        int last = end >= len; /* no newline after it: maybe a write cut short */
        at = end + 1;
        if (b0 == b1) continue;
        cJSON *o = cJSON_ParseWithLength((const char *)buf + b0, b1 - b0);
        if (!o) {
            if (last) break;
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s:%d: not a JSON object", path, line);
            break;
        }
        const cJSON *jx = json_path(o, x_key), *jy = json_path(o, y_key);
        if (jx && jy) {
            if (n == cap) {
                int nc = cap ? cap * 2 : 256;
                double *nx = mmc_realloc(x, sizeof(double) * (size_t)nc);
                if (nx) x = nx;
                double *ny = nx ? mmc_realloc(y, sizeof(double) * (size_t)nc) : NULL;
                if (ny) y = ny;
                if (!nx || !ny) { cJSON_Delete(o); rc = mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory"); break; }
                cap = nc;
            }
            x[n] = jx->valuedouble;
            y[n] = jy->valuedouble;
            n++;
        }
        cJSON_Delete(o);
    }
    mmc_free(buf);
    if (!rc) rc = mmc_report_series(r, chart, name, x, y, n, err);
    if (!rc && n_points) {
        block *b = &r->blk[chart];
        *n_points = b->ser[b->nser - 1].n;
    }
    mmc_free(x);
    mmc_free(y);
    return rc;
}

/* ---------------------------------------------------------------- galleries */

int mmc_report_gallery(mmc_report *r, const char *title, mmc_error *err) {
    LOCAL_ERR;
    return add_block(r, BLK_GALLERY, title, "a gallery title", err);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(const uint8_t *p, size_t n, mmc_error *err) {
    if (n > ((size_t)1 << 40)) { mmc_error_set(err, MMC_ERR_USAGE, "report: image too large"); return NULL; }
    size_t m = (n + 2) / 3 * 4;
    char *s = mmc_malloc(m + 1), *o = s;
    if (!s) { mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory"); return NULL; }
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = B64[v >> 18]; *o++ = B64[v >> 12 & 63]; *o++ = B64[v >> 6 & 63]; *o++ = B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = B64[v >> 18]; *o++ = B64[v >> 12 & 63]; *o++ = '='; *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = B64[v >> 18]; *o++ = B64[v >> 12 & 63]; *o++ = B64[v >> 6 & 63]; *o++ = '=';
    }
    *o = 0;
    return s;
}

/* libpng into a growing buffer. */
typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} membuf;

static void mem_write(png_structp png, png_bytep data, png_size_t len) {
    membuf *m = png_get_io_ptr(png);
    if (m->oom) return;
    if (m->n + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->n + len) cap *= 2;
        uint8_t *np = mmc_realloc(m->p, cap);
        if (!np) { m->oom = 1; return; }
        m->p = np;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
}
static void mem_flush(png_structp png) { (void)png; }

static void on_png_error(png_structp png, png_const_charp msg) {
    char *buf = png_get_error_ptr(png);
    if (buf) snprintf(buf, 256, "%s", msg);
    png_longjmp(png, 1);
}
static void on_png_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

/* Everything that must survive the longjmp lives in the caller (m, why). */
static int encode_png(membuf *m, int w, int h, int channels, const uint8_t *pixels, char why[256]) {
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, why, on_png_error, on_png_warning);
    if (!png) { snprintf(why, 256, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(why, 256, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, m, mem_write, mem_flush);
    png_set_compression_level(png, Z_BEST_SPEED);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, types[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)w * (size_t)channels;
    for (int yy = 0; yy < h; yy++) png_write_row(png, (png_const_bytep)(pixels + (size_t)yy * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (m->oom) { snprintf(why, 256, "out of memory"); return -1; }
    return 0;
}

int mmc_png_encode(int w, int h, int channels, const uint8_t *pixels, uint8_t **out, size_t *n, mmc_error *err) {
    LOCAL_ERR;
    if (!out || !n || !pixels) return mmc_error_set(err, MMC_ERR_USAGE, "png encode: NULL argument");
    *out = NULL;
    *n = 0;
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535)
        return mmc_error_set(err, MMC_ERR_USAGE, "png encode: cannot encode a %dx%d image (sides 1..65535)", w, h);
    if (channels < 1 || channels > 4) return mmc_error_set(err, MMC_ERR_USAGE, "png encode: %d channels (1..4)", channels);
    membuf m = {0};
    char why[256] = "";
    if (encode_png(&m, w, h, channels, pixels, why) != 0) {
        mmc_free(m.p);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "png encode: %s", why);
    }
    *out = m.p;
    *n = m.n;
    return MMC_OK;
}

static int add_example(mmc_report *r, int gallery, const char *mime, char *b64, const char *text, int mark, int wide,
                       mmc_error *err) {
    block *b = get_block(r, gallery, BLK_GALLERY, "gallery", err);
    example e = {mime, b64, NULL, mark > 0 ? 1 : mark < 0 ? -1 : 0, wide};
    if (b) e.text = text_dup(text, "an example's text", err);
    example *ne = e.text ? mmc_realloc(b->ex, sizeof *ne * (size_t)(b->nex + 1)) : NULL;
    if (!ne) {
        if (e.text) mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory");
        mmc_free(b64);
        mmc_free(e.text);
        return err->code;
    }
    b->ex = ne;
    b->ex[b->nex++] = e;
    return MMC_OK;
}

/* PNG data of img, downscaled so its longer side is at most THUMB_SIDE. */
static int thumbnail_png(const mmc_image *img, uint8_t **png, size_t *n, mmc_error *err) {
    int side = img->w > img->h ? img->w : img->h;
    if (side <= THUMB_SIDE) return mmc_png_encode(img->w, img->h, img->c, img->data, png, n, err);
    int w = (int)((double)img->w * THUMB_SIDE / side + 0.5), h = (int)((double)img->h * THUMB_SIDE / side + 0.5);
    mmc_image small = {0};
    int rc = mmc_image_resize(img, &small, w < 1 ? 1 : w, h < 1 ? 1 : h, MMC_RESAMPLE_BICUBIC, err);
    if (!rc) rc = mmc_png_encode(small.w, small.h, small.c, small.data, png, n, err);
    mmc_image_free(&small);
    return rc;
}

int mmc_report_example_file(mmc_report *r, int gallery, const char *image_path, const char *text, int mark, mmc_error *err) {
    LOCAL_ERR;
    if (!get_block(r, gallery, BLK_GALLERY, "gallery", err)) return err->code;
    if (!image_path) return add_example(r, gallery, NULL, NULL, text, mark, 0, err);
    uint8_t *bytes = NULL;
    size_t n = 0;
    int rc = mmc_read_file(image_path, MAX_IMAGE_FILE, &bytes, &n, err);
    if (rc) return rc;
    const char *fmt = mmc_image_format(bytes, n);
    mmc_image img = {0};
    rc = mmc_image_decode(&img, bytes, n, image_path, 3, err);
    char *b64 = NULL;
    const char *mime = "image/png";
    if (!rc) {
        int side = img.w > img.h ? img.w : img.h;
        if (fmt && (!strcmp(fmt, "png") || !strcmp(fmt, "jpeg")) && side <= EMBED_AS_IS_SIDE) {
            mime = !strcmp(fmt, "png") ? "image/png" : "image/jpeg";
            b64 = base64(bytes, n, err);
        } else {
            uint8_t *png = NULL;
            size_t pn = 0;
            rc = thumbnail_png(&img, &png, &pn, err);
            if (!rc) b64 = base64(png, pn, err);
            mmc_free(png);
        }
        if (!rc && !b64) rc = err->code;
    }
    mmc_image_free(&img);
    mmc_free(bytes);
    if (rc) return rc;
    return add_example(r, gallery, mime, b64, text, mark, 0, err);
}

int mmc_report_example_pixels(mmc_report *r, int gallery, int w, int h, int channels, const uint8_t *pixels, const char *text,
                              int mark, mmc_error *err) {
    LOCAL_ERR;
    if (!get_block(r, gallery, BLK_GALLERY, "gallery", err)) return err->code;
    if (!pixels || w <= 0 || h <= 0 || channels < 1 || channels > 4 || (int64_t)w * h > mmc_image_max_pixels())
        return mmc_error_set(err, MMC_ERR_USAGE, "report: bad image (%dx%d, %d channels)", w, h, channels);
    mmc_image img = {w, h, channels, (uint8_t *)pixels};
    uint8_t *png = NULL;
    size_t pn = 0;
    /* a strip of frames keeps its pixels (each frame would be a few pixels wide as a thumbnail) */
    int wide = w >= 3 * h && h <= WIDE_MAX_H && w <= WIDE_MAX_W;
    int rc = wide ? mmc_png_encode(w, h, channels, pixels, &png, &pn, err) : thumbnail_png(&img, &png, &pn, err);
    if (wide) wide = w;
    char *b64 = rc ? NULL : base64(png, pn, err);
    mmc_free(png);
    if (!rc && !b64) rc = err->code;
    if (rc) return rc;
    return add_example(r, gallery, "image/png", b64, text, mark, wide, err);
}

/* The browser's name for a sound file's bytes, from their magic: the containers every
 * current browser plays (WAV, Ogg, FLAC, MP3); NULL for others. */
static const char *audio_mime(const uint8_t *p, size_t n) {
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WAVE", 4)) return "audio/wav";
    if (n >= 4 && !memcmp(p, "OggS", 4)) return "audio/ogg";
    if (n >= 4 && !memcmp(p, "fLaC", 4)) return "audio/flac";
    if (n >= 3 && (!memcmp(p, "ID3", 3) || (p[0] == 0xff && (p[1] & 0xe0) == 0xe0))) return "audio/mpeg";
    return NULL;
}

int mmc_report_example_audio(mmc_report *r, int gallery, const char *audio_path, const char *text, int mark, mmc_error *err) {
    LOCAL_ERR;
    if (!get_block(r, gallery, BLK_GALLERY, "gallery", err)) return err->code;
    if (!audio_path) return mmc_error_set(err, MMC_ERR_USAGE, "report: NULL sound file");
    uint8_t *bytes = NULL;
    size_t n = 0;
    int rc = mmc_read_file(audio_path, MAX_AUDIO_FILE, &bytes, &n, err);
    if (rc) return rc;
    const char *mime = audio_mime(bytes, n);
    if (!mime) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: not a WAV, Ogg, FLAC or MP3 file (what a report can play)", audio_path);
    mmc_audio a = {0};
    if (!rc) rc = mmc_audio_decode(&a, bytes, n, audio_path, 0, err); /* a broken clip is refused here, not shown mute */
    mmc_audio_free(&a);
    char *b64 = rc ? NULL : base64(bytes, n, err);
    mmc_free(bytes);
    if (!rc && !b64) rc = err->code;
    if (rc) return rc;
    return add_example(r, gallery, mime, b64, text, mark, 0, err);
}

/* ---------------------------------------------------------------- html out */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *s, const char *t, size_t len) {
    if (s->oom) return;
    if (s->n + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap < s->n + len + 1) cap *= 2;
        char *np = mmc_realloc(s->p, cap);
        if (!np) { s->oom = 1; return; }
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->n, t, len);
    s->n += len;
    s->p[s->n] = 0;
}
static void sb_str(sbuf *s, const char *t) { sb_put(s, t, strlen(t)); }
static void sb_fmt(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *s, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    sb_put(s, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}
/* Escaped text; with br, a newline becomes <br>. */
static void sb_esc(sbuf *s, const char *t, int br) {
    for (; *t; t++) {
        switch (*t) {
        case '&': sb_str(s, "&amp;"); break;
        case '<': sb_str(s, "&lt;"); break;
        case '>': sb_str(s, "&gt;"); break;
        case '"': sb_str(s, "&quot;"); break;
        case '\'': sb_str(s, "&#39;"); break;
        case '\n': sb_str(s, br ? "<br>" : " "); break;
        default: sb_put(s, t, 1);
        }
    }
}

static const char *PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
enum { NPAL = sizeof PALETTE / sizeof PALETTE[0] };

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about `want` ticks over span. */
static double nice_step(double span, int want) {
    double raw = span / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* The axis from a to b (multiples of step) covering [lo, hi]; *count steps (1..50). */
static void axis_range(double lo, double hi, double *a, double *b, double *step, int *count) {
    if (!(hi > lo)) { double c = lo, d = fabs(c) > 0 ? fabs(c) * 0.1 : 1; lo = c - d; hi = c + d; }
    double st = nice_step(hi - lo, 5);
    double aa = floor(lo / st) * st, bb = ceil(hi / st) * st, k = (bb - aa) / st;
    if (!(st > 0) || !isfinite(st) || !isfinite(aa) || !isfinite(bb) || !(k >= 1) || k > 50 || !(bb > aa)) {
        aa = lo; bb = hi; st = hi - lo; k = 1; /* extreme ranges: just the two ends */
        if (!(bb > aa) || !isfinite(st)) { aa = -1; bb = 1; st = 2; }
    }
    *a = aa;
    *b = bb;
    *step = st;
    *count = (int)(k + 0.5);
}

static void tick_label(char *buf, size_t n, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-3)) snprintf(buf, n, "%.3g", v);
    else {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, v);
    }
}

/* Pixel coordinates stay printable whatever the data (ranges beyond double's reach). */
static double clampc(double v) { return isfinite(v) ? fmax(-1e4, fmin(1e4, v)) : v > 0 ? 1e4 : -1e4; }

static void write_chart(sbuf *s, const block *b) {
    const double W = 720, H = 340, L = 64, R = 170, T = 34, B = 50;
    const double pw = W - L - R, ph = H - T - B;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < b->nser; i++)
        for (int k = 0; k < b->ser[i].n; k++) {
            double x = b->ser[i].x[k], y = b->ser[i].y[k];
            x0 = fmin(x0, x); x1 = fmax(x1, x); y0 = fmin(y0, y); y1 = fmax(y1, y);
        }
    sb_fmt(s, "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
           W, H, W, H);
    sb_str(s, "<title>");
    sb_esc(s, b->title, 0);
    sb_str(s, "</title>\n");
    sb_fmt(s, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", W, H);
    sb_fmt(s, "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">", L + pw / 2);
    sb_esc(s, b->title, 0);
    sb_str(s, "</text>\n");
    int empty = !(x1 >= x0);
    if (empty) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    double ax, bx, sx, ay, by, sy;
    int nx, ny;
    axis_range(x0, x1, &ax, &bx, &sx, &nx);
    axis_range(y0, y1, &ay, &by, &sy, &ny);
#define PX(v) clampc(L + ((v) - ax) / (bx - ax) * pw)
#define PY(v) clampc(T + ph - ((v) - ay) / (by - ay) * ph)
    /* grid and ticks */
    char lab[64];
    for (int k = 0; k <= nx; k++) {
        double v = ax + k * sx;
        tick_label(lab, sizeof lab, v, sx);
        sb_fmt(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", PX(v), T, PX(v), T + ph);
        sb_fmt(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">%s</text>\n", PX(v), T + ph + 15, lab);
    }
    for (int k = 0; k <= ny; k++) {
        double v = ay + k * sy;
        tick_label(lab, sizeof lab, v, sy);
        sb_fmt(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", L, PY(v), L + pw, PY(v));
        sb_fmt(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\" fill=\"#444\">%s</text>\n", L - 6, PY(v) + 4, lab);
    }
    sb_fmt(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>", L, T + ph, L + pw, T + ph);
    sb_fmt(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L, T, L, T + ph);
    sb_fmt(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">", L + pw / 2, H - 10);
    sb_esc(s, b->x_label, 0);
    sb_fmt(s, "</text>\n<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 16 %.1f)\">", T + ph / 2, T + ph / 2);
    sb_esc(s, b->y_label, 0);
    sb_str(s, "</text>\n");
    if (empty)
        sb_fmt(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"#888\">no data</text>\n", L + pw / 2, T + ph / 2);
    for (int i = 0; i < b->nser; i++) {
        const series *se = &b->ser[i];
        const char *col = PALETTE[i % NPAL];
        int stride = se->n > MAX_DRAWN_POINTS ? (se->n + MAX_DRAWN_POINTS - 1) / MAX_DRAWN_POINTS : 1;
        if (se->n > 1) {
            sb_fmt(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
            for (int k = 0; k < se->n; k += stride) sb_fmt(s, "%.1f,%.1f ", PX(se->x[k]), PY(se->y[k]));
            if ((se->n - 1) % stride) sb_fmt(s, "%.1f,%.1f", PX(se->x[se->n - 1]), PY(se->y[se->n - 1]));
            sb_str(s, "\"/>\n");
        }
        if (se->n <= 40)
            for (int k = 0; k < se->n; k++) sb_fmt(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", PX(se->x[k]), PY(se->y[k]), col);
        double ly = T + 10 + 20 * i;
        sb_fmt(s, "\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>", L + pw + 14, ly, L + pw + 38, ly, col);
        sb_fmt(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", L + pw + 44, ly + 4);
        sb_esc(s, se->name, 0);
        sb_str(s, "</text>\n");
    }
#undef PX
#undef PY
    sb_str(s, "</svg></figure>\n");
}

/* A cell is right-aligned when it is a number (with an optional % sign). */
static int numeric(const char *t) {
    char *end = NULL;
    if (!*t) return 0;
    strtod(t, &end);
    return end != t && (*end == 0 || (end[0] == '%' && end[1] == 0));
}

char *mmc_report_html(const mmc_report *r, mmc_error *err) {
    LOCAL_ERR;
    if (!r) { mmc_error_set(err, MMC_ERR_USAGE, "report: NULL report"); return NULL; }
    sbuf s = {0};
    sb_str(&s, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    sb_esc(&s, r->title, 0);
    sb_str(&s, "</title>\n<style>\n"
               "body{font-family:\"DejaVu Sans\",Arial,\"Noto Sans CJK SC\",sans-serif;margin:1.5em auto;max-width:1180px;padding:0 1em;color:#222}\n"
               "h1{font-size:1.6em;margin-bottom:.3em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}\n"
               "table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:3px 9px;font-size:14px}"
               "th{background:#f2f2f2;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
               "caption{text-align:left;font-weight:bold;padding:4px 0}\n"
               "figure{margin:.8em 0}svg{max-width:100%;height:auto;border:1px solid #e4e4e4}svg text{font-family:sans-serif}\n"
               ".gallery{margin:.8em 0}.gallery h3{font-size:1em;margin:.2em 0 .4em}\n"
               ".row{display:flex;flex-wrap:wrap;gap:8px}\n"
               ".ex{width:140px;border:3px solid #ddd;border-radius:4px;padding:3px;font-size:12px;line-height:1.3;background:#fafafa}\n"
               ".ex.good{border-color:#2a9d3a}.ex.bad{border-color:#d33}\n"
               ".ex img{width:128px;height:128px;object-fit:contain;image-rendering:pixelated;display:block;margin:0 auto 3px}\n"
               ".ex.wide{max-width:100%}.ex.wide img{width:auto;height:auto;max-width:100%}\n"
               ".ex.audio{width:300px}.ex audio{width:100%;display:block;margin:0 0 3px}\n"
               "</style>\n</head>\n<body>\n<h1>");
    sb_esc(&s, r->title, 0);
    sb_str(&s, "</h1>\n");
    for (int i = 0; i < r->n; i++) {
        const block *b = &r->blk[i];
        switch (b->kind) {
        case BLK_HEADING:
            sb_str(&s, "<h2>");
            sb_esc(&s, b->title, 0);
            sb_str(&s, "</h2>\n");
            break;
        case BLK_TEXT:
            sb_str(&s, "<p>");
            sb_esc(&s, b->title, 1);
            sb_str(&s, "</p>\n");
            break;
        case BLK_TABLE:
            sb_str(&s, "<table>");
            if (b->title[0]) { sb_str(&s, "<caption>"); sb_esc(&s, b->title, 0); sb_str(&s, "</caption>"); }
            sb_str(&s, "\n<tr>");
            for (int c = 0; c < b->ncols; c++) { sb_str(&s, "<th>"); sb_esc(&s, b->cells[c], 1); sb_str(&s, "</th>"); }
            sb_str(&s, "</tr>\n");
            for (int row = 1; row <= b->nrows; row++) {
                sb_str(&s, "<tr>");
                for (int c = 0; c < b->ncols; c++) {
                    const char *t = b->cells[(size_t)row * b->ncols + c];
                    sb_str(&s, numeric(t) ? "<td class=\"n\">" : "<td>");
                    sb_esc(&s, t, 1);
                    sb_str(&s, "</td>");
                }
                sb_str(&s, "</tr>\n");
            }
            sb_str(&s, "</table>\n");
            break;
        case BLK_CHART:
            write_chart(&s, b);
            break;
        case BLK_GALLERY:
            sb_str(&s, "<div class=\"gallery\">");
            if (b->title[0]) { sb_str(&s, "<h3>"); sb_esc(&s, b->title, 1); sb_str(&s, "</h3>"); }
            sb_str(&s, "\n<div class=\"row\">\n");
            for (int k = 0; k < b->nex; k++) {
                const example *e = &b->ex[k];
                int audio = e->b64 && !strncmp(e->mime, "audio/", 6);
                sb_str(&s, e->mark > 0 ? "<div class=\"ex good" : e->mark < 0 ? "<div class=\"ex bad" : "<div class=\"ex");
                if (e->wide) sb_fmt(&s, " wide\" style=\"width:%dpx\">", e->wide);
                else sb_str(&s, audio ? " audio\">" : "\">");
                if (audio) {
                    sb_fmt(&s, "<audio controls preload=\"metadata\" src=\"data:%s;base64,", e->mime);
                    sb_str(&s, e->b64);
                    sb_str(&s, "\"></audio>");
                } else if (e->b64) {
                    sb_fmt(&s, "<img alt=\"\" src=\"data:%s;base64,", e->mime);
                    sb_str(&s, e->b64);
                    sb_str(&s, "\">");
                }
                sb_esc(&s, e->text, 1);
                sb_str(&s, "</div>\n");
            }
            sb_str(&s, "</div></div>\n");
            break;
        }
    }
    sb_str(&s, "</body>\n</html>\n");
    if (s.oom) {
        mmc_free(s.p);
        mmc_error_set(err, MMC_ERR_RUNTIME, "report: out of memory");
        return NULL;
    }
    return s.p;
}

int mmc_report_write(const mmc_report *r, const char *path, mmc_error *err) {
    LOCAL_ERR;
    if (!path) return mmc_error_set(err, MMC_ERR_USAGE, "report: NULL path");
    char *html = mmc_report_html(r, err);
    if (!html) return err->code;
    int rc = mmc_write_file_atomic(path, html, strlen(html), err);
    mmc_free(html);
    return rc;
}

/* image_resize.c — Pillow's Image.resize for 8-bit images, rewritten from a reading of
 * its algorithm (libImaging/Resample.c) so that pixels match Python pipelines exactly,
 * and the variant torchvision runs on uint8 tensors (resize(antialias=True), used by
 * Hugging Face's "fast" image processors), which PyTorch ported from Pillow-SIMD.
 *
 * Convolution filters: each output pixel xx covers the input span centred at
 * (xx + 0.5) * scale. When shrinking (scale > 1) the filter is stretched by scale, which
 * is what antialiases. Weights are computed in double, normalised to sum 1, then turned
 * into 22-bit fixed point; each pass accumulates integer products, adds one half, shifts
 * and clips to 0..255. The horizontal pass runs first and its result is rounded to uint8
 * before the vertical pass: every one of these details shows in the last bit.
 *
 * The torchvision flavour differs only in the fixed point: int16 weights whose precision
 * is the largest (< 22 bits) at which the axis's biggest weight still fits in 15 bits,
 * and its cubic is Keys' written as ((a x - 5a) x + 8a) x - 4a (the last bits of a double
 * can differ). Its output differs from Pillow's by 1 in a fraction of a percent of values.
 *
 * Nearest neighbour follows Pillow's affine scaling: source x = floor(x0), x0 starting at
 * scale / 2 and stepping by scale (accumulated in double, as Pillow does). */
#include "image_internal.h"
#include <math.h>
#include <string.h>

#define PRECISION_BITS 22 /* 32 bits - 8 for the value - 2 for negative lobes/overshoot */

typedef struct {
    double (*fn)(double x);
    double support;
} resample_filter;

static double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

static double bilinear_filter(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_filter(double x) {
    x = fabs(x);
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x *= M_PI;
    /* Pillow writes the constants as floats; keep them so. */
    return sin(x) / x * (0.54f + 0.46f * cos(x));
}

static double bicubic_filter(double x) {
    const double a = -0.5; /* Keys' cubic convolution, as Pillow and OpenCV's INTER_CUBIC use */
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* PyTorch's spelling of the same cubic (UpSample.h cubic_convolution1/2). */
static double bicubic_filter_torch(double x) {
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
}

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos_filter(double x) {
    return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
}

static const resample_filter *filter_for(int id, int flavour) {
    static const resample_filter box = {box_filter, 0.5}, bilinear = {bilinear_filter, 1.0},
                                 hamming = {hamming_filter, 1.0}, bicubic = {bicubic_filter, 2.0},
                                 lanczos = {lanczos_filter, 3.0},
                                 bicubic_torch = {bicubic_filter_torch, 2.0};
    if (flavour == MMC_IMAGE_TORCHVISION) /* torchvision antialiases only these two */
        return id == MMC_RESAMPLE_BILINEAR ? &bilinear : id == MMC_RESAMPLE_BICUBIC ? &bicubic_torch : NULL;
    switch (id) {
    case MMC_RESAMPLE_BOX: return &box;
    case MMC_RESAMPLE_BILINEAR: return &bilinear;
    case MMC_RESAMPLE_HAMMING: return &hamming;
    case MMC_RESAMPLE_BICUBIC: return &bicubic;
    case MMC_RESAMPLE_LANCZOS: return &lanczos;
    default: return NULL;
    }
}

/* Fixed-point weights of one axis: for output i, inputs bounds[2i] .. bounds[2i] +
 * bounds[2i+1] - 1 with weights k[i * ksize + j]. */
typedef struct {
    int ksize, prec; /* weights per output, fixed-point bits */
    int *bounds;
    int32_t *k;
} axis_coeffs;

static void coeffs_free(axis_coeffs *c) {
    mmc_free(c->bounds);
    mmc_free(c->k);
    memset(c, 0, sizeof *c);
}

static int32_t to_fixed(double w, int prec) {
    return (int32_t)(w < 0 ? -0.5 + w * (1 << prec) : 0.5 + w * (1 << prec));
}

/* torchvision: the most bits (< 22) at which round(w_max * 2^(bits+1)) stays below 2^15,
 * so that every weight fits an int16 lane. */
static int int16_precision(double w_max) {
    int p = 0;
    for (; p < 22; p++)
        if ((int)(0.5 + w_max * (1 << (p + 1))) >= (1 << 15)) break;
    return p;
}

/* Weights for one output position into k (ksize slots); returns the count used. */
static int one_position(int xx, int in_size, double scale, double filterscale, double support,
                        const resample_filter *f, int ksize, double *w, int *xmin_out) {
    double center = (xx + 0.5) * scale, ss = 1.0 / filterscale, ww = 0.0;
    int xmin = (int)(center - support + 0.5); /* Pillow rounds by truncation after +0.5 */
    if (xmin < 0) xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    if (xmax > ksize) xmax = ksize; /* cannot happen; keeps writes in bounds regardless */
    for (int x = 0; x < xmax; x++) {
        w[x] = f->fn((x + xmin - center + 0.5) * ss);
        ww += w[x];
    }
    for (int x = 0; x < xmax; x++)
        if (ww != 0.0) w[x] /= ww;
    *xmin_out = xmin;
    return xmax < 0 ? 0 : xmax;
}

static int precompute(int in_size, int out_size, const resample_filter *f, int flavour,
                      axis_coeffs *c, mmc_error *err) {
    memset(c, 0, sizeof *c);
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    double ks = ceil(support) * 2 + 1;
    if (ks > (double)INT32_MAX / 8 || ks * out_size > (double)(SIZE_MAX / 16))
        return mmc_error_set(err, MMC_ERR_USAGE, "resize: %d -> %d needs too many weights", in_size, out_size);
    c->ksize = (int)ks;
    size_t nk = (size_t)c->ksize * (size_t)out_size;
    c->bounds = mmc_malloc(sizeof(int) * 2 * (size_t)out_size);
    c->k = mmc_calloc(nk, sizeof(int32_t));
    double *w = mmc_calloc(nk, sizeof(double));
    if (!c->bounds || !c->k || !w) {
        mmc_free(w);
        coeffs_free(c);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "resize: out of memory for weights");
    }
    double w_max = 0.0;
    for (int xx = 0; xx < out_size; xx++) {
        double *wx = w + (size_t)xx * c->ksize;
        int xmin, n = one_position(xx, in_size, scale, filterscale, support, f, c->ksize, wx, &xmin);
        for (int j = 0; j < n; j++) w_max = wx[j] > w_max ? wx[j] : w_max;
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = n;
    }
    c->prec = flavour == MMC_IMAGE_TORCHVISION ? int16_precision(w_max) : PRECISION_BITS;
    for (int xx = 0; xx < out_size; xx++)
        for (int j = 0; j < c->bounds[2 * xx + 1]; j++) {
            int32_t v = to_fixed(w[(size_t)xx * c->ksize + j], c->prec);
            c->k[(size_t)xx * c->ksize + j] = flavour == MMC_IMAGE_TORCHVISION ? (int16_t)v : v;
        }
    mmc_free(w);
    return MMC_OK;
}

static inline uint8_t clip_fixed(int64_t ss, int prec) {
    if (ss < 0) return 0;
    ss >>= prec;
    return ss > 255 ? 255 : (uint8_t)ss;
}

/* out (out_w x h) from in (in_w x h), c channels, along x. */
static void pass_horizontal(const uint8_t *in, int in_w, int h, int c, uint8_t *out, int out_w,
                            const axis_coeffs *co) {
    for (int y = 0; y < h; y++) {
        const uint8_t *row = in + (size_t)y * in_w * c;
        uint8_t *o = out + (size_t)y * out_w * c;
        for (int xx = 0; xx < out_w; xx++) {
            int xmin = co->bounds[2 * xx], n = co->bounds[2 * xx + 1];
            const int32_t *k = co->k + (size_t)xx * co->ksize;
            for (int ch = 0; ch < c; ch++) {
                int64_t ss = (int64_t)1 << (co->prec - 1);
                for (int j = 0; j < n; j++) ss += (int64_t)row[(size_t)(xmin + j) * c + ch] * k[j];
                o[(size_t)xx * c + ch] = clip_fixed(ss, co->prec);
            }
        }
    }
}

/* out (w x out_h) from in (w x in_h), c channels, along y. */
static void pass_vertical(const uint8_t *in, int w, int c, uint8_t *out, int out_h,
                          const axis_coeffs *co) {
    size_t stride = (size_t)w * c;
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = co->bounds[2 * yy], n = co->bounds[2 * yy + 1];
        const int32_t *k = co->k + (size_t)yy * co->ksize;
        uint8_t *o = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int64_t ss = (int64_t)1 << (co->prec - 1);
            for (int j = 0; j < n; j++) ss += (int64_t)in[(size_t)(ymin + j) * stride + i] * k[j];
            o[i] = clip_fixed(ss, co->prec);
        }
    }
}

static int resize_nearest(const mmc_image *src, mmc_image *dst) {
    double ax = (double)src->w / dst->w, ay = (double)src->h / dst->h;
    int c = src->c;
    int *xin = mmc_malloc(sizeof(int) * (size_t)dst->w);
    if (!xin) return MMC_ERR_RUNTIME;
    double xo = ax * 0.5;
    for (int x = 0; x < dst->w; x++, xo += ax) {
        int v = xo < 0.0 ? -1 : (int)xo;
        xin[x] = v < 0 ? 0 : v >= src->w ? src->w - 1 : v;
    }
    double yo = ay * 0.5;
    for (int y = 0; y < dst->h; y++, yo += ay) {
        int sy = yo < 0.0 ? 0 : (int)yo;
        if (sy >= src->h) sy = src->h - 1;
        const uint8_t *row = src->data + (size_t)sy * src->w * c;
        uint8_t *o = dst->data + (size_t)y * dst->w * c;
        for (int x = 0; x < dst->w; x++) memcpy(o + (size_t)x * c, row + (size_t)xin[x] * c, (size_t)c);
    }
    mmc_free(xin);
    return MMC_OK;
}

static int resize_convolve(const mmc_image *src, mmc_image *dst, const resample_filter *f,
                           int flavour, mmc_error *err) {
    int need_h = dst->w != src->w, need_v = dst->h != src->h;
    axis_coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    int rc = MMC_OK;
    if (need_h) rc = precompute(src->w, dst->w, f, flavour, &ch, err);
    if (rc == MMC_OK && need_v) rc = precompute(src->h, dst->h, f, flavour, &cv, err);
    if (rc == MMC_OK && need_h && need_v) {
        tmp = mmc_malloc((size_t)dst->w * src->h * src->c);
        if (!tmp) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "resize: out of memory");
    }
    if (rc == MMC_OK) {
        if (need_h && need_v) {
            pass_horizontal(src->data, src->w, src->h, src->c, tmp, dst->w, &ch);
            pass_vertical(tmp, dst->w, src->c, dst->data, dst->h, &cv);
        } else if (need_h) {
            pass_horizontal(src->data, src->w, src->h, src->c, dst->data, dst->w, &ch);
        } else if (need_v) {
            pass_vertical(src->data, src->w, src->c, dst->data, dst->h, &cv);
        } else {
            memcpy(dst->data, src->data, (size_t)src->w * src->h * src->c);
        }
    }
    mmc_free(tmp);
    coeffs_free(&ch);
    coeffs_free(&cv);
    return rc;
}

int mmc_image_resize_ex(const mmc_image *src, mmc_image *dst, int w, int h, int filter,
                        int flavour, mmc_error *err) {
    memset(dst, 0, sizeof *dst);
    if (!src || !src->data || src->w <= 0 || src->h <= 0)
        return mmc_error_set(err, MMC_ERR_USAGE, "resize: empty source image");
    if (flavour != MMC_IMAGE_PIL && flavour != MMC_IMAGE_TORCHVISION)
        return mmc_error_set(err, MMC_ERR_USAGE, "resize: unknown flavour %d", flavour);
    const resample_filter *f = filter_for(filter, flavour);
    if (!f && !(filter == MMC_RESAMPLE_NEAREST && flavour == MMC_IMAGE_PIL))
        return mmc_error_set(err, MMC_ERR_USAGE, "resize: filter %d is not available in the %s flavour", filter,
                             flavour == MMC_IMAGE_PIL ? "Pillow" : "torchvision");
    int rc = mmc_image_alloc(dst, w, h, src->c, err);
    if (rc != MMC_OK) return rc;
    if (f) rc = resize_convolve(src, dst, f, flavour, err);
    else if (resize_nearest(src, dst) != MMC_OK)
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "resize: out of memory");
    if (rc != MMC_OK) mmc_image_free(dst);
    return rc;
}

int mmc_image_resize(const mmc_image *src, mmc_image *dst, int w, int h, int filter,
                     mmc_error *err) {
    return mmc_image_resize_ex(src, dst, w, h, filter, MMC_IMAGE_PIL, err);
}

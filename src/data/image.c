/* image.c — the mmc_image type, format detection, load/decode dispatch, gray conversion,
 * crops, and the float CHW form networks take. Decoders live in image_{png,jpeg,ppm}.c,
 * resampling in image_resize.c, augmentation in image_augment.c. */
#include "image_internal.h"
#include <stdatomic.h>
#include <string.h>

/* Images are read whole; a compressed file this big is not an image we want anyway. */
#define IMAGE_MAX_FILE_BYTES ((size_t)1 << 31)

static _Atomic int64_t g_max_pixels = MMC_IMAGE_DEFAULT_MAX_PIXELS;

void mmc_image_set_max_pixels(int64_t n) {
    atomic_store(&g_max_pixels, n > 0 ? n : MMC_IMAGE_DEFAULT_MAX_PIXELS);
}

int64_t mmc_image_max_pixels(void) { return atomic_load(&g_max_pixels); }

int mmc_image_check_dims(int64_t w, int64_t h, int c, const char *name, const char *what,
                         mmc_error *err) {
    if (w <= 0 || h <= 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s header gives a zero or negative size %lldx%lld",
                             name, what, (long long)w, (long long)h);
    if (w > INT32_MAX || h > INT32_MAX)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s size %lldx%lld is too large", name, what,
                             (long long)w, (long long)h);
    int64_t cap = mmc_image_max_pixels();
    /* w, h < 2^31, so w * h < 2^62 cannot overflow. */
    if (w * h > cap)
        return mmc_error_set(err, MMC_ERR_INPUT,
                             "%s: %s is %lldx%lld = %lld pixels, over the pixel cap of %lld "
                             "(mmc_image_set_max_pixels)",
                             name, what, (long long)w, (long long)h, (long long)(w * h), (long long)cap);
    if ((uint64_t)(w * h) > SIZE_MAX / 8 / (uint64_t)c)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s size %lldx%lld overflows memory sizes", name,
                             what, (long long)w, (long long)h);
    return MMC_OK;
}

int mmc_image_alloc(mmc_image *img, int w, int h, int c, mmc_error *err) {
    memset(img, 0, sizeof *img);
    if (w <= 0 || h <= 0 || (c != 1 && c != 3 && c != 4))
        return mmc_error_set(err, MMC_ERR_USAGE, "image_alloc: bad size %dx%dx%d", w, h, c);
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    if (n / (size_t)c / (size_t)h != (size_t)w)
        return mmc_error_set(err, MMC_ERR_USAGE, "image_alloc: %dx%dx%d overflows", w, h, c);
    img->data = mmc_malloc(n);
    if (!img->data)
        return mmc_error_set(err, MMC_ERR_RUNTIME, "image_alloc: out of memory for %dx%dx%d", w, h, c);
    img->w = w;
    img->h = h;
    img->c = c;
    return MMC_OK;
}

void mmc_image_free(mmc_image *img) {
    if (!img) return;
    mmc_free(img->data);
    memset(img, 0, sizeof *img);
}

int mmc_image_copy(mmc_image *dst, const mmc_image *src, mmc_error *err) {
    int rc = mmc_image_alloc(dst, src->w, src->h, src->c, err);
    if (rc == MMC_OK) memcpy(dst->data, src->data, (size_t)src->w * src->h * src->c);
    return rc;
}

const char *mmc_image_format(const uint8_t *b, size_t n) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n >= 8 && memcmp(b, png_sig, 8) == 0) return "png";
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "jpeg";
    if (n >= 2 && b[0] == 'P' && (b[1] == '2' || b[1] == '3' || b[1] == '5' || b[1] == '6'))
        return "ppm";
    return NULL;
}

/* In place RGB -> L with Pillow's ITU-R 601-2 weights (they sum to 65536, so gray stays put). */
static int rgb_to_gray(mmc_image *img, mmc_error *err) {
    size_t n = (size_t)img->w * img->h;
    uint8_t *p = img->data;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((p[3 * i] * 19595u + p[3 * i + 1] * 38470u + p[3 * i + 2] * 7471u + 0x8000u) >> 16);
    uint8_t *shrunk = mmc_realloc(p, n);
    if (shrunk) img->data = shrunk; /* keeping the bigger block is harmless */
    img->c = 1;
    (void)err;
    return MMC_OK;
}

int mmc_image_decode(mmc_image *img, const uint8_t *bytes, size_t n, const char *name,
                     int channels, mmc_error *err) {
    memset(img, 0, sizeof *img);
    if (!name) name = "<memory>";
    if (channels != 1 && channels != 3)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: channels must be 1 or 3, got %d", name, channels);
    if (n == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: empty file, expected an image", name);
    const char *fmt = mmc_image_format(bytes, n);
    int rc;
    if (!fmt)
        return mmc_error_set(err, MMC_ERR_INPUT,
                             "%s: not a PNG, JPEG or PPM/PGM image (unrecognised first bytes)", name);
    if (fmt[0] == 'p' && fmt[1] == 'n') rc = mmc_png_decode(img, bytes, n, name, err);
    else if (fmt[0] == 'j') rc = mmc_jpeg_decode(img, bytes, n, name, err);
    else rc = mmc_ppm_decode(img, bytes, n, name, err);
    if (rc != MMC_OK) {
        mmc_image_free(img);
        return rc;
    }
    return channels == 1 ? rgb_to_gray(img, err) : MMC_OK;
}

int mmc_image_load(mmc_image *img, const char *path, int channels, mmc_error *err) {
    memset(img, 0, sizeof *img);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(path, IMAGE_MAX_FILE_BYTES, &buf, &n, err);
    if (rc != MMC_OK) return rc;
    rc = mmc_image_decode(img, buf, n, path, channels, err);
    mmc_free(buf);
    return rc;
}

/* ------------------------------------------------------------------- crops */

int mmc_image_crop(const mmc_image *src, mmc_image *dst, int x, int y, int w, int h,
                   mmc_error *err) {
    int rc = mmc_image_alloc(dst, w, h, src->c, err);
    if (rc != MMC_OK) return rc;
    int c = src->c;
    memset(dst->data, 0, (size_t)w * h * c);
    /* The overlap of [x, x+w) x [y, y+h) with the source, in 64-bit to dodge overflow. */
    int64_t x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int64_t x1 = (int64_t)x + w < src->w ? (int64_t)x + w : src->w;
    int64_t y1 = (int64_t)y + h < src->h ? (int64_t)y + h : src->h;
    for (int64_t yy = y0; yy < y1 && x0 < x1; yy++)
        memcpy(dst->data + ((size_t)(yy - y) * w + (size_t)(x0 - x)) * c,
               src->data + ((size_t)yy * src->w + (size_t)x0) * c, (size_t)(x1 - x0) * c);
    return MMC_OK;
}

static int floor_div2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* Python's round(v / 2) for an integer v: half to even. */
static int round_half_even_div2(int v) {
    int q = floor_div2(v);
    return (v & 1) && (q & 1) ? q + 1 : q;
}

/* Where the crop window starts along one axis (negative: zero padding before the image). */
static int crop_start(int size, int crop, int flavour) {
    if (flavour == MMC_IMAGE_TORCHVISION)
        /* torchvision pads (crop - size) // 2 before, then anchors at round((size - crop) / 2) */
        return size >= crop ? round_half_even_div2(size - crop) : -((crop - size) / 2);
    /* HF slow: (size - crop) // 2; a smaller image is padded by ceil((crop - size) / 2)
     * first and the window then starts at the padded image's top. */
    return size >= crop ? floor_div2(size - crop) : -((crop - size + 1) / 2);
}

int mmc_image_center_crop_ex(const mmc_image *src, mmc_image *dst, int w, int h, int flavour,
                             mmc_error *err) {
    return mmc_image_crop(src, dst, crop_start(src->w, w, flavour), crop_start(src->h, h, flavour), w, h, err);
}

int mmc_image_center_crop(const mmc_image *src, mmc_image *dst, int w, int h, mmc_error *err) {
    return mmc_image_center_crop_ex(src, dst, w, h, MMC_IMAGE_PIL, err);
}

void mmc_image_shortest_edge_size(int w, int h, int size, int *out_w, int *out_h) {
    int s = w <= h ? w : h, l = w <= h ? h : w;
    /* Python's int(size * long / short): an exact integer product, one correctly rounded
     * division, truncation. */
    int nl = s > 0 ? (int)((double)((int64_t)size * l) / (double)s) : size;
    if (w <= h) {
        *out_w = size;
        *out_h = nl;
    } else {
        *out_w = nl;
        *out_h = size;
    }
}

/* ---------------------------------------------------------------- to float */

void mmc_image_to_chw_ex(const mmc_image *img, float *out, double rescale, const float *mean,
                         const float *std, int flavour) {
    size_t hw = (size_t)img->w * img->h;
    int c = img->c;
    int fused = flavour == MMC_IMAGE_TORCHVISION && mean && std;
    for (int k = 0; k < c; k++) {
        float m = mean ? mean[k] : 0.0f, s = std ? std[k] : 1.0f;
        if (fused) {
            /* HF fast: mean and std become f32 tensors times 1/rescale (in f32), then
             * torchvision's normalize subtracts and divides in f32. */
            float inv = (float)(1.0 / rescale);
            m = m * inv;
            s = s * inv;
        }
        float *o = out + (size_t)k * hw;
        for (size_t i = 0; i < hw; i++) {
            float v = img->data[i * c + k];
            if (fused) {
                o[i] = (v - m) / s;
                continue;
            }
            /* HF slow: (image.astype(float64) * scale).astype(float32), then (x - mean) / std in f32 */
            float x = (float)((double)img->data[i * c + k] * rescale);
            o[i] = mean ? (x - m) / s : x;
        }
    }
}

void mmc_image_to_chw(const mmc_image *img, float *out, double rescale, const float *mean,
                      const float *std) {
    mmc_image_to_chw_ex(img, out, rescale, mean, std, MMC_IMAGE_PIL);
}

/* ------------------------------------------------------------ HF recipes */

static const float CLIP_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float CLIP_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};

mmc_image_preprocess mmc_image_preprocess_clip(int size, int crop) {
    mmc_image_preprocess p = {0};
    p.flavour = MMC_IMAGE_TORCHVISION;
    p.do_resize = 1;
    p.shortest_edge = size;
    p.resample = MMC_RESAMPLE_BICUBIC;
    p.do_center_crop = 1;
    p.crop_w = p.crop_h = crop;
    p.do_rescale = 1;
    p.rescale_factor = 1.0 / 255.0;
    p.do_normalize = 1;
    memcpy(p.mean, CLIP_MEAN, sizeof p.mean);
    memcpy(p.std, CLIP_STD, sizeof p.std);
    return p;
}

mmc_image_preprocess mmc_image_preprocess_chinese_clip(int size) {
    mmc_image_preprocess p = mmc_image_preprocess_clip(0, size);
    p.resize_w = p.resize_h = size;
    p.do_center_crop = 0;
    return p;
}

/* Resize (if asked) then centre crop (if asked) into *cur, which owns its pixels. */
static int preprocess_geometry(const mmc_image_preprocess *p, const mmc_image *img,
                               mmc_image *cur, mmc_error *err) {
    int rc = mmc_image_copy(cur, img, err);
    if (rc != MMC_OK) return rc;
    if (p->do_resize) {
        int w = p->resize_w, h = p->resize_h;
        if (p->shortest_edge > 0) mmc_image_shortest_edge_size(img->w, img->h, p->shortest_edge, &w, &h);
        mmc_image tmp;
        rc = mmc_image_resize_ex(cur, &tmp, w, h, p->resample, p->flavour, err);
        mmc_image_free(cur);
        if (rc != MMC_OK) return rc;
        *cur = tmp;
    }
    if (p->do_center_crop) {
        mmc_image tmp;
        rc = mmc_image_center_crop_ex(cur, &tmp, p->crop_w, p->crop_h, p->flavour, err);
        mmc_image_free(cur);
        if (rc != MMC_OK) return rc;
        *cur = tmp;
    }
    return MMC_OK;
}

int mmc_image_preprocess_run(const mmc_image_preprocess *p, const mmc_image *img,
                             mmc_tensor **out, mmc_error *err) {
    *out = NULL;
    if (!img || !img->data || img->c != 3)
        return mmc_error_set(err, MMC_ERR_USAGE, "image_preprocess: needs an RGB image");
    mmc_image cur;
    int rc = preprocess_geometry(p, img, &cur, err);
    if (rc != MMC_OK) return rc;
    mmc_tensor *t = mmc_tensor_new(3, (int[]){3, cur.h, cur.w});
    if (!t) {
        mmc_image_free(&cur);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "image_preprocess: out of memory");
    }
    /* Without rescaling, normalising 0..255 values is the slow path's arithmetic anyway. */
    mmc_image_to_chw_ex(&cur, t->data, p->do_rescale ? p->rescale_factor : 1.0,
                        p->do_normalize ? p->mean : NULL, p->do_normalize ? p->std : NULL,
                        p->do_rescale ? p->flavour : MMC_IMAGE_PIL);
    mmc_image_free(&cur);
    *out = t;
    return MMC_OK;
}

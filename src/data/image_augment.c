/* image_augment.c — training-time augmentation: torchvision's RandomResizedCrop,
 * horizontal flip and ColorJitter (brightness, contrast, saturation), drawing only from
 * an mmc_rng so a seed reproduces a run. Blends follow Pillow's ImageEnhance, which is
 * what torchvision applies to PIL images. */
#include "image_internal.h"
#include <math.h>
#include <string.h>

/* ------------------------------------------------------ random resized crop */

typedef struct {
    int x, y, w, h;
} crop_box;

static float uniform(mmc_rng *rng, float lo, float hi) { return lo + (hi - lo) * mmc_rng_uniform(rng); }

/* torchvision RandomResizedCrop.get_params. */
static crop_box rrc_params(int W, int H, float s_lo, float s_hi, float r_lo, float r_hi, mmc_rng *rng) {
    double area = (double)W * H, log_lo = log(r_lo), log_hi = log(r_hi);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * uniform(rng, s_lo, s_hi);
        double aspect = exp(uniform(rng, (float)log_lo, (float)log_hi));
        int w = (int)lround(sqrt(target * aspect)), h = (int)lround(sqrt(target / aspect));
        if (w > 0 && h > 0 && w <= W && h <= H) {
            int y = (int)mmc_rng_below(rng, (uint32_t)(H - h + 1));
            int x = (int)mmc_rng_below(rng, (uint32_t)(W - w + 1));
            return (crop_box){x, y, w, h};
        }
    }
    /* Fallback: the largest centred window whose ratio is clamped into range. */
    double in_ratio = (double)W / H;
    int w = W, h = H;
    if (in_ratio < r_lo) h = (int)lround(w / (double)r_lo);
    else if (in_ratio > r_hi) w = (int)lround(h * (double)r_hi);
    if (h > H) h = H;
    if (w > W) w = W;
    if (h < 1) h = 1;
    if (w < 1) w = 1;
    return (crop_box){(W - w) / 2, (H - h) / 2, w, h};
}

int mmc_image_random_resized_crop(const mmc_image *src, mmc_image *dst, int out_w, int out_h,
                                  float scale_lo, float scale_hi, float ratio_lo,
                                  float ratio_hi, int filter, mmc_rng *rng, mmc_error *err) {
    memset(dst, 0, sizeof *dst);
    if (!src || !src->data || !(scale_lo > 0 && scale_lo <= scale_hi && scale_hi <= 1) ||
        !(ratio_lo > 0 && ratio_lo <= ratio_hi))
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "random_resized_crop: need an image, 0 < scale_lo <= scale_hi <= 1, 0 < ratio_lo <= ratio_hi");
    crop_box b = rrc_params(src->w, src->h, scale_lo, scale_hi, ratio_lo, ratio_hi, rng);
    mmc_image window;
    int rc = mmc_image_crop(src, &window, b.x, b.y, b.w, b.h, err);
    if (rc != MMC_OK) return rc;
    rc = mmc_image_resize(&window, dst, out_w, out_h, filter, err);
    mmc_image_free(&window);
    return rc;
}

/* ------------------------------------------------------------------- flips */

void mmc_image_hflip(mmc_image *img) {
    int c = img->c;
    for (int y = 0; y < img->h; y++) {
        uint8_t *row = img->data + (size_t)y * img->w * c;
        for (int a = 0, b = img->w - 1; a < b; a++, b--)
            for (int k = 0; k < c; k++) {
                uint8_t t = row[a * c + k];
                row[a * c + k] = row[b * c + k];
                row[b * c + k] = t;
            }
    }
}

int mmc_image_random_hflip(mmc_image *img, float p, mmc_rng *rng) {
    int flip = mmc_rng_bernoulli(rng, p);
    if (flip) mmc_image_hflip(img);
    return flip;
}

/* ------------------------------------------------------------ colour jitter */

/* Pillow's Image.blend(degenerate, img, f): out = degenerate + f * (img - degenerate),
 * computed in float and truncated towards zero after clipping to 0..255. */
static uint8_t blend(int degenerate, int v, float f) {
    float t = (float)degenerate + f * (float)(v - degenerate);
    return t <= 0.0f ? 0 : t >= 255.0f ? 255 : (uint8_t)t;
}

static uint8_t luma(const uint8_t *p) {
    return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

static void adjust_brightness(mmc_image *img, float f) {
    size_t n = (size_t)img->w * img->h * img->c;
    for (size_t i = 0; i < n; i++) img->data[i] = blend(0, img->data[i], f);
}

/* ImageEnhance.Contrast: blend towards the mean gray level, int(mean + 0.5). */
static void adjust_contrast(mmc_image *img, float f) {
    size_t n = (size_t)img->w * img->h;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += img->c == 3 ? luma(img->data + 3 * i) : img->data[i];
    int mean = (int)(sum / (double)n + 0.5);
    for (size_t i = 0; i < n * img->c; i++) img->data[i] = blend(mean, img->data[i], f);
}

/* ImageEnhance.Color: blend each pixel towards its own gray. */
static void adjust_saturation(mmc_image *img, float f) {
    if (img->c != 3) return;
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = img->data + 3 * i;
        int g = luma(p);
        for (int k = 0; k < 3; k++) p[k] = blend(g, p[k], f);
    }
}

void mmc_image_color_jitter(mmc_image *img, float brightness, float contrast, float saturation,
                            mmc_rng *rng) {
    const float amount[3] = {brightness, contrast, saturation};
    int order[3];
    mmc_rng_permutation(rng, order, 3);
    for (int i = 0; i < 3; i++) {
        int t = order[i];
        if (!(amount[t] > 0)) continue;
        float lo = 1.0f - amount[t] < 0 ? 0.0f : 1.0f - amount[t];
        float f = uniform(rng, lo, 1.0f + amount[t]);
        if (t == 0) adjust_brightness(img, f);
        else if (t == 1) adjust_contrast(img, f);
        else adjust_saturation(img, f);
    }
}

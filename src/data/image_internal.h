/* image_internal.h — what the image files share: the format decoders behind
 * mmc_image_decode and the size check every decoder makes before allocating. */
#ifndef MMC_IMAGE_INTERNAL_H
#define MMC_IMAGE_INTERNAL_H

#include "internal.h"
#include "mmc/data.h"

/* Each decoder fills img with RGB (c = 3) or returns MMC_ERR_INPUT / MMC_ERR_RUNTIME with
 * err naming `name`. On failure img is left empty and nothing leaks. */
int mmc_png_decode(mmc_image *img, const uint8_t *p, size_t n, const char *name, mmc_error *err);
int mmc_jpeg_decode(mmc_image *img, const uint8_t *p, size_t n, const char *name, mmc_error *err);
int mmc_ppm_decode(mmc_image *img, const uint8_t *p, size_t n, const char *name, mmc_error *err);

/* Refuses w or h <= 0, w*h over the pixel cap, and w*h*c that does not fit in memory
 * sizes; `what` names the format ("PNG"). */
int mmc_image_check_dims(int64_t w, int64_t h, int c, const char *name, const char *what,
                         mmc_error *err);

/* Pillow's (a * b) / 255 with rounding, as its MULDIV255 macro computes it. */
static inline int mmc_muldiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

static inline uint8_t mmc_clip8i(int v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v; }

#endif

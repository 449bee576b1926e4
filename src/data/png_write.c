/* png_write.c — 8-bit PNG files through libpng.
 *
 * Speed over size: datasets write tens of thousands of small images, so we use zlib's
 * fastest level. The file goes to "PATH.PID.tmp" and is renamed into place, so a crash
 * never leaves a torn PNG under the final name. We do not fsync: one fsync per image
 * dominates the time of `mmc data shapes`, and a dataset's commit point is its manifest,
 * which is written last and fsynced. */
#include "internal.h"
#include "mmc/data.h"
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define PNG_MAX_SIDE 65535

static int color_type(int channels) {
    switch (channels) {
    case 1: return PNG_COLOR_TYPE_GRAY;
    case 2: return PNG_COLOR_TYPE_GRAY_ALPHA;
    case 3: return PNG_COLOR_TYPE_RGB;
    case 4: return PNG_COLOR_TYPE_RGB_ALPHA;
    default: return -1;
    }
}

/* libpng reports errors by longjmp; the message is kept for ours. */
static void on_png_error(png_structp png, png_const_charp msg) {
    char *buf = png_get_error_ptr(png);
    if (buf) snprintf(buf, 256, "%s", msg);
    png_longjmp(png, 1);
}
static void on_png_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

/* Encodes into an open FILE; returns 0 or -1 with why[] filled. Everything that must
 * survive the longjmp lives in the caller or is declared volatile. */
static int encode(FILE *f, int w, int h, int channels, const uint8_t *pixels, char why[256]) {
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
    png_init_io(png, f);
    png_set_compression_level(png, Z_BEST_SPEED);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color_type(channels), PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)w * (size_t)channels;
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int mmc_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels, mmc_error *err) {
    if (!path || !pixels) return mmc_error_set(err, MMC_ERR_USAGE, "png write: NULL %s", path ? "pixels" : "path");
    if (w <= 0 || h <= 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: cannot write a %dx%d PNG (sides 1..%d)", path, w, h, PNG_MAX_SIDE);
    if (color_type(channels) < 0)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: %d channels (PNG takes 1, 2, 3 or 4)", path, channels);
    size_t len = strlen(path);
    char *tmp = mmc_malloc(len + 32);
    if (!tmp) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    snprintf(tmp, len + 32, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        mmc_free(tmp);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot create: %s", path, strerror(e));
    }
    char why[256] = "";
    int rc = encode(f, w, h, channels, pixels, why);
    if (fclose(f) != 0 && rc == 0) snprintf(why, sizeof why, "%s", strerror(errno)), rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) snprintf(why, sizeof why, "rename failed: %s", strerror(errno)), rc = -1;
    if (rc != 0) unlink(tmp);
    mmc_free(tmp);
    if (rc != 0) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: writing PNG failed: %s", path, why);
    return MMC_OK;
}

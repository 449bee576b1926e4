/* image_png.c — PNG through libpng, with Pillow's conversion to RGB.
 *
 * libpng reports errors by longjmp. Everything the error path must free lives in a job
 * struct owned by the caller of the function that calls setjmp, so no local variable's
 * value is lost across the jump; the caller cleans up either way. libpng's error and
 * warning callbacks write into the job instead of printing. */
#include "image_internal.h"
#include <png.h>
#include <setjmp.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n, off;
    const char *name;
    char msg[512];      /* what libpng said, when it failed */
    png_structp png;
    png_infop info;
    uint8_t *pixels;    /* what libpng writes: RGB, or 16-bit gray (2 bytes, big-endian) */
    png_bytep *rows;
    mmc_image *img;
    mmc_error *err;
    int rc;             /* a status set by our own checks (before libpng fails) */
} png_job;

static void on_error(png_structp png, png_const_charp msg) {
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* ancillary-chunk trouble (bad CRC in tEXt, odd iCCP): the pixels are fine */
}

static void on_read(png_structp png, png_bytep out, size_t len) {
    png_job *job = png_get_io_ptr(png);
    if (len > job->n - job->off) png_error(png, "truncated: the file ends in the middle of the image");
    memcpy(out, job->p + job->off, len);
    job->off += len;
}

/* Transforms so that libpng hands us 8-bit RGB, except 16-bit gray which Pillow opens as
 * mode I;16 and clips (not scales) when converting: we keep those 16 bits. */
static int set_transforms(png_job *job, int *bytes_per_px) {
    png_structp png = job->png;
    int depth = png_get_bit_depth(png, job->info), type = png_get_color_type(png, job->info);
    int gray16 = depth == 16 && type == PNG_COLOR_TYPE_GRAY;
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16) png_set_strip_16(png); /* Pillow's ";16B" unpackers keep the high byte */
    /* palette_to_rgb turns tRNS into an alpha channel; Pillow's convert("RGB") drops it */
    if ((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, job->info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (!(type & PNG_COLOR_MASK_COLOR) && !gray16) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, job->info);
    *bytes_per_px = gray16 ? 2 : 3;
    return gray16;
}

/* The part that can longjmp. Returns 0 on success, 1 after a libpng error, 2 after one of
 * our own checks failed (job->rc set). */
static int png_decode_inner(png_job *job) {
    if (setjmp(png_jmpbuf(job->png))) return 1;
    png_set_read_fn(job->png, job, on_read);
    png_read_info(job->png, job->info);
    png_uint_32 w = png_get_image_width(job->png, job->info), h = png_get_image_height(job->png, job->info);
    job->rc = mmc_image_check_dims(w, h, 3, job->name, "PNG", job->err);
    if (job->rc != MMC_OK) return 2;
    int bpp, gray16 = set_transforms(job, &bpp);
    if (png_get_rowbytes(job->png, job->info) != (size_t)w * bpp) {
        job->rc = mmc_error_set(job->err, MMC_ERR_INPUT, "%s: PNG has an unsupported pixel layout", job->name);
        return 2;
    }
    job->pixels = mmc_malloc((size_t)w * h * bpp);
    job->rows = mmc_malloc(sizeof(png_bytep) * h);
    if (!job->pixels || !job->rows) {
        job->rc = mmc_error_set(job->err, MMC_ERR_RUNTIME, "%s: out of memory for a %ux%u PNG", job->name, w, h);
        return 2;
    }
    for (png_uint_32 y = 0; y < h; y++) job->rows[y] = job->pixels + (size_t)y * w * bpp;
    png_read_image(job->png, job->rows);
    png_read_end(job->png, NULL); /* reads through IEND: a cut file fails here too */
    job->img->w = (int)w;
    job->img->h = (int)h;
    job->img->c = gray16 ? 1 : 3; /* 1 marks the 16-bit buffer still to convert */
    return 0;
}

/* Pillow's I;16 -> RGB: values above 255 clip to 255. */
static int gray16_to_rgb(png_job *job) {
    size_t n = (size_t)job->img->w * job->img->h;
    uint8_t *rgb = mmc_malloc(n * 3);
    if (!rgb)
        return mmc_error_set(job->err, MMC_ERR_RUNTIME, "%s: out of memory converting a 16-bit PNG", job->name);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = job->pixels + 2 * i;
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = s[0] ? 255 : s[1];
    }
    mmc_free(job->pixels);
    job->pixels = rgb;
    job->img->c = 3;
    return MMC_OK;
}

int mmc_png_decode(mmc_image *img, const uint8_t *p, size_t n, const char *name, mmc_error *err) {
    png_job job = {.p = p, .n = n, .name = name, .img = img, .err = err};
    memset(img, 0, sizeof *img);
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    if (job.png) job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info) {
        png_destroy_read_struct(job.png ? &job.png : NULL, NULL, NULL);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory starting libpng", name);
    }
    /* Make "benign" errors (e.g. too much image data) real ones: bad data is bad. */
    png_set_benign_errors(job.png, 0);
    int r = png_decode_inner(&job);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    mmc_free(job.rows);
    int rc = MMC_OK;
    if (r == 1) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: bad PNG: %s", name, job.msg);
    else if (r == 2) rc = job.rc;
    else if (img->c == 1) rc = gray16_to_rgb(&job);
    if (rc != MMC_OK) {
        mmc_free(job.pixels);
        memset(img, 0, sizeof *img);
        return rc;
    }
    img->data = job.pixels;
    return MMC_OK;
}

/* image_jpeg.c — JPEG through libjpeg(-turbo), with Pillow's conversion to RGB.
 *
 * libjpeg's default error manager prints and calls exit(); ours formats the message into
 * the job and longjmps back. Its *warnings* matter too: a truncated file only raises
 * "premature end of data" (the source manager pads with a fake EOI) and corrupt entropy
 * data only "Corrupt JPEG data: ...", after which libjpeg carries on with grey blocks.
 * Both would silently give a wrong image, so every warning is an error here.
 *
 * As in image_png.c, what the error path frees lives in a job struct owned by the caller
 * of the function that calls setjmp. Decoding uses libjpeg's defaults (ISLOW DCT, fancy
 * upsampling), which are also Pillow's. */
#include "image_internal.h"
#include <jpeglib.h>
#include <setjmp.h>
#include <string.h>

/* A progressive file may carry any number of scans, each re-reading the coefficient
 * buffer: a known way to burn CPU with a small file. Real encoders use about ten. */
#define JPEG_MAX_SCANS 500

typedef struct {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX + 64];
    struct jpeg_decompress_struct cinfo;
    int created;
    const char *name;
    uint8_t *pixels;   /* output: RGB, gray or CMYK as libjpeg gives it */
    mmc_image *img;
    mmc_error *err;
    int rc;
} jpeg_job;

static jpeg_job *job_of(j_common_ptr c) { return (jpeg_job *)c->err; } /* pub is the first member */

static void on_error(j_common_ptr c) {
    jpeg_job *job = job_of(c);
    (*c->err->format_message)(c, job->msg);
    longjmp(job->jump, 1);
}

static void on_message(j_common_ptr c, int level) {
    if (level >= 0) return; /* trace output: ignore */
    on_error(c);            /* a warning means damaged data */
}

static void on_output(j_common_ptr c) { (void)c; /* never print */ }

static void on_progress(j_common_ptr c) {
    jpeg_job *job = job_of(c);
    if (c->is_decompressor && job->cinfo.input_scan_number > JPEG_MAX_SCANS) {
        snprintf(job->msg, sizeof job->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(job->jump, 1);
    }
}

/* 4-component files come out as CMYK (libjpeg turns YCCK into CMYK), 1 as gray, the rest RGB. */
static void choose_output(struct jpeg_decompress_struct *ci) {
    if (ci->num_components == 4) ci->out_color_space = JCS_CMYK;
    else if (ci->num_components == 1) ci->out_color_space = JCS_GRAYSCALE;
    else ci->out_color_space = JCS_RGB;
}

static int jpeg_decode_inner(jpeg_job *job, const uint8_t *p, size_t n) {
    struct jpeg_decompress_struct *ci = &job->cinfo;
    if (setjmp(job->jump)) return 1;
    job->created = 1; /* destroy is safe on the zeroed struct even if create fails */
    jpeg_create_decompress(ci);
    ci->progress = &job->progress;
    jpeg_mem_src(ci, p, (unsigned long)n);
    jpeg_read_header(ci, TRUE);
    job->rc = mmc_image_check_dims(ci->image_width, ci->image_height, 4, job->name, "JPEG", job->err);
    if (job->rc != MMC_OK) return 2;
    if (ci->num_components != 1 && ci->num_components != 3 && ci->num_components != 4) {
        job->rc = mmc_error_set(job->err, MMC_ERR_INPUT, "%s: JPEG with %d colour components is not supported",
                                job->name, ci->num_components);
        return 2;
    }
    choose_output(ci);
    jpeg_start_decompress(ci);
    size_t stride = (size_t)ci->output_width * ci->output_components;
    job->pixels = mmc_malloc(stride * ci->output_height);
    if (!job->pixels) {
        job->rc = mmc_error_set(job->err, MMC_ERR_RUNTIME, "%s: out of memory for a %ux%u JPEG", job->name,
                                ci->output_width, ci->output_height);
        return 2;
    }
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = job->pixels + (size_t)ci->output_scanline * stride;
        jpeg_read_scanlines(ci, &row, 1);
    }
    jpeg_finish_decompress(ci); /* reads to EOI: a cut tail warns, so fails */
    job->img->w = (int)ci->output_width;
    job->img->h = (int)ci->output_height;
    job->img->c = ci->output_components;
    return 0;
}

/* Pillow reads every CMYK JPEG as "CMYK;I" (Adobe's inverted storage), then
 * R = (255 - K) - (C * (255 - K)) / 255 with C = 255 - stored C; so nk = stored K. */
static void cmyk_inverted_to_rgb(const uint8_t *s, uint8_t *d, size_t n) {
    for (size_t i = 0; i < n; i++, s += 4, d += 3) {
        int nk = s[3];
        for (int k = 0; k < 3; k++) d[k] = mmc_clip8i(nk - mmc_muldiv255(255 - s[k], nk));
    }
}

static int to_rgb(jpeg_job *job) {
    mmc_image *img = job->img;
    if (img->c == 3) return MMC_OK;
    size_t n = (size_t)img->w * img->h;
    uint8_t *rgb = mmc_malloc(n * 3);
    if (!rgb) return mmc_error_set(job->err, MMC_ERR_RUNTIME, "%s: out of memory converting a JPEG", job->name);
    if (img->c == 4) cmyk_inverted_to_rgb(job->pixels, rgb, n);
    else
        for (size_t i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = job->pixels[i];
    mmc_free(job->pixels);
    job->pixels = rgb;
    img->c = 3;
    return MMC_OK;
}

int mmc_jpeg_decode(mmc_image *img, const uint8_t *p, size_t n, const char *name, mmc_error *err) {
    memset(img, 0, sizeof *img);
    jpeg_job *job = mmc_calloc(1, sizeof *job); /* jmp_buf + cinfo: keep them off small stacks */
    if (!job) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory starting libjpeg", name);
    job->name = name;
    job->img = img;
    job->err = err;
    job->cinfo.err = jpeg_std_error(&job->pub);
    job->pub.error_exit = on_error;
    job->pub.emit_message = on_message;
    job->pub.output_message = on_output;
    job->progress.progress_monitor = on_progress;
    int r = jpeg_decode_inner(job, p, n);
    if (job->created) jpeg_destroy_decompress(&job->cinfo);
    int rc = MMC_OK;
    if (r == 1) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: bad JPEG: %s", name, job->msg);
    else if (r == 2) rc = job->rc;
    else rc = to_rgb(job);
    if (rc == MMC_OK) img->data = job->pixels;
    else {
        mmc_free(job->pixels);
        memset(img, 0, sizeof *img);
    }
    mmc_free(job);
    return rc;
}

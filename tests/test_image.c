/* test_image.c — image decoding (PNG, JPEG, PPM/PGM written here at test time by libpng,
 * libjpeg and printf), Pillow-exact resizing, the Hugging Face CLIP/Chinese-CLIP
 * preprocessing parity, augmentation determinism, and a catalogue of hostile files. */
#include "test.h"
#include <cjson/cJSON.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------ small helpers */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} membuf;

static void mb_put(membuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

/* A fresh temporary directory for this test process; removed by tmp_cleanup. */
static char g_tmpdir[64];
static const char *tmp_path(const char *file) {
    static char buf[4][256];
    static int k;
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/mmc_image_test_XXXXXX");
        if (!mkdtemp(g_tmpdir)) g_tmpdir[0] = 0;
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmpdir, file);
    return buf[k];
}

static void tmp_cleanup(void) {
    if (!g_tmpdir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmpdir);
    g_tmpdir[0] = 0;
}

static int write_bytes(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n;
}

/* Max and mean |a - b| over n bytes. */
static void byte_diff(const uint8_t *a, const uint8_t *b, size_t n, int *maxd, double *meand) {
    long sum = 0;
    *maxd = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        sum += d;
        if (d > *maxd) *maxd = d;
    }
    *meand = n ? (double)sum / (double)n : 0;
}

/* ============================================================ resize */

static mmc_image make_image(int w, int h, int c, uint8_t (*f)(int x, int y, int k)) {
    mmc_image img;
    mmc_error err = {0};
    if (mmc_image_alloc(&img, w, h, c, &err) != MMC_OK) return img;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) img.data[((size_t)y * w + x) * c + k] = f(x, y, k);
    return img;
}

static uint8_t constant_px(int x, int y, int k) { (void)x; (void)y; return (uint8_t)(77 + 50 * k); }
static uint8_t ramp_x(int x, int y, int k) { (void)y; (void)k; return (uint8_t)x; }

TEST(resize_constant_stays_constant) {
    const int filters[] = {MMC_RESAMPLE_NEAREST, MMC_RESAMPLE_BOX, MMC_RESAMPLE_BILINEAR,
                           MMC_RESAMPLE_HAMMING, MMC_RESAMPLE_BICUBIC, MMC_RESAMPLE_LANCZOS};
    const int sizes[][2] = {{7, 5}, {37, 23}, {1, 1}, {100, 3}, {3, 100}, {20, 13}};
    mmc_image src = make_image(20, 13, 3, constant_px);
    mmc_error err = {0};
    for (size_t f = 0; f < 6; f++)
        for (size_t s = 0; s < 6; s++) {
            mmc_image dst;
            REQUIRE(mmc_image_resize(&src, &dst, sizes[s][0], sizes[s][1], filters[f], &err) == MMC_OK, "%s", err.msg);
            int bad = 0;
            for (size_t i = 0; i < (size_t)dst.w * dst.h; i++)
                for (int k = 0; k < 3; k++) bad += dst.data[3 * i + k] != 77 + 50 * k;
            CHECK(bad == 0, "filter %d to %dx%d: %d pixels changed", filters[f], sizes[s][0], sizes[s][1], bad);
            mmc_image_free(&dst);
        }
    mmc_image_free(&src);
}

TEST(resize_bilinear_downscale_ramp) {
    /* Halving a 0..255 ramp: output x covers inputs 2x-1..2x+2 with triangle weights
     * 1/8, 3/8, 3/8, 1/8 (the support doubles when shrinking by 2), so the value is
     * 2x + 0.5, rounded half up to 2x + 1. At the right edge only 253..255 remain, with
     * weights 1/7, 3/7, 3/7: 254.29 -> 254. */
    mmc_image src = make_image(256, 3, 1, ramp_x), dst;
    mmc_error err = {0};
    REQUIRE(mmc_image_resize(&src, &dst, 128, 3, MMC_RESAMPLE_BILINEAR, &err) == MMC_OK, "%s", err.msg);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 128; x++) {
            int want = x < 127 ? 2 * x + 1 : 254;
            CHECK(dst.data[y * 128 + x] == want, "row %d x %d: got %d want %d", y, x, dst.data[y * 128 + x], want);
        }
    mmc_image_free(&src);
    mmc_image_free(&dst);
}

static uint8_t two_px(int x, int y, int k) { (void)y; (void)k; return x ? 200 : 0; }

TEST(resize_upscale_bilinear_bicubic) {
    /* [0, 200] to 4 pixels; centres at 0.25, 0.75, 1.25, 1.75 in input coordinates.
     * Bilinear: the ends see one pixel each, the middle 0.75/0.25 mixes: 0, 50, 150, 200.
     * Bicubic (a = -0.5): w(0.25) = 0.8671875, w(0.75) = 0.2265625, w(1.25) = -0.0703125;
     * x=1: 200 * 0.2265625 / 1.09375 = 41.4 -> 41; x=0: -17.6 clips to 0, x=3: 217.6 -> 218
     * (overshoot above the input range stays while it fits in 0..255). */
    mmc_image src = make_image(2, 2, 3, two_px), dst;
    mmc_error err = {0};
    const uint8_t want_bl[4] = {0, 50, 150, 200}, want_bc[4] = {0, 41, 159, 218};
    REQUIRE(mmc_image_resize(&src, &dst, 4, 2, MMC_RESAMPLE_BILINEAR, &err) == MMC_OK, "%s", err.msg);
    for (int x = 0; x < 4; x++) CHECK(dst.data[3 * x] == want_bl[x], "bilinear x %d: %d", x, dst.data[3 * x]);
    mmc_image_free(&dst);
    REQUIRE(mmc_image_resize(&src, &dst, 4, 2, MMC_RESAMPLE_BICUBIC, &err) == MMC_OK, "%s", err.msg);
    for (int x = 0; x < 4; x++) CHECK(dst.data[3 * x + 2] == want_bc[x], "bicubic x %d: %d", x, dst.data[3 * x + 2]);
    mmc_image_free(&dst);
    /* Pillow's nearest: source x = floor((x + 0.5) * scale) — 4 -> 2 takes pixels 1 and 3. */
    mmc_image ramp = make_image(4, 1, 1, ramp_x);
    REQUIRE(mmc_image_resize(&ramp, &dst, 2, 1, MMC_RESAMPLE_NEAREST, &err) == MMC_OK, "%s", err.msg);
    CHECK(dst.data[0] == 1 && dst.data[1] == 3, "nearest: %d %d", dst.data[0], dst.data[1]);
    mmc_image_free(&dst);
    CHECK(mmc_image_resize(&ramp, &dst, 0, 1, MMC_RESAMPLE_BILINEAR, &err) == MMC_ERR_USAGE, "zero size refused");
    CHECK(mmc_image_resize(&ramp, &dst, 2, 1, 42, &err) == MMC_ERR_USAGE && strstr(err.msg, "filter"), "bad filter");
    mmc_image_free(&ramp);
    mmc_image_free(&src);
}

TEST(resize_crop_and_geometry) {
    int w, h;
    mmc_image_shortest_edge_size(61, 47, 32, &w, &h);
    CHECK(w == 41 && h == 32, "61x47 -> %dx%d", w, h);
    mmc_image_shortest_edge_size(30, 100, 32, &w, &h);
    CHECK(w == 32 && h == 106, "30x100 -> %dx%d", w, h);
    mmc_image_shortest_edge_size(40, 40, 32, &w, &h);
    CHECK(w == 32 && h == 32, "40x40 -> %dx%d", w, h);
    /* HF centre crop: left = (5 - 2) // 2 = 1; a 2x2 image in a 5x5 crop sits at ceil(3/2) = 2. */
    mmc_image src = make_image(5, 1, 1, ramp_x), dst;
    mmc_error err = {0};
    REQUIRE(mmc_image_center_crop(&src, &dst, 2, 1, &err) == MMC_OK, "%s", err.msg);
    CHECK(dst.data[0] == 1 && dst.data[1] == 2, "crop 5->2: %d %d", dst.data[0], dst.data[1]);
    mmc_image_free(&dst);
    mmc_image_free(&src);
    src = make_image(2, 2, 1, two_px);
    REQUIRE(mmc_image_center_crop(&src, &dst, 5, 5, &err) == MMC_OK, "%s", err.msg);
    int nonzero = 0;
    for (int i = 0; i < 25; i++) nonzero += dst.data[i] != 0;
    CHECK(nonzero == 2 && dst.data[2 * 5 + 3] == 200 && dst.data[3 * 5 + 3] == 200, "padded crop");
    mmc_image_free(&dst);
    /* torchvision pads (5 - 2) // 2 = 1 before instead. */
    REQUIRE(mmc_image_center_crop_ex(&src, &dst, 5, 5, MMC_IMAGE_TORCHVISION, &err) == MMC_OK, "%s", err.msg);
    CHECK(dst.data[1 * 5 + 2] == 200 && dst.data[2 * 5 + 2] == 200 && dst.data[3 * 5 + 3] == 0, "torchvision padded crop");
    mmc_image_free(&dst);
    mmc_image_free(&src);
    /* 7 -> 4: HF slow starts at 3 // 2 = 1, torchvision at round(1.5) = 2 (half to even). */
    src = make_image(7, 1, 1, ramp_x);
    REQUIRE(mmc_image_center_crop_ex(&src, &dst, 4, 1, MMC_IMAGE_PIL, &err) == MMC_OK, "%s", err.msg);
    CHECK(dst.data[0] == 1, "slow crop start %d", dst.data[0]);
    mmc_image_free(&dst);
    REQUIRE(mmc_image_center_crop_ex(&src, &dst, 4, 1, MMC_IMAGE_TORCHVISION, &err) == MMC_OK, "%s", err.msg);
    CHECK(dst.data[0] == 2, "torchvision crop start %d", dst.data[0]);
    mmc_image_free(&dst);
    mmc_image_free(&src);
}

/* ============================================================ HF parity */

static int json_int(const cJSON *o, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* preprocessor_config.json -> recipe (what the model loader will do later). */
static int recipe_from_json(const char *path, mmc_image_preprocess *p) {
    uint8_t *txt = NULL;
    size_t n = 0;
    mmc_error err = {0};
    if (mmc_read_file(path, 1 << 20, &txt, &n, &err) != MMC_OK) return 0;
    cJSON *j = cJSON_Parse((const char *)txt);
    mmc_free(txt);
    if (!j) return 0;
    memset(p, 0, sizeof *p);
    p->do_resize = json_int(j, "do_resize", 1);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
    p->shortest_edge = json_int(size, "shortest_edge", 0);
    p->resize_w = json_int(size, "width", 0);
    p->resize_h = json_int(size, "height", 0);
    p->resample = json_int(j, "resample", MMC_RESAMPLE_BICUBIC);
    p->do_center_crop = json_int(j, "do_center_crop", 0);
    const cJSON *crop = cJSON_GetObjectItemCaseSensitive(j, "crop_size");
    p->crop_w = json_int(crop, "width", 0);
    p->crop_h = json_int(crop, "height", 0);
    p->do_rescale = json_int(j, "do_rescale", 1);
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(j, "rescale_factor");
    p->rescale_factor = cJSON_IsNumber(rf) ? rf->valuedouble : 1.0 / 255.0;
    p->do_normalize = json_int(j, "do_normalize", 1);
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(j, "image_mean"), *std = cJSON_GetObjectItemCaseSensitive(j, "image_std");
    int ok = cJSON_GetArraySize(mean) == 3 && cJSON_GetArraySize(std) == 3;
    for (int k = 0; ok && k < 3; k++) {
        p->mean[k] = (float)cJSON_GetArrayItem(mean, k)->valuedouble;
        p->std[k] = (float)cJSON_GetArrayItem(std, k)->valuedouble;
    }
    cJSON_Delete(j);
    return ok;
}

/* Preprocesses image0..2.png of a fixture folder and compares with pixel_values. */
static void hf_parity(const char *model, int flavour, double *max_err, double *mean_err) {
    char rel[256], dir[1024];
    snprintf(rel, sizeof rel, "../shared/fixtures/hf/%s", model);
    snprintf(dir, sizeof dir, "%s", test_path(rel));
    char path[1200];
    mmc_image_preprocess p;
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    *max_err = INFINITY;
    if (!recipe_from_json(path, &p)) { mmc_test_fail(__FILE__, __LINE__, "%s: cannot read", path); return; }
    p.flavour = flavour;
    mmc_safetensors st;
    mmc_error err = {0};
    snprintf(path, sizeof path, "%s/reference.safetensors", dir);
    if (mmc_safetensors_open(&st, path, &err) != MMC_OK) { mmc_test_fail(__FILE__, __LINE__, "%s", err.msg); return; }
    mmc_tensor *ref = mmc_safetensors_get(&st, "pixel_values", &err);
    mmc_safetensors_close(&st);
    if (!ref || ref->ndim != 4 || ref->shape[1] != 3) { mmc_test_fail(__FILE__, __LINE__, "pixel_values: %s", err.msg); mmc_tensor_free(ref); return; }
    double mx = 0, sum = 0;
    int64_t per = ref->numel / ref->shape[0], count = 0;
    for (int i = 0; i < ref->shape[0]; i++) {
        snprintf(path, sizeof path, "%s/image%d.png", dir, i);
        mmc_image img;
        mmc_tensor *out = NULL;
        int rc = mmc_image_load(&img, path, 3, &err);
        if (rc == MMC_OK) rc = mmc_image_preprocess_run(&p, &img, &out, &err);
        mmc_image_free(&img);
        if (rc != MMC_OK || out->numel != per) {
            mmc_test_fail(__FILE__, __LINE__, "%s: %s", path, rc ? err.msg : "wrong output size");
            mmc_tensor_free(out);
            continue;
        }
        for (int64_t j = 0; j < per; j++) {
            double d = fabs((double)out->data[j] - ref->data[i * per + j]);
            if (d > mx) mx = d;
            sum += d;
            count++;
        }
        mmc_tensor_free(out);
    }
    mmc_tensor_free(ref);
    *max_err = mx;
    *mean_err = count ? sum / (double)count : INFINITY;
    printf("%s pixel_values parity (%s arithmetic): max abs err %.3g, mean abs err %.3g\n", model,
           flavour == MMC_IMAGE_PIL ? "Pillow" : "torchvision", *max_err, *mean_err);
}

static int have_shared(const char *model) {
    char rel[256];
    snprintf(rel, sizeof rel, "../shared/fixtures/hf/%s/reference.safetensors", model);
    return access(test_path(rel), R_OK) == 0;
}

/* The fixtures were made by transformers 5, whose default (fast) processors resize with
 * torchvision: that flavour must match to float rounding. The Pillow flavour (HF's slow
 * processors) differs by one uint8 level in rare pixels, 1/255/0.27 = 0.0146 after
 * normalisation, so it must stay within the looser bound. */
static void hf_parity_both(const char *model) {
    double mx, mean;
    hf_parity(model, MMC_IMAGE_TORCHVISION, &mx, &mean);
    CHECK(mx <= 1e-6, "%s torchvision flavour: max %.3g (want <= 1e-6), mean %.3g", model, mx, mean);
    hf_parity(model, MMC_IMAGE_PIL, &mx, &mean);
    CHECK(mx <= 2e-2 && mean <= 5e-3, "%s Pillow flavour: max %.3g (<= 2e-2), mean %.3g (<= 5e-3)", model, mx, mean);
}

TEST(image_hf_clip_parity) {
    if (!have_shared("clip")) SKIP("../shared/fixtures/hf/clip is absent (shared fixtures not checked out next to the repo)");
    hf_parity_both("clip");
}

TEST(image_hf_chinese_clip_parity) {
    if (!have_shared("chinese-clip")) SKIP("../shared/fixtures/hf/chinese-clip is absent (shared fixtures not checked out next to the repo)");
    hf_parity_both("chinese-clip");
}

/* ============================================================ writers */

static void png_mem_write(png_structp png, png_bytep d, size_t n) { mb_put(png_get_io_ptr(png), d, n); }
static void png_mem_flush(png_structp png) { (void)png; }

typedef struct {
    int w, h, color_type, depth, interlace;
    const uint8_t *samples; /* one value per sample (8-bit) or two bytes big-endian (16-bit) */
    const png_color *palette;
    int npalette;
    const uint8_t *trns;
    int ntrns;
} png_spec;

static int png_channels(int color_type) {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: case PNG_COLOR_TYPE_PALETTE: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    default: return 4;
    }
}

/* Packs a row of sub-byte samples MSB first, as PNG stores them. */
static void pack_row(const uint8_t *s, int n, int depth, uint8_t *out) {
    int per = 8 / depth;
    memset(out, 0, (size_t)(n + per - 1) / per);
    for (int i = 0; i < n; i++) out[i / per] |= (uint8_t)(s[i] << (8 - depth * (i % per + 1)));
}

static membuf png_encode(const png_spec *sp) {
    membuf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int ch = png_channels(sp->color_type);
    size_t sample_bytes = sp->depth == 16 ? 2 : 1, row_in = (size_t)sp->w * ch * sample_bytes;
    uint8_t *row = malloc(row_in + 8);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        free(b.p);
        return (membuf){0};
    }
    png_set_write_fn(png, &b, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, sp->w, sp->h, sp->depth, sp->color_type, sp->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (sp->palette) png_set_PLTE(png, info, sp->palette, sp->npalette);
    if (sp->trns) png_set_tRNS(png, info, sp->trns, sp->ntrns, NULL);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < sp->h; y++) {
            const uint8_t *src = sp->samples + (size_t)y * row_in;
            if (sp->depth < 8) pack_row(src, sp->w * ch, sp->depth, row);
            else memcpy(row, src, row_in);
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return b;
}

typedef struct {
    int w, h, components, progressive, quality, adobe_marker;
    J_COLOR_SPACE in_space, jpeg_space;
    const uint8_t *pixels;
} jpeg_spec;

static membuf jpeg_encode(const jpeg_spec *sp) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long n = 0;
    ci.err = jpeg_std_error(&jerr); /* test inputs are valid; libjpeg's default exit is fine here */
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &out, &n);
    ci.image_width = (JDIMENSION)sp->w;
    ci.image_height = (JDIMENSION)sp->h;
    ci.input_components = sp->components;
    ci.in_color_space = sp->in_space;
    jpeg_set_defaults(&ci);
    jpeg_set_colorspace(&ci, sp->jpeg_space);
    if (sp->components == 4 && !sp->adobe_marker) ci.write_Adobe_marker = FALSE;
    jpeg_set_quality(&ci, sp->quality, TRUE);
    if (sp->progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW r = (JSAMPROW)(sp->pixels + (size_t)ci.next_scanline * sp->w * sp->components);
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    membuf b = {0};
    mb_put(&b, out, n);
    free(out);
    return b;
}

/* ============================================================ decode variants */

/* Decodes bytes from a file in the temp dir (the load path) and checks c=3 pixels. */
static void check_decode(const char *label, const membuf *file, const uint8_t *want_rgb, int w, int h,
                         int tol_max, double tol_mean) {
    const char *path = tmp_path(label);
    REQUIRE(file->n > 0 && write_bytes(path, file->p, file->n), "%s: writing test file", label);
    mmc_image img;
    mmc_error err = {0};
    REQUIRE(mmc_image_load(&img, path, 3, &err) == MMC_OK, "%s: %s", label, err.msg);
    REQUIRE(img.w == w && img.h == h && img.c == 3, "%s: size %dx%dx%d", label, img.w, img.h, img.c);
    int maxd;
    double meand;
    byte_diff(img.data, want_rgb, (size_t)w * h * 3, &maxd, &meand);
    CHECK(maxd <= tol_max && meand <= tol_mean, "%s: max diff %d (<= %d), mean %.3f (<= %.3f)", label, maxd,
          tol_max, meand, tol_mean);
    mmc_image_free(&img);
}

#define PW 13 /* odd sizes exercise row padding and Adam7's partial passes */
#define PH 11

/* Deterministic sample values; 16-bit ones mix small (< 256) and large values. */
static uint16_t sample16(int i) { return (uint16_t)(i % 3 == 0 ? (i * 7) % 256 : (i * 2654435761u) >> 16); }
static uint8_t sample8(int i) { return (uint8_t)((i * 37 + (i >> 3) * 11) & 255); }

/* Builds 8-bit or 16-bit samples for a PNG of the given type, and the RGB Pillow gives. */
static void png_variant(int color_type, int depth, uint8_t *samples, uint8_t *want) {
    int ch = png_channels(color_type), n = PW * PH * ch;
    for (int i = 0; i < n; i++) {
        if (depth == 16) {
            uint16_t v = sample16(i);
            samples[2 * i] = (uint8_t)(v >> 8);
            samples[2 * i + 1] = (uint8_t)v;
        } else {
            samples[i] = (uint8_t)(sample8(i) >> (8 - depth));
        }
    }
    for (int p = 0; p < PW * PH; p++)
        for (int k = 0; k < 3; k++) {
            int s = p * ch + ((color_type & PNG_COLOR_MASK_COLOR) ? k : 0); /* gray repeats */
            int v;
            if (depth == 16) {
                int v16 = samples[2 * s] << 8 | samples[2 * s + 1];
                /* Pillow: gray 16 is mode I;16 and clips; the others keep the high byte */
                v = color_type == PNG_COLOR_TYPE_GRAY ? (v16 > 255 ? 255 : v16) : v16 >> 8;
            } else {
                v = samples[s] * (255 / ((1 << depth) - 1)); /* 1/2/4-bit gray scale up */
            }
            want[3 * p + k] = (uint8_t)v;
        }
}

TEST(png_decode_variants) {
    static const struct { const char *name; int type, depth, interlace; } v[] = {
        {"gray1.png", PNG_COLOR_TYPE_GRAY, 1, 0},        {"gray2.png", PNG_COLOR_TYPE_GRAY, 2, 0},
        {"gray4.png", PNG_COLOR_TYPE_GRAY, 4, 0},        {"gray8.png", PNG_COLOR_TYPE_GRAY, 8, 0},
        {"gray16.png", PNG_COLOR_TYPE_GRAY, 16, 0},      {"graya8.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0},
        {"graya16.png", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0}, {"rgb8.png", PNG_COLOR_TYPE_RGB, 8, 0},
        {"rgb16.png", PNG_COLOR_TYPE_RGB, 16, 0},        {"rgba8.png", PNG_COLOR_TYPE_RGBA, 8, 0},
        {"rgba16.png", PNG_COLOR_TYPE_RGBA, 16, 0},      {"rgb8_adam7.png", PNG_COLOR_TYPE_RGB, 8, 1},
        {"gray16_adam7.png", PNG_COLOR_TYPE_GRAY, 16, 1}, {"rgba16_adam7.png", PNG_COLOR_TYPE_RGBA, 16, 1},
    };
    static uint8_t samples[PW * PH * 8], want[PW * PH * 3];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        png_variant(v[i].type, v[i].depth, samples, want);
        png_spec sp = {PW, PH, v[i].type, v[i].depth, v[i].interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                       samples, NULL, 0, NULL, 0};
        membuf b = png_encode(&sp);
        check_decode(v[i].name, &b, want, PW, PH, 0, 0);
        free(b.p);
    }
    /* gray and RGB with a tRNS colour key: ignored by convert("RGB") */
    png_color_16 key = {0, 10, 20, 30, 40};
    for (int t = 0; t < 2; t++) {
        int type = t ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
        png_variant(type, 8, samples, want);
        membuf b = {0};
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        png_infop info = png_create_info_struct(png);
        if (setjmp(png_jmpbuf(png)) == 0) {
            png_set_write_fn(png, &b, png_mem_write, png_mem_flush);
            png_set_IHDR(png, info, PW, PH, 8, type, 0, 0, 0);
            png_set_tRNS(png, info, NULL, 0, &key);
            png_write_info(png, info);
            for (int y = 0; y < PH; y++) png_write_row(png, samples + (size_t)y * PW * (t ? 3 : 1));
            png_write_end(png, NULL);
        }
        png_destroy_write_struct(&png, &info);
        check_decode(t ? "rgb8_trns.png" : "gray8_trns.png", &b, want, PW, PH, 0, 0);
        free(b.p);
    }
    tmp_cleanup();
}

TEST(png_decode_palette) {
    png_color pal[16];
    uint8_t trns[16];
    for (int i = 0; i < 16; i++) {
        pal[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i * 9), (png_byte)(i * i)};
        trns[i] = (uint8_t)(i * 17); /* Pillow's convert("RGB") ignores it */
    }
    static uint8_t idx[PW * PH], want[PW * PH * 3];
    for (int p = 0; p < PW * PH; p++) {
        idx[p] = (uint8_t)((p * 7) % 16);
        want[3 * p] = pal[idx[p]].red;
        want[3 * p + 1] = pal[idx[p]].green;
        want[3 * p + 2] = pal[idx[p]].blue;
    }
    for (int variant = 0; variant < 4; variant++) {
        int depth = variant == 3 ? 4 : 8, with_trns = variant == 1 || variant == 2, interlace = variant == 2;
        png_spec sp = {PW, PH, PNG_COLOR_TYPE_PALETTE, depth, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                       idx, pal, 16, with_trns ? trns : NULL, with_trns ? 16 : 0};
        membuf b = png_encode(&sp);
        const char *names[] = {"pal8.png", "pal8_trns.png", "pal8_trns_adam7.png", "pal4.png"};
        check_decode(names[variant], &b, want, PW, PH, 0, 0);
        free(b.p);
    }
    tmp_cleanup();
}

/* A smooth colour image (JPEG's good case) in RGB. */
static void smooth_rgb(uint8_t *p, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + 3 * ((size_t)y * w + x);
            q[0] = (uint8_t)(40 + 150 * x / (w - 1));
            q[1] = (uint8_t)(200 - 120 * y / (h - 1));
            q[2] = (uint8_t)(60 + 60 * (x + y) / (w + h - 2));
        }
}

#define JW 48
#define JH 40

TEST(jpeg_decode_variants) {
    static uint8_t rgb[JW * JH * 3], gray[JW * JH], gray_rgb[JW * JH * 3], cmyk[JW * JH * 4], cmyk_rgb[JW * JH * 3];
    smooth_rgb(rgb, JW, JH);
    for (int p = 0; p < JW * JH; p++) {
        gray[p] = rgb[3 * p + 1];
        gray_rgb[3 * p] = gray_rgb[3 * p + 1] = gray_rgb[3 * p + 2] = gray[p];
        /* CMYK with real black; stored inverted (Adobe), expected as Pillow's cmyk2rgb. */
        int c = 255 - rgb[3 * p], m = 255 - rgb[3 * p + 1], yv = 255 - rgb[3 * p + 2], k = (p % JW) * 2;
        int ink[4] = {c, m, yv, k};
        for (int j = 0; j < 4; j++) cmyk[4 * p + j] = (uint8_t)(255 - ink[j]);
        for (int j = 0; j < 3; j++) {
            int nk = 255 - k, t = ink[j] * nk + 128;
            cmyk_rgb[3 * p + j] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
        }
    }
    static const struct { const char *name; int comps, prog, adobe; J_COLOR_SPACE in, out; const uint8_t *px, *want; } v[] = {
        {"baseline.jpg", 3, 0, 0, JCS_RGB, JCS_YCbCr, rgb, rgb},
        {"progressive.jpg", 3, 1, 0, JCS_RGB, JCS_YCbCr, rgb, rgb},
        {"rgb_stored.jpg", 3, 0, 0, JCS_RGB, JCS_RGB, rgb, rgb},
        {"gray.jpg", 1, 0, 0, JCS_GRAYSCALE, JCS_GRAYSCALE, gray, gray_rgb},
        {"gray_progressive.jpg", 1, 1, 0, JCS_GRAYSCALE, JCS_GRAYSCALE, gray, gray_rgb},
        {"cmyk_adobe.jpg", 4, 0, 1, JCS_CMYK, JCS_CMYK, cmyk, cmyk_rgb},
        {"cmyk_no_marker.jpg", 4, 0, 0, JCS_CMYK, JCS_CMYK, cmyk, cmyk_rgb},
        {"ycck.jpg", 4, 1, 1, JCS_CMYK, JCS_YCCK, cmyk, cmyk_rgb},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        jpeg_spec sp = {JW, JH, v[i].comps, v[i].prog, 95, v[i].adobe, v[i].in, v[i].out, v[i].px};
        membuf b = jpeg_encode(&sp);
        /* measured: gray/CMYK/RGB-stored within 1, YCbCr (4:2:0) within 4, mean <= 0.6 */
        check_decode(v[i].name, &b, v[i].want, JW, JH, 6, 1.0);
        free(b.p);
    }
    tmp_cleanup();
}

static membuf text_file(const char *header, const uint8_t *data, size_t n) {
    membuf b = {0};
    mb_put(&b, header, strlen(header));
    if (n) mb_put(&b, data, n);
    return b;
}

/* Python's round(v / maxval * 255), half to even, capped. */
static uint8_t pil_scale(int v, int maxval) {
    double s = nearbyint((double)v / maxval * 255.0);
    return s > 255 ? 255 : (uint8_t)s;
}

TEST(ppm_decode_variants) {
    enum { W = 5, H = 3, N = W * H };
    uint8_t want[N * 3], raw[N * 6];
    char hdr[256];
    /* P6, maxval 255: bytes as they are; the header has comments in odd places. */
    for (int i = 0; i < N * 3; i++) raw[i] = want[i] = sample8(i);
    membuf b = text_file("P6\n# made by a test\n5 #width\n3\n255\n", raw, N * 3);
    check_decode("p6.ppm", &b, want, W, H, 0, 0);
    free(b.p);
    /* P6, maxval 1000: two bytes per sample, scaled. */
    for (int i = 0; i < N * 3; i++) {
        int v = (i * 71) % 1001;
        raw[2 * i] = (uint8_t)(v >> 8);
        raw[2 * i + 1] = (uint8_t)v;
        want[i] = pil_scale(v, 1000);
    }
    b = text_file("P6 5 3 1000\n", raw, N * 6);
    check_decode("p6_16.ppm", &b, want, W, H, 0, 0);
    free(b.p);
    /* P5, maxval 100 (scaled) */
    for (int i = 0; i < N; i++) {
        raw[i] = (uint8_t)(i * 7 % 101);
        want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = pil_scale(raw[i], 100);
    }
    b = text_file("P5\t5\r3 100\n", raw, N);
    check_decode("p5.pgm", &b, want, W, H, 0, 0);
    free(b.p);
    /* P5, maxval 65535: Pillow's mode I, clipped at 255 when converted. */
    for (int i = 0; i < N; i++) {
        int v = i % 2 ? i * 4000 : i * 17;
        raw[2 * i] = (uint8_t)(v >> 8);
        raw[2 * i + 1] = (uint8_t)v;
        want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = (uint8_t)(v > 255 ? 255 : v);
    }
    b = text_file("P5 5 3 65535\n", raw, N * 2);
    check_decode("p5_16.pgm", &b, want, W, H, 0, 0);
    free(b.p);
    /* P3 ASCII with comments between samples, maxval 255 */
    membuf t = {0};
    mb_put(&t, "P3\n5 3\n255\n", 11);
    for (int i = 0; i < N * 3; i++) {
        want[i] = sample8(i);
        int len = snprintf(hdr, sizeof hdr, i % 7 == 3 ? "%d # a comment\n" : "%d ", want[i]);
        mb_put(&t, hdr, (size_t)len);
    }
    check_decode("p3.ppm", &t, want, W, H, 0, 0);
    free(t.p);
    /* P2 ASCII, maxval 15 and 4000 (the latter is mode I: round(v / 4000 * 65535), clipped) */
    const int maxvals[2] = {15, 4000};
    for (int m = 0; m < 2; m++) {
        t = (membuf){0};
        int len = snprintf(hdr, sizeof hdr, "P2\n# gray\n5 3\n%d\n", maxvals[m]);
        mb_put(&t, hdr, (size_t)len);
        for (int i = 0; i < N; i++) {
            int v = (i * 3) % (maxvals[m] + 1);
            if (m) v = i < 5 ? i : v * 200 % 4001;
            len = snprintf(hdr, sizeof hdr, "%d\n", v);
            mb_put(&t, hdr, (size_t)len);
            uint8_t g;
            if (m) {
                double s = nearbyint((double)v / 4000 * 65535.0);
                g = s > 255 ? 255 : (uint8_t)s;
            } else {
                g = pil_scale(v, 15);
            }
            want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = g;
        }
        check_decode(m ? "p2_16.pgm" : "p2.pgm", &t, want, W, H, 0, 0);
        free(t.p);
    }
    tmp_cleanup();
}

TEST(image_decode_gray_channel) {
    /* channels = 1 is Pillow's convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16. */
    uint8_t rgb[PW * PH * 3];
    for (int i = 0; i < PW * PH * 3; i++) rgb[i] = sample8(i);
    png_spec sp = {PW, PH, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, rgb, NULL, 0, NULL, 0};
    membuf b = png_encode(&sp);
    mmc_image img;
    mmc_error err = {0};
    REQUIRE(mmc_image_decode(&img, b.p, b.n, "gray.png", 1, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(img.c == 1 && img.w == PW && img.h == PH, "shape %dx%dx%d", img.w, img.h, img.c);
    int bad = 0;
    for (int p = 0; p < PW * PH; p++) {
        int l = (rgb[3 * p] * 19595 + rgb[3 * p + 1] * 38470 + rgb[3 * p + 2] * 7471 + 32768) >> 16;
        bad += img.data[p] != l;
    }
    CHECK(bad == 0, "%d gray values differ", bad);
    mmc_image_free(&img);
    CHECK(mmc_image_decode(&img, b.p, b.n, "x.png", 2, &err) == MMC_ERR_USAGE, "channels 2 refused");
    free(b.p);
}

/* ============================================================ hostile input */

/* Decodes from memory; on failure checks the status is MMC_ERR_INPUT and the message
 * names the file and contains `needle` (NULL: any). Returns the status. */
static int expect_bad(const uint8_t *p, size_t n, const char *name, const char *needle, const char *what) {
    mmc_image img;
    mmc_error err = {0};
    int rc = mmc_image_decode(&img, p, n, name, 3, &err);
    if (rc == MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "%s: decoded %dx%d instead of failing", what, img.w, img.h);
        mmc_image_free(&img);
        return rc;
    }
    CHECK(rc == MMC_ERR_INPUT, "%s: status %d (%s)", what, rc, err.msg);
    CHECK(strstr(err.msg, name) != NULL, "%s: message '%s' does not name %s", what, err.msg, name);
    CHECK(!needle || strstr(err.msg, needle), "%s: message '%s' lacks '%s'", what, err.msg, needle);
    CHECK(img.data == NULL && img.w == 0, "%s: image not left empty", what);
    return rc;
}

static membuf sample_png(int interlace) {
    static uint8_t samples[PW * PH * 3];
    for (int i = 0; i < PW * PH * 3; i++) samples[i] = sample8(i);
    png_spec sp = {PW, PH, PNG_COLOR_TYPE_RGB, 8, interlace ? PNG_INTERLACE_ADAM7 : 0, samples, NULL, 0, NULL, 0};
    return png_encode(&sp);
}

static membuf sample_jpeg(int progressive) {
    static uint8_t rgb[JW * JH * 3];
    smooth_rgb(rgb, JW, JH);
    jpeg_spec sp = {JW, JH, 3, progressive, 90, 0, JCS_RGB, JCS_YCbCr, rgb};
    return jpeg_encode(&sp);
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put_be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

/* Offset of the first chunk of `type` in a PNG (its length field), or 0. */
static size_t png_chunk(const membuf *b, const char *type) {
    for (size_t off = 8; off + 12 <= b->n; off += 12 + be32(b->p + off))
        if (memcmp(b->p + off + 4, type, 4) == 0) return off;
    return 0;
}

static void png_fix_crc(membuf *b, size_t off) {
    uint32_t len = be32(b->p + off);
    put_be32(b->p + off + 8 + len, (uint32_t)crc32(0, b->p + off + 4, len + 4));
}

/* Offset of a JPEG marker (the 0xFF), or 0. */
static size_t jpeg_marker(const membuf *b, uint8_t m) {
    for (size_t i = 2; i + 1 < b->n; i++)
        if (b->p[i] == 0xFF && b->p[i + 1] == m) return i;
    return 0;
}

TEST(image_hostile_truncated) {
    /* Every prefix of a PNG and a JPEG is an error: the PNG reader goes through IEND and
     * libjpeg's "premature end" warning is an error. */
    for (int k = 0; k < 4; k++) {
        membuf b = k < 2 ? sample_png(k) : sample_jpeg(k - 2);
        const char *name = k < 2 ? "cut.png" : "cut.jpg";
        REQUIRE(b.n > 100, "sample %d", k);
        int ok = 1;
        for (size_t cut = 1; cut < b.n && ok; cut++) {
            char what[64];
            snprintf(what, sizeof what, "%s cut at %zu of %zu", name, cut, b.n);
            mmc_image img;
            mmc_error err = {0};
            int rc = mmc_image_decode(&img, b.p, cut, name, 3, &err);
            if (rc != MMC_ERR_INPUT || !strstr(err.msg, name)) {
                mmc_test_fail(__FILE__, __LINE__, "%s: status %d, '%s'", what, rc, err.msg);
                if (rc == MMC_OK) mmc_image_free(&img);
                ok = 0;
            }
        }
        free(b.p);
    }
    /* PPM: cut in the header and in the pixels */
    const char *ppm = "P6 2 2 255\nabcdefghijkl";
    for (size_t cut = 3; cut < strlen(ppm); cut++) expect_bad((const uint8_t *)ppm, cut, "cut.ppm", NULL, "ppm cut");
}

TEST(image_hostile_huge_dimensions) {
    /* Headers that claim 100000 x 100000 (JPEG: 65000 x 65000, its largest) are refused
     * from the header, before any pixel memory: ASan would abort on a 30 GB malloc. */
    membuf png = sample_png(0);
    size_t ihdr = png_chunk(&png, "IHDR");
    REQUIRE(ihdr, "IHDR");
    put_be32(png.p + ihdr + 8, 100000);
    put_be32(png.p + ihdr + 12, 100000);
    png_fix_crc(&png, ihdr);
    expect_bad(png.p, png.n, "huge.png", "pixel cap", "png 100000x100000");
    membuf jpg = sample_jpeg(0);
    size_t sof = jpeg_marker(&jpg, 0xC0);
    REQUIRE(sof, "SOF0");
    jpg.p[sof + 5] = jpg.p[sof + 7] = 0xFD; /* 0xFDE8 = 65000 */
    jpg.p[sof + 6] = jpg.p[sof + 8] = 0xE8;
    expect_bad(jpg.p, jpg.n, "huge.jpg", "pixel cap", "jpeg 65000x65000");
    const char *ppm = "P6 100000 100000 255\nabcdef";
    expect_bad((const uint8_t *)ppm, strlen(ppm), "huge.ppm", "pixel cap", "ppm 100000x100000");
    const char *pgm = "P2 100000 100000 255\n1 2 3";
    expect_bad((const uint8_t *)pgm, strlen(pgm), "huge.pgm", "pixel cap", "pgm 100000x100000");
    free(jpg.p);
    free(png.p);

    /* The cap is a setting: 13 x 11 = 143 pixels is over a cap of 100. */
    CHECK(mmc_image_max_pixels() == MMC_IMAGE_DEFAULT_MAX_PIXELS, "default cap %lld", (long long)mmc_image_max_pixels());
    mmc_image_set_max_pixels(100);
    membuf small = sample_png(0);
    expect_bad(small.p, small.n, "capped.png", "pixel cap of 100", "png over a cap of 100");
    mmc_image_set_max_pixels(143);
    mmc_image img;
    mmc_error err = {0};
    CHECK(mmc_image_decode(&img, small.p, small.n, "capped.png", 3, &err) == MMC_OK, "exactly at the cap: %s", err.msg);
    mmc_image_free(&img);
    /* With no cap to speak of, a 65536 x 65536 raw PGM still fails on its length before allocating. */
    mmc_image_set_max_pixels(INT64_MAX);
    const char *big = "P5 65536 65536 255\nxyz";
    expect_bad((const uint8_t *)big, strlen(big), "big.pgm", "truncated", "pgm 2^32 pixels uncapped");
    const char *wide = "P5 4294967295 4294967295 255\nxyz";
    expect_bad((const uint8_t *)wide, strlen(wide), "wide.pgm", "too large", "pgm 2^64 pixels");
    mmc_image_set_max_pixels(0);
    CHECK(mmc_image_max_pixels() == MMC_IMAGE_DEFAULT_MAX_PIXELS, "cap restored");
    free(small.p);
}

TEST(image_hostile_corrupt_data) {
    /* IDAT bytes flipped with the CRC made right again: zlib itself must object. */
    const size_t where[] = {2, 10, 40, 80};
    membuf b;
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        b = sample_png(0);
        size_t idat = png_chunk(&b, "IDAT");
        REQUIRE(idat && be32(b.p + idat) > where[i] + 8, "IDAT");
        for (int j = 0; j < 8; j++) b.p[idat + 8 + where[i] + j] ^= 0x5A;
        png_fix_crc(&b, idat);
        expect_bad(b.p, b.n, "corrupt.png", "bad PNG", "corrupt IDAT, CRC fixed");
        free(b.p);
    }
    /* Intact data under a wrong CRC. */
    b = sample_png(0);
    size_t idat = png_chunk(&b, "IDAT");
    b.p[idat + 8 + be32(b.p + idat)] ^= 1;
    expect_bad(b.p, b.n, "badcrc.png", "CRC", "IDAT with a wrong CRC");
    free(b.p);
    /* An invalid IHDR colour type. */
    b = sample_png(0);
    size_t ihdr = png_chunk(&b, "IHDR");
    b.p[ihdr + 8 + 9] = 5;
    png_fix_crc(&b, ihdr);
    expect_bad(b.p, b.n, "badtype.png", "bad PNG", "png colour type 5");
    free(b.p);
    /* JPEG: a restart marker where none belongs, the scan cut short then EOI, and a run of
     * garbage bytes in the scan: libjpeg only warns about these ("Corrupt JPEG data") and
     * would carry on; we fail. */
    for (int prog = 0; prog < 2; prog++) {
        membuf j = sample_jpeg(prog);
        size_t sos = jpeg_marker(&j, 0xDA);
        REQUIRE(sos && sos + 200 < j.n, "SOS");
        size_t mid = sos + (j.n - sos) / 2;
        membuf k = {0};
        mb_put(&k, j.p, j.n);
        k.p[mid] = 0xFF;
        k.p[mid + 1] = 0xD3;
        expect_bad(k.p, k.n, "rst.jpg", "bad JPEG", "stray RST marker");
        k.n = mid;
        mb_put(&k, "\xFF\xD9", 2);
        expect_bad(k.p, k.n, "short.jpg", "bad JPEG", "scan cut short then EOI");
        free(k.p);
        free(j.p);
    }
}

static void write_empty(const char *path) { FILE *f = fopen(path, "wb"); if (f) fclose(f); }

TEST(image_hostile_zero_empty_missing) {
    membuf b = sample_png(0);
    size_t ihdr = png_chunk(&b, "IHDR");
    put_be32(b.p + ihdr + 8, 0);
    png_fix_crc(&b, ihdr);
    expect_bad(b.p, b.n, "zero.png", "bad PNG", "png width 0");
    free(b.p);
    membuf j = sample_jpeg(0);
    size_t sof = jpeg_marker(&j, 0xC0);
    j.p[sof + 7] = j.p[sof + 8] = 0;
    expect_bad(j.p, j.n, "zero.jpg", "bad JPEG", "jpeg width 0");
    free(j.p);
    expect_bad((const uint8_t *)"P6 0 3 255\n", 11, "zero.ppm", "zero", "ppm width 0");
    expect_bad((const uint8_t *)"P5 3 0 255\n", 11, "zero.pgm", "zero", "pgm height 0");
    expect_bad((const uint8_t *)"", 0, "empty.png", "empty", "empty buffer");

    /* Through the file path: an empty file, a directory, a missing file. */
    mmc_image img;
    mmc_error err = {0};
    const char *empty = tmp_path("empty.jpg");
    write_empty(empty);
    CHECK(mmc_image_load(&img, empty, 3, &err) == MMC_ERR_INPUT && strstr(err.msg, empty) && strstr(err.msg, "empty"),
          "empty file: %s", err.msg);
    const char *dir = tmp_path("a_directory.png");
    mkdir(dir, 0700);
    CHECK(mmc_image_load(&img, dir, 3, &err) == MMC_ERR_INPUT && strstr(err.msg, dir) && strstr(err.msg, "directory"),
          "directory: %s", err.msg);
    const char *missing = tmp_path("missing.png");
    CHECK(mmc_image_load(&img, missing, 3, &err) == MMC_ERR_INPUT && strstr(err.msg, missing), "missing: %s", err.msg);
    CHECK(img.data == NULL, "no image after failures");
    tmp_cleanup();
}

TEST(image_hostile_ppm_headers) {
    static const struct { const char *bytes; const char *needle; } cases[] = {
        {"P7\n1 1 255\n", "not a PNG, JPEG or PPM"},
        {"P6", "bad magic"},
        {"P6x 1 1 255\n", "bad magic"},
        {"P6\n", "before the width"},
        {"P6 4 # only a comment", "before the height"},
        {"P6 4 4 0\nabc", "maxval 0"},
        {"P6 4 4 65536\nabc", "maxval 65536"},
        {"P6 12345678901 4 255\n", "longer than 10 digits"},
        {"P6 -4 4 255\n", "unexpected byte"},
        {"P6 4 4 2x5\n", "unexpected byte"},
        {"P6 4 4 255\n0123456789", "truncated"},
        {"P6 4 4 255", "truncated"},
        {"P5 2 2 1000\nabcdef", "truncated"},
        {"P3 2 1 255\n1 2 3 4 5 999", "above maxval"},
        {"P3 2 1 255\n1 2 3 4 5", "truncated"},
        {"P3 2 1 255\n1 2 3 4 5       ", "ends before"},
        {"P2 2 2 255\n1 2 3 x", "unexpected byte"},
        {"P2 2 2 255\n1 2 3 12345678901", "longer than 10 digits"},
        {"P2 2 2 255\n1 2 3 #4", "ends before"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "ppm case %zu", i);
        expect_bad((const uint8_t *)cases[i].bytes, strlen(cases[i].bytes), "hostile.ppm", cases[i].needle, what);
    }
}

/* Mutations of valid files and random bytes: any status but OK/INPUT, any crash, leak or
 * output on stderr fails (the libraries must be silenced). */
TEST(image_hostile_random_bytes) {
    mmc_rng rng;
    mmc_rng_seed(&rng, 2024, 3);
    uint8_t junk[600];
    for (int i = 0; i < 40; i++) {
        for (size_t k = 0; k < sizeof junk; k++) junk[k] = (uint8_t)mmc_rng_u32(&rng);
        /* (not "P6 3 3 255\n": after that header any 27 bytes are a valid image) */
        static const char *prefix[] = {"", "\x89PNG\r\n\x1a\n", "\xFF\xD8\xFF", "P6 3 3 ", "P3 3 3 255\n"};
        const char *pre = prefix[i % 5];
        memcpy(junk, pre, strlen(pre));
        expect_bad(junk, sizeof junk, "random.bin", NULL, "random bytes");
    }
    fflush(stderr);
    const char *log = tmp_path("stderr.txt");
    int saved = dup(2);
    FILE *f = freopen(log, "w", stderr);
    REQUIRE(f, "redirect stderr");
    membuf seeds[4] = {sample_png(0), sample_png(1), sample_jpeg(0), sample_jpeg(1)};
    int bad_status = 0, decoded = 0;
    for (int it = 0; it < 400; it++) {
        membuf *s = &seeds[it % 4];
        uint8_t *m = malloc(s->n);
        memcpy(m, s->p, s->n);
        int flips = 1 + (int)mmc_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++) m[mmc_rng_below(&rng, (uint32_t)s->n)] = (uint8_t)mmc_rng_u32(&rng);
        mmc_image img;
        mmc_error err = {0};
        int rc = mmc_image_decode(&img, m, s->n, "mutant", 3, &err);
        if (rc == MMC_OK) {
            decoded++;
            if (img.w <= 0 || img.h <= 0 || !img.data) bad_status++;
            mmc_image_free(&img);
        } else if (rc != MMC_ERR_INPUT || !strstr(err.msg, "mutant")) {
            bad_status++;
        }
        free(m);
    }
    for (int k = 0; k < 4; k++) free(seeds[k].p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    CHECK(stat(log, &st) == 0 && st.st_size == 0, "the decoders wrote %lld bytes to stderr", (long long)st.st_size);
    CHECK(bad_status == 0, "%d mutants gave a status other than OK/INPUT", bad_status);
    printf("mutants: %d of 400 still decoded (changes in JPEG entropy data can be undetectable)\n", decoded);
    tmp_cleanup();
}

/* ============================================================ augmentation */

static uint8_t pattern_px(int x, int y, int k) { return (uint8_t)((x * 7 + y * 13 + k * 50) & 255); }

/* One augmentation pass: random resized crop to 24x24, random flip, colour jitter. */
static int augment(const mmc_image *src, uint64_t seed, mmc_image *out) {
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, 11);
    mmc_error err = {0};
    int rc = mmc_image_random_resized_crop(src, out, 24, 24, 0.08f, 1.0f, 3.0f / 4, 4.0f / 3,
                                           MMC_RESAMPLE_BILINEAR, &rng, &err);
    if (rc != MMC_OK) return rc;
    mmc_image_random_hflip(out, 0.5f, &rng);
    mmc_image_color_jitter(out, 0.4f, 0.4f, 0.4f, &rng);
    return MMC_OK;
}

TEST(image_augment_deterministic) {
    mmc_image src = make_image(57, 41, 3, pattern_px);
    int differs = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        mmc_image a, b, c;
        REQUIRE(augment(&src, seed, &a) == MMC_OK && augment(&src, seed, &b) == MMC_OK &&
                augment(&src, seed + 100, &c) == MMC_OK, "augment");
        CHECK(a.w == 24 && a.h == 24 && a.c == 3, "output %dx%dx%d", a.w, a.h, a.c);
        CHECK(memcmp(a.data, b.data, 24 * 24 * 3) == 0, "seed %llu is not reproducible", (unsigned long long)seed);
        differs += memcmp(a.data, c.data, 24 * 24 * 3) != 0;
        mmc_image_free(&a);
        mmc_image_free(&b);
        mmc_image_free(&c);
    }
    CHECK(differs >= 7, "other seeds gave the same image %d times of 8", 8 - differs);
    mmc_image_free(&src);
}

TEST(image_augment_ops) {
    mmc_image src = make_image(9, 4, 3, pattern_px), img;
    mmc_error err = {0};
    REQUIRE(mmc_image_copy(&img, &src, &err) == MMC_OK, "copy");
    mmc_image_hflip(&img);
    CHECK(memcmp(img.data, src.data + 8 * 3, 3) == 0 && memcmp(img.data + 8 * 3, src.data, 3) == 0, "flip swaps ends");
    mmc_image_hflip(&img);
    CHECK(memcmp(img.data, src.data, 9 * 4 * 3) == 0, "flip twice is identity");
    mmc_rng rng;
    mmc_rng_seed(&rng, 5, 5);
    mmc_image_color_jitter(&img, 0, 0, 0, &rng);
    CHECK(memcmp(img.data, src.data, 9 * 4 * 3) == 0, "zero jitter is identity");
    int flips = 0;
    for (int i = 0; i < 200; i++) flips += mmc_image_random_hflip(&img, 0.5f, &rng);
    CHECK(flips > 70 && flips < 130, "p=0.5 flipped %d of 200", flips);
    mmc_image g;
    REQUIRE(mmc_image_copy(&g, &src, &err) == MMC_OK, "copy");
    mmc_rng_seed(&rng, 1, 1);
    mmc_image_color_jitter(&g, 1.0f, 0, 0, &rng); /* brightness factor in [0, 2]: values scale */
    int monotone = 1;
    for (int i = 1; i < 9 * 4 * 3; i++)
        if ((src.data[i] > src.data[0]) && (g.data[i] < g.data[0])) monotone = 0;
    CHECK(monotone, "brightness keeps the order of values");
    /* Bad ranges are usage errors, not crashes. */
    mmc_image out;
    CHECK(mmc_image_random_resized_crop(&src, &out, 8, 8, 0.5f, 0.2f, 1, 1, MMC_RESAMPLE_BILINEAR, &rng, &err) == MMC_ERR_USAGE,
          "scale_lo > scale_hi refused");
    /* Extreme ratios fall back to a centred crop and still give the asked size. */
    REQUIRE(mmc_image_random_resized_crop(&src, &out, 8, 8, 0.9f, 1.0f, 10.0f, 20.0f, MMC_RESAMPLE_BICUBIC, &rng, &err) == MMC_OK,
            "%s", err.msg);
    CHECK(out.w == 8 && out.h == 8, "fallback size");
    mmc_image_free(&out);
    mmc_image_free(&g);
    mmc_image_free(&img);
    mmc_image_free(&src);
}

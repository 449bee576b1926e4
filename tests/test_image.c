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

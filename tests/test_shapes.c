/* test_shapes.c — the shapes world: deterministic, captions that single a scene out, answers
 * a blind model cannot guess, pixels that agree with the words, and PNG writing. */
#include "test.h"
#include "../src/data/shapes_internal.h" /* shapes_describe, to describe a hand-made scene */
#include <png.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define S 64

static char *scene_json(uint64_t seed, const char *split, int i, int size, uint8_t *rgb) {
    mmc_sample s;
    mmc_error err = {0};
    if (mmc_shapes_make(seed, split, i, size, NULL, rgb, &s, &err) != MMC_OK) {
        mmc_test_fail(__FILE__, __LINE__, "make %s %d: %s", split, i, err.msg);
        return NULL;
    }
    char *j = mmc_sample_to_json(&s);
    mmc_sample_free(&s);
    return j;
}

TEST(shapes_deterministic) {
    static uint8_t a[S * S * 3], b[S * S * 3];
    int differ = 0;
    for (int i = 0; i < 40; i++) {
        char *ja = scene_json(7, "train", i, S, a), *jb = scene_json(7, "train", i, S, b);
        REQUIRE(ja && jb, "json");
        CHECK(!strcmp(ja, jb), "scene %d: same seed, different record", i);
        CHECK(!memcmp(a, b, sizeof a), "scene %d: same seed, different pixels", i);
        mmc_free(jb);
        jb = scene_json(8, "train", i, S, b);
        /* ids are equal, so compare everything after the image path */
        differ += strcmp(strstr(ja, "\"captions\""), strstr(jb, "\"captions\"")) != 0 || memcmp(a, b, sizeof a) != 0;
        mmc_free(ja);
        mmc_free(jb);
    }
    CHECK(differ >= 38, "another seed should change nearly every scene (%d of 40 changed)", differ);
    /* splits draw from their own streams */
    char *t = scene_json(7, "test", 3, S, a), *v = scene_json(7, "val", 3, S, b);
    REQUIRE(t && v, "json");
    CHECK(strcmp(strstr(t, "\"captions\""), strstr(v, "\"captions\"")) != 0, "test and val scene 3 are the same");
    mmc_free(t);
    mmc_free(v);
}

static char *slurp(const char *path, size_t *n) {
    uint8_t *buf = NULL;
    mmc_error err = {0};
    if (mmc_read_file(path, 1 << 26, &buf, n, &err) != MMC_OK) mmc_test_fail(__FILE__, __LINE__, "%s", err.msg);
    return (char *)buf;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    mmc_free(x);
    mmc_free(y);
    return same;
}

/* The thread count must not change a byte of the folder. */
TEST(shapes_write_split_threads_agree) {
    char d1[128], d2[128], p1[256], p2[256];
    snprintf(d1, sizeof d1, "/tmp/mmc_shapes_t1_%d", (int)getpid());
    snprintf(d2, sizeof d2, "/tmp/mmc_shapes_t2_%d", (int)getpid());
    mmc_error err = {0};
    int threads = mmc_get_threads();
    mmc_set_threads(1);
    int rc1 = mmc_shapes_write_split(d1, "val", 150, 11, 32, NULL, NULL, &err);
    mmc_set_threads(2);
    int rc2 = mmc_shapes_write_split(d2, "val", 150, 11, 32, NULL, NULL, &err);
    mmc_set_threads(threads);
    REQUIRE(rc1 == MMC_OK && rc2 == MMC_OK, "write: %s", err.msg);
    snprintf(p1, sizeof p1, "%s/manifest-val.jsonl", d1);
    snprintf(p2, sizeof p2, "%s/manifest-val.jsonl", d2);
    CHECK(same_file(p1, p2), "manifests differ between 1 and 2 threads");
    for (int i = 0; i < 150; i += 37) {
        snprintf(p1, sizeof p1, "%s/images/val-%06d.png", d1, i);
        snprintf(p2, sizeof p2, "%s/images/val-%06d.png", d2, i);
        CHECK(same_file(p1, p2), "image %d differs between 1 and 2 threads", i);
    }
    mmc_manifest *m = mmc_manifest_load(d1, "val", &err);
    REQUIRE(m, "load back: %s", err.msg);
    CHECK(m->count == 150, "count %d", m->count);
    CHECK(mmc_manifest_check_images(m, &err) == MMC_OK, "images: %s", err.msg);
    mmc_manifest_free(m);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", d1, d2);
    CHECK(system(cmd) == 0, "cleanup");
}

TEST(shapes_bad_arguments) {
    mmc_error err = {0};
    CHECK(mmc_shapes_make(1, "test", 0, 4, NULL, NULL, NULL, &err) == MMC_ERR_USAGE, "size 4");
    CHECK(mmc_shapes_make(1, "../x", 0, 64, NULL, NULL, NULL, &err) == MMC_ERR_USAGE, "split with a path");
    CHECK(mmc_shapes_make(1, "test", -1, 64, NULL, NULL, NULL, &err) == MMC_ERR_USAGE, "negative index");
    CHECK(mmc_shapes_write_split("/tmp", "test", 0, 1, 64, NULL, NULL, &err) == MMC_ERR_USAGE, "zero scenes");
    /* a folder under a regular file cannot be made */
    CHECK(mmc_shapes_write_split("/dev/null/x", "test", 2, 1, 16, NULL, NULL, &err) == MMC_ERR_RUNTIME &&
              strstr(err.msg, "/dev/null"), "unwritable folder: %s", err.msg);
}

/* n scenes of the test split as samples (no pixels). */
static mmc_sample *make_samples(int n, uint64_t seed) {
    mmc_sample *s = calloc((size_t)n, sizeof *s);
    mmc_error err = {0};
    for (int i = 0; i < n; i++)
        if (mmc_shapes_make(seed, "test", i, S, NULL, NULL, &s[i], &err) != MMC_OK)
            mmc_test_fail(__FILE__, __LINE__, "scene %d: %s", i, err.msg);
    return s;
}

static void free_samples(mmc_sample *s, int n) {
    for (int i = 0; i < n; i++) mmc_sample_free(&s[i]);
    free(s);
}

TEST(shapes_caption_unique) {
    for (uint64_t seed = 7; seed <= 8; seed++) {
        mmc_sample *s = make_samples(1000, seed);
        double u = mmc_captions_unique_rate(s, 1000);
        printf("seed %llu: %.1f%% of first captions unique among 1000 test scenes\n", (unsigned long long)seed, 100 * u);
        CHECK(u >= 0.90, "seed %llu: only %.1f%% of first captions are unique", (unsigned long long)seed, 100 * u);
        for (int i = 0; i < 1000; i++)
            CHECK(s[i].n_captions >= 4 && s[i].n_captions == s[i].n_captions_zh, "scene %d: %d/%d captions", i,
                  s[i].n_captions, s[i].n_captions_zh);
        free_samples(s, 1000);
    }
}

TEST(shapes_answer_balance) {
    const int n = 1000;
    mmc_sample *s = make_samples(n, 7);
    mmc_qa_type_stats st[8];
    int nt = mmc_qa_stats(s, n, st, 8);
    REQUIRE(nt == 5, "expected 5 QA types, got %d", nt);
    /* the bound on the most common open answer: a little above uniform (1/8, 1/6, 1/4) */
    const struct { const char *type; double open_max; } want[] = {
        {"colour", 0.18}, {"shape", 0.22}, {"count", 0.30}, {"existence", 0.0}, {"spatial", 0.30}};
    for (int k = 0; k < 5; k++) {
        const mmc_qa_type_stats *t = NULL;
        for (int j = 0; j < nt; j++)
            if (!strcmp(st[j].type, want[k].type)) t = &st[j];
        REQUIRE(t, "no %s questions", want[k].type);
        int yn = t->yes + t->no, open = t->total - yn;
        printf("%-10s %5d questions, yes %.1f%% of %d yes/no, majority '%s' %.1f%%, open majority '%s' %.1f%%\n",
               t->type, t->total, 100.0 * t->yes / yn, yn, t->majority, 100.0 * t->majority_count / t->total,
               t->open_majority, open ? 100.0 * t->open_majority_count / open : 0.0);
        CHECK(t->total >= 1800, "%s: only %d questions", t->type, t->total);
        CHECK(yn >= 900 && fabs((double)t->yes / yn - 0.5) <= 0.05, "%s: yes is %d of %d yes/no answers", t->type, t->yes, yn);
        CHECK(t->majority_count <= (want[k].open_max ? 0.30 : 0.55) * t->total, "%s: majority answer '%s' is %d of %d",
              t->type, t->majority, t->majority_count, t->total);
        if (want[k].open_max > 0)
            CHECK(open >= 800 && t->open_majority_count <= want[k].open_max * open,
                  "%s: open answer '%s' is %d of %d", t->type, t->open_majority, t->open_majority_count, open);
    }
    /* labels (shape of the leftmost object) spread over the six shapes */
    int counts[MMC_SHAPES_N_SHAPES] = {0};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < MMC_SHAPES_N_SHAPES; k++) counts[k] += !strcmp(s[i].label, mmc_shapes_shape_name(k));
    for (int k = 0; k < MMC_SHAPES_N_SHAPES; k++)
        CHECK(counts[k] >= 120 && counts[k] <= 220, "label %s: %d of %d", mmc_shapes_shape_name(k), counts[k], n);
    free_samples(s, n);
}

/* ----------------------------------------------------------- pixels vs words */

static const char *REL[] = {"to the left of", "to the right of", "above", "below"};
static const char *REGION[] = {"in the top left corner", "at the top", "in the top right corner", "on the left", "in the middle",
                               "on the right", "in the bottom left corner", "at the bottom", "in the bottom right corner"};

/* Centroid of the pixels inside object o's circle that have exactly its colour. */
static int measure(const uint8_t *rgb, const mmc_shape_obj *o, double *mx, double *my) {
    uint8_t c[3];
    mmc_shapes_colour_rgb(o->colour, c);
    double sx = 0, sy = 0;
    int n = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double dx = x + 0.5 - o->cx, dy = y + 0.5 - o->cy;
            const uint8_t *p = rgb + (y * S + x) * 3;
            if (dx * dx + dy * dy <= o->r * o->r && !memcmp(p, c, 3)) sx += x + 0.5, sy += y + 0.5, n++;
        }
    *mx = n ? sx / n : -1;
    *my = n ? sy / n : -1;
    return n;
}

static void phrase(char *buf, size_t n, const mmc_shape_obj *o) {
    snprintf(buf, n, "a %s %s %s", o->large ? "large" : "small", mmc_shapes_colour_name(o->colour), mmc_shapes_shape_name(o->shape));
}

/* The first caption, rebuilt from what the pixels show, must be the caption. */
static void check_caption_matches_pixels(int i, const mmc_shapes_scene *sc, const double *mx, const double *my,
                                         const char *caption) {
    char want[1024] = "", p[128];
    if (sc->n == 1) {
        int col = (int)(mx[0] * 3 / S), row = (int)(my[0] * 3 / S);
        phrase(p, sizeof p, &sc->obj[0]);
        snprintf(want, sizeof want, "%s %s", p, REGION[row * 3 + col]);
    }
    for (int k = 0; k < sc->n && sc->n > 1; k++) {
        phrase(p, sizeof p, &sc->obj[k]);
        size_t len = strlen(want);
        if (k == 0) { snprintf(want, sizeof want, "%s", p); continue; }
        double dx = mx[k] - mx[k - 1], dy = my[k] - my[k - 1];
        int rel = fabs(dx) >= fabs(dy) ? (dx > 0 ? 0 : 1) : (dy > 0 ? 2 : 3);
        snprintf(want + len, sizeof want - len, "%s %s %s", k >= 2 ? ", which is" : "", REL[rel], p);
    }
    CHECK(!strcmp(want, caption), "scene %d: pixels say '%s', caption says '%s'", i, want, caption);
}

TEST(shapes_render_matches_caption) {
    static uint8_t rgb[S * S * 3];
    uint8_t bg[3];
    mmc_shapes_background_rgb(bg);
    mmc_error err = {0};
    for (int i = 0; i < 200; i++) {
        mmc_shapes_scene sc;
        mmc_sample s;
        REQUIRE(mmc_shapes_make(3, "test", i, S, &sc, rgb, &s, &err) == MMC_OK, "%s", err.msg);
        double mx[MMC_SHAPES_MAX_OBJECTS], my[MMC_SHAPES_MAX_OBJECTS];
        for (int k = 0; k < sc.n; k++) {
            const mmc_shape_obj *o = &sc.obj[k];
            uint8_t c[3];
            mmc_shapes_colour_rgb(o->colour, c);
            const uint8_t *centre = rgb + ((int)o->cy * S + (int)o->cx) * 3;
            CHECK(!memcmp(centre, c, 3), "scene %d object %d: centre pixel is not %s", i, k, mmc_shapes_colour_name(o->colour));
            int n = measure(rgb, o, &mx[k], &my[k]);
            /* a small object covers at least ~20 px at 64x64; its solid pixels are centred */
            CHECK(n >= 15, "scene %d object %d (%s): only %d pixels", i, k, mmc_shapes_shape_name(o->shape), n);
            CHECK(fabs(mx[k] - o->cx) < 1.0 && fabs(my[k] - o->cy) < 1.5, "scene %d object %d: drawn at (%.1f, %.1f), placed at (%.1f, %.1f)",
                  i, k, mx[k], my[k], o->cx, o->cy);
        }
        /* the four corners are background unless an object is there */
        CHECK(!memcmp(rgb, bg, 3) || sc.obj[0].cx < 16, "scene %d: top left pixel is not background", i);
        check_caption_matches_pixels(i, &sc, mx, my, s.captions[0]);
        mmc_sample_free(&s);
    }
}

/* ----------------------------------------------------------------- Chinese */

static int utf8_ok(const char *s, int *cjk) {
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!len) return 0;
        uint32_t cp = len == 1 ? *p : *p & (0x7F >> len);
        for (int k = 1; k < len; k++) {
            if ((p[k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        if (cp >= 0x4E00 && cp <= 0x9FFF) (*cjk)++;
        p += len;
    }
    return 1;
}

TEST(shapes_chinese_captions) {
    mmc_error err = {0};
    for (int i = 0; i < 300; i++) {
        mmc_shapes_scene sc;
        mmc_sample s;
        REQUIRE(mmc_shapes_make(7, "test", i, S, &sc, NULL, &s, &err) == MMC_OK, "%s", err.msg);
        for (int c = 0; c < s.n_captions_zh; c++) {
            int cjk = 0;
            CHECK(utf8_ok(s.captions_zh[c], &cjk) && cjk >= 2, "scene %d caption %d: not Chinese UTF-8: %s", i, c, s.captions_zh[c]);
        }
        /* the Chinese fingerprint names every object too */
        for (int k = 0; k < sc.n; k++) {
            char want[128];
            snprintf(want, sizeof want, "一个%s的%s%s", sc.obj[k].large ? "大" : "小", mmc_shapes_colour_name_zh(sc.obj[k].colour),
                     mmc_shapes_shape_name_zh(sc.obj[k].shape));
            CHECK(strstr(s.captions_zh[0], want), "scene %d: '%s' lacks '%s'", i, s.captions_zh[0], want);
        }
        mmc_sample_free(&s);
    }
    /* the example of DESIGN.md §1, described from a scene built by hand */
    mmc_shapes_scene sc = {.size = S, .n = 2};
    sc.obj[0] = (mmc_shape_obj){MMC_SHAPE_CIRCLE, 0, 1, 16, 30, 9};
    sc.obj[1] = (mmc_shape_obj){MMC_SHAPE_TRIANGLE, 5, 0, 45, 34, 5};
    REQUIRE(!strcmp(mmc_shapes_colour_name(0), "red") && !strcmp(mmc_shapes_colour_name(5), "blue"), "colour table");
    mmc_sample s = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    REQUIRE(shapes_describe(&sc, &rng, &s) == MMC_OK, "describe");
    CHECK(!strcmp(s.captions[0], "a large red circle to the left of a small blue triangle"), "en: %s", s.captions[0]);
    CHECK(!strcmp(s.captions_zh[0], "一个大的红色圆形在一个小的蓝色三角形的左边"), "zh: %s", s.captions_zh[0]);
    CHECK(!strcmp(s.label, "circle"), "label %s", s.label);
    mmc_sample_free(&s);
}

/* ---------------------------------------------------------------------- PNG */

TEST(png_write_roundtrip) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/mmc_png_%d.png", (int)getpid());
    const int w = 5, h = 3;
    for (int ch = 1; ch <= 4; ch++) {
        uint8_t px[5 * 3 * 4];
        for (int i = 0; i < w * h * ch; i++) px[i] = (uint8_t)(i * 37 + ch);
        mmc_error err = {0};
        REQUIRE(mmc_png_write(path, w, h, ch, px, &err) == MMC_OK, "write %d channels: %s", ch, err.msg);
        png_image img;
        memset(&img, 0, sizeof img);
        img.version = PNG_IMAGE_VERSION;
        REQUIRE(png_image_begin_read_from_file(&img, path), "libpng cannot read it back: %s", img.message);
        CHECK(img.width == (unsigned)w && img.height == (unsigned)h, "size %ux%u", img.width, img.height);
        img.format = ch == 1 ? PNG_FORMAT_GRAY : ch == 2 ? PNG_FORMAT_GA : ch == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
        uint8_t back[5 * 3 * 4];
        REQUIRE(png_image_finish_read(&img, NULL, back, 0, NULL), "decode: %s", img.message);
        CHECK(!memcmp(back, px, (size_t)(w * h * ch)), "%d channels: pixels changed", ch);
    }
    remove(path);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    struct stat st;
    CHECK(stat(tmp, &st) != 0, "temporary file left behind");
    mmc_error err = {0};
    uint8_t px[4] = {0};
    CHECK(mmc_png_write(path, 0, 1, 3, px, &err) == MMC_ERR_USAGE, "zero width");
    CHECK(mmc_png_write(path, 1, 1, 5, px, &err) == MMC_ERR_USAGE, "5 channels");
    CHECK(mmc_png_write("/dev/null/x.png", 1, 1, 3, px, &err) == MMC_ERR_RUNTIME && strstr(err.msg, "/dev/null/x.png"),
          "unwritable: %s", err.msg);
}

/* test_import.c — the dataset importers on small inputs the tests write: IDX files
 * (valid and hostile), a Karpathy split JSON (valid and hostile), a fake emoji package
 * tree, SHA-512 against the standard's vectors. No network. */
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char g_dir[128];

static const char *tmpdir(const char *what) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mmc_import_%s_%d", what, (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0 || mkdir(g_dir, 0755) != 0) mmc_test_fail(__FILE__, __LINE__, "cannot make %s", g_dir);
    return g_dir;
}

static void rm_dir(const char *d) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    if (system(cmd) != 0) mmc_test_fail(__FILE__, __LINE__, "cleanup of %s", d);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) mmc_test_fail(__FILE__, __LINE__, "cannot write %s", path);
    if (f) fclose(f);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* mkdir -p without a shell (the hostile catalogues make many trees). */
static void mkdirs(const char *path) {
    char p[512];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1;; c++) {
        if (*c && *c != '/') continue;
        char k = *c;
        *c = 0;
        mkdir(p, 0755);
        *c = k;
        if (!k) break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) mmc_test_fail(__FILE__, __LINE__, "mkdir -p %s", path);
}

static int has(const char *msg, const char *what) { return strstr(msg, what) != NULL; }

/* ------------------------------------------------------------------ sha512 */

static void hex(const uint8_t *d, int n, char *out) {
    for (int i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

TEST(import_sha512_vectors) {
    static const struct { const char *msg; const char *hex; } V[] = {
        {"", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
        {"abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
    };
    for (int i = 0; i < 3; i++) {
        uint8_t d[64];
        char h[129];
        mmc_sha512(V[i].msg, strlen(V[i].msg), d);
        hex(d, 64, h);
        CHECK(!strcmp(h, V[i].hex), "sha512(\"%s\") = %s", V[i].msg, h);
    }
    /* 1000 bytes: crosses block boundaries at every padding case */
    char a[1000];
    memset(a, 'a', sizeof a);
    uint8_t d[64];
    char h[129];
    mmc_sha512(a, sizeof a, d);
    hex(d, 64, h);
    CHECK(!strcmp(h, "67ba5535a46e3f86dbfbed8cbbaf0125c76ed549ff8b0b9e03e0c88cf90fa634fa7b12b47d77b694de488ace8d9a65967dc96df599727d3292a8d9d447709c97"),
          "sha512(a x 1000) = %s", h);
}

TEST(import_npm_integrity) {
    const char *dir = tmpdir("sha");
    char path[256];
    snprintf(path, sizeof path, "%s/pkg.tgz", dir);
    write_text(path, "abc");
    mmc_error err = {0};
    const char *good = "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==";
    CHECK(mmc_npm_integrity_check(path, good, &err) == MMC_OK, "good integrity: %s", err.msg);
    write_text(path, "abd");
    CHECK(mmc_npm_integrity_check(path, good, &err) == MMC_ERR_INPUT && has(err.msg, "pkg.tgz") && has(err.msg, "mismatch"),
          "changed file: %s", err.msg);
    CHECK(mmc_npm_integrity_check(path, "sha1-abc", &err) == MMC_ERR_INPUT, "sha1 accepted");
    CHECK(mmc_emoji_pinned("emoji-datasource-google") && !mmc_emoji_pinned("left-pad"), "pins");
    rm_dir(dir);
}

/* -------------------------------------------------------------------- IDX */

/* An IDX header (00 00 08 ndim, big-endian dims) followed by data bytes. */
static size_t make_idx(uint8_t *buf, int ndim, const uint32_t *dims, size_t data) {
    size_t n = 0;
    buf[n++] = 0, buf[n++] = 0, buf[n++] = 8, buf[n++] = (uint8_t)ndim;
    for (int d = 0; d < ndim; d++)
        for (int k = 3; k >= 0; k--) buf[n++] = (uint8_t)(dims[d] >> (8 * k));
    for (size_t i = 0; i < data; i++) buf[n++] = (uint8_t)(i * 7);
    return n;
}

static void write_gz(const char *path, const void *p, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, p, (unsigned)n) != (int)n) mmc_test_fail(__FILE__, __LINE__, "gzwrite %s", path);
    if (g) gzclose(g);
}

TEST(import_idx_valid) {
    const char *dir = tmpdir("idx");
    static uint8_t buf[4096];
    uint32_t dims[3] = {2, 3, 4};
    size_t n = make_idx(buf, 3, dims, 24);
    char path[256];
    for (int gz = 0; gz < 2; gz++) {
        snprintf(path, sizeof path, "%s/ok%s", dir, gz ? ".gz" : "");
        if (gz) write_gz(path, buf, n);
        else write_bytes(path, buf, n);
        mmc_idx x;
        mmc_error err = {0};
        REQUIRE(mmc_idx_read(path, 1000, &x, &err) == MMC_OK, "%s: %s", path, err.msg);
        CHECK(x.ndim == 3 && x.dims[0] == 2 && x.dims[1] == 3 && x.dims[2] == 4 && x.size == 24, "dims");
        CHECK(x.data[5] == 35 && x.data[23] == (uint8_t)(23 * 7), "data");
        mmc_idx_free(&x);
    }
    rm_dir(dir);
}

TEST(import_idx_hostile) {
    const char *dir = tmpdir("idxbad");
    static uint8_t buf[4096];
    char path[256];
    snprintf(path, sizeof path, "%s/bad.gz", dir);
    struct { const char *what; uint32_t dims[4]; int ndim; size_t data; int patch; const char *msg; } C[] = {
        {"truncated", {2, 3, 4}, 3, 23, 0, "truncated"},
        {"trailing data", {2, 3, 4}, 3, 25, 0, "past"},
        {"dims overflow the file", {100, 28, 28}, 3, 100, 0, "truncated"},
        {"dims beyond any limit", {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, 4, 0, 0, "more than"},
        {"zero dim", {2, 0, 4}, 3, 0, 0, "is 0"},
        {"wrong magic", {2, 3, 4}, 3, 24, 1, "magic"},
        {"int32 type", {2, 3, 4}, 3, 24, 2, "magic"},
        {"zero dims", {0}, 0, 0, 0, "dims"},
        {"header cut", {2, 3, 4}, 3, 0, 3, "header"},
    };
    for (size_t c = 0; c < sizeof C / sizeof C[0]; c++) {
        size_t n = make_idx(buf, C[c].ndim, C[c].dims, C[c].data);
        if (C[c].patch == 1) buf[0] = 0x1f;
        if (C[c].patch == 2) buf[2] = 0x0c;
        if (C[c].patch == 3) n = 9;
        write_gz(path, buf, n);
        mmc_idx x;
        mmc_error err = {0};
        int rc = mmc_idx_read(path, 100000, &x, &err);
        CHECK(rc == MMC_ERR_INPUT && has(err.msg, "bad.gz") && has(err.msg, C[c].msg), "%s: rc %d, %s", C[c].what, rc,
              err.msg);
        CHECK(x.data == NULL, "%s: data left allocated", C[c].what);
    }
    /* a corrupt gzip stream */
    size_t n = make_idx(buf, 1, (uint32_t[]){2000}, 2000);
    write_gz(path, buf, n);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f, "reopen");
    fseek(f, 30, SEEK_SET);
    fwrite("\xff\xff\xff\xff\xff\xff", 1, 6, f);
    fclose(f);
    mmc_idx x;
    mmc_error err = {0};
    CHECK(mmc_idx_read(path, 100000, &x, &err) == MMC_ERR_INPUT && has(err.msg, "bad.gz"), "corrupt gzip: %s", err.msg);
    CHECK(mmc_idx_read("/nonexistent/x.gz", 10, &x, &err) == MMC_ERR_INPUT && has(err.msg, "/nonexistent/x.gz"),
          "missing: %s", err.msg);
    rm_dir(dir);
}

/* Tiny Fashion-MNIST: n images per part, label i % 10 (test: 9 - i % 10). */
static void write_fmnist(const char *dir, const char *part, int n, int bad_label) {
    static uint8_t buf[64 * 784 + 64];
    char path[256];
    size_t len = make_idx(buf, 3, (uint32_t[]){(uint32_t)n, 28, 28}, (size_t)n * 784);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, part);
    write_gz(path, buf, len);
    len = make_idx(buf, 1, (uint32_t[]){(uint32_t)n}, 0);
    for (int i = 0; i < n; i++) buf[len++] = (uint8_t)(part[0] == 't' && part[1] == 'r' ? i % 10 : 9 - i % 10);
    if (bad_label) buf[len - 1] = 10;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, part);
    write_gz(path, buf, len);
}

TEST(import_fashion_mnist_small) {
    const char *dir = tmpdir("fm");
    char src[400], out[256];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    mkdirs(src);
    write_fmnist(src, "train", 12, 0);
    write_fmnist(src, "t10k", 5, 0);
    mmc_import_stats st;
    mmc_error err = {0};
    REQUIRE(mmc_import_fashion_mnist(src, out, 2, NULL, NULL, &st, &err) == MMC_OK, "import: %s", err.msg);
    CHECK(st.n[0] == 10 && st.n[1] == 2 && st.n[2] == 5, "counts %lld %lld %lld", (long long)st.n[0],
          (long long)st.n[1], (long long)st.n[2]);
    mmc_manifest *m = mmc_manifest_load(out, "val", &err);
    REQUIRE(m, "load val: %s", err.msg);
    CHECK(mmc_manifest_check_images(m, &err) == MMC_OK, "images: %s", err.msg);
    CHECK(m->count == 2 && !strcmp(m->samples[0].id, "train-000010") && !strcmp(m->samples[1].label, "trouser"),
          "val sample: %s %s", m->samples[0].id, m->samples[1].label);
    CHECK(m->samples[0].n_captions >= 1 && !strcmp(m->samples[0].captions[0], "a photo of a t-shirt"), "caption %s",
          m->samples[0].captions[0]);
    CHECK(m->samples[1].n_captions_zh >= 1 && has(m->samples[1].captions_zh[0], "裤子"), "zh caption");
    mmc_image img = {0};
    snprintf(src, sizeof src, "%s/images/test-000004.png", out);
    CHECK(mmc_image_load(&img, src, 1, &err) == MMC_OK && img.w == 28 && img.h == 28, "png: %s", err.msg);
    mmc_image_free(&img);
    mmc_manifest_free(m);
    /* a label outside 0..9 and a count mismatch are refused, naming the file */
    snprintf(src, sizeof src, "%s/src", dir);
    write_fmnist(src, "t10k", 5, 1);
    CHECK(mmc_import_fashion_mnist(src, out, 2, NULL, NULL, &st, &err) == MMC_ERR_INPUT &&
              has(err.msg, "t10k-labels-idx1-ubyte.gz") && has(err.msg, "label 10"), "bad label: %s", err.msg);
    write_fmnist(src, "t10k", 5, 0);
    static uint8_t buf[64];
    size_t len = make_idx(buf, 1, (uint32_t[]){4}, 4);
    char labels[512];
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", src);
    write_gz(labels, buf, len);
    CHECK(mmc_import_fashion_mnist(src, out, 2, NULL, NULL, &st, &err) == MMC_ERR_INPUT && has(err.msg, "4 labels"),
          "label count: %s", err.msg);
    rm_dir(dir);
}

/* -------------------------------------------------------------- Karpathy */

static const char *KARPATHY_OK =
    "{\"dataset\": \"coco\", \"images\": ["
    "{\"filepath\": \"train2014\", \"filename\": \"a.jpg\", \"split\": \"train\", \"cocoid\": 1,"
    " \"sentences\": [{\"raw\": \"A cat on a mat. \\n\", \"tokens\": [\"a\"]}, {\"raw\": \"一只猫\"}]},"
    "{\"filepath\": \"val2014\", \"filename\": \"b.jpg\", \"split\": \"restval\", \"sentences\": [{\"raw\": \"A dog.\"}]},"
    "{\"filepath\": \"val2014\", \"filename\": \"c.jpg\", \"split\": \"val\", \"sentences\": [{\"raw\": \"A bird.\"}]},"
    "{\"filepath\": \"val2014\", \"filename\": \"d.jpg\", \"split\": \"test\", \"sentences\": [{\"raw\": \"A fish.\"}]},"
    "{\"filepath\": \"val2014\", \"filename\": \"gone.jpg\", \"split\": \"test\", \"sentences\": [{\"raw\": \"x\"}]},"
    "{\"filename\": \"e.jpg\", \"split\": \"test\", \"sentences\": [{\"raw\": \"A flickr photo.\"}]}]}";

static void karpathy_images(const char *dir) {
    char p[300];
    const char *files[] = {"train2014/a.jpg", "val2014/b.jpg", "val2014/c.jpg", "val2014/d.jpg", "e.jpg"};
    snprintf(p, sizeof p, "%s/img/train2014", dir);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/img/val2014", dir);
    mkdirs(p);
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/img/%s", dir, files[i]);
        write_text(p, "not really a jpeg");
    }
}

TEST(import_karpathy_valid) {
    const char *dir = tmpdir("karpathy");
    char json[256], img[256], out[256];
    snprintf(json, sizeof json, "%s/dataset_coco.json", dir);
    snprintf(img, sizeof img, "%s/img", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    karpathy_images(dir);
    write_text(json, KARPATHY_OK);
    mmc_import_stats st;
    mmc_error err = {0};
    REQUIRE(mmc_import_karpathy(json, img, out, NULL, NULL, &st, &err) == MMC_OK, "import: %s", err.msg);
    CHECK(st.n[0] == 2 && st.n[1] == 1 && st.n[2] == 2 && st.skipped == 1, "counts %lld %lld %lld skipped %lld",
          (long long)st.n[0], (long long)st.n[1], (long long)st.n[2], (long long)st.skipped);
    mmc_manifest *m = mmc_manifest_load(out, "train", &err);
    REQUIRE(m, "load: %s", err.msg);
    CHECK(mmc_manifest_check_images(m, &err) == MMC_OK, "images resolve through the link: %s", err.msg);
    CHECK(m->count == 2 && !strcmp(m->samples[0].image, "images/train2014/a.jpg") && m->samples[0].n_captions == 2 &&
              !strcmp(m->samples[0].captions[0], "A cat on a mat."),
          "train[0]: %s '%s'", m->samples[0].image, m->samples[0].captions[0]);
    mmc_manifest_free(m);
    m = mmc_manifest_load(out, "test", &err);
    REQUIRE(m, "load test: %s", err.msg);
    CHECK(m->count == 2 && !strcmp(m->samples[1].image, "images/val2014/d.jpg") && !strcmp(m->samples[0].id, "e.jpg"),
          "test: %s %s", m->samples[0].id, m->samples[1].image);
    mmc_manifest_free(m);
    /* again into the same folder: the link is kept */
    CHECK(mmc_import_karpathy(json, img, out, NULL, NULL, &st, &err) == MMC_OK, "second import: %s", err.msg);
    /* the wrong images folder: nothing found */
    CHECK(mmc_import_karpathy(json, dir, out, NULL, NULL, &st, &err) == MMC_ERR_INPUT && has(err.msg, "none of"),
          "wrong folder: %s", err.msg);
    rm_dir(dir);
}

TEST(import_karpathy_hostile) {
    const char *dir = tmpdir("karpathybad");
    char json[256], img[256], out[256];
    snprintf(json, sizeof json, "%s/dataset_bad.json", dir);
    snprintf(img, sizeof img, "%s/img", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    karpathy_images(dir);
#define IMG(body) "{\"images\": [" body "]}"
    static const struct { const char *what, *json, *msg; } C[] = {
        {"traversal in filename", IMG("{\"filename\": \"../../etc/passwd\", \"split\": \"train\", \"sentences\": []}"), "'..'"},
        {"traversal in filepath", IMG("{\"filepath\": \"val2014/../../..\", \"filename\": \"b.jpg\", \"split\": \"train\", \"sentences\": []}"), "'..'"},
        {"absolute filepath", IMG("{\"filepath\": \"/etc\", \"filename\": \"passwd\", \"split\": \"train\", \"sentences\": []}"), "absolute"},
        {"slash in filename", IMG("{\"filename\": \"val2014/b.jpg\", \"split\": \"train\", \"sentences\": []}"), "file name"},
        {"control character", IMG("{\"filename\": \"b\\u0001.jpg\", \"split\": \"train\", \"sentences\": []}"), "control"},
        {"filename a number", IMG("{\"filename\": 7, \"split\": \"train\", \"sentences\": []}"), "filename"},
        {"split a number", IMG("{\"filename\": \"e.jpg\", \"split\": 1, \"sentences\": []}"), "split"},
        {"unknown split", IMG("{\"filename\": \"e.jpg\", \"split\": \"holdout\", \"sentences\": []}"), "split"},
        {"sentences an object", IMG("{\"filename\": \"e.jpg\", \"split\": \"train\", \"sentences\": {}}"), "sentences"},
        {"raw a number", IMG("{\"filename\": \"e.jpg\", \"split\": \"train\", \"sentences\": [{\"raw\": 3}]}"), "raw"},
        {"image not an object", IMG("[1, 2]"), "images[0]"},
        {"listed twice", IMG("{\"filename\": \"e.jpg\", \"split\": \"train\", \"sentences\": []},"
                             "{\"filename\": \"e.jpg\", \"split\": \"train\", \"sentences\": []}"), "twice"},
        {"in two splits", IMG("{\"filename\": \"e.jpg\", \"split\": \"train\", \"sentences\": []},"
                              "{\"filename\": \"e.jpg\", \"split\": \"test\", \"sentences\": []}"), "two splits"},
        {"no images array", "{\"images\": 5}", "array"},
        {"empty", IMG(""), "empty"},
        {"root array", "[]", "array"},
        {"not JSON", "{\"images\": [", "JSON"},
        {"invalid UTF-8", IMG("{\"filename\": \"e.jpg\", \"split\": \"train\", \"sentences\": [{\"raw\": \"caf\xc3\"}]}"), "UTF-8"},
        {"overlong UTF-8", IMG("{\"filename\": \"e\xc0\xae.jpg\", \"split\": \"train\", \"sentences\": []}"), "UTF-8"},
    };
#undef IMG
    for (size_t c = 0; c < sizeof C / sizeof C[0]; c++) {
        write_text(json, C[c].json);
        mmc_import_stats st;
        mmc_error err = {0};
        int rc = mmc_import_karpathy(json, img, out, NULL, NULL, &st, &err);
        CHECK(rc == MMC_ERR_INPUT && has(err.msg, "dataset_bad.json") && has(err.msg, C[c].msg), "%s: rc %d, %s",
              C[c].what, rc, err.msg);
    }
    struct stat sb;
    CHECK(stat(out, &sb) != 0, "a refused file still made %s", out);
    rm_dir(dir);
}

/* ------------------------------------------------------------------ emoji */

static void fake_png(const char *dir, const char *style, const char *name) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s/img/%s/64", dir, style, style);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/%s/img/%s/64/%s", dir, style, style, name);
    static uint8_t px[64 * 64 * 4];
    for (int i = 0; i < 64 * 64 * 4; i++) px[i] = (uint8_t)(i * 13 + name[0]);
    mmc_error err = {0};
    if (mmc_png_write(p, 64, 64, 4, px, &err)) mmc_test_fail(__FILE__, __LINE__, "png: %s", err.msg);
}

static const char *DS_GOOGLE =
    "[{\"name\": \"GRINNING FACE\", \"unified\": \"1F600\", \"image\": \"1f600.png\", \"category\": \"Smileys & Emotion\","
    "  \"short_names\": [\"grinning\"], \"has_img_google\": true, \"has_img_twitter\": true},"
    " {\"name\": \"HEAVY BLACK HEART\", \"unified\": \"2764-FE0F\", \"image\": \"2764-fe0f.png\", \"category\": \"Smileys & Emotion\","
    "  \"short_names\": [\"heart\"], \"has_img_google\": true},"
    " {\"name\": \"THUMBS UP SIGN\", \"unified\": \"1F44D\", \"image\": \"1f44d.png\", \"category\": \"People & Body\","
    "  \"short_names\": [\"+1\", \"thumbs_up\"]},"
    " {\"name\": null, \"unified\": \"1F680\", \"image\": \"1f680.png\", \"category\": \"Travel & Places\", \"has_img_google\": false}]";

static void fake_packages(const char *dir) {
    char p[400];
    const char *sub[] = {"base/en", "base/zh", "google", "twitter"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
        mkdirs(p);
    }
    snprintf(p, sizeof p, "%s/base/en/data.json", dir);
    write_text(p, "[{\"label\": \"grinning face\", \"hexcode\": \"1F600\", \"tags\": [\"face\", \"grin\"], \"group\": 0},"
                  " {\"label\": \"red heart\", \"hexcode\": \"2764\", \"tags\": [\"heart\"]},"
                  " {\"label\": \"regional indicator A\", \"hexcode\": \"1F1E6\"}]");
    snprintf(p, sizeof p, "%s/base/zh/data.json", dir);
    write_text(p, "[{\"label\": \"嘿嘿\", \"hexcode\": \"1F600\", \"tags\": [\"笑脸\", \"嘿嘿\"]}]");
    snprintf(p, sizeof p, "%s/google/emoji.json", dir);
    write_text(p, DS_GOOGLE);
    snprintf(p, sizeof p, "%s/twitter/emoji.json", dir);
    write_text(p, DS_GOOGLE); /* same records; twitter lacks the thumbs-up and rocket files */
    fake_png(dir, "google", "1f600.png");
    fake_png(dir, "google", "2764-fe0f.png");
    fake_png(dir, "google", "1f44d.png");
    fake_png(dir, "twitter", "1f600.png");
    fake_png(dir, "twitter", "2764-fe0f.png");
}

static char g_paths[4][300];

static mmc_emoji_opts fake_opts(const char *dir, int split) {
    snprintf(g_paths[0], 300, "%s/out", dir);
    snprintf(g_paths[1], 300, "%s/base", dir);
    snprintf(g_paths[2], 300, "%s/google", dir);
    snprintf(g_paths[3], 300, "%s/twitter", dir);
    mmc_emoji_opts o = {.out = g_paths[0], .emojibase_dir = g_paths[1], .n_styles = 2, .split = split};
    o.styles[0] = "google", o.styles[1] = "twitter";
    o.style_dirs[0] = g_paths[2], o.style_dirs[1] = g_paths[3];
    return o;
}

static const mmc_sample *find_id(const mmc_manifest *m, const char *id) {
    for (int i = 0; m && i < m->count; i++)
        if (!strcmp(m->samples[i].id, id)) return &m->samples[i];
    return NULL;
}

TEST(import_emoji_fake_package) {
    const char *dir = tmpdir("emoji");
    fake_packages(dir);
    mmc_emoji_opts o = fake_opts(dir, MMC_EMOJI_SPLIT_STYLE);
    mmc_import_stats st;
    mmc_error err = {0};
    REQUIRE(mmc_import_emoji_build(&o, &st, &err) == MMC_OK, "build: %s", err.msg);
    CHECK(st.n[0] + st.n[1] == 3 && st.n[2] == 2 && st.skipped == 3, "counts %lld+%lld / %lld, skipped %lld",
          (long long)st.n[0], (long long)st.n[1], (long long)st.n[2], (long long)st.skipped);
    CHECK(st.no_text == 1 && st.no_zh == 3, "no_text %lld no_zh %lld", (long long)st.no_text, (long long)st.no_zh);
    mmc_manifest *m = mmc_manifest_load(o.out, "test", &err);
    REQUIRE(m, "load test: %s", err.msg);
    CHECK(mmc_manifest_check_images(m, &err) == MMC_OK, "images: %s", err.msg);
    const mmc_sample *s = find_id(m, "twitter-2764-fe0f");
    /* emojibase writes 2764 without FE0F: matched anyway */
    CHECK(s && s->n_captions == 2 && !strcmp(s->captions[0], "red heart") && !strcmp(s->label, "Smileys & Emotion") &&
              !strcmp(s->image, "images/twitter/2764-fe0f.png") && s->n_captions_zh == 0,
          "heart sample");
    s = find_id(m, "twitter-1f600");
    CHECK(s && s->n_captions == 3 && !strcmp(s->captions[2], "grin") && s->n_captions_zh == 2 &&
              !strcmp(s->captions_zh[0], "嘿嘿") && !strcmp(s->captions_zh[1], "笑脸"),
          "grinning sample");
    mmc_manifest_free(m);
    /* the thumbs up has no CLDR entry: the datasource's names, lowercased */
    mmc_manifest *tr = mmc_manifest_load(o.out, "train", &err), *va = mmc_manifest_load(o.out, "val", &err);
    s = find_id(tr, "google-1f44d");
    if (!s) s = find_id(va, "google-1f44d");
    CHECK(s && s->n_captions == 3 && !strcmp(s->captions[0], "thumbs up sign") && !strcmp(s->captions[2], "thumbs up"),
          "fallback names");
    mmc_image img = {0};
    char p[400];
    snprintf(p, sizeof p, "%s/images/google/1f44d.png", o.out);
    CHECK(mmc_image_load(&img, p, 3, &err) == MMC_OK && img.w == 64, "copied png: %s", err.msg);
    mmc_image_free(&img);
    mmc_manifest_free(tr);
    mmc_manifest_free(va);
    /* within one style: every emoji once per style, one split per emoji */
    o = fake_opts(dir, MMC_EMOJI_SPLIT_WITHIN);
    o.n_styles = 1;
    REQUIRE(mmc_import_emoji_build(&o, &st, &err) == MMC_OK, "within: %s", err.msg);
    CHECK(st.n[0] + st.n[1] + st.n[2] == 3 && st.skipped == 1, "within counts");
    o.split = MMC_EMOJI_SPLIT_STYLE;
    CHECK(mmc_import_emoji_build(&o, &st, &err) == MMC_ERR_USAGE, "style split with one style");
    rm_dir(dir);
}

/* Replaces one file of a fresh fake tree and expects MMC_ERR_INPUT naming `file`. */
static void emoji_bad(const char *what, const char *rel, const char *content, const char *file, const char *msg) {
    const char *dir = tmpdir("emojibad");
    fake_packages(dir);
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    if (content) write_text(p, content);
    else { /* a link from inside the package to a PNG (or a folder of them) outside it */
        char target[400];
        snprintf(target, sizeof target, "%s/outside", dir);
        rename(p, target);
        if (symlink(target, p) != 0) mmc_test_fail(__FILE__, __LINE__, "symlink");
    }
    mmc_emoji_opts o = fake_opts(dir, MMC_EMOJI_SPLIT_STYLE);
    mmc_import_stats st;
    mmc_error err = {0};
    int rc = mmc_import_emoji_build(&o, &st, &err);
    CHECK(rc == MMC_ERR_INPUT && has(err.msg, file) && has(err.msg, msg), "%s: rc %d, %s", what, rc, err.msg);
    rm_dir(dir);
}

TEST(import_emoji_hostile) {
    emoji_bad("image path traversal", "google/emoji.json",
              "[{\"unified\": \"1F600\", \"image\": \"../../../etc/passwd\", \"category\": \"x\"}]", "emoji.json", "image");
    emoji_bad("image not a string", "google/emoji.json", "[{\"unified\": \"1F600\", \"image\": 5, \"category\": \"x\"}]",
              "emoji.json", "image");
    emoji_bad("unified not hex", "google/emoji.json",
              "[{\"unified\": \"1F600-ZZ\", \"image\": \"1f600.png\", \"category\": \"x\"}]", "emoji.json", "unified");
    emoji_bad("has_img a string", "google/emoji.json",
              "[{\"unified\": \"1F600\", \"image\": \"1f600.png\", \"category\": \"x\", \"has_img_google\": \"yes\"}]",
              "emoji.json", "has_img");
    emoji_bad("short_names not strings", "google/emoji.json",
              "[{\"unified\": \"1F600\", \"image\": \"1f600.png\", \"category\": \"x\", \"short_names\": [1]}]",
              "emoji.json", "short_names");
    emoji_bad("records not an array", "twitter/emoji.json", "{\"1F600\": {}}", "emoji.json", "array");
    emoji_bad("PNG that is not a PNG", "google/img/google/64/1f600.png", "GIF89a not a png", "1f600.png", "not a PNG");
    emoji_bad("truncated PNG", "google/img/google/64/1f600.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "1f600.png", "1f600.png");
    emoji_bad("link out of the package", "google/img/google/64/1f600.png", NULL, "1f600.png", "inside");
    emoji_bad("folder link out of the package", "google/img/google/64", NULL, "1f600.png", "inside");
    emoji_bad("tags not an array", "base/en/data.json", "[{\"label\": \"a\", \"hexcode\": \"1F600\", \"tags\": \"face\"}]",
              "data.json", "tags");
    emoji_bad("label missing", "base/en/data.json", "[{\"hexcode\": \"1F600\"}]", "data.json", "label");
    emoji_bad("invalid UTF-8", "base/zh/data.json", "[{\"label\": \"\xe5\x98\", \"hexcode\": \"1F600\"}]", "data.json",
              "UTF-8");
    emoji_bad("not JSON", "base/zh/data.json", "[{\"label\": ", "data.json", "JSON");
}

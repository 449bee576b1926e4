/* test_manifest.c — manifests round trip, and a catalogue of hostile files that must each
 * fail with MMC_ERR_INPUT naming the file and the line. */
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[128];

static const char *tmpdir(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mmc_manifest_%d", (int)getpid());
    mkdir(g_dir, 0755);
    return g_dir;
}

static void rmdir_all(const char *d) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    if (system(cmd) != 0) mmc_test_fail(__FILE__, __LINE__, "cleanup of %s", d);
}

static char *S(const char *s) {
    char *d = mmc_malloc(strlen(s) + 1);
    strcpy(d, s);
    return d;
}

static void fill_sample(mmc_sample *s, int i) {
    char buf[64];
    memset(s, 0, sizeof *s);
    snprintf(buf, sizeof buf, "s%d", i);
    s->id = S(buf);
    snprintf(buf, sizeof buf, "images/s%d.png", i);
    s->image = S(buf);
    s->n_captions = 2;
    s->captions = mmc_calloc(2, sizeof(char *));
    s->captions[0] = S("a \"quoted\" caption\nwith a newline, a tab\t and a backslash \\");
    s->captions[1] = S(i ? "second" : "");
    s->n_captions_zh = 1;
    s->captions_zh = mmc_calloc(1, sizeof(char *));
    s->captions_zh[0] = S("一个大的红色圆形在一个小的蓝色三角形的左边");
    s->n_qa = 1;
    s->qa = mmc_calloc(1, sizeof(mmc_qa));
    s->qa[0].question = S("what colour is the circle?");
    s->qa[0].answer = S("red");
    s->qa[0].type = i ? S("colour") : NULL;
    s->label = i ? S("circle") : NULL;
}

static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static int same_sample(const mmc_sample *a, const mmc_sample *b) {
    int ok = str_eq(a->id, b->id) && str_eq(a->image, b->image) && str_eq(a->label, b->label) &&
             a->n_captions == b->n_captions && a->n_captions_zh == b->n_captions_zh && a->n_qa == b->n_qa;
    for (int k = 0; ok && k < a->n_captions; k++) ok = str_eq(a->captions[k], b->captions[k]);
    for (int k = 0; ok && k < a->n_captions_zh; k++) ok = str_eq(a->captions_zh[k], b->captions_zh[k]);
    for (int k = 0; ok && k < a->n_qa; k++)
        ok = str_eq(a->qa[k].question, b->qa[k].question) && str_eq(a->qa[k].answer, b->qa[k].answer) &&
             str_eq(a->qa[k].type, b->qa[k].type);
    return ok;
}

TEST(manifest_roundtrip) {
    const char *dir = tmpdir();
    mmc_sample s[3];
    for (int i = 0; i < 3; i++) fill_sample(&s[i], i);
    char path[256];
    snprintf(path, sizeof path, "%s/manifest-train.jsonl", dir);
    mmc_error err = {0};
    REQUIRE(mmc_manifest_write(path, s, 3, &err) == MMC_OK, "write: %s", err.msg);
    mmc_manifest *m = mmc_manifest_load(dir, "train", &err);
    REQUIRE(m, "load: %s", err.msg);
    CHECK(m->count == 3, "count %d", m->count);
    for (int i = 0; i < 3 && i < m->count; i++) CHECK(same_sample(&s[i], &m->samples[i]), "sample %d changed", i);
    CHECK(!strcmp(m->dir, dir), "dir %s", m->dir);
    /* the images do not exist */
    CHECK(mmc_manifest_check_images(m, &err) == MMC_ERR_INPUT && strstr(err.msg, "s0.png") && strstr(err.msg, "missing"),
          "missing image: %s", err.msg);
    mmc_manifest_free(m);
    /* the writer refuses what the reader would refuse, and leaves the old file */
    mmc_free(s[1].image);
    s[1].image = S("../outside.png");
    CHECK(mmc_manifest_write(path, s, 3, &err) == MMC_ERR_USAGE && strstr(err.msg, "sample 1"), "bad write: %s", err.msg);
    CHECK(mmc_sample_to_json(&s[1]) == NULL, "to_json of a bad sample");
    m = mmc_manifest_load(dir, "train", &err);
    CHECK(m && m->count == 3, "old file kept");
    mmc_manifest_free(m);
    for (int i = 0; i < 3; i++) mmc_sample_free(&s[i]);
    rmdir_all(dir);
}

TEST(manifest_tolerates) {
    /* blank lines, CRLF, unknown fields, a numeric label, null label, empty arrays */
    const char *text = "\n{\"id\":\"a\",\"image\":\"a.png\",\"extra\":{\"x\":[1,2]},\"label\":3}\r\n"
                       "   \n"
                       "{\"id\":\"b\",\"image\":\"./imgs/b.png\",\"captions\":[],\"qa\":[],\"label\":null}";
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_parse("t.jsonl", "/data", text, strlen(text), &err);
    REQUIRE(m, "%s", err.msg);
    CHECK(m->count == 2, "count %d", m->count);
    CHECK(m->samples[0].label && !strcmp(m->samples[0].label, "3"), "numeric label");
    CHECK(!m->samples[1].label && m->samples[1].n_captions == 0, "null label, empty captions");
    mmc_manifest_free(m);
}

/* ------------------------------------------------------------ the catalogue */

typedef struct hostile { const char *why; const char *text; int line; } hostile;

#define OK_LINE "{\"id\":\"ok\",\"image\":\"i.png\"}\n"

static const hostile CATALOGUE[] = {
    {"malformed JSON", OK_LINE "{\"id\":\"x\",\"image\":\"i.png\"\n", 2},
    {"trailing garbage", OK_LINE "{\"id\":\"x\",\"image\":\"i.png\"} {}\n", 2},
    {"not an object", "[\"id\",\"image\"]\n", 1},
    {"a bare string", "\"hello\"\n", 1},
    {"id is a number", "{\"id\":5,\"image\":\"i.png\"}\n", 1},
    {"id missing", "{\"image\":\"i.png\"}\n", 1},
    {"id empty", "{\"id\":\"\",\"image\":\"i.png\"}\n", 1},
    {"image missing", "{\"id\":\"x\"}\n", 1},
    {"image is an array", "{\"id\":\"x\",\"image\":[\"i.png\"]}\n", 1},
    {"image absolute", "{\"id\":\"x\",\"image\":\"/etc/passwd\"}\n", 1},
    {"image escapes", "{\"id\":\"x\",\"image\":\"../secret.png\"}\n", 1},
    {"image escapes deep", OK_LINE "{\"id\":\"x\",\"image\":\"images/../../x.png\"}\n", 2},
    {"image ends in ..", "{\"id\":\"x\",\"image\":\"images/..\"}\n", 1},
    {"image empty", "{\"id\":\"x\",\"image\":\"\"}\n", 1},
    {"image control char", "{\"id\":\"x\",\"image\":\"a\\u0001.png\"}\n", 1},
    {"captions a string", "{\"id\":\"x\",\"image\":\"i.png\",\"captions\":\"a cat\"}\n", 1},
    {"captions with a number", "{\"id\":\"x\",\"image\":\"i.png\",\"captions\":[\"a\",3]}\n", 1},
    {"captions_zh with an object", "{\"id\":\"x\",\"image\":\"i.png\",\"captions_zh\":[{}]}\n", 1},
    {"qa an object", "{\"id\":\"x\",\"image\":\"i.png\",\"qa\":{\"question\":\"q\"}}\n", 1},
    {"qa without answer", "{\"id\":\"x\",\"image\":\"i.png\",\"qa\":[{\"question\":\"q\"}]}\n", 1},
    {"qa item a string", "{\"id\":\"x\",\"image\":\"i.png\",\"qa\":[\"q\"]}\n", 1},
    {"qa type a number", "{\"id\":\"x\",\"image\":\"i.png\",\"qa\":[{\"question\":\"q\",\"answer\":\"a\",\"type\":1}]}\n", 1},
    {"label an object", "{\"id\":\"x\",\"image\":\"i.png\",\"label\":{}}\n", 1},
    {"invalid UTF-8", OK_LINE "\n{\"id\":\"x\",\"image\":\"i.png\",\"captions\":[\"\xff\xfe\"]}\n", 3},
    {"overlong UTF-8", "{\"id\":\"x\",\"image\":\"i\xc0\xaf.png\"}\n", 1},
    {"UTF-8 surrogate", "{\"id\":\"x\",\"image\":\"i.png\",\"label\":\"\xed\xa0\x80\"}\n", 1},
    {"escaped lone surrogate", "{\"id\":\"x\",\"image\":\"i.png\",\"label\":\"\\ud800\"}\n", 1},
    {"truncated UTF-8 at the end", "{\"id\":\"x\",\"image\":\"i.png\"}\xe4\xb8", 1},
    {"duplicate id", OK_LINE "{\"id\":\"y\",\"image\":\"j.png\"}\n" OK_LINE, 3},
};

static void check_rejected(const char *why, const char *name, const char *text, size_t n, int line) {
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_parse(name, ".", text, n, &err);
    CHECK(!m && err.code == MMC_ERR_INPUT, "%s: accepted (code %d)", why, err.code);
    mmc_manifest_free(m);
    char want[160];
    if (line > 0) snprintf(want, sizeof want, "%s:%d:", name, line);
    else snprintf(want, sizeof want, "%s", name);
    CHECK(strstr(err.msg, want), "%s: message should name %s: %s", why, want, err.msg);
}

TEST(manifest_hostile_catalogue) {
    for (size_t i = 0; i < sizeof CATALOGUE / sizeof CATALOGUE[0]; i++) {
        const hostile *h = &CATALOGUE[i];
        check_rejected(h->why, "hostile.jsonl", h->text, strlen(h->text), h->line);
    }
    check_rejected("empty file", "empty.jsonl", "", 0, 0);
    check_rejected("only blank lines", "blank.jsonl", "\n  \n\r\n", 6, 0);
    /* a NUL byte inside a line */
    const char nul[] = "{\"id\":\"x\",\"image\":\"i.png\"}\n{\"id\":\"y\",\0\"image\":\"i.png\"}\n";
    check_rejected("NUL byte", "nul.jsonl", nul, sizeof nul - 1, 2);
    /* a line over 1 MB */
    size_t big = MMC_MANIFEST_MAX_LINE + 100;
    char *huge = malloc(big + 128);
    int off = snprintf(huge, 64, OK_LINE "{\"id\":\"x\",\"image\":\"i.png\",\"label\":\"");
    memset(huge + off, 'a', big);
    strcpy(huge + off + big, "\"}\n");
    check_rejected("huge line", "huge.jsonl", huge, strlen(huge), 2);
    free(huge);
    /* nesting deeper than the JSON parser allows */
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 64);
    off = snprintf(deep, 64, "{\"id\":\"x\",\"image\":\"i.png\",\"extra\":");
    memset(deep + off, '[', depth);
    memset(deep + off + depth, ']', depth);
    strcpy(deep + off + 2 * depth, "}\n");
    check_rejected("deep nesting", "deep.jsonl", deep, strlen(deep), 1);
    free(deep);
}

TEST(manifest_load_bad_files) {
    const char *dir = tmpdir();
    mmc_error err = {0};
    CHECK(!mmc_manifest_load(dir, "train", &err) && err.code == MMC_ERR_INPUT && strstr(err.msg, "manifest-train.jsonl"),
          "missing file: %s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/manifest-val.jsonl", dir);
    mkdir(path, 0755);
    CHECK(!mmc_manifest_load(dir, "val", &err) && err.code == MMC_ERR_INPUT && strstr(err.msg, "directory"),
          "directory: %s", err.msg);
    snprintf(path, sizeof path, "%s/manifest-test.jsonl", dir);
    mmc_error werr = {0};
    const char *text = "{\"id\":\"a\",\"image\":\"a.png\"}\n{\"id\":\"b\",\"image\":\"b.png\"\n";
    REQUIRE(mmc_write_file_atomic(path, text, strlen(text), &werr) == MMC_OK, "%s", werr.msg);
    CHECK(!mmc_manifest_load(dir, "test", &err) && err.code == MMC_ERR_INPUT && strstr(err.msg, "manifest-test.jsonl:2:"),
          "bad line in a file: %s", err.msg);
    CHECK(!mmc_manifest_load(dir, "../x", &err) && err.code == MMC_ERR_USAGE, "split with a path: %s", err.msg);
    /* images: present, missing, a directory */
    text = "{\"id\":\"a\",\"image\":\"a.png\"}\n{\"id\":\"b\",\"image\":\"sub\"}\n";
    REQUIRE(mmc_write_file_atomic(path, text, strlen(text), &werr) == MMC_OK, "%s", werr.msg);
    snprintf(path, sizeof path, "%s/a.png", dir);
    REQUIRE(mmc_write_file_atomic(path, "x", 1, &werr) == MMC_OK, "%s", werr.msg);
    snprintf(path, sizeof path, "%s/sub", dir);
    mkdir(path, 0755);
    mmc_manifest *m = mmc_manifest_load(dir, "test", &err);
    REQUIRE(m, "%s", err.msg);
    CHECK(mmc_manifest_check_images(m, &err) == MMC_ERR_INPUT && strstr(err.msg, "'b'") && strstr(err.msg, "not a regular file"),
          "image is a directory: %s", err.msg);
    mmc_manifest_free(m);
    rmdir_all(dir);
}

/* ----------------------------------------------------------- statistics */

TEST(dataset_stats) {
    const char *text =
        "{\"id\":\"1\",\"image\":\"a\",\"captions\":[\"x\",\"z\"],\"qa\":[{\"question\":\"q\",\"answer\":\"yes\",\"type\":\"t\"},"
        "{\"question\":\"q\",\"answer\":\"red\",\"type\":\"c\"}]}\n"
        "{\"id\":\"2\",\"image\":\"a\",\"captions\":[\"x\"],\"qa\":[{\"question\":\"q\",\"answer\":\"no\",\"type\":\"t\"},"
        "{\"question\":\"q\",\"answer\":\"red\",\"type\":\"c\"}]}\n"
        "{\"id\":\"3\",\"image\":\"a\",\"captions\":[\"y\"],\"qa\":[{\"question\":\"q\",\"answer\":\"no\",\"type\":\"t\"},"
        "{\"question\":\"q\",\"answer\":\"blue\",\"type\":\"c\"},{\"question\":\"q\",\"answer\":\"2\"}]}\n"
        "{\"id\":\"4\",\"image\":\"a\"}\n";
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_parse("s.jsonl", ".", text, strlen(text), &err);
    REQUIRE(m, "%s", err.msg);
    /* "x" twice, "y" once, one sample without captions: 1 of 4 unique */
    CHECK(fabs(mmc_captions_unique_rate(m->samples, m->count) - 0.25) < 1e-9, "unique rate %g",
          mmc_captions_unique_rate(m->samples, m->count));
    mmc_qa_type_stats st[4];
    int nt = mmc_qa_stats(m->samples, m->count, st, 4);
    REQUIRE(nt == 3, "types %d", nt);
    CHECK(!strcmp(st[0].type, "t") && st[0].total == 3 && st[0].yes == 1 && st[0].no == 2 && !strcmp(st[0].majority, "no") &&
              st[0].majority_count == 2 && st[0].open_majority_count == 0,
          "t: %d %d %d %s", st[0].total, st[0].yes, st[0].no, st[0].majority);
    CHECK(!strcmp(st[1].type, "c") && st[1].distinct == 2 && !strcmp(st[1].open_majority, "red") && st[1].open_majority_count == 2,
          "c: %d %s", st[1].distinct, st[1].open_majority);
    CHECK(!strcmp(st[2].type, "") && st[2].total == 1, "untyped");
    mmc_manifest_free(m);
}

/* "video": a path under image's rules; a sample may have a video and no image only for a
 * reader that asks (MMC_MANIFEST_IMAGE_OPTIONAL); image readers refuse it by name. */
TEST(manifest_video_field) {
    const char *both = "{\"id\":\"a\",\"image\":\"images/a.png\",\"video\":\"videos/a.mkv\",\"captions\":[\"x\"]}\n"
                       "{\"id\":\"b\",\"image\":\"images/b.png\"}\n";
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_parse("both.jsonl", "/data", both, strlen(both), &err);
    REQUIRE(m, "%s", err.msg);
    CHECK(m->count == 2 && str_eq(m->samples[0].video, "videos/a.mkv") && !m->samples[1].video, "video fields");
    char *line = mmc_sample_to_json(&m->samples[0]);
    CHECK(line && strstr(line, "\"video\":\"videos/a.mkv\""), "written back: %s", line ? line : "(null)");
    mmc_free(line);
    mmc_manifest_free(m);

    const char *only = "{\"id\":\"a\",\"video\":\"videos/a.mkv\"}\n";
    m = mmc_manifest_parse("only.jsonl", "/data", only, strlen(only), &err);
    CHECK(!m && err.code == MMC_ERR_INPUT && strstr(err.msg, "only.jsonl:1") && strstr(err.msg, "only a video"),
          "a plain reader must refuse a video-only sample: %s", err.msg);
    mmc_manifest_free(m);
    m = mmc_manifest_parse_ex("only.jsonl", "/data", only, strlen(only), MMC_MANIFEST_IMAGE_OPTIONAL, &err);
    REQUIRE(m && !m->samples[0].image && str_eq(m->samples[0].video, "videos/a.mkv"), "%s", err.msg);
    line = mmc_sample_to_json(&m->samples[0]);
    CHECK(line && !strstr(line, "image") && strstr(line, "video"), "video-only written back: %s", line ? line : "");
    mmc_free(line);
    /* the loader reads images: it names the sample instead of following a NULL path */
    mmc_loader_opts lo = mmc_loader_defaults(1, 8);
    mmc_loader *l = mmc_loader_new(m, &lo, &err);
    CHECK(!l && err.code == MMC_ERR_INPUT && strstr(err.msg, "no image"), "loader on a video-only sample: %s", err.msg);
    mmc_loader_free(l);
    mmc_manifest_free(m);

    static const char *bad[][2] = {
        {"{\"id\":\"a\",\"image\":\"i.png\",\"video\":\"../v.mkv\"}\n", "'..'"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"video\":\"/abs/v.mkv\"}\n", "absolute"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"video\":5}\n", "must be a string"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"video\":\"\"}\n", "empty"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"video\":\"v\\u0001.mkv\"}\n", "control"},
        {"{\"id\":\"a\",\"captions\":[\"x\"]}\n", "image or a video"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = mmc_manifest_parse_ex("bad.jsonl", "/data", bad[i][0], strlen(bad[i][0]), MMC_MANIFEST_IMAGE_OPTIONAL, &err);
        CHECK(!m && err.code == MMC_ERR_INPUT && strstr(err.msg, "bad.jsonl:1") && strstr(err.msg, bad[i][1]),
              "%s: %s", bad[i][0], m ? "accepted" : err.msg);
        mmc_manifest_free(m);
    }
    /* check_images looks for videos too */
    const char *dir = tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/images", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/images/a.png", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f, "create %s", path);
    fclose(f);
    m = mmc_manifest_parse("both.jsonl", dir, both, (size_t)(strchr(both, '\n') - both) + 1, &err); /* line 1 */
    REQUIRE(m && m->count == 1, "%s", err.msg);
    CHECK(mmc_manifest_check_images(m, &err) == MMC_ERR_INPUT && strstr(err.msg, "video") && strstr(err.msg, "a.mkv"),
          "a missing video: %s", err.msg);
    mmc_manifest_free(m);
    rmdir_all(dir);
}

/* "audio": spoken captions (mmc data shapes --audio) round-trip; paths follow the image
 * rules; the other fields must be strings. */
TEST(manifest_audio_field) {
    const char *ok = "{\"id\":\"a\",\"image\":\"images/a.png\",\"audio\":[{\"path\":\"audio/a-en-0.ogg\",\"lang\":\"en\","
                     "\"text\":\"a red circle\",\"voice\":\"en-us+m3\"},{\"path\":\"audio/a-zh-0.ogg\",\"lang\":\"zh\","
                     "\"text\":\"一个红色圆形\"}]}\n{\"id\":\"b\",\"image\":\"images/b.png\"}\n";
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_parse("ok.jsonl", "/data", ok, strlen(ok), &err);
    REQUIRE(m, "%s", err.msg);
    const mmc_sample *s = &m->samples[0];
    CHECK(s->n_audio == 2 && str_eq(s->audio[0].path, "audio/a-en-0.ogg") && str_eq(s->audio[0].voice, "en-us+m3") &&
              str_eq(s->audio[1].text, "一个红色圆形") && !s->audio[1].voice && m->samples[1].n_audio == 0,
          "audio fields");
    char *line = mmc_sample_to_json(s);
    CHECK(line && strstr(line, "\"audio\":[{\"path\":\"audio/a-en-0.ogg\",\"lang\":\"en\",\"text\":\"a red circle\","
                               "\"voice\":\"en-us+m3\"},{\"path\":\"audio/a-zh-0.ogg\",\"lang\":\"zh\",\"text\":\"一个红色圆形\"}]"),
          "written back: %s", line ? line : "(null)");
    mmc_free(line);
    mmc_manifest_free(m);
    static const char *bad[][2] = {
        {"{\"id\":\"a\",\"image\":\"i.png\",\"audio\":\"a.ogg\"}\n", "must be an array"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"audio\":[{\"lang\":\"en\"}]}\n", "string path"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"audio\":[{\"path\":\"../a.ogg\"}]}\n", "'..'"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"audio\":[{\"path\":\"/abs/a.ogg\"}]}\n", "absolute"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"audio\":[{\"path\":\"a.ogg\",\"text\":3}]}\n", "must be strings"},
        {"{\"id\":\"a\",\"image\":\"i.png\",\"audio\":[\"a.ogg\"]}\n", "string path"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = mmc_manifest_parse("bad.jsonl", "/data", bad[i][0], strlen(bad[i][0]), &err);
        CHECK(!m && err.code == MMC_ERR_INPUT && strstr(err.msg, "bad.jsonl:1") && strstr(err.msg, bad[i][1]),
              "%s: %s", bad[i][0], m ? "accepted" : err.msg);
        mmc_manifest_free(m);
    }
}

/* fuzz_emoji.c — libFuzzer target for the emoji importer's JSON (src/data/import_emoji.c):
 * emojibase-data's en/data.json and zh/data.json (CLDR names and tags) and
 * emoji-datasource-STYLE's emoji.json (code points, image names, categories, short names).
 *
 * `mmc data emoji` only reads these from npm tarballs whose SHA-512 is pinned, but the
 * parser must not trust them either (a pin is updated by hand, and the library entry point
 * mmc_import_emoji_build takes any extracted folder). The input is cut at NUL bytes (JSON
 * holds none, and the reader refuses them) into en/data.json, zh/data.json, the google
 * style's emoji.json and the twitter style's emoji.json, written into a private folder
 * beside fixed images made once: google has 1f600.png and 1f44d.png (real PNGs), 2764.png
 * (text, not a PNG), 1f601.png (a folder) and 1f4a9.png (a link to a PNG outside the
 * package, which must be refused); twitter has 1f600.png. The split rule (by style or
 * within) comes from the input's length. The output folder is removed after each input.
 * A success must be what fuzz/importcheck.h checks; a failure must be MMC_ERR_INPUT with
 * a message.
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "tmpdir.h"
#include "importcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base_dir[1024], style_dir[2][1024];

static void png(const char *rel, int w, int h) {
    char p[1024];
    uint8_t px[4 * 4 * 4];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(37 * i);
    snprintf(p, sizeof p, "%s/%s", fz_tmpdir(), rel);
    mmc_error e = {0};
    if (mmc_png_write(p, w, h, 4, px, &e) != MMC_OK) abort();
}

static void fixture(void) {
    if (base_dir[0]) return;
    const char *t = fz_tmpdir();
    const char *dirs[] = {"base", "base/en", "base/zh", "google", "google/img", "google/img/google",
                          "google/img/google/64", "google/img/google/64/1f601.png", "twitter", "twitter/img",
                          "twitter/img/twitter", "twitter/img/twitter/64"};
    char p[1024], q[1024];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", t, dirs[i]);
        if (mkdir(p, 0777) != 0) abort();
    }
    png("google/img/google/64/1f600.png", 2, 2);
    png("google/img/google/64/1f44d.png", 4, 3);
    png("twitter/img/twitter/64/1f600.png", 3, 3);
    png("outside.png", 2, 2);
    fz_write(p, sizeof p, "google/img/google/64/2764.png", "not a png\n", 10);
    snprintf(p, sizeof p, "%s/outside.png", t);
    snprintf(q, sizeof q, "%s/google/img/google/64/1f4a9.png", t);
    if (symlink(p, q) != 0) abort();
    snprintf(base_dir, sizeof base_dir, "%s/base", t);
    snprintf(style_dir[0], sizeof style_dir[0], "%s/google", t);
    snprintf(style_dir[1], sizeof style_dir[1], "%s/twitter", t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fixture();
    static const char *const files[4] = {"base/en/data.json", "base/zh/data.json", "google/emoji.json",
                                         "twitter/emoji.json"};
    fz_part parts[4];
    int n = fz_split(data, size, "", 1, parts, 4); /* "" is one NUL byte */
    char p[1024], out[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", fz_tmpdir(), files[i]);
        unlink(p);
        if (i < n) fz_write(p, sizeof p, files[i], parts[i].p, parts[i].n);
    }
    snprintf(out, sizeof out, "%s/out", fz_tmpdir());
    fz_rm_tree(out);
    mmc_emoji_opts o = {.out = out, .emojibase_dir = base_dir, .n_styles = 2,
                        .styles = {"google", "twitter"}, .style_dirs = {style_dir[0], style_dir[1]},
                        .split = (int)(size % 2)};
    mmc_import_stats st;
    mmc_error err = {0};
    int rc = mmc_import_emoji_build(&o, &st, &err);
    if (rc != MMC_OK && rc != MMC_ERR_INPUT) abort(); /* bad package data is an input error */
    fz_check_import(rc, &err, &st, out);
    if (st.skipped < 0 || st.no_text < 0 || st.no_zh < 0) abort();
    fz_rm_tree(out);
    return 0;
}

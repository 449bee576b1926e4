/* fuzz_karpathy.c — libFuzzer target for Karpathy's split JSON (dataset_coco.json,
 * dataset_flickr8k/30k.json; src/data/import_karpathy.c, `mmc data coco`).
 *
 * The input is the annotation file, imported with mmc_import_karpathy against a fixed
 * images folder made once in the private temporary folder: img/val2014/{a,b}.jpg,
 * img/train2014/c.jpg, img/d.jpg, and img/dir.jpg, a folder where a file is expected.
 * The output folder is removed after each input. A success must be what
 * fuzz/importcheck.h checks (manifests mmc reads back, every image present through the
 * images link, no id in two splits); a failure must say why. A path that leaves the
 * images folder would show as a manifest that mmc refuses or an image that is missing.
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "tmpdir.h"
#include "importcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *images_dir(void) {
    static char dir[1024];
    if (dir[0]) return dir;
    char p[1024];
    snprintf(dir, sizeof dir, "%s/img", fz_tmpdir());
    const char *sub[] = {"img", "img/val2014", "img/train2014", "img/dir.jpg"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", fz_tmpdir(), sub[i]);
        if (mkdir(p, 0777) != 0) abort();
    }
    const char *files[] = {"img/val2014/a.jpg", "img/val2014/b.jpg", "img/train2014/c.jpg", "img/d.jpg"};
    for (int i = 0; i < 4; i++) fz_write(p, sizeof p, files[i], "x", 1);
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *img = images_dir();
    char ann[1024], out[1024];
    fz_write(ann, sizeof ann, "dataset_coco.json", data, size);
    snprintf(out, sizeof out, "%s/out", fz_tmpdir());
    fz_rm_tree(out);
    mmc_import_stats st;
    mmc_error err = {0};
    int rc = mmc_import_karpathy(ann, img, out, NULL, NULL, &st, &err);
    if (rc != MMC_OK && rc != MMC_ERR_INPUT) abort(); /* a bad annotation file is an input error */
    fz_check_import(rc, &err, &st, out);
    if (st.skipped < 0) abort();
    fz_rm_tree(out);
    return 0;
}

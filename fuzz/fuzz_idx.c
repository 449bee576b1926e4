/* fuzz_idx.c — libFuzzer target for IDX files (MNIST / Fashion-MNIST; src/data/import_idx.c)
 * and the Fashion-MNIST importer over them (src/data/import_fashion_mnist.c,
 * `mmc data fashion-mnist --from DIR`).
 *
 * 1. The whole input is one IDX file (plain, or gzip: zlib reads both), read with
 *    mmc_idx_read under a 64 KiB data limit. On success the header must agree with what
 *    was kept (1-4 dims, none 0, size = their product, within the limit) and every data
 *    byte is read (ASan checks the buffer); on failure the message names the file.
 * 2. The input cut at the marker "--next--" into four files, written into a private
 *    folder as train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
 *    t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (missing ones are missing), is
 *    imported with mmc_import_fashion_mnist (val count from the input's length mod 3, so
 *    0, 1 and 2 all occur, and too many for a tiny train set); the result must be what
 *    fuzz/importcheck.h checks: manifests mmc reads back, PNGs that exist, or an error.
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "tmpdir.h"
#include "importcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const FILES[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static void read_one(const uint8_t *data, size_t size) {
    char path[1024];
    fz_write(path, sizeof path, "one.idx", data, size);
    mmc_idx x;
    mmc_error err = {0};
    const int64_t max = 1 << 16;
    if (mmc_idx_read(path, max, &x, &err) != MMC_OK) {
        if (err.code == MMC_OK || !strstr(err.msg, "one.idx")) abort(); /* name the file */
        if (x.data) abort();                                             /* nothing kept */
        return;
    }
    if (x.ndim < 1 || x.ndim > 4 || !x.data || x.size < 1 || x.size > max) abort();
    int64_t prod = 1;
    for (int d = 0; d < x.ndim; d++) {
        if (x.dims[d] < 1) abort();
        prod *= x.dims[d];
    }
    if (prod != x.size) abort();
    unsigned sum = 0;
    for (int64_t i = 0; i < x.size; i++) sum += x.data[i];
    if (sum == 0xFFFFFFFFu) abort(); /* keeps the loop; cannot happen for <= 64 KiB */
    mmc_idx_free(&x);
    if (x.data || x.size) abort(); /* free leaves it empty */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_one(data, size);

    fz_part parts[4];
    int n = fz_split(data, size, "--next--", 8, parts, 4);
    char src[1024], out[1024], path[1024];
    snprintf(src, sizeof src, "%s/src", fz_tmpdir());
    snprintf(out, sizeof out, "%s/out", fz_tmpdir());
    fz_rm_tree(src);
    fz_rm_tree(out);
    if (mkdir(src, 0777) != 0) abort();
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "src/%s", FILES[i]);
        fz_write(path, sizeof path, name, parts[i].p, parts[i].n);
    }
    mmc_import_stats st;
    mmc_error err = {0};
    int rc = mmc_import_fashion_mnist(src, out, (int)(size % 3), NULL, NULL, &st, &err);
    if (rc != MMC_OK && rc != MMC_ERR_INPUT && rc != MMC_ERR_USAGE) abort(); /* USAGE: --val too big */
    fz_check_import(rc, &err, &st, out);
    fz_rm_tree(src);
    fz_rm_tree(out);
    return 0;
}

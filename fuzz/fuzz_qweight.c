/* fuzz_qweight.c — libFuzzer target for quantised weights in their stored form
 * (mmc_qweight_from_stored: what `mmc quantize` folders hold, docs/formats.md) and a
 * differential check of the int8 kernels on them.
 *
 * The input: byte 0 picks q8 or q4, bytes 1-3 the sizes (out 1..80, in 1..100, rows of X
 * 1..13), then the stored values, the scales and X's floats, each taken from the input
 * in turn (zeros where it runs out). A matrix the reader refuses must say why with
 * MMC_ERR_INPUT; one it accepts must survive its own writer (the product of the re-read
 * matrix is the same bits), and every kernel this CPU runs must give the portable
 * kernel's bits, at 1 and 2 threads — whatever X holds (NaN, infinities, 3e38).
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "mmc.h"
#include "qgemm.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void *mmc_aligned_malloc(size_t align, size_t n);

/* n bytes from the input at *at into dst, zeros past its end. */
static void take(const uint8_t *data, size_t size, size_t *at, void *dst, size_t n) {
    size_t k = *at < size ? size - *at : 0;
    if (k > n) k = n;
    if (k) memcpy(dst, data + *at, k);
    memset((uint8_t *)dst + k, 0, n - k);
    *at += n;
}

/* The same bits, NaNs of any payload counted equal. */
static int same(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) && !(a[i] != a[i] && b[i] != b[i])) return 0;
    return 1;
}

static float *product(const mmc_qgemm_kernel *kn, int nt, const mmc_qweight *w, int M, const float *X) {
    float *Y = malloc(sizeof(float) * (size_t)M * w->out);
    void *s = mmc_aligned_malloc(64, mmc_qgemm_scratch_bytes(M, w->in));
    if (!Y || !s) abort();
    mmc_qgemm(kn, nt, w, M, X, w->in, NULL, Y, w->out, s);
    mmc_free(s);
    return Y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int type = data[0] & 1 ? MMC_QTYPE_Q4 : MMC_QTYPE_Q8;
    int out = 1 + data[1] % 80, in = 1 + data[2] % 100, M = 1 + data[3] % 13;
    size_t at = 4, qb = mmc_qweight_stored_bytes(type, out, in);
    int groups = mmc_qweight_stored_groups(type, in);
    uint8_t *q = malloc(qb);
    float *sc = malloc(sizeof(float) * (size_t)out * groups), *X = malloc(sizeof(float) * (size_t)M * in);
    if (!q || !sc || !X) abort();
    take(data, size, &at, q, qb);
    take(data, size, &at, sc, sizeof(float) * (size_t)out * groups);
    take(data, size, &at, X, sizeof(float) * (size_t)M * in);
    mmc_error err = {0};
    mmc_qweight *w = mmc_qweight_from_stored(type, out, in, q, sc, "fuzz", &err);
    if (!w) {
        if (err.code != MMC_ERR_INPUT || !strstr(err.msg, "fuzz")) abort();
    } else {
        int nk;
        const mmc_qgemm_kernel *ks = mmc_qgemm_kernels(&nk);
        float *ref = product(&ks[nk - 1], 1, w, M, X); /* the portable kernel */
        for (int k = 0; k < nk; k++) {
            if (!ks[k].available()) continue;
            for (int nt = 1; nt <= 2; nt++) {
                float *Y = product(&ks[k], nt, w, M, X);
                if (!same(Y, ref, (size_t)M * out)) abort();
                free(Y);
            }
        }
        /* the writer's form reads back to the same matrix */
        mmc_qweight_to_stored(w, q, sc);
        mmc_qweight *w2 = mmc_qweight_from_stored(type, out, in, q, sc, "again", &err);
        if (!w2) abort();
        float *Y2 = product(mmc_qgemm_best_kernel(), 1, w2, M, X);
        if (!same(Y2, ref, (size_t)M * out)) abort();
        free(Y2);
        free(ref);
        mmc_qweight_free(w2);
        mmc_qweight_free(w);
    }
    free(q);
    free(sc);
    free(X);
    return 0;
}

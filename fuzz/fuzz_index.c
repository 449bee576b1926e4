/* fuzz_index.c — libFuzzer target for the embedding index reader.
 *
 * The input is a whole index file image. It is validated from memory
 * (mmc_index_parse, the same checks mmc_index_open runs on the mapped file), and, when
 * accepted, everything the reader hands out is walked: the item kind, every item string
 * (ID<tab>TEXT where the kind says so), the model id, every row (dequantised for int8),
 * and a small top-k search against the blocked GEMM path and the reference. A validation
 * hole shows up there as an out-of-bounds read under ASan, or as the two searches
 * disagreeing.
 *
 * Both CRC32s guard everything after the magic, so random mutations would rarely pass
 * them. Every input is therefore tried twice: as it is (the CRC checks themselves), and
 * with both CRCs recomputed, so the fuzzer reaches the section, string and value checks.
 *
 * MMC_FUZZ_MAX_LEN 65536 */
#include "mmc.h"
#include <math.h>
#include <stdlib.h> /* abort */
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Searches with two fixed queries; the blocked search must agree with the reference on
 * the number of hits, every index it returns must be a row, and every score a cosine: the
 * reader promises unit rows (int8: up to its rounding, sqrt(D)·scale/2 with scale <=
 * 1/127 for a real quantiser, but a file may hold up to the 1/64 the reader accepts). */
static void search_some(const mmc_index *ix) {
    const int D = mmc_index_dim(ix), K = 3;
    float *q = mmc_calloc((size_t)D * 2, sizeof(float));
    int64_t ia[6], ib[6];
    float sa[6], sb[6];
    int ka = -1, kb = -1;
    mmc_error err = {0};
    if (!q) return;
    q[0] = 1.0f;
    for (int j = 0; j < D; j++) q[D + j] = (float)(j % 3) - 1.0f;
    int ra = mmc_index_search(ix, q, 2, K, 2, ia, sa, &ka, &err);
    int rb = mmc_index_search_bruteforce(ix, q, 2, K, ib, sb, &kb, &err);
    if (ra != MMC_OK || rb != MMC_OK || ka != kb) abort();
    const float bound = 1.01f + (mmc_index_dtype(ix) == MMC_INDEX_I8 ? sqrtf((float)D) / 128 : 0.0f);
    for (int i = 0; i < 2 * ka; i++)
        if (ia[i] < 0 || ia[i] >= mmc_index_count(ix) || !(sa[i] >= -bound && sa[i] <= bound)) abort();
    mmc_free(q);
}

static void walk(const uint8_t *data, size_t size) {
    mmc_error err = {0};
    mmc_index *ix = mmc_index_parse("fuzz.idx", data, size, &err);
    if (!ix) return;
    const int D = mmc_index_dim(ix);
    float *row = mmc_malloc(sizeof(float) * (size_t)D);
    size_t total = strlen(mmc_index_model_id(ix));
    const int kind = mmc_index_kind(ix);
    if (kind < MMC_INDEX_MEDIA || kind > MMC_INDEX_TEXTS_IDS) abort();
    for (int64_t i = 0; i < mmc_index_count(ix); i++) {
        const char *s = mmc_index_item(ix, i);
        if (!s) abort();
        /* texts with ids promise ID<tab>TEXT with a non-empty id: `mmc search` splits on it */
        if (kind == MMC_INDEX_TEXTS_IDS && (!strchr(s, '\t') || s[0] == '\t')) abort();
        total += strlen(s);
        if (row && mmc_index_row(ix, i, row, &err) != MMC_OK) abort();
    }
    if (total > size) abort(); /* strings must lie inside the image */
    search_some(ix);
    mmc_free(row);
    mmc_index_close(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int once;
    if (!once) { mmc_set_threads(1); once = 1; } /* one thread: the fuzzer wants speed, not BLAS teams */
    walk(data, size);
    if (size < 128) return 0;
    uint8_t *fixed = mmc_malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    /* body CRC at 96 over [128, size); header CRC at 124 over [0, 124) */
    put32(fixed + 96, (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), fixed + 128, size - 128));
    put32(fixed + 124, (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), fixed, 124));
    walk(fixed, size);
    mmc_free(fixed);
    return 0;
}

/* test_cpu.c — the CPU feature checks (src/core/cpu.c) and the shared SIMD helpers
 * (src/ops/simd.h): the cached answers agree with the compiler's own check and do not
 * change between calls or threads; the register transposes move every value where a
 * scalar transpose puts it. */
#include "test.h"
#include "simd.h"
#include <stdint.h>

typedef struct {
    const char *name;
    int (*fn)(void);
} feature;

static const feature g_features[] = {
    {"avx2", mmc_cpu_has_avx2},       {"fma", mmc_cpu_has_fma},
    {"avx512f", mmc_cpu_has_avx512f}, {"avx512bw", mmc_cpu_has_avx512bw},
    {"avx512vl", mmc_cpu_has_avx512vl}, {"avx512vnni", mmc_cpu_has_avx512_vnni},
};
enum { N_FEATURES = (int)(sizeof g_features / sizeof g_features[0]) };

/* What the compiler's builtin says, asked directly (its argument must be a literal). */
static int builtin_says(int i) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    switch (i) {
    case 0: return __builtin_cpu_supports("avx2") != 0;
    case 1: return __builtin_cpu_supports("fma") != 0;
    case 2: return __builtin_cpu_supports("avx512f") != 0;
    case 3: return __builtin_cpu_supports("avx512bw") != 0;
    case 4: return __builtin_cpu_supports("avx512vl") != 0;
    case 5: return __builtin_cpu_supports("avx512vnni") != 0;
    }
#endif
    (void)i;
    return 0;
}

TEST(cpu_features_agree_with_builtin) {
    for (int i = 0; i < N_FEATURES; i++) {
        int first = g_features[i].fn();
        CHECK(first == 0 || first == 1, "%s: %d is not 0 or 1", g_features[i].name, first);
        CHECK(first == builtin_says(i), "%s: mmc says %d, __builtin_cpu_supports %d", g_features[i].name,
              first, builtin_says(i));
        for (int k = 0; k < 100; k++)
            if (g_features[i].fn() != first) {
                CHECK(0, "%s changed on call %d", g_features[i].name, k + 2);
                break;
            }
    }
    /* the same answers from many threads at once (the first calls may race) */
    int want[N_FEATURES], bad = 0;
    for (int i = 0; i < N_FEATURES; i++) want[i] = g_features[i].fn();
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int t = 0; t < 400; t++) bad += g_features[t % N_FEATURES].fn() != want[t % N_FEATURES];
    CHECK(bad == 0, "%d calls from threads disagreed", bad);
    /* what every CPU with AVX-512F also has, as the kernels assume */
    if (mmc_cpu_has_avx512f()) CHECK(mmc_cpu_has_avx2() && mmc_cpu_has_fma(), "avx512f without avx2/fma");
}

/* A (rows, cols) matrix with row stride lds, values that say where they came from. */
static void fill_positions(float *x, int rows, int cols, int64_t lds) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) x[i * lds + j] = (float)(i * 1000 + j) + 0.25f;
}

/* Transposes an n x n block with `fn` out of a larger buffer (row strides lds and ldd
 * wider than n, offset from the start) and compares it with the scalar transpose; the
 * destination's padding must stay untouched. */
static void check_transpose(const char *name, int n, void (*fn)(const float *, int64_t, float *, int64_t)) {
    enum { LDS = 37, LDD = 41, OFF = 3, ROWS = 20 };
    float src[ROWS * LDS], got[ROWS * LDD], want[ROWS * LDD];
    fill_positions(src, ROWS, LDS, LDS);
    for (int i = 0; i < ROWS * LDD; i++) got[i] = want[i] = -1.0f;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) want[OFF + j * LDD + i] = src[OFF + i * LDS + j];
    fn(src + OFF, LDS, got + OFF, LDD);
    int bad = 0;
    for (int i = 0; i < ROWS * LDD; i++) bad += got[i] != want[i];
    CHECK(bad == 0, "%s: %d of %d values differ from the scalar transpose", name, bad, ROWS * LDD);
}

#ifdef MMC_SIMD_X86
static void t8(const float *s, int64_t lds, float *d, int64_t ldd) { mmc_transpose8(s, lds, d, ldd); }
static void t16(const float *s, int64_t lds, float *d, int64_t ldd) { mmc_transpose16(s, lds, d, ldd); }
#endif

TEST(simd_transpose_matches_scalar) {
#ifdef MMC_SIMD_X86
    if (!mmc_cpu_has_avx2()) SKIP("no AVX2 on this CPU");
    check_transpose("mmc_transpose8", 8, t8);
    if (mmc_cpu_has_avx512f()) check_transpose("mmc_transpose16", 16, t16);
#else
    SKIP("not x86");
#endif
}

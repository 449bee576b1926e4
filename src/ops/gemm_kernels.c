/* gemm_kernels.c — the SGEMM micro-kernels: one (MR, NR) tile of C from packed slivers.
 *
 * Each kernel keeps the whole tile in vector registers as accumulators and, per k step,
 * loads one NR-wide row of the B sliver (NR/W vectors of W floats) and broadcasts each of
 * the MR values of the A sliver into an FMA with it. Vectors run along N because C is
 * row-major: a tile row is contiguous, so the final update of C is plain vector loads and
 * stores.
 *
 *   avx512   12 × 32: 24 zmm accumulators + 2 B vectors + a broadcast (of 32 registers);
 *            24 FMAs per k step against 2 loads and 12 broadcasts — the two FMA ports stay
 *            busy with the loads on the other ports.
 *   avx2      6 × 16: 12 ymm accumulators + 2 B vectors + a broadcast (of 16).
 *   generic   4 × 16: plain C, for CPUs without either (the compiler vectorises what it can).
 *
 * The vector kernels are compiled for their instruction set with a function attribute
 * (not -march), so the library runs anywhere and mmc_gemm picks one at run time with
 * mmc_cpu_has_* (src/core/cpu.c).
 *
 * Every kernel updates C the same way, so any kernel's result does not depend on where
 * tile boundaries fall: beta = 0: c = alpha·acc; beta = 1: c = fma(alpha, acc, c);
 * otherwise c = fma(alpha, acc, beta·c). gemm.c's edge-tile path uses the same formulas. */
#include "gemm.h"
#include "mmc/core.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#define MMC_GEMM_X86 1
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- generic */

enum { G_MR = 4, G_NR = 16 };

static void kernel_generic(int kc, const float *a, const float *b, float *c, int64_t ldc,
                           float alpha, float beta) {
    float acc[G_MR][G_NR] = {{0}};
    for (int k = 0; k < kc; k++, a += G_MR, b += G_NR)
        for (int i = 0; i < G_MR; i++)
            for (int j = 0; j < G_NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < G_MR; i++) {
        float *ci = c + i * ldc;
        for (int j = 0; j < G_NR; j++)
            ci[j] = beta == 0.0f   ? alpha * acc[i][j]
                    : beta == 1.0f ? fmaf(alpha, acc[i][j], ci[j])
                                   : fmaf(alpha, acc[i][j], beta * ci[j]);
    }
}

static int always(void) { return 1; }

#ifdef MMC_GEMM_X86
/* ---------------------------------------------------------------- avx2 */

enum { A2_MR = 6, A2_NR = 16 };

__attribute__((target("avx2,fma"))) static inline __m256 update8(__m256 acc, float *c,
                                                                  __m256 va, float beta) {
    if (beta == 0.0f) return _mm256_mul_ps(va, acc);
    __m256 old = _mm256_loadu_ps(c);
    if (beta != 1.0f) old = _mm256_mul_ps(_mm256_set1_ps(beta), old);
    return _mm256_fmadd_ps(va, acc, old);
}

__attribute__((target("avx2,fma"))) static void kernel_avx2(int kc, const float *a,
                                                            const float *b, float *c,
                                                            int64_t ldc, float alpha,
                                                            float beta) {
    __m256 acc[A2_MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < A2_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++, a += A2_MR, b += A2_NR) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < A2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha);
#pragma GCC unroll 6
    for (int i = 0; i < A2_MR; i++) {
        float *ci = c + i * ldc;
        _mm256_storeu_ps(ci, update8(acc[i][0], ci, va, beta));
        _mm256_storeu_ps(ci + 8, update8(acc[i][1], ci + 8, va, beta));
    }
}

static int has_avx2(void) { return mmc_cpu_has_avx2() && mmc_cpu_has_fma(); }

/* ---------------------------------------------------------------- avx512 */

enum { A5_MR = 12, A5_NR = 32 };

__attribute__((target("avx512f,fma"))) static inline __m512 update16(__m512 acc, float *c,
                                                                     __m512 va, float beta) {
    if (beta == 0.0f) return _mm512_mul_ps(va, acc);
    __m512 old = _mm512_loadu_ps(c);
    if (beta != 1.0f) old = _mm512_mul_ps(_mm512_set1_ps(beta), old);
    return _mm512_fmadd_ps(va, acc, old);
}

__attribute__((target("avx512f,fma"))) static void kernel_avx512(int kc, const float *a,
                                                                 const float *b, float *c,
                                                                 int64_t ldc, float alpha,
                                                                 float beta) {
    __m512 acc[A5_MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < A5_MR; i++) { /* C's rows are far apart and likely not cached: */
        acc[i][0] = acc[i][1] = _mm512_setzero_ps(); /* fetch them during the k loop */
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);
    }
    for (int k = 0; k < kc; k++, a += A5_MR, b += A5_NR) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
        for (int i = 0; i < A5_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 12
    for (int i = 0; i < A5_MR; i++) {
        float *ci = c + i * ldc;
        _mm512_storeu_ps(ci, update16(acc[i][0], ci, va, beta));
        _mm512_storeu_ps(ci + 16, update16(acc[i][1], ci + 16, va, beta));
    }
}

static int has_avx512(void) { return mmc_cpu_has_avx512f() && mmc_cpu_has_fma(); }
#endif

/* ---------------------------------------------------------------- table
 * Blocking, measured on a Sapphire-Rapids-class core (48 KiB L1d, 2 MiB L2): a B sliver
 * (KC × NR) stays in L1 while the micro-kernel walks down the A block; the packed A block
 * (MC × KC) stays in L2; the packed B panel (KC × NC) in L2/L3. See docs/performance.md. */
static const mmc_gemm_kernel g_kernels[] = {
#ifdef MMC_GEMM_X86
    {"avx512", A5_MR, A5_NR, 192, 256, 4096, kernel_avx512, has_avx512},
    {"avx2", A2_MR, A2_NR, 120, 256, 4096, kernel_avx2, has_avx2},
#endif
    {"generic", G_MR, G_NR, 64, 256, 4096, kernel_generic, always},
};

const mmc_gemm_kernel *mmc_gemm_kernels(int *n) {
    *n = (int)(sizeof g_kernels / sizeof g_kernels[0]);
    return g_kernels;
}

const mmc_gemm_kernel *mmc_gemm_best_kernel(void) {
    static const mmc_gemm_kernel *best; /* racing first calls store the same pointer */
    const mmc_gemm_kernel *k = __atomic_load_n(&best, __ATOMIC_ACQUIRE);
    if (k) return k;
    int n;
    const mmc_gemm_kernel *all = mmc_gemm_kernels(&n);
    for (int i = 0; i < n && !k; i++)
        if (all[i].available()) k = &all[i];
    __atomic_store_n(&best, k, __ATOMIC_RELEASE);
    return k;
}

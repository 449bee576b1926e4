/*
 * blas.h — the one GEMM entry point the dense ops use, and the BLAS thread switch.
 *
 * mmc_gemm computes C = alpha * op(A) · op(B) + beta * C for row-major, contiguous
 * operands: op(A) is (M, K) — A is stored (M, K), or (K, M) when ta; op(B) is (K, N) — B is
 * stored (K, N), or (N, K) when tb; C is (M, N). Leading dimensions follow from the
 * stored shapes, so callers only say which operand is transposed.
 *
 * With OpenBLAS this is cblas_sgemm. Without it (-DMMC_BLAS=OFF) a plain loop keeps the
 * library correct, if slow.
 *
 * Kernels that run many small GEMMs in an OpenMP loop (attention heads, conv samples) make
 * BLAS single-threaded for the loop with mmc_blas_threads(1) and restore the old count
 * afterwards, so the two thread pools never oversubscribe the cores.
 */
#ifndef MMC_OPS_BLAS_H
#define MMC_OPS_BLAS_H

#include "internal.h"

#ifdef MMC_HAVE_OPENBLAS
#include <cblas.h>
#endif

static inline void mmc_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                            const float *B, float beta, float *C) {
    if (M <= 0 || N <= 0) return;
#ifdef MMC_HAVE_OPENBLAS
    if (K <= 0) { /* BLAS leaves C untouched with K = 0 only if beta = 1; be explicit */
        for (int64_t i = 0; i < (int64_t)M * N; i++) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
#else
    for (int i = 0; i < M; i++) {
        float *c = C + (int64_t)i * N;
        for (int j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (int k = 0; k < K; k++) {
            float a = alpha * (ta ? A[(int64_t)k * M + i] : A[(int64_t)i * K + k]);
            if (tb)
                for (int j = 0; j < N; j++) c[j] += a * B[(int64_t)j * K + k];
            else
                for (int j = 0; j < N; j++) c[j] += a * B[(int64_t)k * N + j];
        }
    }
#endif
}

/* Sets the BLAS thread count; returns the previous one (for restoring). */
static inline int mmc_blas_threads(int n) {
#ifdef MMC_HAVE_OPENBLAS
    int prev = openblas_get_num_threads();
    if (n != prev) openblas_set_num_threads(n);
    return prev;
#else
    (void)n;
    return 1;
#endif
}

#endif

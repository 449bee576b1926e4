/*
 * blas.h — the one GEMM entry point the dense ops use, and the BLAS thread switch.
 *
 * mmc_gemm computes C = alpha * op(A) · op(B) + beta * C for row-major, contiguous
 * operands: op(A) is (M, K) — A is stored (M, K), or (K, M) when ta; op(B) is (K, N) — B is
 * stored (K, N), or (N, K) when tb; C is (M, N). Leading dimensions follow from the
 * stored shapes, so callers only say which operand is transposed.
 *
 * It runs mmc's own packed SGEMM (gemm.h) when this CPU has AVX2 or AVX-512, else
 * OpenBLAS's cblas_sgemm; MMC_GEMM=openblas or MMC_GEMM=mmc in the environment forces
 * one (read once). Without OpenBLAS (-DMMC_BLAS=OFF) it is always mmc's.
 *
 * Kernels that run many small GEMMs in an OpenMP loop (attention heads, conv samples) make
 * the GEMM single-threaded for the loop with mmc_blas_threads(1) and restore the old
 * setting afterwards, so two thread pools never oversubscribe the cores. (mmc's GEMM also
 * stays on one thread when called inside any OpenMP parallel region.)
 */
#ifndef MMC_OPS_BLAS_H
#define MMC_OPS_BLAS_H

#include "internal.h"
#include "mmc/ops.h"

#ifdef MMC_HAVE_OPENBLAS
#include <cblas.h>
#endif

void mmc_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, const float *B,
              float beta, float *C);
/* C = alpha · op(A) · op(B) + bias (a row of N, added to every row of C): linear layers. */
void mmc_gemm_bias(int ta, int tb, int M, int N, int K, float alpha, const float *A, const float *B,
                   const float *bias, float *C);

/* Sets the GEMM thread count (both backends) for what follows; n <= 0 means "follow
 * mmc_get_threads()". Returns the previous setting, to pass back when restoring. */
int mmc_blas_threads(int n);

#endif

/*
 * gemm.h — mmc's own packed SGEMM (src/ops/gemm.c, micro-kernels in gemm_kernels.c).
 * Internal: ops call mmc_gemm (blas.h), which picks this or OpenBLAS; tests and the
 * benchmarks use the explicit entry points below to force a kernel or a thread count.
 *
 * Structure (Goto / BLIS): for each NC-wide column panel of op(B) and each KC-deep slice
 * of K, the (KC, NC) block of op(B) is packed into NR-wide slivers; for each MC-tall row
 * block of op(A), the (MC, KC) block is packed into MR-tall slivers; then a register-
 * blocked micro-kernel computes every (MR, NR) tile of C from one A sliver and one B
 * sliver. Packing makes the kernel's loads contiguous whatever the transposes, and
 * zero-padding the slivers lets it always run the full tile.
 */
#ifndef MMC_OPS_GEMM_H
#define MMC_OPS_GEMM_H

#include <stdint.h>

/* c (mr, nr tile, row stride ldc) = alpha · Σ_k a[k·MR + i] · b[k·NR + j] + beta · c,
 * over kc steps of packed slivers; beta = 0 never reads c. Always the full MR × NR tile. */
typedef void (*mmc_gemm_ukernel)(int kc, const float *a, const float *b, float *c, int64_t ldc,
                                 float alpha, float beta);

typedef struct mmc_gemm_kernel {
    const char *name;      /* "avx512", "avx2", "generic" */
    int mr, nr;            /* micro-tile: rows of A, columns of B */
    int mc, kc, nc;        /* cache blocking (mc a multiple of mr, nc of nr) */
    mmc_gemm_ukernel fn;
    int (*available)(void); /* run-time CPU check */
} mmc_gemm_kernel;

/* The compiled-in kernels, best first; *n receives the count. */
const mmc_gemm_kernel *mmc_gemm_kernels(int *n);
/* The best kernel this CPU runs (the generic one always does). */
const mmc_gemm_kernel *mmc_gemm_best_kernel(void);

/* C = alpha · op(A) · op(B) + beta · C, row-major with explicit leading dimensions, with
 * the given kernel on `nt` threads (1: the calling thread only). Every element of C is
 * computed by one thread with the same operations in the same order whatever nt is, so
 * the result is bit-identical for any thread count. Falls back to a plain loop if the
 * packing buffers cannot be allocated. */
void mmc_sgemm(const mmc_gemm_kernel *kern, int nt, int ta, int tb, int M, int N, int K,
               float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
               float *C, int64_t ldc);

/* C = alpha · op(A) · op(B) + bias, bias a row of N floats added to every row of C (the
 * first K slice starts each tile of C from the bias, as linear layers need): the same
 * result, bit for bit, as filling C's rows with bias and calling mmc_sgemm with beta = 1,
 * without the separate pass over C. */
void mmc_sgemm_bias(const mmc_gemm_kernel *kern, int nt, int ta, int tb, int M, int N, int K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    const float *bias, float *C, int64_t ldc);

/* Which implementation mmc_gemm uses: MMC_GEMM=openblas|mmc in the environment, read once;
 * by default mmc's when the CPU has AVX2 or AVX-512 (or when there is no OpenBLAS). */
enum { MMC_GEMM_USE_MMC = 1, MMC_GEMM_USE_OPENBLAS = 2 };
int mmc_gemm_backend(void);

#endif

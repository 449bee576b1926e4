/*
 * qgemm.h — int8 inference products (src/ops/qgemm.c): Y = X · Wᵀ + b with W quantised
 * ahead of time (q8: int8 per output channel; q4: 4-bit per group of 32 inputs) and X
 * quantised on the fly, row by row, to unsigned 8 bits with a zero point.
 *
 * The arithmetic, for row i of X and output channel n:
 *   X[i,k] ≈ sa_i · (u_ik − z_i)      u in 0..255, z_i the row's zero point
 *   W[n,k] ≈ sw_n · q_nk               q in −127..127 (q4: −8..7, sw per group of 32 k)
 *   Y[i,n] = sa_i · sw_n · (Σ_k u_ik·q_nk − z_i · Σ_k q_nk) + b_n
 * The sum Σ u·q is exact in int32 (|u·q| ≤ 255·127, K ≤ 32768 inputs), and the correction
 * z_i · Σ_k q_nk uses the column sums kept with the weights, so AVX-512 VNNI's vpdpbusd
 * (unsigned × signed bytes, four products into each int32 lane) does the whole inner loop.
 * Every kernel (VNNI and the portable one) computes the same int32 sums and finishes them
 * with the same float operations, so all give bit-identical Y, for any thread count.
 *
 * Packed weight layout (what the kernels read): panels of 64 output channels; in a panel,
 * for each group of 4 inputs kg, 256 bytes: byte 4·j + t is q[64·p + j][4·kg + t]. q4
 * packs two such blocks (kg even in the low nibble, odd in the high) into one, nibbles
 * stored as q + 8. Channels past N and inputs past K are zero.
 */
#ifndef MMC_OPS_QGEMM_H
#define MMC_OPS_QGEMM_H

#include "mmc/core.h"
#include <stddef.h>
#include <stdint.h>

enum { MMC_QNR = 64, MMC_QMR = 6, MMC_Q4_GROUP = 32 };

struct mmc_qweight {
    int type;        /* MMC_QTYPE_Q8 or MMC_QTYPE_Q4 */
    int out, in;     /* N (rows of W), K */
    int kp, np;      /* K rounded up to 4 (q4: to the group), N rounded up to 64 */
    int groups;      /* scale groups along K: 1 for q8, kp / 32 for q4 */
    uint8_t *data;   /* packed weights (q8: np·kp bytes; q4: np·kp/2) */
    float *scale;    /* (groups, np): sw per group and channel, 0 in the padding */
    int32_t *colsum; /* (groups, np): Σ q over the group's inputs */
    float *corr;     /* q4: (np) Σ_g sw_g·colsum_g, the zero-point correction per channel */
    int view;        /* 1: data/scale/colsum point into another matrix (mmc_qweight_stack) */
};

/* q4 finishes in float: Y = sa_i · (Σ_g sw_g,n · Σ_{k∈g} u_ik·q_nk − z_i · corr_n) + b_n with
 * corr_n = Σ_g sw_g,n · Σ_{k∈g} q_nk, each group's int32 sum converted and scaled in turn.
 *
 * One micro-kernel: a 6 × 64 tile of Y from 6 rows of packed activations (row stride lda)
 * and one panel of packed weights, finished with the epilogue above; writes mr ≤ 6 rows and
 * nr ≤ 64 columns of y (row stride ldy). */
typedef void (*mmc_qgemm_ukernel)(const struct mmc_qweight *w, int panel, const uint8_t *a, int64_t lda,
                                  const float *sa, const int32_t *za, const float *bias, float *y,
                                  int64_t ldy, int mr, int nr);

typedef struct mmc_qgemm_kernel {
    const char *name;                 /* "avx512-vnni", "generic" */
    mmc_qgemm_ukernel q8, q4;
    void (*quantize_rows)(const float *x, int64_t ldx, int m, int k, int kp, uint8_t *u, float *sa,
                          int32_t *za);
    int (*available)(void);
} mmc_qgemm_kernel;

/* The compiled-in kernels, best first; *n receives the count. */
const mmc_qgemm_kernel *mmc_qgemm_kernels(int *n);
const mmc_qgemm_kernel *mmc_qgemm_best_kernel(void);

/* Y (M, N) = X (M, K) · Wᵀ + bias (bias NULL: none), X rows ldx apart, Y rows ldy apart, on
 * nt threads with kernel kn. `scratch` must hold mmc_qgemm_scratch_bytes(M, K) bytes,
 * 64-byte aligned. */
size_t mmc_qgemm_scratch_bytes(int M, int K);
void mmc_qgemm(const mmc_qgemm_kernel *kn, int nt, const struct mmc_qweight *w, int M, const float *X,
               int64_t ldx, const float *bias, float *Y, int64_t ldy, void *scratch);

#endif

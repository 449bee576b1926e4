/*
 * vmath.h — vectorised float kernels for the elementwise maps that cost time in the
 * workloads (docs/performance.md): exp, quick_gelu and its derivative, softmax rows, and
 * the row statistics of layer norm. Internal to the ops.
 *
 * Each has an AVX-512 version (compiled with a function `target` attribute, as the GEMM
 * kernels are, so the library needs no -march and the Asan build runs it too) and a
 * scalar one; the mmc_v* entry points pick AVX-512 at run time when the CPU has it.
 * mmc_vmath_force_scalar(1) makes them all take the scalar path (tests compare the two).
 *
 * exp: x = n·ln2 + r with n = round(x·log2 e), |r| <= ln2/2; e^r by a degree-7 polynomial
 * (Cephes' expf coefficients), then 2^n applied with vscalefps, which also gives +inf
 * above ~88.7 and 0 / subnormals below ~-87.3 without a branch. Within 2 ulp of expf over
 * the float range (test_ops_vmath.c checks it); NaN stays NaN, exp(-inf) = 0,
 * exp(+inf) = +inf.
 */
#ifndef MMC_OPS_VMATH_H
#define MMC_OPS_VMATH_H

#include <stdint.h>

/* y[i] = expf(x[i]) for i < n (y may be x). */
void mmc_vexp(const float *x, float *y, int64_t n);
/* y[i] = x / (1 + exp(-1.702 x)) (quick_gelu), i < n (y may be x). */
void mmc_vqgelu(const float *x, float *y, int64_t n);
/* gx[i] += g[i] · d quick_gelu / dx at x[i]. */
void mmc_vqgelu_backward(const float *x, const float *g, float *gx, int64_t n);
/* One row of n >= 1 scores in place: exp(x - max) / sum, and returns 1. Returns 0 without
 * touching the row when it has no vector path (no AVX-512, or forced scalar) or the row
 * holds a NaN or is all -inf: the caller's own scalar code handles those. */
int mmc_vsoftmax_row(float *x, int n);
/* Mean and 1 / sqrt(biased variance + eps) of x[0..n), accumulated in double. */
void mmc_vrow_stats(const float *x, int n, float eps, float *mean, float *rstd);

/* 1: every entry point above takes its scalar path (tests); returns the previous value. */
int mmc_vmath_force_scalar(int on);

#endif

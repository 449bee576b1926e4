/* loss_internal.h — what the losses in src/loss share: argument checks, the in-batch
 * similarity/distance matrices, and one fused reduction over positive and negative pairs.
 * Not installed. */
#ifndef MMC_LOSS_INTERNAL_H
#define MMC_LOSS_INTERNAL_H

#include "internal.h"
#include "mmc/loss.h"
#include "mmc/ops.h" /* the losses are built from ops */

/* Norm clamp of the cosine similarity (F.cosine_similarity's default eps). */
#define MMC_LOSS_COS_EPS 1e-8f

/* a and b: non-NULL, 2-D, the same shape (N, D), N >= 1, D >= 1. 0, or -1 with ctx->err. */
int mmc_loss_check_ab(mmc_ctx *ctx, const char *op, const mmc_tensor *a, const mmc_tensor *b);
/* margin finite. */
int mmc_loss_check_margin(mmc_ctx *ctx, const char *op, float margin);
/* n_neg >= 0; n_neg > 0 needs an rng and N >= 2. */
int mmc_loss_check_negatives(mmc_ctx *ctx, const char *op, int N, int n_neg, const mmc_rng *rng);

/* a (N, D), b (M, D) -> S (N, M), S[i, j] = cos(a_i, b_j), norms clamped at
 * MMC_LOSS_COS_EPS: l2_normalize both, then one GEMM. */
mmc_tensor *mmc_loss_cosine_matrix(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b);

/* The mean over pairs of an affine term on positives and a hinge on negatives:
 *   L = 1/P * [ sum over i of (alpha + beta M[i, i])
 *             + sum over negatives (i, j) of max(0, gamma + delta M[i, j]) ]
 * M (N, N); negatives are every j != i (n_neg = 0) or n_neg draws per anchor from rng
 * (see mmc.h, "Pairs"); P = N + their number. Fused so that no (N, N) mask or hinge
 * matrix is built; a sampled negative list (N * n_neg ints) is all it keeps for backward.
 * The hinge passes no gradient at exactly 0 (as relu). -> (1). */
mmc_tensor *mmc_loss_pair_hinge(mmc_ctx *ctx, const char *op, mmc_tensor *M, int n_neg,
                                mmc_rng *rng, float alpha, float beta, float gamma, float delta);

#endif

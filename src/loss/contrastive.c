/* contrastive.c — the margin contrastive loss over in-batch pairs (formula in mmc.h):
 *   L = 1/P * sum over pairs of  y d + (1 - y) max(0, m - d).
 *
 * Built from the (N, N) distance matrix — mmc_pairwise_distance for Euclidean, the cosine
 * matrix for cosine — and the fused pair reduction, which reads only the diagonal and the
 * chosen negatives. With d = 1 - cos, the terms are affine in cos, so the cosine case runs
 * the reduction straight on the similarity matrix and never forms 1 - S:
 *   positive  d = 1 - s                 (alpha 1, beta -1)
 *   negative  max(0, m - 1 + s)         (gamma m - 1, delta +1)
 * and the Euclidean case on D itself: positive d (0, 1), negative max(0, m - d) (m, -1). */
#include "loss_internal.h"

/* Distances only steer the gradient direction below this (see mmc_pairwise_distance);
 * tiny, so the gradient is cdist's wherever d > 0. */
#define EUCLID_EPS 1e-12f

mmc_tensor *mmc_loss_contrastive(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float margin,
                                 int distance, int n_neg, mmc_rng *rng) {
    const char *op = "loss_contrastive";
    if (mmc_loss_check_ab(ctx, op, a, b) || mmc_loss_check_margin(ctx, op, margin) ||
        mmc_loss_check_negatives(ctx, op, a->shape[0], n_neg, rng))
        return NULL;
    if (distance == MMC_DIST_EUCLIDEAN) {
        mmc_tensor *D = mmc_pairwise_distance(ctx, a, b, EUCLID_EPS); /* (N, N) */
        return D ? mmc_loss_pair_hinge(ctx, op, D, n_neg, rng, 0.0f, 1.0f, margin, -1.0f) : NULL;
    }
    if (distance == MMC_DIST_COSINE) {
        mmc_tensor *S = mmc_loss_cosine_matrix(ctx, a, b); /* (N, N) */
        return S ? mmc_loss_pair_hinge(ctx, op, S, n_neg, rng, 1.0f, -1.0f, margin - 1.0f, 1.0f) : NULL;
    }
    return mmc_op_fail(ctx, MMC_ERR_USAGE,
                       "%s: distance must be MMC_DIST_EUCLIDEAN (%d) or MMC_DIST_COSINE (%d), got %d",
                       op, MMC_DIST_EUCLIDEAN, MMC_DIST_COSINE, distance);
}

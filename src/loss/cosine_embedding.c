/* cosine_embedding.c — torch.nn.CosineEmbeddingLoss over in-batch pairs (formula in mmc.h):
 *   y = +1 (i, i):  1 - cos        y = -1 (i, j != i):  max(0, cos - m)
 * mean over the pairs. Both terms are affine in cos, so it is the fused pair reduction on
 * the (N, N) cosine matrix: alpha 1, beta -1 for positives; gamma -m, delta +1 for
 * negatives. */
#include "loss_internal.h"

mmc_tensor *mmc_loss_cosine_embedding(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float margin,
                                      int n_neg, mmc_rng *rng) {
    const char *op = "loss_cosine_embedding";
    if (mmc_loss_check_ab(ctx, op, a, b) || mmc_loss_check_margin(ctx, op, margin) ||
        mmc_loss_check_negatives(ctx, op, a->shape[0], n_neg, rng))
        return NULL;
    mmc_tensor *S = mmc_loss_cosine_matrix(ctx, a, b); /* (N, N) */
    return S ? mmc_loss_pair_hinge(ctx, op, S, n_neg, rng, 1.0f, -1.0f, -margin, 1.0f) : NULL;
}

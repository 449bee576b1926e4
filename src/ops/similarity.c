/* similarity.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_l2_normalize(mmc_ctx *ctx, mmc_tensor *x, float eps) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "l2_normalize: not implemented"); }
mmc_tensor *mmc_cosine_similarity(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "cosine_similarity: not implemented"); }
mmc_tensor *mmc_pairwise_distance(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "pairwise_distance: not implemented"); }

/* embedding.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_embedding(mmc_ctx *ctx, mmc_tensor *table, const int *ids, int n) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "embedding: not implemented"); }
mmc_tensor *mmc_dropout(mmc_ctx *ctx, mmc_tensor *x, float p, int training, mmc_rng *rng) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "dropout: not implemented"); }

/* softmax.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_softmax(mmc_ctx *ctx, mmc_tensor *a) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "softmax: not implemented"); }
mmc_tensor *mmc_log_softmax(mmc_ctx *ctx, mmc_tensor *a) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "log_softmax: not implemented"); }
mmc_tensor *mmc_cross_entropy(mmc_ctx *ctx, mmc_tensor *logits, const int *targets, int ignore_index, float label_smoothing) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "cross_entropy: not implemented"); }

/* norm.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_batch_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta, mmc_tensor *running_mean, mmc_tensor *running_var, int training, float momentum, float eps) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "batch_norm: not implemented"); }
mmc_tensor *mmc_layer_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta, float eps) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "layer_norm: not implemented"); }

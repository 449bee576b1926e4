/* reduce.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_sum(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "sum: not implemented"); }
mmc_tensor *mmc_mean(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "mean: not implemented"); }
mmc_tensor *mmc_max(mmc_ctx *ctx, mmc_tensor *a, int axis, int keepdim) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "max: not implemented"); }

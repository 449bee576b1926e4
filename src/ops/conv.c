/* conv.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_conv2d(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *w, mmc_tensor *b, mmc_conv2d_opts o) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "conv2d: not implemented"); }
mmc_tensor *mmc_max_pool2d(mmc_ctx *ctx, mmc_tensor *x, int k, int s, int p) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "max_pool2d: not implemented"); }
mmc_tensor *mmc_avg_pool2d(mmc_ctx *ctx, mmc_tensor *x, int k, int s, int p) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "avg_pool2d: not implemented"); }
mmc_tensor *mmc_global_avg_pool2d(mmc_ctx *ctx, mmc_tensor *x) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "global_avg_pool2d: not implemented"); }
mmc_conv2d_opts mmc_conv2d_defaults(void) { mmc_conv2d_opts o = {1, 1, 0, 0, 1, 1, 1}; return o; }

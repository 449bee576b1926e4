/* matmul.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_matmul(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, int ta, int tb) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "matmul: not implemented"); }
mmc_tensor *mmc_bmm(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, int ta, int tb) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "bmm: not implemented"); }
mmc_tensor *mmc_linear(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *w, mmc_tensor *b) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "linear: not implemented"); }

/* shape.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_reshape(mmc_ctx *ctx, mmc_tensor *x, int ndim, const int *shape) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "reshape: not implemented"); }
mmc_tensor *mmc_transpose(mmc_ctx *ctx, mmc_tensor *x, int d0, int d1) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "transpose: not implemented"); }
mmc_tensor *mmc_permute(mmc_ctx *ctx, mmc_tensor *x, const int *perm) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "permute: not implemented"); }
mmc_tensor *mmc_concat(mmc_ctx *ctx, mmc_tensor **xs, int n, int axis) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "concat: not implemented"); }
int mmc_split(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *sizes, int n, mmc_tensor **outs) { mmc_op_fail(ctx, MMC_ERR_RUNTIME, "split: not implemented"); return MMC_ERR_RUNTIME; }
mmc_tensor *mmc_slice(mmc_ctx *ctx, mmc_tensor *x, int axis, int start, int end) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "slice: not implemented"); }
mmc_tensor *mmc_gather(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *index, int index_len) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "gather: not implemented"); }

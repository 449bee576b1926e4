/* attention.c — STUB: to be implemented. */
#include "internal.h"

mmc_tensor *mmc_attention(mmc_ctx *ctx, mmc_tensor *q, mmc_tensor *k, mmc_tensor *v, int causal, const uint8_t *key_mask) { return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "attention: not implemented"); }

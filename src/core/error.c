/* error.c — status codes with a message that says what went wrong and where. */
#include "internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mmc_error_set(mmc_error *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void mmc_error_clear(mmc_error *e) {
    if (!e) return;
    e->code = MMC_OK;
    e->msg[0] = 0;
}

void *mmc_op_fail(mmc_ctx *ctx, int code, const char *fmt, ...) {
    if (ctx && ctx->err.code == MMC_OK) { /* keep the first (root-cause) error */
        ctx->err.code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err.msg, sizeof ctx->err.msg, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

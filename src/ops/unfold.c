/* unfold.c — 1-D unfold (im2col along time) for convolutions over sequences kept as
 * (B, T, C): out[b, t, c·k + j] = x[b, t·stride + j - pad, c], 0 outside 0..T-1. A Conv1d
 * with weight (C_out, C_in, k) is then mmc_linear over the unfolded rows with that weight
 * read as (C_out, C_in·k) — one GEMM, no layout change (src/models/encoder_audio.c).
 * Backward scatters each column back onto the step it came from. */
#include "internal.h"
#include "mmc/ops.h"
#include <string.h>

static void unfold_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0];
    if (!x->requires_grad) return;
    int k = n->ia[0], s = n->ia[1], p = n->ia[2];
    int B = x->shape[0], T = x->shape[1], C = x->shape[2], To = n->out->shape[1];
    float *gx = mmc_tensor_grad(ctx, x);
    const float *g = n->out->grad;
    if (!gx) return;
    /* each (b, input step) gathers from the outputs that read it: race-free per b */
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * To * C * k, 32768), for (int b = 0; b < B; b++) {
        for (int t = 0; t < To; t++) {
            const float *go = g + ((size_t)b * To + t) * C * k;
            for (int j = 0; j < k; j++) {
                int ti = t * s + j - p;
                if (ti < 0 || ti >= T) continue;
                float *d = gx + ((size_t)b * T + ti) * C;
                for (int c = 0; c < C; c++) d[c] += go[(size_t)c * k + j];
            }
        }
    });
}

mmc_tensor *mmc_unfold1d(mmc_ctx *ctx, mmc_tensor *x, int k, int stride, int pad) {
    MMC_CHECK_INPUTS(ctx, "unfold1d", x);
    char sh[64];
    if (x->ndim != 3 || k < 1 || stride < 1 || pad < 0 || pad >= k)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "unfold1d: x %s must be (B, T, C), k >= 1, stride >= 1, 0 <= pad < k (got %d, %d, %d)",
                           mmc_shape_str(x, sh, sizeof sh), k, stride, pad);
    int B = x->shape[0], T = x->shape[1], C = x->shape[2];
    int64_t span = (int64_t)T + 2 * pad - k;
    if (span < 0) return mmc_op_fail(ctx, MMC_ERR_USAGE, "unfold1d: %d steps are fewer than the kernel %d (pad %d)", T, k, pad);
    int To = (int)(span / stride + 1);
    if ((int64_t)C * k > (1 << 30)) return mmc_op_fail(ctx, MMC_ERR_USAGE, "unfold1d: %d channels x kernel %d is too wide", C, k);
    mmc_tensor *out = mmc_tensor_empty(ctx, 3, (int[]){B, To, C * k});
    if (!out) return NULL;
    const float *xd = x->data;
    float *od = out->data;
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * To * C * k, 32768), for (int64_t bt = 0; bt < (int64_t)B * To; bt++) {
        int b = (int)(bt / To), t = (int)(bt % To);
        float *o = od + (size_t)bt * C * k;
        for (int j = 0; j < k; j++) {
            int ti = t * stride + j - pad;
            if (ti < 0 || ti >= T) {
                for (int c = 0; c < C; c++) o[(size_t)c * k + j] = 0.0f;
                continue;
            }
            const float *xi = xd + ((size_t)b * T + ti) * C;
            for (int c = 0; c < C; c++) o[(size_t)c * k + j] = xi[c];
        }
    });
    mmc_node *n = mmc_node_record(ctx, "unfold1d", out, unfold_backward, 1, x);
    if (n) n->ia[0] = k, n->ia[1] = stride, n->ia[2] = pad;
    return out;
}

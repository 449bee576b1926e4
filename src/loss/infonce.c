/* infonce.c — CLIP's symmetric InfoNCE with a learnable temperature (formula in mmc.h).
 *
 * s = a b^T (N, N) comes from mmc_matmul (which carries the gradient on to a and b). The
 * rest is one fused op on s and logit_scale: with t = exp(min(logit_scale, max_scale)),
 * z = t s, r_i = lse_j z(i, j) (image -> text) and c_j = lse_i z(i, j) (text -> image),
 *   L = 1/(2N) sum_i (r_i + c_i - 2 z(i, i)).
 * Backward, with P = exp(z - r) (row softmax) and Q = exp(z - c) (column softmax):
 *   dL/ds(i, j)      = g t/(2N) (P(i, j) + Q(i, j) - 2 [i == j])
 *   dL/dlogit_scale  = g/(2N) sum_ij (P + Q - 2 [i == j]) z(i, j)   (0 when clamped)
 * since dz/dlogit_scale = z. Only r and c (2N doubles) are kept: P and Q are recomputed
 * from s in the backward, one exp each, so the op's memory beyond s and its gradient is
 * O(N) where composing scale, transpose and two cross-entropies would hold three more
 * (N, N) matrices and their gradients. All sums are in double, around the row or column
 * maximum. */
#include "loss_internal.h"
#include <float.h>
#include <math.h>

#define COL_BLOCK 64 /* columns per thread task in the column log-sum-exp */

typedef struct infonce_saved {
    double *r, *c; /* (N) row and column log-sum-exp of z */
    double t;      /* the scale used */
    int clamped;   /* logit_scale > max_scale: the scale is a constant */
} infonce_saved;

static void infonce_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *S = n->in[0], *ls = n->in[1];
    const infonce_saved *sv = n->saved;
    int N = S->shape[0];
    float *gS = mmc_needs_grad(S) ? mmc_tensor_grad(ctx, S) : NULL;
    /* a clamped scale still gets its (zero) gradient buffer, as in PyTorch */
    float *gls = mmc_needs_grad(ls) ? mmc_tensor_grad(ctx, ls) : NULL;
    if (sv->clamped) gls = NULL;
    double *part = gls ? mmc_scratch(ctx, sizeof(double) * (size_t)N) : NULL;
    if (ctx->err.code) return;
    double t = sv->t, w = n->out->grad[0] / (2.0 * N);
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 16384),
    for (int i = 0; i < N; i++) {
        const float *si = S->data + (int64_t)i * N;
        double acc = 0;
        for (int j = 0; j < N; j++) {
            double z = t * si[j];
            double d = exp(z - sv->r[i]) + exp(z - sv->c[j]) - (i == j ? 2.0 : 0.0);
            if (gS) gS[(int64_t)i * N + j] += (float)(w * t * d);
            acc += d * z;
        }
        if (part) part[i] = acc;
    });
    if (gls) {
        double acc = 0;
        for (int i = 0; i < N; i++) acc += part[i];
        gls[0] += (float)(w * acc);
    }
}

mmc_tensor *mmc_loss_infonce(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, mmc_tensor *logit_scale,
                             float max_scale) {
    const char *op = "loss_infonce";
    if (mmc_loss_check_ab(ctx, op, a, b)) return NULL;
    if (!logit_scale)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: logit_scale is NULL (a 1-element tensor holding "
                           "log(1/temperature))", op);
    if (logit_scale->numel != 1) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: logit_scale must have one element, got shape %s",
                           op, mmc_shape_str(logit_scale, s, sizeof s));
    }
    if (isnan(logit_scale->data[0]) || isnan(max_scale))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: logit_scale (%g) and max_scale (%g) must not be NaN",
                           op, logit_scale->data[0], max_scale);
    double ls = logit_scale->data[0];
    int clamped = ls > max_scale;
    double t = exp(clamped ? (double)max_scale : ls);
    if (!(t > 0 && t <= FLT_MAX)) /* the logits and the loss must fit in a float */
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: the scale exp(%g) is not a positive finite number; "
                           "clamp it with max_scale (CLIP: log(100) = 4.6052)", op,
                           clamped ? (double)max_scale : ls);
    mmc_tensor *S = mmc_matmul(ctx, a, b, 0, 1); /* (N, N) */
    if (!S) return NULL;
    int N = S->shape[0];
    mmc_tensor *out = mmc_tensor_empty(ctx, 1, (int[]){1});
    infonce_saved *sv = mmc_scratch(ctx, sizeof *sv);
    double *r = mmc_scratch(ctx, sizeof(double) * (size_t)N);
    double *c = mmc_scratch(ctx, sizeof(double) * (size_t)N);
    double *cmax = mmc_scratch(ctx, sizeof(double) * (size_t)N);
    if (!out || !sv || !r || !c || !cmax) return NULL;
    const float *s = S->data;
    /* rows: z(i, .) is contiguous; t > 0, so the maximum of z is t times that of s */
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 16384),
    for (int i = 0; i < N; i++) {
        const float *si = s + (int64_t)i * N;
        float mx = si[0];
        for (int j = 1; j < N; j++) if (si[j] > mx) mx = si[j];
        double zm = t * mx, acc = 0;
        for (int j = 0; j < N; j++) acc += exp(t * si[j] - zm);
        r[i] = zm + log(acc);
    });
    /* columns: each task owns a block of columns and walks the rows in order, reading
     * COL_BLOCK contiguous floats per row; every column's sum has a fixed order */
    int nblk = (N + COL_BLOCK - 1) / COL_BLOCK;
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 16384),
    for (int bk = 0; bk < nblk; bk++) {
        int j0 = bk * COL_BLOCK, j1 = j0 + COL_BLOCK < N ? j0 + COL_BLOCK : N;
        for (int j = j0; j < j1; j++) { cmax[j] = -INFINITY; c[j] = 0; }
        for (int i = 0; i < N; i++)
            for (int j = j0; j < j1; j++) if (s[(int64_t)i * N + j] > cmax[j]) cmax[j] = s[(int64_t)i * N + j];
        for (int i = 0; i < N; i++)
            for (int j = j0; j < j1; j++) c[j] += exp(t * (s[(int64_t)i * N + j] - cmax[j]));
        for (int j = j0; j < j1; j++) c[j] = t * cmax[j] + log(c[j]);
    });
    double total = 0;
    for (int i = 0; i < N; i++) total += r[i] + c[i] - 2.0 * t * s[(int64_t)i * N + i];
    out->data[0] = (float)(total / (2.0 * N));
    sv->r = r;
    sv->c = c;
    sv->t = t;
    sv->clamped = clamped;
    mmc_node *n = mmc_node_record(ctx, op, out, infonce_backward, 2, S, logit_scale);
    if (n) n->saved = sv;
    return out;
}

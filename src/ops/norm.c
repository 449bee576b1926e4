/* norm.c — batch normalisation and layer normalisation, each with a fused backward.
 *
 * Both normalise xhat = (x - mean) · invstd, invstd = 1 / sqrt(var + eps) with the biased
 * variance, then y = gamma · xhat + beta. When the statistics come from the very values
 * being normalised (batch norm in training, layer norm always), the gradient is
 *   dx = invstd · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat)),  dxhat = dy · gamma
 * with the means over the normalised group; with fixed statistics (batch norm in eval)
 * it is just dx = invstd · dxhat. Statistics are summed in double so that large groups
 * (B·H·W of a feature map) keep float32 accuracy. Forward keeps only mean and invstd;
 * xhat is recomputed from x in backward. */
#include "blas.h"
#include "vmath.h"
#include <math.h>
#include <string.h>

/* --------------------------------------------------------------- batch norm
 *
 * mmc_batch_norm_act fuses what a ResNet does after each convolution: y = act(BN(x) + res),
 * res another tensor like x (the shortcut) or none, act ReLU or none; mmc_batch_norm is the
 * case without either. One output and one pass to write it, where BN, add and ReLU as three
 * ops would write three tensors of that size, keep them for backward and give each a
 * gradient buffer. Backward needs no more than y: the ReLU's gate is y > 0.
 *
 * Channel c of x (B, C, S) is B runs of S contiguous values; each thread takes whole
 * channels. Statistics: per run a mean and a sum of squared deviations in float (two passes
 * over the run, the second from L1), combined across runs in double (Chan et al.'s update),
 * so a large channel (B·H·W values) keeps float32 accuracy without a second pass over the
 * whole channel. */

typedef struct bn_geom {
    int B, C;
    int64_t S;       /* spatial size: product of the dims after C (1 for (B, C)) */
    int batch_stats; /* 1: normalised with this batch's statistics */
    int relu;        /* y = max(0, ...) */
} bn_geom;

// mean and biased variance of channel c of x (B, C, S)
static void bn_channel_stats(const bn_geom *g, const float *x, int c, double *mean, double *var) {
    double n = 0.0, m = 0.0, m2 = 0.0;
    for (int b = 0; b < g->B; b++) {
        const float *restrict r = x + ((int64_t)b * g->C + c) * g->S;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < g->S; j++) s += r[j];
        float rm = s / (float)g->S, ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int64_t j = 0; j < g->S; j++) ss += (r[j] - rm) * (r[j] - rm);
        /* combine (n, m, m2) with this run's (S, rm, ss) */
        double nb = (double)g->S, d = (double)rm - m, nn = n + nb;
        m += d * nb / nn;
        m2 += (double)ss + d * d * n * nb / nn;
        n = nn;
    }
    *mean = m;
    *var = m2 / n;
}

/* y's pre-activation from x, the same way in forward and backward: the backward of a
 * BN + ReLU without a shortcut recomputes the ReLU's gate from x, which it reads anyway,
 * instead of reading y (one pass over the tensor less, twice). fmaf where the target has
 * FMA, so that both sides round alike whatever the compiler would contract. */
#if defined(__FMA__)
#define BN_AFFINE(x, k, sh) fmaf((x), (k), (sh))
#else
#define BN_AFFINE(x, k, sh) ((x) * (k) + (sh))
#endif
/* the affine map's shift, beta - mean·k, the same way in forward and backward */
static inline float bn_shift(float beta, float mean, float k) { return BN_AFFINE(-mean, k, beta); }

/* Channel c's backward, with GATE(j) the ReLU's gate at j (1 without ReLU): two passes,
 * sums of the gated dy and dy·xhat, then dx (and the shortcut's gradient, which is the
 * gated dy). */
#define BN_BWD_CHANNEL(NAME, GATE)                                                               \
    static void NAME(const bn_geom *g, int c, const float *stats, const float *X, const float *DY,  \
                     const float *Y, const float *gamma, const float *beta, float *gx, float *gg,   \
                     float *gbt, float *gr, int gx_fresh, int gr_fresh) {                        \
        const double N = (double)g->B * g->S;                                                    \
        const float mean = stats[c], inv = stats[g->C + c];                                      \
        const float kf = (gamma ? gamma[c] : 1.0f) * inv, shf = bn_shift(beta ? beta[c] : 0.0f, mean, kf); \
        (void)kf, (void)shf, (void)Y;                                                            \
        double sdy = 0.0, sdyx = 0.0;                                                            \
        for (int b = 0; b < g->B; b++) {                                                         \
            int64_t off = ((int64_t)b * g->C + c) * g->S;                                        \
            const float *restrict xr = X + off, *restrict dyr = DY + off, *restrict yr = Y + off; \
            (void)yr;                                                                            \
            float s1 = 0.0f, s2 = 0.0f;                                                          \
            _Pragma("omp simd reduction(+ : s1, s2)") for (int64_t j = 0; j < g->S; j++) {        \
                float d = GATE(j) ? dyr[j] : 0.0f;                                               \
                s1 += d;                                                                         \
                s2 += d * ((xr[j] - mean) * inv);                                                \
            }                                                                                    \
            if (gr) {                                                                            \
                float *restrict grr = gr + off;                                                  \
                if (gr_fresh) {                                                                  \
                    _Pragma("omp simd") for (int64_t j = 0; j < g->S; j++) grr[j] = GATE(j) ? dyr[j] : 0.0f; \
                } else {                                                                         \
                    _Pragma("omp simd") for (int64_t j = 0; j < g->S; j++) grr[j] += GATE(j) ? dyr[j] : 0.0f; \
                }                                                                                \
            }                                                                                    \
            sdy += s1;                                                                           \
            sdyx += s2;                                                                          \
        }                                                                                        \
        if (gg) gg[c] += (float)sdyx;                                                            \
        if (gbt) gbt[c] += (float)sdy;                                                           \
        if (!gx) return;                                                                         \
        const float k = kf;                                                                      \
        const float mdy = g->batch_stats ? (float)(sdy / N) : 0.0f;                              \
        const float kx = g->batch_stats ? (float)(sdyx / N) * inv : 0.0f; /* xhat·mean(dy·xhat) = (x - mean)·kx */ \
        for (int b = 0; b < g->B; b++) {                                                         \
            int64_t off = ((int64_t)b * g->C + c) * g->S;                                        \
            const float *restrict xr = X + off, *restrict dyr = DY + off, *restrict yr = Y + off; \
            (void)yr;                                                                            \
            float *restrict gxr = gx + off;                                                      \
            if (gx_fresh) {                                                                      \
                _Pragma("omp simd") for (int64_t j = 0; j < g->S; j++) {                         \
                    float d = GATE(j) ? dyr[j] : 0.0f;                                           \
                    gxr[j] = k * (d - mdy - (xr[j] - mean) * kx);                                \
                }                                                                                \
            } else {                                                                             \
                _Pragma("omp simd") for (int64_t j = 0; j < g->S; j++) {                         \
                    float d = GATE(j) ? dyr[j] : 0.0f;                                           \
                    gxr[j] += k * (d - mdy - (xr[j] - mean) * kx);                               \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }
#define GATE_NONE(j) 1
#define GATE_Y(j) (yr[j] > 0.0f)
#define GATE_X(j) (BN_AFFINE(xr[j], kf, shf) > 0.0f)
BN_BWD_CHANNEL(bn_bwd_plain, GATE_NONE)
BN_BWD_CHANNEL(bn_bwd_gate_y, GATE_Y)
BN_BWD_CHANNEL(bn_bwd_gate_x, GATE_X)
#undef GATE_NONE
#undef GATE_Y
#undef GATE_X
#undef BN_BWD_CHANNEL

static void bn_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2], *res = n->in[3];
    const bn_geom *g = n->saved;
    const float *stats = n->saved2; /* mean[C], invstd[C] */
    /* x's and res's gradients are written whole when they are new (see mmc_tensor_grad_to_write) */
    int gx_fresh = 0, gr_fresh = 0;
    float *gx = mmc_needs_grad(x) ? mmc_tensor_grad_to_write(ctx, x, &gx_fresh) : NULL;
    float *gg = mmc_needs_grad(gamma) ? mmc_tensor_grad(ctx, gamma) : NULL;
    float *gbt = mmc_needs_grad(beta) ? mmc_tensor_grad(ctx, beta) : NULL;
    float *gr = mmc_needs_grad(res) ? mmc_tensor_grad_to_write(ctx, res, &gr_fresh) : NULL;
    if (ctx->err.code) return;
    if (gx && gx == gr) { /* x and res the same tensor: add both, into zeros */
        if (gx_fresh || gr_fresh) memset(gx, 0, sizeof(float) * (size_t)x->numel);
        gx_fresh = gr_fresh = 0;
    }
    const float *G = gamma ? gamma->data : NULL, *Bt = beta ? beta->data : NULL;
    /* the ReLU's gate: from x when there is no shortcut (y = relu(BN(x)), its sign follows from
     * x and the statistics), else from y */
    typeof(&bn_bwd_plain) f = !g->relu ? bn_bwd_plain : res ? bn_bwd_gate_y : bn_bwd_gate_x;
    /* each channel owns its slice of x, res, gamma and beta: channels are race-free, and go to
     * whichever thread is free */
    MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(x->numel, 32768),
        for (int c = 0; c < g->C; c++)
            f(g, c, stats, x->data, n->out->grad, n->out->data, G, Bt, gx, gg, gbt, gr, gx_fresh, gr_fresh));
}

static int bn_check(mmc_ctx *ctx, const mmc_tensor *x, mmc_tensor *const *pv, const mmc_tensor *res,
                    int training, float momentum, float eps) {
    static const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
    char s1[64], s2[64];
    mmc_shape_str(x, s1, sizeof s1);
    if (x->ndim < 2) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "batch_norm: x %s: need (B, C, ...)", s1);
        return -1;
    }
    for (int i = 0; i < 4; i++)
        if (pv[i] && (pv[i]->ndim != 1 || pv[i]->shape[0] != x->shape[1])) {
            mmc_op_fail(ctx, MMC_ERR_USAGE, "batch_norm: %s %s does not match x %s (want (%d))",
                        names[i], mmc_shape_str(pv[i], s2, sizeof s2), s1, x->shape[1]);
            return -1;
        }
    if (res && !mmc_tensor_same_shape(res, x)) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "batch_norm_act: residual %s does not match x %s",
                    mmc_shape_str(res, s2, sizeof s2), s1);
        return -1;
    }
    if (!pv[2] != !pv[3]) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "batch_norm: give both running_mean and running_var, or neither");
        return -1;
    }
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f)) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "batch_norm: eps %g must be >= 0 and momentum %g in [0, 1]",
                    (double)eps, (double)momentum);
        return -1;
    }
    if (training && x->numel / (x->shape[1] ? x->shape[1] : 1) <= 1) {
        mmc_op_fail(ctx, MMC_ERR_USAGE,
                    "batch_norm: x %s has one value per channel; training needs more", s1);
        return -1;
    }
    return 0;
}

/* Channel c's forward: statistics (and the running update), then y. */
static void bn_forward_channel(const bn_geom *g, int c, const float *X, const float *R, float *Y,
                               const mmc_tensor *gamma, const mmc_tensor *beta, mmc_tensor *running_mean,
                               mmc_tensor *running_var, int training, float momentum, float eps, double N,
                               float *stats) {
    double mean, var;
    if (g->batch_stats) {
        bn_channel_stats(g, X, c, &mean, &var);
        if (training && running_mean) { /* PyTorch: the running var is unbiased */
            float *rm = running_mean->data + c, *rv = running_var->data + c;
            *rm = (1.0f - momentum) * *rm + momentum * (float)mean;
            *rv = (1.0f - momentum) * *rv + momentum * (float)(var * N / (N - 1.0));
        }
    } else {
        mean = running_mean->data[c];
        var = running_var->data[c];
    }
    float inv = (float)(1.0 / sqrt(var + eps));
    stats[c] = (float)mean;
    stats[g->C + c] = inv;
    const float k = (gamma ? gamma->data[c] : 1.0f) * inv;
    const float sh = bn_shift(beta ? beta->data[c] : 0.0f, (float)mean, k);
    const int relu = g->relu;
    for (int b = 0; b < g->B; b++) {
        int64_t off = ((int64_t)b * g->C + c) * g->S;
        const float *restrict xr = X + off;
        float *restrict yr = Y + off;
        if (R) {
            const float *restrict rr = R + off;
#pragma omp simd
            for (int64_t j = 0; j < g->S; j++) {
                float v = BN_AFFINE(xr[j], k, sh) + rr[j];
                yr[j] = relu && !(v > 0.0f) ? 0.0f : v;
            }
        } else {
#pragma omp simd
            for (int64_t j = 0; j < g->S; j++) {
                float v = BN_AFFINE(xr[j], k, sh);
                yr[j] = relu && !(v > 0.0f) ? 0.0f : v;
            }
        }
    }
}

// x (B, C, ...); gamma, beta, running_mean, running_var (C) or NULL; res like x or NULL -> like x
mmc_tensor *mmc_batch_norm_act(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                               mmc_tensor *running_mean, mmc_tensor *running_var, int training,
                               float momentum, float eps, mmc_tensor *res, int relu) {
    MMC_CHECK_INPUTS(ctx, "batch_norm", x);
    mmc_tensor *pv[4] = {gamma, beta, running_mean, running_var};
    if (bn_check(ctx, x, pv, res, training, momentum, eps)) return NULL;
    bn_geom *g = mmc_scratch(ctx, sizeof *g);
    float *stats = g ? mmc_scratch(ctx, sizeof(float) * 2 * (size_t)x->shape[1]) : NULL;
    mmc_tensor *out = stats ? mmc_tensor_empty(ctx, x->ndim, x->shape) : NULL;
    if (!out) return NULL;
    *g = (bn_geom){x->shape[0], x->shape[1], mmc_shape_numel(x->ndim - 2, x->shape + 2),
                   training || !running_mean, relu != 0};
    double N = (double)g->B * g->S;
    const float *X = x->data, *R = res ? res->data : NULL;
    float *Y = out->data;
    MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(x->numel, 32768),
        for (int c = 0; c < g->C; c++)
            bn_forward_channel(g, c, X, R, Y, gamma, beta, running_mean, running_var, training, momentum, eps, N,
                               stats));
    mmc_node *n = mmc_node_record(ctx, res || relu ? "batch_norm_act" : "batch_norm", out, bn_backward,
                                  4, x, gamma, beta, res);
    if (n) n->saved = g, n->saved2 = stats;
    return out;
}

mmc_tensor *mmc_batch_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                           mmc_tensor *running_mean, mmc_tensor *running_var, int training,
                           float momentum, float eps) {
    return mmc_batch_norm_act(ctx, x, gamma, beta, running_mean, running_var, training, momentum, eps,
                              NULL, 0);
}

/* --------------------------------------------------------------- layer norm */

// one row: mean and 1/sqrt(var + eps) of x (D)
static void ln_row_stats(const float *x, int D, float eps, float *mean, float *rstd) {
    mmc_vrow_stats(x, D, eps, mean, rstd); /* two passes in double (vmath.c) */
}

/* y = (x - mean) · rstd · gamma + beta over one row; with both gamma and beta (the usual
 * case) as a vector loop, the same operations in the same order */
static void ln_row_apply(const float *restrict x, int D, float mean, float rstd, const float *restrict G,
                         const float *restrict Bt, float *restrict y) {
    if (G && Bt) {
#pragma omp simd
        for (int j = 0; j < D; j++) y[j] = (x[j] - mean) * rstd * G[j] + Bt[j];
        return;
    }
    for (int j = 0; j < D; j++) y[j] = (x[j] - mean) * rstd * (G ? G[j] : 1.0f) + (Bt ? Bt[j] : 0.0f);
}

/* One row's dx, and its dgamma/dbeta contribution into part (2·D: dgamma, dbeta). */
static void ln_row_backward(const float *x, const float *dy, const float *gamma, float mean,
                            float rstd, int D, float *dx, float *part) {
    double sdx = 0.0, sdxx = 0.0; // sums of dxhat and dxhat·xhat over the row
    for (int j = 0; j < D; j++) {
        float xh = (x[j] - mean) * rstd, dxh = dy[j] * (gamma ? gamma[j] : 1.0f);
        sdx += dxh;
        sdxx += dxh * xh;
        if (part) {
            part[j] += dy[j] * xh;
            part[D + j] += dy[j];
        }
    }
    if (!dx) return;
    float m1 = (float)(sdx / D), m2 = (float)(sdxx / D);
    for (int j = 0; j < D; j++) {
        float xh = (x[j] - mean) * rstd, dxh = dy[j] * (gamma ? gamma[j] : 1.0f);
        dx[j] += rstd * (dxh - m1 - xh * m2);
    }
}

static void ln_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    int D = n->ia[0];
    int64_t R = D ? x->numel / D : 0;
    const float *stats = n->saved; /* mean[R], rstd[R] */
    float *gx = mmc_needs_grad(x) ? mmc_tensor_grad(ctx, x) : NULL;
    float *gg = mmc_needs_grad(gamma) ? mmc_tensor_grad(ctx, gamma) : NULL;
    float *gb = mmc_needs_grad(beta) ? mmc_tensor_grad(ctx, beta) : NULL;
    if (ctx->err.code) return;
    /* dgamma/dbeta: each thread sums its (static) share of rows, then the partials are
     * added in thread order — deterministic for a given thread count */
    int nt = x->numel > 32768 ? mmc_get_threads() : 1, want = gg || gb;
    float *part = want ? mmc_scratch(ctx, sizeof(float) * 2 * (size_t)D * nt) : NULL;
    if (ctx->err.code) return;
    if (part) memset(part, 0, sizeof(float) * 2 * (size_t)D * nt);
    const float *G = gamma ? gamma->data : NULL, *dy = n->out->grad;
    MMC_PARALLEL_FOR(nt,
        for (int64_t r = 0; r < R; r++)
            ln_row_backward(x->data + r * D, dy + r * D, G, stats[r], stats[R + r], D,
                            gx ? gx + r * D : NULL, part ? part + 2 * (int64_t)D * mmc_thread_id(nt) : NULL));
    for (int t = 0; part && t < nt; t++)
        for (int j = 0; j < D; j++) {
            if (gg) gg[j] += part[2 * (int64_t)D * t + j];
            if (gb) gb[j] += part[2 * (int64_t)D * t + D + j];
        }
}

// x (..., D); gamma, beta (D) or NULL -> like x
mmc_tensor *mmc_layer_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                           float eps) {
    MMC_CHECK_INPUTS(ctx, "layer_norm", x);
    char s1[64], s2[64];
    int D = x->ndim ? x->shape[x->ndim - 1] : 0;
    if (x->ndim < 1 || D < 1 || !(eps >= 0.0f))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "layer_norm: x %s, eps %g: need x (..., D), D >= 1, eps >= 0",
                           mmc_shape_str(x, s1, sizeof s1), (double)eps);
    mmc_tensor *pv[2] = {gamma, beta};
    for (int i = 0; i < 2; i++)
        if (pv[i] && (pv[i]->ndim != 1 || pv[i]->shape[0] != D))
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "layer_norm: %s %s does not match x %s (want (%d))",
                               i ? "beta" : "gamma", mmc_shape_str(pv[i], s2, sizeof s2),
                               mmc_shape_str(x, s1, sizeof s1), D);
    int64_t R = x->numel / D;
    float *stats = mmc_scratch(ctx, sizeof(float) * 2 * (size_t)(R ? R : 1));
    mmc_tensor *out = stats ? mmc_tensor_empty(ctx, x->ndim, x->shape) : NULL;
    if (!out) return NULL;
    const float *G = gamma ? gamma->data : NULL, *Bt = beta ? beta->data : NULL;
    /* groups of rows, handed to threads as they come free; each row is its own */
    int64_t rg = D >= 512 ? 8 : 64, ng = (R + rg - 1) / rg;
    MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(x->numel, 32768),
        for (int64_t q = 0; q < ng; q++)
            for (int64_t r = q * rg; r < R && r < (q + 1) * rg; r++) {
                const float *xr = x->data + r * D;
                float *yr = out->data + r * D, mean, rstd;
                ln_row_stats(xr, D, eps, &mean, &rstd);
                stats[r] = mean;
                stats[R + r] = rstd;
                ln_row_apply(xr, D, mean, rstd, G, Bt, yr);
            });
    mmc_node *n = mmc_node_record(ctx, "layer_norm", out, ln_backward, 3, x, gamma, beta);
    if (n) n->saved = stats, n->ia[0] = D;
    return out;
}

/* --------------------------------------------------------------- group norm */
/* GroupNorm (Wu & He 2018), as torch.nn.functional.group_norm: x (B, C, ...) with C a
 * multiple of G; the C/G channels of a group are contiguous, so group (b, g) is one run of
 * (C/G)·S values normalised by its own mean and biased variance — the statistics of one
 * sample only, so a sample's output never depends on the rest of the batch (unlike batch
 * norm), in training and in eval alike. Then the per-channel affine gamma[c], beta[c].
 * Backward per group: dx = invstd · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat)),
 * dxhat = dy · gamma[c]; dgamma[c] = Σ dy · xhat and dbeta[c] = Σ dy over b and space. */

typedef struct gn_geom {
    int B, C, G;
    int64_t S; /* spatial size: product of the dims after C */
} gn_geom;

static void gn_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    const gn_geom *g = n->saved;
    const float *stats = n->saved2; /* mean[B·G], invstd[B·G] */
    float *gx = mmc_needs_grad(x) ? mmc_tensor_grad(ctx, x) : NULL;
    float *gg = mmc_needs_grad(gamma) ? mmc_tensor_grad(ctx, gamma) : NULL;
    float *gbt = mmc_needs_grad(beta) ? mmc_tensor_grad(ctx, beta) : NULL;
    if (ctx->err.code) return;
    const float *X = x->data, *dy = n->out->grad, *Gm = gamma ? gamma->data : NULL;
    int Cg = g->C / g->G, BG = g->B * g->G;
    int64_t S = g->S;
    /* dgamma, dbeta: channel c owns its entries (race-free, fixed summation order) */
    if (gg || gbt)
        MMC_PARALLEL_FOR(mmc_par_threads(x->numel, 32768),
            for (int c = 0; c < g->C; c++) {
                double sdy = 0.0, sdyx = 0.0;
                for (int b = 0; b < g->B; b++) {
                    int r = b * g->G + c / Cg;
                    float mean = stats[r], inv = stats[BG + r];
                    const float *xs = X + ((int64_t)b * g->C + c) * S, *ds = dy + ((int64_t)b * g->C + c) * S;
                    for (int64_t s = 0; s < S; s++) { sdy += ds[s]; sdyx += ds[s] * ((xs[s] - mean) * inv); }
                }
                if (gg) gg[c] += (float)sdyx;
                if (gbt) gbt[c] += (float)sdy;
            });
    if (!gx) return;
    /* dx: group (b, g) owns its run of x */
    MMC_PARALLEL_FOR(mmc_par_threads(x->numel, 32768),
        for (int r = 0; r < BG; r++) {
            int c0 = (r % g->G) * Cg;
            int64_t off = (int64_t)r * Cg * S, N = (int64_t)Cg * S;
            float mean = stats[r], inv = stats[BG + r];
            double sdx = 0.0, sdxx = 0.0;
            for (int c = 0; c < Cg; c++) {
                float k = Gm ? Gm[c0 + c] : 1.0f;
                const float *xs = X + off + c * S, *ds = dy + off + c * S;
                for (int64_t s = 0; s < S; s++) {
                    float dxh = ds[s] * k;
                    sdx += dxh;
                    sdxx += dxh * ((xs[s] - mean) * inv);
                }
            }
            float m1 = (float)(sdx / N), m2 = (float)(sdxx / N);
            for (int c = 0; c < Cg; c++) {
                float k = Gm ? Gm[c0 + c] : 1.0f;
                const float *xs = X + off + c * S, *ds = dy + off + c * S;
                float *gs = gx + off + c * S;
                for (int64_t s = 0; s < S; s++) gs[s] += inv * (ds[s] * k - m1 - (xs[s] - mean) * inv * m2);
            }
        });
}

// x (B, C, ...); gamma, beta (C) or NULL -> like x, normalised per (sample, group of C/G channels)
mmc_tensor *mmc_group_norm(mmc_ctx *ctx, mmc_tensor *x, int groups, mmc_tensor *gamma, mmc_tensor *beta,
                           float eps) {
    MMC_CHECK_INPUTS(ctx, "group_norm", x);
    char s1[64], s2[64];
    mmc_shape_str(x, s1, sizeof s1);
    if (x->ndim < 2 || x->shape[1] < 1 || groups < 1 || x->shape[1] % groups || !(eps >= 0.0f))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "group_norm: x %s, %d groups, eps %g: need x (B, C, ...) with C a "
                           "multiple of groups >= 1, eps >= 0", s1, groups, (double)eps);
    mmc_tensor *pv[2] = {gamma, beta};
    for (int i = 0; i < 2; i++)
        if (pv[i] && (pv[i]->ndim != 1 || pv[i]->shape[0] != x->shape[1]))
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "group_norm: %s %s does not match x %s (want (%d))",
                               i ? "beta" : "gamma", mmc_shape_str(pv[i], s2, sizeof s2), s1, x->shape[1]);
    gn_geom *g = mmc_scratch(ctx, sizeof *g);
    int BG = x->shape[0] * groups;
    float *stats = g ? mmc_scratch(ctx, sizeof(float) * 2 * (size_t)(BG ? BG : 1)) : NULL;
    mmc_tensor *out = stats ? mmc_tensor_empty(ctx, x->ndim, x->shape) : NULL;
    if (!out) return NULL;
    *g = (gn_geom){x->shape[0], x->shape[1], groups, mmc_shape_numel(x->ndim - 2, x->shape + 2)};
    int Cg = g->C / groups;
    int64_t S = g->S, N = (int64_t)Cg * S;
    const float *X = x->data, *Gm = gamma ? gamma->data : NULL, *Bt = beta ? beta->data : NULL;
    float *Y = out->data;
    MMC_PARALLEL_FOR(mmc_par_threads(x->numel, 32768),
        for (int r = 0; r < BG; r++) {
            int64_t off = (int64_t)r * N;
            double s = 0.0, ss = 0.0;
            for (int64_t i = 0; i < N; i++) s += X[off + i];
            double m = N ? s / (double)N : 0.0;
            for (int64_t i = 0; i < N; i++) { double d = X[off + i] - m; ss += d * d; }
            float mean = (float)m, inv = (float)(1.0 / sqrt((N ? ss / (double)N : 0.0) + eps));
            stats[r] = mean;
            stats[BG + r] = inv;
            int c0 = (r % groups) * Cg;
            for (int c = 0; c < Cg; c++) {
                float k = (Gm ? Gm[c0 + c] : 1.0f) * inv, sh = (Bt ? Bt[c0 + c] : 0.0f) - mean * k;
                const float *xs = X + off + c * S;
                float *ys = Y + off + c * S;
                for (int64_t i = 0; i < S; i++) ys[i] = xs[i] * k + sh;
            }
        });
    mmc_node *n = mmc_node_record(ctx, "group_norm", out, gn_backward, 3, x, gamma, beta);
    if (n) n->saved = g, n->saved2 = stats;
    return out;
}

/* reduce.c — sum and mean over a set of axes, max over one axis.
 *
 * A reduction is planned once: the input's dims are split into "kept" dims (which index
 * the output) and "reduced" dims (which are summed over). Each output element is then
 * computed by exactly one thread walking its reduced sub-space, so forward and backward
 * are deterministic for any thread count, and every input element belongs to exactly one
 * output element (so backward writes never race). Sums accumulate in double. */
#include "internal.h"
#include "mmc/ops.h"
#include <string.h>

#define D MMC_MAX_DIMS

typedef struct red_plan {
    int nk, nr;                 /* number of kept / reduced dims */
    int kshape[D], rshape[D];   /* their sizes, in input order */
    int64_t kstride[D], rstride[D]; /* their element strides in the input */
    int64_t nout, nred;         /* output elements; input elements per output */
} red_plan;

/* Marks the axes to reduce in `mask` (naxes == 0: all). Returns 0, or -1 with ctx->err. */
static int axes_mask(mmc_ctx *ctx, const char *op, const mmc_tensor *a, const int *axes,
                     int naxes, int mask[D]) {
    char s[64];
    memset(mask, 0, sizeof(int) * D);
    if (naxes == 0) {
        for (int i = 0; i < a->ndim; i++) mask[i] = 1;
        return 0;
    }
    if (naxes < 0 || naxes > a->ndim || !axes) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: %d axes given (axes %s) for a tensor of shape %s", op,
                    naxes, axes ? "set" : "NULL", mmc_shape_str(a, s, sizeof s));
        return -1;
    }
    for (int i = 0; i < naxes; i++) {
        int ax = mmc_axis(axes[i], a->ndim);
        if (ax < 0 || mask[ax]) {
            mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: axis %d is %s for a tensor of shape %s", op, axes[i],
                        ax < 0 ? "out of range" : "repeated", mmc_shape_str(a, s, sizeof s));
            return -1;
        }
        mask[ax] = 1;
    }
    return 0;
}

static void plan_reduction(const mmc_tensor *a, const int mask[D], red_plan *p) {
    memset(p, 0, sizeof *p);
    p->nout = p->nred = 1;
    int64_t st[D], stride = 1;
    for (int i = a->ndim - 1; i >= 0; i--) { st[i] = stride; stride *= a->shape[i]; }
    for (int i = 0; i < a->ndim; i++) {
        if (mask[i]) {
            p->rshape[p->nr] = a->shape[i]; p->rstride[p->nr++] = st[i]; p->nred *= a->shape[i];
        } else {
            p->kshape[p->nk] = a->shape[i]; p->kstride[p->nk++] = st[i]; p->nout *= a->shape[i];
        }
    }
}

/* Input offset of the first element reduced into output o. */
static int64_t kept_offset(const red_plan *p, int64_t o) {
    int64_t off = 0;
    for (int j = p->nk - 1; j >= 0; j--) {
        off += (o % p->kshape[j]) * p->kstride[j];
        o /= p->kshape[j];
    }
    return off;
}

/* Advances the reduced-dims counter idx and returns the input offset delta. */
static int64_t next_reduced(const red_plan *p, int idx[D]) {
    int64_t delta = 0;
    for (int j = p->nr - 1; j >= 0; j--) {
        delta += p->rstride[j];
        if (++idx[j] < p->rshape[j]) return delta;
        delta -= (int64_t)p->rshape[j] * p->rstride[j];
        idx[j] = 0;
    }
    return delta;
}

/* out[o] = scale * sum of the inputs reduced into o */
static void reduce_forward(const red_plan *p, const float *x, float *out, float scale) {
    MMC_PARALLEL_FOR(mmc_par_threads(p->nout * p->nred, 32768),
        for (int64_t o = 0; o < p->nout; o++) {
            int idx[D] = {0};
            int64_t off = kept_offset(p, o);
            double s = 0;
            for (int64_t r = 0; r < p->nred; r++) {
                s += x[off];
                off += next_reduced(p, idx);
            }
            out[o] = (float)(s * scale);
        });
}

/* gx[i] += scale * g[o] for every input i reduced into o */
static void reduce_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0];
    const red_plan *p = n->saved;
    float *ga = mmc_tensor_grad(ctx, a);
    if (!ga) return;
    const float *g = n->out->grad;
    float scale = n->fa[0];
    MMC_PARALLEL_FOR(mmc_par_threads(p->nout * p->nred, 32768),
        for (int64_t o = 0; o < p->nout; o++) {
            int idx[D] = {0};
            int64_t off = kept_offset(p, o);
            float go = g[o] * scale;
            for (int64_t r = 0; r < p->nred; r++) {
                ga[off] += go;
                off += next_reduced(p, idx);
            }
        });
}

static mmc_tensor *reduce_sum(mmc_ctx *ctx, const char *op, mmc_tensor *a, const int *axes,
                              int naxes, int keepdim, int mean) {
    MMC_CHECK_INPUTS(ctx, op, a);
    int mask[D];
    if (axes_mask(ctx, op, a, axes, naxes, mask)) return NULL;
    red_plan *p = mmc_scratch(ctx, sizeof *p);
    if (!p) return NULL;
    plan_reduction(a, mask, p);
    if (mean && p->nred == 0) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: mean over an empty axis of shape %s", op,
                           mmc_shape_str(a, s, sizeof s));
    }
    /* output shape: reduced dims dropped, or kept as 1 with keepdim (as PyTorch) */
    int shape[D], nd = 0;
    for (int i = 0; i < a->ndim; i++)
        if (!mask[i]) shape[nd++] = a->shape[i];
        else if (keepdim) shape[nd++] = 1;
    mmc_tensor *out = mmc_tensor_empty(ctx, nd, shape);
    if (!out) return NULL;
    float scale = mean ? (float)(1.0 / (double)p->nred) : 1.0f;
    reduce_forward(p, a->data, out->data, scale);
    mmc_node *n = mmc_node_record(ctx, op, out, reduce_backward, 1, a);
    if (n) {
        n->saved = p;
        n->fa[0] = scale;
    }
    return out;
}

mmc_tensor *mmc_sum(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim) {
    return reduce_sum(ctx, "sum", a, axes, naxes, keepdim, 0);
}

mmc_tensor *mmc_mean(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim) {
    return reduce_sum(ctx, "mean", a, axes, naxes, keepdim, 1);
}

/* ------------------------------------------------------------------------ max */

/* x viewed as (outer, len, inner) around the reduced axis */
static void around_axis(const mmc_tensor *x, int axis, int64_t *outer, int *len, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++) *inner *= x->shape[i];
    *len = x->shape[axis];
}

static void max_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0];
    float *ga = mmc_tensor_grad(ctx, a);
    if (!ga) return;
    const float *g = n->out->grad;
    const int *arg = n->saved;
    int64_t outer = 1, inner = 1;
    int len;
    around_axis(a, n->ia[0], &outer, &len, &inner);
    int64_t N = outer * inner;
    /* each output routes to one distinct input element: no two writes collide */
    MMC_PARALLEL_FOR(mmc_par_threads(N, 32768),
        for (int64_t o = 0; o < N; o++) {
            int64_t b = o / inner, i = o % inner;
            ga[(b * len + arg[o]) * inner + i] += g[o];
        });
}

mmc_tensor *mmc_max(mmc_ctx *ctx, mmc_tensor *a, int axis, int keepdim) {
    MMC_CHECK_INPUTS(ctx, "max", a);
    char s[64];
    int ax = mmc_axis(axis, a->ndim);
    if (ax < 0)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "max: axis %d out of range for shape %s", axis,
                           mmc_shape_str(a, s, sizeof s));
    if (a->shape[ax] == 0)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "max: axis %d of shape %s is empty", axis,
                           mmc_shape_str(a, s, sizeof s));
    int shape[D], nd = 0;
    for (int i = 0; i < a->ndim; i++)
        if (i != ax) shape[nd++] = a->shape[i];
        else if (keepdim) shape[nd++] = 1;
    mmc_tensor *out = mmc_tensor_empty(ctx, nd, shape);
    int64_t outer, inner;
    int len;
    around_axis(a, ax, &outer, &len, &inner);
    int *arg = out ? mmc_scratch(ctx, sizeof(int) * (size_t)(outer * inner)) : NULL;
    if (!arg) return NULL;
    const float *x = a->data;
    int64_t N = outer * inner;
    MMC_PARALLEL_FOR(mmc_par_threads(N * len, 32768),
        for (int64_t o = 0; o < N; o++) {
            const float *row = x + (o / inner) * len * inner + o % inner; /* stride inner */
            int best = 0;
            float bv = row[0];
            /* strict > keeps the first maximum (PyTorch's CPU choice); a NaN wins and sticks */
            for (int k = 1; k < len && bv == bv; k++) {
                float v = row[(int64_t)k * inner];
                if (v > bv || v != v) { bv = v; best = k; }
            }
            out->data[o] = bv;
            arg[o] = best;
        });
    mmc_node *n = mmc_node_record(ctx, "max", out, max_backward, 1, a);
    if (n) {
        n->saved = arg;
        n->ia[0] = ax;
    }
    return out;
}

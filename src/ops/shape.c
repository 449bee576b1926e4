/* shape.c — reshape (a view), transpose/permute (copies), concat, split, slice, gather.
 *
 * Ops along one axis see x as (outer, len, inner): outer = product of the dims before the
 * axis, inner = product of the dims after it. A block of the axis is then `outer` runs of
 * contiguous floats, which is what concat/split/slice copy. Backward functions add into
 * disjoint parts of the input gradient, so parallel loops never race. */
#include "internal.h"
#include "mmc/ops.h"
#include <string.h>

#define D MMC_MAX_DIMS

static void around_axis(const mmc_tensor *x, int axis, int64_t *outer, int *len, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++) *inner *= x->shape[i];
    *len = x->shape[axis];
}

/* For each of `outer` runs: dst[(b, doff .. doff+cnt), :] (+)= src[(b, soff .. soff+cnt), :]
 * where dst has dlen and src has slen entries along the axis, and `inner` floats after it. */
static void copy_block(float *dst, int dlen, int doff, const float *src, int slen, int soff,
                       int cnt, int64_t outer, int64_t inner, int accumulate) {
    int64_t run = (int64_t)cnt * inner;
    MMC_PARALLEL_FOR(mmc_par_threads(outer * run, 32768),
        for (int64_t b = 0; b < outer; b++) {
            float *d = dst + (b * dlen + doff) * inner;
            const float *s = src + (b * slen + soff) * inner;
            if (accumulate)
                for (int64_t j = 0; j < run; j++) d[j] += s[j];
            else
                memcpy(d, s, sizeof(float) * (size_t)run);
        });
}

/* ----------------------------------------------------------------------- reshape */

/* Fills shape with -1 resolved; returns 0 or -1 with ctx->err. */
static int resolve_shape(mmc_ctx *ctx, const mmc_tensor *x, int ndim, const int *in, int *shape) {
    char s[64];
    if (ndim < 0 || ndim > D || (ndim > 0 && !in)) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "reshape: ndim %d (max %d)%s for x %s", ndim, D,
                    ndim > 0 && !in ? " with a NULL shape" : "", mmc_shape_str(x, s, sizeof s));
        return -1;
    }
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        shape[i] = in[i];
        if (in[i] == -1 && infer < 0) { infer = i; continue; }
        if (in[i] < 0) {
            mmc_op_fail(ctx, MMC_ERR_USAGE, "reshape: dim %d is %d (only one -1 allowed) for x %s", i,
                        in[i], mmc_shape_str(x, s, sizeof s));
            return -1;
        }
        known *= in[i];
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known) {
            mmc_op_fail(ctx, MMC_ERR_USAGE, "reshape: cannot infer dim %d: %lld elements of x %s "
                        "are not a multiple of %lld", infer, (long long)x->numel,
                        mmc_shape_str(x, s, sizeof s), (long long)known);
            return -1;
        }
        shape[infer] = (int)(x->numel / known);
    }
    if (mmc_shape_numel(ndim, shape) != x->numel) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "reshape: x %s has %lld elements; the new shape has %lld",
                    mmc_shape_str(x, s, sizeof s), (long long)x->numel,
                    (long long)mmc_shape_numel(ndim, shape));
        return -1;
    }
    return 0;
}

/* A view: no copy and no tape node. Gradients reaching the view land in the base's grad
 * buffer (mmc_tensor_grad follows ->base), which has the same row-major layout. */
mmc_tensor *mmc_reshape(mmc_ctx *ctx, mmc_tensor *x, int ndim, const int *shape) {
    MMC_CHECK_INPUTS(ctx, "reshape", x);
    int sh[D];
    if (resolve_shape(ctx, x, ndim, shape, sh)) return NULL;
    mmc_tensor *v = mmc_scratch(ctx, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = sh[i];
    v->numel = x->numel;
    v->data = x->data;
    v->base = x;
    v->name = x->name;
    v->requires_grad = x->requires_grad && ctx->grad_enabled;
    return v;
}

/* ------------------------------------------------------------ permute, transpose */

typedef struct perm_plan {
    int nd;
    int shape[D];       /* output shape */
    int64_t stride[D];  /* input element stride of each output dim */
} perm_plan;

/* Forward (dst = out, src = x) gathers; backward (dst = gx, src = gout) scatter-adds. Each
 * output row (all dims but the last) is handled by one thread; the map is a bijection. */
static void permute_run(const perm_plan *p, float *x_side, float *out_side, int backward) {
    int last = p->nd ? p->shape[p->nd - 1] : 1;
    int64_t lstride = p->nd ? p->stride[p->nd - 1] : 0, rows = 1;
    for (int i = 0; i + 1 < p->nd; i++) rows *= p->shape[i];
    MMC_PARALLEL_FOR(mmc_par_threads(rows * last, 32768),
        for (int64_t r = 0; r < rows; r++) {
            int64_t off = 0, rem = r;
            for (int i = p->nd - 2; i >= 0; i--) {
                off += (rem % p->shape[i]) * p->stride[i];
                rem /= p->shape[i];
            }
            float *o = out_side + r * last;
            if (backward)
                for (int j = 0; j < last; j++) x_side[off + j * lstride] += o[j];
            else if (lstride == 1) /* the last dim stays last (attention's head split / merge) */
                memcpy(o, x_side + off, sizeof(float) * (size_t)last);
            else
                for (int j = 0; j < last; j++) o[j] = x_side[off + j * lstride];
        });
}

static void permute_backward(mmc_ctx *ctx, mmc_node *n) {
    float *gx = mmc_tensor_grad(ctx, n->in[0]);
    if (gx) permute_run(n->saved, gx, n->out->grad, 1);
}

/* perm is already validated and normalised */
static mmc_tensor *permute_apply(mmc_ctx *ctx, const char *op, mmc_tensor *x, const int *perm) {
    perm_plan *p = mmc_scratch(ctx, sizeof *p);
    if (!p) return NULL;
    int64_t st[D], s = 1;
    for (int i = x->ndim - 1; i >= 0; i--) { st[i] = s; s *= x->shape[i]; }
    p->nd = x->ndim;
    for (int i = 0; i < x->ndim; i++) {
        p->shape[i] = x->shape[perm[i]];
        p->stride[i] = st[perm[i]];
    }
    mmc_tensor *out = mmc_tensor_empty(ctx, p->nd, p->shape);
    if (!out) return NULL;
    permute_run(p, x->data, out->data, 0);
    mmc_node *n = mmc_node_record(ctx, op, out, permute_backward, 1, x);
    if (n) n->saved = p;
    return out;
}

mmc_tensor *mmc_permute(mmc_ctx *ctx, mmc_tensor *x, const int *perm) {
    MMC_CHECK_INPUTS(ctx, "permute", x);
    char s[64];
    int p[D], seen[D] = {0};
    if (!perm && x->ndim > 0)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "permute: perm is NULL for x %s", mmc_shape_str(x, s, sizeof s));
    for (int i = 0; i < x->ndim; i++) {
        p[i] = mmc_axis(perm[i], x->ndim);
        if (p[i] < 0 || seen[p[i]]++)
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "permute: perm[%d] = %d is %s for x %s (perm needs "
                               "each of 0..%d once)", i, perm[i], p[i] < 0 ? "out of range" : "repeated",
                               mmc_shape_str(x, s, sizeof s), x->ndim - 1);
    }
    return permute_apply(ctx, "permute", x, p);
}

mmc_tensor *mmc_transpose(mmc_ctx *ctx, mmc_tensor *x, int d0, int d1) {
    MMC_CHECK_INPUTS(ctx, "transpose", x);
    int a = mmc_axis(d0, x->ndim), b = mmc_axis(d1, x->ndim);
    if (a < 0 || b < 0) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "transpose: dims (%d, %d) out of range for x %s", d0, d1,
                           mmc_shape_str(x, s, sizeof s));
    }
    int p[D];
    for (int i = 0; i < x->ndim; i++) p[i] = i;
    p[a] = b;
    p[b] = a;
    return permute_apply(ctx, "transpose", x, p);
}

/* ------------------------------------------------------------------------ concat */

static void concat_backward(mmc_ctx *ctx, mmc_node *n) {
    int axis = n->ia[0], total = n->out->shape[axis], off = 0;
    for (int k = 0; k < n->n_in; k++) {
        mmc_tensor *x = n->in_list[k];
        int64_t outer, inner;
        int len;
        around_axis(x, axis, &outer, &len, &inner);
        if (x->requires_grad) {
            float *gx = mmc_tensor_grad(ctx, x);
            if (!gx) return;
            copy_block(gx, len, 0, n->out->grad, total, off, len, outer, inner, 1);
        }
        off += len;
    }
}

/* Same ndim and same dims except `axis` as xs[0]; returns the summed axis length or -1. */
static int concat_check(mmc_ctx *ctx, mmc_tensor **xs, int n, int axis) {
    char s1[64], s2[64];
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        int ok = xs[k]->ndim == xs[0]->ndim;
        for (int i = 0; ok && i < xs[0]->ndim; i++)
            ok = i == axis || xs[k]->shape[i] == xs[0]->shape[i];
        if (!ok) {
            mmc_op_fail(ctx, MMC_ERR_USAGE, "concat: input %d has shape %s, input 0 has %s; they "
                        "must match except along axis %d", k, mmc_shape_str(xs[k], s1, sizeof s1),
                        mmc_shape_str(xs[0], s2, sizeof s2), axis);
            return -1;
        }
        total += xs[k]->shape[axis];
    }
    if (total > 0x7fffffff) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "concat: %lld entries along axis %d is too many",
                    (long long)total, axis);
        return -1;
    }
    return (int)total;
}

mmc_tensor *mmc_concat(mmc_ctx *ctx, mmc_tensor **xs, int n, int axis) {
    if (!xs || n < 1)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "concat: needs at least one input (got n = %d%s)", n,
                           xs ? "" : ", xs NULL");
    for (int k = 0; k < n; k++)
        if (!xs[k])
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "concat: input %d is NULL%s", k,
                               ctx->err.code ? " (an earlier op failed)" : "");
    int ax = mmc_axis(axis, xs[0]->ndim);
    if (ax < 0) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "concat: axis %d out of range for input 0 of shape %s",
                           axis, mmc_shape_str(xs[0], s, sizeof s));
    }
    int total = concat_check(ctx, xs, n, ax);
    if (total < 0) return NULL;
    int shape[D];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[ax] = total;
    mmc_tensor *out = mmc_tensor_empty(ctx, xs[0]->ndim, shape);
    if (!out) return NULL;
    for (int k = 0, off = 0; k < n; k++) {
        int64_t outer, inner;
        int len;
        around_axis(xs[k], ax, &outer, &len, &inner);
        copy_block(out->data, total, off, xs[k]->data, len, 0, len, outer, inner, 0);
        off += len;
    }
    mmc_node *nd = mmc_node_record_list(ctx, "concat", out, concat_backward, n, xs);
    if (nd) nd->ia[0] = ax;
    return out;
}

/* ------------------------------------------------------------- slice and split */

/* out = x[.., start:start+cnt, ..] along ia[0]; the gradient goes back into that range */
static void narrow_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0];
    float *gx = mmc_tensor_grad(ctx, x);
    if (!gx) return;
    int64_t outer, inner;
    int len, cnt = n->out->shape[n->ia[0]];
    around_axis(x, n->ia[0], &outer, &len, &inner);
    copy_block(gx, len, n->ia[1], n->out->grad, cnt, 0, cnt, outer, inner, 1);
}

/* axis already normalised; 0 <= start, start + cnt <= len */
static mmc_tensor *narrow(mmc_ctx *ctx, const char *op, mmc_tensor *x, int axis, int start, int cnt) {
    int shape[D];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = cnt;
    mmc_tensor *out = mmc_tensor_empty(ctx, x->ndim, shape);
    if (!out) return NULL;
    int64_t outer, inner;
    int len;
    around_axis(x, axis, &outer, &len, &inner);
    copy_block(out->data, cnt, 0, x->data, len, start, cnt, outer, inner, 0);
    mmc_node *n = mmc_node_record(ctx, op, out, narrow_backward, 1, x);
    if (n) {
        n->ia[0] = axis;
        n->ia[1] = start;
    }
    return out;
}

/* Python slice semantics: negative start/end count from the end, both are clamped to
 * [0, len], and end <= start gives an empty axis. */
mmc_tensor *mmc_slice(mmc_ctx *ctx, mmc_tensor *x, int axis, int start, int end) {
    MMC_CHECK_INPUTS(ctx, "slice", x);
    int ax = mmc_axis(axis, x->ndim);
    if (ax < 0) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "slice: axis %d out of range for x %s", axis,
                           mmc_shape_str(x, s, sizeof s));
    }
    int64_t len = x->shape[ax], a = start, b = end; /* 64-bit: start + len cannot overflow */
    if (a < 0) a += len;
    if (b < 0) b += len;
    a = a < 0 ? 0 : a > len ? len : a;
    b = b < 0 ? 0 : b > len ? len : b;
    return narrow(ctx, "slice", x, ax, (int)a, b > a ? (int)(b - a) : 0);
}

int mmc_split(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *sizes, int n, mmc_tensor **outs) {
    char s[64];
    if (outs)
        for (int k = 0; k < n; k++) outs[k] = NULL;
    if (!x) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "split: input is NULL%s", ctx->err.code ? " (an earlier op failed)" : "");
        return ctx->err.code;
    }
    int ax = mmc_axis(axis, x->ndim);
    if (ax < 0 || n < 1 || !sizes || !outs) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "split: bad arguments for x %s (axis %d, n %d%s%s)",
                    mmc_shape_str(x, s, sizeof s), axis, n, sizes ? "" : ", sizes NULL", outs ? "" : ", outs NULL");
        return ctx->err.code;
    }
    int64_t total = 0;
    int negative = 0;
    for (int k = 0; k < n; k++) {
        negative |= sizes[k] < 0;
        total += sizes[k];
    }
    if (negative || total != x->shape[ax]) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "split: sizes must be >= 0 and sum to %d (axis %d of x %s)",
                    x->shape[ax], axis, mmc_shape_str(x, s, sizeof s));
        return ctx->err.code;
    }
    for (int k = 0, off = 0; k < n; off += sizes[k++]) {
        outs[k] = narrow(ctx, "split", x, ax, off, sizes[k]);
        if (!outs[k]) return ctx->err.code;
    }
    return MMC_OK;
}

/* ------------------------------------------------------------------------ gather */

/* out (outer, L, inner) from x (outer, len, inner): out[b, i, j] = x[b, index[b, i, j], j] */
typedef struct gather_geo {
    int64_t outer, inner;
    int len, L;
    const int *index; /* arena copy, out->numel entries */
} gather_geo;

static void gather_backward(mmc_ctx *ctx, mmc_node *n) {
    float *gx = mmc_tensor_grad(ctx, n->in[0]);
    if (!gx) return;
    const gather_geo *G = n->saved;
    const float *g = n->out->grad;
    int64_t cols = G->outer * G->inner;
    /* one thread per (b, j) column: repeated indices add serially, in a fixed order */
    MMC_PARALLEL_FOR(mmc_par_threads(cols * G->L, 32768),
        for (int64_t c = 0; c < cols; c++) {
            int64_t b = c / G->inner, j = c % G->inner;
            for (int i = 0; i < G->L; i++) {
                int64_t o = (b * G->L + i) * G->inner + j;
                gx[(b * G->len + G->index[o]) * G->inner + j] += g[o];
            }
        });
}

static int gather_check(mmc_ctx *ctx, const mmc_tensor *x, int axis, const int *index, int64_t n, int len) {
    char s[64];
    for (int64_t i = 0; i < n; i++)
        if (index[i] < 0 || index[i] >= len) {
            mmc_op_fail(ctx, MMC_ERR_USAGE, "gather: index[%lld] = %d is out of range 0..%d for "
                        "axis %d of x %s", (long long)i, index[i], len - 1, axis,
                        mmc_shape_str(x, s, sizeof s));
            return -1;
        }
    return 0;
}

mmc_tensor *mmc_gather(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *index, int index_len) {
    MMC_CHECK_INPUTS(ctx, "gather", x);
    char s[64];
    int ax = mmc_axis(axis, x->ndim);
    if (ax < 0 || index_len < 0 || (!index && index_len > 0))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "gather: bad arguments for x %s (axis %d, index_len %d%s)",
                           mmc_shape_str(x, s, sizeof s), axis, index_len, index ? "" : ", index NULL");
    int shape[D];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = index_len;
    mmc_tensor *out = mmc_tensor_empty(ctx, x->ndim, shape);
    gather_geo *G = mmc_scratch(ctx, sizeof *G);
    int *idx = mmc_scratch(ctx, sizeof(int) * (size_t)(out ? out->numel : 0));
    if (!out || !G || !idx) return NULL;
    if (gather_check(ctx, x, axis, index, out->numel, x->shape[ax])) return NULL;
    if (out->numel) memcpy(idx, index, sizeof(int) * (size_t)out->numel);
    around_axis(x, ax, &G->outer, &G->len, &G->inner);
    G->L = index_len;
    G->index = idx;
    int64_t N = out->numel;
    MMC_PARALLEL_FOR(mmc_par_threads(N, 32768),
        for (int64_t o = 0; o < N; o++) {
            int64_t b = o / ((int64_t)G->L * G->inner), j = o % G->inner;
            out->data[o] = x->data[(b * G->len + idx[o]) * G->inner + j];
        });
    mmc_node *n = mmc_node_record(ctx, "gather", out, gather_backward, 1, x);
    if (n) n->saved = G;
    return out;
}

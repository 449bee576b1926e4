/* matmul.c — matrix products: matmul (2-D), bmm (batched), linear (x · Wᵀ + b).
 *
 * Everything is a call to mmc_gemm (cblas_sgemm), forward and backward. With
 * C = op(A) · op(B) the gradients are
 *   d op(A) = dC · op(B)ᵀ      d op(B) = op(A)ᵀ · dC
 * and a transposed operand takes the transpose of that, which is again one GEMM with the
 * transpose flags swapped around (see grad_a / grad_b). Gradients accumulate (beta = 1). */
#include "blas.h"
#include "mmc/ops.h"
#include "qgemm.h"
#include <string.h>

/* dA += d(op(A)) for C = op(A) · op(B); A is (M, K), or (K, M) if ta. */
static void grad_a(int ta, int tb, int M, int N, int K, const float *B, const float *dC,
                   float *dA) {
    if (!ta) mmc_gemm(0, !tb, M, K, N, 1.0f, dC, B, 1.0f, dA);  /* (M,K) = dC · op(B)ᵀ */
    else mmc_gemm(tb, 1, K, M, N, 1.0f, B, dC, 1.0f, dA);       /* (K,M) = op(B) · dCᵀ */
}

/* dB += d(op(B)); B is (K, N), or (N, K) if tb. */
static void grad_b(int ta, int tb, int M, int N, int K, const float *A, const float *dC,
                   float *dB) {
    if (!tb) mmc_gemm(!ta, 0, K, N, M, 1.0f, A, dC, 1.0f, dB);  /* (K,N) = op(A)ᵀ · dC */
    else mmc_gemm(1, ta, N, K, M, 1.0f, dC, A, 1.0f, dB);       /* (N,K) = dCᵀ · op(A) */
}

/* ------------------------------------------------------------------ matmul */

static void matmul_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0], *b = n->in[1];
    int ta = n->ia[0], tb = n->ia[1], M = n->ia[2], N = n->ia[3], K = n->ia[4];
    const float *dC = n->out->grad;
    if (mmc_needs_grad(a)) {
        float *ga = mmc_tensor_grad(ctx, a);
        if (!ga) return;
        grad_a(ta, tb, M, N, K, b->data, dC, ga);
    }
    if (mmc_needs_grad(b)) {
        float *gb = mmc_tensor_grad(ctx, b);
        if (!gb) return;
        grad_b(ta, tb, M, N, K, a->data, dC, gb);
    }
}

/* Reads (M, K) of op(a) and (K, N) of op(b) from the last two dims; checks K agrees. */
static int mm_dims(mmc_ctx *ctx, const char *op, const mmc_tensor *a, const mmc_tensor *b, int ta,
                   int tb, int *M, int *N, int *K) {
    const int *sa = a->shape + a->ndim - 2, *sb = b->shape + b->ndim - 2;
    *M = ta ? sa[1] : sa[0];
    *K = ta ? sa[0] : sa[1];
    int kb = tb ? sb[1] : sb[0];
    *N = tb ? sb[0] : sb[1];
    if (*K != kb) {
        char s1[64], s2[64];
        mmc_op_fail(ctx, MMC_ERR_USAGE,
                    "%s: inner dimensions differ: a %s%s has K=%d, b %s%s has K=%d", op,
                    mmc_shape_str(a, s1, sizeof s1), ta ? " (transposed)" : "", *K,
                    mmc_shape_str(b, s2, sizeof s2), tb ? " (transposed)" : "", kb);
        return -1;
    }
    return 0;
}

// a (M, K) or (K, M) if ta; b (K, N) or (N, K) if tb -> (M, N)
mmc_tensor *mmc_matmul(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, int ta, int tb) {
    MMC_CHECK_INPUTS(ctx, "matmul", a, b);
    if (a->ndim != 2 || b->ndim != 2) {
        char s1[64], s2[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "matmul: expects 2-D operands, got a %s and b %s",
                           mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2));
    }
    int M, N, K;
    if (mm_dims(ctx, "matmul", a, b, ta, tb, &M, &N, &K)) return NULL;
    mmc_tensor *out = mmc_tensor_empty(ctx, 2, (int[]){M, N});
    if (!out) return NULL;
    mmc_gemm(ta, tb, M, N, K, 1.0f, a->data, b->data, 0.0f, out->data);
    mmc_node *n = mmc_node_record(ctx, "matmul", out, matmul_backward, 2, a, b);
    if (n) {
        n->ia[0] = ta, n->ia[1] = tb, n->ia[2] = M, n->ia[3] = N, n->ia[4] = K;
    }
    return out;
}

/* --------------------------------------------------------------------- bmm */

/* Batches at or below this many multiply-adds per GEMM run in an OpenMP loop over the
 * batch with single-threaded BLAS; larger ones run one after another with threaded BLAS. */
#define BMM_SMALL_GEMM (64 * 64 * 64)

typedef struct bmm_geom {
    int ta, tb, M, N, K, nb;   /* nb: number of batch matrices */
    int64_t sa, sb, sc;        /* element stride between batch matrices (0: shared 2-D) */
} bmm_geom;

static void bmm_forward(const bmm_geom *g, const float *A, const float *B, float *C) {
    /* a batched, !ta, b shared: one GEMM over the stacked rows (nb*M, K) · op(B) */
    if (g->sb == 0 && !g->ta) {
        mmc_gemm(0, g->tb, g->nb * g->M, g->N, g->K, 1.0f, A, B, 0.0f, C);
        return;
    }
    int small = (int64_t)g->M * g->N * g->K <= BMM_SMALL_GEMM && g->nb > 1;
    int prev = small ? mmc_blas_threads(1) : 0;
    MMC_PARALLEL_FOR(small ? mmc_get_threads() : 1,
        for (int i = 0; i < g->nb; i++)
            mmc_gemm(g->ta, g->tb, g->M, g->N, g->K, 1.0f, A + i * g->sa, B + i * g->sb, 0.0f,
                     C + i * g->sc));
    if (small) mmc_blas_threads(prev);
}

/* Gradient of a batched (not shared) operand: each batch matrix is independent. */
static void bmm_grad_batched(const bmm_geom *g, int which_a, const float *other, const float *dC,
                             float *grad) {
    int small = (int64_t)g->M * g->N * g->K <= BMM_SMALL_GEMM && g->nb > 1;
    int prev = small ? mmc_blas_threads(1) : 0;
    int64_t so = which_a ? g->sb : g->sa, sg = which_a ? g->sa : g->sb;
    MMC_PARALLEL_FOR(small ? mmc_get_threads() : 1,
        for (int i = 0; i < g->nb; i++) {
            if (which_a) grad_a(g->ta, g->tb, g->M, g->N, g->K, other + i * so, dC + i * g->sc, grad + i * sg);
            else grad_b(g->ta, g->tb, g->M, g->N, g->K, other + i * so, dC + i * g->sc, grad + i * sg);
        });
    if (small) mmc_blas_threads(prev);
}

/* Gradient of a shared 2-D operand: the sum over the batch, accumulated in batch order
 * (deterministic), or as one stacked GEMM when the layout allows. */
static void bmm_grad_shared(const bmm_geom *g, int which_a, const float *other, const float *dC,
                            float *grad) {
    if (!which_a && !g->ta) { /* stacked rows: op(A) is (nb*M, K), dC is (nb*M, N) */
        grad_b(0, g->tb, g->nb * g->M, g->N, g->K, other, dC, grad);
        return;
    }
    for (int i = 0; i < g->nb; i++) {
        if (which_a) grad_a(g->ta, g->tb, g->M, g->N, g->K, other + i * g->sb, dC + i * g->sc, grad);
        else grad_b(g->ta, g->tb, g->M, g->N, g->K, other + i * g->sa, dC + i * g->sc, grad);
    }
}

static void bmm_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0], *b = n->in[1];
    const bmm_geom *g = n->saved;
    const float *dC = n->out->grad;
    if (mmc_needs_grad(a)) {
        float *ga = mmc_tensor_grad(ctx, a);
        if (!ga) return;
        if (g->sa) bmm_grad_batched(g, 1, b->data, dC, ga);
        else bmm_grad_shared(g, 1, b->data, dC, ga);
    }
    if (mmc_needs_grad(b)) {
        float *gb = mmc_tensor_grad(ctx, b);
        if (!gb) return;
        if (g->sb) bmm_grad_batched(g, 0, a->data, dC, gb);
        else bmm_grad_shared(g, 0, a->data, dC, gb);
    }
}

/* Leading (batch) dims of a and b must agree; a 2-D operand is shared. Writes the batch
 * shape into bshape/bnd. */
static int bmm_batch(mmc_ctx *ctx, const mmc_tensor *a, const mmc_tensor *b, int *bshape, int *bnd) {
    char s1[64], s2[64];
    const mmc_tensor *lead = a->ndim >= b->ndim ? a : b;
    int ok = a->ndim >= 2 && b->ndim >= 2 && (a->ndim > 2 || b->ndim > 2);
    if (ok && a->ndim > 2 && b->ndim > 2) {
        ok = a->ndim == b->ndim;
        for (int i = 0; ok && i < a->ndim - 2; i++) ok = a->shape[i] == b->shape[i];
    }
    if (!ok) {
        mmc_op_fail(ctx, MMC_ERR_USAGE,
                    "bmm: a %s and b %s need equal leading batch dims (one operand may be 2-D "
                    "and shared; at least one must be batched)",
                    mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2));
        return -1;
    }
    *bnd = lead->ndim - 2;
    for (int i = 0; i < *bnd; i++) bshape[i] = lead->shape[i];
    return 0;
}

// a (..., M, K) or (..., K, M) if ta; b (..., K, N) or (..., N, K) if tb -> (..., M, N)
mmc_tensor *mmc_bmm(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, int ta, int tb) {
    MMC_CHECK_INPUTS(ctx, "bmm", a, b);
    int shape[MMC_MAX_DIMS], bnd, M, N, K;
    if (bmm_batch(ctx, a, b, shape, &bnd)) return NULL;
    if (mm_dims(ctx, "bmm", a, b, ta, tb, &M, &N, &K)) return NULL;
    shape[bnd] = M;
    shape[bnd + 1] = N;
    bmm_geom *g = mmc_scratch(ctx, sizeof *g);
    mmc_tensor *out = g ? mmc_tensor_empty(ctx, bnd + 2, shape) : NULL;
    if (!out) return NULL;
    int nb = 1;
    for (int i = 0; i < bnd; i++) nb *= shape[i];
    *g = (bmm_geom){ta, tb, M, N, K, nb, a->ndim > 2 ? (int64_t)M * K : 0,
                    b->ndim > 2 ? (int64_t)K * N : 0, (int64_t)M * N};
    bmm_forward(g, a->data, b->data, out->data);
    mmc_node *n = mmc_node_record(ctx, "bmm", out, bmm_backward, 2, a, b);
    if (n) n->saved = g;
    return out;
}

/* ------------------------------------------------------------------ linear */

/* db (OUT) += column sums of dY (R, OUT); threads own column blocks, rows summed in order. */
static void bias_grad(const float *dY, int64_t R, int OUT, float *db) {
    MMC_PARALLEL_FOR(mmc_par_threads(R * OUT, 65536),
        for (int j0 = 0; j0 < OUT; j0 += 64) {
            int j1 = j0 + 64 < OUT ? j0 + 64 : OUT;
            float acc[64] = {0};
            for (int64_t r = 0; r < R; r++) {
                const float *row = dY + r * OUT;
                for (int j = j0; j < j1; j++) acc[j - j0] += row[j];
            }
            for (int j = j0; j < j1; j++) db[j] += acc[j - j0];
        });
}

static void linear_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    int R = n->ia[0], IN = n->ia[1], OUT = n->ia[2];
    const float *dY = n->out->grad; // dY (R, OUT)
    if (mmc_needs_grad(x)) { // dX (R, IN) += dY · W
        float *gx = mmc_tensor_grad(ctx, x);
        if (!gx) return;
        mmc_gemm(0, 0, R, IN, OUT, 1.0f, dY, w->data, 1.0f, gx);
    }
    if (mmc_needs_grad(w)) { // dW (OUT, IN) += dYᵀ · X
        float *gw = mmc_tensor_grad(ctx, w);
        if (!gw) return;
        mmc_gemm(1, 0, OUT, IN, R, 1.0f, dY, x->data, 1.0f, gw);
    }
    if (mmc_needs_grad(b)) {
        float *gb = mmc_tensor_grad(ctx, b);
        if (!gb) return;
        bias_grad(dY, R, OUT, gb);
    }
}

// x (..., IN), w (OUT, IN), b (OUT) or NULL -> (..., OUT)
mmc_tensor *mmc_linear(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *w, mmc_tensor *b) {
    MMC_CHECK_INPUTS(ctx, "linear", x, w);
    char s1[64], s2[64], s3[64];
    int IN = x->ndim ? x->shape[x->ndim - 1] : 0;
    /* a quantised weight may be a convolution's (OC, C, KH, KW), read as (OC, C·KH·KW) */
    int wq_in = w->quant && w->ndim >= 2 && w->shape[0] ? (int)(w->numel / w->shape[0]) : -1;
    if (x->ndim < 1 || (w->ndim != 2 && wq_in < 0) || (wq_in >= 0 ? wq_in : w->shape[1]) != IN)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "linear: x %s and w %s: need x (..., IN), w (OUT, IN)",
                           mmc_shape_str(x, s1, sizeof s1), mmc_shape_str(w, s2, sizeof s2));
    int OUT = w->shape[0];
    if (b && (b->ndim != 1 || b->shape[0] != OUT))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "linear: bias %s does not match w %s (want (%d))",
                           mmc_shape_str(b, s3, sizeof s3), mmc_shape_str(w, s2, sizeof s2), OUT);
    int shape[MMC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = OUT;
    mmc_tensor *out = mmc_tensor_empty(ctx, x->ndim, shape);
    if (!out) return NULL;
    int64_t R = mmc_shape_numel(x->ndim - 1, x->shape); // rows of the flattened x
    if (R > INT32_MAX)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "linear: x %s has more than 2^31 rows",
                           mmc_shape_str(x, s1, sizeof s1));
    float *Y = out->data; // Y (R, OUT) = X (R, IN) · Wᵀ + b
    int recording = ctx->grad_enabled && (x->requires_grad || w->requires_grad || (b && b->requires_grad));
    if (w->quant && !recording) { /* inference with int8/int4 weights (qgemm.h) */
        void *scratch = mmc_scratch(ctx, mmc_qgemm_scratch_bytes((int)R, IN));
        if (!scratch) return NULL;
        mmc_qgemm(mmc_qgemm_best_kernel(), mmc_get_threads(), w->quant, (int)R, x->data, IN, b ? b->data : NULL, Y,
                  OUT, scratch);
        return out;
    }
    if (!w->data)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "linear: weight %s is kept quantised only; it serves inference, not training",
                           w->name ? w->name : mmc_shape_str(w, s2, sizeof s2));
    if (b) mmc_gemm_bias(0, 1, (int)R, OUT, IN, 1.0f, x->data, w->data, b->data, Y);
    else mmc_gemm(0, 1, (int)R, OUT, IN, 1.0f, x->data, w->data, 0.0f, Y);
    mmc_node *n = mmc_node_record(ctx, "linear", out, linear_backward, 3, x, w, b);
    if (n) n->ia[0] = (int)R, n->ia[1] = IN, n->ia[2] = OUT;
    return out;
}

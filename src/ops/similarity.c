/* similarity.c — L2 normalisation, cosine similarity, pairwise Euclidean distance.
 *
 * All three work on rows of the last axis; each output row (and each gradient row) is
 * computed by one thread, and dot products accumulate in double. */
#include "internal.h"
#include "mmc/ops.h"
#include <math.h>

#define D MMC_MAX_DIMS

static int check_eps(mmc_ctx *ctx, const char *op, float eps) {
    if (eps >= 0.0f) return 0; /* also rejects NaN */
    mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: eps must be >= 0, got %g", op, eps);
    return -1;
}

static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------------ l2_normalize */

/* y = x / c with c = max(n, eps), n = ||x||. Where n >= eps (c depends on x, and PyTorch's
 * clamp_min passes the gradient at n == eps): dx = g/n - x (g.x)/n^3. Below eps c is a
 * constant: dx = g / eps. */
static void l2n_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0];
    float *gx = mmc_tensor_grad(ctx, x);
    if (!gx) return;
    const double *norm = n->saved;
    const float *g = n->out->grad;
    double eps = n->fa[0];
    int C = x->shape[x->ndim - 1];
    int64_t rows = C ? x->numel / C : 0;
    MMC_PARALLEL_FOR(mmc_par_threads(x->numel, 32768),
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x->data + r * C, *gr = g + r * C;
            float *dx = gx + r * C;
            double nr = norm[r], c = nr > eps ? nr : eps;
            double k = nr >= eps && nr > 0 ? dot(gr, xr, C) / (c * c * nr) : 0.0;
            for (int i = 0; i < C; i++) dx[i] += (float)(gr[i] / c - xr[i] * k);
        });
}

mmc_tensor *mmc_l2_normalize(mmc_ctx *ctx, mmc_tensor *x, float eps) {
    MMC_CHECK_INPUTS(ctx, "l2_normalize", x);
    if (check_eps(ctx, "l2_normalize", eps)) return NULL;
    if (x->ndim < 1) return mmc_op_fail(ctx, MMC_ERR_USAGE, "l2_normalize: x must have at least one dim");
    int C = x->shape[x->ndim - 1];
    int64_t rows = C ? x->numel / C : 0;
    mmc_tensor *out = mmc_tensor_empty(ctx, x->ndim, x->shape);
    double *norm = mmc_scratch(ctx, sizeof(double) * (size_t)rows);
    if (!out || !norm) return NULL;
    MMC_PARALLEL_FOR(mmc_par_threads(x->numel, 32768),
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x->data + r * C;
            norm[r] = sqrt(dot(xr, xr, C));
            double c = norm[r] > eps ? norm[r] : eps;
            for (int i = 0; i < C; i++) out->data[r * C + i] = (float)(xr[i] / c);
        });
    mmc_node *n = mmc_node_record(ctx, "l2_normalize", out, l2n_backward, 1, x);
    if (n) {
        n->saved = norm;
        n->fa[0] = eps;
    }
    return out;
}

/* ------------------------------------------------------------- cosine_similarity */

/* PyTorch 1.13 (F.cosine_similarity): cos = (a.b) / (c1 c2), c = max(||.||, eps), each norm
 * clamped on its own. Its clamp runs in place under no_grad, so the norm's backward sees
 * the clamped value: the gradient is the unclamped formula with ||a|| replaced by c1,
 *   da = g (b / (c1 c2) - cos a / c1^2),   db = g (a / (c1 c2) - cos b / c2^2),
 * for every row, including those below eps (there it is not the exact derivative of the
 * forward; we match PyTorch rather than the calculus). It is finite at a zero vector. */
static void cos_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0], *b = n->in[1];
    float *ga = mmc_needs_grad(a) ? mmc_tensor_grad(ctx, a) : NULL;
    float *gb = mmc_needs_grad(b) ? mmc_tensor_grad(ctx, b) : NULL;
    if (ctx->err.code) return;
    const double *c = n->saved; /* (rows, 2): c1, c2 */
    const float *g = n->out->grad, *cosv = n->out->data;
    int C = a->shape[a->ndim - 1];
    int64_t rows = n->out->numel;
    MMC_PARALLEL_FOR(mmc_par_threads(a->numel, 32768),
        for (int64_t r = 0; r < rows; r++) {
            const float *ar = a->data + r * C, *br = b->data + r * C;
            double c1 = c[2 * r], c2 = c[2 * r + 1], gr = g[r], cs = cosv[r];
            for (int i = 0; i < C; i++) {
                if (ga) ga[r * C + i] += (float)(gr * (br[i] / (c1 * c2) - cs * ar[i] / (c1 * c1)));
                if (gb) gb[r * C + i] += (float)(gr * (ar[i] / (c1 * c2) - cs * br[i] / (c2 * c2)));
            }
        });
}

mmc_tensor *mmc_cosine_similarity(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps) {
    MMC_CHECK_INPUTS(ctx, "cosine_similarity", a, b);
    if (check_eps(ctx, "cosine_similarity", eps)) return NULL;
    char s1[64], s2[64];
    if (!mmc_tensor_same_shape(a, b) || a->ndim < 1)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "cosine_similarity: a %s and b %s must have the same "
                           "shape (..., D)", mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2));
    int C = a->shape[a->ndim - 1];
    mmc_tensor *out = mmc_tensor_empty(ctx, a->ndim - 1, a->shape); /* (...) */
    double *c = mmc_scratch(ctx, sizeof(double) * 2 * (size_t)(out ? out->numel : 0));
    if (!out || !c) return NULL;
    int64_t rows = out->numel;
    MMC_PARALLEL_FOR(mmc_par_threads(a->numel, 32768),
        for (int64_t r = 0; r < rows; r++) {
            const float *ar = a->data + r * C, *br = b->data + r * C;
            double n1 = sqrt(dot(ar, ar, C)), n2 = sqrt(dot(br, br, C));
            c[2 * r] = n1 > eps ? n1 : eps;
            c[2 * r + 1] = n2 > eps ? n2 : eps;
            out->data[r] = (float)(dot(ar, br, C) / (c[2 * r] * c[2 * r + 1]));
        });
    mmc_node *n = mmc_node_record(ctx, "cosine_similarity", out, cos_backward, 2, a, b);
    if (n) n->saved = c;
    return out;
}

/* ------------------------------------------------------------- pairwise_distance */

/* d[i, j] = ||a_i - b_j|| exactly (as torch.cdist p=2; the difference is formed directly,
 * not via |a|^2 + |b|^2 - 2 a.b, so d is exact at 0). Backward uses
 *   dd/da_i = (a_i - b_j) / max(d, eps), and 0 where d == 0,
 * which equals cdist's gradient for d >= eps and at d == 0, and stays bounded (|.| < 1)
 * and continuous in between, where the true gradient is a discontinuous unit vector. */
/* gx[r] += sum over o of q[r*qr + o*qo] * (x_r - y_o): rows of x (rows, C), y (others, C) */
static void pdist_grad_rows(float *gx, const float *x, const float *y, const float *q, int rows,
                            int others, int C, int64_t qr, int64_t qo) {
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)rows * others * C, 32768),
        for (int r = 0; r < rows; r++) {
            float *gr = gx + (int64_t)r * C;
            const float *xr = x + (int64_t)r * C;
            for (int o = 0; o < others; o++) {
                float w = q[r * qr + o * qo];
                const float *yo = y + (int64_t)o * C;
                if (w != 0.0f)
                    for (int k = 0; k < C; k++) gr[k] += w * (xr[k] - yo[k]);
            }
        });
}

static void pdist_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0], *b = n->in[1];
    float *ga = mmc_needs_grad(a) ? mmc_tensor_grad(ctx, a) : NULL;
    float *gb = mmc_needs_grad(b) ? mmc_tensor_grad(ctx, b) : NULL;
    int N = a->shape[0], M = b->shape[0], C = a->shape[1];
    float *q = mmc_scratch(ctx, sizeof(float) * (size_t)N * (size_t)M); /* g / max(d, eps) */
    if (ctx->err.code || !q) return;
    const float *g = n->out->grad, *d = n->out->data;
    double eps = n->fa[0];
    for (int64_t k = 0; k < (int64_t)N * M; k++)
        q[k] = d[k] > 0 ? (float)(g[k] / (d[k] > eps ? d[k] : eps)) : 0.0f;
    /* two passes so each thread owns whole rows of ga (then of gb) */
    if (ga) pdist_grad_rows(ga, a->data, b->data, q, N, M, C, M, 1);
    if (gb) pdist_grad_rows(gb, b->data, a->data, q, M, N, C, 1, M);
}

mmc_tensor *mmc_pairwise_distance(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps) {
    MMC_CHECK_INPUTS(ctx, "pairwise_distance", a, b);
    if (check_eps(ctx, "pairwise_distance", eps)) return NULL;
    char s1[64], s2[64];
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[1])
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "pairwise_distance: expects a (N, D) and b (M, D), got "
                           "%s and %s", mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2));
    int N = a->shape[0], M = b->shape[0], C = a->shape[1];
    mmc_tensor *out = mmc_tensor_empty(ctx, 2, (int[]){N, M});
    if (!out) return NULL;
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * M * C, 32768),
        for (int i = 0; i < N; i++)
            for (int j = 0; j < M; j++) {
                const float *ar = a->data + (int64_t)i * C, *br = b->data + (int64_t)j * C;
                double s = 0;
                for (int k = 0; k < C; k++) {
                    double t = (double)ar[k] - br[k];
                    s += t * t;
                }
                out->data[(int64_t)i * M + j] = (float)sqrt(s);
            });
    mmc_node *n = mmc_node_record(ctx, "pairwise_distance", out, pdist_backward, 2, a, b);
    if (n) n->fa[0] = eps;
    return out;
}

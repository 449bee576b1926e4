/* fusion.c — ways of combining two modalities (DESIGN.md §1):
 *
 *   early    mmc_tile_concat: text features as extra image channels (B, C+D, H, W);
 *            mmc_nn_modality_concat: token sequences of several modalities in one, with
 *            modality (token type) embeddings
 *   late     mmc_nn_fusion (concat / sum / product, optional projections), mmc_bilinear and
 *            mmc_nn_bilinear (full bilinear form), mmc_nn_lowrank_bilinear (MLB),
 *            mmc_nn_logit_average (decision level)
 *   hybrid   mmc_film / mmc_nn_film: per-channel affine maps of a CNN feature map computed
 *            from the text, one module per conditioned stage
 *   attention mmc_nn_cell_attention: question-guided attention over the cells of a map
 *
 * tile_concat, film and bilinear are fused ops with their own backward: built from generic
 * ops they would materialise the tiled / broadcast tensors (tile_concat, film) or a
 * (B, O, Da) product chain of several tape nodes (bilinear). The modules are compositions
 * of ops, so their backward comes from the tape. */
#include "nn_internal.h"
#include "../ops/blas.h"
#include <math.h>
#include <string.h>

/* --------------------------------------------------------------- tile concat */

static void tile_concat_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0], *t = n->in[1];
    const int B = n->ia[0], C = n->ia[1], D = n->ia[2];
    const int64_t HW = n->ia[3];
    const float *g = n->out->grad; // (B, C + D, HW)
    if (mmc_needs_grad(x)) {
        float *gx = mmc_tensor_grad(ctx, x);
        if (!gx) return;
        /* the first C channels of each sample pass straight through */
        MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * C * HW, 32768),
                         for (int64_t r = 0; r < (int64_t)B * C; r++) {
                             const float *gr = g + ((r / C) * (C + D) + r % C) * HW;
                             float *dst = gx + r * HW;
                             for (int64_t s = 0; s < HW; s++) dst[s] += gr[s];
                         });
    }
    if (mmc_needs_grad(t)) {
        float *gt = mmc_tensor_grad(ctx, t);
        if (!gt) return;
        /* t[b, d] was copied to every position of channel C + d: its gradient is the sum */
        MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * D * HW, 32768),
                         for (int64_t r = 0; r < (int64_t)B * D; r++) {
                             const float *gr = g + ((r / D) * (C + D) + C + r % D) * HW;
                             double acc = 0.0;
                             for (int64_t s = 0; s < HW; s++) acc += gr[s];
                             gt[r] += (float)acc;
                         });
    }
}

// x (B, C, H, W), t (B, D) -> (B, C + D, H, W)
mmc_tensor *mmc_tile_concat(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *t) {
    MMC_CHECK_INPUTS(ctx, "tile_concat", x, t);
    if (x->ndim != 4 || t->ndim != 2 || t->shape[0] != x->shape[0]) {
        char s1[64], s2[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "tile_concat: x %s must be (B, C, H, W) and t %s (B, D) with the same B",
                           mmc_shape_str(x, s1, sizeof s1), mmc_shape_str(t, s2, sizeof s2));
    }
    const int B = x->shape[0], C = x->shape[1], D = t->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t HW = (int64_t)H * W;
    if ((int64_t)C + D > INT32_MAX || HW > INT32_MAX)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "tile_concat: %d + %d channels of %lld positions is too many", C, D,
                           (long long)HW);
    mmc_tensor *out = mmc_tensor_empty(ctx, 4, (int[]){B, C + D, H, W});
    if (!out) return NULL;
    float *o = out->data;
    const float *xd = x->data, *td = t->data;
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * (C + D) * HW, 32768),
                     for (int64_t r = 0; r < (int64_t)B * (C + D); r++) {
                         int64_t b = r / (C + D), c = r % (C + D);
                         float *dst = o + r * HW;
                         if (c < C) memcpy(dst, xd + (b * C + c) * HW, sizeof(float) * (size_t)HW);
                         else
                             for (int64_t s = 0; s < HW; s++) dst[s] = td[b * D + (c - C)];
                     });
    mmc_node *n = mmc_node_record(ctx, "tile_concat", out, tile_concat_backward, 2, x, t);
    if (n) n->ia[0] = B, n->ia[1] = C, n->ia[2] = D, n->ia[3] = (int)HW;
    return out;
}

/* ---------------------------------------------------------------------- film */

static void film_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0], *gam = n->in[1], *bet = n->in[2];
    const int64_t rows = n->ia[0], S = n->ia[1];
    const float *g = n->out->grad, *xd = x->data, *gd = gam->data;
    float *gx = NULL, *gg = NULL, *gb = NULL;
    if (mmc_needs_grad(x) && !(gx = mmc_tensor_grad(ctx, x))) return;
    if (mmc_needs_grad(gam) && !(gg = mmc_tensor_grad(ctx, gam))) return;
    if (mmc_needs_grad(bet) && !(gb = mmc_tensor_grad(ctx, bet))) return;
    /* one row per (b, c): dx = gamma·g, dgamma = Σ g·x, dbeta = Σ g over the positions */
    MMC_PARALLEL_FOR(mmc_par_threads(rows * S, 32768),
                     for (int64_t r = 0; r < rows; r++) {
                         const float *gr = g + r * S, *xr = xd + r * S;
                         if (gx) {
                             float *dst = gx + r * S;
                             for (int64_t s = 0; s < S; s++) dst[s] += gd[r] * gr[s];
                         }
                         if (gg) {
                             double acc = 0.0;
                             for (int64_t s = 0; s < S; s++) acc += (double)gr[s] * xr[s];
                             gg[r] += (float)acc;
                         }
                         if (gb) {
                             double acc = 0.0;
                             for (int64_t s = 0; s < S; s++) acc += gr[s];
                             gb[r] += (float)acc;
                         }
                     });
}

// x (B, C, ...), gamma (B, C), beta (B, C) or NULL -> x's shape
mmc_tensor *mmc_film(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta) {
    MMC_CHECK_INPUTS(ctx, "film", x, gamma);
    char s1[64], s2[64], s3[64];
    if (x->ndim < 2 || gamma->ndim != 2 || gamma->shape[0] != x->shape[0] || gamma->shape[1] != x->shape[1] ||
        (beta && !mmc_tensor_same_shape(beta, gamma)))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "film: x %s must be (B, C, ...), gamma %s and beta %s (B, C)",
                           mmc_shape_str(x, s1, sizeof s1), mmc_shape_str(gamma, s2, sizeof s2),
                           beta ? mmc_shape_str(beta, s3, sizeof s3) : "(none)");
    const int64_t rows = (int64_t)x->shape[0] * x->shape[1], S = rows ? x->numel / rows : 0;
    if (S > INT32_MAX || rows > INT32_MAX)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "film: x %s is too large", mmc_shape_str(x, s1, sizeof s1));
    mmc_tensor *out = mmc_tensor_empty(ctx, x->ndim, x->shape);
    if (!out) return NULL;
    float *o = out->data;
    const float *xd = x->data, *gd = gamma->data, *bd = beta ? beta->data : NULL;
    MMC_PARALLEL_FOR(mmc_par_threads(rows * S, 32768),
                     for (int64_t r = 0; r < rows; r++) {
                         const float gr = gd[r], br = bd ? bd[r] : 0.0f;
                         for (int64_t s = 0; s < S; s++) o[r * S + s] = gr * xd[r * S + s] + br;
                     });
    mmc_node *n = beta ? mmc_node_record(ctx, "film", out, film_backward, 3, x, gamma, beta)
                       : mmc_node_record(ctx, "film", out, film_backward, 2, x, gamma);
    if (n) n->ia[0] = (int)rows, n->ia[1] = (int)S;
    return out;
}

/* ------------------------------------------------------------------ bilinear */

/* With w seen as a matrix Wf (O·Da, Db) and Z = b · Wfᵀ (B, O·Da), i.e.
 * Z[n, o·Da + i] = sum_j w[o, i, j] b[n, j], the output is y[n, o] = sum_i a[n, i] Z[n, o, i].
 * Backward, with G[n, o·Da + i] = dy[n, o] a[n, i] (B, O·Da):
 *   da[n, i] = sum_o dy[n, o] Z[n, o, i]      db = G · Wf      dWf = Gᵀ · b      dbias = Σ_n dy */
static void bilinear_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0], *b = n->in[1], *w = n->in[2], *bias = n->in[3];
    const int B = n->ia[0], Da = n->ia[1], Db = n->ia[2], O = n->ia[3];
    const int64_t OD = (int64_t)O * Da;
    const float *dy = n->out->grad, *Z = n->saved, *ad = a->data;
    if (mmc_needs_grad(a)) {
        float *ga = mmc_tensor_grad(ctx, a);
        if (!ga) return;
        MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * OD, 32768),
                         for (int s = 0; s < B; s++)
                             for (int o = 0; o < O; o++) {
                                 const float g = dy[(int64_t)s * O + o], *z = Z + s * OD + (int64_t)o * Da;
                                 for (int i = 0; i < Da; i++) ga[(int64_t)s * Da + i] += g * z[i];
                             });
    }
    if (mmc_needs_grad(b) || mmc_needs_grad(w)) {
        float *G = mmc_scratch(ctx, sizeof(float) * (size_t)(B * OD));
        if (!G) return;
        MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * OD, 32768),
                         for (int s = 0; s < B; s++)
                             for (int o = 0; o < O; o++) {
                                 const float g = dy[(int64_t)s * O + o];
                                 float *dst = G + s * OD + (int64_t)o * Da;
                                 for (int i = 0; i < Da; i++) dst[i] = g * ad[(int64_t)s * Da + i];
                             });
        if (mmc_needs_grad(b)) {
            float *gb = mmc_tensor_grad(ctx, b);
            if (!gb) return;
            mmc_gemm(0, 0, B, Db, (int)OD, 1.0f, G, w->data, 1.0f, gb); // (B, Db) += G · Wf
        }
        if (mmc_needs_grad(w)) {
            float *gw = mmc_tensor_grad(ctx, w);
            if (!gw) return;
            mmc_gemm(1, 0, (int)OD, Db, B, 1.0f, G, b->data, 1.0f, gw); // (O·Da, Db) += Gᵀ · b
        }
    }
    if (mmc_needs_grad(bias)) {
        float *gbias = mmc_tensor_grad(ctx, bias);
        if (!gbias) return;
        for (int o = 0; o < O; o++) {
            double acc = 0.0;
            for (int s = 0; s < B; s++) acc += dy[(int64_t)s * O + o];
            gbias[o] += (float)acc;
        }
    }
}

// a (B, Da), b (B, Db), w (O, Da, Db), bias (O) or NULL -> (B, O)
mmc_tensor *mmc_bilinear(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, mmc_tensor *w, mmc_tensor *bias) {
    MMC_CHECK_INPUTS(ctx, "bilinear", a, b, w);
    char s1[64], s2[64], s3[64], s4[64];
    if (a->ndim != 2 || b->ndim != 2 || w->ndim != 3 || a->shape[0] != b->shape[0] || w->shape[1] != a->shape[1] ||
        w->shape[2] != b->shape[1] || (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0])))
        return mmc_op_fail(ctx, MMC_ERR_USAGE,
                           "bilinear: a %s (B, Da), b %s (B, Db), w %s (O, Da, Db) and bias %s (O) do not fit",
                           mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2),
                           mmc_shape_str(w, s3, sizeof s3), bias ? mmc_shape_str(bias, s4, sizeof s4) : "(none)");
    const int B = a->shape[0], Da = a->shape[1], Db = b->shape[1], O = w->shape[0];
    const int64_t OD = (int64_t)O * Da;
    if (OD > INT32_MAX || (int64_t)B * OD > ((int64_t)1 << 40))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "bilinear: O %d x Da %d (x B %d) is too large", O, Da, B);
    mmc_tensor *out = mmc_tensor_empty(ctx, 2, (int[]){B, O});
    float *Z = mmc_scratch(ctx, sizeof(float) * (size_t)(B * OD + 1));
    if (!out || !Z) return NULL;
    mmc_gemm(0, 1, B, (int)OD, Db, 1.0f, b->data, w->data, 0.0f, Z); // (B, O·Da) = b · Wfᵀ
    const float *ad = a->data, *bd = bias ? bias->data : NULL;
    float *y = out->data;
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)B * OD, 32768),
                     for (int s = 0; s < B; s++)
                         for (int o = 0; o < O; o++) {
                             const float *z = Z + s * OD + (int64_t)o * Da, *ar = ad + (int64_t)s * Da;
                             float acc = bd ? bd[o] : 0.0f;
                             for (int i = 0; i < Da; i++) acc += ar[i] * z[i];
                             y[(int64_t)s * O + o] = acc;
                         });
    mmc_node *n = bias ? mmc_node_record(ctx, "bilinear", out, bilinear_backward, 4, a, b, w, bias)
                       : mmc_node_record(ctx, "bilinear", out, bilinear_backward, 3, a, b, w);
    if (n) n->ia[0] = B, n->ia[1] = Da, n->ia[2] = Db, n->ia[3] = O, n->saved = Z;
    return out;
}

/* ---------------------------------------------------------------- late fusion */

int mmc_nn_fusion_init(mmc_nn_fusion *m, mmc_params *P, const char *prefix, int mode, int dim_a, int dim_b,
                       int dim, int act, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    const char *pf = prefix ? prefix : "";
    if (mode < MMC_FUSE_CONCAT || mode > MMC_FUSE_PRODUCT || dim_a < 1 || dim_b < 1 || dim < 0 ||
        act < MMC_ACT_NONE || act > MMC_ACT_TANH)
        return mmc_error_set(err, MMC_ERR_USAGE, "fusion %s: mode %d, dim_a %d, dim_b %d, dim %d, act %d", pf, mode,
                             dim_a, dim_b, dim, act);
    if (dim == 0 && mode != MMC_FUSE_CONCAT && dim_a != dim_b)
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "fusion %s: %s of widths %d and %d needs projections to a common width (dim > 0)", pf,
                             mode == MMC_FUSE_SUM ? "sum" : "product", dim_a, dim_b);
    m->mode = mode, m->dim_a = dim_a, m->dim_b = dim_b, m->dim = dim, m->act = act;
    if (dim > 0) {
        char name[MMC_NAME_MAX];
        int rc;
        if ((rc = mmc_nn_linear_init(&m->proj_a, P, mmc_nn_join(name, prefix, "proj_a"), dim_a, dim, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->proj_b, P, mmc_nn_join(name, prefix, "proj_b"), dim_b, dim, 1, rng, err)))
            return rc;
    }
    int wa = dim ? dim : dim_a, wb = dim ? dim : dim_b;
    m->out_dim = mode == MMC_FUSE_CONCAT ? wa + wb : wa;
    return MMC_OK;
}

// a (..., Da), b (..., Db) -> (..., out_dim)
mmc_tensor *mmc_nn_fusion_forward(mmc_ctx *ctx, mmc_nn_fusion *m, mmc_tensor *a, mmc_tensor *b) {
    MMC_CHECK_INPUTS(ctx, "fusion", a, b);
    char s1[64], s2[64];
    int ok = a->ndim == b->ndim && a->ndim >= 1 && a->shape[a->ndim - 1] == m->dim_a &&
             b->shape[b->ndim - 1] == m->dim_b;
    for (int d = 0; ok && d < a->ndim - 1; d++) ok = a->shape[d] == b->shape[d];
    if (!ok)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "fusion: a %s and b %s must be (..., %d) and (..., %d), same leading dims",
                           mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2), m->dim_a, m->dim_b);
    if (m->dim > 0) {
        a = mmc_nn_activation(ctx, mmc_nn_linear_forward(ctx, &m->proj_a, a), m->act);
        b = mmc_nn_activation(ctx, mmc_nn_linear_forward(ctx, &m->proj_b, b), m->act);
    }
    switch (m->mode) {
    case MMC_FUSE_SUM: return mmc_add(ctx, a, b);
    case MMC_FUSE_PRODUCT: return mmc_mul(ctx, a, b);
    default: {
        mmc_tensor *parts[2] = {a, b};
        return mmc_concat(ctx, parts, 2, -1);
    }
    }
}

/* ------------------------------------------------------------ bilinear module */

/* nn.Bilinear.reset_parameters: bound = 1/sqrt(in1_features) for weight and bias. */
int mmc_nn_bilinear_init(mmc_nn_bilinear *m, mmc_params *P, const char *prefix, int in_a, int in_b, int out,
                         int bias, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (in_a < 1 || in_b < 1 || out < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "bilinear %s: in_a %d, in_b %d and out %d must be >= 1",
                             prefix ? prefix : "", in_a, in_b, out);
    m->in_a = in_a, m->in_b = in_b, m->out = out;
    if (!(m->weight = mmc_params_new(P, prefix, "weight", MMC_PARAM, 3, (int[]){out, in_a, in_b}, err)))
        return mmc_nn_status(err);
    if (bias && !(m->bias = mmc_params_new(P, prefix, "bias", MMC_PARAM, 1, (int[]){out}, err)))
        return mmc_nn_status(err);
    float bound = 1.0f / sqrtf((float)in_a);
    if (rng) {
        mmc_init_uniform(m->weight, bound, rng);
        if (m->bias) mmc_init_uniform(m->bias, bound, rng);
    }
    return MMC_OK;
}

// a (B, in_a), b (B, in_b) -> (B, out)
mmc_tensor *mmc_nn_bilinear_forward(mmc_ctx *ctx, mmc_nn_bilinear *m, mmc_tensor *a, mmc_tensor *b) {
    return mmc_bilinear(ctx, a, b, m->weight, m->bias);
}

/* ---------------------------------------------------- low-rank bilinear (MLB) */

int mmc_nn_lowrank_bilinear_init(mmc_nn_lowrank_bilinear *m, mmc_params *P, const char *prefix, int in_a,
                                 int in_b, int rank, int out, int act, float dropout, mmc_rng *rng,
                                 mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (in_a < 1 || in_b < 1 || rank < 1 || out < 1 || act < MMC_ACT_NONE || act > MMC_ACT_TANH ||
        !(dropout >= 0.0f && dropout < 1.0f))
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "lowrank bilinear %s: in_a %d, in_b %d, rank %d, out %d, act %d, dropout %g",
                             prefix ? prefix : "", in_a, in_b, rank, out, act, (double)dropout);
    m->in_a = in_a, m->in_b = in_b, m->rank = rank, m->out = out, m->act = act, m->dropout = dropout;
    char name[MMC_NAME_MAX];
    int rc;
    if ((rc = mmc_nn_linear_init(&m->proj_a, P, mmc_nn_join(name, prefix, "proj_a"), in_a, rank, 1, rng, err)) ||
        (rc = mmc_nn_linear_init(&m->proj_b, P, mmc_nn_join(name, prefix, "proj_b"), in_b, rank, 1, rng, err)) ||
        (rc = mmc_nn_linear_init(&m->proj_out, P, mmc_nn_join(name, prefix, "proj_out"), rank, out, 1, rng, err)))
        return rc;
    return MMC_OK;
}

// a (..., in_a), b (..., in_b) -> (..., out)
mmc_tensor *mmc_nn_lowrank_bilinear_forward(mmc_ctx *ctx, mmc_nn_lowrank_bilinear *m, mmc_tensor *a,
                                            mmc_tensor *b, int training, mmc_rng *rng) {
    MMC_CHECK_INPUTS(ctx, "lowrank bilinear", a, b);
    mmc_tensor *ha = mmc_nn_activation(ctx, mmc_nn_linear_forward(ctx, &m->proj_a, a), m->act); // (..., rank)
    mmc_tensor *hb = mmc_nn_activation(ctx, mmc_nn_linear_forward(ctx, &m->proj_b, b), m->act); // (..., rank)
    mmc_tensor *h = mmc_dropout(ctx, mmc_mul(ctx, ha, hb), m->dropout, training, rng);
    return mmc_nn_linear_forward(ctx, &m->proj_out, h);
}

/* ------------------------------------------------------------ logit averaging */

int mmc_nn_logit_average_init(mmc_nn_logit_average *m, mmc_params *P, const char *prefix, int n,
                              mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (n < 1 || n > MMC_FUSION_MAX_INPUTS)
        return mmc_error_set(err, MMC_ERR_USAGE, "logit average %s: %d inputs (1..%d)", prefix ? prefix : "", n,
                             MMC_FUSION_MAX_INPUTS);
    m->n = n;
    if (!(m->weight = mmc_params_new(P, prefix, "weight", MMC_PARAM, 1, (int[]){n}, err))) return mmc_nn_status(err);
    return MMC_OK; /* zeros: softmax gives every input 1/n */
}

// logits[k] (...) each, the same shape -> (...)
mmc_tensor *mmc_nn_logit_average_forward(mmc_ctx *ctx, mmc_nn_logit_average *m, mmc_tensor *const *logits,
                                         int n) {
    if (!logits || n != m->n)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "logit average: %d inputs given, the module has %d", n, m->n);
    for (int k = 0; k < n; k++) {
        if (!logits[k])
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "logit average: input %d is NULL%s", k,
                               ctx->err.code ? " (an earlier op failed)" : "");
        if (!mmc_tensor_same_shape(logits[k], logits[0]) || logits[k]->ndim >= MMC_MAX_DIMS) {
            char s1[64], s2[64];
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "logit average: input %d is %s, input 0 %s (same shape, < %d dims)",
                               k, mmc_shape_str(logits[k], s1, sizeof s1), mmc_shape_str(logits[0], s2, sizeof s2),
                               MMC_MAX_DIMS);
        }
    }
    /* stack to (n, ...) and weight along the new axis: one tape node per step, not per input */
    const mmc_tensor *l0 = logits[0];
    int one_shape[MMC_MAX_DIMS], wshape[MMC_MAX_DIMS];
    one_shape[0] = 1, wshape[0] = n;
    for (int d = 0; d < l0->ndim; d++) one_shape[d + 1] = l0->shape[d], wshape[d + 1] = 1;
    mmc_tensor *parts[MMC_FUSION_MAX_INPUTS];
    for (int k = 0; k < n; k++) parts[k] = mmc_reshape(ctx, logits[k], l0->ndim + 1, one_shape);
    mmc_tensor *stack = mmc_concat(ctx, parts, n, 0);                                    // (n, ...)
    mmc_tensor *w = mmc_reshape(ctx, mmc_softmax(ctx, m->weight), l0->ndim + 1, wshape); // (n, 1, ...)
    return mmc_sum(ctx, mmc_mul(ctx, stack, w), (int[]){0}, 1, 0);
}

/* ---------------------------------------------------------------------- FiLM */

int mmc_nn_film_init(mmc_nn_film *m, mmc_params *P, const char *prefix, int cond_dim, int channels,
                     int delta_gamma, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (cond_dim < 1 || channels < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "film %s: cond_dim %d and channels %d must be >= 1",
                             prefix ? prefix : "", cond_dim, channels);
    m->cond_dim = cond_dim, m->channels = channels, m->delta_gamma = delta_gamma != 0;
    char name[MMC_NAME_MAX];
    int rc;
    if ((rc = mmc_nn_linear_init(&m->gamma, P, mmc_nn_join(name, prefix, "gamma"), cond_dim, channels, 1, rng, err)) ||
        (rc = mmc_nn_linear_init(&m->beta, P, mmc_nn_join(name, prefix, "beta"), cond_dim, channels, 1, rng, err)))
        return rc;
    return MMC_OK;
}

// x (B, C, ...), cond (B, cond_dim) -> x's shape
mmc_tensor *mmc_nn_film_forward(mmc_ctx *ctx, mmc_nn_film *m, mmc_tensor *x, mmc_tensor *cond) {
    MMC_CHECK_INPUTS(ctx, "film", x, cond);
    if (cond->ndim != 2 || cond->shape[1] != m->cond_dim) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "film: cond %s, want (B, %d)", mmc_shape_str(cond, s, sizeof s),
                           m->cond_dim);
    }
    mmc_tensor *g = mmc_nn_linear_forward(ctx, &m->gamma, cond); // (B, C)
    if (m->delta_gamma) g = mmc_add_scalar(ctx, g, 1.0f);
    return mmc_film(ctx, x, g, mmc_nn_linear_forward(ctx, &m->beta, cond));
}

/* ---------------------------------------------------------- modality concat */

int mmc_nn_modality_concat_init(mmc_nn_modality_concat *m, mmc_params *P, const char *prefix, int n, int dim,
                                mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (n < 1 || n > MMC_FUSION_MAX_INPUTS || dim < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "modality concat %s: %d modalities (1..%d), dim %d",
                             prefix ? prefix : "", n, MMC_FUSION_MAX_INPUTS, dim);
    m->n = n, m->dim = dim;
    char name[MMC_NAME_MAX];
    return mmc_nn_embedding_init(&m->token_type, P, mmc_nn_join(name, prefix, "token_type_embeddings"), n, dim, rng,
                                 err);
}

// seqs[k] (B, T_k, D) -> (B, sum T_k, D)
mmc_tensor *mmc_nn_modality_concat_forward(mmc_ctx *ctx, mmc_nn_modality_concat *m, mmc_tensor *const *seqs,
                                           int n) {
    if (!seqs || n != m->n)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "modality concat: %d sequences given, the module has %d", n, m->n);
    const int D = m->dim;
    for (int k = 0; k < n; k++) {
        if (!seqs[k])
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "modality concat: sequence %d is NULL%s", k,
                               ctx->err.code ? " (an earlier op failed)" : "");
        if (seqs[k]->ndim != 3 || seqs[k]->shape[2] != D || seqs[k]->shape[0] != seqs[0]->shape[0]) {
            char s[64];
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "modality concat: sequence %d is %s, want (B, T, %d) with one B", k,
                               mmc_shape_str(seqs[k], s, sizeof s), D);
        }
    }
    mmc_tensor *parts[MMC_FUSION_MAX_INPUTS];
    for (int k = 0; k < n; k++) {
        /* row k of the type table, (1, 1, D), broadcast over batch and tokens */
        mmc_tensor *type = mmc_reshape(ctx, mmc_slice(ctx, m->token_type.weight, 0, k, k + 1), 3, (int[]){1, 1, D});
        parts[k] = mmc_add(ctx, seqs[k], type);
    }
    return mmc_concat(ctx, parts, n, 1);
}

/* ------------------------------------------------------------ cell attention */

int mmc_nn_cell_attention_init(mmc_nn_cell_attention *m, mmc_params *P, const char *prefix, int mode, int cell_dim,
                               int query_dim, int att_dim, int glimpses, int max_score, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if ((mode != MMC_CELL_ATT_ADDITIVE && mode != MMC_CELL_ATT_DOT) || cell_dim < 1 || query_dim < 1 || att_dim < 1 ||
        glimpses < 1 || glimpses > 64 || (int64_t)glimpses * att_dim > INT32_MAX / 2)
        return mmc_error_set(err, MMC_ERR_USAGE, "cell attention %s: mode %d, cells %d, query %d, width %d, %d glimpses",
                             prefix ? prefix : "", mode, cell_dim, query_dim, att_dim, glimpses);
    m->mode = mode, m->cell_dim = cell_dim, m->query_dim = query_dim, m->att_dim = att_dim, m->glimpses = glimpses;
    m->max_score = max_score != 0;
    char name[MMC_NAME_MAX];
    int rc = mmc_nn_linear_init(&m->cells, P, mmc_nn_join(name, prefix, "cells"), cell_dim, att_dim, 1, rng, err);
    if (!rc)
        rc = mmc_nn_linear_init(&m->question, P, mmc_nn_join(name, prefix, "question"), query_dim,
                                mode == MMC_CELL_ATT_DOT ? glimpses * att_dim : att_dim, 1, rng, err);
    if (!rc && mode == MMC_CELL_ATT_ADDITIVE)
        rc = mmc_nn_linear_init(&m->out, P, mmc_nn_join(name, prefix, "glimpses"), att_dim, glimpses, 1, rng, err);
    return rc;
}

/* x (B, ...) -> (N, ...): row img[n] of x for query n (an embedding lookup, so the backward
 * sums the gradients of an image's queries); x itself when img is the identity. */
static mmc_tensor *rows_of(mmc_ctx *ctx, mmc_tensor *x, const int *img, int N) {
    if (!x) return NULL;
    int B = x->shape[0], same = N == B;
    for (int n = 0; same && n < N; n++) same = img[n] == n;
    if (same) return x;
    int64_t F = x->numel / (B ? B : 1);
    if (F > INT32_MAX) return mmc_op_fail(ctx, MMC_ERR_USAGE, "cell attention: %lld features per image", (long long)F);
    mmc_tensor *t = mmc_embedding(ctx, mmc_reshape(ctx, x, 2, (int[]){B, (int)F}), img, N);
    int shape[MMC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = N;
    return t ? mmc_reshape(ctx, t, x->ndim, shape) : NULL;
}

// cells (B, L, D), q (N, Dq), img[N] -> (N, K·D [+ K])
mmc_tensor *mmc_nn_cell_attention_forward(mmc_ctx *ctx, mmc_nn_cell_attention *m, mmc_tensor *cells, mmc_tensor *q,
                                          const int *img) {
    MMC_CHECK_INPUTS(ctx, "cell attention", cells, q);
    char s1[64], s2[64];
    if (cells->ndim != 3 || cells->shape[2] != m->cell_dim || q->ndim != 2 || q->shape[1] != m->query_dim || !img)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "cell attention: cells %s, want (B, L, %d); queries %s, want (N, %d), and an image per query",
                           mmc_shape_str(cells, s1, sizeof s1), m->cell_dim, mmc_shape_str(q, s2, sizeof s2), m->query_dim);
    const int B = cells->shape[0], L = cells->shape[1], D = m->cell_dim, N = q->shape[0], K = m->glimpses, A = m->att_dim;
    for (int n = 0; n < N; n++)
        if (img[n] < 0 || img[n] >= B)
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "cell attention: query %d names image %d of %d", n, img[n], B);
    mmc_tensor *key = mmc_nn_linear_forward(ctx, &m->cells, cells); // (B, L, A): once per image
    mmc_tensor *qa = mmc_nn_linear_forward(ctx, &m->question, q);   // (N, A) or (N, K·A)
    mmc_tensor *score;                                               // (N, K, L)
    if (m->mode == MMC_CELL_ATT_ADDITIVE) {
        qa = qa ? mmc_reshape(ctx, qa, 3, (int[]){N, 1, A}) : NULL;
        mmc_tensor *e = mmc_tanh(ctx, mmc_add(ctx, rows_of(ctx, key, img, N), qa)); // (N, L, A)
        score = mmc_transpose(ctx, mmc_nn_linear_forward(ctx, &m->out, e), 1, 2);
    } else {
        qa = qa ? mmc_reshape(ctx, qa, 3, (int[]){N, K, A}) : NULL;
        score = mmc_scale(ctx, mmc_bmm(ctx, qa, rows_of(ctx, key, img, N), 0, 1), 1.0f / sqrtf((float)A));
    }
    mmc_tensor *a = mmc_softmax(ctx, score);
    mmc_tensor *g = mmc_bmm(ctx, a, rows_of(ctx, cells, img, N), 0, 0); // (N, K, D)
    g = g ? mmc_reshape(ctx, g, 2, (int[]){N, K * D}) : NULL;
    if (!m->max_score) return g;
    mmc_tensor *parts[2] = {g, mmc_max(ctx, score, 2, 0)};
    (void)L;
    return mmc_concat(ctx, parts, 2, 1);
}

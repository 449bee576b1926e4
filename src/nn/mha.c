/* mha.c — multi-head attention, self or cross, in torch.nn.MultiheadAttention's packed
 * layout (in_proj_weight (3E, E)) or Hugging Face CLIP's separate q/k/v projections.
 *
 *   q = x Wqᵀ + bq,  k = kv Wkᵀ + bk,  v = kv Wvᵀ + bv      (B, T, E) each
 *   split heads (B, T, E) -> (B, H, T, Dh);  o = softmax(q kᵀ / sqrt(Dh) + masks) v
 *   merge heads (B, H, Tq, Dh) -> (B, Tq, E);  out = o Woᵀ + bo
 *
 * The fused mmc_attention op does the middle step; only attention-probability dropout in
 * training (which that op does not have) takes the slower path built from bmm + softmax. */
#include "nn_internal.h"
#include <math.h>
#include <string.h>

int mmc_nn_mha_init(mmc_nn_mha *m, mmc_params *P, const char *prefix, int dim, int heads, int separate,
                    float dropout, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    if (dim < 1 || heads < 1 || dim % heads != 0 || !(dropout >= 0.0f && dropout < 1.0f))
        return mmc_error_set(err, MMC_ERR_USAGE, "mha %s: dim %d must be a multiple of heads %d, dropout %g in [0, 1)",
                             prefix, dim, heads, (double)dropout);
    m->dim = dim, m->heads = heads, m->separate = separate, m->dropout = dropout;
    char name[MMC_NAME_MAX];
    int rc;
    if (separate) {
        if ((rc = mmc_nn_linear_init(&m->q_proj, P, mmc_nn_join(name, prefix, "q_proj"), dim, dim, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->k_proj, P, mmc_nn_join(name, prefix, "k_proj"), dim, dim, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->v_proj, P, mmc_nn_join(name, prefix, "v_proj"), dim, dim, 1, rng, err)))
            return rc;
    } else {
        /* MultiheadAttention._reset_parameters: xavier_uniform_ over the whole (3E, E)
         * matrix (fan_in E, fan_out 3E), zero in_proj_bias */
        m->in_proj_weight = mmc_params_new(P, prefix, "in_proj_weight", MMC_PARAM, 2, (int[]){3 * dim, dim}, err);
        m->in_proj_bias = m->in_proj_weight ? mmc_params_new(P, prefix, "in_proj_bias", MMC_PARAM, 1, (int[]){3 * dim}, err) : NULL;
        if (!m->in_proj_bias) return mmc_nn_status(err);
        mmc_nn_init_xavier_uniform(m->in_proj_weight, dim, 3 * dim, rng);
    }
    if ((rc = mmc_nn_linear_init(&m->out_proj, P, mmc_nn_join(name, prefix, "out_proj"), dim, dim, 1, rng, err)))
        return rc;
    /* torch zeroes out_proj.bias (its weight keeps Linear's init); HF CLIP keeps Linear's */
    if (!separate) mmc_init_constant(m->out_proj.bias, 0.0f);
    return MMC_OK;
}

int mmc_nn_mha_stack_quantized(mmc_nn_mha *m, mmc_params *P, const char *prefix, mmc_error *err) {
    mmc_nn_linear *l[3] = {&m->q_proj, &m->k_proj, &m->v_proj};
    int E = m->dim;
    if (!m->separate || m->qkv_weight || E % 64) return MMC_OK;
    for (int i = 0; i < 3; i++)
        if (!l[i]->weight->quant || mmc_qweight_type(l[i]->weight->quant) != MMC_QTYPE_Q8 || !l[i]->bias ||
            !l[i]->bias->data)
            return MMC_OK;
    mmc_tensor *w = mmc_params_new(P, prefix, "qkv_weight", MMC_BUFFER, 2, (int[]){3 * E, E}, err);
    mmc_tensor *b = w ? mmc_params_new(P, prefix, "qkv_bias", MMC_BUFFER, 1, (int[]){3 * E}, err) : NULL;
    if (!b) return mmc_nn_status(err);
    mmc_qweight *parts[3] = {l[0]->weight->quant, l[1]->weight->quant, l[2]->weight->quant};
    mmc_qweight *st = mmc_qweight_stack(parts, 3, err);
    if (!st) return mmc_nn_status(err);
    int rc = mmc_tensor_set_quant(w, st, err);
    if (rc) return rc;
    mmc_tensor_drop_data(w);
    for (int i = 0; i < 3; i++) memcpy(b->data + (size_t)i * E, l[i]->bias->data, sizeof(float) * (size_t)E);
    m->qkv_weight = w, m->qkv_bias = b;
    return MMC_OK;
}

/* Block i of p (3, ...) as a (B, H, T, Dh) tensor over p's data: no copy. Inference only
 * (no gradient is recorded where it is used), like a reshape view with an offset. */
static mmc_tensor *block_view(mmc_ctx *ctx, mmc_tensor *p, int i, const int *shape4) {
    mmc_tensor *v = mmc_scratch(ctx, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->ndim = 4;
    for (int d = 0; d < 4; d++) v->shape[d] = shape4[d];
    v->numel = p->numel / 3;
    v->data = p->data + (int64_t)i * v->numel;
    v->base = p;
    return v;
}

// (B, T, E) -> (B, H, T, Dh)
static mmc_tensor *split_heads(mmc_ctx *ctx, mmc_tensor *x, int H) {
    if (!x) return NULL;
    int B = x->shape[0], T = x->shape[1], E = x->shape[2];
    x = mmc_reshape(ctx, x, 4, (int[]){B, T, H, E / H});
    return mmc_permute(ctx, x, (int[]){0, 2, 1, 3});
}

// (B, H, T, Dh) -> (B, T, E)
static mmc_tensor *merge_heads(mmc_ctx *ctx, mmc_tensor *x) {
    if (!x) return NULL;
    int B = x->shape[0], H = x->shape[1], T = x->shape[2], Dh = x->shape[3];
    x = mmc_permute(ctx, x, (int[]){0, 2, 1, 3});
    return mmc_reshape(ctx, x, 3, (int[]){B, T, H * Dh});
}

/* Attention with dropout on the probabilities, from differentiable ops. Masked scores get
 * -1e30 (exp underflows to exactly 0); multiplying by the visibility mask afterwards makes a
 * row with no visible key all zeros, as mmc_attention does.
 * q (B, H, Tq, Dh), k, v (B, H, Tk, Dh) -> (B, H, Tq, Dh) */
static mmc_tensor *attention_dropout(mmc_ctx *ctx, mmc_tensor *q, mmc_tensor *k, mmc_tensor *v, int causal,
                                     const uint8_t *key_mask, float p, mmc_rng *rng) {
    int B = q->shape[0], Tq = q->shape[2], Tk = k->shape[2], Dh = q->shape[3];
    mmc_tensor *s = mmc_scale(ctx, mmc_bmm(ctx, q, k, 0, 1), 1.0f / sqrtf((float)Dh)); // (B, H, Tq, Tk)
    if (!s) return NULL;
    if (causal || key_mask) {
        mmc_tensor *neg = mmc_tensor_empty(ctx, 4, (int[]){B, 1, Tq, Tk});
        mmc_tensor *vis = mmc_tensor_empty(ctx, 4, (int[]){B, 1, Tq, Tk});
        if (!neg || !vis) return NULL;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < Tq; i++)
                for (int j = 0; j < Tk; j++) {
                    int ok = (!causal || j <= i + (Tk - Tq)) && (!key_mask || key_mask[(int64_t)b * Tk + j]);
                    int64_t at = ((int64_t)b * Tq + i) * Tk + j;
                    neg->data[at] = ok ? 0.0f : -1e30f;
                    vis->data[at] = ok ? 1.0f : 0.0f;
                }
        s = mmc_mul(ctx, mmc_softmax(ctx, mmc_add(ctx, s, neg)), vis);
    } else {
        s = mmc_softmax(ctx, s);
    }
    s = mmc_dropout(ctx, s, p, 1, rng);
    return mmc_bmm(ctx, s, v, 0, 0);
}

// x (B, Tq, E), kv (B, Tk, E) or NULL (self) -> (B, Tq, E)
mmc_tensor *mmc_nn_mha_forward(mmc_ctx *ctx, mmc_nn_mha *m, mmc_tensor *x, mmc_tensor *kv, int causal,
                               const uint8_t *key_mask, int training, mmc_rng *rng) {
    MMC_CHECK_INPUTS(ctx, "mha", x);
    mmc_tensor *src = kv ? kv : x;
    int E = m->dim;
    if (x->ndim != 3 || x->shape[2] != E || src->ndim != 3 || src->shape[2] != E || src->shape[0] != x->shape[0]) {
        char s1[64], s2[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "mha: x %s and kv %s must be (B, T, %d) with the same B",
                           mmc_shape_str(x, s1, sizeof s1), mmc_shape_str(src, s2, sizeof s2), E);
    }
    mmc_tensor *q, *k, *v;
    int heads_split = 0;
    if (m->qkv_weight && !kv && !ctx->grad_enabled) { /* stacked q8 (mmc_nn_mha_stack_quantized) */
        /* (B, T, 3E) read as (B, T, 3, H, Dh), permuted once to (3, B, H, T, Dh): q, k and v
         * are then its three contiguous blocks, already split into heads (no split copies) */
        int B = x->shape[0], T = x->shape[1], H = m->heads, Dh = E / H;
        mmc_tensor *y = mmc_linear(ctx, x, m->qkv_weight, m->qkv_bias);
        mmc_tensor *p = mmc_permute(ctx, mmc_reshape(ctx, y, 5, (int[]){B, T, 3, H, Dh}), (int[]){2, 0, 3, 1, 4});
        if (!p) return NULL;
        mmc_tensor *parts[3];
        for (int i = 0; i < 3; i++)
            if (!(parts[i] = block_view(ctx, p, i, (int[]){B, H, T, Dh}))) return NULL;
        q = parts[0], k = parts[1], v = parts[2];
        heads_split = 1;
    } else if (m->separate) {
        q = mmc_nn_linear_forward(ctx, &m->q_proj, x);
        k = mmc_nn_linear_forward(ctx, &m->k_proj, src);
        v = mmc_nn_linear_forward(ctx, &m->v_proj, src);
    } else if (!kv) { /* self: one product with the whole (3E, E) matrix */
        mmc_tensor *parts[3];
        if (mmc_split(ctx, mmc_linear(ctx, x, m->in_proj_weight, m->in_proj_bias), 2, (int[]){E, E, E}, 3, parts))
            return NULL;
        q = parts[0], k = parts[1], v = parts[2];
    } else { /* cross: rows [0, E) project the queries, rows [E, 3E) the keys and values */
        mmc_tensor *W = m->in_proj_weight, *b = m->in_proj_bias, *parts[2];
        q = mmc_linear(ctx, x, mmc_slice(ctx, W, 0, 0, E), mmc_slice(ctx, b, 0, 0, E));
        mmc_tensor *kvp = mmc_linear(ctx, kv, mmc_slice(ctx, W, 0, E, 3 * E), mmc_slice(ctx, b, 0, E, 3 * E));
        if (mmc_split(ctx, kvp, 2, (int[]){E, E}, 2, parts)) return NULL;
        k = parts[0], v = parts[1];
    }
    if (!heads_split) {
        q = split_heads(ctx, q, m->heads);
        k = split_heads(ctx, k, m->heads);
        v = split_heads(ctx, v, m->heads);
    }
    if (!q || !k || !v) return NULL;
    mmc_tensor *o = training && m->dropout > 0.0f
                        ? attention_dropout(ctx, q, k, v, causal, key_mask, m->dropout, rng)
                        : mmc_attention(ctx, q, k, v, causal, key_mask);
    return mmc_nn_linear_forward(ctx, &m->out_proj, merge_heads(ctx, o));
}

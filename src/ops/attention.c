/* attention.c — fused scaled dot-product attention with causal and key-padding masks.
 *
 * Per (batch, head), with s = 1/sqrt(Dh):
 *   S = s · Q Kᵀ (Tq, Tk),  P = softmax over visible keys (0 elsewhere),  O = P V
 * and backward, from dO:
 *   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)),  dQ = s · dS K,  dK = s · dSᵀ Q
 * P is the one thing saved for backward (B·H·Tq·Tk floats). A query that sees no key gets
 * an all-zero row of P, hence a zero output and zero gradients — no NaN from exp(-inf).
 *
 * Threads: (batch, head) pairs are handed to OpenMP threads as they come free (on a shared
 * machine a thread that loses its core leaves its pairs to the other), each calling
 * single-threaded sgemm; each pair owns its slices of every output and gradient, so there
 * is no reduction and results do not depend on the schedule. */
#include "blas.h"
#include "vmath.h"
#include <math.h>
#include <string.h>

typedef struct attn_geom {
    int B, H, Tq, Tk, Dh;
    float scale;
} attn_geom;

/* Turns row i of scores (Tk) into probabilities over the keys query i may see. */
static void masked_softmax_row(float *row, int Tk, int limit, const uint8_t *km) {
    /* visible: j < limit (causal bound, Tk when not causal) and km[j] != 0 */
    float mx = -INFINITY;
    int any = 0;
    for (int j = 0; j < limit; j++)
        if (!km || km[j]) {
            if (row[j] > mx) mx = row[j];
            any = 1;
        }
    if (!any) {
        memset(row, 0, sizeof(float) * (size_t)Tk);
        return;
    }
    float sum = 0.0f;
    for (int j = 0; j < Tk; j++) {
        float e = (j < limit && (!km || km[j])) ? expf(row[j] - mx) : 0.0f;
        row[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < Tk; j++) row[j] *= inv;
}

// one (b, h): P (Tq, Tk) = softmax(s · Q Kᵀ), O (Tq, Dh) = P V
static void attn_forward_one(const attn_geom *g, const float *Q, const float *K, const float *V,
                             int causal, const uint8_t *km, float *P, float *O) {
    mmc_gemm(0, 1, g->Tq, g->Tk, g->Dh, g->scale, Q, K, 0.0f, P);
    for (int i = 0; i < g->Tq; i++) {
        int limit = causal ? i + (g->Tk - g->Tq) + 1 : g->Tk; /* keys j < limit are visible */
        if (limit < 0) limit = 0;
        if (limit > g->Tk) limit = g->Tk;
        float *row = P + (int64_t)i * g->Tk;
        /* every key visible: the vector kernel (it declines rows with a NaN or all -inf) */
        if (limit == g->Tk && !km && g->Tk > 0 && mmc_vsoftmax_row(row, g->Tk)) continue;
        masked_softmax_row(row, g->Tk, limit, km);
    }
    mmc_gemm(0, 0, g->Tq, g->Dh, g->Tk, 1.0f, P, V, 0.0f, O);
}

// one (b, h): gradients from dO (Tq, Dh) into dQ, dK, dV (any may be NULL); dS is scratch
static void attn_backward_one(const attn_geom *g, const float *Q, const float *K, const float *V,
                              const float *P, const float *dO, float *dQ, float *dK, float *dV,
                              float *dS) {
    int Tq = g->Tq, Tk = g->Tk, Dh = g->Dh;
    if (dV) mmc_gemm(1, 0, Tk, Dh, Tq, 1.0f, P, dO, 1.0f, dV);
    if (!dQ && !dK) return;
    mmc_gemm(0, 1, Tq, Tk, Dh, 1.0f, dO, V, 0.0f, dS); /* dP */
    for (int i = 0; i < Tq; i++) {
        const float *p = P + (int64_t)i * Tk;
        float *d = dS + (int64_t)i * Tk, dot = 0.0f;
        for (int j = 0; j < Tk; j++) dot += p[j] * d[j];
        for (int j = 0; j < Tk; j++) d[j] = p[j] * (d[j] - dot);
    }
    if (dQ) mmc_gemm(0, 0, Tq, Dh, Tk, g->scale, dS, K, 1.0f, dQ);
    if (dK) mmc_gemm(1, 0, Tk, Dh, Tq, g->scale, dS, Q, 1.0f, dK);
}

/* Runs the (b, h) loop in parallel when there are enough pairs to share. */
static int attn_threads(const attn_geom *g) {
    int nt = mmc_get_threads();
    return g->B * g->H >= nt ? nt : 1;
}

static void attn_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    const attn_geom *g = n->saved;
    const float *P = n->saved2, *dO = n->out->grad;
    float *gq = mmc_needs_grad(q) ? mmc_tensor_grad(ctx, q) : NULL;
    float *gk = mmc_needs_grad(k) ? mmc_tensor_grad(ctx, k) : NULL;
    float *gv = mmc_needs_grad(v) ? mmc_tensor_grad(ctx, v) : NULL;
    int nt = attn_threads(g);
    int64_t pq = (int64_t)g->Tq * g->Tk, sq = (int64_t)g->Tq * g->Dh, sk = (int64_t)g->Tk * g->Dh;
    float *scratch = mmc_scratch(ctx, sizeof(float) * (size_t)(pq > 0 ? pq * nt : 1));
    if (ctx->err.code) return;
    int prev = nt > 1 ? mmc_blas_threads(1) : 0;
    MMC_PARALLEL_FOR_DYNAMIC(nt,
        for (int bh = 0; bh < g->B * g->H; bh++)
            attn_backward_one(g, q->data + bh * sq, k->data + bh * sk, v->data + bh * sk, P + bh * pq,
                              dO + bh * sq, gq ? gq + bh * sq : NULL, gk ? gk + bh * sk : NULL,
                              gv ? gv + bh * sk : NULL, scratch + pq * mmc_thread_id(nt)));
    if (nt > 1) mmc_blas_threads(prev);
}

static int attn_check(mmc_ctx *ctx, const mmc_tensor *q, const mmc_tensor *k, const mmc_tensor *v) {
    char s1[64], s2[64], s3[64];
    int ok = q->ndim == 4 && k->ndim == 4 && mmc_tensor_same_shape(k, v) &&
             q->shape[0] == k->shape[0] && q->shape[1] == k->shape[1] && q->shape[3] == k->shape[3];
    if (!ok)
        mmc_op_fail(ctx, MMC_ERR_USAGE,
                    "attention: q %s, k %s, v %s: need q (B, H, Tq, Dh) and k, v (B, H, Tk, Dh)",
                    mmc_shape_str(q, s1, sizeof s1), mmc_shape_str(k, s2, sizeof s2),
                    mmc_shape_str(v, s3, sizeof s3));
    return ok ? 0 : -1;
}

// q (B, H, Tq, Dh), k and v (B, H, Tk, Dh), key_mask (B, Tk) or NULL -> (B, H, Tq, Dh)
mmc_tensor *mmc_attention(mmc_ctx *ctx, mmc_tensor *q, mmc_tensor *k, mmc_tensor *v, int causal,
                          const uint8_t *key_mask) {
    MMC_CHECK_INPUTS(ctx, "attention", q, k, v);
    if (attn_check(ctx, q, k, v)) return NULL;
    attn_geom *g = mmc_scratch(ctx, sizeof *g);
    if (!g) return NULL;
    *g = (attn_geom){q->shape[0], q->shape[1], q->shape[2], k->shape[2], q->shape[3], 0.0f};
    g->scale = g->Dh > 0 ? 1.0f / sqrtf((float)g->Dh) : 1.0f;
    int64_t pq = (int64_t)g->Tq * g->Tk, sq = (int64_t)g->Tq * g->Dh, sk = (int64_t)g->Tk * g->Dh;
    int64_t np = pq * g->B * g->H; // P (B, H, Tq, Tk)
    float *P = mmc_scratch(ctx, sizeof(float) * (size_t)(np > 0 ? np : 1));
    mmc_tensor *out = P ? mmc_tensor_empty(ctx, 4, q->shape) : NULL;
    if (!out) return NULL;
    int nt = attn_threads(g);
    int prev = nt > 1 ? mmc_blas_threads(1) : 0;
    MMC_PARALLEL_FOR_DYNAMIC(nt,
        for (int bh = 0; bh < g->B * g->H; bh++)
            attn_forward_one(g, q->data + bh * sq, k->data + bh * sk, v->data + bh * sk, causal,
                             key_mask ? key_mask + (int64_t)(bh / g->H) * g->Tk : NULL, P + bh * pq,
                             out->data + bh * sq));
    if (nt > 1) mmc_blas_threads(prev);
    mmc_node *n = mmc_node_record(ctx, "attention", out, attn_backward, 3, q, k, v);
    if (n) n->saved = g, n->saved2 = P;
    return out;
}

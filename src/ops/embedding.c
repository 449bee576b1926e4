/* embedding.c — table lookup and dropout.
 *
 * embedding: out[i] = table[ids[i]]. Every id is checked before anything is read. The
 * backward scatters rows of dout into the table's gradient; a repeated id receives the sum
 * of its rows. To stay deterministic without atomics, threads split the embedding
 * dimension D (not the ids), so every gradient element is summed by one thread in id order.
 *
 * dropout: one Bernoulli draw per element from the caller's mmc_rng, in element order,
 * so the mask depends only on the generator's state, never on the thread count. */
#include "internal.h"
#include "mmc/ops.h"
#include <string.h>

static void embedding_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *table = n->in[0];
    float *gt = mmc_tensor_grad(ctx, table);
    if (!gt) return;
    const int *ids = n->saved;
    int cnt = n->ia[0], D = table->shape[1];
    const float *dy = n->out->grad; // dy (n, D)
    int nblk = (D + 63) / 64;
    MMC_PARALLEL_FOR(nblk > 1 ? mmc_par_threads((int64_t)cnt * D, 32768) : 1,
        for (int blk = 0; blk < nblk; blk++) {
            int j0 = blk * 64, j1 = j0 + 64 < D ? j0 + 64 : D;
            for (int i = 0; i < cnt; i++) {
                float *row = gt + (int64_t)ids[i] * D;
                const float *g = dy + (int64_t)i * D;
                for (int j = j0; j < j1; j++) row[j] += g[j];
            }
        });
}

// table (V, D), ids[n] in 0..V-1 -> (n, D)
mmc_tensor *mmc_embedding(mmc_ctx *ctx, mmc_tensor *table, const int *ids, int n) {
    MMC_CHECK_INPUTS(ctx, "embedding", table);
    char s1[64];
    if (table->ndim != 2 || n < 0 || (n > 0 && !ids))
        return mmc_op_fail(ctx, MMC_ERR_USAGE,
                           "embedding: table %s, %d ids%s: need table (V, D) and n >= 0 ids",
                           mmc_shape_str(table, s1, sizeof s1), n, n > 0 && !ids ? " (NULL)" : "");
    int V = table->shape[0], D = table->shape[1];
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return mmc_op_fail(ctx, MMC_ERR_INPUT, "embedding: id %d at position %d is out of range "
                               "for table %s (want 0..%d)", ids[i], i,
                               mmc_shape_str(table, s1, sizeof s1), V - 1);
    mmc_tensor *out = mmc_tensor_empty(ctx, 2, (int[]){n, D});
    if (!out) return NULL;
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)n * D, 65536),
        for (int i = 0; i < n; i++)
            memcpy(out->data + (int64_t)i * D, table->data + (int64_t)ids[i] * D, sizeof(float) * (size_t)D));
    mmc_node *nd = mmc_node_record(ctx, "embedding", out, embedding_backward, 1, table);
    if (nd) { /* the caller's ids may not outlive the call: keep a copy */
        int *copy = mmc_scratch(ctx, sizeof(int) * (size_t)(n ? n : 1));
        if (!copy) return NULL;
        if (n) memcpy(copy, ids, sizeof(int) * (size_t)n);
        nd->saved = copy;
        nd->ia[0] = n;
    }
    return out;
}

/* ------------------------------------------------------------------ dropout */

static void dropout_backward(mmc_ctx *ctx, mmc_node *n) {
    float *gx = mmc_tensor_grad(ctx, n->in[0]);
    if (!gx) return;
    const float *dy = n->out->grad, *mask = n->saved; /* mask: 0 or 1/(1-p); NULL: identity */
    int64_t N = n->out->numel;
    MMC_PARALLEL_FOR(mmc_par_threads(N, 32768),
        for (int64_t i = 0; i < N; i++) gx[i] += mask ? dy[i] * mask[i] : dy[i]);
}

// x (any shape) -> like x
mmc_tensor *mmc_dropout(mmc_ctx *ctx, mmc_tensor *x, float p, int training, mmc_rng *rng) {
    MMC_CHECK_INPUTS(ctx, "dropout", x);
    if (!(p >= 0.0f && p < 1.0f))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "dropout: p = %g must be in [0, 1)", (double)p);
    int active = training && p > 0.0f;
    if (active && !rng)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "dropout: training with p = %g needs an rng", (double)p);
    /* the identity (eval, or p = 0) is x itself, as torch's F.dropout returns its input:
     * no copy, no node (the gradient reaches x directly) */
    if (!active) return x;
    mmc_tensor *out = mmc_tensor_empty(ctx, x->ndim, x->shape);
    if (!out) return NULL;
    int64_t N = x->numel;
    float *mask = mmc_scratch(ctx, sizeof(float) * (size_t)(N ? N : 1));
    if (!mask) return NULL;
    float keep = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < N; i++) /* sequential: the stream order defines the mask */
        mask[i] = mmc_rng_uniform(rng) < p ? 0.0f : keep;
    MMC_PARALLEL_FOR(mmc_par_threads(N, 32768),
        for (int64_t i = 0; i < N; i++) out->data[i] = x->data[i] * mask[i]);
    mmc_node *n = mmc_node_record(ctx, "dropout", out, dropout_backward, 1, x);
    if (n) n->saved = mask;
    return out;
}

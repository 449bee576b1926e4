/* loss_common.c — argument checks, the cosine matrix and the fused pair reduction shared
 * by the contrastive and cosine-embedding losses (see loss_internal.h). */
#include "loss_internal.h"
#include <math.h>

int mmc_loss_check_ab(mmc_ctx *ctx, const char *op, const mmc_tensor *a, const mmc_tensor *b) {
    char s1[64], s2[64];
    if (!a || !b) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: %s is NULL%s", op, !a ? "a (image embeddings)" : "b (text embeddings)",
                    ctx->err.code ? " (an earlier op failed)" : "");
        return -1;
    }
    if (a->ndim != 2 || b->ndim != 2 || !mmc_tensor_same_shape(a, b)) {
        mmc_op_fail(ctx, MMC_ERR_USAGE,
                    "%s: a and b must both be (N, D) with row i of a matching row i of b; got a %s, "
                    "b %s", op, mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2));
        return -1;
    }
    if (a->shape[0] == 0 || a->shape[1] == 0) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: empty batch: a and b are %s, need N >= 1 rows of D >= 1",
                    op, mmc_shape_str(a, s1, sizeof s1));
        return -1;
    }
    return 0;
}

int mmc_loss_check_margin(mmc_ctx *ctx, const char *op, float margin) {
    if (isfinite(margin)) return 0;
    mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: margin must be finite, got %g", op, margin);
    return -1;
}

int mmc_loss_check_negatives(mmc_ctx *ctx, const char *op, int N, int n_neg, const mmc_rng *rng) {
    if (n_neg < 0) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: n_neg must be >= 0 (0 = every in-batch negative), got %d",
                    op, n_neg);
        return -1;
    }
    if (n_neg > 0 && !rng) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: n_neg = %d sampled negatives need an rng (got NULL)", op, n_neg);
        return -1;
    }
    if (n_neg > 0 && N < 2) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: n_neg = %d but a batch of N = %d has no other row to sample",
                    op, n_neg, N);
        return -1;
    }
    return 0;
}

mmc_tensor *mmc_loss_cosine_matrix(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b) {
    mmc_tensor *an = mmc_l2_normalize(ctx, a, MMC_LOSS_COS_EPS); /* (N, D) */
    mmc_tensor *bn = mmc_l2_normalize(ctx, b, MMC_LOSS_COS_EPS); /* (M, D) */
    if (!an || !bn) return NULL;
    return mmc_matmul(ctx, an, bn, 0, 1); /* (N, M) */
}

/* ------------------------------------------------------------------ pair_hinge */

typedef struct pair_saved {
    const int *neg; /* (N, n_neg) sampled negatives, or NULL for all in-batch */
    int n_neg;
    double pairs;   /* P */
} pair_saved;

/* Row i's contribution: one positive, its negatives. Each row is one thread's, so the
 * forward sums rows serially afterwards (deterministic) and the backward writes row i of
 * dM only from row i. */
static double pair_row(const float *Mi, int i, int N, const int *neg, int n_neg, const float *p) {
    double alpha = p[0], beta = p[1], gamma = p[2], delta = p[3];
    double s = alpha + beta * Mi[i];
    if (neg) {
        for (int k = 0; k < n_neg; k++) {
            double h = gamma + delta * Mi[neg[k]];
            if (h > 0) s += h;
        }
    } else {
        for (int j = 0; j < N; j++) {
            if (j == i) continue;
            double h = gamma + delta * Mi[j];
            if (h > 0) s += h;
        }
    }
    return s;
}

static void pair_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *M = n->in[0];
    float *gM = mmc_tensor_grad(ctx, M);
    if (!gM) return;
    const pair_saved *sv = n->saved;
    int N = M->shape[0];
    double w = n->out->grad[0] / sv->pairs, beta = n->fa[1], gamma = n->fa[2], delta = n->fa[3];
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 32768),
    for (int i = 0; i < N; i++) {
        const float *Mi = M->data + (int64_t)i * N;
        float *gi = gM + (int64_t)i * N;
        gi[i] += (float)(w * beta);
        if (sv->neg) {
            const int *ng = sv->neg + (int64_t)i * sv->n_neg;
            for (int k = 0; k < sv->n_neg; k++) /* a negative drawn twice counts twice */
                if (gamma + delta * Mi[ng[k]] > 0) gi[ng[k]] += (float)(w * delta);
        } else {
            for (int j = 0; j < N; j++)
                if (j != i && gamma + delta * Mi[j] > 0) gi[j] += (float)(w * delta);
        }
    });
}

mmc_tensor *mmc_loss_pair_hinge(mmc_ctx *ctx, const char *op, mmc_tensor *M, int n_neg,
                                mmc_rng *rng, float alpha, float beta, float gamma, float delta) {
    MMC_CHECK_INPUTS(ctx, op, M);
    int N = M->shape[0];
    mmc_tensor *out = mmc_tensor_empty(ctx, 1, (int[]){1});
    pair_saved *sv = mmc_scratch(ctx, sizeof *sv);
    double *row = mmc_scratch(ctx, sizeof(double) * (size_t)N);
    int *neg = n_neg > 0 ? mmc_scratch(ctx, sizeof(int) * (size_t)N * (size_t)n_neg) : NULL;
    if (!out || !sv || !row || (n_neg > 0 && !neg)) return NULL;
    /* Draws happen here, in anchor order, before any threading: the same rng state gives
     * the same negatives whatever the thread count. */
    for (int i = 0; i < N && neg; i++)
        for (int k = 0; k < n_neg; k++) {
            int j = (int)mmc_rng_below(rng, (uint32_t)(N - 1));
            neg[(int64_t)i * n_neg + k] = j >= i ? j + 1 : j;
        }
    float p[4] = {alpha, beta, gamma, delta};
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 32768),
    for (int i = 0; i < N; i++)
        row[i] = pair_row(M->data + (int64_t)i * N, i, N, neg ? neg + (int64_t)i * n_neg : NULL, n_neg, p));
    double total = 0;
    for (int i = 0; i < N; i++) total += row[i];
    sv->neg = neg;
    sv->n_neg = n_neg;
    sv->pairs = (double)N + (neg ? (double)N * n_neg : (double)N * (N - 1));
    out->data[0] = (float)(total / sv->pairs);
    mmc_node *n = mmc_node_record(ctx, op, out, pair_backward, 1, M);
    if (n) {
        n->saved = sv;
        for (int k = 0; k < 4; k++) n->fa[k] = p[k];
    }
    return out;
}

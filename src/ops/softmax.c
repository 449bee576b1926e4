/* softmax.c — softmax and log-softmax over the last axis, and fused cross-entropy.
 *
 * Every kernel works on independent rows of the last axis, so rows are spread over
 * OpenMP threads and each output (and each gradient element) is written by one thread.
 * Numerical stability: the row maximum is subtracted before exp, and the normaliser is
 * kept as a log-sum-exp. */
#include "internal.h"
#include "mmc/ops.h"
#include <math.h>

/* rows = numel / C for a tensor whose last axis has C entries */
static int rows_of(mmc_ctx *ctx, const char *op, const mmc_tensor *a, int64_t *rows, int *C) {
    char s[64];
    if (a->ndim < 1 || a->shape[a->ndim - 1] == 0) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: needs a non-empty last axis, got shape %s", op,
                    mmc_shape_str(a, s, sizeof s));
        return -1;
    }
    *C = a->shape[a->ndim - 1];
    *rows = a->numel / *C;
    return 0;
}

/* log(sum(exp(x))) of one row, computed around its maximum */
static double row_logsumexp(const float *x, int C) {
    float m = x[0];
    for (int c = 1; c < C; c++) if (x[c] > m) m = x[c];
    if (isinf(m)) return m; /* all -inf (log 0) or a +inf entry */
    double s = 0;
    for (int c = 0; c < C; c++) s += exp((double)x[c] - m);
    return m + log(s);
}

enum { SM_SOFTMAX, SM_LOG };

static void softmax_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0];
    float *ga = mmc_tensor_grad(ctx, a);
    if (!ga) return;
    const float *g = n->out->grad, *y = n->out->data;
    int C = a->shape[a->ndim - 1], log_form = n->ia[0] == SM_LOG;
    int64_t rows = a->numel / C;
    MMC_PARALLEL_FOR(mmc_par_threads(a->numel, 32768),
        for (int64_t r = 0; r < rows; r++) {
            const float *gr = g + r * C, *yr = y + r * C;
            float *gx = ga + r * C;
            double dot = 0;
            if (log_form) { /* y = x - lse: dx = g - softmax * sum(g) */
                for (int c = 0; c < C; c++) dot += gr[c];
                for (int c = 0; c < C; c++) gx[c] += (float)(gr[c] - expf(yr[c]) * dot);
            } else { /* y = softmax: dx = y * (g - sum(g * y)) */
                for (int c = 0; c < C; c++) dot += (double)gr[c] * yr[c];
                for (int c = 0; c < C; c++) gx[c] += (float)(yr[c] * (gr[c] - dot));
            }
        });
}

static mmc_tensor *softmax_common(mmc_ctx *ctx, const char *op, int kind, mmc_tensor *a) {
    MMC_CHECK_INPUTS(ctx, op, a);
    int64_t rows;
    int C;
    if (rows_of(ctx, op, a, &rows, &C)) return NULL;
    mmc_tensor *out = mmc_tensor_empty(ctx, a->ndim, a->shape);
    if (!out) return NULL;
    MMC_PARALLEL_FOR(mmc_par_threads(a->numel, 32768),
        for (int64_t r = 0; r < rows; r++) {
            const float *x = a->data + r * C;
            float *y = out->data + r * C;
            double lse = row_logsumexp(x, C);
            for (int c = 0; c < C; c++)
                y[c] = kind == SM_LOG ? (float)(x[c] - lse) : (float)exp(x[c] - lse);
        });
    mmc_node *n = mmc_node_record(ctx, op, out, softmax_backward, 1, a);
    if (n) n->ia[0] = kind;
    return out;
}

mmc_tensor *mmc_softmax(mmc_ctx *ctx, mmc_tensor *a) { return softmax_common(ctx, "softmax", SM_SOFTMAX, a); }
mmc_tensor *mmc_log_softmax(mmc_ctx *ctx, mmc_tensor *a) { return softmax_common(ctx, "log_softmax", SM_LOG, a); }

/* ---------------------------------------------------------------- cross-entropy
 *
 * PyTorch's F.cross_entropy(logits, t, ignore_index, label_smoothing=e), mean reduction:
 *   loss = 1/K * sum over kept rows i of [ (1-e) * -logp[i, t_i] + e/C * sum_c -logp[i, c] ]
 * with K the number of rows whose target is not ignore_index. Gradient of a kept row:
 *   dlogits[i, c] = g/K * (p[i, c] - (1-e) [c == t_i] - e/C).
 * K = 0 (every row ignored): PyTorch returns nan (0/0); we return 0 with zero gradients so
 * a batch of padding cannot poison training. */

typedef struct ce_saved {
    const int *targets; /* copied into the arena */
    double *lse;        /* (N) log-sum-exp of each row */
    int kept;           /* K */
} ce_saved;

static void ce_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *x = n->in[0];
    const ce_saved *sv = n->saved;
    if (sv->kept == 0) return; /* loss is a constant 0 */
    float *gx = mmc_tensor_grad(ctx, x);
    if (!gx) return;
    int N = x->shape[0], C = x->shape[1], ignore = n->ia[0];
    double e = n->fa[0], w = n->out->grad[0] / (double)sv->kept;
    MMC_PARALLEL_FOR(mmc_par_threads(x->numel, 32768),
        for (int i = 0; i < N; i++) {
            int t = sv->targets[i];
            if (t == ignore) continue;
            const float *z = x->data + (int64_t)i * C;
            float *gr = gx + (int64_t)i * C;
            for (int c = 0; c < C; c++) {
                double p = exp((double)z[c] - sv->lse[i]);
                gr[c] += (float)(w * (p - (c == t ? 1.0 - e : 0.0) - e / C));
            }
        });
}

/* Checks every target before any work: a bad id must fail, never index out of bounds. */
static int ce_check_targets(mmc_ctx *ctx, const int *t, int N, int C, int ignore) {
    for (int i = 0; i < N; i++)
        if (t[i] != ignore && (t[i] < 0 || t[i] >= C)) {
            mmc_op_fail(ctx, MMC_ERR_USAGE,
                        "cross_entropy: target of row %d is %d, outside 0..%d (C = %d) and not "
                        "ignore_index %d", i, t[i], C - 1, C, ignore);
            return -1;
        }
    return 0;
}

static int ce_check_args(mmc_ctx *ctx, const mmc_tensor *x, const int *t, float e) {
    char s[64];
    if (x->ndim != 2 || x->shape[1] == 0) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "cross_entropy: logits must be (N, C) with C > 0, got %s",
                    mmc_shape_str(x, s, sizeof s));
        return -1;
    }
    if (!t && x->shape[0] > 0) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "cross_entropy: targets is NULL for logits %s",
                    mmc_shape_str(x, s, sizeof s));
        return -1;
    }
    if (!(e >= 0.0f && e <= 1.0f)) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "cross_entropy: label_smoothing %g is outside [0, 1]", e);
        return -1;
    }
    return 0;
}

mmc_tensor *mmc_cross_entropy(mmc_ctx *ctx, mmc_tensor *logits, const int *targets,
                              int ignore_index, float label_smoothing) {
    MMC_CHECK_INPUTS(ctx, "cross_entropy", logits);
    if (ce_check_args(ctx, logits, targets, label_smoothing)) return NULL;
    int N = logits->shape[0], C = logits->shape[1];
    if (ce_check_targets(ctx, targets, N, C, ignore_index)) return NULL;
    mmc_tensor *out = mmc_tensor_empty(ctx, 1, (int[]){1});
    ce_saved *sv = mmc_scratch(ctx, sizeof *sv);
    double *row_loss = mmc_scratch(ctx, sizeof(double) * (size_t)N);
    double *lse = mmc_scratch(ctx, sizeof(double) * (size_t)N);
    int *tcopy = mmc_scratch(ctx, sizeof(int) * (size_t)N); /* caller may reuse targets */
    if (!out || !sv || !row_loss || !lse || !tcopy) return NULL;
    double e = label_smoothing;
    /* row_loss: each row's term, so the final sum is done serially (deterministic) */
    MMC_PARALLEL_FOR(mmc_par_threads(logits->numel, 32768),
        for (int i = 0; i < N; i++) {
            const float *z = logits->data + (int64_t)i * C;
            tcopy[i] = targets[i];
            double m = row_logsumexp(z, C), sum_logp = 0;
            lse[i] = m;
            if (targets[i] == ignore_index) { row_loss[i] = 0; continue; }
            for (int c = 0; c < C; c++) sum_logp += z[c] - m;
            row_loss[i] = (1.0 - e) * (m - z[targets[i]]) - e / C * sum_logp;
        });
    double total = 0;
    int kept = 0;
    for (int i = 0; i < N; i++)
        if (targets[i] != ignore_index) { total += row_loss[i]; kept++; }
    out->data[0] = kept ? (float)(total / kept) : 0.0f;
    sv->targets = tcopy;
    sv->lse = lse;
    sv->kept = kept;
    mmc_node *n = mmc_node_record(ctx, "cross_entropy", out, ce_backward, 1, logits);
    if (n) {
        n->saved = sv;
        n->ia[0] = ignore_index;
        n->fa[0] = label_smoothing;
    }
    return out;
}

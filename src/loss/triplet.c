/* triplet.c — VSE++ triplet ranking loss in both directions (formula in mmc.h).
 *
 * s = a b^T (N, N) by one GEMM (mmc_matmul, which also carries the gradient to a and b);
 * the hinges are a fused reduction over s that builds no cost matrix:
 *   ci(i, j) = [m - s(i, i) + s(i, j)]+   row i, j != i      (image i, wrong caption j)
 *   ct(i, j) = [m - s(j, j) + s(i, j)]+   column j, i != j   (caption j, wrong image i)
 * Sum form: L = 1/N sum (ci + ct). Each active hinge sends +w to s(i, j) and -w to the
 * diagonal entry of its anchor: dS(i, j) = w ([ci > 0] + [ct > 0]) off the diagonal, and
 * dS(i, i) = -w (#active ci in row i + #active ct in column i), w = g / N.
 * Hardest form: the hinge is monotone in s(i, j) for a fixed anchor, so the hardest
 * negative of row i is the first argmax of s(i, j) over j != i (and likewise per column);
 * only that one entry and the anchor's diagonal get a gradient. */
#include "loss_internal.h"
#include <math.h>

typedef struct triplet_saved {
    int *row_arg, *col_arg; /* hardest: the negative chosen per row / per column, -1 if none */
} triplet_saved;

static void triplet_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *S = n->in[0];
    float *gS = mmc_tensor_grad(ctx, S);
    if (!gS) return;
    const triplet_saved *sv = n->saved;
    int N = S->shape[0], hardest = n->ia[0];
    double m = n->fa[0], w = n->out->grad[0] / N;
    const float *s = S->data;
    if (hardest) { /* O(N): one negative per anchor and direction */
        for (int i = 0; i < N; i++) {
            int j = sv->row_arg[i];
            if (j >= 0 && m - s[(int64_t)i * N + i] + s[(int64_t)i * N + j] > 0) {
                gS[(int64_t)i * N + j] += (float)w;
                gS[(int64_t)i * N + i] -= (float)w;
            }
            int k = sv->col_arg[i]; /* column i: caption i, hardest wrong image k */
            if (k >= 0 && m - s[(int64_t)i * N + i] + s[(int64_t)k * N + i] > 0) {
                gS[(int64_t)k * N + i] += (float)w;
                gS[(int64_t)i * N + i] -= (float)w;
            }
        }
        return;
    }
    /* Off-diagonal entries and the row counts: each thread owns whole rows. The column
     * counts land on the diagonal of another row, so they are gathered per column after. */
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 32768),
    for (int i = 0; i < N; i++) {
        const float *si = s + (int64_t)i * N;
        float *gi = gS + (int64_t)i * N;
        double sii = si[i];
        int active = 0;
        for (int j = 0; j < N; j++) {
            if (j == i) continue;
            int c = 0;
            if (m - sii + si[j] > 0) { c++; active++; }
            if (m - s[(int64_t)j * N + j] + si[j] > 0) c++;
            if (c) gi[j] += (float)(w * c);
        }
        gi[i] -= (float)(w * active);
    });
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 32768),
    for (int j = 0; j < N; j++) {
        double sjj = s[(int64_t)j * N + j];
        int active = 0;
        for (int i = 0; i < N; i++)
            if (i != j && m - sjj + s[(int64_t)i * N + j] > 0) active++;
        gS[(int64_t)j * N + j] -= (float)(w * active);
    });
}

mmc_tensor *mmc_loss_triplet(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float margin, int hardest) {
    const char *op = "loss_triplet";
    if (mmc_loss_check_ab(ctx, op, a, b) || mmc_loss_check_margin(ctx, op, margin)) return NULL;
    if (hardest != 0 && hardest != 1)
        return mmc_op_fail(ctx, MMC_ERR_USAGE,
                           "%s: hardest must be 0 (sum over negatives) or 1 (hardest negative), got %d",
                           op, hardest);
    mmc_tensor *S = mmc_matmul(ctx, a, b, 0, 1); /* (N, N), s(i, j) = a_i . b_j */
    if (!S) return NULL;
    int N = S->shape[0];
    const float *s = S->data;
    double m = margin;
    mmc_tensor *out = mmc_tensor_empty(ctx, 1, (int[]){1});
    double *row = mmc_scratch(ctx, sizeof(double) * (size_t)N); /* per-anchor terms */
    triplet_saved *sv = mmc_scratch(ctx, sizeof *sv);
    if (!out || !row || !sv) return NULL;
    sv->row_arg = sv->col_arg = NULL;
    if (hardest) {
        sv->row_arg = mmc_scratch(ctx, sizeof(int) * (size_t)N);
        sv->col_arg = mmc_scratch(ctx, sizeof(int) * (size_t)N);
        if (!sv->row_arg || !sv->col_arg) return NULL;
        for (int i = 0; i < N; i++) sv->row_arg[i] = sv->col_arg[i] = -1;
        for (int i = 0; i < N; i++) { /* rows: first argmax over j != i */
            const float *si = s + (int64_t)i * N;
            for (int j = 0; j < N; j++)
                if (j != i && (sv->row_arg[i] < 0 || si[j] > si[sv->row_arg[i]])) sv->row_arg[i] = j;
        }
        /* columns, scanned row by row for locality: the first i wins a tie because a later
         * one must be strictly greater */
        for (int i = 0; i < N; i++) {
            const float *si = s + (int64_t)i * N;
            for (int j = 0; j < N; j++)
                if (j != i && (sv->col_arg[j] < 0 || si[j] > s[(int64_t)sv->col_arg[j] * N + j]))
                    sv->col_arg[j] = i;
        }
        for (int i = 0; i < N; i++) {
            double sii = s[(int64_t)i * N + i], r = 0;
            if (sv->row_arg[i] >= 0) r += fmax(0.0, m - sii + s[(int64_t)i * N + sv->row_arg[i]]);
            if (sv->col_arg[i] >= 0) r += fmax(0.0, m - sii + s[(int64_t)sv->col_arg[i] * N + i]);
            row[i] = r;
        }
    } else {
    MMC_PARALLEL_FOR(mmc_par_threads((int64_t)N * N, 32768),
        for (int i = 0; i < N; i++) {
            const float *si = s + (int64_t)i * N;
            double sii = si[i], r = 0;
            for (int j = 0; j < N; j++) {
                if (j == i) continue;
                r += fmax(0.0, m - sii + si[j]);                      /* ci(i, j) */
                r += fmax(0.0, m - s[(int64_t)j * N + j] + si[j]);    /* ct(i, j) */
            }
            row[i] = r;
        });
    }
    double total = 0;
    for (int i = 0; i < N; i++) total += row[i];
    out->data[0] = (float)(total / N);
    mmc_node *n = mmc_node_record(ctx, op, out, triplet_backward, 1, S);
    if (n) {
        n->saved = sv;
        n->ia[0] = hardest;
        n->fa[0] = margin;
    }
    return out;
}

/*
 * mmc/loss.h — losses for dual-encoder training (src/loss): contrastive, triplet,
 * cosine embedding, InfoNCE. (Cross-entropy is an op: mmc/ops.h.)
 */
#ifndef MMC_LOSS_H
#define MMC_LOSS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loss (src/loss) ---- */

/* Losses for coordinated (dual-encoder) training. Every one takes image embeddings
 * a (N, D) and text embeddings b (N, D) where row i of a matches row i of b; the other
 * rows of the batch are the negatives. Each returns a scalar tensor of shape (1) with
 * autograd to a and b (and logit_scale for InfoNCE), or NULL with ctx->err set: a or b
 * NULL, not 2-D, shapes differ, N = 0 or D = 0, a non-finite margin, n_neg < 0, or
 * n_neg > 0 without an rng or with N < 2.
 *
 * Pairs (contrastive and cosine embedding): the N positives (i, i), and negatives (i, j),
 * j != i: every one of the N(N-1) when n_neg = 0, otherwise n_neg per anchor i drawn
 * uniformly with replacement from the other N-1 rows, anchor by anchor, each draw one
 * mmc_rng_below(rng, N - 1) (a drawn index k >= i stands for k + 1). The loss is the mean
 * over all P = N + (number of negatives) pairs. */

enum { MMC_DIST_EUCLIDEAN = 0, MMC_DIST_COSINE = 1 };

/* Contrastive loss (the seed formula, Chopra/Hadsell style with unsquared distances):
 *   L = 1/P * sum over pairs of  y * d + (1 - y) * max(0, m - d)
 * with y = 1 for a positive pair, 0 for a negative one, and
 *   d = ||a_i - b_j||                          (MMC_DIST_EUCLIDEAN), or
 *   d = 1 - a_i.b_j / (|a_i| |b_j|)            (MMC_DIST_COSINE; norms clamped at 1e-8).
 * d is not squared: Hadsell et al. (2006) use 1/2 d^2 and 1/2 max(0, m - d)^2; here the
 * pull on a positive has constant strength and the push stops at the margin. At d = 0
 * the Euclidean gradient is 0 (as torch.cdist). */
mmc_tensor *mmc_loss_contrastive(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float margin,
                                 int distance, int n_neg, mmc_rng *rng);

/* Triplet ranking loss over in-batch negatives in both directions, as VSE++ (Faghri et
 * al. 2018). a and b are assumed L2-normalised by the caller (call mmc_l2_normalize
 * first), so s(i, j) = a_i.b_j is their cosine similarity. With
 *   ci(i, j) = max(0, m - s(i, i) + s(i, j))   image i, wrong caption j  (j != i)
 *   ct(i, j) = max(0, m - s(j, j) + s(i, j))   caption j, wrong image i  (i != j)
 * hardest = 0: L = 1/N * [ sum over i, j != i of ci(i, j) + sum over j, i != j of ct(i, j) ]
 * hardest = 1: L = 1/N * [ sum over i of max_j ci(i, j) + sum over j of max_i ct(i, j) ]
 * (VSE++'s max-of-hinges, MH). VSE++ sums over the batch; the 1/N here keeps the scale
 * independent of the batch size. At a tie the gradient goes to the first maximum. N = 1
 * has no negatives and gives 0. */
mmc_tensor *mmc_loss_triplet(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float margin, int hardest);

/* Cosine embedding loss, torch.nn.CosineEmbeddingLoss(margin) over the pairs above with
 * y = +1 for positives and y = -1 for negatives:
 *   l(i, j) = 1 - cos(a_i, b_j)              if y = +1
 *   l(i, j) = max(0, cos(a_i, b_j) - m)      if y = -1
 *   L = 1/P * sum over pairs of l(i, j)
 * cos is a.b / (max(|a|, 1e-8) max(|b|, 1e-8)) (PyTorch uses a.b / sqrt((|a|^2 + 1e-12)
 * (|b|^2 + 1e-12)); the two agree unless a norm is below about 1e-6). m in [-1, 1]
 * is usual (PyTorch suggests 0 to 0.5) but any finite value is accepted. */
mmc_tensor *mmc_loss_cosine_embedding(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float margin,
                                      int n_neg, mmc_rng *rng);

/* Symmetric InfoNCE with a learnable temperature, as CLIP (Radford et al. 2021):
 *   t = exp(min(logit_scale, max_scale))      logit_scale holds log(1/T), 1 element
 *   logits(i, j) = t * a_i.b_j                (N, N)
 *   L = 1/2 * [ CE(logits, 0..N-1) + CE(logits^T, 0..N-1) ]
 *     = 1/(2N) * sum over i of [ lse_j logits(i, j) + lse_j logits(j, i) - 2 logits(i, i) ]
 * CE is the mean cross-entropy over rows; lse is log-sum-exp. CLIP L2-normalises a and b
 * first (the caller does) and clamps the scale at 100: max_scale = log(100) = 4.6052;
 * pass INFINITY for no clamp. Above max_scale the scale is constant and logit_scale gets
 * no gradient (at max_scale exactly it does, as torch.clamp). Gradients go to a, b and
 * logit_scale (each when it requires grad). Fused: beyond the (N, N) product a.b^T it
 * keeps only 2N log-sum-exps, no logits or probability matrices. */
mmc_tensor *mmc_loss_infonce(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, mmc_tensor *logit_scale,
                             float max_scale);

#ifdef __cplusplus
}
#endif
#endif /* MMC_LOSS_H */

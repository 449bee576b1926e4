/*
 * mmc/ops.h — the ops (src/ops): elementwise, reductions, softmax and cross-entropy,
 * matmul, convolution and pooling, norms, embedding, dropout, shape ops, similarity,
 * attention and the fused recurrent layers; each records its backward on the tape.
 */
#ifndef MMC_OPS_H
#define MMC_OPS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- ops */
/* Each returns a new arena tensor, or NULL with ctx->err set (shape mismatch, OOM,
 * or a NULL input — so calls can be chained and checked once at the end).
 * Shapes are given as comments: x (B, C, H, W) etc. */

/* elementwise, numpy broadcasting over up to 5 dims */
mmc_tensor *mmc_add(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b);
mmc_tensor *mmc_sub(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b);
mmc_tensor *mmc_mul(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b);
mmc_tensor *mmc_div(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b);
mmc_tensor *mmc_scale(mmc_ctx *ctx, mmc_tensor *a, float s);        /* a * s */
mmc_tensor *mmc_add_scalar(mmc_ctx *ctx, mmc_tensor *a, float s);   /* a + s */
mmc_tensor *mmc_exp(mmc_ctx *ctx, mmc_tensor *a);
mmc_tensor *mmc_log(mmc_ctx *ctx, mmc_tensor *a);
mmc_tensor *mmc_sqrt(mmc_ctx *ctx, mmc_tensor *a);
mmc_tensor *mmc_pow(mmc_ctx *ctx, mmc_tensor *a, float p);          /* a ** p */
mmc_tensor *mmc_relu(mmc_ctx *ctx, mmc_tensor *a);
mmc_tensor *mmc_gelu(mmc_ctx *ctx, mmc_tensor *a);                  /* erf form */
mmc_tensor *mmc_gelu_tanh(mmc_ctx *ctx, mmc_tensor *a);             /* tanh approximation */
mmc_tensor *mmc_quick_gelu(mmc_ctx *ctx, mmc_tensor *a);            /* a * sigmoid(1.702 a) */
mmc_tensor *mmc_sigmoid(mmc_ctx *ctx, mmc_tensor *a);
mmc_tensor *mmc_tanh(mmc_ctx *ctx, mmc_tensor *a);

/* reductions. axes: list of distinct axes (negative counts from the end); naxes = 0 means
 * all (axes may then be NULL). keepdim as in PyTorch: reducing every axis without keepdim
 * gives a 0-dim tensor (ndim 0, one element). max reduces one axis and returns the values;
 * the gradient flows to the first maximum (a NaN counts as the maximum). */
mmc_tensor *mmc_sum(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim);
mmc_tensor *mmc_mean(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim);
mmc_tensor *mmc_max(mmc_ctx *ctx, mmc_tensor *a, int axis, int keepdim);

/* softmax family, over the last axis */
mmc_tensor *mmc_softmax(mmc_ctx *ctx, mmc_tensor *a);
mmc_tensor *mmc_log_softmax(mmc_ctx *ctx, mmc_tensor *a);
/* logits (N, C), targets[N] class ids; rows whose target == ignore_index are skipped
 * (use -100 as PyTorch does, or any value outside 0..C-1 to disable). Any other target
 * outside 0..C-1 is a usage error naming the row. label_smoothing in [0, 1], exactly as
 * PyTorch's F.cross_entropy(label_smoothing=): (1-e) * nll + e/C * sum_c -log p_c per row.
 * Returns the mean over non-ignored rows, shape (1); if every row is ignored it returns 0
 * with zero gradients (PyTorch returns nan). */
mmc_tensor *mmc_cross_entropy(mmc_ctx *ctx, mmc_tensor *logits, const int *targets,
                              int ignore_index, float label_smoothing);

/* matrix products through cblas_sgemm.
 * matmul: a (M, K) or (K, M) if ta; b (K, N) or (N, K) if tb -> (M, N).
 * bmm:    the same over leading batch dims (..., ., .) -> (..., M, N). The batch dims of
 *         a and b must be equal, or one operand is 2-D and shared across the batch (its
 *         gradient is the sum over the batch). No other broadcasting. */
mmc_tensor *mmc_matmul(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, int ta, int tb);
mmc_tensor *mmc_bmm(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, int ta, int tb);
/* x (..., IN), w (OUT, IN), b (OUT) or NULL -> (..., OUT) */
mmc_tensor *mmc_linear(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *w, mmc_tensor *b);

/* int8 / int4 weights for inference (src/ops/qgemm.c; arithmetic in src/ops/qgemm.h).
 * A weight tensor with a quantised copy attached (mmc_tensor_set_quant) makes mmc_linear
 * run the integer product whenever no gradient is being recorded for it: X is quantised
 * row by row on the fly and the result is float32. Its float data may then be freed
 * (mmc_tensor_drop_data): the tensor serves inference only and mmc_linear refuses it in
 * training. q8: int8 per output channel; q4: 4 bits per channel and group of 32 inputs. */
enum { MMC_QTYPE_Q8 = 1, MMC_QTYPE_Q4 = 2 };
typedef struct mmc_qweight mmc_qweight;
/* w (out, in) float, row-major; NULL + err for a non-finite value or out of memory. */
mmc_qweight *mmc_qweight_quantize(const float *w, int out, int in, int type, mmc_error *err);
/* From the stored form of docs/formats.md (q8: (out, in) int8 and (out) scales; q4:
 * (out, ceil(in/2)) bytes of two nibbles and (out, ceil(in/32)) scales). Values and
 * scales are checked; a bad one is MMC_ERR_INPUT naming `what`. */
mmc_qweight *mmc_qweight_from_stored(int type, int out, int in, const void *q, const float *scale, const char *what,
                                     mmc_error *err);
size_t mmc_qweight_stored_bytes(int type, int out, int in);
int mmc_qweight_stored_groups(int type, int in);
void mmc_qweight_to_stored(const mmc_qweight *w, void *q, float *scale);
void mmc_qweight_dequantize(const mmc_qweight *w, float *dst); /* (out, in) floats */
void mmc_qweight_row(const mmc_qweight *w, int n, float *dst); /* row n: in floats */
/* One q8 matrix of the parts' rows stacked (each part q8, the same inputs, a multiple of 64
 * rows): the parts then read their rows from it (they become views, to be freed before or
 * after it but used only while it lives). For one product where there were several. */
mmc_qweight *mmc_qweight_stack(mmc_qweight **parts, int n, mmc_error *err);
void mmc_qweight_free(mmc_qweight *w);
size_t mmc_qweight_bytes(const mmc_qweight *w); /* memory held */
int mmc_qweight_type(const mmc_qweight *w);
/* Attaches q to t (an (out, in) tensor, or (out, ...) of out·in elements such as a
 * convolution's weight read as a matrix; t takes ownership and frees it
 * with itself). MMC_ERR_USAGE on a shape mismatch (q is then freed). */
int mmc_tensor_set_quant(mmc_tensor *t, mmc_qweight *q, mmc_error *err);
/* Frees a quantised tensor's float data (and gradient), leaving only the quantised copy. */
void mmc_tensor_drop_data(mmc_tensor *t);

/* convolution and pooling, NCHW.
 * conv2d: x (B, C, H, W), w (OC, C/groups, KH, KW), b (OC) or NULL -> (B, OC, OH, OW) */
typedef struct mmc_conv2d_opts {
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
} mmc_conv2d_opts;
mmc_conv2d_opts mmc_conv2d_defaults(void); /* stride 1, pad 0, dilation 1, groups 1 */
mmc_tensor *mmc_conv2d(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *w, mmc_tensor *b,
                       mmc_conv2d_opts o);
/* pools: kernel k, stride s, padding p with 0 <= p <= k/2, floor mode (max pads with
 * -inf and sends the gradient to the first maximum of a window; avg counts padding as
 * PyTorch's count_include_pad=True does, so it always divides by k*k). */
mmc_tensor *mmc_max_pool2d(mmc_ctx *ctx, mmc_tensor *x, int k, int s, int p);
mmc_tensor *mmc_avg_pool2d(mmc_ctx *ctx, mmc_tensor *x, int k, int s, int p);
mmc_tensor *mmc_global_avg_pool2d(mmc_ctx *ctx, mmc_tensor *x); /* (B,C,H,W) -> (B,C) */

/* normalisation.
 * batch_norm: x (B, C, ...) ; gamma, beta (C) or NULL; running_mean/var (C) persistent,
 *   updated in training with momentum (PyTorch convention, unbiased var for the running
 *   estimate); in eval the running statistics are used. Pass both running tensors or
 *   neither; with neither, batch statistics are used in eval too (PyTorch's
 *   track_running_stats=False). Training needs more than one value per channel.
 * layer_norm: over the last axis of x; gamma, beta (D) or NULL. */
mmc_tensor *mmc_batch_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                           mmc_tensor *running_mean, mmc_tensor *running_var,
                           int training, float momentum, float eps);
/* batch_norm_act: y = act(batch_norm(x) + res) as one op with one output (what a ResNet does
 * after a convolution, without keeping the normalised and summed tensors for backward):
 * res like x, or NULL for none; relu 1 for act = ReLU, 0 for none. The statistics, running
 * updates and options are mmc_batch_norm's, which is this with res NULL and relu 0. */
mmc_tensor *mmc_batch_norm_act(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                               mmc_tensor *running_mean, mmc_tensor *running_var, int training,
                               float momentum, float eps, mmc_tensor *res, int relu);
mmc_tensor *mmc_layer_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                           float eps);
/* group_norm: torch.nn.functional.group_norm. x (B, C, ...), C a multiple of groups; each
 * sample's C/groups consecutive channels (with all positions) are normalised together by
 * their own statistics, so nothing depends on the batch; gamma, beta (C) or NULL. */
mmc_tensor *mmc_group_norm(mmc_ctx *ctx, mmc_tensor *x, int groups, mmc_tensor *gamma,
                           mmc_tensor *beta, float eps);

/* embedding: table (V, D), ids[n] (each in 0..V-1) -> (n, D); reshape after as needed.
 * An id out of range fails with MMC_ERR_INPUT before anything is read. */
mmc_tensor *mmc_embedding(mmc_ctx *ctx, mmc_tensor *table, const int *ids, int n);
/* dropout: in training zero with probability p and scale by 1/(1-p); identity otherwise.
 * p in [0, 1). The mask takes one mmc_rng_uniform draw per element, in order, from rng
 * (required when training with p > 0); eval and p = 0 draw nothing. */
mmc_tensor *mmc_dropout(mmc_ctx *ctx, mmc_tensor *x, float p, int training, mmc_rng *rng);

/* shape ops */
/* reshape: a view (shares x's data, base = x, no tape node; its gradient is x's); one dim
 * may be -1. It requires grad when x does and grad mode is on. */
mmc_tensor *mmc_reshape(mmc_ctx *ctx, mmc_tensor *x, int ndim, const int *shape);
mmc_tensor *mmc_transpose(mmc_ctx *ctx, mmc_tensor *x, int d0, int d1);           /* copy */
mmc_tensor *mmc_permute(mmc_ctx *ctx, mmc_tensor *x, const int *perm);            /* copy */
/* 1-D unfold of a sequence x (B, T, C) -> (B, T', C·k), T' = (T + 2·pad - k) / stride + 1:
 * out[b, t, c·k + j] = x[b, t·stride + j - pad, c] (0 off the ends); with a Conv1d weight
 * (C_out, C_in, k) read as (C_out, C_in·k), mmc_linear over it is the convolution. */
mmc_tensor *mmc_unfold1d(mmc_ctx *ctx, mmc_tensor *x, int k, int stride, int pad);
mmc_tensor *mmc_concat(mmc_ctx *ctx, mmc_tensor **xs, int n, int axis);
/* split x along axis into n parts of the given sizes (>= 0, summing to the axis length);
 * writes outs[n] (each output its own tape node; all NULL on error); returns status */
int mmc_split(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *sizes, int n, mmc_tensor **outs);
/* [start, end) along axis with Python semantics: negative values count from the end, both
 * are clamped to [0, len], end <= start gives an empty axis. */
mmc_tensor *mmc_slice(mmc_ctx *ctx, mmc_tensor *x, int axis, int start, int end);
/* gather along axis with an index per output position: out[.., i, ..] = x[.., idx[..], ..]
 * where index has out's shape (the shape of x except axis, which becomes index_len), as
 * torch.gather. Every index must be in 0..x.shape[axis]-1 (else a usage error). */
mmc_tensor *mmc_gather(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *index, int index_len);

/* similarity (eps >= 0).
 * l2_normalize: over the last axis, x / max(||x||, eps), as F.normalize.
 * cosine_similarity: a, b (..., D) of the same shape -> (...), as torch 1.13's
 *   F.cosine_similarity: a.b / (max(||a||, eps) * max(||b||, eps)), each norm clamped on its
 *   own; below eps the gradient follows PyTorch (the formula with ||a|| replaced by the
 *   clamped norm), not the exact derivative.
 * pairwise_distance: a (N, D), b (M, D) -> (N, M), d = ||a_i - b_j|| exactly as torch.cdist
 *   p=2. Backward uses (a_i - b_j) / max(d, eps) and 0 at d == 0, so it is cdist's gradient
 *   for d >= eps and at 0, and finite in between. */
mmc_tensor *mmc_l2_normalize(mmc_ctx *ctx, mmc_tensor *x, float eps);
mmc_tensor *mmc_cosine_similarity(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps);
mmc_tensor *mmc_pairwise_distance(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps);

/* scaled dot-product attention.
 * q (B, H, Tq, Dh), k and v (B, H, Tk, Dh) -> (B, H, Tq, Dh).
 * causal: query i sees keys j <= i (+ Tk - Tq offset). key_mask: NULL or (B, Tk) of
 * 1 (attend) / 0 (padding). Scores are scaled by 1/sqrt(Dh). A row with no visible key
 * gives zeros and passes no gradient. */
mmc_tensor *mmc_attention(mmc_ctx *ctx, mmc_tensor *q, mmc_tensor *k, mmc_tensor *v,
                          int causal, const uint8_t *key_mask);

/* -- ops: recurrent (src/ops/recurrent.c; the modules are in mmc/nn.h) -- */

/* Fused recurrent layers (ops): one layer, one direction, the whole sequence in one tape
 * node with its own backward through time. Weights in PyTorch's layout and gate order:
 *   GRU  (G = 3: r, z, n)     n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *   LSTM (G = 4: i, f, g, o)  c' = f * c + i * g,  h' = o * tanh(c')
 *   w_ih (G*H, IN), w_hh (G*H, H), b_ih and b_hh (G*H) or NULL.
 * x (B, T, IN) batch-first; h0, c0 (B, H) or NULL for zeros; lengths[B], each in 1..T, or NULL
 * for all T. As pack_padded_sequence + pad_packed_sequence(total_length=T): a padded step
 * carries the state unchanged and outputs 0, and the final state of a sequence is its
 * state at its last valid step. reverse: run each sequence from its own last valid step
 * down to step 0. Returns out (B, T, H) and writes *h_n (and *c_n), each (B, H), when the
 * pointer is non-NULL (all NULL on error). lengths is copied; it need not outlive the call. */
typedef struct mmc_rnn_weights {
    mmc_tensor *w_ih, *w_hh, *b_ih, *b_hh;
} mmc_rnn_weights;

mmc_tensor *mmc_gru_layer(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *h0, const mmc_rnn_weights *w,
                          const int *lengths, int reverse, mmc_tensor **h_n);
mmc_tensor *mmc_lstm_layer(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *h0, mmc_tensor *c0,
                           const mmc_rnn_weights *w, const int *lengths, int reverse,
                           mmc_tensor **h_n, mmc_tensor **c_n);

#ifdef __cplusplus
}
#endif
#endif /* MMC_OPS_H */

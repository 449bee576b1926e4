/*
 * mmc.h — the public C API of mmc, multimodal deep learning in C.
 *
 * One header. Names are mmc_<module>_<verb> for functions and mmc_<thing> for types.
 *
 * The model of computation (see docs/architecture.md):
 *
 *   mmc_ctx      holds the step arena (activations, gradients, tape nodes), the
 *                autograd tape, the grad-mode flag, and the last error.
 *   mmc_tensor   f32, contiguous, row-major, up to 5 dims. Parameters are
 *                "persistent" (malloc'd, live until mmc_tensor_free); everything an
 *                op returns lives in the ctx arena until mmc_ctx_reset().
 *   ops          mmc_add(ctx, a, b) ... build the output and, when grad mode is on
 *                and an input requires grad, record a backward node on the tape.
 *   backward     mmc_backward(ctx, loss) walks the tape in reverse and accumulates
 *                into every .grad (parameter grads accumulate until mmc_tensor_zero_grad).
 *
 * Errors: functions that can fail return an int status (MMC_OK = 0) or NULL, and
 * fill an mmc_error (for ops: ctx->err) with a message that names the context. The
 * library never exits or aborts on bad input. Status codes double as CLI exit codes.
 */
#ifndef MMC_H
#define MMC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMC_VERSION "0.1.0"
#define MMC_MAX_DIMS 5

/* ------------------------------------------------------------------ errors */

enum {
    MMC_OK = 0,
    MMC_ERR_USAGE = 1,   /* wrong arguments, shape mismatch in an API call */
    MMC_ERR_INPUT = 2,   /* bad input data or file */
    MMC_ERR_RUNTIME = 3, /* out of memory, divergence, I/O failure */
};

typedef struct mmc_error {
    int code;       /* MMC_OK when no error */
    char msg[1024]; /* human-readable, names the file/tensor/op and what was expected */
} mmc_error;

/* Sets e->code and e->msg (printf-style); returns code. e may be NULL. */
int mmc_error_set(mmc_error *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void mmc_error_clear(mmc_error *e);

/* --------------------------------------------------------------- allocation */

/* Every heap allocation made by libmmc goes through these; the counter lets tests prove
 * that a warm training step allocates nothing. */
void *mmc_malloc(size_t n);
void *mmc_calloc(size_t count, size_t size);
void *mmc_realloc(void *p, size_t n);
void mmc_free(void *p);
uint64_t mmc_alloc_count(void); /* number of mmc_malloc/calloc/realloc calls so far */

/* Step arena: a bump allocator over a list of chunks. reset() keeps the chunks (merging
 * them into one big enough chunk), so after the first step no further malloc happens. */
typedef struct mmc_arena mmc_arena;
mmc_arena *mmc_arena_new(size_t initial_bytes);
void mmc_arena_free(mmc_arena *a);
void *mmc_arena_alloc(mmc_arena *a, size_t bytes); /* 64-byte aligned; NULL on OOM */
void mmc_arena_reset(mmc_arena *a);
size_t mmc_arena_used(const mmc_arena *a);
size_t mmc_arena_peak(const mmc_arena *a);     /* high-water mark since creation */
size_t mmc_arena_capacity(const mmc_arena *a); /* bytes currently held */

/* ------------------------------------------------------------------ threads */

/* One knob for every kernel (OpenMP and OpenBLAS). Default: $MMC_THREADS, else the
 * number of cores. Results are deterministic for a given seed and thread count. */
void mmc_set_threads(int n);
int mmc_get_threads(void);

/* ---------------------------------------------------------------------- rng */

/* PCG32 (O'Neill): 64-bit state + stream. Everything random in mmc draws from one. */
typedef struct mmc_rng {
    uint64_t state;
    uint64_t inc;
} mmc_rng;

void mmc_rng_seed(mmc_rng *r, uint64_t seed, uint64_t stream);
uint32_t mmc_rng_u32(mmc_rng *r);
uint32_t mmc_rng_below(mmc_rng *r, uint32_t n); /* uniform in [0, n), unbiased */
float mmc_rng_uniform(mmc_rng *r);              /* [0, 1) with 24 random bits */
float mmc_rng_normal(mmc_rng *r);               /* N(0, 1), Box–Muller */
int mmc_rng_bernoulli(mmc_rng *r, float p);     /* 1 with probability p */
void mmc_rng_permutation(mmc_rng *r, int *out, int n); /* Fisher–Yates of 0..n-1 */
void mmc_rng_fill_uniform(mmc_rng *r, float *x, int64_t n, float lo, float hi);
void mmc_rng_fill_normal(mmc_rng *r, float *x, int64_t n, float mean, float std);

/* ------------------------------------------------------------------- tensor */

typedef struct mmc_tensor mmc_tensor;
struct mmc_tensor {
    float *data;
    float *grad;          /* NULL until a gradient arrives (use mmc_tensor_grad) */
    int ndim;
    int shape[MMC_MAX_DIMS];
    int64_t numel;
    int requires_grad;
    int persistent;       /* 1: data/grad malloc'd and owned (parameters, buffers) */
    mmc_tensor *base;     /* non-NULL for a view (reshape): data and grad are base's */
    const char *name;     /* optional, for messages and checkpoints (not owned) */
};

typedef struct mmc_node mmc_node;
typedef struct mmc_ctx mmc_ctx;

/* The context of a computation: arena, tape, grad mode, error. */
struct mmc_ctx {
    mmc_arena *arena;
    mmc_node **tape;   /* recorded nodes, in execution order (malloc'd, grows) */
    int tape_len, tape_cap;
    int grad_enabled;  /* 1: ops record backward nodes */
    mmc_error err;     /* the last error an op reported */
};

mmc_ctx *mmc_ctx_new(void);
void mmc_ctx_free(mmc_ctx *ctx);
/* End of a step: drop the tape and every arena tensor (activations, their grads). */
void mmc_ctx_reset(mmc_ctx *ctx);
/* Turn recording on/off; returns the previous setting (a no-grad scope):
 *   int prev = mmc_grad_mode(ctx, 0); ...inference...; mmc_grad_mode(ctx, prev); */
int mmc_grad_mode(mmc_ctx *ctx, int enabled);

/* Persistent tensors (parameters, buffers): zero-filled; NULL on OOM or bad shape. */
mmc_tensor *mmc_tensor_new(int ndim, const int *shape);
void mmc_tensor_free(mmc_tensor *t);
/* Arena tensors: live until mmc_ctx_reset. Uninitialised unless _zeros. NULL + ctx->err
 * on OOM or bad shape. */
mmc_tensor *mmc_tensor_empty(mmc_ctx *ctx, int ndim, const int *shape);
mmc_tensor *mmc_tensor_zeros(mmc_ctx *ctx, int ndim, const int *shape);
mmc_tensor *mmc_tensor_from(mmc_ctx *ctx, int ndim, const int *shape, const float *src);
/* Shorthands with the dims listed: mmc_tensor_2d(ctx, 3, 4) etc. (arena, zeroed). */
mmc_tensor *mmc_tensor_1d(mmc_ctx *ctx, int d0);
mmc_tensor *mmc_tensor_2d(mmc_ctx *ctx, int d0, int d1);
mmc_tensor *mmc_tensor_3d(mmc_ctx *ctx, int d0, int d1, int d2);
mmc_tensor *mmc_tensor_4d(mmc_ctx *ctx, int d0, int d1, int d2, int d3);
/* The grad buffer of t, allocated (zeroed) on first use: from the arena for arena
 * tensors, from the heap for persistent ones. Views resolve to their base. */
float *mmc_tensor_grad(mmc_ctx *ctx, mmc_tensor *t);
void mmc_tensor_zero_grad(mmc_tensor *t);
int mmc_tensor_same_shape(const mmc_tensor *a, const mmc_tensor *b);
/* "(2, 3, 4)" into buf; returns buf. */
const char *mmc_shape_str(const mmc_tensor *t, char *buf, size_t n);
int64_t mmc_shape_numel(int ndim, const int *shape); /* -1 if invalid or overflow */

/* --------------------------------------------------------------- autograd */

/* Seeds d(loss)/d(loss) = 1 (loss must have one element) and runs the tape backward,
 * accumulating into .grad of every tensor that requires grad. Returns MMC_OK or an error
 * in ctx->err. The tape is kept until mmc_ctx_reset. */
int mmc_backward(mmc_ctx *ctx, mmc_tensor *loss);

/* Runs the tape backward from a non-scalar output with the given seed gradient
 * (d(something)/d(out), out->numel floats): a vector–Jacobian product. */
int mmc_backward_with(mmc_ctx *ctx, mmc_tensor *out, const float *seed);

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

/* ------------------------------------------------------------------- optim */

/* Optimizers that follow PyTorch 1.13's torch.optim.SGD, Adam and AdamW step for step:
 * the same formulas in the same order, in f32, with the scalar coefficients (bias
 * corrections, 1 - beta, ...) computed in double as Python does. Their state (momentum,
 * exp_avg, exp_avg_sq, a step count per parameter) is allocated once at creation, so a
 * step never allocates. A parameter whose .grad is NULL is skipped, as torch skips
 * `p.grad is None`: its state and step count do not move. */
typedef struct mmc_sgd_opts {
    float lr, momentum, dampening, weight_decay;
    int nesterov; /* needs momentum > 0 and dampening 0, as in torch */
} mmc_sgd_opts;
typedef struct mmc_adam_opts {
    float lr, beta1, beta2, eps, weight_decay;
} mmc_adam_opts;
mmc_sgd_opts mmc_sgd_defaults(float lr);    /* momentum 0, dampening 0, decay 0 */
mmc_adam_opts mmc_adam_defaults(float lr);  /* betas (0.9, 0.999), eps 1e-8, decay 0 */
mmc_adam_opts mmc_adamw_defaults(float lr); /* the same with decay 0.01 (torch's AdamW) */

typedef struct mmc_optim mmc_optim;
/* params[n]: persistent tensors (the array is copied; the tensors must outlive the
 * optimizer). NULL + err on bad options (negative lr, beta outside [0, 1), ...) or OOM.
 *   sgd:   v = momentum*v + (1-dampening)*(g + wd*p)  (v = g + wd*p on the first step);
 *          p -= lr * (nesterov ? g + wd*p + momentum*v : v)
 *   adam:  L2 decay: g += wd*p, then the Adam update with bias correction
 *   adamw: decoupled decay: p *= 1 - lr*wd, then the Adam update on the raw gradient */
mmc_optim *mmc_optim_sgd(mmc_tensor *const *params, int n, mmc_sgd_opts o, mmc_error *err);
mmc_optim *mmc_optim_adam(mmc_tensor *const *params, int n, mmc_adam_opts o, mmc_error *err);
mmc_optim *mmc_optim_adamw(mmc_tensor *const *params, int n, mmc_adam_opts o, mmc_error *err);
void mmc_optim_free(mmc_optim *opt);
/* One update of every parameter that has a gradient. */
void mmc_optim_step(mmc_optim *opt);
/* Zeroes every parameter's gradient (torch's zero_grad(set_to_none=False)). */
void mmc_optim_zero_grad(mmc_optim *opt);
/* The learning rate used by the next step (for schedules). */
void mmc_optim_set_lr(mmc_optim *opt, float lr);
float mmc_optim_get_lr(const mmc_optim *opt);
/* State, for checkpoints: slot 0 is SGD's momentum buffer or Adam's exp_avg, slot 1
 * Adam's exp_avg_sq (persistent tensors shaped like param i; NULL if the optimizer has
 * no such slot). steps: updates param i has received (SGD: > 0 once its buffer holds a
 * value). Both may be written to restore a checkpoint. */
mmc_tensor *mmc_optim_state(mmc_optim *opt, int i, int slot);
int64_t mmc_optim_get_steps(const mmc_optim *opt, int i);
void mmc_optim_set_steps(mmc_optim *opt, int i, int64_t steps);

/* torch.nn.utils.clip_grad_norm_ (L2): the global norm of all gradients (params with a
 * NULL grad are skipped); if it exceeds max_norm every gradient is scaled by
 * max_norm / (norm + 1e-6). Returns the norm before clipping (NaN/inf propagate into
 * the gradients, as in torch with error_if_nonfinite=False). */
float mmc_clip_grad_norm(mmc_tensor *const *params, int n, float max_norm);

/* Parameter groups, as torch's [{"params": decay}, {"params": no_decay, "weight_decay": 0}]:
 * no_decay[i] != 0 turns weight decay off for parameter i (indices as in the params array
 * given at creation; NULL turns it back on everywhere). Every other option is shared. */
void mmc_optim_set_decay_mask(mmc_optim *opt, const uint8_t *no_decay);
/* The same, from a registry's no_decay flags (biases and norm weights), matched by tensor:
 * a parameter that P does not hold keeps its weight decay. */
struct mmc_params;
void mmc_optim_no_decay_from_params(mmc_optim *opt, const struct mmc_params *P);
/* For checkpoints and tools: how many parameters, parameter i, and the update rule's name
 * ("sgd", "adam" or "adamw"); number of state slots per parameter (0, 1 or 2) and their
 * torch names (slot 0 "momentum_buffer" or "exp_avg", slot 1 "exp_avg_sq"). */
int mmc_optim_count(const mmc_optim *opt);
mmc_tensor *mmc_optim_param(const mmc_optim *opt, int i);
const char *mmc_optim_kind(const mmc_optim *opt);
int mmc_optim_slots(const mmc_optim *opt);
const char *mmc_optim_slot_name(const mmc_optim *opt, int slot);

/* ---- schedules and run folders (src/optim/schedule.c, src/io/run.c) ---- */

/* Learning-rate schedules, the closed forms of torch.optim.lr_scheduler (torch updates
 * recursively; the two agree to rounding). `step` counts optimizer steps already taken:
 * the lr of update k (0-based) is mmc_schedule_lr(s, k), torch's get_last_lr() after k
 * calls of scheduler.step().
 *   constant  base_lr
 *   step      base_lr * gamma^floor(t / step_size)                          (StepLR)
 *   cosine    min_lr + (base_lr - min_lr) * (1 + cos(pi t / total_steps)) / 2
 *             (CosineAnnealingLR with T_max = total_steps, eta_min = min_lr; as in torch it
 *             climbs back up after total_steps, so size total_steps to the run)
 * warmup_steps W > 0 puts a linear warmup in front, torch's SequentialLR([LinearLR(
 * start_factor = f, total_iters = W), schedule], milestones = [W]): for step < W the lr is
 * base_lr * (f + (1 - f) * step / W); after it the schedule runs with t = step - W. Without
 * warmup t = step. The lr is computed in double and rounded once to float. */
enum { MMC_SCHED_CONSTANT = 0, MMC_SCHED_STEP = 1, MMC_SCHED_COSINE = 2 };
typedef struct mmc_schedule {
    int kind;                  /* MMC_SCHED_* */
    float base_lr;
    int64_t step_size;         /* step: > 0 */
    float gamma;               /* step: the factor every step_size steps */
    int64_t total_steps;       /* cosine: T_max > 0, counted after the warmup */
    float min_lr;              /* cosine: eta_min */
    int64_t warmup_steps;      /* 0: none */
    float warmup_start_factor; /* f in [0, 1] */
} mmc_schedule;
mmc_schedule mmc_schedule_constant(float lr);
mmc_schedule mmc_schedule_step(float lr, int64_t step_size, float gamma);
mmc_schedule mmc_schedule_cosine(float lr, int64_t total_steps, float min_lr);
/* MMC_OK, or MMC_ERR_USAGE naming the bad field (negative lr, step_size 0, ...). */
int mmc_schedule_check(const mmc_schedule *s, mmc_error *err);
/* The lr for the update after `step` steps (step < 0 counts as 0). */
float mmc_schedule_lr(const mmc_schedule *s, int64_t step);

/* Run folders (DESIGN.md §4): DIR/config.json, model.safetensors (every tensor of an
 * mmc_params), optimizer.safetensors (state.<param name>.exp_avg / .exp_avg_sq /
 * .momentum_buffer, with each parameter's step count and the optimizer kind in the
 * metadata), trainer.json (below) and metrics.jsonl.
 *
 * mmc_run_save stages every file next to its final name (NAME.next, itself written to a
 * temporary name, fsynced and renamed), and only when all are staged renames them into
 * place, trainer.json last, then fsyncs the folder and metrics.jsonl. A save that fails
 * leaves the previous checkpoint as it was. The model and optimizer files carry the
 * step in their metadata; a load refuses files from different steps (a save cut off
 * between two renames) rather than mixing them. */
#define MMC_RUN_MAX_STEP 1000000000000LL /* 1e12: steps, epochs and positions above are refused */
typedef struct mmc_trainer_state {
    int64_t step;          /* optimizer steps taken */
    int64_t epoch;         /* epochs completed */
    int64_t batch;         /* batches consumed in the current epoch (the data position) */
    int64_t schedule_step; /* the argument of the next mmc_schedule_lr */
    mmc_rng rng;           /* dropout, augmentation; saved as decimal strings (JSON numbers
                              are exact only to 2^53) */
    double best_metric;    /* NAN when there is none yet (saved as null) */
    char best_metric_name[64];
} mmc_trainer_state;
/* step 0, epoch 0, rng seeded with (seed, 0), no best metric. */
mmc_trainer_state mmc_trainer_state_init(uint64_t seed);

/* Saves a checkpoint into dir (created if missing, one level). opt may be NULL (no
 * optimizer file is written then); config_json: a JSON object written as config.json, or
 * NULL to leave config.json as it is. Optimizer state is named after each parameter's
 * tensor name (mmc_params sets it). */
int mmc_run_save(const char *dir, const struct mmc_params *P, mmc_optim *opt, const mmc_trainer_state *ts,
                 const char *config_json, mmc_error *err);
/* Loads a checkpoint into existing objects built as the saved ones were (same names and
 * shapes; opt of the same kind, over the same parameters; NULL skips the optimizer file).
 * Everything is validated before anything is written: on any problem (missing file,
 * wrong type, a step beyond MMC_RUN_MAX_STEP, an rng increment that is even, a tensor of
 * the wrong shape) P, opt and ts are untouched and the error is MMC_ERR_INPUT naming the
 * file. */
int mmc_run_load(const char *dir, struct mmc_params *P, mmc_optim *opt, mmc_trainer_state *ts, mmc_error *err);
/* Parts, for tools: trainer.json alone; config.json as text (*json from mmc_malloc, the
 * caller frees it with mmc_free). Same validation and errors as mmc_run_load. */
int mmc_run_read_trainer(const char *dir, mmc_trainer_state *ts, mmc_error *err);
int mmc_run_read_config(const char *dir, char **json, mmc_error *err);
/* Appends one JSON object (re-printed on one line) to dir/metrics.jsonl; the next
 * mmc_run_save fsyncs the file. MMC_ERR_USAGE when the text is not a JSON object. */
int mmc_run_log_metrics(const char *dir, const char *json_object, mmc_error *err);

/* ----------------------------------------------------------------- safetensors */

/* A loaded safetensors file (read fully into memory, validated). Tensors of dtype F32,
 * F16, BF16 are exposed as f32 on request; I64/I32 as integers. */
typedef struct mmc_st_entry {
    char *name;
    char dtype[8];       /* "F32", "F16", "BF16", "I64", "I32", ... */
    int ndim;
    int64_t shape[8];
    uint64_t begin, end; /* byte offsets into the data section */
} mmc_st_entry;

typedef struct mmc_safetensors {
    char *path;
    uint8_t *bytes;      /* whole file */
    size_t size;
    const uint8_t *data; /* start of the data section */
    size_t data_size;
    mmc_st_entry *entries;
    int count;
    char *metadata_json; /* the "__metadata__" object as JSON text, or NULL */
} mmc_safetensors;

int mmc_safetensors_open(mmc_safetensors *st, const char *path, mmc_error *err);
int mmc_safetensors_parse(mmc_safetensors *st, const char *name, const uint8_t *bytes,
                          size_t size, mmc_error *err); /* from memory; copies bytes */
void mmc_safetensors_close(mmc_safetensors *st);
const mmc_st_entry *mmc_safetensors_find(const mmc_safetensors *st, const char *name);
/* Copies tensor `name` into a new persistent f32 tensor (converting F16/BF16/F64/ints). */
mmc_tensor *mmc_safetensors_get(const mmc_safetensors *st, const char *name, mmc_error *err);
/* Reads an integer tensor (I64/I32/I8/U8...) into a new malloc'd int64 array. */
int64_t *mmc_safetensors_get_i64(const mmc_safetensors *st, const char *name,
                                 int64_t *count, mmc_error *err);
/* Writes tensors (F32) atomically: temp file, fsync, rename. names[i] for tensors[i];
 * metadata_json: NULL or a JSON object of string values. */
int mmc_safetensors_write(const char *path, mmc_tensor *const *tensors,
                          const char *const *names, int n, const char *metadata_json,
                          mmc_error *err);

/* ------------------------------------------------------------------- images */
/* src/data/image.c: decode (PNG, JPEG, PPM/PGM), resize, crop, normalise, augment. */

/* An 8-bit image: h rows top to bottom, w pixels each, c interleaved channels (HWC).
 * Decoders give c = 3 (RGB) or 1 (gray); mmc_image_alloc also takes 4 for callers' RGBA
 * buffers, and resize/crop/flip work on any c. data holds w*h*c bytes from mmc_malloc. */
typedef struct mmc_image {
    int w, h, c;
    uint8_t *data;
} mmc_image;

/* Decoders refuse images with more than this many pixels (w*h), judged from the header
 * before any pixel memory is allocated. Default 178956970, Pillow's MAX_IMAGE_PIXELS.
 * Process-wide; n <= 0 restores the default. */
#define MMC_IMAGE_DEFAULT_MAX_PIXELS 178956970LL
void mmc_image_set_max_pixels(int64_t n);
int64_t mmc_image_max_pixels(void);

/* Decoding. The format is found from the magic bytes, never the file name: PNG (libpng;
 * 1–16 bit gray, gray+alpha, RGB, RGBA, palette, tRNS, interlaced), JPEG (libjpeg-turbo;
 * baseline, progressive, gray, CMYK/YCCK) and PPM/PGM (P2, P3, P5, P6; maxval 1..65535).
 * The pixels are what Pillow's Image.open(f).convert("RGB") gives (channels = 3) or
 * .convert("L") (channels = 1), so models see what they saw in Python:
 *   - alpha and tRNS are dropped, not composited;
 *   - 16-bit RGB(A)/gray+alpha PNG keep the high byte; 16-bit gray PNG and PGM with
 *     maxval > 255 become Pillow's mode "I", whose conversion clips at 255 (not scales);
 *   - PPM/PGM samples are scaled round(v / maxval * 255), half to even;
 *   - 4-channel JPEGs are taken as Adobe-inverted CMYK (Pillow assumes so for all of them),
 *     R = (255-K) - (C*(255-K))/255 rounded;
 *   - gray from colour is L = (19595 R + 38470 G + 7471 B + 32768) >> 16;
 *   - gAMA/iCCP and EXIF orientation are not applied (Image.open does not either);
 *   - JPEG uses libjpeg's defaults (ISLOW DCT, fancy upsampling), as Pillow does.
 * Truncated or corrupt data, zero or oversized dimensions and unknown formats are
 * MMC_ERR_INPUT with a message naming the file; nothing is printed. name is used in
 * messages only. */
int mmc_image_load(mmc_image *img, const char *path, int channels, mmc_error *err);
int mmc_image_decode(mmc_image *img, const uint8_t *bytes, size_t n, const char *name,
                     int channels, mmc_error *err);
/* "png", "jpeg", "ppm" or NULL, from the first bytes. */
const char *mmc_image_format(const uint8_t *bytes, size_t n);

/* A new image (contents uninitialised); MMC_ERR_USAGE for bad sizes, RUNTIME on OOM. */
int mmc_image_alloc(mmc_image *img, int w, int h, int c, mmc_error *err);
void mmc_image_free(mmc_image *img); /* frees data, zeroes the struct; NULL is fine */
int mmc_image_copy(mmc_image *dst, const mmc_image *src, mmc_error *err);

/* Resampling filters, numbered as PIL's Image.Resampling (so a preprocessor_config.json
 * "resample" value can be passed straight through). */
enum {
    MMC_RESAMPLE_NEAREST = 0,
    MMC_RESAMPLE_LANCZOS = 1,
    MMC_RESAMPLE_BILINEAR = 2,
    MMC_RESAMPLE_BICUBIC = 3,
    MMC_RESAMPLE_BOX = 4,
    MMC_RESAMPLE_HAMMING = 5,
};
/* Whose arithmetic to reproduce. Hugging Face has two image-processor families that
 * differ in the last bit: the "slow" ones run Pillow, the "fast" ones (the default from
 * transformers 5) run torchvision on uint8 tensors. */
enum {
    MMC_IMAGE_PIL = 0,         /* Pillow Image.resize; HF slow processors' center_crop */
    MMC_IMAGE_TORCHVISION = 1, /* torchvision resize(antialias=True) / center_crop on uint8 */
};
/* dst = src resized to w x h exactly as Pillow's Image.resize(size, filter) for 8-bit
 * images: separable convolution (horizontal pass, then vertical), the filter support
 * widened by the downscale factor (antialiasing), bicubic a = -0.5, fixed-point weights
 * and uint8 rounding/clipping after each pass. dst must not alias src. */
int mmc_image_resize(const mmc_image *src, mmc_image *dst, int w, int h, int filter,
                     mmc_error *err);
/* The same with a flavour. MMC_IMAGE_TORCHVISION: the same filters and supports but int16
 * weights at a per-axis precision (bilinear and bicubic only); it differs from Pillow by 1
 * in well under 1% of values. */
int mmc_image_resize_ex(const mmc_image *src, mmc_image *dst, int w, int h, int filter,
                        int flavour, mmc_error *err);
/* dst = the w x h window of src at (x, y); parts outside src are zero (black). */
int mmc_image_crop(const mmc_image *src, mmc_image *dst, int x, int y, int w, int h,
                   mmc_error *err);
/* Hugging Face's (slow) center_crop: top = (H - h) // 2, left = (W - w) // 2 (floor), and
 * a smaller image is zero-padded with ceil((h - H) / 2) rows above (likewise columns). */
int mmc_image_center_crop(const mmc_image *src, mmc_image *dst, int w, int h, mmc_error *err);
/* With a flavour. MMC_IMAGE_TORCHVISION: top = round((H - h) / 2) half to even, and a
 * smaller image gets (h - H) // 2 rows of zeros above. */
int mmc_image_center_crop_ex(const mmc_image *src, mmc_image *dst, int w, int h, int flavour,
                             mmc_error *err);
/* Output size of HF's "shortest_edge" resize: the short side becomes `size`, the long
 * side int(size * long / short). */
void mmc_image_shortest_edge_size(int w, int h, int size, int *out_w, int *out_h);
/* out (c, h, w) floats: (v * rescale - mean[k]) / std[k] per channel k, computed as HF's
 * slow image processors do (rescale in double, rounded to f32, then f32 normalisation).
 * mean/std NULL: no normalisation. MMC_IMAGE_TORCHVISION: as the fast processors do,
 * (v - mean * (1/rescale)) / (std * (1/rescale)) in f32 (when normalising). */
void mmc_image_to_chw(const mmc_image *img, float *out, double rescale, const float *mean,
                      const float *std);
void mmc_image_to_chw_ex(const mmc_image *img, float *out, double rescale, const float *mean,
                         const float *std, int flavour);

/* The Hugging Face image-processor recipe, parameter by parameter (the fields of a
 * preprocessor_config.json). CLIP: shortest edge -> bicubic -> centre crop. Chinese-CLIP:
 * straight to (size, size), no crop. flavour picks HF's fast (torchvision, transformers
 * >= 5's default) or slow (Pillow) arithmetic; the constructors below choose the fast one. */
typedef struct mmc_image_preprocess {
    int flavour;             /* MMC_IMAGE_TORCHVISION or MMC_IMAGE_PIL */
    int do_resize;
    int shortest_edge;       /* > 0: resize the short side to this (size.shortest_edge) */
    int resize_w, resize_h;  /* used when shortest_edge == 0 (size.width/height) */
    int resample;            /* MMC_RESAMPLE_* */
    int do_center_crop;
    int crop_w, crop_h;
    int do_rescale;
    double rescale_factor;   /* 1/255 */
    int do_normalize;
    float mean[3], std[3];
} mmc_image_preprocess;
/* The defaults of openai/clip-vit-*: shortest edge `size`, bicubic, crop `crop`, CLIP
 * mean/std, torchvision flavour. */
mmc_image_preprocess mmc_image_preprocess_clip(int size, int crop);
/* The defaults of OFA-Sys/chinese-clip-*: (size, size) bicubic, no crop, CLIP mean/std,
 * torchvision flavour. */
mmc_image_preprocess mmc_image_preprocess_chinese_clip(int size);
/* Runs the recipe on an RGB image; *out is a new persistent (3, H, W) tensor. */
int mmc_image_preprocess_run(const mmc_image_preprocess *p, const mmc_image *img,
                             mmc_tensor **out, mmc_error *err);

/* Augmentations (training). Each draws from rng only, so a seed fixes the result. */
/* torchvision's RandomResizedCrop: a window with area fraction in [scale_lo, scale_hi]
 * and aspect ratio (w/h) log-uniform in [ratio_lo, ratio_hi] (10 tries, then the
 * centre crop fallback), resized to out_w x out_h with `filter`. */
int mmc_image_random_resized_crop(const mmc_image *src, mmc_image *dst, int out_w, int out_h,
                                  float scale_lo, float scale_hi, float ratio_lo,
                                  float ratio_hi, int filter, mmc_rng *rng, mmc_error *err);
void mmc_image_hflip(mmc_image *img);                               /* in place */
/* Flips with probability p; returns 1 if it flipped. */
int mmc_image_random_hflip(mmc_image *img, float p, mmc_rng *rng);
/* torchvision's ColorJitter (brightness, contrast, saturation; 0 disables one): each
 * factor uniform in [max(0, 1 - x), 1 + x], applied in a random order, with Pillow's
 * ImageEnhance blends. In place; saturation needs RGB. */
void mmc_image_color_jitter(mmc_image *img, float brightness, float contrast, float saturation,
                            mmc_rng *rng);

/* (declarations for images go above this line) */

/* --------------------------------------------------------------------- text */
/* src/core/utf8.c, src/data/unicode.c, src/data/tokenizer_*.c: UTF-8 validation and tokenizers. */

/* UTF-8. Text is untrusted: every entry point validates first and reports the byte
 * offset of the first bad byte (overlong forms, surrogates, code points past U+10FFFF,
 * stray continuation bytes, truncated sequences). mmc never replaces or drops bad bytes
 * silently: tokenizers return MMC_ERR_INPUT instead. */

/* MMC_OK if s[0..n) is well-formed UTF-8, else MMC_ERR_INPUT with *bad_offset set (may be
 * NULL) to the offset of the first byte of the first ill-formed sequence. */
int mmc_utf8_validate(const char *s, size_t n, size_t *bad_offset);
/* Decodes s[0..n) into code points. out must hold n entries (a byte is at least one code
 * point's worth). Returns the count, or -1 with *bad_offset set on ill-formed input. */
int64_t mmc_utf8_decode(const char *s, size_t n, uint32_t *out, size_t *bad_offset);
/* Writes cp as UTF-8 into buf (4 bytes room); returns 1..4, or 0 for a surrogate or a
 * value past U+10FFFF. */
int mmc_utf8_encode(uint32_t cp, char *buf);

/* Character classes from the Unicode Character Database (tables generated from Python's
 * unicodedata by tools/gen_unicode_tables.py; version in mmc_unicode_version()). They
 * cover the whole code space, not only the scripts we test. */
const char *mmc_unicode_version(void);
int mmc_unicode_is_letter(uint32_t cp);      /* general category L* */
int mmc_unicode_is_number(uint32_t cp);      /* N* */
int mmc_unicode_is_mark(uint32_t cp);        /* M* (Mn, Mc, Me) */
int mmc_unicode_is_space(uint32_t cp);       /* the White_Space property (regex \s) */
/* BERT's BasicTokenizer definitions: whitespace is space, \t, \n, \r or Zs; control is
 * any C* category (Cc, Cf, Co, Cn) except \t \n \r; punctuation is ASCII 33-47, 58-64,
 * 91-96, 123-126 or any P* category; CJK is BERT's list of CJK ideograph blocks (URO,
 * Ext A-E, compatibility ideographs and their supplement). */
int mmc_unicode_is_bert_whitespace(uint32_t cp);
int mmc_unicode_is_bert_control(uint32_t cp);
int mmc_unicode_is_bert_punct(uint32_t cp);
int mmc_unicode_is_cjk(uint32_t cp);

/* Code-point string transforms. Each returns a new mmc_malloc'd array (free with
 * mmc_free) and its length in *out_n, or NULL on out of memory.
 *   lower: Unicode lowercase as Python's str.lower() for single characters, including
 *     U+0130 -> "i" U+0307; not done: the context rule for final sigma (Σ always -> σ).
 *   nfd / nfc: canonical decomposition / composition (Hangul included), full UCD tables.
 *   strip_accents: NFD, then drop every mark (M*), as the tokenizers crate's BertNormalizer
 *     does (Python's BasicTokenizer drops only Mn; the two differ only on Mc/Me marks). */
uint32_t *mmc_unicode_lower(const uint32_t *cps, size_t n, size_t *out_n);
uint32_t *mmc_unicode_nfd(const uint32_t *cps, size_t n, size_t *out_n);
uint32_t *mmc_unicode_nfc(const uint32_t *cps, size_t n, size_t *out_n);
uint32_t *mmc_unicode_strip_accents(const uint32_t *cps, size_t n, size_t *out_n);

/* Tokenizers. One type, four kinds:
 *   WORD       built from training texts: lowercase, split on whitespace and punctuation
 *              (each punctuation character is a token); specials <pad>=0 <unk>=1
 *              <start>=2 <end>=3; decode joins tokens with spaces.
 *   CHAR       for Chinese: one token per CJK ideograph, per digit and per punctuation
 *              or symbol character; each run of other letters (Latin, Greek, ...) is one
 *              lowercased word; same specials; decode joins with no space except between
 *              two word/number tokens (so "红色的 car" -> "红色的car", "red car" stays).
 *   CLIP_BPE   CLIP's byte-level BPE as transformers 5 (tokenizers backend) runs it:
 *              NFC, whitespace runs -> " ", lowercase, the CLIP split regex, bytes ->
 *              unicode, BPE with "</w>", <|startoftext|> ... <|endoftext|>.
 *   WORDPIECE  BERT: clean text (drop NUL, U+FFFD, controls; whitespace -> " "), space
 *              around CJK ideographs, optional lowercase + accent strip, split on
 *              whitespace and punctuation, greedy longest-match WordPiece with "##",
 *              words over 100 characters -> [UNK]; [CLS] ... [SEP].
 * Special-token strings in the text (e.g. "<|endoftext|>", "[SEP]") are matched before
 * normalisation and map to their ids, as transformers does for added tokens (BPE and
 * WordPiece only). Truncation to max_len keeps the end token ([SEP], <|endoftext|>,
 * <end>) last. Every loader reports bad files as MMC_ERR_INPUT naming the file (and the
 * line for text files); text that is not valid UTF-8 is MMC_ERR_INPUT with its offset. */
typedef struct mmc_tokenizer mmc_tokenizer;

typedef enum mmc_tokenizer_kind {
    MMC_TOK_WORD = 1,
    MMC_TOK_CHAR = 2,
    MMC_TOK_CLIP_BPE = 3,
    MMC_TOK_WORDPIECE = 4,
} mmc_tokenizer_kind;

/* CLIP BPE from vocab.json + merges.txt ("#version" header line optional). */
mmc_tokenizer *mmc_tokenizer_load_clip(const char *vocab_json, const char *merges_txt,
                                       mmc_error *err);
/* CLIP BPE from a tokenizer.json whose model is BPE (merges as "a b" or ["a", "b"]). */
mmc_tokenizer *mmc_tokenizer_load_clip_json(const char *tokenizer_json, mmc_error *err);
/* A Hugging Face model folder: tokenizer.json if present, else vocab.json + merges.txt
 * (CLIP), or vocab.txt (+ tokenizer_config.json) for BERT folders. */
mmc_tokenizer *mmc_tokenizer_load_dir(const char *dir, mmc_error *err);

/* WordPiece options; mmc_wordpiece_defaults() gives BERT's: lowercase on, strip accents
 * following lowercase (-1), CJK splitting on, 100 chars per word. */
typedef struct mmc_wordpiece_opts {
    int do_lower_case;          /* 1/0 */
    int strip_accents;          /* 1, 0, or -1: same as do_lower_case */
    int tokenize_chinese_chars; /* 1/0 */
    int max_chars_per_word;     /* longer words become [UNK] */
} mmc_wordpiece_opts;
mmc_wordpiece_opts mmc_wordpiece_defaults(void);
/* Reads do_lower_case, strip_accents (null -> -1) and tokenize_chinese_chars from a
 * tokenizer_config.json into *o (keys absent keep their value; wrong types are errors). */
int mmc_wordpiece_read_config(const char *tokenizer_config_json, mmc_wordpiece_opts *o,
                              mmc_error *err);
/* vocab.txt: one token per line, id = line number - 1; needs [UNK], [CLS], [SEP]
 * ([PAD] and [MASK] optional). opts NULL = defaults. */
mmc_tokenizer *mmc_tokenizer_load_wordpiece(const char *vocab_txt,
                                            const mmc_wordpiece_opts *opts, mmc_error *err);

/* Builds a WORD or CHAR vocabulary from n training texts: the 4 specials, then every
 * token seen at least min_count times, most frequent first (ties: byte order).
 * max_vocab > 0 caps the size (specials included). */
mmc_tokenizer *mmc_tokenizer_build_word(const char *const *texts, int n, int min_count,
                                        int max_vocab, mmc_error *err);
mmc_tokenizer *mmc_tokenizer_build_char(const char *const *texts, int n, int min_count,
                                        int max_vocab, mmc_error *err);
/* WORD/CHAR vocabularies as JSON: {"kind": "word"|"char", "tokens": [...]} (the token at
 * index i has id i). to_json returns an mmc_malloc'd string (for a run's config.json). */
char *mmc_tokenizer_to_json(const mmc_tokenizer *t, mmc_error *err);
mmc_tokenizer *mmc_tokenizer_from_json(const char *json, size_t len, const char *name,
                                       mmc_error *err);
int mmc_tokenizer_save(const mmc_tokenizer *t, const char *path, mmc_error *err);
mmc_tokenizer *mmc_tokenizer_load(const char *path, mmc_error *err); /* what save wrote */

void mmc_tokenizer_free(mmc_tokenizer *t);

/* Encodes len bytes of text (len may be (size_t)-1 for a NUL-terminated string). With
 * add_special the start/end (or [CLS]/[SEP]) tokens frame the ids. max_len > 0 truncates
 * to that many ids in all, the end token kept last; 0 = no limit. *ids is mmc_malloc'd
 * (free with mmc_free), *n its length. */
int mmc_tokenizer_encode(const mmc_tokenizer *t, const char *text, size_t len,
                         int add_special, int max_len, int32_t **ids, int *n, mmc_error *err);
/* Encodes n texts (NUL-terminated) into ids[n * max_len] and mask[n * max_len] (caller's
 * arrays; mask may be NULL): specials added, truncated to max_len, then padded with the
 * pad id (mask 1 for real tokens, 0 for padding), as transformers' padding="max_length". */
int mmc_tokenizer_encode_batch(const mmc_tokenizer *t, const char *const *texts, int n,
                               int max_len, int32_t *ids, int32_t *mask, mmc_error *err);
/* Text for ids, mmc_malloc'd. skip_special drops pad/start/end/cls/sep/mask tokens.
 * CLIP: byte-level decode ("</w>" -> space; bytes that do not form UTF-8 -> U+FFFD);
 * WordPiece: words joined by spaces, "##" pieces glued on. Ids out of range are
 * MMC_ERR_INPUT. */
char *mmc_tokenizer_decode(const mmc_tokenizer *t, const int32_t *ids, int n,
                           int skip_special, mmc_error *err);

mmc_tokenizer_kind mmc_tokenizer_kind_of(const mmc_tokenizer *t);
int mmc_tokenizer_vocab_size(const mmc_tokenizer *t);
const char *mmc_tokenizer_token(const mmc_tokenizer *t, int id); /* NULL if out of range */
int mmc_tokenizer_token_id(const mmc_tokenizer *t, const char *token); /* -1 if absent */
/* Special ids, -1 where the kind has none. CLIP: start = <|startoftext|>, end = pad = unk =
 * <|endoftext|>. WordPiece: start = cls = [CLS], end = sep = [SEP]. */
typedef struct mmc_tokenizer_specials {
    int pad, unk, start, end, cls, sep, mask;
} mmc_tokenizer_specials;
mmc_tokenizer_specials mmc_tokenizer_special_ids(const mmc_tokenizer *t);

/* (declarations for text go above this line) */

/* ----------------------------------------------------------------- datasets */
/* src/data/manifest.c, src/data/shapes.c: manifests and the synthetic shapes world. */

/* PNG writing (src/data/png_write.c): 8-bit pixels, row-major, channels 1 (grey), 2 (grey +
 * alpha), 3 (RGB) or 4 (RGBA); fast compression. Written to a temporary name and renamed,
 * so a reader never sees a torn file. Not fsynced: images of a dataset are regenerable,
 * and a dataset's commit point is its manifest (written last, with fsync). */
int mmc_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels,
                  mmc_error *err);

/* Manifests (src/data/manifest.c): a dataset folder holds manifest-SPLIT.jsonl, one JSON
 * object per line (docs/formats.md):
 *   {"id", "image", "captions": [..], "captions_zh": [..],
 *    "qa": [{"question", "answer", "type"}], "label"}
 * id and image are required; image is a path relative to the folder. Unknown fields are
 * ignored. All strings are UTF-8. */
typedef struct mmc_qa {
    char *question;
    char *answer;
    char *type; /* e.g. "colour", "shape", "count", "existence", "spatial"; NULL if absent */
} mmc_qa;

typedef struct mmc_sample {
    char *id;
    char *image;       /* relative to the dataset folder, never absolute, never ".." */
    char **captions;   /* English */
    int n_captions;
    char **captions_zh; /* Chinese */
    int n_captions_zh;
    mmc_qa *qa;
    int n_qa;
    char *label;       /* NULL if absent (a JSON number is kept as its text) */
} mmc_sample;

typedef struct mmc_manifest {
    char *dir;  /* the dataset folder: image paths are relative to it */
    char *path; /* the manifest file, for messages */
    mmc_sample *samples;
    int count;
} mmc_manifest;

#define MMC_MANIFEST_MAX_LINE (1u << 20)     /* bytes per line */
#define MMC_MANIFEST_MAX_SAMPLES 10000000    /* lines per file */
#define MMC_MANIFEST_MAX_BYTES ((size_t)1 << 31)
#define MMC_MANIFEST_MAX_ITEMS 10000         /* captions or qa pairs per sample */

/* Loads DIR/manifest-SPLIT.jsonl (split: [a-z0-9_-]+, e.g. "train"). The file is untrusted:
 * a malformed line fails the whole load with MMC_ERR_INPUT naming the file and line
 * (invalid UTF-8, not an object, missing or non-string id/image, absolute or escaping
 * image path, wrong types, line over MMC_MANIFEST_MAX_LINE, duplicate id, no samples).
 * Blank lines are skipped. Returns NULL with err set on failure. */
mmc_manifest *mmc_manifest_load(const char *dir, const char *split, mmc_error *err);
/* The same from memory; name is used in messages, dir becomes m->dir. */
mmc_manifest *mmc_manifest_parse(const char *name, const char *dir, const char *text,
                                 size_t n, mmc_error *err);
/* Checks that every image exists as a regular file under m->dir (MMC_ERR_INPUT names the
 * first missing one and its line). */
int mmc_manifest_check_images(const mmc_manifest *m, mmc_error *err);
void mmc_manifest_free(mmc_manifest *m);
void mmc_sample_free(mmc_sample *s); /* frees what s holds, not s itself */

/* One sample as a single-line JSON object (no newline); mmc_free it. NULL if the sample is
 * invalid (what the reader would refuse: missing id/image, bad image path, text that is not
 * UTF-8) or on OOM. */
char *mmc_sample_to_json(const mmc_sample *s);
/* Writes samples as JSONL atomically (temp, fsync, rename). MMC_ERR_USAGE for an invalid
 * sample (index named), MMC_ERR_RUNTIME for I/O. */
int mmc_manifest_write(const char *path, const mmc_sample *samples, int n, mmc_error *err);

/* Dataset statistics (src/data/dataset_stats.c). */
/* Fraction of samples whose first caption no other sample has (0 if n == 0; samples
 * without captions count as not unique): the ceiling of text->image retrieval R@1. */
double mmc_captions_unique_rate(const mmc_sample *samples, int n);

/* Answer distribution of one QA type: a blind model that always says `majority` scores
 * majority_count / total; yes/no questions should split about evenly. */
typedef struct mmc_qa_type_stats {
    char type[32];
    int total;           /* questions of this type */
    int yes, no;         /* answers "yes" / "no" */
    int distinct;        /* distinct answers */
    char majority[64];   /* the most frequent answer (ties: the smallest string) */
    int majority_count;
    char open_majority[64]; /* the same over open questions (answers other than yes/no) */
    int open_majority_count;
} mmc_qa_type_stats;
/* Fills out[0..] with one entry per type (in order of first appearance, at most max; a
 * NULL type counts as "") and returns the number of types, or -1 on OOM. */
int mmc_qa_stats(const mmc_sample *samples, int n, mmc_qa_type_stats *out, int max);

/* The shapes world (src/data/shapes*.c): synthetic scenes of 1-4 objects, each a shape in a
 * colour and a size, on a plain dark background, with captions in English and Chinese and
 * balanced QA pairs. Deterministic: scene (seed, split, index) draws from its own rng
 * stream, so scenes can be made in any order or in parallel and come out the same.
 *
 * A scene's objects are sorted left to right; the first caption names every object (size,
 * colour, shape) and how consecutive ones relate (left of / above / below), or for a lone
 * object where it is, so it singles the scene out among ~1000 others. label = the shape
 * of the leftmost object (the first one the caption names): 6 balanced classes.
 * QA types: colour, shape, count, existence, spatial; each has open and yes/no questions
 * (existence: yes/no only), yes/no answers drawn 50/50. */
enum { MMC_SHAPE_CIRCLE, MMC_SHAPE_SQUARE, MMC_SHAPE_TRIANGLE, MMC_SHAPE_DIAMOND,
       MMC_SHAPE_STAR, MMC_SHAPE_CROSS, MMC_SHAPES_N_SHAPES };
#define MMC_SHAPES_N_COLOURS 8
#define MMC_SHAPES_MAX_OBJECTS 4

typedef struct mmc_shape_obj {
    int shape;      /* MMC_SHAPE_* */
    int colour;     /* 0..MMC_SHAPES_N_COLOURS-1 */
    int large;      /* 1 large, 0 small */
    float cx, cy;   /* centre in pixels, y down */
    float r;        /* outer radius in pixels (the object stays inside this circle) */
} mmc_shape_obj;

typedef struct mmc_shapes_scene {
    int size;       /* image side in pixels */
    int n;          /* objects, 1..MMC_SHAPES_MAX_OBJECTS */
    mmc_shape_obj obj[MMC_SHAPES_MAX_OBJECTS]; /* sorted by cx */
} mmc_shapes_scene;

const char *mmc_shapes_shape_name(int shape);    /* "circle", ...; NULL if out of range */
const char *mmc_shapes_colour_name(int colour);  /* "red", ... */
const char *mmc_shapes_shape_name_zh(int shape); /* "圆形", ... */
const char *mmc_shapes_colour_name_zh(int colour);
void mmc_shapes_colour_rgb(int colour, uint8_t rgb[3]);
void mmc_shapes_background_rgb(uint8_t rgb[3]);

/* Makes scene `index` of `split` ("train", "val", "test", ...) at size x size pixels (8 to
 * 1024). Any of scene, rgb (size*size*3 bytes) and sample may be NULL to skip that part.
 * The sample gets id "SPLIT-NNNNNN" and image "images/SPLIT-NNNNNN.png". */
int mmc_shapes_make(uint64_t seed, const char *split, int64_t index, int size,
                    mmc_shapes_scene *scene, uint8_t *rgb, mmc_sample *sample, mmc_error *err);

/* Writes n scenes of split into dir: dir/images/SPLIT-NNNNNN.png and dir/manifest-SPLIT.jsonl (last,
 * atomically). Uses mmc_get_threads() threads. progress (may be NULL) is called from the
 * calling thread after each batch with (done, n). */
typedef void (*mmc_progress_fn)(void *user, int64_t done, int64_t total);
int mmc_shapes_write_split(const char *dir, const char *split, int64_t n, uint64_t seed,
                           int size, mmc_progress_fn progress, void *user, mmc_error *err);

/* -- loader (src/data/loader.c) -- */
/* Batches of (image, caption choice) over a manifest, prepared ahead by worker threads.
 *
 * The stream is global batch g = epoch * batches_per_epoch + b, in order. In training the
 * order within an epoch is a permutation drawn from (seed, epoch); sample at position p of
 * epoch e draws its caption choice and augmentation from its own rng stream (seed, e, p),
 * so batches are bit-identical for any number of workers, and a saved state (epoch, batch)
 * resumes bit-exactly. Eval mode: manifest order, no augmentation, caption 0.
 *
 * Image path: decode (RGB) -> training with random resized crop: the crop is taken from
 * the decoded image (from the S x S base image when cached); otherwise the base image:
 * short side resized to S, centre crop S x S (no resize if already S x S) -> horizontal
 * flip, colour jitter (training) -> (v / 255 - mean) / std into (3, S, S) floats.
 * With `cache`, each sample's S x S base image is kept (uint8) after its first decode, so
 * later epochs skip decoding. Batch buffers are allocated once; with the cache warm and no
 * random resized crop, producing a batch makes no allocation at all (decoding and
 * resizing allocate).
 *
 * A missing or corrupt image is reported by mmc_loader_next as MMC_ERR_INPUT naming the
 * file and the sample, in stream order (the batches before it come out normally); the
 * loader then keeps returning that error until mmc_loader_set_state or mmc_loader_free. */
typedef struct mmc_loader mmc_loader;

typedef struct mmc_loader_opts {
    int batch_size;          /* B >= 1 */
    int image_size;          /* S >= 1: images come out (3, S, S) */
    int train;               /* 1: shuffle, augment, random caption; 0: eval */
    int drop_last;           /* 1: an epoch's final partial batch is skipped */
    int epochs;              /* the stream ends after this many epochs; 0: never ends */
    uint64_t seed;
    int workers;             /* decode threads, 1..64 */
    int prefetch;            /* batch buffers in the ring, >= 2 (batches ready ahead) */
    int cache;               /* keep decoded S x S images in memory (uint8) */
    int resample;            /* MMC_RESAMPLE_* for every resize */
    float mean[3], std[3];   /* normalisation of v / 255 */
    /* augmentation, training only */
    int random_resized_crop; /* 1: torchvision RandomResizedCrop to S x S */
    float scale_lo, scale_hi, ratio_lo, ratio_hi;
    float hflip;             /* flip probability */
    float brightness, contrast, saturation; /* colour jitter amounts; 0 disables */
    /* text */
    int captions_zh;         /* 1: choose among captions_zh instead of captions */
    const mmc_tokenizer *tokenizer; /* non-NULL: batches carry ids/mask (pre-tokenised at
                                       mmc_loader_new; the tokenizer is not kept) */
    int max_len;             /* tokens per caption with a tokenizer (padded, truncated) */
} mmc_loader_opts;

/* Defaults: eval, 2 workers, prefetch 4, no cache, bilinear, CLIP mean/std, no epoch
 * limit; augmentation amounts set (scale 0.08-1, ratio 3/4-4/3, flip 0.5, jitter 0.4)
 * but the crop only applies when random_resized_crop = 1 and all only when train = 1. */
mmc_loader_opts mmc_loader_defaults(int batch_size, int image_size);

/* One batch; valid until the next mmc_loader_next / set_state / free. */
typedef struct mmc_loader_batch {
    int size;               /* samples in it: B, or fewer in an epoch's last batch */
    int64_t epoch;
    int64_t index;          /* batch within the epoch */
    mmc_tensor *images;     /* (size, 3, S, S), owned by the loader (persistent, no grad) */
    const int *samples;     /* [size] indices into manifest->samples */
    const int *captions;    /* [size] chosen caption index, -1 if the sample has none */
    const int32_t *ids;     /* [size * max_len] token ids, NULL without a tokenizer */
    const int32_t *mask;    /* [size * max_len] 1 token, 0 padding (all 0: no caption) */
} mmc_loader_batch;

/* Where the stream stands: the next batch mmc_loader_next returns. */
typedef struct mmc_loader_state {
    int64_t epoch;
    int64_t batch;
} mmc_loader_state;

/* The manifest must outlive the loader. Workers start at once, at (epoch 0, batch 0).
 * MMC_ERR_USAGE for bad options or an epoch with no batch (drop_last, fewer samples than
 * B); MMC_ERR_INPUT if the tokenizer refuses a caption. */
mmc_loader *mmc_loader_new(const mmc_manifest *m, const mmc_loader_opts *o, mmc_error *err);
/* The next batch in stream order (waits for it). *out = NULL with MMC_OK at the end of
 * the stream (opts.epochs). next, get/set_state and free belong to one consumer thread. */
int mmc_loader_next(mmc_loader *l, const mmc_loader_batch **out, mmc_error *err);
mmc_loader_state mmc_loader_get_state(const mmc_loader *l);
/* Drops the batches prepared ahead and continues from s (batch < batches_per_epoch). */
int mmc_loader_set_state(mmc_loader *l, mmc_loader_state s, mmc_error *err);
int64_t mmc_loader_batches_per_epoch(const mmc_loader *l);
/* Stops and joins the workers (also mid-epoch, also after an error); NULL is fine. */
void mmc_loader_free(mmc_loader *l);

/* -- importers (src/data/import_*.c) -- */
/* Turn public datasets into dataset folders (DESIGN.md §4). Everything read from a package,
 * an IDX file or an annotation JSON is untrusted: wrong types, invalid UTF-8, paths that
 * leave their folder, sizes that disagree with the file fail with MMC_ERR_INPUT naming the
 * file. docs/formats.md says what each importer writes. */

/* Progress and report lines for a human (no newline); may be NULL. */
typedef void (*mmc_log_fn)(void *user, const char *line);

typedef struct mmc_import_stats {
    int64_t n[3];        /* samples written to train, val, test */
    int64_t skipped;     /* records left out (the importer's log says why) */
    int64_t no_text;     /* emoji: samples without a CLDR name (captions from short names) */
    int64_t no_zh;       /* emoji: samples without Chinese captions */
} mmc_import_stats;

/* Runs argv[0] (found on PATH) with the argument vector as given: no shell, so nothing in
 * an argument is interpreted. quiet_stdout sends the child's stdout to /dev/null.
 * MMC_ERR_RUNTIME when it cannot start, is killed or exits non-zero (the status named). */
int mmc_import_run(const char *const *argv, int quiet_stdout, mmc_error *err);

/* SHA-512 (FIPS 180-4) and npm's Subresource-Integrity strings ("sha512-" + base64). */
void mmc_sha512(const void *data, size_t n, uint8_t digest[64]);
/* MMC_OK when the file's SHA-512 matches integrity; MMC_ERR_INPUT naming the file and both
 * values otherwise, or when integrity is not a "sha512-..." string. */
int mmc_npm_integrity_check(const char *path, const char *integrity, mmc_error *err);

/* IDX files (LeCun's MNIST format, also Fashion-MNIST): magic 00 00 08 NDIM (unsigned
 * bytes only), NDIM big-endian u32 dims, then the bytes. gzip or plain (zlib reads both).
 * Refused: other magic or type, NDIM 0 or > 4, a zero dim, more than max_bytes of data,
 * fewer or more data bytes than the dims say. Memory grows with what the file holds, not
 * with what its header claims. */
typedef struct mmc_idx {
    int ndim;
    int64_t dims[4];
    int64_t size;  /* product of dims */
    uint8_t *data; /* size bytes, mmc_malloc'd */
} mmc_idx;
int mmc_idx_read(const char *path, int64_t max_bytes, mmc_idx *out, mmc_error *err);
void mmc_idx_free(mmc_idx *x);

/* Fashion-MNIST from src_dir (Debian's dataset-fashion-mnist puts
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz in MMC_FASHION_MNIST_DIR) into out:
 * 28x28 grayscale PNGs images/{train,test}-NNNNNN.png (official index), label = class name,
 * English and Chinese captions. Splits: train = official train minus its last
 * val_count images (val), test = official test. */
#define MMC_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
const char *mmc_fashion_mnist_class(int k);    /* "t-shirt/top", ...; NULL out of range */
const char *mmc_fashion_mnist_class_zh(int k); /* "T恤", ... */
int mmc_import_fashion_mnist(const char *src_dir, const char *out, int val_count, mmc_log_fn log,
                             void *user, mmc_import_stats *st, mmc_error *err);

/* Karpathy's split JSON (dataset_coco.json, dataset_flickr8k.json, dataset_flickr30k.json):
 * {"images": [{"filepath"?, "filename", "split", "sentences": [{"raw"}, ...]}, ...]}.
 * split train and restval -> train, val, test. out/images becomes a symbolic link to
 * images_dir (made absolute), so manifest paths images/FILEPATH/FILENAME resolve inside
 * out. Images missing from images_dir are skipped and counted; if none is found it is an
 * error (the wrong folder). */
int mmc_import_karpathy(const char *annotations, const char *images_dir, const char *out,
                        mmc_log_fn log, void *user, mmc_import_stats *st, mmc_error *err);

/* Emoji from the npm packages emoji-datasource-STYLE (emoji.json + img/STYLE/64/X.png)
 * and emojibase-data (en/data.json, zh/data.json). */
#define MMC_EMOJI_MAX_STYLES 4
enum { MMC_EMOJI_SPLIT_STYLE = 0, MMC_EMOJI_SPLIT_WITHIN = 1 };
typedef struct mmc_emoji_opts {
    const char *out;
    const char *emojibase_dir;                   /* the extracted package/ folder */
    int n_styles;
    const char *styles[MMC_EMOJI_MAX_STYLES];    /* "google", "twitter", ... */
    const char *style_dirs[MMC_EMOJI_MAX_STYLES]; /* extracted package/ of each datasource */
    int split;  /* STYLE: train/val = styles[0] (val = the emoji whose hash is 0 mod 20),
                 * test = the other styles (needs >= 2). WITHIN: each emoji goes to one split
                 * by its hash (80/10/10), in every style. */
    mmc_log_fn log;
    void *user;
} mmc_emoji_opts;
/* Builds the folder from extracted packages (no network): images/STYLE/X.png (the
 * package's PNG, copied after it decodes) and the manifests. */
int mmc_import_emoji_build(const mmc_emoji_opts *o, mmc_import_stats *st, mmc_error *err);
/* Makes sure the pinned tarball of package (e.g. "emoji-datasource-google") is in
 * cache_dir, verified against its pinned sha512 (fetching it with `npm pack` when missing
 * or corrupt), and extracts the members it names into dest (a new folder): dest/package/...
 * MMC_ERR_USAGE for a package with no pin. */
int mmc_emoji_fetch(const char *package, const char *cache_dir, const char *dest, mmc_log_fn log,
                    void *user, mmc_error *err);
/* The pinned "name@version" of a package, or NULL. */
const char *mmc_emoji_pinned(const char *package);
/* All of it: fetches emojibase-data and emoji-datasource-STYLE for each style into
 * cache_dir, extracts them into a temporary folder inside out (removed afterwards) and
 * builds the dataset (o->emojibase_dir and o->style_dirs are filled in). */
int mmc_import_emoji(mmc_emoji_opts *o, const char *cache_dir, mmc_import_stats *st, mmc_error *err);

/* (declarations for datasets go above this line) */

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

/* ----------------------------------------------------------------------- nn */
/* Modules (src/nn). A model's tensors live in one registry, mmc_params, which owns them
 * and names them in PyTorch's dotted convention ("encoder.layer1.0.conv1.weight") so our
 * safetensors checkpoints open in PyTorch and theirs open in mmc. A module is a plain
 * struct of borrowed pointers into the registry:
 *
 *   mmc_params P = {0};
 *   mmc_nn_linear fc;
 *   mmc_nn_linear_init(&fc, &P, "head.fc", 512, 10, 1, &rng, &err);  // registers head.fc.weight/.bias
 *   mmc_tensor *y = mmc_nn_linear_forward(ctx, &fc, x);
 *   ...; mmc_params_free(&P);                                     // frees every tensor
 *
 * Modules whose behaviour differs in training (dropout, batch norm) take `int training`
 * in their forward. Initialisation follows PyTorch's defaults, drawn from the given rng. */

enum { MMC_PARAM = 0, MMC_BUFFER = 1 }; /* buffers (running stats) are saved, not optimised */

typedef struct mmc_params {
    int n, cap;
    mmc_tensor **tensors; /* owned */
    char **names;         /* owned, dotted */
    uint8_t *kind;        /* MMC_PARAM or MMC_BUFFER */
    uint8_t *no_decay;    /* 1 for biases and norm weights (parameter groups) */
} mmc_params;

/* Creates a persistent zero tensor named prefix + "." + name (or name alone when prefix is
 * NULL or ""), registers it, and returns it (requires_grad set for MMC_PARAM). NULL with
 * err on duplicate name, bad shape or OOM. */
mmc_tensor *mmc_params_new(mmc_params *P, const char *prefix, const char *name, int kind, int ndim,
                           const int *shape, mmc_error *err);
void mmc_params_free(mmc_params *P);
mmc_tensor *mmc_params_find(const mmc_params *P, const char *name);
int64_t mmc_params_count(const mmc_params *P, int kind); /* number of scalars of that kind */
/* The trainable tensors (kind MMC_PARAM), in registration order, into out[] (size P->n);
 * returns how many. */
int mmc_params_trainable(const mmc_params *P, mmc_tensor **out);
void mmc_params_zero_grad(mmc_params *P);
/* Checkpoint I/O: every tensor (params and buffers) under its name. Load checks that
 * names and shapes match; strict = 1 also refuses extra or missing names. */
int mmc_params_save(const mmc_params *P, const char *path, const char *metadata_json, mmc_error *err);
int mmc_params_load(mmc_params *P, const char *path, int strict, mmc_error *err);
/* PyTorch's default init helpers (torch.nn.init): uniform(-b, b), normal, constant. */
void mmc_init_uniform(mmc_tensor *t, float bound, mmc_rng *rng);
void mmc_init_normal(mmc_tensor *t, float mean, float std, mmc_rng *rng);
void mmc_init_constant(mmc_tensor *t, float v);

/* -- nn: layers, blocks and encoders (src/nn/layers.c, attention.c, transformer.c, resnet.c, vit.c) -- */

/* Conventions for every module below:
 *   _init(m, P, prefix, <config>, rng, err) registers the module's tensors in P under
 *     prefix + "." + PyTorch's name (a torch state_dict maps 1:1), initialises them as
 *     PyTorch's default reset_parameters does (torchvision's rules for ResNet and ViT),
 *     drawing from rng, and returns MMC_OK or an error code with err filled. rng may be
 *     NULL: random tensors are then left at zero (e.g. when a checkpoint is loaded next);
 *     constant ones (norm scales, running_var) are still set.
 *   _forward(ctx, m, ...) builds the output from the ops, so autograd comes free; NULL with
 *     ctx->err set on failure. `training` selects dropout and batch statistics; dropout
 *     draws from the rng passed in (required only when training with p > 0).
 *   Modules hold borrowed pointers into P; P owns (and mmc_params_free frees) everything. */

/* Activations used by MLPs and transformer blocks. */
enum { MMC_ACT_NONE = 0, MMC_ACT_RELU, MMC_ACT_GELU, MMC_ACT_GELU_TANH, MMC_ACT_QUICK_GELU, MMC_ACT_TANH };
mmc_tensor *mmc_nn_activation(mmc_ctx *ctx, mmc_tensor *x, int act);

/* Linear: weight (out, in) and bias (out) ~ U(±1/sqrt(in)). x (..., in) -> (..., out). */
typedef struct mmc_nn_linear {
    int in, out;
    mmc_tensor *weight, *bias; /* bias NULL when built without */
} mmc_nn_linear;
int mmc_nn_linear_init(mmc_nn_linear *m, mmc_params *P, const char *prefix, int in, int out, int bias,
                       mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_linear_forward(mmc_ctx *ctx, mmc_nn_linear *m, mmc_tensor *x);

/* Conv2d, square kernel, groups 1: weight (out, in, k, k), bias (out), both
 * ~ U(±1/sqrt(in·k·k)). x (B, in, H, W) -> (B, out, OH, OW). */
typedef struct mmc_nn_conv2d {
    int in, out, kernel;
    mmc_conv2d_opts opts;
    mmc_tensor *weight, *bias;
} mmc_nn_conv2d;
int mmc_nn_conv2d_init(mmc_nn_conv2d *m, mmc_params *P, const char *prefix, int in, int out, int kernel,
                       int stride, int padding, int bias, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_conv2d_forward(mmc_ctx *ctx, mmc_nn_conv2d *m, mmc_tensor *x);

/* BatchNorm1d/2d (one module: x (B, C), (B, C, L) or (B, C, H, W), same shape out).
 * weight 1, bias 0, buffers running_mean 0, running_var 1, num_batches_tracked 0 (a 0-dim
 * f32 buffer here, int64 in PyTorch). Training normalises with batch statistics and
 * updates the running ones (momentum 0.1, unbiased variance) and the counter; eval uses
 * the running statistics. eps and momentum may be changed after init. */
typedef struct mmc_nn_batchnorm {
    int channels;
    float eps, momentum;
    mmc_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
} mmc_nn_batchnorm;
int mmc_nn_batchnorm_init(mmc_nn_batchnorm *m, mmc_params *P, const char *prefix, int channels,
                          mmc_error *err);
mmc_tensor *mmc_nn_batchnorm_forward(mmc_ctx *ctx, mmc_nn_batchnorm *m, mmc_tensor *x, int training);
/* The same followed by "+ res" (res like x, or NULL) and ReLU when relu is 1, fused into one
 * op (mmc_batch_norm_act): relu(bn(x) + res) is what a ResNet block ends with. */
mmc_tensor *mmc_nn_batchnorm_act_forward(mmc_ctx *ctx, mmc_nn_batchnorm *m, mmc_tensor *x, int training,
                                         mmc_tensor *res, int relu);

/* LayerNorm over the last axis: weight 1, bias 0. x (..., D) -> (..., D). */
typedef struct mmc_nn_layernorm {
    int dim;
    float eps; /* PyTorch's default 1e-5 */
    mmc_tensor *weight, *bias;
} mmc_nn_layernorm;
int mmc_nn_layernorm_init(mmc_nn_layernorm *m, mmc_params *P, const char *prefix, int dim, float eps,
                          mmc_error *err);
mmc_tensor *mmc_nn_layernorm_forward(mmc_ctx *ctx, mmc_nn_layernorm *m, mmc_tensor *x);

/* Embedding: weight (num, dim) ~ N(0, 1). ids has the shape shape[0..ndim-1] (ndim 1..4);
 * the output is (shape..., dim). An id outside 0..num-1 fails with MMC_ERR_INPUT. */
typedef struct mmc_nn_embedding {
    int num, dim;
    mmc_tensor *weight;
} mmc_nn_embedding;
int mmc_nn_embedding_init(mmc_nn_embedding *m, mmc_params *P, const char *prefix, int num, int dim,
                          mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_embedding_forward(mmc_ctx *ctx, mmc_nn_embedding *m, const int *ids, int ndim,
                                     const int *shape);

/* Dropout: zero with probability p and scale by 1/(1-p) in training; identity in eval. */
typedef struct mmc_nn_dropout {
    float p;
} mmc_nn_dropout;
mmc_tensor *mmc_nn_dropout_forward(mmc_ctx *ctx, mmc_nn_dropout *m, mmc_tensor *x, int training,
                                   mmc_rng *rng);

/* MLP over widths[0] -> widths[1] -> ... -> widths[n-1]: linear, then activation and
 * dropout after every layer but the last. Names follow nn.Sequential(Linear, act, Dropout,
 * Linear, ...): prefix.0, prefix.3, prefix.6, ... x (..., widths[0]) -> (..., widths[n-1]). */
#define MMC_MLP_MAX_LAYERS 8
typedef struct mmc_nn_mlp {
    int n_layers, act;
    float dropout;
    mmc_nn_linear layers[MMC_MLP_MAX_LAYERS];
} mmc_nn_mlp;
int mmc_nn_mlp_init(mmc_nn_mlp *m, mmc_params *P, const char *prefix, int n_widths, const int *widths,
                    int act, float dropout, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_mlp_forward(mmc_ctx *ctx, mmc_nn_mlp *m, mmc_tensor *x, int training, mmc_rng *rng);

/* Multi-head attention (src/nn/mha.c), self or cross, embed dim E, H heads.
 * Layouts: packed (separate = 0), as torch.nn.MultiheadAttention: in_proj_weight (3E, E)
 * xavier-uniform, in_proj_bias (3E) 0, out_proj.weight U(±1/sqrt(E)), out_proj.bias 0;
 * separate (= 1), as Hugging Face CLIP: q_proj, k_proj, v_proj, out_proj, each a Linear
 * with PyTorch's default init.
 * forward: x (B, Tq, E) queries; kv (B, Tk, E) keys/values, or NULL for self-attention.
 * causal: query i sees keys j <= i. key_mask: NULL or (B, Tk) bytes, 1 = attend, 0 = padding
 * (the opposite of PyTorch's key_padding_mask, where True = ignore). dropout applies to the
 * attention probabilities in training. -> (B, Tq, E). */
typedef struct mmc_nn_mha {
    int dim, heads, separate;
    float dropout;
    mmc_tensor *in_proj_weight, *in_proj_bias; /* packed layout */
    mmc_nn_linear q_proj, k_proj, v_proj;      /* separate layout */
    mmc_nn_linear out_proj;
} mmc_nn_mha;
int mmc_nn_mha_init(mmc_nn_mha *m, mmc_params *P, const char *prefix, int dim, int heads, int separate,
                    float dropout, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_mha_forward(mmc_ctx *ctx, mmc_nn_mha *m, mmc_tensor *x, mmc_tensor *kv, int causal,
                               const uint8_t *key_mask, int training, mmc_rng *rng);

/* Transformer blocks (src/nn/transformer.c), as torch.nn.TransformerEncoderLayer /
 * TransformerDecoderLayer with batch_first=True:
 *   post-LN: x = norm1(x + sa(x));  [x = norm2(x + ca(x, mem));]  x = normN(x + ff(x))
 *   pre-LN:  x = x + sa(norm1(x));  [x = x + ca(norm2(x), mem);]  x = x + ff(normN(x))
 * with ff(x) = dropout(linear2(dropout(act(linear1(x))))) and dropout after each attention.
 * Encoder names (cfg.names):
 *   MMC_NAMES_TORCH  self_attn.in_proj_weight, linear1, linear2, norm1, norm2
 *   MMC_NAMES_VIT    torchvision's ViT EncoderBlock: ln_1, self_attention.*, mlp.0, mlp.3,
 *                    ln_2 (and its init: MLP weights xavier-uniform, biases N(0, 1e-6))
 *   MMC_NAMES_CLIP   Hugging Face CLIPEncoderLayer: layer_norm1, self_attn.q_proj/k_proj/
 *                    v_proj/out_proj, mlp.fc1, mlp.fc2, layer_norm2
 * The decoder has torch names only: self_attn, multihead_attn, linear1, linear2, norm1..3. */
enum { MMC_NAMES_TORCH = 0, MMC_NAMES_VIT = 1, MMC_NAMES_CLIP = 2 };
typedef struct mmc_nn_block_cfg {
    int dim, heads, mlp_dim;
    int act;        /* MMC_ACT_* */
    int norm_first; /* 1: pre-LN */
    int names;      /* MMC_NAMES_* */
    float dropout;  /* residual, feed-forward and attention-probability dropout */
    float eps;      /* layer norm */
} mmc_nn_block_cfg;
/* PyTorch's defaults: mlp_dim 2048, relu, post-LN, dropout 0.1, eps 1e-5, torch names. */
mmc_nn_block_cfg mmc_nn_block_defaults(int dim, int heads);

typedef struct mmc_nn_encoder_layer {
    mmc_nn_block_cfg cfg;
    mmc_nn_mha self_attn;
    mmc_nn_linear linear1, linear2;
    mmc_nn_layernorm norm1, norm2;
} mmc_nn_encoder_layer;
int mmc_nn_encoder_layer_init(mmc_nn_encoder_layer *m, mmc_params *P, const char *prefix,
                              const mmc_nn_block_cfg *cfg, mmc_rng *rng, mmc_error *err);
/* x (B, T, E), key_mask NULL or (B, T) -> (B, T, E) */
mmc_tensor *mmc_nn_encoder_layer_forward(mmc_ctx *ctx, mmc_nn_encoder_layer *m, mmc_tensor *x,
                                         int causal, const uint8_t *key_mask, int training,
                                         mmc_rng *rng);

typedef struct mmc_nn_decoder_layer {
    mmc_nn_block_cfg cfg;
    mmc_nn_mha self_attn, cross_attn; /* cross_attn is torch's "multihead_attn" */
    mmc_nn_linear linear1, linear2;
    mmc_nn_layernorm norm1, norm2, norm3;
} mmc_nn_decoder_layer;
int mmc_nn_decoder_layer_init(mmc_nn_decoder_layer *m, mmc_params *P, const char *prefix,
                              const mmc_nn_block_cfg *cfg, mmc_rng *rng, mmc_error *err);
/* x (B, T, E) targets, mem (B, S, E); causal applies to the self-attention; tgt_mask NULL
 * or (B, T), mem_mask NULL or (B, S) (1 = attend) -> (B, T, E) */
mmc_tensor *mmc_nn_decoder_layer_forward(mmc_ctx *ctx, mmc_nn_decoder_layer *m, mmc_tensor *x,
                                         mmc_tensor *mem, int causal, const uint8_t *tgt_mask,
                                         const uint8_t *mem_mask, int training, mmc_rng *rng);

/* ResNet (src/nn/resnet.c), torchvision's layout and names: conv1, bn1, layer1.0.conv1,
 * layer1.0.bn1, ..., layerN.0.downsample.0/1, fc. Basic blocks (two 3×3 convs) or
 * bottlenecks (1×1, 3×3 with the stride, 1×1 to 4× the width). Convs have no bias and are
 * initialised kaiming-normal (fan_out, relu) as torchvision does; BN weight 1, bias 0; fc
 * keeps Linear's default init. Stems: MMC_STEM_IMAGENET = 7×7 stride-2 conv + 3×3 stride-2
 * max pool (torchvision); MMC_STEM_SMALL = 3×3 stride-1 conv, no pool (32–64 px images). */
enum { MMC_STEM_IMAGENET = 0, MMC_STEM_SMALL = 1 };
#define MMC_RESNET_MAX_BLOCKS 64
typedef struct mmc_nn_resnet_cfg {
    int bottleneck;   /* 0: basic blocks, 1: bottlenecks */
    int layers[4];    /* blocks per stage: 2-2-2-2 (18), 3-4-6-3 (34, or 50 with bottlenecks) */
    int widths[4];    /* 64-128-256-512 in torchvision */
    int in_channels;  /* 3 */
    int stem;         /* MMC_STEM_* */
    int num_classes;  /* > 0: a final Linear "fc"; 0: the forward returns pooled features */
} mmc_nn_resnet_cfg;
/* The torchvision layouts (depth 18, 34 or 50) with torchvision's widths, ImageNet stem and
 * 1000 classes; change the fields after. Unknown depth: layers all 0 (init fails). */
mmc_nn_resnet_cfg mmc_nn_resnet_layout(int depth);

typedef struct mmc_nn_resnet_block {
    int stride, bottleneck, has_downsample;
    mmc_nn_conv2d conv1, conv2, conv3; /* conv3/bn3 for bottlenecks only */
    mmc_nn_batchnorm bn1, bn2, bn3;
    mmc_nn_conv2d down_conv;           /* downsample.0 */
    mmc_nn_batchnorm down_bn;          /* downsample.1 */
} mmc_nn_resnet_block;
/* One block: in_ch -> width (basic) or 4·width (bottleneck), stride on the 3×3 conv; the
 * downsample branch exists when the stride or channel count changes.
 * x (B, in_ch, H, W) -> (B, out_ch, H/stride, W/stride). */
int mmc_nn_resnet_block_init(mmc_nn_resnet_block *m, mmc_params *P, const char *prefix, int bottleneck,
                             int in_ch, int width, int stride, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_resnet_block_forward(mmc_ctx *ctx, mmc_nn_resnet_block *m, mmc_tensor *x, int training);

typedef struct mmc_nn_resnet {
    mmc_nn_resnet_cfg cfg;
    int out_dim; /* features after pooling (before fc) */
    mmc_nn_conv2d conv1;
    mmc_nn_batchnorm bn1;
    int n_blocks;
    mmc_nn_resnet_block blocks[MMC_RESNET_MAX_BLOCKS];
    mmc_nn_linear fc;
} mmc_nn_resnet;
int mmc_nn_resnet_init(mmc_nn_resnet *m, mmc_params *P, const char *prefix, const mmc_nn_resnet_cfg *cfg,
                       mmc_rng *rng, mmc_error *err);
/* x (B, in_channels, H, W) -> (B, num_classes), or (B, out_dim) without fc */
mmc_tensor *mmc_nn_resnet_forward(mmc_ctx *ctx, mmc_nn_resnet *m, mmc_tensor *x, int training);

/* Vision transformer (src/nn/vit.c), torchvision's VisionTransformer names and init:
 * conv_proj (patch embedding, trunc-normal std sqrt(1/fan_in), bias 0), class_token
 * (1, 1, D) zeros, encoder.pos_embedding (1, 1 + N, D) ~ N(0, 0.02), encoder.layers.
 * encoder_layer_i.* (pre-LN blocks, MMC_NAMES_VIT), encoder.ln, heads.head (zeros). */
#define MMC_VIT_MAX_DEPTH 48
typedef struct mmc_nn_vit_cfg {
    int image_size, patch_size, in_channels;
    int dim, depth, heads, mlp_dim;
    int act;          /* torchvision: MMC_ACT_GELU */
    int num_classes;  /* > 0: heads.head; 0: the forward returns the class-token features */
    float dropout;    /* after the position embedding, in every block and attention */
    float eps;        /* layer norm; torchvision uses 1e-6 */
} mmc_nn_vit_cfg;
typedef struct mmc_nn_vit {
    mmc_nn_vit_cfg cfg;
    int n_patches; /* (image_size / patch_size)^2 */
    mmc_nn_conv2d conv_proj;
    mmc_tensor *class_token, *pos_embedding;
    mmc_nn_encoder_layer layers[MMC_VIT_MAX_DEPTH];
    mmc_nn_layernorm ln;
    mmc_nn_linear head;
} mmc_nn_vit;
int mmc_nn_vit_init(mmc_nn_vit *m, mmc_params *P, const char *prefix, const mmc_nn_vit_cfg *cfg,
                    mmc_rng *rng, mmc_error *err);
/* x (B, C, S, S) -> every token after the final norm (B, 1 + N, D) */
mmc_tensor *mmc_nn_vit_forward_tokens(mmc_ctx *ctx, mmc_nn_vit *m, mmc_tensor *x, int training,
                                      mmc_rng *rng);
/* x (B, C, S, S) -> (B, num_classes), or the class token's features (B, D) without a head */
mmc_tensor *mmc_nn_vit_forward(mmc_ctx *ctx, mmc_nn_vit *m, mmc_tensor *x, int training, mmc_rng *rng);

/* (declarations for nn layers go above this line) */

/* -- nn: recurrent (src/nn/rnn.c, src/ops/recurrent.c) -- */

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

/* Modules: multi-layer, batch-first nn.GRU / nn.LSTM. Parameters are registered under
 * prefix with PyTorch's names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then
 * the same with _reverse for the backward direction, layer by layer) and initialised as
 * PyTorch does: U(-1/sqrt(H), 1/sqrt(H)) for every tensor, drawn in registration order. */
#define MMC_NN_RNN_MAX_LAYERS 8

typedef struct mmc_nn_rnn_opts {
    int num_layers;    /* 1..MMC_NN_RNN_MAX_LAYERS */
    int bidirectional; /* 0 or 1 */
    int bias;          /* 1: b_ih and b_hh (PyTorch's default) */
    float dropout;     /* on the outputs of every layer but the last, in training; [0, 1) */
} mmc_nn_rnn_opts;
mmc_nn_rnn_opts mmc_nn_rnn_defaults(void); /* 1 layer, one direction, bias, no dropout */

typedef struct mmc_nn_rnn {
    int is_lstm, input_size, hidden_size, num_layers, dirs;
    float dropout;
    mmc_rnn_weights w[MMC_NN_RNN_MAX_LAYERS][2]; /* [layer][direction] (1: reverse) */
} mmc_nn_rnn;
typedef mmc_nn_rnn mmc_nn_gru;
typedef mmc_nn_rnn mmc_nn_lstm;

/* Registers and initialises the parameters; MMC_OK or an error (bad sizes, duplicate names). */
int mmc_nn_gru_init(mmc_nn_gru *m, mmc_params *P, const char *prefix, int input_size,
                    int hidden_size, mmc_nn_rnn_opts o, mmc_rng *rng, mmc_error *err);
int mmc_nn_lstm_init(mmc_nn_lstm *m, mmc_params *P, const char *prefix, int input_size,
                     int hidden_size, mmc_nn_rnn_opts o, mmc_rng *rng, mmc_error *err);

/* x (B, T, IN) -> out (B, T, dirs*H) (forward half first, as PyTorch); h0, c0 and the
 * final states *h_n, *c_n are (layers*dirs, B, H), indexed layer*dirs + direction; h0/c0
 * may be NULL (zeros), h_n/c_n may be NULL (not wanted). lengths as in mmc_gru_layer.
 * rng feeds the dropout between layers (needed only when training with dropout > 0). */
mmc_tensor *mmc_nn_gru_forward(mmc_ctx *ctx, const mmc_nn_gru *m, mmc_tensor *x, mmc_tensor *h0,
                               const int *lengths, int training, mmc_rng *rng, mmc_tensor **h_n);
mmc_tensor *mmc_nn_lstm_forward(mmc_ctx *ctx, const mmc_nn_lstm *m, mmc_tensor *x, mmc_tensor *h0,
                                mmc_tensor *c0, const int *lengths, int training, mmc_rng *rng,
                                mmc_tensor **h_n, mmc_tensor **c_n);

/* Single steps for decoding (greedy, beam search), as nn.GRUCell / nn.LSTMCell with the
 * weights w (e.g. &lstm.w[0][0] of a one-layer module): x (B, IN); h, c (B, H) or NULL for
 * zeros. gru_step returns h' (B, H); lstm_step returns MMC_OK and writes *h_out, *c_out, or
 * an error status (in ctx->err). */
mmc_tensor *mmc_nn_gru_step(mmc_ctx *ctx, const mmc_rnn_weights *w, mmc_tensor *x, mmc_tensor *h);
int mmc_nn_lstm_step(mmc_ctx *ctx, const mmc_rnn_weights *w, mmc_tensor *x, mmc_tensor *h,
                     mmc_tensor *c, mmc_tensor **h_out, mmc_tensor **c_out);

/* (declarations for recurrent nets go above this line) */

/* -- nn: fusion (src/nn/fusion.c, joint.c) -- */
/* Combining modalities (DESIGN.md §1). Early fusion mixes them at the input: text features
 * tiled as extra image channels (mmc_tile_concat), or image patches and words in one token
 * sequence (mmc_nn_modality_concat, mmc_nn_joint). Late fusion combines one feature vector
 * per modality at the end (mmc_nn_fusion: concat, sum, product; bilinear pooling, full or
 * low-rank) or their decisions (mmc_nn_logit_average). Hybrid fusion conditions a CNN on
 * the text at several depths (mmc_nn_film, one per stage) and adds a late concat.
 * Ops first (fused, each with its own backward), then the modules built on them. */

/* Text as image channels: x (B, C, H, W), t (B, D) -> (B, C + D, H, W): channels 0..C-1 are
 * x, channel C + d is t[b, d] at every position. t's gradient is the output gradient of its
 * channel summed over H and W. */
mmc_tensor *mmc_tile_concat(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *t);
/* FiLM: x (B, C, ...) with 2 to 5 dims, gamma (B, C), beta (B, C) or NULL ->
 * out[b, c, ...] = gamma[b, c] * x[b, c, ...] + beta[b, c] (the shape of x). */
mmc_tensor *mmc_film(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta);
/* Full bilinear form, as torch.nn.functional.bilinear: a (B, Da), b (B, Db), w (O, Da, Db),
 * bias (O) or NULL -> y (B, O), y[n, o] = sum_ij a[n, i] w[o, i, j] b[n, j] + bias[o].
 * Three GEMMs in all (one forward, two backward); memory B·O·Da floats. */
mmc_tensor *mmc_bilinear(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, mmc_tensor *w, mmc_tensor *bias);

#define MMC_FUSION_MAX_INPUTS 8 /* modalities in one modality concat / logit average */

/* Late fusion of two feature vectors a (..., Da), b (..., Db) (the leading dims equal).
 * dim > 0: each first goes through its own Linear, proj_a (Da -> dim) and proj_b
 * (Db -> dim), then the activation act; dim = 0: a and b are used as they are (sum and
 * product then need Da == Db). mode:
 *   MMC_FUSE_CONCAT   [a', b']   -> (..., Da' + Db')
 *   MMC_FUSE_SUM      a' + b'    -> (..., dim or Da)
 *   MMC_FUSE_PRODUCT  a' ⊙ b'    -> (..., dim or Da)
 * out_dim is the fused width. */
enum { MMC_FUSE_CONCAT = 0, MMC_FUSE_SUM = 1, MMC_FUSE_PRODUCT = 2 };
typedef struct mmc_nn_fusion {
    int mode, dim_a, dim_b, dim, act, out_dim;
    mmc_nn_linear proj_a, proj_b; /* registered when dim > 0 */
} mmc_nn_fusion;
int mmc_nn_fusion_init(mmc_nn_fusion *m, mmc_params *P, const char *prefix, int mode, int dim_a, int dim_b,
                       int dim, int act, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_fusion_forward(mmc_ctx *ctx, mmc_nn_fusion *m, mmc_tensor *a, mmc_tensor *b);

/* torch.nn.Bilinear: weight (out, in_a, in_b), bias (out), both U(±1/sqrt(in_a)).
 * a (B, in_a), b (B, in_b) -> (B, out). */
typedef struct mmc_nn_bilinear {
    int in_a, in_b, out;
    mmc_tensor *weight, *bias; /* bias NULL when built without */
} mmc_nn_bilinear;
int mmc_nn_bilinear_init(mmc_nn_bilinear *m, mmc_params *P, const char *prefix, int in_a, int in_b, int out,
                         int bias, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_bilinear_forward(mmc_ctx *ctx, mmc_nn_bilinear *m, mmc_tensor *a, mmc_tensor *b);

/* Low-rank (factorised) bilinear pooling, as MLB (Kim et al. 2017): the full bilinear
 * weight W_o = sum_r U_a[r]ᵀ U_b[r] P[o, r] in factored form,
 *   h = act(proj_a(a)) ⊙ act(proj_b(b))   (..., rank),  dropout on h in training,
 *   out = proj_out(h)                      (..., out)
 * with proj_a, proj_b, proj_out Linears (PyTorch's default init). act: MLB uses tanh. */
typedef struct mmc_nn_lowrank_bilinear {
    int in_a, in_b, rank, out, act;
    float dropout;
    mmc_nn_linear proj_a, proj_b, proj_out;
} mmc_nn_lowrank_bilinear;
int mmc_nn_lowrank_bilinear_init(mmc_nn_lowrank_bilinear *m, mmc_params *P, const char *prefix, int in_a,
                                 int in_b, int rank, int out, int act, float dropout, mmc_rng *rng,
                                 mmc_error *err);
mmc_tensor *mmc_nn_lowrank_bilinear_forward(mmc_ctx *ctx, mmc_nn_lowrank_bilinear *m, mmc_tensor *a,
                                            mmc_tensor *b, int training, mmc_rng *rng);

/* Decision-level fusion: n classifiers' logits (each of the same shape, e.g. (B, C)) ->
 * sum_k softmax(weight)_k · logits_k, the same shape. weight (n) is learnable, initialised
 * to 0 (a plain average until training moves it). */
typedef struct mmc_nn_logit_average {
    int n;
    mmc_tensor *weight;
} mmc_nn_logit_average;
int mmc_nn_logit_average_init(mmc_nn_logit_average *m, mmc_params *P, const char *prefix, int n,
                              mmc_error *err);
mmc_tensor *mmc_nn_logit_average_forward(mmc_ctx *ctx, mmc_nn_logit_average *m, mmc_tensor *const *logits,
                                         int n);

/* FiLM layer (Perez et al. 2018): gamma and beta, Linears cond_dim -> channels, turn a
 * conditioning vector (e.g. the question's features) into a per-channel affine map of a
 * CNN feature map. delta_gamma = 1 predicts 1 + gamma (the paper's choice: at init the
 * layer is close to the identity, not close to zero). One module per conditioned stage.
 * x (B, channels, H, W) (any 2..5-dim (B, channels, ...)), cond (B, cond_dim) -> x's shape. */
typedef struct mmc_nn_film {
    int cond_dim, channels, delta_gamma;
    mmc_nn_linear gamma, beta;
} mmc_nn_film;
int mmc_nn_film_init(mmc_nn_film *m, mmc_params *P, const char *prefix, int cond_dim, int channels,
                     int delta_gamma, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_film_forward(mmc_ctx *ctx, mmc_nn_film *m, mmc_tensor *x, mmc_tensor *cond);

/* Several modalities' token sequences in one: seqs[k] (B, T_k, D) -> (B, sum T_k, D) along
 * the token axis, with row k of token_type_embeddings (n, D) (an nn.Embedding, N(0, 1))
 * added to every token of seqs[k] so the encoder can tell the modalities apart. */
typedef struct mmc_nn_modality_concat {
    int n, dim;
    mmc_nn_embedding token_type; /* "token_type_embeddings" */
} mmc_nn_modality_concat;
int mmc_nn_modality_concat_init(mmc_nn_modality_concat *m, mmc_params *P, const char *prefix, int n, int dim,
                                mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_modality_concat_forward(mmc_ctx *ctx, mmc_nn_modality_concat *m, mmc_tensor *const *seqs,
                                           int n);

/* Joint representation, ViLT-style (src/nn/joint.c): one transformer encoder over
 *   [CLS; image patch tokens; text tokens]                       (B, 1 + N + T, D)
 * image: patch embedding (conv, kernel = stride = patch, as the ViT) + position embedding
 *   over [CLS; patches]; text: word + position embeddings; then token type 0 is added to
 *   CLS and the patches, type 1 to the words (mmc_nn_modality_concat); dropout; depth
 *   encoder layers (torch names, pre-LN by default) with the text padding as key padding;
 *   a final LayerNorm. The output is the CLS token (B, D).
 * Names: image_embeddings.cls_token (1, 1, D), image_embeddings.position_embeddings
 * (1, 1 + N, D) (both N(0, 0.02), as ViT), image_embeddings.patch_embed.{weight,bias},
 * text_embeddings.word_embeddings.weight (V, D), text_embeddings.position_embeddings.weight
 * (max_text_len, D) (nn.Embedding, N(0, 1)), token_type_embeddings.weight (2, D),
 * encoder.layers.<i>.* (nn.TransformerEncoderLayer), norm.*. */
#define MMC_JOINT_MAX_DEPTH 24
typedef struct mmc_nn_joint_cfg {
    int image_size, patch_size, in_channels;
    int vocab_size, max_text_len;
    int dim, depth, heads, mlp_dim;
    int act;        /* MMC_ACT_GELU in ViLT */
    int norm_first; /* 1: pre-LN (ViLT) */
    float dropout;  /* embeddings, blocks and attention */
    float eps;      /* layer norm */
} mmc_nn_joint_cfg;
/* A small default: pre-LN, GELU, mlp_dim 4·dim, dropout 0.1, eps 1e-5; the caller sets the
 * sizes. */
mmc_nn_joint_cfg mmc_nn_joint_defaults(int image_size, int patch_size, int vocab_size, int max_text_len,
                                       int dim, int depth, int heads);
typedef struct mmc_nn_joint {
    mmc_nn_joint_cfg cfg;
    int n_patches; /* (image_size / patch_size)^2 */
    mmc_nn_conv2d patch_embed;
    mmc_tensor *cls_token, *image_pos;
    mmc_nn_embedding word_embeddings, text_pos;
    mmc_nn_modality_concat types;
    mmc_nn_encoder_layer layers[MMC_JOINT_MAX_DEPTH];
    mmc_nn_layernorm norm;
} mmc_nn_joint;
int mmc_nn_joint_init(mmc_nn_joint *m, mmc_params *P, const char *prefix, const mmc_nn_joint_cfg *cfg,
                      mmc_rng *rng, mmc_error *err);
/* image (B, C, S, S); ids[B * T] token ids (each in 0..V-1), T in 1..max_text_len;
 * text_mask NULL (no padding) or [B * T] with 1 = token, 0 = padding (padding is never
 * attended to; CLS and the patches always are). Returns every token after the final norm
 * (B, 1 + N + T, D). */
mmc_tensor *mmc_nn_joint_forward_tokens(mmc_ctx *ctx, mmc_nn_joint *m, mmc_tensor *image, const int *ids,
                                        const uint8_t *text_mask, int T, int training, mmc_rng *rng);
/* The same, returning the CLS token (B, D): the joint representation. */
mmc_tensor *mmc_nn_joint_forward(mmc_ctx *ctx, mmc_nn_joint *m, mmc_tensor *image, const int *ids,
                                 const uint8_t *text_mask, int T, int training, mmc_rng *rng);

/* Question-guided attention over the cells of feature maps (late fusion, stacked-attention
 * style): cells (B, L, D) of B images (e.g. a CNN's final map, one row per position, with
 * its coordinates), q (N, Dq) queries, img[N] the image (0..B-1) each query is about.
 * Glimpse k weighs the L cells of the query's image by softmax_l(s[n, k, l]) and reads
 * their weighted sum (D). Scores:
 *   MMC_CELL_ATT_ADDITIVE  s = glimpses(tanh(cells(c_l) + question(q_n)))[k]
 *                          (cells: Linear D -> A, question: Dq -> A, glimpses: A -> K)
 *   MMC_CELL_ATT_DOT       s = <cells(c_l), question(q_n)[k·A .. k·A + A)> / sqrt(A)
 *                          (cells: Linear D -> A, question: Dq -> K·A); with max_score the
 *                          output also gets max_l s[n, k, l] per glimpse: "does any cell
 *                          match" (existence) is then one number, not a property of a
 *                          softmax average.
 * The cell projection runs once per image. -> (N, K·D) glimpses, then (N, K) max scores
 * when max_score: (N, K·D + K). Names: cells.{weight,bias}, question.{weight,bias},
 * glimpses.{weight,bias} (additive only). */
enum { MMC_CELL_ATT_ADDITIVE = 1, MMC_CELL_ATT_DOT = 2 };
typedef struct mmc_nn_cell_attention {
    int mode, cell_dim, query_dim, att_dim, glimpses, max_score;
    mmc_nn_linear cells, question, out;
} mmc_nn_cell_attention;
int mmc_nn_cell_attention_init(mmc_nn_cell_attention *m, mmc_params *P, const char *prefix, int mode,
                               int cell_dim, int query_dim, int att_dim, int glimpses, int max_score,
                               mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_cell_attention_forward(mmc_ctx *ctx, mmc_nn_cell_attention *m, mmc_tensor *cells,
                                          mmc_tensor *q, const int *img);

/* (declarations for fusion go above this line) */

/* ------------------------------------------------------------------- models */
/* src/models: task models built from nn modules. */

/* -- retrieval: the dual encoder (src/models/retrieval*.c) -- */
/* An image encoder and a text encoder trained so that matching pairs land close together
 * (coordinated representation). A trained model lives in a run folder (config.json names
 * the encoders, sizes and tokenizer vocab; model.safetensors holds the weights). */
typedef struct mmc_retrieval mmc_retrieval;
/* Loads a run folder written by `mmc train retrieval`. NULL + err (MMC_ERR_INPUT naming the
 * file) when anything is missing or malformed. */
mmc_retrieval *mmc_retrieval_load(const char *run_dir, mmc_error *err);
void mmc_retrieval_free(mmc_retrieval *m);
int mmc_retrieval_dim(const mmc_retrieval *m);        /* embedding size */
int mmc_retrieval_image_size(const mmc_retrieval *m); /* input side in pixels */

/* The model and training settings: the keys of a run's config.json (and of a --config
 * file; a file may give any subset, the rest keep their defaults). docs/retrieval.md lists
 * every key with its default and why. Strings are stored inline so the struct copies. */
typedef struct mmc_retrieval_config {
    /* image encoder */
    char image_encoder[16];  /* "cnn" (default), "resnet", "vit" */
    int image_size;          /* input side in pixels (64); images are resized to it */
    int cnn_widths[6];       /* cnn: channels per stage, 0-terminated (32-64-128-256) */
    int cnn_depth;           /* cnn: 3×3 convs per stage (the first has stride 2): 1 or 2 */
    int resnet_layers[4], resnet_widths[4]; /* resnet: basic blocks per stage, widths */
    int vit_patch, vit_dim, vit_depth, vit_heads; /* vit */
    char image_pool[8];      /* cnn/resnet: "grid" (flatten a pool_grid² map: keeps where
                                things are) or "avg" (global average: position lost) */
    int pool_grid;           /* side of the grid kept by "grid" pooling (4) */
    char bn_eval[8];         /* cnn: BatchNorm statistics outside training: "batch" (default;
                                those of the images embedded together, up to 128 at a time,
                                as in training) or "running" (the running averages) */
    char cnn_norm[8];        /* cnn: the norm after each conv: "batch" (default: BatchNorm;
                                a run folder without the key is "batch") or "group"
                                (GroupNorm: per image, no batch dependence) */
    int norm_groups;         /* cnn "group": groups per layer (8); a layer of width w uses
                                gcd(w, norm_groups) */
    int bn_recompute;        /* cnn "batch": before each validation (and the final save)
                                the running statistics are recomputed at the current weights
                                from this many training batches (precise BN); 0 = off */
    /* text encoder */
    char text_encoder[16];   /* "gru" (default), "lstm", "bag", "transformer" */
    int word_dim;            /* token embedding size (128) */
    int subword_buckets;     /* > 0: each token's embedding also gets the mean of its
                                character trigrams' embeddings (fastText), hashed into this
                                many rows, so unseen word forms keep a meaning; 0 = off */
    float word_dropout;      /* training: each caption word becomes <unk> with this
                                probability (with subword_buckets its trigrams stay: it
                                learns what an unknown word's trigrams mean); 0 = off */
    int text_hidden;         /* GRU/LSTM hidden size (256); transformer width = word_dim */
    int text_layers;         /* recurrent layers (1-2) or transformer blocks (1-8) */
    int text_heads;          /* transformer heads */
    int max_len;             /* tokens per caption incl. <start>/<end>; 0 = from the data */
    /* joint space and loss */
    int embed_dim;           /* embedding size (256) */
    char loss[24];           /* "infonce" (default), "contrastive", "triplet",
                                "triplet_hardest", "cosine" */
    float margin;            /* contrastive / triplet / cosine margin */
    float temperature;       /* infonce: initial temperature (0.07); logit scale = 1/T */
    int learn_temperature;   /* 1: the logit scale is a parameter (clamped at 100) */
    /* text */
    char lang[4];            /* "en" (captions, word tokenizer) or "zh" (captions_zh, char) */
    int min_count;           /* vocabulary: tokens seen at least this often (1) */
    /* training */
    int batch_size;          /* 128 */
    float lr, weight_decay, min_lr_ratio, grad_clip; /* AdamW; cosine to lr·min_lr_ratio */
    int warmup_steps;        /* linear warm-up */
    int augment_shift;       /* random translation by up to this many pixels (no flips:
                                they would swap left and right) */
    float dropout;           /* transformer / ViT */
    int epochs;              /* when neither --steps nor --minutes is given */
    int train_captions;      /* 0: every caption of a sample (default); k > 0: only its
                                first k (training and validation), e.g. emoji names
                                without their keywords */
} mmc_retrieval_config;

mmc_retrieval_config mmc_retrieval_config_default(void);
/* Applies the keys of a JSON object (text[0..n)) over *c. Unknown keys, wrong types and
 * values out of range are MMC_ERR_INPUT naming `name` and the key; *c is unchanged then. */
int mmc_retrieval_config_parse(mmc_retrieval_config *c, const char *text, size_t n,
                               const char *name, mmc_error *err);
int mmc_retrieval_config_load(mmc_retrieval_config *c, const char *path, mmc_error *err);
/* Every key as a JSON object (mmc_free it); NULL on OOM. */
char *mmc_retrieval_config_to_json(const mmc_retrieval_config *c);
/* Checks ranges and names (MMC_ERR_INPUT naming `name`). */
int mmc_retrieval_config_check(const mmc_retrieval_config *c, const char *name, mmc_error *err);

/* A new model with fresh weights drawn from seed. Takes ownership of tok (a word or char
 * tokenizer, also on failure). cfg->max_len must be > 0 here. */
mmc_retrieval *mmc_retrieval_create(const mmc_retrieval_config *cfg, mmc_tokenizer *tok,
                                    uint64_t seed, mmc_error *err);
/* Loads a run folder with the weights from `weights` (a file name inside it, e.g.
 * "model-best.safetensors"; NULL = model.safetensors). */
mmc_retrieval *mmc_retrieval_load_weights(const char *run_dir, const char *weights,
                                          mmc_error *err);
/* Writes run_dir/config.json (config + tokenizer vocab) and run_dir/`weights` (NULL =
 * model.safetensors), each atomically. */
int mmc_retrieval_save(const mmc_retrieval *m, const char *run_dir, const char *weights,
                       mmc_error *err);
mmc_params *mmc_retrieval_params(mmc_retrieval *m);
const mmc_retrieval_config *mmc_retrieval_get_config(const mmc_retrieval *m);
const mmc_tokenizer *mmc_retrieval_tokenizer(const mmc_retrieval *m);
mmc_rng *mmc_retrieval_dropout_rng(mmc_retrieval *m);

/* Forward passes (training: batch statistics, dropout). Both give L2-normalised rows.
 * images (B, 3, S, S) as mmc_retrieval_image_to_chw makes them -> (B, E)
 * ids, mask (B, T) from mmc_tokenizer_encode_batch with T = max_len -> (B, E) */
mmc_tensor *mmc_retrieval_encode_images(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *images,
                                        int training);
mmc_tensor *mmc_retrieval_encode_texts(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids,
                                       const int32_t *mask, int B, int T, int training);
/* The configured loss over a batch of matching rows img[i] <-> txt[i] (B, E) -> (1). */
mmc_tensor *mmc_retrieval_loss(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *img, mmc_tensor *txt);
/* The model's preprocessing: an RGB image (resized bilinearly to image_size if it is
 * another size) into out (3, S, S): (v/255 - 0.5) / 0.5. */
int mmc_retrieval_image_to_chw(const mmc_retrieval *m, const mmc_image *img, float *out,
                               mmc_error *err);
/* Inference helpers for the embedder: n rows of mmc_retrieval_dim floats into out. */
int mmc_retrieval_embed_texts(mmc_retrieval *m, const char *const *texts, int n, float *out,
                              mmc_error *err);
int mmc_retrieval_embed_image_files(mmc_retrieval *m, const char *const *paths, int n,
                                    float *out, mmc_error *err);
int mmc_retrieval_embed_chw(mmc_retrieval *m, const float *chw, int n, float *out,
                            mmc_error *err); /* n preprocessed images (n, 3, S, S) */

/* Cross-modal recall (src/models/retrieval_eval.c until src/eval has it). img (n_img, D)
 * and txt (n_txt, D) L2-normalised; txt_img[j] = the image caption j describes.
 * text->image: the rank of caption j's image among all images (1 = first).
 * image->text: the rank of the best-ranked of the image's captions among all captions.
 * Recalls are fractions in [0, 1]; rsum = the sum of the six recalls as percentages
 * (0..600), as in the VSE++/SCAN papers. */
typedef struct mmc_recall {
    double r1, r5, r10, median_rank, mean_rank;
} mmc_recall;
typedef struct mmc_retrieval_metrics {
    mmc_recall t2i, i2t;
    double rsum;
    int n_images, n_texts;
} mmc_retrieval_metrics;
int mmc_retrieval_recall(const float *img, int n_img, const float *txt, const int *txt_img,
                         int n_txt, int dim, mmc_retrieval_metrics *out, mmc_error *err);
/* Embeds DIR/manifest-SPLIT.jsonl (the model's language; every caption) and scores it.
 * max_images > 0 uses only the first max_images samples. */
int mmc_retrieval_evaluate(mmc_retrieval *m, const char *data_dir, const char *split,
                           int max_images, mmc_retrieval_metrics *out, mmc_error *err);
/* The same with only the first captions_per_image captions of each sample as queries and
 * candidates (> 0; 0 = all): 1 evaluates e.g. emoji names without their keywords. */
int mmc_retrieval_evaluate_captions(mmc_retrieval *m, const char *data_dir, const char *split,
                                    int max_images, int captions_per_image,
                                    mmc_retrieval_metrics *out, mmc_error *err);

/* Training (src/models/retrieval_train.c): the loop behind `mmc train retrieval`. It
 * reports through a callback and never prints. The run folder holds config.json,
 * model.safetensors (last checkpoint), model-best.safetensors (best validation
 * t2i R@1+R@5+R@10), optimizer.safetensors, trainer.json, metrics.jsonl. */
enum { MMC_TRAIN_EV_START = 0, MMC_TRAIN_EV_STEP, MMC_TRAIN_EV_VAL, MMC_TRAIN_EV_SAVE,
       MMC_TRAIN_EV_END };
typedef struct mmc_train_event {
    int kind;                 /* MMC_TRAIN_EV_* */
    int64_t step, total_steps;/* total_steps 0 when time-bound (--minutes) */
    int epoch;                /* 1-based epoch in progress */
    double loss, loss_avg, lr, temperature;
    double elapsed_s, eta_s;  /* training time so far; remaining estimate (-1 unknown) */
    double pairs_per_s;
    const mmc_retrieval_metrics *val; /* MMC_TRAIN_EV_VAL of retrieval runs, else NULL */
    double val_score;         /* MMC_TRAIN_EV_VAL: the selection metric (R@ sum, BLEU-4, accuracy) */
    const char *val_line;     /* MMC_TRAIN_EV_VAL of caption/vqa/classify runs: a line for humans */
    int is_best;
    const char *message;      /* START/SAVE/END: a line for humans */
} mmc_train_event;
typedef void (*mmc_train_callback)(void *user, const mmc_train_event *ev);

typedef struct mmc_retrieval_train_opts {
    const char *data_dir, *run_dir;
    int epochs;             /* > 0: train this many epochs */
    int64_t steps;          /* > 0: this many steps (wins over epochs) */
    double minutes;         /* > 0: stop after this much training time (wins over both) */
    uint64_t seed;
    int resume;             /* continue from run_dir's last checkpoint */
    int64_t stop_at_step;   /* > 0: stop after this step and save, as an interrupt would */
    volatile int *interrupt;/* set to non-zero (e.g. from SIGINT) to save and stop */
    const char *val_split;  /* NULL: "val"; "" skips validation */
    int val_max_images;     /* > 0: validate on the first N only */
    int log_every;          /* STEP events every N steps (0: 10) */
    mmc_train_callback callback;
    void *user;
} mmc_retrieval_train_opts;
mmc_retrieval_train_opts mmc_retrieval_train_defaults(void);
/* Returns MMC_OK, an error code with err filled, or MMC_TRAIN_INTERRUPTED (130) after
 * saving a resumable checkpoint when *interrupt became non-zero. */
#define MMC_TRAIN_INTERRUPTED 130
int mmc_retrieval_train(const mmc_retrieval_config *cfg, const mmc_retrieval_train_opts *o,
                        mmc_error *err);

/* (declarations for retrieval go above this line) */

/* -- captioning (src/models/caption*.c) -- */
/* An image encoder and an autoregressive text decoder trained with teacher forcing and
 * cross-entropy (`mmc train caption`), decoded greedily or by beam search (`mmc caption`),
 * scored with BLEU-1..4, CIDEr-D and exact match (`mmc eval`). The encoder gives a map of
 * L regions (cnn/resnet: the final map average-pooled to pool_grid x pool_grid; vit: every
 * token), each projected to the decoder width with a learned position embedding. Decoders:
 *   "lstm" / "gru"   Show and Tell: the flattened region grid (so positions survive),
 *                    projected, is the input of step 0 (image_input "step0") or sets the
 *                    initial state (image_input "init"); whole sequence in one fused layer.
 *   "attention"      Show, Attend and Tell: an LSTM whose input at each step is the word
 *                    and a gated soft-attention context over the regions, the attention
 *                    queried with the previous hidden state (a loop of single steps).
 *   "transformer"    pre-LN decoder layers: causal self-attention over the words,
 *                    cross-attention over the regions (teacher forcing in one pass;
 *                    decoding keeps a key/value cache per layer).
 * A run folder (config.json with "task": "caption", every config key and the vocabulary;
 * model.safetensors) holds a model; docs/captioning.md lists the keys and defaults. */
typedef struct mmc_captioner mmc_captioner;
typedef struct mmc_caption_config {
    /* image encoder */
    char image_encoder[16];  /* "cnn" (default), "resnet", "vit" */
    int image_size;          /* input side in pixels (64) */
    int cnn_widths[6];       /* cnn: channels per stride-2 stage, 0-terminated */
    int cnn_depth;           /* cnn: 3x3 convs per stage: 1 or 2 */
    int resnet_layers[4], resnet_widths[4];
    int vit_patch, vit_dim, vit_depth, vit_heads;
    int pool_grid;           /* cnn/resnet: regions per side (the map is average-pooled) */
    /* decoder */
    char decoder[16];        /* "transformer" (default), "attention", "lstm", "gru" */
    char image_input[8];     /* lstm/gru: "step0" or "init" */
    int word_dim;            /* word embedding size of the recurrent decoders */
    int hidden;              /* recurrent hidden size; transformer width (regions too) */
    int dec_layers;          /* lstm/gru layers (1-2), transformer layers (1-8); attention: 1 */
    int dec_heads;           /* transformer heads */
    int att_dim;             /* attention: size of the additive attention */
    char dec_act[8];         /* transformer MLP activation: "relu" (default) or "gelu" */
    float dropout;           /* embeddings, decoder outputs, transformer blocks */
    float label_smoothing;   /* cross-entropy label smoothing */
    /* text */
    char lang[4];            /* "en" (captions, word tokens) or "zh" (captions_zh, chars) */
    int min_count;           /* vocabulary: tokens seen at least this often */
    int max_len;             /* tokens per caption incl. <start>/<end>; 0 = from the data */
    char train_captions[8];  /* "all": a random caption per sample per epoch; "first" */
    /* decoding defaults (mmc caption / eval flags override them) */
    float length_penalty;    /* GNMT alpha for beam search (0: plain log-prob sums) */
    int no_repeat_ngram;     /* 0: off */
    /* training */
    int batch_size;
    float lr, weight_decay, min_lr_ratio, grad_clip; /* AdamW; warm-up, cosine to lr*ratio */
    int warmup_steps;
    int epochs;              /* when neither steps nor minutes is given */
    int val_max_images;      /* validation BLEU on the first N val images (0: all) */
} mmc_caption_config;
mmc_caption_config mmc_caption_config_default(void);
/* Keys of a JSON object over *c (a subset is fine; "task", "tokenizer" and "training" are
 * skipped); unknown keys, wrong types, bad values: MMC_ERR_INPUT naming `name` and the
 * key, *c unchanged. */
int mmc_caption_config_parse(mmc_caption_config *c, const char *text, size_t n, const char *name,
                             mmc_error *err);
int mmc_caption_config_load(mmc_caption_config *c, const char *path, mmc_error *err);
int mmc_caption_config_check(const mmc_caption_config *c, const char *name, mmc_error *err);
/* Every key plus "task": "caption", as a JSON object (mmc_free it). */
char *mmc_caption_config_to_json(const mmc_caption_config *c);

/* A new model with weights drawn from seed; takes tok (word or char; also on failure).
 * cfg->max_len must be >= 3. */
mmc_captioner *mmc_captioner_create(const mmc_caption_config *cfg, mmc_tokenizer *tok, uint64_t seed,
                                    mmc_error *err);
/* A run folder; weights NULL = model.safetensors (else e.g. "model-best.safetensors").
 * MMC_ERR_INPUT naming the file for anything missing or malformed. */
mmc_captioner *mmc_captioner_load(const char *run_dir, const char *weights, mmc_error *err);
/* config.json (config, "task", vocabulary) and run_dir/weights (NULL = model.safetensors). */
int mmc_captioner_save(const mmc_captioner *m, const char *run_dir, const char *weights, mmc_error *err);
void mmc_captioner_free(mmc_captioner *m);
mmc_params *mmc_captioner_params(mmc_captioner *m);
const mmc_caption_config *mmc_captioner_config(const mmc_captioner *m);
const mmc_tokenizer *mmc_captioner_tokenizer(const mmc_captioner *m);
mmc_rng *mmc_captioner_dropout_rng(mmc_captioner *m);
/* An RGB image (any size: short side resized to image_size, centre crop) into out
 * (3, S, S), (v/255 - 0.5)/0.5, as training saw it. */
int mmc_captioner_image_to_chw(const mmc_captioner *m, const mmc_image *img, float *out, mmc_error *err);

/* Teacher forcing. images (B, 3, S, S); ids, mask (B, T) from mmc_tokenizer_encode_batch
 * (<start> first). Returns the logits (B, T-1, V): position t predicts ids[:, t+1]. */
mmc_tensor *mmc_captioner_forward(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, const int32_t *ids,
                                  const int32_t *mask, int B, int T, int training);
/* Mean token cross-entropy (label smoothing as configured) of the real next tokens -> (1). */
mmc_tensor *mmc_captioner_loss(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, const int32_t *ids,
                               const int32_t *mask, int B, int T, int training);

/* Incremental decoding: n images become n rows of decoder state; each step feeds one token
 * per row and writes log-softmax rows (n_rows, V). parents (NULL = row i stays row i) makes
 * new row i a copy of old row parents[i] first, as mmc_decode_step_fn asks, so a step is a
 * decode callback. Pad, start and unknown tokens get -inf. */
typedef struct mmc_caption_state mmc_caption_state;
mmc_caption_state *mmc_caption_begin(mmc_captioner *m, const float *chw, int n, int max_rows, mmc_error *err);
int mmc_caption_step(mmc_caption_state *s, const int *parents, const int32_t *tokens, int n_rows,
                     float *logprobs, mmc_error *err);
void mmc_caption_state_free(mmc_caption_state *s);

typedef struct mmc_caption_opts {
    int beam;               /* 1: greedy */
    float length_penalty;   /* GNMT alpha */
    int no_repeat_ngram;    /* 0: off */
    int max_len;            /* generated tokens at most, end included; 0 = the model's */
} mmc_caption_opts;
/* beam 1, the model's length penalty and n-gram blocking, max_len 0. */
mmc_caption_opts mmc_caption_opts_default(const mmc_captioner *m);
typedef struct mmc_caption_hyp {
    char *text;             /* decoded (mmc_malloc'd) */
    int32_t *ids;           /* without start/end */
    int n_ids, ended;
    double score, logprob;  /* score = logprob / length penalty */
} mmc_caption_hyp;
typedef struct mmc_caption_result {
    int n;                  /* hypotheses, best first: 1 for greedy, up to beam */
    mmc_caption_hyp *hyps;
} mmc_caption_result;
void mmc_caption_result_free(mmc_caption_result *r);
/* One preprocessed image (3, S, S) -> hypotheses (mmc_decode_greedy / mmc_decode_beam). */
int mmc_captioner_caption_chw(mmc_captioner *m, const float *chw, const mmc_caption_opts *o,
                              mmc_caption_result *out, mmc_error *err);
int mmc_captioner_caption_file(mmc_captioner *m, const char *path, const mmc_caption_opts *o,
                               mmc_caption_result *out, mmc_error *err);

/* Captions every image of DIR/manifest-SPLIT.jsonl (the first max_images when > 0) and
 * scores them against all of its captions in the model's language, as token ids of the
 * model's tokenizer: corpus BLEU-1..4, CIDEr-D, exact match (any reference), and
 * exact_first (equal to the first caption: the emoji name). Greedy without n-gram
 * blocking runs all images of a chunk together (the same tokens as mmc_decode_greedy). */
typedef struct mmc_caption_metrics {
    double bleu[4], cider_d, exact_match, exact_first;
    int n_images;
} mmc_caption_metrics;
int mmc_captioner_evaluate(mmc_captioner *m, const char *data_dir, const char *split, const mmc_caption_opts *o,
                           int max_images, mmc_caption_metrics *out, mmc_error *err);

/* Training (src/models/caption_train.c): batches from mmc_loader (no flips or colour
 * jitter: captions name colours and left/right), AdamW without decay on biases and norms,
 * linear warm-up then cosine decay (over the steps, or over the time of --minutes),
 * gradient clipping, validation BLEU-4 (greedy) after every epoch with the best model kept
 * as model-best.safetensors, checkpoints through mmc_run_save (resumable bit-exactly),
 * events and MMC_TRAIN_INTERRUPTED as mmc_retrieval_train. */
int mmc_caption_train(const mmc_caption_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err);

/* (declarations for captioning go above this line) */

/* -- fusion models / VQA (src/models/vqa*.c) -- */
/* One model behind `mmc train vqa` and `mmc train classify`: an image and a text (a
 * question, or a caption) -> one class of a vocabulary built from the training split (the
 * answers, or the labels), with a choice of fusion (docs/vqa.md):
 *   early   the question (GRU) projected and tiled as extra channels onto the input of one
 *           CNN stage (mmc_tile_concat); the CNN after it sees image and text together
 *   late    CNN and GRU encode separately; their vectors are combined by concat (default),
 *           sum, product (mmc_nn_fusion), bilinear (mmc_nn_lowrank_bilinear), or each
 *           modality gets its own classifier and the logits are averaged with learned
 *           weights (mmc_nn_logit_average: "logits"); or "attention": the question weighs
 *           the cells of the CNN's final map (with their coordinates), `glimpses` times,
 *           and the weighted cells join [v; q] (stacked-attention style)
 *   hybrid  FiLM from the question into every CNN stage from film_from on (mmc_nn_film),
 *           plus a late concat of the question vector with the image vector
 *   joint   one transformer over [CLS; image patches; question tokens] (mmc_nn_joint)
 *   none    the question alone (a blind baseline: how far the text gets without the image)
 * then an MLP classifier. The CNN stages before the first place the question enters are
 * run once per image and shared by all of its questions in a batch. */
typedef struct mmc_vqa mmc_vqa;
typedef struct mmc_vqa_config {
    char task[12];        /* "vqa" (question -> answer) or "classify" */
    char source[12];      /* classify: "label" (caption -> the manifest's label) or "match"
                             (does this caption describe this scene? "yes"/"no") */
    char fusion[12];      /* "early", "late", "hybrid", "joint", "none" */
    char combine[12];     /* late: "concat", "sum", "product", "bilinear", "logits",
                             "attention" */
    int image_size;       /* input side (64); images are resized to it */
    int cnn_widths[6];    /* channels per 3×3 conv stage, 0-terminated */
    int cnn_strides[6];   /* stride (1 or 2) per stage; 0 = 2 (runs saved before the key) */
    int coord;            /* 1: every stage's input gets 2 coordinate channels (CoordConv) */
    char norm[8];         /* after each conv: "batch" (BatchNorm, running stats in eval)
                             or "none" */
    int pool_grid;        /* the final map is average-pooled to g×g and flattened (4) */
    char image_pool[8];   /* "grid" (that flattened map), "max" (global max over the map:
                             "is there a ... anywhere", translation-invariant) or "both" */
    int image_dim;        /* image vector: Linear(C·g·g -> image_dim) + ReLU */
    int word_dim, text_hidden; /* question: embedding, then a 1-layer GRU's final state */
    char text_pool[12];   /* the question vector: "last" (the GRU's final state, runs saved
                             before the key) or "last+mean" (and the mean word embedding) */
    int max_len;          /* question tokens incl. <start>/<end>; 0 = from the data */
    int min_count;        /* vocabulary: words seen at least this often */
    int fuse_dim;         /* late: projections before sum/product/concat, bilinear rank,
                             attention width */
    int glimpses;         /* late attention: question-guided attention maps over the grid */
    char att_score[12];   /* late attention: "additive" (tanh, runs saved before the key) or
                             "dot" (scaled dot product, plus each glimpse's best score) */
    char att_fuse[12];    /* late attention: "concat" ([glimpses; v; q] -> classifier, runs
                             saved before the key) or "bilinear" ([glimpses; v] and q by
                             low-rank bilinear pooling, then [that; q] -> classifier) */
    int hidden;           /* classifier MLP: in -> hidden -> classes */
    int early_stage;      /* early: the stage whose input gets the question (0 = image) */
    int early_dim;        /* early: question channels tiled */
    int film_from;        /* hybrid: stages film_from.. are FiLM-conditioned */
    int joint_patch, joint_dim, joint_depth, joint_heads; /* joint transformer */
    float dropout;        /* classifier MLP (and the joint transformer) */
    int batch_images;     /* images per step */
    int per_image;        /* texts per image per step (questions drawn without repeats) */
    float lr, weight_decay, min_lr_ratio, grad_clip, label_smoothing;
    float warmup;         /* linear warm-up over this fraction of the run, then cosine */
    int augment_shift;    /* random shift by up to this many pixels (no flips) */
    int epochs;           /* when neither --steps nor --minutes is given */
    /* encoders (src/models/encoder.h); absent from runs saved before: cnn and gru */
    char image_encoder[16]; /* "cnn" (default: the cnn_* keys), "resnet" or "vit" (late only) */
    int resnet_layers[4], resnet_widths[4]; /* resnet: basic blocks per stage, widths */
    int vit_patch, vit_dim, vit_depth, vit_heads; /* vit */
    char text_encoder[16];  /* question: "gru" (default), "lstm", "bag", "transformer" */
    int text_layers, text_heads; /* recurrent layers (1-2) or transformer blocks; heads */
} mmc_vqa_config;

/* The defaults of a task ("vqa" or "classify"); fusion NULL = the task's default. */
mmc_vqa_config mmc_vqa_config_default(const char *task, const char *fusion);
/* Applies the keys of a JSON object over *c (unknown keys, wrong types, values out of range
 * are MMC_ERR_INPUT naming `name` and the key; *c unchanged then). */
int mmc_vqa_config_parse(mmc_vqa_config *c, const char *text, size_t n, const char *name,
                         mmc_error *err);
int mmc_vqa_config_load(mmc_vqa_config *c, const char *path, mmc_error *err);
int mmc_vqa_config_check(const mmc_vqa_config *c, const char *name, mmc_error *err);
char *mmc_vqa_config_to_json(const mmc_vqa_config *c); /* every key; mmc_free it */

/* A model with fresh weights from seed. Takes tok (a word tokenizer for the texts) even on
 * failure; classes[n_classes] (UTF-8, distinct) are copied. cfg->max_len must be >= 3. */
mmc_vqa *mmc_vqa_create(const mmc_vqa_config *cfg, mmc_tokenizer *tok, const char *const *classes,
                        int n_classes, uint64_t seed, mmc_error *err);
/* A run folder written by mmc_vqa_train; weights NULL = model.safetensors. MMC_ERR_INPUT
 * naming the file when anything is missing or malformed. */
mmc_vqa *mmc_vqa_load(const char *run_dir, const char *weights, mmc_error *err);
void mmc_vqa_free(mmc_vqa *m);
const mmc_vqa_config *mmc_vqa_get_config(const mmc_vqa *m);
mmc_params *mmc_vqa_params(mmc_vqa *m);
const mmc_tokenizer *mmc_vqa_tokenizer(const mmc_vqa *m);
int mmc_vqa_n_classes(const mmc_vqa *m);
const char *mmc_vqa_class(const mmc_vqa *m, int i); /* NULL out of range */
int mmc_vqa_class_id(const mmc_vqa *m, const char *name); /* -1 if absent */

/* images (B, 3, S, S) as mmc_vqa_image_to_chw makes them (may be NULL for fusion "none");
 * N texts, text n about image item_img[n] (in 0..B-1); ids, mask [N * T] from
 * mmc_tokenizer_encode_batch -> logits (N, classes). */
mmc_tensor *mmc_vqa_forward(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img,
                            const int32_t *ids, const int32_t *mask, int N, int T, int training);
/* (v/255 - 0.5) / 0.5 of an RGB image, resized bilinearly to image_size if needed. */
int mmc_vqa_image_to_chw(const mmc_vqa *m, const mmc_image *img, float *out, mmc_error *err);
/* One image, one text: the k most probable classes, best first (k' = min(k, classes)). */
int mmc_vqa_answer(mmc_vqa *m, const mmc_image *img, const char *text, int k, int *top,
                   float *prob, mmc_error *err);

/* Accuracy on DIR/manifest-SPLIT.jsonl (every question; classify: the task's texts), by
 * question type (VQA: the manifest's "type"; classify label: the true label; match:
 * "match"/"mismatch"). An answer the run never saw in training counts as wrong. */
#define MMC_VQA_MAX_TYPES 32
typedef struct mmc_vqa_metrics {
    int n, correct;
    double accuracy;
    int n_types;
    struct { char name[32]; int n, correct; double accuracy; } types[MMC_VQA_MAX_TYPES];
} mmc_vqa_metrics;
/* max_images > 0: only the first max_images samples. */
int mmc_vqa_evaluate(mmc_vqa *m, const char *data_dir, const char *split, int max_images,
                     mmc_vqa_metrics *out, mmc_error *err);

/* Training (src/models/vqa_train.c): cross-entropy, AdamW (no decay on biases/norms),
 * linear warm-up and cosine decay over the run (over training time for --minutes), one
 * checkpoint per epoch through mmc_run_save (config.json with the vocabularies,
 * model.safetensors, optimizer.safetensors, trainer.json; schedule_step holds the training
 * milliseconds), model-best.safetensors after each validation (accuracy), metrics.jsonl.
 * Options and events as mmc_retrieval_train (VAL events carry val_score and val_line);
 * resume is bit-exact for a given thread count. Returns MMC_TRAIN_INTERRUPTED after saving
 * when *o->interrupt became non-zero. */
int mmc_vqa_train(const mmc_vqa_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err);

/* (declarations for fusion models / VQA go above this line) */

/* -- decoding (src/models/decode.c) -- */
/* Greedy and beam search over any autoregressive model, through one step callback.
 *
 * The callback owns the model state (hidden states, caches), one slot per live beam. Each
 * call advances every live beam by one token:
 *   - beam_parents[i] is the slot (in the previous call's numbering) that beam i extends:
 *     first make slot i a copy of that slot (a beam may be copied to several), then
 *   - feed last_tokens[i] to beam i and write the log-probabilities of the next token
 *     into logprobs[i * V .. i * V + V) (log-softmax values, <= 0; -inf = impossible).
 * The first call has n_beams = 1, beam_parents = {0} (the state the caller prepared, e.g.
 * the image encoding) and last_tokens = {start_id}. n_beams never exceeds the beam width.
 * Return MMC_OK, or a status (with err filled) that stops the search and is returned. */
typedef int (*mmc_decode_step_fn)(void *user, const int *beam_parents, const int32_t *last_tokens,
                                  int n_beams, float *logprobs, mmc_error *err);

typedef enum mmc_length_penalty_kind {
    MMC_LP_GNMT = 0,  /* lp(len) = ((5 + len) / 6)^alpha (Wu et al. 2016, GNMT) */
    MMC_LP_POWER = 1, /* lp(len) = len^alpha (Hugging Face generate's length_penalty) */
} mmc_length_penalty_kind;

typedef struct mmc_decode_opts {
    int vocab_size;        /* V, the row length of logprobs */
    int32_t start_id, end_id;
    int max_len;           /* most tokens generated per hypothesis, the end token included */
    int beam;              /* beam width K >= 1 (greedy ignores it) */
    float length_penalty;  /* alpha; 0 ranks by the plain sum of log-probs */
    int lp_kind;           /* mmc_length_penalty_kind */
    int no_repeat_ngram;   /* n > 0: never generate an n-gram twice in one hypothesis
                              (generated tokens only; the start token is not counted) */
} mmc_decode_opts;
/* vocab_size 0 (must be set), start 2, end 3 (the WORD/CHAR tokenizers' ids), max_len 20,
 * beam 1, no length penalty, GNMT kind, no n-gram blocking. */
mmc_decode_opts mmc_decode_defaults(void);

/* Hypotheses, best first. tokens holds n rows of max_len entries; row i has lengths[i]
 * valid tokens, without the start and end tokens. ended[i] is 1 if the hypothesis ended
 * with end_id, 0 if it was cut at max_len (or had no allowed continuation). The length
 * used by the penalty counts generated tokens: lengths[i] + ended[i].
 * scores[i] = logprobs[i] / lp(lengths[i] + ended[i]), logprobs[i] the sum of the
 * log-probabilities of every generated token (end included). */
typedef struct mmc_decode_result {
    int n, max_len;
    int32_t *tokens;
    int *lengths, *ended;
    double *scores, *logprobs;
} mmc_decode_result;
void mmc_decode_result_free(mmc_decode_result *r); /* frees the arrays; r itself is the caller's */

/* Greedy: the most likely token at each step (lowest id on ties) until end_id or max_len.
 * One hypothesis; scores as above (the length penalty only rescales its score). */
int mmc_decode_greedy(mmc_decode_step_fn step, void *user, const mmc_decode_opts *o,
                      mmc_decode_result *out, mmc_error *err);
/* Beam search of width K. Each step ranks the K x V extensions of the live beams by summed
 * log-prob (ties: lower beam, then lower token id) and walks the 2K best: an end token
 * within the first K ranks makes a finished hypothesis (kept aside; only the K best by
 * score are kept), other tokens become the next live beams until K are live. The search
 * stops when K hypotheses have finished and the worst of them scores at least every live
 * beam's best reachable score (its log-prob can only fall; the penalty is taken at its most
 * favourable reachable length), when no beam is live, or at max_len, where the live beams
 * join the finished ones (ended = 0). Returns up to K hypotheses sorted by score (ties: the
 * one found first). With length_penalty = 0, K = 1 gives exactly greedy's hypothesis; with
 * a penalty, width 1 may look past an end token for a better-scoring longer caption. */
int mmc_decode_beam(mmc_decode_step_fn step, void *user, const mmc_decode_opts *o,
                    mmc_decode_result *out, mmc_error *err);

/* (declarations for decoding go above this line) */

/* -- embedder: one interface over every model that embeds text and images -- */
/* `mmc embed`, `mmc index build`, `mmc search` and `mmc zeroshot` use only this. A path is
 * a retrieval run folder now, and a Hugging Face CLIP / Chinese-CLIP folder later. Outputs
 * are L2-normalised rows of mmc_embedder_dim floats. */
typedef struct mmc_embedder mmc_embedder;
mmc_embedder *mmc_embedder_open(const char *model_path, mmc_error *err);
void mmc_embedder_close(mmc_embedder *e);
int mmc_embedder_dim(const mmc_embedder *e);
/* A stable identifier of the model (recorded in indexes: its absolute path). */
const char *mmc_embedder_id(const mmc_embedder *e);
int mmc_embedder_texts(mmc_embedder *e, const char *const *texts, int n, float *out, mmc_error *err);
int mmc_embedder_image_files(mmc_embedder *e, const char *const *paths, int n, float *out,
                             mmc_error *err);

/* "retrieval" for a run folder (later "clip", "chinese_clip"). */
const char *mmc_embedder_kind(const mmc_embedder *e);
/* The scale the model multiplies cosine similarities by before a softmax: exp(logit_scale)
 * of an InfoNCE-trained model, at most 100 (CLIP's clamp); 0 when the model has none
 * (trained with another loss). */
float mmc_embedder_logit_scale(const mmc_embedder *e);

/* (declarations for the embedder go above this line) */

/* -- clip: pretrained CLIP / Chinese-CLIP (src/models/clip*.c) -- */
/* A Hugging Face CLIPModel or ChineseCLIPModel folder: config.json (every size is read
 * from it), model.safetensors or a sharded model.safetensors.index.json (F32, F16 or BF16
 * tensors, HF names), the tokenizer files and preprocessor_config.json. The forward passes
 * reproduce transformers' (see docs and tests/test_clip*.c for the measured errors):
 *   text, CLIP:   token + position embeddings, pre-LN blocks with a causal mask and the
 *                 padding mask, final_layer_norm, pooled at the end token (the argmax of
 *                 the ids when eos_token_id == 2, as the openai configs; else the first
 *                 eos_token_id), text_projection.
 *   text, Chinese-CLIP: BERT: word + position + token-type embeddings, LayerNorm, post-LN
 *                 blocks with the padding mask; pooled = [CLS] of the last layer, projected.
 *   vision:       patch conv (no bias), class embedding, position embeddings, pre_layrnorm,
 *                 pre-LN blocks, post_layernorm on the class token, visual_projection.
 *   logits_per_text = exp(logit_scale) * text_embeds . image_embedsᵀ.
 * The passes are built from the autograd ops (f32 storage can be fine-tuned later); with
 * compact storage the layer weights are decoded per layer into one shared f32 scratch
 * layer, so gradients to them are not available there.
 * An mmc_clip is not thread-safe: the embed calls use its own context. */
typedef struct mmc_clip mmc_clip;

/* Storage of the weights: AUTO keeps F16/BF16 checkpoints compact (encoder layers and the
 * token table stay in the file's dtype and are decoded when used); F32 converts everything
 * at load. An F32 checkpoint is always held as f32. */
enum { MMC_CLIP_STORAGE_AUTO = 0, MMC_CLIP_STORAGE_F32 = 1 };
typedef struct mmc_clip_opts {
    int storage; /* MMC_CLIP_STORAGE_* */
} mmc_clip_opts;

/* Loads a model folder. NULL + MMC_ERR_INPUT naming the file (and the tensor or field) for
 * anything missing, malformed or mismatched; shard file names of an index must be plain
 * names inside dir. The tokenizer and preprocessor_config.json are loaded when present;
 * without them the string / image-file calls fail saying so. */
mmc_clip *mmc_clip_load(const char *dir, mmc_error *err);
mmc_clip *mmc_clip_load_ex(const char *dir, const mmc_clip_opts *opts, mmc_error *err);
void mmc_clip_free(mmc_clip *m);

int mmc_clip_dim(const mmc_clip *m);            /* projection_dim: embedding width */
float mmc_clip_logit_scale(const mmc_clip *m);  /* exp(logit_scale), unclamped */
int mmc_clip_is_chinese(const mmc_clip *m);     /* 1 for model_type "chinese_clip" */
int mmc_clip_context_length(const mmc_clip *m); /* tokens per text after truncation */
int mmc_clip_image_size(const mmc_clip *m);     /* vision_config.image_size */
int mmc_clip_text_layers(const mmc_clip *m);
int mmc_clip_vision_layers(const mmc_clip *m);
const mmc_tokenizer *mmc_clip_tokenizer(const mmc_clip *m); /* NULL without tokenizer files */
/* Bytes the weights take in memory: f32 tensors + (compact storage) the checkpoint bytes
 * kept; *compact (may be NULL) is 1 when layers are held in F16/BF16. */
size_t mmc_clip_memory_bytes(const mmc_clip *m, int *compact);

#define MMC_CLIP_MAX_LAYERS 64
/* Forward outputs: arena tensors of ctx (live until mmc_ctx_reset). hidden_states[0] is
 * the embedding output (vision: after pre_layrnorm), hidden_states[i] the output of layer
 * i, as transformers' output_hidden_states. */
typedef struct mmc_clip_text_out {
    int n_hidden;                                  /* layers + 1 */
    mmc_tensor *hidden_states[MMC_CLIP_MAX_LAYERS + 1]; /* (B, T, Dt) */
    mmc_tensor *last_hidden_state;                 /* (B, T, Dt); CLIP: after final_layer_norm */
    mmc_tensor *pooler_output;                     /* (B, Dt): the pooled token (Chinese-CLIP: [CLS]) */
    mmc_tensor *features;                          /* (B, P) projected, not normalised */
    mmc_tensor *embeds;                            /* (B, P) L2-normalised */
} mmc_clip_text_out;
typedef struct mmc_clip_vision_out {
    int n_hidden;
    mmc_tensor *hidden_states[MMC_CLIP_MAX_LAYERS + 1]; /* (B, 1 + N, Dv) */
    mmc_tensor *last_hidden_state;                 /* (B, 1 + N, Dv), before post_layernorm */
    mmc_tensor *pooler_output;                     /* (B, Dv) post_layernorm(class token) */
    mmc_tensor *features;                          /* (B, P) */
    mmc_tensor *embeds;                            /* (B, P) L2-normalised */
} mmc_clip_vision_out;

/* ids, mask, token_type_ids: (B, T) row-major; mask NULL = all 1; token_type_ids NULL = 0
 * (used by Chinese-CLIP only). T <= max_position_embeddings; ids < vocab_size. */
int mmc_clip_text_forward(mmc_ctx *ctx, mmc_clip *m, const int32_t *ids, const int32_t *mask,
                          const int32_t *token_type_ids, int B, int T, mmc_clip_text_out *out);
/* pixels (B, num_channels, image_size, image_size), preprocessed. */
int mmc_clip_vision_forward(mmc_ctx *ctx, mmc_clip *m, mmc_tensor *pixels, mmc_clip_vision_out *out);
/* text_embeds (Bt, P), image_embeds (Bi, P) -> logits_per_text (Bt, Bi); its transpose is
 * logits_per_image. */
mmc_tensor *mmc_clip_logits(mmc_ctx *ctx, mmc_clip *m, mmc_tensor *text_embeds, mmc_tensor *image_embeds);

/* Tokenises n texts as transformers does for this model (specials added, truncated to
 * mmc_clip_context_length, padded with the pad id to the longest): *ids and *mask are
 * mmc_malloc'd (n, *T). */
int mmc_clip_tokenize(const mmc_clip *m, const char *const *texts, int n, int32_t **ids,
                      int32_t **mask, int *T, mmc_error *err);
/* Raw inputs -> L2-normalised embeddings, n rows of mmc_clip_dim floats into out. Images
 * are decoded as RGB and preprocessed as preprocessor_config.json says. Batched inside. */
int mmc_clip_embed_texts(mmc_clip *m, const char *const *texts, int n, float *out, mmc_error *err);
int mmc_clip_embed_image_files(mmc_clip *m, const char *const *paths, int n, float *out, mmc_error *err);
int mmc_clip_embed_images(mmc_clip *m, const mmc_image *images, int n, float *out, mmc_error *err);

/* Fine-tuning (src/models/clip_train.c): `mmc train retrieval --init HF_FOLDER`. The model
 * is loaded with MMC_CLIP_STORAGE_F32 and every tensor is trained: symmetric InfoNCE with
 * the checkpoint's own logit_scale (clamped at log 100 after each step, as CLIP), AdamW
 * (weight decay on matrices only: not on biases, norms, embeddings or logit_scale), linear
 * warm-up then cosine decay to lr * min_lr_ratio, gradient-norm clipping. Batches come from
 * DIR/manifest-train.jsonl: each image decoded and preprocessed as the folder's
 * preprocessor_config.json says, one caption of the language drawn per image, tokenised
 * with the model's tokenizer and truncated to its context. Validation (recall on the val
 * split) after each epoch and at the end; metrics.jsonl, trainer.json and events as
 * mmc_retrieval_train. The run folder is a Hugging Face folder again: config.json and the
 * tokenizer / preprocessor files copied from the init folder, model.safetensors (F32, HF
 * names; model-best.safetensors too when validation ran). Not resumable (o->resume is
 * refused). */
typedef struct mmc_clip_train_config {
    char lang[4];        /* "en" (captions) or "zh" (captions_zh); "" = zh for Chinese-CLIP */
    int batch_size;      /* 32 (at most the training set) */
    float lr;            /* 1e-5 */
    float weight_decay;  /* 0.1 */
    float min_lr_ratio;  /* 0 */
    float grad_clip;     /* 1.0 (0: off) */
    int warmup_steps;    /* -1 (default): 10% of a step-bound run, at most 500 */
    int epochs;          /* when neither steps nor minutes is given: 1 */
} mmc_clip_train_config;
mmc_clip_train_config mmc_clip_train_config_default(void);
int mmc_clip_train(const char *init_dir, const mmc_clip_train_config *cfg,
                   const mmc_retrieval_train_opts *o, mmc_error *err);
/* The model's tensors (all MMC_PARAM; empty for compact storage, which cannot train). */
mmc_params *mmc_clip_params(mmc_clip *m);
/* Writes dir/`weights` (NULL = model.safetensors; F32, the checkpoint's tensor names) and,
 * unless dir is the folder the model came from, copies config.json, preprocessor_config.json
 * and the tokenizer files from it. Compact models are refused (MMC_ERR_USAGE). */
int mmc_clip_save(const mmc_clip *m, const char *dir, const char *weights, mmc_error *err);
/* Recall on DIR/manifest-SPLIT.jsonl in lang ("en"/"zh"; NULL or "" = the model's). */
int mmc_clip_evaluate(mmc_clip *m, const char *data_dir, const char *split, const char *lang,
                      int max_images, mmc_retrieval_metrics *out, mmc_error *err);

/* (declarations for clip go above this line) */

/* ------------------------------------------------------------------- eval */
/* src/eval: metrics. */

/* -- caption metrics (src/eval/bleu.c, cider.c, exact_match.c) -- */
/* Captions are scored as token-id sequences (a WORD tokenizer's words, a CHAR tokenizer's
 * Chinese characters alike), without start/end/pad tokens (encode with add_special = 0).
 * Every hypothesis has one or more references. */
typedef struct mmc_token_seq {
    const int32_t *ids;
    int n;
} mmc_token_seq;
typedef struct mmc_caption_item {
    mmc_token_seq hyp;
    const mmc_token_seq *refs;
    int n_refs; /* >= 1 */
} mmc_caption_item;

/* BLEU (Papineni et al. 2002) as coco-caption's Bleu and NLTK's corpus_bleu compute it:
 * p_n = sum over hypotheses of clipped n-gram matches (each n-gram's count capped by its
 * largest count in any one reference) / sum of hypothesis n-gram counts; c = summed
 * hypothesis lengths, r = summed closest reference lengths (closest to the hypothesis's
 * length; on a tie the shorter reference, as both do); BP = 1 if c >= r, else
 * exp(1 - r/c) (0 if c = 0); BLEU-n = BP * (p_1 ... p_n)^(1/n). No smoothing: BLEU-n is 0
 * when any p_k (k <= n) is 0 (as NLTK; coco-caption's epsilons give ~1e-9 there). */
typedef struct mmc_bleu_result {
    double bleu[4];          /* BLEU-1 .. BLEU-4 */
    double precision[4];     /* p_1 .. p_4 (smoothed for a smoothed sentence score) */
    int64_t matched[4], total[4]; /* clipped matches and hypothesis n-grams, per order */
    int64_t hyp_len, ref_len;     /* c and r */
    double brevity_penalty;
} mmc_bleu_result;
int mmc_bleu_corpus(const mmc_caption_item *items, int n, mmc_bleu_result *out, mmc_error *err);
/* One hypothesis scored alone (NLTK's sentence_bleu). smooth 0: none, as the corpus score;
 * smooth 1: add one to the matches and to the total of every order n >= 2 (Lin & Och 2004;
 * SmoothingFunction().method2 of current NLTK), so a short caption with no 4-gram match
 * does not score 0. */
int mmc_bleu_sentence(const mmc_caption_item *item, int smooth, mmc_bleu_result *out,
                      mmc_error *err);

/* CIDEr-D (Vedantam et al. 2015) with coco-caption's conventions: n-grams of 1..4 tokens;
 * a sentence is a vector per order of tf * idf with tf the raw count and
 * idf = log(N) - log(max(1, df)), N the number of items and df the number of items whose
 * references (any of them) contain the n-gram; similarity per order and reference =
 * sum over the hypothesis's n-grams of min(h, r) * r / (|h| |r|) (0 when either norm is 0),
 * times exp(-(l_h - l_r)^2 / (2 * 6^2)) with l the number of bigrams of a sentence (as
 * coco-caption counts it); an item's score = 10 * mean over orders of the sum over
 * references / n_refs. The corpus score is the mean of the items' scores. The idf comes
 * from the references of the items given, so a lone item scores 0 (log 1 = 0). per_item
 * may be NULL, else it receives n scores. */
int mmc_cider_d(const mmc_caption_item *items, int n, double *mean, double *per_item,
                mmc_error *err);

/* Fraction of hypotheses equal, token for token, to at least one of their references. */
int mmc_exact_match(const mmc_caption_item *items, int n, double *rate, mmc_error *err);

/* -- retrieval metrics (src/eval/recall.c) -- */
/* Cross-modal retrieval over n_texts captions and n_images images, the COCO/Flickr30k
 * protocol: sim is (n_texts, n_images) row-major (higher = more similar; cosine when the
 * embeddings are L2-normalised), text_image[t] is the image caption t describes (an image
 * may have several captions, or none).
 *   text -> image: each caption's rank of its own image among all images.
 *   image -> text: for each image with at least one caption, the rank of the best-ranked of
 *                  its own captions among all captions. Images without captions are skipped.
 * Ranks are 1-based. Ties are pessimistic: a wrong item scoring exactly as high as the right
 * one ranks before it, i.e. rank = 1 + #(wrong items with score >= the right item's), so a
 * model whose scores are all equal gets the worst rank, never a perfect one.
 * MMC_ERR_USAGE for bad arguments (text_image out of range), MMC_ERR_INPUT for a non-finite
 * similarity. */
typedef struct mmc_recall_result {
    int n_texts;                /* text -> image queries */
    int n_images;               /* image -> text queries (images with >= 1 caption) */
    double t2i[3], i2t[3];      /* R@1, R@5, R@10 in percent (0..100) */
    double t2i_medr, i2t_medr;  /* median rank (even count: mean of the two middle ranks) */
    double t2i_meanr, i2t_meanr;
    double rsum;                /* sum of the six recalls (0..600) */
} mmc_recall_result;
int mmc_eval_recall(const float *sim, int n_texts, int n_images, const int *text_image,
                    mmc_recall_result *out, mmc_error *err);
/* The same from embeddings text_emb (n_texts, dim) and image_emb (n_images, dim): sim is
 * their inner product (normalise them first for cosine similarity). */
int mmc_eval_recall_embeddings(const float *text_emb, int n_texts, const float *image_emb,
                               int n_images, int dim, const int *text_image, mmc_recall_result *out,
                               mmc_error *err);
/* Per-query ranks: t2i_rank[n_texts], i2t_rank[n_images] (0 for an image without captions);
 * either may be NULL. */
int mmc_eval_recall_ranks(const float *sim, int n_texts, int n_images, const int *text_image,
                          int *t2i_rank, int *i2t_rank, mmc_error *err);
/* Percent of the ranks (entries <= 0 are skipped) that are <= k; 0 when none count. */
double mmc_eval_recall_at(const int *ranks, int n, int k);
/* Median of the positive ranks (0 when none). */
double mmc_eval_rank_median(const int *ranks, int n);

/* -- accuracy (src/eval/recall.c): classification and zero-shot -- */
typedef struct mmc_accuracy {
    int n, correct;
    double overall;         /* correct / n (0 when n == 0), a fraction in 0..1 */
    double mean_per_class;  /* mean of the per-class accuracies over classes present */
    int classes_present;    /* classes with at least one sample */
} mmc_accuracy;
/* pred[i], truth[i] in [0, n_classes). class_correct / class_total (n_classes each, may be
 * NULL) receive the per-class counts: class c's accuracy is class_correct[c] /
 * class_total[c]. MMC_ERR_USAGE for a class out of range. */
int mmc_eval_accuracy(const int *pred, const int *truth, int n, int n_classes, mmc_accuracy *out,
                      int *class_correct, int *class_total, mmc_error *err);
/* Index of the largest of x[0..n-1]; ties keep the lowest index (n >= 1). */
int mmc_eval_argmax(const float *x, int n);

/* (declarations for eval go above this line) */

/* ---- reports (src/io/report.c) ---- */
/* A self-contained HTML page: no scripts, no external resources, so it opens anywhere
 * offline (`mmc demo` writes one; run reports later). Blocks appear in the order they are
 * created: headings, paragraphs, tables, line charts (inline SVG with axes, ticks, axis
 * labels and a legend) and galleries of examples (an image embedded as a base64 data: URI,
 * with lines of text under it). A table, chart or gallery is created once and filled
 * afterwards through its id, so a caller can add rows and series as results come in.
 * Every text is HTML-escaped and must be valid UTF-8 (MMC_ERR_INPUT otherwise; control
 * characters other than newline become spaces; a newline breaks the line). */
typedef struct mmc_report mmc_report;
mmc_report *mmc_report_new(const char *title, mmc_error *err);
void mmc_report_free(mmc_report *r); /* NULL is fine */
int mmc_report_heading(mmc_report *r, const char *text, mmc_error *err);   /* <h2> */
int mmc_report_text(mmc_report *r, const char *text, mmc_error *err);      /* a paragraph */
/* A table of ncols (1..64) columns with header[ncols]; returns its id (>= 0), or -1 with err. */
int mmc_report_table(mmc_report *r, const char *caption, int ncols, const char *const *header,
                     mmc_error *err);
int mmc_report_table_row(mmc_report *r, int table, const char *const *cells, mmc_error *err);
/* A line chart; returns its id (>= 0), or -1 with err. */
int mmc_report_chart(mmc_report *r, const char *title, const char *x_label, const char *y_label,
                     mmc_error *err);
/* One series of n points (x[i], y[i]); points with a non-finite coordinate are skipped.
 * Drawn as a line (with dots when it has at most 40 points); a series of more than 2000
 * points is thinned evenly for drawing (first and last kept). */
int mmc_report_series(mmc_report *r, int chart, const char *name, const double *x, const double *y,
                      int n, mmc_error *err);
/* The series y_key against x_key read from a JSON-lines file such as a run's metrics.jsonl.
 * A key may be a dotted path into nested objects ("val.text_to_image.R@1"); lines without
 * both numbers are skipped; *n_points (may be NULL) gets the number kept. MMC_ERR_INPUT
 * naming the file and line for a line that is not JSON (a torn last line is skipped). */
int mmc_report_series_jsonl(mmc_report *r, int chart, const char *name, const char *path,
                            const char *x_key, const char *y_key, int *n_points, mmc_error *err);
/* A gallery (a row of examples that wraps); returns its id (>= 0), or -1 with err. */
int mmc_report_gallery(mmc_report *r, const char *title, mmc_error *err);
/* An example from an image file (PNG, JPEG or PPM/PGM; decoded first, so a broken file is
 * MMC_ERR_INPUT naming it). PNG and JPEG files of at most 512 px a side are embedded byte
 * for byte; others are downscaled to 256 px on the longer side (or just re-encoded) as
 * PNG. image_path NULL: a text-only example. mark: 0 plain, 1 good (green frame), -1 bad
 * (red frame). */
int mmc_report_example_file(mmc_report *r, int gallery, const char *image_path, const char *text,
                            int mark, mmc_error *err);
/* The same from 8-bit pixels (w*h*channels bytes, HWC, channels 1..4), encoded as PNG. */
int mmc_report_example_pixels(mmc_report *r, int gallery, int w, int h, int channels,
                              const uint8_t *pixels, const char *text, int mark, mmc_error *err);
/* The page as a NUL-terminated string (mmc_free it); NULL + err on OOM. */
char *mmc_report_html(const mmc_report *r, mmc_error *err);
/* Writes the page to path atomically (temp file, fsync, rename). */
int mmc_report_write(const mmc_report *r, const char *path, mmc_error *err);

/* An 8-bit PNG in memory (the same encoding as mmc_png_write): *out from mmc_malloc, the
 * caller frees it with mmc_free. */
int mmc_png_encode(int w, int h, int channels, const uint8_t *pixels, uint8_t **out, size_t *n,
                   mmc_error *err);

/* (declarations for reports go above this line) */


/* ---- index (src/index) ---- */
/* An embedding index for cross-modal retrieval: N items, each an L2-normalised row of D
 * floats (stored as float32, or int8 with one scale per row) plus a UTF-8 string (an id or
 * a path), and the id of the model that made the embeddings. Search is exact top-k by
 * inner product, which is cosine similarity since rows and queries are normalised.
 * File format: docs/formats.md ("Embedding index"); a file is mmap'd read-only and fully
 * validated (sizes, offsets, UTF-8, CRC32s) before use. */
enum { MMC_INDEX_F32 = 0, MMC_INDEX_I8 = 1 };
#define MMC_INDEX_MAX_DIM 65536          /* embedding width limit (a sanity bound) */
#define MMC_INDEX_MAX_COUNT 2147483647LL /* items; indices fit an int */
#define MMC_INDEX_BLOCK_ROWS 4096        /* rows per GEMM block in search (bounds scratch) */
typedef struct mmc_index mmc_index;

/* Builds an in-memory index from emb (n, dim) row-major (finite values; a zero row stays
 * zero), items[n] NUL-terminated UTF-8 strings, model_id a UTF-8 string (may be ""),
 * dtype MMC_INDEX_F32 or MMC_INDEX_I8 (symmetric per-row quantisation: scale = max|x|/127).
 * n may be 0. NULL + err (MMC_ERR_USAGE for bad arguments, MMC_ERR_INPUT for non-finite
 * values or invalid UTF-8, naming the item) on failure. */
mmc_index *mmc_index_build(const float *emb, int64_t n, int dim, const char *const *items,
                           const char *model_id, int dtype, mmc_error *err);
/* Writes the index atomically (temp file, fsync, rename). */
int mmc_index_save(const mmc_index *ix, const char *path, mmc_error *err);
/* Maps path read-only and validates it; NULL + MMC_ERR_INPUT naming the file when it is
 * missing, a directory, truncated, or malformed in any way. */
mmc_index *mmc_index_open(const char *path, mmc_error *err);
/* The same validation over a file image in memory (copied; bytes may be freed after).
 * name is used in messages ("<memory>" if NULL). For fuzzing and embedded indexes. */
mmc_index *mmc_index_parse(const char *name, const uint8_t *bytes, size_t size, mmc_error *err);
void mmc_index_close(mmc_index *ix); /* unmaps / frees; NULL is fine */

int64_t mmc_index_count(const mmc_index *ix);
int mmc_index_dim(const mmc_index *ix);
int mmc_index_dtype(const mmc_index *ix);
const char *mmc_index_model_id(const mmc_index *ix);
const char *mmc_index_item(const mmc_index *ix, int64_t i); /* NULL if i out of range */
/* Row i as floats (dequantised for int8) into out[dim]; MMC_ERR_USAGE if i out of range. */
int mmc_index_row(const mmc_index *ix, int64_t i, float *out, mmc_error *err);

/* Top-k for a batch of queries q (nq, dim): each query is L2-normalised first (a zero query
 * scores 0 everywhere), then scored against every row. Writes idx (nq, k') and scores
 * (nq, k'), k' = min(k, count), best first; equal scores keep the lower index first. The
 * rows are processed in blocks of block_rows (0: MMC_INDEX_BLOCK_ROWS), one GEMM per block
 * and query chunk — or, for up to 4 queries, dot products straight off the rows (int8 rows
 * are not dequantised into a buffer) — blocks spread over mmc_get_threads() threads;
 * results do not depend on the thread count. Queries must be finite (else MMC_ERR_INPUT). Returns k' in *k_out
 * (may be NULL). */
int mmc_index_search(const mmc_index *ix, const float *q, int nq, int k, int block_rows,
                     int64_t *idx, float *scores, int *k_out, mmc_error *err);
/* The reference: every score in double precision, a full sort. Same contract, slow. */
int mmc_index_search_bruteforce(const mmc_index *ix, const float *q, int nq, int k,
                                int64_t *idx, float *scores, int *k_out, mmc_error *err);

/* --------------------------------------------------------------- utilities */

/* Writes buf to path atomically (temp, fsync, rename). */
int mmc_write_file_atomic(const char *path, const void *buf, size_t n, mmc_error *err);
/* Reads a whole file (refuses > max_bytes); *out malloc'd, NUL-terminated. */
int mmc_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *n, mmc_error *err);
double mmc_now(void); /* monotonic seconds */

#ifdef __cplusplus
}
#endif
#endif /* MMC_H */

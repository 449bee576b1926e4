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
mmc_tensor *mmc_layer_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                           float eps);

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

/* (declarations for images go above this line) */

/* --------------------------------------------------------------------- text */
/* src/data/utf8.c, src/data/tokenizer_*.c: UTF-8 validation and tokenizers. */

/* (declarations for text go above this line) */

/* ----------------------------------------------------------------- datasets */
/* src/data/manifest.c, src/data/shapes.c: manifests and the synthetic shapes world. */

/* (declarations for datasets go above this line) */

/* ----------------------------------------------------------------------- nn */
/* Modules (src/nn). A model's tensors live in one registry, mmc_params, which owns them
 * and names them in PyTorch's dotted convention ("encoder.layer1.0.conv1.weight") so our
 * safetensors checkpoints open in PyTorch and theirs open in mmc. A module is a plain
 * struct of borrowed pointers into the registry:
 *
 *   mmc_params P = {0};
 *   mmc_nn_linear fc;
 *   mmc_nn_linear_init(&fc, &P, "head.fc", 512, 10, 1, &rng);   // registers head.fc.weight/.bias
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

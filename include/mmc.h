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

/* reductions. axes: list of axes (negative counts from the end); naxes = 0 means all.
 * keepdim as in PyTorch. max returns values; gradient flows to the first maximum. */
mmc_tensor *mmc_sum(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim);
mmc_tensor *mmc_mean(mmc_ctx *ctx, mmc_tensor *a, const int *axes, int naxes, int keepdim);
mmc_tensor *mmc_max(mmc_ctx *ctx, mmc_tensor *a, int axis, int keepdim);

/* softmax family, over the last axis */
mmc_tensor *mmc_softmax(mmc_ctx *ctx, mmc_tensor *a);
mmc_tensor *mmc_log_softmax(mmc_ctx *ctx, mmc_tensor *a);
/* logits (N, C), targets[N] class ids; rows whose target == ignore_index are skipped
 * (use -100 as PyTorch does, or any value outside 0..C-1 to disable). label_smoothing in
 * [0, 1). Returns the mean over non-ignored rows, shape (1). */
mmc_tensor *mmc_cross_entropy(mmc_ctx *ctx, mmc_tensor *logits, const int *targets,
                              int ignore_index, float label_smoothing);

/* matrix products through cblas_sgemm.
 * matmul: a (M, K) or (K, M) if ta; b (K, N) or (N, K) if tb -> (M, N).
 * bmm:    the same over a leading batch dims (B, ., .) -> (B, M, N); a 2-D operand is
 *         shared across the batch. */
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
/* pools: kernel k, stride s, padding p (max pads with -inf, avg counts padding as
 * PyTorch's count_include_pad=True does). */
mmc_tensor *mmc_max_pool2d(mmc_ctx *ctx, mmc_tensor *x, int k, int s, int p);
mmc_tensor *mmc_avg_pool2d(mmc_ctx *ctx, mmc_tensor *x, int k, int s, int p);
mmc_tensor *mmc_global_avg_pool2d(mmc_ctx *ctx, mmc_tensor *x); /* (B,C,H,W) -> (B,C) */

/* normalisation.
 * batch_norm: x (B, C, ...) ; gamma, beta (C) or NULL; running_mean/var (C) persistent,
 *   updated in training with momentum (PyTorch convention, unbiased var for the running
 *   estimate); in eval the running statistics are used.
 * layer_norm: over the last axis of x; gamma, beta (D) or NULL. */
mmc_tensor *mmc_batch_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                           mmc_tensor *running_mean, mmc_tensor *running_var,
                           int training, float momentum, float eps);
mmc_tensor *mmc_layer_norm(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta,
                           float eps);

/* embedding: table (V, D), ids[n] (each in 0..V-1) -> (n, D); reshape after as needed */
mmc_tensor *mmc_embedding(mmc_ctx *ctx, mmc_tensor *table, const int *ids, int n);
/* dropout: in training zero with probability p and scale by 1/(1-p); identity otherwise */
mmc_tensor *mmc_dropout(mmc_ctx *ctx, mmc_tensor *x, float p, int training, mmc_rng *rng);

/* shape ops */
mmc_tensor *mmc_reshape(mmc_ctx *ctx, mmc_tensor *x, int ndim, const int *shape); /* view; one dim may be -1 */
mmc_tensor *mmc_transpose(mmc_ctx *ctx, mmc_tensor *x, int d0, int d1);           /* copy */
mmc_tensor *mmc_permute(mmc_ctx *ctx, mmc_tensor *x, const int *perm);            /* copy */
mmc_tensor *mmc_concat(mmc_ctx *ctx, mmc_tensor **xs, int n, int axis);
/* split x along axis into n parts of the given sizes; writes outs[n]; returns status */
int mmc_split(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *sizes, int n, mmc_tensor **outs);
mmc_tensor *mmc_slice(mmc_ctx *ctx, mmc_tensor *x, int axis, int start, int end); /* [start, end) */
/* gather along axis with an index per output position: out[.., i, ..] = x[.., idx[..], ..]
 * where index has out's shape (the shape of x except axis, which becomes index_len) */
mmc_tensor *mmc_gather(mmc_ctx *ctx, mmc_tensor *x, int axis, const int *index, int index_len);

/* similarity */
mmc_tensor *mmc_l2_normalize(mmc_ctx *ctx, mmc_tensor *x, float eps); /* last axis; x / max(||x||, eps) */
mmc_tensor *mmc_cosine_similarity(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps); /* (N,D),(N,D) -> (N) */
mmc_tensor *mmc_pairwise_distance(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, float eps); /* (N,D),(M,D) -> (N,M) Euclidean */

/* scaled dot-product attention.
 * q (B, H, Tq, Dh), k and v (B, H, Tk, Dh) -> (B, H, Tq, Dh).
 * causal: query i sees keys j <= i (+ Tk - Tq offset). key_mask: NULL or (B, Tk) of
 * 1 (attend) / 0 (padding). A row with no visible key gives zeros. */
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

/* (declarations for datasets go above this line) */

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

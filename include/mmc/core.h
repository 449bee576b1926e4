/*
 * mmc/core.h — the core of mmc (src/core): version, errors, allocation and the step arena,
 * threads, cpu features, the rng, tensors and the context, autograd, UTF-8 and file
 * utilities. Everything else in include/mmc/ builds on it.
 */
#ifndef MMC_CORE_H
#define MMC_CORE_H

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

/* ------------------------------------------------------------ cpu features */

/* What this CPU (and OS) can run, asked once (cpuid, through __builtin_cpu_supports) and
 * cached: every kernel with a vector path picks it with these (src/core/cpu.c). 1 or 0;
 * always 0 on other architectures. */
int mmc_cpu_has_avx2(void);
int mmc_cpu_has_fma(void);
int mmc_cpu_has_avx512f(void);
int mmc_cpu_has_avx512bw(void);
int mmc_cpu_has_avx512vl(void);
int mmc_cpu_has_avx512_vnni(void);

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
    struct mmc_qweight *quant; /* int8/int4 copy for inference (owned), or NULL (mmc/ops.h) */
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

/* ------------------------------------------------------------------- utf-8 */
/* src/core/utf8.c (the rest of the text layer is in mmc/data.h). */

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

/* --------------------------------------------------------------- utilities */

/* Writes buf to path atomically (temp, fsync, rename). */
int mmc_write_file_atomic(const char *path, const void *buf, size_t n, mmc_error *err);
/* Reads a whole file (refuses > max_bytes); *out malloc'd, NUL-terminated. */
int mmc_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *n, mmc_error *err);
double mmc_now(void); /* monotonic seconds */

#ifdef __cplusplus
}
#endif
#endif /* MMC_CORE_H */

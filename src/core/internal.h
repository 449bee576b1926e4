/*
 * internal.h — what ops need from the core: creating outputs, recording backward nodes,
 * reporting errors. Not installed; not part of the public API.
 *
 * How an op is written (see src/ops/elementwise.c for the simplest examples):
 *
 *   mmc_tensor *mmc_relu(mmc_ctx *ctx, mmc_tensor *a) {
 *       MMC_CHECK_INPUTS(ctx, "relu", a);
 *       mmc_tensor *out = mmc_tensor_empty(ctx, a->ndim, a->shape);
 *       if (!out) return NULL;
 *       ... forward into out->data ...
 *       mmc_node *n = mmc_node_record(ctx, "relu", out, relu_backward, 1, a);
 *       // n is NULL when nothing needs a gradient; otherwise save what backward needs
 *       return out;
 *   }
 *   static void relu_backward(mmc_ctx *ctx, mmc_node *n) {
 *       float *gout = n->out->grad;                 // always allocated when called
 *       mmc_tensor *a = n->in[0];
 *       if (a->requires_grad) { float *ga = mmc_tensor_grad(ctx, a); ... ga[i] += ... }
 *   }
 */
#ifndef MMC_INTERNAL_H
#define MMC_INTERNAL_H

#include "mmc/core.h"
#include <stdarg.h>

#define MMC_NODE_MAX_IN 4

typedef void (*mmc_backward_fn)(mmc_ctx *ctx, mmc_node *n);

struct mmc_node {
    const char *op;
    mmc_backward_fn backward;
    mmc_tensor *out;
    int n_in;
    mmc_tensor *in[MMC_NODE_MAX_IN];
    mmc_tensor **in_list; /* for ops with many inputs (concat): n_in entries */
    int ia[8];            /* small integer parameters (axes, strides, ...) */
    float fa[4];          /* small float parameters (eps, p, ...) */
    void *saved;          /* op-specific arena buffer (masks, statistics, ...) */
    void *saved2;
};

/* Records a node for `out` if grad mode is on and any input requires grad; marks
 * out->requires_grad. Returns NULL (not an error) when nothing needs recording, and
 * NULL with ctx->err set on OOM — check ctx->err.code if that matters to you. */
mmc_node *mmc_node_record(mmc_ctx *ctx, const char *op, mmc_tensor *out, mmc_backward_fn bw,
                          int n_in, ...);
/* Same, for an array of inputs (copied into the arena). */
mmc_node *mmc_node_record_list(mmc_ctx *ctx, const char *op, mmc_tensor *out,
                               mmc_backward_fn bw, int n_in, mmc_tensor **ins);

/* Counted like mmc_malloc; `align` a power of two; freed with mmc_free. */
void *mmc_aligned_malloc(size_t align, size_t n);

/* Scratch memory from the arena (NULL + ctx->err on OOM). */
void *mmc_scratch(mmc_ctx *ctx, size_t bytes);

/* For backward functions that can write an input's whole gradient rather than add to it:
 * like mmc_tensor_grad, but when the gradient does not exist yet its buffer is handed out
 * without being zeroed and *fresh is set to 1 — the caller must then store every one of its
 * numel values; with *fresh 0 it adds to them as usual. Saves a zeroing pass and a read. */
float *mmc_tensor_grad_to_write(mmc_ctx *ctx, mmc_tensor *t, int *fresh);

/* Arena blocks that die before the reset (src/core/alloc.c): recycle hands one back (it must
 * have come from this arena since the last reset and not be used again); alloc_reuse
 * returns a recycled block of the same rounded size, else a new one. Backward recycles the
 * gradient of each op's output once the op's backward has run. */
void mmc_arena_recycle(mmc_arena *a, void *p, size_t bytes);
void *mmc_arena_alloc_reuse(mmc_arena *a, size_t bytes);

/* Positions in the arena, for inference loops that keep one tensor of many (no-grad code):
 * tell records where allocation stands; rewind frees everything allocated since — only
 * within the chunk pos was taken in (returns 0 and does nothing when a new chunk was opened
 * since, as can happen in the first step, before the arena has grown to fit). */
typedef struct mmc_arena_pos {
    void *chunk;
    size_t chunk_used, used;
} mmc_arena_pos;
mmc_arena_pos mmc_arena_tell(const mmc_arena *a);
int mmc_arena_rewind(mmc_arena *a, mmc_arena_pos pos);

/* The same for a context: a mark, and mmc_ctx_keep, which frees everything allocated since
 * the mark except `keep`, moved down to the mark (a copy of its values, no longer a view),
 * and returns it. For loops without autograd: with grad mode on, or when a tape node was
 * recorded since the mark, or the arena cannot rewind, it returns keep unchanged. Tensors
 * allocated before the mark (the loop's inputs) stay valid. */
typedef struct mmc_ctx_mark {
    mmc_arena_pos pos;
    int tape_len;
} mmc_ctx_mark;
mmc_ctx_mark mmc_ctx_tell(const mmc_ctx *ctx);
mmc_tensor *mmc_ctx_keep(mmc_ctx *ctx, mmc_ctx_mark mark, mmc_tensor *keep);

/* Reports an op error into ctx->err (first error wins until reset) and returns NULL. */
void *mmc_op_fail(mmc_ctx *ctx, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Checks that no input is NULL (a previous op failed) — returns NULL from the caller. */
#define MMC_CHECK_INPUTS(ctx, opname, ...)                                          \
    do {                                                                            \
        mmc_tensor *mmc__ins[] = {__VA_ARGS__};                                     \
        for (size_t mmc__i = 0; mmc__i < sizeof(mmc__ins) / sizeof(mmc__ins[0]); mmc__i++) \
            if (!mmc__ins[mmc__i])                                                  \
                return mmc_op_fail((ctx), MMC_ERR_USAGE, "%s: input %d is NULL%s", (opname), \
                                   (int)mmc__i, (ctx)->err.code ? " (an earlier op failed)" : ""); \
    } while (0)

/* Normalises a possibly negative axis; -1 if out of range. */
static inline int mmc_axis(int axis, int ndim) {
    if (axis < 0) axis += ndim;
    return (axis < 0 || axis >= ndim) ? -1 : axis;
}

/* Whether a tensor needs its gradient computed in a backward function. */
static inline int mmc_needs_grad(const mmc_tensor *t) { return t && t->requires_grad; }

/* ---------------------------------------------------------------- parallel loops
 *
 * Every OpenMP loop in the ops goes through MMC_PARALLEL_FOR, never a bare
 * `#pragma omp parallel for if (...)` (the threaded GEMM in src/ops/gemm.c, which needs
 * barriers and dynamic blocks, writes its regions out but keeps the same rule): libgomp mallocs (and frees) a team for every
 * parallel region it runs with one thread — an `if` clause that is false, or one thread
 * configured — and caches only multi-thread teams. A warm training step must not malloc
 * (DESIGN §3), so the serial case is decided here and runs as a plain loop, outside any
 * OpenMP construct.
 *
 *   MMC_PARALLEL_FOR(mmc_par_threads(N, 32768),
 *                    for (int64_t i = 0; i < N; i++) y[i] = f(x[i]));
 *
 * The first argument is the team size; the rest is one `for` statement (commas allowed;
 * the macro supplies its final semicolon).
 * With more than one thread it runs as `#pragma omp parallel for schedule(static)
 * num_threads(nt)`: static, so a thread's share of the iterations depends only on the
 * thread count (loops that keep per-thread partial sums rely on that for determinism),
 * and an explicit team size so every loop follows mmc_set_threads — OpenMP's own default
 * is per OS thread and may differ. Inside the loop, mmc_thread_id(nt) is the thread's
 * index in 0..nt-1. */

/* The team size for a loop over `work` elements: mmc_get_threads() when the work is
 * above `min_work` (below it, starting a team costs more than it saves), else 1. */
static inline int mmc_par_threads(int64_t work, int64_t min_work) {
    return work > min_work ? mmc_get_threads() : 1;
}

#ifdef _OPENMP
#include <omp.h>
#define MMC_PARALLEL_FOR(nt, ...)                                                   \
    do {                                                                            \
        const int mmc__nt = (nt);                                                   \
        if (mmc__nt > 1) {                                                          \
            _Pragma("omp parallel for schedule(static) num_threads(mmc__nt)")       \
            __VA_ARGS__;                                                            \
        } else {                                                                    \
            __VA_ARGS__;                                                            \
        }                                                                           \
    } while (0)
/* The same with iterations handed out one at a time as threads come free: for loops of
 * few, large iterations (a convolution's samples) on a shared machine, where a thread that
 * loses its core should leave its share to the others rather than hold everyone at the
 * end. Only for loops whose result does not depend on which thread ran an iteration. */
#define MMC_PARALLEL_FOR_DYNAMIC(nt, ...)                                           \
    do {                                                                            \
        const int mmc__nt = (nt);                                                   \
        if (mmc__nt > 1) {                                                          \
            _Pragma("omp parallel for schedule(dynamic, 1) num_threads(mmc__nt)")   \
            __VA_ARGS__;                                                            \
        } else {                                                                    \
            __VA_ARGS__;                                                            \
        }                                                                           \
    } while (0)
/* The calling thread's index in a loop run by MMC_PARALLEL_FOR(nt, ...). 0 when nt is 1:
 * the loop then runs on the caller, which may itself be a thread of someone else's
 * parallel region, so omp_get_thread_num() would not be in 0..nt-1. */
static inline int mmc_thread_id(int nt) { return nt > 1 ? omp_get_thread_num() : 0; }
#else
#define MMC_PARALLEL_FOR(nt, ...) \
    do {                          \
        (void)(nt);               \
        __VA_ARGS__;              \
    } while (0)
#define MMC_PARALLEL_FOR_DYNAMIC(nt, ...) MMC_PARALLEL_FOR(nt, __VA_ARGS__)
static inline int mmc_thread_id(int nt) { (void)nt; return 0; }
#endif

#endif

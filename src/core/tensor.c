/* tensor.c — tensors, the context (arena + tape), and the backward walk. */
#include "internal.h"
#include "mmc/ops.h"
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ shapes */

int64_t mmc_shape_numel(int ndim, const int *shape) {
    if (ndim < 0 || ndim > MMC_MAX_DIMS) return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] && n > INT64_MAX / 4 / shape[i]) return -1; /* keep bytes < 2^63 */
        n *= shape[i];
    }
    return n;
}

const char *mmc_shape_str(const mmc_tensor *t, char *buf, size_t n) {
    size_t off = 0;
    if (!buf || n == 0) return "";
    off += (size_t)snprintf(buf + off, n - off, "(");
    for (int i = 0; t && i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %d" : "%d", t->shape[i]);
    if (off < n) snprintf(buf + off, n - off, ")");
    return buf;
}

int mmc_tensor_same_shape(const mmc_tensor *a, const mmc_tensor *b) {
    if (!a || !b || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static void set_shape(mmc_tensor *t, int ndim, const int *shape, int64_t numel) {
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
}

/* -------------------------------------------------------------- persistent */

mmc_tensor *mmc_tensor_new(int ndim, const int *shape) {
    int64_t n = mmc_shape_numel(ndim, shape);
    if (n < 0) return NULL;
    mmc_tensor *t = mmc_malloc(sizeof *t);
    if (!t) return NULL;
    set_shape(t, ndim, shape, n);
    t->data = mmc_calloc((size_t)(n ? n : 1), sizeof(float));
    if (!t->data) { mmc_free(t); return NULL; }
    t->persistent = 1;
    return t;
}

void mmc_tensor_free(mmc_tensor *t) {
    if (!t || !t->persistent) return;
    mmc_qweight_free(t->quant);
    mmc_free(t->data);
    mmc_free(t->grad);
    mmc_free(t);
}

/* ------------------------------------------------------------------ arena */

void *mmc_scratch(mmc_ctx *ctx, size_t bytes) {
    void *p = mmc_arena_alloc(ctx->arena, bytes);
    if (!p)
        mmc_op_fail(ctx, MMC_ERR_RUNTIME, "out of memory: the step arena could not grow by %zu bytes",
                    bytes);
    return p;
}

mmc_tensor *mmc_tensor_empty(mmc_ctx *ctx, int ndim, const int *shape) {
    int64_t n = mmc_shape_numel(ndim, shape);
    if (n < 0) return mmc_op_fail(ctx, MMC_ERR_USAGE, "tensor: invalid shape (ndim %d)", ndim);
    mmc_tensor *t = mmc_scratch(ctx, sizeof *t);
    if (!t) return NULL;
    set_shape(t, ndim, shape, n);
    t->data = mmc_scratch(ctx, (size_t)n * sizeof(float));
    return t->data ? t : NULL;
}

mmc_tensor *mmc_tensor_zeros(mmc_ctx *ctx, int ndim, const int *shape) {
    mmc_tensor *t = mmc_tensor_empty(ctx, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * sizeof(float));
    return t;
}

mmc_tensor *mmc_tensor_from(mmc_ctx *ctx, int ndim, const int *shape, const float *src) {
    mmc_tensor *t = mmc_tensor_empty(ctx, ndim, shape);
    if (t && src) memcpy(t->data, src, (size_t)t->numel * sizeof(float));
    return t;
}

mmc_tensor *mmc_tensor_1d(mmc_ctx *ctx, int d0) { return mmc_tensor_zeros(ctx, 1, (int[]){d0}); }
mmc_tensor *mmc_tensor_2d(mmc_ctx *ctx, int d0, int d1) {
    return mmc_tensor_zeros(ctx, 2, (int[]){d0, d1});
}
mmc_tensor *mmc_tensor_3d(mmc_ctx *ctx, int d0, int d1, int d2) {
    return mmc_tensor_zeros(ctx, 3, (int[]){d0, d1, d2});
}
mmc_tensor *mmc_tensor_4d(mmc_ctx *ctx, int d0, int d1, int d2, int d3) {
    return mmc_tensor_zeros(ctx, 4, (int[]){d0, d1, d2, d3});
}

static void alloc_grad(mmc_ctx *ctx, mmc_tensor *t);

float *mmc_tensor_grad_to_write(mmc_ctx *ctx, mmc_tensor *view, int *fresh) {
    mmc_tensor *t = view;
    while (t->base) t = t->base;
    *fresh = 0;
    if (!t->grad && !t->persistent) { /* a new arena buffer: the caller writes every value */
        t->grad = mmc_arena_alloc_reuse(ctx->arena, (size_t)t->numel * sizeof(float));
        if (!t->grad) {
            mmc_op_fail(ctx, MMC_ERR_RUNTIME, "out of memory: the step arena could not grow by %zu bytes",
                        (size_t)t->numel * sizeof(float));
            return NULL;
        }
        *fresh = 1;
    }
    return mmc_tensor_grad(ctx, view);
}

float *mmc_tensor_grad(mmc_ctx *ctx, mmc_tensor *view) {
    mmc_tensor *t = view;
    while (t->base) t = t->base; /* a view's gradient is its base's (same layout) */
    if (!t->grad) alloc_grad(ctx, t);
    view->grad = t->grad;
    return t->grad;
}

static void alloc_grad(mmc_ctx *ctx, mmc_tensor *t) {
    if (t->persistent) {
        t->grad = mmc_calloc((size_t)(t->numel ? t->numel : 1), sizeof(float));
        if (!t->grad)
            mmc_op_fail(ctx, MMC_ERR_RUNTIME, "out of memory allocating the gradient of %s",
                        t->name ? t->name : "a parameter");
    } else {
        t->grad = mmc_arena_alloc_reuse(ctx->arena, (size_t)t->numel * sizeof(float));
        if (!t->grad)
            mmc_op_fail(ctx, MMC_ERR_RUNTIME, "out of memory: the step arena could not grow by %zu bytes",
                        (size_t)t->numel * sizeof(float));
        else
            memset(t->grad, 0, (size_t)t->numel * sizeof(float));
    }
}

void mmc_tensor_zero_grad(mmc_tensor *t) {
    if (t && t->grad) memset(t->grad, 0, (size_t)t->numel * sizeof(float));
}

/* -------------------------------------------------------------------- ctx */

mmc_ctx *mmc_ctx_new(void) {
    mmc_ctx *ctx = mmc_calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->arena = mmc_arena_new(16u << 20);
    ctx->tape_cap = 1024;
    ctx->tape = mmc_malloc(sizeof(mmc_node *) * (size_t)ctx->tape_cap);
    if (!ctx->arena || !ctx->tape) {
        mmc_ctx_free(ctx);
        return NULL;
    }
    ctx->grad_enabled = 1;
    return ctx;
}

void mmc_ctx_free(mmc_ctx *ctx) {
    if (!ctx) return;
    mmc_arena_free(ctx->arena);
    mmc_free(ctx->tape);
    mmc_free(ctx);
}

void mmc_ctx_reset(mmc_ctx *ctx) {
    /* Arena tensors die here; their grad pointers die with them. */
    ctx->tape_len = 0;
    mmc_arena_reset(ctx->arena);
    mmc_error_clear(&ctx->err);
}

mmc_ctx_mark mmc_ctx_tell(const mmc_ctx *ctx) {
    mmc_ctx_mark m = {mmc_arena_tell(ctx->arena), ctx->tape_len};
    return m;
}

mmc_tensor *mmc_ctx_keep(mmc_ctx *ctx, mmc_ctx_mark mark, mmc_tensor *keep) {
    if (!keep || keep->persistent || ctx->grad_enabled || ctx->tape_len != mark.tape_len) return keep;
    mmc_tensor t = *keep; /* the struct and its values may lie where they will be moved to */
    size_t bytes = (size_t)t.numel * sizeof(float);
    if (!mmc_arena_rewind(ctx->arena, mark.pos)) return keep;
    /* the values first, then the struct: d is at the mark or at the start of a later chunk,
     * never above t.data in t.data's chunk, so memmove is safe; the struct then goes after d,
     * over values already moved */
    float *d = mmc_arena_alloc(ctx->arena, bytes ? bytes : 1);
    if (!d) return keep; /* cannot happen: the same room was in use a moment ago */
    memmove(d, t.data, bytes);
    mmc_tensor *k = mmc_arena_alloc(ctx->arena, sizeof *k);
    if (!k) return keep;
    *k = t;
    k->data = d;
    k->base = NULL;
    k->grad = NULL;
    return k;
}

int mmc_grad_mode(mmc_ctx *ctx, int enabled) {
    int prev = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return prev;
}

/* ------------------------------------------------------------------- tape */

static int tape_push(mmc_ctx *ctx, mmc_node *n) {
    if (ctx->tape_len == ctx->tape_cap) {
        int cap = ctx->tape_cap * 2;
        mmc_node **t = mmc_realloc(ctx->tape, sizeof(mmc_node *) * (size_t)cap);
        if (!t) {
            mmc_op_fail(ctx, MMC_ERR_RUNTIME, "out of memory growing the autograd tape");
            return -1;
        }
        ctx->tape = t;
        ctx->tape_cap = cap;
    }
    ctx->tape[ctx->tape_len++] = n;
    return 0;
}

mmc_node *mmc_node_record_list(mmc_ctx *ctx, const char *op, mmc_tensor *out,
                               mmc_backward_fn bw, int n_in, mmc_tensor **ins) {
    if (!ctx->grad_enabled || !out) return NULL;
    int any = 0;
    for (int i = 0; i < n_in; i++) any |= ins[i] && ins[i]->requires_grad;
    if (!any) return NULL;
    mmc_node *n = mmc_scratch(ctx, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->op = op;
    n->backward = bw;
    n->out = out;
    n->n_in = n_in;
    if (n_in <= MMC_NODE_MAX_IN) {
        for (int i = 0; i < n_in; i++) n->in[i] = ins[i];
    }
    n->in_list = mmc_scratch(ctx, sizeof(mmc_tensor *) * (size_t)(n_in ? n_in : 1));
    if (!n->in_list) return NULL;
    for (int i = 0; i < n_in; i++) n->in_list[i] = ins[i];
    if (tape_push(ctx, n)) return NULL;
    out->requires_grad = 1;
    return n;
}

mmc_node *mmc_node_record(mmc_ctx *ctx, const char *op, mmc_tensor *out, mmc_backward_fn bw,
                          int n_in, ...) {
    mmc_tensor *ins[MMC_NODE_MAX_IN] = {0};
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in && i < MMC_NODE_MAX_IN; i++) ins[i] = va_arg(ap, mmc_tensor *);
    va_end(ap);
    if (n_in > MMC_NODE_MAX_IN) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: mmc_node_record takes at most %d inputs", op,
                    MMC_NODE_MAX_IN);
        return NULL;
    }
    return mmc_node_record_list(ctx, op, out, bw, n_in, ins);
}

static mmc_tensor *root(mmc_tensor *t) {
    while (t->base) t = t->base;
    return t;
}

/* Intermediate results (node outputs) start each backward with no gradient, so calling
 * backward twice on one tape accumulates only into leaves (parameters, inputs), as
 * PyTorch does with retain_graph=True. */
static void clear_intermediate_grads(mmc_ctx *ctx) {
    for (int i = 0; i < ctx->tape_len; i++)
        if (!ctx->tape[i]->out->persistent) ctx->tape[i]->out->grad = NULL;
}

static int run_tape(mmc_ctx *ctx, const mmc_tensor *seeded) {
    int prev = mmc_grad_mode(ctx, 0); /* backward functions record nothing */
    for (int i = ctx->tape_len - 1; i >= 0; i--) {
        mmc_node *n = ctx->tape[i];
        if (!root(n->out)->grad) continue; /* no gradient reached this node */
        if (!n->out->grad && n->out->base) n->out->grad = root(n->out)->grad;
        n->backward(ctx, n);
        if (ctx->err.code) break;
        /* The op that made out has passed its gradient on: nothing later in this walk reads
         * it (its consumers came after it on the tape), so its buffer can serve an earlier
         * op's input. A view's buffer is its base's, kept until the base's op has run. The
         * walk's own result — the gradient of the seed tensor — is kept. */
        mmc_tensor *o = n->out;
        if (!o->persistent && !o->base && o != seeded && o->grad) {
            mmc_arena_recycle(ctx->arena, o->grad, (size_t)o->numel * sizeof(float));
            o->grad = NULL;
        }
    }
    mmc_grad_mode(ctx, prev);
    return ctx->err.code;
}

int mmc_backward_with(mmc_ctx *ctx, mmc_tensor *out, const float *seed) {
    if (!out)
        return mmc_error_set(&ctx->err, MMC_ERR_USAGE, "backward: output is NULL%s",
                             ctx->err.code ? " (an earlier op failed)" : "");
    if (!out->requires_grad)
        return mmc_error_set(&ctx->err, MMC_ERR_USAGE, "backward: output does not require grad");
    clear_intermediate_grads(ctx);
    float *g = mmc_tensor_grad(ctx, out);
    if (!g) return ctx->err.code;
    for (int64_t i = 0; i < out->numel; i++) g[i] += seed[i];
    return run_tape(ctx, out);
}

int mmc_backward(mmc_ctx *ctx, mmc_tensor *loss) {
    if (!loss)
        return mmc_error_set(&ctx->err, MMC_ERR_USAGE, "backward: loss is NULL%s",
                             ctx->err.code ? " (an earlier op failed)" : "");
    if (loss->numel != 1) {
        char b[64];
        return mmc_error_set(&ctx->err, MMC_ERR_USAGE,
                             "backward: loss must have one element, got shape %s",
                             mmc_shape_str(loss, b, sizeof b));
    }
    if (!loss->requires_grad)
        return mmc_error_set(&ctx->err, MMC_ERR_USAGE,
                             "backward: loss does not require grad (no parameter reached it, or "
                             "it was computed in a no-grad scope)");
    clear_intermediate_grads(ctx);
    float *g = mmc_tensor_grad(ctx, loss);
    if (!g) return ctx->err.code;
    g[0] += 1.0f;
    return run_tape(ctx, loss);
}

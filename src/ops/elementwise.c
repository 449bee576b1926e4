/* elementwise.c — binary ops with numpy broadcasting, and unary maps.
 *
 * Broadcasting: shapes are right-aligned and padded to 5 dims with leading 1s; a dim of
 * size 1 is stretched (stride 0). The backward of a broadcast input sums the output
 * gradient over the stretched dims, which falls out of accumulating with the same
 * (zero) strides. Same-shape operands take a flat, OpenMP-parallel fast path. */
#include "internal.h"
#include "mmc/ops.h"
#include "vmath.h"
#include <math.h>
#include <string.h>

#define D MMC_MAX_DIMS

typedef struct bcast {
    int shape[D];        /* output shape, padded to 5 dims */
    int64_t sa[D], sb[D]; /* element strides of a and b in the padded output space */
    int ndim;            /* output ndim (unpadded) */
    int same;            /* a, b, out all the same shape */
} bcast;

static int broadcast(mmc_ctx *ctx, const char *op, const mmc_tensor *a, const mmc_tensor *b, bcast *bc) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    bc->ndim = nd;
    bc->same = mmc_tensor_same_shape(a, b);
    int64_t stra = 1, strb = 1;
    for (int i = D - 1; i >= 0; i--) {
        int k = D - 1 - i; /* position from the right */
        int da = k < a->ndim ? a->shape[a->ndim - 1 - k] : 1;
        int db = k < b->ndim ? b->shape[b->ndim - 1 - k] : 1;
        if (da != db && da != 1 && db != 1) {
            char s1[64], s2[64];
            mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: shapes %s and %s do not broadcast", op,
                        mmc_shape_str(a, s1, sizeof s1), mmc_shape_str(b, s2, sizeof s2));
            return -1;
        }
        bc->shape[i] = da > db ? da : db;
        if (da == 0 || db == 0) bc->shape[i] = 0;
        bc->sa[i] = da == 1 ? 0 : stra;
        bc->sb[i] = db == 1 ? 0 : strb;
        stra *= da;
        strb *= db;
    }
    return 0;
}

/* Iterates the padded output index space, calling body(o, ia, ib) in order. */
#define BCAST_LOOP(bc, body)                                                              \
    do {                                                                                  \
        int64_t o = 0;                                                                    \
        for (int i0 = 0; i0 < (bc)->shape[0]; i0++)                                       \
            for (int i1 = 0; i1 < (bc)->shape[1]; i1++)                                   \
                for (int i2 = 0; i2 < (bc)->shape[2]; i2++)                               \
                    for (int i3 = 0; i3 < (bc)->shape[3]; i3++) {                         \
                        int64_t ia = i0 * (bc)->sa[0] + i1 * (bc)->sa[1] + i2 * (bc)->sa[2] + i3 * (bc)->sa[3]; \
                        int64_t ib = i0 * (bc)->sb[0] + i1 * (bc)->sb[1] + i2 * (bc)->sb[2] + i3 * (bc)->sb[3]; \
                        for (int i4 = 0; i4 < (bc)->shape[4]; i4++, o++) {                \
                            int64_t ja = ia + i4 * (bc)->sa[4], jb = ib + i4 * (bc)->sb[4]; \
                            body;                                                         \
                        }                                                                 \
                    }                                                                     \
    } while (0)

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };

/* Same-shape operands: the kind is chosen once per chunk and each loop is a plain vector
 * loop (the per-element switch kept GCC from vectorising). Chunks of BCHUNK elements go to
 * threads as they come free (each element is computed the same way whoever takes it). */
#define BCHUNK 8192

static void binary_run(int kind, const float *restrict A, const float *restrict B, float *restrict O,
                       int64_t n) {
    switch (kind) {
    case OP_ADD:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) O[i] = A[i] + B[i];
        break;
    case OP_SUB:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) O[i] = A[i] - B[i];
        break;
    case OP_MUL:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) O[i] = A[i] * B[i];
        break;
    default:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) O[i] = A[i] / B[i];
        break;
    }
}

/* One operand's gradient over a chunk: ga += g (sign +1 / -1), g·other, or the quotient
 * rules. a and b may be the same tensor (x + x): each gradient is its own loop, so the
 * per-element order of the additions is that of the element-by-element code before. */
enum { BG_PLUS, BG_MINUS, BG_TIMES, BG_DIV_A, BG_DIV_B };

static void binary_grad_run(int how, const float *restrict g, const float *restrict A,
                            const float *restrict B, float *restrict gx, int64_t n) {
    switch (how) {
    case BG_PLUS:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] += g[i];
        break;
    case BG_MINUS:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] -= g[i];
        break;
    case BG_TIMES: /* gx += g · other (B here is the other operand) */
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] += g[i] * B[i];
        break;
    case BG_DIV_A:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] += g[i] / B[i];
        break;
    default: /* BG_DIV_B */
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] -= g[i] * A[i] / (B[i] * B[i]);
        break;
    }
}

static void binary_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0], *b = n->in[1], *out = n->out;
    bcast *bc = n->saved;
    int kind = n->ia[0];
    const float *g = out->grad, *A = a->data, *B = b->data;
    float *ga = mmc_needs_grad(a) ? mmc_tensor_grad(ctx, a) : NULL;
    float *gb = mmc_needs_grad(b) ? mmc_tensor_grad(ctx, b) : NULL;
    if (ctx->err.code) return;
    if (bc->same) {
        int64_t N = out->numel, nch = (N + BCHUNK - 1) / BCHUNK;
        int how_a = kind == OP_MUL ? BG_TIMES : kind == OP_DIV ? BG_DIV_A : BG_PLUS;
        int how_b = kind == OP_MUL ? BG_TIMES : kind == OP_DIV ? BG_DIV_B : kind == OP_SUB ? BG_MINUS : BG_PLUS;
        MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(N, 32768),
            for (int64_t c = 0; c < nch; c++) {
                int64_t i = c * BCHUNK, len = N - i < BCHUNK ? N - i : BCHUNK;
                if (ga) binary_grad_run(how_a, g + i, A + i, B + i, ga + i, len);
                /* for b, "the other operand" of a product is A */
                if (gb) binary_grad_run(how_b, g + i, A + i, kind == OP_MUL ? A + i : B + i, gb + i, len);
            });
        return;
    }
    BCAST_LOOP(bc, {
        float gi = g[o];
        switch (kind) {
        case OP_ADD: if (ga) ga[ja] += gi; if (gb) gb[jb] += gi; break;
        case OP_SUB: if (ga) ga[ja] += gi; if (gb) gb[jb] -= gi; break;
        case OP_MUL: if (ga) ga[ja] += gi * B[jb]; if (gb) gb[jb] += gi * A[ja]; break;
        case OP_DIV: if (ga) ga[ja] += gi / B[jb]; if (gb) gb[jb] -= gi * A[ja] / (B[jb] * B[jb]); break;
        }
    });
}

static mmc_tensor *binary(mmc_ctx *ctx, const char *op, int kind, mmc_tensor *a, mmc_tensor *b) {
    MMC_CHECK_INPUTS(ctx, op, a, b);
    bcast *bc = mmc_scratch(ctx, sizeof *bc);
    if (!bc || broadcast(ctx, op, a, b, bc)) return NULL;
    mmc_tensor *out = mmc_tensor_empty(ctx, bc->ndim, bc->shape + (D - bc->ndim));
    if (!out) return NULL;
    float *O = out->data;
    const float *A = a->data, *B = b->data;
    if (bc->same) {
        int64_t N = out->numel, nch = (N + BCHUNK - 1) / BCHUNK;
        MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(N, 32768),
            for (int64_t c = 0; c < nch; c++) {
                int64_t i = c * BCHUNK;
                binary_run(kind, A + i, B + i, O + i, N - i < BCHUNK ? N - i : BCHUNK);
            });
    } else {
        BCAST_LOOP(bc, {
            switch (kind) {
            case OP_ADD: O[o] = A[ja] + B[jb]; break;
            case OP_SUB: O[o] = A[ja] - B[jb]; break;
            case OP_MUL: O[o] = A[ja] * B[jb]; break;
            default: O[o] = A[ja] / B[jb]; break;
            }
        });
    }
    mmc_node *n = mmc_node_record(ctx, op, out, binary_backward, 2, a, b);
    if (n) {
        n->saved = bc;
        n->ia[0] = kind;
    }
    return out;
}

mmc_tensor *mmc_add(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b) { return binary(ctx, "add", OP_ADD, a, b); }
mmc_tensor *mmc_sub(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b) { return binary(ctx, "sub", OP_SUB, a, b); }
mmc_tensor *mmc_mul(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b) { return binary(ctx, "mul", OP_MUL, a, b); }
mmc_tensor *mmc_div(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b) { return binary(ctx, "div", OP_DIV, a, b); }

/* ------------------------------------------------------------------ unary maps */

enum { U_SCALE, U_ADDS, U_EXP, U_LOG, U_SQRT, U_POW, U_RELU, U_GELU, U_GELU_TANH, U_QGELU, U_SIGMOID, U_TANH };

#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

static inline float fwd(int k, float x, float p) {
    switch (k) {
    case U_SCALE: return x * p;
    case U_ADDS: return x + p;
    case U_EXP: return expf(x);
    case U_LOG: return logf(x);
    case U_SQRT: return sqrtf(x);
    case U_POW: return powf(x, p);
    case U_RELU: return x > 0 ? x : 0;
    case U_GELU: return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    case U_GELU_TANH: return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
    case U_QGELU: return x / (1.0f + expf(-1.702f * x));
    case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
    default: return tanhf(x); /* U_TANH */
    }
}

/* quick_gelu runs through vmath.c's vector kernels in chunks of this many elements (a
 * multiple of 16, so only the last chunk has a tail) */
#define VCHUNK 4096

/* d out / d x, given input x and output y */
static inline float deriv(int k, float x, float y, float p) {
    switch (k) {
    case U_SCALE: return p;
    case U_ADDS: return 1.0f;
    case U_EXP: return y;
    case U_LOG: return 1.0f / x;
    case U_SQRT: return 0.5f / y;
    case U_POW: return p * powf(x, p - 1.0f);
    case U_RELU: return x > 0 ? 1.0f : 0.0f;
    case U_GELU: return 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT_2PI * expf(-0.5f * x * x);
    case U_GELU_TANH: {
        float u = SQRT_2_OVER_PI * (x + 0.044715f * x * x * x), t = tanhf(u);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x * x);
    }
    case U_QGELU: {
        float s = 1.0f / (1.0f + expf(-1.702f * x));
        return s + 1.702f * x * s * (1.0f - s);
    }
    case U_SIGMOID: return y * (1.0f - y);
    default: return 1.0f - y * y; /* U_TANH */
    }
}

static void unary_backward(mmc_ctx *ctx, mmc_node *n) {
    mmc_tensor *a = n->in[0], *out = n->out;
    float *ga = mmc_tensor_grad(ctx, a);
    if (!ga) return;
    const float *g = out->grad, *x = a->data, *y = out->data;
    int k = n->ia[0];
    float p = n->fa[0];
    int64_t N = out->numel;
    if (k == U_QGELU) { /* vectorised (vmath.c), in chunks spread over the threads */
        int64_t nch = (N + VCHUNK - 1) / VCHUNK;
        MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(N, 32768),
            for (int64_t c = 0; c < nch; c++) {
                int64_t i = c * VCHUNK, len = N - i < VCHUNK ? N - i : VCHUNK;
                mmc_vqgelu_backward(x + i, g + i, ga + i, len);
            });
        return;
    }
    MMC_PARALLEL_FOR(mmc_par_threads(N, 32768),
        for (int64_t i = 0; i < N; i++) ga[i] += g[i] * deriv(k, x[i], y[i], p));
}

static mmc_tensor *unary(mmc_ctx *ctx, const char *op, int k, mmc_tensor *a, float p) {
    MMC_CHECK_INPUTS(ctx, op, a);
    mmc_tensor *out = mmc_tensor_empty(ctx, a->ndim, a->shape);
    if (!out) return NULL;
    const float *x = a->data;
    float *y = out->data;
    int64_t N = a->numel;
    if (k == U_QGELU) {
        int64_t nch = (N + VCHUNK - 1) / VCHUNK;
        MMC_PARALLEL_FOR_DYNAMIC(mmc_par_threads(N, 32768),
            for (int64_t c = 0; c < nch; c++) {
                int64_t i = c * VCHUNK;
                mmc_vqgelu(x + i, y + i, N - i < VCHUNK ? N - i : VCHUNK);
            });
    } else {
        MMC_PARALLEL_FOR(mmc_par_threads(N, 32768),
            for (int64_t i = 0; i < N; i++) y[i] = fwd(k, x[i], p));
    }
    mmc_node *n = mmc_node_record(ctx, op, out, unary_backward, 1, a);
    if (n) {
        n->ia[0] = k;
        n->fa[0] = p;
    }
    return out;
}

mmc_tensor *mmc_scale(mmc_ctx *ctx, mmc_tensor *a, float s) { return unary(ctx, "scale", U_SCALE, a, s); }
mmc_tensor *mmc_add_scalar(mmc_ctx *ctx, mmc_tensor *a, float s) { return unary(ctx, "add_scalar", U_ADDS, a, s); }
mmc_tensor *mmc_exp(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "exp", U_EXP, a, 0); }
mmc_tensor *mmc_log(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "log", U_LOG, a, 0); }
mmc_tensor *mmc_sqrt(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "sqrt", U_SQRT, a, 0); }
mmc_tensor *mmc_pow(mmc_ctx *ctx, mmc_tensor *a, float p) { return unary(ctx, "pow", U_POW, a, p); }
mmc_tensor *mmc_relu(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "relu", U_RELU, a, 0); }
mmc_tensor *mmc_gelu(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "gelu", U_GELU, a, 0); }
mmc_tensor *mmc_gelu_tanh(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "gelu_tanh", U_GELU_TANH, a, 0); }
mmc_tensor *mmc_quick_gelu(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "quick_gelu", U_QGELU, a, 0); }
mmc_tensor *mmc_sigmoid(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "sigmoid", U_SIGMOID, a, 0); }
mmc_tensor *mmc_tanh(mmc_ctx *ctx, mmc_tensor *a) { return unary(ctx, "tanh", U_TANH, a, 0); }

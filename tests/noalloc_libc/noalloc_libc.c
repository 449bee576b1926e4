/* noalloc_libc.c — counts every heap allocation of a warm training step, including those
 * of OpenBLAS, libgomp and libc itself, by defining malloc and friends in this executable:
 * the dynamic linker binds every library's malloc to these, and they forward to glibc's
 * __libc_* entry points. (Not built for sanitizer builds, which replace malloc
 * themselves.) Two workloads: the tiny CNN of the parity tests, and a wider MLP whose
 * matrix products are large enough for OpenBLAS to use its thread pool.
 *
 * Exit 0 when the counted steps allocate nothing; 1 otherwise, listing the callers
 * (return addresses resolved with dladdr) of the first allocations seen. */
#define _GNU_SOURCE
#include "mmc.h"
#include "tiny_models.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t s);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

#define MAX_SEEN 16
static atomic_int g_counting;
static atomic_ullong g_count;
static void *g_seen[MAX_SEEN]; /* callers of the first allocations while counting */
static const char *g_seen_fn[MAX_SEEN];

static void note(const char *fn, void *caller) {
    if (!atomic_load(&g_counting)) return;
    unsigned long long k = atomic_fetch_add(&g_count, 1);
    if (k < MAX_SEEN) {
        g_seen[k] = caller;
        g_seen_fn[k] = fn;
    }
}

void *malloc(size_t n) {
    note("malloc", __builtin_return_address(0));
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t s) {
    note("calloc", __builtin_return_address(0));
    return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n) {
    note("realloc", __builtin_return_address(0));
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) {
    note("memalign", __builtin_return_address(0));
    return __libc_memalign(a, n);
}
void *aligned_alloc(size_t a, size_t n) {
    note("aligned_alloc", __builtin_return_address(0));
    return __libc_memalign(a, n);
}
int posix_memalign(void **out, size_t a, size_t n) {
    note("posix_memalign", __builtin_return_address(0));
    if (a < sizeof(void *) || (a & (a - 1))) return EINVAL;
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* The wide MLP: x (64, 256) -> 512 relu -> 10, cross-entropy. */
typedef struct wide {
    mmc_tensor *p[4];
} wide;

static mmc_tensor *wide_forward(mmc_ctx *ctx, wide *w, mmc_tensor *x) {
    return mmc_linear(ctx, mmc_relu(ctx, mmc_linear(ctx, x, w->p[0], w->p[1])), w->p[2], w->p[3]);
}

/* Runs warm + counted steps of one model; returns the allocations seen while counting,
 * or -1 on an error. */
static long long run(const char *what, int kind) {
    mmc_error err = {0};
    tiny_model m;
    wide w = {{0}};
    mmc_tensor **params;
    int nparams, bs, in_shape[4], nd, nclass;
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    if (kind >= 0) {
        if (tiny_model_init(&m, kind, 3, &err)) { fprintf(stderr, "%s: %s\n", what, err.msg); return -1; }
        params = m.t;
        nparams = m.nparams;
        bs = 4, nd = 4, nclass = 3;
        memcpy(in_shape, (int[]){4, 3, 8, 8}, sizeof in_shape);
    } else {
        const int shapes[4][2] = {{512, 256}, {512, 0}, {10, 512}, {10, 0}};
        for (int i = 0; i < 4; i++) {
            w.p[i] = mmc_tensor_new(shapes[i][1] ? 2 : 1, shapes[i]);
            if (!w.p[i]) return -1;
            mmc_rng_fill_normal(&rng, w.p[i]->data, w.p[i]->numel, 0.0f, 0.05f);
            w.p[i]->requires_grad = 1;
        }
        params = w.p;
        nparams = 4;
        bs = 64, nd = 2, nclass = 10;
        memcpy(in_shape, (int[]){64, 256, 0, 0}, sizeof in_shape);
    }
    static float x[64 * 256];
    int y[64];
    mmc_rng_fill_normal(&rng, x, 64 * 256, 0.0f, 1.0f);
    for (int i = 0; i < bs; i++) y[i] = (int)mmc_rng_below(&rng, (uint32_t)nclass);
    mmc_optim *opt = mmc_optim_adamw(params, nparams, mmc_adamw_defaults(1e-3f), &err);
    mmc_ctx *ctx = mmc_ctx_new();
    if (!opt || !ctx) { fprintf(stderr, "%s: setup failed: %s\n", what, err.msg); return -1; }
    long long seen = 0;
    for (int step = 0; step < 6; step++) {
        if (step == 3) { /* three warm-up steps, then count three */
            atomic_store(&g_count, 0);
            atomic_store(&g_counting, 1);
        }
        mmc_optim_zero_grad(opt);
        mmc_tensor *xb = mmc_tensor_from(ctx, nd, in_shape, x);
        mmc_tensor *logits = kind >= 0 ? tiny_model_forward(ctx, &m, xb) : wide_forward(ctx, &w, xb);
        mmc_tensor *loss = mmc_cross_entropy(ctx, logits, y, -100, 0.0f);
        int rc = loss ? mmc_backward(ctx, loss) : ctx->err.code;
        if (rc) {
            atomic_store(&g_counting, 0);
            fprintf(stderr, "%s: step %d: %s\n", what, step, ctx->err.msg);
            return -1;
        }
        mmc_clip_grad_norm(params, nparams, 1.0f);
        mmc_optim_step(opt);
        mmc_ctx_reset(ctx);
    }
    atomic_store(&g_counting, 0);
    seen = (long long)atomic_load(&g_count);
    printf("%s: %lld allocations in 3 warm training steps (%d threads)\n", what, seen, mmc_get_threads());
    for (long long i = 0; i < seen && i < MAX_SEEN; i++) {
        Dl_info info;
        if (dladdr(g_seen[i], &info) && info.dli_fname)
            printf("  %s from %s (%s+%#lx)\n", g_seen_fn[i], info.dli_sname ? info.dli_sname : "?",
                   info.dli_fname, (unsigned long)((char *)g_seen[i] - (char *)info.dli_fbase));
        else
            printf("  %s from %p\n", g_seen_fn[i], g_seen[i]);
    }
    mmc_ctx_free(ctx);
    mmc_optim_free(opt);
    if (kind >= 0) tiny_model_free(&m);
    for (int i = 0; i < 4; i++) mmc_tensor_free(w.p[i]);
    return seen;
}

int main(void) {
    mmc_set_threads(0); /* $MMC_THREADS (ctest sets 2) */
    long long a = run("tiny cnn", TINY_CNN);
    long long b = run("wide mlp (64x256 -> 512 -> 10)", -1);
    if (a < 0 || b < 0) return 1;
    return a == 0 && b == 0 ? 0 : 1;
}

/* noalloc_libc.c — counts every heap allocation of a warm training step, including those
 * of OpenBLAS, libgomp and libc itself, by defining malloc and friends in this executable:
 * the dynamic linker binds every library's malloc to these, and they forward to glibc's
 * __libc_* entry points. (Not built for sanitizer builds, which replace malloc
 * themselves.) Two workloads: the tiny CNN of the parity tests, and a wider MLP whose
 * matrix products are large enough for OpenBLAS to use its thread pool.
 *
 * Each allocation is attributed to the library that called malloc (dladdr on the return
 * address). The test fails if anything other than libgomp or OpenBLAS allocates — i.e.
 * libmmc (linked statically into this executable) or libc on its behalf. What libgomp
 * and OpenBLAS allocate is printed, not failed on, because it is known and not ours to
 * remove from here (docs/performance.md, "Allocation"):
 *   - libgomp mallocs a team for every `#pragma omp parallel` it runs serially (an `if`
 *     clause that is false, or one thread); it caches only multi-thread teams.
 *   - OpenBLAS (pthread build, 0.3.21) mallocs its job array on every threaded sgemm.
 * Run with --strict to fail on those too, or with --strict-gomp to fail on libgomp's
 * but not OpenBLAS's (the ops and the optimizers run a loop serially without entering
 * OpenMP, so libgomp allocates nothing in a warm step: see MMC_PARALLEL_FOR).
 * Thread counts may follow the option (`--strict-gomp 1 2` runs both workloads at 1,
 * then at 2 threads); by default $MMC_THREADS. */
#define _GNU_SOURCE
#include "mmc.h"
#include "tiny_models.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t s);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

/* Callers are only recorded here (no dladdr inside malloc, which OpenBLAS's threads may
 * call concurrently); they are attributed once counting stops. */
#define MAX_SEEN 4096
static atomic_int g_counting;
static atomic_ullong g_count;
static void *g_seen[MAX_SEEN];
static const char *g_seen_fn[MAX_SEEN];

static void note(const char *fn, void *caller) {
    if (!atomic_load(&g_counting)) return;
    unsigned long long k = atomic_fetch_add(&g_count, 1);
    if (k < MAX_SEEN) {
        g_seen[k] = caller;
        g_seen_fn[k] = fn;
    }
}

enum { FROM_MMC, FROM_GOMP, FROM_BLAS, NFROM };
static const char *const FROM_NAME[NFROM] = {"libmmc/libc", "libgomp", "OpenBLAS"};

static int attribute(void *caller, Dl_info *info) {
    if (!dladdr(caller, info) || !info->dli_fname) return FROM_MMC;
    if (strstr(info->dli_fname, "libgomp")) return FROM_GOMP;
    if (strstr(info->dli_fname, "openblas")) return FROM_BLAS;
    return FROM_MMC; /* this executable (libmmc is linked in statically), libc, ... */
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

/* What fails the test: libmmc/libc only (the default), that and libgomp, or everything. */
enum { STRICT_MMC, STRICT_GOMP, STRICT_ALL };

/* Runs warm + counted steps of one model; returns the failing allocations seen while
 * counting, or -1 on an error. */
static long long run(const char *what, int kind, int strict) {
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
    long long total = (long long)atomic_load(&g_count), by[NFROM] = {0};
    for (long long i = 0; i < total; i++) {
        Dl_info info;
        int from = i < MAX_SEEN ? attribute(g_seen[i], &info) : FROM_MMC;
        by[from]++;
        if (from == FROM_MMC && i < MAX_SEEN)
            printf("  %s called from %s (%s+%#lx)\n", g_seen_fn[i],
                   info.dli_sname ? info.dli_sname : "?", info.dli_fname ? info.dli_fname : "?",
                   info.dli_fbase ? (unsigned long)((char *)g_seen[i] - (char *)info.dli_fbase) : 0ul);
    }
    printf("%s: %lld allocations in 3 warm training steps (%d threads):", what, total, mmc_get_threads());
    for (int f = 0; f < NFROM; f++) printf(" %s %lld%s", FROM_NAME[f], by[f], f + 1 < NFROM ? "," : "\n");
    seen = strict == STRICT_ALL ? total : by[FROM_MMC] + (strict == STRICT_GOMP ? by[FROM_GOMP] : 0);
    mmc_ctx_free(ctx);
    mmc_optim_free(opt);
    if (kind >= 0) tiny_model_free(&m);
    for (int i = 0; i < 4; i++) mmc_tensor_free(w.p[i]);
    return seen;
}

int main(int argc, char **argv) {
    int strict = STRICT_MMC, arg = 1;
    if (argc > 1 && !strcmp(argv[1], "--strict")) strict = STRICT_ALL, arg++;
    else if (argc > 1 && !strcmp(argv[1], "--strict-gomp")) strict = STRICT_GOMP, arg++;
    static const char *const WHO[] = {"libmmc", "libmmc or libgomp", "something"};
    int fail = 0;
    do { /* once per thread count given, or once at $MMC_THREADS (ctest sets it) */
        mmc_set_threads(arg < argc ? atoi(argv[arg]) : 0);
        long long a = run("tiny cnn", TINY_CNN, strict);
        long long b = run("wide mlp (64x256 -> 512 -> 10)", -1, strict);
        if (a < 0 || b < 0) return 1;
        if (a || b) {
            printf("FAIL: %s allocated in a warm training step (%d threads)\n", WHO[strict],
                   mmc_get_threads());
            fail = 1;
        }
    } while (++arg < argc);
    return fail;
}

/* bench.c — `mmc bench WORKLOAD [--threads T] [--steps N] [--json]`: times one workload
 * through the public API, so the number is what a model would see (arena, tape and all),
 * and reports it beside peak RSS. bench/torch/ops.py runs the same workloads in PyTorch
 * with the same warm-up and step counts; bench/run.sh puts the two side by side. */
#include "cli.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct bench_result {
    double seconds; /* over the timed steps */
    double flops;   /* per step */
} bench_result;

typedef int (*bench_fn)(int warmup, int steps, bench_result *r, mmc_error *err);

/* C = A·B, n×n, through mmc_matmul with grad mode off: one cblas_sgemm plus the arena. */
static int gemm(int n, int warmup, int steps, bench_result *r, mmc_error *err) {
    mmc_tensor *a = mmc_tensor_new(2, (int[]){n, n}), *b = mmc_tensor_new(2, (int[]){n, n});
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = MMC_OK;
    if (!a || !b || !ctx) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for %dx%d matrices", n, n);
        goto done;
    }
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_rng_fill_uniform(&rng, a->data, a->numel, -1.0f, 1.0f);
    mmc_rng_fill_uniform(&rng, b->data, b->numel, -1.0f, 1.0f);
    mmc_grad_mode(ctx, 0);
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = mmc_now();
        if (!mmc_matmul(ctx, a, b, 0, 0)) {
            rc = mmc_error_set(err, ctx->err.code, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_ctx_reset(ctx);
    }
    r->seconds = mmc_now() - t0;
    r->flops = 2.0 * n * n * n;
done:
    mmc_ctx_free(ctx);
    mmc_tensor_free(a);
    mmc_tensor_free(b);
    return rc;
}

static int gemm_1024(int w, int s, bench_result *r, mmc_error *e) { return gemm(1024, w, s, r, e); }
static int gemm_2048(int w, int s, bench_result *r, mmc_error *e) { return gemm(2048, w, s, r, e); }

/* conv2d forward + backward (grad of input, weight and bias), batch 32 of 64×64×64,
 * 64 output channels, 3×3, padding 1. Counted as three GEMM-sized products (forward,
 * dL/dW, dL/dX) of 2·B·OC·OH·OW·C·9 each; the bias and the seed add are not counted. */
static int conv2d_train(int warmup, int steps, bench_result *r, mmc_error *err) {
    enum { B = 32, C = 64, HW = 64, OC = 64, K = 3 };
    mmc_tensor *x = mmc_tensor_new(4, (int[]){B, C, HW, HW});
    mmc_tensor *w = mmc_tensor_new(4, (int[]){OC, C, K, K});
    mmc_tensor *bias = mmc_tensor_new(1, (int[]){OC});
    float *seed = mmc_malloc(sizeof(float) * (size_t)B * OC * HW * HW);
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = MMC_OK;
    if (!x || !w || !bias || !seed || !ctx) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for the conv2d-train tensors");
        goto done;
    }
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_rng_fill_normal(&rng, x->data, x->numel, 0.0f, 1.0f);
    mmc_rng_fill_normal(&rng, w->data, w->numel, 0.0f, 0.05f);
    mmc_rng_fill_normal(&rng, seed, (int64_t)B * OC * HW * HW, 0.0f, 1.0f);
    x->requires_grad = w->requires_grad = bias->requires_grad = 1;
    mmc_conv2d_opts o = mmc_conv2d_defaults();
    o.pad_h = o.pad_w = 1;
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = mmc_now();
        mmc_tensor *out = mmc_conv2d(ctx, x, w, bias, o);
        /* gradients accumulate across steps, as in the PyTorch script (no zero_grad) */
        if (!out || mmc_backward_with(ctx, out, seed) != MMC_OK) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s",
                               ctx->err.msg);
            goto done;
        }
        mmc_ctx_reset(ctx);
    }
    r->seconds = mmc_now() - t0;
    r->flops = 3.0 * 2.0 * B * OC * HW * HW * C * K * K;
done:
    mmc_ctx_free(ctx);
    mmc_free(seed);
    mmc_tensor_free(x);
    mmc_tensor_free(w);
    mmc_tensor_free(bias);
    return rc;
}

static const struct {
    const char *name;
    bench_fn run;
    int warmup, steps; /* defaults: each timed run takes about a second or two */
} WORKLOADS[] = {
    {"gemm-1024", gemm_1024, 3, 20},
    {"gemm-2048", gemm_2048, 1, 5},
    {"conv2d-train", conv2d_train, 1, 3},
};
#define NWORKLOADS (int)(sizeof WORKLOADS / sizeof WORKLOADS[0])

/* A positive int, or -1. */
static int parse_pos(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > INT_MAX) return -1;
    return (int)v;
}

int cmd_bench(int argc, char **argv) {
    const char *name = NULL;
    int threads = 0, steps = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--steps")) {
            if (i + 1 >= argc) return cli_error(1, "bench: %s needs a value", a);
            int v = parse_pos(argv[++i]);
            if (v < 0) return cli_error(1, "bench: %s wants a positive integer, got '%s'", a, argv[i]);
            if (a[2] == 't') threads = v;
            else steps = v;
        } else if (a[0] == '-') {
            return cli_error(1, "bench: unknown option '%s' (see: mmc help bench)", a);
        } else if (!name) {
            name = a;
        } else {
            return cli_error(1, "bench: one workload at a time (got '%s' and '%s')", name, a);
        }
    }
    if (!name) return cli_error(1, "bench: missing WORKLOAD (gemm-1024, gemm-2048, conv2d-train)");
    int k = -1;
    for (int i = 0; i < NWORKLOADS; i++)
        if (!strcmp(name, WORKLOADS[i].name)) k = i;
    if (k < 0)
        return cli_error(1, "bench: unknown workload '%s' (gemm-1024, gemm-2048, conv2d-train)", name);
    if (threads) mmc_set_threads(threads);
    threads = mmc_get_threads();
    if (!steps) steps = WORKLOADS[k].steps;

    bench_result r = {0};
    mmc_error err = {0};
    if (WORKLOADS[k].run(WORKLOADS[k].warmup, steps, &r, &err) != MMC_OK) return cli_error_from(&err);
    double rate = r.flops * steps / (r.seconds > 0 ? r.seconds : 1e-9) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
    if (json)
        printf("{\"workload\": \"%s\", \"rate\": %.2f, \"unit\": \"GFLOP/s\", \"threads\": %d, "
               "\"peak_rss_mb\": %.1f}\n",
               name, rate, threads, rss_mb);
    else
        printf("%s: %.1f GFLOP/s (%d threads, %d steps of %.1f ms, peak RSS %.0f MB)\n", name, rate,
               threads, steps, 1e3 * r.seconds / steps, rss_mb);
    return 0;
}

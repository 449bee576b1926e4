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
    double items;   /* per step, for workloads measured in items/s (0: GFLOP/s) */
    const char *unit;
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

/* DESIGN §7 retrieval-train: one AdamW step of the dual encoder on random data.
 * image: ResNet-18 layout (2-2-2-2 basic blocks, widths 32-64-128-256, 3×3 stride-1 stem,
 * BatchNorm, global average pool, linear to 256) on 64×64 RGB; text: embedding 256 +
 * 1-layer GRU 512 + linear to 256, vocab 5000, 16 tokens; L2-normalised, symmetric
 * InfoNCE with a learnable logit scale; AdamW; batch 128. Counted in pairs/s. */
static int retrieval_train(int warmup, int steps, bench_result *r, mmc_error *err) {
    enum { B = 128, T = 16, S = 64, V = 5000 };
    mmc_retrieval_config c = mmc_retrieval_config_default();
    strcpy(c.image_encoder, "resnet");
    strcpy(c.image_pool, "avg");
    int rl[4] = {2, 2, 2, 2}, rw[4] = {32, 64, 128, 256};
    memcpy(c.resnet_layers, rl, sizeof rl);
    memcpy(c.resnet_widths, rw, sizeof rw);
    c.image_size = S;
    strcpy(c.text_encoder, "gru");
    c.word_dim = 256;
    c.text_hidden = 512;
    c.text_layers = 1;
    c.embed_dim = 256;
    c.max_len = T;
    strcpy(c.loss, "infonce");
    /* a word vocabulary of exactly V tokens: the 4 specials + V - 4 made-up words */
    size_t cap = (size_t)(V - 4) * 8 + 1, at = 0;
    char *words = mmc_malloc(cap);
    if (!words) return mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory");
    for (int i = 0; i < V - 4; i++) at += (size_t)snprintf(words + at, cap - at, "w%d ", i);
    const char *texts[1] = {words};
    mmc_tokenizer *tok = mmc_tokenizer_build_word(texts, 1, 1, 0, err);
    mmc_free(words);
    if (!tok) return err->code;
    mmc_retrieval *m = mmc_retrieval_create(&c, tok, 1, err);
    if (!m) return err->code;
    mmc_params *P = mmc_retrieval_params(m);
    mmc_tensor **ps = mmc_calloc((size_t)P->n, sizeof *ps);
    int np = ps ? mmc_params_trainable(P, ps) : 0;
    mmc_optim *opt = ps ? mmc_optim_adamw(ps, np, mmc_adamw_defaults(1e-3f), err) : NULL;
    float *img = mmc_malloc(sizeof(float) * (size_t)B * 3 * S * S);
    int32_t *ids = mmc_malloc(sizeof(int32_t) * B * T), *mask = mmc_malloc(sizeof(int32_t) * B * T);
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = MMC_OK;
    if (!opt || !img || !ids || !mask || !ctx) {
        rc = err->code ? err->code : mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for retrieval-train");
        goto done;
    }
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_rng_fill_uniform(&rng, img, (int64_t)B * 3 * S * S, -1.0f, 1.0f);
    for (int i = 0; i < B * T; i++) {
        ids[i] = 4 + (int32_t)mmc_rng_below(&rng, V - 4);
        mask[i] = 1;
    }
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = mmc_now();
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){B, 3, S, S}, img);
        mmc_tensor *ie = mmc_retrieval_encode_images(ctx, m, x, 1);
        mmc_tensor *te = mmc_retrieval_encode_texts(ctx, m, ids, mask, B, T, 1);
        mmc_tensor *loss = mmc_retrieval_loss(ctx, m, ie, te);
        if (!loss || mmc_backward(ctx, loss) != MMC_OK) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_optim_step(opt);
        mmc_optim_zero_grad(opt);
        mmc_ctx_reset(ctx);
    }
    r->seconds = mmc_now() - t0;
    r->items = B;
    r->unit = "pairs/s";
done:
    mmc_ctx_free(ctx);
    mmc_free(img);
    mmc_free(ids);
    mmc_free(mask);
    mmc_optim_free(opt);
    mmc_free(ps);
    mmc_retrieval_free(m);
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
    {"retrieval-train", retrieval_train, 1, 3},
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
    if (!name) return cli_error(1, "bench: missing WORKLOAD (gemm-1024, gemm-2048, conv2d-train, retrieval-train)");
    int k = -1;
    for (int i = 0; i < NWORKLOADS; i++)
        if (!strcmp(name, WORKLOADS[i].name)) k = i;
    if (k < 0)
        return cli_error(1, "bench: unknown workload '%s' (gemm-1024, gemm-2048, conv2d-train, retrieval-train)", name);
    if (threads) mmc_set_threads(threads);
    threads = mmc_get_threads();
    if (!steps) steps = WORKLOADS[k].steps;

    bench_result r = {0};
    mmc_error err = {0};
    if (WORKLOADS[k].run(WORKLOADS[k].warmup, steps, &r, &err) != MMC_OK) return cli_error_from(&err);
    double secs = r.seconds > 0 ? r.seconds : 1e-9;
    const char *unit = r.items > 0 ? r.unit : "GFLOP/s";
    double rate = r.items > 0 ? r.items * steps / secs : r.flops * steps / secs / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
    if (json)
        printf("{\"workload\": \"%s\", \"rate\": %.2f, \"unit\": \"%s\", \"threads\": %d, "
               "\"peak_rss_mb\": %.1f}\n",
               name, rate, unit, threads, rss_mb);
    else
        printf("%s: %.1f %s (%d threads, %d steps of %.1f ms, peak RSS %.0f MB)\n", name, rate, unit,
               threads, steps, 1e3 * r.seconds / steps, rss_mb);
    return 0;
}

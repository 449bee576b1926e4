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
#include <unistd.h>

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

/* DESIGN §7 clip-vit-b32-image: the CLIP ViT-B/32 image tower (224×224, patch 32, width 768,
 * 12 layers, 12 heads, MLP 3072, quick_gelu, pre-LN, projection 512) with random weights,
 * inference on a batch of 8, through mmc_clip_vision_forward (image_embeds); images/s.
 * The model goes through the real loader: a temporary folder gets a config.json and a
 * model.safetensors written from seeded random tensors under Hugging Face's names (the
 * text tower is a token-sized stub, which the image path never touches), mmc_clip_load
 * reads it and the folder is removed. MMC_BENCH_SMALL=1 (the ctest) shrinks the tower to
 * 64×64, patch 16, width 64, 2 layers, 2 heads, MLP 256, projection 32, batch 2.
 *
 * FLOPs per image (2 per multiply-add, matrix products only; layer norms, softmax,
 * quick_gelu and the adds are not counted), with N = (S/p)² patches, T = N + 1 tokens:
 *   patch embedding  2·N·(3·p²)·D
 *   per layer        8·T·D² (q, k, v, out projections) + 4·T²·D (QKᵀ and AV)
 *                    + 4·T·D·F (fc1, fc2)
 *   projection       2·D·P (class token)
 * ViT-B/32: N = 49, T = 50 -> 8.82 GFLOP per image. */
typedef struct clip_bench_size {
    int S, p, D, L, H, F, P, B;
} clip_bench_size;

static double clip_vit_flops(const clip_bench_size *z) {
    double N = (double)(z->S / z->p) * (z->S / z->p), T = N + 1, D = z->D;
    return 2.0 * N * 3 * z->p * z->p * D +
           z->L * (8.0 * T * D * D + 4.0 * T * T * D + 4.0 * T * D * z->F) + 2.0 * D * z->P;
}

/* Writes dir/config.json and dir/model.safetensors: a CLIPModel with vision tower z and a
 * one-layer, width-8 text tower over 16 tokens. */
static int clip_bench_write(const char *dir, const clip_bench_size *z, mmc_error *err) {
    enum { DT = 8, VOCAB = 16, CTX = 8 };
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return mmc_error_set(err, MMC_ERR_RUNTIME, "bench: cannot write %s", path);
    fprintf(f,
            "{\"model_type\": \"clip\", \"projection_dim\": %d,\n"
            " \"text_config\": {\"hidden_size\": %d, \"num_hidden_layers\": 1, \"num_attention_heads\": 1,"
            " \"intermediate_size\": %d, \"max_position_embeddings\": %d, \"vocab_size\": %d, \"eos_token_id\": 2},\n"
            " \"vision_config\": {\"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d,"
            " \"intermediate_size\": %d, \"image_size\": %d, \"patch_size\": %d, \"hidden_act\": \"quick_gelu\"}}\n",
            z->P, DT, 4 * DT, CTX, VOCAB, z->D, z->L, z->H, z->F, z->S, z->p);
    if (fclose(f) != 0) return mmc_error_set(err, MMC_ERR_RUNTIME, "bench: cannot write %s", path);

    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_nn_linear lin;
    mmc_nn_layernorm ln;
    mmc_nn_conv2d conv;
    mmc_nn_encoder_layer layer;
    char name[128];
    int g = z->S / z->p, rc = MMC_OK;
    mmc_tensor *t;
#define TRY(x) do { if ((rc = (x)) != MMC_OK) goto done; } while (0)
#define NEW(nm, nd, ...)                                                                      \
    do {                                                                                      \
        if (!(t = mmc_params_new(&P, NULL, nm, MMC_PARAM, nd, (int[]){__VA_ARGS__}, err))) {  \
            rc = err->code;                                                                   \
            goto done;                                                                        \
        }                                                                                     \
        mmc_rng_fill_normal(&rng, t->data, t->numel, 0.0f, 0.02f);                            \
    } while (0)
    NEW("text_model.embeddings.token_embedding.weight", 2, VOCAB, DT);
    NEW("text_model.embeddings.position_embedding.weight", 2, CTX, DT);
    mmc_nn_block_cfg tc = mmc_nn_block_defaults(DT, 1);
    tc.mlp_dim = 4 * DT, tc.act = MMC_ACT_QUICK_GELU, tc.norm_first = 1, tc.names = MMC_NAMES_CLIP;
    TRY(mmc_nn_encoder_layer_init(&layer, &P, "text_model.encoder.layers.0", &tc, &rng, err));
    TRY(mmc_nn_layernorm_init(&ln, &P, "text_model.final_layer_norm", DT, 1e-5f, err));
    TRY(mmc_nn_linear_init(&lin, &P, "text_projection", DT, z->P, 0, &rng, err));
    TRY(mmc_nn_conv2d_init(&conv, &P, "vision_model.embeddings.patch_embedding", 3, z->D, z->p, z->p, 0, 0, &rng,
                           err));
    NEW("vision_model.embeddings.class_embedding", 1, z->D);
    NEW("vision_model.embeddings.position_embedding.weight", 2, g * g + 1, z->D);
    TRY(mmc_nn_layernorm_init(&ln, &P, "vision_model.pre_layrnorm", z->D, 1e-5f, err));
    mmc_nn_block_cfg vc = mmc_nn_block_defaults(z->D, z->H);
    vc.mlp_dim = z->F, vc.act = MMC_ACT_QUICK_GELU, vc.norm_first = 1, vc.names = MMC_NAMES_CLIP;
    for (int i = 0; i < z->L; i++) {
        snprintf(name, sizeof name, "vision_model.encoder.layers.%d", i);
        TRY(mmc_nn_encoder_layer_init(&layer, &P, name, &vc, &rng, err));
    }
    TRY(mmc_nn_layernorm_init(&ln, &P, "vision_model.post_layernorm", z->D, 1e-5f, err));
    TRY(mmc_nn_linear_init(&lin, &P, "visual_projection", z->D, z->P, 0, &rng, err));
    if (!(t = mmc_params_new(&P, NULL, "logit_scale", MMC_PARAM, 0, NULL, err))) {
        rc = err->code;
        goto done;
    }
    t->data[0] = 2.6592f; /* log(1 / 0.07), CLIP's initial value */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rc = mmc_params_save(&P, path, NULL, err);
#undef NEW
#undef TRY
done:
    mmc_params_free(&P);
    return rc;
}

static void clip_bench_cleanup(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static int clip_vit_b32_image(int warmup, int steps, bench_result *r, mmc_error *err) {
    clip_bench_size z = {224, 32, 768, 12, 12, 3072, 512, 8};
    const char *small = getenv("MMC_BENCH_SMALL");
    if (small && *small && strcmp(small, "0")) z = (clip_bench_size){64, 16, 64, 2, 2, 256, 32, 2};
    const char *tmp = getenv("TMPDIR");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/mmc-bench-clip-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return mmc_error_set(err, MMC_ERR_RUNTIME, "bench: cannot create %s: %s", dir, strerror(errno));
    int rc = clip_bench_write(dir, &z, err);
    mmc_clip *m = rc == MMC_OK ? mmc_clip_load(dir, err) : NULL;
    clip_bench_cleanup(dir);
    if (!m) return rc != MMC_OK ? rc : err->code;
    float *img = mmc_malloc(sizeof(float) * (size_t)z.B * 3 * z.S * z.S);
    mmc_ctx *ctx = mmc_ctx_new();
    if (!img || !ctx) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for clip-vit-b32-image");
        goto done;
    }
    mmc_rng rng;
    mmc_rng_seed(&rng, 2, 1);
    mmc_rng_fill_normal(&rng, img, (int64_t)z.B * 3 * z.S * z.S, 0.0f, 1.0f); /* as normalised pixels */
    mmc_grad_mode(ctx, 0);
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = mmc_now();
        mmc_clip_vision_out out;
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){z.B, 3, z.S, z.S}, img);
        if (!x || mmc_clip_vision_forward(ctx, m, x, &out) != MMC_OK || !out.embeds) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_ctx_reset(ctx);
    }
    r->seconds = mmc_now() - t0;
    r->items = z.B;
    r->flops = z.B * clip_vit_flops(&z);
    r->unit = "images/s";
done:
    mmc_ctx_free(ctx);
    mmc_free(img);
    mmc_clip_free(m);
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
    {"clip-vit-b32-image", clip_vit_b32_image, 1, 3},
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
    if (!name) return cli_error(1, "bench: missing WORKLOAD (gemm-1024, gemm-2048, conv2d-train, retrieval-train, clip-vit-b32-image)");
    int k = -1;
    for (int i = 0; i < NWORKLOADS; i++)
        if (!strcmp(name, WORKLOADS[i].name)) k = i;
    if (k < 0)
        return cli_error(1, "bench: unknown workload '%s' (gemm-1024, gemm-2048, conv2d-train, retrieval-train, clip-vit-b32-image)", name);
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
    /* a workload counted in items that also knows its FLOPs reports GFLOP/s beside */
    double gflops = r.items > 0 && r.flops > 0 ? r.flops * steps / secs / 1e9 : 0;
    char extra[64] = "";
    if (json) {
        if (gflops > 0) snprintf(extra, sizeof extra, ", \"gflops\": %.2f", gflops);
        printf("{\"workload\": \"%s\", \"rate\": %.2f, \"unit\": \"%s\", \"threads\": %d, "
               "\"peak_rss_mb\": %.1f%s}\n",
               name, rate, unit, threads, rss_mb, extra);
    } else {
        if (gflops > 0) snprintf(extra, sizeof extra, ", %.1f GFLOP/s", gflops);
        printf("%s: %.1f %s%s (%d threads, %d steps of %.1f ms, peak RSS %.0f MB)\n", name, rate, unit, extra,
               threads, steps, 1e3 * r.seconds / steps, rss_mb);
    }
    return 0;
}

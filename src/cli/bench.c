/* bench.c — `mmc bench WORKLOAD [--threads T] [--steps N] [--json]`: times one workload
 * through the public API, so the number is what a model would see (arena, tape and all),
 * and reports it beside peak RSS. bench/torch/ops.py runs the same workloads in PyTorch
 * with the same warm-up and step counts; bench/run.sh puts the two side by side. */
#include "cli.h"
#include "../models/retrieval_internal.h" /* ret_audio_forward: no public encode_* for audio yet */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_result {
    double seconds; /* over the timed steps */
    double flops;   /* per step */
    double items;   /* per step, for workloads measured in items/s (0: GFLOP/s) */
    const char *unit;
    int64_t params; /* trainable parameters of a model workload (0: not a model) */
    size_t arena_peak; /* bytes: the step arena's high-water mark (activations, gradients, scratch) */
} bench_result;

/* The timed steps' process CPU time (all threads, as clock(3) counts it), beside the wall
 * time: on a shared machine, seconds the process spent descheduled are not CPU seconds, so
 * rate per CPU-second · threads is the steadier figure for comparing two builds at one
 * thread (at more, it also counts OpenMP threads spinning at barriers). */
static double g_cpu0, g_cpu_seconds;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double bench_start(void) {
    g_cpu0 = cpu_now();
    return mmc_now();
}

static void bench_stop(struct bench_result *r, double t0);

typedef int (*bench_fn)(int warmup, int steps, bench_result *r, mmc_error *err);

/* --dtype: 0 float32, else MMC_QTYPE_Q8 / MMC_QTYPE_Q4 — the weights of the workloads that
 * take it (gemm-*, clip-*) quantised as `mmc quantize` does; the rest refuse it. */
static int g_qtype;

/* Peak memory is the workload's: each workload calls this once its model and data are set up,
 * just before the warm-up, and the process's resident high-water mark (getrusage's ru_maxrss,
 * read at the end) starts again from what is resident then — weights, optimizer state and
 * inputs included; writing and loading a checkpoint, or making random data, not. Linux resets
 * it through /proc/self/clear_refs; where that fails the peak is the whole process's. The
 * PyTorch scripts in bench/torch do the same at the same point. */
static void peak_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

static void bench_stop(bench_result *r, double t0) {
    r->seconds = mmc_now() - t0;
    g_cpu_seconds = cpu_now() - g_cpu0;
}

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
    if (g_qtype) { /* C = A·Bᵀ through mmc_linear with B quantised (u8 × s8 products, int32 sums) */
        mmc_qweight *q = mmc_qweight_quantize(b->data, n, n, g_qtype, err);
        if (!q || mmc_tensor_set_quant(b, q, err)) {
            rc = err->code;
            goto done;
        }
        mmc_tensor_drop_data(b);
    }
    peak_reset();
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = bench_start();
        if (!(g_qtype ? mmc_linear(ctx, a, b, NULL) : mmc_matmul(ctx, a, b, 0, 0))) {
            rc = mmc_error_set(err, ctx->err.code, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_ctx_reset(ctx);
    }
    bench_stop(r, t0);
    r->arena_peak = mmc_arena_peak(ctx->arena);
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
    peak_reset();
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = bench_start();
        mmc_tensor *out = mmc_conv2d(ctx, x, w, bias, o);
        /* gradients accumulate across steps, as in the PyTorch script (no zero_grad) */
        if (!out || mmc_backward_with(ctx, out, seed) != MMC_OK) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s",
                               ctx->err.msg);
            goto done;
        }
        mmc_ctx_reset(ctx);
    }
    bench_stop(r, t0);
    r->arena_peak = mmc_arena_peak(ctx->arena);
    r->flops = 3.0 * 2.0 * B * OC * HW * HW * C * K * K;
done:
    mmc_ctx_free(ctx);
    mmc_free(seed);
    mmc_tensor_free(x);
    mmc_tensor_free(w);
    mmc_tensor_free(bias);
    return rc;
}

/* MMC_BENCH_SMALL=1 (the ctests): the training workloads on 4 images of 16×16 instead of
 * their full batch of 64×64 images; the models, and so their parameter counts, are the
 * same. clip-vit-b32-image shrinks its tower instead (see there). */
static int bench_small(void) {
    const char *v = getenv("MMC_BENCH_SMALL");
    return v && *v && strcmp(v, "0");
}

/* FLOPs of one training step of the small-image ResNet of retrieval-train and caption-train,
 * matrix products only, 2 per multiply-add: each conv's forward 2·B·OC·OH·OW·C·K², and as
 * much again for each of its two backward products (dL/dW, dL/dX), except that the stem
 * computes no dL/dX (the images need no gradient). BatchNorm, ReLU and the adds are not
 * counted. bench/torch/small_resnet.py counts the same. */
static double resnet_train_flops(int B, int S, const int widths[4]) {
    double f = 2.0 * 2.0 * B * widths[0] * S * S * 3 * 9; /* stem: forward + dL/dW */
    int in = widths[0], side = S;
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < 2; b++) {
            int stride = s > 0 && b == 0 ? 2 : 1, w = widths[s];
            side = (side + stride - 1) / stride;
            double hw = (double)side * side;
            f += 3.0 * 2.0 * B * hw * w * (in * 9.0 + w * 9.0); /* conv1, conv2 */
            if (stride != 1 || in != w) f += 3.0 * 2.0 * B * hw * w * in; /* 1×1 downsample */
            in = w;
        }
    return f;
}

/* 3 · 2·rows·in·out: a linear layer's forward and its two backward products. */
static double linear_train_flops(double rows, int in, int out) { return 3.0 * 2.0 * rows * in * out; }

/* One timed run of a dual encoder on random data, shared by retrieval-train and
 * video-retrieval-train: the model of c (c->max_len tokens; a word vocabulary of exactly V
 * tokens, the 4 specials + V - 4 made-up words), AdamW at lr / weight_decay (decay on every
 * parameter, or with no_decay as the train loop does: not on biases, norms, ...), inputs
 * (B·F, 3, S, S) U(-1, 1) (F frames a sample: F = 1 images, else clips) and ids uniform in
 * 4..V-1. One step = both towers, the loss, backward, the optimizer step, zero_grad. */
/* A word tokenizer of exactly V tokens: the 4 specials + V - 4 made-up words; NULL with err
 * filled on failure. */
static mmc_tokenizer *bench_word_tokenizer(int V, mmc_error *err) {
    size_t cap = (size_t)(V - 4) * 8 + 1, at = 0;
    char *words = mmc_malloc(cap);
    if (!words) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory");
        return NULL;
    }
    for (int i = 0; i < V - 4; i++) at += (size_t)snprintf(words + at, cap - at, "w%d ", i);
    const char *texts[1] = {words};
    mmc_tokenizer *tok = mmc_tokenizer_build_word(texts, 1, 1, 0, err);
    mmc_free(words);
    return tok;
}

static int dual_encoder_run(const mmc_retrieval_config *c, int B, int F, int V, float lr, float weight_decay, int no_decay,
                            int warmup, int steps, bench_result *r, mmc_error *err) {
    const int T = c->max_len, S = c->image_size;
    mmc_tokenizer *tok = bench_word_tokenizer(V, err);
    if (!tok) return err->code;
    mmc_retrieval *m = mmc_retrieval_create(c, tok, 1, err);
    if (!m) return err->code;
    mmc_params *P = mmc_retrieval_params(m);
    mmc_tensor **ps = mmc_calloc((size_t)P->n, sizeof *ps);
    int np = ps ? mmc_params_trainable(P, ps) : 0;
    mmc_adam_opts ao = mmc_adamw_defaults(lr);
    ao.weight_decay = weight_decay;
    mmc_optim *opt = ps ? mmc_optim_adamw(ps, np, ao, err) : NULL;
    float *img = mmc_malloc(sizeof(float) * (size_t)B * F * 3 * S * S);
    int32_t *ids = mmc_malloc(sizeof(int32_t) * (size_t)B * T), *mask = mmc_malloc(sizeof(int32_t) * (size_t)B * T);
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = MMC_OK;
    if (!opt || !img || !ids || !mask || !ctx) {
        rc = err->code ? err->code : mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for the dual encoder");
        goto done;
    }
    if (no_decay) mmc_optim_no_decay_from_params(opt, P);
    r->params = mmc_params_count(P, MMC_PARAM);
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_rng_fill_uniform(&rng, img, (int64_t)B * F * 3 * S * S, -1.0f, 1.0f);
    for (int i = 0; i < B * T; i++) {
        ids[i] = 4 + (int32_t)mmc_rng_below(&rng, (uint32_t)(V - 4));
        mask[i] = 1;
    }
    peak_reset();
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = bench_start();
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){B * F, 3, S, S}, img);
        mmc_tensor *ie = F > 1 ? mmc_retrieval_encode_clips(ctx, m, x, 1) : mmc_retrieval_encode_images(ctx, m, x, 1);
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
    bench_stop(r, t0);
    r->arena_peak = mmc_arena_peak(ctx->arena);
    r->items = B;
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

/* DESIGN §7 retrieval-train: one AdamW step of the dual encoder on random data.
 * image: ResNet-18 layout (2-2-2-2 basic blocks, widths 32-64-128-256, 3×3 stride-1 stem,
 * BatchNorm, global average pool, linear to 256) on 64×64 RGB; text: embedding 256 +
 * 1-layer GRU 512 + linear to 256, vocab 5000, 16 tokens; L2-normalised, symmetric
 * InfoNCE with a learnable logit scale; AdamW; batch 128. Counted in pairs/s. */
static int retrieval_train(int warmup, int steps, bench_result *r, mmc_error *err) {
    enum { T = 16, V = 5000 };
    const int B = bench_small() ? 4 : 128, S = bench_small() ? 16 : 64;
    mmc_retrieval_config c = mmc_retrieval_config_default();
    strcpy(c.image.encoder, "resnet");
    strcpy(c.image_pool, "avg");
    int rl[4] = {2, 2, 2, 2}, rw[4] = {32, 64, 128, 256};
    memcpy(c.image.resnet_layers, rl, sizeof rl);
    memcpy(c.image.resnet_widths, rw, sizeof rw);
    c.image_size = S;
    strcpy(c.text.encoder, "gru");
    c.text.word_dim = 256;
    c.text.text_hidden = 512;
    c.text.text_layers = 1;
    c.embed_dim = 256;
    c.max_len = T;
    strcpy(c.loss, "infonce");
    int rc = dual_encoder_run(&c, B, 1, V, 1e-3f, mmc_adamw_defaults(1e-3f).weight_decay, 0, warmup, steps, r, err);
    r->unit = "pairs/s";
    /* image tower, projections, GRU (3 gates over [x, h]) and the B × B similarity */
    r->flops = resnet_train_flops(B, S, rw) + linear_train_flops(B, rw[3], c.embed_dim) +
               linear_train_flops(B, c.text.text_hidden, c.embed_dim) +
               linear_train_flops((double)B * T, c.text.word_dim + c.text.text_hidden, 3 * c.text.text_hidden) +
               linear_train_flops(B, c.embed_dim, B);
    return rc;
}

static int caption_train(int warmup, int steps, bench_result *r, mmc_error *err) {
    enum { T = 20, V = 5000, D = 512 };
    const int B = bench_small() ? 4 : 64, S = bench_small() ? 16 : 64;
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_nn_resnet net;
    mmc_nn_linear proj, head;
    mmc_nn_embedding emb;
    mmc_nn_lstm lstm;
    mmc_nn_resnet_cfg rc = mmc_nn_resnet_layout(18);
    int rw[4] = {32, 64, 128, 256};
    memcpy(rc.widths, rw, sizeof rw);
    rc.stem = MMC_STEM_SMALL;
    rc.num_classes = 0;
    mmc_tensor **ps = NULL;
    mmc_optim *opt = NULL;
    float *img = NULL;
    int *tok = NULL, *prev = NULL;
    mmc_ctx *ctx = NULL;
    int rc_ = MMC_OK;
    if ((rc_ = mmc_nn_resnet_init(&net, &P, "encoder", &rc, &rng, err)) ||
        (rc_ = mmc_nn_linear_init(&proj, &P, "encoder.proj", net.out_dim, D, 1, &rng, err)) ||
        (rc_ = mmc_nn_embedding_init(&emb, &P, "decoder.embedding", V, D, &rng, err)) ||
        (rc_ = mmc_nn_lstm_init(&lstm, &P, "decoder.lstm", D, D, mmc_nn_rnn_defaults(), &rng, err)) ||
        (rc_ = mmc_nn_linear_init(&head, &P, "decoder.out", D, V, 1, &rng, err)))
        goto done;
    ps = mmc_calloc((size_t)P.n, sizeof *ps);
    int np = ps ? mmc_params_trainable(&P, ps) : 0;
    opt = ps ? mmc_optim_adamw(ps, np, mmc_adamw_defaults(1e-3f), err) : NULL;
    img = mmc_malloc(sizeof(float) * (size_t)B * 3 * S * S);
    tok = mmc_malloc(sizeof(int) * B * T);
    prev = mmc_malloc(sizeof(int) * B * (T - 1));
    ctx = mmc_ctx_new();
    if (!opt || !img || !tok || !prev || !ctx) {
        rc_ = err->code ? err->code : mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for caption-train");
        goto done;
    }
    r->params = mmc_params_count(&P, MMC_PARAM);
    mmc_rng_fill_uniform(&rng, img, (int64_t)B * 3 * S * S, -1.0f, 1.0f);
    for (int i = 0; i < B * T; i++) tok[i] = 4 + (int)mmc_rng_below(&rng, V - 4);
    for (int b = 0; b < B; b++) memcpy(prev + b * (T - 1), tok + b * T, sizeof(int) * (T - 1));
    peak_reset();
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = bench_start();
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){B, 3, S, S}, img);
        mmc_tensor *f = mmc_nn_linear_forward(ctx, &proj, mmc_nn_resnet_forward(ctx, &net, x, 1)); // (B, D)
        mmc_tensor *seq[2] = {mmc_reshape(ctx, f, 3, (int[]){B, 1, D}),
                              mmc_nn_embedding_forward(ctx, &emb, prev, 2, (int[]){B, T - 1})}; // (B, T-1, D)
        mmc_tensor *h = mmc_nn_lstm_forward(ctx, &lstm, mmc_concat(ctx, seq, 2, 1), NULL, NULL, NULL, 1, NULL,
                                            NULL, NULL);                                       // (B, T, D)
        mmc_tensor *logits = mmc_nn_linear_forward(ctx, &head, mmc_reshape(ctx, h, 2, (int[]){B * T, D}));
        mmc_tensor *loss = mmc_cross_entropy(ctx, logits, tok, -100, 0.0f);
        if (!loss || mmc_backward(ctx, loss) != MMC_OK) {
            rc_ = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_optim_step(opt);
        mmc_optim_zero_grad(opt);
        mmc_ctx_reset(ctx);
    }
    bench_stop(r, t0);
    r->arena_peak = mmc_arena_peak(ctx->arena);
    r->items = B * T;
    r->unit = "tokens/s";
    /* image tower, projection, LSTM (4 gates over [x, h]) and the vocabulary head */
    r->flops = resnet_train_flops(B, S, rw) + linear_train_flops(B, rw[3], D) +
               linear_train_flops((double)B * T, 2 * D, 4 * D) + linear_train_flops((double)B * T, D, V);
done:
    mmc_ctx_free(ctx);
    mmc_free(img);
    mmc_free(tok);
    mmc_free(prev);
    mmc_optim_free(opt);
    mmc_free(ps);
    mmc_params_free(&P);
    return rc_;
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
    int Dt, Lt, Ht, Ft, V, ctx; /* the text tower (0: a one-layer, width-8 stub over 16 tokens) */
} clip_bench_size;

/* FLOPs per text of T tokens through the text tower (the same counting) plus the projection. */
static double clip_text_flops(const clip_bench_size *z, int T) {
    double D = z->Dt;
    return z->Lt * (8.0 * T * D * D + 4.0 * T * T * D + 4.0 * T * D * z->Ft) + 2.0 * D * z->P;
}

static double clip_vit_flops(const clip_bench_size *z) {
    double N = (double)(z->S / z->p) * (z->S / z->p), T = N + 1, D = z->D;
    return 2.0 * N * 3 * z->p * z->p * D +
           z->L * (8.0 * T * D * D + 4.0 * T * T * D + 4.0 * T * D * z->F) + 2.0 * D * z->P;
}

/* Writes dir/config.json and dir/model.safetensors: a CLIPModel with vision tower z and a
 * one-layer, width-8 text tower over 16 tokens. */
static int clip_bench_write(const char *dir, const clip_bench_size *z, mmc_error *err) {
    const int DT = z->Dt ? z->Dt : 8, VOCAB = z->Dt ? z->V : 16, CTX = z->Dt ? z->ctx : 8;
    const int LT = z->Dt ? z->Lt : 1, HT = z->Dt ? z->Ht : 1, FT = z->Dt ? z->Ft : 4 * DT;
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return mmc_error_set(err, MMC_ERR_RUNTIME, "bench: cannot write %s", path);
    fprintf(f,
            "{\"model_type\": \"clip\", \"projection_dim\": %d,\n"
            " \"text_config\": {\"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d,"
            " \"intermediate_size\": %d, \"max_position_embeddings\": %d, \"vocab_size\": %d, \"eos_token_id\": 2},\n"
            " \"vision_config\": {\"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d,"
            " \"intermediate_size\": %d, \"image_size\": %d, \"patch_size\": %d, \"hidden_act\": \"quick_gelu\"}}\n",
            z->P, DT, LT, HT, FT, CTX, VOCAB, z->D, z->L, z->H, z->F, z->S, z->p);
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
    mmc_nn_block_cfg tc = mmc_nn_block_defaults(DT, HT);
    tc.mlp_dim = FT, tc.act = MMC_ACT_QUICK_GELU, tc.norm_first = 1, tc.names = MMC_NAMES_CLIP;
    for (int i = 0; i < LT; i++) {
        snprintf(name, sizeof name, "text_model.encoder.layers.%d", i);
        TRY(mmc_nn_encoder_layer_init(&layer, &P, name, &tc, &rng, err));
    }
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

/* Writes the model folder for z (a temporary folder, removed after) and loads it, the way a user runs it: with --dtype, the
 * model is quantised at load, written by mmc_clip_save (what `mmc quantize` does) into
 * dir/q and loaded from there. Writing and quantising happen in a child process, so the
 * memory they touched (the float tensors, malloc's retained heap) does not count towards
 * the measured process's resident set: its peak is the loaded model's and the workload's. */
static mmc_clip *clip_bench_model(const clip_bench_size *z, mmc_error *err) {
    const char *tmp = getenv("TMPDIR");
    char dir[400], q[512], path[600];
    snprintf(dir, sizeof dir, "%s/mmc-bench-clip-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "bench: cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    snprintf(q, sizeof q, "%s/q", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "bench: fork: %s", strerror(errno));
        return NULL;
    }
    if (pid == 0) {
        mmc_error e = {0};
        int rc = clip_bench_write(dir, z, &e);
        if (!rc && g_qtype) {
            mmc_clip_opts o = {MMC_CLIP_STORAGE_AUTO, g_qtype};
            mmc_clip *m = mmc_clip_load_ex(dir, &o, &e);
            mkdir(q, 0700);
            rc = m ? mmc_clip_save(m, q, NULL, &e) : e.code;
            mmc_clip_free(m);
        }
        if (rc) fprintf(stderr, "bench: %s\n", e.msg);
        _exit(rc ? 1 : 0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    mmc_clip *m = NULL;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) mmc_error_set(err, MMC_ERR_RUNTIME, "bench: writing the model in %s failed", dir);
    else m = mmc_clip_load(g_qtype ? q : dir, err);
    snprintf(path, sizeof path, "%s/model.safetensors", q);
    unlink(path);
    snprintf(path, sizeof path, "%s/config.json", q);
    unlink(path);
    rmdir(q);
    clip_bench_cleanup(dir);
    return m;
}

static int clip_vit_b32_image(int warmup, int steps, bench_result *r, mmc_error *err) {
    clip_bench_size z = {224, 32, 768, 12, 12, 3072, 512, 8, 0, 0, 0, 0, 0, 0};
    if (bench_small()) z = (clip_bench_size){64, 16, 64, 2, 2, 256, 32, 2, 0, 0, 0, 0, 0, 0};
    int rc = MMC_OK;
    mmc_clip *m = clip_bench_model(&z, err);
    if (!m) return err->code;
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
    peak_reset();
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = bench_start();
        mmc_clip_vision_out out;
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){z.B, 3, z.S, z.S}, img);
        if (!x || mmc_clip_vision_forward(ctx, m, x, &out) != MMC_OK || !out.embeds) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_ctx_reset(ctx);
    }
    bench_stop(r, t0);
    r->arena_peak = mmc_arena_peak(ctx->arena);
    r->items = z.B;
    r->flops = z.B * clip_vit_flops(&z);
    r->unit = "images/s";
done:
    mmc_ctx_free(ctx);
    mmc_free(img);
    mmc_clip_free(m);
    return rc;
}

/* DESIGN §7 clip-text-b32: the CLIP ViT-B/32 text tower (width 512, 12 layers, 8 heads, MLP
 * 2048, quick_gelu, causal mask, 77 positions, vocabulary 49408, projection 512) with random
 * weights, inference on a batch of 32 texts padded to the full 77 tokens (as CLIP users
 * tokenize), through mmc_clip_text_forward (text_embeds); texts/s. The vision tower is a
 * stub. MMC_BENCH_SMALL=1: width 64, 2 layers, 2 heads, MLP 256, 16 tokens, batch 4. */
static int clip_text_b32(int warmup, int steps, bench_result *r, mmc_error *err) {
    clip_bench_size z = {32, 16, 16, 1, 1, 64, 512, 1, 512, 12, 8, 2048, 49408, 77};
    int B = 32;
    if (bench_small()) z.P = 32, z.Dt = 64, z.Lt = 2, z.Ht = 2, z.Ft = 256, z.V = 1000, z.ctx = 16, B = 4;
    const int T = z.ctx;
    int rc = MMC_OK;
    mmc_clip *m = clip_bench_model(&z, err);
    if (!m) return err->code;
    int32_t *ids = mmc_malloc(sizeof(int32_t) * (size_t)B * T), *mask = mmc_malloc(sizeof(int32_t) * (size_t)B * T);
    mmc_ctx *ctx = mmc_ctx_new();
    if (!ids || !mask || !ctx) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for clip-text-b32");
        goto done;
    }
    mmc_rng rng;
    mmc_rng_seed(&rng, 3, 1);
    for (int i = 0; i < B * T; i++) {
        ids[i] = 3 + (int32_t)mmc_rng_below(&rng, (uint32_t)(z.V - 3)); /* never eos (2) */
        mask[i] = 1;
    }
    for (int b = 0; b < B; b++) ids[b * T + T - 1] = 2; /* eos_token_id: pooled at the last token */
    mmc_grad_mode(ctx, 0);
    peak_reset();
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = bench_start();
        mmc_clip_text_out out;
        if (mmc_clip_text_forward(ctx, m, ids, mask, NULL, B, T, &out) != MMC_OK || !out.embeds) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_ctx_reset(ctx);
    }
    bench_stop(r, t0);
    r->arena_peak = mmc_arena_peak(ctx->arena);
    r->items = B;
    r->flops = B * clip_text_flops(&z, T);
    r->unit = "texts/s";
done:
    mmc_ctx_free(ctx);
    mmc_free(ids);
    mmc_free(mask);
    mmc_clip_free(m);
    return rc;
}

/* video-retrieval-train: one AdamW step of the default text:video dual encoder (`mmc train
 * retrieval --pair text:video` with no config: video_encoder early — the 8 frames of 64 px
 * stacked as 24 channels into the 16-32-64-128 strided cnn with BatchNorm, its 4×4 map
 * flattened and projected to 128; text: embedding 64 + GRU 128, final state, projected to
 * 128; L2-normalised, symmetric InfoNCE with a learnable logit scale; AdamW) on random
 * clips, 64 words, 16 tokens, batch 128. Counted in clips/s (bench/torch/video_retrieval.py
 * is the same model in PyTorch). */
static int video_retrieval_train(int warmup, int steps, bench_result *r, mmc_error *err) {
    enum { T = 16, V = 64, F = 8 };
    const int B = bench_small() ? 4 : 128, S = bench_small() ? 16 : 64;
    mmc_retrieval_config c = mmc_retrieval_config_default();
    strcpy(c.target, "video");
    c.image_size = S;
    c.max_len = T;
    int rc = dual_encoder_run(&c, B, F, V, c.lr, c.weight_decay, 1, warmup, steps, r, err);
    r->unit = "clips/s";
    /* the cnn's convs (forward + 2 backward products each), the projections, the GRU and the similarity */
    double f = 0;
    int in = 3 * F, sd = S;
    for (int s = 0; s < 4; s++) {
        int w = c.image.cnn_widths[s];
        sd = (sd - 1) / 2 + 1;
        f += 3.0 * 2.0 * B * (double)sd * sd * w * in * 9;
        in = w;
    }
    int g = c.pool_grid < sd ? c.pool_grid : sd;
    r->flops = f + linear_train_flops(B, in * g * g, c.embed_dim) + linear_train_flops(B, c.text.text_hidden, c.embed_dim) +
               linear_train_flops((double)B * T, c.text.word_dim + c.text.text_hidden, 3 * c.text.text_hidden) +
               linear_train_flops(B, c.embed_dim, B);
    return rc;
}

/* audio-retrieval-train: one AdamW step of the default audio:image dual encoder (`mmc train
 * retrieval --pair audio:image` with no config, transcripts 1: three towers). image: the
 * 16-32-64-128 strided cnn with BatchNorm on 64 px, its 4×4 map flattened and projected to
 * 128; audio (audio_encoder gru): log-mel clips (B, 80, Tf) through 3 Conv1d of kernel 3,
 * 128 channels, stride 2 each, GELU after each, a bidirectional GRU 128, the mean over the
 * steps, projected to 128; text (the clips' transcripts): embedding 64 + GRU 128, final
 * state, projected to 128; all L2-normalised; the sum of three symmetric InfoNCE terms
 * (image-audio, image-text, text-audio, as retrieval_train.c's loss) with one learnable
 * logit scale; AdamW (lr 2e-3, weight decay 0.05, none on biases and norms). Random data:
 * B = 128 clips of Tf = 400 frames (4 s, all the same length), N(0, 1) log-mels, U(-1, 1)
 * images, 16-token transcripts uniform in 4..63 of a 64-word vocabulary. Counted in clips/s
 * (bench/torch/audio_retrieval.py is the same model in PyTorch). MMC_BENCH_SMALL=1: 4 clips
 * of 40 frames, 16 px images (the cnn ends at 1×1, so its projection is 128 -> 128). */
static int audio_retrieval_train(int warmup, int steps, bench_result *r, mmc_error *err) {
    enum { T = 16, V = 64 };
    const int B = bench_small() ? 4 : 128, S = bench_small() ? 16 : 64, Tf = bench_small() ? 40 : 400;
    mmc_retrieval_config c = mmc_retrieval_config_default();
    strcpy(c.query, "audio");
    strcpy(c.target, "image");
    c.image_size = S;
    c.max_len = T;
    const int M = c.audio.n_mels;
    mmc_tokenizer *tok = bench_word_tokenizer(V, err);
    if (!tok) return err->code;
    mmc_retrieval *m = mmc_retrieval_create(&c, tok, 1, err);
    if (!m) return err->code;
    mmc_params *P = mmc_retrieval_params(m);
    mmc_tensor **ps = mmc_calloc((size_t)P->n, sizeof *ps);
    int np = ps ? mmc_params_trainable(P, ps) : 0;
    mmc_adam_opts ao = mmc_adamw_defaults(c.lr);
    ao.weight_decay = c.weight_decay;
    mmc_optim *opt = ps ? mmc_optim_adamw(ps, np, ao, err) : NULL;
    float *img = mmc_malloc(sizeof(float) * (size_t)B * 3 * S * S), *mel = mmc_malloc(sizeof(float) * (size_t)B * M * Tf);
    int32_t *ids = mmc_malloc(sizeof(int32_t) * (size_t)B * T), *mask = mmc_malloc(sizeof(int32_t) * (size_t)B * T);
    int *len = mmc_malloc(sizeof(int) * (size_t)B);
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = MMC_OK;
    if (!opt || !img || !mel || !ids || !mask || !len || !ctx) {
        rc = err->code ? err->code : mmc_error_set(err, MMC_ERR_RUNTIME, "bench: out of memory for audio-retrieval-train");
        goto done;
    }
    mmc_optim_no_decay_from_params(opt, P);
    r->params = mmc_params_count(P, MMC_PARAM);
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 1);
    mmc_rng_fill_uniform(&rng, img, (int64_t)B * 3 * S * S, -1.0f, 1.0f);
    mmc_rng_fill_normal(&rng, mel, (int64_t)B * M * Tf, 0.0f, 1.0f);
    for (int b = 0; b < B; b++) len[b] = Tf;
    for (int i = 0; i < B * T; i++) {
        ids[i] = 4 + (int32_t)mmc_rng_below(&rng, (uint32_t)(V - 4));
        mask[i] = 1;
    }
    peak_reset();
    double t0 = mmc_now();
    for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) t0 = bench_start();
        mmc_tensor *ie = mmc_retrieval_encode_images(ctx, m, mmc_tensor_from(ctx, 4, (int[]){B, 3, S, S}, img), 1);
        mmc_tensor *qe = ret_audio_forward(ctx, m, mmc_tensor_from(ctx, 3, (int[]){B, M, Tf}, mel), len, 1);
        mmc_tensor *xe = mmc_retrieval_encode_texts(ctx, m, ids, mask, B, T, 1);
        mmc_tensor *loss = ret_audio_loss(ctx, m, ie, qe, xe); /* the training loop's own loss */
        if (!loss || mmc_backward(ctx, loss) != MMC_OK) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "bench: %s", ctx->err.msg);
            goto done;
        }
        mmc_optim_step(opt);
        mmc_optim_zero_grad(opt);
        mmc_ctx_reset(ctx);
    }
    bench_stop(r, t0);
    r->arena_peak = mmc_arena_peak(ctx->arena);
    r->items = B;
    r->unit = "clips/s";
    /* each conv (forward + 2 backward products), the GRUs (3 gates over [x, h] at every step,
     * each direction), the three projections and the three B × B similarities */
    double f = 0;
    int in = 3, sd = S;
    for (int s = 0; s < 4; s++) {
        int w = c.image.cnn_widths[s];
        sd = (sd - 1) / 2 + 1;
        f += 3.0 * 2.0 * B * (double)sd * sd * w * in * 9;
        in = w;
    }
    int g = c.pool_grid < sd ? c.pool_grid : sd;
    f += linear_train_flops(B, in * g * g, c.embed_dim);
    const mmc_audio_encoder_opts *au = &c.audio;
    int steps_a = Tf, ain = M;
    for (int k = 0; k < au->convs; k++) {
        if ((1 << k) < au->stride) steps_a = (steps_a - 1) / 2 + 1;
        f += linear_train_flops((double)B * steps_a, ain * 3, au->channels);
        ain = au->channels;
    }
    f += 2 * linear_train_flops((double)B * steps_a, au->channels + au->hidden, 3 * au->hidden) +
         linear_train_flops(B, 2 * au->hidden, c.embed_dim);
    f += linear_train_flops((double)B * T, c.text.word_dim + c.text.text_hidden, 3 * c.text.text_hidden) +
         linear_train_flops(B, c.text.text_hidden, c.embed_dim);
    r->flops = f + 3 * linear_train_flops(B, c.embed_dim, B);
done:
    mmc_ctx_free(ctx);
    mmc_free(img);
    mmc_free(mel);
    mmc_free(ids);
    mmc_free(mask);
    mmc_free(len);
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
    {"caption-train", caption_train, 1, 3},
    {"video-retrieval-train", video_retrieval_train, 1, 3},
    {"audio-retrieval-train", audio_retrieval_train, 1, 3},
    {"clip-vit-b32-image", clip_vit_b32_image, 1, 3},
    {"clip-text-b32", clip_text_b32, 1, 3},
};
#define NWORKLOADS (int)(sizeof WORKLOADS / sizeof WORKLOADS[0])

static const char *qtype_name(void) { return g_qtype == MMC_QTYPE_Q8 ? "int8" : g_qtype == MMC_QTYPE_Q4 ? "q4" : "f32"; }

/* A positive int, or -1. */
static int parse_pos(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > INT_MAX) return -1;
    return (int)v;
}

/* bench_serve.c: serve-search puts the HTTP service under load; it has options of its own. */
int cmd_bench_serve(int argc, char **argv);

int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "serve-search")) return cmd_bench_serve(argc, argv);
    const char *name = NULL;
    int threads = 0, steps = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--dtype")) {
            if (i + 1 >= argc) return cli_error(1, "bench: --dtype needs a value (f32, int8, q8 or q4)");
            const char *d = argv[++i];
            if (!strcmp(d, "f32") || !strcmp(d, "float32")) g_qtype = 0;
            else if (!strcmp(d, "int8") || !strcmp(d, "q8")) g_qtype = MMC_QTYPE_Q8;
            else if (!strcmp(d, "q4")) g_qtype = MMC_QTYPE_Q4;
            else return cli_error(1, "bench: --dtype wants f32, int8, q8 or q4, got '%s'", d);
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
    if (!name) return cli_error(1, "bench: missing WORKLOAD (gemm-1024, gemm-2048, conv2d-train, retrieval-train, caption-train, video-retrieval-train, audio-retrieval-train, clip-vit-b32-image, clip-text-b32, serve-search)");
    int k = -1;
    for (int i = 0; i < NWORKLOADS; i++)
        if (!strcmp(name, WORKLOADS[i].name)) k = i;
    if (k < 0)
        return cli_error(1, "bench: unknown workload '%s' (gemm-1024, gemm-2048, conv2d-train, retrieval-train, caption-train, video-retrieval-train, audio-retrieval-train, clip-vit-b32-image, clip-text-b32, serve-search)", name);
    if (g_qtype && strncmp(name, "gemm-", 5) && strncmp(name, "clip-", 5))
        return cli_error(1, "bench: --dtype applies to gemm-* and clip-* workloads, not %s", name);
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
    char extra[96] = "";
    if (json) {
        int at = 0;
        if (gflops > 0) at += snprintf(extra + at, sizeof extra - (size_t)at, ", \"gflops\": %.2f", gflops);
        if (r.params > 0) snprintf(extra + at, sizeof extra - (size_t)at, ", \"params\": %lld", (long long)r.params);
        printf("{\"workload\": \"%s\", \"dtype\": \"%s\", \"rate\": %.2f, \"unit\": \"%s\", \"threads\": %d, "
               "\"peak_rss_mb\": %.1f%s}\n",
               name, qtype_name(), rate, unit, threads, rss_mb, extra);
    } else {
        int at = 0;
        if (gflops > 0) at += snprintf(extra + at, sizeof extra - (size_t)at, ", %.1f GFLOP/s", gflops);
        if (r.params > 0) snprintf(extra + at, sizeof extra - (size_t)at, ", %lld parameters", (long long)r.params);
        printf("%s%s%s: %.1f %s%s (%d threads, %d steps of %.1f ms, %.1f CPU-ms, peak RSS %.0f MB, step arena peak %.0f MB)\n",
               name, g_qtype ? " " : "", g_qtype ? qtype_name() : "", rate, unit, extra, threads, steps, 1e3 * r.seconds / steps, 1e3 * g_cpu_seconds / steps, rss_mb,
               r.arena_peak / 1048576.0);
    }
    return 0;
}

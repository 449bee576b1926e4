/* demo.c — `mmc demo`: the end-to-end job that works so far.
 *
 * Until the shapes world and the multimodal models land, the demo trains a small CNN on a
 * synthetic image task generated in memory — which way does the bar point? (horizontal,
 * vertical, diagonal, anti-diagonal; random position, length and noise) — with AdamW,
 * prints progress, evaluates on held-out images, writes the weights to
 * OUT/model.safetensors, reloads them and checks the reloaded model scores the same. */
#include "cli.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { S = 16, NCLASS = 4 };
static const char *CLASS_NAMES[NCLASS] = {"horizontal", "vertical", "diagonal", "anti-diagonal"};

/* One 1×S×S image of class c into img; noise std 0.3. */
static void make_image(mmc_rng *r, int c, float *img) {
    for (int i = 0; i < S * S; i++) img[i] = 0.3f * mmc_rng_normal(r);
    int len = 6 + (int)mmc_rng_below(r, 6);
    int x0 = 2 + (int)mmc_rng_below(r, S - 4), y0 = 2 + (int)mmc_rng_below(r, S - 4);
    int dx = c == 0 ? 1 : c == 1 ? 0 : c == 2 ? 1 : 1;
    int dy = c == 0 ? 0 : c == 1 ? 1 : c == 2 ? 1 : -1;
    for (int t = -len / 2; t <= len / 2; t++) {
        int x = x0 + t * dx, y = y0 + t * dy;
        if (x >= 0 && x < S && y >= 0 && y < S) img[y * S + x] += 1.0f;
    }
}

typedef struct cnn {
    mmc_tensor *p[10]; /* conv1.w conv1.b bn1.w bn1.b conv2.w conv2.b bn2.w bn2.b fc.w fc.b */
    mmc_tensor *rm1, *rv1, *rm2, *rv2;
} cnn;
static const char *PNAMES[10] = {"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight",
                                 "conv2.bias",   "bn2.weight", "bn2.bias",   "fc.weight",  "fc.bias"};

static mmc_tensor *param(int ndim, const int *shape, mmc_rng *r, float bound, float fill) {
    mmc_tensor *t = mmc_tensor_new(ndim, shape);
    if (!t) return NULL;
    if (bound > 0) mmc_rng_fill_uniform(r, t->data, t->numel, -bound, bound);
    else for (int64_t i = 0; i < t->numel; i++) t->data[i] = fill;
    t->requires_grad = 1;
    return t;
}

/* PyTorch's default init bounds: kaiming-uniform(a=sqrt 5) gives 1/sqrt(fan_in) for both. */
static int cnn_init(cnn *m, mmc_rng *r) {
    memset(m, 0, sizeof *m);
    m->p[0] = param(4, (int[]){8, 1, 3, 3}, r, 1.0f / 3.0f, 0);
    m->p[1] = param(1, (int[]){8}, r, 1.0f / 3.0f, 0);
    m->p[2] = param(1, (int[]){8}, r, 0, 1);
    m->p[3] = param(1, (int[]){8}, r, 0, 0);
    m->p[4] = param(4, (int[]){16, 8, 3, 3}, r, 1.0f / sqrtf(72), 0);
    m->p[5] = param(1, (int[]){16}, r, 1.0f / sqrtf(72), 0);
    m->p[6] = param(1, (int[]){16}, r, 0, 1);
    m->p[7] = param(1, (int[]){16}, r, 0, 0);
    m->p[8] = param(2, (int[]){NCLASS, 16}, r, 0.25f, 0);
    m->p[9] = param(1, (int[]){NCLASS}, r, 0.25f, 0);
    m->rm1 = mmc_tensor_new(1, (int[]){8});
    m->rv1 = mmc_tensor_new(1, (int[]){8});
    m->rm2 = mmc_tensor_new(1, (int[]){16});
    m->rv2 = mmc_tensor_new(1, (int[]){16});
    for (int i = 0; i < 10; i++) if (!m->p[i]) return -1;
    if (!m->rm1 || !m->rv1 || !m->rm2 || !m->rv2) return -1;
    for (int i = 0; i < 8; i++) m->rv1->data[i] = 1;
    for (int i = 0; i < 16; i++) m->rv2->data[i] = 1;
    return 0;
}

static void cnn_free(cnn *m) {
    for (int i = 0; i < 10; i++) mmc_tensor_free(m->p[i]);
    mmc_tensor_free(m->rm1); mmc_tensor_free(m->rv1); mmc_tensor_free(m->rm2); mmc_tensor_free(m->rv2);
}

// x (B, 1, S, S) -> logits (B, NCLASS)
static mmc_tensor *cnn_forward(mmc_ctx *ctx, cnn *m, mmc_tensor *x, int training) {
    mmc_conv2d_opts o = mmc_conv2d_defaults();
    o.pad_h = o.pad_w = 1;
    mmc_tensor *h = mmc_conv2d(ctx, x, m->p[0], m->p[1], o);                       // (B, 8, S, S)
    h = mmc_relu(ctx, mmc_batch_norm(ctx, h, m->p[2], m->p[3], m->rm1, m->rv1, training, 0.1f, 1e-5f));
    h = mmc_max_pool2d(ctx, h, 2, 2, 0);                                            // (B, 8, S/2, S/2)
    h = mmc_conv2d(ctx, h, m->p[4], m->p[5], o);                                    // (B, 16, S/2, S/2)
    h = mmc_relu(ctx, mmc_batch_norm(ctx, h, m->p[6], m->p[7], m->rm2, m->rv2, training, 0.1f, 1e-5f));
    h = mmc_global_avg_pool2d(ctx, h);                                              // (B, 16)
    return mmc_linear(ctx, h, m->p[8], m->p[9]);                                    // (B, NCLASS)
}

static void make_batch(mmc_rng *r, int B, float *x, int *y) {
    for (int b = 0; b < B; b++) {
        y[b] = (int)mmc_rng_below(r, NCLASS);
        make_image(r, y[b], x + (size_t)b * S * S);
    }
}

/* Accuracy on n test images; -1 on error. */
static double evaluate(mmc_ctx *ctx, cnn *m, const float *x, const int *y, int n, int *confusion) {
    int prev = mmc_grad_mode(ctx, 0), correct = 0;
    for (int at = 0; at < n; at += 256) {
        int B = n - at < 256 ? n - at : 256;
        mmc_tensor *xb = mmc_tensor_from(ctx, 4, (int[]){B, 1, S, S}, x + (size_t)at * S * S);
        mmc_tensor *logits = cnn_forward(ctx, m, xb, 0);
        if (!logits) { mmc_grad_mode(ctx, prev); return -1; }
        for (int b = 0; b < B; b++) {
            int best = 0;
            for (int c = 1; c < NCLASS; c++)
                if (logits->data[b * NCLASS + c] > logits->data[b * NCLASS + best]) best = c;
            correct += best == y[at + b];
            if (confusion) confusion[y[at + b] * NCLASS + best]++;
        }
        mmc_ctx_reset(ctx);
    }
    mmc_grad_mode(ctx, prev);
    return (double)correct / n;
}

int cmd_demo(int argc, char **argv) {
    int steps = 300, B = 64, ntest = 1024;
    uint64_t seed = 1;
    const char *out = "demo";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--steps") && v) { steps = atoi(v); i++; }
        else if (!strcmp(a, "--seed") && v) { seed = strtoull(v, NULL, 10); i++; }
        else if (!strcmp(a, "--threads") && v) { mmc_set_threads(atoi(v)); i++; }
        else if (!strcmp(a, "--out") && v) { out = v; i++; }
        else return cli_error(1, "demo: unknown or incomplete option '%s' (see: mmc help demo)", a);
    }
    if (steps < 1 || steps > 1000000) return cli_error(1, "demo: --steps must be in 1..1000000");
    if (mkdir(out, 0755) != 0) {
        struct stat st;
        if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) return cli_error(2, "demo: cannot create output folder '%s'", out);
    }
    printf("mmc demo: a CNN learns which way a bar points (%dx%d images, %d classes), %d steps of AdamW, "
           "batch %d, %d threads\n", S, S, NCLASS, steps, B, mmc_get_threads());
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, 0);
    cnn m;
    mmc_ctx *ctx = mmc_ctx_new();
    if (!ctx || cnn_init(&m, &rng)) return cli_error(3, "demo: out of memory");
    mmc_error err = {0};
    mmc_adam_opts ao = mmc_adamw_defaults(3e-3f);
    mmc_optim *opt = mmc_optim_adamw(m.p, 10, ao, &err);
    if (!opt) return cli_error_from(&err);
    float *x = malloc(sizeof(float) * (size_t)(ntest > B ? ntest : B) * S * S);
    int *y = malloc(sizeof(int) * (size_t)(ntest > B ? ntest : B));
    if (!x || !y) return cli_error(3, "demo: out of memory");
    double t0 = mmc_now(), ema = 0;
    int rc = 0;
    for (int step = 1; step <= steps; step++) {
        make_batch(&rng, B, x, y);
        float lr = 3e-3f * 0.5f * (1.0f + cosf((float)M_PI * (float)(step - 1) / (float)steps)); /* cosine */
        mmc_optim_set_lr(opt, lr);
        mmc_tensor *xb = mmc_tensor_from(ctx, 4, (int[]){B, 1, S, S}, x);
        mmc_tensor *loss = mmc_cross_entropy(ctx, cnn_forward(ctx, &m, xb, 1), y, -100, 0.0f);
        if (!loss || mmc_backward(ctx, loss) != MMC_OK) { rc = cli_error(3, "demo: step %d: %s", step, ctx->err.msg); break; }
        float l = loss->data[0];
        if (!isfinite(l)) { rc = cli_error(3, "demo: loss is %g at step %d (diverged)", l, step); break; }
        ema = step == 1 ? l : 0.95 * ema + 0.05 * l;
        mmc_optim_step(opt);
        mmc_optim_zero_grad(opt);
        mmc_ctx_reset(ctx);
        if (step % 50 == 0 || step == steps)
            printf("  step %4d/%d  loss %.4f  lr %.2e  %.0f images/s\n", step, steps, ema, lr,
                   step * B / (mmc_now() - t0));
        fflush(stdout);
    }
    if (!rc) {
        mmc_rng test_rng;
        mmc_rng_seed(&test_rng, seed + 1000, 1); /* held-out images: another stream */
        make_batch(&test_rng, ntest, x, y);
        int conf[NCLASS * NCLASS] = {0};
        double acc = evaluate(ctx, &m, x, y, ntest, conf);
        if (acc < 0) rc = cli_error(3, "demo: evaluation: %s", ctx->err.msg);
        else {
            printf("test accuracy on %d held-out images: %.1f%%\n", ntest, 100 * acc);
            printf("confusion (rows: truth, columns: prediction)\n");
            for (int a = 0; a < NCLASS; a++) {
                printf("  %-14s", CLASS_NAMES[a]);
                for (int b = 0; b < NCLASS; b++) printf(" %5d", conf[a * NCLASS + b]);
                printf("\n");
            }
            /* Save, reload into a fresh model, check it scores the same. */
            char path[4096];
            snprintf(path, sizeof path, "%s/model.safetensors", out);
            mmc_tensor *all[14];
            const char *names[14];
            for (int i = 0; i < 10; i++) { all[i] = m.p[i]; names[i] = PNAMES[i]; }
            all[10] = m.rm1; names[10] = "bn1.running_mean"; all[11] = m.rv1; names[11] = "bn1.running_var";
            all[12] = m.rm2; names[12] = "bn2.running_mean"; all[13] = m.rv2; names[13] = "bn2.running_var";
            if (mmc_safetensors_write(path, all, names, 14, "{\"model\":\"mmc-demo-cnn\"}", &err) != MMC_OK) rc = cli_error_from(&err);
            else {
                mmc_safetensors st;
                cnn m2;
                mmc_rng r2;
                mmc_rng_seed(&r2, 99, 0);
                if (cnn_init(&m2, &r2) || mmc_safetensors_open(&st, path, &err) != MMC_OK) rc = cli_error_from(&err);
                else {
                    mmc_tensor **dst[14];
                    for (int i = 0; i < 10; i++) dst[i] = &m2.p[i];
                    dst[10] = &m2.rm1; dst[11] = &m2.rv1; dst[12] = &m2.rm2; dst[13] = &m2.rv2;
                    for (int i = 0; i < 14 && !rc; i++) {
                        mmc_tensor *t = mmc_safetensors_get(&st, names[i], &err);
                        if (!t || !mmc_tensor_same_shape(t, *dst[i])) { rc = cli_error(2, "demo: reload %s: %s", names[i], err.msg); mmc_tensor_free(t); break; }
                        memcpy((*dst[i])->data, t->data, sizeof(float) * (size_t)t->numel);
                        mmc_tensor_free(t);
                    }
                    mmc_safetensors_close(&st);
                    if (!rc) {
                        double acc2 = evaluate(ctx, &m2, x, y, ntest, NULL);
                        printf("saved %s; reloaded model accuracy %.1f%% (%s)\n", path, 100 * acc2,
                               acc2 == acc ? "identical" : "DIFFERENT");
                        if (acc2 != acc) rc = cli_error(3, "demo: reloaded model disagrees with the trained one");
                    }
                }
                cnn_free(&m2);
            }
        }
    }
    free(x);
    free(y);
    mmc_optim_free(opt);
    cnn_free(&m);
    mmc_ctx_free(ctx);
    if (!rc) printf("demo done in %.1fs\n", mmc_now() - t0);
    return rc;
}

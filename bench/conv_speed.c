/* conv_speed.c — forward and backward time of mmc_conv2d on the convolutions of the small-image
 * ResNet of retrieval-train / caption-train (DESIGN §7: 3×3 stride-1 stem, 2-2-2-2 basic blocks
 * of widths 32-64-128-256 on 64×64 images), one shape at a time, for tuning src/ops/conv.c.
 * Not part of the build; from the repository root:
 *   cc -O2 -march=native -Iinclude -Isrc/core bench/conv_speed.c build/libmmc.a -fopenmp \
 *      $(pkg-config --libs openblas libcjson libpng libjpeg zlib) -lm -o /tmp/conv_speed
 *   MMC_THREADS=1 /tmp/conv_speed [B] [reps]
 * Per shape: the best of `reps` steps (after one warm-up) of the forward and of the backward
 * (dL/dX and dL/dW; the stem has no dL/dX, as its input is the image), in ms and GFLOP/s, by
 * wall clock and per CPU-second of the process (on a shared machine the second is the
 * steadier figure: time spent descheduled is not CPU time). */
#include "mmc.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clk(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef struct shape {
    const char *name;
    int C, OC, HW, k, stride, count; /* count: how many such convs one forward has */
} shape;

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 128, reps = argc > 2 ? atoi(argv[2]) : 3;
    static const shape shapes[] = {
        {"stem 3->32 64x64", 3, 32, 64, 3, 1, 1},
        {"layer1 32->32 64x64", 32, 32, 64, 3, 1, 4},
        {"layer2.0 32->64 s2", 32, 64, 64, 3, 2, 1},
        {"layer2 64->64 32x32", 64, 64, 32, 3, 1, 3},
        {"layer2 down 1x1 s2", 32, 64, 64, 1, 2, 1},
        {"layer3.0 64->128 s2", 64, 128, 32, 3, 2, 1},
        {"layer3 128->128 16x16", 128, 128, 16, 3, 1, 3},
        {"layer3 down 1x1 s2", 64, 128, 32, 1, 2, 1},
        {"layer4.0 128->256 s2", 128, 256, 16, 3, 2, 1},
        {"layer4 256->256 8x8", 256, 256, 8, 3, 1, 3},
        {"layer4 down 1x1 s2", 128, 256, 16, 1, 2, 1},
    };
    mmc_set_threads(0);
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 0);
    double tot_wall = 0, tot_cpu = 0, tot_flops = 0;
    printf("B=%d threads=%d\n", B, mmc_get_threads());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *z = &shapes[s];
        int stem = s == 0, OH = (z->HW + 2 * (z->k / 2) - z->k) / z->stride + 1;
        mmc_tensor *x = mmc_tensor_new(4, (int[]){B, z->C, z->HW, z->HW});
        mmc_tensor *w = mmc_tensor_new(4, (int[]){z->OC, z->C, z->k, z->k});
        float *seed = malloc(sizeof(float) * (size_t)B * z->OC * OH * OH);
        mmc_rng_fill_normal(&rng, x->data, x->numel, 0, 1);
        mmc_rng_fill_normal(&rng, w->data, w->numel, 0, 0.05f);
        mmc_rng_fill_normal(&rng, seed, (int64_t)B * z->OC * OH * OH, 0, 1);
        x->requires_grad = !stem;
        w->requires_grad = 1;
        mmc_conv2d_opts o = mmc_conv2d_defaults();
        o.stride_h = o.stride_w = z->stride;
        o.pad_h = o.pad_w = z->k / 2;
        mmc_ctx *ctx = mmc_ctx_new();
        double bf = 1e30, bb = 1e30, cf = 1e30, cb = 1e30;
        for (int r = 0; r <= reps; r++) {
            double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
            mmc_tensor *y = mmc_conv2d(ctx, x, w, NULL, o);
            double w1 = clk(CLOCK_MONOTONIC), c1 = clk(CLOCK_PROCESS_CPUTIME_ID);
            if (!y || mmc_backward_with(ctx, y, seed)) { fprintf(stderr, "%s\n", ctx->err.msg); return 1; }
            double w2 = clk(CLOCK_MONOTONIC), c2 = clk(CLOCK_PROCESS_CPUTIME_ID);
            mmc_ctx_reset(ctx);
            if (r == 0) continue;
            if (w1 - w0 < bf) bf = w1 - w0;
            if (w2 - w1 < bb) bb = w2 - w1;
            if (c1 - c0 < cf) cf = c1 - c0;
            if (c2 - c1 < cb) cb = c2 - c1;
        }
        double f = 2.0 * B * z->OC * OH * OH * z->C * z->k * z->k, fb = (stem ? 1 : 2) * f;
        int nt = mmc_get_threads();
        printf("%-24s x%d  fwd %7.1f ms %6.1f GF/s (%6.1f /cpu-s)   bwd %7.1f ms %6.1f GF/s (%6.1f /cpu-s)\n", z->name,
               z->count, 1e3 * bf, f / bf * 1e-9, f / cf * nt * 1e-9, 1e3 * bb, fb / bb * 1e-9, fb / cb * nt * 1e-9);
        tot_wall += z->count * (bf + bb);
        tot_cpu += z->count * (cf + cb) / nt;
        tot_flops += z->count * (f + fb);
        mmc_ctx_free(ctx);
        mmc_tensor_free(x);
        mmc_tensor_free(w);
        free(seed);
    }
    printf("all convs of one step: %.0f ms wall, %.1f GFLOP/s (%.1f per CPU-second x threads)\n", 1e3 * tot_wall,
           tot_flops / tot_wall * 1e-9, tot_flops / tot_cpu * 1e-9);
    return 0;
}

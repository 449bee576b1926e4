/* rnn_speed.c — forward+backward time of one GRU (or LSTM) layer at the benchmark size
 * (DESIGN §7 retrieval text encoder: 256 -> 512, T = 16, B = 128). The PyTorch side is
 * bench/torch/rnn_speed.py. Build against a Release tree:
 *   cc -O2 -march=native -Iinclude bench/rnn_speed.c build/libmmc.a -lopenblas -fopenmp \
 *      -lcjson -lpng -ljpeg -lz -lm -o /tmp/rnn_speed
 *   MMC_THREADS=2 /tmp/rnn_speed [gru|lstm] [B T IN H]
 * Prints the median and the fastest of 15 timed steps after 3 warm-up steps (on a shared
 * machine the fastest is the better estimate of what the code can do). */
#include "mmc.h"
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int lstm = argc > 1 && strcmp(argv[1], "lstm") == 0;
    int B = argc > 5 ? atoi(argv[2]) : 128, T = argc > 5 ? atoi(argv[3]) : 16;
    int IN = argc > 5 ? atoi(argv[4]) : 256, H = argc > 5 ? atoi(argv[5]) : 512;
    mmc_set_threads(0);
    mmc_params P = {0};
    mmc_rng rng;
    mmc_rng_seed(&rng, 1, 0);
    mmc_error err = {0};
    mmc_nn_rnn m;
    int rc = lstm ? mmc_nn_lstm_init(&m, &P, NULL, IN, H, mmc_nn_rnn_defaults(), &rng, &err)
                  : mmc_nn_gru_init(&m, &P, NULL, IN, H, mmc_nn_rnn_defaults(), &rng, &err);
    if (rc) { fprintf(stderr, "%s\n", err.msg); return 1; }
    mmc_tensor *x = mmc_tensor_new(3, (int[]){B, T, IN});
    mmc_rng_fill_normal(&rng, x->data, x->numel, 0, 1);
    x->requires_grad = 1;
    float *seed = malloc(sizeof(float) * (size_t)B * T * H);
    mmc_rng_fill_normal(&rng, seed, (int64_t)B * T * H, 0, 1);
    mmc_ctx *ctx = mmc_ctx_new();
    enum { WARM = 3, N = 15 };
    double t[N], tf[N];
    for (int i = 0; i < WARM + N; i++) {
        mmc_ctx_reset(ctx);
        mmc_params_zero_grad(&P);
        mmc_tensor_zero_grad(x);
        double t0 = mmc_now();
        mmc_tensor *out = lstm ? mmc_nn_lstm_forward(ctx, &m, x, NULL, NULL, NULL, 1, NULL, NULL, NULL)
                               : mmc_nn_gru_forward(ctx, &m, x, NULL, NULL, 1, NULL, NULL);
        double t1 = mmc_now();
        if (!out || mmc_backward_with(ctx, out, seed)) { fprintf(stderr, "%s\n", ctx->err.msg); return 1; }
        double t2 = mmc_now();
        if (i >= WARM) t[i - WARM] = t2 - t0, tf[i - WARM] = t1 - t0;
    }
    qsort(t, N, sizeof t[0], cmp);
    qsort(tf, N, sizeof tf[0], cmp);
    int G = lstm ? 4 : 3;
    double flops = 3.0 * 2.0 * (double)B * T * G * H * (IN + H); /* fwd + 2x for bwd */
    printf("mmc %s B=%d T=%d IN=%d H=%d threads=%d: fwd+bwd median %.2f ms, min %.2f ms (fwd min %.2f ms), "
           "%.1f GFLOP/s at min\n", lstm ? "lstm" : "gru", B, T, IN, H, mmc_get_threads(), t[N / 2] * 1e3,
           t[0] * 1e3, tf[0] * 1e3, flops / t[0] * 1e-9);
    mmc_ctx_free(ctx);
    mmc_tensor_free(x);
    mmc_params_free(&P);
    free(seed);
    return 0;
}

/* vit_gemms.c — the matrix products of clip-vit-b32-image alone: per layer, x · Wᵀ for
 * q, k, v, out (768 → 768), fc1 (768 → 3072) and fc2 (3072 → 768) on 400 rows (8 images ×
 * 50 tokens), over 12 layers of distinct weights (340 MB, so they come from memory as in
 * the workload), beside a 2048³ product (the GEMM limit of bench/run.sh) in the same
 * process. Not part of the build; from the repository root:
 *
 *   cc -O2 -Iinclude -Isrc/core -Isrc/ops bench/vit_gemms.c build/libmmc.a -fopenmp -lm \
 *      $(pkg-config --libs openblas libcjson libpng libjpeg zlib) -o /tmp/vit_gemms
 *   /tmp/vit_gemms [threads] [reps] [rows] [tb: 1 x·Wᵀ as the workload, 0 x·W]
 *
 * Prints each side's best wall-clock rate and its rate per CPU-second · threads (steadier
 * on a shared machine), and the ratio of the layers' rate to the 2048³ rate: the share of
 * the GEMM limit the workload could reach if nothing but its products took time. */
#include "gemm.h"
#include "mmc.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float *fill(size_t n, unsigned seed) {
    float *p = malloc(sizeof(float) * n);
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u + seed) % 1000) * 1e-3f - 0.5f;
    return p;
}

int main(int argc, char **argv) {
    int nt = argc > 1 ? atoi(argv[1]) : 1, reps = argc > 2 ? atoi(argv[2]) : 3;
    int R = argc > 3 ? atoi(argv[3]) : 400, tb = argc > 4 ? atoi(argv[4]) : 1, D = 768, F = 3072, L = 12;
    mmc_set_threads(nt);
    const mmc_gemm_kernel *kn = mmc_gemm_best_kernel();
    float *W[12][6];
    int out_of[6] = {D, D, D, D, F, D}, in_of[6] = {D, D, D, D, D, F};
    for (int l = 0; l < L; l++)
        for (int j = 0; j < 6; j++) W[l][j] = fill((size_t)out_of[j] * in_of[j], 6 * l + j);
    float *X = fill((size_t)R * F, 99), *Y = fill((size_t)R * F, 7);
    double flops = 0;
    for (int j = 0; j < 6; j++) flops += 2.0 * R * out_of[j] * in_of[j];
    flops *= L;
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (int l = 0; l < L; l++)
            for (int j = 0; j < 6; j++)
                mmc_sgemm(kn, nt, 0, tb, R, out_of[j], in_of[j], 1.0f, X, in_of[j], W[l][j], tb ? in_of[j] : out_of[j], 0.0f, Y,
                          out_of[j]);
        double t = now(CLOCK_MONOTONIC) - t0, c = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r == 0) continue;
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    int n = 2048;
    float *A = fill((size_t)n * n, 1), *B = fill((size_t)n * n, 2), *C = fill((size_t)n * n, 3);
    double gbest = 1e30, gbest_cpu = 1e30, gflops = 2.0 * n * n * n;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        mmc_sgemm(kn, nt, 0, 0, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        double t = now(CLOCK_MONOTONIC) - t0, c = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r == 0) continue;
        if (t < gbest) gbest = t;
        if (c < gbest_cpu) gbest_cpu = c;
    }
    double lw = flops / best * 1e-9, lc = flops / best_cpu * nt * 1e-9;
    double gw = gflops / gbest * 1e-9, gc = gflops / gbest_cpu * nt * 1e-9;
    printf("%s, %d threads, %d rows: layers %.1f GFLOP/s wall, %.1f per CPU-s; 2048^3 %.1f wall, %.1f per CPU-s; "
           "layers / 2048^3: %.0f%% wall, %.0f%% CPU\n",
           kn->name, nt, R, lw, lc, gw, gc, 100 * lw / gw, 100 * lc / gc);
    return 0;
}

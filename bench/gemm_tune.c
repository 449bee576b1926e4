/* gemm_tune.c — mmc's SGEMM (one kernel, chosen blocking) beside OpenBLAS, for tuning and
 * for measuring on a busy machine. Not part of the build; from the repository root:
 *
 *   cc -O2 -Iinclude -Isrc/core -Isrc/ops bench/gemm_tune.c build/libmmc.a -fopenmp -lm \
 *      $(pkg-config --libs openblas libcjson libpng libjpeg zlib) -o /tmp/gemm_tune
 *   /tmp/gemm_tune M N K [threads] [kernel|openblas] [mc kc nc] [ta tb] [reps]
 *
 * Prints the best wall-clock rate over the reps and the rate per CPU-second of the whole
 * process (flops / process CPU time · threads). On a shared machine the second number is
 * the steadier one: time spent descheduled is not CPU time. (It still counts OpenBLAS's
 * threads spinning while they wait, which the wall-clock figure does not.) */
#include "gemm.h"
#include "mmc.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s M N K [threads] [kernel|openblas] [mc kc nc] [ta tb] [reps]\n", argv[0]);
        return 2;
    }
    int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]);
    int nt = argc > 4 ? atoi(argv[4]) : 1;
    const char *kname = argc > 5 ? argv[5] : "best";
    int ta = argc > 10 ? atoi(argv[9]) : 0, tb = argc > 10 ? atoi(argv[10]) : 0;
    int reps = argc > 11 ? atoi(argv[11]) : 10;
    mmc_set_threads(nt);
    mmc_gemm_kernel kn = *mmc_gemm_best_kernel();
    int nk, use_blas = !strcmp(kname, "openblas");
    const mmc_gemm_kernel *all = mmc_gemm_kernels(&nk);
    for (int i = 0; i < nk; i++)
        if (!strcmp(all[i].name, kname)) kn = all[i];
    if (argc > 8 && atoi(argv[6]) > 0) kn.mc = atoi(argv[6]), kn.kc = atoi(argv[7]), kn.nc = atoi(argv[8]);
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N);
    float *C = malloc(sizeof(float) * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 7) - 3.0f;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)(i % 5) - 2.0f;
    double best = 1e30, best_cpu = 1e30, flops = 2.0 * M * N * K;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        if (use_blas)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C, N);
        else
            mmc_sgemm(&kn, nt, ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C, N);
        double t = now(CLOCK_MONOTONIC) - t0, c = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r == 0) continue; /* warm-up: buffers, pages, thread pool */
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    printf("%s %dx%dx%d ta=%d tb=%d threads=%d mc=%d kc=%d nc=%d: %.1f GFLOP/s wall, %.1f per CPU-second x threads\n",
           use_blas ? "openblas" : kn.name, M, N, K, ta, tb, nt, kn.mc, kn.kc, kn.nc,
           flops / best * 1e-9, flops / best_cpu * nt * 1e-9);
    free(A), free(B), free(C);
    return 0;
}

/* index_search.c — speed of exact top-k search over an embedding index, and what int8
 * storage costs in recall. Not part of the build; from the repository root:
 *
 *   cc -O2 -Iinclude bench/index_search.c build/libmmc.a -fopenmp -lm \
 *      $(pkg-config --libs openblas libcjson libpng libjpeg zlib) -o /tmp/index_search
 *   MMC_THREADS=2 /tmp/index_search [N D Q K]      (default 100000 256 1000 10)
 *
 * `make bench` (bench/run.sh) builds it and runs 1000000 256 1 10: the latency of one
 * query against a million 256-d rows (the target: well under 100 ms on 2 cores).
 *
 * Random Gaussian rows and queries (the hardest case for recall: no cluster structure,
 * top scores crowd together). Prints the best of 3 timed searches per dtype, the time to
 * save and to open (mmap + full validation, CRCs included), and int8 recall@K against the
 * float32 result. */
#include "mmc.h"
#include <stdlib.h>
#include <string.h>

static double best_search(const mmc_index *ix, const float *q, int nq, int k, int64_t *idx, float *s) {
    double best = 1e30;
    mmc_error err = {0};
    for (int rep = 0; rep < 3; rep++) {
        double t0 = mmc_now();
        if (mmc_index_search(ix, q, nq, k, 0, idx, s, NULL, &err) != MMC_OK) {
            fprintf(stderr, "search: %s\n", err.msg);
            exit(1);
        }
        double t = mmc_now() - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    int64_t N = argc > 1 ? atoll(argv[1]) : 100000;
    int D = argc > 2 ? atoi(argv[2]) : 256, Q = argc > 3 ? atoi(argv[3]) : 1000, K = argc > 4 ? atoi(argv[4]) : 10;
    float *x = malloc(sizeof(float) * N * D), *q = malloc(sizeof(float) * Q * D);
    char **items = malloc(sizeof(char *) * N);
    mmc_rng r;
    mmc_rng_seed(&r, 1, 1);
    mmc_rng_fill_normal(&r, x, N * D, 0, 1);
    mmc_rng_fill_normal(&r, q, (int64_t)Q * D, 0, 1);
    for (int64_t i = 0; i < N; i++) {
        items[i] = malloc(32);
        snprintf(items[i], 32, "images/%08lld.png", (long long)i);
    }
    int64_t *idx[2] = {malloc(sizeof(int64_t) * Q * K), malloc(sizeof(int64_t) * Q * K)};
    float *s = malloc(sizeof(float) * Q * K);
    mmc_error err = {0};
    printf("N %lld, D %d, %d queries, top-%d, %d threads\n", (long long)N, D, Q, K, mmc_get_threads());
    for (int dt = 0; dt < 2; dt++) {
        mmc_index *built = mmc_index_build(x, N, D, (const char *const *)items, "bench", dt, &err);
        if (!built) { fprintf(stderr, "build: %s\n", err.msg); return 1; }
        double t0 = mmc_now();
        if (mmc_index_save(built, "/tmp/mmc_bench.idx", &err) != MMC_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double t_save = mmc_now() - t0;
        mmc_index_close(built);
        t0 = mmc_now();
        mmc_index *ix = mmc_index_open("/tmp/mmc_bench.idx", &err);
        double t_open = mmc_now() - t0;
        if (!ix) { fprintf(stderr, "open: %s\n", err.msg); return 1; }
        double t = best_search(ix, q, Q, K, idx[dt], s);
        double gflop = 2.0 * N * D * Q / 1e9;
        printf("%-7s save %.3f s, open %.3f s, search %.3f s: %.0f queries/s, %.2f ms per query (%.1f GFLOP/s in the GEMMs' terms)\n",
               dt ? "int8" : "float32", t_save, t_open, t, Q / t, 1e3 * t / Q, gflop / t);
        mmc_index_close(ix);
    }
    double hits = 0;
    for (int i = 0; i < Q; i++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++) hits += idx[0][i * K + a] == idx[1][i * K + b];
    printf("int8 recall@%d vs float32: %.4f\n", K, hits / ((double)Q * K));
    remove("/tmp/mmc_bench.idx");
    return 0;
}

/* test_gemm.c — mmc's packed SGEMM (src/ops/gemm.c): against a double-precision reference
 * for every transpose case, odd and large sizes, alpha/beta; every compiled kernel this CPU
 * runs; bit-identical results for any thread count; no allocation once warm. */
#include "test.h"
#include "blas.h"
#include "gemm.h"
#include "internal.h"
#include <stdlib.h>

typedef struct gemm_case {
    int ta, tb, M, N, K;
    float alpha, beta;
} gemm_case;

/* Fills x with uniform values in [-1, 1) from a simple LCG (deterministic). */
static void fill(float *x, int64_t n, uint32_t seed) {
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
}

typedef struct operands {
    float *A, *B, *C0; /* C0: C before the product */
} operands;

static operands make_operands(const gemm_case *c, uint32_t seed) {
    operands o = {malloc(sizeof(float) * (size_t)c->M * c->K + 4),
                  malloc(sizeof(float) * (size_t)c->K * c->N + 4),
                  malloc(sizeof(float) * (size_t)c->M * c->N + 4)};
    fill(o.A, (int64_t)c->M * c->K, seed);
    fill(o.B, (int64_t)c->K * c->N, seed ^ 0x9e3779b9u);
    fill(o.C0, (int64_t)c->M * c->N, seed + 7);
    if (c->beta == 0.0f) /* beta = 0 must not read C: NaN there must not survive */
        for (int64_t i = 0; i < (int64_t)c->M * c->N; i++) o.C0[i] = NAN;
    return o;
}

static void free_operands(operands *o) { free(o->A), free(o->B), free(o->C0); }

static void run(const mmc_gemm_kernel *kn, int nt, const gemm_case *c, const operands *o,
                float *C) {
    memcpy(C, o->C0, sizeof(float) * (size_t)c->M * c->N);
    mmc_sgemm(kn, nt, c->ta, c->tb, c->M, c->N, c->K, c->alpha, o->A, c->ta ? c->M : c->K, o->B,
              c->tb ? c->K : c->N, c->beta, C, c->N);
}

/* Checks C against a double-precision product, element by element, with the standard
 * bound for a K-term dot product in float: |error| <= ~K·u · (|alpha| Σ|a·b| + |beta·c|),
 * u = 2^-24, here with margin: 2e-7 · (K + 2). */
static int check_reference(const char *what, const gemm_case *c, const operands *o,
                           const float *C) {
    for (int i = 0; i < c->M; i++)
        for (int j = 0; j < c->N; j++) {
            double s = 0.0, abs_s = 0.0;
            for (int k = 0; k < c->K; k++) {
                double a = c->ta ? o->A[(int64_t)k * c->M + i] : o->A[(int64_t)i * c->K + k];
                double b = c->tb ? o->B[(int64_t)j * c->K + k] : o->B[(int64_t)k * c->N + j];
                s += a * b, abs_s += fabs(a * b);
            }
            double c0 = c->beta == 0.0f ? 0.0 : o->C0[(int64_t)i * c->N + j];
            double want = c->alpha * s + c->beta * c0;
            double bound = 2e-7 * (c->K + 2) * (fabs(c->alpha) * abs_s + fabs(c->beta * c0)) + 1e-30;
            double got = C[(int64_t)i * c->N + j];
            if (!(fabs(got - want) <= bound)) {
                CHECK(0, "%s ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g: C[%d,%d] = %.8g, want %.8g (bound %.3g)",
                      what, c->ta, c->tb, c->M, c->N, c->K, c->alpha, c->beta, i, j, got, want, bound);
                return 0;
            }
        }
    return 1;
}

/* Odd sizes 1..67 (shapes walk through every residue of the 12/6/4 × 32/16 tiles), then
 * large ones that cross the KC, MC and NC block edges. */
static int make_cases(gemm_case *out, int max) {
    static const float alphas[] = {1.0f, 1.0f, -0.5f, 2.0f}, betas[] = {0.0f, 1.0f, 0.0f, -1.5f};
    int n = 0;
    for (int s = 1; s <= 67 && n + 4 <= max; s += 2)
        for (int t = 0; t < 4; t++, n++)
            out[n] = (gemm_case){t & 1, t >> 1, s, (s * 7 + t) % 67 + 1, (s * 13 + 3 * t) % 67 + 1,
                                 alphas[(s + t) % 4], betas[(s / 2 + t) % 4]};
    static const gemm_case large[] = {
        {0, 0, 300, 257, 520, 1.0f, 0.0f},   {1, 0, 211, 190, 700, 0.5f, 1.0f},
        {0, 1, 97, 300, 513, 1.0f, -2.0f},   {1, 1, 250, 130, 300, -1.0f, 0.0f},
        {0, 0, 13, 4200, 9, 1.0f, 1.0f},     {0, 1, 5, 4200, 40, 1.0f, 0.0f},
        {1, 0, 1, 700, 300, 1.0f, 0.0f},     {0, 0, 700, 1, 300, 1.0f, 0.5f},
        {0, 0, 17, 23, 0, 1.0f, 0.5f},       {0, 0, 17, 23, 0, 1.0f, 0.0f},
        /* column blocks sharing op(A) packed once: tall strips, a short one */
        {0, 1, 200, 1100, 100, 1.0f, 0.0f}, {1, 0, 60, 1500, 290, 1.0f, 1.0f},
    };
    for (size_t i = 0; i < sizeof large / sizeof large[0] && n < max; i++) out[n++] = large[i];
    return n;
}

static void check_kernel(const mmc_gemm_kernel *kn, int nt) {
    gemm_case cases[200];
    int n = make_cases(cases, 200);
    for (int i = 0; i < n; i++) {
        operands o = make_operands(&cases[i], 1000u + (uint32_t)i);
        float *C = malloc(sizeof(float) * (size_t)cases[i].M * cases[i].N + 4);
        run(kn, nt, &cases[i], &o, C);
        int ok = check_reference(kn->name, &cases[i], &o, C);
        free(C);
        free_operands(&o);
        if (!ok) return;
    }
}

TEST(gemm_matches_reference) {
    check_kernel(mmc_gemm_best_kernel(), 1);
    check_kernel(mmc_gemm_best_kernel(), 2);
}

/* Every kernel this CPU can run passes the reference check, and agrees with the best one
 * within float rounding. */
TEST(gemm_kernels_agree) {
    int nk;
    const mmc_gemm_kernel *all = mmc_gemm_kernels(&nk), *best = mmc_gemm_best_kernel();
    int ran = 0;
    for (int i = 0; i < nk; i++) {
        if (!all[i].available()) continue;
        ran++;
        check_kernel(&all[i], 1);
        for (int t = 0; t < 4; t++) {
            gemm_case c = {t & 1, t >> 1, 131, 77, 301, 1.0f, 0.5f};
            operands o = make_operands(&c, 77u + (uint32_t)t);
            float *got = malloc(sizeof(float) * 131 * 77), *want = malloc(sizeof(float) * 131 * 77);
            run(&all[i], 1, &c, &o, got);
            run(best, 1, &c, &o, want);
            char what[64];
            snprintf(what, sizeof what, "%s vs %s, ta=%d tb=%d", all[i].name, best->name, c.ta, c.tb);
            test_close(what, got, want, 131 * 77, 1e-5);
            free(got), free(want);
            free_operands(&o);
        }
    }
    CHECK(ran >= 1, "no kernel available (the generic one always should be)");
}

/* Cutting C into blocks for threads changes nothing in any element's sum. */
TEST(gemm_thread_count_invariant) {
    const gemm_case cases[] = {
        {0, 0, 517, 300, 530, 1.0f, 0.0f}, /* row blocks, shared B panels */
        {1, 1, 40, 999, 270, 0.5f, 1.5f},  /* column blocks of a short C */
        {1, 0, 300, 1500, 70, 1.0f, 1.0f}, /* column blocks, each a tall strip */
        {0, 1, 25, 700, 1000, 1.0f, 1.0f}, /* several K slices */
        {0, 1, 400, 3072, 300, 1.0f, 0.0f}, /* CLIP's fc1: column blocks sharing op(A) packed once */
        {1, 0, 333, 2000, 700, 1.0f, 1.0f}, /* the same with a transposed A, a partial sliver */
        {0, 1, 150, 999, 530, 1.0f, 0.0f},  /* ... and short strips */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gemm_case *c = &cases[i];
        operands o = make_operands(c, 5u + (uint32_t)i);
        size_t n = (size_t)c->M * c->N;
        float *c1 = malloc(sizeof(float) * n), *cn = malloc(sizeof(float) * n);
        run(mmc_gemm_best_kernel(), 1, c, &o, c1);
        for (int nt = 2; nt <= 3; nt++) {
            run(mmc_gemm_best_kernel(), nt, c, &o, cn);
            CHECK(!memcmp(c1, cn, sizeof(float) * n), "case %zu: %d threads differ from 1", i, nt);
        }
        free(c1), free(cn);
        free_operands(&o);
    }
}

/* Packing buffers are per thread and reused: a warm GEMM, threaded or not, of the same or
 * a smaller size allocates nothing. */
TEST(gemm_no_malloc_when_warm) {
    gemm_case big = {0, 1, 300, 280, 600, 1.0f, 0.0f}, small = {1, 0, 50, 40, 30, 1.0f, 1.0f};
    operands ob = make_operands(&big, 1), os = make_operands(&small, 2);
    float *C = malloc(sizeof(float) * 300 * 280);
    for (int nt = 1; nt <= 2; nt++) run(mmc_gemm_best_kernel(), nt, &big, &ob, C); /* warm-up */
    uint64_t before = mmc_alloc_count();
    for (int rep = 0; rep < 3; rep++)
        for (int nt = 1; nt <= 2; nt++) {
            run(mmc_gemm_best_kernel(), nt, &big, &ob, C);
            run(mmc_gemm_best_kernel(), nt, &small, &os, C);
        }
    uint64_t n = mmc_alloc_count() - before;
    CHECK(n == 0, "12 warm GEMMs made %llu mmc allocations (want 0)", (unsigned long long)n);
    free(C);
    free_operands(&ob), free_operands(&os);
}

/* mmc_sgemm_bias (linear layers: each tile of C starts from the bias row in the first K
 * slice) gives bit for bit what filling C with the bias and a beta = 1 product gives, for
 * every strip shape (short, tall, column blocks), edge tiles, several K slices, K = 0, and
 * any thread count; and mmc_gemm_bias (the entry point ops use) agrees. */
TEST(gemm_bias_equals_fill_then_gemm) {
    const gemm_case cases[] = {
        {0, 1, 400, 768, 768, 1.0f, 1.0f},  /* CLIP's q/k/v/out: row blocks */
        {0, 1, 400, 3072, 300, 1.0f, 1.0f}, /* wide: column blocks, each a tall strip */
        {0, 1, 37, 130, 530, 1.0f, 1.0f},   /* short strip, edge tiles, 3 K slices */
        {0, 0, 13, 45, 7, -0.5f, 1.0f},     {1, 1, 250, 70, 300, 2.0f, 1.0f},
        {0, 1, 17, 23, 0, 1.0f, 1.0f},      /* K = 0: C is the bias */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gemm_case *c = &cases[i];
        operands o = make_operands(c, 900u + (uint32_t)i);
        size_t n = (size_t)c->M * c->N;
        float *bias = malloc(sizeof(float) * (size_t)c->N), *want = malloc(sizeof(float) * n);
        float *got = malloc(sizeof(float) * n);
        fill(bias, c->N, 4242u + (uint32_t)i);
        const mmc_gemm_kernel *kn = mmc_gemm_best_kernel();
        int64_t lda = c->ta ? c->M : c->K, ldb = c->tb ? c->K : c->N;
        for (int nt = 1; nt <= 2; nt++) {
            for (int r = 0; r < c->M; r++) memcpy(want + (size_t)r * c->N, bias, sizeof(float) * (size_t)c->N);
            mmc_sgemm(kn, nt, c->ta, c->tb, c->M, c->N, c->K, c->alpha, o.A, lda, o.B, ldb, 1.0f, want, c->N);
            for (size_t e = 0; e < n; e++) got[e] = NAN; /* nothing of C may be read */
            mmc_sgemm_bias(kn, nt, c->ta, c->tb, c->M, c->N, c->K, c->alpha, o.A, lda, o.B, ldb, bias, got, c->N);
            CHECK(!memcmp(got, want, sizeof(float) * n), "case %zu, %d threads: bias GEMM differs", i, nt);
        }
        for (size_t e = 0; e < n; e++) got[e] = NAN;
        mmc_gemm_bias(c->ta, c->tb, c->M, c->N, c->K, c->alpha, o.A, o.B, bias, got);
        for (int r = 0; r < c->M; r++) memcpy(want + (size_t)r * c->N, bias, sizeof(float) * (size_t)c->N);
        mmc_gemm(c->ta, c->tb, c->M, c->N, c->K, c->alpha, o.A, o.B, 1.0f, want);
        CHECK(!memcmp(got, want, sizeof(float) * n), "case %zu: mmc_gemm_bias differs from fill + mmc_gemm", i);
        free(bias), free(want), free(got);
        free_operands(&o);
    }
}

/* gemm.c — mmc's packed SGEMM driver (see gemm.h), and mmc_gemm, which chooses between it
 * and OpenBLAS.
 *
 * Loop nest of one thread's share of C (Goto / BLIS order):
 *
 *   for jc over N in steps of NC        B panel
 *     for pc over K in steps of KC      pack op(B)[pc:+KC, jc:+NC] -> NR-wide slivers (L2/L3)
 *       for ic over M in steps of MC    pack op(A)[ic:+MC, pc:+KC] -> MR-tall slivers (L2)
 *         for jr over NC in steps of NR     one B sliver (KC × NR) stays in L1 ...
 *           for ir over MC in steps of MR   ... while the kernel walks the A slivers
 *             micro-kernel: C[ic+ir:+MR, jc+jr:+NR] (+)= A sliver · B sliver
 *
 * The first K slice applies beta, later ones add (beta = 1), so every element of C is
 * accumulated over the same KC slices in the same order.
 *
 * Threads (see threaded_rows / threaded_cols): a tall C is cut into row blocks that the
 * threads take in turn, after packing each shared B panel together; a wide or short C into
 * column blocks, each run as its own strip. A block never splits a K sum and blocks start
 * on the micro-tile grid, so the result is bit-identical for any thread count.
 *
 * Packing buffers are per thread (thread-local), grown when a larger call needs more and
 * otherwise reused, so a warm GEMM does not allocate. OpenMP's pool threads normally live
 * for the process, and so do their buffers; a thread that ends frees its own. */
#include "blas.h"
#include "gemm.h"
#include "simd.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- packing */

static int imin(int a, int b) { return a < b ? a : b; }

static int pack_a_fast(const float *A, int64_t lda, int i, int p0, int kc, int MR, float *Ap);

/* op(A)[i0:+mc, p0:+kc] -> slivers of MR rows: sliver s holds, for each k, its MR values
 * contiguously (rows past mc are zero). A is stored (M, K) with row stride lda, or (K, M)
 * when ta. */
static void pack_a(const float *A, int64_t lda, int ta, int i0, int mc, int p0, int kc, int MR,
                   float *Ap) {
    for (int ir = 0; ir < mc; ir += MR, Ap += (int64_t)MR * kc) {
        int mr = imin(MR, mc - ir);
        if (!ta && mr == MR && pack_a_fast(A, lda, i0 + ir, p0, kc, MR, Ap)) continue;
        if (ta) {
            for (int k = 0; k < kc; k++) {
                const float *src = A + (int64_t)(p0 + k) * lda + i0 + ir;
                float *dst = Ap + (int64_t)k * MR;
                memcpy(dst, src, sizeof(float) * (size_t)mr);
                for (int i = mr; i < MR; i++) dst[i] = 0.0f;
            }
            continue;
        }
        for (int i = 0; i < mr; i++) { /* row by row: reads contiguous, writes stride MR */
            const float *src = A + (int64_t)(i0 + ir + i) * lda + p0;
            for (int k = 0; k < kc; k++) Ap[(int64_t)k * MR + i] = src[k];
        }
        for (int i = mr; i < MR; i++)
            for (int k = 0; k < kc; k++) Ap[(int64_t)k * MR + i] = 0.0f;
    }
}

#ifdef MMC_SIMD_X86
#define HAVE_TRANSPOSE8 1

/* 4 rows of 4 floats (src, row stride lds) -> 4 columns at dst, column q at dst + q·ldd */
__attribute__((target("avx2"))) static void transpose4(const float *src, int64_t lds, float *dst, int64_t ldd) {
    __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + lds), r2 = _mm_loadu_ps(src + 2 * lds),
           r3 = _mm_loadu_ps(src + 3 * lds);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst, r0);
    _mm_storeu_ps(dst + ldd, r1);
    _mm_storeu_ps(dst + 2 * ldd, r2);
    _mm_storeu_ps(dst + 3 * ldd, r3);
}
#endif

/* A full sliver of the untransposed A (rows i..i+MR-1, columns p0..p0+kc-1, stored (M, K))
 * by 8×8 and 4×4 register transposes instead of one strided store per value: linear layers
 * (x · Wᵀ) and recurrent steps (h · W_hhᵀ) pack their activations this way. 0 when this
 * CPU or MR (a multiple of 4) does not allow it. */
static int pack_a_fast(const float *A, int64_t lda, int i, int p0, int kc, int MR, float *Ap) {
#ifdef HAVE_TRANSPOSE8
    if (MR % 4 || !mmc_cpu_has_avx2()) return 0;
    const float *a = A + (int64_t)i * lda + p0;
    int k = 0;
    for (; k + 8 <= kc; k += 8) {
        int r = 0;
        for (; r + 8 <= MR; r += 8) mmc_transpose8(a + r * lda + k, lda, Ap + (int64_t)k * MR + r, MR);
        for (; r < MR; r += 4) {
            transpose4(a + r * lda + k, lda, Ap + (int64_t)k * MR + r, MR);
            transpose4(a + r * lda + k + 4, lda, Ap + (int64_t)(k + 4) * MR + r, MR);
        }
    }
    for (; k < kc; k++)
        for (int r = 0; r < MR; r++) Ap[(int64_t)k * MR + r] = a[r * lda + k];
    return 1;
#else
    (void)A, (void)lda, (void)i, (void)p0, (void)kc, (void)MR, (void)Ap;
    return 0;
#endif
}

/* One B sliver: op(B)[p0:+kc, j:+nr] -> dst, each k's NR values contiguous (columns past
 * nr are zero). B is stored (K, N), or (N, K) when tb; op(B) has nb columns in all (how far
 * the prefetch of the next sliver may reach). */
static void pack_b_sliver(const float *B, int64_t ldb, int tb, int p0, int kc, int j, int nr,
                          int NR, int nb, float *dst) {
    if (!tb) {
        for (int k = 0; k < kc; k++) {
            float *d = dst + (int64_t)k * NR;
            memcpy(d, B + (int64_t)(p0 + k) * ldb + j, sizeof(float) * (size_t)nr);
            for (int q = nr; q < NR; q++) d[q] = 0.0f;
        }
        return;
    }
    int k0 = 0;
#ifdef HAVE_TRANSPOSE8
    if (nr == NR && NR % 16 == 0 && mmc_cpu_has_avx512f()) /* 16 × 16 blocks first */
        for (; k0 + 16 <= kc; k0 += 16)
            for (int q = 0; q < NR; q += 16) {
                /* the rows are far apart (a weight matrix read across its rows, cold in
                 * memory for a big model): fetch the same block of the next sliver's rows,
                 * a whole sliver's packing (and, packed one sliver at a time, its kernel
                 * calls) ahead of use; the last sliver of B fetches two blocks ahead */
                const float *nxt = j + NR + q + 16 <= nb ? B + (int64_t)(j + NR + q) * ldb + p0 + k0
                                                         : B + (int64_t)(j + q) * ldb + p0 + k0 + 32;
                for (int r = 0; r < 16; r++) _mm_prefetch((const char *)(nxt + r * ldb), _MM_HINT_T0);
                mmc_transpose16(B + (int64_t)(j + q) * ldb + p0 + k0, ldb, dst + (int64_t)k0 * NR + q, NR);
            }
    if (nr == NR && NR % 8 == 0 && mmc_cpu_has_avx2()) { /* 8 × 8 blocks, then the k remainder */
        for (; k0 + 8 <= kc; k0 += 8)
            for (int q = 0; q < NR; q += 8)
                mmc_transpose8(B + (int64_t)(j + q) * ldb + p0 + k0, ldb, dst + (int64_t)k0 * NR + q, NR);
    }
#endif
    for (int q = 0; q < nr; q++) {
        const float *src = B + (int64_t)(j + q) * ldb + p0;
        for (int k = k0; k < kc; k++) dst[(int64_t)k * NR + q] = src[k];
    }
    for (int q = nr; q < NR; q++)
        for (int k = k0; k < kc; k++) dst[(int64_t)k * NR + q] = 0.0f;
}

/* op(B)[p0:+kc, j0:+nc] -> consecutive NR-wide slivers. */
static void pack_b(const float *B, int64_t ldb, int tb, int p0, int kc, int j0, int nc, int NR,
                   int nb, float *Bp) {
    for (int jr = 0; jr < nc; jr += NR, Bp += (int64_t)NR * kc)
        pack_b_sliver(B, ldb, tb, p0, kc, j0 + jr, imin(NR, nc - jr), NR, nb, Bp);
}

/* ---------------------------------------------------------------- macro-kernel */

#define MAX_TILE (12 * 32) /* largest MR × NR in gemm_kernels.c */

/* A partial tile at the right or bottom edge: the kernel writes the full tile into t, and
 * the mr × nr part is merged into C with the kernels' own update formulas. */
static void edge_tile(const mmc_gemm_kernel *kn, int kc, const float *a, const float *b,
                      float *c, int64_t ldc, int mr, int nr, float alpha, float beta) {
    float t[MAX_TILE] __attribute__((aligned(64)));
    kn->fn(kc, a, b, t, kn->nr, 1.0f, 0.0f);
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        const float *ti = t + i * kn->nr;
        for (int j = 0; j < nr; j++)
            ci[j] = beta == 0.0f   ? alpha * ti[j]
                    : beta == 1.0f ? fmaf(alpha, ti[j], ci[j])
                                   : fmaf(alpha, ti[j], beta * ci[j]);
    }
}

/* C[0:mc, 0:nc] from packed Ap (mc × kc) and Bp (kc × nc). With bias (the first K slice of
 * a product with a bias row, beta then 1), each tile of C is first set to bias[0:nc] row by
 * row, just before its kernel call: the tile is in L1 when the kernel adds to it, where a
 * separate pass over C would have gone out to memory and back. */
static void macro_kernel(const mmc_gemm_kernel *kn, int mc, int nc, int kc, const float *Ap,
                         const float *Bp, float *C, int64_t ldc, float alpha, float beta,
                         const float *bias) {
    const int MR = kn->mr, NR = kn->nr;
    for (int jr = 0; jr < nc; jr += NR) {
        const float *b = Bp + (int64_t)jr * kc;
        int nr = imin(NR, nc - jr);
        for (int ir = 0; ir < mc; ir += MR) {
            const float *a = Ap + (int64_t)ir * kc;
            float *c = C + (int64_t)ir * ldc + jr;
            int mr = imin(MR, mc - ir);
            if (bias)
                for (int i = 0; i < mr; i++) memcpy(c + i * ldc, bias + jr, sizeof(float) * (size_t)nr);
            if (mr == MR && nr == NR) kn->fn(kc, a, b, c, ldc, alpha, beta);
            else edge_tile(kn, kc, a, b, c, ldc, mr, nr, alpha, beta);
        }
    }
}

/* ---------------------------------------------------------------- buffers */

typedef struct pack_buf {
    float *p;
    size_t cap; /* floats */
} pack_buf;

typedef struct thread_bufs {
    pack_buf a, b, pre; /* pre: op(A) packed whole, for column blocks (threaded_cols) */
    int registered; /* with the key below, so the buffers go when the thread does */
} thread_bufs;

static _Thread_local thread_bufs t_bufs;
static pthread_key_t g_bufs_key;
static pthread_once_t g_bufs_once = PTHREAD_ONCE_INIT;

/* A team that shrinks ends threads; their buffers would leak without this. */
static void bufs_free(void *p) {
    thread_bufs *b = p;
    mmc_free(b->a.p);
    mmc_free(b->b.p);
    mmc_free(b->pre.p);
    *b = (thread_bufs){0};
}
static void bufs_key_init(void) { pthread_key_create(&g_bufs_key, bufs_free); }

/* This thread's packing buffers. */
static thread_bufs *bufs_get(void) {
    thread_bufs *b = &t_bufs;
    if (!b->registered) {
        pthread_once(&g_bufs_once, bufs_key_init);
        pthread_setspecific(g_bufs_key, b);
        b->registered = 1;
    }
    return b;
}

/* b holds at least n floats afterwards (64-byte aligned), or returns NULL. */
static float *buf_reserve(pack_buf *b, size_t n) {
    if (b->cap >= n) return b->p;
    float *p = mmc_aligned_malloc(64, sizeof(float) * n);
    if (!p) return NULL;
    mmc_free(b->p);
    b->p = p;
    b->cap = n;
    return p;
}

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* ---------------------------------------------------------------- drivers */

typedef struct gemm_args {
    int ta, tb, M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C;
    const float *bias; /* NULL, or a row (N) that C starts from (beta is then 1) */
    const float *Apre; /* NULL, or all of op(A) packed once (a_block, threaded_cols): column blocks share it */
} gemm_args;

/* op(A) packed whole, for column blocks that would otherwise each pack it again: K slice by
 * K slice, each slice all of its MR-row slivers (rows rounded up to MR, zero-padded), so the
 * block of rows i0.. (a multiple of MR) in the slice at pc starts at
 * round_up(M, MR) · pc + i0 · kc. Slivers are spread over the team's threads. */
static const float *a_block(const mmc_gemm_kernel *kn, const gemm_args *g, int i0, int m, int pc,
                            int kc, float *Ap) {
    if (g->Apre) return g->Apre + (int64_t)(g->M + kn->mr - 1) / kn->mr * kn->mr * pc + (int64_t)i0 * kc;
    pack_a(g->A, g->lda, g->ta, i0, m, pc, kc, kn->mr, Ap);
    return Ap;
}

/* At most this many floats of op(A) are packed whole for column blocks to share. */
#define PREPACK_MAX (8 << 20)

/* The bias for the block of C starting at column j0 in the K slice starting at pc: only
 * the first slice starts from the bias, later ones add to C. */
static const float *bias_at(const gemm_args *g, int pc, int j0) {
    return g->bias && pc == 0 ? g->bias + j0 : NULL;
}

/* C = beta · C (the K = 0 product), or C = bias. */
static void scale_c(const gemm_args *g, int i0, int m, int j0, int n) {
    for (int i = i0; i < i0 + m; i++) {
        float *c = g->C + (int64_t)i * g->ldc + j0;
        if (g->bias) memcpy(c, g->bias + j0, sizeof(float) * (size_t)n);
        else
            for (int j = 0; j < n; j++) c[j] = g->beta == 0.0f ? 0.0f : g->beta * c[j];
    }
}

/* Plain loop for when the packing buffers cannot be had: correct, slow. */
static void naive(const gemm_args *g, int i0, int m, int j0, int n) {
    scale_c(g, i0, m, j0, n);
    for (int i = i0; i < i0 + m; i++) {
        float *c = g->C + (int64_t)i * g->ldc;
        for (int k = 0; k < g->K; k++) {
            float a = g->alpha * (g->ta ? g->A[(int64_t)k * g->lda + i] : g->A[(int64_t)i * g->lda + k]);
            for (int j = j0; j < j0 + n; j++)
                c[j] += a * (g->tb ? g->B[(int64_t)j * g->ldb + k] : g->B[(int64_t)k * g->ldb + j]);
        }
    }
}

/* A strip at most MC rows tall: op(A)'s whole K slice is packed once, and B is packed one
 * sliver at a time just before the kernel runs down it, so the sliver is written and read
 * in L1. A KC × NC panel would instead travel out to L3 and back, and with few rows to
 * reuse it that round trip cost as much as the arithmetic (conv2d's 64-row products). */
static void strip_short(const mmc_gemm_kernel *kn, const gemm_args *g, int i0, int m, int j0,
                        int n, float *Ap, float *Bp) {
    for (int pc = 0; pc < g->K; pc += kn->kc) {
        int kc = imin(kn->kc, g->K - pc);
        float beta = pc == 0 ? g->beta : 1.0f;
        const float *Ab = a_block(kn, g, i0, m, pc, kc, Ap);
        for (int jr = 0; jr < n; jr += kn->nr) {
            int nr = imin(kn->nr, n - jr);
            pack_b_sliver(g->B, g->ldb, g->tb, pc, kc, j0 + jr, nr, kn->nr, j0 + n, Bp);
            macro_kernel(kn, m, nr, kc, Ab, Bp, g->C + (int64_t)i0 * g->ldc + j0 + jr, g->ldc,
                         g->alpha, beta, bias_at(g, pc, j0 + jr));
        }
    }
}

/* Taller strips: the full loop nest (see the top of this file). */
static void strip_tall(const mmc_gemm_kernel *kn, const gemm_args *g, int i0, int m, int j0,
                       int n, float *Ap, float *Bp) {
    for (int jc = 0; jc < n; jc += kn->nc) {
        int nc = imin(kn->nc, n - jc);
        for (int pc = 0; pc < g->K; pc += kn->kc) {
            int kc = imin(kn->kc, g->K - pc);
            float beta = pc == 0 ? g->beta : 1.0f;
            pack_b(g->B, g->ldb, g->tb, pc, kc, j0 + jc, nc, kn->nr, j0 + n, Bp);
            for (int ic = 0; ic < m; ic += kn->mc) {
                int mc = imin(kn->mc, m - ic);
                const float *Ab = a_block(kn, g, i0 + ic, mc, pc, kc, Ap);
                macro_kernel(kn, mc, nc, kc, Ab, Bp, g->C + (int64_t)(i0 + ic) * g->ldc + j0 + jc,
                             g->ldc, g->alpha, beta, bias_at(g, pc, j0 + jc));
            }
        }
    }
}

/* C[i0:+m, j0:+n] on the calling thread. Both strip shapes run the same kernel calls over
 * the same K slices, so which one runs does not change a bit of the result. */
static void gemm_strip(const mmc_gemm_kernel *kn, const gemm_args *g, int i0, int m, int j0,
                       int n) {
    if (m <= 0 || n <= 0) return;
    if (g->K <= 0) { scale_c(g, i0, m, j0, n); return; }
    const int kcmax = imin(kn->kc, g->K), is_short = m <= kn->mc;
    thread_bufs *bufs = bufs_get();
    float *Ap = buf_reserve(&bufs->a, (size_t)round_up(imin(kn->mc, m), kn->mr) * kcmax);
    float *Bp = buf_reserve(&bufs->b, (size_t)(is_short ? kn->nr : round_up(imin(kn->nc, n), kn->nr)) * kcmax);
    if (!Ap || !Bp) naive(g, i0, m, j0, n);
    else if (is_short) strip_short(kn, g, i0, m, j0, n, Ap, Bp);
    else strip_tall(kn, g, i0, m, j0, n, Ap, Bp);
}

/* ---------------------------------------------------------------- threads
 *
 * These two regions are raw OpenMP rather than MMC_PARALLEL_FOR: the first needs barriers
 * between its packing and compute phases, and both hand out blocks dynamically, so that
 * on a shared machine a thread that loses its core leaves its blocks to the others rather
 * than holding everyone at the end. As with MMC_PARALLEL_FOR, they are entered only with
 * nt > 1 (a one-thread region would cost libgomp an allocation). Which thread computes a
 * block changes nothing in it: determinism needs only that blocks fall on the tile grid. */

#ifdef _OPENMP
/* A block of about a third of each thread's share, in whole `unit`s, at least 4 units
 * (and at most max_block when that is not 0). */
static int block_size(int n, int nt, int unit, int max_block) {
    int b = round_up((n + 3 * nt - 1) / (3 * nt), unit);
    if (b < 4 * unit) b = 4 * unit;
    if (max_block && b > max_block) b = max_block;
    return b;
}

/* Tall C: per (NC, KC) step, the threads pack the shared B panel together (pairs of
 * slivers, taken as threads come free: a barrier follows, and a thread that lost its core
 * must not hold the other there with half the panel), then take row blocks of C, each
 * packing its own A block. */
static void threaded_rows(const mmc_gemm_kernel *kn, const gemm_args *g, int nt) {
    const int kcmax = imin(kn->kc, g->K), NR = kn->nr;
    const int mc = block_size(g->M, nt, kn->mr, kn->mc), nblk = (g->M + mc - 1) / mc;
    float *Bp = buf_reserve(&bufs_get()->b, (size_t)round_up(imin(kn->nc, g->N), NR) * kcmax);
    int failed = !Bp;
#pragma omp parallel num_threads(nt)
    {
        float *Ap = buf_reserve(&bufs_get()->a, (size_t)mc * kcmax);
        if (!Ap) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        int stop;
#pragma omp atomic read
        stop = failed;
        for (int jc = 0; !stop && jc < g->N; jc += kn->nc) {
            int nc = imin(kn->nc, g->N - jc), nsl = (nc + NR - 1) / NR;
            for (int pc = 0; pc < g->K; pc += kn->kc) {
                int kc = imin(kn->kc, g->K - pc);
                float beta = pc == 0 ? g->beta : 1.0f;
#pragma omp for schedule(dynamic, 2)
                for (int s = 0; s < nsl; s++)
                    pack_b_sliver(g->B, g->ldb, g->tb, pc, kc, jc + s * NR, imin(NR, nc - s * NR),
                                  NR, jc + nc, Bp + (int64_t)s * NR * kc);
#pragma omp for schedule(dynamic, 1)
                for (int b = 0; b < nblk; b++) {
                    int ic = b * mc, m = imin(mc, g->M - ic);
                    pack_a(g->A, g->lda, g->ta, ic, m, pc, kc, kn->mr, Ap);
                    macro_kernel(kn, m, nc, kc, Ap, Bp, g->C + (int64_t)ic * g->ldc + jc, g->ldc,
                                 g->alpha, beta, bias_at(g, pc, jc));
                }
            }
        }
    }
    if (failed) naive(g, 0, g->M, 0, g->N);
}

/* Wide C: column blocks, each a strip of its own. Each block would pack all of op(A) again
 * (6 blocks for 2 threads: CLIP's fc1, 400 × 768, packed 6 times over); instead the team
 * first packs it once, sliver by sliver, into the calling thread's buffer, and the blocks
 * read that. The packed values are the same, so the result is too. */
static void threaded_cols(const mmc_gemm_kernel *kn, const gemm_args *g0, int nt) {
    const int cw = block_size(g0->N, nt, kn->nr, 0), nblk = (g0->N + cw - 1) / cw;
    const int MR = kn->mr, Mp = round_up(g0->M, MR), nsl = Mp / MR, nslice = (g0->K + kn->kc - 1) / kn->kc;
    gemm_args g = *g0;
    float *pre = (int64_t)Mp * g.K <= PREPACK_MAX ? buf_reserve(&bufs_get()->pre, (size_t)Mp * g.K) : NULL;
#pragma omp parallel num_threads(nt)
    {
        { /* each thread reserves what the largest block needs (gemm_strip's sizes with m = M,
           * n = cw) before the dynamic hand-out: which blocks a thread gets varies from call
           * to call, and must not make a later, warm step allocate */
            const int kcmax = imin(kn->kc, g.K);
            thread_bufs *tbuf = bufs_get();
            buf_reserve(&tbuf->a, (size_t)round_up(imin(kn->mc, g.M), MR) * kcmax);
            buf_reserve(&tbuf->b, (size_t)(g.M <= kn->mc ? kn->nr : round_up(imin(kn->nc, cw), kn->nr)) * kcmax);
        }
        if (pre) {
#pragma omp for schedule(dynamic, 4)
            for (int t = 0; t < nslice * nsl; t++) {
                int pc = t / nsl * kn->kc, kc = imin(kn->kc, g.K - pc), i0 = t % nsl * MR;
                pack_a(g.A, g.lda, g.ta, i0, imin(MR, g.M - i0), pc, kc, MR,
                       pre + (int64_t)Mp * pc + (int64_t)i0 * kc);
            }
#pragma omp single
            g.Apre = pre; /* the implied barriers: every sliver packed before any block reads */
        }
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < nblk; b++) gemm_strip(kn, &g, 0, g.M, b * cw, imin(cw, g.N - b * cw));
    }
}
#endif

static void sgemm_run(const mmc_gemm_kernel *kn, int nt, gemm_args g);

void mmc_sgemm(const mmc_gemm_kernel *kn, int nt, int ta, int tb, int M, int N, int K,
               float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
               float *C, int64_t ldc) {
    sgemm_run(kn, nt, (gemm_args){ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, NULL, NULL});
}

void mmc_sgemm_bias(const mmc_gemm_kernel *kn, int nt, int ta, int tb, int M, int N, int K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    const float *bias, float *C, int64_t ldc) {
    sgemm_run(kn, nt, (gemm_args){ta, tb, M, N, K, alpha, 1.0f, A, B, lda, ldb, ldc, C, bias, NULL});
}

static void sgemm_run(const mmc_gemm_kernel *kn, int nt, gemm_args g) {
    int M = g.M, N = g.N, K = g.K;
    if (M <= 0 || N <= 0) return;
    /* tall C by rows, else by columns; threads only with 8 tiles or more each */
    int tm = (M + kn->mr - 1) / kn->mr, tn = (N + kn->nr - 1) / kn->nr;
    /* (Routing CLIP's 400-row products by columns too, over the shared packed A, cut the
     * barriers but cost 7% more kernel time: the A blocks then came from L3, not L2.) */
    int along_m = M > kn->mc && tm >= tn, tiles = along_m ? tm : tn;
    if (nt > tiles / 8) nt = tiles / 8;
    if (K <= 0 || nt <= 1) {
        gemm_strip(kn, &g, 0, M, 0, N);
        return;
    }
#ifdef _OPENMP
    if (along_m) threaded_rows(kn, &g, nt);
    else threaded_cols(kn, &g, nt);
#else
    gemm_strip(kn, &g, 0, M, 0, N);
#endif
}

/* ---------------------------------------------------------------- mmc_gemm */

int mmc_gemm_backend(void) {
    static int choice; /* 0: not yet decided; racing first calls decide the same */
    int c = __atomic_load_n(&choice, __ATOMIC_RELAXED);
    if (c) return c;
    const char *env = getenv("MMC_GEMM");
#ifdef MMC_HAVE_OPENBLAS
    if (env && !strcmp(env, "openblas")) c = MMC_GEMM_USE_OPENBLAS;
    else if (env && !strcmp(env, "mmc")) c = MMC_GEMM_USE_MMC;
    else /* ours only where it has a vector kernel; elsewhere OpenBLAS knows the CPU better */
        c = strcmp(mmc_gemm_best_kernel()->name, "generic") ? MMC_GEMM_USE_MMC
                                                            : MMC_GEMM_USE_OPENBLAS;
#else
    (void)env;
    c = MMC_GEMM_USE_MMC;
#endif
    __atomic_store_n(&choice, c, __ATOMIC_RELAXED);
    return c;
}

/* Threads for mmc's GEMM: 0 = follow mmc_get_threads(); mmc_blas_threads sets it. */
static int g_gemm_threads;

int mmc_blas_threads(int n) {
    int prev = __atomic_exchange_n(&g_gemm_threads, n > 0 ? n : 0, __ATOMIC_RELAXED);
#ifdef MMC_HAVE_OPENBLAS
    int want = n > 0 ? n : mmc_get_threads();
    if (want != openblas_get_num_threads()) openblas_set_num_threads(want);
#endif
    return prev;
}

/* Below this many multiply-adds a second thread costs more than it saves. */
#define GEMM_PARALLEL_MIN (96 * 96 * 96)

static int gemm_threads(int M, int N, int K) {
    int nt = __atomic_load_n(&g_gemm_threads, __ATOMIC_RELAXED);
    if (nt <= 0) nt = mmc_get_threads();
#ifdef _OPENMP
    if (omp_in_parallel()) nt = 1; /* someone's loop already owns the cores */
#endif
    return (int64_t)M * N * K > GEMM_PARALLEL_MIN ? nt : 1;
}

void mmc_gemm_bias(int ta, int tb, int M, int N, int K, float alpha, const float *A, const float *B,
                   const float *bias, float *C) {
    if (M <= 0 || N <= 0) return;
    if (mmc_gemm_backend() == MMC_GEMM_USE_MMC) {
        mmc_sgemm_bias(mmc_gemm_best_kernel(), gemm_threads(M, N, K), ta, tb, M, N, K, alpha, A,
                       ta ? M : K, B, tb ? K : N, bias, C, N);
        return;
    }
    for (int64_t r = 0; r < M; r++) memcpy(C + r * N, bias, sizeof(float) * (size_t)N);
    mmc_gemm(ta, tb, M, N, K, alpha, A, B, 1.0f, C);
}

void mmc_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, const float *B,
              float beta, float *C) {
    if (M <= 0 || N <= 0) return;
#ifdef MMC_HAVE_OPENBLAS
    if (mmc_gemm_backend() == MMC_GEMM_USE_OPENBLAS) {
        if (K <= 0) { /* BLAS leaves C untouched with K = 0 only if beta = 1; be explicit */
            for (int64_t i = 0; i < (int64_t)M * N; i++) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
            return;
        }
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
        return;
    }
#endif
    mmc_sgemm(mmc_gemm_best_kernel(), gemm_threads(M, N, K), ta, tb, M, N, K, alpha, A,
              ta ? M : K, B, tb ? K : N, beta, C, N);
}

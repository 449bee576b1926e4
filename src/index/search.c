/* search.c — exact top-k by inner product over an index, blocked and threaded.
 *
 * The rows are cut into blocks of B rows. For each block, and each chunk of up to QC
 * queries, one GEMM gives the (QC, B) scores; every score then goes through that query's
 * bounded min-heap of the k best so far. Scratch is therefore O(QC·B + B·D) per thread,
 * whatever N is (int8 blocks are dequantised into the B·D buffer first).
 *
 * A few queries (nq <= DIRECT_MAX_Q, the interactive case) take the direct path instead:
 * each row is read once, straight from the (mmap'd) matrix, and dotted with every query —
 * int8 rows are widened in registers, never dequantised into a buffer. One query is then
 * bound by memory bandwidth alone, so int8 storage (a quarter of the bytes) is the fast
 * one. AVX-512 when the CPU has it (checked at run time), plain C otherwise.
 *
 * Threads take whole blocks (static schedule), each with its own heaps; the heaps are
 * merged at the end. Hits are ordered totally — higher score first, then lower index — so
 * the k best of a set are one set, whichever thread saw which block: the merge gives the
 * same answer for any thread count. Block boundaries do not depend on the thread count.
 */
#include "index_internal.h"
#include "../ops/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_CHUNK_FLOATS (1 << 20) /* scores scratch per thread: 4 MiB */
#define DIRECT_MAX_Q 4                /* up to this many queries: no GEMM, rows read once */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define IDX_X86 1
#endif

typedef struct {
    float s;
    int32_t i; /* row; count <= INT32_MAX */
} hit;

/* The total order of results: a before b. */
static inline int better(hit a, hit b) { return a.s > b.s || (a.s == b.s && a.i < b.i); }

/* A min-heap of at most k hits; h[0] is the worst one kept. */
static void heap_push(hit *h, int *n, int k, hit c) {
    int j;
    if (*n < k) {
        j = (*n)++;
        while (j > 0 && better(h[(j - 1) / 2], c)) {
            h[j] = h[(j - 1) / 2];
            j = (j - 1) / 2;
        }
        h[j] = c;
        return;
    }
    if (!better(c, h[0])) return;
    j = 0;
    for (;;) { /* sift the new root down */
        int l = 2 * j + 1, w = j;
        hit hw = c;
        if (l < k && better(hw, h[l])) { w = l; hw = h[l]; }
        if (l + 1 < k && better(hw, h[l + 1])) { w = l + 1; hw = h[l + 1]; }
        if (w == j) break;
        h[j] = h[w];
        j = w;
    }
    h[j] = c;
}

static int cmp_hit(const void *a, const void *b) {
    hit x = *(const hit *)a, y = *(const hit *)b;
    return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

/* ------------------------------------------------------------------ arguments */

static int check_args(const mmc_index *ix, const float *q, int nq, int k, int64_t *idx,
                      float *scores, const char *who, mmc_error *err) {
    if (!ix) return mmc_error_set(err, MMC_ERR_USAGE, "%s: no index", who);
    if (nq < 0 || k < 0) return mmc_error_set(err, MMC_ERR_USAGE, "%s: nq %d and k %d must be >= 0", who, nq, k);
    if (nq > 0 && k > 0 && ix->count > 0 && (!q || !idx || !scores))
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: queries, idx and scores are required", who);
    for (int64_t i = 0; q && i < (int64_t)nq * ix->dim; i++)
        if (!isfinite(q[i]))
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: query %lld has a non-finite value at %lld", who,
                                 (long long)(i / ix->dim), (long long)(i % ix->dim));
    return MMC_OK;
}

/* The queries L2-normalised (double accumulation), so scores are cosines. */
static float *normalised_queries(const float *q, int nq, int D) {
    float *out = mmc_malloc(sizeof(float) * (size_t)nq * (size_t)D);
    if (!out) return NULL;
    for (int64_t i = 0; i < nq; i++) {
        const float *x = q + i * D;
        double ss = 0;
        for (int j = 0; j < D; j++) ss += (double)x[j] * x[j];
        double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
        for (int j = 0; j < D; j++) out[i * D + j] = (float)(x[j] * inv);
    }
    return out;
}

/* ------------------------------------------------------------------- plan */

typedef struct {
    float *scores; /* (QC, B) */
    float *deq;    /* (B, D), int8 only */
    hit *heaps;    /* (nq, k) */
    int *fill;     /* (nq) entries used in each heap */
} worker;

typedef struct {
    const mmc_index *ix;
    const float *qn; /* (nq, D) normalised */
    int nq, k, B, QC;
} plan;

/* ------------------------------------------------------------------ direct */

/* Dot products of one row with n queries; float32 and int8 rows. Plain C: eight partial
 * sums, so the compiler keeps them in registers. */
static void dot_f32_c(const float *q, int n, const float *x, int D, float *out) {
    for (int i = 0; i < n; i++, q += D) {
        float a[8] = {0};
        int j = 0;
        for (; j + 8 <= D; j += 8)
            for (int l = 0; l < 8; l++) a[l] += q[j + l] * x[j + l];
        for (; j < D; j++) a[0] += q[j] * x[j];
        out[i] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
}

static void dot_i8_c(const float *q, int n, const int8_t *x, int D, float *out) {
    for (int i = 0; i < n; i++, q += D) {
        float a[8] = {0};
        int j = 0;
        for (; j + 8 <= D; j += 8)
            for (int l = 0; l < 8; l++) a[l] += q[j + l] * (float)x[j + l];
        for (; j < D; j++) a[0] += q[j] * (float)x[j];
        out[i] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
}

#ifdef IDX_X86
/* 16 lanes at a time, tails masked. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void dot_f32_avx512(const float *q, int n, const float *x, int D, float *out) {
    const __mmask16 tail = (__mmask16)((1u << (D & 15)) - 1);
    for (int i = 0; i < n; i++, q += D) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int j = 0;
        for (; j + 32 <= D; j += 32) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), _mm512_loadu_ps(x + j), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), _mm512_loadu_ps(x + j + 16), a1);
        }
        for (; j + 16 <= D; j += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), _mm512_loadu_ps(x + j), a0);
        if (tail) a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, q + j), _mm512_maskz_loadu_ps(tail, x + j), a1);
        out[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void dot_i8_avx512(const float *q, int n, const int8_t *x, int D, float *out) {
    const __mmask16 tail = (__mmask16)((1u << (D & 15)) - 1);
    for (int i = 0; i < n; i++, q += D) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int j = 0;
        for (; j + 32 <= D; j += 32) {
            __m512 x0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x + j))));
            __m512 x1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x + j + 16))));
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), x0, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), x1, a1);
        }
        for (; j + 16 <= D; j += 16)
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j),
                                 _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x + j)))), a0);
        if (tail) {
            __m128i b = _mm_maskz_loadu_epi8(tail, x + j);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, q + j), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), a1);
        }
        out[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

/* The same on AVX2 + FMA (8 lanes; most x86 CPUs without AVX-512): the tail in C. */
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static void dot_f32_avx2(const float *q, int n, const float *x, int D, float *out) {
    for (int i = 0; i < n; i++, q += D) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int j = 0;
        for (; j + 16 <= D; j += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(x + j), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), _mm256_loadu_ps(x + j + 8), a1);
        }
        for (; j + 8 <= D; j += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(x + j), a0);
        float t = hsum256(_mm256_add_ps(a0, a1));
        for (; j < D; j++) t += q[j] * x[j];
        out[i] = t;
    }
}

__attribute__((target("avx2,fma"))) static void dot_i8_avx2(const float *q, int n, const int8_t *x, int D, float *out) {
    for (int i = 0; i < n; i++, q += D) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int j = 0;
        for (; j + 16 <= D; j += 16) { /* 8 bytes at a time, sign-extended and converted in registers */
            __m256 x0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + j))));
            __m256 x1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + j + 8))));
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), x0, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), x1, a1);
        }
        float t = hsum256(_mm256_add_ps(a0, a1));
        for (; j < D; j++) t += q[j] * (float)x[j];
        out[i] = t;
    }
}

static int g_simd = 1;

static int have_avx512(void) {
    if (!__atomic_load_n(&g_simd, __ATOMIC_RELAXED)) return 0;
    return mmc_cpu_has_avx512f() && mmc_cpu_has_avx512bw() && mmc_cpu_has_avx512vl();
}

static int have_avx2(void) {
    return __atomic_load_n(&g_simd, __ATOMIC_RELAXED) && mmc_cpu_has_avx2() && mmc_cpu_has_fma();
}
#endif

int idx_simd_set_enabled(int on) {
#ifdef IDX_X86
    return __atomic_exchange_n(&g_simd, on ? 1 : 0, __ATOMIC_RELAXED);
#else
    (void)on;
    return 0;
#endif
}

/* Scores every row of block b against the (few) queries directly. */
static void direct_block(const plan *p, worker *w, int64_t b) {
    const mmc_index *ix = p->ix;
    const int D = ix->dim;
    const int64_t r0 = b * p->B;
    const int rows = (int)(ix->count - r0 < p->B ? ix->count - r0 : p->B);
    void (*f32)(const float *, int, const float *, int, float *) = dot_f32_c;
    void (*i8)(const float *, int, const int8_t *, int, float *) = dot_i8_c;
#ifdef IDX_X86
    if (have_avx512()) f32 = dot_f32_avx512, i8 = dot_i8_avx512;
    else if (have_avx2()) f32 = dot_f32_avx2, i8 = dot_i8_avx2;
#endif
    float s[DIRECT_MAX_Q];
    for (int r = 0; r < rows; r++) {
        const int64_t row = r0 + r;
        if (ix->f32) {
            f32(p->qn, p->nq, ix->f32 + row * D, D, s);
        } else {
            i8(p->qn, p->nq, ix->i8 + row * D, D, s);
            for (int i = 0; i < p->nq; i++) s[i] *= ix->scales[row];
        }
        for (int i = 0; i < p->nq; i++)
            heap_push(w->heaps + (int64_t)i * p->k, &w->fill[i], p->k, (hit){s[i], (int32_t)row});
    }
}

/* ------------------------------------------------------------------ blocked */

static void score_block(const plan *p, worker *w, int64_t b) {
    if (p->nq <= DIRECT_MAX_Q) {
        direct_block(p, w, b);
        return;
    }
    const mmc_index *ix = p->ix;
    const int D = ix->dim;
    const int64_t r0 = b * p->B;
    const int rows = (int)(ix->count - r0 < p->B ? ix->count - r0 : p->B);
    const float *M = ix->f32 ? ix->f32 + r0 * D : w->deq;
    if (!ix->f32)
        for (int r = 0; r < rows; r++) idx_row(ix, r0 + r, w->deq + (int64_t)r * D);
    for (int q0 = 0; q0 < p->nq; q0 += p->QC) {
        const int qc = p->nq - q0 < p->QC ? p->nq - q0 : p->QC;
        /* scores (qc, rows) = qn[q0:q0+qc] (qc, D) · M (rows, D)^T */
        mmc_gemm(0, 1, qc, rows, D, 1.0f, p->qn + (int64_t)q0 * D, M, 0.0f, w->scores);
        for (int i = 0; i < qc; i++) {
            hit *h = w->heaps + (int64_t)(q0 + i) * p->k;
            int *n = &w->fill[q0 + i];
            const float *s = w->scores + (int64_t)i * rows;
            for (int r = 0; r < rows; r++) heap_push(h, n, p->k, (hit){s[r], (int32_t)(r0 + r)});
        }
    }
}

static void free_workers(worker *w, int nt) {
    for (int t = 0; w && t < nt; t++) {
        mmc_free(w[t].scores);
        mmc_free(w[t].deq);
        mmc_free(w[t].heaps);
        mmc_free(w[t].fill);
    }
    mmc_free(w);
}

static worker *new_workers(const plan *p, int nt) {
    worker *w = mmc_calloc((size_t)nt, sizeof *w);
    if (!w) return NULL;
    for (int t = 0; t < nt; t++) {
        const int gemm = p->nq > DIRECT_MAX_Q; /* the direct path needs heaps only */
        w[t].scores = gemm ? mmc_malloc(sizeof(float) * (size_t)p->QC * (size_t)p->B) : NULL;
        w[t].deq = gemm && !p->ix->f32 ? mmc_malloc(sizeof(float) * (size_t)p->B * (size_t)p->ix->dim) : NULL;
        w[t].heaps = mmc_malloc(sizeof(hit) * (size_t)p->nq * (size_t)p->k);
        w[t].fill = mmc_calloc((size_t)p->nq, sizeof(int));
        if ((gemm && !w[t].scores) || (gemm && !p->ix->f32 && !w[t].deq) || !w[t].heaps || !w[t].fill) {
            free_workers(w, nt);
            return NULL;
        }
    }
    return w;
}

/* Folds every worker's heaps into worker 0's, then writes them sorted best first. */
static void merge_and_emit(const plan *p, worker *w, int nt, int64_t *idx, float *scores) {
    for (int q = 0; q < p->nq; q++) {
        hit *h = w[0].heaps + (int64_t)q * p->k;
        for (int t = 1; t < nt; t++)
            for (int j = 0; j < w[t].fill[q]; j++)
                heap_push(h, &w[0].fill[q], p->k, w[t].heaps[(int64_t)q * p->k + j]);
        qsort(h, (size_t)w[0].fill[q], sizeof *h, cmp_hit);
        for (int j = 0; j < p->k; j++) { /* fill[q] == k: every row was offered to some heap */
            idx[(int64_t)q * p->k + j] = h[j].i;
            scores[(int64_t)q * p->k + j] = h[j].s;
        }
    }
}

static void run_blocks(const plan *p, worker *w, int nt, int64_t nblocks) {
    if (nt > 1) { /* decided here, not with `if (...)`: a serial region still costs a team */
        int prev = mmc_blas_threads(1); /* our threads each run a GEMM: BLAS stays serial */
        MMC_PARALLEL_FOR(nt, for (int64_t b = 0; b < nblocks; b++) score_block(p, &w[mmc_thread_id(nt)], b));
        mmc_blas_threads(prev);
    } else {
        for (int64_t b = 0; b < nblocks; b++) score_block(p, &w[0], b);
    }
}

int mmc_index_search(const mmc_index *ix, const float *q, int nq, int k, int block_rows,
                     int64_t *idx, float *scores, int *k_out, mmc_error *err) {
    int rc = check_args(ix, q, nq, k, idx, scores, "index search", err);
    if (rc) return rc;
    if (block_rows < 0) return mmc_error_set(err, MMC_ERR_USAGE, "index search: block_rows %d < 0", block_rows);
    if (k > ix->count) k = (int)ix->count;
    if (k_out) *k_out = k;
    if (k == 0 || nq == 0) return MMC_OK;
    plan p = {.ix = ix, .nq = nq, .k = k};
    p.B = block_rows ? block_rows : MMC_INDEX_BLOCK_ROWS;
    if (p.B > ix->count) p.B = (int)ix->count;
    p.QC = QUERY_CHUNK_FLOATS / p.B;
    p.QC = p.QC < 1 ? 1 : p.QC > nq ? nq : p.QC;
    const int64_t nblocks = (ix->count + p.B - 1) / p.B;
    int nt = mmc_get_threads();
    if (nt > nblocks) nt = (int)nblocks;
    float *qn = normalised_queries(q, nq, ix->dim);
    worker *w = qn ? new_workers(&p, nt) : NULL;
    if (!w) {
        mmc_free(qn);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "index search: out of memory (%d queries, k %d, %d threads)", nq, k, nt);
    }
    p.qn = qn;
    run_blocks(&p, w, nt, nblocks);
    merge_and_emit(&p, w, nt, idx, scores);
    free_workers(w, nt);
    mmc_free(qn);
    return MMC_OK;
}

/* ---------------------------------------------------------------- reference */

int mmc_index_search_bruteforce(const mmc_index *ix, const float *q, int nq, int k,
                                int64_t *idx, float *scores, int *k_out, mmc_error *err) {
    int rc = check_args(ix, q, nq, k, idx, scores, "index search (brute force)", err);
    if (rc) return rc;
    if (k > ix->count) k = (int)ix->count;
    if (k_out) *k_out = k;
    if (k == 0 || nq == 0) return MMC_OK;
    const int D = ix->dim;
    float *qn = normalised_queries(q, nq, D), *row = mmc_malloc(sizeof(float) * (size_t)D);
    hit *all = mmc_malloc(sizeof(hit) * (size_t)ix->count);
    if (!qn || !row || !all) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "index search (brute force): out of memory");
        goto done;
    }
    for (int64_t i = 0; i < nq; i++) {
        for (int64_t r = 0; r < ix->count; r++) {
            idx_row(ix, r, row);
            double s = 0;
            for (int j = 0; j < D; j++) s += (double)qn[i * D + j] * row[j];
            all[r] = (hit){(float)s, (int32_t)r};
        }
        qsort(all, (size_t)ix->count, sizeof *all, cmp_hit);
        for (int j = 0; j < k; j++) {
            idx[i * k + j] = all[j].i;
            scores[i * k + j] = all[j].s;
        }
    }
done:
    mmc_free(qn);
    mmc_free(row);
    mmc_free(all);
    return rc;
}

/* test_index.c — the embedding index: file round trip, blocked search against the brute
 * force reference, deterministic ties, int8 recall, and a catalogue of hostile files. */
#include "test.h"
#include "../index/index_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Header field offsets (docs/formats.md, "Embedding index"); the catalogue edits them. */
enum { H_VERSION = 8, H_DTYPE = 12, H_DIM = 16, H_HSIZE = 20, H_COUNT = 24, H_FSIZE = 32,
       H_MATRIX = 40, H_SCALES = 48, H_STROFF = 56, H_STRBYTES = 64, H_STRLEN = 72,
       H_MODEL = 80, H_MODEL_LEN = 88, H_BODY_CRC = 96, H_KIND = 100, H_RESERVED = 104,
       H_HEADER_CRC = 124 };

static const char *tmp_path(const char *tag) {
    static char buf[4][256];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "/tmp/mmc_index_%s_%d.idx", tag, (int)getpid());
    return buf[slot];
}

static float *rand_matrix(int64_t n, int d, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)(n * d + 1));
    mmc_rng r;
    mmc_rng_seed(&r, seed, 7);
    mmc_rng_fill_normal(&r, x, n * d, 0.0f, 1.0f);
    return x;
}

/* Item names: ASCII, Chinese, and an empty one, so the string table sees all sizes. */
static char **make_items(int64_t n) {
    char **s = malloc(sizeof(char *) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) {
        s[i] = malloc(64);
        if (i % 7 == 3) s[i][0] = 0;
        else snprintf(s[i], 64, i % 2 ? "images/%05lld.png" : "图片/猫-%lld.jpg", (long long)i);
    }
    return s;
}
static void free_items(char **s, int64_t n) {
    for (int64_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

static mmc_index *build_random(int64_t n, int d, int dtype, uint64_t seed) {
    float *x = rand_matrix(n, d, seed);
    char **items = make_items(n);
    mmc_error err = {0};
    mmc_index *ix = mmc_index_build(x, n, d, (const char *const *)items, "test-model", dtype, &err);
    if (!ix) fprintf(stderr, "build: %s\n", err.msg);
    free(x);
    free_items(items, n);
    return ix;
}

static uint8_t *read_all(const char *path, size_t *n) {
    uint8_t *b;
    mmc_error err = {0};
    if (mmc_read_file(path, (size_t)1 << 30, &b, n, &err) != MMC_OK) return NULL;
    return b;
}

/* ------------------------------------------------------------------ round trip */

static void roundtrip_one(int dtype) {
    const int64_t N = 50;
    const int D = 24;
    float *x = rand_matrix(N, D, 11);
    char **items = make_items(N);
    mmc_error err = {0};
    const char *model = "clip-vit-b32/中文 v1";
    mmc_index *a = mmc_index_build(x, N, D, (const char *const *)items, model, dtype, &err);
    REQUIRE(a, "build: %s", err.msg);
    const char *path = tmp_path("roundtrip");
    REQUIRE(mmc_index_save(a, path, &err) == MMC_OK, "save: %s", err.msg);
    mmc_index *b = mmc_index_open(path, &err);
    REQUIRE(b, "open: %s", err.msg);
    CHECK(mmc_index_count(b) == N && mmc_index_dim(b) == D && mmc_index_dtype(b) == dtype, "shape/dtype");
    CHECK(strcmp(mmc_index_model_id(b), model) == 0, "model id '%s'", mmc_index_model_id(b));
    float ra[64], rb[64];
    for (int64_t i = 0; i < N; i++) {
        CHECK(strcmp(mmc_index_item(b, i), items[i]) == 0, "item %lld: '%s' vs '%s'", (long long)i, mmc_index_item(b, i), items[i]);
        REQUIRE(mmc_index_row(a, i, ra, &err) == MMC_OK && mmc_index_row(b, i, rb, &err) == MMC_OK, "row: %s", err.msg);
        CHECK(memcmp(ra, rb, sizeof(float) * D) == 0, "row %lld differs after reload", (long long)i);
        double nx = 0;
        for (int j = 0; j < D; j++) nx += (double)x[i * D + j] * x[i * D + j];
        double tol = dtype == MMC_INDEX_F32 ? 1e-6 : 0.5 / 127 + 1e-6; /* half a quantisation step */
        for (int j = 0; j < D; j++)
            CHECK(fabs(rb[j] - x[i * D + j] / sqrt(nx)) <= tol, "row %lld[%d] %g vs %g", (long long)i, j, rb[j], x[i * D + j] / sqrt(nx));
    }
    CHECK(mmc_index_item(b, N) == NULL && mmc_index_item(b, -1) == NULL, "item out of range");
    CHECK(mmc_index_row(b, N, rb, &err) == MMC_ERR_USAGE, "row out of range");
    /* Saving the mapped index writes the same bytes. */
    const char *path2 = tmp_path("roundtrip2");
    REQUIRE(mmc_index_save(b, path2, &err) == MMC_OK, "resave: %s", err.msg);
    size_t n1, n2;
    uint8_t *f1 = read_all(path, &n1), *f2 = read_all(path2, &n2);
    CHECK(f1 && f2 && n1 == n2 && memcmp(f1, f2, n1) == 0, "resaved file differs");
    mmc_free(f1);
    mmc_free(f2);
    mmc_index_close(a);
    mmc_index_close(b);
    remove(path);
    remove(path2);
    free(x);
    free_items(items, N);
}

TEST(index_roundtrip) {
    roundtrip_one(MMC_INDEX_F32);
    roundtrip_one(MMC_INDEX_I8);
    /* An empty index is a valid file; search returns nothing. */
    mmc_error err = {0};
    mmc_index *e = mmc_index_build(NULL, 0, 8, NULL, NULL, MMC_INDEX_F32, &err);
    REQUIRE(e, "empty build: %s", err.msg);
    const char *path = tmp_path("empty");
    REQUIRE(mmc_index_save(e, path, &err) == MMC_OK, "save: %s", err.msg);
    mmc_index *f = mmc_index_open(path, &err);
    REQUIRE(f, "open empty: %s", err.msg);
    CHECK(mmc_index_count(f) == 0 && strcmp(mmc_index_model_id(f), "") == 0, "empty index");
    float q[8] = {1};
    int kk = -1;
    CHECK(mmc_index_search(f, q, 1, 5, 0, NULL, NULL, &kk, &err) == MMC_OK && kk == 0, "empty search k %d", kk);
    mmc_index_close(e);
    mmc_index_close(f);
    remove(path);
    /* Build refuses what the file could not hold or the search could not rank. */
    float bad[4] = {1, NAN, 0, 0};
    const char *one[] = {"a"}, *badutf[] = {"\xff"};
    CHECK(!mmc_index_build(bad, 1, 4, one, "m", MMC_INDEX_F32, &err) && err.code == MMC_ERR_INPUT, "NaN embedding");
    CHECK(!mmc_index_build(q, 1, 8, badutf, "m", MMC_INDEX_F32, &err) && err.code == MMC_ERR_INPUT, "invalid UTF-8 item");
    CHECK(!mmc_index_build(q, 1, 0, one, "m", MMC_INDEX_F32, &err) && err.code == MMC_ERR_USAGE, "dim 0");
    CHECK(!mmc_index_build(q, 1, 8, one, "m", 7, &err) && err.code == MMC_ERR_USAGE, "bad dtype");
}

/* ------------------------------------------------------------------ search */

/* Blocked vs reference results (nq, k): scores at each rank within 1e-5, sorted best
 * first; where the indices differ (the GEMM and the double-precision reference round
 * differently, so near-ties may trade places) the blocked hit must be a near-tie: the
 * reference ranks that row with a score within 2e-5 of it, or — when the reference cut it
 * off at k — its k-th score is. Returns the number of violations. */
static int compare_results(const int64_t *ia, const float *sa, const int64_t *ib, const float *sb, int nq, int k) {
    int bad = 0;
    for (int64_t i = 0; i < (int64_t)nq * k; i++) {
        if (fabsf(sa[i] - sb[i]) > 1e-5f) bad++;
        if (i % k && sa[i] > sa[i - 1]) bad++;
        if (ia[i] == ib[i]) continue;
        const int64_t q0 = i / k * k;
        float ref = sb[q0 + k - 1];
        for (int64_t j = q0; j < q0 + k; j++)
            if (ib[j] == ia[i]) ref = sb[j];
        if (fabsf(ref - sa[i]) > 2e-5f) bad++;
    }
    return bad;
}

/* Runs search and brute force with k, checks they agree. */
static void check_against_bruteforce(const mmc_index *ix, const float *q, int nq, int k, int block_rows) {
    int64_t n = mmc_index_count(ix);
    int kk = k > n ? (int)n : k, k1 = -1, k2 = -1;
    int64_t *ia = malloc(sizeof(int64_t) * (size_t)nq * kk), *ib = malloc(sizeof(int64_t) * (size_t)nq * kk);
    float *sa = malloc(sizeof(float) * (size_t)nq * kk), *sb = malloc(sizeof(float) * (size_t)nq * kk);
    mmc_error err = {0};
    CHECK(mmc_index_search(ix, q, nq, k, block_rows, ia, sa, &k1, &err) == MMC_OK, "search: %s", err.msg);
    CHECK(mmc_index_search_bruteforce(ix, q, nq, k, ib, sb, &k2, &err) == MMC_OK, "brute: %s", err.msg);
    CHECK(k1 == kk && k2 == kk, "k clamped to %d: got %d, %d", kk, k1, k2);
    int bad = compare_results(ia, sa, ib, sb, nq, kk);
    CHECK(bad == 0, "k %d block %d: %d mismatches vs brute force (first: %lld/%g vs %lld/%g)", k, block_rows, bad,
          (long long)ia[0], sa[0], (long long)ib[0], sb[0]);
    free(ia); free(ib); free(sa); free(sb);
}

/* Mean fraction of the exact top-10 that the int8 index returns. The exact side is the
 * blocked f32 search (checked against the brute force above), so many queries stay cheap. */
static double recall_at_10(const mmc_index *exact, const mmc_index *quant, const float *q, int nq) {
    int64_t *ie = malloc(sizeof(int64_t) * nq * 10), *iq = malloc(sizeof(int64_t) * nq * 10);
    float *se = malloc(sizeof(float) * nq * 10), *sq = malloc(sizeof(float) * nq * 10);
    mmc_error err = {0};
    double hits = 0;
    if (mmc_index_search(exact, q, nq, 10, 0, ie, se, NULL, &err) == MMC_OK &&
        mmc_index_search(quant, q, nq, 10, 0, iq, sq, NULL, &err) == MMC_OK)
        for (int i = 0; i < nq; i++)
            for (int a = 0; a < 10; a++)
                for (int b = 0; b < 10; b++) hits += ie[i * 10 + a] == iq[i * 10 + b];
    free(ie); free(iq); free(se); free(sq);
    return hits / (10.0 * nq);
}

TEST(index_search_matches_bruteforce) {
    const int64_t N = 1500;
    const int D = 64, NQ = 16;
    mmc_index *f = build_random(N, D, MMC_INDEX_F32, 21), *q8 = build_random(N, D, MMC_INDEX_I8, 21);
    REQUIRE(f && q8, "build");
    float *q = rand_matrix(NQ, D, 22);
    const int ks[] = {1, 10, 100, 1505}; /* the last is clamped to N */
    for (int i = 0; i < 4; i++) {
        check_against_bruteforce(f, q, NQ, ks[i], 0);
        check_against_bruteforce(f, q, NQ, ks[i], 300);
        check_against_bruteforce(q8, q, NQ, ks[i], 700);
    }
    /* Random Gaussian data is the hard case for quantisation: top scores crowd together. */
    float *many = rand_matrix(500, D, 23);
    double r = recall_at_10(f, q8, many, 500);
    free(many);
    printf("index int8 recall@10 vs exact f32: %.4f (N %lld, D %d, 500 random Gaussian queries)\n", r, (long long)N, D);
    CHECK(r >= 0.95, "int8 recall@10 %.4f < 0.95", r);
    /* Bad queries and arguments. */
    mmc_error err = {0};
    int64_t i1;
    float s1;
    q[5] = INFINITY;
    CHECK(mmc_index_search(f, q, 1, 1, 0, &i1, &s1, NULL, &err) == MMC_ERR_INPUT, "non-finite query");
    CHECK(mmc_index_search(f, q, -1, 1, 0, &i1, &s1, NULL, &err) == MMC_ERR_USAGE, "negative nq");
    CHECK(mmc_index_search(NULL, q, 1, 1, 0, &i1, &s1, NULL, &err) == MMC_ERR_USAGE, "no index");
    free(q);
    mmc_index_close(f);
    mmc_index_close(q8);
}

TEST(index_search_few_queries_direct) {
    /* Up to 4 queries take the direct path (rows read once, int8 widened in registers):
     * vector (AVX-512, else AVX2) and plain C kernels, dims with and without a tail, both dtypes, k from 1 to
     * past the end; each against the brute force, and one query alone must rank the same
     * rows as inside a batch of the GEMM path. */
    const int64_t N = 2100;
    const int dims[] = {16, 37, 64, 256};
    for (int di = 0; di < 4; di++) {
        const int D = dims[di];
        mmc_index *f = build_random(N, D, MMC_INDEX_F32, 41 + di), *q8 = build_random(N, D, MMC_INDEX_I8, 41 + di);
        REQUIRE(f && q8, "build");
        float *q = rand_matrix(8, D, 51 + di);
        for (int simd = 1; simd >= 0; simd--) {
            int prev = idx_simd_set_enabled(simd);
            for (int nq = 1; nq <= 4; nq++) {
                check_against_bruteforce(f, q, nq, 1, 0);
                check_against_bruteforce(f, q, nq, 10, 500);
                check_against_bruteforce(q8, q, nq, 10, 0);
                check_against_bruteforce(q8, q, nq, 2200, 700);
            }
            idx_simd_set_enabled(prev);
        }
        int64_t i1[10], i8q[8 * 10];
        float s1[10], s8q[8 * 10];
        mmc_error err = {0};
        REQUIRE(mmc_index_search(f, q + 3 * D, 1, 10, 0, i1, s1, NULL, &err) == MMC_OK, "%s", err.msg);
        REQUIRE(mmc_index_search(f, q, 8, 10, 0, i8q, s8q, NULL, &err) == MMC_OK, "%s", err.msg);
        CHECK(compare_results(i1, s1, i8q + 30, s8q + 30, 1, 10) == 0, "D %d: one query alone differs from the batch", D);
        free(q);
        mmc_index_close(f);
        mmc_index_close(q8);
    }
}

TEST(index_topk_ties_deterministic) {
    /* Rows are unit basis vectors e_(i mod 4), so scores against q = (1, 1, 1, 0, ...) are
     * exactly equal for every row not on axis 3 — in GEMM and reference alike. */
    const int N = 40, D = 8;
    float x[40 * 8] = {0};
    for (int i = 0; i < N; i++) x[i * D + i % 4] = 1.0f;
    char **items = make_items(N);
    mmc_error err = {0};
    mmc_index *ix = mmc_index_build(x, N, D, (const char *const *)items, "ties", MMC_INDEX_F32, &err);
    free_items(items, N);
    REQUIRE(ix, "build: %s", err.msg);
    float q[2 * 8] = {1, 1, 1, 0, 0, 0, 0, 0}; /* and a zero query: everything ties at 0 */
    int64_t got[2 * 40], ref[2 * 40];
    float s[2 * 40], sr[2 * 40];
    const int blocks[] = {0, 1, 7, 13};
    for (int t = 1; t <= 2; t++) {
        mmc_set_threads(t);
        for (int b = 0; b < 4; b++) {
            for (int k = 5; k <= N; k += 35) {
                REQUIRE(mmc_index_search(ix, q, 2, k, blocks[b], got, s, NULL, &err) == MMC_OK, "%s", err.msg);
                REQUIRE(mmc_index_search_bruteforce(ix, q, 2, k, ref, sr, NULL, &err) == MMC_OK, "%s", err.msg);
                CHECK(memcmp(got, ref, sizeof(int64_t) * 2 * k) == 0 && memcmp(s, sr, sizeof(float) * 2 * k) == 0,
                      "threads %d block %d k %d: differs from reference", t, blocks[b], k);
                /* ties go to the lower index: 0,1,2,4,5,6,8,... for q; 0,1,2,... for zero */
                for (int j = 0, want = 0; j < k && j < 30; j++, want += (want % 4 == 2) ? 2 : 1)
                    CHECK(got[j] == want, "threads %d block %d: rank %d is row %lld, expected %d", t, blocks[b], j, (long long)got[j], want);
                for (int j = 0; j < k; j++) CHECK(got[k + j] == j && s[k + j] == 0.0f, "zero query rank %d", j);
            }
        }
    }
    mmc_set_threads(0);
    mmc_index_close(ix);
}

TEST(index_large_blocked) {
    /* N spans several default blocks (4096 rows) with a partial last one; results must not
     * depend on the block size or the thread count, bit for bit. */
    const int64_t N = 10000;
    const int D = 16, NQ = 9, K = 10;
    mmc_index *f = build_random(N, D, MMC_INDEX_F32, 31), *q8 = build_random(N, D, MMC_INDEX_I8, 31);
    REQUIRE(f && q8, "build");
    REQUIRE(N > MMC_INDEX_BLOCK_ROWS * 2, "N must span blocks");
    float *q = rand_matrix(NQ, D, 32);
    check_against_bruteforce(f, q, NQ, K, 0);
    check_against_bruteforce(f, q, NQ, K, 333);
    check_against_bruteforce(q8, q, NQ, K, 0);
    check_against_bruteforce(q8, q, NQ, 200, 1000);
    int64_t i1[NQ * K], i2[NQ * K];
    float s1[NQ * K], s2[NQ * K];
    mmc_error err = {0};
    mmc_set_threads(1);
    REQUIRE(mmc_index_search(f, q, NQ, K, 0, i1, s1, NULL, &err) == MMC_OK, "%s", err.msg);
    mmc_set_threads(2);
    REQUIRE(mmc_index_search(f, q, NQ, K, 0, i2, s2, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(memcmp(i1, i2, sizeof i1) == 0 && memcmp(s1, s2, sizeof s1) == 0, "1 vs 2 threads differ");
    REQUIRE(mmc_index_search(f, q, NQ, K, 0, i2, s2, NULL, &err) == MMC_OK, "%s", err.msg);
    CHECK(memcmp(i1, i2, sizeof i1) == 0 && memcmp(s1, s2, sizeof s1) == 0, "repeat run differs");
    mmc_set_threads(0);
    free(q);
    mmc_index_close(f);
    mmc_index_close(q8);
}

/* ------------------------------------------------------------------ hostile files */

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

/* Recomputes both CRCs, so each case below tests its own check, not the CRC's. */
static void fix_crcs(uint8_t *b, size_t n) {
    if (n < 128) return;
    put32(b + H_BODY_CRC, (uint32_t)crc32(crc32(0, Z_NULL, 0), b + 128, (uInt)(n - 128)));
    put32(b + H_HEADER_CRC, (uint32_t)crc32(crc32(0, Z_NULL, 0), b, H_HEADER_CRC));
}

typedef struct {
    const char *name;   /* what is broken */
    const char *expect; /* a phrase the message must contain */
    int i8;             /* mutate the int8 file instead of the f32 one */
} hostile_case;

/* Applies case c to a copy of the file image; returns the new length. */
static size_t mutate(int c, uint8_t *b, size_t n) {
    uint64_t stroff = get64(b + H_STROFF), strbytes = get64(b + H_STRBYTES), matrix = get64(b + H_MATRIX);
    int fix = 1;
    switch (c) {
    case 0: n = 100; break;                                    /* shorter than the header */
    case 1: n -= 1; fix = 0; break;                            /* lost its last byte */
    case 2: b[0] = 'X'; break;                                 /* magic */
    case 3: put32(b + H_VERSION, 2); break;
    case 4: put64(b + H_COUNT, (uint64_t)1 << 40); break;      /* huge count */
    case 5: put64(b + H_COUNT, 0x7fffffff); break;             /* count*dim runs past the end */
    case 6: put32(b + H_DIM, 1u << 30); break;                 /* huge dim */
    case 7: put32(b + H_DIM, 0); break;
    case 8: put64(b + H_MATRIX, UINT64_MAX - 63); break;       /* overflowing offsets */
    case 9: put64(b + H_STRLEN, UINT64_MAX); break;
    case 10: put64(b + H_MODEL, UINT64_MAX - 3); break;
    case 11: put64(b + H_MATRIX, matrix + 4); break;           /* misaligned matrix */
    case 12: put64(b + stroff + 8, get64(b + H_STRLEN) + 100); break; /* string past the table */
    case 13: put64(b + stroff + 16, 1); break;                 /* offsets go backwards */
    case 14: b[strbytes + 1] = 0xff; break;                    /* invalid UTF-8 in string 0 */
    case 15: b[matrix + 5] ^= 0x40; fix = 0; break;            /* body CRC */
    case 16: b[H_DIM] ^= 1; fix = 0; break;                    /* header CRC */
    case 17: n = 0; break;                                     /* empty file */
    case 18: put32(b + H_DTYPE, 9); break;
    case 19: b[H_RESERVED + 3] = 1; break;
    case 20: n += 64; memset(b + n - 64, 0, 64); fix = 0; break; /* padded: size mismatch */
    case 21: { float v = 2.0f; memcpy(b + matrix, &v, 4); break; } /* not unit length */
    case 22: { float v = NAN; memcpy(b + matrix, &v, 4); break; }
    case 23: { float v = NAN; memcpy(b + get64(b + H_SCALES), &v, 4); break; } /* int8 scale */
    case 24: b[matrix] = 0x80; break;                          /* int8 -128 */
    case 25: b[get64(b + H_MODEL) + get64(b + H_MODEL_LEN) - 1] = 'x'; break; /* model id NUL */
    case 26: put64(b + H_SCALES, 4096); break;                 /* f32 with scales */
    case 27: put64(b + H_MODEL_LEN, 0); break;
    case 28: put32(b + H_HSIZE, 64); break;
    case 29: put64(b + H_STRBYTES, stroff); break;             /* strings overlap offsets */
    case 30: { float v; memcpy(&v, b + get64(b + H_SCALES), 4); v *= 1.5f; /* int8 row too long */
               memcpy(b + get64(b + H_SCALES), &v, 4); break; }
    case 31: put32(b + H_KIND, 3); break;                       /* unknown item kind */
    case 32: put32(b + H_KIND, 2); break;                       /* texts with ids, items without */
    case 33: put32(b + H_KIND, 0x100); break;                   /* kind's high bytes are its own */
    }
    if (fix) fix_crcs(b, n);
    return n;
}

static const hostile_case CASES[] = {
    {"truncated below the header", "too short", 0},
    {"truncated by one byte", "truncated", 0},
    {"wrong magic", "magic", 0},
    {"future version", "version 2", 0},
    {"huge count", "count", 0},
    {"count times dim past the end", "runs past", 0},
    {"huge dim", "dim", 0},
    {"dim 0", "dim 0", 0},
    {"matrix offset near 2^64", "matrix offset", 0},
    {"string table length 2^64-1", "string table", 0},
    {"model offset near 2^64", "model id", 0},
    {"misaligned matrix", "aligned", 0},
    {"string offset past the table", "string 0", 0},
    {"string offsets decreasing", "string 1", 0},
    {"invalid UTF-8 string", "UTF-8", 0},
    {"body CRC mismatch", "body CRC", 0},
    {"header CRC mismatch", "header CRC", 0},
    {"empty file", "too short", 0},
    {"unknown dtype", "dtype", 0},
    {"reserved byte set", "reserved", 0},
    {"trailing bytes", "header says", 0},
    {"row not unit length", "norm", 0},
    {"NaN in a row", "norm", 0},
    {"NaN int8 scale", "scale", 1},
    {"int8 -128", "-128", 1},
    {"model id not NUL-terminated", "NUL", 0},
    {"float32 file with scales", "scales", 0},
    {"model id length 0", "model id length", 0},
    {"header size field", "header size", 0},
    {"string bytes overlap the offset table", "string table offset", 0},
    {"int8 row scaled past unit length", "norm", 1},
    {"item kind 3", "unknown item kind 3", 0},
    {"item kind 2 (ID<tab>TEXT) over paths", "string 0 has no tab", 0},
    {"item kind 256", "unknown item kind 256", 0},
};

static void expect_refused(const char *what, const char *path, const char *expect, mmc_index *ix, const mmc_error *err) {
    CHECK(!ix, "%s: accepted", what);
    mmc_index_close(ix);
    CHECK(err->code == MMC_ERR_INPUT, "%s: code %d (%s)", what, err->code, err->msg);
    CHECK(strstr(err->msg, path) != NULL, "%s: message does not name the file: %s", what, err->msg);
    CHECK(!expect || strstr(err->msg, expect) != NULL, "%s: message lacks '%s': %s", what, expect, err->msg);
}

TEST(index_hostile_catalogue) {
    mmc_index *src[2] = {build_random(6, 5, MMC_INDEX_F32, 41), build_random(6, 5, MMC_INDEX_I8, 41)};
    REQUIRE(src[0] && src[1], "build");
    const char *path = tmp_path("hostile");
    size_t n0[2];
    uint8_t *img[2];
    mmc_error err = {0};
    for (int d = 0; d < 2; d++) {
        REQUIRE(mmc_index_save(src[d], path, &err) == MMC_OK, "save: %s", err.msg);
        img[d] = read_all(path, &n0[d]);
        REQUIRE(img[d], "read back");
        mmc_index_close(src[d]);
    }
    uint8_t *b = malloc(n0[0] + n0[1] + 128);
    for (int c = 0; c < (int)(sizeof CASES / sizeof CASES[0]); c++) {
        const hostile_case *h = &CASES[c];
        memcpy(b, img[h->i8], n0[h->i8]);
        size_t n = mutate(c, b, n0[h->i8]);
        FILE *f = fopen(path, "wb");
        REQUIRE(f && fwrite(b, 1, n, f) == n && fclose(f) == 0, "write %s", path);
        mmc_error e = {0};
        expect_refused(h->name, path, h->expect, mmc_index_open(path, &e), &e);
        mmc_error e2 = {0};
        expect_refused(h->name, "mem.idx", h->expect, mmc_index_parse("mem.idx", b, n, &e2), &e2);
    }
    /* The untouched images still load (the catalogue broke copies). */
    for (int d = 0; d < 2; d++) {
        mmc_index *ok = mmc_index_parse("ok.idx", img[d], n0[d], &err);
        CHECK(ok, "pristine image %d: %s", d, err.msg);
        mmc_index_close(ok);
    }
    remove(path);
    mmc_error e = {0};
    const char *missing = tmp_path("does_not_exist");
    expect_refused("missing file", missing, "cannot open", mmc_index_open(missing, &e), &e);
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/mmc_index_dir_%d", (int)getpid());
    mkdir(dir, 0700);
    expect_refused("directory", dir, "directory", mmc_index_open(dir, &e), &e);
    rmdir(dir);
    free(b);
    mmc_free(img[0]);
    mmc_free(img[1]);
}

/* ------------------------------------------------------------------ item kinds */

/* Builds items with kind, saves, reopens: the kind and every item come back. NULL on failure
 * (checked by the caller), else the reopened index; path gets the file. */
static mmc_index *kind_roundtrip(const char *const *items, int n, int kind, const char *path) {
    float *x = rand_matrix(n, 6, 5);
    mmc_error err = {0};
    mmc_index *a = mmc_index_build_kind(x, n, 6, items, "m", MMC_INDEX_F32, kind, &err), *b = NULL;
    free(x);
    CHECK(a, "build kind %d: %s", kind, err.msg);
    if (a && mmc_index_save(a, path, &err) == MMC_OK) b = mmc_index_open(path, &err);
    CHECK(b, "reopen kind %d: %s", kind, err.msg);
    CHECK(mmc_index_kind(a) == kind && (!b || mmc_index_kind(b) == kind), "kind %d came back as %d/%d", kind,
          mmc_index_kind(a), b ? mmc_index_kind(b) : -1);
    for (int i = 0; b && i < n; i++) CHECK(!strcmp(mmc_index_item(b, i), items[i]), "kind %d item %d", kind, i);
    mmc_index_close(a);
    return b;
}

/* Writes image b (n bytes) with the u32 at offset `at` set to v and the CRCs fixed, then
 * opens it: the kind, or -1 with the message in err. */
static int open_patched(const char *path, const uint8_t *img, size_t n, int at, uint32_t v, mmc_error *err) {
    uint8_t *b = malloc(n);
    memcpy(b, img, n);
    put32(b + at, v);
    fix_crcs(b, n);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b, 1, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    free(b);
    if (!ok) return -2;
    mmc_index *ix = mmc_index_open(path, err);
    int kind = mmc_index_kind(ix);
    mmc_index_close(ix);
    return ix ? kind : -1;
}

TEST(index_kinds) {
    const char *path = tmp_path("kinds");
    mmc_error err = {0};
    /* texts: anything UTF-8, tabs and line breaks too */
    const char *texts[] = {"a large red circle", "一个红色圆形", "tab\there", "two\nlines", ""};
    mmc_index *t = kind_roundtrip(texts, 5, MMC_INDEX_TEXTS, path);
    mmc_index_close(t);
    /* texts with ids: the id ends at the first tab; the text may hold more */
    const char *ids[] = {"a1\ta large red circle", "图-2\t一个红色圆形", "x\tmore\ttabs\nand lines", "y\t"};
    mmc_index *d = kind_roundtrip(ids, 4, MMC_INDEX_TEXTS_IDS, path);
    mmc_index_close(d);
    size_t n = 0;
    uint8_t *img = read_all(path, &n);
    REQUIRE(img && n > 128, "read back");
    /* an old file (kind bytes zero, as every file before the field) opens as media paths */
    CHECK(open_patched(path, img, n, H_KIND, MMC_INDEX_MEDIA, &err) == MMC_INDEX_MEDIA, "kind 0: %s", err.msg);
    CHECK(open_patched(path, img, n, H_KIND, MMC_INDEX_TEXTS, &err) == MMC_INDEX_TEXTS, "kind 1: %s", err.msg);
    mmc_error e = {0};
    CHECK(open_patched(path, img, n, H_KIND, 3, &e) == -1 && e.code == MMC_ERR_INPUT && strstr(e.msg, path) &&
          strstr(e.msg, "kind 3"), "kind 3 accepted: %s", e.msg);
    CHECK(open_patched(path, img, n, H_RESERVED, 1, &e) == -1 && strstr(e.msg, "reserved header byte 104"),
          "byte after kind accepted: %s", e.msg);
    mmc_free(img);
    /* mmc_index_build writes kind 0 and leaves bytes 100..123 zero: the old format, byte for byte */
    float x[12] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    const char *paths[] = {"/a.png", "/b.png#t=0.000,1.000"};
    mmc_index *m = mmc_index_build(x, 2, 6, paths, "m", MMC_INDEX_F32, &err);
    REQUIRE(m && mmc_index_save(m, path, &err) == MMC_OK, "media build: %s", err.msg);
    CHECK(mmc_index_kind(m) == MMC_INDEX_MEDIA, "media kind %d", mmc_index_kind(m));
    mmc_index_close(m);
    img = read_all(path, &n);
    REQUIRE(img && n > 128, "read back");
    int zero = 1;
    for (int i = H_KIND; i < H_HEADER_CRC; i++) zero &= img[i] == 0;
    CHECK(zero, "a media index sets bytes 100..123");
    mmc_free(img);
    /* the ID<tab>TEXT rule, at build and at open */
    const char *notab[] = {"a1\tok", "no tab here"}, *noid[] = {"\tno id"}, *nlid[] = {"a\nb\ttext"};
    CHECK(!mmc_index_build_kind(x, 2, 6, notab, "m", MMC_INDEX_F32, MMC_INDEX_TEXTS_IDS, &err) &&
          err.code == MMC_ERR_INPUT && strstr(err.msg, "item 1 has no tab"), "no tab: %s", err.msg);
    CHECK(!mmc_index_build_kind(x, 1, 6, noid, "m", MMC_INDEX_F32, MMC_INDEX_TEXTS_IDS, &err) &&
          err.code == MMC_ERR_INPUT && strstr(err.msg, "empty id"), "empty id: %s", err.msg);
    CHECK(!mmc_index_build_kind(x, 1, 6, nlid, "m", MMC_INDEX_F32, MMC_INDEX_TEXTS_IDS, &err) &&
          err.code == MMC_ERR_INPUT && strstr(err.msg, "line break"), "id with a newline: %s", err.msg);
    CHECK(!mmc_index_build_kind(x, 1, 6, noid, "m", MMC_INDEX_F32, 3, &err) && err.code == MMC_ERR_USAGE, "kind 3 built");
    CHECK(!mmc_index_build_kind(x, 1, 6, noid, "m", MMC_INDEX_F32, -1, &err) && err.code == MMC_ERR_USAGE, "kind -1 built");
    /* a texts file whose items are not ID<tab>TEXT, relabelled as texts with ids */
    const char *bad[] = {"a1\tfine", "b\nc\tline break in the id", "\tempty id"};
    for (int c = 1; c <= 2; c++) {
        float y[18] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
        const char *two[] = {bad[0], bad[c]};
        m = mmc_index_build_kind(y, 2, 6, two, "m", MMC_INDEX_F32, MMC_INDEX_TEXTS, &err);
        REQUIRE(m && mmc_index_save(m, path, &err) == MMC_OK, "build: %s", err.msg);
        mmc_index_close(m);
        img = read_all(path, &n);
        REQUIRE(img, "read back");
        e = (mmc_error){0};
        CHECK(open_patched(path, img, n, H_KIND, MMC_INDEX_TEXTS_IDS, &e) == -1 && e.code == MMC_ERR_INPUT &&
              strstr(e.msg, path) && strstr(e.msg, "string 1") && strstr(e.msg, c == 1 ? "line break" : "empty id"),
              "case %d accepted: %s", c, e.msg);
        mmc_free(img);
    }
    remove(path);
}

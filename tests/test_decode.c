/*
 * test_decode.c — greedy and beam search driven by a toy model.
 *
 * The toy model is a Markov table with one twist that makes it stateful: once a beam has
 * generated token C_TOK, its next-token probabilities come from a second table. The step
 * callback keeps each beam's history and rebuilds it from beam_parents every step, as a real
 * model reorders its hidden states; an independent scorer walks a returned sequence
 * through the same tables. If the search handed the model wrong parents, the log-probs it
 * reports would not match the scorer's.
 */
#include "test.h"
#include <stdlib.h>

enum { PAD = 0, UNK = 1, START = 2, END = 3, A = 4, B = 5, C_TOK = 6 };
#define TOY_MAXV 12
#define TOY_MAXB 160
#define TOY_MAXL 12

typedef struct toy {
    int V;
    float lp[2][TOY_MAXV][TOY_MAXV]; /* [seen C_TOK][previous token][next token], log-probs */
    int32_t hist[TOY_MAXB][TOY_MAXL];
    int hlen[TOY_MAXB];
    int n_prev;    /* beams in the previous call (1 before the first: the prepared state) */
    int calls, max_beams;
    int fail_at;   /* call number that fails (0: never) */
    int nan_at;    /* call number that returns a NaN (0: never) */
    int bad;       /* set when the decoder broke the callback contract */
} toy;

static int seen_c(const int32_t *h, int n) {
    for (int i = 0; i < n; i++)
        if (h[i] == C_TOK) return 1;
    return 0;
}

static int toy_step(void *user, const int *parents, const int32_t *last, int n, float *lp, mmc_error *err) {
    toy *m = user;
    m->calls++;
    if (m->calls == m->fail_at) return mmc_error_set(err, MMC_ERR_RUNTIME, "toy: failing on purpose at call %d", m->calls);
    if (n > m->max_beams) m->max_beams = n;
    static int32_t nh[TOY_MAXB][TOY_MAXL];
    static int nl[TOY_MAXB];
    for (int i = 0; i < n; i++) {
        int p = parents[i];
        if (p < 0 || p >= m->n_prev || n > TOY_MAXB) {
            m->bad = 1;
            return mmc_error_set(err, MMC_ERR_USAGE, "toy: parent %d of beam %d out of range", p, i);
        }
        memcpy(nh[i], m->hist[p], sizeof nh[i]);
        nl[i] = m->hlen[p];
        if (m->calls == 1) {
            if (last[i] != START) m->bad = 1;
        } else {
            /* the token fed must be a real continuation */
            if (last[i] == END || nl[i] >= TOY_MAXL) m->bad = 1;
            else nh[i][nl[i]++] = last[i];
        }
    }
    for (int i = 0; i < n; i++) {
        memcpy(m->hist[i], nh[i], sizeof nh[i]);
        m->hlen[i] = nl[i];
        memcpy(lp + (size_t)i * m->V, m->lp[seen_c(nh[i], nl[i])][last[i]], sizeof(float) * m->V);
    }
    if (m->calls == m->nan_at) lp[0] = NAN;
    m->n_prev = n;
    return MMC_OK;
}

static void toy_reset(toy *m) {
    m->n_prev = 1;
    m->hlen[0] = 0;
    m->calls = m->max_beams = 0;
    m->bad = 0;
}

/* An independent log-prob of a hypothesis: its tokens (and end) through the tables. */
static double toy_score(const toy *m, const int32_t *seq, int len, int ended) {
    double s = 0.0;
    int32_t prev = START;
    for (int i = 0; i < len + ended; i++) {
        int32_t tok = i < len ? seq[i] : END;
        s += (double)m->lp[seen_c(seq, i)][prev][tok];
        prev = tok;
    }
    return s;
}

/* Rows of probabilities -> log-probs; a row given for `from` in both tables. */
static void toy_row(toy *m, int table, int from, const double *probs) {
    for (int v = 0; v < m->V; v++) m->lp[table][from][v] = probs[v] > 0 ? (float)log(probs[v]) : -INFINITY;
}

static void toy_init(toy *m, int V) {
    memset(m, 0, sizeof *m);
    m->V = V;
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < TOY_MAXV; a++)
            for (int b = 0; b < TOY_MAXV; b++) m->lp[t][a][b] = -INFINITY;
    toy_reset(m);
}

/* Random tables over V tokens: specials 0..2 never generated, end probability varied. */
static void toy_random(toy *m, int V, uint64_t seed) {
    toy_init(m, V);
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, 11);
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < V; a++) {
            double x[TOY_MAXV], sum = 0;
            for (int v = 0; v < V; v++) {
                x[v] = v < END ? 0.0 : exp(1.5 * mmc_rng_normal(&rng));
                sum += x[v];
            }
            for (int v = 0; v < V; v++) x[v] /= sum;
            toy_row(m, t, a, x);
        }
}

static mmc_decode_opts opts(int V, int K, int max_len) {
    mmc_decode_opts o = mmc_decode_defaults();
    o.vocab_size = V;
    o.beam = K;
    o.max_len = max_len;
    return o;
}

static int same_hyp(const mmc_decode_result *a, int i, const mmc_decode_result *b, int j) {
    if (a->lengths[i] != b->lengths[j] || a->ended[i] != b->ended[j]) return 0;
    return memcmp(a->tokens + (size_t)i * a->max_len, b->tokens + (size_t)j * b->max_len,
                  sizeof(int32_t) * (size_t)a->lengths[i]) == 0;
}

static void fmt_hyp(const mmc_decode_result *r, int i, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < r->lengths[i] && o + 8 < n; k++)
        o += (size_t)snprintf(buf + o, n - o, "%d ", (int)r->tokens[(size_t)i * r->max_len + k]);
    snprintf(buf + o, n - o, "%s", r->ended[i] ? "<end>" : "(cut)");
}

/* Scores sorted, each log-prob equal to the toy's own, score = log-prob / lp. */
static int check_result(const toy *m, const mmc_decode_opts *o, const mmc_decode_result *r, const char *what) {
    int ok = 1;
    for (int i = 0; i < r->n; i++) {
        const int32_t *seq = r->tokens + (size_t)i * r->max_len;
        double want = toy_score(m, seq, r->lengths[i], r->ended[i]);
        if (fabs(want - r->logprobs[i]) > 1e-9) {
            mmc_test_fail(__FILE__, __LINE__, "%s: hyp %d log-prob %.12f, the model says %.12f", what, i,
                          r->logprobs[i], want);
            ok = 0;
        }
        int len = r->lengths[i] + r->ended[i];
        double lp = o->length_penalty == 0 ? 1.0
                    : o->lp_kind == MMC_LP_POWER ? pow(len > 1 ? len : 1, o->length_penalty)
                                                 : pow((5.0 + len) / 6.0, o->length_penalty);
        if (fabs(r->scores[i] - r->logprobs[i] / lp) > 1e-9) {
            mmc_test_fail(__FILE__, __LINE__, "%s: hyp %d score %.12f != %.12f / %.6f", what, i, r->scores[i],
                          r->logprobs[i], lp);
            ok = 0;
        }
        if (i > 0 && r->scores[i] > r->scores[i - 1]) {
            mmc_test_fail(__FILE__, __LINE__, "%s: hyp %d scores above hyp %d", what, i, i - 1);
            ok = 0;
        }
        for (int j = 0; j < i; j++)
            if (same_hyp(r, i, r, j)) {
                mmc_test_fail(__FILE__, __LINE__, "%s: hyp %d repeats hyp %d", what, i, j);
                ok = 0;
            }
        if (r->lengths[i] + r->ended[i] > o->max_len) {
            mmc_test_fail(__FILE__, __LINE__, "%s: hyp %d is too long", what, i);
            ok = 0;
        }
    }
    if (m->bad) {
        mmc_test_fail(__FILE__, __LINE__, "%s: the decoder broke the callback contract", what);
        ok = 0;
    }
    return ok;
}

TEST(beam_k1_equals_greedy) {
    /* 200 random tables, with and without n-gram blocking: a beam of width 1 (no length
     * penalty) must return greedy's hypothesis with the identical log-prob, bit for bit. */
    toy m;
    mmc_error err = {0};
    int cut = 0, ended = 0;
    for (int seed = 1; seed <= 200; seed++) {
        toy_random(&m, 9, (uint64_t)seed);
        mmc_decode_opts o = opts(9, 1, 8);
        o.no_repeat_ngram = seed % 3; /* 0 (off), 1, 2 */
        mmc_decode_result g, b;
        toy_reset(&m);
        REQUIRE(mmc_decode_greedy(toy_step, &m, &o, &g, &err) == MMC_OK, "%s", err.msg);
        CHECK(m.max_beams == 1, "greedy asked for %d beams", m.max_beams);
        REQUIRE(check_result(&m, &o, &g, "greedy"), "seed %d", seed);
        toy_reset(&m);
        REQUIRE(mmc_decode_beam(toy_step, &m, &o, &b, &err) == MMC_OK, "%s", err.msg);
        REQUIRE(check_result(&m, &o, &b, "beam 1"), "seed %d", seed);
        CHECK(m.max_beams == 1, "beam 1 asked for %d beams", m.max_beams);
        char gs[128], bs[128];
        fmt_hyp(&g, 0, gs, sizeof gs);
        fmt_hyp(&b, 0, bs, sizeof bs);
        CHECK(b.n == 1 && same_hyp(&g, 0, &b, 0) && g.logprobs[0] == b.logprobs[0],
              "seed %d: greedy [%s] %.17g, beam 1 [%s] %.17g", seed, gs, g.logprobs[0], bs, b.logprobs[0]);
        cut += !g.ended[0], ended += g.ended[0];
        mmc_decode_result_free(&g);
        mmc_decode_result_free(&b);
    }
    CHECK(cut > 0 && ended > 0, "the tables should give both ended (%d) and cut (%d) hypotheses", ended, cut);

    /* Ties: start -> A or B with equal probability; both take the lower id (A). */
    toy_init(&m, 7);
    toy_row(&m, 0, START, (double[]){0, 0, 0, 0.2, 0.4, 0.4, 0});
    toy_row(&m, 0, A, (double[]){0, 0, 0, 1, 0, 0, 0});
    toy_row(&m, 0, B, (double[]){0, 0, 0, 1, 0, 0, 0});
    mmc_decode_opts o = opts(7, 1, 5);
    mmc_decode_result g, b;
    REQUIRE(mmc_decode_greedy(toy_step, &m, &o, &g, &err) == MMC_OK, "%s", err.msg);
    toy_reset(&m);
    REQUIRE(mmc_decode_beam(toy_step, &m, &o, &b, &err) == MMC_OK, "%s", err.msg);
    CHECK(g.lengths[0] == 1 && g.tokens[0] == A && same_hyp(&g, 0, &b, 0), "tie: greedy %d, beam %d", (int)g.tokens[0],
          (int)b.tokens[0]);
    mmc_decode_result_free(&g);
    mmc_decode_result_free(&b);
}

/* Every hypothesis over a small vocabulary, for an exact top-K. */
typedef struct { int32_t seq[TOY_MAXL]; int len, ended; double lp; } hyp;
static void enumerate(const toy *m, int max_len, int32_t *seq, int len, double lp, hyp *out, int *n) {
    int32_t prev = len ? seq[len - 1] : START;
    const float *row = m->lp[seen_c(seq, len)][prev];
    for (int v = 0; v < m->V; v++) {
        if (row[v] == -INFINITY) continue;
        double s = lp + (double)row[v];
        if (v == END) {
            hyp *h = &out[(*n)++];
            memcpy(h->seq, seq, sizeof(int32_t) * len);
            h->len = len, h->ended = 1, h->lp = s;
            continue;
        }
        seq[len] = v;
        if (len + 1 == max_len) {
            hyp *h = &out[(*n)++];
            memcpy(h->seq, seq, sizeof(int32_t) * (len + 1));
            h->len = len + 1, h->ended = 0, h->lp = s;
        } else {
            enumerate(m, max_len, seq, len + 1, s, out, n);
        }
    }
}
static int by_lp_desc(const void *a, const void *b) {
    double x = ((const hyp *)a)->lp, y = ((const hyp *)b)->lp;
    return x < y ? 1 : x > y ? -1 : 0;
}

TEST(beam_sorted_by_score) {
    toy m;
    mmc_error err = {0};
    /* Widths 2..5 on random tables, with and without a length penalty: K hypotheses (the
     * tables always allow K), sorted, distinct, with the model's own log-probs. */
    for (int seed = 1; seed <= 40; seed++) {
        toy_random(&m, 9, 1000 + (uint64_t)seed);
        mmc_decode_opts o = opts(9, 2 + seed % 4, 8);
        o.length_penalty = (seed % 3) * 0.7f;
        o.lp_kind = seed % 2 ? MMC_LP_POWER : MMC_LP_GNMT;
        mmc_decode_result r;
        toy_reset(&m);
        REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
        CHECK(r.n == o.beam, "seed %d: %d hypotheses for width %d", seed, r.n, o.beam);
        CHECK(m.max_beams <= o.beam, "seed %d: %d live beams for width %d", seed, m.max_beams, o.beam);
        REQUIRE(check_result(&m, &o, &r, "beam"), "seed %d", seed);
        mmc_decode_result_free(&r);
    }

    /* A beam wide enough to keep everything (K >= every candidate of every step: 27 live
     * prefixes x 4 tokens) is exhaustive: its list must be the exact ranking of all 121
     * hypotheses of at most 4 tokens over 3 content tokens. */
    toy_random(&m, 7, 77);
    int32_t seq[TOY_MAXL];
    static hyp all[512];
    int n_all = 0;
    enumerate(&m, 4, seq, 0, 0.0, all, &n_all);
    REQUIRE(n_all == 121, "enumerated %d hypotheses", n_all);
    qsort(all, (size_t)n_all, sizeof *all, by_lp_desc);
    mmc_decode_opts o = opts(7, 128, 4);
    mmc_decode_result r;
    toy_reset(&m);
    REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
    REQUIRE(r.n == n_all, "exhaustive beam returned %d of %d", r.n, n_all);
    check_result(&m, &o, &r, "exhaustive");
    /* Rank by rank the log-probs agree, and each returned hypothesis is the enumerated one
     * of that rank, or one tied with it (sums of the same table entries in another order can
     * tie exactly). */
    for (int i = 0; i < n_all; i++) {
        CHECK(fabs(r.logprobs[i] - all[i].lp) < 1e-12, "rank %d: beam %.12f, exact %.12f", i, r.logprobs[i], all[i].lp);
        const int32_t *s = r.tokens + (size_t)i * r.max_len;
        int found = 0;
        for (int j = 0; j < n_all && !found; j++)
            found = fabs(all[j].lp - r.logprobs[i]) < 1e-12 && r.lengths[i] == all[j].len &&
                    r.ended[i] == all[j].ended && memcmp(s, all[j].seq, sizeof(int32_t) * all[j].len) == 0;
        CHECK(found, "rank %d: the beam's hypothesis is not the enumerated one", i);
    }
    mmc_decode_result_free(&r);
}

TEST(beam_finds_better_than_greedy) {
    /* start -> A 0.55 | B 0.45;  A -> X1..X4 0.25 each;  B -> end 0.9 | X1 0.1;  Xi -> end.
     * Greedy takes A (0.55) and then any Xi: 0.55 * 0.25 = 0.1375. A beam of 2 keeps B and
     * finds B end: 0.45 * 0.9 = 0.405. */
    enum { X1 = 7, X4 = 10 };
    toy m;
    toy_init(&m, 11);
    toy_row(&m, 0, START, (double[]){0, 0, 0, 0, 0.55, 0.45, 0, 0, 0, 0, 0});
    toy_row(&m, 0, A, (double[]){0, 0, 0, 0, 0, 0, 0, 0.25, 0.25, 0.25, 0.25});
    toy_row(&m, 0, B, (double[]){0, 0, 0, 0.9, 0, 0, 0, 0.1, 0, 0, 0});
    for (int x = X1; x <= X4; x++) toy_row(&m, 0, x, (double[]){0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0});
    mmc_error err = {0};
    mmc_decode_opts o = opts(11, 2, 10);
    mmc_decode_result g, b;
    REQUIRE(mmc_decode_greedy(toy_step, &m, &o, &g, &err) == MMC_OK, "%s", err.msg);
    CHECK(g.lengths[0] == 2 && g.tokens[0] == A && g.tokens[1] == X1 && g.ended[0], "greedy path");
    CHECK(fabs(g.logprobs[0] - log(0.1375)) < 1e-6, "greedy log-prob %.9f, want log 0.1375", g.logprobs[0]);
    toy_reset(&m);
    REQUIRE(mmc_decode_beam(toy_step, &m, &o, &b, &err) == MMC_OK, "%s", err.msg);
    check_result(&m, &o, &b, "beam 2");
    CHECK(b.n == 2 && b.lengths[0] == 1 && b.tokens[0] == B && b.ended[0], "beam's best is not [B]");
    CHECK(fabs(b.logprobs[0] - log(0.405)) < 1e-6, "beam log-prob %.9f, want log 0.405", b.logprobs[0]);
    CHECK(b.logprobs[0] > g.logprobs[0], "beam did not beat greedy");
    /* second best: A X1 (the Xi tie, lowest id first), the greedy caption */
    CHECK(same_hyp(&b, 1, &g, 0), "beam's runner-up is not greedy's caption");
    mmc_decode_result_free(&g);
    mmc_decode_result_free(&b);
}

TEST(beam_length_penalty) {
    /* start -> end 0.4 | A 0.6;  A -> end 0.5 | B 0.5;  B -> end 0.9.
     *   []     log 0.4  = -0.916291  (1 generated token: the end)
     *   [A]    log 0.3  = -1.203973  (2)
     *   [A B]  log 0.27 = -1.309333  (3)
     * No penalty: [] wins. POWER, alpha 1 (divide by len): -0.916, -0.602, -0.436 -> [A B].
     * GNMT, alpha 2 (((5+len)/6)^2 = 1, 1.3611, 1.7778): -0.916, -0.885, -0.737 -> [A B]. */
    toy m;
    toy_init(&m, 7);
    toy_row(&m, 0, START, (double[]){0, 0, 0, 0.4, 0.6, 0, 0});
    toy_row(&m, 0, A, (double[]){0, 0, 0, 0.5, 0, 0.5, 0});
    toy_row(&m, 0, B, (double[]){0, 0, 0, 0.9, 0, 0, 0.1});
    toy_row(&m, 0, C_TOK, (double[]){0, 0, 0, 1, 0, 0, 0});
    toy_row(&m, 1, C_TOK, (double[]){0, 0, 0, 1, 0, 0, 0});
    mmc_error err = {0};
    struct { float alpha; int kind; int want_len; double want_score; } cases[] = {
        {0.0f, MMC_LP_GNMT, 0, log(0.4)},
        {1.0f, MMC_LP_POWER, 2, log(0.27) / 3.0},
        {2.0f, MMC_LP_GNMT, 2, log(0.27) / pow(8.0 / 6.0, 2.0)},
    };
    for (int c = 0; c < 3; c++) {
        mmc_decode_opts o = opts(7, 3, 6);
        o.length_penalty = cases[c].alpha;
        o.lp_kind = cases[c].kind;
        mmc_decode_result r;
        toy_reset(&m);
        REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
        check_result(&m, &o, &r, "length penalty");
        CHECK(r.n >= 1 && r.lengths[0] == cases[c].want_len && r.ended[0], "case %d: best has %d tokens, want %d", c,
              r.lengths[0], cases[c].want_len);
        CHECK(fabs(r.scores[0] - cases[c].want_score) < 1e-6, "case %d: score %.9f, want %.9f", c, r.scores[0],
              cases[c].want_score);
        mmc_decode_result_free(&r);
    }
    /* The stopping rule must respect the penalty: with a width of 1 and POWER alpha 1, []
     * never enters (end ranks second at step 0), [A] finishes first, but [A B]'s reachable
     * score -1.204 / 3 still beats it, so the search goes on and finds [A B]. */
    mmc_decode_opts o = opts(7, 1, 6);
    o.length_penalty = 1.0f;
    o.lp_kind = MMC_LP_POWER;
    mmc_decode_result r;
    toy_reset(&m);
    REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.n == 1 && r.lengths[0] == 2 && r.ended[0], "width 1 with a penalty: best has %d tokens, want 2",
          r.lengths[0]);
    mmc_decode_result_free(&r);
}

static int has_repeated_ngram(const int32_t *s, int len, int n) {
    for (int i = 0; i + n <= len; i++)
        for (int j = i + 1; j + n <= len; j++)
            if (memcmp(s + i, s + j, sizeof(int32_t) * n) == 0) return 1;
    return 0;
}

TEST(beam_ngram_blocking) {
    /* start -> A 0.9 | end 0.1;  A -> B 0.9 | end 0.1;  B -> A 0.9 | end 0.1: left alone the
     * model loops "A B A B ..." to max_len. Blocking bigrams stops it at "A B A": B after
     * the second A would repeat "A B", so the end (0.1) is all that is left. */
    toy m;
    toy_init(&m, 7);
    toy_row(&m, 0, START, (double[]){0, 0, 0, 0.1, 0.9, 0, 0});
    toy_row(&m, 0, A, (double[]){0, 0, 0, 0.1, 0, 0.9, 0});
    toy_row(&m, 0, B, (double[]){0, 0, 0, 0.1, 0.9, 0, 0});
    mmc_error err = {0};
    mmc_decode_opts o = opts(7, 1, 8);
    mmc_decode_result r;
    REQUIRE(mmc_decode_greedy(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(r.lengths[0] == 8 && !r.ended[0] && has_repeated_ngram(r.tokens, 8, 2), "unblocked: the loop");
    mmc_decode_result_free(&r);

    /* Width 1 (greedy, and the beam of 1) follows the loop until blocked: [A B A]. */
    o.no_repeat_ngram = 2;
    for (int k = 0; k < 2; k++) {
        toy_reset(&m);
        REQUIRE((k == 0 ? mmc_decode_greedy : mmc_decode_beam)(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
        check_result(&m, &o, &r, "blocked");
        CHECK(r.lengths[0] == 3 && r.ended[0] && r.tokens[0] == A && r.tokens[1] == B && r.tokens[2] == A,
              "%s: blocked caption is not [A B A]", k == 0 ? "greedy" : "beam 1");
        mmc_decode_result_free(&r);
    }
    /* Width 4 sees every ending: [] 0.1, [A] 0.09, [A B] 0.081, [A B A] 0.0729 (the
     * continuation [A B A B] is blocked), best first. */
    o.beam = 4;
    toy_reset(&m);
    REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
    check_result(&m, &o, &r, "blocked, width 4");
    REQUIRE(r.n == 4, "%d hypotheses, want 4", r.n);
    const double want_p[4] = {0.1, 0.09, 0.081, 0.0729};
    for (int i = 0; i < 4; i++) {
        CHECK(r.lengths[i] == i && r.ended[i], "hyp %d: %d tokens, want %d", i, r.lengths[i], i);
        CHECK(fabs(r.logprobs[i] - log(want_p[i])) < 1e-6, "hyp %d: log-prob %.9f, want log %g", i, r.logprobs[i],
              want_p[i]);
        CHECK(!has_repeated_ngram(r.tokens + (size_t)i * r.max_len, r.lengths[i], 2), "hyp %d repeats a bigram", i);
    }
    mmc_decode_result_free(&r);

    /* Random tables, n = 1..3, widths 1..4: no hypothesis ever repeats an n-gram. */
    for (int seed = 1; seed <= 60; seed++) {
        toy_random(&m, 8, 500 + (uint64_t)seed);
        mmc_decode_opts q = opts(8, 1 + seed % 4, 10);
        q.no_repeat_ngram = 1 + seed % 3;
        toy_reset(&m);
        REQUIRE(mmc_decode_beam(toy_step, &m, &q, &r, &err) == MMC_OK, "%s", err.msg);
        check_result(&m, &q, &r, "random blocked");
        for (int i = 0; i < r.n; i++)
            CHECK(!has_repeated_ngram(r.tokens + (size_t)i * r.max_len, r.lengths[i], q.no_repeat_ngram),
                  "seed %d hyp %d repeats a %d-gram", seed, i, q.no_repeat_ngram);
        mmc_decode_result_free(&r);
    }
}

TEST(beam_max_length) {
    /* The end token is impossible: every hypothesis is cut at max_len, and the model is
     * called exactly max_len times. */
    toy m;
    toy_init(&m, 7);
    toy_row(&m, 0, START, (double[]){0, 0, 0, 0, 0.5, 0.5, 0});
    toy_row(&m, 0, A, (double[]){0, 0, 0, 0, 0.7, 0.3, 0});
    toy_row(&m, 0, B, (double[]){0, 0, 0, 0, 0.4, 0.6, 0});
    mmc_error err = {0};
    for (int K = 1; K <= 4; K++) {
        mmc_decode_opts o = opts(7, K, 5);
        mmc_decode_result r;
        toy_reset(&m);
        REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
        check_result(&m, &o, &r, "no end");
        CHECK(m.calls == 5, "K %d: %d model calls, want 5", K, m.calls);
        CHECK(r.n == K, "K %d: %d hypotheses", K, r.n);
        for (int i = 0; i < r.n; i++) CHECK(r.lengths[i] == 5 && !r.ended[i], "K %d hyp %d: length %d", K, i, r.lengths[i]);
        mmc_decode_result_free(&r);
    }

    /* max_len 1: one call; the end token itself counts against the limit. start -> A 0.9 |
     * end 0.1 with width 2 gives [A] (cut, log 0.9) then [] (ended, log 0.1). */
    toy_row(&m, 0, START, (double[]){0, 0, 0, 0.1, 0.9, 0, 0});
    mmc_decode_opts o = opts(7, 2, 1);
    mmc_decode_result r;
    toy_reset(&m);
    REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
    check_result(&m, &o, &r, "max_len 1");
    CHECK(m.calls == 1 && r.n == 2, "calls %d, hypotheses %d", m.calls, r.n);
    CHECK(r.lengths[0] == 1 && !r.ended[0] && r.lengths[1] == 0 && r.ended[1], "max_len 1 hypotheses");
    mmc_decode_result_free(&r);
    toy_reset(&m);
    REQUIRE(mmc_decode_greedy(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
    CHECK(m.calls == 1 && r.lengths[0] == 1 && !r.ended[0], "greedy max_len 1");
    mmc_decode_result_free(&r);
}

TEST(beam_stops_when_done) {
    /* start -> end 0.99 | A 0.01;  A -> end 0.99 | A 0.01. Width 1: [] finishes at step 0
     * and the live [A] (log 0.01) can never beat it: one call, not max_len. Width 2: [A]
     * finishes at step 1, the live [A A] (log 1e-4) cannot beat log 0.0099: two calls. */
    toy m;
    toy_init(&m, 7);
    toy_row(&m, 0, START, (double[]){0, 0, 0, 0.99, 0.01, 0, 0});
    toy_row(&m, 0, A, (double[]){0, 0, 0, 0.99, 0.01, 0, 0});
    mmc_error err = {0};
    for (int K = 1; K <= 2; K++) {
        mmc_decode_opts o = opts(7, K, 20);
        mmc_decode_result r;
        toy_reset(&m);
        REQUIRE(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_OK, "%s", err.msg);
        check_result(&m, &o, &r, "early stop");
        CHECK(m.calls == K, "width %d: %d model calls, want %d", K, m.calls, K);
        CHECK(r.n == K && r.lengths[0] == 0 && r.ended[0], "width %d: best is not []", K);
        mmc_decode_result_free(&r);
    }
}

TEST(decode_bad_input) {
    toy m;
    toy_random(&m, 9, 3);
    mmc_error err = {0};
    mmc_decode_result r;
    mmc_decode_opts o = opts(9, 3, 8);
    /* a failing model stops the search with its own status and message */
    m.fail_at = 3;
    CHECK(mmc_decode_beam(toy_step, &m, &o, &r, &err) == MMC_ERR_RUNTIME, "failure not propagated");
    CHECK(strstr(err.msg, "failing on purpose") != NULL, "message lost: %s", err.msg);
    CHECK(r.n == 0 && r.tokens == NULL, "result not emptied on failure");
    toy_reset(&m);
    m.fail_at = 0;
    m.nan_at = 2;
    CHECK(mmc_decode_greedy(toy_step, &m, &o, &r, &err) == MMC_ERR_RUNTIME, "NaN accepted");
    CHECK(strstr(err.msg, "NaN") != NULL, "message: %s", err.msg);
    m.nan_at = 0;
    /* bad options are usage errors */
    mmc_decode_opts bad = o;
    bad.beam = 0;
    CHECK(mmc_decode_beam(toy_step, &m, &bad, &r, &err) == MMC_ERR_USAGE, "beam 0 accepted");
    bad = o, bad.max_len = 0;
    CHECK(mmc_decode_beam(toy_step, &m, &bad, &r, &err) == MMC_ERR_USAGE, "max_len 0 accepted");
    bad = o, bad.end_id = 9;
    CHECK(mmc_decode_greedy(toy_step, &m, &bad, &r, &err) == MMC_ERR_USAGE, "end id outside the vocabulary accepted");
    bad = o, bad.vocab_size = 0;
    CHECK(mmc_decode_beam(toy_step, &m, &bad, &r, &err) == MMC_ERR_USAGE, "vocab 0 accepted");
    CHECK(mmc_decode_beam(NULL, &m, &o, &r, &err) == MMC_ERR_USAGE, "NULL step accepted");
    mmc_decode_result_free(&r); /* safe on an emptied result */
}

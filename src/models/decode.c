/*
 * decode.c — greedy and beam search over a step callback (see mmc.h, "decoding").
 *
 * The search knows nothing of the model: it hands the callback which beams survive
 * (beam_parents) and the token each one just took, and gets log-probabilities back. So the
 * captioner, and any later text decoder, share one search, and the tests drive it with a
 * fixed Markov table.
 *
 * Scores. A hypothesis's log-prob is the sum of its tokens' log-probs (end included),
 * accumulated in double in generation order, so greedy and a width-1 beam add exactly the
 * same numbers. Its score divides that by the length penalty lp(len), len = generated
 * tokens (end included, start not). Plain sums favour short captions (every token costs);
 * lp > 1 growing with len gives longer ones a fair chance.
 *
 * Memory: the few buffers (K x V log-probs, K x max_len tokens, ...) are allocated once per
 * call; a step allocates nothing.
 */
#include "mmc/models/decode.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

mmc_decode_opts mmc_decode_defaults(void) {
    mmc_decode_opts o;
    memset(&o, 0, sizeof o);
    o.start_id = 2;
    o.end_id = 3;
    o.max_len = 20;
    o.beam = 1;
    o.lp_kind = MMC_LP_GNMT;
    return o;
}

void mmc_decode_result_free(mmc_decode_result *r) {
    if (!r) return;
    mmc_free(r->tokens);
    mmc_free(r->lengths);
    mmc_free(r->ended);
    mmc_free(r->scores);
    mmc_free(r->logprobs);
    memset(r, 0, sizeof *r);
}

static double length_penalty(const mmc_decode_opts *o, int len) {
    if (o->length_penalty == 0.0f) return 1.0;
    if (o->lp_kind == MMC_LP_POWER) return pow((double)(len > 1 ? len : 1), o->length_penalty);
    return pow((5.0 + len) / 6.0, o->length_penalty);
}

static int check_opts(const mmc_decode_opts *o, int beam, mmc_error *err) {
    if (!o) return mmc_error_set(err, MMC_ERR_USAGE, "decode: options are NULL");
    if (o->vocab_size < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: vocab_size must be >= 1, not %d", o->vocab_size);
    if (o->end_id < 0 || o->end_id >= o->vocab_size || o->start_id < 0)
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: start_id %d / end_id %d do not fit vocab_size %d",
                             (int)o->start_id, (int)o->end_id, o->vocab_size);
    if (o->max_len < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: max_len must be >= 1, not %d", o->max_len);
    if (beam < 1 || beam > 4096)
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: beam width must be in 1..4096, not %d", beam);
    if ((size_t)beam * (size_t)o->vocab_size > (size_t)1 << 31)
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: beam %d x vocab %d is too large", beam, o->vocab_size);
    if (o->lp_kind != MMC_LP_GNMT && o->lp_kind != MMC_LP_POWER)
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: unknown length penalty kind %d", o->lp_kind);
    if (!isfinite(o->length_penalty))
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: length_penalty is not finite");
    if (o->no_repeat_ngram < 0)
        return mmc_error_set(err, MMC_ERR_USAGE, "decode: no_repeat_ngram must be >= 0, not %d", o->no_repeat_ngram);
    return MMC_OK;
}

/* Calls the model; a failure keeps the callback's message, or says which step failed. */
static int call_step(mmc_decode_step_fn step, void *user, const int *parents, const int32_t *last,
                     int n, float *lp, int V, int t, mmc_error *err) {
    mmc_error e;
    mmc_error_clear(&e);
    int rc = step(user, parents, last, n, lp, &e);
    if (rc != MMC_OK) {
        if (e.code != MMC_OK) {
            if (err) *err = e;
        } else {
            mmc_error_set(err, rc, "decode: the step callback failed (status %d) at step %d", rc, t);
        }
        return rc;
    }
    /* NaN would make every comparison false and the search silently arbitrary. */
    for (size_t i = 0; i < (size_t)n * V; i++)
        if (isnan(lp[i]) || lp[i] == INFINITY)
            return mmc_error_set(err, MMC_ERR_RUNTIME, "decode: step %d returned %s for beam %d, token %d",
                                 t, isnan(lp[i]) ? "NaN" : "+inf", (int)(i / V), (int)(i % V));
    return MMC_OK;
}

/* n-gram blocking: -inf for every token that would complete an n-gram already in seq. */
static void block_ngrams(float *row, const int32_t *seq, int len, int n, int V) {
    if (n < 1 || len < n - 1) return;
    const int32_t *prefix = seq + len - (n - 1);
    for (int i = 0; i + n - 1 < len; i++) { /* n-gram seq[i .. i+n) is complete */
        if (memcmp(seq + i, prefix, (size_t)(n - 1) * sizeof *seq) == 0) {
            int32_t tok = seq[i + n - 1];
            if (tok >= 0 && tok < V) row[tok] = -INFINITY;
        }
    }
}

static int alloc_result(mmc_decode_result *r, int n, int max_len) {
    memset(r, 0, sizeof *r);
    r->max_len = max_len;
    r->tokens = mmc_calloc((size_t)n * max_len, sizeof *r->tokens);
    r->lengths = mmc_calloc(n, sizeof *r->lengths);
    r->ended = mmc_calloc(n, sizeof *r->ended);
    r->scores = mmc_calloc(n, sizeof *r->scores);
    r->logprobs = mmc_calloc(n, sizeof *r->logprobs);
    if (r->tokens && r->lengths && r->ended && r->scores && r->logprobs) return 1;
    mmc_decode_result_free(r);
    return 0;
}

int mmc_decode_greedy(mmc_decode_step_fn step, void *user, const mmc_decode_opts *o,
                      mmc_decode_result *out, mmc_error *err) {
    if (!out) return mmc_error_set(err, MMC_ERR_USAGE, "decode: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_opts(o, 1, err);
    if (rc) return rc;
    if (!step) return mmc_error_set(err, MMC_ERR_USAGE, "decode: step callback is NULL");
    const int V = o->vocab_size;
    float *lp = mmc_malloc((size_t)V * sizeof *lp);
    if (!lp || !alloc_result(out, 1, o->max_len)) {
        mmc_free(lp);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "decode: out of memory");
    }
    out->n = 1;
    int32_t *seq = out->tokens;
    int parent = 0, len = 0, ended = 0;
    int32_t last = o->start_id;
    double logprob = 0.0;
    for (int t = 0; t < o->max_len; t++) {
        rc = call_step(step, user, &parent, &last, 1, lp, V, t, err);
        if (rc) goto fail;
        block_ngrams(lp, seq, len, o->no_repeat_ngram, V);
        int best = -1;
        for (int v = 0; v < V; v++) /* strict >: the lowest id wins a tie */
            if (lp[v] > -INFINITY && (best < 0 || lp[v] > lp[best])) best = v;
        if (best < 0) break; /* nothing allowed: stop here, unfinished */
        logprob += (double)lp[best];
        if (best == o->end_id) {
            ended = 1;
            break;
        }
        seq[len++] = best;
        last = best;
    }
    out->lengths[0] = len;
    out->ended[0] = ended;
    out->logprobs[0] = logprob;
    out->scores[0] = logprob / length_penalty(o, len + ended);
    mmc_free(lp);
    return MMC_OK;
fail:
    mmc_free(lp);
    mmc_decode_result_free(out);
    return rc;
}

/* ---------------------------------------------------------------- beam search */

typedef struct {
    double logprob;
    int beam;
    int32_t tok;
} cand;

/* a ranks before b: higher log-prob, then lower beam, then lower token */
static int cand_before(const cand *a, const cand *b) {
    if (a->logprob != b->logprob) return a->logprob > b->logprob;
    if (a->beam != b->beam) return a->beam < b->beam;
    return a->tok < b->tok;
}

/* Finished hypotheses: at most K, sorted by score (ties: the earlier stays first). */
typedef struct {
    int n, cap, max_len;
    int32_t *tokens; /* cap x max_len */
    int *lengths, *ended;
    double *scores, *logprobs;
} pool;

static void pool_add(pool *p, const int32_t *seq, int len, int ended, double logprob, double score) {
    if (p->n == p->cap && !(score > p->scores[p->n - 1])) return; /* not better than the worst */
    int at = p->n < p->cap ? p->n : p->cap - 1; /* the slot to fill: a free one, or the worst */
    while (at > 0 && score > p->scores[at - 1]) { /* shift worse ones down */
        memcpy(p->tokens + (size_t)at * p->max_len, p->tokens + (size_t)(at - 1) * p->max_len,
               (size_t)p->max_len * sizeof *p->tokens);
        p->lengths[at] = p->lengths[at - 1];
        p->ended[at] = p->ended[at - 1];
        p->scores[at] = p->scores[at - 1];
        p->logprobs[at] = p->logprobs[at - 1];
        at--;
    }
    int32_t *row = p->tokens + (size_t)at * p->max_len;
    memcpy(row, seq, (size_t)len * sizeof *seq);
    memset(row + len, 0, (size_t)(p->max_len - len) * sizeof *row); /* no stale tokens past len */
    p->lengths[at] = len;
    p->ended[at] = ended;
    p->scores[at] = score;
    p->logprobs[at] = logprob;
    if (p->n < p->cap) p->n++;
}

int mmc_decode_beam(mmc_decode_step_fn step, void *user, const mmc_decode_opts *o,
                    mmc_decode_result *out, mmc_error *err) {
    if (!out) return mmc_error_set(err, MMC_ERR_USAGE, "decode: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = check_opts(o, o ? o->beam : 0, err);
    if (rc) return rc;
    if (!step) return mmc_error_set(err, MMC_ERR_USAGE, "decode: step callback is NULL");
    const int V = o->vocab_size, K = o->beam, L = o->max_len, C = 2 * K;

    /* live beams, double-buffered: tokens (K x L), log-probs */
    float *lp = mmc_malloc((size_t)K * V * sizeof *lp);
    int32_t *tok_a = mmc_malloc((size_t)K * L * sizeof *tok_a);
    int32_t *tok_b = mmc_malloc((size_t)K * L * sizeof *tok_b);
    double *lpsum_a = mmc_malloc((size_t)K * sizeof *lpsum_a);
    double *lpsum_b = mmc_malloc((size_t)K * sizeof *lpsum_b);
    int *parents = mmc_malloc((size_t)K * sizeof *parents);
    int32_t *last = mmc_malloc((size_t)K * sizeof *last);
    cand *cands = mmc_malloc((size_t)C * sizeof *cands);
    if (!lp || !tok_a || !tok_b || !lpsum_a || !lpsum_b || !parents || !last || !cands ||
        !alloc_result(out, K, L)) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "decode: out of memory (beam %d, vocab %d)", K, V);
        goto done;
    }
    pool fin = {0, K, L, out->tokens, out->lengths, out->ended, out->scores, out->logprobs};

    int n_live = 1, len = 0; /* every live beam has the same length: the step count */
    parents[0] = 0;
    last[0] = o->start_id;
    lpsum_a[0] = 0.0;
    for (int t = 0; t < L; t++) {
        rc = call_step(step, user, parents, last, n_live, lp, V, t, err);
        if (rc) goto done;

        /* the C best extensions, by summed log-prob (impossible ones left out) */
        int nc = 0;
        for (int b = 0; b < n_live; b++) {
            float *row = lp + (size_t)b * V;
            block_ngrams(row, tok_a + (size_t)b * L, len, o->no_repeat_ngram, V);
            for (int v = 0; v < V; v++) {
                if (row[v] == -INFINITY) continue;
                cand c = {lpsum_a[b] + (double)row[v], b, v};
                if (nc == C && !cand_before(&c, &cands[C - 1])) continue;
                int at = nc < C ? nc++ : C - 1;
                while (at > 0 && cand_before(&c, &cands[at - 1])) {
                    cands[at] = cands[at - 1];
                    at--;
                }
                cands[at] = c;
            }
        }
        if (nc == 0) { /* no beam can go on: they stop here, unfinished */
            for (int b = 0; b < n_live; b++)
                pool_add(&fin, tok_a + (size_t)b * L, len, 0, lpsum_a[b], lpsum_a[b] / length_penalty(o, len));
            n_live = 0;
            break;
        }

        /* Walk them best first. An end token ranked within the first K finishes a
         * hypothesis (set aside); any other token continues a beam until K are live.
         * With C = 2K the list holds at least K non-end tokens whenever K exist, since each
         * beam contributes at most one end token. */
        int n_next = 0;
        for (int r = 0; r < nc; r++) {
            const cand *c = &cands[r];
            const int32_t *seq = tok_a + (size_t)c->beam * L;
            if (c->tok == o->end_id) {
                if (r < K) pool_add(&fin, seq, len, 1, c->logprob, c->logprob / length_penalty(o, len + 1));
                continue;
            }
            if (n_next == K) continue;
            int32_t *dst = tok_b + (size_t)n_next * L;
            memcpy(dst, seq, (size_t)len * sizeof *seq);
            dst[len] = c->tok;
            lpsum_b[n_next] = c->logprob;
            parents[n_next] = c->beam;
            last[n_next] = c->tok;
            n_next++;
        }
        int32_t *ts = tok_a;
        tok_a = tok_b, tok_b = ts;
        double *ds = lpsum_a;
        lpsum_a = lpsum_b, lpsum_b = ds;
        n_live = n_next;
        len++;
        if (n_live == 0) break;
        if (len == L) { /* out of room: the live beams finish as they are */
            for (int b = 0; b < n_live; b++)
                pool_add(&fin, tok_a + (size_t)b * L, len, 0, lpsum_a[b], lpsum_a[b] / length_penalty(o, len));
            n_live = 0;
            break;
        }
        /* Stop when no live beam can still enter the K best. Its log-prob can only fall
         * (log-probs <= 0), and its final length is len+1 .. L; the score is monotone in lp,
         * so its best reachable score is at one end of that range. */
        if (fin.n == K) {
            double lo = length_penalty(o, len + 1), hi = length_penalty(o, L), bound = -INFINITY;
            for (int b = 0; b < n_live; b++) {
                double s1 = lpsum_a[b] / lo, s2 = lpsum_a[b] / hi;
                double best = s1 > s2 ? s1 : s2;
                if (best > bound) bound = best;
            }
            if (fin.scores[K - 1] >= bound) break;
        }
    }
    out->n = fin.n;
    rc = MMC_OK;
done:
    if (rc) mmc_decode_result_free(out);
    mmc_free(lp);
    mmc_free(tok_a);
    mmc_free(tok_b);
    mmc_free(lpsum_a);
    mmc_free(lpsum_b);
    mmc_free(parents);
    mmc_free(last);
    mmc_free(cands);
    return rc;
}

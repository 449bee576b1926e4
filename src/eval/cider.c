/*
 * cider.c — CIDEr-D (Vedantam et al. 2015) over token ids, with coco-caption's conventions
 * (pycocoevalcap's CiderScorer, the "CIDEr" column of every captioning paper):
 *
 *   - n-grams of orders 1..4; a sentence becomes one vector per order whose entry for an
 *     n-gram g is tf(g) * idf(g): tf is the raw count in the sentence (not divided by the
 *     sentence length), idf(g) = log(N) - log(max(1, df(g))), N the number of items scored
 *     together and df(g) the number of items with g in at least one of their references.
 *     An n-gram no reference has gets df 1 in the log, so the full log(N).
 *   - per order and reference: sum over the hypothesis's n-grams of min(h_g, r_g) * r_g,
 *     over |h| |r| (the "-D" clipping: repeating a good n-gram does not pay), times the
 *     Gaussian length penalty exp(-(l_h - l_r)^2 / 72) (sigma 6). coco-caption's l is the
 *     number of bigrams of a sentence (its counter sits on order 2), so we count the same.
 *   - item score = 10 * mean over the 4 orders of (sum over references) / n_refs; the
 *     corpus score is the mean over items.
 * Where a norm is 0 (e.g. a one-word hypothesis has no bigram) that order contributes 0,
 * as in the later coco-caption (ciderD) scorer, instead of the division by zero.
 */
#include "ngram.h"
#include <math.h>
#include <string.h>

#define CIDER_SIGMA 6.0

typedef struct {
    double norm[MMC_NGRAM_MAX];
    int64_t length; /* number of bigrams */
} sent_info;

/* For every entry of T (a = count, from mmc_ngram_count): v = tf * idf, the norm per
 * order, and the bigram count. */
static void weigh(mmc_ngram_table *T, mmc_ngram_table *DF, double log_n, sent_info *s) {
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < T->count; i++) {
        mmc_ngram_entry *e = mmc_ngram_at(T, i);
        const mmc_ngram_entry *d = mmc_ngram_find(DF, e->tok, e->order, 0);
        double df = d ? (double)d->a : 0.0;
        e->v = (double)e->a * (log_n - log(df > 1.0 ? df : 1.0));
        s->norm[e->order - 1] += e->v * e->v;
        if (e->order == 2) s->length += e->a;
    }
    for (int k = 0; k < MMC_NGRAM_MAX; k++) s->norm[k] = sqrt(s->norm[k]);
}

/* Document frequencies: for each item, the set of n-grams over all its references. */
static int doc_freq(const mmc_caption_item *items, int n, mmc_ngram_table *DF, mmc_ngram_table *S,
                    mmc_error *err) {
    for (int i = 0; i < n; i++) {
        mmc_ngram_table_clear(S);
        for (int r = 0; r < items[i].n_refs; r++)
            if (mmc_ngram_count(S, items[i].refs[r].ids, items[i].refs[r].n, MMC_NGRAM_MAX, err))
                return MMC_ERR_RUNTIME;
        for (size_t j = 0; j < S->count; j++) {
            const mmc_ngram_entry *e = mmc_ngram_at(S, j);
            mmc_ngram_entry *d = mmc_ngram_find(DF, e->tok, e->order, 1);
            if (!d) return mmc_error_set(err, MMC_ERR_RUNTIME, "cider: out of memory");
            d->a++;
        }
    }
    return MMC_OK;
}

static int score_item(const mmc_caption_item *it, mmc_ngram_table *DF, mmc_ngram_table *H,
                      mmc_ngram_table *R, double log_n, double *score, mmc_error *err) {
    mmc_ngram_table_clear(H);
    if (mmc_ngram_count(H, it->hyp.ids, it->hyp.n, MMC_NGRAM_MAX, err)) return MMC_ERR_RUNTIME;
    sent_info hs, rs;
    weigh(H, DF, log_n, &hs);
    double sum[MMC_NGRAM_MAX] = {0};
    for (int r = 0; r < it->n_refs; r++) {
        mmc_ngram_table_clear(R);
        if (mmc_ngram_count(R, it->refs[r].ids, it->refs[r].n, MMC_NGRAM_MAX, err)) return MMC_ERR_RUNTIME;
        weigh(R, DF, log_n, &rs);
        double val[MMC_NGRAM_MAX] = {0};
        for (size_t i = 0; i < H->count; i++) {
            const mmc_ngram_entry *h = mmc_ngram_at(H, i);
            const mmc_ngram_entry *g = mmc_ngram_find(R, h->tok, h->order, 0);
            if (g) val[h->order - 1] += (h->v < g->v ? h->v : g->v) * g->v;
        }
        double delta = (double)(hs.length - rs.length);
        double penalty = exp(-(delta * delta) / (2.0 * CIDER_SIGMA * CIDER_SIGMA));
        for (int k = 0; k < MMC_NGRAM_MAX; k++) {
            double den = hs.norm[k] * rs.norm[k];
            sum[k] += (den != 0.0 ? val[k] / den : 0.0) * penalty;
        }
    }
    double mean = 0.0;
    for (int k = 0; k < MMC_NGRAM_MAX; k++) mean += sum[k];
    mean /= MMC_NGRAM_MAX;
    *score = 10.0 * mean / it->n_refs;
    return MMC_OK;
}

int mmc_cider_d(const mmc_caption_item *items, int n, double *mean, double *per_item, mmc_error *err) {
    int rc = mmc_caption_items_check(items, n, "cider", err);
    if (rc) return rc;
    if (!mean) return mmc_error_set(err, MMC_ERR_USAGE, "cider: mean is NULL");
    mmc_ngram_table DF, H, R;
    memset(&DF, 0, sizeof DF), memset(&H, 0, sizeof H), memset(&R, 0, sizeof R);
    if (mmc_ngram_table_init(&DF) || mmc_ngram_table_init(&H) || mmc_ngram_table_init(&R)) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "cider: out of memory");
        goto done;
    }
    rc = doc_freq(items, n, &DF, &H, err); /* H doubles as the per-item set here */
    if (rc) goto done;
    const double log_n = log((double)n);
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        double s;
        rc = score_item(&items[i], &DF, &H, &R, log_n, &s, err);
        if (rc) goto done;
        if (per_item) per_item[i] = s;
        total += s;
    }
    *mean = total / n;
done:
    mmc_ngram_table_free(&DF);
    mmc_ngram_table_free(&H);
    mmc_ngram_table_free(&R);
    return rc;
}

/*
 * bleu.c — BLEU-1..4 over token ids (Papineni et al. 2002), corpus and sentence level.
 *
 * Conventions are coco-caption's Bleu scorer and NLTK's corpus_bleu (they agree where it
 * matters): statistics are summed over the corpus before the ratios are taken, so one
 * short caption does not dominate; the reference length of a hypothesis is the one closest
 * to its length, the shorter on a tie. Where they differ — a precision with no match —
 * we follow NLTK and give exactly 0, where coco-caption's epsilons give a tiny number.
 */
#include "ngram.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adds one item's statistics into out (matched, total, hyp_len, ref_len). H and R are
 * scratch tables. */
static int add_item(const mmc_caption_item *it, mmc_ngram_table *H, mmc_ngram_table *R,
                    mmc_bleu_result *out, mmc_error *err) {
    const int c = it->hyp.n;
    mmc_ngram_table_clear(H);
    /* H: a = count in the hypothesis, b = largest count in any single reference. */
    if (mmc_ngram_count(H, it->hyp.ids, c, MMC_NGRAM_MAX, err)) return err ? err->code : MMC_ERR_RUNTIME;
    int best_len = -1;
    for (int r = 0; r < it->n_refs; r++) {
        const mmc_token_seq *ref = &it->refs[r];
        /* closest length; on a tie the shorter reference */
        int d = abs(ref->n - c), bd = best_len < 0 ? 0 : abs(best_len - c);
        if (best_len < 0 || d < bd || (d == bd && ref->n < best_len)) best_len = ref->n;
        mmc_ngram_table_clear(R);
        if (mmc_ngram_count(R, ref->ids, ref->n, MMC_NGRAM_MAX, err)) return err ? err->code : MMC_ERR_RUNTIME;
        for (size_t i = 0; i < R->count; i++) {
            const mmc_ngram_entry *e = mmc_ngram_at(R, i);
            mmc_ngram_entry *h = mmc_ngram_find(H, e->tok, e->order, 0);
            if (h && e->a > h->b) h->b = e->a;
        }
    }
    /* Clipping: an n-gram matches at most as often as one reference holds it, so "the the
     * the" cannot collect credit from a single "the". */
    for (size_t i = 0; i < H->count; i++) {
        const mmc_ngram_entry *h = mmc_ngram_at(H, i);
        out->matched[h->order - 1] += h->a < h->b ? h->a : h->b;
    }
    for (int k = 0; k < MMC_NGRAM_MAX; k++) out->total[k] += c > k ? c - k : 0;
    out->hyp_len += c;
    out->ref_len += best_len;
    return MMC_OK;
}

/* Precisions, brevity penalty and BLEU-1..4 from summed statistics. */
static void finish(mmc_bleu_result *out, int smooth) {
    const double c = (double)out->hyp_len, r = (double)out->ref_len;
    /* No hypothesis token at all: nothing was said, the penalty is total (NLTK's rule). */
    out->brevity_penalty = c >= r ? 1.0 : (c > 0 ? exp(1.0 - r / c) : 0.0);
    double log_sum = 0.0;
    int zero = 0;
    for (int k = 0; k < MMC_NGRAM_MAX; k++) {
        double m = (double)out->matched[k], t = (double)out->total[k];
        if (smooth && k > 0) m += 1.0, t += 1.0;
        double p = t > 0 ? m / t : 0.0;
        out->precision[k] = p;
        /* geometric mean of p_1..p_n; a zero factor makes it (and every higher order) 0 */
        if (p <= 0) zero = 1;
        else log_sum += log(p);
        out->bleu[k] = zero ? 0.0 : out->brevity_penalty * exp(log_sum / (k + 1));
    }
}

static int run(const mmc_caption_item *items, int n, int smooth, mmc_bleu_result *out, mmc_error *err) {
    memset(out, 0, sizeof *out);
    mmc_ngram_table H, R;
    if (mmc_ngram_table_init(&H)) return mmc_error_set(err, MMC_ERR_RUNTIME, "bleu: out of memory");
    if (mmc_ngram_table_init(&R)) {
        mmc_ngram_table_free(&H);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "bleu: out of memory");
    }
    int rc = MMC_OK;
    for (int i = 0; i < n && rc == MMC_OK; i++) rc = add_item(&items[i], &H, &R, out, err);
    mmc_ngram_table_free(&H);
    mmc_ngram_table_free(&R);
    if (rc == MMC_OK) finish(out, smooth);
    return rc;
}

int mmc_bleu_corpus(const mmc_caption_item *items, int n, mmc_bleu_result *out, mmc_error *err) {
    int rc = mmc_caption_items_check(items, n, "bleu", err);
    if (rc) return rc;
    return run(items, n, 0, out, err);
}

int mmc_bleu_sentence(const mmc_caption_item *item, int smooth, mmc_bleu_result *out, mmc_error *err) {
    int rc = mmc_caption_items_check(item, 1, "bleu", err);
    if (rc) return rc;
    if (smooth != 0 && smooth != 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "bleu: smoothing must be 0 or 1, not %d", smooth);
    return run(item, 1, smooth, out, err);
}

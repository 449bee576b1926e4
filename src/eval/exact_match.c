/* exact_match.c — the share of hypotheses that equal one of their references exactly. */
#include "ngram.h"
#include <string.h>

int mmc_exact_match(const mmc_caption_item *items, int n, double *rate, mmc_error *err) {
    int rc = mmc_caption_items_check(items, n, "exact_match", err);
    if (rc) return rc;
    if (!rate) return mmc_error_set(err, MMC_ERR_USAGE, "exact_match: rate is NULL");
    int hits = 0;
    for (int i = 0; i < n; i++) {
        const mmc_token_seq *h = &items[i].hyp;
        for (int r = 0; r < items[i].n_refs; r++) {
            const mmc_token_seq *ref = &items[i].refs[r];
            if (ref->n == h->n && (h->n == 0 || memcmp(ref->ids, h->ids, (size_t)h->n * sizeof *h->ids) == 0)) {
                hits++;
                break;
            }
        }
    }
    *rate = (double)hits / n;
    return MMC_OK;
}

/*
 * ngram.h — counting n-grams of token ids (orders 1..4), shared by BLEU and CIDEr-D.
 * Not installed; not part of the public API.
 *
 * An open-addressing hash table keyed by (order, up to 4 ids). Each entry carries two
 * integer counters and a double, whose meaning is the caller's (BLEU: hypothesis count and
 * best reference count; CIDEr-D: document frequency, or a count and its tf-idf weight).
 * Entries are also listed in insertion order, so a table is walked and cleared in time
 * proportional to what it holds, not to its capacity: sentences are short, and one table
 * is reused for every sentence of a corpus.
 */
#ifndef MMC_EVAL_NGRAM_H
#define MMC_EVAL_NGRAM_H

#include "mmc/eval.h"

#define MMC_NGRAM_MAX 4

typedef struct mmc_ngram_entry {
    int32_t tok[MMC_NGRAM_MAX]; /* unused positions are 0 */
    int order;                  /* 1..4 */
    int64_t a, b;
    double v;
} mmc_ngram_entry;

typedef struct mmc_ngram_table {
    mmc_ngram_entry *slots;
    int64_t *slot_of; /* slot_of[i]: slot of the i-th entry inserted */
    uint8_t *used;
    size_t cap, count;
} mmc_ngram_table;

int mmc_ngram_table_init(mmc_ngram_table *t);
void mmc_ngram_table_free(mmc_ngram_table *t);
void mmc_ngram_table_clear(mmc_ngram_table *t);
/* The entry for ids[0..order); created zeroed if absent and create is set. NULL when
 * absent (create = 0) or out of memory (create = 1). The pointer is valid until the next
 * insertion. */
mmc_ngram_entry *mmc_ngram_find(mmc_ngram_table *t, const int32_t *ids, int order, int create);
/* The i-th entry inserted (0 <= i < count). */
static inline mmc_ngram_entry *mmc_ngram_at(mmc_ngram_table *t, size_t i) {
    return &t->slots[t->slot_of[i]];
}
/* Adds 1 to field a of every n-gram of seq with order 1..max_order. MMC_OK or
 * MMC_ERR_RUNTIME (out of memory, err filled). */
int mmc_ngram_count(mmc_ngram_table *t, const int32_t *ids, int n, int max_order, mmc_error *err);
/* Checks items[0..n) (n >= 1, every item with >= 1 reference, no negative lengths, no
 * NULL ids under a positive length); fn names the caller in the message. */
int mmc_caption_items_check(const mmc_caption_item *items, int n, const char *fn, mmc_error *err);

#endif

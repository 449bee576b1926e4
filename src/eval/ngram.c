/* ngram.c — the n-gram count table behind BLEU and CIDEr-D (see ngram.h). */
#include "ngram.h"
#include <string.h>

static uint64_t mix(uint64_t h) { /* splitmix64's finaliser: every input bit moves every output bit */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static uint64_t hash_key(const int32_t *ids, int order) {
    uint64_t h = (uint64_t)order;
    for (int i = 0; i < order; i++) h = mix(h ^ ((uint64_t)(uint32_t)ids[i] + 0x9e3779b97f4a7c15ULL * (i + 1)));
    return h;
}

static int same_key(const mmc_ngram_entry *e, const int32_t *ids, int order) {
    if (e->order != order) return 0;
    for (int i = 0; i < order; i++)
        if (e->tok[i] != ids[i]) return 0;
    return 1;
}

static int alloc_cap(mmc_ngram_table *t, size_t cap) {
    t->slots = mmc_malloc(cap * sizeof *t->slots);
    t->used = mmc_calloc(cap, 1);
    /* at most half the slots are ever occupied (see grow) */
    t->slot_of = mmc_malloc((cap / 2 + 1) * sizeof *t->slot_of);
    if (!t->slots || !t->used || !t->slot_of) {
        mmc_free(t->slots);
        mmc_free(t->used);
        mmc_free(t->slot_of);
        t->slots = NULL, t->used = NULL, t->slot_of = NULL;
        return 0;
    }
    t->cap = cap;
    t->count = 0;
    return 1;
}

int mmc_ngram_table_init(mmc_ngram_table *t) {
    memset(t, 0, sizeof *t);
    return alloc_cap(t, 256) ? MMC_OK : MMC_ERR_RUNTIME;
}

void mmc_ngram_table_free(mmc_ngram_table *t) {
    mmc_free(t->slots);
    mmc_free(t->used);
    mmc_free(t->slot_of);
    memset(t, 0, sizeof *t);
}

void mmc_ngram_table_clear(mmc_ngram_table *t) {
    for (size_t i = 0; i < t->count; i++) t->used[t->slot_of[i]] = 0;
    t->count = 0;
}

static size_t probe(const mmc_ngram_table *t, const int32_t *ids, int order) {
    size_t mask = t->cap - 1, s = (size_t)hash_key(ids, order) & mask;
    while (t->used[s] && !same_key(&t->slots[s], ids, order)) s = (s + 1) & mask;
    return s;
}

/* Doubles the capacity, re-inserting entries in their insertion order (kept). */
static int grow(mmc_ngram_table *t) {
    mmc_ngram_table old = *t;
    if (!alloc_cap(t, old.cap * 2)) {
        *t = old;
        return 0;
    }
    for (size_t i = 0; i < old.count; i++) {
        const mmc_ngram_entry *e = &old.slots[old.slot_of[i]];
        size_t s = probe(t, e->tok, e->order);
        t->slots[s] = *e;
        t->used[s] = 1;
        t->slot_of[t->count++] = (int64_t)s;
    }
    mmc_free(old.slots);
    mmc_free(old.used);
    mmc_free(old.slot_of);
    return 1;
}

mmc_ngram_entry *mmc_ngram_find(mmc_ngram_table *t, const int32_t *ids, int order, int create) {
    size_t s = probe(t, ids, order);
    if (t->used[s]) return &t->slots[s];
    if (!create) return NULL;
    if (2 * (t->count + 1) > t->cap) { /* keep the load at most 1/2: short probe runs */
        if (!grow(t)) return NULL;
        s = probe(t, ids, order);
    }
    mmc_ngram_entry *e = &t->slots[s];
    memset(e, 0, sizeof *e);
    memcpy(e->tok, ids, (size_t)order * sizeof *ids);
    e->order = order;
    t->used[s] = 1;
    t->slot_of[t->count++] = (int64_t)s;
    return e;
}

int mmc_ngram_count(mmc_ngram_table *t, const int32_t *ids, int n, int max_order, mmc_error *err) {
    for (int k = 1; k <= max_order; k++)
        for (int i = 0; i + k <= n; i++) {
            mmc_ngram_entry *e = mmc_ngram_find(t, ids + i, k, 1);
            if (!e) return mmc_error_set(err, MMC_ERR_RUNTIME, "n-gram table: out of memory");
            e->a++;
        }
    return MMC_OK;
}

static int seq_ok(const mmc_token_seq *s) { return s->n >= 0 && (s->n == 0 || s->ids); }

int mmc_caption_items_check(const mmc_caption_item *items, int n, const char *fn, mmc_error *err) {
    if (n < 1 || !items)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: no captions to score (n = %d)", fn, n);
    for (int i = 0; i < n; i++) {
        const mmc_caption_item *it = &items[i];
        if (it->n_refs < 1 || !it->refs)
            return mmc_error_set(err, MMC_ERR_USAGE, "%s: item %d has no references (n_refs = %d)",
                                 fn, i, it->n_refs);
        if (!seq_ok(&it->hyp))
            return mmc_error_set(err, MMC_ERR_USAGE, "%s: item %d: bad hypothesis (n = %d, ids %s)",
                                 fn, i, it->hyp.n, it->hyp.ids ? "set" : "NULL");
        for (int r = 0; r < it->n_refs; r++)
            if (!seq_ok(&it->refs[r]))
                return mmc_error_set(err, MMC_ERR_USAGE, "%s: item %d reference %d: bad sequence (n = %d)",
                                     fn, i, r, it->refs[r].n);
    }
    return MMC_OK;
}

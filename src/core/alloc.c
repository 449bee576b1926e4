/* alloc.c — counted heap allocation and the step arena.
 *
 * The arena is a list of chunks. Allocation bumps a pointer in the current chunk and
 * opens a new chunk when it is full. reset() rewinds; if the last step needed more than
 * one chunk, the chunks are replaced by a single chunk of the combined size, so from the
 * second identical step on the arena never calls malloc. */
#include "internal.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t g_alloc_count;

void *mmc_malloc(size_t n) {
    atomic_fetch_add(&g_alloc_count, 1);
    return malloc(n ? n : 1);
}
void *mmc_calloc(size_t count, size_t size) {
    atomic_fetch_add(&g_alloc_count, 1);
    return calloc(count ? count : 1, size ? size : 1);
}
void *mmc_realloc(void *p, size_t n) {
    atomic_fetch_add(&g_alloc_count, 1);
    return realloc(p, n ? n : 1);
}
void *mmc_aligned_malloc(size_t align, size_t n) {
    atomic_fetch_add(&g_alloc_count, 1);
    return aligned_alloc(align, (n + align - 1) / align * align + align * (n == 0));
}
void mmc_free(void *p) { free(p); }
uint64_t mmc_alloc_count(void) { return atomic_load(&g_alloc_count); }

#define ARENA_ALIGN 64

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    unsigned char *mem; /* ARENA_ALIGN-aligned */
} chunk;

struct mmc_arena {
    chunk *head;      /* current chunk (most recent first) */
    size_t used;      /* bytes handed out since reset (sum over chunks) */
    size_t peak;
    size_t total_cap;
    int nchunks;
};

static chunk *chunk_new(size_t cap) {
    chunk *c = mmc_malloc(sizeof *c);
    if (!c) return NULL;
    c->mem = aligned_alloc(ARENA_ALIGN, (cap + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN);
    atomic_fetch_add(&g_alloc_count, 1);
    if (!c->mem) { free(c); return NULL; }
    c->cap = cap;
    c->used = 0;
    c->next = NULL;
    return c;
}

mmc_arena *mmc_arena_new(size_t initial_bytes) {
    mmc_arena *a = mmc_calloc(1, sizeof *a);
    if (!a) return NULL;
    if (initial_bytes < (1u << 20)) initial_bytes = 1u << 20;
    a->head = chunk_new(initial_bytes);
    if (!a->head) { free(a); return NULL; }
    a->total_cap = initial_bytes;
    a->nchunks = 1;
    return a;
}

void mmc_arena_free(mmc_arena *a) {
    if (!a) return;
    for (chunk *c = a->head; c;) {
        chunk *n = c->next;
        free(c->mem);
        free(c);
        c = n;
    }
    free(a);
}

void *mmc_arena_alloc(mmc_arena *a, size_t bytes) {
    if (!a) return NULL;
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (need < bytes) return NULL; /* overflow */
    if (need == 0) need = ARENA_ALIGN;
    chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = c && c->cap * 2 > need ? c->cap * 2 : need;
        if (cap < (1u << 20)) cap = 1u << 20;
        chunk *n = chunk_new(cap);
        if (!n) return NULL;
        n->next = c;
        a->head = n;
        a->total_cap += cap;
        a->nchunks++;
        c = n;
    }
    void *p = c->mem + c->used;
    c->used += need;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void mmc_arena_reset(mmc_arena *a) {
    if (!a) return;
    if (a->nchunks > 1) {
        /* Coalesce: one chunk as large as everything this step used (with slack). */
        size_t want = a->total_cap;
        for (chunk *c = a->head; c;) {
            chunk *n = c->next;
            free(c->mem);
            free(c);
            c = n;
        }
        a->head = chunk_new(want);
        a->nchunks = 1;
        a->total_cap = a->head ? want : 0;
        if (!a->head) { /* keep the arena usable: fall back to a small chunk */
            a->head = chunk_new(1u << 20);
            a->total_cap = a->head ? (1u << 20) : 0;
        }
    }
    if (a->head) a->head->used = 0;
    a->used = 0;
}

size_t mmc_arena_used(const mmc_arena *a) { return a ? a->used : 0; }
size_t mmc_arena_peak(const mmc_arena *a) { return a ? a->peak : 0; }
size_t mmc_arena_capacity(const mmc_arena *a) { return a ? a->total_cap : 0; }

/* alloc.c — counted heap allocation and the step arena.
 *
 * The arena is a list of chunks, in the order they were opened. Allocation bumps a pointer
 * in the current chunk and moves on to the next chunk when it is full, opening a new one
 * (twice the last, or the request) only past the last. reset() rewinds to the first chunk
 * and keeps them all: an identical step then makes the same allocations in the same chunks,
 * so from the second step on the arena never calls malloc — and the memory it hands out
 * has already been touched, where a fresh chunk would page-fault every page again (for a
 * training step of a few hundred MB, a few hundred ms per step at 4 KiB a fault).
 *
 * Recycling: a block that is dead before the reset (the gradient of an intermediate
 * result, once backward has passed the op that made it) can be handed back with
 * mmc_arena_recycle; mmc_arena_alloc_reuse then returns a recycled block of exactly the
 * requested (rounded) size before it bumps the pointer. The free blocks form a list
 * threaded through the blocks themselves, so recycling never allocates; reset() forgets
 * it. Layers of one shape repeat (a ResNet stage), so exact sizes match often enough that
 * backward's gradients take a few blocks instead of one per activation. */
#include "internal.h"
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

static _Atomic uint64_t g_alloc_count;

/* Large blocks (arena chunks, weights, optimizer state) ask Linux for transparent huge
 * pages where it gives them only on request (enabled = madvise): a ResNet step walks
 * hundreds of MB of activations and a CLIP forward every weight, and with 4 KiB pages the
 * strided reads of packing and transposing miss the TLB far more often. Only the 2 MiB-
 * aligned interior is advised; a failure changes nothing. */
static void advise_huge(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t H = (uintptr_t)2 << 20;
    if (!p || n < 2 * H) return;
    uintptr_t a = ((uintptr_t)p + H - 1) & ~(H - 1), e = ((uintptr_t)p + n) & ~(H - 1);
    if (e > a) madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

void *mmc_malloc(size_t n) {
    atomic_fetch_add(&g_alloc_count, 1);
    void *p = malloc(n ? n : 1);
    advise_huge(p, n);
    return p;
}
void *mmc_calloc(size_t count, size_t size) {
    atomic_fetch_add(&g_alloc_count, 1);
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (count && size && count <= SIZE_MAX / size) advise_huge(p, count * size);
    return p;
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

typedef struct free_block {
    struct free_block *next;
    size_t size; /* rounded, as the bump allocator would hand it out */
} free_block;

struct mmc_arena {
    free_block *free_list; /* recycled blocks, until the next reset */
    chunk *first;     /* chunks in the order they were opened */
    chunk *head;      /* the current chunk (allocation bumps here) */
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
    advise_huge(c->mem, cap);
    c->cap = cap;
    c->used = 0;
    c->next = NULL;
    return c;
}

mmc_arena *mmc_arena_new(size_t initial_bytes) {
    mmc_arena *a = mmc_calloc(1, sizeof *a);
    if (!a) return NULL;
    if (initial_bytes < (1u << 20)) initial_bytes = 1u << 20;
    a->first = a->head = chunk_new(initial_bytes);
    if (!a->head) { free(a); return NULL; }
    a->total_cap = initial_bytes;
    a->nchunks = 1;
    return a;
}

void mmc_arena_free(mmc_arena *a) {
    if (!a) return;
    for (chunk *c = a->first; c;) {
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
    while (c && c->cap - c->used < need && c->next) { /* the next chunk of an earlier step */
        c = c->next;
        c->used = 0;
    }
    if (!c || c->cap - c->used < need) {
        size_t cap = c && c->cap * 2 > need ? c->cap * 2 : need;
        if (cap < (1u << 20)) cap = 1u << 20;
        chunk *n = chunk_new(cap);
        if (!n) return NULL;
        if (c) c->next = n;
        else a->first = n;
        a->total_cap += cap;
        a->nchunks++;
        c = n;
    }
    a->head = c;
    void *p = c->mem + c->used;
    c->used += need;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void mmc_arena_reset(mmc_arena *a) {
    if (!a) return;
    a->head = a->first;
    if (a->head) a->head->used = 0; /* later chunks are rewound as allocation reaches them */
    a->used = 0;
    a->free_list = NULL;
}

/* The free list is kept in address order so that a block handed back next to a free
 * neighbour merges with it; a request takes the smallest free block that holds it (the rest
 * stays free), or, when the highest free block ends at the bump pointer of the current
 * chunk, grows that block by bumping only the difference. Backward walks from small to large
 * tensors (a network's last layers to its first), so merged blocks and the grown top are
 * what let a large gradient reuse the memory of several smaller dead ones. */
void mmc_arena_recycle(mmc_arena *a, void *p, size_t bytes) {
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (!a || !p || need < sizeof(free_block)) return;
    free_block *b = p, *prev = NULL, *next = a->free_list;
    while (next && (unsigned char *)next < (unsigned char *)b) prev = next, next = next->next;
    b->size = need;
    b->next = next;
    if (next && (unsigned char *)b + b->size == (unsigned char *)next) { /* merge with the next */
        b->size += next->size;
        b->next = next->next;
    }
    if (prev && (unsigned char *)prev + prev->size == (unsigned char *)b) { /* ... and the previous */
        prev->size += b->size;
        prev->next = b->next;
    } else if (prev) {
        prev->next = b;
    } else {
        a->free_list = b;
    }
}

void *mmc_arena_alloc_reuse(mmc_arena *a, size_t bytes) {
    if (!a) return NULL;
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (need == 0) need = ARENA_ALIGN;
    free_block **best = NULL, **last = NULL;
    for (free_block **pp = &a->free_list; *pp; pp = &(*pp)->next) {
        if ((*pp)->size >= need && (!best || (*pp)->size < (*best)->size)) best = pp;
        last = pp;
    }
    if (best) {
        free_block *b = *best;
        size_t rest = b->size - need;
        if (rest >= sizeof(free_block)) { /* keep the tail free, in the same place in the list */
            free_block *t = (free_block *)((unsigned char *)b + need);
            t->size = rest;
            t->next = b->next;
            *best = t;
        } else {
            *best = b->next;
        }
        return b;
    }
    chunk *c = a->head;
    if (last && c) { /* the highest free block at the top of the current chunk: grow it */
        free_block *b = *last;
        unsigned char *end = (unsigned char *)b + b->size;
        size_t more = need - b->size;
        if (end == c->mem + c->used && c->cap - c->used >= more) {
            *last = b->next;
            c->used += more;
            a->used += more;
            if (a->used > a->peak) a->peak = a->used;
            return b;
        }
    }
    return mmc_arena_alloc(a, bytes);
}

mmc_arena_pos mmc_arena_tell(const mmc_arena *a) {
    mmc_arena_pos p = {NULL, 0, 0};
    if (a && a->head) p.chunk = a->head, p.chunk_used = a->head->used, p.used = a->used;
    return p;
}

int mmc_arena_rewind(mmc_arena *a, mmc_arena_pos pos) {
    if (!a || !a->head || !pos.chunk) return 0;
    chunk *c = a->head;
    if (pos.chunk != (void *)c) {
        /* pos lies in an earlier chunk of this step (the step grew the arena since): the
         * chunks from there to the head hold only what was allocated after pos, so the head
         * moves back to pos's chunk; the later ones are reused as allocation reaches them
         * again (mmc_arena_alloc rewinds each it moves on to) */
        for (c = a->first; c && c != (chunk *)pos.chunk && c != a->head; c = c->next) {
        }
        if (c != (chunk *)pos.chunk) return 0; /* not a position of this step */
    }
    if (pos.chunk_used > c->used) return 0;
    a->head = c;
    c->used = pos.chunk_used;
    a->used = pos.used;
    a->free_list = NULL; /* some may lie above pos; the rest is a loss until the reset */
    return 1;
}

size_t mmc_arena_used(const mmc_arena *a) { return a ? a->used : 0; }
size_t mmc_arena_peak(const mmc_arena *a) { return a ? a->peak : 0; }
size_t mmc_arena_capacity(const mmc_arena *a) { return a ? a->total_cap : 0; }

/* loader_internal.h — what the two halves of the data loader share: loader.c runs the ring
 * of batch buffers and the worker threads; loader_sample.c turns one sample into its
 * slot of a batch (caption choice, tokens, decode or cache, augmentation, floats). */
#ifndef MMC_LOADER_INTERNAL_H
#define MMC_LOADER_INTERNAL_H

#include "internal.h"
#include "mmc/data.h"
#include <pthread.h>
#include <stdatomic.h>

/* One batch buffer of the ring. Workers fill it; the consumer reads it once complete. */
typedef struct ld_slot {
    int64_t g;            /* global batch it holds (epoch * nb + b); -1: none */
    int size;             /* samples in that batch */
    int claimed, done;    /* samples handed to workers / finished by them */
    int err_i;            /* position of the sample that failed first (-1: none) */
    mmc_error err;
    mmc_loader_batch batch;
    int *samples, *captions;
    int32_t *ids, *mask;
} ld_slot;

/* One sample to prepare: where it goes and what it is. */
typedef struct ld_item {
    ld_slot *slot;
    int i;          /* position in the batch */
    int sample;     /* index into the manifest */
    int64_t epoch;
    int64_t pos;    /* position in the epoch's order: names the sample's rng stream */
} ld_item;

typedef struct ld_worker {
    mmc_loader *l;
    pthread_t tid;
    mmc_image scratch; /* S x S x 3: cached pixels are copied here to augment in place */
    char *path;        /* dir/image of the current sample */
    size_t path_cap;
} ld_worker;

struct mmc_loader {
    const mmc_manifest *m;
    mmc_loader_opts o;
    int n;               /* samples */
    int64_t nb;          /* batches per epoch */
    int64_t limit;       /* global batches in the stream; -1: endless */
    float lut[3][256];   /* channel k, byte v -> normalised float, as mmc_image_to_chw gives */

    /* text: every caption tokenised once at creation */
    int *cap_first;      /* [n] row of sample i's first caption in tok_ids */
    int32_t *tok_ids, *tok_mask; /* [captions * max_len] */
    int32_t pad_id;

    /* cache of S x S base images */
    uint8_t *cache;      /* [n * S * S * 3] */
    atomic_int *cache_state; /* [n]: CACHE_EMPTY, CACHE_FILLING, CACHE_READY */

    /* the ring; all below is guarded by mu */
    ld_slot *slots;
    int K;
    ld_worker *workers;
    int n_workers;       /* threads started */
    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* workers wait here for something to claim */
    pthread_cond_t ready_cv; /* the consumer waits here for its batch; set_state for idle */
    int64_t next_g;      /* the batch the consumer gets next */
    int64_t held_g;      /* the batch the consumer holds (-1: none); its slot stays put */
    int64_t fill_g;      /* claim cursor: batch and position of the next sample to hand out */
    int fill_i;
    int *perm;           /* [n] order of epoch perm_epoch (training) */
    int64_t perm_epoch;
    int sync_ready;      /* mu and the condition variables exist */
    int stop, halt, failed, busy;
    int broken;          /* the consumer has been handed an error: repeat it */
    mmc_error broken_err;
};

/* splitmix64's finaliser: turns structured inputs (seed, epoch, position) into
 * well-spread, unrelated 64-bit values for seeding. */
static inline uint64_t ld_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

enum { CACHE_EMPTY = 0, CACHE_FILLING = 1, CACHE_READY = 2 };

/* Fills slot position it->i: sample, caption, tokens and the (3, S, S) floats. Runs on a
 * worker without the lock. MMC_ERR_INPUT names the image file and the sample. */
int mmc_loader_prepare(ld_worker *w, const ld_item *it, mmc_error *err);
/* Tokenises every caption (o.tokenizer) into l->tok_ids / tok_mask / cap_first. */
int mmc_loader_tokenize_all(mmc_loader *l, mmc_error *err);
/* Fills l->lut from l->o.mean / std. */
void mmc_loader_build_lut(mmc_loader *l);
/* The captions the loader picks from (English or Chinese) and how many. */
char **mmc_loader_captions(const mmc_loader *l, const mmc_sample *s, int *n);

#endif

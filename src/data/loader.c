/* loader.c — the data loader's machinery: a ring of K batch buffers that worker threads
 * fill ahead of the consumer, sample by sample, in stream order.
 *
 * Workers claim samples one at a time from a single cursor (batch g, position i) under
 * the lock, so claims happen in stream order: when the sample at (g, i) is claimed, every
 * sample before it has been claimed too. That is what lets an error stop all further
 * claims without stranding an earlier batch: earlier batches still complete, the consumer
 * gets them, then the error. Batch g lives in slot g % K and may be started once the
 * consumer has let go of batch g - K. Everything a sample's result depends on (its
 * manifest index, its rng stream) is fixed at claim time from (seed, epoch, position),
 * never from which worker runs it. */
#include "loader_internal.h"
#include <math.h>
#include <string.h>

#define PERM_STREAM 0x5045524D /* "PERM": the epoch permutations' own rng stream */

static const float CLIP_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float CLIP_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};

mmc_loader_opts mmc_loader_defaults(int batch_size, int image_size) {
    mmc_loader_opts o = {0};
    o.batch_size = batch_size;
    o.image_size = image_size;
    o.workers = 2;
    o.prefetch = 4;
    o.resample = MMC_RESAMPLE_BILINEAR;
    memcpy(o.mean, CLIP_MEAN, sizeof o.mean);
    memcpy(o.std, CLIP_STD, sizeof o.std);
    o.scale_lo = 0.08f;
    o.scale_hi = 1.0f;
    o.ratio_lo = 3.0f / 4.0f;
    o.ratio_hi = 4.0f / 3.0f;
    o.hflip = 0.5f;
    o.brightness = o.contrast = o.saturation = 0.4f;
    return o;
}

/* ------------------------------------------------------------------ options */

static int check_augment(const mmc_loader_opts *o, mmc_error *err) {
    if (o->random_resized_crop &&
        !(o->scale_lo > 0 && o->scale_lo <= o->scale_hi && o->scale_hi <= 1 && o->ratio_lo > 0 &&
          o->ratio_lo <= o->ratio_hi))
        return mmc_error_set(err, MMC_ERR_USAGE, "loader: random resized crop needs 0 < scale_lo <= scale_hi <= 1 "
                                                 "and 0 < ratio_lo <= ratio_hi");
    if (!(o->hflip >= 0 && o->hflip <= 1) || !(o->brightness >= 0) || !(o->contrast >= 0) || !(o->saturation >= 0))
        return mmc_error_set(err, MMC_ERR_USAGE, "loader: hflip must be in [0, 1] and jitter amounts >= 0");
    return MMC_OK;
}

static int check_opts(const mmc_loader_opts *o, mmc_error *err) {
    if (o->batch_size < 1 || o->image_size < 1 || o->image_size > 4096)
        return mmc_error_set(err, MMC_ERR_USAGE, "loader: batch_size must be >= 1 and image_size 1..4096 (got %d, %d)",
                             o->batch_size, o->image_size);
    if (o->workers < 1 || o->workers > 64 || o->prefetch < 2 || o->prefetch > 64 || o->epochs < 0)
        return mmc_error_set(err, MMC_ERR_USAGE, "loader: workers must be 1..64, prefetch 2..64, epochs >= 0 "
                                                 "(got %d, %d, %d)", o->workers, o->prefetch, o->epochs);
    if (o->resample < MMC_RESAMPLE_NEAREST || o->resample > MMC_RESAMPLE_HAMMING)
        return mmc_error_set(err, MMC_ERR_USAGE, "loader: unknown resample filter %d", o->resample);
    for (int k = 0; k < 3; k++)
        if (!isfinite(o->mean[k]) || !isfinite(o->std[k]) || o->std[k] == 0)
            return mmc_error_set(err, MMC_ERR_USAGE, "loader: mean/std must be finite and std non-zero");
    if (o->tokenizer && (o->max_len < 1 || o->max_len > 65536))
        return mmc_error_set(err, MMC_ERR_USAGE, "loader: max_len must be 1..65536 with a tokenizer (got %d)", o->max_len);
    return o->train ? check_augment(o, err) : MMC_OK;
}

/* ----------------------------------------------------------------- the ring */

static int64_t batch_size_of(const mmc_loader *l, int64_t g) {
    int64_t b = g % l->nb, left = (int64_t)l->n - b * l->o.batch_size;
    return left < l->o.batch_size ? left : l->o.batch_size;
}

/* The oldest batch whose slot may not be reused: the one the consumer holds or awaits. */
static int64_t low_g(const mmc_loader *l) { return l->held_g >= 0 ? l->held_g : l->next_g; }

static int can_claim(const mmc_loader *l) {
    return !l->halt && !l->failed && l->fill_g < low_g(l) + l->K && (l->limit < 0 || l->fill_g < l->limit);
}

static void start_batch(mmc_loader *l, ld_slot *s, int64_t g) {
    int S = l->o.image_size;
    s->g = g;
    s->size = (int)batch_size_of(l, g);
    s->claimed = s->done = 0;
    s->err_i = -1;
    mmc_error_clear(&s->err);
    s->batch.size = s->size;
    s->batch.epoch = g / l->nb;
    s->batch.index = g % l->nb;
    s->batch.images->shape[0] = s->size;
    s->batch.images->numel = (int64_t)s->size * 3 * S * S;
}

/* Hands out the sample at the cursor (lock held). */
static void claim(mmc_loader *l, ld_item *it) {
    int64_t g = l->fill_g;
    ld_slot *s = &l->slots[g % l->K];
    if (l->fill_i == 0) start_batch(l, s, g);
    it->slot = s;
    it->i = l->fill_i;
    it->epoch = g / l->nb;
    it->pos = (g % l->nb) * l->o.batch_size + it->i;
    if (l->o.train && l->perm_epoch != it->epoch) {
        mmc_rng r;
        uint64_t h = ld_mix64(ld_mix64(l->o.seed ^ PERM_STREAM) ^ (uint64_t)it->epoch);
        mmc_rng_seed(&r, h, ld_mix64(h));
        mmc_rng_permutation(&r, l->perm, l->n);
        l->perm_epoch = it->epoch;
    }
    it->sample = l->o.train ? l->perm[it->pos] : (int)it->pos;
    s->samples[it->i] = it->sample;
    s->claimed++;
    if (++l->fill_i == s->size) {
        l->fill_g++;
        l->fill_i = 0;
    }
}

/* Records a finished sample (lock held). The first failure by position is kept, so two bad
 * images in one batch report the same one whatever the timing. */
static void finish(mmc_loader *l, const ld_item *it, int rc, const mmc_error *e) {
    ld_slot *s = it->slot;
    s->done++;
    if (rc != MMC_OK) {
        if (s->err_i < 0 || it->i < s->err_i) {
            s->err = *e;
            s->err_i = it->i;
        }
        l->failed = 1; /* claims stop; everything before this sample was claimed already */
    }
    l->busy--;
    pthread_cond_broadcast(&l->ready_cv);
}

static void *worker_main(void *arg) {
    ld_worker *w = arg;
    mmc_loader *l = w->l;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !can_claim(l)) pthread_cond_wait(&l->work_cv, &l->mu);
        if (l->stop) break;
        ld_item it;
        claim(l, &it);
        l->busy++;
        pthread_mutex_unlock(&l->mu);
        mmc_error e = {0};
        int rc = mmc_loader_prepare(w, &it, &e);
        pthread_mutex_lock(&l->mu);
        finish(l, &it, rc, &e);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ------------------------------------------------------------ construction */

static int alloc_slot(mmc_loader *l, ld_slot *s, mmc_error *err) {
    int B = l->o.batch_size, S = l->o.image_size, L = l->o.tokenizer ? l->o.max_len : 0;
    s->g = -1;
    s->batch.images = mmc_tensor_new(4, (int[]){B, 3, S, S});
    s->samples = mmc_calloc((size_t)B, sizeof(int));
    s->captions = mmc_calloc((size_t)B, sizeof(int));
    if (L) {
        s->ids = mmc_calloc((size_t)B * L, sizeof(int32_t));
        s->mask = mmc_calloc((size_t)B * L, sizeof(int32_t));
    }
    s->batch.samples = s->samples;
    s->batch.captions = s->captions;
    s->batch.ids = s->ids;
    s->batch.mask = s->mask;
    if (!s->batch.images || !s->samples || !s->captions || (L && (!s->ids || !s->mask)))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "loader: out of memory for batch buffers (%d x 3 x %d x %d)", B, S, S);
    return MMC_OK;
}

static int alloc_worker(mmc_loader *l, ld_worker *w, mmc_error *err) {
    size_t longest = 0;
    for (int i = 0; i < l->n; i++) {
        if (!l->m->samples[i].image) /* a video-only sample (MMC_MANIFEST_IMAGE_OPTIONAL) */
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%.200s' has no image (video only); the loader reads images",
                                 l->m->path, l->m->samples[i].id);
        size_t len = strlen(l->m->samples[i].image);
        if (len > longest) longest = len;
    }
    w->l = l;
    w->path_cap = strlen(l->m->dir) + longest + 2;
    w->path = mmc_malloc(w->path_cap);
    if (!w->path) return mmc_error_set(err, MMC_ERR_RUNTIME, "loader: out of memory");
    return mmc_image_alloc(&w->scratch, l->o.image_size, l->o.image_size, 3, err);
}

static int alloc_buffers(mmc_loader *l, mmc_error *err) {
    int rc = MMC_OK;
    l->K = l->o.prefetch;
    l->slots = mmc_calloc((size_t)l->K, sizeof *l->slots);
    l->workers = mmc_calloc((size_t)l->o.workers, sizeof *l->workers);
    l->perm = mmc_calloc((size_t)l->n, sizeof(int));
    if (!l->slots || !l->workers || !l->perm) return mmc_error_set(err, MMC_ERR_RUNTIME, "loader: out of memory");
    for (int k = 0; k < l->K && !rc; k++) rc = alloc_slot(l, &l->slots[k], err);
    for (int k = 0; k < l->o.workers && !rc; k++) rc = alloc_worker(l, &l->workers[k], err);
    if (!rc && l->o.cache) {
        size_t S = (size_t)l->o.image_size;
        l->cache = mmc_malloc((size_t)l->n * S * S * 3);
        l->cache_state = mmc_calloc((size_t)l->n, sizeof(atomic_int));
        if (!l->cache || !l->cache_state)
            return mmc_error_set(err, MMC_ERR_RUNTIME, "loader: out of memory for the image cache (%d x %zu x %zu x 3)",
                                 l->n, S, S);
        for (int i = 0; i < l->n; i++) atomic_init(&l->cache_state[i], CACHE_EMPTY);
    }
    if (!rc && l->o.tokenizer) {
        l->cap_first = mmc_calloc((size_t)l->n, sizeof(int));
        if (!l->cap_first) return mmc_error_set(err, MMC_ERR_RUNTIME, "loader: out of memory");
        rc = mmc_loader_tokenize_all(l, err);
    }
    return rc;
}

static int start_workers(mmc_loader *l, mmc_error *err) {
    for (int k = 0; k < l->o.workers; k++) {
        if (pthread_create(&l->workers[k].tid, NULL, worker_main, &l->workers[k]) != 0)
            return mmc_error_set(err, MMC_ERR_RUNTIME, "loader: could not start worker thread %d", k);
        l->n_workers++;
    }
    return MMC_OK;
}

/* The three are made together or not at all, so free knows whether to destroy them. */
static int init_sync(mmc_loader *l, mmc_error *err) {
    int ok_mu = pthread_mutex_init(&l->mu, NULL) == 0;
    int ok_w = pthread_cond_init(&l->work_cv, NULL) == 0;
    int ok_r = pthread_cond_init(&l->ready_cv, NULL) == 0;
    if (ok_mu && ok_w && ok_r) {
        l->sync_ready = 1;
        return MMC_OK;
    }
    if (ok_mu) pthread_mutex_destroy(&l->mu);
    if (ok_w) pthread_cond_destroy(&l->work_cv);
    if (ok_r) pthread_cond_destroy(&l->ready_cv);
    return mmc_error_set(err, MMC_ERR_RUNTIME, "loader: could not create the lock and condition variables");
}

mmc_loader *mmc_loader_new(const mmc_manifest *m, const mmc_loader_opts *o, mmc_error *err) {
    if (!m || !o || m->count < 1) {
        mmc_error_set(err, MMC_ERR_USAGE, "loader: needs a manifest with samples and options");
        return NULL;
    }
    if (check_opts(o, err) != MMC_OK) return NULL;
    int64_t B = o->batch_size, nb = o->drop_last ? m->count / B : (m->count + B - 1) / B;
    if (nb == 0) {
        mmc_error_set(err, MMC_ERR_USAGE, "loader: %s has %d samples, fewer than one batch of %d (drop_last)", m->path,
                      m->count, o->batch_size);
        return NULL;
    }
    mmc_loader *l = mmc_calloc(1, sizeof *l);
    if (!l) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "loader: out of memory");
        return NULL;
    }
    *l = (mmc_loader){.m = m, .o = *o, .n = m->count, .nb = nb, .held_g = -1, .perm_epoch = -1};
    l->limit = o->epochs > 0 ? o->epochs * nb : -1;
    mmc_loader_build_lut(l);
    int rc = init_sync(l, err);
    if (rc == MMC_OK) rc = alloc_buffers(l, err);
    if (rc == MMC_OK) rc = start_workers(l, err);
    if (rc != MMC_OK) {
        mmc_loader_free(l);
        return NULL;
    }
    return l;
}

/* ------------------------------------------------------------- the consumer */

static int batch_ready(const ld_slot *s, int64_t g) {
    return s->g == g && (s->done == s->size || (s->err_i >= 0 && s->done == s->claimed));
}

int mmc_loader_next(mmc_loader *l, const mmc_loader_batch **out, mmc_error *err) {
    *out = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->held_g >= 0) {
        l->held_g = -1; /* its slot may be refilled now */
        pthread_cond_broadcast(&l->work_cv);
    }
    int rc = MMC_OK;
    if (l->broken) {
        rc = mmc_error_set(err, l->broken_err.code, "%s", l->broken_err.msg);
    } else if (l->limit < 0 || l->next_g < l->limit) {
        ld_slot *s = &l->slots[l->next_g % l->K];
        while (!batch_ready(s, l->next_g)) pthread_cond_wait(&l->ready_cv, &l->mu);
        if (s->err_i >= 0) {
            l->broken = 1;
            l->broken_err = s->err;
            rc = mmc_error_set(err, s->err.code, "%s", s->err.msg);
        } else {
            l->held_g = l->next_g++;
            *out = &s->batch;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

mmc_loader_state mmc_loader_get_state(const mmc_loader *l) {
    mmc_loader *ml = (mmc_loader *)l; /* the lock is state, not meaning */
    pthread_mutex_lock(&ml->mu);
    int64_t g = l->next_g;
    pthread_mutex_unlock(&ml->mu);
    return (mmc_loader_state){g / l->nb, g % l->nb};
}

int64_t mmc_loader_batches_per_epoch(const mmc_loader *l) { return l->nb; }

int mmc_loader_set_state(mmc_loader *l, mmc_loader_state st, mmc_error *err) {
    if (st.epoch < 0 || st.batch < 0 || st.batch >= l->nb || st.epoch > INT64_MAX / l->nb - 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "loader: state (epoch %lld, batch %lld) out of range (%lld batches per epoch)",
                             (long long)st.epoch, (long long)st.batch, (long long)l->nb);
    pthread_mutex_lock(&l->mu);
    /* Let the samples in flight land, then forget everything prepared ahead. */
    l->halt = 1;
    while (l->busy > 0) pthread_cond_wait(&l->ready_cv, &l->mu);
    int64_t g = st.epoch * l->nb + st.batch;
    l->next_g = l->fill_g = g;
    l->fill_i = 0;
    l->held_g = -1;
    l->failed = l->broken = 0;
    for (int k = 0; k < l->K; k++) l->slots[k].g = -1;
    l->halt = 0;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    return MMC_OK;
}

/* ------------------------------------------------------------------ freeing */

static void stop_workers(mmc_loader *l) {
    if (!l->n_workers) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int k = 0; k < l->n_workers; k++) pthread_join(l->workers[k].tid, NULL);
}

void mmc_loader_free(mmc_loader *l) {
    if (!l) return;
    stop_workers(l);
    if (l->slots)
        for (int k = 0; k < l->K; k++) {
            ld_slot *s = &l->slots[k];
            mmc_tensor_free(s->batch.images);
            mmc_free(s->samples);
            mmc_free(s->captions);
            mmc_free(s->ids);
            mmc_free(s->mask);
        }
    if (l->workers)
        for (int k = 0; k < l->o.workers; k++) {
            mmc_free(l->workers[k].path);
            mmc_image_free(&l->workers[k].scratch);
        }
    if (l->sync_ready) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->work_cv);
        pthread_cond_destroy(&l->ready_cv);
    }
    mmc_free(l->slots);
    mmc_free(l->workers);
    mmc_free(l->perm);
    mmc_free(l->cache);
    mmc_free((void *)l->cache_state);
    mmc_free(l->cap_first);
    mmc_free(l->tok_ids);
    mmc_free(l->tok_mask);
    mmc_free(l);
}

/* loader_sample.c — one sample of a loader batch: its caption choice and tokens, its image
 * decoded (or taken from the cache), augmented and normalised into the batch tensor.
 * Everything random comes from the sample's own rng stream (seed, epoch, position), so
 * which worker prepares it, and when, cannot change the result. */
#include "loader_internal.h"
#include <string.h>

/* Both the state and the stream depend on every input: PCG streams that differ only in
 * their increment are known to be correlated. */
static void sample_rng(mmc_rng *r, uint64_t seed, int64_t epoch, int64_t pos) {
    uint64_t h = ld_mix64(ld_mix64(ld_mix64(seed) ^ (uint64_t)epoch) ^ (uint64_t)pos);
    mmc_rng_seed(r, h, ld_mix64(h));
}

char **mmc_loader_captions(const mmc_loader *l, const mmc_sample *s, int *n) {
    *n = l->o.captions_zh ? s->n_captions_zh : s->n_captions;
    return l->o.captions_zh ? s->captions_zh : s->captions;
}

int mmc_loader_tokenize_all(mmc_loader *l, mmc_error *err) {
    int total = 0, L = l->o.max_len;
    for (int i = 0; i < l->n; i++) {
        int nc;
        mmc_loader_captions(l, &l->m->samples[i], &nc);
        l->cap_first[i] = total;
        if (nc > INT32_MAX / L - total)
            return mmc_error_set(err, MMC_ERR_INPUT, "loader: too many captions to tokenise");
        total += nc;
    }
    mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(l->o.tokenizer);
    l->pad_id = sp.pad >= 0 ? sp.pad : 0;
    if (total == 0) return MMC_OK;
    const char **texts = mmc_malloc(sizeof *texts * (size_t)total);
    l->tok_ids = mmc_malloc(sizeof(int32_t) * (size_t)total * L);
    l->tok_mask = mmc_malloc(sizeof(int32_t) * (size_t)total * L);
    int rc = MMC_OK;
    if (!texts || !l->tok_ids || !l->tok_mask) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "loader: out of memory for tokens");
    for (int i = 0, k = 0; !rc && i < l->n; i++) {
        int nc;
        char **caps = mmc_loader_captions(l, &l->m->samples[i], &nc);
        for (int c = 0; c < nc; c++) texts[k++] = caps[c];
    }
    if (!rc) rc = mmc_tokenizer_encode_batch(l->o.tokenizer, texts, total, L, l->tok_ids, l->tok_mask, err);
    mmc_free(texts);
    return rc;
}

/* Caption choice (random in training, the first in eval) and its tokens. */
static void prepare_text(const mmc_loader *l, const ld_item *it, mmc_rng *rng) {
    int nc, L = l->o.max_len;
    mmc_loader_captions(l, &l->m->samples[it->sample], &nc);
    int c = nc == 0 ? -1 : l->o.train ? (int)mmc_rng_below(rng, (uint32_t)nc) : 0;
    it->slot->captions[it->i] = c;
    if (!l->o.tokenizer) return;
    int32_t *ids = it->slot->ids + (size_t)it->i * L, *mask = it->slot->mask + (size_t)it->i * L;
    if (c < 0) {
        for (int t = 0; t < L; t++) ids[t] = l->pad_id, mask[t] = 0;
        return;
    }
    size_t row = (size_t)(l->cap_first[it->sample] + c) * L;
    memcpy(ids, l->tok_ids + row, sizeof(int32_t) * L);
    memcpy(mask, l->tok_mask + row, sizeof(int32_t) * L);
}

/* img -> S x S: short side to S, then the centre S x S window. An image already S x S is
 * taken as it is (the shapes world at its own size skips resampling). */
static int base_geometry(const mmc_loader *l, mmc_image *img, mmc_error *err) {
    int S = l->o.image_size, w, h;
    if (img->w == S && img->h == S) return MMC_OK;
    mmc_image_shortest_edge_size(img->w, img->h, S, &w, &h);
    mmc_image tmp;
    int rc = mmc_image_resize(img, &tmp, w, h, l->o.resample, err);
    mmc_image_free(img);
    if (rc != MMC_OK) return rc;
    *img = tmp;
    if (w == S && h == S) return MMC_OK;
    rc = mmc_image_center_crop(img, &tmp, S, S, err);
    mmc_image_free(img);
    if (rc == MMC_OK) *img = tmp;
    return rc;
}

static int decode(ld_worker *w, int j, mmc_image *img, mmc_error *err) {
    const mmc_manifest *m = w->l->m;
    snprintf(w->path, w->path_cap, "%s/%s", m->dir, m->samples[j].image);
    mmc_error e = {0};
    int rc = mmc_image_load(img, w->path, 3, &e);
    if (rc == MMC_OK) return MMC_OK;
    return mmc_error_set(err, rc, "%s: sample %d (id '%.200s'): %.700s", m->path, j + 1, m->samples[j].id, e.msg);
}

/* A view of sample j's cached pixels if they are ready (nothing owned). */
static int cached(ld_worker *w, int j, mmc_image *view) {
    const mmc_loader *l = w->l;
    if (!l->cache || atomic_load_explicit(&l->cache_state[j], memory_order_acquire) != CACHE_READY) return 0;
    int S = l->o.image_size;
    *view = (mmc_image){S, S, 3, l->cache + (size_t)j * S * S * 3};
    return 1;
}

/* Keeps a freshly made base image. Only the worker that wins the claim writes, so two
 * workers meeting the same sample (an epoch boundary in flight) never write together. */
static void cache_store(mmc_loader *l, int j, const mmc_image *base) {
    int expect = CACHE_EMPTY, S = l->o.image_size;
    if (!atomic_compare_exchange_strong(&l->cache_state[j], &expect, CACHE_FILLING)) return;
    memcpy(l->cache + (size_t)j * S * S * 3, base->data, (size_t)S * S * 3);
    atomic_store_explicit(&l->cache_state[j], CACHE_READY, memory_order_release);
}

/* The image augmentation starts from: with the cache, always the S x S base image (so a
 * cache hit and a miss give the same result); without it, the decoded image itself when
 * a random resized crop follows (the crop sees the full picture), else the base image.
 * *owned holds pixels to free, or nothing when *src is a cache view. */
static int source_image(ld_worker *w, int j, mmc_image *owned, mmc_image *src, mmc_error *err) {
    mmc_loader *l = w->l;
    memset(owned, 0, sizeof *owned);
    if (cached(w, j, src)) return MMC_OK;
    int rc = decode(w, j, owned, err);
    int crop_full = !l->cache && l->o.train && l->o.random_resized_crop;
    if (rc == MMC_OK && !crop_full) rc = base_geometry(l, owned, err);
    if (rc != MMC_OK) {
        mmc_image_free(owned);
        return rc;
    }
    if (l->cache) cache_store(l, j, owned);
    *src = *owned;
    return MMC_OK;
}

static int jitter_on(const mmc_loader_opts *o) { return o->brightness > 0 || o->contrast > 0 || o->saturation > 0; }

/* Flip and colour jitter, in place, in this fixed order of rng draws. */
static void flip_jitter(const mmc_loader_opts *o, mmc_image *img, mmc_rng *rng) {
    if (o->hflip > 0) mmc_image_random_hflip(img, o->hflip, rng);
    if (jitter_on(o)) mmc_image_color_jitter(img, o->brightness, o->contrast, o->saturation, rng);
}

/* src -> augmented S x S pixels into *out (which may be src itself, w->scratch or a new
 * image in *made). */
static int augment(ld_worker *w, mmc_image *src, int src_owned, mmc_rng *rng, mmc_image *made,
                   const mmc_image **out, mmc_error *err) {
    const mmc_loader_opts *o = &w->l->o;
    int S = o->image_size;
    memset(made, 0, sizeof *made);
    *out = src;
    if (!o->train) return MMC_OK;
    mmc_image *dst = src;
    if (o->random_resized_crop) {
        int rc = mmc_image_random_resized_crop(src, made, S, S, o->scale_lo, o->scale_hi, o->ratio_lo,
                                               o->ratio_hi, o->resample, rng, err);
        if (rc != MMC_OK) return rc;
        dst = made;
    } else if (!src_owned && (o->hflip > 0 || jitter_on(o))) {
        /* cached pixels are shared: augment a copy (scratch is allocated once) */
        memcpy(w->scratch.data, src->data, (size_t)S * S * 3);
        dst = &w->scratch;
    }
    flip_jitter(o, dst, rng);
    *out = dst;
    return MMC_OK;
}

/* (h, w, 3) bytes -> (3, h, w) floats through the table: a lookup per value instead of
 * to_chw's double multiply and float divide, with the very same results. */
static void normalise(const mmc_loader *l, const mmc_image *img, float *out) {
    size_t hw = (size_t)img->w * img->h;
    for (int k = 0; k < 3; k++) {
        const float *t = l->lut[k];
        float *o = out + k * hw;
        const uint8_t *p = img->data + k;
        for (size_t i = 0; i < hw; i++) o[i] = t[p[3 * i]];
    }
}

void mmc_loader_build_lut(mmc_loader *l) {
    uint8_t ramp[256 * 3];
    float chw[3 * 256];
    for (int v = 0; v < 256; v++) ramp[3 * v] = ramp[3 * v + 1] = ramp[3 * v + 2] = (uint8_t)v;
    mmc_image img = {256, 1, 3, ramp};
    mmc_image_to_chw(&img, chw, 1.0 / 255.0, l->o.mean, l->o.std);
    memcpy(l->lut, chw, sizeof l->lut);
}

static int prepare_image(ld_worker *w, const ld_item *it, mmc_rng *rng, mmc_error *err) {
    const mmc_loader_opts *o = &w->l->o;
    mmc_image owned, src, made;
    int rc = source_image(w, it->sample, &owned, &src, err);
    if (rc != MMC_OK) return rc;
    const mmc_image *img;
    rc = augment(w, &src, owned.data != NULL, rng, &made, &img, err);
    if (rc == MMC_OK) normalise(w->l, img, it->slot->batch.images->data + (size_t)3 * o->image_size * o->image_size * it->i);
    mmc_image_free(&made);
    mmc_image_free(&owned);
    return rc;
}

int mmc_loader_prepare(ld_worker *w, const ld_item *it, mmc_error *err) {
    mmc_rng rng;
    sample_rng(&rng, w->l->o.seed, it->epoch, it->pos);
    prepare_text(w->l, it, &rng);
    return prepare_image(w, it, &rng, err);
}

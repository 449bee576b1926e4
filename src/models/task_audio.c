/* task_audio.c — a split's spoken captions in memory for the tasks with an audio tower:
 * every clip of one language decoded once (libsndfile + libsoxr to 16 kHz, mmc_audio_load),
 * turned into log-mel frames (mmc_logmel, Whisper's front end) in parallel, and kept as
 * one byte per value: each clip's frames are quantised to 256 levels between its own
 * minimum and maximum. Whisper's features span at most 2.0 (the clamp at max - 8 in log10,
 * divided by 4), so a value is off by at most 2/510 ≈ 0.004 — far below what SpecAugment
 * and the voices change — and 8,000 clips of 4 s take 256 MB instead of 1 GB. */
#include "task_util.h"
#include "internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void task_audio_free(task_audio *a) {
    if (!a) return;
    mmc_free(a->sample);
    mmc_free(a->frames);
    mmc_free(a->off);
    mmc_free(a->q);
    mmc_free(a->lo);
    mmc_free(a->scale);
    mmc_free(a->text);
    mmc_free(a->path);
    mmc_free(a->first);
    mmc_free(a->count);
    memset(a, 0, sizeof *a);
}

/* One clip: decode, log-mel, cut to max_frames. *mel (mmc_malloc'd) n_mels × *T. */
static int clip_mel(const char *path, int n_mels, int max_frames, float **mel, int *T, mmc_error *err) {
    mmc_audio au = {0};
    int rc = mmc_audio_load(&au, path, 16000, err);
    if (rc) return rc;
    mmc_logmel_opts lo = mmc_logmel_opts_whisper();
    lo.n_mels = n_mels;
    int64_t n = au.n;
    if (n > (int64_t)(max_frames + 1) * lo.hop) n = (int64_t)(max_frames + 1) * lo.hop; /* the frames kept, and one */
    rc = mmc_logmel(au.samples, n, &lo, mel, T, err);
    mmc_audio_free(&au);
    if (rc) return rc;
    if (*T > max_frames) { /* row-major (n_mels, T): keep each band's first max_frames */
        for (int f = 1; f < n_mels; f++) memmove(*mel + (size_t)f * max_frames, *mel + (size_t)f * *T, sizeof(float) * (size_t)max_frames);
        *T = max_frames;
    }
    return MMC_OK;
}

int task_audio_load(task_audio *a, const mmc_manifest *man, int n_samples, const char *lang, int n_mels, int max_frames,
                    void (*progress)(void *user, int done, int total), void *user, mmc_error *err) {
    memset(a, 0, sizeof *a);
    a->n_mels = n_mels;
    if (n_samples > man->count) n_samples = man->count;
    a->n_samples = n_samples;
    a->first = mmc_calloc((size_t)(n_samples ? n_samples : 1), sizeof(int));
    a->count = mmc_calloc((size_t)(n_samples ? n_samples : 1), sizeof(int));
    if (!a->first || !a->count) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", man->path);
    int n = 0;
    for (int s = 0; s < n_samples; s++) {
        a->first[s] = n;
        if (!lang) { /* the sound track of the sample's video */
            if (!man->samples[s].video)
                return mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%s' has no \"video\" (its sound track is the input)", man->path,
                                     man->samples[s].id);
            n++;
        }
        for (int k = 0; lang && k < man->samples[s].n_audio; k++) n += !strcmp(man->samples[s].audio[k].lang, lang);
        a->count[s] = n - a->first[s];
    }
    a->n = n;
    size_t m = (size_t)(n ? n : 1);
    a->sample = mmc_malloc(sizeof(int) * m);
    a->frames = mmc_malloc(sizeof(int) * m);
    a->off = mmc_malloc(sizeof(int64_t) * (m + 1));
    a->lo = mmc_malloc(sizeof(float) * m);
    a->scale = mmc_malloc(sizeof(float) * m);
    a->text = mmc_malloc(sizeof(char *) * m);
    a->path = mmc_malloc(sizeof(char *) * m);
    uint8_t **part = mmc_calloc(m, sizeof(uint8_t *));
    if (!a->sample || !a->frames || !a->off || !a->lo || !a->scale || !a->text || !a->path || !part) {
        mmc_free(part);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for %d clips", man->path, n);
    }
    for (int s = 0, i = 0; s < n_samples; s++) {
        if (!lang) {
            a->sample[i] = s, a->text[i] = NULL, a->path[i] = man->samples[s].video;
            i++;
        }
        for (int k = 0; lang && k < man->samples[s].n_audio; k++) {
            const mmc_audio_ref *r = &man->samples[s].audio[k];
            if (strcmp(r->lang, lang)) continue;
            a->sample[i] = s, a->text[i] = r->text, a->path[i] = r->path;
            i++;
        }
    }
    /* decode in parallel, in chunks so progress can be told */
    int bad = -1, rc = MMC_OK;
    mmc_error first = {0};
    enum { CHUNK = 512 };
    for (int at = 0; at < n && bad < 0; at += CHUNK) {
        int end = at + CHUNK < n ? at + CHUNK : n;
        int nt = mmc_par_threads(end - at, 1);
        MMC_PARALLEL_FOR(nt, for (int i = at; i < end; i++) {
            char path[4096];
            mmc_error e = {0};
            float *mel = NULL;
            int T = 0, r;
            if (snprintf(path, sizeof path, "%s/%s", man->dir, a->path[i]) >= (int)sizeof path)
                r = mmc_error_set(&e, MMC_ERR_INPUT, "%s: sample %d: audio path too long", man->path, a->sample[i]);
            else r = clip_mel(path, n_mels, max_frames, &mel, &T, &e);
            if (!r && !(part[i] = mmc_malloc((size_t)n_mels * T)))
                r = mmc_error_set(&e, MMC_ERR_RUNTIME, "%s: out of memory", path);
            if (!r) {
                float lo = INFINITY, hi = -INFINITY;
                for (size_t j = 0; j < (size_t)n_mels * T; j++) {
                    lo = mel[j] < lo ? mel[j] : lo;
                    hi = mel[j] > hi ? mel[j] : hi;
                }
                float sc = hi > lo ? (hi - lo) / 255.0f : 1.0f;
                for (size_t j = 0; j < (size_t)n_mels * T; j++) part[i][j] = (uint8_t)lrintf((mel[j] - lo) / sc);
                a->lo[i] = lo, a->scale[i] = sc, a->frames[i] = T;
            }
            mmc_free(mel);
            if (r) {
                _Pragma("omp critical(task_audio_err)")
                if (bad < 0 || i < bad) { bad = i; first = e; }
            }
        });
        if (progress && bad < 0) progress(user, end, n);
    }
    if (bad >= 0) {
        if (err) *err = first;
        rc = first.code ? first.code : MMC_ERR_INPUT;
    }
    int64_t tot = 0;
    for (int i = 0; i < n && !rc; i++) a->off[i] = tot, tot += (int64_t)n_mels * a->frames[i];
    if (!rc) {
        a->off[n] = tot;
        if (!(a->q = mmc_malloc((size_t)(tot ? tot : 1)))) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for the clips' features", man->path);
    }
    for (int i = 0; i < n; i++) {
        if (!rc) memcpy(a->q + a->off[i], part[i], (size_t)n_mels * a->frames[i]);
        mmc_free(part[i]);
    }
    mmc_free(part);
    if (rc) task_audio_free(a);
    return rc;
}

void task_audio_mel(const task_audio *a, int i, float *out, int T) {
    int M = a->n_mels, F = a->frames[i];
    const uint8_t *q = a->q + a->off[i];
    float lo = a->lo[i], sc = a->scale[i];
    for (int f = 0; f < M; f++) {
        float *o = out + (size_t)f * T;
        for (int t = 0; t < F; t++) o[t] = lo + sc * (float)q[(size_t)f * F + t];
        if (T > F) memset(o + F, 0, sizeof(float) * (size_t)(T - F));
    }
}

int task_split_load_audio(task_split *d, const char *dir, const char *split, const char *lang, int S, int max_images, int n_mels,
                          int max_frames, void (*progress)(void *user, int done, int total), void *user, mmc_error *err) {
    int rc = task_split_load(d, dir, split, lang, 0, max_images, err);
    if (rc) return rc;
    int K = 0;
    while (K < d->n) {
        const mmc_sample *s = &d->man->samples[K];
        int has = 0;
        for (int k = 0; k < s->n_audio && !has; k++) has = !strcmp(s->audio[k].lang, lang);
        if (!has) break;
        K++;
    }
    if (K == 0) {
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: the first sample has no spoken caption in '%s' (make them with `mmc data shapes "
                           "--audio`; a sound file per caption in the manifest's \"audio\" list)", d->man->path, lang);
        task_split_free(d);
        return rc;
    }
    d->n = K;
    d->n_caps = d->cap_first[K - 1] + d->cap_count[K - 1];
    d->S = S;
    if (S > 0 && (rc = task_images_load(d->man, d->n, S, &d->pixels, err))) {
        task_split_free(d);
        return rc;
    }
    if (!(d->audio = mmc_calloc(1, sizeof *d->audio))) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", d->man->path);
    if (!rc) rc = task_audio_load(d->audio, d->man, d->n, lang, n_mels, max_frames, progress, user, err);
    if (rc) task_split_free(d);
    return rc;
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

int task_sort_by_length(int *idx, int n, const int *len) {
    int64_t *key = mmc_malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (!key) return MMC_ERR_RUNTIME;
    /* lengths and indices are non-negative ints: (length, index) in one 64-bit key */
    for (int i = 0; i < n; i++) key[i] = (int64_t)len[idx[i]] << 32 | (int64_t)(uint32_t)idx[i];
    qsort(key, (size_t)n, sizeof *key, cmp_i64);
    for (int i = 0; i < n; i++) idx[i] = (int)(key[i] & 0xFFFFFFFF);
    mmc_free(key);
    return MMC_OK;
}

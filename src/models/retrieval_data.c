/* retrieval_data.c — a dataset split in memory for the dual encoder, and its evaluation. */
#include "retrieval_internal.h"
#include "task_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A video split: the clips embedded CHUNK at a time (floats for only those). */
static int embed_clips(mmc_retrieval *m, const task_split *d, float *ie, mmc_error *err) {
    enum { CHUNK = 256 };
    int S = d->S, T = d->T, E = mmc_retrieval_dim(m);
    if (T != mmc_retrieval_video_frames(m))
        return mmc_error_set(err, MMC_ERR_USAGE, "evaluate: clips held at %d frames, model wants %d", T, mmc_retrieval_video_frames(m));
    size_t clip = (size_t)T * 3 * S * S;
    float *chw = mmc_malloc(sizeof(float) * CHUNK * clip);
    if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    int rc = MMC_OK;
    for (int at = 0; at < d->n && !rc; at += CHUNK) {
        int n = d->n - at < CHUNK ? d->n - at : CHUNK;
        for (int i = 0; i < n; i++) task_split_clip_chw(d, at + i, 0, 0, chw + (size_t)i * clip);
        rc = mmc_retrieval_embed_clips(m, chw, n, ie + (size_t)at * E, err);
    }
    mmc_free(chw);
    return rc;
}

static void get_clip(void *user, int i, float *out, int T) { task_audio_mel(user, i, out, T); }

/* Query "audio": every clip of the split against the images (audio:image: a clip finds its
 * scene) or against the clips' own transcripts (audio:text: one text per clip, so the
 * candidates are the split's spoken texts). */
static int evaluate_audio(mmc_retrieval *m, const task_split *d, mmc_retrieval_metrics *out, mmc_error *err) {
    const task_audio *a = d->audio;
    int E = mmc_retrieval_dim(m), S = d->S, nt = m->text_target ? a->n : d->n;
    if (!a || a->n < 1) return mmc_error_set(err, MMC_ERR_USAGE, "evaluate: the split has no spoken captions");
    float *qe = mmc_malloc(sizeof(float) * (size_t)a->n * E), *te = mmc_malloc(sizeof(float) * (size_t)nt * E);
    int *idx = m->text_target ? mmc_malloc(sizeof(int) * (size_t)a->n) : NULL;
    float *chw = m->text_target ? NULL : mmc_malloc(sizeof(float) * (size_t)d->n * 3 * S * S);
    int rc = qe && te && (idx || chw) ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    if (!rc) rc = ret_embed_mels(m, a->n, get_clip, a->frames, (void *)a, qe, err);
    if (!rc && m->text_target) {
        for (int i = 0; i < a->n; i++) idx[i] = i;
        rc = mmc_retrieval_embed_texts(m, a->text, a->n, te, err);
        if (!rc) rc = mmc_retrieval_recall(te, a->n, qe, idx, a->n, E, out, err);
    } else if (!rc) {
        for (int i = 0; i < d->n; i++) task_split_chw(d, i, 0, 0, chw + (size_t)i * 3 * S * S);
        rc = mmc_retrieval_embed_chw(m, chw, d->n, te, err);
        if (!rc) rc = mmc_retrieval_recall(te, d->n, qe, a->sample, a->n, E, out, err);
    }
    mmc_free(qe);
    mmc_free(te);
    mmc_free(idx);
    mmc_free(chw);
    return rc;
}

int ret_dataset_evaluate(mmc_retrieval *m, const task_split *d, mmc_retrieval_metrics *out, mmc_error *err) {
    int S = d->S, E = mmc_retrieval_dim(m);
    if (m->audio) return evaluate_audio(m, d, out, err);
    if (S != mmc_retrieval_image_size(m)) return mmc_error_set(err, MMC_ERR_USAGE, "evaluate: dataset held at %d px, model wants %d", S, mmc_retrieval_image_size(m));
    if (d->T > 0) {
        float *ie = mmc_malloc(sizeof(float) * (size_t)d->n * E), *te = mmc_malloc(sizeof(float) * (size_t)d->n_caps * E);
        int rc = ie && te ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
        if (!rc) rc = embed_clips(m, d, ie, err);
        if (!rc) rc = mmc_retrieval_embed_texts(m, d->caps, d->n_caps, te, err);
        if (!rc) rc = mmc_retrieval_recall(ie, d->n, te, d->cap_img, d->n_caps, E, out, err);
        mmc_free(ie);
        mmc_free(te);
        return rc;
    }
    float *chw = mmc_malloc(sizeof(float) * (size_t)d->n * 3 * S * S);
    float *ie = mmc_malloc(sizeof(float) * (size_t)d->n * E), *te = mmc_malloc(sizeof(float) * (size_t)d->n_caps * E);
    int rc = MMC_OK;
    if (!chw || !ie || !te) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    if (!rc) {
        for (int i = 0; i < d->n; i++) task_split_chw(d, i, 0, 0, chw + (size_t)i * 3 * S * S);
        rc = mmc_retrieval_embed_chw(m, chw, d->n, ie, err);
    }
    if (!rc) rc = mmc_retrieval_embed_texts(m, d->caps, d->n_caps, te, err);
    if (!rc) rc = mmc_retrieval_recall(ie, d->n, te, d->cap_img, d->n_caps, E, out, err);
    mmc_free(chw);
    mmc_free(ie);
    mmc_free(te);
    return rc;
}

int ret_split_load_cfg(const mmc_retrieval_config *c, task_split *d, const char *dir, const char *split, int max,
                       void (*progress)(void *user, int done, int total), void *user, mmc_error *err) {
    if (!strcmp(c->query, "audio"))
        return task_split_load_audio(d, dir, split, c->lang, strcmp(c->target, "text") ? c->image_size : 0, max, c->audio.n_mels,
                                     c->audio.max_frames, progress, user, err);
    return !strcmp(c->target, "video") ? task_split_load_video(d, dir, split, c->lang, c->image_size, c->video.frames, max, err)
                                       : task_split_load(d, dir, split, c->lang, c->image_size, max, err);
}

int ret_split_load(const mmc_retrieval *m, task_split *d, const char *dir, const char *split, int max, mmc_error *err) {
    return ret_split_load_cfg(mmc_retrieval_get_config(m), d, dir, split, max, NULL, NULL, err);
}

int mmc_retrieval_evaluate(mmc_retrieval *m, const char *data_dir, const char *split, int max_images,
                           mmc_retrieval_metrics *out, mmc_error *err) {
    return mmc_retrieval_evaluate_captions(m, data_dir, split, max_images, 0, out, err);
}

int mmc_retrieval_evaluate_captions(mmc_retrieval *m, const char *data_dir, const char *split, int max_images,
                                    int captions_per_image, mmc_retrieval_metrics *out, mmc_error *err) {
    task_split d;
    int rc = ret_split_load(m, &d, data_dir, split, max_images, err);
    if (rc) return rc;
    task_split_keep_captions(&d, captions_per_image);
    rc = ret_dataset_evaluate(m, &d, out, err);
    task_split_free(&d);
    return rc;
}

/* ------------------------------------------------------------------ recall */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void summarise(int *ranks, int n, mmc_recall *r) {
    int c1 = 0, c5 = 0, c10 = 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        c1 += ranks[i] <= 1;
        c5 += ranks[i] <= 5;
        c10 += ranks[i] <= 10;
        sum += ranks[i];
    }
    qsort(ranks, (size_t)n, sizeof(int), cmp_int);
    r->r1 = (double)c1 / n;
    r->r5 = (double)c5 / n;
    r->r10 = (double)c10 / n;
    r->mean_rank = sum / n;
    /* numpy's median: the middle rank, or the mean of the two middle ones */
    r->median_rank = n % 2 ? ranks[n / 2] : 0.5 * (ranks[n / 2 - 1] + ranks[n / 2]);
}

int mmc_retrieval_recall(const float *img, int n_img, const float *txt, const int *txt_img, int n_txt, int dim,
                         mmc_retrieval_metrics *out, mmc_error *err) {
    if (n_img < 1 || n_txt < 1 || dim < 1) return mmc_error_set(err, MMC_ERR_USAGE, "recall: empty input (%d images, %d texts)", n_img, n_txt);
    for (int j = 0; j < n_txt; j++)
        if (txt_img[j] < 0 || txt_img[j] >= n_img) return mmc_error_set(err, MMC_ERR_USAGE, "recall: text %d names image %d of %d", j, txt_img[j], n_img);
    mmc_ctx *ctx = mmc_ctx_new();
    int *tr = mmc_malloc(sizeof(int) * (size_t)n_txt), *ir = mmc_malloc(sizeof(int) * (size_t)n_img);
    float *best = mmc_malloc(sizeof(float) * (size_t)n_img);
    int rc = MMC_OK;
    if (!ctx || !tr || !ir || !best) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "recall: out of memory");
    mmc_tensor *sim = NULL;
    if (!rc) {
        mmc_grad_mode(ctx, 0);
        mmc_tensor *a = mmc_tensor_from(ctx, 2, (int[]){n_txt, dim}, txt), *b = mmc_tensor_from(ctx, 2, (int[]){n_img, dim}, img);
        sim = mmc_matmul(ctx, a, b, 0, 1); // (n_txt, n_img)
        if (!sim) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "recall: %s", ctx->err.msg);
    }
    if (!rc) {
        /* text -> image: 1 + images scoring strictly above the caption's own image */
#pragma omp parallel for schedule(static)
        for (int j = 0; j < n_txt; j++) {
            const float *row = sim->data + (size_t)j * n_img;
            float s = row[txt_img[j]];
            int above = 0;
            for (int i = 0; i < n_img; i++) above += row[i] > s;
            tr[j] = 1 + above;
        }
        /* image -> text: 1 + captions scoring strictly above the image's best caption */
        for (int i = 0; i < n_img; i++) best[i] = -INFINITY;
        for (int j = 0; j < n_txt; j++) {
            float s = sim->data[(size_t)j * n_img + txt_img[j]];
            if (s > best[txt_img[j]]) best[txt_img[j]] = s;
        }
        for (int i = 0; i < n_img; i++) ir[i] = 1;
        for (int j = 0; j < n_txt; j++) {
            const float *row = sim->data + (size_t)j * n_img;
            for (int i = 0; i < n_img; i++) ir[i] += row[i] > best[i];
        }
        /* An image no caption describes is ranked last (it cannot be found). */
        for (int i = 0; i < n_img; i++)
            if (best[i] == -INFINITY) ir[i] = n_txt + 1;
        memset(out, 0, sizeof *out);
        summarise(tr, n_txt, &out->t2i);
        summarise(ir, n_img, &out->i2t);
        out->rsum = 100.0 * (out->t2i.r1 + out->t2i.r5 + out->t2i.r10 + out->i2t.r1 + out->i2t.r5 + out->i2t.r10);
        out->n_images = n_img;
        out->n_texts = n_txt;
    }
    mmc_ctx_free(ctx);
    mmc_free(tr);
    mmc_free(ir);
    mmc_free(best);
    return rc;
}

/* retrieval_train.c — the dual encoder as a task of the training loop (`mmc train
 * retrieval`; the loop itself is train_loop.c).
 *
 * Determinism. Every random choice is a function of (seed, position):
 *   - model init: stream 1 of the seed;
 *   - the order of epoch e: a permutation drawn from stream 1000 + e;
 *   - caption choice and shift of step s: stream 2^40 + s;
 *   - dropout: the model's rng, whose state is saved in trainer.json.
 * So the data position is the step count alone, and a checkpoint continues bit-exactly
 * (test retrieval_resume_bit_exact). Validation: text->image R@1 + R@5 + R@10 picks
 * model-best.safetensors.
 *
 * Run folders written before the training loop (trainer.json with step, seed,
 * dropout_rng, best_score, ...; optimizer.safetensors with exp_avg.NAME, exp_avg_sq.NAME,
 * step.NAME) are read by load_legacy and continue; the next checkpoint is in the loop's
 * layout (mmc_run_save). */
#include "retrieval_internal.h"
#include "task_util.h"
#include "train_loop.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mmc_retrieval_train_opts mmc_retrieval_train_defaults(void) {
    mmc_retrieval_train_opts o;
    memset(&o, 0, sizeof o);
    o.seed = 1;
    o.log_every = 10;
    return o;
}

typedef struct rtask {
    const mmc_retrieval_train_opts *o;
    const mmc_retrieval_config *cfg_in;
    mmc_retrieval_config cfg;
    mmc_retrieval *m;
    task_split train, val;
    int has_val, B, spe;
    int *perm, perm_epoch;
    int T;     /* frames per sample: 1 (images) or video_frames (clips) */
    int audio, text_target; /* query "audio"; target "text" */
    int n_items;            /* what an epoch goes over: samples, or (audio) clips */
    int Tmax;               /* audio: the longest training clip, in frames */
    float *mel;             /* audio: (B, n_mels, Tmax) */
    int *mlen;              /* audio: (B) frames of each clip of the batch */
    int *clip;              /* audio: (B) the batch's clips */
    int Tb;                 /* audio: the batch's longest clip */
    float *alpha, *beta;    /* audio: (B) each clip's band and frame scales (spec_warp, spec_stretch) */
    float *scratch;         /* audio: one clip before warping */
    float *chw; /* (B·T, 3, S, S) */
    int32_t *ids, *mask, *ngr; /* ngr: subword trigrams (B, T, RET_NGRAM_MAX), NULL when off */
    const char **texts;
} rtask;

static void release(void *self) {
    rtask *t = self;
    mmc_retrieval_free(t->m);
    task_split_free(&t->train);
    task_split_free(&t->val);
    mmc_free(t->perm);
    mmc_free(t->chw);
    mmc_free(t->ids);
    mmc_free(t->mask);
    mmc_free(t->ngr);
    mmc_free(t->texts);
    mmc_free(t->mel);
    mmc_free(t->mlen);
    mmc_free(t->clip);
    mmc_free(t->alpha);
    mmc_free(t->beta);
    mmc_free(t->scratch);
}

/* START events while the clips decode (a minute or two for thousands of them). */
static void audio_progress(void *user, int done, int total) {
    const mmc_retrieval_train_opts *o = user;
    if (!o->callback) return;
    char msg[96];
    snprintf(msg, sizeof msg, "audio: %d/%d clips decoded to log-mel", done, total);
    mmc_train_event ev = {.kind = MMC_TRAIN_EV_START, .message = msg};
    o->callback(o->user, &ev);
}

static int setup(void *self, mmc_train_loop *L, mmc_train_spec *spec, mmc_error *err) {
    rtask *t = self;
    const mmc_retrieval_train_opts *o = t->o;
    int rc = MMC_OK;
    if (L->resume) {
        if (!(t->m = mmc_retrieval_load(o->run_dir, err))) return err->code;
        t->cfg = *mmc_retrieval_get_config(t->m);
    } else {
        if (!t->cfg_in) return mmc_error_set(err, MMC_ERR_USAGE, "train: a config is required");
        t->cfg = *t->cfg_in;
        rc = mmc_retrieval_config_check(&t->cfg, "config", err);
    }
    int video = !strcmp(t->cfg.target, "video"), T = video ? t->cfg.video.frames : 1;
    t->audio = !strcmp(t->cfg.query, "audio"), t->text_target = !strcmp(t->cfg.target, "text");
    if (!rc) rc = ret_split_load_cfg(&t->cfg, &t->train, o->data_dir, "train", 0, audio_progress, (void *)o, err);
    if (!rc) task_split_keep_captions(&t->train, t->cfg.train_captions);
    if (!L->resume && !ret_has_text(&t->cfg)) { /* audio:image without transcripts: no text tower, no vocabulary */
        if (!rc && !(t->m = mmc_retrieval_create(&t->cfg, NULL, o->seed, err))) rc = err->code;
    } else if (!L->resume) { /* a new model: the vocabulary of the training captions */
        mmc_tokenizer *tok = rc ? NULL : train_vocab(t->train.caps, t->train.n_caps, !strcmp(t->cfg.lang, "zh"), t->cfg.min_count,
                                                     &t->cfg.max_len, err);
        if (!rc && !tok) rc = err->code;
        if (!rc) {
            t->m = mmc_retrieval_create(&t->cfg, tok, o->seed, err);
            tok = NULL;
            if (!t->m) rc = err->code;
        }
        mmc_tokenizer_free(tok);
    }
    if (rc) return rc;
    t->n_items = t->audio ? t->train.audio->n : t->train.n;
    t->B = t->cfg.batch_size < t->n_items ? t->cfg.batch_size : t->n_items;
    if (t->B < 2) return mmc_error_set(err, MMC_ERR_INPUT, "%s: need at least 2 training samples", o->data_dir);
    const char *vs = train_val_split(o);
    if (vs) { /* validation is optional, a broken split an error */
        if ((rc = ret_split_load(t->m, &t->val, o->data_dir, vs, o->val_max_images, err))) return rc;
        task_split_keep_captions(&t->val, t->cfg.train_captions);
        t->has_val = 1;
    }
    int S = t->cfg.image_size, text = ret_has_text(&t->cfg), L1 = t->cfg.max_len > 0 ? t->cfg.max_len : 1;
    t->spe = t->n_items / t->B;
    t->perm = mmc_malloc(sizeof(int) * (size_t)t->n_items);
    t->T = T;
    t->chw = t->text_target ? NULL : mmc_malloc(sizeof(float) * (size_t)t->B * T * 3 * S * S);
    t->ids = mmc_malloc(sizeof(int32_t) * (size_t)t->B * L1);
    t->mask = mmc_malloc(sizeof(int32_t) * (size_t)t->B * L1);
    t->texts = mmc_malloc(sizeof(char *) * (size_t)t->B);
    if (text && t->cfg.subword_buckets > 0) t->ngr = mmc_malloc(sizeof(int32_t) * (size_t)t->B * t->cfg.max_len * RET_NGRAM_MAX);
    if (t->audio) {
        t->Tmax = 1;
        for (int i = 0; i < t->train.audio->n; i++) t->Tmax = t->train.audio->frames[i] > t->Tmax ? t->train.audio->frames[i] : t->Tmax;
        if (t->cfg.audio.stretch > 0) { /* stretched clips grow, up to audio_max_frames */
            int grown = (int)ceilf((float)t->Tmax * (1.0f + t->cfg.audio.stretch)) + 1;
            t->Tmax = grown < t->cfg.audio.max_frames ? grown : t->cfg.audio.max_frames;
        }
        t->mel = mmc_malloc(sizeof(float) * (size_t)t->B * t->cfg.audio.n_mels * t->Tmax);
        t->scratch = mmc_malloc(sizeof(float) * (size_t)t->cfg.audio.n_mels * t->Tmax);
        t->mlen = mmc_malloc(sizeof(int) * (size_t)t->B);
        t->clip = mmc_malloc(sizeof(int) * (size_t)t->B);
        t->alpha = mmc_malloc(sizeof(float) * (size_t)t->B);
        t->beta = mmc_malloc(sizeof(float) * (size_t)t->B);
    }
    if (!t->perm || (!t->text_target && !t->chw) || !t->ids || !t->mask || !t->texts || (text && t->cfg.subword_buckets > 0 && !t->ngr) ||
        (t->audio && (!t->mel || !t->mlen || !t->clip || !t->scratch || !t->alpha || !t->beta)))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    spec->params = mmc_retrieval_params(t->m);
    spec->rng = mmc_retrieval_dropout_rng(t->m);
    spec->steps_per_epoch = t->spe;
    spec->batch_size = t->B;
    spec->n_train = t->n_items;
    TRAIN_SPEC_SCHEDULE(spec, t->cfg);
    spec->warmup_steps = t->cfg.warmup_steps;
    spec->rate_key = "pairs_per_s";
    spec->logit_scale = t->m->logit_scale;
    return MMC_OK;
}

/* Fills the batch of the current step: images (B, 3, S, S) shifted, one caption each.
 * Clips: (B·T, 3, S, S), one shift for all the frames of a clip (the same draws as an
 * image's), never flipped, never reversed in time. */
/* Length buckets (audio): a batch is padded to its longest clip, and clips run from 1 to
 * 10 s, so a random batch is about half padding. The epoch's permutation is cut into runs of
 * bucket_batches batches; each run is sorted by clip length (ties by clip index) and its
 * batches are then put in an order of their own (stream 5·2^40 + epoch), so a batch holds
 * clips of about one length and the lengths still come in no fixed order. */
static int bucket_epoch(rtask *t, int epoch, mmc_error *err) {
    int K = t->cfg.bucket_batches, B = t->B, run = K * B, n = t->n_items;
    if (K <= 0) return MMC_OK;
    int *tmp = mmc_malloc(sizeof(int) * (size_t)run), *order = mmc_malloc(sizeof(int) * (size_t)K);
    if (!tmp || !order) {
        mmc_free(tmp);
        mmc_free(order);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    }
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, ((uint64_t)5 << 40) + (uint64_t)epoch);
    for (int at = 0; at < n; at += run) {
        int m = n - at < run ? n - at : run, nb = m / B;
        if (task_sort_by_length(t->perm + at, m, t->train.audio->frames)) {
            mmc_free(tmp);
            mmc_free(order);
            return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
        }
        if (nb < 2) continue;
        mmc_rng_permutation(&r, order, nb);
        for (int b = 0; b < nb; b++) memcpy(tmp + (size_t)b * B, t->perm + at + (size_t)order[b] * B, sizeof(int) * (size_t)B);
        memcpy(t->perm + at, tmp, sizeof(int) * (size_t)nb * B);
    }
    mmc_free(tmp);
    mmc_free(order);
    return MMC_OK;
}

/* Query "audio": the items are clips (audio:image: the clip and its sample's image, shifted;
 * audio:text: the clip and its transcript), every clip padded with 0 to the batch's
 * longest, SpecAugment drawn from the step's stream. */
static int make_audio_batch(rtask *t, int64_t step, mmc_error *err) {
    int pos = (int)(step % t->spe), S = t->cfg.image_size, sh = t->cfg.augment_shift, M = t->cfg.audio.n_mels, Tb = 1;
    const task_audio *a = t->train.audio;
    int epoch = (int)(step / t->spe), was = t->perm_epoch;
    task_epoch_perm(t->o->seed, epoch, t->perm, t->n_items, &t->perm_epoch);
    if (was != t->perm_epoch && bucket_epoch(t, epoch, err)) return err->code;
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, ((uint64_t)1 << 40) + (uint64_t)step);
    for (int b = 0; b < t->B; b++) {
        int i = t->clip[b] = t->perm[pos * t->B + b];
        t->texts[b] = a->text[i];
        if (!t->text_target) {
            int dx = task_shift(&r, sh), dy = task_shift(&r, sh);
            task_split_chw(&t->train, a->sample[i], dx, dy, t->chw + (size_t)b * 3 * S * S);
        }
        /* another voice and tempo (1 when spec_warp / spec_stretch are 0: nothing drawn) */
        const mmc_audio_encoder_opts *ao = &t->cfg.audio;
        t->alpha[b] = ao->warp > 0 ? 1.0f + ao->warp * (2.0f * mmc_rng_uniform(&r) - 1.0f) : 1.0f;
        t->beta[b] = ao->stretch > 0 ? 1.0f + ao->stretch * (2.0f * mmc_rng_uniform(&r) - 1.0f) : 1.0f;
        int n = (int)lrintf((float)a->frames[i] * t->beta[b]);
        t->mlen[b] = n < 1 ? 1 : n > t->Tmax ? t->Tmax : n;
        Tb = t->mlen[b] > Tb ? t->mlen[b] : Tb;
    }
    for (int b = 0; b < t->B; b++) {
        float *x = t->mel + (size_t)b * M * Tb;
        int F = a->frames[t->clip[b]];
        if (t->alpha[b] == 1.0f && t->beta[b] == 1.0f) task_audio_mel(a, t->clip[b], x, Tb);
        else {
            task_audio_mel(a, t->clip[b], t->scratch, F);
            t->mlen[b] = enc_audio_warp(t->scratch, M, F, F, t->alpha[b], t->beta[b], x, Tb);
        }
        enc_audio_specaugment(&t->cfg.audio, x, Tb, t->mlen[b], &r);
    }
    t->Tb = Tb;
    if (!ret_has_text(&t->cfg)) return MMC_OK;
    int rc = mmc_tokenizer_encode_batch(mmc_retrieval_tokenizer(t->m), t->texts, t->B, t->cfg.max_len, t->ids, t->mask, err);
    if (!rc && t->ngr) ret_subword_from_texts(t->m, t->texts, t->ids, t->mask, t->B, t->cfg.max_len, t->ngr);
    return rc;
}

static int make_batch(rtask *t, int64_t step, mmc_error *err) {
    if (t->audio) return make_audio_batch(t, step, err);
    int pos = (int)(step % t->spe), S = t->cfg.image_size, sh = t->cfg.augment_shift;
    task_epoch_perm(t->o->seed, (int)(step / t->spe), t->perm, t->train.n, &t->perm_epoch);
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, ((uint64_t)1 << 40) + (uint64_t)step);
    for (int b = 0; b < t->B; b++) {
        int i = t->perm[pos * t->B + b];
        int c = (int)mmc_rng_below(&r, (uint32_t)t->train.cap_count[i]);
        int dx = task_shift(&r, sh), dy = task_shift(&r, sh);
        t->texts[b] = t->train.caps[t->train.cap_first[i] + c];
        if (t->train.T) task_split_clip_chw(&t->train, i, dx, dy, t->chw + (size_t)b * t->T * 3 * S * S);
        else task_split_chw(&t->train, i, dx, dy, t->chw + (size_t)b * 3 * S * S);
    }
    int rc = mmc_tokenizer_encode_batch(mmc_retrieval_tokenizer(t->m), t->texts, t->B, t->cfg.max_len, t->ids, t->mask, err);
    if (!rc && t->ngr) ret_subword_from_texts(t->m, t->texts, t->ids, t->mask, t->B, t->cfg.max_len, t->ngr);
    if (!rc && t->cfg.word_dropout > 0) { /* words (not start/end/pad) -> <unk>; the draws follow the above */
        mmc_tokenizer_specials sp = mmc_tokenizer_special_ids(mmc_retrieval_tokenizer(t->m));
        for (int64_t p = 0; p < (int64_t)t->B * t->cfg.max_len; p++) {
            int32_t id = t->ids[p];
            if (!t->mask[p] || id == sp.start || id == sp.end || id == sp.pad) continue;
            if (mmc_rng_uniform(&r) < t->cfg.word_dropout) t->ids[p] = sp.unk;
        }
    }
    return rc;
}


/* Precise BN (cnn with BatchNorm): the running averages lag the weights, and mid-run they
 * were far enough off to make validation collapse (docs/retrieval.md). Before validating,
 * the running mean and variance of every BatchNorm are recomputed at the current weights
 * as the plain average over bn_recompute batches of training images (batch k is folded in
 * with momentum 1/k), unshifted, in a fixed order of their own (stream 3·2^40: no other
 * draw moves). Only buffers change, which training never reads, so resume stays exact. */
typedef struct bn_fill {
    rtask *t;
    int *perm;
} bn_fill;
static int bn_batch(void *user, int k, float *x) {
    bn_fill *f = user;
    rtask *t = f->t;
    int S = t->cfg.image_size;
    if ((int64_t)(k + 1) * t->B > t->train.n) return 1;
    for (int b = 0; b < t->B; b++) {
        if (t->train.T) task_split_clip_chw(&t->train, f->perm[k * t->B + b], 0, 0, x + (size_t)b * t->T * 3 * S * S);
        else task_split_chw(&t->train, f->perm[k * t->B + b], 0, 0, x + (size_t)b * 3 * S * S);
    }
    return 0;
}

static int recompute_bn(rtask *t, mmc_error *err) {
    mmc_retrieval *m = t->m;
    int K = t->cfg.bn_recompute, S = t->cfg.image_size;
    if (m->img_kind != RET_IMG_CNN || m->group_norm || K <= 0) return MMC_OK;
    bn_fill f = {t, mmc_malloc(sizeof(int) * (size_t)t->train.n)};
    if (!f.perm) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, (uint64_t)3 << 40);
    mmc_rng_permutation(&r, f.perm, t->train.n);
    /* the cnn alone: an image batch (B, 3, S, S); clips (B·T, 3, S, S), or stacked (B, 3·T, S, S) */
    enc_image *e = m->video ? &m->vid.frame : &m->img;
    int early = m->video && m->vid.vt->early, n = early || !m->video ? t->B : t->B * t->T, c = early ? 3 * t->T : 3;
    int rc = enc_image_bn_recompute(e, K, n, c, S, t->chw, bn_batch, &f, err);
    mmc_free(f.perm);
    return rc;
}


static mmc_tensor *loss(void *self, mmc_ctx *ctx, const mmc_train_loop *L, int *items, mmc_error *err) {
    rtask *t = self;
    if (make_batch(t, L->ts.step, err)) return NULL;
    int S = t->cfg.image_size;
    if (t->audio) { /* (target, query) as (img, txt) */
        mmc_tensor *mel = mmc_tensor_from(ctx, 3, (int[]){t->B, t->cfg.audio.n_mels, t->Tb}, t->mel);
        mmc_tensor *qe = ret_audio_forward(ctx, t->m, mel, t->mlen, 1);
        mmc_tensor *xe = ret_has_text(&t->cfg) ? ret_text_forward_ngrams(ctx, t->m, t->ids, t->mask, t->ngr, t->B, t->cfg.max_len, 1) : NULL;
        *items = t->B;
        if (t->text_target) return mmc_retrieval_loss(ctx, t->m, xe, qe);
        mmc_tensor *ie = ret_image_forward(ctx, t->m, mmc_tensor_from(ctx, 4, (int[]){t->B, 3, S, S}, t->chw), 1);
        return ret_audio_loss(ctx, t->m, ie, qe, xe);
    }
    mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){t->B * t->T, 3, S, S}, t->chw);
    mmc_tensor *ie = ret_target_forward(ctx, t->m, x, 1);
    mmc_tensor *te = ret_text_forward_ngrams(ctx, t->m, t->ids, t->mask, t->ngr, t->B, t->cfg.max_len, 1);
    *items = t->B;
    return mmc_retrieval_loss(ctx, t->m, ie, te);
}

/* The "val" object of a retrieval run's metrics line. */
void train_val_retrieval(mmc_train_val *v, const mmc_retrieval_metrics *mt) {
    train_val_retrieval_named(v, mt, "text_to_image", "image_to_text");
}

void train_val_retrieval_named(mmc_train_val *v, const mmc_retrieval_metrics *mt, const char *q2t, const char *t2q) {
    const mmc_retrieval_metrics m = *mt;
    v->have = 1;
    v->ret = m;
    v->has_ret = 1;
    v->score = m.t2i.r1 + m.t2i.r5 + m.t2i.r10;
    snprintf(v->json, sizeof v->json,
             "{\"%s\": {\"R@1\": %.4f, \"R@5\": %.4f, \"R@10\": %.4f, \"median_rank\": %g}, "
             "\"%s\": {\"R@1\": %.4f, \"R@5\": %.4f, \"R@10\": %.4f, \"median_rank\": %g}, \"rsum\": %.2f}",
             q2t, m.t2i.r1, m.t2i.r5, m.t2i.r10, m.t2i.median_rank, t2q, m.i2t.r1, m.i2t.r5, m.i2t.r10, m.i2t.median_rank, m.rsum);
}

static int validate(void *self, mmc_train_loop *L, mmc_train_val *v, mmc_error *err) {
    (void)L;
    rtask *t = self;
    int rc = recompute_bn(t, err);
    if (rc || !t->has_val) return rc;
    mmc_retrieval_metrics mt;
    if ((rc = ret_dataset_evaluate(t->m, &t->val, &mt, err))) return rc;
    if (t->audio) {
        train_val_retrieval_named(v, &mt, t->text_target ? "audio_to_text" : "audio_to_image", t->text_target ? "text_to_audio" : "image_to_audio");
        return MMC_OK;
    }
    train_val_retrieval(v, &mt);
    if (t->train.T) { /* metrics.jsonl of a text:video run: text_to_video, video_to_text (same lengths) */
        char *at;
        if ((at = strstr(v->json, "\"text_to_image\""))) memcpy(at + 9, "video", 5);
        if ((at = strstr(v->json, "\"image_to_text\""))) memcpy(at + 1, "video", 5);
    }
    return MMC_OK;
}

static int save_best(void *self, const char *path, mmc_error *err) {
    const char *slash = strrchr(path, '/');
    return mmc_retrieval_save(((rtask *)self)->m, ((rtask *)self)->o->run_dir, slash ? slash + 1 : path, err);
}

static char *config_json(void *self, const mmc_train_loop *L, mmc_error *err) {
    return ret_config_text(((rtask *)self)->m, L->o->run_dir, err);
}

static void describe(void *self, const mmc_train_loop *L, char *buf, size_t n) {
    rtask *t = self;
    char vdesc[160];
    if (t->train.T)
        snprintf(vdesc, sizeof vdesc, "video %s over %d frames of %s (%d MB of clips in memory)", t->cfg.video.encoder, t->T,
                 t->cfg.video.frame_encoder, (int)(((size_t)t->train.n * t->T * t->train.S * t->train.S * 3) >> 20));
    else if (t->text_target) snprintf(vdesc, sizeof vdesc, "target text");
    else if (t->audio && t->cfg.transcripts) snprintf(vdesc, sizeof vdesc, "image %s, transcripts %s", t->cfg.image.encoder, t->cfg.text.encoder);
    else snprintf(vdesc, sizeof vdesc, "image %s", t->cfg.image.encoder);
    if (t->audio) {
        const task_audio *a = t->train.audio;
        snprintf(buf, n,
                 "retrieval: %d %s spoken captions of %d samples (%d MB of log-mel in memory), longest %d frames, %" PRId64
                 " parameters, audio %s over %d convs (stride %d), %s, loss %s, batch %d, %d steps/epoch",
                 a->n, t->cfg.lang, t->train.n, (int)(a->off[a->n] >> 20), t->Tmax, mmc_params_count(L->spec.params, MMC_PARAM),
                 t->cfg.audio.encoder, t->cfg.audio.convs, t->cfg.audio.stride, vdesc, t->cfg.loss, t->B, t->spe);
        return;
    }
    snprintf(buf, n,
             "retrieval: %d %s training pairs (%d captions), vocab %d, max_len %d, %" PRId64 " parameters, %s, text %s, "
             "loss %s, batch %d, %d steps/epoch",
             t->train.n, t->cfg.lang, t->train.n_caps, mmc_tokenizer_vocab_size(mmc_retrieval_tokenizer(t->m)), t->cfg.max_len,
             mmc_params_count(L->spec.params, MMC_PARAM), vdesc, t->cfg.text.encoder, t->cfg.loss, t->B, t->spe);
}

/* ------------------------------------------------- run folders of before the loop */

static int legacy_trainer(rtask *t, mmc_train_loop *L, mmc_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/trainer.json", t->o->run_dir);
    cJSON *r;
    int rc = mmc_json_load(path, 1u << 20, 1, &r, err);
    if (rc) return rc;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(r, "step"), *sd = cJSON_GetObjectItemCaseSensitive(r, "seed"),
                *ts = cJSON_GetObjectItemCaseSensitive(r, "train_seconds"), *bs = cJSON_GetObjectItemCaseSensitive(r, "best_score"),
                *dr = cJSON_GetObjectItemCaseSensitive(r, "dropout_rng"), *b = cJSON_GetObjectItemCaseSensitive(r, "batch_size"),
                *nt = cJSON_GetObjectItemCaseSensitive(r, "n_train");
    int ok = cJSON_IsNumber(step) && step->valuedouble >= 0 && step->valuedouble < 1e12 &&
             step->valuedouble == floor(step->valuedouble) && cJSON_IsString(sd) && cJSON_IsNumber(ts) && isfinite(ts->valuedouble) &&
             ts->valuedouble >= 0 && cJSON_IsNumber(bs) && isfinite(bs->valuedouble) && cJSON_IsArray(dr) && cJSON_GetArraySize(dr) == 2 &&
             cJSON_IsString(cJSON_GetArrayItem(dr, 0)) && cJSON_IsString(cJSON_GetArrayItem(dr, 1)) && cJSON_IsNumber(b) &&
             b->valuedouble >= 1 && b->valuedouble <= 65536 && cJSON_IsNumber(nt) && nt->valuedouble >= 1 && nt->valuedouble <= 1e9;
    mmc_trainer_state s = L->ts;
    if (ok) {
        char *end = NULL;
        ok = mmc_run_parse_u64(sd->valuestring, &s.seed);
        errno = 0;
        s.rng.state = strtoull(cJSON_GetArrayItem(dr, 0)->valuestring, &end, 16);
        ok = ok && errno == 0 && end && !*end;
        s.rng.inc = strtoull(cJSON_GetArrayItem(dr, 1)->valuestring, &end, 16);
        ok = ok && errno == 0 && end && !*end && (s.rng.inc & 1);
    }
    if (ok) {
        s.step = (int64_t)step->valuedouble;
        s.train_seconds = ts->valuedouble;
        s.best_metric = bs->valuedouble >= 0 ? bs->valuedouble : NAN; /* -1: no validation yet */
        snprintf(s.best_metric_name, sizeof s.best_metric_name, "val_rsum_t2i");
        s.batch_size = (int64_t)b->valuedouble;
        s.n_train = (int64_t)nt->valuedouble;
        s.has_run = 1;
        L->ts = s;
    }
    cJSON_Delete(r);
    if (!ok)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: malformed (expected step, seed, train_seconds, best_score, best_step, dropout_rng, "
                             "batch_size, n_train)", path);
    return MMC_OK;
}

/* optimizer.safetensors of before the loop: exp_avg.NAME, exp_avg_sq.NAME, step.NAME. */
static int legacy_optimizer(rtask *t, mmc_train_loop *L, mmc_optim *opt, mmc_error *err) {
    char path[4200], name[600];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", t->o->run_dir);
    mmc_safetensors st;
    int rc = mmc_safetensors_open(&st, path, err);
    if (rc) return rc;
    cJSON *meta = st.metadata_json ? cJSON_Parse(st.metadata_json) : NULL;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(meta, "checkpoint_step");
    uint64_t at = 0;
    if (cs && (!cJSON_IsString(cs) || !mmc_run_parse_u64(cs->valuestring, &at) || at != (uint64_t)L->ts.step))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: written at step %s but trainer.json is at step %" PRId64 " (an interrupted save?)",
                           path, cJSON_IsString(cs) ? cs->valuestring : "?", L->ts.step);
    cJSON_Delete(meta);
    /* validate everything first, then copy: a bad file changes nothing */
    int np = mmc_optim_count(opt);
    mmc_tensor **got = mmc_calloc((size_t)np * 3 + 1, sizeof *got);
    if (!rc && !got) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    for (int i = 0; i < np && !rc; i++)
        for (int s = 0; s < 3 && !rc; s++) {
            snprintf(name, sizeof name, "%s%s", s == 0 ? "exp_avg." : s == 1 ? "exp_avg_sq." : "step.", mmc_optim_param(opt, i)->name);
            mmc_tensor *src = got[i * 3 + s] = mmc_safetensors_get(&st, name, err);
            mmc_tensor *dst = s < 2 ? mmc_optim_state(opt, i, s) : NULL;
            if (!src) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: missing tensor '%s'", path, name); break; }
            if (s < 2 && (!dst || !mmc_tensor_same_shape(src, dst)))
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has the wrong shape", path, name);
            else if (s == 2 && (src->numel != 1 || !(src->data[0] >= 0) || src->data[0] > 1e9f))
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' is not a step count", path, name);
            for (int64_t e = 0; s < 2 && !rc && e < src->numel; e++) /* NaN moments would poison the weights */
                if (!isfinite(src->data[e]) || (s == 1 && src->data[e] < 0))
                    rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' holds %g at element %lld (moments are finite%s)", path,
                                       name, (double)src->data[e], (long long)e, s == 1 ? " and not negative" : "");
        }
    for (int i = 0; i < np && !rc; i++) {
        for (int s = 0; s < 2; s++) memcpy(mmc_optim_state(opt, i, s)->data, got[i * 3 + s]->data, sizeof(float) * (size_t)got[i * 3 + s]->numel);
        mmc_optim_set_steps(opt, i, (int64_t)got[i * 3 + 2]->data[0]);
    }
    for (int i = 0; got && i < np * 3; i++) mmc_tensor_free(got[i]);
    mmc_free(got);
    mmc_safetensors_close(&st);
    return rc;
}

static int load_legacy(void *self, mmc_train_loop *L, mmc_optim *opt, mmc_error *err) {
    rtask *t = self;
    int rc = legacy_trainer(t, L, err);
    return rc ? rc : legacy_optimizer(t, L, opt, err);
}

static const mmc_task RETRIEVAL_TASK = {
    .name = "retrieval",
    .best_metric = "val_rsum_t2i",
    .setup = setup,
    .loss = loss,
    .validate = validate,
    .save_best = save_best,
    .config_json = config_json,
    .describe = describe,
    .load_legacy = load_legacy,
    .release = release,
};

int mmc_retrieval_train(const mmc_retrieval_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    rtask t = {.o = o, .cfg_in = cfg, .perm_epoch = -1};
    return mmc_train_run(&RETRIEVAL_TASK, &t, o, err);
}

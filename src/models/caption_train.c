/* caption_train.c — the captioner as a task of the training loop (`mmc train caption`;
 * the loop is train_loop.c).
 *
 * Data: mmc_loader over DIR/manifest-train.jsonl: images decoded once and cached, no
 * flips or colour jitter (the captions say "left of" and name colours), one caption per
 * sample drawn from (seed, epoch, position), pre-tokenised. train_captions "first" keeps
 * only each sample's first caption (e.g. the emoji name).
 *
 * Determinism and resume: model init from the seed; batch order and caption choice are
 * the loader's, a function of (seed, epoch, batch); dropout draws from the model's rng,
 * saved as trainer.json's rng. A checkpoint (the loop's: model + BN buffers, AdamW
 * moments and step counts, trainer.json; config.json carries the vocabulary) therefore
 * continues bit-exactly: N steps straight equal N/2 + resume + N/2 (test
 * caption_resume_bit_exact). Runs from before the loop kept seed, n_train, batch_size and
 * train_seconds in config.json's "training" object; a resume reads them from there.
 *
 * Schedule: linear warm-up over warmup_steps, then cosine decay to lr * min_lr_ratio over
 * the remaining steps, or over the training time of a --minutes run (train_loop_lr).
 *
 * Validation: greedy decoding of the first val_max_images val images after each epoch
 * and at the end, corpus BLEU-4 against all their captions; the best model is kept as
 * model-best.safetensors. */
#include "caption_internal.h"
#include "task_util.h"
#include "train_loop.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct ctask {
    const mmc_retrieval_train_opts *o;
    const mmc_caption_config *cfg_in;
    mmc_caption_config cfg;
    mmc_captioner *m;
    task_split data;         /* the training captions (no pixels: the loader reads the images) */
    mmc_loader *ld;          /* images; clips are batched here (make_clip_batch) */
    int video, T, perm_epoch;
    int *perm;
    float *chw;              /* clips: (B·T, 3, S, S) */
    int32_t *ids, *mask;
    const char **texts;
    const char *val_split;   /* NULL: none */
    int B, n_train, val_max;
    int64_t spe;
} ctask;

static void release(void *self) {
    ctask *t = self;
    mmc_loader_free(t->ld);
    mmc_free(t->perm);
    mmc_free(t->chw);
    mmc_free(t->ids);
    mmc_free(t->mask);
    mmc_free(t->texts);
    mmc_captioner_free(t->m);
    task_split_free(&t->data);
}

/* The training split's captions in the language (every sample needs one); "first" keeps
 * only each sample's first, for the vocabulary and the loader alike. */
static int load_split(ctask *t, mmc_error *err) {
    int zh = !strcmp(t->cfg.lang, "zh"), rc;
    t->video = !strcmp(t->cfg.target, "video");
    t->T = t->video ? t->cfg.video.frames : 1;
    if (t->video) /* clips: decoded once, held as bytes */
        rc = task_split_load_video(&t->data, t->o->data_dir, "train", t->cfg.lang, t->cfg.image_size, t->T, 0, err);
    else rc = task_split_load(&t->data, t->o->data_dir, "train", t->cfg.lang, 0, 0, err);
    t->n_train = t->data.n;
    if (rc || strcmp(t->cfg.train_captions, "first")) return rc;
    task_split_keep_captions(&t->data, 1);
    for (int i = 0; i < t->data.n; i++) /* the others stay allocated and are freed with the manifest */
        *(zh ? &t->data.man->samples[i].n_captions_zh : &t->data.man->samples[i].n_captions) = 1;
    return MMC_OK;
}

/* A folder that already holds a run of another task is not overwritten. */
static int check_run_dir(const char *run_dir, mmc_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    struct stat st;
    if (stat(path, &st) != 0) return MMC_OK;
    uint8_t *buf = NULL;
    size_t n = 0;
    if (mmc_read_file(path, 64u << 20, &buf, &n, err)) return MMC_OK; /* unreadable: save will say */
    cJSON *r = cJSON_ParseWithLength((const char *)buf, n);
    mmc_free(buf);
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(r, "task");
    int ours = cJSON_IsString(task) && !strcmp(task->valuestring, "caption");
    cJSON_Delete(r);
    if (!ours)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s holds a run of another task (its config.json has no \"task\": \"caption\"); "
                             "choose another --out", run_dir);
    return MMC_OK;
}

static int loader_init(ctask *t, mmc_error *err);
static int clip_batches_init(ctask *t, mmc_error *err);

static int setup(void *self, mmc_train_loop *L, mmc_train_spec *spec, mmc_error *err) {
    ctask *t = self;
    const mmc_retrieval_train_opts *o = t->o;
    int rc = MMC_OK;
    if (L->resume) {
        if (!(t->m = mmc_captioner_load(o->run_dir, NULL, err))) return err->code;
        t->cfg = *mmc_captioner_config(t->m);
        if (!L->legacy && !L->saved.has_run) rc = train_read_config_training(o->run_dir, &L->saved, err);
        if (!rc) rc = load_split(t, err);
        t->B = (int)L->saved.batch_size;
        if (!rc && (t->B < 1 || t->B > t->n_train)) t->B = t->cfg.batch_size < t->n_train ? t->cfg.batch_size : t->n_train;
    } else {
        if (!t->cfg_in) return mmc_error_set(err, MMC_ERR_USAGE, "train: a config is required");
        t->cfg = *t->cfg_in;
        rc = mmc_caption_config_check(&t->cfg, "config", err);
        if (!rc) rc = check_run_dir(o->run_dir, err);
        if (!rc) rc = load_split(t, err);
        mmc_tokenizer *tok = rc ? NULL : train_vocab(t->data.caps, t->data.n_caps, !strcmp(t->cfg.lang, "zh"), t->cfg.min_count,
                                                     &t->cfg.max_len, err);
        if (!rc && !tok) rc = err->code;
        if (!rc) {
            t->m = mmc_captioner_create(&t->cfg, tok, o->seed, err);
            if (!t->m) rc = err->code;
        } else mmc_tokenizer_free(tok);
        t->B = t->cfg.batch_size < t->n_train ? t->cfg.batch_size : t->n_train;
    }
    if (rc) return rc;
    if (t->video) rc = clip_batches_init(t, err);
    else rc = loader_init(t, err);
    if (rc) return rc;
    t->val_split = train_val_split(o);
    t->val_max = o->val_max_images > 0 ? o->val_max_images : t->cfg.val_max_images;
    spec->params = mmc_captioner_params(t->m);
    spec->rng = mmc_captioner_dropout_rng(t->m);
    spec->steps_per_epoch = t->spe;
    spec->batch_size = t->B;
    spec->n_train = t->n_train;
    TRAIN_SPEC_SCHEDULE(spec, t->cfg);
    spec->warmup_steps = t->cfg.warmup_steps;
    spec->rate_key = "images_per_s";
    return MMC_OK;
}

/* Images: the loader, batches of B images (cached) and one tokenised caption each. */
static int loader_init(ctask *t, mmc_error *err) {
    const mmc_retrieval_train_opts *o = t->o;
    mmc_loader_opts lo = mmc_loader_defaults(t->B, t->cfg.image_size);
    lo.train = 1;
    lo.drop_last = 1;
    lo.seed = o->seed;
    lo.workers = 1;
    lo.cache = 1;
    lo.hflip = 0.0f;
    lo.brightness = lo.contrast = lo.saturation = 0.0f;
    for (int k = 0; k < 3; k++) lo.mean[k] = lo.std[k] = 0.5f;
    lo.captions_zh = !strcmp(t->cfg.lang, "zh");
    lo.tokenizer = mmc_captioner_tokenizer(t->m);
    lo.max_len = t->cfg.max_len;
    if (!(t->ld = mmc_loader_new(t->data.man, &lo, err))) return err->code;
    t->spe = mmc_loader_batches_per_epoch(t->ld);
    return MMC_OK;
}

/* Clips: the batch buffers; the order of epoch e is task_epoch_perm's, the caption of each
 * clip drawn from stream 2^40 + step, so the data position is the step count alone. */
static int clip_batches_init(ctask *t, mmc_error *err) {
    int S = t->cfg.image_size, ML = t->cfg.max_len;
    t->spe = t->n_train / t->B;
    t->perm = mmc_malloc(sizeof(int) * (size_t)t->n_train);
    t->chw = mmc_malloc(sizeof(float) * (size_t)t->B * t->T * 3 * S * S);
    t->ids = mmc_malloc(sizeof(int32_t) * (size_t)t->B * ML);
    t->mask = mmc_malloc(sizeof(int32_t) * (size_t)t->B * ML);
    t->texts = mmc_malloc(sizeof(char *) * (size_t)t->B);
    t->perm_epoch = -1;
    if (!t->perm || !t->chw || !t->ids || !t->mask || !t->texts) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    return MMC_OK;
}

static int make_clip_batch(ctask *t, int64_t step, mmc_error *err) {
    int pos = (int)(step % t->spe), S = t->cfg.image_size;
    task_epoch_perm(t->o->seed, (int)(step / t->spe), t->perm, t->n_train, &t->perm_epoch);
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, ((uint64_t)1 << 40) + (uint64_t)step);
    for (int b = 0; b < t->B; b++) {
        int i = t->perm[pos * t->B + b];
        t->texts[b] = t->data.caps[t->data.cap_first[i] + (int)mmc_rng_below(&r, (uint32_t)t->data.cap_count[i])];
        task_split_clip_chw(&t->data, i, 0, 0, t->chw + (size_t)b * t->T * 3 * S * S);
    }
    return mmc_tokenizer_encode_batch(mmc_captioner_tokenizer(t->m), t->texts, t->B, t->cfg.max_len, t->ids, t->mask, err);
}

static mmc_tensor *loss(void *self, mmc_ctx *ctx, const mmc_train_loop *L, int *items, mmc_error *err) {
    ctask *t = self;
    if (t->video) {
        int S = t->cfg.image_size;
        if (make_clip_batch(t, L->ts.step, err)) return NULL;
        *items = t->B;
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){t->B * t->T, 3, S, S}, t->chw);
        return mmc_captioner_loss(ctx, t->m, x, t->ids, t->mask, t->B, t->cfg.max_len, 1);
    }
    const mmc_loader_batch *b = NULL;
    if (mmc_loader_next(t->ld, &b, err)) return NULL;
    if (!b) { mmc_error_set(err, MMC_ERR_RUNTIME, "train: the loader ended early"); return NULL; }
    *items = b->size;
    return mmc_captioner_loss(ctx, t->m, b->images, b->ids, b->mask, b->size, t->cfg.max_len, 1);
}

/* A resume continues the loader where the checkpoint stood. */
static int start(void *self, const mmc_train_loop *L, mmc_error *err) {
    ctask *t = self;
    mmc_loader_state ls = {L->ts.step / t->spe, L->ts.step % t->spe};
    return L->ts.step > 0 && t->ld ? mmc_loader_set_state(t->ld, ls, err) : MMC_OK;
}

/* Precise BN for clips (bn_recompute, as retrieval_train.c): before validating, the
 * running mean and variance of the video encoder's BatchNorms are recomputed at the current
 * weights as the plain average over bn_recompute batches of training clips (batch k folded
 * in with momentum 1/k), in a fixed order of their own (stream 3·2^40). Only buffers change,
 * which training never reads, so a resume stays exact. */
typedef struct bn_fill {
    ctask *t;
    int *perm;
} bn_fill;
static int bn_batch(void *user, int k, float *x) {
    bn_fill *f = user;
    ctask *t = f->t;
    int S = t->cfg.image_size;
    if ((int64_t)(k + 1) * t->B > t->n_train) return 1;
    for (int b = 0; b < t->B; b++) task_split_clip_chw(&t->data, f->perm[k * t->B + b], 0, 0, x + (size_t)b * t->T * 3 * S * S);
    return 0;
}

static int recompute_bn(ctask *t, mmc_error *err) {
    if (!t->video || t->cfg.bn_recompute <= 0) return MMC_OK;
    bn_fill f = {t, mmc_malloc(sizeof(int) * (size_t)t->n_train)};
    if (!f.perm) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, (uint64_t)3 << 40);
    mmc_rng_permutation(&r, f.perm, t->n_train);
    /* the frame encoder alone (the temporal module draws no dropout here) */
    int early = t->m->vid.vt->early, n = early ? t->B : t->B * t->T, c = early ? 3 * t->T : 3;
    int rc = enc_image_bn_recompute(&t->m->vid.frame, t->cfg.bn_recompute, n, c, t->cfg.image_size, t->chw, bn_batch, &f, err);
    mmc_free(f.perm);
    return rc;
}

static int validate(void *self, mmc_train_loop *L, mmc_train_val *v, mmc_error *err) {
    ctask *t = self;
    int brc = recompute_bn(t, err);
    if (brc) return brc;
    if (!t->val_split) return MMC_OK;
    const mmc_retrieval_train_opts *o = L->o;
    mmc_caption_opts co = mmc_caption_opts_default(t->m);
    co.beam = 1;
    co.no_repeat_ngram = 0;
    mmc_caption_metrics mt;
    double t0 = mmc_now();
    int rc = mmc_captioner_evaluate(t->m, o->data_dir, t->val_split, &co, t->val_max, &mt, err);
    if (rc) return rc;
    v->have = 1;
    v->score = mt.bleu[3];
    snprintf(v->line, sizeof v->line, "greedy BLEU-4 %.4f (BLEU-1 %.3f), CIDEr-D %.3f, exact match %.3f on %d val %s (%.1f s)",
             mt.bleu[3], mt.bleu[0], mt.cider_d, mt.exact_match, mt.n_images, t->video ? "clips" : "images", mmc_now() - t0);
    snprintf(v->json, sizeof v->json,
             "{\"BLEU-1\": %.6f, \"BLEU-2\": %.6f, \"BLEU-3\": %.6f, \"BLEU-4\": %.6f, \"CIDEr-D\": %.6f, \"exact_match\": %.6f, "
             "\"n_images\": %d, \"decode\": \"greedy\"}",
             mt.bleu[0], mt.bleu[1], mt.bleu[2], mt.bleu[3], mt.cider_d, mt.exact_match, mt.n_images);
    return MMC_OK;
}

static int save_best(void *self, const char *path, mmc_error *err) {
    return mmc_params_save(mmc_captioner_params(((ctask *)self)->m), path, "{\"format\":\"mmc-caption\"}", err);
}

/* config.json: the model's config and vocabulary, and (for older readers) the run. */
static char *config_json(void *self, const mmc_train_loop *L, mmc_error *err) {
    ctask *t = self;
    char training[256];
    snprintf(training, sizeof training,
             "{\"seed\": \"%" PRIu64 "\", \"n_train\": %d, \"batch_size\": %d, \"train_seconds\": %.17g}", L->o->seed, t->n_train,
             t->B, L->ts.train_seconds);
    return cap_config_text(t->m, training, err);
}

static void describe(void *self, const mmc_train_loop *L, char *buf, size_t n) {
    ctask *t = self;
    snprintf(buf, n,
             "caption: %d %s training %s, vocab %d, max_len %d, %" PRId64 " parameters, %s %s%s%s (%d regions), decoder %s, "
             "batch %d, %" PRId64 " steps/epoch",
             t->n_train, t->cfg.lang, t->video ? "clips" : "images", mmc_tokenizer_vocab_size(mmc_captioner_tokenizer(t->m)),
             t->cfg.max_len, mmc_params_count(L->spec.params, MMC_PARAM), t->video ? "video" : "image",
             t->video ? t->cfg.video.encoder : t->cfg.image.encoder, t->video ? " over frames of " : "",
             t->video ? t->cfg.video.frame_encoder : "", t->m->L, t->cfg.decoder, t->B, t->spe);
}

static const char *end_note(void *self, const mmc_train_loop *L) {
    return ((ctask *)self)->val_split && !isnan(L->ts.best_metric) ? NULL : "no validation split";
}

static const mmc_task CAPTION_TASK = {
    .name = "caption",
    .best_metric = "val_bleu4",
    .setup = setup,
    .start = start,
    .loss = loss,
    .validate = validate,
    .save_best = save_best,
    .config_json = config_json,
    .describe = describe,
    .end_note = end_note,
    .release = release,
};

int mmc_caption_train(const mmc_caption_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    ctask t = {.o = o, .cfg_in = cfg};
    return mmc_train_run(&CAPTION_TASK, &t, o, err);
}

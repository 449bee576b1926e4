/* vqa_train.c — the fusion model as a task of the training loop (`mmc train vqa|classify`;
 * the loop is train_loop.c).
 *
 * A step takes batch_images images (an epoch is a permutation of the training images,
 * drawn from stream 1000 + epoch of the seed) and per_image texts of each (drawn without
 * repeats, with the image's shift, from stream 2^40 + step), so the CNN stages before the
 * question enters run once per image. The loss is cross-entropy over the answers.
 *
 * Determinism and resume: everything random is a function of (seed, step) except dropout,
 * whose rng the loop saves in trainer.json, so N steps straight equal N/2 + resume + N/2
 * bit for bit at a given thread count (test vqa_resume_bit_exact). The schedule is a
 * warm-up over cfg.warmup of the run (from 0.01·lr), then cosine (train_loop_lr). Runs
 * from before the loop kept the training milliseconds in trainer.json's schedule_step and
 * the seed and n_train in config.json; a resume reads them from there. */
#include "vqa_internal.h"
#include "task_util.h"
#include "train_loop.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vtask {
    const mmc_retrieval_train_opts *o;
    const mmc_vqa_config *cfg_in;
    mmc_vqa_config cfg;
    mmc_vqa *m;
    vqa_dataset train, val;
    int has_val;
    uint64_t seed;
    int B, K, spe, max_n;
    int *perm, perm_epoch;
    float *chw;
    int32_t *ids, *mask;
    int *item_img, *targets, *pick;
    int *item_sample, *mel_len; /* query "audio": each item's sample, its sound's frames */
    int flip;                   /* augment_flip in effect */
} vtask;

/* ------------------------------------------------------------- vocabularies */

typedef struct ans_count {
    const char *s;
    int n;
} ans_count;
static int cmp_ans(const void *a, const void *b) {
    const ans_count *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->s, y->s);
}
static int cmp_str(const void *a, const void *b) { return strcmp(((const ans_count *)a)->s, ((const ans_count *)b)->s); }

/* The answers of the training texts, most frequent first (ties: byte order). */
static int build_answers(const vqa_dataset *d, const char ***out, int *n_out, mmc_error *err) {
    ans_count *a = mmc_malloc(sizeof *a * (size_t)(d->n_items + 1));
    if (!a) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    for (int i = 0; i < d->n_items; i++) a[i].s = d->item_answer[i], a[i].n = 1;
    qsort(a, (size_t)d->n_items, sizeof *a, cmp_str);
    int u = 0;
    for (int i = 0; i < d->n_items; i++) {
        if (u > 0 && !strcmp(a[u - 1].s, a[i].s)) a[u - 1].n++;
        else a[u++] = a[i];
    }
    qsort(a, (size_t)u, sizeof *a, cmp_ans);
    const char **cls = mmc_malloc(sizeof(char *) * (size_t)(u + 1));
    if (!cls) { mmc_free(a); return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory"); }
    for (int i = 0; i < u; i++) cls[i] = a[i].s;
    mmc_free(a);
    *out = cls;
    *n_out = u;
    return MMC_OK;
}

/* n planes of S×S, each mirrored left-right (fx) and/or top-bottom (fy), in place */
static void flip_planes(float *x, int n, int S, int fx, int fy) {
    for (int p = 0; p < n; p++) {
        float *q = x + (size_t)p * S * S;
        for (int y = 0; fx && y < S; y++)
            for (int a = 0, b = S - 1; a < b; a++, b--) {
                float v = q[(size_t)y * S + a];
                q[(size_t)y * S + a] = q[(size_t)y * S + b];
                q[(size_t)y * S + b] = v;
            }
        for (int a = 0, b = S - 1; fy && a < b; a++, b--)
            for (int xx = 0; xx < S; xx++) {
                float v = q[(size_t)a * S + xx];
                q[(size_t)a * S + xx] = q[(size_t)b * S + xx];
                q[(size_t)b * S + xx] = v;
            }
    }
}

/* Fills the batch of the current step; returns the number of texts. */
static int make_batch(vtask *t, int64_t step) {
    const vqa_dataset *d = &t->train;
    int pos = (int)(step % t->spe), S = t->cfg.image_size, sh = t->cfg.augment_shift, T = d->T;
    task_epoch_perm(t->seed, (int)(step / t->spe), t->perm, d->n, &t->perm_epoch);
    mmc_rng r;
    mmc_rng_seed(&r, t->seed, ((uint64_t)1 << 40) + (uint64_t)step);
    int N = 0, blind = !d->pixels;
    for (int b = 0; b < t->B; b++) {
        int i = t->perm[pos * t->B + b];
        int dx = task_shift(&r, sh), dy = task_shift(&r, sh);
        if (!blind) vqa_dataset_chw(d, i, dx, dy, t->chw + (size_t)b * d->frames * 3 * S * S);
        if (t->flip) { /* drawn only when on: the stream of runs without flips is unchanged */
            int fx = (int)mmc_rng_below(&r, 2), fy = (int)mmc_rng_below(&r, 2);
            if (!blind) flip_planes(t->chw + (size_t)b * d->frames * 3 * S * S, d->frames * 3, S, fx, fy);
        }
        int cnt = d->img_count[i], k = cnt < t->K ? cnt : t->K;
        for (int j = 0; j < cnt; j++) t->pick[j] = j;
        for (int j = 0; j < k; j++) { /* partial Fisher–Yates: k distinct texts */
            int s = j + (int)mmc_rng_below(&r, (uint32_t)(cnt - j)), tmp = t->pick[j];
            t->pick[j] = t->pick[s];
            t->pick[s] = tmp;
            int it = d->img_first[i] + t->pick[j];
            t->item_img[N] = b;
            t->item_sample[N] = i;
            t->targets[N] = d->item_class[it];
            memcpy(t->ids + (size_t)N * T, d->ids + (size_t)it * T, sizeof(int32_t) * (size_t)T);
            memcpy(t->mask + (size_t)N * T, d->mask + (size_t)it * T, sizeof(int32_t) * (size_t)T);
            N++;
        }
    }
    return N;
}

static void release(void *self) {
    vtask *t = self;
    mmc_vqa_free(t->m);
    vqa_dataset_free(&t->train);
    vqa_dataset_free(&t->val);
    mmc_free(t->perm);
    mmc_free(t->chw);
    mmc_free(t->ids);
    mmc_free(t->mask);
    mmc_free(t->item_img);
    mmc_free(t->targets);
    mmc_free(t->pick);
    mmc_free(t->item_sample);
    mmc_free(t->mel_len);
}

static int setup(void *self, mmc_train_loop *L, mmc_train_spec *spec, mmc_error *err) {
    vtask *t = self;
    const mmc_retrieval_train_opts *o = t->o;
    int rc = MMC_OK, n_train = 0;
    if (L->resume) {
        if (!(t->m = vqa_load_full(o->run_dir, NULL, &t->seed, &n_train, err))) return err->code;
        t->cfg = *mmc_vqa_get_config(t->m);
        rc = vqa_dataset_load(&t->train, o->data_dir, "train", &t->cfg, 0, err);
        if (!L->saved.has_run) { /* before the loop: seed and n_train in config.json, milliseconds in schedule_step */
            L->saved.has_run = 1;
            L->saved.seed = t->seed;
            L->saved.n_train = n_train;
            L->saved.train_seconds = (double)L->saved.schedule_step / 1000.0;
            L->saved.batch_size = t->cfg.batch_images < t->train.n ? t->cfg.batch_images : t->train.n;
        }
    } else {
        if (!t->cfg_in) return mmc_error_set(err, MMC_ERR_USAGE, "train: a config is required");
        t->cfg = *t->cfg_in;
        t->seed = o->seed;
        rc = mmc_vqa_config_check(&t->cfg, "config", err);
        if (!rc) rc = vqa_dataset_load(&t->train, o->data_dir, "train", &t->cfg, 0, err);
        mmc_tokenizer *tok = NULL;
        const char **cls = NULL;
        int n_cls = 0;
        if (!rc && strcmp(t->cfg.query, "text")) t->cfg.max_len = 3; /* no text: the empty one's <start> <end> */
        if (!rc && !(tok = train_vocab(t->train.item_text, t->train.n_items, 0, t->cfg.min_count, &t->cfg.max_len, err)))
            rc = err->code ? err->code : MMC_ERR_RUNTIME;
        if (!rc) rc = build_answers(&t->train, &cls, &n_cls, err);
        if (!rc) {
            t->m = mmc_vqa_create(&t->cfg, tok, cls, n_cls, t->seed, err);
            tok = NULL;
            if (!t->m) rc = err->code;
        }
        mmc_tokenizer_free(tok);
        mmc_free(cls);
    }
    if (!rc) rc = vqa_dataset_bind(&t->train, t->m, err);
    const char *vs = train_val_split(o);
    if (!rc && vs) {
        rc = vqa_dataset_load(&t->val, o->data_dir, vs, &t->cfg, o->val_max_images, err);
        if (!rc) rc = vqa_dataset_bind(&t->val, t->m, err);
        t->has_val = rc == MMC_OK;
    }
    if (rc) return rc;
    t->B = t->cfg.batch_images < t->train.n ? t->cfg.batch_images : t->train.n;
    t->K = t->cfg.per_image;
    t->flip = t->cfg.augment_flip < 0 ? strcmp(t->cfg.query, "text") != 0 : t->cfg.augment_flip;
    t->spe = t->train.n / t->B;
    int max_cnt = 1;
    for (int i = 0; i < t->train.n; i++)
        if (t->train.img_count[i] > max_cnt) max_cnt = t->train.img_count[i];
    t->max_n = t->B * (t->K < max_cnt ? t->K : max_cnt);
    int S = t->cfg.image_size, T = t->train.T;
    t->perm = mmc_malloc(sizeof(int) * (size_t)t->train.n);
    t->chw = mmc_malloc(sizeof(float) * (size_t)t->B * t->train.frames * 3 * S * S);
    t->ids = mmc_malloc(sizeof(int32_t) * (size_t)t->max_n * T);
    t->mask = mmc_malloc(sizeof(int32_t) * (size_t)t->max_n * T);
    t->item_img = mmc_malloc(sizeof(int) * (size_t)t->max_n);
    t->targets = mmc_malloc(sizeof(int) * (size_t)t->max_n);
    t->pick = mmc_malloc(sizeof(int) * (size_t)max_cnt);
    t->item_sample = mmc_malloc(sizeof(int) * (size_t)t->max_n);
    t->mel_len = mmc_malloc(sizeof(int) * (size_t)t->max_n);
    if (!t->perm || !t->chw || !t->ids || !t->mask || !t->item_img || !t->targets || !t->pick || !t->item_sample || !t->mel_len)
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    spec->params = mmc_vqa_params(t->m);
    spec->rng = &t->m->drop_rng;
    spec->steps_per_epoch = t->spe;
    spec->batch_size = t->B;
    spec->n_train = t->train.n;
    TRAIN_SPEC_SCHEDULE(spec, t->cfg);
    spec->warmup_frac = t->cfg.warmup;
    spec->rate_key = "texts_per_s";
    return MMC_OK;
}

static mmc_tensor *loss(void *self, mmc_ctx *ctx, const mmc_train_loop *L, int *items, mmc_error *err) {
    (void)err;
    vtask *t = self;
    int N = make_batch(t, L->ts.step), S = t->cfg.image_size;
    mmc_tensor *x = t->train.pixels ? mmc_tensor_from(ctx, 4, (int[]){t->B, 3 * t->train.frames, S, S}, t->chw) : NULL;
    mmc_tensor *lg;
    if (!strcmp(t->cfg.query, "text")) lg = mmc_vqa_forward(ctx, t->m, x, t->item_img, t->ids, t->mask, N, t->train.T, 1);
    else {
        mmc_tensor *mel = t->train.audio ? vqa_dataset_mel(ctx, &t->train, t->item_sample, N, t->mel_len) : NULL;
        lg = t->train.audio && !mel ? NULL : mmc_vqa_forward_audio(ctx, t->m, x, t->item_img, mel, mel ? t->mel_len : NULL, N, 1);
    }
    *items = N;
    return lg ? mmc_cross_entropy(ctx, lg, t->targets, -100, t->cfg.label_smoothing) : NULL;
}

static int validate(void *self, mmc_train_loop *L, mmc_train_val *v, mmc_error *err) {
    (void)L;
    vtask *t = self;
    if (!t->has_val) return MMC_OK;
    mmc_vqa_metrics mt;
    int rc = vqa_dataset_evaluate(t->m, &t->val, &mt, err);
    if (rc) return rc;
    v->have = 1;
    v->score = mt.accuracy;
    char types[2048];
    char *line = v->line;
    int at = snprintf(line, sizeof v->line, "accuracy %.4f on %d", mt.accuracy, mt.n);
    size_t tl = 0;
    types[0] = 0;
    for (int i = 0; i < mt.n_types && tl < sizeof types - 200; i++) {
        if (at < (int)sizeof v->line - 80 && mt.n_types <= 8)
            at += snprintf(line + at, sizeof v->line - (size_t)at, "%s%s %.3f", i ? ", " : " (", mt.types[i].name, mt.types[i].accuracy);
        cJSON *nm = cJSON_CreateString(mt.types[i].name);
        char *q = nm ? cJSON_PrintUnformatted(nm) : NULL;
        tl += (size_t)snprintf(types + tl, sizeof types - tl, "%s%s: {\"accuracy\": %.6f, \"n\": %d}", i ? ", " : "", q ? q : "\"?\"",
                               mt.types[i].accuracy, mt.types[i].n);
        cJSON_free(q);
        cJSON_Delete(nm);
    }
    if (mt.n_types > 0 && mt.n_types <= 8 && at < (int)sizeof v->line - 2) snprintf(line + at, sizeof v->line - (size_t)at, ")");
    snprintf(v->json, sizeof v->json, "{\"accuracy\": %.6f, \"n\": %d, \"by_type\": {%s}}", mt.accuracy, mt.n, types);
    return MMC_OK;
}

static char *config_json(void *self, const mmc_train_loop *L, mmc_error *err) {
    vtask *t = self;
    char *text = NULL;
    return vqa_save(t->m, L->o->run_dir, t->seed, t->train.n, &text, err) ? NULL : text;
}

static void describe(void *self, const mmc_train_loop *L, char *buf, size_t n) {
    vtask *t = self;
    const char *vid = strcmp(t->cfg.target, "video") ? "images" : "clips (frames stacked as channels, video_encoder early)";
    const char *what = !strcmp(t->cfg.query, "audio") ? "sound tracks" : !strcmp(t->cfg.query, "none") ? "labels (frames only)"
                     : !strcmp(t->cfg.task, "vqa") ? "questions" : !strcmp(t->cfg.source, "match") ? "caption pairs" : "captions";
    snprintf(buf, n,
             "%s (%s, fusion %s%s%s): %d training %s, %d %s, vocab %d, %d answers, max_len %d, %" PRId64
             " parameters, %d %s x %d texts per step, %d steps/epoch",
             t->cfg.task, !strcmp(t->cfg.task, "vqa") ? "question answering" : t->cfg.source, t->cfg.fusion,
             !strcmp(t->cfg.fusion, "late") ? ", combine " : "", !strcmp(t->cfg.fusion, "late") ? t->cfg.combine : "", t->train.n,
             vid, t->train.n_items, what, mmc_tokenizer_vocab_size(mmc_vqa_tokenizer(t->m)), mmc_vqa_n_classes(t->m), t->cfg.max_len,
             mmc_params_count(L->spec.params, MMC_PARAM), t->B, strcmp(t->cfg.target, "video") ? "images" : "clips", t->max_n / t->B, t->spe);
}

static const char *end_note(void *self, const mmc_train_loop *L) {
    (void)self;
    return isnan(L->ts.best_metric) ? NULL : "best validation accuracy in model-best.safetensors";
}

static const mmc_task VQA_TASK = {
    .name = "vqa",
    .best_metric = "val_accuracy",
    .setup = setup,
    .loss = loss,
    .validate = validate,
    .config_json = config_json,
    .describe = describe,
    .end_note = end_note,
    .release = release,
};

int mmc_vqa_train(const mmc_vqa_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    vtask t = {.o = o, .cfg_in = cfg, .perm_epoch = -1};
    return mmc_train_run(&VQA_TASK, &t, o, err);
}

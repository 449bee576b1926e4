/* clip_train.c — fine-tuning a pretrained CLIP / Chinese-CLIP on a dataset folder
 * (`mmc train retrieval --init HF_FOLDER`), saving it back as a Hugging Face folder, and
 * its recall on a split.
 *
 * The model is loaded with f32 storage: every tensor is a persistent MMC_PARAM of
 * m->P and the towers are built from autograd ops only (token/position/type lookups are
 * mmc_embedding, the class token is zeros + class_embedding, pooling is an mmc_embedding
 * over the final hidden states), so one backward reaches every tensor, logit_scale
 * included (test clip_finetune_all_params_get_grads).
 *
 * Data: the manifest is indexed once (captions of the language per sample); images are
 * decoded and preprocessed per batch from disk with the model's own preprocessor (a
 * 224-px CLIP would need 600 KB of floats per image held in memory otherwise).
 * Randomness is a function of (seed, position) as in retrieval_train.c: the order of
 * epoch e comes from stream 1000 + e, the caption choice of step s from stream 2^40 + s.
 * There is no dropout (transformers' CLIP configs have none by default). */
#include "clip_internal.h"
#include "train_common.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

mmc_clip_train_config mmc_clip_train_config_default(void) {
    mmc_clip_train_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = 32;
    c.lr = 1e-5f;
    c.weight_decay = 0.1f;
    c.min_lr_ratio = 0.0f;
    c.grad_clip = 1.0f;
    c.warmup_steps = -1;
    c.epochs = 1;
    return c;
}

mmc_params *mmc_clip_params(mmc_clip *m) { return m ? &m->P : NULL; }

/* ------------------------------------------------------------------ split */

typedef struct clip_split {
    mmc_manifest *man;
    int n, n_caps;
    const char **caps;
    int *cap_img, *cap_first, *cap_count;
} clip_split;

static void split_free(clip_split *d) {
    mmc_manifest_free(d->man);
    mmc_free(d->caps);
    mmc_free(d->cap_img);
    mmc_free(d->cap_first);
    mmc_free(d->cap_count);
    memset(d, 0, sizeof *d);
}

static int split_load(clip_split *d, const char *dir, const char *split, int zh, int max_images, mmc_error *err) {
    memset(d, 0, sizeof *d);
    if (!(d->man = mmc_manifest_load(dir, split, err))) return err && err->code ? err->code : MMC_ERR_INPUT;
    d->n = d->man->count;
    if (max_images > 0 && max_images < d->n) d->n = max_images;
    int64_t nc = 0;
    for (int i = 0; i < d->n; i++) {
        const mmc_sample *s = &d->man->samples[i];
        int k = zh ? s->n_captions_zh : s->n_captions;
        if (k == 0) {
            int rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%s' has no %s (needed to fine-tune or evaluate in '%s')",
                                   d->man->path, s->id, zh ? "captions_zh" : "captions", zh ? "zh" : "en");
            split_free(d);
            return rc;
        }
        nc += k;
    }
    d->n_caps = (int)nc;
    d->caps = mmc_malloc(sizeof(char *) * (size_t)(nc ? nc : 1));
    d->cap_img = mmc_malloc(sizeof(int) * (size_t)(nc ? nc : 1));
    d->cap_first = mmc_malloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
    d->cap_count = mmc_malloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
    if (!d->caps || !d->cap_img || !d->cap_first || !d->cap_count) {
        split_free(d);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", dir);
    }
    for (int i = 0, j = 0; i < d->n; i++) {
        const mmc_sample *s = &d->man->samples[i];
        int k = zh ? s->n_captions_zh : s->n_captions;
        d->cap_first[i] = j, d->cap_count[i] = k;
        for (int c = 0; c < k; c++, j++) {
            d->caps[j] = zh ? s->captions_zh[c] : s->captions[c];
            d->cap_img[j] = i;
        }
    }
    return MMC_OK;
}

/* Samples idx[0..n) decoded and preprocessed into out (n, 3, S, S); in parallel, the first
 * failure (lowest position) reported. */
static int split_pixels(const mmc_clip *m, const clip_split *d, const int *idx, int n, float *out, mmc_error *err) {
    if (!m->have_pre)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no preprocessor_config.json (how images are resized and normalised)", m->dir);
    int S = m->cfg.vision.image_size, bad = -1;
    size_t per = (size_t)3 * S * S;
    mmc_error first = {0};
#pragma omp parallel for schedule(dynamic, 4)
    for (int b = 0; b < n; b++) {
        char path[4096];
        mmc_error e = {0};
        mmc_image img = {0};
        mmc_tensor *t = NULL;
        snprintf(path, sizeof path, "%s/%s", d->man->dir, d->man->samples[idx[b]].image);
        int rc = mmc_image_load(&img, path, 3, &e);
        if (!rc) rc = mmc_image_preprocess_run(&m->pre, &img, &t, &e);
        if (!rc && t->numel != (int64_t)per) rc = mmc_error_set(&e, MMC_ERR_INPUT, "%s: preprocessed to the wrong size", path);
        if (!rc) memcpy(out + (size_t)b * per, t->data, sizeof(float) * per);
        mmc_tensor_free(t);
        mmc_image_free(&img);
        if (rc) {
#pragma omp critical(clip_split_err)
            if (bad < 0 || b < bad) { bad = b; first = e; }
        }
    }
    if (bad >= 0) {
        if (err) *err = first;
        return first.code ? first.code : MMC_ERR_INPUT;
    }
    return MMC_OK;
}

static int split_evaluate(mmc_clip *m, const clip_split *d, mmc_retrieval_metrics *out, mmc_error *err) {
    int P = m->cfg.proj_dim, S = m->cfg.vision.image_size, chunk = 32;
    float *ie = mmc_malloc(sizeof(float) * (size_t)d->n * P), *te = mmc_malloc(sizeof(float) * (size_t)d->n_caps * P);
    float *px = mmc_malloc(sizeof(float) * (size_t)chunk * 3 * S * S);
    int *idx = mmc_malloc(sizeof(int) * (size_t)chunk), rc = MMC_OK;
    if (!ie || !te || !px || !idx) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    for (int at = 0; at < d->n && !rc; at += chunk) {
        int b = d->n - at < chunk ? d->n - at : chunk;
        for (int i = 0; i < b; i++) idx[i] = at + i;
        if ((rc = split_pixels(m, d, idx, b, px, err))) break;
        mmc_ctx_reset(m->ctx);
        mmc_error_clear(&m->ctx->err);
        int prev = mmc_grad_mode(m->ctx, 0);
        mmc_clip_vision_out vo;
        mmc_tensor *x = mmc_tensor_from(m->ctx, 4, (int[]){b, 3, S, S}, px);
        if (!x || mmc_clip_vision_forward(m->ctx, m, x, &vo))
            rc = mmc_error_set(err, m->ctx->err.code ? m->ctx->err.code : MMC_ERR_RUNTIME, "evaluate: %s", m->ctx->err.msg);
        else memcpy(ie + (size_t)at * P, vo.embeds->data, sizeof(float) * (size_t)b * P);
        mmc_grad_mode(m->ctx, prev);
    }
    mmc_ctx_reset(m->ctx);
    if (!rc) rc = mmc_clip_embed_texts(m, d->caps, d->n_caps, te, err);
    if (!rc) rc = mmc_retrieval_recall(ie, d->n, te, d->cap_img, d->n_caps, P, out, err);
    mmc_free(ie), mmc_free(te), mmc_free(px), mmc_free(idx);
    return rc;
}

static int lang_is_zh(const mmc_clip *m, const char *lang) {
    if (lang && lang[0]) return !strcmp(lang, "zh");
    return m->cfg.chinese;
}

int mmc_clip_evaluate(mmc_clip *m, const char *data_dir, const char *split, const char *lang, int max_images,
                      mmc_retrieval_metrics *out, mmc_error *err) {
    if (!m || !data_dir || !split || !out) return mmc_error_set(err, MMC_ERR_USAGE, "clip evaluate: NULL argument");
    clip_split d;
    int rc = split_load(&d, data_dir, split, lang_is_zh(m, lang), max_images, err);
    if (rc) return rc;
    if (d.n < 1) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no samples", d.man->path);
    if (!rc) rc = split_evaluate(m, &d, out, err);
    split_free(&d);
    return rc;
}

/* ------------------------------------------------------------------ save */

static int copy_file(const char *from_dir, const char *to_dir, const char *name, mmc_error *err) {
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", from_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", to_dir, name);
    struct stat sb;
    if (stat(src, &sb) != 0) return MMC_OK; /* optional */
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(src, (size_t)1 << 30, &buf, &n, err);
    if (!rc) rc = mmc_write_file_atomic(dst, buf, n, err);
    mmc_free(buf);
    return rc;
}

static int same_dir(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int mmc_clip_save(const mmc_clip *m, const char *dir, const char *weights, mmc_error *err) {
    if (!m || !dir) return mmc_error_set(err, MMC_ERR_USAGE, "clip save: NULL argument");
    if (m->compact) return mmc_error_set(err, MMC_ERR_USAGE, "clip save: %s is held compact (F16/BF16); load it with f32 storage", m->dir);
    int n = m->resident.n;
    for (int i = 0; i < m->text.n; i++) n += m->text.binds[i].n;
    for (int i = 0; i < m->vision.n; i++) n += m->vision.binds[i].n;
    mmc_tensor **ts = mmc_calloc((size_t)n + 1, sizeof *ts);
    const char **names = mmc_calloc((size_t)n + 1, sizeof *names);
    if (!ts || !names) {
        mmc_free(ts), mmc_free(names);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "clip save: out of memory");
    }
    int k = 0;
    for (int i = 0; i < m->resident.n; i++) ts[k] = m->resident.b[i].t, names[k++] = m->resident.b[i].name;
    for (int t = 0; t < 2; t++) {
        const clip_layers *L = t ? &m->vision : &m->text;
        for (int i = 0; i < L->n; i++)
            for (int j = 0; j < L->binds[i].n; j++) ts[k] = L->binds[i].b[j].t, names[k++] = L->binds[i].b[j].name;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, weights ? weights : "model.safetensors");
    int rc = mmc_safetensors_write(path, ts, names, k, "{\"format\":\"pt\"}", err);
    mmc_free(ts), mmc_free(names);
    static const char *files[] = {"config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
                                  "special_tokens_map.json", "vocab.json", "merges.txt", "vocab.txt"};
    if (!rc && !same_dir(m->dir, dir))
        for (size_t i = 0; i < sizeof files / sizeof files[0] && !rc; i++) rc = copy_file(m->dir, dir, files[i], err);
    return rc;
}

/* ------------------------------------------------------------------ trainer */

typedef struct ctrainer {
    const mmc_retrieval_train_opts *o;
    mmc_clip_train_config cfg;
    const char *init;
    mmc_clip *m;
    clip_split train, val;
    int has_val, zh;
    mmc_optim *opt[2]; /* 0: weight decay, 1: none */
    mmc_tensor **grp[2], **all;
    int ngrp[2], nall;
    int B, spe, warmup;
    int64_t step, total_steps, best_step;
    double budget_s, train_s, best_score;
    int *perm, perm_epoch, *idx;
    float *px;
    const char **texts;
    mmc_ctx *ctx;
    FILE *metrics;
} ctrainer;

static void emit(ctrainer *t, mmc_train_event *ev) { train_emit(t->o, ev); }
#define emit_msg(t, kind, ...) train_emitf((t)->o, kind, (t)->step, (t)->total_steps, __VA_ARGS__)

static double lr_at(const ctrainer *t) {
    double lr = t->cfg.lr;
    if (t->step < t->warmup) return lr * (double)(t->step + 1) / t->warmup;
    double p;
    if (t->total_steps > 0) {
        int64_t span = t->total_steps - t->warmup;
        p = span > 0 ? (double)(t->step - t->warmup) / (double)span : 1.0;
    } else p = t->budget_s > 0 ? t->train_s / t->budget_s : 1.0;
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    double lo = lr * t->cfg.min_lr_ratio;
    return lo + (lr - lo) * 0.5 * (1.0 + cos(M_PI * p));
}

/* Weight decay on matrices (linear and the patch convolution), not on biases, norms, the
 * token / position / type / class embeddings or logit_scale (CLIP's recipe). */
static int decays(const mmc_tensor *p) {
    if (p->ndim < 2) return 0;
    return !strstr(p->name, "embedding") || strstr(p->name, "patch_embedding");
}

static int setup_optim(ctrainer *t, mmc_error *err) {
    mmc_params *P = &t->m->P;
    t->all = mmc_calloc((size_t)P->n + 1, sizeof(mmc_tensor *));
    for (int g = 0; g < 2; g++) t->grp[g] = mmc_calloc((size_t)P->n + 1, sizeof(mmc_tensor *));
    if (!t->all || !t->grp[0] || !t->grp[1]) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    for (int i = 0; i < P->n; i++) {
        if (P->kind[i] != MMC_PARAM) continue;
        mmc_tensor *p = P->tensors[i];
        t->all[t->nall++] = p;
        int g = decays(p) ? 0 : 1;
        t->grp[g][t->ngrp[g]++] = p;
    }
    for (int g = 0; g < 2; g++) {
        mmc_adam_opts ao = mmc_adamw_defaults(t->cfg.lr);
        ao.weight_decay = g == 0 ? t->cfg.weight_decay : 0.0f;
        if (!(t->opt[g] = mmc_optim_adamw(t->grp[g], t->ngrp[g], ao, err))) return err->code;
    }
    return MMC_OK;
}

static void trainer_free(ctrainer *t) {
    for (int g = 0; g < 2; g++) {
        mmc_optim_free(t->opt[g]);
        mmc_free(t->grp[g]);
    }
    mmc_free(t->all);
    mmc_clip_free(t->m);
    split_free(&t->train);
    split_free(&t->val);
    mmc_free(t->perm), mmc_free(t->idx), mmc_free(t->px), mmc_free(t->texts);
    mmc_ctx_free(t->ctx);
    if (t->metrics) fclose(t->metrics);
}

static int train_step(ctrainer *t, double *loss_out, mmc_error *err) {
    int epoch = (int)(t->step / t->spe), pos = (int)(t->step % t->spe);
    if (epoch != t->perm_epoch) {
        mmc_rng pr;
        mmc_rng_seed(&pr, t->o->seed, 1000 + (uint64_t)epoch);
        mmc_rng_permutation(&pr, t->perm, t->train.n);
        t->perm_epoch = epoch;
    }
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, ((uint64_t)1 << 40) + (uint64_t)t->step);
    for (int b = 0; b < t->B; b++) {
        int i = t->perm[pos * t->B + b];
        int c = (int)mmc_rng_below(&r, (uint32_t)t->train.cap_count[i]);
        t->idx[b] = i;
        t->texts[b] = t->train.caps[t->train.cap_first[i] + c];
    }
    int rc = split_pixels(t->m, &t->train, t->idx, t->B, t->px, err);
    int32_t *ids = NULL, *mask = NULL;
    int T = 0;
    if (!rc) rc = mmc_clip_tokenize(t->m, t->texts, t->B, &ids, &mask, &T, err);
    if (rc) return rc;
    mmc_ctx *ctx = t->ctx;
    mmc_error_clear(&ctx->err);
    float lr = (float)lr_at(t);
    for (int g = 0; g < 2; g++) mmc_optim_set_lr(t->opt[g], lr);
    int S = t->m->cfg.vision.image_size;
    mmc_clip_vision_out vo;
    mmc_clip_text_out to;
    mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){t->B, 3, S, S}, t->px), *loss = NULL;
    if (x && !mmc_clip_vision_forward(ctx, t->m, x, &vo) && !mmc_clip_text_forward(ctx, t->m, ids, mask, NULL, t->B, T, &to))
        loss = mmc_loss_infonce(ctx, vo.embeds, to.embeds, t->m->logit_scale, logf(100.0f));
    mmc_free(ids), mmc_free(mask);
    if (!loss || mmc_backward(ctx, loss) != MMC_OK)
        return mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "train: step %" PRId64 ": %s", t->step + 1, ctx->err.msg);
    double l = loss->data[0];
    if (!isfinite(l)) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: loss is %g at step %" PRId64 " (diverged; try a lower lr)", l, t->step + 1);
    /* Always measured (an infinite limit clips nothing): a NaN/Inf gradient stops the run
     * before the optimizer step, so the last checkpoint stays the last good one. */
    float gn = mmc_clip_grad_norm(t->all, t->nall, t->cfg.grad_clip > 0 ? t->cfg.grad_clip : INFINITY);
    if (!isfinite(gn))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: gradient norm is %g at step %" PRId64 " (diverged; try a lower lr)", (double)gn, t->step + 1);
    for (int g = 0; g < 2; g++) mmc_optim_step(t->opt[g]);
    for (int g = 0; g < 2; g++) mmc_optim_zero_grad(t->opt[g]);
    mmc_ctx_reset(ctx);
    float *ls = t->m->logit_scale->data; /* CLIP clamps the scale at 100 */
    if (ls[0] > logf(100.0f)) ls[0] = logf(100.0f);
    *loss_out = l;
    return MMC_OK;
}

static double temperature(const ctrainer *t) { return exp(-(double)t->m->logit_scale->data[0]); }

static int validate(ctrainer *t, mmc_error *err) {
    if (!t->has_val) return MMC_OK;
    mmc_retrieval_metrics mt;
    int rc = split_evaluate(t->m, &t->val, &mt, err);
    if (rc) return rc;
    double score = mt.t2i.r1 + mt.t2i.r5 + mt.t2i.r10;
    int best = score > t->best_score;
    if (best) {
        t->best_score = score, t->best_step = t->step;
        if ((rc = mmc_clip_save(t->m, t->o->run_dir, "model-best.safetensors", err))) return rc;
    }
    if (t->metrics) {
        fprintf(t->metrics, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"val\": {\"text_to_image\": {\"R@1\": %.4f, \"R@5\": %.4f, \"R@10\": %.4f, \"median_rank\": %g}, "
                "\"image_to_text\": {\"R@1\": %.4f, \"R@5\": %.4f, \"R@10\": %.4f, \"median_rank\": %g}, \"rsum\": %.2f}, \"best\": %s}\n",
                t->step, (double)t->step / t->spe, mt.t2i.r1, mt.t2i.r5, mt.t2i.r10, mt.t2i.median_rank, mt.i2t.r1, mt.i2t.r5,
                mt.i2t.r10, mt.i2t.median_rank, mt.rsum, best ? "true" : "false");
        fflush(t->metrics);
    }
    mmc_train_event ev = {0};
    ev.kind = MMC_TRAIN_EV_VAL, ev.step = t->step, ev.total_steps = t->total_steps;
    ev.epoch = (int)((t->step + t->spe - 1) / t->spe);
    ev.val = &mt, ev.is_best = best, ev.elapsed_s = t->train_s;
    emit(t, &ev);
    return MMC_OK;
}

static int save_run(ctrainer *t, mmc_error *err) {
    int rc = mmc_clip_save(t->m, t->o->run_dir, NULL, err);
    if (rc) return rc;
    char buf[8192], path[4096], init[4096];
    /* the init path as a JSON string: escape quotes and backslashes, drop control bytes */
    size_t k = 0;
    for (const char *s = t->init; *s && k + 3 < sizeof init; s++) {
        if (*s == '"' || *s == '\\') init[k++] = '\\';
        if ((unsigned char)*s >= 0x20) init[k++] = *s;
    }
    init[k] = 0;
    snprintf(buf, sizeof buf,
             "{\n  \"task\": \"clip_finetune\",\n  \"init\": \"%s\",\n  \"lang\": \"%s\",\n  \"step\": %" PRId64 ",\n  \"epoch\": %d,\n"
             "  \"seed\": \"%" PRIu64 "\",\n  \"train_seconds\": %.17g,\n  \"best_score\": %.17g,\n  \"best_step\": %" PRId64 ",\n"
             "  \"batch_size\": %d,\n  \"n_train\": %d,\n  \"lr\": %.9g,\n  \"weight_decay\": %.9g,\n  \"warmup_steps\": %d,\n"
             "  \"grad_clip\": %.9g,\n  \"logit_scale\": %.9g\n}\n",
             init, t->zh ? "zh" : "en", t->step, (int)(t->step / t->spe), t->o->seed, t->train_s, t->best_score, t->best_step, t->B,
             t->train.n, (double)t->cfg.lr, (double)t->cfg.weight_decay, t->warmup, (double)t->cfg.grad_clip,
             (double)t->m->logit_scale->data[0]);
    snprintf(path, sizeof path, "%s/trainer.json", t->o->run_dir);
    rc = mmc_write_file_atomic(path, buf, strlen(buf), err);
    if (!rc) emit_msg(t, MMC_TRAIN_EV_SAVE, "model at step %" PRId64 " saved in %s", t->step, t->o->run_dir);
    return rc;
}

int mmc_clip_train(const char *init_dir, const mmc_clip_train_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    if (!init_dir || !o || !o->data_dir || !o->run_dir)
        return mmc_error_set(err, MMC_ERR_USAGE, "clip train: init folder, data_dir and run_dir are required");
    if (o->resume) return mmc_error_set(err, MMC_ERR_USAGE, "clip train: fine-tuning runs cannot be resumed; start again with --init %s", o->run_dir);
    ctrainer T, *t = &T;
    memset(t, 0, sizeof T);
    t->o = o;
    t->init = init_dir;
    t->cfg = cfg ? *cfg : mmc_clip_train_config_default();
    t->perm_epoch = -1;
    t->best_score = -1;
    const mmc_clip_train_config *c = &t->cfg;
    if (c->lang[0] && strcmp(c->lang, "en") && strcmp(c->lang, "zh"))
        return mmc_error_set(err, MMC_ERR_USAGE, "clip train: lang must be en or zh, got '%s'", c->lang);
    if (c->batch_size < 2 || !(c->lr > 0) || !(c->weight_decay >= 0) || !(c->min_lr_ratio >= 0 && c->min_lr_ratio <= 1) ||
        !(c->grad_clip >= 0) || c->warmup_steps < -1 || c->epochs < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "clip train: settings out of range (batch_size >= 2, lr > 0, weight_decay >= 0, "
                             "0 <= min_lr_ratio <= 1, grad_clip >= 0, warmup_steps >= -1, epochs >= 1)");
    mmc_clip_opts lo = {MMC_CLIP_STORAGE_F32};
    int rc = MMC_OK;
    if (!(t->m = mmc_clip_load_ex(init_dir, &lo, err))) return err->code;
    t->zh = lang_is_zh(t->m, c->lang);
    if (!t->m->tok) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no tokenizer files: cannot fine-tune", init_dir);
    if (!rc && !t->m->have_pre) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no preprocessor_config.json: cannot fine-tune", init_dir);
    if (!rc) rc = train_mkdir_p(o->run_dir, err);
    if (!rc && same_dir(init_dir, o->run_dir))
        rc = mmc_error_set(err, MMC_ERR_USAGE, "clip train: the run folder %s is the init folder; give another --out", o->run_dir);
    if (!rc) rc = split_load(&t->train, o->data_dir, "train", t->zh, 0, err);
    if (!rc) {
        t->B = c->batch_size < t->train.n ? c->batch_size : t->train.n;
        if (t->B < 2) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: need at least 2 training samples", o->data_dir);
    }
    const char *vs = o->val_split ? o->val_split : "val";
    if (!rc && vs[0]) {
        char vp[4096];
        struct stat sb;
        snprintf(vp, sizeof vp, "%s/manifest-%s.jsonl", o->data_dir, vs);
        if (stat(vp, &sb) == 0) { /* validation is optional, but a broken val split is an error */
            rc = split_load(&t->val, o->data_dir, vs, t->zh, o->val_max_images, err);
            t->has_val = !rc && t->val.n > 0;
        }
    }
    if (!rc) rc = setup_optim(t, err);
    if (!rc) {
        int S = t->m->cfg.vision.image_size;
        t->spe = t->train.n / t->B;
        t->perm = mmc_malloc(sizeof(int) * (size_t)t->train.n);
        t->idx = mmc_malloc(sizeof(int) * (size_t)t->B);
        t->px = mmc_malloc(sizeof(float) * (size_t)t->B * 3 * S * S);
        t->texts = mmc_malloc(sizeof(char *) * (size_t)t->B);
        t->ctx = mmc_ctx_new();
        if (!t->perm || !t->idx || !t->px || !t->texts || !t->ctx) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    }
    if (!rc) {
        char path[4096];
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->run_dir);
        if (!(t->metrics = fopen(path, "w"))) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot write: %s", path, strerror(errno));
    }
    if (rc) { trainer_free(t); return rc; }

    if (o->minutes > 0) t->budget_s = o->minutes * 60.0;
    else if (o->steps > 0) t->total_steps = o->steps;
    else t->total_steps = (int64_t)(o->epochs > 0 ? o->epochs : c->epochs) * t->spe;
    if (c->warmup_steps >= 0) t->warmup = c->warmup_steps;
    else if (t->total_steps > 0) t->warmup = (int)(t->total_steps / 10 < 500 ? t->total_steps / 10 : 500);
    else t->warmup = 20;

    emit_msg(t, MMC_TRAIN_EV_START,
             "fine-tuning %s (%s) on %d %s training pairs (%d captions): %" PRId64 " parameters, image %d px, context %d, batch %d, "
             "%d steps/epoch, lr %.2g, warm-up %d, %s; %d threads",
             init_dir, t->m->cfg.chinese ? "chinese_clip" : "clip", t->train.n, t->zh ? "zh" : "en", t->train.n_caps,
             mmc_params_count(&t->m->P, MMC_PARAM), t->m->cfg.vision.image_size, t->m->context, t->B, t->spe, (double)c->lr,
             t->warmup, o->minutes > 0 ? "time-bound" : "step-bound", mmc_get_threads());
    double win_loss = 0, t_win = 0;
    int win_n = 0, interrupted = 0, stopped = 0, val_done_at_end = 0;
    while (!rc) {
        if (t->total_steps > 0 ? t->step >= t->total_steps : t->train_s >= t->budget_s) break;
        double t0 = mmc_now(), l = 0;
        if ((rc = train_step(t, &l, err))) break;
        double dt = mmc_now() - t0;
        t->train_s += dt, t_win += dt;
        t->step++;
        win_loss += l, win_n++;
        int every = o->log_every > 0 ? o->log_every : 10;
        if (t->step % every == 0 || t->step == 1) {
            double lr = lr_at(t), rate = t_win > 0 ? win_n * t->B / t_win : 0, sps = t_win > 0 ? win_n / t_win : 0;
            mmc_train_event ev = {0};
            ev.kind = MMC_TRAIN_EV_STEP, ev.step = t->step, ev.total_steps = t->total_steps;
            ev.epoch = (int)((t->step - 1) / t->spe) + 1;
            ev.loss = l, ev.loss_avg = win_loss / win_n, ev.lr = lr, ev.temperature = temperature(t);
            ev.elapsed_s = t->train_s, ev.pairs_per_s = rate;
            ev.eta_s = t->total_steps > 0 ? (sps > 0 ? (t->total_steps - t->step) / sps : -1) : t->budget_s - t->train_s;
            emit(t, &ev);
            if (t->metrics) {
                fprintf(t->metrics, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"loss\": %.6g, \"lr\": %.6g, \"temperature\": %.6g, \"pairs_per_s\": %.4g, \"train_seconds\": %.3f}\n",
                        t->step, (double)t->step / t->spe, ev.loss_avg, lr, ev.temperature, rate, t->train_s);
                fflush(t->metrics);
            }
            win_loss = 0, win_n = 0, t_win = 0;
        }
        int done = t->total_steps > 0 ? t->step >= t->total_steps : t->train_s >= t->budget_s;
        if (t->step % t->spe == 0) {
            rc = validate(t, err);
            if (!rc && !done) rc = save_run(t, err);
            val_done_at_end = done;
        }
        if (!rc && o->interrupt && *o->interrupt) { interrupted = 1; break; }
        if (!rc && o->stop_at_step > 0 && t->step >= o->stop_at_step && !done) { stopped = 1; break; }
    }
    if (!rc && !interrupted && !stopped && !val_done_at_end) rc = validate(t, err);
    if (!rc) rc = save_run(t, err);
    if (!rc)
        emit_msg(t, MMC_TRAIN_EV_END, "%s at step %" PRId64 " after %.1f s of training; %s is a Hugging Face %s folder",
                 interrupted ? "interrupted" : stopped ? "stopped" : "finished", t->step, t->train_s, o->run_dir,
                 t->m->cfg.chinese ? "ChineseCLIPModel" : "CLIPModel");
    trainer_free(t);
    if (!rc && interrupted) return MMC_TRAIN_INTERRUPTED;
    return rc;
}

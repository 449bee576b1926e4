/* caption_train.c — the training loop of the captioner (`mmc train caption`).
 *
 * Data: mmc_loader over DIR/manifest-train.jsonl: images decoded once and cached, no
 * flips or colour jitter (the captions say "left of" and name colours), one caption per
 * sample drawn from (seed, epoch, position), pre-tokenised. train_captions "first" keeps
 * only each sample's first caption (e.g. the emoji name).
 *
 * Determinism and resume: model init from the seed; batch order and caption choice are
 * the loader's, a function of (seed, epoch, batch); dropout draws from the model's rng,
 * saved as trainer.json's rng. A checkpoint (mmc_run_save: model + BN buffers, AdamW
 * moments and step counts, trainer.json; config.json carries the vocabulary and a
 * "training" object: seed, n_train, batch_size, train_seconds) therefore continues
 * bit-exactly: N steps straight equal N/2 + resume + N/2 (test caption_resume_bit_exact).
 *
 * Schedule: linear warm-up over warmup_steps, then cosine decay to lr * min_lr_ratio over
 * the remaining steps, or over the training time of a --minutes run. Only optimisation
 * steps count towards --minutes; validation and checkpoints do not.
 *
 * Validation: greedy decoding of the first val_max_images val images after each epoch
 * and at the end, corpus BLEU-4 against all their captions; the best model is kept as
 * model-best.safetensors. */
#include "caption_internal.h"
#include "train_common.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct trainer {
    const mmc_retrieval_train_opts *o;
    mmc_caption_config cfg;
    mmc_captioner *m;
    mmc_manifest *man;
    mmc_loader *ld;
    mmc_optim *opt;
    mmc_tensor **params;
    int n_params;
    int B, n_train, has_val, val_max;
    int64_t spe, step, total_steps;
    double budget_s, train_s;
    mmc_trainer_state ts;
    mmc_ctx *ctx;
} trainer;

static void emit(trainer *t, mmc_train_event *ev) { train_emit(t->o, ev); }
#define emit_msg(t, kind, ...) train_emitf((t)->o, kind, (t)->step, (t)->total_steps, __VA_ARGS__)

static double lr_at(const trainer *t) {
    const mmc_caption_config *c = &t->cfg;
    if (t->step < c->warmup_steps) return c->lr * (double)(t->step + 1) / c->warmup_steps;
    double p;
    if (t->total_steps > 0) {
        int64_t span = t->total_steps - c->warmup_steps;
        p = span > 0 ? (double)(t->step - c->warmup_steps) / (double)span : 1.0;
    } else p = t->budget_s > 0 ? t->train_s / t->budget_s : 1.0;
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    double lo = c->lr * c->min_lr_ratio;
    return lo + (c->lr - lo) * 0.5 * (1.0 + cos(M_PI * p));
}

static void trainer_free(trainer *t) {
    mmc_loader_free(t->ld);
    mmc_optim_free(t->opt);
    mmc_free(t->params);
    mmc_captioner_free(t->m);
    mmc_manifest_free(t->man);
    mmc_ctx_free(t->ctx);
}

/* ----------------------------------------------------------- checkpoints */

static int save_checkpoint(trainer *t, mmc_error *err) {
    char training[256];
    snprintf(training, sizeof training,
             "{\"seed\": \"%" PRIu64 "\", \"n_train\": %d, \"batch_size\": %d, \"train_seconds\": %.17g}", t->o->seed, t->n_train,
             t->B, t->train_s);
    char *cfg = cap_config_text(t->m, training, err);
    if (!cfg) return err ? err->code : MMC_ERR_RUNTIME;
    t->ts.step = t->step;
    t->ts.epoch = t->step / t->spe;
    t->ts.batch = t->step % t->spe;
    t->ts.schedule_step = t->step;
    t->ts.rng = *mmc_captioner_dropout_rng(t->m);
    int rc = mmc_run_save(t->o->run_dir, mmc_captioner_params(t->m), t->opt, &t->ts, cfg, err);
    mmc_free(cfg);
    if (!rc && t->step > 0) emit_msg(t, MMC_TRAIN_EV_SAVE, "checkpoint at step %" PRId64 " saved in %s", t->step, t->o->run_dir);
    return rc;
}

/* The "training" object of RUN/config.json: seed, n_train, batch_size, train_seconds. */
static int read_training(const char *run_dir, uint64_t *seed, int *n_train, int *batch, double *train_s, mmc_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(path, 64u << 20, &buf, &n, err);
    if (rc) return rc;
    cJSON *r = cJSON_ParseWithLength((const char *)buf, n);
    mmc_free(buf);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "training");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(tr, "seed"), *nt = cJSON_GetObjectItemCaseSensitive(tr, "n_train"),
                *bs = cJSON_GetObjectItemCaseSensitive(tr, "batch_size"), *ts = cJSON_GetObjectItemCaseSensitive(tr, "train_seconds");
    int ok = cJSON_IsObject(tr) && cJSON_IsString(sd) && cJSON_IsNumber(nt) && nt->valuedouble >= 1 && nt->valuedouble <= 1e9 &&
             nt->valuedouble == floor(nt->valuedouble) && cJSON_IsNumber(bs) && bs->valuedouble >= 1 && bs->valuedouble <= 65536 &&
             bs->valuedouble == floor(bs->valuedouble) && cJSON_IsNumber(ts) && isfinite(ts->valuedouble) && ts->valuedouble >= 0;
    if (ok) {
        char *end = NULL;
        errno = 0;
        *seed = strtoull(sd->valuestring, &end, 10);
        ok = errno == 0 && end && !*end && end != sd->valuestring && sd->valuestring[0] != '-';
        *n_train = (int)nt->valuedouble;
        *batch = (int)bs->valuedouble;
        *train_s = ts->valuedouble;
    }
    cJSON_Delete(r);
    if (!ok) return mmc_error_set(err, MMC_ERR_INPUT, "%s: no valid \"training\" object (seed, n_train, batch_size, train_seconds)", path);
    return MMC_OK;
}

/* ------------------------------------------------------------------ setup */

/* Every training sample needs a caption in the language; "first" keeps one per sample. */
static int prepare_manifest(trainer *t, mmc_error *err) {
    int zh = !strcmp(t->cfg.lang, "zh"), first = !strcmp(t->cfg.train_captions, "first");
    for (int i = 0; i < t->man->count; i++) {
        mmc_sample *s = &t->man->samples[i];
        int *k = zh ? &s->n_captions_zh : &s->n_captions;
        if (*k == 0)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%s' has no %s (needed to train captioning in '%s')", t->man->path,
                                 s->id, zh ? "captions_zh" : "captions", t->cfg.lang);
        if (first) *k = 1; /* the others stay allocated and are freed with the manifest */
    }
    t->n_train = t->man->count;
    return MMC_OK;
}

static mmc_tokenizer *build_vocab(trainer *t, int *max_len, mmc_error *err) {
    int zh = !strcmp(t->cfg.lang, "zh"), n = 0;
    for (int i = 0; i < t->man->count; i++) n += zh ? t->man->samples[i].n_captions_zh : t->man->samples[i].n_captions;
    const char **texts = mmc_malloc(sizeof(char *) * (size_t)n + 1);
    if (!texts) { mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory"); return NULL; }
    n = 0;
    for (int i = 0; i < t->man->count; i++) {
        const mmc_sample *s = &t->man->samples[i];
        int k = zh ? s->n_captions_zh : s->n_captions;
        for (int c = 0; c < k; c++) texts[n++] = zh ? s->captions_zh[c] : s->captions[c];
    }
    mmc_tokenizer *tok = zh ? mmc_tokenizer_build_char(texts, n, t->cfg.min_count, 0, err)
                            : mmc_tokenizer_build_word(texts, n, t->cfg.min_count, 0, err);
    /* the longest caption in tokens with <start>/<end>, at most 128 */
    int best = 3;
    for (int j = 0; j < n && tok && *max_len == 0; j++) {
        int32_t *ids = NULL;
        int len = 0;
        if (mmc_tokenizer_encode(tok, texts[j], (size_t)-1, 1, 128, &ids, &len, err)) {
            mmc_tokenizer_free(tok);
            tok = NULL;
            break;
        }
        mmc_free(ids);
        if (len > best) best = len;
    }
    if (tok && *max_len == 0) *max_len = best;
    mmc_free(texts);
    return tok;
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

static int setup(trainer *t, const mmc_caption_config *cfg_in, mmc_error *err) {
    const mmc_retrieval_train_opts *o = t->o;
    int rc = MMC_OK, batch = 0, n_train = 0;
    if (o->resume) {
        char path[4096];
        snprintf(path, sizeof path, "%s/trainer.json", o->run_dir);
        struct stat st;
        if (stat(path, &st) != 0)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: no checkpoint to resume from (trainer.json is missing)", o->run_dir);
        if (!(t->m = mmc_captioner_load(o->run_dir, NULL, err))) return err->code;
        t->cfg = *mmc_captioner_config(t->m);
        uint64_t seed = 0;
        rc = read_training(o->run_dir, &seed, &n_train, &batch, &t->train_s, err);
        if (!rc && seed != o->seed)
            rc = mmc_error_set(err, MMC_ERR_USAGE, "%s was trained with --seed %" PRIu64 "; resume with the same seed", o->run_dir, seed);
        if (!rc && !(t->man = mmc_manifest_load(o->data_dir, "train", err))) rc = err->code;
        if (!rc) rc = prepare_manifest(t, err);
        if (!rc && n_train != t->n_train)
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: the checkpoint was trained on %d samples, %s/manifest-train.jsonl has %d",
                               o->run_dir, n_train, o->data_dir, t->n_train);
        t->B = batch;
    } else {
        t->cfg = *cfg_in;
        rc = mmc_caption_config_check(&t->cfg, "config", err);
        if (!rc) rc = check_run_dir(o->run_dir, err);
        if (!rc && !(t->man = mmc_manifest_load(o->data_dir, "train", err))) rc = err->code;
        if (!rc) rc = prepare_manifest(t, err);
        mmc_tokenizer *tok = rc ? NULL : build_vocab(t, &t->cfg.max_len, err);
        if (!rc && !tok) rc = err->code;
        if (!rc) {
            t->m = mmc_captioner_create(&t->cfg, tok, o->seed, err);
            if (!t->m) rc = err->code;
        } else mmc_tokenizer_free(tok);
        t->B = t->cfg.batch_size < t->n_train ? t->cfg.batch_size : t->n_train;
    }
    if (rc) return rc;
    /* AdamW, no weight decay on biases and norm weights */
    mmc_params *P = mmc_captioner_params(t->m);
    t->params = mmc_calloc((size_t)P->n + 1, sizeof(mmc_tensor *));
    if (!t->params) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    t->n_params = mmc_params_trainable(P, t->params);
    mmc_adam_opts ao = mmc_adamw_defaults(t->cfg.lr);
    ao.weight_decay = t->cfg.weight_decay;
    if (!(t->opt = mmc_optim_adamw(t->params, t->n_params, ao, err))) return err->code;
    mmc_optim_no_decay_from_params(t->opt, P);
    t->ts = mmc_trainer_state_init(o->seed);
    snprintf(t->ts.best_metric_name, sizeof t->ts.best_metric_name, "val_bleu4");
    if (o->resume) {
        if ((rc = mmc_run_load(o->run_dir, P, t->opt, &t->ts, err))) return rc;
        t->step = t->ts.step;
        *mmc_captioner_dropout_rng(t->m) = t->ts.rng;
    }
    /* the loader: batches of B images (cached) and one tokenised caption each */
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
    if (!(t->ld = mmc_loader_new(t->man, &lo, err))) return err->code;
    t->spe = mmc_loader_batches_per_epoch(t->ld);
    if (o->resume) {
        mmc_loader_state ls = {t->step / t->spe, t->step % t->spe};
        if ((rc = mmc_loader_set_state(t->ld, ls, err))) return rc;
    }
    const char *vs = o->val_split ? o->val_split : "val";
    if (vs[0]) {
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest-%s.jsonl", o->data_dir, vs);
        struct stat st;
        t->has_val = stat(path, &st) == 0;
    }
    t->val_max = o->val_max_images > 0 ? o->val_max_images : t->cfg.val_max_images;
    if (!(t->ctx = mmc_ctx_new())) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    return MMC_OK;
}

/* ------------------------------------------------------------------- steps */

static int train_step(trainer *t, double *loss_out, mmc_error *err) {
    const mmc_loader_batch *b = NULL;
    int rc = mmc_loader_next(t->ld, &b, err);
    if (rc) return rc;
    if (!b) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: the loader ended early");
    mmc_ctx *ctx = t->ctx;
    mmc_optim_set_lr(t->opt, (float)lr_at(t));
    mmc_tensor *loss = mmc_captioner_loss(ctx, t->m, b->images, b->ids, b->mask, b->size, t->cfg.max_len, 1);
    if (!loss || mmc_backward(ctx, loss) != MMC_OK) {
        rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "train: step %" PRId64 ": %s", t->step + 1, ctx->err.msg);
        mmc_ctx_reset(ctx);
        return rc;
    }
    double l = loss->data[0];
    if (!isfinite(l)) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: loss is %g at step %" PRId64 " (diverged; try a lower lr)", l, t->step + 1);
    float gn = mmc_clip_grad_norm(t->params, t->n_params, t->cfg.grad_clip > 0 ? t->cfg.grad_clip : INFINITY);
    if (!isfinite(gn))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: gradient norm is %g at step %" PRId64 " (diverged; try a lower lr)", (double)gn, t->step + 1);
    mmc_optim_step(t->opt);
    mmc_optim_zero_grad(t->opt);
    mmc_ctx_reset(ctx);
    *loss_out = l;
    return MMC_OK;
}

static int validate(trainer *t, mmc_error *err) {
    if (!t->has_val) return MMC_OK;
    const mmc_retrieval_train_opts *o = t->o;
    mmc_caption_opts co = mmc_caption_opts_default(t->m);
    co.beam = 1;
    co.no_repeat_ngram = 0;
    mmc_caption_metrics mt;
    double t0 = mmc_now();
    int rc = mmc_captioner_evaluate(t->m, o->data_dir, o->val_split ? o->val_split : "val", &co, t->val_max, &mt, err);
    if (rc) return rc;
    double score = mt.bleu[3];
    int best = isnan(t->ts.best_metric) || score > t->ts.best_metric;
    if (best) {
        t->ts.best_metric = score;
        char path[4096];
        snprintf(path, sizeof path, "%s/model-best.safetensors", o->run_dir);
        if ((rc = mmc_params_save(mmc_captioner_params(t->m), path, "{\"format\":\"mmc-caption\"}", err))) return rc;
    }
    char line[512], js[512];
    snprintf(line, sizeof line, "greedy BLEU-4 %.4f (BLEU-1 %.3f), CIDEr-D %.3f, exact match %.3f on %d val images (%.1f s)", mt.bleu[3],
             mt.bleu[0], mt.cider_d, mt.exact_match, mt.n_images, mmc_now() - t0);
    snprintf(js, sizeof js,
             "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"val\": {\"BLEU-1\": %.6f, \"BLEU-2\": %.6f, \"BLEU-3\": %.6f, \"BLEU-4\": %.6f, "
             "\"CIDEr-D\": %.6f, \"exact_match\": %.6f, \"n_images\": %d, \"decode\": \"greedy\"}, \"best\": %s}",
             t->step, (double)t->step / t->spe, mt.bleu[0], mt.bleu[1], mt.bleu[2], mt.bleu[3], mt.cider_d, mt.exact_match, mt.n_images,
             best ? "true" : "false");
    if ((rc = mmc_run_log_metrics(o->run_dir, js, err))) return rc;
    mmc_train_event ev = {0};
    ev.kind = MMC_TRAIN_EV_VAL;
    ev.step = t->step;
    ev.total_steps = t->total_steps;
    ev.epoch = (int)((t->step + t->spe - 1) / t->spe);
    ev.val_score = score;
    ev.val_line = line;
    ev.is_best = best;
    ev.elapsed_s = t->train_s;
    emit(t, &ev);
    return MMC_OK;
}

int mmc_caption_train(const mmc_caption_config *cfg_in, const mmc_retrieval_train_opts *o, mmc_error *err) {
    if (!o || !o->data_dir || !o->run_dir) return mmc_error_set(err, MMC_ERR_USAGE, "train: data_dir and run_dir are required");
    if (!o->resume && !cfg_in) return mmc_error_set(err, MMC_ERR_USAGE, "train: a config is required");
    trainer T, *t = &T;
    memset(t, 0, sizeof T);
    t->o = o;
    int rc = setup(t, cfg_in, err);
    if (rc) { trainer_free(t); return rc; }
    if (o->minutes > 0) { t->total_steps = 0; t->budget_s = o->minutes * 60.0; }
    else if (o->steps > 0) t->total_steps = o->steps;
    else t->total_steps = (int64_t)(o->epochs > 0 ? o->epochs : t->cfg.epochs) * t->spe;
    if (!o->resume) {
        char path[4096];
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->run_dir);
        remove(path); /* a fresh run starts a fresh log */
        rc = save_checkpoint(t, err); /* step 0: config.json (with the vocabulary) at once */
    }
    if (rc) { trainer_free(t); return rc; }
    mmc_params *P = mmc_captioner_params(t->m);
    emit_msg(t, MMC_TRAIN_EV_START,
             "%s caption: %d %s training images, vocab %d, max_len %d, %" PRId64 " parameters, image %s (%d regions), decoder %s, "
             "batch %d, %" PRId64 " steps/epoch, %s; %d threads",
             o->resume ? "resuming" : "training", t->n_train, t->cfg.lang, mmc_tokenizer_vocab_size(mmc_captioner_tokenizer(t->m)),
             t->cfg.max_len, mmc_params_count(P, MMC_PARAM), t->cfg.image_encoder, t->m->L, t->cfg.decoder, t->B, t->spe,
             o->minutes > 0 ? "time-bound" : "step-bound", mmc_get_threads());
    double win_loss = 0, t_win = 0;
    int win_n = 0, interrupted = 0, stopped = 0, val_done_at_end = 0;
    while (!rc) {
        if (t->total_steps > 0 ? t->step >= t->total_steps : t->train_s >= t->budget_s) break;
        double t0 = mmc_now(), l = 0;
        rc = train_step(t, &l, err);
        if (rc) break;
        double dt = mmc_now() - t0;
        t->train_s += dt;
        t_win += dt;
        t->step++;
        win_loss += l;
        win_n++;
        int every = o->log_every > 0 ? o->log_every : 10;
        if (t->step % every == 0 || t->step == 1) {
            double rate = t_win > 0 ? win_n * t->B / t_win : 0, lr = lr_at(t);
            mmc_train_event ev = {0};
            ev.kind = MMC_TRAIN_EV_STEP;
            ev.step = t->step;
            ev.total_steps = t->total_steps;
            ev.epoch = (int)((t->step - 1) / t->spe) + 1;
            ev.loss = l;
            ev.loss_avg = win_loss / win_n;
            ev.lr = lr;
            ev.elapsed_s = t->train_s;
            ev.pairs_per_s = rate;
            double sps = t_win > 0 ? win_n / t_win : 0;
            ev.eta_s = t->total_steps > 0 ? (sps > 0 ? (t->total_steps - t->step) / sps : -1) : t->budget_s - t->train_s;
            emit(t, &ev);
            char js[256];
            snprintf(js, sizeof js,
                     "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"loss\": %.6g, \"lr\": %.6g, \"images_per_s\": %.4g, \"train_seconds\": %.3f}",
                     t->step, (double)t->step / t->spe, ev.loss_avg, lr, rate, t->train_s);
            if ((rc = mmc_run_log_metrics(o->run_dir, js, err))) break;
            win_loss = 0, win_n = 0, t_win = 0;
        }
        int done = t->total_steps > 0 ? t->step >= t->total_steps : t->train_s >= t->budget_s;
        if (t->step % t->spe == 0) {
            rc = validate(t, err);
            if (!rc && !done) rc = save_checkpoint(t, err);
            val_done_at_end = done;
        }
        if (!rc && o->interrupt && *o->interrupt) { interrupted = 1; break; }
        if (!rc && o->stop_at_step > 0 && t->step >= o->stop_at_step && !done) { stopped = 1; break; }
    }
    if (!rc && !interrupted && !stopped && !val_done_at_end) rc = validate(t, err);
    if (!rc) rc = save_checkpoint(t, err);
    if (!rc)
        emit_msg(t, MMC_TRAIN_EV_END, "%s at step %" PRId64 " after %.1f s of training%s", interrupted ? "interrupted" : stopped ? "stopped" : "finished",
                 t->step, t->train_s, t->has_val && !isnan(t->ts.best_metric) ? "" : " (no validation split)");
    trainer_free(t);
    if (!rc && interrupted) return MMC_TRAIN_INTERRUPTED;
    return rc;
}

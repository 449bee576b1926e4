/* vqa_train.c — the training loop of the fusion model (`mmc train vqa|classify`).
 *
 * A step takes batch_images images (an epoch is a permutation of the training images,
 * drawn from stream 1000 + epoch of the seed) and per_image texts of each (drawn without
 * repeats, with the image's shift, from stream 2^40 + step), so the CNN stages before the
 * question enters run once per image. The loss is cross-entropy over the answers.
 *
 * Determinism and resume: everything random is a function of (seed, step) except dropout,
 * whose rng is saved in trainer.json; the checkpoint is mmc_run_save's (model, AdamW
 * moments and step counts, trainer.json with the data position), so N steps straight equal
 * N/2 + resume + N/2 bit for bit at a given thread count (test vqa_resume_bit_exact).
 * trainer.json's schedule_step holds the training time in milliseconds: the schedule of a
 * --minutes run is a function of training time (warm-up, then cosine to the end of the
 * budget), and a resumed run continues on it. Only optimisation steps count toward the
 * budget; validation and saving do not. */
#include "vqa_internal.h"
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
    mmc_vqa_config cfg;
    mmc_vqa *m;
    vqa_dataset train, val;
    int has_val;
    mmc_optim *opt;
    mmc_tensor **params;
    int n_params;
    mmc_trainer_state ts;
    uint64_t seed;
    int B, K, spe, max_n;
    int64_t total_steps;
    double budget_s, train_s;
    int *perm, perm_epoch;
    float *chw;
    int32_t *ids, *mask;
    int *item_img, *targets, *pick;
    char *config_json;
    mmc_ctx *ctx;
} trainer;

static void emit(trainer *t, mmc_train_event *ev) { train_emit(t->o, ev); }
#define emit_msg(t, kind, ...) train_emitf((t)->o, kind, (t)->ts.step, (t)->total_steps, __VA_ARGS__)

/* Linear warm-up over cfg.warmup of the run, then cosine to lr·min_lr_ratio; the axis is
 * steps for a step-bound run, milliseconds of training for a time-bound one. */
static float lr_at(const trainer *t) {
    const mmc_vqa_config *c = &t->cfg;
    int64_t total = t->total_steps > 0 ? t->total_steps : (int64_t)(t->budget_s * 1000.0);
    int64_t pos = t->total_steps > 0 ? t->ts.step : (int64_t)(t->train_s * 1000.0);
    int64_t warm = (int64_t)(c->warmup * (double)total);
    mmc_schedule s = mmc_schedule_cosine(c->lr, total - warm > 0 ? total - warm : 1, c->lr * c->min_lr_ratio);
    s.warmup_steps = warm;
    s.warmup_start_factor = 0.01f;
    return mmc_schedule_lr(&s, pos);
}

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

/* The longest training text in tokens, start and end included (at most 128). */
static int measure_max_len(const mmc_tokenizer *tok, const vqa_dataset *d, mmc_error *err) {
    int best = 3;
    for (int j = 0; j < d->n_items; j++) {
        int32_t *ids = NULL;
        int n = 0;
        if (mmc_tokenizer_encode(tok, d->item_text[j], (size_t)-1, 1, 128, &ids, &n, err)) return -1;
        mmc_free(ids);
        if (n > best) best = n;
    }
    return best;
}

/* ------------------------------------------------------------------- setup */

static void trainer_free(trainer *t) {
    mmc_optim_free(t->opt);
    mmc_free(t->params);
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
    mmc_free(t->config_json);
    mmc_ctx_free(t->ctx);
}

static int setup_optim(trainer *t, mmc_error *err) {
    mmc_params *P = mmc_vqa_params(t->m);
    t->params = mmc_calloc((size_t)P->n + 1, sizeof(mmc_tensor *));
    if (!t->params) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    t->n_params = mmc_params_trainable(P, t->params);
    mmc_adam_opts ao = mmc_adamw_defaults(t->cfg.lr);
    ao.weight_decay = t->cfg.weight_decay;
    t->opt = mmc_optim_adamw(t->params, t->n_params, ao, err);
    if (!t->opt) return err->code ? err->code : MMC_ERR_RUNTIME;
    mmc_optim_no_decay_from_params(t->opt, P);
    return MMC_OK;
}

static int save_checkpoint(trainer *t, mmc_error *err) {
    t->ts.rng = t->m->drop_rng;
    t->ts.schedule_step = (int64_t)(t->train_s * 1000.0);
    t->ts.epoch = t->ts.step / t->spe;
    t->ts.batch = t->ts.step % t->spe;
    int rc = mmc_run_save(t->o->run_dir, mmc_vqa_params(t->m), t->opt, &t->ts, t->config_json, err);
    if (!rc) emit_msg(t, MMC_TRAIN_EV_SAVE, "checkpoint at step %" PRId64 " saved in %s", t->ts.step, t->o->run_dir);
    return rc;
}

/* ------------------------------------------------------------------- steps */

/* Fills the batch of the current step; returns the number of texts. */
static int make_batch(trainer *t) {
    const vqa_dataset *d = &t->train;
    int64_t step = t->ts.step;
    int epoch = (int)(step / t->spe), pos = (int)(step % t->spe), S = t->cfg.image_size, sh = t->cfg.augment_shift, T = d->T;
    if (epoch != t->perm_epoch) {
        mmc_rng pr;
        mmc_rng_seed(&pr, t->seed, 1000 + (uint64_t)epoch);
        mmc_rng_permutation(&pr, t->perm, d->n);
        t->perm_epoch = epoch;
    }
    mmc_rng r;
    mmc_rng_seed(&r, t->seed, ((uint64_t)1 << 40) + (uint64_t)step);
    int N = 0, blind = !d->pixels;
    for (int b = 0; b < t->B; b++) {
        int i = t->perm[pos * t->B + b];
        int dx = sh ? (int)mmc_rng_below(&r, 2 * sh + 1) - sh : 0, dy = sh ? (int)mmc_rng_below(&r, 2 * sh + 1) - sh : 0;
        if (!blind) vqa_dataset_chw(d, i, dx, dy, t->chw + (size_t)b * 3 * S * S);
        int cnt = d->img_count[i], k = cnt < t->K ? cnt : t->K;
        for (int j = 0; j < cnt; j++) t->pick[j] = j;
        for (int j = 0; j < k; j++) { /* partial Fisher–Yates: k distinct texts */
            int s = j + (int)mmc_rng_below(&r, (uint32_t)(cnt - j)), tmp = t->pick[j];
            t->pick[j] = t->pick[s];
            t->pick[s] = tmp;
            int it = d->img_first[i] + t->pick[j];
            t->item_img[N] = b;
            t->targets[N] = d->item_class[it];
            memcpy(t->ids + (size_t)N * T, d->ids + (size_t)it * T, sizeof(int32_t) * (size_t)T);
            memcpy(t->mask + (size_t)N * T, d->mask + (size_t)it * T, sizeof(int32_t) * (size_t)T);
            N++;
        }
    }
    return N;
}

/* Test-only fault injection, as the retrieval trainer: MMC_FAULT_NAN_AT_STEP=N. */
static int fault_at(const char *var, int64_t step) {
    const char *v = getenv(var);
    return v && *v && strtoll(v, NULL, 10) == step;
}

static int train_step(trainer *t, double *loss_out, int *n_out, mmc_error *err) {
    int N = make_batch(t), S = t->cfg.image_size;
    mmc_ctx *ctx = t->ctx;
    mmc_optim_set_lr(t->opt, lr_at(t));
    mmc_tensor *x = t->train.pixels ? mmc_tensor_from(ctx, 4, (int[]){t->B, 3, S, S}, t->chw) : NULL;
    mmc_tensor *lg = mmc_vqa_forward(ctx, t->m, x, t->item_img, t->ids, t->mask, N, t->train.T, 1);
    mmc_tensor *loss = lg ? mmc_cross_entropy(ctx, lg, t->targets, -100, t->cfg.label_smoothing) : NULL;
    if (!loss || mmc_backward(ctx, loss) != MMC_OK)
        return mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "train: step %" PRId64 ": %s", t->ts.step + 1,
                             ctx->err.msg);
    double l = loss->data[0];
    if (fault_at("MMC_FAULT_NAN_AT_STEP", t->ts.step + 1)) l = NAN;
    if (!isfinite(l))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: loss is %g at step %" PRId64 " (diverged; try a lower lr)", l, t->ts.step + 1);
    float gn = mmc_clip_grad_norm(t->params, t->n_params, t->cfg.grad_clip > 0 ? t->cfg.grad_clip : INFINITY);
    if (!isfinite(gn))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: gradient norm is %g at step %" PRId64 " (diverged; try a lower lr)",
                             (double)gn, t->ts.step + 1);
    mmc_optim_step(t->opt);
    mmc_optim_zero_grad(t->opt);
    mmc_ctx_reset(ctx);
    *loss_out = l;
    *n_out = N;
    return MMC_OK;
}

static void log_json(trainer *t, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mmc_error e = {0};
    mmc_run_log_metrics(t->o->run_dir, buf, &e); /* metrics are a record, not a reason to stop */
}

static int validate(trainer *t, mmc_error *err) {
    if (!t->has_val) return MMC_OK;
    mmc_vqa_metrics mt;
    int rc = vqa_dataset_evaluate(t->m, &t->val, &mt, err);
    if (rc) return rc;
    int best = isnan(t->ts.best_metric) || mt.accuracy > t->ts.best_metric;
    if (best) {
        t->ts.best_metric = mt.accuracy;
        snprintf(t->ts.best_metric_name, sizeof t->ts.best_metric_name, "val_accuracy");
        char path[4096];
        snprintf(path, sizeof path, "%s/model-best.safetensors", t->o->run_dir);
        rc = mmc_params_save(mmc_vqa_params(t->m), path, "{\"format\":\"pt\"}", err);
        if (rc) return rc;
    }
    char line[1024], types[2048];
    int at = snprintf(line, sizeof line, "accuracy %.4f on %d", mt.accuracy, mt.n);
    size_t tl = 0;
    types[0] = 0;
    for (int i = 0; i < mt.n_types && tl < sizeof types - 200; i++) {
        if (at < (int)sizeof line - 80 && mt.n_types <= 8)
            at += snprintf(line + at, sizeof line - (size_t)at, "%s%s %.3f", i ? ", " : " (", mt.types[i].name, mt.types[i].accuracy);
        cJSON *nm = cJSON_CreateString(mt.types[i].name);
        char *q = nm ? cJSON_PrintUnformatted(nm) : NULL;
        tl += (size_t)snprintf(types + tl, sizeof types - tl, "%s%s: {\"accuracy\": %.6f, \"n\": %d}", i ? ", " : "", q ? q : "\"?\"",
                               mt.types[i].accuracy, mt.types[i].n);
        cJSON_free(q);
        cJSON_Delete(nm);
    }
    if (mt.n_types > 0 && mt.n_types <= 8 && at < (int)sizeof line - 2) snprintf(line + at, sizeof line - (size_t)at, ")");
    log_json(t, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"val\": {\"accuracy\": %.6f, \"n\": %d, \"by_type\": {%s}}, \"best\": %s}",
             t->ts.step, (double)t->ts.step / t->spe, mt.accuracy, mt.n, types, best ? "true" : "false");
    mmc_train_event ev = {0};
    ev.kind = MMC_TRAIN_EV_VAL;
    ev.step = t->ts.step;
    ev.total_steps = t->total_steps;
    ev.epoch = (int)((t->ts.step + t->spe - 1) / t->spe);
    ev.val_score = mt.accuracy;
    ev.val_line = line;
    ev.is_best = best;
    ev.elapsed_s = t->train_s;
    emit(t, &ev);
    return MMC_OK;
}

static int file_exists(const char *dir, const char *split) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/manifest-%s.jsonl", dir, split);
    return stat(path, &st) == 0;
}

static int setup(trainer *t, const mmc_vqa_config *cfg_in, mmc_error *err) {
    const mmc_retrieval_train_opts *o = t->o;
    int rc = MMC_OK, n_train = 0;
    if (o->resume) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/trainer.json", o->run_dir);
        if (stat(path, &st) != 0)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: no checkpoint to resume from (trainer.json is missing)", o->run_dir);
        t->m = vqa_load_full(o->run_dir, NULL, &t->seed, &n_train, err);
        if (!t->m) return err->code;
        t->cfg = *mmc_vqa_get_config(t->m);
        if (t->seed != o->seed)
            return mmc_error_set(err, MMC_ERR_USAGE, "%s was trained with --seed %" PRIu64 "; resume with the same seed", o->run_dir,
                                 t->seed);
        rc = vqa_dataset_load(&t->train, o->data_dir, "train", &t->cfg, 0, err);
        if (!rc && n_train != t->train.n)
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: the checkpoint was trained on %d images, %s/manifest-train.jsonl has %d",
                               o->run_dir, n_train, o->data_dir, t->train.n);
    } else {
        t->cfg = *cfg_in;
        t->seed = o->seed;
        rc = mmc_vqa_config_check(&t->cfg, "config", err);
        if (!rc) rc = train_mkdir_p(o->run_dir, err);
        if (!rc) rc = vqa_dataset_load(&t->train, o->data_dir, "train", &t->cfg, 0, err);
        mmc_tokenizer *tok = NULL;
        const char **cls = NULL;
        int n_cls = 0;
        if (!rc) {
            tok = mmc_tokenizer_build_word(t->train.item_text, t->train.n_items, t->cfg.min_count, 0, err);
            if (!tok) rc = err->code ? err->code : MMC_ERR_RUNTIME;
        }
        if (!rc) rc = build_answers(&t->train, &cls, &n_cls, err);
        if (!rc && t->cfg.max_len == 0) {
            t->cfg.max_len = measure_max_len(tok, &t->train, err);
            if (t->cfg.max_len < 0) rc = err->code;
        }
        if (!rc) {
            t->m = mmc_vqa_create(&t->cfg, tok, cls, n_cls, t->seed, err);
            tok = NULL;
            if (!t->m) rc = err->code;
        }
        mmc_tokenizer_free(tok);
        mmc_free(cls);
    }
    if (rc) return rc;
    if (!rc) rc = vqa_dataset_bind(&t->train, t->m, err);
    const char *vs = o->val_split ? o->val_split : "val";
    if (!rc && vs[0] && file_exists(o->data_dir, vs)) {
        rc = vqa_dataset_load(&t->val, o->data_dir, vs, &t->cfg, o->val_max_images, err);
        if (!rc) rc = vqa_dataset_bind(&t->val, t->m, err);
        t->has_val = rc == MMC_OK;
    }
    if (!rc) rc = vqa_save(t->m, o->run_dir, t->seed, t->train.n, &t->config_json, err);
    if (!rc) rc = setup_optim(t, err);
    if (rc) return rc;
    t->ts = mmc_trainer_state_init(t->seed);
    t->ts.rng = t->m->drop_rng;
    if (o->resume) {
        if ((rc = mmc_run_load(o->run_dir, mmc_vqa_params(t->m), t->opt, &t->ts, err))) return rc;
        t->m->drop_rng = t->ts.rng;
        t->train_s = (double)t->ts.schedule_step / 1000.0;
    }
    t->B = t->cfg.batch_images < t->train.n ? t->cfg.batch_images : t->train.n;
    t->K = t->cfg.per_image;
    t->spe = t->train.n / t->B;
    int max_cnt = 1;
    for (int i = 0; i < t->train.n; i++)
        if (t->train.img_count[i] > max_cnt) max_cnt = t->train.img_count[i];
    t->max_n = t->B * (t->K < max_cnt ? t->K : max_cnt);
    int S = t->cfg.image_size, T = t->train.T;
    t->perm = mmc_malloc(sizeof(int) * (size_t)t->train.n);
    t->chw = mmc_malloc(sizeof(float) * (size_t)t->B * 3 * S * S);
    t->ids = mmc_malloc(sizeof(int32_t) * (size_t)t->max_n * T);
    t->mask = mmc_malloc(sizeof(int32_t) * (size_t)t->max_n * T);
    t->item_img = mmc_malloc(sizeof(int) * (size_t)t->max_n);
    t->targets = mmc_malloc(sizeof(int) * (size_t)t->max_n);
    t->pick = mmc_malloc(sizeof(int) * (size_t)max_cnt);
    t->ctx = mmc_ctx_new();
    if (!t->perm || !t->chw || !t->ids || !t->mask || !t->item_img || !t->targets || !t->pick || !t->ctx)
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    return MMC_OK;
}

int mmc_vqa_train(const mmc_vqa_config *cfg_in, const mmc_retrieval_train_opts *o, mmc_error *err) {
    trainer T, *t = &T;
    memset(t, 0, sizeof T);
    t->o = o;
    t->perm_epoch = -1;
    if (!o->data_dir || !o->run_dir) return mmc_error_set(err, MMC_ERR_USAGE, "train: data_dir and run_dir are required");
    if (!o->resume && !cfg_in) return mmc_error_set(err, MMC_ERR_USAGE, "train: a config is required");
    int rc = setup(t, cfg_in, err);
    if (rc) { trainer_free(t); return rc; }
    if (o->minutes > 0) { t->total_steps = 0; t->budget_s = o->minutes * 60.0; }
    else if (o->steps > 0) t->total_steps = o->steps;
    else t->total_steps = (int64_t)(o->epochs > 0 ? o->epochs : t->cfg.epochs) * t->spe;
    if (!o->resume) rc = save_checkpoint(t, err); /* the run folder is whole from the start */
    if (rc) { trainer_free(t); return rc; }

    mmc_params *P = mmc_vqa_params(t->m);
    const char *what = !strcmp(t->cfg.task, "vqa") ? "questions" : !strcmp(t->cfg.source, "match") ? "caption pairs" : "captions";
    emit_msg(t, MMC_TRAIN_EV_START,
             "%s %s (%s, fusion %s%s%s): %d training images, %d %s, vocab %d, %d answers, max_len %d, %" PRId64
             " parameters, %d images x %d texts per step, %d steps/epoch, %s; %d threads",
             o->resume ? "resuming" : "training", t->cfg.task, !strcmp(t->cfg.task, "vqa") ? "question answering" : t->cfg.source,
             t->cfg.fusion, !strcmp(t->cfg.fusion, "late") ? ", combine " : "", !strcmp(t->cfg.fusion, "late") ? t->cfg.combine : "",
             t->train.n, t->train.n_items, what, mmc_tokenizer_vocab_size(mmc_vqa_tokenizer(t->m)), mmc_vqa_n_classes(t->m),
             t->cfg.max_len, mmc_params_count(P, MMC_PARAM), t->B, t->K, t->spe, o->minutes > 0 ? "time-bound" : "step-bound",
             mmc_get_threads());
    double win_loss = 0, t_win = 0;
    int win_n = 0;
    int64_t win_texts = 0, win_steps = 0;
    int interrupted = 0, stopped = 0, val_done_at_end = 0;
    while (!rc) {
        if (t->total_steps > 0 ? t->ts.step >= t->total_steps : t->train_s >= t->budget_s) break;
        double t0 = mmc_now(), l = 0;
        int n = 0;
        rc = train_step(t, &l, &n, err);
        if (rc) break;
        double dt = mmc_now() - t0;
        t->train_s += dt;
        t_win += dt;
        t->ts.step++;
        win_loss += l;
        win_n++;
        win_texts += n;
        win_steps++;
        int every = o->log_every > 0 ? o->log_every : 10;
        if (t->ts.step % every == 0 || t->ts.step == 1) {
            double rate = t_win > 0 ? win_texts / t_win : 0, lr = lr_at(t);
            mmc_train_event ev = {0};
            ev.kind = MMC_TRAIN_EV_STEP;
            ev.step = t->ts.step;
            ev.total_steps = t->total_steps;
            ev.epoch = (int)((t->ts.step - 1) / t->spe) + 1;
            ev.loss = l;
            ev.loss_avg = win_loss / win_n;
            ev.lr = lr;
            ev.elapsed_s = t->train_s;
            ev.pairs_per_s = rate;
            double sps = t_win > 0 ? win_steps / t_win : 0;
            ev.eta_s = t->total_steps > 0 ? (sps > 0 ? (t->total_steps - t->ts.step) / sps : -1) : t->budget_s - t->train_s;
            emit(t, &ev);
            log_json(t, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"loss\": %.6g, \"lr\": %.6g, \"texts_per_s\": %.4g, \"train_seconds\": %.3f}",
                     t->ts.step, (double)t->ts.step / t->spe, ev.loss_avg, lr, rate, t->train_s);
            win_loss = 0;
            win_n = 0;
            win_texts = 0;
            win_steps = 0;
            t_win = 0;
        }
        int done = t->total_steps > 0 ? t->ts.step >= t->total_steps : t->train_s >= t->budget_s;
        if (t->ts.step % t->spe == 0) {
            rc = validate(t, err);
            if (!rc && !done) rc = save_checkpoint(t, err);
            val_done_at_end = done;
        }
        if (!rc && o->interrupt && *o->interrupt) { interrupted = 1; break; }
        if (!rc && o->stop_at_step > 0 && t->ts.step >= o->stop_at_step && !done) { stopped = 1; break; }
    }
    if (!rc && !interrupted && !stopped && !val_done_at_end) rc = validate(t, err);
    if (!rc) rc = save_checkpoint(t, err);
    if (!rc)
        emit_msg(t, MMC_TRAIN_EV_END, "%s at step %" PRId64 " after %.1f s of training%s", interrupted ? "interrupted" : stopped ? "stopped" : "finished",
                 t->ts.step, t->train_s, isnan(t->ts.best_metric) ? "" : "; best validation accuracy in model-best.safetensors");
    trainer_free(t);
    if (!rc && interrupted) return MMC_TRAIN_INTERRUPTED;
    return rc;
}

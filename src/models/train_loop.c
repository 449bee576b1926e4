/* train_loop.c — the one training loop (see train_loop.h for what it owns). */
#include "train_loop.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

/* Passes ev to o->callback, if there is one. */
static void train_emit(const mmc_retrieval_train_opts *o, const mmc_train_event *ev) {
    if (o->callback) o->callback(o->user, ev);
}

/* An event of kind with a printf-style message (at most 1023 bytes). */
__attribute__((format(printf, 5, 6))) static void train_emitf(const mmc_retrieval_train_opts *o, int kind, int64_t step,
                                                              int64_t total, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mmc_train_event ev = {0};
    ev.kind = kind;
    ev.step = step;
    ev.total_steps = total;
    ev.message = buf;
    train_emit(o, &ev);
}

/* mkdir -p dir (0755); an existing folder is fine. MMC_ERR_INPUT naming dir otherwise. */
static int train_mkdir_p(const char *dir, mmc_error *err) {
    char tmp[4096];
    if (strlen(dir) >= sizeof tmp) return mmc_error_set(err, MMC_ERR_INPUT, "%.64s...: run folder path too long", dir);
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) /* parents first, as mkdir -p */
        if (*p == '/') { *p = 0; mkdir(tmp, 0755); *p = '/'; }
    if (mkdir(dir, 0755) == 0) return MMC_OK;
    struct stat st;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return MMC_OK;
    return mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot create the run folder: %s", dir, strerror(errno));
}

const char *train_val_split(const mmc_retrieval_train_opts *o) {
    const char *vs = o->val_split ? o->val_split : "val";
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/manifest-%s.jsonl", o->data_dir, vs);
    return vs[0] && stat(path, &st) == 0 ? vs : NULL;
}

static int train_max_len(const mmc_tokenizer *tok, const char *const *texts, int n, mmc_error *err) {
    int best = 3;
    for (int j = 0; j < n; j++) {
        int32_t *ids = NULL;
        int len = 0;
        if (mmc_tokenizer_encode(tok, texts[j], (size_t)-1, 1, 128, &ids, &len, err)) return -1;
        mmc_free(ids);
        if (len > best) best = len;
    }
    return best;
}

mmc_tokenizer *train_vocab(const char *const *texts, int n, int zh, int min_count, int *max_len, mmc_error *err) {
    mmc_tokenizer *tok = zh ? mmc_tokenizer_build_char(texts, n, min_count, 0, err) : mmc_tokenizer_build_word(texts, n, min_count, 0, err);
    if (tok && *max_len == 0 && (*max_len = train_max_len(tok, texts, n, err)) < 0) {
        mmc_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

int train_read_config_training(const char *run_dir, mmc_trainer_state *saved, mmc_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    cJSON *r;
    int rc = mmc_json_load(path, 64u << 20, 1, &r, err);
    if (rc) return rc;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "training");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(tr, "seed"), *nt = cJSON_GetObjectItemCaseSensitive(tr, "n_train"),
                *bs = cJSON_GetObjectItemCaseSensitive(tr, "batch_size"), *ts = cJSON_GetObjectItemCaseSensitive(tr, "train_seconds");
    int ok = cJSON_IsObject(tr) && cJSON_IsString(sd) && cJSON_IsNumber(nt) && nt->valuedouble >= 1 && nt->valuedouble <= 1e9 &&
             nt->valuedouble == floor(nt->valuedouble) && cJSON_IsNumber(bs) && bs->valuedouble >= 1 && bs->valuedouble <= 65536 &&
             bs->valuedouble == floor(bs->valuedouble) && cJSON_IsNumber(ts) && isfinite(ts->valuedouble) && ts->valuedouble >= 0;
    if (ok) ok = mmc_run_parse_u64(sd->valuestring, &saved->seed);
    if (ok) {
        saved->n_train = (int64_t)nt->valuedouble;
        saved->batch_size = (int64_t)bs->valuedouble;
        saved->train_seconds = ts->valuedouble;
        saved->has_run = 1;
    }
    cJSON_Delete(r);
    if (!ok) return mmc_error_set(err, MMC_ERR_INPUT, "%s: no valid \"training\" object (seed, n_train, batch_size, train_seconds)", path);
    return MMC_OK;
}

/* ----------------------------------------------------------------- schedule */

/* Warm-up, then cosine decay to lr·min_lr_ratio at the end of the budget, on mmc_schedule.
 * The axis is the step count for a step-bound run and milliseconds of training for a
 * time-bound one, so a --minutes run decays over its time as a --steps run over its steps.
 * warmup_steps counts steps on either axis (lr·(k+1)/W; the cosine then starts after it on
 * the step axis); warmup_frac is a fraction of the axis, from 0.01·lr (torch's LinearLR). */
double train_loop_lr(const mmc_train_loop *L) {
    const mmc_train_spec *s = &L->spec;
    int64_t step = L->ts.step, W = s->warmup_steps;
    if (W > 0 && step < W) return s->lr * (double)(step + 1) / (double)W;
    int timed = L->total_steps <= 0;
    int64_t total = timed ? (int64_t)(L->budget_s * 1000.0) : L->total_steps;
    int64_t pos = timed ? (int64_t)(L->ts.train_seconds * 1000.0) : step;
    if (W > 0 && !timed) total -= W, pos -= W;
    int64_t warm = s->warmup_frac > 0 ? (int64_t)(s->warmup_frac * (double)total) : 0;
    mmc_schedule sc = mmc_schedule_cosine(s->lr, total - warm > 0 ? total - warm : 1, s->lr * s->min_lr_ratio);
    sc.warmup_steps = warm;
    sc.warmup_start_factor = 0.01f;
    if (pos > total) pos = total; /* the cosine would climb back after its end */
    return mmc_schedule_lr(&sc, pos);
}

/* ---------------------------------------------------------------- the loop */

static int fault_at(const char *var, int64_t step) {
    const char *v = getenv(var);
    return v && *v && strtoll(v, NULL, 10) == step;
}

static float fault_value(void) {
    const char *v = getenv("MMC_FAULT_VALUE");
    return v && !strcmp(v, "inf") ? INFINITY : v && !strcmp(v, "-inf") ? -INFINITY : NAN;
}

static int done(const mmc_train_loop *L) {
    return L->total_steps > 0 ? L->ts.step >= L->total_steps : L->ts.train_seconds >= L->budget_s;
}

static int save(mmc_train_loop *L, void *self, mmc_error *err) {
    const mmc_train_spec *s = &L->spec;
    mmc_trainer_state *ts = &L->ts;
    ts->epoch = ts->step / s->steps_per_epoch;
    ts->batch = ts->step % s->steps_per_epoch;
    ts->schedule_step = L->total_steps > 0 ? ts->step : (int64_t)(ts->train_seconds * 1000.0);
    if (s->rng) ts->rng = *s->rng;
    ts->has_run = 1;
    ts->seed = L->o->seed;
    ts->batch_size = s->batch_size;
    ts->n_train = s->n_train;
    mmc_error_clear(err);
    char *cfg = L->task->config_json ? L->task->config_json(self, L, err) : NULL;
    if (!cfg && err && err->code) return err->code;
    int rc = L->task->write_model ? mmc_run_save_with(L->o->run_dir, L->task->write_model, self, L->opt, ts, cfg, err)
                                  : mmc_run_save(L->o->run_dir, s->params, L->opt, ts, cfg, err);
    mmc_free(cfg);
    if (!rc && ts->step > 0)
        train_emitf(L->o, MMC_TRAIN_EV_SAVE, ts->step, L->total_steps, "checkpoint at step %" PRId64 " saved in %s", ts->step, L->o->run_dir);
    return rc;
}

static int validate(mmc_train_loop *L, void *self, mmc_error *err) {
    if (!L->task->validate) return MMC_OK;
    mmc_train_val *v = mmc_calloc(1, sizeof *v);
    if (!v) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    int rc = L->task->validate(self, L, v, err);
    if (rc || !v->have) { mmc_free(v); return rc; }
    mmc_trainer_state *ts = &L->ts;
    int best = isnan(ts->best_metric) || v->score > ts->best_metric;
    if (best) {
        ts->best_metric = v->score;
        snprintf(ts->best_metric_name, sizeof ts->best_metric_name, "%s", L->task->best_metric);
        char path[4200];
        snprintf(path, sizeof path, "%s/model-best.safetensors", L->o->run_dir);
        rc = L->task->save_best    ? L->task->save_best(self, path, err)
             : L->task->write_model ? L->task->write_model(self, path, "{\"format\":\"pt\"}", err)
                                    : mmc_params_save(L->spec.params, path, "{\"format\":\"pt\"}", err);
    }
    int64_t spe = L->spec.steps_per_epoch;
    if (!rc) {
        char *js = mmc_malloc(sizeof v->json + 256);
        if (!js) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
        else {
            snprintf(js, sizeof v->json + 256, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"val\": %s, \"best\": %s}", ts->step,
                     (double)ts->step / spe, v->json[0] ? v->json : "{}", best ? "true" : "false");
            rc = mmc_run_log_metrics(L->o->run_dir, js, err);
            mmc_free(js);
        }
    }
    if (!rc) {
        mmc_train_event ev = {0};
        ev.kind = MMC_TRAIN_EV_VAL;
        ev.step = ts->step;
        ev.total_steps = L->total_steps;
        ev.epoch = (int)((ts->step + spe - 1) / spe);
        ev.val = v->has_ret ? &v->ret : NULL;
        ev.val_score = v->score;
        ev.val_line = v->line[0] ? v->line : NULL;
        ev.is_best = best;
        ev.elapsed_s = ts->train_seconds;
        train_emit(L->o, &ev);
    }
    mmc_free(v);
    return rc;
}

/* One optimisation step: the task's loss, backward, checks, clipping, AdamW. */
static int step(mmc_train_loop *L, void *self, double *loss_out, int *items, mmc_error *err) {
    mmc_ctx *ctx = L->ctx;
    int64_t k = L->ts.step + 1;
    mmc_optim_set_lr(L->opt, (float)train_loop_lr(L));
    mmc_error_clear(&ctx->err);
    mmc_error_clear(err);
    mmc_tensor *loss = L->task->loss(self, ctx, L, items, err);
    if (!loss && err && err->code) { mmc_ctx_reset(ctx); return err->code; }
    if (!loss || mmc_backward(ctx, loss) != MMC_OK) {
        int rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "train: step %" PRId64 ": %s", k, ctx->err.msg);
        mmc_ctx_reset(ctx);
        return rc;
    }
    double l = loss->data[0];
    if (fault_at("MMC_FAULT_NAN_AT_STEP", k)) l = fault_value();
    if (!isfinite(l)) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: loss is %g at step %" PRId64 " (diverged; try a lower lr)", l, k);
    if (fault_at("MMC_FAULT_NAN_GRAD_AT_STEP", k))
        for (int i = 0; i < L->n_trainable; i++)
            if (L->trainable[i]->grad) { L->trainable[i]->grad[0] = fault_value(); break; }
    /* A finite loss can still give an inf/NaN gradient (an overflow in backward): stop before
     * the optimizer writes it into the weights. With clipping off the norm is only measured. */
    float gc = L->spec.grad_clip;
    float gn = mmc_clip_grad_norm(L->trainable, L->n_trainable, gc > 0 ? gc : INFINITY);
    if (!isfinite(gn))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: gradient norm is %g at step %" PRId64 " (diverged; try a lower lr)", (double)gn, k);
    mmc_optim_step(L->opt);
    mmc_optim_zero_grad(L->opt);
    mmc_ctx_reset(ctx);
    mmc_tensor *ls = L->spec.logit_scale; /* CLIP clamps the scale at 100 so the softmax cannot become a hard max */
    if (ls && ls->data[0] > logf(100.0f)) ls->data[0] = logf(100.0f);
    *loss_out = l;
    return MMC_OK;
}

static void log_step(mmc_train_loop *L, double loss, double loss_avg, int64_t items, int64_t steps, double t_win) {
    const mmc_retrieval_train_opts *o = L->o;
    double rate = t_win > 0 ? items / t_win : 0, lr = train_loop_lr(L), sps = t_win > 0 ? steps / t_win : 0;
    mmc_train_event ev = {0};
    ev.kind = MMC_TRAIN_EV_STEP;
    ev.step = L->ts.step;
    ev.total_steps = L->total_steps;
    ev.epoch = (int)((L->ts.step - 1) / L->spec.steps_per_epoch) + 1;
    ev.loss = loss;
    ev.loss_avg = loss_avg;
    ev.lr = lr;
    ev.temperature = L->spec.logit_scale ? exp(-(double)L->spec.logit_scale->data[0]) : 0;
    ev.elapsed_s = L->ts.train_seconds;
    ev.pairs_per_s = rate;
    ev.eta_s = L->total_steps > 0 ? (sps > 0 ? (L->total_steps - L->ts.step) / sps : -1) : L->budget_s - L->ts.train_seconds;
    train_emit(o, &ev);
    char js[512], temp[64] = "";
    if (L->spec.logit_scale) snprintf(temp, sizeof temp, ", \"temperature\": %.6g", ev.temperature);
    snprintf(js, sizeof js, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"loss\": %.6g, \"lr\": %.6g%s, \"%s\": %.4g, \"train_seconds\": %.3f}",
             L->ts.step, (double)L->ts.step / L->spec.steps_per_epoch, loss_avg, lr, temp,
             L->spec.rate_key ? L->spec.rate_key : "samples_per_s", rate, L->ts.train_seconds);
    mmc_error e = {0};
    mmc_run_log_metrics(o->run_dir, js, &e); /* metrics are a record, not a reason to stop */
}

/* Resume: finish a cut-off commit, read trainer.json (or note an older layout). */
static int begin(mmc_train_loop *L, mmc_error *err) {
    const mmc_retrieval_train_opts *o = L->o;
    if (!o->resume) return train_mkdir_p(o->run_dir, err);
    int rc = mmc_run_recover(o->run_dir, err);
    if (rc) return rc;
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/trainer.json", o->run_dir);
    if (stat(path, &st) != 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no checkpoint to resume from (trainer.json is missing)", o->run_dir);
    cJSON *r;
    if ((rc = mmc_json_load(path, 1u << 20, 0, &r, err))) return rc;
    L->legacy = cJSON_IsObject(r) && !cJSON_GetObjectItemCaseSensitive(r, "mmc_version");
    cJSON_Delete(r);
    if (L->legacy) {
        if (!L->task->load_legacy)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: not an mmc trainer.json (no \"mmc_version\")", path);
        return MMC_OK; /* read after setup, when the model and optimizer exist */
    }
    return mmc_run_read_trainer(o->run_dir, &L->saved, err);
}

/* After setup: the optimizer, the checkpoint's state, and the run's checks. */
static int prepare(mmc_train_loop *L, void *self, mmc_error *err) {
    const mmc_retrieval_train_opts *o = L->o;
    mmc_train_spec *s = &L->spec;
    if (!s->params || s->steps_per_epoch < 1 || s->batch_size < 1)
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: task %s gave no parameters or an empty epoch", L->task->name);
    mmc_params *P = s->params;
    L->trainable = mmc_calloc((size_t)P->n + 1, sizeof(mmc_tensor *));
    if (!L->trainable || !(L->ctx = mmc_ctx_new())) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    L->n_trainable = mmc_params_trainable(P, L->trainable);
    mmc_adam_opts ao = mmc_adamw_defaults(s->lr);
    ao.weight_decay = s->weight_decay;
    if (!(L->opt = mmc_optim_adamw(L->trainable, L->n_trainable, ao, err))) return err->code ? err->code : MMC_ERR_RUNTIME;
    mmc_optim_no_decay_from_params(L->opt, P); /* AdamW: no decay on biases, norms, ... */
    L->ts = mmc_trainer_state_init(o->seed);
    if (s->rng) L->ts.rng = *s->rng;
    int rc = MMC_OK;
    if (L->resume) {
        if (L->legacy) rc = L->task->load_legacy(self, L, L->opt, err);
        else rc = mmc_run_load(o->run_dir, L->task->write_model ? NULL : P, L->opt, &L->ts, err);
        if (rc) return rc;
        if (s->rng) *s->rng = L->ts.rng;
        const mmc_trainer_state *sv = L->ts.has_run ? &L->ts : &L->saved;
        if (!sv->has_run) return mmc_error_set(err, MMC_ERR_INPUT, "%s/trainer.json: no seed, batch_size, n_train or train_seconds", o->run_dir);
        L->ts.train_seconds = sv->train_seconds;
        if (sv->seed != o->seed)
            return mmc_error_set(err, MMC_ERR_USAGE, "%s was trained with --seed %" PRIu64 "; resume with the same seed", o->run_dir, sv->seed);
        if (sv->n_train != s->n_train)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: the checkpoint was trained on %" PRId64 " samples, %s/manifest-train.jsonl has %d",
                                 o->run_dir, sv->n_train, o->data_dir, s->n_train);
        if (sv->batch_size != s->batch_size)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: the checkpoint was trained with batch size %" PRId64 ", the task now has %d",
                                 o->run_dir, sv->batch_size, s->batch_size);
    }
    if (o->minutes > 0) L->budget_s = o->minutes * 60.0;
    else if (o->steps > 0) L->total_steps = o->steps;
    else L->total_steps = (int64_t)(o->epochs > 0 ? o->epochs : s->epochs > 0 ? s->epochs : 1) * s->steps_per_epoch;
    return MMC_OK;
}

static int run(mmc_train_loop *L, void *self, mmc_error *err) {
    const mmc_retrieval_train_opts *o = L->o;
    const mmc_task *task = L->task;
    int rc = begin(L, err);
    if (!rc) rc = task->setup(self, L, &L->spec, err);
    if (!rc) rc = prepare(L, self, err);
    if (rc) return rc;
    if (!o->resume) {
        char path[4200];
        static const char *const staged[] = {"config.json.next", "model.safetensors.next", "optimizer.safetensors.next", "trainer.json.next"};
        for (int i = 0; i < 4; i++) { /* an old run's, which a later resume would take */
            snprintf(path, sizeof path, "%s/%s", o->run_dir, staged[i]);
            unlink(path);
        }
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->run_dir);
        remove(path); /* a fresh run starts a fresh log */
        if ((rc = save(L, self, err))) return rc; /* step 0: the run folder is whole from the start */
    }
    if (task->start && (rc = task->start(self, L, err))) return rc;
    char line[1024];
    task->describe(self, L, line, sizeof line);
    train_emitf(o, MMC_TRAIN_EV_START, L->ts.step, L->total_steps, "%s %s, %s; %d threads", o->resume ? "resuming" : "training", line,
                o->minutes > 0 ? "time-bound" : "step-bound", mmc_get_threads());
    double win_loss = 0, t_win = 0;
    int64_t win_items = 0, win_steps = 0;
    int interrupted = 0, stopped = 0, val_done_at_end = 0, every = o->log_every > 0 ? o->log_every : 10;
    int64_t spe = L->spec.steps_per_epoch;
    while (!rc && !done(L)) {
        double t0 = mmc_now(), l = 0;
        int items = 0;
        if ((rc = step(L, self, &l, &items, err))) break;
        double dt = mmc_now() - t0;
        L->ts.train_seconds += dt;
        t_win += dt;
        L->ts.step++;
        win_loss += l;
        win_items += items;
        win_steps++;
        if (L->ts.step % every == 0 || L->ts.step == 1) {
            log_step(L, l, win_loss / (double)win_steps, win_items, win_steps, t_win);
            win_loss = 0, win_items = 0, win_steps = 0, t_win = 0;
        }
        int end = done(L);
        if (L->ts.step % spe == 0) {
            rc = validate(L, self, err);
            if (!rc && !end) rc = save(L, self, err);
            val_done_at_end = end;
        }
        if (!rc && o->interrupt && *o->interrupt) interrupted = 1;
        else if (!rc && o->stop_at_step > 0 && L->ts.step >= o->stop_at_step && !end) stopped = 1;
        if (interrupted || stopped) break;
    }
    if (!rc && !interrupted && !stopped && !val_done_at_end) rc = validate(L, self, err);
    if (!rc) rc = save(L, self, err);
    if (!rc) {
        const char *note = task->end_note ? task->end_note(self, L) : NULL;
        train_emitf(o, MMC_TRAIN_EV_END, L->ts.step, L->total_steps, "%s at step %" PRId64 " after %.1f s of training%s%s",
                    interrupted ? "interrupted" : stopped ? "stopped" : "finished", L->ts.step, L->ts.train_seconds, note ? "; " : "",
                    note ? note : "");
    }
    if (!rc && interrupted) rc = MMC_TRAIN_INTERRUPTED;
    return rc;
}

int mmc_train_run(const mmc_task *task, void *self, const mmc_retrieval_train_opts *o, mmc_error *err) {
    if (!task || !o || !o->data_dir || !o->run_dir) return mmc_error_set(err, MMC_ERR_USAGE, "train: data_dir and run_dir are required");
    mmc_train_loop L;
    memset(&L, 0, sizeof L);
    L.o = o;
    L.task = task;
    L.resume = o->resume;
    L.saved = mmc_trainer_state_init(o->seed);
    int rc = run(&L, self, err);
    mmc_optim_free(L.opt);
    mmc_free(L.trainable);
    mmc_ctx_free(L.ctx);
    if (task->release) task->release(self);
    return rc;
}

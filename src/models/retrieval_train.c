/* retrieval_train.c — the training loop of the dual encoder (`mmc train retrieval`).
 *
 * Determinism and resume. Every random choice is a function of (seed, position):
 *   - model init: stream 1 of the seed;
 *   - the order of epoch e: a permutation drawn from stream 1000 + e;
 *   - caption choice and shift of step s: stream 2^40 + s;
 *   - dropout: the model's rng, whose state is saved in trainer.json.
 * So the loader position is the step count alone, and a checkpoint (model + buffers,
 * AdamW moments and step counts, trainer.json) continues bit-exactly: N steps straight
 * equal N/2 + resume + N/2 for a given thread count (test retrieval_resume_bit_exact).
 *
 * Checkpoints are written at each epoch end, at the end, and on interrupt. Each of the
 * three files is first staged whole as NAME.next; only then are they renamed over the old
 * ones (optimizer, model, trainer.json last), so a failed or killed save — a full disk,
 * SIGKILL — leaves the previous checkpoint whole. The optimizer file carries its step, so a
 * crash between two renames cannot pass for a checkpoint, and resume first finishes such
 * a commit (see finish_commit). After each validation the model with the best
 * text->image R@1 + R@5 + R@10 is also kept as model-best.safetensors.
 *
 * Time budget (--minutes): only optimisation steps count; validation and saving do not.
 *
 * Not on mmc_schedule / mmc_run_save (checked when they landed): with --minutes the cosine
 * runs over the fraction of the time budget spent, which a step-indexed mmc_schedule
 * cannot express; and mmc_run_save's layout (one optimizer, state.NAME.exp_avg names, a
 * trainer.json without train_seconds, seed, batch_size, n_train) differs from this one's,
 * so switching would break --resume of every existing run folder and the bit-exact resume
 * test. Kept until the shared run format grows those fields. */
#include "retrieval_internal.h"
#include "train_common.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mmc_retrieval_train_opts mmc_retrieval_train_defaults(void) {
    mmc_retrieval_train_opts o;
    memset(&o, 0, sizeof o);
    o.seed = 1;
    o.log_every = 10;
    return o;
}

typedef struct trainer {
    const mmc_retrieval_train_opts *o;
    mmc_retrieval_config cfg;
    mmc_retrieval *m;
    ret_dataset train, val;
    int has_val;
    mmc_optim *opt[2];      /* 0: weight decay, 1: none (biases, norms, logit scale) */
    mmc_tensor **grp[2];
    int ngrp[2];
    mmc_tensor **all;
    int nall;
    int B, spe;
    int64_t step, total_steps;
    double budget_s, train_s, best_score;
    int64_t best_step;
    int *perm, perm_epoch;
    float *chw;
    int32_t *ids, *mask, *ngr; /* ngr: subword trigrams (B, T, RET_NGRAM_MAX), NULL when off */
    const char **texts;
    mmc_ctx *ctx;
    FILE *metrics;
} trainer;

static void emit(trainer *t, mmc_train_event *ev) { train_emit(t->o, ev); }
#define emit_msg(t, kind, ...) train_emitf((t)->o, kind, (t)->step, (t)->total_steps, __VA_ARGS__)

static double lr_at(const trainer *t) {
    const mmc_retrieval_config *c = &t->cfg;
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

/* ----------------------------------------------------------- checkpoints */

static int save_optimizer(trainer *t, mmc_error *err) {
    int n = 0;
    for (int g = 0; g < 2; g++) n += 3 * t->ngrp[g];
    mmc_tensor **ts = mmc_calloc((size_t)n + 1, sizeof *ts);
    char **names = mmc_calloc((size_t)n + 1, sizeof *names);
    int rc = ts && names ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "checkpoint: out of memory");
    int k = 0;
    for (int g = 0; g < 2 && !rc; g++)
        for (int i = 0; i < t->ngrp[g] && !rc; i++) {
            const char *pn = t->grp[g][i]->name;
            mmc_tensor *steps = mmc_tensor_new(1, (int[]){1});
            if (!steps) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "checkpoint: out of memory"); break; }
            steps->data[0] = (float)mmc_optim_get_steps(t->opt[g], i); /* exact below 2^24 steps */
            const char *pre[3] = {"exp_avg.", "exp_avg_sq.", "step."};
            for (int s = 0; s < 3; s++) {
                names[k] = mmc_malloc(strlen(pre[s]) + strlen(pn) + 1);
                if (!names[k]) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "checkpoint: out of memory"); break; }
                strcpy(names[k], pre[s]);
                strcat(names[k], pn);
                ts[k] = s == 2 ? steps : mmc_optim_state(t->opt[g], i, s);
                k++;
            }
        }
    char path[4096], meta[96];
    snprintf(path, sizeof path, "%s/optimizer.safetensors.next", t->o->run_dir);
    snprintf(meta, sizeof meta, "{\"optimizer\":\"adamw\",\"checkpoint_step\":\"%" PRId64 "\"}", t->step);
    if (!rc) rc = mmc_safetensors_write(path, ts, (const char *const *)names, k, meta, err);
    for (int i = 0; i < k; i++) {
        if (!strncmp(names[i], "step.", 5)) mmc_tensor_free(ts[i]);
        mmc_free(names[i]);
    }
    mmc_free(ts);
    mmc_free(names);
    return rc;
}

/* Index of the first element that is not finite (or, for a second moment, negative); -1. */
static int64_t bad_moment(const mmc_tensor *m, int second) {
    for (int64_t i = 0; i < m->numel; i++)
        if (!isfinite(m->data[i]) || (second && m->data[i] < 0)) return i;
    return -1;
}

static int load_optimizer(trainer *t, mmc_error *err) {
    char path[4096], name[600];
    int64_t bad;
    snprintf(path, sizeof path, "%s/optimizer.safetensors", t->o->run_dir);
    mmc_safetensors st;
    int rc = mmc_safetensors_open(&st, path, err);
    if (rc) return rc;
    cJSON *meta = st.metadata_json ? cJSON_Parse(st.metadata_json) : NULL;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(meta, "checkpoint_step");
    if (cs && (!cJSON_IsString(cs) || strtoll(cs->valuestring, NULL, 10) != t->step))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: written at step %s but trainer.json is at step %" PRId64 " (an interrupted save?)",
                           path, cJSON_IsString(cs) ? cs->valuestring : "?", t->step);
    cJSON_Delete(meta);
    for (int g = 0; g < 2 && !rc; g++)
        for (int i = 0; i < t->ngrp[g] && !rc; i++) {
            const char *pn = t->grp[g][i]->name;
            for (int s = 0; s < 3 && !rc; s++) {
                snprintf(name, sizeof name, "%s%s", s == 0 ? "exp_avg." : s == 1 ? "exp_avg_sq." : "step.", pn);
                mmc_tensor *src = mmc_safetensors_get(&st, name, err);
                mmc_tensor *dst = s < 2 ? mmc_optim_state(t->opt[g], i, s) : NULL;
                if (!src) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: missing tensor '%s'", path, name); break; }
                if (s < 2 && (!dst || !mmc_tensor_same_shape(src, dst)))
                    rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has the wrong shape", path, name);
                else if (s == 2 && (src->numel != 1 || !(src->data[0] >= 0) || src->data[0] > 1e9f))
                    rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' is not a step count", path, name);
                else if (s < 2 && (bad = bad_moment(src, s == 1)) >= 0) /* NaN moments would poison the weights */
                    rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' holds %g at element %lld (moments are finite%s)", path,
                                       name, (double)src->data[bad], (long long)bad, s == 1 ? " and not negative" : "");
                else if (s < 2) memcpy(dst->data, src->data, sizeof(float) * (size_t)src->numel);
                else mmc_optim_set_steps(t->opt[g], i, (int64_t)src->data[0]);
                mmc_tensor_free(src);
            }
        }
    mmc_safetensors_close(&st);
    return rc;
}

/* The checkpoint's files in the order they are renamed: trainer.json, staged last and
 * renamed last, marks a finished checkpoint. */
static const char *const CKPT_FILES[3] = {"optimizer.safetensors", "model.safetensors", "trainer.json"};

/* Renames each staged DIR/NAME.next over DIR/NAME (missing ones skipped when finishing an
 * interrupted commit), then fsyncs the folder so the renames last. */
static int commit_staged(const char *dir, int finishing, mmc_error *err) {
    char from[4200], to[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s/%s.next", dir, CKPT_FILES[i]);
        snprintf(to, sizeof to, "%s/%s", dir, CKPT_FILES[i]);
        if (rename(from, to) != 0 && !(finishing && errno == ENOENT))
            return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: rename failed: %s (resume finishes this checkpoint)", to, strerror(errno));
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot open to fsync: %s", dir, strerror(errno));
    int rc = fsync(fd) == 0 || errno == EINVAL ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "%s: fsync failed: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

/* Removes staged files: after a failed save (the old checkpoint stands), and before a new
 * run writes into a folder that may hold an old run's. */
static void drop_staged(const char *dir) {
    char p[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s.next", dir, CKPT_FILES[i]);
        unlink(p);
    }
}

/* At resume. A save killed while renaming left trainer.json.next: it is staged only after
 * the other two files are whole, so every .next still there belongs to that checkpoint and
 * the commit is finished. Without it, leftover .next files are an unfinished staging (the
 * old checkpoint stands) and are dropped. */
static int finish_commit(const char *dir, mmc_error *err) {
    char p[4200];
    snprintf(p, sizeof p, "%s/trainer.json.next", dir);
    if (access(p, F_OK) == 0) return commit_staged(dir, 1, err);
    drop_staged(dir);
    return MMC_OK;
}

static int save_checkpoint(trainer *t, mmc_error *err) {
    int rc = mmc_retrieval_save(t->m, t->o->run_dir, "model.safetensors.next", err);
    if (!rc) rc = save_optimizer(t, err);
    if (rc) {
        drop_staged(t->o->run_dir);
        return rc;
    }
    mmc_rng *dr = mmc_retrieval_dropout_rng(t->m);
    char buf[1024], path[4096];
    snprintf(buf, sizeof buf,
             "{\n  \"step\": %" PRId64 ",\n  \"epoch\": %d,\n  \"seed\": \"%" PRIu64 "\",\n  \"train_seconds\": %.17g,\n"
             "  \"best_score\": %.17g,\n  \"best_step\": %" PRId64 ",\n  \"dropout_rng\": [\"%016" PRIx64 "\", \"%016" PRIx64 "\"],\n"
             "  \"batch_size\": %d,\n  \"n_train\": %d\n}\n",
             t->step, (int)(t->step / t->spe), t->o->seed, t->train_s, t->best_score, t->best_step, dr->state, dr->inc, t->B,
             t->train.n);
    snprintf(path, sizeof path, "%s/trainer.json.next", t->o->run_dir);
    rc = mmc_write_file_atomic(path, buf, strlen(buf), err);
    if (rc) drop_staged(t->o->run_dir);
    if (!rc) rc = commit_staged(t->o->run_dir, 0, err);
    if (!rc) emit_msg(t, MMC_TRAIN_EV_SAVE, "checkpoint at step %" PRId64 " saved in %s", t->step, t->o->run_dir);
    return rc;
}

static int load_trainer_json(trainer *t, uint64_t *seed, int *batch, int *n_train, mmc_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/trainer.json", t->o->run_dir);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(path, 1u << 20, &buf, &n, err);
    if (rc) return rc;
    cJSON *r = cJSON_ParseWithLength((const char *)buf, n);
    mmc_free(buf);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(r, "step"), *sd = cJSON_GetObjectItemCaseSensitive(r, "seed"),
                *ts = cJSON_GetObjectItemCaseSensitive(r, "train_seconds"), *bs = cJSON_GetObjectItemCaseSensitive(r, "best_score"),
                *bst = cJSON_GetObjectItemCaseSensitive(r, "best_step"), *dr = cJSON_GetObjectItemCaseSensitive(r, "dropout_rng"),
                *b = cJSON_GetObjectItemCaseSensitive(r, "batch_size"), *nt = cJSON_GetObjectItemCaseSensitive(r, "n_train");
    int ok = cJSON_IsObject(r) && cJSON_IsNumber(step) && step->valuedouble >= 0 && step->valuedouble < 1e15 &&
             cJSON_IsString(sd) && cJSON_IsNumber(ts) && isfinite(ts->valuedouble) && ts->valuedouble >= 0 &&
             cJSON_IsNumber(bs) && cJSON_IsNumber(bst) && bst->valuedouble >= 0 && bst->valuedouble < 1e15 &&
             cJSON_IsArray(dr) && cJSON_GetArraySize(dr) == 2 && cJSON_IsString(cJSON_GetArrayItem(dr, 0)) &&
             cJSON_IsString(cJSON_GetArrayItem(dr, 1)) && cJSON_IsNumber(b) && b->valuedouble >= 1 && b->valuedouble <= 65536 &&
             cJSON_IsNumber(nt) && nt->valuedouble >= 1 && nt->valuedouble <= 1e9;
    if (ok) {
        char *end = NULL;
        errno = 0;
        *seed = strtoull(sd->valuestring, &end, 10);
        ok = errno == 0 && end && !*end && end != sd->valuestring;
        mmc_rng *rng = mmc_retrieval_dropout_rng(t->m);
        uint64_t st = strtoull(cJSON_GetArrayItem(dr, 0)->valuestring, &end, 16);
        ok = ok && end && !*end;
        uint64_t inc = strtoull(cJSON_GetArrayItem(dr, 1)->valuestring, &end, 16);
        ok = ok && end && !*end;
        if (ok) {
            rng->state = st;
            rng->inc = inc;
            t->step = (int64_t)step->valuedouble;
            t->train_s = ts->valuedouble;
            t->best_score = bs->valuedouble;
            t->best_step = (int64_t)bst->valuedouble;
            *batch = (int)b->valuedouble;
            *n_train = (int)nt->valuedouble;
        }
    }
    cJSON_Delete(r);
    if (!ok) return mmc_error_set(err, MMC_ERR_INPUT, "%s: malformed (expected step, seed, train_seconds, best_score, best_step, dropout_rng, batch_size, n_train)", path);
    return MMC_OK;
}

/* ------------------------------------------------------------------ setup */

static mmc_tokenizer *build_vocab(const trainer *t, mmc_error *err) {
    if (!strcmp(t->cfg.lang, "zh")) return mmc_tokenizer_build_char(t->train.caps, t->train.n_caps, t->cfg.min_count, 0, err);
    return mmc_tokenizer_build_word(t->train.caps, t->train.n_caps, t->cfg.min_count, 0, err);
}

/* The longest training caption in tokens, start and end included (at most 128). */
static int measure_max_len(const mmc_tokenizer *tok, const ret_dataset *d, mmc_error *err) {
    int best = 3;
    for (int j = 0; j < d->n_caps; j++) {
        int32_t *ids = NULL;
        int n = 0;
        if (mmc_tokenizer_encode(tok, d->caps[j], (size_t)-1, 1, 128, &ids, &n, err)) return -1;
        mmc_free(ids);
        if (n > best) best = n;
    }
    return best;
}

static int setup_optim(trainer *t, mmc_error *err) {
    mmc_params *P = mmc_retrieval_params(t->m);
    t->all = mmc_calloc((size_t)P->n + 1, sizeof(mmc_tensor *));
    for (int g = 0; g < 2; g++) t->grp[g] = mmc_calloc((size_t)P->n + 1, sizeof(mmc_tensor *));
    if (!t->all || !t->grp[0] || !t->grp[1]) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    for (int i = 0; i < P->n; i++) {
        if (P->kind[i] != MMC_PARAM) continue;
        t->all[t->nall++] = P->tensors[i];
        int g = P->no_decay[i] ? 1 : 0;
        t->grp[g][t->ngrp[g]++] = P->tensors[i];
    }
    for (int g = 0; g < 2; g++) {
        mmc_adam_opts ao = mmc_adamw_defaults(t->cfg.lr);
        ao.weight_decay = g == 0 ? t->cfg.weight_decay : 0.0f;
        t->opt[g] = mmc_optim_adamw(t->grp[g], t->ngrp[g], ao, err);
        if (!t->opt[g]) return err->code;
    }
    return MMC_OK;
}

static void trainer_free(trainer *t) {
    for (int g = 0; g < 2; g++) {
        mmc_optim_free(t->opt[g]);
        mmc_free(t->grp[g]);
    }
    mmc_free(t->all);
    mmc_retrieval_free(t->m);
    ret_dataset_free(&t->train);
    ret_dataset_free(&t->val);
    mmc_free(t->perm);
    mmc_free(t->chw);
    mmc_free(t->ids);
    mmc_free(t->mask);
    mmc_free(t->ngr);
    mmc_free(t->texts);
    mmc_ctx_free(t->ctx);
    if (t->metrics) fclose(t->metrics);
}

/* ------------------------------------------------------------------- steps */

/* Fills the batch of the current step: images (B, 3, S, S) shifted, one caption each. */
static int make_batch(trainer *t, mmc_error *err) {
    int epoch = (int)(t->step / t->spe), pos = (int)(t->step % t->spe), S = t->cfg.image_size, sh = t->cfg.augment_shift;
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
        int dx = sh ? (int)mmc_rng_below(&r, 2 * sh + 1) - sh : 0, dy = sh ? (int)mmc_rng_below(&r, 2 * sh + 1) - sh : 0;
        t->texts[b] = t->train.caps[t->train.cap_first[i] + c];
        ret_dataset_chw(&t->train, i, dx, dy, t->chw + (size_t)b * 3 * S * S);
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

/* Test-only fault injection (tests/cli/train_faults*.cmake): MMC_FAULT_NAN_AT_STEP=N makes
 * step N's loss NaN, MMC_FAULT_NAN_GRAD_AT_STEP=N one of its gradients; MMC_FAULT_VALUE=inf
 * (or -inf) injects that instead of NaN. Not for users. */
static int fault_at(const char *var, int64_t step) {
    const char *v = getenv(var);
    return v && *v && strtoll(v, NULL, 10) == step;
}

static float fault_value(void) {
    const char *v = getenv("MMC_FAULT_VALUE");
    return v && !strcmp(v, "inf") ? INFINITY : v && !strcmp(v, "-inf") ? -INFINITY : NAN;
}

static int train_step(trainer *t, double *loss_out, mmc_error *err) {
    int rc = make_batch(t, err);
    if (rc) return rc;
    mmc_ctx *ctx = t->ctx;
    int S = t->cfg.image_size;
    float lr = (float)lr_at(t);
    for (int g = 0; g < 2; g++) mmc_optim_set_lr(t->opt[g], lr);
    mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){t->B, 3, S, S}, t->chw);
    mmc_tensor *ie = mmc_retrieval_encode_images(ctx, t->m, x, 1);
    mmc_tensor *te = ret_text_forward_ngrams(ctx, t->m, t->ids, t->mask, t->ngr, t->B, t->cfg.max_len, 1);
    mmc_tensor *loss = mmc_retrieval_loss(ctx, t->m, ie, te);
    if (!loss || mmc_backward(ctx, loss) != MMC_OK)
        return mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "train: step %" PRId64 ": %s", t->step + 1, ctx->err.msg);
    double l = loss->data[0];
    if (fault_at("MMC_FAULT_NAN_AT_STEP", t->step + 1)) l = fault_value();
    if (!isfinite(l)) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: loss is %g at step %" PRId64 " (diverged; try a lower lr)", l, t->step + 1);
    if (fault_at("MMC_FAULT_NAN_GRAD_AT_STEP", t->step + 1))
        for (int i = 0; i < t->nall; i++)
            if (t->all[i] && t->all[i]->grad) { t->all[i]->grad[0] = fault_value(); break; }
    /* A finite loss can still give an inf/NaN gradient (an overflow in backward): stop before
     * the optimizer writes it into the weights. With clipping off the norm is only measured. */
    float gn = mmc_clip_grad_norm(t->all, t->nall, t->cfg.grad_clip > 0 ? t->cfg.grad_clip : INFINITY);
    if (!isfinite(gn))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "train: gradient norm is %g at step %" PRId64 " (diverged; try a lower lr)", (double)gn, t->step + 1);
    for (int g = 0; g < 2; g++) mmc_optim_step(t->opt[g]);
    for (int g = 0; g < 2; g++) mmc_optim_zero_grad(t->opt[g]);
    mmc_ctx_reset(ctx);
    /* CLIP clamps the logit scale at 100 so the softmax cannot become a hard max. */
    mmc_tensor *ls = t->m->logit_scale;
    if (ls->data[0] > logf(100.0f)) ls->data[0] = logf(100.0f);
    *loss_out = l;
    return MMC_OK;
}

static void log_metrics_step(trainer *t, double loss, double lr, double rate) {
    if (!t->metrics) return;
    fprintf(t->metrics, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"loss\": %.6g, \"lr\": %.6g, \"temperature\": %.6g, \"pairs_per_s\": %.4g, \"train_seconds\": %.3f}\n",
            t->step, (double)t->step / t->spe, loss, lr, exp(-t->m->logit_scale->data[0]), rate, t->train_s);
    fflush(t->metrics);
}

/* Precise BN (cnn with BatchNorm): the running averages lag the weights, and mid-run they
 * were far enough off to make validation collapse (docs/retrieval.md). Before validating,
 * the running mean and variance of every BatchNorm are recomputed at the current weights
 * as the plain average over bn_recompute batches of training images (batch k is folded in
 * with momentum 1/k), unshifted, in a fixed order of their own (stream 3·2^40: no other
 * draw moves). Only buffers change, which training never reads, so resume stays exact. */
static int recompute_bn(trainer *t, mmc_error *err) {
    mmc_retrieval *m = t->m;
    int K = t->cfg.bn_recompute, S = t->cfg.image_size;
    if (m->img_kind != RET_IMG_CNN || m->group_norm || K <= 0) return MMC_OK;
    int *perm = mmc_malloc(sizeof(int) * (size_t)t->train.n);
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = perm && ctx ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    float saved_m[RET_MAX_STAGES * 2], saved_n[RET_MAX_STAGES * 2];
    for (int i = 0; i < m->n_conv; i++) saved_m[i] = m->bn[i].momentum, saved_n[i] = m->bn[i].num_batches_tracked->data[0];
    if (!rc) {
        mmc_rng r;
        mmc_rng_seed(&r, t->o->seed, (uint64_t)3 << 40);
        mmc_rng_permutation(&r, perm, t->train.n);
        mmc_grad_mode(ctx, 0);
    }
    for (int k = 0; !rc && k < K && (int64_t)(k + 1) * t->B <= t->train.n; k++) {
        for (int b = 0; b < t->B; b++) ret_dataset_chw(&t->train, perm[k * t->B + b], 0, 0, t->chw + (size_t)b * 3 * S * S);
        for (int i = 0; i < m->n_conv; i++) m->bn[i].momentum = 1.0f / (float)(k + 1);
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){t->B, 3, S, S}, t->chw);
        if (!ret_image_forward(ctx, m, x, 1))
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "train: recomputing BatchNorm statistics: %s", ctx->err.msg);
        mmc_ctx_reset(ctx);
    }
    for (int i = 0; i < m->n_conv; i++) m->bn[i].momentum = saved_m[i], m->bn[i].num_batches_tracked->data[0] = saved_n[i];
    mmc_ctx_free(ctx);
    mmc_free(perm);
    return rc;
}

static int validate(trainer *t, mmc_error *err) {
    int rc0 = recompute_bn(t, err);
    if (rc0) return rc0;
    if (!t->has_val) return MMC_OK;
    mmc_retrieval_metrics mt;
    int rc = ret_dataset_evaluate(t->m, &t->val, &mt, err);
    if (rc) return rc;
    double score = mt.t2i.r1 + mt.t2i.r5 + mt.t2i.r10;
    int best = score > t->best_score;
    if (best) {
        t->best_score = score;
        t->best_step = t->step;
        rc = mmc_retrieval_save(t->m, t->o->run_dir, "model-best.safetensors", err);
        if (rc) return rc;
    }
    if (t->metrics) {
        fprintf(t->metrics, "{\"step\": %" PRId64 ", \"epoch\": %.4f, \"val\": {\"text_to_image\": {\"R@1\": %.4f, \"R@5\": %.4f, \"R@10\": %.4f, \"median_rank\": %g}, "
                "\"image_to_text\": {\"R@1\": %.4f, \"R@5\": %.4f, \"R@10\": %.4f, \"median_rank\": %g}, \"rsum\": %.2f}, \"best\": %s}\n",
                t->step, (double)t->step / t->spe, mt.t2i.r1, mt.t2i.r5, mt.t2i.r10, mt.t2i.median_rank, mt.i2t.r1, mt.i2t.r5,
                mt.i2t.r10, mt.i2t.median_rank, mt.rsum, best ? "true" : "false");
        fflush(t->metrics);
    }
    mmc_train_event ev = {0};
    ev.kind = MMC_TRAIN_EV_VAL;
    ev.step = t->step;
    ev.total_steps = t->total_steps;
    ev.epoch = (int)((t->step + t->spe - 1) / t->spe);
    ev.val = &mt;
    ev.is_best = best;
    ev.elapsed_s = t->train_s;
    emit(t, &ev);
    return MMC_OK;
}

int mmc_retrieval_train(const mmc_retrieval_config *cfg_in, const mmc_retrieval_train_opts *o, mmc_error *err) {
    trainer T, *t = &T;
    memset(t, 0, sizeof T);
    t->o = o;
    t->perm_epoch = -1;
    t->best_score = -1;
    int rc = MMC_OK;
    if (!o->data_dir || !o->run_dir) return mmc_error_set(err, MMC_ERR_USAGE, "train: data_dir and run_dir are required");
    char path[4096];
    if (o->resume) {
        rc = finish_commit(o->run_dir, err);
        if (rc) return rc;
        snprintf(path, sizeof path, "%s/trainer.json", o->run_dir);
        struct stat st;
        if (stat(path, &st) != 0)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: no checkpoint to resume from (trainer.json is missing)", o->run_dir);
        t->m = mmc_retrieval_load(o->run_dir, err);
        if (!t->m) return err->code;
        t->cfg = *mmc_retrieval_get_config(t->m);
        uint64_t seed = 0;
        int batch = 0, n_train = 0;
        rc = load_trainer_json(t, &seed, &batch, &n_train, err);
        if (!rc && seed != o->seed)
            rc = mmc_error_set(err, MMC_ERR_USAGE, "%s was trained with --seed %" PRIu64 "; resume with the same seed", o->run_dir, seed);
        if (!rc) rc = ret_dataset_load(&t->train, o->data_dir, "train", t->cfg.lang, t->cfg.image_size, 0, err);
        if (!rc) ret_dataset_keep_captions(&t->train, t->cfg.train_captions);
        if (!rc && n_train != t->train.n)
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: the checkpoint was trained on %d samples, %s/manifest-train.jsonl has %d",
                               o->run_dir, n_train, o->data_dir, t->train.n);
        t->B = batch;
    } else {
        t->cfg = *cfg_in;
        rc = mmc_retrieval_config_check(&t->cfg, "config", err);
        if (!rc) rc = train_mkdir_p(o->run_dir, err);
        if (!rc) rc = ret_dataset_load(&t->train, o->data_dir, "train", t->cfg.lang, t->cfg.image_size, 0, err);
        if (!rc) ret_dataset_keep_captions(&t->train, t->cfg.train_captions);
        mmc_tokenizer *tok = rc ? NULL : build_vocab(t, err);
        if (!rc && !tok) rc = err->code;
        if (!rc && t->cfg.max_len == 0) {
            t->cfg.max_len = measure_max_len(tok, &t->train, err);
            if (t->cfg.max_len < 0) rc = err->code;
        }
        if (!rc) {
            t->m = mmc_retrieval_create(&t->cfg, tok, o->seed, err);
            tok = NULL;
            if (!t->m) rc = err->code;
        }
        mmc_tokenizer_free(tok);
        t->B = t->cfg.batch_size < t->train.n ? t->cfg.batch_size : t->train.n;
    }
    if (!rc && t->B < 2) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: need at least 2 training samples", o->data_dir);
    const char *vs = o->val_split ? o->val_split : "val";
    if (!rc && vs[0]) {
        rc = ret_dataset_load(&t->val, o->data_dir, vs, t->cfg.lang, t->cfg.image_size, o->val_max_images, err);
        t->has_val = rc == MMC_OK;
        if (!rc) ret_dataset_keep_captions(&t->val, t->cfg.train_captions);
    }
    if (!rc) rc = setup_optim(t, err);
    if (!rc && o->resume) rc = load_optimizer(t, err);
    if (!rc) {
        int S = t->cfg.image_size;
        t->spe = t->train.n / t->B;
        t->perm = mmc_malloc(sizeof(int) * (size_t)t->train.n);
        t->chw = mmc_malloc(sizeof(float) * (size_t)t->B * 3 * S * S);
        t->ids = mmc_malloc(sizeof(int32_t) * (size_t)t->B * t->cfg.max_len);
        t->mask = mmc_malloc(sizeof(int32_t) * (size_t)t->B * t->cfg.max_len);
        t->texts = mmc_malloc(sizeof(char *) * (size_t)t->B);
        if (t->cfg.subword_buckets > 0) t->ngr = mmc_malloc(sizeof(int32_t) * (size_t)t->B * t->cfg.max_len * RET_NGRAM_MAX);
        t->ctx = mmc_ctx_new();
        if (!t->perm || !t->chw || !t->ids || !t->mask || !t->texts || !t->ctx || (t->cfg.subword_buckets > 0 && !t->ngr)) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/metrics.jsonl", o->run_dir);
        t->metrics = fopen(path, o->resume ? "a" : "w");
        if (!t->metrics) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot write: %s", path, strerror(errno));
    }
    if (rc) { trainer_free(t); return rc; }

    if (o->minutes > 0) { t->total_steps = 0; t->budget_s = o->minutes * 60.0; }
    else if (o->steps > 0) t->total_steps = o->steps;
    else t->total_steps = (int64_t)(o->epochs > 0 ? o->epochs : t->cfg.epochs) * t->spe;
    if (!o->resume) drop_staged(o->run_dir); /* an old run's, which a later resume would take */
    if (!o->resume) rc = mmc_retrieval_save(t->m, o->run_dir, NULL, err); /* config.json at once: the vocab is in it */
    if (rc) { trainer_free(t); return rc; }

    mmc_params *P = mmc_retrieval_params(t->m);
    emit_msg(t, MMC_TRAIN_EV_START,
             "%s retrieval: %d %s training pairs (%d captions), vocab %d, max_len %d, %" PRId64 " parameters, image %s, text %s, "
             "loss %s, batch %d, %d steps/epoch, %s; %d threads",
             o->resume ? "resuming" : "training", t->train.n, t->cfg.lang, t->train.n_caps, mmc_tokenizer_vocab_size(mmc_retrieval_tokenizer(t->m)),
             t->cfg.max_len, mmc_params_count(P, MMC_PARAM), t->cfg.image_encoder, t->cfg.text_encoder, t->cfg.loss, t->B, t->spe,
             o->minutes > 0 ? "time-bound" : "step-bound", mmc_get_threads());
    double win_loss = 0, last_loss = 0, t_win = 0;
    int win_n = 0;
    int64_t win_steps = 0;
    int interrupted = 0, stopped = 0, val_done_at_end = 0;
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
        win_steps++;
        last_loss = l;
        int every = o->log_every > 0 ? o->log_every : 10;
        if (t->step % every == 0 || t->step == 1) {
            double rate = t_win > 0 ? win_steps * t->B / t_win : 0, lr = lr_at(t);
            mmc_train_event ev = {0};
            ev.kind = MMC_TRAIN_EV_STEP;
            ev.step = t->step;
            ev.total_steps = t->total_steps;
            ev.epoch = (int)((t->step - 1) / t->spe) + 1;
            ev.loss = l;
            ev.loss_avg = win_loss / win_n;
            ev.lr = lr;
            ev.temperature = exp(-t->m->logit_scale->data[0]);
            ev.elapsed_s = t->train_s;
            ev.pairs_per_s = rate;
            double sps = t_win > 0 ? win_steps / t_win : 0;
            ev.eta_s = t->total_steps > 0 ? (sps > 0 ? (t->total_steps - t->step) / sps : -1) : t->budget_s - t->train_s;
            emit(t, &ev);
            log_metrics_step(t, ev.loss_avg, lr, rate);
            win_loss = 0;
            win_n = 0;
            win_steps = 0;
            t_win = 0;
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
    (void)last_loss;
    if (!rc && !interrupted && !stopped && !val_done_at_end) rc = validate(t, err);
    if (!rc) rc = save_checkpoint(t, err);
    if (!rc)
        emit_msg(t, MMC_TRAIN_EV_END, "%s at step %" PRId64 " after %.1f s of training%s", interrupted ? "interrupted" : stopped ? "stopped" : "finished",
                 t->step, t->train_s, t->has_val && t->best_step ? "" : "");
    trainer_free(t);
    if (!rc && interrupted) return MMC_TRAIN_INTERRUPTED;
    return rc;
}

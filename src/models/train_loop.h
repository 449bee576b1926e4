/* train_loop.h — the one training loop every task runs on (retrieval, caption, vqa,
 * classify, CLIP fine-tuning, and the tasks to come). Not installed.
 *
 * A task is a callback table (mmc_task) over its own state: it builds or reloads its model
 * and data in setup(), says where its parameters, dropout rng, epoch length and learning
 * rate settings are (mmc_train_spec), and gives the loss of one step. The loop owns
 * everything else, once:
 *   - budgets: --epochs, --steps or --minutes (only optimisation steps count toward time);
 *   - the schedule: warm-up, then cosine decay on mmc_schedule, whose axis is steps for a
 *     step-bound run and milliseconds of training for a time-bound one (train_loop_lr);
 *   - AdamW over the trainable parameters (no decay where mmc_params says so), gradient
 *     norm clipping, NaN/Inf loss or gradient -> MMC_ERR_RUNTIME (exit 3) before the
 *     optimizer writes anything, so the last checkpoint stays the last good one;
 *   - a logging window: STEP events (loss, lr, rate, ETA) and metrics.jsonl lines;
 *   - validation after each epoch and at the end, model-best.safetensors;
 *   - checkpoints through mmc_run_save (staged, renamed, fsynced; config.json from the
 *     task), a resume that first finishes a commit cut off between its renames;
 *   - *o->interrupt (SIGINT) and o->stop_at_step: save and stop, MMC_TRAIN_INTERRUPTED;
 *   - test-only fault injection: MMC_FAULT_NAN_AT_STEP=N makes step N's loss NaN,
 *     MMC_FAULT_NAN_GRAD_AT_STEP=N one of its gradients, MMC_FAULT_VALUE=inf|-inf injects
 *     that instead of NaN (tests/cli/train_faults*.cmake). Not for users.
 *
 * Determinism: the loop draws nothing. A task draws its batch of step s from (seed, s) and
 * its dropout from spec.rng, which trainer.json saves, so N steps straight equal N/2 +
 * resume + N/2 bit for bit at a given thread count. */
#ifndef MMC_TRAIN_LOOP_H
#define MMC_TRAIN_LOOP_H

#include "internal.h"
#include "mmc.h"
#include "../io/run_internal.h" /* mmc_run_parse_u64 */

/* What setup() tells the loop. */
typedef struct mmc_train_spec {
    mmc_params *params;       /* saved in model.safetensors; trainable ones optimised */
    mmc_rng *rng;             /* the model's dropout rng (saved in trainer.json), or NULL */
    int64_t steps_per_epoch;  /* >= 1 */
    int batch_size, n_train;  /* saved; a resume checks n_train against the data */
    int epochs;               /* the config's epochs, used when neither --steps nor --minutes */
    float lr, min_lr_ratio, weight_decay, grad_clip; /* grad_clip <= 0: measured, not clipped */
    int warmup_steps;         /* > 0: lr·(k+1)/W for the first W steps (k counts steps) */
    float warmup_frac;        /* > 0: warm-up over this fraction of the axis from 0.01·lr */
    const char *rate_key;     /* metrics.jsonl key of the rate: "pairs_per_s", ... */
    mmc_tensor *logit_scale;  /* a CLIP-style learned logit scale (dual encoders), or NULL: clamped at log 100
                                 after each step, as CLIP does, and reported as its temperature */
} mmc_train_spec;

/* The schedule's settings from a task config c that names them alike (every task's):
 * epochs, lr, min_lr_ratio, weight_decay, grad_clip. */
#define TRAIN_SPEC_SCHEDULE(spec, c)                                                                                    \
    ((spec)->epochs = (c).epochs, (spec)->lr = (c).lr, (spec)->min_lr_ratio = (c).min_lr_ratio,                         \
     (spec)->weight_decay = (c).weight_decay, (spec)->grad_clip = (c).grad_clip)

/* What a validation gives. have = 0: nothing was measured (no val split). */
typedef struct mmc_train_val {
    int have;
    double score;                     /* higher is better: picks model-best */
    char line[1024];                  /* for humans (the event's val_line), may be empty */
    char json[4096];                  /* the "val" object of the metrics.jsonl line */
    mmc_retrieval_metrics ret;        /* retrieval-style runs: the event's val */
    int has_ret;
} mmc_train_val;

typedef struct mmc_train_loop mmc_train_loop;

typedef struct mmc_task {
    const char *name;          /* "retrieval", "caption", ...: messages */
    const char *best_metric;   /* trainer.json's best_metric_name: "val_rsum", ... */
    /* Builds the model and data (or reloads them from o->run_dir when L->resume) and fills
     * *spec. On resume, L->saved holds trainer.json (and what the task's legacy reader
     * found); the task checks its own settings against it. */
    int (*setup)(void *self, mmc_train_loop *L, mmc_train_spec *spec, mmc_error *err);
    /* Optional: once the checkpoint's state is in L->ts (after a resume) and before the
     * first step, e.g. to move a data loader to L->ts.step. */
    int (*start)(void *self, const mmc_train_loop *L, mmc_error *err);
    /* The loss of step L->ts.step (its batch drawn from (seed, step)), built on ctx with
     * autograd on; *items: samples in it for the rate. NULL with ctx->err set on failure. */
    mmc_tensor *(*loss)(void *self, mmc_ctx *ctx, const mmc_train_loop *L, int *items, mmc_error *err);
    /* Optional: measure on the validation split. Called after each epoch and at the end,
     * also when there is no split (retrieval recomputes BatchNorm statistics there). */
    int (*validate)(void *self, mmc_train_loop *L, mmc_train_val *v, mmc_error *err);
    /* Optional: write the best model to path (default: write_model when the task has one,
     * else mmc_params_save of spec.params; metadata {"format":"pt"}). */
    int (*save_best)(void *self, const char *path, mmc_error *err);
    /* Optional: writes the model file of a checkpoint (path, metadata_json to store as its
     * metadata) in a layout of the task's own (CLIP: the Hugging Face names). Such a task
     * reloads its weights itself in setup(); without it the loop saves and loads
     * spec.params. */
    int (*write_model)(void *self, const char *path, const char *metadata_json, mmc_error *err);
    /* config.json's text (mmc_malloc'd) for each checkpoint; none, or NULL with *err clear,
     * leaves config.json as it is. */
    char *(*config_json)(void *self, const mmc_train_loop *L, mmc_error *err);
    /* The START event's line (after "training "/"resuming "). */
    void (*describe)(void *self, const mmc_train_loop *L, char *buf, size_t n);
    /* Optional: a run folder of an older layout (trainer.json without "mmc_version"):
     * read it into L->ts, L->saved and the optimizer. Read-only: the next save writes the
     * new layout. */
    int (*load_legacy)(void *self, mmc_train_loop *L, mmc_optim *opt, mmc_error *err);
    /* Optional: at the end (after the last save) — e.g. a closing remark for the END line. */
    const char *(*end_note)(void *self, const mmc_train_loop *L);
    /* Frees the task's state. */
    void (*release)(void *self);
} mmc_task;

struct mmc_train_loop {
    const mmc_retrieval_train_opts *o;
    const mmc_task *task;
    mmc_train_spec spec;
    int resume, legacy;        /* resuming; from an older layout */
    mmc_trainer_state ts;      /* where training stands (saved as trainer.json) */
    mmc_trainer_state saved;   /* on resume: trainer.json as read */
    int64_t total_steps;       /* 0 when time-bound */
    double budget_s;           /* > 0 when time-bound */
    mmc_optim *opt;
    mmc_tensor **trainable;
    int n_trainable;
    mmc_ctx *ctx;
};

/* Runs task over o: setup, resume, the loop, the last checkpoint, release. Returns MMC_OK,
 * an error (err filled), or MMC_TRAIN_INTERRUPTED after saving a resumable checkpoint. */
int mmc_train_run(const mmc_task *task, void *self, const mmc_retrieval_train_opts *o, mmc_error *err);

/* The learning rate of the next step. */
double train_loop_lr(const mmc_train_loop *L);

/* Helpers for tasks. */
/* The validation split (o->val_split, "val" when NULL) when DATA/manifest-SPLIT.jsonl
 * exists; NULL when there is none ("" asks for none). */
const char *train_val_split(const mmc_retrieval_train_opts *o);
/* The vocabulary of texts[0..n): characters for zh, else words, the tokens seen at least
 * min_count times; and, when *max_len is 0, the longest of the texts in tokens with
 * <start>/<end> (at least 3, at most 128) into it. NULL with err filled on failure. */
mmc_tokenizer *train_vocab(const char *const *texts, int n, int zh, int min_count, int *max_len, mmc_error *err);
/* Fills v from retrieval metrics: score t2i R@1 + R@5 + R@10, the "val" JSON object. */
void train_val_retrieval(mmc_train_val *v, const mmc_retrieval_metrics *mt);
/* The same with the two directions named (audio_to_image, image_to_audio, ...). */
void train_val_retrieval_named(mmc_train_val *v, const mmc_retrieval_metrics *mt, const char *q2t, const char *t2q);
/* The "training" object older caption runs kept in config.json: seed, n_train,
 * batch_size, train_seconds, into L->saved. */
int train_read_config_training(const char *run_dir, mmc_trainer_state *saved, mmc_error *err);

#endif

/* demo.h — `mmc demo`: a list of stages (demo.c) that share one work folder and one report.
 *
 * A stage is `int demo_stage_NAME(demo_ctx *d)`: it does its part (train, evaluate, show
 * examples), prints for humans, adds its section to d->report (a heading, charts, rows of
 * the metrics table, galleries of examples) and returns 0, 130 after Ctrl-C (through
 * demo_interrupted), or an exit code after printing the error (cli_error / cli_error_from).
 * Stages run in the order of STAGES in demo.c; each may rely on the ones before it
 * (the data stage writes the shapes world into d->data_dir). */
#ifndef MMC_CLI_DEMO_H
#define MMC_CLI_DEMO_H
#include "cli.h"

typedef struct demo_ctx {
    const char *out;         /* the work folder (--out, default "demo") */
    char data_dir[4096];     /* OUT/data: the shapes world, written by the data stage */
    const char *train_data;  /* demo_train's data folder when not data_dir (the video stage's clips) */
    int quick;               /* --quick: tiny data and models (seconds; for tests) */
    int64_t steps;           /* --steps: training steps per model, 0 = each stage's default */
    uint64_t data_seed;      /* the shapes world's seed (7) */
    uint64_t seed;           /* training seed (1) */
    int n_train, n_val, n_test, image_size; /* the shapes world's sizes */
    int tty;                 /* stdout is a terminal: progress bars, else plain lines */
    volatile int *interrupt; /* set by Ctrl-C (cli_train_sigint_install): pass to trainers */
    mmc_report *report;      /* OUT/report.html, written after the last stage */
    int metrics_table;       /* the report's metrics table: task | model | metric | value */
    mmc_manifest *test;      /* the test split, loaded on first use by demo_test_split */
} demo_ctx;

/* ---- helpers for stages (demo.c) ---- */
/* OUT/NAME into buf (a run folder, an index file, ...); returns buf. */
const char *demo_path(const demo_ctx *d, const char *name, char *buf, size_t n);
/* One row of the metrics table; value is printf-formatted. Returns 0 or an exit code. */
int demo_metric(demo_ctx *d, const char *task, const char *model, const char *metric, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* A chart of y_key against "step" with one series per run folder (its metrics.jsonl):
 * names[i] for run_dirs[i]. y_key may be dotted ("val.text_to_image.R@1"). 0 or exit code. */
int demo_chart_runs(demo_ctx *d, const char *title, const char *y_label, const char *y_key, int n,
                    const char *const *names, const char *const *run_dirs);
/* Progress for a trainer: fills p and returns the interval to use as the trainer's
 * log_every (1 on a terminal, 10 otherwise). Set o.callback = cli_train_progress, o.user = p. */
int demo_progress(const demo_ctx *d, cli_train_progress_state *p);
/* After a trainer returned MMC_TRAIN_INTERRUPTED: says where the checkpoint is (run_dir;
 * NULL: nothing was saved) and how to continue it (resume_cmd, may be NULL); returns 130. */
int demo_interrupted(const demo_ctx *d, const char *run_dir, const char *resume_cmd);
/* Trains one model of the demo: train(cfg, opts, err) with the demo's data, seed, step
 * count, progress bar and Ctrl-C flag, into run. On Ctrl-C prints how to resume it
 * (`mmc train TASK ... --resume`) and returns 130; 0 when trained, else the exit code
 * after printing the error. */
typedef int (*demo_train_fn)(const void *cfg, const mmc_retrieval_train_opts *o, mmc_error *err);
int demo_train(demo_ctx *d, const char *task, const char *run, int64_t steps, demo_train_fn train, const void *cfg);
/* The test split of d->data_dir (loaded once, freed with the demo); NULL after printing. */
const mmc_manifest *demo_test_split(demo_ctx *d);
/* dir/rel of a sample's image into buf; returns buf. */
const char *demo_image_path(const mmc_manifest *m, const mmc_sample *s, char *buf, size_t n);

/* ---- stages ---- */
/* data (demo_data.c): writes the shapes world into d->data_dir (train/val/test at
 * d->image_size px) and shows a few training scenes with their English and Chinese
 * captions. */
int demo_stage_data(demo_ctx *d);
/* retrieval (demo_retrieval.c): trains an English and a Chinese dual encoder for a fixed
 * step count (OUT/retrieval-en, OUT/retrieval-zh), evaluates recall on the test split,
 * indexes the test images (OUT/test-en.idx, OUT/test-zh.idx: `mmc search` works on them
 * afterwards) and shows the top 5 for 3 English and 2 Chinese queries. */
int demo_stage_retrieval(demo_ctx *d);
/* caption (demo_caption.c): trains the default captioner on the English captions for a
 * fixed step count (OUT/caption), evaluates it on the test split with beam 3 (BLEU,
 * CIDEr-D, exact match) and captions a few test scenes. */
int demo_stage_caption(demo_ctx *d);
/* vqa (demo_vqa.c): trains the default VQA model for a fixed step count (OUT/vqa),
 * reports test accuracy overall and per question type and answers a few test questions. */
int demo_stage_vqa(demo_ctx *d);

/* video (demo_video.c): writes a small moving-shapes world (OUT/vdata), trains text->video
 * retrieval, a video captioner and a video QA model on it for fixed step counts
 * (OUT/video-retrieval, OUT/video-caption, OUT/video-vqa), evaluates each on the test
 * clips and shows clips as frame strips with what each model says about them. */
int demo_stage_video(demo_ctx *d);
/* audio (demo_audio.c): speaks one English caption of the first 2,000 training scenes and
 * of every test scene with eSpeak NG (OUT/adata: the demo world's scenes, written again),
 * trains a speech->image dual encoder for a fixed step count (OUT/audio-retrieval),
 * evaluates audio->image recall on the test clips and shows the first 4 test clips as
 * players (OUT/audio-queries/ID.wav, inlined) beside the 3 scenes each finds. eSpeak NG
 * missing or broken: its error's exit code (3) with a message naming it. */
int demo_stage_audio(demo_ctx *d);

/* --check-screenshot (demo_check.c): is PNG a real rendering of a demo report (charts
 * and shapes images visible)? 0, 2 (not a readable image) or 3 (looks blank). */
int demo_check_screenshot(const char *png);

#endif

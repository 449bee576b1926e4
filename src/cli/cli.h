/* cli.h — shared by the subcommand files. Only src/cli parses argv and prints for humans. */
#ifndef MMC_CLI_H
#define MMC_CLI_H
#include "mmc.h"

/* Each subcommand: int cmd_NAME(int argc, char **argv), argv[0] is the subcommand name.
 * Returns the process exit code (0 ok, 1 usage, 2 bad input, 3 runtime). */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage; /* full help text for `mmc help NAME` */
} cli_command;

extern const cli_command cli_commands[];
extern const int cli_ncommands;

/* Prints "mmc: error: ..." to stderr and returns code. */
int cli_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int cli_error_from(const mmc_error *e); /* prints e->msg, returns e->code (3 if 0) */


int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_zeroshot(int argc, char **argv);
int cmd_serve(int argc, char **argv);         /* serve.c: the HTTP service (src/serve/) */
int cmd_quantize(int argc, char **argv);      /* quantize.c */
/* quantize.c: the value of `--dtype` (f32, int8 = q8, q4) of the commands that open an
 * embedder, as mmc_embedder_opts.quantize (0, MMC_QTYPE_Q8, MMC_QTYPE_Q4). 0, or prints
 * "mmc: error: CMD: --dtype ..." and returns 1. */
int cli_parse_dtype(const char *cmd, const char *value, int *quantize);
/* The object `mmc zeroshot IMAGE --labels ... --json` prints for one image already embedded
 * (img: dim floats; image names it in the document): labels through the template (holding
 * "{}"), scored at the model's scale, the k best. NULL with err set. cJSON_Delete it. */
struct cJSON *cli_zeroshot_doc(mmc_embedder *e, const float *img, const char *image, const char *const *labels,
                               int n_labels, const char *tpl, int k, mmc_error *err);
int cmd_caption(int argc, char **argv);       /* caption.c */
int cmd_vqa(int argc, char **argv);           /* vqa.c */
int cmd_video(int argc, char **argv);         /* video.c */
int cmd_audio(int argc, char **argv);         /* audio.c */
/* tasks.c: the task table (a row per task: its train and eval commands, argv[0] the task
 * name for train and the RUN-taking argv of cmd_eval for eval; its lines in `mmc help train`). */
typedef struct cli_task {
    const char *name;
    int (*train)(int argc, char **argv);
    int (*eval)(int argc, char **argv);
    const char *usage;
} cli_task;
extern const cli_task CLI_TASKS[]; /* ends with a NULL name */
const cli_task *cli_task_find(const char *name);
const char *cli_task_names(void); /* "retrieval, caption, ..." */

/* train.c: shared by every trainer's CLI. The progress printer (a bar on a TTY, a plain
 * line every ~10 s otherwise; VAL events print ev->val or ev->val_line), and Ctrl-C as
 * "set the returned flag" (pass it as the trainer's interrupt; a second Ctrl-C kills). */
typedef struct cli_train_progress_state {
    int tty;
    double last_print;
    int video; /* a text:video retrieval run (its START line says so): "text->video" */
    int audio; /* an audio:image (1) or audio:text (2) run (the same): "audio->image" */
} cli_train_progress_state;
void cli_train_progress(void *user, const mmc_train_event *ev);
volatile int *cli_train_sigint_install(void);
void cli_train_sigint_restore(void);
/* Runs train(arg, o, err) with the progress printer and Ctrl-C installed on o: 0 when it
 * finished, 130 after an interrupt (the checkpoint is saved; says how to continue), else
 * the error's exit code with the message printed. */
typedef int (*cli_train_fn)(void *arg, const mmc_retrieval_train_opts *o, mmc_error *err);
int cli_train_run(cli_train_fn train, void *arg, mmc_retrieval_train_opts *o);
/* The flags every `mmc train TASK` takes, read once here: --data, --out, --config, one budget
 * (--epochs | --steps | --minutes), --seed, --threads, --val-max and --resume. A task's
 * stanza names only its own flags (cli_train_parse). Messages say "train TASK: ...". */
typedef struct cli_train_flags {
    const char *task; /* for messages: "retrieval", "caption", ... */
    const char *data, *out, *config;
    long long epochs, steps, seed, threads, val_max;
    double minutes;
    int resume, nbudget;
} cli_train_flags;
cli_train_flags cli_train_flags_init(const char *task); /* seed 1, val_max 0 (all) */
/* Reads argv[1..]: the shared flags into f, the task's own flags that take a value
 * (`own`, NULL-terminated, e.g. {"--lang", NULL}) into vals[k], its switches (`switches`,
 * NULL or NULL-terminated) into on[k] = 1; anything else is an unknown option. Then checks
 * the whole (--data and --out given, one budget at most), sets the thread count and fills
 * the loop's options o. 0, or 1 with the message printed. */
int cli_train_parse(cli_train_flags *f, int argc, char **argv, const char *const *own, const char **vals,
                    const char *const *switches, int *on, mmc_retrieval_train_opts *o);
/* eval.c: "retrieval", "caption", "vqa", "classify" or "clip" from RUN/config.json
 * (a run without a "task" is a retrieval run); NULL when unreadable. */
const char *cli_run_task(const char *run);

/* embed_common.c: shared by embed, index, search and zeroshot. */
/* Strict integer in [lo, hi] (no sign unless lo < 0, no trailing junk); 0 on success. */
int cli_parse_int(const char *s, int lo, int hi, int *out);
/* "[x0, x1, ...]" with 9 significant digits (round-trips a float); mmc_free it. */
char *cli_json_floats(const float *x, int n);
double cli_norm(const float *x, int n);
/* A video file's name (.mp4 .mkv .webm .avi .mov .m4v, any case): the extension only picks
 * candidates, the decoder decides. */
int cli_is_video_name(const char *name);
int cli_is_image_name(const char *name); /* .png .jpg .jpeg .ppm .pgm .pnm, the same way */
/* 0, or prints "mmc: error: WHAT is not valid UTF-8" and returns 2. */
int cli_check_utf8(const char *what, const char *s);
/* A live line on a terminal, else a plain line every 5 s and at the end. */
typedef struct cli_progress_state {
    FILE *out;
    double t0, last;
    int tty;
} cli_progress_state;
void cli_progress(cli_progress_state *p, const char *what, int64_t done, int64_t total);
/* The closing line of a long job, on stderr (stdout flushed first):
 * "VERB N WHAT in S s: R WHAT/s (NOTE)", e.g. "indexed 2000 images in 41.2 s: 48.5 images/s
 * (...)"; no parentheses when note is NULL or empty. */
void cli_report_rate(const char *verb, int64_t n, const char *what, double seconds, const char *note);

/* search.c */
/* The document `mmc search --json` prints, for a query already embedded (q: dim floats):
 * kind "text" or "image", query as given, index_name as given on the command line, model
 * the model path. Runs the top-k search. NULL with err set on failure. cJSON_Delete it. */
struct cJSON *cli_search_doc(const mmc_index *ix, const char *index_name, const char *model, const char *kind,
                             const char *query, const float *q, int k, mmc_error *err);

/* index_texts.c: the file of `mmc index build --texts FILE`, one text a line (UTF-8; blank
 * lines skipped; CRLF taken), or JSON lines {"id": ID, "text": TEXT} (id optional, all lines
 * or none) when FILE ends in .jsonl or every non-blank line starts with '{'. At most 1 GiB,
 * lines of at most 1 MiB, 10,000,000 texts. items[i] is what the index stores (TEXT, or
 * ID<tab>TEXT when with_ids), texts[i] the text inside it, to embed. Returns 0, or the exit
 * code (2: a bad file, the message naming FILE:LINE; 3: out of memory) with the message
 * printed and t empty. */
typedef struct cli_texts {
    char **items;
    const char **texts;
    int n, with_ids;
    int cap, owned; /* private: items' capacity; whether items are allocated (else in buf) */
    uint8_t *buf;   /* private: the file */
} cli_texts;
int cli_texts_read(const char *path, cli_texts *t);
void cli_texts_free(cli_texts *t);

#endif

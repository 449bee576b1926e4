/*
 * mmc/io.h — files (src/io): run folders (checkpoints, trainer state, metrics), safetensors
 * read/write, the HTML reports, and JSON files read as untrusted input.
 */
#ifndef MMC_IO_H
#define MMC_IO_H

#include "core.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- run folders (src/io/run.c) ---- */

/* Run folders (DESIGN.md §4): DIR/config.json, model.safetensors (every tensor of an
 * mmc_params), optimizer.safetensors (state.<param name>.exp_avg / .exp_avg_sq /
 * .momentum_buffer, with each parameter's step count and the optimizer kind in the
 * metadata), trainer.json (below) and metrics.jsonl.
 *
 * mmc_run_save stages every file next to its final name (NAME.next, itself written to a
 * temporary name, fsynced and renamed), and only when all are staged renames them into
 * place, trainer.json last, then fsyncs the folder and metrics.jsonl. A save that fails
 * leaves the previous checkpoint as it was. The model and optimizer files carry the
 * step in their metadata; a load refuses files from different steps (a save cut off
 * between two renames) rather than mixing them. */
#define MMC_RUN_MAX_STEP 1000000000000LL /* 1e12: steps, epochs and positions above are refused */
typedef struct mmc_trainer_state {
    int64_t step;          /* optimizer steps taken */
    int64_t epoch;         /* epochs completed */
    int64_t batch;         /* batches consumed in the current epoch (the data position) */
    int64_t schedule_step; /* the argument of the next mmc_schedule_lr */
    mmc_rng rng;           /* dropout, augmentation; saved as decimal strings (JSON numbers
                              are exact only to 2^53) */
    double best_metric;    /* NAN when there is none yet (saved as null) */
    char best_metric_name[64];
    /* The run (written by the training loop; absent from older files, read as 0 and
     * has_run = 0): training seconds so far (a --minutes budget counts only these), the
     * seed, the batch size and the number of training samples it was started with. */
    int has_run;
    double train_seconds;
    uint64_t seed;
    int64_t batch_size, n_train;
} mmc_trainer_state;
/* step 0, epoch 0, rng seeded with (seed, 0), no best metric. */
mmc_trainer_state mmc_trainer_state_init(uint64_t seed);

/* Saves a checkpoint into dir (created if missing, one level). opt may be NULL (no
 * optimizer file is written then); config_json: a JSON object written as config.json, or
 * NULL to leave config.json as it is. Optimizer state is named after each parameter's
 * tensor name (mmc_params sets it). */
int mmc_run_save(const char *dir, const struct mmc_params *P, mmc_optim *opt, const mmc_trainer_state *ts,
                 const char *config_json, mmc_error *err);
/* The same with the model file written by write_model(user, path, metadata_json, err)
 * (e.g. a Hugging Face folder's tensor names), which must store metadata_json as the
 * file's metadata; load such a checkpoint with mmc_run_load(dir, NULL, ...). */
typedef int (*mmc_run_model_writer)(void *user, const char *path, const char *metadata_json, mmc_error *err);
int mmc_run_save_with(const char *dir, mmc_run_model_writer write_model, void *user, mmc_optim *opt,
                      const mmc_trainer_state *ts, const char *config_json, mmc_error *err);
/* Loads a checkpoint into existing objects built as the saved ones were (same names and
 * shapes; opt of the same kind, over the same parameters; NULL skips the optimizer file;
 * P NULL: the caller reads the weights itself, the model file's step is still checked).
 * Everything is validated before anything is written: on any problem (missing file,
 * wrong type, a step beyond MMC_RUN_MAX_STEP, an rng increment that is even, a tensor of
 * the wrong shape) P, opt and ts are untouched and the error is MMC_ERR_INPUT naming the
 * file. */
int mmc_run_load(const char *dir, struct mmc_params *P, mmc_optim *opt, mmc_trainer_state *ts, mmc_error *err);
/* Before a resume: a save killed between its renames left DIR/trainer.json.next, staged
 * only after every other file of that checkpoint was whole, so the commit is finished
 * (the remaining NAME.next renamed over NAME, trainer.json last). Without it, leftover
 * NAME.next files are an unfinished staging — the previous checkpoint stands — and are
 * removed. MMC_ERR_RUNTIME when a rename fails. */
int mmc_run_recover(const char *dir, mmc_error *err);
/* Parts, for tools: trainer.json alone; config.json as text (*json from mmc_malloc, the
 * caller frees it with mmc_free). Same validation and errors as mmc_run_load. */
int mmc_run_read_trainer(const char *dir, mmc_trainer_state *ts, mmc_error *err);
int mmc_run_read_config(const char *dir, char **json, mmc_error *err);
/* Appends one JSON object (re-printed on one line) to dir/metrics.jsonl; the next
 * mmc_run_save fsyncs the file. MMC_ERR_USAGE when the text is not a JSON object. */
int mmc_run_log_metrics(const char *dir, const char *json_object, mmc_error *err);

/* ----------------------------------------------------------------- safetensors */

/* A loaded safetensors file (read fully into memory, validated). Tensors of dtype F32,
 * F16, BF16 are exposed as f32 on request; I64/I32 as integers. */
typedef struct mmc_st_entry {
    char *name;
    char dtype[8];       /* "F32", "F16", "BF16", "I64", "I32", ... */
    int ndim;
    int64_t shape[8];
    uint64_t begin, end; /* byte offsets into the data section */
} mmc_st_entry;

typedef struct mmc_safetensors {
    char *path;
    uint8_t *bytes;      /* whole file */
    size_t size;
    const uint8_t *data; /* start of the data section */
    size_t data_size;
    mmc_st_entry *entries;
    int count;
    char *metadata_json; /* the "__metadata__" object as JSON text, or NULL */
} mmc_safetensors;

int mmc_safetensors_open(mmc_safetensors *st, const char *path, mmc_error *err);
int mmc_safetensors_parse(mmc_safetensors *st, const char *name, const uint8_t *bytes,
                          size_t size, mmc_error *err); /* from memory; copies bytes */
void mmc_safetensors_close(mmc_safetensors *st);
const mmc_st_entry *mmc_safetensors_find(const mmc_safetensors *st, const char *name);
/* Copies tensor `name` into a new persistent f32 tensor (converting F16/BF16/F64/ints). */
mmc_tensor *mmc_safetensors_get(const mmc_safetensors *st, const char *name, mmc_error *err);
/* n elements of dtype at p (a tensor's bytes, or a run of them) as f32 into out: F32
 * copied, F16/BF16 exactly, F64 and integers converted. */
void mmc_safetensors_to_f32(const uint8_t *p, const char *dtype, int64_t n, float *out);
/* Reads an integer tensor (I64/I32/I8/U8...) into a new malloc'd int64 array. */
int64_t *mmc_safetensors_get_i64(const mmc_safetensors *st, const char *name,
                                 int64_t *count, mmc_error *err);
/* Writes tensors (F32) atomically: temp file, fsync, rename. names[i] for tensors[i];
 * metadata_json: NULL or a JSON object of string values. */
int mmc_safetensors_write(const char *path, mmc_tensor *const *tensors,
                          const char *const *names, int n, const char *metadata_json,
                          mmc_error *err);
/* The same for tensors of any dtype given as bytes: blob i is names/dtype/shape and
 * `bytes` bytes at `data` (which must equal the shape's element count times the dtype's
 * size: checked). */
typedef struct mmc_st_blob {
    const char *name, *dtype;
    int ndim;
    int64_t shape[8];
    const void *data;
    size_t bytes;
} mmc_st_blob;
int mmc_safetensors_write_blobs(const char *path, const mmc_st_blob *blobs, int n, const char *metadata_json,
                                mmc_error *err);

/* ---- reports (src/io/report.c) ---- */
/* A self-contained HTML page: no scripts, no external resources, so it opens anywhere
 * offline (`mmc demo` writes one; run reports later). Blocks appear in the order they are
 * created: headings, paragraphs, tables, line charts (inline SVG with axes, ticks, axis
 * labels and a legend) and galleries of examples (an image embedded as a base64 data: URI,
 * with lines of text under it). A table, chart or gallery is created once and filled
 * afterwards through its id, so a caller can add rows and series as results come in.
 * Every text is HTML-escaped and must be valid UTF-8 (MMC_ERR_INPUT otherwise; control
 * characters other than newline become spaces; a newline breaks the line). */
typedef struct mmc_report mmc_report;
mmc_report *mmc_report_new(const char *title, mmc_error *err);
void mmc_report_free(mmc_report *r); /* NULL is fine */
int mmc_report_heading(mmc_report *r, const char *text, mmc_error *err);   /* <h2> */
int mmc_report_text(mmc_report *r, const char *text, mmc_error *err);      /* a paragraph */
/* A table of ncols (1..64) columns with header[ncols]; returns its id (>= 0), or -1 with err. */
int mmc_report_table(mmc_report *r, const char *caption, int ncols, const char *const *header,
                     mmc_error *err);
int mmc_report_table_row(mmc_report *r, int table, const char *const *cells, mmc_error *err);
/* A line chart; returns its id (>= 0), or -1 with err. */
int mmc_report_chart(mmc_report *r, const char *title, const char *x_label, const char *y_label,
                     mmc_error *err);
/* One series of n points (x[i], y[i]); points with a non-finite coordinate are skipped.
 * Drawn as a line (with dots when it has at most 40 points); a series of more than 2000
 * points is thinned evenly for drawing (first and last kept). */
int mmc_report_series(mmc_report *r, int chart, const char *name, const double *x, const double *y,
                      int n, mmc_error *err);
/* The series y_key against x_key read from a JSON-lines file such as a run's metrics.jsonl.
 * A key may be a dotted path into nested objects ("val.text_to_image.R@1"); lines without
 * both numbers are skipped; *n_points (may be NULL) gets the number kept. MMC_ERR_INPUT
 * naming the file and line for a line that is not JSON (a torn last line is skipped). */
int mmc_report_series_jsonl(mmc_report *r, int chart, const char *name, const char *path,
                            const char *x_key, const char *y_key, int *n_points, mmc_error *err);
/* A gallery (a row of examples that wraps); returns its id (>= 0), or -1 with err. */
int mmc_report_gallery(mmc_report *r, const char *title, mmc_error *err);
/* An example from an image file (PNG, JPEG or PPM/PGM; decoded first, so a broken file is
 * MMC_ERR_INPUT naming it). PNG and JPEG files of at most 512 px a side are embedded byte
 * for byte; others are downscaled to 256 px on the longer side (or just re-encoded) as
 * PNG. image_path NULL: a text-only example. mark: 0 plain, 1 good (green frame), -1 bad
 * (red frame). */
int mmc_report_example_file(mmc_report *r, int gallery, const char *image_path, const char *text,
                            int mark, mmc_error *err);
/* The same from 8-bit pixels (w*h*channels bytes, HWC, channels 1..4), encoded as PNG. */
int mmc_report_example_pixels(mmc_report *r, int gallery, int w, int h, int channels,
                              const uint8_t *pixels, const char *text, int mark, mmc_error *err);
/* A sound clip with player controls (an HTML5 <audio controls> whose source is the file's
 * bytes as a base64 data: URI, so it plays offline) and lines of text under it. The file
 * must be WAV, Ogg, FLAC or MP3 (by its magic) of at most 16 MiB and decode (mmc_audio_decode),
 * else MMC_ERR_INPUT naming it. Browsers play WAV and MP3 everywhere; Ogg and FLAC in all
 * but older Safari. */
int mmc_report_example_audio(mmc_report *r, int gallery, const char *audio_path, const char *text,
                             int mark, mmc_error *err);
/* The page as a NUL-terminated string (mmc_free it); NULL + err on OOM. */
char *mmc_report_html(const mmc_report *r, mmc_error *err);
/* Writes the page to path atomically (temp file, fsync, rename). */
int mmc_report_write(const mmc_report *r, const char *path, mmc_error *err);

/* An 8-bit PNG in memory (the same encoding as mmc_png_write): *out from mmc_malloc, the
 * caller frees it with mmc_free. */
int mmc_png_encode(int w, int h, int channels, const uint8_t *pixels, uint8_t **out, size_t *n,
                   mmc_error *err);

/* ---- JSON files (src/io/json.c) ---- */

struct cJSON;
/* Reads the JSON file at path (at most max_bytes) into *root (cJSON_Delete it; NULL on
 * failure). A file that cannot be read, is not UTF-8, holds a NUL byte or is not JSON, or
 * (object set) holds another value than an object, is an error naming the file:
 * MMC_ERR_INPUT (MMC_ERR_RUNTIME when out of memory). */
int mmc_json_load(const char *path, size_t max_bytes, int object, struct cJSON **root, mmc_error *err);

/* (declarations for reports go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_IO_H */

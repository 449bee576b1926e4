/* run.c — checkpoints in a run folder: model.safetensors, optimizer.safetensors,
 * trainer.json (and config.json when given).
 *
 * Save is two-phase so that a failure leaves the previous checkpoint whole: every file is
 * first staged as NAME.next (written to a temporary name, fsynced, renamed); only when all
 * are staged are they renamed over the old ones, trainer.json last, so its presence marks
 * a finished checkpoint. A crash between two of those renames could still pair a new model
 * with an old trainer.json, so the model and optimizer files carry the step in their
 * metadata and load refuses a mismatch instead of resuming from a mixed state.
 *
 * Load is validate-then-commit: all three files are read and checked into temporaries, and
 * only then copied into the caller's objects, so a bad file changes nothing. */
#include "run_internal.h"
#include "mmc/nn.h" /* mmc_params: a checkpoint is a parameter list */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { STAGE_MAX = 4 };
typedef struct stage {
    int n;
    char next[STAGE_MAX][RUN_PATH_MAX], final[STAGE_MAX][RUN_PATH_MAX];
} stage;

/* ------------------------------------------------------------------- save */

static int ensure_dir(const char *dir, mmc_error *err) {
    if (mkdir(dir, 0777) == 0) return MMC_OK;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return MMC_OK;
    return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot create the run folder: %s", dir,
                         e == EEXIST ? "a file is in the way" : strerror(e));
}

/* Reserves the next slot: fills its two paths. */
static int stage_add(stage *s, const char *dir, const char *name, mmc_error *err) {
    char nx[256];
    snprintf(nx, sizeof nx, "%s.next", name);
    int rc = mmc_run_path(s->final[s->n], RUN_PATH_MAX, dir, name, err);
    if (!rc) rc = mmc_run_path(s->next[s->n], RUN_PATH_MAX, dir, nx, err);
    return rc;
}

static void stage_discard(stage *s, int from) {
    for (int i = from; i < s->n; i++) unlink(s->next[i]);
}

static int stage_text(stage *s, const char *dir, const char *name, const char *text, mmc_error *err) {
    int rc = stage_add(s, dir, name, err);
    if (!rc) rc = mmc_write_file_atomic(s->next[s->n], text, strlen(text), err);
    if (!rc) s->n++;
    return rc;
}

static int stage_config(stage *s, const char *dir, const char *config_json, mmc_error *err) {
    cJSON *o = cJSON_Parse(config_json);
    int ok = cJSON_IsObject(o);
    cJSON_Delete(o);
    if (!ok) return mmc_error_set(err, MMC_ERR_USAGE, "%s/config.json: the config is not a JSON object", dir);
    return stage_text(s, dir, "config.json", config_json, err);
}

static int stage_trainer(stage *s, const char *dir, const mmc_trainer_state *ts, mmc_error *err) {
    char *text = mmc_run_trainer_text(ts);
    if (!text) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s/trainer.json: out of memory", dir);
    int rc = stage_text(s, dir, "trainer.json", text, err);
    cJSON_free(text);
    return rc;
}

static void add_step_meta(cJSON *meta, const char *key, int64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    cJSON_AddStringToObject(meta, key, b);
}

static int stage_model(stage *s, const char *dir, const mmc_params *P, mmc_run_model_writer w, void *user, int64_t step,
                       mmc_error *err) {
    char meta[128];
    snprintf(meta, sizeof meta, "{\"format\":\"pt\",\"mmc_version\":\"%s\",\"checkpoint_step\":\"%lld\"}",
             MMC_VERSION, (long long)step);
    int rc = stage_add(s, dir, "model.safetensors", err);
    if (!rc) rc = w ? w(user, s->next[s->n], meta, err) : mmc_params_save(P, s->next[s->n], meta, err);
    if (!rc) s->n++;
    return rc;
}

/* The optimizer's tensors and names ("state.<param>.<slot>") plus its metadata: kind,
 * step of the checkpoint, and each parameter's step count ("state.<param>.step"). */
typedef struct opt_file {
    int n;
    mmc_tensor **t;
    char **names;
    cJSON *meta;
} opt_file;

static void opt_file_free(opt_file *f) {
    for (int i = 0; f->names && i < f->n; i++) mmc_free(f->names[i]);
    mmc_free(f->names);
    mmc_free(f->t);
    cJSON_Delete(f->meta);
}

static char *state_name(const char *param, const char *what) {
    size_t n = strlen(param) + strlen(what) + 8;
    char *s = mmc_malloc(n);
    if (s) snprintf(s, n, "state.%s.%s", param, what);
    return s;
}

static int opt_file_build(opt_file *f, mmc_optim *opt, int64_t step, const char *path, mmc_error *err) {
    const int np = mmc_optim_count(opt), ns = mmc_optim_slots(opt);
    memset(f, 0, sizeof *f);
    f->t = mmc_calloc((size_t)(np * ns + 1), sizeof *f->t);
    f->names = mmc_calloc((size_t)(np * ns + 1), sizeof *f->names);
    f->meta = cJSON_CreateObject();
    if (!f->t || !f->names || !f->meta) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    cJSON_AddStringToObject(f->meta, "optimizer", mmc_optim_kind(opt));
    cJSON_AddStringToObject(f->meta, "mmc_version", MMC_VERSION);
    add_step_meta(f->meta, "checkpoint_step", step);
    for (int i = 0; i < np; i++) {
        const char *pn = mmc_optim_param(opt, i)->name;
        if (!pn) return mmc_error_set(err, MMC_ERR_USAGE, "%s: optimizer parameter %d has no name", path, i);
        char *key = state_name(pn, "step");
        if (!key) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
        add_step_meta(f->meta, key, mmc_optim_get_steps(opt, i));
        mmc_free(key);
        for (int k = 0; k < ns; k++) {
            f->names[f->n] = state_name(pn, mmc_optim_slot_name(opt, k));
            f->t[f->n] = mmc_optim_state(opt, i, k);
            if (!f->names[f->n++]) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
        }
    }
    return MMC_OK;
}

static int stage_optimizer(stage *s, const char *dir, mmc_optim *opt, int64_t step, mmc_error *err) {
    int rc = stage_add(s, dir, "optimizer.safetensors", err);
    if (rc) return rc;
    opt_file f;
    rc = opt_file_build(&f, opt, step, s->next[s->n], err);
    char *meta = rc ? NULL : cJSON_PrintUnformatted(f.meta);
    if (!rc && !meta) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", s->next[s->n]);
    if (!rc) rc = mmc_safetensors_write(s->next[s->n], f.t, (const char *const *)f.names, f.n, meta, err);
    if (!rc) s->n++;
    cJSON_free(meta);
    opt_file_free(&f);
    return rc;
}

/* fsync of the folder makes the renames durable; of metrics.jsonl, the lines so far. */
static int sync_path(const char *path, int flags, int missing_ok, mmc_error *err) {
    int fd = open(path, flags);
    if (fd < 0) {
        if (missing_ok && errno == ENOENT) return MMC_OK;
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot open to fsync: %s", path, strerror(errno));
    }
    int rc = fsync(fd) == 0 || errno == EINVAL ? MMC_OK
                                                : mmc_error_set(err, MMC_ERR_RUNTIME, "%s: fsync failed: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static int commit(stage *s, const char *dir, mmc_error *err) {
    for (int i = 0; i < s->n; i++)
        if (rename(s->next[i], s->final[i]) != 0) {
            int e = errno;
            stage_discard(s, i);
            return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: rename failed: %s (the checkpoint in %s is incomplete)",
                                 s->final[i], strerror(e), dir);
        }
    char metrics[RUN_PATH_MAX];
    int rc = sync_path(dir, O_RDONLY | O_DIRECTORY, 0, err);
    if (!rc) rc = mmc_run_path(metrics, sizeof metrics, dir, "metrics.jsonl", err);
    if (!rc) rc = sync_path(metrics, O_RDONLY, 1, err);
    return rc;
}

static int run_save(const char *dir, const mmc_params *P, mmc_run_model_writer w, void *user, mmc_optim *opt,
                    const mmc_trainer_state *ts, const char *config_json, mmc_error *err) {
    if (!dir || !(P || w) || !ts) return mmc_error_set(err, MMC_ERR_USAGE, "run save: NULL folder, params or trainer state");
    /* refuse to write a checkpoint that load would refuse */
    int rc = mmc_run_trainer_valid(ts, "run save", MMC_ERR_USAGE, err);
    if (!rc) rc = ensure_dir(dir, err);
    if (rc) return rc;
    stage s = {0};
    if (config_json) rc = stage_config(&s, dir, config_json, err);
    if (!rc) rc = stage_model(&s, dir, P, w, user, ts->step, err);
    if (!rc && opt) rc = stage_optimizer(&s, dir, opt, ts->step, err);
    if (!rc) rc = stage_trainer(&s, dir, ts, err);
    if (rc) {
        stage_discard(&s, 0);
        return rc;
    }
    return commit(&s, dir, err);
}

int mmc_run_save(const char *dir, const mmc_params *P, mmc_optim *opt, const mmc_trainer_state *ts,
                 const char *config_json, mmc_error *err) {
    if (!P) return mmc_error_set(err, MMC_ERR_USAGE, "run save: NULL params");
    return run_save(dir, P, NULL, NULL, opt, ts, config_json, err);
}

int mmc_run_save_with(const char *dir, mmc_run_model_writer write_model, void *user, mmc_optim *opt,
                      const mmc_trainer_state *ts, const char *config_json, mmc_error *err) {
    if (!write_model) return mmc_error_set(err, MMC_ERR_USAGE, "run save: NULL model writer");
    return run_save(dir, NULL, write_model, user, opt, ts, config_json, err);
}

/* ------------------------------------------------------------------- load */

static int same_shape(const mmc_st_entry *e, const mmc_tensor *t) {
    if (e->ndim != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if (e->shape[d] != t->shape[d]) return 0;
    return 1;
}

/* Reads `name` shaped like `like` into a new tensor; MMC_ERR_INPUT naming the file when
 * it is missing, shaped differently or not a float tensor. */
static int read_like(const mmc_safetensors *st, const char *name, const mmc_tensor *like, mmc_tensor **out,
                     mmc_error *err) {
    const mmc_st_entry *e = mmc_safetensors_find(st, name);
    char b[64];
    if (!e) return mmc_error_set(err, MMC_ERR_INPUT, "%s: missing tensor '%s'", st->path, name);
    if (!same_shape(e, like))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has the wrong shape (expected %s)", st->path, name,
                             mmc_shape_str(like, b, sizeof b));
    if (strcmp(e->dtype, "F32") && strcmp(e->dtype, "F16") && strcmp(e->dtype, "BF16") && strcmp(e->dtype, "F64"))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' is %s, expected a float type", st->path, name, e->dtype);
    *out = mmc_safetensors_get(st, name, err);
    if (!*out) return err && err->code ? err->code : MMC_ERR_INPUT;
    /* NaN/Inf weights or optimizer moments would only show later as a diverged run */
    for (int64_t i = 0; i < (*out)->numel; i++)
        if (!isfinite((*out)->data[i])) {
            int rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' holds a non-finite value (%g at element %lld)",
                                   st->path, name, (double)(*out)->data[i], (long long)i);
            mmc_tensor_free(*out);
            *out = NULL;
            return rc;
        }
    return MMC_OK;
}

/* The metadata object of st (NULL when absent or not an object). */
static cJSON *metadata(const mmc_safetensors *st) {
    cJSON *m = st->metadata_json ? cJSON_Parse(st->metadata_json) : NULL;
    if (m && !cJSON_IsObject(m)) { cJSON_Delete(m); m = NULL; }
    return m;
}

static const char *meta_str(const cJSON *m, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A file that says which step it belongs to must agree with trainer.json. Files without
 * the key (written by other tools) are taken as they are. */
static int check_step(const cJSON *m, const char *path, int64_t step, mmc_error *err) {
    const char *s = meta_str(m, "checkpoint_step");
    uint64_t v = 0;
    if (!s) return MMC_OK;
    if (!mmc_run_parse_u64(s, &v) || v != (uint64_t)step)
        return mmc_error_set(err, MMC_ERR_INPUT,
                             "%s: written at step %s but trainer.json is at step %lld (a save was interrupted?)", path,
                             s, (long long)step);
    return MMC_OK;
}

static int no_extras(const mmc_safetensors *st, int expected, mmc_error *err) {
    if (st->count == expected) return MMC_OK;
    return mmc_error_set(err, MMC_ERR_INPUT, "%s: %d tensors, expected %d", st->path, st->count, expected);
}

static void free_all(mmc_tensor **t, int n) {
    for (int i = 0; t && i < n; i++) mmc_tensor_free(t[i]);
    mmc_free(t);
}

static int open_in(mmc_safetensors *st, const char *dir, const char *name, mmc_error *err) {
    char path[RUN_PATH_MAX];
    int rc = mmc_run_path(path, sizeof path, dir, name, err);
    return rc ? rc : mmc_safetensors_open(st, path, err);
}

static int read_model(const char *dir, const mmc_params *P, int64_t step, mmc_tensor ***out, mmc_error *err) {
    mmc_safetensors st;
    int rc = open_in(&st, dir, "model.safetensors", err);
    if (rc) return rc;
    cJSON *m = metadata(&st);
    mmc_tensor **t = mmc_calloc((size_t)P->n + 1, sizeof *t);
    rc = t ? check_step(m, st.path, step, err) : mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", st.path);
    if (!rc) rc = no_extras(&st, P->n, err);
    for (int i = 0; !rc && i < P->n; i++) rc = read_like(&st, P->names[i], P->tensors[i], &t[i], err);
    cJSON_Delete(m);
    mmc_safetensors_close(&st);
    if (rc) free_all(t, P->n);
    else *out = t;
    return rc;
}

static int read_steps(const cJSON *m, const char *path, const char *param, int64_t *out, mmc_error *err) {
    char *key = state_name(param, "step");
    if (!key) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    const char *s = meta_str(m, key);
    uint64_t v = 0;
    int ok = s && mmc_run_parse_u64(s, &v) && v <= (uint64_t)MMC_RUN_MAX_STEP;
    int rc = ok ? MMC_OK
                : mmc_error_set(err, MMC_ERR_INPUT, "%s: metadata '%s' must be a step count in [0, %lld]", path, key,
                                (long long)MMC_RUN_MAX_STEP);
    mmc_free(key);
    *out = (int64_t)v;
    return rc;
}

static int read_param_state(const mmc_safetensors *st, const cJSON *m, mmc_optim *opt, int i, mmc_tensor **t,
                            int64_t *steps, mmc_error *err) {
    const mmc_tensor *p = mmc_optim_param(opt, i);
    if (!p->name) return mmc_error_set(err, MMC_ERR_USAGE, "%s: optimizer parameter %d has no name", st->path, i);
    int rc = read_steps(m, st->path, p->name, &steps[i], err);
    for (int k = 0; !rc && k < mmc_optim_slots(opt); k++) {
        char *name = state_name(p->name, mmc_optim_slot_name(opt, k));
        rc = name ? read_like(st, name, p, &t[k], err) : mmc_error_set(err, MMC_ERR_RUNTIME, "out of memory");
        mmc_free(name);
    }
    return rc;
}

static int read_optimizer(const char *dir, mmc_optim *opt, int64_t step, mmc_tensor ***out, int64_t **steps_out,
                          mmc_error *err) {
    mmc_safetensors st;
    int rc = open_in(&st, dir, "optimizer.safetensors", err);
    if (rc) return rc;
    const int np = mmc_optim_count(opt), ns = mmc_optim_slots(opt);
    cJSON *m = metadata(&st);
    const char *kind = meta_str(m, "optimizer");
    mmc_tensor **t = mmc_calloc((size_t)(np * ns) + 1, sizeof *t);
    int64_t *steps = mmc_calloc((size_t)np + 1, sizeof *steps);
    if (!t || !steps) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", st.path);
    else if (!kind || strcmp(kind, mmc_optim_kind(opt)))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: optimizer state of '%s', but the optimizer is %s", st.path,
                           kind ? kind : "(unknown)", mmc_optim_kind(opt));
    if (!rc) rc = check_step(m, st.path, step, err);
    if (!rc) rc = no_extras(&st, np * ns, err);
    for (int i = 0; !rc && i < np; i++) rc = read_param_state(&st, m, opt, i, t + (size_t)i * ns, steps, err);
    cJSON_Delete(m);
    mmc_safetensors_close(&st);
    if (rc) {
        free_all(t, np * ns);
        mmc_free(steps);
    } else {
        *out = t;
        *steps_out = steps;
    }
    return rc;
}

static void copy_into(mmc_tensor *dst, const mmc_tensor *src) {
    memcpy(dst->data, src->data, sizeof(float) * (size_t)dst->numel);
}

/* The model file of a checkpoint whose weights the caller reads itself: only its step. */
static int check_model_step(const char *dir, int64_t step, mmc_error *err) {
    mmc_safetensors st;
    int rc = open_in(&st, dir, "model.safetensors", err);
    if (rc) return rc;
    cJSON *m = metadata(&st);
    rc = check_step(m, st.path, step, err);
    cJSON_Delete(m);
    mmc_safetensors_close(&st);
    return rc;
}

int mmc_run_load(const char *dir, mmc_params *P, mmc_optim *opt, mmc_trainer_state *ts, mmc_error *err) {
    if (!dir || !ts) return mmc_error_set(err, MMC_ERR_USAGE, "run load: NULL folder or trainer state");
    mmc_trainer_state t;
    mmc_tensor **model = NULL, **state = NULL;
    int64_t *steps = NULL;
    int rc = mmc_run_read_trainer(dir, &t, err);
    if (!rc) rc = P ? read_model(dir, P, t.step, &model, err) : check_model_step(dir, t.step, err);
    if (!rc && opt) rc = read_optimizer(dir, opt, t.step, &state, &steps, err);
    if (!rc) {
        for (int i = 0; P && i < P->n; i++) copy_into(P->tensors[i], model[i]);
        const int np = mmc_optim_count(opt), ns = mmc_optim_slots(opt);
        for (int i = 0; i < np; i++) {
            for (int k = 0; k < ns; k++) copy_into(mmc_optim_state(opt, i, k), state[i * ns + k]);
            mmc_optim_set_steps(opt, i, steps[i]);
        }
        *ts = t;
    }
    free_all(model, P ? P->n : 0);
    free_all(state, mmc_optim_count(opt) * mmc_optim_slots(opt));
    mmc_free(steps);
    return rc;
}

/* ---------------------------------------------------------------- recover */

int mmc_run_recover(const char *dir, mmc_error *err) {
    static const char *const files[] = {"config.json", "model.safetensors", "optimizer.safetensors", "trainer.json"};
    char next[RUN_PATH_MAX], final[RUN_PATH_MAX];
    int rc = mmc_run_path(next, sizeof next, dir, "trainer.json.next", err);
    if (rc) return rc;
    int finish = access(next, F_OK) == 0;
    for (int i = 0; i < 4; i++) {
        char nx[64];
        snprintf(nx, sizeof nx, "%s.next", files[i]);
        if ((rc = mmc_run_path(next, sizeof next, dir, nx, err)) || (rc = mmc_run_path(final, sizeof final, dir, files[i], err)))
            return rc;
        if (!finish) { unlink(next); continue; }
        if (rename(next, final) != 0 && errno != ENOENT)
            return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: rename failed: %s (resume finishes this checkpoint)", final, strerror(errno));
    }
    return finish ? sync_path(dir, O_RDONLY | O_DIRECTORY, 0, err) : MMC_OK;
}

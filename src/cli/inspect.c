/* inspect.c — `mmc inspect FILE.safetensors | RUN [--json]`: a safetensors file's tensors
 * with statistics, or a run folder's summary: config.json, trainer.json (where training
 * stands), the model's tensors and the optimizer state. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct stats { double min, max, mean, std; int64_t nonfinite; } stats;

static stats compute(const mmc_tensor *t) {
    stats s = {INFINITY, -INFINITY, 0, 0, 0};
    double sum = 0, sum2 = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = t->data[i];
        if (!isfinite(v)) { s.nonfinite++; continue; }
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
        sum += v;
        sum2 += v * v;
        n++;
    }
    if (n) {
        s.mean = sum / (double)n;
        double var = sum2 / (double)n - s.mean * s.mean;
        s.std = var > 0 ? sqrt(var) : 0;
    } else s.min = s.max = 0;
    return s;
}

static void shape_str(const mmc_st_entry *e, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < e->ndim && off < n; d++)
        off += (size_t)snprintf(buf + off, n - off, d ? ", %lld" : "%lld", (long long)e->shape[d]);
    if (off < n) snprintf(buf + off, n - off, ")");
}

/* One tensor: a JSON object into arr, or a table row on stdout. Returns its value count. */
static int64_t list_tensor(const mmc_safetensors *st, const mmc_st_entry *e, cJSON *arr) {
    mmc_error err = {0};
    char shp[128];
    shape_str(e, shp, sizeof shp);
    int64_t numel = 1;
    for (int d = 0; d < e->ndim; d++) numel *= e->shape[d];
    mmc_tensor *t = e->ndim <= MMC_MAX_DIMS ? mmc_safetensors_get(st, e->name, &err) : NULL;
    stats s = {0};
    if (t) s = compute(t);
    if (arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddStringToObject(o, "dtype", e->dtype);
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < e->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e->shape[d]));
        if (t) {
            cJSON_AddNumberToObject(o, "min", s.min);
            cJSON_AddNumberToObject(o, "max", s.max);
            cJSON_AddNumberToObject(o, "mean", s.mean);
            cJSON_AddNumberToObject(o, "std", s.std);
            cJSON_AddNumberToObject(o, "nonfinite", (double)s.nonfinite);
        }
        cJSON_AddItemToArray(arr, o);
    } else if (t) {
        printf("%-48s %-5s %-20s %11.4g %11.4g %11.4g %11.4g%s\n", e->name, e->dtype, shp, s.min, s.max, s.mean, s.std,
               s.nonfinite ? "  (has NaN/Inf)" : "");
    } else {
        printf("%-48s %-5s %-20s (statistics unavailable: %s)\n", e->name, e->dtype, shp, err.msg);
    }
    mmc_tensor_free(t);
    return numel;
}

/* Every tensor of st: into doc ("metadata", "tensors", "parameters") or as a table. */
static void list_tensors(const mmc_safetensors *st, cJSON *doc) {
    cJSON *arr = NULL;
    if (doc) {
        cJSON *meta = st->metadata_json ? cJSON_Parse(st->metadata_json) : cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "metadata", meta ? meta : cJSON_CreateObject());
        arr = cJSON_AddArrayToObject(doc, "tensors");
    } else {
        printf("%s: %d tensors\n", st->path, st->count);
        if (st->metadata_json) printf("metadata: %s\n", st->metadata_json);
        printf("%-48s %-5s %-20s %11s %11s %11s %11s\n", "name", "dtype", "shape", "min", "max", "mean", "std");
    }
    int64_t total = 0;
    for (int i = 0; i < st->count; i++) total += list_tensor(st, &st->entries[i], arr);
    if (doc) cJSON_AddNumberToObject(doc, "parameters", (double)total);
    else printf("total: %lld values\n", (long long)total);
}

static int print_doc(cJSON *doc) {
    char *out = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!out) return cli_error(3, "inspect: out of memory");
    puts(out);
    cJSON_free(out);
    return 0;
}

static int inspect_file(const char *path, int json) {
    mmc_safetensors st;
    mmc_error err = {0};
    if (mmc_safetensors_open(&st, path, &err) != MMC_OK) return cli_error_from(&err);
    cJSON *doc = json ? cJSON_CreateObject() : NULL;
    if (doc) cJSON_AddStringToObject(doc, "file", path);
    list_tensors(&st, doc);
    mmc_safetensors_close(&st);
    return doc ? print_doc(doc) : 0;
}

/* ---- run folders ---- */

/* config.json: the object itself (JSON), or its top-level keys with short values. */
static void config_summary(const cJSON *cfg) {
    printf("config.json:");
    for (const cJSON *v = cfg->child; v; v = v->next) {
        if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
            printf(" %s=%s%d%s", v->string, cJSON_IsObject(v) ? "{" : "[", cJSON_GetArraySize(v),
                   cJSON_IsObject(v) ? " keys}" : " items]");
            continue;
        }
        char *text = cJSON_PrintUnformatted(v);
        if (text) printf(" %s=%.40s%s", v->string, text, strlen(text) > 40 ? "..." : "");
        cJSON_free(text);
    }
    printf("\n");
}

static cJSON *trainer_json(const mmc_trainer_state *ts) {
    char b[24];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)ts->step);
    cJSON_AddNumberToObject(o, "epoch", (double)ts->epoch);
    cJSON_AddNumberToObject(o, "batch_in_epoch", (double)ts->batch);
    cJSON_AddNumberToObject(o, "schedule_step", (double)ts->schedule_step);
    if (isnan(ts->best_metric)) cJSON_AddNullToObject(o, "best_metric");
    else cJSON_AddNumberToObject(o, "best_metric", ts->best_metric);
    cJSON_AddStringToObject(o, "best_metric_name", ts->best_metric_name);
    cJSON *rng = cJSON_AddObjectToObject(o, "rng");
    snprintf(b, sizeof b, "%" PRIu64, ts->rng.state);
    cJSON_AddStringToObject(rng, "state", b);
    snprintf(b, sizeof b, "%" PRIu64, ts->rng.inc);
    cJSON_AddStringToObject(rng, "inc", b);
    return o;
}

static void trainer_summary(const mmc_trainer_state *ts) {
    printf("trainer.json: step %lld, epoch %lld (batch %lld of the next), schedule step %lld, ", (long long)ts->step,
           (long long)ts->epoch, (long long)ts->batch, (long long)ts->schedule_step);
    if (isnan(ts->best_metric)) printf("no best metric yet\n");
    else printf("best %s = %.6g\n", ts->best_metric_name[0] ? ts->best_metric_name : "metric", ts->best_metric);
}

/* The optimizer file's summary from its metadata: kind, per-parameter step counts. */
static cJSON *optimizer_json(const mmc_safetensors *st) {
    cJSON *meta = st->metadata_json ? cJSON_Parse(st->metadata_json) : NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(meta, "optimizer");
    int64_t values = 0, params = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < st->count; i++) {
        int64_t n = 1;
        for (int d = 0; d < st->entries[i].ndim; d++) n *= st->entries[i].shape[d];
        values += n;
    }
    for (const cJSON *v = meta ? meta->child : NULL; v; v = v->next) {
        size_t len = strlen(v->string);
        if (strncmp(v->string, "state.", 6) || len < 11 || strcmp(v->string + len - 5, ".step") || !cJSON_IsString(v))
            continue;
        double s = strtod(v->valuestring, NULL);
        params++;
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", cJSON_IsString(kind) ? kind->valuestring : "unknown");
    cJSON_AddNumberToObject(o, "parameters", (double)params);
    cJSON_AddNumberToObject(o, "state_tensors", st->count);
    cJSON_AddNumberToObject(o, "state_values", (double)values);
    if (params) {
        cJSON_AddNumberToObject(o, "steps_min", lo);
        cJSON_AddNumberToObject(o, "steps_max", hi);
    }
    cJSON_Delete(meta);
    return o;
}

static void optimizer_summary(const cJSON *o) {
    const cJSON *lo = cJSON_GetObjectItem(o, "steps_min"), *hi = cJSON_GetObjectItem(o, "steps_max");
    printf("optimizer.safetensors: %s, %d state tensors (%.0f values) for %d parameters",
           cJSON_GetObjectItem(o, "kind")->valuestring, cJSON_GetObjectItem(o, "state_tensors")->valueint,
           cJSON_GetObjectItem(o, "state_values")->valuedouble, cJSON_GetObjectItem(o, "parameters")->valueint);
    if (lo && hi) printf(", steps %.0f to %.0f", lo->valuedouble, hi->valuedouble);
    printf("\n");
}

/* optimizer.safetensors is optional (an inference checkpoint has none), but a broken one
 * is an error like any other file. */
static int run_optimizer(const char *dir, cJSON *doc) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    if (stat(path, &sb) != 0) {
        if (doc) cJSON_AddNullToObject(doc, "optimizer");
        else printf("optimizer.safetensors: none\n");
        return 0;
    }
    mmc_safetensors st;
    mmc_error err = {0};
    if (mmc_safetensors_open(&st, path, &err) != MMC_OK) return cli_error_from(&err);
    cJSON *o = optimizer_json(&st);
    mmc_safetensors_close(&st);
    if (doc) cJSON_AddItemToObject(doc, "optimizer", o);
    else {
        optimizer_summary(o);
        cJSON_Delete(o);
    }
    return 0;
}

static int run_model(const char *dir, cJSON *doc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mmc_safetensors st;
    mmc_error err = {0};
    if (mmc_safetensors_open(&st, path, &err) != MMC_OK) return cli_error_from(&err);
    cJSON *m = doc ? cJSON_AddObjectToObject(doc, "model") : NULL;
    if (m) cJSON_AddStringToObject(m, "file", path);
    list_tensors(&st, m);
    mmc_safetensors_close(&st);
    return 0;
}

/* trainer.json as a plain JSON object with a numeric "step": the format retrieval runs
 * had before the training loop (src/models/train_loop.c; retrieval_train.c still reads
 * it to resume such a run). NULL when the file is not that either. */
static cJSON *read_other_trainer(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/trainer.json", dir);
    cJSON *o;
    mmc_error e = {0};
    if (mmc_json_load(path, (size_t)1 << 20, 1, &o, &e)) return NULL;
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "step"))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void other_trainer_summary(const cJSON *o) {
    printf("trainer.json (retrieval trainer):");
    for (const cJSON *it = o->child; it; it = it->next) {
        if (cJSON_IsNumber(it)) printf(" %s %.6g,", it->string, it->valuedouble);
        else if (cJSON_IsString(it)) printf(" %s %s,", it->string, it->valuestring);
    }
    printf("\n");
}

static int inspect_run(const char *dir, int json) {
    mmc_error err = {0};
    mmc_trainer_state ts;
    char *config = NULL;
    cJSON *other = NULL;
    if (mmc_run_read_trainer(dir, &ts, &err)) {
        other = read_other_trainer(dir);
        if (!other) return cli_error_from(&err);
    }
    if (mmc_run_read_config(dir, &config, &err)) {
        cJSON_Delete(other);
        return cli_error_from(&err);
    }
    cJSON *cfg = cJSON_Parse(config);
    mmc_free(config);
    if (!cfg) return cli_error(3, "inspect: out of memory");
    cJSON *doc = json ? cJSON_CreateObject() : NULL;
    if (doc) {
        cJSON_AddStringToObject(doc, "run", dir);
        cJSON_AddItemToObject(doc, "config", cfg);
        cJSON_AddItemToObject(doc, "trainer", other ? other : trainer_json(&ts));
        other = NULL;
    } else {
        printf("run folder %s\n", dir);
        config_summary(cfg);
        cJSON_Delete(cfg);
        if (other) other_trainer_summary(other);
        else trainer_summary(&ts);
    }
    /* The retrieval trainer's optimizer file has its own layout: summarised only by the
     * generic format. */
    int rc = other ? 0 : run_optimizer(dir, doc);
    cJSON_Delete(other);
    if (!rc) rc = run_model(dir, doc);
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    return doc ? print_doc(doc) : 0;
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-') return cli_error(1, "inspect: unknown option '%s' (see: mmc help inspect)", argv[i]);
        else if (!path) path = argv[i];
        else return cli_error(1, "inspect: one file at a time (got '%s' and '%s')", path, argv[i]);
    }
    if (!path) return cli_error(1, "inspect: missing FILE or RUN folder (see: mmc help inspect)");
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return inspect_run(path, json);
    return inspect_file(path, json);
}

/* run_json.c — the JSON files of a run folder: trainer.json (where training stands),
 * config.json (the caller's, passed through) and metrics.jsonl (one object per log step).
 * trainer.json is read as untrusted input: every field is checked for presence, type and
 * range, and the error names the file and the field. */
#include "run_internal.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRAINER_MAX_BYTES ((size_t)1 << 20)
#define CONFIG_MAX_BYTES ((size_t)64 << 20) /* a tokenizer vocabulary may live in it */

int mmc_run_path(char *buf, size_t n, const char *dir, const char *name, mmc_error *err) {
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n) return mmc_error_set(err, MMC_ERR_USAGE, "%s: run folder path too long", dir);
    return MMC_OK;
}

mmc_trainer_state mmc_trainer_state_init(uint64_t seed) {
    mmc_trainer_state ts;
    memset(&ts, 0, sizeof ts);
    mmc_rng_seed(&ts.rng, seed, 0);
    ts.best_metric = NAN;
    return ts;
}

int mmc_run_parse_u64(const char *s, uint64_t *out) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 20) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0; /* above 2^64 - 1 */
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* ------------------------------------------------------------ trainer.json */

int mmc_run_trainer_valid(const mmc_trainer_state *ts, const char *who, int code, mmc_error *err) {
    const int64_t v[4] = {ts->step, ts->epoch, ts->batch, ts->schedule_step};
    static const char *const names[4] = {"step", "epoch", "batch_in_epoch", "schedule_step"};
    for (int i = 0; i < 4; i++)
        if (v[i] < 0 || v[i] > MMC_RUN_MAX_STEP)
            return mmc_error_set(err, code, "%s: \"%s\" is %lld, outside [0, %lld]", who, names[i],
                                 (long long)v[i], (long long)MMC_RUN_MAX_STEP);
    /* PCG's increment is odd by construction (mmc_rng_seed sets the low bit); an even one
     * is a corrupted state, not a stream we could have been in. */
    if (!(ts->rng.inc & 1))
        return mmc_error_set(err, code, "%s: rng increment %" PRIu64 " is even (PCG's is always odd)", who, ts->rng.inc);
    if (isinf(ts->best_metric))
        return mmc_error_set(err, code, "%s: best_metric is infinite", who);
    if (!memchr(ts->best_metric_name, 0, sizeof ts->best_metric_name))
        return mmc_error_set(err, code, "%s: best_metric_name is not terminated", who);
    return MMC_OK;
}

static cJSON *u64_string(uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return cJSON_CreateString(b);
}

/* The shortest decimal that reads back as exactly d (d finite). cJSON's own printing
 * stops at 15 digits whenever they come within a relative DBL_EPSILON of d, so 0.1 + 0.2
 * would come back as 0.3 and -DBL_MAX would be printed rounded beyond DBL_MAX and read
 * back as -inf (which the reader then refuses): a resume must see the metric it saved. */
static const char *exact_number(double d, char *buf) {
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, 32, "%.*g", digits, d);
        if (strtod(buf, NULL) == d) break;
    }
    return buf;
}

char *mmc_run_trainer_text(const mmc_trainer_state *ts) {
    char num[32];
    cJSON *o = cJSON_CreateObject(), *rng = cJSON_CreateObject();
    if (!o || !rng) { cJSON_Delete(o); cJSON_Delete(rng); return NULL; }
    cJSON_AddStringToObject(o, "mmc_version", MMC_VERSION);
    cJSON_AddNumberToObject(o, "step", (double)ts->step);
    cJSON_AddNumberToObject(o, "epoch", (double)ts->epoch);
    cJSON_AddNumberToObject(o, "batch_in_epoch", (double)ts->batch);
    cJSON_AddNumberToObject(o, "schedule_step", (double)ts->schedule_step);
    /* decimal strings: a JSON number is a double, exact only up to 2^53 */
    cJSON_AddItemToObject(rng, "state", u64_string(ts->rng.state));
    cJSON_AddItemToObject(rng, "inc", u64_string(ts->rng.inc));
    cJSON_AddItemToObject(o, "rng", rng);
    if (isnan(ts->best_metric)) cJSON_AddNullToObject(o, "best_metric");
    else cJSON_AddRawToObject(o, "best_metric", exact_number(ts->best_metric, num));
    cJSON_AddStringToObject(o, "best_metric_name", ts->best_metric_name);
    if (ts->has_run) {
        cJSON_AddRawToObject(o, "train_seconds", exact_number(ts->train_seconds, num));
        cJSON_AddItemToObject(o, "seed", u64_string(ts->seed));
        cJSON_AddNumberToObject(o, "batch_size", (double)ts->batch_size);
        cJSON_AddNumberToObject(o, "n_train", (double)ts->n_train);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

static int get_count(const cJSON *o, const char *key, const char *path, int64_t *out, mmc_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return mmc_error_set(err, MMC_ERR_INPUT, "%s: missing \"%s\"", path, key);
    double d = v->valuedouble;
    /* the range test comes first so the cast below cannot overflow */
    if (!cJSON_IsNumber(v) || !(d >= 0 && d <= (double)MMC_RUN_MAX_STEP) || d != floor(d))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"%s\" must be an integer in [0, %lld]", path, key,
                             (long long)MMC_RUN_MAX_STEP);
    *out = (int64_t)d;
    return MMC_OK;
}

static int get_rng_word(const cJSON *rng, const char *key, const char *path, uint64_t *out, mmc_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rng, key);
    if (!cJSON_IsString(v) || !mmc_run_parse_u64(v->valuestring, out))
        return mmc_error_set(err, MMC_ERR_INPUT,
                             "%s: \"rng\".\"%s\" must be a decimal string of an unsigned 64-bit integer", path, key);
    return MMC_OK;
}

static int get_best(const cJSON *o, const char *path, mmc_trainer_state *ts, mmc_error *err) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "best_metric");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "best_metric_name");
    if (!b || !(cJSON_IsNull(b) || cJSON_IsNumber(b)))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"best_metric\" must be a number or null", path);
    ts->best_metric = cJSON_IsNull(b) ? NAN : b->valuedouble;
    if (!cJSON_IsString(n) || strlen(n->valuestring) >= sizeof ts->best_metric_name)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"best_metric_name\" must be a string under %zu bytes",
                             path, sizeof ts->best_metric_name);
    strcpy(ts->best_metric_name, n->valuestring);
    return MMC_OK;
}

/* The run's fields, all four or none (files from before the training loop had none). */
static int get_run(const cJSON *o, const char *path, mmc_trainer_state *ts, mmc_error *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "train_seconds"), *s = cJSON_GetObjectItemCaseSensitive(o, "seed");
    if (!t && !s && !cJSON_GetObjectItemCaseSensitive(o, "batch_size") && !cJSON_GetObjectItemCaseSensitive(o, "n_train"))
        return MMC_OK;
    if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble < 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"train_seconds\" must be a finite number >= 0", path);
    if (!cJSON_IsString(s) || !mmc_run_parse_u64(s->valuestring, &ts->seed))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"seed\" must be a decimal string of an unsigned 64-bit integer", path);
    int rc = get_count(o, "batch_size", path, &ts->batch_size, err);
    if (!rc) rc = get_count(o, "n_train", path, &ts->n_train, err);
    if (!rc && (ts->batch_size < 1 || ts->n_train < 1))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: \"batch_size\" and \"n_train\" must be >= 1", path);
    ts->train_seconds = t->valuedouble;
    ts->has_run = !rc;
    return rc;
}

static int trainer_from_json(const cJSON *o, const char *path, mmc_trainer_state *ts, mmc_error *err) {
    if (!cJSON_IsObject(o)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", path);
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "mmc_version")))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: missing \"mmc_version\" (not an mmc trainer.json?)", path);
    int rc = get_count(o, "step", path, &ts->step, err);
    if (!rc) rc = get_count(o, "epoch", path, &ts->epoch, err);
    if (!rc) rc = get_count(o, "batch_in_epoch", path, &ts->batch, err);
    if (!rc) rc = get_count(o, "schedule_step", path, &ts->schedule_step, err);
    if (rc) return rc;
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(o, "rng");
    if (!cJSON_IsObject(rng)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: missing \"rng\" object", path);
    rc = get_rng_word(rng, "state", path, &ts->rng.state, err);
    if (!rc) rc = get_rng_word(rng, "inc", path, &ts->rng.inc, err);
    if (!rc) rc = get_best(o, path, ts, err);
    if (!rc) rc = get_run(o, path, ts, err);
    if (!rc) rc = mmc_run_trainer_valid(ts, path, MMC_ERR_INPUT, err);
    return rc;
}

int mmc_run_read_trainer(const char *dir, mmc_trainer_state *ts, mmc_error *err) {
    char path[RUN_PATH_MAX];
    int rc = mmc_run_path(path, sizeof path, dir, "trainer.json", err);
    uint8_t *text = NULL;
    size_t n = 0;
    if (!rc) rc = mmc_read_file(path, TRAINER_MAX_BYTES, &text, &n, err);
    if (rc) return rc;
    cJSON *o = cJSON_ParseWithLength((const char *)text, n);
    mmc_free(text);
    if (!o) return mmc_error_set(err, MMC_ERR_INPUT, "%s: not valid JSON", path);
    mmc_trainer_state t = mmc_trainer_state_init(0);
    rc = trainer_from_json(o, path, &t, err);
    cJSON_Delete(o);
    if (!rc) *ts = t;
    return rc;
}

/* ------------------------------------------------------------- config.json */

int mmc_run_read_config(const char *dir, char **json, mmc_error *err) {
    char path[RUN_PATH_MAX];
    *json = NULL;
    int rc = mmc_run_path(path, sizeof path, dir, "config.json", err);
    uint8_t *text = NULL;
    size_t n = 0;
    if (!rc) rc = mmc_read_file(path, CONFIG_MAX_BYTES, &text, &n, err);
    if (rc) return rc;
    cJSON *o = cJSON_ParseWithLength((const char *)text, n);
    int ok = cJSON_IsObject(o);
    cJSON_Delete(o);
    if (!ok) {
        mmc_free(text);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", path);
    }
    *json = (char *)text;
    return MMC_OK;
}

/* ----------------------------------------------------------- metrics.jsonl */

int mmc_run_log_metrics(const char *dir, const char *json_object, mmc_error *err) {
    char path[RUN_PATH_MAX];
    int rc = mmc_run_path(path, sizeof path, dir, "metrics.jsonl", err);
    if (rc) return rc;
    cJSON *o = json_object ? cJSON_Parse(json_object) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: a metrics line must be a JSON object", path);
    }
    /* re-printed unformatted: the caller's newlines must not split the record */
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the terminator; written by length below */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    /* one write of the whole line: O_APPEND keeps it in one piece */
    ssize_t w = fd >= 0 ? write(fd, line, n + 1) : -1;
    int e = errno;
    if (fd >= 0) close(fd);
    cJSON_free(line);
    if (w != (ssize_t)(n + 1))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot append: %s", path, w < 0 ? strerror(e) : "short write");
    return MMC_OK;
}

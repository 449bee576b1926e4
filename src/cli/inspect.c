/* inspect.c — `mmc inspect FILE.safetensors [--json]`: list tensors with statistics. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-') return cli_error(1, "inspect: unknown option '%s' (see: mmc help inspect)", argv[i]);
        else if (!path) path = argv[i];
        else return cli_error(1, "inspect: one file at a time (got '%s' and '%s')", path, argv[i]);
    }
    if (!path) return cli_error(1, "inspect: missing FILE (see: mmc help inspect)");
    mmc_safetensors st;
    mmc_error err = {0};
    if (mmc_safetensors_open(&st, path, &err) != MMC_OK) return cli_error_from(&err);
    int64_t total = 0;
    cJSON *doc = json ? cJSON_CreateObject() : NULL, *arr = NULL;
    if (json) {
        cJSON_AddStringToObject(doc, "file", path);
        cJSON *meta = st.metadata_json ? cJSON_Parse(st.metadata_json) : cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "metadata", meta ? meta : cJSON_CreateObject());
        arr = cJSON_AddArrayToObject(doc, "tensors");
    } else {
        printf("%s: %d tensors\n", path, st.count);
        if (st.metadata_json) printf("metadata: %s\n", st.metadata_json);
        printf("%-48s %-5s %-20s %11s %11s %11s %11s\n", "name", "dtype", "shape", "min", "max", "mean", "std");
    }
    int rc = 0;
    for (int i = 0; i < st.count; i++) {
        const mmc_st_entry *e = &st.entries[i];
        char shp[128];
        shape_str(e, shp, sizeof shp);
        int64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) numel *= e->shape[d];
        total += numel;
        mmc_tensor *t = e->ndim <= MMC_MAX_DIMS ? mmc_safetensors_get(&st, e->name, &err) : NULL;
        stats s = {0};
        if (t) s = compute(t);
        if (json) {
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
    }
    if (json) {
        cJSON_AddNumberToObject(doc, "parameters", (double)total);
        char *out = cJSON_Print(doc);
        if (out) { puts(out); cJSON_free(out); } else rc = cli_error(3, "inspect: out of memory");
        cJSON_Delete(doc);
    } else {
        printf("total: %lld values\n", (long long)total);
    }
    mmc_safetensors_close(&st);
    return rc;
}

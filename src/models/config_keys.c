/* config_keys.c — reading and writing model configs through their key tables
 * (config_keys.h). Configs come from files users edit and from run folders, so every value
 * is checked for type and range before it lands in a struct. */
#include "config_keys.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

void cfg_table_add(cfg_table *t, const cfg_key *keys, int n, size_t off) {
    if (n > 0 && t->n_parts < CFG_MAX_PARTS) t->part[t->n_parts++] = (struct cfg_part){keys, n, off};
}

/* The key called name and, in *off (may be NULL), its part's offset; NULL if the config
 * does not take it. */
void cfg_keys_default(const cfg_key *k, int n, void *base) {
    for (int i = 0; i < n; i++) {
        char *p = (char *)base + k[i].off;
        if (k[i].type == CFG_INT) *(int *)p = (int)k[i].def;
        else if (k[i].type == CFG_FLOAT) *(float *)p = (float)k[i].def;
        else if (k[i].type == CFG_STR && k[i].choices) snprintf(p, (size_t)k[i].hi, "%.*s", (int)strcspn(k[i].choices, "|"), k[i].choices);
    }
}

int cfg_choice(const char *choices, const char *s) {
    size_t n = strlen(s);
    for (int i = 1; choices; i++) {
        size_t len = strcspn(choices, "|");
        if (len == n && !strncmp(choices, s, n)) return i;
        choices = choices[len] ? choices + len + 1 : NULL;
    }
    return 0;
}

int cfg_keys_check_choices(const cfg_key *k, int n, const void *base, const char *name, mmc_error *err) {
    for (int i = 0; i < n; i++) {
        const char *v = (const char *)base + k[i].off;
        if (k[i].type != CFG_STR || !k[i].choices || (memchr(v, 0, (size_t)k[i].hi) && cfg_choice(k[i].choices, v))) continue;
        char list[256];
        size_t j = 0;
        for (const char *c = k[i].choices; *c && j + 3 < sizeof list; c++) {
            if (*c == '|') list[j++] = ',', list[j++] = ' ';
            else list[j++] = *c;
        }
        list[j] = 0;
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s '%.*s' is not one of %s", name, k[i].name, (int)k[i].hi, v, list);
    }
    return MMC_OK;
}

static const cfg_key *cfg_find(const cfg_table *t, const char *name, size_t *off) {
    for (int i = 0; name && t->without && t->without[i]; i++)
        if (!strcmp(name, t->without[i])) return NULL;
    for (int p = 0; name && p < t->n_parts; p++)
        for (int i = 0; i < t->part[p].n; i++)
            if (!strcmp(name, t->part[p].keys[i].name)) {
                if (off) *off = t->part[p].off;
                return &t->part[p].keys[i];
            }
    return NULL;
}

/* Stores the JSON value it into the struct at base as key k says, after checking its type
 * and range; errors name the file (name) and the key. */
static int cfg_read(const cfg_key *k, const cJSON *it, void *base, const char *name, mmc_error *err) {
    char *p = (char *)base + k->off;
    if (k->type == CFG_STR) {
        if (!cJSON_IsString(it)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' must be a string", name, k->name);
        size_t len = strlen(it->valuestring);
        if (len + 1 > (size_t)k->hi) return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' is too long", name, k->name);
        memcpy(p, it->valuestring, len + 1);
        return MMC_OK;
    }
    if (k->type == CFG_INTS) {
        int cap = (int)k->hi, lo = (int)k->lo, n = cJSON_GetArraySize(it);
        if (!cJSON_IsArray(it) || n < lo || n > cap)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' must be an array of %d to %d integers", name, k->name, lo, cap);
        int vals[CFG_INTS_MAX] = {0}, i = 0;
        for (const cJSON *e = it->child; e; e = e->next, i++) {
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || e->valuedouble != floor(e->valuedouble) ||
                e->valuedouble < 1 || e->valuedouble > 4096)
                return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' entry %d must be an integer in 1..4096", name, k->name, i);
            vals[i] = (int)e->valuedouble;
        }
        memcpy(p, vals, sizeof(int) * (size_t)cap);
        return MMC_OK;
    }
    if (!cJSON_IsNumber(it) && !(k->type == CFG_INT && cJSON_IsBool(it)))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' must be a number", name, k->name);
    double v = cJSON_IsBool(it) ? (cJSON_IsTrue(it) ? 1 : 0) : it->valuedouble;
    if (!isfinite(v) || v < k->lo || v > k->hi || (k->type == CFG_INT && v != floor(v)))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' = %g is out of range (%s in %g..%g)", name, k->name, v,
                             k->type == CFG_INT ? "an integer" : "a number", k->lo, k->hi);
    if (k->type == CFG_INT) *(int *)p = (int)v;
    else *(float *)p = (float)v;
    return MMC_OK;
}

/* Every member of the object root through the table, but those named in skip. */
static int cfg_read_object(const cfg_table *t, const cJSON *root, const char *const *skip, void *base, const char *name,
                           mmc_error *err) {
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!it->string) return mmc_error_set(err, MMC_ERR_INPUT, "%s: a key without a name", name);
        int skipped = 0;
        for (int i = 0; skip && skip[i] && !skipped; i++) skipped = !strcmp(it->string, skip[i]);
        if (skipped) continue;
        size_t off = 0;
        const cfg_key *k = cfg_find(t, it->string, &off);
        if (!k) return mmc_error_set(err, MMC_ERR_INPUT, "%s: unknown key '%s'", name, it->string);
        int rc = cfg_read(k, it, (char *)base + off, name, err);
        if (rc) return rc;
    }
    return MMC_OK;
}

static int cfg_parse_object(const char *text, size_t n, const char *name, cJSON **root, mmc_error *err) {
    *root = text ? cJSON_ParseWithLength(text, n) : NULL;
    if (!*root || !cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", name);
    }
    return MMC_OK;
}

int cfg_parse(const cfg_kind *k, void *c, const char *text, size_t len, const char *name, mmc_error *err) {
    if (!name) name = "config";
    cJSON *root;
    int rc = cfg_parse_object(text, len, name, &root, err);
    if (rc) return rc;
    void *tmp = mmc_malloc(k->size);
    if (!tmp) {
        cJSON_Delete(root);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name);
    }
    memcpy(tmp, c, k->size);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "task");
    if (k->task && t && (!cJSON_IsString(t) || strcmp(t->valuestring, k->task)))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: \"task\" must be \"%s\"", name, k->task);
    const char *skips[17] = {0}; /* skip, and "task" when it is checked here */
    int ns = 0;
    while (k->skip && k->skip[ns] && ns < 15) skips[ns] = k->skip[ns], ns++;
    if (k->task) skips[ns] = "task";
    cfg_table tb = k->table();
    if (!rc) rc = cfg_read_object(&tb, root, skips, tmp, name, err);
    cJSON_Delete(root);
    if (!rc && k->check) rc = k->check(tmp, name, err);
    if (!rc) memcpy(c, tmp, k->size);
    mmc_free(tmp);
    return rc;
}

int cfg_load(const cfg_kind *k, void *c, const char *path, mmc_error *err) {
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(path, 16u << 20, &buf, &n, err);
    if (rc) return rc;
    rc = cfg_parse(k, c, (const char *)buf, n, path, err);
    mmc_free(buf);
    return rc;
}

static int cfg_add_all(cJSON *o, const cfg_table *t, const void *base) {
    for (int q = 0; q < t->n_parts; q++)
        for (int i = 0; i < t->part[q].n; i++) {
            const cfg_key *k = &t->part[q].keys[i];
            if (cfg_find(t, k->name, NULL) != k) continue; /* not taken, or an earlier part's */
            /* a key two encoders share (text_hidden of gru and lstm) is one entry of both
             * tables: written once */
            if (cJSON_GetObjectItemCaseSensitive(o, k->name)) continue;
            const char *p = (const char *)base + t->part[q].off + k->off;
            cJSON *v = NULL;
            if (k->type == CFG_STR) v = cJSON_CreateString(p);
            else if (k->type == CFG_INT) v = cJSON_CreateNumber(*(const int *)p);
            else if (k->type == CFG_FLOAT) v = cJSON_CreateNumber((double)*(const float *)p);
            else {
                const int *a = (const int *)p;
                int m = 0;
                while (m < (int)k->hi && a[m] > 0) m++;
                if (m == 0) continue; /* an array that is all zeros means "absent": e.g. VQA cnn_strides of old runs */
                v = cJSON_CreateIntArray(a, m);
            }
            if (!v || !cJSON_AddItemToObject(o, k->name, v)) {
                cJSON_Delete(v);
                return 0;
            }
        }
    return 1;
}

char *cfg_to_json(const cfg_kind *k, const void *c) {
    cfg_table t = k->table();
    cJSON *o = cJSON_CreateObject();
    char *s = o && (!k->task || cJSON_AddStringToObject(o, "task", k->task)) && cfg_add_all(o, &t, c) ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *r = mmc_malloc(n + 1);
    if (r) memcpy(r, s, n + 1);
    cJSON_free(s);
    return r;
}

/* clip_weights.c — the checkpoint of a Hugging Face folder: model.safetensors, or the
 * shards that model.safetensors.index.json names, and the bindings that copy (or decode
 * F16/BF16) its tensors into ours.
 *
 * The index file is untrusted like everything else: weight_map must be an object of
 * string values; a shard is a plain file name ending in ".safetensors" (no '/', no "..",
 * no NUL) whose real path is inside the folder (so a symbolic link cannot point out of
 * it either); every tensor the map names must be in the shard it names, and no tensor may
 * be in two shards. */
#include "clip_internal.h"
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INDEX_MAX_BYTES ((size_t)64 << 20)
#define MAX_SHARDS 4096

void clip_store_close(clip_store *s) {
    for (int i = 0; i < s->n; i++) mmc_safetensors_close(&s->files[i]);
    mmc_free(s->files);
    memset(s, 0, sizeof *s);
}

const mmc_st_entry *clip_store_find(const clip_store *s, const char *name, const mmc_safetensors **file) {
    for (int i = 0; i < s->n; i++) {
        const mmc_st_entry *e = mmc_safetensors_find(&s->files[i], name);
        if (e) {
            if (file) *file = &s->files[i];
            return e;
        }
    }
    return NULL;
}

static int valid_shard_name(const char *f) {
    size_t n = strlen(f);
    if (n < 13 || n > 255 || strcmp(f + n - 12, ".safetensors")) return 0;
    if (strchr(f, '/') || strchr(f, '\\') || !strcmp(f, "..") || f[0] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)f[i] < 32) return 0;
    return 1;
}

/* dir/name must resolve to a regular file inside realpath(dir). */
static int shard_inside(const char *dir, const char *name, const char *index_path, mmc_error *err) {
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *rd = realpath(dir, NULL), *rp = realpath(path, NULL); /* libc malloc */
    int rc = MMC_OK;
    struct stat sb;
    if (!rd || !rp || stat(rp, &sb) != 0 || !S_ISREG(sb.st_mode))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: shard \"%s\" is missing or not a regular file", index_path, name);
    else {
        size_t n = strlen(rd);
        if (strncmp(rp, rd, n) != 0 || rp[n] != '/')
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: shard \"%s\" resolves outside the model folder", index_path,
                               name);
    }
    free(rd);
    free(rp);
    return rc;
}

static int open_index(clip_store *s, const char *dir, const char *ipath, mmc_error *err) {
    cJSON *root;
    if (mmc_json_load(ipath, INDEX_MAX_BYTES, 0, &root, err)) {
        if (err) err->code = MMC_ERR_INPUT;
        return MMC_ERR_INPUT;
    }
    int rc = MMC_OK;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    const char **names = NULL; /* distinct shard names, borrowed from root */
    int nn = 0;
    if (!cJSON_IsObject(root) || !cJSON_IsObject(wm) || !wm->child) {
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: expected {\"weight_map\": {tensor: shard file, ...}}", ipath);
        goto done;
    }
    names = mmc_calloc(MAX_SHARDS, sizeof *names);
    if (!names) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", ipath); goto done; }
    for (const cJSON *it = wm->child; it; it = it->next) {
        if (!cJSON_IsString(it) || !it->string || !it->string[0]) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: weight_map[\"%.100s\"] must be a shard file name", ipath,
                               it->string ? it->string : "");
            goto done;
        }
        if (!valid_shard_name(it->valuestring)) {
            rc = mmc_error_set(err, MMC_ERR_INPUT,
                               "%s: weight_map[\"%.100s\"] = \"%.100s\" is not a plain *.safetensors file name in the "
                               "model folder", ipath, it->string, it->valuestring);
            goto done;
        }
        int k = 0;
        while (k < nn && strcmp(names[k], it->valuestring)) k++;
        if (k == nn) {
            if (nn == MAX_SHARDS) {
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: more than %d shards", ipath, MAX_SHARDS);
                goto done;
            }
            names[nn++] = it->valuestring;
        }
    }
    s->files = mmc_calloc((size_t)nn, sizeof *s->files);
    if (!s->files) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", ipath); goto done; }
    for (int k = 0; k < nn; k++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        if ((rc = shard_inside(dir, names[k], ipath, err))) goto done;
        if ((rc = mmc_safetensors_open(&s->files[k], path, err))) {
            if (err) err->code = MMC_ERR_INPUT;
            goto done;
        }
        s->n = k + 1;
        s->bytes += s->files[k].size;
    }
    /* every mapped tensor is where the map says */
    for (const cJSON *it = wm->child; it; it = it->next) {
        int k = 0;
        while (strcmp(names[k], it->valuestring)) k++;
        if (!mmc_safetensors_find(&s->files[k], it->string)) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%.200s' is not in shard %s (as weight_map says)", ipath,
                               it->string, names[k]);
            goto done;
        }
    }
    /* and no tensor is in two shards (which one would win would be arbitrary) */
    for (int k = 0; k < s->n; k++)
        for (int e = 0; e < s->files[k].count; e++)
            for (int k2 = k + 1; k2 < s->n; k2++)
                if (mmc_safetensors_find(&s->files[k2], s->files[k].entries[e].name)) {
                    rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%.200s' is in two shards (%s and %s)", ipath,
                                       s->files[k].entries[e].name, names[k], names[k2]);
                    goto done;
                }
done:
    mmc_free(names);
    cJSON_Delete(root);
    return rc;
}

int clip_store_open(clip_store *s, const char *dir, mmc_error *err) {
    memset(s, 0, sizeof *s);
    char path[PATH_MAX + 64];
    struct stat sb;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc;
    if (stat(path, &sb) == 0) {
        s->files = mmc_calloc(1, sizeof *s->files);
        if (!s->files) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
        if ((rc = mmc_safetensors_open(&s->files[0], path, err))) {
            if (err) err->code = MMC_ERR_INPUT;
            clip_store_close(s);
            return MMC_ERR_INPUT;
        }
        s->n = 1;
        s->bytes = s->files[0].size;
        return MMC_OK;
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (stat(path, &sb) != 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no model.safetensors or model.safetensors.index.json "
                             "(pytorch_model.bin is not read: convert it to safetensors)", dir);
    if ((rc = open_index(s, dir, path, err))) clip_store_close(s);
    return rc;
}

/* ------------------------------------------------------------------ bindings */

int clip_binds_add(clip_binds *bs, mmc_tensor *t, const char *name, mmc_error *err) {
    if (bs->n == bs->cap) {
        int cap = bs->cap ? 2 * bs->cap : 64;
        clip_bind *b = mmc_realloc(bs->b, (size_t)cap * sizeof *b);
        if (!b) return mmc_error_set(err, MMC_ERR_RUNTIME, "clip: out of memory");
        bs->b = b, bs->cap = cap;
    }
    size_t n = strlen(name);
    char *c = mmc_malloc(n + 1);
    if (!c) return mmc_error_set(err, MMC_ERR_RUNTIME, "clip: out of memory");
    memcpy(c, name, n + 1);
    bs->b[bs->n++] = (clip_bind){t, c, 0};
    return MMC_OK;
}

int clip_binds_add_params(clip_binds *bs, const mmc_params *P, int from, const char *mmc_prefix,
                          const char *hf_prefix, clip_name_map map, mmc_error *err) {
    size_t np = strlen(mmc_prefix);
    for (int i = from; i < P->n; i++) {
        const char *nm = P->names[i];
        if (strncmp(nm, mmc_prefix, np) || nm[np] != '.')
            return mmc_error_set(err, MMC_ERR_RUNTIME, "clip: parameter %s is not under %s", nm, mmc_prefix);
        const char *rest = map ? map(nm + np + 1) : nm + np + 1;
        if (!rest) return mmc_error_set(err, MMC_ERR_RUNTIME, "clip: no checkpoint name for %s", nm);
        char full[512];
        snprintf(full, sizeof full, "%s.%s", hf_prefix, rest);
        int rc = clip_binds_add(bs, P->tensors[i], full, err);
        if (rc) return rc;
    }
    return MMC_OK;
}

void clip_binds_free(clip_binds *bs) {
    for (int i = 0; i < bs->n; i++) mmc_free(bs->b[i].name);
    mmc_free(bs->b);
    memset(bs, 0, sizeof *bs);
}

static const char *shape_text(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t off = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && off < n; d++)
        off += (size_t)snprintf(buf + off, n - off, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (off < n) snprintf(buf + off, n - off, ")");
    return buf;
}

/* q4 quantises only the MLP weights of each layer (fc1/fc2; BERT's intermediate.dense and
 * output.dense), about two thirds of the layer weights; attention projections and the
 * final projections stay int8. With every weight at 4 bits the embeddings of the test
 * fixtures fall to cosine 0.94-0.99 with float32; with the MLPs only they stay above 0.99. */
int clip_bind_is_mlp(const clip_bind *b) {
    const char *n = b->name;
    return strstr(n, ".mlp.fc") || strstr(n, ".intermediate.dense.") ||
           (strstr(n, ".output.dense.") && !strstr(n, ".attention.output.dense."));
}

/* MMC_QTYPE_Q8 for I8, MMC_QTYPE_Q4 for U8, else 0. */
static int stored_qtype(const mmc_st_entry *e) {
    return !strcmp(e->dtype, "I8") ? MMC_QTYPE_Q8 : !strcmp(e->dtype, "U8") ? MMC_QTYPE_Q4 : 0;
}

/* The scale tensor of a quantised weight: NAME_scale, F32 (out, groups). */
static const mmc_st_entry *find_scale(const clip_store *s, const clip_bind *b, int type, const mmc_safetensors **f,
                                      mmc_error *err) {
    char nm[600];
    snprintf(nm, sizeof nm, "%s_scale", b->name);
    const mmc_st_entry *e = clip_store_find(s, nm, f);
    const char *where = s->n == 1 ? s->files[0].path : "model.safetensors.index.json shards";
    int out = b->t->shape[0], groups = mmc_qweight_stored_groups(type, (int)(b->t->numel / out));
    if (!e) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: quantised tensor '%s' has no '%s'", where, b->name, nm);
        return NULL;
    }
    if (strcmp(e->dtype, "F32") || e->ndim != 2 || e->shape[0] != out || e->shape[1] != groups) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' must be F32 (%d, %d), is %s of %d dims", (*f)->path, nm, out,
                      groups, e->dtype, e->ndim);
        return NULL;
    }
    return e;
}

static int check_quantised(const clip_store *s, const clip_bind *b, const mmc_safetensors *f, const mmc_st_entry *e,
                           int type, mmc_error *err) {
    if (!b->linear)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' is stored as %s, but only linear weights may be quantised",
                             f->path, b->name, e->dtype);
    /* a convolution's (OC, C, KH, KW) weight is the matrix (OC, C·KH·KW): q8 keeps its shape */
    int out = b->t->shape[0], in = (int)(b->t->numel / out);
    int ok = type == MMC_QTYPE_Q8 ? e->ndim == b->t->ndim : e->ndim == 2 && b->t->ndim == 2;
    for (int d = 0; ok && d < e->ndim; d++)
        ok = e->shape[d] == (type == MMC_QTYPE_Q4 && d == 1 ? (in + 1) / 2 : b->t->shape[d]);
    if (!ok)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: quantised tensor '%s' (%s) has %d dims, shape not that of its (%d, %d) weight%s",
                             f->path, b->name, e->dtype, e->ndim, out, in,
                             type == MMC_QTYPE_Q4 ? " with two 4-bit values a byte" : "");
    const mmc_safetensors *fs = NULL;
    return find_scale(s, b, type, &fs, err) ? MMC_OK : MMC_ERR_INPUT;
}

int clip_store_check(const clip_store *s, const clip_bind *b, int *half, mmc_error *err) {
    const mmc_safetensors *f = NULL;
    const mmc_st_entry *e = clip_store_find(s, b->name, &f);
    const char *where = s->n == 1 ? s->files[0].path : "model.safetensors.index.json shards";
    if (!e) return mmc_error_set(err, MMC_ERR_INPUT, "%s: missing tensor '%s'", where, b->name);
    int qt = stored_qtype(e);
    if (qt) {
        if (half) *half = 0;
        return check_quantised(s, b, f, e, qt, err);
    }
    int is_half = !strcmp(e->dtype, "F16") || !strcmp(e->dtype, "BF16");
    if (!is_half && strcmp(e->dtype, "F32"))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has dtype %s (expected F32, F16 or BF16)", f->path,
                             b->name, e->dtype);
    const mmc_tensor *t = b->t;
    int ok = e->ndim == t->ndim;
    for (int d = 0; ok && d < t->ndim; d++) ok = e->shape[d] == t->shape[d];
    if (!ok && t->ndim == 0) ok = e->ndim == 1 && e->shape[0] == 1; /* a scalar saved as (1) */
    if (!ok) {
        int64_t want[MMC_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) want[d] = t->shape[d];
        char a[96], c[96];
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has shape %s, config.json implies %s", f->path,
                             b->name, shape_text(e->ndim, e->shape, a, sizeof a), shape_text(t->ndim, want, c, sizeof c));
    }
    if (half) *half = is_half;
    return MMC_OK;
}

int clip_store_read(const clip_store *s, const clip_bind *b, mmc_error *err) {
    const mmc_safetensors *f = NULL;
    const mmc_st_entry *e = clip_store_find(s, b->name, &f);
    if (!e) return mmc_error_set(err, MMC_ERR_INPUT, "checkpoint: missing tensor '%s'", b->name);
    int qt = stored_qtype(e);
    mmc_qweight *q = NULL;
    if (qt) { /* stored quantised: checked by clip_store_check */
        const mmc_safetensors *fs = NULL;
        const mmc_st_entry *es = find_scale(s, b, qt, &fs, err);
        if (!es) return MMC_ERR_INPUT;
        float *scale = mmc_malloc((size_t)(es->end - es->begin) + 4);
        if (!scale) return mmc_error_set(err, MMC_ERR_RUNTIME, "checkpoint: out of memory reading '%s'", b->name);
        memcpy(scale, fs->data + es->begin, (size_t)(es->end - es->begin));
        char what[700];
        snprintf(what, sizeof what, "%s: tensor '%s'", f->path, b->name);
        q = mmc_qweight_from_stored(qt, b->t->shape[0], (int)(b->t->numel / b->t->shape[0]), f->data + e->begin, scale,
                                    what, err);
        mmc_free(scale);
        if (!q) return err ? err->code : MMC_ERR_INPUT;
    } else {
        if (!b->t->data) return mmc_error_set(err, MMC_ERR_RUNTIME, "checkpoint: '%s' has no float storage", b->name);
        mmc_safetensors_to_f32(f->data + e->begin, e->dtype, b->t->numel, b->t->data);
        if (!s->qtype || !b->linear) return MMC_OK;
        int type = s->qtype;
        if (type == MMC_QTYPE_Q4 && !clip_bind_is_mlp(b)) type = MMC_QTYPE_Q8; /* see clip_bind_is_mlp */
        if (!(q = mmc_qweight_quantize(b->t->data, b->t->shape[0], (int)(b->t->numel / b->t->shape[0]), type, err))) {
            if (err && err->code == MMC_ERR_INPUT) { /* a non-finite weight: name the file and tensor */
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s': %s", f->path, b->name, msg);
            }
            return err ? err->code : MMC_ERR_INPUT;
        }
    }
    int rc = mmc_tensor_set_quant(b->t, q, err);
    if (rc) return rc;
    mmc_tensor_drop_data(b->t);
    return MMC_OK;
}

int clip_store_rows(const clip_store *s, const char *name, const int *ids, int n, int D, float *out, mmc_error *err) {
    const mmc_safetensors *f = NULL;
    const mmc_st_entry *e = clip_store_find(s, name, &f);
    if (!e || e->ndim != 2 || e->shape[1] != D)
        return mmc_error_set(err, MMC_ERR_INPUT, "checkpoint: tensor '%s' missing or not (V, %d)", name, D);
    size_t es = !strcmp(e->dtype, "F32") ? 4 : 2;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= e->shape[0])
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: id %d at position %d is outside 0..%lld", name, ids[i], i,
                                 (long long)e->shape[0] - 1);
        mmc_safetensors_to_f32(f->data + e->begin + (size_t)ids[i] * D * es, e->dtype, D, out + (size_t)i * D);
    }
    return MMC_OK;
}

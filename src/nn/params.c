/* params.c — the registry that owns a model's tensors and names them. */
#include "internal.h"
#include "mmc/nn.h"
#include "mmc/io.h" /* safetensors: parameter lists load and save */
#include <stdlib.h>
#include <math.h>
#include <string.h>

static int grow(mmc_params *P) {
    if (P->n < P->cap) return 0;
    int cap = P->cap ? P->cap * 2 : 32;
    mmc_tensor **t = mmc_realloc(P->tensors, sizeof *t * (size_t)cap);
    if (!t) return -1;
    P->tensors = t;
    char **nm = mmc_realloc(P->names, sizeof *nm * (size_t)cap);
    if (!nm) return -1;
    P->names = nm;
    uint8_t *k = mmc_realloc(P->kind, (size_t)cap);
    if (!k) return -1;
    P->kind = k;
    uint8_t *d = mmc_realloc(P->no_decay, (size_t)cap);
    if (!d) return -1;
    P->no_decay = d;
    P->cap = cap;
    return 0;
}

mmc_tensor *mmc_params_find(const mmc_params *P, const char *name) {
    for (int i = 0; i < P->n; i++)
        if (strcmp(P->names[i], name) == 0) return P->tensors[i];
    return NULL;
}

mmc_tensor *mmc_params_new(mmc_params *P, const char *prefix, const char *name, int kind, int ndim,
                           const int *shape, mmc_error *err) {
    size_t lp = prefix ? strlen(prefix) : 0, ln = strlen(name);
    char *full = mmc_malloc(lp + ln + 2);
    if (!full) { mmc_error_set(err, MMC_ERR_RUNTIME, "params: out of memory"); return NULL; }
    if (lp) { memcpy(full, prefix, lp); full[lp] = '.'; memcpy(full + lp + 1, name, ln + 1); }
    else memcpy(full, name, ln + 1);
    if (mmc_params_find(P, full)) {
        mmc_error_set(err, MMC_ERR_USAGE, "params: '%s' registered twice", full);
        mmc_free(full);
        return NULL;
    }
    mmc_tensor *t = mmc_tensor_new(ndim, shape);
    if (!t || grow(P)) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "params: cannot allocate '%s'", full);
        mmc_tensor_free(t);
        mmc_free(full);
        return NULL;
    }
    t->name = full;
    t->requires_grad = kind == MMC_PARAM;
    P->tensors[P->n] = t;
    P->names[P->n] = full;
    P->kind[P->n] = (uint8_t)kind;
    /* Biases and 1-D weights (norm scales) get no weight decay by default. */
    P->no_decay[P->n] = (uint8_t)(ndim <= 1);
    P->n++;
    return t;
}

void mmc_params_free(mmc_params *P) {
    if (!P) return;
    for (int i = 0; i < P->n; i++) {
        mmc_tensor_free(P->tensors[i]);
        mmc_free(P->names[i]);
    }
    mmc_free(P->tensors);
    mmc_free(P->names);
    mmc_free(P->kind);
    mmc_free(P->no_decay);
    memset(P, 0, sizeof *P);
}

int64_t mmc_params_count(const mmc_params *P, int kind) {
    int64_t n = 0;
    for (int i = 0; i < P->n; i++)
        if (P->kind[i] == kind) n += P->tensors[i]->numel;
    return n;
}

int mmc_params_trainable(const mmc_params *P, mmc_tensor **out) {
    int k = 0;
    for (int i = 0; i < P->n; i++)
        if (P->kind[i] == MMC_PARAM) out[k++] = P->tensors[i];
    return k;
}

void mmc_params_zero_grad(mmc_params *P) {
    for (int i = 0; i < P->n; i++) mmc_tensor_zero_grad(P->tensors[i]);
}

int mmc_params_save(const mmc_params *P, const char *path, const char *metadata_json, mmc_error *err) {
    return mmc_safetensors_write(path, P->tensors, (const char *const *)P->names, P->n, metadata_json, err);
}

int mmc_params_load(mmc_params *P, const char *path, int strict, mmc_error *err) {
    mmc_safetensors st;
    int rc = mmc_safetensors_open(&st, path, err);
    if (rc) return rc;
    for (int i = 0; i < P->n && !rc; i++) {
        const mmc_st_entry *e = mmc_safetensors_find(&st, P->names[i]);
        if (!e) {
            if (strict) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: missing tensor '%s'", path, P->names[i]);
            continue;
        }
        mmc_tensor *t = P->tensors[i];
        int same = e->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = e->shape[d] == t->shape[d];
        if (!same) {
            char b[64];
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has the wrong shape (model expects %s)", path,
                               P->names[i], mmc_shape_str(t, b, sizeof b));
            break;
        }
        mmc_tensor *src = mmc_safetensors_get(&st, P->names[i], err);
        if (!src) { rc = err ? err->code : MMC_ERR_INPUT; break; }
        /* NaN/Inf weights load "fine" and then give NaN embeddings with exit 0: refuse them. */
        for (int64_t j = 0; j < t->numel && !rc; j++)
            if (!isfinite(src->data[j]))
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' holds a non-finite value (%g at element %lld)", path,
                                   P->names[i], (double)src->data[j], (long long)j);
        if (!rc) memcpy(t->data, src->data, sizeof(float) * (size_t)t->numel);
        mmc_tensor_free(src);
    }
    if (!rc && strict)
        for (int i = 0; i < st.count; i++)
            if (!mmc_params_find(P, st.entries[i].name)) {
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: unexpected tensor '%s' (not in the model)", path, st.entries[i].name);
                break;
            }
    mmc_safetensors_close(&st);
    return rc;
}

void mmc_init_uniform(mmc_tensor *t, float bound, mmc_rng *rng) {
    mmc_rng_fill_uniform(rng, t->data, t->numel, -bound, bound);
}
void mmc_init_normal(mmc_tensor *t, float mean, float std, mmc_rng *rng) {
    mmc_rng_fill_normal(rng, t->data, t->numel, mean, std);
}
void mmc_init_constant(mmc_tensor *t, float v) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
}

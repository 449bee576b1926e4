/* safetensors.c — reader and writer for the safetensors format.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON header, then the data
 * section. The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the data section) plus an optional "__metadata__" string map.
 *
 * The file is untrusted. We check: the header length is within the file and below a cap;
 * the header is valid UTF-8 JSON object; every entry has a known dtype, a shape of at most
 * 8 non-negative dims whose product times the dtype size does not overflow and equals
 * end - begin; offsets lie inside the data section; entries do not overlap; names are
 * unique and non-empty. */
#include "internal.h"
#include "mmc/io.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER (100u << 20) /* as the reference implementation: 100 MB */
#define ST_MAX_FILE ((size_t)1 << 40)

static int dtype_size(const char *dt) {
    static const struct { const char *n; int s; } t[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
        {"I8", 1},  {"U8", 1},  {"U16", 2}, {"U32", 4},  {"U64", 8}, {"BOOL", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(dt, t[i].n) == 0) return t[i].s;
    return 0;
}

/* The one UTF-8 validator (src/core/utf8.c): overlongs, surrogates, > U+10FFFF refused. */
static int valid_utf8(const uint8_t *s, size_t n) { return mmc_utf8_validate((const char *)s, n, NULL) == MMC_OK; }

static int cmp_begin(const void *a, const void *b) {
    const mmc_st_entry *x = *(const mmc_st_entry *const *)a, *y = *(const mmc_st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}
static int cmp_name(const void *a, const void *b) {
    return strcmp(((const mmc_st_entry *)a)->name, ((const mmc_st_entry *)b)->name);
}

void mmc_safetensors_close(mmc_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->count; i++) mmc_free(st->entries[i].name);
    mmc_free(st->entries);
    mmc_free(st->bytes);
    mmc_free(st->path);
    mmc_free(st->metadata_json);
    memset(st, 0, sizeof *st);
}

static char *dupstr(const char *s) {
    size_t n = strlen(s);
    char *d = mmc_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* Parses the header of st->bytes (already owned by st). */
static int parse(mmc_safetensors *st, mmc_error *err) {
    const char *P = st->path;
    if (st->size < 8) return mmc_error_set(err, MMC_ERR_INPUT, "%s: file is %zu bytes, too short for a safetensors header (8-byte length)", P, st->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st->bytes[i];
    if (hlen > ST_MAX_HEADER)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: header length %llu exceeds the %u-byte limit", P,
                             (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > st->size - 8)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: header length %llu runs past the end of the file (%zu bytes)", P,
                             (unsigned long long)hlen, st->size);
    if (hlen < 2) return mmc_error_set(err, MMC_ERR_INPUT, "%s: header of %llu bytes cannot hold a JSON object", P, (unsigned long long)hlen);
    const uint8_t *h = st->bytes + 8;
    if (h[0] != '{') return mmc_error_set(err, MMC_ERR_INPUT, "%s: header does not start with '{' (not a safetensors file?)", P);
    if (!valid_utf8(h, (size_t)hlen)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: header is not valid UTF-8", P);
    for (uint64_t i = 0; i < hlen; i++)
        if (h[i] == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: header contains a NUL byte at offset %llu", P, (unsigned long long)(8 + i));
    st->data = h + hlen;
    st->data_size = st->size - 8 - (size_t)hlen;

    cJSON *root = cJSON_ParseWithLength((const char *)h, (size_t)hlen);
    if (!root) return mmc_error_set(err, MMC_ERR_INPUT, "%s: header is not valid JSON", P);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: header is not a JSON object", P);
    }
    int n = 0;
    for (cJSON *it = root->child; it; it = it->next) n++;
    st->entries = mmc_calloc((size_t)(n ? n : 1), sizeof(mmc_st_entry));
    if (!st->entries) { cJSON_Delete(root); return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", P); }
    int rc = MMC_OK;
    for (cJSON *it = root->child; it; it = it->next) {
        const char *name = it->string;
        if (!name || !*name) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: header has an entry with an empty name", P); break; }
        if (strcmp(name, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: __metadata__ is not an object", P); break; }
            for (cJSON *m = it->child; m; m = m->next)
                if (!cJSON_IsString(m)) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: __metadata__ value '%s' is not a string", P, m->string ? m->string : "?"); break; }
            if (rc) break;
            if (st->metadata_json) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: duplicate __metadata__", P); break; }
            st->metadata_json = cJSON_PrintUnformatted(it);
            continue;
        }
        if (!cJSON_IsObject(it)) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' is not a JSON object", P, name); break; }
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off)) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' needs string dtype, array shape and array data_offsets", P, name);
            break;
        }
        int es = dtype_size(dt->valuestring);
        if (!es || strlen(dt->valuestring) >= sizeof st->entries[0].dtype) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has unknown dtype '%.16s'", P, name, dt->valuestring);
            break;
        }
        mmc_st_entry *e = &st->entries[st->count];
        int nd = cJSON_GetArraySize(sh);
        if (nd > 8) { rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has %d dims (at most 8)", P, name, nd); break; }
        uint64_t numel = 1;
        int d = 0;
        for (cJSON *x = sh->child; x; x = x->next, d++) {
            double v = cJSON_IsNumber(x) ? x->valuedouble : -1;
            /* range before the cast: (int64_t) of a double beyond 2^63 is undefined */
            if (v < 0 || v > 9007199254740992.0 || v != (double)(int64_t)v) {
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' dim %d is not a non-negative integer", P, name, d);
                break;
            }
            e->shape[d] = (int64_t)v;
            if (e->shape[d] && numel > UINT64_MAX / 16 / (uint64_t)e->shape[d]) {
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' shape overflows", P, name);
                break;
            }
            numel *= (uint64_t)e->shape[d];
        }
        if (rc) break;
        if (cJSON_GetArraySize(off) != 2 || !cJSON_IsNumber(off->child) || !cJSON_IsNumber(off->child->next)) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' data_offsets must be [begin, end]", P, name);
            break;
        }
        double b = off->child->valuedouble, en = off->child->next->valuedouble;
        /* bounds before the casts: (uint64_t) of a double beyond 2^64 (1e30, or 1e999 = inf)
         * is undefined; once 0 <= b <= en <= data_size both fit. */
        if (b < 0 || en < b || en > (double)st->data_size || b != (double)(uint64_t)b || en != (double)(uint64_t)en) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' data_offsets [%.0f, %.0f] outside the %zu-byte data section", P, name, b, en, st->data_size);
            break;
        }
        e->begin = (uint64_t)b;
        e->end = (uint64_t)en;
        if (e->end - e->begin != numel * (uint64_t)es) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has %llu bytes but dtype %s x shape needs %llu", P, name,
                               (unsigned long long)(e->end - e->begin), dt->valuestring, (unsigned long long)(numel * (uint64_t)es));
            break;
        }
        e->ndim = nd;
        strcpy(e->dtype, dt->valuestring);
        e->name = dupstr(name);
        if (!e->name) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", P); break; }
        st->count++;
    }
    cJSON_Delete(root);
    if (rc) return rc;
    /* unique names (cJSON keeps duplicates), non-overlapping data */
    qsort(st->entries, (size_t)st->count, sizeof *st->entries, cmp_name);
    for (int i = 1; i < st->count; i++)
        if (strcmp(st->entries[i - 1].name, st->entries[i].name) == 0)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor name '%s' appears twice", P, st->entries[i].name);
    mmc_st_entry **by = mmc_malloc(sizeof *by * (size_t)(st->count ? st->count : 1));
    if (!by) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", P);
    for (int i = 0; i < st->count; i++) by[i] = &st->entries[i];
    qsort(by, (size_t)st->count, sizeof *by, cmp_begin);
    const mmc_st_entry *last = NULL; /* the non-empty entry reaching furthest so far */
    for (int i = 0; i < st->count; i++) {
        if (by[i]->end == by[i]->begin) continue;
        if (last && by[i]->begin < last->end) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: tensors '%s' and '%s' overlap in the data section", P, last->name, by[i]->name);
            break;
        }
        if (!last || by[i]->end > last->end) last = by[i];
    }
    mmc_free(by);
    return rc;
}

int mmc_safetensors_parse(mmc_safetensors *st, const char *name, const uint8_t *bytes, size_t size,
                          mmc_error *err) {
    memset(st, 0, sizeof *st);
    st->path = dupstr(name ? name : "<memory>");
    st->bytes = mmc_malloc(size + 1);
    if (!st->path || !st->bytes) {
        mmc_safetensors_close(st);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name ? name : "<memory>");
    }
    if (size) memcpy(st->bytes, bytes, size);
    st->size = size;
    int rc = parse(st, err);
    if (rc) mmc_safetensors_close(st);
    return rc;
}

int mmc_safetensors_open(mmc_safetensors *st, const char *path, mmc_error *err) {
    memset(st, 0, sizeof *st);
    uint8_t *buf;
    size_t n;
    int rc = mmc_read_file(path, ST_MAX_FILE, &buf, &n, err);
    if (rc) return rc;
    st->path = dupstr(path);
    st->bytes = buf;
    st->size = n;
    if (!st->path) {
        mmc_safetensors_close(st);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    }
    rc = parse(st, err);
    if (rc) mmc_safetensors_close(st);
    return rc;
}

const mmc_st_entry *mmc_safetensors_find(const mmc_safetensors *st, const char *name) {
    mmc_st_entry key = {.name = (char *)name};
    if (!st || !st->count) return NULL;
    return bsearch(&key, st->entries, (size_t)st->count, sizeof key, cmp_name);
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7F800000u | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static double load_elem(const uint8_t *p, const char *dt) {
    if (!strcmp(dt, "F32")) { float f; memcpy(&f, p, 4); return f; }
    if (!strcmp(dt, "F16")) { uint16_t h = (uint16_t)(p[0] | p[1] << 8); return half_to_float(h); }
    if (!strcmp(dt, "BF16")) { uint32_t b = (uint32_t)(p[0] | p[1] << 8) << 16; float f; memcpy(&f, &b, 4); return f; }
    if (!strcmp(dt, "F64")) { double d; memcpy(&d, p, 8); return d; }
    if (!strcmp(dt, "I64")) { int64_t v; memcpy(&v, p, 8); return (double)v; }
    if (!strcmp(dt, "I32")) { int32_t v; memcpy(&v, p, 4); return v; }
    if (!strcmp(dt, "I16")) { int16_t v; memcpy(&v, p, 2); return v; }
    if (!strcmp(dt, "I8")) return (int8_t)p[0];
    if (!strcmp(dt, "U8") || !strcmp(dt, "BOOL")) return p[0];
    if (!strcmp(dt, "U16")) { uint16_t v; memcpy(&v, p, 2); return v; }
    if (!strcmp(dt, "U32")) { uint32_t v; memcpy(&v, p, 4); return v; }
    if (!strcmp(dt, "U64")) { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    return 0;
}

void mmc_safetensors_to_f32(const uint8_t *p, const char *dtype, int64_t n, float *out) {
    if (!strcmp(dtype, "F32")) memcpy(out, p, (size_t)n * 4);
    else if (!strcmp(dtype, "F16")) /* the common half dtypes without a lookup per element */
        for (int64_t i = 0; i < n; i++) out[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    else if (!strcmp(dtype, "BF16"))
        for (int64_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &b, 4);
        }
    else {
        int es = dtype_size(dtype);
        for (int64_t i = 0; i < n; i++) out[i] = (float)load_elem(p + i * es, dtype);
    }
}

mmc_tensor *mmc_safetensors_get(const mmc_safetensors *st, const char *name, mmc_error *err) {
    const mmc_st_entry *e = mmc_safetensors_find(st, name);
    if (!e) { mmc_error_set(err, MMC_ERR_INPUT, "%s: no tensor named '%s'", st->path, name); return NULL; }
    int ndim = e->ndim;
    int shape[MMC_MAX_DIMS];
    if (ndim > MMC_MAX_DIMS) { mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' has %d dims, mmc tensors have at most %d", st->path, name, ndim, MMC_MAX_DIMS); return NULL; }
    for (int i = 0; i < ndim; i++) {
        if (e->shape[i] > INT32_MAX) { mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' dim %d too large", st->path, name, i); return NULL; }
        shape[i] = (int)e->shape[i];
    }
    mmc_tensor *t = mmc_tensor_new(ndim, shape);
    if (!t) { mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory loading '%s'", st->path, name); return NULL; }
    mmc_safetensors_to_f32(st->data + e->begin, e->dtype, t->numel, t->data);
    return t;
}

/* One element as an int64, or 0 when the value has none: NaN, +-inf or beyond the int64
 * range (float dtypes), or above INT64_MAX (U64). Casting such a double is undefined. */
static int load_int(const uint8_t *p, const char *dt, int64_t *out) {
    if (!strcmp(dt, "I64")) { memcpy(out, p, 8); return 1; }
    if (!strcmp(dt, "U64")) {
        uint64_t u;
        memcpy(&u, p, 8);
        if (u > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)u;
        return 1;
    }
    double d = load_elem(p, dt);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return 0; /* NaN fails too */
    *out = (int64_t)d;
    return 1;
}

int64_t *mmc_safetensors_get_i64(const mmc_safetensors *st, const char *name, int64_t *count, mmc_error *err) {
    const mmc_st_entry *e = mmc_safetensors_find(st, name);
    if (!e) { mmc_error_set(err, MMC_ERR_INPUT, "%s: no tensor named '%s'", st->path, name); return NULL; }
    int es = dtype_size(e->dtype);
    uint64_t n = (e->end - e->begin) / (uint64_t)es;
    int64_t *v = mmc_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!v) { mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory loading '%s'", st->path, name); return NULL; }
    const uint8_t *p = st->data + e->begin;
    for (uint64_t i = 0; i < n; i++) {
        if (!load_int(p + i * es, e->dtype, &v[i])) {
            mmc_error_set(err, MMC_ERR_INPUT, "%s: tensor '%s' element %llu (%s) is not representable as an int64",
                          st->path, name, (unsigned long long)i, e->dtype);
            mmc_free(v);
            return NULL;
        }
    }
    if (count) *count = (int64_t)n;
    return v;
}

int mmc_safetensors_write_blobs(const char *path, const mmc_st_blob *blobs, int n, const char *metadata_json,
                                mmc_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    if (metadata_json) {
        cJSON *m = cJSON_Parse(metadata_json);
        if (!m || !cJSON_IsObject(m)) {
            cJSON_Delete(m);
            cJSON_Delete(root);
            return mmc_error_set(err, MMC_ERR_USAGE, "%s: metadata is not a JSON object", path);
        }
        cJSON_AddItemToObject(root, "__metadata__", m);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const mmc_st_blob *b = &blobs[i];
        int es = dtype_size(b->dtype);
        uint64_t count = 1;
        for (int d = 0; d < b->ndim; d++) count *= (uint64_t)b->shape[d];
        if (es <= 0 || b->ndim < 0 || b->ndim > 8 || count * (uint64_t)es != b->bytes) {
            cJSON_Delete(root);
            return mmc_error_set(err, MMC_ERR_USAGE, "%s: tensor '%s' (%s): %zu bytes do not fit its shape", path,
                                 b->name, b->dtype, b->bytes);
        }
        if (cJSON_GetObjectItemCaseSensitive(root, b->name)) {
            cJSON_Delete(root);
            return mmc_error_set(err, MMC_ERR_USAGE, "%s: tensor name '%s' given twice", path, b->name);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dtype", b->dtype);
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < b->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)b->shape[d]));
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + b->bytes)));
        off += b->bytes;
        cJSON_AddItemToObject(root, b->name, e);
    }
    char *hdr = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!hdr) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8; /* pad with spaces to 8 bytes */
    size_t total = 8 + padded + (size_t)off;
    uint8_t *buf = mmc_malloc(total);
    if (!buf) { free(hdr); return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory (%zu bytes)", path, total); }
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    free(hdr);
    uint8_t *p = buf + 8 + padded;
    for (int i = 0; i < n; i++) {
        if (blobs[i].bytes) memcpy(p, blobs[i].data, blobs[i].bytes);
        p += blobs[i].bytes;
    }
    int rc = mmc_write_file_atomic(path, buf, total, err);
    mmc_free(buf);
    return rc;
}

int mmc_safetensors_write(const char *path, mmc_tensor *const *tensors, const char *const *names, int n,
                          const char *metadata_json, mmc_error *err) {
    mmc_st_blob *b = mmc_calloc((size_t)(n > 0 ? n : 1), sizeof *b);
    if (!b) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        b[i].name = names[i], b[i].dtype = "F32", b[i].ndim = tensors[i]->ndim;
        for (int d = 0; d < tensors[i]->ndim; d++) b[i].shape[d] = tensors[i]->shape[d];
        b[i].data = tensors[i]->data, b[i].bytes = (size_t)tensors[i]->numel * 4;
    }
    int rc = mmc_safetensors_write_blobs(path, b, n, metadata_json, err);
    mmc_free(b);
    return rc;
}

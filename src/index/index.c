/* index.c — building, saving, opening (mmap) and validating embedding index files.
 *
 * The file (docs/formats.md, "Embedding index"): a 128-byte header, then the sections in a
 * fixed order — matrix (64-byte aligned, so the mmap'd rows can feed GEMM directly), the
 * int8 scales, the string offset table, the string bytes, the model id. Two CRC32s (zlib)
 * cover the header and the body, so a torn or bit-flipped file is refused rather than
 * searched. The file is untrusted: every size and offset is checked against the file
 * length with overflow-free arithmetic before any pointer into it is formed, and the
 * contents the searcher relies on (finite unit rows, bounded int8 scales, NUL-terminated
 * UTF-8 strings, ID<tab>TEXT items where the header says texts with ids) are checked once
 * at open time. */
#include "index_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the index file stores little-endian floats that are read in place"
#endif

#define IDX_MODEL_MAX 65536u /* bytes of model id, NUL included */
#define IDX_NORM_TOL 1e-3    /* a stored f32 row is unit length (or zero) within this */

/* ------------------------------------------------------------------- helpers */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static uint32_t crc_of(const uint8_t *p, size_t n) {
    return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, n);
}

/* What is wrong with s as an item of a MMC_INDEX_TEXTS_IDS index, or NULL. The id is what
 * comes before the first tab: non-empty and on one line, so that the item splits back into
 * (id, text) one way only and an id prints on one line (the text may hold anything). */
static const char *ids_item_problem(const char *s) {
    const char *tab = strchr(s, '\t');
    if (!tab) return "has no tab (items are ID<tab>TEXT)";
    if (tab == s) return "has an empty id (items are ID<tab>TEXT)";
    if (memchr(s, '\n', (size_t)(tab - s)) || memchr(s, '\r', (size_t)(tab - s))) return "has a line break in its id";
    return NULL;
}

static char *dupstr(const char *s) {
    size_t n = strlen(s);
    char *d = mmc_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* A heap buffer of n bytes whose usable start is 64-byte aligned (mmc_malloc gives 16). */
static uint8_t *alloc_aligned(size_t n, void **raw) {
    if (n > SIZE_MAX - IDX_ALIGN) return NULL;
    *raw = mmc_calloc(1, n + IDX_ALIGN);
    if (!*raw) return NULL;
    return (uint8_t *)align_up((uintptr_t)*raw, IDX_ALIGN);
}

static mmc_index *new_index(const char *name, mmc_error *err) {
    mmc_index *ix = mmc_calloc(1, sizeof *ix);
    if (ix) ix->name = dupstr(name);
    if (!ix || !ix->name) {
        mmc_free(ix);
        mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", name);
        return NULL;
    }
    return ix;
}

void mmc_index_close(mmc_index *ix) {
    if (!ix) return;
    if (ix->map) munmap(ix->map, ix->size);
    mmc_free(ix->owned);
    mmc_free(ix->name);
    mmc_free(ix);
}

/* ------------------------------------------------------------------- layout */

/* Where each section goes for a given shape; the writer's choice, which the reader checks
 * only for order, bounds and alignment (so other writers may pad differently). */
typedef struct {
    uint64_t matrix, matrix_len, scales, scales_len, stroff, strbytes, strlen, model, model_len,
        size;
} idx_layout;

/* Returns 0, or -1 when the sizes overflow 64 bits. */
static int plan_layout(idx_layout *L, int dtype, int dim, uint64_t count, uint64_t strlen_,
                       uint64_t model_len) {
    uint64_t es = dtype == MMC_INDEX_F32 ? 4 : 1;
    if (count > (uint64_t)MMC_INDEX_MAX_COUNT || strlen_ > (UINT64_MAX >> 4) ||
        model_len > IDX_MODEL_MAX)
        return -1;
    L->matrix = IDX_HEADER_SIZE; /* already a multiple of IDX_ALIGN */
    L->matrix_len = count * (uint64_t)dim * es; /* < 2^31 * 2^16 * 4: no overflow */
    L->scales = align_up(L->matrix + L->matrix_len, IDX_ALIGN);
    L->scales_len = dtype == MMC_INDEX_I8 ? count * 4 : 0;
    L->stroff = align_up(L->scales + L->scales_len, 8);
    L->strbytes = L->stroff + (count + 1) * 8;
    L->strlen = strlen_;
    L->model = L->strbytes + strlen_;
    L->model_len = model_len;
    L->size = L->model + model_len;
    if (dtype == MMC_INDEX_F32) L->scales = 0;
    return 0;
}

/* ---------------------------------------------------------------- validation */

/* Reads the header into ix and L, checking every field against the image length. */
static int check_header(mmc_index *ix, idx_layout *L, const uint8_t *b, size_t size,
                        mmc_error *err) {
    const char *P = ix->name;
    if (size < IDX_HEADER_SIZE)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: file is %zu bytes, too short for the %u-byte index header", P, size, IDX_HEADER_SIZE);
    if (memcmp(b + IDX_O_MAGIC, IDX_MAGIC, 8) != 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: bad magic (not an mmc index file)", P);
    uint32_t version = idx_le32(b + IDX_O_VERSION);
    if (version != IDX_VERSION)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: index format version %u, this build reads version %u", P, version, IDX_VERSION);
    uint32_t hcrc = idx_le32(b + IDX_O_HEADER_CRC), hcrc_want = crc_of(b, IDX_O_HEADER_CRC);
    if (hcrc != hcrc_want)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: header CRC32 mismatch (stored %08x, computed %08x): file corrupt", P, hcrc, hcrc_want);
    uint32_t dtype = idx_le32(b + IDX_O_DTYPE), dim = idx_le32(b + IDX_O_DIM);
    if (dtype != MMC_INDEX_F32 && dtype != MMC_INDEX_I8)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: unknown dtype %u (0 = float32, 1 = int8)", P, dtype);
    if (dim < 1 || dim > MMC_INDEX_MAX_DIM)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: dim %u outside 1..%d", P, dim, MMC_INDEX_MAX_DIM);
    if (idx_le32(b + IDX_O_HSIZE) != IDX_HEADER_SIZE)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: header size %u, expected %u", P, idx_le32(b + IDX_O_HSIZE), IDX_HEADER_SIZE);
    /* kind sits in what version 1 first left reserved: files written before it have 0 there,
     * which reads as media paths, what they hold. */
    uint32_t kind = idx_le32(b + IDX_O_KIND);
    if (kind > MMC_INDEX_TEXTS_IDS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: unknown item kind %u (0 = media paths, 1 = texts, 2 = texts with ids)", P, kind);
    for (int i = IDX_O_RESERVED; i < IDX_O_HEADER_CRC; i++)
        if (b[i]) return mmc_error_set(err, MMC_ERR_INPUT, "%s: reserved header byte %d is not zero", P, i);
    uint64_t count = idx_le64(b + IDX_O_COUNT), fsize = idx_le64(b + IDX_O_FILE_SIZE);
    if (fsize != size)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: header says %llu bytes but the file has %zu (truncated or padded)", P, (unsigned long long)fsize, size);
    if (count > (uint64_t)MMC_INDEX_MAX_COUNT)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: count %llu exceeds the limit %lld", P, (unsigned long long)count, MMC_INDEX_MAX_COUNT);
    ix->dtype = (int)dtype;
    ix->dim = (int)dim;
    ix->kind = (int)kind;
    ix->count = (int64_t)count;
    uint64_t es = dtype == MMC_INDEX_F32 ? 4 : 1;
    L->matrix = idx_le64(b + IDX_O_MATRIX);
    L->matrix_len = count * dim * es; /* count < 2^31, dim <= 2^16: fits */
    L->scales = idx_le64(b + IDX_O_SCALES);
    L->scales_len = dtype == MMC_INDEX_I8 ? count * 4 : 0;
    L->stroff = idx_le64(b + IDX_O_STROFF);
    L->strbytes = idx_le64(b + IDX_O_STRBYTES);
    L->strlen = idx_le64(b + IDX_O_STRLEN);
    L->model = idx_le64(b + IDX_O_MODEL);
    L->model_len = idx_le64(b + IDX_O_MODEL_LEN);
    L->size = size;
    return MMC_OK;
}

/* Section [off, off + len) must start at or after *pos, be aligned, and end inside the
 * file; *pos moves to its end. Written so that no sum can overflow. */
static int check_section(const mmc_index *ix, const char *what, uint64_t off, uint64_t len,
                         uint64_t align, uint64_t *pos, uint64_t size, mmc_error *err) {
    if (off < *pos || off > size)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s offset %llu outside [%llu, %llu] (sections overlap or run past the end)", ix->name, what,
                             (unsigned long long)off, (unsigned long long)*pos, (unsigned long long)size);
    if (off % align)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s offset %llu is not %llu-byte aligned", ix->name, what, (unsigned long long)off, (unsigned long long)align);
    if (len > size - off)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s of %llu bytes at offset %llu runs past the end of the file (%llu bytes)", ix->name, what,
                             (unsigned long long)len, (unsigned long long)off, (unsigned long long)size);
    *pos = off + len;
    return MMC_OK;
}

static int check_sections(const mmc_index *ix, const idx_layout *L, mmc_error *err) {
    uint64_t pos = IDX_HEADER_SIZE, n = (uint64_t)ix->count;
    int rc = check_section(ix, "matrix", L->matrix, L->matrix_len, IDX_ALIGN, &pos, L->size, err);
    if (!rc && ix->dtype == MMC_INDEX_I8)
        rc = check_section(ix, "scales", L->scales, L->scales_len, IDX_ALIGN, &pos, L->size, err);
    if (!rc && ix->dtype == MMC_INDEX_F32 && L->scales != 0)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: float32 index with a scales offset (%llu)", ix->name, (unsigned long long)L->scales);
    if (!rc) rc = check_section(ix, "string offset table", L->stroff, (n + 1) * 8, 8, &pos, L->size, err);
    if (!rc) rc = check_section(ix, "string table", L->strbytes, L->strlen, 1, &pos, L->size, err);
    if (!rc && (L->model_len < 1 || L->model_len > IDX_MODEL_MAX))
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: model id length %llu outside 1..%u", ix->name, (unsigned long long)L->model_len, IDX_MODEL_MAX);
    if (!rc) rc = check_section(ix, "model id", L->model, L->model_len, 1, &pos, L->size, err);
    return rc;
}

/* A NUL-terminated UTF-8 string of exactly n bytes (NUL included) with no NUL inside. */
static int check_cstr(const mmc_index *ix, const char *what, int64_t i, const char *s, uint64_t n,
                      mmc_error *err) {
    char label[64];
    if (i >= 0) snprintf(label, sizeof label, "%s %lld", what, (long long)i);
    else snprintf(label, sizeof label, "%s", what);
    if (n < 1 || s[n - 1] != 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s is not NUL-terminated", ix->name, label);
    if (memchr(s, 0, n - 1))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s contains a NUL byte", ix->name, label);
    size_t bad = 0;
    if (mmc_utf8_validate(s, n - 1, &bad) != MMC_OK)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s is not valid UTF-8 (byte %zu)", ix->name, label, bad);
    return MMC_OK;
}

/* The offsets start at 0, increase strictly (each string has at least its NUL), end at
 * the table's length; each string is NUL-terminated UTF-8. */
static int check_strings(const mmc_index *ix, uint64_t strlen_, mmc_error *err) {
    uint64_t prev = idx_le64(ix->stroff);
    if (prev != 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: string offset 0 is %llu, expected 0", ix->name, (unsigned long long)prev);
    for (int64_t i = 0; i < ix->count; i++) {
        uint64_t end = idx_le64(ix->stroff + 8 * (i + 1));
        if (end <= prev || end > strlen_)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: string %lld spans [%llu, %llu), not increasing or outside the %llu-byte table", ix->name,
                                 (long long)i, (unsigned long long)prev, (unsigned long long)end, (unsigned long long)strlen_);
        int rc = check_cstr(ix, "string", i, ix->strbytes + prev, end - prev, err);
        if (rc) return rc;
        prev = end;
    }
    if (prev != strlen_)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: strings end at %llu but the table has %llu bytes", ix->name, (unsigned long long)prev, (unsigned long long)strlen_);
    for (int64_t i = 0; ix->kind == MMC_INDEX_TEXTS_IDS && i < ix->count; i++) {
        const char *why = ids_item_problem(ix->strbytes + idx_le64(ix->stroff + 8 * i));
        if (why) return mmc_error_set(err, MMC_ERR_INPUT, "%s: string %lld %s, but the index says it holds texts with ids", ix->name, (long long)i, why);
    }
    return MMC_OK;
}

/* Row i's norm (dequantised for int8), in double; NaN or inf when a value is. */
static double row_norm(const mmc_index *ix, int64_t i) {
    const int64_t D = ix->dim;
    double ss = 0;
    if (ix->dtype == MMC_INDEX_F32)
        for (int64_t j = 0; j < D; j++) ss += (double)ix->f32[i * D + j] * ix->f32[i * D + j];
    else
        for (int64_t j = 0; j < D; j++) ss += (double)ix->i8[i * D + j] * ix->i8[i * D + j];
    return ix->dtype == MMC_INDEX_F32 ? sqrt(ss) : sqrt(ss) * ix->scales[i];
}

/* What search relies on, so that scores are cosines: every row is zero or unit length —
 * exactly for f32 (to IDX_NORM_TOL), and for int8 to within the rounding the quantiser can
 * make (|error| <= scale/2 per element, so at most sqrt(D)·scale/2 in norm). int8 values
 * lie in [-127, 127] (symmetric) and scales are finite and >= 0. */
static int check_values(const mmc_index *ix, mmc_error *err) {
    const int64_t D = ix->dim;
    for (int64_t i = 0; i < ix->count; i++) {
        double tol = IDX_NORM_TOL;
        if (ix->dtype == MMC_INDEX_I8) {
            float s = ix->scales[i];
            if (!(s >= 0 && s <= 1.0f / 64))
                return mmc_error_set(err, MMC_ERR_INPUT, "%s: row %lld has int8 scale %g outside [0, 1/64]", ix->name, (long long)i, s);
            for (int64_t j = 0; j < D; j++)
                if (ix->i8[i * D + j] == -128)
                    return mmc_error_set(err, MMC_ERR_INPUT, "%s: row %lld holds -128 (int8 values are in [-127, 127])", ix->name, (long long)i);
            tol += sqrt((double)D) * s / 2;
        }
        double nrm = row_norm(ix, i);
        if (!(nrm == 0 || fabs(nrm - 1) <= tol))
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: row %lld has norm %g (rows must be unit length or zero)", ix->name, (long long)i, nrm);
    }
    return MMC_OK;
}

/* Validates the image b[0, size) (64-byte aligned) and points ix's fields into it. */
static int attach(mmc_index *ix, const uint8_t *b, size_t size, mmc_error *err) {
    idx_layout L = {0};
    int rc = check_header(ix, &L, b, size, err);
    if (!rc) rc = check_sections(ix, &L, err);
    if (rc) return rc;
    uint32_t bcrc = idx_le32(b + IDX_O_BODY_CRC), bcrc_want = crc_of(b + IDX_HEADER_SIZE, size - IDX_HEADER_SIZE);
    if (bcrc != bcrc_want)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: body CRC32 mismatch (stored %08x, computed %08x): file corrupt", ix->name, bcrc, bcrc_want);
    ix->base = b;
    ix->size = size;
    ix->f32 = ix->dtype == MMC_INDEX_F32 ? (const float *)(b + L.matrix) : NULL;
    ix->i8 = ix->dtype == MMC_INDEX_I8 ? (const int8_t *)(b + L.matrix) : NULL;
    ix->scales = ix->dtype == MMC_INDEX_I8 ? (const float *)(b + L.scales) : NULL;
    ix->stroff = b + L.stroff;
    ix->strbytes = (const char *)b + L.strbytes;
    ix->model_id = (const char *)b + L.model;
    rc = check_cstr(ix, "model id", -1, ix->model_id, L.model_len, err);
    if (!rc) rc = check_strings(ix, L.strlen, err);
    if (!rc) rc = check_values(ix, err);
    return rc;
}

/* ------------------------------------------------------------------ open/parse */

mmc_index *mmc_index_parse(const char *name, const uint8_t *bytes, size_t size, mmc_error *err) {
    mmc_index *ix = new_index(name ? name : "<memory>", err);
    if (!ix) return NULL;
    uint8_t *img = alloc_aligned(size, &ix->owned);
    if (!img) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory copying %zu bytes", ix->name, size);
        mmc_index_close(ix);
        return NULL;
    }
    if (size) memcpy(img, bytes, size);
    if (attach(ix, img, size, err) != MMC_OK) {
        mmc_index_close(ix);
        return NULL;
    }
    return ix;
}

/* Opens path as a regular file and returns its fd and size, or -1 with err set. */
static int open_regular(const char *path, size_t *size, mmc_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: cannot open index: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0) why = strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "is a directory, expected an index file";
    else if (!S_ISREG(st.st_mode)) why = "not a regular file";
    else if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) why = "too large to map";
    if (why) {
        close(fd);
        mmc_error_set(err, MMC_ERR_INPUT, "%s: %s", path, why);
        return -1;
    }
    *size = (size_t)st.st_size;
    return fd;
}

mmc_index *mmc_index_open(const char *path, mmc_error *err) {
    size_t size = 0;
    int fd = open_regular(path, &size, err);
    if (fd < 0) return NULL;
    mmc_index *ix = new_index(path, err);
    if (!ix) { close(fd); return NULL; }
    if (size < IDX_HEADER_SIZE) { /* also keeps mmap away from an empty file */
        close(fd);
        mmc_error_set(err, MMC_ERR_INPUT, "%s: file is %zu bytes, too short for the %u-byte index header", path, size, IDX_HEADER_SIZE);
        mmc_index_close(ix);
        return NULL;
    }
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (m == MAP_FAILED) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "%s: mmap of %zu bytes failed: %s", path, size, strerror(e));
        mmc_index_close(ix);
        return NULL;
    }
    ix->map = m;
    ix->size = size;
    if (attach(ix, m, size, err) != MMC_OK) {
        mmc_index_close(ix);
        return NULL;
    }
    return ix;
}

/* ---------------------------------------------------------------------- build */

static int check_build_args(const float *emb, int64_t n, int dim, const char *const *items,
                            const char *model_id, int dtype, int kind, mmc_error *err) {
    if (dtype != MMC_INDEX_F32 && dtype != MMC_INDEX_I8)
        return mmc_error_set(err, MMC_ERR_USAGE, "index build: unknown dtype %d", dtype);
    if (kind < MMC_INDEX_MEDIA || kind > MMC_INDEX_TEXTS_IDS)
        return mmc_error_set(err, MMC_ERR_USAGE, "index build: unknown item kind %d", kind);
    if (dim < 1 || dim > MMC_INDEX_MAX_DIM)
        return mmc_error_set(err, MMC_ERR_USAGE, "index build: dim %d outside 1..%d", dim, MMC_INDEX_MAX_DIM);
    if (n < 0 || n > MMC_INDEX_MAX_COUNT)
        return mmc_error_set(err, MMC_ERR_USAGE, "index build: count %lld outside 0..%lld", (long long)n, MMC_INDEX_MAX_COUNT);
    if (n > 0 && (!emb || !items))
        return mmc_error_set(err, MMC_ERR_USAGE, "index build: embeddings and items are required");
    size_t bad;
    if (!model_id) model_id = "";
    if (strlen(model_id) + 1 > IDX_MODEL_MAX || mmc_utf8_validate(model_id, strlen(model_id), &bad) != MMC_OK)
        return mmc_error_set(err, MMC_ERR_INPUT, "index build: model id is not valid UTF-8 of at most %u bytes", IDX_MODEL_MAX - 1);
    for (int64_t i = 0; i < n; i++) {
        if (!items[i]) return mmc_error_set(err, MMC_ERR_USAGE, "index build: item %lld is NULL", (long long)i);
        if (mmc_utf8_validate(items[i], strlen(items[i]), &bad) != MMC_OK)
            return mmc_error_set(err, MMC_ERR_INPUT, "index build: item %lld is not valid UTF-8 (byte %zu)", (long long)i, bad);
        const char *why = kind == MMC_INDEX_TEXTS_IDS ? ids_item_problem(items[i]) : NULL;
        if (why) return mmc_error_set(err, MMC_ERR_INPUT, "index build: item %lld %s", (long long)i, why);
        for (int j = 0; j < dim; j++)
            if (!isfinite(emb[i * dim + j]))
                return mmc_error_set(err, MMC_ERR_INPUT, "index build: embedding %lld (item '%s') has a non-finite value at %d", (long long)i, items[i], j);
    }
    return MMC_OK;
}

/* Row x (dim) L2-normalised (in double), stored as f32 or as int8 with a per-row scale:
 * q = round(y / s), s = max|y| / 127, so y ≈ q * s with |error| <= s / 2 per element. */
static void store_row(uint8_t *img, const idx_layout *L, int dtype, int dim, int64_t i, const float *x) {
    double ss = 0, amax = 0;
    for (int j = 0; j < dim; j++) ss += (double)x[j] * x[j];
    const double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    if (dtype == MMC_INDEX_F32) {
        float *out = (float *)(img + L->matrix) + i * dim;
        for (int j = 0; j < dim; j++) out[j] = (float)(x[j] * inv);
        return;
    }
    for (int j = 0; j < dim; j++) amax = fmax(amax, fabs(x[j] * inv));
    const float s = (float)(amax / 127.0);
    int8_t *out = (int8_t *)(img + L->matrix) + i * dim;
    for (int j = 0; j < dim; j++) {
        double v = s > 0 ? nearbyint(x[j] * inv / s) : 0.0;
        out[j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    memcpy(img + L->scales + 4 * (uint64_t)i, &s, 4);
}

static void write_header(uint8_t *img, const idx_layout *L, int dtype, int dim, int kind, uint64_t count) {
    memcpy(img + IDX_O_MAGIC, IDX_MAGIC, 8);
    put32(img + IDX_O_VERSION, IDX_VERSION);
    put32(img + IDX_O_DTYPE, (uint32_t)dtype);
    put32(img + IDX_O_KIND, (uint32_t)kind);
    put32(img + IDX_O_DIM, (uint32_t)dim);
    put32(img + IDX_O_HSIZE, IDX_HEADER_SIZE);
    put64(img + IDX_O_COUNT, count);
    put64(img + IDX_O_FILE_SIZE, L->size);
    put64(img + IDX_O_MATRIX, L->matrix);
    put64(img + IDX_O_SCALES, L->scales);
    put64(img + IDX_O_STROFF, L->stroff);
    put64(img + IDX_O_STRBYTES, L->strbytes);
    put64(img + IDX_O_STRLEN, L->strlen);
    put64(img + IDX_O_MODEL, L->model);
    put64(img + IDX_O_MODEL_LEN, L->model_len);
    put32(img + IDX_O_BODY_CRC, crc_of(img + IDX_HEADER_SIZE, L->size - IDX_HEADER_SIZE));
    put32(img + IDX_O_HEADER_CRC, crc_of(img, IDX_O_HEADER_CRC));
}

mmc_index *mmc_index_build(const float *emb, int64_t n, int dim, const char *const *items,
                           const char *model_id, int dtype, mmc_error *err) {
    return mmc_index_build_kind(emb, n, dim, items, model_id, dtype, MMC_INDEX_MEDIA, err);
}

mmc_index *mmc_index_build_kind(const float *emb, int64_t n, int dim, const char *const *items,
                                const char *model_id, int dtype, int kind, mmc_error *err) {
    if (check_build_args(emb, n, dim, items, model_id, dtype, kind, err)) return NULL;
    if (!model_id) model_id = "";
    uint64_t strlen_ = 0;
    for (int64_t i = 0; i < n; i++) strlen_ += strlen(items[i]) + 1;
    idx_layout L;
    if (plan_layout(&L, dtype, dim, (uint64_t)n, strlen_, strlen(model_id) + 1) || L.size > SIZE_MAX) {
        mmc_error_set(err, MMC_ERR_USAGE, "index build: %lld items of dim %d are too large for one file", (long long)n, dim);
        return NULL;
    }
    mmc_index *ix = new_index("<built index>", err);
    if (!ix) return NULL;
    uint8_t *img = alloc_aligned((size_t)L.size, &ix->owned);
    if (!img) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "index build: out of memory for %llu bytes", (unsigned long long)L.size);
        mmc_index_close(ix);
        return NULL;
    }
    uint64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        store_row(img, &L, dtype, dim, i, emb + i * dim);
        size_t len = strlen(items[i]) + 1;
        put64(img + L.stroff + 8 * (uint64_t)i, pos);
        memcpy(img + L.strbytes + pos, items[i], len);
        pos += len;
    }
    put64(img + L.stroff + 8 * (uint64_t)n, pos);
    memcpy(img + L.model, model_id, L.model_len);
    write_header(img, &L, dtype, dim, kind, (uint64_t)n);
    /* Validating our own image costs one pass and guarantees build and open agree. */
    if (attach(ix, img, (size_t)L.size, err) != MMC_OK) {
        mmc_index_close(ix);
        return NULL;
    }
    return ix;
}

int mmc_index_save(const mmc_index *ix, const char *path, mmc_error *err) {
    if (!ix || !path) return mmc_error_set(err, MMC_ERR_USAGE, "index save: index and path are required");
    return mmc_write_file_atomic(path, ix->base, ix->size, err);
}

/* ------------------------------------------------------------------ accessors */

int64_t mmc_index_count(const mmc_index *ix) { return ix ? ix->count : 0; }
int mmc_index_dim(const mmc_index *ix) { return ix ? ix->dim : 0; }
int mmc_index_dtype(const mmc_index *ix) { return ix ? ix->dtype : -1; }
int mmc_index_kind(const mmc_index *ix) { return ix ? ix->kind : -1; }
const char *mmc_index_model_id(const mmc_index *ix) { return ix ? ix->model_id : NULL; }

const char *mmc_index_item(const mmc_index *ix, int64_t i) {
    if (!ix || i < 0 || i >= ix->count) return NULL;
    return ix->strbytes + idx_le64(ix->stroff + 8 * i);
}

int mmc_index_row(const mmc_index *ix, int64_t i, float *out, mmc_error *err) {
    if (!ix || !out || i < 0 || i >= ix->count)
        return mmc_error_set(err, MMC_ERR_USAGE, "index row: row %lld outside 0..%lld", (long long)i,
                             (long long)(ix ? ix->count - 1 : -1));
    idx_row(ix, i, out);
    return MMC_OK;
}

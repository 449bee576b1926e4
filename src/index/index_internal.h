/*
 * index_internal.h — the in-memory form of an embedding index, shared by index.c (build,
 * save, open, validate) and search.c (top-k). Not installed.
 *
 * An index always lives as one file image: built indexes assemble the image in a heap
 * buffer, opened ones mmap it. The fields below are pointers into that image, set only
 * after the whole image has been validated, so readers never check bounds again.
 */
#ifndef MMC_INDEX_INTERNAL_H
#define MMC_INDEX_INTERNAL_H

#include "internal.h"
#include "mmc/index.h"

/* The fixed 128-byte header (all little-endian); docs/formats.md has the table. */
#define IDX_MAGIC "MMCIDX1"  /* 8 bytes with its NUL */
#define IDX_VERSION 1u
#define IDX_HEADER_SIZE 128u
#define IDX_ALIGN 64u        /* matrix and scales start on a 64-byte boundary */
enum {
    IDX_O_MAGIC = 0, IDX_O_VERSION = 8, IDX_O_DTYPE = 12, IDX_O_DIM = 16, IDX_O_HSIZE = 20,
    IDX_O_COUNT = 24, IDX_O_FILE_SIZE = 32, IDX_O_MATRIX = 40, IDX_O_SCALES = 48,
    IDX_O_STROFF = 56, IDX_O_STRBYTES = 64, IDX_O_STRLEN = 72, IDX_O_MODEL = 80,
    IDX_O_MODEL_LEN = 88, IDX_O_BODY_CRC = 96, IDX_O_KIND = 100, IDX_O_RESERVED = 104,
    IDX_O_HEADER_CRC = 124,
};

struct mmc_index {
    char *name;            /* path or caller's name, for messages */
    const uint8_t *base;   /* the file image */
    size_t size;
    void *map;             /* mmap'd image (munmap on close), or NULL */
    void *owned;           /* heap allocation holding the image (64-aligned inside), or NULL */
    int dtype, dim;
    int kind;              /* MMC_INDEX_MEDIA, _TEXTS or _TEXTS_IDS: what the items are */
    int64_t count;
    const float *f32;      /* (count, dim) when dtype is F32 */
    const int8_t *i8;      /* (count, dim) when dtype is I8 */
    const float *scales;   /* (count) when dtype is I8 */
    const uint8_t *stroff; /* (count + 1) little-endian u64 offsets into strbytes */
    const char *strbytes;  /* NUL-terminated strings, back to back */
    const char *model_id;
};

static inline uint64_t idx_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static inline uint32_t idx_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Search's vector kernels (AVX-512 when the CPU has it): on by default; tests turn them
 * off to check the plain C ones. Returns the previous setting. */
int idx_simd_set_enabled(int on);

/* Row i of the matrix into out[dim] as floats (dequantised for int8). */
static inline void idx_row(const mmc_index *ix, int64_t i, float *out) {
    const int64_t D = ix->dim;
    if (ix->dtype == MMC_INDEX_F32) {
        for (int64_t j = 0; j < D; j++) out[j] = ix->f32[i * D + j];
    } else {
        const float s = ix->scales[i];
        for (int64_t j = 0; j < D; j++) out[j] = (float)ix->i8[i * D + j] * s;
    }
}

#endif

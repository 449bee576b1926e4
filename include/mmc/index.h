/*
 * mmc/index.h — the embedding index (src/index): build, save, open (mmap), top-k search.
 */
#ifndef MMC_INDEX_H
#define MMC_INDEX_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- index (src/index) ---- */
/* An embedding index for cross-modal retrieval: N items, each an L2-normalised row of D
 * floats (stored as float32, or int8 with one scale per row) plus a UTF-8 string (a path,
 * a text, or an id and a text: the index's kind says which), and the id of the model that
 * made the embeddings. Search is exact top-k by inner product, which is cosine similarity
 * since rows and queries are normalised.
 * File format: docs/formats.md ("Embedding index"); a file is mmap'd read-only and fully
 * validated (sizes, offsets, UTF-8, CRC32s) before use. */
enum { MMC_INDEX_F32 = 0, MMC_INDEX_I8 = 1 };
/* What the items are (the header's kind field): MEDIA, image paths or video segments
 * PATH#t=START,END (files written before the field existed read as this); TEXTS, each item
 * a text (`mmc index build --texts`, searched by text or by image: 以图搜文); TEXTS_IDS,
 * each item ID<tab>TEXT, the id non-empty and free of tabs and line breaks (the text may
 * hold them). */
enum { MMC_INDEX_MEDIA = 0, MMC_INDEX_TEXTS = 1, MMC_INDEX_TEXTS_IDS = 2 };
#define MMC_INDEX_MAX_DIM 65536          /* embedding width limit (a sanity bound) */
#define MMC_INDEX_MAX_COUNT 2147483647LL /* items; indices fit an int */
#define MMC_INDEX_BLOCK_ROWS 4096        /* rows per GEMM block in search (bounds scratch) */
typedef struct mmc_index mmc_index;

/* Builds an in-memory index from emb (n, dim) row-major (finite values; a zero row stays
 * zero), items[n] NUL-terminated UTF-8 strings, model_id a UTF-8 string (may be ""),
 * dtype MMC_INDEX_F32 or MMC_INDEX_I8 (symmetric per-row quantisation: scale = max|x|/127).
 * n may be 0. NULL + err (MMC_ERR_USAGE for bad arguments, MMC_ERR_INPUT for non-finite
 * values or invalid UTF-8, naming the item) on failure. */
mmc_index *mmc_index_build(const float *emb, int64_t n, int dim, const char *const *items,
                           const char *model_id, int dtype, mmc_error *err);
/* The same with the items' kind recorded (mmc_index_build is kind MMC_INDEX_MEDIA). An
 * unknown kind is MMC_ERR_USAGE; for MMC_INDEX_TEXTS_IDS an item that is not ID<tab>TEXT
 * with a non-empty one-line id is MMC_ERR_INPUT naming the item. */
mmc_index *mmc_index_build_kind(const float *emb, int64_t n, int dim, const char *const *items,
                                const char *model_id, int dtype, int kind, mmc_error *err);
/* Writes the index atomically (temp file, fsync, rename). */
int mmc_index_save(const mmc_index *ix, const char *path, mmc_error *err);
/* Maps path read-only and validates it; NULL + MMC_ERR_INPUT naming the file when it is
 * missing, a directory, truncated, or malformed in any way. */
mmc_index *mmc_index_open(const char *path, mmc_error *err);
/* The same validation over a file image in memory (copied; bytes may be freed after).
 * name is used in messages ("<memory>" if NULL). For fuzzing and embedded indexes. */
mmc_index *mmc_index_parse(const char *name, const uint8_t *bytes, size_t size, mmc_error *err);
void mmc_index_close(mmc_index *ix); /* unmaps / frees; NULL is fine */

int64_t mmc_index_count(const mmc_index *ix);
int mmc_index_dim(const mmc_index *ix);
int mmc_index_dtype(const mmc_index *ix);
int mmc_index_kind(const mmc_index *ix); /* MMC_INDEX_MEDIA, _TEXTS or _TEXTS_IDS */
const char *mmc_index_model_id(const mmc_index *ix);
const char *mmc_index_item(const mmc_index *ix, int64_t i); /* NULL if i out of range */
/* Row i as floats (dequantised for int8) into out[dim]; MMC_ERR_USAGE if i out of range. */
int mmc_index_row(const mmc_index *ix, int64_t i, float *out, mmc_error *err);

/* Top-k for a batch of queries q (nq, dim): each query is L2-normalised first (a zero query
 * scores 0 everywhere), then scored against every row. Writes idx (nq, k') and scores
 * (nq, k'), k' = min(k, count), best first; equal scores keep the lower index first. The
 * rows are processed in blocks of block_rows (0: MMC_INDEX_BLOCK_ROWS), one GEMM per block
 * and query chunk — or, for up to 4 queries, dot products straight off the rows (int8 rows
 * are not dequantised into a buffer) — blocks spread over mmc_get_threads() threads;
 * results do not depend on the thread count. Queries must be finite (else MMC_ERR_INPUT). Returns k' in *k_out
 * (may be NULL). */
int mmc_index_search(const mmc_index *ix, const float *q, int nq, int k, int block_rows,
                     int64_t *idx, float *scores, int *k_out, mmc_error *err);
/* The reference: every score in double precision, a full sort. Same contract, slow. */
int mmc_index_search_bruteforce(const mmc_index *ix, const float *q, int nq, int k,
                                int64_t *idx, float *scores, int *k_out, mmc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MMC_INDEX_H */

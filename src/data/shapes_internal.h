/* shapes_internal.h — what the shapes world's files share: geometry words used by both
 * the renderer (which places objects so the words are unambiguous) and the text side. */
#ifndef MMC_SHAPES_INTERNAL_H
#define MMC_SHAPES_INTERNAL_H

#include "internal.h"
#include "mmc/data.h"

/* Where a is relative to b along the axis on which they are further apart. */
enum { REL_LEFT, REL_RIGHT, REL_ABOVE, REL_BELOW };
int shapes_relation(const mmc_shape_obj *a, const mmc_shape_obj *b);

/* Cell of the 3x3 grid holding the object's centre: row * 3 + col (0 = top left). */
int shapes_region(const mmc_shape_obj *o, int size);

/* Captions (English, Chinese), QA pairs and label of a scene, drawing phrasing choices
 * from rng. Fills everything in out but id and image. MMC_OK or MMC_ERR_RUNTIME (OOM). */
int shapes_describe(const mmc_shapes_scene *sc, mmc_rng *rng, mmc_sample *out);

/* Draws the scene's objects (in array order, any number up to MMC_SHAPES_MAX_OBJECTS) on the
 * background; rgb holds size * size * 3 bytes. */
void shapes_render(const mmc_shapes_scene *sc, uint8_t *rgb);
/* The rng stream of (split, index): the split's hash high, the index low. */
uint64_t shapes_stream(const char *split, int64_t index);
/* 1-64 of [a-z0-9_-]: the split names files. */
int shapes_valid_split(const char *s);

/* Writes a split as a dataset folder: makes DIR/sub for each of subdirs (NULL-terminated),
 * runs make(ctx, index, scratch, err) for every index in parallel batches (scratch: a
 * per-thread buffer of scratch_bytes) to get its manifest line, and writes
 * DIR/manifest-SPLIT.jsonl last, atomically, lines in index order. */
typedef char *(*shapes_line_fn)(void *ctx, int64_t index, uint8_t *scratch, mmc_error *err);
int shapes_write_lines(const char *dir, const char *split, int64_t n, const char *const *subdirs,
                       size_t scratch_bytes, shapes_line_fn make, void *ctx, mmc_progress_fn progress,
                       void *user, mmc_error *err);

/* The captions' and questions' string builder (shapes_text.c): a fixed buffer that
 * truncates rather than overflows; shapes_sb_dup is an mmc_malloc'd copy (NULL: no memory). */
typedef struct sb {
    char s[1024];
    size_t n;
} sb;
void shapes_sb_add(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *shapes_sb_dup(const sb *b);

#endif

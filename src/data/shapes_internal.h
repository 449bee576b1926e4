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

#endif

/*
 * mmc/models.h — the task models (src/models), one header each under mmc/models/:
 * encoders (the settings the tasks share), retrieval, caption, vqa, decode, embedder, clip.
 */
#ifndef MMC_MODELS_H
#define MMC_MODELS_H

/* ------------------------------------------------------------------- models */
/* src/models: task models built from nn modules. */

#include "models/encoders.h"
#include "models/retrieval.h"
#include "models/caption.h"
#include "models/vqa.h"
#include "models/decode.h"
#include "models/embedder.h"
#include "models/clip.h"

#endif /* MMC_MODELS_H */

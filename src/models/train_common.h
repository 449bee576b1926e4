/* train_common.h — small pieces every trainer (retrieval, captioning, CLIP fine-tuning,
 * VQA) shares: events to the caller's callback and the run folder. Not installed. */
#ifndef MMC_TRAIN_COMMON_H
#define MMC_TRAIN_COMMON_H

#include "internal.h"

/* Passes ev to o->callback, if there is one. */
void train_emit(const mmc_retrieval_train_opts *o, const mmc_train_event *ev);
/* An event of kind with a printf-style message (at most 1023 bytes) for step of total. */
void train_emitf(const mmc_retrieval_train_opts *o, int kind, int64_t step, int64_t total, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* mkdir -p dir (0755); an existing folder is fine. MMC_ERR_INPUT naming dir otherwise. */
int train_mkdir_p(const char *dir, mmc_error *err);

#endif

/* run_internal.h — shared by run.c (checkpoint save/load: model and optimizer files,
 * staging and renames) and run_json.c (trainer.json, config.json, metrics.jsonl).
 * Not installed. */
#ifndef MMC_RUN_INTERNAL_H
#define MMC_RUN_INTERNAL_H

#include "internal.h"
#include "mmc/io.h"

#define RUN_PATH_MAX 4096

/* dir + "/" + name into buf; MMC_ERR_USAGE when it does not fit. */
int mmc_run_path(char *buf, size_t n, const char *dir, const char *name, mmc_error *err);
/* trainer.json's text for ts (malloc'd by cJSON: free with cJSON_free); NULL on OOM. */
char *mmc_run_trainer_text(const mmc_trainer_state *ts);
/* MMC_OK when ts could be saved and loaded back (fields in range, rng increment odd);
 * else `code` with a message naming `who`. */
int mmc_run_trainer_valid(const mmc_trainer_state *ts, const char *who, int code, mmc_error *err);
/* Parses an unsigned decimal of 1 to 20 digits that fits in 64 bits; 0 when it is not one. */
int mmc_run_parse_u64(const char *s, uint64_t *out);

#endif

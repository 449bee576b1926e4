/* import_internal.h — helpers shared by the importers (src/data/import_*.c). Not installed. */
#ifndef MMC_IMPORT_INTERNAL_H
#define MMC_IMPORT_INTERNAL_H
#include "mmc/data.h"
#include "mmc/io.h" /* mmc_json_load */
#include <cjson/cJSON.h>

/* printf into the log callback (nothing when log is NULL). */
void import_log(mmc_log_fn log, void *user, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* mkdir -p; MMC_ERR_RUNTIME naming the path that blocks. */
int import_mkdirs(const char *path, mmc_error *err);
/* rm -r of a folder we made (nftw, never follows links). */
void import_rm_tree(const char *path);

/* Why a relative path taken from untrusted data is unacceptable, or NULL: empty, absolute,
 * a ".." component, a control character, not UTF-8, or longer than 1024 bytes. */
const char *import_bad_rel_path(const char *p);

/* The string value of a cJSON item if it is a valid-UTF-8 string, else NULL. */
const char *import_json_str(const cJSON *v);

/* Writes bytes to path through a temporary name and rename (no fsync: images are
 * regenerable; the manifest written last is the commit point). */
int import_write_file(const char *path, const void *buf, size_t n, mmc_error *err);

/* A growable array of samples whose strings the importer owns. */
typedef struct import_samples {
    mmc_sample *v;
    int n, cap;
} import_samples;
mmc_sample *import_samples_push(import_samples *s, mmc_error *err); /* zeroed slot */
void import_samples_free(import_samples *s); /* mmc_sample_free on each */
/* Sorts by id (so the manifest does not depend on the source's order) and refuses a
 * repeated id with MMC_ERR_INPUT naming file. find: bsearch a sorted list. */
int import_samples_sort_unique(import_samples *s, const char *file, mmc_error *err);
const mmc_sample *import_samples_find(const import_samples *s, const char *id);
char *import_strdup(const char *s);          /* mmc_malloc'd; NULL on OOM */
/* Appends a copy of text to a caption list unless it is empty or already there.
 * Returns 0, or -1 on OOM. */
int import_add_caption(char ***list, int *n, const char *text);

/* Writes out/manifest-SPLIT.jsonl for the three splits (skips an empty one). */
extern const char *const IMPORT_SPLITS[3];
int import_write_manifests(const char *out, import_samples sp[3], mmc_error *err);

/* FNV-1a: a stable hash for deterministic split assignment. */
uint32_t import_hash(const char *s);
#endif

/* config_keys.h — the typed key tables behind the JSON configs of the trainable models
 * (retrieval, captioning, VQA). Each model lists its keys once — name, type, place in its
 * config struct, allowed range — and that one table drives parsing, printing and the
 * unknown-key check, so they cannot disagree. Not installed. */
#ifndef MMC_CONFIG_KEYS_H
#define MMC_CONFIG_KEYS_H

#include "internal.h"
#include <cjson/cJSON.h>
#include <stddef.h>

enum { CFG_INT, CFG_FLOAT, CFG_STR, CFG_INTS };

/* CFG_INT, CFG_FLOAT: the value lies in lo..hi (integers also take true/false as 1/0).
 * CFG_STR: a char array of hi bytes, the NUL included.
 * CFG_INTS: an int array of hi (<= CFG_INTS_MAX) entries; the JSON array has lo..hi
 * integers, each in 1..4096, and the entries after them are set to 0. */
typedef struct cfg_key {
    const char *name;
    int type;
    size_t off;
    double lo, hi;
} cfg_key;
#define CFG_INTS_MAX 8

/* The key called name, or NULL. */
const cfg_key *cfg_find(const cfg_key *keys, int n, const char *name);

/* Stores the JSON value it into the struct at base as key k says, after checking its type
 * and range; errors name the file (name) and the key. */
int cfg_read(const cfg_key *k, const cJSON *it, void *base, const char *name, mmc_error *err);

/* Reads every member of the object root through the table: a member named in skip (a
 * NULL-terminated list; may be NULL) is passed over, an unknown one is an error. */
int cfg_read_object(const cfg_key *keys, int n, const cJSON *root, const char *const *skip, void *base,
                    const char *name, mmc_error *err);

/* Parses text as a JSON object into *root (cJSON_Delete it); MMC_ERR_INPUT otherwise. */
int cfg_parse_object(const char *text, size_t n, const char *name, cJSON **root, mmc_error *err);

/* The whole of parsing a config text: a JSON object whose members go through the table
 * (task: when not NULL, a "task" member must hold that string; skip as cfg_read_object)
 * into a copy of the struct at c (size bytes), then check(copy) when check is not NULL;
 * only if all of it passes is the copy written back to c, so a bad config changes
 * nothing. */
int cfg_parse(const cfg_key *keys, int n, const char *task, const char *const *skip,
              int (*check)(const void *c, const char *name, mmc_error *err), void *c, size_t size, const char *text,
              size_t len, const char *name, mmc_error *err);

/* Reads the file at path (at most 16 MiB) and hands it to parse(c, text, n, path, err). */
int cfg_load(const char *path, int (*parse)(void *c, const char *text, size_t n, const char *name, mmc_error *err),
             void *c, mmc_error *err);

/* Adds every key of the table, with its value in the struct at base, to the object o (an
 * int array that is all zeros is left out: absent, as it was read). Returns 0 when out of
 * memory. */
int cfg_add_all(cJSON *o, const cfg_key *keys, int n, const void *base);

/* o printed as indented JSON in an mmc_malloc'd string (NULL when out of memory); o is
 * deleted either way. */
char *cfg_print(cJSON *o);

/* The checks every image encoder config shares: cnn_widths (6 entries, positive ones
 * first, at least one), resnet_layers / resnet_widths (4 positive entries, layers <= 16),
 * vit_dim a multiple of vit_heads. */
int cfg_check_image_encoders(const int *cnn_widths, const int *resnet_layers, const int *resnet_widths, int vit_dim,
                             int vit_heads, const char *name, mmc_error *err);

#endif

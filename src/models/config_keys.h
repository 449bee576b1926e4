/* config_keys.h — the typed key tables behind the JSON configs of the trainable models
 * (retrieval, captioning, VQA). Each model lists its own keys once, each encoder its own — name, type, place in its
 * config struct, allowed range — and that one table drives parsing, printing and the
 * unknown-key check, so they cannot disagree. Not installed. */
#ifndef MMC_CONFIG_KEYS_H
#define MMC_CONFIG_KEYS_H

#include "internal.h"
#include "mmc.h"
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
    double def;          /* CFG_INT, CFG_FLOAT: the default (cfg_keys_default) */
    const char *choices; /* CFG_STR: "a|b|c", the values it may take, the first the default;
                          * NULL: any string, default "" */
} cfg_key;
#define CFG_INTS_MAX 8

/* A config's whole key table, in parts: the task's own keys (offsets into its config) and
 * the keys of each encoder whose settings the config embeds (offsets into
 * mmc_image_encoder_opts / mmc_text_encoder_opts, the part placed at the embedded struct:
 * enc_cfg_table). The first part that lists a name has it, for the reader and the writer
 * alike (encoders share keys: word_dim). `without` (NULL-terminated, may be NULL): keys of
 * the parts that this config does not take: refused as unknown, never written. */
#define CFG_MAX_PARTS 24
typedef struct cfg_table {
    struct cfg_part {
        const cfg_key *keys;
        int n;
        size_t off;
    } part[CFG_MAX_PARTS];
    int n_parts;
    const char *const *without;
} cfg_table;

/* A task's own keys at their defaults (def, the first of choices) in the struct at base;
 * CFG_INTS and strings without choices are left as they are. */
void cfg_keys_default(const cfg_key *k, int n, void *base);
/* 1 + the index of s among "a|b|c", or 0 when it is not one of them. */
int cfg_choice(const char *choices, const char *s);
/* Every string key with choices holds one of them; else MMC_ERR_INPUT
 * "NAME: KEY 'v' is not one of a, b, c". */
int cfg_keys_check_choices(const cfg_key *k, int n, const void *base, const char *name, mmc_error *err);

/* Appends a part (ignored past CFG_MAX_PARTS or when n is 0). */
void cfg_table_add(cfg_table *t, const cfg_key *keys, int n, size_t off);

/* One kind of config as the reader and the writer see it: its key table, the "task"
 * member it must hold (NULL: none), the members of a run's config.json that are not
 * settings (skip, NULL-terminated; may be NULL), the check after reading (may be NULL) and
 * the size of its struct. */
typedef struct cfg_kind {
    cfg_table (*table)(void);
    const char *task;
    const char *const *skip;
    int (*check)(const void *c, const char *name, mmc_error *err);
    size_t size;
} cfg_kind;

/* The whole of parsing a config text of kind k: a JSON object whose members go through the
 * table (a "task" member must hold k->task; a member named in k->skip is passed over, an
 * unknown one is an error) into a copy of the struct at c, then k->check(copy); only if
 * all of it passes is the copy written back to c, so a bad config changes nothing. */
int cfg_parse(const cfg_kind *k, void *c, const char *text, size_t len, const char *name, mmc_error *err);

/* Reads the file at path (at most 16 MiB) and parses it as cfg_parse. */
int cfg_load(const cfg_kind *k, void *c, const char *path, mmc_error *err);

/* The config at c as indented JSON (mmc_malloc'd; NULL when out of memory): "task" first
 * when k has one, then every key of the table (an int array that is all zeros is left out:
 * absent, as it was read). */
char *cfg_to_json(const cfg_kind *k, const void *c);

#endif

/* quantize.c — `mmc quantize MODEL --out DIR [--type q8|q4] [--force]`: an int8 / int4
 * copy of a Hugging Face CLIP / Chinese-CLIP folder. The model is loaded with its Linear
 * weights quantised (mmc_clip_opts.quantize) and written back with mmc_clip_save, which
 * stores them as I8 / U8 with NAME_scale beside each (docs/formats.md) and copies the
 * config, tokenizer and preprocessor files. Also the `--dtype` parser of the commands that
 * open an embedder (cli_parse_dtype). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_parse_dtype(const char *cmd, const char *value, int *quantize) {
    const char *v = value ? value : "";
    if (!strcmp(v, "f32")) *quantize = 0;
    else if (!strcmp(v, "int8") || !strcmp(v, "q8")) *quantize = MMC_QTYPE_Q8;
    else if (!strcmp(v, "q4")) *quantize = MMC_QTYPE_Q4;
    else return cli_error(1, "%s: --dtype needs f32, int8 (= q8) or q4 (got '%s')", cmd, v);
    return 0;
}

/* config.json of a retrieval run holds its vocabulary: allow as much as the embedder does. */
#define QZ_MAX_CONFIG_BYTES ((size_t)64 << 20)
/* safetensors' own bound on a header (src/io/safetensors.c refuses more). */
#define QZ_MAX_HEADER_BYTES ((uint64_t)100 << 20)

/* What a safetensors header lists, read without the data: tensors, and how many are I8
 * (q8) and U8 (q4) and NAME_scale companions. 0, or -1 when the file is not readable as
 * safetensors (the loader then names the problem). */
typedef struct qz_counts {
    int n, i8, u8, scales;
} qz_counts;

static int header_counts(const char *path, qz_counts *c) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t len8[8];
    uint64_t len = 0;
    int rc = -1;
    char *h = NULL;
    if (fread(len8, 1, 8, f) == 8) {
        for (int i = 7; i >= 0; i--) len = len << 8 | len8[i];
        if (len > 0 && len <= QZ_MAX_HEADER_BYTES && (h = malloc((size_t)len)) && fread(h, 1, (size_t)len, f) == len) {
            cJSON *root = cJSON_ParseWithLength(h, (size_t)len), *e;
            if (cJSON_IsObject(root)) {
                rc = 0;
                cJSON_ArrayForEach(e, root) {
                    if (!strcmp(e->string, "__metadata__")) continue;
                    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
                    const char *d = cJSON_IsString(dt) ? dt->valuestring : "";
                    size_t nl = strlen(e->string);
                    c->n++;
                    c->i8 += !strcmp(d, "I8");
                    c->u8 += !strcmp(d, "U8");
                    c->scales += nl > 6 && !strcmp(e->string + nl - 6, "_scale");
                }
            }
            cJSON_Delete(root);
        }
    }
    free(h);
    fclose(f);
    return rc;
}

/* Bytes of the checkpoint: model.safetensors, or every *.safetensors file (the shards of a
 * model.safetensors.index.json). */
static long long checkpoint_bytes(const char *dir) {
    char p[PATH_MAX + 64];
    struct stat sb;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (stat(p, &sb) == 0) return (long long)sb.st_size;
    long long total = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n <= 12 || strcmp(de->d_name + n - 12, ".safetensors")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) total += (long long)sb.st_size;
    }
    if (d) closedir(d);
    return total;
}

/* mkdir -p: 0, or errno. */
static int make_dirs(const char *dir) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return ENAMETOOLONG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) return errno;
        *s = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return errno;
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
}

/* What MODEL/config.json says the folder holds: 1 CLIP / Chinese-CLIP, 0 something else
 * (its name into what), -1 unreadable (message printed; the exit code into *rc). */
static int model_kind(const char *model, char *what, size_t wn, int *rc) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.json", model);
    cJSON *root = NULL;
    mmc_error err = {0};
    if (mmc_json_load(path, QZ_MAX_CONFIG_BYTES, 1, &root, &err)) {
        if (err.code == MMC_ERR_RUNTIME) err.code = MMC_ERR_INPUT; /* a missing file is bad input here */
        *rc = cli_error_from(&err);
        return -1;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type"), *tk = cJSON_GetObjectItemCaseSensitive(root, "task");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : NULL, *task = cJSON_IsString(tk) ? tk->valuestring : NULL;
    int clip = type && (!strcmp(type, "clip") || !strcmp(type, "chinese_clip"));
    if (!clip) {
        /* a retrieval run says "task": "retrieval", or (older runs) has embed_dim + tokenizer/query */
        int retrieval = (task && !strcmp(task, "retrieval")) ||
                        (!task && !type && cJSON_GetObjectItemCaseSensitive(root, "embed_dim") &&
                         (cJSON_GetObjectItemCaseSensitive(root, "tokenizer") || cJSON_GetObjectItemCaseSensitive(root, "query")));
        snprintf(what, wn, "%s", retrieval ? "retrieval" : task ? task : type ? type : "");
    }
    cJSON_Delete(root);
    return clip;
}

int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *type_name = "q8";
    int force = 0, type = MMC_QTYPE_Q8;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--force")) {
            force = 1;
        } else if (!strcmp(o, "--out") || !strcmp(o, "--type")) {
            if (!v || !*v) return cli_error(1, "quantize: %s needs a value (see: mmc help quantize)", o);
            i++;
            if (o[2] == 'o') {
                out = v;
            } else if (!strcmp(v, "q8") || !strcmp(v, "int8")) {
                type = MMC_QTYPE_Q8, type_name = "q8";
            } else if (!strcmp(v, "q4") || !strcmp(v, "int4")) {
                type = MMC_QTYPE_Q4, type_name = "q4";
            } else {
                return cli_error(1, "quantize: unknown --type '%s' (q8 or q4)", v);
            }
        } else if (o[0] == '-' && o[1]) {
            return cli_error(1, "quantize: unknown option '%s' (see: mmc help quantize)", o);
        } else if (!model) {
            model = o;
        } else {
            return cli_error(1, "quantize: one model at a time (got '%s' and '%s')", model, o);
        }
    }
    if (!model || !*model) return cli_error(1, "quantize: missing MODEL (usage: mmc quantize MODEL --out DIR [--type q8|q4])");
    if (!out) return cli_error(1, "quantize: missing --out DIR (the folder to write)");

    struct stat ms, os;
    if (stat(model, &ms) != 0) return cli_error(2, "%s: no such model folder", model);
    if (!S_ISDIR(ms.st_mode)) return cli_error(2, "%s: not a model folder (expected a Hugging Face CLIP / Chinese-CLIP folder)", model);
    int rc = 0;
    char what[64] = "";
    int kind = model_kind(model, what, sizeof what, &rc);
    if (kind < 0) return rc;
    if (!kind && !strcmp(what, "retrieval"))
        return cli_error(1, "quantize: %s is a retrieval run folder (from `mmc train retrieval`): writing it quantised is "
                         "not supported yet; run it int8 as it loads with --dtype int8 (mmc embed, search, zeroshot, serve)",
                         model);
    if (!kind && cli_task_find(what)) /* a run of another mmc task: a model, but not one this takes */
        return cli_error(1, "quantize: %s is a \"%s\" run folder; mmc quantize takes Hugging Face CLIP / Chinese-CLIP folders",
                         model, what);
    if (!kind && what[0])
        return cli_error(2, "%s/config.json: \"%s\" is not a CLIP model (expected \"model_type\" clip or chinese_clip)", model,
                         what);
    if (!kind)
        return cli_error(2, "%s/config.json: no \"model_type\" (expected clip or chinese_clip: a Hugging Face CLIP / "
                         "Chinese-CLIP folder)", model);

    if (stat(out, &os) == 0) {
        if (!S_ISDIR(os.st_mode)) return cli_error(1, "quantize: --out %s is a file, not a folder", out);
        if (os.st_dev == ms.st_dev && os.st_ino == ms.st_ino)
            return cli_error(1, "quantize: --out %s is the model folder itself; write the quantised copy elsewhere", out);
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/model.safetensors", out);
        if (!force && stat(p, &os) == 0)
            return cli_error(1, "quantize: %s already holds a model.safetensors (--force replaces it)", out);
    }
    char src_st[PATH_MAX + 32];
    snprintf(src_st, sizeof src_st, "%s/model.safetensors", model);
    qz_counts before;
    if (header_counts(src_st, &before) == 0 && (before.i8 || before.u8))
        return cli_error(1, "quantize: %s is already quantised (%d I8, %d U8 tensors: written by mmc quantize); "
                         "quantise the float model it came from", model, before.i8, before.u8);
    long long bytes_before = checkpoint_bytes(model);

    double t0 = mmc_now();
    mmc_error err = {0};
    mmc_clip_opts lo = {MMC_CLIP_STORAGE_AUTO, type};
    mmc_clip *m = mmc_clip_load_ex(model, &lo, &err);
    if (!m) return cli_error_from(&err);
    int e = make_dirs(out);
    if (e) rc = cli_error(3, "quantize: cannot create %s: %s", out, strerror(e));
    else if (mmc_clip_save(m, out, NULL, &err)) rc = cli_error_from(&err);
    int chinese = mmc_clip_is_chinese(m);
    mmc_clip_free(m);
    if (rc) return rc;
    double secs = mmc_now() - t0;

    char dst_st[PATH_MAX + 32];
    snprintf(dst_st, sizeof dst_st, "%s/model.safetensors", out);
    qz_counts after;
    struct stat ds;
    if (header_counts(dst_st, &after) != 0 || stat(dst_st, &ds) != 0)
        return cli_error(3, "quantize: %s was written but cannot be read back", dst_st);
    long long bytes_after = (long long)ds.st_size;
    int tensors = after.n - after.scales;
    printf("quantised %s (%s) to %s in %.2f s\n", model, chinese ? "chinese_clip" : "clip", type_name, secs);
    printf("  %d of %d tensors quantised: %d int8 (I8), %d int4 (U8), each with NAME_scale (F32); the rest F32\n",
           after.i8 + after.u8, tensors, after.i8, after.u8);
    printf("  weights on disk: %lld -> %lld bytes (%.2f MiB -> %.2f MiB, %.1f%%)\n", bytes_before, bytes_after,
           bytes_before / 1048576.0, bytes_after / 1048576.0, bytes_before > 0 ? 100.0 * bytes_after / bytes_before : 0.0);
    printf("  wrote %s (model.safetensors; config.json, tokenizer and preprocessor files copied)\n", out);
    return 0;
}

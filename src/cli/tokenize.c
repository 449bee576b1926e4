/* tokenize.c — `mmc tokenize --model M TEXT... [--json]`: the token ids a model sees for
 * each text, specials included and nothing truncated (so a long text shows how long it
 * is). M is a Hugging Face CLIP / Chinese-CLIP folder, or any folder of tokenizer files
 * (vocab.txt, tokenizer.json, vocab.json + merges.txt). Run folders of our own models are
 * not read yet: their config.json says so and we stop with a clear message. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* MMC_OK when dir/config.json is absent or a HF CLIP config; else MMC_ERR_INPUT saying what it is. */
static int check_config(const char *dir, mmc_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct stat sb;
    if (stat(path, &sb) != 0) return MMC_OK; /* tokenizer files alone */
    cJSON *root;
    if (mmc_json_load(path, (size_t)64 << 20, 1, &root, err)) {
        err->code = MMC_ERR_INPUT;
        return MMC_ERR_INPUT;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    int ok = cJSON_IsString(mt) && (!strcmp(mt->valuestring, "clip") || !strcmp(mt->valuestring, "chinese_clip"));
    int rc = MMC_OK;
    if (!ok)
        rc = mmc_error_set(err, MMC_ERR_INPUT,
                           "%s: not a Hugging Face CLIP / Chinese-CLIP config (model_type \"clip\" or "
                           "\"chinese_clip\"); tokenizing with a run folder is not supported yet", path);
    cJSON_Delete(root);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL;
    int json = 0, ntext = 0, opts_done = 0;
    const char **texts = calloc((size_t)argc, sizeof *texts);
    if (!texts) return cli_error(3, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && !strcmp(a, "--")) opts_done = 1;
        else if (!opts_done && !strcmp(a, "--json")) json = 1;
        else if (!opts_done && !strcmp(a, "--model")) {
            if (++i >= argc) { free(texts); return cli_error(1, "--model needs a folder"); }
            model = argv[i];
        } else if (!opts_done && !strncmp(a, "--model=", 8)) model = a + 8;
        else if (!opts_done && a[0] == '-' && a[1] == '-') {
            free(texts);
            return cli_error(1, "unknown option '%s' (see: mmc help tokenize; use -- before a text that starts with --)", a);
        } else texts[ntext++] = a;
    }
    if (!model) { free(texts); return cli_error(1, "--model M is required (see: mmc help tokenize)"); }
    if (!ntext) { free(texts); return cli_error(1, "no text to tokenize (see: mmc help tokenize)"); }
    mmc_error err = {0};
    mmc_tokenizer *tok = NULL;
    if (check_config(model, &err) || !(tok = mmc_tokenizer_load_dir(model, &err))) {
        free(texts);
        return cli_error_from(&err);
    }
    int rc = 0;
    for (int t = 0; t < ntext && !rc; t++) {
        int32_t *ids = NULL;
        int n = 0;
        if (mmc_tokenizer_encode(tok, texts[t], (size_t)-1, 1, 0, &ids, &n, &err)) {
            rc = cli_error_from(&err);
            break;
        }
        if (json) {
            putchar('[');
            for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
            puts("]");
        } else {
            printf("%s\n  %d tokens\n  ids:   ", texts[t], n);
            for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
            printf("\n  tokens:");
            for (int i = 0; i < n; i++) {
                const char *s = mmc_tokenizer_token(tok, ids[i]);
                printf(" %s", s ? s : "?");
            }
            putchar('\n');
        }
        mmc_free(ids);
    }
    mmc_tokenizer_free(tok);
    free(texts);
    return rc;
}

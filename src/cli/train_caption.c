/* train_caption.c — `mmc train caption --data DIR --out RUN [...]`. The loop is the
 * library's (mmc_caption_train); this file parses flags, prints progress through
 * cli_train_progress and turns Ctrl-C into "save a checkpoint and exit 130". */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int train_fn(void *arg, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_caption_train(arg, o, err); }

int cmd_train_caption(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *config = NULL, *lang = NULL, *decoder = NULL;
    int epochs = 0, steps = 0, threads = 0, val_max = 0, nbudget = 0, resume = 0, seed = 1;
    double minutes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--resume")) { resume = 1; continue; }
        int takes = !strcmp(a, "--data") || !strcmp(a, "--out") || !strcmp(a, "--config") || !strcmp(a, "--lang") ||
                    !strcmp(a, "--decoder") || !strcmp(a, "--epochs") || !strcmp(a, "--steps") || !strcmp(a, "--minutes") ||
                    !strcmp(a, "--seed") || !strcmp(a, "--threads") || !strcmp(a, "--val-max");
        if (!takes) return cli_error(1, "train caption: unknown option '%s' (see: mmc help train)", a);
        if (!v) return cli_error(1, "train caption: %s needs a value", a);
        i++;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--lang")) lang = v;
        else if (!strcmp(a, "--decoder")) decoder = v;
        else if (!strcmp(a, "--epochs")) { if (cli_parse_int(v, 1, 1000000, &epochs)) return cli_error(1, "train caption: --epochs needs an integer in 1..1000000, got '%s'", v); nbudget++; }
        else if (!strcmp(a, "--steps")) { if (cli_parse_int(v, 1, 1000000000, &steps)) return cli_error(1, "train caption: --steps needs an integer in 1..1000000000, got '%s'", v); nbudget++; }
        else if (!strcmp(a, "--seed")) { if (cli_parse_int(v, 0, 2147483647, &seed)) return cli_error(1, "train caption: --seed needs an integer in 0..2147483647, got '%s'", v); }
        else if (!strcmp(a, "--threads")) { if (cli_parse_int(v, 1, 1024, &threads)) return cli_error(1, "train caption: --threads needs an integer in 1..1024, got '%s'", v); }
        else if (!strcmp(a, "--val-max")) { if (cli_parse_int(v, 0, 1000000000, &val_max)) return cli_error(1, "train caption: --val-max needs an integer >= 0, got '%s'", v); }
        else {
            char *end = NULL;
            minutes = strtod(v, &end);
            if (!end || *end || end == v || !(minutes > 0) || minutes > 1e6)
                return cli_error(1, "train caption: --minutes needs a positive number, got '%s'", v);
            nbudget++;
        }
    }
    if (!data) return cli_error(1, "train caption: --data DIR is required");
    if (!out) return cli_error(1, "train caption: --out RUN is required");
    if (nbudget > 1) return cli_error(1, "train caption: give at most one of --epochs, --steps, --minutes");
    if (lang && strcmp(lang, "en") && strcmp(lang, "zh")) return cli_error(1, "train caption: --lang must be en or zh, got '%s'", lang);
    if (decoder && strcmp(decoder, "transformer") && strcmp(decoder, "attention") && strcmp(decoder, "lstm") && strcmp(decoder, "gru"))
        return cli_error(1, "train caption: --decoder must be transformer, attention, lstm or gru, got '%s'", decoder);
    if (resume && (config || lang || decoder))
        return cli_error(1, "train caption: --resume takes the model and its settings from %s/config.json; drop --config/--lang/--decoder", out);
    if (threads > 0) mmc_set_threads(threads);

    mmc_error err = {0};
    mmc_caption_config cfg = mmc_caption_config_default();
    if (config && mmc_caption_config_load(&cfg, config, &err)) return cli_error_from(&err);
    if (lang) snprintf(cfg.lang, sizeof cfg.lang, "%s", lang); /* flags override the file */
    if (decoder) snprintf(cfg.decoder, sizeof cfg.decoder, "%s", decoder);

    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data;
    o.run_dir = out;
    o.epochs = epochs;
    o.steps = steps;
    o.minutes = minutes;
    o.seed = (uint64_t)seed;
    o.resume = resume;
    o.val_max_images = val_max;
    return cli_train_run(train_fn, &cfg, &o);
}

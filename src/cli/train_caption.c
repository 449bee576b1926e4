/* train_caption.c — `mmc train caption --data DIR --out RUN [...]`. The loop is the
 * library's (mmc_caption_train); this file parses flags, prints progress through
 * cli_train_progress and turns Ctrl-C into "save a checkpoint and exit 130". */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static int train_fn(void *arg, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_caption_train(arg, o, err); }

int cmd_train_caption(int argc, char **argv) {
    cli_train_flags f = cli_train_flags_init("caption");
    const char *v[2] = {NULL, NULL}, *lang, *decoder;
    int video = 0;
    mmc_retrieval_train_opts o;
    if (cli_train_parse(&f, argc, argv, (const char *const[]){"--lang", "--decoder", NULL}, v, (const char *const[]){"--video", NULL},
                        &video, &o))
        return 1;
    lang = v[0], decoder = v[1];
    if (lang && strcmp(lang, "en") && strcmp(lang, "zh")) return cli_error(1, "train caption: --lang must be en or zh, got '%s'", lang);
    if (decoder && strcmp(decoder, "transformer") && strcmp(decoder, "attention") && strcmp(decoder, "lstm") && strcmp(decoder, "gru"))
        return cli_error(1, "train caption: --decoder must be transformer, attention, lstm or gru, got '%s'", decoder);
    if (f.resume && (f.config || lang || decoder || video))
        return cli_error(1, "train caption: --resume takes the model and its settings from %s/config.json; drop "
                         "--config/--lang/--decoder/--video", f.out);

    mmc_error err = {0};
    mmc_caption_config cfg = mmc_caption_config_default();
    if (f.config && mmc_caption_config_load(&cfg, f.config, &err)) return cli_error_from(&err);
    if (lang) snprintf(cfg.lang, sizeof cfg.lang, "%s", lang); /* flags override the file */
    if (decoder) snprintf(cfg.decoder, sizeof cfg.decoder, "%s", decoder);
    if (video) snprintf(cfg.target, sizeof cfg.target, "video"); /* a summary sentence per clip */
    return cli_train_run(train_fn, &cfg, &o);
}

/* train_vqa.c — `mmc train vqa|classify --data DIR --out RUN [--fusion F] ...`: flags in,
 * progress out; the loop is mmc_vqa_train (src/models/vqa_train.c). Ctrl-C saves a
 * checkpoint and exits 130 (continue with --resume). */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static int train_fn(void *arg, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_vqa_train(arg, o, err); }

int cmd_train_vqa(int argc, char **argv) {
    const char *task = argv[0]; /* "vqa" or "classify" */
    int classify = !strcmp(task, "classify");
    cli_train_flags f = cli_train_flags_init(task);
    f.val_max = 500;
    const char *v[4] = {NULL, NULL, NULL, NULL};
    int sw[2] = {0, 0}; /* --blind, --video */
    mmc_retrieval_train_opts o;
    if (cli_train_parse(&f, argc, argv, (const char *const[]){"--fusion", "--combine", "--task", "--inputs", NULL}, v,
                        (const char *const[]){"--blind", "--video", NULL}, sw, &o))
        return 1;
    int blind = sw[0], video = sw[1];
    const char *fusion = v[0], *combine = v[1], *source = v[2], *inputs = v[3];
    /* --inputs (classify): video,audio = a clip's frames and its sound track, fused;
     * audio = the sound alone (fusion none); video = the frames alone (late, no query) */
    const char *query = NULL;
    if (inputs) {
        if (!classify) return cli_error(1, "train vqa: --inputs is for classify (video,audio, video or audio)");
        if (!strcmp(inputs, "video,audio") || !strcmp(inputs, "audio,video")) query = "audio", video = 1;
        else if (!strcmp(inputs, "audio")) {
            if (fusion && strcmp(fusion, "none")) return cli_error(1, "train classify: --inputs audio uses no frames (fusion none); drop --fusion %s", fusion);
            query = "audio", fusion = "none", video = 1;
        } else if (!strcmp(inputs, "video")) {
            if (fusion && strcmp(fusion, "late")) return cli_error(1, "train classify: --inputs video has nothing to fuse (fusion late, the frames alone); drop --fusion %s", fusion);
            query = "none", fusion = "late", video = 1;
        } else return cli_error(1, "train classify: --inputs must be video,audio, video or audio (got '%s')", inputs);
        if (source && strcmp(source, "label")) return cli_error(1, "train classify: --inputs classifies by label, not --task %s", source);
        if (blind) return cli_error(1, "train classify: --blind is for captions; with --inputs, --inputs audio is the sound alone");
    }
    if (blind && fusion && strcmp(fusion, "none")) return cli_error(1, "train %s: --blind is --fusion none; drop --fusion %s", task, fusion);
    if (blind) fusion = "none";
    static const char *const fusions[] = {"early", "late", "hybrid", "joint", "none"};
    static const char *const combines[] = {"concat", "sum", "product", "bilinear", "logits", "attention"};
    int ok = !fusion;
    for (int i = 0; fusion && i < 5; i++) ok |= !strcmp(fusion, fusions[i]);
    if (!ok) return cli_error(1, "train %s: --fusion must be early, late, hybrid, joint or none, got '%s'", task, fusion);
    ok = !combine;
    for (int i = 0; combine && i < 6; i++) ok |= !strcmp(combine, combines[i]);
    if (!ok)
        return cli_error(1, "train %s: --combine must be concat, sum, product, bilinear, logits or attention, got '%s'", task, combine);
    if (combine && fusion && strcmp(fusion, "late"))
        return cli_error(1, "train %s: --combine is for --fusion late (got --fusion %s)", task, fusion);
    if (source && !classify) return cli_error(1, "train vqa: --task is for classify (label or match)");
    if (source && strcmp(source, "label") && strcmp(source, "match"))
        return cli_error(1, "train classify: --task must be label or match, got '%s'", source);
    if (f.resume && (f.config || fusion || combine || source || video || inputs))
        return cli_error(1, "train %s: --resume takes the model and its settings from %s/config.json; drop "
                         "--config/--fusion/--combine/--task/--video/--inputs", task, f.out);

    mmc_error err = {0};
    /* --combine alone means late fusion, with late's defaults */
    mmc_vqa_config cfg = mmc_vqa_config_default(task, fusion ? fusion : combine ? "late" : NULL);
    if (f.config && mmc_vqa_config_load(&cfg, f.config, &err)) return cli_error_from(&err);
    /* flags override the file */
    snprintf(cfg.task, sizeof cfg.task, "%s", task);
    if (fusion) snprintf(cfg.fusion, sizeof cfg.fusion, "%s", fusion);
    if (combine) {
        snprintf(cfg.fusion, sizeof cfg.fusion, "late");
        snprintf(cfg.combine, sizeof cfg.combine, "%s", combine);
    }
    if (source) snprintf(cfg.source, sizeof cfg.source, "%s", source);
    if (video) snprintf(cfg.target, sizeof cfg.target, "video"); /* questions about clips */
    if (query) snprintf(cfg.query, sizeof cfg.query, "%s", query);
    if (mmc_vqa_config_check(&cfg, f.config ? f.config : "config", &err)) return cli_error_from(&err);

    return cli_train_run(train_fn, &cfg, &o);
}

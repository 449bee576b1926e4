/* train_vqa.c — `mmc train vqa|classify --data DIR --out RUN [--fusion F] ...`: flags in,
 * progress out; the loop is mmc_vqa_train (src/models/vqa_train.c). Ctrl-C saves a
 * checkpoint and exits 130 (continue with --resume). */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_ll(const char *flag, const char *v, long long lo, long long hi, long long *out) {
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v || x < lo || x > hi)
        return cli_error(1, "train: %s needs an integer in %lld..%lld, got '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

static int train_fn(void *arg, const mmc_retrieval_train_opts *o, mmc_error *err) { return mmc_vqa_train(arg, o, err); }

int cmd_train_vqa(int argc, char **argv) {
    const char *task = argv[0]; /* "vqa" or "classify" */
    int classify = !strcmp(task, "classify");
    const char *data = NULL, *out = NULL, *config = NULL, *fusion = NULL, *combine = NULL, *source = NULL;
    long long epochs = 0, steps = 0, threads = 0, seed = 1, val_max = 500;
    double minutes = 0;
    int resume = 0, nbudget = 0, blind = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--resume")) { resume = 1; continue; }
        if (!strcmp(a, "--blind")) { blind = 1; continue; }
        int takes = !strcmp(a, "--data") || !strcmp(a, "--out") || !strcmp(a, "--config") || !strcmp(a, "--fusion") ||
                    !strcmp(a, "--combine") || !strcmp(a, "--task") || !strcmp(a, "--epochs") || !strcmp(a, "--steps") ||
                    !strcmp(a, "--minutes") || !strcmp(a, "--seed") || !strcmp(a, "--threads") || !strcmp(a, "--val-max");
        if (!takes) return cli_error(1, "train %s: unknown option '%s' (see: mmc help train)", task, a);
        if (!v) return cli_error(1, "train %s: %s needs a value", task, a);
        i++;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--fusion")) fusion = v;
        else if (!strcmp(a, "--combine")) combine = v;
        else if (!strcmp(a, "--task")) source = v;
        else if (!strcmp(a, "--epochs")) { if (parse_ll(a, v, 1, 1000000, &epochs)) return 1; nbudget++; }
        else if (!strcmp(a, "--steps")) { if (parse_ll(a, v, 1, 1000000000, &steps)) return 1; nbudget++; }
        else if (!strcmp(a, "--seed")) { if (parse_ll(a, v, 0, (long long)(~0ull >> 1), &seed)) return 1; }
        else if (!strcmp(a, "--threads")) { if (parse_ll(a, v, 1, 1024, &threads)) return 1; }
        else if (!strcmp(a, "--val-max")) { if (parse_ll(a, v, 0, 1000000000, &val_max)) return 1; }
        else {
            char *end = NULL;
            minutes = strtod(v, &end);
            if (!end || *end || end == v || !(minutes > 0) || minutes > 1e6)
                return cli_error(1, "train %s: --minutes needs a positive number, got '%s'", task, v);
            nbudget++;
        }
    }
    if (!data) return cli_error(1, "train %s: --data DIR is required", task);
    if (!out) return cli_error(1, "train %s: --out RUN is required", task);
    if (nbudget > 1) return cli_error(1, "train %s: give at most one of --epochs, --steps, --minutes", task);
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
    if (resume && (config || fusion || combine || source))
        return cli_error(1, "train %s: --resume takes the model and its settings from %s/config.json; drop --config/--fusion/--combine/--task",
                         task, out);
    if (threads > 0) mmc_set_threads((int)threads);

    mmc_error err = {0};
    /* --combine alone means late fusion, with late's defaults */
    mmc_vqa_config cfg = mmc_vqa_config_default(task, fusion ? fusion : combine ? "late" : NULL);
    if (config && mmc_vqa_config_load(&cfg, config, &err)) return cli_error_from(&err);
    /* flags override the file */
    snprintf(cfg.task, sizeof cfg.task, "%s", task);
    if (fusion) snprintf(cfg.fusion, sizeof cfg.fusion, "%s", fusion);
    if (combine) {
        snprintf(cfg.fusion, sizeof cfg.fusion, "late");
        snprintf(cfg.combine, sizeof cfg.combine, "%s", combine);
    }
    if (source) snprintf(cfg.source, sizeof cfg.source, "%s", source);
    if (mmc_vqa_config_check(&cfg, config ? config : "config", &err)) return cli_error_from(&err);

    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    o.data_dir = data;
    o.run_dir = out;
    o.epochs = (int)epochs;
    o.steps = steps;
    o.minutes = minutes;
    o.seed = (uint64_t)seed;
    o.resume = resume;
    o.val_max_images = (int)val_max;
    return cli_train_run(train_fn, &cfg, &o);
}

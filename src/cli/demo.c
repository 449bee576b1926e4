/* demo.c — `mmc demo`: the main job, end to end on the built-in shapes world.
 *
 * Nothing is downloaded. The stages below run in order in one work folder (default demo/):
 * generate the shapes world, train and evaluate models on it, show what they do on test
 * images, and write OUT/report.html (a metrics table, training curves as inline SVG,
 * examples with their images inlined) whose path is the last line printed. Each stage is
 * a function of demo.h: data, retrieval (English and Chinese), captioning, VQA, video,
 * audio (spoken captions that find their scene).
 *
 * Sizes are fixed (4000/200/200 scenes of 64 px, a fixed number of steps per model) so a
 * run is deterministic for a thread count and fits the time budget of the issue: the whole
 * demo in under 10 minutes on 2 idle cores (docs/results.md, "The demo", has measured
 * stage times). */
#include "demo.h"
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct demo_stage {
    const char *name, *what;
    int (*run)(demo_ctx *d);
    int enabled; /* 0: declared, not run yet */
} demo_stage;

static const demo_stage STAGES[] = {
    {"data", "the shapes world", demo_stage_data, 1},
    {"retrieval", "text-to-image retrieval in English and Chinese", demo_stage_retrieval, 1},
    {"caption", "image captioning", demo_stage_caption, 1},
    {"vqa", "visual question answering", demo_stage_vqa, 1},
    {"video", "video: text-to-video search, video summaries and video QA", demo_stage_video, 1},
    {"audio", "speech: spoken captions that find their scene (以声搜图)", demo_stage_audio, 1},
};
enum { NSTAGES = sizeof STAGES / sizeof STAGES[0] };

/* ----------------------------------------------------------------- helpers */

const char *demo_path(const demo_ctx *d, const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", d->out, name);
    return buf;
}

const char *demo_image_path(const mmc_manifest *m, const mmc_sample *s, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", m->dir, s->image);
    return buf;
}

int demo_metric(demo_ctx *d, const char *task, const char *model, const char *metric, const char *fmt, ...) {
    char value[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    mmc_error err = {0};
    const char *row[4] = {task, model, metric, value};
    if (mmc_report_table_row(d->report, d->metrics_table, row, &err)) return cli_error_from(&err);
    return 0;
}

int demo_chart_runs(demo_ctx *d, const char *title, const char *y_label, const char *y_key, int n,
                    const char *const *names, const char *const *run_dirs) {
    mmc_error err = {0};
    int c = mmc_report_chart(d->report, title, "step", y_label, &err);
    if (c < 0) return cli_error_from(&err);
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/metrics.jsonl", run_dirs[i]);
        if (mmc_report_series_jsonl(d->report, c, names[i], path, "step", y_key, NULL, &err)) return cli_error_from(&err);
    }
    return 0;
}

int demo_progress(const demo_ctx *d, cli_train_progress_state *p) {
    p->tty = d->tty;
    p->last_print = 0;
    return d->tty ? 1 : 10;
}

int demo_interrupted(const demo_ctx *d, const char *run_dir, const char *resume_cmd) {
    (void)d;
    if (run_dir) fprintf(stderr, "mmc: interrupted; checkpoint saved in %s\n", run_dir);
    else fprintf(stderr, "mmc: interrupted\n");
    if (resume_cmd) fprintf(stderr, "mmc: continue that model with: %s\n", resume_cmd);
    fprintf(stderr, "mmc: or run `mmc demo` again to start over\n");
    return 130;
}

int demo_train(demo_ctx *d, const char *task, const char *run, int64_t steps, demo_train_fn train, const void *cfg) {
    mmc_retrieval_train_opts o = mmc_retrieval_train_defaults();
    const char *data = d->train_data ? d->train_data : d->data_dir;
    o.data_dir = data;
    o.run_dir = run;
    o.steps = steps;
    o.seed = d->seed;
    o.interrupt = d->interrupt;
    cli_train_progress_state p;
    o.log_every = demo_progress(d, &p);
    o.callback = cli_train_progress;
    o.user = &p;
    mmc_error err = {0};
    int rc = train(cfg, &o, &err);
    if (rc == MMC_TRAIN_INTERRUPTED) {
        char cmd[17000];
        snprintf(cmd, sizeof cmd, "mmc train %s --data %s --out %s --steps %lld --seed %llu --resume", task, data, run,
                 (long long)steps, (unsigned long long)d->seed);
        return demo_interrupted(d, run, cmd);
    }
    return rc ? cli_error_from(&err) : 0;
}

const mmc_manifest *demo_test_split(demo_ctx *d) {
    if (d->test) return d->test;
    mmc_error err = {0};
    d->test = mmc_manifest_load(d->data_dir, "test", &err);
    if (!d->test) cli_error_from(&err);
    return d->test;
}

/* mkdir -p for a relative or absolute path. */
static int make_dirs(const char *path) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return cli_error(1, "demo: --out path too long");
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        int end = *p == 0;
        if (*p == '/' || end) {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return cli_error(2, "demo: cannot create folder '%s': %s", buf, strerror(errno));
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return cli_error(2, "demo: '%s' is not a folder", buf);
            if (end) break;
            *p = '/';
        }
    }
    return 0;
}

static void fmt_duration(double s, char *buf, size_t n) {
    int t = (int)(s + 0.5);
    if (t >= 60) snprintf(buf, n, "%dm%02ds", t / 60, t % 60);
    else snprintf(buf, n, "%.1fs", s);
}

/* -------------------------------------------------------------------- main */

int cmd_demo(int argc, char **argv) {
    demo_ctx D, *d = &D;
    memset(d, 0, sizeof D);
    d->out = "demo";
    d->data_seed = 7;
    d->seed = 1;
    const char *screenshot = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) { d->quick = 1; continue; }
        int takes = !strcmp(a, "--out") || !strcmp(a, "--threads") || !strcmp(a, "--steps") || !strcmp(a, "--check-screenshot");
        if (!takes) return cli_error(1, "demo: unknown option '%s' (see: mmc help demo)", a);
        if (!v) return cli_error(1, "demo: %s needs a value", a);
        i++;
        int x = 0;
        if (!strcmp(a, "--out")) d->out = v;
        else if (!strcmp(a, "--check-screenshot")) screenshot = v;
        else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(v, 1, 1024, &x)) return cli_error(1, "demo: --threads needs an integer in 1..1024, got '%s'", v);
            threads = x;
        } else {
            if (cli_parse_int(v, 1, 1000000, &x)) return cli_error(1, "demo: --steps needs an integer in 1..1000000, got '%s'", v);
            d->steps = x;
        }
    }
    if (screenshot) return demo_check_screenshot(screenshot);
    if (!d->out[0]) return cli_error(1, "demo: --out needs a folder name");
    if (threads > 0) mmc_set_threads(threads);
    if (d->quick) { d->n_train = 128; d->n_val = 16; d->n_test = 32; d->image_size = 32; }
    else { d->n_train = 4000; d->n_val = 200; d->n_test = 200; d->image_size = 64; }
    int rc = make_dirs(d->out);
    if (rc) return rc;
    demo_path(d, "data", d->data_dir, sizeof d->data_dir);
    d->tty = isatty(STDOUT_FILENO);

    mmc_error err = {0};
    d->report = mmc_report_new("mmc demo: multimodal models on the shapes world", &err);
    if (!d->report) return cli_error_from(&err);
    int n_enabled = 0;
    for (int s = 0; s < NSTAGES; s++) n_enabled += STAGES[s].enabled;
    char intro[1024];
    snprintf(intro, sizeof intro,
             "Everything here was made on this machine by `mmc demo`, with nothing downloaded: the built-in shapes world "
             "(%d training, %d validation and %d test scenes of %d px with English and Chinese captions), then models "
             "trained on it for a fixed number of steps with %d threads, evaluated on the test scenes and shown at work.",
             d->n_train, d->n_val, d->n_test, d->image_size, mmc_get_threads());
    rc = mmc_report_text(d->report, intro, &err);
    if (!rc) rc = mmc_report_heading(d->report, "Metrics (test split)", &err);
    if (!rc) {
        d->metrics_table = mmc_report_table(d->report, "", 4, (const char *[]){"task", "model", "metric", "value"}, &err);
        if (d->metrics_table < 0) rc = err.code;
    }
    if (rc) { mmc_report_free(d->report); return cli_error_from(&err); }

    printf("mmc demo: the built-in shapes world, nothing downloaded; work folder %s/, %d threads%s\n", d->out, mmc_get_threads(),
           d->quick ? " (quick: tiny sizes, the models learn little)" : "");
    fflush(stdout);
    d->interrupt = cli_train_sigint_install();
    double t0 = mmc_now(), took[NSTAGES] = {0};
    int k = 0;
    for (int s = 0; s < NSTAGES && !rc; s++) {
        if (!STAGES[s].enabled) continue;
        printf("\n[%d/%d] %s\n", ++k, n_enabled, STAGES[s].what);
        fflush(stdout);
        double ts = mmc_now();
        rc = STAGES[s].run(d);
        took[s] = mmc_now() - ts;
        if (!rc && *d->interrupt) rc = demo_interrupted(d, NULL, NULL);
    }
    cli_train_sigint_restore();
    if (!rc) {
        char line[1024], dur[32];
        size_t len = 0;
        fmt_duration(mmc_now() - t0, dur, sizeof dur);
        len += (size_t)snprintf(line + len, sizeof line - len, "The demo took %s with %d threads:", dur, mmc_get_threads());
        for (int s = 0; s < NSTAGES && len < sizeof line; s++) {
            if (!STAGES[s].enabled) continue;
            fmt_duration(took[s], dur, sizeof dur);
            len += (size_t)snprintf(line + len, sizeof line - len, " %s %s;", STAGES[s].name, dur);
        }
        if (len > 0 && len < sizeof line && line[len - 1] == ';') line[len - 1] = '.';
        char path[4200];
        demo_path(d, "report.html", path, sizeof path);
        if (mmc_report_text(d->report, line, &err) || mmc_report_write(d->report, path, &err)) rc = cli_error_from(&err);
        if (!rc) {
            char abs[PATH_MAX];
            printf("\n%s\nreport: %s\n", line, realpath(path, abs) ? abs : path);
        }
    }
    mmc_manifest_free(d->test);
    mmc_report_free(d->report);
    return rc;
}

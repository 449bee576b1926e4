/* train.c — `mmc train TASK ...`: retrieval (and CLIP fine-tuning with --init) here;
 * caption (train_caption.c), vqa and classify (train_vqa.c) have their own flags. The
 * loop lives in the library (src/models/train_loop.c); this file parses flags, prints
 * progress (a bar on a TTY, plain lines every ~10 s otherwise) and turns Ctrl-C into
 * "save a checkpoint and exit 130" for every task (cli_train_run). */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int g_interrupt = 0;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the process at once */
}

volatile int *cli_train_sigint_install(void) {
    g_interrupt = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    return &g_interrupt;
}

void cli_train_sigint_restore(void) { signal(SIGINT, SIG_DFL); }

int cli_train_run(cli_train_fn train, void *arg, mmc_retrieval_train_opts *o) {
    mmc_error err = {0};
    o->interrupt = cli_train_sigint_install();
    cli_train_progress_state p = {isatty(STDOUT_FILENO), 0, 0, 0};
    o->callback = cli_train_progress;
    o->user = &p;
    o->log_every = p.tty ? 1 : 10;
    int rc = train(arg, o, &err);
    cli_train_sigint_restore();
    if (rc == MMC_TRAIN_INTERRUPTED) {
        fprintf(stderr, "mmc: interrupted; checkpoint saved in %s (continue with --resume)\n", o->run_dir);
        return 130;
    }
    return rc ? cli_error_from(&err) : 0;
}

typedef struct clip_args {
    const char *init;
    mmc_clip_train_config cfg;
} clip_args;

static int train_clip(void *arg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    clip_args *a = arg;
    return mmc_clip_train(a->init, &a->cfg, o, err);
}

static int train_retrieval(void *arg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    return mmc_retrieval_train(arg, o, err);
}

/* A CLIP fine-tuning run folder (finetune.json beside the hub files). */
static int is_finetune_run(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/finetune.json", dir);
    return access(path, F_OK) == 0;
}


static void fmt_time(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) { snprintf(buf, n, "?"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%dh%02dm", t / 3600, t / 60 % 60);
    else snprintf(buf, n, "%dm%02ds", t / 60, t % 60);
}

/* Test-only (tests/cli/sigint_resume.cmake, demo.cmake): MMC_TEST_SIGINT_AT_STEP=N makes the
 * first STEP event at or after step N raise SIGINT in this process, once, so the real
 * Ctrl-C path (handler, flag, checkpoint, exit 130) runs at a known step. STEP events come
 * at step 1 and every log_every steps. Not for users. */
static void test_sigint_hook(const mmc_train_event *ev) {
    static int state = -1; /* -1 unread, 0 off or fired, 1 armed */
    static long long at = 0;
    if (state < 0) {
        const char *v = getenv("MMC_TEST_SIGINT_AT_STEP");
        at = v && *v ? strtoll(v, NULL, 10) : 0;
        state = at > 0;
    }
    if (state == 1 && ev->kind == MMC_TRAIN_EV_STEP && ev->step >= at) {
        state = 0;
        raise(SIGINT);
    }
}

void cli_train_progress(void *user, const mmc_train_event *ev) {
    cli_train_progress_state *p = user;
    char eta[32], el[32];
    test_sigint_hook(ev);
    switch (ev->kind) {
    case MMC_TRAIN_EV_START:
    case MMC_TRAIN_EV_END:
    case MMC_TRAIN_EV_SAVE:
        if (p->tty && ev->kind != MMC_TRAIN_EV_START) printf("\r\033[K");
        if (ev->kind != MMC_TRAIN_EV_SAVE || !p->tty) printf("%s\n", ev->message);
        if (ev->kind == MMC_TRAIN_EV_START && ev->message && strstr(ev->message, "retrieval: ")) {
            p->video = strstr(ev->message, " parameters, video ") != NULL;
            p->audio = !strstr(ev->message, " spoken captions of ") ? 0 : strstr(ev->message, ", target text,") ? 2 : 1;
        }
        break;
    case MMC_TRAIN_EV_STEP: {
        fmt_time(ev->eta_s, eta, sizeof eta);
        fmt_time(ev->elapsed_s, el, sizeof el);
        double frac = ev->total_steps > 0 ? (double)ev->step / ev->total_steps
                                         : (ev->elapsed_s + ev->eta_s > 0 ? ev->elapsed_s / (ev->elapsed_s + ev->eta_s) : 0);
        frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
        if (p->tty) {
            char bar[31];
            int fill = (int)(frac * 30);
            for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
            bar[30] = 0;
            printf("\r\033[K[%s] %3.0f%% step %lld", bar, 100 * frac, (long long)ev->step);
            if (ev->total_steps > 0) printf("/%lld", (long long)ev->total_steps);
            printf(" ep %d  loss %.4f  %.0f samples/s  lr %.2e", ev->epoch, ev->loss_avg, ev->pairs_per_s, ev->lr);
            if (ev->temperature > 0) printf("  T %.3f", ev->temperature); /* InfoNCE only */
            printf("  %s elapsed, ETA %s", el, eta);
        } else {
            double now = mmc_now();
            if (ev->step > 1 && now - p->last_print < 10.0) break;
            p->last_print = now;
            printf("step %lld", (long long)ev->step);
            if (ev->total_steps > 0) printf("/%lld", (long long)ev->total_steps);
            printf("  epoch %d  loss %.4f  %.0f samples/s  lr %.2e", ev->epoch, ev->loss_avg, ev->pairs_per_s, ev->lr);
            if (ev->temperature > 0) printf("  temperature %.4f", ev->temperature);
            printf("  elapsed %s  eta %s\n", el, eta);
        }
        break;
    }
    case MMC_TRAIN_EV_VAL: {
        const mmc_retrieval_metrics *v = ev->val;
        if (p->tty) printf("\r\033[K");
        if (!v) {
            printf("val after step %lld: %s%s\n", (long long)ev->step, ev->val_line ? ev->val_line : "",
                   ev->is_best ? "  (best so far: model-best.safetensors)" : "");
            break;
        }
        const char *tg = p->video ? "video" : p->audio == 2 ? "text" : "image", *q = p->audio ? "audio" : "text";
        printf("val after step %lld: %s->%s R@1 %.3f R@5 %.3f R@10 %.3f (median rank %g), %s->%s R@1 %.3f R@5 %.3f R@10 %.3f, rsum %.1f%s\n",
               (long long)ev->step, q, tg, v->t2i.r1, v->t2i.r5, v->t2i.r10, v->t2i.median_rank, tg, q, v->i2t.r1, v->i2t.r5, v->i2t.r10, v->rsum,
               ev->is_best ? "  (best so far: model-best.safetensors)" : "");
        break;
    }
    }
    fflush(stdout);
}

static int parse_ll(const cli_train_flags *f, const char *flag, const char *v, long long lo, long long hi, long long *out) {
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v || x < lo || x > hi)
        return cli_error(1, "train %s: %s needs an integer in %lld..%lld, got '%s'", f->task, flag, lo, hi, v);
    *out = x;
    return 0;
}

cli_train_flags cli_train_flags_init(const char *task) {
    cli_train_flags f = {0};
    f.task = task;
    f.seed = 1;
    return f;
}

static int shared_flag(cli_train_flags *f, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "--resume")) return f->resume = 1;
    static const char *const takes[] = {"--data", "--out", "--config", "--epochs", "--steps", "--minutes", "--seed", "--threads", "--val-max"};
    int k = 0;
    while (k < 9 && strcmp(a, takes[k])) k++;
    if (k == 9) return 0;
    if (*i + 1 >= argc) return cli_error(1, "train %s: %s needs a value", f->task, a), -1;
    const char *v = argv[++*i];
    int bad = 0;
    switch (k) {
    case 0: f->data = v; break;
    case 1: f->out = v; break;
    case 2: f->config = v; break;
    case 3: bad = parse_ll(f, a, v, 1, 1000000, &f->epochs), f->nbudget++; break;
    case 4: bad = parse_ll(f, a, v, 1, 1000000000, &f->steps), f->nbudget++; break;
    case 5: {
        char *end = NULL;
        f->minutes = strtod(v, &end);
        if (!end || *end || end == v || !(f->minutes > 0) || f->minutes > 1e6)
            bad = cli_error(1, "train %s: --minutes needs a positive number, got '%s'", f->task, v);
        f->nbudget++;
        break;
    }
    case 6: bad = parse_ll(f, a, v, 0, (long long)(~0ull >> 1), &f->seed); break;
    case 7: bad = parse_ll(f, a, v, 1, 1024, &f->threads); break;
    default: bad = parse_ll(f, a, v, 0, 1000000000, &f->val_max); break;
    }
    return bad ? -1 : 1;
}

static int index_of(const char *const *names, const char *a) {
    for (int k = 0; names && names[k]; k++)
        if (!strcmp(names[k], a)) return k;
    return -1;
}

int cli_train_parse(cli_train_flags *f, int argc, char **argv, const char *const *own, const char **vals,
                    const char *const *switches, int *on, mmc_retrieval_train_opts *o) {
    for (int i = 1; i < argc; i++) {
        int r = shared_flag(f, argc, argv, &i), k;
        if (r < 0) return 1;
        if (r) continue;
        if ((k = index_of(switches, argv[i])) >= 0) on[k] = 1;
        else if ((k = index_of(own, argv[i])) < 0) return cli_error(1, "train %s: unknown option '%s' (see: mmc help train)", f->task, argv[i]);
        else if (i + 1 >= argc) return cli_error(1, "train %s: %s needs a value", f->task, argv[i]);
        else vals[k] = argv[++i];
    }
    if (!f->data) return cli_error(1, "train %s: --data DIR is required", f->task);
    if (!f->out) return cli_error(1, "train %s: --out RUN is required", f->task);
    if (f->nbudget > 1) return cli_error(1, "train %s: give at most one of --epochs, --steps, --minutes", f->task);
    if (f->threads > 0) mmc_set_threads((int)f->threads);
    *o = mmc_retrieval_train_defaults();
    o->data_dir = f->data;
    o->run_dir = f->out;
    o->epochs = (int)f->epochs;
    o->steps = f->steps;
    o->minutes = f->minutes;
    o->seed = (uint64_t)f->seed;
    o->resume = f->resume;
    o->val_max_images = (int)f->val_max;
    return 0;
}

int cmd_train(int argc, char **argv) {
    if (argc < 2) return cli_error(1, "train: which task? usage: mmc train retrieval --data DIR --out RUN ... (see: mmc help train)");
    const cli_task *t = cli_task_find(argv[1]);
    if (!t) return cli_error(1, "train: unknown task '%s' (available: %s)", argv[1], cli_task_names());
    return t->train(argc - 1, argv + 1);
}

int cmd_train_retrieval(int argc, char **argv) {
    cli_train_flags f = cli_train_flags_init("retrieval");
    const char *v[3] = {NULL, NULL, NULL}, *lang, *init, *pair;
    mmc_retrieval_train_opts o;
    if (cli_train_parse(&f, argc, argv, (const char *const[]){"--lang", "--init", "--pair", NULL}, v, NULL, NULL, &o)) return 1;
    lang = v[0], init = v[1], pair = v[2];
    if (pair && strcmp(pair, "text:image") && strcmp(pair, "text:video") && strcmp(pair, "audio:image") && strcmp(pair, "audio:text"))
        return cli_error(1, "train: --pair must be text:image, text:video, audio:image or audio:text, got '%s'", pair);
    if (pair && (f.resume || init))
        return cli_error(1, "train: --pair is for a new retrieval run (a resumed run keeps its config.json's \"target\"; --init "
                         "fine-tunes CLIP on images)");
    if (lang && strcmp(lang, "en") && strcmp(lang, "zh")) return cli_error(1, "train: --lang must be en or zh, got '%s'", lang);
    if (f.resume && (f.config || lang))
        return cli_error(1, "train: --resume takes the model and its settings from %s/config.json; drop --config/--lang", f.out);
    if (init && (f.config || f.resume))
        return cli_error(1, "train: --init fine-tunes a Hugging Face CLIP folder; --config does not apply to it, and a fine-tuning "
                         "run continues with --resume without --init");
    if (init || (f.resume && is_finetune_run(f.out))) {
        clip_args a = {init, mmc_clip_train_config_default()};
        if (lang) snprintf(a.cfg.lang, sizeof a.cfg.lang, "%s", lang);
        return cli_train_run(train_clip, &a, &o);
    }
    mmc_error err = {0};
    mmc_retrieval_config cfg = mmc_retrieval_config_default();
    if (f.config && mmc_retrieval_config_load(&cfg, f.config, &err)) return cli_error_from(&err);
    if (lang) snprintf(cfg.lang, sizeof cfg.lang, "%s", lang); /* flags override the file */
    if (pair) { /* query:target */
        const char *colon = strchr(pair, ':');
        snprintf(cfg.query, sizeof cfg.query, "%.*s", (int)(colon - pair), pair);
        snprintf(cfg.target, sizeof cfg.target, "%s", colon + 1);
    }
    return cli_train_run(train_retrieval, &cfg, &o);
}

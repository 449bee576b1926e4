/* data.c — `mmc data DATASET ...`: make or import a dataset folder (DESIGN.md §4).
 * One function per dataset; `shapes` is the built-in synthetic world. */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Strict non-negative integer in [lo, hi]; 0 on success. */
static int parse_i64(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

typedef struct shapes_args {
    const char *out;
    long long n[3]; /* train, val, test */
    long long seed, size, threads;
} shapes_args;

static const char *SPLITS[3] = {"train", "val", "test"};

static int parse_shapes(int argc, char **argv, shapes_args *a) {
    *a = (shapes_args){NULL, {20000, 1000, 1000}, 7, 64, 0};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long *dst = !strcmp(o, "--train") ? &a->n[0] : !strcmp(o, "--val") ? &a->n[1]
                       : !strcmp(o, "--test") ? &a->n[2] : !strcmp(o, "--seed") ? &a->seed
                       : !strcmp(o, "--size") ? &a->size : !strcmp(o, "--threads") ? &a->threads : NULL;
        if (!strcmp(o, "--out")) {
            if (!v || !*v) return cli_error(1, "data shapes: --out needs a folder");
            a->out = v;
            i++;
            continue;
        }
        if (!dst) return cli_error(1, "data shapes: unknown option '%s' (see: mmc help data)", o);
        long long lo = dst == &a->size ? 8 : dst == &a->threads ? 1 : 0;
        long long hi = dst == &a->size ? 1024 : dst == &a->seed ? (1LL << 62) : dst == &a->threads ? 1024 : 10000000;
        if (!v || parse_i64(v, lo, hi, dst))
            return cli_error(1, "data shapes: %s needs an integer from %lld to %lld (got '%s')", o, lo, hi, v ? v : "");
        i++;
    }
    if (!a->out) return cli_error(1, "data shapes: missing --out DIR (see: mmc help data)");
    if (a->n[0] + a->n[1] + a->n[2] == 0) return cli_error(1, "data shapes: nothing to make (all splits are 0)");
    return 0;
}

typedef struct progress_state { const char *split; double t0, last; int tty; } progress_state;

/* A live line on a terminal; otherwise a plain line every few seconds and at the end. */
static void on_progress(void *user, int64_t done, int64_t total) {
    progress_state *p = user;
    double now = mmc_now(), rate = done / (now - p->t0 > 1e-9 ? now - p->t0 : 1e-9);
    if (p->tty) {
        printf("\r  %-5s %8lld/%lld  %6.0f scenes/s  ETA %4.0fs", p->split, (long long)done, (long long)total, rate,
               (double)(total - done) / rate);
        if (done == total) printf("\n");
    } else if (done == total || now - p->last >= 5.0) {
        printf("  %-5s %lld/%lld scenes (%.0f scenes/s)\n", p->split, (long long)done, (long long)total, rate);
        p->last = now;
    }
    fflush(stdout);
}

static void print_balance(const mmc_manifest *m, const char *split) {
    printf("%s captions: %.1f%% of first captions are unique among %d scenes\n", split,
           100.0 * mmc_captions_unique_rate(m->samples, m->count), m->count);
    mmc_qa_type_stats st[16];
    int nt = mmc_qa_stats(m->samples, m->count, st, 16);
    printf("%s QA answer balance (a blind model that always gives the majority answer scores its share):\n", split);
    printf("  %-10s %9s %11s %19s %22s\n", "type", "questions", "yes of y/n", "majority", "open majority");
    for (int t = 0; t < nt; t++) {
        int yn = st[t].yes + st[t].no, open = st[t].total - yn;
        char maj[96], omaj[96];
        snprintf(maj, sizeof maj, "%s %.1f%%", st[t].majority, 100.0 * st[t].majority_count / (st[t].total ? st[t].total : 1));
        snprintf(omaj, sizeof omaj, "%s %.1f%%", open ? st[t].open_majority : "-",
                 open ? 100.0 * st[t].open_majority_count / open : 0.0);
        printf("  %-10s %9d %10.1f%% %19s %22s\n", st[t].type, st[t].total, yn ? 100.0 * st[t].yes / yn : 0.0, maj, omaj);
    }
}

/* Reads back the split we just wrote (through the same hostile-input reader every
 * consumer uses) and reports what it offers. */
static int summarise(const char *dir, const char *split) {
    mmc_error err = {0};
    mmc_manifest *m = mmc_manifest_load(dir, split, &err);
    if (!m || mmc_manifest_check_images(m, &err) != MMC_OK) {
        mmc_manifest_free(m);
        return cli_error_from(&err);
    }
    print_balance(m, split);
    mmc_manifest_free(m);
    return 0;
}

static int cmd_data_shapes(int argc, char **argv) {
    shapes_args a;
    int rc = parse_shapes(argc, argv, &a);
    if (rc) return rc;
    if (a.threads) mmc_set_threads((int)a.threads);
    printf("shapes: %lld train, %lld val, %lld test scenes, %lldx%lld px, seed %lld, %d threads -> %s\n", a.n[0], a.n[1],
           a.n[2], a.size, a.size, a.seed, mmc_get_threads(), a.out);
    double t0 = mmc_now();
    const char *last = NULL;
    for (int s = 0; s < 3; s++) {
        if (!a.n[s]) continue;
        progress_state p = {SPLITS[s], mmc_now(), mmc_now(), isatty(STDOUT_FILENO)};
        mmc_error err = {0};
        if (mmc_shapes_write_split(a.out, SPLITS[s], a.n[s], (uint64_t)a.seed, (int)a.size, on_progress, &p, &err))
            return cli_error_from(&err);
        last = SPLITS[s];
    }
    double dt = mmc_now() - t0;
    long long total = a.n[0] + a.n[1] + a.n[2];
    printf("wrote %lld scenes in %.1f s (%.0f scenes/s): %s/images/, %s/manifest-{train,val,test}.jsonl\n", total, dt,
           total / (dt > 1e-9 ? dt : 1e-9), a.out, a.out);
    return summarise(a.out, a.n[2] ? "test" : last);
}

int cmd_data(int argc, char **argv) {
    if (argc < 2) return cli_error(1, "data: which dataset? (see: mmc help data)");
    if (!strcmp(argv[1], "shapes")) return cmd_data_shapes(argc - 1, argv + 1);
    return cli_error(1, "data: unknown dataset '%s' (see: mmc help data)", argv[1]);
}

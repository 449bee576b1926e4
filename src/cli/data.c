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
    int video;               /* --video: moving-shapes clips */
    long long frames, fps;   /* frames per clip, frames per second */
    int audio;               /* --audio: spoken captions; with --video, clips' sound tracks */
    int speech_opts;         /* an --audio-* option was given */
    mmc_speech_opts speech;
} shapes_args;

static const char *SPLITS[3] = {"train", "val", "test"};
/* Spoken captions for the first 4,000 scenes of each split by default (one English, one
 * Chinese each): ~30 KB of Ogg Vorbis an utterance (~7 s at ~28 kbit/s), so ~350 MB and
 * about 4 minutes on 2 cores for the default world's 6,000 spoken scenes. */
#define SPEECH_DEFAULT_SCENES 4000

static int parse_shapes(int argc, char **argv, shapes_args *a) {
    *a = (shapes_args){NULL, {20000, 1000, 1000}, 7, 64, 0, 0, 8, 8, 0, 0, mmc_speech_opts_default()};
    a->speech.max_scenes = SPEECH_DEFAULT_SCENES;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long *dst = !strcmp(o, "--train") ? &a->n[0] : !strcmp(o, "--val") ? &a->n[1]
                       : !strcmp(o, "--test") ? &a->n[2] : !strcmp(o, "--seed") ? &a->seed
                       : !strcmp(o, "--size") ? &a->size : !strcmp(o, "--threads") ? &a->threads
                       : !strcmp(o, "--frames") ? &a->frames : !strcmp(o, "--fps") ? &a->fps : NULL;
        if (!strcmp(o, "--video")) {
            a->video = 1;
            continue;
        }
        if (!strcmp(o, "--audio")) {
            a->audio = 1;
            continue;
        }
        if (!strcmp(o, "--audio-per-scene") || !strcmp(o, "--audio-scenes")) {
            long long x;
            int per = o[8] == 'p';
            if (!v || parse_i64(v, per ? 1 : 0, per ? 5 : 10000000, &x))
                return cli_error(1, "data shapes: %s needs an integer from %d to %d (got '%s')", o, per ? 1 : 0, per ? 5 : 10000000, v ? v : "");
            if (per) a->speech.per_scene = (int)x;
            else a->speech.max_scenes = x;
            a->audio = a->speech_opts = 1, i++;
            continue;
        }
        if (!strcmp(o, "--audio-langs") || !strcmp(o, "--audio-format")) {
            if (!v) return cli_error(1, "data shapes: %s needs a value", o);
            if (o[8] == 'l') {
                if (!strcmp(v, "en")) a->speech.en = 1, a->speech.zh = 0;
                else if (!strcmp(v, "zh")) a->speech.en = 0, a->speech.zh = 1;
                else if (!strcmp(v, "en,zh") || !strcmp(v, "zh,en")) a->speech.en = a->speech.zh = 1;
                else return cli_error(1, "data shapes: --audio-langs is en, zh or en,zh (got '%s')", v);
            } else {
                if (strcmp(v, "ogg") && strcmp(v, "flac") && strcmp(v, "wav"))
                    return cli_error(1, "data shapes: --audio-format is ogg, flac or wav (got '%s')", v);
                snprintf(a->speech.format, sizeof a->speech.format, "%s", v);
            }
            a->audio = a->speech_opts = 1, i++;
            continue;
        }
        if (!strcmp(o, "--out")) {
            if (!v || !*v) return cli_error(1, "data shapes: --out needs a folder");
            a->out = v;
            i++;
            continue;
        }
        if (!dst) return cli_error(1, "data shapes: unknown option '%s' (see: mmc help data)", o);
        long long lo = dst == &a->size ? 8 : dst == &a->threads || dst == &a->fps ? 1 : dst == &a->frames ? 2 : 0;
        long long hi = dst == &a->size ? 1024 : dst == &a->seed ? (1LL << 62) : dst == &a->threads ? 1024
                     : dst == &a->frames ? MMC_SHAPES_CLIP_MAX_FRAMES : dst == &a->fps ? 1000 : 10000000;
        if (!v || parse_i64(v, lo, hi, dst))
            return cli_error(1, "data shapes: %s needs an integer from %lld to %lld (got '%s')", o, lo, hi, v ? v : "");
        i++;
    }
    if (!a->out) return cli_error(1, "data shapes: missing --out DIR (see: mmc help data)");
    if (a->n[0] + a->n[1] + a->n[2] == 0) return cli_error(1, "data shapes: nothing to make (all splits are 0)");
    if (a->video && a->size < 16) return cli_error(1, "data shapes: --video needs --size 16 or more");
    /* --video --audio: clips with a sound track (the sounding-shapes world); the speech
     * options are about spoken captions of scenes */
    if (a->video && a->audio && a->speech_opts)
        return cli_error(1, "data shapes: --audio-scenes, --audio-per-scene, --audio-langs and --audio-format are for spoken "
                            "captions of scenes; --video --audio makes clips with a sound track");
    return 0;
}

typedef struct progress_state { const char *split; double t0, last; int tty; } progress_state;

/* A live line on a terminal; otherwise a plain line every few seconds and at the end. */
static void on_progress(void *user, int64_t done, int64_t total) {
    progress_state *p = user;
    double now = mmc_now(), rate = done / (now - p->t0 > 1e-9 ? now - p->t0 : 1e-9);
    if (p->tty) {
        printf("\r  %-12s %8lld/%lld  %6.0f scenes/s  ETA %4.0fs", p->split, (long long)done, (long long)total, rate,
               (double)(total - done) / rate);
        if (done == total) printf("\n");
    } else if (done == total || now - p->last >= 5.0) {
        printf("  %-12s %lld/%lld scenes (%.0f scenes/s)\n", p->split, (long long)done, (long long)total, rate);
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
    printf("  %-13s %9s %11s %19s %22s\n", "type", "questions", "yes of y/n", "majority", "open majority");
    for (int t = 0; t < nt; t++) {
        int yn = st[t].yes + st[t].no, open = st[t].total - yn;
        char maj[96], omaj[96];
        snprintf(maj, sizeof maj, "%s %.1f%%", st[t].majority, 100.0 * st[t].majority_count / (st[t].total ? st[t].total : 1));
        snprintf(omaj, sizeof omaj, "%s %.1f%%", open ? st[t].open_majority : "-",
                 open ? 100.0 * st[t].open_majority_count / open : 0.0);
        char ynbuf[16] = "-";
        if (yn) snprintf(ynbuf, sizeof ynbuf, "%.1f%%", 100.0 * st[t].yes / yn);
        printf("  %-13s %9d %11s %19s %22s\n", st[t].type, st[t].total, ynbuf, maj, omaj);
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
    const char *what = a.video ? "clips" : "scenes";
    if (a.video)
        printf("shapes --video%s: %lld train, %lld val, %lld test clips of %lld frames at %lld fps, %lldx%lld px, seed %lld, "
               "%d threads -> %s\n", a.audio ? " --audio (sound tracks)" : "", a.n[0], a.n[1], a.n[2], a.frames, a.fps, a.size, a.size, a.seed, mmc_get_threads(), a.out);
    else
        printf("shapes: %lld train, %lld val, %lld test scenes, %lldx%lld px, seed %lld, %d threads -> %s\n", a.n[0], a.n[1],
               a.n[2], a.size, a.size, a.seed, mmc_get_threads(), a.out);
    double t0 = mmc_now();
    const char *last = NULL;
    for (int s = 0; s < 3; s++) {
        if (!a.n[s]) continue;
        progress_state p = {SPLITS[s], mmc_now(), mmc_now(), isatty(STDOUT_FILENO)};
        mmc_error err = {0};
        int rc2 = a.video && a.audio ? mmc_shapes_write_av_split(a.out, SPLITS[s], a.n[s], (uint64_t)a.seed, (int)a.size,
                                                                 (int)a.frames, (int)a.fps, on_progress, &p, &err)
                  : a.video ? mmc_shapes_write_video_split(a.out, SPLITS[s], a.n[s], (uint64_t)a.seed, (int)a.size, (int)a.frames,
                                                         (int)a.fps, on_progress, &p, &err)
                          : mmc_shapes_write_split(a.out, SPLITS[s], a.n[s], (uint64_t)a.seed, (int)a.size, on_progress, &p, &err);
        if (rc2) return cli_error_from(&err);
        last = SPLITS[s];
    }
    for (int s = 0; a.audio && !a.video && s < 3; s++) { /* then the spoken captions, split by split */
        if (!a.n[s]) continue;
        char label[32];
        snprintf(label, sizeof label, "%s speech", SPLITS[s]);
        progress_state p = {label, mmc_now(), mmc_now(), isatty(STDOUT_FILENO)};
        mmc_error err = {0};
        if (mmc_shapes_speak_split(a.out, SPLITS[s], (uint64_t)a.seed, &a.speech, on_progress, &p, &err)) return cli_error_from(&err);
    }
    double dt = mmc_now() - t0;
    long long total = a.n[0] + a.n[1] + a.n[2];
    printf("wrote %lld %s in %.1f s (%.0f %s/s): %s/%s, %s/manifest-{train,val,test}.jsonl\n", total, what, dt,
           total / (dt > 1e-9 ? dt : 1e-9), what, a.out, a.video && a.audio ? "videos/ (FFV1 + FLAC sound .mkv), images/ (first frames)"
           : a.video ? "videos/ (FFV1 .mkv), images/ (first frames)" : "images/", a.out);
    return summarise(a.out, a.n[2] ? "test" : last);
}

/* ---------------------------------------------------------------- importers */

static void log_line(void *user, const char *line) {
    (void)user;
    printf("  %s\n", line);
    fflush(stdout);
}

/* Options of the form --name VALUE; names[i] -> vals[i]. Returns 0 or an exit code. */
static int parse_opts(const char *cmd, int argc, char **argv, const char *const *names, const char **vals, int n) {
    for (int i = 1; i < argc; i++) {
        int k = 0;
        while (k < n && strcmp(argv[i], names[k])) k++;
        if (k == n) return cli_error(1, "data %s: unknown option '%s' (see: mmc help data)", cmd, argv[i]);
        if (i + 1 >= argc || !*argv[i + 1]) return cli_error(1, "data %s: %s needs a value", cmd, argv[i]);
        vals[k] = argv[++i];
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Distinct labels of a manifest (0 when none has one). */
static int count_labels(const mmc_manifest *m) {
    const char **v = mmc_calloc(m->count ? m->count : 1, sizeof *v);
    int n = 0, distinct = 0;
    for (int i = 0; v && i < m->count; i++)
        if (m->samples[i].label) v[n++] = m->samples[i].label;
    if (v && n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    for (int i = 0; v && i < n; i++) distinct += !i || strcmp(v[i], v[i - 1]);
    mmc_free(v);
    return distinct;
}

/* Reads every split back through the manifest reader every consumer uses, checks the
 * images are there, and prints the counts. */
static int report(const char *out, const mmc_import_stats *st, double seconds) {
    printf("wrote %lld train, %lld val, %lld test samples in %.1f s -> %s/manifest-{train,val,test}.jsonl\n",
           (long long)st->n[0], (long long)st->n[1], (long long)st->n[2], seconds, out);
    if (st->skipped) printf("skipped %lld records (see above)\n", (long long)st->skipped);
    for (int s = 0; s < 3; s++) {
        if (!st->n[s]) continue;
        mmc_error err = {0};
        mmc_manifest *m = mmc_manifest_load(out, SPLITS[s], &err);
        if (!m || mmc_manifest_check_images(m, &err) != MMC_OK) {
            mmc_manifest_free(m);
            return cli_error_from(&err);
        }
        printf("  %-5s %7d samples, %d labels, %.1f%% of first captions unique\n", SPLITS[s], m->count,
               count_labels(m), 100.0 * mmc_captions_unique_rate(m->samples, m->count));
        mmc_manifest_free(m);
    }
    return 0;
}

/* $XDG_CACHE_HOME/mmc/npm, else ~/.cache/mmc/npm. */
static int default_cache(char *buf, size_t n) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/') return snprintf(buf, n, "%s/mmc/npm", xdg) >= (int)n;
    if (home && *home) return snprintf(buf, n, "%s/.cache/mmc/npm", home) >= (int)n;
    return 1;
}

static int parse_styles(char *list, mmc_emoji_opts *o) {
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (o->n_styles == MMC_EMOJI_MAX_STYLES) return cli_error(1, "data emoji: at most %d styles", MMC_EMOJI_MAX_STYLES);
        char pkg[96];
        snprintf(pkg, sizeof pkg, "emoji-datasource-%s", tok);
        if (!mmc_emoji_pinned(pkg)) return cli_error(1, "data emoji: unknown style '%s' (google, twitter)", tok);
        o->styles[o->n_styles++] = tok;
    }
    return o->n_styles ? 0 : cli_error(1, "data emoji: --styles needs a comma-separated list (google,twitter)");
}

static int cmd_data_emoji(int argc, char **argv) {
    static const char *const names[] = {"--out", "--styles", "--split", "--cache"};
    const char *v[4] = {NULL, "google,twitter", "style", NULL};
    int rc = parse_opts("emoji", argc, argv, names, v, 4);
    if (rc) return rc;
    if (!v[0]) return cli_error(1, "data emoji: missing --out DIR (see: mmc help data)");
    char styles[256], cache[4096];
    mmc_emoji_opts o = {.out = v[0], .log = log_line};
    snprintf(styles, sizeof styles, "%s", v[1]);
    if ((rc = parse_styles(styles, &o))) return rc;
    if (strcmp(v[2], "style") && strcmp(v[2], "within"))
        return cli_error(1, "data emoji: --split is style or within (got '%s')", v[2]);
    o.split = !strcmp(v[2], "within") ? MMC_EMOJI_SPLIT_WITHIN : MMC_EMOJI_SPLIT_STYLE;
    if (v[3]) snprintf(cache, sizeof cache, "%s", v[3]);
    else if (default_cache(cache, sizeof cache)) return cli_error(1, "data emoji: no $HOME; give --cache DIR");
    printf("emoji: styles %s, split by %s, cache %s -> %s\n", v[1], v[2], cache, o.out);
    mmc_import_stats st;
    mmc_error err = {0};
    double t0 = mmc_now();
    if (mmc_import_emoji(&o, cache, &st, &err)) return cli_error_from(&err);
    if (st.no_text || st.no_zh)
        printf("%lld samples have no CLDR English name (captions from the datasource's names), %lld no Chinese captions\n",
               (long long)st.no_text, (long long)st.no_zh);
    return report(o.out, &st, mmc_now() - t0);
}

/* apt-get install, as root or through sudo, saying what it runs; update and retry once
 * when the package lists are stale. */
static int apt_install(const char *pkg) {
    int root = geteuid() == 0;
    const char *inst[] = {"sudo", "apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg, NULL};
    const char *upd[] = {"sudo", "apt-get", "update", "-qq", NULL};
    const char *const *a = root ? inst + 1 : inst, *const *u = root ? upd + 1 : upd;
    mmc_error err = {0};
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt) {
            printf("+ %sapt-get update -qq\n", root ? "" : "sudo ");
            if (mmc_import_run(u, 0, &err)) return cli_error_from(&err);
        }
        printf("+ %sapt-get install -y -qq --no-install-recommends %s\n", root ? "" : "sudo ", pkg);
        fflush(stdout);
        if (!mmc_import_run(a, 0, &err)) return 0;
    }
    return cli_error_from(&err);
}

static int cmd_data_fashion_mnist(int argc, char **argv) {
    static const char *const names[] = {"--out", "--from", "--val"};
    const char *v[3] = {NULL, NULL, "5000"};
    int rc = parse_opts("fashion-mnist", argc, argv, names, v, 3);
    if (rc) return rc;
    long long val;
    if (!v[0]) return cli_error(1, "data fashion-mnist: missing --out DIR (see: mmc help data)");
    if (parse_i64(v[2], 0, 59999, &val)) return cli_error(1, "data fashion-mnist: --val needs 0 to 59999 (got '%s')", v[2]);
    const char *from = v[1] ? v[1] : MMC_FASHION_MNIST_DIR;
    if (!v[1] && access(from, R_OK) != 0) {
        printf("fashion-mnist: %s is missing; installing Debian's dataset-fashion-mnist\n", from);
        if ((rc = apt_install("dataset-fashion-mnist"))) return rc;
    }
    printf("fashion-mnist: %s -> %s (28x28 grayscale PNGs, %lld val images from the end of train)\n", from, v[0], val);
    mmc_import_stats st;
    mmc_error err = {0};
    double t0 = mmc_now();
    if (mmc_import_fashion_mnist(from, v[0], (int)val, log_line, NULL, &st, &err)) return cli_error_from(&err);
    return report(v[0], &st, mmc_now() - t0);
}

static int cmd_data_coco(int argc, char **argv) {
    static const char *const names[] = {"--annotations", "--images", "--out"};
    const char *v[3] = {NULL, NULL, NULL};
    int rc = parse_opts("coco", argc, argv, names, v, 3);
    if (rc) return rc;
    for (int i = 0; i < 3; i++)
        if (!v[i]) return cli_error(1, "data coco: missing %s (see: mmc help data)", names[i]);
    printf("coco: %s with images in %s -> %s\n", v[0], v[1], v[2]);
    mmc_import_stats st;
    mmc_error err = {0};
    double t0 = mmc_now();
    if (mmc_import_karpathy(v[0], v[1], v[2], log_line, NULL, &st, &err)) return cli_error_from(&err);
    return report(v[2], &st, mmc_now() - t0);
}

int cmd_data(int argc, char **argv) {
    if (argc < 2) return cli_error(1, "data: which dataset? (see: mmc help data)");
    if (!strcmp(argv[1], "shapes")) return cmd_data_shapes(argc - 1, argv + 1);
    if (!strcmp(argv[1], "emoji")) return cmd_data_emoji(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fashion-mnist")) return cmd_data_fashion_mnist(argc - 1, argv + 1);
    if (!strcmp(argv[1], "coco")) return cmd_data_coco(argc - 1, argv + 1);
    return cli_error(1, "data: unknown dataset '%s' (see: mmc help data)", argv[1]);
}

/* bench_serve.c — `mmc bench serve-search`: the HTTP service under load (DESIGN §7's
 * serve-search workload). C clients, each on one kept-alive connection, send text searches
 * to `mmc serve` as fast as it answers, for S seconds, against an index of N shapes images;
 * reported: requests/s, latency percentiles, errors, and the server's resident memory before
 * and after the run (a leak or an unbounded cache shows there).
 *
 * The server is this binary run as a child (`mmc serve ... --port 0 --port-file F`), so
 * the numbers are the service's as a user starts it: libmicrohttpd's thread pool, the
 * access log, the JSON documents. The clients run in this process on the same machine and
 * take CPU from it too; on 2 cores that is part of the measurement (a remote load generator
 * would report more).
 *
 * What it needs is made once and kept in a work folder (--work, default bench-serve/ next
 * to the binary, else $TMPDIR/mmc-bench-serve): N shapes images at the model's image size,
 * and their index for this model (named by a hash of the model's path and weights, so a
 * retrained model gets a new one). With no --model and no demo run it trains the demo's
 * English model itself (own_model). MMC_BENCH_SMALL=1 (the ctest) shrinks it to 200 images,
 * 4 clients and 2 seconds, and a tiny model. */
#include "cli.h"
#include "http_client.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BS_QUERIES 256          /* distinct captions the clients cycle through */
#define BS_QUERY_SEED 424242    /* shapes scenes whose captions are the queries (not the indexed ones) */
#define BS_IMAGE_SEED 11        /* shapes scenes that are indexed */
#define BS_K 10                 /* results a search asks for (the server's default) */
#define BS_START_SECONDS 120    /* for the server to load the model and index and listen */
#define BS_STOP_SECONDS 45      /* for it to drain (it gives requests in flight 30 s) and exit */
#define BS_MAX_DIR (PATH_MAX - 256) /* longest work or model folder name we take */

typedef struct bs_opts {
    const char *model, *work;
    int images, clients, threads, json;
    double seconds, warmup; /* the measured run; the warm-up before it */
} bs_opts;

/* ------------------------------------------------------------------ child processes */

/* Runs this binary (/proc/self/exe) with argv and waits for it; its stdout goes to our
 * stderr, so that --json keeps stdout to the one line. Returns its exit status, or -1. */
static int run_self(char *const argv[]) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(2, 1);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* snprintf for paths. Paths here are a work folder or model folder of at most BS_MAX_DIR
 * bytes (checked where they come in) plus a short name, so they fit PATH_MAX buffers. */
static int pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return k >= 0 && (size_t)k < n ? 0 : -1;
}

static int mkdir_p(const char *dir) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* The work folder: --work, else bench-serve/ beside this binary (the build folder), else
 * $TMPDIR/mmc-bench-serve. */
static int work_dir(const char *given, char *out, size_t n) {
    if (given) {
        pathf(out, n, "%s", given);
        return mkdir_p(out) ? cli_error(3, "bench serve-search: cannot create %s: %s", out, strerror(errno)) : 0;
    }
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0 && k < BS_MAX_DIR) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        pathf(out, n, "%s/bench-serve", exe);
        if (!mkdir_p(out) && access(out, W_OK) == 0) return 0;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > BS_MAX_DIR) tmp = "/tmp";
    pathf(out, n, "%s/mmc-bench-serve", tmp);
    return mkdir_p(out) ? cli_error(3, "bench serve-search: cannot create %s: %s", out, strerror(errno)) : 0;
}

/* ------------------------------------------------------------------ what the run needs */

/* The demo's English retrieval run (`make demo` writes demo/ in the source folder). */
static const char *default_model(char *buf, size_t n) {
    static const char *const dirs[] = {"demo", MMC_SOURCE_DIR "/demo"};
    for (int i = 0; i < 2; i++) {
        pathf(buf, n, "%s/retrieval-en/model.safetensors", dirs[i]);
        if (is_file(buf)) {
            pathf(buf, n, "%s/retrieval-en", dirs[i]);
            return buf;
        }
    }
    return NULL;
}

/* No --model and no demo run: the bench trains its own into WORK, once. MMC_BENCH_SMALL: a
 * run as tiny as the CLI tests' (seconds); otherwise the demo's English model exactly as
 * `mmc demo` makes it (its world: 4000/200/200 scenes of 64 px, data seed 7; the default
 * retrieval config; 300 steps; about a minute on 2 cores), so `make bench` needs no demo. */
static int own_model(const char *work, int small, char *run, size_t n) {
    char data[PATH_MAX], cfg[PATH_MAX], probe[PATH_MAX];
    pathf(run, n, "%s/%s", work, small ? "tiny-run" : "demo-retrieval-en");
    pathf(probe, sizeof probe, "%s/model.safetensors", run);
    if (is_file(probe)) return 0;
    pathf(data, sizeof data, "%s/%s", work, small ? "tiny-data" : "demo-data");
    if (small) {
        pathf(cfg, sizeof cfg, "%s/tiny.json", work);
        FILE *f = fopen(cfg, "w");
        if (!f || fputs("{\"image_size\": 32, \"cnn_widths\": [8, 16], \"embed_dim\": 32, \"word_dim\": 16, "
                        "\"text_hidden\": 32, \"batch_size\": 16}\n", f) < 0 || fclose(f) != 0)
            return cli_error(3, "bench serve-search: cannot write %s", cfg);
        char *mk[] = {"mmc", "data", "shapes", "--out", data, "--train", "64", "--val", "16", "--test", "16", "--size", "32", NULL};
        char *tr[] = {"mmc", "train", "retrieval", "--data", data, "--out", run, "--config", cfg, "--steps", "10", NULL};
        if (run_self(mk) != 0 || run_self(tr) != 0) return cli_error(3, "bench serve-search: could not train a tiny model in %s", run);
        return 0;
    }
    fprintf(stderr, "bench serve-search: no demo run (demo/retrieval-en); training the demo's English model into %s "
                    "(once, about a minute)\n", run);
    char *mk[] = {"mmc", "data", "shapes", "--out", data, "--train", "4000", "--val", "200", "--test", "200", "--size", "64",
                  "--seed", "7", NULL};
    char *tr[] = {"mmc", "train", "retrieval", "--data", data, "--out", run, "--steps", "300", NULL};
    if (run_self(mk) != 0 || run_self(tr) != 0) return cli_error(3, "bench serve-search: could not train the demo's model in %s", run);
    return 0;
}

/* The model's image size and language, from its config.json (a CLIP folder keeps the
 * size in vision_config). Defaults: 64, English. */
static void model_info(const char *model, int *size, int *zh) {
    char path[PATH_MAX];
    pathf(path, sizeof path, "%s/config.json", model);
    cJSON *root = NULL;
    mmc_error err = {0};
    *size = 64;
    *zh = 0;
    if (mmc_json_load(path, 1 << 24, 1, &root, &err) != MMC_OK) return;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "image_size"), *lang = cJSON_GetObjectItemCaseSensitive(root, "lang");
    if (!cJSON_IsNumber(s)) s = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "vision_config"), "image_size");
    if (cJSON_IsNumber(s) && s->valuedouble >= 8 && s->valuedouble <= 1024) *size = (int)s->valuedouble;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    *zh = (cJSON_IsString(lang) && !strcmp(lang->valuestring, "zh")) ||
          (cJSON_IsString(mt) && !strcmp(mt->valuestring, "chinese_clip"));
    cJSON_Delete(root);
}

/* Which weights the model has now: a hash of its absolute path and its weight file's size
 * and modification time (an index is reused only for the same weights). */
static uint64_t model_key(const char *model) {
    char real[PATH_MAX], w[PATH_MAX];
    if (!realpath(model, real)) pathf(real, sizeof real, "%s", model);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = real; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    struct stat sb;
    pathf(w, sizeof w, "%s/model.safetensors", model);
    if (stat(w, &sb) == 0) {
        uint64_t v[3] = {(uint64_t)sb.st_size, (uint64_t)sb.st_mtim.tv_sec, (uint64_t)sb.st_mtim.tv_nsec};
        for (int i = 0; i < 3; i++)
            for (int b = 0; b < 8; b++) h = (h ^ (uint8_t)(v[i] >> (8 * b))) * 1099511628211ull;
    }
    return h;
}

/* N shapes images at size px (made once: the manifest is written last, so its presence
 * means the folder is whole), and their index for this model (built once under a temporary
 * name and renamed). */
static int prepare_index(const bs_opts *o, const char *work, int size, char *index, size_t n) {
    char shapes[PATH_MAX], probe[PATH_MAX], images[PATH_MAX], tmp[PATH_MAX];
    pathf(shapes, sizeof shapes, "%s/shapes-%d-%dpx", work, o->images, size);
    pathf(probe, sizeof probe, "%s/manifest-bench.jsonl", shapes);
    mmc_error err = {0};
    if (!is_file(probe)) {
        if (!o->json) printf("making %d shapes images of %d px in %s\n", o->images, size, shapes);
        fflush(stdout);
        if (mmc_shapes_write_split(shapes, "bench", o->images, BS_IMAGE_SEED, size, NULL, NULL, &err) != MMC_OK)
            return cli_error_from(&err);
    }
    pathf(index, n, "%s/index-%016llx-%d-%dpx.idx", work, (unsigned long long)model_key(o->model), o->images, size);
    if (is_file(index)) return 0;
    pathf(images, sizeof images, "%s/images", shapes);
    pathf(tmp, sizeof tmp, "%s.tmp", index);
    if (!o->json) printf("indexing them with %s into %s\n", o->model, index);
    char *argv[] = {"mmc", "index", "build", "--model", (char *)o->model, "--images", images, "--out", tmp, NULL};
    if (run_self(argv) != 0 || rename(tmp, index) != 0) {
        unlink(tmp);
        return cli_error(3, "bench serve-search: could not index %s with %s", images, o->model);
    }
    return 0;
}

/* The query bodies: the first captions of BS_QUERIES shapes scenes (not the indexed ones),
 * in the model's language, as {"text": ..., "index": "bench", "k": 10}. */
static int make_queries(int size, int zh, char **bodies) {
    for (int i = 0; i < BS_QUERIES; i++) {
        mmc_sample s;
        memset(&s, 0, sizeof s);
        mmc_error err = {0};
        if (mmc_shapes_make(BS_QUERY_SEED, "query", i, size, NULL, NULL, &s, &err) != MMC_OK) return cli_error_from(&err);
        const char *text = zh && s.n_captions_zh ? s.captions_zh[0] : s.n_captions ? s.captions[0] : "a red circle";
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "text", text);
        cJSON_AddStringToObject(doc, "index", "bench");
        cJSON_AddNumberToObject(doc, "k", BS_K);
        bodies[i] = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        mmc_sample_free(&s);
        if (!bodies[i]) return cli_error(3, "bench serve-search: out of memory");
    }
    return 0;
}

/* ------------------------------------------------------------------ the server */

typedef struct server {
    pid_t pid;
    int port;
    char log[PATH_MAX], out[PATH_MAX];
} server;

/* Starts `mmc serve` and waits for its port file. 0, or an exit code after printing. */
static int server_start(server *s, const bs_opts *o, const char *work, const char *index) {
    char port_file[PATH_MAX], ix[PATH_MAX], threads[16];
    pathf(port_file, sizeof port_file, "%s/serve-%d.port", work, (int)getpid());
    pathf(s->log, sizeof s->log, "%s/serve-access.log", work);
    pathf(s->out, sizeof s->out, "%s/serve-output.log", work);
    pathf(ix, sizeof ix, "bench=%s", index);
    snprintf(threads, sizeof threads, "%d", o->threads);
    unlink(port_file);
    unlink(s->log);
    char *argv[] = {"mmc", "serve", "--model", (char *)o->model, "--index", ix, "--port", "0", "--port-file", port_file,
                    "--threads", threads, "--log", s->log, NULL};
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0) return cli_error(3, "bench serve-search: fork: %s", strerror(errno));
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* the benchmark killed: no server left behind */
        int fd = open(s->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    for (double t0 = mmc_now(); mmc_now() - t0 < BS_START_SECONDS; usleep(20 * 1000)) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return cli_error(3, "bench serve-search: the server exited at start (status %d); see %s",
                             WIFEXITED(st) ? WEXITSTATUS(st) : -1, s->out);
        }
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
            fclose(f);
            unlink(port_file);
            s->port = port;
            return 0;
        }
        if (f) fclose(f);
    }
    return cli_error(3, "bench serve-search: the server did not listen within %d s; see %s", BS_START_SECONDS, s->out);
}

/* SIGTERM, then waits for a graceful exit. Returns its exit status (-1: killed). */
static int server_stop(server *s) {
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int st = 0;
    for (double t0 = mmc_now();; usleep(20 * 1000)) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid || (r < 0 && errno != EINTR)) break;
        if (mmc_now() - t0 > BS_STOP_SECONDS) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            break;
        }
    }
    s->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* VmRSS (or VmHWM, the peak) of a process in MB, from /proc/PID/status; -1 if unreadable. */
static double proc_mb(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    double mb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            mb = strtod(line + n + 1, NULL) / 1024.0; /* kB */
            break;
        }
    if (f) fclose(f);
    return mb;
}

/* ------------------------------------------------------------------ the clients */

typedef struct bs_shared {
    int port;
    char **bodies;
    double warm_end, end;  /* end is set by the main thread when it lets the clients go */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, go;       /* clients done warming up; the main thread's go-ahead */
    atomic_int warm_errors;
} bs_shared;

typedef struct bs_client {
    bs_shared *sh;
    int id;
    int64_t *lat_ns; /* latencies of the measured requests that succeeded */
    int64_t n, cap;
    int64_t errors;
    char first_error[160];
} bs_client;

/* One search; returns 0 when it was answered 200 with results, else -1. Measured ones
 * (record) keep their latency, or count as an error with the first one's reason. */
static int one_search(bs_client *cl, http_client *c, http_response *r, const char *body, int record) {
    double t0 = mmc_now();
    int rc = http_request(c, "POST", "/v1/search", "Content-Type: application/json\r\n", body, strlen(body), r);
    int64_t ns = (int64_t)((mmc_now() - t0) * 1e9);
    int ok = rc == HTTP_OK && r->status == 200 && strstr(r->body, "\"results\"");
    if (ok && record && cl->n == cl->cap) {
        int64_t cap = cl->cap ? 2 * cl->cap : 4096;
        int64_t *p = realloc(cl->lat_ns, sizeof *p * (size_t)cap);
        if (p) cl->lat_ns = p, cl->cap = cap;
        else rc = HTTP_ERR_NOMEM, ok = 0;
    }
    if (ok && record) cl->lat_ns[cl->n++] = ns;
    if (!ok && record && !cl->errors++) {
        if (rc != HTTP_OK) snprintf(cl->first_error, sizeof cl->first_error, "%s (%.120s)", http_strerror(rc), c->err);
        else snprintf(cl->first_error, sizeof cl->first_error, "status %d: %.120s", r->status, r->body);
    }
    return ok ? 0 : -1;
}

static void *client_main(void *arg) {
    bs_client *cl = arg;
    bs_shared *sh = cl->sh;
    http_client c;
    http_response r = {0};
    http_client_init(&c, "127.0.0.1", sh->port, 10000);
    int q = (cl->id * 37) % BS_QUERIES; /* clients start at different queries */
    while (mmc_now() < sh->warm_end) /* warm-up: connections open, caches and allocator arenas settle */
        if (one_search(cl, &c, &r, sh->bodies[q = (q + 1) % BS_QUERIES], 0)) atomic_fetch_add(&sh->warm_errors, 1);
    pthread_mutex_lock(&sh->mu); /* all quiet while the main thread reads the server's memory */
    sh->arrived++;
    pthread_cond_broadcast(&sh->cv);
    while (!sh->go) pthread_cond_wait(&sh->cv, &sh->mu);
    pthread_mutex_unlock(&sh->mu);
    while (mmc_now() < sh->end) one_search(cl, &c, &r, sh->bodies[q = (q + 1) % BS_QUERIES], 1);
    http_response_free(&r);
    http_client_close(&c);
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n), in ms. */
static double pct_ms(const int64_t *v, int64_t n, double p) {
    if (n == 0) return 0;
    int64_t i = (int64_t)ceil(p / 100.0 * (double)n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i] / 1e6;
}

typedef struct bs_result {
    int64_t requests, errors;
    double wall, p50, p90, p99, max; /* s; ms */
    double rss0, rss1, peak;         /* MB */
    char first_error[160];
    int warm_errors;
} bs_result;

/* Warm-up, the server's memory, the measured run, its memory again. 0, or an exit code
 * after printing. */
static int run_clients(const bs_opts *o, const server *srv, char **bodies, bs_result *res) {
    bs_shared sh = {.port = srv->port, .bodies = bodies, .warm_end = mmc_now() + o->warmup};
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    bs_client *cl = calloc((size_t)o->clients, sizeof *cl);
    pthread_t *th = calloc((size_t)o->clients, sizeof *th);
    int started = 0, rc = 0;
    for (; cl && th && started < o->clients; started++) {
        cl[started] = (bs_client){.sh = &sh, .id = started};
        if (pthread_create(&th[started], NULL, client_main, &cl[started])) break;
    }
    pthread_mutex_lock(&sh.mu);
    while (sh.arrived < started) pthread_cond_wait(&sh.cv, &sh.mu);
    res->rss0 = proc_mb(srv->pid, "VmRSS");
    double t0 = mmc_now();
    sh.end = started == o->clients ? t0 + o->seconds : 0; /* a client short: stop at once */
    sh.go = 1;
    pthread_cond_broadcast(&sh.cv);
    pthread_mutex_unlock(&sh.mu);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    res->wall = mmc_now() - t0;
    res->rss1 = proc_mb(srv->pid, "VmRSS");
    /* the kernel updates the high-water mark lazily: it can lag the RSS just read */
    res->peak = proc_mb(srv->pid, "VmHWM");
    if (res->peak < res->rss0) res->peak = res->rss0;
    if (res->peak < res->rss1) res->peak = res->rss1;
    res->warm_errors = atomic_load(&sh.warm_errors);
    if (started < o->clients) rc = cli_error(3, "bench serve-search: could not start %d client threads", o->clients);

    for (int i = 0; i < started; i++) {
        res->requests += cl[i].n;
        res->errors += cl[i].errors;
        if (cl[i].errors && !res->first_error[0]) snprintf(res->first_error, sizeof res->first_error, "%s", cl[i].first_error);
    }
    int64_t *all = malloc(sizeof *all * (size_t)(res->requests ? res->requests : 1)), at = 0;
    if (!all && !rc) rc = cli_error(3, "bench serve-search: out of memory");
    for (int i = 0; all && i < started; i++) {
        memcpy(all + at, cl[i].lat_ns, sizeof *all * (size_t)cl[i].n);
        at += cl[i].n;
    }
    if (all) {
        qsort(all, (size_t)at, sizeof *all, cmp_i64);
        res->p50 = pct_ms(all, at, 50), res->p90 = pct_ms(all, at, 90), res->p99 = pct_ms(all, at, 99);
        res->max = at ? all[at - 1] / 1e6 : 0;
    }
    free(all);
    for (int i = 0; cl && i < started; i++) free(cl[i].lat_ns);
    free(cl);
    free(th);
    pthread_cond_destroy(&sh.cv);
    pthread_mutex_destroy(&sh.mu);
    return rc;
}

/* ------------------------------------------------------------------ the command */

static int bench_small(void) {
    const char *v = getenv("MMC_BENCH_SMALL");
    return v && *v && strcmp(v, "0");
}

static int parse_opts(int argc, char **argv, bs_opts *o) {
    int small = bench_small();
    *o = (bs_opts){.images = small ? 200 : 10000, .clients = small ? 4 : 16, .threads = 2,
                   .seconds = small ? 2 : 30, .warmup = small ? 0.5 : 1.0};
    int named = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "serve-search") && !named) {
            named = 1;
            continue;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (a[0] != '-') return cli_error(1, "bench: one workload at a time (got 'serve-search' and '%s')", a);
        if (!v) return cli_error(1, "bench: %s needs a value", a);
        i++;
        int x = 0;
        if ((!strcmp(a, "--model") || !strcmp(a, "--work")) && strlen(v) > BS_MAX_DIR)
            return cli_error(1, "bench: %s: a path of at most %d bytes, please", a, BS_MAX_DIR);
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--work")) o->work = v;
        else if (!strcmp(a, "--images") && !cli_parse_int(v, 1, 10000000, &x)) o->images = x;
        else if (!strcmp(a, "--clients") && !cli_parse_int(v, 1, 1000, &x)) o->clients = x;
        else if (!strcmp(a, "--threads") && !cli_parse_int(v, 1, 256, &x)) o->threads = x;
        else if (!strcmp(a, "--seconds") && !cli_parse_int(v, 1, 3600, &x)) o->seconds = x;
        else if (!strcmp(a, "--images") || !strcmp(a, "--clients") || !strcmp(a, "--threads") || !strcmp(a, "--seconds"))
            return cli_error(1, "bench: %s wants a positive integer (at most %s), got '%s'", a,
                             a[2] == 'i' ? "10000000" : a[2] == 'c' ? "1000" : a[2] == 't' ? "256" : "3600", v);
        else return cli_error(1, "bench: unknown option '%s' for serve-search (see: mmc help bench)", a);
    }
    return named ? 0 : cli_error(1, "bench: missing WORKLOAD");
}

int cmd_bench_serve(int argc, char **argv) {
    bs_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc;
    char work[PATH_MAX], model[PATH_MAX], index[PATH_MAX], probe[PATH_MAX];
    if ((rc = work_dir(o.work, work, sizeof work))) return rc;
    if (!o.model && !(o.model = default_model(model, sizeof model))) {
        if ((rc = own_model(work, bench_small(), model, sizeof model))) return rc;
        o.model = model;
    }
    pathf(probe, sizeof probe, "%s/config.json", o.model);
    if (!is_file(probe)) return cli_error(2, "bench serve-search: %s is not a model folder (no config.json)", o.model);
    int size, zh;
    model_info(o.model, &size, &zh);
    char *bodies[BS_QUERIES] = {0};
    server srv = {0};
    bs_result res = {0};
    if (!(rc = prepare_index(&o, work, size, index, sizeof index)) && !(rc = make_queries(size, zh, bodies)) &&
        !(rc = server_start(&srv, &o, work, index))) {
        if (!o.json) {
            printf("serve-search: %d client%s for %.0f s against %s (%d images, %d server thread%s)\n", o.clients,
                   o.clients == 1 ? "" : "s", o.seconds, o.model, o.images, o.threads, o.threads == 1 ? "" : "s");
            fflush(stdout);
        }
        rc = run_clients(&o, &srv, bodies, &res);
        int status = server_stop(&srv);
        if (!rc && status != 0)
            rc = cli_error(3, "bench serve-search: the server did not exit cleanly on SIGTERM (status %d); see %s", status, srv.out);
    } else if (srv.pid > 0) {
        server_stop(&srv);
    }
    for (int i = 0; i < BS_QUERIES; i++) cJSON_free(bodies[i]);
    if (rc) return rc;

    double rate = res.requests / (res.wall > 0 ? res.wall : 1e-9);
    double change = res.rss0 > 0 ? 100.0 * (res.rss1 - res.rss0) / res.rss0 : 0;
    if (o.json) {
        printf("{\"workload\": \"serve-search\", \"rate\": %.2f, \"unit\": \"req/s\", \"threads\": %d, \"clients\": %d, "
               "\"seconds\": %.1f, \"images\": %d, \"requests\": %lld, \"errors\": %lld, \"p50_ms\": %.2f, \"p90_ms\": %.2f, "
               "\"p99_ms\": %.2f, \"max_ms\": %.2f, \"rss_before_mb\": %.1f, \"rss_after_mb\": %.1f, "
               "\"rss_change_pct\": %.2f, \"peak_rss_mb\": %.1f}\n",
               rate, o.threads, o.clients, res.wall, o.images, (long long)res.requests, (long long)res.errors, res.p50, res.p90,
               res.p99, res.max, res.rss0, res.rss1, change, res.peak);
    } else {
        printf("  %.1f requests/s (%lld answered in %.1f s), %lld error%s\n", rate, (long long)res.requests, res.wall,
               (long long)res.errors, res.errors == 1 ? "" : "s");
        printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", res.p50, res.p90, res.p99, res.max);
        printf("  server resident memory: %.1f MB before, %.1f MB after (%+.2f%%), peak %.1f MB\n", res.rss0, res.rss1, change,
               res.peak);
    }
    if (res.errors) fprintf(stderr, "mmc bench serve-search: %lld failed requests; the first: %s\n", (long long)res.errors, res.first_error);
    if (res.warm_errors) fprintf(stderr, "mmc bench serve-search: %d requests failed during the warm-up\n", res.warm_errors);
    return 0;
}

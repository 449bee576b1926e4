/* import_common.c — what every importer needs: child processes without a shell, folders,
 * untrusted JSON and paths, sample lists and manifests. */
#define _GNU_SOURCE /* nftw's FTW_DEPTH / FTW_PHYS */
#include "import_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const IMPORT_SPLITS[3] = {"train", "val", "test"};

void import_log(mmc_log_fn log, void *user, const char *fmt, ...) {
    if (!log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(user, line);
}

/* ------------------------------------------------------------ processes */

/* fork + execvp: the argument vector reaches the program untouched, so a file name with
 * spaces or quotes is never re-parsed by a shell. */
int mmc_import_run(const char *const *argv, int quiet_stdout, mmc_error *err) {
    if (!argv || !argv[0]) return mmc_error_set(err, MMC_ERR_USAGE, "run: empty command");
    fflush(NULL); /* the child must not inherit and re-flush our buffered output */
    pid_t pid = fork();
    if (pid < 0) return mmc_error_set(err, MMC_ERR_RUNTIME, "cannot start %s: %s", argv[0], strerror(errno));
    if (pid == 0) {
        if (quiet_stdout) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) dup2(fd, STDOUT_FILENO);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return mmc_error_set(err, MMC_ERR_RUNTIME, "waiting for %s: %s", argv[0], strerror(errno));
    if (WIFSIGNALED(status))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s was killed by signal %d", argv[0], WTERMSIG(status));
    int code = WEXITSTATUS(status);
    if (code == 127) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: command not found (or could not run)", argv[0]);
    if (code) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s exited with status %d", argv[0], code);
    return MMC_OK;
}

/* -------------------------------------------------------------- folders */

int import_mkdirs(const char *path, mmc_error *err) {
    size_t n = strlen(path);
    char *p = import_strdup(path);
    if (!p) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    int rc = MMC_OK;
    for (size_t i = 1; i <= n && !rc; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        struct stat st;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            rc = mmc_error_set(err, MMC_ERR_RUNTIME, "cannot create folder %s: %s: %s", path, p, strerror(errno));
        else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = mmc_error_set(err, MMC_ERR_RUNTIME, "cannot create folder %s: %s is not a directory", path, p);
        p[i] = c;
    }
    mmc_free(p);
    return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

void import_rm_tree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

int import_write_file(const char *path, const void *buf, size_t n, mmc_error *err) {
    size_t len = strlen(path) + 32;
    char *tmp = mmc_malloc(len);
    if (!tmp) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    snprintf(tmp, len, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(buf, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    int e = errno;
    if (!ok) unlink(tmp);
    mmc_free(tmp);
    return ok ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot write: %s", path, strerror(e));
}

/* ------------------------------------------------------- untrusted data */

const char *import_bad_rel_path(const char *p) {
    size_t n = strlen(p);
    if (n == 0) return "is empty";
    if (n > 1024) return "is longer than 1024 bytes";
    if (p[0] == '/') return "is absolute";
    if (mmc_utf8_validate(p, n, NULL) != MMC_OK) return "is not valid UTF-8";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7F) return "contains a control character";
    for (const char *c = p; *c;) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 2 && c[0] == '.' && c[1] == '.') return "contains '..' (would leave its folder)";
        c += len + (end ? 1 : 0);
    }
    return NULL;
}

const char *import_json_str(const cJSON *v) {
    if (!cJSON_IsString(v) || !v->valuestring) return NULL;
    return mmc_utf8_validate(v->valuestring, strlen(v->valuestring), NULL) == MMC_OK ? v->valuestring : NULL;
}

/* -------------------------------------------------------------- samples */

char *import_strdup(const char *s) {
    size_t n = strlen(s);
    char *d = mmc_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

mmc_sample *import_samples_push(import_samples *s, mmc_error *err) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 1024;
        mmc_sample *v = mmc_realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            mmc_error_set(err, MMC_ERR_RUNTIME, "out of memory for %d samples", cap);
            return NULL;
        }
        s->v = v;
        s->cap = cap;
    }
    mmc_sample *x = &s->v[s->n++];
    memset(x, 0, sizeof *x);
    return x;
}

void import_samples_free(import_samples *s) {
    for (int i = 0; i < s->n; i++) mmc_sample_free(&s->v[i]);
    mmc_free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_id(const void *a, const void *b) {
    return strcmp(((const mmc_sample *)a)->id, ((const mmc_sample *)b)->id);
}

int import_samples_sort_unique(import_samples *s, const char *file, mmc_error *err) {
    if (s->n > 1) qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_id);
    for (int i = 1; i < s->n; i++)
        if (!strcmp(s->v[i].id, s->v[i - 1].id))
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s is listed twice", file, s->v[i].id);
    return MMC_OK;
}

const mmc_sample *import_samples_find(const import_samples *s, const char *id) {
    mmc_sample key = {.id = (char *)id};
    return s->n ? bsearch(&key, s->v, (size_t)s->n, sizeof *s->v, cmp_id) : NULL;
}

int import_add_caption(char ***list, int *n, const char *text) {
    if (!text || !*text) return 0;
    for (int i = 0; i < *n; i++)
        if (!strcmp((*list)[i], text)) return 0;
    char **v = mmc_realloc(*list, (size_t)(*n + 1) * sizeof *v);
    if (!v) return -1;
    *list = v;
    if (!(v[*n] = import_strdup(text))) return -1;
    (*n)++;
    return 0;
}

int import_write_manifests(const char *out, import_samples sp[3], mmc_error *err) {
    char path[4200];
    for (int s = 0; s < 3; s++) {
        snprintf(path, sizeof path, "%s/manifest-%s.jsonl", out, IMPORT_SPLITS[s]);
        if (!sp[s].n) {
            unlink(path); /* an old run's split would no longer match the images */
            continue;
        }
        int rc = mmc_manifest_write(path, sp[s].v, sp[s].n, err);
        if (rc) return rc;
    }
    return MMC_OK;
}

uint32_t import_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

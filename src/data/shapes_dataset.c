/* shapes_dataset.c — writing a split of the shapes world as a dataset folder:
 * DIR/images/SPLIT-NNNNNN.png and DIR/manifest-SPLIT.jsonl.
 *
 * Scenes are made in batches, each batch in parallel (every scene has its own rng stream,
 * so the thread count does not change a byte), and their manifest lines are kept in scene
 * order. The manifest is written last and atomically: a folder with a manifest has all
 * its images. */
#include "shapes_internal.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define BATCH 512
#define MAX_SCENES 10000000

/* mkdir -p: makes every missing folder of path. */
static int make_dirs(const char *path, mmc_error *err) {
    size_t n = strlen(path);
    char *p = mmc_malloc(n + 1);
    if (!p) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    memcpy(p, path, n + 1);
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
typedef struct image_ctx {
    const char *dir, *split;
    uint64_t seed;
    int size;
} image_ctx;

/* Makes scene `index`, writes its PNG, returns its manifest line (NULL + err on failure). */
static char *one_scene(void *ctx, int64_t index, uint8_t *rgb, mmc_error *err) {
    const image_ctx *c = ctx;
    mmc_sample s;
    if (mmc_shapes_make(c->seed, c->split, index, c->size, NULL, rgb, &s, err) != MMC_OK) return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", c->dir, s.image);
    char *line = NULL;
    if (mmc_png_write(path, c->size, c->size, 3, rgb, err) == MMC_OK) {
        line = mmc_sample_to_json(&s);
        if (!line) mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory writing the manifest line of %s", s.id);
    }
    mmc_sample_free(&s);
    return line;
}

/* Runs one batch in parallel; lines[i] for scene start + i. Returns MMC_OK or the error of
 * the lowest failing index (so the message does not depend on thread timing). */
static int run_batch(int64_t start, int m, size_t scratch_bytes, shapes_line_fn make, void *ctx, char **lines,
                     mmc_error *err) {
    int64_t bad = -1;
    mmc_error first = {0};
#pragma omp parallel num_threads(mmc_get_threads())
    {
        uint8_t *scratch = mmc_malloc(scratch_bytes);
#pragma omp for schedule(dynamic, 8)
        for (int i = 0; i < m; i++) {
            mmc_error e = {0};
            lines[i] = scratch ? make(ctx, start + i, scratch, &e) : NULL;
            if (!scratch) mmc_error_set(&e, MMC_ERR_RUNTIME, "shapes: out of memory for %zu bytes of pixels", scratch_bytes);
            if (!lines[i]) {
#pragma omp critical(mmc_shapes_error)
                if (bad < 0 || start + i < bad) bad = start + i, first = e;
            }
        }
        mmc_free(scratch);
    }
    if (bad < 0) return MMC_OK;
    return mmc_error_set(err, first.code ? first.code : MMC_ERR_RUNTIME, "%s", first.msg);
}

typedef struct textbuf { char *s; size_t n, cap; } textbuf;

static int append_line(textbuf *t, const char *line) {
    size_t l = strlen(line);
    if (t->n + l + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1 << 20;
        while (t->n + l + 1 > cap) cap *= 2;
        char *ns = mmc_realloc(t->s, cap);
        if (!ns) return 0;
        t->s = ns;
        t->cap = cap;
    }
    memcpy(t->s + t->n, line, l);
    t->s[t->n + l] = '\n';
    t->n += l + 1;
    return 1;
}

int shapes_write_lines(const char *dir, const char *split, int64_t n, const char *const *subdirs, size_t scratch_bytes,
                       shapes_line_fn make, void *ctx, mmc_progress_fn progress, void *user, mmc_error *err) {
    if (!dir || !*dir) return mmc_error_set(err, MMC_ERR_USAGE, "shapes: no output folder");
    if (n < 1 || n > MAX_SCENES)
        return mmc_error_set(err, MMC_ERR_USAGE, "shapes: %lld scenes requested (1 to %d)", (long long)n, MAX_SCENES);
    size_t dl = strlen(dir) + strlen(split) + 64;
    char *path = mmc_malloc(dl);
    char **lines = mmc_calloc(BATCH, sizeof(char *));
    textbuf t = {0};
    int rc = path && lines ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory");
    for (int k = 0; !rc && subdirs && subdirs[k]; k++) {
        snprintf(path, dl, "%s/%s", dir, subdirs[k]);
        rc = make_dirs(path, err);
    }
    for (int64_t start = 0; start < n && !rc; start += BATCH) {
        int m = (int)(n - start < BATCH ? n - start : BATCH);
        rc = run_batch(start, m, scratch_bytes, make, ctx, lines, err);
        for (int i = 0; i < m; i++) {
            if (!rc && !append_line(&t, lines[i])) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "shapes: out of memory");
            mmc_free(lines[i]);
            lines[i] = NULL;
        }
        if (!rc && progress) progress(user, start + m, n);
    }
    if (!rc) {
        snprintf(path, dl, "%s/manifest-%s.jsonl", dir, split);
        rc = mmc_write_file_atomic(path, t.s, t.n, err);
    }
    mmc_free(lines);
    mmc_free(t.s);
    mmc_free(path);
    return rc;
}

int mmc_shapes_write_split(const char *dir, const char *split, int64_t n, uint64_t seed, int size,
                           mmc_progress_fn progress, void *user, mmc_error *err) {
    if (!dir || !*dir) return mmc_error_set(err, MMC_ERR_USAGE, "shapes: no output folder");
    /* validates split and size before anything touches the disk */
    if (mmc_shapes_make(seed, split, 0, size, NULL, NULL, NULL, err) != MMC_OK) return err ? err->code : MMC_ERR_USAGE;
    static const char *const subdirs[] = {"images", NULL};
    image_ctx c = {dir, split, seed, size};
    return shapes_write_lines(dir, split, n, subdirs, (size_t)size * (size_t)size * 3, one_scene, &c, progress, user, err);
}

/* import_karpathy.c — Karpathy's split JSON (COCO, Flickr8k/30k) into a dataset folder.
 *
 * The images are not copied (COCO is 19 GB): out/images is a symbolic link to the images
 * folder, so every manifest path "images/FILEPATH/FILENAME" resolves inside out and the
 * manifest stays portable between machines that link differently. */
#include "import_internal.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_JSON_BYTES ((size_t)1 << 30)

/* train and restval (the 30k val images Karpathy moved to training) -> train. */
static int split_index(const char *s) {
    if (!strcmp(s, "train") || !strcmp(s, "restval")) return 0;
    if (!strcmp(s, "val")) return 1;
    if (!strcmp(s, "test")) return 2;
    return -1;
}

/* Captions of sentences[].raw, trimmed (raw text often ends in " \n"). */
static const char *read_sentences(const cJSON *arr, mmc_sample *s) {
    if (!cJSON_IsArray(arr)) return arr ? "must be an array" : "is missing";
    for (const cJSON *it = arr->child; it; it = it->next) {
        const char *raw = import_json_str(cJSON_GetObjectItemCaseSensitive(it, "raw"));
        if (!cJSON_IsObject(it) || !raw) return "must hold objects with a UTF-8 string \"raw\"";
        while (*raw == ' ' || *raw == '\t' || *raw == '\n' || *raw == '\r') raw++;
        size_t n = strlen(raw);
        while (n && (raw[n - 1] == ' ' || raw[n - 1] == '\t' || raw[n - 1] == '\n' || raw[n - 1] == '\r')) n--;
        char *t = mmc_malloc(n + 1);
        if (!t) return "(out of memory)";
        memcpy(t, raw, n);
        t[n] = 0;
        int rc = import_add_caption(&s->captions, &s->n_captions, t);
        mmc_free(t);
        if (rc) return "(out of memory)";
    }
    return NULL;
}

/* The image's path relative to the images folder; NULL with *why and *field on bad data. */
static char *rel_path(const cJSON *o, const char **field, const char **why) {
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(o, "filepath");
    const char *name = import_json_str(cJSON_GetObjectItemCaseSensitive(o, *field = "filename"));
    if (!name) return *why = "must be a UTF-8 string", NULL;
    if ((*why = import_bad_rel_path(name))) return NULL;
    if (strchr(name, '/')) return *why = "must be a file name, not a path", NULL;
    const char *dir = "";
    if (fp && !cJSON_IsNull(fp)) {
        *field = "filepath";
        if (!(dir = import_json_str(fp))) return *why = "must be a UTF-8 string", NULL;
        if (*dir && (*why = import_bad_rel_path(dir))) return NULL;
    }
    size_t n = strlen(dir) + strlen(name) + 2;
    if (n > 1000) return *field = "filename", *why = "makes a path longer than 1000 bytes", NULL;
    char *rel = mmc_malloc(n);
    if (!rel) return *why = "(out of memory)", NULL;
    snprintf(rel, n, "%s%s%s", dir, *dir ? "/" : "", name);
    return rel;
}

static int file_exists(const char *dir, const char *rel) {
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct karpathy_run {
    const char *file, *images_dir;
    import_samples sp[3];
    int64_t missing;
    mmc_log_fn log;
    void *user;
} karpathy_run;

/* One images[] entry: validated, then added to its split unless its file is missing. */
static int one_image(karpathy_run *r, const cJSON *o, int i, mmc_error *err) {
    const char *field = "", *why = NULL;
    if (!cJSON_IsObject(o)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: images[%d] is not an object", r->file, i);
    const char *split = import_json_str(cJSON_GetObjectItemCaseSensitive(o, "split"));
    int si = split ? split_index(split) : -1;
    if (si < 0)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: images[%d].split must be train, restval, val or test", r->file, i);
    char *rel = rel_path(o, &field, &why);
    if (!rel) return mmc_error_set(err, MMC_ERR_INPUT, "%s: images[%d].%s %s", r->file, i, field, why);
    if (!file_exists(r->images_dir, rel)) {
        if (r->missing++ < 3) import_log(r->log, r->user, "missing: %s/%s (skipped)", r->images_dir, rel);
        mmc_free(rel);
        return MMC_OK;
    }
    mmc_sample *s = import_samples_push(&r->sp[si], err);
    if (!s) return mmc_free(rel), MMC_ERR_RUNTIME;
    s->id = rel;
    size_t n = strlen(rel) + 8;
    if (!(s->image = mmc_malloc(n))) return mmc_error_set(err, MMC_ERR_RUNTIME, "out of memory");
    snprintf(s->image, n, "images/%s", rel);
    if ((why = read_sentences(cJSON_GetObjectItemCaseSensitive(o, "sentences"), s)))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: images[%d].sentences %s", r->file, i, why);
    return MMC_OK;
}

/* A repeated id (= relative path) means two entries for one file; the same file in two
 * splits would leak test images into training. */
static int sort_and_check(karpathy_run *r, mmc_error *err) {
    for (int s = 0; s < 3; s++)
        if (import_samples_sort_unique(&r->sp[s], r->file, err)) return MMC_ERR_INPUT;
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            for (int i = 0; i < r->sp[a].n; i++)
                if (import_samples_find(&r->sp[b], r->sp[a].v[i].id))
                    return mmc_error_set(err, MMC_ERR_INPUT, "%s: image %s is in two splits", r->file, r->sp[a].v[i].id);
    return MMC_OK;
}

/* out/images -> the absolute images folder; an existing link to the same place is kept. */
static int link_images(const char *out, const char *images_dir, mmc_error *err) {
    char target[PATH_MAX], link[PATH_MAX + 16], have[PATH_MAX];
    if (!realpath(images_dir, target))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s", images_dir, strerror(errno));
    snprintf(link, sizeof link, "%s/images", out);
    struct stat st;
    if (lstat(link, &st) == 0) {
        if (S_ISLNK(st.st_mode) && realpath(link, have) && !strcmp(have, target)) return MMC_OK;
        if (!S_ISLNK(st.st_mode))
            return mmc_error_set(err, MMC_ERR_RUNTIME, "%s exists and is not a link to %s (remove it or use another --out)",
                                 link, target);
        unlink(link); /* a link from an earlier import of another folder */
    }
    if (symlink(target, link) != 0)
        return mmc_error_set(err, MMC_ERR_RUNTIME, "cannot link %s -> %s: %s", link, target, strerror(errno));
    return MMC_OK;
}

static int read_all(karpathy_run *r, const cJSON *root, int *total, mmc_error *err) {
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(root, "images");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(images))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: expected an object with an array \"images\"", r->file);
    int i = 0, rc = MMC_OK;
    for (const cJSON *o = images->child; o && !rc; o = o->next, i++) rc = one_image(r, o, i, err);
    *total = i;
    if (!rc && i == 0) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: \"images\" is empty", r->file);
    if (!rc && r->missing == i)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "none of the %d images of %s is under %s (wrong --images folder?)", i,
                           r->file, r->images_dir);
    return rc;
}

int mmc_import_karpathy(const char *annotations, const char *images_dir, const char *out, mmc_log_fn log, void *user,
                        mmc_import_stats *st, mmc_error *err) {
    memset(st, 0, sizeof *st);
    karpathy_run r = {.file = annotations, .images_dir = images_dir, .log = log, .user = user};
    cJSON *root = NULL;
    int total = 0;
    int rc = mmc_json_load(annotations, MAX_JSON_BYTES, 0, &root, err);
    if (!rc) rc = read_all(&r, root, &total, err);
    cJSON_Delete(root);
    if (!rc) rc = sort_and_check(&r, err);
    if (!rc) rc = import_mkdirs(out, err);
    if (!rc) rc = link_images(out, images_dir, err);
    if (!rc) rc = import_write_manifests(out, r.sp, err);
    if (!rc && r.missing) import_log(log, user, "skipped %lld of %d images: file missing", (long long)r.missing, total);
    for (int s = 0; s < 3; s++) st->n[s] = rc ? 0 : r.sp[s].n, import_samples_free(&r.sp[s]);
    st->skipped = r.missing;
    return rc;
}

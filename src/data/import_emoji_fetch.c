/* import_emoji_fetch.c — the pinned npm tarballs: cache, verify, extract.
 *
 * Versions and sha512 integrity values are pinned here (what `npm view NAME@VERSION
 * dist.integrity` reported when they were chosen). A tarball is used only after its hash
 * matches, whether it came from the cache or from `npm pack` just now, so a changed
 * registry or a corrupted cache cannot feed us different data. npm and tar run as child
 * processes with argument vectors: no shell ever sees a path. */
#include "import_internal.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct npm_pin {
    const char *name, *version, *integrity;
    const char *members[3]; /* what to extract, relative to the tarball root */
} npm_pin;

static const npm_pin PINS[] = {
    {"emoji-datasource-google", "16.0.0",
     "sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A==",
     {"package/emoji.json", "package/img/google/64", NULL}},
    {"emoji-datasource-twitter", "16.0.0",
     "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ==",
     {"package/emoji.json", "package/img/twitter/64", NULL}},
    {"emojibase-data", "17.0.0",
     "sha512-Yvgb5AWoHViHV/gq1qr5ZAarcBip+B27/ZLRsUJkbgAEaLlZ/fof9g882LTpmEpyhBNEC0m2SEmItljHsTygjA==",
     {"package/en/data.json", "package/zh/data.json", NULL}},
};

static const npm_pin *find_pin(const char *package) {
    for (size_t i = 0; package && i < sizeof PINS / sizeof PINS[0]; i++)
        if (!strcmp(PINS[i].name, package)) return &PINS[i];
    return NULL;
}

const char *mmc_emoji_pinned(const char *package) {
    static _Thread_local char buf[128];
    const npm_pin *p = find_pin(package);
    if (!p) return NULL;
    snprintf(buf, sizeof buf, "%s@%s", p->name, p->version);
    return buf;
}

/* Puts a verified NAME-VERSION.tgz at tgz: the cached one if its hash matches, else a
 * fresh `npm pack` (a bad cached file is removed first, a bad download afterwards). */
static int ensure_tarball(const npm_pin *p, const char *cache_dir, const char *tgz, mmc_log_fn log, void *user,
                          mmc_error *err) {
    struct stat st;
    if (stat(tgz, &st) == 0 && !S_ISREG(st.st_mode)) /* a folder there: not ours to remove */
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: in the cache but not a regular file (remove it to fetch %s@%s again)",
                             tgz, p->name, p->version);
    if (stat(tgz, &st) == 0) {
        mmc_error e = {0};
        if (mmc_npm_integrity_check(tgz, p->integrity, &e) == MMC_OK) {
            import_log(log, user, "%s@%s: cached %s (integrity ok)", p->name, p->version, tgz);
            return MMC_OK;
        }
        import_log(log, user, "%s; fetching again", e.msg);
        unlink(tgz);
    }
    int rc = import_mkdirs(cache_dir, err);
    if (rc) return rc;
    char spec[128];
    snprintf(spec, sizeof spec, "%s@%s", p->name, p->version);
    const char *argv[] = {"npm", "pack", "--silent", "--pack-destination", cache_dir, spec, NULL};
    import_log(log, user, "+ npm pack --silent --pack-destination %s %s", cache_dir, spec);
    double t0 = mmc_now();
    mmc_error e = {0};
    if ((rc = mmc_import_run(argv, 1, &e)))
        return mmc_error_set(err, rc, "%s (is npm installed — Debian package npm — and the registry reachable?)", e.msg);
    if ((rc = mmc_npm_integrity_check(tgz, p->integrity, err))) {
        unlink(tgz);
        return rc;
    }
    stat(tgz, &st);
    import_log(log, user, "%s: %.1f MB in %.1f s (integrity ok)", spec, st.st_size / 1e6, mmc_now() - t0);
    return MMC_OK;
}

/* GNU tar refuses member names with ".." and absolute names by default; ownership and
 * modes from the archive are ignored. Links inside are caught when files are read. */
static int extract(const npm_pin *p, const char *tgz, const char *dest, mmc_error *err) {
    const char *argv[16] = {"tar", "-xzf", tgz, "-C", dest, "--no-same-owner", "--no-same-permissions", "--"};
    int n = 8;
    for (int i = 0; i < 3 && p->members[i]; i++) argv[n++] = p->members[i];
    argv[n] = NULL;
    mmc_error e = {0};
    return mmc_import_run(argv, 0, &e) ? mmc_error_set(err, MMC_ERR_INPUT, "extracting %s: %s", tgz, e.msg) : MMC_OK;
}

int mmc_emoji_fetch(const char *package, const char *cache_dir, const char *dest, mmc_log_fn log, void *user,
                    mmc_error *err) {
    mmc_error local = {0};
    if (!err) err = &local;
    const npm_pin *p = find_pin(package);
    if (!p) return mmc_error_set(err, MMC_ERR_USAGE, "emoji: no pinned version of npm package '%s'", package);
    char tgz[PATH_MAX];
    snprintf(tgz, sizeof tgz, "%s/%s-%s.tgz", cache_dir, p->name, p->version);
    int rc = ensure_tarball(p, cache_dir, tgz, log, user, err);
    if (!rc) rc = import_mkdirs(dest, err);
    if (!rc) {
        double t0 = mmc_now();
        rc = extract(p, tgz, dest, err);
        if (!rc) import_log(log, user, "%s: extracted in %.1f s", p->name, mmc_now() - t0);
    }
    return rc;
}

/* tmp is at most 2100 bytes, so every folder below fits in PATH_MAX. */
static int fetch_all(mmc_emoji_opts *o, const char *cache_dir, const char tmp[2100], char dirs[][PATH_MAX],
                     mmc_error *err) {
    char pkg[64];
    snprintf(dirs[0], PATH_MAX, "%s/emojibase-data", tmp);
    int rc = mmc_emoji_fetch("emojibase-data", cache_dir, dirs[0], o->log, o->user, err);
    strncat(dirs[0], "/package", PATH_MAX - strlen(dirs[0]) - 1);
    o->emojibase_dir = dirs[0];
    for (int k = 0; k < o->n_styles && k < MMC_EMOJI_MAX_STYLES && !rc; k++) {
        snprintf(pkg, sizeof pkg, "emoji-datasource-%s", o->styles[k] ? o->styles[k] : "");
        snprintf(dirs[k + 1], PATH_MAX, "%s/%s", tmp, pkg);
        rc = mmc_emoji_fetch(pkg, cache_dir, dirs[k + 1], o->log, o->user, err);
        strncat(dirs[k + 1], "/package", PATH_MAX - strlen(dirs[k + 1]) - 1);
        o->style_dirs[k] = dirs[k + 1];
    }
    return rc;
}

int mmc_import_emoji(mmc_emoji_opts *o, const char *cache_dir, mmc_import_stats *st, mmc_error *err) {
    mmc_error local = {0};
    if (!err) err = &local;
    memset(st, 0, sizeof *st);
    if (!o->out || !*o->out || !cache_dir) return mmc_error_set(err, MMC_ERR_USAGE, "emoji: no output or cache folder");
    if (strlen(o->out) > 2048) return mmc_error_set(err, MMC_ERR_USAGE, "emoji: output folder name is too long");
    char tmp[2100], dirs[1 + MMC_EMOJI_MAX_STYLES][PATH_MAX];
    int rc = import_mkdirs(o->out, err);
    snprintf(tmp, sizeof tmp, "%s/.extract-XXXXXX", o->out);
    if (!rc && !mkdtemp(tmp)) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
    if (rc) return rc;
    rc = fetch_all(o, cache_dir, tmp, dirs, err);
    if (!rc) rc = mmc_import_emoji_build(o, st, err);
    import_rm_tree(tmp);
    return rc;
}

/* tmpdir.h — for fuzz targets whose parser only takes a path: a private temporary folder
 * per process (made once, under /dev/shm when it is writable, so the per-input write is a
 * memory copy rather than disk I/O), and a helper that writes one input file into it.
 * The folder and its files are removed at exit; a fuzzer killed by a crash leaves an
 * mmc-fuzz-<pid>-* folder behind, which is harmless. fz_rm_tree removes a folder a target
 * made below it (an importer's output) between inputs. Header-only: each fuzz_<name>.c is
 * compiled on its own (CMake globs fuzz/fuzz_*.c, not this file). */
#ifndef MMC_FUZZ_TMPDIR_H
#define MMC_FUZZ_TMPDIR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <ftw.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[512];

static int fz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(p); /* a file, a link (not followed) or an emptied folder */
    return 0;
}

/* rm -r of a folder below fz_dir (never follows links: FTW_PHYS). */
static void fz_rm_tree(const char *path) {
    nftw(path, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fz_cleanup(void) {
    if (!fz_dir[0]) return;
    fz_rm_tree(fz_dir);
    fz_dir[0] = 0;
}

/* The folder, made on first use. Failing to make it is the machine's fault, not the
 * input's: abort, so the run stops instead of silently testing nothing. */
static const char *fz_tmpdir(void) {
    if (fz_dir[0]) return fz_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/mmc-fuzz-%ld-XXXXXX", base, (long)getpid());
    if (!mkdtemp(fz_dir)) {
        fprintf(stderr, "fuzz: cannot make a temporary folder under %s\n", base);
        abort();
    }
    atexit(fz_cleanup);
    return fz_dir;
}

/* Writes n bytes as <tmpdir>/name (replacing it) and puts the path in path[cap]. */
static const char *fz_write(char *path, size_t cap, const char *name, const void *data, size_t n) {
    snprintf(path, cap, "%s/%s", fz_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
    return path;
}

#endif

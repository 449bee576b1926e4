/* replay.c — a main() for the fuzz targets without libFuzzer.
 *
 * Linked with one fuzz/fuzz_<name>.c, it feeds every file named on the command line (a
 * directory means every regular file in it, not recursing) to LLVMFuzzerTestOneInput, in
 * sorted order so runs are reproducible. This is how ctest replays committed crash
 * reproducers and seeds in the ordinary Release and Asan builds: a regression is a crash
 * (or an ASan/UBSan report) here, exactly as it was under the fuzzer.
 *
 * Exit 0 when every input ran; 2 when an input could not be read (a missing regression
 * folder is not an error: the target simply has no reproducers yet). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "replay: cannot open %s\n", path); return 2; }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); fprintf(stderr, "replay: out of memory reading %s\n", path); return 2; }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); fprintf(stderr, "replay: read error on %s\n", path); return 2; }
    /* An exact-size copy, so ASan catches a read one past the end as libFuzzer would. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) { free(buf); return 2; }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *count) {
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "replay: cannot open folder %s\n", dir); return 2; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue; /* ., .., and README-style dotfiles */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) { rc = 2; break; }
            names = nn;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) { rc = 2; break; }
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (rc == 0 && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
            rc = run_file(names[i]);
            ++*count;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    int count = 0, rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) continue; /* no reproducers for this target yet */
        if (S_ISDIR(sb.st_mode)) rc = run_dir(argv[i], &count);
        else { rc = run_file(argv[i]); count++; }
    }
    printf("replay: %d inputs%s\n", count, rc ? ", stopped on an error" : "");
    return rc;
}

/* main.c — the test runner: `mmc_tests NAME` runs one test, `mmc_tests` runs all,
 * `mmc_tests --list` lists them. Exit 0 pass, 1 fail, 77 skip (ctest's SKIP_RETURN_CODE). */
#include "test.h"
#include <stdarg.h>
#include <stdlib.h>

#define MAX_TESTS 1024
static struct { const char *name; mmc_test_fn fn; } g_tests[MAX_TESTS];
static int g_ntests, g_failures, g_skipped;

void mmc_test_register(const char *name, mmc_test_fn fn) {
    if (g_ntests < MAX_TESTS) {
        g_tests[g_ntests].name = name;
        g_tests[g_ntests].fn = fn;
        g_ntests++;
    }
}

void mmc_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_failures++;
}

void mmc_test_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "SKIP: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_skipped = 1;
}

const char *test_path(const char *rel) {
    static char buf[4096];
    const char *root = getenv("MMC_SOURCE_DIR");
    if (!root) root = MMC_SOURCE_DIR;
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    return buf;
}

static int run(int i) {
    g_failures = 0;
    g_skipped = 0;
    double t0 = mmc_now();
    g_tests[i].fn();
    double dt = mmc_now() - t0;
    if (g_failures) {
        printf("[FAIL] %s (%d failures, %.2fs)\n", g_tests[i].name, g_failures, dt);
        return 1;
    }
    printf("[%s] %s (%.2fs)\n", g_skipped ? "SKIP" : " OK ", g_tests[i].name, dt);
    return g_skipped ? 77 : 0;
}

int main(int argc, char **argv) {
    mmc_set_threads(0);
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < g_ntests; i++) printf("%s\n", g_tests[i].name);
        return 0;
    }
    if (argc > 1) {
        int rc = 0;
        for (int a = 1; a < argc; a++) {
            int found = 0;
            for (int i = 0; i < g_ntests; i++)
                if (strcmp(g_tests[i].name, argv[a]) == 0) {
                    found = 1;
                    int r = run(i);
                    if (r == 1 || (r == 77 && rc == 0)) rc = r;
                }
            if (!found) {
                fprintf(stderr, "no test named %s (see --list)\n", argv[a]);
                return 2;
            }
        }
        return rc;
    }
    int failed = 0, passed = 0, skipped = 0;
    for (int i = 0; i < g_ntests; i++) {
        int r = run(i);
        if (r == 1) failed++;
        else if (r == 77) skipped++;
        else passed++;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

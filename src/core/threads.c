/* threads.c — the one thread-count knob, shared by OpenMP loops and OpenBLAS. */
#include "internal.h"
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef MMC_HAVE_OPENBLAS
void openblas_set_num_threads(int);
#endif

static int g_threads; /* 0: not yet decided */

void mmc_set_threads(int n) {
    if (n <= 0) {
        const char *env = getenv("MMC_THREADS");
        n = env ? atoi(env) : 0;
        if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (n <= 0) n = 1;
    }
    if (n > 1024) n = 1024;
    g_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#ifdef MMC_HAVE_OPENBLAS
    openblas_set_num_threads(n);
#endif
}

int mmc_get_threads(void) {
    if (!g_threads) mmc_set_threads(0);
    return g_threads;
}

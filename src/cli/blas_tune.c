/* blas_tune.c — make OpenBLAS use the kernels this CPU can run.
 *
 * Debian 12's OpenBLAS 0.3.21 picks its kernels once, when the library loads, from the
 * CPU model. On VMs that report a generic "Intel Xeon Processor" it falls back to its
 * Prescott (SSE3) kernels: measured 5.7 GFLOP/s on gemm-1024 against 32.9 with the
 * SkylakeX kernels on the same 2-core AVX-512 machine, and training ran 5x slower.
 * OPENBLAS_CORETYPE overrides the choice, but only before the library loads, so the CLI
 * sets it and re-executes itself once. A user's own OPENBLAS_CORETYPE always wins, and
 * MMC_BLAS_NO_REEXEC=1 turns this off. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Weak: absent when mmc is built without OpenBLAS. */
extern char *openblas_get_corename(void) __attribute__((weak));

void cli_tune_blas(char **argv) {
    if (!openblas_get_corename || getenv("OPENBLAS_CORETYPE") || getenv("MMC_BLAS_NO_REEXEC")) return;
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return;
    __builtin_cpu_init();
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv); /* returns only on failure: carry on with the slow kernels */
}

/* cpu.c — what this CPU can run, asked once and cached (include/mmc/core.h, "cpu features").
 *
 * Every kernel with a vector path (src/ops/gemm.c, gemm_kernels.c, conv_direct.c, vmath.c,
 * src/index/search.c) asks these functions, not the CPU: one place that knows how to ask
 * and one answer for the whole process. __builtin_cpu_supports reads cpuid and also checks
 * that the OS saves the wider registers (xgetbv), so a "yes" here means the code can run. */
#include "mmc/core.h"

enum {
    F_ASKED = 1u << 0, /* set once the CPU has been asked, so 0 means "not yet" */
    F_AVX2 = 1u << 1,
    F_FMA = 1u << 2,
    F_AVX512F = 1u << 3,
    F_AVX512BW = 1u << 4,
    F_AVX512VL = 1u << 5,
    F_AVX512_VNNI = 1u << 6,
};

static unsigned ask_cpu(void) {
    unsigned f = F_ASKED;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init(); /* a no-op once libgcc's constructor has run */
    if (__builtin_cpu_supports("avx2")) f |= F_AVX2;
    if (__builtin_cpu_supports("fma")) f |= F_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= F_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= F_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) f |= F_AVX512VL;
    if (__builtin_cpu_supports("avx512vnni")) f |= F_AVX512_VNNI;
#endif
    return f;
}

static unsigned features(void) {
    static unsigned cached; /* racing first calls store the same value */
    unsigned f = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!f) __atomic_store_n(&cached, f = ask_cpu(), __ATOMIC_RELAXED);
    return f;
}

int mmc_cpu_has_avx2(void) { return (features() & F_AVX2) != 0; }
int mmc_cpu_has_fma(void) { return (features() & F_FMA) != 0; }
int mmc_cpu_has_avx512f(void) { return (features() & F_AVX512F) != 0; }
int mmc_cpu_has_avx512bw(void) { return (features() & F_AVX512BW) != 0; }
int mmc_cpu_has_avx512vl(void) { return (features() & F_AVX512VL) != 0; }
int mmc_cpu_has_avx512_vnni(void) { return (features() & F_AVX512_VNNI) != 0; }

/*
 * simd.h — AVX2 / AVX-512 helpers that more than one kernel uses (internal; x86 only).
 * Like the kernels, each is compiled for its instruction set with a function attribute
 * (not -march), so the library still runs anywhere: call one only when the CPU has it,
 * as mmc_cpu_has_avx2() / mmc_cpu_has_avx512f() say (include/mmc/core.h, src/core/cpu.c).
 * MMC_SIMD_X86 is defined where they exist.
 */
#ifndef MMC_OPS_SIMD_H
#define MMC_OPS_SIMD_H

#include <stdint.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define MMC_SIMD_X86 1
#include <immintrin.h>

/* AVX2: 8 rows of 8 floats (src, row stride lds) -> 8 columns, column q stored at
 * dst + q·ldd. The usual unpack / shuffle / lane-permute transpose: 24 shuffles per 64
 * floats instead of 64 scalar stores, each to a different cache line. For packing
 * (gemm.c, conv_direct.c). */
__attribute__((target("avx2"))) static inline void mmc_transpose8(const float *src, int64_t lds,
                                                                   float *dst, int64_t ldd) {
    __m256 r[8], t[8], s[8];
    for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(src + q * lds);
    for (int q = 0; q < 8; q += 2) {
        t[q] = _mm256_unpacklo_ps(r[q], r[q + 1]);
        t[q + 1] = _mm256_unpackhi_ps(r[q], r[q + 1]);
    }
    for (int q = 0; q < 8; q += 4) {
        s[q] = _mm256_shuffle_ps(t[q], t[q + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int q = 0; q < 4; q++) {
        _mm256_storeu_ps(dst + q * ldd, _mm256_permute2f128_ps(s[q], s[q + 4], 0x20));
        _mm256_storeu_ps(dst + (q + 4) * ldd, _mm256_permute2f128_ps(s[q], s[q + 4], 0x31));
    }
}

/* AVX-512F: 16 rows of 16 floats (src, row stride lds) -> 16 columns, column q at
 * dst + q·ldd: four rounds of 16 shuffles (32-bit, 64-bit, then 128-bit lanes twice) for
 * 256 values, against 24 per 64 in mmc_transpose8. For packing (gemm.c, conv_direct.c). */
__attribute__((target("avx512f"))) static inline void mmc_transpose16(const float *src, int64_t lds,
                                                                      float *dst, int64_t ldd) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * lds);
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
        __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++) {
            t[8 * h + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + j + 4], 0x88);
            t[8 * h + j + 4] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
    }
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + i * ldd, r[i]);
}
#endif

#endif

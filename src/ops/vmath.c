/* vmath.c — see vmath.h. */
#include "vmath.h"
#include "mmc/core.h"
#include <math.h>
#include <string.h>

static int g_force_scalar;

int mmc_vmath_force_scalar(int on) {
    return __atomic_exchange_n(&g_force_scalar, on ? 1 : 0, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- scalar */

static void exp_scalar(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

static void qgelu_scalar(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

static void qgelu_backward_scalar(const float *x, const float *g, float *gx, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-1.702f * x[i]));
        gx[i] += g[i] * (s + 1.702f * x[i] * s * (1.0f - s));
    }
}

static void row_stats_scalar(const float *x, int n, float eps, float *mean, float *rstd) {
    double s = 0.0, ss = 0.0;
    for (int j = 0; j < n; j++) s += x[j];
    double m = s / n;
    for (int j = 0; j < n; j++) {
        double d = x[j] - m;
        ss += d * d;
    }
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(ss / n + eps));
}

/* ---------------------------------------------------------------- AVX-512 */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_V512 1
#define T512 __attribute__((target("avx512f")))

static int use_v512(void) {
    return mmc_cpu_has_avx512f() && !__atomic_load_n(&g_force_scalar, __ATOMIC_RELAXED);
}

/* e^x for 16 lanes (see vmath.h). Clamping to [-104, 89] keeps n finite; the operand
 * order of max/min passes a NaN in x through. */
T512 static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x); /* ln 2 in two parts */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

T512 static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

T512 static void exp_v512(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

T512 static inline __m512 qgelu16(__m512 x) {
    __m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(-1.702f), x));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

T512 static void qgelu_v512(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, qgelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

T512 static void qgelu_backward_v512(const float *x, const float *g, float *gx, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f), k = _mm512_set1_ps(1.702f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_mul_ps(_mm512_set1_ps(-1.702f), xv))));
        /* s + 1.702 x s (1 - s), in the scalar path's order */
        __m512 d = _mm512_add_ps(s, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(k, xv), s), _mm512_sub_ps(one, s)));
        __m512 acc = _mm512_maskz_loadu_ps(m, gx + i);
        _mm512_mask_storeu_ps(gx + i, m, _mm512_add_ps(acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, g + i), d)));
    }
}

T512 static int softmax_row_v512(float *x, int n) {
    __m512 vmx = _mm512_set1_ps(-INFINITY);
    __mmask16 nan = 0;
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = tail_mask(n - j);
        __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + j);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        vmx = _mm512_max_ps(vmx, v);
    }
    float mx = _mm512_reduce_max_ps(vmx);
    if (nan || !(mx > -INFINITY)) return 0;
    __m512 vm = _mm512_set1_ps(mx), vs = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = tail_mask(n - j);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), vm));
        e = _mm512_maskz_mov_ps(m, e);
        vs = _mm512_add_ps(vs, e);
        _mm512_mask_storeu_ps(x + j, m, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vs));
    for (int j = 0; j < n; j += 16) {
        __mmask16 m = tail_mask(n - j);
        _mm512_mask_storeu_ps(x + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), inv));
    }
    return 1;
}

/* Both passes in double, 8 lanes at a time; the tail (n mod 8) in scalar double. */
T512 static void row_stats_v512(const float *x, int n, float eps, float *mean, float *rstd) {
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm256_loadu_ps(x + j)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_loadu_ps(x + j + 8)));
    }
    for (; j + 8 <= n; j += 8) s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm256_loadu_ps(x + j)));
    double s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (; j < n; j++) s += x[j];
    double m = s / n;
    __m512d vm = _mm512_set1_pd(m);
    s0 = s1 = _mm512_setzero_pd();
    for (j = 0; j + 16 <= n; j += 16) {
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)), vm);
        __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j + 8)), vm);
        s0 = _mm512_fmadd_pd(d0, d0, s0);
        s1 = _mm512_fmadd_pd(d1, d1, s1);
    }
    for (; j + 8 <= n; j += 8) {
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)), vm);
        s0 = _mm512_fmadd_pd(d0, d0, s0);
    }
    double ss = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (; j < n; j++) {
        double d = x[j] - m;
        ss += d * d;
    }
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(ss / n + eps));
}
#else
static int use_v512(void) { return 0; }
#endif

/* ---------------------------------------------------------------- dispatch */

void mmc_vexp(const float *x, float *y, int64_t n) {
#ifdef HAVE_V512
    if (use_v512()) { exp_v512(x, y, n); return; }
#endif
    exp_scalar(x, y, n);
}

void mmc_vqgelu(const float *x, float *y, int64_t n) {
#ifdef HAVE_V512
    if (use_v512()) { qgelu_v512(x, y, n); return; }
#endif
    qgelu_scalar(x, y, n);
}

void mmc_vqgelu_backward(const float *x, const float *g, float *gx, int64_t n) {
#ifdef HAVE_V512
    if (use_v512()) { qgelu_backward_v512(x, g, gx, n); return; }
#endif
    qgelu_backward_scalar(x, g, gx, n);
}

int mmc_vsoftmax_row(float *x, int n) {
#ifdef HAVE_V512
    if (use_v512()) return softmax_row_v512(x, n);
#endif
    (void)x, (void)n;
    return 0;
}

void mmc_vrow_stats(const float *x, int n, float eps, float *mean, float *rstd) {
#ifdef HAVE_V512
    if (use_v512()) { row_stats_v512(x, n, eps, mean, rstd); return; }
#endif
    row_stats_scalar(x, n, eps, mean, rstd);
}

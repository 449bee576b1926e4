/* qgemm.c — int8 / int4 weights and the products that use them (see qgemm.h for the
 * arithmetic and the packed layout).
 *
 * Weights: q8 is symmetric per output channel (sw = max|w| / 127, q = round(w / sw));
 * q4 is per channel and group of 32 inputs, q in −8..7, sw chosen to make the group's
 * squared rounding error small (q4_scale).
 * Activations: each row of X gets its own scale and zero point over [min(x, 0), max(x, 0)]
 * (so 0 is exact and a one-signed row such as GELU's output uses all 256 levels):
 * sa = (hi − lo) / 255, z = round(−lo / sa), u = clamp(round(x / sa) + z, 0, 255) — x / sa
 * computed as x · (1 / sa) by every kernel. A row with a NaN or an infinity gives NaN
 * outputs, as the float product would.
 *
 * Kernels: "avx512-vnni" (vpdpbusd: 24 int32 accumulators for a 6 × 64 tile, four 64-byte
 * weight loads and six broadcasts per 4 inputs) and "generic" (plain C, any CPU). They are
 * compiled with function attributes, picked at run time, and produce identical bits. */
#include "qgemm.h"
#include "internal.h"
#include "mmc/ops.h"
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#define MMC_QGEMM_X86 1
#include <immintrin.h>
#endif

enum { MAX_K = 32768 }; /* keeps z · Σq and Σ u·q inside int32 */

static int round_up(int x, int m) { return (x + m - 1) / m * m; }
static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ------------------------------------------------------------------ weights */

void mmc_qweight_free(mmc_qweight *w) {
    if (!w) return;
    if (w->view) {
        mmc_free(w);
        return;
    }
    mmc_free(w->data);
    mmc_free(w->scale);
    mmc_free(w->colsum);
    mmc_free(w->corr);
    mmc_free(w);
}

size_t mmc_qweight_bytes(const mmc_qweight *w) {
    if (!w) return 0;
    if (w->view) return sizeof *w;
    size_t d = w->type == MMC_QTYPE_Q4 ? (size_t)w->np * w->kp / 2 + sizeof(float) * (size_t)w->np
                                       : (size_t)w->np * w->kp;
    return d + (size_t)w->groups * w->np * (sizeof(float) + sizeof(int32_t)) + sizeof *w;
}

int mmc_qweight_type(const mmc_qweight *w) { return w ? w->type : 0; }

static mmc_qweight *qweight_alloc(int type, int out, int in, mmc_error *err) {
    if ((type != MMC_QTYPE_Q8 && type != MMC_QTYPE_Q4) || out < 1 || in < 1 || in > MAX_K || out > (1 << 24)) {
        mmc_error_set(err, MMC_ERR_USAGE, "quantize: a (%d, %d) matrix as type %d: need 1 <= in <= %d, out >= 1", out,
                      in, type, MAX_K);
        return NULL;
    }
    mmc_qweight *w = mmc_calloc(1, sizeof *w);
    if (!w) goto oom;
    w->type = type, w->out = out, w->in = in;
    w->kp = round_up(in, type == MMC_QTYPE_Q4 ? MMC_Q4_GROUP : 4);
    w->np = round_up(out, MMC_QNR);
    w->groups = type == MMC_QTYPE_Q4 ? w->kp / MMC_Q4_GROUP : 1;
    size_t nd = type == MMC_QTYPE_Q4 ? (size_t)w->np * w->kp / 2 : (size_t)w->np * w->kp;
    w->data = mmc_aligned_malloc(64, nd);
    w->scale = mmc_aligned_malloc(64, sizeof(float) * (size_t)w->groups * w->np);
    w->colsum = mmc_aligned_malloc(64, sizeof(int32_t) * (size_t)w->groups * w->np);
    w->corr = type == MMC_QTYPE_Q4 ? mmc_aligned_malloc(64, sizeof(float) * (size_t)w->np) : NULL;
    if (!w->data || !w->scale || !w->colsum || (type == MMC_QTYPE_Q4 && !w->corr)) goto oom;
    if (w->corr) memset(w->corr, 0, sizeof(float) * (size_t)w->np);
    memset(w->data, type == MMC_QTYPE_Q4 ? 0x88 : 0, nd); /* q4 nibbles hold q + 8: 0x88 is zero */
    memset(w->scale, 0, sizeof(float) * (size_t)w->groups * w->np);
    memset(w->colsum, 0, sizeof(int32_t) * (size_t)w->groups * w->np);
    return w;
oom:
    mmc_qweight_free(w);
    mmc_error_set(err, MMC_ERR_RUNTIME, "quantize: out of memory for a (%d, %d) matrix", out, in);
    return NULL;
}

/* A matrix and a row of `in` bytes to build it with (freed by the caller); NULL + err. */
static mmc_qweight *qweight_alloc_row(int type, int out, int in, int8_t **row, mmc_error *err) {
    mmc_qweight *w = qweight_alloc(type, out, in, err);
    if (w && !(*row = mmc_malloc((size_t)in))) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "quantize: out of memory");
        mmc_qweight_free(w);
        return NULL;
    }
    return w;
}

/* Where q[n][k] lives in the packed data: its byte, and for q4 the nibble (0 low, 1 high). */
static size_t packed_at(const mmc_qweight *w, int n, int k, int *nibble) {
    int p = n / MMC_QNR, j = n % MMC_QNR, t = k % 4;
    if (w->type == MMC_QTYPE_Q8) {
        *nibble = 0;
        return (size_t)p * w->kp * MMC_QNR + (size_t)(k / 4) * 256 + (size_t)j * 4 + t;
    }
    int pair = k / 8;
    *nibble = (k / 4) & 1;
    return (size_t)p * w->kp * MMC_QNR / 2 + (size_t)pair * 256 + (size_t)j * 4 + t;
}

/* Row n of W (its `in` values, q8 −127..127 or q4 −8..7) into the packed layout, with the
 * row's column sums per group. */
static void put_row(mmc_qweight *w, int n, const int8_t *q) {
    const int p = n / MMC_QNR, j = n % MMC_QNR, G = w->type == MMC_QTYPE_Q4 ? MMC_Q4_GROUP : w->in;
    if (w->type == MMC_QTYPE_Q8) {
        uint8_t *base = w->data + (size_t)p * w->kp * MMC_QNR + (size_t)j * 4;
        for (int k = 0; k < w->in; k++) base[(size_t)(k >> 2) * 256 + (k & 3)] = (uint8_t)q[k];
    } else {
        uint8_t *base = w->data + (size_t)p * w->kp * MMC_QNR / 2 + (size_t)j * 4;
        for (int k = 0; k < w->in; k++) {
            uint8_t *at = base + (size_t)(k >> 3) * 256 + (k & 3), v = (uint8_t)(q[k] + 8);
            *at = (k >> 2) & 1 ? (uint8_t)((*at & 0x0F) | (v << 4)) : (uint8_t)((*at & 0xF0) | v);
        }
    }
    for (int g = 0; g < w->groups; g++) {
        int32_t sum = 0;
        for (int k = g * G; k < (g + 1) * G && k < w->in; k++) sum += q[k];
        w->colsum[(size_t)g * w->np + n] = sum;
    }
}

static int get_q(const mmc_qweight *w, int n, int k) {
    int nib;
    size_t at = packed_at(w, n, k, &nib);
    if (w->type == MMC_QTYPE_Q8) return (int8_t)w->data[at];
    return (int)((w->data[at] >> (nib ? 4 : 0)) & 0x0F) - 8;
}

static int group_len(const mmc_qweight *w) { return w->type == MMC_QTYPE_Q4 ? MMC_Q4_GROUP : w->in; }

/* q4: the per-channel zero-point correction, in group order as the kernels' float sums run. */
static void fill_corr(mmc_qweight *w) {
    if (!w->corr) return;
    for (int n = 0; n < w->out; n++) {
        float c = 0.0f;
        for (int g = 0; g < w->groups; g++)
            c = fmaf((float)w->colsum[(size_t)g * w->np + n], w->scale[(size_t)g * w->np + n], c);
        w->corr[n] = c;
    }
}

/* q4's scale for one group: 16 levels −8..7 are few, so instead of max|w| / 7 the scale
 * that makes the squared rounding error of the group smallest among candidates amax / d
 * (d from 6 to 9 in steps of 1/4), each also refitted by least squares to the values it
 * rounds to (s = Σ w·q / Σ q²). On Gaussian weights this lowers the error by about a fifth. */
static float q4_err(const float *x, int n, float s, float *refit) {
    double e = 0, wq = 0, qq = 0;
    for (int k = 0; k < n; k++) {
        float q = nearbyintf(x[k] / s);
        if (q > 7.0f) q = 7.0f;
        if (q < -8.0f) q = -8.0f;
        double d = x[k] - s * q;
        e += d * d, wq += (double)x[k] * q, qq += (double)q * q;
    }
    *refit = qq > 0 ? (float)(wq / qq) : s;
    return (float)e;
}

static float q4_scale(const float *x, int n, float amax) {
    if (!(amax > 0.0f)) return 0.0f;
    float best = amax / 7.0f, r;
    float best_e = q4_err(x, n, best, &r);
    for (int i = 0; i <= 12; i++) {
        float s = amax / (6.0f + 0.25f * (float)i), r2;
        float e = q4_err(x, n, s, &r);
        if (e < best_e) best_e = e, best = s;
        if (r > 0.0f && (e = q4_err(x, n, r, &r2)) < best_e) best_e = e, best = r;
    }
    return best;
}

mmc_qweight *mmc_qweight_quantize(const float *src, int out, int in, int type, mmc_error *err) {
    int8_t *qrow = NULL;
    mmc_qweight *w = qweight_alloc_row(type, out, in, &qrow, err);
    if (!w) return NULL;
    const int G = group_len(w), qmax = type == MMC_QTYPE_Q4 ? 7 : 127;
    for (int n = 0; n < out; n++) {
        const float *row = src + (size_t)n * in;
        for (int g = 0; g < w->groups; g++) {
            int k0 = g * G, k1 = k0 + G < in ? k0 + G : in;
            float amax = 0.0f;
            for (int k = k0; k < k1; k++) {
                if (!isfinite(row[k])) {
                    mmc_free(qrow);
                    mmc_qweight_free(w);
                    mmc_error_set(err, MMC_ERR_INPUT, "quantize: weight [%d][%d] is %g", n, k, (double)row[k]);
                    return NULL;
                }
                float a = fabsf(row[k]);
                if (a > amax) amax = a;
            }
            float s = type == MMC_QTYPE_Q4 ? q4_scale(row + k0, k1 - k0, amax) : amax / (float)qmax;
            int qlo = type == MMC_QTYPE_Q4 ? -8 : -qmax;
            w->scale[(size_t)g * w->np + n] = s;
            for (int k = k0; k < k1; k++) {
                float q = s > 0.0f ? nearbyintf(row[k] / s) : 0.0f;
                if (q > (float)qmax) q = (float)qmax;
                if (q < (float)qlo) q = (float)qlo;
                qrow[k] = (int8_t)q;
            }
        }
        put_row(w, n, qrow);
    }
    mmc_free(qrow);
    fill_corr(w);
    return w;
}

/* Stored form (docs/formats.md): q8 — q (out, in) int8 row-major, scale (out);
 * q4 — q (out, ceil(in / 2)) bytes, input 2c in the low nibble and 2c + 1 in the high, each
 * as q + 8, scale (out, ceil(in / 32)). */
size_t mmc_qweight_stored_bytes(int type, int out, int in) {
    return type == MMC_QTYPE_Q4 ? (size_t)out * (size_t)((in + 1) / 2) : (size_t)out * (size_t)in;
}
int mmc_qweight_stored_groups(int type, int in) { return type == MMC_QTYPE_Q4 ? (in + MMC_Q4_GROUP - 1) / MMC_Q4_GROUP : 1; }

mmc_qweight *mmc_qweight_from_stored(int type, int out, int in, const void *q, const float *scale, const char *what,
                                     mmc_error *err) {
    int8_t *qrow = NULL;
    mmc_qweight *w = qweight_alloc_row(type, out, in, &qrow, err);
    if (!w) return NULL;
    const uint8_t *b = q;
    int ng = mmc_qweight_stored_groups(type, in), qmax = type == MMC_QTYPE_Q4 ? 7 : 127;
    for (int n = 0; n < out; n++) {
        for (int g = 0; g < ng; g++) {
            float s = scale[(size_t)n * ng + g];
            if (!isfinite(s) || s < 0.0f || s > 1e30f) {
                mmc_free(qrow);
                mmc_qweight_free(w);
                mmc_error_set(err, MMC_ERR_INPUT, "%s: scale [%d][%d] is %g (want a finite value >= 0)", what, n, g,
                              (double)s);
                return NULL;
            }
            w->scale[(size_t)g * w->np + n] = s;
        }
        for (int k = 0; k < in; k++) {
            int v = type == MMC_QTYPE_Q8 ? (int8_t)b[(size_t)n * in + k]
                                         : (int)((b[(size_t)n * ((in + 1) / 2) + k / 2] >> (k % 2 ? 4 : 0)) & 0x0F) - 8;
            if (v < (type == MMC_QTYPE_Q4 ? -8 : -qmax) || v > qmax) {
                mmc_free(qrow);
                mmc_qweight_free(w);
                mmc_error_set(err, MMC_ERR_INPUT, "%s: value [%d][%d] is %d, outside %d..%d", what, n, k, v,
                              type == MMC_QTYPE_Q4 ? -8 : -qmax, qmax);
                return NULL;
            }
            qrow[k] = (int8_t)v;
        }
        put_row(w, n, qrow);
    }
    mmc_free(qrow);
    fill_corr(w);
    return w;
}

void mmc_qweight_to_stored(const mmc_qweight *w, void *q, float *scale) {
    uint8_t *b = q;
    int ng = mmc_qweight_stored_groups(w->type, w->in), half = (w->in + 1) / 2;
    if (w->type == MMC_QTYPE_Q4) memset(b, 0x88, (size_t)w->out * half);
    for (int n = 0; n < w->out; n++) {
        for (int g = 0; g < ng; g++) scale[(size_t)n * ng + g] = w->scale[(size_t)g * w->np + n];
        for (int k = 0; k < w->in; k++) {
            int v = get_q(w, n, k);
            if (w->type == MMC_QTYPE_Q8) {
                b[(size_t)n * w->in + k] = (uint8_t)(int8_t)v;
            } else {
                uint8_t *at = &b[(size_t)n * half + k / 2];
                uint8_t u = (uint8_t)(v + 8);
                *at = k % 2 ? (uint8_t)((*at & 0x0F) | (u << 4)) : (uint8_t)((*at & 0xF0) | u);
            }
        }
    }
}

void mmc_qweight_row(const mmc_qweight *w, int n, float *dst) {
    if (n < 0 || n >= w->out) return;
    const int p = n / MMC_QNR, j = n % MMC_QNR;
    if (w->type == MMC_QTYPE_Q8) {
        const int8_t *base = (const int8_t *)w->data + (size_t)p * w->kp * MMC_QNR + (size_t)j * 4;
        const float s = w->scale[n];
        for (int k = 0; k < w->in; k++) dst[k] = (float)base[(size_t)(k >> 2) * 256 + (k & 3)] * s;
        return;
    }
    for (int k = 0; k < w->in; k++)
        dst[k] = (float)get_q(w, n, k) * w->scale[(size_t)(k / MMC_Q4_GROUP) * w->np + n];
}

void mmc_qweight_dequantize(const mmc_qweight *w, float *dst) {
    int G = group_len(w);
    for (int n = 0; n < w->out; n++)
        for (int k = 0; k < w->in; k++)
            dst[(size_t)n * w->in + k] = (float)get_q(w, n, k) * w->scale[(size_t)(k / G) * w->np + n];
}

int mmc_tensor_set_quant(mmc_tensor *t, mmc_qweight *q, mmc_error *err) {
    if (!t || !q || t->ndim < 2 || t->shape[0] != q->out || t->numel != (int64_t)q->out * q->in) {
        if (q && t) mmc_error_set(err, MMC_ERR_USAGE, "quantize: tensor %s of %d dims does not match a (%d, %d) matrix",
                                  t->name ? t->name : "?", t->ndim, q->out, q->in);
        else mmc_error_set(err, MMC_ERR_USAGE, "quantize: no tensor or no matrix");
        mmc_qweight_free(q);
        return MMC_ERR_USAGE;
    }
    mmc_qweight_free(t->quant);
    t->quant = q;
    return MMC_OK;
}

void mmc_tensor_drop_data(mmc_tensor *t) {
    if (!t || !t->quant || !t->persistent || t->base) return;
    mmc_free(t->data);
    mmc_free(t->grad);
    t->data = NULL, t->grad = NULL;
    t->requires_grad = 0;
}

mmc_qweight *mmc_qweight_stack(mmc_qweight **parts, int n, mmc_error *err) {
    int out = 0, in = n > 0 && parts[0] ? parts[0]->in : 0;
    for (int i = 0; i < n; i++) {
        const mmc_qweight *p = parts[i];
        if (!p || p->view || p->type != MMC_QTYPE_Q8 || p->in != in || p->out % MMC_QNR) {
            mmc_error_set(err, MMC_ERR_USAGE, "quantize: stacking needs q8 matrices of %d inputs and a multiple of %d rows",
                          in, MMC_QNR);
            return NULL;
        }
        out += p->out;
    }
    mmc_qweight *w = qweight_alloc(MMC_QTYPE_Q8, out, in, err);
    if (!w) return NULL;
    size_t row0 = 0;
    for (int i = 0; i < n; i++) { /* whole panels: the packed blocks, scales and sums follow each other */
        mmc_qweight *p = parts[i];
        memcpy(w->data + row0 * w->kp, p->data, (size_t)p->out * p->kp);
        memcpy(w->scale + row0, p->scale, sizeof(float) * (size_t)p->out);
        memcpy(w->colsum + row0, p->colsum, sizeof(int32_t) * (size_t)p->out);
        mmc_free(p->data), mmc_free(p->scale), mmc_free(p->colsum);
        p->data = w->data + row0 * w->kp, p->scale = w->scale + row0, p->colsum = w->colsum + row0;
        p->view = 1;
        row0 += (size_t)p->out;
    }
    return w;
}

/* ------------------------------------------------------------------ activations */

/* The row's scale, zero point and reciprocal from its range (lo ≤ 0 ≤ hi, finite). */
static void row_params(float lo, float hi, float *s, int32_t *z, float *inv) {
    float d = hi / 255.0f - lo / 255.0f; /* no overflow near FLT_MAX */
    if (!(d > 1e-30f)) { /* all zeros, or so small that 1 / d would overflow: taken as zeros */
        *s = 0.0f, *z = 0, *inv = 0.0f;
        return;
    }
    float zf = nearbyintf(-lo / d);
    if (zf > 255.0f) zf = 255.0f;
    *s = d, *z = (int32_t)zf, *inv = 1.0f / d;
}

static void quantize_rows_generic(const float *x, int64_t ldx, int m, int k, int kp, uint8_t *u, float *sa,
                                  int32_t *za) {
    for (int i = 0; i < m; i++) {
        const float *xi = x + (int64_t)i * ldx;
        uint8_t *ui = u + (int64_t)i * kp;
        float lo = 0.0f, hi = 0.0f;
        int bad = 0;
        for (int j = 0; j < k; j++) {
            float v = xi[j];
            if (!(v - v == 0.0f)) bad = 1; /* NaN or infinity */
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        memset(ui, 0, (size_t)kp);
        if (bad) {
            sa[i] = NAN, za[i] = 0;
            continue;
        }
        float inv;
        row_params(lo, hi, &sa[i], &za[i], &inv);
        for (int j = 0; j < k; j++) {
            float r = nearbyintf(xi[j] * inv) + (float)za[i];
            if (r < 0.0f) r = 0.0f;
            if (r > 255.0f) r = 255.0f;
            ui[j] = (uint8_t)r;
        }
    }
}

/* ------------------------------------------------------------------ generic kernels */

static void epilogue_generic(const mmc_qweight *w, int panel, int32_t (*acc)[MMC_QNR], const float *sa,
                             const int32_t *za, const float *bias, float *y, int64_t ldy, int mr, int nr) {
    const float *ws = w->scale + (size_t)panel * MMC_QNR;
    const int32_t *cs = w->colsum + (size_t)panel * MMC_QNR;
    const float *bb = bias ? bias + (size_t)panel * MMC_QNR : NULL;
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) {
            int32_t v = acc[r][j] - za[r] * cs[j];
            float s = sa[r] * ws[j];
            y[r * ldy + j] = bb ? fmaf((float)v, s, bb[j]) : (float)v * s;
        }
}

static void q8_generic(const mmc_qweight *w, int panel, const uint8_t *a, int64_t lda, const float *sa,
                       const int32_t *za, const float *bias, float *y, int64_t ldy, int mr, int nr) {
    int32_t acc[MMC_QMR][MMC_QNR];
    memset(acc, 0, sizeof acc);
    const int8_t *b = (const int8_t *)w->data + (size_t)panel * w->kp * MMC_QNR;
    for (int g = 0; g < w->kp / 4; g++, b += 256)
        for (int r = 0; r < mr; r++) {
            const uint8_t *ar = a + r * lda + 4 * g;
            for (int j = 0; j < MMC_QNR; j++)
                acc[r][j] += ar[0] * b[4 * j] + ar[1] * b[4 * j + 1] + ar[2] * b[4 * j + 2] + ar[3] * b[4 * j + 3];
        }
    epilogue_generic(w, panel, acc, sa, za, bias, y, ldy, mr, nr);
}

static void q4_generic(const mmc_qweight *w, int panel, const uint8_t *a, int64_t lda, const float *sa,
                       const int32_t *za, const float *bias, float *y, int64_t ldy, int mr, int nr) {
    float f[MMC_QMR][MMC_QNR];
    int32_t acc[MMC_QMR][MMC_QNR];
    memset(f, 0, sizeof f);
    const uint8_t *b = w->data + (size_t)panel * w->kp * MMC_QNR / 2;
    for (int g = 0; g < w->groups; g++) {
        memset(acc, 0, sizeof acc);
        for (int p = 0; p < MMC_Q4_GROUP / 8; p++, b += 256)
            for (int r = 0; r < mr; r++) {
                const uint8_t *ar = a + r * lda + (g * MMC_Q4_GROUP + 8 * p);
                for (int j = 0; j < MMC_QNR; j++)
                    for (int t = 0; t < 4; t++) {
                        uint8_t x = b[4 * j + t];
                        acc[r][j] += ar[t] * ((x & 0x0F) - 8) + ar[4 + t] * ((x >> 4) - 8);
                    }
            }
        const float *ws = w->scale + (size_t)g * w->np + (size_t)panel * MMC_QNR;
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < MMC_QNR; j++) f[r][j] = fmaf((float)acc[r][j], ws[j], f[r][j]);
    }
    const float *bb = bias ? bias + (size_t)panel * MMC_QNR : NULL, *corr = w->corr + (size_t)panel * MMC_QNR;
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) {
            float t = fmaf(-(float)za[r], corr[j], f[r][j]);
            y[r * ldy + j] = bb ? fmaf(t, sa[r], bb[j]) : t * sa[r];
        }
}

static int always(void) { return 1; }

#ifdef MMC_QGEMM_X86
/* ------------------------------------------------------------------ AVX-512 VNNI */

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

static int vnni_available(void) { return mmc_cpu_has_avx512_vnni() && mmc_cpu_has_avx512bw(); }

VNNI_TARGET static inline __m512i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

VNNI_TARGET static inline __mmask16 col_mask(int nr, int v) {
    int left = nr - 16 * v;
    return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

VNNI_TARGET static void q8_vnni(const mmc_qweight *w, int panel, const uint8_t *a, int64_t lda, const float *sa,
                                const int32_t *za, const float *bias, float *y, int64_t ldy, int mr, int nr) {
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
            c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00,
            c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    const uint8_t *b = w->data + (size_t)panel * w->kp * MMC_QNR;
    const uint8_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    const int kg = w->kp / 4;
    for (int g = 0; g < kg; g++, b += 256) {
        __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 64), b2 = _mm512_load_si512(b + 128),
                b3 = _mm512_load_si512(b + 192), x;
#define ROW(r)                                \
    x = bcast4(a##r + 4 * g);                 \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, x, b0); \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, x, b1); \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, x, b2); \
    c##r##3 = _mm512_dpbusd_epi32(c##r##3, x, b3);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    __m512i acc[MMC_QMR][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23},
                               {c30, c31, c32, c33}, {c40, c41, c42, c43}, {c50, c51, c52, c53}};
    const float *ws = w->scale + (size_t)panel * MMC_QNR;
    const int32_t *cs = w->colsum + (size_t)panel * MMC_QNR;
    const float *bb = bias ? bias + (size_t)panel * MMC_QNR : NULL;
    for (int v = 0; v < 4; v++) {
        __mmask16 m = col_mask(nr, v);
        if (!m) break;
        __m512i csv = _mm512_load_si512(cs + 16 * v);
        __m512 wsv = _mm512_load_ps(ws + 16 * v);
        __m512 bv = bb ? _mm512_maskz_loadu_ps(m, bb + 16 * v) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++) {
            __m512i iv = _mm512_sub_epi32(acc[r][v], _mm512_mullo_epi32(_mm512_set1_epi32(za[r]), csv));
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(sa[r]), wsv);
            __m512 o = bb ? _mm512_fmadd_ps(_mm512_cvtepi32_ps(iv), s, bv) : _mm512_mul_ps(_mm512_cvtepi32_ps(iv), s);
            _mm512_mask_storeu_ps(y + r * ldy + 16 * v, m, o);
        }
    }
}

/* q4, one half-panel (32 channels) at a time: 12 int32 and 12 float accumulators. */
VNNI_TARGET static void q4_vnni_half(const mmc_qweight *w, int panel, int h, const uint8_t *a, int64_t lda,
                                     const float *sa, const int32_t *za, const float *bias, float *y, int64_t ldy,
                                     int mr, int nr) {
    __m512 f[MMC_QMR][2];
    for (int r = 0; r < MMC_QMR; r++) f[r][0] = f[r][1] = _mm512_setzero_ps();
    const __m512i lo4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
    const uint8_t *b = w->data + (size_t)panel * w->kp * MMC_QNR / 2 + 128 * h;
    for (int g = 0; g < w->groups; g++) {
        __m512i c[MMC_QMR][2];
        for (int r = 0; r < MMC_QMR; r++) c[r][0] = c[r][1] = _mm512_setzero_si512();
        for (int p = 0; p < MMC_Q4_GROUP / 8; p++, b += 256) {
            __m512i x0 = _mm512_load_si512(b), x1 = _mm512_load_si512(b + 64);
            __m512i l0 = _mm512_sub_epi8(_mm512_and_si512(x0, lo4), eight);
            __m512i h0 = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(x0, 4), lo4), eight);
            __m512i l1 = _mm512_sub_epi8(_mm512_and_si512(x1, lo4), eight);
            __m512i h1 = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(x1, 4), lo4), eight);
            const int k = g * MMC_Q4_GROUP + 8 * p;
#pragma GCC unroll 6
            for (int r = 0; r < MMC_QMR; r++) {
                __m512i al = bcast4(a + r * lda + k), ah = bcast4(a + r * lda + k + 4);
                c[r][0] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(c[r][0], al, l0), ah, h0);
                c[r][1] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(c[r][1], al, l1), ah, h1);
            }
        }
        const float *ws = w->scale + (size_t)g * w->np + (size_t)panel * MMC_QNR + 32 * h;
        for (int v = 0; v < 2; v++) {
            __m512 wsv = _mm512_loadu_ps(ws + 16 * v);
#pragma GCC unroll 6
            for (int r = 0; r < MMC_QMR; r++) f[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c[r][v]), wsv, f[r][v]);
        }
    }
    const float *bb = bias ? bias + (size_t)panel * MMC_QNR + 32 * h : NULL;
    const float *corr = w->corr + (size_t)panel * MMC_QNR + 32 * h;
    for (int v = 0; v < 2; v++) {
        __mmask16 m = col_mask(nr - 32 * h, v);
        if (!m) break;
        __m512 bv = bb ? _mm512_maskz_loadu_ps(m, bb + 16 * v) : _mm512_setzero_ps();
        __m512 cv = _mm512_loadu_ps(corr + 16 * v);
        for (int r = 0; r < mr; r++) {
            __m512 s = _mm512_set1_ps(sa[r]);
            __m512 t = _mm512_fmadd_ps(_mm512_set1_ps(-(float)za[r]), cv, f[r][v]);
            __m512 o = bb ? _mm512_fmadd_ps(t, s, bv) : _mm512_mul_ps(t, s);
            _mm512_mask_storeu_ps(y + r * ldy + 32 * h + 16 * v, m, o);
        }
    }
}

VNNI_TARGET static void q4_vnni(const mmc_qweight *w, int panel, const uint8_t *a, int64_t lda, const float *sa,
                                const int32_t *za, const float *bias, float *y, int64_t ldy, int mr, int nr) {
    q4_vnni_half(w, panel, 0, a, lda, sa, za, bias, y, ldy, mr, nr);
    if (nr > 32) q4_vnni_half(w, panel, 1, a, lda, sa, za, bias, y, ldy, mr, nr);
}

VNNI_TARGET static void quantize_rows_avx512(const float *x, int64_t ldx, int m, int k, int kp, uint8_t *u,
                                             float *sa, int32_t *za) {
    for (int i = 0; i < m; i++) {
        const float *xi = x + (int64_t)i * ldx;
        uint8_t *ui = u + (int64_t)i * kp;
        __m512 lo = _mm512_setzero_ps(), hi = lo;
        __mmask16 bad = 0;
        int j = 0;
        for (; j + 16 <= k; j += 16) {
            __m512 v = _mm512_loadu_ps(xi + j);
            bad |= _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_setzero_ps(), _CMP_NEQ_UQ);
            lo = _mm512_min_ps(lo, v), hi = _mm512_max_ps(hi, v);
        }
        if (j < k) {
            __mmask16 mk = (__mmask16)((1u << (k - j)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(mk, xi + j);
            bad |= _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_setzero_ps(), _CMP_NEQ_UQ);
            lo = _mm512_min_ps(lo, v), hi = _mm512_max_ps(hi, v);
        }
        memset(ui, 0, (size_t)kp);
        if (bad) {
            sa[i] = NAN, za[i] = 0;
            continue;
        }
        float inv;
        row_params(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), &sa[i], &za[i], &inv);
        __m512 vinv = _mm512_set1_ps(inv);
        __m512i vz = _mm512_set1_epi32(za[i]), zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
        for (j = 0; j < k; j += 16) {
            __mmask16 mk = k - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - j)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(mk, xi + j);
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, vinv)), vz);
            q = _mm512_min_epi32(_mm512_max_epi32(q, zero), top);
            _mm_mask_storeu_epi8(ui + j, mk, _mm512_cvtepi32_epi8(q));
        }
    }
}
#endif

/* ------------------------------------------------------------------ driver */

static const mmc_qgemm_kernel kernels[] = {
#ifdef MMC_QGEMM_X86
    {"avx512-vnni", q8_vnni, q4_vnni, quantize_rows_avx512, vnni_available},
#endif
    {"generic", q8_generic, q4_generic, quantize_rows_generic, always},
};

const mmc_qgemm_kernel *mmc_qgemm_kernels(int *n) {
    *n = (int)(sizeof kernels / sizeof kernels[0]);
    return kernels;
}

const mmc_qgemm_kernel *mmc_qgemm_best_kernel(void) {
    static const mmc_qgemm_kernel *best;
    if (!best) {
        int n;
        const mmc_qgemm_kernel *k = mmc_qgemm_kernels(&n);
        for (int i = 0; i < n; i++)
            if (k[i].available()) {
                best = &k[i];
                break;
            }
    }
    return best;
}

/* scratch: packed rows (Mp × Kp bytes), then sa (Mp floats), then za (Mp int32) */
size_t mmc_qgemm_scratch_bytes(int M, int K) {
    size_t Mp = (size_t)round_up(M, MMC_QMR), Kp = (size_t)round_up(K, MMC_Q4_GROUP);
    return align64(Mp * Kp) + align64(Mp * sizeof(float)) + align64(Mp * sizeof(int32_t));
}

void mmc_qgemm(const mmc_qgemm_kernel *kn, int nt, const mmc_qweight *w, int M, const float *X, int64_t ldx,
               const float *bias, float *Y, int64_t ldy, void *scratch) {
    if (M <= 0) return;
    const int Mp = round_up(M, MMC_QMR), kp = w->kp, K = w->in;
    uint8_t *u = scratch;
    float *sa = (float *)(u + align64((size_t)Mp * round_up(K, MMC_Q4_GROUP)));
    int32_t *za = (int32_t *)((uint8_t *)sa + align64((size_t)Mp * sizeof(float)));
    memset(u + (size_t)M * kp, 0, (size_t)(Mp - M) * kp);
    for (int i = M; i < Mp; i++) sa[i] = 0.0f, za[i] = 0;
    mmc_qgemm_ukernel uk = w->type == MMC_QTYPE_Q4 ? kn->q4 : kn->q8;
    const int panels = w->np / MMC_QNR, blocks = Mp / MMC_QMR;
    /* row chunks of up to 16 blocks (96 rows), enough tasks for every thread */
    int per = 16;
    while (per > 1 && (long)panels * ((blocks + per - 1) / per) < 4L * nt) per /= 2;
    const int chunks = (blocks + per - 1) / per, tasks = panels * chunks;
    const int qchunk = 32, qtasks = (M + qchunk - 1) / qchunk;
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
#pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < qtasks; t++) {
                int i0 = t * qchunk, m = M - i0 < qchunk ? M - i0 : qchunk;
                kn->quantize_rows(X + (int64_t)i0 * ldx, ldx, m, K, kp, u + (size_t)i0 * kp, sa + i0, za + i0);
            }
#pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < tasks; t++) {
                int p = t / chunks, c = t % chunks;
                for (int bl = c * per; bl < (c + 1) * per && bl < blocks; bl++) {
                    int i0 = bl * MMC_QMR, mr = M - i0 < MMC_QMR ? M - i0 : MMC_QMR;
                    int nr = w->out - p * MMC_QNR < MMC_QNR ? w->out - p * MMC_QNR : MMC_QNR;
                    uk(w, p, u + (size_t)i0 * kp, kp, sa + i0, za + i0, bias, Y + (int64_t)i0 * ldy + p * MMC_QNR,
                       ldy, mr, nr);
                }
            }
        }
        return;
    }
#endif
    (void)qtasks;
    kn->quantize_rows(X, ldx, M, K, kp, u, sa, za);
    for (int t = 0; t < tasks; t++) {
        int p = t / chunks, c = t % chunks;
        for (int bl = c * per; bl < (c + 1) * per && bl < blocks; bl++) {
            int i0 = bl * MMC_QMR, mr = M - i0 < MMC_QMR ? M - i0 : MMC_QMR;
            int nr = w->out - p * MMC_QNR < MMC_QNR ? w->out - p * MMC_QNR : MMC_QNR;
            uk(w, p, u + (size_t)i0 * kp, kp, sa + i0, za + i0, bias, Y + (int64_t)i0 * ldy + p * MMC_QNR, ldy, mr,
               nr);
        }
    }
}

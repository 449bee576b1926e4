/* conv_direct.c — convolution without im2col on AVX-512 CPUs (see conv_direct.h).
 *
 * Why: im2col + GEMM writes a (C·KH·KW, OH·OW) column matrix per sample — 4.7 MB for a
 * 32-channel 3×3 layer on 64×64 — that falls out of L2, and the GEMM then packs it once
 * more into slivers. With few output channels (32 or 64, the small-image ResNet's first
 * stages) each packed value feeds only that many FMAs, so the two passes over the column
 * matrix cost as much as the arithmetic. Here the forward reads its operands straight from
 * a padded copy of the input plane (about the input's size, L2-resident), and dL/dW from
 * transposed copies of the input and of dL/dY: each value is moved once per sample.
 *
 * Every output element is computed by one thread with the same operations in the same
 * order whatever the thread count, except dL/dW, whose per-thread partial sums conv.c adds
 * in thread order: results are deterministic for a given thread count. */
#include "conv_direct.h"
#include "gemm.h"
#include "internal.h"
#include "mmc/ops.h"
#include "simd.h"
#include <string.h>

#if defined(__x86_64__) && defined(MMC_SIMD_X86)
#define CD_X86 1
#endif

static int g_enabled = 1;

int cd_set_enabled(int on) {
    int prev = __atomic_exchange_n(&g_enabled, on ? 1 : 0, __ATOMIC_RELAXED);
    return prev;
}

int cd_available(void) {
#ifdef CD_X86
    return mmc_cpu_has_avx512f() && __atomic_load_n(&g_enabled, __ATOMIC_RELAXED);
#else
    return 0;
#endif
}

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* Padded extents: every input position any output reads, with the padding as zeros. */
static int64_t pad_h(const cd_geom *g) { return (int64_t)g->H + 2 * g->ph; }
static int64_t pad_w(const cd_geom *g) { return (int64_t)g->W + 2 * g->pw; }

/* ================================================================ forward */

enum { FM = 4, FV = 6 }; /* output tile: 4 channels × 6 vectors of 16 positions */

int cd_fwd_ok(const cd_geom *g) {
    if (!cd_available() || g->sh != 1 || g->sw != 1 || g->OW % 16 || g->OW < 16 || g->OH < 1) return 0;
    /* offsets are int32: the padded plane of all channels must be addressable */
    return (double)g->C * pad_h(g) * pad_w(g) < 2e9 && (double)g->OH * g->OW < 2e9;
}

size_t cd_fwd_wpack_floats(const cd_geom *g) {
    return (size_t)round_up(g->OC, FM) * g->C * g->KH * g->KW;
}
size_t cd_fwd_pad_floats(const cd_geom *g) { return (size_t)(g->C * pad_h(g) * pad_w(g)); }
size_t cd_fwd_table_ints(const cd_geom *g) {
    return (size_t)g->C * g->KH * g->KW + (size_t)g->OH * g->OW / 16;
}

void cd_fwd_prepare(const cd_geom *g, const float *w, int flip, float *wp, int32_t *tab) {
    const int K = g->C * g->KH * g->KW, KK = g->KH * g->KW, ntile = round_up(g->OC, FM) / FM;
    /* wp[t][k][i] = weight of output channel 4t + i at k = (c, kh, kw); 0 past OC */
    for (int t = 0; t < ntile; t++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < FM; i++) {
                int o = t * FM + i;
                float v = 0.0f;
                if (o < g->OC) {
                    if (!flip) {
                        v = w[(int64_t)o * K + k];
                    } else { /* w is (g->C, g->OC, KH, KW): swap the channels, flip the kernel */
                        int c = k / KK, r = k % KK, kh = r / g->KW, kw = r % g->KW;
                        v = w[(((int64_t)c * g->OC + o) * g->KH + (g->KH - 1 - kh)) * g->KW + (g->KW - 1 - kw)];
                    }
                }
                wp[((int64_t)t * K + k) * FM + i] = v;
            }
    /* offsets of k = (c, kh, kw) in the padded plane, then of each output vector's first
     * position (its output row and column, stride 1) */
    const int64_t Hp = pad_h(g), Wp = pad_w(g);
    for (int k = 0; k < K; k++) {
        int c = k / KK, r = k % KK, kh = r / g->KW, kw = r % g->KW;
        tab[k] = (int32_t)(c * Hp * Wp + (int64_t)kh * g->dh * Wp + (int64_t)kw * g->dw);
    }
    int32_t *xb = tab + K;
    for (int64_t v = 0; v < (int64_t)g->OH * g->OW / 16; v++) {
        int64_t p = 16 * v, oh = p / g->OW, ow = p % g->OW;
        xb[v] = (int32_t)(oh * Wp + ow);
    }
}

/* x (C, H, W) -> xp (C, H + 2ph, W + 2pw) with zero borders */
static void pad_plane(const cd_geom *g, const float *x, float *xp) {
    const int64_t Hp = pad_h(g), Wp = pad_w(g);
    for (int c = 0; c < g->C; c++) {
        float *dst = xp + c * Hp * Wp;
        const float *src = x + (int64_t)c * g->H * g->W;
        memset(dst, 0, sizeof(float) * (size_t)(g->ph * Wp));
        for (int h = 0; h < g->H; h++) {
            float *row = dst + (h + g->ph) * Wp;
            for (int j = 0; j < g->pw; j++) row[j] = row[g->pw + g->W + j] = 0.0f;
            memcpy(row + g->pw, src + (int64_t)h * g->W, sizeof(float) * (size_t)g->W);
        }
        memset(dst + (g->ph + g->H) * Wp, 0, sizeof(float) * (size_t)(g->ph * Wp));
    }
}

#ifdef CD_X86
/* One output tile: rows i < mr of 4 channels, NV vectors of 16 positions.
 *   acc[i][v] = Σ_k wp[4k + i] · xp[xb[v] + off[k] .. + 15]
 * y row i, vector v: y[i·P + 16v ..] = acc (+ the old value when acc_in). */
#define FWD_TILE(NV)                                                                             \
    __attribute__((target("avx512f"))) static void fwd_tile_##NV(                                 \
        int K, const int32_t *off, const float *wp, const float *xp, const int32_t *xb, float *y, \
        int64_t P, int mr, int acc_in) {                                                         \
        __m512 acc[FM][NV];                                                                      \
        const float *src[NV];                                                                    \
        _Pragma("GCC unroll 6") for (int v = 0; v < NV; v++) {                                   \
            src[v] = xp + xb[v];                                                                 \
            _Pragma("GCC unroll 4") for (int i = 0; i < FM; i++) acc[i][v] = _mm512_setzero_ps(); \
        }                                                                                        \
        for (int k = 0; k < K; k++, wp += FM) {                                                  \
            const int o = off[k];                                                                \
            __m512 a0 = _mm512_set1_ps(wp[0]), a1 = _mm512_set1_ps(wp[1]);                       \
            __m512 a2 = _mm512_set1_ps(wp[2]), a3 = _mm512_set1_ps(wp[3]);                       \
            _Pragma("GCC unroll 6") for (int v = 0; v < NV; v++) {                               \
                __m512 b = _mm512_loadu_ps(src[v] + o);                                          \
                acc[0][v] = _mm512_fmadd_ps(a0, b, acc[0][v]);                                   \
                acc[1][v] = _mm512_fmadd_ps(a1, b, acc[1][v]);                                   \
                acc[2][v] = _mm512_fmadd_ps(a2, b, acc[2][v]);                                   \
                acc[3][v] = _mm512_fmadd_ps(a3, b, acc[3][v]);                                   \
            }                                                                                    \
        }                                                                                        \
        for (int i = 0; i < mr; i++) {                                                           \
            float *yi = y + i * P;                                                               \
            _Pragma("GCC unroll 6") for (int v = 0; v < NV; v++) {                               \
                __m512 r = acc[i][v];                                                            \
                if (acc_in) r = _mm512_add_ps(r, _mm512_loadu_ps(yi + 16 * v));                  \
                _mm512_storeu_ps(yi + 16 * v, r);                                                \
            }                                                                                    \
        }                                                                                        \
    }
FWD_TILE(1)
FWD_TILE(2)
FWD_TILE(3)
FWD_TILE(4)
FWD_TILE(5)
FWD_TILE(6)
#undef FWD_TILE

typedef void (*fwd_tile_fn)(int, const int32_t *, const float *, const float *, const int32_t *, float *,
                            int64_t, int, int);
static const fwd_tile_fn FWD_TILES[FV + 1] = {NULL, fwd_tile_1, fwd_tile_2, fwd_tile_3,
                                              fwd_tile_4, fwd_tile_5, fwd_tile_6};
#endif

/* Channels per slice of the reduction: the input rows one group of 6 output vectors reads,
 * for this many channels, should stay in L1 while every output-channel tile uses them. */
static int fwd_slice_channels(const cd_geom *g) {
    int64_t rows = (FV * 16 + g->OW - 1) / g->OW + 1 + (int64_t)(g->KH - 1) * g->dh;
    int64_t bytes_per_channel = rows * pad_w(g) * 4;
    int64_t c = (24 * 1024) / (bytes_per_channel ? bytes_per_channel : 1);
    if (c < 4) c = 4;
    return c >= g->C ? g->C : (int)c;
}

void cd_fwd(const cd_geom *g, const float *wp, const int32_t *tab, const float *x, float *y,
            int accumulate, float *pad) {
#ifdef CD_X86
    const int KK = g->KH * g->KW, K = g->C * KK, ntile = round_up(g->OC, FM) / FM;
    const int64_t P = (int64_t)g->OH * g->OW, nvec = P / 16;
    const int32_t *xb = tab + K;
    pad_plane(g, x, pad);
    const int cs = fwd_slice_channels(g);
    for (int c0 = 0; c0 < g->C; c0 += cs) {
        int k0 = c0 * KK, kn = (c0 + cs < g->C ? cs : g->C - c0) * KK;
        int acc_in = accumulate || c0 > 0;
        for (int64_t v0 = 0; v0 < nvec; v0 += FV) {
            int nv = (int)(nvec - v0 < FV ? nvec - v0 : FV);
            for (int t = 0; t < ntile; t++) {
                int mr = g->OC - t * FM < FM ? g->OC - t * FM : FM;
                FWD_TILES[nv](kn, tab + k0, wp + ((int64_t)t * K + k0) * FM, pad, xb + v0,
                              y + (int64_t)t * FM * P + 16 * v0, P, mr, acc_in);
            }
        }
    }
#else
    (void)g, (void)wp, (void)tab, (void)x, (void)y, (void)accumulate, (void)pad;
#endif
}

int cd_dx_geom(const cd_geom *g, cd_geom *t) {
    int eh = g->dh * (g->KH - 1), ew = g->dw * (g->KW - 1);
    if (g->sh != 1 || g->sw != 1 || g->ph > eh || g->pw > ew) return 0;
    *t = (cd_geom){.C = g->OC, .OC = g->C, .H = g->OH, .W = g->OW, .KH = g->KH, .KW = g->KW,
                   .sh = 1, .sw = 1, .ph = eh - g->ph, .pw = ew - g->pw, .dh = g->dh, .dw = g->dw,
                   .OH = g->H, .OW = g->W};
    return 1;
}

/* ================================================================ NHWC forward
 *
 * For what the direct kernel cannot take (strides, output widths that are not multiples
 * of 16: a ResNet's downsampling convolutions and its last, 8×8 stage), the forward runs on
 * channels-last copies: y (positions × output channels) = Σ over (kh, kw) of xT at the
 * shifted positions (positions × C) times the kernel slice Wr[kh][kw] (C × OC). A tile of 8
 * output positions of one row × 48 output channels accumulates in 24 registers from 8
 * broadcasts (one channel of each position: stride s·C floats apart) and 3 vector loads
 * (48 output channels of one kernel row) per channel, then goes to yT, which is transposed
 * into y (NCHW) at the end of the sample. */

enum { NP = 8, NO = 48 }; /* tile: 8 positions × 48 output channels */

int cd_nhwc_ok(const cd_geom *g) {
    return cd_available() && g->OH >= 1 && g->OW >= 1 && g->KH * g->KW <= 64;
}

static int64_t nhwc_ocp(const cd_geom *g) { return round_up(g->OC, 16); }

size_t cd_nhwc_wpack_floats(const cd_geom *g) { return (size_t)(g->KH * g->KW * g->C * nhwc_ocp(g)); }
size_t cd_nhwc_scratch_floats(const cd_geom *g) {
    return (size_t)(pad_h(g) * pad_w(g) * g->C + (int64_t)g->OH * g->OW * nhwc_ocp(g) + 64);
}

void cd_nhwc_prepare(const cd_geom *g, const float *w, int flip, float *wr) {
    const int64_t OCp = nhwc_ocp(g), K = (int64_t)g->KH * g->KW * g->C;
    /* per tile of 48 output channels (16 or 32 for the last), contiguous: wr[o0·K + k·wt + j] =
     * w[o0 + j][c][kh][kw] for k = (kh, kw, c) (flip: the transposed convolution's kernel, from
     * w of shape (g->C, g->OC, KH, KW)); 0 past OC. One tile's slice is one sequential stream
     * (rows of all OCp channels would put each k 4·OCp bytes apart, and at 1 KiB apart the
     * 2304 rows of a 256-channel 3×3 kernel overflow the sets of L2). */
    for (int64_t o0 = 0; o0 < OCp; o0 += NO) {
        int64_t wt = OCp - o0 < NO ? OCp - o0 : NO;
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++)
                for (int c = 0; c < g->C; c++) {
                    int64_t k = ((int64_t)kh * g->KW + kw) * g->C + c;
                    float *row = wr + o0 * K + k * wt;
                    for (int64_t j = 0; j < wt; j++) {
                        int64_t o = o0 + j;
                        float v = 0.0f;
                        if (o < g->OC)
                            v = !flip ? w[(((int64_t)o * g->C + c) * g->KH + kh) * g->KW + kw]
                                      : w[(((int64_t)c * g->OC + o) * g->KH + (g->KH - 1 - kh)) * g->KW + (g->KW - 1 - kw)];
                        row[j] = v;
                    }
                }
    }
}

#ifdef CD_X86
/* yT rows i < mp (positions, row stride OCp), NB vectors of output channels:
 *   acc[i][j] = Σ_{kk < KK} Σ_{c < C} a_i[koff[kk] + c] · wr[(kk·C + c)·wt + 16j]
 * with a_i = a + i·as (positions past mp repeat the last one and are not stored). */
#define NHWC_TILE(NB)                                                                            \
    __attribute__((target("avx512f"))) static void nhwc_tile_##NB(                                \
        int KK, const int64_t *koff, int C, const float *a, int64_t as, int mp, const float *wr,  \
        int64_t wt, int64_t OCp, float *yt) {                                                    \
        __m512 acc[NP][NB];                                                                      \
        const float *p[NP];                                                                      \
        _Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) {                                   \
            p[i] = a + (i < mp ? i : mp - 1) * as;                                               \
            _Pragma("GCC unroll 3") for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_ps(); \
        }                                                                                        \
        for (int kk = 0; kk < KK; kk++) {                                                        \
            const int64_t o = koff[kk];                                                          \
            const float *b = wr + (int64_t)kk * C * wt;                                          \
            for (int c = 0; c < C; c++, b += wt) {                                               \
                __m512 bv[NB];                                                                   \
                _Pragma("GCC unroll 3") for (int j = 0; j < NB; j++) bv[j] = _mm512_loadu_ps(b + 16 * j); \
                _Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) {                           \
                    __m512 ai = _mm512_set1_ps(p[i][o + c]);                                     \
                    _Pragma("GCC unroll 3") for (int j = 0; j < NB; j++)                         \
                        acc[i][j] = _mm512_fmadd_ps(ai, bv[j], acc[i][j]);                       \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        for (int i = 0; i < mp; i++)                                                             \
            _Pragma("GCC unroll 3") for (int j = 0; j < NB; j++)                                 \
                _mm512_storeu_ps(yt + i * OCp + 16 * j, acc[i][j]);                              \
    }
NHWC_TILE(1)
NHWC_TILE(2)
NHWC_TILE(3)
#undef NHWC_TILE
#endif

static void transpose(const float *src, int64_t lds, int R, int64_t L, float *dst, int64_t ldd);

/* x (C, H, W) -> xT (H + 2ph, W + 2pw, C), zero in the border */
static void to_nhwc_padded(const cd_geom *g, const float *x, int64_t Cp, float *xT) {
    const int64_t Wp = pad_w(g), HW = (int64_t)g->H * g->W;
    memset(xT, 0, sizeof(float) * (size_t)(pad_h(g) * Wp * Cp));
    for (int h = 0; h < g->H; h++)
        transpose(x + (int64_t)h * g->W, HW, g->C, g->W, xT + ((h + g->ph) * Wp + g->pw) * Cp, Cp);
}

void cd_nhwc_fwd(const cd_geom *g, const float *wr, const float *x, float *y, int accumulate, float *scratch) {
#ifdef CD_X86
    const int64_t Wp = pad_w(g), OCp = nhwc_ocp(g), C = g->C, P = (int64_t)g->OH * g->OW;
    const int KK = g->KH * g->KW;
    float *xT = scratch, *yT = scratch + pad_h(g) * Wp * C;
    to_nhwc_padded(g, x, C, xT);
    int64_t ko[64];
    for (int kh = 0; kh < g->KH; kh++)
        for (int kw = 0; kw < g->KW; kw++) ko[kh * g->KW + kw] = ((int64_t)kh * g->dh * Wp + (int64_t)kw * g->dw) * C;
    const int64_t as = (int64_t)g->sw * C;
    for (int64_t oc0 = 0; oc0 < OCp; oc0 += NO) {
        int nb = (int)((OCp - oc0) / 16 < 3 ? (OCp - oc0) / 16 : 3);
        for (int oh = 0; oh < g->OH; oh++)
            for (int ow0 = 0; ow0 < g->OW; ow0 += NP) {
                int mp = g->OW - ow0 < NP ? g->OW - ow0 : NP;
                const float *a = xT + ((int64_t)oh * g->sh * Wp + (int64_t)ow0 * g->sw) * C;
                float *yt = yT + ((int64_t)oh * g->OW + ow0) * OCp + oc0;
                const float *w0 = wr + oc0 * KK * C;
                if (nb == 3) nhwc_tile_3(KK, ko, g->C, a, as, mp, w0, 48, OCp, yt);
                else if (nb == 2) nhwc_tile_2(KK, ko, g->C, a, as, mp, w0, 32, OCp, yt);
                else nhwc_tile_1(KK, ko, g->C, a, as, mp, w0, 16, OCp, yt);
            }
    }
    /* yT (P, OCp) -> y (OC, P) */
    if (!accumulate) {
        transpose(yT, OCp, (int)P, g->OC, y, P);
    } else {
        for (int64_t p = 0; p < P; p++)
            for (int o = 0; o < g->OC; o++) y[o * P + p] += yT[p * OCp + o];
    }
#else
    (void)g, (void)wr, (void)x, (void)y, (void)accumulate, (void)scratch;
#endif
}

/* ================================================================ strided dL/dX
 *
 * dL/dX of a strided convolution (the 3×3 stride-2 convolutions that start a ResNet stage)
 * is a transposed convolution. Split dL/dX by the residue of its position mod the stride:
 * within one residue class (rh, rw), the positions ih = sh·i + rh, iw = sw·j + rw receive
 * exactly the taps kh ≡ rh + ph, kw ≡ rw + pw (mod s), from dL/dY at (i + q0h - t, j + q0w - u)
 * — a stride-1 convolution of dL/dY with that sub-kernel. Each class runs the NHWC tile
 * kernel (8 positions × 48 input channels, reducing over the taps and output channels) on a
 * channels-last, zero-bordered copy of the sample's dL/dY, and the class's values are then
 * spread to every s-th position of dL/dX. No column matrix, no scatter-add of overlapping
 * windows. */

typedef struct dxs_class {
    int kh0, kw0, q0h, q0w, Th, Tw; /* first taps, dL/dY offsets, taps per direction */
    int Ni, Nj;                     /* positions of the class in dL/dX */
} dxs_class;

static void dxs_class_of(const cd_geom *g, int rh, int rw, dxs_class *k) {
    k->kh0 = (rh + g->ph) % g->sh, k->q0h = (rh + g->ph) / g->sh;
    k->kw0 = (rw + g->pw) % g->sw, k->q0w = (rw + g->pw) / g->sw;
    k->Th = g->KH > k->kh0 ? (g->KH - k->kh0 + g->sh - 1) / g->sh : 0;
    k->Tw = g->KW > k->kw0 ? (g->KW - k->kw0 + g->sw - 1) / g->sw : 0;
    k->Ni = g->H > rh ? (g->H - rh + g->sh - 1) / g->sh : 0;
    k->Nj = g->W > rw ? (g->W - rw + g->sw - 1) / g->sw : 0;
}

/* dL/dY's zero border: every (i + q0 - t) of every class stays inside */
static int dxs_pad_h(const cd_geom *g) { return (g->KH + g->sh - 1) / g->sh + (g->ph + g->sh - 1) / g->sh + 1; }
static int dxs_pad_w(const cd_geom *g) { return (g->KW + g->sw - 1) / g->sw + (g->pw + g->sw - 1) / g->sw + 1; }
static int64_t dxs_cp(const cd_geom *g) { return round_up(g->C, 16); }

int cd_dxs_ok(const cd_geom *g) {
    return cd_available() && g->dh == 1 && g->dw == 1 && (g->sh > 1 || g->sw > 1) && g->KH * g->KW <= 64;
}

size_t cd_dxs_wpack_floats(const cd_geom *g) { return (size_t)(g->KH * g->KW * g->OC * dxs_cp(g)); }

size_t cd_dxs_scratch_floats(const cd_geom *g) {
    int64_t Hp = g->OH + 2 * dxs_pad_h(g), Wp = g->OW + 2 * dxs_pad_w(g);
    int64_t Ni = (g->H + g->sh - 1) / g->sh, Nj = (g->W + g->sw - 1) / g->sw;
    return (size_t)(Hp * Wp * g->OC + Ni * Nj * dxs_cp(g) + 64);
}

void cd_dxs_prepare(const cd_geom *g, const float *w, float *wr) {
    const int64_t Cp = dxs_cp(g);
    float *blk = wr;
    for (int rh = 0; rh < g->sh; rh++)
        for (int rw = 0; rw < g->sw; rw++) {
            dxs_class k;
            dxs_class_of(g, rh, rw, &k);
            const int64_t Tq = (int64_t)k.Th * k.Tw, K = Tq * g->OC;
            /* per tile of 48 input channels: [(tap·OC + oc)·wt + j] = w[oc][c0 + j][kh][kw] with
             * tap = (t, u), kh = kh0 + sh·t, kw = kw0 + sw·u; 0 past C */
            for (int64_t c0 = 0; c0 < Cp; c0 += NO) {
                int64_t wt = Cp - c0 < NO ? Cp - c0 : NO;
                for (int t = 0; t < k.Th; t++)
                    for (int u = 0; u < k.Tw; u++)
                        for (int oc = 0; oc < g->OC; oc++) {
                            float *row = blk + c0 * K + (((int64_t)t * k.Tw + u) * g->OC + oc) * wt;
                            int kh = k.kh0 + g->sh * t, kw = k.kw0 + g->sw * u;
                            for (int64_t j = 0; j < wt; j++)
                                row[j] = c0 + j < g->C ? w[(((int64_t)oc * g->C + c0 + j) * g->KH + kh) * g->KW + kw] : 0.0f;
                        }
            }
            blk += Cp * K;
        }
}

void cd_dxs(const cd_geom *g, const float *wr, const float *dy, float *gx, int accumulate, float *scratch) {
#ifdef CD_X86
    const int PH = dxs_pad_h(g), PW = dxs_pad_w(g), OC = g->OC;
    const int64_t Wp = g->OW + 2 * PW, Hp = g->OH + 2 * PH, Cp = dxs_cp(g), HW = (int64_t)g->H * g->W;
    float *dyT = scratch, *cls = scratch + Hp * Wp * OC;
    /* dyT (Hp, Wp, OC): dL/dY channels last, zero border */
    memset(dyT, 0, sizeof(float) * (size_t)(Hp * Wp * OC));
    for (int oh = 0; oh < g->OH; oh++)
        transpose(dy + (int64_t)oh * g->OW, (int64_t)g->OH * g->OW, OC, g->OW, dyT + ((oh + PH) * Wp + PW) * OC, OC);
    if (!accumulate) memset(gx, 0, sizeof(float) * (size_t)(g->C * HW));
    const float *blk = wr;
    for (int rh = 0; rh < g->sh; rh++)
        for (int rw = 0; rw < g->sw; rw++) {
            dxs_class k;
            dxs_class_of(g, rh, rw, &k);
            const int Tq = k.Th * k.Tw;
            const int64_t K = (int64_t)Tq * OC;
            if (Tq == 0 || k.Ni == 0 || k.Nj == 0) {
                blk += Cp * K;
                continue;
            }
            int64_t ko[64];
            for (int t = 0; t < k.Th; t++)
                for (int u = 0; u < k.Tw; u++) ko[t * k.Tw + u] = ((int64_t)(k.q0h - t) * Wp + (k.q0w - u)) * OC;
            for (int64_t c0 = 0; c0 < Cp; c0 += NO) {
                int nb = (int)((Cp - c0) / 16 < 3 ? (Cp - c0) / 16 : 3);
                const float *w0 = blk + c0 * K;
                for (int i = 0; i < k.Ni; i++)
                    for (int j0 = 0; j0 < k.Nj; j0 += NP) {
                        int mp = k.Nj - j0 < NP ? k.Nj - j0 : NP;
                        const float *a = dyT + ((int64_t)(i + PH) * Wp + (j0 + PW)) * OC;
                        float *yt = cls + ((int64_t)i * k.Nj + j0) * Cp + c0;
                        if (nb == 3) nhwc_tile_3(Tq, ko, OC, a, OC, mp, w0, 48, Cp, yt);
                        else if (nb == 2) nhwc_tile_2(Tq, ko, OC, a, OC, mp, w0, 32, Cp, yt);
                        else nhwc_tile_1(Tq, ko, OC, a, OC, mp, w0, 16, Cp, yt);
                    }
            }
            /* the class's values to every s-th position of dL/dX */
            for (int c = 0; c < g->C; c++)
                for (int i = 0; i < k.Ni; i++) {
                    float *dst = gx + c * HW + (int64_t)(g->sh * i + rh) * g->W + rw;
                    const float *src = cls + (int64_t)i * k.Nj * Cp + c;
                    for (int j = 0; j < k.Nj; j++) dst[(int64_t)g->sw * j] += src[(int64_t)j * Cp];
                }
            blk += Cp * K;
        }
#else
    (void)g, (void)wr, (void)dy, (void)gx, (void)accumulate, (void)scratch;
#endif
}

/* ================================================================ dL/dW */

enum { WM = 12 }; /* dWᵀ tile: up to 12 input channels × 32 output channels */

int cd_dw_ok(const cd_geom *g) {
    return cd_available() && g->OH >= 1 && g->OW >= 1 &&
           (double)pad_h(g) * pad_w(g) * round_up(g->C, 4) < 4e9;
}

static int64_t dw_cp(const cd_geom *g) { return round_up(g->C, 4); }
static int64_t dw_ocp(const cd_geom *g) { return round_up(g->OC, 16); }

size_t cd_dw_part_floats(const cd_geom *g) {
    return (size_t)(g->KH * g->KW * dw_cp(g) * dw_ocp(g));
}
size_t cd_dw_scratch_floats(const cd_geom *g) {
    /* xT, dyT, and slack for the last broadcasts of a 12-row tile that ends at Cp */
    return (size_t)(pad_h(g) * pad_w(g) * dw_cp(g) + (int64_t)g->OH * g->OW * dw_ocp(g) + 64);
}

/* dst[j·ldd + i] = src[i·lds + j] for i < R, j < L */
static void transpose(const float *src, int64_t lds, int R, int64_t L, float *dst, int64_t ldd);

static void transpose(const float *src, int64_t lds, int R, int64_t L, float *dst, int64_t ldd) {
    int i0 = 0;
#ifdef CD_X86
    for (; i0 + 16 <= R; i0 += 16) { /* 16 × 16 register transposes, then 8 × 8, then single values */
        int64_t j0 = 0;
        for (; j0 + 16 <= L; j0 += 16) mmc_transpose16(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
        for (; j0 + 8 <= L; j0 += 8) {
            mmc_transpose8(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
            mmc_transpose8(src + (i0 + 8) * lds + j0, lds, dst + j0 * ldd + i0 + 8, ldd);
        }
        for (int i = i0; i < i0 + 16; i++)
            for (int64_t j = j0; j < L; j++) dst[j * ldd + i] = src[i * lds + j];
    }
    for (; i0 + 8 <= R; i0 += 8) {
        int64_t j0 = 0;
        for (; j0 + 8 <= L; j0 += 8) mmc_transpose8(src + i0 * lds + j0, lds, dst + j0 * ldd + i0, ldd);
        for (int i = i0; i < i0 + 8; i++)
            for (int64_t j = j0; j < L; j++) dst[j * ldd + i] = src[i * lds + j];
    }
#endif
    for (int i = i0; i < R; i++)
        for (int64_t j = 0; j < L; j++) dst[j * ldd + i] = src[i * lds + j];
}

#ifdef CD_X86
/* One tile of dWᵀ for one (kh, kw): rows i < MR are input channels (broadcast from xT, one
 * position's channels consecutive), columns 16·NB output channels (vectors from dyT).
 *   acc[i][j] = Σ_{oh, ow} xT[a0 + oh·arow + ow·acol + i] · dyT[b0 + (oh·OW + ow)·OCp + j]
 *   out[i·ldo + j] += acc */
#define DW_TILE(MR, NB)                                                                          \
    __attribute__((target("avx512f"))) static void dw_tile_##MR##_##NB(                           \
        int OH, int OW, const float *a0, int64_t arow, int64_t acol, const float *b0, int64_t OCp, \
        float *out, int64_t ldo) {                                                               \
        __m512 acc[MR][NB];                                                                      \
        _Pragma("GCC unroll 12") for (int i = 0; i < MR; i++)                                    \
            _Pragma("GCC unroll 2") for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_ps(); \
        const float *b = b0;                                                                     \
        for (int oh = 0; oh < OH; oh++) {                                                        \
            const float *a = a0 + oh * arow;                                                     \
            for (int ow = 0; ow < OW; ow++, a += acol, b += OCp) {                               \
                __m512 bv[NB];                                                                   \
                _Pragma("GCC unroll 2") for (int j = 0; j < NB; j++) bv[j] = _mm512_loadu_ps(b + 16 * j); \
                _Pragma("GCC unroll 12") for (int i = 0; i < MR; i++) {                          \
                    __m512 ai = _mm512_set1_ps(a[i]);                                            \
                    _Pragma("GCC unroll 2") for (int j = 0; j < NB; j++)                         \
                        acc[i][j] = _mm512_fmadd_ps(ai, bv[j], acc[i][j]);                       \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        _Pragma("GCC unroll 12") for (int i = 0; i < MR; i++)                                    \
            _Pragma("GCC unroll 2") for (int j = 0; j < NB; j++) {                               \
                float *o = out + i * ldo + 16 * j;                                               \
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[i][j]));               \
            }                                                                                    \
    }
DW_TILE(12, 2)
DW_TILE(8, 2)
DW_TILE(4, 2)
DW_TILE(12, 1)
DW_TILE(8, 1)
DW_TILE(4, 1)
#undef DW_TILE

typedef void (*dw_tile_fn)(int, int, const float *, int64_t, int64_t, const float *, int64_t, float *, int64_t);
#endif

void cd_dw(const cd_geom *g, const float *x, const float *dy, float *part, float *scratch) {
#ifdef CD_X86
    const int64_t Hp = pad_h(g), Wp = pad_w(g), Cp = dw_cp(g), OCp = dw_ocp(g);
    const int64_t P = (int64_t)g->OH * g->OW, HW = (int64_t)g->H * g->W;
    float *xT = scratch, *dyT = scratch + Hp * Wp * Cp;
    /* xT (Hp, Wp, Cp): the padded input, channels last, zero in the border and past C */
    memset(xT, 0, sizeof(float) * (size_t)(Hp * Wp * Cp + 64));
    for (int h = 0; h < g->H; h++)
        transpose(x + (int64_t)h * g->W, HW, g->C, g->W, xT + ((h + g->ph) * Wp + g->pw) * Cp, Cp);
    /* dyT (P, OCp): dL/dY, channels last, zero past OC */
    if (OCp > g->OC)
        for (int64_t p = 0; p < P; p++) memset(dyT + p * OCp + g->OC, 0, sizeof(float) * (size_t)(OCp - g->OC));
    transpose(dy, P, g->OC, P, dyT, OCp);
    const int64_t arow = (int64_t)g->sh * Wp * Cp, acol = (int64_t)g->sw * Cp;
    /* Output rows in chunks of R: every tile of the chunk reads the same few rows of xT and
     * R rows of dyT, which then stay in L1 (about 40 KB) across the 9 kernel taps and the
     * channel tiles; each tile adds its sums into part at the end of the chunk. Without
     * chunks every tile streams the whole sample from L2 — 27 passes over 1 MB for a 32-
     * channel 64×64 layer. Chunks of fewer than 32 positions would spend too much on those
     * additions: small planes take all rows at once. */
    int R = g->OH;
    for (int r = 1; r < g->OH; r++) {
        int64_t xrows = (int64_t)(r - 1) * g->sh + (int64_t)(g->KH - 1) * g->dh + 1;
        int64_t bytes = 4 * (xrows * Wp * Cp + (int64_t)r * g->OW * OCp);
        if (bytes > 40 * 1024) break;
        if ((int64_t)r * g->OW >= 32) { R = r; break; }
    }
    for (int oh0 = 0; oh0 < g->OH; oh0 += R) {
        int rows = g->OH - oh0 < R ? g->OH - oh0 : R;
        const float *xc = xT + oh0 * arow, *dc = dyT + (int64_t)oh0 * g->OW * OCp;
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                const float *ak = xc + ((int64_t)kh * g->dh * Wp + (int64_t)kw * g->dw) * Cp;
                float *pk = part + ((int64_t)kh * g->KW + kw) * Cp * OCp;
                for (int64_t oc0 = 0; oc0 < OCp; oc0 += 32) {
                    int nb = OCp - oc0 >= 32 ? 2 : 1;
                    for (int64_t c0 = 0; c0 < Cp; c0 += WM) {
                        int mr = Cp - c0 >= WM ? WM : (int)(Cp - c0); /* 12, or the 4 or 8 left */
                        dw_tile_fn f = mr == 12 ? (nb == 2 ? dw_tile_12_2 : dw_tile_12_1)
                                       : mr == 8 ? (nb == 2 ? dw_tile_8_2 : dw_tile_8_1)
                                                 : (nb == 2 ? dw_tile_4_2 : dw_tile_4_1);
                        f(rows, g->OW, ak + c0, arow, acol, dc + oc0, OCp, pk + c0 * OCp + oc0, OCp);
                    }
                }
            }
    }
#else
    (void)g, (void)x, (void)dy, (void)part, (void)scratch;
#endif
}

void cd_dw_finish(const cd_geom *g, const float *parts, int n, float *gw) {
    const int64_t Cp = dw_cp(g), OCp = dw_ocp(g), stride = (int64_t)cd_dw_part_floats(g);
    for (int t = 0; t < n; t++) {
        const float *pt = parts + t * stride;
        for (int oc = 0; oc < g->OC; oc++)
            for (int c = 0; c < g->C; c++)
                for (int kh = 0; kh < g->KH; kh++)
                    for (int kw = 0; kw < g->KW; kw++)
                        gw[(((int64_t)oc * g->C + c) * g->KH + kh) * g->KW + kw] +=
                            pt[(((int64_t)kh * g->KW + kw) * Cp + c) * OCp + oc];
    }
}

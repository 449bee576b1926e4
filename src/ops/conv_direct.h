/*
 * conv_direct.h — convolution kernels that need no im2col buffer (src/ops/conv_direct.c), for
 * AVX-512 CPUs. Internal to src/ops: conv.c picks them per convolution and falls back to
 * im2col + GEMM for what they do not take.
 *
 * Forward (and dL/dX of a stride-1 convolution, which is the forward convolution of dL/dY
 * with the kernel flipped and transposed): "direct" NCHW. The input plane of a sample is
 * copied once into a zero-padded buffer; an output tile of 4 channels × 6 vectors of 16
 * positions then needs, for each k = (c, kh, kw), six plain vector loads from that buffer at
 * a fixed offset of the positions' base addresses, and 4 broadcasts of packed weights:
 * 24 FMAs per 10 loads, no packing of the input at all. Positions are vectors of 16
 * consecutive outputs of one output row, so the output width must be a multiple of 16.
 *
 * dL/dW: "NHWC" per sample. dW[oc, c, kh, kw] = Σ_p dY[oc, p] · x[c, p·s + (kh, kw)] is, for
 * each (kh, kw), a product of x (transposed to positions × channels, zero-padded) and dY
 * (transposed to positions × channels) over the positions: a 12-channel × 32-output-channel
 * tile of dWᵀ accumulates in registers over all the sample's positions from 12 broadcasts
 * (consecutive channels of one input position) and 2 vector loads (consecutive output
 * channels of one output position) per position. Any stride and dilation.
 */
#ifndef MMC_OPS_CONV_DIRECT_H
#define MMC_OPS_CONV_DIRECT_H

#include <stddef.h>
#include <stdint.h>

/* A convolution of one sample, groups 1, in NCHW. */
typedef struct cd_geom {
    int C, OC, H, W, KH, KW;
    int sh, sw, ph, pw, dh, dw;
    int OH, OW;
} cd_geom;

/* 1 when this CPU runs the kernels (AVX-512F) and they are not switched off (tests). */
int cd_available(void);
/* Tests: 0 switches the direct kernels off (conv.c then uses im2col + GEMM for everything),
 * 1 back on. Returns the previous setting. */
int cd_set_enabled(int on);

/* ---- direct forward: stride 1, output width a multiple of 16 */
int cd_fwd_ok(const cd_geom *g);
/* Sizes, in floats or int32s, of what the calls below need. */
size_t cd_fwd_wpack_floats(const cd_geom *g); /* packed weights, shared by all samples */
size_t cd_fwd_pad_floats(const cd_geom *g);   /* padded input of one sample, per thread */
size_t cd_fwd_table_ints(const cd_geom *g);   /* offsets, shared */
/* w (OC, C, KH, KW) -> wp; flip = 1 packs the kernel of the transposed convolution
 * (channels swapped, kernel flipped): with g the geometry of that transposed convolution,
 * w is then the original (g->C, g->OC, KH, KW) kernel. Fills the offset table tab. */
void cd_fwd_prepare(const cd_geom *g, const float *w, int flip, float *wp, int32_t *tab);
/* y (OC, OH, OW) = conv(x (C, H, W)), or y += when accumulate. pad: cd_fwd_pad_floats. */
void cd_fwd(const cd_geom *g, const float *wp, const int32_t *tab, const float *x, float *y,
            int accumulate, float *pad);
/* The geometry of the transposed convolution that gives dL/dX of g (stride 1): its input is
 * dL/dY (OC, OH, OW), its output dL/dX (C, H, W). Returns 0 when there is none (a stride, or
 * padding beyond the dilated kernel); the forward kernels (cd_fwd, cd_nhwc_fwd) run it. */
int cd_dx_geom(const cd_geom *g, cd_geom *t);

/* ---- NHWC forward, any stride and dilation (at most 64 kernel taps): for what cd_fwd does
 * not take. wr: cd_nhwc_wpack_floats, shared; scratch: cd_nhwc_scratch_floats per thread. */
int cd_nhwc_ok(const cd_geom *g);
size_t cd_nhwc_wpack_floats(const cd_geom *g);
size_t cd_nhwc_scratch_floats(const cd_geom *g);
/* w -> wr; flip as in cd_fwd_prepare */
void cd_nhwc_prepare(const cd_geom *g, const float *w, int flip, float *wr);
/* y (OC, OH, OW) = conv(x (C, H, W)), or y += when accumulate */
void cd_nhwc_fwd(const cd_geom *g, const float *wr, const float *x, float *y, int accumulate, float *scratch);

/* ---- dL/dX of a strided convolution (dilation 1, at most 64 taps): by residue classes of
 * the stride, each a stride-1 NHWC convolution of dL/dY with a sub-kernel (see the .c).
 * wr: cd_dxs_wpack_floats, shared; scratch: cd_dxs_scratch_floats per thread. */
int cd_dxs_ok(const cd_geom *g);
size_t cd_dxs_wpack_floats(const cd_geom *g);
size_t cd_dxs_scratch_floats(const cd_geom *g);
void cd_dxs_prepare(const cd_geom *g, const float *w, float *wr);
/* gx (C, H, W) (+)= dL/dX of one sample from dy (OC, OH, OW) */
void cd_dxs(const cd_geom *g, const float *wr, const float *dy, float *gx, int accumulate, float *scratch);

/* ---- dL/dW, any stride and dilation */
int cd_dw_ok(const cd_geom *g);
size_t cd_dw_part_floats(const cd_geom *g);    /* one thread's partial sum */
size_t cd_dw_scratch_floats(const cd_geom *g); /* one thread's transposed x and dY */
/* part (KH, KW, Cp, OCp) += the sample's dWᵀ, from x (C, H, W) and dy (OC, OH, OW). */
void cd_dw(const cd_geom *g, const float *x, const float *dy, float *part, float *scratch);
/* gw (OC, C, KH, KW) += Σ over n partials (in order), each cd_dw_part_floats apart. */
void cd_dw_finish(const cd_geom *g, const float *parts, int n, float *gw);

#endif

/* recurrent.c — fused whole-sequence GRU and LSTM layers (one layer, one direction) with
 * their own backward through time.
 *
 * One call is one tape node, however long the sequence:
 *
 *   forward   gx = x · W_ihᵀ + b_ih            one GEMM over all (B·T, IN) rows
 *             for s in 0..T-1:
 *               gh = h_s · W_hhᵀ                one GEMM (B, G·H)
 *               gates, h_{s+1} (, c_{s+1})      one fused elementwise pass over (B, H)
 *   backward  for s in T-1..0:
 *               dG_s from the saved activations  one fused elementwise pass
 *               dh_s += dG_s · W_hh             one GEMM
 *             dW_hh += Σ_s dG_sᵀ · h_s          one GEMM with K = T·B (all steps at once)
 *             dW_ih += dGxᵀ · x, dx += dGx · W_ih   one GEMM each
 *
 * Gate order and formulas are PyTorch's:
 *   GRU  (G = 3)  r = σ(gx_r + gh_r + b_hr)   z = σ(gx_z + gh_z + b_hz)
 *                 n = tanh(gx_n + r ⊙ (gh_n + b_hn))      h' = (1 − z) ⊙ n + z ⊙ h
 *   LSTM (G = 4)  i, f, o = σ(·), g = tanh(·)   c' = f ⊙ c + i ⊙ g   h' = o ⊙ tanh(c')
 *
 * Variable lengths (what pack_padded_sequence + pad_packed_sequence give): step s of a
 * sequence of length L is active when s < L; it reads and writes time index s, or L−1−s in
 * the reverse direction, so the reverse direction starts at each sequence's own last
 * valid step. An inactive step carries the state unchanged; padded output positions are
 * 0 (each inactive step s owns position s ≥ L, so every position is written exactly once).
 * The final state of a sequence is therefore the state after its last valid step.
 *
 * Outputs: the node's tensor packs [out (B,T,H) | h_n (B,H) | c_n (B,H)] so that one node
 * runs whenever any of them receives a gradient (an encoder often uses h_n only); the
 * tensors handed to the caller alias parts of it, each through a tiny node that adds its
 * gradient into the packed one.
 *
 * Threads: the GEMMs run on OpenBLAS' threads; the per-step elementwise passes run on the
 * calling thread, vectorised. They are small next to a step's GEMM, and an OpenMP team
 * woken between two OpenBLAS calls keeps spinning on the cores OpenBLAS' (pthread) workers
 * need: with the passes in OpenMP the layer ran 1.5-3x slower on 2 cores, unless
 * OMP_WAIT_POLICY=passive was set.
 *
 * Determinism: the passes are serial and the bias gradients are summed in a fixed order
 * (steps T-1..0, rows 0..B-1), so results depend only on the BLAS thread count. */
#include "blas.h"
#include <math.h>
#include <string.h>

enum { RNN_GRU = 0, RNN_LSTM = 1 };

typedef struct rnn_saved {
    int kind, B, T, IN, H, G, reverse;
    int *len;          /* (B) copy of the lengths (the caller's array may not outlive the step) */
    float *hs;         /* (T+1, B, H) h_0 .. h_T in step order (h_0 = h0 or zeros) */
    float *cs;         /* LSTM: (T+1, B, H) c_0 .. c_T */
    float *act;        /* (T, B, 4H) per step and row: GRU r, z, n, gh_n + b_hn; LSTM i, f, g, o */
    float *tc;         /* LSTM: (T, B, H) tanh(c_{s+1}) */
    const float *bhh;  /* (G·H) b_hh, or zeros */
} rnn_saved;

/* exp, sigmoid and tanh written so that the per-step loops vectorise: with libm's scalar
 * expf/tanhf the forward gate pass took 13% of a GRU layer's forward+backward time at the
 * benchmark size, vectorised 3%.
 * exp(x) = 2^k · e^r with k = round(x / ln 2) and |r| <= ln2 / 2, e^r by its Taylor series
 * to r^7 (truncation < 6e-9 relative), 2^k built in the exponent bits. x is clamped to
 * [-87, 88] so 2^k stays a normal float; sigmoid and tanh have saturated long before.
 * A NaN stays NaN. tanh(x) = 2 σ(2x) − 1 is within ~1e-7 absolute, not relative, near 0,
 * which is what the gate products downstream can see. */
static inline float fast_exp(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    /* round to nearest by adding and removing 1.5·2^23 (floorf would not vectorise) */
    float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - k * 0.693145751953125f;   /* ln 2 split in two for an exact product */
    r = r - k * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float two_k;
    memcpy(&two_k, &bits, sizeof two_k); /* a register move, and it vectorises */
    return p * two_k;
}
static inline float sigm(float v) { return 1.0f / (1.0f + fast_exp(-v)); }
static inline float ftanh(float v) { return 2.0f / (1.0f + fast_exp(-2.0f * v)) - 1.0f; }

/* The time index that step s of a sequence of length L reads and writes. */
static inline int step_time(int s, int L, int reverse) { return reverse && s < L ? L - 1 - s : s; }

/* ---------------------------------------------------------------- forward */

/* One step of the fused elementwise pass for all rows.
 * gx (B·T, G·H) row b·T+t; gh (B, G·H) = h_s · W_hhᵀ; hp, cp (B, H) state in; hn, cn out;
 * out (B, T, H); act (B, 4H) and tc (B, H) are this step's saved slices. */
static void fwd_step(const rnn_saved *S, int s, const float *gx, const float *gh, const float *hp,
                     const float *cp, float *hn, float *cn, float *out, float *act, float *tc) {
    const int B = S->B, T = S->T, H = S->H, GH = S->G * S->H;
    const float *bh = S->bhh;
    for (int b = 0; b < B; b++) {
        const int L = S->len[b];
        const float *hpr = hp + (int64_t)b * H;
        float *hnr = hn + (int64_t)b * H;
        if (s >= L) { /* padding: carry the state, output 0 at position s */
            memcpy(hnr, hpr, sizeof(float) * (size_t)H);
            if (S->kind == RNN_LSTM) memcpy(cn + (int64_t)b * H, cp + (int64_t)b * H, sizeof(float) * (size_t)H);
            memset(out + ((int64_t)b * T + s) * H, 0, sizeof(float) * (size_t)H);
            continue;
        }
        const int t = step_time(s, L, S->reverse);
        const float *x = gx + ((int64_t)b * T + t) * GH, *h = gh + (int64_t)b * GH;
        float *a = act + (int64_t)b * 4 * H, *o = out + ((int64_t)b * T + t) * H;
        if (S->kind == RNN_GRU) {
#pragma omp simd
            for (int j = 0; j < H; j++) {
                float r = sigm(x[j] + h[j] + bh[j]);
                float z = sigm(x[H + j] + h[H + j] + bh[H + j]);
                float hn_ = h[2 * H + j] + bh[2 * H + j];
                float n = ftanh(x[2 * H + j] + r * hn_);
                float v = (1.0f - z) * n + z * hpr[j];
                a[j] = r, a[H + j] = z, a[2 * H + j] = n, a[3 * H + j] = hn_;
                hnr[j] = v;
                o[j] = v;
            }
        } else {
            const float *cpr = cp + (int64_t)b * H;
            float *cnr = cn + (int64_t)b * H, *tcr = tc + (int64_t)b * H;
#pragma omp simd
            for (int j = 0; j < H; j++) {
                float i = sigm(x[j] + h[j] + bh[j]);
                float f = sigm(x[H + j] + h[H + j] + bh[H + j]);
                float g = ftanh(x[2 * H + j] + h[2 * H + j] + bh[2 * H + j]);
                float og = sigm(x[3 * H + j] + h[3 * H + j] + bh[3 * H + j]);
                float c = f * cpr[j] + i * g;
                float th = ftanh(c);
                a[j] = i, a[H + j] = f, a[2 * H + j] = g, a[3 * H + j] = og;
                cnr[j] = c;
                tcr[j] = th;
                hnr[j] = og * th;
                o[j] = og * th;
            }
        }
    }
}

/* ---------------------------------------------------------------- backward */

/* One step of the backward pass for all rows. dh, dc (B, H): gradient w.r.t. the state
 * after step s; writes dhp, dcp (B, H): the direct part of the gradient w.r.t. the state
 * before it (the W_hh part is added by the caller's GEMM); dgh (B, G·H) this step's
 * gate gradients for the hidden GEMMs; dgx (B·T, G·H) the same for the input GEMMs.
 * dbih, dbhh (G·H) accumulate the bias gradients while the rows are in cache. */
static void bwd_step(const rnn_saved *S, int s, const float *dout, const float *dh,
                     const float *dc, float *dhp, float *dcp, float *dgh, float *dgx,
                     float *restrict dbih, float *restrict dbhh) {
    const int B = S->B, T = S->T, H = S->H, GH = S->G * S->H;
    const float *act = S->act + (int64_t)s * B * 4 * H;
    const float *hp = S->hs + (int64_t)s * B * H;
    for (int b = 0; b < B; b++) {
        const int L = S->len[b];
        const float *dhr = dh + (int64_t)b * H;
        float *dhpr = dhp + (int64_t)b * H, *gh = dgh + (int64_t)b * GH;
        if (s >= L) { /* padding: the state passed through unchanged; position s gets no grad */
            memcpy(dhpr, dhr, sizeof(float) * (size_t)H);
            if (S->kind == RNN_LSTM) memcpy(dcp + (int64_t)b * H, dc + (int64_t)b * H, sizeof(float) * (size_t)H);
            memset(gh, 0, sizeof(float) * (size_t)GH);
            memset(dgx + ((int64_t)b * T + s) * GH, 0, sizeof(float) * (size_t)GH);
            continue;
        }
        const int t = step_time(s, L, S->reverse);
        const float *a = act + (int64_t)b * 4 * H, *go = dout + ((int64_t)b * T + t) * H;
        const float *hpr = hp + (int64_t)b * H;
        float *gx = dgx + ((int64_t)b * T + t) * GH;
        if (S->kind == RNN_GRU) {
#pragma omp simd
            for (int j = 0; j < H; j++) {
                float r = a[j], z = a[H + j], n = a[2 * H + j], hn_ = a[3 * H + j];
                float g = dhr[j] + go[j];
                float dn = g * (1.0f - z) * (1.0f - n * n); /* through tanh */
                float dz = g * (hpr[j] - n) * z * (1.0f - z);
                float dr = dn * hn_ * r * (1.0f - r);
                gx[j] = gh[j] = dr;
                gx[H + j] = gh[H + j] = dz;
                gx[2 * H + j] = dn;
                gh[2 * H + j] = dn * r; /* n sees W_hn h + b_hn scaled by r */
                dhpr[j] = g * z;
                dbih[j] += dr, dbih[H + j] += dz, dbih[2 * H + j] += dn;
                dbhh[j] += dr, dbhh[H + j] += dz, dbhh[2 * H + j] += dn * r;
            }
        } else {
            const float *cpr = S->cs + ((int64_t)s * B + b) * H;
            const float *tcr = S->tc + ((int64_t)s * B + b) * H;
            const float *dcr = dc + (int64_t)b * H;
            float *dcpr = dcp + (int64_t)b * H;
#pragma omp simd
            for (int j = 0; j < H; j++) {
                float i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], th = tcr[j];
                float g = dhr[j] + go[j];
                float c = dcr[j] + g * o * (1.0f - th * th);
                float di = c * gg * i * (1.0f - i);
                float df = c * cpr[j] * f * (1.0f - f);
                float dg = c * i * (1.0f - gg * gg);
                float dov = g * th * o * (1.0f - o);
                gx[j] = gh[j] = di;
                gx[H + j] = gh[H + j] = df;
                gx[2 * H + j] = gh[2 * H + j] = dg;
                gx[3 * H + j] = gh[3 * H + j] = dov;
                dcpr[j] = c * f;
                dhpr[j] = 0.0f;
                dbih[j] += di, dbih[H + j] += df, dbih[2 * H + j] += dg, dbih[3 * H + j] += dov;
            }
        }
    }
}

/* Inputs in the node's list: x, h0, c0, w_ih, w_hh, b_ih, b_hh (any of h0, c0, b_* NULL). */
enum { IN_X, IN_H0, IN_C0, IN_WIH, IN_WHH, IN_BIH, IN_BHH, IN_N };

static void rnn_backward(mmc_ctx *ctx, mmc_node *n) {
    const rnn_saved *S = n->saved;
    mmc_tensor **in = n->in_list;
    const int B = S->B, T = S->T, IN = S->IN, H = S->H, GH = S->G * S->H, lstm = S->kind == RNN_LSTM;
    const int64_t BH = (int64_t)B * H;
    const float *gY = n->out->grad; /* [dout (B,T,H) | dh_n (B,H) | dc_n (B,H)] */
    const float *dout = gY, *dhn = gY + (int64_t)B * T * H, *dcn = dhn + BH;

    float *dgh = mmc_scratch(ctx, sizeof(float) * (size_t)T * B * GH);  /* (T, B, G·H) */
    float *dgx = mmc_scratch(ctx, sizeof(float) * (size_t)B * T * GH);  /* (B·T, G·H) */
    float *buf = mmc_scratch(ctx, sizeof(float) * (size_t)BH * 4);      /* dh, dh', dc, dc' */
    float *db = mmc_scratch(ctx, sizeof(float) * (size_t)GH * 2);       /* Σ dG for b_ih, b_hh */
    if (!dgh || !dgx || !buf || !db) return;
    memset(db, 0, sizeof(float) * (size_t)GH * 2);
    float *dbih = db, *dbhh = lstm ? db : db + GH; /* the LSTM's two biases get the same sum */
    float *dh = buf, *dhp = buf + BH, *dc = buf + 2 * BH, *dcp = buf + 3 * BH;
    memcpy(dh, dhn, sizeof(float) * (size_t)BH);
    if (lstm) memcpy(dc, dcn, sizeof(float) * (size_t)BH);
    const float *Whh = in[IN_WHH]->data, *Wih = in[IN_WIH]->data;

    for (int s = T - 1; s >= 0; s--) {
        float *g = dgh + (int64_t)s * B * GH;
        bwd_step(S, s, dout, dh, dc, dhp, dcp, g, dgx, dbih, lstm ? NULL : dbhh);
        mmc_gemm(0, 0, B, H, GH, 1.0f, g, Whh, 1.0f, dhp); /* dh_s += dG_s (B,GH) · W_hh (GH,H) */
        float *tmp = dh; dh = dhp; dhp = tmp;
        tmp = dc; dc = dcp; dcp = tmp;
    }
    /* dh, dc now hold the gradient w.r.t. h_0, c_0 */
    if (mmc_needs_grad(in[IN_H0])) {
        float *g = mmc_tensor_grad(ctx, in[IN_H0]);
        if (!g) return;
        for (int64_t i = 0; i < BH; i++) g[i] += dh[i];
    }
    if (lstm && mmc_needs_grad(in[IN_C0])) {
        float *g = mmc_tensor_grad(ctx, in[IN_C0]);
        if (!g) return;
        for (int64_t i = 0; i < BH; i++) g[i] += dc[i];
    }
    if (mmc_needs_grad(in[IN_WHH])) { /* dW_hh (GH,H) += Σ_s dG_sᵀ h_s: (T·B,GH)ᵀ · (T·B,H) */
        float *g = mmc_tensor_grad(ctx, in[IN_WHH]);
        if (!g) return;
        mmc_gemm(1, 0, GH, H, T * B, 1.0f, dgh, S->hs, 1.0f, g);
    }
    if (mmc_needs_grad(in[IN_BHH])) {
        float *g = mmc_tensor_grad(ctx, in[IN_BHH]);
        if (!g) return;
        for (int j = 0; j < GH; j++) g[j] += dbhh[j];
    }
    if (mmc_needs_grad(in[IN_WIH])) { /* dW_ih (GH,IN) += dGxᵀ (GH,B·T) · x (B·T,IN) */
        float *g = mmc_tensor_grad(ctx, in[IN_WIH]);
        if (!g) return;
        mmc_gemm(1, 0, GH, IN, B * T, 1.0f, dgx, in[IN_X]->data, 1.0f, g);
    }
    if (mmc_needs_grad(in[IN_BIH])) {
        float *g = mmc_tensor_grad(ctx, in[IN_BIH]);
        if (!g) return;
        for (int j = 0; j < GH; j++) g[j] += dbih[j];
    }
    if (mmc_needs_grad(in[IN_X])) { /* dx (B·T,IN) += dGx (B·T,GH) · W_ih (GH,IN) */
        float *g = mmc_tensor_grad(ctx, in[IN_X]);
        if (!g) return;
        mmc_gemm(0, 0, B * T, IN, GH, 1.0f, dgx, Wih, 1.0f, g);
    }
}

/* ------------------------------------------------------------ packed outputs */

static void part_backward(mmc_ctx *ctx, mmc_node *n) {
    float *g = mmc_tensor_grad(ctx, n->in[0]);
    if (!g) return;
    g += (int64_t)n->ia[0] * n->ia[1]; /* offset = ia[0] * ia[1] (kept in two ints) */
    const float *d = n->out->grad;
    for (int64_t i = 0; i < n->out->numel; i++) g[i] += d[i];
}

/* A tensor of the given shape aliasing Y's data at offset off (a multiple of chunk). */
static mmc_tensor *part(mmc_ctx *ctx, const char *op, mmc_tensor *Y, int64_t off, int chunk,
                        int ndim, const int *shape) {
    mmc_tensor *t = mmc_scratch(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = mmc_shape_numel(ndim, shape);
    t->data = Y->data + off;
    mmc_node *n = mmc_node_record(ctx, op, t, part_backward, 1, Y);
    if (n) n->ia[0] = (int)(off / chunk), n->ia[1] = chunk;
    return t;
}

/* ------------------------------------------------------------------- checks */

static int check_2d(mmc_ctx *ctx, const char *op, const char *what, const mmc_tensor *t, int d0, int d1) {
    if (!t) return 0;
    if (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1) return 0;
    char s[64];
    mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: %s has shape %s, expected (%d, %d)", op, what,
                mmc_shape_str(t, s, sizeof s), d0, d1);
    return -1;
}

static int check_1d(mmc_ctx *ctx, const char *op, const char *what, const mmc_tensor *t, int d0) {
    if (!t) return 0;
    if (t->ndim == 1 && t->shape[0] == d0) return 0;
    char s[64];
    mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: %s has shape %s, expected (%d)", op, what,
                mmc_shape_str(t, s, sizeof s), d0);
    return -1;
}

/* ------------------------------------------------------------------ the layer */

static mmc_tensor *rnn_layer(mmc_ctx *ctx, int kind, mmc_tensor *x, mmc_tensor *h0, mmc_tensor *c0,
                             const mmc_rnn_weights *w, const int *lengths, int reverse,
                             mmc_tensor **h_n, mmc_tensor **c_n) {
    const char *op = kind == RNN_GRU ? "gru_layer" : "lstm_layer";
    const int G = kind == RNN_GRU ? 3 : 4;
    if (h_n) *h_n = NULL;
    if (c_n) *c_n = NULL;
    if (!w) return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: weights are NULL", op);
    MMC_CHECK_INPUTS(ctx, op, x, w->w_ih, w->w_hh);
    char s1[64], s2[64];
    if (x->ndim != 3 || x->shape[0] < 1 || x->shape[1] < 1)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: x has shape %s, expected (B, T, IN) with B, T >= 1",
                           op, mmc_shape_str(x, s1, sizeof s1));
    const int B = x->shape[0], T = x->shape[1], IN = x->shape[2];
    if (w->w_hh->ndim != 2 || w->w_hh->shape[0] != G * w->w_hh->shape[1] || w->w_hh->shape[1] < 1)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: weight_hh has shape %s, expected (%d*H, H)", op,
                           mmc_shape_str(w->w_hh, s1, sizeof s1), G);
    const int H = w->w_hh->shape[1], GH = G * H;
    if (w->w_ih->ndim != 2 || w->w_ih->shape[0] != GH || w->w_ih->shape[1] != IN)
        return mmc_op_fail(ctx, MMC_ERR_USAGE,
                           "%s: x %s has input width %d but weight_ih has shape %s (expected (%d, %d))",
                           op, mmc_shape_str(x, s1, sizeof s1), IN, mmc_shape_str(w->w_ih, s2, sizeof s2), GH, IN);
    if (check_1d(ctx, op, "bias_ih", w->b_ih, GH) || check_1d(ctx, op, "bias_hh", w->b_hh, GH) ||
        check_2d(ctx, op, "h0", h0, B, H) || (kind == RNN_LSTM && check_2d(ctx, op, "c0", c0, B, H)))
        return NULL;
    if ((int64_t)B * T > INT32_MAX / (GH > IN ? GH : IN))
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: x %s is too large", op, mmc_shape_str(x, s1, sizeof s1));
    if (lengths)
        for (int b = 0; b < B; b++)
            if (lengths[b] < 1 || lengths[b] > T)
                return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: lengths[%d] = %d is outside 1..T = %d", op,
                                   b, lengths[b], T);

    const int64_t BH = (int64_t)B * H;
    rnn_saved *S = mmc_scratch(ctx, sizeof *S);
    if (!S) return NULL;
    memset(S, 0, sizeof *S);
    *S = (rnn_saved){.kind = kind, .B = B, .T = T, .IN = IN, .H = H, .G = G, .reverse = reverse};
    S->len = mmc_scratch(ctx, sizeof(int) * (size_t)B);
    S->hs = mmc_scratch(ctx, sizeof(float) * (size_t)((T + 1) * BH));
    S->act = mmc_scratch(ctx, sizeof(float) * (size_t)(T * BH * 4));
    if (kind == RNN_LSTM) {
        S->cs = mmc_scratch(ctx, sizeof(float) * (size_t)((T + 1) * BH));
        S->tc = mmc_scratch(ctx, sizeof(float) * (size_t)(T * BH));
    }
    float *gx = mmc_scratch(ctx, sizeof(float) * (size_t)B * T * GH); /* (B·T, G·H) */
    float *gh = mmc_scratch(ctx, sizeof(float) * (size_t)B * GH);     /* (B, G·H) */
    float *bzero = w->b_hh ? NULL : mmc_scratch(ctx, sizeof(float) * (size_t)GH);
    int64_t ny = (int64_t)B * T * H + BH * (kind == RNN_LSTM ? 2 : 1);
    mmc_tensor *Y = mmc_tensor_empty(ctx, 1, (int[]){(int)ny});
    if (!S->len || !S->hs || !S->act || (kind == RNN_LSTM && (!S->cs || !S->tc)) || !gx || !gh ||
        (!w->b_hh && !bzero) || !Y)
        return NULL;
    if (ny > INT32_MAX) return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: output too large", op);
    for (int b = 0; b < B; b++) S->len[b] = lengths ? lengths[b] : T;
    if (bzero) memset(bzero, 0, sizeof(float) * (size_t)GH);
    S->bhh = w->b_hh ? w->b_hh->data : bzero;

    /* gx (B·T, G·H) = x (B·T, IN) · W_ihᵀ + b_ih */
    if (w->b_ih)
        for (int64_t r = 0; r < (int64_t)B * T; r++) memcpy(gx + r * GH, w->b_ih->data, sizeof(float) * (size_t)GH);
    mmc_gemm(0, 1, B * T, GH, IN, 1.0f, x->data, w->w_ih->data, w->b_ih ? 1.0f : 0.0f, gx);

    float *out = Y->data;
    if (h0) memcpy(S->hs, h0->data, sizeof(float) * (size_t)BH);
    else memset(S->hs, 0, sizeof(float) * (size_t)BH);
    if (kind == RNN_LSTM) {
        if (c0) memcpy(S->cs, c0->data, sizeof(float) * (size_t)BH);
        else memset(S->cs, 0, sizeof(float) * (size_t)BH);
    }
    for (int s = 0; s < T; s++) {
        const float *hp = S->hs + s * BH;
        mmc_gemm(0, 1, B, GH, H, 1.0f, hp, w->w_hh->data, 0.0f, gh); /* gh (B,GH) = h_s · W_hhᵀ */
        fwd_step(S, s, gx, gh, hp, S->cs ? S->cs + s * BH : NULL, S->hs + (s + 1) * BH,
                 S->cs ? S->cs + (s + 1) * BH : NULL, out, S->act + s * BH * 4,
                 S->tc ? S->tc + s * BH : NULL);
    }
    float *yh = Y->data + (int64_t)B * T * H;
    memcpy(yh, S->hs + T * BH, sizeof(float) * (size_t)BH);
    if (kind == RNN_LSTM) memcpy(yh + BH, S->cs + T * BH, sizeof(float) * (size_t)BH);

    mmc_tensor *ins[IN_N] = {x, h0, kind == RNN_LSTM ? c0 : NULL, w->w_ih, w->w_hh, w->b_ih, w->b_hh};
    mmc_node *n = mmc_node_record_list(ctx, op, Y, rnn_backward, IN_N, ins);
    if (n) n->saved = S;
    if (ctx->err.code) return NULL;

    const char *pname = kind == RNN_GRU ? "gru_layer_part" : "lstm_layer_part";
    mmc_tensor *o = part(ctx, pname, Y, 0, H, 3, (int[]){B, T, H});
    mmc_tensor *hn = part(ctx, pname, Y, (int64_t)B * T * H, H, 2, (int[]){B, H});
    mmc_tensor *cn = kind == RNN_LSTM ? part(ctx, pname, Y, (int64_t)B * T * H + BH, H, 2, (int[]){B, H}) : NULL;
    if (!o || !hn || (kind == RNN_LSTM && !cn)) return NULL;
    if (h_n) *h_n = hn;
    if (c_n) *c_n = cn;
    return o;
}

mmc_tensor *mmc_gru_layer(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *h0, const mmc_rnn_weights *w,
                          const int *lengths, int reverse, mmc_tensor **h_n) {
    return rnn_layer(ctx, RNN_GRU, x, h0, NULL, w, lengths, reverse, h_n, NULL);
}

mmc_tensor *mmc_lstm_layer(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *h0, mmc_tensor *c0,
                           const mmc_rnn_weights *w, const int *lengths, int reverse,
                           mmc_tensor **h_n, mmc_tensor **c_n) {
    return rnn_layer(ctx, RNN_LSTM, x, h0, c0, w, lengths, reverse, h_n, c_n);
}

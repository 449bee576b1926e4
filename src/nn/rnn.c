/* rnn.c — multi-layer, bidirectional, batch-first GRU and LSTM modules (nn.GRU, nn.LSTM
 * with batch_first=True) over the fused layers of src/ops/recurrent.c, and single-step
 * cells for decoding.
 *
 * A layer of a bidirectional module is two fused layer calls (forward, reverse) whose
 * outputs are concatenated along the feature axis, forward half first, which is the next
 * layer's input. Final states are stacked as (layers·dirs, B, H) in PyTorch's order. */
#include "internal.h"
#include "mmc/nn.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

mmc_nn_rnn_opts mmc_nn_rnn_defaults(void) {
    return (mmc_nn_rnn_opts){.num_layers = 1, .bidirectional = 0, .bias = 1, .dropout = 0.0f};
}

static int rnn_init(mmc_nn_rnn *m, mmc_params *P, const char *prefix, int is_lstm, int input_size,
                    int hidden_size, mmc_nn_rnn_opts o, mmc_rng *rng, mmc_error *err) {
    const char *what = is_lstm ? "lstm" : "gru";
    if (!m || !P || !rng)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s init: module, params and rng are required", what);
    if (input_size < 1 || hidden_size < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s init: input_size %d and hidden_size %d must be >= 1",
                             what, input_size, hidden_size);
    if (o.num_layers < 1 || o.num_layers > MMC_NN_RNN_MAX_LAYERS)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s init: num_layers %d must be in 1..%d", what,
                             o.num_layers, MMC_NN_RNN_MAX_LAYERS);
    if (o.bidirectional != 0 && o.bidirectional != 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s init: bidirectional must be 0 or 1", what);
    if (!(o.dropout >= 0.0f && o.dropout < 1.0f))
        return mmc_error_set(err, MMC_ERR_USAGE, "%s init: dropout %g must be in [0, 1)", what,
                             (double)o.dropout);
    const int G = is_lstm ? 4 : 3, H = hidden_size, dirs = o.bidirectional ? 2 : 1;
    if ((int64_t)G * H > INT32_MAX / 8)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s init: hidden_size %d is too large", what, H);
    memset(m, 0, sizeof *m);
    m->is_lstm = is_lstm;
    m->input_size = input_size;
    m->hidden_size = H;
    m->num_layers = o.num_layers;
    m->dirs = dirs;
    m->dropout = o.dropout;
    const float bound = 1.0f / sqrtf((float)H);
    for (int l = 0; l < o.num_layers; l++)
        for (int d = 0; d < dirs; d++) {
            const int in = l == 0 ? input_size : H * dirs;
            const char *sfx = d ? "_reverse" : "";
            char name[64];
            mmc_rnn_weights *w = &m->w[l][d];
            /* PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh per layer and direction */
            snprintf(name, sizeof name, "weight_ih_l%d%s", l, sfx);
            w->w_ih = mmc_params_new(P, prefix, name, MMC_PARAM, 2, (int[]){G * H, in}, err);
            if (!w->w_ih) return err ? err->code : MMC_ERR_RUNTIME;
            snprintf(name, sizeof name, "weight_hh_l%d%s", l, sfx);
            w->w_hh = mmc_params_new(P, prefix, name, MMC_PARAM, 2, (int[]){G * H, H}, err);
            if (!w->w_hh) return err ? err->code : MMC_ERR_RUNTIME;
            mmc_init_uniform(w->w_ih, bound, rng);
            mmc_init_uniform(w->w_hh, bound, rng);
            if (!o.bias) continue;
            snprintf(name, sizeof name, "bias_ih_l%d%s", l, sfx);
            w->b_ih = mmc_params_new(P, prefix, name, MMC_PARAM, 1, (int[]){G * H}, err);
            if (!w->b_ih) return err ? err->code : MMC_ERR_RUNTIME;
            snprintf(name, sizeof name, "bias_hh_l%d%s", l, sfx);
            w->b_hh = mmc_params_new(P, prefix, name, MMC_PARAM, 1, (int[]){G * H}, err);
            if (!w->b_hh) return err ? err->code : MMC_ERR_RUNTIME;
            mmc_init_uniform(w->b_ih, bound, rng);
            mmc_init_uniform(w->b_hh, bound, rng);
        }
    return MMC_OK;
}

int mmc_nn_gru_init(mmc_nn_gru *m, mmc_params *P, const char *prefix, int input_size,
                    int hidden_size, mmc_nn_rnn_opts o, mmc_rng *rng, mmc_error *err) {
    return rnn_init(m, P, prefix, 0, input_size, hidden_size, o, rng, err);
}

int mmc_nn_lstm_init(mmc_nn_lstm *m, mmc_params *P, const char *prefix, int input_size,
                     int hidden_size, mmc_nn_rnn_opts o, mmc_rng *rng, mmc_error *err) {
    return rnn_init(m, P, prefix, 1, input_size, hidden_size, o, rng, err);
}

/* ------------------------------------------------------------------ forward */

/* Initial state of (layer, direction) idx from s (layers·dirs, B, H) as (B, H); NULL s: NULL. */
static mmc_tensor *state_of(mmc_ctx *ctx, mmc_tensor *s, int idx, int LD, int B, int H) {
    if (!s) return NULL;
    mmc_tensor *one = LD == 1 ? s : mmc_slice(ctx, s, 0, idx, idx + 1);
    return mmc_reshape(ctx, one, 2, (int[]){B, H});
}

/* Stacks LD final states (B, H) into (LD, B, H). */
static mmc_tensor *stack_states(mmc_ctx *ctx, mmc_tensor **st, int LD, int B, int H) {
    for (int i = 0; i < LD; i++) {
        st[i] = mmc_reshape(ctx, st[i], 3, (int[]){1, B, H});
        if (!st[i]) return NULL;
    }
    return LD == 1 ? st[0] : mmc_concat(ctx, st, LD, 0);
}

static int check_state(mmc_ctx *ctx, const char *op, const char *what, const mmc_tensor *s, int LD,
                       int B, int H) {
    if (!s || (s->ndim == 3 && s->shape[0] == LD && s->shape[1] == B && s->shape[2] == H)) return 0;
    char b[64];
    mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: %s has shape %s, expected (layers*dirs, B, H) = (%d, %d, %d)",
                op, what, mmc_shape_str(s, b, sizeof b), LD, B, H);
    return -1;
}

static mmc_tensor *rnn_forward(mmc_ctx *ctx, const mmc_nn_rnn *m, int is_lstm, mmc_tensor *x,
                               mmc_tensor *h0, mmc_tensor *c0, const int *lengths, int training,
                               mmc_rng *rng, mmc_tensor **h_n, mmc_tensor **c_n) {
    const char *op = is_lstm ? "lstm" : "gru";
    if (h_n) *h_n = NULL;
    if (c_n) *c_n = NULL;
    if (!m || m->hidden_size < 1 || m->num_layers < 1)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: module is not initialised", op);
    if (m->is_lstm != is_lstm)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: the module is %s", op, m->is_lstm ? "an LSTM" : "a GRU");
    MMC_CHECK_INPUTS(ctx, op, x);
    char s1[64];
    if (x->ndim != 3 || x->shape[2] != m->input_size)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: x has shape %s, expected (B, T, %d) (input_size %d)",
                           op, mmc_shape_str(x, s1, sizeof s1), m->input_size, m->input_size);
    const int B = x->shape[0], H = m->hidden_size, D = m->dirs, L = m->num_layers, LD = L * D;
    if (check_state(ctx, op, "h0", h0, LD, B, H) || (is_lstm && check_state(ctx, op, "c0", c0, LD, B, H)))
        return NULL;
    const int drop = training && m->dropout > 0.0f && L > 1;
    if (drop && !rng)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: training with dropout %g needs an rng", op,
                           (double)m->dropout);
    mmc_tensor *hs[2 * MMC_NN_RNN_MAX_LAYERS], *cs[2 * MMC_NN_RNN_MAX_LAYERS];
    mmc_tensor *in = x;
    for (int l = 0; l < L; l++) {
        mmc_tensor *outs[2];
        for (int d = 0; d < D; d++) {
            const int idx = l * D + d;
            mmc_tensor *h = state_of(ctx, h0, idx, LD, B, H);
            if (h0 && !h) return NULL;
            if (is_lstm) {
                mmc_tensor *c = state_of(ctx, c0, idx, LD, B, H);
                if (c0 && !c) return NULL;
                outs[d] = mmc_lstm_layer(ctx, in, h, c, &m->w[l][d], lengths, d, &hs[idx], &cs[idx]);
            } else {
                outs[d] = mmc_gru_layer(ctx, in, h, &m->w[l][d], lengths, d, &hs[idx]);
            }
            if (!outs[d]) return NULL;
        }
        mmc_tensor *out = D == 2 ? mmc_concat(ctx, outs, 2, 2) : outs[0];
        if (drop && l < L - 1) out = mmc_dropout(ctx, out, m->dropout, 1, rng);
        if (!out) return NULL;
        in = out;
    }
    if (h_n && !(*h_n = stack_states(ctx, hs, LD, B, H))) return NULL;
    if (is_lstm && c_n && !(*c_n = stack_states(ctx, cs, LD, B, H))) return NULL;
    return in;
}

mmc_tensor *mmc_nn_gru_forward(mmc_ctx *ctx, const mmc_nn_gru *m, mmc_tensor *x, mmc_tensor *h0,
                               const int *lengths, int training, mmc_rng *rng, mmc_tensor **h_n) {
    return rnn_forward(ctx, m, 0, x, h0, NULL, lengths, training, rng, h_n, NULL);
}

mmc_tensor *mmc_nn_lstm_forward(mmc_ctx *ctx, const mmc_nn_lstm *m, mmc_tensor *x, mmc_tensor *h0,
                                mmc_tensor *c0, const int *lengths, int training, mmc_rng *rng,
                                mmc_tensor **h_n, mmc_tensor **c_n) {
    return rnn_forward(ctx, m, 1, x, h0, c0, lengths, training, rng, h_n, c_n);
}

/* ------------------------------------------------------------- single steps */

/* A step is the fused layer over a sequence of length 1: x (B, IN) viewed as (B, 1, IN). */
static mmc_tensor *as_sequence(mmc_ctx *ctx, const char *op, mmc_tensor *x) {
    MMC_CHECK_INPUTS(ctx, op, x);
    if (x->ndim != 2) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "%s: x has shape %s, expected (B, IN)", op,
                           mmc_shape_str(x, s, sizeof s));
    }
    return mmc_reshape(ctx, x, 3, (int[]){x->shape[0], 1, x->shape[1]});
}

mmc_tensor *mmc_nn_gru_step(mmc_ctx *ctx, const mmc_rnn_weights *w, mmc_tensor *x, mmc_tensor *h) {
    mmc_tensor *xs = as_sequence(ctx, "gru_step", x), *hn = NULL;
    if (!xs) return NULL;
    return mmc_gru_layer(ctx, xs, h, w, NULL, 0, &hn) ? hn : NULL;
}

int mmc_nn_lstm_step(mmc_ctx *ctx, const mmc_rnn_weights *w, mmc_tensor *x, mmc_tensor *h,
                     mmc_tensor *c, mmc_tensor **h_out, mmc_tensor **c_out) {
    mmc_tensor *hn = NULL, *cn = NULL, *xs = as_sequence(ctx, "lstm_step", x);
    if (xs) mmc_lstm_layer(ctx, xs, h, c, w, NULL, 0, &hn, &cn);
    if (h_out) *h_out = hn;
    if (c_out) *c_out = cn;
    if (hn && cn) return MMC_OK;
    return ctx->err.code ? ctx->err.code : MMC_ERR_USAGE;
}

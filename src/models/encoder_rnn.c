/* encoder_rnn.c — "gru" and "lstm": token embeddings through 1-2 recurrent layers of
 * text_hidden (src/nn/rnn.c's fused, batch-first layers, torch's names prefix.rnn.
 * weight_ih_l0 etc.), run with each row's length so the last layer's final state h_n is
 * the state after the row's last real token: (B, Te, D) -> (B, H). */
#include "encoder.h"
#include "internal.h"
#include <stdio.h>

#define OFF(f) offsetof(mmc_text_encoder_opts, f)
static const cfg_key KEYS[] = {
    {"word_dim", CFG_INT, OFF(word_dim), 2, 4096, 0, NULL},
    {"text_hidden", CFG_INT, OFF(text_hidden), 2, 4096, 0, NULL},
    {"text_layers", CFG_INT, OFF(text_layers), 1, 8, 0, NULL},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static void defaults(mmc_text_encoder_opts *o) {
    o->word_dim = 64;
    o->text_hidden = 128;
    o->text_layers = 1;
}

static int check(const enc_text_cfg *c, const char *file, mmc_error *err) {
    if (c->o.text_layers > ENC_MAX_RNN_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: text_layers %d: recurrent encoders have at most %d layers", file, c->o.text_layers,
                             ENC_MAX_RNN_LAYERS);
    return MMC_OK;
}

static int init_rnn(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, int lstm, mmc_error *err) {
    const enc_text_cfg *c = &e->cfg;
    int layers = c->o.text_layers > 0 ? c->o.text_layers : 1;
    if (layers > ENC_MAX_RNN_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "config: text_layers %d: the %s has 1 to %d", layers, e->vt->name,
                             ENC_MAX_RNN_LAYERS);
    mmc_nn_rnn_opts o = mmc_nn_rnn_defaults();
    o.num_layers = layers;
    /* torch's RNN init, every tensor U(±1/sqrt(H)); loading (rng NULL) overwrites them */
    mmc_rng scratch;
    if (!rng) mmc_rng_seed(&scratch, 0, 0);
    mmc_rng *r = rng ? rng : &scratch;
    char name[64];
    snprintf(name, sizeof name, "%s.rnn", prefix);
    int rc = lstm ? mmc_nn_lstm_init(&e->rnn, P, name, c->o.word_dim, c->o.text_hidden, o, r, err)
                  : mmc_nn_gru_init(&e->rnn, P, name, c->o.word_dim, c->o.text_hidden, o, r, err);
    e->out_dim = c->o.text_hidden;
    return rc;
}
static int init_gru(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    return init_rnn(e, P, prefix, rng, 0, err);
}
static int init_lstm(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    return init_rnn(e, P, prefix, rng, 1, err);
}

static mmc_tensor *forward(mmc_ctx *ctx, enc_text *e, mmc_tensor *x, const enc_text_batch *tb, int training) {
    int B = tb->B, H = e->cfg.o.text_hidden, L = e->rnn.num_layers;
    mmc_tensor *hn = NULL;
    mmc_tensor *out = e->rnn.is_lstm ? mmc_nn_lstm_forward(ctx, &e->rnn, x, NULL, NULL, tb->len, training, NULL, &hn, NULL)
                                         : mmc_nn_gru_forward(ctx, &e->rnn, x, NULL, tb->len, training, NULL, &hn);
    if (!out || !hn) return NULL;
    /* h_n (layers, B, H): the last layer's row is the sentence feature */
    return L == 1 ? mmc_reshape(ctx, hn, 2, (int[]){B, H}) : mmc_reshape(ctx, mmc_slice(ctx, hn, 0, L - 1, L), 2, (int[]){B, H});
}

static int out_dim(const enc_text_cfg *c) { return c->o.text_hidden; }

const enc_text_vt enc_gru = {"gru", KEYS, NKEYS, NULL, init_gru, forward, out_dim, defaults, check};
const enc_text_vt enc_lstm = {"lstm", KEYS, NKEYS, NULL, init_lstm, forward, out_dim, defaults, check};

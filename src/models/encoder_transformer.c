/* encoder_transformer.c — "transformer": token embeddings + learned positions
 * (prefix.pos_embedding (max_len, D), N(0, 0.02)), text_layers pre-LN encoder blocks of
 * width word_dim (text_heads heads, 4× GELU MLP, dropout) with the padding masked, a final
 * LayerNorm (prefix.ln) and the masked mean: (B, Te, D) -> (B, D). */
#include "encoder.h"
#include "internal.h"
#include <stdio.h>

mmc_tensor *enc_masked_mean(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *mk); /* encoder_text.c */

#define OFF(f) offsetof(mmc_text_encoder_opts, f)
static const cfg_key KEYS[] = {
    {"word_dim", CFG_INT, OFF(word_dim), 2, 4096, 0, NULL},
    {"text_layers", CFG_INT, OFF(text_layers), 1, 8, 0, NULL},
    {"text_heads", CFG_INT, OFF(text_heads), 1, 64, 0, NULL},
};

static void defaults(mmc_text_encoder_opts *o) { o->text_heads = 4; }

static int check(const enc_text_cfg *c, const char *file, mmc_error *err) {
    if (c->o.text_heads > 0 && c->o.word_dim % c->o.text_heads)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: word_dim %d is not a multiple of text_heads %d", file, c->o.word_dim, c->o.text_heads);
    return MMC_OK;
}

static int init(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    const enc_text_cfg *c = &e->cfg;
    int D = c->o.word_dim;
    e->pos = mmc_params_new(P, prefix, "pos_embedding", MMC_PARAM, 2, (int[]){c->max_len, D}, err);
    if (!e->pos) return err->code;
    if (rng) mmc_init_normal(e->pos, 0.0f, 0.02f, rng);
    if (c->o.text_layers > ENC_MAX_TF_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "config: text_layers %d: the transformer has at most %d", c->o.text_layers,
                             ENC_MAX_TF_LAYERS);
    if (enc_pre_ln_stack_init(e->tf, &e->ln, P, prefix, D, c->o.text_heads, c->o.text_layers, c->dropout, rng, err)) return err->code;
    e->out_dim = D;
    return MMC_OK;
}

static mmc_tensor *forward(mmc_ctx *ctx, enc_text *e, mmc_tensor *x, const enc_text_batch *tb, int training) {
    int B = tb->B, Te = tb->Te;
    uint8_t *km = mmc_arena_alloc(ctx->arena, (size_t)B * Te);
    if (!km) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "text transformer: out of memory");
    for (int i = 0; i < B * Te; i++) km[i] = tb->mask->data[i] != 0.0f;
    x = mmc_add(ctx, x, mmc_slice(ctx, e->pos, 0, 0, Te)); // + positions (Te, D)
    for (int l = 0; l < e->cfg.o.text_layers; l++) x = mmc_nn_encoder_layer_forward(ctx, &e->tf[l], x, 0, km, training, e->drop_rng);
    x = mmc_nn_layernorm_forward(ctx, &e->ln, x);
    return enc_masked_mean(ctx, x, tb->mask);
}

static int out_dim(const enc_text_cfg *c) { return c->o.word_dim; }

const enc_text_vt enc_transformer = {"transformer", KEYS, (int)(sizeof KEYS / sizeof KEYS[0]), NULL, init, forward, out_dim,
                                     defaults, check};

/* encoder_text.c — "bag", the order-blind baseline text encoder: the masked mean of the
 * token embeddings, (B, Te, D) -> (B, D); and the masked mean the transformer shares. */
#include "encoder.h"
#include "internal.h"

static const cfg_key KEYS[] = {
    {"word_dim", CFG_INT, offsetof(mmc_text_encoder_opts, word_dim), 2, 4096, 0, NULL},
};

// x (B, Te, D), mask (B, Te) -> the mean over the real tokens (B, D)
mmc_tensor *enc_masked_mean(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *mk);
mmc_tensor *enc_masked_mean(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *mk) {
    int B = mk->shape[0], Te = mk->shape[1];
    mmc_tensor *m3 = mmc_reshape(ctx, mk, 3, (int[]){B, Te, 1});
    mmc_tensor *sum = mmc_sum(ctx, mmc_mul(ctx, x, m3), (int[]){1}, 1, 0);
    mmc_tensor *cnt = mmc_sum(ctx, mk, (int[]){1}, 1, 1); // (B, 1)
    return mmc_div(ctx, sum, mmc_add_scalar(ctx, cnt, 1e-6f));
}

static int init(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    (void)P, (void)prefix, (void)rng, (void)err;
    e->out_dim = e->cfg.o.word_dim;
    return MMC_OK;
}

static mmc_tensor *forward(mmc_ctx *ctx, enc_text *e, mmc_tensor *x, const enc_text_batch *tb, int training) {
    (void)e, (void)training;
    return enc_masked_mean(ctx, x, tb->mask);
}

static int out_dim(const enc_text_cfg *c) { return c->o.word_dim; }

const enc_text_vt enc_bag = {"bag", KEYS, (int)(sizeof KEYS / sizeof KEYS[0]), NULL, init, forward, out_dim, NULL, NULL};

/* transformer.c — transformer encoder and decoder blocks, pre-LN or post-LN, as
 * torch.nn.TransformerEncoderLayer / TransformerDecoderLayer (batch_first=True), with
 * torchvision-ViT and Hugging Face CLIP names for the encoder block. */
#include "nn_internal.h"
#include <math.h>
#include <string.h>

mmc_nn_block_cfg mmc_nn_block_defaults(int dim, int heads) {
    mmc_nn_block_cfg c;
    memset(&c, 0, sizeof c);
    c.dim = dim, c.heads = heads, c.mlp_dim = 2048;
    c.act = MMC_ACT_RELU, c.norm_first = 0, c.names = MMC_NAMES_TORCH;
    c.dropout = 0.1f, c.eps = 1e-5f;
    return c;
}

/* The names of an encoder block's parts under each convention. */
typedef struct block_names {
    const char *attn, *fc1, *fc2, *norm1, *norm2;
    int separate; /* q/k/v projections as separate Linears */
} block_names;

static const block_names NAMES[] = {
    [MMC_NAMES_TORCH] = {"self_attn", "linear1", "linear2", "norm1", "norm2", 0},
    [MMC_NAMES_VIT] = {"self_attention", "mlp.0", "mlp.3", "ln_1", "ln_2", 0},
    [MMC_NAMES_CLIP] = {"self_attn", "mlp.fc1", "mlp.fc2", "layer_norm1", "layer_norm2", 1},
};

static int check_cfg(const mmc_nn_block_cfg *c, const char *what, const char *prefix, mmc_error *err) {
    if (c->dim < 1 || c->heads < 1 || c->dim % c->heads || c->mlp_dim < 1 || c->act < MMC_ACT_NONE ||
        c->act > MMC_ACT_TANH || c->names < MMC_NAMES_TORCH || c->names > MMC_NAMES_CLIP ||
        !(c->dropout >= 0.0f && c->dropout < 1.0f) || !(c->eps >= 0.0f))
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "%s %s: dim %d, heads %d (must divide dim), mlp_dim %d, act %d, names %d, dropout %g",
                             what, prefix, c->dim, c->heads, c->mlp_dim, c->act, c->names, (double)c->dropout);
    return MMC_OK;
}

/* linear1/linear2 of the feed-forward part; torchvision's ViT MLPBlock re-initialises them
 * (xavier-uniform weights, N(0, 1e-6) biases). */
static int ff_init(mmc_nn_linear *l1, mmc_nn_linear *l2, mmc_params *P, const char *prefix, const block_names *nm,
                   const mmc_nn_block_cfg *c, mmc_rng *rng, mmc_error *err) {
    char name[MMC_NAME_MAX];
    int rc;
    if ((rc = mmc_nn_linear_init(l1, P, mmc_nn_join(name, prefix, nm->fc1), c->dim, c->mlp_dim, 1, rng, err)) ||
        (rc = mmc_nn_linear_init(l2, P, mmc_nn_join(name, prefix, nm->fc2), c->mlp_dim, c->dim, 1, rng, err)))
        return rc;
    if (c->names == MMC_NAMES_VIT && rng) {
        mmc_nn_init_xavier_uniform(l1->weight, c->dim, c->mlp_dim, rng);
        mmc_nn_init_xavier_uniform(l2->weight, c->mlp_dim, c->dim, rng);
        mmc_init_normal(l1->bias, 0.0f, 1e-6f, rng);
        mmc_init_normal(l2->bias, 0.0f, 1e-6f, rng);
    }
    return MMC_OK;
}

// ff(x) = dropout(linear2(dropout(act(linear1(x))))): (B, T, E) -> (B, T, E)
static mmc_tensor *ff_forward(mmc_ctx *ctx, const mmc_nn_block_cfg *c, mmc_nn_linear *l1, mmc_nn_linear *l2,
                              mmc_tensor *x, int training, mmc_rng *rng) {
    x = mmc_nn_activation(ctx, mmc_nn_linear_forward(ctx, l1, x), c->act);
    x = mmc_dropout(ctx, x, c->dropout, training, rng);
    return mmc_dropout(ctx, mmc_nn_linear_forward(ctx, l2, x), c->dropout, training, rng);
}

/* ------------------------------------------------------------------ encoder */

int mmc_nn_encoder_layer_init(mmc_nn_encoder_layer *m, mmc_params *P, const char *prefix,
                              const mmc_nn_block_cfg *cfg, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    int rc = check_cfg(cfg, "encoder layer", prefix, err);
    if (rc) return rc;
    m->cfg = *cfg;
    const block_names *nm = &NAMES[cfg->names];
    char name[MMC_NAME_MAX];
    /* registration order follows the torch module's state_dict order */
    if (cfg->names == MMC_NAMES_TORCH) {
        if ((rc = mmc_nn_mha_init(&m->self_attn, P, mmc_nn_join(name, prefix, nm->attn), cfg->dim, cfg->heads,
                                  nm->separate, cfg->dropout, rng, err)) ||
            (rc = ff_init(&m->linear1, &m->linear2, P, prefix, nm, cfg, rng, err)) ||
            (rc = mmc_nn_layernorm_init(&m->norm1, P, mmc_nn_join(name, prefix, nm->norm1), cfg->dim, cfg->eps, err)) ||
            (rc = mmc_nn_layernorm_init(&m->norm2, P, mmc_nn_join(name, prefix, nm->norm2), cfg->dim, cfg->eps, err)))
            return rc;
    } else if ((rc = mmc_nn_layernorm_init(&m->norm1, P, mmc_nn_join(name, prefix, nm->norm1), cfg->dim, cfg->eps, err)) ||
               (rc = mmc_nn_mha_init(&m->self_attn, P, mmc_nn_join(name, prefix, nm->attn), cfg->dim, cfg->heads,
                                     nm->separate, cfg->dropout, rng, err)) ||
               (rc = mmc_nn_layernorm_init(&m->norm2, P, mmc_nn_join(name, prefix, nm->norm2), cfg->dim, cfg->eps, err)) ||
               (rc = ff_init(&m->linear1, &m->linear2, P, prefix, nm, cfg, rng, err))) {
        return rc;
    }
    return MMC_OK;
}

// x (B, T, E) -> (B, T, E)
mmc_tensor *mmc_nn_encoder_layer_forward(mmc_ctx *ctx, mmc_nn_encoder_layer *m, mmc_tensor *x,
                                         int causal, const uint8_t *key_mask, int training,
                                         mmc_rng *rng) {
    const mmc_nn_block_cfg *c = &m->cfg;
    float p = c->dropout;
    if (c->norm_first) {
        mmc_tensor *h = mmc_nn_layernorm_forward(ctx, &m->norm1, x);
        h = mmc_nn_mha_forward(ctx, &m->self_attn, h, NULL, causal, key_mask, training, rng);
        x = mmc_add(ctx, x, mmc_dropout(ctx, h, p, training, rng));
        h = mmc_nn_layernorm_forward(ctx, &m->norm2, x);
        return mmc_add(ctx, x, ff_forward(ctx, c, &m->linear1, &m->linear2, h, training, rng));
    }
    mmc_tensor *h = mmc_nn_mha_forward(ctx, &m->self_attn, x, NULL, causal, key_mask, training, rng);
    x = mmc_nn_layernorm_forward(ctx, &m->norm1, mmc_add(ctx, x, mmc_dropout(ctx, h, p, training, rng)));
    h = ff_forward(ctx, c, &m->linear1, &m->linear2, x, training, rng);
    return mmc_nn_layernorm_forward(ctx, &m->norm2, mmc_add(ctx, x, h));
}

/* ------------------------------------------------------------------ decoder */

int mmc_nn_decoder_layer_init(mmc_nn_decoder_layer *m, mmc_params *P, const char *prefix,
                              const mmc_nn_block_cfg *cfg, mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    int rc = check_cfg(cfg, "decoder layer", prefix, err);
    if (rc) return rc;
    if (cfg->names != MMC_NAMES_TORCH)
        return mmc_error_set(err, MMC_ERR_USAGE, "decoder layer %s: only torch names (MMC_NAMES_TORCH)", prefix);
    m->cfg = *cfg;
    const block_names *nm = &NAMES[MMC_NAMES_TORCH];
    char name[MMC_NAME_MAX];
    if ((rc = mmc_nn_mha_init(&m->self_attn, P, mmc_nn_join(name, prefix, "self_attn"), cfg->dim, cfg->heads, 0,
                              cfg->dropout, rng, err)) ||
        (rc = mmc_nn_mha_init(&m->cross_attn, P, mmc_nn_join(name, prefix, "multihead_attn"), cfg->dim, cfg->heads,
                              0, cfg->dropout, rng, err)) ||
        (rc = ff_init(&m->linear1, &m->linear2, P, prefix, nm, cfg, rng, err)) ||
        (rc = mmc_nn_layernorm_init(&m->norm1, P, mmc_nn_join(name, prefix, "norm1"), cfg->dim, cfg->eps, err)) ||
        (rc = mmc_nn_layernorm_init(&m->norm2, P, mmc_nn_join(name, prefix, "norm2"), cfg->dim, cfg->eps, err)) ||
        (rc = mmc_nn_layernorm_init(&m->norm3, P, mmc_nn_join(name, prefix, "norm3"), cfg->dim, cfg->eps, err)))
        return rc;
    return MMC_OK;
}

// x (B, T, E), mem (B, S, E) -> (B, T, E)
mmc_tensor *mmc_nn_decoder_layer_forward(mmc_ctx *ctx, mmc_nn_decoder_layer *m, mmc_tensor *x,
                                         mmc_tensor *mem, int causal, const uint8_t *tgt_mask,
                                         const uint8_t *mem_mask, int training, mmc_rng *rng) {
    MMC_CHECK_INPUTS(ctx, "decoder layer", x, mem);
    const mmc_nn_block_cfg *c = &m->cfg;
    float p = c->dropout;
    mmc_tensor *h;
    if (c->norm_first) {
        h = mmc_nn_mha_forward(ctx, &m->self_attn, mmc_nn_layernorm_forward(ctx, &m->norm1, x), NULL, causal,
                               tgt_mask, training, rng);
        x = mmc_add(ctx, x, mmc_dropout(ctx, h, p, training, rng));
        h = mmc_nn_mha_forward(ctx, &m->cross_attn, mmc_nn_layernorm_forward(ctx, &m->norm2, x), mem, 0, mem_mask,
                               training, rng);
        x = mmc_add(ctx, x, mmc_dropout(ctx, h, p, training, rng));
        h = mmc_nn_layernorm_forward(ctx, &m->norm3, x);
        return mmc_add(ctx, x, ff_forward(ctx, c, &m->linear1, &m->linear2, h, training, rng));
    }
    h = mmc_nn_mha_forward(ctx, &m->self_attn, x, NULL, causal, tgt_mask, training, rng);
    x = mmc_nn_layernorm_forward(ctx, &m->norm1, mmc_add(ctx, x, mmc_dropout(ctx, h, p, training, rng)));
    h = mmc_nn_mha_forward(ctx, &m->cross_attn, x, mem, 0, mem_mask, training, rng);
    x = mmc_nn_layernorm_forward(ctx, &m->norm2, mmc_add(ctx, x, mmc_dropout(ctx, h, p, training, rng)));
    h = ff_forward(ctx, c, &m->linear1, &m->linear2, x, training, rng);
    return mmc_nn_layernorm_forward(ctx, &m->norm3, mmc_add(ctx, x, h));
}

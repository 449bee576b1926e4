/* vit.c — the vision transformer, torchvision's VisionTransformer layout and names:
 *
 *   conv_proj (k = stride = patch)   (B, C, S, S) -> (B, D, S/p, S/p) -> tokens (B, N, D)
 *   [class_token; tokens] + encoder.pos_embedding                     -> (B, 1 + N, D)
 *   dropout, encoder.layers.encoder_layer_i (pre-LN blocks), encoder.ln
 *   heads.head on the class token (optional)                          -> (B, classes)
 *
 * Init as torchvision: conv_proj weight truncated normal (std sqrt(1 / fan_in), cut at ±2),
 * bias 0; class_token 0; pos_embedding N(0, 0.02); blocks as MMC_NAMES_VIT; head all 0. */
#include "nn_internal.h"
#include <math.h>
#include <string.h>

/* trunc_normal_(std=s, a=-2, b=2): normal draws, redrawn while outside [-2, 2]. */
static void trunc_normal(mmc_tensor *t, float std, mmc_rng *rng) {
    for (int64_t i = 0; i < t->numel; i++) {
        float v;
        do v = std * mmc_rng_normal(rng);
        while (v < -2.0f || v > 2.0f);
        t->data[i] = v;
    }
}

int mmc_nn_vit_init(mmc_nn_vit *m, mmc_params *P, const char *prefix, const mmc_nn_vit_cfg *cfg,
                    mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    const mmc_nn_vit_cfg *c = cfg;
    if (c->patch_size < 1 || c->image_size < c->patch_size || c->image_size % c->patch_size || c->in_channels < 1 ||
        c->depth < 1 || c->depth > MMC_VIT_MAX_DEPTH || c->num_classes < 0)
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "vit %s: image %d must be a multiple of patch %d, channels %d, depth %d (1..%d), "
                             "classes %d", prefix ? prefix : "", c->image_size, c->patch_size, c->in_channels,
                             c->depth, MMC_VIT_MAX_DEPTH, c->num_classes);
    m->cfg = *cfg;
    int g = c->image_size / c->patch_size, D = c->dim, rc;
    m->n_patches = g * g;
    char name[MMC_NAME_MAX];
    mmc_nn_block_cfg bc = {.dim = D, .heads = c->heads, .mlp_dim = c->mlp_dim, .act = c->act, .norm_first = 1,
                           .names = MMC_NAMES_VIT, .dropout = c->dropout, .eps = c->eps};
    if (!(m->class_token = mmc_params_new(P, prefix, "class_token", MMC_PARAM, 3, (int[]){1, 1, D}, err)))
        return mmc_nn_status(err);
    if ((rc = mmc_nn_conv2d_init(&m->conv_proj, P, mmc_nn_join(name, prefix, "conv_proj"), c->in_channels, D,
                                 c->patch_size, c->patch_size, 0, 1, NULL, err)))
        return rc;
    if (rng) trunc_normal(m->conv_proj.weight, sqrtf(1.0f / (float)(c->in_channels * c->patch_size * c->patch_size)), rng);
    if (!(m->pos_embedding = mmc_params_new(P, mmc_nn_join(name, prefix, "encoder"), "pos_embedding", MMC_PARAM, 3,
                                            (int[]){1, 1 + m->n_patches, D}, err)))
        return mmc_nn_status(err);
    if (rng) mmc_init_normal(m->pos_embedding, 0.0f, 0.02f, rng);
    for (int i = 0; i < c->depth; i++) {
        char local[48];
        snprintf(local, sizeof local, "encoder.layers.encoder_layer_%d", i);
        if ((rc = mmc_nn_encoder_layer_init(&m->layers[i], P, mmc_nn_join(name, prefix, local), &bc, rng, err)))
            return rc;
    }
    if ((rc = mmc_nn_layernorm_init(&m->ln, P, mmc_nn_join(name, prefix, "encoder.ln"), D, c->eps, err)))
        return rc;
    if (c->num_classes > 0 &&
        (rc = mmc_nn_linear_init(&m->head, P, mmc_nn_join(name, prefix, "heads.head"), D, c->num_classes, 1, NULL, err)))
        return rc; /* torchvision zeroes the head */
    return MMC_OK;
}

// x (B, C, S, S) -> (B, 1 + N, D)
mmc_tensor *mmc_nn_vit_forward_tokens(mmc_ctx *ctx, mmc_nn_vit *m, mmc_tensor *x, int training,
                                      mmc_rng *rng) {
    MMC_CHECK_INPUTS(ctx, "vit", x);
    const mmc_nn_vit_cfg *c = &m->cfg;
    if (x->ndim != 4 || x->shape[1] != c->in_channels || x->shape[2] != c->image_size || x->shape[3] != c->image_size) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "vit: input %s, want (B, %d, %d, %d)", mmc_shape_str(x, s, sizeof s),
                           c->in_channels, c->image_size, c->image_size);
    }
    int B = x->shape[0], D = c->dim, N = m->n_patches;
    mmc_tensor *p = mmc_nn_conv2d_forward(ctx, &m->conv_proj, x);     // (B, D, g, g)
    p = mmc_permute(ctx, mmc_reshape(ctx, p, 3, (int[]){B, D, N}), (int[]){0, 2, 1}); // (B, N, D)
    /* the class token broadcast to (B, 1, D) by adding it to zeros (its gradient sums over B) */
    mmc_tensor *cls = mmc_add(ctx, mmc_tensor_zeros(ctx, 3, (int[]){B, 1, D}), m->class_token);
    mmc_tensor *parts[2] = {cls, p};
    mmc_tensor *h = mmc_add(ctx, mmc_concat(ctx, parts, 2, 1), m->pos_embedding); // (B, 1 + N, D)
    h = mmc_dropout(ctx, h, c->dropout, training, rng);
    for (int i = 0; i < c->depth; i++) h = mmc_nn_encoder_layer_forward(ctx, &m->layers[i], h, 0, NULL, training, rng);
    return mmc_nn_layernorm_forward(ctx, &m->ln, h);
}

// x (B, C, S, S) -> (B, num_classes) or (B, D)
mmc_tensor *mmc_nn_vit_forward(mmc_ctx *ctx, mmc_nn_vit *m, mmc_tensor *x, int training, mmc_rng *rng) {
    mmc_tensor *h = mmc_nn_vit_forward_tokens(ctx, m, x, training, rng);
    if (!h) return NULL;
    h = mmc_reshape(ctx, mmc_slice(ctx, h, 1, 0, 1), 2, (int[]){h->shape[0], m->cfg.dim}); // class token (B, D)
    return m->cfg.num_classes > 0 ? mmc_nn_linear_forward(ctx, &m->head, h) : h;
}

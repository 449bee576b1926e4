/* joint.c — a joint image–text representation, ViLT-style: one transformer over both
 * modalities at once, so every layer can attend across them (early fusion at the token
 * level, as opposed to the coordinated dual encoders of retrieval).
 *
 *   image (B, C, S, S) -> patch_embed (conv, k = stride = p) -> (B, N, D) patches
 *   [cls_token; patches] + image position embeddings           -> (B, 1 + N, D)
 *   ids (B, T) -> word_embeddings + text position embeddings   -> (B, T, D)
 *   modality concat (type 0: image side, type 1: text)         -> (B, 1 + N + T, D)
 *   dropout, encoder layers (key padding = text padding), norm -> CLS (B, D)
 */
#include "nn_internal.h"
#include <string.h>

mmc_nn_joint_cfg mmc_nn_joint_defaults(int image_size, int patch_size, int vocab_size, int max_text_len,
                                       int dim, int depth, int heads) {
    mmc_nn_joint_cfg c;
    memset(&c, 0, sizeof c);
    c.image_size = image_size, c.patch_size = patch_size, c.in_channels = 3;
    c.vocab_size = vocab_size, c.max_text_len = max_text_len;
    c.dim = dim, c.depth = depth, c.heads = heads, c.mlp_dim = 4 * dim;
    c.act = MMC_ACT_GELU, c.norm_first = 1, c.dropout = 0.1f, c.eps = 1e-5f;
    return c;
}

int mmc_nn_joint_init(mmc_nn_joint *m, mmc_params *P, const char *prefix, const mmc_nn_joint_cfg *cfg,
                      mmc_rng *rng, mmc_error *err) {
    memset(m, 0, sizeof *m);
    const mmc_nn_joint_cfg *c = cfg;
    if (!c || c->patch_size < 1 || c->image_size < c->patch_size || c->image_size % c->patch_size ||
        c->in_channels < 1 || c->vocab_size < 1 || c->max_text_len < 1 || c->depth < 1 ||
        c->depth > MMC_JOINT_MAX_DEPTH)
        return mmc_error_set(err, MMC_ERR_USAGE,
                             "joint %s: image %d must be a multiple of patch %d; channels %d, vocab %d, "
                             "max_text_len %d must be >= 1; depth %d in 1..%d", prefix ? prefix : "",
                             c ? c->image_size : 0, c ? c->patch_size : 0, c ? c->in_channels : 0,
                             c ? c->vocab_size : 0, c ? c->max_text_len : 0, c ? c->depth : 0, MMC_JOINT_MAX_DEPTH);
    m->cfg = *cfg;
    const int g = c->image_size / c->patch_size, D = c->dim;
    m->n_patches = g * g;
    mmc_nn_block_cfg bc = {.dim = D, .heads = c->heads, .mlp_dim = c->mlp_dim, .act = c->act,
                           .norm_first = c->norm_first, .names = MMC_NAMES_TORCH, .dropout = c->dropout,
                           .eps = c->eps};
    char name[MMC_NAME_MAX], img[MMC_NAME_MAX];
    mmc_nn_join(img, prefix, "image_embeddings");
    int rc;
    /* registration order = the torch reference's state_dict order */
    if (!(m->cls_token = mmc_params_new(P, img, "cls_token", MMC_PARAM, 3, (int[]){1, 1, D}, err)) ||
        !(m->image_pos = mmc_params_new(P, img, "position_embeddings", MMC_PARAM, 3, (int[]){1, 1 + m->n_patches, D},
                                        err)))
        return mmc_nn_status(err);
    if (rng) {
        mmc_init_normal(m->cls_token, 0.0f, 0.02f, rng);
        mmc_init_normal(m->image_pos, 0.0f, 0.02f, rng);
    }
    if ((rc = mmc_nn_conv2d_init(&m->patch_embed, P, mmc_nn_join(name, prefix, "image_embeddings.patch_embed"), c->in_channels, D,
                                 c->patch_size, c->patch_size, 0, 1, rng, err)) ||
        (rc = mmc_nn_embedding_init(&m->word_embeddings, P, mmc_nn_join(name, prefix, "text_embeddings.word_embeddings"), c->vocab_size,
                                    D, rng, err)) ||
        (rc = mmc_nn_embedding_init(&m->text_pos, P, mmc_nn_join(name, prefix, "text_embeddings.position_embeddings"), c->max_text_len,
                                    D, rng, err)) ||
        (rc = mmc_nn_modality_concat_init(&m->types, P, prefix, 2, D, rng, err)))
        return rc;
    for (int i = 0; i < c->depth; i++) {
        char local[48];
        snprintf(local, sizeof local, "encoder.layers.%d", i);
        if ((rc = mmc_nn_encoder_layer_init(&m->layers[i], P, mmc_nn_join(name, prefix, local), &bc, rng, err)))
            return rc;
    }
    return mmc_nn_layernorm_init(&m->norm, P, mmc_nn_join(name, prefix, "norm"), D, c->eps, err);
}

// image (B, C, S, S), ids [B * T] -> (B, 1 + N + T, D)
mmc_tensor *mmc_nn_joint_forward_tokens(mmc_ctx *ctx, mmc_nn_joint *m, mmc_tensor *image, const int *ids,
                                        const uint8_t *text_mask, int T, int training, mmc_rng *rng) {
    MMC_CHECK_INPUTS(ctx, "joint", image);
    const mmc_nn_joint_cfg *c = &m->cfg;
    if (image->ndim != 4 || image->shape[1] != c->in_channels || image->shape[2] != c->image_size ||
        image->shape[3] != c->image_size) {
        char s[64];
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "joint: image %s, want (B, %d, %d, %d)",
                           mmc_shape_str(image, s, sizeof s), c->in_channels, c->image_size, c->image_size);
    }
    if (!ids || T < 1 || T > c->max_text_len)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "joint: %d text tokens (1..%d)%s", T, c->max_text_len,
                           ids ? "" : ", ids NULL");
    const int B = image->shape[0], D = c->dim, N = m->n_patches, L = 1 + N + T;
    /* image side: (B, D, g, g) -> (B, N, D), CLS in front, positions added */
    mmc_tensor *p = mmc_nn_conv2d_forward(ctx, &m->patch_embed, image);
    p = mmc_permute(ctx, mmc_reshape(ctx, p, 3, (int[]){B, D, N}), (int[]){0, 2, 1});
    mmc_tensor *cls = mmc_add(ctx, mmc_tensor_zeros(ctx, 3, (int[]){B, 1, D}), m->cls_token); // (B, 1, D)
    mmc_tensor *ip[2] = {cls, p};
    mmc_tensor *img = mmc_add(ctx, mmc_concat(ctx, ip, 2, 1), m->image_pos); // (B, 1 + N, D)
    /* text side: positions 0..T-1 of the table, (T, D) broadcast over the batch */
    mmc_tensor *w = mmc_nn_embedding_forward(ctx, &m->word_embeddings, ids, 2, (int[]){B, T}); // (B, T, D)
    mmc_tensor *pos = mmc_slice(ctx, m->text_pos.weight, 0, 0, T);                             // (T, D)
    mmc_tensor *txt = mmc_add(ctx, w, pos);
    mmc_tensor *seqs[2] = {img, txt};
    mmc_tensor *h = mmc_nn_modality_concat_forward(ctx, &m->types, seqs, 2); // (B, L, D)
    h = mmc_dropout(ctx, h, c->dropout, training, rng);
    if (!h) return NULL;
    /* key padding over the joint sequence: CLS and patches always visible, text as given.
     * In the arena, so it lives as long as the tape that reads it. */
    uint8_t *mask = NULL;
    if (text_mask) {
        mask = mmc_scratch(ctx, (size_t)B * (size_t)L);
        if (!mask) return NULL;
        for (int b = 0; b < B; b++) {
            memset(mask + (int64_t)b * L, 1, (size_t)(1 + N));
            for (int t = 0; t < T; t++) mask[(int64_t)b * L + 1 + N + t] = text_mask[(int64_t)b * T + t] != 0;
        }
    }
    for (int i = 0; i < c->depth; i++) h = mmc_nn_encoder_layer_forward(ctx, &m->layers[i], h, 0, mask, training, rng);
    return mmc_nn_layernorm_forward(ctx, &m->norm, h);
}

// -> the CLS token (B, D)
mmc_tensor *mmc_nn_joint_forward(mmc_ctx *ctx, mmc_nn_joint *m, mmc_tensor *image, const int *ids,
                                 const uint8_t *text_mask, int T, int training, mmc_rng *rng) {
    mmc_tensor *h = mmc_nn_joint_forward_tokens(ctx, m, image, ids, text_mask, T, training, rng);
    if (!h) return NULL;
    return mmc_reshape(ctx, mmc_slice(ctx, h, 1, 0, 1), 2, (int[]){h->shape[0], m->cfg.dim});
}

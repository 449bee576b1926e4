/* clip_vision.c — the vision tower (CLIPVisionTransformer; Chinese-CLIP's is the same):
 *
 *   p = conv(pixels, patch_embedding, stride = patch, no bias)   (B, Dv, g, g)
 *   x = [class_embedding ; p as (B, g*g, Dv)] + position_embedding (B, 1 + N, Dv)
 *   x = pre_layrnorm(x)                                           hidden_states[0]
 *   x = layer_i(x) for each pre-LN block, no mask                  hidden_states[i]
 *   pooled = post_layernorm(x[:, 0])                               (B, Dv)
 *   features = visual_projection(pooled)                           (B, P)
 * last_hidden_state is x before post_layernorm, as in transformers. */
#include "clip_internal.h"
#include <string.h>

int mmc_clip_vision_forward(mmc_ctx *ctx, mmc_clip *m, mmc_tensor *pixels, mmc_clip_vision_out *out) {
    memset(out, 0, sizeof *out);
    const clip_vision_cfg *c = &m->cfg.vision;
    int S = c->image_size;
    if (!pixels || pixels->ndim != 4 || pixels->shape[1] != c->channels || pixels->shape[2] != S ||
        pixels->shape[3] != S || pixels->shape[0] < 1) {
        char s[64];
        return mmc_error_set(&ctx->err, MMC_ERR_USAGE, "clip vision: pixels %s, expected (B, %d, %d, %d)",
                             pixels ? mmc_shape_str(pixels, s, sizeof s) : "NULL", c->channels, S, S);
    }
    int prev = m->compact || m->quantized ? mmc_grad_mode(ctx, 0) : ctx->grad_enabled;
    int B = pixels->shape[0], D = c->hidden, g = S / c->patch, N = g * g;
    mmc_tensor *p;
    if (m->patch.weight->quant) {
        /* int8: the patches as rows (B, N, C·P·P), ordered (c, kh, kw) like the weight, then a
         * Linear with the quantised (D, C·P·P) matrix — the same as the strided convolution */
        int C = c->channels, P = c->patch;
        p = mmc_reshape(ctx, pixels, 4, (int[]){B * C * g, P, g, P});             // (b c gy, ky, gx, kx)
        p = mmc_permute(ctx, p, (int[]){0, 2, 1, 3});                             // (b c gy, gx, ky, kx)
        p = mmc_reshape(ctx, p, 5, (int[]){B, C, g, g, P * P});
        p = mmc_permute(ctx, p, (int[]){0, 2, 3, 1, 4});                          // (b, gy, gx, c, ky kx)
        p = mmc_linear(ctx, mmc_reshape(ctx, p, 3, (int[]){B, N, C * P * P}), m->patch.weight, NULL); // (B, N, D)
    } else {
        p = mmc_nn_conv2d_forward(ctx, &m->patch, pixels);                        // (B, D, g, g)
        p = mmc_transpose(ctx, mmc_reshape(ctx, p, 3, (int[]){B, D, N}), 1, 2);   // (B, N, D)
    }
    /* the class token for every image: zeros (B, 1, D) + class_embedding (1, 1, D) keeps
     * its gradient path */
    mmc_tensor *cls = mmc_add(ctx, mmc_tensor_zeros(ctx, 3, (int[]){B, 1, D}),
                              mmc_reshape(ctx, m->class_emb, 3, (int[]){1, 1, D}));
    mmc_tensor *x = mmc_concat(ctx, (mmc_tensor *[]){cls, p}, 2, 1);       // (B, 1 + N, D)
    x = mmc_add(ctx, x, m->vpos_emb);
    x = mmc_nn_layernorm_forward(ctx, &m->pre_ln, x);
    if (!x) goto fail;
    out->hidden_states[0] = x;
    for (int i = 0; i < m->vision.n; i++) {
        if (clip_layer_fetch(m, &m->vision, i, &ctx->err)) goto fail;
        /* without autograd, a layer's intermediates die with it: keep only its output */
        mmc_ctx_mark mark = mmc_ctx_tell(ctx);
        x = mmc_ctx_keep(ctx, mark, mmc_nn_encoder_layer_forward(ctx, &m->vision.layer[i], x, 0, NULL, 0, NULL));
        if (!x) goto fail;
        out->hidden_states[i + 1] = x;
    }
    out->n_hidden = m->vision.n + 1;
    mmc_tensor *cls_out = mmc_reshape(ctx, mmc_slice(ctx, x, 1, 0, 1), 2, (int[]){B, D}); // (B, D)
    mmc_tensor *pooled = mmc_nn_layernorm_forward(ctx, &m->post_ln, cls_out);
    mmc_tensor *feat = mmc_nn_linear_forward(ctx, &m->vis_proj, pooled);
    mmc_tensor *emb = mmc_l2_normalize(ctx, feat, 1e-12f);
    if (!emb) goto fail;
    out->last_hidden_state = x;
    out->pooler_output = pooled;
    out->features = feat;
    out->embeds = emb;
    mmc_grad_mode(ctx, prev);
    return MMC_OK;
fail:
    mmc_grad_mode(ctx, prev);
    if (!ctx->err.code) mmc_error_set(&ctx->err, MMC_ERR_RUNTIME, "clip vision: out of memory");
    return ctx->err.code;
}

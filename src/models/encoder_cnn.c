/* encoder_cnn.c — the small strided CNN ("cnn"), the image encoder every task defaults to.
 *
 *   x (B, 3, S, S) -> stages of [(x, y) channels,] 3×3 conv (stride cnn_strides[s], 2 by
 *   default; the stage's further cnn_depth - 1 convs stride 1), norm, [the task's
 *   condition, e.g. FiLM,] ReLU -> (B, C, s, s); 64 px and 4 stride-2 stages end at 4×4.
 *
 * Norm: BatchNorm (prefix.bn.i), GroupNorm (prefix.gn.i, torch's init weight 1 bias 0) or
 * none (the convs get a bias instead). Parameters prefix.conv.i in conv order, each
 * stage's norm after its conv and the task's hook after each stage: VQA's FiLM layers
 * interleave with the convs in the parameter list, as they always have. */
#include "encoder.h"
#include "internal.h"
#include <stdio.h>
#include <string.h>

#define OFF(f) offsetof(mmc_image_encoder_opts, f)
static const cfg_key KEYS[] = {
    {"cnn_widths", CFG_INTS, OFF(cnn_widths), 1, 6, 0, NULL},
    {"cnn_strides", CFG_INTS, OFF(cnn_strides), 1, 6, 0, NULL},
    {"cnn_depth", CFG_INT, OFF(cnn_depth), 1, 2, 0, NULL},
    {"norm_groups", CFG_INT, OFF(norm_groups), 1, 4096, 0, NULL},
    {"coord", CFG_INT, OFF(coord), 0, 1, 0, NULL},
};

static int n_stages(const enc_image_cfg *c) {
    int n = 0;
    while (n < ENC_MAX_STAGES && c->o.cnn_widths[n] > 0) n++;
    return n;
}
static int stride(const enc_image_cfg *c, int s) { return c->o.cnn_strides[s] > 0 ? c->o.cnn_strides[s] : 2; }
static int depth(const enc_image_cfg *c) { return c->o.cnn_depth > 0 ? c->o.cnn_depth : 1; }

static void defaults(mmc_image_encoder_opts *o) {
    static const int w[6] = {16, 32, 64, 128, 0, 0};
    memcpy(o->cnn_widths, w, sizeof w);
    o->cnn_depth = 1;
    o->norm_groups = 8;
}

static int check(const enc_image_cfg *c, const char *file, mmc_error *err) {
    int ns = n_stages(c);
    for (int i = ns; i < ENC_MAX_STAGES; i++)
        if (c->o.cnn_widths[i] != 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cnn_widths has a 0 before its end", file);
    if (ns == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cnn_widths is empty", file);
    for (int i = 0; i < ENC_MAX_STAGES; i++)
        if (c->o.cnn_strides[i] < 0 || c->o.cnn_strides[i] > 2 || (i > 0 && c->o.cnn_strides[i] && !c->o.cnn_strides[i - 1]))
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: cnn_strides entry %d must be 1 or 2", file, i);
    return MMC_OK;
}

static int side(const enc_image_cfg *c) {
    int sd = c->image_size;
    for (int s = 0; s < n_stages(c); s++) sd = (sd - 1) / stride(c, s) + 1;
    return sd;
}

static int init(enc_image *e, mmc_params *P, const char *prefix, mmc_rng *rng, enc_stage_hook hook, void *user,
                mmc_error *err) {
    const enc_image_cfg *c = &e->cfg;
    char name[96];
    int in = 3, ns = n_stages(c), norm = c->norm ? c->norm : ENC_NORM_BATCH;
    e->cfg.norm = norm;
    e->depth = depth(c);
    e->n_stages = ns;
    for (int s = 0; s < ns; s++) {
        int w = c->o.cnn_widths[s];
        for (int d = 0; d < e->depth; d++) {
            int i = e->n_conv++;
            int cin = in + (d == 0 ? c->extra_in[s] : 0) + (c->o.coord ? 2 : 0);
            snprintf(name, sizeof name, "%s.conv.%d", prefix, i);
            if (mmc_nn_conv2d_init(&e->conv[i], P, name, cin, w, 3, d == 0 ? stride(c, s) : 1, 1, norm == ENC_NORM_NONE, rng, err))
                return err->code;
            if (norm == ENC_NORM_GROUP) { /* torch's nn.GroupNorm: weight 1, bias 0 */
                snprintf(name, sizeof name, "%s.gn.%d", prefix, i);
                int g = c->o.norm_groups;
                for (int a = w; a;) { int r = g % a; g = a; a = r; } /* g = gcd(w, norm_groups) */
                e->gn_groups[i] = g;
                e->gn_w[i] = mmc_params_new(P, name, "weight", MMC_PARAM, 1, &w, err);
                e->gn_b[i] = e->gn_w[i] ? mmc_params_new(P, name, "bias", MMC_PARAM, 1, &w, err) : NULL;
                if (!e->gn_b[i]) return err->code;
                for (int j = 0; j < w; j++) e->gn_w[i]->data[j] = 1.0f, e->gn_b[i]->data[j] = 0.0f;
            } else if (norm == ENC_NORM_BATCH) {
                snprintf(name, sizeof name, "%s.bn.%d", prefix, i);
                if (mmc_nn_batchnorm_init(&e->bn[i], P, name, w, err)) return err->code;
            }
            in = w;
        }
        if (hook) {
            int rc = hook(user, s, w, rng, err);
            if (rc) return rc;
        }
    }
    e->C = in;
    e->side = side(c);
    return MMC_OK;
}

// x (B, C, H, W) -> (B, C + 2, H, W): the pixel centres' x and y in [-1, 1] appended (CoordConv)
static mmc_tensor *with_coords(mmc_ctx *ctx, mmc_tensor *x) {
    if (!x) return NULL;
    const int B = x->shape[0], H = x->shape[2], W = x->shape[3];
    mmc_tensor *xy = mmc_tensor_empty(ctx, 4, (int[]){B, 2, H, W});
    if (!xy) return NULL;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                xy->data[(((size_t)b * 2) * H + i) * W + j] = ((float)j + 0.5f) / (float)W * 2.0f - 1.0f;
                xy->data[(((size_t)b * 2 + 1) * H + i) * W + j] = ((float)i + 0.5f) / (float)H * 2.0f - 1.0f;
            }
    mmc_tensor *parts[2] = {x, xy};
    return mmc_concat(ctx, parts, 2, 1);
}

// stages s0..s1-1: h (B, C_in, H, W) -> (B, C, h, w)
static mmc_tensor *map(mmc_ctx *ctx, enc_image *e, mmc_tensor *h, int s0, int s1, int training, enc_stage_cond cond,
                       void *user) {
    const enc_image_cfg *c = &e->cfg;
    /* bn_eval "batch": outside training, normalise with the statistics of the images at
     * hand (no running tensors: nothing is updated), as training did. */
    int batch_stats = !training && c->bn_eval_batch;
    for (int s = s0; s < s1; s++)
        for (int d = 0; d < e->depth; d++) {
            int i = s * e->depth + d, last = d == e->depth - 1;
            mmc_nn_batchnorm *bn = &e->bn[i];
            if (c->o.coord) h = with_coords(ctx, h);
            h = mmc_nn_conv2d_forward(ctx, &e->conv[i], h);
            if (c->norm == ENC_NORM_GROUP) {
                h = mmc_group_norm(ctx, h, e->gn_groups[i], e->gn_w[i], e->gn_b[i], 1e-5f);
            } else if (c->norm == ENC_NORM_BATCH && c->fused_bn_relu && !(cond && last)) {
                h = batch_stats ? mmc_batch_norm_act(ctx, h, bn->weight, bn->bias, NULL, NULL, 0, bn->momentum, bn->eps, NULL, 1)
                                : mmc_nn_batchnorm_act_forward(ctx, bn, h, training, NULL, 1);
                continue; /* the ReLU is fused */
            } else if (c->norm == ENC_NORM_BATCH) {
                h = batch_stats ? mmc_batch_norm(ctx, h, bn->weight, bn->bias, NULL, NULL, 0, bn->momentum, bn->eps)
                                : mmc_nn_batchnorm_forward(ctx, bn, h, training);
            }
            if (cond && last) h = cond(ctx, user, s, h);
            h = mmc_relu(ctx, h);
        }
    return h;
}

const enc_image_vt enc_cnn = {"cnn", KEYS, (int)(sizeof KEYS / sizeof KEYS[0]), ENC_CAP_STAGES, NULL, init, map, NULL, NULL,
                              side, defaults, check};

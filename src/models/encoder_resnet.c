/* encoder_resnet.c — "resnet": mmc_nn_resnet (src/nn/resnet.c) with the 3×3 stride-1
 * stem and basic blocks, resnet_layers blocks of resnet_widths channels per stage, run
 * block by block here so the final map (B, C, S/8, S/8) is the task's to pool. */
#include "encoder.h"
#include "internal.h"
#include <string.h>

#define OFF(f) offsetof(mmc_image_encoder_opts, f)
static const cfg_key KEYS[] = {
    {"resnet_layers", CFG_INTS, OFF(resnet_layers), 1, 4, 0, NULL},
    {"resnet_widths", CFG_INTS, OFF(resnet_widths), 1, 4, 0, NULL},
};

static void defaults(mmc_image_encoder_opts *o) {
    static const int rl[4] = {1, 1, 1, 1}, rw[4] = {32, 64, 128, 128};
    memcpy(o->resnet_layers, rl, sizeof rl);
    memcpy(o->resnet_widths, rw, sizeof rw);
}

static int check(const enc_image_cfg *c, const char *file, mmc_error *err) {
    for (int i = 0; i < 4; i++)
        if (c->o.resnet_layers[i] < 1 || c->o.resnet_layers[i] > 16 || c->o.resnet_widths[i] < 1)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: resnet_layers and resnet_widths need 4 positive entries (layers <= 16)", file);
    return MMC_OK;
}

static int side(const enc_image_cfg *c) {
    int sd = c->image_size;
    for (int s = 1; s < 4; s++) sd = (sd + 1) / 2; /* stages 2-4 have stride 2 */
    return sd;
}

static int init(enc_image *e, mmc_params *P, const char *prefix, mmc_rng *rng, enc_stage_hook hook, void *user,
                mmc_error *err) {
    (void)hook, (void)user;
    mmc_nn_resnet_cfg rc = mmc_nn_resnet_layout(18);
    memcpy(rc.layers, e->cfg.o.resnet_layers, sizeof rc.layers);
    memcpy(rc.widths, e->cfg.o.resnet_widths, sizeof rc.widths);
    rc.stem = MMC_STEM_SMALL;
    rc.num_classes = 0;
    if (mmc_nn_resnet_init(&e->resnet, P, prefix, &rc, rng, err)) return err->code;
    e->n_stages = 1;
    e->C = e->resnet.out_dim;
    e->side = side(&e->cfg);
    return MMC_OK;
}

// x (B, 3, S, S) -> (B, C, S/8, S/8)
static mmc_tensor *map(mmc_ctx *ctx, enc_image *e, mmc_tensor *h, int s0, int s1, int training, enc_stage_cond cond,
                       void *user) {
    (void)cond, (void)user;
    if (s0 >= s1) return h;
    mmc_nn_resnet *r = &e->resnet;
    h = mmc_nn_conv2d_forward(ctx, &r->conv1, h);
    h = e->cfg.fused_bn_relu ? mmc_nn_batchnorm_act_forward(ctx, &r->bn1, h, training, NULL, 1)
                             : mmc_relu(ctx, mmc_nn_batchnorm_forward(ctx, &r->bn1, h, training));
    for (int i = 0; i < r->n_blocks; i++) h = mmc_nn_resnet_block_forward(ctx, &r->blocks[i], h, training);
    return h;
}

const enc_image_vt enc_resnet = {"resnet", KEYS, (int)(sizeof KEYS / sizeof KEYS[0]), 0, NULL, init, map, NULL, NULL, side,
                                 defaults, check};

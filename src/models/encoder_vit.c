/* encoder_vit.c — "vit": mmc_nn_vit (src/nn/vit.c, torchvision's names under the task's
 * prefix), pre-LN blocks of vit_dim with vit_heads heads and a 4× MLP, GELU, eps 1e-6.
 *   pooled  the class token (B, D)
 *   tokens  class + patch tokens (B, 1 + N, D)
 *   map     the patch tokens as their grid (B, D, S/p, S/p), for tasks that pool maps */
#include "encoder.h"
#include "internal.h"

#define OFF(f) offsetof(mmc_image_encoder_opts, f)
static const cfg_key KEYS[] = {
    {"vit_patch", CFG_INT, OFF(vit_patch), 2, 64, 0, NULL},
    {"vit_dim", CFG_INT, OFF(vit_dim), 8, 2048, 0, NULL},
    {"vit_depth", CFG_INT, OFF(vit_depth), 1, 24, 0, NULL},
    {"vit_heads", CFG_INT, OFF(vit_heads), 1, 32, 0, NULL},
};

static void defaults(mmc_image_encoder_opts *o) {
    o->vit_patch = 8;
    o->vit_dim = 128;
    o->vit_depth = 4;
    o->vit_heads = 4;
}

static int check(const enc_image_cfg *c, const char *file, mmc_error *err) {
    if (c->o.vit_patch < 1 || c->image_size % c->o.vit_patch)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: image_size %d is not a multiple of vit_patch %d", file, c->image_size, c->o.vit_patch);
    if (c->o.vit_heads < 1 || c->o.vit_dim % c->o.vit_heads)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: vit_dim %d is not a multiple of vit_heads %d", file, c->o.vit_dim, c->o.vit_heads);
    return MMC_OK;
}

static int side(const enc_image_cfg *c) { return c->o.vit_patch > 0 ? c->image_size / c->o.vit_patch : 0; }

static int init(enc_image *e, mmc_params *P, const char *prefix, mmc_rng *rng, enc_stage_hook hook, void *user,
                mmc_error *err) {
    (void)hook, (void)user;
    const enc_image_cfg *c = &e->cfg;
    if (check(c, "config", err)) return err->code;
    const mmc_image_encoder_opts *o = &c->o;
    mmc_nn_vit_cfg vc = {c->image_size, o->vit_patch, 3, o->vit_dim, o->vit_depth, o->vit_heads, 4 * o->vit_dim,
                         MMC_ACT_GELU, 0, c->dropout, 1e-6f};
    if (mmc_nn_vit_init(&e->vit, P, prefix, &vc, rng, err)) return err->code;
    e->n_stages = 1;
    e->C = o->vit_dim;
    e->side = side(c);
    e->n_tokens = 1 + e->vit.n_patches;
    return MMC_OK;
}

static mmc_tensor *pooled(mmc_ctx *ctx, enc_image *e, mmc_tensor *x, int training) {
    return mmc_nn_vit_forward(ctx, &e->vit, x, training, e->drop_rng); // (B, D)
}

static mmc_tensor *tokens(mmc_ctx *ctx, enc_image *e, mmc_tensor *x, int training) {
    return mmc_nn_vit_forward_tokens(ctx, &e->vit, x, training, e->drop_rng); // (B, 1 + N, D)
}

// x (B, 3, S, S) -> the patch tokens (B, D, n, n), n = S / patch
static mmc_tensor *map(mmc_ctx *ctx, enc_image *e, mmc_tensor *x, int s0, int s1, int training, enc_stage_cond cond,
                       void *user) {
    (void)cond, (void)user;
    if (s0 >= s1) return x;
    mmc_tensor *t = tokens(ctx, e, x, training);
    if (!t) return NULL;
    int B = t->shape[0], L = e->n_tokens, D = e->C;
    mmc_tensor *p = mmc_permute(ctx, mmc_slice(ctx, t, 1, 1, L), (int[]){0, 2, 1}); // (B, D, N)
    return mmc_reshape(ctx, p, 4, (int[]){B, D, e->side, e->side});
}

const enc_image_vt enc_vit = {"vit", KEYS, (int)(sizeof KEYS / sizeof KEYS[0]), ENC_CAP_POOLED | ENC_CAP_TOKENS, NULL, init,
                              map, pooled, tokens, side, defaults, check};

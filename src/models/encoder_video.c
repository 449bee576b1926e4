/* encoder_video.c — the video slot of the registry: a per-frame image encoder taken from
 * the image slot by name (video_frame_encoder, "cnn" by default; its keys are the task's
 * image keys) and a temporal module over the frame features (video_encoder):
 *
 *   mean         the average of the frame features (CLIP4Clip's meanP): frame order is
 *                lost, so a clip and its reverse embed the same (test
 *                video_encoder_time_reversal).
 *   gru          temporal_layers GRU layers of temporal_hidden over the frame
 *                sequence; the last state (prefix.temporal.rnn).
 *   transformer  the frame features projected to temporal_hidden (prefix.temporal.in_proj),
 *                + learned frame positions (prefix.temporal.pos_embedding (T, D), N(0, 0.02)),
 *                temporal_layers pre-LN encoder blocks (temporal_heads heads, 4× GELU MLP),
 *                a final LayerNorm and the mean over frames.
 *   early        (default) early fusion: the T frames stacked as 3·T channels into the cnn's first
 *                conv (extra_in), one map per clip, pooled.
 *
 * Frame features: the B·T frames go through the frame encoder as one (B·T, 3, S, S) batch
 * (rows b·T .. b·T+T-1 are clip b's frames, in time order), the map pooled as the task
 * asks (a pool_grid × pool_grid grid, flattened, so where things are survives — motion is
 * a change of place; or a global average; an encoder with a pooled output gives that). */
#include "encoder.h"
#include "internal.h"
#include <stdio.h>
#include <string.h>

mmc_tensor *enc_masked_mean(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *mk); /* encoder_text.c */

#define OFF(f) offsetof(mmc_video_encoder_opts, f)
static const cfg_key KEYS[] = {
    {"video_frame_encoder", CFG_STR, OFF(frame_encoder), 0, 16, 0, NULL},
    {"video_frames", CFG_INT, OFF(frames), 1, ENC_MAX_VIDEO_FRAMES, 0, NULL},
    {"temporal_hidden", CFG_INT, OFF(temporal_hidden), 2, 4096, 0, NULL},
    {"temporal_layers", CFG_INT, OFF(temporal_layers), 1, 8, 0, NULL},
    {"temporal_heads", CFG_INT, OFF(temporal_heads), 1, 64, 0, NULL},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static void defaults(mmc_video_encoder_opts *o) {
    strcpy(o->frame_encoder, "cnn");
    o->frames = 8;
    o->temporal_hidden = 128;
    o->temporal_layers = 1;
    o->temporal_heads = 4;
}

static int check_gru(const enc_video_cfg *c, const char *file, mmc_error *err) {
    if (c->o.temporal_layers > ENC_MAX_RNN_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: temporal_layers %d: the gru has at most %d layers", file, c->o.temporal_layers,
                             ENC_MAX_RNN_LAYERS);
    return MMC_OK;
}

static int check_tf(const enc_video_cfg *c, const char *file, mmc_error *err) {
    if (c->o.temporal_layers > ENC_MAX_TF_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: temporal_layers %d: the transformer has at most %d blocks", file,
                             c->o.temporal_layers, ENC_MAX_TF_LAYERS);
    if (c->o.temporal_hidden % c->o.temporal_heads)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: temporal_hidden %d is not a multiple of temporal_heads %d", file,
                             c->o.temporal_hidden, c->o.temporal_heads);
    return MMC_OK;
}

static int check_early(const enc_video_cfg *c, const char *file, mmc_error *err) {
    if (strcmp(c->o.frame_encoder, "cnn"))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: video_frame_encoder '%s': video_encoder 'early' stacks the frames as "
                             "channels into the cnn (video_frame_encoder 'cnn')", file, c->o.frame_encoder);
    if (c->frame.o.coord)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: coord: video_encoder 'early' does not take CoordConv", file);
    return MMC_OK;
}

/* ------------------------------------------------------------------ shared */

int enc_video_init(enc_video *e, const enc_video_vt *vt, const enc_video_cfg *cfg, mmc_params *P, const char *prefix,
                   mmc_rng *rng, mmc_rng *drop_rng, mmc_error *err) {
    memset(e, 0, sizeof *e);
    e->vt = vt;
    e->cfg = *cfg;
    e->drop_rng = drop_rng;
    e->T = cfg->o.frames;
    if (!vt) return mmc_error_set(err, MMC_ERR_INPUT, "config: video_encoder '%s' is not one of %s", cfg->o.encoder, enc_names(MMC_MOD_VIDEO));
    enc_image_cfg fc = cfg->frame;
    snprintf(fc.o.encoder, sizeof fc.o.encoder, "%s", cfg->o.frame_encoder);
    if (vt->early) fc.extra_in[0] += 3 * (e->T - 1);
    char name[96];
    snprintf(name, sizeof name, "%s.frame", prefix);
    if (enc_image_init(&e->frame, enc_image_find(fc.o.encoder), &fc, P, name, rng, drop_rng, NULL, NULL, err)) return err->code;
    enc_image *f = &e->frame;
    e->grid_g = 1;
    if (enc_image_caps(f) & ENC_CAP_POOLED) {
        e->frame_feat = f->C;
    } else if (cfg->pool_grid > 0) {
        if (enc_grid(f->side, cfg->pool_grid, &e->grid_g, &e->grid_pool, "config", err)) return err->code;
        e->frame_feat = f->C * e->grid_g * e->grid_g;
    } else {
        e->grid_pool = 0;
        e->frame_feat = f->C;
    }
    e->out_dim = e->frame_feat;
    /* tokens: the grid's cells (early, mean), or one per frame (gru, transformer: their init sets tok_C) */
    e->tok_L = vt->init ? e->T : e->grid_g * e->grid_g;
    e->tok_C = f->C;
    snprintf(name, sizeof name, "%s.temporal", prefix);
    return vt->init ? vt->init(e, P, name, rng, err) : MMC_OK;
}

// frames x (N, C, S, S) -> (N, F)
static mmc_tensor *frame_features(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training) {
    enc_image *f = &e->frame;
    int N = x ? x->shape[0] : 0;
    if (enc_image_caps(f) & ENC_CAP_POOLED) return f->vt->pooled(ctx, f, x, training);
    mmc_tensor *h = enc_image_map(ctx, f, x, training); // (N, C, s, s)
    if (e->grid_pool == 0) return mmc_global_avg_pool2d(ctx, h);
    if (e->grid_pool > 1) h = mmc_avg_pool2d(ctx, h, e->grid_pool, e->grid_pool, 0);
    return mmc_reshape(ctx, h, 2, (int[]){N, e->frame_feat});
}

mmc_tensor *enc_video_forward(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training) {
    if (!x) return NULL;
    int T = e->T, N = x->shape[0], B = N / T, S = x->shape[2];
    if (N % T || x->ndim != 4 || x->shape[1] != 3)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "video encoder: %d frames of %d channels are not clips of %d frames", N,
                           x->ndim > 1 ? x->shape[1] : 0, T);
    if (e->vt->early) { /* (B·T, 3, S, S) is (B, 3·T, S, S) in memory */
        mmc_tensor *h = frame_features(ctx, e, mmc_reshape(ctx, x, 4, (int[]){B, 3 * T, S, S}), training);
        return e->vt->temporal ? e->vt->temporal(ctx, e, h, training) : h;
    }
    mmc_tensor *f = frame_features(ctx, e, x, training);                     // (B·T, F)
    f = mmc_reshape(ctx, f, 3, (int[]){B, T, e->frame_feat});                // (B, T, F)
    return e->vt->temporal(ctx, e, f, training);
}

/* The frames as (B, T, S, S)-shaped checks, shared by the tokens functions. */
static int clip_check(mmc_ctx *ctx, const enc_video *e, const mmc_tensor *x) {
    if (!x) return ctx->err.code ? ctx->err.code : MMC_ERR_USAGE;
    if (x->ndim != 4 || x->shape[1] != 3 || x->shape[0] % e->T) {
        mmc_op_fail(ctx, MMC_ERR_USAGE, "video encoder: %d frames of %d channels are not clips of %d frames", x->shape[0],
                    x->ndim > 1 ? x->shape[1] : 0, e->T);
        return MMC_ERR_USAGE;
    }
    return MMC_OK;
}

// map (N, C, s, s) -> (N, C, g·g), grid-pooled (or globally averaged)
static mmc_tensor *map_cells(mmc_ctx *ctx, const enc_video *e, mmc_tensor *h) {
    if (!h) return NULL;
    int N = h->shape[0], C = h->shape[1];
    if (e->grid_pool == 0) h = mmc_global_avg_pool2d(ctx, h);
    else if (e->grid_pool > 1) h = mmc_avg_pool2d(ctx, h, e->grid_pool, e->grid_pool, 0);
    return mmc_reshape(ctx, h, 3, (int[]){N, C, e->tok_L});
}

mmc_tensor *enc_video_tokens(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training) {
    if (clip_check(ctx, e, x)) return NULL;
    return e->vt->tokens(ctx, e, x, training);
}

// early: the stacked frames' map, one token per cell (B, g·g, C)
static mmc_tensor *early_tokens(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training) {
    int T = e->T, B = x->shape[0] / T, S = x->shape[2];
    mmc_tensor *h = enc_image_map(ctx, &e->frame, mmc_reshape(ctx, x, 4, (int[]){B, 3 * T, S, S}), training);
    return mmc_permute(ctx, map_cells(ctx, e, h), (int[]){0, 2, 1});
}

// mean: each cell averaged over the frames (B, g·g, C); a pooled frame encoder: (B, 1, F)
static mmc_tensor *mean_tokens(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training) {
    int T = e->T, B = x->shape[0] / T, C = e->tok_C, L = e->tok_L;
    mmc_tensor *c;
    if (enc_image_caps(&e->frame) & ENC_CAP_POOLED) c = e->frame.vt->pooled(ctx, &e->frame, x, training); // (B·T, F)
    else c = mmc_permute(ctx, map_cells(ctx, e, enc_image_map(ctx, &e->frame, x, training)), (int[]){0, 2, 1}); // (B·T, L, C)
    c = mmc_reshape(ctx, c, 4, (int[]){B, T, L, C});
    return mmc_mean(ctx, c, (int[]){1}, 1, 0); // (B, L, C)
}

/* ------------------------------------------------------------------- mean */

static mmc_tensor *mean_forward(mmc_ctx *ctx, enc_video *e, mmc_tensor *f, int training) {
    (void)e, (void)training;
    return mmc_mean(ctx, f, (int[]){1}, 1, 0); // (B, F)
}

/* -------------------------------------------------------------------- gru */

static int gru_init(enc_video *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    const mmc_video_encoder_opts *o = &e->cfg.o;
    mmc_nn_rnn_opts ro = mmc_nn_rnn_defaults();
    ro.num_layers = o->temporal_layers;
    mmc_rng scratch;
    if (!rng) mmc_rng_seed(&scratch, 0, 0);
    char name[96];
    snprintf(name, sizeof name, "%s.rnn", prefix);
    e->out_dim = e->tok_C = o->temporal_hidden;
    return mmc_nn_gru_init(&e->rnn, P, name, e->frame_feat, o->temporal_hidden, ro, rng ? rng : &scratch, err);
}

static mmc_tensor *gru_forward(mmc_ctx *ctx, enc_video *e, mmc_tensor *f, int training) {
    int B = f->shape[0], T = f->shape[1], H = e->cfg.o.temporal_hidden, L = e->rnn.num_layers;
    int *len = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B);
    if (!len) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "video gru: out of memory");
    for (int b = 0; b < B; b++) len[b] = T;
    mmc_tensor *hn = NULL;
    if (!mmc_nn_gru_forward(ctx, &e->rnn, f, NULL, len, training, NULL, &hn) || !hn) return NULL;
    return L == 1 ? mmc_reshape(ctx, hn, 2, (int[]){B, H}) : mmc_reshape(ctx, mmc_slice(ctx, hn, 0, L - 1, L), 2, (int[]){B, H});
}

// gru: the state after each frame (B, T, H)
static mmc_tensor *gru_tokens(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training) {
    int T = e->T, B = x->shape[0] / T;
    mmc_tensor *f = mmc_reshape(ctx, frame_features(ctx, e, x, training), 3, (int[]){B, T, e->frame_feat});
    int *len = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B);
    if (!len) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "video gru: out of memory");
    for (int b = 0; b < B; b++) len[b] = T;
    return f ? mmc_nn_gru_forward(ctx, &e->rnn, f, NULL, len, training, NULL, NULL) : NULL;
}

/* ------------------------------------------------------------ transformer */

static int tf_init(enc_video *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    const mmc_video_encoder_opts *o = &e->cfg.o;
    int D = o->temporal_hidden;
    char n[96];
    snprintf(n, sizeof n, "%s.in_proj", prefix);
    if (mmc_nn_linear_init(&e->in_proj, P, n, e->frame_feat, D, 1, rng, err)) return err->code;
    e->pos = mmc_params_new(P, prefix, "pos_embedding", MMC_PARAM, 2, (int[]){e->T, D}, err);
    if (!e->pos) return err->code;
    if (rng) mmc_init_normal(e->pos, 0.0f, 0.02f, rng);
    if (enc_pre_ln_stack_init(e->tf, &e->ln, P, prefix, D, o->temporal_heads, o->temporal_layers, e->cfg.dropout, rng, err))
        return err->code;
    e->out_dim = e->tok_C = D;
    return MMC_OK;
}

// f (B, T, F) -> (B, T, D): in_proj, frame positions, the blocks, the final LayerNorm
static mmc_tensor *tf_frames(mmc_ctx *ctx, enc_video *e, mmc_tensor *f, int training) {
    mmc_tensor *x = mmc_nn_linear_forward(ctx, &e->in_proj, f); // (B, T, D)
    x = mmc_add(ctx, x, e->pos);                                // + frame positions (T, D)
    for (int l = 0; l < e->cfg.o.temporal_layers; l++) x = mmc_nn_encoder_layer_forward(ctx, &e->tf[l], x, 0, NULL, training, e->drop_rng);
    return mmc_nn_layernorm_forward(ctx, &e->ln, x);
}

static mmc_tensor *tf_forward(mmc_ctx *ctx, enc_video *e, mmc_tensor *f, int training) {
    return mmc_mean(ctx, tf_frames(ctx, e, f, training), (int[]){1}, 1, 0); // (B, D)
}

static mmc_tensor *tf_tokens(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training) {
    int T = e->T, B = x->shape[0] / T;
    return tf_frames(ctx, e, mmc_reshape(ctx, frame_features(ctx, e, x, training), 3, (int[]){B, T, e->frame_feat}), training);
}

const enc_video_vt enc_video_gru = {"gru", KEYS, NKEYS, 0, gru_init, gru_forward, gru_tokens, defaults, check_gru};
const enc_video_vt enc_video_mean = {"mean", KEYS, NKEYS, 0, NULL, mean_forward, mean_tokens, defaults, NULL};
const enc_video_vt enc_video_transformer = {"transformer", KEYS, NKEYS, 0, tf_init, tf_forward, tf_tokens, defaults, check_tf};
const enc_video_vt enc_video_early = {"early", KEYS, NKEYS, 1, NULL, NULL, early_tokens, defaults, check_early};

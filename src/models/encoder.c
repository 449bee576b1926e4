/* encoder.c — the encoder registry's one name table (a slot per modality) and what every
 * encoder shares: lookup, the key table and defaults of the settings, checks, init and
 * forward dispatch.
 * To add an encoder: write encoder_<name>.c with its vtable and add it to TABLE below
 * (docs/architecture.md, "Add an encoder"). */
#include "encoder.h"
#include "internal.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

extern const enc_image_vt enc_cnn, enc_resnet, enc_vit, enc_clip_vision;
extern const enc_text_vt enc_bag, enc_gru, enc_lstm, enc_transformer, enc_clip_text, enc_bert;
extern const enc_video_vt enc_video_gru, enc_video_mean, enc_video_transformer, enc_video_early;
extern const enc_audio_vt enc_audio_gru, enc_audio_transformer, enc_audio_mean;

#define ENC_MAX_PER_MOD 16
static const void *const TABLE[MMC_MOD_COUNT][ENC_MAX_PER_MOD] = {
    [MMC_MOD_IMAGE] = {&enc_cnn, &enc_resnet, &enc_vit, &enc_clip_vision},
    [MMC_MOD_TEXT] = {&enc_bag, &enc_gru, &enc_lstm, &enc_transformer, &enc_clip_text, &enc_bert},
    [MMC_MOD_VIDEO] = {&enc_video_gru, &enc_video_mean, &enc_video_transformer, &enc_video_early},
    [MMC_MOD_AUDIO] = {&enc_audio_gru, &enc_audio_transformer, &enc_audio_mean},
};

/* Both vtables begin with name, keys, n_keys: the registry reads those through this. */
typedef struct enc_head {
    const char *name;
    const cfg_key *keys;
    int n_keys;
} enc_head;

static const char *pretrained_of(enc_modality mod, const void *vt) {
    return mod == MMC_MOD_IMAGE ? ((const enc_image_vt *)vt)->pretrained
         : mod == MMC_MOD_TEXT ? ((const enc_text_vt *)vt)->pretrained : NULL;
}

const void *enc_find(enc_modality mod, const char *name) {
    if ((unsigned)mod >= MMC_MOD_COUNT || !name) return NULL;
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[mod][i]; i++)
        if (!strcmp(((const enc_head *)TABLE[mod][i])->name, name)) return TABLE[mod][i];
    return NULL;
}

const char *enc_names(enc_modality mod) {
    static char buf[MMC_MOD_COUNT][160];
    if ((unsigned)mod >= MMC_MOD_COUNT) return "";
    char *b = buf[mod];
    b[0] = 0;
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[mod][i]; i++) {
        if (pretrained_of(mod, TABLE[mod][i])) continue;
        size_t n = strlen(b);
        snprintf(b + n, sizeof buf[mod] - n, "%s%s", n ? ", " : "", ((const enc_head *)TABLE[mod][i])->name);
    }
    return b;
}

int enc_check_name(enc_modality mod, const char *name, const char *file, const char *key, mmc_error *err) {
    const void *vt = enc_find(mod, name);
    if (!vt) return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s '%s' is not one of %s", file, key, name, enc_names(mod));
    const char *pre = pretrained_of(mod, vt);
    if (pre)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: %s '%s' is a pretrained tower (%s), not trainable here; one of %s",
                             file, key, name, pre, enc_names(mod));
    return MMC_OK;
}

/* The key that names a modality's encoder, and the default name. */
static const cfg_key NAME_KEY[MMC_MOD_COUNT] = {
    [MMC_MOD_IMAGE] = {"image_encoder", CFG_STR, offsetof(mmc_image_encoder_opts, encoder), 0, 16, 0, NULL},
    [MMC_MOD_TEXT] = {"text_encoder", CFG_STR, offsetof(mmc_text_encoder_opts, encoder), 0, 16, 0, NULL},
    [MMC_MOD_VIDEO] = {"video_encoder", CFG_STR, offsetof(mmc_video_encoder_opts, encoder), 0, 16, 0, NULL},
    [MMC_MOD_AUDIO] = {"audio_encoder", CFG_STR, offsetof(mmc_audio_encoder_opts, encoder), 0, 16, 0, NULL},
};

cfg_table enc_cfg_table(const cfg_key *keys, int n, size_t image_off, size_t text_off, const char *const *without) {
    cfg_table t = {.without = without};
    cfg_table_add(&t, keys, n, 0);
    size_t off[2] = {image_off, text_off};
    for (int mod = MMC_MOD_IMAGE; mod <= MMC_MOD_TEXT; mod++) {
        if (off[mod] == ENC_NONE) continue;
        cfg_table_add(&t, &NAME_KEY[mod], 1, off[mod]);
        for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[mod][i]; i++)
            cfg_table_add(&t, ((const enc_head *)TABLE[mod][i])->keys, ((const enc_head *)TABLE[mod][i])->n_keys, off[mod]);
    }
    return t;
}

void enc_cfg_table_video(cfg_table *t, size_t video_off) {
    cfg_table_add(t, &NAME_KEY[MMC_MOD_VIDEO], 1, video_off);
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[MMC_MOD_VIDEO][i]; i++)
        cfg_table_add(t, ((const enc_head *)TABLE[MMC_MOD_VIDEO][i])->keys, ((const enc_head *)TABLE[MMC_MOD_VIDEO][i])->n_keys,
                      video_off);
}

void enc_cfg_table_audio(cfg_table *t, size_t audio_off) {
    cfg_table_add(t, &NAME_KEY[MMC_MOD_AUDIO], 1, audio_off);
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[MMC_MOD_AUDIO][i]; i++) {
        const enc_head *h = TABLE[MMC_MOD_AUDIO][i];
        int seen = 0; /* the audio encoders share one key table: added once */
        for (int j = 0; j < i; j++) seen |= ((const enc_head *)TABLE[MMC_MOD_AUDIO][j])->keys == h->keys;
        if (!seen) cfg_table_add(t, h->keys, h->n_keys, audio_off);
    }
}

mmc_audio_encoder_opts mmc_audio_encoder_defaults(void) {
    mmc_audio_encoder_opts o;
    memset(&o, 0, sizeof o);
    strcpy(o.encoder, "gru");
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[MMC_MOD_AUDIO][i]; i++) {
        const enc_audio_vt *vt = TABLE[MMC_MOD_AUDIO][i];
        if (vt->defaults) vt->defaults(&o);
    }
    return o;
}

mmc_video_encoder_opts mmc_video_encoder_defaults(void) {
    mmc_video_encoder_opts o;
    memset(&o, 0, sizeof o);
    /* early: measured best on the moving-shapes world for retrieval (docs/video.md: R@1 0.916
     * against gru's 0.670 in 5 minutes, about 3 times the steps) and the stacked frames' map
     * is what caption and vqa look at */
    strcpy(o.encoder, "early");
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[MMC_MOD_VIDEO][i]; i++) {
        const enc_video_vt *vt = TABLE[MMC_MOD_VIDEO][i];
        if (vt->defaults) vt->defaults(&o);
    }
    return o;
}

mmc_image_encoder_opts mmc_image_encoder_defaults(void) {
    mmc_image_encoder_opts o;
    memset(&o, 0, sizeof o);
    strcpy(o.encoder, "cnn");
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[MMC_MOD_IMAGE][i]; i++) {
        const enc_image_vt *vt = TABLE[MMC_MOD_IMAGE][i];
        if (vt->defaults) vt->defaults(&o);
    }
    return o;
}

mmc_text_encoder_opts mmc_text_encoder_defaults(void) {
    mmc_text_encoder_opts o;
    memset(&o, 0, sizeof o);
    strcpy(o.encoder, "gru");
    for (int i = 0; i < ENC_MAX_PER_MOD && TABLE[MMC_MOD_TEXT][i]; i++) {
        const enc_text_vt *vt = TABLE[MMC_MOD_TEXT][i];
        if (vt->defaults) vt->defaults(&o);
    }
    return o;
}

int enc_pre_ln_stack_init(mmc_nn_encoder_layer *tf, mmc_nn_layernorm *ln, mmc_params *P, const char *prefix, int D, int heads,
                          int n, float dropout, mmc_rng *rng, mmc_error *err) {
    mmc_nn_block_cfg bc = mmc_nn_block_defaults(D, heads);
    bc.mlp_dim = 4 * D;
    bc.act = MMC_ACT_GELU;
    bc.norm_first = 1;
    bc.dropout = dropout;
    char name[600];
    for (int l = 0; l < n; l++) {
        snprintf(name, sizeof name, "%s.layers.%d", prefix, l);
        if (mmc_nn_encoder_layer_init(&tf[l], P, name, &bc, rng, err)) return err->code;
    }
    snprintf(name, sizeof name, "%s.ln", prefix);
    return mmc_nn_layernorm_init(ln, P, name, D, 1e-5f, err) ? err->code : MMC_OK;
}

int enc_image_check(const enc_image_cfg *c, const char *file, mmc_error *err) {
    int rc = enc_check_name(MMC_MOD_IMAGE, c->o.encoder, file, "image_encoder", err);
    const enc_image_vt *vt = enc_image_find(c->o.encoder);
    return rc ? rc : vt->check ? vt->check(c, file, err) : MMC_OK;
}

int enc_text_check(const enc_text_cfg *c, const char *file, mmc_error *err) {
    int rc = enc_check_name(MMC_MOD_TEXT, c->o.encoder, file, "text_encoder", err);
    const enc_text_vt *vt = enc_text_find(c->o.encoder);
    return rc ? rc : vt->check ? vt->check(c, file, err) : MMC_OK;
}

int enc_video_check(const enc_video_cfg *c, const char *file, mmc_error *err) {
    int rc = enc_check_name(MMC_MOD_VIDEO, c->o.encoder, file, "video_encoder", err);
    if (rc) return rc;
    if ((rc = enc_check_name(MMC_MOD_IMAGE, c->o.frame_encoder, file, "video_frame_encoder", err))) return rc;
    if ((rc = enc_image_check(&c->frame, file, err))) return rc;
    const enc_video_vt *vt = enc_video_find(c->o.encoder);
    return vt->check ? vt->check(c, file, err) : MMC_OK;
}

/* ----------------------------------------------------------------- image */

int enc_image_init(enc_image *e, const enc_image_vt *vt, const enc_image_cfg *cfg, mmc_params *P, const char *prefix,
                   mmc_rng *rng, mmc_rng *drop_rng, enc_stage_hook hook, void *user, mmc_error *err) {
    memset(e, 0, sizeof *e);
    e->vt = vt;
    e->cfg = *cfg;
    e->drop_rng = drop_rng;
    if (!vt || !vt->init)
        return mmc_error_set(err, MMC_ERR_INPUT, "image encoder '%s' is not trainable", vt ? vt->name : "(none)");
    return vt->init(e, P, prefix, rng, hook, user, err);
}

mmc_tensor *enc_image_map(mmc_ctx *ctx, enc_image *e, mmc_tensor *x, int training) {
    return e->vt->map(ctx, e, x, 0, e->n_stages, training, NULL, NULL);
}

int enc_image_bn_recompute(enc_image *e, int K, int n, int c, int S, float *x, int (*fill)(void *user, int k, float *x), void *user,
                           mmc_error *err) {
    if (K <= 0 || e->n_conv == 0 || e->cfg.norm != ENC_NORM_BATCH) return MMC_OK;
    mmc_ctx *ctx = mmc_ctx_new();
    if (!ctx) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    float saved_m[ENC_MAX_CONVS], saved_n[ENC_MAX_CONVS];
    for (int i = 0; i < e->n_conv; i++) saved_m[i] = e->bn[i].momentum, saved_n[i] = e->bn[i].num_batches_tracked->data[0];
    mmc_grad_mode(ctx, 0);
    int rc = MMC_OK;
    for (int k = 0; k < K && !rc; k++) {
        int f = fill(user, k, x);
        if (f > 0) break; /* no more batches */
        if (f < 0) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "train: recomputing BatchNorm statistics: no batch %d", k); break; }
        for (int i = 0; i < e->n_conv; i++) e->bn[i].momentum = 1.0f / (float)(k + 1);
        mmc_tensor *t = mmc_tensor_from(ctx, 4, (int[]){n, c, S, S}, x);
        if (!t || !enc_image_map(ctx, e, t, 1))
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "train: recomputing BatchNorm statistics: %s", ctx->err.msg);
        mmc_ctx_reset(ctx);
    }
    for (int i = 0; i < e->n_conv; i++) e->bn[i].momentum = saved_m[i], e->bn[i].num_batches_tracked->data[0] = saved_n[i];
    mmc_ctx_free(ctx);
    return rc;
}

int enc_image_side(const enc_image_vt *vt, const enc_image_cfg *cfg) {
    return vt && vt->side ? vt->side(cfg) : 0;
}

int enc_grid(int side, int pool_grid, int *g, int *pool, const char *name, mmc_error *err) {
    int gg = pool_grid < side ? pool_grid : side;
    if (gg < 1 || side % gg)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: the final %dx%d feature map does not divide into a %dx%d grid "
                             "(change image_size or pool_grid)", name ? name : "config", side, side, gg, gg);
    if (g) *g = gg;
    if (pool) *pool = side / gg;
    return MMC_OK;
}

/* ------------------------------------------------------------------ text */

int enc_text_init_embedding(enc_text *e, const enc_text_vt *vt, const enc_text_cfg *cfg, mmc_params *P,
                            const char *prefix, int vocab, mmc_rng *rng, mmc_rng *drop_rng, mmc_error *err) {
    memset(e, 0, sizeof *e);
    e->vt = vt;
    e->cfg = *cfg;
    e->drop_rng = drop_rng;
    if (!vt || !vt->init)
        return mmc_error_set(err, MMC_ERR_INPUT, "text encoder '%s' is not trainable", vt ? vt->name : "(none)");
    char name[64];
    snprintf(name, sizeof name, "%s.embedding", prefix);
    return mmc_nn_embedding_init(&e->emb, P, name, vocab, cfg->o.word_dim, rng, err);
}

int enc_text_init(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err) {
    return e->vt->init(e, P, prefix, rng, err);
}

int enc_text_batch_make(mmc_ctx *ctx, const int32_t *ids, const int32_t *mask, int B, int T, enc_text_batch *tb) {
    /* Only as many steps as the longest text of this batch: the rest is padding. */
    int Te = 1;
    for (int b = 0; b < B; b++)
        for (int t = T - 1; t >= Te; t--)
            if (mask[(size_t)b * T + t]) { Te = t + 1; break; }
    tb->B = B, tb->T = T, tb->Te = Te;
    tb->ids = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B * Te);
    tb->len = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B);
    tb->mask = mmc_tensor_empty(ctx, 2, (int[]){B, Te});
    if (!tb->ids || !tb->len || !tb->mask) {
        mmc_op_fail(ctx, MMC_ERR_RUNTIME, "text encoder: out of memory");
        return MMC_ERR_RUNTIME;
    }
    for (int b = 0; b < B; b++) {
        tb->len[b] = 1; /* a text with no token still runs one step: the fused layers need >= 1 */
        for (int t = 0; t < Te; t++) {
            int on = mask[(size_t)b * T + t] != 0;
            tb->ids[b * Te + t] = ids[(size_t)b * T + t];
            tb->mask->data[b * Te + t] = on ? 1.0f : 0.0f;
            if (on) tb->len[b] = t + 1;
        }
    }
    return MMC_OK;
}

mmc_tensor *enc_text_embed(mmc_ctx *ctx, enc_text *e, const enc_text_batch *tb) {
    return mmc_nn_embedding_forward(ctx, &e->emb, tb->ids, 2, (int[]){tb->B, tb->Te}); // (B, Te, D)
}

mmc_tensor *enc_text_forward(mmc_ctx *ctx, enc_text *e, mmc_tensor *x, const enc_text_batch *tb, int training) {
    return x ? e->vt->forward(ctx, e, x, tb, training) : NULL;
}

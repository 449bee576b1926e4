/* encoder.h — the encoder registry: one name table with a slot per modality, and the
 * encoders every task builds its towers from (docs/architecture.md, "Add an encoder").
 *
 *   image  cnn, resnet, vit; clip-vision (named, pretrained only)
 *   text   bag, gru, lstm, transformer; clip-text, bert (named, pretrained only)
 *   video  mean, gru, transformer, early (a frame encoder of the image slot + a temporal
 *          module, or the frames stacked as channels; encoder_video*.c)
 *   audio  gru, transformer, mean (a conv stack over log-mel frames + a temporal module;
 *          encoder_audio.c)
 *
 * An encoder is a vtable (its name, its config keys and their defaults, its check, init,
 * forward) and a state struct that tasks embed. Its keys are fields of the public
 * settings struct of its modality (mmc_image_encoder_opts / mmc_text_encoder_opts,
 * include/mmc/models/encoders.h), which every task config embeds; the task's key table
 * takes them from here (enc_cfg_table), so they stand flat in config.json as they always
 * have. A task builds an enc_image_cfg / enc_text_cfg of those settings and what it sets
 * itself (image_size, max_len, dropout, its norm, fusion hooks).
 *
 * Image encoders give a feature map x (B, 3, S, S) -> (B, C, s, s) (ViT: its patch tokens
 * as an n × n grid), run stage by stage where the encoder has stages (VQA's FiLM and
 * early fusion condition the cnn's stages), and, where they have them, a pooled vector
 * (ViT's class token) and tokens (ViT: class + patches) — a task asks enc_image_caps().
 * Text encoders take token ids and a mask (B, T) and give the pooled feature (B, out_dim):
 * the last state (gru, lstm) or the masked mean (bag, transformer).
 *
 * Not installed; parameter names are the task's prefix + the encoder's own names
 * ("image_encoder.conv.0.weight", "text_encoder.rnn.weight_ih_l0"). */
#ifndef MMC_ENCODER_H
#define MMC_ENCODER_H

#include "mmc.h"
#include "config_keys.h"

typedef enum { MMC_MOD_IMAGE, MMC_MOD_TEXT, MMC_MOD_VIDEO, MMC_MOD_AUDIO, MMC_MOD_COUNT } enc_modality;

#define ENC_MAX_STAGES 6
#define ENC_MAX_CONVS (ENC_MAX_STAGES * 2)
#define ENC_MAX_RNN_LAYERS 2
#define ENC_MAX_TF_LAYERS 8

/* --------------------------------------------------------------- image */

enum { ENC_NORM_BATCH = 1, ENC_NORM_GROUP, ENC_NORM_NONE };

/* What the image encoders read: the task's settings (o) and what the task sets. */
typedef struct enc_image_cfg {
    mmc_image_encoder_opts o;          /* the keys (the task config's .image) */
    /* set by the task */
    int image_size;
    float dropout;                     /* vit */
    int norm;                          /* cnn: ENC_NORM_BATCH (default), _GROUP, _NONE (conv bias) */
    int bn_eval_batch;                 /* cnn BatchNorm outside training: the batch's statistics */
    int fused_bn_relu;                 /* BatchNorm + ReLU through mmc_batch_norm_act (retrieval's
                                          graph) or as two ops (caption, vqa); the same function,
                                          each task keeps the graph its runs were trained with */
    int extra_in[ENC_MAX_STAGES];      /* cnn: channels the task tiles onto stage s's input */
} enc_image_cfg;

enum { ENC_CAP_STAGES = 1, ENC_CAP_POOLED = 2, ENC_CAP_TOKENS = 4 };

typedef struct enc_image enc_image;

/* Called by init after each stage is built (VQA adds its FiLM layer there: the parameter
 * order, and so the initial draws, stay what they were). */
typedef int (*enc_stage_hook)(void *user, int stage, int width, mmc_rng *rng, mmc_error *err);
/* Applied to a stage's output after its norm, before its ReLU (VQA's FiLM). */
typedef mmc_tensor *(*enc_stage_cond)(mmc_ctx *ctx, void *user, int stage, mmc_tensor *h);

typedef struct enc_image_vt {
    const char *name;
    const cfg_key *keys;               /* its config sub-table (offsets into mmc_image_encoder_opts) */
    int n_keys;
    unsigned caps;                     /* ENC_CAP_* */
    const char *pretrained;            /* non-NULL: a pretrained tower only; where it lives */
    int (*init)(enc_image *e, mmc_params *P, const char *prefix, mmc_rng *rng, enc_stage_hook hook, void *user,
                mmc_error *err);
    /* stages s0 <= s < s1 of the map (s0 = 0: h is the image) */
    mmc_tensor *(*map)(mmc_ctx *ctx, enc_image *e, mmc_tensor *h, int s0, int s1, int training, enc_stage_cond cond,
                       void *user);
    mmc_tensor *(*pooled)(mmc_ctx *ctx, enc_image *e, mmc_tensor *x, int training); // (B, C)
    mmc_tensor *(*tokens)(mmc_ctx *ctx, enc_image *e, mmc_tensor *x, int training); // (B, L, C)
    int (*side)(const enc_image_cfg *cfg); /* the final map's side, before building */
    void (*defaults)(mmc_image_encoder_opts *o); /* its keys' defaults */
    /* its settings before building: MMC_ERR_INPUT naming the file and the key */
    int (*check)(const enc_image_cfg *cfg, const char *file, mmc_error *err);
} enc_image_vt;

struct enc_image {
    const enc_image_vt *vt;
    enc_image_cfg cfg;
    mmc_rng *drop_rng;                 /* the task's dropout stream (vit) */
    /* geometry, after init */
    int n_stages;                      /* steps of map() */
    int C, side;                       /* the final map: (B, C, side, side) */
    int n_tokens;                      /* tokens(): L */
    /* cnn */
    int n_conv, depth;
    mmc_nn_conv2d conv[ENC_MAX_CONVS];
    mmc_nn_batchnorm bn[ENC_MAX_CONVS];
    mmc_tensor *gn_w[ENC_MAX_CONVS], *gn_b[ENC_MAX_CONVS];
    int gn_groups[ENC_MAX_CONVS];
    /* resnet, vit */
    mmc_nn_resnet resnet;
    mmc_nn_vit vit;
};

/* --------------------------------------------------------------- text */

typedef struct enc_text_cfg {
    mmc_text_encoder_opts o;           /* the keys (the task config's .text) */
    int max_len;                       /* set by the task: transformer positions */
    float dropout;                     /* set by the task: transformer */
} enc_text_cfg;

typedef struct enc_text enc_text;

/* A batch of ids/mask (B, T) cut to the longest real row, Te: what every text encoder reads. */
typedef struct enc_text_batch {
    int B, T, Te;
    int *ids;                          /* (B, Te) */
    int *len;                          /* (B): real tokens, >= 1 */
    mmc_tensor *mask;                  /* (B, Te) float 1/0 */
} enc_text_batch;

typedef struct enc_text_vt {
    const char *name;
    const cfg_key *keys;
    int n_keys;
    const char *pretrained;
    /* the layers after the embedding (init_embedding made that) */
    int (*init)(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err);
    /* x (B, Te, word_dim), the embedded batch -> (B, out_dim) */
    mmc_tensor *(*forward)(mmc_ctx *ctx, enc_text *e, mmc_tensor *x, const enc_text_batch *tb, int training);
    int (*out_dim)(const enc_text_cfg *cfg); /* the pooled feature's width, before building */
    void (*defaults)(mmc_text_encoder_opts *o);
    int (*check)(const enc_text_cfg *cfg, const char *file, mmc_error *err);
} enc_text_vt;

struct enc_text {
    const enc_text_vt *vt;
    enc_text_cfg cfg;
    mmc_rng *drop_rng;
    int out_dim;
    mmc_nn_embedding emb;              /* prefix.embedding */
    mmc_nn_rnn rnn;                    /* gru, lstm: prefix.rnn */
    mmc_tensor *pos;                   /* transformer: prefix.pos_embedding (max_len, D) */
    mmc_nn_encoder_layer tf[ENC_MAX_TF_LAYERS];
    mmc_nn_layernorm ln;
};

/* --------------------------------------------------------------- video */

#define ENC_MAX_VIDEO_FRAMES 64

/* What the video encoders read: their keys, the frame encoder's settings as the task makes
 * them for its image tower (frame.o.encoder is set to o.frame_encoder) and how the task
 * pools a frame's map (retrieval: a pool_grid × pool_grid grid, or a global average). */
typedef struct enc_video_cfg {
    mmc_video_encoder_opts o;          /* the keys (the task config's .video) */
    enc_image_cfg frame;               /* the frame encoder's settings */
    int pool_grid;                     /* > 0: grid pooling to this side; 0: global average */
    float dropout;                     /* temporal transformer */
} enc_video_cfg;

typedef struct enc_video enc_video;

typedef struct enc_video_vt {
    const char *name;
    const cfg_key *keys;
    int n_keys;
    int early;                         /* 1: frames stacked as channels into the cnn */
    /* the temporal module after the frame encoder (prefix.temporal...); NULL: none */
    int (*init)(enc_video *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err);
    /* f (B, T, F) frame features -> (B, out_dim); early: f (B, F) */
    mmc_tensor *(*temporal)(mmc_ctx *ctx, enc_video *e, mmc_tensor *f, int training);
    /* x (B·T, 3, S, S) -> tokens (B, tok_L, tok_C) for a decoder or attention to look at */
    mmc_tensor *(*tokens)(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training);
    void (*defaults)(mmc_video_encoder_opts *o);
    int (*check)(const enc_video_cfg *cfg, const char *file, mmc_error *err);
} enc_video_vt;

struct enc_video {
    const enc_video_vt *vt;
    enc_video_cfg cfg;
    mmc_rng *drop_rng;
    enc_image frame;                   /* prefix.frame: the per-frame image encoder */
    int T, grid_pool, frame_feat;      /* frames, avg-pool kernel (0: global), features per frame */
    int out_dim;
    int tok_L, tok_C;                  /* enc_video_tokens: tokens per clip and their width */
    int grid_g;                        /* side of the pooled grid (1: global average) */
    mmc_nn_rnn rnn;                    /* gru: prefix.temporal.rnn */
    mmc_nn_linear in_proj;             /* transformer: prefix.temporal.in_proj (F -> D) */
    mmc_tensor *pos;                   /* transformer: prefix.temporal.pos_embedding (T, D) */
    mmc_nn_encoder_layer tf[ENC_MAX_TF_LAYERS];
    mmc_nn_layernorm ln;
};

/* --------------------------------------------------------------- audio */

#define ENC_MAX_AUDIO_CONVS 6

/* What the audio encoders read: their keys and the task's dropout (transformer). */
typedef struct enc_audio_cfg {
    mmc_audio_encoder_opts o;          /* the keys (the task config's .audio) */
    float dropout;
} enc_audio_cfg;

typedef struct enc_audio enc_audio;

typedef struct enc_audio_vt {
    const char *name;
    const cfg_key *keys;
    int n_keys;
    /* the temporal module after the conv stack (prefix.temporal...) */
    int (*init)(enc_audio *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err);
    /* h (B, T', C) conv features, len (B) valid steps, mask (B, T') 1/0 -> (B, out_dim) */
    mmc_tensor *(*temporal)(mmc_ctx *ctx, enc_audio *e, mmc_tensor *h, const int *len, mmc_tensor *mask, int training);
    void (*defaults)(mmc_audio_encoder_opts *o);
    int (*check)(const enc_audio_cfg *cfg, const char *file, mmc_error *err);
} enc_audio_vt;

struct enc_audio {
    const enc_audio_vt *vt;
    enc_audio_cfg cfg;
    mmc_rng *drop_rng;
    int n_conv, out_dim;
    int stride[ENC_MAX_AUDIO_CONVS];
    mmc_tensor *conv_w[ENC_MAX_AUDIO_CONVS]; /* prefix.conv.K.weight (C_out, C_in, 3): nn.Conv1d's */
    mmc_tensor *conv_b[ENC_MAX_AUDIO_CONVS];
    mmc_nn_rnn rnn;                    /* gru: prefix.temporal.rnn (bidirectional) */
    mmc_nn_linear in_proj;             /* transformer: prefix.temporal.in_proj (C -> D) */
    mmc_tensor *pos;                   /* transformer: prefix.temporal.pos_embedding (max steps, D) */
    mmc_nn_encoder_layer tf[ENC_MAX_TF_LAYERS];
    mmc_nn_layernorm ln;               /* mean, transformer: prefix.temporal.ln */
};

/* --------------------------------------------------------------- registry */

/* The encoder of a modality called name (NULL if none); the vtable is enc_image_vt or
 * enc_text_vt after the modality. */
const void *enc_find(enc_modality mod, const char *name);
static inline const enc_image_vt *enc_image_find(const char *name) { return enc_find(MMC_MOD_IMAGE, name); }
static inline const enc_text_vt *enc_text_find(const char *name) { return enc_find(MMC_MOD_TEXT, name); }
static inline const enc_video_vt *enc_video_find(const char *name) { return enc_find(MMC_MOD_VIDEO, name); }
static inline const enc_audio_vt *enc_audio_find(const char *name) { return enc_find(MMC_MOD_AUDIO, name); }
/* "cnn, resnet, vit" — the trainable names of a modality, for messages. */
const char *enc_names(enc_modality mod);
/* MMC_OK if name is a trainable encoder of mod; else MMC_ERR_INPUT naming the file, the
 * key and the choices (or, for a pretrained-only tower, where it can be used). */
int enc_check_name(enc_modality mod, const char *name, const char *file, const char *key, mmc_error *err);

/* The key table of a task config: its own keys (keys, n) and the keys of every encoder of
 * each modality it embeds the settings of, at image_off / text_off (offsetof the .image /
 * .text member; ENC_NONE: no such tower), less the keys named in without. */
#define ENC_NONE ((size_t)-1)
cfg_table enc_cfg_table(const cfg_key *keys, int n, size_t image_off, size_t text_off, const char *const *without);

/* The encoder named in c->o is trainable and its settings pass its check: MMC_ERR_INPUT
 * naming the file and the key otherwise. */
int enc_image_check(const enc_image_cfg *c, const char *file, mmc_error *err);
/* The pre-LN transformer stack the text and video transformers share: n layers of width D
 * (heads, GELU MLP 4·D, dropout) as PREFIX.layers.L, then the final PREFIX.ln. */
int enc_pre_ln_stack_init(mmc_nn_encoder_layer *tf, mmc_nn_layernorm *ln, mmc_params *P, const char *prefix, int D, int heads,
                          int n, float dropout, mmc_rng *rng, mmc_error *err);
int enc_text_check(const enc_text_cfg *c, const char *file, mmc_error *err);
/* The video encoder and its frame encoder (video_frame_encoder, an image encoder of the
 * registry, whose own check runs too). */
int enc_video_check(const enc_video_cfg *c, const char *file, mmc_error *err);
/* Adds the video slot's keys (video_encoder and every video encoder's) at video_off to a
 * table enc_cfg_table made. */
void enc_cfg_table_video(cfg_table *t, size_t video_off);

/* Adds the audio slot's keys (audio_encoder and every audio encoder's) at audio_off. */
void enc_cfg_table_audio(cfg_table *t, size_t audio_off);
int enc_audio_check(const enc_audio_cfg *c, const char *file, mmc_error *err);

/* ----------------------------------------------------------------- image */

int enc_image_init(enc_image *e, const enc_image_vt *vt, const enc_image_cfg *cfg, mmc_params *P, const char *prefix,
                   mmc_rng *rng, mmc_rng *drop_rng, enc_stage_hook hook, void *user, mmc_error *err);
static inline unsigned enc_image_caps(const enc_image *e) { return e->vt->caps; }
// x (B, 3, S, S) -> the final map (B, C, side, side)
mmc_tensor *enc_image_map(mmc_ctx *ctx, enc_image *e, mmc_tensor *x, int training);
/* Precise BatchNorm (retrieval, video captioning: before each validation). The running mean
 * and variance of e's BatchNorms recomputed at the current weights as the plain average over
 * up to K batches (batch k folded in with momentum 1/(k+1)): fill(user, k, x) writes batch
 * k's input, n × c × S × S floats, into x and returns 0 (1: no more batches). Only the
 * buffers change (momentum and the batch counters are restored): training never reads
 * them, so a resume stays exact. Nothing to do without BatchNorm or when K <= 0. */
int enc_image_bn_recompute(enc_image *e, int K, int n, int c, int S, float *x, int (*fill)(void *user, int k, float *x), void *user,
                           mmc_error *err);
/* The side s of the map of cfg under encoder vt, without building it (0 if unknown). */
int enc_image_side(const enc_image_vt *vt, const enc_image_cfg *cfg);
/* The map pooled to a g × g grid: g = min(pool_grid, side), which must divide side;
 * *pool = side / g. MMC_ERR_INPUT naming the file otherwise. */
int enc_grid(int side, int pool_grid, int *g, int *pool, const char *name, mmc_error *err);

/* ------------------------------------------------------------------ text */

/* prefix.embedding (vocab, word_dim), drawn from rng. A task may add its own input tables
 * (retrieval's subword trigrams) between this and enc_text_init. */
int enc_text_init_embedding(enc_text *e, const enc_text_vt *vt, const enc_text_cfg *cfg, mmc_params *P,
                            const char *prefix, int vocab, mmc_rng *rng, mmc_rng *drop_rng, mmc_error *err);
int enc_text_init(enc_text *e, mmc_params *P, const char *prefix, mmc_rng *rng, mmc_error *err);
/* ids, mask (B, T) -> tb, its arrays in the ctx's arena; NULL-free or a ctx error */
int enc_text_batch_make(mmc_ctx *ctx, const int32_t *ids, const int32_t *mask, int B, int T, enc_text_batch *tb);
// tb -> the token embeddings (B, Te, word_dim)
mmc_tensor *enc_text_embed(mmc_ctx *ctx, enc_text *e, const enc_text_batch *tb);
// x (B, Te, word_dim) -> (B, out_dim)
mmc_tensor *enc_text_forward(mmc_ctx *ctx, enc_text *e, mmc_tensor *x, const enc_text_batch *tb, int training);

/* ----------------------------------------------------------------- video */

/* The frame encoder (prefix.frame), then the temporal module. rng NULL: loading. */
int enc_video_init(enc_video *e, const enc_video_vt *vt, const enc_video_cfg *cfg, mmc_params *P, const char *prefix,
                   mmc_rng *rng, mmc_rng *drop_rng, mmc_error *err);
// x (B·T, 3, S, S), clip b's frames at rows b·T..b·T+T-1 -> (B, out_dim)
mmc_tensor *enc_video_forward(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training);
/* x as above -> tokens (B, tok_L, tok_C), what a caption decoder attends to:
 *   early        the stacked frames' map pooled to the grid: (B, g·g, C), one per cell;
 *   mean         each cell's features averaged over the frames: (B, g·g, C) (order-free);
 *   gru          the state after each frame: (B, T, temporal_hidden);
 *   transformer  the frames after the blocks and the final LayerNorm: (B, T, D).
 * A frame encoder with a pooled output (vit) has one cell: g·g = 1, C its width. */
mmc_tensor *enc_video_tokens(mmc_ctx *ctx, enc_video *e, mmc_tensor *x, int training);

/* ----------------------------------------------------------------- audio */

/* The conv stack (prefix.conv.K), then the temporal module (prefix.temporal). rng NULL: loading. */
int enc_audio_init(enc_audio *e, const enc_audio_vt *vt, const enc_audio_cfg *cfg, mmc_params *P, const char *prefix,
                   mmc_rng *rng, mmc_rng *drop_rng, mmc_error *err);
/* mel (B, n_mels, T) log-mel frames, clip b's first len[b] (1..T) real, the rest 0 ->
 * (B, out_dim). A clip's embedding does not depend on the batch it is in: the padding is 0
 * (each conv's own zero padding) and every conv's output is zeroed past the clip's steps. */
mmc_tensor *enc_audio_forward(mmc_ctx *ctx, enc_audio *e, mmc_tensor *mel, const int *len, int training);
/* Steps after the conv stack of a clip of n frames. */
int enc_audio_steps(const enc_audio *e, int n);
/* SpecAugment (training): o's frequency and time masks drawn from r, each a band (frame)
 * run of width 0..width set to 0, on clip mel (n_mels, T) of len real frames. */
void enc_audio_specaugment(const mmc_audio_encoder_opts *o, float *mel, int T, int len, mmc_rng *r);
/* Speaker and tempo augmentation (training, spec_warp / spec_stretch): clip in (M, Tin),
 * its first len frames real, into out (M, Tout): n = round(len·beta) frames (1..Tout),
 * out[f][t] = in at band f·alpha (the top band past it) and frame t·(len-1)/(n-1),
 * bilinear; zero past n. Returns n. */
int enc_audio_warp(const float *in, int M, int Tin, int len, float alpha, float beta, float *out, int Tout);

#endif

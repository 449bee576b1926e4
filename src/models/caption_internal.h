/* caption_internal.h — the captioner's structs, shared by src/models/caption*.c.
 * Not installed: callers see mmc_captioner as an opaque type through mmc.h. */
#ifndef MMC_CAPTION_INTERNAL_H
#define MMC_CAPTION_INTERNAL_H

#include "mmc.h"
#include "encoder.h"

#define CAP_MAX_RNN_LAYERS 2
#define CAP_MAX_TF_LAYERS 8

enum { CAP_DEC_LSTM = 1, CAP_DEC_GRU, CAP_DEC_ATTENTION, CAP_DEC_TRANSFORMER };

struct mmc_captioner {
    mmc_caption_config cfg;
    int dec_kind, step0; /* step0: lstm/gru take the image as input 0 */
    mmc_params P;
    mmc_tokenizer *tok;
    int V;
    mmc_tokenizer_specials sp;

    /* image encoder -> regions (B, L, Dm) and, for lstm/gru, a global vector (B, Dg) */
    enc_image img;            /* an image encoder of the registry */
    enc_video vid;            /* target "video": a video encoder of the registry instead */
    int video, T;             /* target "video"; frames per clip (1 for images) */
    int side, pool;           /* map encoders: final map side, avg-pool kernel to the grid */
    int L, C;                 /* regions, channels per region before the projection */
    int Dm;                   /* region width after the projection */
    mmc_nn_linear reg_proj;   /* image_encoder.proj: C -> Dm (attention, transformer) */
    mmc_tensor *reg_pos;      /* image_encoder.pos (L, Dm) */
    mmc_nn_layernorm reg_ln;  /* image_encoder.ln (transformer) */
    mmc_nn_linear glob;       /* image_encoder.global: L*C -> word_dim (step0) or hidden */

    /* decoder */
    mmc_nn_embedding emb;     /* decoder.embedding */
    mmc_nn_rnn rnn;           /* decoder.rnn (lstm/gru/attention) */
    mmc_nn_linear init_h, init_c; /* decoder.init_h / init_c */
    mmc_nn_linear att_feat, att_hid, att_v, att_gate; /* decoder.att.* */
    mmc_tensor *pos;          /* decoder.pos (max_len, hidden) */
    mmc_nn_decoder_layer tf[CAP_MAX_TF_LAYERS];
    mmc_nn_layernorm tf_ln;   /* decoder.ln */
    mmc_nn_linear out;        /* decoder.out -> V */
    mmc_rng drop_rng;
};

/* caption_config.c */
extern const cfg_kind CAP_CONFIG; /* how config.json is read and written (config_keys.h) */
void cap_encoder_cfg(const mmc_caption_config *c, enc_image_cfg *ic);
/* target "video": the video encoder's settings (its frame encoder's are the image keys) */
void cap_video_cfg(const mmc_caption_config *c, enc_video_cfg *vc);
int cap_decoder_kind(const char *s);

/* caption.c */
/* images (B, 3, S, S) -> regions (B, L, Dm) (NULL for lstm/gru) and glob (B, Dg) (NULL
 * unless lstm/gru). */
int cap_encode(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, int training, mmc_tensor **regions,
               mmc_tensor **glob);

/* The attention decoder (Show-Attend-Tell): its initial state h, c (B, H) from the mean of
 * the regions (B, L, Dm), and one step: fa = att_feat(regions) (B, L, A), word (B, Dw) ->
 * the new h, c. Training and incremental decoding run the same ones. */
void cap_att_init_state(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *regions, mmc_tensor **h, mmc_tensor **c);
int cap_att_step(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *regions, mmc_tensor *fa, mmc_tensor *word, mmc_tensor *h,
                 mmc_tensor *c, mmc_tensor **h_out, mmc_tensor **c_out);

/* config.json text: the config, "task", the vocabulary and (when not NULL) a "training"
 * object (JSON text) of the trainer's notes; mmc_malloc'd. */
char *cap_config_text(const mmc_captioner *m, const char *training_json, mmc_error *err);

#endif

/* retrieval_internal.h — the dual encoder's structs, shared by src/models/retrieval*.c.
 * Not installed: callers see mmc_retrieval as an opaque type through mmc.h. */
#ifndef MMC_RETRIEVAL_INTERNAL_H
#define MMC_RETRIEVAL_INTERNAL_H

#include "mmc.h"
#include "encoder.h"
#include "task_util.h"
#include <string.h>

#define RET_MAX_STAGES ENC_MAX_STAGES
#define RET_NGRAM_MAX 16 /* character trigrams kept per token (subword features) */

enum { RET_IMG_CNN = 1 }; /* img_kind, for retrieval_train.c's precise BN */
enum { RET_LOSS_INFONCE = 1, RET_LOSS_CONTRASTIVE, RET_LOSS_TRIPLET, RET_LOSS_TRIPLET_HARDEST, RET_LOSS_COSINE };

struct mmc_retrieval {
    mmc_retrieval_config cfg;
    int loss_kind;
    mmc_params P;
    mmc_tokenizer *tok;

    /* image tower: an encoder of the registry, pooled, projected */
    enc_image img;
    int grid_pool;                       /* avg-pool kernel that takes it to cfg.pool_grid */
    int img_feat;                        /* features into the projection */
    mmc_nn_linear img_proj;
    /* target "video": the video tower (video_encoder.frame/.temporal/.proj) in place of the
     * image tower; img_proj is its projection, and the BN views above are its frame cnn's */
    int video;
    enc_video vid;
    /* What retrieval_train.c's precise BN reads (RET_IMG_CNN, the cnn's norm and its
     * BatchNorms): views of img, set by ret_encoders_init. */
    int img_kind, group_norm, n_conv;
    mmc_nn_batchnorm *bn;

    /* text tower: an encoder of the registry (+ subword trigrams), projected */
    enc_text txt;
    mmc_tensor *ngram_emb;               /* (subword_buckets, word_dim) or NULL */
    int txt_feat;
    mmc_nn_linear txt_proj;

    /* query "audio": the audio tower (audio_encoder.conv/.temporal/.proj) in place of the
     * text tower; target "text": the text tower is the target (the embed_* of images refuse) */
    int audio, text_target;
    enc_audio aud;
    mmc_nn_linear aud_proj;

    mmc_tensor *logit_scale;             /* (1): log of the InfoNCE inverse temperature */
    mmc_rng drop_rng;                    /* dropout (transformer/ViT), saved in trainer.json */
};

/* The config builds a text tower (and needs a vocabulary): a text query, a text target, or
 * an audio:image run with transcripts. */
static inline int ret_has_text(const mmc_retrieval_config *c) {
    return strcmp(c->query, "audio") || !strcmp(c->target, "text") || c->transcripts;
}

/* retrieval_encoders.c */
int ret_encoders_init(mmc_retrieval *m, mmc_rng *rng, mmc_error *err);
mmc_tensor *ret_image_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *x, int training);
/* target "video": frames x (B·T, 3, S, S), clip b at rows b·T.. -> (B, E), L2-normalised */
mmc_tensor *ret_video_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *x, int training);
/* The target tower on x: ret_video_forward or ret_image_forward. */
mmc_tensor *ret_target_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *x, int training);
/* query "audio": log-mel clips mel (B, n_mels, T), clip b's first len[b] frames real ->
 * (B, E), L2-normalised */
mmc_tensor *ret_audio_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *mel, const int *len, int training);
/* ids, mask (B, T) and the captions' subword trigrams ngr (B, T, RET_NGRAM_MAX) bucket ids,
 * -1 = none; NULL: derived from the ids (unknown words get none). */
mmc_tensor *ret_text_forward_ngrams(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids, const int32_t *mask,
                                    const int32_t *ngr, int B, int T, int training);

/* retrieval.c: n clips through the audio tower, AUDIO_CHUNK at a time; get writes clip i as
 * (n_mels, T) zero-padded floats (T >= frames[i]). */
int ret_embed_mels(mmc_retrieval *m, int n, void (*get)(void *user, int i, float *out, int T), const int *frames, void *user,
                   float *out, mmc_error *err);

/* retrieval.c: the audio:image loss, images ie, clips qe and (transcripts, else NULL) their
 * texts xe: InfoNCE audio-image, + text-image + audio-text with transcripts. */
mmc_tensor *ret_audio_loss(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *ie, mmc_tensor *qe, mmc_tensor *xe);

/* retrieval_subword.c: trigram buckets (B, T, RET_NGRAM_MAX) for subword_buckets > 0 */
void ret_subword_from_ids(const mmc_retrieval *m, const int32_t *ids, int B, int T, int32_t *ngr);
void ret_subword_from_texts(const mmc_retrieval *m, const char *const *texts, const int32_t *ids, const int32_t *mask,
                            int B, int T, int32_t *ngr);

/* retrieval.c: config.json's text (the config and the tokenizer), mmc_malloc'd; NULL with
 * err filled on failure. */
char *ret_config_text(const mmc_retrieval *m, const char *run_dir, mmc_error *err);

/* retrieval_config.c */
extern const cfg_kind RET_CONFIG; /* how config.json is read and written (config_keys.h) */
int ret_loss_kind(const char *s);
/* The encoders' settings from the config's keys. */
void ret_encoder_cfgs(const mmc_retrieval_config *c, enc_image_cfg *ic, enc_text_cfg *tc);
/* The video encoder's settings (target "video"): the image settings for its frame encoder. */
void ret_video_cfg(const mmc_retrieval_config *c, enc_video_cfg *vc);
/* The audio encoder's settings (query "audio"). */
void ret_audio_cfg(const mmc_retrieval_config *c, enc_audio_cfg *ac);

/* retrieval_data.c: embeds every image and caption of a split (task_util.h) and scores them. */
int ret_split_load(const mmc_retrieval *m, task_split *d, const char *dir, const char *split, int max, mmc_error *err);
/* The same from a config (before the model exists), progress told while clips decode. */
int ret_split_load_cfg(const mmc_retrieval_config *c, task_split *d, const char *dir, const char *split, int max,
                       void (*progress)(void *user, int done, int total), void *user, mmc_error *err);
int ret_dataset_evaluate(mmc_retrieval *m, const task_split *d, mmc_retrieval_metrics *out, mmc_error *err);

#endif

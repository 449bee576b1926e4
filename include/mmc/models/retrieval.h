/*
 * mmc/models/retrieval.h — the dual encoder (src/models/retrieval*.c): config, create/load/save,
 * encoders, recall, and the training loop's options and events shared by every task.
 */
#ifndef MMC_MODELS_RETRIEVAL_H
#define MMC_MODELS_RETRIEVAL_H

#include "../core.h"
#include "../data.h"
#include "../nn.h"
#include "encoders.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- retrieval: the dual encoder (src/models/retrieval*.c) -- */
/* An image encoder and a text encoder trained so that matching pairs land close together
 * (coordinated representation). A trained model lives in a run folder (config.json names
 * the encoders, sizes and tokenizer vocab; model.safetensors holds the weights). */
typedef struct mmc_retrieval mmc_retrieval;
/* Loads a run folder written by `mmc train retrieval`. NULL + err (MMC_ERR_INPUT naming the
 * file) when anything is missing or malformed. */
mmc_retrieval *mmc_retrieval_load(const char *run_dir, mmc_error *err);
void mmc_retrieval_free(mmc_retrieval *m);
int mmc_retrieval_dim(const mmc_retrieval *m);        /* embedding size */
int mmc_retrieval_image_size(const mmc_retrieval *m); /* input side in pixels */

/* The model and training settings: the keys of a run's config.json (and of a --config
 * file; a file may give any subset, the rest keep their defaults). docs/retrieval.md lists
 * every key with its default and why. Strings are stored inline so the struct copies. */
typedef struct mmc_retrieval_config {
    char target[8];          /* what the captions are matched with: "image" (default) or
                                "video" (the manifest's clips, video_frames frames each at
                                image_size; `--pair text:video`) */
    char query[8];           /* what searches: "text" (default: the captions) or "audio"
                                (the manifest's spoken captions, "audio": [...]; `--pair
                                audio:image`, 以声搜图, or `--pair audio:text` with target
                                "text": a clip finds what it says) */
    /* audio encoder (query "audio"): audio_encoder ("gru" default, "transformer", "mean")
     * and its keys (encoders.h): audio_mels 80, audio_channels 128, audio_convs 3,
     * audio_stride 8, audio_hidden 128, audio_layers 1, audio_heads 4, audio_max_frames
     * 3000, SpecAugment spec_freq_masks 2 × spec_freq_width 8, spec_time_masks 2 ×
     * spec_time_width 10 */
    mmc_audio_encoder_opts audio;
    /* video encoder (target "video"): video_encoder ("early" default: the frames stacked as
     * channels of the cnn; "gru", "mean", "transformer"), video_frame_encoder (an image encoder, "cnn"; its keys are the image keys
     * above) and its keys (encoders.h): video_frames 8, temporal_hidden 128,
     * temporal_layers 1, temporal_heads 4 */
    mmc_video_encoder_opts video;
    /* image encoder: image_encoder ("cnn" default, "resnet", "vit") and its keys
     * (encoders.h): all but cnn_strides and coord; cnn 16-32-64-128, resnet 2-2-2-2 blocks
     * of 32-64-128-256 */
    mmc_image_encoder_opts image;
    int image_size;          /* input side in pixels (64); images are resized to it */
    char image_pool[8];      /* cnn/resnet: "grid" (flatten a pool_grid² map: keeps where
                                things are) or "avg" (global average: position lost) */
    int pool_grid;           /* side of the grid kept by "grid" pooling (4) */
    char bn_eval[8];         /* cnn: BatchNorm statistics outside training: "batch" (default;
                                those of the images embedded together, up to 128 at a time,
                                as in training) or "running" (the running averages) */
    char cnn_norm[8];        /* cnn: the norm after each conv: "batch" (default: BatchNorm;
                                a run folder without the key is "batch") or "group"
                                (GroupNorm: per image, no batch dependence; norm_groups,
                                8, in .image) */
    int bn_recompute;        /* cnn "batch": before each validation (and the final save)
                                the running statistics are recomputed at the current weights
                                from this many training batches (precise BN); 0 = off */
    /* text encoder: text_encoder ("gru" default, "lstm", "bag", "transformer") and its
     * keys (encoders.h): word_dim 64, text_hidden 128, text_layers 1, text_heads 4 */
    mmc_text_encoder_opts text;
    int subword_buckets;     /* > 0: each token's embedding also gets the mean of its
                                character trigrams' embeddings (fastText), hashed into this
                                many rows, so unseen word forms keep a meaning; 0 = off */
    float word_dropout;      /* training: each caption word becomes <unk> with this
                                probability (with subword_buckets its trigrams stay: it
                                learns what an unknown word's trigrams mean); 0 = off */
    int max_len;             /* tokens per caption incl. <start>/<end>; 0 = from the data */
    /* joint space and loss */
    int embed_dim;           /* embedding size (256) */
    char loss[24];           /* "infonce" (default), "contrastive", "triplet",
                                "triplet_hardest", "cosine" */
    float margin;            /* contrastive / triplet / cosine margin */
    float temperature;       /* infonce: initial temperature (0.07); logit scale = 1/T */
    int learn_temperature;   /* 1: the logit scale is a parameter (clamped at 100) */
    /* text */
    char lang[4];            /* "en" (captions, word tokenizer) or "zh" (captions_zh, char) */
    int min_count;           /* vocabulary: tokens seen at least this often (1) */
    /* training */
    int batch_size;          /* 128 */
    float lr, weight_decay, min_lr_ratio, grad_clip; /* AdamW; cosine to lr·min_lr_ratio */
    int warmup_steps;        /* linear warm-up */
    int augment_shift;       /* random translation by up to this many pixels (no flips:
                                they would swap left and right) */
    float dropout;           /* transformer / ViT */
    int epochs;              /* when neither --steps nor --minutes is given */
    int train_captions;      /* 0: every caption of a sample (default); k > 0: only its
                                first k (training and validation), e.g. emoji names
                                without their keywords */
    int transcripts;         /* query "audio", target "image": 1 = a text tower reads each
                                clip's transcript (the manifest's "text") as a third view,
                                and the loss is the sum over the three pairs (audio-image,
                                text-image, audio-text): text finds the scenes early, and
                                the audio tower learns words against a target that already
                                means something. Inference uses audio and images only. 0 =
                                audio and images alone */
    int bucket_batches;      /* query "audio": each run of this many batches of an epoch
                                has its clips sorted by length, so a batch pads little (32;
                                0 = plain shuffling) */
} mmc_retrieval_config;

mmc_retrieval_config mmc_retrieval_config_default(void);
/* Applies the keys of a JSON object (text[0..n)) over *c. Unknown keys, wrong types and
 * values out of range are MMC_ERR_INPUT naming `name` and the key; *c is unchanged then. */
int mmc_retrieval_config_parse(mmc_retrieval_config *c, const char *text, size_t n,
                               const char *name, mmc_error *err);
int mmc_retrieval_config_load(mmc_retrieval_config *c, const char *path, mmc_error *err);
/* Every key as a JSON object (mmc_free it); NULL on OOM. */
char *mmc_retrieval_config_to_json(const mmc_retrieval_config *c);
/* Checks ranges and names (MMC_ERR_INPUT naming `name`). */
int mmc_retrieval_config_check(const mmc_retrieval_config *c, const char *name, mmc_error *err);

/* A new model with fresh weights drawn from seed. Takes ownership of tok (a word or char
 * tokenizer, also on failure). cfg->max_len must be > 0 here. */
mmc_retrieval *mmc_retrieval_create(const mmc_retrieval_config *cfg, mmc_tokenizer *tok,
                                    uint64_t seed, mmc_error *err);
/* Loads a run folder with the weights from `weights` (a file name inside it, e.g.
 * "model-best.safetensors"; NULL = model.safetensors). */
mmc_retrieval *mmc_retrieval_load_weights(const char *run_dir, const char *weights,
                                          mmc_error *err);
/* Writes run_dir/config.json (config + tokenizer vocab) and run_dir/`weights` (NULL =
 * model.safetensors), each atomically. */
int mmc_retrieval_save(const mmc_retrieval *m, const char *run_dir, const char *weights,
                       mmc_error *err);
mmc_params *mmc_retrieval_params(mmc_retrieval *m);
const mmc_retrieval_config *mmc_retrieval_get_config(const mmc_retrieval *m);
const mmc_tokenizer *mmc_retrieval_tokenizer(const mmc_retrieval *m);
mmc_rng *mmc_retrieval_dropout_rng(mmc_retrieval *m);

/* Forward passes (training: batch statistics, dropout). Both give L2-normalised rows.
 * images (B, 3, S, S) as mmc_retrieval_image_to_chw makes them -> (B, E)
 * ids, mask (B, T) from mmc_tokenizer_encode_batch with T = max_len -> (B, E) */
mmc_tensor *mmc_retrieval_encode_images(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *images,
                                        int training);
/* target "video": frames (B·T, 3, S, S), clip b's T frames at rows b·T.., each as
 * mmc_retrieval_image_to_chw makes it -> (B, E); T = mmc_retrieval_video_frames (0 for an
 * image model, whose encode_images this is for a video one: an error) */
mmc_tensor *mmc_retrieval_encode_clips(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *frames,
                                       int training);
int mmc_retrieval_video_frames(const mmc_retrieval *m);
mmc_tensor *mmc_retrieval_encode_texts(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids,
                                       const int32_t *mask, int B, int T, int training);
/* The configured loss over a batch of matching rows img[i] <-> txt[i] (B, E) -> (1). */
mmc_tensor *mmc_retrieval_loss(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *img, mmc_tensor *txt);
/* The model's preprocessing: an RGB image (resized bilinearly to image_size if it is
 * another size) into out (3, S, S): (v/255 - 0.5) / 0.5. */
int mmc_retrieval_image_to_chw(const mmc_retrieval *m, const mmc_image *img, float *out,
                               mmc_error *err);
/* Inference helpers for the embedder: n rows of mmc_retrieval_dim floats into out. */
int mmc_retrieval_embed_texts(mmc_retrieval *m, const char *const *texts, int n, float *out,
                              mmc_error *err);
int mmc_retrieval_embed_image_files(mmc_retrieval *m, const char *const *paths, int n,
                                    float *out, mmc_error *err);
int mmc_retrieval_embed_chw(mmc_retrieval *m, const float *chw, int n, float *out,
                            mmc_error *err); /* n preprocessed images (n, 3, S, S) */
int mmc_retrieval_embed_clips(mmc_retrieval *m, const float *chw, int n, float *out,
                              mmc_error *err); /* n clips (n·T, 3, S, S) */

/* Cross-modal recall (src/models/retrieval_eval.c until src/eval has it). img (n_img, D)
 * and txt (n_txt, D) L2-normalised; txt_img[j] = the image caption j describes.
 * text->image: the rank of caption j's image among all images (1 = first).
 * image->text: the rank of the best-ranked of the image's captions among all captions.
 * Recalls are fractions in [0, 1]; rsum = the sum of the six recalls as percentages
 * (0..600), as in the VSE++/SCAN papers. */
typedef struct mmc_recall {
    double r1, r5, r10, median_rank, mean_rank;
} mmc_recall;
typedef struct mmc_retrieval_metrics {
    mmc_recall t2i, i2t;
    double rsum;
    int n_images, n_texts;
} mmc_retrieval_metrics;
int mmc_retrieval_recall(const float *img, int n_img, const float *txt, const int *txt_img,
                         int n_txt, int dim, mmc_retrieval_metrics *out, mmc_error *err);
/* Embeds DIR/manifest-SPLIT.jsonl (the model's language; every caption) and scores it.
 * max_images > 0 uses only the first max_images samples. */
int mmc_retrieval_evaluate(mmc_retrieval *m, const char *data_dir, const char *split,
                           int max_images, mmc_retrieval_metrics *out, mmc_error *err);
/* The same with only the first captions_per_image captions of each sample as queries and
 * candidates (> 0; 0 = all): 1 evaluates e.g. emoji names without their keywords. */
int mmc_retrieval_evaluate_captions(mmc_retrieval *m, const char *data_dir, const char *split,
                                    int max_images, int captions_per_image,
                                    mmc_retrieval_metrics *out, mmc_error *err);

/* Training (src/models/retrieval_train.c, a task of the one training loop
 * src/models/train_loop.c, which every trainer shares: these options and events are all
 * tasks'): `mmc train retrieval`. It reports through a callback and never prints. The run folder holds config.json,
 * model.safetensors (last checkpoint), model-best.safetensors (best validation
 * t2i R@1+R@5+R@10), optimizer.safetensors, trainer.json, metrics.jsonl. */
enum { MMC_TRAIN_EV_START = 0, MMC_TRAIN_EV_STEP, MMC_TRAIN_EV_VAL, MMC_TRAIN_EV_SAVE,
       MMC_TRAIN_EV_END };
typedef struct mmc_train_event {
    int kind;                 /* MMC_TRAIN_EV_* */
    int64_t step, total_steps;/* total_steps 0 when time-bound (--minutes) */
    int epoch;                /* 1-based epoch in progress */
    double loss, loss_avg, lr, temperature;
    double elapsed_s, eta_s;  /* training time so far; remaining estimate (-1 unknown) */
    double pairs_per_s;
    const mmc_retrieval_metrics *val; /* MMC_TRAIN_EV_VAL of retrieval runs, else NULL */
    double val_score;         /* MMC_TRAIN_EV_VAL: the selection metric (R@ sum, BLEU-4, accuracy) */
    const char *val_line;     /* MMC_TRAIN_EV_VAL of caption/vqa/classify runs: a line for humans */
    int is_best;
    const char *message;      /* START/SAVE/END: a line for humans */
} mmc_train_event;
typedef void (*mmc_train_callback)(void *user, const mmc_train_event *ev);

typedef struct mmc_retrieval_train_opts {
    const char *data_dir, *run_dir;
    int epochs;             /* > 0: train this many epochs */
    int64_t steps;          /* > 0: this many steps (wins over epochs) */
    double minutes;         /* > 0: stop after this much training time (wins over both) */
    uint64_t seed;
    int resume;             /* continue from run_dir's last checkpoint */
    int64_t stop_at_step;   /* > 0: stop after this step and save, as an interrupt would */
    volatile int *interrupt;/* set to non-zero (e.g. from SIGINT) to save and stop */
    const char *val_split;  /* NULL: "val"; "" skips validation */
    int val_max_images;     /* > 0: validate on the first N only */
    int log_every;          /* STEP events every N steps (0: 10) */
    mmc_train_callback callback;
    void *user;
} mmc_retrieval_train_opts;
mmc_retrieval_train_opts mmc_retrieval_train_defaults(void);
/* Returns MMC_OK, an error code with err filled, or MMC_TRAIN_INTERRUPTED (130) after
 * saving a resumable checkpoint when *interrupt became non-zero. */
#define MMC_TRAIN_INTERRUPTED 130
int mmc_retrieval_train(const mmc_retrieval_config *cfg, const mmc_retrieval_train_opts *o,
                        mmc_error *err);

/* Query "audio" (spoken captions; `--pair audio:image` or `audio:text`). */
const char *mmc_retrieval_query(const mmc_retrieval *m);  /* "text" or "audio" */
const char *mmc_retrieval_target(const mmc_retrieval *m); /* "image", "video" or "text" */
/* n clips of log-mel frames (mmc_logmel with the model's audio_mels bands; mels[i] is
 * (n_mels, frames[i]) row-major, 1 <= frames[i] <= audio_max_frames) -> n rows of
 * mmc_retrieval_dim floats. A model without an audio tower: MMC_ERR_USAGE. */
int mmc_retrieval_embed_mels(mmc_retrieval *m, const float *const *mels, const int *frames, int n, float *out,
                             mmc_error *err);
/* n sound files (anything mmc_audio_load reads), each resampled to 16 kHz, its log-mel
 * frames cut to audio_max_frames -> n rows. A file that does not decode: MMC_ERR_INPUT
 * naming it. */
int mmc_retrieval_embed_audio_files(mmc_retrieval *m, const char *const *paths, int n, float *out, mmc_error *err);

/* (declarations for retrieval go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_MODELS_RETRIEVAL_H */

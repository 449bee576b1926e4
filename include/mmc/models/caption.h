/*
 * mmc/models/caption.h — the captioner (src/models/caption*.c): config, model, incremental and
 * beam decoding, evaluation, training.
 */
#ifndef MMC_MODELS_CAPTION_H
#define MMC_MODELS_CAPTION_H

#include "../core.h"
#include "../data.h"
#include "../nn.h"
#include "encoders.h"
#include "retrieval.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- captioning (src/models/caption*.c) -- */
/* An image encoder and an autoregressive text decoder trained with teacher forcing and
 * cross-entropy (`mmc train caption`), decoded greedily or by beam search (`mmc caption`),
 * scored with BLEU-1..4, CIDEr-D and exact match (`mmc eval`). The encoder gives a map of
 * L regions (cnn/resnet: the final map average-pooled to pool_grid x pool_grid; vit: every
 * token), each projected to the decoder width with a learned position embedding. Decoders:
 *   "lstm" / "gru"   Show and Tell: the flattened region grid (so positions survive),
 *                    projected, is the input of step 0 (image_input "step0") or sets the
 *                    initial state (image_input "init"); whole sequence in one fused layer.
 *   "attention"      Show, Attend and Tell: an LSTM whose input at each step is the word
 *                    and a gated soft-attention context over the regions, the attention
 *                    queried with the previous hidden state (a loop of single steps).
 *   "transformer"    pre-LN decoder layers: causal self-attention over the words,
 *                    cross-attention over the regions (teacher forcing in one pass;
 *                    decoding keeps a key/value cache per layer).
 * A run folder (config.json with "task": "caption", every config key and the vocabulary;
 * model.safetensors) holds a model; docs/captioning.md lists the keys and defaults. */
typedef struct mmc_captioner mmc_captioner;
typedef struct mmc_caption_config {
    char target[8];          /* what is described: "image" (default) or "video" (the
                                manifest's clips, video_frames frames each at image_size;
                                `mmc train caption --video`: a summary sentence) */
    /* video encoder (target "video"): video_encoder ("early" default for caption: the
     * frames stacked as channels of the cnn, its map's cells the decoder's regions; "mean",
     * "gru", "transformer": one region per frame, see encoder.h's enc_video_tokens),
     * video_frame_encoder (an image encoder, "cnn"; its keys the image keys below) */
    mmc_video_encoder_opts video;
    int bn_recompute;        /* target "video": before each validation (and the final save)
                                the cnn's BatchNorm running statistics are recomputed at the
                                current weights from this many training batches (precise
                                BN, as retrieval does; 16); 0 = off */
    /* image encoder: image_encoder ("cnn" default, "resnet", "vit") and its keys
     * (encoders.h): all but cnn_strides, coord and norm_groups; cnn 32-64-128-128 */
    mmc_image_encoder_opts image;
    int image_size;          /* input side in pixels (64) */
    int pool_grid;           /* cnn/resnet: regions per side (the map is average-pooled) */
    /* decoder */
    char decoder[16];        /* "transformer" (default), "attention", "lstm", "gru" */
    char image_input[8];     /* lstm/gru: "step0" or "init" */
    int word_dim;            /* word embedding size of the recurrent decoders (the decoder's
                                own key: caption has no text encoder) */
    int hidden;              /* recurrent hidden size; transformer width (regions too) */
    int dec_layers;          /* lstm/gru layers (1-2), transformer layers (1-8); attention: 1 */
    int dec_heads;           /* transformer heads */
    int att_dim;             /* attention: size of the additive attention */
    char dec_act[8];         /* transformer MLP activation: "relu" (default) or "gelu" */
    float dropout;           /* embeddings, decoder outputs, transformer blocks */
    float label_smoothing;   /* cross-entropy label smoothing */
    /* text */
    char lang[4];            /* "en" (captions, word tokens) or "zh" (captions_zh, chars) */
    int min_count;           /* vocabulary: tokens seen at least this often */
    int max_len;             /* tokens per caption incl. <start>/<end>; 0 = from the data */
    char train_captions[8];  /* "all": a random caption per sample per epoch; "first" */
    /* decoding defaults (mmc caption / eval flags override them) */
    float length_penalty;    /* GNMT alpha for beam search (0: plain log-prob sums) */
    int no_repeat_ngram;     /* 0: off */
    /* training */
    int batch_size;
    float lr, weight_decay, min_lr_ratio, grad_clip; /* AdamW; warm-up, cosine to lr*ratio */
    int warmup_steps;
    int epochs;              /* when neither steps nor minutes is given */
    int val_max_images;      /* validation BLEU on the first N val images (0: all) */
} mmc_caption_config;
mmc_caption_config mmc_caption_config_default(void);
/* Keys of a JSON object over *c (a subset is fine; "task", "tokenizer" and "training" are
 * skipped); unknown keys, wrong types, bad values: MMC_ERR_INPUT naming `name` and the
 * key, *c unchanged. */
int mmc_caption_config_parse(mmc_caption_config *c, const char *text, size_t n, const char *name,
                             mmc_error *err);
int mmc_caption_config_load(mmc_caption_config *c, const char *path, mmc_error *err);
int mmc_caption_config_check(const mmc_caption_config *c, const char *name, mmc_error *err);
/* Every key plus "task": "caption", as a JSON object (mmc_free it). */
char *mmc_caption_config_to_json(const mmc_caption_config *c);

/* A new model with weights drawn from seed; takes tok (word or char; also on failure).
 * cfg->max_len must be >= 3. */
mmc_captioner *mmc_captioner_create(const mmc_caption_config *cfg, mmc_tokenizer *tok, uint64_t seed,
                                    mmc_error *err);
/* A run folder; weights NULL = model.safetensors (else e.g. "model-best.safetensors").
 * MMC_ERR_INPUT naming the file for anything missing or malformed. */
mmc_captioner *mmc_captioner_load(const char *run_dir, const char *weights, mmc_error *err);
/* config.json (config, "task", vocabulary) and run_dir/weights (NULL = model.safetensors). */
int mmc_captioner_save(const mmc_captioner *m, const char *run_dir, const char *weights, mmc_error *err);
void mmc_captioner_free(mmc_captioner *m);
mmc_params *mmc_captioner_params(mmc_captioner *m);
const mmc_caption_config *mmc_captioner_config(const mmc_captioner *m);
const mmc_tokenizer *mmc_captioner_tokenizer(const mmc_captioner *m);
mmc_rng *mmc_captioner_dropout_rng(mmc_captioner *m);
/* An RGB image (any size: short side resized to image_size, centre crop) into out
 * (3, S, S), (v/255 - 0.5)/0.5, as training saw it. */
int mmc_captioner_image_to_chw(const mmc_captioner *m, const mmc_image *img, float *out, mmc_error *err);
/* A video captioner (target "video", mmc_captioner_frames T > 1): wherever the functions
 * below take images (B, 3, S, S) or one image's chw (3, S, S), they take clips (B·T, 3, S,
 * S) and one clip's chw (T, 3, S, S), its frames in time order, each as training saw it;
 * mmc_captioner_image_to_chw refuses it (MMC_ERR_USAGE). */

/* Teacher forcing. images (B, 3, S, S); ids, mask (B, T) from mmc_tokenizer_encode_batch
 * (<start> first). Returns the logits (B, T-1, V): position t predicts ids[:, t+1]. */
mmc_tensor *mmc_captioner_forward(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, const int32_t *ids,
                                  const int32_t *mask, int B, int T, int training);
/* Mean token cross-entropy (label smoothing as configured) of the real next tokens -> (1). */
mmc_tensor *mmc_captioner_loss(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, const int32_t *ids,
                               const int32_t *mask, int B, int T, int training);

/* Incremental decoding: n images become n rows of decoder state; each step feeds one token
 * per row and writes log-softmax rows (n_rows, V). parents (NULL = row i stays row i) makes
 * new row i a copy of old row parents[i] first, as mmc_decode_step_fn asks, so a step is a
 * decode callback. Pad, start and unknown tokens get -inf. */
typedef struct mmc_caption_state mmc_caption_state;
mmc_caption_state *mmc_caption_begin(mmc_captioner *m, const float *chw, int n, int max_rows, mmc_error *err);
int mmc_caption_step(mmc_caption_state *s, const int *parents, const int32_t *tokens, int n_rows,
                     float *logprobs, mmc_error *err);
void mmc_caption_state_free(mmc_caption_state *s);

typedef struct mmc_caption_opts {
    int beam;               /* 1: greedy */
    float length_penalty;   /* GNMT alpha */
    int no_repeat_ngram;    /* 0: off */
    int max_len;            /* generated tokens at most, end included; 0 = the model's */
} mmc_caption_opts;
/* beam 1, the model's length penalty and n-gram blocking, max_len 0. */
mmc_caption_opts mmc_caption_opts_default(const mmc_captioner *m);
typedef struct mmc_caption_hyp {
    char *text;             /* decoded (mmc_malloc'd) */
    int32_t *ids;           /* without start/end */
    int n_ids, ended;
    double score, logprob;  /* score = logprob / length penalty */
} mmc_caption_hyp;
typedef struct mmc_caption_result {
    int n;                  /* hypotheses, best first: 1 for greedy, up to beam */
    mmc_caption_hyp *hyps;
} mmc_caption_result;
void mmc_caption_result_free(mmc_caption_result *r);
/* One preprocessed image (3, S, S) -> hypotheses (mmc_decode_greedy / mmc_decode_beam). */
int mmc_captioner_caption_chw(mmc_captioner *m, const float *chw, const mmc_caption_opts *o,
                              mmc_caption_result *out, mmc_error *err);
int mmc_captioner_caption_file(mmc_captioner *m, const char *path, const mmc_caption_opts *o,
                               mmc_caption_result *out, mmc_error *err);
/* Keyframes (target "video"): how much the summary ids[0..n) leans on each of the clip's T
 * frames. clip: (T, 3, S, S) as training saw it. drop[t] = log p(summary | clip) -
 * log p(summary | clip with frame t replaced by its neighbour, t - 1, or 1 for frame 0):
 * the frames whose loss costs the sentence most are the ones that show what it says
 * (`mmc caption CLIP --keyframes K` writes the K largest). T + 1 teacher-forced passes. */
int mmc_captioner_frame_importance(mmc_captioner *m, const float *clip, const int32_t *ids, int n,
                                   int ended, float *drop, mmc_error *err); /* ended: score <end> too */
/* Frames per input: video_frames for a video captioner, 1 for an image one. */
int mmc_captioner_frames(const mmc_captioner *m);

/* Captions every image of DIR/manifest-SPLIT.jsonl (the first max_images when > 0) and
 * scores them against all of its captions in the model's language, as token ids of the
 * model's tokenizer: corpus BLEU-1..4, CIDEr-D, exact match (any reference), and
 * exact_first (equal to the first caption: the emoji name). Greedy without n-gram
 * blocking runs all images of a chunk together (the same tokens as mmc_decode_greedy). */
typedef struct mmc_caption_metrics {
    double bleu[4], cider_d, exact_match, exact_first;
    int n_images;
} mmc_caption_metrics;
int mmc_captioner_evaluate(mmc_captioner *m, const char *data_dir, const char *split, const mmc_caption_opts *o,
                           int max_images, mmc_caption_metrics *out, mmc_error *err);

/* Training (src/models/caption_train.c): batches from mmc_loader (no flips or colour
 * jitter: captions name colours and left/right), AdamW without decay on biases and norms,
 * linear warm-up then cosine decay (over the steps, or over the time of --minutes),
 * gradient clipping, validation BLEU-4 (greedy) after every epoch with the best model kept
 * as model-best.safetensors, checkpoints through mmc_run_save (resumable bit-exactly),
 * events and MMC_TRAIN_INTERRUPTED as mmc_retrieval_train. */
int mmc_caption_train(const mmc_caption_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err);

/* (declarations for captioning go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_MODELS_CAPTION_H */

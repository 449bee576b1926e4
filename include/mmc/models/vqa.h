/*
 * mmc/models/vqa.h — the fusion models behind VQA and classification (src/models/vqa*.c):
 * config, model, answers, evaluation, training.
 */
#ifndef MMC_MODELS_VQA_H
#define MMC_MODELS_VQA_H

#include "../core.h"
#include "../data.h"
#include "../nn.h"
#include "encoders.h"
#include "retrieval.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- fusion models / VQA (src/models/vqa*.c) -- */
/* One model behind `mmc train vqa` and `mmc train classify`: an image and a text (a
 * question, or a caption) -> one class of a vocabulary built from the training split (the
 * answers, or the labels), with a choice of fusion (docs/vqa.md):
 *   early   the question (GRU) projected and tiled as extra channels onto the input of one
 *           CNN stage (mmc_tile_concat); the CNN after it sees image and text together
 *   late    CNN and GRU encode separately; their vectors are combined by concat (default),
 *           sum, product (mmc_nn_fusion), bilinear (mmc_nn_lowrank_bilinear), or each
 *           modality gets its own classifier and the logits are averaged with learned
 *           weights (mmc_nn_logit_average: "logits"); or "attention": the question weighs
 *           the cells of the CNN's final map (with their coordinates), `glimpses` times,
 *           and the weighted cells join [v; q] (stacked-attention style)
 *   hybrid  FiLM from the question into every CNN stage from film_from on (mmc_nn_film),
 *           plus a late concat of the question vector with the image vector
 *   joint   one transformer over [CLS; image patches; question tokens] (mmc_nn_joint)
 *   none    the question alone (a blind baseline: how far the text gets without the image)
 * then an MLP classifier. The CNN stages before the first place the question enters are
 * run once per image and shared by all of its questions in a batch. */
typedef struct mmc_vqa mmc_vqa;
typedef struct mmc_vqa_config {
    char task[12];        /* "vqa" (question -> answer) or "classify" */
    char source[12];      /* classify: "label" (caption -> the manifest's label) or "match"
                             (does this caption describe this scene? "yes"/"no") */
    char fusion[12];      /* "early", "late", "hybrid", "joint", "none" */
    char combine[12];     /* late: "concat", "sum", "product", "bilinear", "logits",
                             "attention" */
    char target[8];       /* "image" (default) or "video": questions about clips (the
                             manifest's "video", video_frames frames each at image_size;
                             `mmc train vqa --video`) */
    /* target "video": the video encoder, "early" (the only one vqa takes: the frames are
     * stacked as 3·video_frames channels into the cnn's first conv, so early, late and
     * hybrid fusion all reach a map that holds the motion); video_frames (8) */
    mmc_video_encoder_opts video;
    int image_size;       /* input side (64); images are resized to it */
    char norm[8];         /* after each conv: "batch" (BatchNorm, running stats in eval)
                             or "none" */
    int pool_grid;        /* the final map is average-pooled to g×g and flattened (4) */
    char image_pool[8];   /* "grid" (that flattened map), "max" (global max over the map:
                             "is there a ... anywhere", translation-invariant) or "both" */
    int image_dim;        /* image vector: Linear(C·g·g -> image_dim) + ReLU */
    char text_pool[12];   /* the question vector: "last" (the GRU's final state, runs saved
                             before the key) or "last+mean" (and the mean word embedding) */
    int max_len;          /* question tokens incl. <start>/<end>; 0 = from the data */
    int min_count;        /* vocabulary: words seen at least this often */
    int fuse_dim;         /* late: projections before sum/product/concat, bilinear rank,
                             attention width */
    int glimpses;         /* late attention: question-guided attention maps over the grid */
    char att_score[12];   /* late attention: "additive" (tanh, runs saved before the key) or
                             "dot" (scaled dot product, plus each glimpse's best score) */
    char att_fuse[12];    /* late attention: "concat" ([glimpses; v; q] -> classifier, runs
                             saved before the key) or "bilinear" ([glimpses; v] and q by
                             low-rank bilinear pooling, then [that; q] -> classifier) */
    int hidden;           /* classifier MLP: in -> hidden -> classes */
    int early_stage;      /* early: the stage whose input gets the question (0 = image) */
    int early_dim;        /* early: question channels tiled */
    int film_from;        /* hybrid: stages film_from.. are FiLM-conditioned */
    int joint_patch, joint_dim, joint_depth, joint_heads; /* joint transformer */
    float dropout;        /* classifier MLP (and the joint transformer) */
    int batch_images;     /* images per step */
    int per_image;        /* texts per image per step (questions drawn without repeats) */
    float lr, weight_decay, min_lr_ratio, grad_clip, label_smoothing;
    float warmup;         /* linear warm-up over this fraction of the run, then cosine */
    int augment_shift;    /* random shift by up to this many pixels */
    int augment_flip;     /* 1: each training image (clip) flipped left-right and/or top-bottom
                             with probability 1/2 each; 0: never (questions say "left of");
                             -1 (default): on when nothing in the texts can be about where
                             things are (query "audio" or "none") */
    int epochs;           /* when neither --steps nor --minutes is given */
    /* encoders (encoders.h; image_encoder and text_encoder are absent from runs saved
     * before them: cnn and gru). image: "cnn" (default), or "resnet" or "vit" (late only),
     * and its keys but cnn_depth and norm_groups: cnn_widths 16-32-64-128, cnn_strides 2
     * per stage (absent from runs saved before the key: 2), coord 0 (1: every stage's
     * input gets 2 coordinate channels). text, the question: "gru" (default), "lstm",
     * "bag", "transformer": word_dim 64, text_hidden 128 (a 1-layer GRU's final state). */
    mmc_image_encoder_opts image;
    mmc_text_encoder_opts text;
    /* What stands in the question's place (classify, docs/audio.md): "text" (default: the
     * question or caption), "audio" (the sound track of each sample's video file, through
     * the audio encoder of the registry, .audio: audio-visual classification, `mmc train
     * classify --inputs video,audio`), or "none" (no second input: fusion "late" with the
     * image vector alone, the frames-only baseline, `--inputs video`). */
    char query[8];
    mmc_audio_encoder_opts audio;
} mmc_vqa_config;

/* The defaults of a task ("vqa" or "classify"); fusion NULL = the task's default. */
mmc_vqa_config mmc_vqa_config_default(const char *task, const char *fusion);
/* Applies the keys of a JSON object over *c (unknown keys, wrong types, values out of range
 * are MMC_ERR_INPUT naming `name` and the key; *c unchanged then). */
int mmc_vqa_config_parse(mmc_vqa_config *c, const char *text, size_t n, const char *name,
                         mmc_error *err);
int mmc_vqa_config_load(mmc_vqa_config *c, const char *path, mmc_error *err);
int mmc_vqa_config_check(const mmc_vqa_config *c, const char *name, mmc_error *err);
char *mmc_vqa_config_to_json(const mmc_vqa_config *c); /* every key; mmc_free it */

/* A model with fresh weights from seed. Takes tok (a word tokenizer for the texts) even on
 * failure; classes[n_classes] (UTF-8, distinct) are copied. cfg->max_len must be >= 3. */
mmc_vqa *mmc_vqa_create(const mmc_vqa_config *cfg, mmc_tokenizer *tok, const char *const *classes,
                        int n_classes, uint64_t seed, mmc_error *err);
/* A run folder written by mmc_vqa_train; weights NULL = model.safetensors. MMC_ERR_INPUT
 * naming the file when anything is missing or malformed. */
mmc_vqa *mmc_vqa_load(const char *run_dir, const char *weights, mmc_error *err);
void mmc_vqa_free(mmc_vqa *m);
const mmc_vqa_config *mmc_vqa_get_config(const mmc_vqa *m);
mmc_params *mmc_vqa_params(mmc_vqa *m);
const mmc_tokenizer *mmc_vqa_tokenizer(const mmc_vqa *m);
int mmc_vqa_n_classes(const mmc_vqa *m);
const char *mmc_vqa_class(const mmc_vqa *m, int i); /* NULL out of range */
int mmc_vqa_class_id(const mmc_vqa *m, const char *name); /* -1 if absent */

/* images (B, 3, S, S) as mmc_vqa_image_to_chw makes them (may be NULL for fusion "none");
 * target "video": clips (B, 3·T, S, S), each its T frames (3, S, S) in time order;
 * N texts, text n about image item_img[n] (in 0..B-1); ids, mask [N * T] from
 * mmc_tokenizer_encode_batch -> logits (N, classes). */
mmc_tensor *mmc_vqa_forward(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img,
                            const int32_t *ids, const int32_t *mask, int N, int T, int training);
/* query "audio": the same with mel (N, n_mels, Tm) log-mel clips (sample n's first len[n]
 * frames real, zero after) in the texts' place; query "none": mel and len NULL. */
mmc_tensor *mmc_vqa_forward_audio(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img,
                                  mmc_tensor *mel, const int *len, int N, int training);
/* (v/255 - 0.5) / 0.5 of an RGB image, resized bilinearly to image_size if needed. */
int mmc_vqa_image_to_chw(const mmc_vqa *m, const mmc_image *img, float *out, mmc_error *err);
/* One image, one text: the k most probable classes, best first (k' = min(k, classes)). */
int mmc_vqa_answer(mmc_vqa *m, const mmc_image *img, const char *text, int k, int *top,
                   float *prob, mmc_error *err);
/* The same for an image file, or (target "video") a video file: T frames uniformly over
 * its duration. A file that does not decode is MMC_ERR_INPUT naming it. */
int mmc_vqa_answer_file(mmc_vqa *m, const char *path, const char *text, int k, int *top,
                        float *prob, mmc_error *err);
/* Frames per input: video_frames for a video model, 1 for an image one. */
int mmc_vqa_frames(const mmc_vqa *m);

/* Accuracy on DIR/manifest-SPLIT.jsonl (every question; classify: the task's texts), by
 * question type (VQA: the manifest's "type"; classify label: the true label; match:
 * "match"/"mismatch"). An answer the run never saw in training counts as wrong. */
#define MMC_VQA_MAX_TYPES 32
typedef struct mmc_vqa_metrics {
    int n, correct;
    double accuracy;
    int n_types;
    struct { char name[32]; int n, correct; double accuracy; } types[MMC_VQA_MAX_TYPES];
} mmc_vqa_metrics;
/* max_images > 0: only the first max_images samples. */
int mmc_vqa_evaluate(mmc_vqa *m, const char *data_dir, const char *split, int max_images,
                     mmc_vqa_metrics *out, mmc_error *err);

/* Training (src/models/vqa_train.c): cross-entropy, AdamW (no decay on biases/norms),
 * linear warm-up and cosine decay over the run (over training time for --minutes), one
 * checkpoint per epoch through mmc_run_save (config.json with the vocabularies,
 * model.safetensors, optimizer.safetensors, trainer.json; schedule_step holds the training
 * milliseconds), model-best.safetensors after each validation (accuracy), metrics.jsonl.
 * Options and events as mmc_retrieval_train (VAL events carry val_score and val_line);
 * resume is bit-exact for a given thread count. Returns MMC_TRAIN_INTERRUPTED after saving
 * when *o->interrupt became non-zero. */
int mmc_vqa_train(const mmc_vqa_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err);

/* (declarations for fusion models / VQA go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_MODELS_VQA_H */

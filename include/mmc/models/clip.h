/*
 * mmc/models/clip.h — pretrained CLIP and Chinese-CLIP (src/models/clip*.c): load, forward,
 * embeddings, fine-tuning.
 */
#ifndef MMC_MODELS_CLIP_H
#define MMC_MODELS_CLIP_H

#include "../core.h"
#include "../data.h"
#include "../nn.h"
#include "retrieval.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- clip: pretrained CLIP / Chinese-CLIP (src/models/clip*.c) -- */
/* A Hugging Face CLIPModel or ChineseCLIPModel folder: config.json (every size is read
 * from it), model.safetensors or a sharded model.safetensors.index.json (F32, F16 or BF16
 * tensors, HF names), the tokenizer files and preprocessor_config.json. The forward passes
 * reproduce transformers' (see docs and tests/test_clip*.c for the measured errors):
 *   text, CLIP:   token + position embeddings, pre-LN blocks with a causal mask and the
 *                 padding mask, final_layer_norm, pooled at the end token (the argmax of
 *                 the ids when eos_token_id == 2, as the openai configs; else the first
 *                 eos_token_id), text_projection.
 *   text, Chinese-CLIP: BERT: word + position + token-type embeddings, LayerNorm, post-LN
 *                 blocks with the padding mask; pooled = [CLS] of the last layer, projected.
 *   vision:       patch conv (no bias), class embedding, position embeddings, pre_layrnorm,
 *                 pre-LN blocks, post_layernorm on the class token, visual_projection.
 *   logits_per_text = exp(logit_scale) * text_embeds . image_embedsᵀ.
 * The passes are built from the autograd ops (f32 storage can be fine-tuned later); with
 * compact storage the layer weights are decoded per layer into one shared f32 scratch
 * layer, so gradients to them are not available there.
 * An mmc_clip is not thread-safe: the embed calls use its own context. */
typedef struct mmc_clip mmc_clip;

/* Storage of the weights: AUTO keeps F16/BF16 checkpoints compact (encoder layers and the
 * token table stay in the file's dtype and are decoded when used); F32 converts everything
 * at load. An F32 checkpoint is always held as f32. */
enum { MMC_CLIP_STORAGE_AUTO = 0, MMC_CLIP_STORAGE_F32 = 1 };
typedef struct mmc_clip_opts {
    int storage; /* MMC_CLIP_STORAGE_* */
    /* 0: linear weights as stored (a folder written by `mmc quantize` holds them quantised);
     * MMC_QTYPE_Q8 / MMC_QTYPE_Q4 (mmc/ops.h): every encoder-layer Linear and both
     * projections quantised at load, their float copies freed — inference only, cosine
     * ≥ 0.999 (q8) with the float embeddings on the test fixtures. */
    int quantize;
} mmc_clip_opts;

/* Loads a model folder. NULL + MMC_ERR_INPUT naming the file (and the tensor or field) for
 * anything missing, malformed or mismatched; shard file names of an index must be plain
 * names inside dir. The tokenizer and preprocessor_config.json are loaded when present;
 * without them the string / image-file calls fail saying so. */
mmc_clip *mmc_clip_load(const char *dir, mmc_error *err);
mmc_clip *mmc_clip_load_ex(const char *dir, const mmc_clip_opts *opts, mmc_error *err);
void mmc_clip_free(mmc_clip *m);

int mmc_clip_dim(const mmc_clip *m);            /* projection_dim: embedding width */
float mmc_clip_logit_scale(const mmc_clip *m);  /* exp(logit_scale), unclamped */
int mmc_clip_is_chinese(const mmc_clip *m);     /* 1 for model_type "chinese_clip" */
int mmc_clip_context_length(const mmc_clip *m); /* tokens per text after truncation */
int mmc_clip_image_size(const mmc_clip *m);     /* vision_config.image_size */
int mmc_clip_text_layers(const mmc_clip *m);
int mmc_clip_vision_layers(const mmc_clip *m);
const mmc_tokenizer *mmc_clip_tokenizer(const mmc_clip *m); /* NULL without tokenizer files */
/* Bytes the weights take in memory: f32 tensors + (compact storage) the checkpoint bytes
 * kept; *compact (may be NULL) is 1 when layers are held in F16/BF16. */
size_t mmc_clip_memory_bytes(const mmc_clip *m, int *compact);

#define MMC_CLIP_MAX_LAYERS 64
/* Forward outputs: arena tensors of ctx (live until mmc_ctx_reset). hidden_states[0] is
 * the embedding output (vision: after pre_layrnorm), hidden_states[i] the output of layer
 * i, as transformers' output_hidden_states. */
typedef struct mmc_clip_text_out {
    int n_hidden;                                  /* layers + 1 */
    mmc_tensor *hidden_states[MMC_CLIP_MAX_LAYERS + 1]; /* (B, T, Dt) */
    mmc_tensor *last_hidden_state;                 /* (B, T, Dt); CLIP: after final_layer_norm */
    mmc_tensor *pooler_output;                     /* (B, Dt): the pooled token (Chinese-CLIP: [CLS]) */
    mmc_tensor *features;                          /* (B, P) projected, not normalised */
    mmc_tensor *embeds;                            /* (B, P) L2-normalised */
} mmc_clip_text_out;
typedef struct mmc_clip_vision_out {
    int n_hidden;
    mmc_tensor *hidden_states[MMC_CLIP_MAX_LAYERS + 1]; /* (B, 1 + N, Dv) */
    mmc_tensor *last_hidden_state;                 /* (B, 1 + N, Dv), before post_layernorm */
    mmc_tensor *pooler_output;                     /* (B, Dv) post_layernorm(class token) */
    mmc_tensor *features;                          /* (B, P) */
    mmc_tensor *embeds;                            /* (B, P) L2-normalised */
} mmc_clip_vision_out;

/* ids, mask, token_type_ids: (B, T) row-major; mask NULL = all 1; token_type_ids NULL = 0
 * (used by Chinese-CLIP only). T <= max_position_embeddings; ids < vocab_size. */
int mmc_clip_text_forward(mmc_ctx *ctx, mmc_clip *m, const int32_t *ids, const int32_t *mask,
                          const int32_t *token_type_ids, int B, int T, mmc_clip_text_out *out);
/* pixels (B, num_channels, image_size, image_size), preprocessed. */
int mmc_clip_vision_forward(mmc_ctx *ctx, mmc_clip *m, mmc_tensor *pixels, mmc_clip_vision_out *out);
/* text_embeds (Bt, P), image_embeds (Bi, P) -> logits_per_text (Bt, Bi); its transpose is
 * logits_per_image. */
mmc_tensor *mmc_clip_logits(mmc_ctx *ctx, mmc_clip *m, mmc_tensor *text_embeds, mmc_tensor *image_embeds);

/* Tokenises n texts as transformers does for this model (specials added, truncated to
 * mmc_clip_context_length, padded with the pad id to the longest): *ids and *mask are
 * mmc_malloc'd (n, *T). */
int mmc_clip_tokenize(const mmc_clip *m, const char *const *texts, int n, int32_t **ids,
                      int32_t **mask, int *T, mmc_error *err);
/* Raw inputs -> L2-normalised embeddings, n rows of mmc_clip_dim floats into out. Images
 * are decoded as RGB and preprocessed as preprocessor_config.json says. Batched inside. */
int mmc_clip_embed_texts(mmc_clip *m, const char *const *texts, int n, float *out, mmc_error *err);
int mmc_clip_embed_image_files(mmc_clip *m, const char *const *paths, int n, float *out, mmc_error *err);
int mmc_clip_embed_images(mmc_clip *m, const mmc_image *images, int n, float *out, mmc_error *err);
/* The two halves of embed_images: one image to the vision tower's input (3·S·S floats, as
 * preprocessor_config.json says; reads only the model's constant settings, so it may run on
 * another thread while the model embeds), and n such inputs to embeddings (out n × dim). */
int mmc_clip_image_to_chw(const mmc_clip *m, const mmc_image *img, float *chw, mmc_error *err);
int mmc_clip_embed_chw(mmc_clip *m, const float *chw, int n, float *out, mmc_error *err);

/* Fine-tuning (src/models/clip_train.c): `mmc train retrieval --init HF_FOLDER`. The model
 * is loaded with MMC_CLIP_STORAGE_F32 and every tensor is trained: symmetric InfoNCE with
 * the checkpoint's own logit_scale (clamped at log 100 after each step, as CLIP), AdamW
 * (weight decay on matrices only: not on biases, norms, embeddings or logit_scale), linear
 * warm-up then cosine decay to lr * min_lr_ratio, gradient-norm clipping. Batches come from
 * DIR/manifest-train.jsonl: each image decoded and preprocessed as the folder's
 * preprocessor_config.json says, one caption of the language drawn per image, tokenised
 * with the model's tokenizer and truncated to its context. Validation (recall on the val
 * split) after each epoch and at the end; metrics.jsonl, trainer.json and events as
 * mmc_retrieval_train. The run folder is a Hugging Face folder again: config.json and the
 * tokenizer / preprocessor files copied from the init folder, model.safetensors (F32, HF
 * names; model-best.safetensors too when validation ran), and the training loop's
 * optimizer.safetensors and trainer.json plus finetune.json (these settings and the init
 * folder). o->resume continues such a run folder bit-exactly (init_dir and cfg may then be
 * NULL: the run's own settings are used). */
typedef struct mmc_clip_train_config {
    char lang[4];        /* "en" (captions) or "zh" (captions_zh); "" = zh for Chinese-CLIP */
    int batch_size;      /* 32 (at most the training set) */
    float lr;            /* 1e-5 */
    float weight_decay;  /* 0.1 */
    float min_lr_ratio;  /* 0 */
    float grad_clip;     /* 1.0 (0: off) */
    int warmup_steps;    /* -1 (default): 10% of a step-bound run, at most 500 */
    int epochs;          /* when neither steps nor minutes is given: 1 */
} mmc_clip_train_config;
mmc_clip_train_config mmc_clip_train_config_default(void);
int mmc_clip_train(const char *init_dir, const mmc_clip_train_config *cfg,
                   const mmc_retrieval_train_opts *o, mmc_error *err);
/* The model's tensors (all MMC_PARAM; empty for compact storage, which cannot train). */
mmc_params *mmc_clip_params(mmc_clip *m);
/* Writes dir/`weights` (NULL = model.safetensors; F32, the checkpoint's tensor names) and,
 * unless dir is the folder the model came from, copies config.json, preprocessor_config.json
 * and the tokenizer files from it. Compact models are refused (MMC_ERR_USAGE). */
int mmc_clip_save(const mmc_clip *m, const char *dir, const char *weights, mmc_error *err);
/* Recall on DIR/manifest-SPLIT.jsonl in lang ("en"/"zh"; NULL or "" = the model's). */
int mmc_clip_evaluate(mmc_clip *m, const char *data_dir, const char *split, const char *lang,
                      int max_images, mmc_retrieval_metrics *out, mmc_error *err);

/* (declarations for clip go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_MODELS_CLIP_H */

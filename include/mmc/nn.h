/*
 * mmc/nn.h — modules (src/nn): the parameter registry, layers, attention, transformer
 * blocks, ResNet, ViT, recurrent nets, and fusion (early, late, joint, FiLM).
 */
#ifndef MMC_NN_H
#define MMC_NN_H

#include "core.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------- nn */
/* Modules (src/nn). A model's tensors live in one registry, mmc_params, which owns them
 * and names them in PyTorch's dotted convention ("encoder.layer1.0.conv1.weight") so our
 * safetensors checkpoints open in PyTorch and theirs open in mmc. A module is a plain
 * struct of borrowed pointers into the registry:
 *
 *   mmc_params P = {0};
 *   mmc_nn_linear fc;
 *   mmc_nn_linear_init(&fc, &P, "head.fc", 512, 10, 1, &rng, &err);  // registers head.fc.weight/.bias
 *   mmc_tensor *y = mmc_nn_linear_forward(ctx, &fc, x);
 *   ...; mmc_params_free(&P);                                     // frees every tensor
 *
 * Modules whose behaviour differs in training (dropout, batch norm) take `int training`
 * in their forward. Initialisation follows PyTorch's defaults, drawn from the given rng. */

enum { MMC_PARAM = 0, MMC_BUFFER = 1 }; /* buffers (running stats) are saved, not optimised */

typedef struct mmc_params {
    int n, cap;
    mmc_tensor **tensors; /* owned */
    char **names;         /* owned, dotted */
    uint8_t *kind;        /* MMC_PARAM or MMC_BUFFER */
    uint8_t *no_decay;    /* 1 for biases and norm weights (parameter groups) */
} mmc_params;

/* Creates a persistent zero tensor named prefix + "." + name (or name alone when prefix is
 * NULL or ""), registers it, and returns it (requires_grad set for MMC_PARAM). NULL with
 * err on duplicate name, bad shape or OOM. */
mmc_tensor *mmc_params_new(mmc_params *P, const char *prefix, const char *name, int kind, int ndim,
                           const int *shape, mmc_error *err);
void mmc_params_free(mmc_params *P);
mmc_tensor *mmc_params_find(const mmc_params *P, const char *name);
int64_t mmc_params_count(const mmc_params *P, int kind); /* number of scalars of that kind */
/* The trainable tensors (kind MMC_PARAM), in registration order, into out[] (size P->n);
 * returns how many. */
int mmc_params_trainable(const mmc_params *P, mmc_tensor **out);
void mmc_params_zero_grad(mmc_params *P);
/* Checkpoint I/O: every tensor (params and buffers) under its name. Load checks that
 * names and shapes match; strict = 1 also refuses extra or missing names. */
int mmc_params_save(const mmc_params *P, const char *path, const char *metadata_json, mmc_error *err);
int mmc_params_load(mmc_params *P, const char *path, int strict, mmc_error *err);
/* PyTorch's default init helpers (torch.nn.init): uniform(-b, b), normal, constant. */
void mmc_init_uniform(mmc_tensor *t, float bound, mmc_rng *rng);
void mmc_init_normal(mmc_tensor *t, float mean, float std, mmc_rng *rng);
void mmc_init_constant(mmc_tensor *t, float v);

/* -- nn: layers, blocks and encoders (src/nn/layers.c, attention.c, transformer.c, resnet.c, vit.c) -- */

/* Conventions for every module below:
 *   _init(m, P, prefix, <config>, rng, err) registers the module's tensors in P under
 *     prefix + "." + PyTorch's name (a torch state_dict maps 1:1), initialises them as
 *     PyTorch's default reset_parameters does (torchvision's rules for ResNet and ViT),
 *     drawing from rng, and returns MMC_OK or an error code with err filled. rng may be
 *     NULL: random tensors are then left at zero (e.g. when a checkpoint is loaded next);
 *     constant ones (norm scales, running_var) are still set.
 *   _forward(ctx, m, ...) builds the output from the ops, so autograd comes free; NULL with
 *     ctx->err set on failure. `training` selects dropout and batch statistics; dropout
 *     draws from the rng passed in (required only when training with p > 0).
 *   Modules hold borrowed pointers into P; P owns (and mmc_params_free frees) everything. */

/* Activations used by MLPs and transformer blocks. */
enum { MMC_ACT_NONE = 0, MMC_ACT_RELU, MMC_ACT_GELU, MMC_ACT_GELU_TANH, MMC_ACT_QUICK_GELU, MMC_ACT_TANH };
mmc_tensor *mmc_nn_activation(mmc_ctx *ctx, mmc_tensor *x, int act);

/* Linear: weight (out, in) and bias (out) ~ U(±1/sqrt(in)). x (..., in) -> (..., out). */
typedef struct mmc_nn_linear {
    int in, out;
    mmc_tensor *weight, *bias; /* bias NULL when built without */
} mmc_nn_linear;
int mmc_nn_linear_init(mmc_nn_linear *m, mmc_params *P, const char *prefix, int in, int out, int bias,
                       mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_linear_forward(mmc_ctx *ctx, mmc_nn_linear *m, mmc_tensor *x);

/* Conv2d, square kernel, groups 1: weight (out, in, k, k), bias (out), both
 * ~ U(±1/sqrt(in·k·k)). x (B, in, H, W) -> (B, out, OH, OW). */
typedef struct mmc_nn_conv2d {
    int in, out, kernel;
    mmc_conv2d_opts opts;
    mmc_tensor *weight, *bias;
} mmc_nn_conv2d;
int mmc_nn_conv2d_init(mmc_nn_conv2d *m, mmc_params *P, const char *prefix, int in, int out, int kernel,
                       int stride, int padding, int bias, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_conv2d_forward(mmc_ctx *ctx, mmc_nn_conv2d *m, mmc_tensor *x);

/* BatchNorm1d/2d (one module: x (B, C), (B, C, L) or (B, C, H, W), same shape out).
 * weight 1, bias 0, buffers running_mean 0, running_var 1, num_batches_tracked 0 (a 0-dim
 * f32 buffer here, int64 in PyTorch). Training normalises with batch statistics and
 * updates the running ones (momentum 0.1, unbiased variance) and the counter; eval uses
 * the running statistics. eps and momentum may be changed after init. */
typedef struct mmc_nn_batchnorm {
    int channels;
    float eps, momentum;
    mmc_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
} mmc_nn_batchnorm;
int mmc_nn_batchnorm_init(mmc_nn_batchnorm *m, mmc_params *P, const char *prefix, int channels,
                          mmc_error *err);
mmc_tensor *mmc_nn_batchnorm_forward(mmc_ctx *ctx, mmc_nn_batchnorm *m, mmc_tensor *x, int training);
/* The same followed by "+ res" (res like x, or NULL) and ReLU when relu is 1, fused into one
 * op (mmc_batch_norm_act): relu(bn(x) + res) is what a ResNet block ends with. */
mmc_tensor *mmc_nn_batchnorm_act_forward(mmc_ctx *ctx, mmc_nn_batchnorm *m, mmc_tensor *x, int training,
                                         mmc_tensor *res, int relu);

/* LayerNorm over the last axis: weight 1, bias 0. x (..., D) -> (..., D). */
typedef struct mmc_nn_layernorm {
    int dim;
    float eps; /* PyTorch's default 1e-5 */
    mmc_tensor *weight, *bias;
} mmc_nn_layernorm;
int mmc_nn_layernorm_init(mmc_nn_layernorm *m, mmc_params *P, const char *prefix, int dim, float eps,
                          mmc_error *err);
mmc_tensor *mmc_nn_layernorm_forward(mmc_ctx *ctx, mmc_nn_layernorm *m, mmc_tensor *x);

/* Embedding: weight (num, dim) ~ N(0, 1). ids has the shape shape[0..ndim-1] (ndim 1..4);
 * the output is (shape..., dim). An id outside 0..num-1 fails with MMC_ERR_INPUT. */
typedef struct mmc_nn_embedding {
    int num, dim;
    mmc_tensor *weight;
} mmc_nn_embedding;
int mmc_nn_embedding_init(mmc_nn_embedding *m, mmc_params *P, const char *prefix, int num, int dim,
                          mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_embedding_forward(mmc_ctx *ctx, mmc_nn_embedding *m, const int *ids, int ndim,
                                     const int *shape);

/* Dropout: zero with probability p and scale by 1/(1-p) in training; identity in eval. */
typedef struct mmc_nn_dropout {
    float p;
} mmc_nn_dropout;
mmc_tensor *mmc_nn_dropout_forward(mmc_ctx *ctx, mmc_nn_dropout *m, mmc_tensor *x, int training,
                                   mmc_rng *rng);

/* MLP over widths[0] -> widths[1] -> ... -> widths[n-1]: linear, then activation and
 * dropout after every layer but the last. Names follow nn.Sequential(Linear, act, Dropout,
 * Linear, ...): prefix.0, prefix.3, prefix.6, ... x (..., widths[0]) -> (..., widths[n-1]). */
#define MMC_MLP_MAX_LAYERS 8
typedef struct mmc_nn_mlp {
    int n_layers, act;
    float dropout;
    mmc_nn_linear layers[MMC_MLP_MAX_LAYERS];
} mmc_nn_mlp;
int mmc_nn_mlp_init(mmc_nn_mlp *m, mmc_params *P, const char *prefix, int n_widths, const int *widths,
                    int act, float dropout, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_mlp_forward(mmc_ctx *ctx, mmc_nn_mlp *m, mmc_tensor *x, int training, mmc_rng *rng);

/* Multi-head attention (src/nn/mha.c), self or cross, embed dim E, H heads.
 * Layouts: packed (separate = 0), as torch.nn.MultiheadAttention: in_proj_weight (3E, E)
 * xavier-uniform, in_proj_bias (3E) 0, out_proj.weight U(±1/sqrt(E)), out_proj.bias 0;
 * separate (= 1), as Hugging Face CLIP: q_proj, k_proj, v_proj, out_proj, each a Linear
 * with PyTorch's default init.
 * forward: x (B, Tq, E) queries; kv (B, Tk, E) keys/values, or NULL for self-attention.
 * causal: query i sees keys j <= i. key_mask: NULL or (B, Tk) bytes, 1 = attend, 0 = padding
 * (the opposite of PyTorch's key_padding_mask, where True = ignore). dropout applies to the
 * attention probabilities in training. -> (B, Tq, E). */
typedef struct mmc_nn_mha {
    int dim, heads, separate;
    float dropout;
    mmc_tensor *in_proj_weight, *in_proj_bias; /* packed layout */
    mmc_nn_linear q_proj, k_proj, v_proj;      /* separate layout */
    mmc_nn_linear out_proj;
    /* separate layout with q8 weights: q, k and v stacked into one (3E, E) product for
     * self-attention in inference (mmc_nn_mha_stack_quantized); NULL otherwise */
    mmc_tensor *qkv_weight, *qkv_bias;
} mmc_nn_mha;
/* With q_proj, k_proj and v_proj quantised q8 (E a multiple of 64): registers prefix.qkv_weight
 * (its float data freed) and prefix.qkv_bias (buffers of P) holding them stacked, so that
 * self-attention without gradients does one product. MMC_OK and nothing done otherwise. */
int mmc_nn_mha_stack_quantized(mmc_nn_mha *m, mmc_params *P, const char *prefix, mmc_error *err);
int mmc_nn_mha_init(mmc_nn_mha *m, mmc_params *P, const char *prefix, int dim, int heads, int separate,
                    float dropout, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_mha_forward(mmc_ctx *ctx, mmc_nn_mha *m, mmc_tensor *x, mmc_tensor *kv, int causal,
                               const uint8_t *key_mask, int training, mmc_rng *rng);

/* Transformer blocks (src/nn/transformer.c), as torch.nn.TransformerEncoderLayer /
 * TransformerDecoderLayer with batch_first=True:
 *   post-LN: x = norm1(x + sa(x));  [x = norm2(x + ca(x, mem));]  x = normN(x + ff(x))
 *   pre-LN:  x = x + sa(norm1(x));  [x = x + ca(norm2(x), mem);]  x = x + ff(normN(x))
 * with ff(x) = dropout(linear2(dropout(act(linear1(x))))) and dropout after each attention.
 * Encoder names (cfg.names):
 *   MMC_NAMES_TORCH  self_attn.in_proj_weight, linear1, linear2, norm1, norm2
 *   MMC_NAMES_VIT    torchvision's ViT EncoderBlock: ln_1, self_attention.*, mlp.0, mlp.3,
 *                    ln_2 (and its init: MLP weights xavier-uniform, biases N(0, 1e-6))
 *   MMC_NAMES_CLIP   Hugging Face CLIPEncoderLayer: layer_norm1, self_attn.q_proj/k_proj/
 *                    v_proj/out_proj, mlp.fc1, mlp.fc2, layer_norm2
 * The decoder has torch names only: self_attn, multihead_attn, linear1, linear2, norm1..3. */
enum { MMC_NAMES_TORCH = 0, MMC_NAMES_VIT = 1, MMC_NAMES_CLIP = 2 };
typedef struct mmc_nn_block_cfg {
    int dim, heads, mlp_dim;
    int act;        /* MMC_ACT_* */
    int norm_first; /* 1: pre-LN */
    int names;      /* MMC_NAMES_* */
    float dropout;  /* residual, feed-forward and attention-probability dropout */
    float eps;      /* layer norm */
} mmc_nn_block_cfg;
/* PyTorch's defaults: mlp_dim 2048, relu, post-LN, dropout 0.1, eps 1e-5, torch names. */
mmc_nn_block_cfg mmc_nn_block_defaults(int dim, int heads);

typedef struct mmc_nn_encoder_layer {
    mmc_nn_block_cfg cfg;
    mmc_nn_mha self_attn;
    mmc_nn_linear linear1, linear2;
    mmc_nn_layernorm norm1, norm2;
} mmc_nn_encoder_layer;
int mmc_nn_encoder_layer_init(mmc_nn_encoder_layer *m, mmc_params *P, const char *prefix,
                              const mmc_nn_block_cfg *cfg, mmc_rng *rng, mmc_error *err);
/* x (B, T, E), key_mask NULL or (B, T) -> (B, T, E) */
mmc_tensor *mmc_nn_encoder_layer_forward(mmc_ctx *ctx, mmc_nn_encoder_layer *m, mmc_tensor *x,
                                         int causal, const uint8_t *key_mask, int training,
                                         mmc_rng *rng);

typedef struct mmc_nn_decoder_layer {
    mmc_nn_block_cfg cfg;
    mmc_nn_mha self_attn, cross_attn; /* cross_attn is torch's "multihead_attn" */
    mmc_nn_linear linear1, linear2;
    mmc_nn_layernorm norm1, norm2, norm3;
} mmc_nn_decoder_layer;
int mmc_nn_decoder_layer_init(mmc_nn_decoder_layer *m, mmc_params *P, const char *prefix,
                              const mmc_nn_block_cfg *cfg, mmc_rng *rng, mmc_error *err);
/* x (B, T, E) targets, mem (B, S, E); causal applies to the self-attention; tgt_mask NULL
 * or (B, T), mem_mask NULL or (B, S) (1 = attend) -> (B, T, E) */
mmc_tensor *mmc_nn_decoder_layer_forward(mmc_ctx *ctx, mmc_nn_decoder_layer *m, mmc_tensor *x,
                                         mmc_tensor *mem, int causal, const uint8_t *tgt_mask,
                                         const uint8_t *mem_mask, int training, mmc_rng *rng);

/* ResNet (src/nn/resnet.c), torchvision's layout and names: conv1, bn1, layer1.0.conv1,
 * layer1.0.bn1, ..., layerN.0.downsample.0/1, fc. Basic blocks (two 3×3 convs) or
 * bottlenecks (1×1, 3×3 with the stride, 1×1 to 4× the width). Convs have no bias and are
 * initialised kaiming-normal (fan_out, relu) as torchvision does; BN weight 1, bias 0; fc
 * keeps Linear's default init. Stems: MMC_STEM_IMAGENET = 7×7 stride-2 conv + 3×3 stride-2
 * max pool (torchvision); MMC_STEM_SMALL = 3×3 stride-1 conv, no pool (32–64 px images). */
enum { MMC_STEM_IMAGENET = 0, MMC_STEM_SMALL = 1 };
#define MMC_RESNET_MAX_BLOCKS 64
typedef struct mmc_nn_resnet_cfg {
    int bottleneck;   /* 0: basic blocks, 1: bottlenecks */
    int layers[4];    /* blocks per stage: 2-2-2-2 (18), 3-4-6-3 (34, or 50 with bottlenecks) */
    int widths[4];    /* 64-128-256-512 in torchvision */
    int in_channels;  /* 3 */
    int stem;         /* MMC_STEM_* */
    int num_classes;  /* > 0: a final Linear "fc"; 0: the forward returns pooled features */
} mmc_nn_resnet_cfg;
/* The torchvision layouts (depth 18, 34 or 50) with torchvision's widths, ImageNet stem and
 * 1000 classes; change the fields after. Unknown depth: layers all 0 (init fails). */
mmc_nn_resnet_cfg mmc_nn_resnet_layout(int depth);

typedef struct mmc_nn_resnet_block {
    int stride, bottleneck, has_downsample;
    mmc_nn_conv2d conv1, conv2, conv3; /* conv3/bn3 for bottlenecks only */
    mmc_nn_batchnorm bn1, bn2, bn3;
    mmc_nn_conv2d down_conv;           /* downsample.0 */
    mmc_nn_batchnorm down_bn;          /* downsample.1 */
} mmc_nn_resnet_block;
/* One block: in_ch -> width (basic) or 4·width (bottleneck), stride on the 3×3 conv; the
 * downsample branch exists when the stride or channel count changes.
 * x (B, in_ch, H, W) -> (B, out_ch, H/stride, W/stride). */
int mmc_nn_resnet_block_init(mmc_nn_resnet_block *m, mmc_params *P, const char *prefix, int bottleneck,
                             int in_ch, int width, int stride, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_resnet_block_forward(mmc_ctx *ctx, mmc_nn_resnet_block *m, mmc_tensor *x, int training);

typedef struct mmc_nn_resnet {
    mmc_nn_resnet_cfg cfg;
    int out_dim; /* features after pooling (before fc) */
    mmc_nn_conv2d conv1;
    mmc_nn_batchnorm bn1;
    int n_blocks;
    mmc_nn_resnet_block blocks[MMC_RESNET_MAX_BLOCKS];
    mmc_nn_linear fc;
} mmc_nn_resnet;
int mmc_nn_resnet_init(mmc_nn_resnet *m, mmc_params *P, const char *prefix, const mmc_nn_resnet_cfg *cfg,
                       mmc_rng *rng, mmc_error *err);
/* x (B, in_channels, H, W) -> (B, num_classes), or (B, out_dim) without fc */
mmc_tensor *mmc_nn_resnet_forward(mmc_ctx *ctx, mmc_nn_resnet *m, mmc_tensor *x, int training);

/* Vision transformer (src/nn/vit.c), torchvision's VisionTransformer names and init:
 * conv_proj (patch embedding, trunc-normal std sqrt(1/fan_in), bias 0), class_token
 * (1, 1, D) zeros, encoder.pos_embedding (1, 1 + N, D) ~ N(0, 0.02), encoder.layers.
 * encoder_layer_i.* (pre-LN blocks, MMC_NAMES_VIT), encoder.ln, heads.head (zeros). */
#define MMC_VIT_MAX_DEPTH 48
typedef struct mmc_nn_vit_cfg {
    int image_size, patch_size, in_channels;
    int dim, depth, heads, mlp_dim;
    int act;          /* torchvision: MMC_ACT_GELU */
    int num_classes;  /* > 0: heads.head; 0: the forward returns the class-token features */
    float dropout;    /* after the position embedding, in every block and attention */
    float eps;        /* layer norm; torchvision uses 1e-6 */
} mmc_nn_vit_cfg;
typedef struct mmc_nn_vit {
    mmc_nn_vit_cfg cfg;
    int n_patches; /* (image_size / patch_size)^2 */
    mmc_nn_conv2d conv_proj;
    mmc_tensor *class_token, *pos_embedding;
    mmc_nn_encoder_layer layers[MMC_VIT_MAX_DEPTH];
    mmc_nn_layernorm ln;
    mmc_nn_linear head;
} mmc_nn_vit;
int mmc_nn_vit_init(mmc_nn_vit *m, mmc_params *P, const char *prefix, const mmc_nn_vit_cfg *cfg,
                    mmc_rng *rng, mmc_error *err);
/* x (B, C, S, S) -> every token after the final norm (B, 1 + N, D) */
mmc_tensor *mmc_nn_vit_forward_tokens(mmc_ctx *ctx, mmc_nn_vit *m, mmc_tensor *x, int training,
                                      mmc_rng *rng);
/* x (B, C, S, S) -> (B, num_classes), or the class token's features (B, D) without a head */
mmc_tensor *mmc_nn_vit_forward(mmc_ctx *ctx, mmc_nn_vit *m, mmc_tensor *x, int training, mmc_rng *rng);

/* (declarations for nn layers go above this line) */

/* -- nn: recurrent (src/nn/rnn.c; the fused layers they run are in mmc/ops.h) -- */

/* Modules: multi-layer, batch-first nn.GRU / nn.LSTM. Parameters are registered under
 * prefix with PyTorch's names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then
 * the same with _reverse for the backward direction, layer by layer) and initialised as
 * PyTorch does: U(-1/sqrt(H), 1/sqrt(H)) for every tensor, drawn in registration order. */
#define MMC_NN_RNN_MAX_LAYERS 8

typedef struct mmc_nn_rnn_opts {
    int num_layers;    /* 1..MMC_NN_RNN_MAX_LAYERS */
    int bidirectional; /* 0 or 1 */
    int bias;          /* 1: b_ih and b_hh (PyTorch's default) */
    float dropout;     /* on the outputs of every layer but the last, in training; [0, 1) */
} mmc_nn_rnn_opts;
mmc_nn_rnn_opts mmc_nn_rnn_defaults(void); /* 1 layer, one direction, bias, no dropout */

typedef struct mmc_nn_rnn {
    int is_lstm, input_size, hidden_size, num_layers, dirs;
    float dropout;
    mmc_rnn_weights w[MMC_NN_RNN_MAX_LAYERS][2]; /* [layer][direction] (1: reverse) */
} mmc_nn_rnn;
typedef mmc_nn_rnn mmc_nn_gru;
typedef mmc_nn_rnn mmc_nn_lstm;

/* Registers and initialises the parameters; MMC_OK or an error (bad sizes, duplicate names). */
int mmc_nn_gru_init(mmc_nn_gru *m, mmc_params *P, const char *prefix, int input_size,
                    int hidden_size, mmc_nn_rnn_opts o, mmc_rng *rng, mmc_error *err);
int mmc_nn_lstm_init(mmc_nn_lstm *m, mmc_params *P, const char *prefix, int input_size,
                     int hidden_size, mmc_nn_rnn_opts o, mmc_rng *rng, mmc_error *err);

/* x (B, T, IN) -> out (B, T, dirs*H) (forward half first, as PyTorch); h0, c0 and the
 * final states *h_n, *c_n are (layers*dirs, B, H), indexed layer*dirs + direction; h0/c0
 * may be NULL (zeros), h_n/c_n may be NULL (not wanted). lengths as in mmc_gru_layer.
 * rng feeds the dropout between layers (needed only when training with dropout > 0). */
mmc_tensor *mmc_nn_gru_forward(mmc_ctx *ctx, const mmc_nn_gru *m, mmc_tensor *x, mmc_tensor *h0,
                               const int *lengths, int training, mmc_rng *rng, mmc_tensor **h_n);
mmc_tensor *mmc_nn_lstm_forward(mmc_ctx *ctx, const mmc_nn_lstm *m, mmc_tensor *x, mmc_tensor *h0,
                                mmc_tensor *c0, const int *lengths, int training, mmc_rng *rng,
                                mmc_tensor **h_n, mmc_tensor **c_n);

/* Single steps for decoding (greedy, beam search), as nn.GRUCell / nn.LSTMCell with the
 * weights w (e.g. &lstm.w[0][0] of a one-layer module): x (B, IN); h, c (B, H) or NULL for
 * zeros. gru_step returns h' (B, H); lstm_step returns MMC_OK and writes *h_out, *c_out, or
 * an error status (in ctx->err). */
mmc_tensor *mmc_nn_gru_step(mmc_ctx *ctx, const mmc_rnn_weights *w, mmc_tensor *x, mmc_tensor *h);
int mmc_nn_lstm_step(mmc_ctx *ctx, const mmc_rnn_weights *w, mmc_tensor *x, mmc_tensor *h,
                     mmc_tensor *c, mmc_tensor **h_out, mmc_tensor **c_out);

/* (declarations for recurrent nets go above this line) */

/* -- nn: fusion (src/nn/fusion.c, joint.c) -- */
/* Combining modalities (DESIGN.md §1). Early fusion mixes them at the input: text features
 * tiled as extra image channels (mmc_tile_concat), or image patches and words in one token
 * sequence (mmc_nn_modality_concat, mmc_nn_joint). Late fusion combines one feature vector
 * per modality at the end (mmc_nn_fusion: concat, sum, product; bilinear pooling, full or
 * low-rank) or their decisions (mmc_nn_logit_average). Hybrid fusion conditions a CNN on
 * the text at several depths (mmc_nn_film, one per stage) and adds a late concat.
 * Ops first (fused, each with its own backward), then the modules built on them. */

/* Text as image channels: x (B, C, H, W), t (B, D) -> (B, C + D, H, W): channels 0..C-1 are
 * x, channel C + d is t[b, d] at every position. t's gradient is the output gradient of its
 * channel summed over H and W. */
mmc_tensor *mmc_tile_concat(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *t);
/* FiLM: x (B, C, ...) with 2 to 5 dims, gamma (B, C), beta (B, C) or NULL ->
 * out[b, c, ...] = gamma[b, c] * x[b, c, ...] + beta[b, c] (the shape of x). */
mmc_tensor *mmc_film(mmc_ctx *ctx, mmc_tensor *x, mmc_tensor *gamma, mmc_tensor *beta);
/* Full bilinear form, as torch.nn.functional.bilinear: a (B, Da), b (B, Db), w (O, Da, Db),
 * bias (O) or NULL -> y (B, O), y[n, o] = sum_ij a[n, i] w[o, i, j] b[n, j] + bias[o].
 * Three GEMMs in all (one forward, two backward); memory B·O·Da floats. */
mmc_tensor *mmc_bilinear(mmc_ctx *ctx, mmc_tensor *a, mmc_tensor *b, mmc_tensor *w, mmc_tensor *bias);

#define MMC_FUSION_MAX_INPUTS 8 /* modalities in one modality concat / logit average */

/* Late fusion of two feature vectors a (..., Da), b (..., Db) (the leading dims equal).
 * dim > 0: each first goes through its own Linear, proj_a (Da -> dim) and proj_b
 * (Db -> dim), then the activation act; dim = 0: a and b are used as they are (sum and
 * product then need Da == Db). mode:
 *   MMC_FUSE_CONCAT   [a', b']   -> (..., Da' + Db')
 *   MMC_FUSE_SUM      a' + b'    -> (..., dim or Da)
 *   MMC_FUSE_PRODUCT  a' ⊙ b'    -> (..., dim or Da)
 * out_dim is the fused width. */
enum { MMC_FUSE_CONCAT = 0, MMC_FUSE_SUM = 1, MMC_FUSE_PRODUCT = 2 };
typedef struct mmc_nn_fusion {
    int mode, dim_a, dim_b, dim, act, out_dim;
    mmc_nn_linear proj_a, proj_b; /* registered when dim > 0 */
} mmc_nn_fusion;
int mmc_nn_fusion_init(mmc_nn_fusion *m, mmc_params *P, const char *prefix, int mode, int dim_a, int dim_b,
                       int dim, int act, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_fusion_forward(mmc_ctx *ctx, mmc_nn_fusion *m, mmc_tensor *a, mmc_tensor *b);

/* torch.nn.Bilinear: weight (out, in_a, in_b), bias (out), both U(±1/sqrt(in_a)).
 * a (B, in_a), b (B, in_b) -> (B, out). */
typedef struct mmc_nn_bilinear {
    int in_a, in_b, out;
    mmc_tensor *weight, *bias; /* bias NULL when built without */
} mmc_nn_bilinear;
int mmc_nn_bilinear_init(mmc_nn_bilinear *m, mmc_params *P, const char *prefix, int in_a, int in_b, int out,
                         int bias, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_bilinear_forward(mmc_ctx *ctx, mmc_nn_bilinear *m, mmc_tensor *a, mmc_tensor *b);

/* Low-rank (factorised) bilinear pooling, as MLB (Kim et al. 2017): the full bilinear
 * weight W_o = sum_r U_a[r]ᵀ U_b[r] P[o, r] in factored form,
 *   h = act(proj_a(a)) ⊙ act(proj_b(b))   (..., rank),  dropout on h in training,
 *   out = proj_out(h)                      (..., out)
 * with proj_a, proj_b, proj_out Linears (PyTorch's default init). act: MLB uses tanh. */
typedef struct mmc_nn_lowrank_bilinear {
    int in_a, in_b, rank, out, act;
    float dropout;
    mmc_nn_linear proj_a, proj_b, proj_out;
} mmc_nn_lowrank_bilinear;
int mmc_nn_lowrank_bilinear_init(mmc_nn_lowrank_bilinear *m, mmc_params *P, const char *prefix, int in_a,
                                 int in_b, int rank, int out, int act, float dropout, mmc_rng *rng,
                                 mmc_error *err);
mmc_tensor *mmc_nn_lowrank_bilinear_forward(mmc_ctx *ctx, mmc_nn_lowrank_bilinear *m, mmc_tensor *a,
                                            mmc_tensor *b, int training, mmc_rng *rng);

/* Decision-level fusion: n classifiers' logits (each of the same shape, e.g. (B, C)) ->
 * sum_k softmax(weight)_k · logits_k, the same shape. weight (n) is learnable, initialised
 * to 0 (a plain average until training moves it). */
typedef struct mmc_nn_logit_average {
    int n;
    mmc_tensor *weight;
} mmc_nn_logit_average;
int mmc_nn_logit_average_init(mmc_nn_logit_average *m, mmc_params *P, const char *prefix, int n,
                              mmc_error *err);
mmc_tensor *mmc_nn_logit_average_forward(mmc_ctx *ctx, mmc_nn_logit_average *m, mmc_tensor *const *logits,
                                         int n);

/* FiLM layer (Perez et al. 2018): gamma and beta, Linears cond_dim -> channels, turn a
 * conditioning vector (e.g. the question's features) into a per-channel affine map of a
 * CNN feature map. delta_gamma = 1 predicts 1 + gamma (the paper's choice: at init the
 * layer is close to the identity, not close to zero). One module per conditioned stage.
 * x (B, channels, H, W) (any 2..5-dim (B, channels, ...)), cond (B, cond_dim) -> x's shape. */
typedef struct mmc_nn_film {
    int cond_dim, channels, delta_gamma;
    mmc_nn_linear gamma, beta;
} mmc_nn_film;
int mmc_nn_film_init(mmc_nn_film *m, mmc_params *P, const char *prefix, int cond_dim, int channels,
                     int delta_gamma, mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_film_forward(mmc_ctx *ctx, mmc_nn_film *m, mmc_tensor *x, mmc_tensor *cond);

/* Several modalities' token sequences in one: seqs[k] (B, T_k, D) -> (B, sum T_k, D) along
 * the token axis, with row k of token_type_embeddings (n, D) (an nn.Embedding, N(0, 1))
 * added to every token of seqs[k] so the encoder can tell the modalities apart. */
typedef struct mmc_nn_modality_concat {
    int n, dim;
    mmc_nn_embedding token_type; /* "token_type_embeddings" */
} mmc_nn_modality_concat;
int mmc_nn_modality_concat_init(mmc_nn_modality_concat *m, mmc_params *P, const char *prefix, int n, int dim,
                                mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_modality_concat_forward(mmc_ctx *ctx, mmc_nn_modality_concat *m, mmc_tensor *const *seqs,
                                           int n);

/* Joint representation, ViLT-style (src/nn/joint.c): one transformer encoder over
 *   [CLS; image patch tokens; text tokens]                       (B, 1 + N + T, D)
 * image: patch embedding (conv, kernel = stride = patch, as the ViT) + position embedding
 *   over [CLS; patches]; text: word + position embeddings; then token type 0 is added to
 *   CLS and the patches, type 1 to the words (mmc_nn_modality_concat); dropout; depth
 *   encoder layers (torch names, pre-LN by default) with the text padding as key padding;
 *   a final LayerNorm. The output is the CLS token (B, D).
 * Names: image_embeddings.cls_token (1, 1, D), image_embeddings.position_embeddings
 * (1, 1 + N, D) (both N(0, 0.02), as ViT), image_embeddings.patch_embed.{weight,bias},
 * text_embeddings.word_embeddings.weight (V, D), text_embeddings.position_embeddings.weight
 * (max_text_len, D) (nn.Embedding, N(0, 1)), token_type_embeddings.weight (2, D),
 * encoder.layers.<i>.* (nn.TransformerEncoderLayer), norm.*. */
#define MMC_JOINT_MAX_DEPTH 24
typedef struct mmc_nn_joint_cfg {
    int image_size, patch_size, in_channels;
    int vocab_size, max_text_len;
    int dim, depth, heads, mlp_dim;
    int act;        /* MMC_ACT_GELU in ViLT */
    int norm_first; /* 1: pre-LN (ViLT) */
    float dropout;  /* embeddings, blocks and attention */
    float eps;      /* layer norm */
} mmc_nn_joint_cfg;
/* A small default: pre-LN, GELU, mlp_dim 4·dim, dropout 0.1, eps 1e-5; the caller sets the
 * sizes. */
mmc_nn_joint_cfg mmc_nn_joint_defaults(int image_size, int patch_size, int vocab_size, int max_text_len,
                                       int dim, int depth, int heads);
typedef struct mmc_nn_joint {
    mmc_nn_joint_cfg cfg;
    int n_patches; /* (image_size / patch_size)^2 */
    mmc_nn_conv2d patch_embed;
    mmc_tensor *cls_token, *image_pos;
    mmc_nn_embedding word_embeddings, text_pos;
    mmc_nn_modality_concat types;
    mmc_nn_encoder_layer layers[MMC_JOINT_MAX_DEPTH];
    mmc_nn_layernorm norm;
} mmc_nn_joint;
int mmc_nn_joint_init(mmc_nn_joint *m, mmc_params *P, const char *prefix, const mmc_nn_joint_cfg *cfg,
                      mmc_rng *rng, mmc_error *err);
/* image (B, C, S, S); ids[B * T] token ids (each in 0..V-1), T in 1..max_text_len;
 * text_mask NULL (no padding) or [B * T] with 1 = token, 0 = padding (padding is never
 * attended to; CLS and the patches always are). Returns every token after the final norm
 * (B, 1 + N + T, D). */
mmc_tensor *mmc_nn_joint_forward_tokens(mmc_ctx *ctx, mmc_nn_joint *m, mmc_tensor *image, const int *ids,
                                        const uint8_t *text_mask, int T, int training, mmc_rng *rng);
/* The same, returning the CLS token (B, D): the joint representation. */
mmc_tensor *mmc_nn_joint_forward(mmc_ctx *ctx, mmc_nn_joint *m, mmc_tensor *image, const int *ids,
                                 const uint8_t *text_mask, int T, int training, mmc_rng *rng);

/* Question-guided attention over the cells of feature maps (late fusion, stacked-attention
 * style): cells (B, L, D) of B images (e.g. a CNN's final map, one row per position, with
 * its coordinates), q (N, Dq) queries, img[N] the image (0..B-1) each query is about.
 * Glimpse k weighs the L cells of the query's image by softmax_l(s[n, k, l]) and reads
 * their weighted sum (D). Scores:
 *   MMC_CELL_ATT_ADDITIVE  s = glimpses(tanh(cells(c_l) + question(q_n)))[k]
 *                          (cells: Linear D -> A, question: Dq -> A, glimpses: A -> K)
 *   MMC_CELL_ATT_DOT       s = <cells(c_l), question(q_n)[k·A .. k·A + A)> / sqrt(A)
 *                          (cells: Linear D -> A, question: Dq -> K·A); with max_score the
 *                          output also gets max_l s[n, k, l] per glimpse: "does any cell
 *                          match" (existence) is then one number, not a property of a
 *                          softmax average.
 * The cell projection runs once per image. -> (N, K·D) glimpses, then (N, K) max scores
 * when max_score: (N, K·D + K). Names: cells.{weight,bias}, question.{weight,bias},
 * glimpses.{weight,bias} (additive only). */
enum { MMC_CELL_ATT_ADDITIVE = 1, MMC_CELL_ATT_DOT = 2 };
typedef struct mmc_nn_cell_attention {
    int mode, cell_dim, query_dim, att_dim, glimpses, max_score;
    mmc_nn_linear cells, question, out;
} mmc_nn_cell_attention;
int mmc_nn_cell_attention_init(mmc_nn_cell_attention *m, mmc_params *P, const char *prefix, int mode,
                               int cell_dim, int query_dim, int att_dim, int glimpses, int max_score,
                               mmc_rng *rng, mmc_error *err);
mmc_tensor *mmc_nn_cell_attention_forward(mmc_ctx *ctx, mmc_nn_cell_attention *m, mmc_tensor *cells,
                                          mmc_tensor *q, const int *img);

/* (declarations for fusion go above this line) */

#ifdef __cplusplus
}
#endif
#endif /* MMC_NN_H */

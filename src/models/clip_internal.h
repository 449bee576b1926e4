/* clip_internal.h — shared by src/models/clip*.c: the parsed config, the weight store over
 * one or many safetensors files, the name bindings between our modules and the checkpoint,
 * and the model struct. Not installed. */
#ifndef MMC_CLIP_INTERNAL_H
#define MMC_CLIP_INTERNAL_H

#include "internal.h"
#include "mmc.h"

/* ------------------------------------------------------------------ config */

typedef struct clip_text_cfg {
    int hidden, layers, heads, inter, act;
    int max_pos, vocab;
    int type_vocab; /* BERT only */
    float eps;
    int eos_id;     /* -1 when null */
    int has_eos;
} clip_text_cfg;

typedef struct clip_vision_cfg {
    int hidden, layers, heads, inter, act;
    int image_size, patch, channels;
    float eps;
} clip_vision_cfg;

typedef struct clip_cfg {
    int chinese; /* model_type "chinese_clip": the text tower is BERT */
    int proj_dim;
    clip_text_cfg text;
    clip_vision_cfg vision;
} clip_cfg;

/* DIR/config.json -> c. MMC_ERR_INPUT naming the file and field. */
int clip_config_read(const char *dir, clip_cfg *c, mmc_error *err);
/* DIR/preprocessor_config.json -> p (starting from CLIP's defaults for image_size).
 * Returns MMC_OK, or MMC_ERR_INPUT; *present = 0 (and MMC_OK) when the file is absent. */
int clip_preprocessor_read(const char *dir, int image_size, mmc_image_preprocess *p, int *present,
                           mmc_error *err);
/* model_max_length of DIR/tokenizer_config.json when it is a sane number (< 1e6), else 0. */
int clip_tokenizer_max_length(const char *dir);

/* ------------------------------------------------------------------ store */

/* The checkpoint: model.safetensors, or the shards named by model.safetensors.index.json
 * (every weight_map entry checked to be in its shard; a name in two shards is refused). */
typedef struct clip_store {
    int n;
    mmc_safetensors *files;
    size_t bytes; /* sum of file sizes */
    int qtype;    /* MMC_QTYPE_* to quantise float linear weights to as they are read, or 0 */
} clip_store;

int clip_store_open(clip_store *s, const char *dir, mmc_error *err);
void clip_store_close(clip_store *s);
/* The entry and its file, or NULL. */
const mmc_st_entry *clip_store_find(const clip_store *s, const char *name, const mmc_safetensors **file);

/* One of our f32 tensors and the checkpoint tensor it is read from. */
typedef struct clip_bind {
    mmc_tensor *t;
    char *name; /* checkpoint name, owned */
    int linear; /* a Linear's (out, in) weight: may be stored or held quantised */
} clip_bind;
typedef struct clip_binds {
    clip_bind *b;
    int n, cap;
} clip_binds;

/* Binds P's tensors registered from index `from` on: each name must start with
 * mmc_prefix + "."; the checkpoint name is hf_prefix + "." + map(rest) (map NULL: rest). */
typedef const char *(*clip_name_map)(const char *rest);
int clip_binds_add_params(clip_binds *bs, const mmc_params *P, int from, const char *mmc_prefix,
                          const char *hf_prefix, clip_name_map map, mmc_error *err);
int clip_binds_add(clip_binds *bs, mmc_tensor *t, const char *name, mmc_error *err);
void clip_binds_free(clip_binds *bs);
/* Checks that b's tensor exists in the store with a float dtype (F32/F16/BF16) and b->t's
 * shape (a 0-dim tensor also matches shape (1)); *half = 1 for F16/BF16. A linear weight may
 * also be stored quantised (docs/formats.md): I8 (out, in) for q8 or U8 (out, ceil(in/2))
 * for q4, with NAME_scale F32 (out, groups) beside it. */
int clip_store_check(const clip_store *s, const clip_bind *b, int *half, mmc_error *err);
/* 1 for the weights q4 makes 4-bit: the MLP's (fc1, fc2). */
int clip_bind_is_mlp(const clip_bind *b);
/* Decodes b's tensor into b->t->data (after clip_store_check). A quantised one (stored so,
 * or float with s->qtype set and b->linear) becomes b->t's quantised copy and b->t's float
 * data is freed. */
int clip_store_read(const clip_store *s, const clip_bind *b, mmc_error *err);
/* Rows ids[0..n) of the (V, D) checkpoint table `name` into out[n * D] (ids in range). */
int clip_store_rows(const clip_store *s, const char *name, const int *ids, int n, int D, float *out,
                    mmc_error *err);

/* ------------------------------------------------------------------ model */

typedef struct clip_layers {
    int n;
    mmc_nn_encoder_layer layer[MMC_CLIP_MAX_LAYERS]; /* compact: all share the scratch tensors */
    clip_binds binds[MMC_CLIP_MAX_LAYERS];          /* layer i's tensors and checkpoint names */
} clip_layers;

struct mmc_clip {
    clip_cfg cfg;
    char *dir;
    int compact;          /* layers and the token table decoded on use from `store` */
    int quantized;        /* some linear weights are held int8/int4 only: inference only */
    clip_store store;     /* kept open only when compact */
    mmc_params P;         /* resident f32 tensors */
    mmc_params scratch;   /* compact: one text and one vision layer */
    clip_binds resident;  /* P's bindings */

    /* text, CLIP */
    mmc_tensor *tok_emb;  /* (V, Dt); NULL when compact: rows come from the store */
    char tok_emb_name[96];
    mmc_tensor *pos_emb;  /* (max_pos, Dt) */
    mmc_nn_layernorm final_ln;
    /* text, BERT */
    mmc_tensor *type_emb; /* (type_vocab, Dt) */
    mmc_nn_layernorm emb_ln;
    clip_layers text;
    mmc_nn_linear text_proj;

    /* vision */
    mmc_nn_conv2d patch;  /* (Dv, C, p, p), no bias */
    mmc_tensor *class_emb, *vpos_emb; /* (Dv), (1 + N, Dv) */
    mmc_nn_layernorm pre_ln, post_ln;
    clip_layers vision;
    mmc_nn_linear vis_proj;

    mmc_tensor *logit_scale;

    mmc_tokenizer *tok;   /* NULL without tokenizer files */
    int context;          /* tokens per text after truncation */
    int have_pre;
    mmc_image_preprocess pre;
    mmc_ctx *ctx;         /* for the embed calls */
};

/* Makes layer i of a tower current (compact: decodes its weights into the scratch layer). */
int clip_layer_fetch(mmc_clip *m, clip_layers *L, int i, mmc_error *err);

#endif

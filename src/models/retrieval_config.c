/* retrieval_config.c — the dual encoder's settings: defaults, JSON in and out, checks.
 *
 * The defaults are chosen for the shapes world (64 px scenes of up to 4 objects whose
 * captions give size, colour, shape and left/right/above/below relations) on a 2-core
 * CPU: a 4-stage strided CNN whose last 4×4 map is flattened (so "left of" survives
 * pooling), a GRU text encoder (order matters: "red circle left of blue square" is not
 * "blue circle left of red square"), symmetric InfoNCE with a learnable temperature,
 * AdamW with warm-up and cosine decay, and small random shifts as the only augmentation
 * (flips would swap left and right). */
#include "retrieval_internal.h"
#include "config_keys.h"
#include <stdio.h>
#include <string.h>

int ret_loss_kind(const char *s) {
    return !strcmp(s, "infonce") ? RET_LOSS_INFONCE : !strcmp(s, "contrastive") ? RET_LOSS_CONTRASTIVE
         : !strcmp(s, "triplet") ? RET_LOSS_TRIPLET : !strcmp(s, "triplet_hardest") ? RET_LOSS_TRIPLET_HARDEST
         : !strcmp(s, "cosine") ? RET_LOSS_COSINE : 0;
}

/* The key table (config_keys.h): parsing, printing, defaults and the unknown-key check. The
 * encoders' keys come from the registry (enc_cfg_table). */
#define OFF(f) offsetof(mmc_retrieval_config, f)
static const cfg_key KEYS[] = {
    {"target", CFG_STR, OFF(target), 0, 8, 0, "image|video|text"},
    {"query", CFG_STR, OFF(query), 0, 8, 0, "text|audio"},
    {"image_size", CFG_INT, OFF(image_size), 8, 512, 64, NULL},
    {"image_pool", CFG_STR, OFF(image_pool), 0, 8, 0, "grid|avg"},
    {"pool_grid", CFG_INT, OFF(pool_grid), 1, 16, 4, NULL},
    /* Measured: with InfoNCE the cnn learns to lean on batch statistics — a run whose
     * training loss was 0.27 scored val R@1 0.04 with the running averages and 0.67 with
     * batch statistics (the same weights) — so the running averages are recomputed before
     * use (bn_recompute) and inference normalises with them. */
    {"bn_eval", CFG_STR, OFF(bn_eval), 0, 8, 0, "running|batch"},
    /* BatchNorm, with its running statistics recomputed at the current weights from 16
     * batches before each validation (precise BN): mid-run validation then rises steadily
     * instead of collapsing, and inference needs no batch. GroupNorm removes the batch
     * dependence altogether but, measured in the same conditions, ended 0.06 lower in
     * text->image R@1 after 10 minutes (docs/results.md). */
    {"cnn_norm", CFG_STR, OFF(cnn_norm), 0, 8, 0, "batch|group"},
    {"bn_recompute", CFG_INT, OFF(bn_recompute), 0, 100000, 16, NULL},
    {"subword_buckets", CFG_INT, OFF(subword_buckets), 0, 1 << 22, 0, NULL},
    {"word_dropout", CFG_FLOAT, OFF(word_dropout), 0, 0.9, 0, NULL},
    {"max_len", CFG_INT, OFF(max_len), 0, 1024, 0, NULL},
    {"embed_dim", CFG_INT, OFF(embed_dim), 2, 8192, 128, NULL},
    {"loss", CFG_STR, OFF(loss), 0, 24, 0, "infonce|contrastive|triplet|triplet_hardest|cosine"},
    {"margin", CFG_FLOAT, OFF(margin), 0, 10, 0.2, NULL},
    {"temperature", CFG_FLOAT, OFF(temperature), 0.001, 10, 0.07, NULL},
    {"learn_temperature", CFG_INT, OFF(learn_temperature), 0, 1, 1, NULL},
    {"lang", CFG_STR, OFF(lang), 0, 4, 0, "en|zh"},
    {"min_count", CFG_INT, OFF(min_count), 1, 1000000, 1, NULL},
    {"batch_size", CFG_INT, OFF(batch_size), 2, 65536, 128, NULL},
    {"lr", CFG_FLOAT, OFF(lr), 0, 10, 2e-3, NULL},
    {"weight_decay", CFG_FLOAT, OFF(weight_decay), 0, 10, 0.05, NULL},
    {"min_lr_ratio", CFG_FLOAT, OFF(min_lr_ratio), 0, 1, 0.01, NULL},
    {"grad_clip", CFG_FLOAT, OFF(grad_clip), 0, 1e6, 5, NULL},
    {"warmup_steps", CFG_INT, OFF(warmup_steps), 0, 100000000, 100, NULL},
    {"augment_shift", CFG_INT, OFF(augment_shift), 0, 64, 3, NULL},
    {"dropout", CFG_FLOAT, OFF(dropout), 0, 0.95, 0, NULL},
    {"epochs", CFG_INT, OFF(epochs), 1, 1000000, 10, NULL},
    {"train_captions", CFG_INT, OFF(train_captions), 0, 1000, 0, NULL},
    {"transcripts", CFG_INT, OFF(transcripts), 0, 1, 1, NULL},
    {"bucket_batches", CFG_INT, OFF(bucket_batches), 0, 100000, 32, NULL},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))
static const char *const NOT_TAKEN[] = {"cnn_strides", "coord", NULL}; /* the encoder keys retrieval has not */

static cfg_table table(void) {
    cfg_table t = enc_cfg_table(KEYS, NKEYS, OFF(image), OFF(text), NOT_TAKEN);
    enc_cfg_table_video(&t, OFF(video));
    enc_cfg_table_audio(&t, OFF(audio));
    return t;
}

mmc_retrieval_config mmc_retrieval_config_default(void) {
    mmc_retrieval_config c;
    memset(&c, 0, sizeof c);
    cfg_keys_default(KEYS, NKEYS, &c);
    c.image = mmc_image_encoder_defaults(); /* cnn 16-32-64-128, norm_groups 8, vit 8/128/4/4 */
    int rl[4] = {2, 2, 2, 2}, rw[4] = {32, 64, 128, 256};
    memcpy(c.image.resnet_layers, rl, sizeof rl);
    memcpy(c.image.resnet_widths, rw, sizeof rw);
    c.text = mmc_text_encoder_defaults(); /* gru, word_dim 64, text_hidden 128, 1 layer */
    c.video = mmc_video_encoder_defaults(); /* gru over 8 frames of the cnn, hidden 128 */
    c.audio = mmc_audio_encoder_defaults(); /* 3 convs over 80 log-mel bands, bidirectional gru */
    return c;
}

int mmc_retrieval_config_check(const mmc_retrieval_config *c, const char *name, mmc_error *err) {
    if (!name) name = "config";
    if (cfg_keys_check_choices(KEYS, NKEYS, c, name, err)) return err->code;
    enc_image_cfg ic;
    enc_text_cfg tc;
    ret_encoder_cfgs(c, &ic, &tc);
    int rc = enc_image_check(&ic, name, err);
    if (rc || (rc = enc_text_check(&tc, name, err))) return rc;
    if (!strcmp(c->target, "video")) {
        enc_video_cfg vc;
        ret_video_cfg(c, &vc);
        if ((rc = enc_video_check(&vc, name, err))) return rc;
    }
    int audio = !strcmp(c->query, "audio"), text_target = !strcmp(c->target, "text");
    if (text_target && !audio)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: target \"text\" needs query \"audio\" (text to text is not a pair)", name);
    if (audio) {
        enc_audio_cfg ac;
        ret_audio_cfg(c, &ac);
        if ((rc = enc_audio_check(&ac, name, err))) return rc;
    }
    if (c->max_len != 0 && c->max_len < 3)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: max_len %d is too short (the start and end tokens take 2)", name, c->max_len);
    return MMC_OK;
}

void ret_encoder_cfgs(const mmc_retrieval_config *c, enc_image_cfg *ic, enc_text_cfg *tc) {
    *ic = (enc_image_cfg){.o = c->image, .image_size = c->image_size, .dropout = c->dropout, .fused_bn_relu = 1};
    ic->norm = !strcmp(c->cnn_norm, "group") ? ENC_NORM_GROUP : ENC_NORM_BATCH;
    ic->bn_eval_batch = !strcmp(c->bn_eval, "batch");
    *tc = (enc_text_cfg){.o = c->text, .max_len = c->max_len, .dropout = c->dropout};
}

void ret_video_cfg(const mmc_retrieval_config *c, enc_video_cfg *vc) {
    enc_text_cfg tc;
    *vc = (enc_video_cfg){.o = c->video, .dropout = c->dropout};
    ret_encoder_cfgs(c, &vc->frame, &tc);
    snprintf(vc->frame.o.encoder, sizeof vc->frame.o.encoder, "%s", c->video.frame_encoder);
    vc->pool_grid = !strcmp(c->image_pool, "grid") ? c->pool_grid : 0;
}

void ret_audio_cfg(const mmc_retrieval_config *c, enc_audio_cfg *ac) { *ac = (enc_audio_cfg){.o = c->audio, .dropout = c->dropout}; }

static int check(const void *c, const char *name, mmc_error *err) { return mmc_retrieval_config_check(c, name, err); }

/* skip: what save writes besides the keys, for other readers: the vocabulary */
static const char *const SKIP[] = {"tokenizer", NULL};
const cfg_kind RET_CONFIG = {table, NULL, SKIP, check, sizeof(mmc_retrieval_config)};

int mmc_retrieval_config_parse(mmc_retrieval_config *c, const char *text, size_t n, const char *name, mmc_error *err) {
    return cfg_parse(&RET_CONFIG, c, text, n, name, err);
}

int mmc_retrieval_config_load(mmc_retrieval_config *c, const char *path, mmc_error *err) { return cfg_load(&RET_CONFIG, c, path, err); }

char *mmc_retrieval_config_to_json(const mmc_retrieval_config *c) { return cfg_to_json(&RET_CONFIG, c); }

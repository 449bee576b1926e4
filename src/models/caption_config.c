/* caption_config.c — the captioner's settings: defaults, JSON in and out, checks.
 *
 * Defaults (measured on the shapes world, docs/captioning.md): a strided 4-stage CNN at
 * 64 px whose 4x4 map gives 16 regions, and a small pre-LN transformer decoder that
 * cross-attends to them, so each word can look where its object is ("left of", "above"
 * need positions, which a pooled vector loses). AdamW, warm-up, cosine decay, clipping,
 * light label smoothing. */
#include "caption_internal.h"
#include "config_keys.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

int cap_decoder_kind(const char *s) {
    return !strcmp(s, "lstm") ? CAP_DEC_LSTM : !strcmp(s, "gru") ? CAP_DEC_GRU : !strcmp(s, "attention") ? CAP_DEC_ATTENTION
         : !strcmp(s, "transformer") ? CAP_DEC_TRANSFORMER : 0;
}

/* The key table (config_keys.h): parsing, printing, defaults and the unknown-key check. The image
 * encoders' keys come from the registry (enc_cfg_table); word_dim, hidden, dropout are the
 * decoder's own (caption has no text encoder). */
#define OFF(f) offsetof(mmc_caption_config, f)
static const cfg_key KEYS[] = {
    {"target", CFG_STR, OFF(target), 0, 8, 0, "image|video"},
    /* Measured, 15 minutes on the moving-shapes world: with the running averages as they
     * lag the weights, validation BLEU-4 of the video captioner swung between 0.21 and 0.86
     * from one epoch to the next (docs/video.md); recomputed before each validation. */
    {"bn_recompute", CFG_INT, OFF(bn_recompute), 0, 100000, 16, NULL},
    {"image_size", CFG_INT, OFF(image_size), 8, 512, 64, NULL},
    {"pool_grid", CFG_INT, OFF(pool_grid), 1, 16, 4, NULL},
    {"decoder", CFG_STR, OFF(decoder), 0, 16, 0, "transformer|attention|lstm|gru"},
    {"image_input", CFG_STR, OFF(image_input), 0, 8, 0, "step0|init"},
    {"word_dim", CFG_INT, OFF(word_dim), 4, 4096, 128, NULL},
    {"hidden", CFG_INT, OFF(hidden), 4, 4096, 128, NULL},
    {"dec_layers", CFG_INT, OFF(dec_layers), 1, 8, 2, NULL},
    {"dec_heads", CFG_INT, OFF(dec_heads), 1, 64, 4, NULL},
    {"att_dim", CFG_INT, OFF(att_dim), 4, 4096, 128, NULL},
    {"dec_act", CFG_STR, OFF(dec_act), 0, 8, 0, "relu|gelu"},
    {"dropout", CFG_FLOAT, OFF(dropout), 0, 0.9, 0, NULL},
    {"label_smoothing", CFG_FLOAT, OFF(label_smoothing), 0, 1, 0.05, NULL},
    {"lang", CFG_STR, OFF(lang), 0, 4, 0, "en|zh"},
    {"min_count", CFG_INT, OFF(min_count), 1, 1000000, 1, NULL},
    {"max_len", CFG_INT, OFF(max_len), 0, 512, 0, NULL},
    {"train_captions", CFG_STR, OFF(train_captions), 0, 8, 0, "all|first"},
    {"length_penalty", CFG_FLOAT, OFF(length_penalty), 0, 10, 0, NULL},
    {"no_repeat_ngram", CFG_INT, OFF(no_repeat_ngram), 0, 16, 0, NULL},
    {"batch_size", CFG_INT, OFF(batch_size), 1, 65536, 32, NULL},
    {"lr", CFG_FLOAT, OFF(lr), 0, 10, 1e-3, NULL},
    {"weight_decay", CFG_FLOAT, OFF(weight_decay), 0, 10, 0.01, NULL},
    {"min_lr_ratio", CFG_FLOAT, OFF(min_lr_ratio), 0, 1, 0.02, NULL},
    {"grad_clip", CFG_FLOAT, OFF(grad_clip), 0, 1e6, 1, NULL},
    {"warmup_steps", CFG_INT, OFF(warmup_steps), 0, 100000000, 100, NULL},
    {"epochs", CFG_INT, OFF(epochs), 1, 1000000, 10, NULL},
    {"val_max_images", CFG_INT, OFF(val_max_images), 0, 100000000, 500, NULL},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))
static const char *const NOT_TAKEN[] = {"cnn_strides", "coord", "norm_groups", NULL}; /* caption's cnn has none of them */

static cfg_table table(void) {
    cfg_table t = enc_cfg_table(KEYS, NKEYS, OFF(image), ENC_NONE, NOT_TAKEN);
    enc_cfg_table_video(&t, OFF(video));
    return t;
}

mmc_caption_config mmc_caption_config_default(void) {
    mmc_caption_config c;
    memset(&c, 0, sizeof c);
    cfg_keys_default(KEYS, NKEYS, &c);
    c.image = mmc_image_encoder_defaults(); /* resnet 1-1-1-1 of 32-64-128-128, vit 8/128/4/4 */
    int w[6] = {32, 64, 128, 128, 0, 0};
    memcpy(c.image.cnn_widths, w, sizeof w);
    c.video = mmc_video_encoder_defaults(); /* early: the stacked frames' map's cells are the regions */
    return c;
}

int mmc_caption_config_check(const mmc_caption_config *c, const char *name, mmc_error *err) {
    if (!name) name = "config";
    if (cfg_keys_check_choices(KEYS, NKEYS, c, name, err)) return err->code;
    int dk = cap_decoder_kind(c->decoder);
    enc_image_cfg ic;
    cap_encoder_cfg(c, &ic);
    if (enc_image_check(&ic, name, err)) return err->code;
    if (!strcmp(c->target, "video")) {
        enc_video_cfg vc;
        cap_video_cfg(c, &vc);
        if (enc_video_check(&vc, name, err)) return err->code;
    }
    if (dk == CAP_DEC_TRANSFORMER && c->hidden % c->dec_heads)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: hidden %d is not a multiple of dec_heads %d", name, c->hidden, c->dec_heads);
    if ((dk == CAP_DEC_LSTM || dk == CAP_DEC_GRU) && c->dec_layers > CAP_MAX_RNN_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: dec_layers %d: recurrent decoders have at most %d layers", name, c->dec_layers,
                             CAP_MAX_RNN_LAYERS);
    if (c->max_len != 0 && c->max_len < 3)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: max_len %d is too short (the start and end tokens take 2)", name, c->max_len);
    return MMC_OK;
}

void cap_encoder_cfg(const mmc_caption_config *c, enc_image_cfg *ic) {
    *ic = (enc_image_cfg){.o = c->image, .image_size = c->image_size, .dropout = c->dropout, .norm = ENC_NORM_BATCH};
}

void cap_video_cfg(const mmc_caption_config *c, enc_video_cfg *vc) {
    *vc = (enc_video_cfg){.o = c->video, .dropout = c->dropout, .pool_grid = c->pool_grid};
    cap_encoder_cfg(c, &vc->frame);
    snprintf(vc->frame.o.encoder, sizeof vc->frame.o.encoder, "%s", c->video.frame_encoder);
}

static int check(const void *c, const char *name, mmc_error *err) { return mmc_caption_config_check(c, name, err); }

/* skip: what save writes besides the keys, for other readers: the vocabulary, the trainer's notes */
static const char *const SKIP[] = {"tokenizer", "training", NULL};
const cfg_kind CAP_CONFIG = {table, "caption", SKIP, check, sizeof(mmc_caption_config)};

int mmc_caption_config_parse(mmc_caption_config *c, const char *text, size_t n, const char *name, mmc_error *err) {
    return cfg_parse(&CAP_CONFIG, c, text, n, name, err);
}

int mmc_caption_config_load(mmc_caption_config *c, const char *path, mmc_error *err) { return cfg_load(&CAP_CONFIG, c, path, err); }

char *mmc_caption_config_to_json(const mmc_caption_config *c) { return cfg_to_json(&CAP_CONFIG, c); }

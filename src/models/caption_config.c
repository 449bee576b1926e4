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
#include <string.h>

mmc_caption_config mmc_caption_config_default(void) {
    mmc_caption_config c;
    memset(&c, 0, sizeof c);
    c.image = mmc_image_encoder_defaults(); /* resnet 1-1-1-1 of 32-64-128-128, vit 8/128/4/4 */
    int w[6] = {32, 64, 128, 128, 0, 0};
    memcpy(c.image.cnn_widths, w, sizeof w);
    c.image_size = 64;
    c.pool_grid = 4;
    strcpy(c.decoder, "transformer");
    strcpy(c.image_input, "step0");
    c.word_dim = 128;
    c.hidden = 128;
    c.dec_layers = 2;
    c.dec_heads = 4;
    c.att_dim = 128;
    strcpy(c.dec_act, "relu");
    c.dropout = 0.0f;
    c.label_smoothing = 0.05f;
    strcpy(c.lang, "en");
    c.min_count = 1;
    c.max_len = 0;
    strcpy(c.train_captions, "all");
    c.length_penalty = 0.0f;
    c.no_repeat_ngram = 0;
    c.batch_size = 32;
    c.lr = 1e-3f;
    c.weight_decay = 0.01f;
    c.min_lr_ratio = 0.02f;
    c.grad_clip = 1.0f;
    c.warmup_steps = 100;
    c.epochs = 10;
    c.val_max_images = 500;
    return c;
}

int cap_decoder_kind(const char *s) {
    return !strcmp(s, "lstm") ? CAP_DEC_LSTM : !strcmp(s, "gru") ? CAP_DEC_GRU : !strcmp(s, "attention") ? CAP_DEC_ATTENTION
         : !strcmp(s, "transformer") ? CAP_DEC_TRANSFORMER : 0;
}

/* The key table (config_keys.h): parsing, printing and the unknown-key check. The image
 * encoders' keys come from the registry (enc_cfg_table); word_dim, hidden, dropout are the
 * decoder's own (caption has no text encoder). */
#define OFF(f) offsetof(mmc_caption_config, f)
static const cfg_key KEYS[] = {
    {"image_size", CFG_INT, OFF(image_size), 8, 512},
    {"pool_grid", CFG_INT, OFF(pool_grid), 1, 16},
    {"decoder", CFG_STR, OFF(decoder), 0, 16},
    {"image_input", CFG_STR, OFF(image_input), 0, 8},
    {"word_dim", CFG_INT, OFF(word_dim), 4, 4096},
    {"hidden", CFG_INT, OFF(hidden), 4, 4096},
    {"dec_layers", CFG_INT, OFF(dec_layers), 1, 8},
    {"dec_heads", CFG_INT, OFF(dec_heads), 1, 64},
    {"att_dim", CFG_INT, OFF(att_dim), 4, 4096},
    {"dec_act", CFG_STR, OFF(dec_act), 0, 8},
    {"dropout", CFG_FLOAT, OFF(dropout), 0, 0.9},
    {"label_smoothing", CFG_FLOAT, OFF(label_smoothing), 0, 1},
    {"lang", CFG_STR, OFF(lang), 0, 4},
    {"min_count", CFG_INT, OFF(min_count), 1, 1000000},
    {"max_len", CFG_INT, OFF(max_len), 0, 512},
    {"train_captions", CFG_STR, OFF(train_captions), 0, 8},
    {"length_penalty", CFG_FLOAT, OFF(length_penalty), 0, 10},
    {"no_repeat_ngram", CFG_INT, OFF(no_repeat_ngram), 0, 16},
    {"batch_size", CFG_INT, OFF(batch_size), 1, 65536},
    {"lr", CFG_FLOAT, OFF(lr), 0, 10},
    {"weight_decay", CFG_FLOAT, OFF(weight_decay), 0, 10},
    {"min_lr_ratio", CFG_FLOAT, OFF(min_lr_ratio), 0, 1},
    {"grad_clip", CFG_FLOAT, OFF(grad_clip), 0, 1e6},
    {"warmup_steps", CFG_INT, OFF(warmup_steps), 0, 100000000},
    {"epochs", CFG_INT, OFF(epochs), 1, 1000000},
    {"val_max_images", CFG_INT, OFF(val_max_images), 0, 100000000},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))
static const char *const NOT_TAKEN[] = {"cnn_strides", "coord", "norm_groups", NULL}; /* caption's cnn has none of them */

static cfg_table table(void) { return enc_cfg_table(KEYS, NKEYS, OFF(image), ENC_NONE, NOT_TAKEN); }

int mmc_caption_config_check(const mmc_caption_config *c, const char *name, mmc_error *err) {
    if (!name) name = "config";
    int dk = cap_decoder_kind(c->decoder);
    if (!dk)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: decoder '%s' is not one of transformer, attention, lstm, gru", name, c->decoder);
    if (strcmp(c->image_input, "step0") && strcmp(c->image_input, "init"))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: image_input '%s' is not step0 or init", name, c->image_input);
    if (strcmp(c->dec_act, "relu") && strcmp(c->dec_act, "gelu"))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: dec_act '%s' is not relu or gelu", name, c->dec_act);
    if (strcmp(c->lang, "en") && strcmp(c->lang, "zh"))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: lang '%s' is not en or zh", name, c->lang);
    if (strcmp(c->train_captions, "all") && strcmp(c->train_captions, "first"))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: train_captions '%s' is not all or first", name, c->train_captions);
    enc_image_cfg ic;
    cap_encoder_cfg(c, &ic);
    if (enc_image_check(&ic, name, err)) return err->code;
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

static int check(const void *c, const char *name, mmc_error *err) { return mmc_caption_config_check(c, name, err); }

/* skip: what save writes besides the keys, for other readers: the vocabulary, the trainer's notes */
static const char *const SKIP[] = {"tokenizer", "training", NULL};
const cfg_kind CAP_CONFIG = {table, "caption", SKIP, check, sizeof(mmc_caption_config)};

int mmc_caption_config_parse(mmc_caption_config *c, const char *text, size_t n, const char *name, mmc_error *err) {
    return cfg_parse(&CAP_CONFIG, c, text, n, name, err);
}

int mmc_caption_config_load(mmc_caption_config *c, const char *path, mmc_error *err) { return cfg_load(&CAP_CONFIG, c, path, err); }

char *mmc_caption_config_to_json(const mmc_caption_config *c) { return cfg_to_json(&CAP_CONFIG, c); }

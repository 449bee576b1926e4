/* caption_config.c — the captioner's settings: defaults, JSON in and out, checks.
 *
 * Defaults (measured on the shapes world, docs/captioning.md): a strided 4-stage CNN at
 * 64 px whose 4x4 map gives 16 regions, and a small pre-LN transformer decoder that
 * cross-attends to them, so each word can look where its object is ("left of", "above"
 * need positions, which a pooled vector loses). AdamW, warm-up, cosine decay, clipping,
 * light label smoothing. */
#include "caption_internal.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

mmc_caption_config mmc_caption_config_default(void) {
    mmc_caption_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.image_encoder, "cnn");
    c.image_size = 64;
    int w[6] = {32, 64, 128, 128, 0, 0};
    memcpy(c.cnn_widths, w, sizeof w);
    c.cnn_depth = 1;
    int rl[4] = {1, 1, 1, 1}, rw[4] = {32, 64, 128, 128};
    memcpy(c.resnet_layers, rl, sizeof rl);
    memcpy(c.resnet_widths, rw, sizeof rw);
    c.vit_patch = 8;
    c.vit_dim = 128;
    c.vit_depth = 4;
    c.vit_heads = 4;
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

int cap_image_kind(const char *s) {
    return !strcmp(s, "cnn") ? CAP_IMG_CNN : !strcmp(s, "resnet") ? CAP_IMG_RESNET : !strcmp(s, "vit") ? CAP_IMG_VIT : 0;
}
int cap_decoder_kind(const char *s) {
    return !strcmp(s, "lstm") ? CAP_DEC_LSTM : !strcmp(s, "gru") ? CAP_DEC_GRU : !strcmp(s, "attention") ? CAP_DEC_ATTENTION
         : !strcmp(s, "transformer") ? CAP_DEC_TRANSFORMER : 0;
}

/* One table drives parsing, printing and the unknown-key check. */
enum { K_INT, K_FLOAT, K_STR, K_INTS };
typedef struct key_def {
    const char *name;
    int type;
    size_t off;
    double lo, hi; /* K_INT/K_FLOAT: range; K_STR/K_INTS: hi = capacity */
} key_def;
#define OFF(f) offsetof(mmc_caption_config, f)
static const key_def KEYS[] = {
    {"image_encoder", K_STR, OFF(image_encoder), 0, 16},
    {"image_size", K_INT, OFF(image_size), 8, 512},
    {"cnn_widths", K_INTS, OFF(cnn_widths), 1, 6},
    {"cnn_depth", K_INT, OFF(cnn_depth), 1, 2},
    {"resnet_layers", K_INTS, OFF(resnet_layers), 4, 4},
    {"resnet_widths", K_INTS, OFF(resnet_widths), 4, 4},
    {"vit_patch", K_INT, OFF(vit_patch), 2, 64},
    {"vit_dim", K_INT, OFF(vit_dim), 8, 2048},
    {"vit_depth", K_INT, OFF(vit_depth), 1, 24},
    {"vit_heads", K_INT, OFF(vit_heads), 1, 32},
    {"pool_grid", K_INT, OFF(pool_grid), 1, 16},
    {"decoder", K_STR, OFF(decoder), 0, 16},
    {"image_input", K_STR, OFF(image_input), 0, 8},
    {"word_dim", K_INT, OFF(word_dim), 4, 4096},
    {"hidden", K_INT, OFF(hidden), 4, 4096},
    {"dec_layers", K_INT, OFF(dec_layers), 1, 8},
    {"dec_heads", K_INT, OFF(dec_heads), 1, 64},
    {"att_dim", K_INT, OFF(att_dim), 4, 4096},
    {"dec_act", K_STR, OFF(dec_act), 0, 8},
    {"dropout", K_FLOAT, OFF(dropout), 0, 0.9},
    {"label_smoothing", K_FLOAT, OFF(label_smoothing), 0, 1},
    {"lang", K_STR, OFF(lang), 0, 4},
    {"min_count", K_INT, OFF(min_count), 1, 1000000},
    {"max_len", K_INT, OFF(max_len), 0, 512},
    {"train_captions", K_STR, OFF(train_captions), 0, 8},
    {"length_penalty", K_FLOAT, OFF(length_penalty), 0, 10},
    {"no_repeat_ngram", K_INT, OFF(no_repeat_ngram), 0, 16},
    {"batch_size", K_INT, OFF(batch_size), 1, 65536},
    {"lr", K_FLOAT, OFF(lr), 0, 10},
    {"weight_decay", K_FLOAT, OFF(weight_decay), 0, 10},
    {"min_lr_ratio", K_FLOAT, OFF(min_lr_ratio), 0, 1},
    {"grad_clip", K_FLOAT, OFF(grad_clip), 0, 1e6},
    {"warmup_steps", K_INT, OFF(warmup_steps), 0, 100000000},
    {"epochs", K_INT, OFF(epochs), 1, 1000000},
    {"val_max_images", K_INT, OFF(val_max_images), 0, 100000000},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

int mmc_caption_config_check(const mmc_caption_config *c, const char *name, mmc_error *err) {
    if (!name) name = "config";
    if (!cap_image_kind(c->image_encoder))
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: image_encoder '%s' is not one of cnn, resnet, vit", name, c->image_encoder);
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
    int stages = 0;
    while (stages < 6 && c->cnn_widths[stages] > 0) stages++;
    for (int i = stages; i < 6; i++)
        if (c->cnn_widths[i] != 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cnn_widths has a 0 before its end", name);
    if (stages == 0) return mmc_error_set(err, MMC_ERR_INPUT, "%s: cnn_widths is empty", name);
    for (int i = 0; i < 4; i++)
        if (c->resnet_layers[i] < 1 || c->resnet_layers[i] > 16 || c->resnet_widths[i] < 1)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: resnet_layers and resnet_widths need 4 positive entries (layers <= 16)", name);
    if (c->vit_dim % c->vit_heads)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: vit_dim %d is not a multiple of vit_heads %d", name, c->vit_dim, c->vit_heads);
    if (dk == CAP_DEC_TRANSFORMER && c->hidden % c->dec_heads)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: hidden %d is not a multiple of dec_heads %d", name, c->hidden, c->dec_heads);
    if ((dk == CAP_DEC_LSTM || dk == CAP_DEC_GRU) && c->dec_layers > CAP_MAX_RNN_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: dec_layers %d: recurrent decoders have at most %d layers", name, c->dec_layers,
                             CAP_MAX_RNN_LAYERS);
    if (c->max_len != 0 && c->max_len < 3)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: max_len %d is too short (the start and end tokens take 2)", name, c->max_len);
    return MMC_OK;
}

static int parse_into(mmc_caption_config *c, const cJSON *root, const char *name, mmc_error *err) {
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!it->string) return mmc_error_set(err, MMC_ERR_INPUT, "%s: a key without a name", name);
        /* written by save for other readers: the task, the vocabulary, the trainer's notes */
        if (!strcmp(it->string, "tokenizer") || !strcmp(it->string, "training")) continue;
        if (!strcmp(it->string, "task")) {
            if (!cJSON_IsString(it) || strcmp(it->valuestring, "caption"))
                return mmc_error_set(err, MMC_ERR_INPUT, "%s: \"task\" must be \"caption\"", name);
            continue;
        }
        const key_def *k = NULL;
        for (int i = 0; i < NKEYS; i++)
            if (!strcmp(it->string, KEYS[i].name)) k = &KEYS[i];
        if (!k) return mmc_error_set(err, MMC_ERR_INPUT, "%s: unknown key '%s'", name, it->string);
        char *base = (char *)c + k->off;
        if (k->type == K_STR) {
            if (!cJSON_IsString(it)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' must be a string", name, k->name);
            size_t len = strlen(it->valuestring);
            if (len + 1 > (size_t)k->hi) return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' is too long", name, k->name);
            memcpy(base, it->valuestring, len + 1);
        } else if (k->type == K_INTS) {
            int cap = (int)k->hi, lo = (int)k->lo, n = cJSON_GetArraySize(it);
            if (!cJSON_IsArray(it) || n < lo || n > cap)
                return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' must be an array of %d to %d integers", name, k->name, lo, cap);
            int vals[8] = {0}, i = 0;
            for (const cJSON *e = it->child; e; e = e->next, i++) {
                if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || e->valuedouble != floor(e->valuedouble) ||
                    e->valuedouble < 1 || e->valuedouble > 4096)
                    return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' entry %d must be an integer in 1..4096", name, k->name, i);
                vals[i] = (int)e->valuedouble;
            }
            memcpy(base, vals, sizeof(int) * (size_t)cap);
        } else {
            if (!cJSON_IsNumber(it)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' must be a number", name, k->name);
            double v = it->valuedouble;
            if (!isfinite(v) || v < k->lo || v > k->hi || (k->type == K_INT && v != floor(v)))
                return mmc_error_set(err, MMC_ERR_INPUT, "%s: key '%s' = %g is out of range (%s in %g..%g)", name, k->name, v,
                                     k->type == K_INT ? "an integer" : "a number", k->lo, k->hi);
            if (k->type == K_INT) *(int *)base = (int)v;
            else *(float *)base = (float)v;
        }
    }
    return MMC_OK;
}

int mmc_caption_config_parse(mmc_caption_config *c, const char *text, size_t n, const char *name, mmc_error *err) {
    if (!name) name = "config";
    cJSON *root = text ? cJSON_ParseWithLength(text, n) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: not a JSON object", name);
    }
    mmc_caption_config tmp = *c;
    int rc = parse_into(&tmp, root, name, err);
    cJSON_Delete(root);
    if (!rc) rc = mmc_caption_config_check(&tmp, name, err);
    if (!rc) *c = tmp;
    return rc;
}

int mmc_caption_config_load(mmc_caption_config *c, const char *path, mmc_error *err) {
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(path, 16u << 20, &buf, &n, err);
    if (rc) return rc;
    rc = mmc_caption_config_parse(c, (const char *)buf, n, path, err);
    mmc_free(buf);
    return rc;
}

char *mmc_caption_config_to_json(const mmc_caption_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "task", "caption")) { cJSON_Delete(o); return NULL; }
    for (int i = 0; i < NKEYS; i++) {
        const key_def *k = &KEYS[i];
        const char *base = (const char *)c + k->off;
        cJSON *v = NULL;
        if (k->type == K_STR) v = cJSON_CreateString(base);
        else if (k->type == K_INT) v = cJSON_CreateNumber(*(const int *)base);
        else if (k->type == K_FLOAT) v = cJSON_CreateNumber((double)*(const float *)base);
        else {
            const int *a = (const int *)base;
            int n = 0;
            while (n < (int)k->hi && a[n] > 0) n++;
            v = cJSON_CreateIntArray(a, n);
        }
        if (!v) { cJSON_Delete(o); return NULL; }
        cJSON_AddItemToObject(o, k->name, v);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *r = mmc_malloc(n + 1);
    if (r) memcpy(r, s, n + 1);
    cJSON_free(s);
    return r;
}

/* clip_config.c — config.json and preprocessor_config.json of a Hugging Face CLIP or
 * Chinese-CLIP folder.
 *
 * Every size comes from the file. A field that is absent takes transformers' default for
 * that config class (CLIPTextConfig, CLIPVisionConfig, ChineseCLIPTextConfig, ...), as
 * from_pretrained does, because configs saved by newer transformers leave defaults out;
 * a field that is present but of the wrong type or out of range is an error naming the
 * file and the field. A wrong default still cannot slip through: every tensor's shape is
 * checked against the sizes afterwards. */
#include "clip_internal.h"
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CFG_MAX_BYTES ((size_t)4 << 20)
#define CFG_MAX_SIZE (1 << 20) /* a bound on widths, vocabularies, positions */

typedef struct jctx {
    const char *path;
    const char *section; /* "text_config." etc., for messages */
    mmc_error *err;
} jctx;

/* An integer field in [lo, hi]; absent -> def. */
static int get_int(const jctx *j, const cJSON *o, const char *key, int def, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) { *out = def; return MMC_OK; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < lo || v->valuedouble > hi)
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %s%s must be an integer in [%d, %d]", j->path, j->section,
                             key, lo, hi);
    *out = (int)v->valuedouble;
    return MMC_OK;
}

static int get_float(const jctx *j, const cJSON *o, const char *key, double def, double lo, double hi, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) { *out = (float)def; return MMC_OK; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %s%s must be a number in [%g, %g]", j->path, j->section, key,
                             lo, hi);
    *out = (float)v->valuedouble;
    return MMC_OK;
}

/* hidden_act names of transformers' ACT2FN that our ops compute exactly. */
static int get_act(const jctx *j, const cJSON *o, const char *def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    const char *s = def;
    if (v) {
        if (!cJSON_IsString(v))
            return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %shidden_act must be a string", j->path, j->section);
        s = v->valuestring;
    }
    static const struct { const char *name; int act; } acts[] = {
        {"quick_gelu", MMC_ACT_QUICK_GELU}, {"gelu", MMC_ACT_GELU},
        {"gelu_new", MMC_ACT_GELU_TANH},    {"gelu_pytorch_tanh", MMC_ACT_GELU_TANH},
        {"gelu_fast", MMC_ACT_GELU_TANH},   {"relu", MMC_ACT_RELU},
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (!strcmp(s, acts[i].name)) { *out = acts[i].act; return MMC_OK; }
    return mmc_error_set(j->err, MMC_ERR_INPUT,
                         "%s: %shidden_act \"%.64s\" is not supported (quick_gelu, gelu, gelu_new, "
                         "gelu_pytorch_tanh, gelu_fast, relu)", j->path, j->section, s);
}

static int check_heads(const jctx *j, int hidden, int heads) {
    if (hidden % heads)
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %shidden_size %d is not a multiple of num_attention_heads %d",
                             j->path, j->section, hidden, heads);
    return MMC_OK;
}

static int read_text(const jctx *j, const cJSON *o, int chinese, clip_text_cfg *t) {
    /* defaults: CLIPTextConfig / ChineseCLIPTextConfig (BERT-base) */
    int rc;
    if ((rc = get_int(j, o, "hidden_size", chinese ? 768 : 512, 1, CFG_MAX_SIZE, &t->hidden)) ||
        (rc = get_int(j, o, "num_hidden_layers", 12, 1, MMC_CLIP_MAX_LAYERS, &t->layers)) ||
        (rc = get_int(j, o, "num_attention_heads", chinese ? 12 : 8, 1, CFG_MAX_SIZE, &t->heads)) ||
        (rc = get_int(j, o, "intermediate_size", chinese ? 3072 : 2048, 1, CFG_MAX_SIZE, &t->inter)) ||
        (rc = get_int(j, o, "max_position_embeddings", chinese ? 512 : 77, 1, CFG_MAX_SIZE, &t->max_pos)) ||
        (rc = get_int(j, o, "vocab_size", chinese ? 30522 : 49408, 1, 1 << 24, &t->vocab)) ||
        (rc = get_float(j, o, "layer_norm_eps", chinese ? 1e-12 : 1e-5, 0.0, 1.0, &t->eps)) ||
        (rc = get_act(j, o, chinese ? "gelu" : "quick_gelu", &t->act)) || (rc = check_heads(j, t->hidden, t->heads)))
        return rc;
    if (chinese && (rc = get_int(j, o, "type_vocab_size", 2, 1, CFG_MAX_SIZE, &t->type_vocab))) return rc;
    /* eos_token_id: null (BERT) or absent-and-BERT -> none; CLIP's default is 49407 */
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "eos_token_id");
    if (e && cJSON_IsNull(e)) t->has_eos = 0, t->eos_id = -1;
    else if (!e && chinese) t->has_eos = 0, t->eos_id = -1;
    else {
        if ((rc = get_int(j, o, "eos_token_id", 49407, 0, INT_MAX, &t->eos_id))) return rc;
        t->has_eos = 1;
    }
    return MMC_OK;
}

static int read_vision(const jctx *j, const cJSON *o, clip_vision_cfg *v) {
    int rc;
    if ((rc = get_int(j, o, "hidden_size", 768, 1, CFG_MAX_SIZE, &v->hidden)) ||
        (rc = get_int(j, o, "num_hidden_layers", 12, 1, MMC_CLIP_MAX_LAYERS, &v->layers)) ||
        (rc = get_int(j, o, "num_attention_heads", 12, 1, CFG_MAX_SIZE, &v->heads)) ||
        (rc = get_int(j, o, "intermediate_size", 3072, 1, CFG_MAX_SIZE, &v->inter)) ||
        (rc = get_int(j, o, "image_size", 224, 1, 8192, &v->image_size)) ||
        (rc = get_int(j, o, "patch_size", 32, 1, 8192, &v->patch)) ||
        (rc = get_int(j, o, "num_channels", 3, 1, 3, &v->channels)) ||
        (rc = get_float(j, o, "layer_norm_eps", 1e-5, 0.0, 1.0, &v->eps)) ||
        (rc = get_act(j, o, "quick_gelu", &v->act)) || (rc = check_heads(j, v->hidden, v->heads)))
        return rc;
    if (v->patch > v->image_size)
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %spatch_size %d is larger than image_size %d", j->path,
                             j->section, v->patch, v->image_size);
    if (v->channels != 3)
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %snum_channels %d: only RGB (3) images are supported",
                             j->path, j->section, v->channels);
    return MMC_OK;
}

/* Reads DIR/NAME (refusing huge files) and parses it as a JSON object. NULL + err. */
static cJSON *read_json(const char *dir, const char *name, char *path, size_t pathn, mmc_error *err) {
    snprintf(path, pathn, "%s/%s", dir, name);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: missing (not a Hugging Face model folder?)", path);
        return NULL;
    }
    cJSON *root;
    if (mmc_json_load(path, CFG_MAX_BYTES, 1, &root, err) && err) err->code = MMC_ERR_INPUT;
    return root;
}

int clip_config_read(const char *dir, clip_cfg *c, mmc_error *err) {
    memset(c, 0, sizeof *c);
    char path[4096];
    cJSON *root = read_json(dir, "config.json", path, sizeof path, err);
    if (!root) return MMC_ERR_INPUT;
    jctx j = {path, "", err};
    int rc = MMC_OK;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt) || (strcmp(mt->valuestring, "clip") && strcmp(mt->valuestring, "chinese_clip"))) {
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: model_type must be \"clip\" or \"chinese_clip\" (found %s%.64s%s)",
                           path, cJSON_IsString(mt) ? "\"" : "", cJSON_IsString(mt) ? mt->valuestring : "none",
                           cJSON_IsString(mt) ? "\"" : "");
        goto done;
    }
    c->chinese = !strcmp(mt->valuestring, "chinese_clip");
    if ((rc = get_int(&j, root, "projection_dim", 512, 1, CFG_MAX_SIZE, &c->proj_dim))) goto done;
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    const cJSON *vc = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
    if (!cJSON_IsObject(tc) || !cJSON_IsObject(vc)) {
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: %s must be a JSON object", path,
                           !cJSON_IsObject(tc) ? "text_config" : "vision_config");
        goto done;
    }
    j.section = "text_config.";
    if ((rc = read_text(&j, tc, c->chinese, &c->text))) goto done;
    j.section = "vision_config.";
    rc = read_vision(&j, vc, &c->vision);
done:
    cJSON_Delete(root);
    return rc;
}

/* size / crop_size: {"shortest_edge": n}, {"height": h, "width": w} or a bare number. */
static int read_size(const jctx *j, const cJSON *o, const char *key, int *shortest, int *w, int *h) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return MMC_OK;
    int rc;
    if (cJSON_IsNumber(v)) {
        int s;
        if ((rc = get_int(j, o, key, 0, 1, 8192, &s))) return rc;
        if (shortest) *shortest = s;
        else *w = *h = s;
        return MMC_OK;
    }
    if (!cJSON_IsObject(v))
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %s must be a number or an object", j->path, key);
    jctx k = *j;
    char sec[64];
    snprintf(sec, sizeof sec, "%s.", key);
    k.section = sec;
    if (shortest && cJSON_GetObjectItemCaseSensitive(v, "shortest_edge"))
        return get_int(&k, v, "shortest_edge", 0, 1, 8192, shortest);
    if (!cJSON_GetObjectItemCaseSensitive(v, "height") || !cJSON_GetObjectItemCaseSensitive(v, "width"))
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %s needs %s\"height\" and \"width\"", j->path, key,
                             shortest ? "\"shortest_edge\" or " : "");
    if ((rc = get_int(&k, v, "height", 0, 1, 8192, h)) || (rc = get_int(&k, v, "width", 0, 1, 8192, w))) return rc;
    if (shortest) *shortest = 0;
    return MMC_OK;
}

static int get_bool(const jctx *j, const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return MMC_OK;
    if (!cJSON_IsBool(v)) return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %s must be true or false", j->path, key);
    *out = cJSON_IsTrue(v);
    return MMC_OK;
}

static int get_triple(const jctx *j, const cJSON *o, const char *key, float *out, int positive) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return MMC_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %s must be an array of 3 numbers", j->path, key);
    for (int i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || (positive && !(x->valuedouble > 0)) ||
            fabs(x->valuedouble) > 1e6)
            return mmc_error_set(j->err, MMC_ERR_INPUT, "%s: %s[%d] must be a finite%s number", j->path, key, i,
                                 positive ? " positive" : "");
        out[i] = (float)x->valuedouble;
    }
    return MMC_OK;
}

int clip_preprocessor_read(const char *dir, int image_size, mmc_image_preprocess *p, int *present, mmc_error *err) {
    char path[4096];
    *p = mmc_image_preprocess_clip(image_size, image_size);
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    struct stat sb;
    if (stat(path, &sb) != 0) { *present = 0; return MMC_OK; }
    *present = 1;
    cJSON *root = read_json(dir, "preprocessor_config.json", path, sizeof path, err);
    if (!root) return MMC_ERR_INPUT;
    jctx j = {path, "", err};
    int rc, rs = p->resample;
    double rf = p->rescale_factor;
    float rff = (float)rf;
    if ((rc = get_bool(&j, root, "do_resize", &p->do_resize)) ||
        (rc = read_size(&j, root, "size", &p->shortest_edge, &p->resize_w, &p->resize_h)) ||
        (rc = get_int(&j, root, "resample", rs, 0, 5, &p->resample)) ||
        (rc = get_bool(&j, root, "do_center_crop", &p->do_center_crop)) ||
        (rc = read_size(&j, root, "crop_size", NULL, &p->crop_w, &p->crop_h)) ||
        (rc = get_bool(&j, root, "do_rescale", &p->do_rescale)) ||
        (rc = get_float(&j, root, "rescale_factor", rf, 1e-12, 1e6, &rff)) ||
        (rc = get_bool(&j, root, "do_normalize", &p->do_normalize)) ||
        (rc = get_triple(&j, root, "image_mean", p->mean, 0)) || (rc = get_triple(&j, root, "image_std", p->std, 1)))
        goto done;
    /* keep the double the file wrote (1/255 is not a float) */
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "rescale_factor");
    if (v) p->rescale_factor = v->valuedouble;
done:
    cJSON_Delete(root);
    return rc;
}

int clip_tokenizer_max_length(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    cJSON *root;
    mmc_error e = {0};
    if (mmc_json_load(path, CFG_MAX_BYTES, 0, &root, &e)) return 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
    int r = cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e6 ? (int)v->valuedouble : 0;
    cJSON_Delete(root);
    return r;
}

/* embedder.c — one interface over every model that embeds text and images.
 *
 * The CLI's embed, index, search and zeroshot commands see only mmc_embedder, so a new
 * model family (Hugging Face CLIP, Chinese-CLIP) is one more branch in mmc_embedder_open
 * and nothing else changes above it.
 *
 * Which family a folder holds is read from its config.json:
 *   "task": "retrieval", or the keys a retrieval run writes ("embed_dim" and "tokenizer")
 *       -> a dual encoder trained by `mmc train retrieval` (src/models/retrieval*.c)
 *   "model_type": "clip" | "chinese_clip" -> a Hugging Face CLIP / Chinese-CLIP folder
 *       (src/models/clip*.c)
 * Anything else is refused with a message that says what was expected.
 * mmc_embedder_open_ex can run either family with int8 / int4 weights (`--dtype`): CLIP
 * through mmc_clip_opts.quantize, a retrieval run through mmc_retrieval_quantize below. */
#include "internal.h"
#include "mmc.h"
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { EMB_RETRIEVAL = 1, EMB_CLIP = 2 };

/* CLIP's cap on its learned logit scale; a scale above it is clamped in training too. */
#define EMB_MAX_LOGIT_SCALE 100.0f

struct mmc_embedder {
    int kind;
    mmc_retrieval *retrieval;
    mmc_clip *clip;
    int dim;
    float logit_scale; /* 0: the model has none */
    char *id;          /* absolute path of the model folder */
};

/* config.json of a run holds the tokenizer vocabulary, so it can be large. */
#define EMB_MAX_CONFIG_BYTES ((size_t)64 << 20)

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The scale an InfoNCE-trained model learned (exp of its logit_scale parameter), clamped as
 * CLIP clamps it; 0 when the model was trained with another loss (its scale means nothing). */
static float retrieval_logit_scale(mmc_retrieval *m) {
    const mmc_retrieval_config *cfg = mmc_retrieval_get_config(m);
    if (!cfg || strcmp(cfg->loss, "infonce") != 0) return 0.0f;
    mmc_tensor *ls = mmc_params_find(mmc_retrieval_params(m), "logit_scale");
    if (!ls || ls->numel != 1 || !isfinite(ls->data[0])) return 0.0f;
    float s = expf(ls->data[0]);
    return s > EMB_MAX_LOGIT_SCALE ? EMB_MAX_LOGIT_SCALE : s;
}

/* `--dtype int8` for a retrieval run: an int8 copy (per output channel) of every 2-D
 * parameter, its float data kept. mmc_linear then runs the integer product for the ones
 * used as Linear weights whenever no gradient is recorded (the embed calls record none),
 * and the rest (embedding tables, recurrent and fused weights read by their own kernels)
 * go on reading the floats, so no op can see a missing tensor. A matrix with more inputs
 * than the integer kernel takes stays float only. */
int mmc_retrieval_quantize(mmc_retrieval *m, const char *path, int type, mmc_error *err) {
    mmc_params *P = mmc_retrieval_params(m);
    for (int i = 0; P && i < P->n; i++) {
        mmc_tensor *t = P->tensors[i];
        if (P->kind[i] != MMC_PARAM || t->ndim != 2 || !t->data || t->quant) continue;
        mmc_error qe = {0};
        mmc_qweight *q = mmc_qweight_quantize(t->data, t->shape[0], t->shape[1], type, &qe);
        if (!q && qe.code == MMC_ERR_USAGE) continue; /* too wide for the kernel: float */
        if (!q) return mmc_error_set(err, qe.code ? qe.code : MMC_ERR_RUNTIME, "%s/model.safetensors: tensor '%s': %s", path,
                                     P->names[i], qe.msg);
        if (mmc_tensor_set_quant(t, q, err)) return err ? err->code : MMC_ERR_USAGE;
    }
    return MMC_OK;
}

mmc_embedder *mmc_embedder_open(const char *model_path, mmc_error *err) {
    return mmc_embedder_open_ex(model_path, NULL, err);
}

mmc_embedder *mmc_embedder_open_ex(const char *model_path, const mmc_embedder_opts *opts, mmc_error *err) {
    int qtype = opts ? opts->quantize : 0;
    if (qtype && qtype != MMC_QTYPE_Q8 && qtype != MMC_QTYPE_Q4) {
        mmc_error_set(err, MMC_ERR_USAGE, "embedder: unknown quantisation type %d", qtype);
        return NULL;
    }
    if (!model_path || !*model_path) {
        mmc_error_set(err, MMC_ERR_USAGE, "embedder: no model path");
        return NULL;
    }
    struct stat sb;
    if (stat(model_path, &sb) != 0) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: no such model folder", model_path);
        return NULL;
    }
    if (!S_ISDIR(sb.st_mode)) {
        mmc_error_set(err, MMC_ERR_INPUT,
                      "%s: not a model folder (expected a run folder from `mmc train retrieval`)", model_path);
        return NULL;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.json", model_path);
    cJSON *root;
    if (mmc_json_load(path, EMB_MAX_CONFIG_BYTES, 1, &root, err)) {
        if (err && err->code == MMC_ERR_RUNTIME) err->code = MMC_ERR_INPUT;
        return NULL;
    }
    const char *task = json_str(root, "task"), *model_type = json_str(root, "model_type");
    int is_retrieval = (task && !strcmp(task, "retrieval")) ||
                       (!task && !model_type && cJSON_GetObjectItemCaseSensitive(root, "embed_dim") &&
                        (cJSON_GetObjectItemCaseSensitive(root, "tokenizer") || cJSON_GetObjectItemCaseSensitive(root, "query")));
    int is_clip = model_type && (!strcmp(model_type, "clip") || !strcmp(model_type, "chinese_clip"));
    char what[64];
    snprintf(what, sizeof what, "%s", task ? task : model_type ? model_type : "");
    cJSON_Delete(root);
    if (!is_retrieval && !is_clip) {
        mmc_error_set(err, MMC_ERR_INPUT,
                      "%s: %s%s%s is not a model that embeds text and images (expected a run folder "
                      "from `mmc train retrieval` or a Hugging Face CLIP / Chinese-CLIP folder)", path, what[0] ? "\"" : "an unknown model",
                      what, what[0] ? "\"" : "");
        return NULL;
    }

    mmc_embedder *e = mmc_calloc(1, sizeof *e);
    char *abs = realpath(model_path, NULL); /* libc malloc: copied, then freed */
    if (e && abs && (e->id = mmc_malloc(strlen(abs) + 1))) strcpy(e->id, abs);
    free(abs);
    if (!e || !e->id) {
        mmc_free(e);
        mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory opening the model", model_path);
        return NULL;
    }
    e->kind = is_clip ? EMB_CLIP : EMB_RETRIEVAL;
    if (!is_clip && qtype == MMC_QTYPE_Q4) {
        mmc_embedder_close(e);
        mmc_error_set(err, MMC_ERR_USAGE, "%s: a retrieval run runs int8 (q8), not q4 (q4 is for CLIP / Chinese-CLIP folders)",
                      model_path);
        return NULL;
    }
    mmc_clip_opts co = {MMC_CLIP_STORAGE_AUTO, qtype};
    if (is_clip && (e->clip = mmc_clip_load_ex(model_path, &co, err))) {
        e->dim = mmc_clip_dim(e->clip);
        e->logit_scale = mmc_clip_logit_scale(e->clip);
        if (!(e->logit_scale > 0) || e->logit_scale > EMB_MAX_LOGIT_SCALE) e->logit_scale = EMB_MAX_LOGIT_SCALE;
    } else if (!is_clip && (e->retrieval = mmc_retrieval_load(model_path, err))) {
        e->dim = mmc_retrieval_dim(e->retrieval);
        e->logit_scale = retrieval_logit_scale(e->retrieval);
        if (qtype && mmc_retrieval_quantize(e->retrieval, model_path, qtype, err)) {
            mmc_retrieval_free(e->retrieval);
            e->retrieval = NULL;
        }
    }
    if (!e->clip && !e->retrieval) {
        mmc_embedder_close(e);
        return NULL;
    }
    return e;
}

void mmc_embedder_close(mmc_embedder *e) {
    if (!e) return;
    mmc_retrieval_free(e->retrieval);
    mmc_clip_free(e->clip);
    mmc_free(e->id);
    mmc_free(e);
}

int mmc_embedder_dim(const mmc_embedder *e) { return e ? e->dim : 0; }
const char *mmc_embedder_id(const mmc_embedder *e) { return e ? e->id : ""; }
const char *mmc_embedder_kind(const mmc_embedder *e) {
    if (!e) return "";
    if (e->kind == EMB_CLIP) return mmc_clip_is_chinese(e->clip) ? "chinese_clip" : "clip";
    return e->kind == EMB_RETRIEVAL ? "retrieval" : "";
}
float mmc_embedder_logit_scale(const mmc_embedder *e) { return e ? e->logit_scale : 0.0f; }

/* The contract is unit rows whatever the backend; a backend that already normalises pays
 * one cheap pass. A zero row stays zero (nothing to point in a direction). */
static void normalise_rows(float *x, int n, int d) {
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * d;
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)r[k] * r[k];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (int k = 0; k < d; k++) r[k] *= inv;
        }
    }
}

/* A batch of n inputs (texts or image paths, what names them) into out. */
static int check_batch(const mmc_embedder *e, const char *const *in, int n, const float *out, const char *what,
                       mmc_error *err) {
    if (!e) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: NULL model");
    if (n < 0 || (n > 0 && (!in || !out)))
        return mmc_error_set(err, MMC_ERR_USAGE, "embedder: bad %s batch (n = %d)", what, n);
    for (int i = 0; i < n; i++)
        if (!in[i]) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: %s %d is NULL", what, i);
    return MMC_OK;
}

int mmc_embedder_texts(mmc_embedder *e, const char *const *texts, int n, float *out, mmc_error *err) {
    int rc = check_batch(e, texts, n, out, "text", err);
    if (rc || n == 0) return rc;
    rc = e->clip ? mmc_clip_embed_texts(e->clip, texts, n, out, err)
                 : mmc_retrieval_embed_texts(e->retrieval, texts, n, out, err);
    if (!rc) normalise_rows(out, n, e->dim);
    return rc;
}

int mmc_embedder_image_files(mmc_embedder *e, const char *const *paths, int n, float *out,
                             mmc_error *err) {
    int rc = check_batch(e, paths, n, out, "image path", err);
    if (rc || n == 0) return rc;
    rc = e->clip ? mmc_clip_embed_image_files(e->clip, paths, n, out, err)
                 : mmc_retrieval_embed_image_files(e->retrieval, paths, n, out, err);
    if (!rc) normalise_rows(out, n, e->dim);
    return rc;
}

int mmc_embedder_audio_files(mmc_embedder *e, const char *const *paths, int n, float *out, mmc_error *err) {
    int rc = check_batch(e, paths, n, out, "sound file path", err);
    if (rc || n == 0) return rc;
    if (e->clip) return mmc_error_set(err, MMC_ERR_USAGE, "%s: a CLIP model does not embed sound (an audio:image or audio:text "
                                      "run of `mmc train retrieval --pair` does)", e->id);
    rc = mmc_retrieval_embed_audio_files(e->retrieval, paths, n, out, err);
    if (!rc) normalise_rows(out, n, e->dim);
    return rc;
}

int mmc_embedder_has_audio(const mmc_embedder *e) {
    return e && e->retrieval && !strcmp(mmc_retrieval_query(e->retrieval), "audio");
}

int mmc_embedder_image_size(const mmc_embedder *e) {
    if (!e) return 0;
    return e->clip ? mmc_clip_image_size(e->clip) : mmc_retrieval_image_size(e->retrieval);
}

int mmc_embedder_image_to_chw(const mmc_embedder *e, const mmc_image *img, float *chw, mmc_error *err) {
    if (!e || !img || !chw) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: NULL argument");
    return e->clip ? mmc_clip_image_to_chw(e->clip, img, chw, err) : mmc_retrieval_image_to_chw(e->retrieval, img, chw, err);
}

int mmc_embedder_embed_chw(mmc_embedder *e, const float *chw, int n, float *out, mmc_error *err) {
    if (!e) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: NULL model");
    if (n < 0 || (n > 0 && (!chw || !out))) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: bad image batch (n = %d)", n);
    if (n == 0) return MMC_OK;
    int rc = e->clip ? mmc_clip_embed_chw(e->clip, chw, n, out, err) : mmc_retrieval_embed_chw(e->retrieval, chw, n, out, err);
    if (!rc) normalise_rows(out, n, e->dim);
    return rc;
}

int mmc_embedder_images(mmc_embedder *e, const mmc_image *images, int n, float *out, mmc_error *err) {
    if (!e) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: NULL model");
    if (n < 0 || (n > 0 && (!images || !out))) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: bad image batch (n = %d)", n);
    if (n == 0) return MMC_OK;
    int rc;
    if (e->clip) rc = mmc_clip_embed_images(e->clip, images, n, out, err);
    else {
        int S = mmc_retrieval_image_size(e->retrieval);
        float *chw = mmc_malloc(sizeof(float) * 3 * (size_t)S * S * (size_t)n);
        if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "embedder: out of memory");
        rc = MMC_OK;
        for (int i = 0; i < n && !rc; i++) rc = mmc_retrieval_image_to_chw(e->retrieval, &images[i], chw + (size_t)i * 3 * S * S, err);
        if (!rc) rc = mmc_retrieval_embed_chw(e->retrieval, chw, n, out, err);
        mmc_free(chw);
    }
    if (!rc) normalise_rows(out, n, e->dim);
    return rc;
}

/* ------------------------------------------------------------------ video */

void mmc_video_segments_free(mmc_video_segments *s) {
    if (!s) return;
    mmc_free(s->emb);
    mmc_free(s->t0);
    mmc_free(s->t1);
    memset(s, 0, sizeof *s);
}

int mmc_embedder_video_frames(const mmc_embedder *e) {
    return e && e->retrieval ? mmc_retrieval_video_frames(e->retrieval) : 0;
}

/* Embeds T decoded frames (T images of one size) as one segment into out (dim). */
static int embed_segment(mmc_embedder *e, const mmc_image *f, int T, float *scratch, float *out, mmc_error *err) {
    int D = e->dim, rc;
    if (e->retrieval && mmc_retrieval_video_frames(e->retrieval) > 0) { /* a text:video run: one clip */
        int S = mmc_retrieval_image_size(e->retrieval);
        for (int t = 0; t < T; t++)
            if ((rc = mmc_retrieval_image_to_chw(e->retrieval, &f[t], scratch + (size_t)t * 3 * S * S, err))) return rc;
        return mmc_retrieval_embed_clips(e->retrieval, scratch, 1, out, err);
    }
    /* meanP: each frame through the image tower, then the average */
    float *rows = scratch;
    if (e->clip) rc = mmc_clip_embed_images(e->clip, f, T, rows, err);
    else {
        int S = mmc_retrieval_image_size(e->retrieval);
        float *chw = scratch + (size_t)T * D;
        rc = MMC_OK;
        for (int t = 0; t < T && !rc; t++) rc = mmc_retrieval_image_to_chw(e->retrieval, &f[t], chw + (size_t)t * 3 * S * S, err);
        if (!rc) rc = mmc_retrieval_embed_chw(e->retrieval, chw, T, rows, err);
    }
    if (rc) return rc;
    normalise_rows(rows, T, D);
    for (int k = 0; k < D; k++) {
        double s = 0;
        for (int t = 0; t < T; t++) s += rows[(size_t)t * D + k];
        out[k] = (float)(s / T);
    }
    return MMC_OK;
}

int mmc_embedder_video_file(mmc_embedder *e, const char *path, double window, int frames, mmc_video_segments *out,
                            mmc_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!e || !path || !out) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: video_file needs a model, a path and out");
    int vt = mmc_embedder_video_frames(e), T = vt > 0 ? vt : frames > 0 ? frames : 8;
    if (T > 64) return mmc_error_set(err, MMC_ERR_USAGE, "embedder: %d frames per segment (at most 64)", T);
    if (window > 0 && T / window > 1000)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: a window of %g s is too short for %d frames (at most 1000 frames a second)", path,
                             window, T);
    /* frames at the model's size, short side resized and the centre square (CLIP: bicubic,
     * at its crop size, as its preprocessing makes them) */
    int S = e->clip ? mmc_clip_image_size(e->clip) : mmc_retrieval_image_size(e->retrieval);
    mmc_video v = {0};
    mmc_video_opts o = mmc_video_opts_default();
    o.frames = T;
    o.size = S;
    if (e->clip) o.resample = MMC_RESAMPLE_BICUBIC;
    int rc = mmc_video_load(&v, path, &o, err);
    if (rc) return rc;
    double start = v.info.start, dur = v.info.duration;
    int nseg = 1;
    if (window > 0 && dur > window) {
        double ns = ceil(dur / window - 1e-9);
        if (ns > 100000) { mmc_video_free(&v); return mmc_error_set(err, MMC_ERR_INPUT, "%s: %.0f segments of %g s is too many", path, ns, window); }
        nseg = (int)ns;
        mmc_video_free(&v);
        o.frames = 0;
        o.fps = T / window; /* T instants per window */
        if ((rc = mmc_video_load(&v, path, &o, err))) return rc;
        if (v.n < 1) { mmc_video_free(&v); return mmc_error_set(err, MMC_ERR_INPUT, "%s: no frames", path); }
    }
    int D = e->dim;
    size_t sc = (size_t)T * ((size_t)D + (e->retrieval ? (size_t)3 * S * S : 0));
    float *scratch = mmc_malloc(sizeof(float) * sc);
    mmc_image *f = mmc_malloc(sizeof(*f) * (size_t)T);
    out->emb = mmc_malloc(sizeof(float) * (size_t)nseg * D);
    out->t0 = mmc_malloc(sizeof(double) * (size_t)nseg);
    out->t1 = mmc_malloc(sizeof(double) * (size_t)nseg);
    if (!scratch || !f || !out->emb || !out->t0 || !out->t1) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    for (int j = 0; j < nseg && !rc; j++) {
        for (int t = 0; t < T; t++) { /* a short last segment repeats its last frame */
            int k = nseg == 1 ? t : j * T + t;
            if (k >= v.n) k = v.n - 1;
            f[t] = v.frames[k];
        }
        out->t0[j] = nseg == 1 ? start : start + j * window;
        out->t1[j] = nseg == 1 ? start + dur : fmin(start + (j + 1) * window, start + dur);
        rc = embed_segment(e, f, T, scratch, out->emb + (size_t)j * D, err);
        if (rc && err) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            mmc_error_set(err, rc, "%s: %.900s", path, msg);
        }
        out->n = j + 1;
    }
    if (!rc) normalise_rows(out->emb, out->n, D);
    mmc_free(scratch);
    mmc_free(f);
    mmc_video_free(&v);
    if (rc) mmc_video_segments_free(out);
    return rc;
}

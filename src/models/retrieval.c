/* retrieval.c — the dual encoder as an object: create, forward, loss, save/load a run
 * folder, preprocessing and the inference helpers the embedder builds on.
 *
 * Run folder (docs/retrieval.md): config.json = every config key plus "tokenizer" (the
 * word/char vocabulary built from the training captions); model.safetensors = every
 * parameter and buffer under its dotted name. Both are read as hostile input: unknown
 * keys, wrong types, out-of-range sizes, a missing or malformed vocabulary, and tensors
 * whose names or shapes differ from what the config builds are MMC_ERR_INPUT naming the
 * file. */
#include "retrieval_internal.h"
#include "task_util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static mmc_retrieval *create(const mmc_retrieval_config *cfg, mmc_tokenizer *tok, mmc_rng *rng, const char *name,
                             mmc_error *err) {
    mmc_retrieval *m = NULL;
    int text = ret_has_text(cfg);
    if (!mmc_retrieval_config_check(cfg, name, err) && (!text || !task_build_check(cfg->max_len, tok, "retrieval model", name, err)) &&
        !(m = mmc_calloc(1, sizeof *m)))
        mmc_error_set(err, MMC_ERR_RUNTIME, "retrieval: out of memory");
    if (!m) {
        mmc_tokenizer_free(tok);
        return NULL;
    }
    m->cfg = *cfg;
    m->tok = tok;
    m->loss_kind = ret_loss_kind(cfg->loss);
    mmc_rng_seed(&m->drop_rng, 0x5eed, 99);
    if (ret_encoders_init(m, rng, err)) {
        mmc_retrieval_free(m);
        return NULL;
    }
    return m;
}

mmc_retrieval *mmc_retrieval_create(const mmc_retrieval_config *cfg, mmc_tokenizer *tok, uint64_t seed, mmc_error *err) {
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, 1);
    mmc_retrieval *m = create(cfg, tok, &rng, "config", err);
    if (m) mmc_rng_seed(&m->drop_rng, seed, 2);
    return m;
}

void mmc_retrieval_free(mmc_retrieval *m) {
    if (!m) return;
    mmc_params_free(&m->P);
    mmc_tokenizer_free(m->tok);
    mmc_free(m);
}

int mmc_retrieval_dim(const mmc_retrieval *m) { return m->cfg.embed_dim; }
int mmc_retrieval_image_size(const mmc_retrieval *m) { return m->cfg.image_size; }
mmc_params *mmc_retrieval_params(mmc_retrieval *m) { return &m->P; }
const mmc_retrieval_config *mmc_retrieval_get_config(const mmc_retrieval *m) { return &m->cfg; }
const mmc_tokenizer *mmc_retrieval_tokenizer(const mmc_retrieval *m) { return m->tok; }
mmc_rng *mmc_retrieval_dropout_rng(mmc_retrieval *m) { return &m->drop_rng; }

mmc_tensor *mmc_retrieval_encode_images(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *images, int training) {
    if (m->text_target) return mmc_op_fail(ctx, MMC_ERR_USAGE, "retrieval: an audio:text model embeds clips and texts, not images");
    if (m->video) return mmc_op_fail(ctx, MMC_ERR_USAGE, "retrieval: a text:video model embeds clips, not images");
    return ret_image_forward(ctx, m, images, training);
}
mmc_tensor *mmc_retrieval_encode_clips(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *frames, int training) {
    if (!m->video) return mmc_op_fail(ctx, MMC_ERR_USAGE, "retrieval: a text:image model embeds images, not clips");
    return ret_video_forward(ctx, m, frames, training);
}
int mmc_retrieval_video_frames(const mmc_retrieval *m) { return m->video ? m->vid.T : 0; }
mmc_tensor *mmc_retrieval_encode_texts(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids, const int32_t *mask, int B,
                                       int T, int training) {
    if (!m->tok) return mmc_op_fail(ctx, MMC_ERR_USAGE, "retrieval: an audio:image model has no text tower");
    return ret_text_forward_ngrams(ctx, m, ids, mask, NULL, B, T, training);
}

/* ---------------------------------------------------------------- losses
 * src/loss over a batch of B matching pairs (row i of img matches row i of txt; both
 * L2-normalised by the encoders).
 *   infonce          mmc_loss_infonce, CLIP's scale clamp at log 100 (the trainer also
 *                    clamps the parameter after each step)
 *   triplet(_hardest) mmc_loss_triplet, summed over negatives or the hardest one, / B
 *   contrastive      mmc_loss_contrastive, Euclidean distance
 *   cosine           mmc_loss_cosine_embedding
 * The last two are meant as mean over positives + mean over negatives, so the B² - B
 * negatives do not drown the B positives. src/loss averages over all its pairs, so it is
 * called with one negative per anchor (P = 2B pairs, drawn from the model's dropout rng,
 * which trainer.json saves) and the result doubled: 2·L = mean over the B positives +
 * mean over B sampled negatives, whose expectation (value and gradient) is the
 * every-negative mean. */
mmc_tensor *mmc_retrieval_loss(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *img, mmc_tensor *txt) {
    if (!img || !txt) return NULL;
    int B = img->shape[0];
    float mg = m->cfg.margin;
    switch (m->loss_kind) {
    case RET_LOSS_INFONCE: return mmc_loss_infonce(ctx, img, txt, m->logit_scale, logf(100.0f));
    case RET_LOSS_TRIPLET: return mmc_loss_triplet(ctx, img, txt, mg, 0);
    case RET_LOSS_TRIPLET_HARDEST: return mmc_loss_triplet(ctx, img, txt, mg, 1);
    default: break;
    }
    int n_neg = B > 1 ? 1 : 0; /* a batch of one has no negatives: the positive alone */
    mmc_tensor *l = m->loss_kind == RET_LOSS_CONTRASTIVE
                        ? mmc_loss_contrastive(ctx, img, txt, mg, MMC_DIST_EUCLIDEAN, n_neg, &m->drop_rng)
                        : mmc_loss_cosine_embedding(ctx, img, txt, mg, n_neg, &m->drop_rng);
    return n_neg ? mmc_scale(ctx, l, 2.0f) : l;
}

mmc_tensor *ret_audio_loss(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *ie, mmc_tensor *qe, mmc_tensor *xe) {
    mmc_tensor *l = mmc_retrieval_loss(ctx, m, ie, qe);
    if (!xe) return l;
    return mmc_add(ctx, l, mmc_add(ctx, mmc_retrieval_loss(ctx, m, ie, xe), mmc_retrieval_loss(ctx, m, xe, qe)));
}

/* ------------------------------------------------------------ save / load */

char *ret_config_text(const mmc_retrieval *m, const char *run_dir, mmc_error *err) {
    return task_config_text(mmc_retrieval_config_to_json(&m->cfg), m->tok, NULL, run_dir, err);
}

int mmc_retrieval_save(const mmc_retrieval *m, const char *run_dir, const char *weights, mmc_error *err) {
    char *text = ret_config_text(m, run_dir, err);
    int rc = text ? task_save(&m->P, text, run_dir, weights, "mmc-retrieval", err) : err && err->code ? err->code : MMC_ERR_RUNTIME;
    mmc_free(text);
    return rc;
}

mmc_retrieval *mmc_retrieval_load_weights(const char *run_dir, const char *weights, mmc_error *err) {
    char path[4096];
    mmc_retrieval_config cfg = mmc_retrieval_config_default();
    cfg.max_len = 0;
    strcpy(cfg.cnn_norm, "batch"); /* run folders from before the key existed used BatchNorm */
    mmc_tokenizer *tok = NULL;
    /* the settings first: an audio:image run has no text tower and no vocabulary */
    if (task_read_config(run_dir, &RET_CONFIG, &cfg, NULL, NULL, path, err)) return NULL;
    if (ret_has_text(&cfg) && task_read_config(run_dir, &RET_CONFIG, &cfg, &tok, NULL, path, err))
        return NULL;
    mmc_retrieval *m = create(&cfg, tok, NULL, path, err);
    if (m && task_load_weights(&m->P, run_dir, weights, err)) {
        mmc_retrieval_free(m);
        return NULL;
    }
    return m;
}

mmc_retrieval *mmc_retrieval_load(const char *run_dir, mmc_error *err) {
    return mmc_retrieval_load_weights(run_dir, NULL, err);
}

/* ------------------------------------------------------------ inference */

int mmc_retrieval_image_to_chw(const mmc_retrieval *m, const mmc_image *img, float *out, mmc_error *err) {
    return task_image_to_chw(img, m->cfg.image_size, out, "retrieval", err);
}

enum { EMBED_CHUNK = 128 };

int mmc_retrieval_embed_chw(mmc_retrieval *m, const float *chw, int n, float *out, mmc_error *err) {
    int S = m->cfg.image_size, E = m->cfg.embed_dim;
    if (m->video) return mmc_error_set(err, MMC_ERR_USAGE, "retrieval: a text:video model embeds clips, not images");
    if (m->text_target) return mmc_error_set(err, MMC_ERR_USAGE, "retrieval: an audio:text model embeds sound and texts, not images");
    mmc_ctx *ctx = mmc_ctx_new();
    if (!ctx) return mmc_error_set(err, MMC_ERR_RUNTIME, "retrieval: out of memory");
    mmc_grad_mode(ctx, 0);
    int rc = MMC_OK;
    for (int at = 0; at < n && !rc; at += EMBED_CHUNK) {
        int B = n - at < EMBED_CHUNK ? n - at : EMBED_CHUNK;
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){B, 3, S, S}, chw + (size_t)at * 3 * S * S);
        mmc_tensor *e = ret_image_forward(ctx, m, x, 0);
        if (!e) rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "retrieval: %s", ctx->err.msg);
        else memcpy(out + (size_t)at * E, e->data, sizeof(float) * (size_t)B * E);
        mmc_ctx_reset(ctx);
    }
    mmc_ctx_free(ctx);
    return rc;
}

/* Clips: CLIP_CHUNK clips (CLIP_CHUNK·T frames) a forward. */
enum { CLIP_CHUNK = 32 };

int mmc_retrieval_embed_clips(mmc_retrieval *m, const float *chw, int n, float *out, mmc_error *err) {
    int S = m->cfg.image_size, E = m->cfg.embed_dim, T = mmc_retrieval_video_frames(m);
    if (!m->video) return mmc_error_set(err, MMC_ERR_USAGE, "retrieval: a text:image model embeds images, not clips");
    mmc_ctx *ctx = mmc_ctx_new();
    if (!ctx) return mmc_error_set(err, MMC_ERR_RUNTIME, "retrieval: out of memory");
    mmc_grad_mode(ctx, 0);
    int rc = MMC_OK;
    for (int at = 0; at < n && !rc; at += CLIP_CHUNK) {
        int B = n - at < CLIP_CHUNK ? n - at : CLIP_CHUNK;
        mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){B * T, 3, S, S}, chw + (size_t)at * T * 3 * S * S);
        mmc_tensor *e = ret_video_forward(ctx, m, x, 0);
        if (!e) rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "retrieval: %s", ctx->err.msg);
        else memcpy(out + (size_t)at * E, e->data, sizeof(float) * (size_t)B * E);
        mmc_ctx_reset(ctx);
    }
    mmc_ctx_free(ctx);
    return rc;
}

int mmc_retrieval_embed_texts(mmc_retrieval *m, const char *const *texts, int n, float *out, mmc_error *err) {
    int T = m->cfg.max_len, E = m->cfg.embed_dim;
    if (!m->tok) return mmc_error_set(err, MMC_ERR_USAGE, "retrieval: an audio:image model has no text tower (it embeds sound and images)");
    int32_t *ids = mmc_malloc(sizeof(int32_t) * (size_t)EMBED_CHUNK * T), *mask = mmc_malloc(sizeof(int32_t) * (size_t)EMBED_CHUNK * T);
    int32_t *ngr = m->ngram_emb ? mmc_malloc(sizeof(int32_t) * (size_t)EMBED_CHUNK * T * RET_NGRAM_MAX) : NULL;
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = MMC_OK;
    if (!ids || !mask || !ctx || (m->ngram_emb && !ngr)) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "retrieval: out of memory");
    if (ctx) mmc_grad_mode(ctx, 0);
    for (int at = 0; at < n && !rc; at += EMBED_CHUNK) {
        int B = n - at < EMBED_CHUNK ? n - at : EMBED_CHUNK;
        rc = mmc_tokenizer_encode_batch(m->tok, texts + at, B, T, ids, mask, err);
        if (rc) break;
        if (ngr) ret_subword_from_texts(m, texts + at, ids, mask, B, T, ngr);
        mmc_tensor *e = ret_text_forward_ngrams(ctx, m, ids, mask, ngr, B, T, 0);
        if (!e) rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "retrieval: %s", ctx->err.msg);
        else memcpy(out + (size_t)at * E, e->data, sizeof(float) * (size_t)B * E);
        mmc_ctx_reset(ctx);
    }
    mmc_ctx_free(ctx);
    mmc_free(ids);
    mmc_free(mask);
    mmc_free(ngr);
    return rc;
}

int mmc_retrieval_embed_image_files(mmc_retrieval *m, const char *const *paths, int n, float *out, mmc_error *err) {
    int S = m->cfg.image_size, E = m->cfg.embed_dim;
    float *chw = mmc_malloc(sizeof(float) * (size_t)EMBED_CHUNK * 3 * S * S);
    if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "retrieval: out of memory");
    int rc = MMC_OK;
    for (int at = 0; at < n && !rc; at += EMBED_CHUNK) {
        int B = n - at < EMBED_CHUNK ? n - at : EMBED_CHUNK;
        for (int b = 0; b < B && !rc; b++) {
            mmc_image img = {0};
            rc = mmc_image_load(&img, paths[at + b], 3, err);
            if (!rc) rc = mmc_retrieval_image_to_chw(m, &img, chw + (size_t)b * 3 * S * S, err);
            mmc_image_free(&img);
        }
        if (!rc) rc = mmc_retrieval_embed_chw(m, chw, B, out + (size_t)at * E, err);
    }
    mmc_free(chw);
    return rc;
}

/* ------------------------------------------------------------ audio (query "audio") */

const char *mmc_retrieval_query(const mmc_retrieval *m) { return m->cfg.query; }
const char *mmc_retrieval_target(const mmc_retrieval *m) { return m->cfg.target; }

enum { AUDIO_CHUNK = 64 };

/* The clips go through in order of length, AUDIO_CHUNK at a time, so a chunk pads little; a
 * clip's embedding does not depend on its chunk (enc_audio_forward), so the order changes
 * no value. */
int ret_embed_mels(mmc_retrieval *m, int n, void (*get)(void *user, int i, float *out, int T), const int *frames, void *user,
                   float *out, mmc_error *err) {
    int M = m->cfg.audio.n_mels, E = m->cfg.embed_dim;
    if (!m->audio) return mmc_error_set(err, MMC_ERR_USAGE, "retrieval: a %s:%s model does not embed sound", m->cfg.query, m->cfg.target);
    int Tmax = 1;
    for (int i = 0; i < n; i++) {
        if (frames[i] < 1 || frames[i] > m->cfg.audio.max_frames)
            return mmc_error_set(err, MMC_ERR_USAGE, "retrieval: clip %d has %d frames (1 to audio_max_frames %d)", i, frames[i],
                                 m->cfg.audio.max_frames);
        Tmax = frames[i] > Tmax ? frames[i] : Tmax;
    }
    float *buf = mmc_malloc(sizeof(float) * (size_t)AUDIO_CHUNK * M * Tmax);
    int *order = mmc_malloc(sizeof(int) * (size_t)(n ? n : 1)), len[AUDIO_CHUNK];
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = buf && order && ctx ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "retrieval: out of memory");
    if (ctx) mmc_grad_mode(ctx, 0);
    if (!rc) {
        for (int i = 0; i < n; i++) order[i] = i;
        if (task_sort_by_length(order, n, frames)) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "retrieval: out of memory");
    }
    for (int at = 0; at < n && !rc; at += AUDIO_CHUNK) {
        int B = n - at < AUDIO_CHUNK ? n - at : AUDIO_CHUNK, T = 1;
        for (int b = 0; b < B; b++) len[b] = frames[order[at + b]], T = len[b] > T ? len[b] : T;
        for (int b = 0; b < B; b++) get(user, order[at + b], buf + (size_t)b * M * T, T);
        mmc_tensor *x = mmc_tensor_from(ctx, 3, (int[]){B, M, T}, buf);
        mmc_tensor *e = ret_audio_forward(ctx, m, x, len, 0);
        if (!e) rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "retrieval: %s", ctx->err.msg);
        else
            for (int b = 0; b < B; b++) memcpy(out + (size_t)order[at + b] * E, e->data + (size_t)b * E, sizeof(float) * (size_t)E);
        mmc_ctx_reset(ctx);
    }
    mmc_ctx_free(ctx);
    mmc_free(buf);
    mmc_free(order);
    return rc;
}

typedef struct mel_list {
    const float *const *mels;
    const int *frames;
    int M;
} mel_list;
/* clip i's (M, frames[i]) rows into (M, T), zero past its frames */
static void get_mel(void *user, int i, float *out, int T) {
    const mel_list *l = user;
    int F = l->frames[i];
    for (int f = 0; f < l->M; f++) {
        memcpy(out + (size_t)f * T, l->mels[i] + (size_t)f * F, sizeof(float) * (size_t)F);
        memset(out + (size_t)f * T + F, 0, sizeof(float) * (size_t)(T - F));
    }
}

int mmc_retrieval_embed_mels(mmc_retrieval *m, const float *const *mels, const int *frames, int n, float *out, mmc_error *err) {
    mel_list l = {mels, frames, m->cfg.audio.n_mels};
    return ret_embed_mels(m, n, get_mel, frames, &l, out, err);
}

int mmc_retrieval_embed_audio_files(mmc_retrieval *m, const char *const *paths, int n, float *out, mmc_error *err) {
    if (!m->audio) return mmc_error_set(err, MMC_ERR_USAGE, "retrieval: a %s:%s model does not embed sound", m->cfg.query, m->cfg.target);
    int E = m->cfg.embed_dim, rc = MMC_OK;
    mmc_logmel_opts lo = mmc_logmel_opts_whisper();
    lo.n_mels = m->cfg.audio.n_mels;
    for (int at = 0; at < n && !rc; at += AUDIO_CHUNK) {
        int B = n - at < AUDIO_CHUNK ? n - at : AUDIO_CHUNK;
        float *mels[AUDIO_CHUNK] = {0};
        int frames[AUDIO_CHUNK];
        for (int b = 0; b < B && !rc; b++) {
            mmc_audio au = {0};
            rc = mmc_audio_load(&au, paths[at + b], lo.rate, err);
            int64_t ns = au.n, cap = (int64_t)(m->cfg.audio.max_frames + 1) * lo.hop;
            if (!rc) rc = mmc_logmel(au.samples, ns < cap ? ns : cap, &lo, &mels[b], &frames[b], err);
            if (!rc && frames[b] > m->cfg.audio.max_frames) { /* longer than the model hears: its start */
                int F = frames[b], K = m->cfg.audio.max_frames;
                for (int f = 1; f < lo.n_mels; f++) memmove(mels[b] + (size_t)f * K, mels[b] + (size_t)f * F, sizeof(float) * (size_t)K);
                frames[b] = K;
            }
            if (rc && err && err->code == MMC_ERR_INPUT && !strstr(err->msg, paths[at + b])) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                mmc_error_set(err, MMC_ERR_INPUT, "%s: %s", paths[at + b], msg);
            }
            mmc_audio_free(&au);
        }
        if (!rc) rc = mmc_retrieval_embed_mels(m, (const float *const *)mels, frames, B, out + (size_t)at * E, err);
        for (int b = 0; b < B; b++) mmc_free(mels[b]);
    }
    return rc;
}

/* clip_embed.c — raw inputs to embeddings: strings are tokenised as transformers does for
 * the model (specials, truncation to the context with the end token kept, padding with
 * the pad id and a mask), image files are decoded and preprocessed as the folder's
 * preprocessor_config.json says. Inputs go through in batches of CLIP_BATCH so memory
 * stays bounded however many there are. */
#include "clip_internal.h"
#include <string.h>

#define CLIP_BATCH 16

int mmc_clip_tokenize(const mmc_clip *m, const char *const *texts, int n, int32_t **ids_out, int32_t **mask_out,
                      int *T_out, mmc_error *err) {
    *ids_out = *mask_out = NULL;
    *T_out = 0;
    if (!m->tok)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no tokenizer files (vocab.txt, tokenizer.json or vocab.json + "
                             "merges.txt)", m->dir);
    if (n < 1 || !texts) return mmc_error_set(err, MMC_ERR_USAGE, "clip tokenize: no texts");
    int32_t **rows = mmc_calloc((size_t)n, sizeof *rows);
    int *lens = mmc_calloc((size_t)n, sizeof *lens);
    int rc = MMC_OK, T = 1;
    if (!rows || !lens) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) {
        if (!texts[i]) { rc = mmc_error_set(err, MMC_ERR_USAGE, "clip tokenize: text %d is NULL", i); goto done; }
        if ((rc = mmc_tokenizer_encode(m->tok, texts[i], (size_t)-1, 1, m->context, &rows[i], &lens[i], err)))
            goto done;
        if (lens[i] > T) T = lens[i];
    }
    int pad = mmc_tokenizer_special_ids(m->tok).pad;
    if (pad < 0) pad = 0;
    int32_t *ids = mmc_malloc(sizeof(int32_t) * (size_t)n * T), *mask = mmc_malloc(sizeof(int32_t) * (size_t)n * T);
    if (!ids || !mask) {
        mmc_free(ids), mmc_free(mask);
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < T; j++) {
            ids[(size_t)i * T + j] = j < lens[i] ? rows[i][j] : pad;
            mask[(size_t)i * T + j] = j < lens[i];
        }
    *ids_out = ids, *mask_out = mask, *T_out = T;
done:
    if (rows)
        for (int i = 0; i < n; i++) mmc_free(rows[i]);
    mmc_free(rows);
    mmc_free(lens);
    return rc;
}

static int ctx_status(mmc_ctx *ctx, mmc_error *err) {
    int rc = ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME;
    mmc_error_set(err, rc, "%s", ctx->err.msg);
    return rc;
}

int mmc_clip_embed_texts(mmc_clip *m, const char *const *texts, int n, float *out, mmc_error *err) {
    int P = m->cfg.proj_dim;
    for (int at = 0; at < n; at += CLIP_BATCH) {
        int b = n - at < CLIP_BATCH ? n - at : CLIP_BATCH, T, rc;
        int32_t *ids, *mask;
        if ((rc = mmc_clip_tokenize(m, texts + at, b, &ids, &mask, &T, err))) return rc;
        mmc_ctx_reset(m->ctx);
        mmc_error_clear(&m->ctx->err);
        int prev = mmc_grad_mode(m->ctx, 0);
        mmc_clip_text_out o;
        rc = mmc_clip_text_forward(m->ctx, m, ids, mask, NULL, b, T, &o);
        mmc_grad_mode(m->ctx, prev);
        mmc_free(ids), mmc_free(mask);
        if (rc) return ctx_status(m->ctx, err);
        memcpy(out + (size_t)at * P, o.embeds->data, sizeof(float) * (size_t)b * P);
    }
    mmc_ctx_reset(m->ctx);
    return MMC_OK;
}

int mmc_clip_image_to_chw(const mmc_clip *m, const mmc_image *img, float *chw, mmc_error *err) {
    if (!m->have_pre)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no preprocessor_config.json (how images are resized and "
                             "normalised)", m->dir);
    int S = m->cfg.vision.image_size, rc;
    mmc_tensor *t = NULL;
    if ((rc = mmc_image_preprocess_run(&m->pre, img, &t, err))) return rc;
    if (t->numel != (int64_t)3 * S * S) {
        mmc_tensor_free(t);
        return mmc_error_set(err, MMC_ERR_INPUT, "image: preprocessed to the wrong size");
    }
    memcpy(chw, t->data, sizeof(float) * (size_t)t->numel);
    mmc_tensor_free(t);
    return MMC_OK;
}

int mmc_clip_embed_chw(mmc_clip *m, const float *chw, int n, float *out, mmc_error *err) {
    int P = m->cfg.proj_dim, S = m->cfg.vision.image_size;
    for (int at = 0; at < n; at += CLIP_BATCH) {
        int b = n - at < CLIP_BATCH ? n - at : CLIP_BATCH, rc;
        mmc_ctx_reset(m->ctx);
        mmc_error_clear(&m->ctx->err);
        mmc_tensor *px = mmc_tensor_empty(m->ctx, 4, (int[]){b, 3, S, S});
        if (!px) return ctx_status(m->ctx, err);
        memcpy(px->data, chw + (size_t)at * 3 * S * S, sizeof(float) * (size_t)b * 3 * S * S);
        int prev = mmc_grad_mode(m->ctx, 0);
        mmc_clip_vision_out o;
        rc = mmc_clip_vision_forward(m->ctx, m, px, &o);
        mmc_grad_mode(m->ctx, prev);
        if (rc) return ctx_status(m->ctx, err);
        memcpy(out + (size_t)at * P, o.embeds->data, sizeof(float) * (size_t)b * P);
    }
    mmc_ctx_reset(m->ctx);
    return MMC_OK;
}

int mmc_clip_embed_images(mmc_clip *m, const mmc_image *images, int n, float *out, mmc_error *err) {
    if (!m->have_pre)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no preprocessor_config.json (how images are resized and "
                             "normalised)", m->dir);
    int P = m->cfg.proj_dim, S = m->cfg.vision.image_size;
    size_t one = (size_t)3 * S * S;
    float *chw = mmc_malloc(sizeof(float) * one * (size_t)(n < CLIP_BATCH ? n : CLIP_BATCH) + 4);
    if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "clip: out of memory for a batch of images");
    int rc = MMC_OK;
    for (int at = 0; at < n && !rc; at += CLIP_BATCH) {
        int b = n - at < CLIP_BATCH ? n - at : CLIP_BATCH;
        for (int i = 0; i < b && !rc; i++)
            if ((rc = mmc_clip_image_to_chw(m, &images[at + i], chw + (size_t)i * one, err)) && err &&
                strstr(err->msg, "preprocessed to the wrong size"))
                mmc_error_set(err, MMC_ERR_INPUT, "image %d: preprocessed to the wrong size", at + i);
        if (!rc) rc = mmc_clip_embed_chw(m, chw, b, out + (size_t)at * P, err);
    }
    mmc_free(chw);
    return rc;
}

int mmc_clip_embed_image_files(mmc_clip *m, const char *const *paths, int n, float *out, mmc_error *err) {
    int P = m->cfg.proj_dim;
    for (int at = 0; at < n; at += CLIP_BATCH) {
        int b = n - at < CLIP_BATCH ? n - at : CLIP_BATCH, rc = MMC_OK, got = 0;
        mmc_image imgs[CLIP_BATCH];
        memset(imgs, 0, sizeof imgs);
        for (; got < b && !rc; got++) rc = mmc_image_load(&imgs[got], paths[at + got], 3, err);
        if (!rc) rc = mmc_clip_embed_images(m, imgs, b, out + (size_t)at * P, err);
        for (int i = 0; i < got; i++) mmc_image_free(&imgs[i]);
        if (rc) return rc;
    }
    return MMC_OK;
}

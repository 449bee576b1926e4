/* retrieval_encoders.c — the two towers of the dual encoder, on encoders of the registry
 * (src/models/encoder.h: image cnn/resnet/vit, text bag/gru/lstm/transformer).
 *
 * Image: x (B, 3, S, S) -> the encoder's final map, then pooling: "grid" average-pools it
 * to pool_grid × pool_grid and flattens it (B, C·g·g), so the projection sees where each
 * feature is — the captions are about left/right/above/below, which a global average
 * would throw away; "avg" is the usual global average (B, C). An encoder with a pooled
 * output (vit: its class token) gives that instead. A linear projection gives (B, E),
 * then L2 normalisation.
 *
 * Audio (query "audio"): log-mel clips -> the audio encoder's pooled feature -> a linear
 * projection to E and L2 normalisation.
 *
 * Text: ids (B, T) -> token embeddings (+ the mean of each token's subword trigram
 * embeddings, subword_buckets > 0) -> the text encoder's pooled feature -> a linear
 * projection to E and L2 normalisation. */
#include "retrieval_internal.h"
#include "internal.h"
#include <math.h>
#include <string.h>

static int image_init(mmc_retrieval *m, const enc_image_cfg *ic, mmc_rng *rng, mmc_error *err) {
    const mmc_retrieval_config *c = &m->cfg;
    enc_image *e = &m->img;
    if (enc_image_init(e, enc_image_find(c->image.encoder), ic, &m->P, "image_encoder", rng, &m->drop_rng, NULL, NULL, err))
        return err->code;
    m->img_kind = e->vt == enc_image_find("cnn") ? RET_IMG_CNN : 0;
    m->group_norm = e->cfg.norm == ENC_NORM_GROUP;
    m->n_conv = e->n_conv;
    m->bn = e->bn;
    if (enc_image_caps(e) & ENC_CAP_POOLED) { /* vit: its class token */
        m->img_feat = e->C;
    } else {
        if (!strcmp(c->image_pool, "grid")) {
            int g;
            if (enc_grid(e->side, c->pool_grid, &g, &m->grid_pool, "config", err)) return err->code;
            m->img_feat = e->C * g * g;
        } else {
            m->grid_pool = 0;
            m->img_feat = e->C;
        }
    }
    return mmc_nn_linear_init(&m->img_proj, &m->P, "image_encoder.proj", m->img_feat, c->embed_dim, 1, rng, err);
}

static int video_init(mmc_retrieval *m, mmc_rng *rng, mmc_error *err) {
    enc_video_cfg vc;
    ret_video_cfg(&m->cfg, &vc);
    if (enc_video_init(&m->vid, enc_video_find(vc.o.encoder), &vc, &m->P, "video_encoder", rng, &m->drop_rng, err))
        return err->code;
    enc_image *e = &m->vid.frame;
    m->video = 1;
    m->img_kind = e->vt == enc_image_find("cnn") ? RET_IMG_CNN : 0;
    m->group_norm = e->cfg.norm == ENC_NORM_GROUP;
    m->n_conv = e->n_conv;
    m->bn = e->bn;
    m->img_feat = m->vid.out_dim;
    return mmc_nn_linear_init(&m->img_proj, &m->P, "video_encoder.proj", m->img_feat, m->cfg.embed_dim, 1, rng, err);
}

static int text_init(mmc_retrieval *m, const enc_text_cfg *tc, mmc_rng *rng, mmc_error *err) {
    const mmc_retrieval_config *c = &m->cfg;
    int V = mmc_tokenizer_vocab_size(m->tok), D = c->text.word_dim;
    if (enc_text_init_embedding(&m->txt, enc_text_find(c->text.encoder), tc, &m->P, "text_encoder", V, rng, &m->drop_rng, err))
        return err->code;
    if (c->subword_buckets > 0) { /* text_encoder.ngram_embedding.weight, nn.Embedding's N(0, 1) */
        m->ngram_emb = mmc_params_new(&m->P, "text_encoder.ngram_embedding", "weight", MMC_PARAM, 2,
                                      (int[]){c->subword_buckets, D}, err);
        if (!m->ngram_emb) return err->code;
        if (rng) mmc_init_normal(m->ngram_emb, 0.0f, 1.0f, rng);
    }
    if (enc_text_init(&m->txt, &m->P, "text_encoder", rng, err)) return err->code;
    m->txt_feat = m->txt.out_dim;
    return mmc_nn_linear_init(&m->txt_proj, &m->P, "text_encoder.proj", m->txt_feat, c->embed_dim, 1, rng, err);
}

static int audio_init(mmc_retrieval *m, mmc_rng *rng, mmc_error *err) {
    enc_audio_cfg ac;
    ret_audio_cfg(&m->cfg, &ac);
    if (enc_audio_init(&m->aud, enc_audio_find(ac.o.encoder), &ac, &m->P, "audio_encoder", rng, &m->drop_rng, err)) return err->code;
    return mmc_nn_linear_init(&m->aud_proj, &m->P, "audio_encoder.proj", m->aud.out_dim, m->cfg.embed_dim, 1, rng, err);
}

/* The towers in parameter order: the target (image, video or text), then the query (text
 * or audio). */
int ret_encoders_init(mmc_retrieval *m, mmc_rng *rng, mmc_error *err) {
    enc_image_cfg ic;
    enc_text_cfg tc;
    ret_encoder_cfgs(&m->cfg, &ic, &tc);
    m->audio = !strcmp(m->cfg.query, "audio");
    m->text_target = !strcmp(m->cfg.target, "text");
    int rc = !strcmp(m->cfg.target, "video") ? video_init(m, rng, err) : m->text_target ? MMC_OK : image_init(m, &ic, rng, err);
    if (!rc && ret_has_text(&m->cfg)) rc = text_init(m, &tc, rng, err);
    if (!rc && m->audio) rc = audio_init(m, rng, err);
    if (rc) return rc;
    m->logit_scale = mmc_params_new(&m->P, NULL, "logit_scale", m->cfg.learn_temperature ? MMC_PARAM : MMC_BUFFER, 1,
                                    (int[]){1}, err);
    if (!m->logit_scale) return err->code;
    m->logit_scale->data[0] = logf(1.0f / m->cfg.temperature);
    return MMC_OK;
}

// x (B, 3, S, S) -> (B, E), L2-normalised
mmc_tensor *ret_image_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *x, int training) {
    int B = x ? x->shape[0] : 0;
    mmc_tensor *h;
    if (enc_image_caps(&m->img) & ENC_CAP_POOLED) h = m->img.vt->pooled(ctx, &m->img, x, training); // (B, D)
    else {
        h = enc_image_map(ctx, &m->img, x, training);                             // (B, C, s, s)
        if (m->grid_pool == 0) h = mmc_global_avg_pool2d(ctx, h);                  // (B, C)
        else {
            if (m->grid_pool > 1) h = mmc_avg_pool2d(ctx, h, m->grid_pool, m->grid_pool, 0); // (B, C, g, g)
            h = mmc_reshape(ctx, h, 2, (int[]){B, m->img_feat});                  // (B, C·g·g)
        }
    }
    h = mmc_nn_linear_forward(ctx, &m->img_proj, h);                               // (B, E)
    return mmc_l2_normalize(ctx, h, 1e-12f);
}

// x (B·T, 3, S, S) -> (B, E), L2-normalised
mmc_tensor *ret_video_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *x, int training) {
    mmc_tensor *h = enc_video_forward(ctx, &m->vid, x, training);              // (B, F)
    h = mmc_nn_linear_forward(ctx, &m->img_proj, h);                           // (B, E)
    return mmc_l2_normalize(ctx, h, 1e-12f);
}

mmc_tensor *ret_target_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *x, int training) {
    return m->video ? ret_video_forward(ctx, m, x, training) : ret_image_forward(ctx, m, x, training);
}

// mel (B, n_mels, T), len (B) -> (B, E), L2-normalised
mmc_tensor *ret_audio_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *mel, const int *len, int training) {
    mmc_tensor *h = enc_audio_forward(ctx, &m->aud, mel, len, training); // (B, F)
    h = mmc_nn_linear_forward(ctx, &m->aud_proj, h);                      // (B, E)
    return mmc_l2_normalize(ctx, h, 1e-12f);
}

/* Mean of the trigram embeddings of each token: (B, Te, D), or NULL + ctx error. */
static mmc_tensor *ngram_mean(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids, const int32_t *ngr, int B, int T,
                              int Te) {
    const int G = RET_NGRAM_MAX;
    int32_t *own = NULL;
    if (!ngr) { /* from the ids: only for the Te columns used */
        own = mmc_arena_alloc(ctx->arena, sizeof(int32_t) * (size_t)B * T * G);
        if (!own) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "retrieval text encoder: out of memory");
        ret_subword_from_ids(m, ids, B, T, own);
        ngr = own;
    }
    int *idx = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B * Te * G);
    mmc_tensor *w = mmc_tensor_empty(ctx, 4, (int[]){B, Te, G, 1}); // 1/count per kept trigram, 0 elsewhere
    if (!idx || !w) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "retrieval text encoder: out of memory");
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Te; t++) {
            const int32_t *g = ngr + ((size_t)b * T + t) * G;
            int cnt = 0;
            while (cnt < G && g[cnt] >= 0) cnt++;
            for (int k = 0; k < G; k++) {
                size_t o = ((size_t)b * Te + t) * G + k;
                idx[o] = k < cnt && g[k] < m->cfg.subword_buckets ? g[k] : 0;
                w->data[o] = k < cnt ? 1.0f / (float)cnt : 0.0f;
            }
        }
    mmc_tensor *e = mmc_embedding(ctx, m->ngram_emb, idx, B * Te * G);           // (B·Te·G, D)
    e = mmc_reshape(ctx, e, 4, (int[]){B, Te, G, m->cfg.text.word_dim});
    return mmc_sum(ctx, mmc_mul(ctx, e, w), (int[]){2}, 1, 0);                  // (B, Te, D)
}

// ids, mask (B, T) -> (B, E), L2-normalised
mmc_tensor *ret_text_forward_ngrams(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids, const int32_t *mask,
                                    const int32_t *ngr, int B, int T, int training) {
    enc_text_batch tb;
    if (enc_text_batch_make(ctx, ids, mask, B, T, &tb)) return NULL;
    int Te = tb.Te;
    mmc_tensor *e = enc_text_embed(ctx, &m->txt, &tb); // (B, Te, D)
    if (m->ngram_emb) {
        /* fastText: an unknown word is its trigrams alone (the <unk> row never trains) */
        int unk = mmc_tokenizer_special_ids(m->tok).unk;
        mmc_tensor *known = mmc_tensor_empty(ctx, 3, (int[]){B, Te, 1});
        if (!known) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "retrieval text encoder: out of memory");
        for (int i = 0; i < B * Te; i++) known->data[i] = tb.ids[i] == unk ? 0.0f : 1.0f;
        e = mmc_add(ctx, mmc_mul(ctx, e, known), ngram_mean(ctx, m, ids, ngr, B, T, Te)); // + subword trigrams
    }
    mmc_tensor *feat = enc_text_forward(ctx, &m->txt, e, &tb, training); // (B, F)
    mmc_tensor *p = mmc_nn_linear_forward(ctx, &m->txt_proj, feat);   // (B, E)
    return mmc_l2_normalize(ctx, p, 1e-12f);
}

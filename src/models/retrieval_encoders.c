/* retrieval_encoders.c — the two towers of the dual encoder.
 *
 * Image: x (B, 3, S, S) ->
 *   cnn     stages of [3×3 conv stride 2 + BN + ReLU] (+ a 3×3 stride-1 conv when
 *           cnn_depth = 2); each stage halves the side, so 64 px and 4 stages end at 4×4.
 *   resnet  mmc_nn_resnet (3×3 stride-1 stem, basic blocks), run block by block here so
 *           the final map can be pooled our way.
 *   vit     mmc_nn_vit's class token.
 * then pooling: "grid" average-pools the final map to pool_grid × pool_grid and flattens
 * it (B, C·g·g), so the projection sees where each feature is — the captions are about
 * left/right/above/below, which a global average would throw away; "avg" is the usual
 * global average (B, C). A linear projection gives (B, E), then L2 normalisation.
 *
 * Text: ids (B, T) ->
 *   bag          masked mean of token embeddings (order-blind: a baseline)
 *   gru / lstm   token embeddings through 1-2 recurrent layers; the state after each
 *                row's last real token (padding steps leave the state unchanged)
 *   transformer  embeddings + learned positions, pre-LN encoder blocks with the padding
 *                masked, final LayerNorm, masked mean
 * then a linear projection to E and L2 normalisation.
 *
 * The recurrent layers are src/nn/rnn.c's fused, batch-first mmc_nn_gru / mmc_nn_lstm
 * (registered as text_encoder.rnn.weight_ih_l0 etc., torch's names), run with each row's
 * caption length so the final state h_n of the last layer is the state after the last
 * real token. */
#include "retrieval_internal.h"
#include "internal.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static int n_stages(const mmc_retrieval_config *c) {
    int n = 0;
    while (n < 6 && c->cnn_widths[n] > 0) n++;
    return n;
}

static int image_init(mmc_retrieval *m, mmc_rng *rng, mmc_error *err) {
    const mmc_retrieval_config *c = &m->cfg;
    char name[64];
    int C = 0, side = c->image_size;
    if (m->img_kind == RET_IMG_CNN) {
        int in = 3, ns = n_stages(c);
        m->group_norm = !strcmp(c->cnn_norm, "group");
        m->n_conv = 0;
        for (int s = 0; s < ns; s++) {
            for (int d = 0; d < c->cnn_depth; d++) {
                int i = m->n_conv++;
                snprintf(name, sizeof name, "image_encoder.conv.%d", i);
                if (mmc_nn_conv2d_init(&m->conv[i], &m->P, name, in, c->cnn_widths[s], 3, d == 0 ? 2 : 1, 1, 0, rng, err))
                    return err->code;
                if (m->group_norm) { /* torch's nn.GroupNorm: weight 1, bias 0 */
                    snprintf(name, sizeof name, "image_encoder.gn.%d", i);
                    int w = c->cnn_widths[s], g = c->norm_groups;
                    for (int a = w; a;) { int r = g % a; g = a; a = r; } /* g = gcd(w, norm_groups) */
                    m->gn_groups[i] = g;
                    m->gn_w[i] = mmc_params_new(&m->P, name, "weight", MMC_PARAM, 1, &w, err);
                    m->gn_b[i] = m->gn_w[i] ? mmc_params_new(&m->P, name, "bias", MMC_PARAM, 1, &w, err) : NULL;
                    if (!m->gn_b[i]) return err->code;
                    for (int j = 0; j < w; j++) m->gn_w[i]->data[j] = 1.0f, m->gn_b[i]->data[j] = 0.0f;
                } else {
                    snprintf(name, sizeof name, "image_encoder.bn.%d", i);
                    if (mmc_nn_batchnorm_init(&m->bn[i], &m->P, name, c->cnn_widths[s], err)) return err->code;
                }
                in = c->cnn_widths[s];
            }
            side = (side + 1) / 2;
        }
        C = in;
    } else if (m->img_kind == RET_IMG_RESNET) {
        mmc_nn_resnet_cfg rc = mmc_nn_resnet_layout(18);
        memcpy(rc.layers, c->resnet_layers, sizeof rc.layers);
        memcpy(rc.widths, c->resnet_widths, sizeof rc.widths);
        rc.stem = MMC_STEM_SMALL;
        rc.num_classes = 0;
        if (mmc_nn_resnet_init(&m->resnet, &m->P, "image_encoder", &rc, rng, err)) return err->code;
        for (int s = 1; s < 4; s++) side = (side + 1) / 2; /* stages 2-4 have stride 2 */
        C = m->resnet.out_dim;
    } else {
        if (c->image_size % c->vit_patch)
            return mmc_error_set(err, MMC_ERR_INPUT, "config: image_size %d is not a multiple of vit_patch %d", c->image_size, c->vit_patch);
        mmc_nn_vit_cfg vc = {c->image_size, c->vit_patch, 3, c->vit_dim, c->vit_depth, c->vit_heads, 4 * c->vit_dim,
                             MMC_ACT_GELU, 0, c->dropout, 1e-6f};
        if (mmc_nn_vit_init(&m->vit, &m->P, "image_encoder", &vc, rng, err)) return err->code;
        m->img_feat = c->vit_dim;
    }
    if (m->img_kind != RET_IMG_VIT) {
        m->grid = side;
        if (!strcmp(c->image_pool, "grid")) {
            int g = c->pool_grid < side ? c->pool_grid : side;
            if (side % g)
                return mmc_error_set(err, MMC_ERR_INPUT, "config: the final %dx%d feature map does not divide into a %dx%d grid "
                                     "(change image_size or pool_grid)", side, side, g, g);
            m->grid_pool = side / g;
            m->img_feat = C * g * g;
        } else {
            m->grid_pool = 0;
            m->img_feat = C;
        }
    }
    return mmc_nn_linear_init(&m->img_proj, &m->P, "image_encoder.proj", m->img_feat, c->embed_dim, 1, rng, err);
}

static int text_init(mmc_retrieval *m, mmc_rng *rng, mmc_error *err) {
    const mmc_retrieval_config *c = &m->cfg;
    int V = mmc_tokenizer_vocab_size(m->tok), D = c->word_dim, H = c->text_hidden;
    if (mmc_nn_embedding_init(&m->tok_emb, &m->P, "text_encoder.embedding", V, D, rng, err)) return err->code;
    if (c->subword_buckets > 0) { /* text_encoder.ngram_embedding.weight, nn.Embedding's N(0, 1) */
        m->ngram_emb = mmc_params_new(&m->P, "text_encoder.ngram_embedding", "weight", MMC_PARAM, 2,
                                      (int[]){c->subword_buckets, D}, err);
        if (!m->ngram_emb) return err->code;
        if (rng) mmc_init_normal(m->ngram_emb, 0.0f, 1.0f, rng);
    }
    if (m->txt_kind == RET_TXT_GRU || m->txt_kind == RET_TXT_LSTM) {
        if (c->text_layers < 1 || c->text_layers > RET_MAX_RNN_LAYERS)
            return mmc_error_set(err, MMC_ERR_INPUT, "config: text_layers %d: the %s has 1 to %d", c->text_layers,
                                 c->text_encoder, RET_MAX_RNN_LAYERS);
        mmc_nn_rnn_opts o = mmc_nn_rnn_defaults();
        o.num_layers = c->text_layers;
        /* torch's RNN init, every tensor U(±1/sqrt(H)); loading (rng NULL) overwrites them */
        mmc_rng scratch;
        if (!rng) mmc_rng_seed(&scratch, 0, 0);
        mmc_rng *r = rng ? rng : &scratch;
        int rc = m->txt_kind == RET_TXT_GRU ? mmc_nn_gru_init(&m->rnn, &m->P, "text_encoder.rnn", D, H, o, r, err)
                                            : mmc_nn_lstm_init(&m->rnn, &m->P, "text_encoder.rnn", D, H, o, r, err);
        if (rc) return rc;
        m->txt_feat = H;
    } else if (m->txt_kind == RET_TXT_TRANSFORMER) {
        m->pos_emb = mmc_params_new(&m->P, "text_encoder", "pos_embedding", MMC_PARAM, 2, (int[]){c->max_len, D}, err);
        if (!m->pos_emb) return err->code;
        if (rng) mmc_init_normal(m->pos_emb, 0.0f, 0.02f, rng);
        if (c->text_layers > RET_MAX_TF_LAYERS)
            return mmc_error_set(err, MMC_ERR_INPUT, "config: text_layers %d: the transformer has at most %d", c->text_layers, RET_MAX_TF_LAYERS);
        mmc_nn_block_cfg bc = mmc_nn_block_defaults(D, c->text_heads);
        bc.mlp_dim = 4 * D;
        bc.act = MMC_ACT_GELU;
        bc.norm_first = 1;
        bc.dropout = c->dropout;
        for (int l = 0; l < c->text_layers; l++) {
            char n[64];
            snprintf(n, sizeof n, "text_encoder.layers.%d", l);
            if (mmc_nn_encoder_layer_init(&m->tf[l], &m->P, n, &bc, rng, err)) return err->code;
        }
        if (mmc_nn_layernorm_init(&m->tf_ln, &m->P, "text_encoder.ln", D, 1e-5f, err)) return err->code;
        m->txt_feat = D;
    } else {
        m->txt_feat = D;
    }
    return mmc_nn_linear_init(&m->txt_proj, &m->P, "text_encoder.proj", m->txt_feat, c->embed_dim, 1, rng, err);
}

int ret_encoders_init(mmc_retrieval *m, mmc_rng *rng, mmc_error *err) {
    int rc = image_init(m, rng, err);
    if (!rc) rc = text_init(m, rng, err);
    if (rc) return rc;
    m->logit_scale = mmc_params_new(&m->P, NULL, "logit_scale", m->cfg.learn_temperature ? MMC_PARAM : MMC_BUFFER, 1,
                                    (int[]){1}, err);
    if (!m->logit_scale) return err->code;
    m->logit_scale->data[0] = logf(1.0f / m->cfg.temperature);
    return MMC_OK;
}

// x (B, 3, S, S) -> (B, E), L2-normalised
mmc_tensor *ret_image_forward(mmc_ctx *ctx, mmc_retrieval *m, mmc_tensor *x, int training) {
    mmc_tensor *h = x;
    int B = x ? x->shape[0] : 0;
    if (m->img_kind == RET_IMG_CNN) {
        /* bn_eval "batch": outside training, normalise with the statistics of the images
         * at hand (no running tensors: nothing is updated), as training did. */
        int batch_stats = !training && !strcmp(m->cfg.bn_eval, "batch");
        for (int i = 0; i < m->n_conv; i++) {
            mmc_nn_batchnorm *bn = &m->bn[i];
            h = mmc_nn_conv2d_forward(ctx, &m->conv[i], h);
            if (m->group_norm) h = mmc_relu(ctx, mmc_group_norm(ctx, h, m->gn_groups[i], m->gn_w[i], m->gn_b[i], 1e-5f));
            else h = batch_stats ? mmc_batch_norm_act(ctx, h, bn->weight, bn->bias, NULL, NULL, 0, bn->momentum, bn->eps, NULL, 1)
                                 : mmc_nn_batchnorm_act_forward(ctx, bn, h, training, NULL, 1);
        }
    } else if (m->img_kind == RET_IMG_RESNET) {
        mmc_nn_resnet *r = &m->resnet;
        h = mmc_nn_batchnorm_act_forward(ctx, &r->bn1, mmc_nn_conv2d_forward(ctx, &r->conv1, h), training, NULL, 1);
        for (int i = 0; i < r->n_blocks; i++) h = mmc_nn_resnet_block_forward(ctx, &r->blocks[i], h, training);
    } else {
        h = mmc_nn_vit_forward(ctx, &m->vit, h, training, &m->drop_rng); // (B, D)
    }
    if (m->img_kind != RET_IMG_VIT) {
        if (m->grid_pool == 0) h = mmc_global_avg_pool2d(ctx, h);                  // (B, C)
        else {
            if (m->grid_pool > 1) h = mmc_avg_pool2d(ctx, h, m->grid_pool, m->grid_pool, 0); // (B, C, g, g)
            h = mmc_reshape(ctx, h, 2, (int[]){B, m->img_feat});                  // (B, C·g·g)
        }
    }
    h = mmc_nn_linear_forward(ctx, &m->img_proj, h);                               // (B, E)
    return mmc_l2_normalize(ctx, h, 1e-12f);
}

mmc_tensor *ret_text_forward(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids, const int32_t *mask, int B, int T,
                             int training) {
    return ret_text_forward_ngrams(ctx, m, ids, mask, NULL, B, T, training);
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
    e = mmc_reshape(ctx, e, 4, (int[]){B, Te, G, m->cfg.word_dim});
    return mmc_sum(ctx, mmc_mul(ctx, e, w), (int[]){2}, 1, 0);                  // (B, Te, D)
}

// ids, mask (B, T) -> (B, E), L2-normalised
mmc_tensor *ret_text_forward_ngrams(mmc_ctx *ctx, mmc_retrieval *m, const int32_t *ids, const int32_t *mask,
                                    const int32_t *ngr, int B, int T, int training) {
    /* Only as many steps as the longest caption of this batch: the rest is padding. */
    int Te = 1;
    for (int b = 0; b < B; b++)
        for (int t = T - 1; t >= Te; t--)
            if (mask[(size_t)b * T + t]) { Te = t + 1; break; }
    int D = m->cfg.word_dim;
    int *idb = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B * Te);
    mmc_tensor *mk = mmc_tensor_empty(ctx, 2, (int[]){B, Te}); // (B, Te) float mask
    if (!idb || !mk) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "retrieval text encoder: out of memory");
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Te; t++) {
            idb[b * Te + t] = ids[(size_t)b * T + t];
            mk->data[b * Te + t] = mask[(size_t)b * T + t] ? 1.0f : 0.0f;
        }
    mmc_tensor *e = mmc_nn_embedding_forward(ctx, &m->tok_emb, idb, 2, (int[]){B, Te}); // (B, Te, D)
    if (m->ngram_emb) {
        /* fastText: an unknown word is its trigrams alone (the <unk> row never trains) */
        int unk = mmc_tokenizer_special_ids(m->tok).unk;
        mmc_tensor *known = mmc_tensor_empty(ctx, 3, (int[]){B, Te, 1});
        if (!known) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "retrieval text encoder: out of memory");
        for (int i = 0; i < B * Te; i++) known->data[i] = idb[i] == unk ? 0.0f : 1.0f;
        e = mmc_add(ctx, mmc_mul(ctx, e, known), ngram_mean(ctx, m, ids, ngr, B, T, Te)); // + subword trigrams
    }
    mmc_tensor *feat = NULL;
    if (m->txt_kind == RET_TXT_GRU || m->txt_kind == RET_TXT_LSTM) {
        /* lengths: the real tokens of each row (padding only follows them); a row with
         * none still runs one step, as the fused layer needs lengths >= 1. */
        int *len = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B);
        if (!len) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "retrieval text encoder: out of memory");
        for (int b = 0; b < B; b++) {
            len[b] = 0;
            for (int t = 0; t < Te; t++)
                if (mk->data[b * Te + t] != 0.0f) len[b] = t + 1;
            if (len[b] < 1) len[b] = 1;
        }
        mmc_tensor *hn = NULL;
        mmc_tensor *out = m->txt_kind == RET_TXT_GRU
                              ? mmc_nn_gru_forward(ctx, &m->rnn, e, NULL, len, training, NULL, &hn)
                              : mmc_nn_lstm_forward(ctx, &m->rnn, e, NULL, NULL, len, training, NULL, &hn, NULL);
        if (!out || !hn) return NULL;
        /* h_n (layers, B, H): the last layer's row is the sentence feature */
        int L = m->cfg.text_layers, H = m->cfg.text_hidden;
        feat = L == 1 ? mmc_reshape(ctx, hn, 2, (int[]){B, H})
                      : mmc_reshape(ctx, mmc_slice(ctx, hn, 0, L - 1, L), 2, (int[]){B, H});
    } else {
        mmc_tensor *x = e;
        if (m->txt_kind == RET_TXT_TRANSFORMER) {
            uint8_t *km = mmc_arena_alloc(ctx->arena, (size_t)B * Te);
            if (!km) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "retrieval text encoder: out of memory");
            for (int i = 0; i < B * Te; i++) km[i] = mk->data[i] != 0.0f;
            x = mmc_add(ctx, x, mmc_slice(ctx, m->pos_emb, 0, 0, Te)); // + positions (Te, D)
            for (int l = 0; l < m->cfg.text_layers; l++)
                x = mmc_nn_encoder_layer_forward(ctx, &m->tf[l], x, 0, km, training, &m->drop_rng);
            x = mmc_nn_layernorm_forward(ctx, &m->tf_ln, x);
        }
        /* masked mean over the real tokens: (B, Te, D) -> (B, D) */
        mmc_tensor *m3 = mmc_reshape(ctx, mk, 3, (int[]){B, Te, 1});
        mmc_tensor *sum = mmc_sum(ctx, mmc_mul(ctx, x, m3), (int[]){1}, 1, 0);
        mmc_tensor *cnt = mmc_sum(ctx, mk, (int[]){1}, 1, 1);                // (B, 1)
        feat = mmc_div(ctx, sum, mmc_add_scalar(ctx, cnt, 1e-6f));
        (void)D;
    }
    mmc_tensor *p = mmc_nn_linear_forward(ctx, &m->txt_proj, feat);   // (B, E)
    return mmc_l2_normalize(ctx, p, 1e-12f);
}

/* caption.c — the captioner as an object: create, the image encoder, the four decoders'
 * teacher-forced forward and loss, save/load of a run folder, preprocessing.
 *
 * Shapes (B images, T tokens per caption row incl. <start>/<end>, Te <= T the longest
 * real row of the batch, L regions, V words):
 *   encoder   an image encoder of the registry (src/models/encoder.h):
 *             x (B, 3, S, S) -> map (B, C, s, s) -> avg-pool to (B, C, g, g) -> (B, L, C)
 *             [an encoder with tokens, vit: its tokens (B, 1 + N, C)]
 *   regions   (B, L, C) -> proj + pos -> (B, L, Dm)   [transformer: + LayerNorm]
 *   global    (B, L*C) -> linear -> (B, Dg)           [lstm/gru only]
 *   logits    (B, Te - 1, V): position t predicts token t + 1.
 *
 * The run folder is read as hostile input, as the retrieval model's: unknown keys, bad
 * values, a missing vocabulary and tensors whose names or shapes differ from what the
 * config builds are MMC_ERR_INPUT naming the file. */
#include "caption_internal.h"
#include "internal.h"
#include "task_util.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ----------------------------------------------------------------- build */

static int image_init(mmc_captioner *m, mmc_rng *rng, mmc_error *err) {
    const mmc_caption_config *c = &m->cfg;
    m->T = 1;
    if (!strcmp(c->target, "video")) { /* the video encoder's tokens are the regions */
        enc_video_cfg vc;
        cap_video_cfg(c, &vc);
        if (enc_video_init(&m->vid, enc_video_find(vc.o.encoder), &vc, &m->P, "video_encoder", rng, &m->drop_rng, err))
            return err->code;
        m->video = 1;
        m->T = m->vid.T;
        m->L = m->vid.tok_L;
        m->C = m->vid.tok_C;
        return MMC_OK;
    }
    enc_image_cfg ic;
    cap_encoder_cfg(c, &ic);
    enc_image *e = &m->img;
    if (enc_image_init(e, enc_image_find(c->image.encoder), &ic, &m->P, "image_encoder", rng, &m->drop_rng, NULL, NULL, err))
        return err->code;
    m->C = e->C;
    if (enc_image_caps(e) & ENC_CAP_TOKENS) { /* vit: every token is a region */
        m->L = e->n_tokens;
        m->pool = 0;
        return MMC_OK;
    }
    int g;
    if (enc_grid(e->side, c->pool_grid, &g, &m->pool, "config", err)) return err->code;
    m->side = e->side;
    m->L = g * g;
    return MMC_OK;
}

static int decoder_init(mmc_captioner *m, mmc_rng *rng, mmc_error *err) {
    const mmc_caption_config *c = &m->cfg;
    int H = c->hidden, Dw = c->word_dim, V = m->V, rc;
    mmc_nn_rnn_opts ro = mmc_nn_rnn_defaults();
    if (m->dec_kind == CAP_DEC_LSTM || m->dec_kind == CAP_DEC_GRU) {
        int Dg = m->step0 ? Dw : H;
        if ((rc = mmc_nn_linear_init(&m->glob, &m->P, "image_encoder.global", m->L * m->C, Dg, 1, rng, err))) return rc;
        if ((rc = mmc_nn_embedding_init(&m->emb, &m->P, "decoder.embedding", V, Dw, rng, err))) return rc;
        ro.num_layers = c->dec_layers;
        rc = m->dec_kind == CAP_DEC_LSTM ? mmc_nn_lstm_init(&m->rnn, &m->P, "decoder.rnn", Dw, H, ro, rng, err)
                                         : mmc_nn_gru_init(&m->rnn, &m->P, "decoder.rnn", Dw, H, ro, rng, err);
        if (rc) return rc;
        if (!m->step0) {
            if ((rc = mmc_nn_linear_init(&m->init_h, &m->P, "decoder.init_h", Dg, c->dec_layers * H, 1, rng, err))) return rc;
            if (m->dec_kind == CAP_DEC_LSTM &&
                (rc = mmc_nn_linear_init(&m->init_c, &m->P, "decoder.init_c", Dg, c->dec_layers * H, 1, rng, err)))
                return rc;
        }
        return mmc_nn_linear_init(&m->out, &m->P, "decoder.out", H, V, 1, rng, err);
    }
    /* attention and transformer look at the regions */
    m->Dm = H;
    if ((rc = mmc_nn_linear_init(&m->reg_proj, &m->P, "image_encoder.proj", m->C, m->Dm, 1, rng, err))) return rc;
    if (!(m->reg_pos = mmc_params_new(&m->P, "image_encoder", "pos", MMC_PARAM, 2, (int[]){m->L, m->Dm}, err))) return err->code;
    mmc_init_normal(m->reg_pos, 0.0f, 0.02f, rng);
    if (m->dec_kind == CAP_DEC_ATTENTION) {
        int A = c->att_dim;
        if ((rc = mmc_nn_embedding_init(&m->emb, &m->P, "decoder.embedding", V, Dw, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->att_feat, &m->P, "decoder.att.feat", m->Dm, A, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->att_hid, &m->P, "decoder.att.hid", H, A, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->att_v, &m->P, "decoder.att.v", A, 1, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->att_gate, &m->P, "decoder.att.gate", H, m->Dm, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->init_h, &m->P, "decoder.init_h", m->Dm, H, 1, rng, err)) ||
            (rc = mmc_nn_linear_init(&m->init_c, &m->P, "decoder.init_c", m->Dm, H, 1, rng, err)) ||
            (rc = mmc_nn_lstm_init(&m->rnn, &m->P, "decoder.rnn", Dw + m->Dm, H, ro, rng, err)))
            return rc;
        return mmc_nn_linear_init(&m->out, &m->P, "decoder.out", H, V, 1, rng, err);
    }
    if ((rc = mmc_nn_layernorm_init(&m->reg_ln, &m->P, "image_encoder.ln", m->Dm, 1e-5f, err))) return rc;
    if ((rc = mmc_nn_embedding_init(&m->emb, &m->P, "decoder.embedding", V, H, rng, err))) return rc;
    mmc_init_normal(m->emb.weight, 0.0f, 0.02f, rng); /* GPT-2's scale, next to the positions' */
    if (!(m->pos = mmc_params_new(&m->P, "decoder", "pos", MMC_PARAM, 2, (int[]){c->max_len, H}, err))) return err->code;
    mmc_init_normal(m->pos, 0.0f, 0.02f, rng);
    if (c->dec_layers > CAP_MAX_TF_LAYERS)
        return mmc_error_set(err, MMC_ERR_INPUT, "config: dec_layers %d: the transformer has at most %d", c->dec_layers, CAP_MAX_TF_LAYERS);
    mmc_nn_block_cfg bc = mmc_nn_block_defaults(H, c->dec_heads);
    bc.mlp_dim = 4 * H;
    bc.act = !strcmp(c->dec_act, "gelu") ? MMC_ACT_GELU : MMC_ACT_RELU; /* relu: GELU's erf took ~5% of a step */
    bc.norm_first = 1;
    bc.dropout = c->dropout;
    for (int l = 0; l < c->dec_layers; l++) {
        char n[64];
        snprintf(n, sizeof n, "decoder.layers.%d", l);
        if ((rc = mmc_nn_decoder_layer_init(&m->tf[l], &m->P, n, &bc, rng, err))) return rc;
    }
    if ((rc = mmc_nn_layernorm_init(&m->tf_ln, &m->P, "decoder.ln", H, 1e-5f, err))) return rc;
    return mmc_nn_linear_init(&m->out, &m->P, "decoder.out", H, V, 1, rng, err);
}

static mmc_captioner *create(const mmc_caption_config *cfg, mmc_tokenizer *tok, uint64_t seed, const char *name,
                             mmc_error *err) {
    mmc_captioner *m = NULL;
    if (!mmc_caption_config_check(cfg, name, err) && !task_build_check(cfg->max_len, tok, "captioner", name, err) &&
        !(m = mmc_calloc(1, sizeof *m)))
        mmc_error_set(err, MMC_ERR_RUNTIME, "captioner: out of memory");
    if (!m) {
        mmc_tokenizer_free(tok);
        return NULL;
    }
    m->cfg = *cfg;
    m->tok = tok;
    m->V = mmc_tokenizer_vocab_size(tok);
    m->sp = mmc_tokenizer_special_ids(tok);
    m->dec_kind = cap_decoder_kind(cfg->decoder);
    m->step0 = !strcmp(cfg->image_input, "step0");
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, 1);
    mmc_rng_seed(&m->drop_rng, seed, 2);
    if (m->sp.start < 0 || m->sp.end < 0 || m->sp.pad < 0) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: the vocabulary lacks <start>/<end>/<pad>", name);
        mmc_captioner_free(m);
        return NULL;
    }
    if (image_init(m, &rng, err) || decoder_init(m, &rng, err)) {
        if (err && err->code == MMC_ERR_USAGE) err->code = MMC_ERR_INPUT; /* sizes from a config file */
        mmc_captioner_free(m);
        return NULL;
    }
    return m;
}

mmc_captioner *mmc_captioner_create(const mmc_caption_config *cfg, mmc_tokenizer *tok, uint64_t seed, mmc_error *err) {
    return create(cfg, tok, seed, "config", err);
}

void mmc_captioner_free(mmc_captioner *m) {
    if (!m) return;
    mmc_params_free(&m->P);
    mmc_tokenizer_free(m->tok);
    mmc_free(m);
}

mmc_params *mmc_captioner_params(mmc_captioner *m) { return &m->P; }
const mmc_caption_config *mmc_captioner_config(const mmc_captioner *m) { return &m->cfg; }
const mmc_tokenizer *mmc_captioner_tokenizer(const mmc_captioner *m) { return m->tok; }
mmc_rng *mmc_captioner_dropout_rng(mmc_captioner *m) { return &m->drop_rng; }

/* --------------------------------------------------------------- encoder */

int cap_encode(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *x, int training, mmc_tensor **regions, mmc_tensor **glob) {
    *regions = NULL;
    if (glob) *glob = NULL;
    if (!x) return ctx->err.code ? ctx->err.code : MMC_ERR_USAGE;
    int B = x->shape[0] / m->T;
    mmc_tensor *r;
    if (m->video) {
        r = enc_video_tokens(ctx, &m->vid, x, training);                           // (B, L, C)
    } else if (enc_image_caps(&m->img) & ENC_CAP_TOKENS) {
        r = m->img.vt->tokens(ctx, &m->img, x, training);                          // (B, L, C)
    } else {
        mmc_tensor *h = enc_image_map(ctx, &m->img, x, training);                  // (B, C, s, s)
        if (m->pool > 1) h = mmc_avg_pool2d(ctx, h, m->pool, m->pool, 0);          // (B, C, g, g)
        h = mmc_reshape(ctx, h, 3, (int[]){B, m->C, m->L});
        r = mmc_permute(ctx, h, (int[]){0, 2, 1});                                   // (B, L, C)
    }
    if (!r) return ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME;
    if (m->dec_kind == CAP_DEC_LSTM || m->dec_kind == CAP_DEC_GRU) {
        mmc_tensor *g = mmc_nn_linear_forward(ctx, &m->glob, mmc_reshape(ctx, r, 2, (int[]){B, m->L * m->C})); // (B, Dg)
        if (!g) return ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME;
        if (glob) *glob = g;
        *regions = r;
        return MMC_OK;
    }
    r = mmc_add(ctx, mmc_nn_linear_forward(ctx, &m->reg_proj, r), m->reg_pos);    // (B, L, Dm)
    if (m->dec_kind == CAP_DEC_TRANSFORMER) r = mmc_nn_layernorm_forward(ctx, &m->reg_ln, r);
    if (!r) return ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME;
    *regions = r;
    return MMC_OK;
}

/* ------------------------------------------------------- teacher forcing */

/* The real length of each row (its mask's ones), and the longest, Te >= 2. */
static int row_lengths(const int32_t *mask, int B, int T, int *len) {
    int Te = 2;
    for (int b = 0; b < B; b++) {
        int n = 0;
        for (int t = 0; t < T; t++)
            if (mask[(size_t)b * T + t]) n = t + 1;
        len[b] = n;
        if (n > Te) Te = n;
    }
    return Te;
}

/* The Show-Attend-Tell step (caption_internal.h). */
int cap_att_step(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *regions, mmc_tensor *fa, mmc_tensor *word, mmc_tensor *h,
                 mmc_tensor *c, mmc_tensor **h_out, mmc_tensor **c_out) {
    int B = word->shape[0], L = m->L, A = m->cfg.att_dim, Dm = m->Dm;
    mmc_tensor *q = mmc_reshape(ctx, mmc_nn_linear_forward(ctx, &m->att_hid, h), 3, (int[]){B, 1, A});
    mmc_tensor *e = mmc_nn_linear_forward(ctx, &m->att_v, mmc_tanh(ctx, mmc_add(ctx, fa, q)));   // (B, L, 1)
    mmc_tensor *alpha = mmc_softmax(ctx, mmc_reshape(ctx, e, 3, (int[]){B, 1, L}));              // (B, 1, L)
    mmc_tensor *cv = mmc_reshape(ctx, mmc_bmm(ctx, alpha, regions, 0, 0), 2, (int[]){B, Dm});    // (B, Dm)
    cv = mmc_mul(ctx, cv, mmc_sigmoid(ctx, mmc_nn_linear_forward(ctx, &m->att_gate, h)));
    mmc_tensor *in[2] = {word, cv};
    mmc_tensor *x = mmc_concat(ctx, in, 2, 1);                                                  // (B, Dw + Dm)
    if (!x) return ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME;
    return mmc_nn_lstm_step(ctx, &m->rnn.w[0][0], x, h, c, h_out, c_out);
}

/* The attention decoder's initial state: tanh(init(mean of the regions)). */
void cap_att_init_state(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *regions, mmc_tensor **h, mmc_tensor **c) {
    mmc_tensor *mean = mmc_mean(ctx, regions, (int[]){1}, 1, 0); // (B, Dm)
    *h = mmc_tanh(ctx, mmc_nn_linear_forward(ctx, &m->init_h, mean));
    *c = mmc_tanh(ctx, mmc_nn_linear_forward(ctx, &m->init_c, mean));
}

/* lstm/gru initial state from the global vector (image_input "init"): (layers, B, H). */
static mmc_tensor *rnn_init_state(mmc_ctx *ctx, mmc_captioner *m, mmc_nn_linear *lin, mmc_tensor *glob) {
    int B = glob->shape[0], Ly = m->cfg.dec_layers, H = m->cfg.hidden;
    mmc_tensor *s = mmc_tanh(ctx, mmc_nn_linear_forward(ctx, lin, glob)); // (B, Ly*H)
    return mmc_permute(ctx, mmc_reshape(ctx, s, 3, (int[]){B, Ly, H}), (int[]){1, 0, 2});
}

/* Dropout, skipped (no tape node) when off. */
static mmc_tensor *drop(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *x, int training) {
    return training && m->cfg.dropout > 0.0f ? mmc_dropout(ctx, x, m->cfg.dropout, 1, &m->drop_rng) : x;
}

static mmc_tensor *forward_te(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, const int32_t *ids, const int32_t *mask,
                              int B, int T, int training, int *Te_out) {
    if (!images || !ids || !mask || B < 1 || T < 2 || images->ndim != 4 || images->shape[0] != B * m->T)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "captioner: %s (B%s, 3, S, S) with B = %d rows of %d tokens expected",
                           m->video ? "clips" : "images", m->video ? "·T" : "", B, T);
    int *len = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B);
    if (!len) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "captioner: out of memory");
    int Te = row_lengths(mask, B, T, len), Tin = Te - 1;
    *Te_out = Te;
    int *in_ids = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B * Tin);
    if (!in_ids) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "captioner: out of memory");
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tin; t++) in_ids[b * Tin + t] = ids[(size_t)b * T + t];
    mmc_tensor *reg = NULL, *glob = NULL;
    if (cap_encode(ctx, m, images, training, &reg, &glob)) return NULL;
    mmc_tensor *words = mmc_nn_embedding_forward(ctx, &m->emb, in_ids, 2, (int[]){B, Tin}); // (B, Tin, D)
    mmc_tensor *hs = NULL;                                                                    // (B, Tin, H)
    if (m->dec_kind == CAP_DEC_TRANSFORMER) {
        mmc_tensor *x = mmc_add(ctx, words, mmc_slice(ctx, m->pos, 0, 0, Tin));
        x = drop(ctx, m, x, training);
        for (int l = 0; l < m->cfg.dec_layers; l++)
            x = mmc_nn_decoder_layer_forward(ctx, &m->tf[l], x, reg, 1, NULL, NULL, training, &m->drop_rng);
        hs = mmc_nn_layernorm_forward(ctx, &m->tf_ln, x);
    } else if (m->dec_kind == CAP_DEC_ATTENTION) {
        words = drop(ctx, m, words, training);
        mmc_tensor *fa = mmc_nn_linear_forward(ctx, &m->att_feat, reg), *h, *c;
        cap_att_init_state(ctx, m, reg, &h, &c);
        mmc_tensor **outs = mmc_arena_alloc(ctx->arena, sizeof(mmc_tensor *) * (size_t)Tin);
        if (!outs) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "captioner: out of memory");
        int Dw = m->cfg.word_dim, H = m->cfg.hidden;
        for (int t = 0; t < Tin; t++) {
            mmc_tensor *w = mmc_reshape(ctx, mmc_slice(ctx, words, 1, t, t + 1), 2, (int[]){B, Dw});
            if (!w || cap_att_step(ctx, m, reg, fa, w, h, c, &h, &c)) return NULL;
            outs[t] = mmc_reshape(ctx, h, 3, (int[]){B, 1, H});
        }
        hs = mmc_concat(ctx, outs, Tin, 1);
    } else {
        words = drop(ctx, m, words, training);
        int *rl = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B);
        if (!rl) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "captioner: out of memory");
        int lstm = m->dec_kind == CAP_DEC_LSTM;
        mmc_tensor *out;
        if (m->step0) {
            /* [image, <start>, w1, ...]: the output after <start> predicts w1 */
            mmc_tensor *parts[2] = {mmc_reshape(ctx, glob, 3, (int[]){B, 1, glob->shape[1]}), words};
            mmc_tensor *x = mmc_concat(ctx, parts, 2, 1); // (B, Te, Dw)
            for (int b = 0; b < B; b++) rl[b] = len[b] < 1 ? 1 : len[b];
            out = lstm ? mmc_nn_lstm_forward(ctx, &m->rnn, x, NULL, NULL, rl, training, &m->drop_rng, NULL, NULL)
                       : mmc_nn_gru_forward(ctx, &m->rnn, x, NULL, rl, training, &m->drop_rng, NULL);
            out = mmc_slice(ctx, out, 1, 1, Te);
        } else {
            mmc_tensor *h0 = rnn_init_state(ctx, m, &m->init_h, glob);
            mmc_tensor *c0 = lstm ? rnn_init_state(ctx, m, &m->init_c, glob) : NULL;
            for (int b = 0; b < B; b++) rl[b] = len[b] - 1 < 1 ? 1 : len[b] - 1;
            out = lstm ? mmc_nn_lstm_forward(ctx, &m->rnn, words, h0, c0, rl, training, &m->drop_rng, NULL, NULL)
                       : mmc_nn_gru_forward(ctx, &m->rnn, words, h0, rl, training, &m->drop_rng, NULL);
        }
        hs = out;
    }
    if (m->dec_kind != CAP_DEC_TRANSFORMER) hs = drop(ctx, m, hs, training);
    return mmc_nn_linear_forward(ctx, &m->out, hs); // (B, Tin, V)
}

mmc_tensor *mmc_captioner_forward(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, const int32_t *ids, const int32_t *mask,
                                  int B, int T, int training) {
    int Te = 0;
    return forward_te(ctx, m, images, ids, mask, B, T, training, &Te);
}

mmc_tensor *mmc_captioner_loss(mmc_ctx *ctx, mmc_captioner *m, mmc_tensor *images, const int32_t *ids, const int32_t *mask,
                               int B, int T, int training) {
    int Te = 0;
    mmc_tensor *logits = forward_te(ctx, m, images, ids, mask, B, T, training, &Te);
    if (!logits) return NULL;
    int Tin = Te - 1;
    int *tgt = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)B * Tin);
    if (!tgt) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "captioner: out of memory");
    for (int b = 0; b < B; b++)
        for (int t = 0; t < Tin; t++) {
            size_t at = (size_t)b * T + t + 1;
            tgt[b * Tin + t] = mask[at] ? ids[at] : -100;
        }
    return mmc_cross_entropy(ctx, mmc_reshape(ctx, logits, 2, (int[]){B * Tin, m->V}), tgt, -100, m->cfg.label_smoothing);
}

/* ------------------------------------------------------------ save / load */

char *cap_config_text(const mmc_captioner *m, const char *training_json, mmc_error *err) {
    cJSON *extra = training_json ? cJSON_CreateObject() : NULL, *tr = training_json ? cJSON_Parse(training_json) : NULL;
    if (training_json && (!extra || !tr || !cJSON_AddItemToObject(extra, "training", tr))) {
        cJSON_Delete(extra);
        cJSON_Delete(tr);
        mmc_error_set(err, MMC_ERR_RUNTIME, "captioner: out of memory writing config.json");
        return NULL;
    }
    return task_config_text(mmc_caption_config_to_json(&m->cfg), m->tok, extra, "captioner", err);
}

int mmc_captioner_save(const mmc_captioner *m, const char *run_dir, const char *weights, mmc_error *err) {
    char *text = cap_config_text(m, NULL, err);
    int rc = text ? task_save(&m->P, text, run_dir, weights, "mmc-caption", err) : err ? err->code : MMC_ERR_RUNTIME;
    mmc_free(text);
    return rc;
}

mmc_captioner *mmc_captioner_load(const char *run_dir, const char *weights, mmc_error *err) {
    char path[4096];
    mmc_caption_config cfg = mmc_caption_config_default();
    cfg.max_len = 0;
    mmc_tokenizer *tok;
    if (task_read_config(run_dir, &CAP_CONFIG, &cfg, &tok, NULL, path, err)) return NULL;
    mmc_captioner *m = create(&cfg, tok, 0, path, err);
    if (m && task_load_weights(&m->P, run_dir, weights, err)) {
        mmc_captioner_free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------ preprocess */

int mmc_captioner_image_to_chw(const mmc_captioner *m, const mmc_image *img, float *out, mmc_error *err) {
    int S = m->cfg.image_size;
    if (m->video) return mmc_error_set(err, MMC_ERR_USAGE, "captioner: a video captioner takes clips of %d frames, not an image", m->T);
    if (img->c != 3) return mmc_error_set(err, MMC_ERR_USAGE, "captioner: expected an RGB image, got %d channels", img->c);
    mmc_image rs = {0}, cr = {0};
    const mmc_image *src = img;
    int rc = MMC_OK;
    if (img->w != S || img->h != S) { /* as the loader: short side to S, centre crop */
        int w, h;
        mmc_image_shortest_edge_size(img->w, img->h, S, &w, &h);
        rc = mmc_image_resize(img, &rs, w, h, MMC_RESAMPLE_BILINEAR, err);
        if (!rc) rc = mmc_image_center_crop(&rs, &cr, S, S, err);
        src = &cr;
    }
    static const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f};
    if (!rc) mmc_image_to_chw(src, out, 1.0 / 255.0, mean, std);
    mmc_image_free(&rs);
    mmc_image_free(&cr);
    return rc;
}

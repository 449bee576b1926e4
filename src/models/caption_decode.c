/* caption_decode.c — incremental decoding of the captioner, captions for images, and the
 * evaluation of a split (BLEU-1..4, CIDEr-D, exact match).
 *
 * State. A row is one hypothesis; everything it needs lives in one block of floats so that
 * beam search can copy rows (new row i = old row parents[i]) with a memcpy:
 *   lstm/gru    h, c of every layer                                  layers x 2 x H
 *   attention   h, c; the regions (L, Dm) and their projections (L, A)
 *   transformer per layer the self-attention keys and values of the tokens fed so far
 *               (2 x max_len x D) and the cross-attention keys and values of the
 *               regions (2 x L x D), computed once at begin: a key/value cache, so a
 *               step costs one token's worth of work instead of re-running the prefix.
 * Each step runs the same modules as the teacher-forced forward, one position at a time
 * (test caption_step_matches_forward checks the two agree). */
#include "caption_internal.h"
#include "internal.h"
#include "task_util.h"
#include <math.h>
#include <string.h>

struct mmc_caption_state {
    mmc_captioner *m;
    mmc_ctx *ctx;
    int rows, max_rows, t, max_t;
    size_t row_floats;
    size_t off_h, off_c, off_reg, off_fa, off_kv, off_xkv; /* offsets inside a row */
    float *buf, *tmp;                                       /* max_rows x row_floats */
};

void mmc_caption_state_free(mmc_caption_state *s) {
    if (!s) return;
    mmc_ctx_free(s->ctx);
    mmc_free(s->buf);
    mmc_free(s->tmp);
    mmc_free(s);
}

static float *row(mmc_caption_state *s, int r, size_t off) { return s->buf + (size_t)r * s->row_floats + off; }

/* Copies a (rows, n) tensor's rows into the state at off (n floats per row). */
static void put_rows(mmc_caption_state *s, const mmc_tensor *x, size_t off, size_t n) {
    for (int r = 0; r < s->rows; r++) memcpy(row(s, r, off), x->data + (size_t)r * n, sizeof(float) * n);
}
/* A (rows, n...) arena tensor from the state's rows at off. */
static mmc_tensor *get_rows(mmc_caption_state *s, size_t off, int ndim, const int *shape) {
    mmc_tensor *x = mmc_tensor_empty(s->ctx, ndim, shape);
    if (!x) return NULL;
    size_t n = (size_t)(x->numel / s->rows);
    for (int r = 0; r < s->rows; r++) memcpy(x->data + (size_t)r * n, row(s, r, off), sizeof(float) * n);
    return x;
}

static int ctx_status(mmc_caption_state *s, mmc_error *err, const char *what) {
    int code = s->ctx->err.code ? s->ctx->err.code : MMC_ERR_RUNTIME;
    mmc_error_set(err, code, "caption %s: %s", what, s->ctx->err.code ? s->ctx->err.msg : "out of memory");
    mmc_ctx_reset(s->ctx);
    return code;
}

mmc_caption_state *mmc_caption_begin(mmc_captioner *m, const float *chw, int n, int max_rows, mmc_error *err) {
    if (!m || !chw || n < 1 || max_rows < n) {
        mmc_error_set(err, MMC_ERR_USAGE, "caption begin: %d images and %d rows", n, max_rows);
        return NULL;
    }
    const mmc_caption_config *c = &m->cfg;
    mmc_caption_state *s = mmc_calloc(1, sizeof *s);
    if (!s || !(s->ctx = mmc_ctx_new())) {
        mmc_free(s);
        mmc_error_set(err, MMC_ERR_RUNTIME, "caption begin: out of memory");
        return NULL;
    }
    s->m = m;
    s->rows = n;
    s->max_rows = max_rows;
    s->max_t = c->max_len - 1; /* positions the transformer has */
    int H = c->hidden, Ly = c->dec_layers, L = m->L;
    size_t off = 0;
    if (m->dec_kind == CAP_DEC_TRANSFORMER) {
        s->off_kv = off, off += (size_t)Ly * 2 * c->max_len * H;
        s->off_xkv = off, off += (size_t)Ly * 2 * L * H;
    } else {
        s->off_h = off, off += (size_t)Ly * H;
        s->off_c = off, off += (size_t)Ly * H;
        if (m->dec_kind == CAP_DEC_ATTENTION) {
            s->off_reg = off, off += (size_t)L * m->Dm;
            s->off_fa = off, off += (size_t)L * c->att_dim;
        }
    }
    s->row_floats = off;
    s->buf = mmc_calloc((size_t)max_rows * off, sizeof(float));
    s->tmp = mmc_calloc((size_t)max_rows * off, sizeof(float));
    if (!s->buf || !s->tmp) {
        mmc_caption_state_free(s);
        mmc_error_set(err, MMC_ERR_RUNTIME, "caption begin: out of memory for %d rows", max_rows);
        return NULL;
    }
    mmc_ctx *ctx = s->ctx;
    mmc_grad_mode(ctx, 0);
    int S = c->image_size;
    mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){n * m->T, 3, S, S}, chw), *reg = NULL, *glob = NULL;
    if (!x || cap_encode(ctx, m, x, 0, &reg, &glob)) goto fail;
    if (m->dec_kind == CAP_DEC_TRANSFORMER) {
        for (int l = 0; l < Ly; l++) {
            mmc_nn_mha *ca = &m->tf[l].cross_attn;
            mmc_tensor *kv = mmc_linear(ctx, reg, mmc_slice(ctx, ca->in_proj_weight, 0, H, 3 * H),
                                        mmc_slice(ctx, ca->in_proj_bias, 0, H, 3 * H)); // (n, L, 2H): [k | v]
            if (!kv) goto fail;
            for (int r = 0; r < n; r++)
                for (int i = 0; i < L; i++) {
                    float *k = row(s, r, s->off_xkv + (size_t)l * 2 * L * H) + (size_t)i * H, *v = k + (size_t)L * H;
                    const float *src = kv->data + ((size_t)r * L + i) * 2 * H;
                    memcpy(k, src, sizeof(float) * H);
                    memcpy(v, src + H, sizeof(float) * H);
                }
        }
    } else if (m->dec_kind == CAP_DEC_ATTENTION) {
        mmc_tensor *h, *cc, *fa = mmc_nn_linear_forward(ctx, &m->att_feat, reg);
        cap_att_init_state(ctx, m, reg, &h, &cc);
        if (!fa || !h || !cc) goto fail;
        put_rows(s, reg, s->off_reg, (size_t)L * m->Dm);
        put_rows(s, fa, s->off_fa, (size_t)L * c->att_dim);
        put_rows(s, h, s->off_h, (size_t)H);
        put_rows(s, cc, s->off_c, (size_t)H);
    } else {
        int lstm = m->dec_kind == CAP_DEC_LSTM;
        if (m->step0) { /* the image is the input of step 0, from a zero state */
            mmc_tensor *in = glob;
            for (int l = 0; l < Ly; l++) {
                mmc_tensor *h = NULL, *cc = NULL;
                if (lstm) {
                    if (mmc_nn_lstm_step(ctx, &m->rnn.w[l][0], in, NULL, NULL, &h, &cc)) goto fail;
                } else if (!(h = mmc_nn_gru_step(ctx, &m->rnn.w[l][0], in, NULL))) goto fail;
                put_rows(s, h, s->off_h + (size_t)l * H, (size_t)H);
                if (lstm) put_rows(s, cc, s->off_c + (size_t)l * H, (size_t)H);
                in = h;
            }
        } else {
            for (int which = 0; which < (lstm ? 2 : 1); which++) {
                mmc_tensor *st = mmc_tanh(ctx, mmc_nn_linear_forward(ctx, which ? &m->init_c : &m->init_h, glob)); // (n, Ly*H)
                if (!st) goto fail;
                put_rows(s, st, which ? s->off_c : s->off_h, (size_t)Ly * H);
            }
        }
    }
    mmc_ctx_reset(ctx);
    return s;
fail:
    ctx_status(s, err, "begin");
    mmc_caption_state_free(s);
    return NULL;
}

/* One transformer position for every row: x (R, 1, D) -> logits (R, V). */
static mmc_tensor *tf_step(mmc_caption_state *s, mmc_tensor *x) {
    mmc_captioner *m = s->m;
    mmc_ctx *ctx = s->ctx;
    int R = s->rows, D = m->cfg.hidden, Hh = m->cfg.dec_heads, Dh = D / Hh, L = m->L, t = s->t, ML = m->cfg.max_len;
    for (int l = 0; l < m->cfg.dec_layers && x; l++) {
        mmc_nn_decoder_layer *dl = &m->tf[l];
        /* causal self-attention: this position's q against every k, v so far */
        mmc_tensor *qkv = mmc_linear(ctx, mmc_nn_layernorm_forward(ctx, &dl->norm1, x), dl->self_attn.in_proj_weight,
                                     dl->self_attn.in_proj_bias); // (R, 1, 3D)
        if (!qkv) return NULL;
        size_t koff = s->off_kv + (size_t)l * 2 * ML * D, voff = koff + (size_t)ML * D;
        for (int r = 0; r < R; r++) {
            memcpy(row(s, r, koff) + (size_t)t * D, qkv->data + (size_t)r * 3 * D + D, sizeof(float) * D);
            memcpy(row(s, r, voff) + (size_t)t * D, qkv->data + (size_t)r * 3 * D + 2 * D, sizeof(float) * D);
        }
        mmc_tensor *K = mmc_tensor_empty(ctx, 4, (int[]){R, t + 1, Hh, Dh}), *Vv = mmc_tensor_empty(ctx, 4, (int[]){R, t + 1, Hh, Dh});
        mmc_tensor *q = mmc_slice(ctx, qkv, 2, 0, D);
        if (!K || !Vv || !q) return NULL;
        for (int r = 0; r < R; r++) {
            memcpy(K->data + (size_t)r * (t + 1) * D, row(s, r, koff), sizeof(float) * (size_t)(t + 1) * D);
            memcpy(Vv->data + (size_t)r * (t + 1) * D, row(s, r, voff), sizeof(float) * (size_t)(t + 1) * D);
        }
        int perm[4] = {0, 2, 1, 3};
        q = mmc_permute(ctx, mmc_reshape(ctx, q, 4, (int[]){R, 1, Hh, Dh}), perm);
        mmc_tensor *o = mmc_attention(ctx, q, mmc_permute(ctx, K, perm), mmc_permute(ctx, Vv, perm), 0, NULL); // (R, Hh, 1, Dh)
        o = mmc_reshape(ctx, mmc_permute(ctx, o, perm), 3, (int[]){R, 1, D});
        x = mmc_add(ctx, x, mmc_nn_linear_forward(ctx, &dl->self_attn.out_proj, o));
        /* cross-attention over the cached region keys and values */
        mmc_nn_mha *ca = &dl->cross_attn;
        q = mmc_linear(ctx, mmc_nn_layernorm_forward(ctx, &dl->norm2, x), mmc_slice(ctx, ca->in_proj_weight, 0, 0, D),
                       mmc_slice(ctx, ca->in_proj_bias, 0, 0, D));
        size_t xo = s->off_xkv + (size_t)l * 2 * L * D;
        K = get_rows(s, xo, 4, (int[]){R, L, Hh, Dh});
        Vv = get_rows(s, xo + (size_t)L * D, 4, (int[]){R, L, Hh, Dh});
        if (!q || !K || !Vv) return NULL;
        q = mmc_permute(ctx, mmc_reshape(ctx, q, 4, (int[]){R, 1, Hh, Dh}), perm);
        o = mmc_attention(ctx, q, mmc_permute(ctx, K, perm), mmc_permute(ctx, Vv, perm), 0, NULL);
        o = mmc_reshape(ctx, mmc_permute(ctx, o, perm), 3, (int[]){R, 1, D});
        x = mmc_add(ctx, x, mmc_nn_linear_forward(ctx, &ca->out_proj, o));
        /* feed-forward */
        mmc_tensor *f = mmc_nn_layernorm_forward(ctx, &dl->norm3, x);
        f = mmc_nn_activation(ctx, mmc_nn_linear_forward(ctx, &dl->linear1, f), dl->cfg.act);
        x = mmc_add(ctx, x, mmc_nn_linear_forward(ctx, &dl->linear2, f));
    }
    x = mmc_nn_layernorm_forward(ctx, &m->tf_ln, x);
    return mmc_reshape(ctx, mmc_nn_linear_forward(ctx, &m->out, x), 2, (int[]){R, m->V});
}

int mmc_caption_step(mmc_caption_state *s, const int *parents, const int32_t *tokens, int n_rows, float *logprobs,
                     mmc_error *err) {
    if (!s || !tokens || !logprobs || n_rows < 1 || n_rows > s->max_rows)
        return mmc_error_set(err, MMC_ERR_USAGE, "caption step: %d rows (at most %d)", n_rows, s ? s->max_rows : 0);
    mmc_captioner *m = s->m;
    if (parents) {
        for (int i = 0; i < n_rows; i++)
            if (parents[i] < 0 || parents[i] >= s->rows)
                return mmc_error_set(err, MMC_ERR_USAGE, "caption step: parent %d of row %d is not a row (%d)", parents[i], i, s->rows);
        for (int i = 0; i < n_rows; i++)
            memcpy(s->tmp + (size_t)i * s->row_floats, row(s, parents[i], 0), sizeof(float) * s->row_floats);
        float *t = s->buf;
        s->buf = s->tmp;
        s->tmp = t;
    } else if (n_rows != s->rows) {
        return mmc_error_set(err, MMC_ERR_USAGE, "caption step: %d rows without parents, the state has %d", n_rows, s->rows);
    }
    s->rows = n_rows;
    for (int i = 0; i < n_rows; i++)
        if (tokens[i] < 0 || tokens[i] >= m->V)
            return mmc_error_set(err, MMC_ERR_USAGE, "caption step: token %d of row %d is not in the vocabulary (%d)", (int)tokens[i], i, m->V);
    if (m->dec_kind == CAP_DEC_TRANSFORMER && s->t >= s->max_t)
        return mmc_error_set(err, MMC_ERR_USAGE, "caption step: the model has %d positions", s->max_t);
    mmc_ctx *ctx = s->ctx;
    const mmc_caption_config *c = &m->cfg;
    int R = n_rows, H = c->hidden, Ly = c->dec_layers;
    int *ids = mmc_arena_alloc(ctx->arena, sizeof(int) * (size_t)R);
    if (!ids) return ctx_status(s, err, "step");
    for (int i = 0; i < R; i++) ids[i] = tokens[i];
    mmc_tensor *words = mmc_nn_embedding_forward(ctx, &m->emb, ids, 1, (int[]){R}); // (R, D)
    mmc_tensor *logits = NULL;
    if (m->dec_kind == CAP_DEC_TRANSFORMER) {
        mmc_tensor *x = mmc_add(ctx, words, mmc_slice(ctx, m->pos, 0, s->t, s->t + 1));
        logits = tf_step(s, mmc_reshape(ctx, x, 3, (int[]){R, 1, H}));
    } else if (m->dec_kind == CAP_DEC_ATTENTION) {
        mmc_tensor *reg = get_rows(s, s->off_reg, 3, (int[]){R, m->L, m->Dm});
        mmc_tensor *fa = get_rows(s, s->off_fa, 3, (int[]){R, m->L, c->att_dim});
        mmc_tensor *h = get_rows(s, s->off_h, 2, (int[]){R, H}), *cc = get_rows(s, s->off_c, 2, (int[]){R, H});
        mmc_tensor *hn = NULL, *cn = NULL;
        if (!words || !reg || !fa || !h || !cc || cap_att_step(ctx, m, reg, fa, words, h, cc, &hn, &cn))
            return ctx_status(s, err, "step");
        put_rows(s, hn, s->off_h, (size_t)H);
        put_rows(s, cn, s->off_c, (size_t)H);
        logits = mmc_nn_linear_forward(ctx, &m->out, hn);
    } else {
        int lstm = m->dec_kind == CAP_DEC_LSTM;
        mmc_tensor *in = words;
        for (int l = 0; l < Ly && in; l++) {
            mmc_tensor *h = get_rows(s, s->off_h + (size_t)l * H, 2, (int[]){R, H}), *hn = NULL, *cn = NULL;
            if (!h) return ctx_status(s, err, "step");
            if (lstm) {
                mmc_tensor *cc = get_rows(s, s->off_c + (size_t)l * H, 2, (int[]){R, H});
                if (!cc || mmc_nn_lstm_step(ctx, &m->rnn.w[l][0], in, h, cc, &hn, &cn)) return ctx_status(s, err, "step");
            } else if (!(hn = mmc_nn_gru_step(ctx, &m->rnn.w[l][0], in, h))) {
                return ctx_status(s, err, "step");
            }
            put_rows(s, hn, s->off_h + (size_t)l * H, (size_t)H);
            if (lstm) put_rows(s, cn, s->off_c + (size_t)l * H, (size_t)H);
            in = hn;
        }
        logits = in ? mmc_nn_linear_forward(ctx, &m->out, in) : NULL;
    }
    mmc_tensor *lp = mmc_log_softmax(ctx, logits);
    if (!lp) return ctx_status(s, err, "step");
    int V = m->V;
    memcpy(logprobs, lp->data, sizeof(float) * (size_t)R * V);
    for (int r = 0; r < R; r++) { /* never generate padding, <start> or <unk> */
        float *rowp = logprobs + (size_t)r * V;
        if (m->sp.pad >= 0) rowp[m->sp.pad] = -INFINITY;
        if (m->sp.start >= 0) rowp[m->sp.start] = -INFINITY;
        if (m->sp.unk >= 0 && m->sp.unk != m->sp.end) rowp[m->sp.unk] = -INFINITY;
    }
    s->t++;
    mmc_ctx_reset(ctx);
    return MMC_OK;
}

/* --------------------------------------------------------------- captions */

mmc_caption_opts mmc_caption_opts_default(const mmc_captioner *m) {
    mmc_caption_opts o;
    memset(&o, 0, sizeof o);
    o.beam = 1;
    o.length_penalty = m ? m->cfg.length_penalty : 0.0f;
    o.no_repeat_ngram = m ? m->cfg.no_repeat_ngram : 0;
    return o;
}

void mmc_caption_result_free(mmc_caption_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        mmc_free(r->hyps[i].text);
        mmc_free(r->hyps[i].ids);
    }
    mmc_free(r->hyps);
    memset(r, 0, sizeof *r);
}

static int step_cb(void *user, const int *parents, const int32_t *last, int n, float *lp, mmc_error *err) {
    return mmc_caption_step(user, parents, last, n, lp, err);
}

static int decode_opts(const mmc_captioner *m, const mmc_caption_opts *o, mmc_decode_opts *d, mmc_error *err) {
    if (o->beam < 1 || o->beam > 1024) return mmc_error_set(err, MMC_ERR_USAGE, "caption: beam width %d is not in 1..1024", o->beam);
    if (o->max_len < 0) return mmc_error_set(err, MMC_ERR_USAGE, "caption: max_len %d is negative", o->max_len);
    *d = mmc_decode_defaults();
    d->vocab_size = m->V;
    d->start_id = m->sp.start;
    d->end_id = m->sp.end;
    int cap = m->cfg.max_len - 1; /* what the model saw in training (and the transformer's positions) */
    d->max_len = o->max_len > 0 && o->max_len < cap ? o->max_len : cap;
    d->beam = o->beam;
    d->length_penalty = o->length_penalty;
    d->no_repeat_ngram = o->no_repeat_ngram;
    return MMC_OK;
}

int mmc_captioner_caption_chw(mmc_captioner *m, const float *chw, const mmc_caption_opts *o, mmc_caption_result *out,
                              mmc_error *err) {
    memset(out, 0, sizeof *out);
    mmc_decode_opts d;
    int rc = decode_opts(m, o, &d, err);
    if (rc) return rc;
    mmc_caption_state *s = mmc_caption_begin(m, chw, 1, o->beam, err);
    if (!s) return err ? err->code : MMC_ERR_RUNTIME;
    mmc_decode_result r;
    rc = o->beam == 1 ? mmc_decode_greedy(step_cb, s, &d, &r, err) : mmc_decode_beam(step_cb, s, &d, &r, err);
    mmc_caption_state_free(s);
    if (rc) return rc;
    out->hyps = mmc_calloc((size_t)r.n + 1, sizeof *out->hyps);
    if (!out->hyps) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "caption: out of memory");
    for (int i = 0; i < r.n && !rc; i++) {
        mmc_caption_hyp *h = &out->hyps[i];
        out->n = i + 1;
        h->n_ids = r.lengths[i];
        h->ended = r.ended[i];
        h->score = r.scores[i];
        h->logprob = r.logprobs[i];
        h->ids = mmc_malloc(sizeof(int32_t) * (size_t)(h->n_ids + 1));
        if (!h->ids) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "caption: out of memory"); break; }
        memcpy(h->ids, r.tokens + (size_t)i * r.max_len, sizeof(int32_t) * (size_t)h->n_ids);
        h->text = mmc_tokenizer_decode(m->tok, h->ids, h->n_ids, 1, err);
        if (!h->text) rc = err ? err->code : MMC_ERR_RUNTIME;
    }
    mmc_decode_result_free(&r);
    if (rc) mmc_caption_result_free(out);
    return rc;
}

int mmc_captioner_caption_file(mmc_captioner *m, const char *path, const mmc_caption_opts *o, mmc_caption_result *out,
                               mmc_error *err) {
    memset(out, 0, sizeof *out);
    int S = m->cfg.image_size, rc;
    float *chw = mmc_malloc(sizeof(float) * 3 * (size_t)m->T * S * S);
    if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "caption: out of memory");
    if (m->video) { /* a clip: T frames uniformly over its duration */
        rc = task_clip_file_to_chw(path, S, m->T, chw, NULL, err);
    } else {
        mmc_image img = {0};
        rc = mmc_image_load(&img, path, 3, err);
        if (!rc) rc = mmc_captioner_image_to_chw(m, &img, chw, err);
        mmc_image_free(&img);
    }
    if (!rc) rc = mmc_captioner_caption_chw(m, chw, o, out, err);
    mmc_free(chw);
    return rc;
}

int mmc_captioner_frames(const mmc_captioner *m) { return m->T; }

int mmc_captioner_frame_importance(mmc_captioner *m, const float *clip, const int32_t *ids, int n, int ended, float *drop,
                                   mmc_error *err) {
    int T = m->T, S = m->cfg.image_size, L = m->cfg.max_len, V = m->V;
    if (!m->video || T < 2) return mmc_error_set(err, MMC_ERR_USAGE, "keyframes: the captioner describes images, not clips");
    if (!clip || !drop || n < 0 || n + 1 > L) return mmc_error_set(err, MMC_ERR_USAGE, "keyframes: %d tokens (at most %d)", n, L - 1);
    int end = ended && n + 2 <= L; /* a summary cut short has no <end> to score */
    size_t fr = (size_t)3 * S * S, cl = fr * T;
    float *x = mmc_malloc(sizeof(float) * cl * (size_t)(T + 1));
    int32_t *row = mmc_calloc((size_t)(T + 1) * L, sizeof(int32_t)), *mask = mmc_calloc((size_t)(T + 1) * L, sizeof(int32_t));
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = x && row && mask && ctx ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "keyframes: out of memory");
    if (!rc) {
        for (int v = 0; v <= T; v++) { /* variant 0: the clip; variant t + 1: frame t replaced */
            float *dst = x + (size_t)v * cl;
            memcpy(dst, clip, sizeof(float) * cl);
            if (v > 0) memcpy(dst + (size_t)(v - 1) * fr, clip + (size_t)(v == 1 ? 1 : v - 2) * fr, sizeof(float) * fr);
            int32_t *r = row + (size_t)v * L;
            r[0] = m->sp.start;
            for (int i = 0; i < n; i++) r[i + 1] = ids[i];
            if (end) r[n + 1] = m->sp.end;
            for (int i = 0; i < n + 1 + end; i++) mask[(size_t)v * L + i] = 1;
        }
        mmc_grad_mode(ctx, 0);
        mmc_tensor *in = mmc_tensor_from(ctx, 4, (int[]){(T + 1) * T, 3, S, S}, x);
        mmc_tensor *lg = in ? mmc_captioner_forward(ctx, m, in, row, mask, T + 1, L, 0) : NULL; // (T + 1, Te - 1, V)
        mmc_tensor *lp = lg ? mmc_log_softmax(ctx, lg) : NULL;
        if (!lp) rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "keyframes: %s", ctx->err.msg);
        else {
            int Tm = lp->shape[1];
            double base = 0;
            for (int v = 0; v <= T; v++) {
                double s = 0;
                for (int i = 0; i < n + end && i < Tm; i++) s += lp->data[((size_t)v * Tm + i) * V + row[(size_t)v * L + i + 1]];
                if (v == 0) base = s;
                else drop[v - 1] = (float)(base - s);
            }
        }
    }
    mmc_ctx_free(ctx);
    mmc_free(x);
    mmc_free(row);
    mmc_free(mask);
    return rc;
}

/* Greedy for n images at once: the tokens mmc_decode_greedy gives for each (the most likely
 * allowed token, lowest id on a tie, until <end> or max_len). ids: n x max_len, lens[n]. */
static int greedy_batch(mmc_captioner *m, const float *chw, int n, int max_len, int32_t *ids, int *lens, mmc_error *err) {
    mmc_caption_state *s = mmc_caption_begin(m, chw, n, n, err);
    if (!s) return err ? err->code : MMC_ERR_RUNTIME;
    int V = m->V, rc = MMC_OK, live = n;
    float *lp = mmc_malloc(sizeof(float) * (size_t)n * V);
    int32_t *last = mmc_malloc(sizeof(int32_t) * (size_t)n);
    uint8_t *done = mmc_calloc((size_t)n, 1);
    if (!lp || !last || !done) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "caption: out of memory");
    for (int i = 0; i < n && !rc; i++) last[i] = m->sp.start, lens[i] = 0;
    for (int t = 0; t < max_len && live && !rc; t++) {
        rc = mmc_caption_step(s, NULL, last, n, lp, err);
        for (int i = 0; i < n && !rc; i++) {
            if (done[i]) continue;
            const float *r = lp + (size_t)i * V;
            int best = -1;
            for (int v = 0; v < V; v++)
                if (r[v] > -INFINITY && (best < 0 || r[v] > r[best])) best = v;
            if (best < 0 || best == m->sp.end) { done[i] = 1; live--; continue; }
            ids[(size_t)i * max_len + lens[i]++] = best;
            last[i] = best;
        }
    }
    mmc_free(lp);
    mmc_free(last);
    mmc_free(done);
    mmc_caption_state_free(s);
    return rc;
}

/* ------------------------------------------------------------- evaluation */

enum { EVAL_CHUNK = 100 };

/* The best hypothesis of mmc_captioner_caption_chw for one image or clip: ids (ML), *len. */
static int one_hypothesis(mmc_captioner *m, const float *chw, const mmc_caption_opts *o, int ML, int32_t *ids, int *len,
                          mmc_error *err) {
    mmc_caption_result r;
    int rc = mmc_captioner_caption_chw(m, chw, o, &r, err);
    if (!rc && r.n > 0) {
        *len = r.hyps[0].n_ids;
        memcpy(ids, r.hyps[0].ids, sizeof(int32_t) * (size_t)r.hyps[0].n_ids);
    }
    mmc_caption_result_free(&r);
    return rc;
}

/* The clips of a video split (held as bytes), EVAL_CHUNK / T at a time. */
static int clips_hypotheses(mmc_captioner *m, const task_split *sp, const mmc_caption_opts *o, int ML, int32_t *hyp,
                            int *hlen, mmc_error *err) {
    int S = m->cfg.image_size, T = m->T, chunk = EVAL_CHUNK / T > 0 ? EVAL_CHUNK / T : 1, rc = MMC_OK;
    size_t clip = (size_t)T * 3 * S * S;
    float *chw = mmc_malloc(sizeof(float) * clip * (size_t)chunk);
    if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    for (int at = 0; at < sp->n && !rc; at += chunk) {
        int n = sp->n - at < chunk ? sp->n - at : chunk;
        for (int i = 0; i < n; i++) task_split_clip_chw(sp, at + i, 0, 0, chw + (size_t)i * clip);
        if (o->beam == 1 && o->no_repeat_ngram == 0) rc = greedy_batch(m, chw, n, ML, hyp + (size_t)at * ML, hlen + at, err);
        else
            for (int i = 0; i < n && !rc; i++)
                rc = one_hypothesis(m, chw + (size_t)i * clip, o, ML, hyp + (size_t)(at + i) * ML, hlen + at + i, err);
    }
    mmc_free(chw);
    return rc;
}

int mmc_captioner_evaluate(mmc_captioner *m, const char *data_dir, const char *split, const mmc_caption_opts *o,
                           int max_images, mmc_caption_metrics *out, mmc_error *err) {
    memset(out, 0, sizeof *out);
    mmc_decode_opts d;
    int rc = decode_opts(m, o, &d, err);
    if (rc) return rc;
    /* references: every caption of the language as token ids (no specials) */
    task_split sp;
    if (m->video) rc = task_split_load_video(&sp, data_dir, split, m->cfg.lang, m->cfg.image_size, m->T, max_images, err);
    else rc = task_split_load(&sp, data_dir, split, m->cfg.lang, 0, max_images, err);
    if (rc) return rc;
    int n = sp.n;
    mmc_token_seq *refs = mmc_calloc((size_t)sp.n_caps + 1, sizeof *refs);
    if (!refs) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    for (int j = 0; j < sp.n_caps && !rc; j++) {
        int32_t *ids = NULL;
        int len = 0;
        rc = mmc_tokenizer_encode(m->tok, sp.caps[j], (size_t)-1, 0, 0, &ids, &len, err);
        refs[j].ids = ids;
        refs[j].n = len;
    }
    /* hypotheses */
    int ML = d.max_len, S = m->cfg.image_size;
    int32_t *hyp = rc ? NULL : mmc_calloc((size_t)n * ML + 1, sizeof(int32_t));
    int *hlen = rc ? NULL : mmc_calloc((size_t)n + 1, sizeof(int));
    if (!rc && (!hyp || !hlen)) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    mmc_loader *ld = NULL;
    if (!rc && m->video) rc = clips_hypotheses(m, &sp, o, ML, hyp, hlen, err);
    else if (!rc) {
        mmc_loader_opts lo = mmc_loader_defaults(EVAL_CHUNK < n ? EVAL_CHUNK : n, S);
        lo.workers = 1;
        lo.epochs = 1;
        for (int k = 0; k < 3; k++) lo.mean[k] = lo.std[k] = 0.5f;
        mmc_manifest view = *sp.man;
        view.count = n;
        ld = mmc_loader_new(&view, &lo, err);
        if (!ld) rc = err ? err->code : MMC_ERR_INPUT;
        const mmc_loader_batch *b = NULL;
        int at = 0;
        while (!rc && (rc = mmc_loader_next(ld, &b, err)) == MMC_OK && b) {
            const float *px = b->images->data;
            if (o->beam == 1 && o->no_repeat_ngram == 0) {
                rc = greedy_batch(m, px, b->size, ML, hyp + (size_t)at * ML, hlen + at, err);
            } else {
                for (int i = 0; i < b->size && !rc; i++)
                    rc = one_hypothesis(m, px + (size_t)i * 3 * S * S, o, ML, hyp + (size_t)(at + i) * ML, hlen + at + i, err);
            }
            at += b->size;
        }
        mmc_loader_free(ld);
    }
    mmc_caption_item *items = rc ? NULL : mmc_calloc((size_t)n, sizeof *items);
    if (!rc && !items) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    if (!rc) {
        int first = 0;
        for (int i = 0; i < n; i++) {
            items[i].hyp.ids = hyp + (size_t)i * ML;
            items[i].hyp.n = hlen[i];
            items[i].refs = refs + sp.cap_first[i];
            items[i].n_refs = sp.cap_count[i];
            const mmc_token_seq *r0 = items[i].refs;
            first += r0->n == hlen[i] && !memcmp(r0->ids, items[i].hyp.ids, sizeof(int32_t) * (size_t)hlen[i]);
        }
        mmc_bleu_result br;
        rc = mmc_bleu_corpus(items, n, &br, err);
        if (!rc) rc = mmc_cider_d(items, n, &out->cider_d, NULL, err);
        if (!rc) rc = mmc_exact_match(items, n, &out->exact_match, err);
        if (!rc) {
            for (int k = 0; k < 4; k++) out->bleu[k] = br.bleu[k];
            out->exact_first = (double)first / n;
            out->n_images = n;
        }
    }
    mmc_free(items);
    mmc_free(hyp);
    mmc_free(hlen);
    for (int j = 0; refs && j < sp.n_caps; j++) mmc_free((void *)refs[j].ids);
    mmc_free(refs);
    task_split_free(&sp);
    return rc;
}

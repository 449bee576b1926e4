/* vqa.c — the fusion model (docs/vqa.md): build, forward, save/load, answer one question.
 *
 *   image (B, 3, S, S) ─ CNN stages [(x, y), conv 3×3 s1|s2, BN, (FiLM), ReLU] ─ grid pool ─ fc ─ v
 *   text ids (N, T) ─ embedding ─ GRU (final state) [⊕ mean embedding] ─ q (N, H)
 *
 *   early   stages < early_stage on the B images, expand to the N texts, tile
 *           tanh(early_fc(q)) as extra channels onto stage early_stage's input, the rest
 *           of the CNN, v -> classifier
 *   late    attention (default): mmc_nn_cell_attention over the final map's cells, read
 *           glimpses joined with v and q (or MLB'd with q first) -> classifier; else
 *           v per image, expanded; combine(v, q) -> classifier (concat/sum/product:
 *           mmc_nn_fusion with projections; bilinear: MLB), or logits: softmax-weighted
 *           average of an image classifier's and a text classifier's logits
 *   hybrid  stages < film_from shared, expanded, FiLM(q) in the later stages; [v; q] ->
 *           classifier
 *   joint   mmc_nn_joint over [CLS; patches; tokens] (images expanded to the N texts) ->
 *           classifier
 *   none    q -> classifier
 *
 * "Expanded": text n is about image item_img[n]; the per-image tensor (B, ...) becomes
 * (N, ...) by an embedding lookup with the image indices as ids, so the backward sums the
 * gradients of an image's texts. Run folder: config.json holds every setting, the question
 * vocabulary ("tokenizer"), the answer vocabulary ("answers"), the seed and the number of
 * training images; model.safetensors every tensor under its dotted name. */
#include "vqa_internal.h"
#include "internal.h"
#include "task_util.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- building */

/* init hook of the cnn: hybrid's FiLM layer after each conditioned stage's conv and norm
 * (image_encoder.film.s: the parameter order, and so the initial draws, of every run) */
static int film_hook(void *user, int s, int width, mmc_rng *rng, mmc_error *err) {
    mmc_vqa *m = user;
    if (m->fusion != VQA_HYBRID || s < m->cfg.film_from) return MMC_OK;
    char name[64];
    snprintf(name, sizeof name, "image_encoder.film.%d", s);
    return mmc_nn_film_init(&m->film[s], &m->P, name, m->q_dim, width, 1, rng, err);
}

static int build(mmc_vqa *m, mmc_rng *rng, mmc_error *err) {
    const mmc_vqa_config *c = &m->cfg;
    mmc_params *P = &m->P;
    int V = mmc_tokenizer_vocab_size(m->tok), C = m->n_classes;
    enc_image_cfg ic;
    enc_text_cfg tc;
    vqa_encoder_cfgs(c, &ic, &tc);
    const enc_text_vt *tvt = enc_text_find(c->text.encoder);
    int rc = MMC_OK;
    if (m->query == VQA_Q_AUDIO) { /* built first: its width sizes what q feeds */
        enc_audio_cfg ac = {.o = c->audio, .dropout = c->dropout};
        if ((rc = enc_audio_init(&m->aud, enc_audio_find(c->audio.encoder), &ac, P, "audio_encoder", rng, &m->drop_rng, err)))
            return rc;
    }
    /* q: the text encoder's feature, with text_pool "last+mean" also the mean word embedding;
     * the audio encoder's pooled feature; nothing (query none) */
    const int H = m->q_dim = m->query == VQA_Q_AUDIO ? m->aud.out_dim : m->query == VQA_Q_NONE ? 0
                           : tvt->out_dim(&tc) + (!strcmp(c->text_pool, "last+mean") ? c->text.word_dim : 0);
    int uses_cnn = m->fusion == VQA_EARLY || m->fusion == VQA_LATE || m->fusion == VQA_HYBRID;
    if (uses_cnn) {
        enc_image *e = &m->img;
        if ((rc = enc_image_init(e, enc_image_find(c->image.encoder), &ic, P, "image_encoder", rng, &m->drop_rng, film_hook, m, err)))
            return rc;
        m->n_stages = e->n_stages;
        m->shared_stages = m->fusion == VQA_LATE ? m->n_stages : m->fusion == VQA_EARLY ? c->early_stage : c->film_from;
        int g, in = e->C;
        if ((rc = enc_grid(e->side, c->pool_grid, &g, &m->grid_pool, "config", err))) return rc;
        m->img_feat = (strcmp(c->image_pool, "max") ? in * g * g : 0) + (strcmp(c->image_pool, "grid") ? in : 0);
        if ((rc = mmc_nn_linear_init(&m->img_fc, P, "image_encoder.fc", m->img_feat, c->image_dim, 1, rng, err))) return rc;
        if (m->fusion == VQA_EARLY && (rc = mmc_nn_linear_init(&m->early_fc, P, "early.proj", H, c->early_dim, 1, rng, err)))
            return rc;
    }
    if (m->fusion != VQA_JOINT && m->query == VQA_Q_TEXT) {
        if ((rc = enc_text_init_embedding(&m->txt, tvt, &tc, P, "text_encoder", V, rng, &m->drop_rng, err)) ||
            (rc = enc_text_init(&m->txt, P, "text_encoder", rng, err)))
            return rc;
    }
    switch (m->fusion) {
    case VQA_EARLY: m->head_in = c->image_dim; break;
    case VQA_HYBRID: m->head_in = c->image_dim + H; break;
    case VQA_NONE: m->head_in = H; break;
    case VQA_JOINT: {
        mmc_nn_joint_cfg jc = mmc_nn_joint_defaults(c->image_size, c->joint_patch, V, c->max_len, c->joint_dim,
                                                    c->joint_depth, c->joint_heads);
        jc.dropout = c->dropout;
        if ((rc = mmc_nn_joint_init(&m->joint, P, "joint", &jc, rng, err))) return rc;
        m->head_in = c->joint_dim;
        break;
    }
    default: /* late */
        if (m->query == VQA_Q_NONE) { /* the image vector alone */
            m->head_in = c->image_dim;
            break;
        }
        if (m->combine == VQA_LOGITS) {
            int wi[3] = {c->image_dim, c->hidden, C}, wt[3] = {H, c->hidden, C};
            if ((rc = mmc_nn_mlp_init(&m->head_img, P, "head_image", 3, wi, MMC_ACT_RELU, c->dropout, rng, err)) ||
                (rc = mmc_nn_mlp_init(&m->head_txt, P, "head_text", 3, wt, MMC_ACT_RELU, c->dropout, rng, err)) ||
                (rc = mmc_nn_logit_average_init(&m->lavg, P, "fusion", 2, err)))
                return rc;
            return MMC_OK; /* no shared classifier */
        }
        if (m->combine == VQA_ATTENTION) {
            int dot = !strcmp(c->att_score, "dot");
            m->cell_dim = m->img.C + 2;
            if ((rc = mmc_nn_cell_attention_init(&m->att, P, "fusion.attention", dot ? MMC_CELL_ATT_DOT : MMC_CELL_ATT_ADDITIVE,
                                                 m->cell_dim, H, c->fuse_dim, c->glimpses, dot, rng, err)))
                return rc;
            m->head_in = c->glimpses * (m->cell_dim + dot) + c->image_dim + H;
            if (!strcmp(c->att_fuse, "bilinear")) { /* [glimpses; v] and q multiplied (MLB), then [that; q] */
                if ((rc = mmc_nn_lowrank_bilinear_init(&m->mlb, P, "fusion.bilinear", m->head_in - H, H, c->fuse_dim, c->fuse_dim,
                                                       MMC_ACT_TANH, 0.0f, rng, err)))
                    return rc;
                m->head_in = c->fuse_dim + H;
            }
        } else if (m->combine == VQA_BILINEAR) {
            if ((rc = mmc_nn_lowrank_bilinear_init(&m->mlb, P, "fusion", c->image_dim, H, c->fuse_dim, c->fuse_dim, MMC_ACT_TANH,
                                                   0.0f, rng, err)))
                return rc;
            m->head_in = c->fuse_dim;
        } else {
            int mode = m->combine == VQA_SUM ? MMC_FUSE_SUM : m->combine == VQA_PROD ? MMC_FUSE_PRODUCT : MMC_FUSE_CONCAT;
            if ((rc = mmc_nn_fusion_init(&m->fuse, P, "fusion", mode, c->image_dim, H, c->fuse_dim,
                                         mode == MMC_FUSE_PRODUCT ? MMC_ACT_TANH : MMC_ACT_RELU, rng, err)))
                return rc;
            m->head_in = m->fuse.out_dim;
        }
        break;
    }
    int w[3] = {m->head_in, c->hidden, C};
    return mmc_nn_mlp_init(&m->head, P, "classifier", 3, w, MMC_ACT_RELU, c->dropout, rng, err);
}

static mmc_vqa *create(const mmc_vqa_config *cfg, mmc_tokenizer *tok, const char *const *classes, int n_classes,
                       mmc_rng *rng, const char *name, mmc_error *err) {
    mmc_vqa *m = NULL;
    if (!mmc_vqa_config_check(cfg, name, err) && !task_build_check(cfg->max_len, tok, "vqa model", name, err)) {
        if (n_classes < 1 || !classes) mmc_error_set(err, MMC_ERR_INPUT, "%s: no answers (the class vocabulary is empty)", name);
        else if (!(m = mmc_calloc(1, sizeof *m))) mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: out of memory");
    }
    if (!m) {
        mmc_tokenizer_free(tok);
        return NULL;
    }
    m->cfg = *cfg;
    m->tok = tok;
    m->fusion = vqa_fusion_kind(cfg->fusion);
    m->video = !strcmp(cfg->target, "video");
    m->query = !strcmp(cfg->query, "audio") ? VQA_Q_AUDIO : !strcmp(cfg->query, "none") ? VQA_Q_NONE : VQA_Q_TEXT;
    m->T = m->video ? cfg->video.frames : 1;
    m->combine = vqa_combine_kind(cfg->combine);
    m->classes = mmc_calloc((size_t)n_classes, sizeof(char *));
    m->n_classes = n_classes;
    int rc = m->classes ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: out of memory");
    for (int i = 0; i < n_classes && !rc; i++) {
        size_t len = classes[i] ? strlen(classes[i]) : 0;
        if (!classes[i] || mmc_utf8_validate(classes[i], len, NULL))
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: answer %d is not a UTF-8 string", name, i);
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(m->classes[j], classes[i]))
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: answer '%s' appears twice", name, classes[i]);
        if (!rc && !(m->classes[i] = mmc_malloc(len + 1))) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: out of memory");
        if (!rc) memcpy(m->classes[i], classes[i], len + 1);
    }
    mmc_rng_seed(&m->drop_rng, 0x5eed, 99);
    if (!rc && (rc = build(m, rng, err)) && err && err->code == MMC_OK)
        mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: building the model failed");
    if (rc) {
        mmc_vqa_free(m);
        return NULL;
    }
    return m;
}

mmc_vqa *mmc_vqa_create(const mmc_vqa_config *cfg, mmc_tokenizer *tok, const char *const *classes, int n_classes,
                        uint64_t seed, mmc_error *err) {
    mmc_rng rng;
    mmc_rng_seed(&rng, seed, 1);
    mmc_vqa *m = create(cfg, tok, classes, n_classes, &rng, "config", err);
    if (m) mmc_rng_seed(&m->drop_rng, seed, 2);
    return m;
}

void mmc_vqa_free(mmc_vqa *m) {
    if (!m) return;
    mmc_params_free(&m->P);
    mmc_tokenizer_free(m->tok);
    for (int i = 0; m->classes && i < m->n_classes; i++) mmc_free(m->classes[i]);
    mmc_free(m->classes);
    mmc_free(m);
}

const mmc_vqa_config *mmc_vqa_get_config(const mmc_vqa *m) { return &m->cfg; }
mmc_params *mmc_vqa_params(mmc_vqa *m) { return &m->P; }
const mmc_tokenizer *mmc_vqa_tokenizer(const mmc_vqa *m) { return m->tok; }
int mmc_vqa_n_classes(const mmc_vqa *m) { return m->n_classes; }
const char *mmc_vqa_class(const mmc_vqa *m, int i) { return i >= 0 && i < m->n_classes ? m->classes[i] : NULL; }
int mmc_vqa_class_id(const mmc_vqa *m, const char *name) {
    for (int i = 0; name && i < m->n_classes; i++)
        if (!strcmp(m->classes[i], name)) return i;
    return -1;
}

/* --------------------------------------------------------------- forward */

// ids, mask (N, T) -> (N, H): the text encoder's feature (gru: the state after each text's last real token)
static mmc_tensor *text_forward(mmc_ctx *ctx, mmc_vqa *m, const int32_t *ids, const int32_t *mask, int N, int T, int training) {
    enc_text_batch tb;
    if (enc_text_batch_make(ctx, ids, mask, N, T, &tb)) return NULL;
    int Te = tb.Te;
    mmc_tensor *e = enc_text_embed(ctx, &m->txt, &tb); // (N, Te, D)
    mmc_tensor *hn = enc_text_forward(ctx, &m->txt, e, &tb, training);
    if (!hn) return NULL;
    if (strcmp(m->cfg.text_pool, "last+mean")) return hn;
    /* and the mean of the real tokens' embeddings: the words themselves, one linear map
     * away. Measured: the GRU's final state saturates (|q| near sqrt(H)) and keeps the
     * question's type but hardly which colour or shape it names (docs/vqa.md, "Why"). */
    mmc_tensor *w = mmc_tensor_empty(ctx, 3, (int[]){N, 1, Te});
    if (!w) return NULL;
    for (int n = 0; n < N; n++) {
        int k = 0;
        for (int t = 0; t < Te; t++) k += tb.mask->data[(size_t)n * Te + t] != 0.0f;
        for (int t = 0; t < Te; t++) w->data[(size_t)n * Te + t] = tb.mask->data[(size_t)n * Te + t] != 0.0f && k ? 1.0f / (float)k : 0.0f;
    }
    mmc_tensor *mean = mmc_bmm(ctx, w, e, 0, 0); // (N, 1, D)
    mmc_tensor *parts[2] = {hn, mean ? mmc_reshape(ctx, mean, 2, (int[]){N, m->cfg.text.word_dim}) : NULL};
    return mmc_concat(ctx, parts, 2, 1);
}

// x (B, ...) -> (N, ...): row n is x[item_img[n]]
static mmc_tensor *expand(mmc_ctx *ctx, mmc_tensor *x, const int *item_img, int N) {
    if (!x) return NULL;
    int B = x->shape[0], same = N == B;
    for (int n = 0; same && n < N; n++) same = item_img[n] == n;
    if (same) return x;
    int64_t F = x->numel / (B ? B : 1);
    if (F > INT32_MAX) return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: %lld features per image is too many", (long long)F);
    mmc_tensor *t = mmc_embedding(ctx, mmc_reshape(ctx, x, 2, (int[]){B, (int)F}), item_img, N); // (N, F)
    int shape[MMC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = N;
    return mmc_reshape(ctx, t, x->ndim, shape);
}

/* The hybrid's condition on the cnn's stages: FiLM by the question from film_from on. */
typedef struct film_cond_arg {
    mmc_vqa *m;
    mmc_tensor *q;
} film_cond_arg;
static mmc_tensor *film_cond(mmc_ctx *ctx, void *user, int s, mmc_tensor *h) {
    film_cond_arg *a = user;
    return s >= a->m->cfg.film_from ? mmc_nn_film_forward(ctx, &a->m->film[s], h, a->q) : h;
}

// stages s0..s1-1 of the image encoder, FiLM-conditioned by q in the hybrid
static mmc_tensor *stages(mmc_ctx *ctx, mmc_vqa *m, int s0, int s1, mmc_tensor *h, mmc_tensor *q, int training) {
    film_cond_arg a = {m, q};
    int film = m->fusion == VQA_HYBRID && q;
    return m->img.vt->map(ctx, &m->img, h, s0, s1, training, film ? film_cond : NULL, film ? &a : NULL);
}

// final map (B, C, G, G) -> (B, image_dim): [grid pool to g×g, flattened; global max], fc, ReLU
static mmc_tensor *image_vector(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *h) {
    if (!h) return NULL;
    int B = h->shape[0], C = h->shape[1], G = h->shape[2] * h->shape[3];
    const char *pool = m->cfg.image_pool;
    mmc_tensor *parts[2];
    int n = 0;
    if (strcmp(pool, "max")) {
        mmc_tensor *g = m->grid_pool > 1 ? mmc_avg_pool2d(ctx, h, m->grid_pool, m->grid_pool, 0) : h;
        parts[n++] = g ? mmc_reshape(ctx, g, 2, (int[]){B, (int)(g->numel / B)}) : NULL;
    }
    if (strcmp(pool, "grid")) parts[n++] = mmc_max(ctx, mmc_reshape(ctx, h, 3, (int[]){B, C, G}), 2, 0); // (B, C)
    mmc_tensor *f = n == 1 ? parts[0] : mmc_concat(ctx, parts, 2, 1);
    return mmc_relu(ctx, mmc_nn_linear_forward(ctx, &m->img_fc, f));
}

/* Late fusion by attention. h: the final map (B, C, G, G) of the B images; v (B, image_dim)
 * their vectors; q (N, H). Each cell is its C features and its centre's (x, y) in [-1, 1];
 * mmc_nn_cell_attention reads `glimpses` question-weighted sums of the cells of text n's
 * image (and, scored by dot product, each glimpse's best score).
 * -> [glimpses (, best scores), v, q] (N, K·(C + 2) (+ K) + image_dim + H) */
static mmc_tensor *attention_features(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *h, mmc_tensor *v, mmc_tensor *q,
                                      const int *item_img, int N) {
    if (!h || !v || !q) return NULL;
    const int B = h->shape[0], C = h->shape[1], G = h->shape[2], L = G * h->shape[3];
    mmc_tensor *xy = mmc_tensor_empty(ctx, 3, (int[]){B, L, 2});
    if (!xy) return NULL;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L; i++) {
            xy->data[((size_t)b * L + i) * 2] = ((float)(i % h->shape[3]) + 0.5f) / (float)h->shape[3] * 2.0f - 1.0f;
            xy->data[((size_t)b * L + i) * 2 + 1] = ((float)(i / h->shape[3]) + 0.5f) / (float)G * 2.0f - 1.0f;
        }
    mmc_tensor *cl[2] = {mmc_permute(ctx, mmc_reshape(ctx, h, 3, (int[]){B, C, L}), (int[]){0, 2, 1}), xy};
    mmc_tensor *cells = mmc_concat(ctx, cl, 2, 2); // (B, L, C + 2)
    mmc_tensor *parts[3] = {mmc_nn_cell_attention_forward(ctx, &m->att, cells, q, item_img), expand(ctx, v, item_img, N), q};
    if (strcmp(m->cfg.att_fuse, "bilinear")) return mmc_concat(ctx, parts, 3, 1);
    mmc_tensor *img = mmc_concat(ctx, parts, 2, 1);
    mmc_tensor *bq[2] = {mmc_nn_lowrank_bilinear_forward(ctx, &m->mlb, img, q, 0, NULL), q};
    return mmc_concat(ctx, bq, 2, 1);
}

static mmc_tensor *joint_forward(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img, const int32_t *ids,
                                 const int32_t *mask, int N, int T, int training) {
    enc_text_batch tb; /* the columns up to the longest text, as the text encoders see them */
    if (enc_text_batch_make(ctx, ids, mask, N, T, &tb)) return NULL;
    uint8_t *km = mmc_arena_alloc(ctx->arena, (size_t)N * tb.Te);
    if (!km) return mmc_op_fail(ctx, MMC_ERR_RUNTIME, "vqa joint: out of memory");
    for (int i = 0; i < N * tb.Te; i++) km[i] = tb.mask->data[i] != 0.0f;
    mmc_tensor *x = expand(ctx, images, item_img, N);
    return mmc_nn_joint_forward(ctx, &m->joint, x, tb.ids, km, tb.Te, training, &m->drop_rng);
}

static int check_images(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img, int N) {
    const mmc_vqa_config *c = &m->cfg;
    if (m->fusion != VQA_NONE) {
        char s[64];
        if (!images || images->ndim != 4 || images->shape[1] != 3 * m->T || images->shape[2] != c->image_size ||
            images->shape[3] != c->image_size || !item_img)
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: %s %s, want (B, %d, %d, %d) and one per text", m->video ? "clips" : "images",
                               images ? mmc_shape_str(images, s, sizeof s) : "(none)", 3 * m->T, c->image_size, c->image_size), -1;
        for (int n = 0; n < N; n++)
            if (item_img[n] < 0 || item_img[n] >= images->shape[0])
                return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: text %d names image %d of %d", n, item_img[n], images->shape[0]), -1;
    }
    return 0;
}

/* After the question's vector q (N, H) (NULL: query none): the fusion and the classifier. */
static mmc_tensor *forward_q(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img, mmc_tensor *q, int N,
                             int training) {
    mmc_tensor *feat = NULL;
    if (m->fusion == VQA_NONE) feat = q;
    else if (m->query == VQA_Q_NONE) /* late, the image vector alone */
        feat = expand(ctx, image_vector(ctx, m, stages(ctx, m, 0, m->n_stages, images, NULL, training)), item_img, N);
    else if (m->fusion != VQA_JOINT) {
        mmc_tensor *h = stages(ctx, m, 0, m->shared_stages, images, NULL, training);
        if (m->fusion == VQA_LATE && m->combine == VQA_ATTENTION) {
            feat = attention_features(ctx, m, h, image_vector(ctx, m, h), q, item_img, N);
        } else if (m->fusion == VQA_LATE) {
            mmc_tensor *v = expand(ctx, image_vector(ctx, m, h), item_img, N); // (N, image_dim)
            if (m->combine == VQA_LOGITS) {
                mmc_tensor *lg[2] = {mmc_nn_mlp_forward(ctx, &m->head_img, v, training, &m->drop_rng),
                                     mmc_nn_mlp_forward(ctx, &m->head_txt, q, training, &m->drop_rng)};
                return mmc_nn_logit_average_forward(ctx, &m->lavg, lg, 2);
            }
            feat = m->combine == VQA_BILINEAR ? mmc_nn_lowrank_bilinear_forward(ctx, &m->mlb, v, q, training, &m->drop_rng)
                                              : mmc_nn_fusion_forward(ctx, &m->fuse, v, q);
        } else {
            h = expand(ctx, h, item_img, N);
            if (m->fusion == VQA_EARLY) /* stage early_stage's input gets the question's channels */
                h = mmc_tile_concat(ctx, h, mmc_tanh(ctx, mmc_nn_linear_forward(ctx, &m->early_fc, q)));
            h = stages(ctx, m, m->shared_stages, m->n_stages, h, q, training);
            mmc_tensor *v = image_vector(ctx, m, h); // (N, image_dim)
            if (m->fusion == VQA_HYBRID) {
                mmc_tensor *vq[2] = {v, q};
                feat = mmc_concat(ctx, vq, 2, 1);
            } else feat = v;
        }
    }
    return mmc_nn_mlp_forward(ctx, &m->head, feat, training, &m->drop_rng);
}

mmc_tensor *mmc_vqa_forward(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img, const int32_t *ids,
                            const int32_t *mask, int N, int T, int training) {
    const mmc_vqa_config *c = &m->cfg;
    if (m->query != VQA_Q_TEXT)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: this model's query is \"%s\", not text (mmc_vqa_forward_audio)", c->query);
    if (!ids || !mask || N < 1 || T < 1 || T > c->max_len)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: %d texts of %d tokens (1..%d)", N, T, c->max_len);
    if (check_images(ctx, m, images, item_img, N)) return NULL;
    if (m->fusion == VQA_JOINT) {
        mmc_tensor *feat = joint_forward(ctx, m, images, item_img, ids, mask, N, T, training);
        return feat ? mmc_nn_mlp_forward(ctx, &m->head, feat, training, &m->drop_rng) : NULL;
    }
    mmc_tensor *q = text_forward(ctx, m, ids, mask, N, T, training);
    return q ? forward_q(ctx, m, images, item_img, q, N, training) : NULL;
}

mmc_tensor *mmc_vqa_forward_audio(mmc_ctx *ctx, mmc_vqa *m, mmc_tensor *images, const int *item_img, mmc_tensor *mel,
                                  const int *len, int N, int training) {
    const mmc_vqa_config *c = &m->cfg;
    if (m->query == VQA_Q_TEXT)
        return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: this model's query is text (mmc_vqa_forward)");
    if (N < 1) return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: %d samples", N);
    if (check_images(ctx, m, images, item_img, N)) return NULL;
    mmc_tensor *q = NULL;
    if (m->query == VQA_Q_AUDIO) {
        char sh[64];
        if (!mel || mel->ndim != 3 || mel->shape[0] != N || mel->shape[1] != c->audio.n_mels || !len)
            return mmc_op_fail(ctx, MMC_ERR_USAGE, "vqa: sound %s, want (%d, %d, T) and a length each",
                               mel ? mmc_shape_str(mel, sh, sizeof sh) : "(none)", N, c->audio.n_mels);
        if (!(q = enc_audio_forward(ctx, &m->aud, mel, len, training))) return NULL;
    }
    return forward_q(ctx, m, images, item_img, q, N, training);
}

/* ----------------------------------------------------------- save / load */

int vqa_save(const mmc_vqa *m, const char *run_dir, uint64_t seed, int n_train, char **config_json, mmc_error *err) {
    cJSON *extra = cJSON_CreateObject(), *ans = cJSON_CreateStringArray((const char *const *)m->classes, m->n_classes);
    char sd[32];
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)seed);
    if (!extra || !ans || !cJSON_AddItemToObject(extra, "answers", ans) || !cJSON_AddStringToObject(extra, "seed", sd) ||
        !cJSON_AddNumberToObject(extra, "n_train", n_train)) {
        if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(extra, "answers"))) cJSON_Delete(ans);
        cJSON_Delete(extra);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory writing config.json", run_dir);
    }
    *config_json = task_config_text(mmc_vqa_config_to_json(&m->cfg), m->tok, extra, run_dir, err);
    return *config_json ? MMC_OK : err ? err->code : MMC_ERR_RUNTIME;
}

mmc_vqa *vqa_load_full(const char *run_dir, const char *weights, uint64_t *seed, int *n_train, mmc_error *err) {
    char path[4096];
    mmc_vqa_config cfg = mmc_vqa_config_default(NULL, NULL);
    cfg.max_len = 0;
    /* keys added later: absent from an older run's config.json = the behaviour it was trained with */
    memset(cfg.image.cnn_strides, 0, sizeof cfg.image.cnn_strides);
    cfg.image.coord = 0;
    strcpy(cfg.att_score, "additive");
    strcpy(cfg.att_fuse, "concat");
    strcpy(cfg.text_pool, "last");
    mmc_tokenizer *tok;
    cJSON *root;
    if (task_read_config(run_dir, &VQA_CONFIG, &cfg, &tok, &root, path, err)) return NULL;
    const cJSON *aj = cJSON_GetObjectItemCaseSensitive(root, "answers"), *sj = cJSON_GetObjectItemCaseSensitive(root, "seed"),
                *nj = cJSON_GetObjectItemCaseSensitive(root, "n_train");
    const char *why = !cJSON_IsArray(aj) || cJSON_GetArraySize(aj) < 1 ? "no \"answers\" array (the answer vocabulary)"
                    : !cJSON_IsString(sj) ? "no \"seed\" string"
                    : !cJSON_IsNumber(nj) || nj->valuedouble < 1 || nj->valuedouble > 1e9 || nj->valuedouble != floor(nj->valuedouble)
                        ? "no \"n_train\" count" : NULL;
    uint64_t sd = 0;
    if (!why) {
        char *end = NULL;
        sd = strtoull(sj->valuestring, &end, 10);
        if (!end || *end || end == sj->valuestring || sj->valuestring[0] == '-') why = "\"seed\" is not a decimal number";
    }
    int na = why ? 0 : cJSON_GetArraySize(aj);
    const char **cls = na ? mmc_calloc((size_t)na, sizeof(char *)) : NULL;
    if (!why && !cls) why = "out of memory";
    int i = 0;
    for (const cJSON *e = aj ? aj->child : NULL; !why && e; e = e->next, i++)
        if (!cJSON_IsString(e)) why = "an entry of \"answers\" is not a string";
        else cls[i] = e->valuestring;
    mmc_vqa *m = NULL;
    if (why) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: %s", path, why);
        mmc_tokenizer_free(tok);
    } else if ((m = create(&cfg, tok, cls, na, NULL, path, err))) {
        if (seed) *seed = sd;
        if (n_train) *n_train = (int)nj->valuedouble;
    } else if (err && err->code == MMC_ERR_RUNTIME) err->code = MMC_ERR_INPUT;
    mmc_free(cls);
    cJSON_Delete(root);
    if (m && task_load_weights(&m->P, run_dir, weights, err)) {
        mmc_vqa_free(m);
        return NULL;
    }
    return m;
}

mmc_vqa *mmc_vqa_load(const char *run_dir, const char *weights, mmc_error *err) {
    return vqa_load_full(run_dir, weights, NULL, NULL, err);
}

/* ------------------------------------------------------------- inference */

int mmc_vqa_image_to_chw(const mmc_vqa *m, const mmc_image *img, float *out, mmc_error *err) {
    return task_image_to_chw(img, m->cfg.image_size, out, "vqa", err);
}

/* chw: one image (3, S, S) or clip (3·T, S, S); NULL for fusion none */
static int answer_chw(mmc_vqa *m, const float *chw, const char *text, int k, int *top, float *prob, mmc_error *err) {
    int S = m->cfg.image_size, T = m->cfg.max_len, C = m->n_classes;
    int32_t *ids = mmc_malloc(sizeof(int32_t) * (size_t)T), *mask = mmc_malloc(sizeof(int32_t) * (size_t)T);
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = ids && mask && ctx ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: out of memory");
    if (!rc && m->query == VQA_Q_TEXT) rc = mmc_tokenizer_encode_batch(m->tok, &text, 1, T, ids, mask, err);
    if (!rc) {
        mmc_grad_mode(ctx, 0);
        mmc_tensor *x = m->fusion == VQA_NONE ? NULL : mmc_tensor_from(ctx, 4, (int[]){1, 3 * m->T, S, S}, chw);
        mmc_tensor *lg = NULL;
        if (m->query == VQA_Q_TEXT) lg = mmc_vqa_forward(ctx, m, x, (int[]){0}, ids, mask, 1, T, 0);
        else if (m->query == VQA_Q_NONE) lg = mmc_vqa_forward_audio(ctx, m, x, (int[]){0}, NULL, NULL, 1, 0);
        else { /* the sound track of the file: text is its path here */
            mmc_audio au = {0};
            float *mel = NULL;
            int len = 0;
            mmc_logmel_opts lo = mmc_logmel_opts_whisper();
            lo.n_mels = m->cfg.audio.n_mels;
            rc = mmc_audio_load(&au, text, 16000, err);
            if (!rc) rc = mmc_logmel(au.samples, au.n, &lo, &mel, &len, err);
            mmc_audio_free(&au);
            if (!rc) {
                if (len > m->cfg.audio.max_frames) { /* keep each band's first max_frames */
                    for (int f = 1; f < lo.n_mels; f++)
                        memmove(mel + (size_t)f * m->cfg.audio.max_frames, mel + (size_t)f * len, sizeof(float) * (size_t)m->cfg.audio.max_frames);
                    len = m->cfg.audio.max_frames;
                }
                mmc_tensor *mt = mmc_tensor_from(ctx, 3, (int[]){1, lo.n_mels, len}, mel);
                lg = mt ? mmc_vqa_forward_audio(ctx, m, x, (int[]){0}, mt, &len, 1, 0) : NULL;
            }
            mmc_free(mel);
        }
        mmc_tensor *p = lg ? mmc_softmax(ctx, lg) : NULL;
        if (rc) { /* err says why (the sound track) */
        } else if (!p) rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "vqa: %s", ctx->err.msg);
        else {
            int kk = k < C ? k : C;
            char *used = mmc_calloc((size_t)C, 1);
            if (!used) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: out of memory");
            for (int j = 0; !rc && j < kk; j++) { /* selection: ties keep the lower id */
                int best = -1;
                for (int c = 0; c < C; c++)
                    if (!used[c] && (best < 0 || p->data[c] > p->data[best])) best = c;
                used[best] = 1;
                top[j] = best;
                prob[j] = p->data[best];
            }
            mmc_free(used);
        }
    }
    mmc_ctx_free(ctx);
    mmc_free(ids);
    mmc_free(mask);
    return rc;
}

static int answer_check(const char *text, int k, int *top, float *prob, mmc_error *err) {
    if (!top || !prob || k < 1 || !text) return mmc_error_set(err, MMC_ERR_USAGE, "vqa: answer needs a text and room for k >= 1");
    if (mmc_utf8_validate(text, strlen(text), NULL)) return mmc_error_set(err, MMC_ERR_INPUT, "vqa: the text is not valid UTF-8");
    return MMC_OK;
}

int mmc_vqa_answer(mmc_vqa *m, const mmc_image *img, const char *text, int k, int *top, float *prob, mmc_error *err) {
    int S = m->cfg.image_size, rc = answer_check(text, k, top, prob, err);
    if (rc) return rc;
    if (m->video) return mmc_error_set(err, MMC_ERR_USAGE, "vqa: a video model answers about clips (mmc_vqa_answer_file), not images");
    float *chw = mmc_malloc(sizeof(float) * 3 * (size_t)S * S);
    if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: out of memory");
    if (m->fusion != VQA_NONE) {
        if (!img) rc = mmc_error_set(err, MMC_ERR_USAGE, "vqa: fusion '%s' needs an image", m->cfg.fusion);
        else rc = mmc_vqa_image_to_chw(m, img, chw, err);
    }
    if (!rc) rc = answer_chw(m, m->fusion == VQA_NONE ? NULL : chw, text, k, top, prob, err);
    mmc_free(chw);
    return rc;
}

int mmc_vqa_frames(const mmc_vqa *m) { return m->T; }

int mmc_vqa_answer_file(mmc_vqa *m, const char *path, const char *text, int k, int *top, float *prob, mmc_error *err) {
    if (m->query != VQA_Q_TEXT) text = path ? path : ""; /* no question: the file's frames and sound track */
    int S = m->cfg.image_size, rc = answer_check(text, k, top, prob, err);
    if (rc) return rc;
    if (!path) return mmc_error_set(err, MMC_ERR_USAGE, "vqa: no file");
    float *chw = mmc_malloc(sizeof(float) * 3 * (size_t)m->T * S * S);
    if (!chw) return mmc_error_set(err, MMC_ERR_RUNTIME, "vqa: out of memory");
    if (m->fusion == VQA_NONE) { /* no frames: the sound track (or the text) alone */
    } else if (m->video) rc = task_clip_file_to_chw(path, S, m->T, chw, NULL, err);
    else {
        mmc_image img = {0};
        rc = mmc_image_load(&img, path, 3, err);
        if (!rc) rc = mmc_vqa_image_to_chw(m, &img, chw, err);
        mmc_image_free(&img);
    }
    if (!rc) rc = answer_chw(m, m->fusion == VQA_NONE ? NULL : chw, text, k, top, prob, err);
    mmc_free(chw);
    return rc;
}

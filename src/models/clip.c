/* clip.c — a Hugging Face CLIPModel / ChineseCLIPModel folder: building the modules from
 * config.json, binding them to the checkpoint's tensors, and the logits.
 *
 * Our modules register their tensors under Hugging Face's own names where the two agree
 * (CLIP's encoder layers are MMC_NAMES_CLIP blocks), and a name map covers BERT's layers
 * (attention.self.query -> self_attn.q_proj, ...). Each of our tensors is "bound" to its
 * checkpoint name; load checks every binding (present, float dtype, shape from the
 * config) before anything is read, so a broken folder fails whole, naming the tensor.
 *
 * Compact storage (F16/BF16 checkpoints, MMC_CLIP_STORAGE_AUTO): the encoder layers and
 * the token table stay in the checkpoint's bytes. All layers of a tower share one f32
 * scratch layer, refilled from the checkpoint just before it runs (clip_layer_fetch), and
 * token rows are decoded as they are looked up. Those tensors are packed into one buffer in
 * their stored dtype and the files are closed, so memory is the packed layers (half their
 * f32 size) + the other tensors in f32 + one f32 layer per tower. */
#include "clip_internal.h"
#include "../nn/nn_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ names */

/* Our MMC_NAMES_CLIP block names -> BERT's (ChineseCLIPTextLayer) names. A BERT layer is
 * a post-LN block: x = LN1(x + attn(x)); x = LN2(x + ff(x)). */
static const char *bert_name(const char *rest) {
    static const struct { const char *ours, *bert; } map[] = {
        {"self_attn.q_proj.", "attention.self.query."},
        {"self_attn.k_proj.", "attention.self.key."},
        {"self_attn.v_proj.", "attention.self.value."},
        {"self_attn.out_proj.", "attention.output.dense."},
        {"layer_norm1.", "attention.output.LayerNorm."},
        {"mlp.fc1.", "intermediate.dense."},
        {"mlp.fc2.", "output.dense."},
        {"layer_norm2.", "output.LayerNorm."},
    };
    static _Thread_local char buf[256];
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].ours);
        if (!strncmp(rest, map[i].ours, n)) {
            snprintf(buf, sizeof buf, "%s%s", map[i].bert, rest + n);
            return buf;
        }
    }
    return NULL;
}

static void layer_prefix(char *buf, size_t n, int text, int chinese, int i) {
    if (text && chinese) snprintf(buf, n, "text_model.encoder.layer.%d", i);
    else snprintf(buf, n, "%s.encoder.layers.%d", text ? "text_model" : "vision_model", i);
}

/* ------------------------------------------------------------------ build */

static mmc_nn_block_cfg block_cfg(int dim, int heads, int inter, int act, float eps, int pre_ln) {
    mmc_nn_block_cfg c = mmc_nn_block_defaults(dim, heads);
    c.mlp_dim = inter, c.act = act, c.eps = eps;
    c.norm_first = pre_ln;
    c.names = MMC_NAMES_CLIP;
    c.dropout = 0.0f; /* inference; transformers' eval mode drops nothing */
    return c;
}

/* The layers of one tower: in P with their checkpoint names (f32), or one scratch layer
 * shared by all (compact). */
static int build_layers(mmc_clip *m, clip_layers *L, int text, const mmc_nn_block_cfg *c, int n, mmc_error *err) {
    int chinese = text && m->cfg.chinese, rc;
    clip_name_map map = chinese ? bert_name : NULL;
    char prefix[128];
    L->n = n;
    if (m->compact) {
        const char *sp = text ? "text" : "vision";
        int from = m->scratch.n;
        if ((rc = mmc_nn_encoder_layer_init(&L->layer[0], &m->scratch, sp, c, NULL, err))) return rc;
        for (int i = 0; i < n; i++) {
            L->layer[i] = L->layer[0];
            layer_prefix(prefix, sizeof prefix, text, chinese, i);
            if ((rc = clip_binds_add_params(&L->binds[i], &m->scratch, from, sp, prefix, map, err))) return rc;
        }
        return MMC_OK;
    }
    for (int i = 0; i < n; i++) {
        layer_prefix(prefix, sizeof prefix, text, chinese, i);
        int from = m->P.n;
        /* BERT layers get our block names in P (prefixed "text_model.bert.") since theirs differ */
        char reg[160];
        if (chinese) snprintf(reg, sizeof reg, "text_model.bert.layer.%d", i);
        else snprintf(reg, sizeof reg, "%s", prefix);
        if ((rc = mmc_nn_encoder_layer_init(&L->layer[i], &m->P, reg, c, NULL, err)) ||
            (rc = clip_binds_add_params(&L->binds[i], &m->P, from, reg, prefix, map, err)))
            return rc;
    }
    return MMC_OK;
}

/* A resident tensor under its checkpoint name (bound by identity). */
static mmc_tensor *resident(mmc_clip *m, const char *name, int ndim, const int *shape, mmc_error *err) {
    mmc_tensor *t = mmc_params_new(&m->P, NULL, name, MMC_PARAM, ndim, shape, err);
    if (t && clip_binds_add(&m->resident, t, name, err)) return NULL;
    return t;
}

/* P's tensors from index `from` on: a module registered under its checkpoint name. */
static int bind_module(mmc_clip *m, int from, const char *name, mmc_error *err) {
    return clip_binds_add_params(&m->resident, &m->P, from, name, name, NULL, err);
}

static int build(mmc_clip *m, mmc_error *err) {
    const clip_text_cfg *tc = &m->cfg.text;
    const clip_vision_cfg *vc = &m->cfg.vision;
    int Dt = tc->hidden, Dv = vc->hidden, Pd = m->cfg.proj_dim, rc;
    int from;
    /* text embeddings */
    if (m->cfg.chinese) {
        snprintf(m->tok_emb_name, sizeof m->tok_emb_name, "text_model.embeddings.word_embeddings.weight");
        if (!(m->pos_emb = resident(m, "text_model.embeddings.position_embeddings.weight", 2, (int[]){tc->max_pos, Dt}, err)) ||
            !(m->type_emb = resident(m, "text_model.embeddings.token_type_embeddings.weight", 2, (int[]){tc->type_vocab, Dt}, err)))
            return mmc_nn_status(err);
        from = m->P.n;
        if ((rc = mmc_nn_layernorm_init(&m->emb_ln, &m->P, "text_model.embeddings.LayerNorm", Dt, tc->eps, err)) ||
            (rc = bind_module(m, from, "text_model.embeddings.LayerNorm", err)))
            return rc;
    } else {
        snprintf(m->tok_emb_name, sizeof m->tok_emb_name, "text_model.embeddings.token_embedding.weight");
        if (!(m->pos_emb = resident(m, "text_model.embeddings.position_embedding.weight", 2, (int[]){tc->max_pos, Dt}, err)))
            return mmc_nn_status(err);
    }
    if (!m->compact && !(m->tok_emb = resident(m, m->tok_emb_name, 2, (int[]){tc->vocab, Dt}, err)))
        return mmc_nn_status(err);
    /* text layers: CLIP pre-LN, BERT post-LN */
    mmc_nn_block_cfg c = block_cfg(Dt, tc->heads, tc->inter, tc->act, tc->eps, !m->cfg.chinese);
    if ((rc = build_layers(m, &m->text, 1, &c, tc->layers, err))) return rc;
    from = m->P.n;
    if (!m->cfg.chinese &&
        ((rc = mmc_nn_layernorm_init(&m->final_ln, &m->P, "text_model.final_layer_norm", Dt, tc->eps, err)) ||
         (rc = bind_module(m, from, "text_model.final_layer_norm", err))))
        return rc;
    from = m->P.n;
    if ((rc = mmc_nn_linear_init(&m->text_proj, &m->P, "text_projection", Dt, Pd, 0, NULL, err)) ||
        (rc = bind_module(m, from, "text_projection", err)))
        return rc;

    /* vision */
    int g = vc->image_size / vc->patch, np = g * g + 1;
    from = m->P.n;
    if ((rc = mmc_nn_conv2d_init(&m->patch, &m->P, "vision_model.embeddings.patch_embedding", vc->channels, Dv,
                                 vc->patch, vc->patch, 0, 0, NULL, err)) ||
        (rc = bind_module(m, from, "vision_model.embeddings.patch_embedding", err)))
        return rc;
    if (!(m->class_emb = resident(m, "vision_model.embeddings.class_embedding", 1, (int[]){Dv}, err)) ||
        !(m->vpos_emb = resident(m, "vision_model.embeddings.position_embedding.weight", 2, (int[]){np, Dv}, err)))
        return mmc_nn_status(err);
    from = m->P.n;
    if ((rc = mmc_nn_layernorm_init(&m->pre_ln, &m->P, "vision_model.pre_layrnorm", Dv, vc->eps, err)) ||
        (rc = bind_module(m, from, "vision_model.pre_layrnorm", err)))
        return rc;
    c = block_cfg(Dv, vc->heads, vc->inter, vc->act, vc->eps, 1);
    if ((rc = build_layers(m, &m->vision, 0, &c, vc->layers, err))) return rc;
    from = m->P.n;
    if ((rc = mmc_nn_layernorm_init(&m->post_ln, &m->P, "vision_model.post_layernorm", Dv, vc->eps, err)) ||
        (rc = bind_module(m, from, "vision_model.post_layernorm", err)))
        return rc;
    from = m->P.n;
    if ((rc = mmc_nn_linear_init(&m->vis_proj, &m->P, "visual_projection", Dv, Pd, 0, NULL, err)) ||
        (rc = bind_module(m, from, "visual_projection", err)))
        return rc;
    if (!(m->logit_scale = resident(m, "logit_scale", 0, NULL, err))) return mmc_nn_status(err);
    return MMC_OK;
}

/* Any encoder-layer tensor stored as F16/BF16 makes the model compact (under AUTO). */
static int checkpoint_is_half(const clip_store *s) {
    for (int k = 0; k < s->n; k++)
        for (int e = 0; e < s->files[k].count; e++) {
            const mmc_st_entry *x = &s->files[k].entries[e];
            if (strstr(x->name, ".encoder.layer") && (!strcmp(x->dtype, "F16") || !strcmp(x->dtype, "BF16")))
                return 1;
        }
    return 0;
}

/* Any I8/U8 tensor: a folder written by `mmc quantize`. */
static int checkpoint_is_quantised(const clip_store *s) {
    for (int k = 0; k < s->n; k++)
        for (int e = 0; e < s->files[k].count; e++) {
            const char *dt = s->files[k].entries[e].dtype;
            if (!strcmp(dt, "I8") || !strcmp(dt, "U8")) return 1;
        }
    return 0;
}

/* The bindings that are Linear weights (quantisable): every 2-D tensor of an encoder layer,
 * the two projections and the patch embedding (a convolution with stride = kernel: a Linear
 * over each patch's C·p·p values); also the token table, whose rows are read one by one,
 * dequantised (a quarter of the memory: 101 MB of CLIP ViT-B/32's 605 are this table). */
static void mark_linear(mmc_clip *m) {
    for (int t = 0; t < 2; t++) {
        clip_layers *L = t ? &m->vision : &m->text;
        for (int i = 0; i < L->n; i++)
            for (int j = 0; j < L->binds[i].n; j++) L->binds[i].b[j].linear = L->binds[i].b[j].t->ndim == 2;
    }
    for (int j = 0; j < m->resident.n; j++) {
        mmc_tensor *x = m->resident.b[j].t;
        m->resident.b[j].linear = x == m->text_proj.weight || x == m->vis_proj.weight || x == m->patch.weight ||
                                  (x == m->tok_emb && x);
    }
}

/* Quantised q8 attention: q, k and v of every layer stacked into one product. */
static int stack_quantized(mmc_clip *m, mmc_error *err) {
    for (int t = 0; t < 2; t++) {
        clip_layers *L = t ? &m->vision : &m->text;
        for (int i = 0; i < L->n; i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "stacked.%s.%d", t ? "vision" : "text", i);
            int rc = mmc_nn_mha_stack_quantized(&L->layer[i].self_attn, &m->P, prefix, err);
            if (rc) return rc;
        }
    }
    return MMC_OK;
}

/* Checks (read 0) or reads (read 1) every binding of bs. */
static int store_binds(const clip_store *s, const clip_binds *bs, int read, mmc_error *err) {
    for (int i = 0; i < bs->n; i++) {
        int rc = read ? clip_store_read(s, &bs->b[i], err) : clip_store_check(s, &bs->b[i], NULL, err);
        if (rc) return rc;
    }
    return MMC_OK;
}

/* The same for every layer of both towers. */
static int store_layers(mmc_clip *m, int read, mmc_error *err) {
    for (int t = 0; t < 2; t++) {
        const clip_layers *L = t ? &m->vision : &m->text;
        for (int i = 0; i < L->n; i++) {
            int rc = store_binds(&m->store, &L->binds[i], read, err);
            if (rc) return rc;
        }
    }
    return MMC_OK;
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const mmc_st_entry *)a)->name, ((const mmc_st_entry *)b)->name);
}

/* Compact storage keeps only what is decoded on use (every layer's tensors and the token
 * table) in their checkpoint dtype: they are copied into one packed, in-memory
 * safetensors (entries sorted by name, as mmc_safetensors_find expects) and the files,
 * whose other tensors now live in f32, are closed. */
static int pack_compact(mmc_clip *m, mmc_error *err) {
    int n = 1;
    for (int t = 0; t < 2; t++) {
        clip_layers *L = t ? &m->vision : &m->text;
        for (int i = 0; i < L->n; i++) n += L->binds[i].n;
    }
    mmc_safetensors pk;
    memset(&pk, 0, sizeof pk);
    pk.entries = mmc_calloc((size_t)n, sizeof *pk.entries);
    pk.path = mmc_malloc(strlen(m->dir) + 32);
    if (!pk.entries || !pk.path) goto oom;
    sprintf(pk.path, "%s (packed layers)", m->dir);
    /* sizes first, then one buffer */
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        int k = 0;
        for (int t = -1; t < 2; t++) {
            clip_layers *L = t == 1 ? &m->vision : &m->text;
            int layers = t < 0 ? 1 : L->n;
            for (int i = 0; i < layers; i++) {
                int nb = t < 0 ? 1 : L->binds[i].n;
                for (int j = 0; j < nb; j++) {
                    const char *name = t < 0 ? m->tok_emb_name : L->binds[i].b[j].name;
                    const mmc_safetensors *f = NULL;
                    const mmc_st_entry *e = clip_store_find(&m->store, name, &f);
                    if (!e) return mmc_error_set(err, MMC_ERR_INPUT, "checkpoint: missing tensor '%s'", name);
                    size_t sz = (size_t)(e->end - e->begin);
                    if (pass == 1) {
                        mmc_st_entry *d = &pk.entries[k];
                        *d = *e;
                        if (!(d->name = mmc_malloc(strlen(name) + 1))) goto oom;
                        strcpy(d->name, name);
                        d->begin = off, d->end = off + sz;
                        memcpy(pk.bytes + off, f->data + e->begin, sz);
                        pk.count = ++k;
                    }
                    off += sz;
                }
            }
        }
        if (pass == 0) {
            total = off;
            if (!(pk.bytes = mmc_malloc(total ? total : 1))) goto oom;
        }
    }
    qsort(pk.entries, (size_t)pk.count, sizeof *pk.entries, cmp_entry_name);
    pk.data = pk.bytes, pk.size = pk.data_size = total;
    clip_store_close(&m->store);
    if (!(m->store.files = mmc_calloc(1, sizeof *m->store.files))) goto oom;
    m->store.files[0] = pk;
    m->store.n = 1, m->store.bytes = total;
    return MMC_OK;
oom:
    mmc_safetensors_close(&pk);
    return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory packing the layers", m->dir);
}

int clip_layer_fetch(mmc_clip *m, clip_layers *L, int i, mmc_error *err) {
    if (!m->compact) return MMC_OK;
    return store_binds(&m->store, &L->binds[i], 1, err);
}

static int file_exists(const char *dir, const char *name) {
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

mmc_clip *mmc_clip_load_ex(const char *dir, const mmc_clip_opts *opts, mmc_error *err) {
    if (!dir || !*dir) {
        mmc_error_set(err, MMC_ERR_USAGE, "clip: no model folder");
        return NULL;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        mmc_error_set(err, MMC_ERR_INPUT, "%s: not a model folder", dir);
        return NULL;
    }
    mmc_clip *m = mmc_calloc(1, sizeof *m);
    if (!m) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", dir);
        return NULL;
    }
    size_t dl = strlen(dir);
    int rc;
    if (!(m->dir = mmc_malloc(dl + 1))) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "out of memory"); goto fail; }
    memcpy(m->dir, dir, dl + 1);
    if ((rc = clip_config_read(dir, &m->cfg, err)) || (rc = clip_store_open(&m->store, dir, err))) goto fail;
    int qtype = opts ? opts->quantize : 0;
    if (qtype && qtype != MMC_QTYPE_Q8 && qtype != MMC_QTYPE_Q4) {
        rc = mmc_error_set(err, MMC_ERR_USAGE, "%s: unknown quantisation type %d", dir, qtype);
        goto fail;
    }
    /* quantised weights are held resident: never compact then */
    m->compact = (!opts || opts->storage == MMC_CLIP_STORAGE_AUTO) && !qtype && !checkpoint_is_quantised(&m->store) &&
                 checkpoint_is_half(&m->store);
    m->store.qtype = qtype;
    if ((rc = build(m, err))) goto fail;
    mark_linear(m);
    if ((rc = store_binds(&m->store, &m->resident, 0, err)) || (rc = store_layers(m, 0, err))) goto fail;
    if (m->compact) { /* the token table is read row by row later: check it now */
        mmc_tensor probe = {0};
        probe.ndim = 2, probe.shape[0] = m->cfg.text.vocab, probe.shape[1] = m->cfg.text.hidden;
        clip_bind b = {&probe, m->tok_emb_name, 0};
        if ((rc = clip_store_check(&m->store, &b, NULL, err))) goto fail;
    }
    if ((rc = store_binds(&m->store, &m->resident, 1, err))) goto fail;
    if (m->compact && (rc = pack_compact(m, err))) goto fail;
    if (!m->compact) {
        if ((rc = store_layers(m, 1, err)) || (rc = stack_quantized(m, err))) goto fail;
        clip_store_close(&m->store); /* everything is in f32 now */
    }
    m->quantized = m->vis_proj.weight->quant != NULL || m->text_proj.weight->quant != NULL;
    for (int t = 0; t < 2 && !m->quantized; t++) {
        clip_layers *L = t ? &m->vision : &m->text;
        for (int i = 0; i < L->n && !m->quantized; i++)
            for (int j = 0; j < L->binds[i].n; j++) m->quantized |= L->binds[i].b[j].t->quant != NULL;
    }
    /* tokenizer and image preprocessing, when the folder has them */
    if (file_exists(dir, "vocab.txt") || file_exists(dir, "tokenizer.json") || file_exists(dir, "vocab.json")) {
        if (!(m->tok = mmc_tokenizer_load_dir(dir, err))) { rc = err ? err->code : MMC_ERR_INPUT; goto fail; }
        if (mmc_tokenizer_vocab_size(m->tok) > m->cfg.text.vocab) {
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: the tokenizer has %d tokens, more than config.json's vocab_size %d",
                               dir, mmc_tokenizer_vocab_size(m->tok), m->cfg.text.vocab);
            goto fail;
        }
    }
    /* Context: CLIP's is its 77 positions. Chinese-CLIP's BERT has 512 positions, but the
     * model was trained on 52 tokens (the Chinese-CLIP project's context_length) and the
     * hub's tokenizer_config sets no usable limit, so 52 it is. */
    m->context = m->cfg.text.max_pos;
    if (m->cfg.chinese && m->context > 52) m->context = 52;
    int tml = clip_tokenizer_max_length(dir);
    if (tml > 1 && tml < m->context) m->context = tml;
    if ((rc = clip_preprocessor_read(dir, m->cfg.vision.image_size, &m->pre, &m->have_pre, err))) goto fail;
    if (m->have_pre) {
        const mmc_image_preprocess *p = &m->pre;
        int S = m->cfg.vision.image_size, ow = -1, oh = -1;
        if (p->do_center_crop) ow = p->crop_w, oh = p->crop_h;
        else if (p->do_resize && !p->shortest_edge) ow = p->resize_w, oh = p->resize_h;
        if (ow != S || oh != S) {
            rc = mmc_error_set(err, MMC_ERR_INPUT,
                               "%s/preprocessor_config.json: images would come out %dx%d, the vision tower takes %dx%d",
                               dir, ow, oh, S, S);
            goto fail;
        }
    }
    if (!(m->ctx = mmc_ctx_new())) { rc = mmc_error_set(err, MMC_ERR_RUNTIME, "out of memory"); goto fail; }
    return m;
fail:
    (void)rc;
    mmc_clip_free(m);
    return NULL;
}

mmc_clip *mmc_clip_load(const char *dir, mmc_error *err) { return mmc_clip_load_ex(dir, NULL, err); }

void mmc_clip_free(mmc_clip *m) {
    if (!m) return;
    clip_store_close(&m->store);
    clip_binds_free(&m->resident);
    for (int i = 0; i < MMC_CLIP_MAX_LAYERS; i++) {
        clip_binds_free(&m->text.binds[i]);
        clip_binds_free(&m->vision.binds[i]);
    }
    mmc_params_free(&m->P);
    mmc_params_free(&m->scratch);
    mmc_tokenizer_free(m->tok);
    mmc_ctx_free(m->ctx);
    mmc_free(m->dir);
    mmc_free(m);
}

int mmc_clip_dim(const mmc_clip *m) { return m ? m->cfg.proj_dim : 0; }
float mmc_clip_logit_scale(const mmc_clip *m) { return m ? expf(m->logit_scale->data[0]) : 0.0f; }
int mmc_clip_is_chinese(const mmc_clip *m) { return m ? m->cfg.chinese : 0; }
int mmc_clip_context_length(const mmc_clip *m) { return m ? m->context : 0; }
int mmc_clip_image_size(const mmc_clip *m) { return m ? m->cfg.vision.image_size : 0; }
int mmc_clip_text_layers(const mmc_clip *m) { return m ? m->text.n : 0; }
int mmc_clip_vision_layers(const mmc_clip *m) { return m ? m->vision.n : 0; }
const mmc_tokenizer *mmc_clip_tokenizer(const mmc_clip *m) { return m ? m->tok : NULL; }

size_t mmc_clip_memory_bytes(const mmc_clip *m, int *compact) {
    if (compact) *compact = m ? m->compact : 0;
    if (!m) return 0;
    size_t b = 0;
    for (int i = 0; i < m->P.n; i++) { /* float data where kept, quantised copies */
        const mmc_tensor *t = m->P.tensors[i];
        if (t->data) b += (size_t)t->numel * sizeof(float);
        b += mmc_qweight_bytes(t->quant);
    }
    b += (size_t)(mmc_params_count(&m->scratch, MMC_PARAM) + mmc_params_count(&m->scratch, MMC_BUFFER)) * sizeof(float);
    if (m->compact) b += m->store.bytes;
    return b;
}

// text_embeds (Bt, P), image_embeds (Bi, P) -> logits_per_text (Bt, Bi)
mmc_tensor *mmc_clip_logits(mmc_ctx *ctx, mmc_clip *m, mmc_tensor *text_embeds, mmc_tensor *image_embeds) {
    MMC_CHECK_INPUTS(ctx, "clip logits", text_embeds, image_embeds);
    mmc_tensor *s = mmc_exp(ctx, mmc_reshape(ctx, m->logit_scale, 2, (int[]){1, 1}));
    return mmc_mul(ctx, mmc_matmul(ctx, text_embeds, image_embeds, 0, 1), s);
}

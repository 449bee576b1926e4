/* clip_train.c — fine-tuning a pretrained CLIP / Chinese-CLIP on a dataset folder
 * (`mmc train retrieval --init HF_FOLDER`), saving it back as a Hugging Face folder, and
 * its recall on a split.
 *
 * The model is loaded with f32 storage: every tensor is a persistent MMC_PARAM of
 * m->P and the towers are built from autograd ops only (token/position/type lookups are
 * mmc_embedding, the class token is zeros + class_embedding, pooling is an mmc_embedding
 * over the final hidden states), so one backward reaches every tensor, logit_scale
 * included (test clip_finetune_all_params_get_grads).
 *
 * Data: the manifest is indexed once (captions of the language per sample); images are
 * decoded and preprocessed per batch from disk with the model's own preprocessor (a
 * 224-px CLIP would need 600 KB of floats per image held in memory otherwise).
 * Randomness is a function of (seed, position) as in retrieval_train.c: the order of
 * epoch e comes from stream 1000 + e, the caption choice of step s from stream 2^40 + s.
 * There is no dropout (transformers' CLIP configs have none by default).
 *
 * The run runs on the training loop (train_loop.c) and resumes like every task: its
 * checkpoints are the loop's (optimizer.safetensors, trainer.json) with the model file
 * written under the Hugging Face names (write_model), so the run folder stays a hub folder
 * that every command loads; finetune.json keeps the fine-tuning settings and the init
 * folder, which a resume reads back. */
#include "clip_internal.h"
#include "task_util.h"
#include "train_loop.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

mmc_clip_train_config mmc_clip_train_config_default(void) {
    mmc_clip_train_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = 32;
    c.lr = 1e-5f;
    c.weight_decay = 0.1f;
    c.min_lr_ratio = 0.0f;
    c.grad_clip = 1.0f;
    c.warmup_steps = -1;
    c.epochs = 1;
    return c;
}

mmc_params *mmc_clip_params(mmc_clip *m) { return m ? &m->P : NULL; }

/* ------------------------------------------------------------------ split */
/* A split is a task_split without pixels (task_util.h): the captions of the language per
 * sample; the images are read per batch. */
static int split_load(task_split *d, const char *dir, const char *split, int zh, int max_images, mmc_error *err) {
    return task_split_load(d, dir, split, zh ? "zh" : "en", 0, max_images, err);
}

/* Samples idx[0..n) decoded and preprocessed into out (n, 3, S, S); in parallel, the first
 * failure (lowest position) reported. */
static int split_pixels(const mmc_clip *m, const task_split *d, const int *idx, int n, float *out, mmc_error *err) {
    if (!m->have_pre)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: no preprocessor_config.json (how images are resized and normalised)", m->dir);
    int S = m->cfg.vision.image_size, bad = -1;
    size_t per = (size_t)3 * S * S;
    mmc_error first = {0};
#pragma omp parallel for schedule(dynamic, 4)
    for (int b = 0; b < n; b++) {
        char path[4096];
        mmc_error e = {0};
        mmc_image img = {0};
        mmc_tensor *t = NULL;
        snprintf(path, sizeof path, "%s/%s", d->man->dir, d->man->samples[idx[b]].image);
        int rc = mmc_image_load(&img, path, 3, &e);
        if (!rc) rc = mmc_image_preprocess_run(&m->pre, &img, &t, &e);
        if (!rc && t->numel != (int64_t)per) rc = mmc_error_set(&e, MMC_ERR_INPUT, "%s: preprocessed to the wrong size", path);
        if (!rc) memcpy(out + (size_t)b * per, t->data, sizeof(float) * per);
        mmc_tensor_free(t);
        mmc_image_free(&img);
        if (rc) {
#pragma omp critical(clip_split_err)
            if (bad < 0 || b < bad) { bad = b; first = e; }
        }
    }
    if (bad >= 0) {
        if (err) *err = first;
        return first.code ? first.code : MMC_ERR_INPUT;
    }
    return MMC_OK;
}

static int split_evaluate(mmc_clip *m, const task_split *d, mmc_retrieval_metrics *out, mmc_error *err) {
    int P = m->cfg.proj_dim, S = m->cfg.vision.image_size, chunk = 32;
    float *ie = mmc_malloc(sizeof(float) * (size_t)d->n * P), *te = mmc_malloc(sizeof(float) * (size_t)d->n_caps * P);
    float *px = mmc_malloc(sizeof(float) * (size_t)chunk * 3 * S * S);
    int *idx = mmc_malloc(sizeof(int) * (size_t)chunk), rc = MMC_OK;
    if (!ie || !te || !px || !idx) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    for (int at = 0; at < d->n && !rc; at += chunk) {
        int b = d->n - at < chunk ? d->n - at : chunk;
        for (int i = 0; i < b; i++) idx[i] = at + i;
        if ((rc = split_pixels(m, d, idx, b, px, err))) break;
        mmc_ctx_reset(m->ctx);
        mmc_error_clear(&m->ctx->err);
        int prev = mmc_grad_mode(m->ctx, 0);
        mmc_clip_vision_out vo;
        mmc_tensor *x = mmc_tensor_from(m->ctx, 4, (int[]){b, 3, S, S}, px);
        if (!x || mmc_clip_vision_forward(m->ctx, m, x, &vo))
            rc = mmc_error_set(err, m->ctx->err.code ? m->ctx->err.code : MMC_ERR_RUNTIME, "evaluate: %s", m->ctx->err.msg);
        else memcpy(ie + (size_t)at * P, vo.embeds->data, sizeof(float) * (size_t)b * P);
        mmc_grad_mode(m->ctx, prev);
    }
    mmc_ctx_reset(m->ctx);
    if (!rc) rc = mmc_clip_embed_texts(m, d->caps, d->n_caps, te, err);
    if (!rc) rc = mmc_retrieval_recall(ie, d->n, te, d->cap_img, d->n_caps, P, out, err);
    mmc_free(ie), mmc_free(te), mmc_free(px), mmc_free(idx);
    return rc;
}

static int lang_is_zh(const mmc_clip *m, const char *lang) {
    if (lang && lang[0]) return !strcmp(lang, "zh");
    return m->cfg.chinese;
}

int mmc_clip_evaluate(mmc_clip *m, const char *data_dir, const char *split, const char *lang, int max_images,
                      mmc_retrieval_metrics *out, mmc_error *err) {
    if (!m || !data_dir || !split || !out) return mmc_error_set(err, MMC_ERR_USAGE, "clip evaluate: NULL argument");
    task_split d;
    int rc = split_load(&d, data_dir, split, lang_is_zh(m, lang), max_images, err);
    if (rc) return rc;
    if (d.n < 1) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no samples", d.man->path);
    if (!rc) rc = split_evaluate(m, &d, out, err);
    task_split_free(&d);
    return rc;
}

/* ------------------------------------------------------------------ save */

static int copy_file(const char *from_dir, const char *to_dir, const char *name, mmc_error *err) {
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", from_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", to_dir, name);
    struct stat sb;
    if (stat(src, &sb) != 0) return MMC_OK; /* optional */
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mmc_read_file(src, (size_t)1 << 30, &buf, &n, err);
    if (!rc) rc = mmc_write_file_atomic(dst, buf, n, err);
    mmc_free(buf);
    return rc;
}

static int same_dir(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The weights alone under the checkpoint's names, with metadata meta: F32, and a weight
 * held quantised as I8 (q8) or U8 (q4) with NAME_scale F32 beside it (docs/formats.md). */
static int clip_write_weights(const mmc_clip *m, const char *path, const char *meta, mmc_error *err) {
    if (m->compact) return mmc_error_set(err, MMC_ERR_USAGE, "clip save: %s is held compact (F16/BF16); load it with f32 storage", m->dir);
    int n = m->resident.n;
    for (int i = 0; i < m->text.n; i++) n += m->text.binds[i].n;
    for (int i = 0; i < m->vision.n; i++) n += m->vision.binds[i].n;
    const clip_bind **bs = mmc_calloc((size_t)n + 1, sizeof *bs);
    mmc_st_blob *blobs = mmc_calloc(2 * (size_t)n + 1, sizeof *blobs);
    void **owned = mmc_calloc(2 * (size_t)n + 1, sizeof *owned);
    char **names = mmc_calloc((size_t)n + 1, sizeof *names);
    int k = 0, nb = 0, no = 0, rc = MMC_OK;
    if (!bs || !blobs || !owned || !names) {
        rc = mmc_error_set(err, MMC_ERR_RUNTIME, "clip save: out of memory");
        goto done;
    }
    for (int i = 0; i < m->resident.n; i++) bs[k++] = &m->resident.b[i];
    for (int t = 0; t < 2; t++) {
        const clip_layers *L = t ? &m->vision : &m->text;
        for (int i = 0; i < L->n; i++)
            for (int j = 0; j < L->binds[i].n; j++) bs[k++] = &L->binds[i].b[j];
    }
    for (int i = 0; i < k; i++) {
        const mmc_tensor *t = bs[i]->t;
        mmc_st_blob *b = &blobs[nb++];
        b->name = bs[i]->name, b->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) b->shape[d] = t->shape[d];
        if (!t->quant) {
            b->dtype = "F32", b->data = t->data, b->bytes = (size_t)t->numel * 4;
            continue;
        }
        int type = mmc_qweight_type(t->quant), out = t->shape[0], in = (int)(t->numel / out);
        int groups = mmc_qweight_stored_groups(type, in);
        size_t qb = mmc_qweight_stored_bytes(type, out, in);
        void *q = owned[no++] = mmc_malloc(qb ? qb : 1);
        float *sc = owned[no++] = mmc_malloc(sizeof(float) * (size_t)out * groups);
        size_t ln = strlen(b->name);
        char *sn = names[i] = mmc_malloc(ln + 7);
        if (!q || !sc || !sn) {
            rc = mmc_error_set(err, MMC_ERR_RUNTIME, "clip save: out of memory");
            goto done;
        }
        memcpy(sn, b->name, ln);
        memcpy(sn + ln, "_scale", 7);
        mmc_qweight_to_stored(t->quant, q, sc);
        b->dtype = type == MMC_QTYPE_Q8 ? "I8" : "U8", b->data = q, b->bytes = qb;
        if (type == MMC_QTYPE_Q4) b->shape[1] = (in + 1) / 2;
        mmc_st_blob *s = &blobs[nb++];
        s->name = sn, s->dtype = "F32", s->ndim = 2, s->shape[0] = out, s->shape[1] = groups;
        s->data = sc, s->bytes = sizeof(float) * (size_t)out * groups;
    }
    rc = mmc_safetensors_write_blobs(path, blobs, nb, meta, err);
done:
    for (int i = 0; owned && i < no; i++) mmc_free(owned[i]);
    for (int i = 0; names && i < k; i++) mmc_free(names[i]);
    mmc_free(bs), mmc_free(blobs), mmc_free(owned), mmc_free(names);
    return rc;
}

int mmc_clip_save(const mmc_clip *m, const char *dir, const char *weights, mmc_error *err) {
    if (!m || !dir) return mmc_error_set(err, MMC_ERR_USAGE, "clip save: NULL argument");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, weights ? weights : "model.safetensors");
    int rc = clip_write_weights(m, path, "{\"format\":\"pt\"}", err);
    static const char *files[] = {"config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
                                  "special_tokens_map.json", "vocab.json", "merges.txt", "vocab.txt"};
    if (!rc && !same_dir(m->dir, dir))
        for (size_t i = 0; i < sizeof files / sizeof files[0] && !rc; i++) rc = copy_file(m->dir, dir, files[i], err);
    return rc;
}

/* ------------------------------------------------------------------ trainer */

typedef struct ctrainer {
    const mmc_retrieval_train_opts *o;
    mmc_clip_train_config cfg;
    char init[4096];
    mmc_clip *m;
    task_split train, val;
    int has_val, zh;
    int B, spe, warmup;
    int *perm, perm_epoch, *idx;
    float *px;
    const char **texts;
    int32_t *ids, *mask;
} ctrainer;

static void release(void *self) {
    ctrainer *t = self;
    mmc_clip_free(t->m);
    task_split_free(&t->train);
    task_split_free(&t->val);
    mmc_free(t->perm), mmc_free(t->idx), mmc_free(t->px), mmc_free(t->texts), mmc_free(t->ids), mmc_free(t->mask);
}

/* Weight decay on matrices (linear and the patch convolution), not on biases, norms, the
 * token / position / type / class embeddings or logit_scale (CLIP's recipe). */
static int decays(const mmc_tensor *p) {
    if (p->ndim < 2) return 0;
    return !strstr(p->name, "embedding") || strstr(p->name, "patch_embedding");
}

/* finetune.json: the settings and the init folder, written when the run starts. */
static int write_settings(const ctrainer *t, mmc_error *err) {
    cJSON *o = cJSON_CreateObject();
    const mmc_clip_train_config *c = &t->cfg;
    int ok = o && cJSON_AddStringToObject(o, "task", "clip_finetune") && cJSON_AddStringToObject(o, "init", t->init) &&
             cJSON_AddStringToObject(o, "lang", t->zh ? "zh" : "en") && cJSON_AddNumberToObject(o, "batch_size", t->B) &&
             cJSON_AddNumberToObject(o, "lr", c->lr) && cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay) &&
             cJSON_AddNumberToObject(o, "min_lr_ratio", c->min_lr_ratio) && cJSON_AddNumberToObject(o, "grad_clip", c->grad_clip) &&
             cJSON_AddNumberToObject(o, "warmup_steps", t->warmup) && cJSON_AddNumberToObject(o, "epochs", c->epochs);
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) return mmc_error_set(err, MMC_ERR_RUNTIME, "clip train: out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/finetune.json", t->o->run_dir);
    int rc = mmc_write_file_atomic(path, text, strlen(text), err);
    cJSON_free(text);
    return rc;
}

static int read_settings(ctrainer *t, mmc_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/finetune.json", t->o->run_dir);
    cJSON *r;
    int rc = mmc_json_load(path, 1u << 20, 1, &r, err);
    if (rc) return rc;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(r, "init"), *lang = cJSON_GetObjectItemCaseSensitive(r, "lang");
    static const char *const keys[] = {"batch_size", "lr", "weight_decay", "min_lr_ratio", "grad_clip", "warmup_steps", "epochs"};
    double v[7];
    int ok = cJSON_IsString(in) && strlen(in->valuestring) < sizeof t->init && cJSON_IsString(lang) &&
             (!strcmp(lang->valuestring, "en") || !strcmp(lang->valuestring, "zh"));
    for (int i = 0; ok && i < 7; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, keys[i]);
        ok = cJSON_IsNumber(x) && isfinite(x->valuedouble) && x->valuedouble >= 0 && x->valuedouble <= 1e9;
        if (ok) v[i] = x->valuedouble;
    }
    ok = ok && v[0] >= 2 && v[0] == floor(v[0]) && v[1] > 0 && v[3] <= 1 && v[5] == floor(v[5]) && v[6] >= 1 && v[6] == floor(v[6]);
    if (ok) {
        snprintf(t->init, sizeof t->init, "%s", in->valuestring);
        snprintf(t->cfg.lang, sizeof t->cfg.lang, "%s", lang->valuestring);
        t->B = (int)v[0], t->cfg.batch_size = (int)v[0];
        t->cfg.lr = (float)v[1], t->cfg.weight_decay = (float)v[2], t->cfg.min_lr_ratio = (float)v[3], t->cfg.grad_clip = (float)v[4];
        t->warmup = t->cfg.warmup_steps = (int)v[5];
        t->cfg.epochs = (int)v[6];
    }
    cJSON_Delete(r);
    if (!ok)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: malformed (expected init, lang en|zh, batch_size >= 2, lr > 0, weight_decay, "
                             "min_lr_ratio in [0, 1], grad_clip, warmup_steps, epochs >= 1)", path);
    return MMC_OK;
}

static int setup(void *self, mmc_train_loop *L, mmc_train_spec *spec, mmc_error *err) {
    ctrainer *t = self;
    const mmc_retrieval_train_opts *o = t->o;
    const mmc_clip_train_config *c = &t->cfg;
    int rc = L->resume ? read_settings(t, err) : MMC_OK;
    if (rc) return rc;
    if (c->lang[0] && strcmp(c->lang, "en") && strcmp(c->lang, "zh"))
        return mmc_error_set(err, MMC_ERR_USAGE, "clip train: lang must be en or zh, got '%s'", c->lang);
    if (c->batch_size < 2 || !(c->lr > 0) || !(c->weight_decay >= 0) || !(c->min_lr_ratio >= 0 && c->min_lr_ratio <= 1) ||
        !(c->grad_clip >= 0) || c->warmup_steps < -1 || c->epochs < 1)
        return mmc_error_set(err, MMC_ERR_USAGE, "clip train: settings out of range (batch_size >= 2, lr > 0, weight_decay >= 0, "
                             "0 <= min_lr_ratio <= 1, grad_clip >= 0, warmup_steps >= -1, epochs >= 1)");
    /* a resume reads the weights of the last checkpoint: the run folder is a hub folder */
    const char *from = L->resume ? o->run_dir : t->init;
    mmc_clip_opts lo = {MMC_CLIP_STORAGE_F32, 0};
    if (!(t->m = mmc_clip_load_ex(from, &lo, err))) return err->code;
    if (t->m->quantized)
        return mmc_error_set(err, MMC_ERR_USAGE, "%s: the model is quantised (written by `mmc quantize`): fine-tune the "
                             "float model it came from", from);
    t->zh = lang_is_zh(t->m, c->lang);
    if (!t->m->tok) return mmc_error_set(err, MMC_ERR_INPUT, "%s: no tokenizer files: cannot fine-tune", from);
    if (!t->m->have_pre) return mmc_error_set(err, MMC_ERR_INPUT, "%s: no preprocessor_config.json: cannot fine-tune", from);
    if (!L->resume && same_dir(t->init, o->run_dir))
        return mmc_error_set(err, MMC_ERR_USAGE, "clip train: the run folder %s is the init folder; give another --out", o->run_dir);
    if ((rc = split_load(&t->train, o->data_dir, "train", t->zh, 0, err))) return rc;
    t->B = c->batch_size < t->train.n ? c->batch_size : t->train.n;
    if (t->B < 2) return mmc_error_set(err, MMC_ERR_INPUT, "%s: need at least 2 training samples", o->data_dir);
    const char *vs = train_val_split(o);
    if (vs) { /* validation is optional, but a broken val split is an error */
        if ((rc = split_load(&t->val, o->data_dir, vs, t->zh, o->val_max_images, err))) return rc;
        t->has_val = t->val.n > 0;
    }
    mmc_params *P = &t->m->P;
    for (int i = 0; i < P->n; i++) P->no_decay[i] = !decays(P->tensors[i]);
    int S = t->m->cfg.vision.image_size;
    t->spe = t->train.n / t->B;
    t->perm = mmc_malloc(sizeof(int) * (size_t)t->train.n);
    t->idx = mmc_malloc(sizeof(int) * (size_t)t->B);
    t->px = mmc_malloc(sizeof(float) * (size_t)t->B * 3 * S * S);
    t->texts = mmc_malloc(sizeof(char *) * (size_t)t->B);
    if (!t->perm || !t->idx || !t->px || !t->texts) return mmc_error_set(err, MMC_ERR_RUNTIME, "train: out of memory");
    if (!L->resume) {
        int64_t total = o->steps > 0 ? o->steps : (int64_t)(o->epochs > 0 ? o->epochs : c->epochs) * t->spe;
        if (c->warmup_steps >= 0) t->warmup = c->warmup_steps;
        else if (o->minutes <= 0) t->warmup = (int)(total / 10 < 500 ? total / 10 : 500);
        else t->warmup = 20;
        /* the hub files beside the weights, and the settings a resume reads */
        if ((rc = mmc_clip_save(t->m, o->run_dir, NULL, err)) || (rc = write_settings(t, err))) return rc;
    }
    spec->params = P;
    spec->steps_per_epoch = t->spe;
    spec->batch_size = t->B;
    spec->n_train = t->train.n;
    TRAIN_SPEC_SCHEDULE(spec, *c);
    spec->warmup_steps = t->warmup;
    spec->rate_key = "pairs_per_s";
    spec->logit_scale = t->m->logit_scale;
    return MMC_OK;
}

static mmc_tensor *loss(void *self, mmc_ctx *ctx, const mmc_train_loop *L, int *items, mmc_error *err) {
    ctrainer *t = self;
    int64_t step = L->ts.step;
    int pos = (int)(step % t->spe);
    task_epoch_perm(t->o->seed, (int)(step / t->spe), t->perm, t->train.n, &t->perm_epoch);
    mmc_rng r;
    mmc_rng_seed(&r, t->o->seed, ((uint64_t)1 << 40) + (uint64_t)step);
    for (int b = 0; b < t->B; b++) {
        int i = t->perm[pos * t->B + b];
        int c = (int)mmc_rng_below(&r, (uint32_t)t->train.cap_count[i]);
        t->idx[b] = i;
        t->texts[b] = t->train.caps[t->train.cap_first[i] + c];
    }
    mmc_free(t->ids), mmc_free(t->mask);
    t->ids = t->mask = NULL;
    int T = 0;
    if (split_pixels(t->m, &t->train, t->idx, t->B, t->px, err) || mmc_clip_tokenize(t->m, t->texts, t->B, &t->ids, &t->mask, &T, err))
        return NULL;
    int S = t->m->cfg.vision.image_size;
    mmc_clip_vision_out vo;
    mmc_clip_text_out to;
    mmc_tensor *x = mmc_tensor_from(ctx, 4, (int[]){t->B, 3, S, S}, t->px);
    *items = t->B;
    if (x && !mmc_clip_vision_forward(ctx, t->m, x, &vo) && !mmc_clip_text_forward(ctx, t->m, t->ids, t->mask, NULL, t->B, T, &to))
        return mmc_loss_infonce(ctx, vo.embeds, to.embeds, t->m->logit_scale, logf(100.0f));
    return NULL;
}

static int validate(void *self, mmc_train_loop *L, mmc_train_val *v, mmc_error *err) {
    (void)L;
    ctrainer *t = self;
    if (!t->has_val) return MMC_OK;
    mmc_retrieval_metrics mt;
    int rc = split_evaluate(t->m, &t->val, &mt, err);
    if (!rc) train_val_retrieval(v, &mt);
    return rc;
}

static int write_model(void *self, const char *path, const char *meta, mmc_error *err) {
    return clip_write_weights(((ctrainer *)self)->m, path, meta, err);
}

static void describe(void *self, const mmc_train_loop *L, char *buf, size_t n) {
    ctrainer *t = self;
    snprintf(buf, n,
             "fine-tuning of %s (%s) on %d %s training pairs (%d captions): %" PRId64 " parameters, image %d px, context %d, batch %d, "
             "%d steps/epoch, lr %.2g, warm-up %d",
             t->init, t->m->cfg.chinese ? "chinese_clip" : "clip", t->train.n, t->zh ? "zh" : "en", t->train.n_caps,
             mmc_params_count(L->spec.params, MMC_PARAM), t->m->cfg.vision.image_size, t->m->context, t->B, t->spe, (double)t->cfg.lr,
             t->warmup);
}

static const char *end_note(void *self, const mmc_train_loop *L) {
    (void)L;
    return ((ctrainer *)self)->m->cfg.chinese ? "the run folder is a Hugging Face ChineseCLIPModel folder"
                                              : "the run folder is a Hugging Face CLIPModel folder";
}

static const mmc_task CLIP_TASK = {
    .name = "clip_finetune",
    .best_metric = "val_rsum_t2i",
    .setup = setup,
    .loss = loss,
    .validate = validate,
    .write_model = write_model,
    /* no config_json: config.json is the hub's, copied when the run started */
    .describe = describe,
    .end_note = end_note,
    .release = release,
};

int mmc_clip_train(const char *init_dir, const mmc_clip_train_config *cfg, const mmc_retrieval_train_opts *o, mmc_error *err) {
    if (!o || !o->data_dir || !o->run_dir || (!init_dir && !o->resume))
        return mmc_error_set(err, MMC_ERR_USAGE, "clip train: init folder, data_dir and run_dir are required");
    ctrainer t = {.o = o, .cfg = cfg ? *cfg : mmc_clip_train_config_default(), .perm_epoch = -1};
    if (init_dir && strlen(init_dir) >= sizeof t.init) return mmc_error_set(err, MMC_ERR_USAGE, "clip train: init path too long");
    snprintf(t.init, sizeof t.init, "%s", init_dir ? init_dir : "");
    return mmc_train_run(&CLIP_TASK, &t, o, err);
}

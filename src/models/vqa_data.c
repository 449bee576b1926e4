/* vqa_data.c — a split in memory for the fusion model (images decoded once, every text
 * with its image, class and type), and its evaluation.
 *
 * Texts by task:
 *   vqa              every qa pair of every sample: question -> answer, type = qa "type"
 *   classify label   every caption -> the sample's label, type = the label
 *   classify match   each caption of a scene -> "yes" (type "match"), and for each a
 *                    caption of another scene that is none of this scene's captions -> "no"
 *                    (type "mismatch"); the other scene is drawn from a fixed stream of the
 *                    split's name, so a split always gives the same pairs. */
#include "vqa_internal.h"
#include "internal.h"
#include "task_util.h"
#include <stdio.h>
#include <string.h>

void vqa_dataset_free(vqa_dataset *d) {
    if (!d) return;
    mmc_manifest_free(d->man);
    mmc_free(d->pixels);
    mmc_free(d->item_img);
    mmc_free(d->item_class);
    mmc_free(d->item_type);
    mmc_free(d->item_text);
    mmc_free(d->item_answer);
    mmc_free(d->img_first);
    mmc_free(d->img_count);
    mmc_free(d->ids);
    mmc_free(d->mask);
    if (d->audio) task_audio_free(d->audio);
    mmc_free(d->audio);
    memset(d, 0, sizeof *d);
}

/* The slot of a type name (truncated to 31 bytes at a character boundary); past
 * MMC_VQA_MAX_TYPES - 1 names, the last slot "(other)" collects the rest. */
static int type_id(vqa_dataset *d, const char *name) {
    char n[32];
    snprintf(n, sizeof n, "%s", name ? name : "");
    size_t len = strlen(n);
    if (name && strlen(name) > len)
        while (len > 0 && ((uint8_t)name[len] & 0xC0) == 0x80) n[--len] = 0; /* do not cut a character */
    for (int i = 0; i < d->n_types; i++)
        if (!strcmp(d->type_names[i], n)) return i;
    if (d->n_types < MMC_VQA_MAX_TYPES - 1) {
        memcpy(d->type_names[d->n_types], n, sizeof n);
        return d->n_types++;
    }
    if (d->n_types == MMC_VQA_MAX_TYPES - 1) {
        snprintf(d->type_names[d->n_types], 32, "(other)");
        d->n_types++;
    }
    return MMC_VQA_MAX_TYPES - 1;
}

static int has_caption(const mmc_sample *s, const char *t) {
    for (int c = 0; c < s->n_captions; c++)
        if (!strcmp(s->captions[c], t)) return 1;
    return 0;
}

static int add_items(vqa_dataset *d, const mmc_vqa_config *c, const char *split, mmc_error *err) {
    int vqa = !strcmp(c->task, "vqa"), match = !vqa && !strcmp(c->source, "match");
    int textless = strcmp(c->query, "text") != 0; /* one item a sample: its sound track or frames -> its label */
    int64_t total = 0;
    for (int i = 0; i < d->n; i++) {
        const mmc_sample *s = &d->man->samples[i];
        const char *need = textless ? (s->label ? NULL : "label") : vqa ? (s->n_qa ? NULL : "qa") : s->n_captions == 0 ? "captions"
                         : !match && !s->label ? "label" : NULL;
        if (need)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%s' has no %s (needed to %s)", d->man->path, s->id, need,
                                 vqa ? "train or evaluate vqa" : match ? "pair captions with scenes" : "classify by label");
        total += textless ? 1 : vqa ? s->n_qa : match ? 2 * s->n_captions : s->n_captions;
    }
    if (match && d->n < 2) return mmc_error_set(err, MMC_ERR_INPUT, "%s: caption matching needs at least 2 samples", d->man->path);
    if (total > INT32_MAX / 64) return mmc_error_set(err, MMC_ERR_INPUT, "%s: %lld texts is too many", d->man->path, (long long)total);
    int N = (int)total;
    d->item_img = mmc_malloc(sizeof(int) * (size_t)N);
    d->item_class = mmc_malloc(sizeof(int) * (size_t)N);
    d->item_type = mmc_malloc(sizeof(int) * (size_t)N);
    d->item_text = mmc_malloc(sizeof(char *) * (size_t)N);
    d->item_answer = mmc_malloc(sizeof(char *) * (size_t)N);
    d->img_first = mmc_malloc(sizeof(int) * (size_t)d->n);
    d->img_count = mmc_malloc(sizeof(int) * (size_t)d->n);
    if (!d->item_img || !d->item_class || !d->item_type || !d->item_text || !d->item_answer || !d->img_first || !d->img_count)
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for %d texts", d->man->path, N);
    mmc_rng r;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the split name: its own stream */
    for (const char *p = split; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    mmc_rng_seed(&r, 0x6d61746368ULL, h);
    int k = 0;
    for (int i = 0; i < d->n; i++) {
        const mmc_sample *s = &d->man->samples[i];
        d->img_first[i] = k;
        if (textless) { /* no text: the tokenizer sees an empty one */
            d->item_text[k] = "";
            d->item_answer[k] = s->label;
            d->item_type[k++] = type_id(d, s->label);
        } else if (vqa) {
            for (int q = 0; q < s->n_qa; q++, k++) {
                d->item_text[k] = s->qa[q].question;
                d->item_answer[k] = s->qa[q].answer;
                d->item_type[k] = type_id(d, s->qa[q].type);
            }
        } else {
            for (int q = 0; q < s->n_captions; q++) {
                d->item_img[k] = i;
                d->item_text[k] = s->captions[q];
                d->item_answer[k] = match ? "yes" : s->label;
                d->item_type[k++] = type_id(d, match ? "match" : s->label);
                if (!match) continue;
                /* a caption of another scene that this scene does not also have */
                const char *neg = NULL;
                for (int tries = 0; tries < 64 && !neg; tries++) {
                    int j = (int)mmc_rng_below(&r, (uint32_t)(d->n - 1));
                    if (j >= i) j++;
                    const mmc_sample *o = &d->man->samples[j];
                    const char *t = o->n_captions ? o->captions[mmc_rng_below(&r, (uint32_t)o->n_captions)] : NULL;
                    if (t && !has_caption(s, t)) neg = t;
                }
                if (!neg) continue; /* every other caption is also this scene's: no negative */
                d->item_img[k] = i;
                d->item_text[k] = neg;
                d->item_answer[k] = "no";
                d->item_type[k++] = type_id(d, "mismatch");
            }
        }
        for (int j = d->img_first[i]; j < k; j++) d->item_img[j] = i;
        d->img_count[i] = k - d->img_first[i];
    }
    d->n_items = k;
    for (int i = 0; i < k; i++) d->item_class[i] = -1;
    return MMC_OK;
}

int vqa_dataset_load(vqa_dataset *d, const char *dir, const char *split, const mmc_vqa_config *c, int max_images,
                     mmc_error *err) {
    memset(d, 0, sizeof *d);
    d->man = mmc_manifest_load(dir, split, err);
    if (!d->man) return err && err->code ? err->code : MMC_ERR_INPUT;
    d->n = d->man->count;
    if (max_images > 0 && max_images < d->n) d->n = max_images;
    int S = d->S = c->image_size;
    d->frames = 1;
    int rc = add_items(d, c, split, err);
    if (rc) { vqa_dataset_free(d); return rc; }
    if (!strcmp(c->query, "audio")) { /* every sample's sound track, decoded once */
        if (!(d->audio = mmc_calloc(1, sizeof *d->audio))) rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", d->man->path);
        if (!rc) rc = task_audio_load(d->audio, d->man, d->n, NULL, c->audio.n_mels, c->audio.max_frames, NULL, NULL, err);
        if (rc) { vqa_dataset_free(d); return rc; }
    }
    if (!strcmp(c->fusion, "none")) return MMC_OK; /* blind: the pixels are never read */
    d->frames = !strcmp(c->target, "video") ? c->video.frames : 1;
    if (d->frames > 1 || !strcmp(c->target, "video")) rc = task_clips_load(d->man, d->n, S, d->frames, &d->pixels, err);
    else rc = task_images_load(d->man, d->n, S, &d->pixels, err);
    if (rc) vqa_dataset_free(d);
    return rc;
}

int vqa_dataset_bind(vqa_dataset *d, const mmc_vqa *m, mmc_error *err) {
    int T = d->T = m->cfg.max_len;
    for (int i = 0; i < d->n_items; i++) d->item_class[i] = mmc_vqa_class_id(m, d->item_answer[i]);
    mmc_free(d->ids);
    mmc_free(d->mask);
    d->ids = mmc_malloc(sizeof(int32_t) * (size_t)d->n_items * T);
    d->mask = mmc_malloc(sizeof(int32_t) * (size_t)d->n_items * T);
    if (!d->ids || !d->mask) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for the tokens", d->man->path);
    int rc = mmc_tokenizer_encode_batch(mmc_vqa_tokenizer(m), d->item_text, d->n_items, T, d->ids, d->mask, err);
    if (rc && err) {
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        mmc_error_set(err, rc, "%s: %.900s", d->man->path, msg);
    }
    return rc;
}

/* sample i as (frames·3, S, S): a clip's frames in time order, every one shifted alike */
void vqa_dataset_chw(const vqa_dataset *d, int i, int dx, int dy, float *out) {
    for (int t = 0; t < d->frames; t++)
        task_images_chw(d->pixels, d->S, i * d->frames + t, dx, dy, out + (size_t)t * 3 * d->S * d->S);
}

mmc_tensor *vqa_dataset_mel(mmc_ctx *ctx, const vqa_dataset *d, const int *sample, int N, int *len) {
    const task_audio *a = d->audio;
    int Tm = 1;
    for (int n = 0; n < N; n++) {
        len[n] = a->frames[sample[n]];
        if (len[n] > Tm) Tm = len[n];
    }
    mmc_tensor *x = mmc_tensor_empty(ctx, 3, (int[]){N, a->n_mels, Tm});
    if (!x) return NULL;
    for (int n = 0; n < N; n++) task_audio_mel(a, sample[n], x->data + (size_t)n * a->n_mels * Tm, Tm);
    return x;
}

/* logits of N items (item n about sample first_sample + img[n]) by the model's query */
static mmc_tensor *eval_forward(mmc_ctx *ctx, mmc_vqa *m, const vqa_dataset *d, mmc_tensor *x, const int *img, int first_sample,
                                int f, int N, int *scratch) {
    if (!strcmp(mmc_vqa_get_config(m)->query, "text"))
        return mmc_vqa_forward(ctx, m, x, img, d->ids + (size_t)f * d->T, d->mask + (size_t)f * d->T, N, d->T, 0);
    mmc_tensor *mel = NULL;
    int *len = scratch + N;
    if (d->audio) {
        for (int k = 0; k < N; k++) scratch[k] = first_sample + img[k];
        if (!(mel = vqa_dataset_mel(ctx, d, scratch, N, len))) return NULL;
    }
    return mmc_vqa_forward_audio(ctx, m, x, img, mel, d->audio ? len : NULL, N, 0);
}

enum { EVAL_IMAGES = 32 };

int vqa_dataset_evaluate(mmc_vqa *m, const vqa_dataset *d, mmc_vqa_metrics *out, mmc_error *err) {
    const mmc_vqa_config *c = mmc_vqa_get_config(m);
    int S = d->S, T = d->T, C = mmc_vqa_n_classes(m), blind = !strcmp(c->fusion, "none");
    if (S != c->image_size || T != c->max_len || !d->ids)
        return mmc_error_set(err, MMC_ERR_USAGE, "evaluate: the dataset is not bound to this model");
    memset(out, 0, sizeof *out);
    out->n_types = d->n_types;
    for (int t = 0; t < d->n_types; t++) snprintf(out->types[t].name, sizeof out->types[t].name, "%s", d->type_names[t]);
    int max_items = 0;
    for (int i = 0; i < d->n; i += EVAL_IMAGES) {
        int e = i + EVAL_IMAGES < d->n ? i + EVAL_IMAGES : d->n;
        int cnt = d->img_first[e - 1] + d->img_count[e - 1] - d->img_first[i];
        if (cnt > max_items) max_items = cnt;
    }
    int F = d->frames;
    float *chw = blind ? NULL : mmc_malloc(sizeof(float) * (size_t)EVAL_IMAGES * F * 3 * S * S);
    int *img = mmc_malloc(sizeof(int) * (size_t)(max_items + 1)), *scratch = mmc_malloc(sizeof(int) * (size_t)(2 * max_items + 2));
    mmc_ctx *ctx = mmc_ctx_new();
    int rc = (blind || chw) && img && scratch && ctx ? MMC_OK : mmc_error_set(err, MMC_ERR_RUNTIME, "evaluate: out of memory");
    if (ctx) mmc_grad_mode(ctx, 0);
    for (int i = 0; i < d->n && !rc; i += EVAL_IMAGES) {
        int e = i + EVAL_IMAGES < d->n ? i + EVAL_IMAGES : d->n, B = e - i;
        int f = d->img_first[i], N = d->img_first[e - 1] + d->img_count[e - 1] - f;
        if (N == 0) continue;
        for (int k = 0; k < N; k++) img[k] = d->item_img[f + k] - i;
        mmc_tensor *x = NULL;
        if (!blind) {
            for (int b = 0; b < B; b++) vqa_dataset_chw(d, i + b, 0, 0, chw + (size_t)b * F * 3 * S * S);
            x = mmc_tensor_from(ctx, 4, (int[]){B, 3 * F, S, S}, chw);
        }
        mmc_tensor *lg = eval_forward(ctx, m, d, x, img, i, f, N, scratch);
        if (!lg) {
            rc = mmc_error_set(err, ctx->err.code ? ctx->err.code : MMC_ERR_RUNTIME, "evaluate: %s", ctx->err.msg);
            break;
        }
        for (int k = 0; k < N; k++) {
            int pred = mmc_eval_argmax(lg->data + (size_t)k * C, C), truth = d->item_class[f + k], t = d->item_type[f + k];
            int ok = truth >= 0 && pred == truth;
            out->n++;
            out->correct += ok;
            out->types[t].n++;
            out->types[t].correct += ok;
        }
        mmc_ctx_reset(ctx);
    }
    out->accuracy = out->n ? (double)out->correct / out->n : 0;
    for (int t = 0; t < out->n_types; t++) out->types[t].accuracy = out->types[t].n ? (double)out->types[t].correct / out->types[t].n : 0;
    mmc_ctx_free(ctx);
    mmc_free(chw);
    mmc_free(img);
    mmc_free(scratch);
    return rc;
}

int mmc_vqa_evaluate(mmc_vqa *m, const char *data_dir, const char *split, int max_images, mmc_vqa_metrics *out,
                     mmc_error *err) {
    vqa_dataset d;
    int rc = vqa_dataset_load(&d, data_dir, split, mmc_vqa_get_config(m), max_images, err);
    if (rc) return rc;
    rc = vqa_dataset_bind(&d, m, err);
    if (!rc) rc = vqa_dataset_evaluate(m, &d, out, err);
    vqa_dataset_free(&d);
    return rc;
}

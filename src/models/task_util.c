/* task_util.c — what the task models share (task_util.h): run folders are read as hostile
 * input, so every failure to read one is MMC_ERR_INPUT naming the file. */
#include "task_util.h"
#include "internal.h"
#include <stdio.h>
#include <string.h>

int task_build_check(int max_len, const mmc_tokenizer *tok, const char *what, const char *name, mmc_error *err) {
    if (max_len < 3) return mmc_error_set(err, MMC_ERR_INPUT, "%s: max_len must be set (>= 3) to build a model", name);
    mmc_tokenizer_kind k = tok ? mmc_tokenizer_kind_of(tok) : 0;
    if (k != MMC_TOK_WORD && k != MMC_TOK_CHAR)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s: the %s needs a word or char tokenizer", name, what);
    return MMC_OK;
}

char *task_config_text(char *cfg, const mmc_tokenizer *tok, cJSON *extra, const char *where, mmc_error *err) {
    char *tj = tok ? mmc_tokenizer_to_json(tok, err) : NULL, *text = NULL;
    cJSON *root = cfg ? cJSON_Parse(cfg) : NULL, *t = tj ? cJSON_Parse(tj) : NULL;
    mmc_free(cfg);
    mmc_free(tj);
    if (root && (t || !tok)) {
        if (t) cJSON_AddItemToObject(root, "tokenizer", t);
        t = NULL;
        for (cJSON *it; extra && (it = extra->child);) {
            cJSON_DetachItemViaPointer(extra, it);
            cJSON_AddItemToObject(root, it->string, it);
        }
        char *s = cJSON_Print(root);
        if (s && (text = mmc_malloc(strlen(s) + 1))) strcpy(text, s);
        cJSON_free(s);
    }
    cJSON_Delete(root);
    cJSON_Delete(t);
    cJSON_Delete(extra);
    if (!text) mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory writing config.json", where);
    return text;
}

int task_save(const mmc_params *P, const char *text, const char *run_dir, const char *weights, const char *format,
              mmc_error *err) {
    char path[4096], meta[64];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    int rc = mmc_write_file_atomic(path, text, strlen(text), err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s", run_dir, weights ? weights : "model.safetensors");
    snprintf(meta, sizeof meta, "{\"format\":\"%s\"}", format);
    return mmc_params_save(P, path, meta, err);
}

int task_read_config(const char *run_dir, const cfg_kind *k, void *cfg, mmc_tokenizer **tok, cJSON **root, char *path,
                     mmc_error *err) {
    snprintf(path, 4096, "%s/config.json", run_dir);
    if (tok) *tok = NULL;
    if (root) *root = NULL;
    uint8_t *buf = NULL;
    size_t n = 0;
    if (mmc_read_file(path, 64u << 20, &buf, &n, err)) {
        if (err) err->code = MMC_ERR_INPUT;
        return MMC_ERR_INPUT;
    }
    cJSON *r = cJSON_ParseWithLength((const char *)buf, n);
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(r, "task");
    int rc = cJSON_IsObject(r) && k->task && !cJSON_IsString(tk)
                 ? mmc_error_set(err, MMC_ERR_INPUT, "%s: no \"task\": \"%s\" (a run of another task)", path, k->task)
                 : cfg_parse(k, cfg, (const char *)buf, n, path, err);
    mmc_free(buf);
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(r, "tokenizer");
    char *tt = rc || !tok || !cJSON_IsObject(tj) ? NULL : cJSON_PrintUnformatted(tj);
    if (!rc && tok && !tt) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no \"tokenizer\" object (the run's vocabulary)", path);
    if (!rc && tok && !(*tok = mmc_tokenizer_from_json(tt, strlen(tt), path, err))) rc = MMC_ERR_INPUT;
    cJSON_free(tt);
    if (rc && err) err->code = MMC_ERR_INPUT;
    if (rc || !root) cJSON_Delete(r);
    else *root = r;
    return rc ? MMC_ERR_INPUT : MMC_OK;
}

int task_load_weights(mmc_params *P, const char *run_dir, const char *weights, mmc_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", run_dir, weights ? weights : "model.safetensors");
    if (!mmc_params_load(P, path, 1, err)) return MMC_OK;
    if (err) err->code = MMC_ERR_INPUT;
    return MMC_ERR_INPUT;
}

int task_image_to_chw(const mmc_image *img, int S, float *out, const char *what, mmc_error *err) {
    if (img->c != 3) return mmc_error_set(err, MMC_ERR_USAGE, "%s: expected an RGB image, got %d channels", what, img->c);
    mmc_image rs = {0};
    const mmc_image *src = img;
    if (img->w != S || img->h != S) {
        int rc = mmc_image_resize(img, &rs, S, S, MMC_RESAMPLE_BILINEAR, err);
        if (rc) return rc;
        src = &rs;
    }
    task_images_chw(src->data, S, 0, 0, 0, out);
    mmc_image_free(&rs);
    return MMC_OK;
}

void task_split_free(task_split *d) {
    if (!d) return;
    mmc_manifest_free(d->man);
    if (d->audio) task_audio_free(d->audio);
    mmc_free(d->audio);
    mmc_free(d->pixels);
    mmc_free(d->caps);
    mmc_free(d->cap_img);
    mmc_free(d->cap_first);
    mmc_free(d->cap_count);
    memset(d, 0, sizeof *d);
}

static int split_load(task_split *d, const char *dir, const char *split, const char *lang, int S, int max_images,
                      unsigned flags, mmc_error *err) {
    memset(d, 0, sizeof *d);
    d->man = mmc_manifest_load_ex(dir, split, flags, err);
    if (!d->man) return err ? err->code : MMC_ERR_INPUT;
    int zh = !strcmp(lang, "zh");
    d->n = d->man->count;
    if (max_images > 0 && max_images < d->n) d->n = max_images;
    d->S = S;
    int64_t ncap = 0;
    for (int i = 0; i < d->n; i++) {
        const mmc_sample *s = &d->man->samples[i];
        int k = zh ? s->n_captions_zh : s->n_captions;
        if (k == 0) {
            int rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%s' has no %s (every sample needs a caption in '%s')",
                                   d->man->path, s->id, zh ? "captions_zh" : "captions", lang);
            task_split_free(d);
            return rc;
        }
        ncap += k;
    }
    d->n_caps = (int)ncap;
    d->caps = mmc_malloc(sizeof(char *) * (size_t)(ncap ? ncap : 1));
    d->cap_img = mmc_malloc(sizeof(int) * (size_t)(ncap ? ncap : 1));
    d->cap_first = mmc_malloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
    d->cap_count = mmc_malloc(sizeof(int) * (size_t)(d->n ? d->n : 1));
    if (!d->caps || !d->cap_img || !d->cap_first || !d->cap_count) {
        task_split_free(d);
        return mmc_error_set(err, MMC_ERR_RUNTIME, "%s/%s: out of memory for %d images", dir, split, d->n);
    }
    for (int i = 0, j = 0; i < d->n; i++) {
        const mmc_sample *s = &d->man->samples[i];
        int k = zh ? s->n_captions_zh : s->n_captions;
        d->cap_first[i] = j;
        d->cap_count[i] = k;
        for (int c = 0; c < k; c++, j++) {
            d->caps[j] = zh ? s->captions_zh[c] : s->captions[c];
            d->cap_img[j] = i;
        }
    }
    int rc = S > 0 ? task_images_load(d->man, d->n, S, &d->pixels, err) : MMC_OK;
    if (rc) task_split_free(d);
    return rc;
}

int task_split_load(task_split *d, const char *dir, const char *split, const char *lang, int S, int max_images,
                    mmc_error *err) {
    return split_load(d, dir, split, lang, S, max_images, 0, err);
}

int task_split_load_video(task_split *d, const char *dir, const char *split, const char *lang, int S, int T,
                          int max_clips, mmc_error *err) {
    int rc = split_load(d, dir, split, lang, 0, max_clips, MMC_MANIFEST_IMAGE_OPTIONAL, err);
    if (rc) return rc;
    d->S = S;
    d->T = T;
    if ((rc = task_clips_load(d->man, d->n, S, T, &d->pixels, err))) task_split_free(d);
    return rc;
}

int task_clips_load(const mmc_manifest *man, int n, int S, int T, uint8_t **pixels, mmc_error *err) {
    *pixels = NULL;
    for (int i = 0; i < n; i++)
        if (!man->samples[i].video)
            return mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%s' has no video (a video model needs one per sample)", man->path,
                                 man->samples[i].id);
    size_t clip = (size_t)T * S * S * 3;
    uint8_t *px = mmc_malloc((size_t)(n ? n : 1) * clip);
    if (!px) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for %d clips (%zu MB)", man->path, n, (size_t)n * clip >> 20);
    int bad = -1;
    mmc_error first = {0};
    int nt = mmc_par_threads(n, 4);
    MMC_PARALLEL_FOR(nt, for (int i = 0; i < n; i++) {
        char path[4096];
        mmc_error e = {0};
        mmc_video v = {0};
        mmc_video_opts o = mmc_video_opts_default();
        o.frames = T;
        o.size = S;
        snprintf(path, sizeof path, "%s/%s", man->dir, man->samples[i].video);
        int r = mmc_video_load(&v, path, &o, &e);
        if (!r && v.n != T) r = mmc_error_set(&e, MMC_ERR_INPUT, "%s: %d frames decoded, %d wanted", path, v.n, T);
        for (int t = 0; !r && t < T; t++) {
            if (v.frames[t].w != S || v.frames[t].h != S || v.frames[t].c != 3)
                r = mmc_error_set(&e, MMC_ERR_INPUT, "%s: frame %d is %dx%d, %dx%d wanted", path, t, v.frames[t].w, v.frames[t].h, S, S);
            else memcpy(px + (size_t)i * clip + (size_t)t * S * S * 3, v.frames[t].data, (size_t)S * S * 3);
        }
        mmc_video_free(&v);
        if (r) {
            _Pragma("omp critical(task_videos_err)")
            if (bad < 0 || i < bad) { bad = i; first = e; }
        }
    });
    if (bad < 0) {
        *pixels = px;
        return MMC_OK;
    }
    mmc_free(px);
    if (err) *err = first;
    return first.code ? first.code : MMC_ERR_INPUT;
}

int task_clip_file_to_chw(const char *path, int S, int T, float *out, mmc_video *keep, mmc_error *err) {
    mmc_video v = {0};
    mmc_video_opts o = mmc_video_opts_default();
    o.frames = T;
    o.size = S;
    int rc = mmc_video_load(&v, path, &o, err);
    if (!rc && v.n != T) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: %d frames decoded, %d wanted", path, v.n, T);
    const float half[3] = {0.5f, 0.5f, 0.5f};
    if (!rc) rc = mmc_video_to_chw(&v, out, 1.0 / 255.0, half, half, err);
    if (!rc && keep) *keep = v;
    else mmc_video_free(&v);
    return rc;
}

void task_split_keep_captions(task_split *d, int k) {
    if (k <= 0) return;
    int j = 0;
    for (int i = 0; i < d->n; i++) {
        int c0 = d->cap_first[i], n = d->cap_count[i] < k ? d->cap_count[i] : k;
        for (int c = 0; c < n; c++, j++) { /* j <= c0 + c: moving down never overwrites unread entries */
            d->caps[j] = d->caps[c0 + c];
            d->cap_img[j] = i;
        }
        d->cap_first[i] = j - n;
        d->cap_count[i] = n;
    }
    d->n_caps = j;
}

int task_images_load(const mmc_manifest *man, int n, int S, uint8_t **pixels, mmc_error *err) {
    uint8_t *px = *pixels = mmc_malloc((size_t)(n ? n : 1) * S * S * 3);
    if (!px) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory for %d images", man->path, n);
    int bad = -1;
    mmc_error first = {0};
    int nt = mmc_par_threads(n, 8);
    MMC_PARALLEL_FOR(nt, for (int i = 0; i < n; i++) {
        char path[4096];
        mmc_error e = {0};
        mmc_image img = {0}, rs = {0};
        snprintf(path, sizeof path, "%s/%s", man->dir, man->samples[i].image);
        int r = mmc_image_load(&img, path, 3, &e);
        const mmc_image *src = &img;
        if (!r && (img.w != S || img.h != S)) {
            r = mmc_image_resize(&img, &rs, S, S, MMC_RESAMPLE_BILINEAR, &e);
            src = &rs;
        }
        if (!r) memcpy(px + (size_t)i * S * S * 3, src->data, (size_t)S * S * 3);
        mmc_image_free(&img);
        mmc_image_free(&rs);
        if (r) {
            _Pragma("omp critical(task_images_err)")
            if (bad < 0 || i < bad) { bad = i; first = e; }
        }
    });
    if (bad < 0) return MMC_OK;
    mmc_free(px);
    *pixels = NULL;
    if (err) *err = first;
    return first.code ? first.code : MMC_ERR_INPUT;
}

void task_images_chw(const uint8_t *pixels, int S, int i, int dx, int dy, float *out) {
    const uint8_t *px = pixels + (size_t)i * S * S * 3;
    for (int y = 0; y < S; y++) {
        int sy = y - dy;
        sy = sy < 0 ? 0 : sy >= S ? S - 1 : sy;
        for (int x = 0; x < S; x++) {
            int sx = x - dx;
            sx = sx < 0 ? 0 : sx >= S ? S - 1 : sx;
            const uint8_t *p = px + ((size_t)sy * S + sx) * 3;
            for (int c = 0; c < 3; c++) out[(size_t)c * S * S + (size_t)y * S + x] = (float)p[c] * (1.0f / 127.5f) - 1.0f;
        }
    }
}

void task_epoch_perm(uint64_t seed, int epoch, int *perm, int n, int *at) {
    if (*at == epoch) return;
    mmc_rng r;
    mmc_rng_seed(&r, seed, 1000 + (uint64_t)epoch);
    mmc_rng_permutation(&r, perm, n);
    *at = epoch;
}

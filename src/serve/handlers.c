/* handlers.c — the endpoints of `mmc serve`, one function each: parse the JSON body, call
 * the same model and index functions the CLI calls, answer with the same document the CLI
 * prints (`mmc search --json`, `mmc embed --json`, `mmc zeroshot --json`, `mmc caption
 * --json`, `mmc vqa --json`). Requests are hostile input: every field is checked for type,
 * size and UTF-8, an uploaded image goes through the same decoders as a file, and a
 * problem is a 4xx answer whose message says what was wrong. Handlers run concurrently on
 * the worker threads; the models and indexes are only read. */
#include "cli.h"
#include "serve.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SRV_MAX_INPUTS 256         /* embeddings per request */
#define SRV_MAX_TEXT_BYTES 65536   /* one text, query or question */
#define SRV_MAX_LABELS 1000        /* zero-shot labels per request */
#define SRV_MAX_LABEL_BYTES 511
#define SRV_DEFAULT_K 10
#define SRV_ZS_DEFAULT_K 5
#define SRV_ZS_DEFAULT_TEMPLATE "a photo of a {}"

/* ------------------------------------------------------------------ replies */

static const char *error_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 405: return "method_not_allowed";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

/* When even the error document cannot be made (out of memory), a fixed one. */
static void fixed_reply(srv_reply *r, int status) {
    static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":500}}";
    r->status = status ? status : 500;
    r->body = NULL;
    r->len = 0;
    r->fixed = oom;
    r->len = sizeof oom - 1;
}

void srv_error(srv_reply *r, int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* messages quote client bytes; make sure the JSON holds valid UTF-8 whatever they were */
    size_t bad = 0, n = strlen(msg);
    if (mmc_utf8_validate(msg, n, &bad) != MMC_OK) msg[bad] = 0;
    cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
    if (!e || !cJSON_AddStringToObject(e, "message", msg) || !cJSON_AddStringToObject(e, "type", error_type(status)) ||
        !cJSON_AddNumberToObject(e, "code", status)) {
        cJSON_Delete(doc);
        fixed_reply(r, 500);
        return;
    }
    srv_json(r, status, doc, 0);
}

void srv_json(srv_reply *r, int status, cJSON *doc, int pretty) {
    char *s = doc ? (pretty ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc)) : NULL;
    cJSON_Delete(doc);
    if (!s) {
        fixed_reply(r, 500);
        return;
    }
    r->status = status;
    r->body = s;
    r->len = strlen(s);
    r->fixed = NULL;
}

static void error_from(srv_reply *r, const mmc_error *err, const char *what) {
    int code = err->code == MMC_ERR_INPUT || err->code == MMC_ERR_USAGE ? 400 : 500;
    srv_error(r, code, "%s: %s", what, err->msg[0] ? err->msg : "failed");
}

/* ------------------------------------------------------------------ request fields */

/* The body as a JSON object, or NULL with r set. */
static cJSON *parse_object(const char *body, size_t n, srv_reply *r) {
    if (!body || n == 0) {
        srv_error(r, 400, "the request has no body (expected a JSON object)");
        return NULL;
    }
    size_t bad = 0;
    if (mmc_utf8_validate(body, n, &bad) != MMC_OK) {
        srv_error(r, 400, "the body is not valid UTF-8 (byte %zu)", bad);
        return NULL;
    }
    /* a NUL, raw or escaped as \u0000, would cut a C string short: "a cat\u0000 and a dog"
     * would search for "a cat" */
    const char *nul = memchr(body, 0, n);
    if (nul) {
        srv_error(r, 400, "the body holds a NUL byte (byte %zu)", (size_t)(nul - body));
        return NULL;
    }
    for (size_t i = 0; i + 6 <= n; i++) {
        if (body[i] != '\\') continue;
        if (!memcmp(body + i + 1, "u0000", 5)) {
            srv_error(r, 400, "the body holds \\u0000 (byte %zu): texts may not contain NUL", i);
            return NULL;
        }
        i++; /* skip the escaped character: an escaped backslash before "u0000" is text */
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, n, &end, 0);
    if (!j) {
        size_t at = end && end >= body && end <= body + n ? (size_t)(end - body) : 0;
        srv_error(r, 400, "the body is not valid JSON (near byte %zu)", at);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        srv_error(r, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* A string field: NULL when absent (with *bad 0), or on a wrong type/size (*bad 1, r set). */
static const char *get_string(const cJSON *j, const char *key, size_t max, int nonempty, srv_reply *r, int *bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    *bad = 0;
    if (!v || cJSON_IsNull(v)) return NULL;
    *bad = 1;
    if (!cJSON_IsString(v) || !v->valuestring) return srv_error(r, 400, "\"%s\" must be a string", key), NULL;
    size_t n = strlen(v->valuestring), at = 0;
    if (n > max) return srv_error(r, 400, "\"%s\" is %zu bytes (at most %zu)", key, n, max), NULL;
    if (nonempty && n == 0) return srv_error(r, 400, "\"%s\" is empty", key), NULL;
    if (mmc_utf8_validate(v->valuestring, n, &at) != MMC_OK)
        return srv_error(r, 400, "\"%s\" is not valid UTF-8 (byte %zu)", key, at), NULL;
    *bad = 0;
    return v->valuestring;
}

/* An integer field in [lo, hi], def when absent. Returns 0, or -1 with r set. */
static int get_int(const cJSON *j, const char *key, int lo, int hi, int def, int *out, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    *out = def;
    if (!v || cJSON_IsNull(v)) return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return srv_error(r, 400, "\"%s\" must be an integer from %d to %d", key, lo, hi), -1;
    *out = (int)d;
    return 0;
}

/* Decodes a base64 or data-URL image string into img (3 channels). 0, or -1 with r set. */
static int decode_image(const char *s, const char *key, mmc_image *img, srv_reply *r) {
    uint8_t *bytes = NULL;
    size_t n = 0, at = 0;
    const char *why = NULL;
    if (srv_base64_decode(s, strlen(s), &bytes, &n, &why, &at))
        return srv_error(r, 400, "\"%s\": bad base64 (%s, at byte %zu)", key, why, at), -1;
    mmc_error err = {0};
    int rc = mmc_image_decode(img, bytes, n, "the uploaded image", 3, &err);
    mmc_free(bytes);
    if (rc) return srv_error(r, 400, "\"%s\": %s", key, err.msg), -1;
    return 0;
}

/* The "image" field decoded: 1 when there is one, 0 when absent, -1 on error (r set). */
static int get_image(const cJSON *j, mmc_image *img, srv_reply *r) {
    int bad;
    const char *s = get_string(j, "image", (size_t)-1, 1, r, &bad);
    if (bad) return -1;
    if (!s) return 0;
    return decode_image(s, "image", img, r) ? -1 : 1;
}

static int need_embedder(srv_state *s, srv_reply *r) {
    if (s->emb) return 0;
    srv_error(r, 404, "no model that embeds text and images is loaded (start mmc serve with --model RUN of a retrieval run or a CLIP folder)");
    return -1;
}

/* ------------------------------------------------------------------ endpoints */

void srv_health(srv_state *s, srv_reply *r) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "ok");
    cJSON_AddNumberToObject(doc, "uptime_s", floor((mmc_now() - s->t_start) * 1000) / 1000);
    cJSON_AddNumberToObject(doc, "models", s->n_models);
    cJSON_AddNumberToObject(doc, "indexes", s->n_indexes);
    srv_json(r, 200, doc, 0);
}

static const char *index_kind_name(const mmc_index *ix) {
    if (mmc_index_kind(ix) != MMC_INDEX_MEDIA) return "texts";
    const char *first = mmc_index_count(ix) > 0 ? mmc_index_item(ix, 0) : "";
    return first && strstr(first, "#t=") ? "videos" : "images";
}

void srv_models(srv_state *s, srv_reply *r) {
    cJSON *doc = cJSON_CreateObject(), *data, *ixs, *eps;
    cJSON_AddStringToObject(doc, "object", "list");
    data = cJSON_AddArrayToObject(doc, "data");
    for (int i = 0; i < s->n_models; i++) {
        const srv_model *m = &s->models[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(data, o);
        cJSON_AddStringToObject(o, "id", m->path);
        cJSON_AddStringToObject(o, "object", "model");
        cJSON_AddStringToObject(o, "owned_by", "mmc");
        cJSON_AddStringToObject(o, "task", m->emb ? mmc_embedder_kind(m->emb) : m->cap ? "caption" : "vqa");
        if (m->emb) cJSON_AddNumberToObject(o, "dim", mmc_embedder_dim(m->emb));
    }
    ixs = cJSON_AddArrayToObject(doc, "indexes");
    for (int i = 0; i < s->n_indexes; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(ixs, o);
        cJSON_AddStringToObject(o, "name", s->indexes[i].name);
        cJSON_AddStringToObject(o, "kind", index_kind_name(s->indexes[i].ix));
        cJSON_AddNumberToObject(o, "count", (double)mmc_index_count(s->indexes[i].ix));
        cJSON_AddNumberToObject(o, "dim", mmc_index_dim(s->indexes[i].ix));
    }
    eps = cJSON_AddArrayToObject(doc, "endpoints");
    if (s->emb) {
        cJSON_AddItemToArray(eps, cJSON_CreateString("/v1/embeddings"));
        if (s->n_indexes) cJSON_AddItemToArray(eps, cJSON_CreateString("/v1/search"));
        cJSON_AddItemToArray(eps, cJSON_CreateString("/v1/zeroshot"));
    }
    if (s->cap) cJSON_AddItemToArray(eps, cJSON_CreateString("/v1/caption"));
    if (s->vqa) cJSON_AddItemToArray(eps, cJSON_CreateString("/v1/vqa"));
    srv_json(r, 200, doc, 0);
}

/* One input of /v1/embeddings: a string (a text), or {"text": S} or {"image": B64}. */
typedef struct emb_input {
    int is_image;
    const char *text;
    mmc_image img;
} emb_input;

static int parse_input(const cJSON *v, int i, emb_input *in, srv_reply *r) {
    memset(in, 0, sizeof *in);
    const cJSON *t = v;
    if (cJSON_IsObject(v)) {
        const cJSON *im = cJSON_GetObjectItemCaseSensitive(v, "image");
        t = cJSON_GetObjectItemCaseSensitive(v, "text");
        if (!im == !t) return srv_error(r, 400, "input %d: an object needs one of \"text\" or \"image\"", i), -1;
        if (im) {
            if (!cJSON_IsString(im) || !im->valuestring) return srv_error(r, 400, "input %d: \"image\" must be a string", i), -1;
            char key[32];
            snprintf(key, sizeof key, "input %d", i);
            if (decode_image(im->valuestring, key, &in->img, r)) return -1;
            in->is_image = 1;
            return 0;
        }
    }
    if (cJSON_IsArray(t)) return srv_error(r, 400, "input %d: token arrays are not supported; send text", i), -1;
    if (!cJSON_IsString(t) || !t->valuestring) return srv_error(r, 400, "input %d: expected a string", i), -1;
    size_t n = strlen(t->valuestring), at = 0;
    if (n > SRV_MAX_TEXT_BYTES) return srv_error(r, 400, "input %d: %zu bytes (at most %d)", i, n, SRV_MAX_TEXT_BYTES), -1;
    if (mmc_utf8_validate(t->valuestring, n, &at) != MMC_OK)
        return srv_error(r, 400, "input %d: not valid UTF-8 (byte %zu)", i, at), -1;
    in->text = t->valuestring;
    return 0;
}

static char *base64_floats(const float *x, int n) {
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t nb = (size_t)n * 4, w = 0;
    uint8_t *b = mmc_malloc(nb ? nb : 1);
    char *o = mmc_malloc((nb + 2) / 3 * 4 + 1);
    if (!b || !o) {
        mmc_free(b);
        mmc_free(o);
        return NULL;
    }
    for (int i = 0; i < n; i++) { /* float32, little-endian (what OpenAI's clients decode) */
        uint32_t u;
        memcpy(&u, &x[i], 4);
        for (int k = 0; k < 4; k++) b[(size_t)i * 4 + k] = (uint8_t)(u >> (8 * k));
    }
    for (size_t i = 0; i < nb; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < nb ? (uint32_t)b[i + 1] << 8 : 0) | (i + 2 < nb ? b[i + 2] : 0);
        o[w++] = al[v >> 18 & 63];
        o[w++] = al[v >> 12 & 63];
        o[w++] = i + 1 < nb ? al[v >> 6 & 63] : '=';
        o[w++] = i + 2 < nb ? al[v & 63] : '=';
    }
    o[w] = 0;
    mmc_free(b);
    return o;
}

void srv_embeddings(srv_state *s, const char *body, size_t n, srv_reply *r) {
    if (need_embedder(s, r)) return;
    cJSON *j = parse_object(body, n, r);
    if (!j) return;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(j, "input");
    int bad, as_b64 = 0, N = 0;
    const char *fmt = get_string(j, "encoding_format", 16, 1, r, &bad);
    if (bad) goto done;
    if (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64")) {
        srv_error(r, 400, "\"encoding_format\" must be \"float\" or \"base64\"");
        goto done;
    }
    as_b64 = fmt && !strcmp(fmt, "base64");
    if (!input) {
        srv_error(r, 400, "missing \"input\" (a string, or an array of strings or {\"text\"} / {\"image\"} objects)");
        goto done;
    }
    N = cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
    if (N < 1 || N > SRV_MAX_INPUTS) {
        srv_error(r, 400, "\"input\" holds %d items (1 to %d)", N, SRV_MAX_INPUTS);
        goto done;
    }
    {
        int D = mmc_embedder_dim(s->emb), n_text = 0, n_img = 0, rc = 0;
        emb_input *in = mmc_calloc((size_t)N, sizeof *in);
        float *x = mmc_malloc(sizeof(float) * (size_t)N * D), *tx = mmc_malloc(sizeof(float) * (size_t)N * D);
        const char **texts = mmc_malloc(sizeof(char *) * (size_t)N);
        mmc_image *imgs = mmc_malloc(sizeof(mmc_image) * (size_t)N);
        if (!in || !x || !tx || !texts || !imgs) {
            srv_error(r, 500, "out of memory");
            rc = -1;
        }
        for (int i = 0; !rc && i < N; i++) {
            const cJSON *v = cJSON_IsArray(input) ? cJSON_GetArrayItem(input, i) : input;
            if ((rc = parse_input(v, i, &in[i], r))) break;
            if (in[i].is_image) imgs[n_img++] = in[i].img;
            else texts[n_text++] = in[i].text;
        }
        /* texts in one batch and images in one, input order within each (as mmc embed does) */
        mmc_error err = {0};
        if (!rc && n_text && mmc_embedder_texts(s->emb, texts, n_text, tx, &err)) rc = (error_from(r, &err, "embeddings"), -1);
        if (!rc && n_img && mmc_embedder_images(s->emb, imgs, n_img, x, &err)) rc = (error_from(r, &err, "embeddings"), -1);
        if (!rc) { /* back into input order: images are at the front of x, texts in tx */
            float *out = mmc_malloc(sizeof(float) * (size_t)N * D);
            if (!out) rc = (srv_error(r, 500, "out of memory"), -1);
            for (int i = 0, a = 0, b = 0; !rc && i < N; i++)
                memcpy(out + (size_t)i * D, in[i].is_image ? x + (size_t)a++ * D : tx + (size_t)b++ * D, sizeof(float) * D);
            if (out) memcpy(x, out, sizeof(float) * (size_t)N * D);
            mmc_free(out);
        }
        if (!rc) {
            cJSON *doc = cJSON_CreateObject(), *data;
            int ok = doc && cJSON_AddStringToObject(doc, "object", "list") && (data = cJSON_AddArrayToObject(doc, "data"));
            for (int i = 0; ok && i < N; i++) {
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(data, o)) { /* from here on data owns o */
                    cJSON_Delete(o);
                    ok = 0;
                    break;
                }
                char *arr = as_b64 ? base64_floats(x + (size_t)i * D, D) : cli_json_floats(x + (size_t)i * D, D);
                ok = arr && cJSON_AddStringToObject(o, "object", "embedding") && cJSON_AddNumberToObject(o, "index", i) &&
                     cJSON_AddItemToObject(o, "embedding", as_b64 ? cJSON_CreateString(arr) : cJSON_CreateRaw(arr));
                mmc_free(arr);
            }
            cJSON *usage = ok ? cJSON_AddObjectToObject(doc, "usage") : NULL;
            ok = ok && cJSON_AddStringToObject(doc, "model", s->emb_path) && usage &&
                 cJSON_AddNumberToObject(usage, "prompt_tokens", 0) && cJSON_AddNumberToObject(usage, "total_tokens", 0);
            if (ok) srv_json(r, 200, doc, 0);
            else {
                cJSON_Delete(doc);
                srv_error(r, 500, "out of memory");
            }
        }
        for (int i = 0; in && i < N; i++) mmc_image_free(&in[i].img);
        mmc_free(in);
        mmc_free(x);
        mmc_free(tx);
        mmc_free(texts);
        mmc_free(imgs);
    }
done:
    cJSON_Delete(j);
}

static srv_index *find_index(srv_state *s, const char *name, srv_reply *r) {
    if (!s->n_indexes) return srv_error(r, 404, "no index is loaded (start mmc serve with --index FILE)"), NULL;
    if (!name) return &s->indexes[0];
    for (int i = 0; i < s->n_indexes; i++)
        if (!strcmp(s->indexes[i].name, name)) return &s->indexes[i];
    char have[512] = "";
    for (int i = 0; i < s->n_indexes; i++)
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? ", " : "", s->indexes[i].name);
    srv_error(r, 404, "no index named \"%.200s\" (loaded: %s)", name, have);
    return NULL;
}

void srv_search(srv_state *s, const char *body, size_t n, srv_reply *r) {
    if (need_embedder(s, r)) return;
    cJSON *j = parse_object(body, n, r);
    if (!j) return;
    int bad, k, has_image;
    mmc_image img = {0};
    float *q = NULL;
    const char *text = get_string(j, "text", SRV_MAX_TEXT_BYTES, 0, r, &bad), *name;
    if (bad) goto done;
    name = get_string(j, "index", 4096, 1, r, &bad);
    if (bad || get_int(j, "k", 1, s->o.max_k, SRV_DEFAULT_K, &k, r)) goto done;
    srv_index *ix = find_index(s, name, r);
    if (!ix) goto done;
    if ((has_image = get_image(j, &img, r)) < 0) goto done;
    if (!text == !has_image) {
        srv_error(r, 400, "give one query: \"text\" or \"image\"");
        goto done;
    }
    int D = mmc_embedder_dim(s->emb);
    if (!(q = mmc_malloc(sizeof(float) * D))) {
        srv_error(r, 500, "out of memory");
        goto done;
    }
    mmc_error err = {0};
    if (text ? mmc_embedder_texts(s->emb, &text, 1, q, &err) : mmc_embedder_images(s->emb, &img, 1, q, &err)) {
        error_from(r, &err, "search");
        goto done;
    }
    char what[64];
    snprintf(what, sizeof what, "(uploaded image, %dx%d)", img.w, img.h);
    cJSON *doc = cli_search_doc(ix->ix, ix->path, s->emb_path, text ? "text" : "image", text ? text : what, q, k, &err);
    if (!doc) error_from(r, &err, "search");
    else srv_json(r, 200, doc, 1); /* formatted as `mmc search --json` prints it */
done:
    mmc_free(q);
    mmc_image_free(&img);
    cJSON_Delete(j);
}

void srv_zeroshot(srv_state *s, const char *body, size_t n, srv_reply *r) {
    if (need_embedder(s, r)) return;
    cJSON *j = parse_object(body, n, r);
    if (!j) return;
    mmc_image img = {0};
    float *x = NULL;
    const char **labels = NULL;
    int bad, k, has_image, L = 0;
    const char *tpl = get_string(j, "template", 4096, 1, r, &bad), *name;
    if (bad) goto done;
    name = get_string(j, "name", 4096, 1, r, &bad);
    if (bad || get_int(j, "k", 1, SRV_MAX_LABELS, SRV_ZS_DEFAULT_K, &k, r)) goto done;
    if (!tpl) tpl = SRV_ZS_DEFAULT_TEMPLATE;
    if (!strstr(tpl, "{}")) {
        srv_error(r, 400, "\"template\" needs a {} where the label goes");
        goto done;
    }
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(j, "labels");
    L = cJSON_IsArray(lab) ? cJSON_GetArraySize(lab) : -1;
    if (L < 2 || L > SRV_MAX_LABELS) {
        srv_error(r, 400, "\"labels\" must be an array of 2 to %d strings", SRV_MAX_LABELS);
        goto done;
    }
    if (!(labels = mmc_malloc(sizeof(char *) * (size_t)L))) {
        srv_error(r, 500, "out of memory");
        goto done;
    }
    for (int i = 0; i < L; i++) {
        const cJSON *v = cJSON_GetArrayItem(lab, i);
        size_t len = cJSON_IsString(v) && v->valuestring ? strlen(v->valuestring) : 0, at = 0;
        if (!len || len > SRV_MAX_LABEL_BYTES || mmc_utf8_validate(v->valuestring, len, &at) != MMC_OK) {
            srv_error(r, 400, "label %d must be a non-empty UTF-8 string of at most %d bytes", i, SRV_MAX_LABEL_BYTES);
            goto done;
        }
        labels[i] = v->valuestring;
        for (int p = 0; p < i; p++)
            if (!strcmp(labels[p], labels[i])) {
                srv_error(r, 400, "label \"%.100s\" is given twice", labels[i]);
                goto done;
            }
    }
    if ((has_image = get_image(j, &img, r)) < 0) goto done;
    if (!has_image) {
        srv_error(r, 400, "missing \"image\" (base64 or a data URL)");
        goto done;
    }
    mmc_error err = {0};
    if (!(x = mmc_malloc(sizeof(float) * mmc_embedder_dim(s->emb)))) {
        srv_error(r, 500, "out of memory");
        goto done;
    }
    if (mmc_embedder_images(s->emb, &img, 1, x, &err)) {
        error_from(r, &err, "zeroshot");
        goto done;
    }
    cJSON *doc = cli_zeroshot_doc(s->emb, x, name ? name : "upload", labels, L, tpl, k, &err);
    if (!doc) error_from(r, &err, "zeroshot");
    else srv_json(r, 200, doc, 0);
done:
    mmc_free(x);
    mmc_free(labels);
    mmc_image_free(&img);
    cJSON_Delete(j);
}

void srv_caption(srv_state *s, const char *body, size_t n, srv_reply *r) {
    if (!s->cap) {
        srv_error(r, 404, "no caption model is loaded (start mmc serve with --model RUN of `mmc train caption`)");
        return;
    }
    cJSON *j = parse_object(body, n, r);
    if (!j) return;
    mmc_image img = {0};
    float *chw = NULL;
    mmc_caption_result res = {0};
    int bad, beam, has_image;
    const char *name = get_string(j, "name", 4096, 1, r, &bad);
    mmc_caption_opts o = mmc_caption_opts_default(s->cap);
    if (bad || get_int(j, "beam", 1, 16, o.beam, &beam, r)) goto done;
    o.beam = beam;
    if ((has_image = get_image(j, &img, r)) < 0) goto done;
    if (!has_image) {
        srv_error(r, 400, "missing \"image\" (base64 or a data URL)");
        goto done;
    }
    const mmc_caption_config *cfg = mmc_captioner_config(s->cap);
    mmc_error err = {0};
    if (!(chw = mmc_malloc(sizeof(float) * 3 * (size_t)cfg->image_size * cfg->image_size)))
        srv_error(r, 500, "out of memory");
    else if (mmc_captioner_image_to_chw(s->cap, &img, chw, &err) || mmc_captioner_caption_chw(s->cap, chw, &o, &res, &err))
        error_from(r, &err, "caption");
    else if (res.n < 1)
        srv_error(r, 500, "caption: no caption");
    else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "image", name ? name : "upload");
        cJSON_AddStringToObject(doc, "caption", res.hyps[0].text);
        cJSON_AddNumberToObject(doc, "score", res.hyps[0].score);
        if (o.beam > 1) {
            cJSON *beams = cJSON_AddArrayToObject(doc, "beams");
            for (int i = 0; beams && i < res.n; i++) {
                cJSON *b = cJSON_CreateObject();
                cJSON_AddItemToArray(beams, b);
                cJSON_AddStringToObject(b, "caption", res.hyps[i].text);
                cJSON_AddNumberToObject(b, "score", res.hyps[i].score);
            }
        }
        srv_json(r, 200, doc, 0);
    }
done:
    mmc_caption_result_free(&res);
    mmc_free(chw);
    mmc_image_free(&img);
    cJSON_Delete(j);
}

void srv_vqa(srv_state *s, const char *body, size_t n, srv_reply *r) {
    if (!s->vqa) {
        srv_error(r, 404, "no VQA model is loaded (start mmc serve with --model RUN of `mmc train vqa`)");
        return;
    }
    cJSON *j = parse_object(body, n, r);
    if (!j) return;
    mmc_image img = {0};
    int bad, k, has_image;
    const char *question = get_string(j, "question", 4096, 1, r, &bad), *name = NULL;
    if (bad) goto done;
    name = get_string(j, "name", 4096, 1, r, &bad);
    if (bad || get_int(j, "k", 1, 100, 5, &k, r)) goto done;
    if (!question) {
        srv_error(r, 400, "missing \"question\"");
        goto done;
    }
    if ((has_image = get_image(j, &img, r)) < 0) goto done;
    if (!has_image) {
        srv_error(r, 400, "missing \"image\" (base64 or a data URL)");
        goto done;
    }
    int top[100];
    float prob[100];
    mmc_error err = {0};
    if (mmc_vqa_answer(s->vqa, &img, question, k, top, prob, &err)) {
        error_from(r, &err, "vqa");
        goto done;
    }
    if (k > mmc_vqa_n_classes(s->vqa)) k = mmc_vqa_n_classes(s->vqa);
    cJSON *doc = cJSON_CreateObject(), *arr;
    cJSON_AddStringToObject(doc, "image", name ? name : "upload");
    cJSON_AddStringToObject(doc, "question", question);
    cJSON_AddStringToObject(doc, "answer", mmc_vqa_class(s->vqa, top[0]));
    cJSON_AddNumberToObject(doc, "probability", prob[0]);
    arr = cJSON_AddArrayToObject(doc, "top");
    for (int i = 0; arr && i < k; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "answer", mmc_vqa_class(s->vqa, top[i]));
        cJSON_AddNumberToObject(o, "probability", prob[i]);
    }
    srv_json(r, 200, doc, 0);
done:
    mmc_image_free(&img);
    cJSON_Delete(j);
}

const char *srv_file_path(srv_state *s, const char *name, const char *row, srv_reply *r) {
    srv_index *ix = NULL;
    for (int i = 0; i < s->n_indexes && !ix; i++)
        if (!strcmp(s->indexes[i].name, name)) ix = &s->indexes[i];
    if (!ix) return srv_error(r, 404, "no index named \"%.200s\"", name), NULL;
    int64_t v = 0;
    int nd = 0;
    for (const char *p = row; *p; p++, nd++) {
        if (*p < '0' || *p > '9' || nd >= 18) return srv_error(r, 404, "no row \"%.40s\" (rows are numbers)", row), NULL;
        v = v * 10 + (*p - '0');
    }
    if (!nd || v >= mmc_index_count(ix->ix))
        return srv_error(r, 404, "no row %.40s in %s (it holds %lld)", row, name, (long long)mmc_index_count(ix->ix)), NULL;
    const char *item = mmc_index_item(ix->ix, v);
    if (mmc_index_kind(ix->ix) != MMC_INDEX_MEDIA || !item || strstr(item, "#t=") || !cli_is_image_name(item))
        return srv_error(r, 404, "row %lld of %s is not an image file", (long long)v, name), NULL;
    return item;
}

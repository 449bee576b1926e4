/* manifest.c — dataset manifests: JSON Lines, one sample per line.
 *
 *   {"id": "train-000001", "image": "images/train-000001.png", "video": "videos/train-000001.mkv",
 *    "captions": ["..."], "captions_zh": ["..."],
 *    "qa": [{"question": "...", "answer": "...", "type": "colour"}], "label": "...",
 *    "audio": [{"path": "audio/train-000001-en-0.ogg", "lang": "en", "text": "...", "voice": "en-us+m3"}]}
 *
 * The file is untrusted (it may come from anywhere a dataset comes from). Each line must be
 * valid UTF-8, at most MMC_MANIFEST_MAX_LINE bytes, and a JSON object with string id and
 * image (or, for a reader that passes MMC_MANIFEST_IMAGE_OPTIONAL, an image or a video);
 * image and video must be relative and stay inside the folder; captions must be arrays of
 * strings; qa an array of objects with string question and answer. One bad line fails the
 * load, and the message says file:line and what was wrong — a silently skipped sample is a
 * silently different dataset. */
#include "internal.h"
#include "mmc/data.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PATH_LEN 4096
#define MAX_ID_LEN 1024

/* ------------------------------------------------------------- validation */

/* The one UTF-8 validator (src/core/utf8.c): overlongs, surrogates, > U+10FFFF refused. */
static int valid_utf8(const uint8_t *s, size_t n) { return mmc_utf8_validate((const char *)s, n, NULL) == MMC_OK; }

/* Why an image path is unacceptable, or NULL. Relative, inside the folder: no leading
 * '/', no ".." component, no control characters. */
static const char *bad_image_path(const char *p) {
    size_t n = strlen(p);
    if (n == 0) return "is empty";
    if (n > MAX_PATH_LEN) return "is longer than 4096 bytes";
    if (p[0] == '/') return "is absolute (must be relative to the dataset folder)";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7F) return "contains a control character";
    for (const char *c = p; *c;) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 2 && c[0] == '.' && c[1] == '.') return "contains '..' (must stay inside the dataset folder)";
        c += len + (end ? 1 : 0);
    }
    return NULL;
}

/* ----------------------------------------------------------------- memory */

static char *dupstr(const char *s) {
    size_t n = strlen(s);
    char *d = mmc_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static void free_strings(char **v, int n) {
    for (int i = 0; i < n; i++) mmc_free(v[i]);
    mmc_free(v);
}

void mmc_sample_free(mmc_sample *s) {
    if (!s) return;
    mmc_free(s->id);
    mmc_free(s->image);
    mmc_free(s->video);
    free_strings(s->captions, s->n_captions);
    free_strings(s->captions_zh, s->n_captions_zh);
    for (int i = 0; i < s->n_qa; i++) {
        mmc_free(s->qa[i].question);
        mmc_free(s->qa[i].answer);
        mmc_free(s->qa[i].type);
    }
    mmc_free(s->qa);
    for (int i = 0; i < s->n_audio; i++) {
        mmc_free(s->audio[i].path);
        mmc_free(s->audio[i].lang);
        mmc_free(s->audio[i].text);
        mmc_free(s->audio[i].voice);
    }
    mmc_free(s->audio);
    mmc_free(s->label);
    memset(s, 0, sizeof *s);
}

void mmc_manifest_free(mmc_manifest *m) {
    if (!m) return;
    for (int i = 0; i < m->count; i++) mmc_sample_free(&m->samples[i]);
    mmc_free(m->samples);
    mmc_free(m->dir);
    mmc_free(m->path);
    mmc_free(m);
}

/* ------------------------------------------------------------------ parse */

/* Field parsers return NULL on success or a static reason; "out of memory" is the one
 * reason that is not the file's fault. */
static const char *OOM = "out of memory";

static const char *get_string(const cJSON *v, char **out) {
    if (!valid_utf8((const uint8_t *)v->valuestring, strlen(v->valuestring))) return "is not valid UTF-8";
    *out = dupstr(v->valuestring);
    return *out ? NULL : OOM;
}

static const char *get_string_array(const cJSON *arr, char ***out, int *n) {
    if (!cJSON_IsArray(arr)) return "must be an array of strings";
    int count = cJSON_GetArraySize(arr);
    if (count > MMC_MANIFEST_MAX_ITEMS) return "has too many items";
    *out = mmc_calloc((size_t)(count ? count : 1), sizeof(char *));
    if (!*out) return OOM;
    for (const cJSON *it = arr->child; it; it = it->next) {
        if (!cJSON_IsString(it)) return "must be an array of strings";
        const char *why = get_string(it, &(*out)[*n]);
        if (why) return why;
        (*n)++;
    }
    return NULL;
}

static const char *get_qa(const cJSON *arr, mmc_sample *s) {
    if (!cJSON_IsArray(arr)) return "must be an array of {question, answer, type} objects";
    int count = cJSON_GetArraySize(arr);
    if (count > MMC_MANIFEST_MAX_ITEMS) return "has too many items";
    s->qa = mmc_calloc((size_t)(count ? count : 1), sizeof(mmc_qa));
    if (!s->qa) return OOM;
    for (const cJSON *it = arr->child; it; it = it->next) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(it, "question");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "answer");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
        if (!cJSON_IsObject(it) || !cJSON_IsString(q) || !cJSON_IsString(a) || (t && !cJSON_IsString(t)))
            return "items need string question and answer (and type, if present)";
        mmc_qa *dst = &s->qa[s->n_qa++];
        const char *why = get_string(q, &dst->question);
        if (!why) why = get_string(a, &dst->answer);
        if (!why && t) why = get_string(t, &dst->type);
        if (why) return why;
    }
    return NULL;
}

/* "audio": [{"path": P, "lang": L, "text": T, "voice": V}]: path required (the image
 * path rules), the rest optional strings. */
static const char *get_audio(const cJSON *arr, mmc_sample *s) {
    if (!cJSON_IsArray(arr)) return "must be an array of {path, lang, text, voice} objects";
    int count = cJSON_GetArraySize(arr);
    if (count > MMC_MANIFEST_MAX_ITEMS) return "has too many items";
    s->audio = mmc_calloc((size_t)(count ? count : 1), sizeof(mmc_audio_ref));
    if (!s->audio) return OOM;
    for (const cJSON *it = arr->child; it; it = it->next) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "path");
        const cJSON *f[3] = {cJSON_GetObjectItemCaseSensitive(it, "lang"), cJSON_GetObjectItemCaseSensitive(it, "text"),
                             cJSON_GetObjectItemCaseSensitive(it, "voice")};
        if (!cJSON_IsObject(it) || !cJSON_IsString(p)) return "items need a string path";
        for (int k = 0; k < 3; k++)
            if (f[k] && !cJSON_IsString(f[k])) return "items' lang, text and voice must be strings";
        mmc_audio_ref *dst = &s->audio[s->n_audio++];
        const char *why = bad_image_path(p->valuestring);
        if (!why) why = get_string(p, &dst->path);
        if (!why && f[0]) why = get_string(f[0], &dst->lang);
        if (!why && f[1]) why = get_string(f[1], &dst->text);
        if (!why && f[2]) why = get_string(f[2], &dst->voice);
        if (why) return why;
    }
    return NULL;
}

static const char *get_label(const cJSON *v, char **out) {
    if (cJSON_IsString(v)) return get_string(v, out);
    if (!cJSON_IsNumber(v)) return "must be a string or a number";
    char buf[64];
    double d = v->valuedouble;
    /* the range test comes first: casting a double beyond int64_t is undefined */
    if (d > -9e15 && d < 9e15 && d == (double)(int64_t)d) snprintf(buf, sizeof buf, "%lld", (long long)d);
    else snprintf(buf, sizeof buf, "%.17g", d);
    *out = dupstr(buf);
    return *out ? NULL : OOM;
}

/* Fills s from a parsed line; on failure *field names the culprit. */
static const char *get_sample(const cJSON *o, mmc_sample *s, const char **field, unsigned flags) {
    *field = "line";
    if (!cJSON_IsObject(o)) return "is not a JSON object";
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(o, "image");
    *field = "id";
    if (!cJSON_IsString(id)) return id ? "must be a string" : "is missing";
    if (!id->valuestring[0] || strlen(id->valuestring) > MAX_ID_LEN) return "must be 1 to 1024 bytes";
    const char *why = get_string(id, &s->id);
    if (why) return why;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "video");
    *field = "video"; /* a path like image's, under the same rules */
    if (v && !cJSON_IsString(v)) return "must be a string";
    if (v && ((why = bad_image_path(v->valuestring)) || (why = get_string(v, &s->video)))) return why;
    *field = "image";
    if (img || !(flags & MMC_MANIFEST_IMAGE_OPTIONAL) || !s->video) {
        if (!cJSON_IsString(img))
            return img                                   ? "must be a string"
                   : (flags & MMC_MANIFEST_IMAGE_OPTIONAL) ? "is missing (a sample needs an image or a video)"
                   : s->video ? "is missing (the sample has only a video; this reader needs images)"
                              : "is missing";
        if ((why = bad_image_path(img->valuestring)) || (why = get_string(img, &s->image))) return why;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o, *field = "captions")) &&
        (why = get_string_array(v, &s->captions, &s->n_captions)))
        return why;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, *field = "captions_zh")) &&
        (why = get_string_array(v, &s->captions_zh, &s->n_captions_zh)))
        return why;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, *field = "qa")) && (why = get_qa(v, s))) return why;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, *field = "audio")) && (why = get_audio(v, s))) return why;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, *field = "label")) && !cJSON_IsNull(v) &&
        (why = get_label(v, &s->label)))
        return why;
    return NULL;
}

static int is_blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

/* Parses one line into m->samples[m->count]. */
static int parse_line(mmc_manifest *m, const char *p, size_t len, long line, unsigned flags, mmc_error *err) {
    const char *P = m->path;
    if (len > MMC_MANIFEST_MAX_LINE)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s:%ld: line is %zu bytes, more than the limit of %u", P, line, len,
                             MMC_MANIFEST_MAX_LINE);
    if (memchr(p, 0, len)) return mmc_error_set(err, MMC_ERR_INPUT, "%s:%ld: line contains a NUL byte", P, line);
    if (!valid_utf8((const uint8_t *)p, len)) return mmc_error_set(err, MMC_ERR_INPUT, "%s:%ld: line is not valid UTF-8", P, line);
    if (m->count >= MMC_MANIFEST_MAX_SAMPLES)
        return mmc_error_set(err, MMC_ERR_INPUT, "%s:%ld: more than %d samples", P, line, MMC_MANIFEST_MAX_SAMPLES);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    if (!o) return mmc_error_set(err, MMC_ERR_INPUT, "%s:%ld: not valid JSON", P, line);
    if (!is_blank(end, len - (size_t)(end - p))) { /* cJSON stops after one value */
        cJSON_Delete(o);
        return mmc_error_set(err, MMC_ERR_INPUT, "%s:%ld: more than one JSON value on the line", P, line);
    }
    mmc_sample *s = &m->samples[m->count];
    memset(s, 0, sizeof *s);
    const char *field = "line";
    const char *why = get_sample(o, s, &field, flags);
    cJSON_Delete(o);
    if (why) {
        mmc_sample_free(s);
        int code = why == OOM ? MMC_ERR_RUNTIME : MMC_ERR_INPUT;
        return mmc_error_set(err, code, "%s:%ld: %s %s", P, line, field, why);
    }
    m->count++;
    return MMC_OK;
}

static int grow(mmc_manifest *m, int *cap) {
    if (m->count < *cap) return 1;
    int nc = *cap ? *cap * 2 : 256;
    mmc_sample *ns = mmc_realloc(m->samples, sizeof *ns * (size_t)nc);
    if (!ns) return 0;
    m->samples = ns;
    *cap = nc;
    return 1;
}

typedef struct id_ref { const char *id; long line; } id_ref;
static int cmp_id(const void *a, const void *b) {
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Ids must be unique: results and predictions are keyed by them. */
static int check_unique_ids(const mmc_manifest *m, const long *lines, mmc_error *err) {
    id_ref *r = mmc_malloc(sizeof *r * (size_t)(m->count ? m->count : 1));
    if (!r) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", m->path);
    for (int i = 0; i < m->count; i++) r[i] = (id_ref){m->samples[i].id, lines[i]};
    qsort(r, (size_t)m->count, sizeof *r, cmp_id);
    int rc = MMC_OK;
    for (int i = 1; i < m->count && !rc; i++)
        if (!strcmp(r[i - 1].id, r[i].id))
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s:%ld: id '%.200s' already used on line %ld", m->path, r[i].line,
                               r[i].id, r[i - 1].line);
    mmc_free(r);
    return rc;
}

/* lines[i] is the line number of sample i, for messages found after parsing. */
static int grow_lines(long **lines, int *lcap, int cap) {
    if (*lcap >= cap) return 1;
    long *nl = mmc_realloc(*lines, sizeof *nl * (size_t)cap);
    if (!nl) return 0;
    *lines = nl;
    *lcap = cap;
    return 1;
}

static int parse_all(mmc_manifest *m, const char *text, size_t n, unsigned flags, mmc_error *err) {
    int cap = 0, lcap = 0;
    long *lines = NULL, line = 0;
    int rc = MMC_OK;
    for (size_t pos = 0; pos < n && !rc;) {
        const char *nl = memchr(text + pos, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - (text + pos)) : n - pos;
        line++;
        if (!is_blank(text + pos, len)) {
            if (!grow(m, &cap) || !grow_lines(&lines, &lcap, cap)) {
                rc = mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory at line %ld", m->path, line);
                break;
            }
            rc = parse_line(m, text + pos, len, line, flags, err);
            if (!rc) lines[m->count - 1] = line;
        }
        pos += len + 1;
    }
    if (!rc && m->count == 0) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: no samples (empty manifest)", m->path);
    if (!rc) rc = check_unique_ids(m, lines, err);
    mmc_free(lines);
    return rc;
}

mmc_manifest *mmc_manifest_parse(const char *name, const char *dir, const char *text, size_t n, mmc_error *err) {
    return mmc_manifest_parse_ex(name, dir, text, n, 0, err);
}

mmc_manifest *mmc_manifest_parse_ex(const char *name, const char *dir, const char *text, size_t n, unsigned flags,
                                    mmc_error *err) {
    mmc_manifest *m = mmc_calloc(1, sizeof *m);
    if (m) m->path = dupstr(name ? name : "<memory>");
    if (m && m->path) m->dir = dupstr(dir ? dir : ".");
    if (!m || !m->path || !m->dir) {
        mmc_manifest_free(m);
        mmc_error_set(err, MMC_ERR_RUNTIME, "manifest: out of memory");
        return NULL;
    }
    if (!text && n) {
        mmc_manifest_free(m);
        mmc_error_set(err, MMC_ERR_USAGE, "manifest: NULL text");
        return NULL;
    }
    if (parse_all(m, text, n, flags, err) != MMC_OK) {
        mmc_manifest_free(m);
        return NULL;
    }
    return m;
}

static int valid_split(const char *s) {
    if (!s || !*s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')) return 0;
    return 1;
}

mmc_manifest *mmc_manifest_load(const char *dir, const char *split, mmc_error *err) {
    return mmc_manifest_load_ex(dir, split, 0, err);
}

mmc_manifest *mmc_manifest_load_ex(const char *dir, const char *split, unsigned flags, mmc_error *err) {
    if (!dir || !valid_split(split)) {
        mmc_error_set(err, MMC_ERR_USAGE, "manifest: split '%.64s' must be 1-64 of [a-z0-9_-]", split ? split : "(null)");
        return NULL;
    }
    size_t len = strlen(dir) + strlen(split) + 32;
    char *path = mmc_malloc(len);
    if (!path) {
        mmc_error_set(err, MMC_ERR_RUNTIME, "manifest: out of memory");
        return NULL;
    }
    snprintf(path, len, "%s/manifest-%s.jsonl", dir, split);
    uint8_t *text = NULL;
    size_t n = 0;
    mmc_manifest *m = NULL;
    if (mmc_read_file(path, MMC_MANIFEST_MAX_BYTES, &text, &n, err) == MMC_OK)
        m = mmc_manifest_parse_ex(path, dir, (const char *)text, n, flags, err);
    mmc_free(text);
    mmc_free(path);
    return m;
}

int mmc_manifest_check_images(const mmc_manifest *m, mmc_error *err) {
    size_t dl = strlen(m->dir);
    char *buf = mmc_malloc(dl + MAX_PATH_LEN + 2);
    if (!buf) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", m->path);
    int rc = MMC_OK;
    for (int i = 0; i < m->count && !rc; i++) {
        for (int k = 0; k < 2 && !rc; k++) {
            const char *rel = k ? m->samples[i].video : m->samples[i].image;
            if (!rel) continue;
            snprintf(buf, dl + MAX_PATH_LEN + 2, "%s/%s", m->dir, rel);
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISREG(st.st_mode))
                rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: sample '%.200s' (sample %d): %s %s is %s", m->path,
                                   m->samples[i].id, i + 1, k ? "video" : "image", buf,
                                   stat(buf, &st) != 0 ? "missing" : "not a regular file");
        }
    }
    mmc_free(buf);
    return rc;
}

/* ------------------------------------------------------------------ write */

static cJSON *string_array(char *const *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *s = cJSON_CreateString(v[i] ? v[i] : "");
        if (!s) { cJSON_Delete(a); return NULL; }
        cJSON_AddItemToArray(a, s);
    }
    return a;
}

static cJSON *qa_array(const mmc_qa *qa, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { cJSON_Delete(a); return NULL; }
        cJSON_AddItemToArray(a, o);
        cJSON_AddStringToObject(o, "question", qa[i].question ? qa[i].question : "");
        cJSON_AddStringToObject(o, "answer", qa[i].answer ? qa[i].answer : "");
        if (qa[i].type) cJSON_AddStringToObject(o, "type", qa[i].type);
    }
    return a;
}

static cJSON *sample_object(const mmc_sample *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", s->id);
    if (s->image) cJSON_AddStringToObject(o, "image", s->image);
    if (s->video) cJSON_AddStringToObject(o, "video", s->video);
    if (s->n_captions) cJSON_AddItemToObject(o, "captions", string_array(s->captions, s->n_captions));
    if (s->n_captions_zh) cJSON_AddItemToObject(o, "captions_zh", string_array(s->captions_zh, s->n_captions_zh));
    if (s->n_qa) cJSON_AddItemToObject(o, "qa", qa_array(s->qa, s->n_qa));
    if (s->label) cJSON_AddStringToObject(o, "label", s->label);
    if (s->n_audio) {
        cJSON *a = cJSON_AddArrayToObject(o, "audio");
        for (int i = 0; a && i < s->n_audio; i++) {
            cJSON *x = cJSON_CreateObject();
            if (!x) break;
            cJSON_AddItemToArray(a, x);
            const mmc_audio_ref *r = &s->audio[i];
            cJSON_AddStringToObject(x, "path", r->path ? r->path : "");
            if (r->lang) cJSON_AddStringToObject(x, "lang", r->lang);
            if (r->text) cJSON_AddStringToObject(x, "text", r->text);
            if (r->voice) cJSON_AddStringToObject(x, "voice", r->voice);
        }
    }
    return o;
}

static int ok_str(const char *s) { return !s || valid_utf8((const uint8_t *)s, strlen(s)); }

/* What the reader would refuse, the writer refuses too. */
static int sample_valid(const mmc_sample *s) {
    if (!s || !s->id || !s->id[0] || strlen(s->id) > MAX_ID_LEN || (!s->image && !s->video)) return 0;
    if ((s->image && bad_image_path(s->image)) || (s->video && bad_image_path(s->video))) return 0;
    int ok = ok_str(s->id) && ok_str(s->image) && ok_str(s->video) && ok_str(s->label);
    for (int i = 0; ok && i < s->n_captions; i++) ok = ok_str(s->captions[i]);
    for (int i = 0; ok && i < s->n_captions_zh; i++) ok = ok_str(s->captions_zh[i]);
    for (int i = 0; ok && i < s->n_qa; i++)
        ok = ok_str(s->qa[i].question) && ok_str(s->qa[i].answer) && ok_str(s->qa[i].type);
    for (int i = 0; ok && i < s->n_audio; i++)
        ok = s->audio[i].path && !bad_image_path(s->audio[i].path) && ok_str(s->audio[i].lang) && ok_str(s->audio[i].text) &&
             ok_str(s->audio[i].voice);
    return ok;
}

/* cJSON copies raw UTF-8 through, so Chinese stays readable in the file. */
char *mmc_sample_to_json(const mmc_sample *s) {
    if (!sample_valid(s)) return NULL;
    cJSON *o = sample_object(s);
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!txt) return NULL;
    char *out = dupstr(txt); /* hand back mmc_malloc'd memory, as the API promises */
    cJSON_free(txt);
    return out;
}

int mmc_manifest_write(const char *path, const mmc_sample *samples, int n, mmc_error *err) {
    size_t cap = 1 << 16, len = 0;
    char *buf = mmc_malloc(cap);
    if (!buf) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        char *line = mmc_sample_to_json(&samples[i]);
        if (!line) {
            mmc_free(buf);
            int bad = !sample_valid(&samples[i]);
            return mmc_error_set(err, bad ? MMC_ERR_USAGE : MMC_ERR_RUNTIME, "%s: sample %d %s", path, i,
                                 bad ? "is invalid (needs an id, a relative image path inside the folder, UTF-8 text)"
                                     : "out of memory");
        }
        size_t ll = strlen(line);
        if (len + ll + 1 > cap) {
            while (len + ll + 1 > cap) cap *= 2;
            char *nb = mmc_realloc(buf, cap);
            if (!nb) { mmc_free(line); mmc_free(buf); return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path); }
            buf = nb;
        }
        memcpy(buf + len, line, ll);
        buf[len + ll] = '\n';
        len += ll + 1;
        mmc_free(line);
    }
    int rc = mmc_write_file_atomic(path, buf, len, err);
    mmc_free(buf);
    return rc;
}

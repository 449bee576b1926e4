/* import_emoji.c — emoji images and names from extracted npm packages into a dataset.
 *
 * Sources (all untrusted, even though their tarballs are pinned):
 *   emoji-datasource-STYLE/emoji.json   one record per emoji: unified code points, image
 *                                       file name, category, short names
 *   emoji-datasource-STYLE/img/STYLE/64/IMAGE   the 64 px PNG in that drawing style
 *   emojibase-data/{en,zh}/data.json    CLDR names ("label") and keywords ("tags")
 * The two projects spell code points differently (emojibase drops most U+FE0F variation
 * selectors), so both are matched on the sequence without FE0F. */
#include "import_internal.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_JSON_BYTES ((size_t)64 << 20)
#define MAX_PNG_BYTES ((size_t)1 << 20)

/* ----------------------------------------------------------- names (CLDR) */

typedef struct text_entry {
    char key[80];           /* normalised code points */
    const cJSON *obj;       /* borrowed from the parsed file */
} text_entry;

typedef struct text_index {
    cJSON *root;
    text_entry *v;
    int n;
} text_index;

/* "1F44D-FE0F" -> "1F44D": uppercase, FE0F components dropped. Returns 0 if s is not a
 * dash-separated list of 1-6 digit hex code points (or is too long). */
static int norm_code(const char *s, char out[80]) {
    size_t o = 0;
    while (*s) {
        char part[8];
        size_t k = 0;
        for (; *s && *s != '-'; s++) {
            char c = *s >= 'a' && *s <= 'f' ? *s - 32 : *s;
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) || k == 6) return 0;
            part[k++] = c;
        }
        if (!k || (*s == '-' && !s[1])) return 0;
        if (*s) s++;
        part[k] = 0;
        if (!strcmp(part, "FE0F")) continue;
        if (o + k + 2 > 80) return 0;
        if (o) out[o++] = '-';
        memcpy(out + o, part, k), o += k;
    }
    out[o] = 0;
    return o > 0;
}

static int cmp_key(const void *a, const void *b) { return strcmp(((const text_entry *)a)->key, ((const text_entry *)b)->key); }

/* Checks one emojibase record: hexcode, label and tags must be what we expect. */
static const char *check_text(const cJSON *o, char key[80], const char **field) {
    *field = "";
    if (!cJSON_IsObject(o)) return "is not an object";
    const char *hex = import_json_str(cJSON_GetObjectItemCaseSensitive(o, *field = "hexcode"));
    if (!hex || !norm_code(hex, key)) return "must be a string of hex code points";
    if (!import_json_str(cJSON_GetObjectItemCaseSensitive(o, *field = "label"))) return "must be a UTF-8 string";
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, *field = "tags");
    if (tags && !cJSON_IsArray(tags)) return "must be an array of strings";
    for (const cJSON *t = tags ? tags->child : NULL; t; t = t->next)
        if (!import_json_str(t)) return "must be an array of UTF-8 strings";
    return NULL;
}

static int load_text(const char *dir, const char *lang, text_index *ix, mmc_error *err) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/data.json", dir, lang);
    int rc = mmc_json_load(path, MAX_JSON_BYTES, 0, &ix->root, err);
    if (rc) return rc;
    if (!cJSON_IsArray(ix->root)) return mmc_error_set(err, MMC_ERR_INPUT, "%s: expected an array of emoji", path);
    int n = cJSON_GetArraySize(ix->root), i = 0;
    ix->v = mmc_calloc(n ? n : 1, sizeof *ix->v);
    if (!ix->v) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    for (const cJSON *o = ix->root->child; o; o = o->next, i++) {
        const char *field, *why = check_text(o, ix->v[ix->n].key, &field);
        if (why) return mmc_error_set(err, MMC_ERR_INPUT, "%s: [%d].%s %s", path, i, field, why);
        ix->v[ix->n++].obj = o;
    }
    qsort(ix->v, (size_t)ix->n, sizeof *ix->v, cmp_key);
    return MMC_OK;
}

static void free_text(text_index *ix) {
    cJSON_Delete(ix->root);
    mmc_free(ix->v);
    memset(ix, 0, sizeof *ix);
}

static const cJSON *find_text(const text_index *ix, const char *key) {
    text_entry k;
    snprintf(k.key, sizeof k.key, "%s", key);
    const text_entry *e = ix->n ? bsearch(&k, ix->v, (size_t)ix->n, sizeof k, cmp_key) : NULL;
    return e ? e->obj : NULL;
}

/* label first, then the tags. */
static int add_names(char ***list, int *n, const cJSON *o) {
    if (import_add_caption(list, n, cJSON_GetObjectItemCaseSensitive(o, "label")->valuestring)) return -1;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "tags");
    for (const cJSON *t = tags ? tags->child : NULL; t; t = t->next)
        if (import_add_caption(list, n, t->valuestring)) return -1;
    return 0;
}

/* ------------------------------------------------------ one style's images */

typedef struct emoji_rec {
    char key[80];            /* normalised code points */
    const char *image;       /* "1f44d.png" */
    const char *category;    /* "People & Body" */
    const char *name;        /* "THUMBS UP SIGN" or NULL */
    const cJSON *short_names;
    int has_img;             /* has_img_STYLE, 1 when absent */
} emoji_rec;

/* An image name the package may give: lowercase hex and dashes, ".png". */
static int safe_image_name(const char *s) {
    size_t n = strlen(s);
    if (n < 5 || n > 100 || strcmp(s + n - 4, ".png")) return 0;
    for (size_t i = 0; i + 4 < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || s[i] == '-')) return 0;
    return 1;
}

static const char *read_rec(const cJSON *o, const char *style, emoji_rec *r, const char **field) {
    *field = "";
    if (!cJSON_IsObject(o)) return "is not an object";
    const char *u = import_json_str(cJSON_GetObjectItemCaseSensitive(o, *field = "unified"));
    if (!u || !norm_code(u, r->key)) return "must be a string of hex code points";
    r->image = import_json_str(cJSON_GetObjectItemCaseSensitive(o, *field = "image"));
    if (!r->image || !safe_image_name(r->image)) return "must be a file name like 1f44d.png";
    if (!(r->category = import_json_str(cJSON_GetObjectItemCaseSensitive(o, *field = "category"))) || !*r->category)
        return "must be a non-empty UTF-8 string";
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, *field = "name");
    r->name = import_json_str(name);
    if (name && !cJSON_IsNull(name) && !r->name) return "must be a UTF-8 string or null";
    r->short_names = cJSON_GetObjectItemCaseSensitive(o, *field = "short_names");
    if (r->short_names && !cJSON_IsArray(r->short_names)) return "must be an array of strings";
    for (const cJSON *t = r->short_names ? r->short_names->child : NULL; t; t = t->next)
        if (!import_json_str(t)) return "must be an array of UTF-8 strings";
    char key[64];
    snprintf(key, sizeof key, "has_img_%s", style);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, key);
    *field = "has_img_<style>";
    if (h && !cJSON_IsBool(h)) return "must be true or false";
    r->has_img = !h || cJSON_IsTrue(h);
    return NULL;
}

/* Reads dir/img/STYLE/64/IMAGE if it is a regular file that really lies inside dir (a
 * link in the package must not lead elsewhere). 1: read; 0: missing; <0: error in err. */
static int read_png(const char *dir, const char *style, const char *image, uint8_t **buf, size_t *n, mmc_error *err) {
    char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
    snprintf(path, sizeof path, "%s/img/%s/64/%s", dir, style, image);
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (!S_ISREG(st.st_mode) || !realpath(path, real) || !realpath(dir, root) ||
        strncmp(real, root, strlen(root)) || real[strlen(root)] != '/')
        return -mmc_error_set(err, MMC_ERR_INPUT, "%s: not a regular file inside %s", path, dir);
    if (mmc_read_file(path, MAX_PNG_BYTES, buf, n, err)) return -1;
    const char *fmt = mmc_image_format(*buf, *n);
    if (!fmt || strcmp(fmt, "png"))
        return -mmc_error_set(err, MMC_ERR_INPUT, "%s: not a PNG (found %s)", path, fmt ? fmt : "unknown bytes");
    mmc_image img = {0};
    int rc = mmc_image_decode(&img, *buf, *n, path, 3, err);
    mmc_image_free(&img);
    return rc ? -1 : 1;
}

/* ---------------------------------------------------------------- samples */

typedef struct emoji_run {
    const mmc_emoji_opts *o;
    text_index en, zh;
    import_samples sp[3];
    mmc_import_stats *st;
    int64_t written[MMC_EMOJI_MAX_STYLES], missing[MMC_EMOJI_MAX_STYLES];
} emoji_run;

/* Split of emoji `key` drawn in styles[k]. A hash of the code points (not the position in
 * the file) decides, so the same emoji lands in the same split in every style and every
 * package version. */
static int split_for(const mmc_emoji_opts *o, int k, const char *key) {
    uint32_t h = import_hash(key);
    if (o->split == MMC_EMOJI_SPLIT_WITHIN) return h % 10 == 0 ? 2 : h % 10 == 1 ? 1 : 0;
    if (k > 0) return 2;
    return h % 20 == 0 ? 1 : 0;
}

/* Without a CLDR entry: the datasource's own name and short names, lowercased. */
static int fallback_names(const emoji_rec *e, mmc_sample *s) {
    char buf[256];
    if (e->name) {
        snprintf(buf, sizeof buf, "%s", e->name);
        for (char *c = buf; *c; c++) *c = *c >= 'A' && *c <= 'Z' ? *c + 32 : *c;
        if (import_add_caption(&s->captions, &s->n_captions, buf)) return -1;
    }
    for (const cJSON *t = e->short_names ? e->short_names->child : NULL; t; t = t->next) {
        snprintf(buf, sizeof buf, "%s", t->valuestring);
        for (char *c = buf; *c; c++) *c = *c == '_' ? ' ' : *c;
        if (import_add_caption(&s->captions, &s->n_captions, buf)) return -1;
    }
    return 0;
}

static int fill_text(emoji_run *r, const emoji_rec *e, mmc_sample *s) {
    const cJSON *en = find_text(&r->en, e->key), *zh = find_text(&r->zh, e->key);
    if (!en) r->st->no_text++;
    if (!zh) r->st->no_zh++;
    if (en ? add_names(&s->captions, &s->n_captions, en) : fallback_names(e, s)) return -1;
    return zh ? add_names(&s->captions_zh, &s->n_captions_zh, zh) : 0;
}

static int add_sample(emoji_run *r, int k, const emoji_rec *e, mmc_error *err) {
    const char *style = r->o->styles[k];
    mmc_sample *s = import_samples_push(&r->sp[split_for(r->o, k, e->key)], err);
    if (!s) return MMC_ERR_RUNTIME;
    char buf[256];
    snprintf(buf, sizeof buf, "%s-%.*s", style, (int)(strlen(e->image) - 4), e->image);
    s->id = import_strdup(buf);
    snprintf(buf, sizeof buf, "images/%s/%s", style, e->image);
    s->image = import_strdup(buf);
    s->label = import_strdup(e->category);
    if (!s->id || !s->image || !s->label || fill_text(r, e, s))
        return mmc_error_set(err, MMC_ERR_RUNTIME, "emoji: out of memory");
    return MMC_OK;
}

/* Copies one emoji's PNG (after it decodes) and adds its sample; a missing image is
 * counted, not an error. */
static int one_emoji(emoji_run *r, int k, const emoji_rec *e, mmc_error *err) {
    uint8_t *buf = NULL;
    size_t n = 0;
    int got = e->has_img ? read_png(r->o->style_dirs[k], r->o->styles[k], e->image, &buf, &n, err) : 0;
    int rc = got < 0 ? (err->code ? err->code : MMC_ERR_INPUT) : MMC_OK;
    if (got > 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/images/%s/%s", r->o->out, r->o->styles[k], e->image);
        rc = import_write_file(path, buf, n, err);
        if (!rc) rc = add_sample(r, k, e, err);
        if (!rc) r->written[k]++;
    } else if (got == 0) {
        r->missing[k]++;
    }
    mmc_free(buf);
    return rc;
}

typedef struct image_ref {
    const char *image;
    int index;
} image_ref;

static int cmp_image_ref(const void *a, const void *b) {
    int c = strcmp(((const image_ref *)a)->image, ((const image_ref *)b)->image);
    return c ? c : ((const image_ref *)a)->index - ((const image_ref *)b)->index;
}

/* Two records naming one image file would make one sample id twice, and when their code
 * points hash to different splits, the same picture in training and test (found by
 * fuzz/fuzz_emoji.c). Records that do not parse are left to the main loop to report. */
static int unique_images(const cJSON *root, const char *style, const char *path, mmc_error *err) {
    int n = cJSON_GetArraySize(root), m = 0, i = 0, rc = MMC_OK;
    image_ref *v = mmc_calloc(n ? (size_t)n : 1, sizeof *v);
    if (!v) return mmc_error_set(err, MMC_ERR_RUNTIME, "%s: out of memory", path);
    for (const cJSON *it = root->child; it; it = it->next, i++) {
        emoji_rec e;
        const char *field;
        if (!read_rec(it, style, &e, &field)) v[m++] = (image_ref){e.image, i};
    }
    qsort(v, (size_t)m, sizeof *v, cmp_image_ref);
    for (int j = 1; j < m && !rc; j++)
        if (!strcmp(v[j].image, v[j - 1].image))
            rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: [%d].image %s is also the image of [%d]", path, v[j].index,
                               v[j].image, v[j - 1].index);
    mmc_free(v);
    return rc;
}

static int one_style(emoji_run *r, int k, mmc_error *err) {
    const mmc_emoji_opts *o = r->o;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/emoji.json", o->style_dirs[k]);
    cJSON *root = NULL;
    int rc = mmc_json_load(path, MAX_JSON_BYTES, 0, &root, err);
    if (!rc && !cJSON_IsArray(root)) rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: expected an array of emoji", path);
    if (!rc) rc = unique_images(root, o->styles[k], path, err);
    if (!rc) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/images/%s", o->out, o->styles[k]);
        rc = import_mkdirs(dir, err);
    }
    double t0 = mmc_now();
    int i = 0;
    for (const cJSON *it = root ? root->child : NULL; it && !rc; it = it->next, i++) {
        emoji_rec e;
        const char *field, *why = read_rec(it, o->styles[k], &e, &field);
        rc = why ? mmc_error_set(err, MMC_ERR_INPUT, "%s: [%d].%s %s", path, i, field, why) : one_emoji(r, k, &e, err);
    }
    cJSON_Delete(root);
    /* A real package has an image for nearly every record: none at all is the wrong folder
     * or a broken package, not an empty style (found by fuzz/fuzz_emoji.c: it used to
     * succeed with no samples and no manifest). */
    if (!rc && r->written[k] == 0)
        rc = mmc_error_set(err, MMC_ERR_INPUT, "%s: none of its %d records has an image in %s/img/%s/64", path, i,
                           o->style_dirs[k], o->styles[k]);
    if (!rc)
        import_log(o->log, o->user, "%s: %lld emoji copied, %lld without a %s image (skipped), %.1f s", o->styles[k],
                   (long long)r->written[k], (long long)r->missing[k], o->styles[k], mmc_now() - t0);
    return rc;
}

static int check_opts(const mmc_emoji_opts *o, mmc_error *err) {
    if (!o->out || !*o->out || !o->emojibase_dir)
        return mmc_error_set(err, MMC_ERR_USAGE, "emoji: no output folder or emojibase folder");
    if (o->n_styles < 1 || o->n_styles > MMC_EMOJI_MAX_STYLES)
        return mmc_error_set(err, MMC_ERR_USAGE, "emoji: 1 to %d styles", MMC_EMOJI_MAX_STYLES);
    if (o->split == MMC_EMOJI_SPLIT_STYLE && o->n_styles < 2)
        return mmc_error_set(err, MMC_ERR_USAGE, "emoji: splitting by style needs two styles (train on the first, "
                                                 "test on the others), or split within a style");
    for (int k = 0; k < o->n_styles; k++) {
        const char *s = o->styles[k];
        size_t n = s ? strlen(s) : 0;
        if (!n || n > 31 || strspn(s, "abcdefghijklmnopqrstuvwxyz") != n || !o->style_dirs[k])
            return mmc_error_set(err, MMC_ERR_USAGE, "emoji: style '%s' must be 1-31 lowercase letters",
                                 s ? s : "(null)");
        for (int j = 0; j < k; j++)
            if (!strcmp(s, o->styles[j])) return mmc_error_set(err, MMC_ERR_USAGE, "emoji: style '%s' given twice", s);
    }
    return MMC_OK;
}

int mmc_import_emoji_build(const mmc_emoji_opts *o, mmc_import_stats *st, mmc_error *err) {
    mmc_error local = {0};
    if (!err) err = &local;
    memset(st, 0, sizeof *st);
    emoji_run r = {.o = o, .st = st};
    int rc = check_opts(o, err);
    if (!rc) rc = load_text(o->emojibase_dir, "en", &r.en, err);
    if (!rc) rc = load_text(o->emojibase_dir, "zh", &r.zh, err);
    for (int k = 0; k < o->n_styles && !rc; k++) rc = one_style(&r, k, err);
    for (int s = 0; s < 3 && !rc; s++) rc = import_samples_sort_unique(&r.sp[s], "emoji.json", err);
    if (!rc) rc = import_write_manifests(o->out, r.sp, err);
    for (int k = 0; k < o->n_styles && k < MMC_EMOJI_MAX_STYLES; k++) st->skipped += r.missing[k];
    for (int s = 0; s < 3; s++) st->n[s] = rc ? 0 : r.sp[s].n, import_samples_free(&r.sp[s]);
    free_text(&r.en);
    free_text(&r.zh);
    return rc;
}

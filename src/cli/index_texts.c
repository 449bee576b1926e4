/* index_texts.c — the file of `mmc index build --texts FILE`: one text a line, or JSON lines
 * {"id": "...", "text": "..."} (when the name ends in .jsonl, or every non-blank line opens
 * an object). The file is untrusted: it is read whole under a size bound, and each line is
 * checked (length bound, no NUL, valid UTF-8, well-formed JSON with the fields it needs)
 * before anything of it is kept, so a bad line is an exit-2 message naming FILE:LINE rather
 * than a wrong index. Plain lines stay in the file's buffer (cut in place); JSON items are
 * built as the index stores them: TEXT, or ID<tab>TEXT when the lines have ids. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define TEXTS_MAX_FILE ((size_t)1 << 30) /* 1 GiB */
#define TEXTS_MAX_LINE ((size_t)1 << 20) /* 1 MiB */
#define TEXTS_MAX_COUNT 10000000

void cli_texts_free(cli_texts *t) {
    for (int i = 0; t->owned && i < t->n; i++) mmc_free(t->items[i]);
    mmc_free(t->items);
    mmc_free(t->texts);
    mmc_free(t->buf);
    memset(t, 0, sizeof *t);
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\f\v", s[i]) || !s[i]) return 0;
    return 1;
}

static int has_jsonl_ext(const char *path) {
    size_t n = strlen(path);
    if (n < 6) return 0;
    const char *x = path + n - 6, *want = ".jsonl";
    for (int i = 0; i < 6; i++)
        if (tolower((unsigned char)x[i]) != want[i]) return 0;
    return 1;
}

/* The line starting at s (end: the buffer's end): its length without the newline, and where
 * the next line starts. */
static size_t line_at(const char *s, const char *end, const char **next) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    *next = nl ? nl + 1 : end;
    return (size_t)((nl ? nl : end) - s);
}

static int add_item(cli_texts *t, char *item) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 1024;
        if (cap > TEXTS_MAX_COUNT) cap = TEXTS_MAX_COUNT;
        char **v = mmc_realloc(t->items, sizeof *v * (size_t)cap);
        if (!v) return -1;
        t->items = v;
        t->cap = cap;
    }
    t->items[t->n++] = item;
    return 0;
}

/* A JSON line into *item (TEXT or ID<tab>TEXT, mmc_malloc'd) and *has_id; 0, or 2 with the
 * message (naming FILE:LINE) printed, 3 out of memory. */
static int json_item(const char *path, long long ln, const char *line, size_t len, int hint, char **item, int *has_id) {
    /* "\u0000" decodes to a NUL that would cut the C string short, silently: refuse it. A
     * backslash only occurs inside JSON strings, each escaping the next byte. */
    for (size_t i = 0; i + 1 < len; i++) {
        if (line[i] != '\\') continue;
        if (line[i + 1] == 'u' && i + 6 <= len && !memcmp(line + i + 2, "0000", 4))
            return cli_error(2, "%s:%lld: a string holds \\u0000 (NUL)", path, ln);
        i++;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!o || !cJSON_IsObject(o)) {
        const char *why = hint ? " (every line starts with '{', so the file is read as JSON lines)" : "";
        cJSON_Delete(o);
        if (!o && end >= line && end <= line + len) /* cJSON leaves end where it stopped */
            return cli_error(2, "%s:%lld: not valid JSON (at byte %zu of the line)%s", path, ln, (size_t)(end - line) + 1, why);
        return cli_error(2, "%s:%lld: not a JSON object {\"id\": ..., \"text\": ...}%s", path, ln, why);
    }
    int rc = 0;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text"), *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (end && !is_blank(end, (size_t)(line + len - end)))
        rc = cli_error(2, "%s:%lld: text after the JSON object", path, ln);
    else if (!cJSON_IsString(text) || !text->valuestring)
        rc = cli_error(2, "%s:%lld: \"text\" is missing or not a string", path, ln);
    else if (is_blank(text->valuestring, strlen(text->valuestring)))
        rc = cli_error(2, "%s:%lld: \"text\" is empty or blank", path, ln);
    else if (id && (!cJSON_IsString(id) || !id->valuestring))
        rc = cli_error(2, "%s:%lld: \"id\" is not a string", path, ln);
    else if (id && !*id->valuestring)
        rc = cli_error(2, "%s:%lld: \"id\" is empty", path, ln);
    else if (id && strpbrk(id->valuestring, "\t\n\r"))
        rc = cli_error(2, "%s:%lld: \"id\" holds a tab or a line break (the index stores ID<tab>TEXT)", path, ln);
    if (!rc) {
        size_t a = id ? strlen(id->valuestring) + 1 : 0, b = strlen(text->valuestring);
        *item = mmc_malloc(a + b + 1);
        if (!*item) rc = cli_error(3, "index build: out of memory");
        else {
            if (id) {
                memcpy(*item, id->valuestring, a - 1);
                (*item)[a - 1] = '\t';
            }
            memcpy(*item + a, text->valuestring, b + 1);
            *has_id = id != NULL;
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* Which form the file has: JSON lines when named .jsonl, or when it has a non-blank line and
 * every one starts with '{' (2: the second way, so a message can say why). */
static int json_form(const char *path, const char *s, const char *end) {
    if (has_jsonl_ext(path)) return 1;
    int any = 0;
    for (const char *next; s < end; s = next) {
        size_t len = line_at(s, end, &next);
        if (is_blank(s, len)) continue;
        if (*s != '{') return 0;
        any = 1;
    }
    return any ? 2 : 0;
}

int cli_texts_read(const char *path, cli_texts *t) {
    memset(t, 0, sizeof *t);
    mmc_error err = {0};
    uint8_t *buf = NULL;
    size_t size = 0;
    if (mmc_read_file(path, TEXTS_MAX_FILE, &buf, &size, &err)) return cli_error(err.code, "index build: --texts %s", err.msg);
    t->buf = buf;
    char *s = (char *)buf, *end = s + size;
    if (size >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3; /* a UTF-8 byte order mark is not text */
    const int json = json_form(path, s, end);
    t->owned = json != 0;
    long long ln = 0, with_id = 0, without_id = 0;
    int rc = 0;
    for (char *next; !rc && s < end; s = next) {
        const char *nx;
        size_t len = line_at(s, end, &nx), bad = 0;
        next = s + (nx - s);
        ln++;
        if (len > TEXTS_MAX_LINE) {
            rc = cli_error(2, "%s:%lld: line of %zu bytes, more than the limit of %zu (1 MiB)", path, ln, len, TEXTS_MAX_LINE);
            break;
        }
        if (len && s[len - 1] == '\r') len--; /* CRLF */
        if (is_blank(s, len)) continue;
        if (memchr(s, 0, len)) rc = cli_error(2, "%s:%lld: holds a NUL byte", path, ln);
        else if (mmc_utf8_validate(s, len, &bad) != MMC_OK)
            rc = cli_error(2, "%s:%lld: not valid UTF-8 (byte %zu of the line)", path, ln, bad + 1);
        else if (t->n == TEXTS_MAX_COUNT)
            rc = cli_error(2, "%s:%lld: more than %d texts (the limit of one index)", path, ln, TEXTS_MAX_COUNT);
        if (rc) break;
        char *item = s;
        if (json) {
            int has_id = 0;
            if ((rc = json_item(path, ln, s, len, json == 2, &item, &has_id))) break;
            if (has_id && !with_id) with_id = ln;
            if (!has_id && !without_id) without_id = ln;
            if (with_id && without_id) {
                mmc_free(item);
                rc = cli_error(2, "%s:%lld: %s \"id\", but line %lld %s (give every line an id, or none)", path, ln,
                               has_id ? "has an" : "has no", has_id ? without_id : with_id, has_id ? "has none" : "has one");
                break;
            }
        } else {
            s[len] = 0; /* the line, cut in place (at its CR, LF, or the buffer's final NUL) */
        }
        if (add_item(t, item)) {
            if (json) mmc_free(item);
            rc = cli_error(3, "index build: out of memory");
        }
    }
    if (!rc && !t->n) rc = cli_error(2, "%s: no texts (the file is empty or blank)", path);
    t->with_ids = with_id != 0;
    if (!rc && !(t->texts = mmc_malloc(sizeof *t->texts * (size_t)t->n))) rc = cli_error(3, "index build: out of memory");
    for (int i = 0; !rc && i < t->n; i++) t->texts[i] = t->with_ids ? strchr(t->items[i], '\t') + 1 : t->items[i];
    if (rc) cli_texts_free(t);
    return rc;
}

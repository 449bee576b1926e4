/* embed_common.c — what embed, index, search and zeroshot share: strict number parsing,
 * JSON float arrays that round-trip, UTF-8 checks on arguments, progress and rate lines. */
#include "cli.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_int(const char *s, int lo, int hi, int *out) {
    if (!s || !*s || *s == '+' || (*s == '-' && lo >= 0)) return -1;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* %.9g: nine significant digits bring back the same float, so a consumer that parses the
 * JSON gets the exact embedding. Non-finite values are not JSON; the embedder never makes
 * them, but print null rather than break the document if one slips through. */
char *cli_json_floats(const float *x, int n) {
    size_t cap = (size_t)(n > 0 ? n : 1) * 18 + 3, len = 0;
    char *s = mmc_malloc(cap);
    if (!s) return NULL;
    s[len++] = '[';
    for (int i = 0; i < n; i++) {
        if (isfinite(x[i])) len += (size_t)snprintf(s + len, cap - len, i ? ", %.9g" : "%.9g", (double)x[i]);
        else len += (size_t)snprintf(s + len, cap - len, i ? ", null" : "null");
    }
    snprintf(s + len, cap - len, "]");
    return s;
}

double cli_norm(const float *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

int cli_check_utf8(const char *what, const char *s) {
    size_t bad = 0;
    if (mmc_utf8_validate(s, strlen(s), &bad) != MMC_OK)
        return cli_error(MMC_ERR_INPUT, "%s is not valid UTF-8 (byte %zu)", what, bad);
    return 0;
}

void cli_progress(cli_progress_state *p, const char *what, int64_t done, int64_t total) {
    double now = mmc_now(), dt = now - p->t0, rate = done / (dt > 1e-9 ? dt : 1e-9);
    if (p->tty) {
        fprintf(p->out, "\r  %s %8lld/%lld  %7.1f/s  ETA %4.0fs", what, (long long)done, (long long)total, rate,
                rate > 0 ? (double)(total - done) / rate : 0.0);
        if (done == total) fputc('\n', p->out);
    } else if (done == total || now - p->last >= 5.0) {
        fprintf(p->out, "  %s %lld/%lld (%.1f/s)\n", what, (long long)done, (long long)total, rate);
        p->last = now;
    }
    fflush(p->out);
}

void cli_report_rate(const char *verb, int64_t n, const char *what, double seconds, const char *note) {
    double dt = seconds > 1e-9 ? seconds : 1e-9;
    fflush(stdout); /* after the progress and summary lines, when both go to one place */
    fprintf(stderr, "%s %lld %s in %.1f s: %.1f %s/s%s%s%s\n", verb, (long long)n, what, seconds, (double)n / dt, what,
            note && *note ? " (" : "", note && *note ? note : "", note && *note ? ")" : "");
}

/* name ends in "." + one of ext (lowercase; the name in any case), and is not only that */
static int has_ext(const char *name, const char *const *ext) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (; *ext; ext++) {
        const char *x = *ext, *y = dot + 1;
        while (*x && *y && tolower((unsigned char)*y) == *x) x++, y++;
        if (!*x && !*y) return 1;
    }
    return 0;
}

int cli_is_video_name(const char *name) { return has_ext(name, (const char *const[]){"mp4", "mkv", "webm", "avi", "mov", "m4v", NULL}); }
int cli_is_image_name(const char *name) { return has_ext(name, (const char *const[]){"png", "jpg", "jpeg", "ppm", "pgm", "pnm", NULL}); }

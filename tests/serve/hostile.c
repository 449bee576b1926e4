/* hostile.c — hostile clients against a running `mmc serve` (tests/cli/serve_hostile.sh
 * starts the server, runs this, then stops the server and checks it exits cleanly).
 *
 *   serve_hostile PORT [--index NAME] [--server-timeout S]
 *
 * Each case sends one kind of bad request — malformed HTTP, oversized headers and bodies,
 * bad JSON, bad images, invalid UTF-8, path tricks, bad parameters — and must be answered
 * with the 4xx status it names, or, for the few where nothing else is sane, by the server
 * closing the connection (a byte stream that is not HTTP, an upload the server stops
 * reading). After every case GET /health on a fresh connection must answer 200 within 1 s:
 * the server is still up and its workers are free. Meanwhile a slow client sends one
 * header byte a second; the server must drop it (or answer it 4xx) within twice its
 * --timeout (S) plus 2 seconds, while the other cases are answered as usual. A few
 * well-formed requests (controls) must succeed, so that no case passes only because
 * everything fails.
 *
 * Prints one line per case: name, the status or "closed", ok or FAIL; exits 1 on any
 * failure, 2 on bad arguments. Links src/serve/http_client.c only.
 *
 *   serve_hostile --self-test
 *
 * turns it around: the HTTP client against a fake server's malformed, oversized, cut and
 * missing responses (each must end in the client error it names, never a crash or a hang). */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOST "127.0.0.1"
#define ANY_4XX (-1)
#define CLOSED 0 /* "status" of a connection closed without an answer */

static int g_port, g_failures;
static const char *g_index = "img";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* ------------------------------------------------------------------ reporting */

/* The server's answer to one case: a status, CLOSED, or -1 (no answer: the client gave up
 * or the server's response was malformed; why says what). */
typedef struct answer {
    int status;
    char why[200];
} answer;

/* GET /health on a new connection: 200 within 1 s? Returns 1 if so, else 0 with why. */
static int health_ok(char *why, size_t n, double *ms) {
    http_client c;
    http_response r = {0};
    http_client_init(&c, HOST, g_port, 1000);
    double t0 = now_s();
    int rc = http_request(&c, "GET", "/health", NULL, NULL, 0, &r);
    *ms = 1000 * (now_s() - t0);
    int ok = rc == HTTP_OK && r.status == 200 && *ms <= 1000 && strstr(r.body, "\"ok\"");
    if (!ok) {
        if (rc) snprintf(why, n, "GET /health: %s (%.150s)", http_strerror(rc), c.err);
        else snprintf(why, n, "GET /health: status %d after %.0f ms", r.status, *ms);
    }
    http_response_free(&r);
    http_client_close(&c);
    return ok;
}

/* Checks a case's answer (want: a status or ANY_4XX; may_close: CLOSED is right too) and
 * the server's health after it; prints the line. */
static void report(const char *name, answer a, int want, int may_close) {
    char got[32], why[600] = "";
    if (a.status == CLOSED) snprintf(got, sizeof got, "closed");
    else if (a.status < 0) snprintf(got, sizeof got, "no answer");
    else snprintf(got, sizeof got, "%d", a.status);
    int ok = a.status == CLOSED ? may_close
           : a.status > 0 ? (want == ANY_4XX ? a.status >= 400 && a.status < 500 : a.status == want) : 0;
    if (!ok) {
        if (a.status < 0) snprintf(why, sizeof why, "%s", a.why);
        else if (want == ANY_4XX) snprintf(why, sizeof why, "want a 4xx%s", may_close ? " or closed" : "");
        else snprintf(why, sizeof why, "want %d%s", want, may_close ? " or closed" : "");
    }
    double ms = 0;
    char hwhy[256] = "";
    int healthy = health_ok(hwhy, sizeof hwhy, &ms);
    if (!healthy) snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s", *why ? "; " : "", hwhy);
    printf("%-40s %-9s %-4s health %s %.1f ms%s%s\n", name, got, ok && healthy ? "ok" : "FAIL", healthy ? "200" : "-", ms,
           *why ? "  " : "", why);
    fflush(stdout);
    if (!ok || !healthy) g_failures++;
}

/* ------------------------------------------------------------------ ways of asking */

/* What one exchange sends: a head, then `pieces` copies of piece, then tail. */
typedef struct stream {
    const char *head, *piece, *tail;
    size_t head_n, piece_n, tail_n, pieces;
    size_t seg, at; /* the segment being sent (0 head, 1..pieces, pieces+1 tail) and bytes of it sent */
} stream;

/* The unsent rest of the current segment (*n bytes), or NULL when all is sent. */
static const char *stream_next(stream *s, size_t *n) {
    for (;;) {
        const char *p = s->seg == 0 ? s->head : s->seg <= s->pieces ? s->piece : s->seg == s->pieces + 1 ? s->tail : NULL;
        size_t len = s->seg == 0 ? s->head_n : s->seg <= s->pieces ? s->piece_n : s->tail_n;
        if (!p) return NULL;
        if (s->at < len) {
            *n = len - s->at;
            return p + s->at;
        }
        s->seg++;
        s->at = 0;
    }
}

/* Sends head, then a body of `pieces` blocks of 64 KiB (each framed as a chunk and ended
 * by the last chunk when chunked), watching for an answer all along: a server that refuses
 * an upload answers, or closes, before it has read it all, and then the rest is not sent.
 * Then reads the answer, waiting up to wait_s. */
static answer exchange(const char *head, size_t head_n, size_t pieces, int chunked, double wait_s) {
    enum { PIECE = 65536 };
    static char plain[PIECE], framed[PIECE + 16];
    static size_t framed_n;
    if (!framed_n) {
        memset(plain, 'x', PIECE);
        framed_n = (size_t)sprintf(framed, "%x\r\n", PIECE);
        memset(framed + framed_n, 'x', PIECE);
        framed_n += PIECE;
        memcpy(framed + framed_n, "\r\n", 2);
        framed_n += 2;
    }
    stream s = {head, chunked ? framed : plain, chunked ? "0\r\n\r\n" : "", head_n, chunked ? framed_n : PIECE,
                chunked ? 5 : 0, pieces, 0, 0};
    answer a = {-1, ""};
    http_client c;
    http_response r = {0};
    http_client_init(&c, HOST, g_port, (int)(wait_s * 1000));
    if (http_client_connect(&c)) {
        snprintf(a.why, sizeof a.why, "%s", c.err);
        return a;
    }
    double give_up = now_s() + wait_s + 30; /* 100 MB over loopback takes far less */
    const char *p;
    size_t n;
    while ((p = stream_next(&s, &n))) {
        struct pollfd pf = {c.fd, POLLIN | POLLOUT, 0};
        double left = give_up - now_s();
        if (left <= 0) {
            snprintf(a.why, sizeof a.why, "the server neither read the request nor answered");
            http_client_close(&c);
            return a;
        }
        int k = poll(&pf, 1, (int)(left * 1000) + 1);
        if (k < 0 && errno != EINTR) break;
        if (k <= 0) continue;
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) break; /* an early answer, or the server gave up on us */
        ssize_t sent = send(c.fd, p, n, MSG_NOSIGNAL);
        if (sent < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (sent < 0) break; /* closed: what the server said before, if anything, is read below */
        s.at += (size_t)sent;
    }
    int rc = http_read_response(&c, 0, &r);
    if (rc == HTTP_OK) a.status = r.status;
    else if (rc == HTTP_ERR_CLOSED) a.status = CLOSED;
    else snprintf(a.why, sizeof a.why, "%s (%.150s)", http_strerror(rc), c.err);
    http_response_free(&r);
    http_client_close(&c);
    return a;
}

static answer raw(const char *bytes) { return exchange(bytes, strlen(bytes), 0, 0, 5); }

/* A well-formed request through the client (the path sent exactly as given). */
static answer request(const char *method, const char *path, const char *body, size_t n) {
    answer a = {-1, ""};
    http_client c;
    http_response r = {0};
    http_client_init(&c, HOST, g_port, 10000);
    int rc = http_request(&c, method, path, body ? "Content-Type: application/json\r\n" : NULL, body, n, &r);
    if (rc == HTTP_OK) a.status = r.status;
    else if (rc == HTTP_ERR_CLOSED) a.status = CLOSED;
    else snprintf(a.why, sizeof a.why, "%s (%.150s)", http_strerror(rc), c.err);
    http_response_free(&r);
    http_client_close(&c);
    return a;
}

static answer search(const char *json) { return request("POST", "/v1/search", json, strlen(json)); }

/* ------------------------------------------------------------------ bytes to send */

static uint32_t crc32_bytes(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

static size_t put32(uint8_t *o, uint32_t v) {
    o[0] = (uint8_t)(v >> 24), o[1] = (uint8_t)(v >> 16), o[2] = (uint8_t)(v >> 8), o[3] = (uint8_t)v;
    return 4;
}

static size_t png_chunk(uint8_t *o, const char *type, const uint8_t *data, uint32_t n) {
    size_t at = put32(o, n);
    memcpy(o + at, type, 4);
    if (n) memcpy(o + at + 4, data, n);
    at += 4 + n;
    return at + put32(o + at, crc32_bytes(0, o + 4, 4 + n));
}

/* A PNG of w x h RGB pixels (at most 8 x 8) whose IHDR says claim_w x claim_h; its pixel
 * data is one uncompressed deflate block (so no zlib is needed to make it). Returns its
 * length (under 300 bytes). */
static size_t make_png(uint8_t *o, uint32_t w, uint32_t h, uint32_t claim_w, uint32_t claim_h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0}, z[512];
    put32(ihdr, claim_w);
    put32(ihdr + 4, claim_h);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    size_t raw_n = (size_t)h * (1 + 3 * w), at = 0;
    uint8_t rawd[400];
    for (uint32_t y = 0; y < h; y++) {
        rawd[y * (1 + 3 * w)] = 0; /* filter: none */
        for (uint32_t x = 0; x < 3 * w; x++) rawd[y * (1 + 3 * w) + 1 + x] = (uint8_t)(40 * y + 7 * x);
    }
    z[at++] = 0x78, z[at++] = 0x01;           /* zlib header */
    z[at++] = 0x01;                           /* final block, stored */
    z[at++] = (uint8_t)raw_n, z[at++] = (uint8_t)(raw_n >> 8);
    z[at++] = (uint8_t)~raw_n, z[at++] = (uint8_t)(~raw_n >> 8);
    memcpy(z + at, rawd, raw_n);
    at += raw_n;
    uint32_t a = 1, b = 0; /* adler32 */
    for (size_t i = 0; i < raw_n; i++) a = (a + rawd[i]) % 65521, b = (b + a) % 65521;
    at += put32(z + at, b << 16 | a);
    size_t n = 0;
    memcpy(o, sig, 8);
    n = 8;
    n += png_chunk(o + n, "IHDR", ihdr, 13);
    n += png_chunk(o + n, "IDAT", z, (uint32_t)at);
    n += png_chunk(o + n, "IEND", NULL, 0);
    return n;
}

static char *base64(const uint8_t *p, size_t n) {
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *w++ = al[v >> 18 & 63];
        *w++ = al[v >> 12 & 63];
        *w++ = i + 1 < n ? al[v >> 6 & 63] : '=';
        *w++ = i + 2 < n ? al[v & 63] : '=';
    }
    *w = 0;
    return o;
}

/* {"image": "<base64 of bytes>"} as a search body; free it. */
static char *image_body(const uint8_t *bytes, size_t n) {
    char *b = base64(bytes, n), *o = b ? malloc(strlen(b) + 32) : NULL;
    if (o) sprintf(o, "{\"image\": \"%s\", \"k\": 3}", b);
    free(b);
    return o;
}

/* `count` copies of s (a string of `each` bytes) between head and tail; free it. */
static char *repeat(const char *head, const char *s, size_t count, const char *tail) {
    size_t hn = strlen(head), sn = strlen(s), tn = strlen(tail);
    char *o = malloc(hn + sn * count + tn + 1);
    if (!o) return NULL;
    memcpy(o, head, hn);
    for (size_t i = 0; i < count; i++) memcpy(o + hn + i * sn, s, sn);
    memcpy(o + hn + sn * count, tail, tn + 1);
    return o;
}

/* ------------------------------------------------------------------ the slow client */

typedef struct slow_client {
    pthread_t thread;
    double t0, t_end;   /* started; when the server closed it or answered */
    int status;         /* -1 while open; CLOSED; or the status of an answer */
    atomic_int stop;    /* set by the main thread when it stops waiting */
    pthread_mutex_t mu;
} slow_client;

/* One byte of a never-ending header a second, until the server answers or closes. */
static void *slow_main(void *arg) {
    slow_client *s = arg;
    static const char head[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    http_client c;
    http_response r = {0};
    http_client_init(&c, HOST, g_port, 2000);
    int status = -1;
    if (http_client_connect(&c)) status = -2;
    for (size_t i = 0; status == -1 && !atomic_load(&s->stop); i++) {
        char ch = i < sizeof head - 1 ? head[i] : 'a';
        if (send(c.fd, &ch, 1, MSG_NOSIGNAL) != 1) {
            status = CLOSED;
            break;
        }
        struct pollfd p = {c.fd, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) { /* the server said something, or closed */
            int rc = http_read_response(&c, 0, &r);
            status = rc == HTTP_OK ? r.status : CLOSED;
        }
    }
    pthread_mutex_lock(&s->mu);
    s->status = status;
    s->t_end = now_s();
    pthread_mutex_unlock(&s->mu);
    http_response_free(&r);
    http_client_close(&c);
    return NULL;
}

/* ------------------------------------------------------------------ the cases */

/* Malformed HTTP, and requests too large to read. */
static void http_cases(int server_timeout) {
    /* not HTTP at all: closing is the only sane answer (a 400 is fine too) */
    report("garbage request line", raw("garbage\r\n\r\n"), ANY_4XX, 1);
    static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"; /* a TLS hello's start */
    report("binary junk (TLS hello)", exchange(tls, sizeof tls - 1, 0, 0, 5), ANY_4XX, 1);
    report("bad version HTTP/x.y", raw("GET /health HTTP/x.y\r\nHost: a\r\n\r\n"), ANY_4XX, 1);
    /* a well-formed version the server does not speak: 505 is the right answer (RFC 9110 15.6.6) */
    report("bad version HTTP/9.9 (505)", raw("GET /health HTTP/9.9\r\nHost: a\r\n\r\n"), 505, 1);
    report("header line without colon", raw("GET /health HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n"), ANY_4XX, 1);
    report("negative Content-Length",
           raw("POST /v1/search HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n{}"), ANY_4XX, 1);
    report("huge Content-Length",
           raw("POST /v1/search HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n{}"),
           ANY_4XX, 1);
    report("two different Content-Lengths",
           raw("POST /v1/search HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{\"a\":1}"),
           ANY_4XX, 1);
    report("bad chunk size",
           raw("POST /v1/search HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
           ANY_4XX, 1);
    report("chunk longer than its size",
           raw("POST /v1/search HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"text\":\"x\"}\r\n0\r\n\r\n"),
           ANY_4XX, 1);
    report("unknown method", raw("BREW /v1/search HTTP/1.1\r\nHost: a\r\n\r\n"), ANY_4XX, 1);
    report("GET on a POST endpoint", request("GET", "/v1/search", NULL, 0), 405, 0);
    report("unknown endpoint", request("GET", "/v1/nothing", NULL, 0), 404, 0);

    /* too large: the server answers before reading it all, or closes */
    char *big = repeat("GET /health HTTP/1.1\r\nHost: a\r\nX-Big: ", "a", 1 << 20, "\r\n\r\n");
    if (big) report("1 MB header", exchange(big, strlen(big), 0, 0, 5), ANY_4XX, 1);
    free(big);
    big = repeat("GET /", "a", 1 << 20, " HTTP/1.1\r\nHost: a\r\n\r\n");
    if (big) report("1 MB URL", exchange(big, strlen(big), 0, 0, 5), ANY_4XX, 1);
    free(big);
    const char *cl = "POST /v1/search HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n";
    report("100 MB body with Content-Length", exchange(cl, strlen(cl), 1600, 0, 10), 413, 1);
    /* no length up front: the server can only stop reading at its limit and close */
    const char *ch = "POST /v1/search HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    report("100 MB body, chunked", exchange(ch, strlen(ch), 1600, 1, 10), 413, 1);
    /* a body that never comes: dropped at the idle timeout (a 408 would do too) */
    const char *sh = "POST /v1/search HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"text\": ";
    report("body shorter than Content-Length", exchange(sh, strlen(sh), 0, 0, server_timeout + 5), 408, 1);
}

/* Bodies that are HTTP-correct and wrong inside. */
static void body_cases(void) {
    report("control: text search", search("{\"text\": \"a large red circle\", \"k\": 3}"), 200, 0);
    report("bad JSON", search("{\"text\": \"a red"), 400, 0);
    report("JSON that is not an object", search("[\"a large red circle\"]"), 400, 0);
    report("JSON string", search("\"text\""), 400, 0);
    report("empty body", request("POST", "/v1/search", "", 0), 400, 0);
    /* a NUL would cut the text short where C reads it: refused, raw or escaped */
    report("NUL inside the body", request("POST", "/v1/search", "{\"text\": \"a\0b\"}", 15), 400, 0);
    report("NUL escaped as \\u0000", search("{\"text\": \"a\\u0000b\"}"), 400, 0);
    char *deep = repeat("", "[", 100000, "");
    if (deep) report("100000 nested [", search(deep), 400, 0);
    free(deep);
    deep = repeat("", "{\"a\":", 100000, "");
    if (deep) report("100000 nested {", search(deep), 400, 0);
    free(deep);
    report("text is a number", search("{\"text\": 5}"), 400, 0);
    report("text and image both", search("{\"text\": \"a\", \"image\": \"AAAA\"}"), 400, 0);
    report("no query", search("{\"k\": 3}"), 400, 0);

    /* text that is not UTF-8, raw or escaped */
    report("invalid UTF-8 (raw 0xff)", search("{\"text\": \"a \xff\xfe red\"}"), 400, 0);
    report("invalid UTF-8 (overlong /)", search("{\"text\": \"a \xc0\xaf red\"}"), 400, 0);
    report("invalid UTF-8 (raw surrogate)", search("{\"text\": \"a \xed\xa0\x80 red\"}"), 400, 0);
    report("invalid UTF-8 (truncated)", search("{\"text\": \"a \xe4\xb8\"}"), 400, 0);
    report("lone surrogate escape \\udc00", search("{\"text\": \"a \\udc00 red\"}"), 400, 0);

    /* images */
    uint8_t png[1024];
    size_t n = make_png(png, 8, 8, 8, 8);
    char *b = image_body(png, n);
    if (b) report("control: PNG search", search(b), 200, 0);
    free(b);
    char url[128];
    b = base64(png, n);
    if (b) {
        snprintf(url, sizeof url, "{\"image\": \"data:image/png;base64,%.60s\"}", b); /* cut mid-image */
        report("data URL of a cut PNG", search(url), 400, 0);
    }
    free(b);
    b = image_body(png, n / 2);
    if (b) report("truncated PNG", search(b), 400, 0);
    free(b);
    n = make_png(png, 8, 8, 100000, 100000);
    b = image_body(png, n);
    if (b) report("PNG claiming 100000x100000", search(b), 400, 0);
    free(b);
    n = make_png(png, 8, 8, 0, 8);
    b = image_body(png, n);
    if (b) report("PNG claiming 0x8", search(b), 400, 0);
    free(b);
    static const uint8_t text_bytes[] = "this is plain text, not an image at all";
    b = image_body(text_bytes, sizeof text_bytes - 1);
    if (b) report("base64 of non-image bytes", search(b), 400, 0);
    free(b);
    report("bad base64 (alphabet)", search("{\"image\": \"@@@@####\"}"), 400, 0);
    report("bad base64 (length)", search("{\"image\": \"QUJDR\"}"), 400, 0);
    report("bad base64 (padding inside)", search("{\"image\": \"QQ==QUJD\"}"), 400, 0);
    report("data URL without base64", search("{\"image\": \"data:image/png,abc\"}"), 400, 0);
    report("image is an object", search("{\"image\": {\"x\": 1}}"), 400, 0);
}

/* Index names, result counts and file paths. */
static void parameter_cases(void) {
    char body[256], path[256];
    snprintf(body, sizeof body, "{\"text\": \"a red circle\", \"index\": \"%s-missing\"}", g_index);
    report("unknown index name", search(body), 404, 0);
    report("index name with ../", search("{\"text\": \"a\", \"index\": \"../../etc/passwd\"}"), 404, 0);
    report("index is a number", search("{\"text\": \"a\", \"index\": 3}"), 400, 0);
    static const char *const ks[] = {"0", "-1", "1e9", "\"10\"", "1.5", "1e999", "true", "[3]"};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        char name[64];
        snprintf(body, sizeof body, "{\"text\": \"a red circle\", \"k\": %s}", ks[i]);
        snprintf(name, sizeof name, "k = %s", ks[i]);
        report(name, search(body), 400, 0);
    }
    snprintf(path, sizeof path, "/v1/files/%s/0", g_index);
    report("control: GET an indexed file", request("GET", path, NULL, 0), 200, 0);
    static const char *const paths[] = {
        "/v1/files/%s/..%%2F..%%2Fetc%%2Fpasswd",
        "/v1/files/%s/..%%2f..%%2f..%%2f..%%2fetc%%2fpasswd",
        "/v1/files/%s/%%2e%%2e/%%2e%%2e/etc/passwd",
        "/v1/files/../../etc/passwd",
        "/v1/files/%s/../../../etc/passwd",
        "/v1/files/..%%2F..%%2Fetc/passwd",
        "/v1/files/%s/%%2Fetc%%2Fpasswd",
        "/v1/files/%s/0%%00/../../etc/passwd", /* a NUL must not end the path at row 0 */
        "/v1/files/%s/0%%00",
        "/v1/files/%s/-1",
        "/v1/files/%s/99999999999999999999",
        "/v1/files/%s/1e3",
        "/v1/files/%s/",
        "/v1/files/%s",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        snprintf(path, sizeof path, paths[i], g_index);
        char name[128];
        snprintf(name, sizeof name, "GET %.100s", path);
        report(name, request("GET", path, NULL, 0), 404, 0);
    }
}

/* ------------------------------------------------------------------ the client itself */

/* --self-test: the HTTP client against a fake server's responses, well-formed and not. The
 * fake server answers request /N with CANNED[N] and closes the connection (or, for the
 * silent one, says nothing until the client gives up). */
typedef struct canned {
    const char *name, *bytes; /* NULL bytes: never answer (the connection stays open) */
    int want_rc, want_status;
    const char *want_body;
    size_t max_body;          /* the client's limit for this case (0: default) */
} canned;

static char g_big_head[100 * 1024];
static const canned CANNED[] = {
    {"Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", HTTP_OK, 200, "hello", 0},
    {"chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n",
     HTTP_OK, 200, "hello world", 0},
    {"body until close (HTTP/1.0)", "HTTP/1.0 404 Not Found\r\n\r\nnot here", HTTP_OK, 404, "not here", 0},
    {"100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", HTTP_OK, 201, "ok", 0},
    {"headers over 64 KiB", g_big_head, HTTP_ERR_TOO_BIG, 0, NULL, 0},
    {"body over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nxxxx", HTTP_ERR_TOO_BIG, 0, NULL, 1000},
    {"chunks over the limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n", HTTP_ERR_TOO_BIG, 0, NULL, 1000},
    {"chunk size of 18 hex digits", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
     HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"chunk without CRLF after it", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
     HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"bad status line", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"two Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"header without a name", "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n", HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"unknown transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab", HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"gzip before chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
     HTTP_ERR_PROTOCOL, 0, NULL, 0},
    {"body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", HTTP_ERR_CLOSED, 0, NULL, 0},
    {"headers cut short", "HTTP/1.1 200 OK\r\nContent-Le", HTTP_ERR_CLOSED, 0, NULL, 0},
    {"bare LF lines", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", HTTP_ERR_CLOSED, 0, NULL, 0},
    {"silent server", NULL, HTTP_ERR_TIMEOUT, 0, NULL, 0},
};
#define N_CANNED (int)(sizeof CANNED / sizeof *CANNED)

typedef struct fake_server {
    int fd, port;
} fake_server; /* answers /keep with a kept-alive 200, then closes anyway (an idle timeout) */

static void *fake_main(void *arg) {
    fake_server *f = arg;
    int held = -1; /* the silent case's connection, kept open (and mute) until the next one */
    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (held >= 0) close(held);
        held = -1;
        if (c < 0) return NULL; /* the listening socket was shut down: done */
        char req[4096];
        size_t n = 0;
        while (n < sizeof req - 1 && (n < 4 || memcmp(req + n - 4, "\r\n\r\n", 4))) {
            ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
            if (k <= 0) break;
            n += (size_t)k;
        }
        req[n] = 0;
        int i = -1;
        if (!strncmp(req, "GET /keep ", 10)) {
            const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
            usleep(50 * 1000);
        } else if (sscanf(req, "GET /%d ", &i) == 1 && i >= 0 && i < N_CANNED) {
            if (!CANNED[i].bytes) {
                held = c;
                continue;
            }
            send(c, CANNED[i].bytes, strlen(CANNED[i].bytes), MSG_NOSIGNAL);
        }
        close(c);
    }
}

static int self_test(void) {
    memcpy(g_big_head, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
    memset(g_big_head + 24, 'a', sizeof g_big_head - 24 - 1);
    fake_server f = {socket(AF_INET, SOCK_STREAM, 0), 0};
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_t th;
    if (f.fd < 0 || bind(f.fd, (struct sockaddr *)&a, sizeof a) || listen(f.fd, 16) ||
        getsockname(f.fd, (struct sockaddr *)&a, &al) || pthread_create(&th, NULL, fake_main, &f)) {
        printf("self-test: cannot start the fake server: %s\n", strerror(errno));
        return 1;
    }
    f.port = ntohs(a.sin_port);
    int failures = 0;
    http_response r = {0};
    for (int i = 0; i < N_CANNED; i++) {
        const canned *k = &CANNED[i];
        http_client c;
        http_client_init(&c, HOST, f.port, 500);
        if (k->max_body) c.max_body = k->max_body;
        char path[16];
        snprintf(path, sizeof path, "/%d", i);
        int rc = http_request(&c, "GET", path, NULL, NULL, 0, &r);
        int ok = rc == k->want_rc && (rc != HTTP_OK || (r.status == k->want_status && !strcmp(r.body, k->want_body)));
        printf("client: %-34s %-20s %s%s%s\n", k->name, rc == HTTP_OK ? "ok" : http_strerror(rc), ok ? "ok" : "FAIL",
               rc ? "  " : "", rc ? c.err : "");
        failures += !ok;
        http_client_close(&c);
    }
    /* a kept-alive connection the server closes while idle: the next request goes out again
     * on a new one */
    http_client c;
    http_client_init(&c, HOST, f.port, 500);
    int rc1 = http_request(&c, "GET", "/keep", NULL, NULL, 0, &r), alive = c.fd >= 0;
    usleep(100 * 1000);
    int rc2 = http_request(&c, "GET", "/0", NULL, NULL, 0, &r);
    int ok = rc1 == HTTP_OK && alive && rc2 == HTTP_OK && r.status == 200 && !strcmp(r.body, "hello");
    printf("client: %-34s %-20s %s%s%s\n", "reconnect after an idle close", http_strerror(rc1 ? rc1 : rc2), ok ? "ok" : "FAIL",
           ok ? "" : "  ", ok ? "" : c.err);
    failures += !ok;
    http_client_close(&c);
    http_response_free(&r);
    shutdown(f.fd, SHUT_RDWR); /* wakes the accept */
    pthread_join(th, NULL);
    close(f.fd);
    printf("client self-test: %s (%d failure%s)\n", failures ? "FAIL" : "ok", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--self-test")) {
        signal(SIGPIPE, SIG_IGN);
        return self_test();
    }
    int server_timeout = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--index") && i + 1 < argc) g_index = argv[++i];
        else if (!strcmp(argv[i], "--server-timeout") && i + 1 < argc) server_timeout = atoi(argv[++i]);
        else if (!g_port && atoi(argv[i]) > 0) g_port = atoi(argv[i]);
        else g_port = -1;
    }
    if (g_port <= 0 || g_port > 65535 || server_timeout < 1 || server_timeout > 60) {
        fprintf(stderr, "usage: serve_hostile PORT [--index NAME] [--server-timeout S]\n"
                        "       serve_hostile --self-test   (the HTTP client against a fake server)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    double ms;
    char why[256];
    if (!health_ok(why, sizeof why, &ms)) {
        printf("the server is not answering before the first case: %s\n", why);
        return 1;
    }

    slow_client slow = {.status = -1};
    pthread_mutex_init(&slow.mu, NULL);
    slow.t0 = now_s();
    int have_slow = pthread_create(&slow.thread, NULL, slow_main, &slow) == 0;
    if (!have_slow) printf("slow client: could not start a thread\n"), g_failures++;

    http_cases(server_timeout);
    body_cases();
    parameter_cases();

    /* the slow client: dropped (or answered 4xx) by now, or soon — a header deadline of
     * about --timeout, with slack for a loaded machine */
    if (have_slow) {
        double limit = slow.t0 + 2 * server_timeout + 2;
        int status;
        for (;;) {
            pthread_mutex_lock(&slow.mu);
            status = slow.status;
            pthread_mutex_unlock(&slow.mu);
            if (status != -1 || now_s() > limit) break;
            usleep(100 * 1000);
        }
        atomic_store(&slow.stop, 1);
        pthread_join(slow.thread, NULL);
        answer a = {status == -1 ? -1 : status, ""};
        if (status == -1)
            snprintf(a.why, sizeof a.why, "still open after %.0f s: a client sending a header byte a second is never dropped",
                     now_s() - slow.t0);
        else if (status == -2)
            snprintf(a.why, sizeof a.why, "could not connect");
        char name[64];
        if (status == -1) snprintf(name, sizeof name, "slow client (1 header byte/s)");
        else snprintf(name, sizeof name, "slow client (dropped after %.0f s)", slow.t_end - slow.t0);
        report(name, a, ANY_4XX, 1);
    }
    pthread_mutex_destroy(&slow.mu);
    printf("%s: %d failure%s\n", g_failures ? "FAIL" : "ok", g_failures, g_failures == 1 ? "" : "s");
    return g_failures ? 1 : 0;
}

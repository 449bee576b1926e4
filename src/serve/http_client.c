/* http_client.c — the small blocking HTTP/1.1 client of http_client.h.
 *
 * The socket is non-blocking and every wait is a poll() bounded by the deadline of the
 * exchange in progress, so a server that stops talking costs at most timeout_ms, whatever
 * it stopped in the middle of. Received bytes go through one buffer in the client (c->in),
 * from which the head, chunk lines and body are taken; nothing the server sends can make
 * a buffer grow past HTTP_MAX_HEAD (head, trailers) or c->max_body (body). */
#include "http_client.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HTTP_MAX_LINE 256 /* a chunk-size line (with extensions) or one trailer line */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* How many bytes of p (at most max) to quote in a message: up to the first control byte,
 * so that what a server sent cannot break the message's line. */
static int quotable(const char *p, size_t max) {
    size_t n = 0;
    while (n < max && p[n] && (unsigned char)p[n] >= 0x20 && p[n] != 0x7f) n++;
    return (int)n;
}

static int fail(http_client *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(http_client *c, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return rc;
}

const char *http_strerror(int rc) {
    switch (rc) {
    case HTTP_OK: return "ok";
    case HTTP_ERR_CONNECT: return "cannot connect";
    case HTTP_ERR_IO: return "i/o error";
    case HTTP_ERR_TIMEOUT: return "timed out";
    case HTTP_ERR_CLOSED: return "closed";
    case HTTP_ERR_PROTOCOL: return "malformed response";
    case HTTP_ERR_TOO_BIG: return "response too large";
    case HTTP_ERR_NOMEM: return "out of memory";
    default: return "unknown error";
    }
}

void http_client_init(http_client *c, const char *host, int port, int timeout_ms) {
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    c->max_body = HTTP_DEFAULT_MAX_BODY;
    c->fd = -1;
}

void http_client_close(http_client *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->answered = 0;
    c->off = c->len = 0;
}

static void start_deadline(http_client *c) { c->deadline = now_s() + c->timeout_ms / 1000.0; }

/* Waits until the socket is ready for events: 1 ready (or in error: the next call says
 * which), 0 the deadline passed, -1 poll failed. */
static int wait_fd(http_client *c, short events) {
    for (;;) {
        double left = c->deadline - now_s();
        if (left <= 0) return 0;
        struct pollfd p = {c->fd, events, 0};
        int n = poll(&p, 1, (int)(left * 1000) + 1);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

int http_client_connect(http_client *c) {
    http_client_close(c);
    start_deadline(c);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    int g = getaddrinfo(c->host, port, &hints, &res);
    if (g) return fail(c, HTTP_ERR_CONNECT, "cannot resolve %s: %s", c->host, gai_strerror(g));
    int rc = HTTP_ERR_CONNECT;
    snprintf(c->err, sizeof c->err, "no address for %.150s", c->host);
    for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = fail(c, HTTP_ERR_CONNECT, "socket: %s", strerror(errno));
            continue;
        }
        c->fd = fd;
        int e = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno, w = 1;
        if (e == EINPROGRESS) { /* loopback usually connects at once; otherwise wait for it */
            socklen_t sl = sizeof e;
            w = wait_fd(c, POLLOUT);
            if (w != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0) e = w == 0 ? ETIMEDOUT : errno;
        }
        if (e) {
            rc = fail(c, e == ETIMEDOUT ? HTTP_ERR_TIMEOUT : HTTP_ERR_CONNECT, "cannot connect to %s port %d: %s", c->host,
                      c->port, strerror(e));
            close(fd);
            c->fd = -1;
        }
    }
    freeaddrinfo(res);
    if (c->fd < 0) return rc;
    /* a request goes out in one piece; without this, Nagle and delayed ACKs can hold the
     * second segment of a large one back for 40 ms */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return HTTP_OK;
}

/* ------------------------------------------------------------------ sending */

/* Sends every byte of iov[0..n) (n <= 4) before the deadline. */
static int send_iov(http_client *c, const struct iovec *in, int n) {
    struct iovec iov[4];
    memcpy(iov, in, sizeof *in * (size_t)n);
    int i = 0;
    while (i < n) {
        if (iov[i].iov_len == 0) {
            i++;
            continue;
        }
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = iov + i;
        m.msg_iovlen = (size_t)(n - i);
        ssize_t k = sendmsg(c->fd, &m, MSG_NOSIGNAL); /* a closed peer is an error, not SIGPIPE */
        if (k < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int w = wait_fd(c, POLLOUT);
                if (w == 0) return fail(c, HTTP_ERR_TIMEOUT, "timed out sending the request");
                if (w < 0) return fail(c, HTTP_ERR_IO, "poll: %s", strerror(errno));
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET)
                return fail(c, HTTP_ERR_CLOSED, "the server closed the connection (%s)", strerror(errno));
            return fail(c, HTTP_ERR_IO, "send: %s", strerror(errno));
        }
        for (size_t left = (size_t)k; left > 0 && i < n;) { /* past what went out */
            size_t t = left < iov[i].iov_len ? left : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + t;
            iov[i].iov_len -= t;
            left -= t;
            if (iov[i].iov_len == 0) i++;
        }
    }
    return HTTP_OK;
}

int http_send(http_client *c, const void *buf, size_t n) {
    int rc = c->fd < 0 ? http_client_connect(c) : HTTP_OK;
    if (rc) return rc;
    start_deadline(c);
    struct iovec v = {(void *)buf, n};
    if ((rc = send_iov(c, &v, 1))) http_client_close(c);
    return rc;
}

/* ------------------------------------------------------------------ receiving */

/* Receives more bytes into c->in (room is made by moving what is unconsumed to the front).
 * HTTP_ERR_CLOSED at the end of the stream. */
static int fill(http_client *c) {
    if (c->off > 0) {
        memmove(c->in, c->in + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len == sizeof c->in) return fail(c, HTTP_ERR_PROTOCOL, "receive buffer full"); /* callers consume first */
    for (;;) {
        ssize_t k = recv(c->fd, c->in + c->len, sizeof c->in - c->len, 0);
        if (k > 0) {
            c->len += (size_t)k;
            c->got += (size_t)k;
            return HTTP_OK;
        }
        if (k == 0) return fail(c, HTTP_ERR_CLOSED, "the server closed the connection");
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(c, POLLIN);
            if (w == 0) return fail(c, HTTP_ERR_TIMEOUT, "timed out waiting for the response");
            if (w < 0) return fail(c, HTTP_ERR_IO, "poll: %s", strerror(errno));
            continue;
        }
        if (errno == ECONNRESET) return fail(c, HTTP_ERR_CLOSED, "the server reset the connection");
        return fail(c, HTTP_ERR_IO, "recv: %s", strerror(errno));
    }
}

/* Makes room for need more bytes (+ a NUL) in *buf, growing it to at most limit + 1. */
static int reserve(http_client *c, char **buf, size_t *cap, size_t used, size_t need, size_t limit) {
    if (need > limit - used) return fail(c, HTTP_ERR_TOO_BIG, "more than %zu bytes", limit);
    if (used + need + 1 <= *cap) return HTTP_OK;
    size_t n = *cap ? *cap : 256;
    while (n < used + need + 1) n = n > limit / 2 ? limit + 1 : n * 2;
    char *p = realloc(*buf, n);
    if (!p) return fail(c, HTTP_ERR_NOMEM, "out of memory for %zu bytes", n);
    *buf = p;
    *cap = n;
    return HTTP_OK;
}

/* The status line and headers, up to the blank line, into r->head (without the final
 * CRLF CRLF). Lines must end in CRLF. */
static int read_head(http_client *c, http_response *r) {
    r->head_len = 0;
    for (;;) {
        while (c->off < c->len) {
            int rc = reserve(c, &r->head, &r->head_cap, r->head_len, 1, HTTP_MAX_HEAD);
            if (rc) return fail(c, rc, "the response headers are over %d bytes", HTTP_MAX_HEAD);
            char ch = c->in[c->off++];
            r->head[r->head_len++] = ch;
            if (ch == '\n' && r->head_len >= 4 && !memcmp(r->head + r->head_len - 4, "\r\n\r\n", 4)) {
                r->head_len -= 4;
                r->head[r->head_len] = 0;
                return HTTP_OK;
            }
        }
        int rc = fill(c);
        if (rc) return rc;
    }
}

/* One line (CRLF-ended, at most HTTP_MAX_LINE bytes) into buf, without the CRLF. */
static int read_line(http_client *c, char *buf, size_t *n) {
    *n = 0;
    for (;;) {
        while (c->off < c->len) {
            char ch = c->in[c->off++];
            if (ch == '\n') {
                if (*n == 0 || buf[*n - 1] != '\r') return fail(c, HTTP_ERR_PROTOCOL, "a chunk line not ended by CRLF");
                buf[--*n] = 0;
                return HTTP_OK;
            }
            if (*n + 1 >= HTTP_MAX_LINE) return fail(c, HTTP_ERR_PROTOCOL, "a chunk line over %d bytes", HTTP_MAX_LINE);
            buf[(*n)++] = ch;
        }
        int rc = fill(c);
        if (rc) return rc;
    }
}

static int body_append(http_client *c, http_response *r, const char *p, size_t n) {
    int rc = reserve(c, &r->body, &r->body_cap, r->body_len, n, c->max_body);
    if (rc) return fail(c, rc, "the response body is over %zu bytes", c->max_body);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return HTTP_OK;
}

/* Exactly n body bytes. */
static int read_exact(http_client *c, http_response *r, size_t n) {
    while (n > 0) {
        if (c->off == c->len) {
            int rc = fill(c);
            if (rc) return rc;
        }
        size_t k = c->len - c->off < n ? c->len - c->off : n;
        int rc = body_append(c, r, c->in + c->off, k);
        if (rc) return rc;
        c->off += k;
        n -= k;
    }
    return HTTP_OK;
}

/* Transfer-Encoding: chunked — hex size lines (extensions ignored), data, CRLF; a zero
 * size, then trailer lines up to a blank one. */
static int read_chunked(http_client *c, http_response *r) {
    char line[HTTP_MAX_LINE];
    size_t n;
    for (;;) {
        int rc = read_line(c, line, &n);
        if (rc) return rc;
        size_t size = 0, i = 0;
        for (; i < n && isxdigit((unsigned char)line[i]); i++) {
            if (i >= 15) return fail(c, HTTP_ERR_PROTOCOL, "a chunk size of more than 15 hex digits");
            size = size * 16 + (size_t)(isdigit((unsigned char)line[i]) ? line[i] - '0' : (tolower((unsigned char)line[i]) - 'a' + 10));
        }
        size_t j = i;
        while (j < n && (line[j] == ' ' || line[j] == '\t')) j++;
        if (i == 0 || (j < n && line[j] != ';'))
            return fail(c, HTTP_ERR_PROTOCOL, "a bad chunk size line \"%.*s\"", quotable(line, 40), line);
        if (size == 0) break;
        if (size > c->max_body - r->body_len) return fail(c, HTTP_ERR_TOO_BIG, "the response body is over %zu bytes", c->max_body);
        if ((rc = read_exact(c, r, size)) || (rc = read_line(c, line, &n))) return rc;
        if (n != 0) return fail(c, HTTP_ERR_PROTOCOL, "chunk data not followed by CRLF");
    }
    for (size_t total = 0;;) { /* trailers: read and dropped */
        int rc = read_line(c, line, &n);
        if (rc) return rc;
        if (n == 0) return HTTP_OK;
        if ((total += n) > HTTP_MAX_HEAD) return fail(c, HTTP_ERR_TOO_BIG, "trailers over %d bytes", HTTP_MAX_HEAD);
    }
}

/* A body delimited by the end of the connection. */
static int read_until_close(http_client *c, http_response *r) {
    for (;;) {
        if (c->off < c->len) {
            int rc = body_append(c, r, c->in + c->off, c->len - c->off);
            if (rc) return rc;
            c->off = c->len;
        }
        int rc = fill(c);
        if (rc == HTTP_ERR_CLOSED) return HTTP_OK;
        if (rc) return rc;
    }
}

static int name_is(const char *p, size_t n, const char *name) { return strlen(name) == n && !strncasecmp(p, name, n); }

/* Does the comma-separated list [p, p+n) hold token (any case)? */
static int has_token(const char *p, size_t n, const char *token) {
    size_t t = strlen(token);
    for (size_t i = 0; i < n;) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ',')) i++;
        size_t s = i;
        while (i < n && p[i] != ',') i++;
        size_t e = i;
        while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t')) e--;
        if (e - s == t && !strncasecmp(p + s, token, t)) return 1;
    }
    return 0;
}

/* The first CRLF in [p, end), or NULL. (The head may hold NUL bytes: no str* here.) */
static const char *find_crlf(const char *p, const char *end) {
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n') return p;
    return NULL;
}

/* Calls fn(name, name_n, value, value_n) for each header line of r->head; stops at the
 * first nonzero return (which it returns). A line without "name:" is HTTP_ERR_PROTOCOL
 * (said in c->err when c is given). */
typedef int (*header_fn)(void *u, const char *name, size_t nn, const char *value, size_t vn);
static int each_header(http_client *c, const http_response *r, header_fn fn, void *u) {
    const char *end = r->head + r->head_len, *eol = find_crlf(r->head, end);
    while (eol) {
        const char *p = eol + 2;
        eol = find_crlf(p, end);
        const char *le = eol ? eol : end, *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon || colon == p) {
            if (!c) return HTTP_ERR_PROTOCOL;
            size_t n = (size_t)(le - p) < 40 ? (size_t)(le - p) : 40;
            return fail(c, HTTP_ERR_PROTOCOL, "a header line without a name: \"%.*s\"", quotable(p, n), p);
        }
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        int rc = fn(u, p, (size_t)(colon - p), v, (size_t)(ve - v));
        if (rc) return rc;
    }
    return 0;
}

typedef struct framing {
    http_client *c;
    long long length; /* Content-Length, -1 when absent */
    int chunked, close;
} framing;

static int on_framing_header(void *u, const char *name, size_t nn, const char *v, size_t vn) {
    framing *f = u;
    if (name_is(name, nn, "content-length")) {
        long long x = 0;
        if (vn == 0 || vn > 18) return fail(f->c, HTTP_ERR_PROTOCOL, "a bad Content-Length");
        for (size_t i = 0; i < vn; i++) {
            if (!isdigit((unsigned char)v[i]))
                return fail(f->c, HTTP_ERR_PROTOCOL, "a bad Content-Length \"%.*s\"", quotable(v, vn < 30 ? vn : 30), v);
            x = x * 10 + (v[i] - '0');
        }
        if (f->length >= 0 && f->length != x) return fail(f->c, HTTP_ERR_PROTOCOL, "two different Content-Length headers");
        f->length = x;
    } else if (name_is(name, nn, "transfer-encoding")) {
        /* chunked alone: a compressing coding before it we could not undo */
        if (!name_is(v, vn, "chunked"))
            return fail(f->c, HTTP_ERR_PROTOCOL, "an unsupported Transfer-Encoding \"%.*s\"", quotable(v, vn < 30 ? vn : 30), v);
        f->chunked = 1;
    } else if (name_is(name, nn, "connection")) {
        if (has_token(v, vn, "close")) f->close = 1;
        else if (has_token(v, vn, "keep-alive")) f->close = 0;
    }
    return 0;
}

/* Reads a response whose deadline is already set. Closes the connection on any error, and
 * after a response that ends it. */
static int read_response(http_client *c, int head_only, http_response *r) {
    framing f = {c, -1, 0, 0};
    int rc = HTTP_OK;
    c->got = c->len - c->off;
    if (!r->body && (rc = reserve(c, &r->body, &r->body_cap, 0, 0, 0))) goto out;
    for (int informational = 0;; informational++) {
        r->status = 0;
        r->keep_alive = 0;
        r->body_len = 0;
        r->body[0] = 0;
        if ((rc = read_head(c, r))) goto out;
        const char *h = r->head;
        if (r->head_len < 12 || memcmp(h, "HTTP/1.", 7) || !isdigit((unsigned char)h[7]) || h[8] != ' ' ||
            !isdigit((unsigned char)h[9]) || !isdigit((unsigned char)h[10]) || !isdigit((unsigned char)h[11]) ||
            (r->head_len > 12 && h[12] != ' ' && h[12] != '\r')) {
            rc = fail(c, HTTP_ERR_PROTOCOL, "not an HTTP/1.x status line: \"%.*s\"", quotable(h, 40), h);
            goto out;
        }
        r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
        f = (framing){c, -1, 0, h[7] == '0'}; /* HTTP/1.0 closes unless it says keep-alive */
        if ((rc = each_header(c, r, on_framing_header, &f))) goto out;
        /* 100 Continue and friends come before the real answer; we never ask to upgrade */
        if (r->status >= 200 || r->status < 100) break;
        if (r->status == 101 || informational >= 8) {
            rc = fail(c, HTTP_ERR_PROTOCOL, "an unexpected %d response", r->status);
            goto out;
        }
    }
    if (r->status < 100) {
        rc = fail(c, HTTP_ERR_PROTOCOL, "status %d", r->status);
        goto out;
    }
    if (f.chunked && f.length >= 0) f.close = 1; /* both framings: chunked wins, and the connection is not trusted after */
    if (head_only || r->status == 204 || r->status == 304) rc = HTTP_OK;
    else if (f.chunked) rc = read_chunked(c, r);
    else if (f.length >= 0 && (size_t)f.length > c->max_body)
        rc = fail(c, HTTP_ERR_TOO_BIG, "a body of %lld bytes (at most %zu)", f.length, c->max_body);
    else if (f.length >= 0) rc = read_exact(c, r, (size_t)f.length);
    else rc = read_until_close(c, r), f.close = 1;
out:
    if (rc) {
        http_client_close(c);
        return rc;
    }
    r->keep_alive = !f.close;
    c->answered++;
    if (f.close) http_client_close(c);
    return HTTP_OK;
}

int http_read_response(http_client *c, int head_only, http_response *r) {
    if (c->fd < 0) return fail(c, HTTP_ERR_CLOSED, "not connected");
    start_deadline(c);
    return read_response(c, head_only, r);
}

int http_request(http_client *c, const char *method, const char *path, const char *headers, const void *body,
                 size_t body_n, http_response *r) {
    int with_len = body || !strcmp(method, "POST") || !strcmp(method, "PUT"), v6 = strchr(c->host, ':') != NULL;
    size_t cap = strlen(method) + strlen(path) + strlen(c->host) + (headers ? strlen(headers) : 0) + 96;
    char *head = malloc(cap);
    if (!head) return fail(c, HTTP_ERR_NOMEM, "out of memory");
    int n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n", method, path, v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
    if (with_len) n += snprintf(head + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_n);
    n += snprintf(head + n, cap - (size_t)n, "%s\r\n", headers ? headers : "");
    int rc;
    for (int attempt = 0;; attempt++) {
        if (c->fd >= 0 && c->off < c->len) http_client_close(c); /* bytes nobody asked for: start afresh */
        int reused = c->fd >= 0 && c->answered > 0;
        if (c->fd < 0 && (rc = http_client_connect(c))) break;
        start_deadline(c);
        c->got = 0;
        struct iovec v[2] = {{head, (size_t)n}, {(void *)body, body ? body_n : 0}};
        rc = send_iov(c, v, 2);
        if (!rc) rc = read_response(c, !strcmp(method, "HEAD"), r);
        else http_client_close(c);
        /* a kept-alive connection the server had already closed (its idle timeout): not a
         * byte of the answer came, so the request was not processed; once more, afresh */
        if (rc != HTTP_ERR_CLOSED || !reused || c->got > 0 || attempt > 0) break;
    }
    free(head);
    return rc;
}

typedef struct find_header {
    const char *name, *value;
    size_t len;
} find_header;

static int on_find_header(void *u, const char *name, size_t nn, const char *v, size_t vn) {
    find_header *f = u;
    if (!name_is(name, nn, f->name)) return 0;
    f->value = v;
    f->len = vn;
    return 1;
}

const char *http_header(const http_response *r, const char *name, size_t *len) {
    find_header f = {name, NULL, 0};
    if (r->head) each_header(NULL, r, on_find_header, &f);
    if (len) *len = f.len;
    return f.value;
}

void http_response_free(http_response *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/*
 * http_client.h — a small blocking HTTP/1.1 client, for talking to `mmc serve` over
 * loopback: the load generator of `mmc bench serve-search` (src/cli/bench_serve.c) and the
 * hostile-client test (tests/serve/hostile.c). Not part of the library, and not a general
 * client: no TLS, no redirects, no proxies, no cookies.
 *
 *   http_client c;
 *   http_response r = {0};
 *   http_client_init(&c, "127.0.0.1", port, 5000);
 *   for (...)  // one connection, kept alive across requests
 *       if (http_request(&c, "POST", "/v1/search", NULL, body, n, &r) == HTTP_OK) use(r.status, r.body);
 *   http_response_free(&r);
 *   http_client_close(&c);
 *
 * The response is hostile input too: the status line and headers are bounded
 * (HTTP_MAX_HEAD), the body by c->max_body, chunk sizes and Content-Length are parsed
 * strictly, and every wait ends at the request's deadline (timeout_ms from its start).
 * Depends on libc only, so a test program can link this file alone.
 */
#ifndef MMC_HTTP_CLIENT_H
#define MMC_HTTP_CLIENT_H

#include <stddef.h>

#define HTTP_MAX_HEAD (64 * 1024)              /* status line + headers of a response */
#define HTTP_DEFAULT_MAX_BODY ((size_t)64 << 20)

/* What the calls return: 0, or one of these (http_strerror names it, c->err says more). */
enum {
    HTTP_OK = 0,
    HTTP_ERR_CONNECT = -1,  /* no connection (refused, bad address) */
    HTTP_ERR_IO = -2,       /* send or receive failed (reset, broken pipe) */
    HTTP_ERR_TIMEOUT = -3,  /* the deadline passed */
    HTTP_ERR_CLOSED = -4,   /* the server closed the connection before a whole response */
    HTTP_ERR_PROTOCOL = -5, /* a malformed response */
    HTTP_ERR_TOO_BIG = -6,  /* headers over HTTP_MAX_HEAD or body over max_body */
    HTTP_ERR_NOMEM = -7,
};

typedef struct http_client {
    char host[256];
    int port;
    int timeout_ms;     /* connect; and each request, from sending to the last body byte */
    size_t max_body;    /* largest response body accepted (HTTP_DEFAULT_MAX_BODY) */
    int fd;             /* -1 when not connected; non-blocking */
    int answered;       /* responses read on this connection */
    size_t got;         /* bytes received for the response being read */
    double deadline;    /* of the exchange in progress (monotonic seconds) */
    char in[16384];     /* received, not yet consumed: in[off, len) */
    size_t off, len;
    char err[200];      /* what went wrong, for a human */
} http_client;

typedef struct http_response {
    int status;         /* e.g. 200 */
    int keep_alive;     /* the connection may carry another request */
    char *head;         /* status line and headers, NUL-terminated (no final blank line) */
    size_t head_len;
    char *body;         /* body_len bytes, NUL-terminated for convenience */
    size_t body_len;
    size_t head_cap, body_cap; /* buffers are reused by the next request into this response */
} http_response;

/* Sets up c (no connection yet: the first request connects). */
void http_client_init(http_client *c, const char *host, int port, int timeout_ms);
/* Connects now, closing any connection c had. */
int http_client_connect(http_client *c);
void http_client_close(http_client *c);

/* Sends one request and reads its response into r. headers: extra header lines, each
 * ending in "\r\n" (NULL: none); Host and, when there is a body or the method is POST or
 * PUT, Content-Length are added. Connects when c has no connection; when a kept-alive
 * connection turns out closed by the server before any byte of the answer (it timed the
 * idle connection out), reconnects and sends once more. The connection is closed after a
 * response that ends it (Connection: close, or a body delimited by the close). */
int http_request(http_client *c, const char *method, const char *path, const char *headers, const void *body,
                 size_t body_n, http_response *r);

/* The pieces http_request is made of, for clients that misbehave on purpose: raw bytes
 * onto the connection (connecting first if needed), and the next response off it
 * (head_only: the answer to a HEAD request, which has no body). Both start a new deadline
 * of c->timeout_ms. */
int http_send(http_client *c, const void *buf, size_t n);
int http_read_response(http_client *c, int head_only, http_response *r);

/* The value of the first header called name (any case) in r, its length in *len; NULL if
 * absent. Points into r->head (not NUL-terminated there). */
const char *http_header(const http_response *r, const char *name, size_t *len);

void http_response_free(http_response *r);
const char *http_strerror(int rc);

#endif

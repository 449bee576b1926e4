/* serve.c — the daemon of `mmc serve`.
 *
 * libmicrohttpd runs a fixed pool of worker threads (MHD_OPTION_THREAD_POOL_SIZE); each
 * accepted connection belongs to one of them, and a request is answered on that thread
 * from start to end, so the model code needs no locks: models and indexes are opened once
 * and only read (every embedding call makes its own scratch context). Each worker computes
 * on one core (mmc_set_threads(1)); --threads T workers use T cores.
 *
 * A request passes these gates, in order, before any model code runs:
 *   queue      more than --queue requests in flight (accepted, not yet answered) -> 503
 *   rate       more than --rate requests/s from one client address -> 429 (off by default)
 *   route      unknown path -> 404; wrong method -> 405
 *   key        /v1/ with --api-key set and no "Authorization: Bearer KEY" -> 401
 *   size       Content-Length (or the bytes received) over --max-body -> 413, the rest of
 *              the upload is not read and the connection is closed
 * libmicrohttpd itself answers malformed HTTP (400) and headers larger than its
 * per-connection memory (431), and drops connections idle for --timeout seconds, which is
 * what frees a worker from a slow client: no worker ever blocks on a socket.
 *
 * Shutdown: SIGINT or SIGTERM stops accepting (MHD_quiesce_daemon), waits for the requests
 * in flight to be answered, then stops the workers. One access-log line per request. */
#include "cli.h"
#include "serve.h"
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SRV_MAX_FILE_BYTES ((int64_t)64 << 20) /* an indexed image we serve as a thumbnail */
#define SRV_CONN_MEMORY (64 * 1024)            /* per connection: request line + headers */
#define SRV_RATE_SLOTS 1024
#define SRV_DRAIN_SECONDS 30

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

serve_opts serve_opts_default(void) {
    serve_opts o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = 8080;
    o.threads = 2;
    o.max_body = (size_t)16 << 20;
    o.max_k = 100;
    o.queue = 64;
    o.timeout_s = 30;
    return o;
}

/* ------------------------------------------------------------------ state */

typedef struct rate_slot {
    uint8_t addr[16];
    int used;
    double tokens, t;
} rate_slot;

/* One open connection, for the watchdog: a request must arrive whole (head and body)
 * within --timeout seconds of the connection opening or of the previous answer, or its
 * socket is shut down. libmicrohttpd's own timeout counts idle time only, so a client
 * sending a byte a second would otherwise hold its connection slot forever. */
typedef struct conn_slot {
    int used, fd;
    int busy;     /* the request is whole and being answered: no deadline */
    double since; /* when the current wait began */
} conn_slot;

typedef struct daemon_ctx {
    srv_state st;
    conn_slot *conns;
    int n_conns;
    pthread_mutex_t conn_mu;
    struct MHD_Daemon *d;
    atomic_int in_flight;
    atomic_llong served;
    FILE *log;
    pthread_mutex_t log_mu, rate_mu;
    rate_slot rate[SRV_RATE_SLOTS];
} daemon_ctx;

/* One request's own state, from its first callback to its completion callback. */
typedef struct srv_req {
    double t0;
    char method[8];
    char path[200];
    int counted;    /* holds a place in the queue */
    int early;      /* a status decided before the body (503, 429, 401, 413, ...) */
    char early_msg[320];
    int status;     /* what was sent, for the log */
    size_t sent;
    char *body;
    size_t len, cap;
} srv_req;

/* ------------------------------------------------------------------ responses */

static enum MHD_Result send_bytes(struct MHD_Connection *c, srv_req *q, int status, const char *type, const void *buf,
                                  size_t n, int close) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)buf, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == 503 || status == 429) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, POST");
    if (close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (q) q->status = status, q->sent = n;
    return ok;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, srv_req *q, srv_reply *r, int close) {
    enum MHD_Result ok = send_bytes(c, q, r->status, "application/json; charset=utf-8", r->body ? r->body : r->fixed,
                                    r->len, close);
    if (r->body) cJSON_free(r->body);
    r->body = NULL;
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, srv_req *q, int status, const char *msg, int close) {
    srv_reply r = {0};
    srv_error(&r, status, "%s", msg);
    return send_reply(c, q, &r, close);
}

static const char *image_type(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return "application/octet-stream";
    if (!strcasecmp(dot, ".png")) return "image/png";
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return "image/jpeg";
    return "image/x-portable-anymap";
}

/* GET /v1/files/NAME/ROW: the image file an index records at that row; the request names
 * only the index and the row, never a path. */
static enum MHD_Result send_file(daemon_ctx *x, struct MHD_Connection *c, srv_req *q, const char *rest) {
    char name[256], row[64];
    const char *slash = strchr(rest, '/');
    srv_reply r = {0};
    if (!slash || (size_t)(slash - rest) >= sizeof name || strlen(slash + 1) >= sizeof row || slash == rest)
        return send_error(c, q, 404, "expected /v1/files/INDEX/ROW", 0);
    memcpy(name, rest, (size_t)(slash - rest));
    name[slash - rest] = 0;
    snprintf(row, sizeof row, "%s", slash + 1);
    const char *path = srv_file_path(&x->st, name, row, &r);
    if (!path) return send_reply(c, q, &r, 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > SRV_MAX_FILE_BYTES) {
        if (fd >= 0) close(fd);
        return send_error(c, q, 404, "the indexed file is gone or is not a regular file", 0);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd); /* MHD closes fd */
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, image_type(path));
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=3600");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    q->status = 200;
    q->sent = (size_t)sb.st_size;
    return ok;
}

static enum MHD_Result send_page(struct MHD_Connection *c, srv_req *q) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(serve_page_len, (void *)serve_page, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; "
                            "script-src 'unsafe-inline'; connect-src 'self'");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    q->status = 200;
    q->sent = serve_page_len;
    return ok;
}

/* ------------------------------------------------------------------ watchdog */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode toe) {
    daemon_ctx *x = cls;
    pthread_mutex_lock(&x->conn_mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = NULL;
        for (int i = 0; ci && i < x->n_conns; i++)
            if (!x->conns[i].used) {
                x->conns[i] = (conn_slot){1, ci->connect_fd, 0, mmc_now()};
                *socket_context = &x->conns[i];
                break;
            }
    } else if (*socket_context) { /* closed: before libmicrohttpd closes the socket */
        ((conn_slot *)*socket_context)->used = 0;
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&x->conn_mu);
}

/* busy 1: the request is whole; 0: waiting for the next one (the clock restarts). */
static void conn_mark(daemon_ctx *x, struct MHD_Connection *c, int busy) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_slot *s = ci ? ci->socket_context : NULL;
    if (!s) return;
    pthread_mutex_lock(&x->conn_mu);
    s->busy = busy;
    s->since = mmc_now();
    pthread_mutex_unlock(&x->conn_mu);
}

/* Shuts down the sockets of requests that did not arrive in time; libmicrohttpd then sees
 * the connection end and closes it. Returns how many. */
static int watchdog(daemon_ctx *x) {
    double now = mmc_now();
    int n = 0;
    pthread_mutex_lock(&x->conn_mu);
    for (int i = 0; i < x->n_conns; i++) {
        conn_slot *s = &x->conns[i];
        if (s->used && !s->busy && now - s->since > x->st.o.timeout_s) {
            shutdown(s->fd, SHUT_RDWR);
            s->busy = 1; /* once */
            n++;
        }
    }
    pthread_mutex_unlock(&x->conn_mu);
    return n;
}

/* URL unescaping as libmicrohttpd's own (%HH), except that %00 stays as it is: a NUL
 * would end the path early ("/v1/files/img/0%00/../x" read as row 0). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else *w++ = *r++;
    }
    *w = 0;
    return (size_t)(w - s);
}

/* ------------------------------------------------------------------ gates */

/* Token bucket per client address: --rate requests a second, bursts of twice that. The
 * table is small and fixed; a new address takes the least recently used slot. */
static int rate_ok(daemon_ctx *x, struct MHD_Connection *c) {
    if (x->st.o.rate <= 0) return 1;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    uint8_t key[16] = {0};
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        else if (sa->sa_family == AF_INET6) memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++) h = (h ^ key[i]) * 16777619u;
    double now = mmc_now(), cap = 2 * x->st.o.rate;
    int ok;
    pthread_mutex_lock(&x->rate_mu);
    rate_slot *s = &x->rate[h % SRV_RATE_SLOTS];
    if (!s->used || memcmp(s->addr, key, 16)) { /* a new client (or a collision: it starts afresh) */
        memcpy(s->addr, key, 16);
        s->used = 1;
        s->tokens = cap;
        s->t = now;
    }
    s->tokens += (now - s->t) * x->st.o.rate;
    if (s->tokens > cap) s->tokens = cap;
    s->t = now;
    ok = s->tokens >= 1;
    if (ok) s->tokens -= 1;
    pthread_mutex_unlock(&x->rate_mu);
    return ok;
}

/* The key a request carries: "Authorization: Bearer KEY", "X-API-Key: KEY", or the cookie
 * mmc_key=KEY (percent-encoded) that the web page sets when a user types the key in, so its
 * thumbnails (plain <img> requests, which carry no headers) are let in too. */
static const char *request_key(struct MHD_Connection *c, char *buf, size_t n) {
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && !strncmp(auth, "Bearer ", 7)) return auth + 7;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    if (h) return h;
    const char *ck = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "mmc_key");
    if (!ck) return NULL;
    size_t w = 0;
    for (const char *r = ck; *r && w + 1 < n; w++) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) buf[w] = (char)(hi << 4 | lo), r += 3;
        else buf[w] = *r++;
    }
    buf[w] = 0;
    return buf;
}

static int key_ok(daemon_ctx *x, struct MHD_Connection *c) {
    const char *want = x->st.o.api_key;
    if (!want) return 1;
    char cookie[512];
    const char *got = request_key(c, cookie, sizeof cookie);
    if (!got) return 0;
    size_t nw = strlen(want), ng = strlen(got);
    unsigned diff = (unsigned)(nw ^ ng);
    for (size_t i = 0; i < nw; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < ng ? got[i] : 0);
    return diff == 0; /* compared in time that does not depend on where they differ */
}

/* ------------------------------------------------------------------ routing */

enum { R_NONE, R_PAGE, R_HEALTH, R_MODELS, R_EMBED, R_SEARCH, R_ZEROSHOT, R_CAPTION, R_VQA, R_FILES };

static int route(const char *url, int *post) {
    static const struct { const char *path; int r, post; } t[] = {
        {"/", R_PAGE, 0},           {"/index.html", R_PAGE, 0},       {"/health", R_HEALTH, 0},
        {"/v1/models", R_MODELS, 0}, {"/v1/embeddings", R_EMBED, 1}, {"/v1/search", R_SEARCH, 1},
        {"/v1/zeroshot", R_ZEROSHOT, 1}, {"/v1/caption", R_CAPTION, 1}, {"/v1/vqa", R_VQA, 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(url, t[i].path)) return *post = t[i].post, t[i].r;
    if (!strncmp(url, "/v1/files/", 10)) return *post = 0, R_FILES;
    return R_NONE;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_n, void **con_cls) {
    (void)version;
    daemon_ctx *x = cls;
    srv_req *q = *con_cls;
    if (!q) { /* headers are in: decide everything that does not need the body */
        q = mmc_calloc(1, sizeof *q);
        if (!q) return MHD_NO;
        *con_cls = q;
        q->t0 = mmc_now();
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->path, sizeof q->path, "%s", url);
        for (char *p = q->path; *p; p++) /* the log gets one line per request, printable */
            if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"') *p = '?';
        q->counted = 1;
        int post = 0, r = route(url, &post), is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        if (atomic_fetch_add(&x->in_flight, 1) >= x->st.o.queue) {
            q->early = 503;
            snprintf(q->early_msg, sizeof q->early_msg, "the server is busy (%d requests in flight); retry", x->st.o.queue);
        } else if (!rate_ok(x, c)) {
            q->early = 429;
            snprintf(q->early_msg, sizeof q->early_msg, "too many requests from this address (at most %g a second)", x->st.o.rate);
        } else if (r == R_NONE) {
            q->early = 404;
            snprintf(q->early_msg, sizeof q->early_msg, "no such endpoint: %.150s", q->path);
        } else if (post ? strcmp(method, "POST") != 0 : !is_get) {
            q->early = 405;
            snprintf(q->early_msg, sizeof q->early_msg, "%s wants %s", q->path, post ? "POST" : "GET");
        } else if (!strncmp(url, "/v1/", 4) && !key_ok(x, c)) {
            q->early = 401;
            snprintf(q->early_msg, sizeof q->early_msg, "this server wants an API key: Authorization: Bearer KEY");
        } else {
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
            if (len > x->st.o.max_body) {
                q->early = 413;
                snprintf(q->early_msg, sizeof q->early_msg, "the body is %llu bytes (at most %zu)", len, x->st.o.max_body);
            }
        }
        /* an early answer goes out now; an upload still coming is not read */
        if (q->early) {
            conn_mark(x, c, 1);
            return send_error(c, q, q->early, q->early_msg, 1);
        }
        return MHD_YES;
    }
    if (*upload_n) { /* a piece of the body */
        if (q->status) { /* answered early: drop the rest */
            *upload_n = 0;
            return MHD_YES;
        }
        size_t n = *upload_n;
        if (n > x->st.o.max_body - q->len) {
            /* a chunked body (no length said up front) past the limit: libmicrohttpd cannot
             * answer in the middle of an upload, so the connection is closed; reading the
             * rest only to refuse it would let a client stream forever */
            q->status = 413;
            return MHD_NO;
        }
        if (q->len + n + 1 > q->cap) {
            size_t cap = q->cap ? q->cap : 4096;
            while (cap < q->len + n + 1) cap *= 2;
            char *b = mmc_realloc(q->body, cap);
            if (!b) return MHD_NO;
            q->body = b;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload, n);
        q->len += n;
        q->body[q->len] = 0;
        *upload_n = 0;
        return MHD_YES;
    }
    if (q->status) return MHD_YES; /* already answered */
    conn_mark(x, c, 1);
    int post = 0, r = route(url, &post);
    srv_reply rep = {0};
    switch (r) {
    case R_PAGE: return send_page(c, q);
    case R_FILES: return send_file(x, c, q, url + 10);
    case R_HEALTH: srv_health(&x->st, &rep); break;
    case R_MODELS: srv_models(&x->st, &rep); break;
    case R_EMBED: srv_embeddings(&x->st, q->body, q->len, &rep); break;
    case R_SEARCH: srv_search(&x->st, q->body, q->len, &rep); break;
    case R_ZEROSHOT: srv_zeroshot(&x->st, q->body, q->len, &rep); break;
    case R_CAPTION: srv_caption(&x->st, q->body, q->len, &rep); break;
    case R_VQA: srv_vqa(&x->st, q->body, q->len, &rep); break;
    default: srv_error(&rep, 404, "no such endpoint");
    }
    mmc_free(q->body); /* the body is done with; the reply is what remains */
    q->body = NULL;
    q->len = q->cap = 0;
    return send_reply(c, q, &rep, 0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    daemon_ctx *x = cls;
    srv_req *q = *con_cls;
    if (!q) return;
    *con_cls = NULL;
    if (q->counted) atomic_fetch_sub(&x->in_flight, 1);
    conn_mark(x, c, 0); /* the next request on this connection has --timeout from now */
    atomic_fetch_add(&x->served, 1);
    char addr[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof addr);
        else if (sa->sa_family == AF_INET6) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof addr);
    }
    if (x->log) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        pthread_mutex_lock(&x->log_mu);
        fprintf(x->log, "%s %s \"%s %s\" %d %zu %.2fms%s\n", ts, addr, q->method, q->path, q->status ? q->status : 0,
                q->sent, 1000 * (mmc_now() - q->t0),
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
                toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timed out)" :
                toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? " (shutdown)" : " (closed)");
        fflush(x->log);
        pthread_mutex_unlock(&x->log_mu);
    }
    mmc_free(q->body);
    mmc_free(q);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    daemon_ctx *x = cls;
    if (!x->log) return;
    pthread_mutex_lock(&x->log_mu);
    fputs("mmc serve: http: ", x->log);
    vfprintf(x->log, fmt, ap);
    fflush(x->log);
    pthread_mutex_unlock(&x->log_mu);
}

/* ------------------------------------------------------------------ startup */

static int is_loopback(const char *host) {
    return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

/* Opens one --model: an embedder (retrieval run, CLIP folder; quantised as --dtype says),
 * a captioner or a VQA run (always f32), by the task its folder records. Returns a CLI
 * exit code. */
static int open_model(srv_state *s, const char *path, int quantize) {
    srv_model *m = &s->models[s->n_models];
    const char *task = cli_run_task(path);
    mmc_error err = {0};
    if (task && !strcmp(task, "caption")) {
        if (!(m->cap = mmc_captioner_load(path, NULL, &err))) return cli_error_from(&err);
        m->kind = SRV_CAPTION;
        if (!s->cap) s->cap = m->cap, s->cap_path = path;
    } else if (task && (!strcmp(task, "vqa") || !strcmp(task, "vqa_video"))) {
        if (!(m->vqa = mmc_vqa_load(path, NULL, &err))) return cli_error_from(&err);
        m->kind = SRV_VQA;
        if (!s->vqa) s->vqa = m->vqa, s->vqa_path = path;
    } else {
        mmc_embedder_opts eo = {quantize};
        if (!(m->emb = mmc_embedder_open_ex(path, &eo, &err))) return cli_error_from(&err);
        m->kind = SRV_EMBEDDER;
        if (!s->emb) s->emb = m->emb, s->emb_path = mmc_embedder_id(m->emb);
    }
    size_t n = strlen(path);
    if (!(m->path = mmc_malloc(n + 1))) return cli_error(3, "serve: out of memory");
    memcpy(m->path, path, n + 1);
    s->n_models++;
    return 0;
}

/* Opens one --index [NAME=]PATH; NAME defaults to the file's base name without .idx. */
static int open_index(srv_state *s, const char *arg) {
    const char *eq = strchr(arg, '='), *path = eq ? eq + 1 : arg;
    char name[128];
    if (eq) {
        if (eq == arg || (size_t)(eq - arg) >= sizeof name) return cli_error(1, "serve: --index NAME=PATH needs a name of 1 to 127 bytes");
        memcpy(name, arg, (size_t)(eq - arg));
        name[eq - arg] = 0;
    } else {
        const char *b = strrchr(path, '/');
        snprintf(name, sizeof name, "%s", b ? b + 1 : path);
        char *dot = strrchr(name, '.');
        if (dot && dot != name) *dot = 0;
    }
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            return cli_error(1, "serve: index name \"%s\" may hold only letters, digits, '-', '_' and '.' (give --index NAME=PATH)", name);
    for (int i = 0; i < s->n_indexes; i++)
        if (!strcmp(s->indexes[i].name, name)) return cli_error(1, "serve: two indexes are named \"%s\" (give --index NAME=PATH)", name);
    mmc_error err = {0};
    srv_index *ix = &s->indexes[s->n_indexes];
    if (!(ix->ix = mmc_index_open(path, &err))) return cli_error_from(&err);
    size_t nn = strlen(name), np = strlen(path);
    ix->name = mmc_malloc(nn + 1);
    ix->path = mmc_malloc(np + 1);
    if (!ix->name || !ix->path) {
        mmc_free(ix->name);
        mmc_free(ix->path);
        mmc_index_close(ix->ix);
        return cli_error(3, "serve: out of memory");
    }
    memcpy(ix->name, name, nn + 1);
    memcpy(ix->path, path, np + 1);
    s->n_indexes++;
    return 0;
}

static void state_free(srv_state *s) {
    for (int i = 0; i < s->n_models; i++) {
        mmc_embedder_close(s->models[i].emb);
        mmc_captioner_free(s->models[i].cap);
        mmc_vqa_free(s->models[i].vqa);
        mmc_free(s->models[i].path);
    }
    for (int i = 0; i < s->n_indexes; i++) {
        mmc_index_close(s->indexes[i].ix);
        mmc_free(s->indexes[i].name);
        mmc_free(s->indexes[i].path);
    }
    memset(s, 0, sizeof *s);
}

static int write_port_file(const char *path, unsigned port) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return cli_error(1, "serve: --port-file path too long");
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        return cli_error(3, "serve: cannot write %s: %s", path, strerror(errno));
    return 0;
}

int serve_run(const serve_opts *o) {
    if (!o->n_models) return cli_error(1, "serve: give --model M (see: mmc help serve)");
    if (!is_loopback(o->host) && !o->api_key && !o->insecure)
        return cli_error(1, "serve: %s is not a loopback address: give --api-key KEY (or --insecure to serve it open)", o->host);
    daemon_ctx *x = mmc_calloc(1, sizeof *x);
    if (!x) return cli_error(3, "serve: out of memory");
    x->st.o = *o;
    x->st.t_start = mmc_now();
    pthread_mutex_init(&x->log_mu, NULL);
    pthread_mutex_init(&x->rate_mu, NULL);
    pthread_mutex_init(&x->conn_mu, NULL);
    unsigned conn_limit = (unsigned)(o->queue * 4 > 64 ? o->queue * 4 : 64);
    x->n_conns = (int)conn_limit + 8;
    int rc = 0;
    if (!(x->conns = mmc_calloc((size_t)x->n_conns, sizeof *x->conns))) rc = cli_error(3, "serve: out of memory");
    for (int i = 0; !rc && i < o->n_models; i++) rc = open_model(&x->st, o->models[i], o->quantize);
    for (int i = 0; !rc && i < o->n_indexes; i++) rc = open_index(&x->st, o->indexes[i]);
    for (int i = 0; !rc && i < x->st.n_indexes; i++) {
        const srv_index *ix = &x->st.indexes[i];
        if (!x->st.emb) rc = cli_error(1, "serve: --index %s needs a --model that embeds text and images", ix->path);
        else if (mmc_index_dim(ix->ix) != mmc_embedder_dim(x->st.emb))
            rc = cli_error(2, "serve: the index %s holds %d-dimensional embeddings, the model %s makes %d", ix->path,
                           mmc_index_dim(ix->ix), x->st.emb_path, mmc_embedder_dim(x->st.emb));
        else if (mmc_index_model_id(ix->ix) && *mmc_index_model_id(ix->ix) && strcmp(mmc_index_model_id(ix->ix), x->st.emb_path))
            fprintf(stderr, "mmc serve: note: %s was built with %s, searched with %s\n", ix->path, mmc_index_model_id(ix->ix),
                    x->st.emb_path);
    }
    if (!rc && o->log && strcmp(o->log, "-") && !(x->log = fopen(o->log, "a")))
        rc = cli_error(2, "serve: cannot open the log %s: %s", o->log, strerror(errno));
    if (!x->log) x->log = stderr;

    /* SIGINT/SIGTERM are waited for below; blocked here so the workers inherit the mask */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    mmc_set_threads(1); /* each worker computes on one core */

    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    const char *host = !strcmp(o->host, "localhost") ? "127.0.0.1" : o->host;
    int v6 = strchr(host, ':') != NULL;
    if (!rc && (v6 ? inet_pton(AF_INET6, host, &a6.sin6_addr) : inet_pton(AF_INET, host, &a4.sin_addr)) != 1)
        rc = cli_error(1, "serve: --host %s is not an IPv4 or IPv6 address", o->host);
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)o->port);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((uint16_t)o->port);
    if (!rc) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                         (v6 ? MHD_USE_IPv6 : 0);
        /* strict: HTTP/1.1 without Host, and other sloppy requests, are 400 */
        x->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, x,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, x,
                                MHD_OPTION_SOCK_ADDR, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
                                MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 1 ? o->threads : 1),
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SRV_CONN_MEMORY,
                                MHD_OPTION_CONNECTION_LIMIT, conn_limit,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, x,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, x,
                                MHD_OPTION_UNESCAPE_CALLBACK, unescape, x,
                                MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                                MHD_OPTION_END);
        if (!x->d) rc = cli_error(3, "serve: cannot listen on %s port %d (in use, or not an address of this machine?)", o->host, o->port);
    }
    if (!rc) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(x->d, MHD_DAEMON_INFO_BIND_PORT);
        unsigned port = di ? di->port : (unsigned)o->port;
        printf("mmc serve: listening on http://%s%s%s:%u/ (%d worker thread%s; %d model%s, %d index%s)\n", v6 ? "[" : "",
               o->host, v6 ? "]" : "", port, o->threads, o->threads == 1 ? "" : "s", x->st.n_models,
               x->st.n_models == 1 ? "" : "s", x->st.n_indexes, x->st.n_indexes == 1 ? "" : "es");
        fflush(stdout);
        if (o->port_file) rc = write_port_file(o->port_file, port);
    }
    if (!rc) {
        int sig = 0;
        for (;;) { /* the watchdog's tick is the wait for a signal */
            struct timespec tick = {0, 250 * 1000 * 1000};
            sig = sigtimedwait(&sigs, NULL, &tick);
            if (sig == SIGINT || sig == SIGTERM) break;
            watchdog(x);
        }
        fprintf(stderr, "mmc serve: %s: finishing %d request%s in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
                atomic_load(&x->in_flight), atomic_load(&x->in_flight) == 1 ? "" : "s");
        MHD_socket lsock = MHD_quiesce_daemon(x->d); /* no new connections; open ones are still served */
        /* drained when nothing has been in flight for a moment: a connection accepted while a
         * worker was busy has its request read only when that worker comes back to it */
        double t0 = mmc_now(), quiet_since = t0;
        while (mmc_now() - t0 < SRV_DRAIN_SECONDS && mmc_now() - quiet_since < 0.3) {
            if (atomic_load(&x->in_flight) > 0) quiet_since = mmc_now();
            usleep(10000);
        }
        MHD_stop_daemon(x->d);
        x->d = NULL;
        if (lsock != MHD_INVALID_SOCKET) close(lsock); /* quiesce handed the listening socket to us */
        fprintf(stderr, "mmc serve: stopped after %lld requests\n", (long long)atomic_load(&x->served));
    }
    if (x->d) MHD_stop_daemon(x->d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (x->log && x->log != stderr) fclose(x->log);
    state_free(&x->st);
    pthread_mutex_destroy(&x->log_mu);
    pthread_mutex_destroy(&x->rate_mu);
    pthread_mutex_destroy(&x->conn_mu);
    mmc_free(x->conns);
    mmc_free(x);
    return rc;
}

/*
 * serve.h — `mmc serve`: the HTTP service (src/serve/). The CLI parses the command line
 * into serve_opts and calls serve_run; everything else here is the service's own.
 *
 *   serve.c     the daemon: libmicrohttpd in thread-pool mode, routing, limits (body size,
 *               queue bound, per-client rate), API key, access log, graceful shutdown
 *   handlers.c  one function per endpoint: JSON in, the same model and index functions the
 *               CLI calls, JSON out (the documents `mmc search --json` and friends print)
 *   base64.c    strict base64 and data-URL decoding of uploaded images
 *   page.html   the web page at /, compiled into the binary (cmake/embed_file.cmake)
 */
#ifndef MMC_SERVE_H
#define MMC_SERVE_H

#include "mmc.h"
#include <stddef.h>
#include <stdint.h>

struct cJSON;

#define SERVE_MAX_MODELS 8
#define SERVE_MAX_INDEXES 16

typedef struct serve_opts {
    const char *models[SERVE_MAX_MODELS];
    int n_models;
    const char *indexes[SERVE_MAX_INDEXES]; /* [NAME=]PATH as given */
    int n_indexes;
    const char *host;    /* default 127.0.0.1 */
    int port;            /* 0: any free port (printed on start) */
    int threads;         /* worker threads (each request runs on one) */
    const char *api_key; /* required on /v1/ when set */
    int insecure;        /* allow a non-loopback address without an API key */
    size_t max_body;     /* bytes of a request body */
    int max_k;           /* most results one search returns */
    int queue;           /* requests in flight beyond which 503 */
    int timeout_s;       /* idle connection timeout */
    double rate;         /* requests per second per client address (0: no limit) */
    const char *log;     /* access log file ("-": stderr, NULL: stderr) */
    const char *port_file; /* write the bound port here once listening */
    int quantize;        /* embedding models: mmc_embedder_opts.quantize (--dtype) */
} serve_opts;

serve_opts serve_opts_default(void);

/* Opens the models and indexes, listens, answers until SIGINT/SIGTERM, then finishes the
 * requests in flight. Returns a CLI exit code (0, 1 usage, 2 bad input, 3 runtime). */
int serve_run(const serve_opts *o);

/* ------------------------------------------------------------ shared with handlers.c */

enum { SRV_EMBEDDER = 1, SRV_CAPTION = 2, SRV_VQA = 3 };

typedef struct srv_model {
    char *path;
    int kind;
    mmc_embedder *emb;
    mmc_captioner *cap;
    mmc_vqa *vqa;
} srv_model;

typedef struct srv_index {
    char *name; /* what requests call it */
    char *path; /* as given (what `mmc search --json` prints as "index") */
    mmc_index *ix;
} srv_index;

typedef struct srv_state {
    serve_opts o;
    srv_model models[SERVE_MAX_MODELS];
    int n_models;
    srv_index indexes[SERVE_MAX_INDEXES];
    int n_indexes;
    mmc_embedder *emb; /* the first embedder model (search, embeddings, zero-shot) */
    const char *emb_path;
    mmc_captioner *cap;
    const char *cap_path;
    mmc_vqa *vqa;
    const char *vqa_path;
    double t_start;
} srv_state;

/* A handler's answer: an HTTP status and a JSON body, either body (cJSON's allocation:
 * cJSON_free it) or fixed (a static string), len bytes. */
typedef struct srv_reply {
    int status;
    char *body;
    const char *fixed;
    size_t len;
} srv_reply;

/* Sets an error reply {"error": {"message": M, "type": T, "code": status}}. */
void srv_error(srv_reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets a JSON reply from doc (deletes doc), formatted as cJSON_Print does when pretty;
 * 500 on out of memory. */
void srv_json(srv_reply *r, int status, struct cJSON *doc, int pretty);

void srv_health(srv_state *s, srv_reply *r);
void srv_models(srv_state *s, srv_reply *r);
void srv_embeddings(srv_state *s, const char *body, size_t n, srv_reply *r);
void srv_search(srv_state *s, const char *body, size_t n, srv_reply *r);
void srv_zeroshot(srv_state *s, const char *body, size_t n, srv_reply *r);
void srv_caption(srv_state *s, const char *body, size_t n, srv_reply *r);
void srv_vqa(srv_state *s, const char *body, size_t n, srv_reply *r);
/* The file an index row records, when it is an image (GET /v1/files/NAME/ROW): its path,
 * or NULL with r set to the error. */
const char *srv_file_path(srv_state *s, const char *name, const char *row, srv_reply *r);

/* base64.c: decodes standard base64 (padding optional; no other characters) or a data URL
 * "data:[type][;base64],..." into *out (mmc_malloc'd). Returns 0, or -1 with a reason in
 * why (and the byte offset of the problem in *at). */
int srv_base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_n, const char **why, size_t *at);

/* The page (generated from page.html). */
extern const unsigned char serve_page[];
extern const size_t serve_page_len;

#endif

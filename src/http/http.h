/* http.h - the HTTPS front end: TLS, HTTP/1.1 keep-alive, limits and timeouts, one event loop
 * per worker thread (libevent evhttp over bufferevent_openssl, SO_REUSEPORT listeners).
 * It knows nothing of Azure: it parses requests, hands each to one handler, and writes the
 * response the handler gives. libevent and OpenSSL headers stay inside http/.
 *
 * Threads: the handler runs on the worker thread that owns the connection. It may answer at once
 * or later from any thread (after blocking work elsewhere) with cf_http_respond; the request and
 * everything it points to stay valid until then. A request whose client went away is still
 * answered (the answer is dropped) so the handler never sees a dangling request. */
#ifndef CF_HTTP_H
#define CF_HTTP_H

#include "base/cf.h"
#include "base/str.h"

enum cf_http_method {
    CF_HTTP_GET,
    CF_HTTP_HEAD,
    CF_HTTP_POST,
    CF_HTTP_PUT,
    CF_HTTP_PATCH,
    CF_HTTP_DELETE,
    CF_HTTP_OPTIONS,
    CF_HTTP_OTHER
};

struct cf_http_req {
    enum cf_http_method method;
    struct cf_str path;  /* raw path as sent, no query, not percent-decoded */
    struct cf_str query; /* raw query string after '?', "" if none */
    struct cf_str host;  /* Host header, as sent (may carry :port), "" if none */
    struct cf_str body;  /* the whole body, read by Content-Length or chunked */
    char peer_ip[64];    /* textual client address */
    int worker;          /* index of the worker thread that received it */
    void *impl;          /* http's own state */
};

struct cf_http_hdr {
    const char *name;
    const char *value;
};

typedef void (*cf_http_handler)(struct cf_http_req *req, void *ctx);

struct cf_http_opts {
    const char *const *addrs; /* listen addresses, e.g. {"127.0.0.1", "::1"} */
    size_t naddrs;
    int port;
    const char *cert_file; /* PEM chain */
    const char *key_file;  /* PEM private key */
    int threads;           /* worker threads (event loops); 0 = number of cores */
    size_t max_header_bytes;  /* default CF_MAX_HEADER_BYTES */
    size_t max_body_bytes;    /* default CF_MAX_BODY_BYTES */
    int max_connections;      /* default 10000 */
    int header_timeout_s;     /* time allowed to send the request head (default 10) */
    int idle_timeout_s;       /* keep-alive idle (default 120) */
};

struct cf_http_server;

/* Binds the listeners (so the caller knows the port is taken before going on) and loads the
 * certificate. NULL and *err on failure (a log line says why). */
struct cf_http_server *cf_http_server_new(const struct cf_http_opts *opts, cf_http_handler h,
                                          void *ctx, cf_err *err);
/* Runs the worker loops; returns after cf_http_server_stop, once in-flight responses are sent. */
cf_err cf_http_server_run(struct cf_http_server *srv);
/* Async-signal-safe and thread-safe. */
void cf_http_server_stop(struct cf_http_server *srv);
void cf_http_server_free(struct cf_http_server *srv);

/* Case-insensitive header lookup; NULL if absent. Valid until the request is answered. */
const char *cf_http_header(const struct cf_http_req *req, const char *name);

/* Sends the response and ends the request (callable once, from any thread). Content-Length is
 * set from len; the body is copied. hdrs[] must not contain Content-Length. status 204 sends no
 * body. */
void cf_http_respond(struct cf_http_req *req, int status, const struct cf_http_hdr *hdrs,
                     size_t nhdrs, const char *body, size_t len);

#endif

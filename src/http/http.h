/* http.h - the HTTPS front end: TLS, HTTP/1.1 keep-alive, limits and timeouts, one event loop
 * per worker thread (libevent evhttp over bufferevent_openssl, SO_REUSEPORT listeners).
 * It knows nothing of Azure: it parses requests, hands each to one handler, and writes the
 * response the handler gives. libevent and OpenSSL headers stay inside http/.
 *
 * Threads: the handler runs on the worker thread that owns the connection. It may answer at once
 * or later from any thread (after blocking work elsewhere) with cf_http_respond; the request and
 * everything it points to stay valid until then. A request whose client went away is still
 * answered (the answer is dropped) so the handler never sees a dangling request.
 *
 * Errors http/ answers by itself (unparsable request 400, head over max_header_bytes 431 - or
 * 400 when the request line alone is too long -, body over max_body_bytes 413, method outside
 * GET HEAD POST PUT PATCH DELETE OPTIONS 501, Expect other than 100-continue 417, no TLS state
 * 503) carry an Azure-shaped JSON body {"error":{"code":..,"message":..}} with Content-Type
 * application/json; charset=utf-8 and Connection: close. libevent 2.1 has no hook for them, so
 * http/ overrides libevent's evhttp_send_error at link time (see server.c).
 *
 * Process-wide effects of the first cf_http_server_new: evthread_use_pthreads(), libevent's
 * log callback (routed to cf_log), and SIGPIPE ignored if it still had its default action. Connections beyond max_connections are closed as soon as they
 * are accepted. A client gets header_timeout_s for the TLS handshake plus the first request, and
 * for each later request from its first byte to its last (head and body); an idle keep-alive
 * connection is closed after idle_timeout_s, and so is one that stops reading a response. */
#ifndef CF_HTTP_H
#define CF_HTTP_H

#include "base/cf.h"
#include "base/buf.h"
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
    const char *const *addrs; /* numeric listen addresses, e.g. {"127.0.0.1", "::1"} ("[::1]"
                                 is accepted too); IPv6 sockets are IPv6-only */
    size_t naddrs;
    int port;                 /* 0 = a port the kernel picks (see cf_http_server_port) */
    const char *cert_file; /* PEM chain */
    const char *key_file;  /* PEM private key */
    int threads;           /* worker threads (event loops); 0 = number of cores */
    size_t max_header_bytes;  /* default CF_MAX_HEADER_BYTES */
    size_t max_body_bytes;    /* default CF_MAX_BODY_BYTES */
    int max_connections;      /* default 10000 */
    int header_timeout_s;     /* time allowed to send a request, head and body (default 10);
                                 for the first one it includes the TLS handshake */
    int idle_timeout_s;       /* keep-alive idle (default 120) */
};

struct cf_http_server;

/* Binds the listeners (so the caller knows the port is taken before going on) and loads the
 * certificate. NULL and *err on failure (a log line says why). */
struct cf_http_server *cf_http_server_new(const struct cf_http_opts *opts, cf_http_handler h,
                                          void *ctx, cf_err *err);
/* The port the listeners are bound to (the kernel's choice when opts->port was 0). */
int cf_http_server_port(const struct cf_http_server *srv);
/* Runs the worker loops, each in its own thread, and waits for them; call once. Returns after
 * cf_http_server_stop, once every request given to the handler is answered and its response
 * written (or given up after 2 s). While stopping, responses carry Connection: close. */
cf_err cf_http_server_run(struct cf_http_server *srv);
/* Async-signal-safe and thread-safe (one write(2) to a pipe every worker watches); may be
 * called before run, which then returns at once. */
void cf_http_server_stop(struct cf_http_server *srv);
/* Closes everything; only after run returned (or was never called) and with no request held
 * by a handler. Accepts NULL. */
void cf_http_server_free(struct cf_http_server *srv);

/* Case-insensitive header lookup; NULL if absent. Valid until the request is answered. */
const char *cf_http_header(const struct cf_http_req *req, const char *name);

/* Sends the response and ends the request (callable once, from any thread). Content-Length is
 * set from len; the body is copied. hdrs[] must not contain Content-Length. status 204 sends no
 * body. */
void cf_http_respond(struct cf_http_req *req, int status, const struct cf_http_hdr *hdrs,
                     size_t nhdrs, const char *body, size_t len);

/* Runs fn(ctx, worker) on the calling thread's event loop once the callbacks the loop has
 * ready now have run (later in the current pass), before the loop waits again. Returns the
 * worker's index, or -1 when the calling thread is not a worker loop (then nothing is
 * scheduled: do the work yourself) or another fn/ctx is already scheduled there. Scheduling
 * the same fn/ctx again before it ran is free and runs it once. */
typedef void (*cf_http_later_fn)(void *ctx, int worker);
int cf_http_later(cf_http_later_fn fn, void *ctx);

/* For a thread that answers many requests in a row off the workers' loops (the API's CPU
 * pool): after cf_http_hold_wakes, cf_http_respond from this thread queues each response for
 * its worker without waking that loop; cf_http_wake_held wakes each worker concerned once and
 * ends the hold. Every hold must end soon (the responses wait until it does): a thread calls
 * cf_http_wake_held before it waits for more work. Harmless on a worker's own thread (its
 * responses are sent at once) and when nothing was held. */
void cf_http_hold_wakes(void);
void cf_http_wake_held(void);

/* ---- the admin listener (admin.c): /metrics, /healthz, /readyz ----
 * A second, small HTTP/1.1 server on one address with its own thread and event loop, plain or
 * TLS (cert_file and key_file both set), GET and HEAD only, no request body, heads up to
 * 8 KiB, connections closed after timeout_s of silence. The handler runs on that thread and
 * answers synchronously by filling *out (status, Content-Type, body; HEAD sends the length
 * only); it must be quick (a scrape or a trivial store read). */
struct cf_http_admin_reply {
    int status;               /* default 500 */
    const char *content_type; /* static string; default "text/plain; charset=utf-8" */
    struct cf_buf body;       /* initialised by http/ (max 32 MiB) */
};
typedef void (*cf_http_admin_fn)(void *ctx, enum cf_http_method method, struct cf_str path,
                                 struct cf_http_admin_reply *out);
struct cf_http_admin_opts {
    const char *addr;      /* numeric IPv4 or IPv6 ("::1" or "[::1]") */
    int port;              /* 0: the kernel picks (cf_http_admin_port) */
    const char *cert_file; /* PEM chain and key for TLS; both NULL: plain HTTP */
    const char *key_file;
    int timeout_s;         /* default 10 */
};
struct cf_http_admin;
/* Binds (refusing a port someone listens on) and loads the certificate; NULL and *err on
 * failure, with a log line. */
struct cf_http_admin *cf_http_admin_new(const struct cf_http_admin_opts *opts,
                                        cf_http_admin_fn fn, void *ctx, cf_err *err);
int cf_http_admin_port(const struct cf_http_admin *a);
/* Starts the thread that serves (once). */
cf_err cf_http_admin_start(struct cf_http_admin *a);
/* Stops the thread (if started) and closes everything. Accepts NULL. */
void cf_http_admin_free(struct cf_http_admin *a);

#endif

/* server.c - workers, connections and requests of the HTTPS front end (libevent evhttp over
 * bufferevent_openssl).
 *
 * Map
 *   process set-up      http_global_init (evthread_use_pthreads once, libevent log -> cf_log)
 *   connections         conn_new (evhttp's bevcb: limit, TLS session, deadline), conn_release
 *                       (from SSL_free), conn_on_input (deadline arming), conn_on_deadline
 *   requests            on_request (evhttp gencb -> one allocation -> handler), send_now,
 *                       cf_http_respond (owner thread: at once; else inbox + wake event)
 *   error pages         evhttp_send_error (link-time override: JSON instead of evhttp's HTML)
 *   lifecycle           cf_http_server_new / run / stop / free, worker_main, maybe_exit
 *
 * Threads: each worker owns one event_base + evhttp + its listeners; every connection, request
 * and counter below it is touched only on that worker's thread, except the inbox (mutex) and the
 * connection count (atomic, shared by all workers).
 *
 * Connection phases and their clocks (a slow client can hold a slot for a bounded time only):
 *   READING   from accept (covers the TLS handshake) or from the first byte of the next request,
 *             until the whole request (head and body) is in: one deadline of header_timeout_s;
 *             when it fires the socket is shut down, evhttp sees EOF and frees the connection.
 *   HANDLING  the handler holds the request; evhttp has reading disabled; no clock.
 *   WRITING   response queued; evhttp's write timeout (idle_timeout_s) applies.
 *   IDLE      keep-alive between requests; evhttp's read timeout (idle_timeout_s) applies. */
#include "base/cf.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "http/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#define LISTEN_BACKLOG 1024
#define STOP_GRACE_S 2 /* how long a stopping worker waits for queued responses to flush */
#define RESP_JOIN_MAX 16384 /* one TLS record's worth of plaintext (send_now) */
#define HEAD_BLOCK_MAX 4096 /* the handler's response headers as one block (send_now) */

enum conn_phase { CONN_READING, CONN_HANDLING, CONN_WRITING, CONN_IDLE };

struct worker;

/* One accepted connection; lives exactly as long as its TLS session (freed from SSL_free). The
 * deadline event is stored right behind the struct (one allocation). */
struct conn {
    struct worker *w;
    struct bufferevent *bev;
    struct conn *prev, *next; /* the worker's list of live connections */
    enum conn_phase phase;
    bool unsent;       /* a response is queued and not yet fully written */
    bool seen;         /* peer address and TCP_NODELAY done (first request) */
    size_t rx;         /* plaintext bytes received since the current request started */
    char peer[64];
    struct event *deadline;
};

/* One request handed to the handler: the public part first, then path+query, host and body in
 * the same allocation. */
struct rq {
    struct cf_http_req pub;
    struct evhttp_request *ev;
    struct worker *w;
    struct conn *conn;
    struct rq *next; /* inbox link */
    /* A response handed over from another thread (copies in resp_block). */
    int status;
    const struct cf_http_hdr *hdrs;
    size_t nhdrs;
    const char *body;
    size_t len;
    void *resp_block;
    alignas(max_align_t) char data[];
};

struct worker {
    struct cf_http_server *srv;
    int idx;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket **bound;
    size_t nbound;
    struct event *stop_ev;  /* the server's stop pipe became readable */
    struct event *wake_ev;  /* activated (thread-safely) when the inbox has responses */
    struct event *grace_ev; /* caps the wait for queued responses when stopping */
    pthread_t thread;
    pthread_t tid; /* the loop thread, set by itself before the loop starts */
    pthread_mutex_t inbox_mu;
    struct rq *inbox_head, *inbox_tail;
    struct conn *conns; /* live connections (owner thread only) */
    size_t held;        /* requests given to the handler and not yet answered */
    size_t unsent;      /* answered, response still being written */
    bool stopping;
    bool grace_armed;
    bool mu_ready;
    bool accept_paused; /* listeners disabled after EMFILE/ENFILE until accept_ev fires */
    struct event *accept_ev;
    int64_t emfile_logged_ms;
};

struct cf_http_server {
    cf_http_handler handler;
    void *ctx;
    struct cf_http_tls *tls;
    size_t max_header_bytes;
    size_t max_body_bytes;
    int max_connections;
    int header_timeout_s;
    int idle_timeout_s;
    int port;
    int stop_pipe[2];
    atomic_int nconns;
    size_t nworkers;
    struct worker *workers;
};

/* ---- process-wide set-up (the one allowed global: a pthread_once flag) ---- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static int http_once_rc;

static void ev_log(int severity, const char *msg)
{
    /* libevent warns about every refused connection; keep those out of the operator's log. */
    if (severity >= EVENT_LOG_ERR)
        cf_error("http: libevent: %s", msg);
    else
        cf_debug("http: libevent: %s", msg);
}

static void http_global_init(void)
{
    struct sigaction sa;

    /* OpenSSL's socket BIO writes with write(2): a peer that reset the connection would raise
     * SIGPIPE and kill the daemon. Ignore it unless someone installed a handler already. */
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
    http_once_rc = evthread_use_pthreads();
    event_set_log_callback(ev_log);
}

/* ---- connections ---- */

static void conn_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    evutil_socket_t s = bufferevent_getfd(c->bev);

    (void)fd;
    (void)what;
    /* Shutting the socket down (rather than freeing anything) lets evhttp find EOF on its own
     * path and free the connection the way it always does. */
    if (s >= 0)
        shutdown(s, SHUT_RDWR);
}

static void conn_arm_deadline(struct conn *c)
{
    struct timeval tv = {c->w->srv->header_timeout_s, 0};

    event_add(c->deadline, &tv);
}

/* Called for every change of the connection's plaintext input buffer (n_added on reads). */
static void conn_on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;

    (void)buf;
    if (info->n_added == 0)
        return;
    if (c->phase == CONN_IDLE) {
        c->phase = CONN_READING;
        c->rx = 0;
        conn_arm_deadline(c);
    }
    c->rx += info->n_added;
}

static void maybe_exit(struct worker *w);

/* From SSL_free, i.e. when evhttp frees the connection's bufferevent (on the owner thread). */
static void conn_release(void *state)
{
    struct conn *c = state;
    struct worker *w = c->w;

    event_del(c->deadline);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->unsent) {
        w->unsent--;
        c->unsent = false;
    }
    atomic_fetch_sub(&w->srv->nconns, 1);
    free(c);
    maybe_exit(w);
}

/* A bufferevent whose setfd fails, so evhttp closes the new socket at once: the only way to
 * refuse a connection from inside evhttp 2.1's accept path (returning NULL would make evhttp
 * serve it in plaintext). */
static struct bufferevent *conn_refuse(struct event_base *base)
{
    struct bufferevent *pair[2];

    if (bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE, pair) != 0)
        return NULL; /* on_request answers 503 to a connection without TLS state */
    bufferevent_free(pair[1]);
    return pair[0];
}

/* evhttp's bevcb: called for every accepted socket, before evhttp attaches the fd. */
static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
    struct worker *w = arg;
    struct cf_http_server *srv = w->srv;
    size_t head = (sizeof(struct conn) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    struct conn *c;
    struct ssl_st *ssl;
    struct bufferevent *bev;

    if (atomic_fetch_add(&srv->nconns, 1) >= srv->max_connections || w->stopping) {
        atomic_fetch_sub(&srv->nconns, 1);
        return conn_refuse(base);
    }
    c = calloc(1, head + event_get_struct_event_size());
    if (c == NULL) {
        atomic_fetch_sub(&srv->nconns, 1);
        return conn_refuse(base);
    }
    c->w = w;
    c->deadline = (struct event *)((char *)c + head);
    event_assign(c->deadline, base, -1, 0, conn_on_deadline, c);
    ssl = cf_http_tls_session_new(srv->tls, c);
    if (ssl == NULL) {
        free(c);
        atomic_fetch_sub(&srv->nconns, 1);
        return conn_refuse(base);
    }
    /* From here on the session owns c: freeing the session releases it. */
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    /* No BEV_OPT_DEFER_CALLBACKS: the bufferevent is only ever touched on this loop's thread
     * and evhttp copes with re-entrant callbacks; deferring would cost a loop pass per event.
     * No BEV_OPT_THREADSAFE for the same reason. */
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        cf_http_tls_session_free(ssl);
        return conn_refuse(base);
    }
    c->bev = bev;
    /* A client that drops TCP without close_notify is normal, not an error to report. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    if (evbuffer_add_cb(bufferevent_get_input(bev), conn_on_input, c) == NULL) {
        bufferevent_free(bev);
        return conn_refuse(base);
    }
    c->phase = CONN_READING;
    conn_arm_deadline(c);
    return bev;
}

static struct conn *conn_of(struct evhttp_connection *evcon)
{
    struct bufferevent *bev;

    if (evcon == NULL)
        return NULL;
    bev = evhttp_connection_get_bufferevent(evcon);
    return bev != NULL ? cf_http_tls_session_state(bufferevent_openssl_get_ssl(bev)) : NULL;
}

/* First request on a connection: the peer's address (IPv4-mapped shown as IPv4) and
 * TCP_NODELAY (evhttp writes head and body separately; without it Nagle + delayed ACK add
 * 40 ms per response, DESIGN.md §5). */
static void conn_first_request(struct conn *c, struct evhttp_connection *evcon)
{
    const struct sockaddr *sa = evhttp_connection_get_addr(evcon);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    int one = 1;

    c->seen = true;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, c->peer,
                  sizeof(c->peer));
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], c->peer, sizeof(c->peer));
        else
            inet_ntop(AF_INET6, a, c->peer, sizeof(c->peer));
    }
}

/* ---- requests ---- */

static enum cf_http_method method_of(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return CF_HTTP_GET;
    case EVHTTP_REQ_HEAD: return CF_HTTP_HEAD;
    case EVHTTP_REQ_POST: return CF_HTTP_POST;
    case EVHTTP_REQ_PUT: return CF_HTTP_PUT;
    case EVHTTP_REQ_PATCH: return CF_HTTP_PATCH;
    case EVHTTP_REQ_DELETE: return CF_HTTP_DELETE;
    case EVHTTP_REQ_OPTIONS: return CF_HTTP_OPTIONS;
    default: return CF_HTTP_OTHER;
    }
}

/* Writes a JSON error of http/'s own and ends the request (Connection: close). */
static void send_own_error(struct evhttp_request *ev, int status)
{
    char body[256];
    size_t n = cf_http_error_body(status, body, sizeof(body));
    struct evkeyvalq *oh = evhttp_request_get_output_headers(ev);
    struct evbuffer *ob = evhttp_request_get_output_buffer(ev);

    /* A request line that never parsed leaves the version at 0.0; answer as HTTP/1.1. */
    if (ev->major != 1) {
        ev->major = 1;
        ev->minor = 1;
    }
    evhttp_clear_headers(oh);
    evhttp_add_header(oh, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(oh, "Connection", "close");
    evbuffer_drain(ob, evbuffer_get_length(ob));
    if (evhttp_request_get_command(ev) != EVHTTP_REQ_HEAD)
        evbuffer_add(ob, body, n);
    evhttp_send_reply(ev, status, cf_http_reason(status), NULL);
}

/* Overrides libevent's own evhttp_send_error, which libevent 2.1 calls (through the PLT, so a
 * definition in the executable wins) for the errors it generates itself: unparsable request
 * (400), head or body over the limit (400/413), method not allowed (501), bad Expect (417).
 * 2.1 has no hook for these (evhttp_set_errorcb arrived in 2.2) and its page is HTML; every
 * error http/ answers must be Azure-shaped JSON. Rule zero: this replaces a library symbol;
 * the unit test test_limits checks the JSON arrives, so a libevent built with -Bsymbolic (which
 * would silently bring the HTML back) fails the build's tests rather than the clients. */
void evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
    struct conn *c = conn_of(evhttp_request_get_connection(req));

    (void)reason;
    /* evhttp reports a head over max_header_bytes as a generic 400 and has already freed what
     * would tell the two apart; a request that got this far with more bytes than the head may
     * hold is, in practice, one whose head was too large. */
    if (error == 400 && c != NULL && evhttp_request_get_uri(req) == NULL &&
        c->rx > c->w->srv->max_header_bytes)
        error = 431;
    send_own_error(req, error);
}

static void maybe_exit(struct worker *w)
{
    struct timeval tv = {STOP_GRACE_S, 0};

    if (!w->stopping || w->held != 0)
        return;
    if (w->unsent == 0)
        event_base_loopexit(w->base, NULL);
    else if (!w->grace_armed) {
        w->grace_armed = true;
        event_add(w->grace_ev, &tv);
    }
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;

    (void)fd;
    (void)what;
    w->grace_armed = false;
    if (w->held == 0)
        event_base_loopexit(w->base, NULL);
}

/* evhttp: the response was written completely. */
static void on_complete(struct evhttp_request *ev, void *arg)
{
    struct conn *c = arg;

    (void)ev;
    c->phase = CONN_IDLE;
    if (c->unsent) {
        c->unsent = false;
        c->w->unsent--;
        maybe_exit(c->w);
    }
}

/* evhttp's gencb: the whole request (head and body) is in. */
static void on_request(struct evhttp_request *ev, void *arg)
{
    struct worker *w = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    struct conn *c = conn_of(evcon);
    const char *uri = evhttp_request_get_uri(ev);
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(ev), "Host");
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t ulen, hlen, blen;
    struct rq *rq;
    char *p;
    const char *q;

    if (c == NULL) {
        /* No TLS state: a connection we could not set up properly. Never hand it on. */
        send_own_error(ev, 503);
        return;
    }
    c->phase = CONN_HANDLING;
    event_del(c->deadline);
    if (!c->seen)
        conn_first_request(c, evcon);
    evhttp_request_set_on_complete_cb(ev, on_complete, c);

    ulen = uri != NULL ? strlen(uri) : 0;
    hlen = host != NULL ? strlen(host) : 0;
    blen = evbuffer_get_length(in);
    rq = malloc(sizeof(*rq) + ulen + 1 + hlen + 1 + blen + 1);
    if (rq == NULL) {
        send_own_error(ev, 503);
        return;
    }
    memset(rq, 0, sizeof(*rq));
    rq->ev = ev;
    rq->w = w;
    rq->conn = c;
    rq->pub.impl = rq;
    rq->pub.worker = w->idx;
    rq->pub.method = method_of(evhttp_request_get_command(ev));
    memcpy(rq->pub.peer_ip, c->peer, sizeof(rq->pub.peer_ip));

    p = rq->data;
    if (ulen > 0)
        memcpy(p, uri, ulen);
    p[ulen] = '\0';
    q = memchr(p, '?', ulen);
    if (q != NULL) {
        rq->pub.path = (struct cf_str){p, (size_t)(q - p)};
        rq->pub.query = (struct cf_str){q + 1, ulen - (size_t)(q - p) - 1};
    } else {
        rq->pub.path = (struct cf_str){p, ulen};
        rq->pub.query = (struct cf_str){p + ulen, 0};
    }
    p += ulen + 1;
    if (hlen > 0)
        memcpy(p, host, hlen);
    p[hlen] = '\0';
    rq->pub.host = (struct cf_str){p, hlen};
    p += hlen + 1;
    /* The one copy of the body: out of evhttp's chain of chunks into our contiguous block. */
    if (blen > 0)
        evbuffer_remove(in, p, blen);
    p[blen] = '\0';
    rq->pub.body = (struct cf_str){p, blen};

    w->held++;
    w->srv->handler(&rq->pub, w->srv->ctx);
}

/* RFC 9110 token characters (a header name). */
static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A header evhttp may add, remove or read in the response: it must be in its list. */
static bool evhttp_reads_header(const char *name)
{
    return strcasecmp(name, "Connection") == 0 || strcasecmp(name, "Content-Length") == 0 ||
           strcasecmp(name, "Transfer-Encoding") == 0 || strcasecmp(name, "Date") == 0;
}

/* A non-empty token name and a value without CR, LF or other control characters but tab
 * (stricter than evhttp, which allows folded lines). Sets the lengths. */
static bool header_ok(const char *name, const char *value, size_t *nl, size_t *vl)
{
    size_t i;

    for (i = 0; name[i] != '\0'; i++)
        if (!tchar((unsigned char)name[i]))
            return false;
    *nl = i;
    for (i = 0; value[i] != '\0'; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    *vl = i;
    return *nl > 0;
}

static void send_now(struct rq *rq, int status, const struct cf_http_hdr *hdrs, size_t nhdrs,
                     const char *body, size_t len)
{
    struct evhttp_request *ev = rq->ev;
    struct worker *w = rq->w;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(ev);
    struct bufferevent *bev = NULL;
    bool bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);

    char head[HEAD_BLOCK_MAX];
    size_t hl = 0;
    const char *reason = cf_http_reason(status);

    /* The handler's headers ride in the status line's reason slot as one block ("OK\r\nName:
     * value\r\nName: value"): evhttp writes "HTTP/1.1 <code> <reason>\r\n", then its own
     * headers, then the blank line. Per header, evhttp_add_header costs three mallocs and
     * three frees and evhttp_make_header a printf (measured: about 4 µs of a GET with 11
     * headers). The block is checked as evhttp would check them (a token name; no CR or LF in
     * the value, so a handler still cannot split the response); the headers evhttp itself
     * reads (Connection, Content-Length, Transfer-Encoding, Date) and whatever does not fit
     * go through evhttp_add_header as before. */
    hl = (size_t)snprintf(head, sizeof(head), "%s", reason);
    for (size_t i = 0; i < nhdrs; i++) {
        const char *n = hdrs[i].name, *v = hdrs[i].value;
        size_t nl, vl;
        if (n == NULL || v == NULL || !header_ok(n, v, &nl, &vl)) {
            cf_warn("http: dropped an invalid response header");
            continue;
        }
        if (!evhttp_reads_header(n) && hl + 4 + nl + vl < sizeof(head)) {
            memcpy(head + hl, "\r\n", 2);
            memcpy(head + hl + 2, n, nl);
            memcpy(head + hl + 2 + nl, ": ", 2);
            memcpy(head + hl + 4 + nl, v, vl);
            hl += 4 + nl + vl;
            head[hl] = '\0';
        } else if (evhttp_add_header(oh, n, v) != 0) {
            cf_warn("http: dropped an invalid response header");
        }
    }
    if (!bodiless) {
        if (rq->pub.method == CF_HTTP_HEAD) {
            /* evhttp leaves Content-Length to us for HEAD: the length a GET would have. */
            char cl[24];
            snprintf(cl, sizeof(cl), "%zu", len);
            evhttp_add_header(oh, "Content-Length", cl);
        } else if (len > 0) {
            evbuffer_add(evhttp_request_get_output_buffer(ev), body, len);
        }
    }
    if (w->stopping)
        evhttp_add_header(oh, "Connection", "close");
    /* The connection exists as long as evhttp still links the request to it. */
    if (evhttp_request_get_connection(ev) != NULL) {
        rq->conn->phase = CONN_WRITING;
        rq->conn->unsent = true;
        w->unsent++;
        bev = rq->conn->bev;
    }
    evhttp_send_reply(ev, status, head, NULL);
    /* evhttp leaves the head and the body in separate chains of the connection's output, and
     * bufferevent_openssl writes each chain with its own SSL_write: two TLS records, two
     * write(2)s and two TCP segments per response. The write runs only when the loop next sees
     * the socket writable, so joining the first RESP_JOIN_MAX bytes into one chain here makes a
     * small response one record and one segment (measured: about 2 writes -> 1 per GET). */
    if (bev != NULL) {
        struct evbuffer *out = bufferevent_get_output(bev);
        size_t n = evbuffer_get_length(out);
        if (n > 0)
            (void)evbuffer_pullup(out, (ev_ssize_t)(n < RESP_JOIN_MAX ? n : RESP_JOIN_MAX));
    }
    w->held--;
    free(rq->resp_block);
    free(rq);
    maybe_exit(w);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct rq *rq, *next;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->inbox_mu);
    rq = w->inbox_head;
    w->inbox_head = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_mu);
    for (; rq != NULL; rq = next) {
        next = rq->next;
        send_now(rq, rq->status, rq->hdrs, rq->nhdrs, rq->body, rq->len);
    }
}

const char *cf_http_header(const struct cf_http_req *req, const char *name)
{
    const struct rq *rq = req->impl;

    return evhttp_find_header(evhttp_request_get_input_headers(rq->ev), name);
}

void cf_http_respond(struct cf_http_req *req, int status, const struct cf_http_hdr *hdrs,
                     size_t nhdrs, const char *body, size_t len)
{
    struct rq *rq = req->impl;
    struct worker *w = rq->w;
    size_t need = nhdrs * sizeof(struct cf_http_hdr) + len;
    struct cf_http_hdr *h;
    char *p;

    if (pthread_equal(pthread_self(), w->tid)) {
        send_now(rq, status, hdrs, nhdrs, body, len);
        return;
    }
    /* Another thread: copy everything (the caller may free it on return) and let the owning
     * loop send it. */
    for (size_t i = 0; i < nhdrs; i++)
        need += strlen(hdrs[i].name) + 1 + strlen(hdrs[i].value) + 1;
    rq->resp_block = malloc(need > 0 ? need : 1);
    if (rq->resp_block == NULL) {
        static const char oom[] = "{\"error\":{\"code\":\"ServiceUnavailable\","
                                  "\"message\":\"The server cannot take the request now.\"}}";
        static const struct cf_http_hdr oom_hdrs[] = {
            {"Content-Type", "application/json; charset=utf-8"}};
        rq->status = 503;
        rq->hdrs = oom_hdrs;
        rq->nhdrs = 1;
        rq->body = oom;
        rq->len = sizeof(oom) - 1;
    } else {
        h = rq->resp_block;
        p = (char *)(h + nhdrs);
        for (size_t i = 0; i < nhdrs; i++) {
            size_t nl = strlen(hdrs[i].name) + 1, vl = strlen(hdrs[i].value) + 1;
            h[i].name = memcpy(p, hdrs[i].name, nl);
            p += nl;
            h[i].value = memcpy(p, hdrs[i].value, vl);
            p += vl;
        }
        if (len > 0)
            memcpy(p, body, len);
        rq->status = status;
        rq->hdrs = h;
        rq->nhdrs = nhdrs;
        rq->body = p;
        rq->len = len;
    }
    rq->next = NULL;
    pthread_mutex_lock(&w->inbox_mu);
    if (w->inbox_tail != NULL)
        w->inbox_tail->next = rq;
    else
        w->inbox_head = rq;
    w->inbox_tail = rq;
    pthread_mutex_unlock(&w->inbox_mu);
    /* Thread-safe with evthread; activations before the loop gets to it coalesce. A thread
     * holding its wakes (cf_http_hold_wakes) fires it later, once for several responses. */
    if (!http_hold_wake(w->wake_ev))
        event_active(w->wake_ev, EV_READ, 0);
}

/* ---- lifecycle ---- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;

    (void)fd;
    (void)what;
    if (w->stopping)
        return;
    w->stopping = true;
    /* Stop accepting; connections already in are answered (with Connection: close). */
    for (size_t i = 0; i < w->nbound; i++)
        evhttp_del_accept_socket(w->http, w->bound[i]);
    w->nbound = 0;
    event_del(w->stop_ev);
    maybe_exit(w);
}

/* Out of file descriptors (EMFILE/ENFILE): a level-triggered listener would spin on the same
 * pending connection. Stop accepting on this worker for 100 ms (the pending peers wait in the
 * backlog), then resume; log at most once a minute. */
static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    w->accept_paused = false;
    if (w->stopping)
        return;
    for (size_t i = 0; i < w->nbound; i++)
        evconnlistener_enable(evhttp_bound_socket_get_listener(w->bound[i]));
}

/* evhttp owns its listeners and passes its own pointer to their callbacks, so the error callback
 * finds its worker through this thread-local, set by each worker thread before its loop runs
 * (rule zero: the one piece of mutable state here outside the server object). */
static _Thread_local struct worker *tl_worker;

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct worker *w = tl_worker;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, 100 * 1000};
    int64_t now = cf_mono_ms();

    (void)l;
    (void)arg;
    if (w == NULL)
        return;
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
        return; /* transient per-connection errors (ECONNABORTED ...): keep accepting */
    if (now - w->emfile_logged_ms > 60000) {
        w->emfile_logged_ms = now;
        cf_warn("http: out of file descriptors or memory accepting connections (%s); "
                "pausing accepts briefly - raise the open-file limit or lower max_connections",
                strerror(err));
    }
    if (w->accept_paused || w->accept_ev == NULL)
        return;
    w->accept_paused = true;
    for (size_t i = 0; i < w->nbound; i++)
        evconnlistener_disable(evhttp_bound_socket_get_listener(w->bound[i]));
    evtimer_add(w->accept_ev, &tv);
}

static cf_err worker_init(struct worker *w, struct cf_http_server *srv, int idx)
{
    w->srv = srv;
    w->idx = idx;
    if (pthread_mutex_init(&w->inbox_mu, NULL) != 0)
        return CF_EINTERNAL;
    w->mu_ready = true;
    w->base = event_base_new();
    if (w->base == NULL)
        return CF_ENOMEM;
    w->http = evhttp_new(w->base);
    w->stop_ev = event_new(w->base, srv->stop_pipe[0], EV_READ | EV_PERSIST, on_stop, w);
    w->wake_ev = event_new(w->base, -1, 0, on_wake, w);
    w->grace_ev = event_new(w->base, -1, 0, on_grace, w);
    w->accept_ev = evtimer_new(w->base, on_accept_resume, w);
    if (w->http == NULL || w->stop_ev == NULL || w->wake_ev == NULL || w->grace_ev == NULL ||
        w->accept_ev == NULL || event_add(w->stop_ev, NULL) != 0)
        return CF_ENOMEM;
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
    evhttp_set_max_headers_size(w->http, (ev_ssize_t)srv->max_header_bytes);
    evhttp_set_max_body_size(w->http, (ev_ssize_t)srv->max_body_bytes);
    evhttp_set_timeout(w->http, srv->idle_timeout_s);
    /* No default Content-Type: evhttp's is text/html, which Coffer never sends. */
    evhttp_set_default_content_type(w->http, NULL);
    /* Drain an oversized body before answering 413 so the client reads the answer instead of
     * a reset (bounded by the request deadline). */
    evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_bevcb(w->http, conn_new, w);
    evhttp_set_gencb(w->http, on_request, w);
    return CF_OK;
}

static cf_err worker_listen(struct worker *w, const struct cf_http_opts *opts)
{
    cf_err e = CF_OK;

    w->bound = calloc(opts->naddrs, sizeof(*w->bound));
    if (w->bound == NULL)
        return CF_ENOMEM;
    for (size_t i = 0; i < opts->naddrs; i++) {
        int fd = cf_http_listen_socket(opts->addrs[i], w->srv->port, LISTEN_BACKLOG, &e);
        if (fd < 0)
            return e;
        w->bound[w->nbound] = evhttp_accept_socket_with_handle(w->http, fd);
        if (w->bound[w->nbound] == NULL) {
            close(fd);
            return CF_ENOMEM;
        }
        evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(w->bound[w->nbound]),
                                    on_accept_error);
        w->nbound++;
    }
    return CF_OK;
}

struct cf_http_server *cf_http_server_new(const struct cf_http_opts *opts, cf_http_handler h,
                                          void *ctx, cf_err *err)
{
    struct cf_http_server *srv = NULL;
    cf_err e = CF_EINVAL;
    long ncpu;

    pthread_once(&http_once, http_global_init);
    if (http_once_rc != 0) {
        cf_error("http: evthread_use_pthreads failed");
        e = CF_EINTERNAL;
        goto fail;
    }
    if (opts == NULL || h == NULL || opts->addrs == NULL || opts->naddrs == 0 || opts->port < 0 ||
        opts->port > 65535 || opts->threads < 0 || opts->max_connections < 0 ||
        opts->header_timeout_s < 0 || opts->idle_timeout_s < 0 ||
        opts->max_header_bytes > (size_t)INT32_MAX || opts->max_body_bytes > (size_t)INT32_MAX) {
        cf_error("http: invalid server options");
        goto fail;
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        e = CF_ENOMEM;
        goto fail;
    }
    srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
    srv->handler = h;
    srv->ctx = ctx;
    srv->max_header_bytes = opts->max_header_bytes ? opts->max_header_bytes : CF_MAX_HEADER_BYTES;
    srv->max_body_bytes = opts->max_body_bytes ? opts->max_body_bytes : CF_MAX_BODY_BYTES;
    srv->max_connections = opts->max_connections ? opts->max_connections : 10000;
    srv->header_timeout_s = opts->header_timeout_s ? opts->header_timeout_s : 10;
    srv->idle_timeout_s = opts->idle_timeout_s ? opts->idle_timeout_s : 120;
    atomic_init(&srv->nconns, 0);
    srv->tls = cf_http_tls_new(opts->cert_file, opts->key_file, conn_release, &e);
    if (srv->tls == NULL)
        goto fail;
    if (pipe2(srv->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        e = CF_EIO;
        goto fail;
    }

    /* Port free? (and, for port 0, which one) - before any SO_REUSEPORT socket exists. */
    srv->port = opts->port;
    for (size_t i = 0; i < opts->naddrs; i++) {
        int got = 0;
        e = cf_http_port_probe(opts->addrs[i], srv->port, &got);
        if (e != CF_OK)
            goto fail;
        srv->port = got;
    }

    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    srv->nworkers = opts->threads > 0 ? (size_t)opts->threads : (size_t)(ncpu > 0 ? ncpu : 1);
    srv->workers = calloc(srv->nworkers, sizeof(*srv->workers));
    if (srv->workers == NULL) {
        e = CF_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < srv->nworkers; i++) {
        e = worker_init(&srv->workers[i], srv, (int)i);
        if (e != CF_OK)
            goto fail;
        e = worker_listen(&srv->workers[i], opts);
        if (e != CF_OK)
            goto fail;
    }
    *err = CF_OK;
    return srv;

fail:
    cf_http_server_free(srv);
    *err = e;
    return NULL;
}

int cf_http_server_port(const struct cf_http_server *srv)
{
    return srv->port;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct http_later *later;

    w->tid = pthread_self();
    tl_worker = w;
    later = http_later_attach(w->base, w->idx);
    /* Without NO_EXIT_ON_EMPTY a stopping worker whose only pending work is an answer coming
     * from another thread (an event_active, not a registered event) would leave its loop. */
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    http_later_detach(later);
    return NULL;
}

cf_err cf_http_server_run(struct cf_http_server *srv)
{
    size_t started = 0;
    cf_err e = CF_OK;

    for (; started < srv->nworkers; started++) {
        if (pthread_create(&srv->workers[started].thread, NULL, worker_main,
                           &srv->workers[started]) != 0) {
            cf_error("http: cannot start worker thread %zu", started);
            e = CF_EINTERNAL;
            cf_http_server_stop(srv);
            break;
        }
        pthread_setname_np(srv->workers[started].thread, "cf-http"); /* top -H, perf */
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(srv->workers[i].thread, NULL);
    return e;
}

void cf_http_server_stop(struct cf_http_server *srv)
{
    /* write(2) is async-signal-safe; the byte is never read, so every worker's (level-triggered)
     * event on the pipe fires, whenever it looks. */
    if (srv != NULL && srv->stop_pipe[1] >= 0) {
        ssize_t n = write(srv->stop_pipe[1], "s", 1);
        (void)n; /* a full pipe already holds a stop byte */
    }
}

static void worker_release(struct worker *w)
{
    if (w->stop_ev != NULL)
        event_free(w->stop_ev);
    if (w->wake_ev != NULL)
        event_free(w->wake_ev);
    if (w->grace_ev != NULL)
        event_free(w->grace_ev);
    if (w->accept_ev != NULL)
        event_free(w->accept_ev);
    /* No deadline may fire while evhttp tears the connections down. */
    for (struct conn *c = w->conns; c != NULL; c = c->next)
        event_del(c->deadline);
    if (w->http != NULL)
        evhttp_free(w->http); /* listeners and connections */
    if (w->base != NULL) {
        /* bufferevents finalize on the loop: run it once so every session (and conn) is freed. */
        event_base_loop(w->base, EVLOOP_NONBLOCK);
        event_base_free(w->base);
    }
    free(w->bound);
    if (w->mu_ready)
        pthread_mutex_destroy(&w->inbox_mu);
}

void cf_http_server_free(struct cf_http_server *srv)
{
    if (srv == NULL)
        return;
    for (size_t i = 0; srv->workers != NULL && i < srv->nworkers; i++)
        worker_release(&srv->workers[i]);
    free(srv->workers);
    cf_http_tls_free(srv->tls);
    if (srv->stop_pipe[0] >= 0)
        close(srv->stop_pipe[0]);
    if (srv->stop_pipe[1] >= 0)
        close(srv->stop_pipe[1]);
    free(srv);
}

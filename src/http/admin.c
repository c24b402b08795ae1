/* admin.c - the admin listener: a second, small HTTP/1.1 server (plain, or TLS with the given
 * certificate) on one address, one thread and one event loop of its own, for /metrics,
 * /healthz and /readyz (DESIGN.md §3). It shares nothing with the API workers, so a scrape
 * never waits behind client traffic and an API overload never hides the health endpoints.
 *
 * Map: admin_global_init (evthread once), on_request (the handler answers synchronously into
 * a buffer), admin_bev (TLS sessions), cf_http_admin_new / _port / _start / _free.
 *
 * Limits: GET and HEAD only (evhttp answers 501 to other methods), heads up to 8 KiB,
 * no body, a connection idle or slow for timeout_s is closed. Errors libevent answers itself
 * go through server.c's evhttp_send_error override (JSON, as everywhere in http/). */
#include "base/cf.h"
#include "base/log.h"
#include "http/http.h"
#include "http/http_int.h"

#include <pthread.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#define ADMIN_MAX_BODY (32u << 20) /* largest answer (a full exposition is far smaller) */

struct cf_http_admin {
    cf_http_admin_fn fn;
    void *ctx;
    struct event_base *base;
    struct evhttp *http;
    struct cf_http_tls *tls; /* NULL: plain HTTP */
    int port;
    pthread_t thread;
    bool running;
};

static pthread_once_t admin_once = PTHREAD_ONCE_INIT;
static int admin_once_rc;

static void admin_global_init(void)
{
    /* the same callbacks cf_http_server_new installs; installing them twice is harmless */
    admin_once_rc = evthread_use_pthreads();
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct cf_http_admin *a = arg;
    const char *uri = evhttp_request_get_uri(ev);
    const char *q;
    struct cf_http_admin_reply rep = {.status = 500, .content_type = "text/plain; charset=utf-8"};
    struct evkeyvalq *oh = evhttp_request_get_output_headers(ev);
    enum cf_http_method m =
        evhttp_request_get_command(ev) == EVHTTP_REQ_HEAD ? CF_HTTP_HEAD : CF_HTTP_GET;
    struct cf_str path;

    if (!uri)
        uri = "";
    q = strchr(uri, '?');
    path = (struct cf_str){uri, q ? (size_t)(q - uri) : strlen(uri)};
    cf_buf_init(&rep.body, ADMIN_MAX_BODY);
    a->fn(a->ctx, m, path, &rep);
    if (rep.status < 100 || rep.status > 599)
        rep.status = 500;
    evhttp_add_header(oh, "Content-Type", rep.content_type ? rep.content_type : "text/plain");
    evhttp_add_header(oh, "Cache-Control", "no-store");
    if (m == CF_HTTP_HEAD) {
        char cl[24];
        snprintf(cl, sizeof(cl), "%zu", rep.body.len);
        evhttp_add_header(oh, "Content-Length", cl);
    } else if (rep.body.len) {
        evbuffer_add(evhttp_request_get_output_buffer(ev), rep.body.data, rep.body.len);
    }
    evhttp_send_reply(ev, rep.status, cf_http_reason(rep.status), NULL);
    cf_buf_release(&rep.body);
}

/* evhttp's bevcb when TLS is on: a server session for each accepted socket. */
static struct bufferevent *admin_bev(struct event_base *base, void *arg)
{
    struct cf_http_admin *a = arg;
    struct ssl_st *ssl = cf_http_tls_session_new(a->tls, NULL);
    struct bufferevent *bev;

    if (!ssl)
        return NULL; /* evhttp then uses a plain socket: the handshake fails, nothing leaks */
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        cf_http_tls_session_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

struct cf_http_admin *cf_http_admin_new(const struct cf_http_admin_opts *o, cf_http_admin_fn fn,
                                        void *ctx, cf_err *err)
{
    struct cf_http_admin *a = NULL;
    cf_err e = CF_EINVAL;
    int fd = -1, timeout;

    pthread_once(&admin_once, admin_global_init);
    if (admin_once_rc != 0) {
        e = CF_EINTERNAL;
        goto fail;
    }
    if (!o || !fn || !o->addr || o->port < 0 || o->port > 65535 ||
        (!o->cert_file != !o->key_file)) {
        cf_error("http: invalid admin listener options");
        goto fail;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        e = CF_ENOMEM;
        goto fail;
    }
    a->fn = fn;
    a->ctx = ctx;
    if (o->cert_file) {
        a->tls = cf_http_tls_new(o->cert_file, o->key_file, NULL, &e);
        if (!a->tls)
            goto fail;
    }
    /* the probe refuses a port someone listens on (SO_REUSEPORT would share it silently) */
    if ((e = cf_http_port_probe(o->addr, o->port, &a->port)) != CF_OK)
        goto fail;
    fd = cf_http_listen_socket(o->addr, a->port, 64, &e);
    if (fd < 0)
        goto fail;
    e = CF_ENOMEM;
    a->base = event_base_new();
    if (!a->base)
        goto fail;
    a->http = evhttp_new(a->base);
    if (!a->http)
        goto fail;
    timeout = o->timeout_s > 0 ? o->timeout_s : 10;
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_max_headers_size(a->http, 8192);
    evhttp_set_max_body_size(a->http, 0);
    evhttp_set_timeout(a->http, timeout);
    evhttp_set_default_content_type(a->http, NULL);
    evhttp_set_gencb(a->http, on_request, a);
    if (a->tls)
        evhttp_set_bevcb(a->http, admin_bev, a);
    if (!evhttp_accept_socket_with_handle(a->http, fd))
        goto fail;
    fd = -1; /* evhttp owns it */
    *err = CF_OK;
    return a;

fail:
    if (fd >= 0)
        close(fd);
    cf_http_admin_free(a);
    *err = e;
    return NULL;
}

int cf_http_admin_port(const struct cf_http_admin *a)
{
    return a->port;
}

static void *admin_main(void *arg)
{
    struct cf_http_admin *a = arg;
    event_base_loop(a->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

cf_err cf_http_admin_start(struct cf_http_admin *a)
{
    if (a->running)
        return CF_EINVAL;
    if (pthread_create(&a->thread, NULL, admin_main, a) != 0)
        return CF_EINTERNAL;
    a->running = true;
    return CF_OK;
}

void cf_http_admin_free(struct cf_http_admin *a)
{
    if (!a)
        return;
    if (a->running) {
        event_base_loopexit(a->base, NULL); /* thread-safe: evthread is on */
        pthread_join(a->thread, NULL);
    }
    if (a->http)
        evhttp_free(a->http);
    if (a->base) {
        event_base_loop(a->base, EVLOOP_NONBLOCK); /* finalize bufferevents (TLS sessions) */
        event_base_free(a->base);
    }
    cf_http_tls_free(a->tls);
    free(a);
}

/* fetch.c - cf_http_fetch (fetch.h): one blocking HTTP(S) request on a private event base.
 *
 * TLS: a client SSL_CTX per call (these calls are rare: an ACME order is a dozen requests),
 * verifying the chain against ca_file (or the default paths) and the host name (SSL_set1_host),
 * with SNI. The response body is bounded by CF_HTTP_FETCH_BODY_MAX. */
#include "base/cf.h"
#include "base/log.h"
#include "http/fetch.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct fetch_ctx {
    struct cf_http_fetch_resp *out;
    struct event_base *base;
    bool done, failed;
};

void cf_http_fetch_resp_release(struct cf_http_fetch_resp *r)
{
    if (r)
        cf_buf_release(&r->body);
}

static void copy_header(struct evkeyvalq *h, const char *name, char *out, size_t n)
{
    const char *v = evhttp_find_header(h, name);
    out[0] = '\0';
    if (v && strlen(v) < n)
        memcpy(out, v, strlen(v) + 1);
}

static void done_cb(struct evhttp_request *req, void *arg)
{
    struct fetch_ctx *c = arg;
    struct evbuffer *in;
    size_t len;

    c->done = true;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        c->failed = true;
        event_base_loopexit(c->base, NULL);
        return;
    }
    c->out->status = evhttp_request_get_response_code(req);
    copy_header(evhttp_request_get_input_headers(req), "Location", c->out->location,
                sizeof(c->out->location));
    copy_header(evhttp_request_get_input_headers(req), "Replay-Nonce", c->out->replay_nonce,
                sizeof(c->out->replay_nonce));
    copy_header(evhttp_request_get_input_headers(req), "Content-Type", c->out->content_type,
                sizeof(c->out->content_type));
    copy_header(evhttp_request_get_input_headers(req), "WebHook-Allowed-Origin",
                c->out->allowed_origin, sizeof(c->out->allowed_origin));
    in = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(in);
    if (len > CF_HTTP_FETCH_BODY_MAX || cf_buf_reserve(&c->out->body, len) != CF_OK) {
        c->failed = true;
    } else {
        evbuffer_remove(in, c->out->body.data, len);
        c->out->body.len = len;
        c->out->body.data[len] = '\0';
    }
    event_base_loopexit(c->base, NULL);
}

cf_err cf_http_fetch(const char *method, const char *url, const char *content_type,
                     const void *body, size_t n, const char *ca_file, int timeout_s,
                     struct cf_http_fetch_resp *out)
{
    return cf_http_fetch_ex(method, url, content_type, NULL, body, n, ca_file, timeout_s, out);
}

cf_err cf_http_fetch_ex(const char *method, const char *url, const char *content_type,
                        const char *const *headers, const void *body, size_t n,
                        const char *ca_file, int timeout_s, struct cf_http_fetch_resp *out)
{
    struct evhttp_uri *uri = NULL;
    struct event_base *base = NULL;
    struct evhttp_connection *conn = NULL;
    struct evhttp_request *req = NULL;
    struct bufferevent *bev = NULL;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    struct fetch_ctx fc;
    char target[2048];
    const char *host, *scheme, *path, *query;
    enum evhttp_cmd_type cmd;
    bool tls;
    int port;
    cf_err e = CF_OK;

    memset(out, 0, sizeof(*out));
    cf_buf_init(&out->body, CF_HTTP_FETCH_BODY_MAX);
    if (strcmp(method, "GET") == 0)
        cmd = EVHTTP_REQ_GET;
    else if (strcmp(method, "POST") == 0)
        cmd = EVHTTP_REQ_POST;
    else if (strcmp(method, "HEAD") == 0)
        cmd = EVHTTP_REQ_HEAD;
    else if (strcmp(method, "OPTIONS") == 0)
        cmd = EVHTTP_REQ_OPTIONS;
    else
        return CF_EINVAL;
    if (!url || !(uri = evhttp_uri_parse(url)) || !(host = evhttp_uri_get_host(uri)) ||
        !(scheme = evhttp_uri_get_scheme(uri)) ||
        (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
        e = CF_EINVAL;
        goto out;
    }
    tls = strcmp(scheme, "https") == 0;
    port = evhttp_uri_get_port(uri);
    if (port < 0)
        port = tls ? 443 : 80;
    path = evhttp_uri_get_path(uri);
    query = evhttp_uri_get_query(uri);
    snprintf(target, sizeof(target), "%s%s%s", path && path[0] ? path : "/", query ? "?" : "",
             query ? query : "");
    if (!(base = event_base_new())) {
        e = CF_ENOMEM;
        goto out;
    }
    if (tls) {
        if (!(ctx = SSL_CTX_new(TLS_client_method())) ||
            SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
            (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx)) != 1 ||
            !(ssl = SSL_new(ctx))) {
            cf_warn("http: fetch: TLS set-up failed (CA file %s)", ca_file ? ca_file : "default");
            e = CF_EIO;
            goto out;
        }
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        {
            /* an address is checked against the certificate's IP SANs, a name against its DNS
             * names (and sent as SNI, which takes names only) */
            unsigned char a[16];
            bool ip = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
            if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1
                   : (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1)) {
                e = CF_EIO;
                goto out;
            }
        }
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
            e = CF_ENOMEM;
            goto out;
        }
        ssl = NULL; /* the bufferevent frees it */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!bev) {
            e = CF_ENOMEM;
            goto out;
        }
    }
    conn = evhttp_connection_base_bufferevent_new(base, NULL, bev, host, (unsigned short)port);
    if (!conn) {
        e = CF_ENOMEM;
        goto out;
    }
    bev = NULL; /* the connection owns it */
    evhttp_connection_set_timeout(conn, timeout_s > 0 ? timeout_s : 30);
    memset(&fc, 0, sizeof(fc));
    fc.out = out;
    fc.base = base;
    if (!(req = evhttp_request_new(done_cb, &fc))) {
        e = CF_ENOMEM;
        goto out;
    }
    {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        char hosthdr[300];
        snprintf(hosthdr, sizeof(hosthdr), "%s:%d", host, port);
        evhttp_add_header(h, "Host", hosthdr);
        evhttp_add_header(h, "User-Agent", "coffer-acme/1");
        evhttp_add_header(h, "Accept", "*/*");
        evhttp_add_header(h, "Connection", "close");
        if (content_type)
            evhttp_add_header(h, "Content-Type", content_type);
        for (size_t i = 0; headers && headers[i]; i++) {
            const char *colon = strchr(headers[i], ':');
            char name[64];
            if (!colon || (size_t)(colon - headers[i]) >= sizeof(name)) {
                e = CF_EINVAL;
                goto out;
            }
            memcpy(name, headers[i], (size_t)(colon - headers[i]));
            name[colon - headers[i]] = '\0';
            evhttp_add_header(h, name, colon[1] == ' ' ? colon + 2 : colon + 1);
        }
        if (body && n)
            evbuffer_add(evhttp_request_get_output_buffer(req), body, n);
    }
    if (evhttp_make_request(conn, req, cmd, target) != 0) {
        req = NULL; /* freed by libevent on failure */
        e = CF_EIO;
        goto out;
    }
    req = NULL; /* owned by the connection now */
    event_base_dispatch(base);
    if (!fc.done || fc.failed) {
        unsigned long ossl = ERR_peek_last_error();
        cf_warn("http: fetch %s %s%s failed%s%s", method, host, target, ossl ? ": " : "",
                ossl ? ERR_reason_error_string(ossl) : "");
        ERR_clear_error();
        e = CF_EIO;
    }
out:
    if (req)
        evhttp_request_free(req);
    if (conn)
        evhttp_connection_free(conn);
    if (bev)
        bufferevent_free(bev);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (base)
        event_base_free(base);
    if (uri)
        evhttp_uri_free(uri);
    if (e) {
        cf_buf_release(&out->body);
        cf_buf_init(&out->body, CF_HTTP_FETCH_BODY_MAX);
    }
    return e;
}

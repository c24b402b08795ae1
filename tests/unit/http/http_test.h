/* http_test.h - shared helpers for the http/ tests (header-only; each test_*.c is its own
 * executable): a throwaway EC P-256 certificate, a server running in a thread, a blocking
 * OpenSSL client that speaks raw HTTP/1.1, and a small handler with a few routes. */
#ifndef CF_HTTP_TEST_H
#define CF_HTTP_TEST_H

#include "base/cf.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <setjmp.h>
#include <cmocka.h>

/* Each test file uses a different subset of these helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- certificate ---- */

struct t_cert {
    char dir[64];
    char cert[96];
    char key[96];
};

static void t_cert_make(struct t_cert *tc)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *n;
    FILE *f;

    assert_non_null(pk);
    assert_non_null(x);
    snprintf(tc->dir, sizeof(tc->dir), "/tmp/cf-http-test-XXXXXX");
    assert_non_null(mkdtemp(tc->dir));
    snprintf(tc->cert, sizeof(tc->cert), "%s/cert.pem", tc->dir);
    snprintf(tc->key, sizeof(tc->key), "%s/key.pem", tc->dir);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    f = fopen(tc->cert, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(tc->key, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void t_cert_remove(struct t_cert *tc)
{
    unlink(tc->cert);
    unlink(tc->key);
    rmdir(tc->dir);
}

/* ---- handler ---- */

struct t_async {
    struct cf_http_req *req;
    int delay_ms;
};

static void *t_async_main(void *arg)
{
    struct t_async *a = arg;
    static const char body[] = "{\"async\":true}";
    struct cf_http_hdr h[] = {{"Content-Type", "application/json"}, {"X-Async", "yes"}};

    usleep((useconds_t)a->delay_ms * 1000);
    cf_http_respond(a->req, 200, h, 2, body, sizeof(body) - 1);
    free(a);
    return NULL;
}

/* Routes: /async (answered 50 ms later from another thread), /nocontent (204), /big (100 KB
 * body), /hdrs (valid and invalid response headers), anything else: an echo of what the
 * server parsed. */
static void t_handler(struct cf_http_req *req, void *ctx)
{
    char out[1024];
    int n;
    const char *x;
    struct cf_http_hdr h[] = {{"Content-Type", "text/plain"}};

    (void)ctx;
    if (cf_str_eq_cstr(req->path, "/async")) {
        struct t_async *a = malloc(sizeof(*a));
        pthread_t th;
        a->req = req;
        a->delay_ms = 50;
        if (pthread_create(&th, NULL, t_async_main, a) == 0) {
            pthread_detach(th);
            return;
        }
        free(a);
        cf_http_respond(req, 500, NULL, 0, NULL, 0);
        return;
    }
    if (cf_str_eq_cstr(req->path, "/hdrs")) {
        /* valid headers around ones the server must drop: a value that would split the
         * response, a name that is not a token, an empty name, a NULL value */
        struct cf_http_hdr hh[] = {{"Content-Type", "application/json"},
                                   {"X-One", "1"},
                                   {"X-Evil", "a\r\nX-Injected: yes"},
                                   {"Bad Name", "v"},
                                   {"", "v"},
                                   {"X-Null", NULL},
                                   {"X-Lf", "a\nb"},
                                   {"X-Two", "two words\tand a tab"}};
        cf_http_respond(req, 200, hh, CF_ARRAY_LEN(hh), "{}", 2);
        return;
    }
    if (cf_str_eq_cstr(req->path, "/nocontent")) {
        cf_http_respond(req, 204, NULL, 0, "ignored", 7);
        return;
    }
    if (cf_str_eq_cstr(req->path, "/big")) {
        size_t len = 100 * 1024;
        char *b = malloc(len);
        memset(b, 'b', len);
        cf_http_respond(req, 200, h, 1, b, len);
        free(b);
        return;
    }
    x = cf_http_header(req, "x-test");
    n = snprintf(out, sizeof(out), "m=%d p=%.*s q=%.*s h=%.*s ip=%s x=%s w=%d b=%.*s",
                 (int)req->method, CF_STR_FMT(req->path), CF_STR_FMT(req->query),
                 CF_STR_FMT(req->host), req->peer_ip, x ? x : "-", req->worker,
                 (int)CF_MIN(req->body.len, 64), req->body.p);
    cf_http_respond(req, 200, h, 1, out, (size_t)n);
}

/* ---- server in a thread ---- */

struct t_srv {
    struct cf_http_server *srv;
    pthread_t th;
    int port;
};

static void *t_srv_main(void *arg)
{
    struct t_srv *s = arg;

    cf_http_server_run(s->srv);
    return NULL;
}

static void t_srv_start(struct t_srv *s, struct cf_http_opts *o)
{
    cf_err e;

    s->srv = cf_http_server_new(o, t_handler, NULL, &e);
    assert_non_null(s->srv);
    assert_int_equal(e, CF_OK);
    s->port = cf_http_server_port(s->srv);
    assert_true(s->port > 0);
    assert_int_equal(pthread_create(&s->th, NULL, t_srv_main, s), 0);
}

static void t_srv_stop(struct t_srv *s)
{
    cf_http_server_stop(s->srv);
    pthread_join(s->th, NULL);
    cf_http_server_free(s->srv);
}

static double t_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- client ---- */

struct t_cli {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char buf[512 * 1024];
    size_t have;
};

/* A blocking TCP connection with a receive timeout (so a broken server fails, not hangs). */
static int t_tcp(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct timeval tv = {5, 0};
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &s4->sin_addr);
        len = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connects and completes the TLS handshake; false if either fails. */
static bool t_cli_open(struct t_cli *c, const char *addr, int port)
{
    memset(c, 0, offsetof(struct t_cli, buf));
    c->have = 0;
    c->fd = t_tcp(addr, port);
    if (c->fd < 0)
        return false;
    c->ctx = SSL_CTX_new(TLS_client_method());
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    if (SSL_connect(c->ssl) != 1) {
        ERR_clear_error();
        return false;
    }
    return true;
}

static void t_cli_close(struct t_cli *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->ctx != NULL)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
}

static bool t_cli_send(struct t_cli *c, const char *data, size_t len)
{
    while (len > 0) {
        int n = SSL_write(c->ssl, data, (int)CF_MIN(len, (size_t)INT32_MAX));
        if (n <= 0) {
            ERR_clear_error();
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static bool t_cli_sends(struct t_cli *c, const char *s)
{
    return t_cli_send(c, s, strlen(s));
}

/* Reads more plaintext; false on close, error or timeout. */
static bool t_cli_fill(struct t_cli *c)
{
    int n;

    if (c->have >= sizeof(c->buf))
        return false;
    n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof(c->buf) - c->have));
    if (n <= 0) {
        ERR_clear_error();
        return false;
    }
    c->have += (size_t)n;
    return true;
}

struct t_resp {
    int status;
    char head[4096]; /* status line and headers, NUL-terminated */
    char body[128 * 1024];
    size_t body_len;
};

/* Header value (case-insensitive name) from r->head into out; false if absent. */
static bool t_resp_header(const struct t_resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = strstr(r->head, "\r\n");

    while (p != NULL && p[2] != '\0') {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            const char *e = strstr(v, "\r\n");
            size_t vl;
            while (*v == ' ')
                v++;
            vl = e ? (size_t)(e - v) : strlen(v);
            vl = CF_MIN(vl, cap - 1);
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = strstr(p, "\r\n");
    }
    return false;
}

/* Reads one response; head_only for HEAD requests (no body follows whatever the length). */
static bool t_cli_read(struct t_cli *c, struct t_resp *r, bool head_only)
{
    char *end;
    size_t hl, cl = 0;
    char v[64];

    memset(r, 0, offsetof(struct t_resp, body));
    r->body_len = 0;
    for (;;) {
        end = c->have >= 4 ? memmem(c->buf, c->have, "\r\n\r\n", 4) : NULL;
        if (end != NULL)
            break;
        if (!t_cli_fill(c))
            return false;
    }
    hl = (size_t)(end - c->buf) + 4;
    if (hl >= sizeof(r->head))
        return false;
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
        return false;
    if (!head_only && t_resp_header(r, "Content-Length", v, sizeof(v)))
        cl = (size_t)strtoul(v, NULL, 10);
    if (cl > sizeof(r->body))
        return false;
    while (c->have < hl + cl)
        if (!t_cli_fill(c))
            return false;
    memcpy(r->body, c->buf + hl, cl);
    r->body_len = cl;
    if (cl < sizeof(r->body))
        r->body[cl] = '\0';
    memmove(c->buf, c->buf + hl + cl, c->have - hl - cl);
    c->have -= hl + cl;
    return true;
}

/* One non-blocking SSL_read: true if it found the connection closed (EOF or error); data and
 * "nothing yet" (e.g. only TLS 1.3 session tickets arrived) are false. */
static bool t_cli_read_closed(struct t_cli *c, char *b, int cap)
{
    int fl = fcntl(c->fd, F_GETFL);
    int n, err;

    fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
    n = SSL_read(c->ssl, b, cap);
    err = SSL_get_error(c->ssl, n);
    fcntl(c->fd, F_SETFL, fl);
    ERR_clear_error();
    return n <= 0 && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
}

/* True once the server has closed the connection (read returns EOF/error), waiting up to
 * timeout_s; *waited gets how long that took. */
static bool t_cli_wait_closed(struct t_cli *c, double timeout_s, double *waited)
{
    double t0 = t_now();
    char tmp[256];

    for (;;) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int left = (int)((timeout_s - (t_now() - t0)) * 1000);
        if (left <= 0)
            return false;
        if (SSL_pending(c->ssl) == 0 && poll(&pfd, 1, left) <= 0)
            continue;
        if (t_cli_read_closed(c, tmp, sizeof(tmp))) {
            if (waited != NULL)
                *waited = t_now() - t0;
            return true;
        }
    }
}

static void t_opts(struct cf_http_opts *o, const struct t_cert *tc, const char *const *addrs,
                   size_t naddrs)
{
    memset(o, 0, sizeof(*o));
    o->addrs = addrs;
    o->naddrs = naddrs;
    o->port = 0;
    o->cert_file = tc->cert;
    o->key_file = tc->key;
    o->threads = 2;
}

#endif

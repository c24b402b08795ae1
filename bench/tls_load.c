/* tls_load.c - a small HTTPS load generator for bench/ (built by bench/run.sh with cc, never by
 * CMake). wrk only reuses connections; this tool also opens a NEW TLS CONNECTION PER REQUEST
 * (full handshake, no session resumption, certificate and host name verified like a real
 * client), and doubles as a fast loader for bench/scale.sh (keep-alive PUTs with generated
 * names).
 *
 *   tls_load --connect 127.0.0.1:PORT --host NAME [--sni NAME] [--ca FILE] [--method M] --path P
 *            [--header "K: V"]... [--body S] [--conns N] [--duration S] [--requests N]
 *            [--start N] [--mod M] [--keepalive]
 *
 * The Host header is --host plus ":PORT"; the TLS server name (SNI, and the name the certificate
 * is checked against) is --sni, by default --host. In --host, --path and --body, "{n}" is
 * replaced by a request number ("{N}": the same as 12 digits, a GUID's last group) taken
 * from one shared counter starting at --start (so
 * concurrent clients never repeat a name), taken modulo --mod M when given (to write new
 * versions of M names rather than new names). Each of --conns threads runs one client:
 * connect, handshake, send, read the whole response (Content-Length, chunked or until close),
 * close - or, with --keepalive, keep the connection for the next request. It stops after
 * --duration seconds or --requests requests, whichever comes first.
 *
 * Prints one JSON object: rps, requests, non2xx, errors, p50_ms p75_ms p90_ms p99_ms p999_ms
 * max_ms (latency of each request: from connect start, or from send with --keepalive, to the
 * last byte of the response), duration_s. Exit status 0 unless nothing succeeded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 16
#define RESP_MAX (1 << 20)

struct opts {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *host, *sni, *ca, *method, *path, *body;
    const char *headers[MAX_HEADERS];
    int nheaders, conns, port; /* port: also in the Host header, as browsers and SDKs send it */
    double duration;
    long requests, start, mod;
    bool keepalive;
};

struct shared {
    const struct opts *o;
    SSL_CTX *ctx;
    double t_end;
    atomic_long next; /* next request number */
    atomic_bool stop;
};

struct worker {
    pthread_t tid;
    struct shared *sh;
    float *lat_us; /* one sample per completed request */
    size_t n, cap;
    long non2xx, errors;
    char *req, *resp;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copies template t into out with every "{n}" replaced by n. */
static size_t expand(char *out, size_t cap, const char *t, long n)
{
    size_t len = 0;
    for (const char *p = t; *p && len + 24 < cap;) {
        if (p[0] == '{' && p[1] == 'n' && p[2] == '}') {
            len += (size_t)snprintf(out + len, cap - len, "%ld", n);
            p += 3;
        } else if (p[0] == '{' && p[1] == 'N' && p[2] == '}') { /* 12 digits: a GUID's tail */
            len += (size_t)snprintf(out + len, cap - len, "%012ld", n);
            p += 3;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return len;
}

static int build_request(const struct opts *o, char *out, size_t cap, long n)
{
    char path[2048], body[8192], host[256];
    size_t blen = o->body ? expand(body, sizeof(body), o->body, o->mod > 0 ? n % o->mod : n) : 0;
    int len;

    if (o->mod > 0)
        n %= o->mod;
    expand(path, sizeof(path), o->path, n);
    expand(host, sizeof(host), o->host, n);
    len = snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: %s\r\n", o->method,
                   path, host, o->port, o->keepalive ? "keep-alive" : "close");
    for (int i = 0; i < o->nheaders; i++)
        len += snprintf(out + len, cap - (size_t)len, "%s\r\n", o->headers[i]);
    if (o->body || strcmp(o->method, "POST") == 0 || strcmp(o->method, "PUT") == 0)
        len += snprintf(out + len, cap - (size_t)len, "Content-Length: %zu\r\n", blen);
    len += snprintf(out + len, cap - (size_t)len, "\r\n");
    if (blen && (size_t)len + blen < cap) {
        memcpy(out + len, body, blen);
        len += (int)blen;
    }
    return len;
}

static int tcp_connect(const struct opts *o)
{
    int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static SSL *tls_open(struct shared *sh)
{
    int fd = tcp_connect(sh->o);
    SSL *ssl;
    if (fd < 0)
        return NULL;
    ssl = SSL_new(sh->ctx);
    if (!ssl) {
        close(fd);
        return NULL;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, sh->o->sni);
    if (sh->o->ca)
        SSL_set1_host(ssl, sh->o->sni);
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

static void tls_close(SSL *ssl, bool clean)
{
    int fd;
    if (!ssl)
        return;
    fd = SSL_get_fd(ssl);
    if (clean)
        SSL_shutdown(ssl); /* send close_notify; do not wait for the peer's */
    SSL_free(ssl);
    close(fd);
}

/* Reads one response. Returns the status code, 0 on a read/parse error. *closed is set when
 * the response ends the connection (Connection: close, or read until EOF). */
static int read_response(SSL *ssl, char *buf, bool *closed)
{
    size_t have = 0, hdr_end = 0;
    long clen = -1;
    bool chunked = false;
    int status = 0;

    *closed = false;
    for (;;) {
        if (hdr_end == 0) {
            char *e;
            buf[have] = '\0';
            e = have >= 4 ? strstr(buf, "\r\n\r\n") : NULL;
            if (e) {
                hdr_end = (size_t)(e - buf) + 4;
                if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                    return 0;
                for (char *l = strstr(buf, "\r\n"); l && l < e; l = strstr(l + 2, "\r\n")) {
                    char *h = l + 2;
                    if (strncasecmp(h, "content-length:", 15) == 0)
                        clen = strtol(h + 15, NULL, 10);
                    else if (strncasecmp(h, "transfer-encoding:", 18) == 0 &&
                             strstr(h, "chunked") && strstr(h, "chunked") < strstr(h, "\r\n"))
                        chunked = true;
                    else if (strncasecmp(h, "connection:", 11) == 0 &&
                             strncasecmp(h + 11 + strspn(h + 11, " "), "close", 5) == 0)
                        *closed = true;
                }
            }
        }
        if (hdr_end) {
            if (clen >= 0 && have >= hdr_end + (size_t)clen)
                return status;
            if (chunked && have >= hdr_end + 5 && memcmp(buf + have - 5, "0\r\n\r\n", 5) == 0)
                return status;
            if (status == 204 || status == 304)
                return status;
        }
        if (have + 1 >= RESP_MAX)
            return 0;
        int r = SSL_read(ssl, buf + have, (int)(RESP_MAX - 1 - have));
        if (r <= 0) {
            *closed = true;
            /* A body delimited by the end of the connection is complete at EOF. */
            return hdr_end && clen < 0 && !chunked ? status : 0;
        }
        have += (size_t)r;
    }
}

static void record(struct worker *w, double secs)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 65536;
        float *p = realloc(w->lat_us, cap * sizeof(*p));
        if (!p)
            return;
        w->lat_us = p;
        w->cap = cap;
    }
    w->lat_us[w->n++] = (float)(secs * 1e6);
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    const struct opts *o = sh->o;
    SSL *ssl = NULL;

    while (!atomic_load(&sh->stop)) {
        long n = atomic_fetch_add(&sh->next, 1);
        if (o->requests > 0 && n >= o->start + o->requests) {
            atomic_store(&sh->stop, true);
            break;
        }
        int len = build_request(o, w->req, 16384, n), status;
        bool closed = false;
        double t0 = now_s(), t1;

        if (!ssl && !(ssl = tls_open(sh))) {
            w->errors++;
            ERR_clear_error();
            usleep(1000);
            goto next;
        }
        if (SSL_write(ssl, w->req, len) != len) {
            w->errors++;
            tls_close(ssl, false);
            ssl = NULL;
            goto next;
        }
        status = read_response(ssl, w->resp, &closed);
        t1 = now_s();
        if (status == 0) {
            w->errors++;
            tls_close(ssl, false);
            ssl = NULL;
            goto next;
        }
        record(w, t1 - t0);
        if (status < 200 || status > 299)
            w->non2xx++;
        if (closed || !o->keepalive) {
            tls_close(ssl, !closed);
            ssl = NULL;
        }
    next:
        ERR_clear_error();
        if (now_s() >= sh->t_end)
            atomic_store(&sh->stop, true);
    }
    tls_close(ssl, true);
    return NULL;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double pct(const float *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n)
        i = n - 1;
    return v[i] / 1000.0;
}

static int usage(void)
{
    fprintf(stderr, "usage: tls_load --connect IP:PORT --host NAME [--sni NAME] [--ca FILE] "
                    "[--method M] --path P [--header 'K: V']... [--body S] [--conns N] "
                    "[--duration S] [--requests N] [--start N] [--mod M] [--keepalive]\n");
    return 2;
}

static bool parse_addr(const char *s, struct opts *o)
{
    char ip[128];
    const char *colon = strrchr(s, ':');
    size_t n;
    long port;
    if (!colon || (n = (size_t)(colon - s)) >= sizeof(ip))
        return false;
    memcpy(ip, s, n);
    ip[n] = '\0';
    port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        return false;
    o->port = (int)port;
    memset(&o->addr, 0, sizeof(o->addr));
    if (ip[0] == '[' && ip[n - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&o->addr;
        ip[n - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((unsigned short)port);
        o->addrlen = sizeof(*a);
        return inet_pton(AF_INET6, ip + 1, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)&o->addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((unsigned short)port);
    o->addrlen = sizeof(*a);
    return inet_pton(AF_INET, ip, &a->sin_addr) == 1;
}

int main(int argc, char **argv)
{
    struct opts o = {.method = "GET", .conns = 8, .duration = 10};
    struct shared sh;
    struct worker *ws;
    bool have_addr = false;
    size_t total = 0;
    long non2xx = 0, errors = 0;
    float *all;
    double t0, t1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keepalive") == 0) {
            o.keepalive = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--connect") == 0)
            have_addr = parse_addr(v, &o);
        else if (strcmp(a, "--host") == 0)
            o.host = v;
        else if (strcmp(a, "--sni") == 0)
            o.sni = v;
        else if (strcmp(a, "--ca") == 0)
            o.ca = v;
        else if (strcmp(a, "--method") == 0)
            o.method = v;
        else if (strcmp(a, "--path") == 0)
            o.path = v;
        else if (strcmp(a, "--body") == 0)
            o.body = v;
        else if (strcmp(a, "--header") == 0 && o.nheaders < MAX_HEADERS)
            o.headers[o.nheaders++] = v;
        else if (strcmp(a, "--conns") == 0)
            o.conns = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--duration") == 0)
            o.duration = strtod(v, NULL);
        else if (strcmp(a, "--requests") == 0)
            o.requests = strtol(v, NULL, 10);
        else if (strcmp(a, "--mod") == 0)
            o.mod = strtol(v, NULL, 10);
        else if (strcmp(a, "--start") == 0)
            o.start = strtol(v, NULL, 10);
        else
            return usage();
    }
    if (!have_addr || !o.host || !o.path || o.conns < 1 || o.conns > 4096 || o.duration <= 0)
        return usage();

    if (!o.sni)
        o.sni = o.host;
    sh.o = &o;
    sh.ctx = SSL_CTX_new(TLS_client_method());
    if (!sh.ctx)
        return 1;
    SSL_CTX_set_min_proto_version(sh.ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(sh.ctx, SSL_SESS_CACHE_OFF); /* every handshake is full */
    if (o.ca) {
        if (SSL_CTX_load_verify_locations(sh.ctx, o.ca, NULL) != 1) {
            fprintf(stderr, "tls_load: cannot load CA file %s\n", o.ca);
            return 1;
        }
        SSL_CTX_set_verify(sh.ctx, SSL_VERIFY_PEER, NULL);
    }
    atomic_init(&sh.next, o.start);
    atomic_init(&sh.stop, false);
    ws = calloc((size_t)o.conns, sizeof(*ws));
    if (!ws)
        return 1;
    t0 = now_s();
    sh.t_end = t0 + o.duration;
    for (int i = 0; i < o.conns; i++) {
        ws[i].sh = &sh;
        ws[i].req = malloc(16384);
        ws[i].resp = malloc(RESP_MAX);
        if (!ws[i].req || !ws[i].resp ||
            pthread_create(&ws[i].tid, NULL, run_worker, &ws[i]) != 0) {
            fprintf(stderr, "tls_load: cannot start client %d\n", i);
            return 1;
        }
    }
    for (int i = 0; i < o.conns; i++) {
        pthread_join(ws[i].tid, NULL);
        total += ws[i].n;
        non2xx += ws[i].non2xx;
        errors += ws[i].errors;
    }
    t1 = now_s();
    all = malloc((total ? total : 1) * sizeof(*all));
    if (!all)
        return 1;
    total = 0;
    for (int i = 0; i < o.conns; i++) {
        memcpy(all + total, ws[i].lat_us, ws[i].n * sizeof(*all));
        total += ws[i].n;
    }
    qsort(all, total, sizeof(*all), cmp_float);
    printf("{\"rps\": %.1f, \"requests\": %zu, \"non2xx\": %ld, \"errors\": %ld, "
           "\"p50_ms\": %.3f, \"p75_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"duration_s\": %.2f}\n",
           (double)total / (t1 - t0), total, non2xx, errors, pct(all, total, 50),
           pct(all, total, 75), pct(all, total, 90), pct(all, total, 99), pct(all, total, 99.9),
           total ? all[total - 1] / 1000.0 : 0.0, t1 - t0);
    return total > 0 ? 0 : 1;
}

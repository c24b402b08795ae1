/* idleconns.c - opens many TLS connections to cofferd and holds them idle (overload.sh).
 *
 * usage: idleconns IP PORT SNI N INFLIGHT HOLD_S [HOSTHDR [TIMEOUT_S]]
 * Opens N connections (at most INFLIGHT handshakes at a time, so the listen backlog is not what
 * is measured), completes the TLS handshake (SNI set, certificate not verified: these are load,
 * not clients under test), sends one unauthenticated GET (answered 401 with keep-alive) and
 * reads the whole answer, then frees the TLS state and keeps the bare socket: to the server it
 * is an idle keep-alive TLS connection, to this process only a file descriptor. It then holds
 * the connections HOLD_S seconds, noticing any the server closes, and exits (closing all).
 * Lines on stdout (flushed): "established OK FAILED SECONDS TIMED_OUT", then
 * "held OPEN CLOSED_BY_SERVER". A connection "fails" when connect, handshake or the first
 * answer fails or takes more than TIMEOUT_S (default 20; those also count as TIMED_OUT); a
 * server at its connection limit closes the surplus at accept, which shows up here as failed.
 * Build: cc -O2 -o idleconns idleconns.c -lssl -lcrypto */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum st { S_FREE, S_CONNECTING, S_HANDSHAKE, S_WRITING, S_READING, S_IDLE, S_DONE };

struct conn {
    int fd;
    enum st st;
    SSL *ssl;
    double t0;
    size_t got;
    char buf[4096];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_storage addr;
static socklen_t addrlen;
static SSL_CTX *ctx;
static const char *sni;
static char req[512];
static size_t reqlen;
static int ep;

static void arm(struct conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) != 0)
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

static void drop(struct conn *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->st = S_DONE;
}

static int start(struct conn *c)
{
    int one = 1;
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->t0 = now();
    c->got = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, addrlen) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->st = S_CONNECTING;
    arm(c, EPOLLOUT);
    return 0;
}

/* Advances c; returns 1 when it reached S_IDLE, -1 on failure, 0 when it waits. */
static int step(struct conn *c)
{
    int r;
    if (c->st == S_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err != 0)
            return -1;
        c->ssl = SSL_new(ctx);
        if (c->ssl == NULL)
            return -1;
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, sni);
        SSL_set_connect_state(c->ssl);
        c->st = S_HANDSHAKE;
    }
    if (c->st == S_HANDSHAKE) {
        r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) { arm(c, EPOLLIN); return 0; }
            if (e == SSL_ERROR_WANT_WRITE) { arm(c, EPOLLOUT); return 0; }
            ERR_clear_error();
            return -1;
        }
        c->st = S_WRITING;
    }
    if (c->st == S_WRITING) {
        r = SSL_write(c->ssl, req, (int)reqlen);
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) { arm(c, EPOLLIN); return 0; }
            if (e == SSL_ERROR_WANT_WRITE) { arm(c, EPOLLOUT); return 0; }
            ERR_clear_error();
            return -1;
        }
        c->st = S_READING;
    }
    if (c->st == S_READING) {
        for (;;) {
            if (c->got >= sizeof(c->buf) - 1)
                return -1;
            r = SSL_read(c->ssl, c->buf + c->got, (int)(sizeof(c->buf) - 1 - c->got));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ) { arm(c, EPOLLIN); return 0; }
                if (e == SSL_ERROR_WANT_WRITE) { arm(c, EPOLLOUT); return 0; }
                ERR_clear_error();
                return -1;
            }
            c->got += (size_t)r;
            c->buf[c->got] = '\0';
            char *end = strstr(c->buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            char *cl = strcasestr(c->buf, "\r\ncontent-length:");
            long n = cl != NULL && cl < end ? strtol(cl + 17, NULL, 10) : 0;
            if ((size_t)(end + 4 - c->buf) + (size_t)n <= c->got)
                break;
        }
        if (strncmp(c->buf, "HTTP/1.1 ", 9) != 0)
            return -1;
        /* Keep the bare socket; the server still holds a live TLS session on it. */
        SSL_free(c->ssl);
        c->ssl = NULL;
        c->st = S_IDLE;
        arm(c, EPOLLIN | EPOLLRDHUP);
        return 1;
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: idleconns IP PORT SNI N INFLIGHT HOLD_S [HOSTHDR]\n");
        return 2;
    }
    const char *ip = argv[1];
    int port = atoi(argv[2]);
    sni = argv[3];
    int n = atoi(argv[4]), inflight = atoi(argv[5]);
    double hold = atof(argv[6]);
    const char *hosthdr = argc > 7 ? argv[7] : sni;
    double conn_timeout = argc > 8 ? atof(argv[8]) : 20.0;

    signal(SIGPIPE, SIG_IGN); /* a refused connection must count as failed, not kill us */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&addr, 0, sizeof(addr));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        addrlen = sizeof(*a4);
    } else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        addrlen = sizeof(*a6);
    } else {
        fprintf(stderr, "bad address\n");
        return 2;
    }
    reqlen = (size_t)snprintf(req, sizeof(req),
                              "GET /secrets/idle?api-version=7.4 HTTP/1.1\r\nHost: %s\r\n\r\n",
                              hosthdr);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    ep = epoll_create1(EPOLL_CLOEXEC);

    struct conn *cs = calloc((size_t)n, sizeof(*cs));
    if (cs == NULL)
        return 2;
    for (int i = 0; i < n; i++)
        cs[i].fd = -1;
    int next = 0, active = 0, ok = 0, failed = 0, timedout = 0;
    double t0 = now();
    struct epoll_event evs[256];
    double last_sweep = t0;
    while (ok + failed < n) {
        while (active < inflight && next < n) {
            if (start(&cs[next]) != 0) {
                failed++;
                cs[next].st = S_DONE;
            } else {
                active++;
            }
            next++;
        }
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->st == S_IDLE || c->st == S_DONE)
                continue;
            int r = step(c);
            if (r != 0) {
                active--;
                if (r > 0) {
                    ok++;
                } else {
                    failed++;
                    drop(c);
                }
            }
        }
        if (now() - last_sweep > 0.25) { /* time out stuck connections */
            last_sweep = now();
            for (int i = 0; i < next; i++) {
                struct conn *c = &cs[i];
                if (c->st != S_IDLE && c->st != S_DONE && c->fd >= 0 && now() - c->t0 > conn_timeout) {
                    drop(c);
                    active--;
                    failed++;
                    timedout++;
                }
            }
        }
    }
    printf("established %d %d %.2f %d\n", ok, failed, now() - t0, timedout);
    fflush(stdout);

    /* Hold: count connections the server closes (EOF/RDHUP on an idle socket). */
    int closed = 0;
    double end = now() + hold;
    while (now() < end) {
        int ms = (int)((end - now()) * 1000) + 1;
        int k = epoll_wait(ep, evs, 256, ms > 200 ? 200 : ms);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->st != S_IDLE)
                continue;
            char b[256];
            ssize_t r = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN) || (evs[i].events & (EPOLLRDHUP | EPOLLHUP))) {
                closed++;
                drop(c);
            }
        }
    }
    printf("held %d %d\n", ok - closed, closed);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    SSL_CTX_free(ctx);
    free(cs);
    return 0;
}

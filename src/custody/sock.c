/* sock.c - the custody socket: a unix stream socket served by one thread. Each connection
 * carries one request line (JSON, at most 4 KiB) and gets one response line.
 *
 * Why a unix socket and not an HTTPS route: while sealed nothing that authenticates a caller
 * works (the token signing keys are sealed), so an HTTPS unseal route would have to be open to
 * the network unauthenticated; the socket is reachable only on this host, by this uid (or
 * root): file mode 0600 in the 0700 data dir, and SO_PEERCRED checked on every connection. The
 * socket is removed and re-created at start; the listener is close-on-exec. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/log.h"
#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define REQ_MAX 4096

struct cf_custody_sock {
    struct cf_custody *c;
    struct cf_custody_hooks hooks;
    int fd;
    int stop_pipe[2];
    pthread_t thread;
    char path[108];
};

static void serve_one(struct cf_custody_sock *s, int fd)
{
    char req[REQ_MAX + 1];
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct cf_buf resp;
    size_t n = 0;
    ssize_t r;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
        (cred.uid != getuid() && cred.uid != 0)) {
        cf_warn("custody: refused a connection from uid %d", (int)cred.uid);
        return;
    }
    /* a bounded wait for the request line: a silent client cannot hold the thread */
    while (n < REQ_MAX) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            break;
        r = read(fd, req + n, REQ_MAX - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (memchr(req, '\n', n))
            break;
    }
    req[n] = '\0';
    cf_buf_init(&resp, 16384);
    if (cf_custody_handle_msg(s->c, &s->hooks, req, n, &resp) != CF_OK && resp.len == 0)
        cf_warn("custody: could not answer a socket request");
    if (cf_buf_putc(&resp, '\n') == CF_OK) {
        size_t off = 0;
        while (off < resp.len && (r = write(fd, resp.data + off, resp.len - off)) > 0)
            off += (size_t)r;
    }
    cf_buf_wipe(&resp); /* may hold shares */
    cf_wipe(req, sizeof(req));
}

static void *sock_main(void *arg)
{
    struct cf_custody_sock *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & POLLIN) {
            int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                serve_one(s, fd);
                close(fd);
            }
        }
    }
    return NULL;
}

struct cf_custody_sock *cf_custody_sock_start(struct cf_custody *c, const char *path,
                                              const struct cf_custody_hooks *hooks, cf_err *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct cf_custody_sock *s;
    mode_t old;

    if (!c || !path || strlen(path) >= sizeof(a.sun_path)) {
        cf_error("custody: socket path too long (at most %zu bytes): %s", sizeof(a.sun_path) - 1,
                 path ? path : "");
        *err = CF_EINVAL;
        return NULL;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        *err = CF_ENOMEM;
        return NULL;
    }
    s->c = c;
    if (hooks)
        s->hooks = *hooks;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    snprintf(s->path, sizeof(s->path), "%s", path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || pipe2(s->stop_pipe, O_CLOEXEC) != 0)
        goto fail;
    unlink(path);
    old = umask(0177); /* the socket is created 0600 */
    if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        umask(old);
        goto fail;
    }
    umask(old);
    if (listen(s->fd, 16) != 0 || pthread_create(&s->thread, NULL, sock_main, s) != 0)
        goto fail;
    *err = CF_OK;
    return s;
fail:
    cf_error("custody: cannot serve the socket %s: %s", path, strerror(errno));
    if (s->fd >= 0)
        close(s->fd);
    if (s->stop_pipe[0] >= 0) {
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
    }
    free(s);
    *err = CF_EIO;
    return NULL;
}

void cf_custody_sock_stop(struct cf_custody_sock *s)
{
    if (!s)
        return;
    if (write(s->stop_pipe[1], "x", 1) == 1)
        pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    unlink(s->path);
    free(s);
}

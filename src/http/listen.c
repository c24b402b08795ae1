/* listen.c - listening sockets for the workers: address parsing, the port-taken probe, and
 * SO_REUSEPORT listeners (one per worker and address, so the kernel spreads connections).
 *
 * Why a probe: sockets of one user that all set SO_REUSEPORT share a port silently, so a
 * second cofferd would bind "successfully" and steal half the connections. The probe binds
 * without SO_REUSEPORT, which fails with EADDRINUSE when anyone listens there. */
#include "base/cf.h"
#include "base/log.h"
#include "http/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

cf_err cf_http_addr_parse(const char *addr, int port, struct sockaddr_storage *ss,
                          unsigned *len)
{
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n;

    if (addr == NULL || port < 0 || port > 65535)
        return CF_EINVAL;
    memset(ss, 0, sizeof(*ss));
    n = strlen(addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        if (n - 2 >= sizeof(tmp))
            return CF_EINVAL;
        memcpy(tmp, addr + 1, n - 2);
        tmp[n - 2] = '\0';
    } else {
        if (n >= sizeof(tmp))
            return CF_EINVAL;
        memcpy(tmp, addr, n + 1);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, tmp, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof(*s4);
        return CF_OK;
    }
    if (inet_pton(AF_INET6, tmp, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*s6);
        return CF_OK;
    }
    return CF_EINVAL;
}

/* A socket for addr:port with the options every http/ socket has; not yet bound. */
static int socket_for(const struct sockaddr_storage *ss, bool reuseport)
{
    int one = 1;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

cf_err cf_http_port_probe(const char *addr, int port, int *bound_port)
{
    struct sockaddr_storage ss;
    unsigned len;
    int fd;
    cf_err e = cf_http_addr_parse(addr, port, &ss, &len);

    if (e != CF_OK) {
        cf_error("http: listen address '%s' is not a numeric IPv4/IPv6 address", addr);
        return e;
    }
    fd = socket_for(&ss, false);
    if (fd < 0) {
        cf_error("http: socket for %s: %s", addr, strerror(errno));
        return CF_EIO;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        cf_error("http: cannot bind %s port %d: %s", addr, port, strerror(errno));
        close(fd);
        return errno == EADDRINUSE ? CF_EEXISTS : CF_EIO;
    }
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        close(fd);
        return CF_EIO;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                : ((struct sockaddr_in6 *)&ss)->sin6_port);
    close(fd);
    return CF_OK;
}

int cf_http_listen_socket(const char *addr, int port, int backlog, cf_err *err)
{
    struct sockaddr_storage ss;
    unsigned len;
    int one = 1;
    int fd;

    *err = cf_http_addr_parse(addr, port, &ss, &len);
    if (*err != CF_OK)
        return -1;
    fd = socket_for(&ss, true);
    if (fd < 0) {
        cf_error("http: socket for %s: %s", addr, strerror(errno));
        *err = CF_EIO;
        return -1;
    }
    /* Accepted sockets inherit TCP_NODELAY on Linux, which covers the TLS handshake flight;
     * http/ sets it again on each connection for other kernels. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0) {
        cf_error("http: cannot listen on %s port %d: %s", addr, port, strerror(errno));
        *err = errno == EADDRINUSE ? CF_EEXISTS : CF_EIO;
        close(fd);
        return -1;
    }
    return fd;
}

/* http_echo.c - a trivial handler behind the http/ front end, to measure what the front end
 * itself costs (DESIGN.md §5: the goal is >= 60 % of nginx serving the same small JSON body
 * over TLS with keep-alive, wrk on the same 2 cores). Not built by CMake:
 *
 *   cc -O2 -D_GNU_SOURCE -I src bench/http_echo.c build/libcf_http.a build/libcf_base.a \
 *      -levent -levent_openssl -levent_pthreads -lssl -lcrypto -ljansson -lpthread \
 *      -o /tmp/http_echo
 *   /tmp/http_echo CERT.pem KEY.pem PORT [THREADS]      (listens on 127.0.0.1 and ::1)
 *   wrk -t2 -c50 -d10s https://127.0.0.1:PORT/
 *
 * bench/http_nginx.sh runs both servers and wrk in one go. */
#include "base/cf.h"
#include "http/http.h"

#include <signal.h>

static struct cf_http_server *bench_srv; /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    cf_http_server_stop(bench_srv);
}

static void handler(struct cf_http_req *req, void *ctx)
{
    static const char body[] = "{\"value\":\"hello\",\"id\":\"https://v.vault.localhost/secrets/"
                               "s/0123456789abcdef0123456789abcdef\"}";
    static const struct cf_http_hdr hdrs[] = {
        {"Content-Type", "application/json; charset=utf-8"}};

    (void)ctx;
    cf_http_respond(req, 200, hdrs, 1, body, sizeof(body) - 1);
}

int main(int argc, char **argv)
{
    static const char *const addrs[] = {"127.0.0.1", "::1"};
    struct cf_http_opts o = {0};
    cf_err e;
    char *end;

    if (argc < 4) {
        fprintf(stderr, "usage: %s CERT KEY PORT [THREADS]\n", argv[0]);
        return 2;
    }
    o.addrs = addrs;
    o.naddrs = 2;
    o.cert_file = argv[1];
    o.key_file = argv[2];
    o.port = (int)strtol(argv[3], &end, 10);
    o.threads = argc > 4 ? (int)strtol(argv[4], &end, 10) : 0;
    bench_srv = cf_http_server_new(&o, handler, NULL, &e);
    if (bench_srv == NULL) {
        fprintf(stderr, "http_echo: %s\n", cf_err_name(e));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    cf_http_server_run(bench_srv);
    cf_http_server_free(bench_srv);
    return 0;
}

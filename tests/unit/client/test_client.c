/* test_client.c - retry policy helpers and the request loop against a tiny local HTTP server
 * (a forked child on 127.0.0.1 answering canned responses), so retries, keep-alive and the
 * status/body plumbing run for real. */
#include "base/cf.h"
#include "client/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

static void test_retry_after_parse(void **state)
{
    (void)state;
    assert_int_equal(cf_client_parse_retry_after("1"), 1);
    assert_int_equal(cf_client_parse_retry_after(" 30 \r\n"), 30);
    assert_int_equal(cf_client_parse_retry_after("0"), 0);
    assert_int_equal(cf_client_parse_retry_after(NULL), -1);
    assert_int_equal(cf_client_parse_retry_after(""), -1);
    assert_int_equal(cf_client_parse_retry_after("-5"), -1);
    assert_int_equal(cf_client_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    assert_int_equal(cf_client_parse_retry_after("1.5"), -1);
    assert_int_equal(cf_client_parse_retry_after("99999999"), 86400);
}

static void test_retry_delay(void **state)
{
    (void)state;
    assert_int_equal(cf_client_retry_delay_ms(1, 2), 2000);
    assert_int_equal(cf_client_retry_delay_ms(3, 0), 0);
    assert_int_equal(cf_client_retry_delay_ms(1, 600), 60000);
    assert_int_equal(cf_client_retry_delay_ms(1, -1), 1000);
    assert_int_equal(cf_client_retry_delay_ms(2, -1), 2000);
    assert_int_equal(cf_client_retry_delay_ms(3, -1), 4000);
    assert_true(cf_client_status_retryable(429));
    assert_true(cf_client_status_retryable(503));
    assert_false(cf_client_status_retryable(500));
    assert_false(cf_client_status_retryable(200));
}

/* ---- tiny server ---- */

struct server {
    pid_t pid;
    int port;
};

/* Reads one request (headers + Content-Length body) from fd; false on EOF. */
static bool read_request(int fd, char *req, size_t cap)
{
    size_t n = 0;
    char *hend;
    long clen = 0;
    for (;;) {
        ssize_t r = read(fd, req + n, cap - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        req[n] = '\0';
        hend = strstr(req, "\r\n\r\n");
        if (hend)
            break;
    }
    {
        const char *cl = strcasestr(req, "Content-Length:");
        if (cl)
            clen = strtol(cl + 15, NULL, 10);
    }
    while ((long)(n - (size_t)(hend + 4 - req)) < clen) {
        ssize_t r = read(fd, req + n, cap - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        req[n] = '\0';
    }
    return true;
}

/* Script: the first `fails` requests get 503 (with Retry-After: 0 when ra), then 200 echoing
 * the method, the Authorization header presence and the body. Counts connections in the body. */
static void serve(int lfd, int fails, bool ra)
{
    int served = 0, conns = 0;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        char req[8192];
        if (fd < 0)
            _exit(0);
        conns++;
        while (read_request(fd, req, sizeof(req))) {
            char resp[9000];
            int n;
            if (served++ < fails) {
                n = snprintf(resp, sizeof(resp),
                             "HTTP/1.1 503 Service Unavailable\r\n%sContent-Length: 2\r\n\r\n{}",
                             ra ? "Retry-After: 0\r\n" : "");
            } else {
                char body[8400];
                const char *b = strstr(req, "\r\n\r\n") + 4;
                int bl = snprintf(body, sizeof(body),
                                  "{\"method\":\"%.*s\",\"auth\":%s,\"conns\":%d,\"body\":\"%s\"}",
                                  (int)strcspn(req, " "), req,
                                  strstr(req, "Authorization: Bearer tok") ? "true" : "false",
                                  conns, b);
                n = snprintf(resp, sizeof(resp),
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Location: https://x/y\r\nContent-Length: %d\r\n\r\n%s",
                             bl, body);
            }
            if (write(fd, resp, (size_t)n) != n)
                break;
        }
        close(fd);
    }
}

static struct server start_server(int fails, bool ra)
{
    struct server s = {0};
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    assert_true(lfd >= 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    s.port = ntohs(a.sin_port);
    s.pid = fork();
    assert_true(s.pid >= 0);
    if (s.pid == 0) {
        alarm(10);
        serve(lfd, fails, ra);
        _exit(0);
    }
    close(lfd);
    return s;
}

static void stop_server(struct server *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
}

struct sleeps {
    int n;
    int64_t total;
};

static void rec_sleep(void *ctx, int64_t ms)
{
    struct sleeps *s = ctx;
    s->n++;
    s->total += ms;
}

static void test_request_retries_then_succeeds(void **state)
{
    struct server s = start_server(2, true);
    struct sleeps sl = {0};
    struct cf_client_opts o = {.sleep_ms = rec_sleep, .sleep_ctx = &sl};
    struct cf_client *c = cf_client_new(&o);
    struct cf_client_resp r;
    char url[64];
    (void)state;

    assert_non_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
    cf_client_resp_init(&r);
    assert_int_equal(cf_client_request(c, "PUT", url, "tok", "application/json", "{\"a\":1}", 7,
                                       &r),
                     CF_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(sl.n, 2);
    assert_int_equal(sl.total, 0); /* Retry-After: 0 honoured */
    assert_non_null(strstr(r.body.data, "\"method\":\"PUT\""));
    assert_non_null(strstr(r.body.data, "\"auth\":true"));
    assert_non_null(strstr(r.body.data, "\"conns\":1")); /* keep-alive across the retries */
    assert_non_null(strstr(r.body.data, "{\"a\":1}"));
    assert_string_equal(r.location, "https://x/y");

    /* A second request on the same handle reuses the connection too. */
    assert_int_equal(cf_client_request(c, "GET", url, NULL, NULL, NULL, 0, &r), CF_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"auth\":false"));
    assert_non_null(strstr(r.body.data, "\"conns\":1"));
    cf_client_resp_release(&r);
    cf_client_free(c);
    stop_server(&s);
}

static void test_request_gives_up_after_max_retries(void **state)
{
    struct server s = start_server(100, false);
    struct sleeps sl = {0};
    struct cf_client_opts o = {.sleep_ms = rec_sleep, .sleep_ctx = &sl};
    struct cf_client *c = cf_client_new(&o);
    struct cf_client_resp r;
    char url[64];
    (void)state;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
    cf_client_resp_init(&r);
    assert_int_equal(cf_client_request(c, "GET", url, NULL, NULL, NULL, 0, &r), CF_OK);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.attempts, 4);
    assert_int_equal(sl.n, 3);
    assert_int_equal(sl.total, 1000 + 2000 + 4000); /* no Retry-After: exponential */
    cf_client_resp_release(&r);
    cf_client_free(c);
    stop_server(&s);
}

static void test_transport_error(void **state)
{
    struct cf_client *c = cf_client_new(NULL);
    struct cf_client_resp r;
    (void)state;
    cf_client_resp_init(&r);
    /* Port 1 on loopback: connection refused. */
    assert_int_equal(cf_client_request(c, "GET", "http://127.0.0.1:1/", NULL, NULL, NULL, 0, &r),
                     CF_EIO);
    assert_int_equal(r.status, 0);
    assert_true(strlen(cf_client_errmsg(c)) > 0);
    cf_client_resp_release(&r);
    cf_client_free(c);
    assert_int_equal(cf_client_request(NULL, "GET", "x", NULL, NULL, NULL, 0, &r), CF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after_parse),
        cmocka_unit_test(test_retry_delay),
        cmocka_unit_test(test_request_retries_then_succeeds),
        cmocka_unit_test(test_request_gives_up_after_max_retries),
        cmocka_unit_test(test_transport_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_admin.c - the admin listener: plain HTTP GET and HEAD through the handler (path without
 * the query, status, Content-Type, Cache-Control, Content-Length of HEAD without a body), keep-
 * alive, methods other than GET/HEAD refused, a body refused, a port already taken refused,
 * TLS when a certificate is given, and a clean stop while a client is connected. */
#include "http_test.h"

struct seen {
    int calls;
    char path[128];
    enum cf_http_method method;
};

static void admin_fn(void *ctx, enum cf_http_method method, struct cf_str path,
                     struct cf_http_admin_reply *out)
{
    struct seen *s = ctx;
    s->calls++;
    s->method = method;
    snprintf(s->path, sizeof(s->path), "%.*s", (int)path.len, path.p);
    if (path.len == 8 && memcmp(path.p, "/healthz", 8) == 0) {
        out->status = 200;
        assert_int_equal(cf_buf_puts(&out->body, "ok\n"), CF_OK);
    } else if (path.len == 7 && memcmp(path.p, "/readyz", 7) == 0) {
        out->status = 503;
        out->content_type = "application/json";
        assert_int_equal(cf_buf_puts(&out->body, "{\"ready\":false}"), CF_OK);
    } else {
        out->status = 404;
    }
}

/* One plain request on fd; the raw response into buf (NUL-terminated); its length. want:
 * SIZE_MAX reads the body by Content-Length, HEAD_ONLY stops after the head. */
#define HEAD_ONLY (SIZE_MAX - 1)
static size_t plain_roundtrip(int fd, const char *req, char *buf, size_t cap, size_t want)
{
    size_t have = 0;
    bool head_only = want == HEAD_ONLY;

    if (head_only)
        want = SIZE_MAX;
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while (have < want && have + 1 < cap) {
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        if (want == SIZE_MAX && strstr(buf, "\r\n\r\n")) {
            /* up to the end of the body, by Content-Length */
            const char *cl = strcasestr(buf, "Content-Length: ");
            size_t hl = (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf);
            want = hl + (cl && !head_only ? strtoul(cl + 16, NULL, 10) : 0);
        }
    }
    buf[have] = '\0';
    return have;
}

static void plain(void **state)
{
    struct seen s = {0};
    cf_err e;
    struct cf_http_admin *a, *b;
    char buf[4096];
    int fd;
    (void)state;

    a = cf_http_admin_new(&(struct cf_http_admin_opts){.addr = "127.0.0.1"}, admin_fn, &s, &e);
    assert_non_null(a);
    assert_true(cf_http_admin_port(a) > 0);
    /* the same port again: refused */
    b = cf_http_admin_new(
        &(struct cf_http_admin_opts){.addr = "127.0.0.1", .port = cf_http_admin_port(a)}, admin_fn,
        &s, &e);
    assert_null(b);
    assert_int_equal(e, CF_EEXISTS);
    assert_int_equal(cf_http_admin_start(a), CF_OK);
    assert_int_equal(cf_http_admin_start(a), CF_EINVAL);

    fd = t_tcp("127.0.0.1", cf_http_admin_port(a));
    assert_true(fd >= 0);
    plain_roundtrip(fd, "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf), SIZE_MAX);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(buf, "Cache-Control: no-store\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 3\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\nok\n"));
    assert_string_equal(s.path, "/healthz");
    assert_int_equal(s.method, CF_HTTP_GET);
    /* keep-alive: the same connection answers again */
    plain_roundtrip(fd, "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf), SIZE_MAX);
    assert_non_null(strstr(buf, "HTTP/1.1 503 "));
    assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\n{\"ready\":false}"));
    /* HEAD: the length, no body (the next response follows directly) */
    plain_roundtrip(fd, "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf), HEAD_ONLY);
    assert_non_null(strstr(buf, "\r\n\r\n"));
    assert_string_equal(strstr(buf, "\r\n\r\n"), "\r\n\r\n"); /* nothing after the head */
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 3\r\n"));
    assert_int_equal(s.method, CF_HTTP_HEAD);
    plain_roundtrip(fd, "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf), SIZE_MAX);
    assert_int_equal(strncmp(buf, "HTTP/1.1 404 ", 13), 0);
    close(fd);
    int calls = s.calls;

    /* POST: refused by the listener, the handler never sees it */
    fd = t_tcp("127.0.0.1", cf_http_admin_port(a));
    plain_roundtrip(fd, "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", buf,
                    sizeof(buf), SIZE_MAX);
    assert_non_null(strstr(buf, "HTTP/1.1 501 "));
    close(fd);
    /* a body: refused */
    fd = t_tcp("127.0.0.1", cf_http_admin_port(a));
    plain_roundtrip(fd, "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", buf,
                    sizeof(buf), SIZE_MAX);
    assert_null(strstr(buf, "HTTP/1.1 200 "));
    close(fd);
    assert_int_equal(s.calls, calls);

    /* stop with a client connected */
    fd = t_tcp("127.0.0.1", cf_http_admin_port(a));
    assert_true(fd >= 0);
    cf_http_admin_free(a);
    close(fd);
    cf_http_admin_free(NULL);
}

static void tls(void **state)
{
    struct t_cert tc;
    struct seen s = {0};
    struct cf_http_admin *a;
    struct t_cli c;
    struct t_resp *r = malloc(sizeof(*r));
    cf_err e;
    (void)state;

    t_cert_make(&tc);
    a = cf_http_admin_new(
        &(struct cf_http_admin_opts){.addr = "::1", .cert_file = tc.cert, .key_file = tc.key},
        admin_fn, &s, &e);
    assert_non_null(a);
    assert_int_equal(cf_http_admin_start(a), CF_OK);
    assert_true(t_cli_open(&c, "::1", cf_http_admin_port(a)));
    assert_true(t_cli_sends(&c, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_true(t_cli_read(&c, r, false));
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok\n");
    t_cli_close(&c);
    /* plain HTTP to a TLS listener gets no answer from the handler */
    int fd = t_tcp("::1", cf_http_admin_port(a));
    char buf[256];
    plain_roundtrip(fd, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", buf, sizeof(buf), SIZE_MAX);
    assert_null(strstr(buf, "200 OK"));
    close(fd);
    cf_http_admin_free(a);
    /* one of cert/key only: refused */
    assert_null(cf_http_admin_new(&(struct cf_http_admin_opts){.addr = "::1", .cert_file = tc.cert},
                                  admin_fn, &s, &e));
    assert_int_equal(e, CF_EINVAL);
    assert_null(
        cf_http_admin_new(&(struct cf_http_admin_opts){.addr = "localhost"}, admin_fn, &s, &e));
    t_cert_remove(&tc);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain),
        cmocka_unit_test(tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

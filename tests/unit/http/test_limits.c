/* test_limits.c - what http/ answers by itself: oversized body (413) and head (431), methods it
 * does not serve (501), garbage (400), all as Azure-shaped JSON; the connection limit; broken
 * TLS clients that must not disturb anyone else. */
#include "base/cf.h"
#include "http_test.h"

static struct t_cert cert;
static const char *const v4[] = {"127.0.0.1"};
static struct t_cli cli, cli2;
static struct t_resp resp;
static struct t_srv srv;

static int setup(void **state)
{
    struct cf_http_opts o;

    (void)state;
    t_cert_make(&cert);
    t_opts(&o, &cert, v4, 1);
    o.max_body_bytes = 1000;
    o.max_header_bytes = 2000;
    t_srv_start(&srv, &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_srv_stop(&srv);
    t_cert_remove(&cert);
    return 0;
}

/* The response is a JSON error of http/'s own: status, code, content type, connection close. */
static void check_json_error(const struct t_resp *r, int status, const char *code)
{
    char v[128], want[96];

    assert_int_equal(r->status, status);
    assert_true(t_resp_header(r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/json; charset=utf-8");
    assert_true(t_resp_header(r, "Connection", v, sizeof(v)));
    assert_string_equal(v, "close");
    snprintf(want, sizeof(want), "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
    assert_true(strncmp(r->body, want, strlen(want)) == 0);
    assert_string_equal(r->body + r->body_len - 3, "\"}}");
    assert_null(strstr(r->body, "<"));
}

/* Sends raw on a fresh connection and reads the one answer. */
static void exchange(const char *raw, size_t len, bool head)
{
    assert_true(t_cli_open(&cli, "127.0.0.1", srv.port));
    assert_true(t_cli_send(&cli, raw, len));
    assert_true(t_cli_read(&cli, &resp, head));
}

static void still_serving(void)
{
    assert_true(t_cli_open(&cli2, "127.0.0.1", srv.port));
    assert_true(t_cli_sends(&cli2, "GET /alive HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cli2, &resp, false));
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, "p=/alive "));
    t_cli_close(&cli2);
}

static void test_body_limit(void **state)
{
    char raw[4096];
    int n;

    (void)state;
    /* Exactly the limit is fine. */
    n = snprintf(raw, sizeof(raw), "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n");
    memset(raw + n, 'x', 1000);
    exchange(raw, (size_t)n + 1000, false);
    assert_int_equal(resp.status, 200);
    t_cli_close(&cli);
    /* One byte more: 413 after the body was drained, so the client reads it (no reset). */
    n = snprintf(raw, sizeof(raw), "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n");
    memset(raw + n, 'x', 1001);
    exchange(raw, (size_t)n + 1001, false);
    check_json_error(&resp, 413, "RequestBodyTooLarge");
    assert_true(t_cli_wait_closed(&cli, 2, NULL));
    t_cli_close(&cli);
    /* Chunked beyond the limit. */
    n = snprintf(raw, sizeof(raw),
                 "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n");
    memset(raw + n, 'y', 0x800);
    exchange(raw, (size_t)n + 0x800, false);
    check_json_error(&resp, 413, "RequestBodyTooLarge");
    t_cli_close(&cli);
    still_serving();
}

static void test_header_limit(void **state)
{
    char raw[4096];
    int n;

    (void)state;
    n = snprintf(raw, sizeof(raw), "GET /h HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(raw + n, 'a', 2500);
    memcpy(raw + n + 2500, "\r\n\r\n", 4);
    exchange(raw, (size_t)n + 2504, false);
    check_json_error(&resp, 431, "RequestHeaderFieldsTooLarge");
    t_cli_close(&cli);
    /* Under the limit passes. */
    memset(raw + n, 'a', 1500);
    memcpy(raw + n + 1500, "\r\n\r\n", 4);
    exchange(raw, (size_t)n + 1504, false);
    assert_int_equal(resp.status, 200);
    t_cli_close(&cli);
    /* HEAD gets the error without a body. */
    n = snprintf(raw, sizeof(raw), "HEAD /h HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(raw + n, 'a', 2500);
    memcpy(raw + n + 2500, "\r\n\r\n", 4);
    exchange(raw, (size_t)n + 2504, true);
    assert_int_equal(resp.status, 431);
    t_cli_close(&cli);
    still_serving();
}

static void test_methods_and_garbage(void **state)
{
    (void)state;
    exchange("TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", 30, false);
    check_json_error(&resp, 501, "NotImplemented");
    t_cli_close(&cli);
    exchange("GARBAGE\r\n\r\n", 11, false);
    check_json_error(&resp, 400, "BadParameter");
    t_cli_close(&cli);
    exchange("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 48, false);
    check_json_error(&resp, 400, "BadParameter");
    t_cli_close(&cli);
    exchange("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: magic\r\n\r\n", 61,
             false);
    check_json_error(&resp, 417, "ExpectationFailed");
    t_cli_close(&cli);
    still_serving();
}

/* Half a ClientHello, then close; a connection that is not TLS at all; a plain TCP open and
 * close. None of them disturbs the server. */
static void test_broken_tls(void **state)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    char *hello;
    long hlen;

    (void)state;
    SSL_set_bio(ssl, rb, wb);
    assert_int_equal(SSL_connect(ssl), -1); /* wants the server's reply */
    hlen = BIO_get_mem_data(wb, &hello);
    assert_true(hlen > 100);
    for (int i = 0; i < 20; i++) {
        int fd = t_tcp("127.0.0.1", srv.port);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, hello, (size_t)hlen / 2), hlen / 2);
        close(fd);
    }
    for (int i = 0; i < 5; i++) {
        int fd = t_tcp("127.0.0.1", srv.port);
        char b[64];
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27), 27);
        /* The server ends the connection rather than answering in plaintext. */
        ssize_t n = read(fd, b, sizeof(b));
        assert_true(n <= 0 || memcmp(b, "HTTP", 4) != 0);
        close(fd);
        fd = t_tcp("127.0.0.1", srv.port);
        close(fd);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    still_serving();
}

/* With max_connections 3, a 4th connection is closed at once; a slot freed is reusable. */
static void test_connection_limit(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    struct t_cli *cs = calloc(4, sizeof(*cs));
    double waited = 0;
    bool opened;

    (void)state;
    t_opts(&o, &cert, v4, 1);
    o.max_connections = 3;
    t_srv_start(&s, &o);
    for (int i = 0; i < 3; i++) {
        assert_true(t_cli_open(&cs[i], "127.0.0.1", s.port));
        assert_true(t_cli_sends(&cs[i], "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_true(t_cli_read(&cs[i], &resp, false));
    }
    opened = t_cli_open(&cs[3], "127.0.0.1", s.port);
    if (opened) /* TLS 1.3: the handshake may complete client-side before the close shows */
        assert_true(t_cli_wait_closed(&cs[3], 1, &waited));
    t_cli_close(&cs[3]);
    t_cli_close(&cs[0]);
    usleep(100 * 1000);
    assert_true(t_cli_open(&cs[3], "127.0.0.1", s.port));
    assert_true(t_cli_sends(&cs[3], "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cs[3], &resp, false));
    assert_int_equal(resp.status, 200);
    for (int i = 1; i < 4; i++)
        t_cli_close(&cs[i]);
    t_srv_stop(&s);
    free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_methods_and_garbage),
        cmocka_unit_test(test_broken_tls),
        cmocka_unit_test(test_connection_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_server.c - the HTTPS front end serving real TLS clients: keep-alive, request fields,
 * HEAD and 204, answers from another thread, IPv4 and IPv6 listeners, many connections at once,
 * port handling and start/stop. */
#include "base/cf.h"
#include "http_test.h"

static struct t_cert cert;
static const char *const both[] = {"127.0.0.1", "::1"};

static int setup(void **state)
{
    (void)state;
    t_cert_make(&cert);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_cert_remove(&cert);
    return 0;
}

static struct t_cli cli, cli2;
static struct t_resp resp;

/* Several requests on one connection, each field as the handler saw it. */
static void test_keepalive_and_fields(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    char req[512], v[128];

    (void)state;
    t_opts(&o, &cert, both, 2);
    t_srv_start(&s, &o);
    assert_true(t_cli_open(&cli, "127.0.0.1", s.port));
    for (int i = 0; i < 5; i++) {
        snprintf(req, sizeof(req),
                 "GET /secrets/n%d?api-version=7.4&x=%%2F HTTP/1.1\r\nHost: v.vault.localhost:%d"
                 "\r\nX-Test: hello%d\r\n\r\n",
                 i, s.port, i);
        assert_true(t_cli_sends(&cli, req));
        assert_true(t_cli_read(&cli, &resp, false));
        assert_int_equal(resp.status, 200);
        snprintf(req, sizeof(req),
                 "m=0 p=/secrets/n%d q=api-version=7.4&x=%%2F h=v.vault.localhost:%d "
                 "ip=127.0.0.1 x=hello%d",
                 i, s.port, i);
        assert_non_null(strstr(resp.body, req));
        assert_true(t_resp_header(&resp, "Content-Type", v, sizeof(v)));
        assert_string_equal(v, "text/plain");
        assert_true(t_resp_header(&resp, "Date", v, sizeof(v)));
        assert_false(t_resp_header(&resp, "Connection", v, sizeof(v)));
    }
    /* POST with a body, PUT/PATCH/DELETE/OPTIONS mapped to the enum. */
    assert_true(t_cli_sends(&cli, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
                                  "hello world"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "m=2 p=/p q= h=h"));
    assert_non_null(strstr(resp.body, "b=hello world"));
    assert_true(t_cli_sends(&cli, "PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "m=3 "));
    assert_non_null(strstr(resp.body, "b={}"));
    assert_true(t_cli_sends(&cli, "PATCH /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
                                  "\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "m=4 "));
    assert_non_null(strstr(resp.body, "b=abcde"));
    assert_true(t_cli_sends(&cli, "DELETE /a HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "m=5 "));
    assert_true(t_cli_sends(&cli, "OPTIONS /a HTTP/1.1\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "m=6 p=/a q= h= "));
    /* Pipelined: two requests in one write, two answers in order. */
    assert_true(t_cli_sends(&cli, "GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\n"
                                  "Host: h\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "p=/one "));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "p=/two "));
    /* Connection: close from the client is honoured. */
    assert_true(t_cli_sends(&cli, "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_true(t_resp_header(&resp, "Connection", v, sizeof(v)));
    assert_string_equal(v, "close");
    assert_true(t_cli_wait_closed(&cli, 2, NULL));
    t_cli_close(&cli);
    t_srv_stop(&s);
}

/* The handler's headers leave as one block: valid ones arrive in order with their values,
 * invalid ones are dropped without splitting the response or the keep-alive stream; evhttp's
 * own (Date, Content-Length) still come; the next request on the connection is served. */
static void test_response_headers(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    char v[128];

    (void)state;
    t_opts(&o, &cert, both, 1);
    t_srv_start(&s, &o);
    assert_true(t_cli_open(&cli, "127.0.0.1", s.port));
    for (int i = 0; i < 2; i++) {
        assert_true(t_cli_sends(&cli, "GET /hdrs HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_true(t_cli_read(&cli, &resp, false));
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.body, "{}");
        assert_true(t_resp_header(&resp, "Content-Type", v, sizeof(v)));
        assert_string_equal(v, "application/json");
        assert_true(t_resp_header(&resp, "X-One", v, sizeof(v)));
        assert_string_equal(v, "1");
        assert_true(t_resp_header(&resp, "X-Two", v, sizeof(v)));
        assert_string_equal(v, "two words\tand a tab");
        assert_true(t_resp_header(&resp, "Content-Length", v, sizeof(v)));
        assert_string_equal(v, "2");
        assert_true(t_resp_header(&resp, "Date", v, sizeof(v)));
        assert_false(t_resp_header(&resp, "X-Evil", v, sizeof(v)));
        assert_false(t_resp_header(&resp, "X-Injected", v, sizeof(v)));
        assert_false(t_resp_header(&resp, "Bad Name", v, sizeof(v)));
        assert_false(t_resp_header(&resp, "X-Null", v, sizeof(v)));
        assert_false(t_resp_header(&resp, "X-Lf", v, sizeof(v)));
        assert_false(t_resp_header(&resp, "Connection", v, sizeof(v)));
    }
    t_cli_close(&cli);
    t_srv_stop(&s);
}

static void test_head_and_204(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    char v[64];

    (void)state;
    t_opts(&o, &cert, both, 1);
    t_srv_start(&s, &o);
    assert_true(t_cli_open(&cli, "127.0.0.1", s.port));
    assert_true(t_cli_sends(&cli, "HEAD /big HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, true));
    assert_int_equal(resp.status, 200);
    assert_true(t_resp_header(&resp, "Content-Length", v, sizeof(v)));
    assert_string_equal(v, "102400");
    assert_true(t_cli_sends(&cli, "GET /nocontent HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, true));
    assert_int_equal(resp.status, 204);
    assert_false(t_resp_header(&resp, "Content-Length", v, sizeof(v)));
    /* Nothing of either body leaked onto the connection: the next answer parses cleanly. */
    assert_true(t_cli_sends(&cli, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 100 * 1024);
    assert_int_equal(resp.body[0], 'b');
    assert_int_equal(resp.body[100 * 1024 - 1], 'b');
    assert_int_equal(cli.have, 0);
    t_cli_close(&cli);
    t_srv_stop(&s);
}

/* The handler answers 50 ms later from its own thread; keep-alive continues afterwards. */
static void test_async_answer(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    char v[64];

    (void)state;
    t_opts(&o, &cert, both, 2);
    t_srv_start(&s, &o);
    assert_true(t_cli_open(&cli, "127.0.0.1", s.port));
    for (int i = 0; i < 3; i++) {
        assert_true(t_cli_sends(&cli, "GET /async HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_true(t_cli_read(&cli, &resp, false));
        assert_int_equal(resp.status, 200);
        assert_string_equal(resp.body, "{\"async\":true}");
        assert_true(t_resp_header(&resp, "X-Async", v, sizeof(v)));
        assert_string_equal(v, "yes");
        assert_true(t_cli_sends(&cli, "GET /sync HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_true(t_cli_read(&cli, &resp, false));
        assert_non_null(strstr(resp.body, "p=/sync "));
    }
    /* The client goes away while the handler still holds the request: the late answer is
     * dropped, nothing leaks (ASan) and the server keeps serving. */
    assert_true(t_cli_sends(&cli, "GET /async HTTP/1.1\r\nHost: h\r\n\r\n"));
    t_cli_close(&cli);
    usleep(150 * 1000);
    assert_true(t_cli_open(&cli, "127.0.0.1", s.port));
    assert_true(t_cli_sends(&cli, "GET /after HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "p=/after "));
    t_cli_close(&cli);
    /* Stop while an answer is pending: run returns only after it was sent. */
    assert_true(t_cli_open(&cli, "127.0.0.1", s.port));
    assert_true(t_cli_sends(&cli, "GET /async HTTP/1.1\r\nHost: h\r\n\r\n"));
    usleep(10 * 1000);
    cf_http_server_stop(s.srv);
    assert_true(t_cli_read(&cli, &resp, false));
    assert_int_equal(resp.status, 200);
    assert_true(t_resp_header(&resp, "Connection", v, sizeof(v)));
    assert_string_equal(v, "close");
    t_cli_close(&cli);
    t_srv_stop(&s);
}

static void test_ipv6(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    static const char *const v6[] = {"[::1]"};

    (void)state;
    t_opts(&o, &cert, both, 2);
    t_srv_start(&s, &o);
    assert_true(t_cli_open(&cli, "::1", s.port));
    assert_true(t_cli_sends(&cli, "GET /six HTTP/1.1\r\nHost: [::1]\r\n\r\n"));
    assert_true(t_cli_read(&cli, &resp, false));
    assert_non_null(strstr(resp.body, "p=/six q= h=[::1] ip=::1 "));
    assert_true(t_cli_open(&cli2, "127.0.0.1", s.port));
    assert_true(t_cli_sends(&cli2, "GET /four HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&cli2, &resp, false));
    assert_non_null(strstr(resp.body, "ip=127.0.0.1 "));
    t_cli_close(&cli);
    t_cli_close(&cli2);
    t_srv_stop(&s);

    /* IPv6 only: IPV6_V6ONLY means 127.0.0.1 is not served. */
    t_opts(&o, &cert, v6, 1);
    t_srv_start(&s, &o);
    assert_true(t_cli_open(&cli, "::1", s.port));
    t_cli_close(&cli);
    assert_int_equal(t_tcp("127.0.0.1", s.port), -1);
    t_srv_stop(&s);
}

#define MANY 200

/* 200 connections open at once, each with a request in flight, all answered; the answers
 * come from both workers. */
static void test_many_connections(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    struct t_cli *cs = calloc(MANY, sizeof(*cs));
    bool saw[2] = {false, false};
    int ok = 0;

    (void)state;
    assert_non_null(cs);
    t_opts(&o, &cert, both, 2);
    t_srv_start(&s, &o);
    for (int i = 0; i < MANY; i++) {
        char req[128];
        assert_true(t_cli_open(&cs[i], i % 2 ? "::1" : "127.0.0.1", s.port));
        snprintf(req, sizeof(req), "GET /c%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
        assert_true(t_cli_sends(&cs[i], req));
    }
    for (int i = 0; i < MANY; i++) {
        char want[32];
        const char *w;
        snprintf(want, sizeof(want), "p=/c%d ", i);
        if (t_cli_read(&cs[i], &resp, false) && resp.status == 200 && strstr(resp.body, want))
            ok++;
        w = strstr(resp.body, " w=");
        if (w != NULL && (w[3] == '0' || w[3] == '1'))
            saw[w[3] - '0'] = true;
        t_cli_close(&cs[i]);
    }
    assert_int_equal(ok, MANY);
    /* SO_REUSEPORT spreads connections by hash; with 200 both workers get some. */
    assert_true(saw[0] && saw[1]);
    t_srv_stop(&s);
    free(cs);
}

static void test_port_taken_and_bad_options(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    struct cf_http_server *srv2;
    cf_err e;
    static const char *const bad[] = {"localhost"};

    (void)state;
    t_opts(&o, &cert, both, 2);
    t_srv_start(&s, &o);
    /* A second server on the same port fails early, even though both use SO_REUSEPORT. */
    o.port = s.port;
    srv2 = cf_http_server_new(&o, t_handler, NULL, &e);
    assert_null(srv2);
    assert_int_equal(e, CF_EEXISTS);
    t_srv_stop(&s);

    t_opts(&o, &cert, bad, 1);
    assert_null(cf_http_server_new(&o, t_handler, NULL, &e));
    assert_int_equal(e, CF_EINVAL);
    t_opts(&o, &cert, both, 2);
    o.key_file = "/nonexistent/key.pem";
    assert_null(cf_http_server_new(&o, t_handler, NULL, &e));
    assert_int_equal(e, CF_EIO);
    t_opts(&o, &cert, both, 2);
    o.port = 70000;
    assert_null(cf_http_server_new(&o, t_handler, NULL, &e));
    assert_int_equal(e, CF_EINVAL);
    assert_null(cf_http_server_new(NULL, t_handler, NULL, &e));
    cf_http_server_free(NULL);
}

/* Stop before run makes run return at once; free after new without run is clean. */
static void test_stop_before_run(void **state)
{
    struct cf_http_opts o;
    struct cf_http_server *srv;
    cf_err e;
    double t0;

    (void)state;
    t_opts(&o, &cert, both, 2);
    o.threads = 0; /* one per core */
    srv = cf_http_server_new(&o, t_handler, NULL, &e);
    assert_non_null(srv);
    cf_http_server_stop(srv);
    t0 = t_now();
    assert_int_equal(cf_http_server_run(srv), CF_OK);
    assert_true(t_now() - t0 < 1.0);
    cf_http_server_free(srv);

    srv = cf_http_server_new(&o, t_handler, NULL, &e);
    assert_non_null(srv);
    cf_http_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_and_fields),
        cmocka_unit_test(test_response_headers),
        cmocka_unit_test(test_head_and_204),
        cmocka_unit_test(test_async_answer),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_port_taken_and_bad_options),
        cmocka_unit_test(test_stop_before_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_timeouts.c - slow clients hold a slot for a bounded time only: a request head trickled
 * byte by byte, a body trickled, a stalled TLS handshake are all cut at header_timeout_s while
 * other connections are served; an idle keep-alive connection lives idle_timeout_s. */
#include "base/cf.h"
#include "http_test.h"

static struct t_cert cert;
static const char *const v4[] = {"127.0.0.1"};
static struct t_cli loris, slowbody, good;
static struct t_resp resp;

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

/* True if the server closed c (poll + read without blocking). */
static bool closed_now(struct t_cli *c)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    char b[64];

    if (poll(&pfd, 1, 0) <= 0)
        return false;
    return t_cli_read_closed(c, b, sizeof(b));
}

static void test_slow_clients_cut(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    double t0, t_loris = 0, t_body = 0, t_tcp_closed = 0;
    int stall, served = 0;
    char b[8];

    (void)state;
    t_opts(&o, &cert, v4, 1); /* one worker: the slow ones share the loop with the good one */
    o.header_timeout_s = 1;
    o.idle_timeout_s = 5;
    t_srv_start(&s, &o);
    t0 = t_now();
    stall = t_tcp("127.0.0.1", s.port); /* never starts TLS */
    assert_true(stall >= 0);
    assert_true(t_cli_open(&loris, "127.0.0.1", s.port));
    assert_true(t_cli_sends(&loris, "GET / HTTP/1.1\r\nHo"));
    assert_true(t_cli_open(&slowbody, "127.0.0.1", s.port));
    assert_true(t_cli_sends(&slowbody, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n"));
    assert_true(t_cli_open(&good, "127.0.0.1", s.port));

    while (t_now() - t0 < 4.0 && (t_loris == 0 || t_body == 0 || t_tcp_closed == 0)) {
        /* Keep both slow clients "active": a byte every 100 ms resets any inactivity timer. */
        if (t_loris == 0) {
            if (closed_now(&loris) || !t_cli_sends(&loris, "x"))
                t_loris = t_now() - t0;
        }
        if (t_body == 0) {
            if (closed_now(&slowbody) || !t_cli_sends(&slowbody, "y"))
                t_body = t_now() - t0;
        }
        if (t_tcp_closed == 0) {
            struct pollfd pfd = {stall, POLLIN, 0};
            if (poll(&pfd, 1, 0) > 0 && read(stall, b, sizeof(b)) <= 0)
                t_tcp_closed = t_now() - t0;
        }
        /* Meanwhile the good client is served promptly. */
        double r0 = t_now();
        assert_true(t_cli_sends(&good, "GET /good HTTP/1.1\r\nHost: h\r\n\r\n"));
        if (!t_cli_read(&good, &resp, false))
            fail_msg("good client not served at %.3f s (served %d)", t_now() - t0, served);
        assert_int_equal(resp.status, 200);
        /* well under the 1 s deadline: not queued behind the slow ones */
        assert_true(t_now() - r0 < 0.8);
        served++;
        usleep(100 * 1000);
    }
    assert_true(t_loris >= 0.9 && t_loris < 3.0);
    assert_true(t_body >= 0.9 && t_body < 3.0);
    assert_true(t_tcp_closed >= 0.9 && t_tcp_closed < 3.0);
    assert_true(served >= 8);
    close(stall);
    t_cli_close(&loris);
    t_cli_close(&slowbody);
    t_cli_close(&good);
    t_srv_stop(&s);
}

/* Between requests the idle timeout applies, not the header timeout. */
static void test_idle_keepalive(void **state)
{
    struct cf_http_opts o;
    struct t_srv s;
    double waited = 0;

    (void)state;
    t_opts(&o, &cert, v4, 1);
    o.header_timeout_s = 1;
    o.idle_timeout_s = 2;
    t_srv_start(&s, &o);
    assert_true(t_cli_open(&good, "127.0.0.1", s.port));
    assert_true(t_cli_sends(&good, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&good, &resp, false));
    usleep(1500 * 1000); /* longer than the header timeout */
    assert_true(t_cli_sends(&good, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_true(t_cli_read(&good, &resp, false));
    assert_non_null(strstr(resp.body, "p=/b "));
    assert_true(t_cli_wait_closed(&good, 4, &waited));
    assert_true(waited >= 1.8 && waited < 4.0);
    t_cli_close(&good);
    t_srv_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_clients_cut),
        cmocka_unit_test(test_idle_keepalive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_fetch.c - cf_http_fetch (fetch.c): a plain-HTTP round trip against the admin listener
 * (status, body, headers, POST body seen by the server side's path), HEAD, bad URLs and
 * methods refused, a closed port and a TLS peer that does not verify reported as CF_EIO. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>

#include "http/fetch.h"
#include "http/http.h"

static void handler(void *ctx, enum cf_http_method method, struct cf_str path,
                    struct cf_http_admin_reply *out)
{
    (void)ctx;
    if (path.len == 6 && memcmp(path.p, "/hello", 6) == 0) {
        out->status = 200;
        out->content_type = "application/json";
        if (method == CF_HTTP_GET && cf_buf_append_str(&out->body, CF_STR("{\"hi\":1}")))
            out->status = 500;
        return;
    }
    out->status = 404;
}

static void round_trip(void **state)
{
    struct cf_http_admin *a;
    struct cf_http_fetch_resp r;
    char url[128];
    cf_err e;
    int port;

    (void)state;
    a = cf_http_admin_new(&(struct cf_http_admin_opts){.addr = "127.0.0.1"}, handler, NULL, &e);
    assert_non_null(a);
    assert_int_equal(cf_http_admin_start(a), CF_OK);
    port = cf_http_admin_port(a);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello?x=1", port);
    assert_int_equal(cf_http_fetch("GET", url, NULL, NULL, 0, NULL, 5, &r), CF_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.body.len, 8);
    assert_memory_equal(r.body.data, "{\"hi\":1}", 8);
    cf_http_fetch_resp_release(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nothing", port);
    assert_int_equal(cf_http_fetch("GET", url, NULL, NULL, 0, NULL, 5, &r), CF_OK);
    assert_int_equal(r.status, 404);
    cf_http_fetch_resp_release(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", port);
    assert_int_equal(cf_http_fetch("HEAD", url, NULL, NULL, 0, NULL, 5, &r), CF_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    cf_http_fetch_resp_release(&r);
    /* TLS to a plain listener: the handshake fails */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/hello", port);
    assert_int_equal(cf_http_fetch("GET", url, NULL, NULL, 0, NULL, 5, &r), CF_EIO);
    cf_http_fetch_resp_release(&r);
    cf_http_admin_free(a);
    /* nobody listens there any more */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", port);
    assert_int_equal(cf_http_fetch("GET", url, NULL, NULL, 0, NULL, 5, &r), CF_EIO);
    cf_http_fetch_resp_release(&r);
}

static void bad_input(void **state)
{
    struct cf_http_fetch_resp r;
    (void)state;
    assert_int_equal(cf_http_fetch("PUT", "http://127.0.0.1:1/", NULL, NULL, 0, NULL, 1, &r),
                     CF_EINVAL);
    cf_http_fetch_resp_release(&r);
    assert_int_equal(cf_http_fetch("GET", "ftp://127.0.0.1/", NULL, NULL, 0, NULL, 1, &r),
                     CF_EINVAL);
    cf_http_fetch_resp_release(&r);
    assert_int_equal(cf_http_fetch("GET", "not a url", NULL, NULL, 0, NULL, 1, &r), CF_EINVAL);
    cf_http_fetch_resp_release(&r);
    assert_int_equal(cf_http_fetch("GET", NULL, NULL, NULL, 0, NULL, 1, &r), CF_EINVAL);
    cf_http_fetch_resp_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

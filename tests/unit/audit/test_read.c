/* test_read.c - reading records back with filters (vault, time range, operation, caller,
 * node); headers and checkpoints are skipped; the callback can stop early. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "audit/audit.h"
#include "helpers.h"

#include <setjmp.h>
#include <cmocka.h>

struct count {
    int n, stop_at;
    char last_op[32];
};

static bool cb(void *ctx, const char *line, size_t len, const struct cf_json *rec)
{
    struct count *c = ctx;
    size_t n;
    const char *op = cf_json_str(cf_json_get(rec, "operationName"), &n);
    assert_non_null(strstr(line, "\"chain\":{"));
    assert_true(len > 10);
    snprintf(c->last_op, sizeof(c->last_op), "%s", op ? op : "");
    c->n++;
    return !(c->stop_at && c->n >= c->stop_at);
}

static int run(const char *dir, const struct cf_audit_filter *f, int stop_at)
{
    struct count c = {0, stop_at, ""};
    assert_int_equal(cf_audit_read(dir, f, cb, &c), CF_OK);
    return c.n;
}

static void test_filters(void **state)
{
    char dir[64];
    struct cf_audit_config c = {0};
    struct cf_audit *a;
    struct cf_audit_filter f;
    struct cf_audit_event ev;
    struct cf_buf b;
    cf_err e;
    (void)state;

    test_mkdtemp(dir);
    c.dir = dir;
    c.mac_key = test_key;
    c.node_id = "n1";
    c.checkpoint_every = 3;
    a = cf_audit_open(&c, &e);
    assert_non_null(a);
    assert_int_equal(test_append_n(a, 0, 10, false), CF_OK); /* 5 SecretGet, 5 SecretSet */
    assert_int_equal(cf_audit_rotate(a), CF_OK);
    cf_buf_init(&b, CF_AUDIT_MAX_LINE);
    test_event(&ev, 100);
    ev.resource_id = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/other";
    ev.identity.oid = NULL;
    ev.identity.appid = "app-1";
    ev.operation_name = "KeySign";
    assert_int_equal(cf_audit_format(&ev, &b), CF_OK);
    assert_int_equal(cf_audit_append(a, cf_buf_str(&b), false), CF_OK);
    cf_buf_release(&b);
    cf_audit_close(a);
    c.node_id = "n2"; /* a second node's chain in the same directory */
    a = cf_audit_open(&c, &e);
    assert_non_null(a);
    assert_int_equal(test_append_n(a, 200, 2, false), CF_OK);
    cf_audit_close(a);

    assert_int_equal(run(dir, NULL, 0), 13);
    f = (struct cf_audit_filter){0};
    f.vault = "CONTOSO-kv";
    assert_int_equal(run(dir, &f, 0), 12);
    f.operation = "secretget";
    assert_int_equal(run(dir, &f, 0), 6);
    f = (struct cf_audit_filter){0};
    f.caller = "app-1";
    assert_int_equal(run(dir, &f, 0), 1);
    f.caller = "203.0.113.7";
    assert_int_equal(run(dir, &f, 0), 13);
    f.caller = "9a2b0c3d-0000-4000-8000-000000000002";
    assert_int_equal(run(dir, &f, 0), 12);
    f = (struct cf_audit_filter){0};
    f.since_ms = 1740910542123 + 5; /* test_event times are base + i */
    f.until_ms = 1740910542123 + 8;
    assert_int_equal(run(dir, &f, 0), 3);
    f = (struct cf_audit_filter){0};
    f.node = "n2";
    assert_int_equal(run(dir, &f, 0), 2);
    assert_int_equal(run(dir, NULL, 4), 4);
    assert_int_equal(cf_audit_read("/nonexistent", NULL, cb, NULL), CF_ENOTFOUND);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_filters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

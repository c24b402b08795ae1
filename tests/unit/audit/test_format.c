/* test_format.c - the AuditEvent line: exact JSON in Azure's order, defaults, escaping of
 * hostile strings, caps, and the time format. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "audit/audit.h"

#include <time.h>
#include <setjmp.h>
#include <cmocka.h>

static void test_exact(void **state)
{
    struct cf_audit_event ev = {0};
    struct cf_buf b;
    (void)state;
    ev.time_ms = 1740910542123;
    ev.resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/app-rg/"
                     "providers/Microsoft.KeyVault/vaults/contoso-kv";
    ev.operation_name = "SecretGet";
    ev.operation_version = "7.4";
    ev.duration_ms = 12;
    ev.caller_ip = "203.0.113.7";
    ev.correlation_id = "3f2c8a8e-6c0e-4c39-9a55-0d1a3f0c9b11";
    ev.identity.oid = "9a2b0c3d-0000-4000-8000-000000000002";
    ev.identity.appid = "11111111-1111-1111-1111-111111111111";
    ev.id = "https://contoso-kv.vault.azure.net/secrets/db-pass/4f0e";
    ev.client_info = "azsdk-python-keyvault-secrets/4.8.0 Python/3.12";
    ev.request_uri = "https://contoso-kv.vault.azure.net/secrets/db-pass?api-version=7.4";
    ev.http_status = 200;
    ev.is_access_policy_match = CF_AUDIT_NO;
    ev.is_rbac_authorized = CF_AUDIT_YES;
    ev.tls_version = "TLS1_2";
    cf_buf_init(&b, CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_audit_format(&ev, &b), CF_OK);
    assert_string_equal(
        b.data,
        "{\"time\":\"2025-03-02T10:15:42.1230000Z\","
        "\"resourceId\":\"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/"
        "APP-RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/CONTOSO-KV\","
        "\"operationName\":\"SecretGet\",\"operationVersion\":\"7.4\",\"category\":\"AuditEvent\","
        "\"resultType\":\"Success\",\"resultSignature\":\"OK\",\"resultDescription\":\"\","
        "\"durationMs\":\"12\",\"callerIpAddress\":\"203.0.113.7\","
        "\"correlationId\":\"3f2c8a8e-6c0e-4c39-9a55-0d1a3f0c9b11\","
        "\"identity\":{\"claim\":{\"http://schemas.microsoft.com/identity/claims/"
        "objectidentifier\":\"9a2b0c3d-0000-4000-8000-000000000002\","
        "\"appid\":\"11111111-1111-1111-1111-111111111111\"}},"
        "\"properties\":{\"id\":\"https://contoso-kv.vault.azure.net/secrets/db-pass/4f0e\","
        "\"clientInfo\":\"azsdk-python-keyvault-secrets/4.8.0 Python/3.12\","
        "\"requestUri\":\"https://contoso-kv.vault.azure.net/secrets/db-pass?api-version=7.4\","
        "\"httpStatusCode\":200,\"isAccessPolicyMatch\":false,\"isRbacAuthorized\":true,"
        "\"tlsVersion\":\"TLS1_2\"}}");
    cf_buf_release(&b);
}

static void test_defaults(void **state)
{
    struct cf_audit_event ev = {0};
    struct cf_buf b;
    (void)state;
    cf_buf_init(&b, CF_AUDIT_MAX_LINE);
    /* A refused, unauthenticated request: no identity, failure words from the status. */
    ev.operation_name = "Authentication";
    ev.http_status = 401;
    assert_int_equal(cf_audit_format(&ev, &b), CF_OK);
    assert_string_equal(b.data,
                        "{\"time\":\"1970-01-01T00:00:00.0000000Z\",\"resourceId\":\"\","
                        "\"operationName\":\"Authentication\",\"operationVersion\":\"\","
                        "\"category\":\"AuditEvent\",\"resultType\":\"Failure\","
                        "\"resultSignature\":\"Unauthorized\",\"resultDescription\":\"\","
                        "\"durationMs\":\"0\",\"callerIpAddress\":\"\",\"correlationId\":\"\","
                        "\"properties\":{\"httpStatusCode\":401}}");
    /* Appends: the earlier content stays. */
    ev.http_status = 403;
    ev.result_description = "Caller is not authorized";
    assert_int_equal(cf_audit_format(&ev, &b), CF_OK);
    assert_non_null(strstr(b.data, "}}{\"time\""));
    assert_non_null(strstr(b.data, "\"resultSignature\":\"Forbidden\",\"resultDescription\":"
                                   "\"Caller is not authorized\""));
    cf_buf_release(&b);
}

static void test_hostile(void **state)
{
    struct cf_audit_event ev = {0};
    struct cf_buf b;
    struct cf_json *j = NULL;
    size_t n;
    const char *ua;
    char big[10000];
    (void)state;
    cf_buf_init(&b, CF_AUDIT_MAX_LINE);
    /* Quotes, backslashes, newlines, control bytes, invalid UTF-8 and a fake chain tail. */
    ev.client_info = "evil\"},\"chain\":{\"seq\":1\n\r\t\x01\\\xff\xc3";
    ev.caller_ip = "1.2.3.4\n{\"category\":\"AuditEvent\"}";
    ev.operation_name = "SecretGet";
    assert_int_equal(cf_audit_format(&ev, &b), CF_OK);
    assert_null(memchr(b.data, '\n', b.len));
    assert_null(memchr(b.data, '\r', b.len));
    assert_non_null(strstr(b.data, "\"clientInfo\":\"evil\\\"},\\\"chain\\\":{\\\"seq\\\":1\\n\\r"
                                   "\\t\\u0001\\\\\\ufffd\\ufffd\""));
    assert_int_equal(cf_json_parse(b.data, b.len, &j, NULL, 0), CF_OK);
    ua = cf_json_str(cf_json_get(cf_json_get(j, "properties"), "clientInfo"), &n);
    assert_non_null(ua);
    assert_memory_equal(ua, "evil\"},\"chain\":{\"seq\":1\n\r\t\x01\\\xef\xbf\xbd", 31);
    cf_json_free(j);

    /* Every field at its worst (all bytes escaped 6x) still fits the line limit. */
    memset(big, 0x01, sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ev = (struct cf_audit_event){0};
    ev.resource_id = ev.operation_name = ev.operation_version = ev.result_type = big;
    ev.result_signature = ev.result_description = ev.caller_ip = ev.correlation_id = big;
    ev.identity.oid = ev.identity.appid = ev.identity.upn = big;
    ev.id = ev.client_info = ev.request_uri = ev.applied_assignment_id = ev.tls_version = big;
    cf_buf_reset(&b);
    assert_int_equal(cf_audit_format(&ev, &b), CF_OK);
    assert_true(b.len < CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_json_parse(b.data, b.len, &j, NULL, 0), CF_OK);
    cf_json_free(j);
    cf_buf_release(&b);
}

static void test_too_small_buffer(void **state)
{
    struct cf_audit_event ev = {0};
    struct cf_buf b;
    (void)state;
    cf_buf_init(&b, 64);
    assert_int_equal(cf_buf_puts(&b, "keep"), CF_OK);
    ev.operation_name = "SecretGet";
    assert_int_equal(cf_audit_format(&ev, &b), CF_ETOOBIG);
    assert_string_equal(b.data, "keep");
    cf_buf_release(&b);
}

static void test_time(void **state)
{
    char t[32];
    int64_t ms;
    (void)state;
    cf_audit_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.0000000Z");
    cf_audit_time(1740910542007, t);
    assert_string_equal(t, "2025-03-02T10:15:42.0070000Z");
    assert_true(cf_audit_parse_time(t, &ms));
    assert_int_equal(ms, 1740910542007);
    assert_true(cf_audit_parse_time("2025-03-02T10:15:42.1234567Z", &ms));
    assert_int_equal(ms, 1740910542123);
    assert_true(cf_audit_parse_time("2025-03-02T10:15:42Z", &ms));
    assert_int_equal(ms, 1740910542000);
    assert_false(cf_audit_parse_time("2025-03-02T10:15:42", &ms));
    assert_false(cf_audit_parse_time("2025-03-02 10:15:42Z", &ms));
    assert_false(cf_audit_parse_time("2025-13-02T10:15:42Z", &ms));
    assert_false(cf_audit_parse_time("2025-03-02T10:15:42.Z", &ms));
    assert_false(cf_audit_parse_time(NULL, &ms));
}

/* cf_audit_time's own calendar arithmetic against gmtime_r + strftime (what it replaced) over
 * leap days, century and 400-year rules, pre-1970 times and the year 9999 edge (from year 1000:
 * strftime does not pad shorter years). */
static void test_time_matches_gmtime(void **state)
{
    static const int64_t fixed[] = {
        -1,            -86400000,     -30610224000000, /* 1000-01-01 */
        951782400000,  951868799999,  /* 2000-02-29 */
        4107542400000, /* 2100-03-01 */ 253402300799999, /* 9999-12-31T23:59:59.999 */
        1709164800000, /* 2024-02-29 */ 1735689599999};
    uint64_t x = 88172645463325252ull;
    char got[32], want[32];
    (void)state;
    for (size_t i = 0; i < 200000 + CF_ARRAY_LEN(fixed); i++) {
        int64_t ms;
        time_t t;
        struct tm tm;
        if (i < CF_ARRAY_LEN(fixed)) {
            ms = fixed[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ms = (int64_t)(x % 284012524800000ull) - 30610224000000; /* years 1000..9999 */
        }
        t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        gmtime_r(&t, &tm);
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + 19, sizeof(want) - 19, ".%03d0000Z", (int)(ms - (int64_t)t * 1000));
        cf_audit_time(ms, got);
        if (strcmp(got, want) != 0)
            fail_msg("%lld: got %s, want %s", (long long)ms, got, want);
    }
    cf_audit_time(253402300800000, got); /* year 10000 */
    assert_string_equal(got, "9999-12-31T23:59:59.9990000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_matches_gmtime),
        cmocka_unit_test(test_exact),   cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_hostile), cmocka_unit_test(test_too_small_buffer),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

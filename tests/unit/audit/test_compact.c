/* test_compact.c - the compact form of record lines (compact.c): round trips of real-shaped
 * records (secret set, key create, certificate import, failures with a description, long and
 * non-ASCII URIs, upn, access policies) and of every printable byte and JSON escape around
 * every token's edges; token-free input expands to itself; expand refuses unknown tokens and a
 * repeat without its id; every prefix of a compact line expands to a prefix of the line; the
 * output is never longer than the input; the size on a typical SET record; and the cost per
 * call (printed). */
#include "base/cf.h"
#include "base/buf.h"
#include "audit/audit.h"

#include <time.h>
#include <setjmp.h>
#include <cmocka.h>

/* A SET record exactly as fast_format wrote it on a dev server (session 5), and its
 * requestUri-differs sibling, a key create. */
#define SET_LINE                                                                                   \
    "{\"time\":\"2026-12-05T11:42:56.0750000Z\",\"resourceId\":\"/SUBSCRIPTIONS/"                 \
    "82E9421C-29C2-4714-9235-3A0BC799223A/RESOURCEGROUPS/COFFER-DEV/PROVIDERS/"                   \
    "MICROSOFT.KEYVAULT/VAULTS/COFFER\",\"operationName\":\"SecretSet\",\"operationVersion\":"   \
    "\"7.5\",\"category\":\"AuditEvent\",\"resultType\":\"Success\",\"resultSignature\":\"OK\","  \
    "\"resultDescription\":\"\",\"durationMs\":\"0\",\"callerIpAddress\":\"127.0.0.1\","         \
    "\"correlationId\":\"3f2c8a8e-6c0e-4c39-9a55-0d1a3f0c9b11\",\"identity\":{\"claim\":{"       \
    "\"http://schemas.microsoft.com/identity/claims/objectidentifier\":"                           \
    "\"7957a71c-7d00-4f41-9f46-1dace9f4761b\",\"appid\":\"50df0086-c18a-46c0-b94f-53da310d1b55\"}}," \
    "\"properties\":{\"id\":\"https://coffer.vault.localhost:24458/secrets/bench-set-17\","       \
    "\"clientInfo\":\"azsdk-python-keyvault-secrets/4.8.0 Python/3.11.2 (Linux-6.1.0-x86_64)\","  \
    "\"requestUri\":\"https://coffer.vault.localhost:24458/secrets/bench-set-17\","               \
    "\"httpStatusCode\":200,\"isRbacAuthorized\":true}}"

static void fill_event(struct cf_audit_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->time_ms = 1764935000123;
    ev->resource_id = "/subscriptions/82e9421c-29c2-4714-9235-3a0bc799223a/resourceGroups/"
                      "coffer-dev/providers/Microsoft.KeyVault/vaults/coffer";
    ev->operation_name = "SecretSet";
    ev->operation_version = "7.5";
    ev->caller_ip = "127.0.0.1";
    ev->correlation_id = "3f2c8a8e-6c0e-4c39-9a55-0d1a3f0c9b11";
    ev->identity.oid = "7957a71c-7d00-4f41-9f46-1dace9f4761b";
    ev->identity.appid = "50df0086-c18a-46c0-b94f-53da310d1b55";
    ev->id = "https://coffer.vault.localhost:8443/secrets/db-pass";
    ev->client_info = "azsdk-net-Security.KeyVault.Secrets/4.6.0 (.NET 8.0.1; Linux)";
    ev->request_uri = "https://coffer.vault.localhost:8443/secrets/db-pass";
    ev->http_status = 200;
    ev->is_rbac_authorized = CF_AUDIT_YES;
}

/* compact -> expand gives line back; the compact form is no longer than line and holds no
 * byte the log would refuse but tokens. Returns the compact length. */
static size_t round_trip(const char *line, size_t n)
{
    struct cf_buf c, x;
    size_t m;
    cf_buf_init(&c, CF_AUDIT_MAX_LINE);
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_audit_compact((struct cf_str){line, n}, &c), CF_OK);
    assert_true(c.len <= n);
    assert_int_equal(cf_audit_expand(cf_buf_str(&c), &x), CF_OK);
    assert_int_equal(x.len, n);
    assert_memory_equal(x.data, line, n);
    /* and again appended after existing content (offsets are relative to out's start) */
    assert_int_equal(cf_audit_expand(cf_buf_str(&c), &x), CF_OK);
    assert_int_equal(x.len, 2 * n);
    assert_memory_equal(x.data + n, line, n);
    m = c.len;
    cf_buf_release(&c);
    cf_buf_release(&x);
    return m;
}

static size_t rt_event(const struct cf_audit_event *ev, size_t *full)
{
    struct cf_buf b;
    size_t m;
    cf_buf_init(&b, CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_audit_format(ev, &b), CF_OK);
    *full = b.len;
    m = round_trip(b.data, b.len);
    cf_buf_release(&b);
    return m;
}

/* The text of token byte k, or false when k is not a token. */
static bool token_text(unsigned k, struct cf_buf *out)
{
    char c = (char)k;
    cf_buf_reset(out);
    return cf_audit_expand((struct cf_str){&c, 1}, out) == CF_OK;
}

static void typical_set_record(void **state)
{
    size_t n = strlen(SET_LINE), m;
    (void)state;
    m = round_trip(SET_LINE, n);
    print_message("SET record: %zu bytes -> %zu compact (%.1f%% smaller)\n", n, m,
                  100.0 * (double)(n - m) / (double)n);
    /* the brief: well over 40 % fewer bytes on a typical SET record */
    assert_true(m * 100 <= n * 45);
}

static void real_shaped_records(void **state)
{
    struct cf_audit_event ev;
    size_t n, m;
    char longuri[2100], longid[2100];
    (void)state;

    fill_event(&ev);
    m = rt_event(&ev, &n);
    assert_true(m * 2 < n);

    /* key create: requestUri differs from id (the id's span is not repeated) */
    fill_event(&ev);
    ev.operation_name = "KeyCreate";
    ev.id = "https://coffer.vault.localhost:8443/keys/k1";
    ev.request_uri = "https://coffer.vault.localhost:8443/keys/k1/create";
    m = rt_event(&ev, &n);
    assert_true(m * 2 < n);

    /* certificate import, access-policy vault, a upn */
    fill_event(&ev);
    ev.operation_name = "CertificateImport";
    ev.id = "https://coffer.vault.localhost:8443/certificates/web";
    ev.request_uri = "https://coffer.vault.localhost:8443/certificates/web/import";
    ev.identity.upn = "alice@contoso.example";
    ev.is_rbac_authorized = CF_AUDIT_UNSET;
    ev.is_access_policy_match = CF_AUDIT_YES;
    ev.tls_version = "TLS1_3";
    (void)rt_event(&ev, &n);

    /* failures with a description, statuses other than 200 */
    fill_event(&ev);
    ev.http_status = 400;
    ev.result_description = "The request URI contains an invalid name: bad\xc3\xa9 \"quoted\" \\ "
                            "and \x01 control, tab\t";
    ev.id = "https://coffer.vault.localhost:8443/secrets/bad\xc3\xa9";
    ev.request_uri = "https://coffer.vault.localhost:8443/secrets/bad%C3%A9";
    (void)rt_event(&ev, &n);
    fill_event(&ev);
    ev.http_status = 403;
    ev.is_rbac_authorized = CF_AUDIT_NO;
    ev.identity.oid = NULL;
    (void)rt_event(&ev, &n);
    fill_event(&ev);
    ev.http_status = 204;
    ev.operation_name = "SecretPurge";
    ev.id = "https://coffer.vault.localhost:8443/deletedsecrets/x";
    ev.request_uri = ev.id;
    (void)rt_event(&ev, &n);

    /* long URIs (the format's caps) with quotes and non-ASCII in them */
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    memcpy(longid, "https://h/secrets/", 18);
    longid[100] = '"';
    longid[200] = '\xe2';
    longid[201] = '\x82';
    longid[202] = '\xac';
    memcpy(longuri, longid, sizeof(longuri));
    fill_event(&ev);
    ev.id = longid;
    ev.request_uri = longuri;
    (void)rt_event(&ev, &n);
    longuri[50] = 'b'; /* differs inside the id's span */
    (void)rt_event(&ev, &n);
    /* a record without identity or properties id (the token endpoint's) */
    fill_event(&ev);
    ev.identity.oid = NULL;
    ev.id = NULL;
    ev.resource_id = "/TENANTS/AE86BEC6-C422-4C91-8093-5E991FB49BD0";
    (void)rt_event(&ev, &n);
    /* an empty event */
    memset(&ev, 0, sizeof(ev));
    (void)rt_event(&ev, &n);
}

/* Every printable byte and JSON escape on both edges of, and inside, every token; two tokens
 * back to back; tokens at the very start and end. */
static void every_byte_around_tokens(void **state)
{
    static const char *const esc[] = {"\\\"", "\\\\", "\\u0001", "\\n", "\\u001f", "\xc3\xa9",
                                      "\xf0\x9f\x94\x91"};
    struct cf_buf t, u, line;
    unsigned ntok = 0;
    (void)state;

    cf_buf_init(&t, 4096);
    cf_buf_init(&u, 4096);
    cf_buf_init(&line, 1 << 16);
    for (unsigned k = 1; k < 0x20; k++) {
        if (!token_text(k, &t))
            continue;
        ntok++;
        for (unsigned k2 = 1; k2 < 0x20; k2 += 3) {
            if (!token_text(k2, &u))
                continue;
            for (unsigned b = 0x20; b <= 0x7e; b++) {
                char c = (char)b;
                size_t cut = b % t.len;
                cf_buf_reset(&line);
                /* c T c T[..cut] c T[cut..] U c U c */
                assert_int_equal(cf_buf_append(&line, &c, 1), CF_OK);
                assert_int_equal(cf_buf_append(&line, t.data, t.len), CF_OK);
                assert_int_equal(cf_buf_append(&line, &c, 1), CF_OK);
                assert_int_equal(cf_buf_append(&line, t.data, cut), CF_OK);
                assert_int_equal(cf_buf_append(&line, &c, 1), CF_OK);
                assert_int_equal(cf_buf_append(&line, t.data + cut, t.len - cut), CF_OK);
                assert_int_equal(cf_buf_append(&line, u.data, u.len), CF_OK);
                assert_int_equal(cf_buf_append(&line, &c, 1), CF_OK);
                assert_int_equal(cf_buf_append(&line, u.data, u.len), CF_OK);
                assert_int_equal(cf_buf_append(&line, &c, 1), CF_OK);
                (void)round_trip(line.data, line.len);
                /* the token alone and at the end */
                (void)round_trip(line.data + 1, t.len);
                (void)round_trip(line.data, line.len - 1);
            }
        }
        for (size_t e = 0; e < CF_ARRAY_LEN(esc); e++) {
            cf_buf_reset(&line);
            assert_int_equal(cf_buf_puts(&line, esc[e]), CF_OK);
            assert_int_equal(cf_buf_append(&line, t.data, t.len), CF_OK);
            assert_int_equal(cf_buf_puts(&line, esc[e]), CF_OK);
            assert_int_equal(cf_buf_append(&line, t.data, t.len / 2), CF_OK);
            assert_int_equal(cf_buf_puts(&line, esc[e]), CF_OK);
            assert_int_equal(cf_buf_append(&line, t.data + t.len / 2, t.len - t.len / 2), CF_OK);
            assert_int_equal(cf_buf_puts(&line, esc[e]), CF_OK);
            (void)round_trip(line.data, line.len);
        }
    }
    assert_int_equal(ntok, 27); /* the table: 27 constant tokens and the id repeat (0x1C) */
    cf_buf_release(&t);
    cf_buf_release(&u);
    cf_buf_release(&line);
}

/* Each constant token alone compacts to its own byte: every token is reachable (listed under
 * its lead byte, after the longer ones it is a prefix of). 0x1C (the id repeat) has the same
 * text as 0x13 (requestUri) and needs an id before it. */
static void every_token_reachable(void **state)
{
    struct cf_buf t, c;
    (void)state;
    cf_buf_init(&t, 4096);
    cf_buf_init(&c, 4096);
    for (unsigned k = 1; k <= 0x1c; k++) {
        assert_true(token_text(k, &t) || k == 0x1c);
        if (k == 0x1c)
            continue;
        assert_true(t.len >= 6); /* the size bound relies on it */
        cf_buf_reset(&c);
        assert_int_equal(cf_audit_compact(cf_buf_str(&t), &c), CF_OK);
        assert_int_equal(c.len, 1);
        assert_int_equal((unsigned char)c.data[0], k);
    }
    cf_buf_release(&t);
    cf_buf_release(&c);
}

static void token_free_is_identity(void **state)
{
    struct cf_buf x;
    const char *const lines[] = {
        SET_LINE, "", "{}", "plain text \xc3\xa9 \xff\xfe bytes", "{\"a\":\"\\u0001\"}",
        /* a NUL is not a token byte: copied */
    };
    char withnul[] = "ab\0cd";
    unsigned seed = 7;
    char rnd[512];
    (void)state;
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    for (size_t i = 0; i < CF_ARRAY_LEN(lines); i++) {
        cf_buf_reset(&x);
        assert_int_equal(cf_audit_expand(cf_str_from(lines[i]), &x), CF_OK);
        assert_string_equal(x.data, lines[i]);
    }
    cf_buf_reset(&x);
    assert_int_equal(cf_audit_expand((struct cf_str){withnul, 5}, &x), CF_OK);
    assert_int_equal(x.len, 5);
    assert_memory_equal(x.data, withnul, 5);
    for (int r = 0; r < 200; r++) {
        size_t n = (size_t)(r * 7 % (int)sizeof(rnd));
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            rnd[i] = (char)(0x20 + (seed >> 16) % 0xe0); /* 0x20..0xff */
        }
        cf_buf_reset(&x);
        assert_int_equal(cf_audit_expand((struct cf_str){rnd, n}, &x), CF_OK);
        assert_int_equal(x.len, n);
        assert_memory_equal(x.data, rnd, n);
        (void)round_trip(rnd, n);
    }
    cf_buf_release(&x);
}

static void expand_refuses(void **state)
{
    struct cf_buf x, c;
    char bad[] = "{\"a\":1\x1d}";
    (void)state;
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    cf_buf_init(&c, CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_buf_puts(&x, "kept"), CF_OK);
    /* token bytes the table does not have: refused, out as it was */
    for (unsigned k = 0x1d; k <= 0x1f; k++) {
        bad[7] = (char)k;
        assert_int_equal(cf_audit_expand(cf_str_from(bad), &x), CF_EINVAL);
        assert_int_equal(x.len, 4);
        assert_string_equal(x.data, "kept");
    }
    /* the id repeat with no id before it */
    assert_int_equal(cf_audit_expand(CF_STR("{\"x\":1\x1c\"}"), &x), CF_EINVAL);
    assert_string_equal(x.data, "kept");
    /* a row that would expand past out's max */
    {
        struct cf_buf small;
        char many[200];
        memset(many, 0x07, sizeof(many)); /* ~110 bytes each */
        cf_buf_init(&small, 4096);
        assert_int_equal(cf_audit_expand((struct cf_str){many, sizeof(many)}, &small),
                         CF_ETOOBIG);
        assert_int_equal(small.len, 0);
        cf_buf_release(&small);
    }
    /* compact refuses a line holding a token byte or a raw control byte */
    assert_int_equal(cf_audit_compact(CF_STR("{\"a\":\"\x01\"}"), &c), CF_EINVAL);
    assert_int_equal(cf_audit_compact(CF_STR("{\"a\":\"\n\"}"), &c), CF_EINVAL);
    assert_int_equal(cf_audit_compact((struct cf_str){"{\0}", 3}, &c), CF_EINVAL);
    assert_int_equal(c.len, 0);
    cf_buf_release(&x);
    cf_buf_release(&c);
}

/* A cut compact row expands to a cut line (a prefix), never to other text. */
static void truncated_rows(void **state)
{
    struct cf_buf c, x;
    size_t n = strlen(SET_LINE);
    (void)state;
    cf_buf_init(&c, CF_AUDIT_MAX_LINE);
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_audit_compact(CF_STR(SET_LINE), &c), CF_OK);
    for (size_t k = 0; k <= c.len; k++) {
        cf_buf_reset(&x);
        assert_int_equal(cf_audit_expand((struct cf_str){c.data, k}, &x), CF_OK);
        assert_true(x.len <= n);
        assert_memory_equal(x.data, SET_LINE, x.len);
        assert_true(k == c.len ? x.len == n : x.len < n);
    }
    cf_buf_release(&c);
    cf_buf_release(&x);
}

/* Random rows built from token bytes and text: expand never reads or writes out of bounds
 * (run under ASan) and either refuses or yields text that compacts no longer than itself. */
static void random_rows(void **state)
{
    struct cf_buf x, c;
    unsigned seed = 11;
    char row[256];
    (void)state;
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    cf_buf_init(&c, CF_AUDIT_MAX_LINE);
    for (int r = 0; r < 3000; r++) {
        size_t n = (size_t)(r % (int)sizeof(row));
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            row[i] = (seed >> 16) % 3 == 0 ? (char)((seed >> 8) % 0x20) : "\"/,0{a"[(seed >> 20) % 6];
        }
        cf_buf_reset(&x);
        if (cf_audit_expand((struct cf_str){row, n}, &x) != CF_OK)
            continue;
        if (memchr(x.data, 0, x.len))
            continue; /* a NUL came through as text: not a line */
        cf_buf_reset(&c);
        assert_int_equal(cf_audit_compact(cf_buf_str(&x), &c), CF_OK);
        (void)round_trip(x.data, x.len);
    }
    cf_buf_release(&x);
    cf_buf_release(&c);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ns per call on the SET record, the best of 10 rounds (the machine is shared: the minimum is
 * the codec's cost, the rest is other load). Printed for the report; the bound only catches a
 * blow-up, sanitizer builds included. */
static void cost(void **state)
{
    struct cf_buf c, x;
    const int iters = 2000;
    int64_t best_c = INT64_MAX, best_x = INT64_MAX;
    volatile size_t sink = 0;
    (void)state;
    cf_buf_init(&c, CF_AUDIT_MAX_LINE);
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    for (int round = 0; round < 10; round++) {
        int64_t t0, t1, t2;
        t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            cf_buf_reset(&c);
            assert_int_equal(cf_audit_compact(CF_STR(SET_LINE), &c), CF_OK);
            sink += c.len;
        }
        t1 = now_ns();
        for (int i = 0; i < iters; i++) {
            cf_buf_reset(&x);
            assert_int_equal(cf_audit_expand(cf_buf_str(&c), &x), CF_OK);
            sink += x.len;
        }
        t2 = now_ns();
        best_c = CF_MIN(best_c, t1 - t0);
        best_x = CF_MIN(best_x, t2 - t1);
    }
    print_message("compact %.0f ns, expand %.0f ns per %zu-byte SET record (best of 10)\n",
                  (double)best_c / iters, (double)best_x / iters, strlen(SET_LINE));
    assert_true(best_c / iters < 50000);
    assert_true(best_x / iters < 50000);
    (void)sink;
    cf_buf_release(&c);
    cf_buf_release(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typical_set_record),    cmocka_unit_test(real_shaped_records),
        cmocka_unit_test(every_byte_around_tokens), cmocka_unit_test(every_token_reachable),
        cmocka_unit_test(token_free_is_identity), cmocka_unit_test(expand_refuses),
        cmocka_unit_test(truncated_rows),        cmocka_unit_test(random_rows),
        cmocka_unit_test(cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

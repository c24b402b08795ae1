/* Unit tests of base/: buffers, strings, codecs, the JSON writer and reader, secrets, errors. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "base/str.h"

#include <setjmp.h>
#include <cmocka.h>

static void buf_respects_max(void **state)
{
    struct cf_buf b;
    (void)state;
    cf_buf_init(&b, 8);
    assert_int_equal(cf_buf_puts(&b, "12345678"), CF_OK);
    assert_int_equal(cf_buf_putc(&b, '9'), CF_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    cf_buf_reset(&b);
    assert_int_equal(cf_buf_printf(&b, "%d-%s", 42, "x"), CF_OK);
    assert_string_equal(b.data, "42-x");
    assert_int_equal(cf_buf_printf(&b, "%s", "toolongvalue"), CF_ETOOBIG);
    assert_string_equal(b.data, "42-x");
    cf_buf_wipe(&b);
    assert_null(b.data);
}

static void str_helpers(void **state)
{
    struct cf_str h, t;
    int64_t v;
    char low[16];
    (void)state;
    assert_true(cf_str_eq_ci(CF_STR("SeCrEt"), CF_STR("secret")));
    assert_false(cf_str_eq(CF_STR("a"), CF_STR("ab")));
    assert_true(cf_str_split(CF_STR("k=v=w"), '=', &h, &t));
    assert_true(cf_str_eq_cstr(h, "k"));
    assert_true(cf_str_eq_cstr(t, "v=w"));
    assert_false(cf_str_split(CF_STR("kv"), '=', &h, &t));
    assert_true(cf_str_to_i64(CF_STR("-9223372036854775808"), &v));
    assert_true(v == INT64_MIN);
    assert_true(cf_str_to_i64(CF_STR("32503680000"), &v));
    assert_true(v == 32503680000LL);
    assert_false(cf_str_to_i64(CF_STR("9223372036854775808"), &v));
    assert_false(cf_str_to_i64(CF_STR("12a"), &v));
    assert_false(cf_str_to_i64(CF_STR(""), &v));
    assert_false(cf_str_to_i64(CF_STR("-"), &v));
    cf_str_lower(CF_STR("AbC-1"), low);
    assert_string_equal(low, "abc-1");
}

static void codecs(void **state)
{
    struct cf_buf b;
    char hex[9];
    (void)state;
    cf_buf_init(&b, 1024);
    assert_int_equal(cf_b64url_encode(&b, "\xfb\xff\xbf", 3), CF_OK);
    assert_string_equal(b.data, "-_-_");
    cf_buf_reset(&b);
    assert_int_equal(cf_b64_encode(&b, "ab", 2), CF_OK);
    assert_string_equal(b.data, "YWI=");
    cf_buf_reset(&b);
    assert_int_equal(cf_b64_decode(&b, CF_STR("YWI=")), CF_OK);
    assert_string_equal(b.data, "ab");
    cf_buf_reset(&b);
    assert_int_equal(cf_b64_decode(&b, CF_STR("YWI")), CF_OK);
    assert_string_equal(b.data, "ab");
    cf_buf_reset(&b);
    assert_int_equal(cf_b64_decode(&b, CF_STR("Y")), CF_EINVAL);
    assert_int_equal(cf_b64_decode(&b, CF_STR("Y*I=")), CF_EINVAL);
    cf_buf_reset(&b);
    assert_int_equal(cf_pct_decode(&b, CF_STR("api%2Dversion=a+b"), true), CF_OK);
    assert_string_equal(b.data, "api-version=a b");
    assert_int_equal(cf_pct_decode(&b, CF_STR("%4"), false), CF_EINVAL);
    assert_int_equal(cf_pct_decode(&b, CF_STR("%zz"), false), CF_EINVAL);
    cf_buf_reset(&b);
    assert_int_equal(cf_pct_encode(&b, CF_STR("a b/~")), CF_OK);
    assert_string_equal(b.data, "a%20b%2F~");
    cf_hex_encode(hex, "\x01\xab\xff\x10", 4);
    assert_string_equal(hex, "01abff10");
    cf_buf_release(&b);
}

static void json_writer(void **state)
{
    struct cf_buf b;
    struct cf_jw w;
    (void)state;
    cf_buf_init(&b, 4096);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "value", "a\"b\\c\n\x01");
    cf_jw_key(&w, "attributes");
    cf_jw_obj_begin(&w);
    cf_jw_kbool(&w, "enabled", true);
    cf_jw_kint(&w, "exp", 32503680000LL);
    cf_jw_obj_end(&w);
    cf_jw_key(&w, "list");
    cf_jw_arr_begin(&w);
    cf_jw_int(&w, 1);
    cf_jw_null(&w);
    cf_jw_raw(&w, "{}", 2);
    cf_jw_arr_end(&w);
    cf_jw_kstr(&w, "nextLink", NULL);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
    assert_string_equal(b.data, "{\"value\":\"a\\\"b\\\\c\\n\\u0001\",\"attributes\":{\"enabled\":"
                                "true,\"exp\":32503680000},\"list\":[1,null,{}],\"nextLink\":null}");
    cf_buf_release(&b);
}

static void json_writer_overflow_is_sticky(void **state)
{
    struct cf_buf b;
    struct cf_jw w;
    (void)state;
    cf_buf_init(&b, 10);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "value", "much too long for ten bytes");
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_ETOOBIG);
    cf_buf_release(&b);
}

static void json_reader(void **state)
{
    struct cf_json *j = NULL;
    const char *txt = "{\"value\":\"x\\u0000y\",\"attributes\":{\"enabled\":false,\"exp\":1.7e9,"
                      "\"nbf\":5},\"tags\":{\"a\":\"1\",\"b\":\"2\"},\"arr\":[1,2]}";
    size_t len;
    int64_t v;
    bool b;
    void *it = NULL;
    const char *k;
    const struct cf_json *val;
    int n = 0;
    char why[128];
    (void)state;
    assert_int_equal(cf_json_parse(txt, strlen(txt), &j, why, sizeof(why)), CF_OK);
    assert_int_equal(cf_json_type(j), CF_JSON_OBJECT);
    assert_non_null(cf_json_str(cf_json_get(j, "value"), &len));
    assert_int_equal(len, 3);
    assert_true(cf_json_bool(cf_json_get(cf_json_get(j, "attributes"), "enabled"), &b));
    assert_false(b);
    assert_false(cf_json_int(cf_json_get(cf_json_get(j, "attributes"), "exp"), &v));
    assert_true(cf_json_number(cf_json_get(cf_json_get(j, "attributes"), "exp"), &v));
    assert_true(v == 1700000000);
    assert_null(cf_json_get(j, "missing"));
    assert_null(cf_json_str(cf_json_get(j, "arr"), NULL));
    assert_int_equal(cf_json_size(cf_json_get(j, "arr")), 2);
    while (cf_json_next(cf_json_get(j, "tags"), &it, &k, &val))
        n++;
    assert_int_equal(n, 2);
    cf_json_free(j);
}

static void json_reader_rejects(void **state)
{
    static const char *bad[] = {"{", "{\"a\":1,\"a\":2}", "{} x", "{\"a\":\"\xff\"}", ""};
    struct cf_json *j;
    char deep[200];
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        j = NULL;
        assert_int_equal(cf_json_parse(bad[i], strlen(bad[i]), &j, NULL, 0), CF_EBADJSON);
        assert_null(j);
    }
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(cf_json_parse(deep, 200, &j, NULL, 0), CF_EBADJSON);
}

static void secrets_and_errors(void **state)
{
    struct cf_secret *s = cf_secret_from("hunter2", 7);
    (void)state;
    assert_non_null(s);
    assert_string_equal((const char *)s->p, "hunter2");
    assert_true(cf_ct_eq("abc", "abc", 3));
    assert_false(cf_ct_eq("abc", "abd", 3));
    cf_secret_free(s);
    cf_secret_free(NULL);
    assert_string_equal(cf_err_name(CF_ENOTFOUND), "CF_ENOTFOUND");
    assert_string_equal(cf_err_name((cf_err)999), "CF_E?");
    for (int e = 0; e < CF_ERR_COUNT; e++)
        assert_true(strlen(cf_err_msg((cf_err)e)) > 0);
}

static void clock_formats(void **state)
{
    char t[32];
    struct cf_clock c = cf_clock_system();
    (void)state;
    cf_time_iso8601(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00Z");
    assert_true(cf_clock_s(&c) > 1700000000);
    c.offset_ms = 86400000;
    assert_true(cf_clock_s(&c) > 1700086400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_max),   cmocka_unit_test(str_helpers),
        cmocka_unit_test(codecs),             cmocka_unit_test(json_writer),
        cmocka_unit_test(json_writer_overflow_is_sticky), cmocka_unit_test(json_reader),
        cmocka_unit_test(json_reader_rejects), cmocka_unit_test(secrets_and_errors),
        cmocka_unit_test(clock_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

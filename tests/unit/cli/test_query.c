/* test_query.c - the JMESPath subset against expectations generated with jmespath.py (what az
 * runs), plus syntax errors and runtime type errors. */
#include "base/cf.h"
#include "cli/cli.h"

#include <setjmp.h>
#include <cmocka.h>

#include "query_cases.inc"

static char *eval_to_json(const char *expr, const char *doc, cf_err *rc_out)
{
    struct cf_cli_query *q = NULL;
    struct cf_val *in = NULL, *out = NULL;
    struct cf_buf b;
    char err[256];
    cf_err rc;

    cf_buf_init(&b, 1 << 20);
    assert_int_equal(cf_val_parse(doc, strlen(doc), &in), CF_OK);
    rc = cf_cli_query_compile(expr, &q, err, sizeof(err));
    if (rc == CF_OK)
        rc = cf_cli_query_eval(q, in, &out, err, sizeof(err));
    *rc_out = rc;
    if (rc == CF_OK)
        assert_int_equal(cf_val_dump(out, &b), CF_OK);
    cf_val_unref(out);
    cf_val_unref(in);
    cf_cli_query_free(q);
    return cf_buf_detach(&b, NULL);
}

static void test_generated_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(CASES); i++) {
        cf_err rc;
        char *got = eval_to_json(CASES[i].expr, DOC, &rc);
        if (rc != CF_OK || !got || strcmp(got, CASES[i].want) != 0)
            fail_msg("query %s: want %s, got %s (rc %d)", CASES[i].expr, CASES[i].want,
                     got ? got : "(none)", rc);
        free(got);
    }
}

static void test_syntax_errors(void **state)
{
    static const char *const bad[] = {"length(", "[?a==]", "a.", "a[", "'unterminated", "a = b",
                                      "{a}", "[1:2:0]", "a..b", "", "\"q\"(x)", "a b", "#"};
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        struct cf_cli_query *q = (struct cf_cli_query *)1;
        char err[256] = "";
        cf_err rc = cf_cli_query_compile(bad[i], &q, err, sizeof(err));
        if (rc == CF_OK)
            fail_msg("'%s' compiled", bad[i]);
        assert_null(q);
        assert_true(err[0] != '\0');
    }
}

static void test_runtime_type_errors(void **state)
{
    static const char *const bad[] = {"length(zero)", "sort(list)", "join(', ', nums)",
                                      "nosuchfn(@)", "length(@, @)", "keys(nums)",
                                      "starts_with(zero, 'a')", "sum(strs)"};
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        cf_err rc;
        char *got = eval_to_json(bad[i], DOC, &rc);
        if (rc != CF_EINVAL)
            fail_msg("'%s' gave %s", bad[i], got ? got : "?");
        free(got);
    }
}

static void test_multiselect_hash_is_ordered(void **state)
{
    struct cf_cli_query *q;
    struct cf_val *in, *out;
    const char *doc = "{\"name\":\"v\",\"location\":\"westus\"}";
    (void)state;
    assert_int_equal(cf_val_parse(doc, strlen(doc), &in), CF_OK);
    assert_int_equal(cf_cli_query_compile("{z:name, a:location}", &q, NULL, 0), CF_OK);
    assert_int_equal(cf_cli_query_eval(q, in, &out, NULL, 0), CF_OK);
    assert_true(out->ordered);
    assert_string_equal(out->keys[0], "z");
    assert_string_equal(out->keys[1], "a");
    cf_val_unref(out);
    cf_val_unref(in);
    cf_cli_query_free(q);
}

static void test_null_input(void **state)
{
    struct cf_cli_query *q;
    struct cf_val *out;
    (void)state;
    assert_int_equal(cf_cli_query_compile("a.b[0]", &q, NULL, 0), CF_OK);
    assert_int_equal(cf_cli_query_eval(q, NULL, &out, NULL, 0), CF_OK);
    assert_int_equal(out->type, CF_VAL_NULL);
    cf_val_unref(out);
    cf_cli_query_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_cases),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_runtime_type_errors),
        cmocka_unit_test(test_multiselect_hash_is_ordered),
        cmocka_unit_test(test_null_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Regression (found by fuzz/fuzz_request): the JSON writer copied bytes >= 0x80 through
 * unchecked, so request text echoed in an error message - e.g. "?api-version=2023-0%C2%D201" on
 * the management plane, whose message quotes the bad version - produced a body that is not
 * valid JSON (invalid UTF-8), which clients and our own reader reject. Ill-formed sequences are
 * now written as U+FFFD; well-formed UTF-8 passes through unchanged. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"

#include <setjmp.h>
#include <cmocka.h>

/* Writes {"m": s} and returns it in out (caller releases). */
static void write_msg(struct cf_buf *out, const char *s, size_t n)
{
    struct cf_jw w;

    cf_buf_init(out, 4096);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "m");
    cf_jw_strn(&w, s, n);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
}

static void assert_parses(const struct cf_buf *b)
{
    struct cf_json *j = NULL;
    char why[160];
    assert_int_equal(cf_json_parse(b->data, b->len, &j, why, sizeof(why)), CF_OK);
    cf_json_free(j);
}

static void echoed_api_version_is_valid_json(void **state)
{
    static const char msg[] = "The api-version '2023-0\xc2\xd2" "01' is invalid.";
    struct cf_buf b;

    (void)state;
    write_msg(&b, msg, sizeof(msg) - 1);
    assert_parses(&b);
    assert_string_equal(b.data, "{\"m\":\"The api-version '2023-0\\ufffd\\ufffd01' is invalid.\"}");
    cf_buf_release(&b);
}

static void ill_formed_sequences_are_replaced(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } cases[] = {
        {"\x80", 1, "\\ufffd"},                      /* lone continuation byte */
        {"\xc0\xaf", 2, "\\ufffd\\ufffd"},           /* overlong '/' */
        {"\xe0\x80\xaf", 3, "\\ufffd\\ufffd\\ufffd"}, /* overlong 3-byte */
        {"\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd"}, /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* above U+10FFFF */
        {"\xf5", 1, "\\ufffd"},
        {"ab\xe2\x82", 4, "ab\\ufffd\\ufffd"},        /* truncated at the end (a %.*s cut) */
        {"\xff" "x", 2, "\\ufffdx"},
    };
    for (size_t i = 0; i < CF_ARRAY_LEN(cases); i++) {
        struct cf_buf b;
        char want[128];
        write_msg(&b, cases[i].in, cases[i].n);
        snprintf(want, sizeof(want), "{\"m\":\"%s\"}", cases[i].want);
        assert_string_equal(b.data, want);
        assert_parses(&b);
        cf_buf_release(&b);
    }
}

static void well_formed_utf8_is_unchanged(void **state)
{
    static const char in[] = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \xef\xbf\xbf "
                             "\xf4\x8f\xbf\xbf \xed\x9f\xbf";
    struct cf_buf b;
    char want[128];

    (void)state;
    write_msg(&b, in, sizeof(in) - 1);
    snprintf(want, sizeof(want), "{\"m\":\"%s\"}", in);
    assert_string_equal(b.data, want);
    assert_parses(&b);
    cf_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echoed_api_version_is_valid_json),
        cmocka_unit_test(ill_formed_sequences_are_replaced),
        cmocka_unit_test(well_formed_utf8_is_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

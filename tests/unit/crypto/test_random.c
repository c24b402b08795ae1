/* test_random.c - cf_random, cf_random_hex32, cf_uuid4. */
#include "base/cf.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <cmocka.h>

static bool all_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void test_random_fills(void **state)
{
    unsigned char a[4096], b[4096];
    size_t zeros = 0;

    (void)state;
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_int_equal(cf_random(a, sizeof(a)), CF_OK);
    assert_int_equal(cf_random(b, sizeof(b)), CF_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    for (size_t i = 0; i < sizeof(a); i++)
        zeros += a[i] == 0;
    /* Expected ~16 zero bytes in 4096; a buffer left untouched would have 4096. */
    assert_true(zeros < 100);
    assert_int_equal(cf_random(a, 0), CF_OK);
}

static void test_random_large(void **state)
{
    size_t n = 1u << 20;
    unsigned char *p = calloc(1, n);
    size_t zeros = 0;

    (void)state;
    assert_non_null(p);
    assert_int_equal(cf_random(p, n), CF_OK);
    for (size_t i = n - 4096; i < n; i++)
        zeros += p[i] == 0;
    assert_true(zeros < 100);
    free(p);
}

static void test_hex32(void **state)
{
    char a[33], b[33];

    (void)state;
    memset(a, 'X', sizeof(a));
    assert_int_equal(cf_random_hex32(a), CF_OK);
    assert_int_equal(cf_random_hex32(b), CF_OK);
    assert_int_equal(strlen(a), 32);
    assert_true(all_lower_hex(a, 32));
    assert_string_not_equal(a, b);
}

static void test_uuid4(void **state)
{
    char u[37], v[37];
    static const size_t dashes[] = {8, 13, 18, 23};

    (void)state;
    for (int round = 0; round < 200; round++) {
        memset(u, 'X', sizeof(u));
        assert_int_equal(cf_uuid4(u), CF_OK);
        assert_int_equal(strlen(u), 36);
        for (size_t i = 0, d = 0; i < 36; i++) {
            if (d < 4 && i == dashes[d]) {
                assert_int_equal(u[i], '-');
                d++;
            } else {
                assert_true(all_lower_hex(u + i, 1));
            }
        }
        assert_int_equal(u[14], '4');           /* version 4 */
        assert_non_null(strchr("89ab", u[19])); /* RFC 4122 variant */
    }
    assert_int_equal(cf_uuid4(v), CF_OK);
    assert_string_not_equal(u, v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_fills),
        cmocka_unit_test(test_random_large),
        cmocka_unit_test(test_hex32),
        cmocka_unit_test(test_uuid4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

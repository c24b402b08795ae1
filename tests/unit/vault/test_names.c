/* test_names.c - name rules for objects, vaults and resource groups, and recovery levels. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>

#include "vault/vault.h"

static bool obj(const char *s)
{
    return cf_name_valid_object(cf_str_from(s));
}

static bool vlt(const char *s)
{
    return cf_name_valid_vault(cf_str_from(s));
}

static bool grp(const char *s)
{
    return cf_name_valid_group(cf_str_from(s));
}

static void test_object_names(void **state)
{
    char max[CF_MAX_NAME_LEN + 2];
    (void)state;
    assert_true(obj("a"));
    assert_true(obj("My-Secret-01"));
    assert_true(obj("0-starts-with-digit"));
    assert_true(obj("-"));
    assert_false(obj(""));
    assert_false(obj("has space"));
    assert_false(obj("under_score"));
    assert_false(obj("dot.name"));
    assert_false(obj("slash/x"));
    assert_false(obj("\xc3\xa9t\xc3\xa9"));
    memset(max, 'x', CF_MAX_NAME_LEN);
    max[CF_MAX_NAME_LEN] = '\0';
    assert_true(obj(max));
    max[CF_MAX_NAME_LEN] = 'x';
    max[CF_MAX_NAME_LEN + 1] = '\0';
    assert_false(obj(max));
    assert_false(cf_name_valid_object(CF_STR_NULL));
    /* embedded NUL inside the counted view */
    assert_false(cf_name_valid_object((struct cf_str){"ab\0c", 4}));
}

static void test_vault_names(void **state)
{
    (void)state;
    assert_true(vlt("abc"));
    assert_true(vlt("my-vault-1"));
    assert_true(vlt("A23456789012345678901234"));   /* 24 */
    assert_false(vlt("A234567890123456789012345")); /* 25 */
    assert_false(vlt("ab"));
    assert_false(vlt("1abc")); /* letter first */
    assert_false(vlt("-abc"));
    assert_false(vlt("abc-"));   /* letter or digit last */
    assert_false(vlt("ab--cd")); /* no consecutive hyphens */
    assert_false(vlt("ab_cd"));
    assert_false(vlt("ab.cd"));
    assert_true(vlt("abc9"));
}

static void test_group_names(void **state)
{
    char n[92];
    (void)state;
    assert_true(grp("rg"));
    assert_true(grp("My_RG-(test).1"));
    assert_false(grp(""));
    assert_false(grp("ends."));
    assert_false(grp("bad/char"));
    assert_false(grp("sp ace"));
    memset(n, 'g', 90);
    n[90] = '\0';
    assert_true(grp(n));
    n[90] = 'g';
    n[91] = '\0';
    assert_false(grp(n));
}

static void test_recovery_levels(void **state)
{
    struct cf_vault_ref r = {0};
    (void)state;
    r.retention_days = 90;
    assert_string_equal(cf_recovery_level(&r), "Recoverable+Purgeable");
    r.purge_protection = true;
    assert_string_equal(cf_recovery_level(&r), "Recoverable");
    r.retention_days = 7;
    assert_string_equal(cf_recovery_level(&r), "CustomizedRecoverable");
    r.purge_protection = false;
    assert_string_equal(cf_recovery_level(&r), "CustomizedRecoverable+Purgeable");
    r.retention_days = 89;
    assert_string_equal(cf_recovery_level(&r), "CustomizedRecoverable+Purgeable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_names),
        cmocka_unit_test(test_vault_names),
        cmocka_unit_test(test_group_names),
        cmocka_unit_test(test_recovery_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

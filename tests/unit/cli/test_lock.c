/* test_lock.c - the pure parts of cmd_lock.c / cmd_policy.c: az's lock shape, the lock scope
 * from az lock's arguments (group, subscription, vault by name and type or by id, refusals),
 * and set-policy / delete-policy merges (replace given lists only, de-duplicate, match
 * tenant+object+application case-insensitively, append when none matches). */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>

#include "cli/cmd_lock.h"

static struct cf_val *parse(const char *s)
{
    struct cf_val *v = NULL;
    assert_int_equal(cf_val_parse(s, strlen(s), &v), CF_OK);
    return v;
}

static void expect_json(const struct cf_val *v, const char *want)
{
    struct cf_buf b;
    cf_buf_init(&b, 1 << 16);
    assert_int_equal(cf_val_dump(v, &b), CF_OK);
    assert_string_equal(b.data, want);
    cf_buf_release(&b);
}

static void test_shape(void **state)
{
    struct cf_val *arm = parse("{\"properties\":{\"level\":\"ReadOnly\"},\"id\":\"/x\","
                               "\"type\":\"Microsoft.Authorization/locks\",\"name\":\"L\"}");
    struct cf_val *o = cf_cli_shape_lock(arm);
    (void)state;
    expect_json(o, "{\"id\":\"/x\",\"level\":\"ReadOnly\",\"name\":\"L\",\"notes\":null,"
                   "\"owners\":null,\"type\":\"Microsoft.Authorization/locks\"}");
    cf_val_unref(o);
    cf_val_unref(arm);
}

static void test_scope(void **state)
{
    char out[512], err[256];
    (void)state;
    assert_int_equal(cf_cli_lock_scope("S", "G", NULL, NULL, NULL, out, sizeof(out), err,
                                       sizeof(err)),
                     CF_OK);
    assert_string_equal(out, "/subscriptions/S/resourceGroups/G");
    assert_int_equal(cf_cli_lock_scope("S", NULL, NULL, NULL, NULL, out, sizeof(out), err,
                                       sizeof(err)),
                     CF_OK);
    assert_string_equal(out, "/subscriptions/S");
    assert_int_equal(cf_cli_lock_scope("S", "G", "v", "Microsoft.KeyVault/vaults", NULL, out,
                                       sizeof(out), err, sizeof(err)),
                     CF_OK);
    assert_string_equal(out, "/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/"
                             "vaults/v");
    assert_int_equal(cf_cli_lock_scope("S", "G", "v", "vaults", "microsoft.keyvault", out,
                                       sizeof(out), err, sizeof(err)),
                     CF_OK);
    assert_int_equal(cf_cli_lock_scope("S", NULL,
                                       "/subscriptions/S/resourceGroups/G/providers/"
                                       "Microsoft.KeyVault/vaults/v",
                                       NULL, NULL, out, sizeof(out), err, sizeof(err)),
                     CF_OK);
    assert_string_equal(out, "/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/"
                             "vaults/v");
    /* refusals */
    assert_int_equal(cf_cli_lock_scope("S", NULL, "v", "Microsoft.KeyVault/vaults", NULL, out,
                                       sizeof(out), err, sizeof(err)),
                     CF_EINVAL);
    assert_non_null(strstr(err, "--resource-group"));
    assert_int_equal(cf_cli_lock_scope("S", "G", "v", NULL, NULL, out, sizeof(out), err,
                                       sizeof(err)),
                     CF_EINVAL);
    assert_int_equal(cf_cli_lock_scope("S", "G", "sa", "Microsoft.Storage/storageAccounts", NULL,
                                       out, sizeof(out), err, sizeof(err)),
                     CF_EINVAL);
    assert_non_null(strstr(err, "Microsoft.Storage/storageAccounts"));
    assert_int_equal(cf_cli_lock_scope("S", NULL, "/subscriptions/S/resourceGroups/G", NULL,
                                       NULL, out, sizeof(out), err, sizeof(err)),
                     CF_EINVAL);
}

static struct cf_cli_arg list2(const char *a, const char *b)
{
    struct cf_cli_arg x;
    memset(&x, 0, sizeof(x));
    x.present = true;
    x.list[x.nlist++] = a;
    if (b)
        x.list[x.nlist++] = b;
    return x;
}

static void test_policy_merge(void **state)
{
    struct cf_val *p = parse("[{\"tenantId\":\"T\",\"objectId\":\"O\",\"permissions\":"
                             "{\"keys\":[\"get\"],\"secrets\":[\"list\"]}},"
                             "{\"tenantId\":\"T\",\"objectId\":\"O\",\"applicationId\":\"A\","
                             "\"permissions\":{\"secrets\":[\"get\"]}}]");
    struct cf_cli_arg sec = list2("get", "GET"), certs = list2("list", NULL);
    const struct cf_cli_arg *perms[4] = {NULL, &sec, NULL, NULL};
    size_t removed = 0;
    (void)state;

    /* the entry without application: secrets replaced (de-duplicated), keys kept */
    assert_int_equal(cf_cli_policy_set(p, "t", "o", NULL, perms), CF_OK);
    expect_json(p, "[{\"tenantId\":\"T\",\"objectId\":\"O\",\"permissions\":{\"keys\":[\"get\"],"
                   "\"secrets\":[\"get\"]}},{\"tenantId\":\"T\",\"objectId\":\"O\","
                   "\"applicationId\":\"A\",\"permissions\":{\"secrets\":[\"get\"]}}]");
    /* a new principal is appended with only the given lists */
    perms[1] = NULL;
    perms[2] = &certs;
    assert_int_equal(cf_cli_policy_set(p, "T", "N", NULL, perms), CF_OK);
    assert_int_equal(p->n, 3);
    expect_json(p->items[2], "{\"tenantId\":\"T\",\"objectId\":\"N\",\"permissions\":"
                             "{\"certificates\":[\"list\"]}}");
    /* delete: the compound entry only when the application matches */
    assert_int_equal(cf_cli_policy_delete(p, "T", "O", "a", &removed), CF_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(p->n, 2);
    assert_int_equal(cf_cli_policy_delete(p, "T", "O", "a", &removed), CF_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(cf_cli_policy_delete(p, "T", "O", NULL, &removed), CF_OK);
    assert_int_equal(removed, 1);
    expect_json(p, "[{\"tenantId\":\"T\",\"objectId\":\"N\",\"permissions\":"
                   "{\"certificates\":[\"list\"]}}]");
    assert_int_equal(cf_cli_policy_set(NULL, "T", "O", NULL, perms), CF_EINVAL);
    cf_val_unref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_policy_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

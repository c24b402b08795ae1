/* test_rbac_map.c - every permission of the route table maps to an Azure operation
 * (cf_rbac_action_for_permission), data-plane routes to DataActions and management routes to
 * Actions, so enforcement can never meet a route it cannot name. */
#include "base/cf.h"
#include "api/internal.h"
#include "auth/rbac.h"

#include <setjmp.h>
#include <cmocka.h>

static void every_permission_maps(void **state)
{
    (void)state;
    for (size_t i = 0; i < api_routes_count; i++) {
        const struct api_route *r = &api_routes[i];
        struct cf_rbac_action a;
        if (!cf_rbac_action_for_permission(r->permission, r->operation, &a))
            fail_msg("route %s %s: permission %s has no Azure operation", r->operation,
                     r->pattern, r->permission);
        if (r->flags & API_NOAUTH) {
            assert_null(a.action);
            continue;
        }
        assert_non_null(a.action);
        assert_int_equal(a.is_data, r->plane == API_PLANE_DATA);
    }
}

static void secret_operations_follow_the_reference(void **state)
{
    /* §2.4: PATCH is update/action although its access-policy permission is "set" */
    static const struct {
        const char *op, *action;
    } want[] = {
        {"SecretGet", "Microsoft.KeyVault/vaults/secrets/getSecret/action"},
        {"SecretList", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"},
        {"SecretSet", "Microsoft.KeyVault/vaults/secrets/setSecret/action"},
        {"SecretUpdate", "Microsoft.KeyVault/vaults/secrets/update/action"},
        {"SecretDelete", "Microsoft.KeyVault/vaults/secrets/delete"},
        {"SecretPurge", "Microsoft.KeyVault/vaults/secrets/purge/action"},
        {"RoleAssignmentWrite", "Microsoft.Authorization/roleAssignments/write"},
    };
    (void)state;
    for (size_t k = 0; k < CF_ARRAY_LEN(want); k++) {
        bool seen = false;
        for (size_t i = 0; i < api_routes_count; i++) {
            struct cf_rbac_action a;
            if (strcmp(api_routes[i].operation, want[k].op) != 0)
                continue;
            assert_true(cf_rbac_action_for_permission(api_routes[i].permission,
                                                      api_routes[i].operation, &a));
            assert_string_equal(a.action, want[k].action);
            seen = true;
        }
        assert_true(seen);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_permission_maps),
        cmocka_unit_test(secret_operations_follow_the_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

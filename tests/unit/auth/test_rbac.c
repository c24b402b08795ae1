/* test_rbac.c - the RBAC model: every built-in role against a sample of actions, pattern
 * matching (wildcards, case, the "/ * /" zero-segment rule), NotActions/NotDataActions,
 * scope normalisation, inheritance downwards and never sideways (vault A vs B, rg1 vs rg10),
 * groups, custom roles (validation, names, update, delete in use), assignment management
 * (duplicates, idempotent PUT, update refused), cache invalidation on every change, the Data
 * Access Administrator condition, the permission map, bootstrap ensure, and the cost of a
 * check with 10,000 assignments of other principals in the store. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <time.h>

#include "auth/rbac.h"
#include "store/store.h"
#include "store/store_auth.h"

#define SUB "/subscriptions/00000000-0000-4000-8000-000000000001"
#define RG1 SUB "/resourceGroups/rg1"
#define VA RG1 "/providers/Microsoft.KeyVault/vaults/va"
#define VB RG1 "/providers/Microsoft.KeyVault/vaults/vb"
#define KVA "Microsoft.KeyVault/vaults/"
#define ME "11111111-1111-4111-8111-111111111111"
#define GRP "22222222-2222-4222-8222-222222222222"

struct fx {
    char dir[64];
    struct cf_store *s;
    struct cf_clock clock;
    struct cf_rbac *rb;
    int seq;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts o = {0};
    char path[128];
    cf_err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-rbac-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/db", f->dir);
    o.path = path;
    f->s = cf_store_open_sqlite(&o, &e);
    assert_non_null(f->s);
    f->clock = cf_clock_system();
    f->rb = cf_rbac_new(f->s, &f->clock, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(f->rb);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cf_rbac_free(f->rb);
    cf_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static cf_err assign(struct fx *f, const char *pid, const char *role, const char *scope)
{
    struct cf_rec_role_asg a;
    bool created;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "aaaaaaaa-0000-4000-8000-%012d", ++f->seq);
    snprintf(a.scope, sizeof(a.scope), "%s", scope);
    snprintf(a.role_def_id, sizeof(a.role_def_id), "%s", role);
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", pid);
    snprintf(a.principal_type, sizeof(a.principal_type), "ServicePrincipal");
    return cf_rbac_assignment_put(f->rb, &a, &created);
}

static bool can(struct fx *f, const char *scope, const char *action, bool data)
{
    struct cf_rbac_decision d;
    assert_int_equal(cf_rbac_check(f->rb, ME, NULL, 0, scope, action, data, &d), CF_OK);
    if (d.allowed)
        assert_true(strlen(d.assignment_id) == 36);
    else
        assert_string_equal(d.assignment_id, "");
    return d.allowed;
}

/* ---------------- matching ---------------- */

static void patterns(void **state)
{
    (void)state;
    assert_true(cf_rbac_action_matches("*", "Microsoft.KeyVault/vaults/read"));
    assert_true(cf_rbac_action_matches("*/read", "Microsoft.KeyVault/vaults/read"));
    assert_false(cf_rbac_action_matches("*/read", "Microsoft.KeyVault/vaults/write"));
    assert_true(cf_rbac_action_matches(KVA "*", KVA "secrets/getSecret/action"));
    assert_false(cf_rbac_action_matches(KVA "*", "Microsoft.KeyVault/vaultsX/read"));
    assert_true(cf_rbac_action_matches(KVA "*/read", KVA "keys/read"));
    assert_true(cf_rbac_action_matches(KVA "*/read", KVA "storageaccounts/sas/read"));
    assert_false(cf_rbac_action_matches(KVA "*/read", KVA "secrets/getSecret/action"));
    assert_false(cf_rbac_action_matches(KVA "*/read", KVA "secrets/readMetadata/action"));
    assert_true(cf_rbac_action_matches(KVA "*/read", KVA "read")); /* zero segments */
    assert_true(cf_rbac_action_matches("microsoft.keyvault/VAULTS/secrets/*",
                                       KVA "secrets/setSecret/action"));
    assert_true(cf_rbac_action_matches("Microsoft.Authorization/*/Delete",
                                       "Microsoft.Authorization/roleAssignments/delete"));
    assert_true(cf_rbac_action_matches("Microsoft.KeyVault/locations/*/read",
                                       "Microsoft.KeyVault/locations/deletedVaults/read"));
    assert_false(cf_rbac_action_matches(KVA "secrets/getSecret/action",
                                        KVA "secrets/getSecret/actionX"));
    assert_false(cf_rbac_action_matches(KVA "secrets/getSecret/actionX",
                                        KVA "secrets/getSecret/action"));
    assert_true(cf_rbac_action_matches("a*b*c", "aXXbYYc"));
    assert_false(cf_rbac_action_matches("a*b*c", "aXXbYY"));
    assert_false(cf_rbac_action_matches(NULL, "x"));
    assert_false(cf_rbac_action_matches("", "x"));
}

/* More edges of the rule, and its cost: the old backtracking matcher took O(len^stars), so a
 * four-star pattern (what custom role validation admits) against a few thousand characters
 * never finished; the position-set matcher is O(len(pattern) * len(action)). */
static void patterns_edges_and_cost(void **state)
{
    static char act[4001], pat[600];
    struct timespec t0, t1;
    double secs;
    (void)state;

    assert_true(cf_rbac_action_matches("a/*/*/b", "a/b"));   /* both stars zero segments */
    assert_true(cf_rbac_action_matches("a/*/*/b", "a/x/b")); /* one of them */
    assert_true(cf_rbac_action_matches("a/*/*/b", "a/x/y/z/b"));
    assert_false(cf_rbac_action_matches("a/*/*/b", "a//b/c"));
    assert_false(cf_rbac_action_matches("a/**/b", "a/b")); /* only a lone star between '/' */
    assert_true(cf_rbac_action_matches("a/**/b", "a//b"));
    assert_false(cf_rbac_action_matches("a*/b", "a/b/c"));
    assert_true(cf_rbac_action_matches("*", ""));
    assert_true(cf_rbac_action_matches("", ""));
    assert_false(cf_rbac_action_matches("x*", ""));
    assert_true(cf_rbac_action_matches("**x**", "X"));
    assert_true(cf_rbac_action_matches("*/", "a/b/"));
    assert_false(cf_rbac_action_matches("*/", "a/b"));
    assert_true(cf_rbac_action_matches("/*/", "/")); /* zero segments at both ends */
    assert_false(cf_rbac_action_matches("Microsoft.KeyVault/*", "microsoft.keyvault"));
    /* the zero segments are only for a star that took nothing (fuzz_rbac_pattern) */
    assert_false(cf_rbac_action_matches("a/*//read", "a/x/read"));
    assert_true(cf_rbac_action_matches("a/*//read", "a//read"));
    assert_true(cf_rbac_action_matches("a/*//read", "a/x//read"));

    memset(act, 'a', sizeof(act) - 1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    assert_false(cf_rbac_action_matches("*a*a*a*b", act));
    assert_false(cf_rbac_action_matches("*a/*/a*a*b", act));
    act[3999] = 'b';
    assert_true(cf_rbac_action_matches("*a*a*a*b", act));
    /* 250 stars, and a pattern past the stack set (heap path) */
    for (size_t i = 0; i < 500; i++)
        pat[i] = i % 2 ? 'A' : '*';
    pat[499] = 'b';
    assert_true(cf_rbac_action_matches(pat, act));
    pat[499] = 'c';
    assert_false(cf_rbac_action_matches(pat, act));
    memset(pat, '*', sizeof(pat) - 1);
    pat[sizeof(pat) - 2] = 'b';
    assert_true(cf_rbac_action_matches(pat, act));
    act[3999] = 'a';
    assert_false(cf_rbac_action_matches(pat, act));
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("long patterns and actions: %.1f ms CPU\n", secs * 1e3);
    assert_true(secs < 2.0);
}

static void scopes(void **state)
{
    char out[CF_RBAC_MAX_SCOPE], small[8];
    (void)state;
    assert_int_equal(cf_rbac_scope_normalize("", 0, out, sizeof(out)), CF_OK);
    assert_string_equal(out, "/");
    assert_int_equal(cf_rbac_scope_normalize("/", 1, out, sizeof(out)), CF_OK);
    assert_string_equal(out, "/");
    assert_int_equal(cf_rbac_scope_normalize("//Subscriptions//S/", 19, out, sizeof(out)), CF_OK);
    assert_string_equal(out, "/subscriptions/s");
    assert_int_equal(cf_rbac_scope_normalize("subscriptions/S", 15, out, sizeof(out)), CF_OK);
    assert_string_equal(out, "/subscriptions/s");
    assert_int_equal(cf_rbac_scope_normalize("/subscriptions/s", 16, small, sizeof(small)),
                     CF_ETOOBIG);
    assert_int_equal(cf_rbac_scope_normalize("/a\0b", 4, out, sizeof(out)), CF_EBADPARAM);
    assert_true(cf_rbac_scope_covers("/", "/subscriptions/s"));
    assert_true(cf_rbac_scope_covers("/subscriptions/s", "/subscriptions/s"));
    assert_true(cf_rbac_scope_covers("/subscriptions/s", "/subscriptions/s/resourcegroups/x"));
    assert_false(cf_rbac_scope_covers("/subscriptions/s", "/subscriptions/s1"));
    assert_false(cf_rbac_scope_covers("/subscriptions/s/x", "/subscriptions/s"));
    assert_int_equal(cf_rbac_scope_vault(out, sizeof(out), "S", "RG", "Va", "secrets",
                                         CF_STR("Db-Pass")),
                     CF_OK);
    assert_string_equal(out, "/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/"
                             "vaults/va/secrets/db-pass");
    assert_int_equal(cf_rbac_scope_vault(out, sizeof(out), "S", "RG", "Va", NULL, CF_STR_NULL),
                     CF_OK);
    assert_string_equal(out, "/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/"
                             "vaults/va");
}

/* ---------------- built-in roles ---------------- */

static void builtin_table(void **state)
{
    static const char *const names[] = {
        "Key Vault Administrator", "Key Vault Reader", "Key Vault Secrets Officer",
        "Key Vault Secrets User", "Key Vault Crypto Officer", "Key Vault Crypto User",
        "Key Vault Crypto Service Encryption User", "Key Vault Certificates Officer",
        "Key Vault Certificate User", "Key Vault Data Access Administrator",
        "Key Vault Contributor", "Owner", "Contributor", "Reader", "User Access Administrator"};
    const struct cf_rbac_role *r = cf_rbac_builtin("4633458B-17DE-408A-B874-0445C86B69E6");
    (void)state;
    assert_non_null(r);
    assert_string_equal(r->name, "Key Vault Secrets User");
    assert_null(cf_rbac_builtin("00000000-0000-0000-0000-000000000000"));
    assert_null(cf_rbac_builtin(NULL));
    for (size_t i = 0; i < CF_ARRAY_LEN(names); i++) {
        bool found = false;
        for (const char *const *id = (const char *const[]){
                 "00482a5a-887f-4fb3-b363-3b7fe8e74483", "21090545-7ca7-4776-b22c-e363652d74d2",
                 "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "4633458b-17de-408a-b874-0445c86b69e6",
                 "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", "12338af0-0e69-4776-bea7-57ae8d297424",
                 "e147488a-f6f5-4113-8e2d-b22465e65bf6", "a4417e6f-fecd-4de8-b567-7b0420556985",
                 "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", "8b54135c-b56d-4d72-a534-26097cfdc8d8",
                 "f25e0fa2-a7c8-4377-a976-54943a77a395", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                 "b24988ac-6180-42a0-ab88-20f7382dd24c", "acdd72a7-3385-48ef-bd42-f606fba81ae7",
                 "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", NULL};
             *id; id++) {
            const struct cf_rbac_role *b = cf_rbac_builtin(*id);
            assert_non_null(b);
            assert_true(b->builtin);
            assert_string_equal(b->assignable_scopes[0], "/");
            if (strcmp(b->name, names[i]) == 0)
                found = true;
        }
        if (!found)
            fail_msg("built-in role %s missing", names[i]);
    }
}

/* One row per (role, action): the expected answer at the vault scope. */
static const struct {
    const char *role, *action;
    bool data, allowed;
} matrix[] = {
#define GET KVA "secrets/getSecret/action"
#define META KVA "secrets/readMetadata/action"
#define SET KVA "secrets/setSecret/action"
#define PURGE KVA "secrets/purge/action"
#define KREAD KVA "keys/read"
#define WRAP KVA "keys/wrap/action"
#define KCREATE KVA "keys/create/action"
#define CREAD KVA "certificates/read"
#define CCREATE KVA "certificates/create/action"
#define VREAD "Microsoft.KeyVault/vaults/read"
#define VWRITE "Microsoft.KeyVault/vaults/write"
#define ASGW "Microsoft.Authorization/roleAssignments/write"
#define PURGEV "Microsoft.KeyVault/locations/deletedVaults/purge/action"
    /* Administrator: every data action, vault reads but no writes */
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", GET, true, true},
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", PURGE, true, true},
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", WRAP, true, true},
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", CCREATE, true, true},
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", VREAD, false, true},
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", VWRITE, false, false},
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", ASGW, false, false},
    /* Reader: metadata, no values */
    {"21090545-7ca7-4776-b22c-e363652d74d2", META, true, true},
    {"21090545-7ca7-4776-b22c-e363652d74d2", GET, true, false},
    {"21090545-7ca7-4776-b22c-e363652d74d2", KREAD, true, true},
    {"21090545-7ca7-4776-b22c-e363652d74d2", CREAD, true, true},
    {"21090545-7ca7-4776-b22c-e363652d74d2", SET, true, false},
    {"21090545-7ca7-4776-b22c-e363652d74d2", VREAD, false, true},
    /* Secrets Officer */
    {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7", GET, true, true},
    {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7", PURGE, true, true},
    {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7", KREAD, true, false},
    /* Secrets User */
    {"4633458b-17de-408a-b874-0445c86b69e6", GET, true, true},
    {"4633458b-17de-408a-b874-0445c86b69e6", META, true, true},
    {"4633458b-17de-408a-b874-0445c86b69e6", SET, true, false},
    {"4633458b-17de-408a-b874-0445c86b69e6", VREAD, false, false},
    /* Crypto Officer */
    {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603", KCREATE, true, true},
    {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603", KVA "keyrotationpolicies/write", true, true},
    {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603", GET, true, false},
    /* Crypto User */
    {"12338af0-0e69-4776-bea7-57ae8d297424", WRAP, true, true},
    {"12338af0-0e69-4776-bea7-57ae8d297424", KVA "keys/sign/action", true, true},
    {"12338af0-0e69-4776-bea7-57ae8d297424", KCREATE, true, false},
    {"12338af0-0e69-4776-bea7-57ae8d297424", KVA "keys/delete", true, false},
    /* Crypto Service Encryption User */
    {"e147488a-f6f5-4113-8e2d-b22465e65bf6", WRAP, true, true},
    {"e147488a-f6f5-4113-8e2d-b22465e65bf6", KVA "keys/sign/action", true, false},
    {"e147488a-f6f5-4113-8e2d-b22465e65bf6", "Microsoft.EventGrid/eventSubscriptions/write", false,
     true},
    /* Certificates Officer */
    {"a4417e6f-fecd-4de8-b567-7b0420556985", CCREATE, true, true},
    {"a4417e6f-fecd-4de8-b567-7b0420556985", KVA "certificatecontacts/write", true, true},
    {"a4417e6f-fecd-4de8-b567-7b0420556985", KVA "certificatecas/delete", true, true},
    {"a4417e6f-fecd-4de8-b567-7b0420556985", GET, true, false},
    /* Certificate User: the certificate and its backing secret and key */
    {"db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", CREAD, true, true},
    {"db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", GET, true, true},
    {"db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", KREAD, true, true},
    {"db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", CCREATE, true, false},
    /* Data Access Administrator: no data actions */
    {"8b54135c-b56d-4d72-a534-26097cfdc8d8", GET, true, false},
    {"8b54135c-b56d-4d72-a534-26097cfdc8d8", VREAD, false, true},
    /* Key Vault Contributor: manage, not access, not purge */
    {"f25e0fa2-a7c8-4377-a976-54943a77a395", VWRITE, false, true},
    {"f25e0fa2-a7c8-4377-a976-54943a77a395", PURGEV, false, false},
    {"f25e0fa2-a7c8-4377-a976-54943a77a395", GET, true, false},
    {"f25e0fa2-a7c8-4377-a976-54943a77a395", ASGW, false, false},
    /* Owner: every action, no data action */
    {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", VWRITE, false, true},
    {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", ASGW, false, true},
    {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", PURGEV, false, true},
    {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", GET, true, false},
    /* Contributor: not Microsoft.Authorization writes (NotActions, case-insensitive) */
    {"b24988ac-6180-42a0-ab88-20f7382dd24c", VWRITE, false, true},
    {"b24988ac-6180-42a0-ab88-20f7382dd24c", ASGW, false, false},
    {"b24988ac-6180-42a0-ab88-20f7382dd24c", "Microsoft.Authorization/roleAssignments/read",
     false, true},
    {"b24988ac-6180-42a0-ab88-20f7382dd24c", GET, true, false},
    /* Reader */
    {"acdd72a7-3385-48ef-bd42-f606fba81ae7", VREAD, false, true},
    {"acdd72a7-3385-48ef-bd42-f606fba81ae7", VWRITE, false, false},
    {"acdd72a7-3385-48ef-bd42-f606fba81ae7", META, true, false},
    /* User Access Administrator */
    {"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", ASGW, false, true},
    {"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", VWRITE, false, false},
    {"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", GET, true, false},
};

static void builtin_matrix(void **state)
{
    struct fx *f = *state;
    const char *last = "";

    for (size_t i = 0; i < CF_ARRAY_LEN(matrix); i++) {
        if (strcmp(last, matrix[i].role) != 0) {
            /* the principal holds only this role, at vault A */
            struct cf_rec_role_asg a;
            bool created;
            memset(&a, 0, sizeof(a));
            snprintf(a.id, sizeof(a.id), "cccccccc-0000-4000-8000-000000000000");
            if (last[0])
                assert_int_equal(cf_rbac_assignment_delete(f->rb, a.id, NULL), CF_OK);
            snprintf(a.scope, sizeof(a.scope), "%s", VA);
            snprintf(a.role_def_id, sizeof(a.role_def_id), "%s", matrix[i].role);
            snprintf(a.principal_id, sizeof(a.principal_id), "%s", ME);
            assert_int_equal(cf_rbac_assignment_put(f->rb, &a, &created), CF_OK);
            assert_true(created);
            last = matrix[i].role;
        }
        if (can(f, VA "/secrets/x", matrix[i].action, matrix[i].data) != matrix[i].allowed)
            fail_msg("role %s action %s: expected %s", cf_rbac_builtin(matrix[i].role)->name,
                     matrix[i].action, matrix[i].allowed ? "allow" : "deny");
        /* never sideways: the same role at vault A says nothing about vault B */
        assert_false(can(f, VB, matrix[i].action, matrix[i].data));
    }
}

/* ---------------- scopes and inheritance ---------------- */

static void inheritance(void **state)
{
    struct fx *f = *state;

    assert_false(can(f, VA, GET, true));
    assert_int_equal(assign(f, ME, CF_ROLE_KV_SECRETS_USER, RG1), CF_OK);
    assert_true(can(f, RG1, GET, true));
    assert_true(can(f, VA, GET, true));
    assert_true(can(f, VB "/secrets/n", GET, true));
    /* case-insensitive, trailing slash ignored */
    assert_true(can(f, "/SUBSCRIPTIONS/00000000-0000-4000-8000-000000000001/resourcegroups/RG1/"
                       "providers/microsoft.keyvault/VAULTS/va/",
                    GET, true));
    /* not sideways or upwards */
    assert_false(can(f, SUB "/resourceGroups/rg10", GET, true));
    assert_false(can(f, SUB "/resourceGroups/rg10/providers/Microsoft.KeyVault/vaults/va", GET,
                     true));
    assert_false(can(f, SUB, GET, true));
    assert_false(can(f, "/", GET, true));

    /* an object-scoped assignment covers that object only */
    assert_int_equal(assign(f, ME, CF_ROLE_KV_SECRETS_OFFICER, VA "/secrets/db"), CF_OK);
    assert_true(can(f, VA "/secrets/db", SET, true));
    assert_false(can(f, VA "/secrets/db2", SET, true));
    assert_false(can(f, VA "/secrets/d", SET, true));
    assert_false(can(f, VA, SET, true));

    /* the server scope covers everything */
    assert_int_equal(assign(f, ME, CF_ROLE_KV_ADMINISTRATOR, "/"), CF_OK);
    assert_true(can(f, "/subscriptions/other/resourceGroups/x", PURGE, true));
    assert_true(can(f, "/", PURGE, true));
}

static void groups_and_invalidation(void **state)
{
    struct fx *f = *state;
    const char *groups[] = {"33333333-3333-4333-8333-333333333333", GRP};
    struct cf_rbac_decision d;
    struct cf_rec_role_asg got;

    /* cached as "nothing" first */
    assert_int_equal(cf_rbac_check(f->rb, ME, groups, 2, VA, GET, true, &d), CF_OK);
    assert_false(d.allowed);
    /* a group's assignment applies to its members; the cache was dropped by the change */
    assert_int_equal(assign(f, GRP, CF_ROLE_KV_SECRETS_USER, VA), CF_OK);
    assert_int_equal(cf_rbac_check(f->rb, ME, groups, 2, VA, GET, true, &d), CF_OK);
    assert_true(d.allowed);
    assert_string_equal(d.role_id, CF_ROLE_KV_SECRETS_USER);
    assert_int_equal(cf_rbac_assignment_get(f->rb, d.assignment_id, &got), CF_OK);
    assert_string_equal(got.principal_id, GRP);
    /* not without the group */
    assert_int_equal(cf_rbac_check(f->rb, ME, NULL, 0, VA, GET, true, &d), CF_OK);
    assert_false(d.allowed);
    /* oids compare case-insensitively */
    groups[1] = "22222222-2222-4222-8222-222222222222";
    assert_int_equal(cf_rbac_check(f->rb, ME, (const char *[]){"22222222-2222-4222-8222-"
                                                               "222222222222"},
                                   1, VA, GET, true, &d),
                     CF_OK);
    assert_true(d.allowed);
    /* deleting drops it at once */
    assert_int_equal(cf_rbac_assignment_delete(f->rb, got.id, NULL), CF_OK);
    assert_int_equal(cf_rbac_check(f->rb, ME, groups, 2, VA, GET, true, &d), CF_OK);
    assert_false(d.allowed);
    assert_int_equal(cf_rbac_assignment_delete(f->rb, got.id, NULL), CF_ENOTFOUND);

    /* bad input */
    assert_int_equal(cf_rbac_check(f->rb, "", NULL, 0, VA, GET, true, &d), CF_OK);
    assert_false(d.allowed);
    assert_int_equal(cf_rbac_check(f->rb, NULL, NULL, 0, VA, GET, true, &d), CF_EINVAL);
    assert_int_equal(cf_rbac_check(f->rb, ME, NULL, 1, VA, GET, true, &d), CF_EINVAL);
}

/* Direct store inserts (another node, or the benchmark's bulk load). */
struct bulk {
    int n;
    const char *pid; /* NULL: a different principal per row */
    const char *scope;
    const char *role;
};

static cf_err bulk_fn(struct cf_store_txn *t, void *arg)
{
    struct bulk *b = arg;
    struct cf_rec_role_asg a;
    cf_err e = CF_OK;

    for (int i = 0; i < b->n && !e; i++) {
        memset(&a, 0, sizeof(a));
        snprintf(a.id, sizeof(a.id), "eeeeeeee-0000-4000-8000-%012d", i);
        snprintf(a.scope, sizeof(a.scope), "%s/vault%d", b->scope, i % 97);
        snprintf(a.role_def_id, sizeof(a.role_def_id), "%s", b->role);
        if (b->pid)
            snprintf(a.principal_id, sizeof(a.principal_id), "%s", b->pid);
        else
            snprintf(a.principal_id, sizeof(a.principal_id), "ffffffff-0000-4000-8000-%012d", i);
        snprintf(a.principal_type, sizeof(a.principal_type), "ServicePrincipal");
        e = cf_store_role_asg_insert(t, &a);
    }
    return e;
}

static void outside_changes_need_invalidate(void **state)
{
    struct fx *f = *state;
    struct bulk b = {1, ME, "/subscriptions/s", CF_ROLE_KV_SECRETS_USER};

    assert_false(can(f, "/subscriptions/s/vault0", GET, true)); /* cached: nothing */
    assert_int_equal(cf_store_write(f->s, bulk_fn, &b), CF_OK);
    assert_false(can(f, "/subscriptions/s/vault0", GET, true)); /* still the cached answer */
    assert_int_equal(cf_rbac_invalidate(f->rb), CF_OK);
    assert_true(can(f, "/subscriptions/s/vault0", GET, true));
}

/* ---------------- custom roles ---------------- */

static struct cf_rec_role_def custom(const char *id, const char *name, const char *perms)
{
    struct cf_rec_role_def d;
    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "%s", id);
    snprintf(d.name, sizeof(d.name), "%s", name);
    d.description = (char *)(uintptr_t) "Read and set secrets; no delete or purge.";
    d.scopes_json = (char *)(uintptr_t) "[\"" SUB "\"]";
    d.perms_json = (char *)(uintptr_t)perms;
    return d;
}

#define ROT "99999999-9999-4999-8999-999999999999"

static cf_err count_cb(const struct cf_rbac_role *r, void *arg)
{
    int *n = arg;
    (void)r;
    (*n)++;
    return CF_OK;
}

static cf_err name_cb(const struct cf_rbac_role *r, void *arg)
{
    snprintf(arg, 64, "%s", r->name);
    return CF_OK;
}

static cf_err id_cb(const struct cf_rbac_role *r, void *arg)
{
    if (!r->builtin)
        snprintf(arg, 64, "%s", r->id);
    return CF_OK;
}

static void custom_roles(void **state)
{
    struct fx *f = *state;
    struct cf_rec_role_def d;
    bool created;
    char name[64];
    int n = 0;

    d = custom(ROT, "Key Vault Secret Rotator",
               "{\"actions\":[\"Microsoft.KeyVault/vaults/read\"],\"notActions\":[],"
               "\"dataActions\":[\"Microsoft.KeyVault/vaults/secrets/*\"],"
               "\"notDataActions\":[\"Microsoft.KeyVault/vaults/secrets/delete\","
               "\"Microsoft.KeyVault/vaults/secrets/purge/action\"]}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_OK);
    assert_true(created);
    assert_int_equal(cf_rbac_role_get(f->rb, ROT, name_cb, name), CF_OK);
    assert_string_equal(name, "Key Vault Secret Rotator");
    assert_int_equal(cf_rbac_role_list(f->rb, count_cb, &n), CF_OK);
    assert_int_equal(n, 17); /* 16 built-ins + 1 */
    /* the listed id is the role's own (it once pointed at a dead copy) */
    name[0] = '\0';
    assert_int_equal(cf_rbac_role_list(f->rb, id_cb, name), CF_OK);
    assert_string_equal(name, ROT);
    assert_int_equal(cf_rbac_role_get(f->rb, ROT, id_cb, name), CF_OK);
    assert_string_equal(name, ROT);

    assert_int_equal(assign(f, ME, ROT, VA), CF_OK);
    assert_true(can(f, VA "/secrets/x", SET, true));
    assert_true(can(f, VA "/secrets/x", GET, true));
    assert_false(can(f, VA "/secrets/x", KVA "secrets/delete", true)); /* NotDataActions */
    assert_false(can(f, VA "/secrets/x", PURGE, true));
    assert_true(can(f, VA, VREAD, false));
    assert_false(can(f, VA, VWRITE, false));

    /* NotDataActions subtract, they do not deny: another role still grants */
    assert_int_equal(assign(f, ME, CF_ROLE_KV_SECRETS_OFFICER, VA "/secrets/x"), CF_OK);
    assert_true(can(f, VA "/secrets/x", PURGE, true));
    assert_false(can(f, VA "/secrets/y", PURGE, true));

    /* update: the cache follows the new definition */
    d = custom(ROT, "Key Vault Secret Rotator",
               "{\"dataActions\":[\"Microsoft.KeyVault/vaults/secrets/readMetadata/action\"]}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_OK);
    assert_false(created);
    assert_false(can(f, VA "/secrets/y", SET, true));
    assert_true(can(f, VA "/secrets/y", META, true));

    /* names are unique, built-ins included; built-ins cannot be replaced */
    d = custom("88888888-8888-4888-8888-888888888888", "key vault SECRET rotator", "{}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EEXISTS);
    d = custom("88888888-8888-4888-8888-888888888888", "Owner", "{}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EEXISTS);
    d = custom(CF_ROLE_OWNER, "Mine", "{}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EFORBIDDEN);
    /* bad shapes */
    d = custom("88888888-8888-4888-8888-888888888888", "Bad", "{\"actions\":\"*\"}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EBADPARAM);
    d = custom("88888888-8888-4888-8888-888888888888", "Bad", "{\"actions\":[\"\"]}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EBADPARAM);
    d = custom("88888888-8888-4888-8888-888888888888", "Bad", "{\"actions\":[\"*/*/*/*/*/*\"]}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EBADPARAM);
    d = custom("88888888-8888-4888-8888-888888888888", "Bad", "[]");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EBADPARAM);
    d = custom("88888888-8888-4888-8888-888888888888", "Bad", "{}");
    d.scopes_json = (char *)(uintptr_t) "[]";
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EBADPARAM);
    d = custom("88888888-8888-4888-8888-888888888888", "", "{}");
    assert_int_equal(cf_rbac_role_put(f->rb, &d, &created), CF_EBADPARAM);

    /* deletion: not while assigned; not a built-in */
    assert_int_equal(cf_rbac_role_delete(f->rb, ROT), CF_EEXISTS);
    assert_int_equal(cf_rbac_role_delete(f->rb, CF_ROLE_READER), CF_EFORBIDDEN);
    assert_int_equal(cf_rbac_role_delete(f->rb, "88888888-8888-4888-8888-888888888888"),
                     CF_ENOTFOUND);
    assert_int_equal(cf_rbac_assignment_delete(f->rb, "aaaaaaaa-0000-4000-8000-000000000001",
                                               NULL),
                     CF_OK);
    assert_int_equal(cf_rbac_role_delete(f->rb, ROT), CF_OK);
    assert_int_equal(cf_rbac_role_get(f->rb, ROT, name_cb, name), CF_ENOTFOUND);
    assert_false(can(f, VA "/secrets/y", META, true));
    /* an assignment to a role that does not exist is refused */
    assert_int_equal(assign(f, ME, ROT, VA), CF_ENOTFOUND);
}

/* ---------------- assignment management ---------------- */

static cf_err collect_cb(const struct cf_rec_role_asg *a, void *arg)
{
    int *n = arg;
    (void)a;
    (*n)++;
    return CF_OK;
}

static void assignment_rules(void **state)
{
    struct fx *f = *state;
    struct cf_rec_role_asg a, got;
    bool created;
    int n;

    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "AAAAAAAA-1111-4000-8000-000000000001");
    snprintf(a.scope, sizeof(a.scope), "%s/", VA);
    snprintf(a.role_def_id, sizeof(a.role_def_id), CF_ROLE_KV_SECRETS_USER);
    snprintf(a.principal_id, sizeof(a.principal_id), ME);
    snprintf(a.principal_type, sizeof(a.principal_type), "ServicePrincipal");
    snprintf(a.created_by, sizeof(a.created_by), GRP);
    assert_int_equal(cf_rbac_assignment_put(f->rb, &a, &created), CF_OK);
    assert_true(created);
    /* the same again: idempotent */
    assert_int_equal(cf_rbac_assignment_put(f->rb, &a, &created), CF_OK);
    assert_false(created);
    /* stored normalised */
    assert_int_equal(cf_rbac_assignment_get(f->rb, "aaaaaaaa-1111-4000-8000-000000000001", &got),
                     CF_OK);
    assert_string_equal(got.scope, SUB "/resourcegroups/rg1/providers/microsoft.keyvault/"
                                       "vaults/va");
    assert_string_equal(got.created_by, GRP);
    assert_true(got.created > 1700000000);
    /* the same name with other content */
    snprintf(a.role_def_id, sizeof(a.role_def_id), CF_ROLE_KV_READER);
    assert_int_equal(cf_rbac_assignment_put(f->rb, &a, &created), CF_EBADPARAM);
    /* another name, same principal, role and scope */
    snprintf(a.role_def_id, sizeof(a.role_def_id), CF_ROLE_KV_SECRETS_USER);
    snprintf(a.id, sizeof(a.id), "aaaaaaaa-1111-4000-8000-000000000002");
    assert_int_equal(cf_rbac_assignment_put(f->rb, &a, &created), CF_EEXISTS);
    assert_int_equal(cf_rbac_assignment_get(f->rb, "nope", &got), CF_ENOTFOUND);

    /* listings */
    assert_int_equal(assign(f, GRP, CF_ROLE_READER, SUB), CF_OK);
    assert_int_equal(assign(f, GRP, CF_ROLE_READER, VB), CF_OK);
    assert_int_equal(assign(f, GRP, CF_ROLE_READER, VA "/secrets/s"), CF_OK);
    n = 0;
    assert_int_equal(cf_rbac_assignment_list(f->rb, VA, CF_RBAC_LIST_AT_AND_ABOVE, NULL,
                                             collect_cb, &n),
                     CF_OK);
    assert_int_equal(n, 2); /* SUB and VA */
    n = 0;
    assert_int_equal(cf_rbac_assignment_list(f->rb, VA, CF_RBAC_LIST_ABOVE_AND_BELOW, NULL,
                                             collect_cb, &n),
                     CF_OK);
    assert_int_equal(n, 3); /* + the secret */
    n = 0;
    assert_int_equal(cf_rbac_assignment_list(f->rb, "/", CF_RBAC_LIST_ABOVE_AND_BELOW, NULL,
                                             collect_cb, &n),
                     CF_OK);
    assert_int_equal(n, 4);
    n = 0;
    assert_int_equal(cf_rbac_assignment_list(f->rb, VA, CF_RBAC_LIST_ABOVE_AND_BELOW, GRP,
                                             collect_cb, &n),
                     CF_OK);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(cf_rbac_assignment_list(f->rb, VA, CF_RBAC_LIST_AT_AND_ABOVE, GRP,
                                             collect_cb, &n),
                     CF_OK);
    assert_int_equal(n, 1);
}

static void data_access_admin_condition(void **state)
{
    struct fx *f = *state;
    struct cf_rbac_decision d;

    assert_int_equal(assign(f, ME, "8b54135c-b56d-4d72-a534-26097cfdc8d8", VA), CF_OK);
    assert_int_equal(cf_rbac_check_ex(f->rb, ME, NULL, 0, VA, ASGW, false,
                                      CF_ROLE_KV_SECRETS_USER, &d),
                     CF_OK);
    assert_true(d.allowed);
    assert_int_equal(cf_rbac_check_ex(f->rb, ME, NULL, 0, VA,
                                      "Microsoft.Authorization/roleAssignments/delete", false,
                                      CF_ROLE_KV_ADMINISTRATOR, &d),
                     CF_OK);
    assert_true(d.allowed);
    assert_int_equal(cf_rbac_check_ex(f->rb, ME, NULL, 0, VA, ASGW, false, CF_ROLE_OWNER, &d),
                     CF_OK);
    assert_false(d.allowed);
    assert_false(can(f, VA, ASGW, false)); /* no target role: the condition fails */
    assert_true(can(f, VA, "Microsoft.Authorization/roleAssignments/read", false));
}

static void permission_map(void **state)
{
    struct cf_rbac_action a;
    (void)state;
    assert_true(cf_rbac_action_for_permission("secrets/get", "SecretGet", &a));
    assert_string_equal(a.action, GET);
    assert_true(a.is_data);
    assert_true(cf_rbac_action_for_permission("secrets/set", "SecretSet", &a));
    assert_string_equal(a.action, SET);
    assert_true(cf_rbac_action_for_permission("secrets/set", "SecretUpdate", &a));
    assert_string_equal(a.action, KVA "secrets/update/action");
    assert_true(cf_rbac_action_for_permission("secrets/set", NULL, &a));
    assert_string_equal(a.action, SET);
    assert_true(cf_rbac_action_for_permission("vaults/write", "VaultPut", &a));
    assert_string_equal(a.action, VWRITE);
    assert_false(a.is_data);
    assert_true(cf_rbac_action_for_permission("public", "TokenIssue", &a));
    assert_null(a.action);
    assert_false(cf_rbac_action_for_permission("secrets/fly", NULL, &a));
    assert_false(cf_rbac_action_for_permission(NULL, NULL, &a));
}

static void ensure(void **state)
{
    struct fx *f = *state;
    int n = 0;

    assert_false(can(f, VA, PURGE, true));
    assert_int_equal(cf_rbac_ensure_assignment(f->rb, "/", CF_ROLE_KV_ADMINISTRATOR, ME,
                                               "ServicePrincipal"),
                     CF_OK);
    assert_int_equal(cf_rbac_ensure_assignment(f->rb, "/", CF_ROLE_KV_ADMINISTRATOR, ME,
                                               "ServicePrincipal"),
                     CF_OK);
    assert_int_equal(cf_rbac_ensure_assignment(f->rb, "/", CF_ROLE_OWNER, ME, NULL), CF_OK);
    assert_int_equal(cf_rbac_assignment_list(f->rb, "/", CF_RBAC_LIST_ABOVE_AND_BELOW, ME,
                                             collect_cb, &n),
                     CF_OK);
    assert_int_equal(n, 2);
    assert_true(can(f, VA, PURGE, true));
    assert_true(can(f, VA, VWRITE, false));
    assert_int_equal(cf_rbac_ensure_assignment(f->rb, "/", "no-such-role", ME, NULL),
                     CF_ENOTFOUND);
}

/* ---------------- cost ---------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check_cost(void **state)
{
    struct fx *f = *state;
    struct bulk others = {10000, NULL, RG1 "/providers/Microsoft.KeyVault/vaults",
                          CF_ROLE_KV_SECRETS_USER};
    const char *groups[] = {GRP};
    struct cf_rbac_decision d;
    const int N = 20000;
    double t0, per;
    int allowed = 0;

    assert_int_equal(cf_store_write(f->s, bulk_fn, &others), CF_OK);
    assert_int_equal(cf_rbac_invalidate(f->rb), CF_OK);
    /* the caller: a handful of its own assignments and one of a group */
    assert_int_equal(assign(f, ME, CF_ROLE_KV_READER, SUB "/resourceGroups/rg2"), CF_OK);
    assert_int_equal(assign(f, ME, CF_ROLE_KV_SECRETS_OFFICER, VB), CF_OK);
    assert_int_equal(assign(f, ME, "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", VB), CF_OK);
    assert_int_equal(assign(f, GRP, CF_ROLE_KV_SECRETS_USER, VA), CF_OK);
    /* warm */
    assert_int_equal(cf_rbac_check(f->rb, ME, groups, 1, VA "/secrets/n", GET, true, &d), CF_OK);
    assert_true(d.allowed);
    /* best of 10 rounds: the machine may be busy with other work (other builds) */
    per = 1e9;
    for (int round = 0; round < 10; round++) {
        t0 = now_s();
        for (int i = 0; i < N; i++) {
            cf_rbac_check(f->rb, ME, groups, 1, VA "/secrets/n", i & 1 ? GET : PURGE, true, &d);
            allowed += d.allowed;
        }
        per = CF_MIN(per, (now_s() - t0) / N * 1e6);
    }
    print_message("rbac check: %.3f us per check (10,000 other assignments, 4 own)\n", per);
    assert_int_equal(allowed, 10 * N / 2);
    /* The bound is for optimised builds; sanitizer instrumentation (TSan ~25x) only has to show
     * the cost does not grow with the other principals' assignments. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
    assert_true(per < 200.0);
#else
    assert_true(per < 5.0);
#endif
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patterns),
        cmocka_unit_test(patterns_edges_and_cost),
        cmocka_unit_test(scopes),
        cmocka_unit_test(builtin_table),
        cmocka_unit_test(permission_map),
        T(builtin_matrix),
        T(inheritance),
        T(groups_and_invalidation),
        T(outside_changes_need_invalidate),
        T(custom_roles),
        T(assignment_rules),
        T(data_access_admin_condition),
        T(ensure),
        T(check_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

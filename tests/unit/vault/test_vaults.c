/* test_vaults.c - resource groups and vaults (azure-kv-secrets.md §15): create/update, the
 * server-wide name rule, soft delete, recover with contents, purge, retention and purge-
 * protection rules, group delete, the resolve cache following changes, data keys surviving a
 * restart, and the periodic purge driven by a fake clock. */
#include "fixture.h"

static void test_put_get_update(void **state)
{
    struct fx *f = *state;
    struct cf_vault in, out;
    struct cf_group g;
    bool created = true;

    /* the fixture created testvault in rg1, and the group with it */
    assert_int_equal(cf_group_get(f->svc, SUB, "RG1", &g), CF_OK);
    assert_string_equal(g.name, "rg1");
    assert_string_equal(g.tags_json, "{}");
    cf_group_release(&g);

    assert_int_equal(cf_vault_get(f->svc, SUB, "rg1", "TESTVAULT", &out), CF_OK);
    assert_string_equal(out.name, "testvault");
    assert_string_equal(out.sku, "standard");
    assert_string_equal(out.public_network_access, "Enabled");
    assert_string_equal(out.tags_json, "{}");
    assert_string_equal(out.access_policies_json, "[]");
    assert_null(out.network_acls_json);
    assert_true(out.soft_delete);
    assert_true(out.rbac);
    assert_int_equal(out.retention_days, 90);
    assert_int_equal(out.created, T0);
    assert_int_equal(out.deleted_date, 0);
    int64_t id = out.id;
    cf_vault_release(&out);

    /* update: same place, new properties; created stays */
    fx_advance(f, 10);
    fx_vault_in(&in, "TestVault", "RG1");
    in.tags_json = "{\"team\":\"a\"}";
    in.access_policies_json = "[{\"objectId\":\"x\"}]";
    in.network_acls_json = "{\"defaultAction\":\"Deny\"}";
    snprintf(in.sku, sizeof(in.sku), "Premium");
    snprintf(in.public_network_access, sizeof(in.public_network_access), "disabled");
    in.rbac = false;
    in.retention_days = 0; /* not given: kept */
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    assert_false(created);
    assert_int_equal(out.id, id);
    assert_string_equal(out.name, "testvault");
    assert_string_equal(out.sku, "premium");
    assert_string_equal(out.public_network_access, "Disabled");
    assert_string_equal(out.tags_json, "{\"team\":\"a\"}");
    assert_string_equal(out.access_policies_json, "[{\"objectId\":\"x\"}]");
    assert_string_equal(out.network_acls_json, "{\"defaultAction\":\"Deny\"}");
    assert_int_equal(out.created, T0);
    assert_int_equal(out.updated, T0 + 10);
    assert_false(out.rbac);
    cf_vault_release(&out);

    /* the resolve cache follows the change */
    struct cf_vault_ref ref;
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("TESTVAULT"), &ref), CF_OK);
    assert_false(ref.rbac);
    assert_int_equal(ref.id, id);
    assert_string_equal(ref.tenant_id, TENANT);

    /* the wrong group does not find it */
    assert_int_equal(cf_vault_get(f->svc, SUB, "rg2", "testvault", &out), CF_ENOTFOUND);
    assert_int_equal(cf_vault_get(f->svc, "other-sub", "rg1", "testvault", &out), CF_ENOTFOUND);
}

static void test_put_rules(void **state)
{
    struct fx *f = *state;
    struct cf_vault in, out;
    bool created;

    /* the name is server-wide */
    fx_vault_in(&in, "TESTVAULT", "rg2");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EEXISTS);
    fx_vault_in(&in, "testvault", "rg1");
    snprintf(in.subscription, sizeof(in.subscription), "another-subscription");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EEXISTS);

    /* names and properties */
    fx_vault_in(&in, "1bad", "rg1");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EBADNAME);
    fx_vault_in(&in, "good-name", "bad/rg");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EBADNAME);
    fx_vault_in(&in, "good-name", "rg1");
    in.retention_days = 6;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EBADPARAM);
    in.retention_days = 91;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EBADPARAM);
    in.retention_days = 30;
    snprintf(in.sku, sizeof(in.sku), "gold");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EBADPARAM);

    /* retention is fixed after creation */
    fx_vault_in(&in, "good-name", "rg1");
    in.retention_days = 30;
    in.soft_delete = false; /* ignored: soft delete is always on */
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    assert_true(created);
    assert_true(out.soft_delete);
    assert_int_equal(out.retention_days, 30);
    cf_vault_release(&out);
    in.retention_days = 60;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EBADPARAM);
    in.retention_days = 30;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    assert_false(created);
    cf_vault_release(&out);

    /* purge protection: on is allowed, off again is not */
    in.purge_protection = true;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    assert_true(out.purge_protection);
    cf_vault_release(&out);
    in.purge_protection = false;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EBADPARAM);
    assert_int_equal(cf_vault_get(f->svc, SUB, "rg1", "good-name", &out), CF_OK);
    assert_true(out.purge_protection);
    cf_vault_release(&out);

    struct cf_vault_ref ref;
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("good-name"), &ref), CF_OK);
    assert_string_equal(cf_recovery_level(&ref), "CustomizedRecoverable");
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("no-such-vault"), &ref), CF_ENOTFOUND);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR(""), &ref), CF_ENOTFOUND);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("a-name-far-too-long-for-a-vault"), &ref),
                     CF_ENOTFOUND);
    /* recover with nothing to recover */
    fx_vault_in(&in, "never-existed", "rg1");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_RECOVER, &created, &out), CF_ENOTFOUND);
}

struct names {
    char n[16][25];
    int count;
};

static cf_err collect_cb(const struct cf_vault *v, void *arg)
{
    struct names *ns = arg;
    assert_true(ns->count < 16);
    snprintf(ns->n[ns->count++], 25, "%s", v->name);
    return CF_OK;
}

static void test_delete_recover_purge(void **state)
{
    struct fx *f = *state;
    struct cf_vault in, out;
    struct cf_vault_ref ref;
    struct names ns;
    bool created;
    char buf[16];

    assert_int_equal(fx_set(f, &f->ref, "kept", "value", NULL), CF_OK);
    assert_int_equal(fx_set(f, &f->ref, "gone", "value", NULL), CF_OK);
    struct cf_secret_meta m;
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("gone"), &m), CF_OK);
    cf_secret_meta_release(&m);

    fx_advance(f, 100);
    assert_int_equal(cf_vault_delete(f->svc, SUB, "rg1", "TestVault"), CF_OK);
    assert_int_equal(cf_vault_delete(f->svc, SUB, "rg1", "testvault"), CF_ENOTFOUND);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("testvault"), &ref), CF_ENOTFOUND);
    /* an old ref cannot reach the contents any more */
    assert_int_equal(fx_get(f, &f->ref, "kept", NULL, NULL, 0), CF_ENOTFOUND);
    assert_int_equal(cf_vault_get(f->svc, SUB, "rg1", "testvault", &out), CF_ENOTFOUND);
    assert_int_equal(cf_vault_get_deleted(f->svc, SUB, "testvault", &out), CF_OK);
    assert_int_equal(out.deleted_date, T0 + 100);
    assert_int_equal(out.scheduled_purge, T0 + 100 + 90 * 86400LL);
    cf_vault_release(&out);
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(cf_vault_list_deleted(f->svc, SUB, collect_cb, &ns), CF_OK);
    assert_int_equal(ns.count, 1);
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(cf_vault_list(f->svc, SUB, NULL, collect_cb, &ns), CF_OK);
    assert_int_equal(ns.count, 0);

    /* a plain PUT on a soft-deleted name: ConflictError */
    fx_vault_in(&in, "testvault", "rg1");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_EDELETED);
    /* recover restores the vault and its contents, individually deleted ones stay deleted */
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_RECOVER, &created, &out), CF_OK);
    assert_int_equal(out.deleted_date, 0);
    assert_int_equal(out.id, f->ref.id);
    cf_vault_release(&out);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("testvault"), &ref), CF_OK);
    assert_int_equal(fx_get(f, &ref, "kept", NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "value");
    assert_int_equal(cf_secret_get_deleted(f->svc, &ref, CF_STR("gone"), &m), CF_OK);
    cf_secret_meta_release(&m);
    /* a retried recover of a live vault is harmless */
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_RECOVER, &created, &out), CF_OK);
    cf_vault_release(&out);

    /* purge: only deleted vaults; then the name is free and the contents gone */
    assert_int_equal(cf_vault_purge(f->svc, SUB, "testvault"), CF_ENOTFOUND);
    assert_int_equal(cf_vault_delete(f->svc, SUB, "rg1", "testvault"), CF_OK);
    assert_int_equal(cf_vault_purge(f->svc, "other-sub", "testvault"), CF_ENOTFOUND);
    assert_int_equal(cf_vault_purge(f->svc, SUB, "TESTVAULT"), CF_OK);
    assert_int_equal(cf_vault_get_deleted(f->svc, SUB, "testvault", &out), CF_ENOTFOUND);
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    assert_true(created);
    assert_int_not_equal(out.id, f->ref.id); /* ids are never reused */
    cf_vault_release(&out);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("testvault"), &ref), CF_OK);
    assert_int_equal(fx_get(f, &ref, "kept", NULL, NULL, 0), CF_ENOTFOUND);
    assert_int_equal(fx_set(f, &ref, "gone", "new", NULL), CF_OK);
    assert_int_equal(cf_store_check(f->store), CF_OK);
}

static void test_purge_protected_vault(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref ref;

    fx_make_vault(f, "protected", 7, true, &ref);
    assert_int_equal(cf_vault_delete(f->svc, SUB, "rg1", "protected"), CF_OK);
    assert_int_equal(cf_vault_purge(f->svc, SUB, "protected"), CF_EPURGEPROTECT);
    fx_advance(f, 7 * 86400 - 1);
    assert_int_equal(cf_vault_purge(f->svc, SUB, "protected"), CF_EPURGEPROTECT);
    fx_advance(f, 1);
    assert_int_equal(cf_vault_purge(f->svc, SUB, "protected"), CF_OK);
}

static void test_groups_and_lists(void **state)
{
    struct fx *f = *state;
    struct cf_group gin, gout;
    struct cf_vault_ref r2, r3, r4;
    struct cf_vault in, out;
    struct names ns;
    bool created;

    memset(&gin, 0, sizeof(gin));
    snprintf(gin.subscription, sizeof(gin.subscription), SUB);
    snprintf(gin.name, sizeof(gin.name), "Team-RG");
    snprintf(gin.location, sizeof(gin.location), "northeurope");
    gin.tags_json = "{\"k\":\"v\"}";
    assert_int_equal(cf_group_put(f->svc, &gin, &created, &gout), CF_OK);
    assert_true(created);
    assert_string_equal(gout.tags_json, "{\"k\":\"v\"}");
    cf_group_release(&gout);
    gin.tags_json = NULL;
    snprintf(gin.name, sizeof(gin.name), "team-rg");
    assert_int_equal(cf_group_put(f->svc, &gin, &created, &gout), CF_OK);
    assert_false(created);
    assert_string_equal(gout.name, "Team-RG"); /* first case kept */
    assert_string_equal(gout.tags_json, "{}");
    cf_group_release(&gout);
    snprintf(gin.name, sizeof(gin.name), "bad.");
    assert_int_equal(cf_group_put(f->svc, &gin, &created, &gout), CF_EBADNAME);

    fx_vault_in(&in, "team-a", "team-rg");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
    fx_vault_in(&in, "team-b", "TEAM-RG");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
    fx_make_vault(f, "solo", 90, false, &r2);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("team-a"), &r3), CF_OK);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("team-b"), &r4), CF_OK);
    assert_int_equal(fx_set(f, &r3, "s", "x", NULL), CF_OK);

    memset(&ns, 0, sizeof(ns));
    assert_int_equal(cf_vault_list(f->svc, SUB, "team-rg", collect_cb, &ns), CF_OK);
    assert_int_equal(ns.count, 2);
    assert_string_equal(ns.n[0], "team-a");
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(cf_vault_list(f->svc, SUB, NULL, collect_cb, &ns), CF_OK);
    assert_int_equal(ns.count, 4);
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(cf_vault_list(f->svc, NULL, NULL, collect_cb, &ns), CF_OK);
    assert_int_equal(ns.count, 4);
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(cf_vault_list(f->svc, "nobody", NULL, collect_cb, &ns), CF_OK);
    assert_int_equal(ns.count, 0);

    /* deleting the group soft-deletes its vaults only */
    assert_int_equal(cf_group_delete(f->svc, SUB, "TEAM-RG"), CF_OK);
    assert_int_equal(cf_group_delete(f->svc, SUB, "team-rg"), CF_ENOTFOUND);
    assert_int_equal(cf_group_get(f->svc, SUB, "team-rg", &gout), CF_ENOTFOUND);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("team-a"), &r3), CF_ENOTFOUND);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("team-b"), &r4), CF_ENOTFOUND);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("solo"), &r2), CF_OK);
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(cf_vault_list_deleted(f->svc, SUB, collect_cb, &ns), CF_OK);
    assert_int_equal(ns.count, 2);
    /* recovering recreates the group */
    fx_vault_in(&in, "team-a", "team-rg");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_RECOVER, &created, &out), CF_OK);
    cf_vault_release(&out);
    assert_int_equal(cf_group_get(f->svc, SUB, "team-rg", &gout), CF_OK);
    cf_group_release(&gout);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("team-a"), &r3), CF_OK);
    assert_int_equal(fx_get(f, &r3, "s", NULL, NULL, 0), CF_OK);
}

static cf_err count_groups(const struct cf_group *g, void *arg)
{
    (void)g;
    (*(int *)arg)++;
    return CF_OK;
}

static void test_group_list(void **state)
{
    struct fx *f = *state;
    int n = 0;
    assert_int_equal(cf_group_list(f->svc, SUB, count_groups, &n), CF_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(cf_group_list(f->svc, "x", count_groups, &n), CF_OK);
    assert_int_equal(n, 0);
}

static void test_expired_purge(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref ref, other;
    struct cf_secret_meta m;
    struct cf_vault out;

    fx_make_vault(f, "weekly", 7, false, &ref);
    fx_make_vault(f, "doomed", 7, true, &other);
    assert_int_equal(fx_set(f, &ref, "old", "x", NULL), CF_OK);
    assert_int_equal(fx_set(f, &ref, "live", "x", NULL), CF_OK);
    assert_int_equal(fx_set(f, &other, "inside", "x", NULL), CF_OK);
    assert_int_equal(cf_secret_delete(f->svc, &ref, CF_STR("old"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_vault_delete(f->svc, SUB, "rg1", "doomed"), CF_OK);

    fx_advance(f, 6 * 86400);
    assert_int_equal(cf_vault_purge_expired(f->svc), CF_OK);
    assert_int_equal(cf_secret_get_deleted(f->svc, &ref, CF_STR("old"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_vault_get_deleted(f->svc, SUB, "doomed", &out), CF_OK);
    cf_vault_release(&out);

    fx_advance(f, 86400);
    assert_int_equal(cf_vault_purge_expired(f->svc), CF_OK);
    assert_int_equal(cf_secret_get_deleted(f->svc, &ref, CF_STR("old"), &m), CF_ENOTFOUND);
    assert_int_equal(fx_get(f, &ref, "live", NULL, NULL, 0), CF_OK);
    assert_int_equal(fx_set(f, &ref, "old", "reborn", NULL), CF_OK);
    /* purge protection does not stop the automatic purge */
    assert_int_equal(cf_vault_get_deleted(f->svc, SUB, "doomed", &out), CF_ENOTFOUND);
    fx_make_vault(f, "doomed", 7, false, &other);
    assert_int_equal(fx_get(f, &other, "inside", NULL, NULL, 0), CF_ENOTFOUND);
    assert_int_equal(cf_store_check(f->store), CF_OK);
    /* nothing to do is fine */
    assert_int_equal(cf_vault_purge_expired(f->svc), CF_OK);
}

static void test_data_key_persists(void **state)
{
    struct fx *f = *state;
    unsigned char wrong[32];
    struct cf_vault_ref ref;
    char buf[32];
    cf_err e;

    assert_int_equal(fx_set(f, &f->ref, "persist", "still-here", NULL), CF_OK);
    /* a new service (restart) with the same master key reads it */
    cf_vault_svc_free(f->svc);
    f->svc = cf_vault_svc_new(f->store, &f->clock.c, f->mk, &e);
    assert_int_equal(e, CF_OK);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("testvault"), &ref), CF_OK);
    assert_int_equal(fx_get(f, &ref, "persist", NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "still-here");
    /* with another master key the data key does not unwrap */
    cf_vault_svc_free(f->svc);
    memcpy(wrong, f->mk, 32);
    wrong[0] ^= 1;
    f->svc = cf_vault_svc_new(f->store, &f->clock.c, wrong, &e);
    assert_int_equal(e, CF_OK);
    assert_int_equal(fx_get(f, &ref, "persist", NULL, NULL, 0), CF_ECORRUPT);
    assert_int_equal(fx_set(f, &ref, "persist", "x", NULL), CF_ECORRUPT);
    assert_null(cf_vault_svc_new(NULL, &f->clock.c, wrong, &e));
    assert_int_equal(e, CF_EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_put_get_update),        T(test_put_rules),         T(test_delete_recover_purge),
        T(test_purge_protected_vault), T(test_groups_and_lists),  T(test_group_list),
        T(test_expired_purge),         T(test_data_key_persists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

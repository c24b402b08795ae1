/* test_locks.c - management locks in the vault domain (locks.c) over a real SQLite store:
 * names, levels and scopes; create / update (name case and created kept) / get / delete;
 * listing at and above a scope and with the subtree; the check's inheritance downwards (a
 * group lock covers its vaults, a vault lock does not cover its group or a sibling), the
 * strongest level winning, the below flag for group deletes, and no sideways match (rg1 vs
 * rg10). */
#include "base/cf.h"

#include "fixture.h"

/* Puts a lock; fails the test on error. */
static void put_lock(struct fx *f, const char *sub, const char *rg, const char *vault,
                     const char *name, enum cf_lock_level lv, const char *notes, bool *created)
{
    struct cf_lock in, out;

    memset(&in, 0, sizeof(in));
    assert_int_equal(cf_lock_scope(sub, rg, vault, in.scope), CF_OK);
    snprintf(in.name, sizeof(in.name), "%s", name);
    in.level = lv;
    in.notes = (char *)(uintptr_t)notes;
    assert_int_equal(cf_lock_put(f->svc, &in, created, &out), CF_OK);
    assert_int_equal(out.level, lv);
    cf_lock_release(&out);
}

static void test_names_levels_scopes(void **state)
{
    char s[CF_LOCK_SCOPE_MAX], long_name[300];
    enum cf_lock_level lv;
    (void)state;

    assert_true(cf_lock_name_valid(CF_STR("no-delete_1.x (prod)")));
    assert_false(cf_lock_name_valid(CF_STR("")));
    assert_false(cf_lock_name_valid(CF_STR("a/b")));
    assert_false(cf_lock_name_valid(CF_STR("a:b")));
    assert_false(cf_lock_name_valid(CF_STR("a%b")));
    assert_false(cf_lock_name_valid(CF_STR("a\tb")));
    memset(long_name, 'x', sizeof(long_name));
    assert_true(cf_lock_name_valid((struct cf_str){long_name, 260}));
    assert_false(cf_lock_name_valid((struct cf_str){long_name, 261}));

    assert_true(cf_lock_level_parse(CF_STR("readonly"), &lv));
    assert_int_equal(lv, CF_LOCK_READ_ONLY);
    assert_true(cf_lock_level_parse(CF_STR("CanNotDelete"), &lv));
    assert_int_equal(lv, CF_LOCK_CAN_NOT_DELETE);
    assert_false(cf_lock_level_parse(CF_STR("NotSpecified"), &lv));
    assert_string_equal(cf_lock_level_name(CF_LOCK_READ_ONLY), "ReadOnly");
    assert_null(cf_lock_level_name(CF_LOCK_NONE));

    assert_int_equal(cf_lock_scope(SUB, "RG1", "TestVault", s), CF_OK);
    assert_string_equal(s, "/subscriptions/" SUB
                           "/resourcegroups/rg1/providers/microsoft.keyvault/vaults/testvault");
    assert_int_equal(cf_lock_scope(SUB, "RG1", NULL, s), CF_OK);
    assert_string_equal(s, "/subscriptions/" SUB "/resourcegroups/rg1");
    assert_int_equal(cf_lock_scope(SUB, NULL, NULL, s), CF_OK);
    assert_string_equal(s, "/subscriptions/" SUB);
    assert_int_equal(cf_lock_scope(SUB, NULL, "v", s), CF_EINVAL);
    assert_int_equal(cf_lock_scope(NULL, "rg", NULL, s), CF_EINVAL);
}

static void test_put_get_delete(void **state)
{
    struct fx *f = *state;
    struct cf_lock in, got;
    bool created = false;
    int64_t t_created;

    put_lock(f, SUB, "rg1", NULL, "NoDelete", CF_LOCK_CAN_NOT_DELETE, "keep it", &created);
    assert_true(created);
    memset(&in, 0, sizeof(in));
    assert_int_equal(cf_lock_scope(SUB, "rg1", NULL, in.scope), CF_OK);
    assert_int_equal(cf_lock_get(f->svc, in.scope, CF_STR("nodelete"), &got), CF_OK);
    assert_string_equal(got.name, "NoDelete");
    assert_string_equal(got.notes, "keep it");
    assert_string_equal(got.owners_json, "[]");
    assert_int_equal(got.created, T0);
    t_created = got.created;
    cf_lock_release(&got);

    /* an update under another spelling keeps the first name and created */
    fx_advance(f, 60);
    put_lock(f, SUB, "RG1", NULL, "NODELETE", CF_LOCK_READ_ONLY, NULL, &created);
    assert_false(created);
    assert_int_equal(cf_lock_get(f->svc, in.scope, CF_STR("NoDelete"), &got), CF_OK);
    assert_string_equal(got.name, "NoDelete");
    assert_int_equal(got.level, CF_LOCK_READ_ONLY);
    assert_string_equal(got.notes, "");
    assert_int_equal(got.created, t_created);
    assert_int_equal(got.updated, T0 + 60);
    cf_lock_release(&got);

    /* bad input */
    snprintf(in.name, sizeof(in.name), "a/b");
    in.level = CF_LOCK_READ_ONLY;
    assert_int_equal(cf_lock_put(f->svc, &in, NULL, &got), CF_EBADNAME);
    snprintf(in.name, sizeof(in.name), "ok");
    in.level = CF_LOCK_NONE;
    assert_int_equal(cf_lock_put(f->svc, &in, NULL, &got), CF_EBADPARAM);
    {
        char notes[600];
        memset(notes, 'n', 513);
        notes[513] = '\0';
        in.level = CF_LOCK_CAN_NOT_DELETE;
        in.notes = notes;
        assert_int_equal(cf_lock_put(f->svc, &in, NULL, &got), CF_EBADPARAM);
        in.notes = NULL;
    }
    assert_int_equal(cf_lock_get(f->svc, in.scope, CF_STR("a/b"), &got), CF_ENOTFOUND);
    assert_int_equal(cf_lock_get(f->svc, in.scope, CF_STR("other"), &got), CF_ENOTFOUND);

    assert_int_equal(cf_lock_delete(f->svc, in.scope, CF_STR("nodelete")), CF_OK);
    assert_int_equal(cf_lock_delete(f->svc, in.scope, CF_STR("nodelete")), CF_ENOTFOUND);
    assert_int_equal(cf_lock_get(f->svc, in.scope, CF_STR("NoDelete"), &got), CF_ENOTFOUND);
}

struct names {
    char buf[1024];
};

static cf_err collect(const struct cf_lock *l, void *arg)
{
    struct names *n = arg;
    size_t len = strlen(n->buf);
    snprintf(n->buf + len, sizeof(n->buf) - len, "%s%s", len ? "," : "", l->name);
    return CF_OK;
}

static void test_list(void **state)
{
    struct fx *f = *state;
    char s[CF_LOCK_SCOPE_MAX];
    struct names n;

    put_lock(f, SUB, NULL, NULL, "sub", CF_LOCK_CAN_NOT_DELETE, NULL, NULL);
    put_lock(f, SUB, "rg1", NULL, "grp", CF_LOCK_CAN_NOT_DELETE, NULL, NULL);
    put_lock(f, SUB, "rg1", "testvault", "vlt", CF_LOCK_READ_ONLY, NULL, NULL);
    put_lock(f, SUB, "rg10", NULL, "other", CF_LOCK_READ_ONLY, NULL, NULL);

    assert_int_equal(cf_lock_scope(SUB, "rg1", "testvault", s), CF_OK);
    memset(&n, 0, sizeof(n));
    assert_int_equal(cf_lock_list(f->svc, s, false, collect, &n), CF_OK);
    assert_string_equal(n.buf, "sub,grp,vlt");

    assert_int_equal(cf_lock_scope(SUB, "rg1", NULL, s), CF_OK);
    memset(&n, 0, sizeof(n));
    assert_int_equal(cf_lock_list(f->svc, s, false, collect, &n), CF_OK);
    assert_string_equal(n.buf, "sub,grp");
    memset(&n, 0, sizeof(n));
    assert_int_equal(cf_lock_list(f->svc, s, true, collect, &n), CF_OK);
    assert_string_equal(n.buf, "sub,grp,vlt"); /* not rg10's */

    assert_int_equal(cf_lock_scope(SUB, NULL, NULL, s), CF_OK);
    memset(&n, 0, sizeof(n));
    assert_int_equal(cf_lock_list(f->svc, s, true, collect, &n), CF_OK);
    assert_string_equal(n.buf, "sub,grp,vlt,other");
    assert_int_equal(cf_lock_list(f->svc, "not-a-scope", false, collect, &n), CF_EINVAL);
}

static void test_check_inheritance(void **state)
{
    struct fx *f = *state;
    struct cf_lock_hit h;
    enum cf_lock_level lv;
    char s[CF_LOCK_SCOPE_MAX];

    /* nothing locked */
    assert_int_equal(cf_vault_lock_level(f->svc, SUB, "rg1", "testvault", &lv), CF_OK);
    assert_int_equal(lv, CF_LOCK_NONE);

    /* a vault lock covers the vault only */
    put_lock(f, SUB, "rg1", "testvault", "v", CF_LOCK_CAN_NOT_DELETE, NULL, NULL);
    assert_int_equal(cf_vault_lock_level(f->svc, SUB, "RG1", "TESTVAULT", &lv), CF_OK);
    assert_int_equal(lv, CF_LOCK_CAN_NOT_DELETE);
    assert_int_equal(cf_vault_lock_level(f->svc, SUB, "rg1", "othervault", &lv), CF_OK);
    assert_int_equal(lv, CF_LOCK_NONE);
    assert_int_equal(cf_vault_lock_level(f->svc, SUB, "rg1", NULL, &lv), CF_OK);
    assert_int_equal(lv, CF_LOCK_NONE);
    /* ... but a group delete sees it below */
    assert_int_equal(cf_vault_lock_check(f->svc, SUB, "rg1", NULL, true, &h), CF_OK);
    assert_int_equal(h.level, CF_LOCK_CAN_NOT_DELETE);
    assert_int_equal(cf_lock_scope(SUB, "rg1", "testvault", s), CF_OK);
    assert_string_equal(h.scope, s);
    assert_int_equal(cf_vault_lock_check(f->svc, SUB, "rg", NULL, true, &h), CF_OK);
    assert_int_equal(h.level, CF_LOCK_NONE);
    assert_string_equal(h.scope, "");

    /* a group ReadOnly covers every vault in it, and wins over the weaker vault lock */
    put_lock(f, SUB, "rg1", NULL, "g", CF_LOCK_READ_ONLY, NULL, NULL);
    assert_int_equal(cf_vault_lock_check(f->svc, SUB, "rg1", "testvault", false, &h), CF_OK);
    assert_int_equal(h.level, CF_LOCK_READ_ONLY);
    assert_int_equal(cf_lock_scope(SUB, "rg1", NULL, s), CF_OK);
    assert_string_equal(h.scope, s);
    assert_int_equal(cf_vault_lock_level(f->svc, SUB, "rg1", "anyvault", &lv), CF_OK);
    assert_int_equal(lv, CF_LOCK_READ_ONLY);
    assert_int_equal(cf_vault_lock_level(f->svc, SUB, "rg10", "anyvault", &lv), CF_OK);
    assert_int_equal(lv, CF_LOCK_NONE);

    /* a subscription lock covers everything in it, not another subscription */
    assert_int_equal(cf_lock_delete(f->svc, s, CF_STR("g")), CF_OK);
    put_lock(f, SUB, NULL, NULL, "s", CF_LOCK_CAN_NOT_DELETE, NULL, NULL);
    assert_int_equal(cf_vault_lock_level(f->svc, SUB, "rg2", "x", &lv), CF_OK);
    assert_int_equal(lv, CF_LOCK_CAN_NOT_DELETE);
    assert_int_equal(cf_vault_lock_level(f->svc, "00000000-0000-0000-0000-0000000000bb", "rg1",
                                         "testvault", &lv),
                     CF_OK);
    assert_int_equal(lv, CF_LOCK_NONE);
    assert_int_equal(cf_vault_lock_level(f->svc, NULL, "rg1", NULL, &lv), CF_EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_names_levels_scopes),
        T(test_put_get_delete),
        T(test_list),
        T(test_check_inheritance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_store_auth.c - store_auth.h on SQLite: role definitions (insert, update keeping
 * created, unique names, get, list, delete) and role assignments (insert, duplicate id, get,
 * delete, by principal, by exact scope, by subtree without sideways matches such as rg1 vs
 * rg10, the "/" subtree, use of a role), writes refused in a read transaction, and the schema
 * surviving a reopen. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_auth.h"

struct fx {
    char dir[64];
    char path[128];
    struct cf_store *s;
};

static struct cf_store *open_store(const char *path)
{
    struct cf_store_opts o = {path, 2, 0};
    cf_err e = CF_EINTERNAL;
    struct cf_store *s = cf_store_open_sqlite(&o, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-sauth-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    f->s = open_store(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cf_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- one-shot transaction helpers ---- */

struct op {
    int kind;
    const void *in;
    const char *key;
    bool subtree;
    bool flag;
    cf_err result;
    struct cf_rec_role_def def;
    struct cf_rec_role_asg asg;
    char seen[64][40]; /* ids (or scopes) seen by a list */
    int nseen;
};

enum { DEF_PUT, DEF_GET, DEF_DEL, DEF_LIST, ASG_INS, ASG_GET, ASG_DEL, ASG_PRIN, ASG_SCOPE, USES };

static cf_err def_cb(const struct cf_rec_role_def *d, void *arg)
{
    struct op *o = arg;
    if (o->nseen < 64)
        snprintf(o->seen[o->nseen++], 40, "%.39s", d->name);
    return CF_OK;
}

static cf_err asg_cb(const struct cf_rec_role_asg *a, void *arg)
{
    struct op *o = arg;
    if (o->nseen < 64)
        snprintf(o->seen[o->nseen++], 40, "%s", a->id);
    return CF_OK;
}

static cf_err run(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    switch (o->kind) {
    case DEF_PUT:
        return cf_store_role_def_put(t, o->in, &o->flag);
    case DEF_GET:
        return cf_store_role_def_get(t, o->key, &o->def);
    case DEF_DEL:
        return cf_store_role_def_delete(t, o->key);
    case DEF_LIST:
        return cf_store_role_def_list(t, def_cb, o);
    case ASG_INS:
        return cf_store_role_asg_insert(t, o->in);
    case ASG_GET:
        return cf_store_role_asg_get(t, o->key, &o->asg);
    case ASG_DEL:
        return cf_store_role_asg_delete(t, o->key);
    case ASG_PRIN:
        return cf_store_role_asg_list_principal(t, o->key, asg_cb, o);
    case ASG_SCOPE:
        return cf_store_role_asg_list_scope(t, o->key, o->subtree, asg_cb, o);
    case USES:
        return cf_store_role_asg_uses_role(t, o->key, &o->flag);
    default:
        return CF_EINVAL;
    }
}

static struct op *w(struct fx *f, int kind, const void *in, const char *key)
{
    static struct op o; /* test-only scratch: one operation at a time */
    memset(&o, 0, sizeof(o));
    o.kind = kind;
    o.in = in;
    o.key = key;
    o.result = cf_store_write(f->s, run, &o);
    return &o;
}

static struct op *r(struct fx *f, int kind, const char *key, bool subtree)
{
    static struct op o;
    memset(&o, 0, sizeof(o));
    o.kind = kind;
    o.key = key;
    o.subtree = subtree;
    o.result = cf_store_read(f->s, run, &o);
    return &o;
}

static struct cf_rec_role_def mkdef(const char *id, const char *name, int64_t t)
{
    struct cf_rec_role_def d;
    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "%s", id);
    snprintf(d.name, sizeof(d.name), "%s", name);
    d.description = (char *)(uintptr_t) "desc";
    d.scopes_json = (char *)(uintptr_t) "[\"/\"]";
    d.perms_json = (char *)(uintptr_t) "{\"actions\":[\"*/read\"]}";
    d.created = d.updated = t;
    return d;
}

static struct cf_rec_role_asg mkasg(const char *id, const char *scope, const char *pid)
{
    struct cf_rec_role_asg a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", id);
    snprintf(a.scope, sizeof(a.scope), "%s", scope);
    snprintf(a.role_def_id, sizeof(a.role_def_id), "4633458b-17de-408a-b874-0445c86b69e6");
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", pid);
    snprintf(a.principal_type, sizeof(a.principal_type), "ServicePrincipal");
    a.created = 1000;
    snprintf(a.created_by, sizeof(a.created_by), "creator");
    return a;
}

/* ---- tests ---- */

static void role_definitions(void **state)
{
    struct fx *f = *state;
    struct cf_rec_role_def a = mkdef("aaaa", "Rotator", 10), b = mkdef("bbbb", "Auditor", 20);
    struct op *o;

    o = w(f, DEF_PUT, &a, NULL);
    assert_int_equal(o->result, CF_OK);
    assert_true(o->flag);
    assert_int_equal(w(f, DEF_PUT, &b, NULL)->result, CF_OK);
    /* update: new name and time, created kept */
    a = mkdef("aaaa", "Secret Rotator", 30);
    o = w(f, DEF_PUT, &a, NULL);
    assert_int_equal(o->result, CF_OK);
    assert_false(o->flag);
    o = r(f, DEF_GET, "aaaa", false);
    assert_int_equal(o->result, CF_OK);
    assert_string_equal(o->def.name, "Secret Rotator");
    assert_string_equal(o->def.description, "desc");
    assert_string_equal(o->def.scopes_json, "[\"/\"]");
    assert_int_equal(o->def.created, 10);
    assert_int_equal(o->def.updated, 30);
    cf_rec_role_def_release(&o->def);
    /* names are unique case-insensitively */
    b = mkdef("cccc", "AUDITOR", 40);
    assert_int_equal(w(f, DEF_PUT, &b, NULL)->result, CF_EEXISTS);
    o = r(f, DEF_LIST, NULL, false);
    assert_int_equal(o->result, CF_OK);
    assert_int_equal(o->nseen, 2);
    assert_string_equal(o->seen[0], "Auditor");
    assert_string_equal(o->seen[1], "Secret Rotator");
    assert_int_equal(w(f, DEF_DEL, NULL, "aaaa")->result, CF_OK);
    assert_int_equal(w(f, DEF_DEL, NULL, "aaaa")->result, CF_ENOTFOUND);
    assert_int_equal(r(f, DEF_GET, "aaaa", false)->result, CF_ENOTFOUND);
    /* NULL text fields are stored as their empty forms */
    b = mkdef("dddd", "Bare", 1);
    b.description = b.scopes_json = b.perms_json = NULL;
    assert_int_equal(w(f, DEF_PUT, &b, NULL)->result, CF_OK);
    o = r(f, DEF_GET, "dddd", false);
    assert_string_equal(o->def.description, "");
    assert_string_equal(o->def.scopes_json, "[]");
    assert_string_equal(o->def.perms_json, "{}");
    cf_rec_role_def_release(&o->def);
    /* a record without id or name is refused */
    b = mkdef("", "x", 1);
    assert_int_equal(w(f, DEF_PUT, &b, NULL)->result, CF_EINVAL);
}

#define SUB "/subscriptions/s1"
static void role_assignments(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *id, *scope, *pid;
    } rows[] = {
        {"a1", "/", "p1"},
        {"a2", SUB, "p1"},
        {"a3", SUB "/resourcegroups/rg1", "p2"},
        {"a4", SUB "/resourcegroups/rg10", "p2"},
        {"a5", SUB "/resourcegroups/rg1/providers/microsoft.keyvault/vaults/v", "p3"},
        {"a6", SUB "/resourcegroups/rg1/providers/microsoft.keyvault/vaults/v/secrets/n", "p1"},
        {"a7", "/subscriptions/s10", "p3"},
    };
    struct cf_rec_role_asg a;
    struct op *o;

    for (size_t i = 0; i < CF_ARRAY_LEN(rows); i++) {
        a = mkasg(rows[i].id, rows[i].scope, rows[i].pid);
        assert_int_equal(w(f, ASG_INS, &a, NULL)->result, CF_OK);
    }
    a = mkasg("a1", "/x", "p9");
    assert_int_equal(w(f, ASG_INS, &a, NULL)->result, CF_EEXISTS);
    a = mkasg("a9", "", "p9");
    assert_int_equal(w(f, ASG_INS, &a, NULL)->result, CF_EINVAL);

    o = r(f, ASG_GET, "a5", false);
    assert_int_equal(o->result, CF_OK);
    assert_string_equal(o->asg.scope, SUB "/resourcegroups/rg1/providers/microsoft.keyvault/vaults/v");
    assert_string_equal(o->asg.principal_id, "p3");
    assert_string_equal(o->asg.principal_type, "ServicePrincipal");
    assert_string_equal(o->asg.role_def_id, "4633458b-17de-408a-b874-0445c86b69e6");
    assert_string_equal(o->asg.created_by, "creator");
    assert_int_equal(o->asg.created, 1000);
    assert_int_equal(r(f, ASG_GET, "zz", false)->result, CF_ENOTFOUND);

    o = r(f, ASG_PRIN, "p1", false);
    assert_int_equal(o->nseen, 3);
    assert_string_equal(o->seen[0], "a1");
    assert_string_equal(o->seen[1], "a2");
    assert_string_equal(o->seen[2], "a6");
    assert_int_equal(r(f, ASG_PRIN, "nobody", false)->nseen, 0);

    /* exact scope */
    o = r(f, ASG_SCOPE, SUB "/resourcegroups/rg1", false);
    assert_int_equal(o->nseen, 1);
    assert_string_equal(o->seen[0], "a3");
    /* subtree of rg1: not rg10 */
    o = r(f, ASG_SCOPE, SUB "/resourcegroups/rg1", true);
    assert_int_equal(o->result, CF_OK);
    assert_int_equal(o->nseen, 3);
    assert_string_equal(o->seen[0], "a3");
    assert_string_equal(o->seen[1], "a5");
    assert_string_equal(o->seen[2], "a6");
    /* subtree of s1: not s10 */
    o = r(f, ASG_SCOPE, SUB, true);
    assert_int_equal(o->nseen, 5);
    /* subtree of "/": everything */
    assert_int_equal(r(f, ASG_SCOPE, "/", true)->nseen, 7);
    assert_int_equal(r(f, ASG_SCOPE, "/", false)->nseen, 1);
    assert_int_equal(r(f, ASG_SCOPE, "", true)->result, CF_EINVAL);

    o = r(f, USES, "4633458b-17de-408a-b874-0445c86b69e6", false);
    assert_int_equal(o->result, CF_OK);
    assert_true(o->flag);
    o = r(f, USES, "other", false);
    assert_false(o->flag);

    assert_int_equal(w(f, ASG_DEL, NULL, "a3")->result, CF_OK);
    assert_int_equal(w(f, ASG_DEL, NULL, "a3")->result, CF_ENOTFOUND);
    assert_int_equal(r(f, ASG_SCOPE, SUB "/resourcegroups/rg1", true)->nseen, 2);
}

static void writes_need_a_write_txn(void **state)
{
    struct fx *f = *state;
    struct cf_rec_role_asg a = mkasg("a1", "/", "p1");
    struct cf_rec_role_def d = mkdef("d1", "n", 1);
    struct op o;

    memset(&o, 0, sizeof(o));
    o.kind = ASG_INS;
    o.in = &a;
    assert_int_equal(cf_store_read(f->s, run, &o), CF_EINVAL);
    o.kind = DEF_PUT;
    o.in = &d;
    assert_int_equal(cf_store_read(f->s, run, &o), CF_EINVAL);
    o.kind = ASG_DEL;
    o.key = "a1";
    assert_int_equal(cf_store_read(f->s, run, &o), CF_EINVAL);
    o.kind = DEF_DEL;
    assert_int_equal(cf_store_read(f->s, run, &o), CF_EINVAL);
}

static void survives_reopen(void **state)
{
    struct fx *f = *state;
    struct cf_rec_role_asg a = mkasg("a1", "/", "p1");
    struct cf_rec_role_def d = mkdef("d1", "Name", 1);

    assert_int_equal(w(f, ASG_INS, &a, NULL)->result, CF_OK);
    assert_int_equal(w(f, DEF_PUT, &d, NULL)->result, CF_OK);
    cf_store_close(f->s);
    f->s = open_store(f->path); /* migrations already applied: no-op */
    assert_int_equal(r(f, ASG_PRIN, "p1", false)->nseen, 1);
    assert_int_equal(r(f, DEF_LIST, NULL, false)->nseen, 1);
    assert_int_equal(cf_store_check(f->s), CF_OK);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(role_definitions),
        T(role_assignments),
        T(writes_need_a_write_txn),
        T(survives_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_store_locks.c - store_locks.h on SQLite: insert then update (name case and created
 * kept, notes/owners defaults), get by lower-case name, delete (CF_ENOTFOUND the second time),
 * list at a scope in name order, the subtree without sideways matches (rg1 vs rg10), writes
 * refused in a read transaction, bad arguments. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_locks.h"

#define S "/subscriptions/s"
#define G1 S "/resourcegroups/rg1"
#define G10 S "/resourcegroups/rg10"
#define V1 G1 "/providers/microsoft.keyvault/vaults/v1"

struct fx {
    char dir[64], path[128];
    struct cf_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts o;
    cf_err e = CF_EINTERNAL;

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-slock-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    o = (struct cf_store_opts){f->path, 2, 0};
    f->s = cf_store_open_sqlite(&o, &e);
    assert_int_equal(e, CF_OK);
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

struct op {
    const char *scope, *name;
    int level;
    const char *notes;
    int64_t t;
    bool created;
    struct cf_rec_lock got;
    char names[512];
    bool subtree;
};

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    struct cf_rec_lock l;
    memset(&l, 0, sizeof(l));
    snprintf(l.scope, sizeof(l.scope), "%s", o->scope);
    snprintf(l.name, sizeof(l.name), "%s", o->name);
    l.level = o->level;
    l.notes = (char *)(uintptr_t)o->notes;
    l.created = l.updated = o->t;
    return cf_store_lock_put(t, &l, &o->created);
}

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    return cf_store_lock_get(t, o->scope, o->name, &o->got);
}

static cf_err del_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    return cf_store_lock_delete(t, o->scope, o->name);
}

static cf_err name_cb(const struct cf_rec_lock *l, void *arg)
{
    struct op *o = arg;
    size_t n = strlen(o->names);
    snprintf(o->names + n, sizeof(o->names) - n, "%s%s", n ? "," : "", l->name);
    return CF_OK;
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    return o->subtree ? cf_store_lock_list_subtree(t, o->scope, name_cb, o)
                      : cf_store_lock_list_at(t, o->scope, name_cb, o);
}

static void put(struct fx *f, const char *scope, const char *name, int level, int64_t t,
                bool want_created)
{
    struct op o = {.scope = scope, .name = name, .level = level, .t = t};
    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_OK);
    assert_int_equal(o.created, want_created);
}

static const char *list(struct fx *f, struct op *o, const char *scope, bool subtree)
{
    memset(o, 0, sizeof(*o));
    o->scope = scope;
    o->subtree = subtree;
    assert_int_equal(cf_store_read(f->s, list_fn, o), CF_OK);
    return o->names;
}

static void test_put_get_delete(void **state)
{
    struct fx *f = *state;
    struct op o = {.scope = G1, .name = "nodel"};

    put(f, G1, "NoDel", 1, 100, true);
    put(f, G1, "NODEL", 2, 200, false);
    assert_int_equal(cf_store_read(f->s, get_fn, &o), CF_OK);
    assert_string_equal(o.got.name, "NoDel");
    assert_int_equal(o.got.level, 2);
    assert_int_equal(o.got.created, 100);
    assert_int_equal(o.got.updated, 200);
    assert_string_equal(o.got.notes, "");
    assert_string_equal(o.got.owners_json, "[]");
    cf_rec_lock_release(&o.got);
    cf_rec_lock_release(&o.got); /* twice is harmless */

    o.scope = G10;
    assert_int_equal(cf_store_read(f->s, get_fn, &o), CF_ENOTFOUND);
    o.scope = G1;
    assert_int_equal(cf_store_write(f->s, del_fn, &o), CF_OK);
    assert_int_equal(cf_store_write(f->s, del_fn, &o), CF_ENOTFOUND);
    assert_int_equal(cf_store_read(f->s, get_fn, &o), CF_ENOTFOUND);
    /* writes need the writer */
    o.level = 1;
    o.name = "x";
    assert_int_equal(cf_store_read(f->s, put_fn, &o), CF_EINVAL);
    assert_int_equal(cf_store_read(f->s, del_fn, &o), CF_EINVAL);
    o.name = "";
    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_EINVAL);
}

static void test_lists(void **state)
{
    struct fx *f = *state;
    struct op o;

    put(f, S, "s", 1, 1, true);
    put(f, G1, "b", 1, 1, true);
    put(f, G1, "a", 2, 1, true);
    put(f, V1, "v", 1, 1, true);
    put(f, G10, "ten", 2, 1, true);
    assert_string_equal(list(f, &o, G1, false), "a,b");
    assert_string_equal(list(f, &o, G1, true), "a,b,v");
    assert_string_equal(list(f, &o, V1, true), "v");
    assert_string_equal(list(f, &o, S, true), "s,a,b,v,ten");
    assert_string_equal(list(f, &o, S "/resourcegroups/rg", true), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_store_diag.c - store_diag.h on SQLite (migration "diagnostic settings"): insert then
 * replace (name case and created kept), get by lower-case name, list at a scope and all, delete
 * (CF_ENOTFOUND the second time), writes refused in a read transaction, bad arguments. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_diag.h"

#define SUB "/subscriptions/s"
#define V1 SUB "/resourcegroups/rg1/providers/microsoft.keyvault/vaults/v1"

struct fx {
    char dir[64], path[128];
    struct cf_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts o;
    cf_err e = CF_EINTERNAL;

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-sdiag-XXXXXX");
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
    const char *scope, *name, *stream, *props;
    unsigned cats;
    int64_t t;
    bool created;
    struct cf_rec_diag got;
    char names[512];
    bool all;
};

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    struct cf_rec_diag d;
    memset(&d, 0, sizeof(d));
    snprintf(d.scope, sizeof(d.scope), "%s", o->scope);
    snprintf(d.name, sizeof(d.name), "%s", o->name);
    snprintf(d.stream, sizeof(d.stream), "%s", o->stream);
    d.cats = o->cats;
    d.props_json = (char *)(uintptr_t)o->props;
    d.created = d.updated = o->t;
    return cf_store_diag_put(t, &d, &o->created);
}

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    return cf_store_diag_get(t, o->scope, o->name, &o->got);
}

static cf_err del_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    return cf_store_diag_delete(t, o->scope, o->name);
}

static cf_err name_cb(const struct cf_rec_diag *d, void *arg)
{
    struct op *o = arg;
    size_t n = strlen(o->names);
    snprintf(o->names + n, sizeof(o->names) - n, "%s%s:%s:%u", n ? "," : "", d->name, d->stream,
             d->cats);
    return CF_OK;
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct op *o = arg;
    o->names[0] = '\0';
    return cf_store_diag_list(t, o->all ? NULL : o->scope, name_cb, o);
}

static void put_get_replace(void **state)
{
    struct fx *f = *state;
    struct op o = {.scope = V1,
                   .name = "ToSiem",
                   .stream = "sl",
                   .cats = 1,
                   .props = "{\"streamName\":\"sl\"}",
                   .t = 100};

    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_OK);
    assert_true(o.created);
    o.name = "tosiem";
    assert_int_equal(cf_store_read(f->s, get_fn, &o), CF_OK);
    assert_string_equal(o.got.name, "ToSiem");
    assert_string_equal(o.got.stream, "sl");
    assert_int_equal(o.got.cats, 1);
    assert_string_equal(o.got.props_json, "{\"streamName\":\"sl\"}");
    assert_int_equal(o.got.created, 100);
    cf_rec_diag_release(&o.got);

    /* replace under another spelling: first spelling and created kept */
    o.name = "TOSIEM";
    o.stream = "hs";
    o.cats = 0;
    o.props = NULL;
    o.t = 200;
    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_OK);
    assert_false(o.created);
    o.name = "tosiem";
    assert_int_equal(cf_store_read(f->s, get_fn, &o), CF_OK);
    assert_string_equal(o.got.name, "ToSiem");
    assert_string_equal(o.got.stream, "hs");
    assert_int_equal(o.got.cats, 0);
    assert_string_equal(o.got.props_json, "{}");
    assert_int_equal(o.got.created, 100);
    assert_int_equal(o.got.updated, 200);
    cf_rec_diag_release(&o.got);
}

static void list_and_delete(void **state)
{
    struct fx *f = *state;
    struct op o = {.stream = "sl", .cats = 1, .t = 1};

    o.scope = V1, o.name = "b";
    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_OK);
    o.name = "a", o.cats = 3;
    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_OK);
    o.scope = SUB, o.name = "server", o.cats = 1;
    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_OK);

    o.scope = V1;
    assert_int_equal(cf_store_read(f->s, list_fn, &o), CF_OK);
    assert_string_equal(o.names, "a:sl:3,b:sl:1");
    o.all = true;
    assert_int_equal(cf_store_read(f->s, list_fn, &o), CF_OK);
    assert_string_equal(o.names, "server:sl:1,a:sl:3,b:sl:1");
    o.all = false;

    o.name = "a";
    assert_int_equal(cf_store_write(f->s, del_fn, &o), CF_OK);
    assert_int_equal(cf_store_write(f->s, del_fn, &o), CF_ENOTFOUND);
    assert_int_equal(cf_store_read(f->s, get_fn, &o), CF_ENOTFOUND);
    /* writes need a write transaction */
    o.name = "b";
    assert_int_equal(cf_store_read(f->s, del_fn, &o), CF_EINVAL);
    o.stream = "";
    assert_int_equal(cf_store_write(f->s, put_fn, &o), CF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_get_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(list_and_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

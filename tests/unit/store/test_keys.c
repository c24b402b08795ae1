/* test_keys.c - store_keys.h on SQLite: key objects (unique per vault case-insensitively),
 * versions with and without the sealed private blob, updates, live/deleted listings with
 * paging, list versions, expiry purge, rotation policies (upsert keeping created, the
 * janitor's walk of rotating policies of live objects), cascades (object purge drops versions
 * and policy; vault delete drops everything) and that writes refuse a read transaction. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "store/sqlite_int.h"
#include "store/store.h"
#include "store/store_keys.h"
#include "store/store_vault.h"

struct fx {
    char dir[64];
    char path[128];
    struct cf_store *s;
    int64_t vid;
};

static cf_err mkvault_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_vault v;

    memset(&v, 0, sizeof(v));
    snprintf(v.name, sizeof(v.name), "KeyVault");
    snprintf(v.subscription, sizeof(v.subscription), "sub");
    snprintf(v.resource_group, sizeof(v.resource_group), "rg");
    snprintf(v.sku, sizeof(v.sku), "standard");
    v.retention_days = 90;
    cf_buf_init(&v.dek, 64);
    cf_err e = cf_buf_append(&v.dek, "wrapped", 7);
    if (!e)
        e = cf_store_vault_insert(t, &v, &f->vid);
    cf_buf_release(&v.dek);
    return e;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts o;
    cf_err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-storek-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    o = (struct cf_store_opts){f->path, 2, 0};
    f->s = cf_store_open_sqlite(&o, &e);
    assert_int_equal(e, CF_OK);
    assert_int_equal(cf_store_write(f->s, mkvault_fn, f), CF_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[200];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    assert_int_equal(cf_store_check(f->s), CF_OK);
    cf_store_close(f->s);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Inserts object `name` with n versions (version i = 32 x hex digit i); returns its id. */
static int64_t put_key(struct cf_store_txn *t, int64_t vid, const char *name, int n,
                       int64_t deleted)
{
    struct cf_rec_key_obj o;
    struct cf_rec_key_ver v;

    memset(&o, 0, sizeof(o));
    o.vault_id = vid;
    snprintf(o.name, sizeof(o.name), "%s", name);
    cf_sq_lower_copy(name, o.name_lc, sizeof(o.name_lc));
    o.latest_seq = n;
    memset(o.latest_version, '0' + n, 32);
    o.deleted_date = deleted;
    o.scheduled_purge = deleted ? deleted + 100 : 0;
    assert_int_equal(cf_store_key_obj_insert(t, &o), CF_OK);
    for (int i = 1; i <= n; i++) {
        memset(&v, 0, sizeof(v));
        cf_buf_init(&v.priv, 1024);
        v.object_id = o.id;
        v.seq = i;
        memset(v.version, '0' + i, 32);
        snprintf(v.kty, sizeof(v.kty), "EC");
        snprintf(v.crv, sizeof(v.crv), "P-256");
        v.key_ops = 0x0c;
        v.created = v.updated = 1000 + i;
        v.enabled = true;
        v.public_jwk = (char *)"{\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"BB\"}";
        assert_int_equal(cf_buf_append(&v.priv, "sealed-blob", 11), CF_OK);
        assert_int_equal(cf_store_key_ver_insert(t, &v), CF_OK);
        cf_buf_release(&v.priv);
    }
    return o.id;
}

/* ---- objects and versions ---- */

static cf_err records_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_key_obj o, dup;
    struct cf_rec_key_ver v;
    int64_t id = put_key(t, f->vid, "MyKey", 3, 0), n = 0;

    /* the name is unique case-insensitively */
    memset(&dup, 0, sizeof(dup));
    dup.vault_id = f->vid;
    snprintf(dup.name, sizeof(dup.name), "MYKEY");
    snprintf(dup.name_lc, sizeof(dup.name_lc), "mykey");
    assert_int_equal(cf_store_key_obj_insert(t, &dup), CF_EEXISTS);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "mykey", &o), CF_OK);
    assert_int_equal(o.id, id);
    assert_string_equal(o.name, "MyKey");
    assert_int_equal(o.latest_seq, 3);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "MyKey", &o), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_obj_get(t, f->vid + 1, "mykey", &o), CF_ENOTFOUND);

    /* by seq without the private part, by version with it */
    assert_int_equal(cf_store_key_ver_get(t, id, 2, NULL, false, &v), CF_OK);
    assert_int_equal(v.seq, 2);
    assert_string_equal(v.kty, "EC");
    assert_string_equal(v.crv, "P-256");
    assert_int_equal(v.key_ops, 0x0c);
    assert_string_equal(v.public_jwk, "{\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"BB\"}");
    assert_null(v.tags_json);
    assert_null(v.release_policy);
    assert_int_equal(v.priv.len, 0);
    cf_rec_key_ver_release(&v);
    assert_int_equal(cf_store_key_ver_get(t, id, 0, "33333333333333333333333333333333", true, &v),
                     CF_OK);
    assert_int_equal(v.seq, 3);
    assert_int_equal(v.priv.len, 11);
    assert_memory_equal(v.priv.data, "sealed-blob", 11);

    /* update rewrites the mutable columns only */
    v.updated = 5000;
    v.enabled = false;
    v.nbf = 10;
    v.exp = 20;
    v.exportable = true;
    v.key_ops = 0x01;
    v.tags_json = strdup("{\"a\":\"b\"}");
    v.release_policy = strdup("{\"data\":\"eyJ9\"}");
    snprintf(v.kty, sizeof(v.kty), "RSA"); /* not an updatable column */
    assert_int_equal(cf_store_key_ver_update(t, &v), CF_OK);
    cf_rec_key_ver_release(&v);
    assert_int_equal(cf_store_key_ver_get(t, id, 3, NULL, false, &v), CF_OK);
    assert_int_equal(v.updated, 5000);
    assert_int_equal(v.created, 1003);
    assert_false(v.enabled);
    assert_true(v.exportable);
    assert_int_equal(v.nbf, 10);
    assert_int_equal(v.exp, 20);
    assert_int_equal(v.key_ops, 0x01);
    assert_string_equal(v.kty, "EC");
    assert_string_equal(v.tags_json, "{\"a\":\"b\"}");
    assert_string_equal(v.release_policy, "{\"data\":\"eyJ9\"}");
    v.seq = 99;
    assert_int_equal(cf_store_key_ver_update(t, &v), CF_ENOTFOUND);
    cf_rec_key_ver_release(&v);
    assert_int_equal(cf_store_key_ver_get(t, id, 9, NULL, false, &v), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_ver_count(t, id, &n), CF_OK);
    assert_int_equal(n, 3);

    /* soft delete through update */
    o.deleted_date = 77;
    o.scheduled_purge = 88;
    assert_int_equal(cf_store_key_obj_update(t, &o), CF_OK);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "mykey", &o), CF_OK);
    assert_int_equal(o.deleted_date, 77);
    o.id = 12345;
    assert_int_equal(cf_store_key_obj_update(t, &o), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_obj_delete(t, 12345), CF_ENOTFOUND);
    return CF_OK;
}

static void test_records(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_write(f->s, records_fn, f), CF_OK);
}

/* ---- lists ---- */

struct names {
    char got[64][200];
    int n;
    int64_t last_seq;
};

static cf_err collect(const struct cf_rec_key_obj *o, const struct cf_rec_key_ver *v, void *arg)
{
    struct names *c = arg;
    if (o)
        snprintf(c->got[c->n], sizeof(c->got[0]), "%s:%lld", o->name, (long long)v->seq);
    else
        snprintf(c->got[c->n], sizeof(c->got[0]), "v%lld", (long long)v->seq);
    c->last_seq = v->seq;
    assert_int_equal(v->priv.len, 0);
    c->n++;
    return CF_OK;
}

static cf_err fill_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    put_key(t, f->vid, "bravo", 2, 0);
    put_key(t, f->vid, "Alpha", 1, 0);
    put_key(t, f->vid, "charlie", 1, 0);
    put_key(t, f->vid, "delta", 1, 50); /* deleted */
    put_key(t, f->vid, "echo", 1, 60);  /* deleted */
    return CF_OK;
}

struct list_arg {
    struct fx *f;
    bool deleted;
    const char *after;
    int max;
    struct names *c;
    bool more;
};

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct list_arg *a = arg;
    return cf_store_key_list(t, a->f->vid, a->deleted, a->after, a->max, collect, a->c, &a->more);
}

static void test_lists(void **state)
{
    struct fx *f = *state;
    struct names c;
    struct list_arg a = {f, false, NULL, 2, &c, false};

    assert_int_equal(cf_store_write(f->s, fill_fn, f), CF_OK);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cf_store_read(f->s, list_fn, &a), CF_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.got[0], "Alpha:1");
    assert_string_equal(c.got[1], "bravo:2"); /* the latest version */
    assert_true(a.more);
    a.after = "bravo";
    memset(&c, 0, sizeof(c));
    assert_int_equal(cf_store_read(f->s, list_fn, &a), CF_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.got[0], "charlie:1");
    assert_false(a.more);
    a = (struct list_arg){f, true, NULL, 25, &c, true};
    memset(&c, 0, sizeof(c));
    assert_int_equal(cf_store_read(f->s, list_fn, &a), CF_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.got[0], "delta:1");
    assert_string_equal(c.got[1], "echo:1");
    assert_false(a.more);
}

struct vers_arg {
    struct fx *f;
    int64_t after;
    struct names *c;
    bool more;
};

static cf_err vers_fn(struct cf_store_txn *t, void *arg)
{
    struct vers_arg *a = arg;
    struct cf_rec_key_obj o;
    cf_err e = cf_store_key_obj_get(t, a->f->vid, "bravo", &o);
    return e ? e : cf_store_key_list_versions(t, o.id, a->after, 1, false, collect, a->c, &a->more);
}

static void test_list_versions(void **state)
{
    struct fx *f = *state;
    struct names c;
    struct vers_arg a = {f, 0, &c, false};

    assert_int_equal(cf_store_write(f->s, fill_fn, f), CF_OK);
    memset(&c, 0, sizeof(c));
    assert_int_equal(cf_store_read(f->s, vers_fn, &a), CF_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.got[0], "v1");
    assert_true(a.more);
    a.after = c.last_seq;
    memset(&c, 0, sizeof(c));
    assert_int_equal(cf_store_read(f->s, vers_fn, &a), CF_OK);
    assert_string_equal(c.got[0], "v2");
    assert_false(a.more);
}

/* ---- purge ---- */

static cf_err purge_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_key_obj o;
    int n = -1;

    assert_int_equal(cf_store_key_purge_expired(t, 149, 10, &n), CF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cf_store_key_purge_expired(t, 150, 10, &n), CF_OK); /* delta: 50 + 100 */
    assert_int_equal(n, 1);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "delta", &o), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "echo", &o), CF_OK);
    assert_int_equal(cf_store_key_purge_expired(t, 1000, 10, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "echo", &o), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "alpha", &o), CF_OK); /* live: kept */
    return CF_OK;
}

static void test_purge_expired(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_write(f->s, fill_fn, f), CF_OK);
    assert_int_equal(cf_store_write(f->s, purge_fn, f), CF_OK);
}

/* ---- rotation policies ---- */

struct pol_walk {
    char names[8][200];
    int n;
    int64_t last;
};

static cf_err pol_cb(const struct cf_rec_key_obj *o, const struct cf_rec_key_policy *p, void *arg)
{
    struct pol_walk *w = arg;
    assert_int_equal(o->id, p->object_id);
    snprintf(w->names[w->n++], sizeof(w->names[0]), "%s:%s", o->name, p->rotate_dur);
    w->last = o->id;
    return CF_OK;
}

static cf_err policy_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    int64_t a = put_key(t, f->vid, "pa", 1, 0), b = put_key(t, f->vid, "pb", 1, 0);
    int64_t c = put_key(t, f->vid, "pc", 1, 0), d = put_key(t, f->vid, "pd", 1, 70);
    struct cf_rec_key_policy p, got;
    struct cf_rec_key_ver v;
    struct pol_walk w;
    bool more = true;

    assert_int_equal(cf_store_key_policy_get(t, a, &got), CF_ENOTFOUND);
    memset(&p, 0, sizeof(p));
    p.object_id = a;
    p.rotate = CF_REC_ROTATE_AFTER_CREATE;
    snprintf(p.rotate_dur, sizeof(p.rotate_dur), "P90D");
    snprintf(p.expiry_time, sizeof(p.expiry_time), "P2Y");
    p.created = p.updated = 100;
    assert_int_equal(cf_store_key_policy_put(t, &p), CF_OK);
    /* replace: created kept, the rest rewritten */
    p.rotate = CF_REC_ROTATE_BEFORE_EXPIRY;
    snprintf(p.rotate_dur, sizeof(p.rotate_dur), "P30D");
    snprintf(p.notify_dur, sizeof(p.notify_dur), "P7D");
    p.expiry_time[0] = '\0';
    p.created = p.updated = 200;
    assert_int_equal(cf_store_key_policy_put(t, &p), CF_OK);
    assert_int_equal(cf_store_key_policy_get(t, a, &got), CF_OK);
    assert_int_equal(got.rotate, CF_REC_ROTATE_BEFORE_EXPIRY);
    assert_string_equal(got.rotate_dur, "P30D");
    assert_string_equal(got.notify_dur, "P7D");
    assert_string_equal(got.expiry_time, "");
    assert_int_equal(got.created, 100);
    assert_int_equal(got.updated, 200);
    /* b: notify only (listed too); c and d rotate, d is deleted */
    memset(&p, 0, sizeof(p));
    p.object_id = b;
    snprintf(p.notify_dur, sizeof(p.notify_dur), "P30D");
    assert_int_equal(cf_store_key_policy_put(t, &p), CF_OK);
    p.object_id = c;
    p.rotate = CF_REC_ROTATE_AFTER_CREATE;
    snprintf(p.rotate_dur, sizeof(p.rotate_dur), "P1D");
    assert_int_equal(cf_store_key_policy_put(t, &p), CF_OK);
    p.object_id = d;
    assert_int_equal(cf_store_key_policy_put(t, &p), CF_OK);

    memset(&w, 0, sizeof(w));
    assert_int_equal(cf_store_key_policy_list_rotating(t, 0, 1, pol_cb, &w, &more), CF_OK);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.names[0], "pa:P30D");
    assert_true(more);
    assert_int_equal(cf_store_key_policy_list_rotating(t, w.last, 5, pol_cb, &w, &more), CF_OK);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.names[1], "pb:"); /* Notify only: listed so its KeyNearExpiry fires */
    assert_string_equal(w.names[2], "pc:P1D");
    assert_false(more);

    /* purging an object drops its versions and its policy */
    assert_int_equal(cf_store_key_obj_delete(t, c), CF_OK);
    assert_int_equal(cf_store_key_policy_get(t, c, &got), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_ver_get(t, c, 1, NULL, false, &v), CF_ENOTFOUND);
    return CF_OK;
}

static void test_policies(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_write(f->s, policy_fn, f), CF_OK);
}

/* ---- cascade and read-only ---- */

static cf_err vault_gone_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_key_obj o;
    int64_t id = put_key(t, f->vid, "k", 2, 0);
    struct cf_rec_key_policy p = {.object_id = id, .rotate = 1, .rotate_dur = "P1D"};
    struct cf_rec_key_ver v;

    assert_int_equal(cf_store_key_policy_put(t, &p), CF_OK);
    assert_int_equal(cf_store_vault_delete(t, f->vid), CF_OK);
    assert_int_equal(cf_store_key_obj_get(t, f->vid, "k", &o), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_ver_get(t, id, 1, NULL, false, &v), CF_ENOTFOUND);
    assert_int_equal(cf_store_key_policy_get(t, id, &p), CF_ENOTFOUND);
    return CF_OK;
}

static cf_err readonly_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_key_obj o = {.vault_id = f->vid, .name = "x", .name_lc = "x"};
    struct cf_rec_key_ver v;
    struct cf_rec_key_policy p = {.object_id = 1};
    int n;

    memset(&v, 0, sizeof(v));
    assert_int_equal(cf_store_key_obj_insert(t, &o), CF_EINVAL);
    assert_int_equal(cf_store_key_obj_update(t, &o), CF_EINVAL);
    assert_int_equal(cf_store_key_obj_delete(t, 1), CF_EINVAL);
    assert_int_equal(cf_store_key_ver_insert(t, &v), CF_EINVAL);
    assert_int_equal(cf_store_key_ver_update(t, &v), CF_EINVAL);
    assert_int_equal(cf_store_key_policy_put(t, &p), CF_EINVAL);
    assert_int_equal(cf_store_key_purge_expired(t, 1, 1, &n), CF_EINVAL);
    return CF_OK;
}

static void test_cascade_and_readonly(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_read(f->s, readonly_fn, f), CF_OK);
    assert_int_equal(cf_store_write(f->s, vault_gone_fn, f), CF_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cascade_and_readonly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

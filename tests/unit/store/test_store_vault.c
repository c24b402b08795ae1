/* test_store_vault.c - store_vault.h records on SQLite: groups, vaults (name unique case-
 * insensitively, live or deleted), cascade on vault delete, secret objects and versions, and
 * that listing live or deleted names walks the (vault_id, deleted, name_lc) index in order
 * (query plan checked, and correct paging with 20k deleted objects around the live ones). */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "store/sqlite_int.h"
#include "store/store.h"
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
    snprintf(v.name, sizeof(v.name), "MyVault");
    snprintf(v.subscription, sizeof(v.subscription), "sub");
    snprintf(v.resource_group, sizeof(v.resource_group), "RG");
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

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-storev-XXXXXX");
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
    cf_store_close(f->s);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- vaults ---- */

static cf_err vault_rules_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_vault v, got;
    int64_t id;

    memset(&v, 0, sizeof(v));
    cf_buf_init(&v.dek, 64);
    snprintf(v.name, sizeof(v.name), "MYVAULT");
    snprintf(v.subscription, sizeof(v.subscription), "other");
    snprintf(v.resource_group, sizeof(v.resource_group), "rg");
    /* names are unique case-insensitively */
    assert_int_equal(cf_store_vault_insert(t, &v, &id), CF_EEXISTS);
    assert_int_equal(cf_store_vault_get_by_name(t, "myvault", &got), CF_OK);
    assert_int_equal(got.id, f->vid);
    assert_string_equal(got.name, "MyVault");
    assert_string_equal(got.tags_json, "{}");
    assert_string_equal(got.access_policies_json, "[]");
    assert_null(got.network_acls_json);
    assert_int_equal(got.dek.len, 7);
    assert_memory_equal(got.dek.data, "wrapped", 7);
    /* soft delete via update, then listed as deleted only */
    got.deleted_date = 100;
    got.scheduled_purge = 200;
    assert_int_equal(cf_store_vault_update(t, &got), CF_OK);
    cf_rec_vault_release(&got);
    assert_int_equal(cf_store_vault_get_by_id(t, f->vid, &got), CF_OK);
    assert_int_equal(got.deleted_date, 100);
    cf_rec_vault_release(&got);
    int64_t ids[4];
    char names[4][25];
    size_t n = 9;
    assert_int_equal(cf_store_vault_expired(t, 199, ids, names, 4, &n), CF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cf_store_vault_expired(t, 200, ids, names, 4, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], f->vid);
    assert_string_equal(names[0], "MyVault");
    assert_int_equal(cf_store_vault_get_by_id(t, 999, &got), CF_ENOTFOUND);
    assert_int_equal(cf_store_vault_delete(t, 999), CF_ENOTFOUND);
    got.id = 999;
    assert_int_equal(cf_store_vault_update(t, &got), CF_ENOTFOUND);
    return CF_OK;
}

static void test_vault_records(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_write(f->s, vault_rules_fn, f), CF_OK);
}

/* ---- groups ---- */

static cf_err group_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_rec_group g, got;
    bool created = false;
    (void)arg;

    memset(&g, 0, sizeof(g));
    snprintf(g.subscription, sizeof(g.subscription), "sub");
    snprintf(g.name, sizeof(g.name), "My-Group");
    snprintf(g.location, sizeof(g.location), "west");
    g.created = 5;
    assert_int_equal(cf_store_group_put(t, &g, &created), CF_OK);
    assert_true(created);
    snprintf(g.name, sizeof(g.name), "MY-GROUP");
    snprintf(g.location, sizeof(g.location), "east");
    g.tags_json = "{\"x\":\"y\"}";
    g.created = 6;
    assert_int_equal(cf_store_group_put(t, &g, &created), CF_OK);
    assert_false(created);
    assert_int_equal(cf_store_group_get(t, "sub", "my-group", &got), CF_OK);
    assert_string_equal(got.name, "My-Group");
    assert_string_equal(got.location, "east");
    assert_string_equal(got.tags_json, "{\"x\":\"y\"}");
    assert_int_equal(got.created, 5);
    cf_rec_group_release(&got);
    assert_int_equal(cf_store_group_get(t, "other", "my-group", &got), CF_ENOTFOUND);
    assert_int_equal(cf_store_group_delete(t, "sub", "my-group"), CF_OK);
    assert_int_equal(cf_store_group_delete(t, "sub", "my-group"), CF_ENOTFOUND);
    return CF_OK;
}

static void test_groups(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_write(f->s, group_fn, NULL), CF_OK);
}

/* ---- secrets and the listing index ---- */

#define NDELETED 20000
#define NLIVE 30

static cf_err fill_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_secret_obj o;
    struct cf_rec_secret_ver v;
    cf_err e = CF_OK;

    memset(&v, 0, sizeof(v));
    cf_buf_init(&v.value, 64);
    e = cf_buf_append(&v.value, "sealed-bytes", 12);
    for (int i = 0; !e && i < NDELETED + NLIVE; i++) {
        bool live =
            i % ((NDELETED + NLIVE) / NLIVE) == 0 && i / ((NDELETED + NLIVE) / NLIVE) < NLIVE;
        memset(&o, 0, sizeof(o));
        o.vault_id = f->vid;
        snprintf(o.name, sizeof(o.name), "N-%06d", i);
        snprintf(o.name_lc, sizeof(o.name_lc), "n-%06d", i);
        snprintf(o.latest_version, sizeof(o.latest_version), "%032x", i);
        o.latest_seq = 1;
        if (!live) {
            o.deleted_date = 1000;
            o.scheduled_purge = 2000 + i;
        }
        e = cf_store_secret_obj_insert(t, &o);
        if (e)
            break;
        v.object_id = o.id;
        v.seq = 1;
        memcpy(v.version, o.latest_version, sizeof(v.version));
        v.enabled = true;
        e = cf_store_secret_ver_insert(t, &v);
    }
    cf_buf_release(&v.value);
    return e;
}

struct walk {
    char last[CF_MAX_NAME_LEN + 1];
    int n;
    bool sorted;
};

static cf_err walk_cb(const struct cf_rec_secret_obj *o, const struct cf_rec_secret_ver *v,
                      void *arg)
{
    struct walk *w = arg;
    if (strcmp(o->name_lc, w->last) <= 0)
        w->sorted = false;
    assert_string_equal(o->latest_version, v->version);
    assert_int_equal(v->value.len, 0); /* lists never carry values */
    memcpy(w->last, o->name_lc, sizeof(w->last));
    w->n++;
    return CF_OK;
}

struct list_arg {
    struct fx *f;
    bool deleted;
    struct walk w;
    int pages;
};

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct list_arg *a = arg;
    bool more = true;
    cf_err e = CF_OK;

    while (more && !e) {
        char after[CF_MAX_NAME_LEN + 1];
        memcpy(after, a->w.last, sizeof(after));
        e = cf_store_secret_list(t, a->f->vid, a->deleted, after, 25, walk_cb, &a->w, &more);
        a->pages++;
    }
    return e;
}

#define PICK_SQL(id, sql)                                                                          \
    if (which == CF_SQ_##id)                                                                       \
        return sql;
static const char *sql_of(enum cf_sq_id which)
{
    CF_SQL_TABLE(PICK_SQL)
    return NULL;
}

static void plan_of(const char *db_path, enum cf_sq_id which, char *out, size_t outsz)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[2048];
    size_t used = 0;

    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sql_of(which));
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        int n = snprintf(out + used, outsz - used, "%s; ", sqlite3_column_text(st, 3));
        if (n > 0 && (size_t)n < outsz - used)
            used += (size_t)n;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_list_index(void **state)
{
    struct fx *f = *state;
    struct list_arg a;
    char plan[1024];

    assert_int_equal(cf_store_write(f->s, fill_fn, f), CF_OK);

    memset(&a, 0, sizeof(a));
    a.f = f;
    a.w.sorted = true;
    assert_int_equal(cf_store_read(f->s, list_fn, &a), CF_OK);
    assert_int_equal(a.w.n, NLIVE);
    assert_true(a.w.sorted);
    assert_int_equal(a.pages, 2);

    memset(&a, 0, sizeof(a));
    a.f = f;
    a.deleted = true;
    a.w.sorted = true;
    assert_int_equal(cf_store_read(f->s, list_fn, &a), CF_OK);
    assert_int_equal(a.w.n, NDELETED);
    assert_true(a.w.sorted);

    /* the listing is an index range scan in name order: no full scan, no sort */
    plan_of(f->path, CF_SQ_OBJ_LIST, plan, sizeof(plan));
    print_message("list plan: %s\n", plan);
    assert_non_null(strstr(plan, "secret_objects_by_state"));
    assert_null(strstr(plan, "TEMP B-TREE"));
    plan_of(f->path, CF_SQ_VER_LIST, plan, sizeof(plan));
    print_message("versions plan: %s\n", plan);
    assert_null(strstr(plan, "TEMP B-TREE"));
    assert_null(strstr(plan, "SCAN"));
    plan_of(f->path, CF_SQ_OBJ_EXPIRED, plan, sizeof(plan));
    print_message("expired plan: %s\n", plan);
    assert_non_null(strstr(plan, "secret_objects_by_purge"));
}

static cf_err purge_expired_fn(struct cf_store_txn *t, void *arg)
{
    int *n = arg;
    cf_err e = cf_store_secret_purge_expired(t, 2000 + 99, 1000, n);
    return e;
}

struct count {
    int64_t vid;
    int n;
};

static cf_err count_cb(const struct cf_rec_secret_obj *o, const struct cf_rec_secret_ver *v,
                       void *arg)
{
    (void)o;
    (void)v;
    ((struct count *)arg)->n++;
    return CF_OK;
}

static cf_err cascade_fn(struct cf_store_txn *t, void *arg)
{
    struct count *c = arg;
    bool more;
    cf_err e = cf_store_vault_delete(t, c->vid);
    if (!e)
        e = cf_store_secret_list(t, c->vid, false, "", 25, count_cb, c, &more);
    return e;
}

static void test_purge_and_cascade(void **state)
{
    struct fx *f = *state;
    struct count c = {f->vid, 0};
    int n = -1;

    assert_int_equal(cf_store_write(f->s, fill_fn, f), CF_OK);
    assert_int_equal(cf_store_write(f->s, purge_expired_fn, &n), CF_OK);
    /* deleted objects with scheduled_purge 2000+i <= 2099, live ones (i % 667 == 0) excluded */
    assert_int_equal(n, 99);
    assert_int_equal(cf_store_write(f->s, cascade_fn, &c), CF_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(cf_store_check(f->s), CF_OK); /* no dangling versions */
}

/* ---- object updates: a new version takes the narrow statement (latest columns only), a
 * delete or a recover the full one (sqlite_obj.c); each leaves the state indexes right ---- */

static int list_count(struct cf_store_txn *t, int64_t vid, bool deleted)
{
    struct count c = {vid, 0};
    bool more;
    assert_int_equal(cf_store_secret_list(t, vid, deleted, "", 25, count_cb, &c, &more), CF_OK);
    return c.n;
}

static cf_err obj_update_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_secret_obj o, got;
    struct cf_rec_secret_ver v;
    int n = -1;

    memset(&o, 0, sizeof(o));
    memset(&v, 0, sizeof(v));
    cf_buf_init(&v.value, 64);
    assert_int_equal(cf_buf_append(&v.value, "sealed", 6), CF_OK);
    o.vault_id = f->vid;
    snprintf(o.name, sizeof(o.name), "Upd");
    snprintf(o.name_lc, sizeof(o.name_lc), "upd");
    for (int seq = 1; seq <= 3; seq++) {
        v.seq = seq;
        snprintf(v.version, sizeof(v.version), "%032x", seq);
        v.enabled = true;
        o.latest_seq = seq;
        memcpy(o.latest_version, v.version, sizeof(o.latest_version));
        if (seq == 1)
            assert_int_equal(cf_store_secret_obj_insert(t, &o), CF_OK);
        else /* live and staying live: the narrow update */
            assert_int_equal(cf_store_secret_obj_update(t, &o), CF_OK);
        v.object_id = o.id;
        assert_int_equal(cf_store_secret_ver_insert(t, &v), CF_OK);
    }
    assert_int_equal(cf_store_secret_obj_get(t, f->vid, "upd", &got), CF_OK);
    assert_int_equal(got.latest_seq, 3);
    assert_string_equal(got.latest_version, v.version);
    assert_int_equal(list_count(t, f->vid, false), 1);

    /* soft delete: the full update, the object moves to the deleted listing and purge index */
    o.deleted_date = 1000;
    o.scheduled_purge = 5000;
    assert_int_equal(cf_store_secret_obj_update(t, &o), CF_OK);
    assert_int_equal(cf_store_secret_obj_get(t, f->vid, "upd", &got), CF_OK);
    assert_int_equal(got.deleted_date, 1000);
    assert_int_equal(got.scheduled_purge, 5000);
    assert_int_equal(list_count(t, f->vid, false), 0);
    assert_int_equal(list_count(t, f->vid, true), 1);

    /* recover: the record says live, the row does not - the narrow statement matches nothing
     * and the full update brings it back */
    o.deleted_date = 0;
    o.scheduled_purge = 0;
    assert_int_equal(cf_store_secret_obj_update(t, &o), CF_OK);
    assert_int_equal(cf_store_secret_obj_get(t, f->vid, "upd", &got), CF_OK);
    assert_int_equal(got.deleted_date, 0);
    assert_int_equal(got.scheduled_purge, 0);
    assert_int_equal(got.latest_seq, 3);
    assert_int_equal(list_count(t, f->vid, false), 1);
    assert_int_equal(list_count(t, f->vid, true), 0);
    /* the recovered object is no longer due for purge */
    assert_int_equal(cf_store_secret_purge_expired(t, 99999, 10, &n), CF_OK);
    assert_int_equal(n, 0);

    /* a new version after the recover is narrow again */
    o.latest_seq = 4;
    snprintf(o.latest_version, sizeof(o.latest_version), "%032x", 4);
    assert_int_equal(cf_store_secret_obj_update(t, &o), CF_OK);
    assert_int_equal(cf_store_secret_obj_get(t, f->vid, "upd", &got), CF_OK);
    assert_int_equal(got.latest_seq, 4);

    /* a row that does not exist: not found on either path */
    o.id = 424242;
    assert_int_equal(cf_store_secret_obj_update(t, &o), CF_ENOTFOUND);
    o.deleted_date = 1;
    assert_int_equal(cf_store_secret_obj_update(t, &o), CF_ENOTFOUND);
    cf_buf_release(&v.value);
    return CF_OK;
}

static void test_obj_update_paths(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_write(f->s, obj_update_fn, f), CF_OK);
    assert_int_equal(cf_store_check(f->s), CF_OK); /* the indexes agree with the table */
}

/* ---- migration 10: the version index leads with the version ---- */

struct mig {
    struct fx *f;
    int64_t oid[2];
    cf_err dup;   /* inserting an existing (object, version) again */
    cf_err other; /* the same version string under another object */
};

static cf_err mig_fill_fn(struct cf_store_txn *t, void *arg)
{
    struct mig *m = arg;
    struct cf_rec_secret_obj o;
    struct cf_rec_secret_ver v;
    cf_err e = CF_OK;

    memset(&v, 0, sizeof(v));
    cf_buf_init(&v.value, 64);
    e = cf_buf_append(&v.value, "sealed", 6);
    for (int k = 0; !e && k < 2; k++) {
        memset(&o, 0, sizeof(o));
        o.vault_id = m->f->vid;
        snprintf(o.name, sizeof(o.name), "Mig%d", k);
        snprintf(o.name_lc, sizeof(o.name_lc), "mig%d", k);
        o.latest_seq = 3;
        snprintf(o.latest_version, sizeof(o.latest_version), "%032x", 3);
        e = cf_store_secret_obj_insert(t, &o);
        m->oid[k] = o.id;
        for (int i = 1; !e && i <= 3; i++) {
            v.object_id = o.id;
            v.seq = i;
            /* legacy-looking ids (not time-ordered); object 1 reuses object 0's */
            snprintf(v.version, sizeof(v.version), "%032x", i == 2 ? 0xfeed : i);
            v.enabled = true;
            e = cf_store_secret_ver_insert(t, &v);
        }
    }
    cf_buf_release(&v.value);
    return e;
}

static cf_err mig_check_fn(struct cf_store_txn *t, void *arg)
{
    struct mig *m = arg;
    struct cf_rec_secret_ver v;
    char ver[CF_VERSION_HEX_LEN + 1];
    cf_err e;

    memset(&v, 0, sizeof(v));
    cf_buf_init(&v.value, 64);
    snprintf(ver, sizeof(ver), "%032x", 0xfeed);
    e = cf_store_secret_ver_get(t, m->oid[1], 0, ver, true, &v);
    if (!e && (v.seq != 2 || v.object_id != m->oid[1] || v.value.len != 6))
        e = CF_EINTERNAL;
    cf_rec_secret_ver_release(&v); /* a get overwrites the record it fills */
    if (!e)
        e = cf_store_secret_ver_get(t, m->oid[0], 3, NULL, false, &v);
    if (!e && strcmp(v.version, "00000000000000000000000000000003") != 0)
        e = CF_EINTERNAL;
    if (!e && t->writable)
        e = cf_buf_append(&v.value, "sealed", 6);
    if (!e && t->writable) {
        v.object_id = m->oid[0];
        v.seq = 4;
        snprintf(v.version, sizeof(v.version), "%032x", 0xfeed);
        m->dup = cf_store_secret_ver_insert(t, &v);
        v.object_id = m->oid[1];
        v.seq = 4;
        snprintf(v.version, sizeof(v.version), "%032x", 0xbeef);
        m->other = cf_store_secret_ver_insert(t, &v);
    }
    cf_rec_secret_ver_release(&v);
    return e;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_message("sql: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

static void test_version_index_migration(void **state)
{
    struct fx *f = *state;
    struct cf_store_opts o = {f->path, 2, 0};
    struct mig m = {f, {0, 0}, CF_OK, CF_OK};
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char plan[1024];
    cf_err e;

    assert_int_equal(cf_store_write(f->s, mig_fill_fn, &m), CF_OK);
    cf_store_close(f->s);
    /* back to the schema-9 layout: the unique version index led by the object */
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    exec_ok(db, "BEGIN;"
                "CREATE TABLE old_v(id INTEGER PRIMARY KEY,"
                " object_id INTEGER NOT NULL REFERENCES secret_objects(id) ON DELETE CASCADE,"
                " seq INTEGER NOT NULL, version TEXT NOT NULL, prev_version TEXT NOT NULL,"
                " created INTEGER NOT NULL, updated INTEGER NOT NULL, enabled INTEGER NOT NULL,"
                " nbf INTEGER NOT NULL, exp INTEGER NOT NULL, content_type TEXT, tags_json TEXT,"
                " managed INTEGER NOT NULL, kid TEXT NOT NULL, value BLOB NOT NULL,"
                " UNIQUE(object_id, seq), UNIQUE(object_id, version));"
                "INSERT INTO old_v SELECT * FROM secret_versions;"
                "DROP TABLE secret_versions;"
                "ALTER TABLE old_v RENAME TO secret_versions;"
                "UPDATE schema_version SET version=9;"
                "COMMIT;");
    sqlite3_close(db);

    f->s = cf_store_open_sqlite(&o, &e); /* migrates to 10 */
    assert_int_equal(e, CF_OK);
    assert_int_equal(cf_store_read(f->s, mig_check_fn, &m), CF_OK);
    assert_int_equal(cf_store_write(f->s, mig_check_fn, &m), CF_OK);
    assert_int_equal(m.dup, CF_EEXISTS); /* still unique per object */
    assert_int_equal(m.other, CF_OK);    /* and only per object */
    assert_int_equal(cf_store_check(f->s), CF_OK);

    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='secret_versions'", -1,
                           &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 0), "UNIQUE(version, object_id)"));
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM secret_versions", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 7); /* 6 carried over + 1 new */
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* a lookup by version is an index search, not a scan */
    plan_of(f->path, CF_SQ_VER_BY_VERSION, plan, sizeof(plan));
    print_message("by-version plan: %s\n", plan);
    assert_non_null(strstr(plan, "SEARCH"));
    assert_null(strstr(plan, "SCAN"));
}

/* ---- the managed flag alone (the set path's certificate check) ---- */

struct managed_arg {
    struct fx *f;
    int64_t oid;
    cf_err absent_seq, absent_obj;
    bool m[3];
};

static cf_err managed_fill_fn(struct cf_store_txn *t, void *arg)
{
    struct managed_arg *a = arg;
    struct cf_rec_secret_obj o;
    struct cf_rec_secret_ver v;
    cf_err e;

    memset(&o, 0, sizeof(o));
    memset(&v, 0, sizeof(v));
    o.vault_id = a->f->vid;
    snprintf(o.name, sizeof(o.name), "Cert-Secret");
    snprintf(o.name_lc, sizeof(o.name_lc), "cert-secret");
    snprintf(o.latest_version, sizeof(o.latest_version), "%032x", 2);
    o.latest_seq = 2;
    e = cf_store_secret_obj_insert(t, &o);
    cf_buf_init(&v.value, 64);
    if (!e)
        e = cf_buf_append(&v.value, "sealed", 6);
    for (int seq = 1; !e && seq <= 2; seq++) {
        v.object_id = o.id;
        v.seq = seq;
        snprintf(v.version, sizeof(v.version), "%032x", seq);
        v.enabled = true;
        v.managed = seq == 2; /* only the latest is a certificate's */
        e = cf_store_secret_ver_insert(t, &v);
    }
    cf_buf_release(&v.value);
    a->oid = o.id;
    return e;
}

static cf_err managed_read_fn(struct cf_store_txn *t, void *arg)
{
    struct managed_arg *a = arg;
    bool junk = true;
    cf_err e = cf_store_secret_ver_managed(t, a->oid, 1, &a->m[1]);

    if (!e)
        e = cf_store_secret_ver_managed(t, a->oid, 2, &a->m[2]);
    a->absent_seq = cf_store_secret_ver_managed(t, a->oid, 3, &junk);
    a->m[0] = junk; /* cleared on CF_ENOTFOUND */
    a->absent_obj = cf_store_secret_ver_managed(t, a->oid + 1000, 1, &junk);
    return e;
}

/* The object read that carries its latest version's flag: the same record as obj_get, the flag
 * of whichever version is latest, false when that version is absent, ENOTFOUND by name. */
static cf_err obj_managed_fn(struct cf_store_txn *t, void *arg)
{
    struct managed_arg *a = arg;
    struct cf_rec_secret_obj o, plain;
    bool m = false;
    cf_err e = cf_store_secret_obj_get_managed(t, a->f->vid, "cert-secret", &o, &m);

    assert_int_equal(e, CF_OK);
    assert_int_equal(cf_store_secret_obj_get(t, a->f->vid, "cert-secret", &plain), CF_OK);
    assert_memory_equal(&o, &plain, sizeof(o));
    assert_true(m); /* latest_seq 2 is managed */
    o.latest_seq = 1;
    assert_int_equal(cf_store_secret_obj_update(t, &o), CF_OK);
    assert_int_equal(cf_store_secret_obj_get_managed(t, a->f->vid, "cert-secret", &o, &m), CF_OK);
    assert_false(m);
    assert_int_equal(o.latest_seq, 1);
    o.latest_seq = 7; /* no such version */
    assert_int_equal(cf_store_secret_obj_update(t, &o), CF_OK);
    m = true;
    assert_int_equal(cf_store_secret_obj_get_managed(t, a->f->vid, "cert-secret", &o, &m), CF_OK);
    assert_false(m);
    m = true;
    assert_int_equal(cf_store_secret_obj_get_managed(t, a->f->vid, "no-such", &o, &m),
                     CF_ENOTFOUND);
    assert_false(m);
    assert_int_equal(cf_store_secret_obj_get_managed(t, a->f->vid + 1, "cert-secret", &o, &m),
                     CF_ENOTFOUND);
    return CF_OK;
}

static void test_ver_managed(void **state)
{
    struct fx *f = *state;
    struct managed_arg a;
    char plan[1024];

    memset(&a, 0, sizeof(a));
    a.f = f;
    assert_int_equal(cf_store_write(f->s, managed_fill_fn, &a), CF_OK);
    a.m[1] = true;
    a.m[2] = false;
    assert_int_equal(cf_store_read(f->s, managed_read_fn, &a), CF_OK);
    assert_false(a.m[1]);
    assert_true(a.m[2]);
    assert_false(a.m[0]);
    assert_int_equal(a.absent_seq, CF_ENOTFOUND);
    assert_int_equal(a.absent_obj, CF_ENOTFOUND);
    /* the same answer inside a write (the writer's set_fn asks there) */
    a.m[1] = true;
    a.m[2] = false;
    assert_int_equal(cf_store_write(f->s, managed_read_fn, &a), CF_OK);
    assert_false(a.m[1]);
    assert_true(a.m[2]);
    assert_int_equal(cf_store_write(f->s, obj_managed_fn, &a), CF_OK);
    plan_of(f->path, CF_SQ_OBJ_GET_MANAGED, plan, sizeof(plan));
    print_message("object+managed plan: %s\n", plan);
    assert_null(strstr(plan, "SCAN"));
    /* one index lookup on (object_id, seq), never a scan */
    plan_of(f->path, CF_SQ_VER_MANAGED, plan, sizeof(plan));
    print_message("managed plan: %s\n", plan);
    assert_non_null(strstr(plan, "SEARCH"));
    assert_null(strstr(plan, "SCAN"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_vault_records),     T(test_groups),           T(test_list_index),
        T(test_purge_and_cascade), T(test_obj_update_paths), T(test_version_index_migration),
        T(test_ver_managed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

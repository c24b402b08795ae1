/* test_identities.c - the directory part of store_auth.h on SQLite: applications (insert,
 * duplicates, lookups by object id and client id, tenant confinement, rename, delete, list),
 * principals by object id and delete, credentials (both kinds, DER blob round trip, delete one
 * and by kind), directory groups and members (duplicates, members, memberOf, purge, cascade on
 * group delete), writes refused in a read transaction, and the migration of a database made
 * before identities existed (its principal's secret_hash becomes a password credential). */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_auth.h"

#define T1 "11111111-1111-4111-8111-111111111111"
#define APP1 "a0000000-0000-4000-8000-000000000001"
#define CID1 "c0000000-0000-4000-8000-000000000001"
#define SP1 "50000000-0000-4000-8000-000000000001"
#define G1 "60000000-0000-4000-8000-000000000001"
#define G2 "60000000-0000-4000-8000-000000000002"

struct fx {
    char dir[64];
    char path[128];
    struct cf_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts o = {0};
    cf_err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-sident-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    o.path = f->path;
    f->s = cf_store_open_sqlite(&o, &e);
    assert_non_null(f->s);
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

static cf_err count_app(const struct cf_rec_app *a, void *arg)
{
    (void)a;
    (*(int *)arg)++;
    return CF_OK;
}

struct creds_seen {
    int n, keys;
    size_t cert_len;
    unsigned char first_byte;
    char hash[160];
};

static cf_err cred_cb(const struct cf_rec_cred *c, void *arg)
{
    struct creds_seen *s = arg;
    s->n++;
    if (c->kind == CF_CRED_KEY) {
        s->keys++;
        s->cert_len = c->cert_len;
        s->first_byte = c->cert ? c->cert[0] : 0;
    } else {
        snprintf(s->hash, sizeof(s->hash), "%s", c->secret_hash);
    }
    return CF_OK;
}

static cf_err member_cb(const char *g, const char *m, const char *type, void *arg)
{
    (void)g;
    (void)m;
    (void)type;
    (*(int *)arg)++;
    return CF_OK;
}

static void put_principal(struct cf_store_txn *t)
{
    struct cf_rec_principal p;
    memset(&p, 0, sizeof(p));
    snprintf(p.tenant_id, sizeof(p.tenant_id), T1);
    snprintf(p.client_id, sizeof(p.client_id), CID1);
    snprintf(p.object_id, sizeof(p.object_id), SP1);
    snprintf(p.display_name, sizeof(p.display_name), "one");
    p.enabled = true;
    p.generation = 1;
    assert_int_equal(cf_store_principal_put(t, &p), CF_OK);
}

static cf_err write_all(struct cf_store_txn *t, void *arg)
{
    struct cf_rec_app a, got;
    struct cf_rec_cred c;
    struct cf_rec_dir_group g, gg;
    struct cf_rec_principal p;
    struct creds_seen seen;
    unsigned char der[] = {0x30, 0x82, 0x01, 0x00, 0x00, 0x7f};
    size_t n = 0;
    int cnt = 0;

    (void)arg;
    memset(&a, 0, sizeof(a));
    snprintf(a.object_id, sizeof(a.object_id), APP1);
    snprintf(a.tenant_id, sizeof(a.tenant_id), T1);
    snprintf(a.client_id, sizeof(a.client_id), CID1);
    snprintf(a.display_name, sizeof(a.display_name), "one");
    a.created = 5;
    assert_int_equal(cf_store_app_insert(t, &a), CF_OK);
    assert_int_equal(cf_store_app_insert(t, &a), CF_EEXISTS);
    snprintf(a.object_id, sizeof(a.object_id), "a0000000-0000-4000-8000-000000000009");
    assert_int_equal(cf_store_app_insert(t, &a), CF_EEXISTS); /* same client id */
    assert_int_equal(cf_store_app_get(t, T1, APP1, &got), CF_OK);
    assert_string_equal(got.client_id, CID1);
    assert_int_equal(got.created, 5);
    assert_int_equal(cf_store_app_get(t, "other", APP1, &got), CF_ENOTFOUND);
    assert_int_equal(cf_store_app_get_by_client(t, T1, CID1, &got), CF_OK);
    assert_int_equal(cf_store_app_rename(t, T1, APP1, "uno"), CF_OK);
    assert_int_equal(cf_store_app_get(t, T1, APP1, &got), CF_OK);
    assert_string_equal(got.display_name, "uno");
    assert_int_equal(cf_store_app_list(t, T1, count_app, &cnt), CF_OK);
    assert_int_equal(cnt, 1);

    put_principal(t);
    assert_int_equal(cf_store_principal_get_by_oid(t, T1, SP1, &p), CF_OK);
    assert_string_equal(p.client_id, CID1);
    assert_int_equal(cf_store_principal_get_by_oid(t, "other", SP1, &p), CF_ENOTFOUND);

    memset(&c, 0, sizeof(c));
    snprintf(c.tenant_id, sizeof(c.tenant_id), T1);
    snprintf(c.client_id, sizeof(c.client_id), CID1);
    snprintf(c.key_id, sizeof(c.key_id), "k0000000-0000-4000-8000-000000000001");
    c.kind = CF_CRED_PASSWORD;
    snprintf(c.secret_hash, sizeof(c.secret_hash), "pbkdf2-sha256$1000$x$y");
    c.end = 100;
    assert_int_equal(cf_store_cred_insert(t, &c), CF_OK);
    assert_int_equal(cf_store_cred_insert(t, &c), CF_EEXISTS);
    snprintf(c.key_id, sizeof(c.key_id), "k0000000-0000-4000-8000-000000000002");
    c.kind = CF_CRED_KEY;
    c.secret_hash[0] = '\0';
    c.cert = der;
    c.cert_len = sizeof(der);
    snprintf(c.thumb_sha1, sizeof(c.thumb_sha1), "AB");
    assert_int_equal(cf_store_cred_insert(t, &c), CF_OK);
    c.kind = 7;
    assert_int_equal(cf_store_cred_insert(t, &c), CF_EINVAL);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(cf_store_cred_list(t, T1, CID1, cred_cb, &seen), CF_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.keys, 1);
    assert_int_equal(seen.cert_len, sizeof(der));
    assert_int_equal(seen.first_byte, 0x30);
    assert_string_equal(seen.hash, "pbkdf2-sha256$1000$x$y");
    assert_int_equal(cf_store_cred_delete_all(t, T1, CID1, CF_CRED_KEY, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cf_store_cred_delete(t, T1, CID1, "k0000000-0000-4000-8000-000000000002"),
                     CF_ENOTFOUND);
    assert_int_equal(cf_store_cred_delete(t, T1, CID1, "k0000000-0000-4000-8000-000000000001"),
                     CF_OK);

    memset(&g, 0, sizeof(g));
    snprintf(g.object_id, sizeof(g.object_id), G1);
    snprintf(g.tenant_id, sizeof(g.tenant_id), T1);
    snprintf(g.display_name, sizeof(g.display_name), "Zeta");
    assert_int_equal(cf_store_dir_group_insert(t, &g), CF_OK);
    assert_int_equal(cf_store_dir_group_insert(t, &g), CF_EEXISTS);
    snprintf(g.object_id, sizeof(g.object_id), G2);
    snprintf(g.display_name, sizeof(g.display_name), "alpha");
    assert_int_equal(cf_store_dir_group_insert(t, &g), CF_OK);
    assert_int_equal(cf_store_dir_group_get(t, T1, G1, &gg), CF_OK);
    assert_string_equal(gg.display_name, "Zeta");
    assert_int_equal(cf_store_dir_member_add(t, G1, SP1, "servicePrincipal"), CF_OK);
    assert_int_equal(cf_store_dir_member_add(t, G1, SP1, "servicePrincipal"), CF_EEXISTS);
    assert_int_equal(cf_store_dir_member_add(t, G2, SP1, "servicePrincipal"), CF_OK);
    assert_int_equal(cf_store_dir_member_add(t, G1, G2, "group"), CF_OK);
    cnt = 0;
    assert_int_equal(cf_store_dir_member_of(t, SP1, member_cb, &cnt), CF_OK);
    assert_int_equal(cnt, 2);
    cnt = 0;
    assert_int_equal(cf_store_dir_members(t, G1, member_cb, &cnt), CF_OK);
    assert_int_equal(cnt, 2);
    assert_int_equal(cf_store_dir_member_remove(t, G2, SP1), CF_OK);
    assert_int_equal(cf_store_dir_member_remove(t, G2, SP1), CF_ENOTFOUND);
    /* deleting G2 removes it from G1 too */
    assert_int_equal(cf_store_dir_group_delete(t, T1, G2), CF_OK);
    cnt = 0;
    assert_int_equal(cf_store_dir_members(t, G1, member_cb, &cnt), CF_OK);
    assert_int_equal(cnt, 1);
    /* deleting G1 cascades its member rows */
    assert_int_equal(cf_store_dir_group_delete(t, T1, G1), CF_OK);
    cnt = 0;
    assert_int_equal(cf_store_dir_member_of(t, SP1, member_cb, &cnt), CF_OK);
    assert_int_equal(cnt, 0);
    assert_int_equal(cf_store_dir_group_delete(t, T1, G1), CF_ENOTFOUND);

    assert_int_equal(cf_store_principal_delete(t, T1, CID1), CF_OK);
    assert_int_equal(cf_store_principal_delete(t, T1, CID1), CF_ENOTFOUND);
    assert_int_equal(cf_store_app_delete(t, T1, APP1), CF_OK);
    assert_int_equal(cf_store_app_delete(t, T1, APP1), CF_ENOTFOUND);
    return CF_OK;
}

static void directory_records(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_write(f->s, write_all, NULL), CF_OK);
}

static cf_err read_writes(struct cf_store_txn *t, void *arg)
{
    struct cf_rec_app a;
    (void)arg;
    memset(&a, 0, sizeof(a));
    snprintf(a.object_id, sizeof(a.object_id), APP1);
    snprintf(a.tenant_id, sizeof(a.tenant_id), T1);
    snprintf(a.client_id, sizeof(a.client_id), CID1);
    assert_int_equal(cf_store_app_insert(t, &a), CF_EINVAL);
    assert_int_equal(cf_store_dir_member_add(t, G1, SP1, "group"), CF_EINVAL);
    assert_int_equal(cf_store_cred_delete_all(t, T1, CID1, -1, NULL), CF_EINVAL);
    return CF_OK;
}

static void writes_need_a_write_txn(void **state)
{
    struct fx *f = *state;
    assert_int_equal(cf_store_read(f->s, read_writes, NULL), CF_OK);
}

/* ---- migration of a database from before identities ---- */

static cf_err migrated_check(struct cf_store_txn *t, void *arg)
{
    struct cf_rec_app a;
    struct cf_rec_principal p;
    struct creds_seen seen;

    (void)arg;
    assert_int_equal(cf_store_app_get_by_client(t, T1, CID1, &a), CF_OK);
    assert_int_equal(strlen(a.object_id), 36);
    assert_int_equal(a.object_id[14], '4');
    assert_string_equal(a.display_name, "old admin");
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(cf_store_cred_list(t, T1, CID1, cred_cb, &seen), CF_OK);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.hash, "pbkdf2-sha256$20000$salt$hash");
    assert_int_equal(cf_store_principal_get(t, T1, CID1, &p), CF_OK);
    assert_string_equal(p.secret_hash, "");
    assert_int_equal(cf_store_principal_get_by_oid(t, T1, SP1, &p), CF_OK);
    return CF_OK;
}

static void migration_keeps_old_secret(void **state)
{
    struct fx *f = *state;
    char path[160];
    sqlite3 *db;
    struct cf_store_opts o = {0};
    struct cf_store *s;
    cf_err e;

    snprintf(path, sizeof(path), "%s/old.sqlite", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    /* what version 2 had of the tables the migrations read */
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                     "INSERT INTO schema_version VALUES(2);"
                     "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
                     "CREATE TABLE principals(tenant_id TEXT NOT NULL, client_id TEXT NOT NULL,"
                     " object_id TEXT NOT NULL, display_name TEXT NOT NULL, secret_hash TEXT "
                     "NOT NULL, enabled INTEGER NOT NULL, generation INTEGER NOT NULL, created "
                     "INTEGER NOT NULL, PRIMARY KEY(tenant_id, client_id)) WITHOUT ROWID;"
                     "INSERT INTO principals VALUES('" T1 "','" CID1 "','" SP1 "','old admin',"
                     "'pbkdf2-sha256$20000$salt$hash',1,3,77);"
                     /* migration 10 rebuilds secret_versions (empty here) */
                     "CREATE TABLE secret_objects(id INTEGER PRIMARY KEY);"
                     "CREATE TABLE secret_versions(id INTEGER PRIMARY KEY,"
                     " object_id INTEGER NOT NULL, seq INTEGER NOT NULL, version TEXT NOT NULL,"
                     " prev_version TEXT NOT NULL, created INTEGER NOT NULL,"
                     " updated INTEGER NOT NULL, enabled INTEGER NOT NULL, nbf INTEGER NOT NULL,"
                     " exp INTEGER NOT NULL, content_type TEXT, tags_json TEXT,"
                     " managed INTEGER NOT NULL, kid TEXT NOT NULL, value BLOB NOT NULL,"
                     " UNIQUE(object_id, seq), UNIQUE(object_id, version));",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    o.path = path;
    s = cf_store_open_sqlite(&o, &e);
    assert_non_null(s);
    assert_int_equal(cf_store_read(s, migrated_check, NULL), CF_OK);
    cf_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(directory_records, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_need_a_write_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(migration_keeps_old_secret, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sqlite_auth.c - store_auth.h on SQLite: custom role definitions, role assignments, and the
 * identity directory (applications, credentials, directory groups and members).
 * Row <-> record conversion, one cached statement per operation (sqlite_int.h). Every function
 * resets its statement before returning (cf_sq_done), so records never point into SQLite
 * memory except inside list callbacks. */
#include "base/cf.h"
#include "base/log.h"

#include "store/sqlite_int.h"
#include "store/store_auth.h"


/* ---------------- role definitions ---------------- */

void cf_rec_role_def_release(struct cf_rec_role_def *d)
{
    if (!d)
        return;
    free(d->description);
    free(d->scopes_json);
    free(d->perms_json);
    d->description = d->scopes_json = d->perms_json = NULL;
}

static cf_err role_def_from_row(sqlite3_stmt *st, struct cf_rec_role_def *d)
{
    cf_err e = CF_OK;

    memset(d, 0, sizeof(*d));
    cf_sq_col_cpy(st, 0, d->id, sizeof(d->id));
    cf_sq_col_cpy(st, 1, d->name, sizeof(d->name));
    d->description = cf_sq_col_dup(st, 2, &e);
    if (!e)
        d->scopes_json = cf_sq_col_dup(st, 3, &e);
    if (!e)
        d->perms_json = cf_sq_col_dup(st, 4, &e);
    d->created = sqlite3_column_int64(st, 5);
    d->updated = sqlite3_column_int64(st, 6);
    if (e)
        cf_rec_role_def_release(d);
    return e;
}

cf_err cf_store_role_def_put(struct cf_store_txn *t, const struct cf_rec_role_def *d,
                             bool *created)
{
    char name_lc[sizeof(d->name)];
    const char *desc = d->description ? d->description : "";
    const char *scopes = d->scopes_json ? d->scopes_json : "[]";
    const char *perms = d->perms_json ? d->perms_json : "{}";
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    *created = false;
    if (!t->writable || !d->id[0] || !d->name[0])
        return CF_EINVAL;
    cf_sq_lower_copy(d->name, name_lc, sizeof(name_lc));
    st = cf_sq_stmt(t, CF_SQ_ROLEDEF_UPDATE, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, d->id);
    cf_sq_bind_text(st, 2, d->name);
    cf_sq_bind_text(st, 3, name_lc);
    cf_sq_bind_text(st, 4, desc);
    cf_sq_bind_text(st, 5, scopes);
    cf_sq_bind_text(st, 6, perms);
    sqlite3_bind_int64(st, 7, d->updated);
    e = cf_sq_step_change(t, st, "role definition update", true);
    if (e != CF_ENOTFOUND)
        return e;
    st = cf_sq_stmt(t, CF_SQ_ROLEDEF_INSERT, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, d->id);
    cf_sq_bind_text(st, 2, d->name);
    cf_sq_bind_text(st, 3, name_lc);
    cf_sq_bind_text(st, 4, desc);
    cf_sq_bind_text(st, 5, scopes);
    cf_sq_bind_text(st, 6, perms);
    sqlite3_bind_int64(st, 7, d->created);
    sqlite3_bind_int64(st, 8, d->updated);
    e = cf_sq_step_change(t, st, "role definition insert", false);
    *created = e == CF_OK;
    return e;
}

cf_err cf_store_role_def_get(struct cf_store_txn *t, const char *id, struct cf_rec_role_def *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_ROLEDEF_GET, &e);
    int rc;

    if (!st)
        return e;
    cf_sq_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = role_def_from_row(st, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "role definition get");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_role_def_delete(struct cf_store_txn *t, const char *id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_ROLEDEF_DELETE, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, id);
    return cf_sq_step_change(t, st, "role definition delete", true);
}

cf_err cf_store_role_def_list(struct cf_store_txn *t, cf_store_role_def_cb cb, void *arg)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_ROLEDEF_LIST, &e);
    struct cf_rec_role_def d;
    int rc;

    if (!st)
        return e;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        e = role_def_from_row(st, &d);
        if (!e)
            e = cb(&d, arg);
        cf_rec_role_def_release(&d);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "role definition list");
    cf_sq_done(st);
    return e;
}

/* ---------------- role assignments ---------------- */

static void role_asg_from_row(sqlite3_stmt *st, struct cf_rec_role_asg *a)
{
    memset(a, 0, sizeof(*a));
    cf_sq_col_cpy(st, 0, a->id, sizeof(a->id));
    cf_sq_col_cpy(st, 1, a->scope, sizeof(a->scope));
    cf_sq_col_cpy(st, 2, a->role_def_id, sizeof(a->role_def_id));
    cf_sq_col_cpy(st, 3, a->principal_id, sizeof(a->principal_id));
    cf_sq_col_cpy(st, 4, a->principal_type, sizeof(a->principal_type));
    a->created = sqlite3_column_int64(st, 5);
    cf_sq_col_cpy(st, 6, a->created_by, sizeof(a->created_by));
}

cf_err cf_store_role_asg_insert(struct cf_store_txn *t, const struct cf_rec_role_asg *a)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !a->id[0] || !a->scope[0] || !a->role_def_id[0] || !a->principal_id[0])
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_ROLEASG_INSERT, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, a->id);
    cf_sq_bind_text(st, 2, a->scope);
    cf_sq_bind_text(st, 3, a->role_def_id);
    cf_sq_bind_text(st, 4, a->principal_id);
    cf_sq_bind_text(st, 5, a->principal_type);
    sqlite3_bind_int64(st, 6, a->created);
    cf_sq_bind_text(st, 7, a->created_by);
    return cf_sq_step_change(t, st, "role assignment insert", false);
}

cf_err cf_store_role_asg_get(struct cf_store_txn *t, const char *id, struct cf_rec_role_asg *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_ROLEASG_GET, &e);
    int rc;

    if (!st)
        return e;
    cf_sq_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        role_asg_from_row(st, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "role assignment get");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_role_asg_delete(struct cf_store_txn *t, const char *id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_ROLEASG_DELETE, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, id);
    return cf_sq_step_change(t, st, "role assignment delete", true);
}

/* Runs a bound assignment query, handing each row to cb. */
static cf_err asg_walk(struct cf_store_txn *t, sqlite3_stmt *st, cf_store_role_asg_cb cb,
                       void *arg, const char *what)
{
    struct cf_rec_role_asg a;
    cf_err e = CF_OK;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        role_asg_from_row(st, &a);
        e = cb(&a, arg);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, what);
    cf_sq_done(st);
    return e;
}

cf_err cf_store_role_asg_list_principal(struct cf_store_txn *t, const char *principal_id,
                                        cf_store_role_asg_cb cb, void *arg)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_ROLEASG_BY_PRINCIPAL, &e);

    if (!st)
        return e;
    cf_sq_bind_text(st, 1, principal_id);
    return asg_walk(t, st, cb, arg, "role assignment list");
}

cf_err cf_store_role_asg_list_scope(struct cf_store_txn *t, const char *scope, bool subtree,
                                    cf_store_role_asg_cb cb, void *arg)
{
    char lo[CF_RBAC_MAX_SCOPE + 1], hi[CF_RBAC_MAX_SCOPE + 1];
    size_t n = strlen(scope);
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (n == 0 || n >= CF_RBAC_MAX_SCOPE)
        return CF_EINVAL;
    if (subtree && strcmp(scope, "/") == 0) {
        st = cf_sq_stmt(t, CF_SQ_ROLEASG_ALL, &e);
        if (!st)
            return e;
        return asg_walk(t, st, cb, arg, "role assignment list");
    }
    if (!subtree) {
        st = cf_sq_stmt(t, CF_SQ_ROLEASG_BY_SCOPE, &e);
        if (!st)
            return e;
        cf_sq_bind_text(st, 1, scope);
        return asg_walk(t, st, cb, arg, "role assignment list");
    }
    /* everything strictly below scope starts with scope + "/": the keys in [scope/, scope0) */
    memcpy(lo, scope, n);
    memcpy(hi, scope, n);
    lo[n] = '/';
    hi[n] = '0';
    lo[n + 1] = hi[n + 1] = '\0';
    st = cf_sq_stmt(t, CF_SQ_ROLEASG_SUBTREE, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, scope);
    sqlite3_bind_text(st, 2, lo, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, hi, -1, SQLITE_TRANSIENT);
    return asg_walk(t, st, cb, arg, "role assignment list");
}

cf_err cf_store_role_asg_uses_role(struct cf_store_txn *t, const char *role_def_id, bool *used)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_ROLEASG_USES_ROLE, &e);
    int rc;

    *used = false;
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, role_def_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *used = true;
    else if (rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "role assignment use");
    cf_sq_done(st);
    return e;
}

/* ---------------- directory (identities) ----------------
 * Statements prepared per call and finalized before returning (adhoc/adhoc_*): these serve
 * admin operations, token issuance and verification-cache misses, not the per-request path. */

static sqlite3_stmt *adhoc(struct cf_store_txn *t, const char *sql, cf_err *err)
{
    return cf_sq_prepare(t, sql, "prepare", err);
}

/* Steps a change statement and finalizes it; CF_ENOTFOUND when need_row and nothing changed. */
static cf_err adhoc_change(struct cf_store_txn *t, sqlite3_stmt *st, const char *what,
                           bool need_row, size_t *changed)
{
    int rc = sqlite3_step(st);
    cf_err e = CF_OK;

    if (rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, what);
    else if (changed)
        *changed = (size_t)sqlite3_changes(CF_SQ_DB(t));
    if (!e && need_row && sqlite3_changes(CF_SQ_DB(t)) == 0)
        e = CF_ENOTFOUND;
    sqlite3_finalize(st);
    return e;
}

typedef cf_err (*row_fn)(sqlite3_stmt *st, void *arg);

/* Steps a query, calling fn for each row (first_only: stop after one; CF_ENOTFOUND when there
 * was none). Finalizes the statement. */
static cf_err adhoc_rows(struct cf_store_txn *t, sqlite3_stmt *st, row_fn fn, void *arg,
                         bool first_only, const char *what)
{
    cf_err e = CF_OK;
    bool any = false;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        any = true;
        e = fn(st, arg);
        if (e || first_only)
            break;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, what);
    if (!e && first_only && !any)
        e = CF_ENOTFOUND;
    sqlite3_finalize(st);
    return e;
}

/* -- applications -- */

#define APP_COLS "object_id,tenant_id,client_id,display_name,created"

static void app_from_row(sqlite3_stmt *st, struct cf_rec_app *a)
{
    memset(a, 0, sizeof(*a));
    cf_sq_col_cpy(st, 0, a->object_id, sizeof(a->object_id));
    cf_sq_col_cpy(st, 1, a->tenant_id, sizeof(a->tenant_id));
    cf_sq_col_cpy(st, 2, a->client_id, sizeof(a->client_id));
    cf_sq_col_cpy(st, 3, a->display_name, sizeof(a->display_name));
    a->created = sqlite3_column_int64(st, 4);
}

static cf_err app_one(sqlite3_stmt *st, void *arg)
{
    app_from_row(st, arg);
    return CF_OK;
}

struct app_walk {
    cf_store_app_cb cb;
    void *arg;
};

static cf_err app_each(sqlite3_stmt *st, void *arg)
{
    struct app_walk *w = arg;
    struct cf_rec_app a;
    app_from_row(st, &a);
    return w->cb(&a, w->arg);
}

cf_err cf_store_app_insert(struct cf_store_txn *t, const struct cf_rec_app *a)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !a->object_id[0] || !a->tenant_id[0] || !a->client_id[0])
        return CF_EINVAL;
    st = adhoc(t, "INSERT INTO applications(" APP_COLS ") VALUES(?1,?2,?3,?4,?5)", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, a->object_id);
    cf_sq_bind_text(st, 2, a->tenant_id);
    cf_sq_bind_text(st, 3, a->client_id);
    cf_sq_bind_text(st, 4, a->display_name);
    sqlite3_bind_int64(st, 5, a->created);
    return adhoc_change(t, st, "application insert", false, NULL);
}

cf_err cf_store_app_rename(struct cf_store_txn *t, const char *tenant_id, const char *object_id,
                           const char *display_name)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "UPDATE applications SET display_name=?3 WHERE tenant_id=?1 AND object_id=?2",
               &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, object_id);
    cf_sq_bind_text(st, 3, display_name);
    return adhoc_change(t, st, "application rename", true, NULL);
}

cf_err cf_store_app_get(struct cf_store_txn *t, const char *tenant_id, const char *object_id,
                        struct cf_rec_app *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT " APP_COLS " FROM applications "
                                "WHERE object_id=?2 AND tenant_id=?1", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, object_id);
    return adhoc_rows(t, st, app_one, out, true, "application get");
}

cf_err cf_store_app_get_by_client(struct cf_store_txn *t, const char *tenant_id,
                                  const char *client_id, struct cf_rec_app *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT " APP_COLS " FROM applications "
                                "WHERE tenant_id=?1 AND client_id=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, client_id);
    return adhoc_rows(t, st, app_one, out, true, "application get");
}

cf_err cf_store_app_delete(struct cf_store_txn *t, const char *tenant_id, const char *object_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "DELETE FROM applications WHERE tenant_id=?1 AND object_id=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, object_id);
    return adhoc_change(t, st, "application delete", true, NULL);
}

cf_err cf_store_app_list(struct cf_store_txn *t, const char *tenant_id, cf_store_app_cb cb,
                         void *arg)
{
    struct app_walk w = {cb, arg};
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT " APP_COLS " FROM applications WHERE tenant_id=?1 "
                                "ORDER BY created, object_id", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    return adhoc_rows(t, st, app_each, &w, false, "application list");
}

/* -- principals by object id -- */

static cf_err principal_one(sqlite3_stmt *st, void *arg)
{
    struct cf_rec_principal *p = arg;

    memset(p, 0, sizeof(*p));
    cf_sq_col_cpy(st, 0, p->tenant_id, sizeof(p->tenant_id));
    cf_sq_col_cpy(st, 1, p->client_id, sizeof(p->client_id));
    cf_sq_col_cpy(st, 2, p->object_id, sizeof(p->object_id));
    cf_sq_col_cpy(st, 3, p->display_name, sizeof(p->display_name));
    cf_sq_col_cpy(st, 4, p->secret_hash, sizeof(p->secret_hash));
    p->enabled = sqlite3_column_int(st, 5) != 0;
    p->generation = sqlite3_column_int64(st, 6);
    p->created = sqlite3_column_int64(st, 7);
    return CF_OK;
}

cf_err cf_store_principal_get_by_oid(struct cf_store_txn *t, const char *tenant_id,
                                     const char *object_id, struct cf_rec_principal *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT tenant_id,client_id,object_id,display_name,secret_hash,"
                                "enabled,generation,created FROM principals "
                                "WHERE object_id=?2 AND tenant_id=?1", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, object_id);
    return adhoc_rows(t, st, principal_one, out, true, "principal get");
}

cf_err cf_store_principal_delete(struct cf_store_txn *t, const char *tenant_id,
                                 const char *client_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "DELETE FROM principals WHERE tenant_id=?1 AND client_id=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, client_id);
    return adhoc_change(t, st, "principal delete", true, NULL);
}

/* -- credentials -- */

#define CRED_COLS                                                                                  \
    "tenant_id,client_id,key_id,kind,display_name,hint,secret_hash,thumb_sha1,thumb_sha256,cert," \
    "start_time,end_time,created"

struct cred_walk {
    cf_store_cred_cb cb;
    void *arg;
};

static cf_err cred_each(sqlite3_stmt *st, void *arg)
{
    struct cred_walk *w = arg;
    struct cf_rec_cred c;
    cf_err e;

    memset(&c, 0, sizeof(c));
    cf_sq_col_cpy(st, 0, c.tenant_id, sizeof(c.tenant_id));
    cf_sq_col_cpy(st, 1, c.client_id, sizeof(c.client_id));
    cf_sq_col_cpy(st, 2, c.key_id, sizeof(c.key_id));
    c.kind = sqlite3_column_int(st, 3);
    cf_sq_col_cpy(st, 4, c.display_name, sizeof(c.display_name));
    cf_sq_col_cpy(st, 5, c.hint, sizeof(c.hint));
    cf_sq_col_cpy(st, 6, c.secret_hash, sizeof(c.secret_hash));
    cf_sq_col_cpy(st, 7, c.thumb_sha1, sizeof(c.thumb_sha1));
    cf_sq_col_cpy(st, 8, c.thumb_sha256, sizeof(c.thumb_sha256));
    if (sqlite3_column_type(st, 9) == SQLITE_BLOB) {
        c.cert = sqlite3_column_blob(st, 9);
        c.cert_len = (size_t)sqlite3_column_bytes(st, 9);
    }
    c.start = sqlite3_column_int64(st, 10);
    c.end = sqlite3_column_int64(st, 11);
    c.created = sqlite3_column_int64(st, 12);
    e = w->cb(&c, w->arg);
    /* the hash is not the secret, but it need not linger on the stack */
    memset(c.secret_hash, 0, sizeof(c.secret_hash));
    return e;
}

cf_err cf_store_cred_insert(struct cf_store_txn *t, const struct cf_rec_cred *c)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !c->tenant_id[0] || !c->client_id[0] || !c->key_id[0] ||
        (c->kind != CF_CRED_PASSWORD && c->kind != CF_CRED_KEY))
        return CF_EINVAL;
    st = adhoc(t, "INSERT INTO credentials(" CRED_COLS ") "
                  "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, c->tenant_id);
    cf_sq_bind_text(st, 2, c->client_id);
    cf_sq_bind_text(st, 3, c->key_id);
    sqlite3_bind_int(st, 4, c->kind);
    cf_sq_bind_text(st, 5, c->display_name);
    cf_sq_bind_text(st, 6, c->hint);
    cf_sq_bind_text(st, 7, c->secret_hash);
    cf_sq_bind_text(st, 8, c->thumb_sha1);
    cf_sq_bind_text(st, 9, c->thumb_sha256);
    if (c->cert && c->cert_len)
        sqlite3_bind_blob64(st, 10, c->cert, (sqlite3_uint64)c->cert_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, c->start);
    sqlite3_bind_int64(st, 12, c->end);
    sqlite3_bind_int64(st, 13, c->created);
    return adhoc_change(t, st, "credential insert", false, NULL);
}

cf_err cf_store_cred_delete(struct cf_store_txn *t, const char *tenant_id, const char *client_id,
                            const char *key_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "DELETE FROM credentials WHERE tenant_id=?1 AND client_id=?2 AND key_id=?3",
               &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, client_id);
    cf_sq_bind_text(st, 3, key_id);
    return adhoc_change(t, st, "credential delete", true, NULL);
}

cf_err cf_store_cred_delete_all(struct cf_store_txn *t, const char *tenant_id,
                                const char *client_id, int kind, size_t *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "DELETE FROM credentials WHERE tenant_id=?1 AND client_id=?2 AND "
                  "(?3<0 OR kind=?3)", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, client_id);
    sqlite3_bind_int(st, 3, kind);
    return adhoc_change(t, st, "credential delete", false, n);
}

cf_err cf_store_cred_list(struct cf_store_txn *t, const char *tenant_id, const char *client_id,
                          cf_store_cred_cb cb, void *arg)
{
    struct cred_walk w = {cb, arg};
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT " CRED_COLS " FROM credentials WHERE tenant_id=?1 AND "
                                "client_id=?2 ORDER BY created, key_id", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, client_id);
    return adhoc_rows(t, st, cred_each, &w, false, "credential list");
}

/* -- directory groups -- */

#define DGROUP_COLS "object_id,tenant_id,display_name,mail_nickname,description,created"

static void dgroup_from_row(sqlite3_stmt *st, struct cf_rec_dir_group *g)
{
    memset(g, 0, sizeof(*g));
    cf_sq_col_cpy(st, 0, g->object_id, sizeof(g->object_id));
    cf_sq_col_cpy(st, 1, g->tenant_id, sizeof(g->tenant_id));
    cf_sq_col_cpy(st, 2, g->display_name, sizeof(g->display_name));
    cf_sq_col_cpy(st, 3, g->mail_nickname, sizeof(g->mail_nickname));
    cf_sq_col_cpy(st, 4, g->description, sizeof(g->description));
    g->created = sqlite3_column_int64(st, 5);
}

static cf_err dgroup_one(sqlite3_stmt *st, void *arg)
{
    dgroup_from_row(st, arg);
    return CF_OK;
}

struct dgroup_walk {
    cf_store_dir_group_cb cb;
    void *arg;
    struct cf_rec_dir_group g; /* ~1.4 KB: kept off the callback's stack frame */
};

static cf_err dgroup_each(sqlite3_stmt *st, void *arg)
{
    struct dgroup_walk *w = arg;
    dgroup_from_row(st, &w->g);
    return w->cb(&w->g, w->arg);
}

cf_err cf_store_dir_group_insert(struct cf_store_txn *t, const struct cf_rec_dir_group *g)
{
    char lc[sizeof(g->display_name)];
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !g->object_id[0] || !g->tenant_id[0])
        return CF_EINVAL;
    cf_sq_lower_copy(g->display_name, lc, sizeof(lc));
    st = adhoc(t, "INSERT INTO dir_groups(object_id,tenant_id,display_name,display_name_lc,"
                  "mail_nickname,description,created) VALUES(?1,?2,?3,?4,?5,?6,?7)", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, g->object_id);
    cf_sq_bind_text(st, 2, g->tenant_id);
    cf_sq_bind_text(st, 3, g->display_name);
    cf_sq_bind_text(st, 4, lc);
    cf_sq_bind_text(st, 5, g->mail_nickname);
    cf_sq_bind_text(st, 6, g->description);
    sqlite3_bind_int64(st, 7, g->created);
    return adhoc_change(t, st, "group insert", false, NULL);
}

cf_err cf_store_dir_group_get(struct cf_store_txn *t, const char *tenant_id, const char *object_id,
                              struct cf_rec_dir_group *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT " DGROUP_COLS " FROM dir_groups "
                                "WHERE object_id=?2 AND tenant_id=?1", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, object_id);
    return adhoc_rows(t, st, dgroup_one, out, true, "group get");
}

cf_err cf_store_dir_group_delete(struct cf_store_txn *t, const char *tenant_id,
                                 const char *object_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "DELETE FROM dir_groups WHERE tenant_id=?1 AND object_id=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, object_id);
    e = adhoc_change(t, st, "group delete", true, NULL);
    /* its own member rows go by ON DELETE CASCADE; its memberships in other groups here */
    if (!e)
        e = cf_store_dir_member_purge(t, object_id);
    return e;
}

cf_err cf_store_dir_group_list(struct cf_store_txn *t, const char *tenant_id,
                               cf_store_dir_group_cb cb, void *arg)
{
    struct dgroup_walk *w = calloc(1, sizeof(*w));
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!w)
        return CF_ENOMEM;
    w->cb = cb;
    w->arg = arg;
    st = adhoc(t, "SELECT " DGROUP_COLS " FROM dir_groups WHERE tenant_id=?1 "
                  "ORDER BY display_name_lc, object_id", &e);
    if (st) {
        cf_sq_bind_text(st, 1, tenant_id);
        e = adhoc_rows(t, st, dgroup_each, w, false, "group list");
    }
    free(w);
    return e;
}

cf_err cf_store_dir_member_add(struct cf_store_txn *t, const char *group_id, const char *member_id,
                               const char *member_type)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !group_id[0] || !member_id[0])
        return CF_EINVAL;
    st = adhoc(t, "INSERT INTO dir_group_members(group_id,member_id,member_type) "
                  "VALUES(?1,?2,?3)", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, group_id);
    cf_sq_bind_text(st, 2, member_id);
    cf_sq_bind_text(st, 3, member_type);
    return adhoc_change(t, st, "group member add", false, NULL);
}

cf_err cf_store_dir_member_remove(struct cf_store_txn *t, const char *group_id,
                                  const char *member_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "DELETE FROM dir_group_members WHERE group_id=?1 AND member_id=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, group_id);
    cf_sq_bind_text(st, 2, member_id);
    return adhoc_change(t, st, "group member remove", true, NULL);
}

cf_err cf_store_dir_member_purge(struct cf_store_txn *t, const char *member_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = adhoc(t, "DELETE FROM dir_group_members WHERE member_id=?1", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, member_id);
    return adhoc_change(t, st, "group member purge", false, NULL);
}

struct member_walk {
    cf_store_dir_member_cb cb;
    void *arg;
};

static cf_err member_each(sqlite3_stmt *st, void *arg)
{
    struct member_walk *w = arg;
    char g[64], m[64], ty[32];

    cf_sq_col_cpy(st, 0, g, sizeof(g));
    cf_sq_col_cpy(st, 1, m, sizeof(m));
    cf_sq_col_cpy(st, 2, ty, sizeof(ty));
    return w->cb(g, m, ty, w->arg);
}

cf_err cf_store_dir_members(struct cf_store_txn *t, const char *group_id,
                            cf_store_dir_member_cb cb, void *arg)
{
    struct member_walk w = {cb, arg};
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT group_id,member_id,member_type FROM dir_group_members "
                                "WHERE group_id=?1 ORDER BY member_id", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, group_id);
    return adhoc_rows(t, st, member_each, &w, false, "group members");
}

cf_err cf_store_dir_member_of(struct cf_store_txn *t, const char *member_id,
                              cf_store_dir_member_cb cb, void *arg)
{
    struct member_walk w = {cb, arg};
    cf_err e = CF_OK;
    sqlite3_stmt *st = adhoc(t, "SELECT group_id,member_id,member_type FROM dir_group_members "
                                "WHERE member_id=?1 ORDER BY group_id", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, member_id);
    return adhoc_rows(t, st, member_each, &w, false, "group member of");
}

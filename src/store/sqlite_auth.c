/* sqlite_auth.c - store_auth.h on SQLite: custom role definitions and role assignments.
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

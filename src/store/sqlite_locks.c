/* sqlite_locks.c - store_locks.h on SQLite: the `locks` table (migration "locks" in sqlite.c).
 *
 * Map: row <-> record, put (insert or update), get, delete, list at a scope, list a subtree.
 *
 * Statements are prepared per call and finalized before returning (as sqlite_auth.c does for
 * the directory) rather than added to CF_SQL_TABLE: locks serve management writes only (a few
 * per vault or group change), never the per-request data-plane path, so a statement cache buys
 * nothing here. */
#include "base/cf.h"

#include "store/sqlite_int.h"
#include "store/store_locks.h"

#define LOCK_COLS "scope,name,level,notes,owners_json,created,updated"

void cf_rec_lock_release(struct cf_rec_lock *l)
{
    if (!l)
        return;
    free(l->notes);
    free(l->owners_json);
    l->notes = l->owners_json = NULL;
}

static sqlite3_stmt *prepare(struct cf_store_txn *t, const char *sql, cf_err *err)
{
    return cf_sq_prepare(t, sql, "lock prepare", err);
}

static cf_err from_row(sqlite3_stmt *st, struct cf_rec_lock *l)
{
    cf_err e = CF_OK;

    memset(l, 0, sizeof(*l));
    cf_sq_col_cpy(st, 0, l->scope, sizeof(l->scope));
    cf_sq_col_cpy(st, 1, l->name, sizeof(l->name));
    l->level = sqlite3_column_int(st, 2);
    l->notes = cf_sq_col_dup(st, 3, &e);
    if (!e)
        l->owners_json = cf_sq_col_dup(st, 4, &e);
    l->created = sqlite3_column_int64(st, 5);
    l->updated = sqlite3_column_int64(st, 6);
    if (e)
        cf_rec_lock_release(l);
    return e;
}

/* Steps a query: one record into *one (first row only; CF_ENOTFOUND when none), or every row
 * to cb. Finalizes the statement. */
static cf_err rows(struct cf_store_txn *t, sqlite3_stmt *st, struct cf_rec_lock *one,
                   cf_store_lock_cb cb, void *arg)
{
    cf_err e = CF_OK;
    bool any = false;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        any = true;
        if (one) {
            e = from_row(st, one);
            break;
        }
        struct cf_rec_lock l;
        e = from_row(st, &l);
        if (!e)
            e = cb(&l, arg);
        cf_rec_lock_release(&l);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, "lock query");
    if (!e && one && !any)
        e = CF_ENOTFOUND;
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_lock_put(struct cf_store_txn *t, const struct cf_rec_lock *l, bool *created)
{
    char name_lc[CF_STORE_LOCK_NAME_MAX + 1];
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!t->writable || !l || !l->scope[0] || !l->name[0])
        return CF_EINVAL;
    cf_sq_lower_copy(l->name, name_lc, sizeof(name_lc));
    st = prepare(t,
                 "UPDATE locks SET level=?3,notes=?4,owners_json=?5,updated=?6 "
                 "WHERE scope=?1 AND name_lc=?2",
                 &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, l->scope);
    cf_sq_bind_text(st, 2, name_lc);
    sqlite3_bind_int(st, 3, l->level);
    cf_sq_bind_text(st, 4, l->notes ? l->notes : "");
    cf_sq_bind_text(st, 5, l->owners_json ? l->owners_json : "[]");
    sqlite3_bind_int64(st, 6, l->updated);
    e = cf_sq_change(t, st, "lock update", true);
    if (e != CF_ENOTFOUND) {
        if (!e && created)
            *created = false;
        return e;
    }
    st = prepare(t,
                 "INSERT INTO locks(scope,name_lc,name,level,notes,owners_json,created,updated) "
                 "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                 &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, l->scope);
    cf_sq_bind_text(st, 2, name_lc);
    cf_sq_bind_text(st, 3, l->name);
    sqlite3_bind_int(st, 4, l->level);
    cf_sq_bind_text(st, 5, l->notes ? l->notes : "");
    cf_sq_bind_text(st, 6, l->owners_json ? l->owners_json : "[]");
    sqlite3_bind_int64(st, 7, l->created);
    sqlite3_bind_int64(st, 8, l->updated);
    e = cf_sq_change(t, st, "lock insert", false);
    if (!e && created)
        *created = true;
    return e;
}

cf_err cf_store_lock_get(struct cf_store_txn *t, const char *scope, const char *name_lc,
                         struct cf_rec_lock *out)
{
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!scope || !name_lc || !out)
        return CF_EINVAL;
    st = prepare(t, "SELECT " LOCK_COLS " FROM locks WHERE scope=?1 AND name_lc=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, scope);
    cf_sq_bind_text(st, 2, name_lc);
    return rows(t, st, out, NULL, NULL);
}

cf_err cf_store_lock_delete(struct cf_store_txn *t, const char *scope, const char *name_lc)
{
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!t->writable || !scope || !name_lc)
        return CF_EINVAL;
    st = prepare(t, "DELETE FROM locks WHERE scope=?1 AND name_lc=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, scope);
    cf_sq_bind_text(st, 2, name_lc);
    return cf_sq_change(t, st, "lock delete", true);
}

cf_err cf_store_lock_list_at(struct cf_store_txn *t, const char *scope, cf_store_lock_cb cb,
                             void *arg)
{
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!scope || !cb)
        return CF_EINVAL;
    st = prepare(t, "SELECT " LOCK_COLS " FROM locks WHERE scope=?1 ORDER BY name_lc", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, scope);
    return rows(t, st, NULL, cb, arg);
}

cf_err cf_store_lock_list_subtree(struct cf_store_txn *t, const char *scope, cf_store_lock_cb cb,
                                  void *arg)
{
    char lo[CF_STORE_LOCK_SCOPE_MAX + 2], hi[CF_STORE_LOCK_SCOPE_MAX + 2];
    size_t n;
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!scope || !cb || (n = strlen(scope)) >= CF_STORE_LOCK_SCOPE_MAX)
        return CF_EINVAL;
    /* scope + "/" .. scope + "0" ('0' follows '/'): exactly the scopes below, never a sibling
     * that merely shares the prefix (rg1 vs rg10) */
    memcpy(lo, scope, n);
    memcpy(hi, scope, n);
    lo[n] = '/';
    hi[n] = '0';
    lo[n + 1] = hi[n + 1] = '\0';
    st = prepare(t,
                 "SELECT " LOCK_COLS " FROM locks WHERE scope=?1 OR (scope>=?2 AND scope<?3) "
                 "ORDER BY scope,name_lc",
                 &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, scope);
    cf_sq_bind_text(st, 2, lo);
    cf_sq_bind_text(st, 3, hi);
    return rows(t, st, NULL, cb, arg);
}

/* sqlite_diag.c - store_diag.h on SQLite: the `diag_settings` table (migration "diagnostic
 * settings" in sqlite.c).
 *
 * Map: row <-> record, put (update or insert), get, delete, list (one scope or all).
 *
 * Statements are prepared per call (as sqlite_locks.c): settings change on management writes
 * and are read by the audit shippers at most once a second, never per request. */
#include "base/cf.h"

#include "store/sqlite_int.h"
#include "store/store_diag.h"

#define DIAG_COLS "scope,name,stream,cats,props_json,created,updated"

void cf_rec_diag_release(struct cf_rec_diag *d)
{
    if (!d)
        return;
    free(d->props_json);
    d->props_json = NULL;
}

static sqlite3_stmt *prepare(struct cf_store_txn *t, const char *sql, cf_err *err)
{
    return cf_sq_prepare(t, sql, "diag prepare", err);
}

static cf_err from_row(sqlite3_stmt *st, struct cf_rec_diag *d)
{
    cf_err e = CF_OK;

    memset(d, 0, sizeof(*d));
    cf_sq_col_cpy(st, 0, d->scope, sizeof(d->scope));
    cf_sq_col_cpy(st, 1, d->name, sizeof(d->name));
    cf_sq_col_cpy(st, 2, d->stream, sizeof(d->stream));
    d->cats = (unsigned)sqlite3_column_int(st, 3);
    d->props_json = cf_sq_col_dup(st, 4, &e);
    d->created = sqlite3_column_int64(st, 5);
    d->updated = sqlite3_column_int64(st, 6);
    if (e)
        cf_rec_diag_release(d);
    return e;
}

/* One record into *one (CF_ENOTFOUND when none), or every row to cb. Finalizes st. */
static cf_err rows(struct cf_store_txn *t, sqlite3_stmt *st, struct cf_rec_diag *one,
                   cf_store_diag_cb cb, void *arg)
{
    cf_err e = CF_OK;
    bool any = false;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cf_rec_diag d;
        any = true;
        if (one) {
            e = from_row(st, one);
            break;
        }
        e = from_row(st, &d);
        if (!e)
            e = cb(&d, arg);
        cf_rec_diag_release(&d);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, "diag query");
    if (!e && one && !any)
        e = CF_ENOTFOUND;
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_diag_put(struct cf_store_txn *t, const struct cf_rec_diag *d, bool *created)
{
    char name_lc[CF_STORE_DIAG_NAME_MAX + 1];
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!t->writable || !d || !d->scope[0] || !d->name[0] || !d->stream[0])
        return CF_EINVAL;
    cf_sq_lower_copy(d->name, name_lc, sizeof(name_lc));
    st = prepare(t,
                 "UPDATE diag_settings SET stream=?3,cats=?4,props_json=?5,updated=?6 "
                 "WHERE scope=?1 AND name_lc=?2",
                 &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, d->scope);
    cf_sq_bind_text(st, 2, name_lc);
    cf_sq_bind_text(st, 3, d->stream);
    sqlite3_bind_int(st, 4, (int)d->cats);
    cf_sq_bind_text(st, 5, d->props_json ? d->props_json : "{}");
    sqlite3_bind_int64(st, 6, d->updated);
    e = cf_sq_change(t, st, "diag update", true);
    if (e != CF_ENOTFOUND) {
        if (!e && created)
            *created = false;
        return e;
    }
    st = prepare(t,
                 "INSERT INTO diag_settings(scope,name_lc,name,stream,cats,props_json,created,"
                 "updated) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                 &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, d->scope);
    cf_sq_bind_text(st, 2, name_lc);
    cf_sq_bind_text(st, 3, d->name);
    cf_sq_bind_text(st, 4, d->stream);
    sqlite3_bind_int(st, 5, (int)d->cats);
    cf_sq_bind_text(st, 6, d->props_json ? d->props_json : "{}");
    sqlite3_bind_int64(st, 7, d->created);
    sqlite3_bind_int64(st, 8, d->updated);
    e = cf_sq_change(t, st, "diag insert", false);
    if (!e && created)
        *created = true;
    return e;
}

cf_err cf_store_diag_get(struct cf_store_txn *t, const char *scope, const char *name_lc,
                         struct cf_rec_diag *out)
{
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!scope || !name_lc || !out)
        return CF_EINVAL;
    st = prepare(t, "SELECT " DIAG_COLS " FROM diag_settings WHERE scope=?1 AND name_lc=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, scope);
    cf_sq_bind_text(st, 2, name_lc);
    return rows(t, st, out, NULL, NULL);
}

cf_err cf_store_diag_delete(struct cf_store_txn *t, const char *scope, const char *name_lc)
{
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!t->writable || !scope || !name_lc)
        return CF_EINVAL;
    st = prepare(t, "DELETE FROM diag_settings WHERE scope=?1 AND name_lc=?2", &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, scope);
    cf_sq_bind_text(st, 2, name_lc);
    return cf_sq_change(t, st, "diag delete", true);
}

cf_err cf_store_diag_list(struct cf_store_txn *t, const char *scope, cf_store_diag_cb cb, void *arg)
{
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!cb)
        return CF_EINVAL;
    st = prepare(t,
                 scope ? "SELECT " DIAG_COLS " FROM diag_settings WHERE scope=?1 ORDER BY name_lc"
                       : "SELECT " DIAG_COLS " FROM diag_settings ORDER BY scope,name_lc",
                 &e);
    if (!st)
        return e;
    if (scope)
        cf_sq_bind_text(st, 1, scope);
    return rows(t, st, NULL, cb, arg);
}

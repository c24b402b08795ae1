/* sqlite_obj.c - the object rows secrets and keys share. secret_objects and key_objects have the
 * same columns (CF_SQL_OBJ_COLS) and the same life: a name in a vault, its latest version, its
 * soft-delete dates. One implementation serves both tables through a cf_sq_objtab naming each
 * table's statements; the record is struct cf_rec_secret_obj (sqlite_keys.c converts the
 * identical struct cf_rec_key_obj by copy). Every function resets its statement (cf_sq_done). */
#include "base/cf.h"
#include "base/log.h"

#include "store/sqlite_int.h"
#include "store/store_vault.h"

const struct cf_sq_objtab cf_sq_secret_objs = {CF_SQ_OBJ_GET,    CF_SQ_OBJ_INSERT,
                                               CF_SQ_OBJ_UPDATE, CF_SQ_OBJ_SET_LATEST,
                                               CF_SQ_OBJ_DELETE, "secret"};
const struct cf_sq_objtab cf_sq_key_objs = {CF_SQ_KOBJ_GET,    CF_SQ_KOBJ_INSERT,
                                            CF_SQ_KOBJ_UPDATE, CF_SQ_KOBJ_SET_LATEST,
                                            CF_SQ_KOBJ_DELETE, "key"};

void cf_sq_obj_from_row(sqlite3_stmt *st, int at, struct cf_rec_secret_obj *o)
{
    memset(o, 0, sizeof(*o));
    o->id = sqlite3_column_int64(st, at + 0);
    o->vault_id = sqlite3_column_int64(st, at + 1);
    cf_sq_col_cpy(st, at + 2, o->name, sizeof(o->name));
    cf_sq_col_cpy(st, at + 3, o->name_lc, sizeof(o->name_lc));
    o->latest_seq = sqlite3_column_int64(st, at + 4);
    cf_sq_col_cpy(st, at + 5, o->latest_version, sizeof(o->latest_version));
    o->deleted_date = sqlite3_column_int64(st, at + 6);
    o->scheduled_purge = sqlite3_column_int64(st, at + 7);
}

cf_err cf_sq_obj_get(struct cf_store_txn *t, const struct cf_sq_objtab *tab, int64_t vault_id,
                     const char *name_lc, struct cf_rec_secret_obj *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, tab->get, &e);
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, name_lc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        cf_sq_obj_from_row(st, 0, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, tab->kind);
    cf_sq_done(st);
    return e;
}

cf_err cf_sq_obj_insert(struct cf_store_txn *t, const struct cf_sq_objtab *tab,
                        struct cf_rec_secret_obj *o)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, tab->insert, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, o->vault_id);
    cf_sq_bind_text(st, 2, o->name_lc);
    cf_sq_bind_text(st, 3, o->name);
    sqlite3_bind_int64(st, 4, o->latest_seq);
    cf_sq_bind_text(st, 5, o->latest_version);
    sqlite3_bind_int(st, 6, o->deleted_date != 0);
    sqlite3_bind_int64(st, 7, o->deleted_date);
    sqlite3_bind_int64(st, 8, o->scheduled_purge);
    e = cf_sq_step_change(t, st, tab->kind, false);
    if (!e)
        o->id = sqlite3_last_insert_rowid(CF_SQ_DB(t));
    return e;
}

/* A live object that stays live (every new version: set, create, import, rotate) changes only
 * its latest version. Updating just those two columns leaves the (vault, deleted, name) and
 * (deleted, purge) indexes alone - SQLite rewrites an index whenever a SET names one of its
 * columns, even with the same value, which cost two index updates and their pages per write.
 * The narrow statement matches only a row that is live in the table too; anything else (a
 * delete, a recover) takes the full update. */
cf_err cf_sq_obj_update(struct cf_store_txn *t, const struct cf_sq_objtab *tab,
                        const struct cf_rec_secret_obj *o)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    if (o->deleted_date == 0 && o->scheduled_purge == 0) {
        st = cf_sq_stmt(t, tab->set_latest, &e);
        if (!st)
            return e;
        sqlite3_bind_int64(st, 1, o->id);
        sqlite3_bind_int64(st, 2, o->latest_seq);
        cf_sq_bind_text(st, 3, o->latest_version);
        e = cf_sq_step_change(t, st, tab->kind, true);
        if (e != CF_ENOTFOUND)
            return e;
    }
    st = cf_sq_stmt(t, tab->update, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, o->id);
    sqlite3_bind_int64(st, 2, o->latest_seq);
    cf_sq_bind_text(st, 3, o->latest_version);
    sqlite3_bind_int(st, 4, o->deleted_date != 0);
    sqlite3_bind_int64(st, 5, o->deleted_date);
    sqlite3_bind_int64(st, 6, o->scheduled_purge);
    return cf_sq_step_change(t, st, tab->kind, true);
}

cf_err cf_sq_obj_delete(struct cf_store_txn *t, const struct cf_sq_objtab *tab, int64_t id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, tab->del, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, id);
    return cf_sq_step_change(t, st, tab->kind, true);
}

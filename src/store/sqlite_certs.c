/* sqlite_certs.c - store_certs.h on SQLite (migration "certificates" in sqlite.c).
 *
 * Map: objects, versions (row <-> record), lists, the pending operation, contacts, issuers.
 *
 * Statements are prepared per call and finalized before returning (as sqlite_locks.c does)
 * rather than added to CF_SQL_TABLE: certificate writes cost a key generation each and reads
 * are rare next to secrets, so a statement cache buys nothing measurable here. */
#include "base/cf.h"

#include "store/sqlite_int.h"
#include "store/store_certs.h"

#define OBJ_COLS                                                                                   \
    "o.id,o.vault_id,o.name,o.name_lc,o.latest_seq,o.latest_version,o.deleted_date,"               \
    "o.scheduled_purge,o.policy,o.policy_created,o.policy_updated"
#define OBJ_NCOLS 11
#define VER_COLS                                                                                   \
    "v.object_id,v.seq,v.version,v.created,v.updated,v.enabled,v.nbf,v.exp,v.x5t,v.tags_json,"     \
    "v.key_version,v.secret_version,v.preserve_order"
#define VER_NCOLS 13 /* then cer, chain (or NULL, NULL) */

static sqlite3_stmt *prepare(struct cf_store_txn *t, const char *sql, cf_err *err)
{
    return cf_sq_prepare(t, sql, "cert prepare", err);
}

static void bind_blob(sqlite3_stmt *st, int i, const struct cf_buf *b)
{
    sqlite3_bind_blob(st, i, b->len ? (const void *)b->data : "", (int)b->len, SQLITE_STATIC);
}

static cf_err col_blob(sqlite3_stmt *st, int i, struct cf_buf *out)
{
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);

    cf_buf_reset(out);
    return n > 0 && p ? cf_buf_append(out, p, (size_t)n) : CF_OK;
}

/* ---------------- objects ---------------- */

void cf_rec_cert_obj_release(struct cf_rec_cert_obj *o)
{
    if (!o)
        return;
    free(o->policy);
    o->policy = NULL;
}

static cf_err obj_from_row(sqlite3_stmt *st, int at, struct cf_rec_cert_obj *o)
{
    cf_err e = CF_OK;

    memset(o, 0, sizeof(*o));
    o->id = sqlite3_column_int64(st, at + 0);
    o->vault_id = sqlite3_column_int64(st, at + 1);
    cf_sq_col_cpy(st, at + 2, o->name, sizeof(o->name));
    cf_sq_col_cpy(st, at + 3, o->name_lc, sizeof(o->name_lc));
    o->latest_seq = sqlite3_column_int64(st, at + 4);
    cf_sq_col_cpy(st, at + 5, o->latest_version, sizeof(o->latest_version));
    o->deleted_date = sqlite3_column_int64(st, at + 6);
    o->scheduled_purge = sqlite3_column_int64(st, at + 7);
    o->policy = cf_sq_col_dup(st, at + 8, &e);
    o->policy_created = sqlite3_column_int64(st, at + 9);
    o->policy_updated = sqlite3_column_int64(st, at + 10);
    return e;
}

cf_err cf_store_cert_obj_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                             struct cf_rec_cert_obj *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st =
        prepare(t, "SELECT " OBJ_COLS " FROM cert_objects o WHERE o.vault_id=?1 AND o.name_lc=?2",
                &e);
    int rc;

    memset(out, 0, sizeof(*out));
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, name_lc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = obj_from_row(st, 0, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "cert get");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_cert_obj_insert(struct cf_store_txn *t, struct cf_rec_cert_obj *o)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT INTO cert_objects(vault_id,name_lc,name,latest_seq,latest_version,deleted,"
                 "deleted_date,scheduled_purge,policy,policy_created,policy_updated) "
                 "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                 &e);
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
    cf_sq_bind_text(st, 9, o->policy ? o->policy : "{}");
    sqlite3_bind_int64(st, 10, o->policy_created);
    sqlite3_bind_int64(st, 11, o->policy_updated);
    e = cf_sq_change(t, st, "cert insert", false);
    if (!e)
        o->id = sqlite3_last_insert_rowid(CF_SQ_DB(t));
    return e;
}

cf_err cf_store_cert_obj_update(struct cf_store_txn *t, const struct cf_rec_cert_obj *o)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "UPDATE cert_objects SET latest_seq=?2,latest_version=?3,deleted=?4,"
                 "deleted_date=?5,scheduled_purge=?6,policy=?7,policy_created=?8,"
                 "policy_updated=?9 WHERE id=?1",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, o->id);
    sqlite3_bind_int64(st, 2, o->latest_seq);
    cf_sq_bind_text(st, 3, o->latest_version);
    sqlite3_bind_int(st, 4, o->deleted_date != 0);
    sqlite3_bind_int64(st, 5, o->deleted_date);
    sqlite3_bind_int64(st, 6, o->scheduled_purge);
    cf_sq_bind_text(st, 7, o->policy ? o->policy : "{}");
    sqlite3_bind_int64(st, 8, o->policy_created);
    sqlite3_bind_int64(st, 9, o->policy_updated);
    return cf_sq_change(t, st, "cert update", true);
}

cf_err cf_store_cert_obj_delete(struct cf_store_txn *t, int64_t id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t, "DELETE FROM cert_objects WHERE id=?1", &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, id);
    return cf_sq_change(t, st, "cert purge", true);
}

/* ---------------- versions ---------------- */

void cf_rec_cert_ver_init(struct cf_rec_cert_ver *v)
{
    memset(v, 0, sizeof(*v));
    cf_buf_init(&v->cer, CF_STORE_CERT_DER_MAX);
    cf_buf_init(&v->chain, CF_STORE_CERT_CHAIN_MAX);
}

void cf_rec_cert_ver_release(struct cf_rec_cert_ver *v)
{
    if (!v)
        return;
    free(v->tags_json);
    v->tags_json = NULL;
    cf_buf_release(&v->cer);
    cf_buf_release(&v->chain);
}

static cf_err ver_from_row(sqlite3_stmt *st, int at, bool with_der, struct cf_rec_cert_ver *v)
{
    cf_err e = CF_OK;

    cf_rec_cert_ver_init(v);
    v->object_id = sqlite3_column_int64(st, at + 0);
    v->seq = sqlite3_column_int64(st, at + 1);
    cf_sq_col_cpy(st, at + 2, v->version, sizeof(v->version));
    v->created = sqlite3_column_int64(st, at + 3);
    v->updated = sqlite3_column_int64(st, at + 4);
    v->enabled = sqlite3_column_int(st, at + 5) != 0;
    v->nbf = sqlite3_column_int64(st, at + 6);
    v->exp = sqlite3_column_int64(st, at + 7);
    cf_sq_col_cpy(st, at + 8, v->x5t, sizeof(v->x5t));
    v->tags_json = cf_sq_col_dup(st, at + 9, &e);
    cf_sq_col_cpy(st, at + 10, v->key_version, sizeof(v->key_version));
    cf_sq_col_cpy(st, at + 11, v->secret_version, sizeof(v->secret_version));
    v->preserve_order = sqlite3_column_int(st, at + 12) != 0;
    if (!e && with_der) {
        e = col_blob(st, at + VER_NCOLS, &v->cer);
        if (!e)
            e = col_blob(st, at + VER_NCOLS + 1, &v->chain);
    }
    if (e)
        cf_rec_cert_ver_release(v);
    return e;
}

cf_err cf_store_cert_ver_insert(struct cf_store_txn *t, const struct cf_rec_cert_ver *v)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT INTO cert_versions(object_id,seq,version,created,updated,enabled,nbf,exp,"
                 "x5t,tags_json,key_version,secret_version,preserve_order,cer,chain) "
                 "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, v->object_id);
    sqlite3_bind_int64(st, 2, v->seq);
    cf_sq_bind_text(st, 3, v->version);
    sqlite3_bind_int64(st, 4, v->created);
    sqlite3_bind_int64(st, 5, v->updated);
    sqlite3_bind_int(st, 6, v->enabled);
    sqlite3_bind_int64(st, 7, v->nbf);
    sqlite3_bind_int64(st, 8, v->exp);
    cf_sq_bind_text(st, 9, v->x5t);
    cf_sq_bind_text(st, 10, v->tags_json);
    cf_sq_bind_text(st, 11, v->key_version);
    cf_sq_bind_text(st, 12, v->secret_version);
    sqlite3_bind_int(st, 13, v->preserve_order);
    bind_blob(st, 14, &v->cer);
    bind_blob(st, 15, &v->chain);
    return cf_sq_change(t, st, "cert version insert", false);
}

cf_err cf_store_cert_ver_update(struct cf_store_txn *t, const struct cf_rec_cert_ver *v)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "UPDATE cert_versions SET updated=?3,enabled=?4,tags_json=?5 "
                 "WHERE object_id=?1 AND seq=?2",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, v->object_id);
    sqlite3_bind_int64(st, 2, v->seq);
    sqlite3_bind_int64(st, 3, v->updated);
    sqlite3_bind_int(st, 4, v->enabled);
    cf_sq_bind_text(st, 5, v->tags_json);
    return cf_sq_change(t, st, "cert version update", true);
}

cf_err cf_store_cert_ver_get(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                             const char *version, bool with_der, struct cf_rec_cert_ver *out)
{
    char sql[512];
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    cf_rec_cert_ver_init(out);
    snprintf(sql, sizeof(sql), "SELECT " VER_COLS ",%s FROM cert_versions v WHERE v.object_id=?1 AND %s",
             with_der ? "v.cer,v.chain" : "NULL,NULL", version ? "v.version=?2" : "v.seq=?2");
    st = prepare(t, sql, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    if (version)
        cf_sq_bind_text(st, 2, version);
    else
        sqlite3_bind_int64(st, 2, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = ver_from_row(st, 0, with_der, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "cert version get");
    sqlite3_finalize(st);
    return e;
}

/* Steps a list query of rows (object columns when with_obj, then version columns), calling cb
 * for at most max of them; a (max+1)th row sets *more. */
static cf_err list_rows(struct cf_store_txn *t, sqlite3_stmt *st, bool with_obj, bool with_der,
                        int max, cf_store_cert_cb cb, void *arg, bool *more)
{
    int rc, n = 0;
    cf_err e = CF_OK;

    if (more)
        *more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cf_rec_cert_obj o;
        struct cf_rec_cert_ver v;
        if (n == max) {
            if (more)
                *more = true;
            break;
        }
        n++;
        memset(&o, 0, sizeof(o));
        if (with_obj)
            e = obj_from_row(st, 0, &o);
        if (!e)
            e = ver_from_row(st, with_obj ? OBJ_NCOLS : 0, with_der, &v);
        if (!e) {
            e = cb(with_obj ? &o : NULL, &v, arg);
            cf_rec_cert_ver_release(&v);
        }
        cf_rec_cert_obj_release(&o);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "cert list");
    sqlite3_finalize(st);
    return e;
}

/* The object-only form of list_rows: up to max objects, *more when a max+1-th matched. */
static cf_err obj_rows(struct cf_store_txn *t, sqlite3_stmt *st, int max, cf_store_cert_obj_cb cb,
                       void *arg, bool *more, const char *what)
{
    int rc, n = 0;
    cf_err e = CF_OK;

    if (more)
        *more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cf_rec_cert_obj o;
        if (n == max) {
            if (more)
                *more = true;
            break;
        }
        n++;
        e = obj_from_row(st, 0, &o);
        if (!e)
            e = cb(&o, arg);
        cf_rec_cert_obj_release(&o);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, what);
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_cert_list(struct cf_store_txn *t, int64_t vault_id, bool deleted,
                          const char *after_lc, int max, cf_store_cert_cb cb, void *arg,
                          bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t,
                               "SELECT " OBJ_COLS "," VER_COLS ",NULL,NULL FROM cert_objects o "
                               "JOIN cert_versions v ON v.object_id=o.id AND v.seq=o.latest_seq "
                               "WHERE o.vault_id=?1 AND o.deleted=?2 AND o.name_lc>?3 "
                               "ORDER BY o.name_lc LIMIT ?4",
                               &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    sqlite3_bind_int(st, 2, deleted ? 1 : 0);
    cf_sq_bind_text(st, 3, after_lc ? after_lc : "");
    sqlite3_bind_int(st, 4, max + 1);
    return list_rows(t, st, true, false, max, cb, arg, more);
}

cf_err cf_store_cert_list_versions(struct cf_store_txn *t, int64_t object_id, int64_t after_seq,
                                   int max, bool with_der, cf_store_cert_cb cb, void *arg,
                                   bool *more)
{
    char sql[512];
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    snprintf(sql, sizeof(sql),
             "SELECT " VER_COLS ",%s FROM cert_versions v WHERE v.object_id=?1 AND v.seq>?2 "
             "ORDER BY v.seq LIMIT ?3",
             with_der ? "v.cer,v.chain" : "NULL,NULL");
    st = prepare(t, sql, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    sqlite3_bind_int64(st, 2, after_seq);
    sqlite3_bind_int(st, 3, max + 1);
    return list_rows(t, st, false, with_der, max, cb, arg, more);
}

cf_err cf_store_cert_list_all(struct cf_store_txn *t, int64_t after_id, int max,
                              cf_store_cert_cb cb, void *arg, bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t,
                               "SELECT " OBJ_COLS "," VER_COLS ",NULL,NULL FROM cert_objects o "
                               "JOIN cert_versions v ON v.object_id=o.id AND v.seq=o.latest_seq "
                               "WHERE o.deleted=0 AND o.id>?1 ORDER BY o.id LIMIT ?2",
                               &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int(st, 2, max + 1);
    return list_rows(t, st, true, false, max, cb, arg, more);
}

cf_err cf_store_cert_list_in_progress(struct cf_store_txn *t, int64_t after_id, int max,
                                      cf_store_cert_obj_cb cb, void *arg, bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t,
                               "SELECT " OBJ_COLS " FROM cert_objects o JOIN cert_pending p ON "
                               "p.object_id=o.id WHERE p.status='inProgress' AND o.deleted=0 "
                               "AND o.id>?1 ORDER BY o.id LIMIT ?2",
                               &e);

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int(st, 2, max + 1);
    return obj_rows(t, st, max, cb, arg, more, "cert list in progress");
}

/* The scan runs along cert_objects_by_state (vault_id, deleted, name_lc) from the token and
 * stops at the max+1-th match. */
cf_err cf_store_cert_list_pending_only(struct cf_store_txn *t, int64_t vault_id,
                                       const char *after_lc, int max, cf_store_cert_obj_cb cb,
                                       void *arg, bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t,
                               "SELECT " OBJ_COLS " FROM cert_objects o WHERE o.vault_id=?1 "
                               "AND o.deleted=0 AND o.name_lc>?2 AND o.latest_seq=0 AND "
                               "EXISTS(SELECT 1 FROM cert_pending p WHERE p.object_id=o.id) "
                               "ORDER BY o.name_lc LIMIT ?3",
                               &e);

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, after_lc ? after_lc : "");
    sqlite3_bind_int(st, 3, max + 1);
    return obj_rows(t, st, max, cb, arg, more, "cert list pending only");
}

cf_err cf_store_cert_purge_expired(struct cf_store_txn *t, int64_t now, int max, int *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    *n = 0;
    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "DELETE FROM cert_objects WHERE id IN (SELECT id FROM cert_objects "
                 "WHERE deleted=1 AND scheduled_purge<=?1 ORDER BY scheduled_purge LIMIT ?2)",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    e = cf_sq_change(t, st, "cert purge expired", false);
    if (!e)
        *n = sqlite3_changes(CF_SQ_DB(t));
    return e;
}

/* ---------------- pending operations ---------------- */

void cf_rec_cert_pending_init(struct cf_rec_cert_pending *p)
{
    memset(p, 0, sizeof(*p));
    cf_buf_init(&p->csr, CF_STORE_CERT_DER_MAX);
    cf_buf_init(&p->priv, CF_STORE_CERT_SEALED_MAX);
}

void cf_rec_cert_pending_release(struct cf_rec_cert_pending *p)
{
    if (!p)
        return;
    free(p->status_details);
    free(p->error_json);
    free(p->issuer_json);
    free(p->input_json);
    p->status_details = p->error_json = p->issuer_json = p->input_json = NULL;
    cf_buf_release(&p->csr);
    cf_buf_release(&p->priv); /* sealed: nothing to wipe */
}

cf_err cf_store_cert_pending_get(struct cf_store_txn *t, int64_t object_id,
                                 struct cf_rec_cert_pending *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t,
                               "SELECT object_id,request_id,status,status_details,error_json,"
                               "cancel,issuer_json,csr,priv,input_json,target_version,created,"
                               "updated FROM cert_pending WHERE object_id=?1",
                               &e);
    int rc;

    cf_rec_cert_pending_init(out);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->object_id = sqlite3_column_int64(st, 0);
        cf_sq_col_cpy(st, 1, out->request_id, sizeof(out->request_id));
        cf_sq_col_cpy(st, 2, out->status, sizeof(out->status));
        out->status_details = cf_sq_col_dup(st, 3, &e);
        if (!e)
            out->error_json = cf_sq_col_dup(st, 4, &e);
        out->cancel_requested = sqlite3_column_int(st, 5) != 0;
        if (!e)
            out->issuer_json = cf_sq_col_dup(st, 6, &e);
        if (!e)
            e = col_blob(st, 7, &out->csr);
        if (!e)
            e = col_blob(st, 8, &out->priv);
        if (!e)
            out->input_json = cf_sq_col_dup(st, 9, &e);
        cf_sq_col_cpy(st, 10, out->target_version, sizeof(out->target_version));
        out->created = sqlite3_column_int64(st, 11);
        out->updated = sqlite3_column_int64(st, 12);
    } else if (rc == SQLITE_DONE) {
        e = CF_ENOTFOUND;
    } else {
        e = cf_sq_err(CF_SQ_DB(t), rc, "cert pending get");
    }
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_cert_pending_put(struct cf_store_txn *t, const struct cf_rec_cert_pending *p)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT OR REPLACE INTO cert_pending(object_id,request_id,status,status_details,"
                 "error_json,cancel,issuer_json,csr,priv,input_json,target_version,created,updated)"
                 " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, p->object_id);
    cf_sq_bind_text(st, 2, p->request_id);
    cf_sq_bind_text(st, 3, p->status);
    cf_sq_bind_text(st, 4, p->status_details);
    cf_sq_bind_text(st, 5, p->error_json);
    sqlite3_bind_int(st, 6, p->cancel_requested);
    cf_sq_bind_text(st, 7, p->issuer_json ? p->issuer_json : "{}");
    bind_blob(st, 8, &p->csr);
    bind_blob(st, 9, &p->priv);
    cf_sq_bind_text(st, 10, p->input_json);
    cf_sq_bind_text(st, 11, p->target_version);
    sqlite3_bind_int64(st, 12, p->created);
    sqlite3_bind_int64(st, 13, p->updated);
    return cf_sq_change(t, st, "cert pending put", false);
}

cf_err cf_store_cert_pending_delete(struct cf_store_txn *t, int64_t object_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t, "DELETE FROM cert_pending WHERE object_id=?1", &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    return cf_sq_change(t, st, "cert pending delete", true);
}

/* ---------------- contacts ---------------- */

cf_err cf_store_cert_contacts_get(struct cf_store_txn *t, int64_t vault_id, char **json)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st =
        prepare(t, "SELECT contacts_json FROM cert_contacts WHERE vault_id=?1", &e);
    int rc;

    *json = NULL;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *json = cf_sq_col_dup(st, 0, &e);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "cert contacts get");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_cert_contacts_put(struct cf_store_txn *t, int64_t vault_id, const char *json,
                                  int64_t now)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !json)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT OR REPLACE INTO cert_contacts(vault_id,contacts_json,updated) "
                 "VALUES(?1,?2,?3)",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, json);
    sqlite3_bind_int64(st, 3, now);
    return cf_sq_change(t, st, "cert contacts put", false);
}

cf_err cf_store_cert_contacts_delete(struct cf_store_txn *t, int64_t vault_id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t, "DELETE FROM cert_contacts WHERE vault_id=?1", &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    return cf_sq_change(t, st, "cert contacts delete", true);
}

/* ---------------- issuers ---------------- */

#define ISSUER_COLS "vault_id,name,provider,account_id,creds,org_json,enabled,created,updated"

void cf_rec_cert_issuer_init(struct cf_rec_cert_issuer *i)
{
    memset(i, 0, sizeof(*i));
    cf_buf_init(&i->creds, CF_STORE_CERT_SEALED_MAX);
}

void cf_rec_cert_issuer_release(struct cf_rec_cert_issuer *i)
{
    if (!i)
        return;
    free(i->org_json);
    i->org_json = NULL;
    cf_buf_release(&i->creds);
}

static cf_err issuer_from_row(sqlite3_stmt *st, struct cf_rec_cert_issuer *i)
{
    cf_err e;

    cf_rec_cert_issuer_init(i);
    i->vault_id = sqlite3_column_int64(st, 0);
    cf_sq_col_cpy(st, 1, i->name, sizeof(i->name));
    cf_sq_col_cpy(st, 2, i->provider, sizeof(i->provider));
    cf_sq_col_cpy(st, 3, i->account_id, sizeof(i->account_id));
    e = col_blob(st, 4, &i->creds);
    if (!e)
        i->org_json = cf_sq_col_dup(st, 5, &e);
    i->enabled = sqlite3_column_int(st, 6) != 0;
    i->created = sqlite3_column_int64(st, 7);
    i->updated = sqlite3_column_int64(st, 8);
    if (e)
        cf_rec_cert_issuer_release(i);
    return e;
}

cf_err cf_store_cert_issuer_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                                struct cf_rec_cert_issuer *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(
        t, "SELECT " ISSUER_COLS " FROM cert_issuers WHERE vault_id=?1 AND name_lc=?2", &e);
    int rc;

    cf_rec_cert_issuer_init(out);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, name_lc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = issuer_from_row(st, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "cert issuer get");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_cert_issuer_put(struct cf_store_txn *t, const struct cf_rec_cert_issuer *i)
{
    char name_lc[CF_STORE_ISSUER_NAME_MAX + 1];
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !i->name[0])
        return CF_EINVAL;
    cf_sq_lower_copy(i->name, name_lc, sizeof(name_lc));
    st = prepare(t,
                 "INSERT INTO cert_issuers(vault_id,name_lc,name,provider,account_id,creds,"
                 "org_json,enabled,created,updated) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10) "
                 "ON CONFLICT(vault_id,name_lc) DO UPDATE SET provider=excluded.provider,"
                 "account_id=excluded.account_id,creds=excluded.creds,org_json=excluded.org_json,"
                 "enabled=excluded.enabled,updated=excluded.updated",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, i->vault_id);
    cf_sq_bind_text(st, 2, name_lc);
    cf_sq_bind_text(st, 3, i->name);
    cf_sq_bind_text(st, 4, i->provider);
    cf_sq_bind_text(st, 5, i->account_id);
    bind_blob(st, 6, &i->creds);
    cf_sq_bind_text(st, 7, i->org_json);
    sqlite3_bind_int(st, 8, i->enabled);
    sqlite3_bind_int64(st, 9, i->created);
    sqlite3_bind_int64(st, 10, i->updated);
    return cf_sq_change(t, st, "cert issuer put", false);
}

cf_err cf_store_cert_issuer_delete(struct cf_store_txn *t, int64_t vault_id, const char *name_lc)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t, "DELETE FROM cert_issuers WHERE vault_id=?1 AND name_lc=?2", &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, name_lc);
    return cf_sq_change(t, st, "cert issuer delete", true);
}

cf_err cf_store_cert_issuer_list(struct cf_store_txn *t, int64_t vault_id, const char *after_lc,
                                 int max, cf_store_cert_issuer_cb cb, void *arg, bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t,
                               "SELECT " ISSUER_COLS " FROM cert_issuers WHERE vault_id=?1 AND "
                               "name_lc>?2 ORDER BY name_lc LIMIT ?3",
                               &e);
    int rc, n = 0;

    if (more)
        *more = false;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, after_lc ? after_lc : "");
    sqlite3_bind_int(st, 3, max + 1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cf_rec_cert_issuer i;
        if (n++ == max) {
            if (more)
                *more = true;
            break;
        }
        e = issuer_from_row(st, &i);
        if (!e) {
            e = cb(&i, arg);
            cf_rec_cert_issuer_release(&i);
        }
        if (e)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "cert issuer list");
    sqlite3_finalize(st);
    return e;
}

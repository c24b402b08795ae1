/* sqlite_keys.c - store_keys.h on SQLite: key objects, key versions and rotation policies.
 * Row <-> record conversion, one cached statement per operation (sqlite_int.h, the KOBJ_,
 * KVER_ and KPOL_ rows). Every function resets its statement before returning (cf_sq_done), so
 * records never point into SQLite memory except inside list callbacks. */
#include "base/cf.h"
#include "base/log.h"

#include "store/sqlite_int.h"
#include "store/store_keys.h"
#include "store/store_vault.h"

#include <stddef.h>

/* A sealed private key: the largest is an RSA-4096 PKCS#8 DER (~2.4 KB) plus a type tag and the
 * AEAD overhead; 16 KB leaves room for any future format. */
#define PRIV_MAX (16 * 1024)
#define KVER_NCOLS 18 /* columns of CF_SQL_KVER_COLS; the private blob (or NULL) follows */

/* ---------------- objects ---------------- */

/* key_objects rows are secret_objects rows (sqlite_obj.c): the two records have one layout,
 * so a key object converts by copy. */
_Static_assert(sizeof(struct cf_rec_key_obj) == sizeof(struct cf_rec_secret_obj) &&
                   offsetof(struct cf_rec_key_obj, name) == offsetof(struct cf_rec_secret_obj, name) &&
                   offsetof(struct cf_rec_key_obj, latest_version) ==
                       offsetof(struct cf_rec_secret_obj, latest_version) &&
                   offsetof(struct cf_rec_key_obj, scheduled_purge) ==
                       offsetof(struct cf_rec_secret_obj, scheduled_purge),
               "key and secret object records differ");

static void obj_from_row(sqlite3_stmt *st, int at, struct cf_rec_key_obj *o)
{
    struct cf_rec_secret_obj so;
    cf_sq_obj_from_row(st, at, &so);
    memcpy(o, &so, sizeof(*o));
}

cf_err cf_store_key_obj_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                            struct cf_rec_key_obj *out)
{
    struct cf_rec_secret_obj so;
    cf_err e = cf_sq_obj_get(t, &cf_sq_key_objs, vault_id, name_lc, &so);
    if (!e)
        memcpy(out, &so, sizeof(*out));
    return e;
}

cf_err cf_store_key_obj_insert(struct cf_store_txn *t, struct cf_rec_key_obj *o)
{
    struct cf_rec_secret_obj so;
    cf_err e;
    memcpy(&so, o, sizeof(so));
    e = cf_sq_obj_insert(t, &cf_sq_key_objs, &so);
    o->id = so.id;
    return e;
}

cf_err cf_store_key_obj_update(struct cf_store_txn *t, const struct cf_rec_key_obj *o)
{
    struct cf_rec_secret_obj so;
    memcpy(&so, o, sizeof(so));
    return cf_sq_obj_update(t, &cf_sq_key_objs, &so);
}

cf_err cf_store_key_obj_delete(struct cf_store_txn *t, int64_t id)
{
    return cf_sq_obj_delete(t, &cf_sq_key_objs, id);
}

/* ---------------- versions ---------------- */

void cf_rec_key_ver_release(struct cf_rec_key_ver *v)
{
    if (!v)
        return;
    free(v->public_jwk);
    free(v->tags_json);
    free(v->release_policy);
    v->public_jwk = v->tags_json = v->release_policy = NULL;
    cf_buf_release(&v->priv); /* sealed: no plaintext to wipe */
}

/* Columns of CF_SQL_KVER_COLS + priv, starting at `at`. */
static cf_err ver_from_row(sqlite3_stmt *st, int at, bool with_priv, struct cf_rec_key_ver *v)
{
    cf_err e = CF_OK;

    memset(v, 0, sizeof(*v));
    cf_buf_init(&v->priv, PRIV_MAX);
    v->object_id = sqlite3_column_int64(st, at + 0);
    v->seq = sqlite3_column_int64(st, at + 1);
    cf_sq_col_cpy(st, at + 2, v->version, sizeof(v->version));
    cf_sq_col_cpy(st, at + 3, v->kty, sizeof(v->kty));
    v->key_size = sqlite3_column_int(st, at + 4);
    cf_sq_col_cpy(st, at + 5, v->crv, sizeof(v->crv));
    v->key_ops = (unsigned)sqlite3_column_int(st, at + 6);
    v->created = sqlite3_column_int64(st, at + 7);
    v->updated = sqlite3_column_int64(st, at + 8);
    v->enabled = sqlite3_column_int(st, at + 9) != 0;
    v->exportable = sqlite3_column_int(st, at + 10) != 0;
    v->managed = sqlite3_column_int(st, at + 11) != 0;
    v->imported = sqlite3_column_int(st, at + 12) != 0;
    v->nbf = sqlite3_column_int64(st, at + 13);
    v->exp = sqlite3_column_int64(st, at + 14);
    v->public_jwk = cf_sq_col_dup(st, at + 15, &e);
    v->tags_json = cf_sq_col_dup(st, at + 16, &e);
    v->release_policy = cf_sq_col_dup(st, at + 17, &e);
    if (!e && with_priv)
        e = cf_buf_append(&v->priv, sqlite3_column_blob(st, at + KVER_NCOLS),
                          (size_t)sqlite3_column_bytes(st, at + KVER_NCOLS));
    if (e)
        cf_rec_key_ver_release(v);
    return e;
}

cf_err cf_store_key_ver_insert(struct cf_store_txn *t, const struct cf_rec_key_ver *v)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_KVER_INSERT, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, v->object_id);
    sqlite3_bind_int64(st, 2, v->seq);
    cf_sq_bind_text(st, 3, v->version);
    cf_sq_bind_text(st, 4, v->kty);
    sqlite3_bind_int(st, 5, v->key_size);
    cf_sq_bind_text(st, 6, v->crv);
    sqlite3_bind_int(st, 7, (int)v->key_ops);
    sqlite3_bind_int64(st, 8, v->created);
    sqlite3_bind_int64(st, 9, v->updated);
    sqlite3_bind_int(st, 10, v->enabled);
    sqlite3_bind_int(st, 11, v->exportable);
    sqlite3_bind_int(st, 12, v->managed);
    sqlite3_bind_int(st, 13, v->imported);
    sqlite3_bind_int64(st, 14, v->nbf);
    sqlite3_bind_int64(st, 15, v->exp);
    cf_sq_bind_text(st, 16, v->public_jwk ? v->public_jwk : "{}");
    cf_sq_bind_text(st, 17, v->tags_json);
    cf_sq_bind_text(st, 18, v->release_policy);
    sqlite3_bind_blob64(st, 19, v->priv.len ? v->priv.data : "", v->priv.len, SQLITE_STATIC);
    return cf_sq_step_change(t, st, "key version insert", false);
}

cf_err cf_store_key_ver_update(struct cf_store_txn *t, const struct cf_rec_key_ver *v)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_KVER_UPDATE, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, v->object_id);
    sqlite3_bind_int64(st, 2, v->seq);
    sqlite3_bind_int64(st, 3, v->updated);
    sqlite3_bind_int(st, 4, v->enabled);
    sqlite3_bind_int64(st, 5, v->nbf);
    sqlite3_bind_int64(st, 6, v->exp);
    sqlite3_bind_int(st, 7, v->exportable);
    sqlite3_bind_int(st, 8, (int)v->key_ops);
    cf_sq_bind_text(st, 9, v->tags_json);
    cf_sq_bind_text(st, 10, v->release_policy);
    return cf_sq_step_change(t, st, "key version update", true);
}

cf_err cf_store_key_ver_get(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                            const char *version, bool with_priv, struct cf_rec_key_ver *out)
{
    enum cf_sq_id id = version ? (with_priv ? CF_SQ_KVER_BY_VERSION_PRIV : CF_SQ_KVER_BY_VERSION)
                               : (with_priv ? CF_SQ_KVER_BY_SEQ_PRIV : CF_SQ_KVER_BY_SEQ);
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, id, &e);
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    if (version)
        cf_sq_bind_text(st, 2, version);
    else
        sqlite3_bind_int64(st, 2, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = ver_from_row(st, 0, with_priv, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "key version get");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_key_ver_count(struct cf_store_txn *t, int64_t object_id, int64_t *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_KVER_COUNT, &e);
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "key version count");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_key_list(struct cf_store_txn *t, int64_t vault_id, bool deleted,
                         const char *after_lc, int max, cf_store_key_cb cb, void *arg, bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_KOBJ_LIST, &e);
    struct cf_rec_key_obj o;
    struct cf_rec_key_ver v;
    int rc = SQLITE_DONE, n = 0;

    *more = false;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    sqlite3_bind_int(st, 2, deleted);
    cf_sq_bind_text(st, 3, after_lc ? after_lc : "");
    sqlite3_bind_int(st, 4, max + 1); /* one more row tells whether a next page exists */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == max) {
            *more = true;
            break;
        }
        obj_from_row(st, 0, &o);
        e = ver_from_row(st, CF_SQL_OBJ_NCOLS, false, &v);
        if (e)
            break;
        e = cb(&o, &v, arg);
        cf_rec_key_ver_release(&v);
        if (e)
            break;
        n++;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, "key list");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_key_list_versions(struct cf_store_txn *t, int64_t object_id, int64_t after_seq,
                                  int max, bool with_priv, cf_store_key_cb cb, void *arg,
                                  bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, with_priv ? CF_SQ_KVER_LIST_PRIV : CF_SQ_KVER_LIST, &e);
    struct cf_rec_key_ver v;
    int rc = SQLITE_DONE, n = 0;

    *more = false;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    sqlite3_bind_int64(st, 2, after_seq);
    sqlite3_bind_int(st, 3, max + 1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == max) {
            *more = true;
            break;
        }
        e = ver_from_row(st, 0, with_priv, &v);
        if (e)
            break;
        e = cb(NULL, &v, arg);
        cf_rec_key_ver_release(&v);
        if (e)
            break;
        n++;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, "key version list");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_key_purge_expired(struct cf_store_txn *t, int64_t now, int max, int *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    *n = 0;
    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_KOBJ_EXPIRED, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    e = cf_sq_step_change(t, st, "key purge expired", false);
    if (!e)
        *n = sqlite3_changes(CF_SQ_DB(t));
    return e;
}

cf_err cf_store_key_list_expired(struct cf_store_txn *t, int64_t now, struct cf_rec_key_obj *out,
                                 int max, int *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_KOBJ_EXPIRED_LIST, &e);
    int rc = SQLITE_DONE;

    *n = 0;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        obj_from_row(st, 0, &out[(*n)++]);
    if (*n < max && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "key list expired");
    cf_sq_done(st);
    return e;
}

/* ---------------- rotation policies ---------------- */

/* Columns of CF_SQL_KPOL_COLS starting at `at`. */
static void policy_from_row(sqlite3_stmt *st, int at, struct cf_rec_key_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->object_id = sqlite3_column_int64(st, at + 0);
    p->rotate = sqlite3_column_int(st, at + 1);
    cf_sq_col_cpy(st, at + 2, p->rotate_dur, sizeof(p->rotate_dur));
    cf_sq_col_cpy(st, at + 3, p->notify_dur, sizeof(p->notify_dur));
    cf_sq_col_cpy(st, at + 4, p->expiry_time, sizeof(p->expiry_time));
    p->created = sqlite3_column_int64(st, at + 5);
    p->updated = sqlite3_column_int64(st, at + 6);
}

cf_err cf_store_key_policy_get(struct cf_store_txn *t, int64_t object_id,
                               struct cf_rec_key_policy *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_KPOL_GET, &e);
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        policy_from_row(st, 0, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "key policy get");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_key_policy_put(struct cf_store_txn *t, const struct cf_rec_key_policy *p)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_KPOL_PUT, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, p->object_id);
    sqlite3_bind_int(st, 2, p->rotate);
    cf_sq_bind_text(st, 3, p->rotate_dur);
    cf_sq_bind_text(st, 4, p->notify_dur);
    cf_sq_bind_text(st, 5, p->expiry_time);
    sqlite3_bind_int64(st, 6, p->created);
    sqlite3_bind_int64(st, 7, p->updated);
    return cf_sq_step_change(t, st, "key policy put", false);
}

cf_err cf_store_key_policy_list_rotating(struct cf_store_txn *t, int64_t after_id, int max,
                                         cf_store_key_policy_cb cb, void *arg, bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_KPOL_ROTATING, &e);
    struct cf_rec_key_obj o;
    struct cf_rec_key_policy p;
    int rc = SQLITE_DONE, n = 0;

    *more = false;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int(st, 2, max + 1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == max) {
            *more = true;
            break;
        }
        obj_from_row(st, 0, &o);
        policy_from_row(st, CF_SQL_OBJ_NCOLS, &p);
        e = cb(&o, &p, arg);
        if (e)
            break;
        n++;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, "key policy list");
    cf_sq_done(st);
    return e;
}

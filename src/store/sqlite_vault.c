/* sqlite_vault.c - store_vault.h on SQLite: resource groups, vaults, secret objects and secret
 * versions. Row <-> record conversion, one cached statement per operation (sqlite_int.h).
 * Every function resets its statement before returning (cf_sq_done), so records never point
 * into SQLite memory except inside list callbacks. */
#include "base/cf.h"
#include "base/log.h"

#include "store/sqlite_int.h"
#include "store/store_vault.h"


/* ---------------- groups ---------------- */

void cf_rec_group_release(struct cf_rec_group *g)
{
    if (!g)
        return;
    free(g->tags_json);
    g->tags_json = NULL;
}

static cf_err group_from_row(sqlite3_stmt *st, struct cf_rec_group *g)
{
    cf_err e = CF_OK;

    memset(g, 0, sizeof(*g));
    cf_sq_col_cpy(st, 0, g->subscription, sizeof(g->subscription));
    cf_sq_col_cpy(st, 1, g->name, sizeof(g->name));
    cf_sq_col_cpy(st, 2, g->location, sizeof(g->location));
    g->tags_json = cf_sq_col_dup(st, 3, &e);
    g->created = sqlite3_column_int64(st, 4);
    return e;
}

cf_err cf_store_group_put(struct cf_store_txn *t, const struct cf_rec_group *g, bool *created)
{
    char name_lc[sizeof(g->name)];
    const char *tags = g->tags_json ? g->tags_json : "{}";
    sqlite3_stmt *st;
    cf_err e = CF_OK;

    if (!t->writable)
        return CF_EINVAL;
    cf_sq_lower_copy(g->name, name_lc, sizeof(name_lc));
    st = cf_sq_stmt(t, CF_SQ_GROUP_UPDATE, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, g->subscription);
    cf_sq_bind_text(st, 2, name_lc);
    cf_sq_bind_text(st, 3, g->location);
    cf_sq_bind_text(st, 4, tags);
    e = cf_sq_step_change(t, st, "group update", true);
    if (e != CF_ENOTFOUND) {
        *created = false;
        return e;
    }
    st = cf_sq_stmt(t, CF_SQ_GROUP_INSERT, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, g->subscription);
    cf_sq_bind_text(st, 2, name_lc);
    cf_sq_bind_text(st, 3, g->name);
    cf_sq_bind_text(st, 4, g->location);
    cf_sq_bind_text(st, 5, tags);
    sqlite3_bind_int64(st, 6, g->created);
    e = cf_sq_step_change(t, st, "group insert", false);
    *created = e == CF_OK;
    return e;
}

cf_err cf_store_group_get(struct cf_store_txn *t, const char *sub, const char *name_lc,
                          struct cf_rec_group *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_GROUP_GET, &e);
    int rc;

    if (!st)
        return e;
    cf_sq_bind_text(st, 1, sub);
    cf_sq_bind_text(st, 2, name_lc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = group_from_row(st, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "group get");
    cf_sq_done(st);
    if (e && e != CF_ENOTFOUND)
        cf_rec_group_release(out);
    return e;
}

cf_err cf_store_group_list(struct cf_store_txn *t, const char *sub, cf_store_group_cb cb, void *arg)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_GROUP_LIST, &e);
    struct cf_rec_group g;
    int rc;

    if (!st)
        return e;
    cf_sq_bind_text(st, 1, sub);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        e = group_from_row(st, &g);
        if (!e)
            e = cb(&g, arg);
        cf_rec_group_release(&g);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "group list");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_group_delete(struct cf_store_txn *t, const char *sub, const char *name_lc)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_GROUP_DELETE, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, sub);
    cf_sq_bind_text(st, 2, name_lc);
    return cf_sq_step_change(t, st, "group delete", true);
}

/* ---------------- vaults ---------------- */

void cf_rec_vault_release(struct cf_rec_vault *v)
{
    if (!v)
        return;
    free(v->tags_json);
    free(v->access_policies_json);
    free(v->network_acls_json);
    cf_buf_release(&v->dek);
    v->tags_json = v->access_policies_json = v->network_acls_json = NULL;
}

/* Columns of CF_SQL_VAULT_COLS, in order. */
static cf_err vault_from_row(sqlite3_stmt *st, struct cf_rec_vault *v)
{
    cf_err e = CF_OK;

    memset(v, 0, sizeof(*v));
    cf_buf_init(&v->dek, 4096);
    v->id = sqlite3_column_int64(st, 0);
    cf_sq_col_cpy(st, 1, v->name, sizeof(v->name));
    cf_sq_col_cpy(st, 2, v->subscription, sizeof(v->subscription));
    cf_sq_col_cpy(st, 3, v->resource_group, sizeof(v->resource_group));
    cf_sq_col_cpy(st, 4, v->location, sizeof(v->location));
    cf_sq_col_cpy(st, 5, v->tenant_id, sizeof(v->tenant_id));
    cf_sq_col_cpy(st, 6, v->sku, sizeof(v->sku));
    v->retention_days = sqlite3_column_int(st, 7);
    v->soft_delete = sqlite3_column_int(st, 8) != 0;
    v->purge_protection = sqlite3_column_int(st, 9) != 0;
    v->rbac = sqlite3_column_int(st, 10) != 0;
    v->for_deployment = sqlite3_column_int(st, 11) != 0;
    v->for_disk_encryption = sqlite3_column_int(st, 12) != 0;
    v->for_template_deployment = sqlite3_column_int(st, 13) != 0;
    cf_sq_col_cpy(st, 14, v->public_network_access, sizeof(v->public_network_access));
    v->tags_json = cf_sq_col_dup(st, 15, &e);
    v->access_policies_json = cf_sq_col_dup(st, 16, &e);
    v->network_acls_json = cf_sq_col_dup(st, 17, &e);
    v->created = sqlite3_column_int64(st, 18);
    v->updated = sqlite3_column_int64(st, 19);
    v->deleted_date = sqlite3_column_int64(st, 20);
    v->scheduled_purge = sqlite3_column_int64(st, 21);
    if (!e)
        e = cf_buf_append(&v->dek, sqlite3_column_blob(st, 22),
                          (size_t)sqlite3_column_bytes(st, 22));
    if (e)
        cf_rec_vault_release(v);
    return e;
}

/* Binds the columns shared by insert (offset 1: ?2..) and update (?2..?19 the same order). */
static void vault_bind_common(sqlite3_stmt *st, const struct cf_rec_vault *v, const char *rg_lc)
{
    cf_sq_bind_text(st, 2, v->name);
    cf_sq_bind_text(st, 3, v->subscription);
    cf_sq_bind_text(st, 4, rg_lc);
    cf_sq_bind_text(st, 5, v->resource_group);
    cf_sq_bind_text(st, 6, v->location);
    cf_sq_bind_text(st, 7, v->tenant_id);
    cf_sq_bind_text(st, 8, v->sku);
    sqlite3_bind_int(st, 9, v->retention_days);
    sqlite3_bind_int(st, 10, v->soft_delete);
    sqlite3_bind_int(st, 11, v->purge_protection);
    sqlite3_bind_int(st, 12, v->rbac);
    sqlite3_bind_int(st, 13, v->for_deployment);
    sqlite3_bind_int(st, 14, v->for_disk_encryption);
    sqlite3_bind_int(st, 15, v->for_template_deployment);
    cf_sq_bind_text(st, 16, v->public_network_access);
    cf_sq_bind_text(st, 17, v->tags_json ? v->tags_json : "{}");
    cf_sq_bind_text(st, 18, v->access_policies_json ? v->access_policies_json : "[]");
    cf_sq_bind_text(st, 19, v->network_acls_json);
}

cf_err cf_store_vault_insert(struct cf_store_txn *t, const struct cf_rec_vault *v, int64_t *id)
{
    char name_lc[sizeof(v->name)], rg_lc[sizeof(v->resource_group)];
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_VAULT_INSERT, &e);
    if (!st)
        return e;
    cf_sq_lower_copy(v->name, name_lc, sizeof(name_lc));
    cf_sq_lower_copy(v->resource_group, rg_lc, sizeof(rg_lc));
    cf_sq_bind_text(st, 1, name_lc);
    vault_bind_common(st, v, rg_lc);
    sqlite3_bind_int64(st, 20, v->created);
    sqlite3_bind_int64(st, 21, v->updated);
    sqlite3_bind_int(st, 22, v->deleted_date != 0);
    sqlite3_bind_int64(st, 23, v->deleted_date);
    sqlite3_bind_int64(st, 24, v->scheduled_purge);
    sqlite3_bind_blob64(st, 25, v->dek.len ? v->dek.data : "", v->dek.len, SQLITE_STATIC);
    e = cf_sq_step_change(t, st, "vault insert", false);
    if (!e)
        *id = sqlite3_last_insert_rowid(CF_SQ_DB(t));
    return e;
}

cf_err cf_store_vault_update(struct cf_store_txn *t, const struct cf_rec_vault *v)
{
    char rg_lc[sizeof(v->resource_group)];
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_VAULT_UPDATE, &e);
    if (!st)
        return e;
    cf_sq_lower_copy(v->resource_group, rg_lc, sizeof(rg_lc));
    sqlite3_bind_int64(st, 1, v->id);
    vault_bind_common(st, v, rg_lc);
    sqlite3_bind_int64(st, 20, v->updated);
    sqlite3_bind_int(st, 21, v->deleted_date != 0);
    sqlite3_bind_int64(st, 22, v->deleted_date);
    sqlite3_bind_int64(st, 23, v->scheduled_purge);
    sqlite3_bind_blob64(st, 24, v->dek.len ? v->dek.data : "", v->dek.len, SQLITE_STATIC);
    return cf_sq_step_change(t, st, "vault update", true);
}

static cf_err vault_get(struct cf_store_txn *t, enum cf_sq_id id, const char *name_lc, int64_t vid,
                        struct cf_rec_vault *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, id, &e);
    int rc;

    if (!st)
        return e;
    if (name_lc)
        cf_sq_bind_text(st, 1, name_lc);
    else
        sqlite3_bind_int64(st, 1, vid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = vault_from_row(st, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "vault get");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_vault_get_by_name(struct cf_store_txn *t, const char *name_lc,
                                  struct cf_rec_vault *out)
{
    return vault_get(t, CF_SQ_VAULT_BY_NAME, name_lc, 0, out);
}

cf_err cf_store_vault_get_by_id(struct cf_store_txn *t, int64_t id, struct cf_rec_vault *out)
{
    return vault_get(t, CF_SQ_VAULT_BY_ID, NULL, id, out);
}

cf_err cf_store_vault_list(struct cf_store_txn *t, bool deleted, const char *sub, const char *rg_lc,
                           cf_store_vault_cb cb, void *arg)
{
    enum cf_sq_id id = !sub     ? CF_SQ_VAULT_LIST_ALL
                       : !rg_lc ? CF_SQ_VAULT_LIST_SUB
                                : CF_SQ_VAULT_LIST_RG;
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, id, &e);
    struct cf_rec_vault v;
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int(st, 1, deleted);
    if (sub)
        cf_sq_bind_text(st, 2, sub);
    if (sub && rg_lc)
        cf_sq_bind_text(st, 3, rg_lc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        e = vault_from_row(st, &v);
        if (e)
            break;
        e = cb(&v, arg);
        cf_rec_vault_release(&v);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "vault list");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_vault_delete(struct cf_store_txn *t, int64_t id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_VAULT_DELETE, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, id);
    return cf_sq_step_change(t, st, "vault delete", true);
}

cf_err cf_store_vault_set_dek(struct cf_store_txn *t, int64_t id, const void *dek, size_t len)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !dek || len == 0)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_VAULT_SET_DEK, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob64(st, 2, dek, len, SQLITE_STATIC);
    return cf_sq_step_change(t, st, "vault set dek", true);
}

cf_err cf_store_vault_expired(struct cf_store_txn *t, int64_t now, int64_t *ids, char (*names)[25],
                              size_t max, size_t *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_VAULT_EXPIRED, &e);
    int rc = SQLITE_DONE;

    *n = 0;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ids[*n] = sqlite3_column_int64(st, 0);
        cf_sq_col_cpy(st, 1, names[*n], sizeof(names[*n]));
        (*n)++;
    }
    if (*n < max && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "vault expired");
    cf_sq_done(st);
    return e;
}

/* ---------------- secret objects ---------------- */

cf_err cf_store_secret_obj_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                               struct cf_rec_secret_obj *out)
{
    return cf_sq_obj_get(t, &cf_sq_secret_objs, vault_id, name_lc, out);
}

cf_err cf_store_secret_obj_get_managed(struct cf_store_txn *t, int64_t vault_id,
                                       const char *name_lc, struct cf_rec_secret_obj *out,
                                       bool *latest_managed)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_OBJ_GET_MANAGED, &e);
    int rc;

    *latest_managed = false;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, name_lc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cf_sq_obj_from_row(st, 0, out);
        *latest_managed = sqlite3_column_int64(st, CF_SQL_OBJ_NCOLS) != 0; /* NULL: 0 */
    } else if (rc == SQLITE_DONE) {
        e = CF_ENOTFOUND;
    } else {
        e = cf_sq_err(CF_SQ_DB(t), rc, "secret object get");
    }
    cf_sq_done(st);
    return e;
}

cf_err cf_store_secret_obj_insert(struct cf_store_txn *t, struct cf_rec_secret_obj *o)
{
    return cf_sq_obj_insert(t, &cf_sq_secret_objs, o);
}

cf_err cf_store_secret_obj_update(struct cf_store_txn *t, const struct cf_rec_secret_obj *o)
{
    return cf_sq_obj_update(t, &cf_sq_secret_objs, o);
}

cf_err cf_store_secret_obj_delete(struct cf_store_txn *t, int64_t id)
{
    return cf_sq_obj_delete(t, &cf_sq_secret_objs, id);
}

/* ---------------- secret versions ---------------- */

void cf_rec_secret_ver_release(struct cf_rec_secret_ver *v)
{
    if (!v)
        return;
    free(v->content_type);
    free(v->tags_json);
    v->content_type = v->tags_json = NULL;
    cf_buf_release(&v->value);
}

/* Columns of CF_SQL_VER_COLS + value, starting at `at`. */
static cf_err ver_from_row(sqlite3_stmt *st, int at, bool with_value, struct cf_rec_secret_ver *v)
{
    cf_err e = CF_OK;

    memset(v, 0, sizeof(*v));
    /* a sealed value of the largest secret plus the AEAD overhead, with room to spare */
    cf_buf_init(&v->value, 4 * CF_MAX_SECRET_VALUE_CHARS + 1024);
    v->object_id = sqlite3_column_int64(st, at + 0);
    v->seq = sqlite3_column_int64(st, at + 1);
    cf_sq_col_cpy(st, at + 2, v->version, sizeof(v->version));
    cf_sq_col_cpy(st, at + 3, v->prev_version, sizeof(v->prev_version));
    v->created = sqlite3_column_int64(st, at + 4);
    v->updated = sqlite3_column_int64(st, at + 5);
    v->enabled = sqlite3_column_int(st, at + 6) != 0;
    v->nbf = sqlite3_column_int64(st, at + 7);
    v->exp = sqlite3_column_int64(st, at + 8);
    v->content_type = cf_sq_col_dup(st, at + 9, &e);
    v->tags_json = cf_sq_col_dup(st, at + 10, &e);
    v->managed = sqlite3_column_int(st, at + 11) != 0;
    cf_sq_col_cpy(st, at + 12, v->kid, sizeof(v->kid));
    if (!e && with_value)
        e = cf_buf_append(&v->value, sqlite3_column_blob(st, at + 13),
                          (size_t)sqlite3_column_bytes(st, at + 13));
    if (e)
        cf_rec_secret_ver_release(v);
    return e;
}

cf_err cf_store_secret_ver_insert(struct cf_store_txn *t, const struct cf_rec_secret_ver *v)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_VER_INSERT, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, v->object_id);
    sqlite3_bind_int64(st, 2, v->seq);
    cf_sq_bind_text(st, 3, v->version);
    cf_sq_bind_text(st, 4, v->prev_version);
    sqlite3_bind_int64(st, 5, v->created);
    sqlite3_bind_int64(st, 6, v->updated);
    sqlite3_bind_int(st, 7, v->enabled);
    sqlite3_bind_int64(st, 8, v->nbf);
    sqlite3_bind_int64(st, 9, v->exp);
    cf_sq_bind_text(st, 10, v->content_type);
    cf_sq_bind_text(st, 11, v->tags_json);
    sqlite3_bind_int(st, 12, v->managed);
    cf_sq_bind_text(st, 13, v->kid);
    sqlite3_bind_blob64(st, 14, v->value.len ? v->value.data : "", v->value.len, SQLITE_STATIC);
    return cf_sq_step_change(t, st, "version insert", false);
}

cf_err cf_store_secret_ver_update(struct cf_store_txn *t, const struct cf_rec_secret_ver *v)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_VER_UPDATE, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, v->object_id);
    sqlite3_bind_int64(st, 2, v->seq);
    sqlite3_bind_int64(st, 3, v->updated);
    sqlite3_bind_int(st, 4, v->enabled);
    sqlite3_bind_int64(st, 5, v->nbf);
    sqlite3_bind_int64(st, 6, v->exp);
    cf_sq_bind_text(st, 7, v->content_type);
    cf_sq_bind_text(st, 8, v->tags_json);
    sqlite3_bind_int(st, 9, v->managed);
    cf_sq_bind_text(st, 10, v->kid);
    return cf_sq_step_change(t, st, "version update", true);
}

cf_err cf_store_secret_ver_get(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                               const char *version, bool with_value, struct cf_rec_secret_ver *out)
{
    enum cf_sq_id id = version ? (with_value ? CF_SQ_VER_BY_VERSION_VALUE : CF_SQ_VER_BY_VERSION)
                               : (with_value ? CF_SQ_VER_BY_SEQ_VALUE : CF_SQ_VER_BY_SEQ);
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
        e = ver_from_row(st, 0, with_value, out);
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "version get");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_secret_ver_managed(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                                   bool *managed)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_VER_MANAGED, &e);
    int rc;

    *managed = false;
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    sqlite3_bind_int64(st, 2, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *managed = sqlite3_column_int64(st, 0) != 0;
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "version managed");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_secret_ver_count(struct cf_store_txn *t, int64_t object_id, int64_t *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_VER_COUNT, &e);
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, object_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "version count");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_secret_list(struct cf_store_txn *t, int64_t vault_id, bool deleted,
                            const char *after_lc, int max, cf_store_secret_cb cb, void *arg,
                            bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_OBJ_LIST, &e);
    struct cf_rec_secret_obj o;
    struct cf_rec_secret_ver v;
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
        cf_sq_obj_from_row(st, 0, &o);
        e = ver_from_row(st, CF_SQL_OBJ_NCOLS, false, &v);
        if (e)
            break;
        e = cb(&o, &v, arg);
        cf_rec_secret_ver_release(&v);
        if (e)
            break;
        n++;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, "secret list");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_secret_list_versions(struct cf_store_txn *t, int64_t object_id, int64_t after_seq,
                                     int max, bool with_value, cf_store_secret_cb cb, void *arg,
                                     bool *more)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, with_value ? CF_SQ_VER_LIST_VALUE : CF_SQ_VER_LIST, &e);
    struct cf_rec_secret_ver v;
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
        e = ver_from_row(st, 0, with_value, &v);
        if (e)
            break;
        e = cb(NULL, &v, arg);
        cf_rec_secret_ver_release(&v);
        if (e)
            break;
        n++;
    }
    if (!e && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = cf_sq_err(CF_SQ_DB(t), rc, "version list");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_secret_purge_expired(struct cf_store_txn *t, int64_t now, int max, int *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    *n = 0;
    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_OBJ_EXPIRED, &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    e = cf_sq_step_change(t, st, "secret purge expired", false);
    if (!e)
        *n = sqlite3_changes(CF_SQ_DB(t));
    return e;
}

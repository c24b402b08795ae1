/* sqlite_int.h - internals shared by the SQLite backend's files (sqlite*.c).
 * Not part of the store's contract: nothing outside src/store/ includes this.
 *
 * Every SQL statement of the backend is one row of CF_SQL_TABLE. A connection prepares a row the
 * first time it is used and keeps it (struct cf_sq_conn.stmts); cf_sq_stmt hands out the cached
 * statement, and the caller finishes with cf_sq_done, which resets it and clears its bindings so
 * the next user starts clean. Invariant: outside a cf_sq_stmt .. cf_sq_done pair every cached
 * statement is reset (so COMMIT never meets a pending statement). */
#ifndef CF_STORE_SQLITE_INT_H
#define CF_STORE_SQLITE_INT_H

#include "base/cf.h"
#include "base/buf.h"

#include <sqlite3.h>

#include "store/store.h"

/* Live and deleted objects are told apart by `deleted` (0/1) so that one index,
 * (vault_id, deleted, name_lc), serves both listings in name order at O(page) cost. */
#define CF_SQL_TABLE(X)                                                                            \
    X(TX_BEGIN, "BEGIN")                                                                           \
    X(TX_BEGIN_IMMEDIATE, "BEGIN IMMEDIATE")                                                       \
    X(TX_SAVEPOINT, "SAVEPOINT job")                                                               \
    X(TX_RELEASE, "RELEASE job")                                                                   \
    X(TX_ROLLBACK_TO, "ROLLBACK TO job")                                                           \
    X(TX_COMMIT, "COMMIT")                                                                         \
    X(TX_ROLLBACK, "ROLLBACK")                                                                     \
    X(META_GET, "SELECT value FROM meta WHERE key=?1")                                             \
    X(META_PUT, "INSERT INTO meta(key,value) VALUES(?1,?2) "                                       \
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value")                             \
    X(META_DEL, "DELETE FROM meta WHERE key=?1")                                                   \
    X(PRINCIPAL_PUT,                                                                               \
      "INSERT INTO principals(tenant_id,client_id,object_id,display_name,secret_hash,enabled,"     \
      "generation,created) VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(tenant_id,client_id) DO "   \
      "UPDATE SET object_id=excluded.object_id,display_name=excluded.display_name,"                \
      "secret_hash=excluded.secret_hash,enabled=excluded.enabled,generation=excluded.generation,"  \
      "created=excluded.created")                                                                  \
    X(PRINCIPAL_GET, "SELECT tenant_id,client_id,object_id,display_name,secret_hash,enabled,"      \
                     "generation,created FROM principals WHERE tenant_id=?1 AND client_id=?2")     \
    X(GROUP_GET, "SELECT subscription,name,location,tags_json,created FROM groups "                \
                 "WHERE subscription=?1 AND name_lc=?2")                                           \
    X(GROUP_INSERT, "INSERT INTO groups(subscription,name_lc,name,location,tags_json,created) "    \
                    "VALUES(?1,?2,?3,?4,?5,?6)")                                                   \
    X(GROUP_UPDATE, "UPDATE groups SET location=?3,tags_json=?4 "                                  \
                    "WHERE subscription=?1 AND name_lc=?2")                                        \
    X(GROUP_LIST, "SELECT subscription,name,location,tags_json,created FROM groups "               \
                  "WHERE subscription=?1 ORDER BY name_lc")                                        \
    X(GROUP_DELETE, "DELETE FROM groups WHERE subscription=?1 AND name_lc=?2")                     \
    X(VAULT_INSERT,                                                                                \
      "INSERT INTO vaults(name_lc,name,subscription,rg_lc,resource_group,location,tenant_id,sku,"  \
      "retention_days,soft_delete,purge_protection,rbac,for_deployment,for_disk_encryption,"       \
      "for_template_deployment,public_network_access,tags_json,access_policies_json,"              \
      "network_acls_json,created,updated,deleted,deleted_date,scheduled_purge,dek) VALUES(?1,?2,"  \
      "?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25)")     \
    X(VAULT_UPDATE,                                                                                \
      "UPDATE vaults SET name=?2,subscription=?3,rg_lc=?4,resource_group=?5,location=?6,"          \
      "tenant_id=?7,sku=?8,retention_days=?9,soft_delete=?10,purge_protection=?11,rbac=?12,"       \
      "for_deployment=?13,for_disk_encryption=?14,for_template_deployment=?15,"                    \
      "public_network_access=?16,tags_json=?17,access_policies_json=?18,network_acls_json=?19,"    \
      "updated=?20,deleted=?21,deleted_date=?22,scheduled_purge=?23,dek=?24 WHERE id=?1")          \
    X(VAULT_BY_NAME, "SELECT " CF_SQL_VAULT_COLS " FROM vaults WHERE name_lc=?1")                  \
    X(VAULT_BY_ID, "SELECT " CF_SQL_VAULT_COLS " FROM vaults WHERE id=?1")                         \
    X(VAULT_LIST_ALL, "SELECT " CF_SQL_VAULT_COLS " FROM vaults WHERE deleted=?1 ORDER BY name_lc")\
    X(VAULT_LIST_SUB, "SELECT " CF_SQL_VAULT_COLS " FROM vaults WHERE subscription=?2 AND "        \
                      "deleted=?1 ORDER BY name_lc")                                               \
    X(VAULT_LIST_RG, "SELECT " CF_SQL_VAULT_COLS " FROM vaults WHERE subscription=?2 AND "         \
                     "rg_lc=?3 AND deleted=?1 ORDER BY name_lc")                                   \
    X(OUTBOX_READ, "SELECT id, line FROM audit_outbox WHERE id>?1 ORDER BY id LIMIT ?2")          \
    X(OUTBOX_DELETE, "DELETE FROM audit_outbox WHERE id<=?1")                                      \
    X(OUTBOX_COUNT, "SELECT count(*) FROM audit_outbox")                                           \
    X(VAULT_DELETE, "DELETE FROM vaults WHERE id=?1")                                              \
    X(VAULT_SET_DEK, "UPDATE vaults SET dek=?2 WHERE id=?1")                                       \
    X(VAULT_EXPIRED, "SELECT id,name FROM vaults WHERE deleted=1 AND scheduled_purge<=?1 "         \
                     "ORDER BY scheduled_purge LIMIT ?2")                                          \
    X(OBJ_GET, "SELECT " CF_SQL_OBJ_COLS " FROM secret_objects WHERE vault_id=?1 AND name_lc=?2")  \
    X(OBJ_GET_MANAGED,                                                                             \
      "SELECT " CF_SQL_OBJ_COLS_O ",v.managed FROM secret_objects o LEFT JOIN secret_versions v "   \
      "ON v.object_id=o.id AND v.seq=o.latest_seq WHERE o.vault_id=?1 AND o.name_lc=?2")           \
    X(OBJ_INSERT, "INSERT INTO secret_objects(vault_id,name_lc,name,latest_seq,latest_version,"    \
                  "deleted,deleted_date,scheduled_purge) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")         \
    X(OBJ_UPDATE, "UPDATE secret_objects SET latest_seq=?2,latest_version=?3,deleted=?4,"          \
                  "deleted_date=?5,scheduled_purge=?6 WHERE id=?1")                                \
    X(OBJ_SET_LATEST, "UPDATE secret_objects SET latest_seq=?2,latest_version=?3 "               \
                      "WHERE id=?1 AND deleted=0 AND deleted_date=0 AND scheduled_purge=0")        \
    X(OBJ_DELETE, "DELETE FROM secret_objects WHERE id=?1")                                        \
    X(OBJ_LIST,                                                                                    \
      "SELECT " CF_SQL_OBJ_COLS_O "," CF_SQL_VER_COLS_V " FROM secret_objects o "                  \
      "JOIN secret_versions v ON v.object_id=o.id AND v.seq=o.latest_seq "                         \
      "WHERE o.vault_id=?1 AND o.deleted=?2 AND o.name_lc>?3 ORDER BY o.name_lc LIMIT ?4")         \
    X(OBJ_EXPIRED, "DELETE FROM secret_objects WHERE id IN (SELECT id FROM secret_objects "        \
                   "WHERE deleted=1 AND scheduled_purge<=?1 ORDER BY scheduled_purge LIMIT ?2)")   \
    X(VER_INSERT,                                                                                  \
      "INSERT INTO secret_versions(object_id,seq,version,prev_version,created,updated,enabled,"    \
      "nbf,exp,content_type,tags_json,managed,kid,value) "                                         \
      "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)")                                    \
    X(VER_UPDATE, "UPDATE secret_versions SET updated=?3,enabled=?4,nbf=?5,exp=?6,"                \
                  "content_type=?7,tags_json=?8,managed=?9,kid=?10 WHERE object_id=?1 AND seq=?2") \
    X(VER_BY_SEQ, "SELECT " CF_SQL_VER_COLS ",NULL FROM secret_versions "                          \
                  "WHERE object_id=?1 AND seq=?2")                                                 \
    X(VER_BY_SEQ_VALUE, "SELECT " CF_SQL_VER_COLS ",value FROM secret_versions "                   \
                        "WHERE object_id=?1 AND seq=?2")                                           \
    X(VER_MANAGED, "SELECT managed FROM secret_versions WHERE object_id=?1 AND seq=?2")          \
    X(VER_BY_VERSION, "SELECT " CF_SQL_VER_COLS ",NULL FROM secret_versions "                      \
                      "WHERE object_id=?1 AND version=?2")                                         \
    X(VER_BY_VERSION_VALUE, "SELECT " CF_SQL_VER_COLS ",value FROM secret_versions "               \
                            "WHERE object_id=?1 AND version=?2")                                   \
    X(VER_LIST, "SELECT " CF_SQL_VER_COLS ",NULL FROM secret_versions "                            \
                "WHERE object_id=?1 AND seq>?2 ORDER BY seq LIMIT ?3")                             \
    X(VER_LIST_VALUE, "SELECT " CF_SQL_VER_COLS ",value FROM secret_versions "                     \
                      "WHERE object_id=?1 AND seq>?2 ORDER BY seq LIMIT ?3")                       \
    X(VER_COUNT, "SELECT count(*) FROM secret_versions WHERE object_id=?1")                     \
    X(ROLEDEF_GET, "SELECT " CF_SQL_ROLEDEF_COLS " FROM role_definitions WHERE id=?1")             \
    X(ROLEDEF_INSERT, "INSERT INTO role_definitions(id,name,name_lc,description,"                  \
                      "assignable_scopes,permissions,created,updated) "                            \
                      "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")                                           \
    X(ROLEDEF_UPDATE, "UPDATE role_definitions SET name=?2,name_lc=?3,description=?4,"             \
                      "assignable_scopes=?5,permissions=?6,updated=?7 WHERE id=?1")                \
    X(ROLEDEF_DELETE, "DELETE FROM role_definitions WHERE id=?1")                                  \
    X(ROLEDEF_LIST, "SELECT " CF_SQL_ROLEDEF_COLS " FROM role_definitions ORDER BY name_lc")       \
    X(ROLEASG_INSERT, "INSERT INTO role_assignments(id,scope,role_definition_id,principal_id,"     \
                      "principal_type,created,created_by) VALUES(?1,?2,?3,?4,?5,?6,?7)")           \
    X(ROLEASG_GET, "SELECT " CF_SQL_ROLEASG_COLS " FROM role_assignments WHERE id=?1")             \
    X(ROLEASG_DELETE, "DELETE FROM role_assignments WHERE id=?1")                                  \
    X(ROLEASG_BY_PRINCIPAL, "SELECT " CF_SQL_ROLEASG_COLS " FROM role_assignments "                \
                            "WHERE principal_id=?1 ORDER BY id")                                   \
    X(ROLEASG_BY_SCOPE, "SELECT " CF_SQL_ROLEASG_COLS " FROM role_assignments "                    \
                        "WHERE scope=?1 ORDER BY id")                                              \
    /* ?2 = scope + "/", ?3 = scope + "0" ('0' follows '/'): the range of the scope's subtree */   \
    X(ROLEASG_SUBTREE, "SELECT " CF_SQL_ROLEASG_COLS " FROM role_assignments "                     \
                       "WHERE scope=?1 OR (scope>=?2 AND scope<?3) ORDER BY scope,id")             \
    X(ROLEASG_ALL, "SELECT " CF_SQL_ROLEASG_COLS " FROM role_assignments ORDER BY scope,id")       \
    X(ROLEASG_USES_ROLE, "SELECT 1 FROM role_assignments WHERE role_definition_id=?1 LIMIT 1") \
    /* ---- keys (sqlite_keys.c) ---- */                                                          \
    X(KOBJ_GET, "SELECT " CF_SQL_OBJ_COLS " FROM key_objects WHERE vault_id=?1 AND name_lc=?2")    \
    X(KOBJ_INSERT, "INSERT INTO key_objects(vault_id,name_lc,name,latest_seq,latest_version,"      \
                   "deleted,deleted_date,scheduled_purge) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")        \
    X(KOBJ_UPDATE, "UPDATE key_objects SET latest_seq=?2,latest_version=?3,deleted=?4,"            \
                   "deleted_date=?5,scheduled_purge=?6 WHERE id=?1")                               \
    X(KOBJ_SET_LATEST, "UPDATE key_objects SET latest_seq=?2,latest_version=?3 "                 \
                       "WHERE id=?1 AND deleted=0 AND deleted_date=0 AND scheduled_purge=0")       \
    X(KOBJ_DELETE, "DELETE FROM key_objects WHERE id=?1")                                          \
    X(KOBJ_LIST,                                                                                   \
      "SELECT " CF_SQL_OBJ_COLS_O "," CF_SQL_KVER_COLS_V ",NULL FROM key_objects o "              \
      "JOIN key_versions v ON v.object_id=o.id AND v.seq=o.latest_seq "                            \
      "WHERE o.vault_id=?1 AND o.deleted=?2 AND o.name_lc>?3 ORDER BY o.name_lc LIMIT ?4")         \
    X(KOBJ_EXPIRED, "DELETE FROM key_objects WHERE id IN (SELECT id FROM key_objects "            \
                    "WHERE deleted=1 AND scheduled_purge<=?1 ORDER BY scheduled_purge LIMIT ?2)")  \
    X(KOBJ_EXPIRED_LIST, "SELECT " CF_SQL_OBJ_COLS " FROM key_objects WHERE deleted=1 AND "        \
                         "scheduled_purge<=?1 ORDER BY scheduled_purge, id LIMIT ?2")              \
    X(KVER_INSERT, "INSERT INTO key_versions(" CF_SQL_KVER_COLS ",priv) VALUES(?1,?2,?3,?4,?5,"   \
                   "?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)")                         \
    X(KVER_UPDATE, "UPDATE key_versions SET updated=?3,enabled=?4,nbf=?5,exp=?6,exportable=?7,"    \
                   "key_ops=?8,tags_json=?9,release_policy=?10 WHERE object_id=?1 AND seq=?2")     \
    X(KVER_BY_SEQ, "SELECT " CF_SQL_KVER_COLS ",NULL FROM key_versions "                           \
                   "WHERE object_id=?1 AND seq=?2")                                                \
    X(KVER_BY_SEQ_PRIV, "SELECT " CF_SQL_KVER_COLS ",priv FROM key_versions "                      \
                        "WHERE object_id=?1 AND seq=?2")                                           \
    X(KVER_BY_VERSION, "SELECT " CF_SQL_KVER_COLS ",NULL FROM key_versions "                       \
                       "WHERE object_id=?1 AND version=?2")                                        \
    X(KVER_BY_VERSION_PRIV, "SELECT " CF_SQL_KVER_COLS ",priv FROM key_versions "                  \
                            "WHERE object_id=?1 AND version=?2")                                   \
    X(KVER_LIST, "SELECT " CF_SQL_KVER_COLS ",NULL FROM key_versions "                             \
                 "WHERE object_id=?1 AND seq>?2 ORDER BY seq LIMIT ?3")                            \
    X(KVER_LIST_PRIV, "SELECT " CF_SQL_KVER_COLS ",priv FROM key_versions "                        \
                      "WHERE object_id=?1 AND seq>?2 ORDER BY seq LIMIT ?3")                       \
    X(KVER_COUNT, "SELECT count(*) FROM key_versions WHERE object_id=?1")                          \
    X(KPOL_GET, "SELECT " CF_SQL_KPOL_COLS " FROM key_policies WHERE object_id=?1")                \
    X(KPOL_PUT, "INSERT INTO key_policies(" CF_SQL_KPOL_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7) "     \
                "ON CONFLICT(object_id) DO UPDATE SET rotate=excluded.rotate,"                     \
                "rotate_dur=excluded.rotate_dur,notify_dur=excluded.notify_dur,"                   \
                "expiry_time=excluded.expiry_time,updated=excluded.updated")                       \
    X(KPOL_ROTATING, "SELECT " CF_SQL_OBJ_COLS_O ",p.object_id,p.rotate,p.rotate_dur,"             \
                     "p.notify_dur,p.expiry_time,p.created,p.updated FROM key_policies p "         \
                     "JOIN key_objects o ON o.id=p.object_id "                                     \
                     "WHERE (p.rotate<>0 OR p.notify_dur<>'') AND o.deleted=0 "                    \
                     "AND p.object_id>?1 ORDER BY p.object_id LIMIT ?2")

#define CF_SQL_KVER_COLS                                                                           \
    "object_id,seq,version,kty,key_size,crv,key_ops,created,updated,enabled,exportable,managed,"   \
    "imported,nbf,exp,public_jwk,tags_json,release_policy"
#define CF_SQL_KVER_COLS_V                                                                         \
    "v.object_id,v.seq,v.version,v.kty,v.key_size,v.crv,v.key_ops,v.created,v.updated,v.enabled,"  \
    "v.exportable,v.managed,v.imported,v.nbf,v.exp,v.public_jwk,v.tags_json,v.release_policy"
#define CF_SQL_KPOL_COLS "object_id,rotate,rotate_dur,notify_dur,expiry_time,created,updated"

#define CF_SQL_ROLEDEF_COLS                                                                        \
    "id,name,description,assignable_scopes,permissions,created,updated"
#define CF_SQL_ROLEASG_COLS                                                                        \
    "id,scope,role_definition_id,principal_id,principal_type,created,created_by"
#define CF_SQL_VAULT_COLS                                                                          \
    "id,name,subscription,resource_group,location,tenant_id,sku,retention_days,soft_delete,"       \
    "purge_protection,rbac,for_deployment,for_disk_encryption,for_template_deployment,"            \
    "public_network_access,tags_json,access_policies_json,network_acls_json,created,updated,"      \
    "deleted_date,scheduled_purge,dek"
#define CF_SQL_OBJ_COLS                                                                            \
    "id,vault_id,name,name_lc,latest_seq,latest_version,deleted_date,scheduled_purge"
#define CF_SQL_OBJ_COLS_O                                                                          \
    "o.id,o.vault_id,o.name,o.name_lc,o.latest_seq,o.latest_version,o.deleted_date,"               \
    "o.scheduled_purge"
#define CF_SQL_OBJ_NCOLS 8
#define CF_SQL_VER_COLS                                                                            \
    "object_id,seq,version,prev_version,created,updated,enabled,nbf,exp,content_type,tags_json,"   \
    "managed,kid"
#define CF_SQL_VER_COLS_V                                                                          \
    "v.object_id,v.seq,v.version,v.prev_version,v.created,v.updated,v.enabled,v.nbf,v.exp,"        \
    "v.content_type,v.tags_json,v.managed,v.kid,NULL"

enum cf_sq_id {
#define CF_SQL_ENUM(id, sql) CF_SQ_##id,
    CF_SQL_TABLE(CF_SQL_ENUM)
#undef CF_SQL_ENUM
        CF_SQ_COUNT
};

/* One SQLite connection with its statement cache. Used by one thread at a time: the writer
 * thread owns the write connection; a read connection belongs to whoever took it from the pool. */
struct cf_sq_conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[CF_SQ_COUNT];
    struct cf_sq_conn *next_free; /* read pool free list */
};

struct cf_store_txn {
    struct cf_sq_conn *conn;
    bool writable;
};

/* The connection of a transaction. */
#define CF_SQ_DB(t) ((t)->conn->db)

/* Cached statement id, prepared on first use; NULL (and *err) on failure. */
sqlite3_stmt *cf_sq_stmt(struct cf_store_txn *t, enum cf_sq_id id, cf_err *err);
/* Resets and clears the statement (accepts NULL). */
void cf_sq_done(sqlite3_stmt *st);
/* Maps an SQLite result code to a Coffer error (SQLITE_FULL -> CF_EFULL, constraint ->
 * CF_EEXISTS, busy -> CF_EBUSY, anything else CF_ESTORE) and logs it with context. */
cf_err cf_sq_err(sqlite3 *db, int rc, const char *what);
/* One-off statements of the smaller tables (certs, diag, events, locks): prepared on each call
 * and finalized by the caller (or by cf_sq_change). NULL (and *err) on failure; what names
 * the table in the error log. */
sqlite3_stmt *cf_sq_prepare(struct cf_store_txn *t, const char *sql, const char *what,
                            cf_err *err);
/* Steps a one-off change statement and finalizes it; CF_ENOTFOUND when need_row and nothing
 * changed. */
cf_err cf_sq_change(struct cf_store_txn *t, sqlite3_stmt *st, const char *what, bool need_row);

/* Binding helpers: a NULL string binds SQL NULL. Return SQLite codes. */
int cf_sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Column helpers. cf_sq_col_cpy copies into a fixed array (truncating, NUL-terminated);
 * cf_sq_col_dup returns a malloc'd copy, NULL for SQL NULL; *err set on allocation failure. */
void cf_sq_col_cpy(sqlite3_stmt *st, int i, char *out, size_t outsz);
char *cf_sq_col_dup(sqlite3_stmt *st, int i, cf_err *err);
/* Steps a statement expected to change exactly one row (or any, if !need_row): CF_ENOTFOUND
 * when need_row and nothing changed. Always finishes the statement (cf_sq_done). */
cf_err cf_sq_step_change(struct cf_store_txn *t, sqlite3_stmt *st, const char *what,
                         bool need_row);
/* ASCII lower-case copy of in, truncated to outsz - 1 characters. */
void cf_sq_lower_copy(const char *in, char *out, size_t outsz);

/* Object rows (sqlite_obj.c): secret_objects and key_objects share their columns
 * (CF_SQL_OBJ_COLS) and their code; a table is named by its statements. The record is
 * struct cf_rec_secret_obj (store_vault.h); struct cf_rec_key_obj has the same layout. */
struct cf_rec_secret_obj;
struct cf_sq_objtab {
    enum cf_sq_id get, insert, update, set_latest, del;
    const char *kind; /* for error messages */
};
extern const struct cf_sq_objtab cf_sq_secret_objs, cf_sq_key_objs;
/* Columns of CF_SQL_OBJ_COLS starting at column `at`. */
void cf_sq_obj_from_row(sqlite3_stmt *st, int at, struct cf_rec_secret_obj *o);
cf_err cf_sq_obj_get(struct cf_store_txn *t, const struct cf_sq_objtab *tab, int64_t vault_id,
                     const char *name_lc, struct cf_rec_secret_obj *out);
cf_err cf_sq_obj_insert(struct cf_store_txn *t, const struct cf_sq_objtab *tab,
                        struct cf_rec_secret_obj *o);
cf_err cf_sq_obj_update(struct cf_store_txn *t, const struct cf_sq_objtab *tab,
                        const struct cf_rec_secret_obj *o);
cf_err cf_sq_obj_delete(struct cf_store_txn *t, const struct cf_sq_objtab *tab, int64_t id);

#endif

/* store_vault.h - the store's part of the vault domain: resource groups, vaults, secret objects
 * and their versions. Called only from src/vault/, always inside cf_store_read/cf_store_write
 * (write operations need a txn of cf_store_write: CF_EINVAL otherwise).
 *
 * These are plain record operations; the domain rules (soft-delete states, name reuse, purge
 * protection) live in src/vault/, which composes them inside one transaction. Because writes are
 * serialised by the single writer, a read-check-then-write inside one cf_store_write fn is
 * atomic.
 *
 * Records: fixed-size fields are arrays; variable text is malloc'd and owned by the record
 * (released by the matching _release, which accepts a zeroed record). Inputs are read, never
 * taken over. A record filled by a list callback is only valid during the callback.
 * Names: every *_lc argument is the lower-cased name (the caller lower-cases); names are stored
 * as first given and compared through their lower-case form.
 * Sealed values: `value` holds the sealed blob (nonce||ciphertext||tag) exactly as the vault
 * module produced it. The store never sees plaintext. */
#ifndef CF_STORE_VAULT_H
#define CF_STORE_VAULT_H

#include "base/cf.h"
#include "base/buf.h"
#include "store/store.h"

/* ---------------- resource groups (subscription, name case-insensitive) ---------------- */
struct cf_rec_group {
    char subscription[37];
    char name[91];
    char location[64];
    char *tags_json; /* owned; NULL is stored as "{}" */
    int64_t created;
};
void cf_rec_group_release(struct cf_rec_group *g);
/* Insert, or update location and tags of an existing group (name case and created kept).
 * *created tells which. */
cf_err cf_store_group_put(struct cf_store_txn *t, const struct cf_rec_group *g, bool *created);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_group_get(struct cf_store_txn *t, const char *sub, const char *name_lc,
                          struct cf_rec_group *out);
typedef cf_err (*cf_store_group_cb)(const struct cf_rec_group *g, void *arg);
/* In name order; a cb error stops the walk and is returned. */
cf_err cf_store_group_list(struct cf_store_txn *t, const char *sub, cf_store_group_cb cb,
                           void *arg);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_group_delete(struct cf_store_txn *t, const char *sub, const char *name_lc);

/* ---------------- vaults (name unique server-wide, case-insensitive, live or deleted) -------- */
struct cf_rec_vault {
    int64_t id; /* assigned by insert; never reused (AUTOINCREMENT) */
    char name[25];
    char subscription[37];
    char resource_group[91];
    char location[64];
    char tenant_id[37];
    char sku[16];
    int retention_days;
    bool soft_delete, purge_protection, rbac;
    bool for_deployment, for_disk_encryption, for_template_deployment;
    char public_network_access[16];
    char *tags_json;            /* owned; NULL stored as "{}" */
    char *access_policies_json; /* owned; NULL stored as "[]" */
    char *network_acls_json;    /* owned; may be NULL */
    int64_t created, updated;
    int64_t deleted_date, scheduled_purge; /* 0 when live */
    struct cf_buf dek;                     /* the data key wrapped by the master key */
};
void cf_rec_vault_release(struct cf_rec_vault *v);
/* Inserts v (v->id ignored) and sets *id. CF_EEXISTS if the name is taken (live or deleted). */
cf_err cf_store_vault_insert(struct cf_store_txn *t, const struct cf_rec_vault *v, int64_t *id);
/* Rewrites every column of the row v->id except name_lc and created. CF_ENOTFOUND if absent. */
cf_err cf_store_vault_update(struct cf_store_txn *t, const struct cf_rec_vault *v);
/* Live or deleted; the caller looks at deleted_date. CF_ENOTFOUND if absent. */
cf_err cf_store_vault_get_by_name(struct cf_store_txn *t, const char *name_lc,
                                  struct cf_rec_vault *out);
cf_err cf_store_vault_get_by_id(struct cf_store_txn *t, int64_t id, struct cf_rec_vault *out);
typedef cf_err (*cf_store_vault_cb)(const struct cf_rec_vault *v, void *arg);
/* Vaults in name order that are deleted (or live), filtered by subscription (NULL: all) and
 * resource group (lower-case; NULL: all of the subscription). */
cf_err cf_store_vault_list(struct cf_store_txn *t, bool deleted, const char *sub, const char *rg_lc,
                           cf_store_vault_cb cb, void *arg);
/* Destroys the vault row and, by cascade, its secret objects and versions. CF_ENOTFOUND if
 * absent. */
cf_err cf_store_vault_delete(struct cf_store_txn *t, int64_t id);
/* Rewrites only the wrapped data key of vault id (live or deleted): master-key rotation
 * re-wraps every vault's data key without touching anything else (updated stays). len > 0.
 * CF_ENOTFOUND if absent. */
cf_err cf_store_vault_set_dek(struct cf_store_txn *t, int64_t id, const void *dek, size_t len);
/* Fills ids/names (names[i] is 25 bytes) of up to max deleted vaults whose scheduled purge is
 * <= now; *n gets the count. */
cf_err cf_store_vault_expired(struct cf_store_txn *t, int64_t now, int64_t *ids, char (*names)[25],
                              size_t max, size_t *n);

/* ---------------- secrets: one object per (vault, name), versions numbered by seq --------- */
struct cf_rec_secret_obj {
    int64_t id; /* assigned by insert */
    int64_t vault_id;
    char name[CF_MAX_NAME_LEN + 1]; /* as first created */
    char name_lc[CF_MAX_NAME_LEN + 1];
    int64_t latest_seq; /* seq of the latest version (1 = first) */
    char latest_version[33];
    int64_t deleted_date, scheduled_purge; /* deleted_date != 0 <=> soft-deleted */
};

struct cf_rec_secret_ver {
    int64_t object_id;
    int64_t seq;
    char version[33];
    char prev_version[33]; /* "" if none */
    int64_t created, updated;
    bool enabled;
    int64_t nbf, exp;   /* 0 = unset */
    char *content_type; /* owned, NULL if unset */
    char *tags_json;    /* owned, NULL if never set */
    bool managed;
    char kid[256];
    struct cf_buf value; /* sealed; filled only when asked for (with_value) */
};
void cf_rec_secret_ver_release(struct cf_rec_secret_ver *v);

/* CF_ENOTFOUND if no object has that name in the vault (live or deleted). */
cf_err cf_store_secret_obj_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                               struct cf_rec_secret_obj *out);
/* cf_store_secret_obj_get and, in the same statement, the managed flag of the object's latest
 * version (false when that version is absent): a set's two reads in one. */
cf_err cf_store_secret_obj_get_managed(struct cf_store_txn *t, int64_t vault_id,
                                       const char *name_lc, struct cf_rec_secret_obj *out,
                                       bool *latest_managed);
/* Inserts o and sets o->id. CF_EEXISTS if the name exists. */
cf_err cf_store_secret_obj_insert(struct cf_store_txn *t, struct cf_rec_secret_obj *o);
/* Writes latest_seq, latest_version, deleted_date, scheduled_purge of row o->id. */
cf_err cf_store_secret_obj_update(struct cf_store_txn *t, const struct cf_rec_secret_obj *o);
/* Purges the object and all its versions. CF_ENOTFOUND if absent. */
cf_err cf_store_secret_obj_delete(struct cf_store_txn *t, int64_t id);

cf_err cf_store_secret_ver_insert(struct cf_store_txn *t, const struct cf_rec_secret_ver *v);
/* Rewrites updated, enabled, nbf, exp, content_type, tags_json, managed, kid of (object, seq). */
cf_err cf_store_secret_ver_update(struct cf_store_txn *t, const struct cf_rec_secret_ver *v);
/* By seq, or (version != NULL) by version string. CF_ENOTFOUND if absent. */
cf_err cf_store_secret_ver_get(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                               const char *version, bool with_value, struct cf_rec_secret_ver *out);
/* Only the managed flag of version seq of the object (a certificate's secret, certs.c): the
 * set path's check reads no value, tags or strings. CF_ENOTFOUND if absent. */
cf_err cf_store_secret_ver_managed(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                                   bool *managed);
cf_err cf_store_secret_ver_count(struct cf_store_txn *t, int64_t object_id, int64_t *n);

typedef cf_err (*cf_store_secret_cb)(const struct cf_rec_secret_obj *o,
                                     const struct cf_rec_secret_ver *v, void *arg);
/* Objects of the vault that are deleted (or live), name_lc > after_lc, in name order, at most
 * max, each with its latest version (no value). *more tells whether another object follows. */
cf_err cf_store_secret_list(struct cf_store_txn *t, int64_t vault_id, bool deleted,
                            const char *after_lc, int max, cf_store_secret_cb cb, void *arg,
                            bool *more);
/* Versions of an object with seq > after_seq in seq order, at most max (o is NULL in cb). */
cf_err cf_store_secret_list_versions(struct cf_store_txn *t, int64_t object_id, int64_t after_seq,
                                     int max, bool with_value, cf_store_secret_cb cb, void *arg,
                                     bool *more);
/* Purges up to max soft-deleted objects whose scheduled purge is <= now; *n gets the count. */
cf_err cf_store_secret_purge_expired(struct cf_store_txn *t, int64_t now, int max, int *n);

#endif

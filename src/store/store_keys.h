/* store_keys.h - the store's part of Key Vault keys: key objects, their versions and rotation
 * policies. Called only from src/vault/keys.c, always inside cf_store_read/cf_store_write
 * (write operations need a txn of cf_store_write: CF_EINVAL otherwise).
 *
 * Same conventions as store_vault.h: plain record operations (the domain rules live in
 * src/vault/); fixed-size fields are arrays, variable text is malloc'd and owned by the record
 * (released by the matching _release, which accepts a zeroed record); inputs are read, never
 * taken over; a record handed to a list callback is valid only during the callback; *_lc
 * arguments are lower-cased names (the caller lower-cases).
 * Key material: `priv` holds the private key blob sealed by the vault module (nonce||ct||tag);
 * the store never sees it in clear. `public_jwk` is the public part as a JSON object text (it
 * is public, so GET needs no unseal).
 * A vault's purge removes its keys by cascade; a key object's purge removes its versions and
 * its rotation policy by cascade. */
#ifndef CF_STORE_KEYS_H
#define CF_STORE_KEYS_H

#include "base/cf.h"
#include "base/buf.h"
#include "store/store.h"

/* ---------------- key objects: one per (vault, name), versions numbered by seq ---------- */
struct cf_rec_key_obj {
    int64_t id; /* assigned by insert */
    int64_t vault_id;
    char name[CF_MAX_NAME_LEN + 1]; /* as first created */
    char name_lc[CF_MAX_NAME_LEN + 1];
    int64_t latest_seq; /* seq of the latest version (1 = first) */
    char latest_version[33];
    int64_t deleted_date, scheduled_purge; /* deleted_date != 0 <=> soft-deleted */
};

struct cf_rec_key_ver {
    int64_t object_id;
    int64_t seq;
    char version[33];
    char kty[16];     /* "RSA", "EC", "oct" (an -HSM type once HSMs exist) */
    int key_size;     /* RSA modulus / oct bits; 0 for EC */
    char crv[16];     /* EC curve name ("P-256"...), "" otherwise */
    unsigned key_ops; /* bit set of CF_KEY_OP_* (vault.h) */
    int64_t created, updated;
    bool enabled, exportable, managed, imported;
    int64_t nbf, exp;     /* 0 = unset */
    char *public_jwk;     /* owned: JSON object of the public members (n,e / crv,x,y / {}) */
    char *tags_json;      /* owned, NULL if never set */
    char *release_policy; /* owned JSON object text, NULL if none */
    struct cf_buf priv;   /* sealed private key; filled only when asked for (with_priv) */
};
void cf_rec_key_ver_release(struct cf_rec_key_ver *v);

/* CF_ENOTFOUND if no key object has that name in the vault (live or deleted). */
cf_err cf_store_key_obj_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                            struct cf_rec_key_obj *out);
/* Inserts o and sets o->id. CF_EEXISTS if the name exists. */
cf_err cf_store_key_obj_insert(struct cf_store_txn *t, struct cf_rec_key_obj *o);
/* Writes latest_seq, latest_version, deleted_date, scheduled_purge of row o->id. */
cf_err cf_store_key_obj_update(struct cf_store_txn *t, const struct cf_rec_key_obj *o);
/* Purges the object, all its versions and its rotation policy. CF_ENOTFOUND if absent. */
cf_err cf_store_key_obj_delete(struct cf_store_txn *t, int64_t id);

cf_err cf_store_key_ver_insert(struct cf_store_txn *t, const struct cf_rec_key_ver *v);
/* Rewrites updated, enabled, nbf, exp, exportable, key_ops, tags_json, release_policy of
 * (object, seq). CF_ENOTFOUND if absent. */
cf_err cf_store_key_ver_update(struct cf_store_txn *t, const struct cf_rec_key_ver *v);
/* By seq, or (version != NULL) by version string. CF_ENOTFOUND if absent. */
cf_err cf_store_key_ver_get(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                            const char *version, bool with_priv, struct cf_rec_key_ver *out);
cf_err cf_store_key_ver_count(struct cf_store_txn *t, int64_t object_id, int64_t *n);

typedef cf_err (*cf_store_key_cb)(const struct cf_rec_key_obj *o, const struct cf_rec_key_ver *v,
                                  void *arg);
/* Objects of the vault that are deleted (or live), name_lc > after_lc, in name order, at most
 * max, each with its latest version (no private part). *more tells whether another follows. */
cf_err cf_store_key_list(struct cf_store_txn *t, int64_t vault_id, bool deleted,
                         const char *after_lc, int max, cf_store_key_cb cb, void *arg, bool *more);
/* Versions of an object with seq > after_seq in seq order, at most max (o is NULL in cb). */
cf_err cf_store_key_list_versions(struct cf_store_txn *t, int64_t object_id, int64_t after_seq,
                                  int max, bool with_priv, cf_store_key_cb cb, void *arg,
                                  bool *more);
/* Purges up to max soft-deleted key objects whose scheduled purge is <= now; *n the count. */
cf_err cf_store_key_purge_expired(struct cf_store_txn *t, int64_t now, int max, int *n);
/* Fills out[0..*n) with up to max soft-deleted key objects whose scheduled purge is <= now
 * (oldest first): the vault module purges them one by one when it must see each one go (HSM
 * keys release their token objects). */
cf_err cf_store_key_list_expired(struct cf_store_txn *t, int64_t now, struct cf_rec_key_obj *out,
                                 int max, int *n);

/* ---------------- rotation policies (at most one per key object) ---------------- */
enum cf_rec_rotate {
    CF_REC_ROTATE_NONE = 0,
    CF_REC_ROTATE_AFTER_CREATE = 1,
    CF_REC_ROTATE_BEFORE_EXPIRY = 2
};
struct cf_rec_key_policy {
    int64_t object_id;
    int rotate;           /* enum cf_rec_rotate: the trigger of the Rotate action, if any */
    char rotate_dur[40];  /* its ISO-8601 duration, "" when rotate is NONE */
    char notify_dur[40];  /* timeBeforeExpiry of the Notify action, "" when none */
    char expiry_time[40]; /* attributes.expiryTime, "" when unset */
    int64_t created, updated;
};
/* CF_ENOTFOUND when the object has no policy. */
cf_err cf_store_key_policy_get(struct cf_store_txn *t, int64_t object_id,
                               struct cf_rec_key_policy *out);
/* Insert or replace (created is kept from the first insert). */
cf_err cf_store_key_policy_put(struct cf_store_txn *t, const struct cf_rec_key_policy *p);
typedef cf_err (*cf_store_key_policy_cb)(const struct cf_rec_key_obj *o,
                                         const struct cf_rec_key_policy *p, void *arg);
/* Policies with a Rotate or a Notify action of live objects, object id > after_id in id
 * order, at most max, each with its object (the janitor's walk). *more tells whether another
 * follows. */
cf_err cf_store_key_policy_list_rotating(struct cf_store_txn *t, int64_t after_id, int max,
                                         cf_store_key_policy_cb cb, void *arg, bool *more);

#endif

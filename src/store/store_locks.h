/* store_locks.h - the store's part of management locks (Microsoft.Authorization/locks,
 * azure-kv-security-ops.md §9). Called only from src/vault/locks.c, always inside
 * cf_store_read/cf_store_write (writes need a txn of cf_store_write: CF_EINVAL otherwise).
 *
 * A lock is keyed by (scope, name_lc). `scope` is the normalised resource id it sits on, lower
 * case, no trailing slash: "/subscriptions/{s}", "/subscriptions/{s}/resourcegroups/{g}" or
 * "/subscriptions/{s}/resourcegroups/{g}/providers/microsoft.keyvault/vaults/{v}"; the domain
 * builds it, the store only compares it. Plain record operations: which locks cover what is
 * decided in src/vault/locks.c.
 *
 * Records: fixed-size fields are arrays; notes and owners_json are malloc'd and owned by the
 * record (released by cf_rec_lock_release, which accepts a zeroed record). Inputs are read,
 * never taken over. A record handed to a list callback is valid only during the callback. */
#ifndef CF_STORE_LOCKS_H
#define CF_STORE_LOCKS_H

#include "base/cf.h"
#include "store/store.h"

/* The longest vault scope is 219 bytes with its NUL: the same bound as vault.h's
 * CF_VAULT_SCOPE_MAX (locks.c asserts they agree). */
#define CF_STORE_LOCK_SCOPE_MAX 224
/* ARM: lock names up to 260 characters. */
#define CF_STORE_LOCK_NAME_MAX 260

struct cf_rec_lock {
    char scope[CF_STORE_LOCK_SCOPE_MAX];
    char name[CF_STORE_LOCK_NAME_MAX + 1]; /* as first created */
    int level;                             /* 1 CanNotDelete, 2 ReadOnly */
    char *notes;                           /* owned; NULL is stored as "" */
    char *owners_json;                     /* owned JSON array text; NULL is stored as "[]" */
    int64_t created, updated;
};
void cf_rec_lock_release(struct cf_rec_lock *l);

/* Insert, or update level, notes, owners and updated of an existing lock (name case and
 * created kept). *created tells which. */
cf_err cf_store_lock_put(struct cf_store_txn *t, const struct cf_rec_lock *l, bool *created);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_lock_get(struct cf_store_txn *t, const char *scope, const char *name_lc,
                         struct cf_rec_lock *out);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_lock_delete(struct cf_store_txn *t, const char *scope, const char *name_lc);

typedef cf_err (*cf_store_lock_cb)(const struct cf_rec_lock *l, void *arg);
/* Locks exactly at scope, in name order. A cb error stops the walk and is returned. */
cf_err cf_store_lock_list_at(struct cf_store_txn *t, const char *scope, cf_store_lock_cb cb,
                             void *arg);
/* Locks at scope and at every scope below it ("/subscriptions/s/resourcegroups/g" covers
 * ".../g/providers/..." but not ".../g2"), in (scope, name) order. */
cf_err cf_store_lock_list_subtree(struct cf_store_txn *t, const char *scope, cf_store_lock_cb cb,
                                  void *arg);

#endif

/* vault_int.h - internals shared by the vault module's files (svc.c, vaults.c, secrets.c,
 * backup.c). Not part of the contract.
 *
 * Cache invariant: an entry exists only for a vault that was live when it was read, and every
 * change to a vault (update, delete, purge, recover) removes the entry and bumps `gen` AFTER the
 * change committed. A reader that missed the cache remembers `gen` before its store read and
 * inserts its result only if `gen` is unchanged, so a stale row can never be cached after an
 * invalidation that raced with it. */
#ifndef CF_VAULT_INT_H
#define CF_VAULT_INT_H

#include "base/cf.h"

#include <pthread.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "store/store_vault.h"
#include "vault/vault.h"

#define CF_VAULT_CACHE_BUCKETS 256
#define CF_VAULT_NAME_MAX 24
#define CF_VAULT_VERID_POOL 1600 /* 160 version ids per cf_random call */

struct cf_vault_cache_entry {
    struct cf_vault_cache_entry *next;
    char name_lc[CF_VAULT_NAME_MAX + 1];
    struct cf_vault_ref ref;
    bool dek_ready;
    unsigned char dek[CF_AEAD_KEY_LEN]; /* unwrapped data key when dek_ready; wiped on removal */
    struct cf_vault_guard *guard;       /* compiled access policies and network rules */
};

/* guard.c: a vault's access policies and network rules, compiled from its record. */
struct cf_vault_guard;
cf_err cf_vault_guard_compile(const struct cf_rec_vault *rec, struct cf_vault_guard **out);
void cf_vault_guard_free(struct cf_vault_guard *g);
bool cf_vault_guard_net_restricted(const struct cf_vault_guard *g);
enum cf_vault_net cf_vault_guard_net(const struct cf_vault_guard *g, const char *ip);
bool cf_vault_guard_policy(const struct cf_vault_guard *g, const struct cf_vault_caller *c,
                           const char *permission);

/* scache.c: the latest version of live secrets, sealed (see the invariant there). */
struct cf_scache;
#define CF_SCACHE_SLOTS 4096
struct cf_scache *cf_scache_new(size_t slots);
void cf_scache_free(struct cf_scache *c);
/* On a hit fills *obj and *ver (ver's strings and sealed value are the caller's; ver->value
 * must be initialised) and returns true. *gen is the generation to pass to cf_scache_put after
 * a miss. version "" means the latest. */
bool cf_scache_get(struct cf_scache *c, int64_t vault_id, const char *name_lc,
                   const char *version, bool want_value, struct cf_rec_secret_obj *obj,
                   struct cf_rec_secret_ver *ver, uint64_t *gen);
void cf_scache_put(struct cf_scache *c, uint64_t gen, const struct cf_rec_secret_obj *obj,
                   const struct cf_rec_secret_ver *ver);
/* Call after every committed (or attempted) write to the name. */
void cf_scache_forget(struct cf_scache *c, int64_t vault_id, const char *name_lc);

/* kcache.c: opened key versions (see the invariant there; the rest of its API is in
 * keys_int.h). drop_vault removes every entry of a vault (lower-case name) and is called with
 * every vault-cache invalidation, i.e. whenever the vault's data key leaves memory. */
struct cf_kcache;
#define CF_KCACHE_ENTRIES 1024
struct cf_kcache *cf_kcache_new(size_t entries);
void cf_kcache_free(struct cf_kcache *c);
void cf_kcache_drop_vault(struct cf_kcache *c, const char *vault_lc);

struct cf_vault_svc {
    struct cf_store *store;
    struct cf_scache *scache;
    struct cf_kcache *kcache;
    const struct cf_clock *clock;
    struct cf_hsm *hsm; /* HSM-protected keys (keys.c); set once before serving, or NULL */
    const struct cf_vault_hsm_ops *hsm_ops;
    cf_vault_hsm_import_fn hsm_import; /* certificate imports onto the token (cert_hsm.c) */
    /* Master-key rotation (cf_vault_svc_rewrap). master_key wraps the data keys; it, other_key,
     * other_ready and key_epoch are read and written under `lock` only (copy them out).
     * other_ready: a rotation is in its window (from the moment the writer thread re-wrapped
     * the rows, before their commit, until the caller knows the outcome) and a stored data key
     * may be wrapped under other_key instead; readers try both. key_epoch grows with every
     * change of the pair, so a reader whose store read raced a change tries again. */
    unsigned char master_key[32];
    unsigned char other_key[32];
    bool other_ready;
    uint64_t key_epoch;
    pthread_mutex_t rotate_mu; /* one rotation at a time */
    unsigned char backup_key[CF_AEAD_KEY_LEN]; /* HKDF(derivation root, "coffer backup v1") */
    /* change events (vault.h): set once before serving, read on the writer thread */
    cf_vault_event_fn event_fn;
    void *event_ctx;
    int cert_month_s; /* cf_vault_certs_set_month (test only); 0: 365/12 days */
    int notify_days;  /* cf_vault_keys_set_notify_lead: implicit policy's Notify; 0: 30, <0: none */
    pthread_rwlock_t lock; /* guards buckets, gen and the master-key fields above */
    struct cf_vault_cache_entry *buckets[CF_VAULT_CACHE_BUCKETS];
    uint64_t gen;
    /* Random bytes for new version ids (cf_vault_version_id), drawn from cf_random a pool at a
     * time: one DRBG call costs about 1 µs however few bytes it returns, and a version id is
     * public (its 80 random bits only keep it unique). verid_left bytes at the end of the pool
     * are unused (0 = refill; calloc'd). Both under verid_mu. */
    pthread_mutex_t verid_mu;
    size_t verid_left;
    unsigned char verid_pool[CF_VAULT_VERID_POOL];
};

/* A new version id (32 lowercase hex): 12 hex of now_ms, then 20 hex of random bits from the
 * svc's pool (see secrets.c for why this layout). Any thread. */
cf_err cf_vault_version_id(struct cf_vault_svc *svc, int64_t now_ms,
                           char out[CF_VERSION_HEX_LEN + 1]);

/* Calls the event sink (vault.h) from inside a write fn; CF_OK when there is none. */
cf_err cf_vault_emit(struct cf_vault_svc *svc, struct cf_store_txn *t, const char *type,
                     int64_t vault_id, const char *vault_name, const char *object_type,
                     const char *object_name, const char *version, int64_t nbf, int64_t exp);

/* Unix seconds now. Never 0, so that deleted_date != 0 always means "deleted". */
int64_t cf_vault_now(const struct cf_vault_svc *svc);

/* Drops the cache entry of a vault (lower-case name) after a committed change. */
void cf_vault_cache_invalidate(struct cf_vault_svc *svc, const char *name_lc);
/* Copies the unwrapped data key of the live vault v into dek (wipe it after use). Loads and
 * unwraps it from the store on a miss. CF_ENOTFOUND if the vault is gone. */
cf_err cf_vault_dek(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                    unsigned char dek[CF_AEAD_KEY_LEN]);
/* The data key of vault id (live or deleted) read inside the transaction t (a purge about to
 * remove the vault's rows); wipe it after use. */
cf_err cf_vault_dek_txn(struct cf_store_txn *t, struct cf_vault_svc *svc, int64_t vault_id,
                        unsigned char dek[CF_AEAD_KEY_LEN]);
/* Wraps a fresh data key for vault id into out (the sealed form stored with the vault). */
cf_err cf_vault_dek_new(struct cf_vault_svc *svc, int64_t vault_id, struct cf_buf *out);

/* AAD "secret\0<vault id>\0<name_lc>\0<version>" into out; returns its length. */
#define CF_SECRET_AAD_MAX (7 + 21 + CF_MAX_NAME_LEN + 1 + 33)
size_t cf_secret_aad(char out[CF_SECRET_AAD_MAX], int64_t vault_id, const char *name_lc,
                     const char *version);

/* Fills m from store records, borrowing v's strings (m must then not be released). */
void cf_secret_meta_fill(struct cf_secret_meta *m, const struct cf_rec_secret_obj *o,
                         const struct cf_rec_secret_ver *v);
/* Same, moving v's strings into m (m owns them; v keeps none). */
void cf_secret_meta_take(struct cf_secret_meta *m, const struct cf_rec_secret_obj *o,
                         struct cf_rec_secret_ver *v);
/* Validates and lower-cases an object name (CF_EBADNAME). */
cf_err cf_secret_name_lc(struct cf_str name, char out[CF_MAX_NAME_LEN + 1]);

#endif

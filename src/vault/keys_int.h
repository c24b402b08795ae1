/* keys_int.h - internals shared by keys.c and keys_backup.c. Not part of the contract. */
#ifndef CF_VAULT_KEYS_INT_H
#define CF_VAULT_KEYS_INT_H

#include "base/cf.h"

#include "store/store_keys.h"
#include "vault/vault_int.h"

#define PRIV_MAX (16 * 1024) /* a sealed private key (RSA-4096 PKCS#8 ~2.4 KB) */
#define JWK_MAX (4 * 1024)   /* public members of an RSA-4096 key ~0.7 KB */
#define KEY_AAD_MAX (4 + 21 + CF_MAX_NAME_LEN + 1 + 33)

/* The state of one operation on one name. */
struct cf_key_ctx {
    struct cf_vault_svc *svc;
    const struct cf_vault_ref *v;
    char name_lc[CF_MAX_NAME_LEN + 1];
    struct cf_str name;
    char version[CF_VERSION_HEX_LEN + 1]; /* "" = latest */
    const struct cf_key_input *in;
    int64_t now;
    bool with_priv;
    struct cf_rec_key_obj obj;
    struct cf_rec_key_ver ver;
    struct cf_rec_key_policy pol;
    bool has_pol;
    char *why; /* update's message buffer */
    size_t whysz;
    const unsigned char *hsm_id; /* a new HSM version's token handle (its reference is taken
                                    in the write that adds the version), else NULL */
    struct cf_key_hsm_gone *hsm_gone; /* purge: token objects to destroy after the commit */
};

struct cf_key_hsm_gone;

/* kcache.c: one cached key version, immutable once built and shared by reference count. */
struct cf_kcache_ent {
    unsigned refs; /* atomic: the table's reference and one per user */
    int64_t vault_id;
    char vault_lc[CF_VAULT_NAME_MAX + 1];
    struct cf_rec_key_obj obj; /* as read with the version (latest_seq then) */
    struct cf_rec_key_ver ver; /* attributes; the texts only when meta; never priv */
    bool meta;                 /* the texts are here: GET can be served */
    struct cf_kvkey *key;      /* the opened private key, or NULL (metadata only) */
};
enum cf_kcache_want { CF_KCACHE_KEY, CF_KCACHE_META };
/* A new entry (one reference, the caller's) from records of the live vault v, copying what it
 * keeps; takes key (may be NULL) only on success. */
cf_err cf_kcache_ent_new(const struct cf_vault_ref *v, const struct cf_rec_key_obj *obj,
                         const struct cf_rec_key_ver *ver, struct cf_kvkey *key,
                         struct cf_kcache_ent **out);
/* The cached entry of (vault, name) at version ("" = the latest) that has what want asks for,
 * with a reference for the caller (cf_kcache_unref), or NULL. *gen is the generation to pass to
 * cf_kcache_put after a miss; read it before the store read. */
struct cf_kcache_ent *cf_kcache_get(struct cf_kcache *c, int64_t vault_id, const char *name_lc,
                                    const char *version, enum cf_kcache_want want, uint64_t *gen);
/* Caches e (adding the table's own reference) unless the generation moved since gen. */
void cf_kcache_put(struct cf_kcache *c, uint64_t gen, struct cf_kcache_ent *e);
void cf_kcache_unref(struct cf_kcache_ent *e);
/* Call after every committed (or attempted) write to the name: drops its versions. */
void cf_kcache_forget(struct cf_kcache *c, int64_t vault_id, const char *name_lc);
/* Entries cached now (tests). */
size_t cf_kcache_count(struct cf_kcache *c);

/* Validates the name (CF_EBADNAME) and fills the common fields; release with _release even on
 * failure. */
cf_err cf_key_ctx_init(struct cf_key_ctx *c, struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                       struct cf_str name);
void cf_key_ctx_release(struct cf_key_ctx *c);
/* c->obj for the name, live (or soft-deleted when want_deleted); CF_ENOTFOUND otherwise. */
cf_err cf_key_find_obj(struct cf_store_txn *t, struct cf_key_ctx *c, bool want_deleted);
/* AAD "key\0<vault id>\0<name_lc>\0<version>" of a sealed private key; returns its length. */
size_t cf_key_aad(char out[KEY_AAD_MAX], int64_t vault_id, const char *name_lc,
                  const char *version);
/* HSM-protected versions (kty "RSA-HSM", "EC-HSM", "oct-HSM") keep in priv, sealed like a
 * private key, HSM_TAG followed by the token handle (CF_VAULT_HSM_ID_LEN bytes). */
#define HSM_TAG "CFH\x01"
#define HSM_TAG_LEN 4
#define HSM_BLOB_LEN (HSM_TAG_LEN + CF_VAULT_HSM_ID_LEN)
bool cf_key_kty_is_hsm(const char *kty);

/* keys_hsm.c: reference counts of token objects. Every version row holding a token handle
 * holds one reference (meta "hsm.ref.<hex of SHA-256("coffer hsm ref v1" | id), 16 bytes>",
 * decimal count): a restored copy of an HSM key shares its source's token object, so an
 * object is destroyed only when the last row holding it is purged. All inside a write txn.
 * _ref: count += delta; CF_ENOTFOUND when delta > 0, must_exist and no row (the object was
 * destroyed, or predates counting); a missing row counts 1 before a decrement (versions made
 * before counting). *left: the count after. */
cf_err cf_key_hsm_ref(struct cf_store_txn *t, const unsigned char id[CF_VAULT_HSM_ID_LEN], int delta,
                      bool must_exist, int64_t *left);
/* Token objects whose last reference went: destroy them after the commit. */
struct cf_key_hsm_gone {
    unsigned char (*ids)[CF_VAULT_HSM_ID_LEN];
    size_t n, cap;
};
/* Releases the references of every HSM version of key object o (about to be deleted in this
 * same txn); ids that reach 0 go to gone. */
cf_err cf_key_hsm_release_object(struct cf_store_txn *t, struct cf_vault_svc *svc,
                                 const struct cf_rec_key_obj *o, struct cf_key_hsm_gone *gone);
/* The same for every key object (live and deleted) of vault_id (a vault purge). */
cf_err cf_key_hsm_release_vault(struct cf_store_txn *t, struct cf_vault_svc *svc, int64_t vault_id,
                                struct cf_key_hsm_gone *gone);
/* After the commit: destroys the objects (warns for those the token refuses; without a token,
 * warns that they stay) and releases gone. */
void cf_key_hsm_destroy_gone(struct cf_vault_svc *svc, struct cf_key_hsm_gone *gone);
/* After a failed write: forgets gone. */
void cf_key_hsm_gone_release(struct cf_key_hsm_gone *gone);

/* Fills m from records, moving v's strings into m. */
void cf_key_meta_take(struct cf_key_meta *m, const struct cf_rec_key_obj *o,
                      struct cf_rec_key_ver *v);

#endif

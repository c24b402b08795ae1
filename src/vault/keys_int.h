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
};

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
/* Fills m from records, moving v's strings into m. */
void cf_key_meta_take(struct cf_key_meta *m, const struct cf_rec_key_obj *o,
                      struct cf_rec_key_ver *v);

#endif

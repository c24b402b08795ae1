/* certs_int.h - internals of the certificates domain (certs.c) and its key-side helpers
 * (keys_import_int.c). Not part of the contract. */
#ifndef CF_VAULT_CERTS_INT_H
#define CF_VAULT_CERTS_INT_H

#include "base/cf.h"

#include "store/store_keys.h"
#include "vault/vault_int.h"

/* A key version record for k (public JWK, sealed private key, type, managed) with the given
 * version id, ready for cf_key_cert_insert_txn. Release with cf_rec_key_ver_release. */
cf_err cf_key_cert_version(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           const char *name_lc, const char *version, const struct cf_kvkey *k,
                           unsigned key_ops, struct cf_rec_key_ver *out);
/* In a write txn: ver becomes the name's latest key version (the object is created when
 * absent). CF_EDELETED when the key name is soft-deleted, CF_EEXISTS when it holds a key no
 * certificate owns. Call cf_key_cert_forget after the commit. */
cf_err cf_key_cert_insert_txn(struct cf_store_txn *t, int64_t vault_id, const char *name,
                              const char *name_lc, struct cf_rec_key_ver *ver);
/* Opens the private key of (name, version). */
cf_err cf_key_cert_open_txn(struct cf_store_txn *t, struct cf_vault_svc *svc,
                            const struct cf_vault_ref *v, const char *name_lc, const char *version,
                            struct cf_kvkey **out);
/* Soft-deletes (deleted_date != 0), recovers (0) or purges the key object of the name; CF_OK
 * when there is none. */
cf_err cf_key_cert_mark_txn(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                            int64_t deleted_date, int64_t scheduled_purge, bool purge);
void cf_key_cert_forget(struct cf_vault_svc *svc, int64_t vault_id, const char *name_lc);

/* keys_managed.c: CF_EFORBIDDEN when the name's latest key version (live or soft-deleted) is a
 * certificate's ("managed"); CF_OK when it is not or there is no key. For keys.c's write paths:
 * the keys API never changes a certificate's key. */
cf_err cf_key_refuse_managed(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             const char *name_lc);

/* ca.c: the private CA's signature on csr for [not_before, not_after) (not_after clamped to
 * the root's); appends leaf then root to chain. CF_ENOTFOUND when the server has no CA. */
cf_err cf_ca_issue(struct cf_vault_svc *svc, const void *csr, size_t csr_len, int64_t not_before,
                   int64_t not_after, struct cf_buf *chain);

/* certs.c, for certs_acme.c: the end of an issuer-backed order. complete: chain (DER, leaf
 * first; the leaf's key must be the operation's) becomes the new version and the operation
 * reads "completed"; fail: it reads "failed" with message. Both CF_ENOTFOUND unless the
 * operation is inProgress with that request_id. */
cf_err cf_cert_complete_order(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                              struct cf_str name, const char *request_id, struct cf_str chain,
                              char *why, size_t whysz);
cf_err cf_cert_fail_order(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, const char *request_id, const char *message);
/* A stored policy's JSON text into p (CF_ECORRUPT when it does not parse). */
cf_err cf_cert_policy_parse(const char *text, struct cf_cert_policy *p);

#endif

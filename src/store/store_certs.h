/* store_certs.h - the store's part of Key Vault certificates: certificate objects (with their
 * policy), versions (the X.509 DER, its chain and the versions of the key and secret the
 * certificate owns), the pending operation of each object, the vault's certificate contacts
 * and issuers. Called only from src/vault/certs.c inside cf_store_read / cf_store_write (write
 * operations need a writable txn: CF_EINVAL otherwise).
 *
 * Conventions of store_keys.h: plain record operations; fixed-size fields are arrays, variable
 * text and blobs are owned by the record (released by the matching _release, which accepts a
 * zeroed record); inputs are read, never taken over; list callbacks see records valid only
 * during the call; *_lc arguments are lower-cased by the caller. Sealed blobs (a pending key,
 * issuer credentials) come sealed from the vault module: the store never sees them in clear.
 * A vault's purge removes all of it by cascade; an object's purge removes its versions and
 * its pending operation. */
#ifndef CF_STORE_CERTS_H
#define CF_STORE_CERTS_H

#include "base/cf.h"
#include "base/buf.h"
#include "store/store.h"

#define CF_STORE_CERT_DER_MAX (16 * 1024)    /* one certificate */
#define CF_STORE_CERT_CHAIN_MAX (96 * 1024)  /* the chain, leaf first (concatenated DER) */
#define CF_STORE_CERT_SEALED_MAX (20 * 1024) /* a sealed pending key or issuer credentials */
#define CF_STORE_ISSUER_NAME_MAX 127

/* ---------------- objects: one per (vault, name) ---------------- */
struct cf_rec_cert_obj {
    int64_t id; /* assigned by insert */
    int64_t vault_id;
    char name[CF_MAX_NAME_LEN + 1];
    char name_lc[CF_MAX_NAME_LEN + 1];
    int64_t latest_seq; /* 0 while no version was issued yet (a pending first create) */
    char latest_version[33];
    int64_t deleted_date, scheduled_purge; /* deleted_date != 0 <=> soft-deleted */
    char *policy;                          /* owned: the policy's JSON text */
    int64_t policy_created, policy_updated;
};
void cf_rec_cert_obj_release(struct cf_rec_cert_obj *o);

struct cf_rec_cert_ver {
    int64_t object_id;
    int64_t seq;
    char version[33];
    int64_t created, updated;
    bool enabled;
    int64_t nbf, exp;       /* the X.509 validity */
    char x5t[32];           /* base64url SHA-1 thumbprint */
    struct cf_buf cer;      /* leaf DER */
    struct cf_buf chain;    /* every certificate, leaf first */
    char *tags_json;        /* owned, NULL if never set */
    char key_version[33];   /* the key version (kid) and secret version (sid) it owns */
    char secret_version[33];
    bool preserve_order;
};
/* Initialises the buffers (call before filling one to insert). */
void cf_rec_cert_ver_init(struct cf_rec_cert_ver *v);
void cf_rec_cert_ver_release(struct cf_rec_cert_ver *v);

/* CF_ENOTFOUND if no object has the name (live or deleted). */
cf_err cf_store_cert_obj_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                             struct cf_rec_cert_obj *out);
/* Inserts o and sets o->id. CF_EEXISTS if the name exists. */
cf_err cf_store_cert_obj_insert(struct cf_store_txn *t, struct cf_rec_cert_obj *o);
/* Rewrites every field but id, vault_id and the names. CF_ENOTFOUND if absent. */
cf_err cf_store_cert_obj_update(struct cf_store_txn *t, const struct cf_rec_cert_obj *o);
/* Purges the object with its versions and pending operation. CF_ENOTFOUND if absent. */
cf_err cf_store_cert_obj_delete(struct cf_store_txn *t, int64_t id);

cf_err cf_store_cert_ver_insert(struct cf_store_txn *t, const struct cf_rec_cert_ver *v);
/* Rewrites updated, enabled, tags_json of (object, seq). CF_ENOTFOUND if absent. */
cf_err cf_store_cert_ver_update(struct cf_store_txn *t, const struct cf_rec_cert_ver *v);
/* By seq, or (version != NULL) by version. with_der: fill cer and chain. CF_ENOTFOUND if absent. */
cf_err cf_store_cert_ver_get(struct cf_store_txn *t, int64_t object_id, int64_t seq,
                             const char *version, bool with_der, struct cf_rec_cert_ver *out);

typedef cf_err (*cf_store_cert_cb)(const struct cf_rec_cert_obj *o,
                                   const struct cf_rec_cert_ver *v, void *arg);
/* Objects of the vault that are deleted (or live) and have a version, name_lc > after_lc, in
 * name order, at most max, each with its latest version (with x5t, without DER). */
cf_err cf_store_cert_list(struct cf_store_txn *t, int64_t vault_id, bool deleted,
                          const char *after_lc, int max, cf_store_cert_cb cb, void *arg,
                          bool *more);
/* Versions with seq > after_seq in seq order, at most max (o is NULL in cb; with_der as get). */
cf_err cf_store_cert_list_versions(struct cf_store_txn *t, int64_t object_id, int64_t after_seq,
                                   int max, bool with_der, cf_store_cert_cb cb, void *arg,
                                   bool *more);
/* Live objects of every vault with a version, id > after_id in id order, at most max, with
 * their latest version without DER (the renewal walk). */
cf_err cf_store_cert_list_all(struct cf_store_txn *t, int64_t after_id, int max,
                              cf_store_cert_cb cb, void *arg, bool *more);
/* Live objects of every vault whose pending operation is "inProgress", id > after_id in id
 * order, at most max (the walk of issuer-backed operations, e.g. ACME orders). */
typedef cf_err (*cf_store_cert_obj_cb)(const struct cf_rec_cert_obj *o, void *arg);
cf_err cf_store_cert_list_in_progress(struct cf_store_txn *t, int64_t after_id, int max,
                                      cf_store_cert_obj_cb cb, void *arg, bool *more);
/* Live objects of vault_id with no version yet (latest_seq 0) that have a pending operation,
 * whatever its status (inProgress, cancelled, failed), name_lc > after_lc in name order, at
 * most max (includePending on the certificate list). */
cf_err cf_store_cert_list_pending_only(struct cf_store_txn *t, int64_t vault_id,
                                       const char *after_lc, int max, cf_store_cert_obj_cb cb,
                                       void *arg, bool *more);
/* Purges up to max soft-deleted objects whose scheduled purge is <= now; *n the count. */
cf_err cf_store_cert_purge_expired(struct cf_store_txn *t, int64_t now, int max, int *n);

/* ---------------- the pending operation (at most one per object) ---------------- */
struct cf_rec_cert_pending {
    int64_t object_id;
    char request_id[33];
    char status[16];       /* "inProgress" | "completed" | "failed" | "cancelled" */
    char *status_details;  /* owned, NULL when none */
    char *error_json;      /* owned, {"code","message"} when failed */
    bool cancel_requested;
    char *issuer_json;     /* owned: the operation's issuer object {"name":..} */
    struct cf_buf csr;     /* PKCS#10 DER */
    struct cf_buf priv;    /* the sealed pending private key (CSR flow), empty otherwise */
    char *input_json;      /* owned: attributes/tags/preserveCertOrder of the create */
    char target_version[33]; /* the issued version when completed */
    int64_t created, updated;
};
void cf_rec_cert_pending_init(struct cf_rec_cert_pending *p);
void cf_rec_cert_pending_release(struct cf_rec_cert_pending *p);
cf_err cf_store_cert_pending_get(struct cf_store_txn *t, int64_t object_id,
                                 struct cf_rec_cert_pending *out);
/* Insert or replace. */
cf_err cf_store_cert_pending_put(struct cf_store_txn *t, const struct cf_rec_cert_pending *p);
cf_err cf_store_cert_pending_delete(struct cf_store_txn *t, int64_t object_id);

/* ---------------- contacts (one list per vault) ---------------- */
/* *json gets the owned contacts array text; CF_ENOTFOUND when none was set. */
cf_err cf_store_cert_contacts_get(struct cf_store_txn *t, int64_t vault_id, char **json);
cf_err cf_store_cert_contacts_put(struct cf_store_txn *t, int64_t vault_id, const char *json,
                                  int64_t now);
cf_err cf_store_cert_contacts_delete(struct cf_store_txn *t, int64_t vault_id);

/* ---------------- issuers ---------------- */
struct cf_rec_cert_issuer {
    int64_t vault_id;
    char name[CF_STORE_ISSUER_NAME_MAX + 1];
    char provider[128];
    char account_id[256]; /* credentials.account_id (returned), "" when none */
    struct cf_buf creds;  /* sealed credentials.pwd, empty when none */
    char *org_json;       /* owned org_details object text, NULL when none */
    bool enabled;
    int64_t created, updated;
};
void cf_rec_cert_issuer_init(struct cf_rec_cert_issuer *i);
void cf_rec_cert_issuer_release(struct cf_rec_cert_issuer *i);
cf_err cf_store_cert_issuer_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                                struct cf_rec_cert_issuer *out);
/* Insert or replace (created kept from the first insert). */
cf_err cf_store_cert_issuer_put(struct cf_store_txn *t, const struct cf_rec_cert_issuer *i);
cf_err cf_store_cert_issuer_delete(struct cf_store_txn *t, int64_t vault_id, const char *name_lc);
typedef cf_err (*cf_store_cert_issuer_cb)(const struct cf_rec_cert_issuer *i, void *arg);
/* Issuers of the vault with name_lc > after_lc in name order, at most max. */
cf_err cf_store_cert_issuer_list(struct cf_store_txn *t, int64_t vault_id, const char *after_lc,
                                 int max, cf_store_cert_issuer_cb cb, void *arg, bool *more);

#endif

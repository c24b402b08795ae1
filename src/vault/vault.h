/* vault.h - the domain: resource groups, vaults (ARM resources), and secrets with versions and
 * soft delete. No HTTP here; api/ turns requests into these calls and results into JSON.
 *
 * Every value is sealed before it reaches the store (the barrier, DESIGN.md §4): the master key
 * wraps one 256-bit data key per vault (AES-256-GCM); each secret version's value is sealed
 * with the vault's data key under AAD "secret\0<vault id>\0<lower-case name>\0<version>".
 * Data keys are cached unwrapped in memory and wiped with the service.
 *
 * All calls are synchronous and thread-safe; writes block until durable (store group commit),
 * so api/ runs them off the event loop. Results are returned in caller-owned structs; any
 * pointer member documented "owned" is released by the matching _release function.
 * Names compare case-insensitively and keep the case of their first creation. */
#ifndef CF_VAULT_H
#define CF_VAULT_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/secret.h"
#include "base/str.h"

struct cf_store;
struct cf_vault_svc;

/* master_key: 32 bytes from custody; copied (and wiped on free). The master key is also the
 * derivation root (below) of this form: tests and tools; cofferd uses cf_vault_svc_new_rooted. */
struct cf_vault_svc *cf_vault_svc_new(struct cf_store *store, const struct cf_clock *clock,
                                      const unsigned char master_key[32], cf_err *err);
void cf_vault_svc_free(struct cf_vault_svc *svc);

/* ---------------- the derivation root and master-key rotation ----------------
 * The master key only wraps: each vault's data key (AAD "dek\0<vault id>") and the derivation
 * root. The derivation root is a random 32-byte secret made once and kept in the store's meta
 * CF_VAULT_META_DERIVE_ROOT, sealed (AES-256-GCM) under the master key with AAD
 * CF_VAULT_DERIVE_ROOT_AAD. Every key that must survive a master-key rotation is derived from
 * it: the backup key here (HKDF "coffer backup v1"), the token signing ring's seal key (auth),
 * the audit MAC and checkpoint-seal keys (server). A store from before the root existed (it has
 * a vault, or meta auth.signing_key / audit.signing_key / server.subscription) gets the master
 * key itself as its root, so its backups, audit chains and sealed keys keep working; so does a
 * new store when !random_root (cofferd with the dev provider, which cannot rotate: the audit
 * MAC key stays HKDF(master.key, ...) for `coffer audit verify --key-file`).
 *
 * cf_vault_derive_root: opens the stored root, or (absent) makes and stores it (one write).
 * CF_ECORRUPT when the stored root does not open under master_key (another master key). */
#define CF_VAULT_META_DERIVE_ROOT "custody.derive_root"
#define CF_VAULT_DERIVE_ROOT_AAD "coffer derive root v1"
cf_err cf_vault_derive_root(struct cf_store *store, const unsigned char master_key[32],
                            bool random_root, unsigned char root[32]) CF_NODISCARD;
/* Whether the stored derivation root opens under key (custody's start-up check after a
 * master-key rotation a crash interrupted): CF_OK with *opens; CF_ENOTFOUND when the store has
 * no root yet. A read, nothing changes. */
cf_err cf_vault_root_opens(struct cf_store *store, const unsigned char key[32],
                           bool *opens) CF_NODISCARD;
/* The service with the master key (wraps data keys) and the derivation root (backup key). */
struct cf_vault_svc *cf_vault_svc_new_rooted(struct cf_store *store, const struct cf_clock *clock,
                                             const unsigned char master_key[32],
                                             const unsigned char derive_root[32], cf_err *err);
/* Master-key rotation, without downtime: in ONE store write, every vault's data key (live and
 * deleted) is opened under old_master and sealed under new_master (same AAD) and the stored
 * derivation root re-sealed likewise; then the service wraps new data keys under new_master.
 * The data keys themselves do not change: cached keys, secrets and backups stay valid. Requests
 * keep flowing: readers see the old or the new rows, and a data key that is not cached is
 * opened under whichever key wraps the row read. A failure (a row that opens under neither key:
 * CF_ECORRUPT; the store: its error) changes nothing, neither in the store nor in memory.
 * old_master must be the service's master key (CF_EINVAL). Calling it again with the keys
 * swapped undoes a rotation (custody does when it cannot make the new key durable). */
cf_err cf_vault_svc_rewrap(struct cf_vault_svc *svc, const unsigned char old_master[32],
                           const unsigned char new_master[32]) CF_NODISCARD;

/* ---------------- names ---------------- */
/* ^[0-9a-zA-Z-]{1,127}$ */
bool cf_name_valid_object(struct cf_str name);
/* 3-24 chars, [a-zA-Z0-9-], a letter first, a letter or digit last, no "--". */
bool cf_name_valid_vault(struct cf_str name);
/* 1-90 chars of letters, digits, '_', '-', '.', '(', ')', not ending in '.'. */
bool cf_name_valid_group(struct cf_str name);

/* ---------------- resource groups ---------------- */
struct cf_group {
    char subscription[37];
    char name[91];
    char location[64];
    char *tags_json; /* owned, a JSON object text, never NULL after a successful call */
    int64_t created;
};
void cf_group_release(struct cf_group *g);
/* Create or update; *created tells which. */
cf_err cf_group_put(struct cf_vault_svc *svc, const struct cf_group *in, bool *created,
                    struct cf_group *out);
cf_err cf_group_get(struct cf_vault_svc *svc, const char *sub, const char *name,
                    struct cf_group *out);
typedef cf_err (*cf_group_cb)(const struct cf_group *g, void *arg);
cf_err cf_group_list(struct cf_vault_svc *svc, const char *sub, cf_group_cb cb, void *arg);
/* Deletes the group and soft-deletes every vault in it. CF_ENOTFOUND if absent. */
cf_err cf_group_delete(struct cf_vault_svc *svc, const char *sub, const char *name);

/* ---------------- vaults ---------------- */
struct cf_vault {
    int64_t id;
    char name[25];
    char subscription[37];
    char resource_group[91];
    char location[64];
    char tenant_id[37];
    char sku[16];                 /* "standard" | "premium" */
    int retention_days;           /* 7..90 */
    bool soft_delete;             /* always true for new vaults */
    bool purge_protection;
    bool rbac;
    bool for_deployment, for_disk_encryption, for_template_deployment;
    char public_network_access[16]; /* "Enabled" | "Disabled" */
    char *tags_json;              /* owned, JSON object text */
    char *access_policies_json;   /* owned, JSON array text */
    char *network_acls_json;      /* owned, JSON object text or NULL */
    int64_t created, updated;     /* unix s */
    int64_t deleted_date, scheduled_purge; /* 0 when live */
};
void cf_vault_release(struct cf_vault *v);

enum cf_vault_put_mode { CF_VAULT_PUT_DEFAULT, CF_VAULT_PUT_RECOVER };
/* Create (creating the resource group if missing) or update the vault. Errors: CF_EEXISTS when
 * the name is taken in another subscription/group (VaultAlreadyExists), CF_EDELETED when the name
 * is soft-deleted and mode is DEFAULT, CF_ENOTFOUND for RECOVER with nothing to recover,
 * CF_EBADPARAM for invalid properties (retention change, purge protection turned off). */
cf_err cf_vault_put(struct cf_vault_svc *svc, const struct cf_vault *in, enum cf_vault_put_mode m,
                    bool *created, struct cf_vault *out);
cf_err cf_vault_get(struct cf_vault_svc *svc, const char *sub, const char *rg, const char *name,
                    struct cf_vault *out);
typedef cf_err (*cf_vault_cb)(const struct cf_vault *v, void *arg);
/* rg NULL lists the whole subscription; sub NULL lists every vault. */
cf_err cf_vault_list(struct cf_vault_svc *svc, const char *sub, const char *rg, cf_vault_cb cb,
                     void *arg);
/* Soft-deletes the vault and everything in it. CF_ENOTFOUND if absent. */
cf_err cf_vault_delete(struct cf_vault_svc *svc, const char *sub, const char *rg,
                       const char *name);
cf_err cf_vault_list_deleted(struct cf_vault_svc *svc, const char *sub, cf_vault_cb cb,
                             void *arg);
cf_err cf_vault_get_deleted(struct cf_vault_svc *svc, const char *sub, const char *name,
                            struct cf_vault *out);
/* Destroys a soft-deleted vault and its contents. CF_EPURGEPROTECT before its purge date when
 * purge protection is on. */
cf_err cf_vault_purge(struct cf_vault_svc *svc, const char *sub, const char *name);

/* The data-plane view of a live vault, looked up by name on every request (cached). */
/* CF_VAULT_SCOPE_MAX: "/subscriptions/{36}/resourcegroups/{90}/providers/microsoft.keyvault/
 * vaults/{24}" is 219 bytes with its NUL. */
#define CF_VAULT_SCOPE_MAX 224
struct cf_vault_ref {
    int64_t id;
    char name[25];
    char tenant_id[37];
    /* The vault's Azure resource id in the normalised form RBAC compares (lower case):
     * computed once when the vault is cached, so a request's authorization check builds no
     * string for vault-wide actions. */
    char scope[CF_VAULT_SCOPE_MAX];
    int retention_days;
    bool purge_protection;
    bool rbac;
    bool net_restricted; /* public access disabled or firewall default Deny: check the caller */
};
/* CF_ENOTFOUND when no live vault has that name (case-insensitive). */
cf_err cf_vault_resolve(struct cf_vault_svc *svc, struct cf_str name, struct cf_vault_ref *out);
/* ---- the vault's own access rules (guard.c; RBAC lives in src/auth) ---- */
/* Who is asking, as the vault's rules see it. groups: object ids of the caller's groups. */
struct cf_vault_caller {
    const char *oid;
    const char *appid;
    const char (*groups)[37];
    size_t ngroups;
};
enum cf_vault_net {
    CF_VAULT_NET_ALLOWED,
    CF_VAULT_NET_FIREWALL,   /* defaultAction Deny and no ipRule covers the address */
    CF_VAULT_NET_CONNECTION  /* publicNetworkAccess Disabled */
};
/* The vault's network rules (§4) for a client address ("192.0.2.1", "::1"). Only needed when
 * v->net_restricted. */
cf_err cf_vault_check_network(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                              const char *ip, enum cf_vault_net *out);
/* The vault's access policies (§3, the model when v->rbac is false): does an entry for the
 * caller (its oid or one of its groups; applicationId entries only with that appid) grant
 * permission ("secrets/get", "keys/wrapKey": kind/name as in the route table)? */
cf_err cf_vault_check_policy(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             const struct cf_vault_caller *c, const char *permission,
                             bool *allowed);
/* An ipRules value: an IPv4 or IPv6 address with an optional /prefix. */
bool cf_vault_ip_rule_parse(struct cf_str s, int *family, unsigned char addr[16], int *prefix);

/* "Recoverable+Purgeable", "CustomizedRecoverable", ... for a vault's settings. */
const char *cf_recovery_level(const struct cf_vault_ref *v);

/* ---------------- secrets ---------------- */
struct cf_secret_attrs {
    bool enabled;
    int64_t nbf, exp;         /* 0 = unset */
    int64_t created, updated; /* set by the service */
};

/* One version's metadata. */
struct cf_secret_meta {
    char name[CF_MAX_NAME_LEN + 1];  /* as first created */
    char version[33];
    char prev_version[33];           /* "" if none */
    struct cf_secret_attrs attrs;
    char *content_type;              /* owned, NULL if unset */
    char *tags_json;                 /* owned, NULL if never set, else a JSON object text */
    bool managed;
    char kid[256];                   /* "" unless certificate-backed */
    int64_t deleted_date, scheduled_purge; /* 0 unless deleted */
};
void cf_secret_meta_release(struct cf_secret_meta *m);

/* What a set or update supplies. has_* tells which fields were given. */
struct cf_secret_input {
    bool has_enabled, has_nbf, has_exp, has_content_type, has_tags;
    bool enabled;
    int64_t nbf, exp;
    const char *content_type;
    const char *tags_json; /* JSON object text of string->string, validated by api/ */
};

/* New version (32 hex, random), sealed value. CF_EDELETED if the name is soft-deleted. */
cf_err cf_secret_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str value, const struct cf_secret_input *in,
                     struct cf_secret_meta *out);
/* The same as cf_secret_set without blocking: validates, seals and queues the write, then
 * returns. CF_OK means done(err, meta, arg) will run exactly once, on the store's writer thread,
 * after the write is durable (or failed: err as cf_secret_set's); meta is filled only when err
 * is CF_OK and belongs to the callback (cf_secret_meta_release it). Any other return means
 * done never runs. The value is sealed before this returns; name, value and in need not
 * outlive the call. done must not block. */
typedef void (*cf_secret_done_fn)(cf_err err, struct cf_secret_meta *meta, void *arg);
cf_err cf_secret_set_async(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str name, struct cf_str value,
                           const struct cf_secret_input *in, cf_secret_done_fn done, void *arg);
/* version empty = latest. *value (may be NULL if not wanted) is a new cf_secret. Errors:
 * CF_ENOTFOUND (name, version, or deleted), CF_EDISABLED (the addressed version is disabled;
 * *out is still filled). */
cf_err cf_secret_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str version, struct cf_secret_meta *out, struct cf_secret **value);
cf_err cf_secret_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                        struct cf_str name, struct cf_str version,
                        const struct cf_secret_input *in, struct cf_secret_meta *out);

/* Paging: a page holds up to max items; *next (if not empty after the call) is an opaque
 * continuation token (URL-safe, <= 200 chars) to pass as `after` for the next page. Cost is
 * O(page), independent of the vault size and of deleted objects. */
typedef cf_err (*cf_secret_cb)(const struct cf_secret_meta *m, void *arg);
#define CF_PAGE_TOKEN_MAX 256
/* Live names with their latest version's metadata (base ids). */
cf_err cf_secret_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str after,
                      int max, cf_secret_cb cb, void *arg, char next[CF_PAGE_TOKEN_MAX]);
/* Every version of a live name, oldest first. Unknown or deleted name: no items, CF_OK. */
cf_err cf_secret_list_versions(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                               struct cf_str name, struct cf_str after, int max, cf_secret_cb cb,
                               void *arg, char next[CF_PAGE_TOKEN_MAX]);
/* Soft delete (all versions); *out is the latest version with deleted_date/scheduled_purge. */
cf_err cf_secret_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                        struct cf_str name, struct cf_secret_meta *out);
/* CF_ENOTFOUND unless soft-deleted; CF_EDISABLED if its latest version is disabled. */
cf_err cf_secret_get_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_secret_meta *out);
cf_err cf_secret_list_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                              struct cf_str after, int max, cf_secret_cb cb, void *arg,
                              char next[CF_PAGE_TOKEN_MAX]);
cf_err cf_secret_recover(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str name, struct cf_secret_meta *out);
/* CF_EPURGEPROTECT when the vault has purge protection. */
cf_err cf_secret_purge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name);
/* Backup: an opaque blob (base64url, no padding, appended to out) holding every version,
 * encrypted and integrity-protected under a server-wide backup key derived from the master
 * key, so it restores into any vault of this server and nowhere else. */
cf_err cf_secret_backup(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                        struct cf_str name, struct cf_buf *out);
/* CF_EBADPARAM for a corrupt/foreign blob, CF_EEXISTS if the name exists (live or deleted). */
cf_err cf_secret_restore(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str blob_b64url, struct cf_secret_meta *out);

/* Purges every soft-deleted object and vault whose scheduled purge date has passed. */
cf_err cf_vault_purge_expired(struct cf_vault_svc *svc);

/* ---- keys ---- */
/* Key Vault keys (azure-kv-keys.md §2-§8, keys.c): software RSA, EC and oct keys with
 * versions, soft delete, backup, rotation and the crypto operations. Each version's private key
 * is sealed under the vault's data key with AAD "key\0<vault id>\0<lower-case name>\0<version>";
 * its public JWK is kept in clear, so reads never unseal. This server has no HSM: the -HSM key
 * types, import with Hsm:true and BYOK blobs are refused (CF_EBADPARAM with a reason), never
 * served by a software key that would pass for an HSM one.
 * Functions that take why (a buffer for the 400's message) fill it on CF_EBADPARAM with a short
 * sentence that may quote the caller's parameters but never key material. */

struct cf_json;

/* key_ops as a bit set; names as on the wire (case-sensitive). */
#define CF_KEY_OP_ENCRYPT 0x01u
#define CF_KEY_OP_DECRYPT 0x02u
#define CF_KEY_OP_SIGN 0x04u
#define CF_KEY_OP_VERIFY 0x08u
#define CF_KEY_OP_WRAP 0x10u
#define CF_KEY_OP_UNWRAP 0x20u
#define CF_KEY_OP_IMPORT 0x40u
#define CF_KEY_OP_EXPORT 0x80u
#define CF_KEY_OP_COUNT 8
/* "encrypt" -> CF_KEY_OP_ENCRYPT ...; 0 for anything else. */
unsigned cf_key_op_parse(struct cf_str name);
/* The wire name of op bit i (0..CF_KEY_OP_COUNT-1), in Azure's order. */
const char *cf_key_op_name(int i);

struct cf_key_attrs {
    bool enabled, exportable;
    int64_t nbf, exp;         /* 0 = unset */
    int64_t created, updated; /* set by the service */
};

/* One key version's metadata (and its public key). */
struct cf_key_meta {
    char name[CF_MAX_NAME_LEN + 1]; /* as first created */
    char version[33];
    char kty[16];                   /* "RSA", "EC", "oct" */
    int key_size;                   /* RSA / oct bits, 0 for EC */
    char crv[16];                   /* "P-256"... for EC, else "" */
    unsigned key_ops;               /* CF_KEY_OP_* */
    struct cf_key_attrs attrs;
    char *public_jwk;     /* owned: JSON object text of the public members ({"n":..,"e":..}) */
    char *tags_json;      /* owned, NULL if never set */
    char *release_policy; /* owned JSON object text, NULL if none */
    bool managed;
    int64_t deleted_date, scheduled_purge; /* 0 unless deleted */
};
void cf_key_meta_release(struct cf_key_meta *m);

/* What create, import or update supplies; has_* tells which fields were given. */
struct cf_key_input {
    bool has_enabled, has_nbf, has_exp, has_exportable, has_tags, has_key_ops,
        has_release_policy;
    bool enabled, exportable;
    int64_t nbf, exp;
    unsigned key_ops;           /* an empty set means the type's default set */
    const char *tags_json;      /* JSON object text of string->string, validated by api/ */
    const char *release_policy; /* JSON object text {contentType?, data, immutable?}, by api/ */
};

/* What to generate. */
struct cf_key_spec {
    const char *kty;         /* "RSA", "EC", "oct"; the -HSM types need cf_vault_svc_set_hsm */
    int key_size;            /* 0 = default: RSA 2048, oct 256; ignored for EC */
    int64_t public_exponent; /* RSA; 0 = 65537 */
    const char *crv;         /* EC; NULL = "P-256" */
};

/* HSM-protected keys (RSA-HSM, EC-HSM, oct-HSM): the server hands the vault service the
 * token's operations (custody.h's cf_hsm_* functions, same signatures, same error rules) once,
 * before serving. Without them the -HSM types are refused (CF_EBADPARAM). The store then keeps
 * for such a version only its public JWK and the token handle (CF_HSM_ID_LEN random bytes,
 * sealed under the vault's data key like a private key would be); purge destroys the token
 * objects. struct cf_hsm is custody's opaque token object. */
#define CF_VAULT_HSM_ID_LEN 16
struct cf_hsm;
struct cf_jw;
struct cf_kvkey_sym;
struct cf_vault_hsm_ops {
    cf_err (*generate)(struct cf_hsm *h, const char *kty, int bits, uint32_t exponent,
                       const char *crv, const unsigned char id[CF_VAULT_HSM_ID_LEN],
                       struct cf_jw *w, char *why, size_t whysz);
    cf_err (*sign)(struct cf_hsm *h, const unsigned char id[CF_VAULT_HSM_ID_LEN], const char *alg,
                   const void *digest, size_t dlen, struct cf_buf *sig, char *why, size_t whysz);
    cf_err (*verify)(struct cf_hsm *h, const unsigned char id[CF_VAULT_HSM_ID_LEN],
                     const char *alg, const void *digest, size_t dlen, const void *sig,
                     size_t slen, bool *valid, char *why, size_t whysz);
    cf_err (*encrypt)(struct cf_hsm *h, const unsigned char id[CF_VAULT_HSM_ID_LEN],
                      const char *alg, bool wrap, const void *pt, size_t n,
                      struct cf_kvkey_sym *sym, struct cf_buf *out, char *why, size_t whysz);
    cf_err (*decrypt)(struct cf_hsm *h, const unsigned char id[CF_VAULT_HSM_ID_LEN],
                      const char *alg, bool unwrap, const void *ct, size_t n,
                      const struct cf_kvkey_sym *sym, struct cf_secret **pt, char *why,
                      size_t whysz);
    cf_err (*destroy)(struct cf_hsm *h, const unsigned char id[CF_VAULT_HSM_ID_LEN]);
};
/* h and ops outlive the service (NULL, NULL: no HSM). Call before serving (not thread-safe). */
void cf_vault_svc_set_hsm(struct cf_vault_svc *svc, struct cf_hsm *h,
                          const struct cf_vault_hsm_ops *ops);
/* (hsmcerts2) The token's import of a software key (custody's cf_hsm_import): a certificate
 * imported with an RSA-HSM / EC-HSM policy has its key put on the token (cert_hsm.c). NULL (the
 * default): such imports are refused like -HSM keys on a server without a token. */
struct cf_kvkey; /* crypto.h */
typedef cf_err (*cf_vault_hsm_import_fn)(struct cf_hsm *h, const struct cf_kvkey *k,
                                         const unsigned char id[CF_VAULT_HSM_ID_LEN],
                                         struct cf_jw *w, char *why, size_t whysz);
void cf_vault_svc_set_hsm_import(struct cf_vault_svc *svc, cf_vault_hsm_import_fn fn);
/* A key that never had a rotation policy behaves as Azure's default one, Notify `days` before
 * expiry (the events scan's KeyNearExpiry lead, config events_near_expiry_days); GET
 * rotationpolicy shows it so a client that reads, edits and PUTs it back keeps the notice.
 * 0: the default, 30 (as the events module reads events_near_expiry_days); < 0: no Notify.
 * Call before serving (not thread-safe). */
void cf_vault_keys_set_notify_lead(struct cf_vault_svc *svc, int days);

/* New version of name (the first one creates the key). CF_EDELETED if soft-deleted. */
cf_err cf_key_create(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     const struct cf_key_spec *spec, const struct cf_key_input *in,
                     struct cf_key_meta *out, char *why, size_t whysz);
/* New version from a JWK with private parts (the request's "key" object). */
cf_err cf_key_import(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     const struct cf_json *jwk, bool hsm, const struct cf_key_input *in,
                     struct cf_key_meta *out, char *why, size_t whysz);
/* version empty = latest. A disabled key is still returned (only crypto is refused). */
cf_err cf_key_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                  struct cf_str version, struct cf_key_meta *out);
cf_err cf_key_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str version, const struct cf_key_input *in,
                     struct cf_key_meta *out, char *why, size_t whysz);
typedef cf_err (*cf_key_cb)(const struct cf_key_meta *m, void *arg);
/* Paging as for secrets (CF_PAGE_TOKEN_MAX tokens, O(page)). */
cf_err cf_key_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str after,
                   int max, cf_key_cb cb, void *arg, char next[CF_PAGE_TOKEN_MAX]);
/* Unknown or deleted name: no items, CF_OK. */
cf_err cf_key_list_versions(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                            struct cf_str name, struct cf_str after, int max, cf_key_cb cb,
                            void *arg, char next[CF_PAGE_TOKEN_MAX]);
cf_err cf_key_list_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str after, int max, cf_key_cb cb, void *arg,
                           char next[CF_PAGE_TOKEN_MAX]);
/* Soft delete (all versions); *out is the latest version with deleted_date/scheduled_purge. */
cf_err cf_key_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_key_meta *out);
cf_err cf_key_get_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, struct cf_key_meta *out);
cf_err cf_key_recover(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_key_meta *out);
/* CF_EPURGEPROTECT when the vault has purge protection. */
cf_err cf_key_purge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name);
/* Every version (and the rotation policy) in one blob sealed under the server's backup key,
 * base64url appended to out; a blob type of its own (a secret backup does not restore here). */
cf_err cf_key_backup(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_buf *out);
/* CF_EBADPARAM for a corrupt/foreign blob, CF_EEXISTS if the name is live, CF_EDELETED if it is
 * soft-deleted. out->name is filled with the blob's key name whenever the blob opened. */
cf_err cf_key_restore(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                      struct cf_str blob_b64url, struct cf_key_meta *out);
/* New version like the latest (type, size, curve, key_ops, tags, exportability); exp = now +
 * the policy's expiryTime when one is set. */
cf_err cf_key_rotate(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_key_meta *out);

/* Rotation policy. Durations are ISO-8601 ("P90D", "P1Y2M", "PT48H"), kept as given. */
enum cf_key_trigger { CF_KEY_TRIGGER_NONE, CF_KEY_TRIGGER_AFTER_CREATE,
                      CF_KEY_TRIGGER_BEFORE_EXPIRY };
struct cf_key_policy {
    enum cf_key_trigger rotate; /* trigger of the Rotate action; NONE: no Rotate action */
    char rotate_dur[40];
    char notify_dur[40];        /* timeBeforeExpiry of the Notify action, "" when none */
    char expiry_time[40];       /* attributes.expiryTime, "" when unset */
    int64_t created, updated;   /* 0 when the key has no policy yet */
};
/* True for a positive ISO-8601 duration P[nY][nM][nW][nD][T[nH][nM][nS]] (integers). */
bool cf_key_duration_valid(struct cf_str s);
/* A key without a policy gets a zeroed *out and CF_OK. */
cf_err cf_key_policy_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str name, struct cf_key_policy *out);
/* Replaces the policy. CF_EBADPARAM (why) for an invalid duration, an expiryTime under 28 days,
 * or a timeBeforeExpiry rotation not shorter than expiryTime (it would rotate forever). */
cf_err cf_key_policy_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str name, const struct cf_key_policy *in,
                         struct cf_key_policy *out, char *why, size_t whysz);

/* Crypto operations (§6-§7). */
enum cf_key_opkind { CF_KEY_SIGN, CF_KEY_VERIFY, CF_KEY_ENCRYPT, CF_KEY_DECRYPT, CF_KEY_WRAP,
                     CF_KEY_UNWRAP };
struct cf_key_op_args {
    enum cf_key_opkind op;
    const char *alg;
    struct cf_str value;  /* digest (sign), signature (verify), plaintext, ciphertext, key */
    struct cf_str digest; /* verify */
    struct cf_str iv, aad, tag; /* AES encrypt/decrypt; p == NULL when absent */
};
/* Why a state rule refused the operation (with CF_EFORBIDDEN). */
enum cf_key_refusal { CF_KEY_REFUSED_NONE, CF_KEY_REFUSED_OP, CF_KEY_REFUSED_NOT_YET_VALID,
                      CF_KEY_REFUSED_EXPIRED };
struct cf_key_op_result {
    char name[CF_MAX_NAME_LEN + 1];
    char version[33];           /* the version used (for the versioned kid) */
    struct cf_buf out;          /* sign / encrypt / wrap output: the caller inits it */
    struct cf_secret *plain;    /* decrypt / unwrap output (the caller frees it) */
    bool valid;                 /* verify */
    unsigned char iv[16], tag[16];
    size_t iv_len, tag_len;     /* encrypt with an AES mode: to echo as "iv" / "tag" */
    enum cf_key_refusal refused;
};
/* version empty = latest. Errors: CF_ENOTFOUND; CF_EDISABLED for decrypt/sign/unwrap (and every
 * oct operation) on a disabled key; CF_EFORBIDDEN with res->refused for an op outside key_ops,
 * or encrypt/wrap/sign before nbf or after exp; CF_EBADPARAM (why) for a bad alg or input;
 * CF_ECRYPTO for a decrypt/unwrap that fails (no detail). */
cf_err cf_key_operate(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_str version, const struct cf_key_op_args *a,
                      struct cf_key_op_result *res, char *why, size_t whysz);

/* Whether op on the key version can run on an event loop: true only for a software key already
 * in the key cache whose operation costs tens of microseconds (keys.c says which). False is
 * always safe: the caller runs cf_key_operate on a blocking thread. Never fails, never reads
 * the store. */
bool cf_key_op_cheap(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str version, enum cf_key_opkind op);

/* The janitor's key work, a sibling of cf_vault_purge_expired: performs every due Rotate
 * action of rotation policies (timeAfterCreate from the latest version's creation,
 * timeBeforeExpiry before its exp) and purges soft-deleted keys past their purge date. */
cf_err cf_vault_keys_rotate_due(struct cf_vault_svc *svc);

/* ---- locks ---- */
/* Management locks (azure-kv-security-ops.md §9, locks.c): CanNotDelete or ReadOnly on the
 * subscription, a resource group or a vault, inherited downwards (a lock on a group covers its
 * vaults); the strongest lock covering a resource wins. They guard the management plane only:
 * api/ asks before vault and group writes, deletes and purges. The secrets, keys and
 * certificates inside a vault are not frozen by them (soft delete, purge protection and
 * authorization guard those). Scopes are normalised resource ids, lower case:
 * "/subscriptions/{s}[/resourcegroups/{g}[/providers/microsoft.keyvault/vaults/{v}]]". */
enum cf_lock_level { CF_LOCK_NONE = 0, CF_LOCK_CAN_NOT_DELETE = 1, CF_LOCK_READ_ONLY = 2 };
#define CF_LOCK_NAME_MAX 260
#define CF_LOCK_NOTES_MAX 512 /* characters (UTF-8 bytes may be more) */
#define CF_LOCK_SCOPE_MAX CF_VAULT_SCOPE_MAX
struct cf_lock {
    char scope[CF_LOCK_SCOPE_MAX];
    char name[CF_LOCK_NAME_MAX + 1]; /* as first created; compared case-insensitively */
    enum cf_lock_level level;
    char *notes;       /* owned, "" when none */
    char *owners_json; /* owned, a JSON array text ("[]" when none) */
    int64_t created, updated;
};
void cf_lock_release(struct cf_lock *l);
/* "CanNotDelete" / "ReadOnly" (ARM's spelling), NULL for CF_LOCK_NONE. */
const char *cf_lock_level_name(enum cf_lock_level l);
/* Case-insensitive; false for anything else. */
bool cf_lock_level_parse(struct cf_str s, enum cf_lock_level *out);
/* ARM's rule: 1-260 characters, none of < > % & : \ ? / or control characters. */
bool cf_lock_name_valid(struct cf_str name);
/* The normalised scope of the subscription (rg NULL), a group (vault NULL) or a vault.
 * CF_EINVAL when a name does not fit. */
cf_err cf_lock_scope(const char *sub, const char *rg, const char *vault,
                     char out[CF_LOCK_SCOPE_MAX]);
/* Create or update in->scope/in->name (level, notes, owners). CF_EBADNAME for an invalid
 * name, CF_EBADPARAM for a level of NONE or notes over the limit. The caller checks that the
 * resource at the scope exists. */
cf_err cf_lock_put(struct cf_vault_svc *svc, const struct cf_lock *in, bool *created,
                   struct cf_lock *out);
/* CF_ENOTFOUND if absent. */
cf_err cf_lock_get(struct cf_vault_svc *svc, const char *scope, struct cf_str name,
                   struct cf_lock *out);
cf_err cf_lock_delete(struct cf_vault_svc *svc, const char *scope, struct cf_str name);
/* A lock handed to a list callback (its strings borrowed: valid during the call only). */
typedef cf_err (*cf_lock_cb)(const struct cf_lock *l, void *arg);
/* The locks at scope and above it (those that apply to it), from the subscription down;
 * with below, then those under it too (ARM's list without $filter=atScope()). */
cf_err cf_lock_list(struct cf_vault_svc *svc, const char *scope, bool below, cf_lock_cb cb,
                    void *arg);
/* The strongest lock covering a resource: its level and the scope it sits on ("" / NONE
 * when none). below: count the locks under the resource too (deleting a group needs every
 * vault in it unlocked). */
struct cf_lock_hit {
    enum cf_lock_level level;
    char scope[CF_LOCK_SCOPE_MAX];
};
cf_err cf_vault_lock_check(struct cf_vault_svc *svc, const char *sub, const char *rg,
                           const char *vault, bool below, struct cf_lock_hit *out);
/* The strongest lock level covering the subscription (rg NULL), a group (vault NULL) or a
 * vault, inherited downwards; CF_LOCK_NONE when nothing covers it. */
cf_err cf_vault_lock_level(struct cf_vault_svc *svc, const char *sub, const char *rg,
                           const char *vault, enum cf_lock_level *level);

/* ---- certificates ---- */
struct cf_jw;
/* Key Vault certificates (azure-kv-certificates.md, certs.c). A certificate version owns a key
 * version (kid: the keys API signs/decrypts with it, "managed") and a secret version (sid: the
 * PFX or PEM, with the private key when exportable, "managed") of the same name and version
 * id; all three are written in one transaction and deleted, recovered and purged together.
 * Issuers: Self (issued synchronously, the operation reads "completed"), Unknown (CSR out,
 * merge in). Functions taking why fill it on CF_EBADPARAM with a short sentence (never key
 * material or passwords). Policies travel as JSON (the wire's shape), validated here. */
#define CF_CERT_MAX_SANS 32
#define CF_CERT_MAX_EKUS 16
#define CF_CERT_MAX_ACTIONS 4
#define CF_CERT_SUBJECT_MAX 512
#define CF_CERT_ISSUER_MAX 127
enum cf_cert_action { CF_CERT_AUTORENEW = 1, CF_CERT_EMAIL = 2 };
struct cf_cert_lifetime {
    int pct;  /* lifetime_percentage, 0 when days is the trigger */
    int days; /* days_before_expiry */
    enum cf_cert_action action;
};
struct cf_cert_policy {
    bool exportable, reuse_key;
    char kty[16]; /* "RSA" | "EC" */
    int key_size; /* RSA bits; 0 for EC */
    char crv[16]; /* EC curve, "" for RSA */
    bool pem;     /* secret_props.contentType application/x-pem-file (else x-pkcs12) */
    char subject[CF_CERT_SUBJECT_MAX];
    struct {
        int kind; /* enum cf_cert_san_kind (crypto.h) */
        char value[256];
    } sans[CF_CERT_MAX_SANS];
    size_t nsans;
    char ekus[CF_CERT_MAX_EKUS][64];
    size_t nekus;
    unsigned key_usage; /* CF_CERT_KU bits (crypto.h) */
    int validity_months;
    struct cf_cert_lifetime actions[CF_CERT_MAX_ACTIONS];
    size_t nactions;
    char issuer[CF_CERT_ISSUER_MAX + 1]; /* "Self", "Unknown" or a configured issuer */
    char cty[64];
    bool has_ct, cert_transparency;
    bool enabled;
    int64_t created, updated;
};
/* Writes the policy object (with "id" when id is not NULL). */
void cf_cert_policy_write(const struct cf_cert_policy *p, const char *id, struct cf_jw *w);

struct cf_cert_meta {
    char name[CF_MAX_NAME_LEN + 1];
    char version[33];
    bool enabled;
    int64_t nbf, exp, created, updated;
    char x5t[32];
    struct cf_buf cer;             /* leaf DER on bundles (init'd by the call), empty on items */
    char *tags_json;               /* owned, NULL if never set */
    struct cf_cert_policy *policy; /* owned, on bundles */
    bool pending;                  /* a pending operation object exists */
    bool preserve_order;
    int64_t deleted_date, scheduled_purge;
};
void cf_cert_meta_release(struct cf_cert_meta *m);

/* The pending operation. */
struct cf_cert_op {
    char name[CF_MAX_NAME_LEN + 1];
    char request_id[33];
    char status[16]; /* inProgress | completed | failed | cancelled */
    char *status_details; /* owned, NULL when none */
    char *error_json;     /* owned {"code","message"}, NULL unless failed */
    bool cancel_requested;
    char issuer[CF_CERT_ISSUER_MAX + 1];
    char cty[64];
    bool has_ct, cert_transparency;
    struct cf_buf csr; /* DER (init'd by the call) */
    bool completed;    /* target = the certificate's base id */
};
void cf_cert_op_release(struct cf_cert_op *o);

/* Attributes/tags of create, import, merge and update. */
struct cf_cert_input {
    bool has_enabled, enabled;
    bool has_tags;
    const char *tags_json; /* validated by api/ */
    bool preserve_order;
};

/* Create: policy is the request's policy object (NULL: none, which Azure refuses: 400).
 * CF_EDELETED (soft-deleted name), CF_EBUSY (an operation is inProgress: 409), CF_EEXISTS (a
 * key or secret of the name that no certificate owns), CF_ENOTFOUND-free. *out = the op. */
cf_err cf_cert_create(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      const struct cf_json *policy, const struct cf_cert_input *in,
                      struct cf_cert_op *out, char *why, size_t whysz);
/* CF_ENOTFOUND: no operation (PendingCertificateNotFound). */
cf_err cf_cert_op_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_cert_op *out);
/* CF_EFORBIDDEN when the operation is not inProgress. */
cf_err cf_cert_op_cancel(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str name, struct cf_cert_op *out);
cf_err cf_cert_op_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str name, struct cf_cert_op *out);
/* chain: concatenated DER certificates, leaf first. CF_ENOTFOUND without an inProgress
 * Unknown-issuer operation, CF_EBADPARAM for a leaf whose key is not the pending one. */
cf_err cf_cert_merge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str chain, const struct cf_cert_input *in,
                     struct cf_cert_meta *out, char *why, size_t whysz);
/* value: PEM text, or base64 of a PFX; pwd may be NULL. policy may be NULL. */
cf_err cf_cert_import(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_str value, const char *pwd, const struct cf_json *policy,
                      const struct cf_cert_input *in, struct cf_cert_meta *out, char *why,
                      size_t whysz);
/* version empty = latest. Bundles carry cer and the policy. */
cf_err cf_cert_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                   struct cf_str version, struct cf_cert_meta *out);
/* enabled and tags of the version (and of its key and secret); policy (may be NULL) as
 * cf_cert_policy_update. */
cf_err cf_cert_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_str version, const struct cf_cert_input *in,
                      const struct cf_json *policy, struct cf_cert_meta *out, char *why,
                      size_t whysz);
cf_err cf_cert_policy_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, struct cf_cert_policy *out);
/* Members present replace those of the stored policy. */
cf_err cf_cert_policy_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, const struct cf_json *policy,
                             struct cf_cert_policy *out, char *why, size_t whysz);
typedef cf_err (*cf_cert_cb)(const struct cf_cert_meta *m, void *arg);
/* include_pending (includePending=true): also the certificates whose first version is still
 * pending (an inProgress operation, no version yet), as GET reads them: disabled, no version
 * or x5t, m->pending. Without it they are left out, as Azure does. */
cf_err cf_cert_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str after,
                    int max, bool include_pending, cf_cert_cb cb, void *arg,
                    char next[CF_PAGE_TOKEN_MAX]);
cf_err cf_cert_list_versions(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_str after, int max, cf_cert_cb cb,
                             void *arg, char next[CF_PAGE_TOKEN_MAX]);
cf_err cf_cert_list_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                            struct cf_str after, int max, cf_cert_cb cb, void *arg,
                            char next[CF_PAGE_TOKEN_MAX]);
/* Soft delete of the certificate with its key and secret; *out = the latest version. */
cf_err cf_cert_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_cert_meta *out);
cf_err cf_cert_get_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str name, struct cf_cert_meta *out);
cf_err cf_cert_recover(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                       struct cf_str name, struct cf_cert_meta *out);
/* CF_EPURGEPROTECT with purge protection. */
cf_err cf_cert_purge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name);
/* Every version with its key and secret and the policy, sealed under the backup key. */
cf_err cf_cert_backup(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_buf *out);
/* CF_EBADPARAM (bad blob), CF_EEXISTS (live name), CF_EDELETED (soft-deleted name). */
cf_err cf_cert_restore(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                       struct cf_str blob_b64url, struct cf_cert_meta *out);

/* Contacts: *json = owned JSON array text of {email,name?,phone?}. get: "[]" when none. */
cf_err cf_cert_contacts_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, char **json);
/* contacts: the request's "contacts" array (CF_EBADPARAM unless objects with an email). */
cf_err cf_cert_contacts_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                            const struct cf_json *contacts, char **json, char *why, size_t whysz);
/* *json = what was deleted ("[]" when nothing was set). */
cf_err cf_cert_contacts_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                               char **json);

/* Issuers. Credentials' pwd is sealed and never returned. */
struct cf_cert_issuer {
    char name[CF_CERT_ISSUER_MAX + 1];
    char provider[128];
    char account_id[256]; /* "" when none */
    char *org_json;       /* owned org_details text, NULL when none */
    bool enabled;
    int64_t created, updated;
};
void cf_cert_issuer_release(struct cf_cert_issuer *i);
/* 1-127 of [0-9a-zA-Z-], not Self/Unknown (case-insensitive). */
bool cf_cert_issuer_name_valid(struct cf_str name);
cf_err cf_cert_issuer_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, struct cf_cert_issuer *out);
/* body: the IssuerBundle request. update: merge into the existing one (CF_ENOTFOUND). */
cf_err cf_cert_issuer_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, const struct cf_json *body, bool update,
                          struct cf_cert_issuer *out, char *why, size_t whysz);
cf_err cf_cert_issuer_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_cert_issuer *out);
typedef cf_err (*cf_cert_issuer_cb)(const struct cf_cert_issuer *i, void *arg);
cf_err cf_cert_issuer_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str after, int max, cf_cert_issuer_cb cb, void *arg,
                           char next[CF_PAGE_TOKEN_MAX]);

/* ---- the server's private CA (ca.c) ----
 * One CA per server (not per vault), its key generated and kept sealed by the server (never
 * exported), its root certificate public. A policy whose issuer.name is CF_CA_ISSUER, or names
 * a configured issuer whose provider is CF_CA_ISSUER (case-insensitive), is signed by this CA
 * at create and at AutoRenew; the secret's PFX/PEM then holds the chain leaf, CA root. */
#define CF_CA_ISSUER "CofferCA"
struct cf_ca_info {
    char subject[CF_CERT_SUBJECT_MAX];
    char kty[16];  /* "RSA" | "EC" */
    int key_size;  /* RSA bits, 0 for EC */
    char crv[16];  /* EC curve, "" for RSA */
    int64_t nbf, exp, created;
    char x5t[32];
    struct cf_buf cer; /* the root certificate's DER (init'd by the call) */
};
void cf_ca_info_release(struct cf_ca_info *i);
struct cf_ca_spec {
    const char *subject; /* NULL/"": "CN=Coffer Internal CA" */
    int validity_months; /* 0: 120 */
    const char *kty;     /* "RSA" (default, 3072 bits) or "EC" (default P-256) */
    int key_size;        /* RSA: 0 = 3072 */
    const char *crv;     /* EC: NULL = P-256 */
};
/* CF_EEXISTS when the server has a CA already; CF_EBADPARAM (why) for a bad spec. */
cf_err cf_ca_create(struct cf_vault_svc *svc, const struct cf_ca_spec *spec,
                    struct cf_ca_info *out, char *why, size_t whysz);
/* CF_ENOTFOUND when no CA was created. */
cf_err cf_ca_get(struct cf_vault_svc *svc, struct cf_ca_info *out);

/* ---- the ACME issuer (RFC 8555; certs_acme.c here, the protocol in server/acme.c) ----
 * A configured issuer whose provider is CF_ACME_PROVIDER (case-insensitive): its
 * credentials.account_id is the ACME directory URL; org_details may carry
 * {"acme":{"ca_file":"/path/ca.pem","challenge":"http-01"|"dns-01","dns_hook":"/path/cmd",
 * "email":"a@b"}}. Create (and AutoRenew) make the key and the CSR and leave the operation
 * inProgress; the server's ACME driver walks these orders (cf_cert_acme_orders), runs them and
 * ends each with cf_cert_acme_complete (the version appears, the operation reads "completed":
 * the SDK pollers finish) or cf_cert_acme_fail. The vault does no HTTP. Each (vault, issuer)
 * has one ACME account whose key (EC P-256) is generated and sealed here. */
#define CF_ACME_PROVIDER "Acme"
#define CF_ACME_URL_MAX 512
struct cf_kvkey;
struct cf_acme_order {
    char vault[25];
    char name[CF_MAX_NAME_LEN + 1];
    char request_id[33];
    char issuer[CF_CERT_ISSUER_MAX + 1];
    char directory[CF_ACME_URL_MAX]; /* https://... */
    char ca_file[512];               /* "" = the system's roots */
    char challenge[16];              /* "http-01" (default) or "dns-01" */
    char dns_hook[512];              /* dns-01: "<hook> set|clear <domain> <txt value>" */
    char email[256];                 /* "" = none */
    char domains[CF_CERT_MAX_SANS + 1][256]; /* the subject's CN and the DNS SANs, unique */
    size_t ndomains;
    struct cf_buf csr; /* DER (init'd by the walk) */
};
typedef cf_err (*cf_acme_order_cb)(const struct cf_acme_order *o, void *arg);
/* Every inProgress operation of an Acme issuer in every live vault, oldest object first. */
cf_err cf_cert_acme_orders(struct cf_vault_svc *svc, cf_acme_order_cb cb, void *arg);
/* chain: DER certificates, leaf first. CF_ENOTFOUND when the operation is no longer that
 * inProgress order (cancelled, deleted, replaced); CF_EBADPARAM (why) for a chain whose leaf
 * is not the operation's key. */
cf_err cf_cert_acme_complete(struct cf_vault_svc *svc, const char *vault, const char *name,
                             const char *request_id, struct cf_str chain, char *why,
                             size_t whysz);
cf_err cf_cert_acme_fail(struct cf_vault_svc *svc, const char *vault, const char *name,
                         const char *request_id, const char *message);
/* The account of (vault, issuer): its private key (made and sealed on first use) and its URL
 * at the ACME server ("" until registered). */
cf_err cf_cert_acme_account(struct cf_vault_svc *svc, const char *vault, const char *issuer,
                            struct cf_kvkey **key, char url[CF_ACME_URL_MAX]);
cf_err cf_cert_acme_account_set_url(struct cf_vault_svc *svc, const char *vault,
                                    const char *issuer, const char *url);

/* The janitor's certificate work: runs every due lifetime action of live certificates
 * (AutoRenew of Self-issued ones at lifetime_percentage or days_before_expiry: a new version,
 * a fresh key unless reuse_key; EmailContacts: a log line naming the vault, certificate and
 * contact count, once per version) and purges soft-deleted certificates past their date.
 * *renewed (may be NULL) counts the new versions. */
cf_err cf_vault_certs_renew_due(struct cf_vault_svc *svc, int *renewed);
/* TEST ONLY (cofferd --dev, config dev_month_seconds): a policy month lasts month_s seconds
 * instead of 365/12 days - for validity_months, days_before_expiry (a day = 12/365 of that
 * month) and the issued certificates' backdating (none) - so that a renewal can be watched
 * within minutes. 0 restores the real month. Set once before serving. */
void cf_vault_certs_set_month(struct cf_vault_svc *svc, int month_s);

/* ---------------- change events (events/events.h) ----------------
 * The writes that create a version (secret set, key create/import/rotate, certificate
 * create/import/merge/renewal) and those that change a vault's access policies or its
 * permission model call the sink INSIDE their store write fn, after their own changes, with
 * the write's txn: what the sink writes commits with the change or not at all (a sink error
 * fails the write). Certificates' own key and secret raise no events (the certificate's does).
 * Set once before serving (NULL: none); the sink runs on the store's writer thread. */
struct cf_store_txn;
struct cf_vault_event {
    const char *type;        /* "SecretNewVersionCreated", "KeyNewVersionCreated",
                                "CertificateNewVersionCreated", "VaultAccessPolicyChanged" */
    int64_t vault_id;
    const char *vault_name;  /* as created */
    const char *object_type; /* "Secret" | "Key" | "Certificate" | "Vault" */
    const char *object_name; /* the vault's name for VaultAccessPolicyChanged */
    const char *version;     /* 32 hex; "" for the vault */
    int64_t nbf, exp;        /* Unix seconds; 0 = unset */
};
typedef cf_err (*cf_vault_event_fn)(void *ctx, struct cf_store_txn *t,
                                    const struct cf_vault_event *ev);
void cf_vault_set_event_sink(struct cf_vault_svc *svc, cf_vault_event_fn fn, void *ctx);

#endif

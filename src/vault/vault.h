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

/* master_key: 32 bytes from custody; copied (and wiped on free). */
struct cf_vault_svc *cf_vault_svc_new(struct cf_store *store, const struct cf_clock *clock,
                                      const unsigned char master_key[32], cf_err *err);
void cf_vault_svc_free(struct cf_vault_svc *svc);

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
};
/* CF_ENOTFOUND when no live vault has that name (case-insensitive). */
cf_err cf_vault_resolve(struct cf_vault_svc *svc, struct cf_str name, struct cf_vault_ref *out);
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

#endif

/* store_auth.h - the store's part of access control: custom role definitions and role
 * assignments (Azure RBAC, azure-kv-security-ops.md §2). Called only from src/auth/, always
 * inside cf_store_read/cf_store_write (write operations need a txn of cf_store_write: CF_EINVAL
 * otherwise).
 *
 * Plain record operations; the rules (which role exists, duplicate assignments, scope shapes)
 * live in src/auth/rbac.c, which composes them inside one transaction.
 *
 * Ids are GUIDs in lower case (the caller lower-cases). Scopes are stored normalised: lower
 * case, a leading '/', no trailing or doubled '/', and "/" for the whole server; the caller
 * normalises (cf_rbac_scope_normalize). Built-in roles are not stored: they are a table in
 * src/auth/rbac.c.
 *
 * Records: fixed-size fields are arrays; variable text is malloc'd and owned by the record
 * (released by cf_rec_role_def_release, which accepts a zeroed record). A record handed to a
 * list callback is only valid during the callback. */
#ifndef CF_STORE_AUTH_H
#define CF_STORE_AUTH_H

#include "base/cf.h"
#include "store/store.h"

#define CF_RBAC_MAX_SCOPE 512 /* bytes of a normalised scope, NUL included */

/* ---------------- custom role definitions ---------------- */
struct cf_rec_role_def {
    char id[37];
    char name[256];           /* roleName, unique case-insensitively */
    char *description;        /* owned; NULL stored as "" */
    char *scopes_json;        /* owned; JSON array of assignable scopes; NULL stored as "[]" */
    char *perms_json;         /* owned; {"actions":[],"notActions":[],"dataActions":[],
                                 "notDataActions":[]}; NULL stored as "{}" */
    int64_t created, updated; /* unix s */
};
void cf_rec_role_def_release(struct cf_rec_role_def *d);
/* Inserts, or rewrites name, description, scopes, permissions and updated of an existing id
 * (created kept). *created tells which. CF_EEXISTS when another definition has the name. */
cf_err cf_store_role_def_put(struct cf_store_txn *t, const struct cf_rec_role_def *d,
                             bool *created);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_role_def_get(struct cf_store_txn *t, const char *id, struct cf_rec_role_def *out);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_role_def_delete(struct cf_store_txn *t, const char *id);
typedef cf_err (*cf_store_role_def_cb)(const struct cf_rec_role_def *d, void *arg);
/* Every custom definition, in name order; a cb error stops the walk and is returned. */
cf_err cf_store_role_def_list(struct cf_store_txn *t, cf_store_role_def_cb cb, void *arg);

/* ---------------- role assignments ---------------- */
struct cf_rec_role_asg {
    char id[37];                  /* the assignment's name (a GUID) */
    char scope[CF_RBAC_MAX_SCOPE];
    char role_def_id[37];         /* GUID of a built-in or custom definition */
    char principal_id[37];        /* object id of a principal or group */
    char principal_type[24];      /* "User", "Group", "ServicePrincipal", ... */
    int64_t created;              /* unix s */
    char created_by[37];          /* object id of the creator, "" when unknown */
};
/* CF_EEXISTS if the id exists. */
cf_err cf_store_role_asg_insert(struct cf_store_txn *t, const struct cf_rec_role_asg *a);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_role_asg_get(struct cf_store_txn *t, const char *id, struct cf_rec_role_asg *out);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_role_asg_delete(struct cf_store_txn *t, const char *id);
typedef cf_err (*cf_store_role_asg_cb)(const struct cf_rec_role_asg *a, void *arg);
/* The principal's assignments (index by principal_id), in id order. */
cf_err cf_store_role_asg_list_principal(struct cf_store_txn *t, const char *principal_id,
                                        cf_store_role_asg_cb cb, void *arg);
/* Assignments whose scope is exactly `scope` (subtree false), or `scope` and everything below
 * it (subtree true; "/" then lists all), in scope order (index by scope). */
cf_err cf_store_role_asg_list_scope(struct cf_store_txn *t, const char *scope, bool subtree,
                                    cf_store_role_asg_cb cb, void *arg);
/* Sets *used when some assignment refers to the definition (full scan: definitions are deleted
 * rarely). */
cf_err cf_store_role_asg_uses_role(struct cf_store_txn *t, const char *role_def_id, bool *used);

/* ---------------- directory: applications, credentials, groups (identities) ----------------
 * The Graph-shaped directory (issue 10). A service principal is the principals row of store.h
 * (object id = the oid in tokens); its application is a cf_rec_app with the same tenant and
 * client id and an object id of its own. Ids are lower-case GUIDs; every lookup is confined to
 * one tenant. Statements here are prepared per call (not in CF_SQL_TABLE): they serve admin
 * operations and cache misses, not the per-request path. */
struct cf_rec_app {
    char object_id[37]; /* the application's object id (not the service principal's) */
    char tenant_id[37];
    char client_id[64]; /* appId */
    char display_name[128];
    int64_t created;
};
/* CF_EEXISTS when the object id or (tenant, client id) exists. */
cf_err cf_store_app_insert(struct cf_store_txn *t, const struct cf_rec_app *a);
/* Rewrites display_name of the application (tenant, object_id). CF_ENOTFOUND if absent. */
cf_err cf_store_app_rename(struct cf_store_txn *t, const char *tenant_id, const char *object_id,
                           const char *display_name);
/* By the application's object id, or by client id; CF_ENOTFOUND if absent. */
cf_err cf_store_app_get(struct cf_store_txn *t, const char *tenant_id, const char *object_id,
                        struct cf_rec_app *out);
cf_err cf_store_app_get_by_client(struct cf_store_txn *t, const char *tenant_id,
                                  const char *client_id, struct cf_rec_app *out);
/* CF_ENOTFOUND if absent. Credentials and the principal are the caller's to delete. */
cf_err cf_store_app_delete(struct cf_store_txn *t, const char *tenant_id, const char *object_id);
typedef cf_err (*cf_store_app_cb)(const struct cf_rec_app *a, void *arg);
/* The tenant's applications in creation order; a cb error stops the walk and is returned. */
cf_err cf_store_app_list(struct cf_store_txn *t, const char *tenant_id, cf_store_app_cb cb,
                         void *arg);

/* The principal (store.h) with that object id in the tenant; CF_ENOTFOUND if absent. */
cf_err cf_store_principal_get_by_oid(struct cf_store_txn *t, const char *tenant_id,
                                     const char *object_id, struct cf_rec_principal *out);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_principal_delete(struct cf_store_txn *t, const char *tenant_id,
                                 const char *client_id);

#define CF_CRED_PASSWORD 0
#define CF_CRED_KEY 1
struct cf_rec_cred {
    char tenant_id[37];
    char client_id[64];
    char key_id[37];          /* GUID */
    int kind;                 /* CF_CRED_PASSWORD or CF_CRED_KEY */
    char display_name[128];
    char hint[8];             /* password: first 3 characters of the secret ("" if unknown) */
    char secret_hash[160];    /* password: cf_pwhash form; "" for keys */
    char thumb_sha1[41];      /* key: SHA-1 of the DER, upper-case hex; "" for passwords */
    char thumb_sha256[65];    /* key: SHA-256 of the DER, upper-case hex */
    const unsigned char *cert; /* key: DER certificate. Borrowed: the caller's on insert, the
                                  store's during a list callback */
    size_t cert_len;
    int64_t start, end;       /* validity, unix s */
    int64_t created;
};
/* CF_EEXISTS when the key id exists for that client. */
cf_err cf_store_cred_insert(struct cf_store_txn *t, const struct cf_rec_cred *c);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_cred_delete(struct cf_store_txn *t, const char *tenant_id, const char *client_id,
                            const char *key_id);
/* Deletes the client's credentials of one kind (kind -1: all); *n gets the count (may be
 * NULL). */
cf_err cf_store_cred_delete_all(struct cf_store_txn *t, const char *tenant_id,
                                const char *client_id, int kind, size_t *n);
typedef cf_err (*cf_store_cred_cb)(const struct cf_rec_cred *c, void *arg);
/* The client's credentials in creation order. */
cf_err cf_store_cred_list(struct cf_store_txn *t, const char *tenant_id, const char *client_id,
                          cf_store_cred_cb cb, void *arg);

struct cf_rec_dir_group {
    char object_id[37];
    char tenant_id[37];
    char display_name[256];
    char mail_nickname[65];
    char description[1025];
    int64_t created;
};
/* CF_EEXISTS when the object id exists. */
cf_err cf_store_dir_group_insert(struct cf_store_txn *t, const struct cf_rec_dir_group *g);
cf_err cf_store_dir_group_get(struct cf_store_txn *t, const char *tenant_id, const char *object_id,
                              struct cf_rec_dir_group *out);
/* Deletes the group, its member rows, and the rows that make it a member of other groups.
 * CF_ENOTFOUND if absent. */
cf_err cf_store_dir_group_delete(struct cf_store_txn *t, const char *tenant_id,
                                 const char *object_id);
typedef cf_err (*cf_store_dir_group_cb)(const struct cf_rec_dir_group *g, void *arg);
/* The tenant's groups in display-name order (case-insensitive). */
cf_err cf_store_dir_group_list(struct cf_store_txn *t, const char *tenant_id,
                               cf_store_dir_group_cb cb, void *arg);
/* member_type: "servicePrincipal" or "group". CF_EEXISTS when already a member. */
cf_err cf_store_dir_member_add(struct cf_store_txn *t, const char *group_id, const char *member_id,
                               const char *member_type);
/* CF_ENOTFOUND when not a member. */
cf_err cf_store_dir_member_remove(struct cf_store_txn *t, const char *group_id,
                                  const char *member_id);
/* Removes member_id from every group (its principal or group is being deleted). */
cf_err cf_store_dir_member_purge(struct cf_store_txn *t, const char *member_id);
typedef cf_err (*cf_store_dir_member_cb)(const char *group_id, const char *member_id,
                                         const char *member_type, void *arg);
/* The group's direct members, in member id order. */
cf_err cf_store_dir_members(struct cf_store_txn *t, const char *group_id,
                            cf_store_dir_member_cb cb, void *arg);
/* The groups member_id is a direct member of, in group id order. */
cf_err cf_store_dir_member_of(struct cf_store_txn *t, const char *member_id,
                              cf_store_dir_member_cb cb, void *arg);

#endif

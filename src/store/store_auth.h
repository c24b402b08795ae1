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

#endif

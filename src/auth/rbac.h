/* rbac.h - Azure RBAC for Coffer (azure-kv-security-ops.md §2): role definitions (the built-in
 * roles as one table, custom roles from the store), role assignments at scopes, and the access
 * check.
 *
 * Scopes: "/" (the whole server), /subscriptions/S, .../resourceGroups/G,
 * .../providers/Microsoft.KeyVault/vaults/V, and objects .../vaults/V/{secrets|keys|
 * certificates}/N. They are kept normalised (cf_rbac_scope_normalize: lower case, one leading
 * '/', no trailing or doubled '/'). An assignment applies to its scope and everything below it:
 * scope A covers B when A is "/", A == B, or B starts with A followed by '/' (so .../rg1 does
 * not cover .../rg10, and vault A's assignment does not cover vault B).
 *
 * Evaluation (§2.6): gather the assignments of the principal and of each of its groups; for
 * each one whose scope covers the target, the role allows the action when some Actions
 * (DataActions for a data action) pattern matches and no NotActions (NotDataActions) pattern
 * does; the result is the union. Not-lists subtract, they never deny. Patterns compare ASCII
 * case-insensitively and '*' matches any run of characters, '/' included
 * ("Microsoft.KeyVault/vaults/ *" - without the space - covers every vault data action,
 * "* /read" every read). A "/ * /" segment also matches a single '/' (see rbac.c).
 * Owner's "*" in Actions never grants DataActions: the lists are separate.
 *
 * Cost: a check reads only the caller's and its groups' assignments, from an in-memory cache
 * (principal -> compiled assignments, loaded from the store on first use). A cache hit
 * allocates nothing. Every change made through this module drops the cache; a change made
 * elsewhere (another node) must call cf_rbac_invalidate.
 *
 * Thread-safe: checks run concurrently under a read lock; changes take the write lock only to
 * drop the cache. List callbacks run under the read lock: they must not call back into a
 * changing function of this module. */
#ifndef CF_RBAC_H
#define CF_RBAC_H

#include "base/cf.h"
#include "base/clock.h"
#include "base/str.h"
#include "store/store_auth.h"

struct cf_store;
struct cf_rbac;

/* Well-known role ids (GUIDs, Azure's). */
#define CF_ROLE_KV_ADMINISTRATOR "00482a5a-887f-4fb3-b363-3b7fe8e74483"
#define CF_ROLE_KV_READER "21090545-7ca7-4776-b22c-e363652d74d2"
#define CF_ROLE_KV_SECRETS_OFFICER "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
#define CF_ROLE_KV_SECRETS_USER "4633458b-17de-408a-b874-0445c86b69e6"
#define CF_ROLE_OWNER "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#define CF_ROLE_CONTRIBUTOR "b24988ac-6180-42a0-ab88-20f7382dd24c"
#define CF_ROLE_READER "acdd72a7-3385-48ef-bd42-f606fba81ae7"
#define CF_ROLE_USER_ACCESS_ADMINISTRATOR "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"

/* A role definition, built-in or custom. Lists are NULL-terminated. Pointers stay valid while
 * the definition is handed to a callback, or (built-ins) for ever. */
struct cf_rbac_role {
    const char *id;          /* GUID, lower case */
    const char *name;        /* roleName, e.g. "Key Vault Secrets User" */
    const char *description;
    bool builtin;
    /* Key Vault Data Access Administrator's ABAC condition: roleAssignments/write and /delete
     * are allowed only for the eight Key Vault data roles (§2.2). */
    bool kv_roles_condition;
    const char *const *assignable_scopes;
    const char *const *actions;
    const char *const *not_actions;
    const char *const *data_actions;
    const char *const *not_data_actions;
    int64_t created, updated; /* unix s; 0 for built-ins */
};

struct cf_rbac *cf_rbac_new(struct cf_store *store, const struct cf_clock *clock, cf_err *err);
void cf_rbac_free(struct cf_rbac *rb);
/* Drops every cached assignment and reloads custom roles (changes made outside this object). */
cf_err cf_rbac_invalidate(struct cf_rbac *rb);

/* ---- scopes ---- */
/* Writes the normalised form of in[0..len) to out[outsz]: lower case, a leading '/', '/' runs
 * collapsed, no trailing '/', "" and "/" both "/". CF_ETOOBIG when it does not fit. */
cf_err cf_rbac_scope_normalize(const char *in, size_t len, char *out, size_t outsz);
/* True when the (normalised) scope `outer` covers `inner` (equal, "/", or a '/'-bounded
 * prefix). */
bool cf_rbac_scope_covers(const char *outer, const char *inner);
/* The normalised scope of a vault (kind NULL) or of an object in it (kind "secrets", "keys",
 * "certificates", name its name): what a data-plane check passes as its scope. */
cf_err cf_rbac_scope_vault(char *out, size_t outsz, const char *subscription,
                           const char *resource_group, const char *vault, const char *kind,
                           struct cf_str name);

/* ---- the check ---- */
struct cf_rbac_decision {
    bool allowed;
    char assignment_id[37]; /* the first assignment that allowed it; "" when denied */
    char role_id[37];
};
/* Is principal_oid (or one of its groups) allowed `action` at `scope`? action is an Azure
 * operation, e.g. "Microsoft.KeyVault/vaults/secrets/getSecret/action"; is_data_action picks
 * DataActions/NotDataActions instead of Actions/NotActions. Scope need not be normalised
 * (compared case-insensitively). Returns CF_OK with out->allowed set, or an error when the
 * caller's assignments could not be read (a server failure: deny). */
cf_err cf_rbac_check(struct cf_rbac *rb, const char *principal_oid, const char *const *group_oids,
                     size_t ngroups, const char *scope, const char *action, bool is_data_action,
                     struct cf_rbac_decision *out);
/* The same for Microsoft.Authorization/roleAssignments/write and /delete, with the role id the
 * assignment names (what the Data Access Administrator's condition looks at). cf_rbac_check on
 * those actions treats the role as unknown: conditioned assignments do not grant them. */
cf_err cf_rbac_check_ex(struct cf_rbac *rb, const char *principal_oid,
                        const char *const *group_oids, size_t ngroups, const char *scope,
                        const char *action, bool is_data_action, const char *target_role_id,
                        struct cf_rbac_decision *out);
/* Case-insensitive Azure operation pattern match ('*' = any run of characters). */
bool cf_rbac_action_matches(const char *pattern, const char *action);

/* ---- Coffer route permissions -> Azure operations (§2.4) ---- */
struct cf_rbac_action {
    const char *action; /* NULL for "public" routes (no check) */
    bool is_data;
};
/* permission: the route table's permission column ("secrets/get", "vaults/write"...);
 * operation: its audit operation name ("SecretUpdate"...), which picks the action where one
 * permission covers two (access policies' secrets "set" is RBAC's setSecret for PUT and
 * update for PATCH). False when the permission is unknown. */
bool cf_rbac_action_for_permission(const char *permission, const char *operation,
                                   struct cf_rbac_action *out);

/* ---- role definitions ---- */
typedef cf_err (*cf_rbac_role_cb)(const struct cf_rbac_role *role, void *arg);
/* The built-in role with that id (case-insensitive), or NULL. */
const struct cf_rbac_role *cf_rbac_builtin(const char *id);
/* Built-ins first (table order), then custom roles by name. */
cf_err cf_rbac_role_list(struct cf_rbac *rb, cf_rbac_role_cb cb, void *arg);
/* Calls cb once with the role, or returns CF_ENOTFOUND. */
cf_err cf_rbac_role_get(struct cf_rbac *rb, const char *id, cf_rbac_role_cb cb, void *arg);
/* Creates or replaces the custom role rec->id (GUID). Validates: a name, at least one
 * assignable scope, the permissions JSON shape (arrays of non-empty strings). CF_EBADPARAM
 * on bad input, CF_EFORBIDDEN for a built-in id, CF_EEXISTS when the name is taken (a
 * built-in's or another custom role's). rec->created/updated are set here. */
cf_err cf_rbac_role_put(struct cf_rbac *rb, const struct cf_rec_role_def *rec, bool *created);
/* CF_ENOTFOUND, CF_EFORBIDDEN (a built-in), or CF_EEXISTS when assignments still use it. */
cf_err cf_rbac_role_delete(struct cf_rbac *rb, const char *id);

/* ---- role assignments ---- */
/* Creates the assignment a (scope normalised here; created set here). CF_ENOTFOUND when the
 * role does not exist; CF_EEXISTS when another assignment has the same principal, role and
 * scope; CF_EBADPARAM when a->id exists with other content. An identical existing assignment
 * is CF_OK with *created false. */
cf_err cf_rbac_assignment_put(struct cf_rbac *rb, const struct cf_rec_role_asg *a, bool *created);
cf_err cf_rbac_assignment_get(struct cf_rbac *rb, const char *id, struct cf_rec_role_asg *out);
/* Fills *out (when not NULL) with what was deleted. CF_ENOTFOUND if absent. */
cf_err cf_rbac_assignment_delete(struct cf_rbac *rb, const char *id, struct cf_rec_role_asg *out);
enum cf_rbac_list_mode {
    CF_RBAC_LIST_AT_AND_ABOVE,     /* $filter=atScope(): scope and its ancestors */
    CF_RBAC_LIST_ABOVE_AND_BELOW,  /* default listing: ancestors, scope and its subtree */
};
/* Assignments related to scope per mode; principal_id (may be NULL) keeps only that
 * principal's. */
cf_err cf_rbac_assignment_list(struct cf_rbac *rb, const char *scope, enum cf_rbac_list_mode mode,
                               const char *principal_id, cf_store_role_asg_cb cb, void *arg);
/* Deletes every assignment at scope or below it (a vault that is deleted loses its
 * assignments and those of its objects, as in Azure, so a later vault of the same name starts
 * with none). scope "/" is refused (CF_EINVAL). *deleted gets the count. */
cf_err cf_rbac_assignment_delete_subtree(struct cf_rbac *rb, const char *scope, int *deleted);
/* Bootstrap: makes sure principal_oid holds role_id at scope (creating the assignment with a
 * fresh GUID name when no such assignment exists). */
cf_err cf_rbac_ensure_assignment(struct cf_rbac *rb, const char *scope, const char *role_id,
                                 const char *principal_oid, const char *principal_type);

#endif

/* rbac.c - Azure RBAC: the built-in role table, custom roles, scopes, the assignment cache and
 * the access check (rbac.h; azure-kv-security-ops.md §2).
 *
 * Map:
 *   builtin_roles[]          the built-in roles, one declarative table (§2.2)
 *   perm_map[]               route permission (+ operation) -> Azure operation (§2.3, §2.4)
 *   cf_rbac_action_matches   the '*' pattern match
 *   scope helpers            normalise, covers, vault/object scopes
 *   custom roles             compiled from the store's JSON into struct crole
 *   cache                    open-addressing table principal oid -> struct pent (its
 *                            assignments with resolved roles and scopes, one allocation)
 *   cf_rbac_check            read-locked lookups; a miss loads from the store and retries
 *   management               role and assignment writes (each drops the cache afterwards)
 *
 * Invariants: rb->gen changes (under the write lock) whenever the cache is dropped; a loader
 * inserts what it read only if gen is unchanged since before its read, so nothing read before
 * a change survives it. Cache entries point at roles (built-in: static; custom: rb->custom),
 * and custom roles are replaced only under the write lock after the cache is dropped. */
#include "base/cf.h"
#include "auth/rbac.h"
#include "base/json.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "store/store_auth.h"

#include <pthread.h>

/* ---------------------------------------------------------------- built-in roles */

#define KV "Microsoft.KeyVault/"
#define AUTHZ "Microsoft.Authorization/"
/* The reader action set "R" of §2.2. */
#define R_SET                                                                                      \
    AUTHZ "*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Resources/deployments/*",        \
        "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",            \
        KV "checkNameAvailability/read", KV "deletedVaults/read", KV "locations/*/read",           \
        KV "vaults/*/read", KV "operations/read"
#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})
#define ALL_SCOPES LIST("/")
#define RBAC_ONLY " Only works for key vaults that use the 'Azure role-based access control' " \
                  "permission model."

/* Names, ids and permission lists as Azure publishes them (§2.2); descriptions as Azure's. */
static const struct cf_rbac_role builtin_roles[] = {
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator",
     "Perform all data plane operations on a key vault and all objects in it, including "
     "certificates, keys, and secrets. Cannot manage key vault resources or manage role "
     "assignments." RBAC_ONLY,
     true, false, ALL_SCOPES, LIST(R_SET), NONE, LIST(KV "vaults/*"), NONE, 0, 0},
    {"21090545-7ca7-4776-b22c-e363652d74d2", "Key Vault Reader",
     "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive "
     "values such as secret contents or key material." RBAC_ONLY,
     true, false, ALL_SCOPES, LIST(R_SET), NONE,
     LIST(KV "vaults/*/read", KV "vaults/secrets/readMetadata/action"), NONE, 0, 0},
    {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "Key Vault Secrets Officer",
     "Perform any action on the secrets of a key vault, except manage permissions." RBAC_ONLY,
     true, false, ALL_SCOPES, LIST(R_SET), NONE, LIST(KV "vaults/secrets/*"), NONE, 0, 0},
    {"4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User",
     "Read secret contents." RBAC_ONLY, true, false, ALL_SCOPES, NONE, NONE,
     LIST(KV "vaults/secrets/getSecret/action", KV "vaults/secrets/readMetadata/action"), NONE, 0,
     0},
    {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603", "Key Vault Crypto Officer",
     "Perform any action on the keys of a key vault, except manage permissions." RBAC_ONLY, true,
     false, ALL_SCOPES, LIST(R_SET), NONE,
     LIST(KV "vaults/keys/*", KV "vaults/keyrotationpolicies/*"), NONE, 0, 0},
    {"12338af0-0e69-4776-bea7-57ae8d297424", "Key Vault Crypto User",
     "Perform cryptographic operations using keys." RBAC_ONLY, true, false, ALL_SCOPES, NONE, NONE,
     LIST(KV "vaults/keys/read", KV "vaults/keys/update/action", KV "vaults/keys/backup/action",
          KV "vaults/keys/encrypt/action", KV "vaults/keys/decrypt/action",
          KV "vaults/keys/wrap/action", KV "vaults/keys/unwrap/action",
          KV "vaults/keys/sign/action", KV "vaults/keys/verify/action"),
     NONE, 0, 0},
    {"e147488a-f6f5-4113-8e2d-b22465e65bf6", "Key Vault Crypto Service Encryption User",
     "Read metadata of keys and perform wrap/unwrap operations." RBAC_ONLY, true, false,
     ALL_SCOPES,
     LIST("Microsoft.EventGrid/eventSubscriptions/write",
          "Microsoft.EventGrid/eventSubscriptions/read",
          "Microsoft.EventGrid/eventSubscriptions/delete"),
     NONE,
     LIST(KV "vaults/keys/read", KV "vaults/keys/wrap/action", KV "vaults/keys/unwrap/action"),
     NONE, 0, 0},
    {"08bbd89e-9f13-488c-ac41-acfcb10c90ab", "Key Vault Crypto Service Release User",
     "Release keys." RBAC_ONLY, true, false, ALL_SCOPES, NONE, NONE,
     LIST(KV "vaults/keys/release/action"), NONE, 0, 0},
    {"a4417e6f-fecd-4de8-b567-7b0420556985", "Key Vault Certificates Officer",
     "Perform any action on the certificates of a key vault, except manage "
     "permissions." RBAC_ONLY,
     true, false, ALL_SCOPES, LIST(R_SET), NONE,
     LIST(KV "vaults/certificatecas/*", KV "vaults/certificates/*",
          KV "vaults/certificatecontacts/write"),
     NONE, 0, 0},
    {"db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", "Key Vault Certificate User",
     "Read entire certificate contents including secret and key portion." RBAC_ONLY, true, false,
     ALL_SCOPES, NONE, NONE,
     LIST(KV "vaults/certificates/read", KV "vaults/secrets/getSecret/action",
          KV "vaults/secrets/readMetadata/action", KV "vaults/keys/read"),
     NONE, 0, 0},
    {"8b54135c-b56d-4d72-a534-26097cfdc8d8", "Key Vault Data Access Administrator",
     "Manage access to Azure Key Vault by adding or removing role assignments for the Key Vault "
     "Administrator, Key Vault Certificates Officer, Key Vault Crypto Officer, Key Vault Crypto "
     "Service Encryption User, Key Vault Crypto User, Key Vault Reader, Key Vault Secrets "
     "Officer, or Key Vault Secrets User roles. Includes an ABAC condition to constrain role "
     "assignments.",
     true, true, ALL_SCOPES,
     LIST(AUTHZ "roleAssignments/write", AUTHZ "roleAssignments/delete", AUTHZ "*/read",
          "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
          "Microsoft.Resources/subscriptions/read", "Microsoft.Management/managementGroups/read",
          "Microsoft.Support/*", KV "vaults/*/read"),
     NONE, NONE, NONE, 0, 0},
    {"f25e0fa2-a7c8-4377-a976-54943a77a395", "Key Vault Contributor",
     "Lets you manage key vaults, but not access to them.", true, false, ALL_SCOPES,
     LIST(AUTHZ "*/read", "Microsoft.Insights/alertRules/*", KV "*",
          "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
          "Microsoft.Support/*"),
     LIST(KV "locations/deletedVaults/purge/action", KV "hsmPools/*", KV "managedHsms/*"), NONE,
     NONE, 0, 0},
    {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner",
     "Grants full access to manage all resources, including the ability to assign roles in "
     "Azure RBAC.",
     true, false, ALL_SCOPES, LIST("*"), NONE, NONE, NONE, 0, 0},
    {"b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor",
     "Grants full access to manage all resources, but does not allow you to assign roles in "
     "Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
     true, false, ALL_SCOPES, LIST("*"),
     LIST(AUTHZ "*/Delete", AUTHZ "*/Write", AUTHZ "elevateAccess/Action",
          "Microsoft.Blueprint/blueprintAssignments/write",
          "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action"),
     NONE, NONE, 0, 0},
    {"acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader",
     "View all resources, but does not allow you to make any changes.", true, false, ALL_SCOPES,
     LIST("*/read"), NONE, NONE, NONE, 0, 0},
    /* Not in the reference's table; Azure's published definition. */
    {"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator",
     "Lets you manage user access to Azure resources.", true, false, ALL_SCOPES,
     LIST("*/read", AUTHZ "*", "Microsoft.Support/*"), NONE, NONE, NONE, 0, 0},
};

/* The roles the Data Access Administrator may assign or unassign (its ABAC condition). */
static const char *const kv_data_roles[] = {
    "00482a5a-887f-4fb3-b363-3b7fe8e74483", "a4417e6f-fecd-4de8-b567-7b0420556985",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "12338af0-0e69-4776-bea7-57ae8d297424", "21090545-7ca7-4776-b22c-e363652d74d2",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "4633458b-17de-408a-b874-0445c86b69e6",
};

const struct cf_rbac_role *cf_rbac_builtin(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < CF_ARRAY_LEN(builtin_roles); i++)
        if (strcasecmp(builtin_roles[i].id, id) == 0)
            return &builtin_roles[i];
    return NULL;
}

/* ---------------------------------------------------------------- permission map */

/* Coffer's route permissions (the access-policy vocabulary plus ARM resource names) -> Azure
 * operations. A row with an operation wins over the row without one. */
static const struct {
    const char *permission, *operation, *action;
    bool is_data;
} perm_map[] = {
    /* secrets (§2.4) */
    {"secrets/get", NULL, KV "vaults/secrets/getSecret/action", true},
    {"secrets/get", "SecretGetDeleted", KV "vaults/secrets/readMetadata/action", true},
    {"secrets/list", NULL, KV "vaults/secrets/readMetadata/action", true},
    {"secrets/set", NULL, KV "vaults/secrets/setSecret/action", true},
    {"secrets/set", "SecretUpdate", KV "vaults/secrets/update/action", true},
    {"secrets/delete", NULL, KV "vaults/secrets/delete", true},
    {"secrets/backup", NULL, KV "vaults/secrets/backup/action", true},
    {"secrets/restore", NULL, KV "vaults/secrets/restore/action", true},
    {"secrets/recover", NULL, KV "vaults/secrets/recover/action", true},
    {"secrets/purge", NULL, KV "vaults/secrets/purge/action", true},
    /* keys */
    {"keys/get", NULL, KV "vaults/keys/read", true},
    {"keys/list", NULL, KV "vaults/keys/read", true},
    {"keys/create", NULL, KV "vaults/keys/create/action", true},
    {"keys/import", NULL, KV "vaults/keys/import/action", true},
    {"keys/update", NULL, KV "vaults/keys/update/action", true},
    {"keys/delete", NULL, KV "vaults/keys/delete", true},
    {"keys/backup", NULL, KV "vaults/keys/backup/action", true},
    {"keys/restore", NULL, KV "vaults/keys/restore/action", true},
    {"keys/recover", NULL, KV "vaults/keys/recover/action", true},
    {"keys/purge", NULL, KV "vaults/keys/purge/action", true},
    {"keys/encrypt", NULL, KV "vaults/keys/encrypt/action", true},
    {"keys/decrypt", NULL, KV "vaults/keys/decrypt/action", true},
    {"keys/wrapKey", NULL, KV "vaults/keys/wrap/action", true},
    {"keys/unwrapKey", NULL, KV "vaults/keys/unwrap/action", true},
    {"keys/sign", NULL, KV "vaults/keys/sign/action", true},
    {"keys/verify", NULL, KV "vaults/keys/verify/action", true},
    {"keys/release", NULL, KV "vaults/keys/release/action", true},
    {"keys/rotate", NULL, KV "vaults/keys/rotate/action", true},
    {"keys/getrotationpolicy", NULL, KV "vaults/keyrotationpolicies/read", true},
    {"keys/setrotationpolicy", NULL, KV "vaults/keyrotationpolicies/write", true},
    /* certificates */
    {"certificates/get", NULL, KV "vaults/certificates/read", true},
    {"certificates/list", NULL, KV "vaults/certificates/read", true},
    {"certificates/create", NULL, KV "vaults/certificates/create/action", true},
    {"certificates/import", NULL, KV "vaults/certificates/import/action", true},
    {"certificates/update", NULL, KV "vaults/certificates/update/action", true},
    {"certificates/delete", NULL, KV "vaults/certificates/delete", true},
    {"certificates/backup", NULL, KV "vaults/certificates/backup/action", true},
    {"certificates/restore", NULL, KV "vaults/certificates/restore/action", true},
    {"certificates/recover", NULL, KV "vaults/certificates/recover/action", true},
    {"certificates/purge", NULL, KV "vaults/certificates/purge/action", true},
    {"certificates/getissuers", NULL, KV "vaults/certificatecas/read", true},
    {"certificates/listissuers", NULL, KV "vaults/certificatecas/read", true},
    {"certificates/setissuers", NULL, KV "vaults/certificatecas/write", true},
    {"certificates/manageissuers", NULL, KV "vaults/certificatecas/write", true},
    {"certificates/deleteissuers", NULL, KV "vaults/certificatecas/delete", true},
    {"certificates/managecontacts", NULL, KV "vaults/certificatecontacts/write", true},
    /* management (§2.3) */
    {"subscriptions/read", NULL, "Microsoft.Resources/subscriptions/read", false},
    {"resources/read", NULL, "Microsoft.Resources/subscriptions/resources/read", false},
    {"resourceGroups/read", NULL, "Microsoft.Resources/subscriptions/resourceGroups/read", false},
    {"resourceGroups/write", NULL, "Microsoft.Resources/subscriptions/resourceGroups/write", false},
    {"resourceGroups/delete", NULL, "Microsoft.Resources/subscriptions/resourceGroups/delete",
     false},
    {"vaults/read", NULL, KV "vaults/read", false},
    {"vaults/read", "VaultCheckName", KV "checkNameAvailability/read", false},
    {"vaults/write", NULL, KV "vaults/write", false},
    {"vaults/delete", NULL, KV "vaults/delete", false},
    {"vaults/accessPolicies/write", NULL, KV "vaults/accessPolicies/write", false},
    {"deletedVaults/read", NULL, KV "deletedVaults/read", false},
    {"deletedVaults/read", "DeletedVaultGet", KV "locations/deletedVaults/read", false},
    {"deletedManagedHSMs/read", NULL, KV "deletedManagedHsms/read", false},
    {"locations/deletedVaults/purge/action", NULL, KV "locations/deletedVaults/purge/action",
     false},
    {"roleAssignments/read", NULL, AUTHZ "roleAssignments/read", false},
    {"roleAssignments/write", NULL, AUTHZ "roleAssignments/write", false},
    {"roleAssignments/delete", NULL, AUTHZ "roleAssignments/delete", false},
    {"roleDefinitions/read", NULL, AUTHZ "roleDefinitions/read", false},
    {"roleDefinitions/write", NULL, AUTHZ "roleDefinitions/write", false},
    {"roleDefinitions/delete", NULL, AUTHZ "roleDefinitions/delete", false},
    {"locks/read", NULL, AUTHZ "locks/read", false},
    {"locks/write", NULL, AUTHZ "locks/write", false},
    {"locks/delete", NULL, AUTHZ "locks/delete", false},
    /* Coffer's directory (Graph-shaped principals and groups, at "/"): reading it is any
     * Reader's "* /read"; changing it is Owner's "*" (or a custom role naming it). */
    {"directory/read", NULL, "Microsoft.Coffer/directory/read", false},
    {"directory/write", NULL, "Microsoft.Coffer/directory/write", false},
};

bool cf_rbac_action_for_permission(const char *permission, const char *operation,
                                   struct cf_rbac_action *out)
{
    int best = -1;

    if (!permission)
        return false;
    if (strcmp(permission, "public") == 0) {
        out->action = NULL;
        out->is_data = false;
        return true;
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(perm_map); i++) {
        if (strcmp(perm_map[i].permission, permission) != 0)
            continue;
        if (perm_map[i].operation) {
            if (operation && strcmp(perm_map[i].operation, operation) == 0) {
                best = (int)i;
                break;
            }
        } else if (best < 0) {
            best = (int)i;
        }
    }
    if (best < 0)
        return false;
    out->action = perm_map[best].action;
    out->is_data = perm_map[best].is_data;
    return true;
}

/* ---------------------------------------------------------------- matching */

static inline char lc(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* '*' matches any run of characters (including '/'), ASCII case-insensitively. A star between
 * two '/' also matches zero segments, so the pattern "Microsoft.KeyVault/vaults/ * /read" (no
 * spaces) covers "Microsoft.KeyVault/vaults/read" -
 * how the Key Vault Reader role reads vaults themselves (inferred from the role's purpose).
 *
 * Run as a set of live pattern positions stepped over the action (a Thompson NFA). Each
 * position k has two states: AT (p[0..k) matched, nothing of p[k] yet) and IN (inside the star
 * p[k], which has taken at least one character). A star AT reaches k + 1 without a character
 * and, for "/ * /", k + 2 (the zero segments - only on entry: after taking characters the star
 * must still be followed by its '/'); any character moves a star to IN, which keeps itself and
 * reaches k + 1. Epsilon moves only go forward, so one forward pass closes a set. O(len(p) * len(s)) whatever the stars - the old
 * backtracking was O(len^stars) (fuzz_rbac_pattern). The literal prefix before the first star
 * is compared directly, and a live state in the trailing star run accepts at once: the common
 * "Microsoft.KeyVault/vaults/secrets/ *" costs a prefix compare. Patterns longer than
 * GLOB_STACK positions (custom roles allow 255 characters) take a heap set. */
#define GLOB_STACK 512
#define G_AT 1u /* the states of a position: see above */
#define G_IN 2u

static bool zero_seg(const char *p, size_t i)
{
    return i > 0 && p[i - 1] == '/' && p[i + 1] == '/';
}

static bool glob(const char *p, const char *s)
{
    unsigned char stack[2 * GLOB_STACK], *cur, *nxt, *heap = NULL, *sw;
    size_t pl, tail, i = 0;
    bool live, ok = false;

    for (; p[i] && p[i] != '*'; i++, s++)
        if (lc(p[i]) != lc(*s))
            return false; /* also when s ended first: *s is '\0' */
    if (!p[i])
        return !*s;
    pl = i + strlen(p + i);
    for (tail = pl; tail > 0 && p[tail - 1] == '*'; tail--)
        ;
    if (pl + 1 <= GLOB_STACK) {
        cur = stack;
        nxt = stack + GLOB_STACK;
    } else {
        if (!(heap = malloc(2 * (pl + 1))))
            return false; /* refuse rather than grant */
        cur = heap;
        nxt = heap + pl + 1;
    }
    memset(cur, 0, pl + 1);
    cur[i] = G_AT;
    for (;;) {
        /* close cur under the epsilon moves; accept once a trailing star is live */
        live = false;
        for (size_t k = i; k <= pl; k++) {
            if (!cur[k])
                continue;
            live = true;
            if (k >= tail && k < pl) {
                ok = true;
                goto done;
            }
            if (p[k] == '*') {
                cur[k + 1] |= G_AT;
                if ((cur[k] & G_AT) && zero_seg(p, k))
                    cur[k + 2] |= G_AT;
            }
        }
        if (!live || !*s)
            break;
        memset(nxt, 0, pl + 1);
        for (size_t k = i; k < pl; k++) {
            if (!cur[k])
                continue;
            if (p[k] == '*')
                nxt[k] |= G_IN;
            else if (lc(p[k]) == lc(*s))
                nxt[k + 1] |= G_AT;
        }
        sw = cur, cur = nxt, nxt = sw;
        s++;
    }
    ok = live && (cur[pl] & G_AT);
done:
    free(heap);
    return ok;
}

bool cf_rbac_action_matches(const char *pattern, const char *action)
{
    if (!pattern || !action)
        return false;
    return glob(pattern, action);
}

static bool any_match(const char *const *list, const char *action)
{
    for (; list && *list; list++)
        if (glob(*list, action))
            return true;
    return false;
}

static bool role_allows(const struct cf_rbac_role *r, const char *action, bool data)
{
    if (data)
        return any_match(r->data_actions, action) && !any_match(r->not_data_actions, action);
    return any_match(r->actions, action) && !any_match(r->not_actions, action);
}

/* ---------------------------------------------------------------- scopes */

cf_err cf_rbac_scope_normalize(const char *in, size_t len, char *out, size_t outsz)
{
    size_t k = 0;

    if (outsz < 2)
        return CF_ETOOBIG;
    out[k++] = '/';
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '\0')
            return CF_EBADPARAM;
        if (c == '/' && out[k - 1] == '/')
            continue;
        if (k + 1 >= outsz)
            return CF_ETOOBIG;
        out[k++] = lc(c);
    }
    if (k > 1 && out[k - 1] == '/')
        k--;
    out[k] = '\0';
    return CF_OK;
}

bool cf_rbac_scope_covers(const char *outer, const char *inner)
{
    size_t n = strlen(outer);

    if (n == 1 && outer[0] == '/')
        return true;
    return strncasecmp(outer, inner, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

cf_err cf_rbac_scope_vault(char *out, size_t outsz, const char *subscription,
                           const char *resource_group, const char *vault, const char *kind,
                           struct cf_str name)
{
    char tmp[CF_RBAC_MAX_SCOPE];
    int n;

    if (kind)
        n = snprintf(tmp, sizeof(tmp),
                     "/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s/"
                     "%s/%.*s",
                     subscription, resource_group, vault, kind, CF_STR_FMT(name));
    else
        n = snprintf(tmp, sizeof(tmp),
                     "/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s",
                     subscription, resource_group, vault);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return CF_ETOOBIG;
    return cf_rbac_scope_normalize(tmp, (size_t)n, out, outsz);
}

/* ---------------------------------------------------------------- custom roles */

/* Every string is on the heap: a crole is copied by value into rb->custom, so r must never
 * point into the struct itself. */
struct crole {
    struct cf_rbac_role r;
    char *id, *name, *description;
    char **lists[5]; /* scopes, actions, not_actions, data_actions, not_data_actions */
};

static void crole_release(struct crole *c)
{
    free(c->id);
    free(c->name);
    free(c->description);
    for (int i = 0; i < 5; i++) {
        for (char **p = c->lists[i]; p && *p; p++)
            free(*p);
        free(c->lists[i]);
    }
    memset(c, 0, sizeof(*c));
}

#define MAX_PATTERN 256
#define MAX_LIST 256

static bool pattern_ok(const char *s, size_t n)
{
    int stars = 0;

    if (n == 0 || n >= MAX_PATTERN || memchr(s, '\0', n))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '*')
            stars++;
        if ((unsigned char)s[i] < 0x20)
            return false;
    }
    return stars <= 4;
}

/* Copies a JSON array of strings (absent: empty) into a NULL-terminated heap list. */
static cf_err copy_list(const struct cf_json *arr, bool scopes, char ***out)
{
    size_t n = cf_json_size(arr);
    char **l;

    *out = NULL;
    if (arr && cf_json_type(arr) != CF_JSON_ARRAY)
        return CF_EBADPARAM;
    if (n > MAX_LIST)
        return CF_EBADPARAM;
    l = calloc(n + 1, sizeof(*l));
    if (!l)
        return CF_ENOMEM;
    *out = l;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *s = cf_json_str(cf_json_at(arr, i), &len);
        if (!s || (scopes ? (len == 0 || len >= CF_RBAC_MAX_SCOPE || memchr(s, '\0', len))
                          : !pattern_ok(s, len)))
            return CF_EBADPARAM;
        l[i] = cf_str_dup((struct cf_str){s, len});
        if (!l[i])
            return CF_ENOMEM;
    }
    return CF_OK;
}

/* Compiles a stored (or submitted) custom role. CF_EBADPARAM when the JSON is not the shape. */
static cf_err crole_compile(const struct cf_rec_role_def *d, struct crole *c)
{
    static const char *const keys[4] = {"actions", "notActions", "dataActions", "notDataActions"};
    struct cf_json *scopes = NULL, *perms = NULL;
    const char *sj = d->scopes_json ? d->scopes_json : "[]";
    const char *pj = d->perms_json ? d->perms_json : "{}";
    cf_err e;

    memset(c, 0, sizeof(*c));
    c->id = strdup(d->id);
    c->name = strdup(d->name);
    c->description = strdup(d->description ? d->description : "");
    if (!c->id || !c->name || !c->description) {
        e = CF_ENOMEM;
        goto fail;
    }
    for (char *p = c->id; *p; p++)
        *p = lc(*p);
    if (cf_json_parse(sj, strlen(sj), &scopes, NULL, 0) != CF_OK ||
        cf_json_parse(pj, strlen(pj), &perms, NULL, 0) != CF_OK ||
        cf_json_type(perms) != CF_JSON_OBJECT) {
        e = CF_EBADPARAM;
        goto fail;
    }
    e = copy_list(scopes, true, &c->lists[0]);
    for (int i = 0; i < 4 && !e; i++)
        e = copy_list(cf_json_get(perms, keys[i]), false, &c->lists[i + 1]);
    if (e)
        goto fail;
    c->r.id = c->id;
    c->r.name = c->name;
    c->r.description = c->description;
    c->r.builtin = false;
    c->r.assignable_scopes = (const char *const *)c->lists[0];
    c->r.actions = (const char *const *)c->lists[1];
    c->r.not_actions = (const char *const *)c->lists[2];
    c->r.data_actions = (const char *const *)c->lists[3];
    c->r.not_data_actions = (const char *const *)c->lists[4];
    c->r.created = d->created;
    c->r.updated = d->updated;
    cf_json_free(scopes);
    cf_json_free(perms);
    return CF_OK;
fail:
    cf_json_free(scopes);
    cf_json_free(perms);
    crole_release(c);
    return e;
}

/* ---------------------------------------------------------------- the object and its cache */

/* One cached assignment: the role resolved, the scope pointing into the entry's tail. */
struct casg {
    const struct cf_rbac_role *role;
    const char *scope;
    char id[37];
};
struct pent {
    uint64_t hash;
    char oid[37]; /* lower case */
    size_t n;
    struct casg a[]; /* then the scopes' text */
};

#define CACHE_MIN 1024
#define CACHE_MAX_ENTRIES (1u << 20)

struct cf_rbac {
    struct cf_store *store;
    const struct cf_clock *clock;
    pthread_rwlock_t mu;
    uint64_t gen;          /* under mu; bumped whenever the cache is dropped */
    struct pent **tab;     /* open addressing, linear probing; NULL = empty */
    size_t cap, count;
    struct crole *custom;  /* by name; replaced only under the write lock */
    size_t ncustom;
};

static uint64_t oid_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)lc(*s);
        h *= 1099511628211ULL;
    }
    return h;
}

static struct pent *cache_find(const struct cf_rbac *rb, const char *oid, uint64_t h)
{
    if (!rb->cap)
        return NULL;
    for (size_t i = (size_t)h & (rb->cap - 1);; i = (i + 1) & (rb->cap - 1)) {
        struct pent *p = rb->tab[i];
        if (!p)
            return NULL;
        if (p->hash == h && strcasecmp(p->oid, oid) == 0)
            return p;
    }
}

static void cache_drop(struct cf_rbac *rb)
{
    for (size_t i = 0; i < rb->cap; i++)
        free(rb->tab[i]);
    if (rb->tab)
        memset(rb->tab, 0, rb->cap * sizeof(*rb->tab));
    rb->count = 0;
    rb->gen++;
}

/* Under the write lock. Takes p (frees it when it cannot be kept). */
static void cache_insert(struct cf_rbac *rb, struct pent *p)
{
    size_t i;

    if (cache_find(rb, p->oid, p->hash)) {
        free(p);
        return;
    }
    if (rb->count >= CACHE_MAX_ENTRIES) /* bounded memory: start over */
        cache_drop(rb);
    if ((rb->count + 1) * 2 > rb->cap) {
        size_t ncap = rb->cap ? rb->cap * 2 : CACHE_MIN;
        struct pent **nt = calloc(ncap, sizeof(*nt));
        if (!nt) {
            free(p);
            return;
        }
        for (size_t k = 0; k < rb->cap; k++) {
            struct pent *q = rb->tab[k];
            if (!q)
                continue;
            for (i = (size_t)q->hash & (ncap - 1); nt[i]; i = (i + 1) & (ncap - 1))
                ;
            nt[i] = q;
        }
        free(rb->tab);
        rb->tab = nt;
        rb->cap = ncap;
    }
    for (i = (size_t)p->hash & (rb->cap - 1); rb->tab[i]; i = (i + 1) & (rb->cap - 1))
        ;
    rb->tab[i] = p;
    rb->count++;
}

/* Under (at least) the read lock. */
static const struct cf_rbac_role *role_find(const struct cf_rbac *rb, const char *id)
{
    const struct cf_rbac_role *r = cf_rbac_builtin(id);
    if (r)
        return r;
    for (size_t i = 0; i < rb->ncustom; i++)
        if (strcasecmp(rb->custom[i].id, id) == 0)
            return &rb->custom[i].r;
    return NULL;
}

/* A principal's assignments as read from the store. */
struct loaded {
    struct cf_rec_role_asg *a;
    size_t n, cap;
};

static cf_err load_cb(const struct cf_rec_role_asg *a, void *arg)
{
    struct loaded *l = arg;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        struct cf_rec_role_asg *na = realloc(l->a, ncap * sizeof(*na));
        if (!na)
            return CF_ENOMEM;
        l->a = na;
        l->cap = ncap;
    }
    l->a[l->n++] = *a;
    return CF_OK;
}

struct load_arg {
    const char *oid;
    struct loaded *l;
};

static cf_err load_fn(struct cf_store_txn *t, void *arg)
{
    struct load_arg *la = arg;
    la->l->n = 0;
    return cf_store_role_asg_list_principal(t, la->oid, load_cb, la->l);
}

/* Builds an entry from loaded records, resolving roles (under the write lock). Assignments
 * whose role no longer exists are left out: they grant nothing. */
static struct pent *pent_build(const struct cf_rbac *rb, const char *oid, uint64_t h,
                               const struct loaded *l)
{
    size_t text = 0, k = 0;
    struct pent *p;
    char *tail;

    for (size_t i = 0; i < l->n; i++)
        text += strlen(l->a[i].scope) + 1;
    p = malloc(sizeof(*p) + l->n * sizeof(struct casg) + text);
    if (!p)
        return NULL;
    p->hash = h;
    snprintf(p->oid, sizeof(p->oid), "%s", oid);
    for (char *c = p->oid; *c; c++)
        *c = lc(*c);
    tail = (char *)&p->a[l->n];
    for (size_t i = 0; i < l->n; i++) {
        const struct cf_rbac_role *r = role_find(rb, l->a[i].role_def_id);
        size_t sl = strlen(l->a[i].scope);
        if (!r)
            continue;
        p->a[k].role = r;
        memcpy(p->a[k].id, l->a[i].id, sizeof(p->a[k].id));
        memcpy(tail, l->a[i].scope, sl + 1);
        p->a[k].scope = tail;
        tail += sl + 1;
        k++;
    }
    p->n = k;
    return p;
}

/* Loads oid's assignments and caches them unless the cache was dropped meanwhile. */
static cf_err cache_load(struct cf_rbac *rb, const char *oid, uint64_t h)
{
    struct loaded l = {0};
    struct load_arg la = {oid, &l};
    struct pent *p;
    uint64_t gen;
    cf_err e;

    pthread_rwlock_rdlock(&rb->mu);
    gen = rb->gen;
    pthread_rwlock_unlock(&rb->mu);
    e = cf_store_read(rb->store, load_fn, &la);
    if (e)
        goto out;
    pthread_rwlock_wrlock(&rb->mu);
    if (gen == rb->gen) {
        p = pent_build(rb, oid, h, &l);
        if (p)
            cache_insert(rb, p);
        else
            e = CF_ENOMEM;
    }
    pthread_rwlock_unlock(&rb->mu);
out:
    free(l.a);
    return e;
}

static cf_err custom_load_cb(const struct cf_rec_role_def *d, void *arg)
{
    struct loaded *l = arg; /* reused as a growable array of croles via cap/n */
    struct crole **arr = (struct crole **)(void *)&l->a;
    struct crole c;
    cf_err e;

    e = crole_compile(d, &c);
    if (e == CF_EBADPARAM) {
        cf_warn("rbac: custom role %s is malformed in the store; ignored", d->id);
        return CF_OK;
    }
    if (e)
        return e;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        struct crole *na = realloc(*arr, ncap * sizeof(*na));
        if (!na) {
            crole_release(&c);
            return CF_ENOMEM;
        }
        *arr = na;
        l->cap = ncap;
    }
    (*arr)[l->n++] = c;
    return CF_OK;
}

static cf_err custom_load_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_role_def_list(t, custom_load_cb, arg);
}

static void custom_free(struct crole *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crole_release(&c[i]);
    free(c);
}

/* Reloads the custom roles and drops the cache (entries point at the old roles). */
static cf_err reload(struct cf_rbac *rb)
{
    struct loaded l = {0};
    struct crole *old;
    size_t nold;
    cf_err e;

    e = cf_store_read(rb->store, custom_load_fn, &l);
    if (e) {
        custom_free((struct crole *)(void *)l.a, l.n);
        pthread_rwlock_wrlock(&rb->mu);
        cache_drop(rb); /* at least nothing stale about assignments survives */
        pthread_rwlock_unlock(&rb->mu);
        return e;
    }
    pthread_rwlock_wrlock(&rb->mu);
    cache_drop(rb);
    old = rb->custom;
    nold = rb->ncustom;
    rb->custom = (struct crole *)(void *)l.a;
    rb->ncustom = l.n;
    pthread_rwlock_unlock(&rb->mu);
    custom_free(old, nold);
    return CF_OK;
}

static void invalidate_assignments(struct cf_rbac *rb)
{
    pthread_rwlock_wrlock(&rb->mu);
    cache_drop(rb);
    pthread_rwlock_unlock(&rb->mu);
}

struct cf_rbac *cf_rbac_new(struct cf_store *store, const struct cf_clock *clock, cf_err *err)
{
    struct cf_rbac *rb;

    if (!store || !clock) {
        *err = CF_EINVAL;
        return NULL;
    }
    rb = calloc(1, sizeof(*rb));
    if (!rb) {
        *err = CF_ENOMEM;
        return NULL;
    }
    rb->store = store;
    rb->clock = clock;
    pthread_rwlock_init(&rb->mu, NULL);
    *err = reload(rb);
    if (*err) {
        cf_rbac_free(rb);
        return NULL;
    }
    return rb;
}

void cf_rbac_free(struct cf_rbac *rb)
{
    if (!rb)
        return;
    cache_drop(rb);
    free(rb->tab);
    custom_free(rb->custom, rb->ncustom);
    pthread_rwlock_destroy(&rb->mu);
    free(rb);
}

cf_err cf_rbac_invalidate(struct cf_rbac *rb)
{
    return reload(rb);
}

/* ---------------------------------------------------------------- the check */

static bool is_asg_write_or_delete(const char *action)
{
    return strcasecmp(action, AUTHZ "roleAssignments/write") == 0 ||
           strcasecmp(action, AUTHZ "roleAssignments/delete") == 0;
}

static bool condition_holds(const struct cf_rbac_role *r, const char *action, const char *target)
{
    if (!r->kv_roles_condition || !is_asg_write_or_delete(action))
        return true;
    if (!target)
        return false;
    for (size_t i = 0; i < CF_ARRAY_LEN(kv_data_roles); i++)
        if (strcasecmp(kv_data_roles[i], target) == 0)
            return true;
    return false;
}

static bool entry_allows(const struct pent *p, const char *scope, const char *action, bool data,
                         const char *target, struct cf_rbac_decision *out)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct casg *a = &p->a[i];
        if (!cf_rbac_scope_covers(a->scope, scope) || !role_allows(a->role, action, data) ||
            !condition_holds(a->role, action, target))
            continue;
        out->allowed = true;
        memcpy(out->assignment_id, a->id, sizeof(out->assignment_id));
        snprintf(out->role_id, sizeof(out->role_id), "%s", a->role->id);
        return true;
    }
    return false;
}

cf_err cf_rbac_check_ex(struct cf_rbac *rb, const char *principal_oid,
                        const char *const *group_oids, size_t ngroups, const char *scope,
                        const char *action, bool is_data_action, const char *target_role_id,
                        struct cf_rbac_decision *out)
{
    char sc[CF_RBAC_MAX_SCOPE];
    cf_err e;

    memset(out, 0, sizeof(*out));
    if (!rb || !principal_oid || !scope || !action || (ngroups && !group_oids))
        return CF_EINVAL;
    e = cf_rbac_scope_normalize(scope, strlen(scope), sc, sizeof(sc));
    if (e)
        return e;
    /* Each miss loads one principal and retries; a retry is needed again only when the cache
     * was dropped meanwhile, so a few rounds settle unless changes never stop. */
    for (int round = 0; round < 4 + (int)ngroups; round++) {
        const char *miss = NULL;
        uint64_t miss_h = 0;

        pthread_rwlock_rdlock(&rb->mu);
        for (size_t i = 0; i <= ngroups && !out->allowed; i++) {
            const char *oid = i == 0 ? principal_oid : group_oids[i - 1];
            uint64_t h = oid_hash(oid);
            const struct pent *p = cache_find(rb, oid, h);
            if (!p) {
                if (!miss) {
                    miss = oid;
                    miss_h = h;
                }
                continue;
            }
            entry_allows(p, sc, action, is_data_action, target_role_id, out);
        }
        pthread_rwlock_unlock(&rb->mu);
        if (out->allowed || !miss)
            return CF_OK;
        e = cache_load(rb, miss, miss_h);
        if (e) {
            memset(out, 0, sizeof(*out));
            return e;
        }
    }
    memset(out, 0, sizeof(*out));
    return CF_EBUSY;
}

cf_err cf_rbac_check(struct cf_rbac *rb, const char *principal_oid, const char *const *group_oids,
                     size_t ngroups, const char *scope, const char *action, bool is_data_action,
                     struct cf_rbac_decision *out)
{
    return cf_rbac_check_ex(rb, principal_oid, group_oids, ngroups, scope, action, is_data_action,
                            NULL, out);
}

/* ---------------------------------------------------------------- role definitions */

cf_err cf_rbac_role_list(struct cf_rbac *rb, cf_rbac_role_cb cb, void *arg)
{
    cf_err e = CF_OK;

    for (size_t i = 0; i < CF_ARRAY_LEN(builtin_roles) && !e; i++)
        e = cb(&builtin_roles[i], arg);
    pthread_rwlock_rdlock(&rb->mu);
    for (size_t i = 0; i < rb->ncustom && !e; i++)
        e = cb(&rb->custom[i].r, arg);
    pthread_rwlock_unlock(&rb->mu);
    return e;
}

cf_err cf_rbac_role_get(struct cf_rbac *rb, const char *id, cf_rbac_role_cb cb, void *arg)
{
    const struct cf_rbac_role *r;
    cf_err e;

    pthread_rwlock_rdlock(&rb->mu);
    r = role_find(rb, id);
    e = r ? cb(r, arg) : CF_ENOTFOUND;
    pthread_rwlock_unlock(&rb->mu);
    return e;
}

struct role_put_arg {
    const struct cf_rec_role_def *rec;
    bool created;
};

static cf_err role_put_fn(struct cf_store_txn *t, void *arg)
{
    struct role_put_arg *a = arg;
    return cf_store_role_def_put(t, a->rec, &a->created);
}

cf_err cf_rbac_role_put(struct cf_rbac *rb, const struct cf_rec_role_def *rec, bool *created)
{
    struct cf_rec_role_def d = *rec;
    struct role_put_arg pa = {&d, false};
    struct crole c;
    int64_t now = cf_clock_s(rb->clock);
    cf_err e;

    *created = false;
    if (!rec->id[0] || !rec->name[0])
        return CF_EBADPARAM;
    for (char *p = d.id; *p; p++)
        *p = lc(*p);
    if (cf_rbac_builtin(d.id))
        return CF_EFORBIDDEN;
    for (size_t i = 0; i < CF_ARRAY_LEN(builtin_roles); i++)
        if (strcasecmp(builtin_roles[i].name, d.name) == 0)
            return CF_EEXISTS;
    e = crole_compile(&d, &c);
    if (e)
        return e;
    if (!c.lists[0][0]) { /* at least one assignable scope */
        crole_release(&c);
        return CF_EBADPARAM;
    }
    crole_release(&c);
    /* on update the store keeps the existing created */
    d.created = d.updated = now;
    e = cf_store_write(rb->store, role_put_fn, &pa);
    if (e)
        return e;
    *created = pa.created;
    return reload(rb);
}

static cf_err role_del_fn(struct cf_store_txn *t, void *arg)
{
    const char *id = arg;
    bool used = false;
    cf_err e = cf_store_role_asg_uses_role(t, id, &used);
    if (e)
        return e;
    if (used)
        return CF_EEXISTS;
    return cf_store_role_def_delete(t, id);
}

cf_err cf_rbac_role_delete(struct cf_rbac *rb, const char *id)
{
    char lid[37];
    cf_err e;

    if (!id || strlen(id) >= sizeof(lid))
        return CF_ENOTFOUND;
    if (cf_rbac_builtin(id))
        return CF_EFORBIDDEN;
    snprintf(lid, sizeof(lid), "%s", id);
    for (char *p = lid; *p; p++)
        *p = lc(*p);
    e = cf_store_write(rb->store, role_del_fn, lid);
    if (e)
        return e;
    return reload(rb);
}

/* ---------------------------------------------------------------- role assignments */

struct asg_put_arg {
    struct cf_rbac *rb;
    struct cf_rec_role_asg a;
    bool created;
    cf_err dup; /* set by the duplicate scan */
};

static cf_err dup_cb(const struct cf_rec_role_asg *x, void *arg)
{
    struct asg_put_arg *pa = arg;
    if (strcmp(x->id, pa->a.id) != 0 && strcmp(x->scope, pa->a.scope) == 0 &&
        strcasecmp(x->role_def_id, pa->a.role_def_id) == 0)
        pa->dup = CF_EEXISTS;
    return CF_OK;
}

static cf_err asg_put_fn(struct cf_store_txn *t, void *arg)
{
    struct asg_put_arg *pa = arg;
    struct cf_rec_role_asg old;
    cf_err e;

    if (!cf_rbac_builtin(pa->a.role_def_id)) {
        struct cf_rec_role_def d;
        memset(&d, 0, sizeof(d));
        e = cf_store_role_def_get(t, pa->a.role_def_id, &d);
        cf_rec_role_def_release(&d);
        if (e)
            return e; /* CF_ENOTFOUND: no such role */
    }
    e = cf_store_role_asg_get(t, pa->a.id, &old);
    if (e == CF_OK) {
        if (strcmp(old.scope, pa->a.scope) != 0 ||
            strcasecmp(old.role_def_id, pa->a.role_def_id) != 0 ||
            strcasecmp(old.principal_id, pa->a.principal_id) != 0)
            return CF_EBADPARAM;
        pa->a = old;
        pa->created = false;
        return CF_OK;
    }
    if (e != CF_ENOTFOUND)
        return e;
    e = cf_store_role_asg_list_principal(t, pa->a.principal_id, dup_cb, pa);
    if (e)
        return e;
    if (pa->dup)
        return pa->dup;
    e = cf_store_role_asg_insert(t, &pa->a);
    pa->created = e == CF_OK;
    return e;
}

static void lower_inplace(char *s)
{
    for (; *s; s++)
        *s = lc(*s);
}

cf_err cf_rbac_assignment_put(struct cf_rbac *rb, const struct cf_rec_role_asg *a, bool *created)
{
    struct asg_put_arg pa;
    cf_err e;

    *created = false;
    memset(&pa, 0, sizeof(pa));
    pa.rb = rb;
    pa.a = *a;
    if (!a->id[0] || !a->role_def_id[0] || !a->principal_id[0])
        return CF_EBADPARAM;
    e = cf_rbac_scope_normalize(a->scope, strnlen(a->scope, sizeof(a->scope)), pa.a.scope,
                                sizeof(pa.a.scope));
    if (e)
        return e;
    lower_inplace(pa.a.id);
    lower_inplace(pa.a.role_def_id);
    lower_inplace(pa.a.principal_id);
    pa.a.created = cf_clock_s(rb->clock);
    e = cf_store_write(rb->store, asg_put_fn, &pa);
    if (e)
        return e;
    *created = pa.created;
    if (pa.created)
        invalidate_assignments(rb);
    return CF_OK;
}

struct asg_get_arg {
    const char *id;
    struct cf_rec_role_asg *out;
    bool del;
};

static cf_err asg_get_fn(struct cf_store_txn *t, void *arg)
{
    struct asg_get_arg *ga = arg;
    cf_err e = cf_store_role_asg_get(t, ga->id, ga->out);
    if (!e && ga->del)
        e = cf_store_role_asg_delete(t, ga->id);
    return e;
}

cf_err cf_rbac_assignment_get(struct cf_rbac *rb, const char *id, struct cf_rec_role_asg *out)
{
    char lid[37];
    struct asg_get_arg ga = {lid, out, false};

    if (!id || strlen(id) >= sizeof(lid))
        return CF_ENOTFOUND;
    snprintf(lid, sizeof(lid), "%s", id);
    lower_inplace(lid);
    return cf_store_read(rb->store, asg_get_fn, &ga);
}

cf_err cf_rbac_assignment_delete(struct cf_rbac *rb, const char *id, struct cf_rec_role_asg *out)
{
    char lid[37];
    struct cf_rec_role_asg tmp;
    struct asg_get_arg ga = {lid, out ? out : &tmp, true};
    cf_err e;

    if (!id || strlen(id) >= sizeof(lid))
        return CF_ENOTFOUND;
    snprintf(lid, sizeof(lid), "%s", id);
    lower_inplace(lid);
    e = cf_store_write(rb->store, asg_get_fn, &ga);
    if (!e)
        invalidate_assignments(rb);
    return e;
}

/* Deletes in rounds: ids are collected first because a row must not be deleted under the
 * statement that is walking it. */
struct subtree_arg {
    const char *scope;
    char ids[256][37];
    size_t n;
    int deleted;
};

static cf_err subtree_collect_cb(const struct cf_rec_role_asg *a, void *arg)
{
    struct subtree_arg *sa = arg;
    if (sa->n < CF_ARRAY_LEN(sa->ids))
        memcpy(sa->ids[sa->n++], a->id, sizeof(sa->ids[0]));
    return CF_OK;
}

static cf_err subtree_fn(struct cf_store_txn *t, void *arg)
{
    struct subtree_arg *sa = arg;
    cf_err e;

    sa->deleted = 0;
    do {
        sa->n = 0;
        e = cf_store_role_asg_list_scope(t, sa->scope, true, subtree_collect_cb, sa);
        for (size_t i = 0; !e && i < sa->n; i++)
            e = cf_store_role_asg_delete(t, sa->ids[i]);
        if (!e)
            sa->deleted += (int)sa->n;
    } while (!e && sa->n == CF_ARRAY_LEN(sa->ids));
    return e;
}

cf_err cf_rbac_assignment_delete_subtree(struct cf_rbac *rb, const char *scope, int *deleted)
{
    char norm[CF_RBAC_MAX_SCOPE];
    struct subtree_arg *sa;
    cf_err e;

    *deleted = 0;
    e = cf_rbac_scope_normalize(scope, strlen(scope), norm, sizeof(norm));
    if (e)
        return e;
    if (strcmp(norm, "/") == 0)
        return CF_EINVAL; /* never the whole server by accident */
    sa = calloc(1, sizeof(*sa));
    if (!sa)
        return CF_ENOMEM;
    sa->scope = norm;
    e = cf_store_write(rb->store, subtree_fn, sa);
    if (!e) {
        *deleted = sa->deleted;
        invalidate_assignments(rb);
    }
    free(sa);
    return e;
}

struct asg_list_arg {
    const char *scope;
    enum cf_rbac_list_mode mode;
    const char *principal;
    cf_store_role_asg_cb cb;
    void *arg;
};

static cf_err principal_filter_cb(const struct cf_rec_role_asg *a, void *arg)
{
    struct asg_list_arg *la = arg;
    bool above = cf_rbac_scope_covers(a->scope, la->scope);
    bool below = cf_rbac_scope_covers(la->scope, a->scope);

    if (above || (below && la->mode == CF_RBAC_LIST_ABOVE_AND_BELOW))
        return la->cb(a, la->arg);
    return CF_OK;
}

static cf_err asg_list_fn(struct cf_store_txn *t, void *arg)
{
    struct asg_list_arg *la = arg;
    char anc[CF_RBAC_MAX_SCOPE];
    size_t n = strlen(la->scope);
    cf_err e;

    if (la->principal)
        return cf_store_role_asg_list_principal(t, la->principal, principal_filter_cb, la);
    /* ancestors, from "/" down: exact listings of each '/'-bounded prefix */
    if (n > 1) {
        e = cf_store_role_asg_list_scope(t, "/", false, la->cb, la->arg);
        if (e)
            return e;
    }
    for (size_t i = 1; i < n; i++) {
        if (la->scope[i] != '/')
            continue;
        memcpy(anc, la->scope, i);
        anc[i] = '\0';
        e = cf_store_role_asg_list_scope(t, anc, false, la->cb, la->arg);
        if (e)
            return e;
    }
    return cf_store_role_asg_list_scope(t, la->scope, la->mode == CF_RBAC_LIST_ABOVE_AND_BELOW,
                                        la->cb, la->arg);
}

cf_err cf_rbac_assignment_list(struct cf_rbac *rb, const char *scope, enum cf_rbac_list_mode mode,
                               const char *principal_id, cf_store_role_asg_cb cb, void *arg)
{
    char sc[CF_RBAC_MAX_SCOPE], pid[37];
    struct asg_list_arg la = {sc, mode, NULL, cb, arg};
    cf_err e = cf_rbac_scope_normalize(scope, strlen(scope), sc, sizeof(sc));

    if (e)
        return e;
    if (principal_id) {
        if (strlen(principal_id) >= sizeof(pid))
            return CF_OK; /* no such principal: nothing */
        snprintf(pid, sizeof(pid), "%s", principal_id);
        lower_inplace(pid);
        la.principal = pid;
    }
    return cf_store_read(rb->store, asg_list_fn, &la);
}

struct ensure_arg {
    const char *scope, *role;
    bool found;
};

static cf_err ensure_cb(const struct cf_rec_role_asg *a, void *arg)
{
    struct ensure_arg *ea = arg;
    if (strcmp(a->scope, ea->scope) == 0 && strcasecmp(a->role_def_id, ea->role) == 0)
        ea->found = true;
    return CF_OK;
}

cf_err cf_rbac_ensure_assignment(struct cf_rbac *rb, const char *scope, const char *role_id,
                                 const char *principal_oid, const char *principal_type)
{
    struct cf_rec_role_asg a;
    struct ensure_arg ea;
    bool created;
    cf_err e;

    memset(&a, 0, sizeof(a));
    if (!rb || !scope || !role_id || !principal_oid)
        return CF_EINVAL;
    e = cf_rbac_scope_normalize(scope, strlen(scope), a.scope, sizeof(a.scope));
    if (e)
        return e;
    ea = (struct ensure_arg){a.scope, role_id, false};
    e = cf_rbac_assignment_list(rb, a.scope, CF_RBAC_LIST_AT_AND_ABOVE, principal_oid, ensure_cb,
                                &ea);
    if (e || ea.found)
        return e;
    e = cf_uuid4(a.id);
    if (e)
        return e;
    snprintf(a.role_def_id, sizeof(a.role_def_id), "%s", role_id);
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", principal_oid);
    snprintf(a.principal_type, sizeof(a.principal_type), "%s",
             principal_type ? principal_type : "ServicePrincipal");
    e = cf_rbac_assignment_put(rb, &a, &created);
    if (e == CF_EEXISTS) /* a concurrent ensure won */
        e = CF_OK;
    return e;
}

/* authz.c - the authorization step of dispatch: deny by default, every authenticated route.
 *
 * Order on the data plane (azure-kv-security-ops.md §2.8, "check order"): the vault's network
 * rules (ForbiddenByFirewall / ForbiddenByConnection), then the permission model the vault
 * uses: Azure RBAC DataActions at the object's scope when enableRbacAuthorization is true,
 * its access policies otherwise (ForbiddenByRbac / ForbiddenByPolicy). Only then does the
 * handler look the object up, so a refused caller learns nothing about what exists.
 *
 * Management and Graph-shaped routes are always RBAC Actions: at the resource the path names
 * (subscription, resource group, vault), at the "**" span for Microsoft.Authorization routes,
 * and at "/" for the directory. Role assignment writes and deletes are authorized by their
 * handler (api_authorize_role_assignment), which knows the role the assignment names.
 *
 * The route's permission column ("secrets/get", "vaults/write") is the access-policy name and,
 * through cf_rbac_action_for_permission, the RBAC operation: one table drives both models. */
#include "base/cf.h"
#include "api/internal.h"
#include "auth/rbac.h"
#include "base/log.h"

#define AUTHZ_MAX_GROUPS CF_AUTH_MAX_GROUPS

/* The caller's groups as the RBAC check wants them (pointers into r->who). */
static size_t caller_groups(const struct api_req *r, const char **out, size_t max)
{
    size_t n = CF_MIN(r->who.ngroups, max);
    for (size_t i = 0; i < n; i++)
        out[i] = r->who.groups[i];
    return n;
}

static const char *caller_line(const struct api_req *r, char *out, size_t outsz)
{
    const struct cf_api_config *c = &r->api->cfg;
    snprintf(out, outsz, "appid=%s;oid=%s;iss=https://%s%.*s/%s/", r->who.client_id,
             r->who.object_id, c->login_host, CF_STR_FMT(r->port), r->who.tenant_id);
    return out;
}

/* ---------------- refusals ---------------- */

static void deny_rbac_data(struct api_req *r, const char *action, const char *scope)
{
    char caller[256];
    api_error(r, 403, "Forbidden", "ForbiddenByRbac",
              "Caller is not authorized to perform action on resource.\r\nIf role assignments, "
              "deny assignments or role definitions were changed recently, please observe "
              "propagation time.\r\nCaller: %s\r\nAction: '%s'\r\nResource: '%s'\r\n"
              "Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: "
              "'DeniedWithNoValidRBAC' \r\nVault: %s;location=%s\r\n",
              caller_line(r, caller, sizeof(caller)), action, scope, r->vault.name,
              r->api->cfg.region);
}

static void deny_policy(struct api_req *r, const char *permission, size_t ngroups)
{
    struct cf_str kind, perm;
    const struct cf_api_config *c = &r->api->cfg;

    if (!cf_str_split(cf_str_from(permission), '/', &kind, &perm))
        kind = perm = cf_str_from(permission);
    api_error(r, 403, "Forbidden", "ForbiddenByPolicy",
              "The user, group or application 'appid=%s;oid=%s;numgroups=%zu;iss=https://%s%.*s/"
              "%s/' does not have %.*s %.*s permission on key vault '%s;location=%s'. For help "
              "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
              r->who.client_id, r->who.object_id, ngroups, c->login_host, CF_STR_FMT(r->port),
              r->who.tenant_id, CF_STR_FMT(kind), CF_STR_FMT(perm), r->vault.name, c->region);
}

static void deny_network(struct api_req *r, enum cf_vault_net why)
{
    char caller[256];
    caller_line(r, caller, sizeof(caller));
    if (why == CF_VAULT_NET_CONNECTION)
        api_error(r, 403, "Forbidden", "ForbiddenByConnection",
                  "Public network access is disabled and request is not from a trusted service "
                  "nor via an approved private link.\r\nCaller: %s\r\nVault: %s;location=%s",
                  caller, r->vault.name, r->api->cfg.region);
    else
        api_error(r, 403, "Forbidden", "ForbiddenByFirewall",
                  "Client address is not authorized and caller is not a trusted service.\r\n"
                  "Client address: %s\r\nCaller: %s\r\nVault: %s;location=%s",
                  r->http->peer_ip, caller, r->vault.name, r->api->cfg.region);
}

static void deny_mgmt(struct api_req *r, const char *action, const char *scope)
{
    if (r->route && r->route->permission && strncmp(r->route->permission, "directory/", 10) == 0) {
        api_error(r, 403, "Authorization_RequestDenied", NULL,
                  "Insufficient privileges to complete the operation.");
        return;
    }
    api_error(r, 403, "AuthorizationFailed", NULL,
              "The client '%s' with object id '%s' does not have authorization to perform action "
              "'%s' over scope '%s' or the scope is invalid. If access was recently granted, "
              "please refresh your credentials.",
              r->who.client_id, r->who.object_id, action, scope);
}

/* ---------------- scopes ---------------- */

static bool seg_is(const struct api_req *r, size_t i, const char *lit)
{
    return i < r->nseg && cf_str_eq_ci(r->seg[i], cf_str_from(lit));
}

/* Appends "/" + s lower-cased; false when it does not fit. */
static bool put_seg(char *out, size_t outsz, size_t *len, struct cf_str s)
{
    if (*len + 1 + s.len + 1 > outsz || s.len == 0 || memchr(s.p, '/', s.len))
        return false;
    out[(*len)++] = '/';
    cf_str_lower(s, out + *len);
    *len += s.len;
    out[*len] = '\0';
    return true;
}

/* Data plane: the object's scope when the route names one ("secrets/NAME...",
 * "deletedkeys/NAME"), the vault's otherwise (lists, restore, rng, issuers, contacts). */
static bool data_scope(const struct api_req *r, char *out, size_t outsz)
{
    const char *p = r->route->pattern, *slash = strchr(p, '/');
    size_t len = strlen(r->vault.scope), klen;
    struct cf_str kind;

    if (len + 1 > outsz)
        return false;
    memcpy(out, r->vault.scope, len + 1);
    if (!slash || strncmp(slash, "/*", 2) != 0 || r->ncap == 0)
        return true;
    klen = (size_t)(slash - p);
    if (klen > 7 && strncmp(p, "deleted", 7) == 0) {
        p += 7;
        klen -= 7;
    }
    kind = (struct cf_str){p, klen};
    if (!cf_str_eq_cstr(kind, "secrets") && !cf_str_eq_cstr(kind, "keys") &&
        !cf_str_eq_cstr(kind, "certificates"))
        return true;
    return put_seg(out, outsz, &len, kind) && put_seg(out, outsz, &len, r->cap[0]);
}

/* Management plane: "/" for the directory and the subscription list; the "**" span for
 * Microsoft.Authorization routes; else the deepest of /subscriptions/S, .../resourceGroups/G,
 * .../providers/Microsoft.KeyVault/vaults/V that the path names. */
static bool mgmt_scope(const struct api_req *r, char *out, size_t outsz)
{
    size_t len = 0, n = r->span_n ? r->span_n : r->nseg;

    out[0] = '/';
    out[1] = '\0';
    if (strncmp(r->route->permission, "directory/", 10) == 0)
        return true;
    if (r->span_n) { /* the scope the role routes address, as h_rbac.c validates it */
        for (size_t i = 0; i < n; i++)
            if (!put_seg(out, outsz, &len, r->seg[i]))
                return false;
        if (len == 0)
            out[0] = '/', out[1] = '\0';
        return true;
    }
    if (!seg_is(r, 0, "subscriptions") || n < 2)
        return true;
    if (!put_seg(out, outsz, &len, r->seg[0]) || !put_seg(out, outsz, &len, r->seg[1]))
        return false;
    if (!seg_is(r, 2, "resourcegroups") || n < 4)
        return true;
    if (!put_seg(out, outsz, &len, r->seg[2]) || !put_seg(out, outsz, &len, r->seg[3]))
        return false;
    if (!seg_is(r, 4, "providers") || !seg_is(r, 5, "microsoft.keyvault") ||
        !seg_is(r, 6, "vaults") || n < 8)
        return true;
    for (size_t i = 4; i < 8; i++)
        if (!put_seg(out, outsz, &len, r->seg[i]))
            return false;
    return true;
}

/* ---------------- the checks ---------------- */

static bool check_rbac(struct api_req *r, const char *scope, const char *action, bool is_data,
                       const char *target_role)
{
    const char *groups[AUTHZ_MAX_GROUPS] = {0};
    size_t ng = caller_groups(r, groups, CF_ARRAY_LEN(groups));
    struct cf_rbac_decision d;
    cf_err e;

    e = cf_rbac_check_ex(r->api->cfg.rbac, r->who.object_id, groups, ng, scope, action, is_data,
                         target_role, &d);
    if (e) {
        api_error_err(r, e);
        return false;
    }
    if (d.allowed)
        return true;
    if (r->plane == API_PLANE_DATA)
        deny_rbac_data(r, action, scope);
    else
        deny_mgmt(r, action, scope);
    return false;
}

static bool authorize_data(struct api_req *r, const struct cf_rbac_action *a)
{
    char scope[CF_RBAC_MAX_SCOPE];
    cf_err e;

    if (r->vault.net_restricted) {
        enum cf_vault_net net;
        e = cf_vault_check_network(r->api->cfg.vault, &r->vault, r->http->peer_ip, &net);
        if (e && e != CF_ENOTFOUND) {
            api_error_err(r, e);
            return false;
        }
        if (net != CF_VAULT_NET_ALLOWED) {
            deny_network(r, net);
            return false;
        }
    }
    if (!r->vault.rbac) {
        size_t ng = r->who.ngroups;
        struct cf_vault_caller c = {.oid = r->who.object_id, .appid = r->who.client_id,
                                    .groups = (const char(*)[37])r->who.groups, .ngroups = ng};
        bool allowed;

        e = cf_vault_check_policy(r->api->cfg.vault, &r->vault, &c, r->route->permission,
                                  &allowed);
        if (e) {
            api_error_err(r, e);
            return false;
        }
        if (!allowed)
            deny_policy(r, r->route->permission, ng);
        return allowed;
    }
    if (!data_scope(r, scope, sizeof(scope))) {
        api_error(r, 400, "BadParameter", NULL, "The object name is too long.");
        return false;
    }
    return check_rbac(r, scope, a->action, true, NULL);
}

bool api_authorize(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE];
    struct cf_rbac_action a;

    if (!r->api->cfg.rbac || (r->route->flags & (API_NOAUTH | API_AUTHZ_HANDLER)))
        return true;
    /* The server has one subscription and says so to anyone signed in (az login lists it
     * before it knows what the caller may do). */
    if (strcmp(r->route->operation, "SubscriptionList") == 0)
        return true;
    if (!cf_rbac_action_for_permission(r->route->permission, r->route->operation, &a)) {
        cf_error("api: route %s has unknown permission %s: refused", r->route->operation,
                 r->route->permission);
        api_error(r, 403, "Forbidden", NULL, "The operation is not authorized.");
        return false;
    }
    if (!a.action)
        return true;
    if (r->plane == API_PLANE_DATA)
        return authorize_data(r, &a);
    if (!mgmt_scope(r, scope, sizeof(scope))) {
        api_error(r, 400, "InvalidScope", NULL, "The scope is not valid.");
        return false;
    }
    return check_rbac(r, scope, a.action, a.is_data, NULL);
}

bool api_authorize_role_assignment(struct api_req *r, const char *scope, bool write,
                                   const char *role_id)
{
    const char *action = write ? "Microsoft.Authorization/roleAssignments/write"
                               : "Microsoft.Authorization/roleAssignments/delete";
    if (!r->api->cfg.rbac)
        return true;
    return check_rbac(r, scope, action, false, role_id);
}

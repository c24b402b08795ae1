/* cmd_role.c - `coffer role assignment create|list|delete` and `coffer role definition
 * list|create|delete`, as az's role module does them against ARM Microsoft.Authorization
 * (api-version 2022-04-01, azure-kv-security-ops.md §2.7): role names resolved through the
 * definitions list, assignees through Graph (cmd_ad.c), results in az's flattened model shape
 * (properties lifted to the top; list adds principalName and roleDefinitionName).
 *
 * Map: shapes - URLs and role lookup - assignment create/list/delete - definition list/create/
 * delete. */
#include "base/cf.h"
#include "base/secret.h"
#include "cli/cmd_identity.h"
#include "crypto/crypto.h"

#include <unistd.h>

#define ROLE_API "api-version=2022-04-01"
#define AUTHZ "/providers/Microsoft.Authorization"

/* ---- shapes ---- */

static bool set_copy(struct cf_val *o, const char *key, const struct cf_val *src, const char *skey)
{
    return cf_val_set(o, key, cf_cli_copy(cf_val_get(src, skey))) == CF_OK;
}

struct cf_val *cf_cli_shape_role_assignment(const struct cf_val *arm)
{
    static const char *const props[] = {"condition", "conditionVersion", "createdBy",
                                        "delegatedManagedIdentityResourceId", "description",
                                        "principalId", "principalType", "roleDefinitionId",
                                        "scope", "updatedBy", NULL};
    const struct cf_val *p = cf_val_get(arm, "properties");
    struct cf_val *o = cf_val_obj();
    bool ok = o != NULL;

    for (size_t i = 0; ok && props[i]; i++)
        ok = set_copy(o, props[i], p, props[i]);
    ok = ok && set_copy(o, "id", arm, "id") && set_copy(o, "name", arm, "name") &&
         set_copy(o, "type", arm, "type") &&
         cf_val_set(o, "createdOn", cf_cli_arm_time_val(cf_val_get(p, "createdOn"))) == CF_OK &&
         cf_val_set(o, "updatedOn", cf_cli_arm_time_val(cf_val_get(p, "updatedOn"))) == CF_OK;
    if (!ok) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct cf_val *cf_cli_shape_role_definition(const struct cf_val *arm)
{
    static const char *const lists[] = {"actions", "dataActions", "notActions", "notDataActions",
                                        NULL};
    const struct cf_val *p = cf_val_get(arm, "properties"), *perms = cf_val_get(p, "permissions");
    struct cf_val *o = cf_val_obj(), *pa = cf_val_arr();
    bool ok = o && pa;

    for (size_t i = 0; ok && perms && perms->type == CF_VAL_ARR && i < perms->n; i++) {
        struct cf_val *e = cf_val_obj();
        ok = e != NULL;
        for (size_t k = 0; ok && lists[k]; k++) {
            const struct cf_val *l = cf_val_get(perms->items[i], lists[k]);
            ok = cf_val_set(e, lists[k], l ? cf_cli_copy(l) : cf_val_arr()) == CF_OK;
        }
        ok = ok && cf_val_set(e, "condition", cf_val_null()) == CF_OK &&
             cf_val_set(e, "conditionVersion", cf_val_null()) == CF_OK;
        ok = ok ? cf_val_push(pa, e) == CF_OK : (cf_val_unref(e), false);
    }
    ok = ok && set_copy(o, "assignableScopes", p, "assignableScopes") &&
         set_copy(o, "createdBy", p, "createdBy") &&
         cf_val_set(o, "createdOn", cf_cli_arm_time_val(cf_val_get(p, "createdOn"))) == CF_OK &&
         set_copy(o, "description", p, "description") && set_copy(o, "id", arm, "id") &&
         set_copy(o, "name", arm, "name") && cf_val_set(o, "permissions", cf_val_ref(pa)) == CF_OK &&
         set_copy(o, "roleName", p, "roleName") && set_copy(o, "roleType", p, "type") &&
         set_copy(o, "type", arm, "type") && set_copy(o, "updatedBy", p, "updatedBy") &&
         cf_val_set(o, "updatedOn", cf_cli_arm_time_val(cf_val_get(p, "updatedOn"))) == CF_OK;
    cf_val_unref(pa);
    if (!ok) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* Value of key in obj matched as az does after camel-casing the user's keys ("Name" == "name"). */
static const struct cf_val *ci_get(const struct cf_val *obj, const char *key)
{
    if (!obj || obj->type != CF_VAL_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++) {
        const char *k = obj->keys[i];
        if (k[0] && (k[0] == key[0] || k[0] == key[0] - 'a' + 'A') && strcmp(k + 1, key + 1) == 0)
            return obj->items[i];
    }
    return NULL;
}

static bool str_list(const struct cf_val *v)
{
    if (!v || v->type != CF_VAL_ARR)
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i]->type != CF_VAL_STR)
            return false;
    return true;
}

cf_err cf_cli_role_definition_body(const struct cf_val *input, struct cf_val **body,
                                   const char **scope, char *err, size_t errlen)
{
    static const char *const lists[] = {"actions", "notActions", "dataActions", "notDataActions",
                                        NULL};
    const struct cf_val *name = ci_get(input, "name"), *scopes = ci_get(input, "assignableScopes");
    const struct cf_val *desc = ci_get(input, "description");
    struct cf_val *b = NULL, *props = NULL, *perms = NULL, *p0 = NULL;
    cf_err e = CF_ENOMEM;

    *body = NULL;
    *scope = NULL;
    if (!input || input->type != CF_VAL_OBJ) {
        snprintf(err, errlen, "Invalid role definition. A valid dictionary JSON representation "
                              "is expected.");
        return CF_EINVAL;
    }
    if (!name || name->type != CF_VAL_STR || !name->slen) {
        snprintf(err, errlen, "please provide role name");
        return CF_EINVAL;
    }
    if (!scopes) {
        snprintf(err, errlen, "please provide 'assignableScopes'");
        return CF_EINVAL;
    }
    if (!str_list(scopes) || scopes->n == 0) {
        snprintf(err, errlen, "'assignableScopes' must be a non-empty list of scopes");
        return CF_EINVAL;
    }
    for (size_t i = 0; lists[i]; i++) {
        const struct cf_val *l = ci_get(input, lists[i]);
        if (l && l->type != CF_VAL_NULL && !str_list(l)) {
            snprintf(err, errlen, "'%c%s' must be a list of strings", lists[i][0] - 'a' + 'A',
                     lists[i] + 1);
            return CF_EINVAL;
        }
    }
    b = cf_val_obj();
    props = cf_val_obj();
    perms = cf_val_arr();
    p0 = cf_val_obj();
    if (!b || !props || !perms || !p0)
        goto fail;
    for (size_t i = 0; lists[i]; i++) {
        const struct cf_val *l = ci_get(input, lists[i]);
        if (cf_val_set(p0, lists[i], l && l->type == CF_VAL_ARR ? cf_cli_copy(l) : cf_val_arr()))
            goto fail;
    }
    if (cf_val_set(props, "roleName", cf_cli_copy(name)) ||
        cf_val_set(props, "description",
                   desc && desc->type == CF_VAL_STR ? cf_cli_copy(desc) : cf_val_null()) ||
        cf_val_set(props, "type", cf_val_str("CustomRole")) ||
        cf_val_set(props, "assignableScopes", cf_cli_copy(scopes)) ||
        cf_val_push(perms, cf_val_ref(p0)) ||
        cf_val_set(props, "permissions", cf_val_ref(perms)) ||
        cf_val_set(b, "properties", cf_val_ref(props)))
        goto fail;
    *scope = scopes->items[0]->s;
    *body = b;
    b = NULL;
    e = CF_OK;
fail:
    if (e)
        snprintf(err, errlen, "out of memory");
    cf_val_unref(p0);
    cf_val_unref(perms);
    cf_val_unref(props);
    cf_val_unref(b);
    return e;
}

/* ---- URLs and lookups ---- */

/* {mgmt}{scope without trailing '/'} ("/" becomes "") */
static void scope_base(struct cf_cli_run *r, const char *scope, char *out, size_t n)
{
    char aud[600];
    size_t l = strlen(scope);
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    while (l && scope[l - 1] == '/')
        l--;
    snprintf(out, n, "%s%s%.*s", aud, l && scope[0] != '/' ? "/" : "", (int)l, scope);
}

static void sub_scope(struct cf_cli_run *r, char *out, size_t n)
{
    snprintf(out, n, "/subscriptions/%s", r->prof.subscription_id);
}

/* az's _build_role_scope: --scope, else the resource group, else the subscription. */
static int role_scope(struct cf_cli_run *r, char *out, size_t n)
{
    const char *scope = cf_cli_arg(r, "--scope"), *rg = cf_cli_arg(r, "--resource-group");
    if (scope && rg)
        return cf_cli_fail(r, 2, "Resource group '%s' is redundant because 'scope' is supplied",
                           rg);
    if (scope)
        snprintf(out, n, "%s", scope);
    else if (rg)
        snprintf(out, n, "/subscriptions/%s/resourceGroups/%s", r->prof.subscription_id, rg);
    else
        sub_scope(r, out, n);
    return 0;
}

/* Lists role definitions at scope (all pages) into *out. */
static int list_definitions(struct cf_cli_run *r, const char *scope, const char *filter,
                            struct cf_val **out)
{
    char base[2048], url[4096], aud[600], enc[1024] = "";
    scope_base(r, scope, base, sizeof(base));
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    if (filter)
        cf_cli_pct(filter, enc, sizeof(enc));
    snprintf(url, sizeof(url), "%s" AUTHZ "/roleDefinitions?%s%s%s" ROLE_API, base,
             filter ? "$filter=" : "", enc, filter ? "&" : "");
    return cf_cli_list_all(r, url, aud, out);
}

/* az's _resolve_role_id: a roleDefinitions id, a GUID, or a name looked up at scope. */
static int resolve_role(struct cf_cli_run *r, const char *role, const char *scope, char *id,
                        size_t n)
{
    struct cf_val *defs = NULL;
    char filter[600];
    int rc;

    if (strncasecmp(role, "/subscriptions/", 15) == 0 && strcasestr(role, AUTHZ "/roleDefinitions/")) {
        snprintf(id, n, "%s", role);
        return 0;
    }
    if (cf_cli_is_guid(role)) {
        snprintf(id, n, "/subscriptions/%s" AUTHZ "/roleDefinitions/%s", r->prof.subscription_id,
                 role);
        return 0;
    }
    snprintf(filter, sizeof(filter), "roleName eq '%s'", role);
    if ((rc = list_definitions(r, scope, filter, &defs)) != 0) {
        cf_val_unref(defs);
        return rc;
    }
    if (defs->n == 0) {
        cf_val_unref(defs);
        return cf_cli_fail(r, 1, "Role '%s' doesn't exist.", role);
    }
    if (defs->n > 1) {
        cf_val_unref(defs);
        return cf_cli_fail(r, 1, "More than one role matches the given name '%s'. Please pick "
                                 "an id.", role);
    }
    {
        const struct cf_val *i = cf_val_get(defs->items[0], "id");
        snprintf(id, n, "%s", i && i->type == CF_VAL_STR ? i->s : "");
    }
    cf_val_unref(defs);
    return 0;
}

static const char *last_seg(const char *s)
{
    const char *p = strrchr(s, '/');
    return p ? p + 1 : s;
}

/* ---- assignments ---- */

int cf_cli_role_assign(struct cf_cli_run *r, const char *role, const char *oid,
                       const char *ptype, const char *scope, const char *name,
                       bool quiet_exists, struct cf_val **out)
{
    struct cf_val *body = cf_val_obj(), *props = cf_val_obj();
    struct cf_client_resp resp;
    struct cf_buf bb;
    char role_id[600], base[2048], url[4096], aud[600], guid[37], *tok = NULL;
    int rc;

    if (out)
        *out = NULL;
    cf_client_resp_init(&resp);
    cf_buf_init(&bb, 64 * 1024);
    if (!body || !props) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = resolve_role(r, role, scope, role_id, sizeof(role_id))) != 0)
        goto out;
    if (name) {
        if (!cf_cli_is_guid(name)) {
            rc = cf_cli_fail(r, 2, "The role assignment name '%s' is not a GUID.", name);
            goto out;
        }
        snprintf(guid, sizeof(guid), "%s", name);
    } else if (cf_uuid4(guid) != CF_OK) {
        rc = cf_cli_fail(r, 1, "cannot make a GUID");
        goto out;
    }
    if (cf_val_set(props, "roleDefinitionId", cf_val_str(role_id)) ||
        cf_val_set(props, "principalId", cf_val_str(oid)) ||
        (ptype && ptype[0] && cf_val_set(props, "principalType", cf_val_str(ptype))) ||
        cf_val_set(body, "properties", cf_val_ref(props)) || cf_val_dump(body, &bb)) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    scope_base(r, scope, base, sizeof(base));
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    snprintf(url, sizeof(url), "%s" AUTHZ "/roleAssignments/%s?" ROLE_API, base, guid);
    /* Direct request (not cf_cli_call) so that 409 RoleAssignmentExists can be a warning. */
    if ((rc = cf_cli_ensure_client(r)) != 0 || (rc = cf_cli_token(r, aud, &tok)) != 0)
        goto out;
    if (cf_client_request(r->client, "PUT", url, tok, "application/json", bb.data, bb.len,
                          &resp) != CF_OK) {
        rc = cf_cli_fail(r, 1, "%s", cf_client_errmsg(r->client));
        goto out;
    }
    if (resp.status == 409 && quiet_exists && strstr(resp.body.data ? resp.body.data : "",
                                                     "RoleAssignmentExists")) {
        fprintf(r->ctx->err, "WARNING:   Role assignment already exists.\n");
        goto out;
    }
    if (resp.status < 200 || resp.status > 299) {
        char msg[2048];
        cf_cli_format_service_error((int)resp.status, resp.body.data, resp.body.len, msg,
                                    sizeof(msg));
        rc = cf_cli_fail(r, 1, "%s", msg);
        goto out;
    }
    if (out && (cf_val_parse(resp.body.data, resp.body.len, out) != CF_OK || !*out))
        rc = cf_cli_fail(r, 1, "The server returned a role assignment that is not JSON.");
out:
    if (tok) {
        cf_wipe(tok, strlen(tok));
        free(tok);
    }
    cf_client_resp_release(&resp);
    cf_buf_release(&bb);
    cf_val_unref(props);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_role_assignment_create(struct cf_cli_run *r)
{
    const char *assignee = cf_cli_arg(r, "--assignee"), *aoid = cf_cli_arg(r, "--assignee-object-id");
    const char *ptype_arg = cf_cli_arg(r, "--assignee-principal-type");
    struct cf_val *arm = NULL;
    char scope[1024], oid[37], ptype[32] = "";
    int rc;

    if ((assignee && aoid) || (!assignee && !aoid))
        return cf_cli_fail(r, 2, "usage error: --assignee STRING | --assignee-object-id GUID");
    if (ptype_arg && !aoid)
        return cf_cli_fail(r, 2, "usage error: --assignee-object-id GUID "
                                 "--assignee-principal-type TYPE");
    if (ptype_arg && strcmp(ptype_arg, "User") && strcmp(ptype_arg, "Group") &&
        strcmp(ptype_arg, "ServicePrincipal") && strcmp(ptype_arg, "ForeignGroup"))
        return cf_cli_fail(r, 2, "argument --assignee-principal-type: invalid choice: '%s' "
                                 "(choose from 'ForeignGroup', 'Group', 'ServicePrincipal', "
                                 "'User')", ptype_arg);
    if ((rc = role_scope(r, scope, sizeof(scope))) != 0)
        return rc;
    if (aoid && ptype_arg) {
        if (!cf_cli_is_guid(aoid))
            return cf_cli_fail(r, 2, "--assignee-object-id '%s' is not a GUID.", aoid);
        snprintf(oid, sizeof(oid), "%s", aoid);
        snprintf(ptype, sizeof(ptype), "%s", ptype_arg);
    } else if ((rc = cf_cli_resolve_assignee(r, aoid ? aoid : assignee, aoid != NULL, oid,
                                             ptype)) != 0) {
        return rc;
    }
    rc = cf_cli_role_assign(r, cf_cli_arg(r, "--role"), oid, ptype, scope, cf_cli_arg(r, "--name"),
                            false, &arm);
    if (rc)
        return rc;
    r->result = cf_cli_shape_role_assignment(arm);
    cf_val_unref(arm);
    return r->result ? 0 : cf_cli_fail(r, 1, "out of memory");
}

/* az's _search_role_assignments: at a scope (atScope(), then exactly that scope unless
 * inherited ones are wanted) or across the subscription; by principal and role. */
static int search_assignments(struct cf_cli_run *r, const char *scope, const char *oid,
                              const char *role_id, bool inherited, bool groups,
                              struct cf_val **out)
{
    struct cf_val *all = NULL, *kept;
    char base[2048], url[4096], aud[600], filter[300] = "", enc[600] = "";
    int rc;

    *out = NULL;
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    if (scope) {
        snprintf(filter, sizeof(filter), "atScope()");
        if (oid && groups)
            snprintf(filter, sizeof(filter), "atScope() and assignedTo('%s')", oid);
        scope_base(r, scope, base, sizeof(base));
    } else {
        char sub[200];
        if (oid)
            snprintf(filter, sizeof(filter), groups ? "assignedTo('%s')" : "principalId eq '%s'",
                     oid);
        sub_scope(r, sub, sizeof(sub));
        scope_base(r, sub, base, sizeof(base));
    }
    if (filter[0])
        cf_cli_pct(filter, enc, sizeof(enc));
    snprintf(url, sizeof(url), "%s" AUTHZ "/roleAssignments?%s%s%s" ROLE_API, base,
             filter[0] ? "$filter=" : "", enc, filter[0] ? "&" : "");
    if ((rc = cf_cli_list_all(r, url, aud, &all)) != 0) {
        cf_val_unref(all);
        return rc;
    }
    kept = cf_val_arr();
    for (size_t i = 0; kept && i < all->n; i++) {
        const struct cf_val *p = cf_val_get(all->items[i], "properties");
        const struct cf_val *s = cf_val_get(p, "scope"), *pid = cf_val_get(p, "principalId");
        const struct cf_val *rd = cf_val_get(p, "roleDefinitionId");
        bool keep = true;
        if (scope && s && s->type == CF_VAL_STR) {
            char a[1024], b[1024];
            size_t la, lb;
            snprintf(a, sizeof(a), "%s", s->s);
            snprintf(b, sizeof(b), "%s", scope);
            la = strlen(a);
            lb = strlen(b);
            while (la > 1 && a[la - 1] == '/')
                a[--la] = '\0';
            while (lb > 1 && b[lb - 1] == '/')
                b[--lb] = '\0';
            /* inherited: the assignment's scope is a prefix of the asked one */
            keep = strcasecmp(a, b) == 0 ||
                   (inherited && (strcmp(a, "/") == 0 ||
                                  (strncasecmp(a, b, la) == 0 && b[la] == '/')));
        }
        if (keep && role_id && rd && rd->type == CF_VAL_STR)
            keep = strcasecmp(last_seg(rd->s), last_seg(role_id)) == 0;
        if (keep && oid && !groups && pid && pid->type == CF_VAL_STR)
            keep = strcasecmp(pid->s, oid) == 0;
        if (keep && cf_val_push(kept, cf_val_ref(all->items[i])) != CF_OK) {
            cf_val_unref(kept);
            kept = NULL;
        }
    }
    cf_val_unref(all);
    if (!kept)
        return cf_cli_fail(r, 1, "out of memory");
    *out = kept;
    return 0;
}

/* --assignee and --role of list/delete to an object id and a definition id. */
static int search_args(struct cf_cli_run *r, const char *scope, char oid[37], char *role_id,
                       size_t rn)
{
    const char *assignee = cf_cli_arg(r, "--assignee"), *role = cf_cli_arg(r, "--role");
    char ptype[32];
    int rc;
    oid[0] = role_id[0] = '\0';
    if (assignee && (rc = cf_cli_resolve_assignee(r, assignee, true, oid, ptype)) != 0)
        return rc;
    if (role && (rc = resolve_role(r, role, scope ? scope : "/", role_id, rn)) != 0)
        return rc;
    return 0;
}

int cf_cli_cmd_role_assignment_list(struct cf_cli_run *r)
{
    struct cf_val *found = NULL, *defs = NULL, *out = NULL;
    char scope[1024], oid[37], role_id[600], sub[200];
    bool all = cf_cli_has(r, "--all");
    int rc;

    if (all && (cf_cli_has(r, "--scope") || cf_cli_has(r, "--resource-group")))
        return cf_cli_fail(r, 2, "group or scope are not required when --all is used");
    if ((rc = role_scope(r, scope, sizeof(scope))) != 0)
        return rc;
    if ((rc = search_args(r, all ? NULL : scope, oid, role_id, sizeof(role_id))) != 0)
        return rc;
    if ((rc = search_assignments(r, all ? NULL : scope, oid[0] ? oid : NULL,
                                 role_id[0] ? role_id : NULL, cf_cli_has(r, "--include-inherited"),
                                 cf_cli_has(r, "--include-groups"), &found)) != 0)
        return rc;
    /* roleDefinitionName from the definitions at the subscription, principalName from Graph */
    sub_scope(r, sub, sizeof(sub));
    if ((rc = list_definitions(r, sub, NULL, &defs)) != 0)
        goto out;
    out = cf_val_arr();
    for (size_t i = 0; out && i < found->n; i++) {
        struct cf_val *a = cf_cli_shape_role_assignment(found->items[i]);
        const struct cf_val *rd = cf_val_get(a, "roleDefinitionId");
        const struct cf_val *pid = cf_val_get(a, "principalId");
        const char *rname = "";
        char pname[256] = "";
        for (size_t k = 0; rd && rd->type == CF_VAL_STR && k < defs->n; k++) {
            const struct cf_val *dn = cf_val_get(defs->items[k], "name");
            const struct cf_val *rn = cf_val_get(cf_val_get(defs->items[k], "properties"),
                                                 "roleName");
            if (dn && dn->type == CF_VAL_STR && rn && rn->type == CF_VAL_STR &&
                strcasecmp(dn->s, last_seg(rd->s)) == 0)
                rname = rn->s;
        }
        if (pid && pid->type == CF_VAL_STR)
            cf_cli_principal_name(r, pid->s, pname, sizeof(pname));
        if (!a || cf_val_set(a, "principalName", cf_val_str(pname)) ||
            cf_val_set(a, "roleDefinitionName", cf_val_str(rname)) || cf_val_push(out, a)) {
            cf_val_unref(out);
            out = NULL;
        }
    }
    if (!out)
        rc = cf_cli_fail(r, 1, "out of memory");
    r->result = out;
out:
    cf_val_unref(defs);
    cf_val_unref(found);
    return rc;
}

static int delete_by_id(struct cf_cli_run *r, const char *id)
{
    char aud[600], url[4096];
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    snprintf(url, sizeof(url), "%s%s%s?" ROLE_API, aud, id[0] == '/' ? "" : "/", id);
    return cf_cli_mgmt_show(r, "DELETE", url, NULL, NULL);
}

int cf_cli_cmd_role_assignment_delete(struct cf_cli_run *r)
{
    const struct cf_cli_arg *ids = cf_cli_argv(r, "--ids");
    struct cf_val *found = NULL;
    char scope[1024], oid[37], role_id[600];
    int rc;

    if (ids) {
        if (cf_cli_has(r, "--assignee") || cf_cli_has(r, "--role") || cf_cli_has(r, "--scope") ||
            cf_cli_has(r, "--resource-group") || cf_cli_has(r, "--include-inherited"))
            return cf_cli_fail(r, 2, "When assignment ids are used, other parameter values are "
                                     "not required");
        if (ids->nlist == 0)
            return cf_cli_fail(r, 2, "argument --ids: expected at least one argument");
        for (size_t i = 0; i < ids->nlist; i++)
            if ((rc = delete_by_id(r, ids->list[i])) != 0)
                return rc;
        return 0;
    }
    if (!cf_cli_has(r, "--assignee") && !cf_cli_has(r, "--role") && !cf_cli_has(r, "--scope") &&
        !cf_cli_has(r, "--resource-group") && !cf_cli_has(r, "--yes"))
        /* az asks; without a prompt we ask for --yes */
        return cf_cli_fail(r, 2, "This would delete all role assignments under the "
                                 "subscription: pass --yes, or narrow it with --ids, "
                                 "--assignee, --role or --scope.");
    if ((rc = role_scope(r, scope, sizeof(scope))) != 0 ||
        (rc = search_args(r, scope, oid, role_id, sizeof(role_id))) != 0)
        return rc;
    if ((rc = search_assignments(r, scope, oid[0] ? oid : NULL, role_id[0] ? role_id : NULL,
                                 cf_cli_has(r, "--include-inherited"), false, &found)) != 0)
        return rc;
    if (found->n == 0)
        fprintf(r->ctx->err, "WARNING: No matched assignments were found to delete\n");
    for (size_t i = 0; i < found->n && !rc; i++) {
        const struct cf_val *id = cf_val_get(found->items[i], "id");
        if (id && id->type == CF_VAL_STR)
            rc = delete_by_id(r, id->s);
    }
    cf_val_unref(found);
    return rc;
}

/* ---- definitions ---- */

/* --custom-role-only is az's three-state flag: alone or "true". */
static bool custom_only(struct cf_cli_run *r)
{
    const char *v = cf_cli_arg(r, "--custom-role-only");
    return v && strcmp(v, "true") == 0;
}

/* Definitions at --scope (default: the subscription) whose id or roleName is name. */
static int find_definitions(struct cf_cli_run *r, const char *name, bool custom_only,
                            char *scope, size_t sn, struct cf_val **out)
{
    struct cf_val *defs = NULL, *kept;
    int rc;

    *out = NULL;
    if (cf_cli_arg(r, "--scope"))
        snprintf(scope, sn, "%s", cf_cli_arg(r, "--scope"));
    else
        sub_scope(r, scope, sn);
    if ((rc = list_definitions(r, scope, NULL, &defs)) != 0) {
        cf_val_unref(defs);
        return rc;
    }
    kept = cf_val_arr();
    for (size_t i = 0; kept && i < defs->n; i++) {
        const struct cf_val *d = defs->items[i], *p = cf_val_get(d, "properties");
        const struct cf_val *n = cf_val_get(d, "name"), *rn = cf_val_get(p, "roleName");
        const struct cf_val *t = cf_val_get(p, "type");
        bool keep = true;
        if (name)
            keep = (n && n->type == CF_VAL_STR && strcasecmp(n->s, name) == 0) ||
                   (rn && rn->type == CF_VAL_STR && strcasecmp(rn->s, name) == 0);
        if (keep && custom_only)
            keep = cf_val_is_str(t, "CustomRole");
        if (keep && cf_val_push(kept, cf_val_ref(defs->items[i])) != CF_OK) {
            cf_val_unref(kept);
            kept = NULL;
        }
    }
    cf_val_unref(defs);
    if (!kept)
        return cf_cli_fail(r, 1, "out of memory");
    *out = kept;
    return 0;
}

int cf_cli_cmd_role_definition_list(struct cf_cli_run *r)
{
    struct cf_val *defs = NULL, *out;
    char scope[1024];
    int rc;

    if ((rc = find_definitions(r, cf_cli_arg(r, "--name"), custom_only(r),
                               scope, sizeof(scope), &defs)) != 0)
        return rc;
    out = cf_val_arr();
    for (size_t i = 0; out && i < defs->n; i++)
        if (cf_val_push(out, cf_cli_shape_role_definition(defs->items[i])) != CF_OK) {
            cf_val_unref(out);
            out = NULL;
        }
    cf_val_unref(defs);
    r->result = out;
    return out ? 0 : cf_cli_fail(r, 1, "out of memory");
}

int cf_cli_cmd_role_definition_create(struct cf_cli_run *r)
{
    const char *arg = cf_cli_arg(r, "--role-definition"), *scope = NULL;
    struct cf_val *input = NULL, *body = NULL;
    struct cf_buf file;
    char err[300], guid[37], base[2048], url[4096];
    const char *text = arg;
    size_t tlen = strlen(arg);
    int rc = 0;

    cf_buf_init(&file, 0);
    /* az: "@path", or a path that exists, or the JSON text itself */
    if (arg[0] == '@' || (arg[0] != '{' && access(arg, R_OK) == 0)) {
        const char *path = arg[0] == '@' ? arg + 1 : arg;
        if (cf_cli_read_file(path, 1024 * 1024, &file) != CF_OK)
            return cf_cli_fail(r, 1, "cannot read the role definition file '%s'", path);
        text = file.data ? file.data : "";
        tlen = file.len;
    }
    if (cf_val_parse(text, tlen, &input) != CF_OK) {
        rc = cf_cli_fail(r, 1, "Failed to parse the role definition as JSON.");
        goto out;
    }
    if (cf_cli_role_definition_body(input, &body, &scope, err, sizeof(err)) != CF_OK) {
        rc = cf_cli_fail(r, 1, "%s", err);
        goto out;
    }
    if (cf_uuid4(guid) != CF_OK) {
        rc = cf_cli_fail(r, 1, "cannot make a GUID");
        goto out;
    }
    scope_base(r, scope, base, sizeof(base));
    snprintf(url, sizeof(url), "%s" AUTHZ "/roleDefinitions/%s?" ROLE_API, base, guid);
    rc = cf_cli_mgmt_show(r, "PUT", url, body, cf_cli_shape_role_definition);
out:
    cf_val_unref(body);
    cf_val_unref(input);
    cf_buf_release(&file);
    return rc;
}

int cf_cli_cmd_role_definition_delete(struct cf_cli_run *r)
{
    const char *name = cf_cli_arg(r, "--name");
    struct cf_val *defs = NULL;
    char scope[1024], base[2048], url[4096];
    int rc;

    if ((rc = find_definitions(r, name, custom_only(r), scope, sizeof(scope),
                               &defs)) != 0)
        return rc;
    if (defs->n == 0) {
        cf_val_unref(defs);
        return cf_cli_fail(r, 1, "Role '%s' doesn't exist.", name);
    }
    scope_base(r, scope, base, sizeof(base));
    for (size_t i = 0; i < defs->n && !rc; i++) {
        const struct cf_val *n = cf_val_get(defs->items[i], "name");
        if (!n || n->type != CF_VAL_STR)
            continue;
        snprintf(url, sizeof(url), "%s" AUTHZ "/roleDefinitions/%s?" ROLE_API, base, n->s);
        rc = cf_cli_mgmt_show(r, "DELETE", url, NULL, NULL);
    }
    cf_val_unref(defs);
    return rc;
}

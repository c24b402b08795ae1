/* h_rbac.c - Microsoft.Authorization roleAssignments and roleDefinitions on the management
 * plane (azure-kv-security-ops.md §2.7), at every scope: "/", /subscriptions/S, a resource
 * group, a vault, an object of a vault (secrets, keys, certificates).
 *
 * Map:
 *   rbac_enter        cfg.rbac present, caller's tenant, the scope from the "**" span
 *                     (validated, the subscription must be the server's), normalised
 *   scope_display     the stored lower-case scope with ARM's spelling of the keywords
 *   write_assignment, write_definition    the ARM JSON shapes
 *   handlers          assignments PUT/GET/DELETE/list ($filter atScope(), principalId eq,
 *                     assignedTo()), definitions GET/list ($filter roleName eq, type eq),
 *                     PUT/DELETE of custom roles
 *
 * Authorization: NOT enforced yet (issue 10 wires enforcement into dispatch later): any valid
 * token of the server's tenant may call these, like every management route this phase.
 * Names in scopes come back lower-cased (scopes are stored normalised). */
#include "base/cf.h"
#include "api/internal.h"
#include "auth/rbac.h"
#include "base/clock.h"

#define AUTHZ_PROVIDER "/providers/Microsoft.Authorization"
#define ASG_TYPE "Microsoft.Authorization/roleAssignments"
#define DEF_TYPE "Microsoft.Authorization/roleDefinitions"

static bool is_guid(struct cf_str s)
{
    if (s.len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = s.p[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return false;
    }
    return true;
}

static bool seg_is(const struct api_req *r, size_t i, const char *lit)
{
    return cf_str_eq_ci(r->seg[i], cf_str_from(lit));
}

/* The scope addressed by the span: writes its normalised form to scope[CF_RBAC_MAX_SCOPE].
 * Replies and returns false on failure. */
static bool rbac_enter(struct api_req *r, char *scope)
{
    const struct cf_api_config *c = &r->api->cfg;
    size_t n = r->span_n;
    struct cf_buf b;
    bool ok;

    if (!c->rbac) {
        api_error(r, 404, "InvalidResourceType", NULL, "The resource type could not be found.");
        return false;
    }
    if (!c->tenant_id || strcasecmp(r->who.tenant_id, c->tenant_id) != 0) {
        api_error(r, 401, "InvalidAuthenticationTokenTenant", NULL,
                  "The access token is from the wrong issuer. It must match the tenant '%s' "
                  "associated with this subscription.",
                  c->tenant_id ? c->tenant_id : "");
        return false;
    }
    ok = n == 0 || (n >= 2 && seg_is(r, 0, "subscriptions"));
    ok = ok && (n <= 2 || (n >= 4 && seg_is(r, 2, "resourcegroups")));
    ok = ok && (n <= 4 || (n >= 8 && seg_is(r, 4, "providers") &&
                           seg_is(r, 5, "microsoft.keyvault") && seg_is(r, 6, "vaults")));
    ok = ok && (n <= 8 || (n == 10 && (seg_is(r, 8, "secrets") || seg_is(r, 8, "keys") ||
                                       seg_is(r, 8, "certificates"))));
    for (size_t i = 0; i < n && ok; i++)
        ok = r->seg[i].len > 0 && !memchr(r->seg[i].p, '/', r->seg[i].len);
    if (!ok) {
        api_error(r, 400, "InvalidScope", NULL,
                  "The scope is not valid. Use '/', '/subscriptions/{id}', a resource group, a "
                  "vault or an object of a vault.");
        return false;
    }
    if (n >= 2 && (!c->subscription_id || !cf_str_eq_ci(r->seg[1], cf_str_from(c->subscription_id)))) {
        api_error(r, 404, "SubscriptionNotFound", NULL,
                  "The subscription '%.*s' could not be found.", (int)CF_MIN(r->seg[1].len, 64),
                  r->seg[1].p);
        return false;
    }
    cf_buf_init(&b, CF_RBAC_MAX_SCOPE);
    ok = true;
    for (size_t i = 0; i < n && ok; i++)
        ok = cf_buf_putc(&b, '/') == CF_OK && cf_buf_append_str(&b, r->seg[i]) == CF_OK;
    ok = ok && cf_rbac_scope_normalize(b.data ? b.data : "", b.len, scope, CF_RBAC_MAX_SCOPE) ==
                   CF_OK;
    cf_buf_release(&b);
    if (!ok) {
        api_error(r, 400, "InvalidScope", NULL, "The scope is too long.");
        return false;
    }
    return true;
}

/* The stored scope with ARM's spelling: /subscriptions/{sub}/resourceGroups/{rg}/providers/
 * Microsoft.KeyVault/vaults/{v}/secrets/{n}; the subscription as the server spells it. */
static void scope_display(const struct api_req *r, const char *norm, char *out, size_t outsz)
{
    static const char *const canon[] = {"resourceGroups", "providers", "Microsoft.KeyVault"};
    const char *p = norm;
    size_t k = 0;
    int i = 0;

    out[0] = '\0';
    if (strcmp(norm, "/") == 0) {
        snprintf(out, outsz, "/");
        return;
    }
    while (*p == '/' && k + 1 < outsz) {
        const char *s = p + 1, *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *word = NULL;
        int n;
        if (i == 1 && r->api->cfg.subscription_id)
            word = r->api->cfg.subscription_id;
        for (size_t j = 0; j < CF_ARRAY_LEN(canon) && !word && (i == 2 || i == 4 || i == 5); j++)
            if (strlen(canon[j]) == len && strncasecmp(canon[j], s, len) == 0)
                word = canon[j];
        n = word ? snprintf(out + k, outsz - k, "/%s", word)
                 : snprintf(out + k, outsz - k, "/%.*s", (int)len, s);
        if (n < 0 || (size_t)n >= outsz - k)
            break;
        k += (size_t)n;
        p = s + len;
        i++;
    }
}

static void write_time(struct cf_jw *w, const char *key, int64_t t)
{
    char iso[32];
    cf_jw_key(w, key);
    if (t <= 0) {
        cf_jw_null(w);
        return;
    }
    cf_time_iso8601(t, iso);
    cf_jw_str(w, iso);
}

static void write_assignment(struct api_req *r, struct cf_jw *w, const struct cf_rec_role_asg *a)
{
    char disp[CF_RBAC_MAX_SCOPE + 64], id[CF_RBAC_MAX_SCOPE + 160], role[200];

    scope_display(r, a->scope, disp, sizeof(disp));
    snprintf(id, sizeof(id), "%s" AUTHZ_PROVIDER "/roleAssignments/%s",
             strcmp(disp, "/") == 0 ? "" : disp, a->id);
    snprintf(role, sizeof(role), "/subscriptions/%s" AUTHZ_PROVIDER "/roleDefinitions/%s",
             r->api->cfg.subscription_id ? r->api->cfg.subscription_id : "", a->role_def_id);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", a->id);
    cf_jw_kstr(w, "type", ASG_TYPE);
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "roleDefinitionId", role);
    cf_jw_kstr(w, "principalId", a->principal_id);
    cf_jw_kstr(w, "principalType", a->principal_type);
    cf_jw_kstr(w, "scope", disp);
    cf_jw_kstr(w, "condition", NULL);
    cf_jw_kstr(w, "conditionVersion", NULL);
    write_time(w, "createdOn", a->created);
    write_time(w, "updatedOn", a->created);
    cf_jw_kstr(w, "createdBy", a->created_by[0] ? a->created_by : NULL);
    cf_jw_kstr(w, "updatedBy", a->created_by[0] ? a->created_by : NULL);
    cf_jw_kstr(w, "delegatedManagedIdentityResourceId", NULL);
    cf_jw_kstr(w, "description", NULL);
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

static void write_list(struct cf_jw *w, const char *key, const char *const *l)
{
    cf_jw_key(w, key);
    cf_jw_arr_begin(w);
    for (; l && *l; l++)
        cf_jw_str(w, *l);
    cf_jw_arr_end(w);
}

struct def_out {
    struct api_req *r;
    struct cf_jw *w;
    const char *scope;   /* the path's scope (ids carry its subscription, if any) */
    struct cf_str name;  /* $filter roleName eq (p NULL: any) */
    int type;            /* $filter type eq: 0 any, 1 built-in, 2 custom */
    int written;
};

static void write_definition(struct def_out *o, const struct cf_rbac_role *d)
{
    struct cf_jw *w = o->w;
    char id[200];

    if (strcmp(o->scope, "/") == 0)
        snprintf(id, sizeof(id), AUTHZ_PROVIDER "/roleDefinitions/%s", d->id);
    else
        snprintf(id, sizeof(id), "/subscriptions/%s" AUTHZ_PROVIDER "/roleDefinitions/%s",
                 o->r->api->cfg.subscription_id ? o->r->api->cfg.subscription_id : "", d->id);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", d->id);
    cf_jw_kstr(w, "type", DEF_TYPE);
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "roleName", d->name);
    cf_jw_kstr(w, "type", d->builtin ? "BuiltInRole" : "CustomRole");
    cf_jw_kstr(w, "description", d->description);
    write_list(w, "assignableScopes", d->assignable_scopes);
    cf_jw_key(w, "permissions");
    cf_jw_arr_begin(w);
    cf_jw_obj_begin(w);
    write_list(w, "actions", d->actions);
    write_list(w, "notActions", d->not_actions);
    write_list(w, "dataActions", d->data_actions);
    write_list(w, "notDataActions", d->not_data_actions);
    cf_jw_obj_end(w);
    cf_jw_arr_end(w);
    write_time(w, "createdOn", d->created);
    write_time(w, "updatedOn", d->updated);
    cf_jw_kstr(w, "createdBy", NULL);
    cf_jw_kstr(w, "updatedBy", NULL);
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
    o->written++;
}

static void reply_json(struct api_req *r, const struct cf_jw *w, int status)
{
    if (cf_jw_err(w))
        api_error_err(r, cf_jw_err(w));
    else
        api_reply(r, status);
}

/* ---------------------------------------------------------------- assignments */

static void asg_not_found(struct api_req *r)
{
    api_error(r, 404, "RoleAssignmentNotFound", NULL, "The role assignment '%.*s' is not found.",
              (int)CF_MIN(r->cap[0].len, 64), r->cap[0].p);
}

void api_rbac_assignment_get(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE], name[37];
    struct cf_rec_role_asg a;
    struct cf_jw w;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    if (!is_guid(r->cap[0])) {
        asg_not_found(r);
        return;
    }
    memcpy(name, r->cap[0].p, 36);
    name[36] = '\0';
    e = cf_rbac_assignment_get(r->api->cfg.rbac, name, &a);
    if (e == CF_ENOTFOUND || (!e && strcmp(a.scope, scope) != 0)) {
        asg_not_found(r);
        return;
    }
    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_init(&w, &r->out);
    write_assignment(r, &w, &a);
    reply_json(r, &w, 200);
}

void api_rbac_assignment_delete(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE], name[37];
    struct cf_rec_role_asg a;
    struct cf_jw w;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    if (!is_guid(r->cap[0])) {
        api_reply_empty(r, 204);
        return;
    }
    memcpy(name, r->cap[0].p, 36);
    name[36] = '\0';
    e = cf_rbac_assignment_get(r->api->cfg.rbac, name, &a);
    if (e == CF_ENOTFOUND || (!e && strcmp(a.scope, scope) != 0)) {
        /* authorized like a delete of an unknown role, so the 204 tells a caller without
         * rights nothing about what exists */
        if (api_authorize_role_assignment(r, scope, false, NULL))
            api_reply_empty(r, 204); /* ARM: deleting what is not there is 204 */
        return;
    }
    if (!e && !api_authorize_role_assignment(r, scope, false, a.role_def_id))
        return;
    if (!e)
        e = cf_rbac_assignment_delete(r->api->cfg.rbac, name, &a);
    if (e == CF_ENOTFOUND) {
        api_reply_empty(r, 204);
        return;
    }
    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_init(&w, &r->out);
    write_assignment(r, &w, &a);
    reply_json(r, &w, 200);
}

static bool principal_type_ok(const char *t)
{
    static const char *const types[] = {"User", "Group", "ServicePrincipal", "ForeignGroup",
                                        "Device"};
    for (size_t i = 0; i < CF_ARRAY_LEN(types); i++)
        if (strcmp(types[i], t) == 0)
            return true;
    return false;
}

void api_rbac_assignment_put(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE];
    const struct cf_json *props;
    struct cf_rec_role_asg a, got;
    const char *role, *pid, *ptype, *slash;
    size_t rlen = 0, plen = 0, tlen = 0;
    bool created;
    struct cf_jw w;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    if (!is_guid(r->cap[0])) {
        api_error(r, 400, "InvalidRoleAssignmentId", NULL,
                  "The role assignment ID '%.*s' is not valid. The role assignment ID must be a "
                  "GUID.",
                  (int)CF_MIN(r->cap[0].len, 64), r->cap[0].p);
        return;
    }
    if (api_body_json(r, false))
        return;
    props = cf_json_get(r->body, "properties");
    role = cf_json_str(cf_json_get(props, "roleDefinitionId"), &rlen);
    pid = cf_json_str(cf_json_get(props, "principalId"), &plen);
    ptype = cf_json_str(cf_json_get(props, "principalType"), &tlen);
    if (!role || !pid) {
        api_error(r, 400, "InvalidRequestContent", NULL,
                  "The request content is missing properties.roleDefinitionId or "
                  "properties.principalId.");
        return;
    }
    /* ".../roleDefinitions/{guid}" (any scope prefix) or the bare GUID */
    slash = strrchr(role, '/');
    if (slash) {
        rlen -= (size_t)(slash + 1 - role);
        role = slash + 1;
    }
    if (!is_guid((struct cf_str){role, rlen})) {
        api_error(r, 400, "InvalidRoleDefinitionId", NULL,
                  "The role definition ID '%.*s' is not valid.", (int)CF_MIN(rlen, 64), role);
        return;
    }
    if (!is_guid((struct cf_str){pid, plen})) {
        api_error(r, 400, "InvalidPrincipalId", NULL,
                  "The principal ID '%.*s' is not valid. It must be a GUID.",
                  (int)CF_MIN(plen, 64), pid);
        return;
    }
    if (ptype && (tlen >= sizeof(a.principal_type) || !principal_type_ok(ptype))) {
        api_error(r, 400, "InvalidPrincipalType", NULL,
                  "The principal type '%.*s' is not valid. Use User, Group, ServicePrincipal, "
                  "ForeignGroup or Device.",
                  (int)CF_MIN(tlen, 64), ptype);
        return;
    }
    memset(&a, 0, sizeof(a));
    memcpy(a.role_def_id, role, 36);
    cf_str_lower((struct cf_str){a.role_def_id, 36}, a.role_def_id);
    if (!api_authorize_role_assignment(r, scope, true, a.role_def_id))
        return;
    memcpy(a.id, r->cap[0].p, 36);
    snprintf(a.scope, sizeof(a.scope), "%s", scope);
    memcpy(a.principal_id, pid, 36);
    snprintf(a.principal_type, sizeof(a.principal_type), "%s", ptype ? ptype : "ServicePrincipal");
    snprintf(a.created_by, sizeof(a.created_by), "%s", r->who.object_id);
    e = cf_rbac_assignment_put(r->api->cfg.rbac, &a, &created);
    if (e == CF_ENOTFOUND) {
        api_error(r, 400, "RoleDefinitionDoesNotExist", NULL,
                  "The specified role definition with ID '%s' does not exist.", a.role_def_id);
        return;
    }
    if (e == CF_EEXISTS) {
        api_error(r, 409, "RoleAssignmentExists", NULL, "The role assignment already exists.");
        return;
    }
    if (e == CF_EBADPARAM) {
        api_error(r, 400, "RoleAssignmentUpdateNotPermitted", NULL,
                  "Tenant ID, application ID, principal ID, and scope are not allowed to be "
                  "updated.");
        return;
    }
    if (!e)
        e = cf_rbac_assignment_get(r->api->cfg.rbac, a.id, &got);
    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_init(&w, &r->out);
    write_assignment(r, &w, &got);
    reply_json(r, &w, created ? 201 : 200);
}

struct asg_list {
    struct api_req *r;
    struct cf_jw *w;
};

static cf_err asg_list_cb(const struct cf_rec_role_asg *a, void *arg)
{
    struct asg_list *l = arg;
    write_assignment(l->r, l->w, a);
    return cf_jw_err(l->w);
}

/* Reads "'<value>'" at s (after optional spaces); returns the view inside the quotes. */
static bool quoted(struct cf_str *s, struct cf_str *out)
{
    const char *q;
    while (s->len && s->p[0] == ' ') {
        s->p++;
        s->len--;
    }
    if (!s->len || s->p[0] != '\'')
        return false;
    q = memchr(s->p + 1, '\'', s->len - 1);
    if (!q)
        return false;
    *out = (struct cf_str){s->p + 1, (size_t)(q - s->p - 1)};
    s->len -= (size_t)(q + 1 - s->p);
    s->p = q + 1;
    return true;
}

/* $filter: atScope(), principalId eq '{id}', assignedTo('{id}'), joined by " and ". */
static bool parse_asg_filter(struct cf_str f, bool *at_scope, char pid[37])
{
    *at_scope = false;
    pid[0] = '\0';
    while (f.len) {
        struct cf_str v;
        while (f.len && f.p[0] == ' ') {
            f.p++;
            f.len--;
        }
        if (!f.len)
            break;
        if (cf_str_starts_with(f, "atScope()")) {
            *at_scope = true;
            f.p += 9;
            f.len -= 9;
        } else if (f.len > 14 && strncasecmp(f.p, "principalId eq", 14) == 0) {
            f.p += 14;
            f.len -= 14;
            if (!quoted(&f, &v) || v.len != 36)
                return false;
            memcpy(pid, v.p, 36);
            pid[36] = '\0';
        } else if (cf_str_starts_with(f, "assignedTo(")) {
            f.p += 11;
            f.len -= 11;
            if (!quoted(&f, &v) || v.len != 36 || !f.len || f.p[0] != ')')
                return false;
            f.p++;
            f.len--;
            memcpy(pid, v.p, 36);
            pid[36] = '\0';
        } else {
            return false;
        }
        while (f.len && f.p[0] == ' ') {
            f.p++;
            f.len--;
        }
        if (f.len) {
            if (f.len < 4 || strncasecmp(f.p, "and ", 4) != 0)
                return false;
            f.p += 4;
            f.len -= 4;
        }
    }
    return true;
}

void api_rbac_assignment_list(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE], pid[37];
    struct cf_str filter = api_query(r, "$filter");
    bool at_scope = false;
    struct asg_list l;
    struct cf_jw w;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    pid[0] = '\0';
    if (filter.p && !parse_asg_filter(filter, &at_scope, pid)) {
        api_error(r, 400, "InvalidFilterInQueryString", NULL,
                  "The filter '%.*s' is not supported. Use atScope(), principalId eq '{id}' or "
                  "assignedTo('{id}').",
                  (int)CF_MIN(filter.len, 100), filter.p);
        return;
    }
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    l = (struct asg_list){r, &w};
    e = cf_rbac_assignment_list(r->api->cfg.rbac, scope,
                                at_scope ? CF_RBAC_LIST_AT_AND_ABOVE
                                         : CF_RBAC_LIST_ABOVE_AND_BELOW,
                                pid[0] ? pid : NULL, asg_list_cb, &l);
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    if (e) {
        cf_buf_reset(&r->out);
        api_error_err(r, e);
        return;
    }
    reply_json(r, &w, 200);
}

/* ---------------------------------------------------------------- definitions */

static cf_err def_cb(const struct cf_rbac_role *d, void *arg)
{
    struct def_out *o = arg;
    bool related = d->builtin;

    if (o->name.p && !(strlen(d->name) == o->name.len &&
                       strncasecmp(d->name, o->name.p, o->name.len) == 0))
        return CF_OK;
    if ((o->type == 1 && !d->builtin) || (o->type == 2 && d->builtin))
        return CF_OK;
    /* custom roles: those assignable at, above or below the scope listed */
    for (const char *const *s = d->assignable_scopes; !related && s && *s; s++) {
        char n[CF_RBAC_MAX_SCOPE];
        if (cf_rbac_scope_normalize(*s, strlen(*s), n, sizeof(n)) == CF_OK)
            related = cf_rbac_scope_covers(n, o->scope) || cf_rbac_scope_covers(o->scope, n);
    }
    if (related)
        write_definition(o, d);
    return cf_jw_err(o->w);
}

static void def_not_found(struct api_req *r)
{
    api_error(r, 404, "RoleDefinitionDoesNotExist", NULL,
              "The role definition '%.*s' could not be found.", (int)CF_MIN(r->cap[0].len, 64),
              r->cap[0].p);
}

static bool def_name(struct api_req *r, char name[37])
{
    if (!is_guid(r->cap[0]))
        return false;
    memcpy(name, r->cap[0].p, 36);
    name[36] = '\0';
    return true;
}

static cf_err def_one_cb(const struct cf_rbac_role *d, void *arg)
{
    write_definition(arg, d);
    return CF_OK;
}

void api_rbac_definition_get(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE], name[37];
    struct cf_jw w;
    struct def_out o;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    if (!def_name(r, name)) {
        def_not_found(r);
        return;
    }
    cf_jw_init(&w, &r->out);
    o = (struct def_out){r, &w, scope, CF_STR_NULL, 0, 0};
    e = cf_rbac_role_get(r->api->cfg.rbac, name, def_one_cb, &o);
    if (e == CF_ENOTFOUND)
        def_not_found(r);
    else if (e)
        api_error_err(r, e);
    else
        reply_json(r, &w, 200);
}

void api_rbac_definition_list(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE];
    struct cf_str filter = api_query(r, "$filter"), v;
    struct def_out o;
    struct cf_jw w;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    o = (struct def_out){r, &w, scope, CF_STR_NULL, 0, 0};
    if (filter.p && filter.len) {
        struct cf_str f = filter;
        bool ok = false;
        if (f.len > 11 && strncasecmp(f.p, "roleName eq", 11) == 0) {
            f.p += 11;
            f.len -= 11;
            ok = quoted(&f, &v);
            o.name = v;
        } else if (f.len > 7 && strncasecmp(f.p, "type eq", 7) == 0) {
            f.p += 7;
            f.len -= 7;
            ok = quoted(&f, &v);
            o.type = cf_str_eq_ci(v, CF_STR("BuiltInRole")) ? 1
                     : cf_str_eq_ci(v, CF_STR("CustomRole")) ? 2
                                                              : 3;
        }
        if (!ok) {
            api_error(r, 400, "InvalidFilterInQueryString", NULL,
                      "The filter '%.*s' is not supported. Use roleName eq '{name}' or type eq "
                      "'BuiltInRole|CustomRole'.",
                      (int)CF_MIN(filter.len, 100), filter.p);
            return;
        }
    }
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    e = cf_rbac_role_list(r->api->cfg.rbac, def_cb, &o);
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    if (e) {
        cf_buf_reset(&r->out);
        api_error_err(r, e);
        return;
    }
    reply_json(r, &w, 200);
}

/* Writes a JSON array of non-empty strings (absent: []) for the stored permissions. */
static bool copy_str_array(struct cf_jw *w, const struct cf_json *a)
{
    cf_jw_arr_begin(w);
    if (a && cf_json_type(a) != CF_JSON_ARRAY)
        return false;
    for (size_t i = 0; i < cf_json_size(a); i++) {
        size_t n = 0;
        const char *s = cf_json_str(cf_json_at(a, i), &n);
        if (!s || !n)
            return false;
        cf_jw_strn(w, s, n);
    }
    cf_jw_arr_end(w);
    return true;
}

void api_rbac_definition_put(struct api_req *r)
{
    static const char *const keys[] = {"actions", "notActions", "dataActions", "notDataActions"};
    char scope[CF_RBAC_MAX_SCOPE], name[37];
    const struct cf_json *props, *perms, *p0, *scopes;
    struct cf_buf pj, sj;
    struct cf_rec_role_def d;
    struct cf_jw w;
    struct def_out o;
    const char *rn, *desc;
    size_t rnlen = 0;
    bool created, ok;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    if (!def_name(r, name)) {
        api_error(r, 400, "InvalidRoleDefinitionId", NULL,
                  "The role definition ID '%.*s' is not valid. It must be a GUID.",
                  (int)CF_MIN(r->cap[0].len, 64), r->cap[0].p);
        return;
    }
    if (api_body_json(r, false))
        return;
    props = cf_json_get(r->body, "properties");
    rn = cf_json_str(cf_json_get(props, "roleName"), &rnlen);
    desc = cf_json_str(cf_json_get(props, "description"), NULL);
    perms = cf_json_get(props, "permissions");
    scopes = cf_json_get(props, "assignableScopes");
    p0 = cf_json_at(perms, 0);
    memset(&d, 0, sizeof(d));
    cf_buf_init(&pj, 65536);
    cf_buf_init(&sj, 65536);
    ok = rn && rnlen > 0 && rnlen < sizeof(d.name) && !memchr(rn, '\0', rnlen) &&
         cf_json_type(perms) == CF_JSON_ARRAY && cf_json_size(perms) == 1 &&
         cf_json_type(p0) == CF_JSON_OBJECT && cf_json_type(scopes) == CF_JSON_ARRAY &&
         cf_json_size(scopes) > 0;
    if (ok) {
        cf_jw_init(&w, &pj);
        cf_jw_obj_begin(&w);
        for (size_t i = 0; i < CF_ARRAY_LEN(keys) && ok; i++) {
            cf_jw_key(&w, keys[i]);
            ok = copy_str_array(&w, cf_json_get(p0, keys[i]));
        }
        cf_jw_obj_end(&w);
        ok = ok && !cf_jw_err(&w);
    }
    if (ok) {
        cf_jw_init(&w, &sj);
        ok = copy_str_array(&w, scopes) && !cf_jw_err(&w);
    }
    if (!ok) {
        cf_buf_release(&pj);
        cf_buf_release(&sj);
        api_error(r, 400, "InvalidRoleDefinition", NULL,
                  "The role definition needs properties.roleName, properties.assignableScopes "
                  "(non-empty) and properties.permissions (one entry of actions, notActions, "
                  "dataActions, notDataActions: arrays of strings).");
        return;
    }
    memcpy(d.id, name, sizeof(d.id));
    memcpy(d.name, rn, rnlen);
    d.description = (char *)(uintptr_t)(desc ? desc : "");
    d.perms_json = pj.data;
    d.scopes_json = sj.data;
    e = cf_rbac_role_put(r->api->cfg.rbac, &d, &created);
    cf_buf_release(&pj);
    cf_buf_release(&sj);
    if (e == CF_EFORBIDDEN) {
        api_error(r, 400, "RoleDefinitionUpdateNotPermitted", NULL,
                  "Built-in role definitions cannot be changed.");
        return;
    }
    if (e == CF_EEXISTS) {
        api_error(r, 409, "RoleDefinitionWithSameNameExists", NULL,
                  "A custom role with the same name already exists in this directory. Use a "
                  "different name.");
        return;
    }
    if (e == CF_EBADPARAM) {
        api_error(r, 400, "InvalidRoleDefinition", NULL,
                  "The role definition is not valid: check the permission patterns (at most "
                  "four '*' each) and the assignable scopes.");
        return;
    }
    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_init(&w, &r->out);
    o = (struct def_out){r, &w, scope, CF_STR_NULL, 0, 0};
    e = cf_rbac_role_get(r->api->cfg.rbac, name, def_one_cb, &o);
    if (e)
        api_error_err(r, e);
    else
        reply_json(r, &w, created ? 201 : 200);
}

void api_rbac_definition_delete(struct api_req *r)
{
    char scope[CF_RBAC_MAX_SCOPE], name[37];
    struct def_out o;
    struct cf_jw w;
    cf_err e;

    if (!rbac_enter(r, scope))
        return;
    if (!def_name(r, name)) {
        api_reply_empty(r, 204);
        return;
    }
    cf_jw_init(&w, &r->out);
    o = (struct def_out){r, &w, scope, CF_STR_NULL, 0, 0};
    e = cf_rbac_role_get(r->api->cfg.rbac, name, def_one_cb, &o);
    if (e == CF_ENOTFOUND) {
        api_reply_empty(r, 204);
        return;
    }
    if (!e)
        e = cf_rbac_role_delete(r->api->cfg.rbac, name);
    if (e)
        cf_buf_reset(&r->out);
    if (e == CF_ENOTFOUND)
        api_reply_empty(r, 204);
    else if (e == CF_EFORBIDDEN)
        api_error(r, 400, "RoleDefinitionUpdateNotPermitted", NULL,
                  "Built-in role definitions cannot be deleted.");
    else if (e == CF_EEXISTS)
        api_error(r, 409, "RoleDefinitionHasAssignments", NULL,
                  "There are existing role assignments referencing role (code: "
                  "RoleDefinitionHasAssignments).");
    else if (e)
        api_error_err(r, e);
    else
        reply_json(r, &w, 200);
}

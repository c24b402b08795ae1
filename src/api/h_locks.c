/* h_locks.c - Microsoft.Authorization/locks on the management plane (azure-kv-security-ops.md
 * §9, api-versions 2016-09-01 and 2020-05-01): PUT / GET / DELETE
 * {scope}/providers/Microsoft.Authorization/locks/{name} and GET {scope}/providers/
 * Microsoft.Authorization/locks, where {scope} is the subscription, a resource group or a
 * vault (the "**" span of the route).
 *
 * Map:
 *   locks_enter     caller's tenant, the scope from the span (validated; the subscription must
 *                   be the server's; the group or vault must exist), normalised
 *   scope_display   a stored lower-case scope with ARM's keywords and the resources' names as
 *                   first created (looked up)
 *   write_lock      the ARM JSON shape {properties:{level,notes,owners}, id, type, name}
 *   handlers        put (201 new / 200 update), get (404 LockNotFound), delete (200, or 204
 *                   when absent), list (at and above the scope, and below it unless
 *                   $filter=atScope())
 *
 * Authorization is dispatch's (locks/read, locks/write, locks/delete at the span: Owner and
 * User Access Administrator among built-in roles). Locks are not themselves locked: a ReadOnly
 * lock does not stop creating or removing locks, as in Azure. Enforcement of locks on vaults
 * and groups is in h_arm.c. */
#include "base/cf.h"
#include "api/internal.h"

#define LOCK_TYPE "Microsoft.Authorization/locks"
#define AUTHZ_PROVIDER "/providers/Microsoft.Authorization"
#define MAX_OWNERS 100

static bool seg_is(const struct api_req *r, size_t i, const char *lit)
{
    return cf_str_eq_ci(r->seg[i], cf_str_from(lit));
}

static bool copy_seg(struct cf_str s, char *out, size_t n)
{
    if (!s.p || s.len == 0 || s.len >= n || memchr(s.p, '\0', s.len))
        return false;
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

/* What the span addresses. */
struct lock_target {
    char scope[CF_LOCK_SCOPE_MAX]; /* normalised */
    char disp[300];                /* ARM's spelling, the resources' names as created */
};

/* Validates the span, checks the resource exists, fills t. Replies and returns false on
 * failure. */
static bool locks_enter(struct api_req *r, struct lock_target *t)
{
    const struct cf_api_config *c = &r->api->cfg;
    size_t n = r->span_n;
    char rg[91] = "", vault[25] = "";
    bool ok;
    cf_err e;

    if (!c->vault) {
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
    ok = (n == 2 || n == 4 || n == 8) && seg_is(r, 0, "subscriptions");
    ok = ok && (n < 4 || (seg_is(r, 2, "resourcegroups") && cf_name_valid_group(r->seg[3]) &&
                          copy_seg(r->seg[3], rg, sizeof(rg))));
    ok = ok && (n < 8 || (seg_is(r, 4, "providers") && seg_is(r, 5, "microsoft.keyvault") &&
                          seg_is(r, 6, "vaults") && cf_name_valid_vault(r->seg[7]) &&
                          copy_seg(r->seg[7], vault, sizeof(vault))));
    if (!ok) {
        api_error(r, 400, "InvalidScope", NULL,
                  "The scope is not valid for a management lock. Use '/subscriptions/{id}', a "
                  "resource group or a vault.");
        return false;
    }
    if (!c->subscription_id || !cf_str_eq_ci(r->seg[1], cf_str_from(c->subscription_id))) {
        api_error(r, 404, "SubscriptionNotFound", NULL,
                  "The subscription '%.*s' could not be found.", (int)CF_MIN(r->seg[1].len, 64),
                  r->seg[1].p);
        return false;
    }
    snprintf(t->disp, sizeof(t->disp), "/subscriptions/%s", c->subscription_id);
    if (rg[0]) {
        struct cf_group g;
        memset(&g, 0, sizeof(g));
        e = cf_group_get(c->vault, c->subscription_id, rg, &g);
        if (!e)
            snprintf(t->disp + strlen(t->disp), sizeof(t->disp) - strlen(t->disp),
                     "/resourceGroups/%s", g.name);
        cf_group_release(&g);
        if (e == CF_ENOTFOUND) {
            api_error(r, 404, "ResourceGroupNotFound", NULL,
                      "Resource group '%s' could not be found.", rg);
            return false;
        }
        if (e) {
            api_error_err(r, e);
            return false;
        }
    }
    if (vault[0]) {
        struct cf_vault v;
        memset(&v, 0, sizeof(v));
        e = cf_vault_get(c->vault, c->subscription_id, rg, vault, &v);
        if (!e)
            snprintf(t->disp + strlen(t->disp), sizeof(t->disp) - strlen(t->disp),
                     "/providers/Microsoft.KeyVault/vaults/%s", v.name);
        cf_vault_release(&v);
        if (e == CF_ENOTFOUND) {
            api_error(r, 404, "ResourceNotFound", NULL,
                      "The Resource 'Microsoft.KeyVault/vaults/%s' under resource group '%s' "
                      "was not found. For more details please go to "
                      "https://aka.ms/ARMResourceNotFoundFix",
                      vault, rg);
            return false;
        }
        if (e) {
            api_error_err(r, e);
            return false;
        }
    }
    if (cf_lock_scope(c->subscription_id, rg[0] ? rg : NULL, vault[0] ? vault : NULL, t->scope) !=
        CF_OK) {
        api_error(r, 400, "InvalidScope", NULL, "The scope is too long.");
        return false;
    }
    return true;
}

/* The display form of a stored scope: ARM's keywords, the server's subscription, and the
 * group's and vault's names as first created (lower case when they cannot be found). */
static void scope_display(const struct api_req *r, const char *norm, char *out, size_t n)
{
    const struct cf_api_config *c = &r->api->cfg;
    char segs[8][96];
    size_t ns = 0;
    const char *p = norm;

    while (*p == '/' && ns < 8) {
        const char *s = p + 1, *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        snprintf(segs[ns++], sizeof(segs[0]), "%.*s", (int)CF_MIN(len, 95), s);
        p = s + len;
    }
    snprintf(out, n, "/subscriptions/%s", c->subscription_id);
    if (ns >= 4) {
        struct cf_group g;
        memset(&g, 0, sizeof(g));
        if (cf_group_get(c->vault, c->subscription_id, segs[3], &g) == CF_OK)
            snprintf(segs[3], sizeof(segs[3]), "%s", g.name);
        cf_group_release(&g);
        snprintf(out + strlen(out), n - strlen(out), "/resourceGroups/%s", segs[3]);
    }
    if (ns >= 8) {
        struct cf_vault v;
        memset(&v, 0, sizeof(v));
        if (cf_vault_get(c->vault, c->subscription_id, segs[3], segs[7], &v) == CF_OK)
            snprintf(segs[7], sizeof(segs[7]), "%s", v.name);
        cf_vault_release(&v);
        snprintf(out + strlen(out), n - strlen(out), "/providers/Microsoft.KeyVault/vaults/%s",
                 segs[7]);
    }
}

static void write_lock(struct cf_jw *w, const struct cf_lock *l, const char *disp)
{
    char id[CF_LOCK_NAME_MAX + 400];

    snprintf(id, sizeof(id), "%s" AUTHZ_PROVIDER "/locks/%s", disp, l->name);
    cf_jw_obj_begin(w);
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "level", cf_lock_level_name(l->level));
    if (l->notes && l->notes[0])
        cf_jw_kstr(w, "notes", l->notes);
    if (l->owners_json && strcmp(l->owners_json, "[]") != 0) {
        cf_jw_key(w, "owners");
        cf_jw_raw(w, l->owners_json, strlen(l->owners_json));
    }
    cf_jw_obj_end(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "type", LOCK_TYPE);
    cf_jw_kstr(w, "name", l->name);
    cf_jw_obj_end(w);
}

static void reply_json(struct api_req *r, const struct cf_jw *w, int status)
{
    if (cf_jw_err(w))
        api_error_err(r, cf_jw_err(w));
    else
        api_reply(r, status);
}

static void lock_not_found(struct api_req *r)
{
    api_error(r, 404, "LockNotFound", NULL, "The lock '%.*s' could not be found.",
              (int)CF_MIN(r->cap[0].len, 64), r->cap[0].p);
}

/* owners: [{"applicationId": "..."}] (entries without one are kept as {}), normalised. */
static bool parse_owners(struct api_req *r, const struct cf_json *j, struct cf_buf *out)
{
    struct cf_jw w;

    if (j && cf_json_type(j) != CF_JSON_NULL &&
        (cf_json_type(j) != CF_JSON_ARRAY || cf_json_size(j) > MAX_OWNERS)) {
        api_error(r, 400, "InvalidRequestContent", NULL,
                  "The value of 'properties.owners' must be an array of at most %d owners.",
                  MAX_OWNERS);
        return false;
    }
    cf_jw_init(&w, out);
    cf_jw_arr_begin(&w);
    for (size_t i = 0; j && i < cf_json_size(j); i++) {
        const struct cf_json *o = cf_json_at(j, i), *a = cf_json_get(o, "applicationId");
        if (cf_json_type(o) != CF_JSON_OBJECT ||
            (a && cf_json_type(a) != CF_JSON_NULL && !cf_json_str(a, NULL))) {
            api_error(r, 400, "InvalidRequestContent", NULL,
                      "Each entry of 'properties.owners' must be an object with a string "
                      "'applicationId'.");
            return false;
        }
        cf_jw_obj_begin(&w);
        if (cf_json_str(a, NULL))
            cf_jw_kstr(&w, "applicationId", cf_json_str(a, NULL));
        cf_jw_obj_end(&w);
    }
    cf_jw_arr_end(&w);
    if (cf_jw_err(&w)) {
        api_error_err(r, cf_jw_err(&w));
        return false;
    }
    return true;
}

void api_lock_put(struct api_req *r)
{
    struct lock_target t;
    struct cf_lock in, out;
    const struct cf_json *props, *lv, *notes;
    struct cf_buf owners;
    size_t len = 0;
    const char *s;
    bool created = false;
    struct cf_jw w;
    cf_err e;

    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    cf_buf_init(&owners, 64 * 1024);
    if (!locks_enter(r, &t))
        goto release;
    if (!cf_lock_name_valid(r->cap[0]) || !copy_seg(r->cap[0], in.name, sizeof(in.name))) {
        api_error(r, 400, "LockNameInvalid", NULL,
                  "The lock name '%.*s' is not valid. It must be 1-260 characters long and "
                  "cannot contain '<', '>', '%%', '&', ':', '\\', '?', '/' or control "
                  "characters.",
                  (int)CF_MIN(r->cap[0].len, 64), r->cap[0].p);
        goto release;
    }
    if (api_body_json(r, false))
        goto release;
    props = cf_json_get(r->body, "properties");
    lv = cf_json_get(props, "level");
    s = cf_json_str(lv, &len);
    if (cf_json_type(props) != CF_JSON_OBJECT || !s) {
        api_error(r, 400, "InvalidRequestContent", NULL,
                  "The request content is missing properties.level.");
        goto release;
    }
    if (!cf_lock_level_parse((struct cf_str){s, len}, &in.level)) {
        api_error(r, 400, "LockLevelInvalid", NULL,
                  "The lock level '%.*s' is not valid. Use 'CanNotDelete' or 'ReadOnly'.",
                  (int)CF_MIN(len, 32), s);
        goto release;
    }
    notes = cf_json_get(props, "notes");
    if (notes && cf_json_type(notes) != CF_JSON_NULL && !cf_json_str(notes, NULL)) {
        api_error(r, 400, "InvalidRequestContent", NULL,
                  "The value of 'properties.notes' must be a string.");
        goto release;
    }
    if (!parse_owners(r, cf_json_get(props, "owners"), &owners))
        goto release;
    snprintf(in.scope, sizeof(in.scope), "%s", t.scope);
    in.notes = (char *)(uintptr_t)(cf_json_str(notes, NULL) ? cf_json_str(notes, NULL) : "");
    in.owners_json = owners.data;
    e = cf_lock_put(r->api->cfg.vault, &in, &created, &out);
    if (e == CF_EBADPARAM) {
        api_error(r, 400, "LockNotesTooLong", NULL, "The lock notes must not exceed %d characters.",
                  CF_LOCK_NOTES_MAX);
        goto release;
    }
    if (e) {
        api_error_err(r, e);
        goto release;
    }
    cf_jw_init(&w, &r->out);
    write_lock(&w, &out, t.disp);
    reply_json(r, &w, created ? 201 : 200);
release:
    cf_lock_release(&out);
    cf_buf_release(&owners);
}

void api_lock_get(struct api_req *r)
{
    struct lock_target t;
    struct cf_lock l;
    struct cf_jw w;
    cf_err e;

    memset(&l, 0, sizeof(l));
    if (!locks_enter(r, &t))
        return;
    e = cf_lock_get(r->api->cfg.vault, t.scope, r->cap[0], &l);
    if (e == CF_ENOTFOUND) {
        lock_not_found(r);
        return;
    }
    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_init(&w, &r->out);
    write_lock(&w, &l, t.disp);
    cf_lock_release(&l);
    reply_json(r, &w, 200);
}

void api_lock_delete(struct api_req *r)
{
    struct lock_target t;
    cf_err e;

    if (!locks_enter(r, &t))
        return;
    e = cf_lock_delete(r->api->cfg.vault, t.scope, r->cap[0]);
    if (e == CF_ENOTFOUND)
        api_reply_empty(r, 204); /* ARM: deleting what is not there is 204 */
    else if (e)
        api_error_err(r, e);
    else
        api_reply_empty(r, 200);
}

struct list_arg {
    struct api_req *r;
    struct cf_jw *w;
};

static cf_err list_cb(const struct cf_lock *l, void *arg)
{
    struct list_arg *a = arg;
    char disp[300];

    scope_display(a->r, l->scope, disp, sizeof(disp));
    write_lock(a->w, l, disp);
    return cf_jw_err(a->w);
}

void api_lock_list(struct api_req *r)
{
    struct cf_str filter = api_query(r, "$filter");
    struct lock_target t;
    struct list_arg a;
    bool at_scope = false;
    struct cf_jw w;
    cf_err e;

    if (!locks_enter(r, &t))
        return;
    if (filter.p && filter.len) {
        struct cf_str f = filter;
        while (f.len && f.p[0] == ' ')
            f.p++, f.len--;
        while (f.len && f.p[f.len - 1] == ' ')
            f.len--;
        if (!cf_str_eq_ci(f, CF_STR("atScope()"))) {
            api_error(r, 400, "InvalidFilterInQueryString", NULL,
                      "The filter '%.*s' is not supported. Use atScope().",
                      (int)CF_MIN(filter.len, 100), filter.p);
            return;
        }
        at_scope = true;
    }
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    a.r = r;
    a.w = &w;
    e = cf_lock_list(r->api->cfg.vault, t.scope, !at_scope, list_cb, &a);
    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    reply_json(r, &w, 200);
}

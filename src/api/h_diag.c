/* h_diag.c - diagnostic settings (h_diag.h): PUT / GET / DELETE {resource}/providers/
 * Microsoft.Insights/diagnosticSettings/{name} and GET .../diagnosticSettings, where {resource}
 * is a vault or the subscription (the server-wide setting for records about no vault).
 *
 * Map:
 *   enter        caller's tenant, the subscription, the live vault (vault rows), the stored
 *                scope (lower case, as store_diag.h) and ARM's display id
 *   parse        properties.logs / metrics / streamName -> normalised properties + category bits
 *   handlers     put (200 created or replaced, as Azure), get (404), delete (200, 204 absent),
 *                list ({"value": [...]})
 *
 * Authorization is dispatch's (vaults/write, vaults/read at the vault or subscription). The
 * shippers (server/auditstream.c) read the table; a change applies within about a second. */
#include "base/cf.h"
#include "api/internal.h"
#include "api/h_diag.h"
#include "store/store_diag.h"

#define DIAG_TYPE "Microsoft.Insights/diagnosticSettings"
#define DIAG_PROVIDER "/providers/microsoft.insights/diagnosticSettings/"
#define MAX_PER_RESOURCE 5 /* Azure: at most five diagnostic settings per resource */
/* category bits: the same values as server/auditstream.h CF_AS_CAT_* (api cannot include
 * server) */
#define CAT_AUDIT 1u
#define CAT_POLICY 2u

struct diag_target {
    char scope[CF_STORE_DIAG_SCOPE_MAX];
    char disp[300];
    char name[CF_STORE_DIAG_NAME_MAX + 1];
};

static bool copy_cap(struct cf_str s, char *out, size_t n)
{
    if (!s.p || s.len == 0 || s.len >= n || memchr(s.p, '\0', s.len))
        return false;
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* Names: 1-260 characters, none of <>%&:\?/ or control characters. */
static bool name_valid(struct cf_str n)
{
    if (n.len == 0 || n.len > CF_STORE_DIAG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n.len; i++)
        if ((unsigned char)n.p[i] < 0x20 || strchr("<>%&:\\?/", n.p[i]))
            return false;
    return true;
}

/* Replies on failure. with_name: the last capture is the setting's name. */
static bool enter(struct api_req *r, struct diag_target *t, bool with_name)
{
    const struct cf_api_config *c = &r->api->cfg;
    bool on_vault = r->nseg > 2 && cf_str_eq_ci(r->seg[2], CF_STR("resourcegroups"));
    struct cf_str name = on_vault ? r->cap[3] : r->cap[1];

    memset(t, 0, sizeof(*t));
    if (!c->store) {
        api_error(r, 404, "InvalidResourceType", NULL,
                  "The resource type 'diagnosticSettings' could not be found in the namespace "
                  "'Microsoft.Insights'.");
        return false;
    }
    if (!c->tenant_id || strcasecmp(r->who.tenant_id, c->tenant_id) != 0) {
        api_error(r, 401, "InvalidAuthenticationTokenTenant", NULL,
                  "The access token is from the wrong issuer.");
        return false;
    }
    if (!c->subscription_id || !cf_str_eq_ci(r->cap[0], cf_str_from(c->subscription_id))) {
        api_error(r, 404, "SubscriptionNotFound", NULL,
                  "The subscription '%.*s' could not be found.", (int)CF_MIN(r->cap[0].len, 64),
                  r->cap[0].p ? r->cap[0].p : "");
        return false;
    }
    snprintf(t->disp, sizeof(t->disp), "/subscriptions/%s", c->subscription_id);
    if (on_vault) {
        char rg[91], vname[25];
        struct cf_vault v;
        cf_err e = CF_ENOTFOUND;
        memset(&v, 0, sizeof(v));
        if (copy_cap(r->cap[1], rg, sizeof(rg)) && copy_cap(r->cap[2], vname, sizeof(vname)))
            e = cf_vault_get(c->vault, c->subscription_id, rg, vname, &v);
        if (e || v.deleted_date != 0) {
            if (e && e != CF_ENOTFOUND)
                api_error_err(r, e);
            else
                api_error(r, 404, "ResourceNotFound", NULL,
                          "The Resource 'Microsoft.KeyVault/vaults/%.*s' under resource group "
                          "'%.*s' was not found.",
                          (int)CF_MIN(r->cap[2].len, 64), r->cap[2].p ? r->cap[2].p : "",
                          (int)CF_MIN(r->cap[1].len, 90), r->cap[1].p ? r->cap[1].p : "");
            cf_vault_release(&v);
            return false;
        }
        snprintf(t->disp + strlen(t->disp), sizeof(t->disp) - strlen(t->disp),
                 "/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s", v.resource_group,
                 v.name);
        snprintf(t->scope, sizeof(t->scope),
                 "/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s",
                 c->subscription_id, v.resource_group, v.name);
        cf_vault_release(&v);
    } else {
        snprintf(t->scope, sizeof(t->scope), "/subscriptions/%s", c->subscription_id);
    }
    lower(t->scope);
    if (with_name && (!name_valid(name) || !copy_cap(name, t->name, sizeof(t->name)))) {
        api_error(r, 400, "InvalidDiagnosticSettingName", NULL,
                  "The diagnostic setting name must be 1-260 characters and cannot contain "
                  "'<', '>', '%%', '&', ':', '\\', '?', '/' or control characters.");
        return false;
    }
    return true;
}

static void write_setting(struct cf_jw *w, const struct cf_rec_diag *d, const char *disp)
{
    char id[CF_STORE_DIAG_NAME_MAX + 400];

    snprintf(id, sizeof(id), "%s" DIAG_PROVIDER "%s", disp, d->name);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "type", DIAG_TYPE);
    cf_jw_kstr(w, "name", d->name);
    cf_jw_key(w, "properties");
    cf_jw_raw(w, d->props_json ? d->props_json : "{}", d->props_json ? strlen(d->props_json) : 2);
    cf_jw_obj_end(w);
}

static void reply_json(struct api_req *r, const struct cf_jw *w, int status)
{
    if (cf_jw_err(w))
        api_error_err(r, cf_jw_err(w));
    else
        api_reply(r, status);
}

static bool bad(struct api_req *r, const char *msg)
{
    api_error(r, 400, "BadRequest", NULL, "%s", msg);
    return false;
}

static void write_retention(struct cf_jw *w, const struct cf_json *rp)
{
    bool en = false;
    int64_t days = 0;
    (void)cf_json_bool(cf_json_get(rp, "enabled"), &en);
    (void)cf_json_int(cf_json_get(rp, "days"), &days);
    cf_jw_key(w, "retentionPolicy");
    cf_jw_obj_begin(w);
    cf_jw_kbool(w, "enabled", en);
    cf_jw_kint(w, "days", days < 0 ? 0 : days);
    cf_jw_obj_end(w);
}

/* properties.logs -> normalised entries and the enabled category bits. */
static bool parse_logs(struct api_req *r, const struct cf_json *logs, struct cf_jw *w,
                       unsigned *cats)
{
    cf_jw_key(w, "logs");
    cf_jw_arr_begin(w);
    for (size_t i = 0; i < cf_json_size(logs); i++) {
        const struct cf_json *o = cf_json_at(logs, i);
        const char *cat = cf_json_str(cf_json_get(o, "category"), NULL);
        const char *grp = cf_json_str(cf_json_get(o, "categoryGroup"), NULL);
        unsigned bits = 0;
        bool en;
        if (cf_json_type(o) != CF_JSON_OBJECT || !cf_json_bool(cf_json_get(o, "enabled"), &en))
            return bad(r, "Each entry of 'properties.logs' must be an object with a boolean "
                          "'enabled'.");
        if ((cat == NULL) == (grp == NULL))
            return bad(r, "Each entry of 'properties.logs' names either a 'category' or a "
                          "'categoryGroup'.");
        if (cat && strcasecmp(cat, "AuditEvent") == 0)
            bits = CAT_AUDIT, cat = "AuditEvent";
        else if (cat && strcasecmp(cat, "AzurePolicyEvaluationDetails") == 0)
            bits = CAT_POLICY, cat = "AzurePolicyEvaluationDetails";
        else if (grp && strcasecmp(grp, "audit") == 0)
            bits = CAT_AUDIT, grp = "audit";
        else if (grp && strcasecmp(grp, "allLogs") == 0)
            bits = CAT_AUDIT | CAT_POLICY, grp = "allLogs";
        else {
            api_error(r, 400, "BadRequest", NULL,
                      "Category '%.64s' is not supported. Use AuditEvent or "
                      "AzurePolicyEvaluationDetails (categoryGroup audit or allLogs).",
                      cat ? cat : grp);
            return false;
        }
        if (en)
            *cats |= bits;
        cf_jw_obj_begin(w);
        if (cat)
            cf_jw_kstr(w, "category", cat);
        else
            cf_jw_kstr(w, "categoryGroup", grp);
        cf_jw_kbool(w, "enabled", en);
        write_retention(w, cf_json_get(o, "retentionPolicy"));
        cf_jw_obj_end(w);
    }
    cf_jw_arr_end(w);
    return true;
}

static bool parse_metrics(struct api_req *r, const struct cf_json *m, struct cf_jw *w)
{
    cf_jw_key(w, "metrics");
    cf_jw_arr_begin(w);
    for (size_t i = 0; i < cf_json_size(m); i++) {
        const struct cf_json *o = cf_json_at(m, i);
        const char *cat = cf_json_str(cf_json_get(o, "category"), NULL);
        const char *grain = cf_json_str(cf_json_get(o, "timeGrain"), NULL);
        bool en;
        if (cf_json_type(o) != CF_JSON_OBJECT || !cf_json_bool(cf_json_get(o, "enabled"), &en))
            return bad(r, "Each entry of 'properties.metrics' must be an object with a boolean "
                          "'enabled'.");
        if (cat && strcasecmp(cat, "AllMetrics") != 0)
            return bad(r, "The only metric category of a vault is 'AllMetrics'.");
        cf_jw_obj_begin(w);
        cf_jw_kstr(w, "category", "AllMetrics");
        if (grain)
            cf_jw_kstr(w, "timeGrain", grain);
        cf_jw_kbool(w, "enabled", en);
        write_retention(w, cf_json_get(o, "retentionPolicy"));
        cf_jw_obj_end(w);
    }
    cf_jw_arr_end(w);
    return true;
}

static bool stream_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return false;
    return true;
}

struct put_arg {
    struct cf_rec_diag *d;
    bool created, full;
    int64_t now;
};

static cf_err count_cb(const struct cf_rec_diag *d, void *arg)
{
    size_t *n = arg;
    (void)d;
    (*n)++;
    return CF_OK;
}

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct put_arg *a = arg;
    struct cf_rec_diag old;
    char lc[CF_STORE_DIAG_NAME_MAX + 1];
    size_t n = 0;
    cf_err e;

    snprintf(lc, sizeof(lc), "%s", a->d->name);
    lower(lc);
    memset(&old, 0, sizeof(old));
    e = cf_store_diag_get(t, a->d->scope, lc, &old);
    if (e == CF_ENOTFOUND) {
        if ((e = cf_store_diag_list(t, a->d->scope, count_cb, &n)))
            return e;
        if (n >= MAX_PER_RESOURCE) {
            a->full = true;
            return CF_EFULL;
        }
        a->d->created = a->now;
    } else if (e) {
        return e;
    } else {
        a->d->created = old.created;
        snprintf(a->d->name, sizeof(a->d->name), "%s", old.name); /* first spelling */
        cf_rec_diag_release(&old);
    }
    a->d->updated = a->now;
    return cf_store_diag_put(t, a->d, &a->created);
}

void api_diag_put(struct api_req *r)
{
    struct diag_target t;
    struct cf_rec_diag d;
    const struct cf_json *props, *logs, *metrics, *stream;
    struct cf_buf pj;
    struct cf_jw w;
    size_t slen = 0;
    const char *sname;
    struct put_arg pa;
    cf_err e;

    memset(&d, 0, sizeof(d));
    cf_buf_init(&pj, 64 * 1024);
    if (!enter(r, &t, true) || api_body_json(r, false))
        goto release;
    props = cf_json_get(r->body, "properties");
    logs = cf_json_get(props, "logs");
    metrics = cf_json_get(props, "metrics");
    stream = cf_json_get(props, "streamName");
    sname = cf_json_str(stream, &slen);
    if (cf_json_type(props) != CF_JSON_OBJECT) {
        bad(r, "The request content is missing 'properties'.");
        goto release;
    }
    if ((logs && cf_json_type(logs) != CF_JSON_ARRAY) ||
        (metrics && cf_json_type(metrics) != CF_JSON_ARRAY) ||
        cf_json_size(logs) + cf_json_size(metrics) == 0) {
        bad(r, "At least one of 'properties.logs' or 'properties.metrics' must be a non-empty "
               "array.");
        goto release;
    }
    if (!sname) {
        bad(r, cf_json_get(props, "workspaceId") || cf_json_get(props, "storageAccountId") ||
                       cf_json_get(props, "eventHubAuthorizationRuleId") ||
                       cf_json_get(props, "eventHubName") ||
                       cf_json_get(props, "marketplacePartnerId")
                   ? "Coffer delivers resource logs to the streams of its configuration "
                     "([stream.NAME]); name one in 'properties.streamName' instead of a "
                     "storage account, workspace or event hub."
                   : "The destination 'properties.streamName' is required.");
        goto release;
    }
    if (!stream_name_ok(sname, slen)) {
        bad(r, "'properties.streamName' must be 1-32 letters, digits, '_', '-' or '.'.");
        goto release;
    }
    cf_jw_init(&w, &pj);
    cf_jw_obj_begin(&w);
    if (!parse_logs(r, logs, &w, &d.cats) || !parse_metrics(r, metrics, &w))
        goto release;
    cf_jw_kstr(&w, "streamName", sname);
    cf_jw_obj_end(&w);
    if ((e = cf_jw_err(&w))) {
        api_error_err(r, e);
        goto release;
    }
    snprintf(d.scope, sizeof(d.scope), "%s", t.scope);
    snprintf(d.name, sizeof(d.name), "%s", t.name);
    snprintf(d.stream, sizeof(d.stream), "%s", sname);
    d.props_json = pj.data; /* borrowed: released with pj */
    pa = (struct put_arg){.d = &d, .now = cf_clock_ms(r->api->cfg.clock)};
    e = cf_store_write(r->api->cfg.store, put_fn, &pa);
    if (pa.full) {
        api_error(r, 400, "BadRequest", NULL, "A resource can have at most %d diagnostic settings.",
                  MAX_PER_RESOURCE);
        goto release;
    }
    if (e) {
        api_error_err(r, e);
        goto release;
    }
    cf_jw_init(&w, &r->out);
    write_setting(&w, &d, t.disp);
    reply_json(r, &w, 200);
release:
    d.props_json = NULL;
    cf_buf_release(&pj);
}

struct get_arg {
    const char *scope;
    char lc[CF_STORE_DIAG_NAME_MAX + 1];
    struct cf_rec_diag *out;
};

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct get_arg *a = arg;
    return cf_store_diag_get(t, a->scope, a->lc, a->out);
}

static cf_err delete_fn(struct cf_store_txn *t, void *arg)
{
    struct get_arg *a = arg;
    return cf_store_diag_delete(t, a->scope, a->lc);
}

void api_diag_get(struct api_req *r)
{
    struct diag_target t;
    struct cf_rec_diag d;
    struct get_arg a;
    struct cf_jw w;
    cf_err e;

    memset(&d, 0, sizeof(d));
    if (!enter(r, &t, true))
        return;
    a.scope = t.scope;
    snprintf(a.lc, sizeof(a.lc), "%s", t.name);
    lower(a.lc);
    a.out = &d;
    e = cf_store_read(r->api->cfg.store, get_fn, &a);
    if (e == CF_ENOTFOUND) {
        api_error(r, 404, "ResourceNotFound", NULL, "The diagnostic setting '%s' doesn't exist.",
                  t.name);
        return;
    }
    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_init(&w, &r->out);
    write_setting(&w, &d, t.disp);
    cf_rec_diag_release(&d);
    reply_json(r, &w, 200);
}

void api_diag_delete(struct api_req *r)
{
    struct diag_target t;
    struct get_arg a;
    cf_err e;

    if (!enter(r, &t, true))
        return;
    a.scope = t.scope;
    snprintf(a.lc, sizeof(a.lc), "%s", t.name);
    lower(a.lc);
    a.out = NULL;
    e = cf_store_write(r->api->cfg.store, delete_fn, &a);
    if (e == CF_ENOTFOUND)
        api_reply_empty(r, 204);
    else if (e)
        api_error_err(r, e);
    else
        api_reply_empty(r, 200);
}

struct list_arg {
    const char *scope, *disp;
    struct cf_jw *w;
};

static cf_err list_cb(const struct cf_rec_diag *d, void *arg)
{
    struct list_arg *a = arg;
    write_setting(a->w, d, a->disp);
    return cf_jw_err(a->w);
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct list_arg *a = arg;
    return cf_store_diag_list(t, a->scope, list_cb, a);
}

void api_diag_list(struct api_req *r)
{
    struct diag_target t;
    struct list_arg a;
    struct cf_jw w;
    cf_err e;

    if (!enter(r, &t, false))
        return;
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    a = (struct list_arg){.scope = t.scope, .disp = t.disp, .w = &w};
    if ((e = cf_store_read(r->api->cfg.store, list_fn, &a))) {
        api_error_err(r, e);
        return;
    }
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    reply_json(r, &w, 200);
}

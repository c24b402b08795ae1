/* h_graph.c - the directory as Microsoft Graph v1.0 shows it (identity-contract.md), on the
 * management host, without api-version: applications (+ their service principals), password
 * and key credentials, service principals, groups and members. The rules are auth/'s
 * (directory in auth.h); this file turns Graph requests into those calls and records into
 * Graph JSON.
 *
 * Map:
 *   graph_error / graph_fail   Graph's error shape: Request_ResourceNotFound (404),
 *                              Request_BadRequest (400), Request_UnsupportedQuery (400)
 *   body / parse_time / parse_filter / ref_id   request parsing
 *   write_app / write_sp / write_group / list_begin   the JSON shapes
 *   handlers                   applications, servicePrincipals, groups; the
 *                              "applications(appId='...')" key form (api_graph_keyed)
 *
 * Every object is looked up in the caller's tenant (r->who.tenant_id). A secret appears in
 * exactly one response, addPassword's, and the body buffer holding it is wiped when the request
 * is recycled (dispatch.c). Authorization is the route table's ("directory/read" and
 * "directory/write"), enforced by dispatch. */
#include "base/cf.h"
#include "api/internal.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/secret.h"

#define GRAPH_V "/v1.0"
#define KEY_MAX_B64 (64 * 1024)

/* ---------------------------------------------------------------- errors */

static void graph_error(struct api_req *r, int status, const char *code, const char *msg)
{
    api_error(r, status, code, NULL, "%s", msg);
}

static void not_found(struct api_req *r, struct cf_str id)
{
    api_error(r, 404, "Request_ResourceNotFound", NULL,
              "Resource '%.*s' does not exist or one of its queried reference-property objects "
              "are not present.",
              (int)CF_MIN(id.len, 64), id.p);
}

/* A cf_err from auth/ in Graph's words. */
static void graph_fail(struct api_req *r, cf_err e, struct cf_str id)
{
    switch (e) {
    case CF_ENOTFOUND:
        not_found(r, id);
        return;
    case CF_EEXISTS:
        graph_error(r, 400, "Request_BadRequest",
                    "One or more added object references already exist for the following "
                    "modified properties: 'members'.");
        return;
    case CF_ETOOBIG:
        graph_error(r, 400, "Request_BadRequest",
                    "The application has too many credentials (at most 32).");
        return;
    case CF_EBADPARAM:
    case CF_EINVAL:
        graph_error(r, 400, "Request_BadRequest", "Invalid value specified for a property.");
        return;
    default:
        api_error_err(r, e);
    }
}

/* ---------------------------------------------------------------- parsing */

/* The request body as a JSON object into r->body; replies 400 and returns false otherwise. */
static bool body(struct api_req *r)
{
    struct cf_str b = r->http->body;

    if (cf_json_parse(b.len ? b.p : "{}", b.len ? b.len : 2, &r->body, NULL, 0) != CF_OK ||
        cf_json_type(r->body) != CF_JSON_OBJECT) {
        graph_error(r, 400, "Request_BadRequest",
                    "Invalid request body: expected a JSON object.");
        return false;
    }
    return true;
}

/* An optional string member: true with *out NULL when absent or null, false for another type
 * or an embedded NUL. */
static bool opt_str(const struct cf_json *obj, const char *key, const char **out)
{
    const struct cf_json *v = cf_json_get(obj, key);
    size_t n;

    *out = NULL;
    if (!v || cf_json_type(v) == CF_JSON_NULL)
        return true;
    *out = cf_json_str(v, &n);
    return *out && strlen(*out) == n;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fff...][Z|+hh:mm|-hh:mm]" (Graph's DateTimeOffset) -> unix s. */
static bool parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    size_t n = strlen(s), i = 19;
    int64_t t;

    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return false;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':' &&
               digits(s + i + 1, 2, &oh) && digits(s + i + 4, 2, &om)) {
        sign = s[i] == '+' ? 1 : -1;
        i += 6;
    }
    if (i != n || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        y < 1970)
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    *out = t - sign * (oh * 3600 + om * 60);
    return true;
}

/* $filter: "<field> eq '<value>'" or "startswith(<field>,'<value>')"; '' inside quotes is one
 * quote. */
struct filter {
    bool on;
    bool prefix;
    char field[32];
    char value[256];
};

static bool quoted(const char **pp, char *out, size_t cap)
{
    const char *p = *pp;
    size_t k = 0;

    if (*p != '\'')
        return false;
    for (p++; *p; p++) {
        if (*p == '\'') {
            if (p[1] != '\'')
                break;
            p++;
        }
        if (k + 1 >= cap)
            return false;
        out[k++] = *p;
    }
    if (*p != '\'')
        return false;
    out[k] = '\0';
    *pp = p + 1;
    return true;
}

static bool word(const char **pp, char *out, size_t cap)
{
    const char *p = *pp;
    size_t k = 0;

    while (*p == ' ')
        p++;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
        if (k + 1 >= cap)
            return false;
        out[k++] = *p++;
    }
    out[k] = '\0';
    *pp = p;
    return k > 0;
}

/* Parses r's $filter against the allowed fields; replies 400 and returns false when it cannot. */
static bool parse_filter(struct api_req *r, struct filter *f, const char *const *fields)
{
    struct cf_str q = api_query(r, "$filter");
    char text[400], w[32];
    const char *p = text;
    bool ok = false;

    memset(f, 0, sizeof(*f));
    if (!q.p || q.len == 0)
        return true;
    if (q.len >= sizeof(text) || memchr(q.p, '\0', q.len))
        goto bad;
    memcpy(text, q.p, q.len);
    text[q.len] = '\0';
    if (!word(&p, w, sizeof(w)))
        goto bad;
    if (strcasecmp(w, "startswith") == 0) {
        f->prefix = true;
        if (*p++ != '(' || !word(&p, f->field, sizeof(f->field)) || *p++ != ',')
            goto bad;
        while (*p == ' ')
            p++;
        if (!quoted(&p, f->value, sizeof(f->value)) || *p++ != ')')
            goto bad;
    } else {
        memcpy(f->field, w, sizeof(f->field));
        if (!word(&p, w, sizeof(w)) || strcasecmp(w, "eq") != 0)
            goto bad;
        while (*p == ' ')
            p++;
        if (!quoted(&p, f->value, sizeof(f->value)))
            goto bad;
    }
    while (*p == ' ')
        p++;
    if (*p)
        goto bad;
    for (const char *const *k = fields; *k && !ok; k++)
        ok = strcasecmp(*k, f->field) == 0;
    if (ok) {
        f->on = true;
        return true;
    }
bad:
    graph_error(r, 400, "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified.");
    return false;
}

static bool filter_match(const struct filter *f, const char *field, const char *value)
{
    size_t n = strlen(f->value);

    if (!f->on)
        return true;
    if (strcasecmp(f->field, field) != 0)
        return false;
    return f->prefix ? strncasecmp(value, f->value, n) == 0 : strcasecmp(value, f->value) == 0;
}

/* The object id at the end of an "@odata.id" URL (".../directoryObjects/{id}"), or the text
 * itself when it is a bare id. */
static bool ref_id(const char *url, char out[37])
{
    const char *slash = strrchr(url, '/');
    const char *id = slash ? slash + 1 : url;

    if (strlen(id) != 36)
        return false;
    memcpy(out, id, 37);
    return true;
}

/* "applications(appId='X')" -> X into out. */
static bool keyed(struct cf_str seg, const char *prefix, char *out, size_t cap)
{
    size_t pl = strlen(prefix);

    if (seg.len <= pl + 2 || strncasecmp(seg.p, prefix, pl) != 0 || seg.p[seg.len - 2] != '\'' ||
        seg.p[seg.len - 1] != ')' || seg.len - pl - 2 >= cap)
        return false;
    memcpy(out, seg.p + pl, seg.len - pl - 2);
    out[seg.len - pl - 2] = '\0';
    return out[0] != '\0' && !strchr(out, '\'');
}

/* A C string copy of a path capture (bounded; longer ids cannot exist). */
static void cap_str(struct cf_str c, char *out, size_t cap)
{
    size_t n = CF_MIN(c.len, cap - 1);
    memcpy(out, c.p, n);
    out[n] = '\0';
}

/* ---------------------------------------------------------------- JSON shapes */

static void write_time(struct cf_jw *w, const char *key, int64_t t)
{
    char iso[32];
    cf_time_iso8601(t, iso);
    cf_jw_kstr(w, key, iso);
}

static cf_err context(struct api_req *r, struct cf_jw *w, const char *what)
{
    struct cf_buf u;
    cf_err e;

    cf_buf_init(&u, 512);
    e = api_base_url(r, &u);
    if (!e)
        e = cf_buf_printf(&u, GRAPH_V "/$metadata#%s", what);
    if (!e)
        cf_jw_kstr(w, "@odata.context", u.data);
    cf_buf_release(&u);
    return e;
}

static void write_password(struct cf_jw *w, const struct cf_auth_cred *c)
{
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "customKeyIdentifier", NULL);
    cf_jw_kstr(w, "displayName", c->display_name[0] ? c->display_name : NULL);
    write_time(w, "endDateTime", c->end);
    cf_jw_kstr(w, "hint", c->hint[0] ? c->hint : NULL);
    cf_jw_kstr(w, "keyId", c->key_id);
    cf_jw_kstr(w, "secretText", NULL);
    write_time(w, "startDateTime", c->start);
    cf_jw_obj_end(w);
}

static void write_key(struct cf_jw *w, const struct cf_auth_cred *c)
{
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "customKeyIdentifier", c->thumbprint);
    cf_jw_kstr(w, "displayName", c->display_name[0] ? c->display_name : NULL);
    write_time(w, "endDateTime", c->end);
    cf_jw_kstr(w, "key", NULL);
    cf_jw_kstr(w, "keyId", c->key_id);
    write_time(w, "startDateTime", c->start);
    cf_jw_kstr(w, "type", "AsymmetricX509Cert");
    cf_jw_kstr(w, "usage", "Verify");
    cf_jw_obj_end(w);
}

static void write_creds(struct cf_jw *w, const struct cf_auth_app *app)
{
    cf_jw_key(w, "passwordCredentials");
    cf_jw_arr_begin(w);
    for (size_t i = 0; i < app->ncreds; i++)
        if (!app->creds[i].is_key)
            write_password(w, &app->creds[i]);
    cf_jw_arr_end(w);
    cf_jw_key(w, "keyCredentials");
    cf_jw_arr_begin(w);
    for (size_t i = 0; i < app->ncreds; i++)
        if (app->creds[i].is_key)
            write_key(w, &app->creds[i]);
    cf_jw_arr_end(w);
}

/* The members of an application object (without the braces). */
static void write_app_members(struct cf_jw *w, const struct cf_auth_app *app)
{
    cf_jw_kstr(w, "id", app->app_object_id);
    cf_jw_kstr(w, "appId", app->client_id);
    cf_jw_kstr(w, "displayName", app->display_name);
    write_time(w, "createdDateTime", app->created);
    cf_jw_kstr(w, "signInAudience", "AzureADMyOrg");
    write_creds(w, app);
}

static void write_sp_members(struct cf_jw *w, const struct cf_auth_app *app)
{
    cf_jw_kstr(w, "id", app->sp_object_id);
    cf_jw_kstr(w, "appId", app->client_id);
    cf_jw_kstr(w, "displayName", app->display_name);
    cf_jw_kstr(w, "appDisplayName", app->display_name);
    cf_jw_kbool(w, "accountEnabled", app->enabled);
    cf_jw_kstr(w, "servicePrincipalType", "Application");
    cf_jw_key(w, "servicePrincipalNames");
    cf_jw_arr_begin(w);
    cf_jw_str(w, app->client_id);
    cf_jw_arr_end(w);
    write_creds(w, app);
}

static void write_group_members(struct cf_jw *w, const struct cf_auth_group *g)
{
    cf_jw_kstr(w, "id", g->object_id);
    cf_jw_kstr(w, "displayName", g->display_name);
    cf_jw_kstr(w, "mailNickname", g->mail_nickname);
    cf_jw_kstr(w, "description", g->description[0] ? g->description : NULL);
    cf_jw_kbool(w, "securityEnabled", true);
    cf_jw_kbool(w, "mailEnabled", false);
    cf_jw_key(w, "groupTypes");
    cf_jw_arr_begin(w);
    cf_jw_arr_end(w);
    write_time(w, "createdDateTime", g->created);
}

/* Replies with one object: fn writes its members after the @odata.context. */
static void reply_object(struct api_req *r, int status, const char *ctx,
                         void (*fn)(struct cf_jw *, const void *), const void *obj)
{
    struct cf_jw w;
    cf_err e;

    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    e = context(r, &w, ctx);
    if (e) {
        api_error_err(r, e);
        return;
    }
    fn(&w, obj);
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
    if (e) {
        api_error_err(r, e);
        return;
    }
    api_reply(r, status);
}

static void app_fn(struct cf_jw *w, const void *o)
{
    write_app_members(w, o);
}

static void sp_fn(struct cf_jw *w, const void *o)
{
    write_sp_members(w, o);
}

static void group_fn(struct cf_jw *w, const void *o)
{
    write_group_members(w, o);
}

/* Lists: {"@odata.context": ..., "value": [ ... ]}. */
struct lister {
    struct api_req *r;
    struct cf_jw w;
    struct filter f;
    bool sp; /* applications listed as service principals */
};

static cf_err list_begin(struct lister *l, const char *ctx)
{
    cf_err e;

    cf_jw_init(&l->w, &l->r->out);
    cf_jw_obj_begin(&l->w);
    e = context(l->r, &l->w, ctx);
    cf_jw_key(&l->w, "value");
    cf_jw_arr_begin(&l->w);
    return e;
}

static void list_end(struct lister *l, cf_err e)
{
    cf_jw_arr_end(&l->w);
    cf_jw_obj_end(&l->w);
    if (!e)
        e = cf_jw_err(&l->w);
    if (e) {
        api_error_err(l->r, e);
        return;
    }
    api_reply(l->r, 200);
}

/* ---------------------------------------------------------------- applications */

/* Which application a request names: cap[0] of /applications/{id} (object id, or an appId as
 * Graph also accepts in the keyed form) or the keyed segment. */
struct app_ref {
    enum cf_auth_id_kind kind;
    char id[80];
    struct cf_str shown; /* for a 404 message */
};

static void app_ref_from_cap(struct api_req *r, struct app_ref *ref)
{
    ref->kind = CF_AUTH_ID_APP_OBJECT;
    cap_str(r->cap[0], ref->id, sizeof(ref->id));
    ref->shown = r->cap[0];
}

/* Loads the application; tries the appId when the object id is unknown (a convenience: Graph
 * itself only takes appId in the keyed form). Replies 404 and returns false when absent. */
static bool app_load(struct api_req *r, struct app_ref *ref, struct cf_auth_app *app)
{
    cf_err e = cf_auth_app_get(r->api->cfg.auth, r->who.tenant_id, ref->kind, ref->id, app);

    if (e == CF_ENOTFOUND && ref->kind == CF_AUTH_ID_APP_OBJECT) {
        e = cf_auth_app_get(r->api->cfg.auth, r->who.tenant_id, CF_AUTH_ID_CLIENT, ref->id, app);
        if (!e)
            ref->kind = CF_AUTH_ID_CLIENT;
    }
    if (e) {
        graph_fail(r, e, ref->shown);
        return false;
    }
    return true;
}

void api_graph_app_create(struct api_req *r)
{
    struct cf_auth_app *app;
    const char *name;
    cf_err e;

    if (!body(r))
        return;
    if (!opt_str(r->body, "displayName", &name) || !name || !name[0]) {
        graph_error(r, 400, "Request_BadRequest",
                    "A value is required for property 'displayName' of resource 'Application'.");
        return;
    }
    app = calloc(1, sizeof(*app));
    if (!app) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    e = cf_auth_app_create(r->api->cfg.auth, r->who.tenant_id, name, app);
    if (e)
        graph_fail(r, e, CF_STR(""));
    else
        reply_object(r, 201, "applications/$entity", app_fn, app);
    free(app);
}

static void app_get(struct api_req *r, struct app_ref *ref, bool as_sp)
{
    struct cf_auth_app *app = calloc(1, sizeof(*app));

    if (!app) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    if (app_load(r, ref, app))
        reply_object(r, 200, as_sp ? "servicePrincipals/$entity" : "applications/$entity",
                     as_sp ? sp_fn : app_fn, app);
    free(app);
}

void api_graph_app_get(struct api_req *r)
{
    struct app_ref ref;
    app_ref_from_cap(r, &ref);
    app_get(r, &ref, false);
}

static cf_err app_list_cb(const struct cf_auth_app *app, void *arg)
{
    struct lister *l = arg;

    if (l->f.on && !filter_match(&l->f, "displayName", app->display_name) &&
        !filter_match(&l->f, "appId", app->client_id) &&
        !filter_match(&l->f, "id", l->sp ? app->sp_object_id : app->app_object_id))
        return CF_OK;
    cf_jw_obj_begin(&l->w);
    if (l->sp)
        write_sp_members(&l->w, app);
    else
        write_app_members(&l->w, app);
    cf_jw_obj_end(&l->w);
    return cf_jw_err(&l->w);
}

static void app_list(struct api_req *r, bool as_sp)
{
    static const char *const fields[] = {"displayName", "appId", "id", NULL};
    struct lister l;
    cf_err e;

    memset(&l, 0, sizeof(l));
    l.r = r;
    l.sp = as_sp;
    if (!parse_filter(r, &l.f, fields))
        return;
    e = list_begin(&l, as_sp ? "servicePrincipals" : "applications");
    if (!e)
        e = cf_auth_app_list(r->api->cfg.auth, r->who.tenant_id, NULL, NULL, app_list_cb, &l);
    list_end(&l, e);
}

void api_graph_app_list(struct api_req *r)
{
    app_list(r, false);
}

static void app_delete(struct api_req *r, struct app_ref *ref)
{
    struct cf_auth_app *app = calloc(1, sizeof(*app));
    cf_err e;

    if (!app) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    if (app_load(r, ref, app)) {
        e = cf_auth_app_delete(r->api->cfg.auth, r->who.tenant_id, CF_AUTH_ID_APP_OBJECT,
                               app->app_object_id);
        if (e)
            graph_fail(r, e, ref->shown);
        else
            api_reply_empty(r, 204);
    }
    free(app);
}

void api_graph_app_delete(struct api_req *r)
{
    struct app_ref ref;
    app_ref_from_cap(r, &ref);
    app_delete(r, &ref);
}

/* A "key" value: base64 of the DER certificate, or of a PEM text holding one. */
static bool key_der(const char *b64, struct cf_buf *der)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    struct cf_buf pem;
    const char *s, *t;
    bool ok = false;

    if (cf_b64_decode(der, cf_str_from(b64)) != CF_OK)
        return false;
    if (der->len < sizeof(begin) || memcmp(der->data, begin, sizeof(begin) - 1) != 0)
        return der->len > 0;
    cf_buf_init(&pem, KEY_MAX_B64);
    s = der->data + sizeof(begin) - 1;
    t = strstr(s, end);
    if (t) {
        for (const char *p = s; p < t; p++)
            if (*p != '\r' && *p != '\n' && *p != ' ' && *p != '\t' && cf_buf_putc(&pem, *p))
                break;
        cf_buf_reset(der);
        ok = cf_b64_decode(der, cf_buf_str(&pem)) == CF_OK && der->len > 0;
    }
    cf_buf_release(&pem);
    return ok;
}

/* PATCH: displayName and/or keyCredentials (the whole collection, Graph's semantics: an entry
 * with a keyId and no key keeps that existing key). */
static void app_patch(struct api_req *r, struct app_ref *ref)
{
    struct cf_auth_app *app = NULL;
    struct cf_auth_key_in keys[CF_AUTH_MAX_CREDS];
    struct cf_buf ders[CF_AUTH_MAX_CREDS];
    const struct cf_json *kc;
    const char *name;
    size_t n = 0;
    cf_err e = CF_OK;

    if (!body(r))
        return;
    if (!opt_str(r->body, "displayName", &name) || (name && !name[0])) {
        graph_error(r, 400, "Request_BadRequest", "Invalid value specified for property "
                                                  "'displayName' of resource 'Application'.");
        return;
    }
    kc = cf_json_get(r->body, "keyCredentials");
    if (kc && cf_json_type(kc) != CF_JSON_ARRAY) {
        graph_error(r, 400, "Request_BadRequest", "Invalid value specified for property "
                                                  "'keyCredentials' of resource 'Application'.");
        return;
    }
    if (kc && cf_json_size(kc) > CF_AUTH_MAX_CREDS) {
        graph_fail(r, CF_ETOOBIG, CF_STR(""));
        return;
    }
    app = calloc(1, sizeof(*app));
    if (!app) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    if (!app_load(r, ref, app))
        goto free_app;
    for (size_t i = 0; kc && i < cf_json_size(kc); i++) {
        const struct cf_json *k = cf_json_at(kc, i);
        const char *type, *usage, *key, *kid, *dn;

        cf_buf_init(&ders[n], KEY_MAX_B64);
        memset(&keys[n], 0, sizeof(keys[n]));
        n++;
        if (cf_json_type(k) != CF_JSON_OBJECT || !opt_str(k, "type", &type) ||
            !opt_str(k, "usage", &usage) || !opt_str(k, "key", &key) ||
            !opt_str(k, "keyId", &kid) || !opt_str(k, "displayName", &dn) ||
            (type && strcmp(type, "AsymmetricX509Cert") != 0) ||
            (usage && strcmp(usage, "Verify") != 0) || (!key && !kid) ||
            (key && strlen(key) > KEY_MAX_B64) || (key && !key_der(key, &ders[n - 1]))) {
            e = CF_EBADPARAM;
            break;
        }
        keys[n - 1].der = key ? ders[n - 1].data : NULL;
        keys[n - 1].der_len = key ? ders[n - 1].len : 0;
        keys[n - 1].display_name = dn;
        keys[n - 1].key_id = kid;
    }
    if (!e && kc)
        e = cf_auth_keys_set(r->api->cfg.auth, r->who.tenant_id, CF_AUTH_ID_APP_OBJECT,
                             app->app_object_id, keys, n);
    if (!e && name)
        e = cf_auth_app_rename(r->api->cfg.auth, r->who.tenant_id, CF_AUTH_ID_APP_OBJECT,
                               app->app_object_id, name);
    if (e == CF_EBADPARAM)
        graph_error(r, 400, "Request_BadRequest",
                    "Invalid value specified for property 'keyCredentials' of resource "
                    "'Application': each needs type 'AsymmetricX509Cert', usage 'Verify' and "
                    "a 'key' holding a base64 DER certificate with an RSA (2048+ bits) or P-256 "
                    "key, or the 'keyId' of a key to keep.");
    else if (e)
        graph_fail(r, e, ref->shown);
    else
        api_reply_empty(r, 204);
    for (size_t i = 0; i < n; i++)
        cf_buf_release(&ders[i]);
free_app:
    free(app);
}

void api_graph_app_patch(struct api_req *r)
{
    struct app_ref ref;
    app_ref_from_cap(r, &ref);
    app_patch(r, &ref);
}

void api_graph_add_password(struct api_req *r)
{
    struct cf_auth_app *app = NULL;
    struct app_ref ref;
    struct cf_auth_cred cred;
    char secret[CF_AUTH_SECRET_TEXT_LEN + 1];
    const struct cf_json *pc;
    const char *dn = NULL, *end = NULL;
    int64_t endt = 0;
    struct cf_jw w;
    cf_err e;

    app_ref_from_cap(r, &ref);
    if (!body(r))
        return;
    pc = cf_json_get(r->body, "passwordCredential");
    if ((pc && cf_json_type(pc) != CF_JSON_OBJECT && cf_json_type(pc) != CF_JSON_NULL) ||
        (pc && cf_json_type(pc) == CF_JSON_OBJECT &&
         (!opt_str(pc, "displayName", &dn) || !opt_str(pc, "endDateTime", &end))) ||
        (end && !parse_time(end, &endt))) {
        graph_error(r, 400, "Request_BadRequest",
                    "Invalid value specified for property 'passwordCredential': displayName "
                    "is a string and endDateTime an ISO 8601 date-time.");
        return;
    }
    app = calloc(1, sizeof(*app));
    if (!app) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    if (!app_load(r, &ref, app))
        goto free_app;
    e = cf_auth_password_add(r->api->cfg.auth, r->who.tenant_id, CF_AUTH_ID_APP_OBJECT,
                             app->app_object_id, dn, endt, &cred, secret);
    if (e == CF_EBADPARAM) {
        graph_error(r, 400, "Request_BadRequest",
                    "Invalid value specified for property 'passwordCredential': endDateTime "
                    "must be in the future and displayName at most 120 characters.");
        goto free_app;
    }
    if (e) {
        graph_fail(r, e, ref.shown);
        goto free_app;
    }
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    e = context(r, &w, "microsoft.graph.passwordCredential");
    cf_jw_kstr(&w, "customKeyIdentifier", NULL);
    cf_jw_kstr(&w, "displayName", cred.display_name[0] ? cred.display_name : NULL);
    write_time(&w, "endDateTime", cred.end);
    cf_jw_kstr(&w, "hint", cred.hint);
    cf_jw_kstr(&w, "keyId", cred.key_id);
    cf_jw_kstr(&w, "secretText", secret);
    write_time(&w, "startDateTime", cred.start);
    cf_jw_obj_end(&w);
    cf_wipe(secret, sizeof(secret));
    if (!e)
        e = cf_jw_err(&w);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
free_app:
    free(app);
}

void api_graph_remove_password(struct api_req *r)
{
    struct cf_auth_app *app = NULL;
    struct app_ref ref;
    const char *kid;
    cf_err e;

    app_ref_from_cap(r, &ref);
    if (!body(r))
        return;
    if (!opt_str(r->body, "keyId", &kid) || !kid) {
        graph_error(r, 400, "Request_BadRequest",
                    "A value is required for property 'keyId'.");
        return;
    }
    app = calloc(1, sizeof(*app));
    if (!app) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    if (app_load(r, &ref, app)) {
        e = cf_auth_password_remove(r->api->cfg.auth, r->who.tenant_id, CF_AUTH_ID_APP_OBJECT,
                                    app->app_object_id, kid);
        if (e == CF_ENOTFOUND)
            graph_error(r, 400, "Request_BadRequest",
                        "No password credential with that keyId exists on the application.");
        else if (e)
            graph_fail(r, e, ref.shown);
        else
            api_reply_empty(r, 204);
    }
    free(app);
}

/* ---------------------------------------------------------------- service principals */

static void sp_ref_from_cap(struct api_req *r, struct app_ref *ref)
{
    ref->kind = CF_AUTH_ID_SP_OBJECT;
    cap_str(r->cap[0], ref->id, sizeof(ref->id));
    ref->shown = r->cap[0];
}

void api_graph_sp_list(struct api_req *r)
{
    app_list(r, true);
}

void api_graph_sp_get(struct api_req *r)
{
    struct app_ref ref;
    sp_ref_from_cap(r, &ref);
    /* a servicePrincipal's id is its own object id; never fall back to the appId form */
    {
        struct cf_auth_app *app = calloc(1, sizeof(*app));
        cf_err e;
        if (!app) {
            api_error_err(r, CF_ENOMEM);
            return;
        }
        e = cf_auth_app_get(r->api->cfg.auth, r->who.tenant_id, ref.kind, ref.id, app);
        if (e)
            graph_fail(r, e, ref.shown);
        else
            reply_object(r, 200, "servicePrincipals/$entity", sp_fn, app);
        free(app);
    }
}

static cf_err group_list_cb(const struct cf_auth_group *g, void *arg)
{
    struct lister *l = arg;

    if (l->f.on && !filter_match(&l->f, "displayName", g->display_name) &&
        !filter_match(&l->f, "mailNickname", g->mail_nickname) &&
        !filter_match(&l->f, "id", g->object_id))
        return CF_OK;
    cf_jw_obj_begin(&l->w);
    if (l->sp) /* in a mixed collection: say which type */
        cf_jw_kstr(&l->w, "@odata.type", "#microsoft.graph.group");
    write_group_members(&l->w, g);
    cf_jw_obj_end(&l->w);
    return cf_jw_err(&l->w);
}

void api_graph_sp_member_of(struct api_req *r)
{
    struct lister l;
    char id[40];
    cf_err e;

    memset(&l, 0, sizeof(l));
    l.r = r;
    l.sp = true;
    cap_str(r->cap[0], id, sizeof(id));
    e = list_begin(&l, "directoryObjects");
    if (!e)
        e = cf_auth_member_of(r->api->cfg.auth, r->who.tenant_id, id, group_list_cb, &l);
    if (e == CF_ENOTFOUND) {
        not_found(r, r->cap[0]);
        return;
    }
    list_end(&l, e);
}

/* ---------------------------------------------------------------- groups */

void api_graph_group_create(struct api_req *r)
{
    struct cf_auth_group *g;
    const char *name, *nick, *desc;
    bool sec = true;
    const struct cf_json *se;
    cf_err e;

    if (!body(r))
        return;
    se = cf_json_get(r->body, "securityEnabled");
    if (!opt_str(r->body, "displayName", &name) || !name || !name[0] ||
        !opt_str(r->body, "mailNickname", &nick) || !opt_str(r->body, "description", &desc) ||
        (se && !cf_json_bool(se, &sec)) || !sec) {
        graph_error(r, 400, "Request_BadRequest",
                    "A group needs a 'displayName'; 'mailNickname' and 'description' are "
                    "strings, and only security groups ('securityEnabled': true) are "
                    "supported.");
        return;
    }
    g = calloc(1, sizeof(*g));
    if (!g) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    e = cf_auth_group_create(r->api->cfg.auth, r->who.tenant_id, name, nick ? nick : name,
                             desc, g);
    if (e)
        graph_fail(r, e, CF_STR(""));
    else
        reply_object(r, 201, "groups/$entity", group_fn, g);
    free(g);
}

void api_graph_group_get(struct api_req *r)
{
    struct cf_auth_group *g = calloc(1, sizeof(*g));
    char id[40];
    cf_err e;

    if (!g) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    cap_str(r->cap[0], id, sizeof(id));
    e = cf_auth_group_get(r->api->cfg.auth, r->who.tenant_id, id, g);
    if (e)
        graph_fail(r, e, r->cap[0]);
    else
        reply_object(r, 200, "groups/$entity", group_fn, g);
    free(g);
}

void api_graph_group_list(struct api_req *r)
{
    static const char *const fields[] = {"displayName", "mailNickname", "id", NULL};
    struct lister l;
    cf_err e;

    memset(&l, 0, sizeof(l));
    l.r = r;
    if (!parse_filter(r, &l.f, fields))
        return;
    e = list_begin(&l, "groups");
    if (!e)
        e = cf_auth_group_list(r->api->cfg.auth, r->who.tenant_id, NULL, group_list_cb, &l);
    list_end(&l, e);
}

void api_graph_group_delete(struct api_req *r)
{
    char id[40];
    cf_err e;

    cap_str(r->cap[0], id, sizeof(id));
    e = cf_auth_group_delete(r->api->cfg.auth, r->who.tenant_id, id);
    if (e)
        graph_fail(r, e, r->cap[0]);
    else
        api_reply_empty(r, 204);
}

static cf_err member_cb(const struct cf_auth_app *sp, const struct cf_auth_group *g, void *arg)
{
    struct lister *l = arg;

    cf_jw_obj_begin(&l->w);
    if (sp) {
        cf_jw_kstr(&l->w, "@odata.type", "#microsoft.graph.servicePrincipal");
        write_sp_members(&l->w, sp);
    } else {
        cf_jw_kstr(&l->w, "@odata.type", "#microsoft.graph.group");
        write_group_members(&l->w, g);
    }
    cf_jw_obj_end(&l->w);
    return cf_jw_err(&l->w);
}

void api_graph_group_members(struct api_req *r)
{
    struct lister l;
    char id[40];
    cf_err e;

    memset(&l, 0, sizeof(l));
    l.r = r;
    cap_str(r->cap[0], id, sizeof(id));
    e = list_begin(&l, "directoryObjects");
    if (!e)
        e = cf_auth_group_members(r->api->cfg.auth, r->who.tenant_id, id, member_cb, &l);
    if (e == CF_ENOTFOUND) {
        not_found(r, r->cap[0]);
        return;
    }
    list_end(&l, e);
}

void api_graph_group_member_add(struct api_req *r)
{
    char gid[40], mid[40];
    const char *ref;
    cf_err e;

    cap_str(r->cap[0], gid, sizeof(gid));
    if (!body(r))
        return;
    if (!opt_str(r->body, "@odata.id", &ref) || !ref || !ref_id(ref, mid)) {
        graph_error(r, 400, "Request_BadRequest",
                    "The '@odata.id' must name a directory object: "
                    "https://<host>/v1.0/directoryObjects/{id}.");
        return;
    }
    e = cf_auth_group_member_add(r->api->cfg.auth, r->who.tenant_id, gid, mid);
    if (e == CF_ENOTFOUND)
        not_found(r, cf_str_from(mid)); /* the group's or the member's id: both are ids */
    else if (e == CF_EBADPARAM)
        graph_error(r, 400, "Request_BadRequest", "A group cannot be a member of itself.");
    else if (e)
        graph_fail(r, e, r->cap[0]);
    else
        api_reply_empty(r, 204);
}

void api_graph_group_member_remove(struct api_req *r)
{
    char gid[40], mid[40];
    cf_err e;

    cap_str(r->cap[0], gid, sizeof(gid));
    cap_str(r->cap[1], mid, sizeof(mid));
    e = cf_auth_group_member_remove(r->api->cfg.auth, r->who.tenant_id, gid, mid);
    if (e)
        graph_fail(r, e, r->cap[1]);
    else
        api_reply_empty(r, 204);
}

/* ---------------------------------------------------------------- the keyed forms */

/* /v1.0/applications(appId='X') and /v1.0/servicePrincipals(appId='X'): GET (both), PATCH and
 * DELETE (applications). Anything else under /v1.0 that no other row matched is a 404. */
void api_graph_keyed(struct api_req *r)
{
    struct app_ref ref;
    enum cf_http_method m = r->http->method;

    memset(&ref, 0, sizeof(ref));
    ref.kind = CF_AUTH_ID_CLIENT;
    ref.shown = r->cap[0];
    if (keyed(r->cap[0], "applications(appId='", ref.id, sizeof(ref.id))) {
        if (m == CF_HTTP_GET)
            app_get(r, &ref, false);
        else if (m == CF_HTTP_PATCH)
            app_patch(r, &ref);
        else
            app_delete(r, &ref);
        return;
    }
    if (keyed(r->cap[0], "servicePrincipals(appId='", ref.id, sizeof(ref.id)) &&
        m == CF_HTTP_GET) {
        app_get(r, &ref, true);
        return;
    }
    graph_error(r, 400, "Request_BadRequest",
                "Resource not found for the segment in the request URI.");
}

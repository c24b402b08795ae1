/* The management-plane handlers without a server: h_arm.c is compiled into this test, with the
 * reply functions (reply.c), the request helpers (dispatch.c), the vault service and the auth
 * tenant check replaced by small fakes below (an in-memory list of groups and vaults), so only
 * base comes from the libraries whatever state the other modules are in.
 *
 * Covers: body validation and defaults of PUT/PATCH (required fields, sku, tenant, retention,
 * soft delete, purge protection, ACL normalisation, tags, rbac default by api-version, recover),
 * the vault / deleted-vault / group / generic shapes byte for byte, $filter parsing, paging with
 * $top and nextLink, the subscription and tenant checks, and each handler's status codes. */
#include "base/cf.h"

#include "api/h_arm.c"

#include <setjmp.h>
#include <cmocka.h>

#define SUB "11111111-2222-3333-4444-555555555555"
#define TID "tttttttt-0000-4000-8000-000000000001"

/* ---------------- captured reply ---------------- */

static struct {
    int status;
    bool replied, has_body;
    char *body;
} got;

static void capture(struct api_req *r, int status, bool with_body)
{
    assert_false(got.replied); /* exactly one reply per request */
    got.replied = true;
    got.status = status;
    got.has_body = with_body;
    free(got.body);
    got.body = strdup(with_body && r->out.data ? r->out.data : "");
    cf_json_free(r->body);
    cf_buf_release(&r->scratch);
    cf_buf_release(&r->out);
    free(r);
}

void api_reply(struct api_req *r, int status)
{
    capture(r, status, true);
}

void api_reply_empty(struct api_req *r, int status)
{
    capture(r, status, false);
}

void api_error(struct api_req *r, int status, const char *code, const char *inner, const char *fmt,
               ...)
{
    char msg[1024];
    va_list ap;
    struct cf_jw w;

    (void)inner;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cf_buf_reset(&r->out);
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "error");
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "code", code);
    cf_jw_kstr(&w, "message", msg);
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    capture(r, status, true);
}

void api_error_err(struct api_req *r, cf_err e)
{
    api_error(r, 500, "InternalServerError", NULL, "%s", cf_err_msg(e));
}

cf_err api_base_url(const struct api_req *r, struct cf_buf *out)
{
    cf_err e = cf_buf_puts(out, "https://");
    if (!e)
        e = cf_buf_append_str(out, r->hostname);
    if (!e)
        e = cf_buf_append_str(out, r->port);
    return e;
}

struct cf_str api_query(const struct api_req *r, const char *key)
{
    for (size_t i = 0; i < r->nq; i++)
        if (cf_str_eq_cstr(r->q[i].key, key))
            return r->q[i].val;
    return CF_STR_NULL;
}

cf_err api_body_json(struct api_req *r, bool allow_empty)
{
    struct cf_str b = r->http->body;
    cf_err e;

    if (b.len == 0 && allow_empty)
        b = CF_STR("{}");
    e = cf_json_parse(b.p ? b.p : "", b.len, &r->body, NULL, 0);
    if (e || cf_json_type(r->body) != CF_JSON_OBJECT) {
        api_error(r, 400, "BadParameter", NULL, "The request body is not a JSON object.");
        return CF_EBADJSON;
    }
    return CF_OK;
}

/* Dated versions compare as text (all these tests use dated ones). */
bool api_version_at_least(const struct api_req *r, const char *v)
{
    return strcmp(r->api_version, v) >= 0;
}

/* ---------------- fake auth and vault service ---------------- */

bool cf_auth_tenant_known(const struct cf_auth *a, struct cf_str t)
{
    (void)a;
    return cf_str_eq_ci(t, CF_STR(TID)) || cf_str_eq_ci(t, CF_STR("other-tenant"));
}

bool cf_name_valid_vault(struct cf_str n)
{
    if (n.len < 3 || n.len > 24 ||
        !((n.p[0] >= 'a' && n.p[0] <= 'z') || (n.p[0] >= 'A' && n.p[0] <= 'Z')))
        return false;
    for (size_t i = 0; i < n.len; i++)
        if (!((n.p[i] >= 'a' && n.p[i] <= 'z') || (n.p[i] >= 'A' && n.p[i] <= 'Z') ||
              (n.p[i] >= '0' && n.p[i] <= '9') || n.p[i] == '-'))
            return false;
    return strstr(n.p, "--") == NULL || (size_t)(strstr(n.p, "--") - n.p) >= n.len;
}

bool cf_name_valid_group(struct cf_str n)
{
    if (n.len < 1 || n.len > 90 || n.p[n.len - 1] == '.')
        return false;
    for (size_t i = 0; i < n.len; i++) {
        char c = n.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_-.()", c)))
            return false;
    }
    return true;
}

#define NV 4
static struct {
    bool group_exists;
    struct cf_vault vaults[NV]; /* live ones have deleted_date 0 */
    int nvaults;
    cf_err put_err;
    bool put_called;
    struct cf_vault put_in;
    enum cf_vault_put_mode put_mode;
    char purged[25];
    char deleted[25];
} fv;

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void copy_vault(struct cf_vault *out, const struct cf_vault *in)
{
    *out = *in;
    out->tags_json = dup(in->tags_json);
    out->access_policies_json = dup(in->access_policies_json);
    out->network_acls_json = dup(in->network_acls_json);
}

void cf_vault_release(struct cf_vault *v)
{
    free(v->tags_json);
    free(v->access_policies_json);
    free(v->network_acls_json);
    memset(v, 0, sizeof(*v));
}

void cf_group_release(struct cf_group *g)
{
    free(g->tags_json);
    memset(g, 0, sizeof(*g));
}

static struct cf_vault *find(const char *name, bool deleted)
{
    for (int i = 0; i < fv.nvaults; i++)
        if (strcasecmp(fv.vaults[i].name, name) == 0 && (fv.vaults[i].deleted_date != 0) == deleted)
            return &fv.vaults[i];
    return NULL;
}

cf_err cf_group_get(struct cf_vault_svc *svc, const char *sub, const char *name,
                    struct cf_group *out)
{
    (void)svc;
    assert_string_equal(sub, SUB);
    if (!fv.group_exists)
        return CF_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->location, sizeof(out->location), "eastus");
    out->tags_json = strdup("{\"k\":\"v\"}");
    return CF_OK;
}

cf_err cf_group_put(struct cf_vault_svc *svc, const struct cf_group *in, bool *created,
                    struct cf_group *out)
{
    (void)svc;
    *created = !fv.group_exists;
    fv.group_exists = true;
    *out = *in;
    out->tags_json = dup(in->tags_json);
    return CF_OK;
}

cf_err cf_group_list(struct cf_vault_svc *svc, const char *sub, cf_group_cb cb, void *arg)
{
    struct cf_group g;
    cf_err e;
    (void)svc;
    (void)sub;
    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "rg");
    snprintf(g.location, sizeof(g.location), "eastus");
    g.tags_json = (char *)"{}"; /* borrowed for the callback */
    e = fv.group_exists ? cb(&g, arg) : CF_OK;
    return e;
}

cf_err cf_group_delete(struct cf_vault_svc *svc, const char *sub, const char *name)
{
    (void)svc;
    (void)sub;
    (void)name;
    if (!fv.group_exists)
        return CF_ENOTFOUND;
    fv.group_exists = false;
    return CF_OK;
}

cf_err cf_vault_put(struct cf_vault_svc *svc, const struct cf_vault *in, enum cf_vault_put_mode m,
                    bool *created, struct cf_vault *out)
{
    (void)svc;
    fv.put_called = true;
    cf_vault_release(&fv.put_in);
    copy_vault(&fv.put_in, in);
    fv.put_mode = m;
    if (fv.put_err)
        return fv.put_err;
    *created = find(in->name, false) == NULL;
    copy_vault(out, in);
    out->created = 1796423024;
    out->updated = 1796423084;
    return CF_OK;
}

cf_err cf_vault_get(struct cf_vault_svc *svc, const char *sub, const char *rg, const char *name,
                    struct cf_vault *out)
{
    struct cf_vault *v = find(name, false);
    (void)svc;
    (void)sub;
    if (!v || strcasecmp(v->resource_group, rg) != 0)
        return CF_ENOTFOUND;
    copy_vault(out, v);
    return CF_OK;
}

cf_err cf_vault_list(struct cf_vault_svc *svc, const char *sub, const char *rg, cf_vault_cb cb,
                     void *arg)
{
    (void)svc;
    (void)sub;
    for (int i = 0; i < fv.nvaults; i++) {
        cf_err e;
        if (fv.vaults[i].deleted_date || (rg && strcasecmp(rg, fv.vaults[i].resource_group)))
            continue;
        e = cb(&fv.vaults[i], arg);
        if (e)
            return e;
    }
    return CF_OK;
}

cf_err cf_vault_delete(struct cf_vault_svc *svc, const char *sub, const char *rg, const char *name)
{
    struct cf_vault *v = find(name, false);
    (void)svc;
    (void)sub;
    (void)rg;
    if (!v)
        return CF_ENOTFOUND;
    snprintf(fv.deleted, sizeof(fv.deleted), "%s", name);
    return CF_OK;
}

cf_err cf_vault_list_deleted(struct cf_vault_svc *svc, const char *sub, cf_vault_cb cb, void *arg)
{
    (void)svc;
    (void)sub;
    for (int i = 0; i < fv.nvaults; i++)
        if (fv.vaults[i].deleted_date && cb(&fv.vaults[i], arg))
            return CF_EINTERNAL;
    return CF_OK;
}

cf_err cf_vault_get_deleted(struct cf_vault_svc *svc, const char *sub, const char *name,
                            struct cf_vault *out)
{
    struct cf_vault *v = find(name, true);
    (void)svc;
    (void)sub;
    if (!v)
        return CF_ENOTFOUND;
    copy_vault(out, v);
    return CF_OK;
}

cf_err cf_vault_purge(struct cf_vault_svc *svc, const char *sub, const char *name)
{
    struct cf_vault *v = find(name, true);
    (void)svc;
    (void)sub;
    if (!v)
        return CF_ENOTFOUND;
    if (v->purge_protection)
        return CF_EPURGEPROTECT;
    snprintf(fv.purged, sizeof(fv.purged), "%s", name);
    return CF_OK;
}

cf_err cf_vault_resolve(struct cf_vault_svc *svc, struct cf_str name, struct cf_vault_ref *out)
{
    char n[64];
    (void)svc;
    snprintf(n, sizeof(n), "%.*s", (int)name.len, name.p);
    if (!find(n, false))
        return CF_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    return CF_OK;
}

/* Locks: one fake lock on a lower-case scope (set by the lock tests). */
static struct {
    enum cf_lock_level level;
    char scope[CF_LOCK_SCOPE_MAX];
    bool fail;
} flk;

cf_err cf_vault_lock_check(struct cf_vault_svc *svc, const char *sub, const char *rg,
                           const char *vault, bool below, struct cf_lock_hit *out)
{
    char target[CF_LOCK_SCOPE_MAX];
    size_t n;
    (void)svc;
    memset(out, 0, sizeof(*out));
    if (flk.fail)
        return CF_ESTORE;
    if (vault)
        snprintf(target, sizeof(target), "/subscriptions/%s/resourcegroups/%s/providers/"
                 "microsoft.keyvault/vaults/%s", sub, rg, vault);
    else
        snprintf(target, sizeof(target), "/subscriptions/%s/resourcegroups/%s", sub, rg);
    cf_str_lower(cf_str_from(target), target);
    n = strlen(flk.scope);
    /* covered: the lock is at or above the target (or below it, when asked) */
    if (flk.level && ((strncmp(target, flk.scope, n) == 0 && (target[n] == '\0' || target[n] == '/')) ||
                     (below && strncmp(flk.scope, target, strlen(target)) == 0 &&
                      flk.scope[strlen(target)] == '/'))) {
        out->level = flk.level;
        snprintf(out->scope, sizeof(out->scope), "%s", flk.scope);
    }
    return CF_OK;
}

static void add_vault(const char *name, const char *rg, bool deleted, bool protect)
{
    struct cf_vault *v = &fv.vaults[fv.nvaults++];
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", name);
    snprintf(v->subscription, sizeof(v->subscription), SUB);
    snprintf(v->resource_group, sizeof(v->resource_group), "%s", rg);
    snprintf(v->location, sizeof(v->location), "eastus");
    snprintf(v->tenant_id, sizeof(v->tenant_id), TID);
    snprintf(v->sku, sizeof(v->sku), "standard");
    snprintf(v->public_network_access, sizeof(v->public_network_access), "Enabled");
    v->retention_days = 90;
    v->soft_delete = true;
    v->purge_protection = protect;
    v->rbac = true;
    v->created = 1796423024;
    v->updated = 1796423024;
    if (deleted) {
        v->deleted_date = 1796423024;
        v->scheduled_purge = 1796423024 + 90 * 86400;
    }
}

/* ---------------- requests ---------------- */

static struct cf_api the_api;
static struct cf_http_req the_http;

static int setup(void **state)
{
    (void)state;
    memset(&got, 0, sizeof(got));
    memset(&fv, 0, sizeof(fv));
    memset(&flk, 0, sizeof(flk));
    memset(&the_api, 0, sizeof(the_api));
    memset(&the_http, 0, sizeof(the_http));
    the_api.cfg.dns_suffix = "vault.localhost";
    the_api.cfg.login_host = "login.localhost";
    the_api.cfg.management_host = "management.localhost";
    the_api.cfg.subscription_id = SUB;
    the_api.cfg.tenant_id = TID;
    fv.group_exists = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(got.body);
    got.body = NULL;
    cf_vault_release(&fv.put_in);
    return 0;
}

static struct api_req *req(enum cf_http_method m, const char *path, const char *cap0,
                           const char *cap1, const char *cap2, const char *body)
{
    struct api_req *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->api = &the_api;
    r->http = &the_http;
    the_http.method = m;
    the_http.path = cf_str_from(path);
    the_http.body = body ? cf_str_from(body) : CF_STR("");
    r->hostname = CF_STR("management.localhost");
    r->port = CF_STR(":8443");
    snprintf(r->api_version, sizeof(r->api_version), "2023-07-01");
    snprintf(r->who.tenant_id, sizeof(r->who.tenant_id), TID);
    snprintf(r->who.client_id, sizeof(r->who.client_id), "app-1");
    if (cap0)
        r->cap[r->ncap++] = cf_str_from(cap0);
    if (cap1)
        r->cap[r->ncap++] = cf_str_from(cap1);
    if (cap2)
        r->cap[r->ncap++] = cf_str_from(cap2);
    cf_buf_init(&r->scratch, 1024);
    cf_buf_init(&r->out, 4 * CF_MAX_BODY_BYTES);
    return r;
}

static void add_query(struct api_req *r, const char *k, const char *v)
{
    r->q[r->nq].key = cf_str_from(k);
    r->q[r->nq].val = cf_str_from(v);
    r->nq++;
}

static bool body_has(const char *s)
{
    return got.body && strstr(got.body, s) != NULL;
}

/* ---------------- body -> vault ---------------- */

static bool parse_body(const char *json, const struct cf_vault *cur, bool patch, bool rbac_default,
                       struct cf_vault *v, enum cf_vault_put_mode *mode, struct arm_fail *f)
{
    struct cf_json *j = NULL;
    struct vault_parse o;
    bool ok;

    assert_int_equal(cf_json_parse(json, strlen(json), &j, NULL, 0), CF_OK);
    memset(&o, 0, sizeof(o));
    o.patch = patch;
    o.rbac_default = rbac_default;
    o.cur = cur;
    o.tenant_known = auth_tenant_known;
    o.server_tenant = TID;
    memset(v, 0, sizeof(*v));
    memset(f, 0, sizeof(*f));
    ok = vault_from_json(j, &o, v, mode, f);
    cf_json_free(j);
    return ok;
}

#define MIN_PROPS "\"tenantId\":\"" TID "\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"}"

static void body_defaults(void **state)
{
    (void)state;
    struct cf_vault v;
    enum cf_vault_put_mode m;
    struct arm_fail f;

    /* rbac defaults to true from 2026-02-01: no access policies needed */
    assert_true(parse_body("{\"location\":\"East US\",\"properties\":{" MIN_PROPS "}}", NULL, false,
                           true, &v, &m, &f));
    assert_int_equal(m, CF_VAULT_PUT_DEFAULT);
    assert_string_equal(v.location, "eastus");
    assert_string_equal(v.sku, "standard");
    assert_string_equal(v.tenant_id, TID);
    assert_int_equal(v.retention_days, 90);
    assert_true(v.soft_delete);
    assert_true(v.rbac);
    assert_false(v.purge_protection);
    assert_string_equal(v.public_network_access, "Enabled");
    assert_string_equal(v.tags_json, "{}");
    assert_string_equal(v.access_policies_json, "[]");
    assert_null(v.network_acls_json);
    vault_in_release(&v);

    /* before it, rbac is false and accessPolicies are required */
    assert_false(parse_body("{\"location\":\"eastus\",\"properties\":{" MIN_PROPS "}}", NULL, false,
                            false, &v, &m, &f));
    assert_int_equal(f.status, 400);
    assert_non_null(strstr(f.msg, "accessPolicies"));
    vault_in_release(&v);

    assert_true(parse_body(
        "{\"location\":\"eastus\",\"tags\":{\"a\":\"b\"},\"properties\":{"
        "\"accessPolicies\":[{\"tenantId\":\"t\",\"objectId\":\"o\",\"permissions\":"
        "{\"secrets\":[\"get\"]}}],\"sku\":{\"family\":\"A\",\"name\":\"Premium\"},"
        "\"enabledForDeployment\":true,\"softDeleteRetentionInDays\":7,"
        "\"enablePurgeProtection\":true,\"publicNetworkAccess\":\"disabled\","
        "\"tenantId\":\"TTTTTTTT-0000-4000-8000-000000000001\",\"unknownField\":1,"
        "\"networkAcls\":{\"defaultAction\":\"deny\",\"ipRules\":[{\"value\":\"1.2.3.0/24\"}]}}}",
        NULL, false, false, &v, &m, &f));
    assert_string_equal(v.sku, "premium");
    assert_string_equal(v.tenant_id, TID); /* the server's spelling */
    assert_int_equal(v.retention_days, 7);
    assert_true(v.purge_protection);
    assert_true(v.for_deployment);
    assert_false(v.rbac);
    assert_string_equal(v.public_network_access, "Disabled");
    assert_string_equal(v.tags_json, "{\"a\":\"b\"}");
    assert_string_equal(v.access_policies_json,
                        "[{\"tenantId\":\"t\",\"objectId\":\"o\",\"permissions\":"
                        "{\"secrets\":[\"get\"]}}]");
    assert_string_equal(v.network_acls_json,
                        "{\"bypass\":\"AzureServices\",\"defaultAction\":\"Deny\",\"ipRules\":"
                        "[{\"value\":\"1.2.3.0/24\"}],\"virtualNetworkRules\":[]}");
    vault_in_release(&v);
}

static void body_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *code;
    } cases[] = {
        {"{\"properties\":{" MIN_PROPS "}}", "LocationRequired"},
        {"{\"location\":\"east/us\",\"properties\":{" MIN_PROPS "}}",
         "LocationNotAvailableForResourceType"},
        {"{\"location\":\"eastus\"}", "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{\"sku\":{\"family\":\"A\",\"name\":"
         "\"standard\"}}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"" TID "\"}}", "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"" TID
         "\",\"sku\":{\"family\":\"B\",\"name\":\"standard\"}}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"" TID
         "\",\"sku\":{\"family\":\"A\",\"name\":\"gold\"}}}",
         "SkuNotSupported"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"softDeleteRetentionInDays\":6}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS
         ",\"softDeleteRetentionInDays\":91}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"enableSoftDelete\":false}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"organizations\",\"sku\":"
         "{\"family\":\"A\",\"name\":\"standard\"}}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"unknown\",\"sku\":"
         "{\"family\":\"A\",\"name\":\"standard\"}}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"tags\":{\"a\":1},\"properties\":{" MIN_PROPS "}}",
         "InvalidRequestContent"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"enabledForDeployment\":1}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"createMode\":\"x\"}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"accessPolicies\":[{}]}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS
         ",\"networkAcls\":{\"bypass\":\"Everything\"}}}",
         "BadRequest"},
        /* ipRules the firewall could not apply */
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS
         ",\"networkAcls\":{\"ipRules\":[{\"value\":\"10.0.0.0/33\"}]}}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS
         ",\"networkAcls\":{\"ipRules\":[{\"value\":\"my-office\"}]}}}",
         "BadRequest"},
        {"{\"location\":\"eastus\",\"properties\":{" MIN_PROPS
         ",\"publicNetworkAccess\":\"maybe\"}}",
         "BadRequest"},
    };
    for (size_t i = 0; i < CF_ARRAY_LEN(cases); i++) {
        struct cf_vault v;
        enum cf_vault_put_mode m;
        struct arm_fail f;
        bool ok = parse_body(cases[i].json, NULL, false, true, &v, &m, &f);
        if (ok || strcmp(f.code, cases[i].code) != 0)
            fail_msg("case %zu: ok=%d code=%s msg=%s", i, ok, f.code ? f.code : "-", f.msg);
        assert_int_not_equal(f.status, 0);
        vault_in_release(&v);
    }
}

static void body_update_rules(void **state)
{
    (void)state;
    struct cf_vault cur, v;
    enum cf_vault_put_mode m;
    struct arm_fail f;

    memset(&cur, 0, sizeof(cur));
    snprintf(cur.name, sizeof(cur.name), "kv1");
    snprintf(cur.resource_group, sizeof(cur.resource_group), "rg");
    snprintf(cur.location, sizeof(cur.location), "eastus");
    snprintf(cur.tenant_id, sizeof(cur.tenant_id), TID);
    snprintf(cur.sku, sizeof(cur.sku), "premium");
    cur.retention_days = 30;
    cur.purge_protection = true;
    cur.rbac = true;
    cur.tags_json = (char *)"{\"keep\":\"me\"}";
    cur.access_policies_json = (char *)"[]";

    /* PATCH keeps what it does not name */
    assert_true(parse_body("{\"properties\":{\"enabledForDiskEncryption\":true}}", &cur, true,
                           false, &v, &m, &f));
    assert_string_equal(v.sku, "premium");
    assert_int_equal(v.retention_days, 30);
    assert_true(v.purge_protection);
    assert_true(v.for_disk_encryption);
    assert_string_equal(v.tags_json, "{\"keep\":\"me\"}");
    assert_string_equal(v.location, "eastus");
    vault_in_release(&v);

    assert_true(parse_body("{\"tags\":{}}", &cur, true, false, &v, &m, &f));
    assert_string_equal(v.tags_json, "{}");
    vault_in_release(&v);

    assert_false(parse_body("{\"properties\":{\"enablePurgeProtection\":false}}", &cur, true, false,
                            &v, &m, &f));
    assert_non_null(strstr(f.msg, "irreversible"));
    vault_in_release(&v);

    assert_false(parse_body("{\"properties\":{\"softDeleteRetentionInDays\":90}}", &cur, true,
                            false, &v, &m, &f));
    assert_non_null(strstr(f.msg, "can't be modified"));
    vault_in_release(&v);

    /* the same value is not a change */
    assert_true(parse_body("{\"properties\":{\"softDeleteRetentionInDays\":30}}", &cur, true, false,
                           &v, &m, &f));
    vault_in_release(&v);

    /* PUT in another location */
    assert_false(parse_body("{\"location\":\"westus\",\"properties\":{" MIN_PROPS "}}", &cur, false,
                            false, &v, &m, &f));
    assert_int_equal(f.status, 409);
    assert_string_equal(f.code, "InvalidResourceLocation");
    vault_in_release(&v);

    /* recover needs no sku and no policies */
    assert_true(parse_body("{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"" TID
                           "\",\"createMode\":\"recover\"}}",
                           NULL, false, false, &v, &m, &f));
    assert_int_equal(m, CF_VAULT_PUT_RECOVER);
    vault_in_release(&v);
}

/* ---------------- shapes ---------------- */

static void vault_shape(void **state)
{
    (void)state;
    add_vault("Kv1", "rg", false, true);
    fv.vaults[0].network_acls_json = (char *)"{\"bypass\":\"None\"}";
    fv.vaults[0].tags_json = (char *)"{\"a\":\"b\"}";
    api_arm_vault_get(req(CF_HTTP_GET, "/x", SUB, "rg", "kv1", NULL));
    fv.vaults[0].network_acls_json = NULL;
    fv.vaults[0].tags_json = NULL;
    assert_int_equal(got.status, 200);
    assert_string_equal(
        got.body,
        "{\"id\":\"/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/"
        "Kv1\",\"name\":\"Kv1\",\"type\":\"Microsoft.KeyVault/vaults\",\"location\":\"eastus\","
        "\"tags\":{\"a\":\"b\"},\"systemData\":{\"createdBy\":\"app-1\",\"createdByType\":"
        "\"Application\",\"createdAt\":\"2026-12-04T22:23:44Z\",\"lastModifiedBy\":\"app-1\","
        "\"lastModifiedByType\":\"Application\",\"lastModifiedAt\":\"2026-12-04T22:23:44Z\"},"
        "\"properties\":{\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"tenantId\":\"" TID
        "\",\"accessPolicies\":[],\"enabledForDeployment\":false,\"enabledForDiskEncryption\":"
        "false,\"enabledForTemplateDeployment\":false,\"enableSoftDelete\":true,"
        "\"softDeleteRetentionInDays\":90,\"enableRbacAuthorization\":true,"
        "\"enablePurgeProtection\":true,\"networkAcls\":{\"bypass\":\"None\"},\"vaultUri\":"
        "\"https://kv1.vault.localhost:8443/\",\"provisioningState\":\"Succeeded\","
        "\"publicNetworkAccess\":\"Enabled\"}}");
}

static void deleted_shape_and_location(void **state)
{
    (void)state;
    add_vault("gone", "rg", true, false);
    api_arm_deleted_get(req(CF_HTTP_GET, "/x", SUB, "EastUS", "gone", NULL));
    assert_int_equal(got.status, 200);
    assert_string_equal(
        got.body,
        "{\"id\":\"/subscriptions/" SUB "/providers/Microsoft.KeyVault/locations/eastus/"
        "deletedVaults/gone\",\"name\":\"gone\",\"type\":\"Microsoft.KeyVault/deletedVaults\","
        "\"properties\":{\"vaultId\":\"/subscriptions/" SUB "/resourceGroups/rg/providers/"
        "Microsoft.KeyVault/vaults/gone\",\"location\":\"eastus\",\"tags\":{},\"deletionDate\":"
        "\"2026-12-04T22:23:44Z\",\"scheduledPurgeDate\":\"2027-03-04T22:23:44Z\","
        "\"purgeProtectionEnabled\":false}}");

    got.replied = false;
    api_arm_deleted_get(req(CF_HTTP_GET, "/x", SUB, "westus", "gone", NULL));
    assert_int_equal(got.status, 404);

    got.replied = false;
    api_arm_deleted_purge(req(CF_HTTP_POST, "/x", SUB, "westus", "gone", NULL));
    assert_int_equal(got.status, 404);
    assert_string_equal(fv.purged, "");

    got.replied = false;
    api_arm_deleted_purge(req(CF_HTTP_POST, "/x", SUB, "eastus", "gone", NULL));
    assert_int_equal(got.status, 200);
    assert_false(got.has_body);
    assert_string_equal(fv.purged, "gone");

    add_vault("locked", "rg", true, true);
    got.replied = false;
    api_arm_deleted_purge(req(CF_HTTP_POST, "/x", SUB, "eastus", "locked", NULL));
    assert_int_equal(got.status, 409);
    assert_true(body_has("Operation 'DeletedVaultPurge' is not allowed."));
}

static void filters(void **state)
{
    (void)state;
    struct res_filter fl;

    assert_true(parse_filter(CF_STR(""), &fl));
    assert_false(fl.type_other);
    assert_null(fl.name.p);
    assert_true(parse_filter(CF_STR("resourceType eq 'Microsoft.KeyVault/vaults'"), &fl));
    assert_false(fl.type_other);
    assert_true(parse_filter(CF_STR("resourceType eq 'microsoft.keyvault/VAULTS' and name eq "
                                    "'My Vault and more'"),
                             &fl));
    assert_true(cf_str_eq_cstr(fl.name, "My Vault and more"));
    assert_true(parse_filter(CF_STR("ResourceType eq 'Microsoft.Storage/storageAccounts'"), &fl));
    assert_true(fl.type_other);
    assert_true(parse_filter(CF_STR("resourceGroup eq 'rg'"), &fl));
    assert_true(cf_str_eq_cstr(fl.group, "rg"));
    assert_false(parse_filter(CF_STR("location eq 'x'"), &fl));
    assert_false(parse_filter(CF_STR("name ne 'x'"), &fl));
    assert_false(parse_filter(CF_STR("name eq x"), &fl));
    assert_false(parse_filter(CF_STR("name eq 'x"), &fl));
    assert_false(parse_filter(CF_STR("name eq 'x' and"), &fl));
}

static void resources_list(void **state)
{
    (void)state;
    struct api_req *r;

    add_vault("kv1", "rg", false, false);
    add_vault("kv2", "rg2", false, false);
    r = req(CF_HTTP_GET, "/subscriptions/" SUB "/resources", SUB, NULL, NULL, NULL);
    add_query(r, "$filter", "resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'KV2'");
    api_arm_resources_list(r);
    assert_int_equal(got.status, 200);
    assert_string_equal(got.body, "{\"value\":[{\"id\":\"/subscriptions/" SUB
                                  "/resourceGroups/rg2/providers/Microsoft.KeyVault/vaults/kv2\","
                                  "\"name\":\"kv2\",\"type\":\"Microsoft.KeyVault/vaults\","
                                  "\"location\":\"eastus\",\"tags\":{}}]}");

    got.replied = false;
    r = req(CF_HTTP_GET, "/x", SUB, NULL, NULL, NULL);
    add_query(r, "$filter", "tagName eq 'x'");
    api_arm_resources_list(r);
    assert_int_equal(got.status, 400);
    assert_true(body_has("InvalidFilterInQueryString"));
}

static void paging(void **state)
{
    (void)state;
    struct api_req *r;
    const char *path = "/subscriptions/" SUB "/providers/Microsoft.KeyVault/vaults";

    add_vault("kv1", "rg", false, false);
    add_vault("kv2", "rg", false, false);
    add_vault("kv3", "rg", false, false);
    r = req(CF_HTTP_GET, path, SUB, NULL, NULL, NULL);
    add_query(r, "$top", "2");
    api_arm_vault_list_sub(r);
    assert_int_equal(got.status, 200);
    assert_true(body_has("\"name\":\"kv1\""));
    assert_true(body_has("\"name\":\"kv2\""));
    assert_false(body_has("\"name\":\"kv3\""));
    assert_true(body_has("\"nextLink\":\"https://management.localhost:8443/subscriptions/" SUB
                         "/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01&$top=2&"
                         "$skiptoken=2\""));

    got.replied = false;
    r = req(CF_HTTP_GET, path, SUB, NULL, NULL, NULL);
    add_query(r, "$top", "2");
    add_query(r, "$skiptoken", "2");
    api_arm_vault_list_sub(r);
    assert_false(body_has("\"name\":\"kv1\""));
    assert_true(body_has("\"name\":\"kv3\""));
    assert_false(body_has("nextLink"));

    got.replied = false;
    r = req(CF_HTTP_GET, path, SUB, NULL, NULL, NULL);
    add_query(r, "$top", "0");
    api_arm_vault_list_sub(r);
    assert_int_equal(got.status, 400);

    /* no $top: everything, no nextLink */
    got.replied = false;
    api_arm_vault_list_sub(req(CF_HTTP_GET, path, SUB, NULL, NULL, NULL));
    assert_true(body_has("\"name\":\"kv3\""));
    assert_false(body_has("nextLink"));
}

/* ---------------- handlers ---------------- */

static void subscription_and_tenant_checks(void **state)
{
    (void)state;
    struct api_req *r;

    api_arm_sub_get(
        req(CF_HTTP_GET, "/x", "99999999-2222-3333-4444-555555555555", NULL, NULL, NULL));
    assert_int_equal(got.status, 404);
    assert_true(body_has("\"code\":\"SubscriptionNotFound\""));
    assert_true(body_has("The subscription '99999999-2222-3333-4444-555555555555' could not be "
                         "found."));

    got.replied = false;
    api_arm_sub_get(
        req(CF_HTTP_GET, "/x", "11111111-2222-3333-4444-555555555555", NULL, NULL, NULL));
    assert_int_equal(got.status, 200);
    assert_true(body_has("\"subscriptionId\":\"" SUB "\""));

    /* case-insensitive match, canonical id in the answer */
    got.replied = false;
    api_arm_group_get(
        req(CF_HTTP_GET, "/x", "11111111-2222-3333-4444-555555555555", "RG", NULL, NULL));
    assert_int_equal(got.status, 200);
    assert_true(body_has("\"id\":\"/subscriptions/" SUB "/resourceGroups/RG\""));

    got.replied = false;
    r = req(CF_HTTP_GET, "/x", SUB, "rg", NULL, NULL);
    snprintf(r->who.tenant_id, sizeof(r->who.tenant_id), "other-tenant");
    api_arm_group_get(r);
    assert_int_equal(got.status, 401);
    assert_true(body_has("InvalidAuthenticationTokenTenant"));

    got.replied = false;
    r = req(CF_HTTP_GET, "/subscriptions", NULL, NULL, NULL, NULL);
    snprintf(r->who.tenant_id, sizeof(r->who.tenant_id), "other-tenant");
    api_arm_sub_list(r);
    assert_int_equal(got.status, 200);
    assert_string_equal(got.body, "{\"value\":[],\"count\":{\"type\":\"Total\",\"value\":0}}");

    got.replied = false;
    api_arm_sub_list(req(CF_HTTP_GET, "/subscriptions", NULL, NULL, NULL, NULL));
    assert_string_equal(
        got.body, "{\"value\":[{\"id\":\"/subscriptions/" SUB "\",\"authorizationSource\":"
                  "\"RoleBased\",\"managedByTenants\":[],\"subscriptionId\":\"" SUB
                  "\",\"tenantId\":\"" TID "\",\"displayName\":\"Coffer\",\"state\":\"Enabled\","
                  "\"subscriptionPolicies\":{\"locationPlacementId\":\"Public_2014-09-01\","
                  "\"quotaId\":\"PayAsYouGo_2014-09-01\",\"spendingLimit\":\"Off\"}}],"
                  "\"count\":{\"type\":\"Total\",\"value\":1}}");
}

static void groups(void **state)
{
    (void)state;
    fv.group_exists = false;
    api_arm_group_get(req(CF_HTTP_HEAD, "/x", SUB, "rg", NULL, NULL));
    assert_int_equal(got.status, 404);
    assert_false(got.has_body);

    got.replied = false;
    api_arm_group_get(req(CF_HTTP_GET, "/x", SUB, "rg", NULL, NULL));
    assert_int_equal(got.status, 404);
    assert_true(body_has("\"code\":\"ResourceGroupNotFound\",\"message\":\"Resource group 'rg' "
                         "could not be found.\""));

    got.replied = false;
    api_arm_group_put(req(CF_HTTP_PUT, "/x", SUB, "rg", NULL, "{\"tags\":{}}"));
    assert_int_equal(got.status, 400);
    assert_true(body_has("LocationRequired"));

    got.replied = false;
    api_arm_group_put(req(CF_HTTP_PUT, "/x", SUB, "rg", NULL,
                          "{\"location\":\"East US\",\"tags\":{\"k\":\"v\"}}"));
    assert_int_equal(got.status, 201);
    assert_string_equal(got.body, "{\"id\":\"/subscriptions/" SUB "/resourceGroups/rg\",\"name\":"
                                  "\"rg\",\"type\":\"Microsoft.Resources/resourceGroups\","
                                  "\"location\":\"eastus\",\"tags\":{\"k\":\"v\"},\"properties\":"
                                  "{\"provisioningState\":\"Succeeded\"}}");

    got.replied = false;
    api_arm_group_put(req(CF_HTTP_PUT, "/x", SUB, "rg", NULL, "{\"location\":\"eastus\"}"));
    assert_int_equal(got.status, 200);

    got.replied = false;
    api_arm_group_put(req(CF_HTTP_PUT, "/x", SUB, "rg", NULL, "{\"location\":\"westus\"}"));
    assert_int_equal(got.status, 409);
    assert_true(body_has("InvalidResourceGroupLocation"));

    got.replied = false;
    api_arm_group_get(req(CF_HTTP_HEAD, "/x", SUB, "rg", NULL, NULL));
    assert_int_equal(got.status, 204);

    got.replied = false;
    api_arm_group_get(req(CF_HTTP_GET, "/x", SUB, "a b", NULL, NULL));
    assert_int_equal(got.status, 400);
    assert_true(body_has("InvalidResourceGroup"));
    assert_true(body_has("has these invalid characters: ' '"));

    got.replied = false;
    api_arm_group_list(req(CF_HTTP_GET, "/x", SUB, NULL, NULL, NULL));
    assert_int_equal(got.status, 200);
    assert_true(body_has("{\"value\":[{\"id\":\"/subscriptions/" SUB "/resourceGroups/rg\""));

    got.replied = false;
    api_arm_group_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", NULL, NULL));
    assert_int_equal(got.status, 200);
    got.replied = false;
    api_arm_group_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", NULL, NULL));
    assert_int_equal(got.status, 404);
}

#define PUT_BODY                                                                                   \
    "{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"" TID "\",\"sku\":{\"family\":\"A\"," \
    "\"name\":\"standard\"},\"enableRbacAuthorization\":true}}"

static void vault_put_statuses(void **state)
{
    (void)state;
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "rg", "kv1", PUT_BODY));
    assert_int_equal(got.status, 201);
    assert_true(fv.put_called);
    assert_string_equal(fv.put_in.name, "kv1");
    assert_string_equal(fv.put_in.subscription, SUB);
    assert_string_equal(fv.put_in.resource_group, "rg");
    assert_true(body_has("\"vaultUri\":\"https://kv1.vault.localhost:8443/\""));
    assert_true(body_has("\"lastModifiedAt\":\"2026-12-04T22:24:44Z\""));

    /* an existing vault: update, 200, canonical names kept */
    add_vault("KV1", "RG", false, false);
    got.replied = false;
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "rg", "kv1", PUT_BODY));
    assert_int_equal(got.status, 200);
    assert_string_equal(fv.put_in.name, "KV1");
    assert_string_equal(fv.put_in.resource_group, "RG");

    got.replied = false;
    fv.put_err = CF_EEXISTS;
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "rg", "kv9", PUT_BODY));
    assert_int_equal(got.status, 409);
    assert_true(body_has("\"code\":\"VaultAlreadyExists\",\"message\":\"The vault name 'kv9' is "
                         "already in use."));

    got.replied = false;
    fv.put_err = CF_EDELETED;
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "rg", "kv9", PUT_BODY));
    assert_int_equal(got.status, 409);
    assert_true(body_has("\"code\":\"ConflictError\",\"message\":\"A vault with the same name "
                         "already exists in deleted state."));

    got.replied = false;
    fv.put_err = CF_ENOTFOUND;
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "rg", "kv9",
                          "{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"" TID
                          "\",\"createMode\":\"recover\"}}"));
    assert_int_equal(got.status, 404);
    assert_int_equal(fv.put_mode, CF_VAULT_PUT_RECOVER);

    got.replied = false;
    fv.put_called = false;
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "rg", "9kv", PUT_BODY));
    assert_int_equal(got.status, 400);
    assert_true(body_has("\"code\":\"VaultNameNotValid\",\"message\":\"Vault name must be "
                         "between 3-24 alphanumeric characters."));
    assert_false(fv.put_called);
}

static void vault_patch_get_delete(void **state)
{
    (void)state;
    api_arm_vault_patch(req(CF_HTTP_PATCH, "/x", SUB, "rg", "kv1", "{\"tags\":{\"a\":\"b\"}}"));
    assert_int_equal(got.status, 404);
    assert_true(body_has("\"code\":\"ResourceNotFound\""));

    add_vault("kv1", "rg", false, false);
    got.replied = false;
    api_arm_vault_patch(req(CF_HTTP_PATCH, "/x", SUB, "rg", "kv1", "{\"tags\":{\"a\":\"b\"}}"));
    assert_int_equal(got.status, 200);
    assert_string_equal(fv.put_in.tags_json, "{\"a\":\"b\"}");
    assert_int_equal(fv.put_mode, CF_VAULT_PUT_DEFAULT);

    /* GET in a missing group / of a missing vault / of an invalid name */
    got.replied = false;
    fv.group_exists = false;
    api_arm_vault_get(req(CF_HTTP_GET, "/x", SUB, "nogroup", "kv2", NULL));
    assert_int_equal(got.status, 404);
    assert_true(body_has("ResourceGroupNotFound"));
    fv.group_exists = true;
    got.replied = false;
    api_arm_vault_get(req(CF_HTTP_GET, "/x", SUB, "rg", "kv2", NULL));
    assert_int_equal(got.status, 404);
    assert_true(body_has("The Resource 'Microsoft.KeyVault/vaults/kv2' under resource group 'rg' "
                         "was not found."));
    got.replied = false;
    api_arm_vault_get(req(CF_HTTP_GET, "/x", SUB, "rg", "x", NULL));
    assert_int_equal(got.status, 404);

    got.replied = false;
    api_arm_vault_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", "kv1", NULL));
    assert_int_equal(got.status, 200);
    assert_false(got.has_body);
    assert_string_equal(fv.deleted, "kv1");
    got.replied = false;
    api_arm_vault_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", "kv2", NULL));
    assert_int_equal(got.status, 204);
}

/* ---------------- access policies ---------------- */

static void policy_names_normalised(void **state)
{
    struct cf_vault v;
    enum cf_vault_put_mode m;
    struct arm_fail f;
    (void)state;

    /* case-insensitive names, ARM's casing and order, duplicates dropped, applicationId kept,
     * null applicationId and unknown members dropped */
    assert_true(parse_body(
        "{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"accessPolicies\":["
        "{\"tenantId\":\"t\",\"objectId\":\"o\",\"applicationId\":null,\"extra\":1,"
        "\"permissions\":{\"keys\":[\"GetRotationPolicy\",\"WRAPKEY\",\"get\",\"Get\"],"
        "\"secrets\":[\"List\",\"get\"],\"certificates\":[],\"storage\":null}},"
        "{\"tenantId\":\"t\",\"objectId\":\"o2\",\"applicationId\":\"a\","
        "\"permissions\":{\"secrets\":[\"All\"]}}]}}",
        NULL, false, false, &v, &m, &f));
    assert_string_equal(
        v.access_policies_json,
        "[{\"tenantId\":\"t\",\"objectId\":\"o\",\"permissions\":{\"keys\":[\"wrapKey\","
        "\"get\",\"getrotationpolicy\"],\"secrets\":[\"get\",\"list\"],\"certificates\":[]}},"
        "{\"tenantId\":\"t\",\"objectId\":\"o2\",\"applicationId\":\"a\",\"permissions\":"
        "{\"secrets\":[\"all\"]}}]");
    vault_in_release(&v);

    /* an unknown permission name, a number, a permission of another kind */
    static const char *const bad[] = {
        "{\"secrets\":[\"read\"]}", "{\"secrets\":[1]}", "{\"secrets\":[\"wrapKey\"]}",
        "{\"keys\":\"get\"}"};
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"accessPolicies\":["
                 "{\"tenantId\":\"t\",\"objectId\":\"o\",\"permissions\":%s}]}}",
                 bad[i]);
        assert_false(parse_body(body, NULL, false, false, &v, &m, &f));
        assert_int_equal(f.status, 400);
        vault_in_release(&v);
    }
    assert_false(parse_body("{\"location\":\"eastus\",\"properties\":{" MIN_PROPS
                            ",\"accessPolicies\":[{\"tenantId\":\"t\",\"objectId\":\"\","
                            "\"permissions\":{}}]}}",
                            NULL, false, false, &v, &m, &f));
    vault_in_release(&v);
}

static struct api_req *policy_req(const char *kind, const char *body)
{
    struct api_req *r = req(CF_HTTP_PUT, "/x", SUB, "rg", "kv1", body);
    r->cap[r->ncap++] = cf_str_from(kind);
    return r;
}

#define POL(oid, perms)                                                                            \
    "{\"tenantId\":\"" TID "\",\"objectId\":\"" oid "\",\"permissions\":" perms "}"

static void policy_incremental(void **state)
{
    (void)state;
    add_vault("kv1", "rg", false, false);
    fv.vaults[0].rbac = false;
    fv.vaults[0].access_policies_json =
        (char *)"[" POL("o1", "{\"secrets\":[\"get\"],\"keys\":[\"list\"]}") "]";

    /* add: merges into the matching entry (another spelling of the ids), appends a new one */
    api_arm_vault_policy(policy_req(
        "Add", "{\"properties\":{\"accessPolicies\":[{\"tenantId\":\"" TID "\",\"objectId\":"
               "\"O1\",\"permissions\":{\"secrets\":[\"Set\",\"get\"]}}," POL(
                   "o2", "{\"secrets\":[\"list\"]}") "]}}"));
    assert_int_equal(got.status, 200);
    assert_string_equal(fv.put_in.access_policies_json,
                        "[" POL("o1", "{\"keys\":[\"list\"],\"secrets\":[\"get\",\"set\"]}")
                        "," POL("o2", "{\"secrets\":[\"list\"]}") "]");
    assert_true(body_has("\"id\":\"/subscriptions/" SUB "/resourceGroups/rg/providers/"
                         "Microsoft.KeyVault/vaults/kv1/accessPolicies/add\""));
    assert_true(body_has("\"type\":\"Microsoft.KeyVault/vaults/accessPolicies\""));
    assert_true(body_has("\"properties\":{\"accessPolicies\":[{"));
    assert_int_equal(fv.put_mode, CF_VAULT_PUT_DEFAULT);
    assert_false(fv.put_in.rbac);

    /* replace: the given lists become the entry's permissions */
    got.replied = false;
    api_arm_vault_policy(policy_req(
        "REPLACE", "{\"properties\":{\"accessPolicies\":[" POL("o1", "{\"certificates\":[\"get\"]}")
                   "]}}"));
    assert_int_equal(got.status, 200);
    assert_string_equal(fv.put_in.access_policies_json,
                        "[" POL("o1", "{\"certificates\":[\"get\"]}") "]");

    /* remove: strips permissions; an entry left with none goes; no match is no change */
    got.replied = false;
    api_arm_vault_policy(policy_req(
        "remove", "{\"properties\":{\"accessPolicies\":[" POL("o1", "{\"keys\":[\"list\"]}")
                  "," POL("nobody", "{\"keys\":[\"list\"]}") "]}}"));
    assert_int_equal(got.status, 200);
    assert_string_equal(fv.put_in.access_policies_json,
                        "[" POL("o1", "{\"keys\":[],\"secrets\":[\"get\"]}") "]");
    got.replied = false;
    api_arm_vault_policy(policy_req(
        "remove", "{\"properties\":{\"accessPolicies\":[" POL("o1", "{\"secrets\":[\"get\","
                                                                    "\"list\"],\"keys\":"
                                                                    "[\"list\"]}") "]}}"));
    assert_int_equal(got.status, 200);
    assert_string_equal(fv.put_in.access_policies_json, "[]");
    assert_true(body_has("\"accessPolicies\":[]"));

    /* refusals: kind, api-version, body, names, missing vault */
    got.replied = false;
    api_arm_vault_policy(policy_req("merge", "{\"properties\":{\"accessPolicies\":[]}}"));
    assert_int_equal(got.status, 400);
    got.replied = false;
    {
        struct api_req *r = policy_req("add", "{\"properties\":{\"accessPolicies\":[]}}");
        snprintf(r->api_version, sizeof(r->api_version), "2018-02-14");
        api_arm_vault_policy(r);
    }
    assert_int_equal(got.status, 400);
    assert_true(body_has("InvalidApiVersionParameter"));
    got.replied = false;
    api_arm_vault_policy(policy_req("add", "{\"properties\":{}}"));
    assert_int_equal(got.status, 400);
    got.replied = false;
    api_arm_vault_policy(policy_req(
        "add", "{\"properties\":{\"accessPolicies\":[" POL("o1", "{\"secrets\":[\"peek\"]}") "]}}"));
    assert_int_equal(got.status, 400);
    assert_true(body_has("Invalid value found at accessPolicies[0].permissions.secrets[0]: "
                         "'peek'"));
    got.replied = false;
    {
        struct api_req *r = req(CF_HTTP_PUT, "/x", SUB, "rg", "kv9", "{\"properties\":"
                                                                    "{\"accessPolicies\":[]}}");
        r->cap[r->ncap++] = cf_str_from("add");
        api_arm_vault_policy(r);
    }
    assert_int_equal(got.status, 404);
    fv.vaults[0].access_policies_json = NULL;
}

/* ---------------- locks ---------------- */

#define GRP_SCOPE "/subscriptions/" SUB "/resourcegroups/rg"
#define KV1_SCOPE GRP_SCOPE "/providers/microsoft.keyvault/vaults/kv1"

static void expect_locked(const char *op, const char *target, const char *locked)
{
    char want[900];
    assert_int_equal(got.status, 409);
    assert_true(body_has("\"code\":\"ScopeLocked\""));
    snprintf(want, sizeof(want),
             "The scope '%s' cannot perform %s operation because following scope(s) are "
             "locked: '%s'. Please remove the lock and try again.",
             target, op, locked);
    if (!body_has(want))
        fail_msg("got %s, wanted %s", got.body, want);
    got.replied = false;
}

#define T_KV1 "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
#define T_RG "/subscriptions/" SUB "/resourceGroups/rg"
#define LOCK_PUT_BODY "{\"location\":\"eastus\",\"properties\":{" MIN_PROPS ",\"accessPolicies\":[]}}"

static void locks_read_only(void **state)
{
    (void)state;
    add_vault("kv1", "rg", false, false);
    add_vault("gone", "rg", true, false);
    flk.level = CF_LOCK_READ_ONLY;
    snprintf(flk.scope, sizeof(flk.scope), GRP_SCOPE);

    /* every write and delete of the vault resource and the group is refused */
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "rg", "kv1", LOCK_PUT_BODY));
    expect_locked("write", T_KV1, T_RG);
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "RG", "newvault", LOCK_PUT_BODY));
    assert_int_equal(got.status, 409); /* nothing new in a ReadOnly group */
    got.replied = false;
    api_arm_vault_patch(req(CF_HTTP_PATCH, "/x", SUB, "rg", "kv1", "{\"tags\":{}}"));
    expect_locked("write", T_KV1, T_RG);
    api_arm_vault_policy(policy_req("add", "{\"properties\":{\"accessPolicies\":[]}}"));
    expect_locked("write", T_KV1, T_RG);
    api_arm_vault_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", "kv1", NULL));
    expect_locked("delete", T_KV1, T_RG);
    api_arm_deleted_purge(req(CF_HTTP_POST, "/x", SUB, "eastus", "gone", NULL));
    assert_int_equal(got.status, 409);
    got.replied = false;
    api_arm_group_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", NULL, NULL));
    expect_locked("delete", T_RG, T_RG);
    api_arm_group_put(req(CF_HTTP_PUT, "/x", SUB, "rg", NULL, "{\"location\":\"eastus\"}"));
    expect_locked("write", T_RG, T_RG);
    assert_false(fv.put_called);
    assert_string_equal(fv.deleted, "");
    assert_string_equal(fv.purged, "");
    assert_true(fv.group_exists);

    /* reads go on; other groups are not covered */
    api_arm_vault_get(req(CF_HTTP_GET, "/x", SUB, "rg", "kv1", NULL));
    assert_int_equal(got.status, 200);
    got.replied = false;
    api_arm_vault_put(req(CF_HTTP_PUT, "/x", SUB, "other", "kv7", LOCK_PUT_BODY));
    assert_int_equal(got.status, 201);
    got.replied = false;

    /* a store failure refuses rather than letting the write through */
    flk.fail = true;
    api_arm_vault_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", "kv1", NULL));
    assert_int_equal(got.status, 500);
    assert_string_equal(fv.deleted, "");
}

static void locks_can_not_delete(void **state)
{
    (void)state;
    add_vault("kv1", "rg", false, false);
    add_vault("kv2", "rg", false, false);
    add_vault("gone", "rg", true, false);
    flk.level = CF_LOCK_CAN_NOT_DELETE;
    snprintf(flk.scope, sizeof(flk.scope), KV1_SCOPE);

    /* updates and policy changes pass, deletion does not */
    api_arm_vault_patch(req(CF_HTTP_PATCH, "/x", SUB, "rg", "kv1", "{\"tags\":{\"a\":\"b\"}}"));
    assert_int_equal(got.status, 200);
    got.replied = false;
    api_arm_vault_policy(policy_req("add", "{\"properties\":{\"accessPolicies\":[]}}"));
    assert_int_equal(got.status, 200);
    got.replied = false;
    api_arm_vault_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", "KV1", NULL));
    expect_locked("delete",
                  "/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/KV1",
                  T_KV1);
    /* the group holding a locked vault cannot go either; its other vaults can */
    api_arm_group_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", NULL, NULL));
    expect_locked("delete", T_RG, T_KV1);
    api_arm_group_put(req(CF_HTTP_PUT, "/x", SUB, "rg", NULL, "{\"location\":\"eastus\"}"));
    assert_int_equal(got.status, 200);
    got.replied = false;
    api_arm_vault_delete(req(CF_HTTP_DELETE, "/x", SUB, "rg", "kv2", NULL));
    assert_int_equal(got.status, 200);
    got.replied = false;
    api_arm_deleted_purge(req(CF_HTTP_POST, "/x", SUB, "eastus", "gone", NULL));
    assert_int_equal(got.status, 200);
    assert_string_equal(fv.purged, "gone");
}

static void check_name(void **state)
{
    (void)state;
    add_vault("taken", "rg", false, false);
    add_vault("gone", "rg", true, false);
    api_arm_check_name(req(CF_HTTP_POST, "/x", SUB, NULL, NULL,
                           "{\"name\":\"free-one\",\"type\":\"Microsoft.KeyVault/vaults\"}"));
    assert_int_equal(got.status, 200);
    assert_string_equal(got.body, "{\"nameAvailable\":true}");

    got.replied = false;
    api_arm_check_name(req(CF_HTTP_POST, "/x", SUB, NULL, NULL,
                           "{\"name\":\"TAKEN\",\"type\":\"Microsoft.KeyVault/vaults\"}"));
    assert_true(body_has("{\"nameAvailable\":false,\"reason\":\"AlreadyExists\",\"message\":"
                         "\"The vault name 'TAKEN' is already in use."));

    got.replied = false;
    api_arm_check_name(req(CF_HTTP_POST, "/x", SUB, NULL, NULL,
                           "{\"name\":\"gone\",\"type\":\"Microsoft.KeyVault/vaults\"}"));
    assert_true(body_has("\"reason\":\"AlreadyExists\""));

    got.replied = false;
    api_arm_check_name(req(CF_HTTP_POST, "/x", SUB, NULL, NULL,
                           "{\"name\":\"a--b\",\"type\":\"Microsoft.KeyVault/vaults\"}"));
    assert_true(body_has("\"reason\":\"AccountNameInvalid\""));

    got.replied = false;
    api_arm_check_name(req(CF_HTTP_POST, "/x", SUB, NULL, NULL,
                           "{\"name\":\"abc\",\"type\":\"Microsoft.Storage/x\"}"));
    assert_int_equal(got.status, 400);
}

static void metadata(void **state)
{
    (void)state;
    struct api_req *r = req(CF_HTTP_GET, "/metadata/endpoints", NULL, NULL, NULL, NULL);
    snprintf(r->api_version, sizeof(r->api_version), "2015-01-01");
    api_arm_metadata(r);
    assert_int_equal(got.status, 200);
    assert_string_equal(got.body,
                        "{\"galleryEndpoint\":\"https://gallery.localhost/\",\"graphEndpoint\":"
                        "\"https://graph.localhost/\",\"portalEndpoint\":\"https://portal."
                        "localhost/\",\"authentication\":{\"loginEndpoint\":\"https://login."
                        "localhost:8443/adfs\",\"audiences\":[\"https://management.localhost/\","
                        "\"https://management.localhost:8443/\"]}}");

    got.replied = false;
    r = req(CF_HTTP_GET, "/metadata/endpoints", NULL, NULL, NULL, NULL);
    snprintf(r->api_version, sizeof(r->api_version), "2022-09-01");
    api_arm_metadata(r);
    assert_int_equal(got.status, 200);
    assert_true(body_has("[{\"name\":\"Coffer\","));
    assert_true(body_has("\"resourceManager\":\"https://management.localhost:8443/\""));
    assert_true(body_has("\"suffixes\":{\"keyVaultDns\":\"vault.localhost:8443\"}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(body_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(body_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(body_update_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(vault_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_shape_and_location, setup, teardown),
        cmocka_unit_test_setup_teardown(filters, setup, teardown),
        cmocka_unit_test_setup_teardown(resources_list, setup, teardown),
        cmocka_unit_test_setup_teardown(paging, setup, teardown),
        cmocka_unit_test_setup_teardown(subscription_and_tenant_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(groups, setup, teardown),
        cmocka_unit_test_setup_teardown(vault_put_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(vault_patch_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(check_name, setup, teardown),
        cmocka_unit_test_setup_teardown(policy_names_normalised, setup, teardown),
        cmocka_unit_test_setup_teardown(policy_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(locks_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(locks_can_not_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(metadata, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

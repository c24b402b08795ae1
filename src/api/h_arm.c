/* h_arm.c - the management plane (ARM): the one subscription, resource groups, and
 * Microsoft.KeyVault/vaults resources (azure-kv-secrets.md §15, clients.md §1.5-§1.6).
 *
 * Map:
 *   arm_enter               caller's tenant and the {sub} segment (404 SubscriptionNotFound)
 *   page_*                  $top/$skiptoken paging shared by every list ({"value"},"nextLink")
 *   write_group, write_vault, write_deleted, write_generic   the ARM JSON shapes
 *   vault_from_json         PUT/PATCH body -> struct cf_vault (validation, defaults, merge
 *                           with the existing vault on update)
 *   parse_filter            the legacy /resources $filter ("resourceType eq '...' and name eq")
 *   handlers                metadata, subscriptions, groups, vaults, deleted vaults, name check
 *
 * Rules kept here: the subscription in a path must be the server's (case-insensitively); ids
 * carry the canonical spellings (the server's subscription, names as first created); ARM
 * timestamps are ISO-8601; writes answer in one round trip (terminal provisioningState, no
 * async headers). Vault and group semantics (name uniqueness, soft delete, recover, purge) are
 * vault/'s; this file only validates input and shapes output. */
#include "base/cf.h"
#include "api/internal.h"
#include "auth/rbac.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/log.h"

#define KV_TYPE "Microsoft.KeyVault/vaults"
#define PROVIDER "/providers/Microsoft.KeyVault"
#define MAX_TAGS 50
#define MAX_TAG_NAME 512
#define MAX_TAG_VALUE 256
#define MAX_POLICIES 1024
#define LIST_MAX 100000
/* Page size when the client gives no $top: keeps a list response well inside the response
 * buffer (a vault is ~1 KB of JSON) however many vaults exist; clients follow nextLink. */
#define LIST_DEFAULT_PAGE 200

#define MSG_VAULT_NAME                                                                             \
    "Vault name must be between 3-24 alphanumeric characters. The name must begin with a "         \
    "letter, end with a letter or digit, and not contain consecutive hyphens."
#define MSG_ALREADY_EXISTS                                                                         \
    "The vault name '%s' is already in use. Vault names are globally unique so it is possible "    \
    "that the name is already taken. If you are sure that the vault name was not taken then it "   \
    "is possible that a vault with the same name was recently deleted but not purged after "       \
    "being placed in a recoverable state. If the vault is in a recoverable state then the vault "  \
    "will need to be purged before reusing the name. For more information about "                  \
    "VaultAlreadyExists, soft delete and purging a vault follow this link "                        \
    "https://go.microsoft.com/fwlink/?linkid=2147740."
#define MSG_DELETED_CONFLICT                                                                       \
    "A vault with the same name already exists in deleted state. You need to either recover or "   \
    "purge existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 "  \
    "for more information on soft delete."

/* A validation failure: what to answer. */
struct arm_fail {
    int status;
    const char *code;
    char msg[600];
};

static bool fail(struct arm_fail *f, int status, const char *code, const char *fmt, ...)
    CF_PRINTF(4, 5);

static bool fail(struct arm_fail *f, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    f->status = status;
    f->code = code;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
    return false;
}

static void reply_fail(struct api_req *r, const struct arm_fail *f)
{
    api_error(r, f->status, f->code, NULL, "%s", f->msg);
}

static bool copy_str(struct cf_str s, char *out, size_t n)
{
    if (!s.p || s.len >= n || memchr(s.p, '\0', s.len))
        return false;
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

/* ---------------------------------------------------------------- request prologue */

/* The subscription-scoped routes: the caller's token must come from the server's tenant, and
 * the {sub} segment (cap[0]) must name the server's subscription. Replies on failure. */
static bool arm_enter(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    struct cf_str sub = r->ncap > 0 ? r->cap[0] : CF_STR("");

    if (!c->tenant_id || strcasecmp(r->who.tenant_id, c->tenant_id) != 0) {
        api_error(r, 401, "InvalidAuthenticationTokenTenant", NULL,
                  "The access token is from the wrong issuer. It must match the tenant '%s' "
                  "associated with this subscription.",
                  c->tenant_id ? c->tenant_id : "");
        return false;
    }
    if (!c->subscription_id || !cf_str_eq_ci(sub, cf_str_from(c->subscription_id))) {
        api_error(r, 404, "SubscriptionNotFound", NULL,
                  "The subscription '%.*s' could not be found.", (int)CF_MIN(sub.len, 64),
                  sub.p ? sub.p : "");
        return false;
    }
    return true;
}

/* The characters of a resource group name that are not allowed, for the message. */
static bool group_name_ok(struct cf_str s, char out[91], struct arm_fail *f)
{
    char bad[32];
    size_t nb = 0;

    if (cf_name_valid_group(s) && copy_str(s, out, 91))
        return true;
    for (size_t i = 0; i < s.len && nb + 1 < sizeof(bad); i++) {
        char c = s.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '(' || c == ')';
        if (!ok && (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            bad[nb++] = c;
    }
    bad[nb] = '\0';
    if (nb)
        return fail(f, 400, "InvalidResourceGroup",
                    "The provided resource group name '%.*s' has these invalid characters: "
                    "'%s'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.",
                    (int)CF_MIN(s.len, 100), s.p, bad);
    return fail(f, 400, "InvalidResourceGroup",
                "The provided resource group name '%.*s' is not valid. It must be 1-90 "
                "characters long and cannot end in a period.",
                (int)CF_MIN(s.len, 100), s.p);
}

static void rg_not_found(struct api_req *r, const char *rg)
{
    api_error(r, 404, "ResourceGroupNotFound", NULL, "Resource group '%s' could not be found.", rg);
}

/* After a vault lookup missed: 404 ResourceGroupNotFound when the group is missing too,
 * ResourceNotFound otherwise. */
static void vault_not_found(struct api_req *r, const char *rg, struct cf_str name)
{
    struct cf_group g;
    cf_err e;

    memset(&g, 0, sizeof(g));
    e = cf_group_get(r->api->cfg.vault, r->api->cfg.subscription_id, rg, &g);
    cf_group_release(&g);
    if (e == CF_ENOTFOUND) {
        rg_not_found(r, rg);
        return;
    }
    api_error(r, 404, "ResourceNotFound", NULL,
              "The Resource 'Microsoft.KeyVault/vaults/%.*s' under resource group '%s' was not "
              "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
              (int)CF_MIN(name.len, 64), name.p, rg);
}

/* Location as ARM keeps it: lower case, spaces removed ("East US" -> "eastus"). */
static bool normalize_location(const char *in, size_t n, char out[64])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == ' ')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') || k + 1 >= 64)
            return false;
        out[k++] = c;
    }
    out[k] = '\0';
    return k > 0;
}

/* ---------------------------------------------------------------- paging */

struct page {
    struct cf_jw *w;
    int64_t skip, top; /* $top, or LIST_DEFAULT_PAGE */
    int64_t seen, written;
    bool more;
};

/* Reads $top and $skiptoken. Replies 400 and returns false when malformed. */
static bool page_init(struct api_req *r, struct page *p, struct cf_jw *w)
{
    struct cf_str top = api_query(r, "$top"), skip = api_query(r, "$skiptoken");

    memset(p, 0, sizeof(*p));
    p->w = w;
    p->top = LIST_DEFAULT_PAGE;
    if (top.p && top.len && (!cf_str_to_i64(top, &p->top) || p->top < 1 || p->top > LIST_MAX)) {
        api_error(r, 400, "InvalidParameter", NULL,
                  "The value of the query parameter '$top' is not valid.");
        return false;
    }
    if (skip.p && skip.len && (!cf_str_to_i64(skip, &p->skip) || p->skip < 0)) {
        api_error(r, 400, "InvalidParameter", NULL,
                  "The value of the query parameter '$skiptoken' is not valid.");
        return false;
    }
    cf_jw_obj_begin(w);
    cf_jw_key(w, "value");
    cf_jw_arr_begin(w);
    return true;
}

/* True when the next item belongs on this page (call once per candidate item). */
static bool page_take(struct page *p)
{
    if (p->seen++ < p->skip)
        return false;
    if (p->top >= 0 && p->written >= p->top) {
        p->more = true;
        return false;
    }
    p->written++;
    return true;
}

/* Closes the array and adds nextLink (same URL, next $skiptoken) when more items follow. */
static cf_err page_end(struct api_req *r, struct page *p)
{
    cf_jw_arr_end(p->w);
    if (p->more) {
        struct cf_buf u;
        struct cf_str filter = api_query(r, "$filter");
        cf_err e;

        cf_buf_init(&u, 4096);
        e = api_base_url(r, &u);
        if (!e)
            e = cf_buf_append_str(&u, r->http->path);
        if (!e)
            e = cf_buf_printf(&u, "?api-version=%s&$top=%lld&$skiptoken=%lld", r->api_version,
                              (long long)p->top, (long long)(p->skip + p->written));
        if (!e && filter.p) {
            e = cf_buf_puts(&u, "&$filter=");
            if (!e)
                e = cf_pct_encode(&u, filter);
        }
        if (!e)
            cf_jw_kstr(p->w, "nextLink", u.data);
        cf_buf_release(&u);
        if (e)
            return e;
    }
    cf_jw_obj_end(p->w);
    return cf_jw_err(p->w);
}

/* Ends a list filled by the caller (e: how the filling went): the page, or the error. */
static void reply_list(struct api_req *r, struct page *p, cf_err e)
{
    if (!e)
        e = page_end(r, p);
    if (e) {
        api_error_err(r, e); /* discards the partial list */
        return;
    }
    api_reply(r, 200);
}

/* ---------------------------------------------------------------- shapes */

static void write_tags(struct cf_jw *w, const char *tags_json)
{
    cf_jw_key(w, "tags");
    if (tags_json && tags_json[0])
        cf_jw_raw(w, tags_json, strlen(tags_json));
    else
        cf_jw_raw(w, "{}", 2);
}

static void write_group(struct cf_jw *w, const struct cf_group *g, const char *sub)
{
    char id[200];

    snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s", sub, g->name);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", g->name);
    cf_jw_kstr(w, "type", "Microsoft.Resources/resourceGroups");
    cf_jw_kstr(w, "location", g->location);
    write_tags(w, g->tags_json);
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "provisioningState", "Succeeded");
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

/* What a vault's JSON needs besides the vault: where its data plane is, and who is asking. */
struct vault_view {
    const char *sub;        /* canonical subscription id */
    const char *dns_suffix; /* "vault.localhost" */
    struct cf_str port;     /* ":8443" or "" */
    const char *who;        /* the caller's client id (systemData) */
};

static void vault_id(char *out, size_t n, const char *sub, const struct cf_vault *v)
{
    snprintf(out, n, "/subscriptions/%s/resourceGroups/%s" PROVIDER "/vaults/%s", sub,
             v->resource_group, v->name);
}

static void write_vault(struct cf_jw *w, const struct cf_vault *v, const struct vault_view *vw)
{
    char id[256], ts[32], uri[256], lname[25];

    vault_id(id, sizeof(id), vw->sub, v);
    cf_str_lower(cf_str_from(v->name), lname);
    snprintf(uri, sizeof(uri), "https://%s.%s%.*s/", lname, vw->dns_suffix, CF_STR_FMT(vw->port));
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", v->name);
    cf_jw_kstr(w, "type", KV_TYPE);
    cf_jw_kstr(w, "location", v->location);
    write_tags(w, v->tags_json);
    cf_jw_key(w, "systemData");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "createdBy", vw->who);
    cf_jw_kstr(w, "createdByType", "Application");
    cf_time_iso8601(v->created, ts);
    cf_jw_kstr(w, "createdAt", ts);
    cf_jw_kstr(w, "lastModifiedBy", vw->who);
    cf_jw_kstr(w, "lastModifiedByType", "Application");
    cf_time_iso8601(v->updated ? v->updated : v->created, ts);
    cf_jw_kstr(w, "lastModifiedAt", ts);
    cf_jw_obj_end(w);
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_key(w, "sku");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "family", "A");
    cf_jw_kstr(w, "name", v->sku[0] ? v->sku : "standard");
    cf_jw_obj_end(w);
    cf_jw_kstr(w, "tenantId", v->tenant_id);
    cf_jw_key(w, "accessPolicies");
    if (v->access_policies_json && v->access_policies_json[0])
        cf_jw_raw(w, v->access_policies_json, strlen(v->access_policies_json));
    else
        cf_jw_raw(w, "[]", 2);
    cf_jw_kbool(w, "enabledForDeployment", v->for_deployment);
    cf_jw_kbool(w, "enabledForDiskEncryption", v->for_disk_encryption);
    cf_jw_kbool(w, "enabledForTemplateDeployment", v->for_template_deployment);
    cf_jw_kbool(w, "enableSoftDelete", true);
    cf_jw_kint(w, "softDeleteRetentionInDays", v->retention_days ? v->retention_days : 90);
    cf_jw_kbool(w, "enableRbacAuthorization", v->rbac);
    if (v->purge_protection)
        cf_jw_kbool(w, "enablePurgeProtection", true);
    if (v->network_acls_json && v->network_acls_json[0]) {
        cf_jw_key(w, "networkAcls");
        cf_jw_raw(w, v->network_acls_json, strlen(v->network_acls_json));
    }
    cf_jw_kstr(w, "vaultUri", uri);
    cf_jw_kstr(w, "provisioningState", "Succeeded");
    cf_jw_kstr(w, "publicNetworkAccess",
               v->public_network_access[0] ? v->public_network_access : "Enabled");
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

static void write_deleted(struct cf_jw *w, const struct cf_vault *v, const char *sub)
{
    char id[256], vid[256], ts[32];

    snprintf(id, sizeof(id), "/subscriptions/%s" PROVIDER "/locations/%s/deletedVaults/%s", sub,
             v->location, v->name);
    vault_id(vid, sizeof(vid), sub, v);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", v->name);
    cf_jw_kstr(w, "type", "Microsoft.KeyVault/deletedVaults");
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "vaultId", vid);
    cf_jw_kstr(w, "location", v->location);
    write_tags(w, v->tags_json);
    cf_time_iso8601(v->deleted_date, ts);
    cf_jw_kstr(w, "deletionDate", ts);
    cf_time_iso8601(v->scheduled_purge, ts);
    cf_jw_kstr(w, "scheduledPurgeDate", ts);
    cf_jw_kbool(w, "purgeProtectionEnabled", v->purge_protection);
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

/* The generic resource of GET /subscriptions/{sub}/resources. */
static void write_generic(struct cf_jw *w, const struct cf_vault *v, const char *sub)
{
    char id[256];

    vault_id(id, sizeof(id), sub, v);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", v->name);
    cf_jw_kstr(w, "type", KV_TYPE);
    cf_jw_kstr(w, "location", v->location);
    write_tags(w, v->tags_json);
    cf_jw_obj_end(w);
}

static void view_init(const struct api_req *r, struct vault_view *vw)
{
    vw->sub = r->api->cfg.subscription_id;
    vw->dns_suffix = r->api->cfg.dns_suffix;
    vw->port = r->port;
    vw->who = r->who.client_id;
}

/* ---------------------------------------------------------------- body -> vault */

/* Tags: an object of at most MAX_TAGS string values; dumped compactly into *out (malloc'd).
 * null means {}. */
static bool parse_tags(const struct cf_json *j, char **out, struct arm_fail *f)
{
    struct cf_buf b;
    void *it = NULL;
    const char *k;
    const struct cf_json *v;

    if (cf_json_type(j) == CF_JSON_NULL) {
        free(*out);
        *out = cf_str_dup(CF_STR("{}"));
        return *out ? true : fail(f, 503, "ServiceUnavailable", "Out of memory.");
    }
    if (cf_json_type(j) != CF_JSON_OBJECT)
        return fail(f, 400, "InvalidRequestContent", "The value of 'tags' must be an object.");
    if (cf_json_size(j) > MAX_TAGS)
        return fail(f, 400, "InvalidTagCount", "The number of tags must not exceed %d.", MAX_TAGS);
    while (cf_json_next(j, &it, &k, &v)) {
        size_t vl;
        if (strlen(k) == 0 || strlen(k) > MAX_TAG_NAME)
            return fail(f, 400, "InvalidTagNameLength",
                        "The tag names must be 1-%d characters long.", MAX_TAG_NAME);
        if (!cf_json_str(v, &vl))
            return fail(f, 400, "InvalidRequestContent",
                        "The value of tag '%.64s' must be a string.", k);
        if (vl > MAX_TAG_VALUE)
            return fail(f, 400, "InvalidTagValueLength",
                        "The tag values must not exceed %d characters.", MAX_TAG_VALUE);
    }
    cf_buf_init(&b, CF_MAX_BODY_BYTES);
    if (cf_json_dump(j, &b) != CF_OK) {
        cf_buf_release(&b);
        return fail(f, 400, "InvalidRequestContent", "The tags could not be read.");
    }
    free(*out);
    *out = cf_buf_detach(&b, NULL);
    return *out ? true : fail(f, 503, "ServiceUnavailable", "Out of memory.");
}

/* ---- access policies (azure-kv-security-ops.md §3) ----
 * An entry's permissions are kept as one bit set per kind, bit i = pol_perms[kind][i]: that
 * validates names (case-insensitively), de-duplicates, and writes them back in the ARM enum's
 * casing and order; merges of the incremental route are then set operations. */

enum { PK_KEYS, PK_SECRETS, PK_CERTIFICATES, PK_STORAGE, PK_N };

static const char *const pol_kinds[PK_N] = {"keys", "secrets", "certificates", "storage"};

/* §3.2, "all" first. */
static const char *const pol_perms[PK_N][24] = {
    [PK_KEYS] = {"all", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get",
                 "list", "create", "update", "import", "delete", "backup", "restore", "recover",
                 "purge", "release", "rotate", "getrotationpolicy", "setrotationpolicy", NULL},
    [PK_SECRETS] = {"all", "get", "list", "set", "delete", "backup", "restore", "recover",
                    "purge", NULL},
    [PK_CERTIFICATES] = {"all", "get", "list", "delete", "create", "import", "update",
                         "managecontacts", "getissuers", "listissuers", "setissuers",
                         "deleteissuers", "manageissuers", "recover", "purge", "backup",
                         "restore", NULL},
    [PK_STORAGE] = {"all", "get", "list", "delete", "set", "update", "regeneratekey", "recover",
                    "purge", "backup", "restore", "setsas", "listsas", "getsas", "deletesas",
                    NULL},
};

struct pol {
    const char *tenant, *object, *app; /* borrowed from the parsed JSON; app NULL: none */
    uint32_t perms[PK_N];
    bool given[PK_N]; /* the list was present (possibly empty) */
};

/* Parses an accessPolicies array into pols[MAX_POLICIES] (*n entries). strict: unknown
 * permission names are refused (a request); otherwise skipped (what is already stored). */
static bool pol_parse(const struct cf_json *j, bool strict, struct pol *pols, size_t *n,
                      struct arm_fail *f)
{
    *n = 0;
    if (cf_json_type(j) != CF_JSON_ARRAY)
        return fail(f, 400, "BadRequest", "The property 'accessPolicies' must be an array.");
    if (cf_json_size(j) > MAX_POLICIES)
        return fail(f, 400, "BadRequest", "A vault can have at most %d access policies.",
                    MAX_POLICIES);
    for (size_t i = 0; i < cf_json_size(j); i++) {
        const struct cf_json *p = cf_json_at(j, i), *perm = cf_json_get(p, "permissions");
        const struct cf_json *app = cf_json_get(p, "applicationId");
        struct pol *o = &pols[i];

        memset(o, 0, sizeof(*o));
        o->tenant = cf_json_str(cf_json_get(p, "tenantId"), NULL);
        o->object = cf_json_str(cf_json_get(p, "objectId"), NULL);
        if (cf_json_type(p) != CF_JSON_OBJECT || !o->tenant || !o->tenant[0] || !o->object ||
            !o->object[0] || cf_json_type(perm) != CF_JSON_OBJECT ||
            (app && cf_json_type(app) != CF_JSON_NULL && !cf_json_str(app, NULL)))
            return fail(f, 400, "BadRequest",
                        "Access policy %zu is not valid: it needs 'tenantId', 'objectId' and "
                        "'permissions'.",
                        i);
        o->app = cf_json_str(app, NULL);
        if (o->app && !o->app[0])
            o->app = NULL;
        for (int k = 0; k < PK_N; k++) {
            const struct cf_json *l = cf_json_get(perm, pol_kinds[k]);
            if (!l || cf_json_type(l) == CF_JSON_NULL)
                continue;
            if (cf_json_type(l) != CF_JSON_ARRAY)
                return fail(f, 400, "BadRequest",
                            "Access policy %zu is not valid: 'permissions.%s' must be an array "
                            "of strings.",
                            i, pol_kinds[k]);
            o->given[k] = true;
            for (size_t m = 0; m < cf_json_size(l); m++) {
                size_t len = 0;
                const char *name = cf_json_str(cf_json_at(l, m), &len);
                int b;
                if (!name)
                    return fail(f, 400, "BadRequest",
                                "Access policy %zu is not valid: 'permissions.%s' must be an "
                                "array of strings.",
                                i, pol_kinds[k]);
                for (b = 0; pol_perms[k][b]; b++)
                    if (cf_str_eq_ci((struct cf_str){name, len}, cf_str_from(pol_perms[k][b])))
                        break;
                if (pol_perms[k][b])
                    o->perms[k] |= 1u << b;
                else if (strict)
                    return fail(f, 400, "BadRequest",
                                "Invalid value found at accessPolicies[%zu].permissions.%s[%zu]: "
                                "'%.*s'.",
                                i, pol_kinds[k], m, (int)CF_MIN(len, 64), name);
            }
        }
    }
    *n = cf_json_size(j);
    return true;
}

/* Writes pols as the normalised JSON array into *out (malloc'd; the previous value freed). */
static bool pol_write(const struct pol *pols, size_t n, char **out, struct arm_fail *f)
{
    struct cf_buf b;
    struct cf_jw w;

    cf_buf_init(&b, CF_MAX_BODY_BYTES);
    cf_jw_init(&w, &b);
    cf_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "tenantId", pols[i].tenant);
        cf_jw_kstr(&w, "objectId", pols[i].object);
        if (pols[i].app)
            cf_jw_kstr(&w, "applicationId", pols[i].app);
        cf_jw_key(&w, "permissions");
        cf_jw_obj_begin(&w);
        for (int k = 0; k < PK_N; k++) {
            if (!pols[i].given[k])
                continue;
            cf_jw_key(&w, pol_kinds[k]);
            cf_jw_arr_begin(&w);
            for (int m = 0; pol_perms[k][m]; m++)
                if (pols[i].perms[k] & (1u << m))
                    cf_jw_str(&w, pol_perms[k][m]);
            cf_jw_arr_end(&w);
        }
        cf_jw_obj_end(&w);
        cf_jw_obj_end(&w);
    }
    cf_jw_arr_end(&w);
    if (cf_jw_err(&w)) {
        cf_buf_release(&b);
        return fail(f, 400, "BadRequest", "The access policies are too large.");
    }
    free(*out);
    *out = cf_buf_detach(&b, NULL);
    return *out ? true : fail(f, 503, "ServiceUnavailable", "Out of memory.");
}

/* Validates and normalises a PUT/PATCH body's accessPolicies into *out. */
static bool parse_policies(const struct cf_json *j, char **out, struct arm_fail *f)
{
    struct pol *pols = calloc(MAX_POLICIES, sizeof(*pols));
    size_t n = 0;
    bool ok;

    if (!pols)
        return fail(f, 503, "ServiceUnavailable", "Out of memory.");
    ok = pol_parse(j, true, pols, &n, f) && pol_write(pols, n, out, f);
    free(pols);
    return ok;
}

/* networkAcls, normalized to {bypass, defaultAction, ipRules, virtualNetworkRules}. */
static bool parse_acls(const struct cf_json *j, char **out, struct arm_fail *f)
{
    const struct cf_json *bypass = cf_json_get(j, "bypass"), *def = cf_json_get(j, "defaultAction");
    const struct cf_json *ips = cf_json_get(j, "ipRules"),
                         *vnets = cf_json_get(j, "virtualNetworkRules");
    const char *bp = "AzureServices", *da = "Allow", *s;
    struct cf_buf b;
    struct cf_jw w;

    if (cf_json_type(j) == CF_JSON_NULL) {
        free(*out);
        *out = NULL;
        return true;
    }
    if (cf_json_type(j) != CF_JSON_OBJECT)
        return fail(f, 400, "BadRequest", "The property 'networkAcls' must be an object.");
    if (bypass && cf_json_type(bypass) != CF_JSON_NULL) {
        s = cf_json_str(bypass, NULL);
        if (s && strcasecmp(s, "AzureServices") == 0)
            bp = "AzureServices";
        else if (s && strcasecmp(s, "None") == 0)
            bp = "None";
        else
            return fail(f, 400, "BadRequest",
                        "The value of 'networkAcls.bypass' must be 'AzureServices' or 'None'.");
    }
    if (def && cf_json_type(def) != CF_JSON_NULL) {
        s = cf_json_str(def, NULL);
        if (s && strcasecmp(s, "Allow") == 0)
            da = "Allow";
        else if (s && strcasecmp(s, "Deny") == 0)
            da = "Deny";
        else
            return fail(f, 400, "BadRequest",
                        "The value of 'networkAcls.defaultAction' must be 'Allow' or 'Deny'.");
    }
    if (ips && cf_json_type(ips) != CF_JSON_NULL) {
        if (cf_json_type(ips) != CF_JSON_ARRAY)
            return fail(f, 400, "BadRequest", "'networkAcls.ipRules' must be an array.");
        for (size_t i = 0; i < cf_json_size(ips); i++) {
            size_t vl = 0;
            const char *v = cf_json_str(cf_json_get(cf_json_at(ips, i), "value"), &vl);
            int fam, prefix;
            unsigned char addr[16];
            if (!v)
                return fail(f, 400, "BadRequest",
                            "Each entry of 'networkAcls.ipRules' needs a string 'value'.");
            /* a rule the firewall could not apply would silently let no one (or everyone) in */
            if (!cf_vault_ip_rule_parse((struct cf_str){v, vl}, &fam, addr, &prefix))
                return fail(f, 400, "BadRequest",
                            "'%.*s' is not a valid IP address or CIDR range in "
                            "'networkAcls.ipRules'.",
                            (int)CF_MIN(vl, 64), v);
        }
    }
    if (vnets && cf_json_type(vnets) != CF_JSON_NULL) {
        if (cf_json_type(vnets) != CF_JSON_ARRAY)
            return fail(f, 400, "BadRequest",
                        "'networkAcls.virtualNetworkRules' must be an array.");
        for (size_t i = 0; i < cf_json_size(vnets); i++)
            if (!cf_json_str(cf_json_get(cf_json_at(vnets, i), "id"), NULL))
                return fail(f, 400, "BadRequest",
                            "Each entry of 'networkAcls.virtualNetworkRules' needs a string "
                            "'id'.");
    }
    cf_buf_init(&b, CF_MAX_BODY_BYTES);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "bypass", bp);
    cf_jw_kstr(&w, "defaultAction", da);
    cf_jw_key(&w, "ipRules");
    cf_jw_arr_begin(&w);
    for (size_t i = 0; ips && i < cf_json_size(ips); i++) {
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "value", cf_json_str(cf_json_get(cf_json_at(ips, i), "value"), NULL));
        cf_jw_obj_end(&w);
    }
    cf_jw_arr_end(&w);
    cf_jw_key(&w, "virtualNetworkRules");
    cf_jw_arr_begin(&w);
    for (size_t i = 0; vnets && i < cf_json_size(vnets); i++) {
        const struct cf_json *e = cf_json_at(vnets, i);
        bool ign = false;
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "id", cf_json_str(cf_json_get(e, "id"), NULL));
        (void)cf_json_bool(cf_json_get(e, "ignoreMissingVnetServiceEndpoint"), &ign);
        cf_jw_kbool(&w, "ignoreMissingVnetServiceEndpoint", ign);
        cf_jw_obj_end(&w);
    }
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    if (cf_jw_err(&w)) {
        cf_buf_release(&b);
        return fail(f, 400, "BadRequest", "The network rules are too large.");
    }
    free(*out);
    *out = cf_buf_detach(&b, NULL);
    return *out ? true : fail(f, 503, "ServiceUnavailable", "Out of memory.");
}

/* Reads an optional boolean property. */
static bool opt_bool(const struct cf_json *props, const char *key, bool *dst, bool *given,
                     struct arm_fail *f)
{
    const struct cf_json *j = cf_json_get(props, key);
    *given = false;
    if (!j || cf_json_type(j) == CF_JSON_NULL)
        return true;
    if (!cf_json_bool(j, dst))
        return fail(f, 400, "BadRequest", "The value of 'properties.%s' must be a boolean.", key);
    *given = true;
    return true;
}

/* Releases the strings vault_from_json allocated (not cf_vault_release: ours, not vault/'s). */
static void vault_in_release(struct cf_vault *v)
{
    free(v->tags_json);
    free(v->access_policies_json);
    free(v->network_acls_json);
    v->tags_json = v->access_policies_json = v->network_acls_json = NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? cf_str_dup(cf_str_from(s)) : NULL;
}

/* Options of one PUT/PATCH interpretation. */
struct vault_parse {
    bool patch;                 /* PATCH: every field optional, no location */
    bool rbac_default;          /* api-version >= 2026-02-01 */
    const struct cf_vault *cur; /* the existing live vault (update), or NULL (create) */
    /* Tenants a vault may name: the server's (tenant_known) and its canonical spelling. */
    bool (*tenant_known)(void *ctx, struct cf_str t);
    void *tenant_ctx;
    const char *server_tenant;
};

/* Turns a PUT/PATCH body into the vault to write, starting from the defaults (create) or from
 * the existing vault (update; omitted fields keep their values). *v must be zeroed; its owned
 * strings are released with vault_in_release even on failure. name, sub and rg are filled by
 * the caller. */
static bool vault_from_json(const struct cf_json *body, const struct vault_parse *o,
                            struct cf_vault *v, enum cf_vault_put_mode *mode, struct arm_fail *f)
{
    const struct cf_json *props = cf_json_get(body, "properties"), *j;
    const struct cf_vault *cur = o->cur;
    const char *s;
    size_t n;
    bool b, given, policies_given = false;
    int64_t days;

    *mode = CF_VAULT_PUT_DEFAULT;
    if (cur) {
        *v = *cur;
        v->tags_json = dup_or_null(cur->tags_json);
        v->access_policies_json = dup_or_null(cur->access_policies_json);
        v->network_acls_json = dup_or_null(cur->network_acls_json);
    } else {
        snprintf(v->sku, sizeof(v->sku), "standard");
        v->retention_days = 90;
        v->soft_delete = true;
        v->rbac = o->rbac_default;
        snprintf(v->public_network_access, sizeof(v->public_network_access), "Enabled");
        v->tags_json = cf_str_dup(CF_STR("{}"));
        v->access_policies_json = cf_str_dup(CF_STR("[]"));
        if (!v->tags_json || !v->access_policies_json)
            return fail(f, 503, "ServiceUnavailable", "Out of memory.");
    }

    /* location */
    j = cf_json_get(body, "location");
    if (!o->patch) {
        char loc[64];
        s = cf_json_str(j, &n);
        if (!s || n == 0)
            return fail(f, 400, "LocationRequired",
                        "The location property is required for this definition.");
        if (!normalize_location(s, n, loc))
            return fail(f, 400, "LocationNotAvailableForResourceType",
                        "The provided location '%.64s' is not available for resource type "
                        "'" KV_TYPE "'.",
                        s);
        if (cur && strcmp(loc, cur->location) != 0)
            return fail(f, 409, "InvalidResourceLocation",
                        "The resource '%s' already exists in location '%s' in resource group "
                        "'%s'. A resource with the same name cannot be created in location "
                        "'%s'. Please select a new resource name.",
                        cur->name, cur->location, cur->resource_group, loc);
        snprintf(v->location, sizeof(v->location), "%s", loc);
    }

    j = cf_json_get(body, "tags");
    if (j && !parse_tags(j, &v->tags_json, f))
        return false;

    if (!props || cf_json_type(props) == CF_JSON_NULL) {
        if (o->patch)
            return true;
        return fail(f, 400, "BadRequest", "The parameter 'properties' is required.");
    }
    if (cf_json_type(props) != CF_JSON_OBJECT)
        return fail(f, 400, "BadRequest", "The value of 'properties' must be an object.");

    j = cf_json_get(props, "createMode");
    if (j && cf_json_type(j) != CF_JSON_NULL) {
        s = cf_json_str(j, NULL);
        if (s && strcasecmp(s, "recover") == 0 && !o->patch)
            *mode = CF_VAULT_PUT_RECOVER;
        else if (!s || strcasecmp(s, "default") != 0)
            return fail(f, 400, "BadRequest",
                        "The value of 'properties.createMode' must be 'default' or 'recover'.");
    }

    /* tenantId */
    j = cf_json_get(props, "tenantId");
    s = cf_json_str(j, &n);
    if (!s || n == 0) {
        if (!o->patch)
            return fail(f, 400, "BadRequest", "The parameter 'properties.tenantId' is required.");
    } else {
        struct cf_str t = {s, n};
        if (n >= sizeof(v->tenant_id) || cf_str_eq_ci(t, CF_STR("organizations")) ||
            cf_str_eq_ci(t, CF_STR("common")) || cf_str_eq_ci(t, CF_STR("adfs")) ||
            cf_str_eq_ci(t, CF_STR("consumers")) ||
            (o->tenant_known && !o->tenant_known(o->tenant_ctx, t)))
            return fail(f, 400, "BadRequest",
                        "The tenant '%.40s' in 'properties.tenantId' is not served by this "
                        "server.",
                        s);
        /* The data plane compares tenant ids byte for byte: keep the server's spelling. */
        if (o->server_tenant && cf_str_eq_ci(t, cf_str_from(o->server_tenant)))
            snprintf(v->tenant_id, sizeof(v->tenant_id), "%s", o->server_tenant);
        else
            copy_str(t, v->tenant_id, sizeof(v->tenant_id));
    }

    /* sku */
    j = cf_json_get(props, "sku");
    if (!j || cf_json_type(j) == CF_JSON_NULL) {
        if (!o->patch && *mode != CF_VAULT_PUT_RECOVER)
            return fail(f, 400, "BadRequest", "The parameter 'properties.sku' is required.");
    } else {
        const char *fam = cf_json_str(cf_json_get(j, "family"), NULL);
        const char *nm = cf_json_str(cf_json_get(j, "name"), NULL);
        if (cf_json_type(j) != CF_JSON_OBJECT || !fam || strcmp(fam, "A") != 0)
            return fail(f, 400, "BadRequest", "The value of 'properties.sku.family' must be 'A'.");
        if (nm && strcasecmp(nm, "standard") == 0)
            snprintf(v->sku, sizeof(v->sku), "standard");
        else if (nm && strcasecmp(nm, "premium") == 0)
            snprintf(v->sku, sizeof(v->sku), "premium");
        else
            return fail(f, 400, "SkuNotSupported",
                        "The value of 'properties.sku.name' must be 'standard' or 'premium'.");
    }

    j = cf_json_get(props, "accessPolicies");
    if (j && cf_json_type(j) != CF_JSON_NULL) {
        if (!parse_policies(j, &v->access_policies_json, f))
            return false;
        policies_given = true;
    }

    if (!opt_bool(props, "enabledForDeployment", &b, &given, f))
        return false;
    if (given)
        v->for_deployment = b;
    if (!opt_bool(props, "enabledForDiskEncryption", &b, &given, f))
        return false;
    if (given)
        v->for_disk_encryption = b;
    if (!opt_bool(props, "enabledForTemplateDeployment", &b, &given, f))
        return false;
    if (given)
        v->for_template_deployment = b;
    if (!opt_bool(props, "enableRbacAuthorization", &b, &given, f))
        return false;
    if (given)
        v->rbac = b;

    if (!opt_bool(props, "enableSoftDelete", &b, &given, f))
        return false;
    if (given && !b)
        return fail(f, 400, "BadRequest",
                    "The property \"enableSoftDelete\" cannot be set to false. Soft delete is "
                    "always enabled for vaults on this server.");

    j = cf_json_get(props, "softDeleteRetentionInDays");
    if (j && cf_json_type(j) != CF_JSON_NULL) {
        if (!cf_json_int(j, &days) || days < 7 || days > 90)
            return fail(f, 400, "BadRequest",
                        "The value of 'properties.softDeleteRetentionInDays' must be an integer "
                        "between 7 and 90.");
        if (cur && days != cur->retention_days)
            return fail(f, 400, "BadRequest",
                        "The property \"softDeleteRetentionInDays\" has been set already and it "
                        "can't be modified.");
        v->retention_days = (int)days;
    }

    if (!opt_bool(props, "enablePurgeProtection", &b, &given, f))
        return false;
    if (given && b)
        v->purge_protection = true;
    if (given && !b && cur && cur->purge_protection)
        return fail(f, 400, "BadRequest",
                    "The property \"enablePurgeProtection\" cannot be set to false. Enabling the "
                    "purge protection for a vault is an irreversible action.");

    j = cf_json_get(props, "networkAcls");
    if (j && !parse_acls(j, &v->network_acls_json, f))
        return false;

    j = cf_json_get(props, "publicNetworkAccess");
    if (j && cf_json_type(j) != CF_JSON_NULL) {
        s = cf_json_str(j, NULL);
        if (s && strcasecmp(s, "enabled") == 0)
            snprintf(v->public_network_access, sizeof(v->public_network_access), "Enabled");
        else if (s && strcasecmp(s, "disabled") == 0)
            snprintf(v->public_network_access, sizeof(v->public_network_access), "Disabled");
        else
            return fail(f, 400, "BadRequest",
                        "The value of 'properties.publicNetworkAccess' must be 'Enabled' or "
                        "'Disabled'.");
    }

    if (!cur && !o->patch && *mode == CF_VAULT_PUT_DEFAULT && !v->rbac && !policies_given)
        return fail(f, 400, "BadRequest",
                    "The parameter accessPolicies is not specified. It is required unless "
                    "'enableRbacAuthorization' is true.");
    return true;
}

/* ---------------------------------------------------------------- $filter */

struct res_filter {
    bool any_type_ok; /* no resourceType clause, or it names Microsoft.KeyVault/vaults */
    bool type_other;  /* a resourceType clause that names something else: nothing matches */
    struct cf_str name, group;
};

static bool trim_eq(struct cf_str *s)
{
    while (s->len && s->p[0] == ' ') {
        s->p++;
        s->len--;
    }
    while (s->len && s->p[s->len - 1] == ' ')
        s->len--;
    return s->len > 0;
}

/* Parses "field eq 'value'" clauses joined by " and " (fields resourceType, name,
 * resourceGroup, case-insensitive). An empty filter matches every vault. */
static bool parse_filter(struct cf_str in, struct res_filter *out)
{
    memset(out, 0, sizeof(*out));
    out->any_type_ok = true;
    while (trim_eq(&in)) {
        struct cf_str clause = in, field, val;
        size_t i;

        /* the next " and " outside quotes ends the clause */
        bool q = false;
        for (i = 0; i < in.len; i++) {
            if (in.p[i] == '\'')
                q = !q;
            if (!q && i + 5 <= in.len && strncasecmp(in.p + i, " and ", 5) == 0)
                break;
        }
        clause.len = i;
        in = i < in.len ? (struct cf_str){in.p + i + 5, in.len - i - 5} : CF_STR("");
        if (!trim_eq(&clause))
            return false;
        for (i = 0; i < clause.len && clause.p[i] != ' '; i++)
            ;
        field = (struct cf_str){clause.p, i};
        val = (struct cf_str){clause.p + i, clause.len - i};
        if (!trim_eq(&val) || val.len < 4 || strncasecmp(val.p, "eq ", 3) != 0)
            return false;
        val.p += 3;
        val.len -= 3;
        if (!trim_eq(&val) || val.len < 2 || val.p[0] != '\'' || val.p[val.len - 1] != '\'')
            return false;
        val.p++;
        val.len -= 2;
        if (memchr(val.p, '\'', val.len))
            return false;
        if (cf_str_eq_ci(field, CF_STR("resourceType"))) {
            if (!cf_str_eq_ci(val, CF_STR(KV_TYPE)))
                out->type_other = true;
        } else if (cf_str_eq_ci(field, CF_STR("name"))) {
            out->name = val;
        } else if (cf_str_eq_ci(field, CF_STR("resourceGroup"))) {
            out->group = val;
        } else {
            return false;
        }
    }
    return true;
}

static bool filter_match(const struct res_filter *fl, const struct cf_vault *v)
{
    if (fl->type_other)
        return false;
    if (fl->name.p && !cf_str_eq_ci(fl->name, cf_str_from(v->name)))
        return false;
    if (fl->group.p && !cf_str_eq_ci(fl->group, cf_str_from(v->resource_group)))
        return false;
    return true;
}

/* ---------------------------------------------------------------- metadata, subscriptions */

/* The base domain B of the host names ("vault.localhost" -> "localhost"). */
static const char *base_domain(const struct api_req *r)
{
    const char *s = r->api->cfg.dns_suffix ? r->api->cfg.dns_suffix : "localhost";
    const char *dot = strchr(s, '.');
    return dot && dot[1] ? dot + 1 : s;
}

/* ARM cloud metadata (what `az cloud register --endpoint-resource-manager` and
 * ARM_CLOUD_METADATA_URL read): the object form up to api-version 2019-05-01, the array of
 * clouds after. loginEndpoint ends in /adfs so az skips instance discovery (clients.md §1.5). */
void api_arm_metadata(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    const char *b = base_domain(r);
    char login[300], mgmt[300], aud[300], graph[300], portal[300], gallery[300], kv[300];
    struct cf_jw w;
    bool cloud_list = api_version_at_least(r, "2019-05-01");

    snprintf(login, sizeof(login), "https://%s%.*s/adfs", c->login_host, CF_STR_FMT(r->port));
    snprintf(mgmt, sizeof(mgmt), "https://%s%.*s/", c->management_host, CF_STR_FMT(r->port));
    snprintf(aud, sizeof(aud), "https://%s/", c->management_host);
    snprintf(graph, sizeof(graph), "https://graph.%s/", b);
    snprintf(portal, sizeof(portal), "https://portal.%s/", b);
    snprintf(gallery, sizeof(gallery), "https://gallery.%s/", b);
    snprintf(kv, sizeof(kv), "%s%.*s", c->dns_suffix, CF_STR_FMT(r->port));

    cf_jw_init(&w, &r->out);
    if (cloud_list) {
        cf_jw_arr_begin(&w);
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "name", "Coffer");
        cf_jw_kstr(&w, "portal", portal);
        cf_jw_kstr(&w, "resourceManager", mgmt);
        cf_jw_kstr(&w, "gallery", gallery);
        cf_jw_kstr(&w, "graph", graph);
        cf_jw_kstr(&w, "graphAudience", graph);
        cf_jw_kstr(&w, "microsoftGraphResourceId", graph);
        cf_jw_key(&w, "authentication");
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "loginEndpoint", login);
        cf_jw_key(&w, "audiences");
        cf_jw_arr_begin(&w);
        cf_jw_str(&w, aud);
        cf_jw_str(&w, mgmt);
        cf_jw_arr_end(&w);
        cf_jw_kstr(&w, "tenant", "adfs");
        cf_jw_kstr(&w, "identityProvider", "ADFS");
        cf_jw_obj_end(&w);
        cf_jw_key(&w, "suffixes");
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "keyVaultDns", kv);
        cf_jw_obj_end(&w);
        cf_jw_obj_end(&w);
        cf_jw_arr_end(&w);
    } else {
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "galleryEndpoint", gallery);
        cf_jw_kstr(&w, "graphEndpoint", graph);
        cf_jw_kstr(&w, "portalEndpoint", portal);
        cf_jw_key(&w, "authentication");
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "loginEndpoint", login);
        cf_jw_key(&w, "audiences");
        cf_jw_arr_begin(&w);
        cf_jw_str(&w, aud);
        cf_jw_str(&w, mgmt);
        cf_jw_arr_end(&w);
        cf_jw_obj_end(&w);
        cf_jw_obj_end(&w);
    }
    if (cf_jw_err(&w)) {
        api_error_err(r, cf_jw_err(&w));
        return;
    }
    api_reply(r, 200);
}

static void write_subscription(struct cf_jw *w, const char *sub, const char *tenant)
{
    char id[64];

    snprintf(id, sizeof(id), "/subscriptions/%s", sub);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "authorizationSource", "RoleBased");
    cf_jw_key(w, "managedByTenants");
    cf_jw_arr_begin(w);
    cf_jw_arr_end(w);
    cf_jw_kstr(w, "subscriptionId", sub);
    cf_jw_kstr(w, "tenantId", tenant);
    cf_jw_kstr(w, "displayName", "Coffer");
    cf_jw_kstr(w, "state", "Enabled");
    cf_jw_key(w, "subscriptionPolicies");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "locationPlacementId", "Public_2014-09-01");
    cf_jw_kstr(w, "quotaId", "PayAsYouGo_2014-09-01");
    cf_jw_kstr(w, "spendingLimit", "Off");
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

void api_arm_sub_list(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    /* A token of another tenant sees no subscription (Azure lists the token tenant's). */
    bool mine =
        c->tenant_id && c->subscription_id && strcasecmp(r->who.tenant_id, c->tenant_id) == 0;
    struct cf_jw w;

    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    if (mine)
        write_subscription(&w, c->subscription_id, c->tenant_id);
    cf_jw_arr_end(&w);
    cf_jw_key(&w, "count");
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "type", "Total");
    cf_jw_kint(&w, "value", mine ? 1 : 0);
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    if (cf_jw_err(&w)) {
        api_error_err(r, cf_jw_err(&w));
        return;
    }
    api_reply(r, 200);
}

void api_arm_sub_get(struct api_req *r)
{
    struct cf_jw w;

    if (!arm_enter(r))
        return;
    cf_jw_init(&w, &r->out);
    write_subscription(&w, r->api->cfg.subscription_id, r->api->cfg.tenant_id);
    if (cf_jw_err(&w)) {
        api_error_err(r, cf_jw_err(&w));
        return;
    }
    api_reply(r, 200);
}

/* ---------------------------------------------------------------- locks (§9) */

/* A normalised lock scope with ARM's spelling of the keywords and the server's subscription:
 * "/subscriptions/{S}/resourceGroups/{g}/providers/Microsoft.KeyVault/vaults/{v}". */
static void lock_scope_display(const struct api_req *r, const char *norm, char *out, size_t n)
{
    static const char *const canon[] = {"subscriptions", "resourceGroups", "providers",
                                        "Microsoft.KeyVault", "vaults"};
    const char *p = norm;
    size_t k = 0;
    int i = 0;

    out[0] = '\0';
    while (*p == '/' && k + 1 < n) {
        const char *seg = p + 1, *e = strchr(seg, '/');
        size_t len = e ? (size_t)(e - seg) : strlen(seg);
        const char *word = NULL;
        int w;
        if (i == 1 && r->api->cfg.subscription_id)
            word = r->api->cfg.subscription_id;
        for (size_t j = 0; j < CF_ARRAY_LEN(canon) && !word && i % 2 == 0; j++)
            if (strlen(canon[j]) == len && strncasecmp(canon[j], seg, len) == 0)
                word = canon[j];
        if (i == 5 && len == 18 && strncasecmp(seg, "microsoft.keyvault", 18) == 0)
            word = "Microsoft.KeyVault";
        w = word ? snprintf(out + k, n - k, "/%s", word)
                 : snprintf(out + k, n - k, "/%.*s", (int)len, seg);
        if (w < 0 || (size_t)w >= n - k)
            break;
        k += (size_t)w;
        p = seg + len;
        i++;
    }
}

/* Management locks guard the resource (not the secrets inside): a write needs no ReadOnly
 * lock covering it, a delete (or purge) no lock at all; below: a group delete also needs the
 * vaults in it unlocked. Replies 409 ScopeLocked and returns true when refused (also on a
 * store error, replied). rg and vault as the path names them (vault NULL: the group). */
static bool lock_refuses(struct api_req *r, const char *rg, const char *vault, bool del,
                         bool below)
{
    const struct cf_api_config *c = &r->api->cfg;
    char target[300], locked[300];
    struct cf_lock_hit h;
    cf_err e;

    e = cf_vault_lock_check(c->vault, c->subscription_id, rg, vault, below, &h);
    if (e) {
        api_error_err(r, e);
        return true;
    }
    if (h.level == CF_LOCK_NONE || (!del && h.level != CF_LOCK_READ_ONLY))
        return false;
    if (vault)
        snprintf(target, sizeof(target),
                 "/subscriptions/%s/resourceGroups/%s" PROVIDER "/vaults/%s", c->subscription_id,
                 rg, vault);
    else
        snprintf(target, sizeof(target), "/subscriptions/%s/resourceGroups/%s",
                 c->subscription_id, rg);
    lock_scope_display(r, h.scope, locked, sizeof(locked));
    api_error(r, 409, "ScopeLocked", NULL,
              "The scope '%s' cannot perform %s operation because following scope(s) are "
              "locked: '%s'. Please remove the lock and try again.",
              target, del ? "delete" : "write", locked);
    return true;
}

/* ---------------------------------------------------------------- resource groups */

void api_arm_group_put(struct api_req *r)
{
    const char *sub = r->api->cfg.subscription_id;
    struct cf_group in, cur, out;
    struct arm_fail f;
    const struct cf_json *j;
    const char *loc;
    size_t n;
    bool created = false;
    struct cf_jw w;
    cf_err e;

    memset(&in, 0, sizeof(in));
    memset(&cur, 0, sizeof(cur));
    memset(&out, 0, sizeof(out));
    if (!arm_enter(r))
        return;
    if (!group_name_ok(r->cap[1], in.name, &f)) {
        reply_fail(r, &f);
        return;
    }
    if (lock_refuses(r, in.name, NULL, false, false))
        return;
    if (api_body_json(r, false))
        return;
    loc = cf_json_str(cf_json_get(r->body, "location"), &n);
    if (!loc || n == 0) {
        api_error(r, 400, "LocationRequired", NULL,
                  "The location property is required for this definition.");
        goto release;
    }
    if (!normalize_location(loc, n, in.location)) {
        api_error(r, 400, "LocationNotAvailableForResourceType", NULL,
                  "The provided location '%.64s' is not available for resource type "
                  "'Microsoft.Resources/resourceGroups'.",
                  loc);
        goto release;
    }
    j = cf_json_get(r->body, "tags");
    in.tags_json = cf_str_dup(CF_STR("{}"));
    if (!in.tags_json) {
        api_error_err(r, CF_ENOMEM);
        goto release;
    }
    if (j && !parse_tags(j, &in.tags_json, &f)) {
        reply_fail(r, &f);
        goto release;
    }
    snprintf(in.subscription, sizeof(in.subscription), "%s", sub);
    e = cf_group_get(r->api->cfg.vault, sub, in.name, &cur);
    if (e == CF_OK && strcmp(cur.location, in.location) != 0) {
        api_error(r, 409, "InvalidResourceGroupLocation", NULL,
                  "Invalid resource group location '%s'. The Resource group already exists in "
                  "location '%s'.",
                  in.location, cur.location);
        goto release;
    }
    if (e && e != CF_ENOTFOUND) {
        api_error_err(r, e);
        goto release;
    }
    e = cf_group_put(r->api->cfg.vault, &in, &created, &out);
    if (e) {
        api_error_err(r, e);
        goto release;
    }
    cf_jw_init(&w, &r->out);
    write_group(&w, &out, sub);
    if (cf_jw_err(&w))
        api_error_err(r, cf_jw_err(&w));
    else
        api_reply(r, created ? 201 : 200);
release:
    free(in.tags_json);
    cf_group_release(&cur);
    cf_group_release(&out);
}

/* GET and HEAD (HEAD: 204 or 404, no body). */
void api_arm_group_get(struct api_req *r)
{
    const char *sub = r->api->cfg.subscription_id;
    bool head = r->http->method == CF_HTTP_HEAD;
    char name[91];
    struct cf_group g;
    struct arm_fail f;
    struct cf_jw w;
    cf_err e;

    memset(&g, 0, sizeof(g));
    if (!arm_enter(r))
        return;
    if (!group_name_ok(r->cap[1], name, &f)) {
        if (head)
            api_reply_empty(r, 404);
        else
            reply_fail(r, &f);
        return;
    }
    e = cf_group_get(r->api->cfg.vault, sub, name, &g);
    if (head) {
        api_reply_empty(r, e == CF_OK ? 204 : e == CF_ENOTFOUND ? 404 : 500);
    } else if (e == CF_ENOTFOUND) {
        rg_not_found(r, name);
    } else if (e) {
        api_error_err(r, e);
    } else {
        cf_jw_init(&w, &r->out);
        write_group(&w, &g, sub);
        if (cf_jw_err(&w))
            api_error_err(r, cf_jw_err(&w));
        else
            api_reply(r, 200);
    }
    cf_group_release(&g);
}

struct group_list_arg {
    struct page p;
    const char *sub;
};

static cf_err group_list_cb(const struct cf_group *g, void *arg)
{
    struct group_list_arg *a = arg;
    if (page_take(&a->p))
        write_group(a->p.w, g, a->sub);
    return cf_jw_err(a->p.w);
}

void api_arm_group_list(struct api_req *r)
{
    struct group_list_arg a;
    struct cf_jw w;
    cf_err e;

    if (!arm_enter(r))
        return;
    cf_jw_init(&w, &r->out);
    if (!page_init(r, &a.p, &w))
        return;
    a.sub = r->api->cfg.subscription_id;
    e = cf_group_list(r->api->cfg.vault, a.sub, group_list_cb, &a);
    reply_list(r, &a.p, e);
}

/* A deleted resource group or vault loses the role assignments at and below it, as in Azure
 * (not restored by a recovery), so a later resource of the same name starts with none. The
 * resource is already gone: a failure here is logged, not answered. nseg: the path segments
 * that name the resource (4: a group, 8: a vault). */
static void forget_assignments(struct api_req *r, size_t nseg)
{
    char scope[CF_RBAC_MAX_SCOPE];
    size_t len = 0;
    int n = 0;
    cf_err e;

    if (!r->api->cfg.rbac || r->nseg < nseg)
        return;
    for (size_t i = 0; i < nseg; i++) {
        if (len + 1 + r->seg[i].len + 1 > sizeof(scope))
            return;
        scope[len++] = '/';
        memcpy(scope + len, r->seg[i].p, r->seg[i].len);
        len += r->seg[i].len;
    }
    scope[len] = '\0';
    e = cf_rbac_assignment_delete_subtree(r->api->cfg.rbac, scope, &n);
    if (e)
        cf_error("api: role assignments under a deleted resource were not removed: %s",
                 cf_err_name(e));
    else if (n)
        cf_info("api: removed %d role assignment(s) of a deleted resource", n);
}

void api_arm_group_delete(struct api_req *r)
{
    char name[91];
    struct arm_fail f;
    cf_err e;

    if (!arm_enter(r))
        return;
    if (!group_name_ok(r->cap[1], name, &f)) {
        reply_fail(r, &f);
        return;
    }
    if (lock_refuses(r, name, NULL, true, true))
        return;
    e = cf_group_delete(r->api->cfg.vault, r->api->cfg.subscription_id, name);
    if (e == CF_ENOTFOUND) {
        rg_not_found(r, name);
    } else if (e) {
        api_error_err(r, e);
    } else {
        forget_assignments(r, 4);
        api_reply_empty(r, 200);
    }
}

/* ---------------------------------------------------------------- vaults */

/* Validated rg (cap[1]) and vault name (cap[2]) of a vault route. For reads an invalid vault
 * name is simply "not found" (not_found true, nothing replied); writes reply 400. */
static bool vault_target(struct api_req *r, bool write, char rg[91], char name[25], bool *not_found)
{
    struct arm_fail f;

    *not_found = false;
    if (!group_name_ok(r->cap[1], rg, &f)) {
        reply_fail(r, &f);
        return false;
    }
    if (!cf_name_valid_vault(r->cap[2]) || !copy_str(r->cap[2], name, 25)) {
        if (write) {
            api_error(r, 400, "VaultNameNotValid", NULL, MSG_VAULT_NAME);
            return false;
        }
        *not_found = true;
    }
    return true;
}

static bool auth_tenant_known(void *ctx, struct cf_str t)
{
    return cf_auth_tenant_known(ctx, t);
}

static void reply_vault(struct api_req *r, const struct cf_vault *v, int status)
{
    struct vault_view vw;
    struct cf_jw w;

    view_init(r, &vw);
    cf_buf_reset(&r->out);
    cf_jw_init(&w, &r->out);
    write_vault(&w, v, &vw);
    if (cf_jw_err(&w))
        api_error_err(r, cf_jw_err(&w));
    else
        api_reply(r, status);
}

static void reply_put_error(struct api_req *r, cf_err e, const char *name, bool recover)
{
    if (e == CF_EEXISTS)
        api_error(r, 409, "VaultAlreadyExists", NULL, MSG_ALREADY_EXISTS, name);
    else if (e == CF_EDELETED)
        api_error(r, 409, "ConflictError", NULL, MSG_DELETED_CONFLICT);
    else if (e == CF_ENOTFOUND && recover)
        api_error(r, 404, "ResourceNotFound", NULL,
                  "No deleted vault named '%s' was found to recover.", name);
    else if (e == CF_EBADPARAM)
        api_error(r, 400, "BadRequest", NULL,
                  "The vault properties are not valid for this vault (softDeleteRetentionInDays "
                  "cannot change; enablePurgeProtection cannot be turned off).");
    else
        api_error_err(r, e);
}

/* PUT (create 201 / update 200 / recover) and PATCH (update 200). */
static void vault_write(struct api_req *r, bool patch)
{
    const struct cf_api_config *c = &r->api->cfg;
    char rg[91], name[25];
    struct cf_vault cur, in, out;
    struct vault_parse o;
    struct arm_fail f;
    enum cf_vault_put_mode mode = CF_VAULT_PUT_DEFAULT;
    bool found, created = false, nf;
    cf_err e;

    memset(&cur, 0, sizeof(cur));
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    if (!arm_enter(r) || !vault_target(r, true, rg, name, &nf))
        return;
    if (lock_refuses(r, rg, name, false, false))
        return;
    if (api_body_json(r, patch))
        return;
    e = cf_vault_get(c->vault, c->subscription_id, rg, name, &cur);
    if (e && e != CF_ENOTFOUND) {
        api_error_err(r, e);
        goto release;
    }
    found = e == CF_OK;
    if (patch && !found) {
        vault_not_found(r, rg, r->cap[2]);
        goto release;
    }
    memset(&o, 0, sizeof(o));
    o.patch = patch;
    o.rbac_default = api_version_at_least(r, "2026-02-01");
    o.cur = found ? &cur : NULL;
    o.tenant_known = auth_tenant_known;
    o.tenant_ctx = c->auth;
    o.server_tenant = c->tenant_id;
    if (!vault_from_json(r->body, &o, &in, &mode, &f)) {
        reply_fail(r, &f);
        goto release;
    }
    if (found && mode == CF_VAULT_PUT_RECOVER) { /* nothing to recover: it is live */
        reply_vault(r, &cur, 200);
        goto release;
    }
    snprintf(in.name, sizeof(in.name), "%s", found ? cur.name : name);
    snprintf(in.subscription, sizeof(in.subscription), "%s", c->subscription_id);
    snprintf(in.resource_group, sizeof(in.resource_group), "%s", found ? cur.resource_group : rg);
    e = cf_vault_put(c->vault, &in, mode, &created, &out);
    if (e) {
        reply_put_error(r, e, name, mode == CF_VAULT_PUT_RECOVER);
        goto release;
    }
    reply_vault(r, &out, created && !patch ? 201 : 200);
release:
    vault_in_release(&in);
    cf_vault_release(&cur);
    cf_vault_release(&out);
}

void api_arm_vault_put(struct api_req *r)
{
    vault_write(r, false);
}

void api_arm_vault_patch(struct api_req *r)
{
    vault_write(r, true);
}

void api_arm_vault_get(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    char rg[91], name[25];
    struct cf_vault v;
    bool nf;
    cf_err e;

    memset(&v, 0, sizeof(v));
    if (!arm_enter(r) || !vault_target(r, false, rg, name, &nf))
        return;
    e = nf ? CF_ENOTFOUND : cf_vault_get(c->vault, c->subscription_id, rg, name, &v);
    if (e == CF_ENOTFOUND)
        vault_not_found(r, rg, r->cap[2]);
    else if (e)
        api_error_err(r, e);
    else
        reply_vault(r, &v, 200);
    cf_vault_release(&v);
}

void api_arm_vault_delete(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    char rg[91], name[25];
    bool nf;
    cf_err e;

    if (!arm_enter(r) || !vault_target(r, false, rg, name, &nf))
        return;
    if (!nf && lock_refuses(r, rg, name, true, false))
        return;
    e = nf ? CF_ENOTFOUND : cf_vault_delete(c->vault, c->subscription_id, rg, name);
    if (e == CF_ENOTFOUND) {
        struct cf_group g;
        memset(&g, 0, sizeof(g));
        e = cf_group_get(c->vault, c->subscription_id, rg, &g);
        cf_group_release(&g);
        if (e == CF_ENOTFOUND)
            rg_not_found(r, rg);
        else
            api_reply_empty(r, 204);
    } else if (e) {
        api_error_err(r, e);
    } else {
        forget_assignments(r, 8);
        api_reply_empty(r, 200);
    }
}

/* ---- incremental access policies (§3.4, Vaults_UpdateAccessPolicy) ---- */

enum pol_op { POL_ADD, POL_REPLACE, POL_REMOVE };

/* Same tenant, object and application (absent matches only absent), case-insensitively. */
static bool pol_match(const struct pol *a, const struct pol *b)
{
    return strcasecmp(a->tenant, b->tenant) == 0 && strcasecmp(a->object, b->object) == 0 &&
           (a->app ? b->app && strcasecmp(a->app, b->app) == 0 : !b->app);
}

static bool pol_empty(const struct pol *p)
{
    for (int k = 0; k < PK_N; k++)
        if (p->perms[k])
            return false;
    return true;
}

/* Applies each entry of in[] to cur[*n] (capacity MAX_POLICIES). add: the matching entry
 * gains the given permissions (union per kind), or the entry is appended; replace: the
 * matching entry's permissions become the given ones, or it is appended; remove: the given
 * permissions are taken from the matching entry, which goes when none remain (no match:
 * nothing). Azure documents the operation kinds but not these per-entry rules (§3.4). */
static bool pol_merge(struct pol *cur, size_t *n, const struct pol *in, size_t nin,
                      enum pol_op op, struct arm_fail *f)
{
    for (size_t j = 0; j < nin; j++) {
        const struct pol *e = &in[j];
        size_t i;
        for (i = 0; i < *n && !pol_match(&cur[i], e); i++)
            ;
        if (op == POL_REMOVE) {
            if (i == *n)
                continue;
            for (int k = 0; k < PK_N; k++)
                if (e->given[k])
                    cur[i].perms[k] &= ~e->perms[k];
            if (pol_empty(&cur[i])) {
                memmove(&cur[i], &cur[i + 1], (*n - i - 1) * sizeof(*cur));
                (*n)--;
            }
            continue;
        }
        if (i == *n) {
            if (*n >= MAX_POLICIES)
                return fail(f, 400, "BadRequest", "A vault can have at most %d access policies.",
                            MAX_POLICIES);
            cur[(*n)++] = *e;
            continue;
        }
        for (int k = 0; k < PK_N; k++) {
            if (op == POL_REPLACE) {
                cur[i].perms[k] = e->perms[k];
                cur[i].given[k] = e->given[k];
            } else if (e->given[k]) {
                cur[i].perms[k] |= e->perms[k];
                cur[i].given[k] = true;
            }
        }
    }
    return true;
}

static void reply_policies(struct api_req *r, const struct cf_vault *v, const char *kind)
{
    char id[300];
    struct cf_jw w;
    const char *pj = v->access_policies_json && v->access_policies_json[0]
                         ? v->access_policies_json
                         : "[]";

    vault_id(id, sizeof(id), r->api->cfg.subscription_id, v);
    snprintf(id + strlen(id), sizeof(id) - strlen(id), "/accessPolicies/%s", kind);
    cf_buf_reset(&r->out);
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "id", id);
    cf_jw_kstr(&w, "type", KV_TYPE "/accessPolicies");
    cf_jw_key(&w, "properties");
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "accessPolicies");
    cf_jw_raw(&w, pj, strlen(pj));
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    if (cf_jw_err(&w))
        api_error_err(r, cf_jw_err(&w));
    else
        api_reply(r, 200);
}

/* PUT .../vaults/{vault}/accessPolicies/{add|replace|remove}: cap[3] is the kind. */
void api_arm_vault_policy(struct api_req *r)
{
    static const char *const kinds[] = {"add", "replace", "remove"};
    const struct cf_api_config *c = &r->api->cfg;
    char rg[91], name[25];
    struct cf_vault cur, upd, out;
    struct cf_json *stored = NULL;
    struct pol *have = NULL, *in = NULL;
    size_t nhave = 0, nin = 0;
    const struct cf_json *list;
    const char *pj;
    struct arm_fail f;
    int op = -1;
    bool nf, created;
    cf_err e;

    memset(&cur, 0, sizeof(cur));
    memset(&upd, 0, sizeof(upd));
    memset(&out, 0, sizeof(out));
    if (!arm_enter(r))
        return;
    for (int i = 0; i < (int)CF_ARRAY_LEN(kinds); i++)
        if (cf_str_eq_ci(r->cap[3], cf_str_from(kinds[i])))
            op = i;
    if (op < 0) {
        api_error(r, 400, "BadRequest", NULL,
                  "The operation kind '%.*s' is not valid. Use 'add', 'replace' or 'remove'.",
                  (int)CF_MIN(r->cap[3].len, 32), r->cap[3].p);
        return;
    }
    if (!api_version_at_least(r, "2019-09-01")) {
        api_error(r, 400, "InvalidApiVersionParameter", NULL,
                  "The api-version '%s' is invalid for access policy updates. Use 2019-09-01 or "
                  "later.",
                  r->api_version);
        return;
    }
    if (!vault_target(r, true, rg, name, &nf) || lock_refuses(r, rg, name, false, false))
        return;
    if (api_body_json(r, false))
        return;
    list = cf_json_get(cf_json_get(r->body, "properties"), "accessPolicies");
    have = calloc(MAX_POLICIES, sizeof(*have));
    in = calloc(MAX_POLICIES, sizeof(*in));
    if (!have || !in) {
        api_error_err(r, CF_ENOMEM);
        goto release;
    }
    if (!list) {
        api_error(r, 400, "BadRequest", NULL,
                  "The parameter 'properties.accessPolicies' is required.");
        goto release;
    }
    if (!pol_parse(list, true, in, &nin, &f)) {
        reply_fail(r, &f);
        goto release;
    }
    e = cf_vault_get(c->vault, c->subscription_id, rg, name, &cur);
    if (e == CF_ENOTFOUND) {
        vault_not_found(r, rg, r->cap[2]);
        goto release;
    }
    if (e) {
        api_error_err(r, e);
        goto release;
    }
    /* what is stored was normalised when written; an entry this parser cannot read would be
     * refused by a PUT too, so a stored list that does not parse is a server fault */
    pj = cur.access_policies_json && cur.access_policies_json[0] ? cur.access_policies_json
                                                                  : "[]";
    e = cf_json_parse(pj, strlen(pj), &stored, NULL, 0);
    if (e || !pol_parse(stored, false, have, &nhave, &f)) {
        api_error_err(r, e ? e : CF_ECORRUPT);
        goto release;
    }
    if (!pol_merge(have, &nhave, in, nin, (enum pol_op)op, &f)) {
        reply_fail(r, &f);
        goto release;
    }
    upd = cur;
    upd.tags_json = dup_or_null(cur.tags_json);
    upd.network_acls_json = dup_or_null(cur.network_acls_json);
    upd.access_policies_json = NULL;
    if ((cur.tags_json && !upd.tags_json) || (cur.network_acls_json && !upd.network_acls_json)) {
        api_error_err(r, CF_ENOMEM);
        goto release;
    }
    if (!pol_write(have, nhave, &upd.access_policies_json, &f)) {
        reply_fail(r, &f);
        goto release;
    }
    e = cf_vault_put(c->vault, &upd, CF_VAULT_PUT_DEFAULT, &created, &out);
    if (e) {
        reply_put_error(r, e, name, false);
        goto release;
    }
    reply_policies(r, &out, kinds[op]);
release:
    free(have);
    free(in);
    cf_json_free(stored);
    vault_in_release(&upd);
    cf_vault_release(&cur);
    cf_vault_release(&out);
}

/* One callback for every vault list: which shape, which filter. */
struct vault_list_arg {
    struct page p;
    struct vault_view vw;
    enum { SHAPE_VAULT, SHAPE_GENERIC, SHAPE_DELETED } shape;
    const struct res_filter *filter;
};

static cf_err vault_list_cb(const struct cf_vault *v, void *arg)
{
    struct vault_list_arg *a = arg;

    if (a->filter && !filter_match(a->filter, v))
        return CF_OK;
    if (!page_take(&a->p))
        return CF_OK;
    if (a->shape == SHAPE_VAULT)
        write_vault(a->p.w, v, &a->vw);
    else if (a->shape == SHAPE_GENERIC)
        write_generic(a->p.w, v, a->vw.sub);
    else
        write_deleted(a->p.w, v, a->vw.sub);
    return cf_jw_err(a->p.w);
}

/* rg NULL: the whole subscription. */
static void vault_list(struct api_req *r, const char *rg, int shape,
                       const struct res_filter *filter)
{
    const struct cf_api_config *c = &r->api->cfg;
    struct vault_list_arg a;
    struct cf_jw w;
    cf_err e;

    memset(&a, 0, sizeof(a));
    cf_jw_init(&w, &r->out);
    if (!page_init(r, &a.p, &w))
        return;
    view_init(r, &a.vw);
    a.shape = shape;
    a.filter = filter;
    if (shape == SHAPE_DELETED)
        e = cf_vault_list_deleted(c->vault, c->subscription_id, vault_list_cb, &a);
    else
        e = cf_vault_list(c->vault, c->subscription_id, rg, vault_list_cb, &a);
    reply_list(r, &a.p, e);
}

void api_arm_vault_list_rg(struct api_req *r)
{
    char rg[91];
    struct arm_fail f;
    struct cf_group g;
    cf_err e;

    if (!arm_enter(r))
        return;
    if (!group_name_ok(r->cap[1], rg, &f)) {
        reply_fail(r, &f);
        return;
    }
    memset(&g, 0, sizeof(g));
    e = cf_group_get(r->api->cfg.vault, r->api->cfg.subscription_id, rg, &g);
    cf_group_release(&g);
    if (e == CF_ENOTFOUND) {
        rg_not_found(r, rg);
        return;
    }
    if (e) {
        api_error_err(r, e);
        return;
    }
    vault_list(r, rg, SHAPE_VAULT, NULL);
}

void api_arm_vault_list_sub(struct api_req *r)
{
    if (!arm_enter(r))
        return;
    vault_list(r, NULL, SHAPE_VAULT, NULL);
}

void api_arm_resources_list(struct api_req *r)
{
    struct cf_str fs = api_query(r, "$filter");
    struct res_filter fl;

    if (!arm_enter(r))
        return;
    if (!parse_filter(fs.p ? fs : CF_STR(""), &fl)) {
        api_error(r, 400, "InvalidFilterInQueryString", NULL,
                  "Invalid $filter '%.*s' specified in the query string.", (int)CF_MIN(fs.len, 200),
                  fs.p);
        return;
    }
    vault_list(r, NULL, SHAPE_GENERIC, &fl);
}

void api_arm_deleted_list(struct api_req *r)
{
    if (!arm_enter(r))
        return;
    vault_list(r, NULL, SHAPE_DELETED, NULL);
}

void api_arm_deleted_hsm_list(struct api_req *r)
{
    static const char empty[] = "{\"value\":[]}";
    if (!arm_enter(r))
        return;
    if (cf_buf_append(&r->out, empty, sizeof(empty) - 1)) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    api_reply(r, 200);
}

/* The deleted vault named by cap[2] in location cap[1]. Replies 404 and returns false when
 * there is none there. */
static bool deleted_lookup(struct api_req *r, struct cf_vault *v)
{
    const struct cf_api_config *c = &r->api->cfg;
    char name[25], loc[64];
    cf_err e = CF_ENOTFOUND;

    if (copy_str(r->cap[2], name, sizeof(name)) &&
        normalize_location(r->cap[1].p, r->cap[1].len, loc)) {
        e = cf_vault_get_deleted(c->vault, c->subscription_id, name, v);
        if (e == CF_OK && strcasecmp(v->location, loc) != 0)
            e = CF_ENOTFOUND;
    }
    if (e == CF_ENOTFOUND) {
        api_error(r, 404, "ResourceNotFound", NULL,
                  "The Resource 'Microsoft.KeyVault/locations/%.*s/deletedVaults/%.*s' under "
                  "subscription '%s' was not found.",
                  (int)CF_MIN(r->cap[1].len, 64), r->cap[1].p, (int)CF_MIN(r->cap[2].len, 64),
                  r->cap[2].p, c->subscription_id);
        return false;
    }
    if (e) {
        api_error_err(r, e);
        return false;
    }
    return true;
}

void api_arm_deleted_get(struct api_req *r)
{
    struct cf_vault v;
    struct cf_jw w;

    memset(&v, 0, sizeof(v));
    if (!arm_enter(r))
        return;
    if (deleted_lookup(r, &v)) {
        cf_jw_init(&w, &r->out);
        write_deleted(&w, &v, r->api->cfg.subscription_id);
        if (cf_jw_err(&w))
            api_error_err(r, cf_jw_err(&w));
        else
            api_reply(r, 200);
    }
    cf_vault_release(&v);
}

void api_arm_deleted_purge(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    struct cf_vault v;
    cf_err e;

    memset(&v, 0, sizeof(v));
    if (!arm_enter(r))
        return;
    if (!deleted_lookup(r, &v) || lock_refuses(r, v.resource_group, v.name, true, false))
        goto release;
    e = cf_vault_purge(c->vault, c->subscription_id, v.name);
    if (e == CF_EPURGEPROTECT)
        api_error(r, 409, "Conflict", NULL,
                  "Operation 'DeletedVaultPurge' is not allowed. The vault '%s' has purge "
                  "protection enabled; it is purged automatically on its scheduled purge date.",
                  v.name);
    else if (e == CF_ENOTFOUND)
        api_error(r, 404, "ResourceNotFound", NULL, "The deleted vault '%s' was not found.",
                  v.name);
    else if (e)
        api_error_err(r, e);
    else
        api_reply_empty(r, 200);
release:
    cf_vault_release(&v);
}

void api_arm_check_name(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    const char *type, *name;
    size_t n = 0;
    struct cf_vault_ref ref;
    struct cf_vault del;
    struct cf_jw w;
    bool taken = false;
    char nm[25];
    cf_err e;

    memset(&del, 0, sizeof(del));
    if (!arm_enter(r))
        return;
    if (api_body_json(r, false))
        return;
    name = cf_json_str(cf_json_get(r->body, "name"), &n);
    type = cf_json_str(cf_json_get(r->body, "type"), NULL);
    if (!name) {
        api_error(r, 400, "BadRequest", NULL, "The parameter 'name' is required.");
        return;
    }
    if (!type || strcasecmp(type, KV_TYPE) != 0) {
        api_error(r, 400, "BadRequest", NULL, "The parameter 'type' must be '" KV_TYPE "'.");
        return;
    }
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    if (!cf_name_valid_vault((struct cf_str){name, n}) ||
        !copy_str((struct cf_str){name, n}, nm, 25)) {
        cf_jw_kbool(&w, "nameAvailable", false);
        cf_jw_kstr(&w, "reason", "AccountNameInvalid");
        cf_jw_kstr(&w, "message", MSG_VAULT_NAME);
    } else {
        e = cf_vault_resolve(c->vault, (struct cf_str){name, n}, &ref);
        if (e == CF_ENOTFOUND)
            e = cf_vault_get_deleted(c->vault, c->subscription_id, nm, &del);
        taken = e == CF_OK;
        cf_vault_release(&del);
        if (e && e != CF_ENOTFOUND) {
            api_error_err(r, e);
            return;
        }
        cf_jw_kbool(&w, "nameAvailable", !taken);
        if (taken) {
            char msg[900];
            cf_jw_kstr(&w, "reason", "AlreadyExists");
            snprintf(msg, sizeof(msg), MSG_ALREADY_EXISTS, nm);
            cf_jw_kstr(&w, "message", msg);
        }
    }
    cf_jw_obj_end(&w);
    if (cf_jw_err(&w)) {
        api_error_err(r, cf_jw_err(&w));
        return;
    }
    api_reply(r, 200);
}

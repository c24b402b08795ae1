/* cmd_arm.c - the management-plane commands: login/logout/account, resource groups
 * (api-version 2022-09-01) and vaults (2023-07-01, azure-kv-secrets.md §15.4), with the az
 * shapes of their results (azure-mgmt models through todict: every model field, null when
 * unset; resourceGroup is added later by the global transform).
 *
 * Map: login - account - shaping - groups - vault lookup helpers - vault commands. */
#include "base/cf.h"
#include "base/secret.h"
#include "cli/cli_int.h"

#include <unistd.h>

#define VAULT_API CF_CLI_VAULT_API
#define GROUP_API "api-version=2022-09-01"
#define SUBS_API "api-version=2022-12-01"

/* ---- login ---- */

struct login_src {
    char tenant[128], client[256], secret[1024], authority[512], mgmt[512], suffix[256],
        port[16], ca[1024], cert[1024];
};

static void put_field(char *dst, size_t n, const char *v)
{
    if (v && !dst[0])
        snprintf(dst, n, "%s", v);
}

static void env_cb(void *ctx, const char *name, const char *value)
{
    struct login_src *s = ctx;
    if (!strcmp(name, "AZURE_TENANT_ID"))
        put_field(s->tenant, sizeof(s->tenant), value);
    else if (!strcmp(name, "AZURE_CLIENT_ID"))
        put_field(s->client, sizeof(s->client), value);
    else if (!strcmp(name, "AZURE_CLIENT_SECRET"))
        put_field(s->secret, sizeof(s->secret), value);
    else if (!strcmp(name, "AZURE_AUTHORITY_HOST"))
        put_field(s->authority, sizeof(s->authority), value);
    else if (!strcmp(name, "COFFER_MANAGEMENT_URL"))
        put_field(s->mgmt, sizeof(s->mgmt), value);
    else if (!strcmp(name, "COFFER_DNS_SUFFIX"))
        put_field(s->suffix, sizeof(s->suffix), value);
    else if (!strcmp(name, "COFFER_PORT"))
        put_field(s->port, sizeof(s->port), value);
    else if (!strcmp(name, "COFFER_CA_FILE"))
        put_field(s->ca, sizeof(s->ca), value);
}

/* Port of an https URL ("https://h:8443/x" -> 8443; none -> 443). */
static int url_port(const char *url)
{
    const char *h = strstr(url, "://"), *c, *e;
    int64_t p;
    if (!h)
        return 443;
    h += 3;
    e = h + strcspn(h, "/");
    c = memchr(h, ':', (size_t)(e - h));
    if (c && h[0] != '[' && cf_str_to_i64((struct cf_str){c + 1, (size_t)(e - c - 1)}, &p))
        return (int)p;
    return 443;
}

static struct cf_val *account_val(const struct cf_cli_profile *p, bool login_shape)
{
    struct cf_val *o = cf_val_obj(), *u = cf_val_obj();
    if (!o || !u || cf_val_set(u, "name", cf_val_str(p->client_id)) ||
        cf_val_set(u, "type", cf_val_str("servicePrincipal")) ||
        cf_val_set(o, login_shape ? "cloudName" : "environmentName", cf_val_str(p->environment)) ||
        cf_val_set(o, "homeTenantId", cf_val_str(p->tenant_id)) ||
        cf_val_set(o, "id", cf_val_str(p->subscription_id)) ||
        cf_val_set(o, "isDefault", cf_val_bool(true)) ||
        cf_val_set(o, "managedByTenants", cf_val_arr()) ||
        cf_val_set(o, "name", cf_val_str(p->subscription_name)) ||
        cf_val_set(o, "state", cf_val_str("Enabled")) ||
        cf_val_set(o, "tenantId", cf_val_str(p->tenant_id)) || cf_val_set(o, "user", u)) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* --certificate FILE, or (as az) a --password naming a PEM file: the profile keeps the
 * absolute path; the file must hold a certificate (the key is checked at the first token). */
static int login_cert(struct cf_cli_run *r, struct login_src *s)
{
    const char *c = cf_cli_arg(r, "--certificate"), *p = cf_cli_arg(r, "--password");
    struct cf_buf pem, der;
    char *abs;
    int rc = 0;

    if (!c && p && access(p, R_OK) == 0) {
        /* az: "-p" may be the path of a PEM certificate with its private key */
        if (cf_cli_read_file(p, 1024 * 1024, &pem) == CF_OK && pem.data &&
            strstr(pem.data, "-----BEGIN CERTIFICATE-----"))
            c = p;
        cf_buf_wipe(&pem);
    }
    if (!c)
        return 0;
    abs = realpath(c, NULL);
    if (!abs || cf_cli_read_file(abs, 1024 * 1024, &pem) != CF_OK) {
        free(abs);
        return cf_cli_fail(r, 1, "cannot read the certificate file '%s'", c);
    }
    cf_buf_init(&der, 64 * 1024);
    if (cf_cli_pem_cert_der(pem.data, pem.len, &der) != CF_OK)
        rc = cf_cli_fail(r, 1, "'%s' holds no PEM certificate", c);
    else if (strlen(abs) >= sizeof(s->cert))
        rc = cf_cli_fail(r, 1, "the certificate path is too long");
    else
        snprintf(s->cert, sizeof(s->cert), "%s", abs);
    s->secret[0] = '\0';
    cf_buf_release(&der);
    cf_buf_wipe(&pem);
    free(abs);
    return rc;
}

int cf_cli_cmd_login(struct cf_cli_run *r)
{
    struct login_src *s = calloc(1, sizeof(*s));
    struct cf_cli_http h = {0};
    struct cf_val *arr;
    const struct cf_val *sub;
    char url[1200];
    int rc = 0;
    static const char *const env_names[] = {
        "AZURE_TENANT_ID", "AZURE_CLIENT_ID",   "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
        "COFFER_MANAGEMENT_URL", "COFFER_DNS_SUFFIX", "COFFER_PORT",   "COFFER_CA_FILE"};

    if (!s)
        return cf_cli_fail(r, 1, "out of memory");
    /* Explicit arguments first, then the environment, then the server's env file. */
    put_field(s->tenant, sizeof(s->tenant), cf_cli_arg(r, "--tenant"));
    put_field(s->client, sizeof(s->client), cf_cli_arg(r, "--username"));
    put_field(s->secret, sizeof(s->secret), cf_cli_arg(r, "--password"));
    put_field(s->authority, sizeof(s->authority), cf_cli_arg(r, "--authority"));
    put_field(s->mgmt, sizeof(s->mgmt), cf_cli_arg(r, "--management-url"));
    put_field(s->suffix, sizeof(s->suffix), cf_cli_arg(r, "--dns-suffix"));
    put_field(s->port, sizeof(s->port), cf_cli_arg(r, "--port"));
    put_field(s->ca, sizeof(s->ca), cf_cli_arg(r, "--ca-file"));
    if ((rc = login_cert(r, s)) != 0)
        goto out;
    if (cf_cli_has(r, "--service-principal") &&
        (!s->tenant[0] || !s->client[0] || (!s->secret[0] && !s->cert[0]))) {
        rc = cf_cli_fail(r, 2, "usage error: --service-principal --username NAME --password "
                               "SECRET | --certificate FILE --tenant TENANT");
        goto out;
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(env_names); i++)
        env_cb(s, env_names[i], cf_cli_env(r, env_names[i]));
    if (!s->client[0] || (!s->secret[0] && !s->cert[0]) || !s->tenant[0] || !s->authority[0] ||
        !s->mgmt[0]) {
        const char *f = cf_cli_arg(r, "--env-file");
        cf_err e = cf_cli_read_env_file(f ? f : "coffer-data/env", env_cb, s);
        if (e != CF_OK && f) {
            rc = cf_cli_fail(r, 1, "cannot read the env file '%s'", f);
            goto out;
        }
    }
    if (s->cert[0])
        s->secret[0] = '\0'; /* the certificate is the credential: keep no secret with it */
    if (!s->client[0] || (!s->secret[0] && !s->cert[0]) || !s->tenant[0]) {
        rc = cf_cli_fail(r, 1, "No credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                               "AZURE_CLIENT_SECRET, pass --service-principal -u -p --tenant, "
                               "or point --env-file at the server's env file.");
        goto out;
    }
    if (!s->authority[0] || !s->mgmt[0]) {
        rc = cf_cli_fail(r, 1, "No endpoints: set AZURE_AUTHORITY_HOST and COFFER_MANAGEMENT_URL "
                               "or pass --authority and --management-url.");
        goto out;
    }
    snprintf(r->prof.tenant_id, sizeof(r->prof.tenant_id), "%s", s->tenant);
    snprintf(r->prof.client_id, sizeof(r->prof.client_id), "%s", s->client);
    r->prof.client_secret = strdup(s->secret);
    snprintf(r->prof.authority, sizeof(r->prof.authority), "%s", s->authority);
    snprintf(r->prof.management_url, sizeof(r->prof.management_url), "%s", s->mgmt);
    snprintf(r->prof.dns_suffix, sizeof(r->prof.dns_suffix), "%s",
             s->suffix[0] ? s->suffix : "vault.localhost");
    {
        int64_t p;
        r->prof.port = s->port[0] && cf_str_to_i64(cf_str_from(s->port), &p) ? (int)p
                                                                              : url_port(s->mgmt);
    }
    snprintf(r->prof.ca_file, sizeof(r->prof.ca_file), "%s", s->ca);
    snprintf(r->prof.cert_file, sizeof(r->prof.cert_file), "%s", s->cert);
    snprintf(r->prof.environment, sizeof(r->prof.environment), "Coffer");
    if (!r->prof.client_secret) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    r->have_profile = true;
    /* Tokens cached for a previous login belong to other credentials. */
    if (cf_cli_profile_remove(r->config_dir) != CF_OK) {
    }
    {
        char aud[600];
        cf_cli_mgmt_audience(r, aud, sizeof(aud));
        snprintf(url, sizeof(url), "%s/subscriptions?" SUBS_API, aud);
        if ((rc = cf_cli_list_all(r, url, aud, &arr)) != 0) {
            cf_val_unref(arr);
            goto out;
        }
    }
    sub = cf_val_at(arr, 0);
    if (!sub) {
        cf_val_unref(arr);
        rc = cf_cli_fail(r, 1, "No subscriptions found for %s.", s->client);
        goto out;
    }
    {
        const struct cf_val *sid = cf_val_get(sub, "subscriptionId");
        const struct cf_val *dn = cf_val_get(sub, "displayName");
        snprintf(r->prof.subscription_id, sizeof(r->prof.subscription_id), "%s",
                 sid && sid->type == CF_VAL_STR ? sid->s : "");
        snprintf(r->prof.subscription_name, sizeof(r->prof.subscription_name), "%s",
                 dn && dn->type == CF_VAL_STR ? dn->s : "");
    }
    cf_val_unref(arr);
    if (cf_cli_profile_save(r->config_dir, &r->prof) != CF_OK) {
        rc = cf_cli_fail(r, 1, "cannot write the profile in %s", r->config_dir);
        goto out;
    }
    arr = cf_val_arr();
    if (!arr || cf_val_push(arr, account_val(&r->prof, true)) != CF_OK) {
        cf_val_unref(arr);
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    r->result = arr;
out:
    cf_cli_http_release(&h);
    cf_wipe(s, sizeof(*s));
    free(s);
    return rc;
}

int cf_cli_cmd_logout(struct cf_cli_run *r)
{
    struct cf_cli_profile p;
    if (cf_cli_profile_load(r->config_dir, &p) == CF_ENOTFOUND)
        return cf_cli_fail(r, 1, "There are no active accounts.");
    cf_cli_profile_release(&p);
    if (cf_cli_profile_remove(r->config_dir) != CF_OK)
        return cf_cli_fail(r, 1, "cannot remove the profile in %s", r->config_dir);
    return 0;
}

int cf_cli_cmd_account_show(struct cf_cli_run *r)
{
    r->result = account_val(&r->prof, false);
    return r->result ? 0 : cf_cli_fail(r, 1, "out of memory");
}

/* ---- shaping ---- */

/* Copies the listed keys of src (null when absent) into a new object. */
static struct cf_val *pick(const struct cf_val *src, const char *const *keys)
{
    struct cf_val *o = cf_val_obj();
    for (size_t i = 0; o && keys[i]; i++) {
        if (cf_val_set(o, keys[i], cf_cli_copy(cf_val_get(src, keys[i]))) != CF_OK) {
            cf_val_unref(o);
            return NULL;
        }
    }
    return o;
}

static struct cf_val *shape_system_data(const struct cf_val *s)
{
    static const char *const keys[] = {"createdBy", "createdByType", "lastModifiedBy",
                                       "lastModifiedByType", NULL};
    struct cf_val *o;
    if (!s || s->type != CF_VAL_OBJ)
        return cf_val_null();
    o = pick(s, keys);
    if (o && (cf_val_set(o, "createdAt", cf_cli_arm_time_val(cf_val_get(s, "createdAt"))) ||
              cf_val_set(o, "lastModifiedAt",
                         cf_cli_arm_time_val(cf_val_get(s, "lastModifiedAt"))))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct cf_val *cf_cli_shape_vault(const struct cf_val *v)
{
    static const char *const top[] = {"id", "name", "type", "location", "tags", NULL};
    static const char *const props[] = {
        "tenantId", "sku", "accessPolicies", "vaultUri", "hsmPoolResourceId",
        "enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment",
        "enableSoftDelete", "softDeleteRetentionInDays", "enableRbacAuthorization", "createMode",
        "enablePurgeProtection", "networkAcls", "provisioningState", "privateEndpointConnections",
        "publicNetworkAccess", NULL};
    struct cf_val *o = pick(v, top);
    struct cf_val *p = pick(cf_val_get(v, "properties"), props);
    if (!o || !p || cf_val_set(o, "properties", p) ||
        cf_val_set(o, "systemData", shape_system_data(cf_val_get(v, "systemData")))) {
        if (!o || !p)
            cf_val_unref(p);
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* `az keyvault list` without -g goes through the generic resources list: id, name, type,
 * location, tags only. */
static struct cf_val *shape_vault_brief(const struct cf_val *v)
{
    static const char *const top[] = {"id", "name", "type", "location", "tags", NULL};
    return pick(v, top);
}

static struct cf_val *shape_deleted_vault(const struct cf_val *v)
{
    static const char *const top[] = {"id", "name", "type", NULL};
    static const char *const props[] = {"vaultId", "location", "tags", "purgeProtectionEnabled",
                                        NULL};
    const struct cf_val *sp = cf_val_get(v, "properties");
    struct cf_val *o = pick(v, top), *p = pick(sp, props);
    if (!o || !p || cf_val_set(p, "deletionDate", cf_cli_arm_time_val(cf_val_get(sp, "deletionDate"))) ||
        cf_val_set(p, "scheduledPurgeDate",
                   cf_cli_arm_time_val(cf_val_get(sp, "scheduledPurgeDate"))) ||
        cf_val_set(o, "properties", cf_val_ref(p))) {
        cf_val_unref(p);
        cf_val_unref(o);
        return NULL;
    }
    cf_val_unref(p);
    return o;
}

struct cf_val *cf_cli_shape_group(const struct cf_val *g)
{
    static const char *const top[] = {"id", "name", "type", "location", "managedBy", "tags", NULL};
    struct cf_val *o = pick(g, top), *p = cf_val_obj();
    const struct cf_val *ps = cf_val_get(cf_val_get(g, "properties"), "provisioningState");
    if (!o || !p || cf_val_set(p, "provisioningState", cf_cli_copy(ps)) ||
        cf_val_set(o, "properties", cf_val_ref(p))) {
        cf_val_unref(p);
        cf_val_unref(o);
        return NULL;
    }
    cf_val_unref(p);
    return o;
}

static int set_result(struct cf_cli_run *r, struct cf_val *v)
{
    r->result = v;
    return v ? 0 : cf_cli_fail(r, 1, "out of memory");
}

static int shape_list(struct cf_cli_run *r, struct cf_val *items,
                      struct cf_val *(*shape)(const struct cf_val *))
{
    struct cf_val *out = cf_val_arr();
    for (size_t i = 0; out && i < items->n; i++)
        if (cf_val_push(out, shape(items->items[i])) != CF_OK) {
            cf_val_unref(out);
            out = NULL;
        }
    cf_val_unref(items);
    return set_result(r, out);
}

/* ---- groups ---- */

static void mgmt(struct cf_cli_run *r, char *aud, size_t n)
{
    cf_cli_mgmt_audience(r, aud, n);
}

static void group_url(struct cf_cli_run *r, const char *name, char *url, size_t n)
{
    char aud[600], enc[400];
    mgmt(r, aud, sizeof(aud));
    cf_cli_pct(name, enc, sizeof(enc));
    snprintf(url, n, "%s/subscriptions/%s/resourcegroups/%s?" GROUP_API, aud,
             r->prof.subscription_id, enc);
}

int cf_cli_cmd_group_create(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj();
    const struct cf_cli_arg *tags = cf_cli_argv(r, "--tags");
    char url[2048], aud[600];
    int rc;
    if (!body || cf_val_set(body, "location", cf_val_str(cf_cli_arg(r, "--location"))) ||
        (tags && cf_val_set(body, "tags", cf_cli_tags(tags)))) {
        cf_val_unref(body);
        return cf_cli_fail(r, 1, "out of memory");
    }
    group_url(r, cf_cli_arg(r, "--name"), url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    rc = cf_cli_call(r, "PUT", url, aud, body, false, &h);
    cf_val_unref(body);
    if (rc)
        return rc;
    rc = set_result(r, cf_cli_shape_group(h.body));
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_group_list(struct cf_cli_run *r)
{
    struct cf_val *items = NULL;
    char url[2048], aud[600];
    const char *tag = cf_cli_arg(r, "--tag");
    int rc;
    mgmt(r, aud, sizeof(aud));
    snprintf(url, sizeof(url), "%s/subscriptions/%s/resourcegroups?" GROUP_API, aud,
             r->prof.subscription_id);
    if ((rc = cf_cli_list_all(r, url, aud, &items)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    if (tag) {
        /* --tag k[=v]: keep groups carrying the tag (with that value). */
        struct cf_val *kept = cf_val_arr();
        const char *eq = strchr(tag, '=');
        char key[512];
        snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - tag) : (int)strlen(tag), tag);
        for (size_t i = 0; kept && i < items->n; i++) {
            const struct cf_val *tv = cf_val_get(cf_val_get(items->items[i], "tags"), key);
            if (tv && (!eq || cf_val_is_str(tv, eq + 1)) &&
                cf_val_push(kept, cf_val_ref(items->items[i])) != CF_OK) {
                cf_val_unref(kept);
                kept = NULL;
            }
        }
        cf_val_unref(items);
        if (!kept)
            return cf_cli_fail(r, 1, "out of memory");
        items = kept;
    }
    return shape_list(r, items, cf_cli_shape_group);
}

int cf_cli_cmd_group_show(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char url[2048], aud[600];
    int rc;
    group_url(r, cf_cli_arg(r, "--name"), url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "GET", url, aud, NULL, false, &h)) != 0)
        return rc;
    rc = set_result(r, cf_cli_shape_group(h.body));
    cf_cli_http_release(&h);
    return rc;
}

/* Polls an ARM Location URL while it answers 202 (long-running delete/purge). */
static int poll_location(struct cf_cli_run *r, const char *aud, struct cf_cli_http *h)
{
    char loc[1024];
    for (int i = 0; i < 120 && h->status == 202 && h->location[0]; i++) {
        int rc;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 500 * 1000000L};
        snprintf(loc, sizeof(loc), "%s", h->location);
        cf_cli_http_release(h);
        nanosleep(&ts, NULL);
        if ((rc = cf_cli_call(r, "GET", loc, aud, NULL, false, h)) != 0)
            return rc;
    }
    return 0;
}

int cf_cli_cmd_group_delete(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char url[2048], aud[600];
    int rc;
    if (!cf_cli_has(r, "--yes")) {
        char ans[16];
        if (!isatty(0))
            return cf_cli_fail(r, 1, "Unable to prompt for confirmation as no tty available. "
                                     "Use --yes.");
        fprintf(r->ctx->err, "Are you sure you want to perform this operation? (y/n): ");
        if (!fgets(ans, sizeof(ans), stdin) || (ans[0] != 'y' && ans[0] != 'Y'))
            return 0;
    }
    group_url(r, cf_cli_arg(r, "--name"), url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "DELETE", url, aud, NULL, false, &h)) != 0)
        return rc;
    if (!cf_cli_has(r, "--no-wait"))
        rc = poll_location(r, aud, &h);
    cf_cli_http_release(&h);
    return rc;
}

/* ---- vault lookup ---- */

static void vault_url(struct cf_cli_run *r, const char *rg, const char *name, char *url, size_t n)
{
    char aud[600], erg[400], en[200];
    mgmt(r, aud, sizeof(aud));
    cf_cli_pct(rg, erg, sizeof(erg));
    cf_cli_pct(name, en, sizeof(en));
    snprintf(url, n,
             "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s?" VAULT_API,
             aud, r->prof.subscription_id, erg, en);
}

/* The resource group part of an ARM id, or "" . */
static void rg_from_id(const char *id, char *out, size_t n)
{
    const char *p = id ? strcasestr(id, "/resourceGroups/") : NULL;
    out[0] = '\0';
    if (p) {
        p += 16;
        snprintf(out, n, "%.*s", (int)strcspn(p, "/"), p);
    }
}

/* Finds the resource group of vault name (-g when given). Returns an exit code or 0. */
static int vault_rg(struct cf_cli_run *r, const char *name, char *rg, size_t n)
{
    return cf_cli_vault_group(r, name, rg, n, (r->cmd->flags & CMD_SHOW) ? 3 : 1);
}

/* Finds deleted vault name: its location and original resource group. */
static int deleted_vault(struct cf_cli_run *r, const char *name, char *loc, size_t ln, char *rg,
                         size_t rn)
{
    struct cf_val *items = NULL;
    char url[2048], aud[600];
    int rc;

    mgmt(r, aud, sizeof(aud));
    snprintf(url, sizeof(url), "%s/subscriptions/%s/providers/Microsoft.KeyVault/deletedVaults?" VAULT_API,
             aud, r->prof.subscription_id);
    if ((rc = cf_cli_list_all(r, url, aud, &items)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    loc[0] = rg[0] = '\0';
    for (size_t i = 0; i < items->n; i++) {
        const struct cf_val *it = items->items[i], *p = cf_val_get(it, "properties");
        const struct cf_val *vn = cf_val_get(it, "name");
        const struct cf_val *l = cf_val_get(p, "location"), *vid = cf_val_get(p, "vaultId");
        if (vn && vn->type == CF_VAL_STR && !strcasecmp(vn->s, name)) {
            if (l && l->type == CF_VAL_STR)
                snprintf(loc, ln, "%s", l->s);
            if (vid && vid->type == CF_VAL_STR)
                rg_from_id(vid->s, rg, rn);
            break;
        }
    }
    cf_val_unref(items);
    if (!loc[0])
        return cf_cli_fail(r, (r->cmd->flags & CMD_SHOW) ? 3 : 1,
                           "No deleted Vault named '%s' was found within subscription.", name);
    return 0;
}

static int get_vault(struct cf_cli_run *r, const char *rg, const char *name, struct cf_cli_http *h)
{
    char url[2048], aud[600];
    vault_url(r, rg, name, url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    return cf_cli_call(r, "GET", url, aud, NULL, false, h);
}

/* ---- vault commands ---- */

static bool opt_bool(struct cf_cli_run *r, const char *name, bool *out)
{
    const char *v = cf_cli_arg(r, name);
    if (!v)
        return false;
    *out = !strcmp(v, "true");
    return true;
}

int cf_cli_cmd_vault_create(struct cf_cli_run *r)
{
    const char *name = cf_cli_arg(r, "--name"), *rg = cf_cli_arg(r, "--resource-group");
    const char *loc = cf_cli_arg(r, "--location"), *sku = cf_cli_arg(r, "--sku");
    const char *days = cf_cli_arg(r, "--retention-days"), *pna = cf_cli_arg(r, "--public-network-access");
    const struct cf_cli_arg *tags = cf_cli_argv(r, "--tags");
    struct cf_cli_http h = {0};
    struct cf_val *body = NULL, *props = NULL, *skuv = NULL;
    char url[2048], aud[600], gloc[128] = "";
    int64_t nd = 90;
    bool b;
    int rc;

    if (days && (!cf_str_to_i64(cf_str_from(days), &nd) || nd < 7 || nd > 90))
        return cf_cli_fail(r, 2, "--retention-days must be between 7 and 90.");
    if (sku && strcasecmp(sku, "standard") && strcasecmp(sku, "premium"))
        return cf_cli_fail(r, 2, "argument --sku: invalid choice: '%s' (choose from 'premium', "
                                 "'standard')", sku);
    mgmt(r, aud, sizeof(aud));
    vault_url(r, rg, name, url, sizeof(url));
    if ((rc = cf_cli_call(r, "GET", url, aud, NULL, true, &h)) != 0)
        return rc;
    if (h.status != 404) {
        cf_cli_http_release(&h);
        return cf_cli_fail(r, 1, "The specified vault: %s already exists", name);
    }
    cf_cli_http_release(&h);
    if (!loc) {
        /* az defaults the location to the resource group's. */
        char gurl[2048];
        const struct cf_val *l;
        group_url(r, rg, gurl, sizeof(gurl));
        if ((rc = cf_cli_call(r, "GET", gurl, aud, NULL, false, &h)) != 0)
            return rc;
        l = cf_val_get(h.body, "location");
        if (l && l->type == CF_VAL_STR)
            snprintf(gloc, sizeof(gloc), "%s", l->s);
        cf_cli_http_release(&h);
        loc = gloc;
    }
    body = cf_val_obj();
    props = cf_val_obj();
    skuv = cf_val_obj();
    if (!body || !props || !skuv || cf_val_set(skuv, "family", cf_val_str("A")) ||
        cf_val_set(skuv, "name", cf_val_str(sku ? (strcasecmp(sku, "premium") ? "standard" : "premium")
                                                : "standard")) ||
        cf_val_set(props, "tenantId", cf_val_str(r->prof.tenant_id)) ||
        cf_val_set(props, "sku", cf_val_ref(skuv)) ||
        cf_val_set(props, "accessPolicies", cf_val_arr()) ||
        cf_val_set(props, "enableSoftDelete", cf_val_bool(true)) ||
        cf_val_set(props, "softDeleteRetentionInDays", cf_val_int(nd)) ||
        cf_val_set(props, "enableRbacAuthorization",
                   cf_val_bool(opt_bool(r, "--enable-rbac-authorization", &b) ? b : true)) ||
        (opt_bool(r, "--enable-purge-protection", &b) &&
         cf_val_set(props, "enablePurgeProtection", cf_val_bool(b))) ||
        (opt_bool(r, "--enabled-for-deployment", &b) &&
         cf_val_set(props, "enabledForDeployment", cf_val_bool(b))) ||
        (opt_bool(r, "--enabled-for-disk-encryption", &b) &&
         cf_val_set(props, "enabledForDiskEncryption", cf_val_bool(b))) ||
        (opt_bool(r, "--enabled-for-template-deployment", &b) &&
         cf_val_set(props, "enabledForTemplateDeployment", cf_val_bool(b))) ||
        (pna && cf_val_set(props, "publicNetworkAccess", cf_val_str(pna))) ||
        cf_val_set(body, "location", cf_val_str(loc)) ||
        (tags && cf_val_set(body, "tags", cf_cli_tags(tags))) ||
        cf_val_set(body, "properties", cf_val_ref(props))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = cf_cli_call(r, "PUT", url, aud, body, false, &h)) != 0)
        goto out;
    rc = set_result(r, cf_cli_shape_vault(h.body));
    cf_cli_http_release(&h);
out:
    cf_val_unref(skuv);
    cf_val_unref(props);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_vault_list(struct cf_cli_run *r)
{
    struct cf_val *items = NULL;
    char url[2048], aud[600], erg[400];
    const char *rg = cf_cli_arg(r, "--resource-group");
    int rc;
    mgmt(r, aud, sizeof(aud));
    if (rg) {
        cf_cli_pct(rg, erg, sizeof(erg));
        snprintf(url, sizeof(url),
                 "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults?" VAULT_API,
                 aud, r->prof.subscription_id, erg);
    } else {
        snprintf(url, sizeof(url), "%s/subscriptions/%s/providers/Microsoft.KeyVault/vaults?" VAULT_API,
                 aud, r->prof.subscription_id);
    }
    if ((rc = cf_cli_list_all(r, url, aud, &items)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    return shape_list(r, items, rg ? cf_cli_shape_vault : shape_vault_brief);
}

int cf_cli_cmd_vault_show(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char rg[256];
    const char *name = cf_cli_arg(r, "--name");
    int rc;
    if ((rc = vault_rg(r, name, rg, sizeof(rg))) != 0 || (rc = get_vault(r, rg, name, &h)) != 0)
        return rc;
    rc = set_result(r, cf_cli_shape_vault(h.body));
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_vault_update(struct cf_cli_run *r)
{
    static const char *const flags[][2] = {
        {"--enable-purge-protection", "enablePurgeProtection"},
        {"--enable-rbac-authorization", "enableRbacAuthorization"},
        {"--enabled-for-deployment", "enabledForDeployment"},
        {"--enabled-for-disk-encryption", "enabledForDiskEncryption"},
        {"--enabled-for-template-deployment", "enabledForTemplateDeployment"},
    };
    struct cf_cli_http h;
    struct cf_val *body = NULL, *props = NULL;
    const struct cf_val *cur, *cp;
    const char *name = cf_cli_arg(r, "--name"), *days = cf_cli_arg(r, "--retention-days");
    const char *pna = cf_cli_arg(r, "--public-network-access");
    const char *def_action = cf_cli_arg(r, "--default-action"), *bypass = cf_cli_arg(r, "--bypass");
    const struct cf_cli_arg *tags = cf_cli_argv(r, "--tags");
    char rg[256], url[2048], aud[600];
    int64_t nd = 0;
    int rc;

    if (days && (!cf_str_to_i64(cf_str_from(days), &nd) || nd < 7 || nd > 90))
        return cf_cli_fail(r, 2, "--retention-days must be between 7 and 90.");
    if (def_action && strcasecmp(def_action, "Allow") && strcasecmp(def_action, "Deny"))
        return cf_cli_fail(r, 2, "argument --default-action: invalid choice: '%s' (choose from "
                                 "'Allow', 'Deny')", def_action);
    if (bypass && strcasecmp(bypass, "AzureServices") && strcasecmp(bypass, "None"))
        return cf_cli_fail(r, 2, "argument --bypass: invalid choice: '%s' (choose from "
                                 "'AzureServices', 'None')", bypass);
    if ((rc = vault_rg(r, name, rg, sizeof(rg))) != 0 || (rc = get_vault(r, rg, name, &h)) != 0)
        return rc;
    /* az's generic update: GET, change, PUT the whole resource back. */
    cur = h.body;
    cp = cf_val_get(cur, "properties");
    body = cf_val_obj();
    props = cf_val_obj();
    for (size_t i = 0; props && cp && cp->type == CF_VAL_OBJ && i < cp->n; i++)
        if (cf_val_set(props, cp->keys[i], cf_val_ref(cp->items[i])) != CF_OK) {
            cf_val_unref(props);
            props = NULL;
        }
    if (!body || !props) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(flags); i++) {
        bool b;
        if (opt_bool(r, flags[i][0], &b) && cf_val_set(props, flags[i][1], cf_val_bool(b))) {
            rc = cf_cli_fail(r, 1, "out of memory");
            goto out;
        }
    }
    if (def_action || bypass) {
        /* networkAcls: a fresh object keeping the current rules, with the given members */
        const struct cf_val *cur_acls = cf_val_get(cp, "networkAcls");
        struct cf_val *acls = cf_val_obj();
        static const char *const keep[] = {"bypass", "defaultAction", "ipRules",
                                           "virtualNetworkRules"};
        for (size_t i = 0; acls && i < CF_ARRAY_LEN(keep); i++) {
            const struct cf_val *v = cf_val_get(cur_acls, keep[i]);
            if (v && cf_val_set(acls, keep[i], cf_cli_copy(v)) != CF_OK) {
                cf_val_unref(acls);
                acls = NULL;
            }
        }
        if (acls &&
            ((def_action && cf_val_set(acls, "defaultAction",
                                       cf_val_str(strcasecmp(def_action, "Deny") ? "Allow" : "Deny"))) ||
             (bypass && cf_val_set(acls, "bypass",
                                   cf_val_str(strcasecmp(bypass, "None") ? "AzureServices" : "None"))))) {
            cf_val_unref(acls);
            acls = NULL;
        }
        if (!acls || cf_val_set(props, "networkAcls", acls)) {
            rc = cf_cli_fail(r, 1, "out of memory");
            goto out;
        }
    }
    if ((days && cf_val_set(props, "softDeleteRetentionInDays", cf_val_int(nd))) ||
        (pna && cf_val_set(props, "publicNetworkAccess", cf_val_str(pna))) ||
        cf_val_set(body, "location", cf_cli_copy(cf_val_get(cur, "location"))) ||
        cf_val_set(body, "tags", tags ? cf_cli_tags(tags) : cf_cli_copy(cf_val_get(cur, "tags"))) ||
        cf_val_set(body, "properties", cf_val_ref(props))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    cf_cli_http_release(&h);
    vault_url(r, rg, name, url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "PUT", url, aud, body, false, &h)) != 0)
        goto out;
    rc = set_result(r, cf_cli_shape_vault(h.body));
out:
    cf_cli_http_release(&h);
    cf_val_unref(props);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_vault_delete(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char rg[256], url[2048], aud[600];
    const char *name = cf_cli_arg(r, "--name");
    int rc;
    if ((rc = vault_rg(r, name, rg, sizeof(rg))) != 0)
        return rc;
    vault_url(r, rg, name, url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "DELETE", url, aud, NULL, false, &h)) != 0)
        return rc;
    cf_cli_http_release(&h);
    return 0;
}

int cf_cli_cmd_vault_recover(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj(), *props = cf_val_obj(), *sku = cf_val_obj();
    const char *name = cf_cli_arg(r, "--name");
    char loc[128], rg[256], url[2048], aud[600];
    int rc;

    if (!body || !props || !sku) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = deleted_vault(r, name, loc, sizeof(loc), rg, sizeof(rg))) != 0)
        goto out;
    if (cf_cli_arg(r, "--location"))
        snprintf(loc, sizeof(loc), "%s", cf_cli_arg(r, "--location"));
    if (cf_cli_arg(r, "--resource-group"))
        snprintf(rg, sizeof(rg), "%s", cf_cli_arg(r, "--resource-group"));
    if (cf_val_set(sku, "family", cf_val_str("A")) || cf_val_set(sku, "name", cf_val_str("standard")) ||
        cf_val_set(props, "tenantId", cf_val_str(r->prof.tenant_id)) ||
        cf_val_set(props, "sku", cf_val_ref(sku)) ||
        cf_val_set(props, "createMode", cf_val_str("recover")) ||
        cf_val_set(body, "location", cf_val_str(loc)) ||
        cf_val_set(body, "properties", cf_val_ref(props))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    vault_url(r, rg, name, url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "PUT", url, aud, body, false, &h)) != 0)
        goto out;
    rc = set_result(r, cf_cli_shape_vault(h.body));
    cf_cli_http_release(&h);
out:
    cf_val_unref(sku);
    cf_val_unref(props);
    cf_val_unref(body);
    return rc;
}

static void deleted_url(struct cf_cli_run *r, const char *loc, const char *name, const char *tail,
                        char *url, size_t n)
{
    char aud[600], el[200], en[200];
    mgmt(r, aud, sizeof(aud));
    cf_cli_pct(loc, el, sizeof(el));
    cf_cli_pct(name, en, sizeof(en));
    snprintf(url, n,
             "%s/subscriptions/%s/providers/Microsoft.KeyVault/locations/%s/deletedVaults/%s%s?" VAULT_API,
             aud, r->prof.subscription_id, el, en, tail);
}

int cf_cli_cmd_vault_purge(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    const char *name = cf_cli_arg(r, "--name");
    char loc[128], rg[256], url[2048], aud[600];
    int rc;
    if (cf_cli_arg(r, "--location"))
        snprintf(loc, sizeof(loc), "%s", cf_cli_arg(r, "--location"));
    else if ((rc = deleted_vault(r, name, loc, sizeof(loc), rg, sizeof(rg))) != 0)
        return rc;
    deleted_url(r, loc, name, "/purge", url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "POST", url, aud, NULL, false, &h)) != 0)
        return rc;
    if (!cf_cli_has(r, "--no-wait"))
        rc = poll_location(r, aud, &h);
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_vault_list_deleted(struct cf_cli_run *r)
{
    struct cf_val *items = NULL;
    char url[2048], aud[600];
    int rc;
    mgmt(r, aud, sizeof(aud));
    snprintf(url, sizeof(url), "%s/subscriptions/%s/providers/Microsoft.KeyVault/deletedVaults?" VAULT_API,
             aud, r->prof.subscription_id);
    if ((rc = cf_cli_list_all(r, url, aud, &items)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    return shape_list(r, items, shape_deleted_vault);
}

int cf_cli_cmd_vault_show_deleted(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    const char *name = cf_cli_arg(r, "--name");
    char loc[128], rg[256], url[2048], aud[600];
    int rc;
    if (cf_cli_arg(r, "--location"))
        snprintf(loc, sizeof(loc), "%s", cf_cli_arg(r, "--location"));
    else if ((rc = deleted_vault(r, name, loc, sizeof(loc), rg, sizeof(rg))) != 0)
        return rc;
    deleted_url(r, loc, name, "", url, sizeof(url));
    mgmt(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "GET", url, aud, NULL, false, &h)) != 0)
        return rc;
    rc = set_result(r, shape_deleted_vault(h.body));
    cf_cli_http_release(&h);
    return rc;
}

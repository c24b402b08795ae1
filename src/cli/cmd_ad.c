/* cmd_ad.c - `coffer ad sp|app|group ...` as az's Graph-based role module (az >= 2.37) does
 * them, against Coffer's Microsoft Graph v1.0 shapes on the management host
 * (notes/identity-contract.md): results are the Graph objects as the server returns them
 * (az prints them unchanged), create-for-rbac and credential reset print az's credential shape.
 *
 * Map: Graph plumbing (URLs, quiet GET, paged lists, prefix filters) - lookups (service
 * principal, application, group, assignee) - credentials (passwords, certificates) - sp
 * commands - app commands - group and member commands.
 *
 * The password of a new credential is only ever in the command's result (stdout), never in an
 * error line; response bodies that carry it are wiped by the client layer. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/secret.h"
#include "cli/cmd_identity.h"
#include "crypto/crypto.h"

#include <unistd.h>

#define CRED_WARNING                                                                               \
    "WARNING: The output includes credentials that you must protect. Be sure that you do not "    \
    "include these credentials in your code or check the credentials into your source control. "  \
    "For more information, see https://aka.ms/azadsp-cli\n"

/* ---- Graph plumbing ---- */

bool cf_cli_is_guid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return false;
    }
    return true;
}

void cf_cli_graph_url(struct cf_cli_run *r, const char *path, char *out, size_t n)
{
    char aud[600];
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    snprintf(out, n, "%s/v1.0/%s", aud, path);
}

static int graph_call(struct cf_cli_run *r, const char *method, const char *path,
                      const struct cf_val *body, bool ok404, struct cf_cli_http *h)
{
    char url[4096], aud[600];
    cf_cli_graph_url(r, path, url, sizeof(url));
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    return cf_cli_call(r, method, url, aud, body, ok404, h);
}

/* GET without printing anything: *out is the parsed body of a 2xx, else NULL. */
static void quiet_get(struct cf_cli_run *r, const char *path, struct cf_val **out)
{
    struct cf_client_resp resp;
    char url[4096], aud[600], *tok = NULL;
    FILE *saved = r->ctx->err, *null = fopen("/dev/null", "w");

    *out = NULL;
    cf_cli_graph_url(r, path, url, sizeof(url));
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    cf_client_resp_init(&resp);
    /* cf_cli_token reports its failures: silence them here (a best-effort lookup) */
    if (null)
        r->ctx->err = null;
    if (cf_cli_ensure_client(r) == 0 && cf_cli_token(r, aud, &tok) == 0 &&
        cf_client_request(r->client, "GET", url, tok, NULL, NULL, 0, &resp) == CF_OK &&
        resp.status >= 200 && resp.status < 300 &&
        cf_val_parse(resp.body.data, resp.body.len, out) != CF_OK)
        *out = NULL;
    r->ctx->err = saved;
    if (null)
        fclose(null);
    if (tok) {
        cf_wipe(tok, strlen(tok));
        free(tok);
    }
    cf_client_resp_release(&resp);
}

/* "<collection>?$filter=<field> eq '<value>'" with the filter percent-encoded (OData doubles a
 * quote inside a literal). */
static void filter_path(char *out, size_t n, const char *coll, const char *field, const char *value)
{
    char f[700], enc[2100];
    size_t k = (size_t)snprintf(f, sizeof(f), "%s eq '", field);
    for (const char *c = value; *c && k + 3 < sizeof(f); c++) {
        if (*c == '\'')
            f[k++] = '\'';
        f[k++] = *c;
    }
    f[k++] = '\'';
    f[k] = '\0';
    cf_cli_pct(f, enc, sizeof(enc));
    snprintf(out, n, "%s?$filter=%s", coll, enc);
}

/* Lists path: every page when all, else the first one (*more says a next page exists). Items
 * are appended to a new array *out. */
static int graph_list(struct cf_cli_run *r, const char *path, bool all, struct cf_val **out,
                      bool *more)
{
    char next[4096], aud[600];
    int pages = 0;

    *out = cf_val_arr();
    if (more)
        *more = false;
    if (!*out)
        return cf_cli_fail(r, 1, "out of memory");
    cf_cli_graph_url(r, path, next, sizeof(next));
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    while (next[0]) {
        struct cf_cli_http h;
        const struct cf_val *val, *nl;
        int rc;
        if (++pages > 10000)
            return cf_cli_fail(r, 1, "too many pages");
        if ((rc = cf_cli_call(r, "GET", next, aud, NULL, false, &h)) != 0)
            return rc;
        val = cf_val_get(h.body, "value");
        if (!val || val->type != CF_VAL_ARR) {
            cf_cli_http_release(&h);
            return cf_cli_fail(r, 1, "The server returned a list without a 'value' array.");
        }
        for (size_t i = 0; i < val->n; i++)
            if (cf_val_push(*out, cf_val_ref(val->items[i])) != CF_OK) {
                cf_cli_http_release(&h);
                return cf_cli_fail(r, 1, "out of memory");
            }
        nl = cf_val_get(h.body, "@odata.nextLink");
        next[0] = '\0';
        if (nl && nl->type == CF_VAL_STR && nl->slen) {
            if (all)
                snprintf(next, sizeof(next), "%s", nl->s);
            else if (more)
                *more = true;
        }
        cf_cli_http_release(&h);
    }
    return 0;
}

static const char *str_of(const struct cf_val *o, const char *key)
{
    const struct cf_val *v = cf_val_get(o, key);
    return v && v->type == CF_VAL_STR ? v->s : NULL;
}

/* Keeps the items whose key starts with prefix (case-insensitive, as Graph's startswith). */
static struct cf_val *keep_prefix(struct cf_val *items, const char *key, const char *prefix)
{
    struct cf_val *kept = cf_val_arr();
    size_t pl = strlen(prefix);
    for (size_t i = 0; kept && i < items->n; i++) {
        const char *s = str_of(items->items[i], key);
        if (s && strncasecmp(s, prefix, pl) == 0 &&
            cf_val_push(kept, cf_val_ref(items->items[i])) != CF_OK) {
            cf_val_unref(kept);
            kept = NULL;
        }
    }
    cf_val_unref(items);
    return kept;
}

/* az's list: --filter as given, --display-name as a prefix; without --all or a filter only
 * the first page, with az's warning when there is more. */
static int list_cmd(struct cf_cli_run *r, const char *coll, const char *app_id)
{
    const char *dn = cf_cli_arg(r, "--display-name"), *filter = cf_cli_arg(r, "--filter");
    bool all = cf_cli_has(r, "--all") || dn || app_id, more = false;
    char path[2600];
    struct cf_val *items = NULL;
    int rc;

    if (filter) {
        char enc[2100];
        cf_cli_pct(filter, enc, sizeof(enc));
        snprintf(path, sizeof(path), "%s?$filter=%s", coll, enc);
        all = true;
    } else if (app_id) {
        filter_path(path, sizeof(path), coll, "appId", app_id);
    } else {
        snprintf(path, sizeof(path), "%s", coll);
    }
    if ((rc = graph_list(r, path, all, &items, &more)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    if (more)
        fprintf(r->ctx->err, "WARNING: The result is not complete. You can still use '--all' to "
                             "get all of them with long latency expected, or provide a filter "
                             "through command arguments\n");
    if (dn)
        items = keep_prefix(items, "displayName", dn);
    r->result = items;
    return items ? 0 : cf_cli_fail(r, 1, "out of memory");
}

/* ---- lookups ---- */

/* az's _resolve_service_principal: by appId, else an object id. *sp: the Graph object. */
static int resolve_sp(struct cf_cli_run *r, const char *id, struct cf_val **sp)
{
    struct cf_val *items = NULL;
    struct cf_cli_http h;
    char path[2600];
    int rc;

    *sp = NULL;
    if (cf_cli_is_guid(id)) {
        filter_path(path, sizeof(path), "servicePrincipals", "appId", id);
        if ((rc = graph_list(r, path, false, &items, NULL)) != 0) {
            cf_val_unref(items);
            return rc;
        }
        if (items->n > 0) {
            *sp = cf_val_ref(items->items[0]);
            cf_val_unref(items);
            return 0;
        }
        cf_val_unref(items);
        snprintf(path, sizeof(path), "servicePrincipals/%s", id);
        if ((rc = graph_call(r, "GET", path, NULL, true, &h)) != 0)
            return rc;
        if (h.status != 404 && h.body) {
            *sp = cf_val_ref(h.body);
            cf_cli_http_release(&h);
            return 0;
        }
        cf_cli_http_release(&h);
    }
    return cf_cli_fail(r, (r->cmd->flags & CMD_SHOW) ? 3 : 1,
                       "Service principal '%s' doesn't exist", id);
}

/* The application of an appId / application object id / service principal id. */
static int resolve_app(struct cf_cli_run *r, const char *id, bool via_sp, struct cf_val **app)
{
    struct cf_val *items = NULL, *sp = NULL;
    struct cf_cli_http h;
    char path[2600];
    const char *app_id = id;
    int rc;

    *app = NULL;
    if (via_sp) {
        if ((rc = resolve_sp(r, id, &sp)) != 0)
            return rc;
        app_id = str_of(sp, "appId");
        if (!app_id) {
            cf_val_unref(sp);
            return cf_cli_fail(r, 1, "The service principal '%s' has no appId.", id);
        }
    }
    if (cf_cli_is_guid(app_id)) {
        filter_path(path, sizeof(path), "applications", "appId", app_id);
        if ((rc = graph_list(r, path, false, &items, NULL)) != 0)
            goto out;
        if (items->n > 0) {
            *app = cf_val_ref(items->items[0]);
            goto out;
        }
        if (!via_sp) {
            snprintf(path, sizeof(path), "applications/%s", id);
            if ((rc = graph_call(r, "GET", path, NULL, true, &h)) != 0)
                goto out;
            if (h.status != 404 && h.body)
                *app = cf_val_ref(h.body);
            cf_cli_http_release(&h);
            if (*app)
                goto out;
        }
    }
    rc = cf_cli_fail(r, (r->cmd->flags & CMD_SHOW) ? 3 : 1, "%s '%s' doesn't exist",
                     via_sp ? "Service principal" : "Application", id);
out:
    cf_val_unref(items);
    cf_val_unref(sp);
    return rc;
}

/* az's _resolve_group: an object id, else exactly one group of that display name. */
static int resolve_group(struct cf_cli_run *r, const char *ident, char oid[37])
{
    struct cf_val *items = NULL;
    const char *id = NULL;
    size_t matches = 0;
    int rc;

    if (cf_cli_is_guid(ident)) {
        snprintf(oid, 37, "%s", ident);
        return 0;
    }
    if ((rc = graph_list(r, "groups", true, &items, NULL)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    for (size_t i = 0; i < items->n; i++) {
        const char *dn = str_of(items->items[i], "displayName");
        if (dn && strcasecmp(dn, ident) == 0) {
            matches++;
            id = str_of(items->items[i], "id");
        }
    }
    if (matches == 1 && id)
        snprintf(oid, 37, "%s", id);
    cf_val_unref(items);
    if (matches == 0)
        return cf_cli_fail(r, (r->cmd->flags & CMD_SHOW) ? 3 : 1,
                           "Group '%s' is not found in Graph", ident);
    if (matches > 1)
        return cf_cli_fail(r, 1, "Group '%s' has multiple matches: use its object id", ident);
    return 0;
}

int cf_cli_resolve_assignee(struct cf_cli_run *r, const char *assignee, bool fallback,
                            char oid[37], char ptype[32])
{
    struct cf_val *items = NULL, *o = NULL;
    const struct cf_val *v;
    char path[2600];

    oid[0] = ptype[0] = '\0';
    if (cf_cli_is_guid(assignee)) {
        /* quiet lookups: an object id given with fallback needs no directory at all */
        filter_path(path, sizeof(path), "servicePrincipals", "appId", assignee);
        quiet_get(r, path, &items);
        v = cf_val_get(items, "value");
        if (v && v->type == CF_VAL_ARR && v->n > 0 && str_of(v->items[0], "id")) {
            snprintf(oid, 37, "%s", str_of(v->items[0], "id"));
            snprintf(ptype, 32, "ServicePrincipal");
        }
        cf_val_unref(items);
        if (oid[0])
            return 0;
        snprintf(path, sizeof(path), "servicePrincipals/%s", assignee);
        quiet_get(r, path, &o);
        if (o) {
            snprintf(ptype, 32, "ServicePrincipal");
        } else {
            snprintf(path, sizeof(path), "groups/%s", assignee);
            quiet_get(r, path, &o);
            if (o)
                snprintf(ptype, 32, "Group");
        }
        if (o || fallback) {
            cf_val_unref(o);
            snprintf(oid, 37, "%s", assignee);
            return 0;
        }
    }
    return cf_cli_fail(r, 1,
                       "Cannot find user or service principal in graph database for '%s'. If the "
                       "assignee is an appId, make sure the corresponding service principal is "
                       "created with 'coffer ad sp create-for-rbac'.",
                       assignee);
}

void cf_cli_principal_name(struct cf_cli_run *r, const char *oid, char *name, size_t n)
{
    struct cf_val *o = NULL;
    char path[200];
    const struct cf_val *spns;

    name[0] = '\0';
    if (!cf_cli_is_guid(oid))
        return;
    snprintf(path, sizeof(path), "servicePrincipals/%s", oid);
    quiet_get(r, path, &o);
    if (o) {
        spns = cf_val_get(o, "servicePrincipalNames");
        if (spns && spns->type == CF_VAL_ARR && spns->n && spns->items[0]->type == CF_VAL_STR)
            snprintf(name, n, "%s", spns->items[0]->s);
        else if (str_of(o, "appId"))
            snprintf(name, n, "%s", str_of(o, "appId"));
        cf_val_unref(o);
        return;
    }
    snprintf(path, sizeof(path), "groups/%s", oid);
    quiet_get(r, path, &o);
    if (o && str_of(o, "displayName"))
        snprintf(name, n, "%s", str_of(o, "displayName"));
    cf_val_unref(o);
}

/* ---- credentials ---- */

bool cf_cli_years_from(int64_t now_s, int64_t years, char out[32])
{
    struct tm tm;
    time_t t = (time_t)now_s;
    if (years < 1 || years > 1000 || !gmtime_r(&t, &tm))
        return false;
    tm.tm_year += (int)years;
    /* relativedelta clips Feb 29 to Feb 28 in a year that has none */
    if (tm.tm_mon == 1 && tm.tm_mday == 29) {
        int y = tm.tm_year + 1900;
        if (!((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
            tm.tm_mday = 28;
    }
    return strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

cf_err cf_cli_cert_arg(const char *arg, char **b64, char *err, size_t errlen)
{
    struct cf_buf file, der, enc;
    const char *text = arg;
    size_t len = strlen(arg);
    cf_err e = CF_EINVAL;

    *b64 = NULL;
    cf_buf_init(&file, 0);
    cf_buf_init(&der, 64 * 1024);
    cf_buf_init(&enc, 128 * 1024);
    if (arg[0] == '@') {
        if (cf_cli_read_file(arg + 1, 1024 * 1024, &file) != CF_OK) {
            snprintf(err, errlen, "cannot read the certificate file '%s'", arg + 1);
            goto out;
        }
        text = file.data ? file.data : "";
        len = file.len;
    }
    if (memmem(text, len, "-----BEGIN CERTIFICATE-----", 27)) {
        if (cf_cli_pem_cert_der(text, len, &der) != CF_OK) {
            snprintf(err, errlen, "the PEM certificate does not decode");
            goto out;
        }
    } else {
        /* base64 DER, possibly broken into lines */
        struct cf_buf clean;
        cf_buf_init(&clean, len + 1);
        for (size_t i = 0; i < len; i++)
            if (text[i] != '\n' && text[i] != '\r' && text[i] != ' ' && text[i] != '\t' &&
                cf_buf_putc(&clean, text[i]) != CF_OK)
                break;
        if (!clean.len || cf_b64_decode(&der, (struct cf_str){clean.data, clean.len}) != CF_OK ||
            der.len < 64 || (unsigned char)der.data[0] != 0x30) {
            cf_buf_release(&clean);
            snprintf(err, errlen, "--cert takes a PEM certificate, its base64 DER, or @FILE "
                                  "of either");
            goto out;
        }
        cf_buf_release(&clean);
    }
    if (cf_b64_encode(&enc, der.data, der.len) != CF_OK || !(*b64 = strdup(enc.data))) {
        snprintf(err, errlen, "out of memory");
        e = CF_ENOMEM;
        goto out;
    }
    e = CF_OK;
out:
    /* the file may be the PEM with the private key in it */
    cf_buf_wipe(&file);
    cf_buf_release(&der);
    cf_buf_release(&enc);
    return e;
}

struct cf_val *cf_cli_shape_sp_credentials(const char *app_id, const char *display_name,
                                           const char *password, const char *tenant)
{
    struct cf_val *o = cf_val_obj();
    if (!o || cf_val_set(o, "appId", cf_val_str(app_id)) ||
        (display_name && cf_val_set(o, "displayName", cf_val_str(display_name))) ||
        cf_val_set(o, "password", password ? cf_val_str(password) : cf_val_null()) ||
        cf_val_set(o, "tenant", cf_val_str(tenant))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* The end of a new credential from --end-date / --years ("" = the server's default). */
static int cred_end(struct cf_cli_run *r, char end[32])
{
    const char *years = cf_cli_arg(r, "--years"), *ed = cf_cli_arg(r, "--end-date");
    int64_t y, t;
    end[0] = '\0';
    if (years && ed)
        return cf_cli_fail(r, 2, "usage error: --years | --end-date");
    if (years && (!cf_str_to_i64(cf_str_from(years), &y) || !cf_cli_years_from(cf_cli_now(r), y, end)))
        return cf_cli_fail(r, 2, "argument --years: invalid value: '%s'", years);
    if (ed) {
        struct tm tm;
        time_t tt;
        if (!cf_cli_parse_time(ed, &t))
            return cf_cli_fail(r, 2, "argument --end-date: invalid datetime value: '%s'", ed);
        tt = (time_t)t;
        if (!gmtime_r(&tt, &tm) || !strftime(end, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
            return cf_cli_fail(r, 2, "argument --end-date: invalid datetime value: '%s'", ed);
    }
    return 0;
}

/* addPassword on the application; *secret gets a malloc'd copy of secretText (wipe it),
 * key_id[37] the new credential's keyId. */
static int add_password(struct cf_cli_run *r, const char *app_oid, const char *display,
                        const char *end, char **secret, char key_id[37])
{
    struct cf_val *body = cf_val_obj(), *pc = cf_val_obj();
    struct cf_cli_http h = {0};
    char path[200];
    const char *st, *kid;
    int rc = 0;

    *secret = NULL;
    key_id[0] = '\0';
    if (!body || !pc || (display && cf_val_set(pc, "displayName", cf_val_str(display))) ||
        (end[0] && cf_val_set(pc, "endDateTime", cf_val_str(end))) ||
        cf_val_set(body, "passwordCredential", cf_val_ref(pc))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "applications/%s/addPassword", app_oid);
    if ((rc = graph_call(r, "POST", path, body, false, &h)) != 0)
        goto out;
    st = str_of(h.body, "secretText");
    kid = str_of(h.body, "keyId");
    if (!st) {
        rc = cf_cli_fail(r, 1, "The server's addPassword answer has no secretText.");
        goto out;
    }
    snprintf(key_id, 37, "%s", kid ? kid : "");
    *secret = strdup(st);
    if (!*secret)
        rc = cf_cli_fail(r, 1, "out of memory");
out:
    cf_cli_http_release(&h);
    cf_val_unref(pc);
    cf_val_unref(body);
    return rc;
}

/* removePassword for every password credential of app except keep_key_id. */
static int remove_passwords(struct cf_cli_run *r, const struct cf_val *app, const char *keep)
{
    const struct cf_val *pcs = cf_val_get(app, "passwordCredentials");
    const char *app_oid = str_of(app, "id");
    int rc = 0;
    for (size_t i = 0; !rc && app_oid && pcs && pcs->type == CF_VAL_ARR && i < pcs->n; i++) {
        const char *kid = str_of(pcs->items[i], "keyId");
        struct cf_val *body;
        struct cf_cli_http h;
        char path[200];
        if (!kid || (keep && strcasecmp(kid, keep) == 0))
            continue;
        body = cf_val_obj();
        if (!body || cf_val_set(body, "keyId", cf_val_str(kid))) {
            cf_val_unref(body);
            return cf_cli_fail(r, 1, "out of memory");
        }
        snprintf(path, sizeof(path), "applications/%s/removePassword", app_oid);
        rc = graph_call(r, "POST", path, body, false, &h);
        cf_cli_http_release(&h);
        cf_val_unref(body);
    }
    return rc;
}

/* PATCH keyCredentials: the new certificate, after the existing ones when append. */
static int set_cert(struct cf_cli_run *r, const struct cf_val *app, const char *cert_arg,
                    const char *end, bool append)
{
    struct cf_val *body = cf_val_obj(), *list = cf_val_arr(), *kc = cf_val_obj();
    const struct cf_val *old = cf_val_get(app, "keyCredentials");
    struct cf_cli_http h = {0};
    char *b64 = NULL, err[200], path[200];
    int rc = 0;

    if (cf_cli_cert_arg(cert_arg, &b64, err, sizeof(err)) != CF_OK) {
        rc = cf_cli_fail(r, 1, "%s", err);
        goto out;
    }
    if (!body || !list || !kc) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    for (size_t i = 0; append && old && old->type == CF_VAL_ARR && i < old->n; i++)
        if (cf_val_push(list, cf_val_ref(old->items[i])) != CF_OK) {
            rc = cf_cli_fail(r, 1, "out of memory");
            goto out;
        }
    if (cf_val_set(kc, "type", cf_val_str("AsymmetricX509Cert")) ||
        cf_val_set(kc, "usage", cf_val_str("Verify")) || cf_val_set(kc, "key", cf_val_str(b64)) ||
        (end[0] && cf_val_set(kc, "endDateTime", cf_val_str(end))) ||
        cf_val_push(list, cf_val_ref(kc)) || cf_val_set(body, "keyCredentials", cf_val_ref(list))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "applications/%s", str_of(app, "id") ? str_of(app, "id") : "");
    rc = graph_call(r, "PATCH", path, body, false, &h);
out:
    cf_cli_http_release(&h);
    free(b64);
    cf_val_unref(kc);
    cf_val_unref(list);
    cf_val_unref(body);
    return rc;
}

/* ---- service principals ---- */

int cf_cli_cmd_ad_sp_create_for_rbac(struct cf_cli_run *r)
{
    const char *role = cf_cli_arg(r, "--role"), *cert = cf_cli_arg(r, "--cert");
    const struct cf_cli_arg *scopes = cf_cli_argv(r, "--scopes");
    struct cf_val *items = NULL, *app = NULL, *sps = NULL, *body = NULL;
    struct cf_cli_http h = {0};
    char name[256], end[32], path[2600], key_id[37], sp_oid[37];
    char *secret = NULL;
    const char *app_id, *app_oid;
    bool existing;
    int rc;

    if (cf_cli_arg(r, "--name")) {
        snprintf(name, sizeof(name), "%s", cf_cli_arg(r, "--name"));
    } else {
        time_t t = (time_t)cf_cli_now(r);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(name, sizeof(name), "azure-cli-%Y-%m-%d-%H-%M-%S", &tm))
            return cf_cli_fail(r, 1, "cannot format the default name");
    }
    if (!!role != (scopes && scopes->nlist > 0))
        return cf_cli_fail(r, 2, "usage error: To create role assignments, specify both --role "
                                 "and --scopes.");
    if (cf_cli_has(r, "--create-cert"))
        return cf_cli_fail(r, 2, "--create-cert is not supported: make a certificate (openssl "
                                 "req -x509 ...) and pass --cert @FILE.");
    if ((rc = cred_end(r, end)) != 0)
        return rc;
    filter_path(path, sizeof(path), "applications", "displayName", name);
    if ((rc = graph_list(r, path, true, &items, NULL)) != 0)
        goto out;
    existing = items->n > 0;
    if (existing) {
        app = cf_val_ref(items->items[0]);
        fprintf(r->ctx->err, "WARNING: Found an existing application instance: (id) %s. We will "
                             "patch it.\n", str_of(app, "id") ? str_of(app, "id") : "");
    } else {
        body = cf_val_obj();
        if (!body || cf_val_set(body, "displayName", cf_val_str(name))) {
            rc = cf_cli_fail(r, 1, "out of memory");
            goto out;
        }
        if ((rc = graph_call(r, "POST", "applications", body, false, &h)) != 0)
            goto out;
        app = cf_val_ref(h.body);
        cf_cli_http_release(&h);
    }
    app_id = str_of(app, "appId");
    app_oid = str_of(app, "id");
    if (!app_id || !app_oid) {
        rc = cf_cli_fail(r, 1, "The server returned an application without id or appId.");
        goto out;
    }
    if (cert) {
        if ((rc = set_cert(r, app, cert, end, false)) != 0)
            goto out;
    } else {
        if ((rc = add_password(r, app_oid, "rbac", end, &secret, key_id)) != 0)
            goto out;
        /* az patches an existing application: its old passwords go */
        if (existing && (rc = remove_passwords(r, app, key_id)) != 0)
            goto out;
    }
    if (role) {
        filter_path(path, sizeof(path), "servicePrincipals", "appId", app_id);
        if ((rc = graph_list(r, path, false, &sps, NULL)) != 0)
            goto out;
        if (!sps->n || !str_of(sps->items[0], "id")) {
            rc = cf_cli_fail(r, 1, "The service principal of application %s was not found.",
                             app_id);
            goto out;
        }
        snprintf(sp_oid, sizeof(sp_oid), "%s", str_of(sps->items[0], "id"));
        for (size_t i = 0; i < scopes->nlist && !rc; i++) {
            fprintf(r->ctx->err, "WARNING: Creating '%s' role assignment under scope '%s'\n", role,
                    scopes->list[i]);
            rc = cf_cli_role_assign(r, role, sp_oid, "ServicePrincipal", scopes->list[i], NULL,
                                    true, NULL);
        }
        if (rc)
            goto out;
    }
    fputs(CRED_WARNING, r->ctx->err);
    r->result = cf_cli_shape_sp_credentials(app_id, name, secret, r->prof.tenant_id);
    if (!r->result)
        rc = cf_cli_fail(r, 1, "out of memory");
out:
    if (secret) {
        cf_wipe(secret, strlen(secret));
        free(secret);
    }
    cf_cli_http_release(&h);
    cf_val_unref(body);
    cf_val_unref(sps);
    cf_val_unref(app);
    cf_val_unref(items);
    return rc;
}

int cf_cli_cmd_ad_sp_credential_reset(struct cf_cli_run *r)
{
    const char *cert = cf_cli_arg(r, "--cert");
    bool append = cf_cli_has(r, "--append");
    struct cf_val *app = NULL;
    char end[32], key_id[37], *secret = NULL;
    const char *app_id, *app_oid;
    int rc;

    if (cf_cli_has(r, "--create-cert"))
        return cf_cli_fail(r, 2, "--create-cert is not supported: make a certificate (openssl "
                                 "req -x509 ...) and pass --cert @FILE.");
    if ((rc = cred_end(r, end)) != 0)
        return rc;
    if ((rc = resolve_app(r, cf_cli_arg(r, "--id"), true, &app)) != 0)
        return rc;
    app_id = str_of(app, "appId");
    app_oid = str_of(app, "id");
    if (!app_id || !app_oid) {
        rc = cf_cli_fail(r, 1, "The server returned an application without id or appId.");
        goto out;
    }
    if (cert) {
        rc = set_cert(r, app, cert, end, append);
    } else {
        rc = add_password(r, app_oid, cf_cli_arg(r, "--display-name"), end, &secret, key_id);
        /* without --append the new password replaces the old ones (added first, so a failure
         * never leaves the principal without a credential) */
        if (!rc && !append)
            rc = remove_passwords(r, app, key_id);
    }
    if (rc)
        goto out;
    fputs(CRED_WARNING, r->ctx->err);
    r->result = cf_cli_shape_sp_credentials(app_id, NULL, secret, r->prof.tenant_id);
    if (!r->result)
        rc = cf_cli_fail(r, 1, "out of memory");
out:
    if (secret) {
        cf_wipe(secret, strlen(secret));
        free(secret);
    }
    cf_val_unref(app);
    return rc;
}

int cf_cli_cmd_ad_sp_list(struct cf_cli_run *r)
{
    return list_cmd(r, "servicePrincipals", NULL);
}

int cf_cli_cmd_ad_sp_show(struct cf_cli_run *r)
{
    return resolve_sp(r, cf_cli_arg(r, "--id"), &r->result);
}

/* A Coffer principal is one application + service principal: deleting either removes both
 * (its tokens stop working at once). */
static int delete_app(struct cf_cli_run *r, const struct cf_val *app)
{
    struct cf_cli_http h;
    char path[200];
    int rc;
    snprintf(path, sizeof(path), "applications/%s", str_of(app, "id") ? str_of(app, "id") : "");
    rc = graph_call(r, "DELETE", path, NULL, false, &h);
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_ad_sp_delete(struct cf_cli_run *r)
{
    struct cf_val *app = NULL;
    int rc = resolve_app(r, cf_cli_arg(r, "--id"), true, &app);
    if (!rc)
        rc = delete_app(r, app);
    cf_val_unref(app);
    return rc;
}

/* ---- applications ---- */

int cf_cli_cmd_ad_app_create(struct cf_cli_run *r)
{
    struct cf_val *body = cf_val_obj();
    struct cf_cli_http h = {0};
    int rc;
    if (!body || cf_val_set(body, "displayName", cf_val_str(cf_cli_arg(r, "--display-name")))) {
        cf_val_unref(body);
        return cf_cli_fail(r, 1, "out of memory");
    }
    rc = graph_call(r, "POST", "applications", body, false, &h);
    cf_val_unref(body);
    if (!rc)
        r->result = cf_val_ref(h.body);
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_ad_app_list(struct cf_cli_run *r)
{
    return list_cmd(r, "applications", cf_cli_arg(r, "--app-id"));
}

int cf_cli_cmd_ad_app_show(struct cf_cli_run *r)
{
    return resolve_app(r, cf_cli_arg(r, "--id"), false, &r->result);
}

int cf_cli_cmd_ad_app_delete(struct cf_cli_run *r)
{
    struct cf_val *app = NULL;
    int rc = resolve_app(r, cf_cli_arg(r, "--id"), false, &app);
    if (!rc)
        rc = delete_app(r, app);
    cf_val_unref(app);
    return rc;
}

/* ---- groups ---- */

int cf_cli_cmd_ad_group_create(struct cf_cli_run *r)
{
    const char *dn = cf_cli_arg(r, "--display-name"), *mn = cf_cli_arg(r, "--mail-nickname");
    const char *desc = cf_cli_arg(r, "--description");
    struct cf_val *items = NULL, *body = NULL;
    struct cf_cli_http h = {0};
    char path[2600];
    int rc;

    if (!cf_cli_has(r, "--force")) {
        /* az: the same display name and mail nickname returns the existing group */
        filter_path(path, sizeof(path), "groups", "displayName", dn);
        if ((rc = graph_list(r, path, true, &items, NULL)) != 0)
            goto out;
        for (size_t i = 0; i < items->n; i++) {
            const char *g_dn = str_of(items->items[i], "displayName");
            const char *g_mn = str_of(items->items[i], "mailNickname");
            if (g_dn && g_mn && !strcasecmp(g_dn, dn) && !strcasecmp(g_mn, mn)) {
                fprintf(r->ctx->err, "WARNING: A group with the same display name and mail "
                                     "nickname already exists, returning.\n");
                r->result = cf_val_ref(items->items[i]);
                goto out;
            }
        }
    }
    body = cf_val_obj();
    if (!body || cf_val_set(body, "displayName", cf_val_str(dn)) ||
        cf_val_set(body, "mailNickname", cf_val_str(mn)) ||
        cf_val_set(body, "mailEnabled", cf_val_bool(false)) ||
        cf_val_set(body, "securityEnabled", cf_val_bool(true)) ||
        (desc && cf_val_set(body, "description", cf_val_str(desc)))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = graph_call(r, "POST", "groups", body, false, &h)) != 0)
        goto out;
    r->result = cf_val_ref(h.body);
out:
    cf_cli_http_release(&h);
    cf_val_unref(body);
    cf_val_unref(items);
    return rc;
}

int cf_cli_cmd_ad_group_list(struct cf_cli_run *r)
{
    return list_cmd(r, "groups", NULL);
}

int cf_cli_cmd_ad_group_show(struct cf_cli_run *r)
{
    struct cf_cli_http h = {0};
    char oid[37], path[200];
    int rc;
    if ((rc = resolve_group(r, cf_cli_arg(r, "--group"), oid)) != 0)
        return rc;
    snprintf(path, sizeof(path), "groups/%s", oid);
    if ((rc = graph_call(r, "GET", path, NULL, false, &h)) != 0)
        return rc;
    r->result = cf_val_ref(h.body);
    cf_cli_http_release(&h);
    return 0;
}

int cf_cli_cmd_ad_group_delete(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char oid[37], path[200];
    int rc;
    if ((rc = resolve_group(r, cf_cli_arg(r, "--group"), oid)) != 0)
        return rc;
    snprintf(path, sizeof(path), "groups/%s", oid);
    rc = graph_call(r, "DELETE", path, NULL, false, &h);
    cf_cli_http_release(&h);
    return rc;
}

static int member_id(struct cf_cli_run *r, const char **mid)
{
    *mid = cf_cli_arg(r, "--member-id");
    if (!cf_cli_is_guid(*mid))
        return cf_cli_fail(r, 2, "--member-id '%s' is not an object id (a GUID).", *mid);
    return 0;
}

int cf_cli_cmd_ad_member_add(struct cf_cli_run *r)
{
    struct cf_val *body = NULL;
    struct cf_cli_http h = {0};
    char oid[37], path[200], ref[1024], aud[600];
    const char *mid;
    int rc;
    if ((rc = member_id(r, &mid)) != 0 ||
        (rc = resolve_group(r, cf_cli_arg(r, "--group"), oid)) != 0)
        return rc;
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    snprintf(ref, sizeof(ref), "%s/v1.0/directoryObjects/%s", aud, mid);
    body = cf_val_obj();
    if (!body || cf_val_set(body, "@odata.id", cf_val_str(ref))) {
        cf_val_unref(body);
        return cf_cli_fail(r, 1, "out of memory");
    }
    snprintf(path, sizeof(path), "groups/%s/members/$ref", oid);
    rc = graph_call(r, "POST", path, body, false, &h);
    cf_cli_http_release(&h);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_ad_member_remove(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    char oid[37], path[300];
    const char *mid;
    int rc;
    if ((rc = member_id(r, &mid)) != 0 ||
        (rc = resolve_group(r, cf_cli_arg(r, "--group"), oid)) != 0)
        return rc;
    snprintf(path, sizeof(path), "groups/%s/members/%s/$ref", oid, mid);
    rc = graph_call(r, "DELETE", path, NULL, false, &h);
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_ad_member_list(struct cf_cli_run *r)
{
    char oid[37], path[200];
    int rc;
    if ((rc = resolve_group(r, cf_cli_arg(r, "--group"), oid)) != 0)
        return rc;
    snprintf(path, sizeof(path), "groups/%s/members", oid);
    return graph_list(r, path, true, &r->result, NULL);
}

int cf_cli_cmd_ad_member_check(struct cf_cli_run *r)
{
    struct cf_val *items = NULL, *o;
    char oid[37], path[200];
    const char *mid;
    bool found = false;
    int rc;
    if ((rc = member_id(r, &mid)) != 0 ||
        (rc = resolve_group(r, cf_cli_arg(r, "--group"), oid)) != 0)
        return rc;
    snprintf(path, sizeof(path), "groups/%s/members", oid);
    if ((rc = graph_list(r, path, true, &items, NULL)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    for (size_t i = 0; i < items->n && !found; i++) {
        const char *id = str_of(items->items[i], "id");
        found = id && strcasecmp(id, mid) == 0;
    }
    cf_val_unref(items);
    o = cf_val_obj();
    if (!o || cf_val_set(o, "value", cf_val_bool(found))) {
        cf_val_unref(o);
        return cf_cli_fail(r, 1, "out of memory");
    }
    r->result = o;
    return 0;
}

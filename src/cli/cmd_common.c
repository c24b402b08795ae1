/* cmd_common.c - what every handler needs to talk to the server: the client (created lazily
 * with the profile's CA file), access tokens (client_credentials, cached per audience until
 * 5 minutes before expiry), JSON calls with az-style error lines, paging through nextLink,
 * small shaping helpers (times, tags, copies), and the plumbing the data-plane object commands
 * (keys, certificates, secrets) share: --id / --vault-name --name --version addressing, calls on
 * a named object or one of its versions, whole-file reads and writes, backup, restore and the
 * list commands' paging with --maxresults; and for the management plane: calls printed through
 * a shaping function, shaped lists, the resource group of a vault.
 *
 * Tokens and the client secret live only in wiped buffers and are never printed. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/secret.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static const char *reason(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unexpected Status";
    }
}

void cf_cli_format_service_error(int status, const char *body, size_t len, char *out, size_t n)
{
    struct cf_val *v = NULL;
    const struct cf_val *e, *code, *msg;

    if (body && len && cf_val_parse(body, len, &v) == CF_OK) {
        e = cf_val_get(v, "error");
        if (e && e->type == CF_VAL_OBJ) {
            code = cf_val_get(e, "code");
            msg = cf_val_get(e, "message");
            if (code && code->type == CF_VAL_STR && msg && msg->type == CF_VAL_STR) {
                snprintf(out, n, "(%s) %s", code->s, msg->s);
                goto done;
            }
            if (msg && msg->type == CF_VAL_STR) {
                snprintf(out, n, "%s", msg->s);
                goto done;
            }
        } else if (e && e->type == CF_VAL_STR) {
            /* OAuth error shape of the token endpoint. */
            msg = cf_val_get(v, "error_description");
            snprintf(out, n, "(%s) %s", e->s, msg && msg->type == CF_VAL_STR ? msg->s : e->s);
            goto done;
        }
    }
    snprintf(out, n, "Operation returned an invalid status '%s'", reason(status));
done:
    /* Keep it to one line. */
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    cf_val_unref(v);
}

void cf_cli_pct(const char *s, char *out, size_t n)
{
    struct cf_buf b;
    cf_buf_init(&b, n > 0 ? n - 1 : 0);
    if (cf_pct_encode(&b, cf_str_from(s)) == CF_OK && b.data)
        snprintf(out, n, "%s", b.data);
    else if (n)
        out[0] = '\0';
    cf_buf_release(&b);
}

static void strip_slash(char *s)
{
    size_t l = strlen(s);
    while (l && s[l - 1] == '/')
        s[--l] = '\0';
}

void cf_cli_mgmt_audience(struct cf_cli_run *r, char *out, size_t n)
{
    snprintf(out, n, "%s", r->prof.management_url);
    strip_slash(out);
}

void cf_cli_data_audience(struct cf_cli_run *r, char *out, size_t n)
{
    if (r->prof.port && r->prof.port != 443)
        snprintf(out, n, "https://%s:%d", r->prof.dns_suffix, r->prof.port);
    else
        snprintf(out, n, "https://%s", r->prof.dns_suffix);
}

void cf_cli_vault_url(struct cf_cli_run *r, const char *vault, char *out, size_t n)
{
    char lower[128];
    size_t i;
    /* Host names are case-insensitive; send them lower-case as browsers and SDKs do. */
    for (i = 0; vault[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)((vault[i] >= 'A' && vault[i] <= 'Z') ? vault[i] - 'A' + 'a' : vault[i]);
    lower[i] = '\0';
    if (r->prof.port && r->prof.port != 443)
        snprintf(out, n, "https://%s.%s:%d", lower, r->prof.dns_suffix, r->prof.port);
    else
        snprintf(out, n, "https://%s.%s", lower, r->prof.dns_suffix);
}

int cf_cli_ensure_client(struct cf_cli_run *r)
{
    struct cf_client_opts o = {0};
    if (r->client)
        return 0;
    o.ca_file = r->prof.ca_file[0] ? r->prof.ca_file : NULL;
    o.user_agent = "coffer-cli/1.0";
    r->client = cf_client_new(&o);
    return r->client ? 0 : cf_cli_fail(r, 1, "cannot initialise the HTTP client");
}

/* Appends "&client_assertion_type=...&client_assertion=<JWT>" for the profile's certificate. */
static int cert_assertion(struct cf_cli_run *r, const char *token_url, struct cf_buf *form)
{
    struct cf_buf pem, jwt;
    char why[200];
    int rc = 0;

    cf_buf_init(&jwt, 64 * 1024);
    if (cf_cli_read_file(r->prof.cert_file, 1024 * 1024, &pem) != CF_OK) {
        rc = cf_cli_fail(r, 1, "cannot read the certificate file '%s'", r->prof.cert_file);
        goto out;
    }
    if (cf_cli_client_assertion(pem.data, pem.len, r->prof.client_id, token_url, cf_cli_now(r),
                                &jwt, why, sizeof(why)) != CF_OK) {
        rc = cf_cli_fail(r, 1, "'%s': %s", r->prof.cert_file, why[0] ? why : "cannot sign");
        goto out;
    }
    if (cf_buf_puts(form, "&client_assertion_type=") ||
        cf_pct_encode(form, CF_STR("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")) ||
        cf_buf_puts(form, "&client_assertion=") ||
        cf_pct_encode(form, (struct cf_str){jwt.data, jwt.len}))
        rc = cf_cli_fail(r, 1, "out of memory");
out:
    cf_buf_wipe(&pem);
    cf_buf_wipe(&jwt);
    return rc;
}

int cf_cli_token(struct cf_cli_run *r, const char *audience, char **tok)
{
    struct cf_buf form, url;
    struct cf_client_resp resp;
    struct cf_val *v = NULL;
    const struct cf_val *at, *ei;
    char scope[600], authority[512];
    int64_t expires_in = 3599;
    int rc = 0;

    *tok = NULL;
    if (cf_cli_token_cache_get(r->config_dir, audience, cf_cli_now(r), tok) == CF_OK)
        return 0;
    if ((rc = cf_cli_ensure_client(r)) != 0)
        return rc;
    cf_buf_init(&form, 64 * 1024);
    cf_buf_init(&url, 4096);
    cf_client_resp_init(&resp);
    snprintf(authority, sizeof(authority), "%s", r->prof.authority);
    strip_slash(authority);
    snprintf(scope, sizeof(scope), "%s/.default", audience);
    if (cf_buf_printf(&url, "%s/%s/oauth2/v2.0/token", authority, r->prof.tenant_id) ||
        cf_buf_puts(&form, "grant_type=client_credentials&client_id=") ||
        cf_pct_encode(&form, cf_str_from(r->prof.client_id))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (r->prof.cert_file[0]) {
        /* Certificate credential: a fresh client_assertion per request, as MSAL sends it. */
        if ((rc = cert_assertion(r, url.data, &form)) != 0)
            goto out;
    } else if (cf_buf_puts(&form, "&client_secret=") ||
               cf_pct_encode(&form, cf_str_from(r->prof.client_secret ? r->prof.client_secret
                                                                      : ""))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (cf_buf_puts(&form, "&scope=") || cf_pct_encode(&form, cf_str_from(scope))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (cf_client_request(r->client, "POST", url.data, NULL, "application/x-www-form-urlencoded",
                          form.data, form.len, &resp) != CF_OK) {
        rc = cf_cli_fail(r, 1, "%s", cf_client_errmsg(r->client));
        goto out;
    }
    if (resp.status != 200) {
        char msg[1024];
        cf_cli_format_service_error((int)resp.status, resp.body.data, resp.body.len, msg,
                                    sizeof(msg));
        rc = cf_cli_fail(r, 1, "%s", msg);
        goto out;
    }
    if (cf_val_parse(resp.body.data, resp.body.len, &v) != CF_OK ||
        !(at = cf_val_get(v, "access_token")) || at->type != CF_VAL_STR) {
        rc = cf_cli_fail(r, 1, "The token endpoint returned no access_token.");
        goto out;
    }
    ei = cf_val_get(v, "expires_in");
    if (ei && ei->type == CF_VAL_INT)
        expires_in = ei->i;
    else if (ei && ei->type == CF_VAL_STR)
        cf_str_to_i64(cf_str_from(ei->s), &expires_in);
    *tok = strdup(at->s);
    if (!*tok) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    /* A cache that cannot be written only costs a token request next time. */
    if (cf_cli_token_cache_put(r->config_dir, audience, *tok, cf_cli_now(r) + expires_in) != CF_OK) {
    }
out:
    cf_val_unref(v);
    cf_client_resp_release(&resp);
    cf_buf_wipe(&form);
    cf_buf_release(&url);
    return rc;
}

static void free_token(char *t)
{
    if (t) {
        cf_wipe(t, strlen(t));
        free(t);
    }
}

void cf_cli_http_release(struct cf_cli_http *h)
{
    cf_val_unref(h->body);
    h->body = NULL;
}

int cf_cli_call(struct cf_cli_run *r, const char *method, const char *url, const char *audience,
                const struct cf_val *body_val, bool ok404, struct cf_cli_http *h)
{
    struct cf_client_resp resp;
    struct cf_buf body;
    char *tok = NULL;
    int rc;

    memset(h, 0, sizeof(*h));
    if ((rc = cf_cli_ensure_client(r)) != 0)
        return rc;
    if ((rc = cf_cli_token(r, audience, &tok)) != 0)
        return rc;
    cf_buf_init(&body, 64 * 1024 * 1024);
    cf_client_resp_init(&resp);
    if (body_val && cf_val_dump(body_val, &body) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (cf_client_request(r->client, method, url, tok, body_val ? "application/json" : NULL,
                          body_val ? body.data : NULL, body.len, &resp) != CF_OK) {
        rc = cf_cli_fail(r, 1, "%s", cf_client_errmsg(r->client));
        goto out;
    }
    h->status = resp.status;
    snprintf(h->location, sizeof(h->location), "%s", resp.location);
    if (resp.status < 200 || resp.status > 299) {
        char msg[2048];
        if (ok404 && resp.status == 404)
            goto out;
        cf_cli_format_service_error((int)resp.status, resp.body.data, resp.body.len, msg,
                                    sizeof(msg));
        rc = cf_cli_fail(r, resp.status == 404 && (r->cmd->flags & CMD_SHOW) ? 3 : 1, "%s", msg);
        goto out;
    }
    if (resp.body.len && cf_val_parse(resp.body.data, resp.body.len, &h->body) != CF_OK)
        h->body = NULL;
out:
    free_token(tok);
    cf_buf_wipe(&body);
    cf_client_resp_release(&resp);
    return rc;
}

int cf_cli_list_all(struct cf_cli_run *r, const char *url, const char *audience,
                    struct cf_val **out)
{
    char next[4096];
    int rc = 0, pages = 0;

    *out = cf_val_arr();
    if (!*out)
        return cf_cli_fail(r, 1, "out of memory");
    snprintf(next, sizeof(next), "%s", url);
    while (next[0]) {
        struct cf_cli_http h;
        const struct cf_val *val, *nl;
        if (++pages > 10000)
            return cf_cli_fail(r, 1, "too many pages");
        rc = cf_cli_call(r, "GET", next, audience, NULL, false, &h);
        if (rc)
            return rc;
        val = cf_val_get(h.body, "value");
        if (!val || val->type != CF_VAL_ARR) {
            cf_cli_http_release(&h);
            return cf_cli_fail(r, 1, "The server returned a list without a 'value' array.");
        }
        for (size_t i = 0; i < val->n; i++) {
            if (cf_val_push(*out, cf_val_ref(val->items[i])) != CF_OK) {
                cf_cli_http_release(&h);
                return cf_cli_fail(r, 1, "out of memory");
            }
        }
        nl = cf_val_get(h.body, "nextLink");
        next[0] = '\0';
        if (nl && nl->type == CF_VAL_STR && nl->slen > 0) {
            snprintf(next, sizeof(next), "%s", nl->s);
            /* Add the api-version when the link lacks it, as the SDKs do. */
            if (!strstr(next, "api-version=")) {
                const char *av = strstr(url, "api-version=");
                if (av) {
                    size_t avl = strcspn(av, "&");
                    size_t l = strlen(next);
                    snprintf(next + l, sizeof(next) - l, "%c%.*s", strchr(next, '?') ? '&' : '?',
                             (int)avl, av);
                }
            }
        }
        cf_cli_http_release(&h);
    }
    return 0;
}

/* ---- shaping helpers ---- */

struct cf_val *cf_cli_copy(const struct cf_val *v)
{
    /* Trees are immutable once parsed, so sharing is a copy. */
    return v ? cf_val_ref((struct cf_val *)(uintptr_t)v) : cf_val_null();
}

struct cf_val *cf_cli_time_val(const struct cf_val *unix_s)
{
    char t[40];
    if (!unix_s || (unix_s->type != CF_VAL_INT && unix_s->type != CF_VAL_REAL))
        return cf_val_null();
    cf_cli_iso_time(unix_s->type == CF_VAL_INT ? unix_s->i : (int64_t)unix_s->d, t);
    return cf_val_str(t);
}

struct cf_val *cf_cli_arm_time_val(const struct cf_val *s)
{
    char out[64], frac[8] = "";
    int64_t t;
    const char *dot;
    if (!s || s->type != CF_VAL_STR)
        return cf_val_null();
    if (!cf_cli_parse_time(s->s, &t))
        return cf_val_str(s->s);
    /* Python's isoformat prints microseconds only when non-zero, always 6 digits. */
    dot = strchr(s->s, '.');
    if (dot) {
        size_t k = 0;
        bool nonzero = false;
        for (const char *p = dot + 1; *p >= '0' && *p <= '9' && k < 6; p++) {
            frac[k++] = *p;
            nonzero |= *p != '0';
        }
        while (k < 6)
            frac[k++] = '0';
        frac[6] = '\0';
        if (!nonzero)
            frac[0] = '\0';
    }
    cf_cli_iso_time(t, out);
    if (frac[0]) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%.19s.%s+00:00", out, frac);
        return cf_val_str(tmp);
    }
    return cf_val_str(out);
}

struct cf_val *cf_cli_tags(const struct cf_cli_arg *a)
{
    struct cf_val *o = cf_val_obj();
    for (size_t i = 0; o && a && i < a->nlist; i++) {
        const char *eq = strchr(a->list[i], '=');
        char key[600];
        if (!a->list[i][0])
            continue;
        snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - a->list[i]) : (int)strlen(a->list[i]),
                 a->list[i]);
        if (cf_val_set(o, key, cf_val_str(eq ? eq + 1 : "")) != CF_OK) {
            cf_val_unref(o);
            return NULL;
        }
    }
    return o;
}

/* ---- data-plane objects: what the key, certificate and secret commands share ---- */

bool cf_cli_parse_id(const struct cf_cli_kind *k, const char *id, struct cf_cli_addr *a)
{
    const char *p, *host_end, *coll, *name, *ver;
    size_t cl = strlen(k->coll);
    char raw[256];
    if (strncmp(id, "https://", 8) != 0)
        return false;
    p = id + 8;
    host_end = strchr(p, '/');
    if (!host_end || host_end == p || (size_t)(host_end - id) >= sizeof(a->base))
        return false;
    snprintf(a->base, sizeof(a->base), "%.*s", (int)(host_end - id), id);
    coll = host_end + 1;
    if (strncmp(coll, "deleted", 7) == 0)
        coll += 7;
    if (strncmp(coll, k->coll, cl) != 0 || coll[cl] != '/')
        return false;
    name = coll + cl + 1;
    ver = strchr(name, '/');
    snprintf(raw, sizeof(raw), "%.*s", ver ? (int)(ver - name) : (int)strlen(name), name);
    if (!raw[0])
        return false;
    cf_cli_pct(raw, a->name, sizeof(a->name));
    a->version[0] = '\0';
    if (ver && ver[1] && !(k->latest_alias && strcmp(ver + 1, k->latest_alias) == 0)) {
        if (strchr(ver + 1, '/') || strlen(ver + 1) >= sizeof(a->version))
            return false;
        snprintf(a->version, sizeof(a->version), "%s", ver + 1);
    }
    return true;
}

int cf_cli_resolve(struct cf_cli_run *r, const struct cf_cli_kind *k, bool need_name,
                   struct cf_cli_addr *a)
{
    const char *id = cf_cli_arg(r, "--id");
    const char *vault = cf_cli_arg(r, "--vault-name");
    const char *name = need_name ? cf_cli_arg(r, "--name") : NULL;
    const char *ver = cf_cli_arg(r, "--version");
    const char *usage = need_name ? "usage error: --id ID | --vault-name VAULT --name NAME"
                                  : "usage error: --id ID | --vault-name VAULT";

    memset(a, 0, sizeof(*a));
    if (id) {
        if (vault || name)
            return cf_cli_fail(r, 2, "%s", usage);
        if (need_name) {
            if (!cf_cli_parse_id(k, id, a))
                return cf_cli_fail(r, 2, "argument --id: invalid %s id: '%s'", k->noun, id);
        } else {
            snprintf(a->base, sizeof(a->base), "%s", id);
            strip_slash(a->base);
        }
    } else {
        if (!vault || (need_name && !name))
            return cf_cli_fail(r, 2, "%s", usage);
        cf_cli_vault_url(r, vault, a->base, sizeof(a->base));
        if (need_name)
            cf_cli_pct(name, a->name, sizeof(a->name));
    }
    if (ver && *ver)
        snprintf(a->version, sizeof(a->version), "%s", ver);
    return 0;
}

int cf_cli_data_call(struct cf_cli_run *r, const char *method, const char *url,
                     const struct cf_val *body, struct cf_cli_http *h)
{
    char aud[600];
    cf_cli_data_audience(r, aud, sizeof(aud));
    return cf_cli_call(r, method, url, aud, body, false, h);
}

int cf_cli_named_call(struct cf_cli_run *r, const struct cf_cli_kind *k, const char *method,
                      const char *prefix, const char *suffix, struct cf_cli_http *h)
{
    struct cf_cli_addr a;
    char url[2048];
    int rc;
    if ((rc = cf_cli_resolve(r, k, true, &a)) != 0)
        return rc;
    snprintf(url, sizeof(url), "%s%s%s%s?%s", a.base, prefix, a.name, suffix, k->api);
    return cf_cli_data_call(r, method, url, NULL, h);
}

int cf_cli_version_call(struct cf_cli_run *r, const struct cf_cli_kind *k,
                        const struct cf_cli_addr *a, const char *method, const struct cf_val *body,
                        struct cf_cli_http *h)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s/%s/%s/%s?%s", a->base, k->coll, a->name, a->version, k->api);
    return cf_cli_data_call(r, method, url, body, h);
}

int cf_cli_show_call(struct cf_cli_run *r, const struct cf_cli_kind *k, struct cf_cli_http *h)
{
    struct cf_cli_addr a;
    int rc;
    if ((rc = cf_cli_resolve(r, k, true, &a)) != 0)
        return rc;
    return cf_cli_version_call(r, k, &a, "GET", NULL, h);
}

int cf_cli_set_result(struct cf_cli_run *r, struct cf_cli_http *h, struct cf_val *v)
{
    cf_cli_http_release(h);
    r->result = v;
    return v ? 0 : cf_cli_fail(r, 1, "out of memory");
}

int cf_cli_read_whole(struct cf_cli_run *r, const char *path, struct cf_buf *b)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    int rc = 0;
    if (!f)
        return cf_cli_fail(r, 1, "[Errno %d] %s: '%s'", errno, strerror(errno), path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (cf_buf_append(b, chunk, n) != CF_OK) {
            rc = cf_cli_fail(r, 1, "The file '%s' is too large.", path);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = cf_cli_fail(r, 1, "cannot read '%s'", path);
    cf_wipe(chunk, sizeof(chunk));
    fclose(f);
    return rc;
}

int cf_cli_write_whole(struct cf_cli_run *r, const char *path, const void *data, size_t n,
                       bool excl)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC), 0600);
    size_t off = 0;
    if (fd < 0)
        return cf_cli_fail(r, 1, "[Errno %d] %s: '%s'", errno, strerror(errno), path);
    while (off < n) {
        ssize_t w = write(fd, (const char *)data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            unlink(path);
            return cf_cli_fail(r, 1, "cannot write '%s'", path);
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        unlink(path);
        return cf_cli_fail(r, 1, "cannot write '%s'", path);
    }
    return 0;
}

int cf_cli_backup(struct cf_cli_run *r, const struct cf_cli_kind *k)
{
    struct cf_cli_http h;
    struct cf_buf blob;
    const struct cf_val *v;
    char prefix[64];
    int rc;

    snprintf(prefix, sizeof(prefix), "/%s/", k->coll);
    if ((rc = cf_cli_named_call(r, k, "POST", prefix, "/backup", &h)) != 0)
        return rc;
    cf_buf_init(&blob, 64 * 1024 * 1024);
    v = cf_val_get(h.body, "value");
    if (!v || v->type != CF_VAL_STR ||
        cf_b64_decode(&blob, (struct cf_str){v->s, v->slen}) != CF_OK)
        rc = cf_cli_fail(r, 1, "The server returned an invalid backup blob.");
    else
        rc = cf_cli_write_whole(r, cf_cli_arg(r, "--file"), blob.data ? blob.data : "", blob.len,
                                false);
    cf_buf_wipe(&blob);
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_restore(struct cf_cli_run *r, const struct cf_cli_kind *k, struct cf_cli_http *h)
{
    struct cf_cli_addr a;
    struct cf_buf raw, b64;
    struct cf_val *body = NULL;
    char url[2048];
    int rc;

    if ((rc = cf_cli_resolve(r, k, false, &a)) != 0)
        return rc;
    cf_buf_init(&raw, 64 * 1024 * 1024);
    cf_buf_init(&b64, 128 * 1024 * 1024);
    if ((rc = cf_cli_read_whole(r, cf_cli_arg(r, "--file"), &raw)) != 0)
        goto out;
    body = cf_val_obj();
    if (cf_b64url_encode(&b64, raw.data ? raw.data : "", raw.len) != CF_OK || !body ||
        cf_val_set(body, "value", cf_val_strn(b64.data ? b64.data : "", b64.len)) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    snprintf(url, sizeof(url), "%s/%s/restore?%s", a.base, k->coll, k->api);
    rc = cf_cli_data_call(r, "POST", url, body, h);
out:
    cf_val_unref(body);
    cf_buf_wipe(&raw);
    cf_buf_wipe(&b64);
    return rc;
}

int cf_cli_list_items(struct cf_cli_run *r, const char *url, cf_cli_item_fn add, const void *arg)
{
    char aud[600];
    struct cf_val *items = NULL, *out;
    const char *max = cf_cli_arg(r, "--maxresults");
    int64_t maxn = -1;
    int rc;

    if (max && (!cf_str_to_i64(cf_str_from(max), &maxn) || maxn < 0))
        return cf_cli_fail(r, 2, "argument --maxresults: invalid int value: '%s'", max);
    cf_cli_data_audience(r, aud, sizeof(aud));
    if ((rc = cf_cli_list_all(r, url, aud, &items)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    out = cf_val_arr();
    for (size_t i = 0; out && i < items->n; i++) {
        if (maxn >= 0 && (int64_t)out->n >= maxn)
            break;
        if (add(r, items->items[i], arg, out) != CF_OK) {
            cf_val_unref(out);
            out = NULL;
        }
    }
    cf_val_unref(items);
    if (!out)
        return cf_cli_fail(r, 1, "out of memory");
    r->result = out;
    return 0;
}

int cf_cli_list_kind(struct cf_cli_run *r, const struct cf_cli_kind *k, const char *coll,
                     bool named, const char *tail, const char *extra, cf_cli_item_fn add,
                     const void *arg)
{
    struct cf_cli_addr a;
    char url[2048];
    int rc;

    if ((rc = cf_cli_resolve(r, k, named, &a)) != 0)
        return rc;
    snprintf(url, sizeof(url), "%s/%s%s%s%s?maxresults=25&%s%s", a.base, coll, named ? "/" : "",
             named ? a.name : "", tail, extra, k->api);
    return cf_cli_list_items(r, url, add, arg);
}

bool cf_cli_managed_hidden(struct cf_cli_run *r, const struct cf_val *item)
{
    const char *inc = cf_cli_arg(r, "--include-managed");
    return cf_val_truthy(cf_val_get(item, "managed")) && !strcmp(r->cmd->name, "list") &&
           !(inc && !strcmp(inc, "true"));
}

/* ---- management plane: what the ARM resource commands share ---- */

int cf_cli_mgmt_call(struct cf_cli_run *r, const char *method, const char *url,
                     const struct cf_val *body, struct cf_cli_http *h)
{
    char aud[600];
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    return cf_cli_call(r, method, url, aud, body, false, h);
}

int cf_cli_mgmt_show(struct cf_cli_run *r, const char *method, const char *url,
                     const struct cf_val *body, cf_cli_shape_fn shape)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_mgmt_call(r, method, url, body, &h)) != 0)
        return rc;
    if (!shape) {
        cf_cli_http_release(&h);
        return 0;
    }
    return cf_cli_set_result(r, &h, shape(h.body));
}

int cf_cli_mgmt_list(struct cf_cli_run *r, const char *url, cf_cli_shape_fn shape)
{
    struct cf_val *items = NULL, *out;
    char aud[600];
    int rc;

    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    if ((rc = cf_cli_list_all(r, url, aud, &items)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    if (!shape) {
        r->result = items;
        return 0;
    }
    out = cf_val_arr();
    for (size_t i = 0; out && i < items->n; i++)
        if (cf_val_push(out, shape(items->items[i])) != CF_OK) {
            cf_val_unref(out);
            out = NULL;
        }
    cf_val_unref(items);
    r->result = out;
    return out ? 0 : cf_cli_fail(r, 1, "out of memory");
}

int cf_cli_vault_group(struct cf_cli_run *r, const char *name, char *rg, size_t n,
                       int notfound_rc)
{
    const char *g = cf_cli_arg(r, "--resource-group");
    struct cf_val *items = NULL;
    char url[2048], aud[600];
    int rc;

    rg[0] = '\0';
    if (g) {
        snprintf(rg, n, "%s", g);
        return 0;
    }
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    snprintf(url, sizeof(url),
             "%s/subscriptions/%s/providers/Microsoft.KeyVault/vaults?" CF_CLI_VAULT_API, aud,
             r->prof.subscription_id);
    if ((rc = cf_cli_list_all(r, url, aud, &items)) != 0) {
        cf_val_unref(items);
        return rc;
    }
    for (size_t i = 0; i < items->n; i++) {
        const struct cf_val *vn = cf_val_get(items->items[i], "name");
        const struct cf_val *id = cf_val_get(items->items[i], "id");
        const char *p;
        if (vn && vn->type == CF_VAL_STR && !strcasecmp(vn->s, name) && id &&
            id->type == CF_VAL_STR && (p = strcasestr(id->s, "/resourceGroups/")) != NULL) {
            p += 16;
            snprintf(rg, n, "%.*s", (int)strcspn(p, "/"), p);
            break;
        }
    }
    cf_val_unref(items);
    if (!rg[0])
        return cf_cli_fail(r, notfound_rc, "The Vault '%s' not found within subscription.", name);
    return 0;
}

/* h_authority.c - the token authority's REST face (clients.md §1): OIDC discovery documents,
 * JWKS, and the token endpoint (client_credentials with a secret or a client assertion). The
 * decisions about tenants, clients, secrets and assertions are auth/'s; this file only turns HTTP into a cf_token_request and results into
 * Entra-shaped JSON.
 *
 * Map:
 *   authority_base          "https://" + the Host the request came to (issuer must match it)
 *   write_discovery         the discovery document, tenant or ADFS flavour
 *   tenant_path             the tenant segment to publish ("organizations"/"common" -> real id)
 *   form_parse              x-www-form-urlencoded body + HTTP Basic -> struct authority_form
 *   write_token_error       Entra's error shape {"error","error_description","error_codes",...}
 *   api_oidc_config, api_oidc_config_adfs, api_jwks, api_token   the handlers
 *
 * Secrets: the client secret is decoded into one buffer reserved once up front (so it is never
 * reallocated and left behind) and wiped before the reply; it is never logged or echoed. The
 * issued token is copied into the response body and its working buffer wiped. */
#include "base/cf.h"
#include "api/internal.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/secret.h"
#include "crypto/crypto.h"

#define TOKEN_MAX (16 * 1024)
#define AUTHORITY_URL_MAX 600

/* What the token endpoint reads from a request; views into the caller's scratch buffer. */
struct authority_form {
    struct cf_str grant_type, client_id, client_secret, scope;
    struct cf_str client_assertion, client_assertion_type;
    bool basic; /* client_id/client_secret came from HTTP Basic */
};

/* ---------------------------------------------------------------- small helpers */

static void te_set(struct cf_token_error *te, const char *error, int status, int aadsts,
                   const char *desc)
{
    te->error = error;
    te->http_status = status;
    te->aadsts = aadsts;
    snprintf(te->description, sizeof(te->description), "AADSTS%d: %s", aadsts, desc);
}

static cf_err authority_base(const struct api_req *r, struct cf_buf *out)
{
    return api_base_url(r, out);
}

static bool is_alias(struct cf_str t)
{
    return cf_str_eq_ci(t, CF_STR("organizations")) || cf_str_eq_ci(t, CF_STR("common"));
}

/* A tenant segment that may be echoed in a message: short, id characters only. */
static bool echoable(struct cf_str t)
{
    if (t.len > 64)
        return false;
    for (size_t i = 0; i < t.len; i++) {
        char c = t.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

static bool looks_like_uuid(const char *s)
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

static bool content_type_is_form(const char *ct)
{
    static const char want[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(want) - 1;

    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* ---------------------------------------------------------------- discovery */

/* Writes the discovery document. base: "https://host:port"; path: "T" (tenant flavour, served
 * under /T/v2.0) or "adfs" (ADFS flavour, no /v2.0 anywhere). cloud: cloud_instance_name. */
static cf_err write_discovery(struct cf_buf *out, const char *base, const char *path, bool adfs,
                              const char *cloud)
{
    static const char *const auth_methods[] = {"client_secret_post", "private_key_jwt",
                                               "client_secret_basic"};
    static const char *const response_types[] = {"code", "id_token", "code id_token",
                                                 "id_token token"};
    static const char *const response_modes[] = {"query", "fragment", "form_post"};
    static const char *const scopes[] = {"openid", "profile", "email", "offline_access"};
    static const char *const claims[] = {"sub", "iss", "aud", "exp", "iat", "tid", "oid"};
    char u[AUTHORITY_URL_MAX];
    const char *v2 = adfs ? "" : "/v2.0";
    struct cf_jw w;

    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    snprintf(u, sizeof(u), "%s/%s%s", base, path, v2);
    cf_jw_kstr(&w, "issuer", u);
    snprintf(u, sizeof(u), "%s/%s/oauth2%s/authorize", base, path, v2);
    cf_jw_kstr(&w, "authorization_endpoint", u);
    snprintf(u, sizeof(u), "%s/%s/oauth2%s/token", base, path, v2);
    cf_jw_kstr(&w, "token_endpoint", u);
    snprintf(u, sizeof(u), "%s/%s/oauth2%s/devicecode", base, path, v2);
    cf_jw_kstr(&w, "device_authorization_endpoint", u);
    snprintf(u, sizeof(u), "%s/%s/discovery%s/keys", base, path, v2);
    cf_jw_kstr(&w, "jwks_uri", u);
#define STR_ARRAY(key, arr)                                                                        \
    do {                                                                                           \
        cf_jw_key(&w, key);                                                                        \
        cf_jw_arr_begin(&w);                                                                       \
        for (size_t i_ = 0; i_ < CF_ARRAY_LEN(arr); i_++)                                          \
            cf_jw_str(&w, arr[i_]);                                                                \
        cf_jw_arr_end(&w);                                                                         \
    } while (0)
    STR_ARRAY("token_endpoint_auth_methods_supported", auth_methods);
    STR_ARRAY("response_types_supported", response_types);
    STR_ARRAY("response_modes_supported", response_modes);
    cf_jw_key(&w, "subject_types_supported");
    cf_jw_arr_begin(&w);
    cf_jw_str(&w, "pairwise");
    cf_jw_arr_end(&w);
    cf_jw_key(&w, "id_token_signing_alg_values_supported");
    cf_jw_arr_begin(&w);
    cf_jw_str(&w, "RS256");
    cf_jw_arr_end(&w);
    STR_ARRAY("scopes_supported", scopes);
    STR_ARRAY("claims_supported", claims);
#undef STR_ARRAY
    cf_jw_kstr(&w, "tenant_region_scope", "NA");
    cf_jw_kstr(&w, "cloud_instance_name", cloud);
    cf_jw_obj_end(&w);
    return cf_jw_err(&w);
}

/* cloud_instance_name: the login host without its first label ("login.localhost" ->
 * "localhost"), or the whole name when it has one label. */
static const char *cloud_name(const struct api_req *r)
{
    const char *h = r->api->cfg.login_host ? r->api->cfg.login_host : "localhost";
    const char *dot = strchr(h, '.');
    return dot && dot[1] ? dot + 1 : h;
}

/* The Entra error shape. trace and corr are uuids; now_s the time to print. */
static cf_err write_token_error(struct cf_buf *out, const struct cf_token_error *te, int64_t now_s,
                                const char *trace, const char *corr)
{
    char ts[40];
    time_t t = (time_t)now_s;
    struct tm tm;
    struct cf_jw w;

    if (!gmtime_r(&t, &tm) || strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(ts, sizeof(ts), "1970-01-01 00:00:00Z");
    cf_buf_reset(out);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "error", te->error ? te->error : "server_error");
    cf_jw_kstr(&w, "error_description", te->description);
    cf_jw_key(&w, "error_codes");
    cf_jw_arr_begin(&w);
    cf_jw_int(&w, te->aadsts);
    cf_jw_arr_end(&w);
    cf_jw_kstr(&w, "timestamp", ts);
    cf_jw_kstr(&w, "trace_id", trace);
    cf_jw_kstr(&w, "correlation_id", corr);
    cf_jw_obj_end(&w);
    return cf_jw_err(&w);
}

static int64_t now_s(const struct api_req *r)
{
    return r->api->cfg.clock ? cf_clock_s(r->api->cfg.clock) : (int64_t)time(NULL);
}

/* Replies with the Entra error shape (status from te) and Cache-Control: no-store. */
static void reply_token_error(struct api_req *r, const struct cf_token_error *te)
{
    char trace[37], corr[37];
    const char *crid = cf_http_header(r->http, "client-request-id");
    struct cf_str qcrid = api_query(r, "client-request-id");
    int status = te->http_status >= 400 && te->http_status < 600 ? te->http_status : 500;
    cf_err e;

    if (cf_uuid4(trace) != CF_OK)
        snprintf(trace, sizeof(trace), "00000000-0000-0000-0000-000000000000");
    if (looks_like_uuid(crid)) {
        memcpy(corr, crid, 37);
    } else if (qcrid.len == 36) {
        memcpy(corr, qcrid.p, 36);
        corr[36] = '\0';
        if (!looks_like_uuid(corr))
            memcpy(corr, trace, 37);
    } else {
        memcpy(corr, trace, 37);
    }
    e = write_token_error(&r->out, te, now_s(r), trace, corr);
    if (e) {
        api_error_err(r, e);
        return;
    }
    api_add_header(r, "Cache-Control", "no-store");
    api_reply(r, status);
}

/* Discovery for a tenant segment: aliases publish the default tenant's id. NULL when the
 * tenant is unknown. Writes the segment to publish into out. */
static bool tenant_path(const struct api_req *r, struct cf_str seg, char *out, size_t outlen)
{
    struct cf_auth *a = r->api->cfg.auth;
    const char *def;

    if (seg.len == 0 || seg.len >= outlen || !echoable(seg) || !cf_auth_tenant_known(a, seg))
        return false;
    if (is_alias(seg)) {
        def = cf_auth_default_tenant(a);
        if (!def || strlen(def) >= outlen)
            return false;
        snprintf(out, outlen, "%s", def);
        return true;
    }
    memcpy(out, seg.p, seg.len);
    out[seg.len] = '\0';
    return true;
}

static void discovery(struct api_req *r, bool adfs)
{
    struct cf_buf base;
    char tenant[80];
    cf_err e;

    cf_buf_init(&base, AUTHORITY_URL_MAX / 2);
    if (!adfs && !tenant_path(r, r->cap[0], tenant, sizeof(tenant))) {
        struct cf_token_error te = {0};
        char desc[200];
        snprintf(desc, sizeof(desc),
                 "Tenant '%.*s' not found. Check to make sure you have the correct tenant ID "
                 "and are signing into the correct cloud.",
                 echoable(r->cap[0]) ? (int)r->cap[0].len : 0, r->cap[0].p);
        te_set(&te, "invalid_tenant", 400, 90002, desc);
        cf_buf_release(&base);
        reply_token_error(r, &te);
        return;
    }
    e = authority_base(r, &base);
    if (!e)
        e = write_discovery(&r->out, base.data, adfs ? "adfs" : tenant, adfs, cloud_name(r));
    cf_buf_release(&base);
    if (e) {
        api_error_err(r, e);
        return;
    }
    api_reply(r, 200);
}

void api_oidc_config(struct api_req *r)
{
    discovery(r, false);
}

void api_oidc_config_adfs(struct api_req *r)
{
    discovery(r, true);
}

void api_jwks(struct api_req *r)
{
    struct cf_jw w;
    cf_err e;

    cf_jw_init(&w, &r->out);
    e = cf_auth_write_jwks(r->api->cfg.auth, &w);
    if (e) {
        api_error_err(r, e);
        return;
    }
    api_reply(r, 200);
}

/* ---------------------------------------------------------------- token endpoint */

/* Decodes one form component into scratch (which has room reserved: decoding never grows). */
static bool decode_into(struct cf_buf *scratch, struct cf_str in, struct cf_str *out)
{
    size_t start = scratch->len;
    if (cf_pct_decode(scratch, in, true) != CF_OK) {
        scratch->len = start;
        return false;
    }
    *out = (struct cf_str){scratch->data + start, scratch->len - start};
    return true;
}

static cf_err form_bad(struct cf_token_error *te, const char *desc)
{
    te_set(te, "invalid_request", 400, 9002313, desc);
    return CF_EBADPARAM;
}

/* Client id and secret from "Authorization: Basic base64(urlenc(id):urlenc(secret))"
 * (RFC 6749 §2.3.1). basic is a wiped work buffer with room reserved by the caller. */
static cf_err parse_basic(const char *authz, struct cf_buf *basic, struct cf_buf *scratch,
                          struct cf_str *id, struct cf_str *secret, struct cf_token_error *te)
{
    struct cf_str enc = cf_str_from(authz + 6), a, b;

    while (enc.len && (enc.p[0] == ' ' || enc.p[0] == '\t')) {
        enc.p++;
        enc.len--;
    }
    while (enc.len && (enc.p[enc.len - 1] == ' ' || enc.p[enc.len - 1] == '\t'))
        enc.len--;
    if (cf_b64_decode(basic, enc) != CF_OK || !cf_str_split(cf_buf_str(basic), ':', &a, &b) ||
        !decode_into(scratch, a, id) || !decode_into(scratch, b, secret)) {
        te_set(te, "invalid_client", 401, 7000216,
               "The Authorization header is not valid HTTP Basic client authentication.");
        return CF_EBADCLIENT;
    }
    return CF_OK;
}

/* Parses an application/x-www-form-urlencoded token request body and, when present, HTTP Basic
 * client credentials (authz: the Authorization header or NULL). Unknown parameters are
 * ignored; a known one given twice, a bad escape, or credentials given both ways are rejected.
 * scratch and basic must be empty buffers whose max allows body.len + strlen(authz) + 16;
 * the views in *f point into scratch. On failure fills *te. */
static cf_err form_parse(struct cf_str body, const char *authz, struct cf_buf *scratch,
                         struct cf_buf *basic, struct authority_form *f, struct cf_token_error *te)
{
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        {"grant_type", offsetof(struct authority_form, grant_type)},
        {"client_id", offsetof(struct authority_form, client_id)},
        {"client_secret", offsetof(struct authority_form, client_secret)},
        {"scope", offsetof(struct authority_form, scope)},
        {"client_assertion", offsetof(struct authority_form, client_assertion)},
        {"client_assertion_type", offsetof(struct authority_form, client_assertion_type)},
    };
    bool seen[CF_ARRAY_LEN(known)] = {false};
    size_t alen = authz ? strlen(authz) : 0;
    size_t i = 0;

    memset(f, 0, sizeof(*f));
    /* Reserved once: decoding never grows text, so views stay valid and nothing is left
     * behind by a realloc. */
    if (cf_buf_reserve(scratch, body.len + alen + 16) != CF_OK ||
        cf_buf_reserve(basic, alen + 16) != CF_OK) {
        te_set(te, "invalid_request", 400, 90015, "The request is too large.");
        return CF_ETOOBIG;
    }
    while (i < body.len) {
        size_t j = i;
        struct cf_str kv, k, v, key, val;

        while (j < body.len && body.p[j] != '&')
            j++;
        kv = (struct cf_str){body.p + i, j - i};
        i = j + 1;
        if (kv.len == 0)
            continue;
        if (!cf_str_split(kv, '=', &k, &v))
            v = CF_STR("");
        if (!decode_into(scratch, k, &key))
            return form_bad(te, "Invalid request. Request is malformed or invalid: a parameter "
                                "name has a bad percent-encoding.");
        for (size_t n = 0; n < CF_ARRAY_LEN(known); n++) {
            struct cf_str *slot;
            if (!cf_str_eq_cstr(key, known[n].name))
                continue;
            if (seen[n]) {
                char d[160];
                snprintf(d, sizeof(d),
                         "Invalid request. Request is malformed or invalid: the parameter "
                         "'%s' is given more than once.",
                         known[n].name);
                return form_bad(te, d);
            }
            if (!decode_into(scratch, v, &val)) {
                char d[160];
                snprintf(d, sizeof(d),
                         "Invalid request. Request is malformed or invalid: the parameter "
                         "'%s' has a bad percent-encoding.",
                         known[n].name);
                return form_bad(te, d);
            }
            seen[n] = true;
            slot = (struct cf_str *)(void *)((char *)f + known[n].off);
            *slot = val;
            break;
        }
    }
    if (authz && strncasecmp(authz, "Basic ", 6) == 0) {
        struct cf_str id, secret;
        cf_err e = parse_basic(authz, basic, scratch, &id, &secret, te);
        if (e)
            return e;
        if (f->client_secret.p || f->client_assertion.p)
            return form_bad(te, "Invalid request. Request is malformed or invalid: client "
                                "credentials were given both in the body and in the "
                                "Authorization header.");
        if (f->client_id.p && !cf_str_eq(f->client_id, id)) {
            te_set(te, "invalid_client", 401, 7000216,
                   "The client_id in the body does not match the one in the Authorization "
                   "header.");
            return CF_EBADCLIENT;
        }
        f->client_id = id;
        f->client_secret = secret;
        f->basic = true;
    }
    return CF_OK;
}

static cf_err write_token(struct cf_buf *out, struct cf_str token, int64_t expires_in)
{
    struct cf_jw w;

    cf_buf_reset(out);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "token_type", "Bearer");
    cf_jw_kint(&w, "expires_in", expires_in);
    cf_jw_kint(&w, "ext_expires_in", expires_in);
    cf_jw_key(&w, "access_token");
    cf_jw_strn(&w, token.p, token.len);
    cf_jw_obj_end(&w);
    return cf_jw_err(&w);
}

void api_token(struct api_req *r)
{
    const char *authz = cf_http_header(r->http, "Authorization");
    struct cf_str body = r->http->body;
    size_t room = body.len + (authz ? strlen(authz) : 0) + 16;
    struct cf_buf scratch, basic, token, endpoint;
    struct cf_token_request tr;
    struct cf_token_error te;
    struct authority_form f;
    int64_t expires_in = 0;
    cf_err e;

    memset(&tr, 0, sizeof(tr));
    memset(&te, 0, sizeof(te));
    cf_buf_init(&scratch, room);
    cf_buf_init(&basic, room);
    cf_buf_init(&token, TOKEN_MAX);
    cf_buf_init(&endpoint, AUTHORITY_URL_MAX + CF_MAX_HEADER_BYTES);

    if (!content_type_is_form(cf_http_header(r->http, "Content-Type"))) {
        form_bad(&te, "Invalid request. Request is malformed or invalid: the body must be "
                      "application/x-www-form-urlencoded.");
        goto fail;
    }
    e = form_parse(body, authz, &scratch, &basic, &f, &te);
    if (e)
        goto fail;
    /* An assertion's aud names the URL the client posted to: https + Host + path. */
    e = api_base_url(r, &endpoint);
    if (!e)
        e = cf_buf_append_str(&endpoint, r->http->path);
    if (e) {
        te_set(&te, "invalid_request", 400, 90015, "The request is too large.");
        goto fail;
    }
    tr.tenant = r->ncap > 0 ? r->cap[0] : CF_STR("adfs");
    tr.grant_type = f.grant_type;
    tr.client_id = f.client_id;
    tr.client_secret = f.client_secret;
    tr.scope = f.scope;
    tr.client_assertion = f.client_assertion;
    tr.client_assertion_type = f.client_assertion_type;
    tr.endpoint = cf_buf_str(&endpoint);
    e = cf_auth_issue_token(r->api->cfg.auth, &tr, &token, &expires_in, &te);
    cf_buf_wipe(&scratch);
    cf_buf_wipe(&basic);
    cf_buf_release(&endpoint);
    if (e)
        goto fail;
    e = write_token(&r->out, cf_buf_str(&token), expires_in);
    cf_buf_wipe(&token);
    if (e) {
        api_error_err(r, e);
        return;
    }
    api_add_header(r, "Cache-Control", "no-store");
    api_reply(r, 200);
    return;
fail:
    cf_buf_wipe(&scratch);
    cf_buf_wipe(&basic);
    cf_buf_wipe(&token);
    cf_buf_release(&endpoint);
    if (!te.error)
        te_set(&te, "server_error", 500, 90100, "The server could not issue a token right now.");
    reply_token_error(r, &te);
}

/* ---------------------------------------------------------------- signing keys (management) */

/* One key as an ARM-shaped resource; times ISO-8601, null when not set. */
static void write_signing_key(struct cf_jw *w, const struct cf_auth_signing_key *k)
{
    char id[128], ts[32];

    snprintf(id, sizeof(id), "/providers/Microsoft.Coffer/signingKeys/%s", k->kid);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "id", id);
    cf_jw_kstr(w, "name", k->kid);
    cf_jw_kstr(w, "type", "Microsoft.Coffer/signingKeys");
    cf_jw_key(w, "properties");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "kid", k->kid);
    cf_jw_kstr(w, "alg", k->alg);
    cf_jw_kbool(w, "active", k->active);
    cf_time_iso8601(k->created, ts);
    cf_jw_kstr(w, "created", ts);
    cf_jw_key(w, "retired");
    if (k->retired) {
        cf_time_iso8601(k->retired, ts);
        cf_jw_str(w, ts);
    } else {
        cf_jw_null(w);
    }
    cf_jw_key(w, "retireAfter");
    if (k->retire_after) {
        cf_time_iso8601(k->retire_after, ts);
        cf_jw_str(w, ts);
    } else {
        cf_jw_null(w);
    }
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

/* GET /providers/Microsoft.Coffer/signingKeys: the keys JWKS publishes, newest first. */
void api_signing_key_list(struct api_req *r)
{
    struct cf_auth_signing_key keys[16];
    size_t n = cf_auth_signing_keys(r->api->cfg.auth, keys, CF_ARRAY_LEN(keys));
    struct cf_jw w;
    cf_err e;

    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "value");
    cf_jw_arr_begin(&w);
    for (size_t i = 0; i < CF_MIN(n, CF_ARRAY_LEN(keys)); i++)
        write_signing_key(&w, &keys[i]);
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
    if (e) {
        api_error_err(r, e);
        return;
    }
    api_reply(r, 200);
}

/* POST /providers/Microsoft.Coffer/signingKeys/rotate: a new key signs from now on; the
 * previous one keeps verifying its tokens until they expire. Answers the new key. */
void api_signing_key_rotate(struct api_req *r)
{
    struct cf_auth_signing_key k;
    struct cf_jw w;
    cf_err e = cf_auth_rotate_signing_key(r->api->cfg.auth, &k);

    if (e) {
        api_error_err(r, e);
        return;
    }
    cf_jw_init(&w, &r->out);
    write_signing_key(&w, &k);
    e = cf_jw_err(&w);
    if (e) {
        api_error_err(r, e);
        return;
    }
    api_reply(r, 200);
}

/* token.c - the token endpoint: client_credentials with a client secret.
 *
 * Order of checks (cheap and public first, the one password-hash verification last, so a
 * malformed request never costs a hash and every well-formed one costs exactly one):
 *   grant_type -> tenant -> client_id present -> client_secret present -> scope -> client
 *   lookup and secret -> principal enabled.
 * Unknown client and wrong secret give the same answer (401 invalid_client, AADSTS7000215)
 * and the same cost (an unknown client is checked against a dummy hash): Entra would say
 * AADSTS700016 for an unknown app, but that tells a caller which client ids exist. A disabled
 * principal is reported (400 unauthorized_client, AADSTS7000112) only after its secret
 * matched. Error descriptions never echo the secret; they echo the tenant segment only when
 * it is short and made of id characters. */
#include "base/cf.h"
#include "auth/auth_int.h"

#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"

#define DEFAULT_SUFFIX "/.default"

static cf_err fail(struct cf_token_error *te, cf_err code, const char *error, int status,
                   int aadsts, const char *fmt, ...) CF_PRINTF(6, 7);

static cf_err fail(struct cf_token_error *te, cf_err code, const char *error, int status,
                   int aadsts, const char *fmt, ...)
{
    va_list ap;
    int n;

    te->error = error;
    te->http_status = status;
    te->aadsts = aadsts;
    n = snprintf(te->description, sizeof(te->description), "AADSTS%d: ", aadsts);
    if (n < 0 || (size_t)n >= sizeof(te->description))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(te->description + n, sizeof(te->description) - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

static cf_err fail_internal(struct cf_token_error *te, cf_err e)
{
    bool busy = e == CF_ESTORE || e == CF_EFULL || e == CF_EBUSY;

    te->error = busy ? "temporarily_unavailable" : "server_error";
    te->http_status = busy ? 503 : 500;
    te->aadsts = busy ? 90033 : 90100;
    snprintf(te->description, sizeof(te->description),
             "AADSTS%d: The server could not issue a token right now.", te->aadsts);
    return e;
}

/* An audience is printable ASCII without space, quote or backslash, 1..AUTH_AUD_MAX long. */
static bool aud_ok(struct cf_str aud)
{
    if (aud.len == 0 || aud.len > AUTH_AUD_MAX)
        return false;
    for (size_t i = 0; i < aud.len; i++) {
        unsigned char c = (unsigned char)aud.p[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* "<aud>/.default" -> aud, with one trailing '/' of aud removed ("https://x//.default" is what
 * az sends for a resource id "https://x/"). */
static bool scope_to_aud(struct cf_str scope, struct cf_str *aud)
{
    size_t sl = sizeof(DEFAULT_SUFFIX) - 1;

    if (scope.len <= sl || memcmp(scope.p + scope.len - sl, DEFAULT_SUFFIX, sl) != 0)
        return false;
    *aud = (struct cf_str){scope.p, scope.len - sl};
    if (aud->len && aud->p[aud->len - 1] == '/')
        aud->len--;
    return aud_ok(*aud);
}

static cf_err build_claims(const struct cf_auth *a, const struct cf_rec_principal *p,
                           struct cf_str aud, int64_t now, struct cf_buf *out)
{
    char iss[AUTH_ISSUER_MAX + AUTH_TENANT_MAX + 16];
    struct cf_jw w;

    snprintf(iss, sizeof(iss), "%s/%s/v2.0", a->issuer, p->tenant_id);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "aud");
    cf_jw_strn(&w, aud.p, aud.len);
    cf_jw_kstr(&w, "iss", iss);
    cf_jw_kint(&w, "iat", now);
    cf_jw_kint(&w, "nbf", now);
    cf_jw_kint(&w, "exp", now + a->lifetime_s);
    cf_jw_kstr(&w, "tid", p->tenant_id);
    cf_jw_kstr(&w, "oid", p->object_id);
    cf_jw_kstr(&w, "appid", p->client_id);
    cf_jw_kstr(&w, "azp", p->client_id);
    cf_jw_kstr(&w, "sub", p->object_id);
    cf_jw_kstr(&w, "idtyp", "app");
    cf_jw_kstr(&w, "ver", "2.0");
    cf_jw_kint(&w, "gen", p->generation);
    cf_jw_obj_end(&w);
    return cf_jw_err(&w);
}

/* Echo the tenant segment only when it cannot carry anything surprising. */
static void tenant_for_message(struct cf_str t, char out[AUTH_TENANT_MAX + 1])
{
    bool ok = t.len > 0 && t.len <= AUTH_TENANT_MAX;

    for (size_t i = 0; ok && i < t.len; i++) {
        char c = t.p[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '.' || c == '_';
    }
    out[0] = '\0';
    if (ok) {
        memcpy(out, t.p, t.len);
        out[t.len] = '\0';
    }
}

/* The MAC naming one (tenant, client, secret, stored hash) - see cred[] in auth_int.h. */
static bool cred_mac(struct cf_auth *a, const struct cf_token_request *req, const char *stored,
                     unsigned char mac[32])
{
    struct cf_buf m;
    bool ok;

    cf_buf_init(&m, 4096);
    ok = cf_buf_append_str(&m, req->tenant) == CF_OK && cf_buf_putc(&m, '\0') == CF_OK &&
         cf_buf_append_str(&m, req->client_id) == CF_OK && cf_buf_putc(&m, '\0') == CF_OK &&
         cf_buf_append_str(&m, req->client_secret) == CF_OK && cf_buf_putc(&m, '\0') == CF_OK &&
         cf_buf_puts(&m, stored) == CF_OK &&
         cf_hmac_sha256(a->cred_key, sizeof(a->cred_key), m.data, m.len, mac) == CF_OK;
    cf_buf_wipe(&m);
    return ok;
}

/* True when this exact credential was verified within AUTH_CRED_TTL_S. *mac_ok tells whether
 * mac was computed (for cred_remember). */
static bool cred_recent(struct cf_auth *a, const struct cf_token_request *req, const char *stored,
                        bool *mac_ok, unsigned char mac[32])
{
    int64_t now = cf_clock_s(a->clock);
    bool hit = false;
    size_t slot;

    *mac_ok = cred_mac(a, req, stored, mac);
    if (!*mac_ok)
        return false;
    slot = (size_t)(mac[0] | (size_t)mac[1] << 8) % AUTH_CRED_SLOTS;
    pthread_mutex_lock(&a->cred_mu);
    hit = a->cred[slot].expires > now && cf_ct_eq(a->cred[slot].mac, mac, 32);
    pthread_mutex_unlock(&a->cred_mu);
    return hit;
}

static void cred_remember(struct cf_auth *a, const unsigned char mac[32])
{
    size_t slot = (size_t)(mac[0] | (size_t)mac[1] << 8) % AUTH_CRED_SLOTS;
    pthread_mutex_lock(&a->cred_mu);
    memcpy(a->cred[slot].mac, mac, 32);
    a->cred[slot].expires = cf_clock_s(a->clock) + AUTH_CRED_TTL_S;
    pthread_mutex_unlock(&a->cred_mu);
}

cf_err cf_auth_issue_token(struct cf_auth *a, const struct cf_token_request *req,
                           struct cf_buf *token_out, int64_t *expires_in,
                           struct cf_token_error *err_out)
{
    struct cf_rec_principal rec;
    struct cf_buf claims;
    struct cf_str aud;
    char appid[AUTH_CLIENT_MAX + 1];
    char tshow[AUTH_TENANT_MAX + 1];
    const char *tid, *stored;
    bool found = false, match, mac_ok = false;
    unsigned char mac[32];
    int64_t now;
    cf_err e;

    memset(&rec, 0, sizeof(rec));
    cf_buf_init(&claims, 4096);
    memset(err_out, 0, sizeof(*err_out));

    if (!cf_str_eq(req->grant_type, CF_STR("client_credentials"))) {
        e = fail(err_out, CF_EBADPARAM, "unsupported_grant_type", 400, 70003,
                 "The app requested an unsupported grant type. Only 'client_credentials' "
                 "is supported.");
        goto release;
    }
    tid = cf_auth__resolve_tenant(a, req->tenant);
    if (!tid) {
        tenant_for_message(req->tenant, tshow);
        e = fail(err_out, CF_EBADPARAM, "invalid_request", 400, 90002,
                 "Tenant '%s' not found. Check to make sure you have the correct tenant ID "
                 "and are signing into the correct cloud.", tshow);
        goto release;
    }
    if (req->client_id.len == 0) {
        e = fail(err_out, CF_EBADPARAM, "invalid_request", 400, 900144,
                 "The request body must contain the following parameter: 'client_id'.");
        goto release;
    }
    if (req->client_secret.len == 0) {
        e = fail(err_out, CF_EBADCLIENT, "invalid_client", 401, 7000218,
                 "The request body must contain the following parameter: 'client_assertion' "
                 "or 'client_secret'.");
        goto release;
    }
    if (req->scope.len == 0) {
        e = fail(err_out, CF_EBADPARAM, "invalid_request", 400, 900144,
                 "The request body must contain the following parameter: 'scope'.");
        goto release;
    }
    if (!scope_to_aud(req->scope, &aud)) {
        e = fail(err_out, CF_EBADPARAM, "invalid_scope", 400, 70011,
                 "The provided value for the input parameter 'scope' is not valid. The scope "
                 "should be a resource identifier followed by '/.default'.");
        goto release;
    }

    /* Exactly one password-hash verification from here on, found or not. */
    if (req->client_id.len <= AUTH_CLIENT_MAX && req->client_secret.len <= AUTH_SECRET_MAX) {
        memcpy(appid, req->client_id.p, req->client_id.len);
        appid[req->client_id.len] = '\0';
        if (strlen(appid) == req->client_id.len) { /* no embedded NUL */
            e = cf_auth__principal_get(a, tid, appid, &rec);
            if (e && e != CF_ENOTFOUND) {
                e = fail_internal(err_out, e);
                goto release;
            }
            found = e == CF_OK;
        }
    }
    stored = found ? rec.secret_hash : cf_auth__dummy_hash(a);
    if (!stored) {
        e = fail_internal(err_out, CF_ECRYPTO);
        goto release;
    }
    match = found && cred_recent(a, req, stored, &mac_ok, mac);
    if (!match) {
        match = cf_pwhash_verify(req->client_secret.p, req->client_secret.len, stored);
        if (match && found && mac_ok)
            cred_remember(a, mac);
    }
    if (!found || !match) {
        e = fail(err_out, CF_EBADCLIENT, "invalid_client", 401, 7000215,
                 "Invalid client secret provided. Ensure the secret being sent in the request "
                 "is the client secret value, not the client secret ID.");
        goto release;
    }
    if (!rec.enabled) {
        e = fail(err_out, CF_EBADCLIENT, "unauthorized_client", 400, 7000112,
                 "Application '%s' is disabled.", rec.client_id);
        goto release;
    }

    now = cf_clock_s(a->clock);
    e = build_claims(a, &rec, aud, now, &claims);
    if (!e)
        e = cf_jwt_sign_es256(a->keys[a->active].pkey, a->keys[a->active].kid, claims.data,
                              claims.len, token_out);
    if (e) {
        e = fail_internal(err_out, e);
        goto release;
    }
    *expires_in = a->lifetime_s;
    e = CF_OK;
release:
    cf_wipe(&rec, sizeof(rec));
    cf_buf_release(&claims);
    return e;
}

/* token.c - the token endpoint: client_credentials with a client secret or a client assertion
 * (a JWT signed by the key of one of the app's registered certificates, clients.md §1.3).
 *
 * Order of checks (cheap and public first, the password-hash verification last, so a
 * malformed request never costs a hash):
 *   grant_type -> tenant -> client_id present -> a credential present (secret xor assertion,
 *   assertion type) -> scope -> [assertion: decode, alg, thumbprint header] -> one snapshot of
 *   the client (principal + credentials) -> secret or assertion check -> principal enabled ->
 *   [assertion: jti replay] -> sign.
 * Secrets: an app may hold several password credentials; only those whose hint (the secret's
 * first 3 characters, public in Graph) matches are hashed, so a request costs one PBKDF2 in
 * practice (a migrated credential has no hint and is always tried). A secret that matches an
 * expired credential gets 401 AADSTS7000222; anything else that fails, 401 AADSTS7000215.
 * Unknown client and wrong secret give the same answer and the same cost (an unknown client is
 * checked against a dummy hash): Entra would say AADSTS700016 for an unknown app, but that
 * tells a caller which client ids exist; an assertion for an unknown client likewise gets the
 * unknown-certificate answer (AADSTS700027).
 * Assertions: RS256, PS256 or ES256 (never the token's choice beyond that list), x5t (SHA-1,
 * padded or not) or x5t#S256 naming a registered, currently valid certificate; iss = sub =
 * client_id; aud = a token endpoint URL of this server (as the client used it, or under the
 * configured issuer: tenant, alias or adfs form); exp required, exp/nbf/iat with 5 min skew and
 * exp at most an hour ahead; jti not seen before (auth_int.h).
 * A disabled principal is reported (400 unauthorized_client, AADSTS7000112) only after its
 * credential matched. Error descriptions never echo a secret or an assertion; they echo the
 * tenant segment only when it is short and made of id characters. */
#include "base/cf.h"
#include "auth/auth_int.h"

#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "store/store_auth.h"

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

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* ---------------------------------------------------------------- one client, one snapshot */

struct client_pw {
    char hash[CF_PWHASH_MAX];
    char hint[8];
    int64_t start, end;
};

struct client_load {
    const char *tid;
    const char *appid;
    struct cf_rec_principal rec;
    bool found;
    size_t npw;
    struct client_pw pw[CF_AUTH_MAX_CREDS];
    /* assertion: the key credential whose thumbprint is one of these (upper-case hex; "" none) */
    char want_sha1[41];
    char want_sha256[65];
    bool key_found;
    int64_t key_start, key_end;
    struct cf_buf cert;
};

static cf_err load_cred_cb(const struct cf_rec_cred *c, void *arg)
{
    struct client_load *l = arg;

    if (c->kind == CF_CRED_PASSWORD && l->npw < CF_AUTH_MAX_CREDS && c->secret_hash[0]) {
        struct client_pw *p = &l->pw[l->npw++];
        memcpy(p->hash, c->secret_hash, CF_MIN(sizeof(p->hash), sizeof(c->secret_hash)));
        p->hash[sizeof(p->hash) - 1] = '\0';
        memcpy(p->hint, c->hint, sizeof(p->hint));
        p->start = c->start;
        p->end = c->end;
    } else if (c->kind == CF_CRED_KEY && !l->key_found && c->cert && c->cert_len &&
               ((l->want_sha1[0] && strcmp(l->want_sha1, c->thumb_sha1) == 0) ||
                (l->want_sha256[0] && strcmp(l->want_sha256, c->thumb_sha256) == 0))) {
        l->key_found = true;
        l->key_start = c->start;
        l->key_end = c->end;
        return cf_buf_append(&l->cert, c->cert, c->cert_len);
    }
    return CF_OK;
}

static cf_err load_fn(struct cf_store_txn *t, void *arg)
{
    struct client_load *l = arg;
    cf_err e = cf_store_principal_get(t, l->tid, l->appid, &l->rec);

    if (e == CF_ENOTFOUND)
        return CF_OK;
    if (e)
        return e;
    l->found = true;
    return cf_store_cred_list(t, l->tid, l->appid, load_cred_cb, l);
}

/* ---------------------------------------------------------------- client secrets */

/* Does the secret start with the credential's hint? (Hints are public: no constant time.) */
static bool hint_fits(const char *hint, struct cf_str secret)
{
    size_t n = strlen(hint);
    return n == 0 || (secret.len >= n && memcmp(secret.p, hint, n) == 0);
}

static cf_err check_secret(struct cf_auth *a, const struct cf_token_request *req,
                           struct client_load *l, struct cf_token_error *te)
{
    int64_t now = cf_clock_s(a->clock);
    bool tried = false, expired = false;
    unsigned char mac[32];

    if (req->client_secret.len <= AUTH_SECRET_MAX) {
        for (size_t i = 0; l->found && i < l->npw; i++) {
            const struct client_pw *p = &l->pw[i];
            bool mac_ok = false, match;

            if (!hint_fits(p->hint, req->client_secret))
                continue;
            tried = true;
            match = cred_recent(a, req, p->hash, &mac_ok, mac);
            if (!match)
                match = cf_pwhash_verify(req->client_secret.p, req->client_secret.len, p->hash);
            if (!match || p->start > now + AUTH_SKEW_S)
                continue;
            if (now >= p->end) {
                expired = true;
                continue;
            }
            if (mac_ok)
                cred_remember(a, mac);
            return CF_OK;
        }
    }
    if (!tried) {
        /* the same cost as a wrong secret for a known client */
        const char *dummy = cf_auth__dummy_hash(a);
        if (!dummy)
            return fail_internal(te, CF_ECRYPTO);
        (void)cf_pwhash_verify(req->client_secret.p, req->client_secret.len, dummy);
    }
    if (expired)
        return fail(te, CF_EBADCLIENT, "invalid_client", 401, 7000222,
                    "The provided client secret keys for app '%s' are expired. Visit the Azure "
                    "portal to create new keys for your app, or consider using certificate "
                    "credentials for added security.",
                    l->rec.client_id);
    return fail(te, CF_EBADCLIENT, "invalid_client", 401, 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID.");
}

/* ---------------------------------------------------------------- client assertions */

static void hex_upper(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A thumbprint header (base64url, padded or not) of exactly want bytes, as upper-case hex. */
static bool thumb_header(const struct cf_json *hdr, const char *name, size_t want, char *hex)
{
    size_t n;
    const char *v = cf_json_str(cf_json_get(hdr, name), &n);
    struct cf_buf raw;
    bool ok;

    hex[0] = '\0';
    if (!v || n == 0 || n > 64)
        return false;
    cf_buf_init(&raw, 64);
    ok = cf_b64_decode(&raw, (struct cf_str){v, n}) == CF_OK && raw.len == want;
    if (ok)
        hex_upper(hex, (const unsigned char *)raw.data, want);
    cf_buf_release(&raw);
    return ok;
}

/* "https://host[:port]" of a URL: its length up to the path's '/', 0 when not https. */
static size_t origin_len(struct cf_str url)
{
    const char *slash;

    if (url.len < 9 || strncasecmp(url.p, "https://", 8) != 0)
        return 0;
    slash = memchr(url.p + 8, '/', url.len - 8);
    return slash ? (size_t)(slash - url.p) : url.len;
}

/* Is path one of this server's token endpoint paths for the tenant? */
static bool token_path_ok(const struct cf_auth *a, struct cf_str path, struct cf_str seg,
                          const char *tid)
{
    struct cf_str t, rest;

    if (path.len < 2 || path.p[0] != '/')
        return false;
    path.p++;
    path.len--;
    if (path.len && path.p[path.len - 1] == '/')
        path.len--;
    if (!cf_str_split(path, '/', &t, &rest))
        return false;
    if (cf_str_eq_ci(t, CF_STR("adfs")))
        return cf_str_eq_ci(rest, CF_STR("oauth2/token"));
    if (!cf_str_eq_ci(rest, CF_STR("oauth2/v2.0/token")) &&
        !cf_str_eq_ci(rest, CF_STR("oauth2/token")))
        return false;
    if (cf_str_eq_ci(t, seg) || cf_str_eq_ci(t, cf_str_from(tid)))
        return true;
    return cf_auth__resolve_tenant(a, t) == tid;
}

/* aud names this server's token endpoint: the URL the client posted to, or any token path
 * of the tenant under that origin or the configured issuer. */
static bool aud_one_ok(const struct cf_auth *a, const struct cf_token_request *req,
                       const char *tid, struct cf_str aud)
{
    struct cf_str iss = cf_str_from(a->issuer);
    size_t ol = origin_len(req->endpoint);

    if (req->endpoint.len && cf_auth__aud_eq(aud, req->endpoint))
        return true;
    if (aud.len > iss.len && cf_str_eq_ci((struct cf_str){aud.p, iss.len}, iss) &&
        token_path_ok(a, (struct cf_str){aud.p + iss.len, aud.len - iss.len}, req->tenant, tid))
        return true;
    return ol && aud.len > ol && cf_str_eq_ci((struct cf_str){aud.p, ol},
                                              (struct cf_str){req->endpoint.p, ol}) &&
           token_path_ok(a, (struct cf_str){aud.p + ol, aud.len - ol}, req->tenant, tid);
}

static bool aud_ok_claim(const struct cf_auth *a, const struct cf_token_request *req,
                         const char *tid, const struct cf_json *aud)
{
    size_t n;
    const char *s = cf_json_str(aud, &n);

    if (s)
        return aud_one_ok(a, req, tid, (struct cf_str){s, n});
    if (cf_json_type(aud) != CF_JSON_ARRAY)
        return false;
    for (size_t i = 0; i < cf_json_size(aud) && i < 16; i++) {
        s = cf_json_str(cf_json_at(aud, i), &n);
        if (s && aud_one_ok(a, req, tid, (struct cf_str){s, n}))
            return true;
    }
    return false;
}

/* The assertion, decoded, its header checked and the wanted thumbprints noted in l. */
static cf_err assertion_open(const struct cf_token_request *req, struct cf_jwt *jwt,
                             struct client_load *l, struct cf_token_error *te)
{
    struct cf_json *hdr = NULL;
    bool have;
    cf_err e = CF_OK;

    if (cf_jwt_decode(req->client_assertion, jwt) != CF_OK)
        return fail(te, CF_EBADCLIENT, "invalid_client", 401, 50027,
                    "JWT token is invalid or malformed.");
    if (strcmp(jwt->alg, "RS256") != 0 && strcmp(jwt->alg, "PS256") != 0 &&
        strcmp(jwt->alg, "ES256") != 0)
        return fail(te, CF_EBADCLIENT, "invalid_client", 401, 5002738,
                    "Invalid JWT token. The signature algorithm is not supported. Supported "
                    "signing algorithms are: 'RS256,PS256,ES256'.");
    if (cf_json_parse(jwt->header.data, jwt->header.len, &hdr, NULL, 0) != CF_OK)
        return fail(te, CF_EBADCLIENT, "invalid_client", 401, 50027,
                    "JWT token is invalid or malformed.");
    have = thumb_header(hdr, "x5t", 20, l->want_sha1);
    have = thumb_header(hdr, "x5t#S256", 32, l->want_sha256) || have;
    if (!have)
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 700027,
                 "Client assertion failed signature validation. The header names no "
                 "certificate: send 'x5t' or 'x5t#S256'.");
    cf_json_free(hdr);
    return e;
}

static cf_err assertion_check(struct cf_auth *a, const struct cf_token_request *req,
                              const char *tid, struct cf_jwt *jwt, struct client_load *l,
                              int64_t *until, unsigned char jti_hash[CF_SHA256_LEN],
                              struct cf_token_error *te)
{
    int64_t now = cf_clock_s(a->clock), exp = 0, nbf = 0, iat = 0;
    struct cf_pkey *pub = NULL;
    struct cf_x509_cred xc;
    struct cf_json *claims = NULL;
    const char *iss, *sub, *jti;
    size_t issn = 0, subn = 0, jtin = 0;
    struct cf_buf idbuf;
    cf_err e;

    cf_buf_init(&idbuf, 4096);
    if (!l->found || !l->key_found) {
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 700027,
                 "The certificate with identifier used to sign the client assertion is not "
                 "registered on application. [Reason - The key was not found., Thumbprint of "
                 "key used by client: '%s']",
                 l->want_sha1[0] ? l->want_sha1 : l->want_sha256);
        goto release;
    }
    if (cf_x509_cred_parse(l->cert.data, l->cert.len, &xc, &pub) != CF_OK ||
        cf_jws_verify(pub, jwt->alg, jwt) != CF_OK) {
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 700027,
                 "Client assertion failed signature validation.");
        goto release;
    }
    if (now >= l->key_end || l->key_start > now + AUTH_ASSERTION_SKEW_S) {
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 700027,
                 "Client assertion failed signature validation. [Reason - The key used is "
                 "expired or not yet valid.]");
        goto release;
    }
    if (cf_json_parse(jwt->payload.data, jwt->payload.len, &claims, NULL, 0) != CF_OK ||
        cf_json_type(claims) != CF_JSON_OBJECT) {
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 50027,
                 "JWT token is invalid or malformed.");
        goto release;
    }
    iss = cf_json_str(cf_json_get(claims, "iss"), &issn);
    sub = cf_json_str(cf_json_get(claims, "sub"), &subn);
    if (!iss || !sub || !cf_str_eq((struct cf_str){iss, issn}, req->client_id) ||
        !cf_str_eq((struct cf_str){sub, subn}, req->client_id)) {
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 700021,
                 "Client assertion application identifier doesn't match 'client_id' "
                 "parameter. The assertion's 'iss' and 'sub' must both be the client id.");
        goto release;
    }
    if (!aud_ok_claim(a, req, tid, cf_json_get(claims, "aud"))) {
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 700212,
                 "Client assertion audience claim does not match the token endpoint. The "
                 "'aud' claim must be this server's token endpoint URL.");
        goto release;
    }
    if (!cf_json_number(cf_json_get(claims, "exp"), &exp) ||
        (cf_json_get(claims, "nbf") && !cf_json_number(cf_json_get(claims, "nbf"), &nbf)) ||
        (cf_json_get(claims, "iat") && !cf_json_number(cf_json_get(claims, "iat"), &iat)) ||
        now >= exp + AUTH_ASSERTION_SKEW_S || nbf > now + AUTH_ASSERTION_SKEW_S ||
        iat > now + AUTH_ASSERTION_SKEW_S ||
        exp > now + AUTH_ASSERTION_MAX_LIFETIME_S + AUTH_ASSERTION_SKEW_S) {
        e = fail(te, CF_EBADCLIENT, "invalid_client", 401, 700024,
                 "Client assertion is not within its valid time range. Current time: %lld, "
                 "expiry time of assertion %lld (at most %d s ahead).",
                 (long long)now, (long long)exp, AUTH_ASSERTION_MAX_LIFETIME_S);
        goto release;
    }
    /* The replay key: client and jti, or the whole assertion when it names no jti. */
    jti = cf_json_str(cf_json_get(claims, "jti"), &jtin);
    e = cf_buf_append_str(&idbuf, req->client_id);
    if (!e)
        e = cf_buf_putc(&idbuf, '\0');
    if (!e)
        e = jti ? cf_buf_append(&idbuf, jti, jtin)
                : cf_buf_append_str(&idbuf, req->client_assertion);
    if (!e)
        e = cf_sha256(idbuf.data, idbuf.len, jti_hash);
    if (e) {
        e = fail_internal(te, e);
        goto release;
    }
    *until = exp + AUTH_ASSERTION_SKEW_S;
    e = CF_OK;
release:
    cf_json_free(claims);
    cf_pkey_free(pub);
    cf_buf_release(&idbuf);
    return e;
}

/* Remembers an accepted assertion id; false when it was already there (a replay). */
static bool jti_fresh(struct cf_auth *a, const unsigned char h[CF_SHA256_LEN], int64_t until)
{
    uint32_t set = ((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16) % AUTH_JTI_SETS;
    struct auth_jti *ways = &a->jti[(size_t)set * AUTH_JTI_WAYS];
    int64_t now = cf_clock_s(a->clock);
    size_t pick = AUTH_JTI_WAYS;
    bool fresh = true;

    pthread_mutex_lock(&a->jti_mu);
    for (size_t i = 0; i < AUTH_JTI_WAYS; i++) {
        if (ways[i].until > now && memcmp(ways[i].h, h, CF_SHA256_LEN) == 0) {
            fresh = false;
            break;
        }
        if (ways[i].until <= now && pick == AUTH_JTI_WAYS)
            pick = i;
    }
    if (fresh) {
        if (pick == AUTH_JTI_WAYS) { /* all live: drop the one that expires first */
            pick = 0;
            for (size_t i = 1; i < AUTH_JTI_WAYS; i++)
                if (ways[i].until < ways[pick].until)
                    pick = i;
        }
        memcpy(ways[pick].h, h, CF_SHA256_LEN);
        ways[pick].until = until;
    }
    pthread_mutex_unlock(&a->jti_mu);
    return fresh;
}

/* ---------------------------------------------------------------- the endpoint */

cf_err cf_auth_issue_token(struct cf_auth *a, const struct cf_token_request *req,
                           struct cf_buf *token_out, int64_t *expires_in,
                           struct cf_token_error *err_out)
{
    struct client_load *l = NULL;
    struct cf_jwt jwt;
    struct cf_buf claims;
    struct cf_str aud;
    char tshow[AUTH_TENANT_MAX + 1];
    const char *tid;
    bool assertion = req->client_assertion.len > 0;
    unsigned char jti_hash[CF_SHA256_LEN];
    int64_t now, jti_until = 0;
    cf_err e;

    memset(&jwt, 0, sizeof(jwt));
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
    if (req->client_secret.len == 0 && !assertion) {
        e = fail(err_out, CF_EBADCLIENT, "invalid_client", 401, 7000218,
                 "The request body must contain the following parameter: 'client_assertion' "
                 "or 'client_secret'.");
        goto release;
    }
    if (req->client_secret.len && assertion) {
        e = fail(err_out, CF_EBADPARAM, "invalid_request", 400, 9002313,
                 "Invalid request. Request is malformed or invalid: give either "
                 "'client_secret' or 'client_assertion', not both.");
        goto release;
    }
    if (assertion && !cf_str_eq(req->client_assertion_type, CF_STR(JWT_BEARER))) {
        e = fail(err_out, CF_EBADPARAM, "invalid_request", 400, 7000216,
                 "'client_assertion_type' must be '" JWT_BEARER "' when 'client_assertion' "
                 "is given.");
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
    l = calloc(1, sizeof(*l));
    if (!l) {
        e = fail_internal(err_out, CF_ENOMEM);
        goto release;
    }
    cf_buf_init(&l->cert, CF_X509_CRED_MAX_DER);
    if (assertion) {
        e = assertion_open(req, &jwt, l, err_out);
        if (e)
            goto release;
    }

    /* One snapshot of the client; a client id that cannot exist is simply not found. */
    if (req->client_id.len <= AUTH_CLIENT_MAX && !memchr(req->client_id.p, '\0',
                                                         req->client_id.len)) {
        char appid[AUTH_CLIENT_MAX + 1];
        memcpy(appid, req->client_id.p, req->client_id.len);
        appid[req->client_id.len] = '\0';
        l->tid = tid;
        l->appid = appid;
        e = cf_store_read(a->store, load_fn, l);
        l->appid = NULL;
        if (e) {
            e = fail_internal(err_out, e);
            goto release;
        }
    }
    if (assertion)
        e = assertion_check(a, req, tid, &jwt, l, &jti_until, jti_hash, err_out);
    else
        e = check_secret(a, req, l, err_out);
    if (e)
        goto release;
    if (!l->rec.enabled) {
        e = fail(err_out, CF_EBADCLIENT, "unauthorized_client", 400, 7000112,
                 "Application '%s' is disabled.", l->rec.client_id);
        goto release;
    }
    if (assertion && !jti_fresh(a, jti_hash, jti_until)) {
        e = fail(err_out, CF_EBADCLIENT, "invalid_client", 401, 50012,
                 "The client assertion was already used: its 'jti' has been seen before. "
                 "Sign a new assertion for each token request.");
        goto release;
    }

    now = cf_clock_s(a->clock);
    e = build_claims(a, &l->rec, aud, now, &claims);
    if (!e)
        e = cf_auth__sign(a, claims.data, claims.len, token_out);
    if (e) {
        e = fail_internal(err_out, e);
        goto release;
    }
    *expires_in = a->lifetime_s;
    e = CF_OK;
release:
    if (l) {
        cf_buf_release(&l->cert);
        cf_wipe(l, sizeof(*l));
        free(l);
    }
    cf_jwt_release(&jwt);
    cf_buf_release(&claims);
    return e;
}

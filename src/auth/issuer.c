/* issuer.c - trusted external OIDC issuers: their JWKS, and verification of their tokens
 * (the rules are in auth.h, "trusted external OIDC issuers").
 *
 * Map:
 *   jwks_parse               JWKS JSON -> keys (RSA n/e, EC P-256 x/y; kid required)
 *   cf_auth_trust_issuer     adds or replaces an issuer (whole entry swapped under iss_mu)
 *   cf_auth__verify_external the verification path for a token whose iss names an issuer
 * This file does no I/O: the server fetches JWKS documents (file or URL) and hands them over,
 * and learns through the issuer hook when a token names a kid the JWKS lacks. Nothing here
 * logs a token or a claim. */
#include "base/cf.h"
#include "auth/auth_int.h"

#include "base/json.h"
#include "base/log.h"
#include "crypto/jwk_pub.h"

static bool copy_cstr(char *dst, size_t cap, const char *s, size_t n)
{
    if (!s || n == 0 || n >= cap || strlen(s) != n)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

static void issuer_free(struct auth_issuer *is)
{
    if (!is)
        return;
    for (size_t i = 0; i < is->nkeys; i++)
        cf_pkey_free(is->keys[i].pkey);
    free(is);
}

void cf_auth__issuers_free(struct cf_auth *a)
{
    for (size_t i = 0; i < a->nissuers; i++)
        issuer_free(a->issuers[i]);
    a->nissuers = 0;
}

bool cf_auth__have_issuers(struct cf_auth *a)
{
    bool have;
    pthread_rwlock_rdlock(&a->iss_mu);
    have = a->nissuers > 0;
    pthread_rwlock_unlock(&a->iss_mu);
    return have;
}

void cf_auth_set_issuer_hook(struct cf_auth *a, cf_auth_issuer_hook fn, void *ctx)
{
    pthread_rwlock_wrlock(&a->iss_mu);
    a->issuer_hook = fn;
    a->issuer_hook_ctx = ctx;
    pthread_rwlock_unlock(&a->iss_mu);
}

/* ---------------------------------------------------------------- JWKS */

static struct cf_str member(const struct cf_json *o, const char *name)
{
    size_t n = 0;
    const char *s = cf_json_str(cf_json_get(o, name), &n);
    return s ? (struct cf_str){s, n} : (struct cf_str){NULL, 0};
}

/* One JWK into *k; false (skipped) for a key we cannot or must not use. */
static bool jwk_take(const struct cf_json *jwk, struct auth_ext_key *k)
{
    struct cf_str kid = member(jwk, "kid"), kty = member(jwk, "kty"), use = member(jwk, "use");
    struct cf_str alg = member(jwk, "alg");

    memset(k, 0, sizeof(*k));
    if (!kid.p || !copy_cstr(k->kid, sizeof(k->kid), kid.p, kid.len) || !kty.p)
        return false;
    if (use.p && !cf_str_eq_cstr(use, "sig"))
        return false;
    if (cf_str_eq_cstr(kty, "RSA")) {
        if (alg.p && !cf_str_eq_cstr(alg, "RS256") && !cf_str_eq_cstr(alg, "PS256"))
            return false;
        k->rsa = true;
        if (cf_pkey_from_jwk_rsa(member(jwk, "n"), member(jwk, "e"), &k->pkey) != CF_OK)
            return false;
    } else if (cf_str_eq_cstr(kty, "EC")) {
        if (!cf_str_eq_cstr(member(jwk, "crv"), "P-256") ||
            (alg.p && !cf_str_eq_cstr(alg, "ES256")))
            return false;
        if (cf_pkey_from_jwk_ec(member(jwk, "x"), member(jwk, "y"), &k->pkey) != CF_OK)
            return false;
    } else {
        return false;
    }
    if (alg.p)
        memcpy(k->alg, alg.p, alg.len); /* one of the names above: fits */
    return true;
}

static cf_err jwks_parse(const char *json, size_t len, struct auth_issuer *is, size_t *skipped)
{
    struct cf_json *root = NULL;
    const struct cf_json *keys;
    cf_err e = CF_EINVAL;

    *skipped = 0;
    if (cf_json_parse(json, len, &root, NULL, 0) != CF_OK)
        goto release;
    keys = cf_json_get(root, "keys");
    if (cf_json_type(keys) != CF_JSON_ARRAY)
        goto release;
    for (size_t i = 0; i < cf_json_size(keys); i++) {
        struct auth_ext_key k;
        bool dup = false;

        if (is->nkeys == AUTH_ISSUER_KEYS || !jwk_take(cf_json_at(keys, i), &k)) {
            (*skipped)++;
            continue;
        }
        for (size_t j = 0; j < is->nkeys && !dup; j++)
            dup = strcmp(is->keys[j].kid, k.kid) == 0;
        if (dup) {
            cf_pkey_free(k.pkey);
            (*skipped)++;
            continue;
        }
        is->keys[is->nkeys++] = k;
    }
    e = is->nkeys ? CF_OK : CF_EINVAL;
release:
    cf_json_free(root);
    return e;
}

cf_err cf_auth_trust_issuer(struct cf_auth *a, const char *issuer, const char *audience,
                            const char *tenant, const char *jwks_json, size_t jwks_len)
{
    struct auth_issuer *is = NULL, *old = NULL;
    const char *tid;
    size_t skipped = 0, slot;
    cf_err e;

    if (!a || !issuer || !audience || !jwks_json || !issuer[0] ||
        strlen(issuer) > AUTH_EXT_ISS_MAX || !audience[0] || strlen(audience) > AUTH_AUD_MAX)
        return CF_EINVAL;
    tid = tenant && tenant[0] ? cf_auth__resolve_tenant(a, cf_str_from(tenant))
                              : cf_auth_default_tenant(a);
    if (!tid)
        return CF_ENOTFOUND;
    is = calloc(1, sizeof(*is));
    if (!is)
        return CF_ENOMEM;
    snprintf(is->iss, sizeof(is->iss), "%s", issuer);
    snprintf(is->aud, sizeof(is->aud), "%s", audience);
    snprintf(is->tid, sizeof(is->tid), "%s", tid);
    e = jwks_parse(jwks_json, jwks_len, is, &skipped);
    if (e)
        goto fail;
    pthread_rwlock_wrlock(&a->iss_mu);
    for (slot = 0; slot < a->nissuers; slot++)
        if (strcmp(a->issuers[slot]->iss, issuer) == 0)
            break;
    if (slot == AUTH_MAX_ISSUERS) {
        pthread_rwlock_unlock(&a->iss_mu);
        e = CF_ETOOBIG;
        goto fail;
    }
    old = slot < a->nissuers ? a->issuers[slot] : NULL;
    a->issuers[slot] = is;
    if (slot == a->nissuers)
        a->nissuers++;
    pthread_rwlock_unlock(&a->iss_mu);
    issuer_free(old); /* no reader can hold it: iss_mu was taken exclusively */
    cf_info("auth: trusting issuer %s: %zu key(s)%s", issuer, is->nkeys,
            skipped ? " (some JWKS entries skipped: unsupported or without kid)" : "");
    return CF_OK;
fail:
    issuer_free(is);
    return e;
}

/* ---------------------------------------------------------------- verification */

static bool alg_allowed(const struct auth_ext_key *k, const char *alg)
{
    bool fits = k->rsa ? strcmp(alg, "RS256") == 0 || strcmp(alg, "PS256") == 0
                       : strcmp(alg, "ES256") == 0;
    return fits && (!k->alg[0] || strcmp(k->alg, alg) == 0);
}

static bool aud_has(const struct cf_json *aud, const char *want)
{
    size_t n;
    const char *s;

    if (cf_json_type(aud) == CF_JSON_STRING) {
        s = cf_json_str(aud, &n);
        return s && cf_auth__aud_eq((struct cf_str){s, n}, cf_str_from(want));
    }
    if (cf_json_type(aud) != CF_JSON_ARRAY)
        return false;
    for (size_t i = 0; i < cf_json_size(aud); i++) {
        s = cf_json_str(cf_json_at(aud, i), &n);
        if (s && cf_auth__aud_eq((struct cf_str){s, n}, cf_str_from(want)))
            return true;
    }
    return false;
}

/* A claim string of 1..cap-1 characters without NUL, copied. */
static bool claim_copy(const struct cf_json *claims, const char *name, char *out, size_t cap)
{
    size_t n;
    const char *s = cf_json_str(cf_json_get(claims, name), &n);
    return copy_cstr(out, cap, s, n);
}

static void groups_copy(const struct cf_json *g, struct cf_principal *who)
{
    who->ngroups = 0;
    if (cf_json_type(g) != CF_JSON_ARRAY)
        return;
    for (size_t i = 0; i < cf_json_size(g) && who->ngroups < CF_AUTH_MAX_GROUPS; i++) {
        size_t n;
        const char *s = cf_json_str(cf_json_at(g, i), &n);
        if (copy_cstr(who->groups[who->ngroups], sizeof(who->groups[0]), s, n))
            who->ngroups++;
    }
}

enum cf_auth_fail cf_auth__verify_external(struct cf_auth *a, const struct cf_jwt *jwt,
                                           const struct cf_json *claims, int64_t now,
                                           struct cf_principal *who, bool *handled)
{
    char iss[AUTH_EXT_ISS_MAX + 1];
    const struct auth_issuer *is = NULL;
    const struct auth_ext_key *key = NULL;
    cf_auth_issuer_hook hook = NULL;
    void *hook_ctx = NULL;
    enum cf_auth_fail why = CF_AUTH_MALFORMED;
    int64_t exp, nbf;
    bool sig_ok = false;

    *handled = false;
    if (!claim_copy(claims, "iss", iss, sizeof(iss)))
        return CF_AUTH_MALFORMED;
    pthread_rwlock_rdlock(&a->iss_mu);
    for (size_t i = 0; i < a->nissuers && !is; i++)
        if (strcmp(a->issuers[i]->iss, iss) == 0)
            is = a->issuers[i];
    if (!is)
        goto unlock;
    *handled = true;
    /* the algorithm comes from our allow-list and must fit the key; a kid is required */
    if (!jwt->kid[0] || (strcmp(jwt->alg, "RS256") != 0 && strcmp(jwt->alg, "PS256") != 0 &&
                         strcmp(jwt->alg, "ES256") != 0))
        goto unlock;
    for (size_t i = 0; i < is->nkeys && !key; i++)
        if (strcmp(is->keys[i].kid, jwt->kid) == 0)
            key = &is->keys[i];
    if (!key) {
        hook = a->issuer_hook;
        hook_ctx = a->issuer_hook_ctx;
        goto unlock;
    }
    sig_ok = alg_allowed(key, jwt->alg) && cf_jws_verify(key->pkey, jwt->alg, jwt) == CF_OK;
    if (!sig_ok)
        goto unlock;
    memset(who, 0, sizeof(*who));
    if (!cf_json_int(cf_json_get(claims, "exp"), &exp))
        goto unlock;
    if (cf_json_get(claims, "nbf") && !cf_json_int(cf_json_get(claims, "nbf"), &nbf))
        goto unlock;
    if (!cf_json_get(claims, "nbf"))
        nbf = 0;
    if (!claim_copy(claims, "oid", who->object_id, sizeof(who->object_id)) &&
        !claim_copy(claims, "sub", who->object_id, sizeof(who->object_id)))
        goto unlock;
    if (now >= exp + AUTH_SKEW_S) {
        why = CF_AUTH_EXPIRED;
        goto unlock;
    }
    if (nbf > now + AUTH_SKEW_S) {
        why = CF_AUTH_NOT_YET;
        goto unlock;
    }
    if (!aud_has(cf_json_get(claims, "aud"), is->aud)) {
        why = CF_AUTH_BAD_AUDIENCE;
        goto unlock;
    }
    memcpy(who->tenant_id, is->tid, sizeof(who->tenant_id));
    if (!claim_copy(claims, "azp", who->client_id, sizeof(who->client_id)) &&
        !claim_copy(claims, "appid", who->client_id, sizeof(who->client_id)))
        memcpy(who->client_id, who->object_id, sizeof(who->object_id));
    who->expires = exp;
    who->external = true;
    groups_copy(cf_json_get(claims, "groups"), who);
    why = CF_AUTH_OK;
unlock:
    pthread_rwlock_unlock(&a->iss_mu);
    if (hook)
        hook(hook_ctx, iss);
    return why;
}

/* auth.h - the token authority and token verification (enough for the clients in issue 8; the
 * full access-control model - RBAC, policies, groups - builds on this).
 *
 * Tokens are ES256 JWTs signed with a key kept sealed in the store (meta "auth.signing_key",
 * AES-256-GCM under a key derived from the master key). Claims: aud, iss, iat, nbf, exp, tid,
 * oid, appid, azp, sub, ver "2.0". Verification fixes the algorithm (ES256), checks the kid,
 * the signature, iss, aud, exp and nbf (60 s skew), then that the principal still exists,
 * is enabled and has the generation the token was issued under. Verified tokens are cached by
 * SHA-256 of the token text until they expire, so a request costs one hash, not one ECDSA
 * verification. Client secrets are stored as cf_pwhash; comparisons are constant-time.
 * Thread-safe. */
#ifndef CF_AUTH_H
#define CF_AUTH_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/str.h"

struct cf_store;
struct cf_auth;

struct cf_auth_opts {
    int token_lifetime_s; /* 0: default 3600; at most 86400 */
    /* The authority as configured, e.g. "https://login.localhost:8443". Tokens carry
     * iss = issuer + "/" + tid + "/v2.0" whatever Host a client used, and verification requires
     * exactly that. Copied. */
    const char *issuer;
};

struct cf_auth *cf_auth_new(struct cf_store *store, const struct cf_clock *clock,
                            const unsigned char master_key[32], const struct cf_auth_opts *opts,
                            cf_err *err);
void cf_auth_free(struct cf_auth *a);

/* ---- principals ---- */
/* Creates a service principal with a fresh client id (UUID) and object id. The client secret
 * is given by the caller (dev bootstrap) or generated when secret is NULL (then copied, NUL-
 * terminated, into secret_out[secret_out_len], at least 48 bytes). */
cf_err cf_auth_sp_create(struct cf_auth *a, const char *tenant_id, const char *display_name,
                         const char *secret, char client_id_out[64], char object_id_out[37],
                         char *secret_out, size_t secret_out_len);
/* True when a principal with that tenant and client id exists. */
bool cf_auth_sp_exists(struct cf_auth *a, const char *tenant_id, const char *client_id);
/* Tenant ids are 1..36 of [A-Za-z0-9._-] (not "organizations", "common", "adfs", "consumers"),
 * matched case-insensitively; the tenant of a new principal becomes a served tenant. */
/* Enables or disables a principal; bumps its generation, so tokens already issued to it stop
 * verifying (also cached ones). CF_ENOTFOUND if there is no such principal. */
cf_err cf_auth_sp_set_enabled(struct cf_auth *a, const char *tenant_id, const char *client_id,
                              bool enabled);
/* Replaces the client secret (generated as in cf_auth_sp_create when secret is NULL); bumps
 * the generation, so every token issued under the old secret stops verifying. */
cf_err cf_auth_sp_reset_secret(struct cf_auth *a, const char *tenant_id, const char *client_id,
                               const char *secret, char *secret_out, size_t secret_out_len);
/* Tells the verifier that a principal record changed outside this object (another node's
 * NOTIFY, a direct store edit): the next verification of its tokens re-reads the record
 * instead of trusting the cache. The functions above call it themselves. */
void cf_auth_principal_changed(struct cf_auth *a, const char *tenant_id, const char *client_id);

/* ---- token endpoint ---- */
struct cf_token_request {
    struct cf_str tenant;        /* path segment: a tenant id, "organizations", "common", or
                                    "adfs" (ADFS flavour: the server's default tenant) */
    struct cf_str grant_type;    /* must be "client_credentials" */
    struct cf_str client_id;
    struct cf_str client_secret; /* from the form or HTTP Basic */
    struct cf_str scope;         /* "<audience>/.default" (audience may end in '/') */
};
struct cf_token_error {
    const char *error;     /* "invalid_client", "invalid_request", "unsupported_grant_type",
                              "invalid_scope", "invalid_tenant" ... (OAuth2 / Entra names) */
    int http_status;       /* 400 or 401 */
    int aadsts;            /* Entra error number, e.g. 7000215 */
    char description[256]; /* never contains the secret */
};
/* On success appends the access token (JWT) to token_out and sets *expires_in. On failure
 * returns CF_EBADCLIENT / CF_EBADPARAM and fills *err_out. */
cf_err cf_auth_issue_token(struct cf_auth *a, const struct cf_token_request *req,
                           struct cf_buf *token_out, int64_t *expires_in,
                           struct cf_token_error *err_out);
/* The tenant id the default ("adfs", "organizations", "common") tenant resolves to; NULL
 * while none is set. The pointer stays valid until cf_auth_free. */
const char *cf_auth_default_tenant(const struct cf_auth *a);
/* Sets the default tenant (dev bootstrap creates it). */
cf_err cf_auth_set_default_tenant(struct cf_auth *a, const char *tenant_id);
/* True if tenant_id names a tenant this server serves (the aliases count when a default
 * tenant is set). */
bool cf_auth_tenant_known(const struct cf_auth *a, struct cf_str tenant_id);
/* Writes the JWKS document {"keys":[...]} with w. */
cf_err cf_auth_write_jwks(struct cf_auth *a, struct cf_jw *w);

/* ---- verification ---- */
struct cf_principal {
    char tenant_id[37];
    char object_id[37];
    char client_id[64];
    int64_t expires; /* token exp */
};
enum cf_auth_fail {
    CF_AUTH_OK,
    CF_AUTH_MALFORMED,   /* not a JWT, bad signature, unknown kid */
    CF_AUTH_EXPIRED,
    CF_AUTH_NOT_YET,
    CF_AUTH_BAD_AUDIENCE,
    CF_AUTH_BAD_ISSUER,
    CF_AUTH_PRINCIPAL_GONE
};
/* token: the text after "Bearer ". audiences: the acceptable aud values (compared without a
 * trailing '/', ASCII case-insensitively). Returns CF_OK and fills *who, or CF_EUNAUTH with
 * *why set; another code (CF_ESTORE...) when the principal could not be read - a server
 * failure, not the client's. Accepted while now < exp + 60 s and nbf <= now + 60 s. */
cf_err cf_auth_verify(struct cf_auth *a, struct cf_str token, const struct cf_str *audiences,
                      size_t naud, struct cf_principal *who, enum cf_auth_fail *why);

#endif

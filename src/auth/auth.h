/* auth.h - the token authority and token verification (enough for the clients in issue 8; the
 * full access-control model - RBAC, policies, groups - builds on this).
 *
 * Tokens are ES256 JWTs signed with the newest key of a key ring kept sealed in the store (meta
 * "auth.signing_key", AES-256-GCM under a key derived from the derivation root - see
 * cf_vault_derive_root: not the master key itself, so the ring outlives a master-key rotation;
 * signing.c). Keys
 * rotate (every signing_key_rotate_days, or on demand); a retired key stays in the ring and the
 * JWKS, and its tokens verify, until token lifetime + 5 min after it stopped signing; then it is
 * dropped and its kid refused. Claims: aud, iss, iat, nbf, exp, tid, oid, appid, azp, sub, ver
 * "2.0". Verification fixes the algorithm (ES256), checks the kid against the ring, the
 * signature, iss, aud, exp and nbf (60 s skew), then that the principal still exists, is
 * enabled and has the generation the token was issued under. Tokens of trusted external OIDC
 * issuers (cf_auth_trust_issuer) are verified with the issuer's JWKS instead. Verified tokens are cached by
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
    /* Rotate the signing key when the signing one is this many days old (checked by
     * cf_auth_rotate_due and at token issuance); 0: never. At most 3650. */
    int signing_key_rotate_days;
};

/* root: the server's derivation root (cf_vault_derive_root; for stores older than it, the
 * master key): the signing ring's seal key is HKDF(root, "coffer auth signing v1"). */
struct cf_auth *cf_auth_new(struct cf_store *store, const struct cf_clock *clock,
                            const unsigned char root[32], const struct cf_auth_opts *opts,
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
    /* Certificate credentials (clients.md §1.3): client_assertion_type must then be
     * "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" and client_secret empty. */
    struct cf_str client_assertion_type;
    struct cf_str client_assertion;
    /* The token endpoint URL as the client used it, "https://" + Host + path (no query), e.g.
     * "https://login.localhost:8443/T/oauth2/v2.0/token": an assertion's aud must name it
     * (or the same path under the configured issuer). Empty: only the issuer form counts. */
    struct cf_str endpoint;
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
/* Writes the JWKS document {"keys":[...]} with w: every ring key whose tokens may still be
 * valid, the signing key first. */
cf_err cf_auth_write_jwks(struct cf_auth *a, struct cf_jw *w);

/* ---- signing key ring ---- */
struct cf_auth_signing_key {
    char kid[44];
    char alg[8];          /* "ES256" */
    int64_t created;      /* unix s */
    int64_t retired;      /* when it stopped signing; 0 for the signing key */
    int64_t retire_after; /* its tokens verify until then; 0 for the signing key */
    bool active;          /* signs new tokens */
};
/* The keys JWKS lists (newest first) into out[0..max); returns how many there are. */
size_t cf_auth_signing_keys(struct cf_auth *a, struct cf_auth_signing_key *out, size_t max);
/* Rotates now: a new key signs from now on, the previous one retires (verifies until
 * retire_after). Ring of 8 at most: past that the oldest retired key is dropped early. *out
 * (may be NULL) gets the new key. */
cf_err cf_auth_rotate_signing_key(struct cf_auth *a, struct cf_auth_signing_key *out);
/* The periodic check (cofferd's janitor calls it every minute): rotates when the signing key
 * is signing_key_rotate_days old, drops retired keys past retire_after from the store, and
 * picks up a ring another process changed. Cheap when nothing is due (one read). */
cf_err cf_auth_rotate_due(struct cf_auth *a);

/* ---- trusted external OIDC issuers ----
 * Tokens whose "iss" equals a trusted issuer exactly are verified with that issuer's JWKS: alg
 * RS256, PS256 (RSA keys >= 2048 bits) or ES256 (EC P-256), chosen from that list and fitting
 * the key (and the JWK's "alg" when it names one); a kid is required and must be in the JWKS;
 * "aud" (a string or an array) must contain the configured audience (trailing '/' and ASCII case
 * ignored) - the request's own audiences are not applied: the configured audience names this
 * server as a whole; "exp" is required, "nbf" optional (60 s skew both). The principal is the
 * token's "oid" (else "sub"; at most 36 characters) in the configured served tenant (the
 * issuer's own "tid" claim is not compared: "iss" already names the external tenant); its
 * groups are the token's "groups" claim (strings of at most 36 characters, the first
 * CF_AUTH_MAX_GROUPS). No principal record is looked up: RBAC assignments name the oid.
 * client_id is "azp", else "appid", else the oid. External tokens are not cached (each request
 * verifies the signature). */
/* Trusts issuer (the exact "iss" text, 1..255 characters) for audience, mapping its principals
 * into tenant (a served tenant; NULL: the default tenant), with the keys of jwks_json (a JWKS
 * document; keys of other types, curves or "use" are skipped, kid required). Called again for
 * the same issuer it replaces audience, tenant and keys (a JWKS refresh). CF_EINVAL for bad
 * arguments, a JWKS that does not parse or has no usable key; CF_ENOTFOUND for an unknown
 * tenant; CF_ETOOBIG past AUTH_MAX_ISSUERS (8) issuers. Thread-safe. */
cf_err cf_auth_trust_issuer(struct cf_auth *a, const char *issuer, const char *audience,
                            const char *tenant, const char *jwks_json, size_t jwks_len);
/* Called (on the verifying thread, no lock held, must not block) when a token of a trusted
 * issuer names a kid its JWKS lacks: the server refreshes that issuer's JWKS (rate limited on
 * its side). Set before serving. */
typedef void (*cf_auth_issuer_hook)(void *ctx, const char *issuer);
void cf_auth_set_issuer_hook(struct cf_auth *a, cf_auth_issuer_hook fn, void *ctx);

/* ---- verification ---- */
#define CF_AUTH_MAX_GROUPS 32
struct cf_principal {
    char tenant_id[37];
    char object_id[37];
    char client_id[64];
    int64_t expires; /* token exp */
    /* Object ids of the directory groups the principal is a direct member of, read from the
     * store at verification (tokens carry no "groups" claim, as Azure omits it for service
     * principals) and cached with the principal; a membership change refreshes it on the
     * next request. A principal in more than CF_AUTH_MAX_GROUPS groups still authenticates,
     * but only the first CF_AUTH_MAX_GROUPS (in group id order) count. */
    char groups[CF_AUTH_MAX_GROUPS][37];
    size_t ngroups;
    bool external; /* a trusted external issuer's token (groups from its "groups" claim) */
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

/* ---- directory: applications, service principals, credentials, groups ----
 * The Graph-shaped objects of issue 10 (identity-contract.md). One application has exactly
 * one service principal (same tenant and client id = appId; two object ids): creating the
 * one creates the other, deleting the one deletes both. Its credentials are password
 * credentials (a generated secret, stored as cf_pwhash, shown once) and key credentials (X.509
 * certificates whose key signs client assertions). A token verifies only while the principal
 * exists, is enabled and has the generation the token was issued under: removing a credential,
 * replacing the key credentials and deleting the application all bump it (or remove the
 * principal), so tokens already issued stop working at once. Group membership changes do not
 * revoke tokens; they drop the member's cached verification state, so the next request sees
 * the new groups.
 * Every call is confined to one tenant (a tenant id or alias the server serves; CF_ENOTFOUND
 * otherwise). Ids are lower-case GUIDs (the functions accept any case). CF_ENOTFOUND for an
 * absent object, CF_EBADPARAM for bad input, CF_ETOOBIG past the limits below. */
#define CF_AUTH_MAX_CREDS 32       /* credentials of one application, both kinds together */
#define CF_AUTH_SECRET_TEXT_LEN 40 /* generated client secrets */
#define CF_AUTH_NEVER 253402300799 /* 9999-12-31T23:59:59Z: a credential that never expires */
#define CF_AUTH_NAME_MAX 120       /* display names */

struct cf_auth_cred {
    char key_id[37];
    bool is_key;            /* keyCredential (certificate); else passwordCredential */
    char display_name[128];
    char hint[4];           /* password: the secret's first 3 characters ("" if unknown) */
    char thumbprint[41];    /* key: SHA-1 of the certificate, upper-case hex */
    int64_t start, end;     /* unix s */
};
struct cf_auth_app {
    char app_object_id[37]; /* the application object's id */
    char sp_object_id[37];  /* the service principal's id: the oid in its tokens */
    char tenant_id[37];
    char client_id[64];     /* appId */
    char display_name[128];
    bool enabled;
    int64_t created;
    size_t ncreds;
    struct cf_auth_cred creds[CF_AUTH_MAX_CREDS]; /* creation order */
};
enum cf_auth_id_kind {
    CF_AUTH_ID_APP_OBJECT, /* the application's object id */
    CF_AUTH_ID_SP_OBJECT,  /* the service principal's object id */
    CF_AUTH_ID_CLIENT      /* the appId */
};
/* A new application and its service principal, without credentials. */
cf_err cf_auth_app_create(struct cf_auth *a, const char *tenant_id, const char *display_name,
                          struct cf_auth_app *out);
cf_err cf_auth_app_get(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                       const char *id, struct cf_auth_app *out);
typedef cf_err (*cf_auth_app_cb)(const struct cf_auth_app *app, void *arg);
/* The tenant's applications in creation order, optionally only those whose display name equals
 * name (ASCII case-insensitively) and/or whose appId equals client_id (NULL: any). cb runs
 * inside a store read; a cb error stops the walk and is returned. */
cf_err cf_auth_app_list(struct cf_auth *a, const char *tenant_id, const char *name,
                        const char *client_id, cf_auth_app_cb cb, void *arg);
cf_err cf_auth_app_rename(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                          const char *id, const char *display_name);
/* Deletes the application, its service principal, its credentials and its group memberships;
 * its tokens stop verifying at once. (Role assignments naming it stay, as in Azure.) */
cf_err cf_auth_app_delete(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                          const char *id);
/* Adds a password credential: a generated secret of CF_AUTH_SECRET_TEXT_LEN characters
 * (secret_out, NUL-terminated; the only time it exists in clear) valid from now until end
 * (0: now + 1 year; must be later than now). display_name may be NULL. */
cf_err cf_auth_password_add(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                            const char *id, const char *display_name, int64_t end,
                            struct cf_auth_cred *out,
                            char secret_out[CF_AUTH_SECRET_TEXT_LEN + 1]);
/* Removes one password credential (CF_ENOTFOUND when the app has no password with that key
 * id); bumps the generation. */
cf_err cf_auth_password_remove(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                               const char *id, const char *key_id);
struct cf_auth_key_in {
    const void *der;          /* DER certificate; NULL: keep the existing key key_id */
    size_t der_len;
    const char *display_name; /* NULL: the certificate's own thumbprint-free default "" */
    const char *key_id;       /* NULL for a new key (one is generated) */
};
/* Replaces the application's key credentials with keys[0..n) (PATCH keyCredentials); validity
 * comes from each certificate. CF_EBADPARAM for a certificate that does not parse, a key that
 * is neither RSA >= 2048 bits nor EC P-256, or a key_id to keep that does not exist. Bumps
 * the generation when a key credential is removed. */
cf_err cf_auth_keys_set(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                        const char *id, const struct cf_auth_key_in *keys, size_t n);
/* The object id (oid) of the service principal with that client id. */
cf_err cf_auth_principal_oid(struct cf_auth *a, const char *tenant_id, const char *client_id,
                             char out[37]);

struct cf_auth_group {
    char object_id[37];
    char display_name[256];
    char mail_nickname[65];
    char description[1025];
    int64_t created;
};
cf_err cf_auth_group_create(struct cf_auth *a, const char *tenant_id, const char *display_name,
                            const char *mail_nickname, const char *description,
                            struct cf_auth_group *out);
cf_err cf_auth_group_get(struct cf_auth *a, const char *tenant_id, const char *group_id,
                         struct cf_auth_group *out);
typedef cf_err (*cf_auth_group_cb)(const struct cf_auth_group *g, void *arg);
/* In display-name order; name (NULL: any) keeps those whose name equals it case-insensitively. */
cf_err cf_auth_group_list(struct cf_auth *a, const char *tenant_id, const char *name,
                          cf_auth_group_cb cb, void *arg);
/* Deletes the group and every membership in or of it. */
cf_err cf_auth_group_delete(struct cf_auth *a, const char *tenant_id, const char *group_id);
/* member_id: a service principal's or another group's object id (CF_ENOTFOUND when no such
 * object, CF_EBADPARAM for the group itself, CF_EEXISTS when already a member). */
cf_err cf_auth_group_member_add(struct cf_auth *a, const char *tenant_id, const char *group_id,
                                const char *member_id);
cf_err cf_auth_group_member_remove(struct cf_auth *a, const char *tenant_id,
                                   const char *group_id, const char *member_id);
/* Each direct member: a service principal (sp set, g NULL) or a group (g set, sp NULL). */
typedef cf_err (*cf_auth_member_cb)(const struct cf_auth_app *sp, const struct cf_auth_group *g,
                                    void *arg);
cf_err cf_auth_group_members(struct cf_auth *a, const char *tenant_id, const char *group_id,
                             cf_auth_member_cb cb, void *arg);
/* The groups member_id (a service principal's or a group's object id) is a direct member of;
 * CF_ENOTFOUND when there is no such object. */
cf_err cf_auth_member_of(struct cf_auth *a, const char *tenant_id, const char *member_id,
                         cf_auth_group_cb cb, void *arg);

#endif

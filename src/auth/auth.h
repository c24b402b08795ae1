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
/* Writes the JWKS document {"keys":[...]} with w. */
cf_err cf_auth_write_jwks(struct cf_auth *a, struct cf_jw *w);

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

/* auth_int.h - what the files of src/auth/ share; nothing outside src/auth/ includes this.
 *
 * Layout of struct cf_auth and its invariants:
 *  - keys[0..nkeys) is the signing key ring (signing.c), oldest first; keys[active] (the last)
 *    signs, a retired key verifies until its retire_after. Readers hold keys_mu shared; the
 *    ring is replaced whole under keys_mu exclusive by ring_load, whose callers hold ring_mu
 *    (so there is one writer at a time). seal_key is the ring's AEAD key, wiped at free.
 *  - issuers[0..nissuers) are the trusted external OIDC issuers (issuer.c) under iss_mu: an
 *    entry is replaced whole (new keys) under iss_mu exclusive; readers verify under it shared.
 *  - tenants[] is append-only: an entry is written completely before ntenants is raised
 *    (release), so readers need no lock and a pointer to an entry stays valid until
 *    cf_auth_free. default_idx is -1 or an index below ntenants. Writers hold admin_mu, which
 *    also orders the store write before the in-memory change.
 *  - cache[] is a set-associative table (AUTH_CACHE_SETS sets of AUTH_CACHE_WAYS entries) of
 *    fully verified tokens keyed by SHA-256 of the token text; set s is guarded by
 *    cache_mu[s % AUTH_LOCK_STRIPES]. An entry never vouches for audience, time or principal:
 *    those are re-checked on every hit against the entry's copies.
 *  - pstate[] caches, per principal (slot by hash of tenant and client id), the generation
 *    last read from the store for an enabled principal. A cache hit is accepted only when the
 *    entry's generation equals a valid pstate slot for the same principal. Any change to a
 *    principal clears its slot and bumps the slot's seq, so a verification that read the
 *    store before the change cannot re-publish the stale generation afterwards. */
#ifndef CF_AUTH_INT_H
#define CF_AUTH_INT_H

#include "base/cf.h"
#include "auth/auth.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>

#define AUTH_MAX_KEYS 8
#define AUTH_KID_MAX 43 /* base64url of at most 32 bytes */
#define AUTH_MAX_TENANTS 256
#define AUTH_TENANT_MAX 36
#define AUTH_CLIENT_MAX 63
#define AUTH_AUD_MAX 255
#define AUTH_ISSUER_MAX 200
#define AUTH_SKEW_S 60
#define AUTH_CACHE_SETS 1024
#define AUTH_CACHE_WAYS 4
#define AUTH_PSTATE_SLOTS 1024
#define AUTH_LOCK_STRIPES 64
#define AUTH_SECRET_MAX 256 /* longest client secret accepted */

/* A retired signing key verifies (and stays in JWKS) until it stopped signing + the token
 * lifetime + this much. */
#define AUTH_RETIRE_GRACE_S 300
#define AUTH_MAX_ISSUERS 8
#define AUTH_ISSUER_KEYS 32
#define AUTH_EXT_KID_MAX 127
#define AUTH_EXT_ISS_MAX 255

#define AUTH_META_SIGNING "auth.signing_key"
#define AUTH_META_DEFAULT_TENANT "auth.default_tenant"
#define AUTH_META_TENANTS "auth.tenants"

struct auth_key {
    char kid[AUTH_KID_MAX + 1];
    struct cf_pkey *pkey;
    int64_t created;
    int64_t retired;      /* 0 while it signs */
    int64_t retire_after; /* 0 while it signs; verifies while now < retire_after */
    bool shared;          /* ring_load scratch: pkey taken over from the previous ring */
};

struct auth_ext_key {
    char kid[AUTH_EXT_KID_MAX + 1];
    char alg[8]; /* the JWK's "alg", "" when it names none */
    bool rsa;    /* RSA (RS256/PS256); else EC P-256 (ES256) */
    struct cf_pkey *pkey;
};
struct auth_issuer {
    char iss[AUTH_EXT_ISS_MAX + 1];
    char aud[AUTH_AUD_MAX + 1];
    char tid[AUTH_TENANT_MAX + 1]; /* the served tenant its principals belong to */
    size_t nkeys;
    struct auth_ext_key keys[AUTH_ISSUER_KEYS];
};

struct auth_cache_entry {
    bool used;
    unsigned char hash[CF_SHA256_LEN];
    int64_t exp;
    int64_t nbf;
    int64_t gen;
    char kid[AUTH_KID_MAX + 1]; /* the signing key: a hit needs it still in the ring */
    char aud[AUTH_AUD_MAX + 1]; /* as in the token, trailing '/' kept */
    char tid[AUTH_TENANT_MAX + 1];
    char oid[37];
    char appid[AUTH_CLIENT_MAX + 1];
};

struct auth_pstate {
    bool valid;
    uint64_t seq; /* bumped by every invalidation */
    int64_t gen;
    char tid[AUTH_TENANT_MAX + 1];
    char oid[37];
    char appid[AUTH_CLIENT_MAX + 1];
    /* the principal's direct groups as read with gen (the first CF_AUTH_MAX_GROUPS) */
    size_t ngroups;
    char groups[CF_AUTH_MAX_GROUPS][37];
};

/* Client assertions (token.c): accepted while now < exp + skew and nbf/iat <= now + skew, exp
 * at most AUTH_ASSERTION_MAX_LIFETIME_S ahead. Accepted assertions' ids (SHA-256 of client
 * id and jti, or of the whole assertion when it has no jti) are remembered until their exp +
 * skew in jti[] (AUTH_JTI_SETS sets of AUTH_JTI_WAYS, guarded by jti_mu) so a replay is
 * refused. Bounded: when every way of a set is live, the entry expiring first is dropped (a
 * replay window then opens only past 16k live assertions landing in one set's share). */
#define AUTH_ASSERTION_SKEW_S 300
#define AUTH_ASSERTION_MAX_LIFETIME_S 3600
#define AUTH_JTI_SETS 1024
#define AUTH_JTI_WAYS 16
struct auth_jti {
    unsigned char h[CF_SHA256_LEN];
    int64_t until; /* 0: free */
};

#define AUTH_CRED_SLOTS 256
#define AUTH_CRED_TTL_S 600

struct cf_auth {
    struct cf_store *store;
    const struct cf_clock *clock;
    int lifetime_s;
    int rotate_days; /* 0: never */
    char issuer[AUTH_ISSUER_MAX + 1];

    pthread_rwlock_t keys_mu;
    pthread_mutex_t ring_mu;
    unsigned char seal_key[CF_AEAD_KEY_LEN];
    struct auth_key keys[AUTH_MAX_KEYS];
    size_t nkeys;
    size_t active;

    pthread_rwlock_t iss_mu;
    struct auth_issuer *issuers[AUTH_MAX_ISSUERS];
    size_t nissuers;
    cf_auth_issuer_hook issuer_hook; /* set before serving; called without locks */
    void *issuer_hook_ctx;

    pthread_mutex_t admin_mu;
    char tenants[AUTH_MAX_TENANTS][AUTH_TENANT_MAX + 1];
    _Atomic size_t ntenants;
    _Atomic int default_idx;

    /* A cf_pwhash of random bytes, verified against when the client is unknown so that an
     * unknown client costs the same as a wrong secret. Made on first use. */
    pthread_mutex_t dummy_mu;
    bool dummy_ready;
    char dummy_hash[CF_PWHASH_MAX];

    /* Client secrets recently verified: a PBKDF2 check costs ~5 ms of CPU, and an application
     * that asks for tokens often (or a restarted fleet) must not pay it each time. An entry
     * is HMAC(cred_key, tenant|client|secret|stored hash) - never the secret itself - and
     * lives AUTH_CRED_TTL_S; including the stored hash makes a secret reset drop it. Only
     * successful checks are remembered, so guessing still costs the full hash. */
    unsigned char cred_key[32];
    pthread_mutex_t cred_mu;
    struct {
        unsigned char mac[32];
        int64_t expires;
    } cred[AUTH_CRED_SLOTS];

    pthread_mutex_t cache_mu[AUTH_LOCK_STRIPES];
    struct auth_cache_entry cache[AUTH_CACHE_SETS * AUTH_CACHE_WAYS];
    pthread_mutex_t pstate_mu[AUTH_LOCK_STRIPES];
    struct auth_pstate pstate[AUTH_PSTATE_SLOTS];

    pthread_mutex_t jti_mu;
    struct auth_jti jti[AUTH_JTI_SETS * AUTH_JTI_WAYS];
};

/* auth.c */
/* The canonical stored spelling of a tenant the server serves (case-insensitive match), the
 * default tenant for "organizations", "common" and "adfs", or NULL. */
const char *cf_auth__resolve_tenant(const struct cf_auth *a, struct cf_str t);
/* Syntax of a tenant id: 1..36 of [A-Za-z0-9._-], not a reserved alias. */
bool cf_auth__tenant_syntax_ok(struct cf_str t);
/* Reads a principal; CF_ENOTFOUND when absent. */
cf_err cf_auth__principal_get(struct cf_auth *a, const char *tid, const char *appid,
                              struct cf_rec_principal *out);
/* The dummy hash (made on first call), NULL if it cannot be made. */
const char *cf_auth__dummy_hash(struct cf_auth *a);
/* Hashes the given secret, or generates one (CF_AUTH_SECRET_TEXT_LEN base64url characters
 * from 30 random bytes) into secret_out[secret_out_len >= 48]. */
cf_err cf_auth__secret_prepare(const char *secret, char *secret_out, size_t secret_out_len,
                               char hash[CF_PWHASH_MAX]);
/* True when s is a GUID (8-4-4-4-12 hex digits, any case). */
bool cf_auth__uuid_ok(const char *s);

/* directory.c */
/* Inside a write transaction: bumps the generation of the principal (tid, appid). */
cf_err cf_auth__bump_generation(struct cf_store_txn *t, const char *tid, const char *appid);

/* signing.c */
/* Derives the seal key and loads (creates, migrates, prunes) the ring. */
cf_err cf_auth__signing_init(struct cf_auth *a, const unsigned char master_key[32]);
void cf_auth__signing_free(struct cf_auth *a);
/* Signs claims with the active key (rotating first when rotation is due). */
cf_err cf_auth__sign(struct cf_auth *a, const char *claims, size_t len, struct cf_buf *out);
/* kid is in the ring (live or not yet dropped). */
bool cf_auth__kid_known(struct cf_auth *a, const char *kid);
/* kid is in the ring and its tokens may still verify at now. */
bool cf_auth__kid_live(struct cf_auth *a, const char *kid, int64_t now);
/* ES256 signature of jwt by the live ring key its kid names. */
bool cf_auth__key_verify(struct cf_auth *a, const struct cf_jwt *jwt, int64_t now);

/* issuer.c */
void cf_auth__issuers_free(struct cf_auth *a);
/* True when at least one external issuer is trusted (no lock: set before serving or grows). */
bool cf_auth__have_issuers(struct cf_auth *a);
/* A token whose iss claim (in claims, not yet trusted) may name a trusted issuer: verifies its
 * signature with that issuer's keys and its claims, and fills who. *handled is false when iss
 * names no trusted issuer (then nothing else happened). */
enum cf_auth_fail cf_auth__verify_external(struct cf_auth *a, const struct cf_jwt *jwt,
                                           const struct cf_json *claims, int64_t now,
                                           struct cf_principal *who, bool *handled);

/* verify.c */
uint32_t cf_auth__pstate_slot(const char *tid, const char *appid);
/* Drops every principal's cached state (a group was deleted: its members are many). */
void cf_auth__pstate_invalidate_all(struct cf_auth *a);
/* "a" and "b" equal ignoring ASCII case and at most one trailing '/' on each. */
bool cf_auth__aud_eq(struct cf_str a, struct cf_str b);

#endif

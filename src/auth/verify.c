/* verify.c - bearer token verification and the verified-token cache (DESIGN.md §5).
 *
 * Map:
 *   cf_auth_verify         - cache lookup by SHA-256 of the token text (a hit needs its kid
 *                            still live in the ring); on a miss the full path (decode, kid,
 *                            ES256 signature, claims, iss) or, for a kid not in the ring, the
 *                            trusted-issuer path (issuer.c, not cached), then on every path
 *                            the per-request checks (time, audience, principal).
 *   cache_*                - the set-associative cache of verified claims (auth_int.h).
 *   pstate_*               - per-principal generations (and direct groups) last read from
 *                            the store; the groups fill cf_principal.groups on every path.
 *   cf_auth_principal_changed - invalidation.
 *
 * Time: a token is accepted while now < exp + 60 s and nbf <= now + 60 s. The same skew on
 * both ends keeps nodes with slightly different clocks from bouncing a fresh token; clients
 * renew minutes before exp anyway (clients.md §2.4).
 * Audience: compared ignoring ASCII case and one trailing '/' on either side, on every hit,
 * because one token may be presented to several audiences.
 * Only fully valid tokens enter the cache; a token failing any check is rejected each time
 * (its cost is then one ECDSA verification, bounded by the HTTP layer's limits).
 * A cache hit takes two short mutexes and does not allocate in this module (the SHA-256 is
 * crypto/'s). Nothing here logs a token or any part of one. */
#include "base/cf.h"
#include "auth/auth_int.h"

#include "base/json.h"
#include "base/secret.h"
#include "store/store_auth.h"

uint32_t cf_auth__pstate_slot(const char *tid, const char *appid)
{
    /* FNV-1a: only spreads slots; the slot itself stores and compares the full ids. */
    uint32_t h = 2166136261u;
    for (const char *p = tid; *p; p++)
        h = (h ^ (unsigned char)(*p | 0x20)) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    for (const char *p = appid; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % AUTH_PSTATE_SLOTS;
}

static struct cf_str strip_slash(struct cf_str s)
{
    if (s.len && s.p[s.len - 1] == '/')
        s.len--;
    return s;
}

bool cf_auth__aud_eq(struct cf_str a, struct cf_str b)
{
    a = strip_slash(a);
    b = strip_slash(b);
    return a.len > 0 && cf_str_eq_ci(a, b);
}

/* ---------------------------------------------------------------- principal generations */

/* On a match also copies the principal's groups into who. */
static bool pstate_ok(struct cf_auth *a, const struct auth_cache_entry *e, struct cf_principal *who)
{
    uint32_t slot = cf_auth__pstate_slot(e->tid, e->appid);
    pthread_mutex_t *mu = &a->pstate_mu[slot % AUTH_LOCK_STRIPES];
    const struct auth_pstate *p = &a->pstate[slot];
    bool ok;

    pthread_mutex_lock(mu);
    ok = p->valid && p->gen == e->gen && strcmp(p->tid, e->tid) == 0 &&
         strcmp(p->appid, e->appid) == 0 && strcmp(p->oid, e->oid) == 0;
    if (ok) {
        who->ngroups = p->ngroups;
        memcpy(who->groups, p->groups, p->ngroups * sizeof(p->groups[0]));
    }
    pthread_mutex_unlock(mu);
    return ok;
}

static uint64_t pstate_seq(struct cf_auth *a, uint32_t slot)
{
    pthread_mutex_t *mu = &a->pstate_mu[slot % AUTH_LOCK_STRIPES];
    uint64_t seq;

    pthread_mutex_lock(mu);
    seq = a->pstate[slot].seq;
    pthread_mutex_unlock(mu);
    return seq;
}

/* Publishes what the store said, unless an invalidation happened since seq was read. */
static void pstate_publish(struct cf_auth *a, uint32_t slot, uint64_t seq,
                           const struct cf_rec_principal *rec, const struct cf_principal *who)
{
    pthread_mutex_t *mu = &a->pstate_mu[slot % AUTH_LOCK_STRIPES];
    struct auth_pstate *p = &a->pstate[slot];

    pthread_mutex_lock(mu);
    if (p->seq == seq) {
        p->valid = true;
        p->gen = rec->generation;
        memcpy(p->tid, rec->tenant_id, sizeof(p->tid));
        memcpy(p->oid, rec->object_id, sizeof(p->oid));
        memcpy(p->appid, rec->client_id, sizeof(p->appid));
        p->tid[sizeof(p->tid) - 1] = '\0';
        p->oid[sizeof(p->oid) - 1] = '\0';
        p->appid[sizeof(p->appid) - 1] = '\0';
        p->ngroups = who->ngroups;
        memcpy(p->groups, who->groups, who->ngroups * sizeof(p->groups[0]));
    }
    pthread_mutex_unlock(mu);
}

void cf_auth_principal_changed(struct cf_auth *a, const char *tenant_id, const char *client_id)
{
    const char *tid;
    uint32_t slot;
    pthread_mutex_t *mu;

    if (!a || !tenant_id || !client_id)
        return;
    tid = cf_auth__resolve_tenant(a, cf_str_from(tenant_id));
    slot = cf_auth__pstate_slot(tid ? tid : tenant_id, client_id);
    mu = &a->pstate_mu[slot % AUTH_LOCK_STRIPES];
    /* Unconditional: the slot may hold another principal now while a verifier of this one
     * is between its store read and its publish; the seq bump stops that publish. */
    pthread_mutex_lock(mu);
    a->pstate[slot].valid = false;
    a->pstate[slot].seq++;
    pthread_mutex_unlock(mu);
}

void cf_auth__pstate_invalidate_all(struct cf_auth *a)
{
    for (size_t i = 0; i < AUTH_PSTATE_SLOTS; i++) {
        pthread_mutex_t *mu = &a->pstate_mu[i % AUTH_LOCK_STRIPES];
        pthread_mutex_lock(mu);
        a->pstate[i].valid = false;
        a->pstate[i].seq++;
        pthread_mutex_unlock(mu);
    }
}

struct pload_arg {
    const char *tid;
    const char *appid;
    struct cf_rec_principal *rec;
    struct cf_principal *who;
};

static cf_err group_cb(const char *group_id, const char *member_id, const char *type, void *arg)
{
    struct cf_principal *who = arg;

    (void)member_id;
    (void)type;
    /* Past CF_AUTH_MAX_GROUPS the rest do not count (auth.h); the walk goes on harmlessly. */
    if (who->ngroups < CF_AUTH_MAX_GROUPS && strlen(group_id) == 36) {
        memcpy(who->groups[who->ngroups], group_id, 37);
        who->ngroups++;
    }
    return CF_OK;
}

/* The principal and its direct groups, in one snapshot. */
static cf_err pload_fn(struct cf_store_txn *t, void *arg)
{
    struct pload_arg *l = arg;
    cf_err e = cf_store_principal_get(t, l->tid, l->appid, l->rec);

    l->who->ngroups = 0;
    if (!e)
        e = cf_store_dir_member_of(t, l->rec->object_id, group_cb, l->who);
    return e;
}

/* Reads the principal (and its groups, into who) and decides; CF_OK with *why set, or a store
 * error. */
static cf_err principal_check(struct cf_auth *a, const struct auth_cache_entry *ent,
                              struct cf_principal *who, enum cf_auth_fail *why)
{
    struct cf_rec_principal rec;
    uint32_t slot = cf_auth__pstate_slot(ent->tid, ent->appid);
    uint64_t seq = pstate_seq(a, slot);
    struct pload_arg l = {ent->tid, ent->appid, &rec, who};
    cf_err e = cf_store_read(a->store, pload_fn, &l);

    if (e == CF_ENOTFOUND) {
        *why = CF_AUTH_PRINCIPAL_GONE;
        e = CF_OK;
        goto wipe;
    }
    if (e)
        goto wipe;
    if (rec.enabled)
        pstate_publish(a, slot, seq, &rec, who);
    *why = rec.enabled && rec.generation == ent->gen && strcmp(rec.object_id, ent->oid) == 0
               ? CF_AUTH_OK
               : CF_AUTH_PRINCIPAL_GONE;
wipe:
    cf_wipe(&rec, sizeof(rec));
    return e;
}

/* ---------------------------------------------------------------- the cache */

static uint32_t cache_set(const unsigned char h[CF_SHA256_LEN])
{
    uint32_t v = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                 (uint32_t)h[3] << 24;
    return v % AUTH_CACHE_SETS;
}

static bool cache_get(struct cf_auth *a, const unsigned char h[CF_SHA256_LEN],
                      struct auth_cache_entry *out)
{
    uint32_t set = cache_set(h);
    pthread_mutex_t *mu = &a->cache_mu[set % AUTH_LOCK_STRIPES];
    const struct auth_cache_entry *ways = &a->cache[(size_t)set * AUTH_CACHE_WAYS];
    bool hit = false;

    pthread_mutex_lock(mu);
    for (size_t i = 0; i < AUTH_CACHE_WAYS; i++) {
        if (ways[i].used && memcmp(ways[i].hash, h, CF_SHA256_LEN) == 0) {
            *out = ways[i];
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(mu);
    return hit;
}

/* Replaces, in order of preference: the same token, a free way, an expired one, the one that
 * expires first. */
static void cache_put(struct cf_auth *a, const struct auth_cache_entry *ent, int64_t now)
{
    uint32_t set = cache_set(ent->hash);
    pthread_mutex_t *mu = &a->cache_mu[set % AUTH_LOCK_STRIPES];
    struct auth_cache_entry *ways = &a->cache[(size_t)set * AUTH_CACHE_WAYS];
    size_t pick = AUTH_CACHE_WAYS;

    pthread_mutex_lock(mu);
    for (size_t i = 0; i < AUTH_CACHE_WAYS && pick == AUTH_CACHE_WAYS; i++)
        if (ways[i].used && memcmp(ways[i].hash, ent->hash, CF_SHA256_LEN) == 0)
            pick = i;
    for (size_t i = 0; i < AUTH_CACHE_WAYS && pick == AUTH_CACHE_WAYS; i++)
        if (!ways[i].used || ways[i].exp + AUTH_SKEW_S <= now)
            pick = i;
    if (pick == AUTH_CACHE_WAYS) {
        pick = 0;
        for (size_t i = 1; i < AUTH_CACHE_WAYS; i++)
            if (ways[i].exp < ways[pick].exp)
                pick = i;
    }
    ways[pick] = *ent;
    ways[pick].used = true;
    pthread_mutex_unlock(mu);
}

/* ---------------------------------------------------------------- full verification */

static bool claim_str(const struct cf_json *root, const char *name, char *out, size_t cap)
{
    size_t n;
    const char *s = cf_json_str(cf_json_get(root, name), &n);

    if (!s || n == 0 || n >= cap || strlen(s) != n)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

/* Everything that does not change between requests: signature, kid, claims, issuer. A token
 * whose kid is not in the ring may be a trusted external issuer's: then *external is set and
 * the result (and who) are that path's. */
static enum cf_auth_fail verify_full(struct cf_auth *a, struct cf_str token, int64_t now,
                                     struct auth_cache_entry *ent, struct cf_principal *who,
                                     bool *external)
{
    struct cf_jwt jwt;
    struct cf_json *root = NULL;
    char iss[AUTH_ISSUER_MAX + AUTH_TENANT_MAX + 16];
    char want[AUTH_ISSUER_MAX + AUTH_TENANT_MAX + 16];
    enum cf_auth_fail why = CF_AUTH_MALFORMED;

    *external = false;
    memset(&jwt, 0, sizeof(jwt));
    if (cf_jwt_decode(token, &jwt) != CF_OK)
        goto release;
    /* Ours: the algorithm is ours to fix, never the token's ("none", HS256 with the public
     * key...), and the kid must be in the ring and still live. */
    if (strcmp(jwt.alg, "ES256") == 0 && cf_auth__kid_known(a, jwt.kid)) {
        if (!cf_auth__key_verify(a, &jwt, now))
            goto release;
    } else {
        /* Maybe a trusted issuer's: its iss (read before trusting anything) picks the keys. */
        bool handled = false;
        if (!cf_auth__have_issuers(a) ||
            cf_json_parse(jwt.payload.data, jwt.payload.len, &root, NULL, 0) != CF_OK ||
            cf_json_type(root) != CF_JSON_OBJECT)
            goto release;
        why = cf_auth__verify_external(a, &jwt, root, now, who, &handled);
        *external = handled;
        if (!handled)
            why = CF_AUTH_MALFORMED;
        goto release;
    }
    if (cf_json_parse(jwt.payload.data, jwt.payload.len, &root, NULL, 0) != CF_OK ||
        cf_json_type(root) != CF_JSON_OBJECT)
        goto release;
    if (!claim_str(root, "iss", iss, sizeof(iss)) ||
        !claim_str(root, "aud", ent->aud, sizeof(ent->aud)) ||
        !claim_str(root, "tid", ent->tid, sizeof(ent->tid)) ||
        !claim_str(root, "oid", ent->oid, sizeof(ent->oid)) ||
        !claim_str(root, "appid", ent->appid, sizeof(ent->appid)) ||
        !cf_json_int(cf_json_get(root, "exp"), &ent->exp) ||
        !cf_json_int(cf_json_get(root, "nbf"), &ent->nbf) ||
        !cf_json_int(cf_json_get(root, "gen"), &ent->gen))
        goto release;
    snprintf(want, sizeof(want), "%s/%s/v2.0", a->issuer, ent->tid);
    if (strcmp(iss, want) != 0) {
        why = CF_AUTH_BAD_ISSUER;
        goto release;
    }
    memcpy(ent->kid, jwt.kid, sizeof(ent->kid));
    why = CF_AUTH_OK;
release:
    cf_json_free(root);
    cf_jwt_release(&jwt);
    return why;
}

/* The checks repeated on every request. */
static enum cf_auth_fail check_request(const struct auth_cache_entry *ent, int64_t now,
                                       const struct cf_str *audiences, size_t naud)
{
    if (now >= ent->exp + AUTH_SKEW_S)
        return CF_AUTH_EXPIRED;
    if (ent->nbf > now + AUTH_SKEW_S)
        return CF_AUTH_NOT_YET;
    for (size_t i = 0; i < naud; i++)
        if (cf_auth__aud_eq(cf_str_from(ent->aud), audiences[i]))
            return CF_AUTH_OK;
    return CF_AUTH_BAD_AUDIENCE;
}

cf_err cf_auth_verify(struct cf_auth *a, struct cf_str token, const struct cf_str *audiences,
                      size_t naud, struct cf_principal *who, enum cf_auth_fail *why)
{
    struct auth_cache_entry ent;
    bool hit;
    int64_t now;
    cf_err e;

    *why = CF_AUTH_MALFORMED;
    if (token.len == 0 || token.len > CF_JWT_MAX_LEN || !token.p)
        return CF_EUNAUTH;
    now = cf_clock_s(a->clock);
    e = cf_sha256(token.p, token.len, ent.hash);
    if (e)
        return e;
    hit = cache_get(a, ent.hash, &ent);
    /* A cached token of a key dropped from the ring since is refused like any other. */
    if (hit && !cf_auth__kid_live(a, ent.kid, now))
        return CF_EUNAUTH;
    if (!hit) {
        bool external = false;
        *why = verify_full(a, token, now, &ent, who, &external);
        if (external)
            return *why == CF_AUTH_OK ? CF_OK : CF_EUNAUTH;
        if (*why != CF_AUTH_OK)
            return CF_EUNAUTH;
    }
    *why = check_request(&ent, now, audiences, naud);
    if (*why != CF_AUTH_OK)
        return CF_EUNAUTH;
    if (!hit || !pstate_ok(a, &ent, who)) {
        e = principal_check(a, &ent, who, why);
        if (e)
            return e;
        if (*why != CF_AUTH_OK)
            return CF_EUNAUTH;
        if (!hit)
            cache_put(a, &ent, now);
    }
    memcpy(who->tenant_id, ent.tid, sizeof(who->tenant_id));
    memcpy(who->object_id, ent.oid, sizeof(who->object_id));
    memcpy(who->client_id, ent.appid, sizeof(who->client_id));
    who->expires = ent.exp;
    who->external = false;
    return CF_OK;
}

/* signing.c - the token signing key ring: ES256 keys sealed in the store, rotation, retirement,
 * and the JWKS that publishes them.
 *
 * Map:
 *   stored form    - meta "auth.signing_key" holds
 *                      {"v":2,"keys":[{"kid","alg":"ES256","created","retired","retire_after",
 *                                      "sealed"}, ...]}
 *                    oldest first. The last key has retired = retire_after = 0 and signs; every
 *                    other key stopped signing at "retired" and verifies its tokens until
 *                    "retire_after" = retired + token lifetime (at that time) + AUTH_RETIRE_GRACE_S,
 *                    after which it is dropped. "sealed" is base64url of cf_aead_seal(K, AAD,
 *                    PKCS#8 DER) with K = HKDF-SHA256(derivation root, info
 *                    "coffer auth signing v1") - the root (cf_auth_new) outlives master-key
 *                    rotations; stores older than it have the master key as root -
 *                    and AAD = "coffer auth signing key:" + kid (a blob cannot move to another
 *                    kid). kid = base64url of the first 16 bytes of the RFC 7638 thumbprint.
 *                    Version 1 documents ({"v":1,"active":kid,"keys":[...]}, one key) are
 *                    migrated to version 2 at start: the active key keeps signing.
 *   ring_plan      - parse, migrate, prune and (when asked or due) rotate one document: the one
 *                    place the ring's rules live. Run dry in a read transaction to see whether
 *                    anything must change, then for real in a write transaction.
 *   ring_load      - opens the keys of a document into memory (reusing keys already open) and
 *                    swaps them in under keys_mu.
 *   sign / verify  - cf_auth__sign, cf_auth__key_verify, cf_auth__kid_live (readers take keys_mu
 *                    shared; a key whose retire_after has passed is refused at once, before the
 *                    periodic check drops it).
 *   public         - cf_auth_rotate_signing_key, cf_auth_rotate_due, cf_auth_signing_keys,
 *                    cf_auth_write_jwks.
 * Writers of the ring are serialised by ring_mu; several processes sharing the store converge
 * because every change re-reads the stored document inside its write transaction. */
#include "base/cf.h"
#include "auth/auth_int.h"

#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"

#define SIGNING_INFO "coffer auth signing v1"
#define SIGNING_AAD_PREFIX "coffer auth signing key:"
#define RING_DOC_MAX (64 * 1024)
#define SEALED_B64_MAX 1024
#define DAY_S 86400

struct ring_ent {
    char kid[AUTH_KID_MAX + 1];
    int64_t created, retired, retire_after;
    char sealed[SEALED_B64_MAX];
};
struct ring_doc {
    size_t n;
    struct ring_ent e[AUTH_MAX_KEYS]; /* oldest first; e[n-1] signs */
};

static bool copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    if (!s || n == 0 || n >= cap || strlen(s) != n)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

/* ---------------------------------------------------------------- keys and kids */

/* kid = base64url(first 16 bytes of the RFC 7638 thumbprint of the public JWK). */
static cf_err compute_kid(const struct cf_pkey *k, char kid[AUTH_KID_MAX + 1])
{
    struct cf_buf jwk, canon, enc;
    struct cf_jw w;
    struct cf_json *root = NULL;
    const char *x, *y;
    unsigned char h[CF_SHA256_LEN];
    cf_err e;

    cf_buf_init(&jwk, 4096);
    cf_buf_init(&canon, 4096);
    cf_buf_init(&enc, 128);
    cf_jw_init(&w, &jwk);
    e = cf_pkey_write_jwk(k, "-", &w);
    if (!e)
        e = cf_jw_err(&w);
    if (e)
        goto release;
    e = cf_json_parse(jwk.data, jwk.len, &root, NULL, 0);
    if (e)
        goto release;
    x = cf_json_str(cf_json_get(root, "x"), NULL);
    y = cf_json_str(cf_json_get(root, "y"), NULL);
    if (!x || !y) {
        e = CF_ECRYPTO;
        goto release;
    }
    /* Members in lexicographic order, no whitespace (RFC 7638 §3.2). */
    e = cf_buf_printf(&canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    if (e)
        goto release;
    e = cf_sha256(canon.data, canon.len, h);
    if (e)
        goto release;
    e = cf_b64url_encode(&enc, h, 16);
    if (e)
        goto release;
    if (!copy_str(kid, AUTH_KID_MAX + 1, enc.data, enc.len))
        e = CF_EINTERNAL;
release:
    cf_json_free(root);
    cf_buf_release(&jwk);
    cf_buf_release(&canon);
    cf_buf_release(&enc);
    return e;
}

static cf_err signing_aad(const char *kid, struct cf_buf *aad)
{
    return cf_buf_printf(aad, SIGNING_AAD_PREFIX "%s", kid);
}

/* A fresh key, sealed, as a ring entry that signs. */
static cf_err ent_new(const unsigned char seal_key[32], int64_t now, struct ring_ent *out)
{
    struct cf_pkey *k = NULL;
    struct cf_secret *der = NULL;
    struct cf_buf sealed, aad, b64;
    cf_err e;

    memset(out, 0, sizeof(*out));
    cf_buf_init(&sealed, 8192);
    cf_buf_init(&aad, 256);
    cf_buf_init(&b64, SEALED_B64_MAX);
    e = cf_pkey_generate_ec_p256(&k);
    if (!e)
        e = compute_kid(k, out->kid);
    if (!e)
        e = cf_pkey_to_der(k, &der);
    if (!e)
        e = signing_aad(out->kid, &aad);
    if (!e)
        e = cf_aead_seal(seal_key, aad.data, aad.len, der->p, der->len, &sealed);
    if (!e)
        e = cf_b64url_encode(&b64, sealed.data, sealed.len);
    if (!e && !copy_str(out->sealed, sizeof(out->sealed), b64.data, b64.len))
        e = CF_ETOOBIG;
    out->created = now;
    cf_secret_free(der);
    cf_pkey_free(k);
    cf_buf_release(&sealed);
    cf_buf_release(&aad);
    cf_buf_release(&b64);
    return e;
}

/* Opens one sealed key and checks that it is the key its kid names. */
static cf_err ent_open(const unsigned char seal_key[32], const struct ring_ent *ent,
                       struct cf_pkey **out)
{
    struct cf_buf sealed, aad;
    struct cf_secret *der = NULL;
    struct cf_pkey *k = NULL;
    char check[AUTH_KID_MAX + 1];
    cf_err e;

    cf_buf_init(&sealed, 8192);
    cf_buf_init(&aad, 256);
    e = cf_b64_decode(&sealed, cf_str_from(ent->sealed));
    if (e) {
        e = CF_ECORRUPT;
        goto release;
    }
    e = signing_aad(ent->kid, &aad);
    if (!e)
        e = cf_aead_open(seal_key, aad.data, aad.len, sealed.data, sealed.len, &der);
    if (!e)
        e = cf_pkey_from_der(der->p, der->len, &k);
    if (!e)
        e = compute_kid(k, check);
    if (!e && strcmp(check, ent->kid) != 0)
        e = CF_ECORRUPT;
    if (e)
        goto release;
    *out = k;
    k = NULL;
release:
    cf_pkey_free(k);
    cf_secret_free(der);
    cf_buf_release(&sealed);
    cf_buf_release(&aad);
    return e;
}

/* ---------------------------------------------------------------- the stored document */

static cf_err doc_parse(const struct cf_buf *doc, int64_t now, int lifetime_s,
                        struct ring_doc *out, bool *changed)
{
    struct cf_json *root = NULL;
    const struct cf_json *keys;
    const char *active = NULL;
    int64_t v;
    cf_err e = CF_ECORRUPT;

    memset(out, 0, sizeof(*out));
    if (cf_json_parse(doc->data, doc->len, &root, NULL, 0) != CF_OK)
        goto release;
    keys = cf_json_get(root, "keys");
    if (!cf_json_int(cf_json_get(root, "v"), &v) || (v != 1 && v != 2) ||
        cf_json_type(keys) != CF_JSON_ARRAY || cf_json_size(keys) == 0 ||
        cf_json_size(keys) > AUTH_MAX_KEYS)
        goto release;
    if (v == 1) {
        active = cf_json_str(cf_json_get(root, "active"), NULL);
        if (!active)
            goto release;
    }
    for (size_t i = 0; i < cf_json_size(keys); i++) {
        const struct cf_json *k = cf_json_at(keys, i);
        struct ring_ent *ent = &out->e[out->n];
        size_t kl, sl;
        const char *kid = cf_json_str(cf_json_get(k, "kid"), &kl);
        const char *alg = cf_json_str(cf_json_get(k, "alg"), NULL);
        const char *sealed = cf_json_str(cf_json_get(k, "sealed"), &sl);

        if (!alg || strcmp(alg, "ES256") != 0 || !copy_str(ent->kid, sizeof(ent->kid), kid, kl) ||
            !copy_str(ent->sealed, sizeof(ent->sealed), sealed, sl) ||
            !cf_json_int(cf_json_get(k, "created"), &ent->created))
            goto release;
        if (v == 2 && (!cf_json_int(cf_json_get(k, "retired"), &ent->retired) ||
                       !cf_json_int(cf_json_get(k, "retire_after"), &ent->retire_after)))
            goto release;
        if (v == 1 && strcmp(ent->kid, active) != 0) {
            /* never written by version 1 servers, but their format allowed it */
            ent->retired = now;
            ent->retire_after = now + lifetime_s + AUTH_RETIRE_GRACE_S;
        }
        out->n++;
    }
    if (v == 1) {
        /* the active key goes last, where the signer lives */
        size_t ai = out->n;
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->e[i].kid, active) == 0)
                ai = i;
        if (ai == out->n)
            goto release;
        if (ai != out->n - 1) {
            struct ring_ent tmp = out->e[ai];
            memmove(&out->e[ai], &out->e[ai + 1], (out->n - ai - 1) * sizeof(out->e[0]));
            out->e[out->n - 1] = tmp;
        }
        *changed = true;
    }
    /* Invariant: exactly the last key signs, and kids are distinct. */
    for (size_t i = 0; i < out->n; i++) {
        bool last = i + 1 == out->n;
        if (last != (out->e[i].retired == 0) || (!last && out->e[i].retire_after <= 0))
            goto release;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->e[i].kid, out->e[j].kid) == 0)
                goto release;
    }
    e = CF_OK;
release:
    cf_json_free(root);
    return e;
}

static cf_err doc_write(const struct ring_doc *d, struct cf_buf *out)
{
    struct cf_jw w;

    cf_buf_reset(out);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    cf_jw_kint(&w, "v", 2);
    cf_jw_key(&w, "keys");
    cf_jw_arr_begin(&w);
    for (size_t i = 0; i < d->n; i++) {
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "kid", d->e[i].kid);
        cf_jw_kstr(&w, "alg", "ES256");
        cf_jw_kint(&w, "created", d->e[i].created);
        cf_jw_kint(&w, "retired", d->e[i].retired);
        cf_jw_kint(&w, "retire_after", d->e[i].retire_after);
        cf_jw_kstr(&w, "sealed", d->e[i].sealed);
        cf_jw_obj_end(&w);
    }
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    return cf_jw_err(&w);
}

/* ---------------------------------------------------------------- planning a change */

enum ring_mode { RING_CHECK, RING_ROTATE };

struct ring_plan {
    struct cf_auth *a;
    enum ring_mode mode;
    bool dry;            /* read transaction: decide only, generate nothing */
    int64_t now;
    struct cf_buf doc;   /* the stored document as read */
    struct ring_doc ring; /* the ring after the plan */
    bool changed;        /* the stored document must be rewritten */
    bool rotated;
    size_t dropped;
};

static bool rotation_due(const struct cf_auth *a, const struct ring_ent *signer, int64_t now)
{
    return a->rotate_days > 0 && now - signer->created >= (int64_t)a->rotate_days * DAY_S;
}

static cf_err ring_plan_fn(struct cf_store_txn *t, void *arg)
{
    struct ring_plan *p = arg;
    struct cf_auth *a = p->a;
    struct ring_doc *r = &p->ring;
    cf_err e;

    p->changed = p->rotated = false;
    p->dropped = 0;
    cf_buf_reset(&p->doc);
    e = cf_store_meta_get(t, AUTH_META_SIGNING, &p->doc);
    if (e == CF_ENOTFOUND) {
        /* first start: a ring of one key */
        memset(r, 0, sizeof(*r));
        p->changed = true;
        if (!p->dry) {
            e = ent_new(a->seal_key, p->now, &r->e[0]);
            if (e)
                return e;
            r->n = 1;
        }
        goto write;
    }
    if (e)
        return e;
    e = doc_parse(&p->doc, p->now, a->lifetime_s, r, &p->changed);
    if (e)
        return e;
    /* drop keys whose tokens can no longer be valid */
    for (size_t i = 0; i + 1 < r->n;) {
        if (r->e[i].retire_after <= p->now) {
            memmove(&r->e[i], &r->e[i + 1], (r->n - i - 1) * sizeof(r->e[0]));
            r->n--;
            p->dropped++;
            p->changed = true;
        } else {
            i++;
        }
    }
    if (p->mode == RING_ROTATE || rotation_due(a, &r->e[r->n - 1], p->now)) {
        struct ring_ent *signer = &r->e[r->n - 1];
        p->changed = p->rotated = true;
        if (p->dry)
            goto write;
        signer->retired = p->now;
        signer->retire_after = p->now + a->lifetime_s + AUTH_RETIRE_GRACE_S;
        if (r->n == AUTH_MAX_KEYS) {
            /* Only reachable by many on-demand rotations within one token lifetime: the
             * oldest key's tokens stop verifying early rather than the rotation failing. */
            cf_warn("auth: signing key ring full; dropping key %s before its tokens expire",
                    r->e[0].kid);
            memmove(&r->e[0], &r->e[1], (r->n - 1) * sizeof(r->e[0]));
            r->n--;
            p->dropped++;
        }
        e = ent_new(a->seal_key, p->now, &r->e[r->n]);
        if (e)
            return e;
        r->n++;
    }
write:
    if (p->dry || !p->changed)
        return CF_OK;
    e = doc_write(r, &p->doc);
    if (e)
        return e;
    return cf_store_meta_put(t, AUTH_META_SIGNING, p->doc.data, p->doc.len);
}

/* ---------------------------------------------------------------- loading into memory */

/* Opens the ring's keys (reusing the ones already open: the caller holds ring_mu, the only
 * writer of keys[], so reading keys[] here needs no keys_mu) and swaps them in. */
static cf_err ring_load(struct cf_auth *a, const struct ring_doc *r)
{
    struct auth_key fresh[AUTH_MAX_KEYS];
    struct auth_key old[AUTH_MAX_KEYS];
    size_t nold;
    cf_err e = CF_OK;

    memset(fresh, 0, sizeof(fresh));
    for (size_t i = 0; i < r->n && !e; i++) {
        struct auth_key *k = &fresh[i];
        memcpy(k->kid, r->e[i].kid, sizeof(k->kid));
        k->created = r->e[i].created;
        k->retired = r->e[i].retired;
        k->retire_after = r->e[i].retire_after;
        for (size_t j = 0; j < a->nkeys; j++) {
            if (a->keys[j].pkey && strcmp(a->keys[j].kid, k->kid) == 0) {
                k->pkey = a->keys[j].pkey;
                k->shared = true;
            }
        }
        if (!k->pkey)
            e = ent_open(a->seal_key, &r->e[i], &k->pkey);
    }
    if (e) {
        for (size_t i = 0; i < r->n; i++)
            if (!fresh[i].shared)
                cf_pkey_free(fresh[i].pkey);
        return e;
    }
    pthread_rwlock_wrlock(&a->keys_mu);
    memcpy(old, a->keys, sizeof(old));
    nold = a->nkeys;
    memcpy(a->keys, fresh, sizeof(fresh));
    a->nkeys = r->n;
    a->active = r->n - 1;
    for (size_t i = 0; i < a->nkeys; i++)
        a->keys[i].shared = false;
    pthread_rwlock_unlock(&a->keys_mu);
    /* free the keys that left the ring (no reader can hold them: keys_mu was taken) */
    for (size_t i = 0; i < nold; i++) {
        bool kept = false;
        for (size_t j = 0; j < a->nkeys; j++)
            kept = kept || a->keys[j].pkey == old[i].pkey;
        if (!kept)
            cf_pkey_free(old[i].pkey);
    }
    return CF_OK;
}

/* True when memory already holds exactly the ring r. */
static bool ring_same(const struct cf_auth *a, const struct ring_doc *r)
{
    if (a->nkeys != r->n)
        return false;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(a->keys[i].kid, r->e[i].kid) != 0 ||
            a->keys[i].retire_after != r->e[i].retire_after)
            return false;
    return true;
}

/* Brings the stored ring up to date (migration, pruning, rotation when due or asked) and
 * memory up to the stored ring. */
static cf_err ring_update(struct cf_auth *a, enum ring_mode mode, bool *rotated)
{
    struct ring_plan *p = calloc(1, sizeof(*p));
    cf_err e;

    if (rotated)
        *rotated = false;
    if (!p)
        return CF_ENOMEM;
    p->a = a;
    p->mode = mode;
    p->now = cf_clock_s(a->clock);
    cf_buf_init(&p->doc, RING_DOC_MAX);
    pthread_mutex_lock(&a->ring_mu);
    p->dry = true;
    e = cf_store_read(a->store, ring_plan_fn, p);
    if (e)
        goto unlock;
    if (p->changed) {
        p->dry = false;
        e = cf_store_write(a->store, ring_plan_fn, p);
        if (e)
            goto unlock;
        if (p->rotated)
            cf_info("auth: token signing key rotated; new kid %s", p->ring.e[p->ring.n - 1].kid);
        if (p->dropped)
            cf_info("auth: %zu retired token signing key(s) dropped", p->dropped);
    }
    if (!ring_same(a, &p->ring))
        e = ring_load(a, &p->ring);
    if (!e && rotated)
        *rotated = p->rotated;
unlock:
    pthread_mutex_unlock(&a->ring_mu);
    if (e == CF_ECORRUPT)
        cf_error("auth: the stored token signing keys cannot be opened (wrong master key or "
                 "derivation root, or a damaged record)");
    cf_buf_release(&p->doc);
    cf_wipe(p, sizeof(*p));
    free(p);
    return e;
}

/* ---------------------------------------------------------------- module internals */

cf_err cf_auth__signing_init(struct cf_auth *a, const unsigned char master_key[32])
{
    cf_err e = cf_hkdf_sha256(master_key, 32, NULL, 0, SIGNING_INFO, strlen(SIGNING_INFO),
                              a->seal_key, sizeof(a->seal_key));
    if (e)
        return e;
    return ring_update(a, RING_CHECK, NULL);
}

void cf_auth__signing_free(struct cf_auth *a)
{
    for (size_t i = 0; i < a->nkeys; i++)
        cf_pkey_free(a->keys[i].pkey);
    a->nkeys = 0;
    cf_wipe(a->seal_key, sizeof(a->seal_key));
}

static bool key_live(const struct auth_key *k, int64_t now)
{
    return k->retired == 0 || now < k->retire_after;
}

/* Caller holds keys_mu (shared). */
static const struct auth_key *live_kid(const struct cf_auth *a, const char *kid, int64_t now)
{
    for (size_t i = 0; i < a->nkeys; i++)
        if (strcmp(a->keys[i].kid, kid) == 0)
            return key_live(&a->keys[i], now) ? &a->keys[i] : NULL;
    return NULL;
}

bool cf_auth__kid_live(struct cf_auth *a, const char *kid, int64_t now)
{
    bool live;
    pthread_rwlock_rdlock(&a->keys_mu);
    live = live_kid(a, kid, now) != NULL;
    pthread_rwlock_unlock(&a->keys_mu);
    return live;
}

bool cf_auth__kid_known(struct cf_auth *a, const char *kid)
{
    bool known = false;
    pthread_rwlock_rdlock(&a->keys_mu);
    for (size_t i = 0; i < a->nkeys && !known; i++)
        known = strcmp(a->keys[i].kid, kid) == 0;
    pthread_rwlock_unlock(&a->keys_mu);
    return known;
}

bool cf_auth__key_verify(struct cf_auth *a, const struct cf_jwt *jwt, int64_t now)
{
    const struct auth_key *k;
    bool ok = false;

    pthread_rwlock_rdlock(&a->keys_mu);
    k = live_kid(a, jwt->kid, now);
    if (k)
        ok = cf_jwt_verify_es256(k->pkey, jwt) == CF_OK;
    pthread_rwlock_unlock(&a->keys_mu);
    return ok;
}

cf_err cf_auth__sign(struct cf_auth *a, const char *claims, size_t len, struct cf_buf *out)
{
    int64_t now = cf_clock_s(a->clock);
    bool due;
    cf_err e;

    /* The janitor normally rotates; this check keeps a server without one (tests, a stopped
     * janitor) from signing past the rotation period. One comparison when nothing is due. */
    pthread_rwlock_rdlock(&a->keys_mu);
    due = a->nkeys && rotation_due(a, &(struct ring_ent){.created = a->keys[a->active].created},
                                   now);
    pthread_rwlock_unlock(&a->keys_mu);
    if (due && (e = ring_update(a, RING_CHECK, NULL)) != CF_OK)
        cf_warn("auth: signing key rotation failed (%s); still signing with the current key",
                cf_err_name(e));
    pthread_rwlock_rdlock(&a->keys_mu);
    e = a->nkeys ? cf_jwt_sign_es256(a->keys[a->active].pkey, a->keys[a->active].kid, claims,
                                     len, out)
                 : CF_EINTERNAL;
    pthread_rwlock_unlock(&a->keys_mu);
    return e;
}

/* ---------------------------------------------------------------- public */

static void key_info(const struct auth_key *k, bool active, struct cf_auth_signing_key *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->kid, k->kid, sizeof(out->kid));
    snprintf(out->alg, sizeof(out->alg), "ES256");
    out->created = k->created;
    out->retired = k->retired;
    out->retire_after = k->retire_after;
    out->active = active;
}

size_t cf_auth_signing_keys(struct cf_auth *a, struct cf_auth_signing_key *out, size_t max)
{
    int64_t now = cf_clock_s(a->clock);
    size_t n = 0;

    pthread_rwlock_rdlock(&a->keys_mu);
    /* newest first: the signer, then retired keys by age */
    for (size_t i = a->nkeys; i-- > 0;) {
        if (!key_live(&a->keys[i], now))
            continue;
        if (n < max)
            key_info(&a->keys[i], i == a->active, &out[n]);
        n++;
    }
    pthread_rwlock_unlock(&a->keys_mu);
    return n;
}

cf_err cf_auth_rotate_signing_key(struct cf_auth *a, struct cf_auth_signing_key *out)
{
    cf_err e = ring_update(a, RING_ROTATE, NULL);

    if (!e && out) {
        pthread_rwlock_rdlock(&a->keys_mu);
        key_info(&a->keys[a->active], true, out);
        pthread_rwlock_unlock(&a->keys_mu);
    }
    return e;
}

cf_err cf_auth_rotate_due(struct cf_auth *a)
{
    return a ? ring_update(a, RING_CHECK, NULL) : CF_EINVAL;
}

cf_err cf_auth_write_jwks(struct cf_auth *a, struct cf_jw *w)
{
    int64_t now = cf_clock_s(a->clock);
    cf_err e = CF_OK;

    cf_jw_obj_begin(w);
    cf_jw_key(w, "keys");
    cf_jw_arr_begin(w);
    pthread_rwlock_rdlock(&a->keys_mu);
    for (size_t i = a->nkeys; i-- > 0 && !e;)
        if (key_live(&a->keys[i], now))
            e = cf_pkey_write_jwk(a->keys[i].pkey, a->keys[i].kid, w);
    pthread_rwlock_unlock(&a->keys_mu);
    cf_jw_arr_end(w);
    cf_jw_obj_end(w);
    return e ? e : cf_jw_err(w);
}

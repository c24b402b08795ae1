/* kcache.c - a bounded cache of opened key versions, so a crypto operation on a hot key costs
 * its signature and not a store read, an unseal and a PKCS#8 decode (OpenSSL 3's decoder alone
 * is ~400 us, and a fresh RSA key's first private operation builds its Montgomery and blinding
 * state: ~1.2 ms before, ~250 us after, per RSA-2048 sign), and GET of a key is served without
 * a store transaction, as GET of a secret is (scache.c).
 *
 * Shape: a set-associative table: sets of WAYS entries picked by a hash of (vault id, lower-case
 * name), so every version of one name lands in one set; a full set evicts its least recently
 * used way. Each set has a mutex and a generation. An entry is immutable once built and shared by
 * reference count: the table holds one reference, every user one more, and the last one frees
 * it (wiping the parsed key via cf_kvkey_free, which OpenSSL clears). So eviction or
 * invalidation never frees a key another thread is signing with: that thread's reference keeps
 * it alive until it is done.
 *
 * Invariant (the rule of scache.c and the vault cache): every write to a key name calls
 * cf_kcache_forget AFTER its transaction committed (or failed), which bumps the set's generation
 * and drops the name's entries; a vault change (cf_vault_cache_invalidate: update, delete,
 * recover, purge - the data key leaves memory) calls cf_kcache_drop_vault, which does the same to
 * every set. A reader that missed remembers the generation before its store read and inserts
 * only if it is unchanged, so an entry built from a row read before a racing commit is never
 * cached after that commit's invalidation.
 *
 * Plaintext: the cached struct cf_kvkey holds the private key parsed (as OpenSSL holds it while a
 * request uses it); the table never holds the PKCS#8 bytes. Its memory is bounded by entries x
 * (a parsed key + CF_KCACHE_MAX_META bytes of text). */
#include "base/cf.h"
#include "base/secret.h"

#include "vault/keys_int.h"

#define WAYS 4
/* Metadata texts (public JWK, tags, release policy) above this together are not kept: such an
 * entry still serves crypto operations, and GET reads the store. */
#define CF_KCACHE_MAX_META 4096

struct kset {
    pthread_mutex_t mu;
    uint64_t gen;
    uint64_t tick; /* LRU clock of the set */
    struct cf_kcache_ent *way[WAYS];
    uint64_t used[WAYS]; /* tick of the last hit or insert of way[i] */
};

struct cf_kcache {
    size_t nsets; /* power of two */
    struct kset *sets;
};

static uint64_t name_hash(int64_t vault_id, const char *name_lc)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)vault_id;
    for (const unsigned char *p = (const unsigned char *)name_lc; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

struct cf_kcache *cf_kcache_new(size_t entries)
{
    struct cf_kcache *c = calloc(1, sizeof(*c));
    size_t n = 16;

    if (!c)
        return NULL;
    while (n * WAYS < entries)
        n <<= 1;
    c->nsets = n;
    c->sets = calloc(n, sizeof(*c->sets));
    if (!c->sets) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        pthread_mutex_init(&c->sets[i].mu, NULL);
    return c;
}

static void ent_free(struct cf_kcache_ent *e)
{
    cf_kvkey_free(e->key);
    cf_rec_key_ver_release(&e->ver);
    cf_wipe(e, sizeof(*e));
    free(e);
}

void cf_kcache_unref(struct cf_kcache_ent *e)
{
    if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
        ent_free(e);
}

static struct cf_kcache_ent *ent_ref(struct cf_kcache_ent *e)
{
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    return e;
}

void cf_kcache_free(struct cf_kcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsets; i++) {
        for (size_t w = 0; w < WAYS; w++)
            cf_kcache_unref(c->sets[i].way[w]);
        pthread_mutex_destroy(&c->sets[i].mu);
    }
    free(c->sets);
    free(c);
}

static char *dup_opt(const char *s, bool *ok)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static size_t len_opt(const char *s)
{
    return s ? strlen(s) : 0;
}

cf_err cf_kcache_ent_new(const struct cf_vault_ref *v, const struct cf_rec_key_obj *obj,
                         const struct cf_rec_key_ver *ver, struct cf_kvkey *key,
                         struct cf_kcache_ent **out)
{
    struct cf_kcache_ent *e = calloc(1, sizeof(*e));
    struct cf_str vname = cf_str_from(v->name);
    bool ok = true;

    *out = NULL;
    if (!e)
        return CF_ENOMEM;
    e->refs = 1;
    e->vault_id = v->id;
    if (vname.len > CF_VAULT_NAME_MAX)
        vname.len = CF_VAULT_NAME_MAX;
    cf_str_lower(vname, e->vault_lc);
    e->obj = *obj;
    e->ver = *ver;
    e->ver.public_jwk = e->ver.tags_json = e->ver.release_policy = NULL;
    cf_buf_init(&e->ver.priv, 0); /* never the sealed bytes: the parsed key is what is kept */
    e->meta = len_opt(ver->public_jwk) + len_opt(ver->tags_json) + len_opt(ver->release_policy) <=
              CF_KCACHE_MAX_META;
    if (e->meta) {
        e->ver.public_jwk = dup_opt(ver->public_jwk, &ok);
        e->ver.tags_json = dup_opt(ver->tags_json, &ok);
        e->ver.release_policy = dup_opt(ver->release_policy, &ok);
    }
    if (!ok) {
        ent_free(e);
        return CF_ENOMEM;
    }
    e->key = key; /* only now: on failure the caller still owns key */
    *out = e;
    return CF_OK;
}

/* Whether e is (vault_id, name_lc) at version ("" = the latest when read). */
static bool ent_matches(const struct cf_kcache_ent *e, int64_t vault_id, const char *name_lc,
                        const char *version)
{
    if (!e || e->vault_id != vault_id || strcmp(e->obj.name_lc, name_lc) != 0)
        return false;
    return version[0] ? strcmp(e->ver.version, version) == 0 : e->ver.seq == e->obj.latest_seq;
}

struct cf_kcache_ent *cf_kcache_get(struct cf_kcache *c, int64_t vault_id, const char *name_lc,
                                    const char *version, enum cf_kcache_want want, uint64_t *gen)
{
    struct kset *s = &c->sets[name_hash(vault_id, name_lc) & (c->nsets - 1)];
    struct cf_kcache_ent *hit = NULL;

    pthread_mutex_lock(&s->mu);
    *gen = s->gen;
    for (size_t w = 0; w < WAYS; w++) {
        struct cf_kcache_ent *e = s->way[w];
        if (!ent_matches(e, vault_id, name_lc, version))
            continue;
        if ((want == CF_KCACHE_KEY && !e->key) || (want == CF_KCACHE_META && !e->meta))
            break; /* the one entry of that version cannot serve this caller */
        hit = ent_ref(e);
        s->used[w] = ++s->tick;
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

/* Whether cached entry a serves everything b would (same version). */
static bool covers(const struct cf_kcache_ent *a, const struct cf_kcache_ent *b)
{
    return (a->key || !b->key) && (a->meta || !b->meta) && a->obj.latest_seq == b->obj.latest_seq;
}

void cf_kcache_put(struct cf_kcache *c, uint64_t gen, struct cf_kcache_ent *e)
{
    struct kset *s = &c->sets[name_hash(e->vault_id, e->obj.name_lc) & (c->nsets - 1)];
    struct cf_kcache_ent *old = NULL;
    size_t slot = WAYS;

    if (!e->key && !e->meta)
        return; /* serves nobody */
    pthread_mutex_lock(&s->mu);
    if (s->gen != gen)
        goto unlock; /* a write to the name (or its vault) committed since e was read */
    for (size_t w = 0; w < WAYS; w++) {
        struct cf_kcache_ent *x = s->way[w];
        if (x && x->vault_id == e->vault_id && strcmp(x->obj.name_lc, e->obj.name_lc) == 0 &&
            strcmp(x->ver.version, e->ver.version) == 0) {
            if (covers(x, e))
                goto unlock; /* a racing reader cached as much already */
            slot = w;        /* replace the poorer entry of the same version */
            break;
        }
    }
    for (size_t w = 0; slot == WAYS && w < WAYS; w++)
        if (!s->way[w])
            slot = w;
    if (slot == WAYS) { /* full: the least recently used way goes */
        slot = 0;
        for (size_t w = 1; w < WAYS; w++)
            if (s->used[w] < s->used[slot])
                slot = w;
    }
    old = s->way[slot];
    s->way[slot] = ent_ref(e);
    s->used[slot] = ++s->tick;
unlock:
    pthread_mutex_unlock(&s->mu);
    cf_kcache_unref(old); /* outside the lock: a last reference frees the key */
}

void cf_kcache_forget(struct cf_kcache *c, int64_t vault_id, const char *name_lc)
{
    struct kset *s = &c->sets[name_hash(vault_id, name_lc) & (c->nsets - 1)];
    struct cf_kcache_ent *gone[WAYS] = {NULL};

    pthread_mutex_lock(&s->mu);
    s->gen++;
    for (size_t w = 0; w < WAYS; w++) {
        struct cf_kcache_ent *x = s->way[w];
        if (x && x->vault_id == vault_id && strcmp(x->obj.name_lc, name_lc) == 0) {
            gone[w] = x;
            s->way[w] = NULL;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t w = 0; w < WAYS; w++)
        cf_kcache_unref(gone[w]);
}

void cf_kcache_drop_vault(struct cf_kcache *c, const char *vault_lc)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsets; i++) {
        struct kset *s = &c->sets[i];
        struct cf_kcache_ent *gone[WAYS] = {NULL};

        pthread_mutex_lock(&s->mu);
        s->gen++;
        for (size_t w = 0; w < WAYS; w++) {
            struct cf_kcache_ent *x = s->way[w];
            if (x && strcmp(x->vault_lc, vault_lc) == 0) {
                gone[w] = x;
                s->way[w] = NULL;
            }
        }
        pthread_mutex_unlock(&s->mu);
        for (size_t w = 0; w < WAYS; w++)
            cf_kcache_unref(gone[w]);
    }
}

size_t cf_kcache_count(struct cf_kcache *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nsets; i++) {
        pthread_mutex_lock(&c->sets[i].mu);
        for (size_t w = 0; w < WAYS; w++)
            n += c->sets[i].way[w] != NULL;
        pthread_mutex_unlock(&c->sets[i].mu);
    }
    return n;
}

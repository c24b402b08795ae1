/* scache.c - a bounded cache of the latest version of live secrets, so the hot path (GET a
 * secret) is served without a store transaction. It holds what the store holds - metadata and
 * the SEALED value - never plaintext; a hit still opens the value with the vault's data key.
 *
 * Shape: a direct-mapped table of slots keyed by (vault id, lower-case name); a colliding insert
 * replaces the slot. Slots are guarded by striped mutexes, each stripe with a generation.
 *
 * Invariant (the same one as the vault cache, vault_int.h): every write to a secret name calls
 * cf_scache_forget AFTER its transaction committed, which bumps the stripe's generation and
 * drops the slot. A reader that missed remembers the generation before its store read and
 * inserts only if it is unchanged, so a row read before a racing commit is never cached after
 * the invalidation. Read-after-write holds because the writer's response is sent after forget.
 * (Many nodes on one PostgreSQL will need the same forget driven by NOTIFY: DESIGN.md §8.) */
#include "base/cf.h"
#include "base/secret.h"

#include "vault/vault_int.h"

#define STRIPES 64
/* Values larger than this (sealed) are not cached: the cache's memory stays bounded by
 * slots x (CF_SCACHE_MAX_VALUE + metadata). */
#define CF_SCACHE_MAX_VALUE 4096

struct slot {
    bool used;
    struct cf_rec_secret_obj obj;
    struct cf_rec_secret_ver ver; /* owns its strings and the sealed value */
};

struct stripe {
    pthread_mutex_t mu;
    uint64_t gen;
};

struct cf_scache {
    size_t nslots; /* power of two */
    struct slot *slots;
    struct stripe stripes[STRIPES];
};

static uint64_t key_hash(int64_t vault_id, const char *name_lc)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)vault_id;
    for (const unsigned char *p = (const unsigned char *)name_lc; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

struct cf_scache *cf_scache_new(size_t slots)
{
    struct cf_scache *c = calloc(1, sizeof(*c));
    size_t n = 64;
    if (!c)
        return NULL;
    while (n < slots)
        n <<= 1;
    c->nslots = n;
    c->slots = calloc(n, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->stripes[i].mu, NULL);
    return c;
}

static void slot_clear(struct slot *s)
{
    if (!s->used)
        return;
    cf_rec_secret_ver_release(&s->ver);
    memset(s, 0, sizeof(*s));
}

void cf_scache_free(struct cf_scache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nslots; i++)
        slot_clear(&c->slots[i]);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->stripes[i].mu);
    free(c->slots);
    free(c);
}

static char *dup_or_null(const char *s, bool *ok)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

/* Copies a cached version out: strings duplicated, sealed value appended to out->value (which
 * the caller initialised). False on allocation failure (treated as a miss). */
static bool copy_ver(const struct cf_rec_secret_ver *in, bool want_value,
                     struct cf_rec_secret_ver *out)
{
    struct cf_buf value = out->value;
    bool ok = true;

    *out = *in;
    out->value = value;
    out->content_type = dup_or_null(in->content_type, &ok);
    out->tags_json = dup_or_null(in->tags_json, &ok);
    if (ok && want_value && cf_buf_append(&out->value, in->value.data, in->value.len) != CF_OK)
        ok = false;
    if (!ok)
        cf_rec_secret_ver_release(out);
    return ok;
}

bool cf_scache_get(struct cf_scache *c, int64_t vault_id, const char *name_lc,
                   const char *version, bool want_value, struct cf_rec_secret_obj *obj,
                   struct cf_rec_secret_ver *ver, uint64_t *gen)
{
    uint64_t h = key_hash(vault_id, name_lc);
    struct stripe *st = &c->stripes[h % STRIPES];
    struct slot *s = &c->slots[h & (c->nslots - 1)];
    bool hit = false;

    pthread_mutex_lock(&st->mu);
    *gen = st->gen;
    if (s->used && s->obj.vault_id == vault_id && strcmp(s->obj.name_lc, name_lc) == 0 &&
        (version[0] == '\0' || strcmp(version, s->ver.version) == 0)) {
        *obj = s->obj;
        hit = copy_ver(&s->ver, want_value, ver);
    }
    pthread_mutex_unlock(&st->mu);
    return hit;
}

void cf_scache_put(struct cf_scache *c, uint64_t gen, const struct cf_rec_secret_obj *obj,
                   const struct cf_rec_secret_ver *ver)
{
    uint64_t h = key_hash(obj->vault_id, obj->name_lc);
    struct stripe *st = &c->stripes[h % STRIPES];
    struct slot *s = &c->slots[h & (c->nslots - 1)];
    struct slot fresh;

    /* Only a live object's latest version, with its sealed value, small enough. */
    if (obj->deleted_date != 0 || ver->seq != obj->latest_seq || ver->value.len == 0 ||
        ver->value.len > CF_SCACHE_MAX_VALUE)
        return;
    memset(&fresh, 0, sizeof(fresh));
    fresh.used = true;
    fresh.obj = *obj;
    cf_buf_init(&fresh.ver.value, CF_SCACHE_MAX_VALUE);
    if (!copy_ver(ver, true, &fresh.ver))
        return;
    pthread_mutex_lock(&st->mu);
    if (st->gen == gen) {
        slot_clear(s);
        *s = fresh;
        fresh.used = false;
    }
    pthread_mutex_unlock(&st->mu);
    if (fresh.used)
        cf_rec_secret_ver_release(&fresh.ver);
}

void cf_scache_forget(struct cf_scache *c, int64_t vault_id, const char *name_lc)
{
    uint64_t h = key_hash(vault_id, name_lc);
    struct stripe *st = &c->stripes[h % STRIPES];
    struct slot *s = &c->slots[h & (c->nslots - 1)];

    pthread_mutex_lock(&st->mu);
    st->gen++;
    if (s->used && s->obj.vault_id == vault_id && strcmp(s->obj.name_lc, name_lc) == 0)
        slot_clear(s);
    pthread_mutex_unlock(&st->mu);
}

/* svc.c - the vault service object: master key and backup key, the name -> vault cache with
 * each vault's unwrapped data key, cf_vault_resolve (the per-request hot path), data-key
 * wrapping and unwrapping, the derivation root and master-key rotation (cf_vault_svc_rewrap),
 * and small helpers shared by the other files.
 *
 * Also owns the key cache (kcache.c), emptied of a vault's keys whenever its entry goes.
 *
 * The cache is a fixed hash table of chained entries under a rwlock: a hit takes the read lock,
 * copies the ref (or the key) out, and allocates nothing. Misses read the store and insert under
 * the write lock following the generation rule in vault_int.h. */
#include "base/cf.h"
#include "base/log.h"

#include "vault/vault_int.h"

static const char backup_info[] = "coffer backup v1";

int64_t cf_vault_now(const struct cf_vault_svc *svc)
{
    int64_t now = cf_clock_s(svc->clock);
    return now > 0 ? now : 1;
}

struct cf_vault_svc *cf_vault_svc_new(struct cf_store *store, const struct cf_clock *clock,
                                      const unsigned char master_key[32], cf_err *err)
{
    return cf_vault_svc_new_rooted(store, clock, master_key, master_key, err);
}

struct cf_vault_svc *cf_vault_svc_new_rooted(struct cf_store *store, const struct cf_clock *clock,
                                             const unsigned char master_key[32],
                                             const unsigned char derive_root[32], cf_err *err)
{
    struct cf_vault_svc *svc;
    cf_err e;

    if (!store || !clock || !clock->now_ms || !master_key || !derive_root) {
        *err = CF_EINVAL;
        return NULL;
    }
    svc = calloc(1, sizeof(*svc));
    if (!svc) {
        *err = CF_ENOMEM;
        return NULL;
    }
    svc->store = store;
    svc->clock = clock;
    memcpy(svc->master_key, master_key, sizeof(svc->master_key));
    /* from the root, not the master key: backups outlive master-key rotations */
    e = cf_hkdf_sha256(derive_root, 32, NULL, 0, backup_info, sizeof(backup_info) - 1,
                       svc->backup_key, sizeof(svc->backup_key));
    if (e) {
        cf_wipe(svc, sizeof(*svc));
        free(svc);
        *err = e;
        return NULL;
    }
    svc->scache = cf_scache_new(CF_SCACHE_SLOTS);
    svc->kcache = cf_kcache_new(CF_KCACHE_ENTRIES);
    if (!svc->scache || !svc->kcache || pthread_rwlock_init(&svc->lock, NULL) != 0 ||
        pthread_mutex_init(&svc->rotate_mu, NULL) != 0 ||
        pthread_mutex_init(&svc->verid_mu, NULL) != 0) {
        cf_scache_free(svc->scache);
        cf_kcache_free(svc->kcache);
        cf_wipe(svc, sizeof(*svc));
        free(svc);
        *err = CF_EINTERNAL;
        return NULL;
    }
    *err = CF_OK;
    return svc;
}

static void entry_free(struct cf_vault_cache_entry *ent)
{
    cf_vault_guard_free(ent->guard);
    cf_wipe(ent, sizeof(*ent));
    free(ent);
}

void cf_vault_svc_free(struct cf_vault_svc *svc)
{
    if (!svc)
        return;
    for (size_t i = 0; i < CF_VAULT_CACHE_BUCKETS; i++) {
        struct cf_vault_cache_entry *ent = svc->buckets[i], *next;
        for (; ent; ent = next) {
            next = ent->next;
            entry_free(ent);
        }
    }
    pthread_rwlock_destroy(&svc->lock);
    pthread_mutex_destroy(&svc->rotate_mu);
    pthread_mutex_destroy(&svc->verid_mu);
    cf_scache_free(svc->scache);
    cf_kcache_free(svc->kcache);
    cf_wipe(svc, sizeof(*svc));
    free(svc);
}

/* ---------------- cache ---------------- */

static size_t bucket_of(const char *name_lc)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *name_lc; name_lc++)
        h = (h ^ (unsigned char)*name_lc) * 16777619u;
    return h % CF_VAULT_CACHE_BUCKETS;
}

/* Caller holds the lock (either mode). */
static struct cf_vault_cache_entry *cache_find(struct cf_vault_svc *svc, const char *name_lc)
{
    struct cf_vault_cache_entry *ent = svc->buckets[bucket_of(name_lc)];
    for (; ent; ent = ent->next) {
        if (strcmp(ent->name_lc, name_lc) == 0)
            return ent;
    }
    return NULL;
}

void cf_vault_cache_invalidate(struct cf_vault_svc *svc, const char *name_lc)
{
    struct cf_vault_cache_entry **pp, *ent;

    pthread_rwlock_wrlock(&svc->lock);
    for (pp = &svc->buckets[bucket_of(name_lc)]; (ent = *pp) != NULL; pp = &ent->next) {
        if (strcmp(ent->name_lc, name_lc) == 0) {
            *pp = ent->next;
            entry_free(ent);
            break;
        }
    }
    svc->gen++;
    pthread_rwlock_unlock(&svc->lock);
    /* the data key is gone from memory: so are the keys opened with it (kcache.c) */
    cf_kcache_drop_vault(svc->kcache, name_lc);
}

/* Inserts a new entry (allocated by the caller) unless the generation moved or the name is
 * present (then only a missing data key is filled in); takes ownership of ent either way. */
static void cache_insert(struct cf_vault_svc *svc, struct cf_vault_cache_entry *ent, uint64_t gen)
{
    struct cf_vault_cache_entry *cur;
    size_t b = bucket_of(ent->name_lc);

    pthread_rwlock_wrlock(&svc->lock);
    cur = cache_find(svc, ent->name_lc);
    if (svc->gen == gen && !cur) {
        ent->next = svc->buckets[b];
        svc->buckets[b] = ent;
        ent = NULL;
    } else if (svc->gen == gen && cur && cur->ref.id == ent->ref.id && ent->dek_ready &&
               !cur->dek_ready) {
        memcpy(cur->dek, ent->dek, sizeof(cur->dek));
        cur->dek_ready = true;
    }
    pthread_rwlock_unlock(&svc->lock);
    if (ent)
        entry_free(ent);
}

static void ref_from_rec(struct cf_vault_ref *ref, const struct cf_rec_vault *r)
{
    memset(ref, 0, sizeof(*ref));
    ref->id = r->id;
    snprintf(ref->name, sizeof(ref->name), "%s", r->name);
    snprintf(ref->tenant_id, sizeof(ref->tenant_id), "%s", r->tenant_id);
    ref->retention_days = r->retention_days;
    ref->purge_protection = r->purge_protection;
    ref->rbac = r->rbac;
    snprintf(ref->scope, sizeof(ref->scope),
             "/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s",
             r->subscription, r->resource_group, r->name);
    for (char *c = ref->scope; *c; c++)
        *c = (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c);
}

struct load_ctx {
    const char *name_lc; /* by name, or */
    int64_t id;          /* by id */
    struct cf_rec_vault rec;
};

static cf_err load_fn(struct cf_store_txn *t, void *arg)
{
    struct load_ctx *c = arg;
    cf_err e = c->name_lc ? cf_store_vault_get_by_name(t, c->name_lc, &c->rec)
                          : cf_store_vault_get_by_id(t, c->id, &c->rec);
    if (!e && c->rec.deleted_date != 0) {
        cf_rec_vault_release(&c->rec);
        e = CF_ENOTFOUND;
    }
    return e;
}

static void lower(const char *in, char *out, size_t outsz)
{
    struct cf_str s = cf_str_from(in);
    if (s.len >= outsz)
        s.len = outsz - 1;
    cf_str_lower(s, out);
}

cf_err cf_vault_resolve(struct cf_vault_svc *svc, struct cf_str name, struct cf_vault_ref *out)
{
    char name_lc[CF_VAULT_NAME_MAX + 1];
    struct cf_vault_cache_entry *ent;
    struct load_ctx c;
    uint64_t gen;
    cf_err e;

    if (!name.p || name.len < 1 || name.len > CF_VAULT_NAME_MAX)
        return CF_ENOTFOUND;
    cf_str_lower(name, name_lc);
    pthread_rwlock_rdlock(&svc->lock);
    ent = cache_find(svc, name_lc);
    if (ent)
        *out = ent->ref;
    gen = svc->gen;
    pthread_rwlock_unlock(&svc->lock);
    if (ent)
        return CF_OK;

    memset(&c, 0, sizeof(c));
    c.name_lc = name_lc;
    e = cf_store_read(svc->store, load_fn, &c);
    if (e)
        return e;
    ref_from_rec(out, &c.rec);
    ent = calloc(1, sizeof(*ent));
    /* caching is an optimisation: without memory we still answer (the checks below then
     * compile the rules per request) */
    /* Without compiled rules, assume restricted: the network check then compiles them. */
    out->net_restricted = true;
    if (ent && cf_vault_guard_compile(&c.rec, &ent->guard) == CF_OK) {
        out->net_restricted = cf_vault_guard_net_restricted(ent->guard);
        memcpy(ent->name_lc, name_lc, sizeof(ent->name_lc));
        ent->ref = *out;
        cache_insert(svc, ent, gen);
    } else {
        free(ent);
    }
    cf_rec_vault_release(&c.rec);
    return CF_OK;
}

/* Runs fn on the compiled rules of the live vault v: the cached ones under the read lock, or
 * (not cached) ones compiled from a fresh read. CF_ENOTFOUND when the vault is gone. */
static cf_err with_guard(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         void (*fn)(const struct cf_vault_guard *g, void *arg), void *arg)
{
    char name_lc[CF_VAULT_NAME_MAX + 1];
    struct cf_vault_cache_entry *ent;
    struct cf_vault_guard *g = NULL;
    struct load_ctx c;
    cf_err e;

    lower(v->name, name_lc, sizeof(name_lc));
    pthread_rwlock_rdlock(&svc->lock);
    ent = cache_find(svc, name_lc);
    if (ent && ent->ref.id == v->id && ent->guard) {
        fn(ent->guard, arg);
        pthread_rwlock_unlock(&svc->lock);
        return CF_OK;
    }
    pthread_rwlock_unlock(&svc->lock);
    memset(&c, 0, sizeof(c));
    c.id = v->id;
    e = cf_store_read(svc->store, load_fn, &c);
    if (e)
        return e;
    e = cf_vault_guard_compile(&c.rec, &g);
    cf_rec_vault_release(&c.rec);
    if (e)
        return e;
    fn(g, arg);
    cf_vault_guard_free(g);
    return CF_OK;
}

struct net_arg {
    const char *ip;
    enum cf_vault_net out;
};

static void net_fn(const struct cf_vault_guard *g, void *arg)
{
    struct net_arg *a = arg;
    a->out = cf_vault_guard_net(g, a->ip);
}

cf_err cf_vault_check_network(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                              const char *ip, enum cf_vault_net *out)
{
    struct net_arg a = {.ip = ip, .out = CF_VAULT_NET_FIREWALL};
    cf_err e = with_guard(svc, v, net_fn, &a);
    *out = e ? CF_VAULT_NET_FIREWALL : a.out;
    return e;
}

struct policy_arg {
    const struct cf_vault_caller *caller;
    const char *permission;
    bool allowed;
};

static void policy_fn(const struct cf_vault_guard *g, void *arg)
{
    struct policy_arg *a = arg;
    a->allowed = cf_vault_guard_policy(g, a->caller, a->permission);
}

cf_err cf_vault_check_policy(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             const struct cf_vault_caller *c, const char *permission, bool *allowed)
{
    struct policy_arg a = {.caller = c, .permission = permission};
    cf_err e = with_guard(svc, v, policy_fn, &a);
    *allowed = !e && a.allowed;
    return e;
}

/* ---------------- data keys ---------------- */

static size_t dek_aad(char out[32], int64_t vault_id)
{
    int n;
    memcpy(out, "dek", 4); /* includes the NUL separator */
    n = snprintf(out + 4, 28, "%lld", (long long)vault_id);
    return 4 + (size_t)n;
}

/* Copies the wrapping keys out under the lock: master (always), other (when *has_other) and
 * the epoch. */
static uint64_t keys_snapshot(struct cf_vault_svc *svc, unsigned char master[32],
                              unsigned char other[32], bool *has_other)
{
    uint64_t epoch;

    pthread_rwlock_rdlock(&svc->lock);
    memcpy(master, svc->master_key, 32);
    *has_other = svc->other_ready;
    if (svc->other_ready)
        memcpy(other, svc->other_key, 32);
    epoch = svc->key_epoch;
    pthread_rwlock_unlock(&svc->lock);
    return epoch;
}

static uint64_t key_epoch(struct cf_vault_svc *svc)
{
    uint64_t epoch;
    pthread_rwlock_rdlock(&svc->lock);
    epoch = svc->key_epoch;
    pthread_rwlock_unlock(&svc->lock);
    return epoch;
}

/* Called inside the store write that inserts the vault, i.e. on the writer thread: a rotation's
 * re-wrap runs on the same thread, so this sees the master key of its place in the write order
 * (the rotation re-wraps the rows written before it; rows written after it use the new key). */
cf_err cf_vault_dek_new(struct cf_vault_svc *svc, int64_t vault_id, struct cf_buf *out)
{
    unsigned char dek[CF_AEAD_KEY_LEN], mk[32], unused[32];
    char aad[32];
    size_t aadlen = dek_aad(aad, vault_id);
    bool has_other;
    cf_err e;

    keys_snapshot(svc, mk, unused, &has_other);
    e = cf_random(dek, sizeof(dek));
    if (!e)
        e = cf_aead_seal(mk, aad, aadlen, dek, sizeof(dek), out);
    cf_wipe(dek, sizeof(dek));
    cf_wipe(mk, sizeof(mk));
    cf_wipe(unused, sizeof(unused));
    return e;
}

/* Opens a stored data key under master, else (has_other) other. */
static cf_err dek_open(const unsigned char master[32], const unsigned char other[32],
                       bool has_other, int64_t vault_id, const struct cf_buf *sealed,
                       struct cf_secret **key)
{
    char aad[32];
    size_t aadlen = dek_aad(aad, vault_id);
    cf_err e = cf_aead_open(master, aad, aadlen, sealed->data, sealed->len, key);

    if (e == CF_ECORRUPT && has_other)
        e = cf_aead_open(other, aad, aadlen, sealed->data, sealed->len, key);
    if (!e && (*key)->len != CF_AEAD_KEY_LEN) {
        cf_secret_free(*key);
        *key = NULL;
        e = CF_ECORRUPT;
    }
    return e;
}

cf_err cf_vault_dek_txn(struct cf_store_txn *t, struct cf_vault_svc *svc, int64_t vault_id,
                        unsigned char dek[CF_AEAD_KEY_LEN])
{
    unsigned char mk[32], other[32];
    struct cf_rec_vault rec;
    struct cf_secret *key = NULL;
    bool has_other = false;
    cf_err e;

    memset(&rec, 0, sizeof(rec));
    /* inside a write the keys cannot change under us: rotations run on the same thread */
    keys_snapshot(svc, mk, other, &has_other);
    e = cf_store_vault_get_by_id(t, vault_id, &rec);
    if (!e)
        e = dek_open(mk, other, has_other, vault_id, &rec.dek, &key);
    if (!e)
        memcpy(dek, key->p, CF_AEAD_KEY_LEN);
    cf_secret_free(key);
    cf_rec_vault_release(&rec);
    cf_wipe(mk, sizeof(mk));
    cf_wipe(other, sizeof(other));
    return e;
}

cf_err cf_vault_dek(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                    unsigned char dek[CF_AEAD_KEY_LEN])
{
    char name_lc[CF_VAULT_NAME_MAX + 1];
    unsigned char mk[32], other[32];
    struct cf_vault_cache_entry *ent;
    struct cf_secret *key = NULL;
    struct load_ctx c;
    bool hit = false, has_other = false;
    uint64_t gen, epoch;
    cf_err e;

    lower(v->name, name_lc, sizeof(name_lc));
    pthread_rwlock_rdlock(&svc->lock);
    ent = cache_find(svc, name_lc);
    if (ent && ent->ref.id == v->id && ent->dek_ready) {
        memcpy(dek, ent->dek, CF_AEAD_KEY_LEN);
        hit = true;
    }
    gen = svc->gen;
    pthread_rwlock_unlock(&svc->lock);
    if (hit)
        return CF_OK;

    /* A rotation may swap the wrapping key between our snapshot and our read: the row then
     * opens under neither key we hold, but the epoch moved, so read again (a rotation's window
     * holds both keys, so one retry per rotation is enough; bounded anyway). */
    for (int attempt = 0;; attempt++) {
        epoch = keys_snapshot(svc, mk, other, &has_other);
        memset(&c, 0, sizeof(c));
        c.id = v->id;
        e = cf_store_read(svc->store, load_fn, &c);
        if (e)
            goto wipe;
        e = dek_open(mk, other, has_other, v->id, &c.rec.dek, &key);
        if (e != CF_ECORRUPT || attempt >= 4 || key_epoch(svc) == epoch)
            break;
        cf_rec_vault_release(&c.rec);
    }
    if (e) {
        cf_error("vault: data key of vault %lld does not unwrap", (long long)v->id);
        goto out;
    }
    memcpy(dek, key->p, CF_AEAD_KEY_LEN);
    ent = calloc(1, sizeof(*ent));
    if (ent) {
        lower(c.rec.name, ent->name_lc, sizeof(ent->name_lc));
        ref_from_rec(&ent->ref, &c.rec);
        memcpy(ent->dek, key->p, CF_AEAD_KEY_LEN);
        ent->dek_ready = true;
        cache_insert(svc, ent, gen);
    }

out:
    cf_secret_free(key);
    cf_rec_vault_release(&c.rec);
wipe:
    cf_wipe(mk, sizeof(mk));
    cf_wipe(other, sizeof(other));
    return e;
}

/* ---------------- the derivation root ---------------- */

/* Meta entries only a store that has served before holds (auth and audit keys sealed under
 * keys derived from the master key, the subscription id). */
static const char *const used_store_meta[] = {"auth.signing_key", "audit.signing_key",
                                              "server.subscription"};

struct root_ctx {
    const unsigned char *master;
    unsigned char *root;
    bool random, made, legacy;
};

static cf_err any_vault_cb(const struct cf_rec_vault *v, void *arg)
{
    (void)v;
    *(bool *)arg = true;
    return CF_EEXISTS; /* one is enough: stop the walk */
}

/* Whether the store has been used without a derivation root (then the root is the master key). */
static cf_err store_used(struct cf_store_txn *t, bool *used)
{
    struct cf_buf b;
    cf_err e = CF_OK;

    *used = false;
    cf_buf_init(&b, 1 << 20);
    for (size_t i = 0; !e && !*used && i < CF_ARRAY_LEN(used_store_meta); i++) {
        cf_buf_reset(&b);
        e = cf_store_meta_get(t, used_store_meta[i], &b);
        if (e == CF_OK)
            *used = true;
        else if (e == CF_ENOTFOUND)
            e = CF_OK;
    }
    cf_buf_release(&b);
    for (int deleted = 0; !e && !*used && deleted < 2; deleted++) {
        e = cf_store_vault_list(t, deleted != 0, NULL, NULL, any_vault_cb, used);
        if (e == CF_EEXISTS && *used)
            e = CF_OK;
    }
    return e;
}

static cf_err root_fn(struct cf_store_txn *t, void *arg)
{
    static const char aad[] = CF_VAULT_DERIVE_ROOT_AAD;
    struct root_ctx *c = arg;
    struct cf_secret *pt = NULL;
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 256);
    e = cf_store_meta_get(t, CF_VAULT_META_DERIVE_ROOT, &b);
    if (e == CF_OK) {
        e = cf_aead_open(c->master, aad, sizeof(aad) - 1, b.data, b.len, &pt);
        if (!e && pt->len != 32)
            e = CF_ECORRUPT;
        if (!e)
            memcpy(c->root, pt->p, 32);
        else
            cf_error("vault: the derivation root (meta %s) does not open under this master key; "
                     "was the store re-wrapped under another one?",
                     CF_VAULT_META_DERIVE_ROOT);
        goto out;
    }
    if (e != CF_ENOTFOUND || (e = store_used(t, &c->legacy)))
        goto out;
    if (c->legacy || !c->random)
        memcpy(c->root, c->master, 32);
    else if ((e = cf_random(c->root, 32)))
        goto out;
    cf_buf_reset(&b);
    if (!(e = cf_aead_seal(c->master, aad, sizeof(aad) - 1, c->root, 32, &b)))
        e = cf_store_meta_put(t, CF_VAULT_META_DERIVE_ROOT, b.data, b.len);
    c->made = !e;
out:
    cf_secret_free(pt);
    cf_buf_release(&b);
    return e;
}

cf_err cf_vault_derive_root(struct cf_store *store, const unsigned char master_key[32],
                            bool random_root, unsigned char root[32])
{
    struct root_ctx c = {.master = master_key, .root = root, .random = random_root};
    cf_err e;

    if (!store || !master_key || !root)
        return CF_EINVAL;
    e = cf_store_write(store, root_fn, &c);
    if (e)
        cf_wipe(root, 32);
    else if (c.made)
        cf_info("vault: derivation root created (%s)",
                c.legacy    ? "the current master key: this store predates it"
                : !c.random ? "the master key"
                            : "random");
    return e;
}

struct root_probe {
    const unsigned char *key;
    bool opens;
};

static cf_err root_probe_fn(struct cf_store_txn *t, void *arg)
{
    static const char aad[] = CF_VAULT_DERIVE_ROOT_AAD;
    struct root_probe *p = arg;
    struct cf_secret *pt = NULL;
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 256);
    e = cf_store_meta_get(t, CF_VAULT_META_DERIVE_ROOT, &b);
    if (!e) {
        p->opens = cf_aead_open(p->key, aad, sizeof(aad) - 1, b.data, b.len, &pt) == CF_OK &&
                   pt->len == 32;
        cf_secret_free(pt);
    }
    cf_buf_release(&b);
    return e;
}

cf_err cf_vault_root_opens(struct cf_store *store, const unsigned char key[32], bool *opens)
{
    struct root_probe p = {.key = key};
    cf_err e;

    if (!store || !key || !opens)
        return CF_EINVAL;
    e = cf_store_read(store, root_probe_fn, &p);
    *opens = !e && p.opens;
    return e;
}

/* ---------------- master-key rotation ---------------- */

struct rewrap_row {
    int64_t id;
    struct cf_buf dek;
};

struct rewrap_ctx {
    struct cf_vault_svc *svc;
    const unsigned char *target, *from; /* wrap everything under target; rows now under from */
    struct rewrap_row *rows;
    size_t n, cap, moved;
    bool swapped; /* the fn ran to its end and the service now wraps under target */
};

static void rows_release(struct rewrap_ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        cf_buf_release(&c->rows[i].dek);
    free(c->rows);
    c->rows = NULL;
    c->n = c->cap = 0;
}

static cf_err collect_cb(const struct cf_rec_vault *v, void *arg)
{
    struct rewrap_ctx *c = arg;
    struct rewrap_row *r;

    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct rewrap_row *p = realloc(c->rows, cap * sizeof(*p));
        if (!p)
            return CF_ENOMEM;
        c->rows = p;
        c->cap = cap;
    }
    r = &c->rows[c->n];
    r->id = v->id;
    cf_buf_init(&r->dek, v->dek.len + 1);
    if (cf_buf_append(&r->dek, v->dek.data, v->dek.len) != CF_OK) {
        cf_buf_release(&r->dek);
        return CF_ENOMEM;
    }
    c->n++;
    return CF_OK;
}

/* Re-seals one blob from c->from to c->target (AAD kept). *changed false when it already opens
 * under target (a vault made after an interrupted attempt, or an undo of an undo). */
static cf_err reseal(const struct rewrap_ctx *c, const void *aad, size_t aadlen,
                     const struct cf_buf *in, struct cf_buf *out, bool *changed)
{
    struct cf_secret *pt = NULL;
    cf_err e = cf_aead_open(c->target, aad, aadlen, in->data, in->len, &pt);

    *changed = false;
    if (e == CF_OK)
        goto out;
    if ((e = cf_aead_open(c->from, aad, aadlen, in->data, in->len, &pt)))
        goto out;
    e = cf_aead_seal(c->target, aad, aadlen, pt->p, pt->len, out);
    *changed = !e;
out:
    cf_secret_free(pt);
    return e;
}

/* The one store write of a rotation (on the writer thread). Any error returns before the swap
 * and the store rolls the job's changes back: nothing changed. */
static cf_err rewrap_fn(struct cf_store_txn *t, void *arg)
{
    static const char root_aad[] = CF_VAULT_DERIVE_ROOT_AAD;
    struct rewrap_ctx *c = arg;
    struct cf_vault_svc *svc = c->svc;
    struct cf_buf in, out;
    char aad[32];
    bool changed;
    cf_err e = CF_OK;

    cf_buf_init(&in, 256);
    cf_buf_init(&out, 256);
    c->moved = 0;
    for (int deleted = 0; !e && deleted < 2; deleted++)
        e = cf_store_vault_list(t, deleted != 0, NULL, NULL, collect_cb, c);
    for (size_t i = 0; !e && i < c->n; i++) {
        cf_buf_reset(&out);
        e = reseal(c, aad, dek_aad(aad, c->rows[i].id), &c->rows[i].dek, &out, &changed);
        if (e == CF_ECORRUPT)
            cf_error("vault: the data key of vault %lld opens under neither master key: "
                     "rotation refused, nothing changed",
                     (long long)c->rows[i].id);
        if (!e && changed) {
            e = cf_store_vault_set_dek(t, c->rows[i].id, out.data, out.len);
            c->moved++;
        }
    }
    if (!e) {
        e = cf_store_meta_get(t, CF_VAULT_META_DERIVE_ROOT, &in);
        if (e == CF_OK) {
            cf_buf_reset(&out);
            e = reseal(c, root_aad, sizeof(root_aad) - 1, &in, &out, &changed);
            if (e == CF_ECORRUPT)
                cf_error("vault: the derivation root opens under neither master key: rotation "
                         "refused, nothing changed");
            if (!e && changed)
                e = cf_store_meta_put(t, CF_VAULT_META_DERIVE_ROOT, out.data, out.len);
        } else if (e == CF_ENOTFOUND) {
            e = CF_OK; /* a service without a stored root (cf_vault_svc_new) */
        }
    }
    if (!e) {
        /* From here on this thread - the store's one writer - wraps new data keys under
         * target: rows written before this point were re-wrapped above, rows written after it
         * use target. Readers accept both until the outcome is known. */
        pthread_rwlock_wrlock(&svc->lock);
        memcpy(svc->other_key, c->from, 32);
        memcpy(svc->master_key, c->target, 32);
        svc->other_ready = true;
        svc->key_epoch++;
        pthread_rwlock_unlock(&svc->lock);
        c->swapped = true;
    }
    rows_release(c);
    cf_buf_release(&in);
    cf_buf_release(&out);
    return e;
}

/* One store write wrapping everything under target; *swapped tells whether the service
 * switched to target (even when the commit then failed). */
static cf_err rewrap_to(struct cf_vault_svc *svc, const unsigned char target[32],
                        const unsigned char from[32], bool *swapped, size_t *moved)
{
    struct rewrap_ctx c = {.svc = svc, .target = target, .from = from};
    cf_err e = cf_store_write(svc->store, rewrap_fn, &c);

    rows_release(&c); /* the fn released them; a job never run left nothing either */
    *swapped = c.swapped;
    *moved = c.moved;
    return e;
}

/* Ends a rotation's window: only master_key wraps from now on. */
static void window_close(struct cf_vault_svc *svc)
{
    pthread_rwlock_wrlock(&svc->lock);
    cf_wipe(svc->other_key, sizeof(svc->other_key));
    svc->other_ready = false;
    svc->key_epoch++;
    pthread_rwlock_unlock(&svc->lock);
}

cf_err cf_vault_svc_rewrap(struct cf_vault_svc *svc, const unsigned char old_master[32],
                           const unsigned char new_master[32])
{
    bool match, busy, swapped = false, back = false;
    size_t moved = 0, unused = 0;
    cf_err e, u = CF_ESTORE;

    if (!svc || !old_master || !new_master)
        return CF_EINVAL;
    pthread_mutex_lock(&svc->rotate_mu);
    pthread_rwlock_rdlock(&svc->lock);
    match = cf_ct_eq(svc->master_key, old_master, 32);
    busy = svc->other_ready;
    pthread_rwlock_unlock(&svc->lock);
    if (!match || busy) {
        e = busy ? CF_EBUSY : CF_EINVAL;
        if (busy)
            cf_error("vault: an earlier rotation could not be undone; restart to recover");
        goto unlock;
    }
    e = rewrap_to(svc, new_master, old_master, &swapped, &moved);
    if (!e) {
        window_close(svc);
        cf_info("vault: master-key rotation: %zu data keys re-wrapped", moved);
        goto unlock;
    }
    if (!swapped) /* the fn failed: its savepoint rolled back, nothing changed */
        goto unlock;
    /* The fn ran but the batch did not commit: the store keeps the old wrapping, and writes
     * that came after it may have wrapped new data keys under new_master. Wrap everything back
     * under old_master (readers hold both keys meanwhile). */
    for (int i = 0; i < 3 && u; i++)
        u = rewrap_to(svc, old_master, new_master, &back, &unused);
    if (!u) {
        window_close(svc);
        cf_warn("vault: master-key rotation failed (%s); nothing changed", cf_err_name(e));
    } else {
        cf_error("vault: a failed master-key rotation could not be undone (%s): data keys may be "
                 "wrapped under either key; both stay in memory",
                 cf_err_name(u));
    }
unlock:
    pthread_mutex_unlock(&svc->rotate_mu);
    return e;
}

/* ---------------- helpers for secrets ---------------- */

size_t cf_secret_aad(char out[CF_SECRET_AAD_MAX], int64_t vault_id, const char *name_lc,
                     const char *version)
{
    size_t n = 0, l;
    int k;

    memcpy(out, "secret", 7); /* with its NUL separator */
    n = 7;
    k = snprintf(out + n, 22, "%lld", (long long)vault_id);
    n += (size_t)k + 1; /* keep snprintf's NUL as the separator */
    l = strlen(name_lc);
    memcpy(out + n, name_lc, l + 1);
    n += l + 1;
    l = strlen(version);
    memcpy(out + n, version, l);
    return n + l;
}

void cf_secret_meta_fill(struct cf_secret_meta *m, const struct cf_rec_secret_obj *o,
                         const struct cf_rec_secret_ver *v)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", o->name);
    memcpy(m->version, v->version, sizeof(m->version));
    memcpy(m->prev_version, v->prev_version, sizeof(m->prev_version));
    m->attrs.enabled = v->enabled;
    m->attrs.nbf = v->nbf;
    m->attrs.exp = v->exp;
    m->attrs.created = v->created;
    m->attrs.updated = v->updated;
    m->content_type = v->content_type;
    m->tags_json = v->tags_json;
    m->managed = v->managed;
    memcpy(m->kid, v->kid, sizeof(m->kid));
    m->deleted_date = o->deleted_date;
    m->scheduled_purge = o->scheduled_purge;
}

void cf_secret_meta_take(struct cf_secret_meta *m, const struct cf_rec_secret_obj *o,
                         struct cf_rec_secret_ver *v)
{
    cf_secret_meta_fill(m, o, v);
    v->content_type = NULL;
    v->tags_json = NULL;
}

void cf_secret_meta_release(struct cf_secret_meta *m)
{
    if (!m)
        return;
    free(m->content_type);
    free(m->tags_json);
    m->content_type = m->tags_json = NULL;
}

cf_err cf_secret_name_lc(struct cf_str name, char out[CF_MAX_NAME_LEN + 1])
{
    if (!cf_name_valid_object(name))
        return CF_EBADNAME;
    cf_str_lower(name, out);
    return CF_OK;
}

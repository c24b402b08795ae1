/* svc.c - the vault service object: master key and backup key, the name -> vault cache with
 * each vault's unwrapped data key, cf_vault_resolve (the per-request hot path), data-key
 * wrapping and unwrapping, and small helpers shared by the other files.
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
    struct cf_vault_svc *svc;
    cf_err e;

    if (!store || !clock || !clock->now_ms || !master_key) {
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
    e = cf_hkdf_sha256(master_key, 32, NULL, 0, backup_info, sizeof(backup_info) - 1,
                       svc->backup_key, sizeof(svc->backup_key));
    if (e) {
        cf_wipe(svc, sizeof(*svc));
        free(svc);
        *err = e;
        return NULL;
    }
    svc->scache = cf_scache_new(CF_SCACHE_SLOTS);
    svc->kcache = cf_kcache_new(CF_KCACHE_ENTRIES);
    if (!svc->scache || !svc->kcache || pthread_rwlock_init(&svc->lock, NULL) != 0) {
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
                             const struct cf_vault_caller *c, const char *permission,
                             bool *allowed)
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

cf_err cf_vault_dek_new(struct cf_vault_svc *svc, int64_t vault_id, struct cf_buf *out)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[32];
    size_t aadlen = dek_aad(aad, vault_id);
    cf_err e;

    e = cf_random(dek, sizeof(dek));
    if (!e)
        e = cf_aead_seal(svc->master_key, aad, aadlen, dek, sizeof(dek), out);
    cf_wipe(dek, sizeof(dek));
    return e;
}

cf_err cf_vault_dek(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                    unsigned char dek[CF_AEAD_KEY_LEN])
{
    char name_lc[CF_VAULT_NAME_MAX + 1], aad[32];
    struct cf_vault_cache_entry *ent;
    struct cf_secret *key = NULL;
    struct load_ctx c;
    bool hit = false;
    uint64_t gen;
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

    memset(&c, 0, sizeof(c));
    c.id = v->id;
    e = cf_store_read(svc->store, load_fn, &c);
    if (e)
        return e;
    e = cf_aead_open(svc->master_key, aad, dek_aad(aad, v->id), c.rec.dek.data, c.rec.dek.len,
                     &key);
    if (!e && key->len != CF_AEAD_KEY_LEN)
        e = CF_ECORRUPT;
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

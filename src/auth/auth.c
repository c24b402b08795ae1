/* auth.c - the token authority's state: life cycle, tenants, principals.
 *
 * Map:
 *   signing keys  - the key ring lives in signing.c (stored form, rotation, JWKS); external
 *                   issuers' keys in issuer.c.
 *   tenants       - meta "auth.default_tenant" (the id as text) and "auth.tenants" (JSON array
 *                   of every tenant that is the default or holds a principal).
 *   principals    - cf_store_principal_* (the service principal), its cf_store_app_* record
 *                   and its credentials (cf_store_cred_*; secrets stored only as cf_pwhash);
 *                   the rest of the directory (Graph objects, groups) is in directory.c.
 * Token issue lives in token.c, verification and its cache in verify.c. */
#include "base/cf.h"
#include "auth/auth_int.h"

#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "store/store_auth.h"

#define META_MAX (64 * 1024)

/* ---------------------------------------------------------------- small helpers */

static bool copy_cstr(char *dst, size_t cap, struct cf_str s)
{
    if (s.len >= cap)
        return false;
    if (s.len)
        memcpy(dst, s.p, s.len);
    dst[s.len] = '\0';
    return true;
}

bool cf_auth__tenant_syntax_ok(struct cf_str t)
{
    static const char *const reserved[] = {"organizations", "common", "adfs", "consumers"};

    if (t.len == 0 || t.len > AUTH_TENANT_MAX)
        return false;
    for (size_t i = 0; i < t.len; i++) {
        char c = t.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_';
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(reserved); i++)
        if (cf_str_eq_ci(t, cf_str_from(reserved[i])))
            return false;
    return true;
}

/* ---------------------------------------------------------------- store plumbing */

struct principal_get_arg {
    const char *tid;
    const char *appid;
    struct cf_rec_principal *out;
};

static cf_err principal_get_fn(struct cf_store_txn *t, void *arg)
{
    struct principal_get_arg *g = arg;
    return cf_store_principal_get(t, g->tid, g->appid, g->out);
}

cf_err cf_auth__principal_get(struct cf_auth *a, const char *tid, const char *appid,
                              struct cf_rec_principal *out)
{
    struct principal_get_arg g = {tid, appid, out};
    return cf_store_read(a->store, principal_get_fn, &g);
}

/* ---------------------------------------------------------------- tenants */

/* Adds tid to the in-memory list (caller holds admin_mu); *idx gets its index. */
static cf_err mem_tenant_add(struct cf_auth *a, const char *tid, int *idx)
{
    size_t n = atomic_load_explicit(&a->ntenants, memory_order_acquire);
    struct cf_str t = cf_str_from(tid);

    for (size_t i = 0; i < n; i++) {
        if (cf_str_eq_ci(cf_str_from(a->tenants[i]), t)) {
            *idx = (int)i;
            return CF_OK;
        }
    }
    if (n >= AUTH_MAX_TENANTS)
        return CF_ETOOBIG;
    if (!copy_cstr(a->tenants[n], sizeof(a->tenants[n]), t))
        return CF_EINVAL;
    /* Publish only after the entry is complete (readers take no lock). */
    atomic_store_explicit(&a->ntenants, n + 1, memory_order_release);
    *idx = (int)n;
    return CF_OK;
}

const char *cf_auth__resolve_tenant(const struct cf_auth *a, struct cf_str t)
{
    size_t n = atomic_load_explicit(&a->ntenants, memory_order_acquire);

    if (cf_str_eq_ci(t, CF_STR("organizations")) || cf_str_eq_ci(t, CF_STR("common")) ||
        cf_str_eq_ci(t, CF_STR("adfs")))
        return cf_auth_default_tenant(a);
    for (size_t i = 0; i < n; i++)
        if (cf_str_eq_ci(cf_str_from(a->tenants[i]), t))
            return a->tenants[i];
    return NULL;
}

const char *cf_auth_default_tenant(const struct cf_auth *a)
{
    int idx = atomic_load_explicit(&a->default_idx, memory_order_acquire);
    return idx < 0 ? NULL : a->tenants[idx];
}

bool cf_auth_tenant_known(const struct cf_auth *a, struct cf_str tenant_id)
{
    return cf_auth__resolve_tenant(a, tenant_id) != NULL;
}

/* Inside a write transaction: makes sure meta "auth.tenants" lists tid. */
static cf_err store_tenant_add(struct cf_store_txn *t, const char *tid)
{
    struct cf_buf doc, out;
    struct cf_json *root = NULL;
    struct cf_jw w;
    cf_err e;

    cf_buf_init(&doc, META_MAX);
    cf_buf_init(&out, META_MAX);
    e = cf_store_meta_get(t, AUTH_META_TENANTS, &doc);
    if (e == CF_OK) {
        e = cf_json_parse(doc.data, doc.len, &root, NULL, 0);
        if (e || cf_json_type(root) != CF_JSON_ARRAY) {
            e = CF_ECORRUPT;
            goto release;
        }
    } else if (e != CF_ENOTFOUND) {
        goto release;
    }
    cf_jw_init(&w, &out);
    cf_jw_arr_begin(&w);
    for (size_t i = 0; i < cf_json_size(root); i++) {
        const char *s = cf_json_str(cf_json_at(root, i), NULL);
        if (!s)
            continue;
        if (strcasecmp(s, tid) == 0) {
            e = CF_OK; /* already listed */
            goto release;
        }
        cf_jw_str(&w, s);
    }
    cf_jw_str(&w, tid);
    cf_jw_arr_end(&w);
    e = cf_jw_err(&w);
    if (e)
        goto release;
    e = cf_store_meta_put(t, AUTH_META_TENANTS, out.data, out.len);
release:
    cf_json_free(root);
    cf_buf_release(&doc);
    cf_buf_release(&out);
    return e;
}

struct set_default_arg {
    const char *tid;
};

static cf_err set_default_fn(struct cf_store_txn *t, void *arg)
{
    struct set_default_arg *d = arg;
    cf_err e = cf_store_meta_put(t, AUTH_META_DEFAULT_TENANT, d->tid, strlen(d->tid));
    if (e)
        return e;
    return store_tenant_add(t, d->tid);
}

cf_err cf_auth_set_default_tenant(struct cf_auth *a, const char *tenant_id)
{
    struct set_default_arg d;
    const char *canon;
    int idx;
    cf_err e;

    if (!tenant_id || !cf_auth__tenant_syntax_ok(cf_str_from(tenant_id)))
        return CF_EINVAL;
    pthread_mutex_lock(&a->admin_mu);
    /* Keep the spelling already known, so ids stay byte-equal in principal records. */
    canon = cf_auth__resolve_tenant(a, cf_str_from(tenant_id));
    d.tid = canon ? canon : tenant_id;
    e = cf_store_write(a->store, set_default_fn, &d);
    if (e)
        goto unlock;
    e = mem_tenant_add(a, d.tid, &idx);
    if (e)
        goto unlock;
    atomic_store_explicit(&a->default_idx, idx, memory_order_release);
unlock:
    pthread_mutex_unlock(&a->admin_mu);
    return e;
}

struct tenants_load_arg {
    struct cf_buf *def;
    struct cf_buf *list;
};

static cf_err tenants_load_fn(struct cf_store_txn *t, void *arg)
{
    struct tenants_load_arg *l = arg;
    cf_err e = cf_store_meta_get(t, AUTH_META_DEFAULT_TENANT, l->def);
    if (e && e != CF_ENOTFOUND)
        return e;
    e = cf_store_meta_get(t, AUTH_META_TENANTS, l->list);
    if (e && e != CF_ENOTFOUND)
        return e;
    return CF_OK;
}

static cf_err tenants_load(struct cf_auth *a)
{
    struct cf_buf def, list;
    struct tenants_load_arg l = {&def, &list};
    struct cf_json *root = NULL;
    int idx;
    cf_err e;

    cf_buf_init(&def, 256);
    cf_buf_init(&list, META_MAX);
    e = cf_store_read(a->store, tenants_load_fn, &l);
    if (e)
        goto release;
    if (list.len) {
        e = cf_json_parse(list.data, list.len, &root, NULL, 0);
        if (e || cf_json_type(root) != CF_JSON_ARRAY) {
            e = CF_ECORRUPT;
            goto release;
        }
        for (size_t i = 0; i < cf_json_size(root); i++) {
            size_t n;
            const char *s = cf_json_str(cf_json_at(root, i), &n);
            if (!s || !cf_auth__tenant_syntax_ok((struct cf_str){s, n})) {
                e = CF_ECORRUPT;
                goto release;
            }
            e = mem_tenant_add(a, s, &idx);
            if (e)
                goto release;
        }
    }
    if (def.len) {
        if (!cf_auth__tenant_syntax_ok(cf_buf_str(&def))) {
            e = CF_ECORRUPT;
            goto release;
        }
        e = mem_tenant_add(a, def.data, &idx);
        if (e)
            goto release;
        atomic_store_explicit(&a->default_idx, idx, memory_order_release);
    }
release:
    cf_json_free(root);
    cf_buf_release(&def);
    cf_buf_release(&list);
    return e;
}

/* ---------------------------------------------------------------- life cycle */

struct cf_auth *cf_auth_new(struct cf_store *store, const struct cf_clock *clock,
                            const unsigned char root[32], const struct cf_auth_opts *opts,
                            cf_err *err)
{
    struct cf_auth *a = NULL;
    struct cf_str iss;
    cf_err e;

    if (!store || !clock || !root || !opts || !opts->issuer) {
        e = CF_EINVAL;
        goto fail;
    }
    iss = cf_str_from(opts->issuer);
    /* Tokens carry issuer + "/" + tid: a trailing '/' would double it. */
    if (iss.len && iss.p[iss.len - 1] == '/')
        iss.len--;
    if (iss.len == 0 || opts->token_lifetime_s < 0 || opts->token_lifetime_s > 86400 ||
        opts->signing_key_rotate_days < 0 || opts->signing_key_rotate_days > 3650) {
        e = CF_EINVAL;
        goto fail;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        e = CF_ENOMEM;
        goto fail;
    }
    if (!copy_cstr(a->issuer, sizeof(a->issuer), iss)) {
        e = CF_EINVAL;
        goto free_a;
    }
    a->store = store;
    a->clock = clock;
    a->lifetime_s = opts->token_lifetime_s ? opts->token_lifetime_s : 3600;
    a->rotate_days = opts->signing_key_rotate_days;
    atomic_init(&a->ntenants, 0);
    atomic_init(&a->default_idx, -1);
    pthread_mutex_init(&a->admin_mu, NULL);
    pthread_mutex_init(&a->dummy_mu, NULL);
    pthread_mutex_init(&a->cred_mu, NULL);
    pthread_mutex_init(&a->jti_mu, NULL);
    pthread_rwlock_init(&a->keys_mu, NULL);
    pthread_mutex_init(&a->ring_mu, NULL);
    pthread_rwlock_init(&a->iss_mu, NULL);
    for (size_t i = 0; i < AUTH_LOCK_STRIPES; i++) {
        pthread_mutex_init(&a->cache_mu[i], NULL);
        pthread_mutex_init(&a->pstate_mu[i], NULL);
    }
    e = cf_random(a->cred_key, sizeof(a->cred_key));
    if (e)
        goto free_a;
    e = cf_auth__signing_init(a, root);
    if (e)
        goto free_a;
    e = tenants_load(a);
    if (e)
        goto free_a;
    if (err)
        *err = CF_OK;
    return a;
free_a:
    cf_auth_free(a);
fail:
    if (err)
        *err = e;
    return NULL;
}

void cf_auth_free(struct cf_auth *a)
{
    if (!a)
        return;
    cf_auth__signing_free(a);
    cf_auth__issuers_free(a);
    pthread_rwlock_destroy(&a->keys_mu);
    pthread_mutex_destroy(&a->ring_mu);
    pthread_rwlock_destroy(&a->iss_mu);
    pthread_mutex_destroy(&a->admin_mu);
    pthread_mutex_destroy(&a->dummy_mu);
    pthread_mutex_destroy(&a->cred_mu);
    pthread_mutex_destroy(&a->jti_mu);
    for (size_t i = 0; i < AUTH_LOCK_STRIPES; i++) {
        pthread_mutex_destroy(&a->cache_mu[i]);
        pthread_mutex_destroy(&a->pstate_mu[i]);
    }
    /* The cache holds no secret, but tokens' hashes and principal ids need not linger. */
    cf_wipe(a, sizeof(*a));
    free(a);
}

/* ---------------------------------------------------------------- principals */

const char *cf_auth__dummy_hash(struct cf_auth *a)
{
    const char *out = NULL;

    pthread_mutex_lock(&a->dummy_mu);
    if (!a->dummy_ready) {
        unsigned char r[32];
        if (cf_random(r, sizeof(r)) == CF_OK &&
            cf_pwhash(r, sizeof(r), a->dummy_hash) == CF_OK)
            a->dummy_ready = true;
        cf_wipe(r, sizeof(r));
    }
    if (a->dummy_ready)
        out = a->dummy_hash;
    pthread_mutex_unlock(&a->dummy_mu);
    return out;
}

cf_err cf_auth__secret_prepare(const char *secret, char *secret_out, size_t secret_out_len,
                             char hash[CF_PWHASH_MAX])
{
    unsigned char raw[30];
    struct cf_buf gen;
    cf_err e;

    cf_buf_init(&gen, 64);
    if (secret) {
        size_t n = strlen(secret);
        e = n == 0 || n > AUTH_SECRET_MAX ? CF_EINVAL : cf_pwhash(secret, n, hash);
        goto wipe;
    }
    if (!secret_out || secret_out_len < 48) {
        e = CF_EINVAL;
        goto wipe;
    }
    /* A secret starting with '-' reads as an option to `az login -p` and `coffer login -p`
     * (Azure's generated secrets never start with one): draw again, 1 in 64 odds each time. */
    do {
        cf_buf_reset(&gen);
        e = cf_random(raw, sizeof(raw));
        if (e)
            goto wipe;
        e = cf_b64url_encode(&gen, raw, sizeof(raw));
        if (e)
            goto wipe;
    } while (gen.data[0] == '-');
    e = cf_pwhash(gen.data, gen.len, hash);
    if (e)
        goto wipe;
    memcpy(secret_out, gen.data, gen.len + 1);
wipe:
    cf_wipe(raw, sizeof(raw));
    cf_buf_wipe(&gen);
    return e;
}

struct sp_create_arg {
    const struct cf_rec_principal *rec;
    struct cf_rec_app *app;
    struct cf_rec_cred *cred;
};

/* The principal (service principal), its application and its one password credential. */
static cf_err sp_create_fn(struct cf_store_txn *t, void *arg)
{
    struct sp_create_arg *c = arg;
    cf_err e;

    memcpy(c->app->tenant_id, c->rec->tenant_id, sizeof(c->app->tenant_id));
    memcpy(c->cred->tenant_id, c->rec->tenant_id, sizeof(c->cred->tenant_id));
    e = cf_store_principal_put(t, c->rec);
    if (!e)
        e = cf_store_app_insert(t, c->app);
    if (!e)
        e = cf_store_cred_insert(t, c->cred);
    if (!e)
        e = store_tenant_add(t, c->rec->tenant_id);
    return e;
}

/* The hint Graph shows for a password: its first 3 characters. */
static void secret_hint(const char *secret, char hint[8])
{
    size_t n = strnlen(secret, 3);
    memcpy(hint, secret, n);
    hint[n] = '\0';
}

cf_err cf_auth_sp_create(struct cf_auth *a, const char *tenant_id, const char *display_name,
                         const char *secret, char client_id_out[64], char object_id_out[37],
                         char *secret_out, size_t secret_out_len)
{
    struct cf_rec_principal rec;
    struct cf_rec_app app;
    struct cf_rec_cred cred;
    struct sp_create_arg c = {&rec, &app, &cred};
    const char *canon;
    bool locked = false;
    int idx;
    cf_err e;

    memset(&rec, 0, sizeof(rec));
    memset(&app, 0, sizeof(app));
    memset(&cred, 0, sizeof(cred));
    if (!tenant_id || !cf_auth__tenant_syntax_ok(cf_str_from(tenant_id)) || !client_id_out ||
        !object_id_out) {
        e = CF_EINVAL;
        goto wipe;
    }
    if (!display_name)
        display_name = "";
    if (!copy_cstr(rec.display_name, sizeof(rec.display_name), cf_str_from(display_name))) {
        e = CF_EINVAL;
        goto wipe;
    }
    /* The slow hash first, outside any lock. */
    e = cf_auth__secret_prepare(secret, secret_out, secret_out_len, cred.secret_hash);
    if (e)
        goto wipe;
    e = cf_uuid4(rec.client_id);
    if (!e)
        e = cf_uuid4(rec.object_id);
    if (!e)
        e = cf_uuid4(app.object_id);
    if (!e)
        e = cf_uuid4(cred.key_id);
    if (e)
        goto wipe;
    rec.enabled = true;
    rec.generation = 1;
    rec.created = cf_clock_s(a->clock);
    memcpy(app.client_id, rec.client_id, sizeof(app.client_id));
    memcpy(app.display_name, rec.display_name, sizeof(app.display_name));
    app.created = rec.created;
    memcpy(cred.client_id, rec.client_id, sizeof(cred.client_id));
    cred.kind = CF_CRED_PASSWORD;
    snprintf(cred.display_name, sizeof(cred.display_name), "secret");
    secret_hint(secret ? secret : secret_out, cred.hint);
    cred.start = cred.created = rec.created;
    cred.end = CF_AUTH_NEVER;

    pthread_mutex_lock(&a->admin_mu);
    locked = true;
    canon = cf_auth__resolve_tenant(a, cf_str_from(tenant_id));
    if (!copy_cstr(rec.tenant_id, sizeof(rec.tenant_id),
                   cf_str_from(canon ? canon : tenant_id))) {
        e = CF_EINVAL;
        goto wipe;
    }
    e = cf_store_write(a->store, sp_create_fn, &c);
    if (e)
        goto wipe;
    /* A principal's tenant is a served tenant from now on. */
    e = mem_tenant_add(a, rec.tenant_id, &idx);
    if (e)
        goto wipe;
    memcpy(client_id_out, rec.client_id, sizeof(rec.client_id));
    memcpy(object_id_out, rec.object_id, sizeof(rec.object_id));
wipe:
    if (locked)
        pthread_mutex_unlock(&a->admin_mu);
    if (e && !secret && secret_out && secret_out_len)
        cf_wipe(secret_out, secret_out_len);
    cf_wipe(&rec, sizeof(rec));
    cf_wipe(&cred, sizeof(cred));
    return e;
}

bool cf_auth__uuid_ok(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex)
            return false;
    }
    return true;
}

bool cf_auth_sp_exists(struct cf_auth *a, const char *tenant_id, const char *client_id)
{
    struct cf_rec_principal rec;
    const char *tid;
    bool found;

    if (!tenant_id || !client_id)
        return false;
    tid = cf_auth__resolve_tenant(a, cf_str_from(tenant_id));
    if (!tid || strlen(client_id) > AUTH_CLIENT_MAX)
        return false;
    found = cf_auth__principal_get(a, tid, client_id, &rec) == CF_OK;
    cf_wipe(&rec, sizeof(rec));
    return found;
}

struct sp_update_arg {
    const char *tid;
    const char *appid;
    int what; /* 0: set enabled, 1: new secret hash */
    bool enabled;
    const char *hash;
    const char *hint;
    int64_t now;
};

static cf_err sp_update_fn(struct cf_store_txn *t, void *arg)
{
    struct sp_update_arg *u = arg;
    struct cf_rec_principal rec;
    cf_err e = cf_store_principal_get(t, u->tid, u->appid, &rec);

    if (e)
        goto wipe;
    if (u->what == 0) {
        rec.enabled = u->enabled;
    } else {
        /* every password credential gives way to the one new secret */
        struct cf_rec_cred c;
        memset(&c, 0, sizeof(c));
        memcpy(c.tenant_id, rec.tenant_id, sizeof(c.tenant_id));
        memcpy(c.client_id, rec.client_id, sizeof(c.client_id));
        c.kind = CF_CRED_PASSWORD;
        snprintf(c.display_name, sizeof(c.display_name), "secret");
        snprintf(c.hint, sizeof(c.hint), "%s", u->hint);
        snprintf(c.secret_hash, sizeof(c.secret_hash), "%s", u->hash);
        c.start = c.created = u->now;
        c.end = CF_AUTH_NEVER;
        e = cf_uuid4(c.key_id);
        if (!e)
            e = cf_store_cred_delete_all(t, rec.tenant_id, rec.client_id, CF_CRED_PASSWORD, NULL);
        if (!e)
            e = cf_store_cred_insert(t, &c);
        cf_wipe(&c, sizeof(c));
        if (e)
            goto wipe;
    }
    rec.generation++;
    e = cf_store_principal_put(t, &rec);
wipe:
    cf_wipe(&rec, sizeof(rec));
    return e;
}

static cf_err sp_update(struct cf_auth *a, struct sp_update_arg *u)
{
    const char *tid;
    cf_err e;

    if (!u->tid || !u->appid || strlen(u->appid) > AUTH_CLIENT_MAX)
        return CF_EINVAL;
    tid = cf_auth__resolve_tenant(a, cf_str_from(u->tid));
    if (!tid)
        return CF_ENOTFOUND;
    u->tid = tid;
    e = cf_store_write(a->store, sp_update_fn, u);
    /* Invalidate even on failure: cheap, and the outcome of a failed commit is uncertain. */
    cf_auth_principal_changed(a, tid, u->appid);
    return e;
}

cf_err cf_auth_sp_set_enabled(struct cf_auth *a, const char *tenant_id, const char *client_id,
                              bool enabled)
{
    struct sp_update_arg u = {tenant_id, client_id, 0, enabled, NULL, NULL, 0};
    return sp_update(a, &u);
}

cf_err cf_auth_sp_reset_secret(struct cf_auth *a, const char *tenant_id, const char *client_id,
                               const char *secret, char *secret_out, size_t secret_out_len)
{
    char hash[CF_PWHASH_MAX], hint[8] = "";
    struct sp_update_arg u = {tenant_id, client_id, 1, false, hash, hint, cf_clock_s(a->clock)};
    cf_err e = cf_auth__secret_prepare(secret, secret_out, secret_out_len, hash);

    if (!e) {
        secret_hint(secret ? secret : secret_out, hint);
        e = sp_update(a, &u);
    }
    if (e && !secret && secret_out && secret_out_len)
        cf_wipe(secret_out, secret_out_len);
    cf_wipe(hash, sizeof(hash));
    return e;
}

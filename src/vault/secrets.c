/* secrets.c - secrets with versions and soft delete (azure-kv-secrets.md §2-§11, the state x
 * operation table of §14): set, get, update, list, list versions, delete, get deleted, list
 * deleted, recover, purge. Backup and restore are in backup.c. A certificate's ("managed")
 * secret is refused by every write here (refuse_managed): it follows its certificate.
 *
 * Sealing happens outside store transactions: set seals the value under the vault's data key
 * before queuing the write; get copies the sealed blob out of the read and opens it after.
 * Plaintext exists only in the caller's view and in the returned cf_secret. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/log.h"

#include "vault/vault_int.h"

#define SECONDS_PER_DAY 86400
/* Values are limited in characters (api/ checks); in bytes UTF-8 allows up to 4 per char. */
#define MAX_VALUE_BYTES (4 * CF_MAX_SECRET_VALUE_CHARS)

struct op_ctx {
    struct cf_vault_svc *svc;
    const struct cf_vault_ref *v;
    char name_lc[CF_MAX_NAME_LEN + 1];
    struct cf_str name;
    char version[CF_VERSION_HEX_LEN + 1]; /* "" = latest */
    const struct cf_secret_input *in;
    int64_t now;
    bool with_value;
    struct cf_rec_secret_obj obj;
    struct cf_rec_secret_ver ver; /* set: ver.value holds the new version's sealed value */
};

static cf_err ctx_init(struct op_ctx *c, struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                       struct cf_str name)
{
    memset(c, 0, sizeof(*c));
    if (!svc || !v)
        return CF_EINVAL;
    c->svc = svc;
    c->v = v;
    c->name = name;
    c->now = cf_vault_now(svc);
    return cf_secret_name_lc(name, c->name_lc);
}

/* Versions are 32 lowercase hex; identifiers compare case-insensitively. Anything else cannot
 * exist, which the caller reports as CF_ENOTFOUND. */
static bool set_version(struct op_ctx *c, struct cf_str version)
{
    if (version.len == 0)
        return true;
    if (version.len != CF_VERSION_HEX_LEN)
        return false;
    cf_str_lower(version, c->version);
    for (size_t i = 0; i < CF_VERSION_HEX_LEN; i++) {
        char ch = c->version[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
    }
    return true;
}

static void ctx_release(struct op_ctx *c)
{
    cf_rec_secret_ver_release(&c->ver);
}

/* Looks up the object; live_only / deleted_only select the state the operation accepts. */
static cf_err find_obj(struct cf_store_txn *t, struct op_ctx *c, bool want_deleted)
{
    cf_err e = cf_store_secret_obj_get(t, c->v->id, c->name_lc, &c->obj);
    if (e)
        return e;
    if ((c->obj.deleted_date != 0) != want_deleted)
        return CF_ENOTFOUND;
    return CF_OK;
}

/* The addressed version of the found object: c->version, or the latest. */
static cf_err find_ver(struct cf_store_txn *t, struct op_ctx *c)
{
    cf_rec_secret_ver_release(&c->ver);
    return cf_store_secret_ver_get(t, c->obj.id, c->obj.latest_seq,
                                   c->version[0] ? c->version : NULL, c->with_value, &c->ver);
}

/* A certificate's secret versions are "managed" (azure-kv-certificates.md §2): they change only
 * through the certificate (certs.c writes them without these functions), never through the
 * secrets API. Set/update/delete/recover/purge refuse them with CF_EFORBIDDEN (403). The
 * latest version tells: certs.c keeps every version of such a name managed. */
static cf_err refuse_managed(struct cf_store_txn *t, const struct cf_rec_secret_obj *o)
{
    bool managed = false;
    cf_err e = cf_store_secret_ver_managed(t, o->id, o->latest_seq, &managed);

    if (!e && managed)
        e = CF_EFORBIDDEN;
    return e == CF_ENOTFOUND ? CF_OK : e;
}

static char *dup_opt(const char *s, cf_err *e)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *e = CF_ENOMEM;
    return d;
}

static cf_err check_input(const struct cf_secret_input *in)
{
    if (!in)
        return CF_OK;
    if (in->has_content_type && in->content_type && strlen(in->content_type) > CF_MAX_CONTENT_TYPE)
        return CF_EBADPARAM;
    return CF_OK;
}

/* ---------------- set ---------------- */

static cf_err set_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    const struct cf_secret_input *in = c->in;
    struct cf_rec_secret_ver *v = &c->ver;
    bool exists, managed;
    cf_err e;

    /* the object and refuse_managed's flag in one statement (the hot path of every SET) */
    e = cf_store_secret_obj_get_managed(t, c->v->id, c->name_lc, &c->obj, &managed);
    if (e && e != CF_ENOTFOUND)
        return e;
    exists = e == CF_OK;
    if (exists && c->obj.deleted_date != 0)
        return CF_EDELETED; /* ObjectIsDeletedButRecoverable */
    if (exists && managed)
        return CF_EFORBIDDEN; /* refuse_managed */

    /* v->value is the sealed buffer, borrowed for the insert */
    v->seq = exists ? c->obj.latest_seq + 1 : 1;
    snprintf(v->prev_version, sizeof(v->prev_version), "%s", exists ? c->obj.latest_version : "");
    if (!exists) {
        memset(&c->obj, 0, sizeof(c->obj));
        c->obj.vault_id = c->v->id;
        snprintf(c->obj.name, sizeof(c->obj.name), "%.*s", CF_STR_FMT(c->name));
        memcpy(c->obj.name_lc, c->name_lc, sizeof(c->obj.name_lc));
    }
    c->obj.latest_seq = v->seq;
    memcpy(c->obj.latest_version, v->version, sizeof(c->obj.latest_version));
    if (exists)
        e = cf_store_secret_obj_update(t, &c->obj);
    else
        e = cf_store_secret_obj_insert(t, &c->obj);
    if (e)
        return e;
    v->object_id = c->obj.id;
    v->created = v->updated = c->now;
    v->enabled = in && in->has_enabled ? in->enabled : true;
    v->nbf = in && in->has_nbf ? in->nbf : 0;
    v->exp = in && in->has_exp ? in->exp : 0;
    e = cf_store_secret_ver_insert(t, v);
    if (!e) /* the event commits with the version (vault.h) */
        e = cf_vault_emit(c->svc, t, "SecretNewVersionCreated", c->v->id, c->v->name, "Secret",
                          c->obj.name, v->version, v->nbf, v->exp);
    return e;
}

/* A new version id: 32 lowercase hex like Azure's, laid out as 12 hex of the creation time in
 * milliseconds then 20 random hex (80 bits), the UUIDv7 idea. Clients treat versions as opaque;
 * the time prefix makes new versions land at the growing edge of the (version, object) index
 * (store schema 10), where a batch of SETs shares one or two leaves instead of dirtying one
 * per SET, which keeps the pages a burst of writes dirties (and the checkpoint copies back)
 * few. Uniqueness rests on the 80 random bits, taken from the svc's pool (vault_int.h): a
 * version id is public, so bits drawn ahead of time give away nothing, and drawing 160 ids'
 * worth per cf_random call saves ~0.9 µs of a SET's HTTP worker (measured: not the 1.5 µs
 * this call cost, as the request's remaining DRBG call, the AEAD nonce's, then pays the
 * cache-cold first call's extra). */
cf_err cf_vault_version_id(struct cf_vault_svc *svc, int64_t now_ms,
                           char out[CF_VERSION_HEX_LEN + 1])
{
    enum { RANDOM_BYTES = 10 };
    unsigned char b[16];
    uint64_t t = (uint64_t)(now_ms > 0 ? now_ms : 0);
    cf_err e = CF_OK;

    _Static_assert(CF_VAULT_VERID_POOL % RANDOM_BYTES == 0, "the pool holds whole ids");
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(t >> (40 - 8 * i));
    pthread_mutex_lock(&svc->verid_mu);
    if (svc->verid_left < RANDOM_BYTES) {
        e = cf_random(svc->verid_pool, sizeof(svc->verid_pool));
        svc->verid_left = e ? 0 : sizeof(svc->verid_pool);
    }
    if (!e) {
        unsigned char *p = svc->verid_pool + sizeof(svc->verid_pool) - svc->verid_left;
        memcpy(b + 6, p, RANDOM_BYTES);
        memset(p, 0, RANDOM_BYTES); /* each draw is handed out once */
        svc->verid_left -= RANDOM_BYTES;
    }
    pthread_mutex_unlock(&svc->verid_mu);
    if (e)
        return e;
    cf_hex_encode(out, b, 16);
    return CF_OK;
}

/* Everything a set does before its store write: the version id, copies of the optional
 * fields, and the value sealed under the vault's data key into c->ver.value. */
static cf_err set_prepare(struct op_ctx *c, struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, struct cf_str value, const struct cf_secret_input *in)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[CF_SECRET_AAD_MAX];
    cf_err e;

    e = ctx_init(c, svc, v, name);
    if (e)
        return e;
    cf_buf_init(&c->ver.value, MAX_VALUE_BYTES + CF_AEAD_OVERHEAD);
    if (value.len > MAX_VALUE_BYTES)
        return CF_ETOOBIG;
    e = check_input(in);
    if (e)
        return e;
    c->in = in;
    e = cf_vault_version_id(svc, cf_clock_ms(svc->clock), c->ver.version);
    if (e)
        return e;
    if (in && in->has_content_type)
        c->ver.content_type = dup_opt(in->content_type, &e);
    if (in && in->has_tags)
        c->ver.tags_json = dup_opt(in->tags_json, &e);
    if (e)
        return e;
    e = cf_vault_dek(svc, v, dek);
    if (e)
        return e;
    e = cf_aead_seal(dek, aad, cf_secret_aad(aad, v->id, c->name_lc, c->ver.version),
                     value.p ? value.p : "", value.len, &c->ver.value);
    cf_wipe(dek, sizeof(dek));
    return e;
}

cf_err cf_secret_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str value, const struct cf_secret_input *in,
                     struct cf_secret_meta *out)
{
    struct op_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    e = set_prepare(&c, svc, v, name, value, in);
    if (e)
        goto out;
    e = cf_store_write(svc->store, set_fn, &c);
    cf_scache_forget(svc->scache, v->id, c.name_lc);
    if (!e)
        cf_secret_meta_take(out, &c.obj, &c.ver);
out:
    ctx_release(&c);
    return e;
}

/* The state of one asynchronous set, from set_prepare until its done callback. It owns copies
 * of everything the writer thread reads, so the caller's stack may be gone by then. */
struct set_async {
    struct op_ctx c;
    struct cf_vault_ref vref;
    struct cf_secret_input in; /* scalars only: the strings were copied into c.ver */
    char name[CF_MAX_NAME_LEN + 1];
    cf_secret_done_fn done;
    void *arg;
};

static void set_async_done(cf_err e, void *arg)
{
    struct set_async *a = arg;
    struct cf_secret_meta m;

    memset(&m, 0, sizeof(m));
    cf_scache_forget(a->c.svc->scache, a->vref.id, a->c.name_lc);
    if (!e)
        cf_secret_meta_take(&m, &a->c.obj, &a->c.ver);
    a->done(e, &m, a->arg);
    ctx_release(&a->c);
    free(a);
}

cf_err cf_secret_set_async(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str name, struct cf_str value,
                           const struct cf_secret_input *in, cf_secret_done_fn done, void *arg)
{
    struct set_async *a;
    cf_err e;

    if (!svc || !v || !done || name.len > CF_MAX_NAME_LEN)
        return name.len > CF_MAX_NAME_LEN ? CF_EBADNAME : CF_EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return CF_ENOMEM;
    a->vref = *v;
    memcpy(a->name, name.p, name.len);
    a->done = done;
    a->arg = arg;
    if (in) {
        a->in = *in;
        a->in.content_type = NULL;
        a->in.tags_json = NULL;
    }
    e = set_prepare(&a->c, svc, &a->vref, (struct cf_str){a->name, name.len}, value, in);
    if (!e) {
        a->c.in = in ? &a->in : NULL;
        e = cf_store_write_async(svc->store, set_fn, &a->c, set_async_done, a);
    }
    if (e) {
        ctx_release(&a->c);
        free(a);
    }
    return e;
}

/* ---------------- get ---------------- */

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    cf_err e = find_obj(t, c, false);
    return e ? e : find_ver(t, c);
}

cf_err cf_secret_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str version, struct cf_secret_meta *out, struct cf_secret **value)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[CF_SECRET_AAD_MAX];
    struct op_ctx c;
    uint64_t gen = 0;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    if (value)
        *value = NULL;
    e = ctx_init(&c, svc, v, name);
    if (e)
        return e;
    if (!set_version(&c, version))
        return CF_ENOTFOUND;
    c.with_value = value != NULL;
    cf_buf_init(&c.ver.value, MAX_VALUE_BYTES + CF_AEAD_OVERHEAD);
    if (!cf_scache_get(svc->scache, v->id, c.name_lc, c.version, c.with_value, &c.obj, &c.ver,
                       &gen)) {
        e = cf_store_read(svc->store, get_fn, &c);
        if (e)
            goto out;
        if (c.with_value)
            cf_scache_put(svc->scache, gen, &c.obj, &c.ver);
    }
    cf_secret_meta_take(out, &c.obj, &c.ver);
    if (!c.ver.enabled) {
        e = CF_EDISABLED; /* SecretDisabled; the metadata is still returned */
        goto out;
    }
    if (!value)
        goto out;
    e = cf_vault_dek(svc, v, dek);
    if (e)
        goto fail_meta;
    e = cf_aead_open(dek, aad, cf_secret_aad(aad, v->id, c.name_lc, c.ver.version),
                     c.ver.value.data, c.ver.value.len, value);
    cf_wipe(dek, sizeof(dek));
    if (e) {
        cf_error("vault: secret value in vault %lld does not open", (long long)v->id);
        goto fail_meta;
    }
    goto out;

fail_meta:
    cf_secret_meta_release(out);
out:
    ctx_release(&c);
    return e;
}

/* ---------------- update ---------------- */

static cf_err update_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    const struct cf_secret_input *in = c->in;
    struct cf_rec_secret_ver *v = &c->ver;
    cf_err e = find_obj(t, c, false);

    if (!e)
        e = find_ver(t, c);
    if (e)
        return e;
    if (v->managed)
        return CF_EFORBIDDEN; /* a certificate's secret: update the certificate */
    if (in->has_enabled)
        v->enabled = in->enabled;
    if (in->has_nbf)
        v->nbf = in->nbf;
    if (in->has_exp)
        v->exp = in->exp;
    if (in->has_content_type) {
        free(v->content_type);
        v->content_type = dup_opt(in->content_type, &e);
    }
    if (in->has_tags) {
        free(v->tags_json); /* a supplied map replaces the whole map */
        v->tags_json = dup_opt(in->tags_json, &e);
    }
    if (e)
        return e;
    v->updated = c->now;
    return cf_store_secret_ver_update(t, v);
}

/* The common end of a write to one name: commit fn, drop the cached copy (after the commit:
 * see scache.c), hand the resulting metadata to the caller, release the context. */
static cf_err write_and_take(struct op_ctx *c, cf_store_fn fn, struct cf_secret_meta *out)
{
    cf_err e = cf_store_write(c->svc->store, fn, c);
    cf_scache_forget(c->svc->scache, c->v->id, c->name_lc);
    if (!e)
        cf_secret_meta_take(out, &c->obj, &c->ver);
    ctx_release(c);
    return e;
}

cf_err cf_secret_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                        struct cf_str version, const struct cf_secret_input *in,
                        struct cf_secret_meta *out)
{
    static const struct cf_secret_input nothing;
    struct op_ctx c;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    e = ctx_init(&c, svc, v, name);
    if (e)
        return e;
    if (!set_version(&c, version))
        return CF_ENOTFOUND;
    e = check_input(in);
    if (e)
        return e;
    c.in = in ? in : &nothing;
    return write_and_take(&c, update_fn, out);
}

/* ---------------- lists ---------------- */

struct list_ctx {
    const struct cf_vault_ref *v;
    bool deleted;
    char after_lc[CF_MAX_NAME_LEN + 1];
    int64_t after_seq;
    char name_lc[CF_MAX_NAME_LEN + 1];
    int max;
    cf_secret_cb cb;
    void *arg;
    struct cf_rec_secret_obj obj; /* list versions: the object */
    char last[CF_MAX_NAME_LEN + 1];
    int64_t last_seq;
    bool more;
};

static int page_max(int max)
{
    return max <= 0 || max > CF_PAGE_MAX ? CF_PAGE_MAX : max;
}

/* Decodes a continuation token into text (<= CF_MAX_NAME_LEN chars of [0-9a-z-]). */
static cf_err token_decode(struct cf_str tok, char out[CF_MAX_NAME_LEN + 1])
{
    struct cf_buf b;
    cf_err e;

    out[0] = '\0';
    if (tok.len == 0)
        return CF_OK;
    if (tok.len > 200)
        return CF_EBADPARAM;
    cf_buf_init(&b, 200);
    e = cf_b64_decode(&b, tok);
    if (e || b.len == 0 || b.len > CF_MAX_NAME_LEN ||
        !cf_name_valid_object((struct cf_str){b.data, b.len})) {
        e = CF_EBADPARAM;
    } else {
        memcpy(out, b.data, b.len + 1);
        for (size_t i = 0; i < b.len; i++) {
            if (out[i] >= 'A' && out[i] <= 'Z')
                e = CF_EBADPARAM; /* tokens we issue are lower-case */
        }
    }
    cf_buf_release(&b);
    return e;
}

static void token_encode(const char *text, char next[CF_PAGE_TOKEN_MAX])
{
    struct cf_buf b;

    cf_buf_init(&b, CF_PAGE_TOKEN_MAX - 1);
    next[0] = '\0';
    if (cf_b64url_encode(&b, text, strlen(text)) == CF_OK)
        memcpy(next, b.data, b.len + 1);
    cf_buf_release(&b);
}

static cf_err list_cb(const struct cf_rec_secret_obj *o, const struct cf_rec_secret_ver *v,
                      void *arg)
{
    struct list_ctx *c = arg;
    struct cf_secret_meta m;

    if (!o) {
        o = &c->obj;
        c->last_seq = v->seq;
    } else {
        memcpy(c->last, o->name_lc, sizeof(c->last));
    }
    cf_secret_meta_fill(&m, o, v);
    return c->cb(&m, c->arg);
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct list_ctx *c = arg;
    return cf_store_secret_list(t, c->v->id, c->deleted, c->after_lc, c->max, list_cb, c, &c->more);
}

static cf_err list_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str after, int max, bool deleted, cf_secret_cb cb, void *arg,
                          char next[CF_PAGE_TOKEN_MAX])
{
    struct list_ctx c;
    cf_err e;

    next[0] = '\0';
    if (!svc || !v || !cb)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    e = token_decode(after, c.after_lc);
    if (e)
        return e;
    c.v = v;
    c.deleted = deleted;
    c.max = page_max(max);
    c.cb = cb;
    c.arg = arg;
    e = cf_store_read(svc->store, list_fn, &c);
    if (!e && c.more)
        token_encode(c.last, next);
    return e;
}

cf_err cf_secret_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str after,
                      int max, cf_secret_cb cb, void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    return list_common(svc, v, after, max, false, cb, arg, next);
}

cf_err cf_secret_list_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                              struct cf_str after, int max, cf_secret_cb cb, void *arg,
                              char next[CF_PAGE_TOKEN_MAX])
{
    return list_common(svc, v, after, max, true, cb, arg, next);
}

static cf_err versions_fn(struct cf_store_txn *t, void *arg)
{
    struct list_ctx *c = arg;
    cf_err e = cf_store_secret_obj_get(t, c->v->id, c->name_lc, &c->obj);

    if (e == CF_ENOTFOUND || (!e && c->obj.deleted_date != 0))
        return CF_OK; /* unknown or deleted name: an empty list */
    if (e)
        return e;
    return cf_store_secret_list_versions(t, c->obj.id, c->after_seq, c->max, false, list_cb, c,
                                         &c->more);
}

cf_err cf_secret_list_versions(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                               struct cf_str name, struct cf_str after, int max, cf_secret_cb cb,
                               void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    char seq[24];
    struct list_ctx c;
    cf_err e;

    next[0] = '\0';
    if (!svc || !v || !cb)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    e = cf_secret_name_lc(name, c.name_lc);
    if (e)
        return e;
    /* the token of a versions page is the last seq in decimal, base64url'd */
    if (after.len) {
        struct cf_buf b;
        cf_buf_init(&b, 64);
        e = after.len > 64 ? CF_EBADPARAM : cf_b64_decode(&b, after);
        if (e || !cf_str_to_i64((struct cf_str){b.data, b.len}, &c.after_seq) || c.after_seq < 0)
            e = CF_EBADPARAM;
        cf_buf_release(&b);
        if (e)
            return e;
    }
    c.v = v;
    c.max = page_max(max);
    c.cb = cb;
    c.arg = arg;
    e = cf_store_read(svc->store, versions_fn, &c);
    if (!e && c.more) {
        snprintf(seq, sizeof(seq), "%lld", (long long)c.last_seq);
        token_encode(seq, next);
    }
    return e;
}

/* ---------------- delete, get deleted, recover, purge ---------------- */

static cf_err delete_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    cf_err e = find_obj(t, c, false);

    if (!e)
        e = refuse_managed(t, &c->obj);
    if (e)
        return e;
    c->obj.deleted_date = c->now;
    c->obj.scheduled_purge = c->now + (int64_t)c->v->retention_days * SECONDS_PER_DAY;
    e = cf_store_secret_obj_update(t, &c->obj);
    return e ? e : find_ver(t, c);
}

cf_err cf_secret_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                        struct cf_secret_meta *out)
{
    struct op_ctx c;
    cf_err e = ctx_init(&c, svc, v, name);

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    if (e)
        return e;
    return write_and_take(&c, delete_fn, out);
}

static cf_err get_deleted_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    cf_err e = find_obj(t, c, true);
    return e ? e : find_ver(t, c);
}

cf_err cf_secret_get_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_secret_meta *out)
{
    struct op_ctx c;
    cf_err e = ctx_init(&c, svc, v, name);

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    if (e)
        return e;
    e = cf_store_read(svc->store, get_deleted_fn, &c);
    if (!e) {
        cf_secret_meta_take(out, &c.obj, &c.ver);
        if (!c.ver.enabled)
            e = CF_EDISABLED; /* the delete pollers read this 403 as "done" */
    }
    ctx_release(&c);
    return e;
}

static cf_err recover_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    cf_err e = find_obj(t, c, true);

    if (!e)
        e = refuse_managed(t, &c->obj);
    if (e)
        return e;
    c->obj.deleted_date = c->obj.scheduled_purge = 0;
    e = cf_store_secret_obj_update(t, &c->obj);
    return e ? e : find_ver(t, c);
}

cf_err cf_secret_recover(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                         struct cf_secret_meta *out)
{
    struct op_ctx c;
    cf_err e = ctx_init(&c, svc, v, name);

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    if (e)
        return e;
    return write_and_take(&c, recover_fn, out);
}

static cf_err purge_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    cf_err e = find_obj(t, c, true);

    if (!e)
        e = refuse_managed(t, &c->obj);
    if (e)
        return e;
    if (c->v->purge_protection)
        return CF_EPURGEPROTECT;
    return cf_store_secret_obj_delete(t, c->obj.id);
}

cf_err cf_secret_purge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name)
{
    struct op_ctx c;
    cf_err e = ctx_init(&c, svc, v, name);

    if (e)
        return e;
    e = cf_store_write(svc->store, purge_fn, &c);
    cf_scache_forget(svc->scache, v->id, c.name_lc);
    ctx_release(&c);
    return e;
}

/* keys_backup.c - cf_key_backup / cf_key_restore (azure-kv-keys.md §5.7).
 *
 * Blob (before base64url): MAGIC(8) || AES-256-GCM seal(payload), AAD = MAGIC, under the backup
 * key (vault_int.h; the scheme of backup.c with a magic of its own, so secret and key blobs
 * never restore as each other). Only this server can open it. Payload (big-endian):
 *   "CFKB" u8(1) | u16 name_len, name | u16 count | count x version | u8 has_policy [policy]
 *   version = version[32] | u8 flags (1 enabled, 2 exportable, 4 managed, 8 imported)
 *           | u8 kty_len, kty | u16 key_size | u8 crv_len, crv | u16 key_ops
 *           | i64 nbf, exp, created, updated | u32 jwk_len, jwk | u32 tags_len, tags
 *           | u32 policy_len, release policy | u32 blob_len, private key blob (cf_kvkey_to_blob)
 *   policy  = u8 rotate | u8 len, rotate_dur | u8 len, notify_dur | u8 len, expiry_time
 *           | i64 created, updated                          (u32 0xffffffff = absent)
 * The payload holds private keys in clear: it lives only in buffers this file wipes. Restore
 * checks every private key parses as the type its version claims, then seals it for the target
 * vault (its AAD names the target vault). */
#include "base/cf.h"
#include "base/codec.h"
#include "base/log.h"

#include "vault/keys_int.h"

#define BACKUP_MAX_VERSIONS 500
#define MAX_TAGS_BYTES (64 * 1024)
#define MAX_RELEASE_BYTES (64 * 1024)
#define ABSENT 0xffffffffu
#define MAX_PAYLOAD (BACKUP_MAX_VERSIONS * (size_t)(JWK_MAX + PRIV_MAX + 1024) + 2 * MAX_TAGS_BYTES)

static const char magic[8] = {'C', 'O', 'F', 'B', 'K', 'K', '0', '1'};
static const char payload_magic[5] = {'C', 'F', 'K', 'B', 1};

/* Grows b by moving into a new allocation and wiping the old one (backup.c's rule: realloc
 * would leave a copy of the plaintext in freed memory). */
static cf_err wipe_reserve(struct cf_buf *b, size_t extra)
{
    struct cf_buf nb;
    size_t need, want;
    cf_err e;

    if (extra > b->max || b->len > b->max - extra)
        return CF_ETOOBIG;
    need = b->len + extra;
    if (need + 1 <= b->cap)
        return CF_OK;
    want = CF_MAX(need, 2 * b->cap);
    if (want > b->max)
        want = need;
    cf_buf_init(&nb, b->max);
    e = cf_buf_reserve(&nb, want);
    if (e)
        return e;
    if (b->len)
        memcpy(nb.data, b->data, b->len);
    nb.len = b->len;
    nb.data[nb.len] = '\0';
    cf_buf_wipe(b);
    *b = nb;
    return CF_OK;
}

static cf_err put_bytes(struct cf_buf *b, const void *p, size_t n)
{
    cf_err e = wipe_reserve(b, n);
    return e ? e : cf_buf_append(b, p, n);
}

static cf_err put_uint(struct cf_buf *b, uint64_t v, int bytes)
{
    unsigned char tmp[8];
    for (int i = 0; i < bytes; i++)
        tmp[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    return put_bytes(b, tmp, (size_t)bytes);
}

/* length (lbytes wide) + bytes; NULL as ABSENT (only for 4-byte lengths) */
static cf_err put_str(struct cf_buf *b, const char *s, int lbytes)
{
    cf_err e;
    if (!s)
        return put_uint(b, ABSENT, lbytes);
    e = put_uint(b, strlen(s), lbytes);
    return e ? e : put_bytes(b, s, strlen(s));
}

struct backup_ctx {
    struct cf_key_ctx k;
    unsigned char dek[CF_AEAD_KEY_LEN];
    struct cf_buf payload; /* plaintext: wiped */
};

static cf_err backup_ver_cb(const struct cf_rec_key_obj *o, const struct cf_rec_key_ver *v,
                            void *arg)
{
    struct backup_ctx *c = arg;
    struct cf_buf *b = &c->payload;
    char aad[KEY_AAD_MAX];
    struct cf_secret *pt = NULL;
    unsigned flags = (v->enabled ? 1u : 0u) | (v->exportable ? 2u : 0u) | (v->managed ? 4u : 0u) |
                     (v->imported ? 8u : 0u);
    cf_err e;

    (void)o;
    if (strlen(v->version) != CF_VERSION_HEX_LEN)
        return CF_ECORRUPT;
    e = cf_aead_open(c->dek, aad, cf_key_aad(aad, c->k.v->id, c->k.name_lc, v->version),
                     v->priv.data, v->priv.len, &pt);
    if (e) {
        cf_error("vault: backup: a key version in vault %lld does not open", (long long)c->k.v->id);
        return e;
    }
    if ((e = put_bytes(b, v->version, CF_VERSION_HEX_LEN)) || (e = put_uint(b, flags, 1)) ||
        (e = put_str(b, v->kty, 1)) || (e = put_uint(b, (uint64_t)v->key_size, 2)) ||
        (e = put_str(b, v->crv, 1)) || (e = put_uint(b, v->key_ops, 2)) ||
        (e = put_uint(b, (uint64_t)v->nbf, 8)) || (e = put_uint(b, (uint64_t)v->exp, 8)) ||
        (e = put_uint(b, (uint64_t)v->created, 8)) || (e = put_uint(b, (uint64_t)v->updated, 8)) ||
        (e = put_str(b, v->public_jwk ? v->public_jwk : "{}", 4)) ||
        (e = put_str(b, v->tags_json, 4)) || (e = put_str(b, v->release_policy, 4)) ||
        (e = put_uint(b, pt->len, 4)) || (e = put_bytes(b, pt->p, pt->len)))
        goto out;
out:
    cf_secret_free(pt);
    return e;
}

static cf_err backup_fn(struct cf_store_txn *t, void *arg)
{
    struct backup_ctx *c = arg;
    struct cf_rec_key_policy pol;
    struct cf_buf *b = &c->payload;
    size_t nlen;
    int64_t n = 0;
    bool more = false;
    cf_err e;

    cf_buf_wipe(b);
    e = cf_key_find_obj(t, &c->k, false);
    if (!e)
        e = cf_store_key_ver_count(t, c->k.obj.id, &n);
    if (e)
        return e;
    if (n < 1 || n > BACKUP_MAX_VERSIONS)
        return n < 1 ? CF_ENOTFOUND : CF_ETOOBIG;
    nlen = strlen(c->k.obj.name);
    if ((e = put_bytes(b, payload_magic, sizeof(payload_magic))) || (e = put_uint(b, nlen, 2)) ||
        (e = put_bytes(b, c->k.obj.name, nlen)) || (e = put_uint(b, (uint64_t)n, 2)))
        return e;
    e = cf_store_key_list_versions(t, c->k.obj.id, 0, BACKUP_MAX_VERSIONS, true, backup_ver_cb, c,
                                   &more);
    if (e)
        return e;
    e = cf_store_key_policy_get(t, c->k.obj.id, &pol);
    if (e == CF_ENOTFOUND)
        return put_uint(b, 0, 1);
    if (e)
        return e;
    if ((e = put_uint(b, 1, 1)) || (e = put_uint(b, (uint64_t)pol.rotate, 1)) ||
        (e = put_str(b, pol.rotate_dur, 1)) || (e = put_str(b, pol.notify_dur, 1)) ||
        (e = put_str(b, pol.expiry_time, 1)) || (e = put_uint(b, (uint64_t)pol.created, 8)) ||
        (e = put_uint(b, (uint64_t)pol.updated, 8)))
        return e;
    return CF_OK;
}

cf_err cf_key_backup(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_buf *out)
{
    struct backup_ctx *c;
    struct cf_buf blob;
    cf_err e;

    if (!svc || !v || !out)
        return CF_EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return CF_ENOMEM;
    cf_buf_init(&c->payload, MAX_PAYLOAD);
    cf_buf_init(&blob, MAX_PAYLOAD + sizeof(magic) + CF_AEAD_OVERHEAD);
    e = cf_key_ctx_init(&c->k, svc, v, name);
    if (!e)
        e = cf_vault_dek(svc, v, c->dek);
    if (!e)
        e = cf_store_read(svc->store, backup_fn, c);
    if (!e)
        e = cf_buf_append(&blob, magic, sizeof(magic));
    if (!e)
        e = cf_aead_seal(svc->backup_key, magic, sizeof(magic), c->payload.data, c->payload.len,
                         &blob);
    if (!e)
        e = cf_b64url_encode(out, blob.data, blob.len);
    cf_wipe(c->dek, sizeof(c->dek));
    cf_buf_wipe(&c->payload);
    cf_buf_release(&blob);
    cf_key_ctx_release(&c->k);
    free(c);
    return e;
}

struct reader {
    const unsigned char *p;
    size_t left;
    bool bad;
};

static const unsigned char *take(struct reader *r, size_t n)
{
    const unsigned char *p = r->p;
    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

static uint64_t get_uint(struct reader *r, int bytes)
{
    const unsigned char *p = take(r, (size_t)bytes);
    uint64_t v = 0;
    for (int i = 0; p && i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A text field of lbytes length, without NULs, at most max bytes, into a fixed array. */
static void get_fixed(struct reader *r, int lbytes, char *out, size_t outsz)
{
    uint64_t len = get_uint(r, lbytes);
    const unsigned char *p;

    out[0] = '\0';
    if (r->bad || len >= outsz || !(p = take(r, (size_t)len)) || memchr(p, 0, (size_t)len)) {
        r->bad = true;
        return;
    }
    memcpy(out, p, (size_t)len);
    out[len] = '\0';
}

/* A u32-length text field into a malloc'd copy; NULL when ABSENT (if absent_ok). */
static char *get_text(struct reader *r, size_t max, bool absent_ok, cf_err *e)
{
    uint64_t len = get_uint(r, 4);
    const unsigned char *p;
    char *s;

    if (r->bad || (len == ABSENT && absent_ok))
        return NULL;
    if (len > max || !(p = take(r, (size_t)len)) || memchr(p, 0, (size_t)len)) {
        r->bad = true;
        return NULL;
    }
    s = malloc((size_t)len + 1);
    if (!s) {
        *e = CF_ENOMEM;
        return NULL;
    }
    memcpy(s, p, (size_t)len);
    s[len] = '\0';
    return s;
}

static bool is_hex32(const unsigned char *p)
{
    for (int i = 0; i < CF_VERSION_HEX_LEN; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    }
    return true;
}

struct restore_ctx {
    const struct cf_vault_ref *v;
    char name[CF_MAX_NAME_LEN + 1];
    char name_lc[CF_MAX_NAME_LEN + 1];
    struct cf_rec_key_ver *vers;
    size_t n;
    struct cf_rec_key_policy pol;
    bool has_pol;
    struct cf_rec_key_obj obj;
    /* the token handles of the HSM versions: the restored rows share the source's objects */
    unsigned char hsm_ids[BACKUP_MAX_VERSIONS][CF_VAULT_HSM_ID_LEN];
    size_t nhsm;
};

static void restore_release(struct restore_ctx *c)
{
    cf_wipe(c->hsm_ids, sizeof(c->hsm_ids));
    for (size_t i = 0; i < c->n; i++)
        cf_rec_key_ver_release(&c->vers[i]);
    free(c->vers);
    c->vers = NULL;
    c->n = 0;
}

/* One version of the payload into v, its private key re-sealed for the target vault. */
static cf_err parse_version(struct reader *r, const unsigned char dek[CF_AEAD_KEY_LEN],
                            struct restore_ctx *c, struct cf_rec_key_ver *v)
{
    char aad[KEY_AAD_MAX];
    const unsigned char *p;
    struct cf_kvkey *k = NULL;
    uint64_t flags, len;
    cf_err e = CF_OK;

    p = take(r, CF_VERSION_HEX_LEN);
    if (!p || !is_hex32(p))
        return CF_EBADPARAM;
    memcpy(v->version, p, CF_VERSION_HEX_LEN);
    flags = get_uint(r, 1);
    get_fixed(r, 1, v->kty, sizeof(v->kty));
    v->key_size = (int)get_uint(r, 2);
    get_fixed(r, 1, v->crv, sizeof(v->crv));
    v->key_ops = (unsigned)get_uint(r, 2);
    v->nbf = (int64_t)get_uint(r, 8);
    v->exp = (int64_t)get_uint(r, 8);
    v->created = (int64_t)get_uint(r, 8);
    v->updated = (int64_t)get_uint(r, 8);
    v->public_jwk = get_text(r, JWK_MAX, false, &e);
    v->tags_json = get_text(r, MAX_TAGS_BYTES, true, &e);
    v->release_policy = get_text(r, MAX_RELEASE_BYTES, true, &e);
    len = get_uint(r, 4);
    if (e || r->bad || (flags & ~15u) || v->key_ops > 0xff || len > PRIV_MAX ||
        !(p = take(r, (size_t)len)))
        return e ? e : CF_EBADPARAM;
    v->enabled = flags & 1;
    v->exportable = (flags & 2) != 0;
    v->managed = (flags & 4) != 0;
    v->imported = (flags & 8) != 0;
    /* the blob must be a key of the type the version claims; an HSM version's is its token
     * handle, which only opens on a server whose token holds that key */
    if (cf_key_kty_is_hsm(v->kty)) {
        if (len != HSM_BLOB_LEN || memcmp(p, HSM_TAG, HSM_TAG_LEN) != 0 ||
            c->nhsm >= BACKUP_MAX_VERSIONS)
            return CF_EBADPARAM;
        memcpy(c->hsm_ids[c->nhsm++], p + HSM_TAG_LEN, CF_VAULT_HSM_ID_LEN);
        return cf_aead_seal(dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, v->version), p,
                            (size_t)len, &v->priv);
    }
    e = cf_kvkey_from_blob(p, (size_t)len, &k);
    if (e || strcmp(v->kty, cf_kvkey_type(k) == CF_KTY_RSA  ? "RSA"
                            : cf_kvkey_type(k) == CF_KTY_EC ? "EC"
                                                            : "oct") != 0)
        e = e == CF_ENOMEM ? e : CF_EBADPARAM;
    cf_kvkey_free(k);
    if (!e)
        e = cf_aead_seal(dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, v->version), p,
                         (size_t)len, &v->priv);
    return e;
}

static cf_err parse_payload(struct cf_vault_svc *svc, struct restore_ctx *c,
                            const struct cf_secret *pl)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    struct reader r = {pl->p, pl->len, false};
    const unsigned char *p;
    uint64_t nlen, count;
    cf_err e = CF_OK;

    p = take(&r, sizeof(payload_magic));
    if (!p || memcmp(p, payload_magic, sizeof(payload_magic)) != 0)
        return CF_EBADPARAM;
    nlen = get_uint(&r, 2);
    p = take(&r, (size_t)nlen);
    if (!p || nlen > CF_MAX_NAME_LEN ||
        !cf_name_valid_object((struct cf_str){(const char *)p, (size_t)nlen}))
        return CF_EBADPARAM;
    memcpy(c->name, p, (size_t)nlen);
    c->name[nlen] = '\0';
    cf_str_lower(cf_str_from(c->name), c->name_lc);
    count = get_uint(&r, 2);
    if (r.bad || count < 1 || count > BACKUP_MAX_VERSIONS)
        return CF_EBADPARAM;
    c->vers = calloc((size_t)count, sizeof(*c->vers));
    if (!c->vers)
        return CF_ENOMEM;
    e = cf_vault_dek(svc, c->v, dek);
    if (e)
        return e;
    for (uint64_t i = 0; i < count && !e; i++) {
        struct cf_rec_key_ver *v = &c->vers[c->n++];
        cf_buf_init(&v->priv, PRIV_MAX);
        v->seq = (int64_t)i + 1;
        e = parse_version(&r, dek, c, v);
        for (size_t j = 0; !e && j + 1 < c->n; j++) {
            if (memcmp(c->vers[j].version, v->version, CF_VERSION_HEX_LEN) == 0)
                e = CF_EBADPARAM; /* a version id twice */
        }
    }
    cf_wipe(dek, sizeof(dek));
    if (e)
        return e;
    c->has_pol = get_uint(&r, 1) == 1;
    if (c->has_pol) {
        c->pol.rotate = (int)get_uint(&r, 1);
        get_fixed(&r, 1, c->pol.rotate_dur, sizeof(c->pol.rotate_dur));
        get_fixed(&r, 1, c->pol.notify_dur, sizeof(c->pol.notify_dur));
        get_fixed(&r, 1, c->pol.expiry_time, sizeof(c->pol.expiry_time));
        c->pol.created = (int64_t)get_uint(&r, 8);
        c->pol.updated = (int64_t)get_uint(&r, 8);
        if (c->pol.rotate < CF_REC_ROTATE_NONE || c->pol.rotate > CF_REC_ROTATE_BEFORE_EXPIRY)
            r.bad = true;
    }
    return r.bad || r.left != 0 ? CF_EBADPARAM : CF_OK;
}

static cf_err restore_fn(struct cf_store_txn *t, void *arg)
{
    struct restore_ctx *c = arg;
    struct cf_rec_key_obj existing;
    struct cf_rec_key_ver *last = &c->vers[c->n - 1];
    cf_err e;

    e = cf_store_key_obj_get(t, c->v->id, c->name_lc, &existing);
    if (e == CF_OK)
        return existing.deleted_date ? CF_EDELETED : CF_EEXISTS;
    if (e != CF_ENOTFOUND)
        return e;
    memset(&c->obj, 0, sizeof(c->obj));
    c->obj.vault_id = c->v->id;
    memcpy(c->obj.name, c->name, sizeof(c->obj.name));
    memcpy(c->obj.name_lc, c->name_lc, sizeof(c->obj.name_lc));
    c->obj.latest_seq = last->seq;
    memcpy(c->obj.latest_version, last->version, sizeof(c->obj.latest_version));
    e = cf_store_key_obj_insert(t, &c->obj);
    for (size_t i = 0; !e && i < c->n; i++) {
        c->vers[i].object_id = c->obj.id;
        e = cf_store_key_ver_insert(t, &c->vers[i]);
    }
    if (!e && c->has_pol) {
        c->pol.object_id = c->obj.id;
        e = cf_store_key_policy_put(t, &c->pol);
    }
    /* Each HSM version takes a reference on its token object - which must still exist: an
     * object whose last row was purged is gone from the token (keys_hsm.c), and a restore
     * must not make a key that cannot work. */
    for (size_t i = 0; !e && i < c->nhsm; i++) {
        int64_t refs = 0;
        e = cf_key_hsm_ref(t, c->hsm_ids[i], +1, true, &refs);
        if (e == CF_ENOTFOUND) {
            cf_info("vault: restore refused: the backup's HSM key was purged from the token");
            e = CF_EBADPARAM;
        }
    }
    return e;
}

cf_err cf_key_restore(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                      struct cf_str blob_b64url, struct cf_key_meta *out)
{
    struct restore_ctx c;
    struct cf_secret *pl = NULL;
    struct cf_buf blob;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!svc || !v || !out)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    c.v = v;
    cf_buf_init(&blob, MAX_PAYLOAD + sizeof(magic) + CF_AEAD_OVERHEAD);
    e = cf_b64_decode(&blob, blob_b64url);
    if (e == CF_EINVAL)
        e = CF_EBADPARAM;
    if (e)
        goto out;
    if (blob.len < sizeof(magic) + CF_AEAD_OVERHEAD || memcmp(blob.data, magic, sizeof(magic))) {
        e = CF_EBADPARAM;
        goto out;
    }
    e = cf_aead_open(svc->backup_key, magic, sizeof(magic), blob.data + sizeof(magic),
                     blob.len - sizeof(magic), &pl);
    if (e) {
        e = e == CF_ENOMEM ? e : CF_EBADPARAM; /* corrupt or from another server */
        goto out;
    }
    e = parse_payload(svc, &c, pl);
    cf_secret_free(pl); /* wipes the plaintext payload */
    if (c.name[0])
        snprintf(out->name, sizeof(out->name), "%s", c.name);
    if (e)
        goto out;
    e = cf_store_write(svc->store, restore_fn, &c);
    cf_kcache_forget(svc->kcache, v->id, c.name_lc); /* after the commit: kcache.c */
    if (!e)
        cf_key_meta_take(out, &c.obj, &c.vers[c.n - 1]);

out:
    restore_release(&c);
    cf_buf_release(&blob);
    return e;
}

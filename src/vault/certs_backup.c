/* certs_backup.c - cf_cert_backup / cf_cert_restore (azure-kv-certificates.md §9): one blob
 * with every version of the certificate, its policy, and the key and secret versions it owns.
 *
 * Blob (before base64url): MAGIC(8) || AES-256-GCM seal(payload), AAD = MAGIC, under the
 * server's backup key (vault_int.h): the scheme of backup.c / keys_backup.c with a magic of its
 * own, so a certificate blob never restores as a key or secret one (nor the reverse). Only this
 * server can open it. Payload (big-endian):
 *   "CFCB" u8(1) | u16 name_len, name | u32 policy_len, policy | i64 policy_created, updated
 *   | u16 ncert x cert | u16 nkey x key | u16 nsecret x secret
 *   cert   = version[32] | u8 flags (1 enabled, 2 preserve_order) | i64 created, updated, nbf,
 *            exp | u8 x5t_len, x5t | u32 cer_len, cer | u32 chain_len, chain | u32 tags
 *            | key_version[32] | secret_version[32]
 *   key    = version[32] | u8 flags (1 enabled, 2 exportable, 4 managed, 8 imported) | u8 kty
 *            | u16 key_size | u8 crv | u16 key_ops | i64 nbf, exp, created, updated | u32 jwk
 *            | u32 tags | u32 release policy | u32 blob_len, private key (cf_kvkey_to_blob)
 *   secret = version[32] | u8 prev_len (0|32), prev | u8 flags (1 enabled, 2 managed)
 *            | i64 nbf, exp, created, updated | u32 content type | u32 tags | u16 kid
 *            | u32 value_len, value                         (u32 0xffffffff = absent text)
 * The payload holds private keys and secret values in clear: it lives only in buffers this
 * file wipes. Restore checks every private key parses as the type its version claims and that
 * every certificate version's key and secret versions are in the blob, then seals them for the
 * target vault (the AADs name the target vault). The pending operation is not backed up (an
 * operation in flight belongs to the vault that started it). */
#include "base/cf.h"
#include "base/codec.h"
#include "base/log.h"

#include "store/store_certs.h"
#include "vault/cert_hsm.h"
#include "vault/certs_int.h"
#include "vault/keys_int.h"

#define MAX_VERSIONS 500
#define MAX_TAGS_BYTES (64 * 1024)
#define MAX_RELEASE_BYTES (64 * 1024)
#define MAX_POLICY_BYTES (32 * 1024)
#define MAX_SECRET_BYTES (128 * 1024)
#define ABSENT 0xffffffffu
#define MAX_PAYLOAD ((size_t)16 * 1024 * 1024)

static const char magic[8] = {'C', 'O', 'F', 'B', 'K', 'C', '0', '1'};
static const char payload_magic[5] = {'C', 'F', 'C', 'B', 1};

/* ---------------- writing (plaintext buffers that wipe what they leave) ---------------- */

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

/* length (lbytes wide) + bytes; NULL as ABSENT (4-byte lengths only) */
static cf_err put_str(struct cf_buf *b, const char *s, int lbytes)
{
    cf_err e;
    if (!s)
        return put_uint(b, ABSENT, lbytes);
    e = put_uint(b, strlen(s), lbytes);
    return e ? e : put_bytes(b, s, strlen(s));
}

static cf_err put_blob(struct cf_buf *b, const void *p, size_t n)
{
    cf_err e = put_uint(b, n, 4);
    return e ? e : put_bytes(b, p, n);
}

/* ---------------- backup ---------------- */

struct backup_ctx {
    struct cf_vault_svc *svc;
    const struct cf_vault_ref *v;
    char name_lc[CF_MAX_NAME_LEN + 1];
    size_t ncerts; /* certificate versions written */
    unsigned char dek[CF_AEAD_KEY_LEN];
    struct cf_buf payload; /* plaintext: wiped */
};

static cf_err cert_ver_cb(const struct cf_rec_cert_obj *o, const struct cf_rec_cert_ver *v,
                          void *arg)
{
    struct backup_ctx *c = arg;
    struct cf_buf *b = &c->payload;
    cf_err e;

    (void)o;
    c->ncerts++;
    if (strlen(v->version) != CF_VERSION_HEX_LEN || strlen(v->key_version) != CF_VERSION_HEX_LEN ||
        strlen(v->secret_version) != CF_VERSION_HEX_LEN)
        return CF_ECORRUPT;
    if ((e = put_bytes(b, v->version, CF_VERSION_HEX_LEN)) ||
        (e = put_uint(b, (v->enabled ? 1u : 0u) | (v->preserve_order ? 2u : 0u), 1)) ||
        (e = put_uint(b, (uint64_t)v->created, 8)) || (e = put_uint(b, (uint64_t)v->updated, 8)) ||
        (e = put_uint(b, (uint64_t)v->nbf, 8)) || (e = put_uint(b, (uint64_t)v->exp, 8)) ||
        (e = put_str(b, v->x5t, 1)) || (e = put_blob(b, v->cer.data, v->cer.len)) ||
        (e = put_blob(b, v->chain.data, v->chain.len)) || (e = put_str(b, v->tags_json, 4)) ||
        (e = put_bytes(b, v->key_version, CF_VERSION_HEX_LEN)) ||
        (e = put_bytes(b, v->secret_version, CF_VERSION_HEX_LEN)))
        return e;
    return CF_OK;
}

static cf_err key_ver_cb(const struct cf_rec_key_obj *o, const struct cf_rec_key_ver *v, void *arg)
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
    e = cf_aead_open(c->dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, v->version), v->priv.data,
                     v->priv.len, &pt);
    if (e) {
        cf_error("vault: certificate backup: a key version in vault %lld does not open",
                 (long long)c->v->id);
        return e;
    }
    if ((e = put_bytes(b, v->version, CF_VERSION_HEX_LEN)) || (e = put_uint(b, flags, 1)) ||
        (e = put_str(b, v->kty, 1)) || (e = put_uint(b, (uint64_t)v->key_size, 2)) ||
        (e = put_str(b, v->crv, 1)) || (e = put_uint(b, v->key_ops, 2)) ||
        (e = put_uint(b, (uint64_t)v->nbf, 8)) || (e = put_uint(b, (uint64_t)v->exp, 8)) ||
        (e = put_uint(b, (uint64_t)v->created, 8)) || (e = put_uint(b, (uint64_t)v->updated, 8)) ||
        (e = put_str(b, v->public_jwk ? v->public_jwk : "{}", 4)) ||
        (e = put_str(b, v->tags_json, 4)) || (e = put_str(b, v->release_policy, 4)) ||
        (e = put_blob(b, pt->p, pt->len)))
        goto out;
out:
    cf_secret_free(pt);
    return e;
}

static cf_err secret_ver_cb(const struct cf_rec_secret_obj *o, const struct cf_rec_secret_ver *v,
                            void *arg)
{
    struct backup_ctx *c = arg;
    struct cf_buf *b = &c->payload;
    char aad[CF_SECRET_AAD_MAX];
    struct cf_secret *pt = NULL;
    size_t prev = strlen(v->prev_version);
    cf_err e;

    (void)o;
    if (strlen(v->version) != CF_VERSION_HEX_LEN || (prev && prev != CF_VERSION_HEX_LEN))
        return CF_ECORRUPT;
    e = cf_aead_open(c->dek, aad, cf_secret_aad(aad, c->v->id, c->name_lc, v->version),
                     v->value.data, v->value.len, &pt);
    if (e) {
        cf_error("vault: certificate backup: a secret version in vault %lld does not open",
                 (long long)c->v->id);
        return e;
    }
    if ((e = put_bytes(b, v->version, CF_VERSION_HEX_LEN)) || (e = put_uint(b, prev, 1)) ||
        (e = put_bytes(b, v->prev_version, prev)) ||
        (e = put_uint(b, (v->enabled ? 1u : 0u) | (v->managed ? 2u : 0u), 1)) ||
        (e = put_uint(b, (uint64_t)v->nbf, 8)) || (e = put_uint(b, (uint64_t)v->exp, 8)) ||
        (e = put_uint(b, (uint64_t)v->created, 8)) || (e = put_uint(b, (uint64_t)v->updated, 8)) ||
        (e = put_str(b, v->content_type, 4)) || (e = put_str(b, v->tags_json, 4)) ||
        (e = put_str(b, v->kid, 2)) || (e = put_blob(b, pt->p, pt->len)))
        goto out;
out:
    cf_secret_free(pt);
    return e;
}

static cf_err backup_fn(struct cf_store_txn *t, void *arg)
{
    struct backup_ctx *c = arg;
    struct cf_buf *b = &c->payload;
    struct cf_rec_cert_obj co;
    struct cf_rec_key_obj ko;
    struct cf_rec_secret_obj so;
    int64_t nk = 0, ns = 0;
    bool more = false;
    size_t nlen, count_at;
    cf_err e;

    cf_buf_wipe(b); /* restart clean if ever re-run */
    c->ncerts = 0;
    memset(&co, 0, sizeof(co));
    e = cf_store_cert_obj_get(t, c->v->id, c->name_lc, &co);
    if (!e && (co.deleted_date != 0 || co.latest_seq == 0))
        e = CF_ENOTFOUND; /* deleted, or only a pending operation so far */
    if (!e && co.latest_seq > MAX_VERSIONS)
        e = CF_ETOOBIG;
    if (e)
        goto out;
    /* a certificate without its key or secret is corrupt */
    if ((e = cf_store_key_obj_get(t, c->v->id, c->name_lc, &ko)) == CF_OK)
        e = cf_store_key_ver_count(t, ko.id, &nk);
    if (!e && (e = cf_store_secret_obj_get(t, c->v->id, c->name_lc, &so)) == CF_OK)
        e = cf_store_secret_ver_count(t, so.id, &ns);
    if (e == CF_ENOTFOUND)
        e = CF_ECORRUPT;
    if (!e && (nk < 1 || ns < 1 || nk > MAX_VERSIONS || ns > MAX_VERSIONS))
        e = nk < 1 || ns < 1 ? CF_ECORRUPT : CF_ETOOBIG;
    if (e)
        goto out;
    nlen = strlen(co.name);
    if ((e = put_bytes(b, payload_magic, sizeof(payload_magic))) || (e = put_uint(b, nlen, 2)) ||
        (e = put_bytes(b, co.name, nlen)) || (e = put_str(b, co.policy ? co.policy : "{}", 4)) ||
        (e = put_uint(b, (uint64_t)co.policy_created, 8)) ||
        (e = put_uint(b, (uint64_t)co.policy_updated, 8)))
        goto out;
    count_at = b->len; /* the count is known after the walk: patched in place */
    if ((e = put_uint(b, 0, 2)) != CF_OK ||
        (e = cf_store_cert_list_versions(t, co.id, 0, MAX_VERSIONS, true, cert_ver_cb, c, &more)) !=
            CF_OK)
        goto out;
    if (more || c->ncerts == 0) {
        e = more ? CF_ETOOBIG : CF_ENOTFOUND;
        goto out;
    }
    b->data[count_at] = (char)(c->ncerts >> 8);
    b->data[count_at + 1] = (char)(c->ncerts & 0xff);
    if ((e = put_uint(b, (uint64_t)nk, 2)) != CF_OK ||
        (e = cf_store_key_list_versions(t, ko.id, 0, MAX_VERSIONS, true, key_ver_cb, c, &more)) !=
            CF_OK ||
        (e = put_uint(b, (uint64_t)ns, 2)) != CF_OK)
        goto out;
    e = cf_store_secret_list_versions(t, so.id, 0, MAX_VERSIONS, true, secret_ver_cb, c, &more);
out:
    cf_rec_cert_obj_release(&co);
    return e;
}

cf_err cf_cert_backup(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
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
    c->svc = svc;
    c->v = v;
    cf_buf_init(&c->payload, MAX_PAYLOAD);
    cf_buf_init(&blob, MAX_PAYLOAD + sizeof(magic) + CF_AEAD_OVERHEAD);
    e = cf_secret_name_lc(name, c->name_lc);
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
    free(c);
    return e;
}

/* ---------------- restore ---------------- */

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

static bool is_hex32(const unsigned char *p)
{
    for (int i = 0; i < CF_VERSION_HEX_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

static void get_version(struct reader *r, char out[33])
{
    const unsigned char *p = take(r, CF_VERSION_HEX_LEN);
    out[0] = '\0';
    if (!p || !is_hex32(p)) {
        r->bad = true;
        return;
    }
    memcpy(out, p, CF_VERSION_HEX_LEN);
    out[CF_VERSION_HEX_LEN] = '\0';
}

/* A text field of lbytes length, without NULs, shorter than outsz, into a fixed array. */
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

/* A u32-length byte field (at most max); NULL on a bad length. */
static const unsigned char *get_blob(struct reader *r, size_t max, size_t *len)
{
    uint64_t n = get_uint(r, 4);
    if (r->bad || n > max) {
        r->bad = true;
        return NULL;
    }
    *len = (size_t)n;
    return take(r, (size_t)n);
}

struct restore_ctx {
    struct cf_vault_svc *svc;
    const struct cf_vault_ref *v;
    char name[CF_MAX_NAME_LEN + 1];
    char name_lc[CF_MAX_NAME_LEN + 1];
    char *policy;
    int64_t policy_created, policy_updated;
    struct cf_rec_cert_ver *certs;
    size_t ncerts;
    struct cf_rec_key_ver *keys;
    size_t nkeys;
    struct cf_rec_secret_ver *secrets;
    size_t nsecrets;
};

static void restore_release(struct restore_ctx *c)
{
    for (size_t i = 0; i < c->ncerts; i++)
        cf_rec_cert_ver_release(&c->certs[i]);
    for (size_t i = 0; i < c->nkeys; i++)
        cf_rec_key_ver_release(&c->keys[i]);
    for (size_t i = 0; i < c->nsecrets; i++)
        cf_rec_secret_ver_release(&c->secrets[i]);
    free(c->certs);
    free(c->keys);
    free(c->secrets);
    free(c->policy);
    memset(c, 0, sizeof(*c));
}

static cf_err parse_cert(struct reader *r, struct cf_rec_cert_ver *v)
{
    const unsigned char *p;
    uint64_t flags;
    size_t len;
    cf_err e = CF_OK;

    get_version(r, v->version);
    flags = get_uint(r, 1);
    v->enabled = flags & 1;
    v->preserve_order = (flags & 2) != 0;
    v->created = (int64_t)get_uint(r, 8);
    v->updated = (int64_t)get_uint(r, 8);
    v->nbf = (int64_t)get_uint(r, 8);
    v->exp = (int64_t)get_uint(r, 8);
    get_fixed(r, 1, v->x5t, sizeof(v->x5t));
    if ((p = get_blob(r, CF_STORE_CERT_DER_MAX, &len)) != NULL)
        e = cf_buf_append(&v->cer, p, len);
    if (!e && (p = get_blob(r, CF_STORE_CERT_CHAIN_MAX, &len)) != NULL)
        e = cf_buf_append(&v->chain, p, len);
    if (!e)
        v->tags_json = get_text(r, MAX_TAGS_BYTES, true, &e);
    get_version(r, v->key_version);
    get_version(r, v->secret_version);
    if (!e && (r->bad || (flags & ~3u) || v->cer.len == 0 ||
               cf_cert_info(v->cer.data, v->cer.len, &(struct cf_cert_info){0}) != CF_OK))
        e = CF_EBADPARAM;
    return e;
}

static cf_err parse_key(struct reader *r, const unsigned char dek[CF_AEAD_KEY_LEN],
                        const struct restore_ctx *c, struct cf_rec_key_ver *v)
{
    char aad[KEY_AAD_MAX];
    const unsigned char *p;
    struct cf_kvkey *k = NULL;
    uint64_t flags;
    size_t len = 0;
    cf_err e = CF_OK;

    get_version(r, v->version);
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
    p = get_blob(r, PRIV_MAX, &len);
    if (e || r->bad || !p || (flags & ~15u) || v->key_ops > 0xff)
        return e ? e : CF_EBADPARAM;
    v->enabled = flags & 1;
    v->exportable = (flags & 2) != 0;
    v->managed = (flags & 4) != 0;
    v->imported = (flags & 8) != 0;
    if (cf_cert_hsm_kty(v->kty)) /* a token handle (cert_hsm.h): the object stays shared */
        e = len == HSM_BLOB_LEN && memcmp(p, HSM_TAG, HSM_TAG_LEN) == 0 ? CF_OK : CF_EBADPARAM;
    else if ((e = cf_kvkey_from_blob(p, len, &k)) != CF_OK ||
             strcmp(v->kty, cf_kvkey_type(k) == CF_KTY_RSA  ? "RSA"
                            : cf_kvkey_type(k) == CF_KTY_EC ? "EC"
                                                            : "oct") != 0)
        e = e == CF_ENOMEM ? e : CF_EBADPARAM;
    cf_kvkey_free(k);
    if (!e)
        e = cf_aead_seal(dek, aad, cf_key_aad(aad, c->v->id, c->name_lc, v->version), p, len,
                         &v->priv);
    return e;
}

static cf_err parse_secret(struct reader *r, const unsigned char dek[CF_AEAD_KEY_LEN],
                           const struct restore_ctx *c, struct cf_rec_secret_ver *v)
{
    char aad[CF_SECRET_AAD_MAX];
    const unsigned char *p;
    uint64_t prev, flags;
    size_t len = 0;
    cf_err e = CF_OK;

    get_version(r, v->version);
    prev = get_uint(r, 1);
    if (prev == CF_VERSION_HEX_LEN)
        get_version(r, v->prev_version);
    else if (prev != 0)
        r->bad = true;
    flags = get_uint(r, 1);
    v->enabled = flags & 1;
    v->managed = (flags & 2) != 0;
    v->nbf = (int64_t)get_uint(r, 8);
    v->exp = (int64_t)get_uint(r, 8);
    v->created = (int64_t)get_uint(r, 8);
    v->updated = (int64_t)get_uint(r, 8);
    v->content_type = get_text(r, CF_MAX_CONTENT_TYPE, true, &e);
    v->tags_json = get_text(r, MAX_TAGS_BYTES, true, &e);
    get_fixed(r, 2, v->kid, sizeof(v->kid));
    p = get_blob(r, MAX_SECRET_BYTES, &len);
    if (e || r->bad || !p || (flags & ~3u))
        return e ? e : CF_EBADPARAM;
    return cf_aead_seal(dek, aad, cf_secret_aad(aad, c->v->id, c->name_lc, v->version), p, len,
                        &v->value);
}

static bool has_key_version(const struct restore_ctx *c, const char *version)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (strcmp(c->keys[i].version, version) == 0)
            return true;
    return false;
}

static bool has_secret_version(const struct restore_ctx *c, const char *version)
{
    for (size_t i = 0; i < c->nsecrets; i++)
        if (strcmp(c->secrets[i].version, version) == 0)
            return true;
    return false;
}

/* Parses the opened payload, sealing keys and secret values under the target vault's key. */
static cf_err parse_payload(struct cf_vault_svc *svc, struct restore_ctx *c,
                            const struct cf_secret *pl)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    struct reader r = {pl->p, pl->len, false};
    const unsigned char *p;
    uint64_t nlen, n;
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
    c->policy = get_text(&r, MAX_POLICY_BYTES, false, &e);
    c->policy_created = (int64_t)get_uint(&r, 8);
    c->policy_updated = (int64_t)get_uint(&r, 8);
    if (e || r.bad)
        return e ? e : CF_EBADPARAM;

    n = get_uint(&r, 2);
    if (r.bad || n < 1 || n > MAX_VERSIONS)
        return CF_EBADPARAM;
    if (!(c->certs = calloc((size_t)n, sizeof(*c->certs))))
        return CF_ENOMEM;
    for (uint64_t i = 0; i < n && !e; i++) {
        struct cf_rec_cert_ver *v = &c->certs[c->ncerts++];
        cf_rec_cert_ver_init(v);
        v->seq = (int64_t)i + 1;
        e = parse_cert(&r, v);
    }
    if (e)
        return e;
    if ((e = cf_vault_dek(svc, c->v, dek)) != CF_OK)
        return e;
    n = get_uint(&r, 2);
    if (r.bad || n < 1 || n > MAX_VERSIONS || !(c->keys = calloc((size_t)n, sizeof(*c->keys))))
        e = r.bad || n < 1 || n > MAX_VERSIONS ? CF_EBADPARAM : CF_ENOMEM;
    for (uint64_t i = 0; !e && i < n; i++) {
        struct cf_rec_key_ver *v = &c->keys[c->nkeys++];
        cf_buf_init(&v->priv, PRIV_MAX);
        v->seq = (int64_t)i + 1;
        e = parse_key(&r, dek, c, v);
    }
    if (!e) {
        n = get_uint(&r, 2);
        if (r.bad || n < 1 || n > MAX_VERSIONS ||
            !(c->secrets = calloc((size_t)n, sizeof(*c->secrets))))
            e = r.bad || n < 1 || n > MAX_VERSIONS ? CF_EBADPARAM : CF_ENOMEM;
    }
    for (uint64_t i = 0; !e && i < n; i++) {
        struct cf_rec_secret_ver *v = &c->secrets[c->nsecrets++];
        cf_buf_init(&v->value, MAX_SECRET_BYTES + CF_AEAD_OVERHEAD);
        v->seq = (int64_t)i + 1;
        e = parse_secret(&r, dek, c, v);
    }
    cf_wipe(dek, sizeof(dek));
    if (e)
        return e;
    if (r.bad || r.left != 0)
        return CF_EBADPARAM;
    /* every certificate version finds the key and secret it owns; no version id twice */
    for (size_t i = 0; i < c->ncerts; i++) {
        if (!has_key_version(c, c->certs[i].key_version) ||
            !has_secret_version(c, c->certs[i].secret_version))
            return CF_EBADPARAM;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->certs[i].version, c->certs[j].version) == 0)
                return CF_EBADPARAM;
    }
    for (size_t i = 0; i < c->nkeys; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->keys[i].version, c->keys[j].version) == 0)
                return CF_EBADPARAM;
    for (size_t i = 0; i < c->nsecrets; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->secrets[i].version, c->secrets[j].version) == 0)
                return CF_EBADPARAM;
    return CF_OK;
}

static cf_err restore_fn(struct cf_store_txn *t, void *arg)
{
    struct restore_ctx *c = arg;
    struct cf_rec_cert_obj co;
    struct cf_rec_key_obj ko;
    struct cf_rec_secret_obj so;
    cf_err e;

    memset(&co, 0, sizeof(co));
    e = cf_store_cert_obj_get(t, c->v->id, c->name_lc, &co);
    if (e == CF_OK) {
        e = co.deleted_date ? CF_EDELETED : CF_EEXISTS;
        cf_rec_cert_obj_release(&co);
        return e;
    }
    if (e != CF_ENOTFOUND)
        return e;
    /* the key and secret names must be free too (a plain key or secret holds them) */
    e = cf_store_key_obj_get(t, c->v->id, c->name_lc, &ko);
    if (e != CF_ENOTFOUND)
        return e ? e : (ko.deleted_date ? CF_EDELETED : CF_EEXISTS);
    e = cf_store_secret_obj_get(t, c->v->id, c->name_lc, &so);
    if (e != CF_ENOTFOUND)
        return e ? e : (so.deleted_date ? CF_EDELETED : CF_EEXISTS);

    memset(&co, 0, sizeof(co));
    co.vault_id = c->v->id;
    memcpy(co.name, c->name, sizeof(co.name));
    memcpy(co.name_lc, c->name_lc, sizeof(co.name_lc));
    co.latest_seq = c->certs[c->ncerts - 1].seq;
    memcpy(co.latest_version, c->certs[c->ncerts - 1].version, sizeof(co.latest_version));
    co.policy = c->policy; /* borrowed: the store copies */
    co.policy_created = c->policy_created;
    co.policy_updated = c->policy_updated;
    e = cf_store_cert_obj_insert(t, &co);
    for (size_t i = 0; !e && i < c->ncerts; i++) {
        c->certs[i].object_id = co.id;
        e = cf_store_cert_ver_insert(t, &c->certs[i]);
    }
    if (e)
        return e;

    memset(&ko, 0, sizeof(ko));
    ko.vault_id = c->v->id;
    memcpy(ko.name, c->name, sizeof(ko.name));
    memcpy(ko.name_lc, c->name_lc, sizeof(ko.name_lc));
    ko.latest_seq = c->keys[c->nkeys - 1].seq;
    memcpy(ko.latest_version, c->keys[c->nkeys - 1].version, sizeof(ko.latest_version));
    e = cf_store_key_obj_insert(t, &ko);
    for (size_t i = 0; !e && i < c->nkeys; i++) {
        c->keys[i].object_id = ko.id;
        e = cf_store_key_ver_insert(t, &c->keys[i]);
    }
    if (!e) /* HSM key versions take their references on the token objects */
        e = cf_cert_hsm_restore_refs_txn(t, c->svc, c->v, c->name_lc, c->keys, c->nkeys);
    if (e)
        return e;

    memset(&so, 0, sizeof(so));
    so.vault_id = c->v->id;
    memcpy(so.name, c->name, sizeof(so.name));
    memcpy(so.name_lc, c->name_lc, sizeof(so.name_lc));
    so.latest_seq = c->secrets[c->nsecrets - 1].seq;
    memcpy(so.latest_version, c->secrets[c->nsecrets - 1].version, sizeof(so.latest_version));
    e = cf_store_secret_obj_insert(t, &so);
    for (size_t i = 0; !e && i < c->nsecrets; i++) {
        c->secrets[i].object_id = so.id;
        e = cf_store_secret_ver_insert(t, &c->secrets[i]);
    }
    return e;
}

cf_err cf_cert_restore(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                       struct cf_str blob_b64url, struct cf_cert_meta *out)
{
    struct restore_ctx *c = NULL;
    struct cf_secret *pl = NULL;
    struct cf_buf blob;
    cf_err e;

    if (out) {
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
        cf_buf_init(&out->cer, CF_STORE_CERT_DER_MAX);
    }
    if (!svc || !v || !out)
        return CF_EINVAL;
    cf_buf_init(&blob, MAX_PAYLOAD + sizeof(magic) + CF_AEAD_OVERHEAD);
    if (!(c = calloc(1, sizeof(*c)))) {
        e = CF_ENOMEM;
        goto out;
    }
    c->svc = svc;
    c->v = v;
    e = cf_b64_decode(&blob, blob_b64url);
    if (e == CF_EINVAL || e == CF_ETOOBIG)
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
    e = parse_payload(svc, c, pl);
    cf_secret_free(pl); /* wipes the plaintext payload */
    if (c->name[0])
        snprintf(out->name, sizeof(out->name), "%s", c->name);
    if (e)
        goto out;
    e = cf_store_write(svc->store, restore_fn, c);
    cf_key_cert_forget(svc, v->id, c->name_lc); /* after the commit: kcache.c */
    cf_scache_forget(svc->scache, v->id, c->name_lc);
    if (!e) {
        cf_cert_meta_release(out);
        e = cf_cert_get(svc, v, cf_str_from(c->name), CF_STR(""), out);
    }
out:
    if (c)
        restore_release(c);
    free(c);
    cf_buf_release(&blob);
    return e;
}

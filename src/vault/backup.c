/* backup.c - cf_secret_backup / cf_secret_restore (azure-kv-secrets.md §12-§13).
 *
 * Blob (before base64url, no padding):  MAGIC(8) || AES-256-GCM seal(payload), AAD = MAGIC,
 * under the backup key = HKDF-SHA256(derivation root, info "coffer backup v1"). Only this
 * server (its root, which outlives master-key rotations) can open it, and any change to it
 * fails the tag.
 * Payload (big-endian integers), a binary format rather than JSON so that the plaintext values
 * only ever live in buffers this file wipes (a JSON parser would copy them into its own,
 * unwiped allocations):
 *   "CFSB" u8(1) | u16 name_len, name | u16 count | count x version
 *   version = version[32] | u8 prev_len (0|32), prev | u8 flags (1 enabled, 2 managed)
 *           | i64 nbf, exp, created, updated | u32 ct_len, ct | u32 tags_len, tags
 *           | u16 kid_len, kid | u32 value_len, value          (u32 0xffffffff = absent)
 * At most CF_BACKUP_MAX_VERSIONS versions per blob. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/log.h"

#include "vault/vault_int.h"

#define CF_BACKUP_MAX_VERSIONS 500
#define MAX_VALUE_BYTES (4 * CF_MAX_SECRET_VALUE_CHARS)
#define MAX_TAGS_BYTES (64 * 1024)
#define ABSENT 0xffffffffu
#define MAX_BLOB (CF_BACKUP_MAX_VERSIONS * (size_t)(MAX_VALUE_BYTES + 2 * MAX_TAGS_BYTES))

static const char magic[8] = {'C', 'O', 'F', 'B', 'K', 'P', '0', '1'};
static const char payload_magic[5] = {'C', 'F', 'S', 'B', 1};

/* ---------------- a buffer for plaintext that wipes what it leaves behind ---------------- */

/* Grows b for extra more bytes by moving into a new allocation and wiping the old one, so no
 * stale plaintext copy is left in freed memory (realloc would leave one). */
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

/* u32 length + bytes, or ABSENT for NULL */
static cf_err put_opt_str(struct cf_buf *b, const char *s)
{
    cf_err e;
    if (!s)
        return put_uint(b, ABSENT, 4);
    e = put_uint(b, strlen(s), 4);
    return e ? e : put_bytes(b, s, strlen(s));
}

/* ---------------- backup ---------------- */

struct backup_ctx {
    struct cf_vault_svc *svc;
    const struct cf_vault_ref *v;
    char name_lc[CF_MAX_NAME_LEN + 1];
    unsigned char dek[CF_AEAD_KEY_LEN];
    struct cf_rec_secret_obj obj;
    struct cf_buf payload; /* plaintext: wiped */
};

static cf_err backup_ver_cb(const struct cf_rec_secret_obj *o, const struct cf_rec_secret_ver *v,
                            void *arg)
{
    struct backup_ctx *c = arg;
    struct cf_buf *b = &c->payload;
    char aad[CF_SECRET_AAD_MAX];
    struct cf_secret *pt = NULL;
    size_t prev = strlen(v->prev_version), kid = strlen(v->kid);
    cf_err e;

    (void)o;
    e = cf_aead_open(c->dek, aad, cf_secret_aad(aad, c->v->id, c->name_lc, v->version),
                     v->value.data, v->value.len, &pt);
    if (e) {
        cf_error("vault: backup: a version in vault %lld does not open", (long long)c->v->id);
        return e;
    }
    if (strlen(v->version) != CF_VERSION_HEX_LEN || (prev && prev != CF_VERSION_HEX_LEN)) {
        e = CF_ECORRUPT;
        goto out;
    }
    /* A certificate's secret is backed up with its certificate (certs_backup.c): restored on
     * its own it would be a managed secret no certificate owns, which nothing could ever
     * change or delete (secrets.c refuses every write to a managed secret). */
    if (v->managed) {
        e = CF_EFORBIDDEN;
        goto out;
    }
    if ((e = put_bytes(b, v->version, CF_VERSION_HEX_LEN)) || (e = put_uint(b, prev, 1)) ||
        (e = put_bytes(b, v->prev_version, prev)) ||
        (e = put_uint(b, (v->enabled ? 1u : 0u) | (v->managed ? 2u : 0u), 1)) ||
        (e = put_uint(b, (uint64_t)v->nbf, 8)) || (e = put_uint(b, (uint64_t)v->exp, 8)) ||
        (e = put_uint(b, (uint64_t)v->created, 8)) || (e = put_uint(b, (uint64_t)v->updated, 8)) ||
        (e = put_opt_str(b, v->content_type)) || (e = put_opt_str(b, v->tags_json)) ||
        (e = put_uint(b, kid, 2)) || (e = put_bytes(b, v->kid, kid)) ||
        (e = put_uint(b, pt->len, 4)) || (e = put_bytes(b, pt->p, pt->len)))
        goto out;

out:
    cf_secret_free(pt);
    return e;
}

static cf_err backup_fn(struct cf_store_txn *t, void *arg)
{
    struct backup_ctx *c = arg;
    size_t nlen;
    int64_t n = 0;
    bool more = false;
    cf_err e;

    cf_buf_wipe(&c->payload); /* restart clean if ever re-run */
    e = cf_store_secret_obj_get(t, c->v->id, c->name_lc, &c->obj);
    if (!e && c->obj.deleted_date != 0)
        e = CF_ENOTFOUND;
    if (!e)
        e = cf_store_secret_ver_count(t, c->obj.id, &n);
    if (e)
        return e;
    if (n < 1 || n > CF_BACKUP_MAX_VERSIONS)
        return n < 1 ? CF_ENOTFOUND : CF_ETOOBIG;
    nlen = strlen(c->obj.name);
    if ((e = put_bytes(&c->payload, payload_magic, sizeof(payload_magic))) ||
        (e = put_uint(&c->payload, nlen, 2)) || (e = put_bytes(&c->payload, c->obj.name, nlen)) ||
        (e = put_uint(&c->payload, (uint64_t)n, 2)))
        return e;
    e = cf_store_secret_list_versions(t, c->obj.id, 0, CF_BACKUP_MAX_VERSIONS, true, backup_ver_cb,
                                      c, &more);
    return e;
}

cf_err cf_secret_backup(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                        struct cf_buf *out)
{
    struct backup_ctx c;
    struct cf_buf blob;
    cf_err e;

    if (!svc || !v || !out)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    e = cf_secret_name_lc(name, c.name_lc);
    if (e)
        return e;
    c.svc = svc;
    c.v = v;
    cf_buf_init(&c.payload, MAX_BLOB);
    cf_buf_init(&blob, MAX_BLOB + sizeof(magic) + CF_AEAD_OVERHEAD);
    e = cf_vault_dek(svc, v, c.dek);
    if (e)
        goto out;
    e = cf_store_read(svc->store, backup_fn, &c);
    if (e)
        goto out;
    e = cf_buf_append(&blob, magic, sizeof(magic));
    if (!e)
        e = cf_aead_seal(svc->backup_key, magic, sizeof(magic), c.payload.data, c.payload.len,
                         &blob);
    if (!e)
        e = cf_b64url_encode(out, blob.data, blob.len);

out:
    cf_wipe(c.dek, sizeof(c.dek));
    cf_buf_wipe(&c.payload);
    cf_buf_release(&blob);
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
    for (int i = 0; i < CF_VERSION_HEX_LEN; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    }
    return true;
}

/* Text field that must not hold NUL bytes; NULL out when absent (allowed only if opt). */
static char *get_text(struct reader *r, uint64_t len, size_t max, bool absent_ok, cf_err *e)
{
    const unsigned char *p;
    char *s;

    if (len == ABSENT && absent_ok)
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

struct restore_ctx {
    const struct cf_vault_ref *v;
    char name[CF_MAX_NAME_LEN + 1];
    char name_lc[CF_MAX_NAME_LEN + 1];
    struct cf_rec_secret_ver *vers;
    size_t n;
    struct cf_rec_secret_obj obj;
};

static void restore_release(struct restore_ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        cf_rec_secret_ver_release(&c->vers[i]);
    free(c->vers);
    c->vers = NULL;
    c->n = 0;
}

/* Parses the opened payload into c->vers, sealing each value under the target vault's key. */
static cf_err parse_payload(struct cf_vault_svc *svc, struct restore_ctx *c,
                            const struct cf_secret *pl)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[CF_SECRET_AAD_MAX];
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
    if (r.bad || count < 1 || count > CF_BACKUP_MAX_VERSIONS)
        return CF_EBADPARAM;
    c->vers = calloc((size_t)count, sizeof(*c->vers));
    if (!c->vers)
        return CF_ENOMEM;
    e = cf_vault_dek(svc, c->v, dek);
    if (e)
        return e;

    for (uint64_t i = 0; i < count && !e && !r.bad; i++) {
        struct cf_rec_secret_ver *v = &c->vers[c->n++];
        uint64_t prev, flags, len;
        char *kid;

        cf_buf_init(&v->value, MAX_VALUE_BYTES + CF_AEAD_OVERHEAD);
        v->seq = (int64_t)i + 1;
        p = take(&r, CF_VERSION_HEX_LEN);
        if (!p || !is_hex32(p)) {
            r.bad = true;
            break;
        }
        memcpy(v->version, p, CF_VERSION_HEX_LEN);
        prev = get_uint(&r, 1);
        if (prev != 0 && prev != CF_VERSION_HEX_LEN)
            r.bad = true;
        p = take(&r, (size_t)prev);
        if (!p || (prev && !is_hex32(p))) {
            r.bad = true;
            break;
        }
        memcpy(v->prev_version, p, (size_t)prev);
        flags = get_uint(&r, 1);
        if (flags & ~3u)
            r.bad = true;
        v->enabled = flags & 1;
        if (flags & 2) /* managed: never in a secret backup (see the writer), refused */
            r.bad = true;
        v->nbf = (int64_t)get_uint(&r, 8);
        v->exp = (int64_t)get_uint(&r, 8);
        v->created = (int64_t)get_uint(&r, 8);
        v->updated = (int64_t)get_uint(&r, 8);
        v->content_type = get_text(&r, get_uint(&r, 4), CF_MAX_CONTENT_TYPE, true, &e);
        v->tags_json = get_text(&r, get_uint(&r, 4), MAX_TAGS_BYTES, true, &e);
        kid = get_text(&r, get_uint(&r, 2), sizeof(v->kid) - 1, false, &e);
        if (kid)
            memcpy(v->kid, kid, strlen(kid) + 1);
        free(kid);
        len = get_uint(&r, 4);
        if (len > MAX_VALUE_BYTES)
            r.bad = true;
        p = take(&r, (size_t)len);
        if (!p)
            r.bad = true;
        if (e || r.bad)
            break;
        for (size_t j = 0; j + 1 < c->n; j++) {
            if (memcmp(c->vers[j].version, v->version, CF_VERSION_HEX_LEN) == 0)
                r.bad = true; /* a version id twice */
        }
        if (!r.bad)
            e = cf_aead_seal(dek, aad, cf_secret_aad(aad, c->v->id, c->name_lc, v->version), p,
                             (size_t)len, &v->value);
    }
    cf_wipe(dek, sizeof(dek));
    if (!e && (r.bad || c->n != count || r.left != 0))
        e = CF_EBADPARAM;
    return e;
}

static cf_err restore_fn(struct cf_store_txn *t, void *arg)
{
    struct restore_ctx *c = arg;
    struct cf_rec_secret_obj existing;
    struct cf_rec_secret_ver *last = &c->vers[c->n - 1];
    cf_err e;

    e = cf_store_secret_obj_get(t, c->v->id, c->name_lc, &existing);
    if (e == CF_OK)
        return CF_EEXISTS; /* live or soft-deleted: the name is not free */
    if (e != CF_ENOTFOUND)
        return e;
    memset(&c->obj, 0, sizeof(c->obj));
    c->obj.vault_id = c->v->id;
    memcpy(c->obj.name, c->name, sizeof(c->obj.name));
    memcpy(c->obj.name_lc, c->name_lc, sizeof(c->obj.name_lc));
    c->obj.latest_seq = last->seq;
    memcpy(c->obj.latest_version, last->version, sizeof(c->obj.latest_version));
    e = cf_store_secret_obj_insert(t, &c->obj);
    for (size_t i = 0; !e && i < c->n; i++) {
        c->vers[i].object_id = c->obj.id;
        e = cf_store_secret_ver_insert(t, &c->vers[i]);
    }
    return e;
}

cf_err cf_secret_restore(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str blob_b64url, struct cf_secret_meta *out)
{
    struct restore_ctx c;
    struct cf_secret *pl = NULL;
    struct cf_buf blob;
    cf_err e;

    if (out)
        memset(out, 0, sizeof(*out)); /* release-safe on every path */
    if (!svc || !v)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    c.v = v;
    cf_buf_init(&blob, MAX_BLOB + sizeof(magic) + CF_AEAD_OVERHEAD);
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
    if (e)
        goto out;
    e = cf_store_write(svc->store, restore_fn, &c);
    if (c.n > 0)
        cf_scache_forget(svc->scache, v->id, c.obj.name_lc);
    if (!e)
        cf_secret_meta_take(out, &c.obj, &c.vers[c.n - 1]);

out:
    restore_release(&c);
    cf_buf_release(&blob);
    return e;
}

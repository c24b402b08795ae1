/* keys_hsm.c - reference counts of HSM token objects (keys_int.h), so that purging a key -
 * one by one, by retention expiry in bulk, or with its whole vault - destroys exactly the token
 * objects no other version row still holds.
 *
 * Map: tag (meta name of an id) -> cf_key_hsm_ref (count +-) -> release of an object's versions
 * (handles opened with the vault's data key read in the same txn) / of a vault's objects ->
 * destroy after the commit.
 *
 * Why counts: a restored backup of an HSM key carries the same token handle as its source (the
 * key cannot leave the token), so two rows - in two vaults, say - share one object; destroying
 * it on the first purge would break the other. Invariant: for every token object a key version
 * row holds, meta "hsm.ref.<tag>" holds the number of such rows (create and restore +1, every
 * purge path -1 in the same transaction as the rows' removal; at 0 the row goes and the
 * object is destroyed after the commit). The tag is a hash of the id, not the id, so the meta
 * table alone does not name token objects. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "vault/keys_int.h"

#define REF_PREFIX "hsm.ref."
#define REF_INFO "coffer hsm ref v1"

static cf_err tag_of(const unsigned char id[CF_VAULT_HSM_ID_LEN], char out[64])
{
    unsigned char in[sizeof(REF_INFO) - 1 + CF_VAULT_HSM_ID_LEN], h[CF_SHA256_LEN];
    cf_err e;

    memcpy(in, REF_INFO, sizeof(REF_INFO) - 1);
    memcpy(in + sizeof(REF_INFO) - 1, id, CF_VAULT_HSM_ID_LEN);
    e = cf_sha256(in, sizeof(in), h);
    if (!e) {
        memcpy(out, REF_PREFIX, sizeof(REF_PREFIX) - 1);
        cf_hex_encode(out + sizeof(REF_PREFIX) - 1, h, 16);
        out[sizeof(REF_PREFIX) - 1 + 32] = '\0';
    }
    return e;
}

cf_err cf_key_hsm_ref(struct cf_store_txn *t, const unsigned char id[CF_VAULT_HSM_ID_LEN],
                      int delta, bool must_exist, int64_t *left)
{
    char tag[64], num[24];
    struct cf_buf b;
    int64_t n = 0;
    cf_err e;

    *left = 0;
    if ((e = tag_of(id, tag)))
        return e;
    cf_buf_init(&b, 64);
    e = cf_store_meta_get(t, tag, &b);
    if (e == CF_OK) {
        if (b.len == 0 || b.len >= sizeof(num) ||
            !cf_str_to_i64((struct cf_str){b.data, b.len}, &n) || n < 0)
            e = CF_ECORRUPT;
    } else if (e == CF_ENOTFOUND) {
        if (delta > 0 && must_exist)
            goto out;
        n = delta < 0 ? 1 : 0; /* a version from before the counts held the object alone */
        e = CF_OK;
    }
    if (e)
        goto out;
    n += delta;
    if (n < 0)
        n = 0;
    *left = n;
    if (n == 0) {
        e = cf_store_meta_del(t, tag);
        if (e == CF_ENOTFOUND)
            e = CF_OK;
    } else {
        int k = snprintf(num, sizeof(num), "%lld", (long long)n);
        e = cf_store_meta_put(t, tag, num, (size_t)k);
    }
out:
    cf_buf_release(&b);
    return e;
}

/* The sealed handles of an object's HSM versions (read first, opened after the listing). */
struct sealed_ver {
    char version[CF_VERSION_HEX_LEN + 1];
    struct cf_buf priv;
};
struct ver_list {
    struct sealed_ver *v;
    size_t n, cap;
    int64_t last;
};

static cf_err ver_cb(const struct cf_rec_key_obj *o, const struct cf_rec_key_ver *v, void *arg)
{
    struct ver_list *l = arg;
    (void)o;
    l->last = v->seq;
    if (!cf_key_kty_is_hsm(v->kty))
        return CF_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        void *p = realloc(l->v, cap * sizeof(*l->v));
        if (!p)
            return CF_ENOMEM;
        l->v = p;
        l->cap = cap;
    }
    snprintf(l->v[l->n].version, sizeof(l->v[l->n].version), "%s", v->version);
    cf_buf_init(&l->v[l->n].priv, v->priv.len + 1);
    if (cf_buf_append(&l->v[l->n].priv, v->priv.data, v->priv.len) != CF_OK) {
        cf_buf_release(&l->v[l->n].priv);
        return CF_ENOMEM;
    }
    l->n++;
    return CF_OK;
}

static void ver_list_release(struct ver_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        cf_buf_release(&l->v[i].priv);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static cf_err gone_add(struct cf_key_hsm_gone *g, const unsigned char id[CF_VAULT_HSM_ID_LEN])
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 8;
        void *p = realloc(g->ids, cap * CF_VAULT_HSM_ID_LEN);
        if (!p)
            return CF_ENOMEM;
        g->ids = p;
        g->cap = cap;
    }
    memcpy(g->ids[g->n++], id, CF_VAULT_HSM_ID_LEN);
    return CF_OK;
}

cf_err cf_key_hsm_release_object(struct cf_store_txn *t, struct cf_vault_svc *svc,
                                 const struct cf_rec_key_obj *o, struct cf_key_hsm_gone *gone)
{
    unsigned char dek[CF_AEAD_KEY_LEN], id[CF_VAULT_HSM_ID_LEN];
    struct ver_list l = {0};
    bool more = true, have_dek = false;
    cf_err e = CF_OK;

    while (!e && more)
        e = cf_store_key_list_versions(t, o->id, l.last, 100, true, ver_cb, &l, &more);
    for (size_t i = 0; !e && i < l.n; i++) {
        struct cf_secret *blob = NULL;
        char aad[KEY_AAD_MAX];
        int64_t left = 0;

        if (!have_dek && !(e = cf_vault_dek_txn(t, svc, o->vault_id, dek)))
            have_dek = true;
        if (e)
            break;
        if (cf_aead_open(dek, aad, cf_key_aad(aad, o->vault_id, o->name_lc, l.v[i].version),
                         l.v[i].priv.data, l.v[i].priv.len, &blob) != CF_OK ||
            blob->len != HSM_BLOB_LEN || memcmp(blob->p, HSM_TAG, HSM_TAG_LEN) != 0) {
            /* not ours to judge here: the purge goes on, the object (if any) stays */
            cf_warn("vault: an HSM key version in vault %lld does not open; its token object "
                    "stays",
                    (long long)o->vault_id);
            cf_secret_free(blob);
            continue;
        }
        memcpy(id, (const unsigned char *)blob->p + HSM_TAG_LEN, CF_VAULT_HSM_ID_LEN);
        cf_secret_free(blob);
        e = cf_key_hsm_ref(t, id, -1, false, &left);
        if (!e && left == 0)
            e = gone_add(gone, id);
    }
    cf_wipe(dek, sizeof(dek));
    cf_wipe(id, sizeof(id));
    ver_list_release(&l);
    return e;
}

struct obj_list {
    struct cf_rec_key_obj *o;
    size_t n, cap;
    char last[CF_MAX_NAME_LEN + 1];
};

static cf_err obj_cb(const struct cf_rec_key_obj *o, const struct cf_rec_key_ver *v, void *arg)
{
    struct obj_list *l = arg;
    (void)v;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *p = realloc(l->o, cap * sizeof(*l->o));
        if (!p)
            return CF_ENOMEM;
        l->o = p;
        l->cap = cap;
    }
    l->o[l->n++] = *o;
    snprintf(l->last, sizeof(l->last), "%s", o->name_lc);
    return CF_OK;
}

cf_err cf_key_hsm_release_vault(struct cf_store_txn *t, struct cf_vault_svc *svc, int64_t vault_id,
                                struct cf_key_hsm_gone *gone)
{
    struct obj_list l = {0};
    cf_err e = CF_OK;

    for (int deleted = 0; !e && deleted < 2; deleted++) {
        bool more = true;
        l.last[0] = '\0';
        while (!e && more)
            e = cf_store_key_list(t, vault_id, deleted != 0, l.last, 200, obj_cb, &l, &more);
    }
    for (size_t i = 0; !e && i < l.n; i++)
        e = cf_key_hsm_release_object(t, svc, &l.o[i], gone);
    free(l.o);
    return e;
}

void cf_key_hsm_destroy_gone(struct cf_vault_svc *svc, struct cf_key_hsm_gone *gone)
{
    if (gone->n && (!svc->hsm || !svc->hsm_ops))
        cf_warn("vault: %zu purged HSM key objects stay on the token: no token is open", gone->n);
    for (size_t i = 0; svc->hsm && svc->hsm_ops && i < gone->n; i++)
        if (svc->hsm_ops->destroy(svc->hsm, gone->ids[i]) != CF_OK)
            cf_warn("vault: a purged HSM key's objects could not be removed from the token");
    cf_key_hsm_gone_release(gone);
}

void cf_key_hsm_gone_release(struct cf_key_hsm_gone *gone)
{
    if (gone->ids)
        cf_wipe(gone->ids, gone->cap * CF_VAULT_HSM_ID_LEN);
    free(gone->ids);
    memset(gone, 0, sizeof(*gone));
}

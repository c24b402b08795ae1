/* keys_import_int.c - the key side of a certificate (certs.c): a key version built from an
 * externally generated or imported private key, with the version id the certificate chose,
 * written inside the certificate's own store transaction; and the opening of such a version
 * (renewal with reuse_key, re-encoding the secret). Uses keys_int.h so the sealing, the AAD
 * and the record layout stay exactly those of keys.c; keys.c itself is not touched.
 *
 * Declared in certs_int.h (not part of the contract). */
#include "base/cf.h"
#include "base/log.h"

#include "vault/certs_int.h"
#include "vault/keys_int.h"

cf_err cf_key_cert_version(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           const char *name_lc, const char *version, const struct cf_kvkey *k,
                           unsigned key_ops, struct cf_rec_key_ver *out)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[KEY_AAD_MAX];
    struct cf_secret *blob = NULL;
    struct cf_buf jwk;
    struct cf_jw w;
    enum cf_kty kty = cf_kvkey_type(k);
    cf_err e;

    memset(out, 0, sizeof(*out));
    cf_buf_init(&out->priv, PRIV_MAX);
    if (kty == CF_KTY_OCT)
        return CF_EINVAL;
    snprintf(out->version, sizeof(out->version), "%s", version);
    snprintf(out->kty, sizeof(out->kty), "%s", kty == CF_KTY_RSA ? "RSA" : "EC");
    out->key_size = kty == CF_KTY_EC ? 0 : cf_kvkey_bits(k);
    snprintf(out->crv, sizeof(out->crv), "%s", kty == CF_KTY_EC ? cf_crv_name(cf_kvkey_curve(k)) : "");
    out->key_ops = key_ops;
    out->enabled = true;
    out->managed = true;
    out->imported = false;
    out->exportable = false; /* release is a keys-API concept; a certificate exports via its secret */
    cf_buf_init(&jwk, JWK_MAX);
    cf_jw_init(&w, &jwk);
    cf_jw_obj_begin(&w);
    e = cf_kvkey_write_public_jwk(k, false, &w);
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e) {
        out->public_jwk = cf_buf_detach(&jwk, NULL);
        if (!out->public_jwk)
            e = CF_ENOMEM;
    }
    cf_buf_release(&jwk);
    if (!e)
        e = cf_kvkey_to_blob(k, &blob);
    if (!e)
        e = cf_vault_dek(svc, v, dek);
    if (!e) {
        e = cf_aead_seal(dek, aad, cf_key_aad(aad, v->id, name_lc, version), blob->p, blob->len,
                         &out->priv);
        cf_wipe(dek, sizeof(dek));
    }
    cf_secret_free(blob);
    if (e)
        cf_rec_key_ver_release(out);
    return e;
}

cf_err cf_key_cert_insert_txn(struct cf_store_txn *t, int64_t vault_id, const char *name,
                              const char *name_lc, struct cf_rec_key_ver *ver)
{
    struct cf_rec_key_obj obj;
    struct cf_rec_key_ver latest;
    bool exists;
    cf_err e;

    e = cf_store_key_obj_get(t, vault_id, name_lc, &obj);
    if (e && e != CF_ENOTFOUND)
        return e;
    exists = e == CF_OK;
    if (exists && obj.deleted_date != 0)
        return CF_EDELETED;
    if (exists) {
        /* a key of that name that no certificate owns: the name is taken */
        e = cf_store_key_ver_get(t, obj.id, obj.latest_seq, NULL, false, &latest);
        if (!e && !latest.managed)
            e = CF_EEXISTS;
        cf_rec_key_ver_release(&latest);
        if (e)
            return e;
    } else {
        memset(&obj, 0, sizeof(obj));
        obj.vault_id = vault_id;
        snprintf(obj.name, sizeof(obj.name), "%s", name);
        snprintf(obj.name_lc, sizeof(obj.name_lc), "%s", name_lc);
    }
    ver->seq = exists ? obj.latest_seq + 1 : 1;
    obj.latest_seq = ver->seq;
    memcpy(obj.latest_version, ver->version, sizeof(obj.latest_version));
    e = exists ? cf_store_key_obj_update(t, &obj) : cf_store_key_obj_insert(t, &obj);
    if (e)
        return e;
    ver->object_id = obj.id;
    return cf_store_key_ver_insert(t, ver);
}

cf_err cf_key_cert_open_txn(struct cf_store_txn *t, struct cf_vault_svc *svc,
                            const struct cf_vault_ref *v, const char *name_lc, const char *version,
                            struct cf_kvkey **out)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[KEY_AAD_MAX];
    struct cf_rec_key_obj obj;
    struct cf_rec_key_ver ver;
    struct cf_secret *blob = NULL;
    cf_err e;

    *out = NULL;
    e = cf_store_key_obj_get(t, v->id, name_lc, &obj);
    if (e)
        return e;
    e = cf_store_key_ver_get(t, obj.id, 0, version, true, &ver);
    if (e)
        return e;
    e = cf_vault_dek(svc, v, dek);
    if (!e) {
        e = cf_aead_open(dek, aad, cf_key_aad(aad, v->id, name_lc, version), ver.priv.data,
                         ver.priv.len, &blob);
        cf_wipe(dek, sizeof(dek));
    }
    if (!e)
        e = cf_kvkey_from_blob(blob->p, blob->len, out);
    if (e && e != CF_ENOTFOUND) {
        cf_error("vault: a certificate's key version in vault %lld does not open", (long long)v->id);
        e = CF_ECORRUPT;
    }
    cf_secret_free(blob);
    cf_rec_key_ver_release(&ver);
    return e;
}

cf_err cf_key_cert_mark_txn(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                            int64_t deleted_date, int64_t scheduled_purge, bool purge)
{
    struct cf_rec_key_obj obj;
    cf_err e = cf_store_key_obj_get(t, vault_id, name_lc, &obj);

    if (e == CF_ENOTFOUND)
        return CF_OK; /* nothing of the certificate's on the key side */
    if (e)
        return e;
    if (purge)
        return cf_store_key_obj_delete(t, obj.id);
    obj.deleted_date = deleted_date;
    obj.scheduled_purge = scheduled_purge;
    return cf_store_key_obj_update(t, &obj);
}

void cf_key_cert_forget(struct cf_vault_svc *svc, int64_t vault_id, const char *name_lc)
{
    cf_kcache_forget(svc->kcache, vault_id, name_lc);
}

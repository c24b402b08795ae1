/* cert_hsm.c - certificate keys on the PKCS#11 token (cert_hsm.h): generation through the
 * service's token operations, the signer x509_assemble.c uses, the key version record in
 * keys.c's HSM layout, the pending (CSR flow) form, reuse on renewal and release on purge.
 *
 * Map: generate (svc->hsm_ops->generate under a fresh random id) or import (svc->hsm_import of
 * an imported certificate's key) -> signer (hsm_ops->sign)
 * -> key version (HSM_TAG || id sealed with the key AAD) + reference (keys_hsm.c) ->
 * pending blob "CFP" 1 | id | JSON -> open (renewal) -> release (purge).
 *
 * Invariant: the private key never leaves the token (an imported one is on it before any
 * record is written, and its software copy is the caller's to free); the store holds the
 * handle sealed under the vault's data key and the public JWK. */
#include "base/cf.h"
#include "base/json.h"
#include "base/log.h"

#include "vault/cert_hsm.h"

#define PEND_TAG "CFP\x01"
#define PEND_TAG_LEN 4

static cf_err bad(char *why, size_t n, const char *fmt, ...) CF_PRINTF(3, 4);
static cf_err bad(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (why && n) {
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return CF_EBADPARAM;
}

bool cf_cert_hsm_kty(const char *kty)
{
    return kty && (strcmp(kty, "RSA-HSM") == 0 || strcmp(kty, "EC-HSM") == 0);
}

void cf_vault_svc_set_hsm_import(struct cf_vault_svc *svc, cf_vault_hsm_import_fn fn)
{
    svc->hsm_import = fn;
}

cf_err cf_cert_hsm_need(const struct cf_vault_svc *svc, const char *kty, char *why, size_t whysz)
{
    if (!cf_cert_hsm_kty(kty) || (svc->hsm && svc->hsm_ops))
        return CF_OK;
    /* the keys API's answer for an -HSM key type (keys.c) */
    return bad(why, whysz,
               "Key type %.16s needs a hardware security module, and this server has none "
               "configured: use %.*s for a software-protected key.",
               kty, (int)(strlen(kty) - 4), kty);
}

void cf_cert_hsm_init(struct cf_cert_hsm *h, struct cf_vault_svc *svc)
{
    memset(h, 0, sizeof(*h));
    h->svc = svc;
}

void cf_cert_hsm_release(struct cf_cert_hsm *h, bool failed)
{
    if (failed && h->made && h->svc && h->svc->hsm_ops &&
        h->svc->hsm_ops->destroy(h->svc->hsm, h->id) != CF_OK)
        cf_warn("vault: the HSM key of a failed certificate operation stays on the token");
    free(h->public_jwk);
    cf_wipe(h->id, sizeof(h->id));
    memset(h, 0, sizeof(*h));
}

cf_err cf_cert_hsm_generate(struct cf_cert_hsm *h, const char *kty, int key_size, const char *crv,
                            char *why, size_t whysz)
{
    struct cf_vault_svc *svc = h->svc;
    bool ec = kty && strcmp(kty, "EC-HSM") == 0;
    struct cf_buf jwk;
    struct cf_jw w;
    cf_err e;

    if (!cf_cert_hsm_kty(kty))
        return CF_EINVAL;
    if ((e = cf_cert_hsm_need(svc, kty, why, whysz)) != CF_OK)
        return e;
    if (!ec && key_size == 0)
        key_size = 2048;
    if (ec && (!crv || !crv[0]))
        crv = "P-256";
    if ((e = cf_random(h->id, sizeof(h->id))) != CF_OK)
        return e;
    cf_buf_init(&jwk, JWK_MAX);
    cf_jw_init(&w, &jwk);
    cf_jw_obj_begin(&w);
    e = svc->hsm_ops->generate(svc->hsm, ec ? "EC" : "RSA", ec ? 0 : key_size, 0, ec ? crv : NULL,
                               h->id, &w, why, whysz);
    h->made = e == CF_OK;
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e && !(h->public_jwk = cf_buf_detach(&jwk, NULL)))
        e = CF_ENOMEM;
    cf_buf_release(&jwk);
    if (e)
        return e;
    snprintf(h->kty, sizeof(h->kty), "%s", kty);
    h->key_size = ec ? 0 : key_size;
    snprintf(h->crv, sizeof(h->crv), "%s", ec ? crv : "");
    return CF_OK;
}

cf_err cf_cert_hsm_import(struct cf_cert_hsm *h, const char *kty, const struct cf_kvkey *k,
                          char *why, size_t whysz)
{
    struct cf_vault_svc *svc = h->svc;
    bool ec = kty && strcmp(kty, "EC-HSM") == 0;
    struct cf_buf jwk;
    struct cf_jw w;
    cf_err e;

    if (!cf_cert_hsm_kty(kty) || !k)
        return CF_EINVAL;
    if ((e = cf_cert_hsm_need(svc, kty, why, whysz)) != CF_OK)
        return e;
    if (!svc->hsm_import)
        return bad(why, whysz,
                   "This server's hardware security module cannot import keys: use %.*s for a "
                   "software-protected key.",
                   (int)(strlen(kty) - 4), kty);
    if (ec != (cf_kvkey_type(k) == CF_KTY_EC))
        return bad(why, whysz,
                   "Property 'key_props.kty' %.16s does not match the imported %s key.", kty,
                   cf_kvkey_type(k) == CF_KTY_EC ? "EC" : "RSA");
    if ((e = cf_random(h->id, sizeof(h->id))) != CF_OK)
        return e;
    cf_buf_init(&jwk, JWK_MAX);
    cf_jw_init(&w, &jwk);
    cf_jw_obj_begin(&w);
    e = svc->hsm_import(svc->hsm, k, h->id, &w, why, whysz);
    h->made = e == CF_OK;
    cf_jw_obj_end(&w);
    if (!e)
        e = cf_jw_err(&w);
    if (!e && !(h->public_jwk = cf_buf_detach(&jwk, NULL)))
        e = CF_ENOMEM;
    cf_buf_release(&jwk);
    if (e)
        return e;
    snprintf(h->kty, sizeof(h->kty), "%s", kty);
    h->key_size = ec ? 0 : cf_kvkey_bits(k);
    snprintf(h->crv, sizeof(h->crv), "%s", ec ? cf_crv_name(cf_kvkey_curve(k)) : "");
    return CF_OK;
}

static cf_err sign_cb(void *arg, const char *alg, const void *digest, size_t dlen,
                      struct cf_buf *sig)
{
    struct cf_cert_hsm *h = arg;
    char why[160];
    cf_err e;

    if (!h->svc->hsm || !h->svc->hsm_ops)
        return CF_EINVAL;
    e = h->svc->hsm_ops->sign(h->svc->hsm, h->id, alg, digest, dlen, sig, why, sizeof(why));
    if (e)
        cf_warn("vault: the token refused to sign a certificate (%s)", cf_err_name(e));
    return e;
}

void cf_cert_hsm_signer(struct cf_cert_hsm *h, struct cf_cert_signer *out)
{
    out->public_jwk = h->public_jwk;
    out->sign = sign_cb;
    out->arg = h;
}

cf_err cf_cert_hsm_key_version(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                               const char *name_lc, const char *version,
                               const struct cf_cert_hsm *h, unsigned key_ops,
                               struct cf_rec_key_ver *out)
{
    unsigned char dek[CF_AEAD_KEY_LEN], blob[HSM_BLOB_LEN];
    char aad[KEY_AAD_MAX];
    cf_err e;

    memset(out, 0, sizeof(*out));
    cf_buf_init(&out->priv, PRIV_MAX);
    if (!cf_cert_hsm_kty(h->kty) || !h->public_jwk)
        return CF_EINVAL;
    snprintf(out->version, sizeof(out->version), "%s", version);
    snprintf(out->kty, sizeof(out->kty), "%s", h->kty);
    out->key_size = h->key_size;
    snprintf(out->crv, sizeof(out->crv), "%s", h->crv);
    out->key_ops = key_ops;
    out->enabled = true;
    out->managed = true;
    if (!(out->public_jwk = strdup(h->public_jwk)))
        return CF_ENOMEM;
    memcpy(blob, HSM_TAG, HSM_TAG_LEN);
    memcpy(blob + HSM_TAG_LEN, h->id, CF_VAULT_HSM_ID_LEN);
    e = cf_vault_dek(svc, v, dek);
    if (!e)
        e = cf_aead_seal(dek, aad, cf_key_aad(aad, v->id, name_lc, version), blob, sizeof(blob),
                         &out->priv);
    cf_wipe(dek, sizeof(dek));
    cf_wipe(blob, sizeof(blob));
    if (e)
        cf_rec_key_ver_release(out);
    return e;
}

cf_err cf_cert_hsm_ref_txn(struct cf_store_txn *t, const struct cf_cert_hsm *h)
{
    int64_t refs = 0;
    return cf_key_hsm_ref(t, h->id, +1, false, &refs);
}

/* ---------------- pending form ---------------- */

cf_err cf_cert_hsm_pending_blob(const struct cf_cert_hsm *h, struct cf_secret **out)
{
    struct cf_buf b;
    struct cf_jw w;
    cf_err e;

    *out = NULL;
    if (!cf_cert_hsm_kty(h->kty) || !h->public_jwk)
        return CF_EINVAL;
    cf_buf_init(&b, JWK_MAX + 256);
    if ((e = cf_buf_append(&b, PEND_TAG, PEND_TAG_LEN)) == CF_OK &&
        (e = cf_buf_append(&b, h->id, CF_VAULT_HSM_ID_LEN)) == CF_OK) {
        cf_jw_init(&w, &b);
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "kty", h->kty);
        cf_jw_kint(&w, "key_size", h->key_size);
        cf_jw_kstr(&w, "crv", h->crv);
        cf_jw_key(&w, "pub");
        cf_jw_raw(&w, h->public_jwk, strlen(h->public_jwk));
        cf_jw_obj_end(&w);
        e = cf_jw_err(&w);
    }
    if (!e && !(*out = cf_secret_from(b.data, b.len)))
        e = CF_ENOMEM;
    cf_buf_wipe(&b);
    cf_buf_release(&b);
    return e;
}

bool cf_cert_hsm_is_pending(const void *p, size_t n)
{
    return n > PEND_TAG_LEN + CF_VAULT_HSM_ID_LEN && memcmp(p, PEND_TAG, PEND_TAG_LEN) == 0;
}

cf_err cf_cert_hsm_from_pending(struct cf_cert_hsm *h, const void *p, size_t n)
{
    const char *text = (const char *)p + PEND_TAG_LEN + CF_VAULT_HSM_ID_LEN;
    struct cf_json *j = NULL;
    struct cf_buf pub;
    int64_t size = 0;
    cf_err e = CF_ECORRUPT;

    if (!cf_cert_hsm_is_pending(p, n))
        return CF_ECORRUPT;
    if (cf_json_parse(text, n - PEND_TAG_LEN - CF_VAULT_HSM_ID_LEN, &j, NULL, 0) != CF_OK)
        return CF_ECORRUPT;
    cf_buf_init(&pub, JWK_MAX);
    const char *kty = cf_json_str(cf_json_get(j, "kty"), NULL);
    const char *crv = cf_json_str(cf_json_get(j, "crv"), NULL);
    if (cf_cert_hsm_kty(kty) && crv && strlen(crv) < sizeof(h->crv) &&
        cf_json_int(cf_json_get(j, "key_size"), &size) && size >= 0 && size <= 16384 &&
        cf_json_type(cf_json_get(j, "pub")) == CF_JSON_OBJECT &&
        cf_json_dump(cf_json_get(j, "pub"), &pub) == CF_OK) {
        free(h->public_jwk);
        h->public_jwk = cf_buf_detach(&pub, NULL);
        e = h->public_jwk ? CF_OK : CF_ENOMEM;
        snprintf(h->kty, sizeof(h->kty), "%s", kty);
        snprintf(h->crv, sizeof(h->crv), "%s", crv);
        h->key_size = (int)size;
        memcpy(h->id, (const unsigned char *)p + PEND_TAG_LEN, CF_VAULT_HSM_ID_LEN);
        h->made = false;
    }
    cf_buf_release(&pub);
    cf_json_free(j);
    return e;
}

/* ---------------- renewal, purge ---------------- */

cf_err cf_cert_hsm_open_txn(struct cf_store_txn *t, struct cf_cert_hsm *h,
                            const struct cf_vault_ref *v, const char *name_lc,
                            const char *version, bool *is_hsm)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[KEY_AAD_MAX];
    struct cf_rec_key_obj obj;
    struct cf_rec_key_ver ver;
    struct cf_secret *blob = NULL;
    cf_err e;

    *is_hsm = false;
    if ((e = cf_store_key_obj_get(t, v->id, name_lc, &obj)) != CF_OK)
        return e;
    if ((e = cf_store_key_ver_get(t, obj.id, 0, version, true, &ver)) != CF_OK)
        return e;
    if (!cf_key_kty_is_hsm(ver.kty))
        goto done;
    *is_hsm = true;
    e = cf_vault_dek_txn(t, h->svc, v->id, dek);
    if (!e)
        e = cf_aead_open(dek, aad, cf_key_aad(aad, v->id, name_lc, version), ver.priv.data,
                         ver.priv.len, &blob);
    cf_wipe(dek, sizeof(dek));
    if (!e && (blob->len != HSM_BLOB_LEN || memcmp(blob->p, HSM_TAG, HSM_TAG_LEN) != 0))
        e = CF_ECORRUPT;
    if (!e && !(h->public_jwk = strdup(ver.public_jwk ? ver.public_jwk : "{}")))
        e = CF_ENOMEM;
    if (!e) {
        memcpy(h->id, (const unsigned char *)blob->p + HSM_TAG_LEN, CF_VAULT_HSM_ID_LEN);
        snprintf(h->kty, sizeof(h->kty), "%s", ver.kty);
        snprintf(h->crv, sizeof(h->crv), "%s", ver.crv);
        h->key_size = ver.key_size;
        h->made = false; /* other versions hold it: never destroyed by a failed renewal */
    } else if (e != CF_ENOMEM) {
        cf_error("vault: a certificate's HSM key version in vault %lld does not open",
                 (long long)v->id);
        e = CF_ECORRUPT;
    }
    cf_secret_free(blob);
done:
    cf_rec_key_ver_release(&ver);
    return e;
}

cf_err cf_cert_hsm_release_name_txn(struct cf_store_txn *t, struct cf_vault_svc *svc,
                                    int64_t vault_id, const char *name_lc,
                                    struct cf_key_hsm_gone *gone)
{
    struct cf_rec_key_obj obj;
    cf_err e = cf_store_key_obj_get(t, vault_id, name_lc, &obj);

    if (e == CF_ENOTFOUND)
        return CF_OK;
    if (e)
        return e;
    return cf_key_hsm_release_object(t, svc, &obj, gone);
}

cf_err cf_cert_hsm_restore_refs_txn(struct cf_store_txn *t, struct cf_vault_svc *svc,
                                    const struct cf_vault_ref *v, const char *name_lc,
                                    const struct cf_rec_key_ver *keys, size_t n)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    bool have_dek = false;
    cf_err e = CF_OK;

    for (size_t i = 0; !e && i < n; i++) {
        struct cf_secret *blob = NULL;
        char aad[KEY_AAD_MAX];
        int64_t refs = 0;

        if (!cf_key_kty_is_hsm(keys[i].kty))
            continue;
        if (!have_dek && (e = cf_vault_dek_txn(t, svc, v->id, dek)) != CF_OK)
            break;
        have_dek = true;
        e = cf_aead_open(dek, aad, cf_key_aad(aad, v->id, name_lc, keys[i].version),
                         keys[i].priv.data, keys[i].priv.len, &blob);
        if (!e && (blob->len != HSM_BLOB_LEN || memcmp(blob->p, HSM_TAG, HSM_TAG_LEN) != 0))
            e = CF_EBADPARAM;
        if (!e) /* the object must still be on the token (keys_backup.c's rule) */
            e = cf_key_hsm_ref(t, (const unsigned char *)blob->p + HSM_TAG_LEN, +1, true, &refs);
        if (e == CF_ENOTFOUND) {
            cf_info("vault: restore refused: the backup's HSM key was purged from the token");
            e = CF_EBADPARAM;
        }
        cf_secret_free(blob);
    }
    cf_wipe(dek, sizeof(dek));
    return e;
}

cf_err cf_cert_hsm_pending_drop_txn(struct cf_store_txn *t, struct cf_vault_svc *svc,
                                    int64_t vault_id, const char *aad, size_t aad_len,
                                    const struct cf_buf *sealed, struct cf_key_hsm_gone *gone)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    struct cf_secret *blob = NULL;
    cf_err e;

    if (sealed->len == 0)
        return CF_OK;
    if ((e = cf_vault_dek_txn(t, svc, vault_id, dek)) != CF_OK)
        return e;
    /* a software pending key, or one that does not open: nothing on the token to drop */
    if (cf_aead_open(dek, aad, aad_len, sealed->data, sealed->len, &blob) == CF_OK &&
        cf_cert_hsm_is_pending(blob->p, blob->len)) {
        if (gone->n == gone->cap) {
            size_t cap = gone->cap ? 2 * gone->cap : 4;
            void *p = realloc(gone->ids, cap * CF_VAULT_HSM_ID_LEN);
            if (!p)
                e = CF_ENOMEM;
            else {
                gone->ids = p;
                gone->cap = cap;
            }
        }
        if (!e)
            memcpy(gone->ids[gone->n++], (const unsigned char *)blob->p + PEND_TAG_LEN,
                   CF_VAULT_HSM_ID_LEN);
    }
    cf_wipe(dek, sizeof(dek));
    cf_secret_free(blob);
    return e;
}

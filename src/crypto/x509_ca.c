/* x509_ca.c - cf_cert_make_ca (x509_ca.h): a self-signed certificate made into a CA root by
 * replacing its basicConstraints (pkcs12.c always writes CA:FALSE, which a leaf wants) with a
 * critical CA:TRUE, pathlen:0 and signing it again with the same key. */
#include "base/cf.h"
#include "crypto/x509_ca.h"
#include "crypto/crypto_int.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define KV_BLOB_HDR 5 /* "CFK" 1 <kty+1> (kvkey.c), then PKCS#8 DER */

static const EVP_MD *md_for(EVP_PKEY *pk)
{
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        int bits = EVP_PKEY_get_bits(pk);
        return bits > 384 ? EVP_sha512() : bits > 256 ? EVP_sha384() : EVP_sha256();
    }
    return EVP_sha256();
}

cf_err cf_cert_make_ca(const struct cf_kvkey *k, const void *der, size_t len, struct cf_buf *out)
{
    const unsigned char *p = der;
    unsigned char *enc = NULL;
    struct cf_secret *blob = NULL;
    struct cf_pkey *pk = NULL;
    X509 *x = NULL;
    X509_EXTENSION *bc = NULL;
    int idx, n;
    cf_err e;

    if (!k || !der || !len || !out || cf_kvkey_type(k) == CF_KTY_OCT)
        return CF_EINVAL;
    if ((e = cf_kvkey_to_blob(k, &blob)) != CF_OK)
        return e;
    e = blob->len > KV_BLOB_HDR
            ? cf_pkey_from_der(blob->p + KV_BLOB_HDR, blob->len - KV_BLOB_HDR, &pk)
            : CF_EINVAL;
    cf_secret_free(blob);
    if (e)
        return e;
    x = d2i_X509(NULL, &p, (long)len);
    if (!x || X509_check_private_key(x, pk->pk) != 1) {
        cf_crypto_clear();
        e = CF_EBADPARAM;
        goto done;
    }
    while ((idx = X509_get_ext_by_NID(x, NID_basic_constraints, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(x, idx));
    bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    if (!bc || X509_add_ext(x, bc, -1) != 1 || X509_sign(x, pk->pk, md_for(pk->pk)) <= 0) {
        e = cf_crypto_fail("CA certificate");
        goto done;
    }
    n = i2d_X509(x, &enc);
    if (n <= 0 || !enc) {
        e = cf_crypto_fail("DER encoding");
        goto done;
    }
    e = cf_buf_append(out, enc, (size_t)n);
done:
    OPENSSL_free(enc);
    X509_EXTENSION_free(bc);
    X509_free(x);
    cf_pkey_free(pk);
    return e;
}

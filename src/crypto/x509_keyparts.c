/* x509_keyparts.c - an imported certificate key's parts as big-endian integers, for putting it
 * on a PKCS#11 token (crypto.h, cf_kvkey_parts_get; custody hsm.c's cf_hsm_import).
 *
 * Map: kvkey -> its PKCS#8 blob (kvkey.c's serialised form) -> EVP_PKEY -> the provider's
 * BIGNUM parameters (RSA n e d p q dp dq qi; EC priv, pub x y) -> cf_secret each.
 *
 * Invariant: every part lives in a cf_secret (wiped on free) and the BIGNUMs that held
 * private values are cleared; nothing here logs or reports a value. */
#include "base/cf.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#define BLOB_HDR 5 /* "CFK" 1 <kty+1> (kvkey.c) */

void cf_kvkey_parts_release(struct cf_kvkey_parts *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < CF_KP_COUNT; i++)
        cf_secret_free(p->v[i]);
    memset(p, 0, sizeof(*p));
}

/* One parameter of pk into *out: its minimal big-endian form, or left-padded to pad bytes. */
static cf_err part(EVP_PKEY *pk, const char *name, size_t pad, struct cf_secret **out)
{
    BIGNUM *bn = NULL;
    size_t n;
    cf_err e = CF_OK;

    if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1 || !bn)
        return cf_crypto_fail("key parameter");
    n = (size_t)BN_num_bytes(bn);
    if (pad && n > pad)
        e = CF_ECORRUPT;
    else if (!(*out = cf_secret_new(pad ? pad : n ? n : 1)))
        e = CF_ENOMEM;
    else if (BN_bn2binpad(bn, (*out)->p, (int)(*out)->len) < 0)
        e = cf_crypto_fail("key parameter");
    BN_clear_free(bn);
    return e;
}

cf_err cf_kvkey_parts_get(const struct cf_kvkey *k, struct cf_kvkey_parts *out)
{
    static const char *const rsa[] = {
        [CF_KP_N] = OSSL_PKEY_PARAM_RSA_N,          [CF_KP_E] = OSSL_PKEY_PARAM_RSA_E,
        [CF_KP_D] = OSSL_PKEY_PARAM_RSA_D,          [CF_KP_P] = OSSL_PKEY_PARAM_RSA_FACTOR1,
        [CF_KP_Q] = OSSL_PKEY_PARAM_RSA_FACTOR2,    [CF_KP_DP] = OSSL_PKEY_PARAM_RSA_EXPONENT1,
        [CF_KP_DQ] = OSSL_PKEY_PARAM_RSA_EXPONENT2, [CF_KP_QI] = OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    struct cf_secret *blob = NULL;
    struct cf_pkey *pk = NULL;
    cf_err e;

    memset(out, 0, sizeof(*out));
    if (!k || cf_kvkey_type(k) == CF_KTY_OCT)
        return CF_EINVAL;
    if ((e = cf_kvkey_to_blob(k, &blob)) != CF_OK)
        return e;
    e = blob->len > BLOB_HDR ? cf_pkey_from_der(blob->p + BLOB_HDR, blob->len - BLOB_HDR, &pk)
                             : CF_ECORRUPT;
    cf_secret_free(blob);
    if (e)
        return e;
    out->kty = cf_kvkey_type(k);
    out->crv = cf_kvkey_curve(k);
    if (out->kty == CF_KTY_RSA) {
        for (size_t i = CF_KP_N; !e && i <= CF_KP_QI; i++)
            e = part(pk->pk, rsa[i], 0, &out->v[i]);
    } else {
        size_t coord = ((size_t)cf_kvkey_bits(k) + 7) / 8;
        e = part(pk->pk, OSSL_PKEY_PARAM_PRIV_KEY, coord, &out->v[CF_KP_D]);
        if (!e)
            e = part(pk->pk, OSSL_PKEY_PARAM_EC_PUB_X, coord, &out->v[CF_KP_X]);
        if (!e)
            e = part(pk->pk, OSSL_PKEY_PARAM_EC_PUB_Y, coord, &out->v[CF_KP_Y]);
    }
    cf_pkey_free(pk);
    cf_crypto_clear();
    if (e)
        cf_kvkey_parts_release(out);
    return e;
}

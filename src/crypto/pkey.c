/* pkey.c - asymmetric keys: EC P-256 generation, PKCS#8 DER in and out, public JWK.
 *
 *   cf_pkey_generate_ec_p256  EVP_EC_gen("P-256")
 *   cf_pkey_to_der            OSSL_ENCODER "DER"/"PrivateKeyInfo" -> cf_secret
 *   cf_pkey_from_der          OSSL_DECODER "DER"/"PrivateKeyInfo", whole input consumed
 *   cf_pkey_write_jwk         {"kty":"EC",...,"x","y"}: 32-byte big-endian coordinates
 *   cf_pkey_from_jwk_ec       public P-256 key from JWK x/y (verifying foreign tokens)
 *
 * OpenSSL-allocated buffers that held private key bytes are released with OPENSSL_clear_free. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#define P256_COORD_LEN 32
/* PKCS#8 of any key we would hold (RSA-4096 is ~2.4 KB) stays well under this. */
#define DER_MAX (16 * 1024)

struct cf_pkey *cf_crypto_pkey_wrap(EVP_PKEY *pk)
{
    struct cf_pkey *k = malloc(sizeof(*k));
    if (!k) {
        EVP_PKEY_free(pk);
        return NULL;
    }
    k->pk = pk;
    return k;
}

bool cf_crypto_pkey_is_p256(const EVP_PKEY *pk)
{
    char group[64];
    size_t glen = 0;

    if (!pk || !EVP_PKEY_is_a(pk, "EC"))
        return false;
    if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1) {
        cf_crypto_clear();
        return false;
    }
    return strcmp(group, SN_X9_62_prime256v1) == 0;
}

cf_err cf_pkey_generate_ec_p256(struct cf_pkey **out)
{
    EVP_PKEY *pk;

    *out = NULL;
    pk = EVP_EC_gen(SN_X9_62_prime256v1);
    if (!pk)
        return cf_crypto_fail("EC P-256 key generation");
    *out = cf_crypto_pkey_wrap(pk);
    return *out ? CF_OK : CF_ENOMEM;
}

cf_err cf_pkey_to_der(const struct cf_pkey *k, struct cf_secret **der)
{
    OSSL_ENCODER_CTX *ectx;
    unsigned char *data = NULL;
    size_t len = 0;
    cf_err e = CF_OK;

    *der = NULL;
    if (!k || !k->pk)
        return CF_EINVAL;
    ectx = OSSL_ENCODER_CTX_new_for_pkey(k->pk, OSSL_KEYMGMT_SELECT_ALL, "DER", "PrivateKeyInfo",
                                         NULL);
    if (!ectx || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0) {
        e = cf_crypto_fail("PKCS#8 encoder");
        goto free_ctx;
    }
    if (OSSL_ENCODER_to_data(ectx, &data, &len) != 1 || !data) {
        e = cf_crypto_fail("PKCS#8 encoding");
        goto free_ctx;
    }
    *der = cf_secret_from(data, len);
    if (!*der)
        e = CF_ENOMEM;
    OPENSSL_clear_free(data, len);
free_ctx:
    OSSL_ENCODER_CTX_free(ectx);
    return e;
}

cf_err cf_pkey_from_der(const void *der, size_t len, struct cf_pkey **out)
{
    OSSL_DECODER_CTX *dctx;
    EVP_PKEY *pk = NULL;
    const unsigned char *p = der;
    size_t left = len;
    cf_err e = CF_OK;

    *out = NULL;
    if (!der || len == 0 || len > DER_MAX)
        return CF_EINVAL;
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pk, "DER", "PrivateKeyInfo", NULL,
                                         OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
    if (!dctx) {
        e = cf_crypto_fail("PKCS#8 decoder");
        goto free_ctx;
    }
    /* Garbage is the caller's input, not an OpenSSL fault: CF_EINVAL, queue cleared quietly. */
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || !pk || left != 0) {
        cf_crypto_clear();
        e = CF_EINVAL;
        goto free_key;
    }
    *out = cf_crypto_pkey_wrap(pk);
    pk = NULL;
    if (!*out)
        e = CF_ENOMEM;
free_key:
    EVP_PKEY_free(pk);
free_ctx:
    OSSL_DECODER_CTX_free(dctx);
    return e;
}

void cf_pkey_free(struct cf_pkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pk); /* OpenSSL clears private key material on free */
    free(k);
}

static cf_err coord(const EVP_PKEY *pk, const char *name, unsigned char out[P256_COORD_LEN])
{
    BIGNUM *bn = NULL;
    cf_err e = CF_OK;

    if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1 ||
        BN_bn2binpad(bn, out, P256_COORD_LEN) != P256_COORD_LEN)
        e = cf_crypto_fail("EC public coordinate");
    BN_free(bn);
    return e;
}

cf_err cf_pkey_write_jwk(const struct cf_pkey *k, const char *kid, struct cf_jw *w)
{
    unsigned char x[P256_COORD_LEN], y[P256_COORD_LEN];
    struct cf_buf bx, by;
    cf_err e;

    if (!k || !cf_crypto_pkey_is_p256(k->pk))
        return CF_EINVAL;
    if ((e = coord(k->pk, OSSL_PKEY_PARAM_EC_PUB_X, x)) != CF_OK ||
        (e = coord(k->pk, OSSL_PKEY_PARAM_EC_PUB_Y, y)) != CF_OK)
        return e;
    /* 32 bytes -> 43 base64url characters each. */
    cf_buf_init(&bx, 64);
    cf_buf_init(&by, 64);
    if ((e = cf_b64url_encode(&bx, x, sizeof(x))) != CF_OK ||
        (e = cf_b64url_encode(&by, y, sizeof(y))) != CF_OK)
        goto release;
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "kty", "EC");
    cf_jw_kstr(w, "use", "sig");
    if (kid)
        cf_jw_kstr(w, "kid", kid);
    cf_jw_kstr(w, "alg", "ES256");
    cf_jw_kstr(w, "crv", "P-256");
    cf_jw_key(w, "x");
    cf_jw_strn(w, bx.data, bx.len);
    cf_jw_key(w, "y");
    cf_jw_strn(w, by.data, by.len);
    cf_jw_obj_end(w);
    e = cf_jw_err(w);
release:
    cf_buf_release(&bx);
    cf_buf_release(&by);
    return e;
}

/* Exactly one unpadded base64url P-256 coordinate (43 characters -> 32 bytes) into out. */
static bool jwk_coord(struct cf_str s, unsigned char out[P256_COORD_LEN])
{
    struct cf_buf b;
    bool ok;

    if (s.len != 43)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    cf_buf_init(&b, 64);
    ok = cf_b64_decode(&b, s) == CF_OK && b.len == P256_COORD_LEN;
    if (ok)
        memcpy(out, b.data, P256_COORD_LEN);
    cf_buf_release(&b);
    return ok;
}

cf_err cf_pkey_from_jwk_ec(struct cf_str x_b64url, struct cf_str y_b64url, struct cf_pkey **out)
{
    unsigned char pub[1 + 2 * P256_COORD_LEN];
    EVP_PKEY_CTX *pctx;
    OSSL_PARAM params[3];
    EVP_PKEY *pk = NULL;
    cf_err e = CF_OK;

    *out = NULL;
    pub[0] = 0x04; /* uncompressed point: 04 || x || y */
    if (!jwk_coord(x_b64url, pub + 1) || !jwk_coord(y_b64url, pub + 1 + P256_COORD_LEN))
        return CF_EINVAL;
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!pctx)
        return cf_crypto_fail("EC key context");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)SN_X9_62_prime256v1, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_fromdata_init(pctx) != 1) {
        e = cf_crypto_fail("EC key import");
        goto free_ctx;
    }
    /* A point not on the curve is rejected here: bad input, not an OpenSSL fault. */
    if (EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1 || !pk) {
        cf_crypto_clear();
        e = CF_EINVAL;
        goto free_ctx;
    }
    *out = cf_crypto_pkey_wrap(pk);
    if (!*out)
        e = CF_ENOMEM;
free_ctx:
    EVP_PKEY_CTX_free(pctx);
    return e;
}

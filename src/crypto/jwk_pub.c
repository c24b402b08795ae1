/* jwk_pub.c - RSA and EC public keys to and from JWK (jwk_pub.h).
 *
 * Map:
 *   b64url_bytes               strict unpadded base64url -> bytes, bounded
 *   cf_pkey_from_jwk_rsa       n/e -> EVP_PKEY (RSA public) through OSSL_PARAM_BLD
 *   cf_pkey_is_rsa
 *   cf_pkey_write_public_jwk   RSA: n/e without leading zero bytes; EC: cf_pkey_write_jwk's
 *                              members (crv, x, y) */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "crypto/jwk_pub.h"
#include "crypto/crypto_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

/* Unpadded base64url only (a JWK never pads), 1..max bytes once decoded. */
static bool b64url_bytes(struct cf_str s, size_t max, struct cf_buf *out)
{
    if (s.len == 0 || s.len > (max * 4 + 2) / 3 + 1)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return cf_b64_decode(out, s) == CF_OK && out->len > 0 && out->len <= max;
}

cf_err cf_pkey_from_jwk_rsa(struct cf_str n_b64url, struct cf_str e_b64url, struct cf_pkey **out)
{
    struct cf_buf nb, eb;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pk = NULL;
    int bits;
    cf_err err = CF_EINVAL;

    *out = NULL;
    cf_buf_init(&nb, RSA_MAX_BITS / 8 + 8);
    cf_buf_init(&eb, 16);
    if (!b64url_bytes(n_b64url, RSA_MAX_BITS / 8 + 1, &nb) || !b64url_bytes(e_b64url, 4, &eb))
        goto release;
    n = BN_bin2bn((const unsigned char *)nb.data, (int)nb.len, NULL);
    e = BN_bin2bn((const unsigned char *)eb.data, (int)eb.len, NULL);
    if (!n || !e) {
        err = cf_crypto_fail("RSA JWK numbers");
        goto release;
    }
    bits = BN_num_bits(n);
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || !BN_is_odd(e) || BN_num_bits(e) < 2)
        goto release;
    bld = OSSL_PARAM_BLD_new();
    if (!bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        err = cf_crypto_fail("RSA JWK params");
        goto release;
    }
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1) {
        err = cf_crypto_fail("RSA key context");
        goto release;
    }
    if (EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1 || !pk) {
        cf_crypto_clear();
        goto release;
    }
    *out = cf_crypto_pkey_wrap(pk);
    err = *out ? CF_OK : CF_ENOMEM;
release:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    cf_buf_release(&nb);
    cf_buf_release(&eb);
    return err;
}

bool cf_pkey_is_rsa(const struct cf_pkey *k)
{
    return k && k->pk && EVP_PKEY_is_a(k->pk, "RSA");
}

/* base64url of a big number without leading zero bytes, as the member name. */
static cf_err write_bn(struct cf_jw *w, const char *name, const BIGNUM *bn)
{
    unsigned char raw[RSA_MAX_BITS / 8];
    struct cf_buf b64;
    int n = BN_num_bytes(bn);
    cf_err e;

    if (n <= 0 || (size_t)n > sizeof(raw))
        return CF_EINVAL;
    BN_bn2bin(bn, raw);
    cf_buf_init(&b64, 2 * sizeof(raw));
    e = cf_b64url_encode(&b64, raw, (size_t)n);
    if (!e) {
        cf_jw_key(w, name);
        cf_jw_strn(w, b64.data, b64.len);
    }
    cf_buf_release(&b64);
    return e;
}

cf_err cf_pkey_write_public_jwk(const struct cf_pkey *k, const char *kid, const char *alg,
                                struct cf_jw *w)
{
    struct cf_buf tmp;
    struct cf_jw tw;
    struct cf_json *root = NULL;
    BIGNUM *n = NULL, *e = NULL;
    cf_err err;

    if (!k || !k->pk)
        return CF_EINVAL;
    if (cf_crypto_pkey_is_p256(k->pk)) {
        /* cf_pkey_write_jwk knows the EC members; re-emit them with this kid and alg */
        const char *x, *y;
        cf_buf_init(&tmp, 1024);
        cf_jw_init(&tw, &tmp);
        err = cf_pkey_write_jwk(k, NULL, &tw);
        if (!err)
            err = cf_jw_err(&tw);
        if (!err)
            err = cf_json_parse(tmp.data, tmp.len, &root, NULL, 0);
        x = err ? NULL : cf_json_str(cf_json_get(root, "x"), NULL);
        y = err ? NULL : cf_json_str(cf_json_get(root, "y"), NULL);
        if (!err && (!x || !y))
            err = CF_EINTERNAL;
        if (!err) {
            cf_jw_obj_begin(w);
            cf_jw_kstr(w, "kty", "EC");
            cf_jw_kstr(w, "use", "sig");
            if (kid)
                cf_jw_kstr(w, "kid", kid);
            if (alg)
                cf_jw_kstr(w, "alg", alg);
            cf_jw_kstr(w, "crv", "P-256");
            cf_jw_kstr(w, "x", x);
            cf_jw_kstr(w, "y", y);
            cf_jw_obj_end(w);
        }
        cf_json_free(root);
        cf_buf_release(&tmp);
        return err;
    }
    if (!EVP_PKEY_is_a(k->pk, "RSA"))
        return CF_EINVAL;
    if (EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        err = cf_crypto_fail("RSA public numbers");
        goto release;
    }
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "kty", "RSA");
    cf_jw_kstr(w, "use", "sig");
    if (kid)
        cf_jw_kstr(w, "kid", kid);
    if (alg)
        cf_jw_kstr(w, "alg", alg);
    err = write_bn(w, "n", n);
    if (!err)
        err = write_bn(w, "e", e);
    cf_jw_obj_end(w);
release:
    BN_free(n);
    BN_free(e);
    return err;
}

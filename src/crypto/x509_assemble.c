/* x509_assemble.c - certificates and PKCS#10 requests signed by a key Coffer does not hold (an
 * HSM key: OpenSSL cannot sign with it, so the signed structure is assembled here).
 *
 * Map:
 *   public key   the key's public JWK members -> EVP_PKEY (RSA n/e, EC crv/x/y)
 *   algorithm    JOSE alg + digest + AlgorithmIdentifier by key (RSA: RS256 /
 *                sha256WithRSAEncryption; EC: ES256/ES256K/ES384/ES512 / ecdsa-with-SHA*),
 *                the choices pkcs12.c's md_for makes for software keys
 *   tbs          X509 / X509_REQ built with OpenSSL (names and extensions from pkcs12.c through
 *                x509_int.h), encoded with i2d_re_X509_tbs / i2d_re_X509_REQ_tbs
 *   signature    the caller's sign() over the digest; EC r||s -> DER ECDSA-Sig-Value
 *   assembly     SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING sig } in DER, parsed back and
 *                verified with the public key before anything is returned
 *
 * Invariant: nothing leaves this file unless X509_verify / X509_REQ_verify accepted it with the
 * public key the caller named, so a token that signed with another key is caught here. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"
#include "crypto/x509_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define JWK_TEXT_MAX (8 * 1024)
#define COORD_MAX 66 /* P-521 */

/* How a key's certificate is signed. */
struct sigalg {
    const char *alg; /* the keys API's name */
    const EVP_MD *md;
    int nid;      /* signature algorithm */
    bool ec;
    size_t coord; /* EC coordinate bytes (r and s each) */
};

/* ---------------- public key ---------------- */

static cf_err member(const struct cf_json *j, const char *k, struct cf_buf *out)
{
    size_t n = 0;
    const char *s = cf_json_str(cf_json_get(j, k), &n);
    if (!s || n == 0 || cf_b64_decode(out, (struct cf_str){s, n}) != CF_OK || out->len == 0)
        return CF_EINVAL;
    return CF_OK;
}

static cf_err rsa_pub(const struct cf_json *j, EVP_PKEY **out)
{
    struct cf_buf n, e;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    cf_err err;

    cf_buf_init(&n, 1024);
    cf_buf_init(&e, 16);
    if ((err = member(j, "n", &n)) != CF_OK || (err = member(j, "e", &e)) != CF_OK)
        goto done;
    bn = BN_bin2bn((const unsigned char *)n.data, (int)n.len, NULL);
    be = BN_bin2bn((const unsigned char *)e.data, (int)e.len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        cf_crypto_clear();
        err = CF_EINVAL;
    }
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    cf_buf_release(&n);
    cf_buf_release(&e);
    return err;
}

static cf_err ec_pub(const struct cf_json *j, EVP_PKEY **out, struct sigalg *a)
{
    unsigned char pt[1 + 2 * COORD_MAX];
    struct cf_buf x, y;
    const char *group;
    enum cf_crv crv;
    size_t clen = 0;
    const char *c = cf_json_str(cf_json_get(j, "crv"), &clen);
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = NULL;
    cf_err err = CF_OK;

    if (!c || !cf_crv_parse((struct cf_str){c, clen}, &crv))
        return CF_EINVAL;
    switch (crv) {
    case CF_CRV_P256:
        *a = (struct sigalg){"ES256", EVP_sha256(), NID_ecdsa_with_SHA256, true, 32};
        group = SN_X9_62_prime256v1;
        break;
    case CF_CRV_P256K:
        *a = (struct sigalg){"ES256K", EVP_sha256(), NID_ecdsa_with_SHA256, true, 32};
        group = SN_secp256k1;
        break;
    case CF_CRV_P384:
        *a = (struct sigalg){"ES384", EVP_sha384(), NID_ecdsa_with_SHA384, true, 48};
        group = SN_secp384r1;
        break;
    case CF_CRV_P521:
        *a = (struct sigalg){"ES512", EVP_sha512(), NID_ecdsa_with_SHA512, true, 66};
        group = SN_secp521r1;
        break;
    default:
        return CF_EINVAL;
    }
    cf_buf_init(&x, 2 * COORD_MAX); /* the decoder may ask for more room than it fills */
    cf_buf_init(&y, 2 * COORD_MAX);
    if ((err = member(j, "x", &x)) != CF_OK || (err = member(j, "y", &y)) != CF_OK)
        goto done;
    if (x.len != a->coord || y.len != a->coord) {
        err = CF_EINVAL;
        goto done;
    }
    pt[0] = 0x04; /* uncompressed point */
    memcpy(pt + 1, x.data, a->coord);
    memcpy(pt + 1 + a->coord, y.data, a->coord);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t)group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * a->coord);
    params[2] = OSSL_PARAM_construct_end();
    if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        cf_crypto_clear();
        err = CF_EINVAL;
    }
done:
    EVP_PKEY_CTX_free(ctx);
    cf_buf_release(&x);
    cf_buf_release(&y);
    return err;
}

/* The public key of the JWK text and how its certificates are signed. */
static cf_err pub_from_jwk(const char *text, EVP_PKEY **out, struct sigalg *a)
{
    struct cf_json *j = NULL;
    size_t n = text ? strlen(text) : 0;
    cf_err e;

    *out = NULL;
    if (n == 0 || n > JWK_TEXT_MAX || cf_json_parse(text, n, &j, NULL, 0) != CF_OK)
        return CF_EINVAL;
    if (cf_json_type(j) != CF_JSON_OBJECT) {
        e = CF_EINVAL;
    } else if (cf_json_get(j, "n")) {
        *a = (struct sigalg){"RS256", EVP_sha256(), NID_sha256WithRSAEncryption, false, 0};
        e = rsa_pub(j, out);
    } else {
        e = ec_pub(j, out, a);
    }
    cf_json_free(j);
    return e;
}

/* ---------------- signature and DER assembly ---------------- */

static cf_err algor_set(X509_ALGOR *x, const struct sigalg *a)
{
    /* RFC 4055: NULL parameters for RSA; RFC 5758: absent for ECDSA */
    ASN1_OBJECT *o = OBJ_nid2obj(a->nid);
    if (!o || X509_ALGOR_set0(x, o, a->ec ? V_ASN1_UNDEF : V_ASN1_NULL, NULL) != 1)
        return cf_crypto_fail("signature algorithm");
    return CF_OK;
}

/* sign(digest of tbs) as the DER content of the BIT STRING (ECDSA-Sig-Value for EC). */
static cf_err sign_tbs(const struct cf_cert_signer *s, const struct sigalg *a,
                       const unsigned char *tbs, size_t tlen, struct cf_buf *out)
{
    unsigned char dig[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int dlen = 0;
    struct cf_buf raw;
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *sv = NULL;
    cf_err e;
    int n;

    if (EVP_Digest(tbs, tlen, dig, &dlen, a->md, NULL) != 1)
        return cf_crypto_fail("certificate digest");
    cf_buf_init(&raw, 1024);
    if ((e = s->sign(s->arg, a->alg, dig, dlen, &raw)) != CF_OK)
        goto done;
    if (!a->ec) {
        e = cf_buf_append(out, raw.data, raw.len);
        goto done;
    }
    if (raw.len != 2 * a->coord) {
        e = CF_ECRYPTO; /* not r||s of this curve */
        goto done;
    }
    r = BN_bin2bn((const unsigned char *)raw.data, (int)a->coord, NULL);
    sv = BN_bin2bn((const unsigned char *)raw.data + a->coord, (int)a->coord, NULL);
    sig = ECDSA_SIG_new();
    if (!r || !sv || !sig || ECDSA_SIG_set0(sig, r, sv) != 1) {
        e = cf_crypto_fail("ECDSA signature");
        goto done;
    }
    r = sv = NULL; /* owned by sig */
    n = i2d_ECDSA_SIG(sig, &der);
    if (n <= 0 || !der) {
        e = cf_crypto_fail("ECDSA signature encoding");
        goto done;
    }
    e = cf_buf_append(out, der, (size_t)n);
done:
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(sv);
    cf_buf_release(&raw);
    return e;
}

static cf_err put_len(struct cf_buf *b, size_t n)
{
    unsigned char l[9];
    size_t k = 0;

    if (n < 0x80) {
        l[0] = (unsigned char)n;
        return cf_buf_append(b, l, 1);
    }
    for (size_t v = n; v; v >>= 8)
        k++;
    l[0] = (unsigned char)(0x80 | k);
    for (size_t i = 0; i < k; i++)
        l[1 + i] = (unsigned char)(n >> (8 * (k - 1 - i)));
    return cf_buf_append(b, l, 1 + k);
}

static size_t len_len(size_t n) /* bytes of a DER length */
{
    size_t k = 1;
    if (n >= 0x80)
        for (; n; n >>= 8)
            k++;
    return k;
}

/* SEQUENCE { tbs, alg, BIT STRING { 0 unused bits, sig } } into out (reset first). */
static cf_err assemble(const unsigned char *tbs, size_t tlen, const unsigned char *alg,
                       size_t alen, const struct cf_buf *sig, struct cf_buf *out)
{
    size_t bits = sig->len + 1;
    size_t body = tlen + alen + 1 + len_len(bits) + bits;
    unsigned char tag = 0x30, bs = 0x03, zero = 0;
    cf_err e;

    cf_buf_reset(out);
    if ((e = cf_buf_append(out, &tag, 1)) != CF_OK || (e = put_len(out, body)) != CF_OK ||
        (e = cf_buf_append(out, tbs, tlen)) != CF_OK || (e = cf_buf_append(out, alg, alen)) != CF_OK ||
        (e = cf_buf_append(out, &bs, 1)) != CF_OK || (e = put_len(out, bits)) != CF_OK ||
        (e = cf_buf_append(out, &zero, 1)) != CF_OK ||
        (e = cf_buf_append(out, sig->data, sig->len)) != CF_OK)
        return e;
    return CF_OK;
}

/* tbs DER + AlgorithmIdentifier DER -> signed, assembled DER in out. */
static cf_err sign_assemble(const struct cf_cert_signer *s, const struct sigalg *a,
                            const unsigned char *tbs, int tlen, struct cf_buf *out)
{
    X509_ALGOR *x = X509_ALGOR_new();
    unsigned char *alg = NULL;
    struct cf_buf sig;
    int alen = 0;
    cf_err e;

    cf_buf_init(&sig, 1024);
    if (!x || tlen <= 0) {
        e = cf_crypto_fail("to-be-signed encoding");
        goto done;
    }
    if ((e = algor_set(x, a)) != CF_OK)
        goto done;
    alen = i2d_X509_ALGOR(x, &alg);
    if (alen <= 0 || !alg) {
        e = cf_crypto_fail("signature algorithm encoding");
        goto done;
    }
    if ((e = sign_tbs(s, a, tbs, (size_t)tlen, &sig)) != CF_OK)
        goto done;
    e = assemble(tbs, (size_t)tlen, alg, (size_t)alen, &sig, out);
done:
    OPENSSL_free(alg);
    X509_ALGOR_free(x);
    cf_buf_release(&sig);
    return e;
}

/* ---------------- request and certificate ---------------- */

cf_err cf_cert_csr_signer(const struct cf_cert_signer *s, const struct cf_cert_req *req,
                          struct cf_buf *der, char *why, size_t whysz)
{
    struct sigalg a;
    EVP_PKEY *pk = NULL;
    X509_REQ *x = NULL, *back = NULL;
    X509_NAME *name = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    unsigned char *tbs = NULL;
    const unsigned char *p;
    struct cf_buf out;
    int tlen;
    cf_err e;

    if (!s || !s->sign || !req || !der)
        return CF_EINVAL;
    if ((e = pub_from_jwk(s->public_jwk, &pk, &a)) != CF_OK)
        return e;
    cf_buf_init(&out, CF_X509_CRED_MAX_DER);
    if ((e = cf_cert_int_subject(req->subject, &name, why, whysz)) != CF_OK ||
        (e = cf_cert_int_exts(req, &exts, why, whysz)) != CF_OK)
        goto done;
    x = X509_REQ_new();
    if (!x || X509_REQ_set_version(x, 0) != 1 || X509_REQ_set_subject_name(x, name) != 1 ||
        X509_REQ_set_pubkey(x, pk) != 1 || X509_REQ_add_extensions(x, exts) != 1) {
        e = cf_crypto_fail("CSR");
        goto done;
    }
    tlen = i2d_re_X509_REQ_tbs(x, &tbs);
    if ((e = sign_assemble(s, &a, tbs, tlen, &out)) != CF_OK)
        goto done;
    p = (const unsigned char *)out.data;
    back = d2i_X509_REQ(NULL, &p, (long)out.len);
    if (!back || p != (const unsigned char *)out.data + out.len || X509_REQ_verify(back, pk) != 1) {
        cf_crypto_clear();
        e = CF_ECRYPTO; /* the signer's signature is not the key's */
        goto done;
    }
    e = cf_buf_append(der, out.data, out.len);
done:
    OPENSSL_free(tbs);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(x);
    X509_REQ_free(back);
    EVP_PKEY_free(pk);
    cf_buf_release(&out);
    return e;
}

cf_err cf_cert_self_signed_signer(const struct cf_cert_signer *s, const struct cf_cert_req *req,
                                  struct cf_buf *der, char *why, size_t whysz)
{
    unsigned char *tbs = NULL;
    const unsigned char *p;
    struct sigalg a;
    EVP_PKEY *pk = NULL;
    X509 *x = NULL, *back = NULL;
    const X509_ALGOR *calg;
    X509_ALGOR *talg;
    struct cf_buf out;
    int tlen;
    cf_err e;

    if (!s || !s->sign || !req || !der || req->not_after <= req->not_before)
        return CF_EINVAL;
    if ((e = pub_from_jwk(s->public_jwk, &pk, &a)) != CF_OK)
        return e;
    cf_buf_init(&out, CF_X509_CRED_MAX_DER);
    if ((e = cf_cert_int_tbs(req, pk, &x, why, whysz)) != CF_OK)
        goto done;
    /* The TBS carries the signature algorithm too. OpenSSL 3.0 has no setter for it (X509_sign
     * writes it through the same member); the pointer is the certificate's own, not shared. */
    calg = X509_get0_tbs_sigalg(x);
    memcpy(&talg, &calg, sizeof(talg));
    if ((e = algor_set(talg, &a)) != CF_OK)
        goto done;
    tlen = i2d_re_X509_tbs(x, &tbs);
    if ((e = sign_assemble(s, &a, tbs, tlen, &out)) != CF_OK)
        goto done;
    p = (const unsigned char *)out.data;
    back = d2i_X509(NULL, &p, (long)out.len);
    if (!back || p != (const unsigned char *)out.data + out.len || X509_verify(back, pk) != 1) {
        cf_crypto_clear();
        e = CF_ECRYPTO;
        goto done;
    }
    e = cf_buf_append(der, out.data, out.len);
done:
    OPENSSL_free(tbs);
    X509_free(x);
    X509_free(back);
    EVP_PKEY_free(pk);
    cf_buf_release(&out);
    return e;
}

cf_err cf_cert_jwk_matches(const void *der, size_t len, const char *public_jwk, bool *match)
{
    const unsigned char *p = der;
    struct sigalg a;
    EVP_PKEY *pk = NULL;
    X509 *x;
    cf_err e;

    *match = false;
    if (!der || len == 0 || len > LONG_MAX)
        return CF_EBADPARAM;
    if ((e = pub_from_jwk(public_jwk, &pk, &a)) != CF_OK)
        return e;
    x = d2i_X509(NULL, &p, (long)len);
    if (!x) {
        cf_crypto_clear();
        EVP_PKEY_free(pk);
        return CF_EBADPARAM;
    }
    *match = EVP_PKEY_eq(X509_get0_pubkey(x), pk) == 1;
    cf_crypto_clear();
    X509_free(x);
    EVP_PKEY_free(pk);
    return CF_OK;
}

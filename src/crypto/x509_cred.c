/* x509_cred.c - certificates as client credentials (identities, issue 10): what the token
 * endpoint needs to accept a client_assertion signed with a registered certificate's key.
 *
 *   cf_x509_cred_parse        one DER certificate -> SHA-1/SHA-256 thumbprints, validity, and
 *                             its public key (RSA 2048..8192 bits or EC P-256 only)
 *   cf_jws_verify             RS256 / PS256 / ES256 over a decoded compact JWS; the algorithm
 *                             is the caller's choice from an allow-list, never the token's
 *   cf_jws_sign               the same three for signing (tests, clients)
 *   cf_x509_cred_self_signed  a fresh key and a self-signed certificate for it (tests, CLI)
 *
 * PS256 is RSASSA-PSS with SHA-256 and MGF1-SHA-256. Verification accepts any salt length
 * (MSAL JS uses 32, other signers use the maximum); signing uses 32 (the digest length). */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define ES256_COORD 32
#define ES256_DER_MAX 80
#define SIG_MAX 1024 /* RSA 8192 */

enum jws_alg { JWS_NONE, JWS_RS256, JWS_PS256, JWS_ES256 };

static enum jws_alg alg_of(const char *alg)
{
    if (!alg)
        return JWS_NONE;
    if (strcmp(alg, "RS256") == 0)
        return JWS_RS256;
    if (strcmp(alg, "PS256") == 0)
        return JWS_PS256;
    if (strcmp(alg, "ES256") == 0)
        return JWS_ES256;
    return JWS_NONE;
}

static bool is_rsa(const EVP_PKEY *pk)
{
    return EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA;
}

static cf_err asn1_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return CF_EINVAL;
    *out = (int64_t)timegm(&tm);
    return CF_OK;
}

cf_err cf_x509_cred_parse(const void *der, size_t len, struct cf_x509_cred *out,
                          struct cf_pkey **pub)
{
    const unsigned char *p = der;
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    cf_err e = CF_EINVAL;
    int bits;

    if (pub)
        *pub = NULL;
    if (!der || len == 0 || len > CF_X509_CRED_MAX_DER || !out)
        return CF_EINVAL;
    memset(out, 0, sizeof(*out));
    x = d2i_X509(NULL, &p, (long)len);
    /* the whole input is the one certificate: nothing may trail it */
    if (!x || p != (const unsigned char *)der + len)
        goto clear;
    pk = X509_get_pubkey(x);
    if (!pk)
        goto clear;
    bits = EVP_PKEY_get_bits(pk);
    if (!(is_rsa(pk) && bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS) &&
        !cf_crypto_pkey_is_p256(pk))
        goto clear;
    if (asn1_to_unix(X509_get0_notBefore(x), &out->not_before) != CF_OK ||
        asn1_to_unix(X509_get0_notAfter(x), &out->not_after) != CF_OK)
        goto clear;
    e = cf_sha1(der, len, out->sha1);
    if (!e)
        e = cf_sha256(der, len, out->sha256);
    if (e)
        goto free;
    if (pub) {
        *pub = cf_crypto_pkey_wrap(pk);
        pk = NULL;
        if (!*pub)
            e = CF_ENOMEM;
    }
    goto free;
clear:
    cf_crypto_clear(); /* bad input is the caller's to report */
free:
    EVP_PKEY_free(pk);
    X509_free(x);
    return e;
}

/* ES256: raw r||s (64 bytes) <-> DER ECDSA-Sig-Value. */
static bool es256_raw_to_der(const unsigned char *raw, unsigned char *der, size_t *derlen)
{
    BIGNUM *r = BN_bin2bn(raw, ES256_COORD, NULL);
    BIGNUM *s = BN_bin2bn(raw + ES256_COORD, ES256_COORD, NULL);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    unsigned char *p = der;
    bool ok = false;
    int n;

    if (!r || !s || !sig || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto free;
    }
    n = i2d_ECDSA_SIG(sig, NULL);
    if (n > 0 && n <= ES256_DER_MAX && i2d_ECDSA_SIG(sig, &p) == n) {
        *derlen = (size_t)n;
        ok = true;
    }
free:
    ECDSA_SIG_free(sig);
    return ok;
}

static bool es256_der_to_raw(const unsigned char *der, size_t derlen, unsigned char *raw)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    const BIGNUM *r, *s;
    bool ok;

    if (!sig)
        return false;
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, raw, ES256_COORD) == ES256_COORD &&
         BN_bn2binpad(s, raw + ES256_COORD, ES256_COORD) == ES256_COORD;
    ECDSA_SIG_free(sig);
    return ok;
}

/* Sets RSA padding on a DigestSign/Verify context for RS256 or PS256. */
static bool rsa_padding(EVP_PKEY_CTX *pctx, enum jws_alg alg, bool verify)
{
    if (alg == JWS_RS256)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, verify ? RSA_PSS_SALTLEN_AUTO
                                                         : RSA_PSS_SALTLEN_DIGEST) == 1;
}

/* Does the key's type fit the algorithm? */
static bool key_fits(const EVP_PKEY *pk, enum jws_alg alg)
{
    if (alg == JWS_ES256)
        return cf_crypto_pkey_is_p256(pk);
    return (alg == JWS_RS256 || alg == JWS_PS256) && is_rsa(pk) &&
           EVP_PKEY_get_bits(pk) >= RSA_MIN_BITS;
}

cf_err cf_jws_verify(const struct cf_pkey *pub, const char *alg, const struct cf_jwt *jwt)
{
    enum jws_alg a = alg_of(alg);
    unsigned char der[ES256_DER_MAX];
    const unsigned char *sig;
    size_t siglen;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md;
    cf_err e = CF_EUNAUTH;

    if (!pub || !jwt || a == JWS_NONE || !jwt->signing_input.p || strcmp(jwt->alg, alg) != 0 ||
        !key_fits(pub->pk, a))
        return CF_EUNAUTH;
    sig = (const unsigned char *)jwt->sig.data;
    siglen = jwt->sig.len;
    if (a == JWS_ES256) {
        if (siglen != 2 * ES256_COORD || !es256_raw_to_der(sig, der, &siglen)) {
            cf_crypto_clear();
            return CF_EUNAUTH;
        }
        sig = der;
    } else if (siglen != (size_t)EVP_PKEY_get_size(pub->pk)) {
        return CF_EUNAUTH;
    }
    md = EVP_MD_CTX_new();
    if (!md)
        return cf_crypto_fail("JWS digest context");
    if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub->pk) != 1 ||
        (a != JWS_ES256 && !rsa_padding(pctx, a, true))) {
        e = cf_crypto_fail("JWS verify init");
        goto free_md;
    }
    if (EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt->signing_input.p,
                         jwt->signing_input.len) == 1)
        e = CF_OK;
    else
        cf_crypto_clear(); /* a bad signature is the token's fault */
free_md:
    EVP_MD_CTX_free(md);
    return e;
}

cf_err cf_jws_sign(const struct cf_pkey *k, const char *alg, const char *header_json,
                   const char *payload_json, struct cf_buf *out)
{
    enum jws_alg a = alg_of(alg);
    unsigned char sig[SIG_MAX], raw[2 * ES256_COORD];
    size_t siglen = sizeof(sig), start = out ? out->len : 0;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md = NULL;
    cf_err e;

    if (!k || !header_json || !payload_json || !out || a == JWS_NONE || !key_fits(k->pk, a))
        return CF_EINVAL;
    e = cf_b64url_encode(out, header_json, strlen(header_json));
    if (!e)
        e = cf_buf_putc(out, '.');
    if (!e)
        e = cf_b64url_encode(out, payload_json, strlen(payload_json));
    if (e)
        goto truncate;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, k->pk) != 1 ||
        (a != JWS_ES256 && !rsa_padding(pctx, a, false)) ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out->data + start,
                       out->len - start) != 1) {
        e = cf_crypto_fail("JWS sign");
        goto truncate;
    }
    if (a == JWS_ES256) {
        if (!es256_der_to_raw(sig, siglen, raw)) {
            e = cf_crypto_fail("ES256 signature encode");
            goto truncate;
        }
        memcpy(sig, raw, sizeof(raw));
        siglen = sizeof(raw);
    }
    e = cf_buf_putc(out, '.');
    if (!e)
        e = cf_b64url_encode(out, sig, siglen);
    if (!e)
        goto free_md;
truncate:
    if (out && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
free_md:
    EVP_MD_CTX_free(md);
    return e;
}

cf_err cf_x509_cred_self_signed(bool rsa, const char *cn, int days, struct cf_buf *cert_der,
                                struct cf_pkey **key)
{
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    X509_NAME *name = NULL;
    unsigned char serial[16];
    unsigned char *der = NULL;
    BIGNUM *bn = NULL;
    int n;
    cf_err e;

    if (!cn || !*cn || strlen(cn) > 64 || days < 1 || days > 36500 || !cert_der || !key)
        return CF_EINVAL;
    *key = NULL;
    e = cf_random(serial, sizeof(serial));
    if (e)
        return e;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
    pk = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    x = X509_new();
    name = X509_NAME_new();
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!pk || !x || !name || !bn || X509_set_version(x, X509_VERSION_3) != 1 ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
        X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
        X509_set_pubkey(x, pk) != 1 || X509_sign(x, pk, EVP_sha256()) <= 0) {
        e = cf_crypto_fail("self-signed certificate");
        goto free;
    }
    n = i2d_X509(x, &der);
    if (n <= 0) {
        e = cf_crypto_fail("certificate encode");
        goto free;
    }
    e = cf_buf_append(cert_der, der, (size_t)n);
    if (e)
        goto free;
    *key = cf_crypto_pkey_wrap(pk);
    pk = NULL;
    if (!*key)
        e = CF_ENOMEM;
free:
    OPENSSL_free(der);
    BN_free(bn);
    X509_NAME_free(name);
    X509_free(x);
    EVP_PKEY_free(pk);
    return e;
}

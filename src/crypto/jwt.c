/* jwt.c - compact JWS with ES256 (RFC 7515, RFC 7518 §3.4).
 *
 *   cf_jwt_sign_es256    header.payload.signature, signature raw r||s (64 bytes)
 *   cf_jwt_decode        strict split + base64url decode + header parse; no verification
 *   cf_jwt_release       frees what decode allocated (safe on a zeroed or released struct)
 *   cf_jwt_verify_es256  algorithm fixed to ES256 by the caller; raw r||s -> DER -> verify
 *
 * JOSE carries ECDSA signatures as the two 32-byte big-endian integers r and s; OpenSSL signs
 * and verifies the DER ECDSA-Sig-Value. The two conversions below are the only bridge. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#define ES256_SIG_LEN 64
#define ES256_COORD_LEN 32
/* DER ECDSA-Sig-Value of two integers < 2^256: at most 2 + 2 * (2 + 33) = 72 bytes. */
#define ES256_DER_MAX 80
#define JWT_HEADER_MAX 1024

/* Restores out to its first start bytes (append functions leave the buffer as they found it). */
static void buf_truncate(struct cf_buf *out, size_t start)
{
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
}

static cf_err sign_raw(EVP_PKEY *pk, const char *in, size_t inlen, unsigned char raw[ES256_SIG_LEN])
{
    unsigned char der[ES256_DER_MAX];
    const unsigned char *p = der;
    size_t derlen = sizeof(der);
    const BIGNUM *r, *s;
    ECDSA_SIG *sig = NULL;
    EVP_MD_CTX *md;
    cf_err e = CF_OK;

    md = EVP_MD_CTX_new();
    if (!md)
        return cf_crypto_fail("ES256 digest context");
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
        EVP_DigestSign(md, der, &derlen, (const unsigned char *)in, inlen) != 1) {
        e = cf_crypto_fail("ES256 sign");
        goto free_md;
    }
    sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    if (!sig) {
        e = cf_crypto_fail("ES256 signature decode");
        goto free_md;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, raw, ES256_COORD_LEN) != ES256_COORD_LEN ||
        BN_bn2binpad(s, raw + ES256_COORD_LEN, ES256_COORD_LEN) != ES256_COORD_LEN)
        e = cf_crypto_fail("ES256 signature encode");
    ECDSA_SIG_free(sig);
free_md:
    EVP_MD_CTX_free(md);
    return e;
}

cf_err cf_jwt_sign_es256(const struct cf_pkey *k, const char *kid, const char *payload_json,
                         size_t payload_len, struct cf_buf *out)
{
    unsigned char raw[ES256_SIG_LEN];
    struct cf_buf hdr;
    struct cf_jw w;
    size_t start = out->len;
    cf_err e;

    if (!k || !cf_crypto_pkey_is_p256(k->pk) || (!payload_json && payload_len))
        return CF_EINVAL;
    cf_buf_init(&hdr, JWT_HEADER_MAX);
    cf_jw_init(&w, &hdr);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "alg", "ES256");
    cf_jw_kstr(&w, "typ", "JWT");
    if (kid)
        cf_jw_kstr(&w, "kid", kid);
    cf_jw_obj_end(&w);
    if ((e = cf_jw_err(&w)) != CF_OK)
        goto release_hdr;
    if ((e = cf_b64url_encode(out, hdr.data, hdr.len)) != CF_OK ||
        (e = cf_buf_putc(out, '.')) != CF_OK ||
        (e = cf_b64url_encode(out, payload_json ? payload_json : "", payload_len)) != CF_OK)
        goto truncate;
    if ((e = sign_raw(k->pk, out->data + start, out->len - start, raw)) != CF_OK)
        goto truncate;
    if ((e = cf_buf_putc(out, '.')) != CF_OK ||
        (e = cf_b64url_encode(out, raw, sizeof(raw))) != CF_OK)
        goto truncate;
    goto release_hdr;
truncate:
    buf_truncate(out, start);
release_hdr:
    cf_buf_release(&hdr);
    return e;
}

static bool is_b64url(struct cf_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* A non-empty, unpadded base64url part decoded into out. */
static bool decode_part(struct cf_str s, struct cf_buf *out)
{
    return s.len > 0 && is_b64url(s) && cf_b64_decode(out, s) == CF_OK;
}

/* Copies the optional string member key of hdr into dst (size n): true if absent (dst "") or
 * a string without NUL that fits; false for any other type or size. */
static bool header_str(const struct cf_json *hdr, const char *key, char *dst, size_t n)
{
    const struct cf_json *v = cf_json_get(hdr, key);
    const char *s;
    size_t len;

    dst[0] = '\0';
    if (!v)
        return true;
    s = cf_json_str(v, &len);
    if (!s || len >= n || memchr(s, '\0', len))
        return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

cf_err cf_jwt_decode(struct cf_str token, struct cf_jwt *out)
{
    struct cf_str h, p, sig, rest;
    struct cf_json *hdr = NULL;
    bool ok;

    memset(out, 0, sizeof(*out));
    cf_buf_init(&out->header, CF_JWT_MAX_LEN);
    cf_buf_init(&out->payload, CF_JWT_MAX_LEN);
    cf_buf_init(&out->sig, CF_JWT_MAX_LEN);
    if (!token.p || token.len > CF_JWT_MAX_LEN)
        return CF_EUNAUTH;
    /* Exactly three parts: two dots, and no dot in the signature part. */
    if (!cf_str_split(token, '.', &h, &rest) || !cf_str_split(rest, '.', &p, &sig) ||
        memchr(sig.p, '.', sig.len))
        return CF_EUNAUTH;
    if (!decode_part(h, &out->header) || !decode_part(p, &out->payload) ||
        !decode_part(sig, &out->sig))
        goto fail;
    if (cf_json_parse(out->header.data, out->header.len, &hdr, NULL, 0) != CF_OK)
        goto fail;
    /* "crit" names extensions the recipient must understand (RFC 7515 §4.1.11); we understand
     * none, so any token carrying it is refused. */
    ok = cf_json_type(hdr) == CF_JSON_OBJECT && !cf_json_get(hdr, "crit") &&
         header_str(hdr, "alg", out->alg, sizeof(out->alg)) &&
         header_str(hdr, "kid", out->kid, sizeof(out->kid));
    cf_json_free(hdr);
    if (!ok)
        goto fail;
    out->signing_input = (struct cf_str){token.p, h.len + 1 + p.len};
    return CF_OK;
fail:
    cf_jwt_release(out);
    return CF_EUNAUTH;
}

void cf_jwt_release(struct cf_jwt *jwt)
{
    if (!jwt)
        return;
    /* Claims are not secrets, but a bearer token's parts are worth not leaving behind. */
    cf_buf_wipe(&jwt->header);
    cf_buf_wipe(&jwt->payload);
    cf_buf_wipe(&jwt->sig);
    jwt->signing_input = CF_STR_NULL;
    jwt->alg[0] = '\0';
    jwt->kid[0] = '\0';
}

/* Raw r||s -> DER ECDSA-Sig-Value in der (ES256_DER_MAX); its length in *derlen. */
static cf_err raw_to_der(const unsigned char *raw, unsigned char *der, size_t *derlen)
{
    BIGNUM *r = BN_bin2bn(raw, ES256_COORD_LEN, NULL);
    BIGNUM *s = BN_bin2bn(raw + ES256_COORD_LEN, ES256_COORD_LEN, NULL);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    unsigned char *p = der;
    cf_err e = CF_OK;
    int n;

    if (!r || !s || !sig || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        e = cf_crypto_fail("ES256 signature conversion");
        goto free_sig;
    }
    /* sig owns r and s now. */
    n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || n > ES256_DER_MAX || i2d_ECDSA_SIG(sig, &p) != n) {
        e = cf_crypto_fail("ES256 signature encode");
        goto free_sig;
    }
    *derlen = (size_t)n;
free_sig:
    ECDSA_SIG_free(sig);
    return e;
}

cf_err cf_jwt_verify_es256(const struct cf_pkey *pub, const struct cf_jwt *jwt)
{
    unsigned char der[ES256_DER_MAX];
    size_t derlen = 0;
    EVP_MD_CTX *md;
    cf_err e = CF_EUNAUTH;

    if (!pub || !jwt || !cf_crypto_pkey_is_p256(pub->pk))
        return CF_EUNAUTH;
    /* The algorithm is ours, not the token's: anything but ES256 ("none", HS256 with the public
     * key as secret, RS256...) is refused before any key is used. */
    if (strcmp(jwt->alg, "ES256") != 0 || jwt->sig.len != ES256_SIG_LEN || !jwt->signing_input.p)
        return CF_EUNAUTH;
    if (raw_to_der((const unsigned char *)jwt->sig.data, der, &derlen) != CF_OK)
        return CF_EUNAUTH;
    md = EVP_MD_CTX_new();
    if (!md) {
        cf_crypto_fail("ES256 digest context");
        return CF_ENOMEM;
    }
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub->pk) != 1) {
        e = cf_crypto_fail("ES256 verify init");
        goto free_md;
    }
    if (EVP_DigestVerify(md, der, derlen, (const unsigned char *)jwt->signing_input.p,
                         jwt->signing_input.len) == 1)
        e = CF_OK;
    else
        cf_crypto_clear(); /* a bad signature is the token's fault, not worth a log line */
free_md:
    EVP_MD_CTX_free(md);
    return e;
}

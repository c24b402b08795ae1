/* jwt_rs.c - RS256 compact JWS for client assertions (RFC 7515, RFC 7518 §3.3), as MSAL signs
 * them for certificate credentials: header {"alg":"RS256","typ":"JWT","x5t":...}, signature
 * RSASSA-PKCS1-v1_5 with SHA-256 by the RSA key of the registered certificate.
 *
 *   cf_jwt_sign_rs256   finds the first unencrypted private key in a PEM text (certificate
 *                       blocks around it are skipped), requires RSA >= 2048 bits, signs.
 *
 * The PEM text is key material: the memory BIO reads it in place (no copy), and the password
 * callback refuses, so an encrypted key fails instead of prompting on the terminal. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define RS_HEADER_MAX 1024
#define RS_MIN_BITS 2048
#define RS_SIG_MAX 1024 /* 8192-bit keys */

/* Refuses every passphrase request: keys must be unencrypted (as az's PEM certificates are). */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static cf_err load_rsa(const char *pem, size_t len, EVP_PKEY **out)
{
    BIO *b;
    EVP_PKEY *pk;

    *out = NULL;
    if (!pem || len == 0 || len > INT32_MAX)
        return CF_EINVAL;
    b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return cf_crypto_fail("PEM reader");
    pk = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
    BIO_free(b);
    if (!pk) {
        cf_crypto_clear(); /* input that does not parse: the caller reports it */
        return CF_EINVAL;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < RS_MIN_BITS) {
        EVP_PKEY_free(pk);
        return CF_EINVAL;
    }
    *out = pk;
    return CF_OK;
}

cf_err cf_jwt_sign_rs256(const char *key_pem, size_t key_pem_len, const char *x5t,
                         const char *payload_json, size_t payload_len, struct cf_buf *out)
{
    unsigned char sig[RS_SIG_MAX];
    size_t siglen = sizeof(sig), start = out->len;
    struct cf_buf hdr;
    struct cf_jw w;
    EVP_PKEY *pk = NULL;
    EVP_MD_CTX *md = NULL;
    cf_err e;

    if (!payload_json && payload_len)
        return CF_EINVAL;
    if ((e = load_rsa(key_pem, key_pem_len, &pk)) != CF_OK)
        return e;
    cf_buf_init(&hdr, RS_HEADER_MAX);
    cf_jw_init(&w, &hdr);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "alg", "RS256");
    cf_jw_kstr(&w, "typ", "JWT");
    if (x5t)
        cf_jw_kstr(&w, "x5t", x5t);
    cf_jw_obj_end(&w);
    if ((e = cf_jw_err(&w)) != CF_OK)
        goto release;
    if ((e = cf_b64url_encode(out, hdr.data, hdr.len)) != CF_OK ||
        (e = cf_buf_putc(out, '.')) != CF_OK ||
        (e = cf_b64url_encode(out, payload_json ? payload_json : "", payload_len)) != CF_OK)
        goto truncate;
    md = EVP_MD_CTX_new();
    if (!md) {
        e = cf_crypto_fail("RS256 digest context");
        goto truncate;
    }
    /* EVP_DigestSignInit on an RSA key defaults to PKCS#1 v1.5 padding: RS256. */
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out->data + start,
                       out->len - start) != 1) {
        e = cf_crypto_fail("RS256 sign");
        goto truncate;
    }
    if ((e = cf_buf_putc(out, '.')) != CF_OK || (e = cf_b64url_encode(out, sig, siglen)) != CF_OK)
        goto truncate;
    goto release;
truncate:
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
release:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    cf_buf_release(&hdr);
    return e;
}

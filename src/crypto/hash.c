/* hash.c - digests, HMAC and HKDF (one-shot), and a keyed HMAC for many messages.
 *
 *   cf_sha256, cf_sha1  EVP_Digest
 *   cf_hmac_sha256      EVP_Q_mac (HMAC over SHA-256)
 *   cf_hmac_key_*       one EVP_MAC_CTX keyed once, re-initialised per message
 *   cf_sha256_ctx_*     one EVP_MD_CTX kept across messages (begin / update / end)
 *   cf_hkdf_sha256      EVP_KDF "HKDF" (RFC 5869 extract-and-expand) */
#include "base/cf.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* OpenSSL rejects NULL data pointers in a few places even when the length is 0. */
static const unsigned char empty[1];

static cf_err digest(const EVP_MD *md, const char *what, const void *p, size_t n,
                     unsigned char *out)
{
    if (EVP_Digest(p ? p : empty, n, out, NULL, md, NULL) != 1)
        return cf_crypto_fail(what);
    return CF_OK;
}

cf_err cf_sha256(const void *p, size_t n, unsigned char out[CF_SHA256_LEN])
{
    return digest(cf_crypto_sha256(), "SHA-256", p, n, out);
}

cf_err cf_sha1(const void *p, size_t n, unsigned char out[20])
{
    return digest(EVP_sha1(), "SHA-1", p, n, out);
}

cf_err cf_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                      unsigned char out[CF_SHA256_LEN])
{
    size_t outlen = 0;

    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key ? key : empty, klen, msg ? msg : empty,
                   mlen, out, CF_SHA256_LEN, &outlen) ||
        outlen != CF_SHA256_LEN)
        return cf_crypto_fail("HMAC-SHA256");
    return CF_OK;
}

struct cf_hmac_key {
    EVP_MAC_CTX *ctx; /* initialised with the key; re-initialised per message without it */
};

cf_err cf_hmac_key_new(const void *key, size_t klen, struct cf_hmac_key **out)
{
    OSSL_PARAM params[2];
    struct cf_hmac_key *k;
    EVP_MAC *mac;

    *out = NULL;
    if (!(k = calloc(1, sizeof(*k))))
        return CF_ENOMEM;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    k->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context keeps its own reference */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!k->ctx || !EVP_MAC_init(k->ctx, key ? key : empty, klen, params)) {
        cf_hmac_key_free(k);
        return cf_crypto_fail("HMAC-SHA256 key");
    }
    *out = k;
    return CF_OK;
}

cf_err cf_hmac_key_mac(struct cf_hmac_key *k, const void *msg, size_t mlen,
                       unsigned char out[CF_SHA256_LEN])
{
    size_t outlen = 0;

    /* A NULL key re-initialises with the key already set (OpenSSL's HMAC keeps the padded key
     * states), so no key schedule runs per message. */
    if (!k || !EVP_MAC_init(k->ctx, NULL, 0, NULL) ||
        !EVP_MAC_update(k->ctx, msg ? msg : empty, mlen) ||
        !EVP_MAC_final(k->ctx, out, &outlen, CF_SHA256_LEN) || outlen != CF_SHA256_LEN)
        return cf_crypto_fail("HMAC-SHA256");
    return CF_OK;
}

void cf_hmac_key_free(struct cf_hmac_key *k)
{
    if (!k)
        return;
    EVP_MAC_CTX_free(k->ctx); /* OpenSSL cleanses the key material it held */
    free(k);
}

/* ---- reusable SHA-256 context ---- */

struct cf_sha256_ctx {
    EVP_MD_CTX *ctx; /* re-initialised with the same digest: OpenSSL keeps its state block */
    const EVP_MD *md;
    bool open; /* between begin and end */
};

cf_err cf_sha256_ctx_new(struct cf_sha256_ctx **out)
{
    struct cf_sha256_ctx *c;

    *out = NULL;
    if (!(c = calloc(1, sizeof(*c))))
        return CF_ENOMEM;
    c->md = cf_crypto_sha256();
    c->ctx = EVP_MD_CTX_new();
    if (!c->md || !c->ctx) {
        cf_sha256_ctx_free(c);
        return cf_crypto_fail("SHA-256 context");
    }
    *out = c;
    return CF_OK;
}

cf_err cf_sha256_begin(struct cf_sha256_ctx *c)
{
    if (!c)
        return CF_EINVAL;
    c->open = false;
    if (EVP_DigestInit_ex(c->ctx, c->md, NULL) != 1)
        return cf_crypto_fail("SHA-256");
    c->open = true;
    return CF_OK;
}

cf_err cf_sha256_update(struct cf_sha256_ctx *c, const void *p, size_t n)
{
    if (!c || !c->open || (!p && n))
        return CF_EINVAL;
    if (n && EVP_DigestUpdate(c->ctx, p, n) != 1) {
        c->open = false;
        return cf_crypto_fail("SHA-256");
    }
    return CF_OK;
}

cf_err cf_sha256_end(struct cf_sha256_ctx *c, unsigned char out[CF_SHA256_LEN])
{
    unsigned int len = 0;

    if (!c || !c->open)
        return CF_EINVAL;
    c->open = false;
    if (EVP_DigestFinal_ex(c->ctx, out, &len) != 1 || len != CF_SHA256_LEN)
        return cf_crypto_fail("SHA-256");
    return CF_OK;
}

cf_err cf_sha256_ctx_digest(struct cf_sha256_ctx *c, const void *p, size_t n,
                            unsigned char out[CF_SHA256_LEN])
{
    cf_err e;

    if ((e = cf_sha256_begin(c)) || (e = cf_sha256_update(c, p, n)))
        return e;
    return cf_sha256_end(c, out);
}

void cf_sha256_ctx_free(struct cf_sha256_ctx *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->ctx);
    free(c);
}

cf_err cf_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                      const void *info, size_t infolen, void *out, size_t outlen)
{
    EVP_KDF *kdf;
    EVP_KDF_CTX *ctx = NULL;
    OSSL_PARAM params[5], *p = params;
    cf_err e = CF_OK;

    /* RFC 5869: at most 255 hash blocks of output. */
    if (outlen == 0 || outlen > 255 * CF_SHA256_LEN)
        return CF_EINVAL;
    kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (!kdf)
        return cf_crypto_fail("HKDF fetch");
    ctx = EVP_KDF_CTX_new(kdf);
    if (!ctx) {
        e = cf_crypto_fail("HKDF context");
        goto free_kdf;
    }
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    /* The const casts are OSSL_PARAM's: construct_octet_string takes void * but only reads. */
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                             (void *)(uintptr_t)(ikm ? ikm : empty), ikmlen);
    if (saltlen)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt,
                                                 saltlen);
    if (infolen)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info,
                                                 infolen);
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx, out, outlen, params) != 1)
        e = cf_crypto_fail("HKDF derive");
    EVP_KDF_CTX_free(ctx);
free_kdf:
    EVP_KDF_free(kdf);
    return e;
}

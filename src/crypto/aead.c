/* aead.c - AES-256-GCM sealing of values (the barrier of DESIGN.md §4).
 *
 *   cf_aead_seal  appends nonce(12) || ciphertext || tag(16)
 *   cf_aead_open  authenticates and decrypts into a new cf_secret
 *
 * Hot path (every secret GET/SET): one EVP_CIPHER_CTX per call and no other allocation - seal
 * encrypts straight into the caller's buffer, open decrypts straight into the cf_secret. The
 * plaintext is released to the caller only after EVP_DecryptFinal_ex has checked the tag; on
 * failure the cf_secret is wiped and freed, so no unauthenticated byte ever escapes. */
#include "base/cf.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <limits.h>
#include <openssl/evp.h>

static const unsigned char empty[1];

cf_err cf_aead_seal(const unsigned char key[CF_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                    const void *pt, size_t ptlen, struct cf_buf *out)
{
    EVP_CIPHER_CTX *ctx;
    unsigned char *nonce, *ct;
    size_t start = out->len;
    int n = 0, fin = 0;
    cf_err e;

    /* EVP_*Update take int lengths; values are far below this (CF_MAX_BODY_BYTES). */
    if (ptlen > INT_MAX - 32 || aadlen > INT_MAX)
        return CF_ETOOBIG;
    e = cf_buf_reserve(out, CF_AEAD_OVERHEAD + ptlen);
    if (e)
        return e;
    nonce = (unsigned char *)out->data + start;
    ct = nonce + CF_AEAD_NONCE_LEN;
    /* A fresh random 96-bit nonce per seal: with ~2^32 seals per key the collision chance stays
     * under 2^-32 (NIST SP 800-38D §8.3); data keys are per vault. */
    e = cf_random(nonce, CF_AEAD_NONCE_LEN);
    if (e)
        return e;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return cf_crypto_fail("AEAD context");
    /* The default GCM IV length is 12, which is ours: no EVP_CTRL_GCM_SET_IVLEN needed. */
    if (EVP_EncryptInit_ex(ctx, cf_crypto_aes256gcm(), NULL, key, nonce) != 1 ||
        (aadlen && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
        EVP_EncryptUpdate(ctx, ct, &n, pt ? pt : empty, (int)ptlen) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 || (size_t)n + (size_t)fin != ptlen ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CF_AEAD_TAG_LEN, ct + ptlen) != 1) {
        e = cf_crypto_fail("AES-256-GCM seal");
        goto free_ctx;
    }
    out->len = start + CF_AEAD_OVERHEAD + ptlen;
free_ctx:
    EVP_CIPHER_CTX_free(ctx);
    /* On failure the buffer keeps its old length; wipe what may have been written past it. */
    if (e)
        cf_wipe(out->data + start, CF_AEAD_OVERHEAD + ptlen);
    out->data[out->len] = '\0';
    return e;
}

cf_err cf_aead_open(const unsigned char key[CF_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                    const void *ct, size_t ctlen, struct cf_secret **pt)
{
    const unsigned char *nonce = ct, *body, *tag;
    unsigned char tagcopy[CF_AEAD_TAG_LEN];
    struct cf_secret *s;
    EVP_CIPHER_CTX *ctx;
    size_t ptlen;
    int n = 0, fin = 0;
    cf_err e = CF_OK;

    *pt = NULL;
    if (ctlen < CF_AEAD_OVERHEAD)
        return CF_ECORRUPT;
    ptlen = ctlen - CF_AEAD_OVERHEAD;
    if (ptlen > INT_MAX - 32 || aadlen > INT_MAX)
        return CF_ETOOBIG;
    body = nonce + CF_AEAD_NONCE_LEN;
    tag = body + ptlen;
    /* EVP_CTRL_GCM_SET_TAG takes a non-const pointer; copy rather than cast const away. */
    memcpy(tagcopy, tag, CF_AEAD_TAG_LEN);
    s = cf_secret_new(ptlen);
    if (!s)
        return CF_ENOMEM;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        e = cf_crypto_fail("AEAD context");
        goto free_secret;
    }
    if (EVP_DecryptInit_ex(ctx, cf_crypto_aes256gcm(), NULL, key, nonce) != 1 ||
        (aadlen && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
        EVP_DecryptUpdate(ctx, s->p, &n, body, (int)ptlen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CF_AEAD_TAG_LEN, tagcopy) != 1) {
        e = cf_crypto_fail("AES-256-GCM open");
        goto free_ctx;
    }
    /* The only check that matters: Final fails when the tag does not match nonce, AAD and
     * ciphertext under this key. That is corruption or tampering, not an OpenSSL fault. */
    if (EVP_DecryptFinal_ex(ctx, s->p + n, &fin) != 1 || (size_t)n + (size_t)fin != ptlen) {
        cf_crypto_clear();
        e = CF_ECORRUPT;
        goto free_ctx;
    }
    *pt = s;
    s = NULL;
free_ctx:
    EVP_CIPHER_CTX_free(ctx);
free_secret:
    cf_secret_free(s); /* wipes any unauthenticated plaintext */
    return e;
}

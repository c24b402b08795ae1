/* kvkey.c - Key Vault keys: software RSA / EC / oct key material and its operations.
 * (Stub: declarations committed first so keys-server can code against them.) */
#include "base/cf.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

struct cf_kvkey {
    enum cf_kty kty;
    enum cf_crv crv;
    int bits;
    EVP_PKEY *pk;
    struct cf_secret *oct;
};

static void set_why(char *why, size_t whysz, const char *msg)
{
    if (why && whysz)
        snprintf(why, whysz, "%s", msg);
}

bool cf_crv_parse(struct cf_str name, enum cf_crv *out)
{
    (void)name;
    (void)out;
    return false;
}

const char *cf_crv_name(enum cf_crv crv)
{
    (void)crv;
    return NULL;
}

cf_err cf_kvkey_generate_rsa(int bits, uint32_t public_exponent, struct cf_kvkey **out)
{
    (void)bits;
    (void)public_exponent;
    *out = NULL;
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_generate_ec(enum cf_crv crv, struct cf_kvkey **out)
{
    (void)crv;
    *out = NULL;
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_generate_oct(int bits, struct cf_kvkey **out)
{
    (void)bits;
    *out = NULL;
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_from_jwk(const struct cf_json *jwk, struct cf_kvkey **out, char *why, size_t whysz)
{
    (void)jwk;
    *out = NULL;
    set_why(why, whysz, "not implemented");
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_to_blob(const struct cf_kvkey *k, struct cf_secret **out)
{
    (void)k;
    *out = NULL;
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_from_blob(const void *p, size_t n, struct cf_kvkey **out)
{
    (void)p;
    (void)n;
    *out = NULL;
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_write_public_jwk(const struct cf_kvkey *k, bool write_kty, struct cf_jw *w)
{
    (void)k;
    (void)write_kty;
    (void)w;
    return CF_ENOTIMPL;
}

enum cf_kty cf_kvkey_type(const struct cf_kvkey *k)
{
    return k->kty;
}

enum cf_crv cf_kvkey_curve(const struct cf_kvkey *k)
{
    return k->crv;
}

int cf_kvkey_bits(const struct cf_kvkey *k)
{
    return k->bits;
}

void cf_kvkey_free(struct cf_kvkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pk);
    cf_secret_free(k->oct);
    free(k);
}

cf_err cf_kvkey_sign(const struct cf_kvkey *k, const char *alg, const void *digest, size_t dlen,
                     struct cf_buf *sig, char *why, size_t whysz)
{
    (void)k, (void)alg, (void)digest, (void)dlen, (void)sig;
    set_why(why, whysz, "not implemented");
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_verify(const struct cf_kvkey *k, const char *alg, const void *digest, size_t dlen,
                       const void *sig, size_t slen, bool *valid, char *why, size_t whysz)
{
    (void)k, (void)alg, (void)digest, (void)dlen, (void)sig, (void)slen;
    *valid = false;
    set_why(why, whysz, "not implemented");
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_encrypt_ex(const struct cf_kvkey *k, const char *alg, const void *pt, size_t n,
                           struct cf_kvkey_sym *sym, struct cf_buf *out, char *why, size_t whysz)
{
    (void)k, (void)alg, (void)pt, (void)n, (void)sym, (void)out;
    set_why(why, whysz, "not implemented");
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_decrypt_ex(const struct cf_kvkey *k, const char *alg, const void *ct, size_t n,
                           const struct cf_kvkey_sym *sym, struct cf_secret **pt, char *why,
                           size_t whysz)
{
    (void)k, (void)alg, (void)ct, (void)n, (void)sym;
    *pt = NULL;
    set_why(why, whysz, "not implemented");
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_encrypt(const struct cf_kvkey *k, const char *alg, const void *pt, size_t n,
                        struct cf_buf *out, char *why, size_t whysz)
{
    return cf_kvkey_encrypt_ex(k, alg, pt, n, NULL, out, why, whysz);
}

cf_err cf_kvkey_decrypt(const struct cf_kvkey *k, const char *alg, const void *ct, size_t n,
                        struct cf_secret **pt, char *why, size_t whysz)
{
    return cf_kvkey_decrypt_ex(k, alg, ct, n, NULL, pt, why, whysz);
}

cf_err cf_kvkey_wrap(const struct cf_kvkey *k, const char *alg, const void *key, size_t n,
                     struct cf_buf *out, char *why, size_t whysz)
{
    (void)k, (void)alg, (void)key, (void)n, (void)out;
    set_why(why, whysz, "not implemented");
    return CF_ENOTIMPL;
}

cf_err cf_kvkey_unwrap(const struct cf_kvkey *k, const char *alg, const void *wrapped, size_t n,
                       struct cf_secret **key, char *why, size_t whysz)
{
    (void)k, (void)alg, (void)wrapped, (void)n;
    *key = NULL;
    set_why(why, whysz, "not implemented");
    return CF_ENOTIMPL;
}

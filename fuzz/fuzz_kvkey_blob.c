/* libFuzzer target: the serialised private key a key version keeps sealed in the store,
 * "CFK" 1 <kty+1> || PKCS#8 DER (RSA, EC) or raw bytes (oct), as cf_kvkey_from_blob reads it
 * after the AEAD has opened it (src/crypto/kvkey.c). The AEAD makes a forged blob unlikely, but
 * a corrupt or older one (a restore, a bug elsewhere) must be refused, never crash.
 * Input: the opened blob.
 * Checks: a refusal is CF_ECORRUPT (CF_ENOMEM aside) and leaves *out NULL; an accepted key has
 * the type of byte 4 and a supported size (RSA 2048/3072/4096 - so no RSA-PSS or odd sizes -,
 * EC on one of the four curves, oct 128/192/256), writes its public JWK, and re-serialises to a
 * blob that reads back to a key with the same blob (one round makes any accepted encoding
 * canonical: a fixed point after that). Keys up to 2048 bits also sign and verify their own
 * signature; the key is not checked for consistency here (the seal vouches for it), so only
 * "no crash" and error codes are required of that part. */
#include "base/cf.h"
#include "fuzz_check.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ops(const struct cf_kvkey *k)
{
    static const unsigned char digest[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *alg;
    size_t dlen = 32;
    struct cf_buf sig;
    bool valid = true;
    char why[256];
    cf_err e;

    switch (cf_kvkey_type(k)) {
    case CF_KTY_RSA:
        alg = "PS256";
        break;
    case CF_KTY_OCT:
        alg = "HS384";
        dlen = 48;
        break;
    case CF_KTY_EC:
    default:
        alg = cf_kvkey_curve(k) == CF_CRV_P384    ? "ES384"
              : cf_kvkey_curve(k) == CF_CRV_P521  ? "ES512"
              : cf_kvkey_curve(k) == CF_CRV_P256K ? "ES256K"
                                                  : "ES256";
        dlen = cf_kvkey_curve(k) == CF_CRV_P384 ? 48 : cf_kvkey_curve(k) == CF_CRV_P521 ? 64 : 32;
        break;
    }
    cf_buf_init(&sig, 1024);
    e = cf_kvkey_sign(k, alg, digest, dlen, &sig, why, sizeof(why));
    CHECK(e == CF_OK || e == CF_ECRYPTO);
    if (e == CF_OK) {
        e = cf_kvkey_verify(k, alg, digest, dlen, sig.data, sig.len, &valid, why, sizeof(why));
        CHECK(e == CF_OK || e == CF_ECRYPTO);
        /* HMAC and a consistent key verify; an inconsistent RSA/EC key may not. */
        CHECK(cf_kvkey_type(k) != CF_KTY_OCT || valid);
    }
    cf_buf_release(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_kvkey *k = (struct cf_kvkey *)&k, *k2 = NULL, *k3 = NULL;
    struct cf_secret *b2 = NULL, *b3 = NULL;
    struct cf_buf pub;
    struct cf_jw w;
    cf_err e;
    int bits;

    e = cf_kvkey_from_blob(data, size, &k);
    if (e != CF_OK) {
        CHECK(e == CF_ECORRUPT || e == CF_ENOMEM);
        CHECK(k == NULL);
        return 0;
    }
    CHECK(size > 5 && data[4] >= 1 && data[4] <= 3);
    CHECK((int)cf_kvkey_type(k) == data[4] - 1);
    bits = cf_kvkey_bits(k);
    switch (cf_kvkey_type(k)) {
    case CF_KTY_RSA:
        CHECK(bits == 2048 || bits == 3072 || bits == 4096);
        break;
    case CF_KTY_EC:
        CHECK(cf_kvkey_curve(k) != CF_CRV_NONE);
        CHECK(bits == 256 || bits == 384 || bits == 521);
        break;
    case CF_KTY_OCT:
        CHECK(bits == 128 || bits == 192 || bits == 256);
        CHECK(size == 5 + (size_t)bits / 8 && memcmp(data, "CFK\x01\x03", 5) == 0);
        break;
    }

    cf_buf_init(&pub, 4096);
    cf_jw_init(&w, &pub);
    cf_jw_obj_begin(&w);
    CHECK(cf_kvkey_write_public_jwk(k, true, &w) == CF_OK);
    cf_jw_obj_end(&w);
    CHECK(cf_jw_err(&w) == CF_OK);

    CHECK(cf_kvkey_to_blob(k, &b2) == CF_OK);
    CHECK(cf_kvkey_from_blob(b2->p, b2->len, &k2) == CF_OK);
    CHECK(cf_kvkey_type(k2) == cf_kvkey_type(k) && cf_kvkey_bits(k2) == bits &&
          cf_kvkey_curve(k2) == cf_kvkey_curve(k));
    CHECK(cf_kvkey_to_blob(k2, &b3) == CF_OK);
    CHECK(b2->len == b3->len && memcmp(b2->p, b3->p, b2->len) == 0);
    CHECK(cf_kvkey_from_blob(b3->p, b3->len, &k3) == CF_OK);

    if (bits <= 2048)
        ops(k);

    cf_buf_release(&pub);
    cf_secret_free(b2);
    cf_secret_free(b3);
    cf_kvkey_free(k);
    cf_kvkey_free(k2);
    cf_kvkey_free(k3);
    return 0;
}

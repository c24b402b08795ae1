/* libFuzzer target: DER key parsing - cf_pkey_from_der (PKCS#8 private keys, e.g. the key inside
 * a sealed key blob). Certificate import (PEM, PKCS#12) has its own targets, fuzz_pem and
 * fuzz_pkcs12; the key blob fuzz_kvkey_blob. Seeds are real PKCS#8 keys (EC P-256, P-384, RSA,
 * Ed25519) from openssl.
 * Checks: never crashes; an accepted key re-exports (cf_pkey_to_der) to DER that parses again
 * and exports to the same bytes (a fixed point after one round). */
#include "base/cf.h"
#include "base/secret.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_pkey *k = NULL, *k2 = NULL;
    struct cf_secret *d1 = NULL, *d2 = NULL;

    if (cf_pkey_from_der(data, size, &k) != CF_OK)
        return 0;
    if (cf_pkey_to_der(k, &d1) != CF_OK) /* a private key by contract: must export */
        __builtin_trap();
    if (cf_pkey_from_der(d1->p, d1->len, &k2) != CF_OK ||
        cf_pkey_to_der(k2, &d2) != CF_OK)
        __builtin_trap();
    if (d1->len != d2->len ||
        memcmp(d1->p, d2->p, d1->len) != 0)
        __builtin_trap();
    cf_secret_free(d1);
    cf_secret_free(d2);
    cf_pkey_free(k);
    cf_pkey_free(k2);
    return 0;
}

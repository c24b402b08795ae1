/* crypto_int.h - internals shared by the files of src/crypto/ (not part of the contract).
 *
 * struct cf_pkey wraps an EVP_PKEY pointer rather than aliasing it, so that a const cf_pkey
 * still yields the non-const EVP_PKEY * that OpenSSL's signing calls want, without casting
 * qualifiers away. EVP_PKEY is safe for concurrent read-only use in OpenSSL 3 (each operation
 * builds its own EVP_PKEY_CTX), which is what crypto.h promises. */
#ifndef CF_CRYPTO_INT_H
#define CF_CRYPTO_INT_H

#include "base/cf.h"

#include <openssl/evp.h>

struct cf_pkey {
    EVP_PKEY *pk;
};

/* Drains the OpenSSL error queue into one log line "crypto: <what> failed: <reasons>" (library
 * and reason strings only; the per-error data field is dropped because it can carry caller
 * input) and returns CF_ECRYPTO. Call after any unexpected OpenSSL failure. */
cf_err cf_crypto_fail(const char *what);
/* Drops the error queue without logging: for expected failures (a tag or signature that does
 * not verify, input that does not parse) that the caller reports itself. */
void cf_crypto_clear(void);

/* Wraps pk (taking ownership) in a new cf_pkey; frees pk and returns NULL on allocation
 * failure. */
struct cf_pkey *cf_crypto_pkey_wrap(EVP_PKEY *pk);
/* True if pk is an EC key on P-256 (prime256v1). */
bool cf_crypto_pkey_is_p256(const EVP_PKEY *pk);

/* SHA-256 and AES-256-GCM, fetched once per process (algs.c). */
const EVP_MD *cf_crypto_sha256(void);
const EVP_CIPHER *cf_crypto_aes256gcm(void);

#endif

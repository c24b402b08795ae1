/* libFuzzer target: bearer tokens are attacker-controlled; decoding must never crash, and a
 * decoded token with any signature must not verify under a fresh key. */
#include "base/cf.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cf_pkey *key;
    struct cf_jwt jwt;

    if (!key && cf_pkey_generate_ec_p256(&key) != CF_OK)
        return 0;
    memset(&jwt, 0, sizeof(jwt));
    if (cf_jwt_decode((struct cf_str){(const char *)data, size}, &jwt) == CF_OK) {
        if (cf_jwt_verify_es256(key, &jwt) == CF_OK)
            __builtin_trap();
    }
    cf_jwt_release(&jwt);
    return 0;
}

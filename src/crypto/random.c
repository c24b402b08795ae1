/* random.c - randomness and random identifiers.
 *
 *   cf_random        RAND_bytes (the default DRBG, safe across threads and after fork)
 *   cf_random_hex32  16 random bytes as 32 lowercase hex characters
 *   cf_uuid4         RFC 4122 version 4 UUID text */
#include "base/cf.h"
#include "base/codec.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <limits.h>
#include <openssl/rand.h>

cf_err cf_random(void *p, size_t n)
{
    unsigned char *b = p;

    /* RAND_bytes takes an int count: feed it in chunks so any size_t works. */
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(b, chunk) != 1)
            return cf_crypto_fail("RAND_bytes");
        b += chunk;
        n -= (size_t)chunk;
    }
    return CF_OK;
}

cf_err cf_random_hex32(char out[33])
{
    unsigned char r[16];
    cf_err e = cf_random(r, sizeof(r));

    if (e) {
        out[0] = '\0';
        return e;
    }
    cf_hex_encode(out, r, sizeof(r));
    return CF_OK;
}

cf_err cf_uuid4(char out[37])
{
    unsigned char r[16];
    char hex[33];
    cf_err e = cf_random(r, sizeof(r));

    if (e) {
        out[0] = '\0';
        return e;
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* variant 10xx */
    cf_hex_encode(hex, r, sizeof(r));
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return CF_OK;
}

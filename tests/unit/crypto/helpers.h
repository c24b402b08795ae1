/* helpers.h - small helpers shared by the crypto unit tests (header-only, static). */
#ifndef CF_TEST_CRYPTO_HELPERS_H
#define CF_TEST_CRYPTO_HELPERS_H

#include "base/cf.h"

/* Decodes lowercase/uppercase hex text into out; returns the byte count (asserts on bad text). */
static inline size_t test_unhex(const char *hex, unsigned char *out, size_t max)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned int v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            abort();
        out[i] = (unsigned char)v;
    }
    if (n > max || strlen(hex) % 2)
        abort();
    return n;
}

#endif

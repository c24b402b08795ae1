/* libFuzzer target: PKCS#12 (PFX) certificate import with a password (cf_cert_from_pkcs12,
 * src/crypto/pkcs12.c), the "value" of a certificate import request after base64 decoding.
 * Input and checks: fuzz_cert.h (flags byte, password line, PFX bytes). The seeds use one
 * PBKDF2 iteration so that an input costs microseconds, not the milliseconds of real files. */
#include "base/cf.h"
#include "fuzz_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cert_one(data, size, false);
    return 0;
}

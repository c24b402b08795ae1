/* libFuzzer target: PEM certificate import - a private key (PKCS#8, traditional, or encrypted
 * with the password) and CERTIFICATE blocks in any order with text between them
 * (cf_cert_from_pem, src/crypto/pkcs12.c), the "value" of a PEM certificate import request.
 * Input and checks: fuzz_cert.h (flags byte, password line, PEM text). */
#include "base/cf.h"
#include "fuzz_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cert_one(data, size, true);
    return 0;
}

/* err.c - the OpenSSL error queue -> one log line, and clearing it (STYLE.md practice 9).
 *
 *   cf_crypto_fail   log the queue, clear it, return CF_ECRYPTO
 *   cf_crypto_clear  clear it silently (expected failures) */
#include "base/cf.h"
#include "base/log.h"
#include "crypto/crypto_int.h"

#include <openssl/err.h>

cf_err cf_crypto_fail(const char *what)
{
    char line[512];
    size_t n = 0;
    unsigned long code;
    int k;

    line[0] = '\0';
    /* ERR_get_error_all also returns the data string, which may echo caller input (a PEM line,
     * a name): we keep only the library/reason text that ERR_error_string_n produces. */
    while ((code = ERR_get_error()) != 0) {
        char one[256];
        if (n >= sizeof(line) - 1)
            continue; /* keep draining so the queue ends empty */
        ERR_error_string_n(code, one, sizeof(one));
        k = snprintf(line + n, sizeof(line) - n, "%s%s", n ? "; " : "", one);
        if (k > 0)
            n = CF_MIN(n + (size_t)k, sizeof(line) - 1);
    }
    cf_error("crypto: %s failed: %s", what, n ? line : "(no OpenSSL error)");
    return CF_ECRYPTO;
}

void cf_crypto_clear(void)
{
    ERR_clear_error();
}

/* algs.c - algorithm handles fetched once per process.
 *
 * OpenSSL 3 looks an algorithm up in its provider tables on every EVP_sha256() /
 * EVP_aes_256_gcm() use (a name lookup, a lock and a refcount); on the hot path (a SHA-256 per
 * request for the token cache, an AES-GCM open per secret read) that was measured at ~5 % of a
 * GET. These handles are fetched explicitly once and never change afterwards, so sharing them
 * between threads needs no locking: the one piece of process-wide state in crypto/, read-only
 * after its pthread_once. If the fetch fails the implicit handles are used instead. */
#include "base/cf.h"
#include "crypto/crypto_int.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;
static EVP_CIPHER *aes256gcm;

static void fetch_all(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

const EVP_MD *cf_crypto_sha256(void)
{
    pthread_once(&once, fetch_all);
    return sha256 ? sha256 : EVP_sha256();
}

const EVP_CIPHER *cf_crypto_aes256gcm(void)
{
    pthread_once(&once, fetch_all);
    return aes256gcm ? aes256gcm : EVP_aes_256_gcm();
}

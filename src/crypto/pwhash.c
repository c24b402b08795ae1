/* pwhash.c - hashing of client secrets for storage.
 *
 *   cf_pwhash         "pbkdf2-sha256$<iter>$<salt b64url>$<hash b64url>", 16-byte random salt,
 *                     32-byte PBKDF2-HMAC-SHA256 output, CF_PWHASH_ITER iterations
 *   cf_pwhash_verify  parses a stored form strictly, recomputes with its own iteration count and
 *                     compares in constant time
 *
 * The iteration count is read back from the stored form so it can be raised later without
 * invalidating existing hashes; counts outside [CF_PWHASH_ITER_MIN, CF_PWHASH_ITER_MAX] are
 * refused so a forged or damaged row can neither weaken the check nor stall a worker. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/secret.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <limits.h>
#include <openssl/evp.h>

#define PW_PREFIX "pbkdf2-sha256$"
#define PW_SALT_LEN 16
#define PW_HASH_LEN 32

static const char empty[1];

static cf_err derive(const void *secret, size_t len, const unsigned char *salt, long iter,
                     unsigned char out[PW_HASH_LEN])
{
    if (len > INT_MAX)
        return CF_ETOOBIG;
    if (PKCS5_PBKDF2_HMAC(secret ? secret : empty, (int)len, salt, PW_SALT_LEN, (int)iter,
                          EVP_sha256(), PW_HASH_LEN, out) != 1)
        return cf_crypto_fail("PBKDF2");
    return CF_OK;
}

cf_err cf_pwhash(const void *secret, size_t len, char out[CF_PWHASH_MAX])
{
    unsigned char salt[PW_SALT_LEN], hash[PW_HASH_LEN];
    struct cf_buf b;
    cf_err e;

    out[0] = '\0';
    cf_buf_init(&b, CF_PWHASH_MAX - 1);
    e = cf_random(salt, sizeof(salt));
    if (e)
        return e;
    e = derive(secret, len, salt, CF_PWHASH_ITER, hash);
    if (e)
        goto wipe;
    /* The hash is not the secret, but it is what an attacker would brute-force: wipe anyway. */
    if ((e = cf_buf_printf(&b, PW_PREFIX "%d$", CF_PWHASH_ITER)) != CF_OK ||
        (e = cf_b64url_encode(&b, salt, sizeof(salt))) != CF_OK ||
        (e = cf_buf_putc(&b, '$')) != CF_OK ||
        (e = cf_b64url_encode(&b, hash, sizeof(hash))) != CF_OK)
        goto wipe;
    memcpy(out, b.data, b.len + 1);
wipe:
    cf_wipe(hash, sizeof(hash));
    cf_buf_wipe(&b);
    return e;
}

/* Strict base64url (no padding, no '+' '/'): decodes s into exactly want bytes at out. */
static bool b64url_exact(struct cf_str s, unsigned char *out, size_t want)
{
    struct cf_buf b;
    bool ok = false;

    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    /* Unpadded length of want bytes: the only length that decodes to it. */
    if (s.len != (want * 4 + 2) / 3)
        return false;
    cf_buf_init(&b, want + 3);
    if (cf_b64_decode(&b, s) == CF_OK && b.len == want) {
        memcpy(out, b.data, want);
        ok = true;
    }
    cf_buf_wipe(&b);
    return ok;
}

/* Decimal without sign or leading zero, within the accepted range. */
static bool parse_iter(struct cf_str s, long *out)
{
    int64_t v;

    if (s.len == 0 || s.len > 8 || s.p[0] == '0')
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
    if (!cf_str_to_i64(s, &v) || v < CF_PWHASH_ITER_MIN || v > CF_PWHASH_ITER_MAX)
        return false;
    *out = (long)v;
    return true;
}

bool cf_pwhash_verify(const void *secret, size_t len, const char *stored)
{
    unsigned char salt[PW_SALT_LEN], want[PW_HASH_LEN], got[PW_HASH_LEN];
    struct cf_str rest, iter_s, salt_s, hash_s;
    size_t slen;
    long iter;
    bool ok = false;

    if (!stored)
        return false;
    slen = strnlen(stored, CF_PWHASH_MAX);
    if (slen >= CF_PWHASH_MAX)
        return false;
    rest = (struct cf_str){stored, slen};
    if (!cf_str_starts_with(rest, PW_PREFIX))
        return false;
    rest.p += sizeof(PW_PREFIX) - 1;
    rest.len -= sizeof(PW_PREFIX) - 1;
    if (!cf_str_split(rest, '$', &iter_s, &rest) || !cf_str_split(rest, '$', &salt_s, &hash_s))
        return false;
    if (!parse_iter(iter_s, &iter) || !b64url_exact(salt_s, salt, sizeof(salt)) ||
        !b64url_exact(hash_s, want, sizeof(want)))
        goto wipe;
    if (derive(secret, len, salt, iter, got) != CF_OK)
        goto wipe;
    ok = cf_ct_eq(got, want, sizeof(got));
wipe:
    cf_wipe(got, sizeof(got));
    cf_wipe(want, sizeof(want));
    return ok;
}

/* libFuzzer target: public EC keys from a JWK's "x" and "y" (cf_pkey_from_jwk_ec), the way a
 * trusted external issuer's JWKS reaches us. Input: x and y separated by the first '\n' (no
 * newline: the whole input is x and y is empty).
 * Checks: never crashes; an accepted key is EC P-256 (cf_pkey_write_jwk accepts it) and writes
 * back the same x and y (base64url of 32-byte coordinates, so the text round-trips exactly
 * when the input was canonical); a signature made by another key never verifies under it. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cf_pkey *other;
    static struct cf_buf token;
    const char *p = (const char *)data, *nl = memchr(p, '\n', size);
    struct cf_str x = {p, nl ? (size_t)(nl - p) : size};
    struct cf_str y = nl ? (struct cf_str){nl + 1, size - x.len - 1} : CF_STR("");
    struct cf_pkey *k = NULL;

    if (!other) { /* one token signed by a key the input cannot be */
        if (cf_pkey_generate_ec_p256(&other) != CF_OK)
            abort();
        cf_buf_init(&token, 4096);
        if (cf_jwt_sign_es256(other, NULL, "{\"a\":1}", 7, &token) != CF_OK)
            abort();
    }
    if (cf_pkey_from_jwk_ec(x, y, &k) == CF_OK) {
        struct cf_buf out, xd, yd;
        struct cf_jw w;
        struct cf_jwt jwt;
        struct cf_json *j = NULL;

        cf_buf_init(&out, 4096);
        cf_buf_init(&xd, 64);
        cf_buf_init(&yd, 64);
        cf_jw_init(&w, &out);
        if (cf_pkey_write_jwk(k, NULL, &w) != CF_OK || cf_jw_err(&w) != CF_OK)
            __builtin_trap(); /* accepted, so it must be P-256 */
        if (cf_json_parse(out.data, out.len, &j, NULL, 0) != CF_OK)
            __builtin_trap();
        /* The written coordinates decode to the same 32-byte values the input decodes to. */
        {
            size_t xl = 0, yl = 0;
            const char *xs = cf_json_str(cf_json_get(j, "x"), &xl);
            const char *ys = cf_json_str(cf_json_get(j, "y"), &yl);
            struct cf_buf a, b;
            cf_buf_init(&a, 64);
            cf_buf_init(&b, 64);
            if (!xs || !ys || cf_b64_decode(&a, (struct cf_str){xs, xl}) != CF_OK ||
                cf_b64_decode(&b, (struct cf_str){ys, yl}) != CF_OK ||
                cf_b64_decode(&xd, x) != CF_OK || cf_b64_decode(&yd, y) != CF_OK ||
                a.len != 32 || b.len != 32 || xd.len != 32 || yd.len != 32 ||
                memcmp(a.data, xd.data, 32) != 0 || memcmp(b.data, yd.data, 32) != 0)
                __builtin_trap();
            cf_buf_release(&a);
            cf_buf_release(&b);
        }
        memset(&jwt, 0, sizeof(jwt));
        if (cf_jwt_decode(cf_buf_str(&token), &jwt) != CF_OK)
            __builtin_trap();
        /* Only the one point equal to other's public key could verify; the fuzzer cannot
         * guess it. */
        if (cf_jwt_verify_es256(k, &jwt) == CF_OK)
            __builtin_trap();
        cf_jwt_release(&jwt);
        cf_json_free(j);
        cf_buf_release(&out);
        cf_buf_release(&xd);
        cf_buf_release(&yd);
        cf_pkey_free(k);
    }
    return 0;
}

/* shamir.c - Shamir secret sharing over GF(2^8) (the AES field, polynomial x^8+x^4+x^3+x+1)
 * and the share text format of custody.h.
 *
 * Map: gf_mul / gf_inv (branch-free on secret data) -> cf_shamir_split / _seeded (one random - or
 * seed-derived - polynomial of degree t-1 per key byte, f(0) = the byte, share x = f(x)) ->
 * cf_shamir_combine (Lagrange at 0) -> cf_share_encode / _decode (version, key id, threshold, x, y,
 * SHA-256 check). */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/codec.h"
#include "base/secret.h"
#include "crypto/crypto.h"

/* Multiplication without data-dependent branches or tables (the operands are key bytes). */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    for (int i = 0; i < 8; i++) {
        r ^= (uint8_t)(-(b & 1) & a);
        uint8_t hi = (uint8_t)(-(a >> 7) & 0x1b);
        a = (uint8_t)((a << 1) ^ hi);
        b >>= 1;
    }
    return r;
}

/* a^254 = a^-1 (a != 0). */
static uint8_t gf_inv(uint8_t a)
{
    uint8_t r = 1, p = a;
    for (int e = 254; e; e >>= 1) {
        if (e & 1)
            r = gf_mul(r, p);
        p = gf_mul(p, p);
    }
    return r;
}

/* coefs: NULL = random coefficients, else (t-1) per key byte, byte-major. */
static cf_err split(const uint8_t key[CF_CUSTODY_KEY_LEN], const uint8_t key_id[4], int t, int n,
                    const uint8_t *coefs, struct cf_share *out)
{
    uint8_t coef[CF_SHAMIR_MAX_SHARES]; /* coef[0] = secret byte, coef[1..t-1] random */
    cf_err e = CF_OK;

    if (!key || !key_id || !out || t < 2 || n < t || n > CF_SHAMIR_MAX_SHARES)
        return CF_EINVAL;
    for (int s = 0; s < n; s++) {
        memcpy(out[s].key_id, key_id, 4);
        out[s].threshold = (uint8_t)t;
        out[s].x = (uint8_t)(s + 1);
    }
    for (int i = 0; i < CF_CUSTODY_KEY_LEN && !e; i++) {
        coef[0] = key[i];
        if (coefs)
            memcpy(coef + 1, coefs + (size_t)i * (size_t)(t - 1), (size_t)(t - 1));
        else if ((e = cf_random(coef + 1, (size_t)(t - 1))))
            break;
        for (int s = 0; s < n; s++) {
            uint8_t x = out[s].x, y = 0;
            for (int j = t - 1; j >= 0; j--) /* Horner */
                y = (uint8_t)(gf_mul(y, x) ^ coef[j]);
            out[s].y[i] = y;
        }
    }
    cf_wipe(coef, sizeof(coef));
    if (e)
        cf_wipe(out, sizeof(*out) * (size_t)n);
    return e;
}

cf_err cf_shamir_split(const uint8_t key[CF_CUSTODY_KEY_LEN], const uint8_t key_id[4], int t, int n,
                       struct cf_share *out)
{
    return split(key, key_id, t, n, NULL, out);
}

cf_err cf_shamir_split_seeded(const uint8_t key[CF_CUSTODY_KEY_LEN], const uint8_t key_id[4], int t,
                              int n, const uint8_t seed[32], struct cf_share *out)
{
    static const char info_tag[] = "coffer shamir coefficients v1";
    uint8_t coefs[CF_CUSTODY_KEY_LEN * (CF_SHAMIR_MAX_SHARES - 1)];
    uint8_t info[sizeof(info_tag) - 1 + 5];
    cf_err e;

    if (!seed || t < 2 || n < t || n > CF_SHAMIR_MAX_SHARES || !key_id)
        return CF_EINVAL;
    memcpy(info, info_tag, sizeof(info_tag) - 1);
    memcpy(info + sizeof(info_tag) - 1, key_id, 4);
    info[sizeof(info) - 1] = (uint8_t)t;
    e = cf_hkdf_sha256(seed, 32, NULL, 0, info, sizeof(info), coefs,
                       (size_t)CF_CUSTODY_KEY_LEN * (size_t)(t - 1));
    if (!e)
        e = split(key, key_id, t, n, coefs, out);
    cf_wipe(coefs, sizeof(coefs));
    return e;
}

cf_err cf_shamir_combine(const struct cf_share *s, int k, uint8_t key[CF_CUSTODY_KEY_LEN])
{
    uint8_t lag[CF_SHAMIR_MAX_SHARES * 16];

    if (!s || !key || k < 2 || k > (int)sizeof(lag))
        return CF_EBADPARAM;
    for (int a = 0; a < k; a++) {
        if (s[a].x == 0)
            return CF_EBADPARAM;
        for (int b = a + 1; b < k; b++)
            if (s[a].x == s[b].x)
                return CF_EBADPARAM;
    }
    /* l_a(0) = prod_{b != a} x_b / (x_b - x_a); subtraction is xor in GF(2^8). The x are
     * public, so these may branch. */
    for (int a = 0; a < k; a++) {
        uint8_t num = 1, den = 1;
        for (int b = 0; b < k; b++) {
            if (b == a)
                continue;
            num = gf_mul(num, s[b].x);
            den = gf_mul(den, (uint8_t)(s[b].x ^ s[a].x));
        }
        lag[a] = gf_mul(num, gf_inv(den));
    }
    for (int i = 0; i < CF_CUSTODY_KEY_LEN; i++) {
        uint8_t v = 0;
        for (int a = 0; a < k; a++)
            v ^= gf_mul(s[a].y[i], lag[a]);
        key[i] = v;
    }
    return CF_OK;
}

static void share_bytes(const struct cf_share *s, uint8_t b[CF_SHARE_BYTES])
{
    b[0] = 1;
    memcpy(b + 1, s->key_id, 4);
    b[5] = s->threshold;
    b[6] = s->x;
    memcpy(b + 7, s->y, CF_CUSTODY_KEY_LEN);
}

cf_err cf_share_encode(const struct cf_share *s, char out[CF_SHARE_TEXT_MAX])
{
    uint8_t b[CF_SHARE_BYTES], h[CF_SHA256_LEN];
    struct cf_buf t;
    cf_err e;

    if (!s || !out || s->x == 0)
        return CF_EINVAL;
    share_bytes(s, b);
    if ((e = cf_sha256(b, CF_SHARE_BYTES - 4, h)))
        goto wipe;
    memcpy(b + CF_SHARE_BYTES - 4, h, 4);
    cf_buf_init(&t, CF_SHARE_TEXT_MAX - 1);
    e = cf_b64url_encode(&t, b, sizeof(b));
    if (!e)
        memcpy(out, t.data, t.len + 1);
    cf_buf_wipe(&t);
wipe:
    cf_wipe(b, sizeof(b));
    return e;
}

cf_err cf_share_decode(const char *text, struct cf_share *out)
{
    uint8_t h[CF_SHA256_LEN];
    struct cf_buf b;
    struct cf_str in;
    cf_err e = CF_EBADPARAM;

    if (!text || !out)
        return CF_EINVAL;
    in = cf_str_from(text);
    while (in.len &&
           (in.p[in.len - 1] == '\n' || in.p[in.len - 1] == ' ' || in.p[in.len - 1] == '\r'))
        in.len--;
    while (in.len && in.p[0] == ' ')
        in.p++, in.len--;
    if (in.len == 0 || in.len > CF_SHARE_TEXT_MAX)
        return CF_EBADPARAM;
    cf_buf_init(&b, 64);
    if (cf_b64_decode(&b, in) != CF_OK || b.len != CF_SHARE_BYTES || (uint8_t)b.data[0] != 1)
        goto wipe;
    if (cf_sha256(b.data, CF_SHARE_BYTES - 4, h) != CF_OK ||
        !cf_ct_eq(h, b.data + CF_SHARE_BYTES - 4, 4))
        goto wipe;
    memcpy(out->key_id, b.data + 1, 4);
    out->threshold = (uint8_t)b.data[5];
    out->x = (uint8_t)b.data[6];
    memcpy(out->y, b.data + 7, CF_CUSTODY_KEY_LEN);
    if (out->x == 0 || out->threshold < 2) {
        cf_wipe(out, sizeof(*out));
        goto wipe;
    }
    e = CF_OK;
wipe:
    cf_buf_wipe(&b);
    return e;
}

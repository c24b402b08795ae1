/* libFuzzer target: key import from a JWK with private parts (cf_kvkey_from_jwk, src/crypto/
 * kvkey.c), the body of a key import request. Input: JSON text, parsed with cf_json_parse as the
 * api does; anything that is not JSON is skipped.
 * Checks: never crashes; a refusal is CF_EBADPARAM with a reason (or CF_ENOTIMPL for BYOK
 * "key_hsm") that quotes none of the private members; an accepted key
 *   - has the type the JWK's kty names and a supported size (RSA 2048/3072/4096 bits, oct
 *     128/192/256, EC the curve's),
 *   - round-trips through cf_kvkey_to_blob / cf_kvkey_from_blob to a key of the same type and
 *     size whose blob is byte-identical (the sealed form is a fixed point),
 *   - writes the same public JWK before and after the round trip, with the input's n / x / y
 *     (as numbers: leading zeros and padding are the input's business),
 *   - signs and verifies (RS256 + PS256, ES* of its curve, HS256 for oct) and refuses the
 *     signature with one bit flipped; RSA also decrypts its own RSA-OAEP-256, oct its own
 *     A*KW wrap.
 * Cost: RSA keys over 2048 bits are skipped before import (the full key check and the n,e,d
 * factor recovery grow with the cube of the size); 2048-bit ones keep the round trips. */
#include "base/cf.h"
#include "fuzz_check.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *jstr(const struct cf_json *o, const char *k, size_t *n)
{
    *n = 0;
    return cf_json_str(cf_json_get(o, k), n);
}

static bool kty_is(struct cf_str kty, const char *a)
{
    char hsm[16];
    snprintf(hsm, sizeof(hsm), "%s-HSM", a);
    return cf_str_eq_cstr(kty, a) || cf_str_eq_cstr(kty, hsm);
}

/* b64 text of member k of o decoded and stripped of leading zero bytes into b; false when
 * absent or undecodable. */
static bool member_num(const struct cf_json *o, const char *k, struct cf_buf *b)
{
    size_t n, skip = 0;
    const char *s = jstr(o, k, &n);

    cf_buf_reset(b);
    if (!s || cf_b64_decode(b, (struct cf_str){s, n}) != CF_OK)
        return false;
    while (skip < b->len && b->data[skip] == 0)
        skip++;
    memmove(b->data, b->data + skip, b->len - skip);
    b->len -= skip;
    return true;
}

/* The public members the key writes equal the input's (as big-endian numbers). */
static void check_public(const struct cf_json *in, const struct cf_json *pub, enum cf_kty kty)
{
    static const char *const rsa[] = {"n", "e", NULL}, *const ec[] = {"x", "y", NULL};
    const char *const *names = kty == CF_KTY_RSA ? rsa : kty == CF_KTY_EC ? ec : NULL;
    struct cf_buf a, b;

    cf_buf_init(&a, 1024);
    cf_buf_init(&b, 1024);
    for (; names && *names; names++) {
        CHECK(member_num(in, *names, &a));
        CHECK(member_num(pub, *names, &b));
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    }
    cf_buf_release(&a);
    cf_buf_release(&b);
}

/* Private members never appear in a refusal's reason. */
static void check_why(const struct cf_json *in, const char *why)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    for (size_t i = 0; i < CF_ARRAY_LEN(priv); i++) {
        size_t n;
        const char *s = jstr(in, priv[i], &n);
        if (s && n >= 8 && memmem(why, strlen(why), s, n))
            __builtin_trap();
    }
}

static void public_jwk(const struct cf_kvkey *k, struct cf_buf *out)
{
    struct cf_jw w;
    cf_buf_reset(out);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    CHECK(cf_kvkey_write_public_jwk(k, true, &w) == CF_OK);
    cf_jw_obj_end(&w);
    CHECK(cf_jw_err(&w) == CF_OK);
}

static void sign_verify(const struct cf_kvkey *k, const char *alg, size_t dlen)
{
    unsigned char digest[64];
    struct cf_buf sig;
    bool valid = false;
    char why[256];

    for (size_t i = 0; i < sizeof(digest); i++)
        digest[i] = (unsigned char)(i * 31 + 7);
    cf_buf_init(&sig, 1024);
    CHECK(cf_kvkey_sign(k, alg, digest, dlen, &sig, why, sizeof(why)) == CF_OK);
    CHECK(cf_kvkey_verify(k, alg, digest, dlen, sig.data, sig.len, &valid, why, sizeof(why)) ==
          CF_OK);
    CHECK(valid);
    sig.data[sig.len / 2] ^= 0x10;
    CHECK(cf_kvkey_verify(k, alg, digest, dlen, sig.data, sig.len, &valid, why, sizeof(why)) ==
          CF_OK);
    CHECK(!valid);
    cf_buf_release(&sig);
}

static void exercise(const struct cf_kvkey *k)
{
    static const char msg[24] = "fuzz_kvkey_jwk payload!";
    struct cf_buf ct;
    struct cf_secret *pt = NULL;
    char why[256], alg[24];

    cf_buf_init(&ct, 1024);
    switch (cf_kvkey_type(k)) {
    case CF_KTY_RSA:
        sign_verify(k, "RS256", 32);
        sign_verify(k, "PS256", 32);
        CHECK(cf_kvkey_encrypt(k, "RSA-OAEP-256", msg, sizeof(msg), &ct, why, sizeof(why)) ==
              CF_OK);
        CHECK(cf_kvkey_decrypt(k, "RSA-OAEP-256", ct.data, ct.len, &pt, why, sizeof(why)) == CF_OK);
        break;
    case CF_KTY_EC:
        switch (cf_kvkey_curve(k)) {
        case CF_CRV_P256:
            sign_verify(k, "ES256", 32);
            break;
        case CF_CRV_P256K:
            sign_verify(k, "ES256K", 32);
            break;
        case CF_CRV_P384:
            sign_verify(k, "ES384", 48);
            break;
        case CF_CRV_P521:
            sign_verify(k, "ES512", 64);
            break;
        case CF_CRV_NONE:
            __builtin_trap();
        }
        break;
    case CF_KTY_OCT:
        sign_verify(k, "HS256", 32);
        snprintf(alg, sizeof(alg), "A%dKW", cf_kvkey_bits(k));
        CHECK(cf_kvkey_wrap(k, alg, msg, sizeof(msg), &ct, why, sizeof(why)) == CF_OK);
        CHECK(cf_kvkey_unwrap(k, alg, ct.data, ct.len, &pt, why, sizeof(why)) == CF_OK);
        break;
    }
    if (pt)
        CHECK(pt->len == sizeof(msg) && memcmp(pt->p, msg, sizeof(msg)) == 0);
    cf_secret_free(pt);
    cf_buf_release(&ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_json *j = NULL, *pubj = NULL;
    struct cf_kvkey *k = NULL, *k2 = NULL;
    struct cf_secret *b1 = NULL, *b2 = NULL;
    struct cf_buf p1, p2;
    char why[512];
    size_t n = 0;
    const char *kty_s;
    struct cf_str kty;
    cf_err e;

    if (size > 16 * 1024 || cf_json_parse((const char *)data, size, &j, NULL, 0) != CF_OK)
        return 0;
    kty_s = jstr(j, "kty", &n);
    kty = (struct cf_str){kty_s, n};
    /* RSA above 2048 bits costs tens of ms an input: 342 base64url characters are 256 bytes. */
    if (kty_s && kty_is(kty, "RSA") && (jstr(j, "n", &n), n > 346)) {
        cf_json_free(j);
        return 0;
    }
    memset(why, 'x', sizeof(why));
    e = cf_kvkey_from_jwk(j, &k, why, sizeof(why));
    CHECK(memchr(why, '\0', sizeof(why)) != NULL);
    if (e != CF_OK) {
        CHECK(k == NULL);
        CHECK(e == CF_EBADPARAM || e == CF_ENOTIMPL || e == CF_ENOMEM);
        CHECK(e == CF_ENOMEM || why[0] != '\0');
        check_why(j, why);
        cf_json_free(j);
        return 0;
    }
    CHECK(k && why[0] == '\0' && kty_s);
    switch (cf_kvkey_type(k)) {
    case CF_KTY_RSA:
        CHECK(kty_is(kty, "RSA"));
        CHECK(cf_kvkey_bits(k) == 2048 || cf_kvkey_bits(k) == 3072 || cf_kvkey_bits(k) == 4096);
        CHECK(cf_kvkey_curve(k) == CF_CRV_NONE);
        break;
    case CF_KTY_EC: {
        const char *crv = jstr(j, "crv", &n);
        enum cf_crv c;
        CHECK(kty_is(kty, "EC"));
        CHECK(crv && cf_crv_parse((struct cf_str){crv, n}, &c) && c == cf_kvkey_curve(k));
        CHECK(cf_kvkey_bits(k) == (c == CF_CRV_P384 ? 384 : c == CF_CRV_P521 ? 521 : 256));
        break;
    }
    case CF_KTY_OCT:
        CHECK(kty_is(kty, "oct"));
        CHECK(cf_kvkey_bits(k) == 128 || cf_kvkey_bits(k) == 192 || cf_kvkey_bits(k) == 256);
        break;
    }

    CHECK(cf_kvkey_to_blob(k, &b1) == CF_OK);
    CHECK(cf_kvkey_from_blob(b1->p, b1->len, &k2) == CF_OK);
    CHECK(cf_kvkey_type(k2) == cf_kvkey_type(k) && cf_kvkey_bits(k2) == cf_kvkey_bits(k) &&
          cf_kvkey_curve(k2) == cf_kvkey_curve(k));
    CHECK(cf_kvkey_to_blob(k2, &b2) == CF_OK);
    CHECK(b1->len == b2->len && memcmp(b1->p, b2->p, b1->len) == 0);

    cf_buf_init(&p1, 4096);
    cf_buf_init(&p2, 4096);
    public_jwk(k, &p1);
    public_jwk(k2, &p2);
    CHECK(p1.len == p2.len && memcmp(p1.data, p2.data, p1.len) == 0);
    CHECK(cf_json_parse(p1.data, p1.len, &pubj, NULL, 0) == CF_OK);
    CHECK(cf_json_get(pubj, "d") == NULL && cf_json_get(pubj, "k") == NULL &&
          cf_json_get(pubj, "p") == NULL);
    check_public(j, pubj, cf_kvkey_type(k));

    exercise(k2);

    cf_json_free(pubj);
    cf_buf_release(&p1);
    cf_buf_release(&p2);
    cf_secret_free(b1);
    cf_secret_free(b2);
    cf_kvkey_free(k);
    cf_kvkey_free(k2);
    cf_json_free(j);
    return 0;
}

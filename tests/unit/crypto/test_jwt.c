/* test_jwt.c - EC P-256 keys (PKCS#8 round trip, JWK) and ES256 compact JWS: round trip,
 * algorithm confusion ("none", HS256, RS256), truncation, garbage, foreign keys, tampering. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <cmocka.h>

#define PAYLOAD "{\"iss\":\"https://login.localhost/t\",\"sub\":\"app\",\"exp\":4102444800}"

struct fixture {
    struct cf_pkey *k1, *k2;
    struct cf_buf tok; /* a valid token signed by k1, kid "key-1" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || cf_pkey_generate_ec_p256(&f->k1) || cf_pkey_generate_ec_p256(&f->k2))
        return -1;
    cf_buf_init(&f->tok, CF_JWT_MAX_LEN);
    if (cf_jwt_sign_es256(f->k1, "key-1", PAYLOAD, strlen(PAYLOAD), &f->tok))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cf_pkey_free(f->k1);
    cf_pkey_free(f->k2);
    cf_buf_release(&f->tok);
    free(f);
    return 0;
}

/* decode + verify in one step, releasing everything; returns the first error. */
static cf_err check(const struct cf_pkey *k, struct cf_str token)
{
    struct cf_jwt j;
    cf_err e = cf_jwt_decode(token, &j);
    if (e == CF_OK)
        e = cf_jwt_verify_es256(k, &j);
    cf_jwt_release(&j);
    return e;
}

/* Builds b64url(header).b64url(payload).sig_part into out. */
static void craft(struct cf_buf *out, const char *header, const char *payload, const char *sig)
{
    cf_buf_reset(out);
    assert_int_equal(cf_b64url_encode(out, header, strlen(header)), CF_OK);
    assert_int_equal(cf_buf_putc(out, '.'), CF_OK);
    assert_int_equal(cf_b64url_encode(out, payload, strlen(payload)), CF_OK);
    assert_int_equal(cf_buf_putc(out, '.'), CF_OK);
    assert_int_equal(cf_buf_puts(out, sig), CF_OK);
}

/* The third part of a token (the base64url signature). */
static const char *sig_part(const struct cf_buf *tok)
{
    return strrchr(tok->data, '.') + 1;
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cf_jwt j;
    struct cf_json *hdr = NULL;
    const char *dot2;

    assert_int_equal(cf_jwt_decode(cf_buf_str(&f->tok), &j), CF_OK);
    assert_string_equal(j.alg, "ES256");
    assert_string_equal(j.kid, "key-1");
    assert_int_equal(j.sig.len, 64);
    assert_int_equal(j.payload.len, strlen(PAYLOAD));
    assert_memory_equal(j.payload.data, PAYLOAD, strlen(PAYLOAD));
    dot2 = strrchr(f->tok.data, '.');
    assert_ptr_equal(j.signing_input.p, f->tok.data);
    assert_int_equal(j.signing_input.len, (size_t)(dot2 - f->tok.data));
    assert_int_equal(cf_json_parse(j.header.data, j.header.len, &hdr, NULL, 0), CF_OK);
    assert_string_equal(cf_json_str(cf_json_get(hdr, "typ"), NULL), "JWT");
    cf_json_free(hdr);
    assert_int_equal(cf_jwt_verify_es256(f->k1, &j), CF_OK);
    /* A different key does not verify it. */
    assert_int_equal(cf_jwt_verify_es256(f->k2, &j), CF_EUNAUTH);
    cf_jwt_release(&j);
    /* ECDSA is randomised: two signatures of the same input differ, both verify. */
    {
        struct cf_buf t2;
        cf_buf_init(&t2, CF_JWT_MAX_LEN);
        assert_int_equal(cf_jwt_sign_es256(f->k1, "key-1", PAYLOAD, strlen(PAYLOAD), &t2), CF_OK);
        assert_string_not_equal(t2.data, f->tok.data);
        assert_int_equal(check(f->k1, cf_buf_str(&t2)), CF_OK);
        cf_buf_release(&t2);
    }
}

static void test_sign_appends_and_no_kid(void **state)
{
    struct fixture *f = *state;
    struct cf_buf b;
    struct cf_jwt j;

    cf_buf_init(&b, 4096);
    assert_int_equal(cf_buf_puts(&b, "Bearer "), CF_OK);
    assert_int_equal(cf_jwt_sign_es256(f->k2, NULL, "{}", 2, &b), CF_OK);
    assert_memory_equal(b.data, "Bearer ", 7);
    assert_int_equal(cf_jwt_decode((struct cf_str){b.data + 7, b.len - 7}, &j), CF_OK);
    assert_string_equal(j.kid, "");
    assert_int_equal(cf_jwt_verify_es256(f->k2, &j), CF_OK);
    cf_jwt_release(&j);
    /* kid needing JSON escaping round-trips. */
    cf_buf_reset(&b);
    assert_int_equal(cf_jwt_sign_es256(f->k2, "a\"b\\c", "{}", 2, &b), CF_OK);
    assert_int_equal(cf_jwt_decode(cf_buf_str(&b), &j), CF_OK);
    assert_string_equal(j.kid, "a\"b\\c");
    cf_jwt_release(&j);
    /* Output buffer too small: error, buffer unchanged. */
    cf_buf_release(&b);
    cf_buf_init(&b, 60);
    assert_int_equal(cf_buf_puts(&b, "keep"), CF_OK);
    assert_int_equal(cf_jwt_sign_es256(f->k2, "kid", "{}", 2, &b), CF_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    cf_buf_release(&b);
}

static void test_alg_confusion(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"key-1\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"key-1\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"key-1\"}",
        "{\"alg\":\"ES384\",\"typ\":\"JWT\",\"kid\":\"key-1\"}",
        "{\"alg\":\"es256\",\"typ\":\"JWT\",\"kid\":\"key-1\"}",
        "{\"typ\":\"JWT\",\"kid\":\"key-1\"}",
    };
    struct cf_buf t;
    struct cf_jwt j;

    cf_buf_init(&t, CF_JWT_MAX_LEN);
    for (size_t i = 0; i < CF_ARRAY_LEN(headers); i++) {
        /* With a syntactically valid 64-byte signature (borrowed from the real token). */
        craft(&t, headers[i], PAYLOAD, sig_part(&f->tok));
        assert_int_equal(cf_jwt_decode(cf_buf_str(&t), &j), CF_OK);
        assert_int_equal(cf_jwt_verify_es256(f->k1, &j), CF_EUNAUTH);
        cf_jwt_release(&j);
    }
    /* "none" with an empty signature is not even a well-formed token for us. */
    craft(&t, headers[0], PAYLOAD, "");
    assert_int_equal(cf_jwt_decode(cf_buf_str(&t), &j), CF_EUNAUTH);
    cf_jwt_release(&j);
    /* HS256 with a 32-byte "MAC": refused on alg before length. */
    craft(&t, headers[1], PAYLOAD, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(check(f->k1, cf_buf_str(&t)), CF_EUNAUTH);
    cf_buf_release(&t);
}

/* The original token's header and signature over a different payload. */
static void test_tampering(void **state)
{
    struct fixture *f = *state;
    struct cf_buf t;
    char *dup;

    cf_buf_init(&t, CF_JWT_MAX_LEN);
    craft(&t, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"key-1\"}",
          "{\"iss\":\"https://login.localhost/t\",\"sub\":\"admin\",\"exp\":4102444800}",
          sig_part(&f->tok));
    assert_int_equal(check(f->k1, cf_buf_str(&t)), CF_EUNAUTH);
    /* Each character of the token changed in turn: never verifies. Changing the last base64url
     * character of a part may only touch padding bits that decode identically, so those
     * positions may verify - that is still the same signed content. */
    dup = strdup(f->tok.data);
    assert_non_null(dup);
    for (size_t i = 0; i < f->tok.len; i++) {
        char orig = dup[i];
        dup[i] = orig == 'A' ? 'B' : 'A';
        if (orig != '.') {
            struct cf_jwt j;
            if (cf_jwt_decode(cf_str_from(dup), &j) == CF_OK &&
                cf_jwt_verify_es256(f->k1, &j) == CF_OK) {
                /* Accepted only if the decoded parts are byte-identical to the original. */
                struct cf_jwt o;
                assert_int_equal(cf_jwt_decode(cf_buf_str(&f->tok), &o), CF_OK);
                assert_int_equal(j.header.len, o.header.len);
                assert_memory_equal(j.payload.data, o.payload.data, o.payload.len);
                assert_memory_equal(j.sig.data, o.sig.data, 64);
                assert_true(i + 1 == f->tok.len || dup[i + 1] == '.');
                cf_jwt_release(&o);
            }
            cf_jwt_release(&j);
        }
        dup[i] = orig;
    }
    free(dup);
    cf_buf_release(&t);
}

static void test_truncated(void **state)
{
    struct fixture *f = *state;

    for (size_t n = 0; n < f->tok.len; n++)
        assert_int_equal(check(f->k1, (struct cf_str){f->tok.data, n}), CF_EUNAUTH);
    assert_int_equal(check(f->k1, cf_buf_str(&f->tok)), CF_OK);
}

static void test_garbage(void **state)
{
    static const char *const bad[] = {
        "",
        ".",
        "..",
        "...",
        "a",
        "a.b",
        "a.b.",
        ".b.c",
        "a..c",
        "a.b.c.d",
        "eyJhbGciOiJFUzI1NiJ9.e30.",                    /* empty signature */
        "eyJhbGciOiJFUzI1NiJ9..AAAA",                   /* empty payload */
        "eyJhbGciOiJFUzI1NiJ9=.e30.AAAA",               /* padding */
        "eyJhbGciOiJFUzI1NiJ9.e30.AA+/",                /* standard alphabet */
        "eyJhbGciOiJFUzI1NiJ9.e30.A",                   /* impossible length */
        "eyJhbGciOiJFUzI1NiJ9 .e30.AAAA",               /* space */
        "bm90IGpzb24.e30.AAAA",                         /* header "not json" */
        "WyJFUzI1NiJd.e30.AAAA",                        /* header ["ES256"] */
        "ImFsZyI.e30.AAAA",                             /* header "alg" (a JSON string) */
        "eyJhbGciOjF9.e30.AAAA",                        /* {"alg":1} */
        "eyJhbGciOiJFUzI1NiIsImtpZCI6bnVsbH0.e30.AAAA", /* {"alg":"ES256","kid":null} */
        /* {"alg":"ES256","crit":["exp"]} */
        "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.AAAA",
        /* {"alg":"ES256","alg":"none"} (duplicate key) */
        "eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AAAA",
        /* {"alg":"ES256\u0000x"} */
        "eyJhbGciOiJFUzI1Nlx1MDAwMHgifQ.e30.AAAA",
    };
    struct cf_jwt j;

    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        assert_int_equal(cf_jwt_decode(cf_str_from(bad[i]), &j), CF_EUNAUTH);
        /* A failed decode leaves nothing to free and nothing half-filled. */
        assert_null(j.header.data);
        assert_null(j.payload.data);
        assert_null(j.sig.data);
        assert_string_equal(j.alg, "");
        cf_jwt_release(&j);
    }
    assert_int_equal(cf_jwt_decode(CF_STR_NULL, &j), CF_EUNAUTH);
    cf_jwt_release(&j);
}

static void test_limits(void **state)
{
    struct fixture *f = *state;
    struct cf_buf t, hdr;
    struct cf_jwt j;
    char *payload;
    size_t plen;
    int hit_ok = 0, hit_over = 0;

    cf_buf_init(&t, 64 * 1024);
    cf_buf_init(&hdr, 4096);
    /* kid of 127 characters fits, 128 does not. */
    for (int len = 127; len <= 128; len++) {
        cf_buf_reset(&hdr);
        assert_int_equal(cf_buf_printf(&hdr, "{\"alg\":\"ES256\",\"kid\":\"%0*d\"}", len, 0),
                         CF_OK);
        craft(&t, hdr.data, "{}", sig_part(&f->tok));
        assert_int_equal(cf_jwt_decode(cf_buf_str(&t), &j), len == 127 ? CF_OK : CF_EUNAUTH);
        cf_jwt_release(&j);
    }
    /* Token length: exactly CF_JWT_MAX_LEN decodes, one more is refused. A payload of p bytes
     * encodes to ceil(4p/3) characters; pad with spaces inside a JSON string. */
    for (size_t want = CF_JWT_MAX_LEN - 3; want <= CF_JWT_MAX_LEN + 3; want++) {
        size_t fixed;
        craft(&t, "{\"alg\":\"ES256\"}", "", sig_part(&f->tok));
        fixed = t.len;
        if (want < fixed + 4)
            continue;
        plen = (want - fixed) * 3 / 4;
        payload = malloc(plen + 1);
        assert_non_null(payload);
        memset(payload, ' ', plen);
        payload[plen] = '\0';
        craft(&t, "{\"alg\":\"ES256\"}", payload, sig_part(&f->tok));
        assert_int_equal(cf_jwt_decode(cf_buf_str(&t), &j),
                         t.len <= CF_JWT_MAX_LEN ? CF_OK : CF_EUNAUTH);
        hit_ok += t.len == CF_JWT_MAX_LEN;
        hit_over += t.len > CF_JWT_MAX_LEN;
        cf_jwt_release(&j);
        free(payload);
    }
    /* Both sides of the limit were exercised. */
    assert_true(hit_ok > 0);
    assert_true(hit_over > 0);
    cf_buf_release(&hdr);
    cf_buf_release(&t);
}

static void test_bad_signatures(void **state)
{
    struct fixture *f = *state;
    struct cf_buf t, sig;
    unsigned char raw[65];

    cf_buf_init(&t, CF_JWT_MAX_LEN);
    cf_buf_init(&sig, 256);
    /* r = s = 0, r = s = all ones (>= n), and a 63 / 65 byte signature. */
    for (int c = 0; c < 4; c++) {
        size_t n = c == 2 ? 63 : c == 3 ? 65 : 64;
        memset(raw, c == 1 ? 0xff : 0, sizeof(raw));
        cf_buf_reset(&sig);
        assert_int_equal(cf_b64url_encode(&sig, raw, n), CF_OK);
        craft(&t, "{\"alg\":\"ES256\",\"kid\":\"key-1\"}", PAYLOAD, sig.data);
        assert_int_equal(check(f->k1, cf_buf_str(&t)), CF_EUNAUTH);
    }
    /* A signature by k2 over exactly this input, presented as key-1's. */
    cf_buf_reset(&t);
    assert_int_equal(cf_jwt_sign_es256(f->k2, "key-1", PAYLOAD, strlen(PAYLOAD), &t), CF_OK);
    assert_int_equal(check(f->k1, cf_buf_str(&t)), CF_EUNAUTH);
    assert_int_equal(check(f->k2, cf_buf_str(&t)), CF_OK);
    cf_buf_release(&sig);
    cf_buf_release(&t);
}

static void test_release_safety(void **state)
{
    struct cf_jwt j;
    struct fixture *f = *state;

    memset(&j, 0, sizeof(j));
    cf_jwt_release(&j);
    cf_jwt_release(NULL);
    assert_int_equal(cf_jwt_decode(cf_buf_str(&f->tok), &j), CF_OK);
    cf_jwt_release(&j);
    cf_jwt_release(&j); /* twice */
    assert_null(j.header.data);
    /* verify on a released struct: refused, no crash */
    assert_int_equal(cf_jwt_verify_es256(f->k1, &j), CF_EUNAUTH);
    assert_int_equal(cf_jwt_verify_es256(NULL, &j), CF_EUNAUTH);
}

static void test_pkcs8_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cf_secret *der = NULL, *der2 = NULL;
    struct cf_pkey *k = NULL;
    struct cf_buf t;
    unsigned char *bad;

    assert_int_equal(cf_pkey_to_der(f->k1, &der), CF_OK);
    /* PKCS#8 PrivateKeyInfo: SEQUENCE, version 0, AlgorithmIdentifier id-ecPublicKey. */
    assert_true(der->len > 100 && der->len < 200);
    assert_int_equal(der->p[0], 0x30);
    assert_non_null(memmem(der->p, der->len, "\x06\x07\x2a\x86\x48\xce\x3d\x02\x01", 9));
    assert_int_equal(cf_pkey_from_der(der->p, der->len, &k), CF_OK);
    /* The imported key signs tokens the original's public half verifies, and vice versa. */
    cf_buf_init(&t, CF_JWT_MAX_LEN);
    assert_int_equal(cf_jwt_sign_es256(k, "k", "{}", 2, &t), CF_OK);
    assert_int_equal(check(f->k1, cf_buf_str(&t)), CF_OK);
    assert_int_equal(check(k, cf_buf_str(&f->tok)), CF_OK);
    assert_int_equal(cf_pkey_to_der(k, &der2), CF_OK);
    assert_int_equal(der2->len, der->len);
    assert_memory_equal(der2->p, der->p, der->len);
    cf_pkey_free(k);
    k = NULL;
    /* Truncated, extended, corrupted, empty: refused. */
    assert_int_equal(cf_pkey_from_der(der->p, der->len - 1, &k), CF_EINVAL);
    assert_null(k);
    bad = malloc(der->len + 1);
    assert_non_null(bad);
    memcpy(bad, der->p, der->len);
    bad[der->len] = 0;
    assert_int_equal(cf_pkey_from_der(bad, der->len + 1, &k), CF_EINVAL);
    bad[0] = 0x31;
    assert_int_equal(cf_pkey_from_der(bad, der->len, &k), CF_EINVAL);
    assert_int_equal(cf_pkey_from_der("garbage", 7, &k), CF_EINVAL);
    assert_int_equal(cf_pkey_from_der(bad, 0, &k), CF_EINVAL);
    assert_null(k);
    free(bad);
    cf_buf_release(&t);
    cf_secret_free(der);
    cf_secret_free(der2);
    cf_pkey_free(NULL);
}

static void test_jwk(void **state)
{
    struct fixture *f = *state;
    struct cf_buf out;
    struct cf_jw w;
    struct cf_json *root = NULL;
    struct cf_pkey *pub = NULL;
    const char *x, *y;
    size_t xl, yl;
    char ybad[44];

    cf_buf_init(&out, 4096);
    cf_jw_init(&w, &out);
    assert_int_equal(cf_pkey_write_jwk(f->k1, "key-1", &w), CF_OK);
    assert_int_equal(cf_json_parse(out.data, out.len, &root, NULL, 0), CF_OK);
    assert_string_equal(cf_json_str(cf_json_get(root, "kty"), NULL), "EC");
    assert_string_equal(cf_json_str(cf_json_get(root, "use"), NULL), "sig");
    assert_string_equal(cf_json_str(cf_json_get(root, "kid"), NULL), "key-1");
    assert_string_equal(cf_json_str(cf_json_get(root, "alg"), NULL), "ES256");
    assert_string_equal(cf_json_str(cf_json_get(root, "crv"), NULL), "P-256");
    assert_null(cf_json_get(root, "d")); /* never the private part */
    x = cf_json_str(cf_json_get(root, "x"), &xl);
    y = cf_json_str(cf_json_get(root, "y"), &yl);
    assert_int_equal(xl, 43);
    assert_int_equal(yl, 43);
    /* The published public key verifies the token the private key signed. */
    assert_int_equal(cf_pkey_from_jwk_ec((struct cf_str){x, xl}, (struct cf_str){y, yl}, &pub),
                     CF_OK);
    assert_int_equal(check(pub, cf_buf_str(&f->tok)), CF_OK);
    cf_pkey_free(pub);
    pub = NULL;
    /* x and y swapped, or y altered: not on the curve (overwhelmingly likely) or wrong key. */
    memcpy(ybad, y, 43);
    ybad[43] = '\0';
    ybad[10] = ybad[10] == 'A' ? 'B' : 'A';
    if (cf_pkey_from_jwk_ec((struct cf_str){x, xl}, cf_str_from(ybad), &pub) == CF_OK)
        assert_int_equal(check(pub, cf_buf_str(&f->tok)), CF_EUNAUTH);
    cf_pkey_free(pub);
    pub = NULL;
    assert_int_equal(cf_pkey_from_jwk_ec((struct cf_str){x, xl - 1}, (struct cf_str){y, yl}, &pub),
                     CF_EINVAL);
    assert_int_equal(cf_pkey_from_jwk_ec(CF_STR("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                                         CF_STR("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                                         &pub),
                     CF_EINVAL); /* (0,0) is not on P-256 */
    assert_null(pub);
    /* Standard-alphabet or padded coordinates are not base64url. */
    memcpy(ybad, y, 43);
    ybad[5] = '+';
    assert_int_equal(cf_pkey_from_jwk_ec((struct cf_str){x, xl}, cf_str_from(ybad), &pub),
                     CF_EINVAL);
    memcpy(ybad, y, 42);
    ybad[42] = '=';
    assert_int_equal(cf_pkey_from_jwk_ec((struct cf_str){x, xl}, cf_str_from(ybad), &pub),
                     CF_EINVAL);
    assert_null(pub);
    /* A public-only key cannot be exported as PKCS#8 private key nor sign. */
    cf_json_free(root);
    cf_buf_release(&out);
}

static void test_public_key_cannot_sign(void **state)
{
    struct fixture *f = *state;
    struct cf_buf out, t;
    struct cf_jw w;
    struct cf_json *root = NULL;
    struct cf_pkey *pub = NULL;
    struct cf_secret *der = NULL;
    size_t xl, yl;
    const char *x, *y;

    cf_buf_init(&out, 4096);
    cf_buf_init(&t, CF_JWT_MAX_LEN);
    cf_jw_init(&w, &out);
    assert_int_equal(cf_pkey_write_jwk(f->k2, NULL, &w), CF_OK);
    assert_int_equal(cf_json_parse(out.data, out.len, &root, NULL, 0), CF_OK);
    assert_null(cf_json_get(root, "kid"));
    x = cf_json_str(cf_json_get(root, "x"), &xl);
    y = cf_json_str(cf_json_get(root, "y"), &yl);
    assert_int_equal(cf_pkey_from_jwk_ec((struct cf_str){x, xl}, (struct cf_str){y, yl}, &pub),
                     CF_OK);
    assert_int_not_equal(cf_jwt_sign_es256(pub, "k", "{}", 2, &t), CF_OK);
    assert_int_equal(t.len, 0);
    assert_int_not_equal(cf_pkey_to_der(pub, &der), CF_OK);
    assert_null(der);
    cf_pkey_free(pub);
    cf_json_free(root);
    cf_buf_release(&out);
    cf_buf_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_sign_appends_and_no_kid),
        cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_release_safety),
        cmocka_unit_test(test_pkcs8_round_trip),
        cmocka_unit_test(test_jwk),
        cmocka_unit_test(test_public_key_cannot_sign),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_hash.c - known-answer tests: SHA-256/SHA-1 (FIPS 180), HMAC-SHA256 (RFC 4231),
 * HKDF-SHA256 (RFC 5869). */
#include "base/cf.h"
#include "crypto/crypto.h"
#include "helpers.h"

#include <setjmp.h>
#include <cmocka.h>

static void expect_hex(const unsigned char *got, size_t n, const char *hex)
{
    unsigned char want[256];
    size_t wn = test_unhex(hex, want, sizeof(want));
    assert_int_equal(wn, n);
    assert_memory_equal(got, want, n);
}

static void test_sha256_kat(void **state)
{
    unsigned char d[CF_SHA256_LEN];
    (void)state;
    assert_int_equal(cf_sha256("abc", 3, d), CF_OK);
    expect_hex(d, sizeof(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(cf_sha256(NULL, 0, d), CF_OK);
    expect_hex(d, sizeof(d), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(cf_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d),
                     CF_OK);
    expect_hex(d, sizeof(d), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha1_kat(void **state)
{
    unsigned char d[20];
    (void)state;
    assert_int_equal(cf_sha1("abc", 3, d), CF_OK);
    expect_hex(d, sizeof(d), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void test_hmac_rfc4231(void **state)
{
    unsigned char key[131], d[CF_SHA256_LEN];
    static const char big_msg[] = "Test Using Larger Than Block-Size Key - Hash Key First";

    (void)state;
    /* Case 1 */
    memset(key, 0x0b, 20);
    assert_int_equal(cf_hmac_sha256(key, 20, "Hi There", 8, d), CF_OK);
    expect_hex(d, sizeof(d), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Case 2: key shorter than the output */
    assert_int_equal(cf_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d), CF_OK);
    expect_hex(d, sizeof(d), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Case 6: key longer than the block size */
    memset(key, 0xaa, sizeof(key));
    assert_int_equal(cf_hmac_sha256(key, 131, big_msg, strlen(big_msg), d), CF_OK);
    expect_hex(d, sizeof(d), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The keyed form: the RFC 4231 vectors, then many messages under one key agree with the
 * one-shot form (the key schedule is reused, not recomputed or lost between messages). */
static void test_hmac_key_reuse(void **state)
{
    unsigned char key[20], a[CF_SHA256_LEN], b[CF_SHA256_LEN], longkey[131], msg[200];
    struct cf_hmac_key *k = NULL;
    (void)state;
    memset(key, 0x0b, sizeof(key));
    assert_int_equal(cf_hmac_key_new(key, sizeof(key), &k), CF_OK);
    assert_int_equal(cf_hmac_key_mac(k, "Hi There", 8, a), CF_OK);
    expect_hex(a, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_int_equal(cf_hmac_key_mac(k, "Hi There", 8, a), CF_OK); /* same again */
    expect_hex(a, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    cf_hmac_key_free(k);
    memset(longkey, 0xaa, sizeof(longkey)); /* longer than a block: hashed first */
    assert_int_equal(cf_hmac_key_new(longkey, sizeof(longkey), &k), CF_OK);
    for (size_t n = 0; n < sizeof(msg); n += 7) {
        for (size_t i = 0; i < n; i++)
            msg[i] = (unsigned char)(i * 31 + n);
        assert_int_equal(cf_hmac_key_mac(k, msg, n, a), CF_OK);
        assert_int_equal(cf_hmac_sha256(longkey, sizeof(longkey), msg, n, b), CF_OK);
        assert_memory_equal(a, b, sizeof(a));
    }
    assert_int_equal(cf_hmac_key_mac(k, NULL, 0, a), CF_OK);
    assert_int_equal(cf_hmac_sha256(longkey, sizeof(longkey), NULL, 0, b), CF_OK);
    assert_memory_equal(a, b, sizeof(a));
    cf_hmac_key_free(k);
    cf_hmac_key_free(NULL);
    assert_int_not_equal(cf_hmac_key_mac(NULL, "x", 1, a), CF_OK);
}

/* The reusable SHA-256 context: FIPS 180 vectors, a message fed in pieces equals the one-shot
 * digest, the context survives many digests, and misuse (update or end without begin) fails
 * without touching the output. */
static void test_sha256_ctx(void **state)
{
    unsigned char a[CF_SHA256_LEN], b[CF_SHA256_LEN], msg[300];
    static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    struct cf_sha256_ctx *c = NULL;
    (void)state;
    assert_int_equal(cf_sha256_ctx_new(&c), CF_OK);
    assert_int_equal(cf_sha256_ctx_digest(c, "abc", 3, a), CF_OK);
    expect_hex(a, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(cf_sha256_ctx_digest(c, NULL, 0, a), CF_OK);
    expect_hex(a, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* streaming: the two-block vector in uneven pieces, an empty update among them */
    assert_int_equal(cf_sha256_begin(c), CF_OK);
    assert_int_equal(cf_sha256_update(c, two, 5), CF_OK);
    assert_int_equal(cf_sha256_update(c, NULL, 0), CF_OK);
    assert_int_equal(cf_sha256_update(c, two + 5, 50), CF_OK);
    assert_int_equal(cf_sha256_update(c, two + 55, 1), CF_OK);
    assert_int_equal(cf_sha256_end(c, a), CF_OK);
    expect_hex(a, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* many messages through one context, split at every position, agree with cf_sha256 */
    for (size_t n = 0; n <= sizeof(msg); n += 13) {
        for (size_t i = 0; i < n; i++)
            msg[i] = (unsigned char)(i * 7 + n);
        assert_int_equal(cf_sha256(msg, n, b), CF_OK);
        assert_int_equal(cf_sha256_ctx_digest(c, msg, n, a), CF_OK);
        assert_memory_equal(a, b, sizeof(a));
        assert_int_equal(cf_sha256_begin(c), CF_OK);
        assert_int_equal(cf_sha256_update(c, msg, n / 3), CF_OK);
        assert_int_equal(cf_sha256_update(c, msg + n / 3, n - n / 3), CF_OK);
        assert_int_equal(cf_sha256_end(c, a), CF_OK);
        assert_memory_equal(a, b, sizeof(a));
    }
    /* a begun digest abandoned for a new begin does not leak into the next one */
    assert_int_equal(cf_sha256_begin(c), CF_OK);
    assert_int_equal(cf_sha256_update(c, "junk", 4), CF_OK);
    assert_int_equal(cf_sha256_ctx_digest(c, "abc", 3, a), CF_OK);
    expect_hex(a, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* misuse: end twice, update after end, NULL data with a length, NULL context */
    memset(b, 0x5a, sizeof(b));
    memcpy(a, b, sizeof(a));
    assert_int_equal(cf_sha256_end(c, a), CF_EINVAL);
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(cf_sha256_update(c, "x", 1), CF_EINVAL);
    assert_int_equal(cf_sha256_begin(c), CF_OK);
    assert_int_equal(cf_sha256_update(c, NULL, 3), CF_EINVAL);
    assert_int_equal(cf_sha256_begin(NULL), CF_EINVAL);
    assert_int_equal(cf_sha256_update(NULL, "x", 1), CF_EINVAL);
    assert_int_equal(cf_sha256_end(NULL, a), CF_EINVAL);
    assert_int_equal(cf_sha256_ctx_digest(NULL, "x", 1, a), CF_EINVAL);
    cf_sha256_ctx_free(c);
    cf_sha256_ctx_free(NULL);
}

static void test_hkdf_rfc5869(void **state)
{
    unsigned char ikm[22], salt[13], info[10], okm[42];

    (void)state;
    memset(ikm, 0x0b, sizeof(ikm));
    for (unsigned i = 0; i < sizeof(salt); i++)
        salt[i] = (unsigned char)i;
    for (unsigned i = 0; i < sizeof(info); i++)
        info[i] = (unsigned char)(0xf0 + i);
    /* Case 1 */
    assert_int_equal(
        cf_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info), okm, sizeof(okm)),
        CF_OK);
    expect_hex(
        okm, sizeof(okm),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    /* Case 3: empty salt and info */
    assert_int_equal(cf_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, okm, sizeof(okm)), CF_OK);
    expect_hex(
        okm, sizeof(okm),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

static void test_hkdf_bounds(void **state)
{
    unsigned char ikm[32] = {1}, out[255 * 32 + 1];

    (void)state;
    assert_int_equal(cf_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, out, 0), CF_EINVAL);
    assert_int_equal(cf_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, out, sizeof(out)),
                     CF_EINVAL);
    assert_int_equal(cf_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, out, sizeof(out) - 1),
                     CF_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_kat),   cmocka_unit_test(test_sha1_kat),
        cmocka_unit_test(test_hmac_rfc4231), cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_hkdf_bounds),  cmocka_unit_test(test_hmac_key_reuse),
        cmocka_unit_test(test_sha256_ctx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

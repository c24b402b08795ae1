/* test_aead.c - AES-256-GCM seal/open: known answer (GCM spec test case 16), round trips,
 * tampering of every bit, AAD binding, wrong key, truncation, buffer limits. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "helpers.h"

#include <setjmp.h>
#include <cmocka.h>

static unsigned char key1[CF_AEAD_KEY_LEN], key2[CF_AEAD_KEY_LEN];

static int setup(void **state)
{
    (void)state;
    for (unsigned i = 0; i < CF_AEAD_KEY_LEN; i++) {
        key1[i] = (unsigned char)i;
        key2[i] = (unsigned char)(i + 1);
    }
    return 0;
}

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV,
 * AAD). Laid out in our sealed format, open must return P. */
static void test_open_kat(void **state)
{
    unsigned char key[32], sealed[12 + 60 + 16], aad[20], pt[60];
    struct cf_secret *out = NULL;
    size_t n = 0;

    (void)state;
    test_unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
    n += test_unhex("cafebabefacedbaddecaf888", sealed, 12);
    n += test_unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                    sealed + n, 60);
    n += test_unhex("76fc6ece0f4e1768cddf8853bb2d551b", sealed + n, 16);
    assert_int_equal(n, sizeof(sealed));
    test_unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, sizeof(aad));
    test_unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
               "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
               pt, sizeof(pt));
    assert_int_equal(cf_aead_open(key, aad, sizeof(aad), sealed, sizeof(sealed), &out), CF_OK);
    assert_non_null(out);
    assert_int_equal(out->len, sizeof(pt));
    assert_memory_equal(out->p, pt, sizeof(pt));
    assert_int_equal(out->p[out->len], 0); /* cf_secret NUL terminator */
    cf_secret_free(out);
    /* Without the AAD it must fail. */
    assert_int_equal(cf_aead_open(key, NULL, 0, sealed, sizeof(sealed), &out), CF_ECORRUPT);
    assert_null(out);
}

static void test_round_trip(void **state)
{
    static const char aad[] = "vault1/secret/name/0123456789abcdef";
    static const char msg[] = "hunter2 is not a good password";
    struct cf_buf b;
    struct cf_secret *pt = NULL;

    (void)state;
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_buf_puts(&b, "prefix"), CF_OK);
    assert_int_equal(cf_aead_seal(key1, aad, strlen(aad), msg, strlen(msg), &b), CF_OK);
    assert_int_equal(b.len, 6 + CF_AEAD_OVERHEAD + strlen(msg));
    assert_memory_equal(b.data, "prefix", 6);
    assert_int_equal(b.data[b.len], '\0');
    /* The plaintext does not appear in the sealed form. */
    assert_null(memmem(b.data, b.len, "hunter2", 7));
    assert_int_equal(cf_aead_open(key1, aad, strlen(aad), b.data + 6, b.len - 6, &pt), CF_OK);
    assert_int_equal(pt->len, strlen(msg));
    assert_string_equal((const char *)pt->p, msg);
    cf_secret_free(pt);
    cf_buf_release(&b);
}

static void test_empty_plaintext_and_aad(void **state)
{
    struct cf_buf b;
    struct cf_secret *pt = NULL;

    (void)state;
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_aead_seal(key1, NULL, 0, NULL, 0, &b), CF_OK);
    assert_int_equal(b.len, CF_AEAD_OVERHEAD);
    assert_int_equal(cf_aead_open(key1, NULL, 0, b.data, b.len, &pt), CF_OK);
    assert_int_equal(pt->len, 0);
    cf_secret_free(pt);
    /* An empty value is still authenticated. */
    b.data[b.len - 1] ^= 1;
    assert_int_equal(cf_aead_open(key1, NULL, 0, b.data, b.len, &pt), CF_ECORRUPT);
    assert_null(pt);
    cf_buf_release(&b);
}

static void test_nonces_differ(void **state)
{
    struct cf_buf a, b;

    (void)state;
    cf_buf_init(&a, 4096);
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_aead_seal(key1, "x", 1, "same", 4, &a), CF_OK);
    assert_int_equal(cf_aead_seal(key1, "x", 1, "same", 4, &b), CF_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.data, b.data, CF_AEAD_NONCE_LEN);
    assert_memory_not_equal(a.data + CF_AEAD_NONCE_LEN, b.data + CF_AEAD_NONCE_LEN,
                            a.len - CF_AEAD_NONCE_LEN);
    cf_buf_release(&a);
    cf_buf_release(&b);
}

/* Every single-bit change anywhere in nonce, ciphertext or tag is detected. */
static void test_every_bit_flip(void **state)
{
    static const char aad[] = "ctx";
    struct cf_buf b;
    struct cf_secret *pt = (struct cf_secret *)&pt; /* must be reset to NULL on failure */

    (void)state;
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_aead_seal(key1, aad, 3, "value", 5, &b), CF_OK);
    for (size_t i = 0; i < b.len * 8; i++) {
        b.data[i / 8] ^= (char)(1u << (i % 8));
        pt = (struct cf_secret *)&pt;
        assert_int_equal(cf_aead_open(key1, aad, 3, b.data, b.len, &pt), CF_ECORRUPT);
        assert_null(pt);
        b.data[i / 8] ^= (char)(1u << (i % 8));
    }
    assert_int_equal(cf_aead_open(key1, aad, 3, b.data, b.len, &pt), CF_OK);
    cf_secret_free(pt);
    cf_buf_release(&b);
}

static void test_aad_binding(void **state)
{
    struct cf_buf b;
    struct cf_secret *pt = NULL;

    (void)state;
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_aead_seal(key1, "vault/a/1", 9, "secret", 6, &b), CF_OK);
    assert_int_equal(cf_aead_open(key1, "vault/a/2", 9, b.data, b.len, &pt), CF_ECORRUPT);
    assert_int_equal(cf_aead_open(key1, "vault/a/1x", 10, b.data, b.len, &pt), CF_ECORRUPT);
    assert_int_equal(cf_aead_open(key1, "vault/a/", 8, b.data, b.len, &pt), CF_ECORRUPT);
    assert_int_equal(cf_aead_open(key1, NULL, 0, b.data, b.len, &pt), CF_ECORRUPT);
    assert_null(pt);
    /* Sealed without AAD, opened with some: also refused. */
    cf_buf_reset(&b);
    assert_int_equal(cf_aead_seal(key1, NULL, 0, "secret", 6, &b), CF_OK);
    assert_int_equal(cf_aead_open(key1, "x", 1, b.data, b.len, &pt), CF_ECORRUPT);
    assert_null(pt);
    cf_buf_release(&b);
}

static void test_wrong_key(void **state)
{
    struct cf_buf b;
    struct cf_secret *pt = NULL;

    (void)state;
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_aead_seal(key1, "a", 1, "secret", 6, &b), CF_OK);
    assert_int_equal(cf_aead_open(key2, "a", 1, b.data, b.len, &pt), CF_ECORRUPT);
    assert_null(pt);
    cf_buf_release(&b);
}

static void test_truncated_and_extended(void **state)
{
    struct cf_buf b;
    struct cf_secret *pt = NULL;
    unsigned char big[64];

    (void)state;
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_aead_seal(key1, NULL, 0, "0123456789", 10, &b), CF_OK);
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(cf_aead_open(key1, NULL, 0, b.data, n, &pt), CF_ECORRUPT);
        assert_null(pt);
    }
    /* One extra byte shifts the tag: refused. */
    assert_int_equal(cf_buf_putc(&b, 'x'), CF_OK);
    assert_int_equal(cf_aead_open(key1, NULL, 0, b.data, b.len, &pt), CF_ECORRUPT);
    /* Random garbage of a plausible length. */
    assert_int_equal(cf_random(big, sizeof(big)), CF_OK);
    assert_int_equal(cf_aead_open(key1, NULL, 0, big, sizeof(big), &pt), CF_ECORRUPT);
    assert_null(pt);
    cf_buf_release(&b);
}

static void test_buffer_limit(void **state)
{
    struct cf_buf b;
    char msg[100];

    (void)state;
    memset(msg, 'm', sizeof(msg));
    cf_buf_init(&b, 10 + CF_AEAD_OVERHEAD + sizeof(msg) - 1);
    assert_int_equal(cf_buf_puts(&b, "0123456789"), CF_OK);
    assert_int_equal(cf_aead_seal(key1, NULL, 0, msg, sizeof(msg), &b), CF_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 11);
    assert_int_equal(cf_aead_seal(key1, NULL, 0, msg, sizeof(msg) - 1, &b), CF_OK);
    assert_int_equal(b.len, b.max);
    cf_buf_release(&b);
}

static void test_large_value(void **state)
{
    size_t n = CF_MAX_BODY_BYTES;
    char *msg = malloc(n);
    struct cf_buf b;
    struct cf_secret *pt = NULL;

    (void)state;
    assert_non_null(msg);
    for (size_t i = 0; i < n; i++)
        msg[i] = (char)(i * 7);
    cf_buf_init(&b, n + CF_AEAD_OVERHEAD);
    assert_int_equal(cf_aead_seal(key1, "a", 1, msg, n, &b), CF_OK);
    assert_int_equal(cf_aead_open(key1, "a", 1, b.data, b.len, &pt), CF_OK);
    assert_int_equal(pt->len, n);
    assert_memory_equal(pt->p, msg, n);
    cf_secret_free(pt);
    cf_buf_release(&b);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_kat),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_plaintext_and_aad),
        cmocka_unit_test(test_nonces_differ),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_aad_binding),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_truncated_and_extended),
        cmocka_unit_test(test_buffer_limit),
        cmocka_unit_test(test_large_value),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* test_shamir.c - Shamir over GF(256) and the share text format: split/combine with every
 * subset of every (t, n), fewer than t shares giving a wrong key, duplicate/zero x, and share
 * texts that are mistyped, truncated, of the wrong version or re-checksummed. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/codec.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static const uint8_t KID[4] = {1, 2, 3, 4};

static void random_key(uint8_t k[32])
{
    assert_int_equal(cf_random(k, 32), CF_OK);
}

/* Every subset of size >= t of n shares gives back the key; every subset of size t-1 does
 * not (with overwhelming probability). */
static void test_every_subset(void **state)
{
    (void)state;
    for (int n = 2; n <= 6; n++) {
        for (int t = 2; t <= n; t++) {
            uint8_t key[32], out[32];
            struct cf_share sh[CF_SHAMIR_MAX_SHARES], pick[CF_SHAMIR_MAX_SHARES];
            random_key(key);
            assert_int_equal(cf_shamir_split(key, KID, t, n, sh), CF_OK);
            for (unsigned mask = 1; mask < (1u << n); mask++) {
                int k = 0;
                for (int i = 0; i < n; i++)
                    if (mask & (1u << i))
                        pick[k++] = sh[i];
                if (k < 2)
                    continue;
                assert_int_equal(cf_shamir_combine(pick, k, out), CF_OK);
                if (k >= t)
                    assert_memory_equal(out, key, 32);
                else
                    assert_memory_not_equal(out, key, 32);
            }
        }
    }
}

static void test_max_shares_and_order(void **state)
{
    uint8_t key[32], out[32];
    struct cf_share sh[CF_SHAMIR_MAX_SHARES], rev[3];
    (void)state;
    random_key(key);
    assert_int_equal(cf_shamir_split(key, KID, 3, CF_SHAMIR_MAX_SHARES, sh), CF_OK);
    rev[0] = sh[15];
    rev[1] = sh[7];
    rev[2] = sh[0];
    assert_int_equal(cf_shamir_combine(rev, 3, out), CF_OK);
    assert_memory_equal(out, key, 32);
    /* a single share reveals nothing directly: y differs from the key */
    assert_memory_not_equal(sh[0].y, key, 32);
}

static void test_bad_split_args(void **state)
{
    uint8_t key[32] = {0};
    struct cf_share sh[CF_SHAMIR_MAX_SHARES + 1];
    (void)state;
    assert_int_equal(cf_shamir_split(key, KID, 1, 3, sh), CF_EINVAL);
    assert_int_equal(cf_shamir_split(key, KID, 4, 3, sh), CF_EINVAL);
    assert_int_equal(cf_shamir_split(key, KID, 2, CF_SHAMIR_MAX_SHARES + 1, sh), CF_EINVAL);
    assert_int_equal(cf_shamir_split(NULL, KID, 2, 3, sh), CF_EINVAL);
}

static void test_duplicate_and_zero_x(void **state)
{
    uint8_t key[32], out[32];
    struct cf_share sh[3], dup[3];
    (void)state;
    random_key(key);
    assert_int_equal(cf_shamir_split(key, KID, 2, 3, sh), CF_OK);
    dup[0] = sh[0];
    dup[1] = sh[0];
    assert_int_equal(cf_shamir_combine(dup, 2, out), CF_EBADPARAM);
    dup[1] = sh[1];
    dup[1].x = 0;
    assert_int_equal(cf_shamir_combine(dup, 2, out), CF_EBADPARAM);
    assert_int_equal(cf_shamir_combine(sh, 1, out), CF_EBADPARAM);
}

static void test_corrupt_share_gives_wrong_key(void **state)
{
    uint8_t key[32], out[32];
    struct cf_share sh[3];
    (void)state;
    random_key(key);
    assert_int_equal(cf_shamir_split(key, KID, 3, 3, sh), CF_OK);
    sh[1].y[5] ^= 1;
    assert_int_equal(cf_shamir_combine(sh, 3, out), CF_OK);
    assert_memory_not_equal(out, key, 32);
    assert_int_equal(out[5] != key[5], 1);
}

static void test_text_roundtrip(void **state)
{
    uint8_t key[32];
    struct cf_share sh[5], back;
    char text[CF_SHARE_TEXT_MAX], padded[CF_SHARE_TEXT_MAX + 8];
    (void)state;
    random_key(key);
    assert_int_equal(cf_shamir_split(key, KID, 3, 5, sh), CF_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(cf_share_encode(&sh[i], text), CF_OK);
        assert_int_equal(strlen(text), 58);
        assert_int_equal(cf_share_decode(text, &back), CF_OK);
        assert_memory_equal(&back, &sh[i], sizeof(back));
        snprintf(padded, sizeof(padded), "  %s\n", text); /* pasted with blanks */
        assert_int_equal(cf_share_decode(padded, &back), CF_OK);
    }
}

static void test_text_typos_refused(void **state)
{
    uint8_t key[32];
    struct cf_share sh[2], back;
    char text[CF_SHARE_TEXT_MAX], bad[CF_SHARE_TEXT_MAX];
    int refused = 0;
    (void)state;
    random_key(key);
    assert_int_equal(cf_shamir_split(key, KID, 2, 2, sh), CF_OK);
    assert_int_equal(cf_share_encode(&sh[0], text), CF_OK);
    /* every single-character substitution is caught by the check value */
    for (size_t i = 0; i < strlen(text); i++) {
        memcpy(bad, text, sizeof(bad));
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        if (cf_share_decode(bad, &back) == CF_EBADPARAM)
            refused++;
    }
    /* the last character carries only 2 bits of the check: changing it may decode to the same
     * bytes (base64 slack) - all others must be refused */
    assert_true(refused >= (int)strlen(text) - 1);
    memcpy(bad, text, sizeof(bad));
    bad[20] = '*';
    assert_int_equal(cf_share_decode(bad, &back), CF_EBADPARAM);
    bad[0] = '\0';
    assert_int_equal(cf_share_decode(bad, &back), CF_EBADPARAM);
    memcpy(bad, text, sizeof(bad));
    bad[40] = '\0'; /* truncated */
    assert_int_equal(cf_share_decode(bad, &back), CF_EBADPARAM);
    assert_int_equal(cf_share_decode("not a share at all", &back), CF_EBADPARAM);
}

static void test_text_wrong_version_or_x0(void **state)
{
    uint8_t b[CF_SHARE_BYTES], h[32];
    struct cf_buf t;
    struct cf_share back;
    (void)state;
    memset(b, 7, sizeof(b));
    for (int v = 0; v < 2; v++) {
        b[0] = v ? 1 : 2; /* version 2 unknown; then version 1 with x = 0 */
        b[5] = 3;
        b[6] = v ? 0 : 1;
        assert_int_equal(cf_sha256(b, CF_SHARE_BYTES - 4, h), CF_OK);
        memcpy(b + CF_SHARE_BYTES - 4, h, 4);
        cf_buf_init(&t, 128);
        assert_int_equal(cf_b64url_encode(&t, b, sizeof(b)), CF_OK);
        assert_int_equal(cf_share_decode(t.data, &back), CF_EBADPARAM);
        cf_buf_release(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_subset),
        cmocka_unit_test(test_max_shares_and_order),
        cmocka_unit_test(test_bad_split_args),
        cmocka_unit_test(test_duplicate_and_zero_x),
        cmocka_unit_test(test_corrupt_share_gives_wrong_key),
        cmocka_unit_test(test_text_roundtrip),
        cmocka_unit_test(test_text_typos_refused),
        cmocka_unit_test(test_text_wrong_version_or_x0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

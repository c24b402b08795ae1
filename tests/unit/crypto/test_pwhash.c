/* test_pwhash.c - PBKDF2 client-secret hashing: format, round trip, known answer with a stored
 * iteration count, wrong secrets, and a catalogue of malformed stored forms. */
#include "base/cf.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <cmocka.h>

/* PBKDF2-HMAC-SHA256("correct horse battery staple", salt 00..0f, 1000, 32), computed with
 * Python's hashlib.pbkdf2_hmac. */
static const char kat[] =
    "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4";
static const char kat_secret[] = "correct horse battery staple";

static void test_format(void **state)
{
    char h[CF_PWHASH_MAX], h2[CF_PWHASH_MAX];
    char want_prefix[64];

    (void)state;
    assert_int_equal(cf_pwhash("s3cret", 6, h), CF_OK);
    snprintf(want_prefix, sizeof(want_prefix), "pbkdf2-sha256$%d$", CF_PWHASH_ITER);
    assert_int_equal(strncmp(h, want_prefix, strlen(want_prefix)), 0);
    /* prefix + 22 chars of salt + '$' + 43 chars of hash */
    assert_int_equal(strlen(h), strlen(want_prefix) + 22 + 1 + 43);
    assert_int_equal(strspn(h + strlen(want_prefix),
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_$"),
                     22 + 1 + 43);
    /* Random salt: the same secret never hashes the same twice. */
    assert_int_equal(cf_pwhash("s3cret", 6, h2), CF_OK);
    assert_string_not_equal(h, h2);
}

static void test_round_trip(void **state)
{
    char h[CF_PWHASH_MAX];

    (void)state;
    assert_int_equal(cf_pwhash("s3cret", 6, h), CF_OK);
    assert_true(cf_pwhash_verify("s3cret", 6, h));
    assert_false(cf_pwhash_verify("s3cres", 6, h));
    assert_false(cf_pwhash_verify("s3cre", 5, h));
    assert_false(cf_pwhash_verify("s3cret ", 7, h));
    assert_false(cf_pwhash_verify("", 0, h));
    /* Binary secrets with NUL are hashed by length. */
    assert_int_equal(cf_pwhash("a\0b", 3, h), CF_OK);
    assert_true(cf_pwhash_verify("a\0b", 3, h));
    assert_false(cf_pwhash_verify("a\0c", 3, h));
    assert_false(cf_pwhash_verify("a", 1, h));
    /* Empty secret is a value like any other. */
    assert_int_equal(cf_pwhash(NULL, 0, h), CF_OK);
    assert_true(cf_pwhash_verify("", 0, h));
    assert_false(cf_pwhash_verify("x", 1, h));
}

static void test_known_answer(void **state)
{
    (void)state;
    assert_true(cf_pwhash_verify(kat_secret, strlen(kat_secret), kat));
    assert_false(cf_pwhash_verify(kat_secret, strlen(kat_secret) - 1, kat));
}

/* Replaces the iteration field of kat with iter and checks verification fails (the hash was
 * computed with 1000, so any accepted other count must also fail - but for the out-of-range
 * ones the point is that they are refused before any work). */
static void test_iteration_bounds(void **state)
{
    static const char *const bad_iters[] = {"999",   "0",     "-1000",    "+1000",
                                            "01000", "1e3",   "10000001", "99999999999",
                                            "",      " 1000", "1000 "};
    char form[CF_PWHASH_MAX];
    const char *tail = strchr(kat + strlen("pbkdf2-sha256$"), '$');

    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad_iters); i++) {
        snprintf(form, sizeof(form), "pbkdf2-sha256$%s%s", bad_iters[i], tail);
        assert_false(cf_pwhash_verify(kat_secret, strlen(kat_secret), form));
    }
    /* A valid count other than the one used: well-formed but the hash does not match. */
    snprintf(form, sizeof(form), "pbkdf2-sha256$1001%s", tail);
    assert_false(cf_pwhash_verify(kat_secret, strlen(kat_secret), form));
}

static void test_garbage_forms(void **state)
{
    static const char *const bad[] = {
        "",
        "pbkdf2-sha256$",
        "pbkdf2-sha256$1000",
        "pbkdf2-sha256$1000$",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$",
        "pbkdf2-sha1$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        "PBKDF2-SHA256$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        /* padded base64 */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=",
        /* standard alphabet characters */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0OD+$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        /* salt too short / hash too short / hash too long */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0O$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8c",
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4AA",
        /* extra field */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4$",
        "pbkdf2-sha256$1000$$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        /* embedded space */
        "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw $ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4",
        "plaintext-password",
    };

    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++)
        assert_false(cf_pwhash_verify(kat_secret, strlen(kat_secret), bad[i]));
    assert_false(cf_pwhash_verify(kat_secret, strlen(kat_secret), NULL));
}

static void test_overlong_form(void **state)
{
    char form[CF_PWHASH_MAX * 2];

    (void)state;
    /* The valid form followed by padding up to and past CF_PWHASH_MAX: never read past it. */
    memset(form, 'A', sizeof(form) - 1);
    form[sizeof(form) - 1] = '\0';
    memcpy(form, kat, strlen(kat));
    assert_false(cf_pwhash_verify(kat_secret, strlen(kat_secret), form));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_known_answer),  cmocka_unit_test(test_iteration_bounds),
        cmocka_unit_test(test_garbage_forms), cmocka_unit_test(test_overlong_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

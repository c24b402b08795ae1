/* test_hsm_import.c - cf_hsm_import (hsm.c) on a SoftHSM2 token the test initialises itself
 * (skipped when softhsm2 is not installed): software RSA and EC keys (P-256, P-384, P-521) put
 * on the token come back with the software key's public JWK, sign there with signatures the
 * software key verifies, and say they can never leave the token (CKA_SENSITIVE, not
 * CKA_EXTRACTABLE, CKA_TOKEN); a taken id is CF_EEXISTS, an oct key CF_EBADPARAM; destroy
 * removes them. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/json.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "softhsm_fixture.h"

static char g_dir[64];
static struct cf_custody *g_c;
static struct cf_hsm *g_h;

static int setup(void **state)
{
    (void)state;
    return softhsm_hsm_open(g_dir, "/tmp/cf-hsmi-XXXXXX", &g_c, &g_h);
}

static int teardown(void **state)
{
    (void)state;
    return softhsm_hsm_close(g_dir, g_c, g_h);
}

/* The public JWK members of k (no kty), as text. */
static void pub_text(const struct cf_kvkey *k, struct cf_buf *out)
{
    struct cf_jw w;
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_kvkey_write_public_jwk(k, false, &w), CF_OK);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
}

static void import_one(struct cf_kvkey *k, const char *alg, size_t dlen)
{
    unsigned char id[CF_HSM_ID_LEN], dg[64] = {9, 8, 7};
    struct cf_buf got, want, sig;
    struct cf_jw w;
    bool yes = false, valid = false;
    char why[160];

    assert_int_equal(cf_random(id, sizeof(id)), CF_OK);
    cf_buf_init(&got, 8192);
    cf_buf_init(&want, 8192);
    cf_buf_init(&sig, 1024);
    cf_jw_init(&w, &got);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_hsm_import(g_h, k, id, &w, why, sizeof(why)), CF_OK);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
    pub_text(k, &want);
    assert_string_equal(got.data, want.data);
    assert_int_equal(cf_hsm_is_protected(g_h, id, &yes), CF_OK);
    assert_true(yes);
    assert_int_equal(cf_hsm_sign(g_h, id, alg, dg, dlen, &sig, why, sizeof(why)), CF_OK);
    assert_int_equal(cf_kvkey_verify(k, alg, dg, dlen, sig.data, sig.len, &valid, why, sizeof(why)),
                     CF_OK);
    assert_true(valid);
    /* the id is taken now */
    cf_buf_reset(&got);
    cf_jw_init(&w, &got);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_hsm_import(g_h, k, id, &w, why, sizeof(why)), CF_EEXISTS);
    assert_int_equal(cf_hsm_destroy(g_h, id), CF_OK);
    assert_int_equal(cf_hsm_is_protected(g_h, id, &yes), CF_ENOTFOUND);
    cf_buf_release(&got);
    cf_buf_release(&want);
    cf_buf_release(&sig);
}

static void import_keys(void **state)
{
    struct cf_kvkey *k = NULL;
    static const struct {
        enum cf_crv crv;
        const char *alg;
        size_t dlen;
    } ec[] = {{CF_CRV_P256, "ES256", 32}, {CF_CRV_P384, "ES384", 48}, {CF_CRV_P521, "ES512", 64}};

    (void)state;
    if (!g_h) {
        skip();
        return;
    }
    assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &k), CF_OK);
    import_one(k, "RS256", 32);
    import_one(k, "PS256", 32);
    cf_kvkey_free(k);
    for (size_t i = 0; i < CF_ARRAY_LEN(ec); i++) {
        assert_int_equal(cf_kvkey_generate_ec(ec[i].crv, &k), CF_OK);
        import_one(k, ec[i].alg, ec[i].dlen);
        cf_kvkey_free(k);
    }
}

static void import_refused(void **state)
{
    struct cf_kvkey *k = NULL;
    unsigned char id[CF_HSM_ID_LEN] = {1, 2, 3};
    struct cf_buf b;
    struct cf_jw w;
    char why[160] = "";

    (void)state;
    if (!g_h) {
        skip();
        return;
    }
    cf_buf_init(&b, 1024);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_kvkey_generate_oct(256, &k), CF_OK);
    assert_int_equal(cf_hsm_import(g_h, k, id, &w, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "RSA and EC"));
    assert_int_equal(cf_hsm_import(g_h, NULL, id, &w, why, sizeof(why)), CF_EINVAL);
    cf_kvkey_free(k);
    cf_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(import_keys),
        cmocka_unit_test(import_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

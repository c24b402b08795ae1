/* test_hsm.c - HSM-protected keys (hsm.c) on a SoftHSM2 token the test initialises itself
 * (skipped when softhsm2 is not installed): generation of RSA, EC and AES keys that cannot
 * leave the token, signatures checked by OpenSSL from the public JWK alone (RS256, PS256,
 * ES256, ES384, ES512), RSA encryption made by OpenSSL and decrypted on the token (RSA1_5,
 * RSA-OAEP, RSA-OAEP-256) and the reverse through verify/encrypt on the token, AES key wrap
 * against OpenSSL's RFC 3394, CBC/CBCPAD round trips, GCM refused when the token lacks it,
 * bad input (wrong alg for the key, digest lengths, tampered ciphertext), destroy, and
 * concurrent use of the session pool. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <pthread.h>
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
    return softhsm_hsm_open(g_dir, "/tmp/cf-hsm-XXXXXX", &g_c, &g_h);
}

static int teardown(void **state)
{
    (void)state;
    return softhsm_hsm_close(g_dir, g_c, g_h);
}

#define NEED_HSM()                                                                                 \
    do {                                                                                           \
        if (!g_h) {                                                                                \
            skip();                                                                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void new_id(unsigned char id[CF_HSM_ID_LEN])
{
    assert_int_equal(cf_random(id, CF_HSM_ID_LEN), CF_OK);
}

/* Generates a key and returns its public JWK parsed. */
static struct cf_json *gen(const char *kty, int bits, const char *crv,
                           const unsigned char id[CF_HSM_ID_LEN])
{
    struct cf_buf doc;
    struct cf_json *j = NULL;
    struct cf_jw w;
    char why[160];

    cf_buf_init(&doc, 8192);
    cf_jw_init(&w, &doc);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_hsm_generate(g_h, kty, bits, 0, crv, id, &w, why, sizeof(why)), CF_OK);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
    assert_int_equal(cf_json_parse(doc.data, doc.len, &j, NULL, 0), CF_OK);
    cf_buf_release(&doc);
    return j;
}

static BIGNUM *jwk_bn(const struct cf_json *j, const char *k)
{
    size_t n = 0;
    const char *s = cf_json_str(cf_json_get(j, k), &n);
    struct cf_buf b;
    BIGNUM *bn;
    assert_non_null(s);
    cf_buf_init(&b, 1024);
    assert_int_equal(cf_b64_decode(&b, (struct cf_str){s, n}), CF_OK);
    bn = BN_bin2bn((const unsigned char *)b.data, (int)b.len, NULL);
    cf_buf_release(&b);
    return bn;
}

/* An OpenSSL public key from the JWK alone (n,e or crv,x,y). */
static EVP_PKEY *pub_of(const struct cf_json *j)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pk = NULL;
    const char *crv = cf_json_str(cf_json_get(j, "crv"), NULL);

    if (!crv) {
        BIGNUM *n = jwk_bn(j, "n"), *e = jwk_bn(j, "e");
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        BN_free(n);
        BN_free(e);
    } else {
        unsigned char pt[1 + 2 * 66];
        BIGNUM *x = jwk_bn(j, "x"), *y = jwk_bn(j, "y");
        int c = strcmp(crv, "P-256") == 0 || strcmp(crv, "P-256K") == 0 ? 32
                : strcmp(crv, "P-384") == 0                             ? 48
                                                                        : 66;
        const char *group = strcmp(crv, "P-256") == 0    ? "prime256v1"
                            : strcmp(crv, "P-256K") == 0 ? "secp256k1"
                            : strcmp(crv, "P-384") == 0  ? "secp384r1"
                                                         : "secp521r1";
        pt[0] = 4;
        BN_bn2binpad(x, pt + 1, c);
        BN_bn2binpad(y, pt + 1 + c, c);
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, (size_t)(1 + 2 * c));
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        BN_free(x);
        BN_free(y);
    }
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

static bool ossl_verify(EVP_PKEY *pk, const char *md, bool pss, const unsigned char *dg, size_t dl,
                        const unsigned char *sig, size_t sl)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    unsigned char der[256];
    int ok;

    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(md)), 1);
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) { /* r||s -> DER */
        ECDSA_SIG *s = ECDSA_SIG_new();
        unsigned char *p = der;
        int len;
        ECDSA_SIG_set0(s, BN_bin2bn(sig, (int)sl / 2, NULL),
                       BN_bin2bn(sig + sl / 2, (int)sl / 2, NULL));
        len = i2d_ECDSA_SIG(s, &p);
        ECDSA_SIG_free(s);
        sig = der;
        sl = (size_t)len;
    } else if (pss) {
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST);
    } else {
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
    }
    ok = EVP_PKEY_verify(ctx, sig, sl, dg, dl);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1;
}

static void sign_check(const unsigned char *id, EVP_PKEY *pk, const char *alg, const char *md,
                       size_t dl, size_t siglen, bool pss)
{
    unsigned char dg[64];
    struct cf_buf sig;
    char why[200];
    bool valid = false;

    cf_buf_init(&sig, 1024);
    assert_int_equal(cf_random(dg, sizeof(dg)), CF_OK);
    assert_int_equal(cf_hsm_sign(g_h, id, alg, dg, dl, &sig, why, sizeof(why)), CF_OK);
    assert_int_equal(sig.len, siglen);
    assert_true(ossl_verify(pk, md, pss, dg, dl, (unsigned char *)sig.data, sig.len));
    assert_int_equal(
        cf_hsm_verify(g_h, id, alg, dg, dl, sig.data, sig.len, &valid, why, sizeof(why)), CF_OK);
    assert_true(valid);
    sig.data[3] ^= 1; /* a wrong signature is a clean false */
    assert_int_equal(
        cf_hsm_verify(g_h, id, alg, dg, dl, sig.data, sig.len, &valid, why, sizeof(why)), CF_OK);
    assert_false(valid);
    assert_int_equal(cf_hsm_verify(g_h, id, alg, dg, dl, sig.data, 5, &valid, why, sizeof(why)),
                     CF_OK);
    assert_false(valid);
    /* the digest length rule, with Azure's message */
    assert_int_equal(cf_hsm_sign(g_h, id, alg, dg, dl - 1, &sig, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "Invalid length of 'value'"));
    cf_buf_release(&sig);
}

static void test_rsa(void **state)
{
    unsigned char id[CF_HSM_ID_LEN], msg[32], ct[512];
    struct cf_secret *pt = NULL;
    struct cf_json *j;
    struct cf_buf out;
    EVP_PKEY *pk;
    EVP_PKEY_CTX *ctx;
    size_t ctl;
    char why[200];
    bool prot = false;
    static const struct {
        const char *alg;
        int pad;
        const char *md;
    } encs[] = {{"RSA1_5", RSA_PKCS1_PADDING, NULL},
                {"RSA-OAEP", RSA_PKCS1_OAEP_PADDING, "SHA1"},
                {"RSA-OAEP-256", RSA_PKCS1_OAEP_PADDING, "SHA256"}};
    (void)state;
    NEED_HSM();
    new_id(id);
    j = gen("RSA", 2048, NULL, id);
    assert_string_equal(cf_json_str(cf_json_get(j, "e"), NULL), "AQAB");
    assert_null(cf_json_get(j, "d"));
    pk = pub_of(j);
    assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
    assert_int_equal(cf_hsm_is_protected(g_h, id, &prot), CF_OK);
    assert_true(prot);
    sign_check(id, pk, "RS256", "SHA256", 32, 256, false);
    sign_check(id, pk, "RS384", "SHA384", 48, 256, false);
    sign_check(id, pk, "RS512", "SHA512", 64, 256, false);
    sign_check(id, pk, "PS256", "SHA256", 32, 256, true);
    sign_check(id, pk, "PS512", "SHA512", 64, 256, true);
    assert_int_equal(cf_random(msg, sizeof(msg)), CF_OK);
    cf_buf_init(&out, 1024);
    for (size_t i = 0; i < CF_ARRAY_LEN(encs); i++) {
        /* OpenSSL encrypts with the JWK's public key; the token decrypts */
        ctx = EVP_PKEY_CTX_new(pk, NULL);
        assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
        EVP_PKEY_CTX_set_rsa_padding(ctx, encs[i].pad);
        if (encs[i].md) {
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_get_digestbyname(encs[i].md));
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_get_digestbyname(encs[i].md));
        }
        ctl = sizeof(ct);
        assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ctl, msg, sizeof(msg)), 1);
        EVP_PKEY_CTX_free(ctx);
        assert_int_equal(
            cf_hsm_decrypt(g_h, id, encs[i].alg, i == 2, ct, ctl, NULL, &pt, why, sizeof(why)),
            CF_OK);
        assert_int_equal(pt->len, sizeof(msg));
        assert_memory_equal(pt->p, msg, sizeof(msg));
        cf_secret_free(pt);
        pt = NULL;
        /* tampered: one generic failure */
        ct[10] ^= 0x55;
        assert_int_equal(
            cf_hsm_decrypt(g_h, id, encs[i].alg, false, ct, ctl, NULL, &pt, why, sizeof(why)),
            CF_ECRYPTO);
        assert_null(pt);
        /* the token encrypts (wrap), OpenSSL's private half is not there: round trip */
        cf_buf_reset(&out);
        assert_int_equal(cf_hsm_encrypt(g_h, id, encs[i].alg, true, msg, sizeof(msg), NULL, &out,
                                        why, sizeof(why)),
                         CF_OK);
        assert_int_equal(out.len, 256);
        assert_int_equal(cf_hsm_decrypt(g_h, id, encs[i].alg, true, out.data, out.len, NULL, &pt,
                                        why, sizeof(why)),
                         CF_OK);
        assert_memory_equal(pt->p, msg, sizeof(msg));
        cf_secret_free(pt);
        pt = NULL;
    }
    /* wrong algorithms and sizes */
    assert_int_equal(cf_hsm_sign(g_h, id, "ES256", msg, 32, &out, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "RSA-HSM"));
    assert_int_equal(cf_hsm_sign(g_h, id, "XX", msg, 32, &out, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(
        cf_hsm_encrypt(g_h, id, "RSA-OAEP-256", false, ct, 200, NULL, &out, why, sizeof(why)),
        CF_EBADPARAM);
    assert_int_equal(cf_hsm_decrypt(g_h, id, "RSA1_5", false, ct, 255, NULL, &pt, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_hsm_encrypt(g_h, id, "RS256", false, msg, 8, NULL, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    /* the id is taken; destroy removes both halves */
    {
        struct cf_buf d;
        struct cf_jw w;
        cf_buf_init(&d, 4096);
        cf_jw_init(&w, &d);
        cf_jw_obj_begin(&w);
        assert_int_equal(cf_hsm_generate(g_h, "RSA", 2048, 0, NULL, id, &w, why, sizeof(why)),
                         CF_EEXISTS);
        cf_buf_release(&d);
    }
    assert_int_equal(cf_hsm_destroy(g_h, id), CF_OK);
    assert_int_equal(cf_hsm_sign(g_h, id, "RS256", msg, 32, &out, why, sizeof(why)), CF_ENOTFOUND);
    assert_int_equal(cf_hsm_destroy(g_h, id), CF_OK);
    cf_buf_release(&out);
    EVP_PKEY_free(pk);
    cf_json_free(j);
}

static void test_ec(void **state)
{
    static const struct {
        const char *crv, *alg, *md;
        size_t dl, sl;
    } cs[] = {{"P-256", "ES256", "SHA256", 32, 64},
              {"P-384", "ES384", "SHA384", 48, 96},
              {"P-521", "ES512", "SHA512", 64, 132}};
    unsigned char id[CF_HSM_ID_LEN], dg[32] = {1};
    struct cf_buf out, d;
    struct cf_jw w;
    char why[200];
    cf_err e;
    (void)state;
    NEED_HSM();
    cf_buf_init(&out, 1024);
    for (size_t i = 0; i < CF_ARRAY_LEN(cs); i++) {
        struct cf_json *j;
        EVP_PKEY *pk;
        size_t xl = 0;
        new_id(id);
        j = gen("EC", 0, cs[i].crv, id);
        assert_string_equal(cf_json_str(cf_json_get(j, "crv"), NULL), cs[i].crv);
        cf_json_str(cf_json_get(j, "x"), &xl);
        assert_int_equal(xl, (cs[i].sl / 2 * 4 + 2) / 3); /* full coordinate, unpadded b64url */
        pk = pub_of(j);
        sign_check(id, pk, cs[i].alg, cs[i].md, cs[i].dl, cs[i].sl, false);
        /* the alg must match the curve; EC keys do not encrypt */
        assert_int_equal(
            cf_hsm_sign(g_h, id, i ? "ES256" : "ES384", dg, 32, &out, why, sizeof(why)),
            CF_EBADPARAM);
        assert_non_null(strstr(why, "requires curve"));
        assert_int_equal(
            cf_hsm_encrypt(g_h, id, "RSA-OAEP", false, dg, 32, NULL, &out, why, sizeof(why)),
            CF_EBADPARAM);
        assert_int_equal(cf_hsm_destroy(g_h, id), CF_OK);
        EVP_PKEY_free(pk);
        cf_json_free(j);
    }
    /* secp256k1: made when the token can, else Azure's unsupported answer */
    new_id(id);
    cf_buf_init(&d, 4096);
    cf_jw_init(&w, &d);
    cf_jw_obj_begin(&w);
    e = cf_hsm_generate(g_h, "EC", 0, 0, "P-256K", id, &w, why, sizeof(why));
    assert_true(e == CF_OK || (e == CF_EBADPARAM && strstr(why, "not supported")));
    if (e == CF_OK) {
        struct cf_json *j;
        EVP_PKEY *pk;
        cf_jw_obj_end(&w);
        assert_int_equal(cf_json_parse(d.data, d.len, &j, NULL, 0), CF_OK);
        pk = pub_of(j);
        sign_check(id, pk, "ES256K", "SHA256", 32, 64, false);
        EVP_PKEY_free(pk);
        cf_json_free(j);
        assert_int_equal(cf_hsm_destroy(g_h, id), CF_OK);
    }
    cf_buf_release(&d);
    /* bad curve and sizes */
    cf_buf_init(&d, 4096);
    cf_jw_init(&w, &d);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_hsm_generate(g_h, "EC", 0, 0, "P-999", id, &w, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_hsm_generate(g_h, "RSA", 1024, 0, NULL, id, &w, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_hsm_generate(g_h, "oct", 100, 0, NULL, id, &w, why, sizeof(why)),
                     CF_EBADPARAM);
    cf_buf_release(&d);
    cf_buf_release(&out);
}

static void test_aes(void **state)
{
    unsigned char id[CF_HSM_ID_LEN], key[32], ref[48];
    struct cf_kvkey_sym sym;
    struct cf_secret *pt = NULL;
    struct cf_json *j;
    struct cf_buf out;
    char why[200];
    bool prot = false;
    (void)state;
    NEED_HSM();
    new_id(id);
    j = gen("oct", 128, NULL, id);
    assert_null(cf_json_get(j, "k"));
    cf_json_free(j);
    assert_int_equal(cf_hsm_is_protected(g_h, id, &prot), CF_OK);
    assert_true(prot);
    cf_buf_init(&out, 4096);
    /* A128KW: wraps and unwraps; the token's key is unknown, so check the round trip and
     * RFC 3394's integrity check */
    assert_int_equal(cf_random(key, sizeof(key)), CF_OK);
    assert_int_equal(cf_hsm_encrypt(g_h, id, "A128KW", true, key, 32, NULL, &out, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(out.len, 40);
    memcpy(ref, out.data, 40);
    assert_int_equal(cf_hsm_decrypt(g_h, id, "A128KW", true, ref, 40, NULL, &pt, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(pt->len, 32);
    assert_memory_equal(pt->p, key, 32);
    cf_secret_free(pt);
    pt = NULL;
    ref[20] ^= 1;
    assert_int_equal(cf_hsm_decrypt(g_h, id, "A128KW", true, ref, 40, NULL, &pt, why, sizeof(why)),
                     CF_ECRYPTO);
    assert_int_equal(cf_hsm_encrypt(g_h, id, "A256KW", true, key, 32, NULL, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "requires a 256-bit key"));
    assert_int_equal(cf_hsm_encrypt(g_h, id, "A128KW", true, key, 12, NULL, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    /* CBC (no padding) and CBCPAD: the IV is made when absent and returned */
    for (int pad = 0; pad < 2; pad++) {
        const char *alg = pad ? "A128CBCPAD" : "A128CBC";
        size_t n = pad ? 21 : 32;
        memset(&sym, 0, sizeof(sym));
        cf_buf_reset(&out);
        assert_int_equal(cf_hsm_encrypt(g_h, id, alg, false, key, n, &sym, &out, why, sizeof(why)),
                         CF_OK);
        assert_int_equal(sym.iv_len, 16);
        assert_int_equal(out.len, pad ? 32 : 32);
        assert_int_equal(
            cf_hsm_decrypt(g_h, id, alg, false, out.data, out.len, &sym, &pt, why, sizeof(why)),
            CF_OK);
        assert_int_equal(pt->len, n);
        assert_memory_equal(pt->p, key, n);
        cf_secret_free(pt);
        pt = NULL;
    }
    memset(&sym, 0, sizeof(sym));
    assert_int_equal(
        cf_hsm_encrypt(g_h, id, "A128CBC", false, key, 20, &sym, &out, why, sizeof(why)),
        CF_EBADPARAM);
    /* GCM: works when the token offers it, else Azure's unsupported-algorithm answer */
    memset(&sym, 0, sizeof(sym));
    cf_buf_reset(&out);
    {
        cf_err e = cf_hsm_encrypt(g_h, id, "A128GCM", false, key, 32, &sym, &out, why, sizeof(why));
        if (e == CF_OK) {
            assert_int_equal(sym.tag_len, 16);
            assert_int_equal(cf_hsm_decrypt(g_h, id, "A128GCM", false, out.data, out.len, &sym, &pt,
                                            why, sizeof(why)),
                             CF_OK);
            assert_memory_equal(pt->p, key, 32);
            cf_secret_free(pt);
            pt = NULL;
        } else {
            assert_int_equal(e, CF_EBADPARAM);
            assert_non_null(strstr(why, "not supported by this server's HSM"));
        }
    }
    /* oct keys do not sign */
    assert_int_equal(cf_hsm_sign(g_h, id, "RS256", key, 32, &out, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_hsm_destroy(g_h, id), CF_OK);
    cf_buf_release(&out);
}

/* The session pool under concurrent signers. */
static unsigned char g_pid[CF_HSM_ID_LEN];
static void *signer(void *arg)
{
    unsigned char dg[32] = {7};
    struct cf_buf sig;
    bool valid = false;
    long ok = 0;
    (void)arg;
    cf_buf_init(&sig, 256);
    for (int i = 0; i < 25; i++) {
        cf_buf_reset(&sig);
        if (cf_hsm_sign(g_h, g_pid, "ES256", dg, 32, &sig, NULL, 0) == CF_OK &&
            cf_hsm_verify(g_h, g_pid, "ES256", dg, 32, sig.data, sig.len, &valid, NULL, 0) ==
                CF_OK &&
            valid)
            ok++;
    }
    cf_buf_release(&sig);
    return (void *)ok;
}

static void test_threads(void **state)
{
    pthread_t t[8];
    struct cf_json *j;
    (void)state;
    NEED_HSM();
    new_id(g_pid);
    j = gen("EC", 0, "P-256", g_pid);
    cf_json_free(j);
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, signer, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_int_equal((long)r, 25);
    }
    assert_int_equal(cf_hsm_destroy(g_h, g_pid), CF_OK);
}

static void test_no_token(void **state)
{
    struct cf_custody_cfg cfg = {.provider = CF_CUSTODY_DEV, .dir = g_dir};
    struct cf_custody *c;
    cf_err e;
    (void)state;
    c = cf_custody_open(&cfg, &e);
    assert_non_null(c);
    assert_null(cf_hsm_open(c, &e));
    assert_int_equal(e, CF_ENOTFOUND);
    cf_custody_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa),     cmocka_unit_test(test_ec),       cmocka_unit_test(test_aes),
        cmocka_unit_test(test_threads), cmocka_unit_test(test_no_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_x509_assemble.c - certificates and requests signed through a callback (the HSM path):
 * a software key plays the token; the results must verify with OpenSSL against that key, carry
 * the same algorithm in the TBS and outside it, and a wrong or foreign signature must be
 * refused before anything is returned. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct signer_state {
    struct cf_kvkey *k;
    int mode; /* 0 honest, 1 flip a byte, 2 truncate, 3 refuse */
    char last_alg[16];
    int calls;
};

static cf_err sign_cb(void *arg, const char *alg, const void *digest, size_t dlen,
                      struct cf_buf *sig)
{
    struct signer_state *s = arg;
    size_t before = sig->len;
    cf_err e;

    s->calls++;
    snprintf(s->last_alg, sizeof(s->last_alg), "%s", alg);
    if (s->mode == 3)
        return CF_EFORBIDDEN;
    e = cf_kvkey_sign(s->k, alg, digest, dlen, sig, NULL, 0);
    if (e)
        return e;
    if (s->mode == 1)
        sig->data[before + (sig->len - before) / 2] ^= 0x01;
    if (s->mode == 2)
        sig->len--;
    return CF_OK;
}

static char *pub_jwk(const struct cf_kvkey *k)
{
    struct cf_buf b;
    struct cf_jw w;
    cf_buf_init(&b, 4096);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_kvkey_write_public_jwk(k, false, &w), CF_OK);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
    return cf_buf_detach(&b, NULL);
}

/* The software key as OpenSSL's (kvkey blob: 5-byte header then PKCS#8 DER). */
static EVP_PKEY *evp_of(const struct cf_kvkey *k)
{
    struct cf_secret *blob = NULL;
    const unsigned char *p;
    EVP_PKEY *pk;
    assert_int_equal(cf_kvkey_to_blob(k, &blob), CF_OK);
    p = (const unsigned char *)blob->p + 5;
    pk = d2i_AutoPrivateKey(NULL, &p, (long)(blob->len - 5));
    assert_non_null(pk);
    cf_secret_free(blob);
    return pk;
}

static const struct cf_cert_san sans[] = {{CF_SAN_DNS, "www.example.test"},
                                          {CF_SAN_EMAIL, "a@example.test"}};
static const char *const ekus[] = {"1.3.6.1.5.5.7.3.1"};

static void req_init(struct cf_cert_req *r)
{
    memset(r, 0, sizeof(*r));
    r->subject = "CN=hsm.example.test, O=Coffer";
    r->sans = sans;
    r->nsans = 2;
    r->ekus = ekus;
    r->nekus = 1;
    r->key_usage = cf_cert_ku_parse(CF_STR("digitalSignature"));
    r->not_before = 1700000000;
    r->not_after = 1700000000 + 86400 * 30;
}

static void check_cert(struct cf_kvkey *k, const char *want_alg, int want_nid)
{
    struct signer_state st = {.k = k};
    char *jwk = pub_jwk(k);
    struct cf_cert_signer s = {jwk, sign_cb, &st};
    struct cf_cert_req r;
    struct cf_buf der;
    const unsigned char *p;
    EVP_PKEY *pk = evp_of(k);
    X509 *x;
    bool match = false;

    req_init(&r);
    cf_buf_init(&der, 16384);
    assert_int_equal(cf_cert_self_signed_signer(&s, &r, &der, NULL, 0), CF_OK);
    assert_int_equal(st.calls, 1);
    assert_string_equal(st.last_alg, want_alg);
    p = (const unsigned char *)der.data;
    x = d2i_X509(NULL, &p, (long)der.len);
    assert_non_null(x);
    assert_ptr_equal(p, (const unsigned char *)der.data + der.len);
    assert_int_equal(X509_verify(x, pk), 1);
    assert_int_equal(X509_get_signature_nid(x), want_nid);
    assert_int_equal(OBJ_obj2nid(X509_get0_tbs_sigalg(x)->algorithm), want_nid);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    assert_non_null(X509_get0_subject_key_id(x)); /* self-issued: AKI = SKI */
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(x), X509_get0_authority_key_id(x)),
                     0);
    assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0, 1);
    assert_int_equal(X509_get_ext_by_NID(x, NID_key_usage, -1) >= 0, 1);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), 1700000000), 0);
    X509_free(x);
    /* cf_cert_info and the match helpers accept it like any other certificate */
    struct cf_cert_info info;
    assert_int_equal(cf_cert_info(der.data, der.len, &info), CF_OK);
    assert_int_equal(info.not_after, 1700000000 + 86400 * 30);
    assert_int_equal(cf_cert_key_matches(der.data, der.len, k, &match), CF_OK);
    assert_true(match);
    assert_int_equal(cf_cert_jwk_matches(der.data, der.len, jwk, &match), CF_OK);
    assert_true(match);
    EVP_PKEY_free(pk);
    cf_buf_release(&der);
    free(jwk);
}

static void test_self_signed_rsa(void **st)
{
    struct cf_kvkey *k = NULL;
    (void)st;
    assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &k), CF_OK);
    check_cert(k, "RS256", NID_sha256WithRSAEncryption);
    cf_kvkey_free(k);
}

static void test_self_signed_ec(void **st)
{
    static const struct {
        enum cf_crv crv;
        const char *alg;
        int nid;
    } t[] = {{CF_CRV_P256, "ES256", NID_ecdsa_with_SHA256},
             {CF_CRV_P384, "ES384", NID_ecdsa_with_SHA384},
             {CF_CRV_P521, "ES512", NID_ecdsa_with_SHA512},
             {CF_CRV_P256K, "ES256K", NID_ecdsa_with_SHA256}};
    (void)st;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct cf_kvkey *k = NULL;
        assert_int_equal(cf_kvkey_generate_ec(t[i].crv, &k), CF_OK);
        check_cert(k, t[i].alg, t[i].nid);
        cf_kvkey_free(k);
    }
}

static void check_csr(struct cf_kvkey *k)
{
    struct signer_state st = {.k = k};
    char *jwk = pub_jwk(k);
    struct cf_cert_signer s = {jwk, sign_cb, &st};
    struct cf_cert_req r;
    struct cf_buf der, cert;
    const unsigned char *p;
    EVP_PKEY *pk = evp_of(k);
    X509_REQ *x;
    STACK_OF(X509_EXTENSION) *exts;

    req_init(&r);
    cf_buf_init(&der, 16384);
    assert_int_equal(cf_cert_csr_signer(&s, &r, &der, NULL, 0), CF_OK);
    p = (const unsigned char *)der.data;
    x = d2i_X509_REQ(NULL, &p, (long)der.len);
    assert_non_null(x);
    assert_int_equal(X509_REQ_verify(x, pk), 1);
    exts = X509_REQ_get_extensions(x);
    assert_non_null(exts);
    assert_true(X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1) >= 0);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(x);
    /* a CA accepts it: cf_cert_sign_csr checks the request's self-signature */
    {
        struct cf_kvkey *ca = NULL;
        struct cf_buf ca_der;
        bool match = false;
        cf_buf_init(&ca_der, 16384);
        cf_buf_init(&cert, 16384);
        assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &ca), CF_OK);
        assert_int_equal(cf_cert_self_signed(ca, &r, &ca_der, NULL, 0), CF_OK);
        assert_int_equal(cf_cert_sign_csr(ca, ca_der.data, ca_der.len, der.data, der.len,
                                          r.not_before, r.not_after, &cert),
                         CF_OK);
        assert_int_equal(cf_cert_jwk_matches(cert.data, cert.len, jwk, &match), CF_OK);
        assert_true(match);
        cf_kvkey_free(ca);
        cf_buf_release(&ca_der);
        cf_buf_release(&cert);
    }
    EVP_PKEY_free(pk);
    cf_buf_release(&der);
    free(jwk);
}

static void test_csr(void **st)
{
    struct cf_kvkey *k = NULL;
    (void)st;
    assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &k), CF_OK);
    check_csr(k);
    cf_kvkey_free(k);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P384, &k), CF_OK);
    check_csr(k);
    cf_kvkey_free(k);
}

/* A signature that does not verify never comes out: flipped, truncated, another key's. */
static void test_bad_signatures(void **st)
{
    struct cf_kvkey *k = NULL, *other = NULL;
    struct cf_cert_req r;
    struct cf_buf der;
    (void)st;

    req_init(&r);
    cf_buf_init(&der, 16384);
    for (int rsa = 0; rsa < 2; rsa++) {
        if (rsa) {
            assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &k), CF_OK);
            assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &other), CF_OK);
        } else {
            assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &k), CF_OK);
            assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &other), CF_OK);
        }
        char *jwk = pub_jwk(k);
        for (int mode = 1; mode <= 3; mode++) {
            struct signer_state ss = {.k = k, .mode = mode};
            struct cf_cert_signer s = {jwk, sign_cb, &ss};
            cf_err want = mode == 3 ? CF_EFORBIDDEN : CF_ECRYPTO;
            assert_int_equal(cf_cert_self_signed_signer(&s, &r, &der, NULL, 0), want);
            assert_int_equal(cf_cert_csr_signer(&s, &r, &der, NULL, 0), want);
            assert_int_equal(der.len, 0);
        }
        struct signer_state ss = {.k = other};
        struct cf_cert_signer s = {jwk, sign_cb, &ss};
        assert_int_equal(cf_cert_self_signed_signer(&s, &r, &der, NULL, 0), CF_ECRYPTO);
        assert_int_equal(cf_cert_csr_signer(&s, &r, &der, NULL, 0), CF_ECRYPTO);
        assert_int_equal(der.len, 0);
        /* and a certificate of k does not match other's key */
        char *ojwk = pub_jwk(other);
        struct signer_state good = {.k = k};
        struct cf_cert_signer gs = {jwk, sign_cb, &good};
        bool match = true;
        assert_int_equal(cf_cert_self_signed_signer(&gs, &r, &der, NULL, 0), CF_OK);
        assert_int_equal(cf_cert_jwk_matches(der.data, der.len, ojwk, &match), CF_OK);
        assert_false(match);
        cf_buf_reset(&der);
        free(ojwk);
        free(jwk);
        cf_kvkey_free(k);
        cf_kvkey_free(other);
    }
    cf_buf_release(&der);
}

static void test_bad_input(void **st)
{
    struct cf_kvkey *k = NULL;
    struct signer_state ss;
    struct cf_cert_signer s;
    struct cf_cert_req r;
    struct cf_buf der;
    char why[128] = "";
    bool match;
    static const char *const bad_jwks[] = {
        "", "{", "[]", "{}", "{\"n\":\"\",\"e\":\"AQAB\"}", "{\"n\":\"AQAB\"}",
        "{\"crv\":\"P-999\",\"x\":\"AA\",\"y\":\"AA\"}",
        "{\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", /* wrong coordinate size */
        "{\"crv\":\"P-256\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", /* not on the curve */
        "{\"n\":\"!!\",\"e\":\"AQAB\"}"};
    (void)st;

    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &k), CF_OK);
    ss = (struct signer_state){.k = k};
    req_init(&r);
    cf_buf_init(&der, 16384);
    for (size_t i = 0; i < sizeof(bad_jwks) / sizeof(bad_jwks[0]); i++) {
        s = (struct cf_cert_signer){bad_jwks[i], sign_cb, &ss};
        assert_int_equal(cf_cert_self_signed_signer(&s, &r, &der, NULL, 0), CF_EINVAL);
        assert_int_equal(cf_cert_csr_signer(&s, &r, &der, NULL, 0), CF_EINVAL);
    }
    s = (struct cf_cert_signer){NULL, sign_cb, &ss};
    assert_int_equal(cf_cert_self_signed_signer(&s, &r, &der, NULL, 0), CF_EINVAL);
    assert_int_equal(ss.calls, 0);
    char *jwk = pub_jwk(k);
    s = (struct cf_cert_signer){jwk, NULL, &ss};
    assert_int_equal(cf_cert_csr_signer(&s, &r, &der, NULL, 0), CF_EINVAL);
    s = (struct cf_cert_signer){jwk, sign_cb, &ss};
    r.subject = "CN";
    assert_int_equal(cf_cert_self_signed_signer(&s, &r, &der, why, sizeof(why)), CF_EBADPARAM);
    assert_true(why[0] != '\0');
    req_init(&r);
    r.not_after = r.not_before;
    assert_int_equal(cf_cert_self_signed_signer(&s, &r, &der, NULL, 0), CF_EINVAL);
    assert_int_equal(ss.calls, 0);
    assert_int_equal(der.len, 0);
    assert_int_equal(cf_cert_jwk_matches("\x30\x03\x02\x01\x00", 5, jwk, &match), CF_EBADPARAM);
    assert_false(match);
    free(jwk);
    cf_kvkey_free(k);
    cf_buf_release(&der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_signed_rsa), cmocka_unit_test(test_self_signed_ec),
        cmocka_unit_test(test_csr),             cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

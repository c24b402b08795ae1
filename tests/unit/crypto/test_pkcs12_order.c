/* test_pkcs12_order.c - the import side for issue 13: a PFX imported with preserveCertOrder
 * keeps the file's order of its certificate bags (CA first, leaf in the middle, bags split
 * over a plain and an encrypted safe), without preserve the leaf comes first; a wrong password
 * and the iteration budget still refuse; and a key's parts for a token import
 * (cf_kvkey_parts_get: RSA n = p*q and e, EC d/x/y padded to the coordinate, the public JWK's
 * x/y; oct refused). */
#include "base/cf.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <setjmp.h>
#include <cmocka.h>

#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"

/* A certificate for pk named cn, signed by (issuer, ipk) or self-signed when issuer is NULL. */
static X509 *mk_cert(const char *cn, EVP_PKEY *pk, X509 *issuer, EVP_PKEY *ipk, long serial)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_true(X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
                X509_gmtime_adj(X509_getm_notBefore(x), -60) &&
                X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
                X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                           (const unsigned char *)cn, -1, -1, 0) &&
                X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)) &&
                X509_set_pubkey(x, pk) && X509_sign(x, ipk ? ipk : pk, EVP_sha256()));
    return x;
}

struct trio {
    EVP_PKEY *ca_pk, *in_pk, *leaf_pk;
    X509 *ca, *in, *leaf;
};

static void trio_make(struct trio *t)
{
    t->ca_pk = EVP_EC_gen("P-256");
    t->in_pk = EVP_EC_gen("P-256");
    t->leaf_pk = EVP_EC_gen("P-256");
    assert_true(t->ca_pk && t->in_pk && t->leaf_pk);
    t->ca = mk_cert("Order Root", t->ca_pk, NULL, NULL, 1);
    t->in = mk_cert("Order Intermediate", t->in_pk, t->ca, t->ca_pk, 2);
    t->leaf = mk_cert("order.example", t->leaf_pk, t->in, t->in_pk, 3);
}

static void trio_free(struct trio *t)
{
    X509_free(t->ca);
    X509_free(t->in);
    X509_free(t->leaf);
    EVP_PKEY_free(t->ca_pk);
    EVP_PKEY_free(t->in_pk);
    EVP_PKEY_free(t->leaf_pk);
}

/* A PFX (password "pw") whose first safe is plain data holding plain[0..np), the second an
 * encrypted safe holding enc[0..ne), then the shrouded key; the leaf's bag and the key share a
 * localKeyID. iter: the key's, the encrypted safe's and the MAC's count. */
static void mk_pfx(const struct trio *t, X509 *const *plain, int np, X509 *const *enc, int ne,
                   int iter, struct cf_buf *out)
{
    STACK_OF(PKCS12_SAFEBAG) *b1 = NULL, *b2 = NULL, *kb = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    unsigned char kid[] = {0x6b, 0x31};
    PKCS12_SAFEBAG *bag;
    PKCS12 *p12;
    unsigned char *p = NULL;
    int len;

    for (int i = 0; i < np + ne; i++) {
        X509 *x = i < np ? plain[i] : enc[i - np];
        assert_non_null(bag = PKCS12_add_cert(i < np ? &b1 : &b2, x));
        if (x == t->leaf)
            assert_int_equal(PKCS12_add_localkeyid(bag, kid, 2), 1);
    }
    assert_non_null(bag = PKCS12_add_key(&kb, t->leaf_pk, 0, iter, NID_aes_256_cbc, "pw"));
    assert_int_equal(PKCS12_add_localkeyid(bag, kid, 2), 1);
    if (b1)
        assert_non_null(PKCS12_add_safe(&safes, b1, -1, 0, NULL));
    if (b2)
        assert_non_null(PKCS12_add_safe(&safes, b2, NID_aes_256_cbc, iter, "pw"));
    assert_non_null(PKCS12_add_safe(&safes, kb, -1, 0, NULL));
    assert_non_null(p12 = PKCS12_add_safes(safes, 0));
    assert_int_equal(PKCS12_set_mac(p12, "pw", -1, NULL, 0, iter, NULL), 1);
    len = i2d_PKCS12(p12, &p);
    assert_true(len > 0);
    cf_buf_reset(out);
    assert_int_equal(cf_buf_append(out, p, (size_t)len), CF_OK);
    OPENSSL_free(p);
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(b1, PKCS12_SAFEBAG_free);
    sk_PKCS12_SAFEBAG_pop_free(b2, PKCS12_SAFEBAG_free);
    sk_PKCS12_SAFEBAG_pop_free(kb, PKCS12_SAFEBAG_free);
}

/* Asserts that chain is exactly want[0..n) (DER, in that order). */
static void chain_is(const struct cf_buf *chain, X509 *const *want, int n)
{
    const unsigned char *der;
    size_t off = 0, len;
    int i = 0;

    while (cf_cert_chain_next(chain->data, chain->len, &off, &der, &len)) {
        unsigned char *w = NULL;
        int wl;
        assert_true(i < n);
        wl = i2d_X509(want[i], &w);
        assert_true(wl > 0);
        assert_int_equal(len, (size_t)wl);
        assert_memory_equal(der, w, len);
        OPENSSL_free(w);
        i++;
    }
    assert_int_equal(i, n);
    assert_int_equal(off, chain->len);
}

static cf_err import(const struct cf_buf *pfx, const char *pwd, bool preserve, struct cf_buf *chain,
                     char why[200])
{
    struct cf_kvkey *k = NULL;
    cf_err e;

    cf_buf_reset(chain);
    why[0] = '\0';
    e = cf_cert_from_pkcs12(pfx->data, pfx->len, pwd, preserve, &k, chain, why, 200);
    if (e == CF_OK)
        assert_non_null(k);
    else
        assert_null(k);
    cf_kvkey_free(k);
    return e;
}

/* CA, leaf, intermediate in one encrypted safe: preserve keeps exactly that; without it the
 * leaf is first. */
static void pfx_order_one_safe(void **state)
{
    struct trio t;
    struct cf_buf pfx, chain;
    char why[200];

    (void)state;
    trio_make(&t);
    cf_buf_init(&pfx, 65536);
    cf_buf_init(&chain, 65536);
    X509 *const file[] = {t.ca, t.leaf, t.in};
    mk_pfx(&t, NULL, 0, file, 3, 2048, &pfx);
    assert_int_equal(import(&pfx, "pw", true, &chain, why), CF_OK);
    chain_is(&chain, file, 3);
    assert_int_equal(import(&pfx, "pw", false, &chain, why), CF_OK);
    {
        const unsigned char *der;
        size_t off = 0, len;
        unsigned char *w = NULL;
        int wl = i2d_X509(t.leaf, &w);
        assert_true(cf_cert_chain_next(chain.data, chain.len, &off, &der, &len));
        assert_int_equal(len, (size_t)wl);
        assert_memory_equal(der, w, len);
        OPENSSL_free(w);
    }
    /* wrong password, with and without preserve */
    assert_int_equal(import(&pfx, "nope", true, &chain, why), CF_EBADPARAM);
    assert_non_null(strstr(why, "password"));
    assert_int_equal(import(&pfx, "nope", false, &chain, why), CF_EBADPARAM);
    cf_buf_release(&pfx);
    cf_buf_release(&chain);
    trio_free(&t);
}

/* The bags over two safes: intermediate in the plain one, root then leaf in the encrypted
 * one - the stored order is intermediate, root, leaf. */
static void pfx_order_two_safes(void **state)
{
    struct trio t;
    struct cf_buf pfx, chain;
    char why[200];

    (void)state;
    trio_make(&t);
    cf_buf_init(&pfx, 65536);
    cf_buf_init(&chain, 65536);
    X509 *const plain[] = {t.in};
    X509 *const enc[] = {t.ca, t.leaf};
    X509 *const want[] = {t.in, t.ca, t.leaf};
    mk_pfx(&t, plain, 1, enc, 2, 2048, &pfx);
    assert_int_equal(import(&pfx, "pw", true, &chain, why), CF_OK);
    chain_is(&chain, want, 3);
    /* leaf alone, preserve: just the leaf */
    X509 *const only[] = {t.leaf};
    mk_pfx(&t, only, 1, NULL, 0, 2048, &pfx);
    assert_int_equal(import(&pfx, "pw", true, &chain, why), CF_OK);
    chain_is(&chain, only, 1);
    /* no certificate bag for the key: still refused with preserve */
    X509 *const nokey[] = {t.ca, t.in};
    mk_pfx(&t, nokey, 2, NULL, 0, 2048, &pfx);
    assert_int_equal(import(&pfx, "pw", true, &chain, why), CF_EBADPARAM);
    cf_buf_release(&pfx);
    cf_buf_release(&chain);
    trio_free(&t);
}

/* The iteration budget (600000 in all) holds for preserve imports too: 3 x 200000 passes,
 * 3 x 200001 is refused before anything is derived. */
static void pfx_order_budget(void **state)
{
    struct trio t;
    struct cf_buf pfx, chain;
    char why[200];

    (void)state;
    trio_make(&t);
    cf_buf_init(&pfx, 65536);
    cf_buf_init(&chain, 65536);
    X509 *const file[] = {t.ca, t.leaf};
    mk_pfx(&t, NULL, 0, file, 2, 200000, &pfx);
    assert_int_equal(import(&pfx, "pw", true, &chain, why), CF_OK);
    chain_is(&chain, file, 2);
    mk_pfx(&t, NULL, 0, file, 2, 200001, &pfx);
    assert_int_equal(import(&pfx, "pw", true, &chain, why), CF_EBADPARAM);
    assert_non_null(strstr(why, "iteration"));
    cf_buf_release(&pfx);
    cf_buf_release(&chain);
    trio_free(&t);
}

static BIGNUM *bn_of(const struct cf_secret *s)
{
    BIGNUM *b = BN_bin2bn(s->p, (int)s->len, NULL);
    assert_non_null(b);
    return b;
}

static void rsa_parts(void **state)
{
    struct cf_kvkey *k = NULL;
    struct cf_kvkey_parts kp;
    BN_CTX *ctx = BN_CTX_new();

    (void)state;
    assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &k), CF_OK);
    assert_int_equal(cf_kvkey_parts_get(k, &kp), CF_OK);
    assert_int_equal(kp.kty, CF_KTY_RSA);
    for (int i = CF_KP_N; i <= CF_KP_QI; i++)
        assert_non_null(kp.v[i]);
    assert_null(kp.v[CF_KP_X]);
    assert_int_equal(kp.v[CF_KP_N]->len, 256);
    assert_int_equal(kp.v[CF_KP_E]->len, 3);
    assert_memory_equal(kp.v[CF_KP_E]->p, "\x01\x00\x01", 3);
    {
        BIGNUM *n = bn_of(kp.v[CF_KP_N]), *p = bn_of(kp.v[CF_KP_P]), *q = bn_of(kp.v[CF_KP_Q]);
        BIGNUM *pq = BN_new();
        assert_int_equal(BN_mul(pq, p, q, ctx), 1);
        assert_int_equal(BN_cmp(pq, n), 0);
        BN_free(n);
        BN_free(p);
        BN_free(q);
        BN_free(pq);
    }
    cf_kvkey_parts_release(&kp);
    assert_null(kp.v[CF_KP_N]);
    cf_kvkey_free(k);
    BN_CTX_free(ctx);
}

/* EC: d, x, y at the coordinate size; x and y are the public JWK's. */
static void ec_parts(void **state)
{
    static const enum cf_crv crvs[] = {CF_CRV_P256, CF_CRV_P384, CF_CRV_P521};
    static const size_t coord[] = {32, 48, 66};

    (void)state;
    for (size_t c = 0; c < CF_ARRAY_LEN(crvs); c++) {
        struct cf_kvkey *k = NULL;
        struct cf_kvkey_parts kp;
        struct cf_buf jwk, x;
        struct cf_jw w;
        struct cf_json *j = NULL;

        assert_int_equal(cf_kvkey_generate_ec(crvs[c], &k), CF_OK);
        assert_int_equal(cf_kvkey_parts_get(k, &kp), CF_OK);
        assert_int_equal(kp.kty, CF_KTY_EC);
        assert_int_equal(kp.crv, crvs[c]);
        assert_null(kp.v[CF_KP_N]);
        assert_int_equal(kp.v[CF_KP_D]->len, coord[c]);
        assert_int_equal(kp.v[CF_KP_X]->len, coord[c]);
        assert_int_equal(kp.v[CF_KP_Y]->len, coord[c]);
        cf_buf_init(&jwk, 4096);
        cf_buf_init(&x, 256);
        cf_jw_init(&w, &jwk);
        cf_jw_obj_begin(&w);
        assert_int_equal(cf_kvkey_write_public_jwk(k, true, &w), CF_OK);
        cf_jw_obj_end(&w);
        assert_int_equal(cf_json_parse(jwk.data, jwk.len, &j, NULL, 0), CF_OK);
        assert_int_equal(cf_b64_decode(&x, cf_str_from(cf_json_str(cf_json_get(j, "x"), NULL))),
                         CF_OK);
        assert_int_equal(x.len, coord[c]);
        assert_memory_equal(x.data, kp.v[CF_KP_X]->p, coord[c]);
        cf_buf_reset(&x);
        assert_int_equal(cf_b64_decode(&x, cf_str_from(cf_json_str(cf_json_get(j, "y"), NULL))),
                         CF_OK);
        assert_memory_equal(x.data, kp.v[CF_KP_Y]->p, coord[c]);
        cf_json_free(j);
        cf_buf_release(&jwk);
        cf_buf_release(&x);
        cf_kvkey_parts_release(&kp);
        cf_kvkey_free(k);
    }
}

static void oct_parts_refused(void **state)
{
    struct cf_kvkey *k = NULL;
    struct cf_kvkey_parts kp;

    (void)state;
    assert_int_equal(cf_kvkey_generate_oct(256, &k), CF_OK);
    assert_int_equal(cf_kvkey_parts_get(k, &kp), CF_EINVAL);
    assert_int_equal(cf_kvkey_parts_get(NULL, &kp), CF_EINVAL);
    cf_kvkey_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pfx_order_one_safe), cmocka_unit_test(pfx_order_two_safes),
        cmocka_unit_test(pfx_order_budget),   cmocka_unit_test(rsa_parts),
        cmocka_unit_test(ec_parts),           cmocka_unit_test(oct_parts_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_pkcs12.c - pkcs12.c: self-signed certificates and CSRs for RSA and EC keys (fields,
 * extensions read back through cf_cert_write_props), key matching, PKCS#12 and PEM round trips
 * (password, wrong password, no key, key that does not match, leaf ordering), chain walking,
 * signing a CSR, and garbage input; PFX iteration counts over the budget (timed), encrypted PEM
 * keys (PKCS#8 and traditional) with right, wrong and missing passwords. */
#include "base/cf.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <time.h>

#include <setjmp.h>
#include <cmocka.h>

#include "base/json.h"
#include "crypto/crypto.h"

static const struct cf_cert_san sans[] = {
    {CF_SAN_DNS, "www.example.com"}, {CF_SAN_EMAIL, "a@example.com"},
    {CF_SAN_UPN, "u@corp"},          {CF_SAN_URI, "https://x.example/"},
    {CF_SAN_IP, "10.1.2.3"}};
static const char *const ekus[] = {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"};

static void req_init(struct cf_cert_req *r)
{
    memset(r, 0, sizeof(*r));
    r->subject = "CN=test, O=Coffer, C=NL";
    r->sans = sans;
    r->nsans = CF_ARRAY_LEN(sans);
    r->ekus = ekus;
    r->nekus = 2;
    r->key_usage = cf_cert_ku_parse(CF_STR("digitalSignature")) |
                   cf_cert_ku_parse(CF_STR("keyEncipherment"));
    r->not_before = 1700000000;
    r->not_after = 1700000000 + 365 * 86400;
}

static void self_signed_fields(void **state)
{
    struct cf_kvkey *rsa = NULL, *ec = NULL;
    struct cf_cert_req r;
    struct cf_buf der, csr, props;
    struct cf_cert_info info;
    struct cf_jw w;
    bool match = true;

    (void)state;
    req_init(&r);
    cf_buf_init(&der, 16384);
    cf_buf_init(&csr, 16384);
    cf_buf_init(&props, 8192);
    assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &rsa), CF_OK);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P384, &ec), CF_OK);
    assert_int_equal(cf_cert_self_signed(rsa, &r, &der, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_info(der.data, der.len, &info), CF_OK);
    assert_int_equal(info.not_before, r.not_before);
    assert_int_equal(info.not_after, r.not_after);
    assert_int_equal(cf_cert_key_matches(der.data, der.len, rsa, &match), CF_OK);
    assert_true(match);
    assert_int_equal(cf_cert_key_matches(der.data, der.len, ec, &match), CF_OK);
    assert_false(match);
    cf_jw_init(&w, &props);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_cert_write_props(der.data, der.len, &w), CF_OK);
    cf_jw_obj_end(&w);
    assert_string_equal(props.data,
                        "{\"subject\":\"CN=test, O=Coffer, C=NL\",\"sans\":{\"dns_names\":"
                        "[\"www.example.com\"],\"emails\":[\"a@example.com\"],\"upns\":[\"u@corp\"]},"
                        "\"ekus\":[\"1.3.6.1.5.5.7.3.1\",\"1.3.6.1.5.5.7.3.2\"],\"key_usage\":"
                        "[\"digitalSignature\",\"keyEncipherment\"],\"validity_months\":12}");
    assert_int_equal(cf_cert_csr(ec, &r, &csr, NULL, 0), CF_OK);
    assert_true(csr.len > 200);
    /* bad requests */
    r.subject = "NOPE=x";
    assert_int_equal(cf_cert_csr(ec, &r, &csr, NULL, 0), CF_EBADPARAM);
    req_init(&r);
    r.ekus = (const char *const[]){"not-an-oid"};
    r.nekus = 1;
    assert_int_equal(cf_cert_self_signed(ec, &r, &der, NULL, 0), CF_EBADPARAM);
    req_init(&r);
    r.sans = (const struct cf_cert_san[]){{CF_SAN_IP, "999.1.1.1"}};
    r.nsans = 1;
    assert_int_equal(cf_cert_self_signed(ec, &r, &der, NULL, 0), CF_EBADPARAM);
    assert_int_equal(cf_cert_info("garbage", 7, &info), CF_EBADPARAM);
    cf_kvkey_free(rsa);
    cf_kvkey_free(ec);
    cf_buf_release(&der);
    cf_buf_release(&csr);
    cf_buf_release(&props);
}

static void pfx_and_pem_round_trips(void **state)
{
    struct cf_kvkey *k = NULL, *ca = NULL, *back = NULL, *other = NULL;
    struct cf_cert_req r;
    struct cf_buf ca_der, csr, leaf, chain, pfx, pem, out;
    const unsigned char *d;
    size_t off = 0, n, count = 0;
    char why[128];

    (void)state;
    req_init(&r);
    cf_buf_init(&ca_der, 16384);
    cf_buf_init(&csr, 16384);
    cf_buf_init(&leaf, 16384);
    cf_buf_init(&chain, 65536);
    cf_buf_init(&pfx, 65536);
    cf_buf_init(&pem, 65536);
    cf_buf_init(&out, 65536);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &ca), CF_OK);
    assert_int_equal(cf_kvkey_generate_rsa(2048, 0, &k), CF_OK);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &other), CF_OK);
    r.subject = "CN=ca";
    assert_int_equal(cf_cert_self_signed(ca, &r, &ca_der, NULL, 0), CF_OK);
    req_init(&r);
    assert_int_equal(cf_cert_csr(k, &r, &csr, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_sign_csr(ca, ca_der.data, ca_der.len, csr.data, csr.len, r.not_before,
                                      r.not_after, &leaf),
                     CF_OK);
    assert_int_equal(cf_cert_sign_csr(ca, ca_der.data, ca_der.len, "xx", 2, 1, 2, &leaf),
                     CF_EBADPARAM);
    /* chain in the "wrong" order: CA first */
    assert_int_equal(cf_buf_append(&chain, ca_der.data, ca_der.len), CF_OK);
    assert_int_equal(cf_buf_append(&chain, leaf.data, leaf.len), CF_OK);
    while (cf_cert_chain_next(chain.data, chain.len, &off, &d, &n))
        count++;
    assert_int_equal(count, 2);
    assert_int_equal(off, chain.len);

    /* PKCS#12 of leaf + CA (leaf first, as the contract wants) */
    cf_buf_reset(&chain);
    assert_int_equal(cf_buf_append(&chain, leaf.data, leaf.len), CF_OK);
    assert_int_equal(cf_buf_append(&chain, ca_der.data, ca_der.len), CF_OK);
    assert_int_equal(cf_cert_to_pkcs12(k, chain.data, chain.len, &pfx), CF_OK);
    assert_int_equal(cf_cert_from_pkcs12(pfx.data, pfx.len, NULL, false, &back, &out, why,
                                         sizeof(why)),
                     CF_OK);
    assert_int_equal(out.len, chain.len);
    assert_memory_equal(out.data, leaf.data, leaf.len);
    cf_kvkey_free(back);
    back = NULL;
    assert_int_equal(cf_cert_from_pkcs12(pfx.data, pfx.len, "wrong", false, &back, &out, why,
                                         sizeof(why)),
                     CF_EBADPARAM);
    assert_null(back);
    assert_int_equal(cf_cert_from_pkcs12("junk", 4, NULL, false, &back, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    /* PEM with the CA first, then the key and the leaf: the leaf goes first unless preserve */
    assert_int_equal(cf_cert_to_pem(NULL, ca_der.data, ca_der.len, &pem), CF_OK);
    assert_int_equal(cf_cert_to_pem(k, leaf.data, leaf.len, &pem), CF_OK);
    assert_non_null(strstr(pem.data, "-----BEGIN PRIVATE KEY-----"));
    cf_buf_reset(&out);
    assert_int_equal(cf_cert_from_pem(pem.data, pem.len, NULL, false, &back, &out, why,
                                      sizeof(why)),
                     CF_OK);
    assert_memory_equal(out.data, leaf.data, leaf.len);
    cf_kvkey_free(back);
    back = NULL;
    cf_buf_reset(&out);
    assert_int_equal(cf_cert_from_pem(pem.data, pem.len, NULL, true, &back, &out, why,
                                      sizeof(why)),
                     CF_OK);
    assert_memory_equal(out.data, ca_der.data, ca_der.len);
    cf_kvkey_free(back);
    back = NULL;
    /* without the key: refused; with a key that matches nothing: refused */
    cf_buf_reset(&pem);
    assert_int_equal(cf_cert_to_pem(NULL, chain.data, chain.len, &pem), CF_OK);
    assert_null(strstr(pem.data, "PRIVATE KEY"));
    assert_int_equal(cf_cert_from_pem(pem.data, pem.len, NULL, false, &back, &out, why,
                                      sizeof(why)),
                     CF_EBADPARAM);
    cf_buf_reset(&pfx);
    assert_int_equal(cf_cert_to_pkcs12(other, leaf.data, leaf.len, &pfx), CF_ECRYPTO);
    cf_kvkey_free(k);
    cf_kvkey_free(ca);
    cf_kvkey_free(other);
    cf_buf_release(&ca_der);
    cf_buf_release(&csr);
    cf_buf_release(&leaf);
    cf_buf_release(&chain);
    cf_buf_release(&pfx);
    cf_buf_release(&pem);
    cf_buf_release(&out);
}

/* ---- imports whose key derivation the file chooses (OpenSSL-made inputs) ---- */

/* An EC P-256 key and a self-signed certificate for it. */
static void ossl_cert(EVP_PKEY **pk, X509 **x)
{
    *pk = EVP_EC_gen("P-256");
    *x = X509_new();
    assert_non_null(*pk);
    assert_non_null(*x);
    assert_true(X509_set_version(*x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(*x), 7) &&
                X509_gmtime_adj(X509_getm_notBefore(*x), 0) &&
                X509_gmtime_adj(X509_getm_notAfter(*x), 86400) &&
                X509_NAME_add_entry_by_txt(X509_get_subject_name(*x), "CN", MBSTRING_ASC,
                                           (const unsigned char *)"iter", -1, -1, 0) &&
                X509_set_issuer_name(*x, X509_get_subject_name(*x)) && X509_set_pubkey(*x, *pk) &&
                X509_sign(*x, *pk, EVP_sha256()));
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* PKCS12_create with password "pw", the given PBE and MAC counts, as DER in out. */
static void make_pfx(EVP_PKEY *pk, X509 *x, int iter, int mac_iter, struct cf_buf *out)
{
    PKCS12 *p12 = PKCS12_create("pw", NULL, pk, x, NULL, 0, 0, iter, mac_iter, 0);
    unsigned char *p = NULL;
    int len;

    assert_non_null(p12);
    len = i2d_PKCS12(p12, &p);
    assert_true(len > 0);
    cf_buf_reset(out);
    assert_int_equal(cf_buf_append(out, p, (size_t)len), CF_OK);
    OPENSSL_free(p);
    PKCS12_free(p12);
}

/* Replaces the which-th (0-based) DER INTEGER 0x01 0x02 <last> in b by 0x7fffff (8388607)
 * - same length, so everything around still parses. */
static void patch_iter(struct cf_buf *b, unsigned char last, int which)
{
    const unsigned char pat[5] = {0x02, 0x03, 0x01, 0x02, last};
    unsigned char *d = (unsigned char *)b->data;

    for (size_t i = 0; i + 5 <= b->len; i++)
        if (memcmp(d + i, pat, 5) == 0 && which-- == 0) {
            d[i + 2] = 0x7f;
            d[i + 3] = 0xff;
            d[i + 4] = 0xff;
            return;
        }
    fail_msg("iteration count not found");
}

/* Re-MACs a patched PFX (the MAC covers the bags; an attacker makes a valid one). */
static void remac(struct cf_buf *b)
{
    const unsigned char *q = (const unsigned char *)b->data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &q, (long)b->len);
    unsigned char *p = NULL;
    int len;

    assert_non_null(p12);
    assert_int_equal(PKCS12_set_mac(p12, "pw", -1, NULL, 0, 2048, NULL), 1);
    len = i2d_PKCS12(p12, &p);
    assert_true(len > 0);
    cf_buf_reset(b);
    assert_int_equal(cf_buf_append(b, p, (size_t)len), CF_OK);
    OPENSSL_free(p);
    PKCS12_free(p12);
}

/* Imports b as PKCS#12 with "pw"; returns the error, CPU seconds in *cpu. */
static cf_err pfx_import(const struct cf_buf *b, double *cpu, char why[200])
{
    struct cf_kvkey *k = NULL;
    struct cf_buf chain;
    double t0 = cpu_now();
    cf_err e;

    cf_buf_init(&chain, 65536);
    why[0] = '\0';
    e = cf_cert_from_pkcs12(b->data, b->len, "pw", false, &k, &chain, why, 200);
    *cpu = cpu_now() - t0;
    if (e == CF_OK) {
        assert_non_null(k);
        assert_true(chain.len > 0);
    } else {
        assert_null(k);
    }
    cf_kvkey_free(k);
    cf_buf_release(&chain);
    return e;
}

/* The PFX's own iteration counts are read before anything is derived: their sum is capped at
 * 600000 (pkcs12.c). Before, 8388607 iterations in one bag cost seconds of CPU per request. */
static void pfx_iteration_budget(void **state)
{
    EVP_PKEY *pk;
    X509 *x;
    struct cf_buf b;
    char why[200];
    double cpu;

    (void)state;
    ossl_cert(&pk, &x);
    cf_buf_init(&b, 65536);
    /* OpenSSL's defaults */
    make_pfx(pk, x, PKCS12_DEFAULT_ITER, PKCS12_DEFAULT_ITER, &b);
    assert_int_equal(pfx_import(&b, &cpu, why), CF_OK);
    /* exactly at the budget: 200000 for the certificate safe, the key and the MAC */
    make_pfx(pk, x, 200000, 200000, &b);
    assert_int_equal(pfx_import(&b, &cpu, why), CF_OK);
    print_message("PFX at the iteration budget: %.0f ms CPU\n", cpu * 1e3);
    assert_true(cpu < 2.0);
    /* one more: refused */
    make_pfx(pk, x, 200000, 200001, &b);
    assert_int_equal(pfx_import(&b, &cpu, why), CF_EBADPARAM);
    assert_non_null(strstr(why, "iteration"));
    /* 8388607 iterations in the key bag (the second count), the certificate safe (the first),
     * or the MAC: refused before any of them is run */
    for (int which = 0; which < 3; which++) {
        if (which < 2) {
            make_pfx(pk, x, 0x010204, PKCS12_DEFAULT_ITER, &b);
            patch_iter(&b, 0x04, which);
            remac(&b);
        } else {
            make_pfx(pk, x, PKCS12_DEFAULT_ITER, 0x010203, &b);
            patch_iter(&b, 0x03, 0);
        }
        assert_int_equal(pfx_import(&b, &cpu, why), CF_EBADPARAM);
        assert_non_null(strstr(why, "iteration"));
        print_message("PFX with 8388607 iterations (%s): refused in %.0f ms CPU\n",
                      which == 0 ? "certificates" : which == 1 ? "key" : "MAC", cpu * 1e3);
        assert_true(cpu < 1.0);
    }
    cf_buf_release(&b);
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* PEM text of (key encrypted with "pw": PKCS#8 with iter, or traditional when iter is 0)
 * followed by the certificate, into out. */
static void make_enc_pem(EVP_PKEY *pk, X509 *x, int iter, struct cf_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p;
    long len;

    assert_non_null(bio);
    if (iter == 0) {
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, pk, EVP_aes_256_cbc(),
                                                              (const unsigned char *)"pw", 2,
                                                              NULL, NULL),
                         1);
    } else {
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pk);
        X509_SIG *sig = PKCS8_encrypt(-1, EVP_aes_256_cbc(), "pw", 2, NULL, 0, iter, p8);
        assert_non_null(sig);
        assert_int_equal(PEM_write_bio_PKCS8(bio, sig), 1);
        X509_SIG_free(sig);
        PKCS8_PRIV_KEY_INFO_free(p8);
    }
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &p);
    cf_buf_reset(out);
    assert_int_equal(cf_buf_append(out, p, (size_t)len), CF_OK);
    BIO_free(bio);
}

/* Imports PEM b with pwd; on success checks the key is the certificate's. */
static cf_err pem_import(const struct cf_buf *b, const char *pwd, char why[200])
{
    struct cf_kvkey *k = NULL;
    struct cf_buf chain;
    bool match = false;
    cf_err e;

    cf_buf_init(&chain, 65536);
    why[0] = '\0';
    e = cf_cert_from_pem(b->data, b->len, pwd, false, &k, &chain, why, 200);
    if (e == CF_OK) {
        assert_int_equal(cf_cert_key_matches(chain.data, chain.len, k, &match), CF_OK);
        assert_true(match);
    } else {
        assert_null(k);
    }
    cf_kvkey_free(k);
    cf_buf_release(&chain);
    return e;
}

/* Encrypted PEM keys (PKCS#8 "ENCRYPTED PRIVATE KEY" and traditional Proc-Type ENCRYPTED)
 * import with their password; a wrong or missing one is refused with a reason. Before, the
 * key was never found, whatever the password. */
static void pem_encrypted_keys(void **state)
{
    EVP_PKEY *pk;
    X509 *x;
    struct cf_buf b;
    char why[200];
    double t0;

    (void)state;
    ossl_cert(&pk, &x);
    cf_buf_init(&b, 65536);
    for (int trad = 0; trad < 2; trad++) {
        make_enc_pem(pk, x, trad ? 0 : PKCS12_DEFAULT_ITER, &b);
        assert_non_null(strstr(b.data, trad ? "Proc-Type: 4,ENCRYPTED" : "ENCRYPTED PRIVATE"));
        assert_int_equal(pem_import(&b, "pw", why), CF_OK);
        assert_int_equal(pem_import(&b, "wrong", why), CF_EBADPARAM);
        assert_non_null(strstr(why, "wrong password"));
        assert_null(strstr(why, "pw"));
        assert_int_equal(pem_import(&b, NULL, why), CF_EBADPARAM);
        assert_non_null(strstr(why, "no password"));
        assert_int_equal(pem_import(&b, "", why), CF_EBADPARAM);
        assert_non_null(strstr(why, "no password"));
    }
    /* PEM given where PKCS#12 is expected (the Python SDK base64s PEM text too): read as PEM */
    {
        struct cf_kvkey *k = NULL;
        struct cf_buf chain;
        cf_buf_init(&chain, 65536);
        assert_int_equal(cf_cert_from_pkcs12(b.data, b.len, "pw", false, &k, &chain, why, 200),
                         CF_OK);
        assert_non_null(k);
        cf_kvkey_free(k);
        k = NULL;
        assert_int_equal(cf_cert_from_pkcs12(b.data, b.len, "wrong", false, &k, &chain, why, 200),
                         CF_EBADPARAM);
        assert_non_null(strstr(why, "wrong password"));
        cf_buf_release(&chain);
    }
    /* a PKCS#8 key whose PBKDF2 count was raised to 8388607: refused before deriving */
    make_enc_pem(pk, x, 0x010204, &b);
    {
        /* the count sits in the base64 body: decode, patch, re-encode */
        BIO *in = BIO_new_mem_buf(b.data, (int)b.len), *out = BIO_new(BIO_s_mem());
        char *name = NULL, *hdr = NULL, *p;
        unsigned char *der = NULL;
        long len = 0;
        struct cf_buf d;
        assert_int_equal(PEM_read_bio(in, &name, &hdr, &der, &len), 1);
        cf_buf_init(&d, 65536);
        assert_int_equal(cf_buf_append(&d, der, (size_t)len), CF_OK);
        patch_iter(&d, 0x04, 0);
        assert_true(PEM_write_bio(out, name, hdr, (unsigned char *)d.data, (long)d.len) > 0);
        assert_int_equal(PEM_write_bio_X509(out, x), 1);
        len = BIO_get_mem_data(out, &p);
        cf_buf_reset(&b);
        assert_int_equal(cf_buf_append(&b, p, (size_t)len), CF_OK);
        cf_buf_release(&d);
        OPENSSL_free(name);
        OPENSSL_free(hdr);
        OPENSSL_free(der);
        BIO_free(in);
        BIO_free(out);
    }
    t0 = cpu_now();
    assert_int_equal(pem_import(&b, "pw", why), CF_EBADPARAM);
    assert_non_null(strstr(why, "iteration"));
    assert_true(cpu_now() - t0 < 1.0);
    cf_buf_release(&b);
    X509_free(x);
    EVP_PKEY_free(pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(self_signed_fields),
        cmocka_unit_test(pfx_and_pem_round_trips),
        cmocka_unit_test(pfx_iteration_budget),
        cmocka_unit_test(pem_encrypted_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

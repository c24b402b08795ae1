/* test_pkcs12.c - pkcs12.c: self-signed certificates and CSRs for RSA and EC keys (fields,
 * extensions read back through cf_cert_write_props), key matching, PKCS#12 and PEM round trips
 * (password, wrong password, no key, key that does not match, leaf ordering), chain walking,
 * signing a CSR, and garbage input. */
#include "base/cf.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(self_signed_fields),
        cmocka_unit_test(pfx_and_pem_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

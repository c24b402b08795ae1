/* test_certs_order.c - preserveCertOrder imports whose chain lists the CA before the leaf
 * (fuzz finding, seed fuzz/corpus/fuzz_pem/ec_chain_ca_first_preserve): the import is
 * accepted, x5t / cer / validity and the derived policy are the leaf's (the certificate whose
 * key is the private key), the stored chain keeps the given order, and both secret forms
 * export it in that order (PEM) or with the leaf marked by its key id (PFX, bags in order).
 * Without preserve the same input is stored leaf first. */
#include "base/cf.h"

#include "base/codec.h"
#include "base/json.h"
#include "fixture.h"

#include <openssl/pkcs12.h>
#include <openssl/x509.h>

struct pair {
    struct cf_kvkey *leaf_key;
    struct cf_buf ca_der, leaf_der;
};

/* A CA (EC P-256, CN=Order CA, 10 years) and a leaf it signed (EC P-256, CN=order leaf,
 * dns leaf.example, about 3 months). */
static void make_pair(struct pair *p)
{
    struct cf_kvkey *ca_key = NULL;
    struct cf_cert_san san = {CF_SAN_DNS, "leaf.example"};
    struct cf_cert_req ca_req = {.subject = "CN=Order CA",
                                 .key_usage = 1u << 5,
                                 .not_before = T0 - 100,
                                 .not_after = T0 + 3650 * 86400LL};
    struct cf_cert_req leaf_req = {.subject = "CN=order leaf", .sans = &san, .nsans = 1};
    struct cf_buf csr;

    cf_buf_init(&p->ca_der, 16 * 1024);
    cf_buf_init(&p->leaf_der, 16 * 1024);
    cf_buf_init(&csr, 16 * 1024);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &ca_key), CF_OK);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &p->leaf_key), CF_OK);
    assert_int_equal(cf_cert_self_signed(ca_key, &ca_req, &p->ca_der, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_csr(p->leaf_key, &leaf_req, &csr, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_sign_csr(ca_key, p->ca_der.data, p->ca_der.len, csr.data, csr.len,
                                      T0 - 50, T0 + 90 * 86400LL, &p->leaf_der),
                     CF_OK);
    cf_kvkey_free(ca_key);
    cf_buf_release(&csr);
}

static void pair_release(struct pair *p)
{
    cf_kvkey_free(p->leaf_key);
    cf_buf_release(&p->ca_der);
    cf_buf_release(&p->leaf_der);
}

/* chain = a || b */
static void cat2(struct cf_buf *chain, const struct cf_buf *a, const struct cf_buf *b)
{
    cf_buf_init(chain, 64 * 1024);
    assert_int_equal(cf_buf_append(chain, a->data, a->len), CF_OK);
    assert_int_equal(cf_buf_append(chain, b->data, b->len), CF_OK);
}

static void x5t_of(const struct cf_buf *der, char out[32])
{
    struct cf_cert_info info;
    struct cf_buf t;
    cf_buf_init(&t, 31);
    assert_int_equal(cf_cert_info(der->data, der->len, &info), CF_OK);
    assert_int_equal(cf_b64url_encode(&t, info.sha1, sizeof(info.sha1)), CF_OK);
    memcpy(out, t.data, t.len);
    out[t.len] = '\0';
    cf_buf_release(&t);
}

static cf_err import(struct fx *f, const char *name, const struct cf_buf *value, bool preserve,
                     const char *policy, struct cf_cert_meta *m)
{
    struct cf_cert_input in = {.preserve_order = preserve};
    struct cf_json *pj = NULL;
    char why[256] = "";
    cf_err e;

    if (policy)
        assert_int_equal(cf_json_parse(policy, strlen(policy), &pj, NULL, 0), CF_OK);
    e = cf_cert_import(f->svc, &f->ref, cf_str_from(name),
                       (struct cf_str){(const char *)value->data, value->len}, NULL, pj, &in, m,
                       why, sizeof(why));
    cf_json_free(pj);
    return e;
}

#define PEM_POLICY "{\"secret_props\":{\"contentType\":\"application/x-pem-file\"}}"
#define PFX_POLICY "{\"secret_props\":{\"contentType\":\"application/x-pkcs12\"}}"

/* The leaf's facts on m (x5t, cer, validity, derived subject/SAN). */
static void assert_leaf_facts(const struct pair *p, const struct cf_cert_meta *m)
{
    char x5t[32];
    x5t_of(&p->leaf_der, x5t);
    assert_string_equal(m->x5t, x5t);
    assert_int_equal(m->cer.len, p->leaf_der.len);
    assert_memory_equal(m->cer.data, p->leaf_der.data, p->leaf_der.len);
    assert_int_equal(m->nbf, T0 - 50);
    assert_int_equal(m->exp, T0 + 90 * 86400LL);
    assert_non_null(m->policy);
    assert_string_equal(m->policy->subject, "CN=order leaf");
    assert_int_equal(m->policy->nsans, 1);
    assert_string_equal(m->policy->sans[0].value, "leaf.example");
    assert_int_equal(m->policy->validity_months, 3);
}

static void pem_ca_first_preserved(void **state)
{
    struct fx *f = *state;
    struct pair p;
    struct cf_buf chain, pem, chain2;
    struct cf_cert_meta m;
    struct cf_secret_meta sm;
    struct cf_secret *val = NULL;
    struct cf_kvkey *k2 = NULL;
    struct cf_key_meta km;

    make_pair(&p);
    cat2(&chain, &p.ca_der, &p.leaf_der); /* CA first */
    cf_buf_init(&pem, 64 * 1024);
    assert_int_equal(cf_cert_to_pem(p.leaf_key, chain.data, chain.len, &pem), CF_OK);

    assert_int_equal(import(f, "caf", &pem, true, PEM_POLICY, &m), CF_OK);
    assert_leaf_facts(&p, &m);
    assert_true(m.preserve_order);
    cf_cert_meta_release(&m);
    /* GET by name agrees; the key's nbf/exp are the leaf's too */
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("caf"), CF_STR(""), &m), CF_OK);
    assert_leaf_facts(&p, &m);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("caf"), CF_STR(""), &km), CF_OK);
    assert_int_equal(km.attrs.exp, T0 + 90 * 86400LL);
    cf_key_meta_release(&km);

    /* the PEM secret lists the chain as imported: CA, then leaf */
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("caf"), CF_STR(""), &sm, &val), CF_OK);
    assert_string_equal(sm.content_type, "application/x-pem-file");
    cf_buf_init(&chain2, 64 * 1024);
    assert_int_equal(cf_cert_from_pem((const char *)val->p, val->len, NULL, true, &k2, &chain2,
                                      NULL, 0),
                     CF_OK);
    assert_int_equal(chain2.len, chain.len);
    assert_memory_equal(chain2.data, chain.data, chain.len);
    cf_kvkey_free(k2);
    cf_secret_free(val);
    cf_secret_meta_release(&sm);

    /* without preserve the same PEM is stored leaf first, with the same leaf facts */
    assert_int_equal(import(f, "lf", &pem, false, PEM_POLICY, &m), CF_OK);
    assert_leaf_facts(&p, &m);
    assert_false(m.preserve_order);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("lf"), CF_STR(""), &sm, &val), CF_OK);
    cf_buf_reset(&chain2);
    assert_int_equal(cf_cert_from_pem((const char *)val->p, val->len, NULL, true, &k2, &chain2,
                                      NULL, 0),
                     CF_OK);
    assert_int_equal(chain2.len, chain.len);
    assert_memory_equal(chain2.data, p.leaf_der.data, p.leaf_der.len);
    cf_kvkey_free(k2);
    cf_secret_free(val);
    cf_secret_meta_release(&sm);

    cf_buf_release(&chain2);
    cf_buf_wipe(&pem);
    cf_buf_release(&pem);
    cf_buf_release(&chain);
    pair_release(&p);
}

/* The PFX secret of a CA-first preserved chain: certificate bags in the chain's order, the
 * leaf's bag (second) carrying the key's localKeyID, and PKCS12_parse pairs key and leaf. */
static void pfx_export_keeps_order(void **state)
{
    struct fx *f = *state;
    struct pair p;
    struct cf_buf chain, pem, pfx, chain2;
    struct cf_cert_meta m;
    struct cf_secret_meta sm;
    struct cf_secret *val = NULL;
    struct cf_kvkey *k2 = NULL;
    char x5t[32];

    make_pair(&p);
    cat2(&chain, &p.ca_der, &p.leaf_der);
    cf_buf_init(&pem, 64 * 1024);
    assert_int_equal(cf_cert_to_pem(p.leaf_key, chain.data, chain.len, &pem), CF_OK);
    assert_int_equal(import(f, "cafx", &pem, true, PFX_POLICY, &m), CF_OK);
    assert_leaf_facts(&p, &m);
    cf_cert_meta_release(&m);

    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("cafx"), CF_STR(""), &sm, &val),
                     CF_OK);
    assert_string_equal(sm.content_type, "application/x-pkcs12");
    cf_buf_init(&pfx, 64 * 1024);
    assert_int_equal(cf_b64_decode(&pfx, (struct cf_str){(const char *)val->p, val->len}), CF_OK);
    /* our own import: key and leaf pair up, leaf first */
    cf_buf_init(&chain2, 64 * 1024);
    assert_int_equal(cf_cert_from_pkcs12(pfx.data, pfx.len, NULL, false, &k2, &chain2, NULL, 0),
                     CF_OK);
    assert_memory_equal(chain2.data, p.leaf_der.data, p.leaf_der.len);
    cf_kvkey_free(k2);
    /* the bags as OpenSSL reads them */
    {
        const unsigned char *q = (const unsigned char *)pfx.data;
        PKCS12 *p12 = d2i_PKCS12(NULL, &q, (long)pfx.len);
        STACK_OF(PKCS7) *safes;
        STACK_OF(X509) *order = sk_X509_new_null();
        int with_id = -1;
        EVP_PKEY *pk = NULL;
        X509 *cert = NULL;
        STACK_OF(X509) *ca = NULL;

        assert_non_null(p12);
        assert_int_equal(PKCS12_verify_mac(p12, "", 0) || PKCS12_verify_mac(p12, NULL, 0), 1);
        safes = PKCS12_unpack_authsafes(p12);
        assert_non_null(safes);
        for (int i = 0; i < sk_PKCS7_num(safes); i++) {
            PKCS7 *p7 = sk_PKCS7_value(safes, i);
            STACK_OF(PKCS12_SAFEBAG) *bags =
                PKCS7_type_is_data(p7) ? PKCS12_unpack_p7data(p7)
                                       : PKCS12_unpack_p7encdata(p7, "", 0);
            assert_non_null(bags);
            for (int b = 0; b < sk_PKCS12_SAFEBAG_num(bags); b++) {
                const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, b);
                if (PKCS12_SAFEBAG_get_nid(bag) != NID_certBag)
                    continue;
                if (PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID))
                    with_id = sk_X509_num(order);
                sk_X509_push(order, PKCS12_SAFEBAG_get1_cert(bag));
            }
            sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        }
        sk_PKCS7_pop_free(safes, PKCS7_free);
        assert_int_equal(sk_X509_num(order), 2);
        assert_int_equal(with_id, 1); /* the leaf, second as imported */
        {
            unsigned char *d = NULL;
            int dl = i2d_X509(sk_X509_value(order, 0), &d);
            assert_int_equal((size_t)dl, p.ca_der.len);
            assert_memory_equal(d, p.ca_der.data, p.ca_der.len);
            OPENSSL_free(d);
        }
        assert_int_equal(PKCS12_parse(p12, "", &pk, &cert, &ca), 1);
        assert_non_null(pk);
        assert_non_null(cert);
        assert_int_equal(X509_check_private_key(cert, pk), 1);
        EVP_PKEY_free(pk);
        X509_free(cert);
        sk_X509_pop_free(ca, X509_free);
        sk_X509_pop_free(order, X509_free);
        PKCS12_free(p12);
    }
    /* a non-exportable policy: the PFX holds the certificates only, still in order */
    cf_secret_free(val);
    cf_secret_meta_release(&sm);
    assert_int_equal(import(f, "cafx2", &pem, true, "{\"key_props\":{\"exportable\":false}}", &m),
                     CF_OK);
    x5t_of(&p.leaf_der, x5t);
    assert_string_equal(m.x5t, x5t);
    cf_cert_meta_release(&m);

    cf_buf_release(&chain2);
    cf_buf_wipe(&pfx);
    cf_buf_release(&pfx);
    cf_buf_wipe(&pem);
    cf_buf_release(&pem);
    cf_buf_release(&chain);
    pair_release(&p);
}

/* cf_cert_to_pkcs12 refuses a key that matches no certificate of the chain. */
static void pfx_export_key_mismatch(void **state)
{
    struct pair p;
    struct cf_kvkey *other = NULL;
    struct cf_buf pfx;
    (void)state;

    make_pair(&p);
    cf_buf_init(&pfx, 64 * 1024);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &other), CF_OK);
    assert_int_not_equal(cf_cert_to_pkcs12(other, p.ca_der.data, p.ca_der.len, &pfx), CF_OK);
    assert_int_equal(cf_cert_to_pkcs12(NULL, p.ca_der.data, p.ca_der.len, &pfx), CF_OK);
    cf_kvkey_free(other);
    cf_buf_release(&pfx);
    pair_release(&p);
}

/* A PFX whose bags list the CA before the leaf (issue 13): with preserve the stored chain is
 * in the file's order (PKCS12_parse alone gives the leaf first), read back through the PEM
 * secret and through the PFX secret's bags; without preserve, leaf first. */
static void pfx_ca_first_preserved(void **state)
{
    struct fx *f = *state;
    struct pair p;
    struct cf_buf chain, pfx, b64, chain2, raw;
    struct cf_cert_meta m;
    struct cf_secret_meta sm;
    struct cf_secret *val = NULL;
    struct cf_kvkey *k2 = NULL;

    make_pair(&p);
    cat2(&chain, &p.ca_der, &p.leaf_der); /* CA first */
    cf_buf_init(&pfx, 64 * 1024);
    cf_buf_init(&b64, 128 * 1024);
    cf_buf_init(&chain2, 64 * 1024);
    cf_buf_init(&raw, 64 * 1024);
    assert_int_equal(cf_cert_to_pkcs12(p.leaf_key, chain.data, chain.len, &pfx), CF_OK);
    assert_int_equal(cf_b64_encode(&b64, pfx.data, pfx.len), CF_OK);

    assert_int_equal(import(f, "pcaf", &b64, true, PEM_POLICY, &m), CF_OK);
    assert_leaf_facts(&p, &m);
    assert_true(m.preserve_order);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("pcaf"), CF_STR(""), &sm, &val),
                     CF_OK);
    assert_int_equal(cf_cert_from_pem((const char *)val->p, val->len, NULL, true, &k2, &chain2,
                                      NULL, 0),
                     CF_OK);
    assert_int_equal(chain2.len, chain.len);
    assert_memory_equal(chain2.data, chain.data, chain.len);
    cf_kvkey_free(k2);
    cf_secret_free(val);
    cf_secret_meta_release(&sm);

    /* PFX secret: its bags in the same order */
    assert_int_equal(import(f, "pcaf2", &b64, true, PFX_POLICY, &m), CF_OK);
    assert_leaf_facts(&p, &m);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("pcaf2"), CF_STR(""), &sm, &val),
                     CF_OK);
    assert_int_equal(cf_b64_decode(&raw, (struct cf_str){(const char *)val->p, val->len}), CF_OK);
    cf_buf_reset(&chain2);
    assert_int_equal(cf_cert_from_pkcs12(raw.data, raw.len, NULL, true, &k2, &chain2, NULL, 0),
                     CF_OK);
    assert_int_equal(chain2.len, chain.len);
    assert_memory_equal(chain2.data, chain.data, chain.len);
    cf_kvkey_free(k2);
    cf_secret_free(val);
    cf_secret_meta_release(&sm);

    /* without preserve: leaf first */
    assert_int_equal(import(f, "plf", &b64, false, PEM_POLICY, &m), CF_OK);
    assert_leaf_facts(&p, &m);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("plf"), CF_STR(""), &sm, &val), CF_OK);
    cf_buf_reset(&chain2);
    assert_int_equal(cf_cert_from_pem((const char *)val->p, val->len, NULL, true, &k2, &chain2,
                                      NULL, 0),
                     CF_OK);
    assert_memory_equal(chain2.data, p.leaf_der.data, p.leaf_der.len);
    cf_kvkey_free(k2);
    cf_secret_free(val);
    cf_secret_meta_release(&sm);

    cf_buf_release(&raw);
    cf_buf_release(&chain2);
    cf_buf_release(&b64);
    cf_buf_wipe(&pfx);
    cf_buf_release(&pfx);
    cf_buf_release(&chain);
    pair_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pem_ca_first_preserved, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(pfx_export_keeps_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(pfx_ca_first_preserved, fx_setup, fx_teardown),
        cmocka_unit_test(pfx_export_key_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_ca.c - the server's private CA (ca.c) and the CofferCA issuer (certs.c): created once
 * (409 after), read back; certificates whose policy names CofferCA (directly, or through an
 * issuer object with that provider) are issued at once with the chain leaf + root in the
 * secret, and verify against the root with OpenSSL; a leaf never outlives the root; AutoRenew
 * renews them under the same root; without a CA the create is refused; the CA key does not
 * open under another master key; bad specs refused. */
#include "base/cf.h"

#include "base/codec.h"
#include "base/json.h"
#include "fixture.h"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

static struct cf_json *J(const char *text)
{
    struct cf_json *j = NULL;
    assert_int_equal(cf_json_parse(text, strlen(text), &j, NULL, 0), CF_OK);
    return j;
}

static cf_err create(struct fx *f, const char *name, const char *policy, struct cf_cert_op *op,
                     char *why, size_t whysz)
{
    struct cf_json *p = J(policy);
    cf_err e = cf_cert_create(f->svc, &f->ref, cf_str_from(name), p, NULL, op, why, whysz);
    cf_json_free(p);
    return e;
}

#define CA_POLICY(issuer, months)                                                                  \
    "{\"issuer\":{\"name\":\"" issuer "\"},\"key_props\":{\"kty\":\"EC\"},"                        \
    "\"x509_props\":{\"subject\":\"CN=svc.internal\",\"sans\":{\"dns_names\":"                     \
    "[\"svc.internal\"]},\"validity_months\":" #months "},\"lifetime_actions\":[{\"trigger\":"     \
    "{\"lifetime_percentage\":50},\"action\":{\"action_type\":\"AutoRenew\"}}]}"

/* The chain in the certificate's secret (a PFX), verified against root with OpenSSL. */
static void verify_secret_chain(struct fx *f, const char *name, const struct cf_buf *root,
                                size_t want_certs)
{
    struct cf_secret_meta sm;
    struct cf_secret *val = NULL;
    struct cf_buf pfx, chain;
    struct cf_kvkey *k = NULL;
    const unsigned char *der, *p;
    size_t off = 0, len, n = 0;
    X509 *leaf = NULL, *ca = NULL;
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();

    assert_int_equal(cf_secret_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &sm, &val),
                     CF_OK);
    cf_buf_init(&pfx, 64 * 1024);
    cf_buf_init(&chain, 64 * 1024);
    assert_int_equal(cf_b64_decode(&pfx, (struct cf_str){(const char *)val->p, val->len}), CF_OK);
    assert_int_equal(cf_cert_from_pkcs12(pfx.data, pfx.len, NULL, false, &k, &chain, NULL, 0),
                     CF_OK);
    while (cf_cert_chain_next(chain.data, chain.len, &off, &der, &len)) {
        if (n == 0) {
            p = der;
            leaf = d2i_X509(NULL, &p, (long)len);
        } else {
            assert_int_equal(len, root->len);
            assert_memory_equal(der, root->data, len); /* the root rides along */
        }
        n++;
    }
    assert_int_equal(n, want_certs);
    p = (const unsigned char *)root->data;
    ca = d2i_X509(NULL, &p, (long)root->len);
    assert_non_null(leaf);
    assert_non_null(ca);
    assert_int_equal(X509_STORE_add_cert(st, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
    X509_STORE_CTX_set_time(ctx, 0, (time_t)(f->clock.now_ms / 1000));
    if (X509_verify_cert(ctx) != 1)
        fail_msg("chain does not verify: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    X509_free(leaf);
    X509_free(ca);
    cf_kvkey_free(k);
    cf_buf_release(&pfx);
    cf_buf_release(&chain);
    cf_secret_free(val);
    cf_secret_meta_release(&sm);
}

static void create_and_issue(void **state)
{
    struct fx *f = *state;
    struct cf_ca_info ca, ca2;
    struct cf_ca_spec spec = {.subject = "CN=Test Root, O=Coffer", .kty = "EC",
                              .validity_months = 24};
    struct cf_cert_op op;
    struct cf_cert_meta m;
    struct cf_cert_issuer is;
    char why[256] = "";

    assert_int_equal(cf_ca_get(f->svc, &ca), CF_ENOTFOUND);
    cf_ca_info_release(&ca);
    /* no CA yet: refused with a reason */
    assert_int_equal(create(f, "early", CA_POLICY("CofferCA", 12), &op, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "coffer ca create"));
    cf_cert_op_release(&op);

    assert_int_equal(cf_ca_create(f->svc, &spec, &ca, why, sizeof(why)), CF_OK);
    assert_string_equal(ca.subject, "CN=Test Root, O=Coffer");
    assert_string_equal(ca.kty, "EC");
    assert_string_equal(ca.crv, "P-256");
    assert_int_equal(ca.created, T0);
    assert_int_equal(ca.nbf, T0 - 600);
    assert_int_equal(ca.exp, T0 + 24 * 2628000LL);
    assert_int_equal(strlen(ca.x5t), 27);
    assert_true(ca.cer.len > 200);
    assert_int_equal(cf_ca_create(f->svc, &spec, &ca2, why, sizeof(why)), CF_EEXISTS);
    cf_ca_info_release(&ca2);
    assert_int_equal(cf_ca_get(f->svc, &ca2), CF_OK);
    assert_string_equal(ca2.x5t, ca.x5t);
    assert_int_equal(ca2.cer.len, ca.cer.len);
    cf_ca_info_release(&ca2);

    /* by the built-in name */
    assert_int_equal(create(f, "svc1", CA_POLICY("CofferCA", 12), &op, why, sizeof(why)), CF_OK);
    assert_string_equal(op.status, "completed");
    assert_string_equal(op.issuer, "CofferCA");
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("svc1"), CF_STR(""), &m), CF_OK);
    assert_int_equal(m.exp, T0 - 600 + 12 * 2628000LL + 600);
    assert_string_equal(m.policy->issuer, "CofferCA");
    cf_cert_meta_release(&m);
    verify_secret_chain(f, "svc1", &ca.cer, 2);

    /* through an issuer object whose provider is CofferCA (any case) */
    {
        struct cf_json *b = J("{\"provider\":\"cofferca\"}");
        assert_int_equal(cf_cert_issuer_set(f->svc, &f->ref, CF_STR("internal"), b, false, &is,
                                            why, sizeof(why)),
                         CF_OK);
        cf_cert_issuer_release(&is);
        cf_json_free(b);
    }
    assert_int_equal(create(f, "svc2", CA_POLICY("internal", 6), &op, why, sizeof(why)), CF_OK);
    assert_string_equal(op.status, "completed");
    cf_cert_op_release(&op);
    verify_secret_chain(f, "svc2", &ca.cer, 2);
    /* a self-signed one is not under the root */
    assert_int_equal(create(f, "self1",
                            "{\"issuer\":{\"name\":\"Self\"},\"x509_props\":{\"subject\":"
                            "\"CN=s\"}}",
                            &op, why, sizeof(why)),
                     CF_OK);
    cf_cert_op_release(&op);
    {
        struct cf_secret_meta sm;
        struct cf_secret *val = NULL;
        struct cf_buf pfx, chain;
        struct cf_kvkey *k = NULL;
        assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("self1"), CF_STR(""), &sm, &val),
                         CF_OK);
        cf_buf_init(&pfx, 64 * 1024);
        cf_buf_init(&chain, 64 * 1024);
        assert_int_equal(cf_b64_decode(&pfx, (struct cf_str){(const char *)val->p, val->len}),
                         CF_OK);
        assert_int_equal(cf_cert_from_pkcs12(pfx.data, pfx.len, NULL, false, &k, &chain, NULL, 0),
                         CF_OK);
        assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("self1"), CF_STR(""), &m), CF_OK);
        assert_int_equal(chain.len, m.cer.len); /* the leaf alone */
        cf_cert_meta_release(&m);
        cf_kvkey_free(k);
        cf_buf_release(&pfx);
        cf_buf_release(&chain);
        cf_secret_free(val);
        cf_secret_meta_release(&sm);
    }
    cf_ca_info_release(&ca);
}

static void clamp_and_renew(void **state)
{
    struct fx *f = *state;
    struct cf_ca_info ca;
    struct cf_ca_spec spec = {.validity_months = 2, .kty = "RSA", .key_size = 2048};
    struct cf_cert_op op;
    struct cf_cert_meta m;
    char why[256] = "", v1[33];
    int renewed = -1;

    assert_int_equal(cf_ca_create(f->svc, &spec, &ca, why, sizeof(why)), CF_OK);
    assert_string_equal(ca.subject, "CN=Coffer Internal CA");
    assert_string_equal(ca.kty, "RSA");
    assert_int_equal(ca.key_size, 2048);
    /* 12 months asked, the root lives 2: the leaf ends with the root */
    assert_int_equal(create(f, "long", CA_POLICY("CofferCA", 12), &op, why, sizeof(why)), CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("long"), CF_STR(""), &m), CF_OK);
    assert_int_equal(m.exp, ca.exp);
    cf_cert_meta_release(&m);
    verify_secret_chain(f, "long", &ca.cer, 2);

    /* AutoRenew at 50 % of a 1-month certificate renews under the same root */
    assert_int_equal(create(f, "short", CA_POLICY("CofferCA", 1), &op, why, sizeof(why)), CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("short"), CF_STR(""), &m), CF_OK);
    memcpy(v1, m.version, sizeof(v1));
    cf_cert_meta_release(&m);
    fx_advance(f, 16 * 86400);
    assert_int_equal(cf_vault_certs_renew_due(f->svc, &renewed), CF_OK);
    assert_int_equal(renewed, 1);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("short"), CF_STR(""), &m), CF_OK);
    assert_string_not_equal(m.version, v1);
    assert_int_equal(m.nbf, T0 + 16 * 86400 - 600);
    cf_cert_meta_release(&m);
    verify_secret_chain(f, "short", &ca.cer, 2);
    cf_ca_info_release(&ca);
}

static void sealing_and_bad_specs(void **state)
{
    struct fx *f = *state;
    struct cf_ca_info ca;
    struct cf_ca_spec bad1 = {.kty = "oct"}, bad2 = {.kty = "EC", .crv = "P-999"},
                      bad3 = {.validity_months = 5000}, bad4 = {.kty = "RSA", .key_size = 1000};
    struct cf_cert_op op;
    char why[256] = "";
    unsigned char mk2[32];
    struct cf_vault_svc *svc2;
    cf_err e;

    assert_int_equal(cf_ca_create(f->svc, &bad1, &ca, why, sizeof(why)), CF_EBADPARAM);
    cf_ca_info_release(&ca);
    assert_int_equal(cf_ca_create(f->svc, &bad2, &ca, why, sizeof(why)), CF_EBADPARAM);
    cf_ca_info_release(&ca);
    assert_int_equal(cf_ca_create(f->svc, &bad3, &ca, why, sizeof(why)), CF_EBADPARAM);
    cf_ca_info_release(&ca);
    assert_int_not_equal(cf_ca_create(f->svc, &bad4, &ca, why, sizeof(why)), CF_OK);
    cf_ca_info_release(&ca);
    assert_int_equal(cf_ca_get(f->svc, &ca), CF_ENOTFOUND);
    cf_ca_info_release(&ca);
    assert_int_equal(cf_ca_create(f->svc, NULL, &ca, why, sizeof(why)), CF_OK);
    cf_ca_info_release(&ca);

    /* the store holds the key sealed: another master key cannot issue with it */
    assert_int_equal(cf_random(mk2, sizeof(mk2)), CF_OK);
    svc2 = cf_vault_svc_new(f->store, &f->clock.c, mk2, &e);
    assert_non_null(svc2);
    assert_int_equal(cf_ca_get(svc2, &ca), CF_OK); /* the root is public */
    cf_ca_info_release(&ca);
    {
        struct cf_json *p = J(CA_POLICY("CofferCA", 3));
        assert_int_equal(cf_cert_create(svc2, &f->ref, CF_STR("nokey"), p, NULL, &op, why,
                                        sizeof(why)),
                         CF_ECORRUPT);
        cf_cert_op_release(&op);
        cf_json_free(p);
    }
    cf_vault_svc_free(svc2);
    /* and the right one can, from a fresh service (nothing cached) */
    svc2 = cf_vault_svc_new(f->store, &f->clock.c, f->mk, &e);
    assert_non_null(svc2);
    cf_vault_svc_free(f->svc);
    f->svc = svc2;
    assert_int_equal(create(f, "after", CA_POLICY("CofferCA", 3), &op, why, sizeof(why)), CF_OK);
    cf_cert_op_release(&op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_and_issue, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(clamp_and_renew, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sealing_and_bad_specs, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_certs_import_policy.c - an import's policy key_props against the imported key
 * (azure-kv-certificates §3.1 "kty/size/curve mismatch" → 400 BadParameter, §3.3 "key_props
 * reflect the imported key"): a kty of the other family, an RSA key_size or an EC crv/size
 * that is not the key's is refused with CF_EBADPARAM and the exact message, before anything is
 * stored (no certificate, managed key or secret appears; an existing certificate keeps its
 * latest version); policies that omit those members (or send null) or agree with the key are
 * accepted and the stored policy states the key's values. */
#include "base/cf.h"

#include "base/codec.h"
#include "base/json.h"
#include "fixture.h"

static struct cf_json *J(const char *text)
{
    struct cf_json *j = NULL;
    assert_int_equal(cf_json_parse(text, strlen(text), &j, NULL, 0), CF_OK);
    return j;
}

/* Base64 PFX (no password) of a fresh self-signed certificate over an RSA key of rsa_bits
 * bits, or over an EC key on crv when rsa_bits is 0. */
static void make_pfx(int rsa_bits, enum cf_crv crv, struct cf_buf *b64)
{
    struct cf_kvkey *k = NULL;
    struct cf_buf pfx, der;
    struct cf_cert_req req = {.subject = "CN=policy-check",
                              .key_usage = 1u,
                              .not_before = T0 - 100,
                              .not_after = T0 + 90 * 86400};

    cf_buf_init(&pfx, 64 * 1024);
    cf_buf_init(&der, 16 * 1024);
    if (rsa_bits)
        assert_int_equal(cf_kvkey_generate_rsa(rsa_bits, 0, &k), CF_OK);
    else
        assert_int_equal(cf_kvkey_generate_ec(crv, &k), CF_OK);
    assert_int_equal(cf_cert_self_signed(k, &req, &der, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_to_pkcs12(k, der.data, der.len, &pfx), CF_OK);
    assert_int_equal(cf_b64_encode(b64, pfx.data, pfx.len), CF_OK);
    cf_kvkey_free(k);
    cf_buf_release(&pfx);
    cf_buf_release(&der);
}

static cf_err import(struct fx *f, const char *name, const struct cf_buf *b64,
                     const char *policy, struct cf_cert_meta *m, char why[256])
{
    struct cf_json *p = policy ? J(policy) : NULL;
    cf_err e;

    why[0] = '\0';
    e = cf_cert_import(f->svc, &f->ref, cf_str_from(name),
                       (struct cf_str){(const char *)b64->data, b64->len}, NULL, p, NULL, m, why,
                       256);
    cf_json_free(p);
    return e;
}

/* The refusal left nothing under name: no certificate, no managed key, no managed secret. */
static void nothing_stored(struct fx *f, const char *name)
{
    struct cf_cert_meta m;
    struct cf_key_meta km;
    struct cf_secret_meta sm;
    struct cf_secret *val = NULL;

    assert_int_equal(cf_cert_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &m),
                     CF_ENOTFOUND);
    cf_cert_meta_release(&m);
    memset(&km, 0, sizeof(km));
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &km),
                     CF_ENOTFOUND);
    cf_key_meta_release(&km);
    memset(&sm, 0, sizeof(sm));
    assert_int_equal(cf_secret_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &sm, &val),
                     CF_ENOTFOUND);
    assert_null(val);
    cf_secret_meta_release(&sm);
}

struct refusal {
    const char *policy;
    const char *why;
};

static void refused_all(struct fx *f, const struct cf_buf *b64, const struct refusal *r, size_t n)
{
    struct cf_cert_meta m;
    char why[256];

    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bad%zu", i);
        assert_int_equal(import(f, name, b64, r[i].policy, &m, why), CF_EBADPARAM);
        cf_cert_meta_release(&m);
        assert_string_equal(why, r[i].why);
        nothing_stored(f, name);
    }
}

static void rsa_key(void **state)
{
    struct fx *f = *state;
    struct cf_buf b64;
    struct cf_cert_meta m;
    char why[256];
    static const struct refusal bad[] = {
        {"{\"key_props\":{\"kty\":\"RSA\",\"key_size\":4096}}",
         "Property 'key_props.key_size' 4096 does not match the imported RSA key (2048 bits)."},
        {"{\"key_props\":{\"key_size\":3072,\"exportable\":true}}",
         "Property 'key_props.key_size' 3072 does not match the imported RSA key (2048 bits)."},
        {"{\"key_props\":{\"kty\":\"EC\"}}",
         "Property 'key_props.kty' EC does not match the imported RSA key."},
        {"{\"key_props\":{\"kty\":\"EC-HSM\",\"exportable\":false}}",
         "Property 'key_props.kty' EC-HSM does not match the imported RSA key."},
        {"{\"key_props\":{\"crv\":\"P-256\"}}",
         "Property 'key_props.crv' P-256 does not match the imported RSA key."},
        {"{\"key_props\":{\"kty\":\"RSA\",\"key_size\":2048,\"crv\":\"P-384\"}}",
         "Property 'key_props.crv' P-384 does not match the imported RSA key."},
        /* the whole policy as az keyvault certificate get-default-policy writes it, but 4096 */
        {"{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"exportable\":true,\"kty\":\"RSA\","
         "\"key_size\":4096,\"reuse_key\":true},\"secret_props\":{\"contentType\":"
         "\"application/x-pkcs12\"},\"x509_props\":{\"subject\":\"CN=CLIGetDefaultPolicy\","
         "\"validity_months\":12}}",
         "Property 'key_props.key_size' 4096 does not match the imported RSA key (2048 bits)."},
    };
    static const char *const good[] = {
        NULL,
        "{}",
        "{\"key_props\":{\"exportable\":true,\"reuse_key\":false}}",
        "{\"key_props\":{\"kty\":\"RSA\",\"key_size\":2048,\"reuse_key\":true}}",
        "{\"key_props\":{\"kty\":\"RSA\",\"key_size\":null,\"crv\":null}}",
        "{\"key_props\":{\"key_size\":2048},\"secret_props\":{\"contentType\":"
        "\"application/x-pem-file\"}}",
    };

    cf_buf_init(&b64, 128 * 1024);
    make_pfx(2048, CF_CRV_NONE, &b64);
    refused_all(f, &b64, bad, CF_ARRAY_LEN(bad));
    for (size_t i = 0; i < CF_ARRAY_LEN(good); i++) {
        char name[32];
        snprintf(name, sizeof(name), "good%zu", i);
        assert_int_equal(import(f, name, &b64, good[i], &m, why), CF_OK);
        assert_string_equal(m.policy->kty, "RSA");
        assert_int_equal(m.policy->key_size, 2048);
        assert_string_equal(m.policy->crv, "");
        cf_cert_meta_release(&m);
    }
    {
        /* reuse_key from the request is kept: only the key's own values are checked */
        struct cf_cert_meta g;
        assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("good3"), CF_STR(""), &g), CF_OK);
        assert_non_null(g.policy);
        assert_true(g.policy->reuse_key);
        cf_cert_meta_release(&g);
    }
    cf_buf_release(&b64);
}

static void ec_key(void **state)
{
    struct fx *f = *state;
    struct cf_buf b64;
    struct cf_cert_meta m;
    char why[256];
    static const struct refusal bad[] = {
        {"{\"key_props\":{\"kty\":\"RSA\"}}",
         "Property 'key_props.kty' RSA does not match the imported EC key."},
        {"{\"key_props\":{\"kty\":\"RSA-HSM\",\"exportable\":false}}",
         "Property 'key_props.kty' RSA-HSM does not match the imported EC key."},
        {"{\"key_props\":{\"key_size\":2048}}",
         "Property 'key_props.key_size' 2048 does not match the imported EC key (384 bits)."},
        {"{\"key_props\":{\"kty\":\"EC\",\"key_size\":256}}",
         "Property 'key_props.key_size' 256 does not match the imported EC key (384 bits)."},
        {"{\"key_props\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}",
         "Property 'key_props.crv' P-256 does not match the imported EC key on curve P-384."},
        {"{\"key_props\":{\"crv\":\"P-521\"}}",
         "Property 'key_props.crv' P-521 does not match the imported EC key on curve P-384."},
    };
    static const char *const good[] = {
        "{\"key_props\":{\"kty\":\"EC\"}}",
        "{\"key_props\":{\"crv\":\"P-384\"}}",
        "{\"key_props\":{\"kty\":\"EC\",\"crv\":\"P-384\",\"key_size\":384}}",
    };

    cf_buf_init(&b64, 128 * 1024);
    make_pfx(0, CF_CRV_P384, &b64);
    refused_all(f, &b64, bad, CF_ARRAY_LEN(bad));
    for (size_t i = 0; i < CF_ARRAY_LEN(good); i++) {
        char name[32];
        snprintf(name, sizeof(name), "good%zu", i);
        assert_int_equal(import(f, name, &b64, good[i], &m, why), CF_OK);
        assert_string_equal(m.policy->kty, "EC");
        assert_string_equal(m.policy->crv, "P-384");
        cf_cert_meta_release(&m);
    }
    cf_buf_release(&b64);
}

/* A refused import over an existing certificate changes nothing: same latest version, same
 * policy; the name is not blocked for a later import that agrees. */
static void existing_untouched(void **state)
{
    struct fx *f = *state;
    struct cf_buf rsa, ec;
    struct cf_cert_meta m, g;
    char why[256], version[33];

    cf_buf_init(&rsa, 128 * 1024);
    cf_buf_init(&ec, 128 * 1024);
    make_pfx(2048, CF_CRV_NONE, &rsa);
    make_pfx(0, CF_CRV_P256, &ec);
    assert_int_equal(import(f, "c", &rsa, NULL, &m, why), CF_OK);
    snprintf(version, sizeof(version), "%s", m.version);
    cf_cert_meta_release(&m);
    fx_advance(f, 5);

    assert_int_equal(import(f, "c", &ec, "{\"key_props\":{\"kty\":\"RSA\",\"key_size\":2048}}",
                            &m, why),
                     CF_EBADPARAM);
    cf_cert_meta_release(&m);
    assert_string_equal(why, "Property 'key_props.kty' RSA does not match the imported EC key.");
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("c"), CF_STR(""), &g), CF_OK);
    assert_string_equal(g.version, version);
    assert_string_equal(g.policy->kty, "RSA");
    cf_cert_meta_release(&g);

    assert_int_equal(import(f, "c", &ec, "{\"key_props\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}",
                            &m, why),
                     CF_OK);
    assert_string_not_equal(m.version, version);
    assert_string_equal(m.policy->kty, "EC");
    assert_string_equal(m.policy->crv, "P-256");
    cf_cert_meta_release(&m);
    cf_buf_release(&rsa);
    cf_buf_release(&ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rsa_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(ec_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(existing_untouched, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_x509.c - dev CA and server certificates: generated into a temporary directory, read
 * back from the files and verified with OpenSSL's X509_verify_cert as a TLS client would
 * (purpose sslserver, hostname/IP checks), plus the extensions Node, Python and curl rely on. */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

static const char *const sans_dns[] = {"*.vault.localhost", "vault.localhost", "login.localhost",
                                       "localhost"};
static const char *const sans_ip[] = {"127.0.0.1", "::1"};

struct fixture {
    char dir[64];
    char ca_path[128], leaf_path[128], key_path[128];
    struct cf_buf ca_cert, ca_key, cert, key;
    X509 *ca, *leaf;
};

static void write_file(const char *path, const struct cf_buf *b)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(b->data, 1, b->len, fp), b->len);
    assert_int_equal(fclose(fp), 0);
}

static X509 *read_cert_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    X509 *x;
    if (!fp)
        return NULL;
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    return x;
}

static X509 *cert_from_buf(const struct cf_buf *b)
{
    BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-x509-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->ca_path, sizeof(f->ca_path), "%s/ca.pem", f->dir);
    snprintf(f->leaf_path, sizeof(f->leaf_path), "%s/server.pem", f->dir);
    snprintf(f->key_path, sizeof(f->key_path), "%s/server.key", f->dir);
    cf_buf_init(&f->ca_cert, 64 * 1024);
    cf_buf_init(&f->ca_key, 64 * 1024);
    cf_buf_init(&f->cert, 64 * 1024);
    cf_buf_init(&f->key, 64 * 1024);
    if (cf_x509_make_ca("Coffer Dev CA", 3650, &f->ca_cert, &f->ca_key) ||
        cf_x509_make_server(f->ca_cert.data, f->ca_key.data, sans_dns, CF_ARRAY_LEN(sans_dns),
                            sans_ip, CF_ARRAY_LEN(sans_ip), 397, NULL, &f->cert, &f->key))
        return -1;
    *state = f;
    write_file(f->ca_path, &f->ca_cert);
    write_file(f->leaf_path, &f->cert);
    write_file(f->key_path, &f->key);
    f->ca = read_cert_file(f->ca_path);
    f->leaf = read_cert_file(f->leaf_path);
    return f->ca && f->leaf ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->ca_path);
    unlink(f->leaf_path);
    unlink(f->key_path);
    rmdir(f->dir);
    X509_free(f->ca);
    X509_free(f->leaf);
    cf_buf_wipe(&f->ca_key);
    cf_buf_wipe(&f->key);
    cf_buf_release(&f->ca_cert);
    cf_buf_release(&f->cert);
    free(f);
    return 0;
}

/* Verifies leaf against a store holding only ca, as a TLS client checking host or ip would.
 * Returns the X509_V_* result. */
static int verify(X509 *ca, X509 *leaf, const char *host, const char *ip)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *param;
    int rc;

    assert_non_null(store);
    assert_non_null(ctx);
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
    param = X509_STORE_CTX_get0_param(ctx);
    /* What a TLS client sets: server purpose, and the host or IP it connected to. Strict mode
     * as Python 3.13 enables it (VERIFY_X509_STRICT). */
    assert_int_equal(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    if (host)
        assert_int_equal(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
    if (ip)
        assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(param, ip), 1);
    rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

static void test_verify_hosts(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(verify(f->ca, f->leaf, NULL, NULL), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, "v.vault.localhost", NULL), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, "my-vault-01.vault.localhost", NULL), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, "vault.localhost", NULL), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, "login.localhost", NULL), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, "localhost", NULL), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, NULL, "::1"), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, NULL, "0:0:0:0:0:0:0:1"), X509_V_OK);
    assert_int_equal(verify(f->ca, f->leaf, NULL, "127.0.0.1"), X509_V_OK);
}

static void test_verify_rejects(void **state)
{
    struct fixture *f = *state;
    struct cf_buf other_ca, other_key;
    X509 *other;

    /* Names and addresses not in the SANs; a wildcard covers exactly one label. */
    assert_int_equal(verify(f->ca, f->leaf, "management.localhost", NULL),
                     X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(verify(f->ca, f->leaf, "a.b.vault.localhost", NULL),
                     X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(verify(f->ca, f->leaf, "v.vault.localhost.evil", NULL),
                     X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(verify(f->ca, f->leaf, NULL, "::2"), X509_V_ERR_IP_ADDRESS_MISMATCH);
    assert_int_equal(verify(f->ca, f->leaf, NULL, "127.0.0.2"), X509_V_ERR_IP_ADDRESS_MISMATCH);
    /* Another CA does not vouch for this leaf. */
    cf_buf_init(&other_ca, 64 * 1024);
    cf_buf_init(&other_key, 64 * 1024);
    assert_int_equal(cf_x509_make_ca("Coffer Dev CA", 30, &other_ca, &other_key), CF_OK);
    other = cert_from_buf(&other_ca);
    assert_non_null(other);
    assert_int_not_equal(verify(other, f->leaf, "v.vault.localhost", NULL), X509_V_OK);
    /* The leaf is not a CA: a certificate "issued" by it is refused. */
    assert_int_not_equal(verify(f->leaf, f->leaf, NULL, NULL), X509_V_OK);
    X509_free(other);
    cf_buf_release(&other_ca);
    cf_buf_wipe(&other_key);
}

static void test_ca_fields(void **state)
{
    struct fixture *f = *state;
    X509_NAME *subj = X509_get_subject_name(f->ca);
    char cn[64];
    ASN1_INTEGER *serial = X509_get_serialNumber(f->ca);
    EVP_PKEY *pub = X509_get0_pubkey(f->ca);
    int crit = -1;
    BASIC_CONSTRAINTS *bc;

    assert_int_equal(X509_get_version(f->ca), X509_VERSION_3);
    assert_int_equal(X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)), 13);
    assert_string_equal(cn, "Coffer Dev CA");
    assert_int_equal(X509_NAME_cmp(subj, X509_get_issuer_name(f->ca)), 0);
    assert_int_equal(X509_check_ca(f->ca), 1);
    bc = X509_get_ext_d2i(f->ca, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_true(bc->ca);
    assert_int_equal(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_get_key_usage(f->ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_non_null(X509_get0_subject_key_id(f->ca));
    /* 16-octet positive serial */
    assert_int_equal(ASN1_STRING_length(serial), 16);
    assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
    /* EC P-256 key, SHA-256 signature, self-signature valid */
    assert_true(EVP_PKEY_is_a(pub, "EC"));
    assert_int_equal(EVP_PKEY_get_bits(pub), 256);
    assert_int_equal(X509_get_signature_nid(f->ca), NID_ecdsa_with_SHA256);
    assert_int_equal(X509_verify(f->ca, pub), 1);
    /* Validity: started (backdated) and lasts about 3650 days. */
    {
        int days = 0, secs = 0;
        assert_true(X509_cmp_current_time(X509_get0_notBefore(f->ca)) < 0);
        assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(f->ca)), 1);
        assert_true(days >= 3649 && days <= 3650);
    }
    assert_memory_equal(f->ca_key.data, "-----BEGIN PRIVATE KEY-----", 27);
}

static void test_leaf_fields(void **state)
{
    struct fixture *f = *state;
    char cn[256];
    GENERAL_NAMES *gens;
    EXTENDED_KEY_USAGE *eku;
    BASIC_CONSTRAINTS *bc;
    int crit = -1;
    EVP_PKEY *key;
    BIO *bio;

    assert_int_equal(X509_get_version(f->leaf), X509_VERSION_3);
    assert_int_equal(
        X509_NAME_get_text_by_NID(X509_get_subject_name(f->leaf), NID_commonName, cn, sizeof(cn)),
        (int)strlen(sans_dns[0]));
    assert_string_equal(cn, sans_dns[0]);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(f->leaf), X509_get_subject_name(f->ca)), 0);
    assert_int_equal(X509_check_ca(f->leaf), 0);
    bc = X509_get_ext_d2i(f->leaf, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_false(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_get_key_usage(f->leaf), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(f->leaf), XKU_SSL_SERVER);
    eku = X509_get_ext_d2i(f->leaf, NID_ext_key_usage, NULL, NULL);
    assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
    assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_server_auth);
    EXTENDED_KEY_USAGE_free(eku);
    assert_int_equal(X509_check_purpose(f->leaf, X509_PURPOSE_SSL_SERVER, 0), 1);
    /* authority key id = CA's subject key id */
    assert_non_null(X509_get0_authority_key_id(f->leaf));
    assert_int_equal(
        ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(f->leaf), X509_get0_subject_key_id(f->ca)),
        0);
    /* SANs: every DNS name then every IP, exactly */
    gens = X509_get_ext_d2i(f->leaf, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 6);
    for (int i = 0; i < 4; i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        assert_int_equal(gn->type, GEN_DNS);
        assert_string_equal(ASN1_STRING_get0_data(gn->d.dNSName), sans_dns[i]);
    }
    assert_int_equal(sk_GENERAL_NAME_value(gens, 4)->type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 4)->d.iPAddress), 4);
    assert_int_equal(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 5)->d.iPAddress), 16);
    GENERAL_NAMES_free(gens);
    assert_int_equal(X509_get_signature_nid(f->leaf), NID_ecdsa_with_SHA256);
    {
        int days = 0, secs = 0;
        assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(f->leaf)), 1);
        assert_true(days >= 396 && days <= 397);
    }
    /* The key file holds the leaf's private key (PKCS#8, EC P-256). */
    bio = BIO_new_file(f->key_path, "r");
    assert_non_null(bio);
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(key);
    assert_int_equal(X509_check_private_key(f->leaf, key), 1);
    assert_int_equal(X509_check_private_key(f->ca, key), 0);
    EVP_PKEY_free(key);
    ERR_clear_error();
}

static void test_serials_differ(void **state)
{
    struct fixture *f = *state;
    struct cf_buf c2, k2;
    X509 *x2;

    cf_buf_init(&c2, 64 * 1024);
    cf_buf_init(&k2, 64 * 1024);
    assert_int_equal(cf_x509_make_server(f->ca_cert.data, f->ca_key.data, sans_dns, 1, NULL, 0, 30,
                                         NULL, &c2, &k2),
                     CF_OK);
    x2 = cert_from_buf(&c2);
    assert_non_null(x2);
    assert_int_not_equal(
        ASN1_INTEGER_cmp(X509_get_serialNumber(x2), X509_get_serialNumber(f->leaf)), 0);
    /* Different key too. */
    assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(x2), X509_get0_pubkey(f->leaf)), 1);
    assert_int_equal(verify(f->ca, x2, "x.vault.localhost", NULL), X509_V_OK);
    assert_int_equal(verify(f->ca, x2, NULL, "::1"), X509_V_ERR_IP_ADDRESS_MISMATCH);
    X509_free(x2);
    cf_buf_release(&c2);
    cf_buf_wipe(&k2);
}

static void test_ip_only_leaf(void **state)
{
    struct fixture *f = *state;
    struct cf_buf c2, k2;
    X509 *x2;
    char cn[64];

    cf_buf_init(&c2, 64 * 1024);
    cf_buf_init(&k2, 64 * 1024);
    assert_int_equal(cf_x509_make_server(f->ca_cert.data, f->ca_key.data, NULL, 0, sans_ip + 1, 1,
                                         30, NULL, &c2, &k2),
                     CF_OK);
    x2 = cert_from_buf(&c2);
    assert_non_null(x2);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x2), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "::1");
    assert_int_equal(verify(f->ca, x2, NULL, "::1"), X509_V_OK);
    X509_free(x2);
    cf_buf_release(&c2);
    cf_buf_wipe(&k2);
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    struct cf_buf c, k, oc, ok;
    static const char *const bad_dns[] = {"",   "a,DNS:evil.com", "a b",  "a..b", ".a",   "a.", "*",
                                          "*.", "a.*.b",          "**.a", "x\ny", "é.com"};
    static const char *const bad_ip[] = {"1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "localhost", ""};
    const char *one;

    cf_buf_init(&c, 64 * 1024);
    cf_buf_init(&k, 64 * 1024);
    for (size_t i = 0; i < CF_ARRAY_LEN(bad_dns); i++) {
        one = bad_dns[i];
        assert_int_equal(cf_x509_make_server(f->ca_cert.data, f->ca_key.data, &one, 1, NULL, 0, 30,
                                             NULL, &c, &k),
                         CF_EINVAL);
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(bad_ip); i++) {
        one = bad_ip[i];
        assert_int_equal(cf_x509_make_server(f->ca_cert.data, f->ca_key.data, sans_dns, 1, &one, 1,
                                             30, NULL, &c, &k),
                         CF_EINVAL);
    }
    /* No names at all, bad validity, missing or mismatched CA material. */
    assert_int_equal(
        cf_x509_make_server(f->ca_cert.data, f->ca_key.data, NULL, 0, NULL, 0, 30, NULL, &c, &k),
        CF_EINVAL);
    assert_int_equal(
        cf_x509_make_server(f->ca_cert.data, f->ca_key.data, sans_dns, 1, NULL, 0, 0, NULL, &c, &k),
        CF_EINVAL);
    assert_int_equal(
        cf_x509_make_server("garbage", f->ca_key.data, sans_dns, 1, NULL, 0, 30, NULL, &c, &k),
        CF_EINVAL);
    assert_int_equal(
        cf_x509_make_server(f->ca_cert.data, "garbage", sans_dns, 1, NULL, 0, 30, NULL, &c, &k),
        CF_EINVAL);
    cf_buf_init(&oc, 64 * 1024);
    cf_buf_init(&ok, 64 * 1024);
    assert_int_equal(cf_x509_make_ca("Other", 30, &oc, &ok), CF_OK);
    assert_int_equal(
        cf_x509_make_server(f->ca_cert.data, ok.data, sans_dns, 1, NULL, 0, 30, NULL, &c, &k),
        CF_EINVAL);
    assert_int_equal(cf_x509_make_ca("", 30, &oc, &ok), CF_EINVAL);
    assert_int_equal(cf_x509_make_ca("CA", 0, &oc, &ok), CF_EINVAL);
    assert_int_equal(cf_x509_make_ca("CA", -5, &oc, &ok), CF_EINVAL);
    /* Nothing was written by any failed call. */
    assert_int_equal(c.len, 0);
    assert_int_equal(k.len, 0);
    cf_buf_release(&c);
    cf_buf_wipe(&k);
    cf_buf_release(&oc);
    cf_buf_wipe(&ok);
}

static void test_output_limit(void **state)
{
    struct fixture *f = *state;
    struct cf_buf c, k;

    /* Certificate fits, key does not: both buffers left as they were. */
    cf_buf_init(&c, 64 * 1024);
    cf_buf_init(&k, 50);
    assert_int_equal(cf_buf_puts(&c, "keep\n"), CF_OK);
    assert_int_equal(cf_x509_make_server(f->ca_cert.data, f->ca_key.data, sans_dns, 1, NULL, 0, 30,
                                         NULL, &c, &k),
                     CF_ETOOBIG);
    assert_int_equal(c.len, 5);
    assert_string_equal(c.data, "keep\n");
    assert_int_equal(k.len, 0);
    cf_buf_release(&c);
    cf_buf_wipe(&k);
}

static void test_not_after(void **state)
{
    struct cf_buf c, k;
    int64_t t = 0;
    time_t now = time(NULL);
    (void)state;
    cf_buf_init(&c, 1 << 16);
    cf_buf_init(&k, 1 << 16);
    assert_int_equal(cf_x509_make_ca("NA", 10, &c, &k), CF_OK);
    assert_int_equal(cf_x509_not_after(c.data, &t), CF_OK);
    /* ten days from now, give or take the clock ticking during the test */
    assert_true(t >= (int64_t)now + 10 * 86400 - 5 && t <= (int64_t)now + 10 * 86400 + 5);
    assert_int_equal(cf_x509_not_after("not a certificate", &t), CF_EINVAL);
    assert_int_equal(cf_x509_not_after(NULL, &t), CF_EINVAL);
    cf_buf_release(&c);
    cf_buf_wipe(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_after),
        cmocka_unit_test(test_verify_hosts),   cmocka_unit_test(test_verify_rejects),
        cmocka_unit_test(test_ca_fields),      cmocka_unit_test(test_leaf_fields),
        cmocka_unit_test(test_serials_differ), cmocka_unit_test(test_ip_only_leaf),
        cmocka_unit_test(test_bad_input),      cmocka_unit_test(test_output_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_x509_crl.c - the dev CA's revocation information: cf_x509_make_crl parsed back with
 * OpenSSL (version, issuer, times, cRLNumber, authority key id, no entries, signature under the
 * CA key and not under another), the leaf's cRLDistributionPoints from cf_x509_make_server
 * (exactly the one URI given, refused URLs), and a full chain verification with CRL checking
 * (X509_V_FLAG_CRL_CHECK) as `openssl verify -crl_check` does. */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"

#include <setjmp.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define URL "http://127.0.0.1:9464/crl/dev-ca.crl"

static const char *const dns[] = {"vault.localhost", "localhost"};
static const char *const ips[] = {"127.0.0.1"};

struct fx {
    struct cf_buf ca_cert, ca_key, cert, key;
    X509 *ca, *leaf;
};

static X509 *pem_cert(const struct cf_buf *b)
{
    BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

static X509_CRL *der_crl(const struct cf_buf *b)
{
    const unsigned char *p = (const unsigned char *)b->data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)b->len);
    /* the whole buffer is the one CRL: nothing before or after */
    if (crl && p != (const unsigned char *)b->data + b->len) {
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    cf_buf_init(&f->ca_cert, 1 << 16);
    cf_buf_init(&f->ca_key, 1 << 16);
    cf_buf_init(&f->cert, 1 << 16);
    cf_buf_init(&f->key, 1 << 16);
    if (cf_x509_make_ca("Coffer Dev CA", 3650, &f->ca_cert, &f->ca_key) ||
        cf_x509_make_server(f->ca_cert.data, f->ca_key.data, dns, CF_ARRAY_LEN(dns), ips,
                            CF_ARRAY_LEN(ips), 30, URL, &f->cert, &f->key))
        return -1;
    f->ca = pem_cert(&f->ca_cert);
    f->leaf = pem_cert(&f->cert);
    *state = f;
    return f->ca && f->leaf ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    X509_free(f->ca);
    X509_free(f->leaf);
    cf_buf_release(&f->ca_cert);
    cf_buf_wipe(&f->ca_key);
    cf_buf_release(&f->cert);
    cf_buf_wipe(&f->key);
    free(f);
    return 0;
}

static void crl_fields(void **state)
{
    struct fx *f = *state;
    struct cf_buf der;
    X509_CRL *crl;
    ASN1_INTEGER *num;
    AUTHORITY_KEYID *akid;
    const ASN1_OCTET_STRING *ski;
    int64_t now = (int64_t)time(NULL);
    int crit = -1, cmp = 99;

    cf_buf_init(&der, 1 << 16);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, f->ca_key.data, now - 3600, now + 7 * 86400,
                                      1234567890123ULL, &der),
                     CF_OK);
    crl = der_crl(&der);
    assert_non_null(crl);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(f->ca)), 0);
    /* signed by the CA: verifies under its public key */
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->ca)), 1);
    assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
    /* thisUpdate an hour ago, nextUpdate a week ahead: exactly what was asked */
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_lastUpdate(crl), (time_t)(now - 3600)), 0);
    assert_non_null(X509_CRL_get0_nextUpdate(crl));
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), (time_t)now), 1);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), (time_t)(now + 7 * 86400)),
                     0);
    /* no revoked certificates */
    assert_true(X509_CRL_get_REVOKED(crl) == NULL ||
                sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) == 0);
    num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    assert_non_null(num);
    assert_int_equal(crit, 0);
    {
        uint64_t v = 0;
        assert_int_equal(ASN1_INTEGER_get_uint64(&v, num), 1);
        assert_true(v == 1234567890123ULL);
    }
    ASN1_INTEGER_free(num);
    /* the authority key id is the CA's subject key id (RFC 5280 §5.2.1) */
    akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
    ski = X509_get0_subject_key_id(f->ca);
    assert_non_null(akid);
    assert_non_null(akid->keyid);
    assert_non_null(ski);
    cmp = ASN1_OCTET_STRING_cmp(akid->keyid, ski);
    assert_int_equal(cmp, 0);
    AUTHORITY_KEYID_free(akid);
    X509_CRL_free(crl);
    cf_buf_release(&der);
}

static void crl_not_under_other_ca(void **state)
{
    struct fx *f = *state;
    struct cf_buf der, oc, ok;
    X509_CRL *crl;
    X509 *other;
    int64_t now = (int64_t)time(NULL);

    cf_buf_init(&der, 1 << 16);
    cf_buf_init(&oc, 1 << 16);
    cf_buf_init(&ok, 1 << 16);
    assert_int_equal(cf_x509_make_ca("Coffer Dev CA", 30, &oc, &ok), CF_OK);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, f->ca_key.data, now, now + 60, 1, &der),
                     CF_OK);
    crl = der_crl(&der);
    other = pem_cert(&oc);
    assert_non_null(crl);
    assert_non_null(other);
    /* same name, other key: the signature does not verify */
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(other)), 0);
    ERR_clear_error();
    X509_free(other);
    X509_CRL_free(crl);
    cf_buf_release(&der);
    cf_buf_release(&oc);
    cf_buf_wipe(&ok);
}

static void crl_bad_input(void **state)
{
    struct fx *f = *state;
    struct cf_buf der, oc, ok;
    int64_t now = (int64_t)time(NULL);

    cf_buf_init(&der, 1 << 16);
    cf_buf_init(&oc, 1 << 16);
    cf_buf_init(&ok, 1 << 16);
    assert_int_equal(cf_buf_puts(&der, "keep"), CF_OK);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, f->ca_key.data, now, now, 1, &der),
                     CF_EINVAL);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, f->ca_key.data, now, now - 1, 1, &der),
                     CF_EINVAL);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, f->ca_key.data, 0, now, 1, &der), CF_EINVAL);
    assert_int_equal(cf_x509_make_crl("garbage", f->ca_key.data, now, now + 9, 1, &der), CF_EINVAL);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, "garbage", now, now + 9, 1, &der),
                     CF_EINVAL);
    assert_int_equal(cf_x509_make_crl(NULL, f->ca_key.data, now, now + 9, 1, &der), CF_EINVAL);
    /* a key that is not the CA's */
    assert_int_equal(cf_x509_make_ca("Other", 30, &oc, &ok), CF_OK);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, ok.data, now, now + 9, 1, &der), CF_EINVAL);
    /* failures leave the output as it was */
    assert_int_equal(der.len, 4);
    assert_string_equal(der.data, "keep");
    cf_buf_release(&der);
    cf_buf_release(&oc);
    cf_buf_wipe(&ok);
}

/* The leaf's cRLDistributionPoints: one DistributionPoint, fullName = exactly URL. */
static void leaf_crl_dp(void **state)
{
    struct fx *f = *state;
    int crit = -1;
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(f->leaf, NID_crl_distribution_points, &crit, NULL);
    DIST_POINT *dp;
    GENERAL_NAME *gn;
    const ASN1_IA5STRING *uri;

    assert_non_null(dps);
    assert_int_equal(crit, 0);
    assert_int_equal(sk_DIST_POINT_num(dps), 1);
    dp = sk_DIST_POINT_value(dps, 0);
    assert_non_null(dp->distpoint);
    assert_int_equal(dp->distpoint->type, 0);
    assert_null(dp->reasons);
    assert_null(dp->CRLissuer);
    assert_int_equal(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 1);
    gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
    assert_int_equal(gn->type, GEN_URI);
    uri = gn->d.uniformResourceIdentifier;
    assert_int_equal(ASN1_STRING_length(uri), (int)strlen(URL));
    assert_memory_equal(ASN1_STRING_get0_data(uri), URL, strlen(URL));
    CRL_DIST_POINTS_free(dps);
    /* no OCSP responder is claimed: nothing would answer it */
    assert_int_equal(X509_get_ext_by_NID(f->leaf, NID_info_access, -1), -1);
}

static void leaf_without_url_has_no_dp(void **state)
{
    struct fx *f = *state;
    struct cf_buf c, k;
    X509 *x;

    cf_buf_init(&c, 1 << 16);
    cf_buf_init(&k, 1 << 16);
    assert_int_equal(
        cf_x509_make_server(f->ca_cert.data, f->ca_key.data, dns, 1, NULL, 0, 30, NULL, &c, &k),
        CF_OK);
    x = pem_cert(&c);
    assert_non_null(x);
    assert_int_equal(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1), -1);
    X509_free(x);
    cf_buf_release(&c);
    cf_buf_wipe(&k);
}

static void leaf_bad_urls(void **state)
{
    struct fx *f = *state;
    struct cf_buf c, k;
    char long_url[260];
    const char *bad[] = {
        "https://127.0.0.1/crl", /* not http: */
        "ldap://x/crl",          /* not http: */
        "http://",               /* nothing after the scheme */
        "http://a b/crl",        /* space */
        "http://a/crl\"x",       /* quote */
        "http://a/crl\nURI:x",   /* control character */
        "http://a/\xc3\xa9",     /* not ASCII */
        "",                      /* empty */
        long_url,                /* over 200 characters */
    };

    memset(long_url, 'a', sizeof(long_url) - 1);
    memcpy(long_url, "http://", 7);
    long_url[201] = '\0';
    cf_buf_init(&c, 1 << 16);
    cf_buf_init(&k, 1 << 16);
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++)
        assert_int_equal(cf_x509_make_server(f->ca_cert.data, f->ca_key.data, dns, 1, NULL, 0, 30,
                                             bad[i], &c, &k),
                         CF_EINVAL);
    assert_int_equal(c.len, 0);
    assert_int_equal(k.len, 0);
    long_url[200] = '\0'; /* exactly 200 is allowed */
    assert_int_equal(
        cf_x509_make_server(f->ca_cert.data, f->ca_key.data, dns, 1, NULL, 0, 30, long_url, &c, &k),
        CF_OK);
    cf_buf_release(&c);
    cf_buf_wipe(&k);
}

/* Chain verification with CRL checking: good with the CA's CRL; with a CRL from another CA of
 * the same name the CRL does not verify; without any CRL "unable to get CRL". */
static int verify_with_crl(X509 *ca, X509 *leaf, X509_CRL *crl)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc;

    assert_non_null(store);
    assert_non_null(ctx);
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    if (crl)
        assert_int_equal(X509_STORE_add_crl(store, crl), 1);
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
    assert_int_equal(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
    rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

static void verify_crl_check(void **state)
{
    struct fx *f = *state;
    struct cf_buf der, oder, oc, ok;
    X509_CRL *crl, *ocrl;
    int64_t now = (int64_t)time(NULL);

    cf_buf_init(&der, 1 << 16);
    cf_buf_init(&oder, 1 << 16);
    cf_buf_init(&oc, 1 << 16);
    cf_buf_init(&ok, 1 << 16);
    assert_int_equal(cf_x509_make_crl(f->ca_cert.data, f->ca_key.data, now - 3600, now + 86400,
                                      (uint64_t)now, &der),
                     CF_OK);
    assert_int_equal(cf_x509_make_ca("Coffer Dev CA", 30, &oc, &ok), CF_OK);
    assert_int_equal(cf_x509_make_crl(oc.data, ok.data, now - 3600, now + 86400, 1, &oder), CF_OK);
    crl = der_crl(&der);
    ocrl = der_crl(&oder);
    assert_non_null(crl);
    assert_non_null(ocrl);
    assert_int_equal(verify_with_crl(f->ca, f->leaf, crl), X509_V_OK);
    assert_int_equal(verify_with_crl(f->ca, f->leaf, NULL), X509_V_ERR_UNABLE_TO_GET_CRL);
    assert_int_not_equal(verify_with_crl(f->ca, f->leaf, ocrl), X509_V_OK);
    X509_CRL_free(crl);
    X509_CRL_free(ocrl);
    /* a CRL past its nextUpdate is refused */
    cf_buf_reset(&der);
    assert_int_equal(
        cf_x509_make_crl(f->ca_cert.data, f->ca_key.data, now - 7200, now - 3600, 2, &der), CF_OK);
    crl = der_crl(&der);
    assert_non_null(crl);
    assert_int_equal(verify_with_crl(f->ca, f->leaf, crl), X509_V_ERR_CRL_HAS_EXPIRED);
    X509_CRL_free(crl);
    cf_buf_release(&der);
    cf_buf_release(&oder);
    cf_buf_release(&oc);
    cf_buf_wipe(&ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crl_fields),
        cmocka_unit_test(crl_not_under_other_ca),
        cmocka_unit_test(crl_bad_input),
        cmocka_unit_test(leaf_crl_dp),
        cmocka_unit_test(leaf_without_url_has_no_dp),
        cmocka_unit_test(leaf_bad_urls),
        cmocka_unit_test(verify_crl_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

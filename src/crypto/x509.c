/* x509.c - the dev CA and TLS server certificates (EC P-256, SHA-256).
 *
 *   cf_x509_make_ca      self-signed: basicConstraints critical CA:TRUE, keyUsage critical
 *                        keyCertSign+cRLSign, subject and authority key ids
 *   cf_x509_make_server  leaf signed by the CA: SANs (DNS, IPv4/IPv6), CN = first DNS name,
 *                        basicConstraints critical CA:FALSE, keyUsage critical
 *                        digitalSignature, EKU serverAuth, subject and authority key ids,
 *                        optionally a CRL distribution point (one http: URI)
 *   cf_x509_make_crl     the CA's CRL (DER): v2, no revoked entries, thisUpdate/nextUpdate,
 *                        cRLNumber and authority key id, signed by the CA key
 *
 * Both use a random positive 128-bit serial (RFC 5280 §4.1.2.2 allows 20 octets) and a
 * notBefore backdated by CERT_BACKDATE seconds so a client whose clock is slightly behind
 * still accepts a certificate made a moment ago. The SAN extension is built as a
 * GENERAL_NAMES structure, never from a config string, so a name cannot inject further entries.
 * Private key PEM goes through a secure-memory BIO (wiped when freed). */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CERT_BACKDATE (60 * 60)
#define CERT_MAX_DAYS 36500
#define DNS_NAME_MAX 253

/* Validity, version, serial, subject/issuer and the public key common to both certificates. */
static cf_err cert_base(X509 *x, EVP_PKEY *pub, const char *cn, const X509_NAME *issuer, int days)
{
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    X509_NAME *name;
    cf_err e;

    if ((e = cf_random(serial, sizeof(serial))) != CF_OK)
        return e;
    serial[0] &= 0x7f; /* positive as a DER INTEGER */
    serial[0] |= 0x40; /* and never zero or short: always 127 bits of randomness, 16 octets */
    name = X509_NAME_new();
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!name || !bn || X509_set_version(x, X509_VERSION_3) != 1 ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -CERT_BACKDATE) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
        X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn,
                                   -1, -1, 0) != 1 ||
        X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, issuer ? issuer : name) != 1 || X509_set_pubkey(x, pub) != 1)
        e = cf_crypto_fail("certificate fields");
    BN_free(bn);
    X509_NAME_free(name);
    return e;
}

/* Adds an extension from OpenSSL's text form; only ever called with constant values. */
static cf_err add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    cf_err e = CF_OK;

    if (!ext || X509_add_ext(x, ext, -1) != 1)
        e = cf_crypto_fail("certificate extension");
    X509_EXTENSION_free(ext);
    return e;
}

/* Appends the PEM of a certificate, or of a private key (PKCS#8), to out. */
static cf_err write_pem(X509 *cert, EVP_PKEY *key, struct cf_buf *out)
{
    /* Secure-memory BIO: its buffer is cleared on growth and on free, as a key needs. */
    BIO *bio = BIO_new(BIO_s_secmem());
    char *data = NULL;
    long len;
    cf_err e = CF_OK;

    if (!bio)
        return cf_crypto_fail("PEM buffer");
    if ((cert && PEM_write_bio_X509(bio, cert) != 1) ||
        (key && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)) {
        e = cf_crypto_fail("PEM write");
        goto free_bio;
    }
    len = BIO_get_mem_data(bio, &data);
    if (len <= 0 || !data) {
        e = cf_crypto_fail("PEM buffer");
        goto free_bio;
    }
    e = cf_buf_append(out, data, (size_t)len);
free_bio:
    BIO_free(bio);
    return e;
}

static cf_err sign_and_write(X509 *x, EVP_PKEY *ca_key, EVP_PKEY *key, struct cf_buf *cert_pem,
                             struct cf_buf *key_pem)
{
    size_t cstart = cert_pem->len, kstart = key_pem->len;
    cf_err e;

    if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
        return cf_crypto_fail("certificate signing");
    if ((e = write_pem(x, NULL, cert_pem)) != CF_OK ||
        (e = write_pem(NULL, key, key_pem)) != CF_OK) {
        cert_pem->len = cstart;
        if (cert_pem->data)
            cert_pem->data[cstart] = '\0';
        if (key_pem->data)
            cf_wipe(key_pem->data + kstart, key_pem->cap - kstart);
        key_pem->len = kstart;
    }
    return e;
}

cf_err cf_x509_make_ca(const char *common_name, int days, struct cf_buf *cert_pem,
                       struct cf_buf *key_pem)
{
    EVP_PKEY *key;
    X509 *x;
    X509V3_CTX ctx;
    cf_err e;

    if (!common_name || !*common_name || strlen(common_name) > 64 || days < 1 ||
        days > CERT_MAX_DAYS)
        return CF_EINVAL;
    key = EVP_EC_gen(SN_X9_62_prime256v1);
    if (!key)
        return cf_crypto_fail("CA key generation");
    x = X509_new();
    if (!x) {
        e = cf_crypto_fail("certificate allocation");
        goto free_key;
    }
    if ((e = cert_base(x, key, common_name, NULL, days)) != CF_OK)
        goto free_cert;
    /* Self-signed: the certificate is its own issuer for the key id extensions. */
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if ((e = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE")) != CF_OK ||
        (e = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) != CF_OK ||
        (e = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) != CF_OK ||
        (e = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) != CF_OK)
        goto free_cert;
    e = sign_and_write(x, key, key, cert_pem, key_pem);
free_cert:
    X509_free(x);
free_key:
    EVP_PKEY_free(key);
    return e;
}

/* LDH labels, optionally a leading "*." wildcard label; no empty label, <= 253 characters. */
static bool dns_name_ok(const char *s)
{
    size_t n = strlen(s), label = 0;

    if (n == 0 || n > DNS_NAME_MAX)
        return false;
    if (s[0] == '*') {
        if (s[1] != '.' || s[2] == '\0')
            return false;
        s += 2;
    }
    for (; *s; s++) {
        char c = *s;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* subjectAltName with every DNS name and IP address, in the order given. */
static cf_err add_san(X509 *x, const char *const *dns, size_t ndns, const char *const *ip,
                      size_t nip)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = NULL;
    cf_err e = CF_OK;

    if (!gens)
        return cf_crypto_fail("subjectAltName");
    for (size_t i = 0; i < ndns + nip; i++) {
        if (i < ndns) {
            ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
            gn = GENERAL_NAME_new();
            if (!ia5 || !gn || ASN1_STRING_set(ia5, dns[i], -1) != 1) {
                ASN1_IA5STRING_free(ia5);
                e = cf_crypto_fail("subjectAltName DNS");
                goto free_gens;
            }
            GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        } else {
            /* a2i_IPADDRESS parses dotted IPv4 and textual IPv6 into 4 or 16 octets. */
            ASN1_OCTET_STRING *os = a2i_IPADDRESS(ip[i - ndns]);
            if (!os) {
                cf_crypto_clear();
                e = CF_EINVAL;
                goto free_gens;
            }
            gn = GENERAL_NAME_new();
            if (!gn) {
                ASN1_OCTET_STRING_free(os);
                e = cf_crypto_fail("subjectAltName IP");
                goto free_gens;
            }
            GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
        }
        if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
            e = cf_crypto_fail("subjectAltName");
            goto free_gens;
        }
        gn = NULL;
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
        e = cf_crypto_fail("subjectAltName");
free_gens:
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gens);
    return e;
}

static cf_err load_ca(const char *cert_pem, const char *key_pem, X509 **ca, EVP_PKEY **ca_key)
{
    BIO *cb = BIO_new_mem_buf(cert_pem, -1);
    BIO *kb = BIO_new_mem_buf(key_pem, -1);
    cf_err e = CF_OK;

    if (!cb || !kb) {
        e = cf_crypto_fail("PEM buffer");
        goto free_bio;
    }
    *ca = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    *ca_key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    /* Unreadable or mismatched CA material is the caller's input: CF_EINVAL. */
    if (!*ca || !*ca_key || X509_check_private_key(*ca, *ca_key) != 1) {
        cf_crypto_clear();
        X509_free(*ca);
        EVP_PKEY_free(*ca_key);
        *ca = NULL;
        *ca_key = NULL;
        e = CF_EINVAL;
    }
free_bio:
    BIO_free(cb);
    BIO_free(kb);
    return e;
}

/* A CRL URL goes into the certificate as one URI: http: (RFC 5280 §4.2.1.13: CRLs are signed,
 * fetched without TLS, and https would make checking the server's own certificate circular),
 * printable ASCII without spaces or quotes, bounded. */
#define CRL_URL_MAX 200
static bool crl_url_ok(const char *u)
{
    size_t n = strlen(u);

    if (n > CRL_URL_MAX || strncmp(u, "http://", 7) != 0 || n == 7)
        return false;
    for (; *u; u++)
        if (*u <= ' ' || *u > '~' || *u == '"' || *u == '\\' || *u == '<' || *u == '>')
            return false;
    return true;
}

/* cRLDistributionPoints: one DistributionPoint whose fullName is the URI; built as structures,
 * like the SANs, so the URL is never parsed as OpenSSL config text. */
static cf_err add_crl_dp(X509 *x, const char *url)
{
    CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
    DIST_POINT *dp = DIST_POINT_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    cf_err e = CF_OK;

    if (!dps || !dp || !gn || !ia5 || ASN1_STRING_set(ia5, url, -1) != 1) {
        e = cf_crypto_fail("CRL distribution point");
        goto free_all;
    }
    GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
    ia5 = NULL;
    dp->distpoint = DIST_POINT_NAME_new();
    if (!dp->distpoint || !(dp->distpoint->name.fullname = GENERAL_NAMES_new()) ||
        sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) <= 0) {
        e = cf_crypto_fail("CRL distribution point");
        goto free_all;
    }
    dp->distpoint->type = 0; /* fullName */
    gn = NULL;
    if (sk_DIST_POINT_push(dps, dp) <= 0) {
        e = cf_crypto_fail("CRL distribution point");
        goto free_all;
    }
    dp = NULL;
    if (X509_add1_ext_i2d(x, NID_crl_distribution_points, dps, 0, X509V3_ADD_DEFAULT) != 1)
        e = cf_crypto_fail("CRL distribution point");
free_all:
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    DIST_POINT_free(dp);
    CRL_DIST_POINTS_free(dps);
    return e;
}

cf_err cf_x509_make_server(const char *ca_cert_pem, const char *ca_key_pem, const char *const *dns,
                           size_t ndns, const char *const *ip, size_t nip, int days,
                           const char *crl_url, struct cf_buf *cert_pem, struct cf_buf *key_pem)
{
    X509 *ca = NULL, *x = NULL;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509V3_CTX ctx;
    const char *cn;
    cf_err e;

    if (!ca_cert_pem || !ca_key_pem || ndns + nip == 0 || (ndns && !dns) || (nip && !ip) ||
        days < 1 || days > CERT_MAX_DAYS || (crl_url && !crl_url_ok(crl_url)))
        return CF_EINVAL;
    for (size_t i = 0; i < ndns; i++)
        if (!dns[i] || !dns_name_ok(dns[i]))
            return CF_EINVAL;
    for (size_t i = 0; i < nip; i++)
        if (!ip[i])
            return CF_EINVAL;
    /* CN is at most 64 characters (RFC 5280 ub-common-name); clients match SANs only, so a
     * longer first name simply falls back to the first IP... and is refused if there is none. */
    cn = ndns && strlen(dns[0]) <= 64 ? dns[0] : nip ? ip[0] : NULL;
    if (!cn)
        return CF_EINVAL;
    if ((e = load_ca(ca_cert_pem, ca_key_pem, &ca, &ca_key)) != CF_OK)
        return e;
    key = EVP_EC_gen(SN_X9_62_prime256v1);
    if (!key) {
        e = cf_crypto_fail("server key generation");
        goto free_ca;
    }
    x = X509_new();
    if (!x) {
        e = cf_crypto_fail("certificate allocation");
        goto free_ca;
    }
    if ((e = cert_base(x, key, cn, X509_get_subject_name(ca), days)) != CF_OK ||
        (e = add_san(x, dns, ndns, ip, nip)) != CF_OK)
        goto free_ca;
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    if ((e = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")) != CF_OK ||
        (e = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature")) != CF_OK ||
        (e = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth")) != CF_OK ||
        (e = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) != CF_OK ||
        (e = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) != CF_OK ||
        (crl_url && (e = add_crl_dp(x, crl_url)) != CF_OK))
        goto free_ca;
    e = sign_and_write(x, ca_key, key, cert_pem, key_pem);
free_ca:
    X509_free(x);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return e;
}

cf_err cf_x509_make_crl(const char *ca_cert_pem, const char *ca_key_pem, int64_t this_update,
                        int64_t next_update, uint64_t crl_number, struct cf_buf *crl_der)
{
    X509 *ca = NULL;
    EVP_PKEY *ca_key = NULL;
    X509_CRL *crl = NULL;
    ASN1_TIME *t = NULL;
    ASN1_INTEGER *num = NULL;
    X509V3_CTX ctx;
    X509_EXTENSION *aki = NULL;
    unsigned char *der = NULL;
    int n;
    cf_err e;

    if (!ca_cert_pem || !ca_key_pem || !crl_der || this_update <= 0 ||
        next_update <= this_update)
        return CF_EINVAL;
    if ((e = load_ca(ca_cert_pem, ca_key_pem, &ca, &ca_key)) != CF_OK)
        return e;
    crl = X509_CRL_new();
    t = ASN1_TIME_new();
    num = ASN1_INTEGER_new();
    if (!crl || !t || !num || X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
        !ASN1_TIME_set(t, (time_t)this_update) || X509_CRL_set1_lastUpdate(crl, t) != 1 ||
        !ASN1_TIME_set(t, (time_t)next_update) || X509_CRL_set1_nextUpdate(crl, t) != 1 ||
        ASN1_INTEGER_set_uint64(num, crl_number) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_DEFAULT) != 1) {
        e = cf_crypto_fail("CRL fields");
        goto free_all;
    }
    /* RFC 5280 §5.2.1: a conforming CA includes the authority key id in its CRLs. */
    X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
    aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    if (!aki || X509_CRL_add_ext(crl, aki, -1) != 1 || X509_CRL_sort(crl) != 1 ||
        X509_CRL_sign(crl, ca_key, EVP_sha256()) <= 0) {
        e = cf_crypto_fail("CRL signing");
        goto free_all;
    }
    n = i2d_X509_CRL(crl, &der);
    if (n <= 0 || !der) {
        e = cf_crypto_fail("CRL encoding");
        goto free_all;
    }
    e = cf_buf_append(crl_der, der, (size_t)n);
free_all:
    OPENSSL_free(der);
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return e;
}

cf_err cf_x509_not_after(const char *cert_pem, int64_t *unix_s)
{
    BIO *bio;
    X509 *x;
    struct tm tm;
    cf_err e = CF_OK;

    if (!cert_pem || !unix_s)
        return CF_EINVAL;
    bio = BIO_new_mem_buf(cert_pem, -1);
    if (!bio)
        return cf_crypto_fail("x509 read");
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!x) {
        cf_crypto_clear();
        return CF_EINVAL;
    }
    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
        cf_crypto_clear();
        e = CF_EINVAL;
    } else {
        *unix_s = (int64_t)timegm(&tm);
    }
    X509_free(x);
    return e;
}

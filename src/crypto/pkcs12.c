/* pkcs12.c - X.509 for Key Vault certificates (azure-kv-certificates.md §1, §8, §11): CSRs and
 * self-signed certificates for a cf_kvkey, certificate facts (thumbprint, validity, derived
 * x509_props), PKCS#12 and PEM in (import) and out (the certificate's secret).
 *
 * Map:
 *   key bridge     cf_kvkey <-> EVP_PKEY through the kvkey blob ("CFK" 1 <kty> || PKCS#8 DER),
 *                  the one serialised form kvkey.c exports, so kvkey.c stays untouched
 *   names          subject text "CN=a, O=b" -> X509_NAME; key usage names <-> bits
 *   extensions     keyUsage (critical), basicConstraints CA:FALSE, EKU, SAN (DNS, email, UPN
 *                  as otherName, URI, IP), SKI/AKI - built as structures, never from text
 *   csr / cert     PKCS#10 with an extensionRequest; self-signed X509 (16-byte random serial,
 *                  notBefore/notAfter as given by the caller's clock)
 *   facts          SHA-1 thumbprint, validity, the x509_props JSON members of an import
 *   pkcs12 / pem   parse (password, leaf first unless preserve) and write (empty password)
 *
 * A chain is a buffer of concatenated DER certificates (DER is self-delimiting). Private key
 * bytes only pass through cf_secret or OpenSSL memory that is cleared when freed; secret
 * outputs are appended to buffers the caller wipes. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"
#include "crypto/x509_int.h"

#include <ctype.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define KV_BLOB_HDR 5 /* "CFK" 1 <kty+1> (kvkey.c) */
#define CHAIN_MAX_CERTS 16
#define UPN_OID "1.3.6.1.4.1.311.20.2.3"

static cf_err badp(char *why, size_t n, const char *msg)
{
    if (why && n)
        snprintf(why, n, "%s", msg);
    cf_crypto_clear();
    return CF_EBADPARAM;
}

/* ---------------- key usage names ---------------- */

static const char *const ku_names[CF_CERT_KU_COUNT] = {
    "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
    "keyCertSign",      "cRLSign",        "encipherOnly",    "decipherOnly"};
/* OpenSSL's KU_* bit of each name, same order. */
static const unsigned ku_ossl[CF_CERT_KU_COUNT] = {
    KU_DIGITAL_SIGNATURE, KU_NON_REPUDIATION, KU_KEY_ENCIPHERMENT, KU_DATA_ENCIPHERMENT,
    KU_KEY_AGREEMENT,     KU_KEY_CERT_SIGN,   KU_CRL_SIGN,         KU_ENCIPHER_ONLY,
    KU_DECIPHER_ONLY};

const char *cf_cert_ku_name(int i)
{
    return i >= 0 && i < CF_CERT_KU_COUNT ? ku_names[i] : NULL;
}

unsigned cf_cert_ku_parse(struct cf_str name)
{
    for (int i = 0; i < CF_CERT_KU_COUNT; i++)
        if (cf_str_eq(name, cf_str_from(ku_names[i])))
            return 1u << i;
    return 0;
}

/* ---------------- the key bridge ---------------- */

static cf_err kv_to_evp(const struct cf_kvkey *k, EVP_PKEY **out)
{
    struct cf_secret *blob = NULL;
    struct cf_pkey *pk = NULL;
    cf_err e;

    *out = NULL;
    if (!k || cf_kvkey_type(k) == CF_KTY_OCT)
        return CF_EINVAL;
    if ((e = cf_kvkey_to_blob(k, &blob)) != CF_OK)
        return e;
    e = cf_pkey_from_der(blob->p + KV_BLOB_HDR, blob->len - KV_BLOB_HDR, &pk);
    cf_secret_free(blob);
    if (e)
        return e;
    *out = pk->pk;
    free(pk); /* the wrapper only; the EVP_PKEY is the caller's now */
    return CF_OK;
}

/* A kvkey holding a copy of pk's private key. CF_EBADPARAM for a type or size Key Vault keys
 * cannot have. */
static cf_err evp_to_kv(EVP_PKEY *pk, struct cf_kvkey **out)
{
    struct cf_pkey tmp = {pk};
    struct cf_secret *der = NULL, *blob = NULL;
    int id = EVP_PKEY_get_base_id(pk);
    cf_err e;

    *out = NULL;
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC)
        return CF_EBADPARAM;
    if ((e = cf_pkey_to_der(&tmp, &der)) != CF_OK)
        return e;
    blob = cf_secret_new(KV_BLOB_HDR + der->len);
    if (!blob) {
        e = CF_ENOMEM;
        goto free_der;
    }
    memcpy(blob->p, "CFK\001", 4);
    blob->p[4] = (unsigned char)(id == EVP_PKEY_RSA ? CF_KTY_RSA + 1 : CF_KTY_EC + 1);
    memcpy(blob->p + KV_BLOB_HDR, der->p, der->len);
    e = cf_kvkey_from_blob(blob->p, blob->len, out);
    if (e == CF_ECORRUPT)
        e = CF_EBADPARAM; /* a size or curve Key Vault does not support */
    cf_secret_free(blob);
free_der:
    cf_secret_free(der);
    return e;
}

static const EVP_MD *md_for(EVP_PKEY *pk)
{
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        int bits = EVP_PKEY_get_bits(pk);
        return bits > 384 ? EVP_sha512() : bits > 256 ? EVP_sha384() : EVP_sha256();
    }
    return EVP_sha256();
}

/* ---------------- subject ---------------- */

/* "CN=a, O=b" (',' or ';' separated; "\," escapes a separator) into a new X509_NAME. An empty
 * subject is an empty name (the SANs then identify the certificate). */
static cf_err parse_subject(const char *s, X509_NAME **out, char *why, size_t whysz)
{
    X509_NAME *name = X509_NAME_new();
    char key[64], val[1024];
    size_t kl, vl;
    cf_err e = CF_OK;

    *out = NULL;
    if (!name)
        return cf_crypto_fail("subject");
    while (s && *s) {
        while (*s == ' ' || *s == ',' || *s == ';')
            s++;
        if (!*s)
            break;
        kl = 0;
        while (*s && *s != '=' && kl < sizeof(key) - 1)
            key[kl++] = *s++;
        while (kl && key[kl - 1] == ' ')
            kl--;
        key[kl] = '\0';
        if (*s != '=' || kl == 0) {
            e = badp(why, whysz, "The certificate policy's subject is not a valid X.500 name.");
            goto fail;
        }
        s++;
        while (*s == ' ')
            s++;
        vl = 0;
        while (*s && *s != ',' && *s != ';') {
            if (*s == '\\' && s[1])
                s++;
            if (vl >= sizeof(val) - 1) {
                e = badp(why, whysz, "The certificate policy's subject is too long.");
                goto fail;
            }
            val[vl++] = *s++;
        }
        while (vl && val[vl - 1] == ' ')
            vl--;
        val[vl] = '\0';
        int nid = strcasecmp(key, "E") == 0 ? NID_pkcs9_emailAddress
                  : strcasecmp(key, "S") == 0 ? NID_stateOrProvinceName
                                              : OBJ_txt2nid(key);
        if (nid == NID_undef) {
            /* OpenSSL's short names are case-sensitive ("CN"); the service keeps "cn=" */
            for (size_t i = 0; i < kl; i++)
                key[i] = (char)toupper((unsigned char)key[i]);
            nid = OBJ_txt2nid(key);
        }
        if (nid == NID_undef || vl == 0 ||
            X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (unsigned char *)val, (int)vl, -1,
                                       0) != 1) {
            e = badp(why, whysz, "The certificate policy's subject is not a valid X.500 name.");
            goto fail;
        }
    }
    *out = name;
    return CF_OK;
fail:
    X509_NAME_free(name);
    return e;
}

/* ---------------- extensions ---------------- */

static cf_err push_ext(STACK_OF(X509_EXTENSION) * exts, int nid, int crit, void *value)
{
    X509_EXTENSION *ext = X509V3_EXT_i2d(nid, crit, value);
    if (!ext || !sk_X509_EXTENSION_push(exts, ext)) {
        X509_EXTENSION_free(ext);
        return cf_crypto_fail("certificate extension");
    }
    return CF_OK;
}

static cf_err add_gen(GENERAL_NAMES *gens, const struct cf_cert_san *san, char *why, size_t whysz)
{
    GENERAL_NAME *gn = NULL;
    ASN1_IA5STRING *ia5 = NULL;

    if (!san->value || !san->value[0])
        return badp(why, whysz, "A subject alternative name is empty.");
    if (san->kind == CF_SAN_IP) {
        gn = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, san->value, 0);
        if (!gn)
            return badp(why, whysz, "An ipAddresses entry is not an IPv4 or IPv6 address.");
    } else if (san->kind == CF_SAN_UPN) {
        ASN1_TYPE *t = ASN1_TYPE_new();
        ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
        ASN1_OBJECT *oid = OBJ_txt2obj(UPN_OID, 1);
        gn = GENERAL_NAME_new();
        if (!t || !u || !oid || !gn || ASN1_STRING_set(u, san->value, -1) != 1) {
            ASN1_TYPE_free(t);
            ASN1_UTF8STRING_free(u);
            ASN1_OBJECT_free(oid);
            GENERAL_NAME_free(gn);
            return cf_crypto_fail("subjectAltName");
        }
        ASN1_TYPE_set(t, V_ASN1_UTF8STRING, u);
        if (GENERAL_NAME_set0_othername(gn, oid, t) != 1) {
            ASN1_TYPE_free(t);
            ASN1_OBJECT_free(oid);
            GENERAL_NAME_free(gn);
            return cf_crypto_fail("subjectAltName");
        }
    } else {
        int type = san->kind == CF_SAN_DNS ? GEN_DNS : san->kind == CF_SAN_EMAIL ? GEN_EMAIL : GEN_URI;
        for (const char *p = san->value; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                return badp(why, whysz, "A subject alternative name must be printable ASCII.");
        ia5 = ASN1_IA5STRING_new();
        gn = GENERAL_NAME_new();
        if (!ia5 || !gn || ASN1_STRING_set(ia5, san->value, -1) != 1) {
            ASN1_IA5STRING_free(ia5);
            GENERAL_NAME_free(gn);
            return cf_crypto_fail("subjectAltName");
        }
        GENERAL_NAME_set0_value(gn, type, ia5);
    }
    if (!sk_GENERAL_NAME_push(gens, gn)) {
        GENERAL_NAME_free(gn);
        return cf_crypto_fail("subjectAltName");
    }
    return CF_OK;
}

/* The extensions of req (no key ids: those need the certificate). */
static cf_err build_exts(const struct cf_cert_req *req, STACK_OF(X509_EXTENSION) * *out, char *why,
                         size_t whysz)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    ASN1_BIT_STRING *ku = NULL;
    BASIC_CONSTRAINTS *bc = NULL;
    EXTENDED_KEY_USAGE *eku = NULL;
    GENERAL_NAMES *gens = NULL;
    cf_err e = CF_OK;

    *out = NULL;
    if (!exts)
        return cf_crypto_fail("extensions");
    if (req->key_usage) {
        ku = ASN1_BIT_STRING_new();
        if (!ku) {
            e = cf_crypto_fail("keyUsage");
            goto fail;
        }
        for (int i = 0; i < CF_CERT_KU_COUNT; i++) {
            if (!(req->key_usage & (1u << i)))
                continue;
            /* KU_* values are the bits of the first two DER octets, most significant first */
            unsigned b = ku_ossl[i];
            int bit = b == KU_DECIPHER_ONLY ? 8 : 7 - (int)(__builtin_ctz(b));
            if (ASN1_BIT_STRING_set_bit(ku, bit, 1) != 1) {
                e = cf_crypto_fail("keyUsage");
                goto fail;
            }
        }
        if ((e = push_ext(exts, NID_key_usage, 1, ku)) != CF_OK)
            goto fail;
    }
    bc = BASIC_CONSTRAINTS_new();
    if (!bc || (e = push_ext(exts, NID_basic_constraints, 0, bc)) != CF_OK) {
        e = e ? e : cf_crypto_fail("basicConstraints");
        goto fail;
    }
    if (req->nekus) {
        eku = sk_ASN1_OBJECT_new_null();
        if (!eku) {
            e = cf_crypto_fail("extendedKeyUsage");
            goto fail;
        }
        for (size_t i = 0; i < req->nekus; i++) {
            ASN1_OBJECT *o = OBJ_txt2obj(req->ekus[i], 1);
            if (!o) {
                e = badp(why, whysz, "An ekus entry is not a dotted object identifier.");
                goto fail;
            }
            if (!sk_ASN1_OBJECT_push(eku, o)) {
                ASN1_OBJECT_free(o);
                e = cf_crypto_fail("extendedKeyUsage");
                goto fail;
            }
        }
        if ((e = push_ext(exts, NID_ext_key_usage, 0, eku)) != CF_OK)
            goto fail;
    }
    if (req->nsans) {
        gens = GENERAL_NAMES_new();
        if (!gens) {
            e = cf_crypto_fail("subjectAltName");
            goto fail;
        }
        for (size_t i = 0; i < req->nsans; i++)
            if ((e = add_gen(gens, &req->sans[i], why, whysz)) != CF_OK)
                goto fail;
        if ((e = push_ext(exts, NID_subject_alt_name, 0, gens)) != CF_OK)
            goto fail;
    }
    *out = exts;
    exts = NULL;
fail:
    ASN1_BIT_STRING_free(ku);
    BASIC_CONSTRAINTS_free(bc);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return e;
}

/* Appends and frees the DER that an i2d call put in *der (len: its result). Takes the pointer's
 * address so the call is evaluated before the pointer is read. */
static cf_err append_der(struct cf_buf *out, int len, unsigned char **derp)
{
    unsigned char *der = *derp;
    cf_err e;
    if (len <= 0 || !der)
        return cf_crypto_fail("DER encoding");
    e = cf_buf_append(out, der, (size_t)len);
    OPENSSL_free(der);
    return e;
}

/* ---------------- CSR and self-signed certificate ---------------- */

cf_err cf_cert_csr(const struct cf_kvkey *k, const struct cf_cert_req *req, struct cf_buf *der,
                   char *why, size_t whysz)
{
    EVP_PKEY *pk = NULL;
    X509_REQ *x = NULL;
    X509_NAME *name = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    unsigned char *p = NULL;
    cf_err e;

    if (!k || !req || !der)
        return CF_EINVAL;
    if ((e = kv_to_evp(k, &pk)) != CF_OK)
        return e;
    if ((e = parse_subject(req->subject, &name, why, whysz)) != CF_OK ||
        (e = build_exts(req, &exts, why, whysz)) != CF_OK)
        goto done;
    x = X509_REQ_new();
    if (!x || X509_REQ_set_version(x, 0) != 1 || X509_REQ_set_subject_name(x, name) != 1 ||
        X509_REQ_set_pubkey(x, pk) != 1 || X509_REQ_add_extensions(x, exts) != 1 ||
        X509_REQ_sign(x, pk, md_for(pk)) <= 0) {
        e = cf_crypto_fail("CSR");
        goto done;
    }
    {
        int n = i2d_X509_REQ(x, &p);
        e = append_der(der, n, &p);
    }
done:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(x);
    EVP_PKEY_free(pk);
    return e;
}

static cf_err set_time(ASN1_TIME *t, int64_t unix_s)
{
    return ASN1_TIME_set(t, (time_t)unix_s) ? CF_OK : cf_crypto_fail("certificate validity");
}

/* The self-signed certificate of req for pk, every field and extension set (key ids too),
 * not signed yet: the software path signs it with X509_sign, x509_assemble.c on a token. */
cf_err cf_cert_int_tbs(const struct cf_cert_req *req, EVP_PKEY *pk, X509 **out, char *why,
                       size_t whysz)
{
    unsigned char serial[16];
    X509 *x = NULL;
    X509_NAME *name = NULL;
    BIGNUM *bn = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509V3_CTX ctx;
    cf_err e;

    *out = NULL;
    if ((e = parse_subject(req->subject, &name, why, whysz)) != CF_OK ||
        (e = build_exts(req, &exts, why, whysz)) != CF_OK || (e = cf_random(serial, 16)) != CF_OK)
        goto done;
    serial[0] &= 0x7f; /* a positive DER INTEGER */
    serial[0] |= 0x40;
    x = X509_new();
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!x || !bn || X509_set_version(x, X509_VERSION_3) != 1 ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pk) != 1) {
        e = cf_crypto_fail("certificate fields");
        goto done;
    }
    if ((e = set_time(X509_getm_notBefore(x), req->not_before)) != CF_OK ||
        (e = set_time(X509_getm_notAfter(x), req->not_after)) != CF_OK)
        goto done;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        if (X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1) != 1) {
            e = cf_crypto_fail("certificate extension");
            goto done;
        }
    }
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    {
        X509_EXTENSION *ski = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
        if (!ski || X509_add_ext(x, ski, -1) != 1) {
            X509_EXTENSION_free(ski);
            e = cf_crypto_fail("subjectKeyIdentifier");
            goto done;
        }
        X509_EXTENSION_free(ski);
        X509_EXTENSION *aki =
            X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
        if (!aki || X509_add_ext(x, aki, -1) != 1) {
            X509_EXTENSION_free(aki);
            e = cf_crypto_fail("authorityKeyIdentifier");
            goto done;
        }
        X509_EXTENSION_free(aki);
    }
    *out = x;
    x = NULL;
done:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    BN_free(bn);
    X509_NAME_free(name);
    X509_free(x);
    return e;
}

cf_err cf_cert_self_signed(const struct cf_kvkey *k, const struct cf_cert_req *req,
                           struct cf_buf *der, char *why, size_t whysz)
{
    unsigned char *p = NULL;
    EVP_PKEY *pk = NULL;
    X509 *x = NULL;
    cf_err e;

    if (!k || !req || !der || req->not_after <= req->not_before)
        return CF_EINVAL;
    if ((e = kv_to_evp(k, &pk)) != CF_OK)
        return e;
    if ((e = cf_cert_int_tbs(req, pk, &x, why, whysz)) != CF_OK)
        goto done;
    if (X509_sign(x, pk, md_for(pk)) <= 0) {
        e = cf_crypto_fail("certificate signing");
        goto done;
    }
    {
        int n = i2d_X509(x, &p);
        e = append_der(der, n, &p);
    }
done:
    X509_free(x);
    EVP_PKEY_free(pk);
    return e;
}

/* ---------------- facts ---------------- */

static X509 *parse_der(const void *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x;

    if (!der || len == 0 || len > CF_X509_CRED_MAX_DER * 4)
        return NULL;
    x = d2i_X509(NULL, &p, (long)len);
    if (x && p != (const unsigned char *)der + len) {
        X509_free(x);
        x = NULL;
    }
    if (!x)
        cf_crypto_clear();
    return x;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

cf_err cf_cert_info(const void *der, size_t len, struct cf_cert_info *out)
{
    X509 *x = parse_der(der, len);
    cf_err e;

    memset(out, 0, sizeof(*out));
    if (!x)
        return CF_EBADPARAM;
    e = cf_sha1(der, len, out->sha1);
    out->not_before = asn1_unix(X509_get0_notBefore(x));
    out->not_after = asn1_unix(X509_get0_notAfter(x));
    X509_free(x);
    return e;
}

cf_err cf_cert_write_props(const void *der, size_t len, struct cf_jw *w)
{
    X509 *x = parse_der(der, len);
    BIO *bio;
    char *text = NULL;
    long n;
    GENERAL_NAMES *gens;
    EXTENDED_KEY_USAGE *eku;
    uint32_t ku;
    int64_t nb, na;

    if (!x)
        return CF_EBADPARAM;
    bio = BIO_new(BIO_s_mem());
    if (!bio) {
        X509_free(x);
        return cf_crypto_fail("subject text");
    }
    /* RFC 2253 order reversed to the certificate's (CN first as the service prints it) */
    X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
                       (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_DN_REV & ~XN_FLAG_SEP_MASK) |
                           XN_FLAG_SEP_CPLUS_SPC);
    n = BIO_get_mem_data(bio, &text);
    cf_jw_key(w, "subject");
    cf_jw_strn(w, text ? text : "", n > 0 ? (size_t)n : 0);
    BIO_free(bio);

    cf_jw_key(w, "sans");
    cf_jw_obj_begin(w);
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    static const struct {
        const char *key;
        int type;
    } kinds[] = {{"dns_names", GEN_DNS}, {"emails", GEN_EMAIL}, {"upns", GEN_OTHERNAME}};
    for (size_t k = 0; gens && k < CF_ARRAY_LEN(kinds); k++) {
        bool any = false;
        for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
            const ASN1_STRING *s = NULL;
            if (g->type != kinds[k].type)
                continue;
            if (g->type == GEN_OTHERNAME) {
                if (OBJ_obj2nid(g->d.otherName->type_id) != NID_ms_upn ||
                    g->d.otherName->value->type != V_ASN1_UTF8STRING)
                    continue;
                s = g->d.otherName->value->value.utf8string;
            } else {
                s = g->d.ia5;
            }
            if (!any) {
                cf_jw_key(w, kinds[k].key);
                cf_jw_arr_begin(w);
                any = true;
            }
            cf_jw_strn(w, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        }
        if (any)
            cf_jw_arr_end(w);
    }
    GENERAL_NAMES_free(gens);
    cf_jw_obj_end(w);

    cf_jw_key(w, "ekus");
    cf_jw_arr_begin(w);
    eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
        char oid[80];
        if (OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), 1) > 0)
            cf_jw_str(w, oid);
    }
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    cf_jw_arr_end(w);

    cf_jw_key(w, "key_usage");
    cf_jw_arr_begin(w);
    ku = X509_get_key_usage(x);
    if (ku != UINT32_MAX)
        for (int i = 0; i < CF_CERT_KU_COUNT; i++)
            if (ku & ku_ossl[i])
                cf_jw_str(w, ku_names[i]);
    cf_jw_arr_end(w);

    nb = asn1_unix(X509_get0_notBefore(x));
    na = asn1_unix(X509_get0_notAfter(x));
    /* a month is a twelfth of 365 days, as the service counts 12 months = 365 days */
    cf_jw_kint(w, "validity_months", na > nb ? (na - nb + 2627999) / 2628000 : 0);
    X509_free(x);
    cf_crypto_clear();
    return cf_jw_err(w);
}

/* Whether cert's public key equals pk's. */
static bool key_matches(X509 *x, EVP_PKEY *pk)
{
    EVP_PKEY *pub = X509_get0_pubkey(x);
    bool ok = pub && EVP_PKEY_eq(pub, pk) == 1;
    cf_crypto_clear();
    return ok;
}

cf_err cf_cert_key_matches(const void *der, size_t len, const struct cf_kvkey *k, bool *match)
{
    X509 *x = parse_der(der, len);
    EVP_PKEY *pk = NULL;
    cf_err e;

    *match = false;
    if (!x)
        return CF_EBADPARAM;
    e = kv_to_evp(k, &pk);
    if (!e)
        *match = key_matches(x, pk);
    EVP_PKEY_free(pk);
    X509_free(x);
    return e;
}

/* ---------------- chains ---------------- */

bool cf_cert_chain_next(const void *chain, size_t n, size_t *off, const unsigned char **der,
                        size_t *len)
{
    const unsigned char *p = (const unsigned char *)chain + *off;
    size_t left = n - *off, hdr, body = 0;

    if (*off >= n || left < 2 || p[0] != 0x30)
        return false;
    if (p[1] < 0x80) {
        hdr = 2;
        body = p[1];
    } else {
        size_t nb = p[1] & 0x7f;
        if (nb == 0 || nb > 3 || left < 2 + nb)
            return false;
        for (size_t i = 0; i < nb; i++)
            body = body << 8 | p[2 + i];
        hdr = 2 + nb;
    }
    if (body > left - hdr)
        return false;
    *der = p;
    *len = hdr + body;
    *off += hdr + body;
    return true;
}

/* Orders certs into chain: the one matching pk first (unless preserve), then the rest in the
 * given order. CF_EBADPARAM when no certificate matches the key. */
static cf_err chain_out(STACK_OF(X509) * certs, EVP_PKEY *pk, bool preserve, struct cf_buf *chain,
                        char *why, size_t whysz)
{
    int leaf = -1, n = sk_X509_num(certs);
    size_t start = chain->len;
    cf_err e = CF_OK;

    if (n <= 0)
        return badp(why, whysz, "The certificate data contains no certificate.");
    if (n > CHAIN_MAX_CERTS)
        return badp(why, whysz, "The certificate chain is too long.");
    for (int i = 0; i < n && leaf < 0; i++)
        if (key_matches(sk_X509_value(certs, i), pk))
            leaf = i;
    if (leaf < 0)
        return badp(why, whysz, "The private key does not match the certificate.");
    for (int pass = 0; pass < 2 && !e; pass++) {
        for (int i = 0; i < n && !e; i++) {
            unsigned char *p = NULL;
            bool first = preserve ? pass == 0 : (pass == 0) == (i == leaf);
            if (!first || (preserve && pass == 1))
                continue;
            int dl = i2d_X509(sk_X509_value(certs, i), &p);
            e = append_der(chain, dl, &p);
        }
    }
    if (e)
        chain->len = start;
    return e;
}

/* ---------------- PKCS#12 key derivation cost ---------------- */

/* A PFX names its own iteration counts (MAC, each encrypted safe, each shrouded key), up to
 * 2^31, and PKCS12_parse honours them: a million PBKDF2 iterations cost about 0.25 s here and
 * 2 s in the fuzz build. So before anything is derived the counts are read and their SUM over
 * the file is capped (a per-count cap alone would let many bags multiply it). Defaults are far
 * below: OpenSSL 2048 x 3, Windows 2000 x 3, Java 8/11 100000 (MAC) + 2 x 50000, Java 12+
 * 10000 x 3. 600000 in all (OWASP's PBKDF2-SHA256 figure, once) costs about 0.15 s of CPU per
 * import with the password tried once, under 0.5 s when an empty password is also tried as
 * absent (measured: tests/unit/crypto/test_pkcs12.c). An "openssl pkcs12 -export -iter 600000"
 * file (1.8M in all) is refused. Safes and bags nest at most P12_DEPTH_MAX deep. */
#define P12_ITER_BUDGET 600000
#define P12_DEPTH_MAX 4

/* Adds the iteration count of a password-based encryption algorithm (PKCS#12 / PKCS#5 v1 PBE
 * or PBES2 with PBKDF2) to *sum; false when it cannot be read, is not positive, or the sum
 * passes the budget. Other key derivations (scrypt) are refused: no PFX tool writes them. */
static bool p12_count(const X509_ALGOR *alg, int64_t *sum)
{
    const ASN1_OBJECT *obj;
    const void *pval;
    int ptype;
    PBE2PARAM *p2 = NULL;
    PBKDF2PARAM *kdf = NULL;
    PBEPARAM *pbe = NULL;
    const ASN1_INTEGER *it = NULL;
    int64_t v = 0;
    bool ok = false;

    X509_ALGOR_get0(&obj, &ptype, &pval, alg);
    if (ptype != V_ASN1_SEQUENCE || !pval)
        return false;
    if (OBJ_obj2nid(obj) == NID_pbes2) {
        p2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
        if (!p2 || !p2->keyfunc)
            goto done;
        X509_ALGOR_get0(&obj, &ptype, &pval, p2->keyfunc);
        if (OBJ_obj2nid(obj) != NID_id_pbkdf2 || ptype != V_ASN1_SEQUENCE || !pval)
            goto done;
        kdf = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBKDF2PARAM));
        it = kdf ? kdf->iter : NULL;
    } else {
        pbe = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBEPARAM));
        it = pbe ? pbe->iter : NULL;
    }
    if (it && ASN1_INTEGER_get_int64(&v, it) == 1 && v > 0 && v <= P12_ITER_BUDGET - *sum) {
        *sum += v;
        ok = true;
    }
done:
    PBE2PARAM_free(p2);
    PBKDF2PARAM_free(kdf);
    PBEPARAM_free(pbe);
    return ok;
}

/* Counts the shrouded keys among bags (and nested safe contents). With order (a
 * preserveCertOrder import) the X.509 certificate bags are collected in file order on the way -
 * the walk already holds every safe decrypted, so the order costs no second derivation;
 * *oom says one could not be kept. */
static bool p12_count_bags(const STACK_OF(PKCS12_SAFEBAG) * bags, int depth, int64_t *sum,
                           STACK_OF(X509) * order, bool *oom)
{
    if (depth > P12_DEPTH_MAX)
        return false;
    for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        const X509_ALGOR *alg;
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_pkcs8ShroudedKeyBag:
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
            if (!alg || !p12_count(alg, sum))
                return false;
            break;
        case NID_safeContentsBag:
            if (!p12_count_bags(PKCS12_SAFEBAG_get0_safes(bag), depth + 1, sum, order, oom))
                return false;
            break;
        case NID_certBag: {
            /* what PKCS12_parse takes: x509Certificate bags (a malformed one fails it there) */
            X509 *x = order && PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate
                          ? PKCS12_SAFEBAG_get1_cert(bag)
                          : NULL;
            if (x && !sk_X509_push(order, x)) {
                X509_free(x);
                *oom = true;
            }
            break;
        }
        default:
            break;
        }
    }
    return true;
}

/* Reads every iteration count of p12 before PKCS12_parse derives anything. The bags inside an
 * encrypted safe are only visible decrypted: its own count is checked first, then it is
 * decrypted with the password PKCS12_parse will use (pwd, or "" then absent) - when that fails
 * so would the parse, and *wrong_pwd says so. order (may be NULL) gets the certificates in
 * file order (p12_count_bags). */
static cf_err p12_check_cost(PKCS12 *p12, const char *pwd, bool *wrong_pwd,
                             STACK_OF(X509) * order, char *why, size_t whysz)
{
    static const char too_costly[] =
        "The PKCS#12 (PFX) data's password iteration counts are too high (at most 600000 in "
        "all).";
    STACK_OF(PKCS7) *safes = NULL;
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    const ASN1_INTEGER *mac_iter = NULL;
    int64_t sum = 0, v = 1;
    bool oom = false;
    cf_err e = CF_OK;

    *wrong_pwd = false;
    if (PKCS12_mac_present(p12)) {
        PKCS12_get0_mac(NULL, NULL, NULL, &mac_iter, p12);
        if (mac_iter && ASN1_INTEGER_get_int64(&v, mac_iter) != 1)
            v = -1;
        if (v <= 0 || v > P12_ITER_BUDGET)
            return badp(why, whysz, too_costly);
        sum = v;
    }
    if (!(safes = PKCS12_unpack_authsafes(p12)))
        return badp(why, whysz, "The certificate data is not a valid PKCS#12 (PFX) file.");
    for (int i = 0; i < sk_PKCS7_num(safes) && !e && !*wrong_pwd; i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            bags = PKCS12_unpack_p7data(p7);
            break;
        case NID_pkcs7_encrypted:
            if (!p7->d.encrypted || !p7->d.encrypted->enc_data ||
                !p12_count(p7->d.encrypted->enc_data->algorithm, &sum)) {
                e = badp(why, whysz, too_costly);
                continue;
            }
            bags = PKCS12_unpack_p7encdata(p7, pwd ? pwd : "", -1);
            if (!bags && !(pwd && pwd[0]))
                bags = PKCS12_unpack_p7encdata(p7, NULL, 0);
            *wrong_pwd = !bags;
            break;
        default:
            continue; /* PKCS12_parse skips them too */
        }
        if (bags && !p12_count_bags(bags, 0, &sum, order, &oom))
            e = badp(why, whysz, too_costly);
        else if (oom)
            e = CF_ENOMEM;
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        bags = NULL;
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    cf_crypto_clear();
    return e;
}

cf_err cf_cert_from_pkcs12(const void *p, size_t n, const char *pwd, bool preserve,
                           struct cf_kvkey **key, struct cf_buf *chain, char *why, size_t whysz)
{
    const unsigned char *q = p;
    PKCS12 *p12;
    EVP_PKEY *pk = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL, *all = NULL, *order = NULL;
    bool wrong_pwd;
    cf_err e;

    *key = NULL;
    if (!p || n == 0 || n > 256 * 1024)
        return badp(why, whysz, "The certificate data is not a valid PKCS#12 (PFX) file.");
    /* PEM text that came base64-encoded: the Python SDK's import_certificate encodes whatever
     * bytes it is given, PEM included, and the service takes it (DER starts with 0x30) */
    for (size_t i = 0; i < n && i < 64; i++) {
        if (n - i >= 10 && memcmp((const char *)p + i, "-----BEGIN", 10) == 0)
            return cf_cert_from_pem(p, n, pwd, preserve, key, chain, why, whysz);
        if (!isspace(((const unsigned char *)p)[i]))
            break;
    }
    p12 = d2i_PKCS12(NULL, &q, (long)n);
    if (!p12)
        return badp(why, whysz, "The certificate data is not a valid PKCS#12 (PFX) file.");
    /* preserve: PKCS12_parse hands back the key's certificate apart from the others, so the
     * file's order is read from the bags themselves (during the cost walk) */
    if (preserve && !(order = sk_X509_new_null())) {
        e = cf_crypto_fail("certificate list");
        goto done;
    }
    if ((e = p12_check_cost(p12, pwd, &wrong_pwd, order, why, whysz)) != CF_OK)
        goto done;
    /* an empty password is tried both as "" and as absent, as PFX tools differ */
    if (wrong_pwd ||
        (PKCS12_parse(p12, pwd ? pwd : "", &pk, &cert, &ca) != 1 &&
         (pwd && pwd[0] ? true : PKCS12_parse(p12, NULL, &pk, &cert, &ca) != 1))) {
        e = badp(why, whysz,
                 "The specified PKCS#12 (PFX) data could not be opened: wrong password or "
                 "corrupt data.");
        goto done;
    }
    if (!pk) {
        e = badp(why, whysz, "The PKCS#12 (PFX) data contains no private key.");
        goto done;
    }
    if (order && sk_X509_num(order) == (cert ? 1 : 0) + (ca ? sk_X509_num(ca) : 0)) {
        all = order; /* the parse's certificates, in the file's order */
        order = NULL;
    } else {
        all = sk_X509_new_null();
        if (!all || (cert && !sk_X509_push(all, cert))) {
            e = cf_crypto_fail("certificate list");
            goto done;
        }
        cert = NULL; /* owned by all now */
        for (int i = 0; ca && i < sk_X509_num(ca); i++) {
            if (!sk_X509_push(all, sk_X509_value(ca, i))) {
                e = cf_crypto_fail("certificate list");
                goto done;
            }
            sk_X509_set(ca, i, NULL);
        }
    }
    if ((e = chain_out(all, pk, preserve, chain, why, whysz)) != CF_OK)
        goto done;
    e = evp_to_kv(pk, key);
    if (e == CF_EBADPARAM)
        badp(why, whysz, "The certificate's key type or size is not supported.");
done:
    sk_X509_pop_free(order, X509_free);
    sk_X509_pop_free(all, X509_free);
    sk_X509_pop_free(ca, X509_free);
    X509_free(cert);
    EVP_PKEY_free(pk);
    PKCS12_free(p12);
    cf_crypto_clear();
    return e;
}

static int pem_pwd_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pwd = u;
    size_t n = pwd ? strlen(pwd) : 0;
    (void)rwflag;
    if (!pwd || n >= (size_t)size)
        return -1;
    memcpy(buf, pwd, n);
    return (int)n;
}

/* The second pass over PEM text for an encrypted private key, which PEM_X509_INFO_read_bio
 * keeps undecrypted: the first "ENCRYPTED PRIVATE KEY" (PKCS#8, PBES2 / PBE) or traditional
 * "... PRIVATE KEY" block with a Proc-Type ENCRYPTED header is decrypted with pwd. A PKCS#8
 * block's PBKDF2 / PBE iteration count is checked against the PKCS#12 budget first (the same
 * CPU cost question); the traditional form derives its key with one MD5 round. *seen: such a
 * block was there (whether or not it decrypted). */
static cf_err pem_encrypted_key(const char *pem, size_t n, const char *pwd, EVP_PKEY **pk,
                                bool *seen, char *why, size_t whysz)
{
    BIO *in = BIO_new_mem_buf(pem, (int)n), *one = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    cf_err e = CF_OK;

    *seen = false;
    if (!in)
        return cf_crypto_fail("PEM buffer");
    while (!*pk && !e && PEM_read_bio(in, &name, &header, &data, &len) == 1) {
        bool pkcs8 = strcmp(name, PEM_STRING_PKCS8) == 0;
        size_t nl = strlen(name);
        if (pkcs8 || (nl > 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0 &&
                      strstr(header, "ENCRYPTED"))) {
            *seen = true;
            if (pkcs8) {
                const unsigned char *q = data;
                X509_SIG *sig = d2i_X509_SIG(NULL, &q, len);
                const X509_ALGOR *alg = NULL;
                int64_t sum = 0;
                if (sig)
                    X509_SIG_get0(sig, &alg, NULL);
                if (sig && alg && !p12_count(alg, &sum))
                    e = badp(why, whysz,
                             "The PEM private key's password iteration count is too high (at "
                             "most 600000).");
                X509_SIG_free(sig);
            }
            if (!e && pwd && pwd[0] && (one = BIO_new(BIO_s_secmem())) &&
                PEM_write_bio(one, name, header, data, len) > 0)
                *pk = PEM_read_bio_PrivateKey(one, NULL, pem_pwd_cb, (void *)(uintptr_t)pwd);
            BIO_free(one);
            one = NULL;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, (size_t)len);
        name = header = NULL;
        data = NULL;
    }
    BIO_free(in);
    cf_crypto_clear();
    return e;
}

cf_err cf_cert_from_pem(const char *pem, size_t n, const char *pwd, bool preserve,
                        struct cf_kvkey **key, struct cf_buf *chain, char *why, size_t whysz)
{
    BIO *bio;
    STACK_OF(X509_INFO) *infos = NULL;
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *pk = NULL;
    bool enc = false;
    cf_err e = CF_OK;

    *key = NULL;
    if (!pem || n == 0 || n > 256 * 1024)
        return badp(why, whysz, "The certificate data is not valid PEM.");
    bio = BIO_new_mem_buf(pem, (int)n);
    if (!bio)
        return cf_crypto_fail("PEM buffer");
    infos = PEM_X509_INFO_read_bio(bio, NULL, pem_pwd_cb, (void *)(uintptr_t)pwd);
    certs = sk_X509_new_null();
    if (!infos || !certs) {
        e = badp(why, whysz, "The certificate data is not valid PEM.");
        goto done;
    }
    for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *in = sk_X509_INFO_value(infos, i);
        if (in->x509) {
            if (!sk_X509_push(certs, in->x509)) {
                e = cf_crypto_fail("certificate list");
                goto done;
            }
            in->x509 = NULL;
        }
        if (in->x_pkey && in->x_pkey->dec_pkey && !pk) {
            pk = in->x_pkey->dec_pkey;
            in->x_pkey->dec_pkey = NULL;
        }
    }
    if (!pk && (e = pem_encrypted_key(pem, n, pwd, &pk, &enc, why, whysz)) != CF_OK)
        goto done;
    if (!pk) {
        e = badp(why, whysz,
                 !enc ? "The PEM data contains no (readable) private key."
                 : pwd && pwd[0]
                     ? "The PEM private key could not be decrypted: wrong password or corrupt "
                       "data."
                     : "The PEM private key is encrypted and no password was given.");
        goto done;
    }
    if ((e = chain_out(certs, pk, preserve, chain, why, whysz)) != CF_OK)
        goto done;
    e = evp_to_kv(pk, key);
    if (e == CF_EBADPARAM)
        badp(why, whysz, "The certificate's key type or size is not supported.");
done:
    sk_X509_pop_free(certs, X509_free);
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    EVP_PKEY_free(pk);
    BIO_free(bio);
    cf_crypto_clear();
    return e;
}

/* Parses every certificate of chain into a new stack. */
static cf_err chain_stack(const void *chain, size_t n, STACK_OF(X509) * *out)
{
    STACK_OF(X509) *st = sk_X509_new_null();
    const unsigned char *der;
    size_t off = 0, len;

    *out = NULL;
    if (!st)
        return cf_crypto_fail("certificate list");
    while (cf_cert_chain_next(chain, n, &off, &der, &len)) {
        X509 *x = parse_der(der, len);
        if (!x || !sk_X509_push(st, x)) {
            X509_free(x);
            sk_X509_pop_free(st, X509_free);
            return CF_EBADPARAM;
        }
    }
    if (off != n || sk_X509_num(st) == 0) {
        sk_X509_pop_free(st, X509_free);
        return CF_EBADPARAM;
    }
    *out = st;
    return CF_OK;
}

/* The chain's certificates go into the PFX in the chain's order (a preserveCertOrder import
 * may list the CA before the leaf); the one whose public key is k's carries the key's
 * localKeyID, as PKCS12_create marks its leaf. Same algorithms as PKCS12_create's OpenSSL 3
 * defaults: AES-256-CBC/PBKDF2 for the bags, SHA-256 MAC. */
cf_err cf_cert_to_pkcs12(const struct cf_kvkey *k, const void *chain, size_t n, struct cf_buf *pfx)
{
    STACK_OF(X509) *st = NULL;
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    EVP_PKEY *pk = NULL;
    PKCS12 *p12 = NULL;
    unsigned char keyid[EVP_MAX_MD_SIZE], *p = NULL;
    unsigned int keyidlen = 0;
    int len, leaf = -1;
    cf_err e;

    if ((e = chain_stack(chain, n, &st)) != CF_OK)
        return e;
    if (k && (e = kv_to_evp(k, &pk)) != CF_OK)
        goto done;
    for (int i = 0; pk && i < sk_X509_num(st) && leaf < 0; i++)
        if (key_matches(sk_X509_value(st, i), pk))
            leaf = i;
    /* a key that matches no certificate: refused as PKCS12_create refuses it */
    if (pk && (leaf < 0 || !X509_digest(sk_X509_value(st, leaf), EVP_sha1(), keyid, &keyidlen)))
        goto fail;
    for (int i = 0; i < sk_X509_num(st); i++) {
        PKCS12_SAFEBAG *bag = PKCS12_add_cert(&bags, sk_X509_value(st, i));
        if (!bag || (i == leaf && !PKCS12_add_localkeyid(bag, keyid, (int)keyidlen)))
            goto fail;
    }
    /* empty password, as the service's certificate secrets are (§1) */
    if (!PKCS12_add_safe(&safes, bags, NID_aes_256_cbc, PKCS12_DEFAULT_ITER, ""))
        goto fail;
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    bags = NULL;
    if (pk) {
        PKCS12_SAFEBAG *bag =
            PKCS12_add_key(&bags, pk, 0, PKCS12_DEFAULT_ITER, NID_aes_256_cbc, "");
        if (!bag || !PKCS12_add_localkeyid(bag, keyid, (int)keyidlen) ||
            !PKCS12_add_safe(&safes, bags, -1, 0, NULL))
            goto fail;
    }
    p12 = PKCS12_add_safes(safes, 0);
    if (!p12 || !PKCS12_set_mac(p12, "", -1, NULL, 0, 1, NULL))
        goto fail;
    len = i2d_PKCS12(p12, &p);
    if (len <= 0 || !p) {
        e = cf_crypto_fail("PKCS#12 encode");
        goto done;
    }
    e = cf_buf_append(pfx, p, (size_t)len);
    OPENSSL_clear_free(p, (size_t)len);
    goto done;
fail:
    e = cf_crypto_fail("PKCS#12 create");
done:
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    sk_X509_pop_free(st, X509_free);
    EVP_PKEY_free(pk);
    return e;
}

cf_err cf_cert_to_pem(const struct cf_kvkey *k, const void *chain, size_t n, struct cf_buf *pem)
{
    STACK_OF(X509) *st = NULL;
    EVP_PKEY *pk = NULL;
    BIO *bio = NULL;
    char *data = NULL;
    long len;
    cf_err e;

    if ((e = chain_stack(chain, n, &st)) != CF_OK)
        return e;
    if (k && (e = kv_to_evp(k, &pk)) != CF_OK)
        goto done;
    bio = BIO_new(BIO_s_secmem());
    if (!bio || (pk && PEM_write_bio_PKCS8PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1)) {
        e = cf_crypto_fail("PEM write");
        goto done;
    }
    for (int i = 0; i < sk_X509_num(st); i++) {
        if (PEM_write_bio_X509(bio, sk_X509_value(st, i)) != 1) {
            e = cf_crypto_fail("PEM write");
            goto done;
        }
    }
    len = BIO_get_mem_data(bio, &data);
    e = len > 0 && data ? cf_buf_append(pem, data, (size_t)len) : cf_crypto_fail("PEM buffer");
done:
    BIO_free(bio);
    sk_X509_pop_free(st, X509_free);
    EVP_PKEY_free(pk);
    return e;
}

/* ---------------- signing a CSR (a CA's side of the Unknown-issuer flow) ---------------- */

cf_err cf_cert_sign_csr(const struct cf_kvkey *ca_key, const void *ca_der, size_t ca_len,
                        const void *csr_der, size_t csr_len, int64_t not_before,
                        int64_t not_after, struct cf_buf *der)
{
    const unsigned char *p = csr_der;
    unsigned char serial[16], *out = NULL;
    X509_REQ *req = NULL;
    X509 *ca = NULL, *x = NULL;
    EVP_PKEY *pk = NULL, *sub = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    BIGNUM *bn = NULL;
    cf_err e;

    if (!ca_key || !csr_der || csr_len == 0 || not_after <= not_before)
        return CF_EINVAL;
    ca = parse_der(ca_der, ca_len);
    req = d2i_X509_REQ(NULL, &p, (long)csr_len);
    if (!ca || !req || !(sub = X509_REQ_get_pubkey(req)) || X509_REQ_verify(req, sub) != 1) {
        e = CF_EBADPARAM;
        cf_crypto_clear();
        goto done;
    }
    if ((e = kv_to_evp(ca_key, &pk)) != CF_OK || (e = cf_random(serial, 16)) != CF_OK)
        goto done;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
    x = X509_new();
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    exts = X509_REQ_get_extensions(req);
    if (!x || !bn || X509_set_version(x, X509_VERSION_3) != 1 ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        X509_set_subject_name(x, X509_REQ_get_subject_name(req)) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 || X509_set_pubkey(x, sub) != 1) {
        e = cf_crypto_fail("certificate fields");
        goto done;
    }
    if ((e = set_time(X509_getm_notBefore(x), not_before)) != CF_OK ||
        (e = set_time(X509_getm_notAfter(x), not_after)) != CF_OK)
        goto done;
    for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
        if (X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1) != 1) {
            e = cf_crypto_fail("certificate extension");
            goto done;
        }
    }
    if (X509_sign(x, pk, md_for(pk)) <= 0) {
        e = cf_crypto_fail("certificate signing");
        goto done;
    }
    {
        int n = i2d_X509(x, &out);
        e = append_der(der, n, &out);
    }
done:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    BN_free(bn);
    X509_free(x);
    X509_free(ca);
    X509_REQ_free(req);
    EVP_PKEY_free(sub);
    EVP_PKEY_free(pk);
    return e;
}

/* ---------------- shared with x509_assemble.c (x509_int.h) ---------------- */

cf_err cf_cert_int_subject(const char *s, X509_NAME **out, char *why, size_t whysz)
{
    return parse_subject(s, out, why, whysz);
}

cf_err cf_cert_int_exts(const struct cf_cert_req *req, STACK_OF(X509_EXTENSION) * *out, char *why,
                        size_t whysz)
{
    return build_exts(req, out, why, whysz);
}

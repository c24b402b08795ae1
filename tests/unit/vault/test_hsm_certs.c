/* test_hsm_certs.c - certificates whose policy asks for RSA-HSM / EC-HSM keys, through the vault
 * service with a fake token (software keys behind struct cf_vault_hsm_ops, as test_keys_hsm.c;
 * the real SoftHSM2 token is covered by the hsmcerts e2e suite): the key is generated on the
 * token, the certificate is signed there and verifies with its own public key, the store's key
 * row holds only the sealed handle, the kid signs through the keys API on the token (checked
 * with the certificate's public key), the secret holds no private key; exportable:true is a
 * 400 and without a token the create is refused as an -HSM key is; the Unknown flow's CSR
 * verifies and merges; purge destroys the token object; backup/restore shares it (and a
 * backup whose object is gone does not restore); renewal with reuse_key keeps the object;
 * CofferCA signs the token key's CSR; an Unknown operation's token key goes with the operation
 * (cancel, delete, purge). Imports with an -HSM policy put the key on the token (fake
 * import), refuse a mismatched type, exportable:true and a missing token or import, and a
 * policy update to an -HSM kty is refused without a token. */
#include "base/cf.h"

#include "base/codec.h"
#include "base/json.h"
#include "store/store_keys.h"
#include "fixture.h"
#include "fake_hsm.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

static int setup(void **state)
{
    int r = fx_setup(state);
    struct fx *f = *state;
    memset(&g_tok, 0, sizeof(g_tok));
    if (!r) {
        cf_vault_svc_set_hsm(f->svc, (struct cf_hsm *)&g_tok, &fake_ops);
        cf_vault_svc_set_hsm_import(f->svc, f_import);
    }
    return r;
}

static int setup_no_token(void **state)
{
    memset(&g_tok, 0, sizeof(g_tok));
    return fx_setup(state);
}

static int teardown(void **state)
{
    fake_tok_reset();
    return fx_teardown(state);
}

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

#define SELF_RSA                                                                                   \
    "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"RSA-HSM\",\"key_size\":2048,"        \
    "\"reuse_key\":true},\"x509_props\":{\"subject\":\"CN=hsm-rsa\"}}"
#define SELF_EC                                                                                    \
    "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC-HSM\",\"crv\":\"P-384\","         \
    "\"exportable\":false},\"x509_props\":{\"subject\":\"CN=hsm-ec\"}}"
#define UNKNOWN_EC                                                                                 \
    "{\"issuer\":{\"name\":\"Unknown\"},\"key_props\":{\"kty\":\"EC-HSM\"},"                       \
    "\"x509_props\":{\"subject\":\"CN=hsm-csr\"}}"

/* sig (the keys API's form) over digest verifies with the certificate's public key. */
static bool verify_with_cert(const struct cf_buf *cer, const char *alg, const unsigned char *dg,
                             size_t dlen, const struct cf_buf *sig)
{
    const unsigned char *p = (const unsigned char *)cer->data;
    X509 *x = d2i_X509(NULL, &p, (long)cer->len);
    EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
    EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
    unsigned char der[256], *dp = der;
    const unsigned char *sp = (const unsigned char *)sig->data;
    size_t slen = sig->len;
    int ok = 0;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    if (alg[0] == 'E') { /* r||s -> ECDSA-Sig-Value */
        ECDSA_SIG *s = ECDSA_SIG_new();
        size_t c = sig->len / 2;
        ECDSA_SIG_set0(s, BN_bin2bn(sp, (int)c, NULL), BN_bin2bn(sp + c, (int)c, NULL));
        slen = (size_t)i2d_ECDSA_SIG(s, &dp);
        ECDSA_SIG_free(s);
        sp = der;
    } else {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
    }
    ok = EVP_PKEY_verify(ctx, sp, slen, dg, dlen);
    EVP_PKEY_CTX_free(ctx);
    X509_free(x);
    return ok == 1;
}

static bool self_verifies(const struct cf_buf *cer)
{
    const unsigned char *p = (const unsigned char *)cer->data;
    X509 *x = d2i_X509(NULL, &p, (long)cer->len);
    bool ok = x && X509_verify(x, X509_get0_pubkey(x)) == 1;
    X509_free(x);
    return ok;
}

static void sign_via_kid(struct fx *f, const char *name, const char *alg, const struct cf_buf *cer)
{
    struct cf_key_op_args a = {.op = CF_KEY_SIGN, .alg = alg};
    struct cf_key_op_result res;
    unsigned char dg[48] = {7, 1, 2};
    size_t dlen = strstr(alg, "384") ? 48 : 32;
    char why[128];
    int before = g_tok.signs;

    memset(&res, 0, sizeof(res));
    cf_buf_init(&res.out, 1024);
    a.value = (struct cf_str){(const char *)dg, dlen};
    assert_int_equal(cf_key_operate(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &a, &res,
                                    why, sizeof(why)),
                     CF_OK);
    assert_int_equal(g_tok.signs, before + 1); /* the token signed */
    assert_true(verify_with_cert(cer, alg, dg, dlen, &res.out));
    cf_buf_release(&res.out);
}

struct row {
    const char *name;
    size_t priv_len;
    char kty[16];
};
static cf_err row_fn(struct cf_store_txn *t, void *arg)
{
    struct row *r = arg;
    struct cf_rec_key_obj o;
    struct cf_rec_key_ver v;
    cf_err e = cf_store_key_obj_get(t, 1, r->name, &o);
    if (e)
        return e;
    memset(&v, 0, sizeof(v));
    e = cf_store_key_ver_get(t, o.id, o.latest_seq, NULL, true, &v);
    if (!e) {
        r->priv_len = v.priv.len;
        snprintf(r->kty, sizeof(r->kty), "%s", v.kty);
    }
    cf_rec_key_ver_release(&v);
    return e;
}

static void check_self(struct fx *f, const char *name, const char *kty, const char *alg)
{
    struct cf_cert_meta m;
    struct cf_key_meta km;
    struct cf_secret_meta sm;
    struct cf_secret *val = NULL;
    struct row r = {name, 0, ""};

    assert_int_equal(cf_cert_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &m), CF_OK);
    assert_string_equal(m.policy->kty, kty);
    assert_false(m.policy->exportable);
    assert_true(self_verifies(&m.cer));
    /* the key: kty -HSM, managed; the row holds only the sealed handle (4 + 16 bytes) */
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &km), CF_OK);
    assert_string_equal(km.kty, kty);
    assert_true(km.managed);
    assert_string_equal(km.version, m.version);
    cf_key_meta_release(&km);
    assert_int_equal(cf_store_read(f->store, row_fn, &r), CF_OK);
    assert_string_equal(r.kty, kty);
    assert_int_equal(r.priv_len, 20 + CF_AEAD_OVERHEAD);
    sign_via_kid(f, name, alg, &m.cer);
    /* the secret: the certificate only */
    assert_int_equal(cf_secret_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &sm, &val),
                     CF_OK);
    {
        struct cf_buf pfx;
        const unsigned char *p;
        PKCS12 *p12;
        EVP_PKEY *pk = NULL;
        X509 *x = NULL;
        STACK_OF(X509) *ca = NULL;
        cf_buf_init(&pfx, 64 * 1024);
        assert_int_equal(cf_b64_decode(&pfx, (struct cf_str){(const char *)val->p, val->len}),
                         CF_OK);
        p = (const unsigned char *)pfx.data;
        p12 = d2i_PKCS12(NULL, &p, (long)pfx.len);
        assert_non_null(p12);
        assert_int_equal(PKCS12_parse(p12, "", &pk, &x, &ca), 1);
        assert_null(pk); /* no key: with none, PKCS12_parse leaves the certificate in ca */
        assert_int_equal((x ? 1 : 0) + (ca ? sk_X509_num(ca) : 0), 1);
        X509_free(x);
        sk_X509_pop_free(ca, X509_free);
        PKCS12_free(p12);
        cf_buf_release(&pfx);
    }
    cf_secret_free(val);
    cf_secret_meta_release(&sm);
    cf_cert_meta_release(&m);
}

static void self_signed(void **state)
{
    struct fx *f = *state;
    struct cf_cert_op op;
    char why[256] = "";

    assert_int_equal(create(f, "hr", SELF_RSA, &op, why, sizeof(why)), CF_OK);
    assert_string_equal(op.status, "completed");
    cf_cert_op_release(&op);
    assert_int_equal(create(f, "he", SELF_EC, &op, why, sizeof(why)), CF_OK);
    assert_string_equal(op.status, "completed");
    cf_cert_op_release(&op);
    assert_int_equal(g_tok.gens, 2);
    assert_int_equal(live(), 2);
    check_self(f, "hr", "RSA-HSM", "RS256");
    check_self(f, "he", "EC-HSM", "ES384");

    /* renewal with reuse_key keeps the token object; without it a new one is made */
    fx_advance(f, 330 * 86400);
    int renewed = 0;
    assert_int_equal(cf_vault_certs_renew_due(f->svc, &renewed), CF_OK);
    assert_int_equal(renewed, 2);
    assert_int_equal(g_tok.gens, 3); /* only "he" got a new key */
    check_self(f, "hr", "RSA-HSM", "RS256");
    check_self(f, "he", "EC-HSM", "ES384");

    /* purge destroys every version's objects: hr's one (shared by its two versions) */
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("hr"), NULL), CF_OK);
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("hr")), CF_OK);
    assert_int_equal(g_tok.destroys, 1);
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("he"), NULL), CF_OK);
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("he")), CF_OK);
    assert_int_equal(g_tok.destroys, 3);
    assert_int_equal(live(), 0);
}

static void policy_rules(void **state)
{
    struct fx *f = *state;
    struct cf_cert_op op;
    char why[256] = "";

    assert_int_equal(create(f, "x",
                            "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"RSA-HSM\","
                            "\"exportable\":true},\"x509_props\":{\"subject\":\"CN=x\"}}",
                            &op, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "exportable"));
    assert_int_equal(create(f, "x",
                            "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC-HSM\","
                            "\"crv\":\"P-384\",\"key_size\":256},\"x509_props\":{\"subject\":"
                            "\"CN=x\"}}",
                            &op, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(create(f, "x",
                            "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"oct-HSM\"},"
                            "\"x509_props\":{\"subject\":\"CN=x\"}}",
                            &op, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(g_tok.gens, 0); /* nothing reached the token */
    /* an issuer this server cannot reach: the token key is not kept */
    assert_int_equal(create(f, "x",
                            "{\"issuer\":{\"name\":\"DigiCert\"},\"key_props\":{\"kty\":\"EC-HSM\"},"
                            "\"x509_props\":{\"subject\":\"CN=x\"}}",
                            &op, why, sizeof(why)),
                     CF_EBADPARAM); /* not configured */
    assert_int_equal(live(), 0);
}

static void no_token(void **state)
{
    struct fx *f = *state;
    struct cf_cert_op op;
    struct cf_cert_meta m;
    char why[256] = "";

    assert_int_equal(create(f, "hr", SELF_RSA, &op, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "needs a hardware security module"));
    assert_int_equal(create(f, "hu", UNKNOWN_EC, &op, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "EC-HSM"));
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("hr"), CF_STR(""), &m), CF_ENOTFOUND);
}

static void unknown_merge(void **state)
{
    struct fx *f = *state;
    struct cf_cert_op op;
    struct cf_cert_meta m;
    struct cf_kvkey *ca = NULL;
    struct cf_buf ca_der, leaf;
    struct cf_cert_req r = {.subject = "CN=Test CA", .not_before = T0 - 60,
                            .not_after = T0 + 86400 * 400};
    char why[256] = "";
    const unsigned char *p;
    X509_REQ *req;

    assert_int_equal(create(f, "hu", UNKNOWN_EC, &op, why, sizeof(why)), CF_OK);
    assert_string_equal(op.status, "inProgress");
    p = (const unsigned char *)op.csr.data;
    req = d2i_X509_REQ(NULL, &p, (long)op.csr.len);
    assert_non_null(req);
    assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    X509_REQ_free(req);
    assert_int_equal(live(), 1);

    cf_buf_init(&ca_der, 16384);
    cf_buf_init(&leaf, 16384);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &ca), CF_OK);
    assert_int_equal(cf_cert_self_signed(ca, &r, &ca_der, NULL, 0), CF_OK);
    /* a certificate for another key does not merge */
    assert_int_equal(cf_cert_merge(f->svc, &f->ref, CF_STR("hu"),
                                   (struct cf_str){ca_der.data, ca_der.len}, NULL, &m, why,
                                   sizeof(why)),
                     CF_EBADPARAM);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_sign_csr(ca, ca_der.data, ca_der.len, op.csr.data, op.csr.len,
                                      T0 - 60, T0 + 86400 * 300, &leaf),
                     CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_merge(f->svc, &f->ref, CF_STR("hu"),
                                   (struct cf_str){leaf.data, leaf.len}, NULL, &m, why,
                                   sizeof(why)),
                     CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_op_get(f->svc, &f->ref, CF_STR("hu"), &op), CF_OK);
    assert_string_equal(op.status, "completed");
    cf_cert_op_release(&op);
    {
        struct row rw = {"hu", 0, ""};
        assert_int_equal(cf_store_read(f->store, row_fn, &rw), CF_OK);
        assert_string_equal(rw.kty, "EC-HSM");
    }
    sign_via_kid(f, "hu", "ES256", &leaf);
    assert_int_equal(g_tok.gens, 1);
    cf_kvkey_free(ca);
    cf_buf_release(&ca_der);
    cf_buf_release(&leaf);
}

static void backup_restore(void **state)
{
    struct fx *f = *state;
    struct cf_cert_op op;
    struct cf_cert_meta m;
    struct cf_vault_ref other;
    struct cf_buf blob;
    char why[256] = "";

    assert_int_equal(create(f, "hb", SELF_EC, &op, why, sizeof(why)), CF_OK);
    cf_cert_op_release(&op);
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_cert_backup(f->svc, &f->ref, CF_STR("hb"), &blob), CF_OK);
    /* restored into another vault: shares the token object */
    fx_make_vault(f, "othervault", 90, false, &other);
    assert_int_equal(cf_cert_restore(f->svc, &other, (struct cf_str){blob.data, blob.len}, &m),
                     CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(g_tok.gens, 1);
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("hb"), NULL), CF_OK);
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("hb")), CF_OK);
    assert_int_equal(g_tok.destroys, 0); /* the copy still holds it */
    {
        struct cf_key_op_args a = {.op = CF_KEY_SIGN, .alg = "ES384"};
        struct cf_key_op_result res;
        unsigned char dg[48] = {1};
        memset(&res, 0, sizeof(res));
        cf_buf_init(&res.out, 1024);
        a.value = (struct cf_str){(const char *)dg, 48};
        assert_int_equal(cf_key_operate(f->svc, &other, CF_STR("hb"), CF_STR(""), &a, &res, why,
                                        sizeof(why)),
                         CF_OK);
        cf_buf_release(&res.out);
    }
    assert_int_equal(cf_cert_delete(f->svc, &other, CF_STR("hb"), NULL), CF_OK);
    assert_int_equal(cf_cert_purge(f->svc, &other, CF_STR("hb")), CF_OK);
    assert_int_equal(g_tok.destroys, 1);
    /* the object is gone: the backup no longer restores */
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, (struct cf_str){blob.data, blob.len}, &m),
                     CF_EBADPARAM);
    cf_cert_meta_release(&m);
    cf_buf_release(&blob);
}

/* An Unknown operation's token key that no key version holds goes with the operation: cancel,
 * delete of the operation, purge of the certificate. */
static void pending_dropped(void **state)
{
    struct fx *f = *state;
    struct cf_cert_op op;
    char why[256] = "";

    assert_int_equal(create(f, "p1", UNKNOWN_EC, &op, why, sizeof(why)), CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(live(), 1);
    assert_int_equal(cf_cert_op_cancel(f->svc, &f->ref, CF_STR("p1"), &op), CF_OK);
    assert_string_equal(op.status, "cancelled");
    cf_cert_op_release(&op);
    assert_int_equal(live(), 0);
    assert_int_equal(cf_cert_op_delete(f->svc, &f->ref, CF_STR("p1"), &op), CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(g_tok.destroys, 1);

    assert_int_equal(create(f, "p2", UNKNOWN_EC, &op, why, sizeof(why)), CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_op_delete(f->svc, &f->ref, CF_STR("p2"), &op), CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(live(), 0);

    /* a certificate with a version and a new Unknown request in flight: purge drops both keys */
    assert_int_equal(create(f, "p3", SELF_EC, &op, why, sizeof(why)), CF_OK);
    cf_cert_op_release(&op);
    assert_int_equal(create(f, "p3", UNKNOWN_EC, &op, why, sizeof(why)), CF_OK);
    assert_string_equal(op.status, "inProgress");
    cf_cert_op_release(&op);
    assert_int_equal(live(), 2);
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("p3"), NULL), CF_OK);
    assert_int_equal(live(), 2); /* soft-deleted: recoverable, the keys stay */
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("p3")), CF_OK);
    assert_int_equal(live(), 0);
    assert_int_equal(g_tok.destroys, 4);
}

/* CofferCA only needs the subject public key: the token-signed CSR goes to the private CA. */
static void coffer_ca(void **state)
{
    struct fx *f = *state;
    struct cf_ca_spec spec = {.subject = "CN=Test Root", .kty = "EC", .validity_months = 24};
    struct cf_ca_info ca;
    struct cf_cert_op op;
    struct cf_cert_meta m;
    char why[256] = "";
    const unsigned char *p;
    X509 *root, *leaf;

    assert_int_equal(cf_ca_create(f->svc, &spec, &ca, why, sizeof(why)), CF_OK);
    assert_int_equal(create(f, "hc",
                            "{\"issuer\":{\"name\":\"CofferCA\"},\"key_props\":{\"kty\":"
                            "\"RSA-HSM\"},\"x509_props\":{\"subject\":\"CN=svc.internal\"}}",
                            &op, why, sizeof(why)),
                     CF_OK);
    assert_string_equal(op.status, "completed");
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("hc"), CF_STR(""), &m), CF_OK);
    p = (const unsigned char *)ca.cer.data;
    root = d2i_X509(NULL, &p, (long)ca.cer.len);
    p = (const unsigned char *)m.cer.data;
    leaf = d2i_X509(NULL, &p, (long)m.cer.len);
    assert_non_null(root);
    assert_non_null(leaf);
    assert_int_equal(X509_verify(leaf, X509_get0_pubkey(root)), 1);
    X509_free(root);
    X509_free(leaf);
    assert_int_equal(g_tok.gens, 1);
    sign_via_kid(f, "hc", "RS256", &m.cer);
    cf_cert_meta_release(&m);
    cf_ca_info_release(&ca);
}

/* ---------------- import with an -HSM policy (issue 13) ---------------- */

/* A self-signed certificate for a new software key (RSA 2048 or EC P-256) as the import's
 * value: base64 PFX (empty password) or PEM text; *key is that key. */
static void import_value(bool ec, bool pem, struct cf_buf *value, struct cf_kvkey **key)
{
    struct cf_cert_req r = {.subject = "CN=imported", .not_before = T0 - 60,
                            .not_after = T0 + 86400 * 200};
    struct cf_buf der, raw;

    cf_buf_init(&der, 16384);
    cf_buf_init(&raw, 65536);
    cf_buf_init(value, 131072);
    assert_int_equal(ec ? cf_kvkey_generate_ec(CF_CRV_P256, key)
                        : cf_kvkey_generate_rsa(2048, 0, key),
                     CF_OK);
    assert_int_equal(cf_cert_self_signed(*key, &r, &der, NULL, 0), CF_OK);
    if (pem) {
        assert_int_equal(cf_cert_to_pem(*key, der.data, der.len, value), CF_OK);
    } else {
        assert_int_equal(cf_cert_to_pkcs12(*key, der.data, der.len, &raw), CF_OK);
        assert_int_equal(cf_b64_encode(value, raw.data, raw.len), CF_OK);
    }
    cf_buf_release(&der);
    cf_buf_release(&raw);
}

static cf_err import(struct fx *f, const char *name, const struct cf_buf *value,
                     const char *policy, char *why, size_t whysz)
{
    struct cf_json *p = policy ? J(policy) : NULL;
    struct cf_cert_meta m;
    cf_err e = cf_cert_import(f->svc, &f->ref, cf_str_from(name),
                              (struct cf_str){value->data, value->len}, NULL, p, NULL, &m, why,
                              whysz);
    cf_cert_meta_release(&m);
    cf_json_free(p);
    return e;
}

#define POL_RSA_HSM "{\"key_props\":{\"kty\":\"RSA-HSM\"}}"
#define POL_EC_HSM                                                                                 \
    "{\"key_props\":{\"kty\":\"EC-HSM\",\"exportable\":false},\"secret_props\":{"               \
    "\"contentType\":\"application/x-pem-file\"}}"

/* The imported key goes onto the token: the key row is the sealed handle only, the kid signs
 * on the token with the certificate's key, the secret has no key; the policy says -HSM and
 * not exportable. */
static void import_hsm(void **state)
{
    struct fx *f = *state;
    struct cf_buf v;
    struct cf_kvkey *k = NULL;
    struct cf_cert_meta m;
    char why[256] = "";

    import_value(false, false, &v, &k);
    assert_int_equal(import(f, "ir", &v, POL_RSA_HSM, why, sizeof(why)), CF_OK);
    assert_int_equal(g_tok.imports, 1);
    assert_int_equal(live(), 1);
    check_self(f, "ir", "RSA-HSM", "RS256");
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("ir"), CF_STR(""), &m), CF_OK);
    assert_int_equal(m.policy->key_size, 2048);
    cf_cert_meta_release(&m);
    /* the same value without an -HSM policy stays in software: nothing more on the token */
    assert_int_equal(import(f, "soft", &v, NULL, why, sizeof(why)), CF_OK);
    assert_int_equal(import(f, "soft2", &v, "{\"key_props\":{\"kty\":\"RSA\"}}", why,
                            sizeof(why)),
                     CF_OK);
    assert_int_equal(g_tok.imports, 1);
    cf_kvkey_free(k);
    cf_buf_release(&v);

    /* EC, from PEM (Azure takes a PEM import's content type from the policy) */
    import_value(true, true, &v, &k);
    assert_int_equal(import(f, "ie", &v, POL_EC_HSM, why, sizeof(why)), CF_OK);
    assert_int_equal(g_tok.imports, 2);
    {
        struct row r = {"ie", 0, ""};
        assert_int_equal(cf_store_read(f->store, row_fn, &r), CF_OK);
        assert_string_equal(r.kty, "EC-HSM");
        assert_int_equal(r.priv_len, 20 + CF_AEAD_OVERHEAD);
    }
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("ie"), CF_STR(""), &m), CF_OK);
    assert_string_equal(m.policy->kty, "EC-HSM");
    assert_string_equal(m.policy->crv, "P-256");
    assert_false(m.policy->exportable);
    sign_via_kid(f, "ie", "ES256", &m.cer);
    cf_cert_meta_release(&m);
    {
        struct cf_secret_meta sm;
        struct cf_secret *val = NULL;
        assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("ie"), CF_STR(""), &sm, &val),
                         CF_OK);
        assert_null(strstr((const char *)val->p, "PRIVATE KEY"));
        assert_non_null(strstr((const char *)val->p, "BEGIN CERTIFICATE"));
        cf_secret_free(val);
        cf_secret_meta_release(&sm);
    }
    /* a new version under an -HSM name takes a new token object; purge drops both */
    assert_int_equal(import(f, "ie", &v, POL_EC_HSM, why, sizeof(why)), CF_OK);
    assert_int_equal(live(), 3);
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("ie"), NULL), CF_OK);
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("ie")), CF_OK);
    assert_int_equal(live(), 1);
    cf_kvkey_free(k);
    cf_buf_release(&v);
}

/* What is refused, and that nothing stays on the token then. */
static void import_hsm_refused(void **state)
{
    struct fx *f = *state;
    struct cf_buf v;
    struct cf_kvkey *k = NULL;
    char why[256] = "";

    import_value(true, false, &v, &k);
    /* an EC key under an RSA-HSM policy */
    assert_int_equal(import(f, "x", &v, POL_RSA_HSM, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "does not match"));
    /* exportable:true with -HSM */
    assert_int_equal(import(f, "x", &v,
                            "{\"key_props\":{\"kty\":\"EC-HSM\",\"exportable\":true}}", why,
                            sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "exportable"));
    assert_int_equal(g_tok.imports, 0);
    /* on the token, then the write fails (a soft-deleted name): the object is destroyed */
    assert_int_equal(import(f, "gone", &v, NULL, why, sizeof(why)), CF_OK);
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("gone"), NULL), CF_OK);
    assert_int_equal(import(f, "gone", &v, "{\"key_props\":{\"kty\":\"EC-HSM\"}}", why,
                            sizeof(why)),
                     CF_EDELETED);
    assert_int_equal(g_tok.imports, 1);
    assert_int_equal(g_tok.destroys, 1);
    assert_int_equal(live(), 0);
    /* a token without the import operation: refused, the key is not kept in software */
    cf_vault_svc_set_hsm_import(f->svc, NULL);
    assert_int_equal(import(f, "y", &v, "{\"key_props\":{\"kty\":\"EC-HSM\"}}", why,
                            sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "cannot import"));
    cf_kvkey_free(k);
    cf_buf_release(&v);
}

static cf_err pol_update(struct fx *f, const char *name, const char *policy, char *why,
                         size_t whysz)
{
    struct cf_json *p = J(policy);
    struct cf_cert_policy out;
    cf_err e = cf_cert_policy_update(f->svc, &f->ref, cf_str_from(name), p, &out, why, whysz);
    cf_json_free(p);
    return e;
}

/* Without a token: an -HSM import and a policy update to an -HSM kty get the create's 400 at
 * once (before, the update was taken and the next create or renewal failed). */
static void no_token_import_and_update(void **state)
{
    struct fx *f = *state;
    struct cf_buf v;
    struct cf_kvkey *k = NULL;
    struct cf_cert_meta m;
    struct cf_cert_policy pol;
    char why[256] = "";

    import_value(false, false, &v, &k);
    assert_int_equal(import(f, "n", &v, POL_RSA_HSM, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "needs a hardware security module"));
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("n"), CF_STR(""), &m), CF_ENOTFOUND);
    assert_int_equal(import(f, "n", &v, NULL, why, sizeof(why)), CF_OK);
    assert_int_equal(pol_update(f, "n", POL_RSA_HSM, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "needs a hardware security module"));
    assert_non_null(strstr(why, "RSA-HSM"));
    assert_int_equal(pol_update(f, "n", "{\"key_props\":{\"kty\":\"EC-HSM\"}}", why,
                                sizeof(why)),
                     CF_EBADPARAM);
    /* through the certificate update (PATCH with a policy) too */
    {
        struct cf_json *p = J(POL_RSA_HSM);
        assert_int_equal(cf_cert_update(f->svc, &f->ref, CF_STR("n"), CF_STR(""), NULL, p, &m,
                                        why, sizeof(why)),
                         CF_EBADPARAM);
        cf_cert_meta_release(&m);
        cf_json_free(p);
    }
    assert_int_equal(cf_cert_policy_get(f->svc, &f->ref, CF_STR("n"), &pol), CF_OK);
    assert_string_equal(pol.kty, "RSA");
    /* software changes still go through */
    assert_int_equal(pol_update(f, "n", "{\"key_props\":{\"kty\":\"EC\"}}", why, sizeof(why)),
                     CF_OK);
    assert_int_equal(cf_cert_policy_get(f->svc, &f->ref, CF_STR("n"), &pol), CF_OK);
    assert_string_equal(pol.kty, "EC");
    cf_kvkey_free(k);
    cf_buf_release(&v);
}

/* With a token the update to -HSM is taken (the next create makes the key there). */
static void update_to_hsm_with_token(void **state)
{
    struct fx *f = *state;
    struct cf_buf v;
    struct cf_kvkey *k = NULL;
    struct cf_cert_policy pol;
    char why[256] = "";

    import_value(false, false, &v, &k);
    assert_int_equal(import(f, "u", &v, NULL, why, sizeof(why)), CF_OK);
    assert_int_equal(pol_update(f, "u", POL_RSA_HSM, why, sizeof(why)), CF_OK);
    assert_int_equal(cf_cert_policy_get(f->svc, &f->ref, CF_STR("u"), &pol), CF_OK);
    assert_string_equal(pol.kty, "RSA-HSM");
    assert_false(pol.exportable);
    cf_kvkey_free(k);
    cf_buf_release(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(self_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(policy_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(no_token, setup_no_token, teardown),
        cmocka_unit_test_setup_teardown(unknown_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(backup_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(coffer_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(pending_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(import_hsm, setup, teardown),
        cmocka_unit_test_setup_teardown(import_hsm_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(no_token_import_and_update, setup_no_token, teardown),
        cmocka_unit_test_setup_teardown(update_to_hsm_with_token, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

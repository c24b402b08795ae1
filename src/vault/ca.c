/* ca.c - the server's private certificate authority (vault.h "private CA"): one CA per server
 * whose key is a Coffer key (RSA or EC, generated here, never exported) and whose root
 * certificate is handed to clients to trust; certificates whose policy names the CofferCA
 * issuer are signed by it (certs.c), so internal services get certificates that chain to one
 * root.
 *
 * Storage: three meta records written in one transaction -
 *   ca.cert  the root certificate (DER)
 *   ca.key   the CA private key (cf_kvkey_to_blob) sealed with AES-256-GCM under
 *            HKDF(backup key, "coffer private ca v1"), AAD "coffer ca key v1": the backup key
 *            comes from the derivation root, so the CA survives master-key rotations, and the
 *            store never sees the key in clear (a key version's barrier, at server level)
 *   ca.info  {"subject","kty","key_size","crv","created"} (what `coffer ca show` prints)
 * The CA is created once: a second create is CF_EEXISTS (replacing a root would orphan every
 * certificate it issued). */
#include "base/cf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"

#include "crypto/x509_ca.h"
#include "store/store_certs.h"
#include "vault/certs_int.h"

#define META_CERT "ca.cert"
#define META_KEY "ca.key"
#define META_INFO "ca.info"
#define KEY_AAD "coffer ca key v1"
#define SEAL_INFO "coffer private ca v1"
#define INFO_MAX 2048
#define KEY_SEALED_MAX (16 * 1024)
#define MONTH_S 2628000LL
#define BACKDATE_S 600

void cf_ca_info_release(struct cf_ca_info *i)
{
    if (i)
        cf_buf_release(&i->cer);
}

static void info_init(struct cf_ca_info *i)
{
    memset(i, 0, sizeof(*i));
    cf_buf_init(&i->cer, CF_STORE_CERT_DER_MAX);
}

static cf_err seal_key(const struct cf_vault_svc *svc, unsigned char out[CF_AEAD_KEY_LEN])
{
    return cf_hkdf_sha256(svc->backup_key, sizeof(svc->backup_key), NULL, 0, SEAL_INFO,
                          sizeof(SEAL_INFO) - 1, out, CF_AEAD_KEY_LEN);
}

/* ---------------- reading ---------------- */

struct read_ctx {
    struct cf_ca_info *info; /* may be NULL */
    struct cf_buf cert;
    struct cf_buf key;  /* sealed */
    struct cf_buf meta; /* ca.info text */
    bool want_key;
};

static cf_err read_fn(struct cf_store_txn *t, void *arg)
{
    struct read_ctx *c = arg;
    cf_err e;

    cf_buf_reset(&c->cert);
    cf_buf_reset(&c->key);
    cf_buf_reset(&c->meta);
    e = cf_store_meta_get(t, META_CERT, &c->cert);
    if (!e)
        e = cf_store_meta_get(t, META_INFO, &c->meta);
    if (!e && c->want_key)
        e = cf_store_meta_get(t, META_KEY, &c->key);
    return e;
}

static void info_from(struct cf_ca_info *out, const struct cf_buf *meta, const struct cf_buf *cert)
{
    struct cf_json *j = NULL;
    struct cf_cert_info ci;
    struct cf_buf t;
    int64_t n;
    size_t len;
    const char *s;

    if (cf_json_parse(meta->data, meta->len, &j, NULL, 0) == CF_OK) {
        if ((s = cf_json_str(cf_json_get(j, "subject"), &len)) && len < sizeof(out->subject))
            memcpy(out->subject, s, len + 1);
        if ((s = cf_json_str(cf_json_get(j, "kty"), &len)) && len < sizeof(out->kty))
            memcpy(out->kty, s, len + 1);
        if ((s = cf_json_str(cf_json_get(j, "crv"), &len)) && len < sizeof(out->crv))
            memcpy(out->crv, s, len + 1);
        if (cf_json_int(cf_json_get(j, "key_size"), &n))
            out->key_size = (int)n;
        if (cf_json_int(cf_json_get(j, "created"), &n))
            out->created = n;
        cf_json_free(j);
    }
    if (cf_cert_info(cert->data, cert->len, &ci) == CF_OK) {
        out->nbf = ci.not_before;
        out->exp = ci.not_after;
        cf_buf_init(&t, sizeof(out->x5t) - 1);
        if (cf_b64url_encode(&t, ci.sha1, sizeof(ci.sha1)) == CF_OK)
            memcpy(out->x5t, t.data, t.len + 1);
        cf_buf_release(&t);
    }
}

/* The CA: its certificate and info, and (key != NULL) its opened private key. */
static cf_err ca_load(struct cf_vault_svc *svc, struct cf_ca_info *info, struct cf_kvkey **key)
{
    struct read_ctx c;
    struct cf_secret *blob = NULL;
    unsigned char sk[CF_AEAD_KEY_LEN];
    cf_err e;

    memset(&c, 0, sizeof(c));
    cf_buf_init(&c.cert, CF_STORE_CERT_DER_MAX);
    cf_buf_init(&c.key, KEY_SEALED_MAX);
    cf_buf_init(&c.meta, INFO_MAX);
    c.want_key = key != NULL;
    e = cf_store_read(svc->store, read_fn, &c);
    if (e)
        goto out;
    if (info) {
        info_from(info, &c.meta, &c.cert);
        e = cf_buf_append(&info->cer, c.cert.data, c.cert.len);
    }
    if (!e && key) {
        e = seal_key(svc, sk);
        if (!e)
            e = cf_aead_open(sk, KEY_AAD, sizeof(KEY_AAD) - 1, c.key.data, c.key.len, &blob);
        cf_wipe(sk, sizeof(sk));
        if (!e)
            e = cf_kvkey_from_blob(blob->p, blob->len, key);
        if (e && e != CF_ENOMEM) {
            cf_error("vault: the private CA's key does not open");
            e = CF_ECORRUPT;
        }
    }
out:
    cf_secret_free(blob);
    cf_buf_release(&c.cert);
    cf_buf_release(&c.key);
    cf_buf_release(&c.meta);
    return e;
}

cf_err cf_ca_get(struct cf_vault_svc *svc, struct cf_ca_info *out)
{
    info_init(out);
    return ca_load(svc, out, NULL);
}

/* ---------------- creating ---------------- */

struct put_ctx {
    const struct cf_buf *cert, *key, *info;
};

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct put_ctx *c = arg;
    struct cf_buf probe;
    cf_err e;

    cf_buf_init(&probe, CF_STORE_CERT_DER_MAX);
    e = cf_store_meta_get(t, META_CERT, &probe);
    cf_buf_release(&probe);
    if (e == CF_OK)
        return CF_EEXISTS;
    if (e != CF_ENOTFOUND)
        return e;
    if ((e = cf_store_meta_put(t, META_KEY, c->key->data, c->key->len)) != CF_OK ||
        (e = cf_store_meta_put(t, META_INFO, c->info->data, c->info->len)) != CF_OK)
        return e;
    return cf_store_meta_put(t, META_CERT, c->cert->data, c->cert->len);
}

cf_err cf_ca_create(struct cf_vault_svc *svc, const struct cf_ca_spec *spec, struct cf_ca_info *out,
                    char *why, size_t whysz)
{
    const char *subject =
        spec && spec->subject && spec->subject[0] ? spec->subject : "CN=Coffer Internal CA";
    const char *kty = spec && spec->kty && spec->kty[0] ? spec->kty : "RSA";
    int months = spec && spec->validity_months ? spec->validity_months : 120;
    unsigned char sk[CF_AEAD_KEY_LEN];
    struct cf_kvkey *k = NULL;
    struct cf_secret *blob = NULL;
    struct cf_buf self, cert, sealed, info;
    struct cf_cert_req req;
    struct put_ctx pc;
    struct cf_jw w;
    int64_t now = cf_vault_now(svc);
    enum cf_crv crv = CF_CRV_P256;
    int bits = spec && spec->key_size ? spec->key_size : 0;
    cf_err e;

    info_init(out);
    cf_buf_init(&self, CF_STORE_CERT_DER_MAX);
    cf_buf_init(&cert, CF_STORE_CERT_DER_MAX);
    cf_buf_init(&sealed, KEY_SEALED_MAX);
    cf_buf_init(&info, INFO_MAX);
    if (months < 1 || months > 1200) {
        e = CF_EBADPARAM;
        if (why && whysz)
            snprintf(why, whysz, "validity_months must be 1 to 1200.");
        goto out;
    }
    if (strcasecmp(kty, "RSA") == 0) {
        kty = "RSA";
        bits = bits ? bits : 3072;
        e = cf_kvkey_generate_rsa(bits, 0, &k);
    } else if (strcasecmp(kty, "EC") == 0) {
        kty = "EC";
        if (spec && spec->crv && spec->crv[0] && !cf_crv_parse(cf_str_from(spec->crv), &crv))
            e = CF_EBADPARAM;
        else
            e = cf_kvkey_generate_ec(crv, &k);
        bits = 0;
    } else {
        e = CF_EBADPARAM;
    }
    if (e) {
        if (e == CF_EBADPARAM && why && whysz)
            snprintf(why, whysz,
                     "The CA key must be RSA (2048, 3072, 4096) or EC (P-256, "
                     "P-384, P-521).");
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.subject = subject;
    req.key_usage = cf_cert_ku_parse(CF_STR("keyCertSign")) | cf_cert_ku_parse(CF_STR("cRLSign")) |
                    cf_cert_ku_parse(CF_STR("digitalSignature"));
    req.not_before = now - BACKDATE_S;
    req.not_after = now + (int64_t)months * MONTH_S;
    if ((e = cf_cert_self_signed(k, &req, &self, why, whysz)) != CF_OK ||
        (e = cf_cert_make_ca(k, self.data, self.len, &cert)) != CF_OK)
        goto out;
    /* the key, sealed */
    if ((e = cf_kvkey_to_blob(k, &blob)) != CF_OK || (e = seal_key(svc, sk)) != CF_OK)
        goto out;
    e = cf_aead_seal(sk, KEY_AAD, sizeof(KEY_AAD) - 1, blob->p, blob->len, &sealed);
    cf_wipe(sk, sizeof(sk));
    if (e)
        goto out;
    cf_jw_init(&w, &info);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "subject", subject);
    cf_jw_kstr(&w, "kty", kty);
    if (bits)
        cf_jw_kint(&w, "key_size", bits);
    if (strcmp(kty, "EC") == 0)
        cf_jw_kstr(&w, "crv", cf_crv_name(crv));
    cf_jw_kint(&w, "created", now);
    cf_jw_obj_end(&w);
    if ((e = cf_jw_err(&w)) != CF_OK)
        goto out;
    pc = (struct put_ctx){&cert, &sealed, &info};
    if ((e = cf_store_write(svc->store, put_fn, &pc)) != CF_OK)
        goto out;
    cf_info("vault: private CA created (%s, %s)", subject, kty);
    info_from(out, &info, &cert);
    e = cf_buf_append(&out->cer, cert.data, cert.len);
out:
    cf_secret_free(blob);
    cf_kvkey_free(k);
    cf_buf_release(&self);
    cf_buf_release(&cert);
    cf_buf_release(&sealed);
    cf_buf_release(&info);
    return e;
}

/* ---------------- issuing ---------------- */

cf_err cf_ca_issue(struct cf_vault_svc *svc, const void *csr, size_t csr_len, int64_t not_before,
                   int64_t not_after, struct cf_buf *chain)
{
    struct cf_ca_info info;
    struct cf_kvkey *k = NULL;
    cf_err e;

    info_init(&info);
    e = ca_load(svc, &info, &k);
    if (!e && not_after > info.exp)
        not_after = info.exp; /* a leaf never outlives its root */
    if (!e && not_after <= not_before)
        e = CF_EBADPARAM;
    if (!e)
        e = cf_cert_sign_csr(k, info.cer.data, info.cer.len, csr, csr_len, not_before, not_after,
                             chain);
    if (!e)
        e = cf_buf_append(chain, info.cer.data, info.cer.len);
    cf_kvkey_free(k);
    cf_ca_info_release(&info);
    return e;
}

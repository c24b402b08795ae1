/* hsm.c - HSM-protected keys (RSA-HSM, EC-HSM, oct-HSM) inside custody's PKCS#11 token
 * (custody.h, "HSM-protected keys").
 *
 * Map: session pool (take/give) -> object lookup by CKA_ID and what the key is (keyinfo) ->
 * algorithm table -> generate (+ the public JWK from CKA_MODULUS/CKA_PUBLIC_EXPONENT or
 * CKA_EC_POINT) -> import (C_CreateObject of a software key's parts, certificate imports) ->
 * sign / verify -> RSA encrypt/decrypt (PKCS#1 v1.5, OAEP SHA-1 on the token,
 * OAEP SHA-256 encoded here over CKM_RSA_X_509) -> AES (CBC, CBC-PAD, GCM when offered,
 * RFC 3394 key wrap here over CKM_AES_ECB) -> destroy.
 *
 * Invariants: private and secret key objects are made with CKA_SENSITIVE true and
 * CKA_EXTRACTABLE false, so no key byte ever crosses the PKCS#11 interface; what crosses it
 * from here is digests, ciphertexts and (for RSA-OAEP-256 decryption) the raw RSA result,
 * which is wiped after decoding. Sessions share custody's login (one C_Login per token and
 * application); each session is used by one thread at a time. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "custody/custody_int.h"

#include <pthread.h>
#include <stdarg.h>

/* p11-kit's pkcs11.h maps these lower-case names onto its structs' members; struct
 * cf_kvkey_sym uses them as its own. */
#undef iv_len
#undef aad_len

#define RSA_MAX_BYTES 512 /* 4096-bit modulus */
#define COORD_MAX 66
#define AES_BLOCK 16

struct cf_hsm {
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    CK_SESSION_HANDLE s[CF_HSM_SESSIONS];
    bool busy[CF_HSM_SESSIONS];
    int n;        /* sessions open */
    bool has_gcm; /* the token lists CKM_AES_GCM */
};

static void why_set(char *why, size_t whysz, const char *fmt, ...) CF_PRINTF(3, 4);
static void why_set(char *why, size_t whysz, const char *fmt, ...)
{
    va_list ap;
    if (!why || !whysz)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

static cf_err bad(char *why, size_t whysz, const char *fmt, ...) CF_PRINTF(3, 4);
static cf_err bad(char *why, size_t whysz, const char *fmt, ...)
{
    va_list ap;
    if (why && whysz) {
        va_start(ap, fmt);
        vsnprintf(why, whysz, fmt, ap);
        va_end(ap);
    }
    return CF_EBADPARAM;
}

/* ---------------- sessions ---------------- */

void cf_hsm_close(struct cf_hsm *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++)
        h->f->C_CloseSession(h->s[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

struct cf_hsm *cf_hsm_open(struct cf_custody *c, cf_err *err)
{
    struct cf_p11 *p = cf_custody__p11(c);
    CK_MECHANISM_TYPE mechs[256];
    CK_ULONG nm = CF_ARRAY_LEN(mechs);
    struct cf_hsm *h;

    if (!p) {
        *err = CF_ENOTFOUND;
        return NULL;
    }
    if (!(h = calloc(1, sizeof(*h)))) {
        *err = CF_ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->f = cf_p11_funcs(p);
    h->slot = cf_p11_slot(p);
    for (; h->n < CF_HSM_SESSIONS; h->n++) {
        CK_RV rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                       &h->s[h->n]);
        if (rv != CKR_OK) {
            cf_error("hsm: C_OpenSession failed (0x%lx)", (unsigned long)rv);
            cf_hsm_close(h);
            *err = CF_EIO;
            return NULL;
        }
    }
    if (h->f->C_GetMechanismList(h->slot, mechs, &nm) == CKR_OK)
        for (CK_ULONG i = 0; i < nm; i++)
            h->has_gcm |= mechs[i] == CKM_AES_GCM;
    cf_info("hsm: HSM-protected keys live in the custody token (%d sessions; AES-GCM %s)", h->n,
            h->has_gcm ? "offered" : "not offered");
    *err = CF_OK;
    return h;
}

static int take(struct cf_hsm *h)
{
    int got = -1;
    pthread_mutex_lock(&h->mu);
    while (got < 0) {
        for (int i = 0; i < h->n && got < 0; i++)
            if (!h->busy[i])
                got = i;
        if (got < 0)
            pthread_cond_wait(&h->cv, &h->mu);
    }
    h->busy[got] = true;
    pthread_mutex_unlock(&h->mu);
    return got;
}

static void give(struct cf_hsm *h, int i)
{
    pthread_mutex_lock(&h->mu);
    h->busy[i] = false;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* ---------------- objects ---------------- */

/* The object of class cls with CKA_ID id (CF_ENOTFOUND when none). */
static cf_err find(struct cf_hsm *h, CK_SESSION_HANDLE s, const unsigned char *id,
                   CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_ID, (void *)(uintptr_t)id, CF_HSM_ID_LEN}};
    CK_ULONG n = 0;
    CK_RV rv;

    if (h->f->C_FindObjectsInit(s, q, CF_ARRAY_LEN(q)) != CKR_OK)
        return CF_EIO;
    rv = h->f->C_FindObjects(s, out, 1, &n);
    h->f->C_FindObjectsFinal(s);
    if (rv != CKR_OK)
        return CF_EIO;
    return n == 1 ? CF_OK : CF_ENOTFOUND;
}

struct curve {
    const char *name;
    unsigned char oid[12]; /* DER of the named curve's OID (CKA_EC_PARAMS) */
    size_t oidlen, coord;
};
static const struct curve curves[] = {
    {"P-256", {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 10, 32},
    {"P-384", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7, 48},
    {"P-521", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7, 66},
    {"P-256K", {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}, 7, 32},
};

static const struct curve *curve_named(const char *name)
{
    for (size_t i = 0; name && i < CF_ARRAY_LEN(curves); i++)
        if (strcmp(curves[i].name, name) == 0 ||
            (strcmp(curves[i].name, "P-256K") == 0 && strcmp(name, "SECP256K1") == 0))
            return &curves[i];
    return NULL;
}

/* What the key with this id is, and its object handles. */
struct keyinfo {
    CK_KEY_TYPE kt; /* CKK_RSA, CKK_EC, CKK_AES */
    int bits;       /* RSA modulus, AES key; EC: 0 */
    const struct curve *crv;
    CK_OBJECT_HANDLE priv, pub; /* AES: priv = pub = the secret key */
};

static cf_err keyinfo(struct cf_hsm *h, CK_SESSION_HANDLE s, const unsigned char *id,
                      struct keyinfo *ki)
{
    unsigned char buf[RSA_MAX_BYTES + 8];
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &ki->kt, sizeof(ki->kt)};
    cf_err e;

    memset(ki, 0, sizeof(*ki));
    e = find(h, s, id, CKO_SECRET_KEY, &ki->priv);
    if (e == CF_OK) {
        CK_ULONG len = 0;
        CK_ATTRIBUTE b[] = {{CKA_KEY_TYPE, &ki->kt, sizeof(ki->kt)},
                            {CKA_VALUE_LEN, &len, sizeof(len)}};
        if (h->f->C_GetAttributeValue(s, ki->priv, b, 2) != CKR_OK || ki->kt != CKK_AES)
            return CF_ECORRUPT;
        ki->pub = ki->priv;
        ki->bits = (int)len * 8;
        return CF_OK;
    }
    if (e != CF_ENOTFOUND || (e = find(h, s, id, CKO_PRIVATE_KEY, &ki->priv)) ||
        (e = find(h, s, id, CKO_PUBLIC_KEY, &ki->pub)))
        return e;
    if (h->f->C_GetAttributeValue(s, ki->pub, &a, 1) != CKR_OK)
        return CF_EIO;
    if (ki->kt == CKK_RSA) {
        CK_ATTRIBUTE m = {CKA_MODULUS, buf, sizeof(buf)};
        size_t i = 0;
        if (h->f->C_GetAttributeValue(s, ki->pub, &m, 1) != CKR_OK)
            return CF_EIO;
        while (i < m.ulValueLen && buf[i] == 0)
            i++;
        ki->bits = (int)(m.ulValueLen - i) * 8;
        return CF_OK;
    }
    if (ki->kt == CKK_EC) {
        CK_ATTRIBUTE p = {CKA_EC_PARAMS, buf, sizeof(buf)};
        if (h->f->C_GetAttributeValue(s, ki->pub, &p, 1) != CKR_OK)
            return CF_EIO;
        for (size_t i = 0; i < CF_ARRAY_LEN(curves); i++)
            if (p.ulValueLen == curves[i].oidlen && memcmp(buf, curves[i].oid, p.ulValueLen) == 0)
                ki->crv = &curves[i];
        return ki->crv ? CF_OK : CF_ECORRUPT;
    }
    return CF_ECORRUPT;
}

static bool id_taken(struct cf_hsm *h, CK_SESSION_HANDLE s, const unsigned char *id)
{
    static const CK_OBJECT_CLASS cls[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY};
    CK_OBJECT_HANDLE o;
    for (size_t i = 0; i < CF_ARRAY_LEN(cls); i++)
        if (find(h, s, id, cls[i], &o) != CF_ENOTFOUND)
            return true;
    return false;
}

/* ---------------- algorithms ---------------- */

enum kind { K_RS, K_PS, K_RSNULL, K_ES, K_RSA15, K_OAEP, K_OAEP256, K_KW, K_CBC, K_CBCPAD, K_GCM };
enum use { U_SIGN = 1, U_CRYPT = 2, U_WRAP = 4 };
struct alg {
    const char *name;
    enum kind kind;
    size_t len; /* digest bytes (signatures) */
    int aes;    /* AES key bits the alg requires (0 = any) */
    const char *crv;
};
static const struct alg algs[] = {
    {"RS256", K_RS, 32, 0, NULL},           {"RS384", K_RS, 48, 0, NULL},
    {"RS512", K_RS, 64, 0, NULL},           {"PS256", K_PS, 32, 0, NULL},
    {"PS384", K_PS, 48, 0, NULL},           {"PS512", K_PS, 64, 0, NULL},
    {"RSNULL", K_RSNULL, 0, 0, NULL},       {"ES256", K_ES, 32, 0, "P-256"},
    {"ES256K", K_ES, 32, 0, "P-256K"},      {"ES384", K_ES, 48, 0, "P-384"},
    {"ES512", K_ES, 64, 0, "P-521"},        {"RSA1_5", K_RSA15, 0, 0, NULL},
    {"RSA-OAEP", K_OAEP, 0, 0, NULL},       {"RSA-OAEP-256", K_OAEP256, 0, 0, NULL},
    {"A128KW", K_KW, 0, 128, NULL},         {"A192KW", K_KW, 0, 192, NULL},
    {"A256KW", K_KW, 0, 256, NULL},         {"CKM_AES_KEY_WRAP", K_KW, 0, 0, NULL},
    {"A128CBC", K_CBC, 0, 128, NULL},       {"A192CBC", K_CBC, 0, 192, NULL},
    {"A256CBC", K_CBC, 0, 256, NULL},       {"A128CBCPAD", K_CBCPAD, 0, 128, NULL},
    {"A192CBCPAD", K_CBCPAD, 0, 192, NULL}, {"A256CBCPAD", K_CBCPAD, 0, 256, NULL},
    {"A128GCM", K_GCM, 0, 128, NULL},       {"A192GCM", K_GCM, 0, 192, NULL},
    {"A256GCM", K_GCM, 0, 256, NULL},
};

static unsigned uses(enum kind k)
{
    switch (k) {
    case K_RS:
    case K_PS:
    case K_RSNULL:
    case K_ES:
        return U_SIGN;
    case K_RSA15:
    case K_OAEP:
    case K_OAEP256:
        return U_CRYPT | U_WRAP;
    case K_KW:
        return U_CRYPT | U_WRAP;
    default:
        return U_CRYPT;
    }
}

static CK_KEY_TYPE kt_of(enum kind k)
{
    return k == K_ES ? CKK_EC : k >= K_KW ? CKK_AES : CKK_RSA;
}

static const char *kty_text(CK_KEY_TYPE kt)
{
    return kt == CKK_RSA ? "RSA-HSM" : kt == CKK_EC ? "EC-HSM" : "oct-HSM";
}

static const char *quote(const char *alg)
{
    size_t n = alg ? strlen(alg) : 0;
    if (n == 0 || n > 32)
        return "?";
    for (size_t i = 0; i < n; i++)
        if (!((alg[i] >= 'A' && alg[i] <= 'Z') || (alg[i] >= 'a' && alg[i] <= 'z') ||
              (alg[i] >= '0' && alg[i] <= '9') || alg[i] == '-' || alg[i] == '_'))
            return "?";
    return alg;
}

static cf_err pick(const struct keyinfo *ki, const char *alg, unsigned use, const struct alg **out,
                   char *why, size_t whysz)
{
    const struct alg *a = NULL;

    if (!alg || !*alg)
        return bad(why, whysz, "The parameter 'alg' is required.");
    for (size_t i = 0; i < CF_ARRAY_LEN(algs); i++)
        if (strcmp(algs[i].name, alg) == 0)
            a = &algs[i];
    if (!a)
        return bad(why, whysz, "Invalid algorithm '%s'.", quote(alg));
    if (!(uses(a->kind) & use))
        return bad(why, whysz, "Algorithm %s is not valid for this operation.", a->name);
    if (kt_of(a->kind) != ki->kt)
        return bad(why, whysz, "Algorithm %s is not supported for a key of type %s.", a->name,
                   kty_text(ki->kt));
    if (a->crv && strcmp(a->crv, ki->crv->name) != 0)
        return bad(why, whysz, "Algorithm %s requires curve %s; the key uses curve %s.", a->name,
                   a->crv, ki->crv->name);
    if (a->aes && a->aes != ki->bits)
        return bad(why, whysz, "Algorithm %s requires a %d-bit key; the key has %d bits.", a->name,
                   a->aes, ki->bits);
    *out = a;
    return CF_OK;
}

static cf_err rv_err(CK_RV rv, const char *what)
{
    if (rv == CKR_OK)
        return CF_OK;
    cf_warn("hsm: %s failed (0x%lx)", what, (unsigned long)rv);
    return rv == CKR_HOST_MEMORY ? CF_ENOMEM : CF_EIO;
}

static cf_err destroy_in(struct cf_hsm *h, CK_SESSION_HANDLE s, const unsigned char *id);

/* ---------------- generate ---------------- */

static cf_err jw_b64(struct cf_jw *w, const char *k, const unsigned char *p, size_t n)
{
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 2 * RSA_MAX_BYTES);
    while (n > 1 && p[0] == 0 && (k[0] == 'n' || k[0] == 'e')) { /* n, e: no leading zeros */
        p++;
        n--;
    }
    e = cf_b64url_encode(&b, p, n);
    if (!e)
        cf_jw_kstr(w, k, b.data);
    cf_buf_release(&b);
    return e;
}

static cf_err write_pub(struct cf_hsm *h, CK_SESSION_HANDLE s, const struct keyinfo *ki,
                        struct cf_jw *w)
{
    unsigned char buf[RSA_MAX_BYTES + 16], ex[16];
    cf_err e;

    if (ki->kt == CKK_RSA) {
        CK_ATTRIBUTE a[] = {{CKA_MODULUS, buf, sizeof(buf)}, {CKA_PUBLIC_EXPONENT, ex, sizeof(ex)}};
        if (h->f->C_GetAttributeValue(s, ki->pub, a, 2) != CKR_OK)
            return CF_EIO;
        if ((e = jw_b64(w, "n", buf, a[0].ulValueLen)))
            return e;
        return jw_b64(w, "e", ex, a[1].ulValueLen);
    }
    if (ki->kt == CKK_EC) {
        /* CKA_EC_POINT: DER OCTET STRING around 04 || x || y (some tokens give it bare). */
        CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof(buf)};
        size_t c = ki->crv->coord, n, off = 0;
        if (h->f->C_GetAttributeValue(s, ki->pub, &a, 1) != CKR_OK)
            return CF_EIO;
        n = a.ulValueLen;
        if (n == 2 * c + 1 + 2 && buf[0] == 0x04 && buf[1] == 2 * c + 1)
            off = 2;
        else if (n == 2 * c + 1 + 3 && buf[0] == 0x04 && buf[1] == 0x81)
            off = 3;
        if (n - off != 2 * c + 1 || buf[off] != 0x04)
            return CF_ECORRUPT;
        cf_jw_kstr(w, "crv", ki->crv->name);
        if ((e = jw_b64(w, "x", buf + off + 1, c)))
            return e;
        return jw_b64(w, "y", buf + off + 1 + c, c);
    }
    return CF_OK;
}

cf_err cf_hsm_generate(struct cf_hsm *h, const char *kty, int bits, uint32_t exponent,
                       const char *crv, const unsigned char id[CF_HSM_ID_LEN], struct cf_jw *w,
                       char *why, size_t whysz)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG mbits = (CK_ULONG)bits, vlen = (CK_ULONG)bits / 8;
    CK_OBJECT_CLASS sec = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    unsigned char ex[4];
    const struct curve *cv = NULL;
    struct keyinfo ki;
    CK_RV rv = CKR_OK;
    cf_err e = CF_OK;
    int si;

    if (!h || !kty || !id || !w)
        return CF_EINVAL;
    if (exponent == 0)
        exponent = 65537;
    ex[0] = (unsigned char)(exponent >> 24);
    ex[1] = (unsigned char)(exponent >> 16);
    ex[2] = (unsigned char)(exponent >> 8);
    ex[3] = (unsigned char)exponent;
    if (strcmp(kty, "RSA") == 0) {
        if (bits != 2048 && bits != 3072 && bits != 4096)
            return bad(why, whysz, "Invalid key size %d for RSA keys: use 2048, 3072 or 4096.",
                       bits);
        if (exponent < 3 || !(exponent & 1))
            return bad(why, whysz, "Invalid public exponent: it must be an odd number >= 3.");
    } else if (strcmp(kty, "EC") == 0) {
        if (!(cv = curve_named(crv ? crv : "P-256")))
            return bad(why, whysz, "Invalid curve name %.32s: use P-256, P-384, P-521 or P-256K.",
                       crv);
    } else if (strcmp(kty, "oct") == 0) {
        if (bits != 128 && bits != 192 && bits != 256)
            return bad(why, whysz, "Invalid key size %d for oct keys: use 128, 192 or 256.", bits);
    } else {
        return bad(why, whysz, "Invalid key type %.32s.", kty);
    }
    si = take(h);
    if (id_taken(h, h->s[si], id)) {
        e = CF_EEXISTS;
        goto give;
    }
    if (strcmp(kty, "oct") == 0) {
        CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
        CK_ATTRIBUTE t[] = {
            {CKA_CLASS, &sec, sizeof(sec)},       {CKA_KEY_TYPE, &aes, sizeof(aes)},
            {CKA_VALUE_LEN, &vlen, sizeof(vlen)}, {CKA_ID, (void *)(uintptr_t)id, CF_HSM_ID_LEN},
            {CKA_TOKEN, &yes, sizeof(yes)},       {CKA_PRIVATE, &yes, sizeof(yes)},
            {CKA_SENSITIVE, &yes, sizeof(yes)},   {CKA_EXTRACTABLE, &no, sizeof(no)},
            {CKA_ENCRYPT, &yes, sizeof(yes)},     {CKA_DECRYPT, &yes, sizeof(yes)},
            {CKA_WRAP, &yes, sizeof(yes)},        {CKA_UNWRAP, &yes, sizeof(yes)}};
        rv = h->f->C_GenerateKey(h->s[si], &m, t, CF_ARRAY_LEN(t), &ki.priv);
    } else {
        bool rsa = cv == NULL;
        CK_MECHANISM m = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
        CK_ATTRIBUTE pub[] = {{CKA_ID, (void *)(uintptr_t)id, CF_HSM_ID_LEN},
                              {CKA_TOKEN, &yes, sizeof(yes)},
                              {CKA_PRIVATE, &no, sizeof(no)},
                              {CKA_VERIFY, &yes, sizeof(yes)},
                              {CKA_ENCRYPT, rsa ? &yes : &no, sizeof(yes)},
                              {CKA_WRAP, rsa ? &yes : &no, sizeof(yes)},
                              {rsa ? CKA_MODULUS_BITS : CKA_EC_PARAMS,
                               rsa ? (void *)&mbits : (void *)(uintptr_t)cv->oid,
                               rsa ? sizeof(mbits) : cv->oidlen},
                              {CKA_PUBLIC_EXPONENT, ex, sizeof(ex)}};
        CK_ATTRIBUTE priv[] = {{CKA_ID, (void *)(uintptr_t)id, CF_HSM_ID_LEN},
                               {CKA_TOKEN, &yes, sizeof(yes)},
                               {CKA_PRIVATE, &yes, sizeof(yes)},
                               {CKA_SENSITIVE, &yes, sizeof(yes)},
                               {CKA_EXTRACTABLE, &no, sizeof(no)},
                               {CKA_SIGN, &yes, sizeof(yes)},
                               {CKA_DECRYPT, rsa ? &yes : &no, sizeof(yes)},
                               {CKA_UNWRAP, rsa ? &yes : &no, sizeof(yes)}};
        rv = h->f->C_GenerateKeyPair(h->s[si], &m, pub, CF_ARRAY_LEN(pub) - (rsa ? 0 : 1), priv,
                                     CF_ARRAY_LEN(priv), &ki.pub, &ki.priv);
        if (!rsa && (rv == CKR_CURVE_NOT_SUPPORTED || rv == CKR_DOMAIN_PARAMS_INVALID ||
                     rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_TEMPLATE_INCONSISTENT)) {
            e = bad(why, whysz, "Curve %s is not supported by this server's HSM.", cv->name);
            goto give;
        }
    }
    if ((e = rv_err(rv, "key generation")))
        goto give;
    if ((e = keyinfo(h, h->s[si], id, &ki)) || (e = write_pub(h, h->s[si], &ki, w))) {
        if (destroy_in(h, h->s[si], id) != CF_OK) /* no half-made key stays on the token */
            cf_warn("hsm: a half-made key could not be removed from the token");
        goto give;
    }
    cf_info("hsm: generated a %s key on the token", kty_text(ki.kt));
give:
    give(h, si);
    return e;
}

/* ---------------- import ---------------- */

/* DER OCTET STRING around 04 || x || y (CKA_EC_POINT, as generate reads it back). */
static size_t ec_point_der(const struct cf_kvkey_parts *kp, size_t c, unsigned char *out)
{
    size_t n = 2 * c + 1, off = 0;
    out[off++] = 0x04;
    if (n >= 128)
        out[off++] = 0x81;
    out[off++] = (unsigned char)n;
    out[off++] = 0x04;
    memcpy(out + off, kp->v[CF_KP_X]->p, c);
    memcpy(out + off + c, kp->v[CF_KP_Y]->p, c);
    return off + 2 * c;
}

cf_err cf_hsm_import(struct cf_hsm *h, const struct cf_kvkey *k,
                     const unsigned char id[CF_HSM_ID_LEN], struct cf_jw *w, char *why,
                     size_t whysz)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS cpriv = CKO_PRIVATE_KEY, cpub = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt;
    unsigned char point[2 * COORD_MAX + 4];
    struct cf_kvkey_parts kp;
    const struct curve *cv = NULL;
    struct keyinfo ki;
    CK_RV rv;
    cf_err e;
    int si;

    if (!h || !k || !id || !w)
        return CF_EINVAL;
    if ((e = cf_kvkey_parts_get(k, &kp)) != CF_OK)
        return e == CF_EINVAL ? bad(why, whysz, "Only RSA and EC keys can be HSM-protected.") : e;
    if (kp.kty == CF_KTY_EC && !(cv = curve_named(cf_crv_name(kp.crv)))) {
        e = bad(why, whysz, "Curve %s is not supported by this server's HSM.",
                cf_crv_name(kp.crv) ? cf_crv_name(kp.crv) : "?");
        goto parts;
    }
    kt = cv ? CKK_EC : CKK_RSA;
#define A(t, s) {t, (s)->p, (CK_ULONG)(s)->len}
    CK_ATTRIBUTE common[] = {{CKA_CLASS, &cpriv, sizeof(cpriv)},
                             {CKA_KEY_TYPE, &kt, sizeof(kt)},
                             {CKA_ID, (void *)(uintptr_t)id, CF_HSM_ID_LEN},
                             {CKA_TOKEN, &yes, sizeof(yes)},
                             {CKA_PRIVATE, &yes, sizeof(yes)},
                             {CKA_SENSITIVE, &yes, sizeof(yes)},
                             {CKA_EXTRACTABLE, &no, sizeof(no)},
                             {CKA_SIGN, &yes, sizeof(yes)},
                             {CKA_DECRYPT, cv ? &no : &yes, sizeof(yes)},
                             {CKA_UNWRAP, cv ? &no : &yes, sizeof(yes)}};
    CK_ATTRIBUTE priv[CF_ARRAY_LEN(common) + 8];
    CK_ATTRIBUTE pub[8] = {{CKA_CLASS, &cpub, sizeof(cpub)},
                           {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_ID, (void *)(uintptr_t)id, CF_HSM_ID_LEN},
                           {CKA_TOKEN, &yes, sizeof(yes)},
                           {CKA_PRIVATE, &no, sizeof(no)},
                           {CKA_VERIFY, &yes, sizeof(yes)}};
    CK_ULONG npriv = CF_ARRAY_LEN(common), npub = 6;
    memcpy(priv, common, sizeof(common));
    if (cv) {
        CK_ATTRIBUTE params = {CKA_EC_PARAMS, (void *)(uintptr_t)cv->oid, cv->oidlen};
        priv[npriv++] = params;
        priv[npriv++] = (CK_ATTRIBUTE)A(CKA_VALUE, kp.v[CF_KP_D]);
        pub[npub++] = params;
        pub[npub++] = (CK_ATTRIBUTE){CKA_EC_POINT, point, ec_point_der(&kp, cv->coord, point)};
    } else {
        static const CK_ATTRIBUTE_TYPE rsa_t[] = {CKA_MODULUS,         CKA_PUBLIC_EXPONENT,
                                                  CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
                                                  CKA_PRIME_2,         CKA_EXPONENT_1,
                                                  CKA_EXPONENT_2,      CKA_COEFFICIENT};
        for (size_t i = 0; i < CF_ARRAY_LEN(rsa_t); i++) /* CF_KP_N .. CF_KP_QI in order */
            priv[npriv++] = (CK_ATTRIBUTE)A(rsa_t[i], kp.v[CF_KP_N + i]);
        pub[npub++] = (CK_ATTRIBUTE)A(CKA_MODULUS, kp.v[CF_KP_N]);
        pub[npub++] = (CK_ATTRIBUTE)A(CKA_PUBLIC_EXPONENT, kp.v[CF_KP_E]);
    }
#undef A
    si = take(h);
    if (id_taken(h, h->s[si], id)) {
        e = CF_EEXISTS;
        goto give;
    }
    rv = h->f->C_CreateObject(h->s[si], priv, npriv, &ki.priv);
    if (rv == CKR_OK)
        rv = h->f->C_CreateObject(h->s[si], pub, npub, &ki.pub);
    if (cv && (rv == CKR_CURVE_NOT_SUPPORTED || rv == CKR_DOMAIN_PARAMS_INVALID ||
               rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_TEMPLATE_INCONSISTENT))
        e = bad(why, whysz, "Curve %s is not supported by this server's HSM.", cv->name);
    else
        e = rv_err(rv, "key import");
    if (!e)
        e = keyinfo(h, h->s[si], id, &ki);
    if (!e)
        e = write_pub(h, h->s[si], &ki, w);
    if (e && destroy_in(h, h->s[si], id) != CF_OK) /* no half-made key stays on the token */
        cf_warn("hsm: a half-imported key could not be removed from the token");
    if (!e)
        cf_info("hsm: imported a %s key into the token", kty_text(ki.kt));
give:
    give(h, si);
parts:
    cf_wipe(point, sizeof(point));
    cf_kvkey_parts_release(&kp);
    return e;
}

/* ---------------- sign / verify ---------------- */

static const unsigned char di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                      0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const unsigned char di384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                      0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const unsigned char di512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                      0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

/* The bytes the token signs for a (DigestInfo || digest for RS*, else the value itself) and
 * the mechanism. pss must outlive the mechanism's use. */
static cf_err sig_input(const struct alg *a, const struct keyinfo *ki, const void *digest,
                        size_t dlen, unsigned char *in, size_t *inlen, CK_MECHANISM *m,
                        CK_RSA_PKCS_PSS_PARAMS *pss, char *why, size_t whysz)
{
    size_t k = (size_t)ki->bits / 8;

    if (a->kind == K_RSNULL) {
        if (dlen == 0 || dlen > k - 11)
            return bad(why, whysz,
                       "Invalid length of 'value': %zu bytes. RSNULL accepts 1 to %zu bytes with "
                       "this key.",
                       dlen, k - 11);
    } else if (dlen != a->len) {
        return bad(why, whysz,
                   "Invalid length of 'value': %zu bytes. %s requires %zu bytes, encoded with "
                   "base64url.",
                   dlen, a->name, a->len);
    }
    *m = (CK_MECHANISM){a->kind == K_ES ? CKM_ECDSA : CKM_RSA_PKCS, NULL, 0};
    if (a->kind == K_RS) {
        const unsigned char *di = a->len == 32 ? di256 : a->len == 48 ? di384 : di512;
        memcpy(in, di, sizeof(di256));
        memcpy(in + sizeof(di256), digest, dlen);
        *inlen = sizeof(di256) + dlen;
        return CF_OK;
    }
    if (a->kind == K_PS) {
        pss->hashAlg = a->len == 32 ? CKM_SHA256 : a->len == 48 ? CKM_SHA384 : CKM_SHA512;
        pss->mgf = a->len == 32   ? CKG_MGF1_SHA256
                   : a->len == 48 ? CKG_MGF1_SHA384
                                  : CKG_MGF1_SHA512;
        pss->sLen = a->len;
        *m = (CK_MECHANISM){CKM_RSA_PKCS_PSS, pss, sizeof(*pss)};
    }
    memcpy(in, digest, dlen);
    *inlen = dlen;
    return CF_OK;
}

cf_err cf_hsm_sign(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                   const void *digest, size_t dlen, struct cf_buf *sig, char *why, size_t whysz)
{
    unsigned char in[RSA_MAX_BYTES], out[RSA_MAX_BYTES];
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_ULONG olen = sizeof(out);
    const struct alg *a;
    struct keyinfo ki;
    CK_MECHANISM m;
    size_t inlen = 0;
    cf_err e;
    int si;

    why_set(why, whysz, "%s", "");
    if (!h || !id || !sig || (!digest && dlen))
        return CF_EINVAL;
    si = take(h);
    if ((e = keyinfo(h, h->s[si], id, &ki)) || (e = pick(&ki, alg, U_SIGN, &a, why, whysz)) ||
        (e = sig_input(a, &ki, digest, dlen, in, &inlen, &m, &pss, why, whysz)))
        goto give;
    if ((e = rv_err(h->f->C_SignInit(h->s[si], &m, ki.priv), "C_SignInit")) ||
        (e = rv_err(h->f->C_Sign(h->s[si], in, (CK_ULONG)inlen, out, &olen), "C_Sign")))
        goto give;
    e = cf_buf_append(sig, out, olen); /* ECDSA: already r || s, each the coordinate size */
give:
    give(h, si);
    return e;
}

cf_err cf_hsm_verify(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                     const void *digest, size_t dlen, const void *sig, size_t slen, bool *valid,
                     char *why, size_t whysz)
{
    unsigned char in[RSA_MAX_BYTES];
    CK_RSA_PKCS_PSS_PARAMS pss;
    const struct alg *a;
    struct keyinfo ki;
    CK_MECHANISM m;
    size_t inlen = 0;
    CK_RV rv;
    cf_err e;
    int si;

    why_set(why, whysz, "%s", "");
    if (!h || !id || !valid || (!digest && dlen) || (!sig && slen))
        return CF_EINVAL;
    *valid = false;
    si = take(h);
    if ((e = keyinfo(h, h->s[si], id, &ki)) || (e = pick(&ki, alg, U_SIGN, &a, why, whysz)) ||
        (e = sig_input(a, &ki, digest, dlen, in, &inlen, &m, &pss, why, whysz)))
        goto give;
    if (slen == 0 || slen > RSA_MAX_BYTES)
        goto give; /* well-formed request, wrong signature: false */
    if ((e = rv_err(h->f->C_VerifyInit(h->s[si], &m, ki.pub), "C_VerifyInit")))
        goto give;
    rv = h->f->C_Verify(h->s[si], in, (CK_ULONG)inlen, (CK_BYTE_PTR)(uintptr_t)sig, (CK_ULONG)slen);
    if (rv == CKR_OK)
        *valid = true;
    else if (rv != CKR_SIGNATURE_INVALID && rv != CKR_SIGNATURE_LEN_RANGE &&
             rv != CKR_DATA_LEN_RANGE && rv != CKR_ENCRYPTED_DATA_INVALID)
        e = rv_err(rv, "C_Verify");
give:
    give(h, si);
    return e;
}

/* ---------------- RSA encryption ---------------- */

/* out ^= MGF1-SHA256(seed) over n bytes. */
static cf_err mgf1_xor(const unsigned char *seed, size_t slen, unsigned char *out, size_t n)
{
    unsigned char in[RSA_MAX_BYTES + 4], md[CF_SHA256_LEN];
    cf_err e = CF_OK;

    if (slen > RSA_MAX_BYTES)
        return CF_EINVAL;
    memcpy(in, seed, slen);
    for (uint32_t c = 0, done = 0; !e && done < n; c++) {
        in[slen] = (unsigned char)(c >> 24);
        in[slen + 1] = (unsigned char)(c >> 16);
        in[slen + 2] = (unsigned char)(c >> 8);
        in[slen + 3] = (unsigned char)c;
        if ((e = cf_sha256(in, slen + 4, md)))
            break;
        for (size_t i = 0; i < CF_SHA256_LEN && done < n; i++, done++)
            out[done] ^= md[i];
    }
    cf_wipe(in, sizeof(in));
    cf_wipe(md, sizeof(md));
    return e;
}

/* RFC 8017 §7.1.1 EME-OAEP encoding with SHA-256, MGF1-SHA-256 and an empty label into em
 * (k bytes). */
static cf_err oaep256_encode(const void *m, size_t mlen, size_t k, unsigned char *em)
{
    const size_t hl = CF_SHA256_LEN;
    unsigned char *seed = em + 1, *db = em + 1 + hl;
    size_t dblen = k - hl - 1;
    cf_err e;

    memset(em, 0, k);
    if ((e = cf_sha256("", 0, db)) || (e = cf_random(seed, hl)))
        return e;
    db[dblen - mlen - 1] = 0x01;
    memcpy(db + dblen - mlen, m, mlen);
    if ((e = mgf1_xor(seed, hl, db, dblen)))
        return e;
    return mgf1_xor(db, dblen, seed, hl);
}

/* The inverse, in constant time with respect to where the padding fails: one CF_ECRYPTO. */
static cf_err oaep256_decode(unsigned char *em, size_t k, struct cf_secret **pt)
{
    const size_t hl = CF_SHA256_LEN;
    unsigned char lhash[CF_SHA256_LEN], *seed = em + 1, *db = em + 1 + hl;
    size_t dblen = k - hl - 1, start = 0;
    unsigned bad_ = em[0], found = 0;
    cf_err e;

    if ((e = cf_sha256("", 0, lhash)) || (e = mgf1_xor(db, dblen, seed, hl)) ||
        (e = mgf1_xor(seed, hl, db, dblen)))
        return e;
    bad_ |= !cf_ct_eq(db, lhash, hl);
    for (size_t i = hl; i < dblen; i++) {
        unsigned is1 = db[i] == 0x01, is0 = db[i] == 0x00;
        unsigned first = is1 & !found;
        start |= (size_t)(first ? i + 1 : 0);
        bad_ |= !found & !is1 & !is0;
        found |= is1;
    }
    bad_ |= !found;
    if (bad_)
        return CF_ECRYPTO;
    if (!(*pt = cf_secret_from(db + start, dblen - start)))
        return CF_ENOMEM;
    return CF_OK;
}

static cf_err rsa_encrypt(struct cf_hsm *h, CK_SESSION_HANDLE s, const struct keyinfo *ki,
                          const struct alg *a, const void *pt, size_t n, struct cf_buf *out,
                          char *why, size_t whysz)
{
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
    unsigned char em[RSA_MAX_BYTES], ct[RSA_MAX_BYTES];
    CK_ULONG clen = sizeof(ct);
    size_t k = (size_t)ki->bits / 8, over = a->kind == K_RSA15 ? 11 : a->kind == K_OAEP ? 42 : 66;
    const void *in = pt;
    size_t inlen = n;
    cf_err e;

    if (n > k - over)
        return bad(why, whysz,
                   "Invalid length of 'value': %zu bytes. %s accepts at most %zu "
                   "bytes with this key.",
                   n, a->name, k - over);
    if (a->kind == K_OAEP)
        m = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
    if (a->kind == K_OAEP256) {
        if ((e = oaep256_encode(pt, n, k, em)))
            goto out;
        m = (CK_MECHANISM){CKM_RSA_X_509, NULL, 0};
        in = em;
        inlen = k;
    }
    if ((e = rv_err(h->f->C_EncryptInit(s, &m, ki->pub), "C_EncryptInit")) ||
        (e = rv_err(h->f->C_Encrypt(s, (CK_BYTE_PTR)(uintptr_t)in, (CK_ULONG)inlen, ct, &clen),
                    "C_Encrypt")))
        goto out;
    /* ciphertext is exactly k bytes */
    if (clen < k && (e = cf_buf_reserve(out, k)) == CF_OK) {
        static const unsigned char zero[RSA_MAX_BYTES];
        e = cf_buf_append(out, zero, k - clen);
    }
    if (!e)
        e = cf_buf_append(out, ct, clen);
out:
    cf_wipe(em, sizeof(em));
    return e;
}

static cf_err rsa_decrypt(struct cf_hsm *h, CK_SESSION_HANDLE s, const struct keyinfo *ki,
                          const struct alg *a, const void *ct, size_t n, struct cf_secret **pt,
                          char *why, size_t whysz)
{
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
    unsigned char em[RSA_MAX_BYTES];
    CK_ULONG plen = sizeof(em);
    size_t k = (size_t)ki->bits / 8;
    CK_RV rv;
    cf_err e = CF_OK;

    if (n != k)
        return bad(why, whysz,
                   "Invalid length of 'value': %zu bytes. %s requires %zu bytes "
                   "with this key.",
                   n, a->name, k);
    if (a->kind == K_OAEP)
        m = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
    if (a->kind == K_OAEP256)
        m = (CK_MECHANISM){CKM_RSA_X_509, NULL, 0};
    if ((e = rv_err(h->f->C_DecryptInit(s, &m, ki->priv), "C_DecryptInit")))
        return e;
    rv = h->f->C_Decrypt(s, (CK_BYTE_PTR)(uintptr_t)ct, (CK_ULONG)n, em, &plen);
    if (rv != CKR_OK) {
        e = rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
                    rv == CKR_DATA_INVALID || rv == CKR_GENERAL_ERROR
                ? CF_ECRYPTO
                : rv_err(rv, "C_Decrypt");
        goto out;
    }
    if (a->kind == K_OAEP256) {
        if (plen > k) {
            e = CF_ECRYPTO;
            goto out;
        }
        if (plen < k) { /* raw RSA output without its leading zeros */
            memmove(em + (k - plen), em, plen);
            memset(em, 0, k - plen);
        }
        e = oaep256_decode(em, k, pt);
    } else if (!(*pt = cf_secret_from(em, plen))) {
        e = CF_ENOMEM;
    }
out:
    cf_wipe(em, sizeof(em));
    return e;
}

/* ---------------- AES ---------------- */

/* RFC 3394 key wrap (default IV) with single-block AES-ECB operations on the token. */
static cf_err aes_kw(struct cf_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, bool wrap,
                     const unsigned char *in, size_t n, unsigned char *out, size_t *outlen)
{
    static const unsigned char iv[8] = {0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6};
    CK_MECHANISM m = {CKM_AES_ECB, NULL, 0};
    unsigned char a[8], b[AES_BLOCK], *r = out + 8;
    size_t blocks = wrap ? n / 8 : n / 8 - 1;
    CK_ULONG bl;
    cf_err e = CF_OK;

    if (wrap) {
        memcpy(a, iv, 8);
        memcpy(r, in, n);
    } else {
        memcpy(a, in, 8);
        memcpy(r, in + 8, n - 8);
    }
    e = rv_err(wrap ? h->f->C_EncryptInit(s, &m, key) : h->f->C_DecryptInit(s, &m, key),
               "AES-ECB init");
    /* 6 rounds over the blocks: forwards to wrap, backwards to unwrap; t = blocks * j + i. */
    for (size_t step = 0; !e && step < 6 * blocks; step++) {
        size_t j = wrap ? step / blocks : 5 - step / blocks;
        size_t i = wrap ? step % blocks + 1 : blocks - step % blocks;
        uint64_t t = (uint64_t)(blocks * j + i);
        if (!wrap)
            for (int q = 0; q < 8; q++)
                a[7 - q] ^= (unsigned char)(t >> (8 * q));
        memcpy(b, a, 8);
        memcpy(b + 8, r + 8 * (i - 1), 8);
        bl = sizeof(b);
        e = rv_err(wrap ? h->f->C_EncryptUpdate(s, b, AES_BLOCK, b, &bl)
                        : h->f->C_DecryptUpdate(s, b, AES_BLOCK, b, &bl),
                   "AES-ECB");
        if (!e && bl != AES_BLOCK)
            e = CF_EIO;
        memcpy(a, b, 8);
        if (wrap)
            for (int q = 0; q < 8; q++)
                a[7 - q] ^= (unsigned char)(t >> (8 * q));
        memcpy(r + 8 * (i - 1), b + 8, 8);
    }
    bl = sizeof(b);
    if (wrap)
        h->f->C_EncryptFinal(s, b, &bl); /* ends the operation */
    else
        h->f->C_DecryptFinal(s, b, &bl);
    if (!e && wrap) {
        memcpy(out, a, 8);
        *outlen = n + 8;
    } else if (!e) {
        memmove(out, r, n - 8);
        *outlen = n - 8;
        if (!cf_ct_eq(a, iv, 8))
            e = CF_ECRYPTO; /* the integrity check of RFC 3394 */
    }
    cf_wipe(a, sizeof(a));
    cf_wipe(b, sizeof(b));
    return e;
}

static cf_err aes_crypt(struct cf_hsm *h, CK_SESSION_HANDLE s, const struct keyinfo *ki,
                        const struct alg *a, bool enc, const unsigned char *in, size_t n,
                        struct cf_kvkey_sym *sym, struct cf_buf *out, struct cf_secret **pt,
                        char *why, size_t whysz)
{
    CK_GCM_PARAMS gcm;
    CK_MECHANISM m = {a->kind == K_CBC ? CKM_AES_CBC : CKM_AES_CBC_PAD, NULL, 0};
    unsigned char *buf = NULL;
    size_t cap = n + 2 * AES_BLOCK + 8, ivlen = a->kind == K_GCM ? 12 : 16, olen = 0;
    CK_ULONG bl;
    CK_RV rv;
    cf_err e = CF_OK;

    if (a->kind == K_GCM && !h->has_gcm)
        return bad(why, whysz, "Algorithm %s is not supported by this server's HSM.", a->name);
    if (n > 1024 * 1024)
        return bad(why, whysz, "Invalid length of 'value': %zu bytes.", n);
    if (a->kind == K_KW) {
        if (n % 8 || n < (enc ? 16u : 24u))
            return bad(why, whysz,
                       "Invalid length of 'value': %zu bytes. %s requires a multiple "
                       "of 8 bytes, at least %d.",
                       n, a->name, enc ? 16 : 24);
    } else if (a->kind == K_CBC && (n % AES_BLOCK || (!enc && n == 0))) {
        return bad(why, whysz,
                   "Invalid length of 'value': %zu bytes. %s requires a multiple of "
                   "16 bytes.",
                   n, a->name);
    } else if (a->kind == K_CBCPAD && !enc && (n % AES_BLOCK || n == 0)) {
        return bad(why, whysz, "Invalid length of 'value': %zu bytes.", n);
    }
    if (a->kind != K_KW) {
        if (!sym)
            return bad(why, whysz, "%s needs an IV.", a->name);
        if (sym->aad_len && a->kind != K_GCM)
            return bad(why, whysz, "Algorithm %s does not take 'aad'.", a->name);
        if (enc && sym->iv_len == 0) {
            if ((e = cf_random(sym->iv, ivlen)))
                return e;
            sym->iv_len = ivlen;
        }
        if (sym->iv_len != ivlen)
            return bad(why, whysz, "Invalid length of 'iv': %zu bytes. %s requires %zu bytes.",
                       sym->iv_len, a->name, ivlen);
        if (a->kind == K_GCM && !enc && sym->tag_len != CF_KVKEY_TAG_LEN)
            return bad(why, whysz, "Invalid length of 'tag': %zu bytes. %s requires %d bytes.",
                       sym->tag_len, a->name, CF_KVKEY_TAG_LEN);
        m.pParameter = sym->iv;
        m.ulParameterLen = ivlen;
    }
    if (!(buf = malloc(cap)))
        return CF_ENOMEM;
    if (a->kind == K_KW) {
        e = aes_kw(h, s, ki->priv, enc, in, n, buf, &olen);
        goto done;
    }
    if (a->kind == K_GCM) {
        memset(&gcm, 0, sizeof(gcm));
        gcm.pIv = sym->iv;
        gcm.ulIvLen = ivlen;
        gcm.ulIvBits = ivlen * 8;
        gcm.pAAD = (CK_BYTE_PTR)(uintptr_t)sym->aad;
        gcm.ulAADLen = sym->aad_len;
        gcm.ulTagBits = 128;
        m = (CK_MECHANISM){CKM_AES_GCM, &gcm, sizeof(gcm)};
        if (!enc) { /* the token takes ciphertext || tag */
            memcpy(buf, in, n);
            memcpy(buf + n, sym->tag, CF_KVKEY_TAG_LEN);
            in = buf;
            n += CF_KVKEY_TAG_LEN;
        }
    }
    bl = (CK_ULONG)cap;
    if (enc) {
        if ((e = rv_err(h->f->C_EncryptInit(s, &m, ki->priv), "C_EncryptInit")))
            goto done;
        rv = h->f->C_Encrypt(s, (CK_BYTE_PTR)(uintptr_t)in, (CK_ULONG)n, buf, &bl);
    } else {
        unsigned char *tmp = a->kind == K_GCM ? malloc(cap) : NULL;
        if (a->kind == K_GCM && !tmp) {
            e = CF_ENOMEM;
            goto done;
        }
        if ((e = rv_err(h->f->C_DecryptInit(s, &m, ki->priv), "C_DecryptInit"))) {
            free(tmp);
            goto done;
        }
        rv = h->f->C_Decrypt(s, (CK_BYTE_PTR)(uintptr_t)in, (CK_ULONG)n, tmp ? tmp : buf, &bl);
        if (tmp) {
            memcpy(buf, tmp, bl <= cap ? bl : 0);
            cf_wipe(tmp, cap);
            free(tmp);
        }
    }
    if (rv != CKR_OK) {
        e = !enc ? CF_ECRYPTO : rv_err(rv, "C_Encrypt");
        goto done;
    }
    olen = bl;
    if (enc && a->kind == K_GCM) {
        if (olen < CF_KVKEY_TAG_LEN) {
            e = CF_EIO;
            goto done;
        }
        olen -= CF_KVKEY_TAG_LEN;
        memcpy(sym->tag, buf + olen, CF_KVKEY_TAG_LEN);
        sym->tag_len = CF_KVKEY_TAG_LEN;
    }
done:
    if (!e && enc)
        e = cf_buf_append(out, buf, olen);
    else if (!e && !(*pt = cf_secret_from(buf, olen)))
        e = CF_ENOMEM;
    cf_wipe(buf, cap);
    free(buf);
    return e;
}

/* ---------------- encrypt / decrypt entry points ---------------- */

cf_err cf_hsm_encrypt(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                      bool wrap, const void *pt, size_t n, struct cf_kvkey_sym *sym,
                      struct cf_buf *out, char *why, size_t whysz)
{
    const struct alg *a;
    struct keyinfo ki;
    size_t start;
    cf_err e;
    int si;

    why_set(why, whysz, "%s", "");
    if (!h || !id || !out || (!pt && n))
        return CF_EINVAL;
    start = out->len;
    si = take(h);
    if ((e = keyinfo(h, h->s[si], id, &ki)) ||
        (e = pick(&ki, alg, wrap ? U_WRAP : U_CRYPT, &a, why, whysz)))
        goto give;
    if (ki.kt == CKK_RSA)
        e = rsa_encrypt(h, h->s[si], &ki, a, pt, n, out, why, whysz);
    else
        e = aes_crypt(h, h->s[si], &ki, a, true, pt ? pt : (const void *)"", n, sym, out, NULL, why,
                      whysz);
give:
    give(h, si);
    if (e)
        out->len = start;
    return e;
}

cf_err cf_hsm_decrypt(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], const char *alg,
                      bool unwrap, const void *ct, size_t n, const struct cf_kvkey_sym *sym,
                      struct cf_secret **pt, char *why, size_t whysz)
{
    struct cf_kvkey_sym copy;
    const struct alg *a;
    struct keyinfo ki;
    cf_err e;
    int si;

    why_set(why, whysz, "%s", "");
    if (!h || !id || !pt || (!ct && n))
        return CF_EINVAL;
    *pt = NULL;
    if (sym)
        copy = *sym;
    si = take(h);
    if ((e = keyinfo(h, h->s[si], id, &ki)) ||
        (e = pick(&ki, alg, unwrap ? U_WRAP : U_CRYPT, &a, why, whysz)))
        goto give;
    if (ki.kt == CKK_RSA)
        e = rsa_decrypt(h, h->s[si], &ki, a, ct, n, pt, why, whysz);
    else if (a->kind != K_KW && !sym)
        e = bad(why, whysz, "%s needs an IV.", a->name);
    else
        e = aes_crypt(h, h->s[si], &ki, a, false, ct ? ct : (const void *)"", n, sym ? &copy : NULL,
                      NULL, pt, why, whysz);
give:
    give(h, si);
    cf_wipe(&copy, sizeof(copy));
    return e;
}

/* ---------------- destroy, checks ---------------- */

static cf_err destroy_in(struct cf_hsm *h, CK_SESSION_HANDLE s, const unsigned char *id)
{
    static const CK_OBJECT_CLASS cls[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY};
    CK_OBJECT_HANDLE o;
    cf_err e = CF_OK, f;

    for (size_t i = 0; i < CF_ARRAY_LEN(cls); i++) {
        while ((f = find(h, s, id, cls[i], &o)) == CF_OK)
            if ((f = rv_err(h->f->C_DestroyObject(s, o), "C_DestroyObject")))
                break;
        if (f != CF_ENOTFOUND && !e)
            e = f;
    }
    return e;
}

cf_err cf_hsm_destroy(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN])
{
    cf_err e;
    int si;

    if (!h || !id)
        return CF_EINVAL;
    si = take(h);
    e = destroy_in(h, h->s[si], id);
    give(h, si);
    return e;
}

cf_err cf_hsm_is_protected(struct cf_hsm *h, const unsigned char id[CF_HSM_ID_LEN], bool *yes)
{
    CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, tok = CK_FALSE;
    CK_ATTRIBUTE a[] = {{CKA_SENSITIVE, &sens, sizeof(sens)},
                        {CKA_EXTRACTABLE, &extr, sizeof(extr)},
                        {CKA_TOKEN, &tok, sizeof(tok)}};
    struct keyinfo ki;
    cf_err e;
    int si;

    *yes = false;
    if (!h || !id)
        return CF_EINVAL;
    si = take(h);
    e = keyinfo(h, h->s[si], id, &ki);
    if (!e)
        e = rv_err(h->f->C_GetAttributeValue(h->s[si], ki.priv, a, CF_ARRAY_LEN(a)),
                   "C_GetAttributeValue");
    give(h, si);
    *yes = !e && sens == CK_TRUE && extr == CK_FALSE && tok == CK_TRUE;
    return e;
}

/* kvkey.c - Key Vault keys: software RSA / EC / oct key material and its operations.
 *
 *   curves[], algs[]            the supported curves and Azure algorithm names (one table each)
 *   pick_alg                    alg name + operation + key -> table row, with Azure-like errors
 *   cf_kvkey_generate_*         EVP keygen (RSA, EC), random bytes (oct)
 *   cf_kvkey_from_jwk           JWK with private parts -> key; rsa_recover_pq for n,e,d-only RSA
 *   cf_kvkey_to_blob/from_blob  "CFK" 1 <kty> || PKCS#8 DER (RSA, EC) or raw bytes (oct)
 *   cf_kvkey_write_public_jwk   n,e / crv,x,y members through cf_jw
 *   sign/verify                 RS*, PS*, RSNULL (EVP_PKEY_sign over the given digest), ES*
 *                               (DER <-> JOSE r||s), HS* (HMAC)
 *   encrypt/decrypt, wrap       RSA1_5 / RSA-OAEP / RSA-OAEP-256, AES-KW (RFC 3394 / 5649),
 *                               AES-GCM, AES-CBC, AES-CBC-PAD
 *
 * Invariants: a struct cf_kvkey is immutable after construction (so it can be shared between
 * threads) except its prepared EVP_PKEY_CTX slots, each owned by one thread at a time (struct
 * ctx_slot; an operation finding every slot busy builds its own). Every intermediate
 * holding private bytes is a cf_secret, a buffer released with cf_buf_wipe, a secure BIGNUM
 * (BN_secure_new / BN_CTX_secure_new: cleared on free, and OSSL_PARAM_BLD puts them in a block
 * OSSL_PARAM_free clears), or a stack array cleared with cf_wipe before return. "why" texts
 * never contain key bytes; they may quote the alg name, filtered to [A-Za-z0-9_-]. Decrypt and
 * unwrap failures after the public size checks are one CF_ECRYPTO with no detail (no padding
 * oracle beyond success/failure itself). */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

/* A prepared EVP_PKEY_CTX kept with its key (the per-operation EVP_PKEY_CTX_new + *_init +
 * digest fetch + padding parameters cost ~9 us of an RSA-2048 sign and ~5 us of an ES256 one:
 * OpenSSL 3 provider look-ups). A slot is owned by whoever set busy 0 -> 1 (acquire) until it
 * stores 0 (release); a, op and ctx are read and written only by the owner, so an EVP_PKEY_CTX
 * is never used by two threads at once. The slots die with the key (cf_kvkey_free). */
#define CTX_SLOTS 4
struct ctx_slot {
    int busy;
    int op;             /* CTX_SIGN ... CTX_DECRYPT */
    const struct alg *a; /* what ctx is set up for; NULL with ctx NULL */
    EVP_PKEY_CTX *ctx;
};

struct cf_kvkey {
    enum cf_kty kty;
    enum cf_crv crv;       /* EC only */
    int bits;              /* RSA modulus, curve or AES key bits */
    EVP_PKEY *pk;          /* RSA, EC */
    struct cf_secret *oct; /* oct: the AES/HMAC key bytes */
    struct ctx_slot *slots; /* RSA, EC: CTX_SLOTS prepared contexts (the only mutable part) */
};

#define COORD_MAX 66            /* P-521 */
#define RSA_BYTES_MAX 512       /* 4096 bits */
#define SYM_INPUT_MAX (1 << 20) /* symmetric inputs beyond any request body */
#define BLOB_HDR_LEN 5
static const unsigned char blob_magic[4] = {'C', 'F', 'K', 1};

/* ---- tables ---- */

static const struct curve {
    enum cf_crv crv;
    const char *jwk;  /* Azure / JWK name */
    const char *ossl; /* OpenSSL group name */
    int bits;
    size_t coord; /* bytes of x, y, d, r and s */
} curves[] = {
    {CF_CRV_P256, "P-256", SN_X9_62_prime256v1, 256, 32},
    {CF_CRV_P384, "P-384", SN_secp384r1, 384, 48},
    {CF_CRV_P521, "P-521", SN_secp521r1, 521, 66},
    {CF_CRV_P256K, "P-256K", SN_secp256k1, 256, 32},
};

static const struct curve *curve_of(enum cf_crv crv)
{
    for (size_t i = 0; i < CF_ARRAY_LEN(curves); i++)
        if (curves[i].crv == crv)
            return &curves[i];
    return NULL;
}

enum kind {
    SIG_RSA_PKCS1, /* RS*: PKCS#1 v1.5 with DigestInfo */
    SIG_RSA_PSS,   /* PS*: salt = digest length, MGF1 same hash */
    SIG_RSA_NULL,  /* RSNULL: PKCS#1 v1.5 type 1 over the raw value */
    SIG_EC,        /* ES*: ECDSA over the digest, JOSE r||s */
    SIG_HMAC,      /* HS*: HMAC with the oct key */
    ENC_RSA,       /* RSA1_5, RSA-OAEP, RSA-OAEP-256 */
    ENC_GCM,       /* A*GCM */
    ENC_CBC,       /* A*CBC, no padding */
    ENC_CBCPAD,    /* A*CBCPAD, PKCS#7 */
    ENC_KW,        /* A*KW, CKM_AES_KEY_WRAP: RFC 3394 */
    ENC_KWP,       /* CKM_AES_KEY_WRAP_PAD: RFC 5649 */
};

#define OP_SIGN 1u
#define OP_ENC 2u
#define OP_WRAP 4u

static const struct alg {
    const char *name;
    enum kind kind;
    const char *md;  /* digest (signatures, OAEP) or NULL */
    size_t len;      /* exact digest length (SIG_*) or RSA padding overhead (ENC_RSA) */
    enum cf_crv crv; /* SIG_EC */
    int aes_bits;    /* AES algorithms: required key size, 0 = any */
    int pad;         /* ENC_RSA: OpenSSL padding mode */
} algs[] = {
    {"RS256", SIG_RSA_PKCS1, "SHA256", 32, CF_CRV_NONE, 0, 0},
    {"RS384", SIG_RSA_PKCS1, "SHA384", 48, CF_CRV_NONE, 0, 0},
    {"RS512", SIG_RSA_PKCS1, "SHA512", 64, CF_CRV_NONE, 0, 0},
    {"PS256", SIG_RSA_PSS, "SHA256", 32, CF_CRV_NONE, 0, 0},
    {"PS384", SIG_RSA_PSS, "SHA384", 48, CF_CRV_NONE, 0, 0},
    {"PS512", SIG_RSA_PSS, "SHA512", 64, CF_CRV_NONE, 0, 0},
    {"RSNULL", SIG_RSA_NULL, NULL, 0, CF_CRV_NONE, 0, 0},
    {"ES256", SIG_EC, NULL, 32, CF_CRV_P256, 0, 0},
    {"ES256K", SIG_EC, NULL, 32, CF_CRV_P256K, 0, 0},
    {"ES384", SIG_EC, NULL, 48, CF_CRV_P384, 0, 0},
    {"ES512", SIG_EC, NULL, 64, CF_CRV_P521, 0, 0},
    {"HS256", SIG_HMAC, "SHA256", 32, CF_CRV_NONE, 0, 0},
    {"HS384", SIG_HMAC, "SHA384", 48, CF_CRV_NONE, 0, 0},
    {"HS512", SIG_HMAC, "SHA512", 64, CF_CRV_NONE, 0, 0},
    {"RSA1_5", ENC_RSA, NULL, 11, CF_CRV_NONE, 0, RSA_PKCS1_PADDING},
    {"RSA-OAEP", ENC_RSA, "SHA1", 42, CF_CRV_NONE, 0, RSA_PKCS1_OAEP_PADDING},
    {"RSA-OAEP-256", ENC_RSA, "SHA256", 66, CF_CRV_NONE, 0, RSA_PKCS1_OAEP_PADDING},
    {"A128GCM", ENC_GCM, NULL, 0, CF_CRV_NONE, 128, 0},
    {"A192GCM", ENC_GCM, NULL, 0, CF_CRV_NONE, 192, 0},
    {"A256GCM", ENC_GCM, NULL, 0, CF_CRV_NONE, 256, 0},
    {"A128CBC", ENC_CBC, NULL, 0, CF_CRV_NONE, 128, 0},
    {"A192CBC", ENC_CBC, NULL, 0, CF_CRV_NONE, 192, 0},
    {"A256CBC", ENC_CBC, NULL, 0, CF_CRV_NONE, 256, 0},
    {"A128CBCPAD", ENC_CBCPAD, NULL, 0, CF_CRV_NONE, 128, 0},
    {"A192CBCPAD", ENC_CBCPAD, NULL, 0, CF_CRV_NONE, 192, 0},
    {"A256CBCPAD", ENC_CBCPAD, NULL, 0, CF_CRV_NONE, 256, 0},
    {"A128KW", ENC_KW, NULL, 0, CF_CRV_NONE, 128, 0},
    {"A192KW", ENC_KW, NULL, 0, CF_CRV_NONE, 192, 0},
    {"A256KW", ENC_KW, NULL, 0, CF_CRV_NONE, 256, 0},
    {"CKM_AES_KEY_WRAP", ENC_KW, NULL, 0, CF_CRV_NONE, 0, 0},
    {"CKM_AES_KEY_WRAP_PAD", ENC_KWP, NULL, 0, CF_CRV_NONE, 0, 0},
};

static unsigned ops_of(enum kind kind)
{
    switch (kind) {
    case SIG_RSA_PKCS1:
    case SIG_RSA_PSS:
    case SIG_RSA_NULL:
    case SIG_EC:
    case SIG_HMAC:
        return OP_SIGN;
    case ENC_GCM:
    case ENC_CBC:
    case ENC_CBCPAD:
        return OP_ENC;
    case ENC_RSA:
    case ENC_KW:
    case ENC_KWP:
        return OP_ENC | OP_WRAP;
    }
    return 0;
}

static enum cf_kty kty_of(enum kind kind)
{
    switch (kind) {
    case SIG_RSA_PKCS1:
    case SIG_RSA_PSS:
    case SIG_RSA_NULL:
    case ENC_RSA:
        return CF_KTY_RSA;
    case SIG_EC:
        return CF_KTY_EC;
    case SIG_HMAC:
    case ENC_GCM:
    case ENC_CBC:
    case ENC_CBCPAD:
    case ENC_KW:
    case ENC_KWP:
        return CF_KTY_OCT;
    }
    return CF_KTY_OCT;
}

static const char *kty_name(enum cf_kty kty)
{
    return kty == CF_KTY_RSA ? "RSA" : kty == CF_KTY_EC ? "EC" : "oct";
}

/* ---- small helpers ---- */

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

/* The caller's alg name as it may appear in a message: short and [A-Za-z0-9_-] only. */
static const char *alg_quote(const char *alg)
{
    size_t n;

    if (!alg)
        return "";
    n = strlen(alg);
    if (n == 0 || n > 32)
        return "?";
    for (size_t i = 0; i < n; i++) {
        char c = alg[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return "?";
    }
    return alg;
}

static size_t key_bytes(const struct cf_kvkey *k)
{
    return ((size_t)k->bits + 7) / 8;
}

/* The row for alg if it names an algorithm usable for one of ops on key k. */
static cf_err pick_alg(const struct cf_kvkey *k, const char *alg, unsigned ops,
                       const struct alg **out, char *why, size_t whysz)
{
    const struct alg *a = NULL;

    *out = NULL;
    if (!k)
        return CF_EINVAL;
    if (!alg || !*alg) {
        why_set(why, whysz, "The parameter 'alg' is required.");
        return CF_EBADPARAM;
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(algs); i++)
        if (strcmp(algs[i].name, alg) == 0)
            a = &algs[i];
    if (!a) {
        why_set(why, whysz, "Invalid algorithm '%s'.", alg_quote(alg));
        return CF_EBADPARAM;
    }
    if (!(ops_of(a->kind) & ops)) {
        why_set(why, whysz, "Algorithm %s is not valid for this operation.", a->name);
        return CF_EBADPARAM;
    }
    if (kty_of(a->kind) != k->kty) {
        why_set(why, whysz, "Algorithm %s is not supported for a key of type %s.", a->name,
                kty_name(k->kty));
        return CF_EBADPARAM;
    }
    if (a->kind == SIG_EC && a->crv != k->crv) {
        why_set(why, whysz, "Algorithm %s requires curve %s; the key uses curve %s.", a->name,
                curve_of(a->crv)->jwk, cf_crv_name(k->crv));
        return CF_EBADPARAM;
    }
    if (a->aes_bits && a->aes_bits != k->bits) {
        why_set(why, whysz, "Algorithm %s requires a %d-bit key; the key has %d bits.", a->name,
                a->aes_bits, k->bits);
        return CF_EBADPARAM;
    }
    *out = a;
    return CF_OK;
}

/* The digest-length rule of the service, with its message (azure-kv-keys.md §6.2). */
static cf_err check_digest_len(const struct cf_kvkey *k, const struct alg *a, size_t dlen,
                               char *why, size_t whysz)
{
    if (a->kind == SIG_RSA_NULL) {
        if (dlen == 0 || dlen > key_bytes(k) - 11) {
            why_set(why, whysz,
                    "Invalid length of 'value': %zu bytes. RSNULL accepts 1 to %zu bytes with "
                    "this key.",
                    dlen, key_bytes(k) - 11);
            return CF_EBADPARAM;
        }
        return CF_OK;
    }
    if (dlen != a->len) {
        why_set(why, whysz,
                "Invalid length of 'value': %zu bytes. %s requires %zu bytes, encoded with "
                "base64url.",
                dlen, a->name, a->len);
        return CF_EBADPARAM;
    }
    return CF_OK;
}

static struct cf_kvkey *kvkey_new(enum cf_kty kty)
{
    struct cf_kvkey *k = calloc(1, sizeof(*k));
    if (k)
        k->kty = kty;
    if (k && kty != CF_KTY_OCT && !(k->slots = calloc(CTX_SLOTS, sizeof(*k->slots)))) {
        free(k);
        k = NULL;
    }
    return k;
}

static bool rsa_bits_ok(int bits)
{
    return bits == 2048 || bits == 3072 || bits == 4096;
}

static bool oct_bits_ok(int bits)
{
    return bits == 128 || bits == 192 || bits == 256;
}

/* Wraps an RSA or EC EVP_PKEY (taking ownership) as a cf_kvkey of the expected type after
 * checking it is one we support (RSA 2048/3072/4096 - not RSA-PSS; EC on a table curve with
 * named parameters). CF_EBADPARAM otherwise (pk freed). */
static cf_err adopt_pkey(EVP_PKEY *pk, enum cf_kty want, struct cf_kvkey **out)
{
    struct cf_kvkey *k = NULL;
    char group[64];
    size_t glen = 0;

    *out = NULL;
    if (!pk)
        return CF_EINVAL;
    if (want == CF_KTY_RSA) {
        if (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS") ||
            !rsa_bits_ok(EVP_PKEY_get_bits(pk)))
            goto refuse;
        if (!(k = kvkey_new(CF_KTY_RSA)))
            goto nomem;
        k->bits = EVP_PKEY_get_bits(pk);
    } else if (want == CF_KTY_EC) {
        const struct curve *c = NULL;
        if (!EVP_PKEY_is_a(pk, "EC") ||
            EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
            goto refuse;
        for (size_t i = 0; i < CF_ARRAY_LEN(curves); i++)
            if (strcmp(group, curves[i].ossl) == 0)
                c = &curves[i];
        if (!c)
            goto refuse;
        if (!(k = kvkey_new(CF_KTY_EC)))
            goto nomem;
        k->crv = c->crv;
        k->bits = c->bits;
    } else {
        goto refuse;
    }
    k->pk = pk;
    *out = k;
    return CF_OK;
refuse:
    cf_crypto_clear();
    EVP_PKEY_free(pk);
    return CF_EBADPARAM;
nomem:
    EVP_PKEY_free(pk);
    return CF_ENOMEM;
}

/* ---- curves ---- */

bool cf_crv_parse(struct cf_str name, enum cf_crv *out)
{
    for (size_t i = 0; i < CF_ARRAY_LEN(curves); i++) {
        if (cf_str_eq_cstr(name, curves[i].jwk)) {
            *out = curves[i].crv;
            return true;
        }
    }
    /* Python's JWK reader accepts this alias (azure-kv-keys.md §2.2). */
    if (cf_str_eq_cstr(name, "SECP256K1")) {
        *out = CF_CRV_P256K;
        return true;
    }
    return false;
}

const char *cf_crv_name(enum cf_crv crv)
{
    const struct curve *c = curve_of(crv);
    return c ? c->jwk : NULL;
}

/* ---- generation ---- */

cf_err cf_kvkey_generate_rsa(int bits, uint32_t public_exponent, struct cf_kvkey **out)
{
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pk = NULL;
    BIGNUM *e = NULL;
    cf_err err = CF_OK;

    *out = NULL;
    if (public_exponent == 0)
        public_exponent = 65537;
    if (!rsa_bits_ok(bits) || public_exponent < 3 || public_exponent % 2 == 0)
        return CF_EBADPARAM;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!ctx)
        return cf_crypto_fail("RSA key context");
    e = BN_new();
    if (!e || BN_set_word(e, public_exponent) != 1 || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) != 1 || EVP_PKEY_keygen(ctx, &pk) != 1) {
        err = cf_crypto_fail("RSA key generation");
        goto free_ctx;
    }
    err = adopt_pkey(pk, CF_KTY_RSA, out);
free_ctx:
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return err;
}

cf_err cf_kvkey_generate_ec(enum cf_crv crv, struct cf_kvkey **out)
{
    const struct curve *c = curve_of(crv);
    EVP_PKEY *pk;

    *out = NULL;
    if (!c)
        return CF_EBADPARAM;
    pk = EVP_EC_gen(c->ossl);
    if (!pk)
        return cf_crypto_fail("EC key generation");
    return adopt_pkey(pk, CF_KTY_EC, out);
}

cf_err cf_kvkey_generate_oct(int bits, struct cf_kvkey **out)
{
    struct cf_kvkey *k;
    cf_err e;

    *out = NULL;
    if (!oct_bits_ok(bits))
        return CF_EBADPARAM;
    if (!(k = kvkey_new(CF_KTY_OCT)) || !(k->oct = cf_secret_new((size_t)bits / 8))) {
        cf_kvkey_free(k);
        return CF_ENOMEM;
    }
    k->bits = bits;
    if ((e = cf_random(k->oct->p, k->oct->len)) != CF_OK) {
        cf_kvkey_free(k);
        return e;
    }
    *out = k;
    return CF_OK;
}

/* ---- JWK import ---- */

/* Decodes JWK member name (base64url, padded or not) into b (max bytes). CF_ENOTFOUND when
 * absent; CF_EBADPARAM with why for a non-string, bad base64 or a value over max. */
static cf_err jwk_member(const struct cf_json *jwk, const char *name, struct cf_buf *b, size_t max,
                         char *why, size_t whysz)
{
    const struct cf_json *v = cf_json_get(jwk, name);
    const char *s;
    size_t len = 0;
    cf_err e;

    if (!v)
        return CF_ENOTFOUND;
    s = cf_json_str(v, &len);
    if (!s) {
        why_set(why, whysz, "JWK member '%s' must be a base64url string.", name);
        return CF_EBADPARAM;
    }
    /* Each 4 characters decode to at most 3 bytes; refuse long text before decoding it. */
    if (len / 4 * 3 > max + 3) {
        why_set(why, whysz, "JWK member '%s' is too long.", name);
        return CF_EBADPARAM;
    }
    e = cf_b64_decode(b, (struct cf_str){s, len});
    if (e == CF_ETOOBIG || (e == CF_OK && b->len > max)) {
        why_set(why, whysz, "JWK member '%s' is too long.", name);
        return CF_EBADPARAM;
    }
    if (e != CF_OK || b->len == 0) {
        why_set(why, whysz, "JWK member '%s' is not valid base64url.", name);
        return e == CF_ENOMEM ? e : CF_EBADPARAM;
    }
    return CF_OK;
}

/* A big-endian unsigned integer member as a BIGNUM (secure when priv). */
static cf_err jwk_bn(const struct cf_json *jwk, const char *name, bool priv, BIGNUM **out,
                     char *why, size_t whysz)
{
    struct cf_buf b;
    cf_err e;

    *out = NULL;
    cf_buf_init(&b, RSA_BYTES_MAX + 8);
    e = jwk_member(jwk, name, &b, RSA_BYTES_MAX + 1, why, whysz);
    if (e == CF_OK) {
        *out = priv ? BN_secure_new() : BN_new();
        if (!*out || !BN_bin2bn((const unsigned char *)b.data, (int)b.len, *out)) {
            BN_clear_free(*out);
            *out = NULL;
            e = CF_ENOMEM;
        }
    }
    cf_buf_wipe(&b);
    return e;
}

/* floor(sqrt(a)) into r by Newton's method; *exact when r^2 == a. Starting above the root
 * (2^ceil(bits/2)), the iterates decrease monotonically to floor(sqrt(a)) and the error at
 * least halves each step, so the loop ends within bits/2 + 2 steps (the bound is a guard). */
static bool bn_isqrt(BIGNUM *r, const BIGNUM *a, bool *exact, BN_CTX *bc)
{
    BIGNUM *y, *t;
    bool ok = false;
    int bits = BN_num_bits(a);

    BN_CTX_start(bc);
    y = BN_CTX_get(bc);
    t = BN_CTX_get(bc);
    if (!t)
        goto end;
    BN_zero(r);
    if (bits == 0) {
        *exact = true;
        ok = true;
        goto end;
    }
    if (BN_set_bit(r, (bits + 1) / 2) != 1)
        goto end;
    for (int i = 0; i < bits + 8; i++) {
        if (BN_div(y, NULL, a, r, bc) != 1 || BN_add(y, y, r) != 1 || BN_rshift1(y, y) != 1)
            goto end;
        if (BN_cmp(y, r) >= 0)
            break;
        if (!BN_copy(r, y))
            goto end;
    }
    if (BN_sqr(t, r, bc) != 1)
        goto end;
    *exact = BN_cmp(t, a) == 0;
    ok = true;
end:
    BN_CTX_end(bc);
    return ok;
}

/* p and q from n, e, d without modular exponentiation (the probabilistic method of SP 800-56B
 * C.2 costs a full-size modexp per base and, for a bogus n, d, as many squarings as d*e - 1 has
 * factors of two: 3-11 s of CPU per 4096-bit request, found by fuzz_kvkey_jwk).
 *
 * Why it works: d*e - 1 = k = m * lambda(n), lambda = phi / G with G = gcd(p-1, q-1), so
 * k / phi = m / G, whose lowest terms we call m0 / G0. phi = n - (p + q) + 1 is just below n,
 * so k / n is within (m0 / G0) * 2^(2 - bits/2) of m0 / G0; while m0 * G0 < 2^(bits/2 - 3)
 * (m <= e * G, e < 2^64: true for any G < 2^470 at 2048 bits) that is closer than
 * 1 / (2 * G0^2), so by Legendre's theorem m0 / G0 is a convergent of the continued fraction
 * of k / n. For each convergent h / l we try phi = k * l / h: then p + q = n - phi + 1 and
 * p, q are the roots of x^2 - (p + q) x + n. Covers d = e^-1 mod phi (G0 = 1) as well as
 * mod lambda (OpenSSL 3).
 *
 * Cost bound, whatever the input: the denominators grow at least like Fibonacci numbers, and
 * we stop at CF_DENOM_BITS (real keys have G0 of a few bits), so at most ~1.44 * 512 steps of
 * one division, one multiplication and one division by h, plus an integer square root for the
 * few candidates that pass the exact-division and size filters. Measured worst case well
 * under 10 ms at 4096 bits (tests/unit/crypto/test_kvkey.c times a crafted one). Variable
 * time: it runs once per import on the owner's own key; the full EVP_PKEY_check follows. */
#define CF_DENOM_BITS 512
#define CF_STEPS_MAX 1024
static cf_err rsa_recover_pq(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, BIGNUM *p,
                             BIGNUM *q, BN_CTX *bc)
{
    BIGNUM *k, *r0, *r1, *a, *rem, *h0, *h1, *l0, *l1, *t, *phi, *s, *disc, *root, *sw;
    cf_err err = CF_EBADPARAM;
    int half = BN_num_bits(n) / 2;
    bool exact;

    BN_CTX_start(bc);
    k = BN_CTX_get(bc);
    r0 = BN_CTX_get(bc);
    r1 = BN_CTX_get(bc);
    a = BN_CTX_get(bc);
    rem = BN_CTX_get(bc);
    h0 = BN_CTX_get(bc);
    h1 = BN_CTX_get(bc);
    l0 = BN_CTX_get(bc);
    l1 = BN_CTX_get(bc);
    t = BN_CTX_get(bc);
    phi = BN_CTX_get(bc);
    s = BN_CTX_get(bc);
    disc = BN_CTX_get(bc);
    root = BN_CTX_get(bc);
    if (!root) {
        err = CF_ENOMEM;
        goto end;
    }
    /* k = d*e - 1 and the Euclidean remainders r0, r1 of k / n; convergents h1 / l1 with
     * (h0, l0) the previous one, starting from h_-2 / l_-2 = 0 / 1 and h_-1 / l_-1 = 1 / 0. */
    if (BN_mul(k, d, e, bc) != 1 || BN_sub_word(k, 1) != 1 || !BN_copy(r0, k) ||
        !BN_copy(r1, n))
        goto end;
    BN_zero(h0);
    BN_zero(l1);
    if (BN_one(h1) != 1 || BN_one(l0) != 1)
        goto end;
    if (BN_is_zero(k) || BN_is_odd(k))
        goto end; /* lambda(n) is even, so is every multiple */
    for (int step = 0; step < CF_STEPS_MAX && !BN_is_zero(r1); step++) {
        if (BN_div(a, rem, r0, r1, bc) != 1)
            goto end;
        sw = r0, r0 = r1, r1 = rem, rem = sw;
        /* h_j = a_j h_(j-1) + h_(j-2), the same for l; the new one replaces the older */
        if (BN_mul(t, a, h1, bc) != 1 || BN_add(h0, h0, t) != 1 || BN_mul(t, a, l1, bc) != 1 ||
            BN_add(l0, l0, t) != 1)
            goto end;
        sw = h0, h0 = h1, h1 = sw;
        sw = l0, l0 = l1, l1 = sw;
        if (BN_num_bits(l1) > CF_DENOM_BITS)
            break;
        if (BN_is_zero(h1))
            continue;
        if (BN_mul(t, k, l1, bc) != 1 || BN_div(phi, rem, t, h1, bc) != 1)
            goto end;
        if (!BN_is_zero(rem) || BN_is_odd(phi))
            continue;
        /* s = p + q = n - phi + 1: two half-size factors make it at most half + 1 bits */
        if (BN_sub(s, n, phi) != 1 || BN_add_word(s, 1) != 1)
            goto end;
        if (BN_is_negative(s) || BN_is_zero(s) || BN_num_bits(s) > half + 1)
            continue;
        /* disc = s^2 - 4n = (p - q)^2 */
        if (BN_sqr(disc, s, bc) != 1 || BN_lshift(t, n, 2) != 1 || BN_sub(disc, disc, t) != 1)
            goto end;
        if (BN_is_negative(disc))
            continue;
        if (!bn_isqrt(root, disc, &exact, bc))
            goto end;
        if (!exact || BN_is_odd(s) != BN_is_odd(root))
            continue;
        if (BN_add(p, s, root) != 1 || BN_rshift1(p, p) != 1 || BN_sub(q, s, root) != 1 ||
            BN_rshift1(q, q) != 1 || BN_mul(t, p, q, bc) != 1)
            goto end;
        if (BN_cmp(t, n) == 0 && BN_cmp(q, BN_value_one()) > 0) {
            err = CF_OK;
            goto end;
        }
    }
end:
    BN_CTX_end(bc);
    cf_crypto_clear();
    return err;
}

static cf_err jwk_rsa(const struct cf_json *jwk, struct cf_kvkey **out, char *why, size_t whysz)
{
    static const char *const crt[5] = {"p", "q", "dp", "dq", "qi"};
    BIGNUM *n = NULL, *e = NULL, *d = NULL, *f[5] = {NULL};
    BN_CTX *bc = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    int have = 0, bits;
    cf_err err;

    if ((err = jwk_bn(jwk, "n", false, &n, why, whysz)) != CF_OK ||
        (err = jwk_bn(jwk, "e", false, &e, why, whysz)) != CF_OK) {
        if (err == CF_ENOTFOUND)
            why_set(why, whysz, "An RSA JWK requires 'n' and 'e'.");
        goto free_bn;
    }
    if ((err = jwk_bn(jwk, "d", true, &d, why, whysz)) != CF_OK) {
        if (err == CF_ENOTFOUND)
            why_set(why, whysz,
                    "The JWK has no private key ('d'); only private keys can be "
                    "imported.");
        goto free_bn;
    }
    bits = BN_num_bits(n);
    if (!rsa_bits_ok(bits)) {
        why_set(why, whysz, "RSA key size %d is not supported (2048, 3072 or 4096 bits).", bits);
        err = CF_EBADPARAM;
        goto free_bn;
    }
    if (BN_num_bits(e) > 64 || !BN_is_odd(e) || BN_is_one(e) || BN_is_zero(d) ||
        BN_cmp(d, n) >= 0) {
        why_set(why, whysz, "The RSA key is not consistent.");
        err = CF_EBADPARAM;
        goto free_bn;
    }
    for (int i = 0; i < 5; i++) {
        err = jwk_bn(jwk, crt[i], true, &f[i], why, whysz);
        if (err == CF_OK)
            have++;
        else if (err != CF_ENOTFOUND)
            goto free_bn;
    }
    err = CF_OK;
    if (!(bc = BN_CTX_secure_new())) {
        err = CF_ENOMEM;
        goto free_bn;
    }
    if (have == 0) {
        /* n, e, d only: recover the factors and CRT values so the key is an ordinary one. */
        for (int i = 0; i < 5; i++)
            if (!(f[i] = BN_secure_new())) {
                err = CF_ENOMEM;
                goto free_bn;
            }
        BN_set_flags(f[0], BN_FLG_CONSTTIME);
        BN_set_flags(f[1], BN_FLG_CONSTTIME);
        if ((err = rsa_recover_pq(n, e, d, f[0], f[1], bc)) != CF_OK) {
            why_set(why, whysz, "The RSA key is not consistent.");
            goto free_bn;
        }
        BN_CTX_start(bc);
        BIGNUM *pm1 = BN_CTX_get(bc), *qm1 = BN_CTX_get(bc);
        if (!qm1 || !BN_sub(pm1, f[0], BN_value_one()) || !BN_sub(qm1, f[1], BN_value_one()) ||
            !BN_mod(f[2], d, pm1, bc) || !BN_mod(f[3], d, qm1, bc) ||
            !BN_mod_inverse(f[4], f[1], f[0], bc))
            err = cf_crypto_fail("RSA CRT values");
        BN_CTX_end(bc);
        if (err)
            goto free_bn;
    } else if (have != 5) {
        why_set(why, whysz,
                "The RSA private key is incomplete: 'p', 'q', 'dp', 'dq' and 'qi' "
                "go together.");
        err = CF_EBADPARAM;
        goto free_bn;
    }
    if (!(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, f[0]) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, f[1]) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, f[2]) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, f[3]) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, f[4]) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        err = cf_crypto_fail("RSA key parameters");
        goto free_bn;
    }
    if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) != 1) {
        err = cf_crypto_fail("RSA key import");
        goto free_bn;
    }
    if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1 || !pk) {
        why_set(why, whysz, "The RSA key is not consistent.");
        err = CF_EBADPARAM;
        goto free_bn;
    }
    EVP_PKEY_CTX_free(ctx);
    /* Full check: p and q prime, n = p*q, d*e = 1 mod lcm(p-1, q-1), dp, dq and qi right. */
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) || EVP_PKEY_check(ctx) != 1) {
        why_set(why, whysz, "The RSA key is not consistent.");
        err = CF_EBADPARAM;
        goto free_bn;
    }
    err = adopt_pkey(pk, CF_KTY_RSA, out);
    pk = NULL;
free_bn:
    cf_crypto_clear();
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_CTX_free(bc);
    for (int i = 0; i < 5; i++)
        BN_clear_free(f[i]);
    BN_clear_free(d);
    BN_free(e);
    BN_free(n);
    return err;
}

/* One EC member, left-padded to the coordinate size into out. */
static cf_err jwk_coord(const struct cf_json *jwk, const char *name, const struct curve *c,
                        unsigned char *out, char *why, size_t whysz)
{
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, COORD_MAX + 8);
    e = jwk_member(jwk, name, &b, c->coord, why, whysz);
    if (e == CF_ENOTFOUND)
        why_set(why, whysz, "An EC JWK requires 'crv', 'x', 'y' and 'd'.");
    if (e == CF_OK) {
        memset(out, 0, c->coord - b.len);
        memcpy(out + (c->coord - b.len), b.data, b.len);
    }
    cf_buf_wipe(&b);
    return e;
}

static cf_err jwk_ec(const struct cf_json *jwk, struct cf_kvkey **out, char *why, size_t whysz)
{
    unsigned char pub[1 + 2 * COORD_MAX], dbytes[COORD_MAX];
    const struct curve *c;
    enum cf_crv crv;
    const char *s;
    size_t slen = 0;
    BIGNUM *d = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    cf_err err;

    s = cf_json_str(cf_json_get(jwk, "crv"), &slen);
    if (!s || !cf_crv_parse((struct cf_str){s, slen}, &crv)) {
        why_set(why, whysz, "%s",
                s ? "The curve 'crv' is not supported (P-256, P-384, P-521 or "
                    "P-256K)."
                  : "An EC JWK requires 'crv', 'x', 'y' and 'd'.");
        return CF_EBADPARAM;
    }
    c = curve_of(crv);
    pub[0] = 0x04; /* uncompressed point 04 || x || y */
    if ((err = jwk_coord(jwk, "x", c, pub + 1, why, whysz)) != CF_OK ||
        (err = jwk_coord(jwk, "y", c, pub + 1 + c->coord, why, whysz)) != CF_OK)
        goto wipe;
    if ((err = jwk_coord(jwk, "d", c, dbytes, why, whysz)) != CF_OK) {
        if (err == CF_ENOTFOUND)
            why_set(why, whysz,
                    "The JWK has no private key ('d'); only private keys can be "
                    "imported.");
        goto wipe;
    }
    if (!(d = BN_secure_new()) || !BN_bin2bn(dbytes, (int)c->coord, d) ||
        !(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->ossl, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * c->coord) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        err = cf_crypto_fail("EC key parameters");
        goto wipe;
    }
    if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) || EVP_PKEY_fromdata_init(ctx) != 1) {
        err = cf_crypto_fail("EC key import");
        goto wipe;
    }
    /* A point that is not on the curve fails here, a d that does not match it in the check. */
    if (EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1 || !pk) {
        why_set(why, whysz, "The EC key is not consistent (the point is not on the curve).");
        err = CF_EBADPARAM;
        goto wipe;
    }
    EVP_PKEY_CTX_free(ctx);
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) || EVP_PKEY_check(ctx) != 1) {
        why_set(why, whysz, "The EC key is not consistent ('d' does not match 'x' and 'y').");
        err = CF_EBADPARAM;
        goto wipe;
    }
    err = adopt_pkey(pk, CF_KTY_EC, out);
    pk = NULL;
wipe:
    cf_crypto_clear();
    cf_wipe(dbytes, sizeof(dbytes));
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return err;
}

static cf_err jwk_oct(const struct cf_json *jwk, struct cf_kvkey **out, char *why, size_t whysz)
{
    struct cf_kvkey *k = NULL;
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 64);
    e = jwk_member(jwk, "k", &b, 48, why, whysz);
    if (e == CF_ENOTFOUND)
        why_set(why, whysz, "An oct JWK requires 'k'.");
    if (e != CF_OK)
        goto wipe;
    if (!oct_bits_ok((int)b.len * 8)) {
        why_set(why, whysz, "oct key size %zu bits is not supported (128, 192 or 256 bits).",
                b.len * 8);
        e = CF_EBADPARAM;
        goto wipe;
    }
    if (!(k = kvkey_new(CF_KTY_OCT)) || !(k->oct = cf_secret_from(b.data, b.len))) {
        cf_kvkey_free(k);
        e = CF_ENOMEM;
        goto wipe;
    }
    k->bits = (int)b.len * 8;
    *out = k;
wipe:
    cf_buf_wipe(&b);
    return e;
}

cf_err cf_kvkey_from_jwk(const struct cf_json *jwk, struct cf_kvkey **out, char *why, size_t whysz)
{
    const char *kty;
    size_t len = 0;
    struct cf_str s;
    cf_err e;

    *out = NULL;
    why_set(why, whysz, "%s", "");
    if (cf_json_type(jwk) != CF_JSON_OBJECT) {
        why_set(why, whysz, "The key must be a JSON Web Key object.");
        return CF_EBADPARAM;
    }
    if (cf_json_get(jwk, "key_hsm")) {
        why_set(why, whysz, "BYOK import ('key_hsm') is not supported.");
        return CF_ENOTIMPL;
    }
    kty = cf_json_str(cf_json_get(jwk, "kty"), &len);
    s = (struct cf_str){kty, len};
    if (!kty) {
        why_set(why, whysz, "The JWK requires 'kty'.");
        e = CF_EBADPARAM;
    } else if (cf_str_eq_cstr(s, "RSA") || cf_str_eq_cstr(s, "RSA-HSM")) {
        e = jwk_rsa(jwk, out, why, whysz);
    } else if (cf_str_eq_cstr(s, "EC") || cf_str_eq_cstr(s, "EC-HSM")) {
        e = jwk_ec(jwk, out, why, whysz);
    } else if (cf_str_eq_cstr(s, "oct") || cf_str_eq_cstr(s, "oct-HSM")) {
        e = jwk_oct(jwk, out, why, whysz);
    } else {
        why_set(why, whysz, "The key type 'kty' is not supported.");
        e = CF_EBADPARAM;
    }
    /* Internal "absent" code from jwk_member never escapes: a missing member is bad input. */
    if (e == CF_ENOTFOUND)
        e = CF_EBADPARAM;
    return e;
}

/* ---- blobs ---- */

cf_err cf_kvkey_to_blob(const struct cf_kvkey *k, struct cf_secret **out)
{
    struct cf_secret *body = NULL, *blob;
    const unsigned char *p;
    size_t n;
    cf_err e = CF_OK;

    *out = NULL;
    if (!k)
        return CF_EINVAL;
    if (k->kty == CF_KTY_OCT) {
        p = k->oct->p;
        n = k->oct->len;
    } else {
        struct cf_pkey tmp = {k->pk};
        if ((e = cf_pkey_to_der(&tmp, &body)) != CF_OK)
            return e;
        p = body->p;
        n = body->len;
    }
    blob = cf_secret_new(BLOB_HDR_LEN + n);
    if (!blob) {
        e = CF_ENOMEM;
        goto free_body;
    }
    memcpy(blob->p, blob_magic, sizeof(blob_magic));
    blob->p[4] = (unsigned char)(k->kty + 1);
    memcpy(blob->p + BLOB_HDR_LEN, p, n);
    *out = blob;
free_body:
    cf_secret_free(body);
    return e;
}

cf_err cf_kvkey_from_blob(const void *p, size_t n, struct cf_kvkey **out)
{
    const unsigned char *b = p;
    struct cf_pkey *pkey = NULL;
    struct cf_kvkey *k;
    enum cf_kty kty;
    EVP_PKEY *pk;
    cf_err e;

    *out = NULL;
    if (!p || n <= BLOB_HDR_LEN || memcmp(b, blob_magic, sizeof(blob_magic)) != 0 || b[4] < 1 ||
        b[4] > 3)
        return CF_ECORRUPT;
    kty = (enum cf_kty)(b[4] - 1);
    b += BLOB_HDR_LEN;
    n -= BLOB_HDR_LEN;
    if (kty == CF_KTY_OCT) {
        if (n > 32 || !oct_bits_ok((int)n * 8))
            return CF_ECORRUPT;
        if (!(k = kvkey_new(CF_KTY_OCT)) || !(k->oct = cf_secret_from(b, n))) {
            cf_kvkey_free(k);
            return CF_ENOMEM;
        }
        k->bits = (int)n * 8;
        *out = k;
        return CF_OK;
    }
    e = cf_pkey_from_der(b, n, &pkey);
    if (e != CF_OK)
        return e == CF_ENOMEM ? e : CF_ECORRUPT;
    pk = pkey->pk;
    free(pkey); /* the wrapper only: pk is handed on */
    e = adopt_pkey(pk, kty, out);
    return e == CF_EBADPARAM ? CF_ECORRUPT : e;
}

/* ---- public JWK ---- */

/* "name": base64url of bn, as its minimal big-endian bytes (pad 0) or left-padded to pad. */
static cf_err jw_bn(struct cf_jw *w, const char *name, const EVP_PKEY *pk, const char *param,
                    size_t pad)
{
    unsigned char raw[RSA_BYTES_MAX];
    struct cf_buf b;
    BIGNUM *bn = NULL;
    int len;
    cf_err e = CF_OK;

    if (EVP_PKEY_get_bn_param(pk, param, &bn) != 1)
        return cf_crypto_fail("public key parameter");
    len = pad ? BN_bn2binpad(bn, raw, (int)pad) : BN_bn2bin(bn, raw);
    BN_free(bn);
    if (len <= 0 || (size_t)len > sizeof(raw))
        return cf_crypto_fail("public key encoding");
    cf_buf_init(&b, 2 * sizeof(raw));
    if ((e = cf_b64url_encode(&b, raw, (size_t)len)) == CF_OK) {
        cf_jw_key(w, name);
        cf_jw_strn(w, b.data, b.len);
    }
    cf_buf_release(&b);
    return e;
}

cf_err cf_kvkey_write_public_jwk(const struct cf_kvkey *k, bool write_kty, struct cf_jw *w)
{
    cf_err e = CF_OK;

    if (!k || !w)
        return CF_EINVAL;
    if (write_kty)
        cf_jw_kstr(w, "kty", kty_name(k->kty));
    if (k->kty == CF_KTY_RSA) {
        /* BN_bn2bin gives the minimal form: n without a leading zero byte, e usually AQAB. */
        if ((e = jw_bn(w, "n", k->pk, OSSL_PKEY_PARAM_RSA_N, 0)) != CF_OK ||
            (e = jw_bn(w, "e", k->pk, OSSL_PKEY_PARAM_RSA_E, 0)) != CF_OK)
            return e;
    } else if (k->kty == CF_KTY_EC) {
        const struct curve *c = curve_of(k->crv);
        cf_jw_kstr(w, "crv", c->jwk);
        if ((e = jw_bn(w, "x", k->pk, OSSL_PKEY_PARAM_EC_PUB_X, c->coord)) != CF_OK ||
            (e = jw_bn(w, "y", k->pk, OSSL_PKEY_PARAM_EC_PUB_Y, c->coord)) != CF_OK)
            return e;
    }
    return cf_jw_err(w);
}

enum cf_kty cf_kvkey_type(const struct cf_kvkey *k)
{
    return k->kty;
}

enum cf_crv cf_kvkey_curve(const struct cf_kvkey *k)
{
    return k->crv;
}

int cf_kvkey_bits(const struct cf_kvkey *k)
{
    return k->bits;
}

void cf_kvkey_free(struct cf_kvkey *k)
{
    if (!k)
        return;
    /* the last reference: no slot is busy (a user holds a reference while it owns one) */
    for (size_t i = 0; k->slots && i < CTX_SLOTS; i++)
        EVP_PKEY_CTX_free(k->slots[i].ctx);
    free(k->slots);
    EVP_PKEY_free(k->pk); /* OpenSSL clears private key material on free */
    cf_secret_free(k->oct);
    free(k);
}

/* ---- sign / verify ---- */

/* ---- prepared contexts (struct ctx_slot) ---- */

enum { CTX_SIGN = 1, CTX_VERIFY, CTX_ENCRYPT, CTX_DECRYPT };

/* A new context for operation op (CTX_*) with alg a on k's EVP_PKEY, or NULL. */
static EVP_PKEY_CTX *ctx_build(const struct cf_kvkey *k, const struct alg *a, int op)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
    const EVP_MD *md = a->md ? EVP_get_digestbyname(a->md) : NULL;
    int ok;

    if (!ctx || (a->md && !md))
        goto fail;
    switch (op) {
    case CTX_SIGN:
        ok = EVP_PKEY_sign_init(ctx);
        break;
    case CTX_VERIFY:
        ok = EVP_PKEY_verify_init(ctx);
        break;
    case CTX_ENCRYPT:
        ok = EVP_PKEY_encrypt_init(ctx);
        break;
    default:
        ok = EVP_PKEY_decrypt_init(ctx);
        break;
    }
    if (ok != 1)
        goto fail;
    switch (a->kind) {
    case SIG_RSA_PKCS1:
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
            goto fail;
        break;
    case SIG_RSA_PSS:
        /* RFC 7518 §3.5: salt length = hash length, MGF1 with the same hash. */
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(ctx, md) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1)
            goto fail;
        break;
    case SIG_RSA_NULL:
        /* No signature digest: OpenSSL pads the raw value with type-1 PKCS#1 padding. */
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
            goto fail;
        break;
    case ENC_RSA:
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, a->pad) != 1 ||
            (a->pad == RSA_PKCS1_OAEP_PADDING &&
             (!md || EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
              EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1)))
            goto fail;
        break;
    default:
        break; /* ECDSA over the given bytes: no parameters */
    }
    return ctx;
fail:
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

/* A context for op with alg a, owned by the caller until ctx_put: a key slot already set up for
 * (a, op) if one is free, else a new context kept in a free slot (replacing what it held), else
 * (every slot busy) a new context for this call only (*slot NULL). */
static EVP_PKEY_CTX *ctx_get(const struct cf_kvkey *k, const struct alg *a, int op,
                             struct ctx_slot **slot)
{
    struct ctx_slot *victim = NULL;
    EVP_PKEY_CTX *ctx;

    *slot = NULL;
    for (size_t i = 0; k->slots && i < CTX_SLOTS; i++) {
        struct ctx_slot *s = &k->slots[i];
        int idle = 0;

        if (!__atomic_compare_exchange_n(&s->busy, &idle, 1, false, __ATOMIC_ACQUIRE,
                                         __ATOMIC_RELAXED))
            continue;
        if (s->ctx && s->a == a && s->op == op) {
            if (victim)
                __atomic_store_n(&victim->busy, 0, __ATOMIC_RELEASE);
            *slot = s;
            return s->ctx;
        }
        if (!victim || (victim->ctx && !s->ctx)) { /* an empty slot before a used one */
            if (victim)
                __atomic_store_n(&victim->busy, 0, __ATOMIC_RELEASE);
            victim = s;
        } else {
            __atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
        }
    }
    ctx = ctx_build(k, a, op);
    if (victim && ctx) {
        EVP_PKEY_CTX_free(victim->ctx);
        victim->ctx = ctx;
        victim->a = a;
        victim->op = op;
        *slot = victim;
    } else if (victim) {
        __atomic_store_n(&victim->busy, 0, __ATOMIC_RELEASE);
    }
    return ctx;
}

/* Ends the use of ctx from ctx_get. keep false (the operation itself failed, not its input):
 * the context is freed rather than trusted again. */
static void ctx_put(EVP_PKEY_CTX *ctx, struct ctx_slot *slot, bool keep)
{
    if (!slot) {
        EVP_PKEY_CTX_free(ctx);
        return;
    }
    if (!keep) {
        EVP_PKEY_CTX_free(slot->ctx);
        slot->ctx = NULL;
        slot->a = NULL;
    }
    __atomic_store_n(&slot->busy, 0, __ATOMIC_RELEASE);
}

static cf_err hmac(const struct cf_kvkey *k, const struct alg *a, const void *data, size_t n,
                   unsigned char out[64], size_t *outlen)
{
    if (!EVP_Q_mac(NULL, "HMAC", NULL, a->md, NULL, k->oct->p, k->oct->len, data, n, out, 64,
                   outlen))
        return cf_crypto_fail("HMAC");
    return CF_OK;
}

cf_err cf_kvkey_sign(const struct cf_kvkey *k, const char *alg, const void *digest, size_t dlen,
                     struct cf_buf *sig, char *why, size_t whysz)
{
    const struct alg *a;
    EVP_PKEY_CTX *ctx = NULL;
    struct ctx_slot *slot = NULL;
    bool keep = true;
    unsigned char der[256], mac[64];
    const struct curve *c;
    ECDSA_SIG *es = NULL;
    const BIGNUM *r, *s;
    size_t siglen = 0;
    cf_err e;

    why_set(why, whysz, "%s", "");
    if (!digest)
        dlen = 0; /* reported as a wrong length */
    if ((e = pick_alg(k, alg, OP_SIGN, &a, why, whysz)) != CF_OK ||
        (e = check_digest_len(k, a, dlen, why, whysz)) != CF_OK)
        return e;
    if (a->kind == SIG_HMAC) {
        if ((e = hmac(k, a, digest, dlen, mac, &siglen)) == CF_OK)
            e = cf_buf_append(sig, mac, siglen);
        cf_wipe(mac, sizeof(mac));
        return e;
    }
    if (a->kind != SIG_EC && (e = cf_buf_reserve(sig, key_bytes(k))) != CF_OK)
        return e;
    if (!(ctx = ctx_get(k, a, CTX_SIGN, &slot)))
        return cf_crypto_fail("signature setup");
    if (a->kind != SIG_EC) {
        siglen = key_bytes(k);
        if (EVP_PKEY_sign(ctx, (unsigned char *)sig->data + sig->len, &siglen, digest, dlen) != 1 ||
            siglen != key_bytes(k)) {
            e = cf_crypto_fail("RSA signature");
            keep = false;
            goto free_ctx;
        }
        sig->len += siglen;
        sig->data[sig->len] = '\0';
        goto free_ctx;
    }
    /* ECDSA: OpenSSL gives DER; Azure and JOSE want r||s, each left-padded to the coordinate. */
    c = curve_of(k->crv);
    siglen = sizeof(der);
    if (EVP_PKEY_sign(ctx, der, &siglen, digest, dlen) != 1) {
        e = cf_crypto_fail("ECDSA signature");
        keep = false;
        goto free_ctx;
    }
    {
        const unsigned char *dp = der;
        unsigned char rs[2 * COORD_MAX];
        if (!(es = d2i_ECDSA_SIG(NULL, &dp, (long)siglen))) {
            e = cf_crypto_fail("ECDSA signature decoding");
            goto free_ctx;
        }
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, rs, (int)c->coord) < 0 ||
            BN_bn2binpad(s, rs + c->coord, (int)c->coord) < 0) {
            e = cf_crypto_fail("ECDSA signature encoding");
            goto free_ctx;
        }
        e = cf_buf_append(sig, rs, 2 * c->coord);
    }
free_ctx:
    ECDSA_SIG_free(es);
    ctx_put(ctx, slot, keep);
    return e;
}

cf_err cf_kvkey_verify(const struct cf_kvkey *k, const char *alg, const void *digest, size_t dlen,
                       const void *sig, size_t slen, bool *valid, char *why, size_t whysz)
{
    const struct alg *a;
    EVP_PKEY_CTX *ctx = NULL;
    struct ctx_slot *slot = NULL;
    const unsigned char *sp = sig;
    unsigned char *der = NULL, mac[64];
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    size_t maclen = 0;
    int derlen;
    cf_err e;

    *valid = false;
    why_set(why, whysz, "%s", "");
    if (!digest)
        dlen = 0;
    if ((e = pick_alg(k, alg, OP_SIGN, &a, why, whysz)) != CF_OK ||
        (e = check_digest_len(k, a, dlen, why, whysz)) != CF_OK)
        return e;
    if (!sig)
        slen = 0;
    if (a->kind == SIG_HMAC) {
        if ((e = hmac(k, a, digest, dlen, mac, &maclen)) == CF_OK)
            *valid = slen == maclen && cf_ct_eq(mac, sig, maclen);
        cf_wipe(mac, sizeof(mac));
        return e;
    }
    if (a->kind == SIG_EC) {
        const struct curve *c = curve_of(k->crv);
        /* Only the JOSE form: exactly 2 * coordinate bytes (a DER signature is just invalid). */
        if (slen != 2 * c->coord)
            return CF_OK;
        if (!(es = ECDSA_SIG_new()) || !(r = BN_bin2bn(sp, (int)c->coord, NULL)) ||
            !(s = BN_bin2bn(sp + c->coord, (int)c->coord, NULL)) || ECDSA_SIG_set0(es, r, s) != 1) {
            e = cf_crypto_fail("ECDSA signature decoding");
            BN_free(r);
            BN_free(s);
            goto free_ctx;
        }
        if ((derlen = i2d_ECDSA_SIG(es, &der)) <= 0) {
            e = cf_crypto_fail("ECDSA signature encoding");
            goto free_ctx;
        }
        sp = der;
        slen = (size_t)derlen;
    } else if (slen != key_bytes(k)) {
        return CF_OK; /* an RSA signature is exactly k bytes */
    }
    if (!(ctx = ctx_get(k, a, CTX_VERIFY, &slot))) {
        e = cf_crypto_fail("signature setup");
        goto free_ctx;
    }
    /* 1 = valid; 0 or a negative value (malformed signature, r or s out of range) = invalid. */
    *valid = EVP_PKEY_verify(ctx, sp, slen, digest, dlen) == 1;
    cf_crypto_clear();
free_ctx:
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    if (ctx) /* an invalid signature is the caller's input: the context stays good */
        ctx_put(ctx, slot, true);
    return e;
}

/* ---- RSA encryption ---- */

static cf_err rsa_encrypt(const struct cf_kvkey *k, const struct alg *a, const void *pt, size_t n,
                          struct cf_buf *out, char *why, size_t whysz)
{
    size_t kb = key_bytes(k), len = kb;
    struct ctx_slot *slot;
    EVP_PKEY_CTX *ctx;
    cf_err e = CF_OK;

    if (!pt && n)
        return CF_EINVAL;
    if (n > kb - a->len) {
        why_set(why, whysz,
                "Invalid length of 'value': %zu bytes. %s with a %d-bit key accepts at most %zu "
                "bytes.",
                n, a->name, k->bits, kb - a->len);
        return CF_EBADPARAM;
    }
    if ((e = cf_buf_reserve(out, kb)) != CF_OK)
        return e;
    if (!(ctx = ctx_get(k, a, CTX_ENCRYPT, &slot)))
        return cf_crypto_fail("RSA encryption setup");
    if (EVP_PKEY_encrypt(ctx, (unsigned char *)out->data + out->len, &len,
                         pt ? pt : (const void *)"", n) != 1 ||
        len != kb) {
        e = cf_crypto_fail("RSA encryption");
    } else {
        out->len += len;
        out->data[out->len] = '\0';
    }
    ctx_put(ctx, slot, e == CF_OK);
    return e;
}

static cf_err rsa_decrypt(const struct cf_kvkey *k, const struct alg *a, const void *ct, size_t n,
                          struct cf_secret **pt, char *why, size_t whysz)
{
    size_t kb = key_bytes(k), len = kb;
    struct cf_secret *tmp;
    struct ctx_slot *slot;
    EVP_PKEY_CTX *ctx;
    cf_err e = CF_OK;

    if (n != kb || !ct) {
        why_set(why, whysz,
                "Invalid length of 'value': %zu bytes. %s with a %d-bit key requires %zu bytes.", n,
                a->name, k->bits, kb);
        return CF_EBADPARAM;
    }
    if (!(tmp = cf_secret_new(kb)))
        return CF_ENOMEM;
    if (!(ctx = ctx_get(k, a, CTX_DECRYPT, &slot))) {
        e = cf_crypto_fail("RSA encryption setup");
        goto free_tmp;
    }
    /* A padding failure is the caller's data, reported without detail and without a log line. */
    if (EVP_PKEY_decrypt(ctx, tmp->p, &len, ct, n) != 1 || len > kb) {
        cf_crypto_clear();
        e = CF_ECRYPTO;
    } else if (!(*pt = cf_secret_from(tmp->p, len))) {
        e = CF_ENOMEM;
    }
    /* kept after a padding failure too: the caller's data, and the same path either way */
    ctx_put(ctx, slot, true);
free_tmp:
    cf_secret_free(tmp);
    return e;
}

/* ---- AES ---- */

static EVP_CIPHER *aes_fetch(const struct cf_kvkey *k, enum kind kind)
{
    char name[32];
    const char *mode = kind == ENC_GCM   ? "GCM"
                       : kind == ENC_KW  ? "WRAP"
                       : kind == ENC_KWP ? "WRAP-PAD"
                                         : "CBC";
    snprintf(name, sizeof(name), "AES-%d-%s", k->bits, mode);
    return EVP_CIPHER_fetch(NULL, name, NULL);
}

/* RFC 3394 / 5649 key wrap (enc) or unwrap of in[0..n) with the oct key. */
static cf_err aes_kw(const struct cf_kvkey *k, const struct alg *a, bool enc, const void *in,
                     size_t n, struct cf_buf *out, struct cf_secret **pt, char *why, size_t whysz)
{
    bool pad = a->kind == ENC_KWP;
    size_t cap = enc ? (n + 7) / 8 * 8 + 8 : n;
    struct cf_secret *tmp = NULL;
    unsigned char *dst;
    EVP_CIPHER_CTX *ctx = NULL;
    EVP_CIPHER *c = NULL;
    int l1 = 0, l2 = 0;
    cf_err e = CF_OK;

    /* RFC 3394 wraps n = 8m bytes (m >= 2) into n + 8; RFC 5649 wraps any n >= 1 into a
     * multiple of 8 that is at least 16. */
    size_t min = enc ? (pad ? 1 : 16) : (pad ? 16 : 24);
    if (!in || n > SYM_INPUT_MAX || n < min || ((!enc || !pad) && n % 8)) {
        if (pad && enc)
            why_set(why, whysz, "Invalid length of 'value': %zu bytes. %s requires 1 to %d bytes.",
                    n, a->name, SYM_INPUT_MAX);
        else
            why_set(why, whysz,
                    "Invalid length of 'value': %zu bytes. %s requires a multiple of 8 bytes, at "
                    "least %zu.",
                    n, a->name, min);
        return CF_EBADPARAM;
    }
    if (enc) {
        if ((e = cf_buf_reserve(out, cap)) != CF_OK)
            return e;
        dst = (unsigned char *)out->data + out->len;
    } else {
        if (!(tmp = cf_secret_new(cap)))
            return CF_ENOMEM;
        dst = tmp->p;
    }
    if (!(c = aes_fetch(k, a->kind)) || !(ctx = EVP_CIPHER_CTX_new())) {
        e = cf_crypto_fail("AES key wrap setup");
        goto free_ctx;
    }
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex2(ctx, c, k->oct->p, NULL, enc ? 1 : 0, NULL) != 1) {
        e = cf_crypto_fail("AES key wrap setup");
        goto free_ctx;
    }
    /* The wrap modes take the whole input in one update. */
    if (EVP_CipherUpdate(ctx, dst, &l1, in, (int)n) != 1 ||
        EVP_CipherFinal_ex(ctx, dst + l1, &l2) != 1 || (size_t)l1 + (size_t)l2 > cap) {
        if (enc) {
            e = cf_crypto_fail("AES key wrap");
        } else {
            cf_crypto_clear(); /* integrity check failed: the caller's data */
            e = CF_ECRYPTO;
        }
        goto free_ctx;
    }
    if (enc) {
        out->len += (size_t)l1 + (size_t)l2;
        out->data[out->len] = '\0';
    } else if (!(*pt = cf_secret_from(tmp->p, (size_t)l1 + (size_t)l2))) {
        e = CF_ENOMEM;
    }
free_ctx:
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    cf_secret_free(tmp);
    return e;
}

/* AES-GCM / CBC / CBC-PAD encrypt (enc: appends to out, fills sym->iv / tag) or decrypt (into a
 * new *pt). */
static cf_err aes_crypt(const struct cf_kvkey *k, const struct alg *a, bool enc, const void *in,
                        size_t n, struct cf_kvkey_sym *sym, struct cf_buf *out,
                        struct cf_secret **pt, char *why, size_t whysz)
{
    bool gcm = a->kind == ENC_GCM;
    size_t ivlen = gcm ? 12 : 16, cap = n + 16;
    struct cf_secret *tmp = NULL;
    unsigned char *dst;
    EVP_CIPHER_CTX *ctx = NULL;
    EVP_CIPHER *c = NULL;
    int l1 = 0, l2 = 0, la = 0;
    cf_err e = CF_OK;

    if (!sym) {
        why_set(why, whysz, "%s needs an IV: use cf_kvkey_encrypt_ex / _decrypt_ex.", a->name);
        return CF_EINVAL;
    }
    if (n > SYM_INPUT_MAX || (n && !in)) {
        why_set(why, whysz, "Invalid length of 'value': %zu bytes.", n);
        return CF_EBADPARAM;
    }
    if ((a->kind == ENC_CBC && n % 16) || (!enc && a->kind == ENC_CBCPAD && (n % 16 || n == 0))) {
        why_set(why, whysz,
                "Invalid length of 'value': %zu bytes. %s requires a multiple of 16 bytes.", n,
                a->name);
        return CF_EBADPARAM;
    }
    if (!gcm && sym->aad_len) {
        why_set(why, whysz, "Algorithm %s does not take 'aad'.", a->name);
        return CF_EBADPARAM;
    }
    if (sym->aad_len && !sym->aad)
        return CF_EINVAL;
    if (gcm && sym->aad_len > SYM_INPUT_MAX) {
        why_set(why, whysz, "The parameter 'aad' is too long.");
        return CF_EBADPARAM;
    }
    if (enc && sym->iv_len == 0) {
        if ((e = cf_random(sym->iv, ivlen)) != CF_OK)
            return e;
        sym->iv_len = ivlen;
    }
    if (sym->iv_len != ivlen) {
        why_set(why, whysz, "Invalid length of 'iv': %zu bytes. %s requires %zu bytes.",
                sym->iv_len, a->name, ivlen);
        return CF_EBADPARAM;
    }
    if (gcm && !enc && sym->tag_len != CF_KVKEY_TAG_LEN) {
        why_set(why, whysz, "Invalid length of 'tag': %zu bytes. %s requires %d bytes.",
                sym->tag_len, a->name, CF_KVKEY_TAG_LEN);
        return CF_EBADPARAM;
    }
    if (enc) {
        if ((e = cf_buf_reserve(out, cap)) != CF_OK)
            return e;
        dst = (unsigned char *)out->data + out->len;
    } else {
        if (!(tmp = cf_secret_new(cap)))
            return CF_ENOMEM;
        dst = tmp->p;
    }
    if (!(c = aes_fetch(k, a->kind)) || !(ctx = EVP_CIPHER_CTX_new()) ||
        EVP_CipherInit_ex2(ctx, c, k->oct->p, sym->iv, enc ? 1 : 0, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, a->kind == ENC_CBCPAD) != 1 ||
        (gcm && sym->aad_len &&
         EVP_CipherUpdate(ctx, NULL, &la, sym->aad, (int)sym->aad_len) != 1) ||
        (gcm && !enc &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CF_KVKEY_TAG_LEN, sym->tag) != 1) ||
        EVP_CipherUpdate(ctx, dst, &l1, in ? in : (const void *)"", (int)n) != 1) {
        e = cf_crypto_fail("AES setup");
        goto free_ctx;
    }
    if (EVP_CipherFinal_ex(ctx, dst + l1, &l2) != 1 || (size_t)l1 + (size_t)l2 > cap) {
        if (enc) {
            e = cf_crypto_fail("AES encryption");
        } else {
            cf_crypto_clear(); /* tag or padding failure: no detail */
            e = CF_ECRYPTO;
        }
        goto free_ctx;
    }
    if (enc) {
        if (gcm &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CF_KVKEY_TAG_LEN, sym->tag) != 1) {
            e = cf_crypto_fail("AES-GCM tag");
            goto free_ctx;
        }
        sym->tag_len = gcm ? CF_KVKEY_TAG_LEN : 0;
        out->len += (size_t)l1 + (size_t)l2;
        out->data[out->len] = '\0';
    } else if (!(*pt = cf_secret_from(tmp->p, (size_t)l1 + (size_t)l2))) {
        e = CF_ENOMEM;
    }
free_ctx:
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    cf_secret_free(tmp);
    return e;
}

/* ---- encrypt / decrypt / wrap / unwrap ---- */

static bool sym_aad_refused(const struct alg *a, const struct cf_kvkey_sym *sym, char *why,
                            size_t whysz)
{
    if (a->kind == ENC_GCM || !sym || !sym->aad_len)
        return false;
    why_set(why, whysz, "Algorithm %s does not take 'aad'.", a->name);
    return true;
}

cf_err cf_kvkey_encrypt_ex(const struct cf_kvkey *k, const char *alg, const void *pt, size_t n,
                           struct cf_kvkey_sym *sym, struct cf_buf *out, char *why, size_t whysz)
{
    const struct alg *a;
    cf_err e;

    why_set(why, whysz, "%s", "");
    if ((e = pick_alg(k, alg, OP_ENC, &a, why, whysz)) != CF_OK)
        return e;
    if (sym_aad_refused(a, sym, why, whysz))
        return CF_EBADPARAM;
    switch (a->kind) {
    case ENC_RSA:
        return rsa_encrypt(k, a, pt, n, out, why, whysz);
    case ENC_KW:
    case ENC_KWP:
        return aes_kw(k, a, true, pt, n, out, NULL, why, whysz);
    default:
        return aes_crypt(k, a, true, pt, n, sym, out, NULL, why, whysz);
    }
}

cf_err cf_kvkey_decrypt_ex(const struct cf_kvkey *k, const char *alg, const void *ct, size_t n,
                           const struct cf_kvkey_sym *sym, struct cf_secret **pt, char *why,
                           size_t whysz)
{
    struct cf_kvkey_sym copy;
    const struct alg *a;
    cf_err e;

    *pt = NULL;
    why_set(why, whysz, "%s", "");
    if ((e = pick_alg(k, alg, OP_ENC, &a, why, whysz)) != CF_OK)
        return e;
    if (sym_aad_refused(a, sym, why, whysz))
        return CF_EBADPARAM;
    switch (a->kind) {
    case ENC_RSA:
        return rsa_decrypt(k, a, ct, n, pt, why, whysz);
    case ENC_KW:
    case ENC_KWP:
        return aes_kw(k, a, false, ct, n, NULL, pt, why, whysz);
    default:
        if (!sym)
            return aes_crypt(k, a, false, ct, n, NULL, NULL, pt, why, whysz);
        /* aes_crypt takes a mutable sym for the encrypt direction; decrypt only reads it. */
        copy = *sym;
        e = aes_crypt(k, a, false, ct, n, &copy, NULL, pt, why, whysz);
        cf_wipe(&copy, sizeof(copy));
        return e;
    }
}

cf_err cf_kvkey_encrypt(const struct cf_kvkey *k, const char *alg, const void *pt, size_t n,
                        struct cf_buf *out, char *why, size_t whysz)
{
    return cf_kvkey_encrypt_ex(k, alg, pt, n, NULL, out, why, whysz);
}

cf_err cf_kvkey_decrypt(const struct cf_kvkey *k, const char *alg, const void *ct, size_t n,
                        struct cf_secret **pt, char *why, size_t whysz)
{
    return cf_kvkey_decrypt_ex(k, alg, ct, n, NULL, pt, why, whysz);
}

cf_err cf_kvkey_wrap(const struct cf_kvkey *k, const char *alg, const void *key, size_t n,
                     struct cf_buf *out, char *why, size_t whysz)
{
    const struct alg *a;
    cf_err e;

    why_set(why, whysz, "%s", "");
    if ((e = pick_alg(k, alg, OP_WRAP, &a, why, whysz)) != CF_OK)
        return e;
    if (a->kind == ENC_RSA)
        return rsa_encrypt(k, a, key, n, out, why, whysz);
    return aes_kw(k, a, true, key, n, out, NULL, why, whysz);
}

cf_err cf_kvkey_unwrap(const struct cf_kvkey *k, const char *alg, const void *wrapped, size_t n,
                       struct cf_secret **key, char *why, size_t whysz)
{
    const struct alg *a;
    cf_err e;

    *key = NULL;
    why_set(why, whysz, "%s", "");
    if ((e = pick_alg(k, alg, OP_WRAP, &a, why, whysz)) != CF_OK)
        return e;
    if (a->kind == ENC_RSA)
        return rsa_decrypt(k, a, wrapped, n, key, why, whysz);
    return aes_kw(k, a, false, wrapped, n, NULL, key, why, whysz);
}

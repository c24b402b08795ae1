/* libFuzzer target: key operations on caller bytes (src/crypto/kvkey.c) - what POST
 * .../keys/K/{verify,decrypt,unwrapkey,encrypt} hands to cf_kvkey_* after base64url decoding:
 * signatures, ciphertexts, IVs, tags and AAD of any length, against fixed keys of each type
 * (RSA-2048, EC P-256/P-384/P-521/P-256K, oct 128/192/256; made once per process).
 *
 * Input: byte 0 key, byte 1 operation, byte 2 algorithm (an index into the names below, which
 * include wrong and unknown ones), byte 3 IV length (0..16), byte 4 tag length (0..16), byte 5
 * AAD length, byte 6 digest length; then IV, tag, AAD and digest bytes as far as the input
 * reaches; the rest is the signature / ciphertext / plaintext.
 *
 * Checks: never crashes; every result is CF_OK, CF_EBADPARAM (a reason is given) or CF_ECRYPTO
 * (a decrypt or unwrap that fails); a verify never accepts (nobody but the key signs); a decrypt
 * or unwrap that succeeds yields at most the ciphertext's length (exactly it for A*CBC), and for
 * A*CBC / A*CBCPAD re-encrypting the plaintext under the same IV gives the ciphertext back
 * (so no unauthenticated garbage is passed off as something else); encrypt then decrypt of the
 * payload (and wrap then unwrap) returns it. */
#include "base/cf.h"
#include "fuzz_check.h"
#include "base/buf.h"
#include "base/secret.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const algs[] = {
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "RSNULL",
    "ES256",
    "ES256K",
    "ES384",
    "ES512",
    "HS256",
    "HS384",
    "HS512",
    "RSA1_5",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "A128GCM",
    "A192GCM",
    "A256GCM",
    "A128CBC",
    "A192CBC",
    "A256CBC",
    "A128CBCPAD",
    "A192CBCPAD",
    "A256CBCPAD",
    "A128KW",
    "A192KW",
    "A256KW",
    "CKM_AES_KEY_WRAP",
    "CKM_AES_KEY_WRAP_PAD",
    "rs256",
    "",
    "ES256\n",
    "A256GCM ",
    "RSA-OAEP-384",
    "ECDH-ES",
    "dir",
    "none",
};

#define NKEYS 8
static struct cf_kvkey *keys[NKEYS];

static void setup(void)
{
    static const enum cf_crv crvs[] = {CF_CRV_P256, CF_CRV_P384, CF_CRV_P521, CF_CRV_P256K};
    if (cf_kvkey_generate_rsa(2048, 0, &keys[0]) != CF_OK)
        abort();
    for (int i = 0; i < 4; i++)
        if (cf_kvkey_generate_ec(crvs[i], &keys[1 + i]) != CF_OK)
            abort();
    for (int i = 0; i < 3; i++)
        if (cf_kvkey_generate_oct(128 + 64 * i, &keys[5 + i]) != CF_OK)
            abort();
}

static bool is_cbc(const char *alg)
{
    return strstr(alg, "CBC") != NULL;
}

static void result_ok(cf_err e, const char *why)
{
    CHECK(e == CF_OK || e == CF_EBADPARAM || e == CF_ECRYPTO);
    CHECK(e != CF_EBADPARAM || why[0] != '\0');
}

/* Decrypt / unwrap of fuzz bytes. */
static void open_bytes(const struct cf_kvkey *k, const char *alg, bool unwrap, const uint8_t *ct,
                       size_t n, const struct cf_kvkey_sym *sym)
{
    struct cf_secret *pt = (struct cf_secret *)&pt;
    char why[256];
    cf_err e;

    e = unwrap ? cf_kvkey_unwrap(k, alg, ct, n, &pt, why, sizeof(why))
               : cf_kvkey_decrypt_ex(k, alg, ct, n, sym, &pt, why, sizeof(why));
    result_ok(e, why);
    if (e != CF_OK) {
        CHECK(pt == NULL);
        return;
    }
    CHECK(pt && pt->len <= n);
    if (!unwrap && is_cbc(alg)) {
        struct cf_kvkey_sym s2 = *sym;
        struct cf_buf again;
        CHECK(!strstr(alg, "PAD") ? pt->len == n : pt->len + 16 > n);
        cf_buf_init(&again, n + 64);
        s2.tag_len = 0;
        CHECK(cf_kvkey_encrypt_ex(k, alg, pt->p, pt->len, &s2, &again, why, sizeof(why)) == CF_OK);
        CHECK(again.len == n && memcmp(again.data, ct, n) == 0);
        cf_buf_release(&again);
    }
    cf_secret_free(pt);
}

/* Encrypt / wrap of fuzz bytes, then back. */
static void seal_bytes(const struct cf_kvkey *k, const char *alg, bool wrap, const uint8_t *pt,
                       size_t n, const struct cf_kvkey_sym *in)
{
    struct cf_kvkey_sym sym = *in;
    struct cf_secret *back = NULL;
    struct cf_buf ct;
    char why[256];
    cf_err e;

    cf_buf_init(&ct, n + 1024);
    sym.tag_len = 0;
    e = wrap ? cf_kvkey_wrap(k, alg, pt, n, &ct, why, sizeof(why))
             : cf_kvkey_encrypt_ex(k, alg, pt, n, &sym, &ct, why, sizeof(why));
    result_ok(e, why);
    CHECK(e != CF_ECRYPTO); /* encryption has nothing to fail on but bad parameters */
    if (e == CF_OK) {
        e = wrap ? cf_kvkey_unwrap(k, alg, ct.data, ct.len, &back, why, sizeof(why))
                 : cf_kvkey_decrypt_ex(k, alg, ct.data, ct.len, &sym, &back, why, sizeof(why));
        CHECK(e == CF_OK && back && back->len == n && (n == 0 || memcmp(back->p, pt, n) == 0));
    }
    cf_secret_free(back);
    cf_buf_release(&ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct cf_kvkey *k;
    const char *alg;
    struct cf_kvkey_sym sym;
    unsigned char digest[255], aad[255];
    size_t ivl, tagl, aadl, dl, take;
    const uint8_t *p = data + 7, *end = data + size;
    int op;
    bool valid = true;
    char why[256];
    cf_err e;

    if (!keys[0])
        setup();
    if (size < 7 || size > 64 * 1024)
        return 0;
    k = keys[data[0] % NKEYS];
    op = data[1] % 5;
    alg = algs[data[2] % CF_ARRAY_LEN(algs)];
    ivl = data[3] % 17;
    tagl = data[4] % 17;
    aadl = data[5];
    dl = data[6];

    memset(&sym, 0, sizeof(sym));
    take = CF_MIN(ivl, (size_t)(end - p));
    memcpy(sym.iv, p, take);
    sym.iv_len = ivl;
    p += take;
    take = CF_MIN(tagl, (size_t)(end - p));
    memcpy(sym.tag, p, take);
    sym.tag_len = tagl;
    p += take;
    take = CF_MIN(aadl, (size_t)(end - p));
    memcpy(aad, p, take);
    memset(aad + take, 0x5a, sizeof(aad) - take);
    sym.aad = aadl ? aad : NULL;
    sym.aad_len = aadl;
    p += take;
    take = CF_MIN(dl, (size_t)(end - p));
    memcpy(digest, p, take);
    memset(digest + take, 0xa5, sizeof(digest) - take);
    p += take;

    switch (op) {
    case 0:
        e = cf_kvkey_verify(k, alg, digest, dl, p, (size_t)(end - p), &valid, why, sizeof(why));
        CHECK(e == CF_OK || e == CF_EBADPARAM);
        CHECK(e != CF_EBADPARAM || why[0] != '\0');
        CHECK(!valid);
        break;
    case 1:
        open_bytes(k, alg, false, p, (size_t)(end - p), &sym);
        break;
    case 2:
        open_bytes(k, alg, true, p, (size_t)(end - p), NULL);
        break;
    case 3:
        seal_bytes(k, alg, false, p, (size_t)(end - p), &sym);
        break;
    default:
        seal_bytes(k, alg, true, p, (size_t)(end - p), &sym);
        break;
    }
    return 0;
}

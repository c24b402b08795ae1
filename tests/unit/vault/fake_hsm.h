/* fake_hsm.h - the fake HSM token the vault's HSM tests share: a table of software keys behind
 * struct cf_vault_hsm_ops (generate, sign, verify, encrypt, decrypt, destroy) and a fake
 * cf_hsm_import that files a copy of the key. Counters let a test see what reached the token:
 * gens, destroys, imports, signs (sign only) and ops (every key operation). import_fail makes
 * the next import fail with that code, as a token that refuses a curve. The real SoftHSM2 token
 * is covered by tests/unit/custody and the e2e suites. Include after fixture.h.
 * Invariant: an occupied slot (k[i] != NULL) owns its key; fake_tok_reset() frees them all. */
#ifndef CF_TEST_VAULT_FAKE_HSM_H
#define CF_TEST_VAULT_FAKE_HSM_H

#include "fixture.h"

#define MAXK 16
struct fake_tok {
    unsigned char id[MAXK][CF_VAULT_HSM_ID_LEN];
    struct cf_kvkey *k[MAXK];
    int gens, destroys, signs, ops, imports;
    cf_err import_fail; /* the token refuses the next import with this */
};
static struct fake_tok g_tok; /* one token per test executable, reset by every setup */

static inline struct cf_kvkey *lookup(const unsigned char *id)
{
    for (int i = 0; i < MAXK; i++)
        if (g_tok.k[i] && memcmp(g_tok.id[i], id, CF_VAULT_HSM_ID_LEN) == 0)
            return g_tok.k[i];
    return NULL;
}

/* How many objects the token holds. */
static inline int live(void)
{
    int n = 0;
    for (int i = 0; i < MAXK; i++)
        n += g_tok.k[i] != NULL;
    return n;
}

/* Files k under id in a free slot (taking it) and writes its public JWK unless it is oct. */
static inline cf_err fake_tok_put(struct cf_kvkey *k, const unsigned char *id, struct cf_jw *w)
{
    for (int i = 0; i < MAXK; i++)
        if (!g_tok.k[i]) {
            g_tok.k[i] = k;
            memcpy(g_tok.id[i], id, CF_VAULT_HSM_ID_LEN);
            return cf_kvkey_type(k) == CF_KTY_OCT ? CF_OK : cf_kvkey_write_public_jwk(k, false, w);
        }
    cf_kvkey_free(k);
    return CF_EFULL;
}

static inline cf_err f_generate(struct cf_hsm *h, const char *kty, int bits, uint32_t ex,
                                const char *crv, const unsigned char *id, struct cf_jw *w,
                                char *why, size_t whysz)
{
    struct cf_kvkey *k = NULL;
    enum cf_crv c = CF_CRV_P256;
    cf_err e;
    (void)h;
    (void)why;
    (void)whysz;
    if (strcmp(kty, "RSA") == 0)
        e = cf_kvkey_generate_rsa(bits, ex, &k);
    else if (strcmp(kty, "EC") == 0)
        e = cf_crv_parse(cf_str_from(crv), &c) ? cf_kvkey_generate_ec(c, &k) : CF_EBADPARAM;
    else if (strcmp(kty, "oct") == 0)
        e = cf_kvkey_generate_oct(bits, &k);
    else
        e = CF_EBADPARAM;
    if (e)
        return e;
    e = fake_tok_put(k, id, w);
    if (e != CF_EFULL)
        g_tok.gens++;
    return e;
}

static inline cf_err f_sign(struct cf_hsm *h, const unsigned char *id, const char *alg,
                            const void *d, size_t n, struct cf_buf *sig, char *why, size_t whysz)
{
    struct cf_kvkey *k = lookup(id);
    (void)h;
    g_tok.signs++;
    g_tok.ops++;
    return k ? cf_kvkey_sign(k, alg, d, n, sig, why, whysz) : CF_ENOTFOUND;
}

static inline cf_err f_verify(struct cf_hsm *h, const unsigned char *id, const char *alg,
                              const void *d, size_t n, const void *sig, size_t sl, bool *valid,
                              char *why, size_t whysz)
{
    struct cf_kvkey *k = lookup(id);
    (void)h;
    g_tok.ops++;
    return k ? cf_kvkey_verify(k, alg, d, n, sig, sl, valid, why, whysz) : CF_ENOTFOUND;
}

static inline cf_err f_encrypt(struct cf_hsm *h, const unsigned char *id, const char *alg,
                               bool wrap, const void *pt, size_t n, struct cf_kvkey_sym *sym,
                               struct cf_buf *out, char *why, size_t whysz)
{
    struct cf_kvkey *k = lookup(id);
    (void)h;
    g_tok.ops++;
    if (!k)
        return CF_ENOTFOUND;
    return wrap ? cf_kvkey_wrap(k, alg, pt, n, out, why, whysz)
                : cf_kvkey_encrypt_ex(k, alg, pt, n, sym, out, why, whysz);
}

static inline cf_err f_decrypt(struct cf_hsm *h, const unsigned char *id, const char *alg,
                               bool unwrap, const void *ct, size_t n,
                               const struct cf_kvkey_sym *sym, struct cf_secret **pt, char *why,
                               size_t whysz)
{
    struct cf_kvkey *k = lookup(id);
    (void)h;
    g_tok.ops++;
    if (!k)
        return CF_ENOTFOUND;
    return unwrap ? cf_kvkey_unwrap(k, alg, ct, n, pt, why, whysz)
                  : cf_kvkey_decrypt_ex(k, alg, ct, n, sym, pt, why, whysz);
}

static inline cf_err f_destroy(struct cf_hsm *h, const unsigned char *id)
{
    (void)h;
    for (int i = 0; i < MAXK; i++)
        if (g_tok.k[i] && memcmp(g_tok.id[i], id, CF_VAULT_HSM_ID_LEN) == 0) {
            cf_kvkey_free(g_tok.k[i]);
            g_tok.k[i] = NULL;
            g_tok.destroys++;
        }
    return CF_OK;
}

/* The token's import (cf_hsm_import): a copy of k (through its blob), so the caller's free
 * does not touch it. oct keys and an id already in use are refused, as the token does. */
static inline cf_err f_import(struct cf_hsm *h, const struct cf_kvkey *k, const unsigned char *id,
                              struct cf_jw *w, char *why, size_t whysz)
{
    struct cf_secret *blob = NULL;
    struct cf_kvkey *copy = NULL;
    cf_err e;
    (void)h;
    if (g_tok.import_fail) {
        e = g_tok.import_fail;
        g_tok.import_fail = CF_OK;
        snprintf(why, whysz, "Curve P-256K is not supported by this server's HSM.");
        return e;
    }
    if (cf_kvkey_type(k) == CF_KTY_OCT)
        return CF_EBADPARAM;
    if (lookup(id))
        return CF_EEXISTS;
    if ((e = cf_kvkey_to_blob(k, &blob)) != CF_OK)
        return e;
    e = cf_kvkey_from_blob(blob->p, blob->len, &copy);
    cf_secret_free(blob);
    if (e)
        return e;
    e = fake_tok_put(copy, id, w);
    if (e != CF_EFULL)
        g_tok.imports++;
    return e;
}

static const struct cf_vault_hsm_ops fake_ops = {f_generate, f_sign,    f_verify,
                                                 f_encrypt,  f_decrypt, f_destroy};

/* Frees every object on the token and zeroes the counters. */
static inline void fake_tok_reset(void)
{
    for (int i = 0; i < MAXK; i++)
        cf_kvkey_free(g_tok.k[i]);
    memset(&g_tok, 0, sizeof(g_tok));
}

#endif

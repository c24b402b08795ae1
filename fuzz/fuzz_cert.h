/* fuzz_cert.h - what fuzz_pkcs12.c and fuzz_pem.c share: the input split and the checks on
 * an imported certificate (src/crypto/pkcs12.c, the certificate import of azure-kv-certificates
 * §8: "PFX with password" and "PEM"). Header-only, as fuzz_env.h, so each target stays one file.
 *
 * Input: byte 0 flags (bit 0: preserve the input order; bits 1 and 2 both set: re-export as
 * PKCS#12 too, see below), then the password up to the first '\n' (empty: none), then the
 * PFX / PEM data.
 *
 * Checks (fuzz_cert_one):
 *   refused   CF_EBADPARAM with a reason that does not contain the password (CF_ENOMEM and a
 *             CF_ECRYPTO from an OpenSSL allocation aside), *key NULL;
 *   accepted  a key, and a chain of 1..16 DER certificates that walks exactly
 *             (cf_cert_chain_next), each parsing on its own (cf_cert_info) with its
 *             x509_props (cf_cert_write_props); the first one's key is the imported key
 *             unless preserve (then some certificate's is);
 *   re-export the key and chain written as PEM (and, when flag bits 1 and 2 are set, as
 *             PKCS#12 with an empty password) import again to the same key blob and the same
 *             chain bytes - what a managed certificate's secret hands out reads back as what
 *             was imported (when the first certificate is the key's: see below). The PKCS#12
 *             round costs ~25 ms (OpenSSL's 2048 PBKDF2 iterations, three times each way), so
 *             only a quarter of the inputs pay it, or a 30 s CI run would see little else. */
#ifndef CF_FUZZ_CERT_H
#define CF_FUZZ_CERT_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"

/* the characters of the fixed refusal reasons of pkcs12.c */
#define FC_REASON_CHARS                                                                            \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;()#'-/"

#define FC_CHECK(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static inline void fuzz_cert_same(const struct cf_kvkey *k, const struct cf_buf *chain,
                                  const struct cf_kvkey *k2, const struct cf_buf *chain2)
{
    struct cf_secret *b1 = NULL, *b2 = NULL;

    FC_CHECK(cf_kvkey_to_blob(k, &b1) == CF_OK && cf_kvkey_to_blob(k2, &b2) == CF_OK);
    FC_CHECK(b1->len == b2->len && memcmp(b1->p, b2->p, b1->len) == 0);
    FC_CHECK(chain->len == chain2->len && memcmp(chain->data, chain2->data, chain->len) == 0);
    cf_secret_free(b1);
    cf_secret_free(b2);
}

/* Re-export as PKCS#12 and as PEM, import both (leaf first, no password), compare. */
static inline void fuzz_cert_reexport(const struct cf_kvkey *k, const struct cf_buf *chain,
                                      bool preserve, bool pfx)
{
    struct cf_buf out, chain2;
    struct cf_kvkey *k2 = NULL;
    char why[256];

    cf_buf_init(&out, 4u << 20);
    cf_buf_init(&chain2, 1u << 20);
    if (pfx) {
        FC_CHECK(cf_cert_to_pkcs12(k, chain->data, chain->len, &out) == CF_OK);
        FC_CHECK(cf_cert_from_pkcs12(out.data, out.len, "", preserve, &k2, &chain2, why,
                                     sizeof(why)) == CF_OK);
        /* PKCS12_parse hands the leaf and the others apart; with preserve the order of the
         * others is the file's, so only the leaf-first form is compared byte for byte. */
        if (!preserve)
            fuzz_cert_same(k, chain, k2, &chain2);
        cf_kvkey_free(k2);
        k2 = NULL;
        cf_buf_wipe(&out);
        cf_buf_reset(&chain2);
    }
    FC_CHECK(cf_cert_to_pem(k, chain->data, chain->len, &out) == CF_OK);
    FC_CHECK(cf_cert_from_pem(out.data, out.len, NULL, preserve, &k2, &chain2, why, sizeof(why)) ==
             CF_OK);
    fuzz_cert_same(k, chain, k2, &chain2);
    cf_kvkey_free(k2);
    cf_buf_wipe(&out);
    cf_buf_release(&chain2);
}

static inline void fuzz_cert_one(const uint8_t *data, size_t size, bool pem)
{
    const char *p, *nl;
    char pwd[256];
    bool preserve;
    struct cf_kvkey *k = (struct cf_kvkey *)&k;
    struct cf_buf chain, props;
    char why[512];
    size_t off = 0, ncerts = 0, plen;
    const unsigned char *der;
    size_t dlen;
    bool leaf_match = false, any_match = false;
    cf_err e;

    if (size < 2)
        return;
    preserve = data[0] & 1;
    p = (const char *)data + 1;
    nl = memchr(p, '\n', size - 1);
    if (!nl || (size_t)(nl - p) >= sizeof(pwd) || memchr(p, '\0', (size_t)(nl - p)))
        return;
    plen = (size_t)(nl - p);
    memcpy(pwd, p, plen);
    pwd[plen] = '\0';
    p = nl + 1;
    size -= (size_t)(p - (const char *)data);

    cf_buf_init(&chain, 1u << 20);
    memset(why, 'x', sizeof(why));
    e = pem ? cf_cert_from_pem(p, size, plen ? pwd : NULL, preserve, &k, &chain, why, sizeof(why))
            : cf_cert_from_pkcs12(p, size, plen ? pwd : NULL, preserve, &k, &chain, why,
                                  sizeof(why));
    if (e != CF_OK) {
        FC_CHECK(k == NULL);
        FC_CHECK(e == CF_EBADPARAM || e == CF_ENOMEM || e == CF_ECRYPTO);
        if (e == CF_EBADPARAM) {
            FC_CHECK(memchr(why, '\0', sizeof(why)) && why[0] != '\0');
            /* a password made of message text ("data", "certificate") is in every reason:
             * only one with a character no reason uses can be looked for */
            FC_CHECK(plen < 4 || strspn(pwd, FC_REASON_CHARS) == plen || !strstr(why, pwd));
        }
        cf_buf_wipe(&chain);
        return;
    }
    FC_CHECK(k != NULL && chain.len > 0);
    cf_buf_init(&props, 1u << 20);
    while (cf_cert_chain_next(chain.data, chain.len, &off, &der, &dlen)) {
        struct cf_cert_info info;
        struct cf_jw w;
        bool m = false;
        FC_CHECK(cf_cert_info(der, dlen, &info) == CF_OK);
        cf_buf_reset(&props);
        cf_jw_init(&w, &props);
        cf_jw_obj_begin(&w);
        FC_CHECK(cf_cert_write_props(der, dlen, &w) == CF_OK);
        cf_jw_obj_end(&w);
        FC_CHECK(cf_jw_err(&w) == CF_OK);
        FC_CHECK(cf_cert_key_matches(der, dlen, k, &m) == CF_OK);
        if (ncerts == 0)
            leaf_match = m;
        any_match = any_match || m;
        ncerts++;
    }
    FC_CHECK(off == chain.len && ncerts >= 1 && ncerts <= 16);
    FC_CHECK(preserve ? any_match : leaf_match);
    /* With preserve and the key's certificate not first, the export functions take the first
     * certificate as the leaf and PKCS12_create refuses the pair (reported, not fixed here:
     * the vault, too, takes the first certificate as the leaf). */
    if (leaf_match)
        fuzz_cert_reexport(k, &chain, preserve, (data[0] & 6) == 6);
    cf_buf_release(&props);
    cf_buf_wipe(&chain);
    cf_kvkey_free(k);
}

#endif

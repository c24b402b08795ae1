/* keyder.c - the DER the keys commands need, without OpenSSL (which stays inside crypto/):
 * private keys from PEM to a private JWK (key import), public JWK to SubjectPublicKeyInfo (key
 * download), and PEM armour.
 *
 * Map: PEM armour - DER reader - private key parsers (PKCS#8, PKCS#1 RSA, SEC1 EC) - SPKI
 * writer. Invariant: every intermediate buffer that held private key bytes is wiped before it
 * is released; reasons in why never quote key bytes. */
#include "base/cf.h"
#include "base/codec.h"
#include "cli/cmd_key.h"

#define PEM_MAX (1024 * 1024)

/* DER OIDs (content octets only). */
static const unsigned char OID_RSA[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
static const unsigned char OID_EC[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};

struct curve {
    const char *crv;
    size_t size; /* coordinate bytes */
    unsigned char oid[8];
    size_t oidlen;
};
static const struct curve CURVES[] = {
    {"P-256", 32, {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}, 8},
    {"P-384", 48, {0x2B, 0x81, 0x04, 0x00, 0x22}, 5},
    {"P-521", 66, {0x2B, 0x81, 0x04, 0x00, 0x23}, 5},
    {"P-256K", 32, {0x2B, 0x81, 0x04, 0x00, 0x0A}, 5},
};

static void set_why(char *why, size_t n, const char *msg)
{
    if (why && n)
        snprintf(why, n, "%s", msg);
}

/* ---- PEM armour ---- */

cf_err cf_cli_pem_wrap(const char *label, const void *der, size_t n, struct cf_buf *out)
{
    struct cf_buf b64;
    cf_err e;
    cf_buf_init(&b64, 4 * PEM_MAX);
    e = cf_b64_encode(&b64, der, n);
    if (!e)
        e = cf_buf_printf(out, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; !e && i < b64.len; i += 64) {
        e = cf_buf_append(out, b64.data + i, CF_MIN((size_t)64, b64.len - i));
        if (!e)
            e = cf_buf_putc(out, '\n');
    }
    if (!e)
        e = cf_buf_printf(out, "-----END %s-----\n", label);
    cf_buf_wipe(&b64);
    return e;
}

/* Finds the first block whose label is one of ours; its base64 body (whitespace removed) is
 * decoded into der and its label index returned in *kind (0 PKCS#8, 1 RSA, 2 EC). */
static cf_err pem_unwrap(const char *pem, size_t n, struct cf_buf *der, int *kind, char *why,
                         size_t whysz)
{
    static const char *const labels[] = {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"};
    const char *p = pem, *end = pem + n;
    struct cf_buf clean;
    cf_err e = CF_EINVAL;

    cf_buf_init(&clean, PEM_MAX);
    for (;;) {
        const char *b = memmem(p, (size_t)(end - p), "-----BEGIN ", 11), *le, *body, *stop;
        char endline[64];
        int k = -1;
        if (!b) {
            set_why(why, whysz, "no private key found in the PEM data");
            goto out;
        }
        b += 11;
        le = memmem(b, (size_t)(end - b), "-----", 5);
        if (!le)
            break;
        if ((size_t)(le - b) == 21 && !memcmp(b, "ENCRYPTED PRIVATE KEY", 21)) {
            set_why(why, whysz,
                    "encrypted PEM is not supported: decrypt the key first "
                    "(openssl pkey -in KEY.pem -out PLAIN.pem)");
            goto out;
        }
        for (int i = 0; i < 3; i++)
            if ((size_t)(le - b) == strlen(labels[i]) && !memcmp(b, labels[i], strlen(labels[i])))
                k = i;
        body = le + 5;
        if (k < 0) {
            p = body;
            continue;
        }
        snprintf(endline, sizeof(endline), "-----END %s-----", labels[k]);
        stop = memmem(body, (size_t)(end - body), endline, strlen(endline));
        if (!stop)
            break;
        if (memmem(body, (size_t)(stop - body), "ENCRYPTED", 9)) {
            set_why(why, whysz,
                    "encrypted PEM is not supported: decrypt the key first "
                    "(openssl pkey -in KEY.pem -out PLAIN.pem)");
            goto out;
        }
        for (const char *q = body; q < stop; q++) {
            if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
                continue;
            if (cf_buf_putc(&clean, *q) != CF_OK) {
                set_why(why, whysz, "the PEM data is too large");
                goto out;
            }
        }
        if (cf_b64_decode(der, cf_buf_str(&clean)) != CF_OK) {
            set_why(why, whysz, "the PEM block is not valid base64");
            goto out;
        }
        *kind = k;
        e = CF_OK;
        goto out;
    }
    set_why(why, whysz, "unterminated PEM block");
out:
    cf_buf_wipe(&clean);
    return e;
}

/* ---- DER reader ---- */

struct der {
    const unsigned char *p;
    size_t n;
};

/* Reads one TLV from d (single-byte tags, definite lengths up to 4 bytes). */
static bool der_next(struct der *d, unsigned char *tag, struct der *val)
{
    size_t len, i = 2;
    if (d->n < 2)
        return false;
    *tag = d->p[0];
    len = d->p[1];
    if (len & 0x80) {
        size_t nb = len & 0x7F;
        if (nb == 0 || nb > 4 || d->n < 2 + nb)
            return false;
        len = 0;
        for (size_t k = 0; k < nb; k++)
            len = (len << 8) | d->p[2 + k];
        i = 2 + nb;
    }
    if (len > d->n - i)
        return false;
    val->p = d->p + i;
    val->n = len;
    d->p += i + len;
    d->n -= i + len;
    return true;
}

static bool der_expect(struct der *d, unsigned char want, struct der *val)
{
    unsigned char t;
    return der_next(d, &t, val) && t == want;
}

/* An unsigned INTEGER's magnitude (leading zero bytes dropped). */
static bool der_uint(struct der *d, struct der *mag)
{
    if (!der_expect(d, 0x02, mag) || mag->n == 0 || (mag->p[0] & 0x80))
        return false;
    while (mag->n > 1 && mag->p[0] == 0) {
        mag->p++;
        mag->n--;
    }
    return true;
}

/* Sets key member name to base64url of p[0..n), left-padded with zeros to pad bytes. */
static cf_err put_b64(struct cf_val *o, const char *name, const unsigned char *p, size_t n,
                      size_t pad)
{
    struct cf_buf raw, enc;
    cf_err e;
    cf_buf_init(&raw, PEM_MAX);
    cf_buf_init(&enc, 2 * PEM_MAX);
    e = CF_OK;
    for (size_t i = n; !e && i < pad; i++)
        e = cf_buf_putc(&raw, 0);
    if (!e && n)
        e = cf_buf_append(&raw, p, n);
    if (!e)
        e = cf_b64url_encode(&enc, raw.data ? raw.data : "", raw.len);
    if (!e)
        e = cf_val_set(o, name, cf_val_strn(enc.data ? enc.data : "", enc.len));
    cf_buf_wipe(&raw);
    cf_buf_wipe(&enc);
    return e;
}

/* RSAPrivateKey (PKCS#1): version, n, e, d, p, q, dp, dq, qi. */
static cf_err parse_rsa(struct der in, struct cf_val *jwk, char *why, size_t whysz)
{
    static const char *const names[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    struct der seq, ver, m;
    if (!der_expect(&in, 0x30, &seq) || !der_expect(&seq, 0x02, &ver) || ver.n != 1 ||
        ver.p[0] != 0) {
        set_why(why, whysz, "malformed RSA private key (or a multi-prime key)");
        return CF_EINVAL;
    }
    if (cf_val_set(jwk, "kty", cf_val_str("RSA")))
        return CF_ENOMEM;
    for (size_t i = 0; i < CF_ARRAY_LEN(names); i++) {
        if (!der_uint(&seq, &m)) {
            set_why(why, whysz, "malformed RSA private key");
            return CF_EINVAL;
        }
        if (put_b64(jwk, names[i], m.p, m.n, 0))
            return CF_ENOMEM;
    }
    return CF_OK;
}

static const struct curve *curve_by_oid(struct der oid)
{
    for (size_t i = 0; i < CF_ARRAY_LEN(CURVES); i++)
        if (oid.n == CURVES[i].oidlen && !memcmp(oid.p, CURVES[i].oid, oid.n))
            return &CURVES[i];
    return NULL;
}

/* ECPrivateKey (SEC1): version 1, privateKey OCTET STRING, [0] curve OID, [1] public point.
 * c is the curve from the PKCS#8 wrapper (NULL for a bare SEC1 key: [0] then names it). */
static cf_err parse_ec(struct der in, const struct curve *c, struct cf_val *jwk, char *why,
                       size_t whysz)
{
    struct der seq, ver, d, x, pt = {NULL, 0};
    unsigned char t;
    if (!der_expect(&in, 0x30, &seq) || !der_expect(&seq, 0x02, &ver) || ver.n != 1 ||
        ver.p[0] != 1 || !der_expect(&seq, 0x04, &d)) {
        set_why(why, whysz, "malformed EC private key");
        return CF_EINVAL;
    }
    while (seq.n && der_next(&seq, &t, &x)) {
        struct der inner = x, v;
        if (t == 0xA0 && der_expect(&inner, 0x06, &v)) {
            const struct curve *c0 = curve_by_oid(v);
            if (!c0 || (c && c0 != c)) {
                set_why(why, whysz,
                        "unsupported or inconsistent EC curve "
                        "(supported: P-256, P-384, P-521, P-256K)");
                return CF_EINVAL;
            }
            c = c0;
        } else if (t == 0xA1 && der_expect(&inner, 0x03, &v) && v.n >= 2 && v.p[0] == 0) {
            pt.p = v.p + 1;
            pt.n = v.n - 1;
        }
    }
    if (!c) {
        set_why(why, whysz, "the EC key does not name its curve");
        return CF_EINVAL;
    }
    if (!pt.p) {
        set_why(why, whysz, "the EC private key carries no public key");
        return CF_EINVAL;
    }
    if (pt.n != 1 + 2 * c->size || pt.p[0] != 0x04) {
        set_why(why, whysz, "the EC public key is not an uncompressed point of its curve");
        return CF_EINVAL;
    }
    if (d.n == 0 || d.n > c->size) {
        set_why(why, whysz, "malformed EC private key");
        return CF_EINVAL;
    }
    if (cf_val_set(jwk, "kty", cf_val_str("EC")) || cf_val_set(jwk, "crv", cf_val_str(c->crv)) ||
        put_b64(jwk, "x", pt.p + 1, c->size, c->size) ||
        put_b64(jwk, "y", pt.p + 1 + c->size, c->size, c->size) ||
        put_b64(jwk, "d", d.p, d.n, c->size))
        return CF_ENOMEM;
    return CF_OK;
}

/* PrivateKeyInfo (PKCS#8): version, AlgorithmIdentifier, privateKey OCTET STRING, ... */
static cf_err parse_pkcs8(struct der in, struct cf_val *jwk, char *why, size_t whysz)
{
    struct der seq, ver, alg, oid, params, key;
    if (!der_expect(&in, 0x30, &seq) || !der_expect(&seq, 0x02, &ver) || ver.n != 1 ||
        ver.p[0] > 1 || !der_expect(&seq, 0x30, &alg) || !der_expect(&alg, 0x06, &oid) ||
        !der_expect(&seq, 0x04, &key)) {
        set_why(why, whysz, "malformed PKCS#8 private key");
        return CF_EINVAL;
    }
    if (oid.n == sizeof(OID_RSA) && !memcmp(oid.p, OID_RSA, oid.n))
        return parse_rsa(key, jwk, why, whysz);
    if (oid.n == sizeof(OID_EC) && !memcmp(oid.p, OID_EC, oid.n)) {
        const struct curve *c;
        if (!der_expect(&alg, 0x06, &params) || !(c = curve_by_oid(params))) {
            set_why(why, whysz, "unsupported EC curve (supported: P-256, P-384, P-521, P-256K)");
            return CF_EINVAL;
        }
        return parse_ec(key, c, jwk, why, whysz);
    }
    set_why(why, whysz, "unsupported key type (RSA and EC keys can be imported)");
    return CF_EINVAL;
}

cf_err cf_cli_pem_to_jwk(const char *pem, size_t n, struct cf_val **out, char *why, size_t whysz)
{
    struct cf_buf der;
    struct cf_val *jwk = NULL;
    struct der d;
    int kind = 0;
    cf_err e;

    *out = NULL;
    set_why(why, whysz, "");
    cf_buf_init(&der, PEM_MAX);
    if ((e = pem_unwrap(pem, n, &der, &kind, why, whysz)) != CF_OK)
        goto out;
    if (!(jwk = cf_val_obj())) {
        e = CF_ENOMEM;
        goto out;
    }
    d.p = (const unsigned char *)der.data;
    d.n = der.len;
    e = kind == 0   ? parse_pkcs8(d, jwk, why, whysz)
        : kind == 1 ? parse_rsa(d, jwk, why, whysz)
                    : parse_ec(d, NULL, jwk, why, whysz);
    if (e == CF_ENOMEM)
        set_why(why, whysz, "out of memory");
out:
    if (e == CF_OK) {
        *out = jwk;
        jwk = NULL;
    }
    cf_val_unref(jwk);
    cf_buf_wipe(&der);
    return e;
}

/* ---- SPKI writer ---- */

static cf_err der_hdr(struct cf_buf *b, unsigned char tag, size_t len)
{
    unsigned char h[6];
    size_t n = 0;
    h[n++] = tag;
    if (len < 0x80) {
        h[n++] = (unsigned char)len;
    } else if (len < 0x100) {
        h[n++] = 0x81;
        h[n++] = (unsigned char)len;
    } else if (len < 0x10000) {
        h[n++] = 0x82;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = 0x83;
        h[n++] = (unsigned char)(len >> 16);
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    }
    return cf_buf_append(b, h, n);
}

static cf_err der_tlv(struct cf_buf *b, unsigned char tag, const void *p, size_t n)
{
    cf_err e = der_hdr(b, tag, n);
    return e ? e : n ? cf_buf_append(b, p, n) : CF_OK;
}

/* INTEGER of an unsigned big-endian magnitude (a 0x00 is prepended when the top bit is set). */
static cf_err der_uint_put(struct cf_buf *b, const unsigned char *p, size_t n)
{
    cf_err e;
    while (n > 1 && p[0] == 0) {
        p++;
        n--;
    }
    if (n && (p[0] & 0x80)) {
        if ((e = der_hdr(b, 0x02, n + 1)) || (e = cf_buf_putc(b, 0)))
            return e;
        return cf_buf_append(b, p, n);
    }
    return der_tlv(b, 0x02, p, n);
}

static bool member(const struct cf_val *jwk, const char *name, struct cf_buf *out)
{
    const struct cf_val *v = cf_val_get(jwk, name);
    return v && v->type == CF_VAL_STR && v->slen > 0 &&
           cf_b64_decode(out, (struct cf_str){v->s, v->slen}) == CF_OK && out->len > 0;
}

cf_err cf_cli_jwk_to_spki(const struct cf_val *jwk, struct cf_buf *der, char *why, size_t whysz)
{
    const struct cf_val *kty = cf_val_get(jwk, "kty"), *crv = cf_val_get(jwk, "crv");
    struct cf_buf a, b, inner, bits, alg;
    cf_err e = CF_EINVAL;

    cf_buf_init(&a, 64 * 1024);
    cf_buf_init(&b, 64 * 1024);
    cf_buf_init(&inner, 64 * 1024);
    cf_buf_init(&bits, 64 * 1024);
    cf_buf_init(&alg, 256);
    set_why(why, whysz, "");
    if (!kty || kty->type != CF_VAL_STR) {
        set_why(why, whysz, "the key has no kty");
        goto out;
    }
    if (!strcmp(kty->s, "RSA") || !strcmp(kty->s, "RSA-HSM")) {
        if (!member(jwk, "n", &a) || !member(jwk, "e", &b)) {
            set_why(why, whysz, "the RSA key lacks n or e");
            goto out;
        }
        if ((e = der_uint_put(&inner, (const unsigned char *)a.data, a.len)) ||
            (e = der_uint_put(&inner, (const unsigned char *)b.data, b.len)) ||
            (e = cf_buf_putc(&bits, 0)) || (e = der_hdr(&bits, 0x30, inner.len)) ||
            (e = cf_buf_append(&bits, inner.data, inner.len)) ||
            (e = der_tlv(&alg, 0x06, OID_RSA, sizeof(OID_RSA))) || (e = der_tlv(&alg, 0x05, "", 0)))
            goto out;
    } else if (!strcmp(kty->s, "EC") || !strcmp(kty->s, "EC-HSM")) {
        const struct curve *c = NULL;
        for (size_t i = 0; crv && crv->type == CF_VAL_STR && i < CF_ARRAY_LEN(CURVES); i++)
            if (!strcmp(crv->s, CURVES[i].crv) ||
                (!strcmp(crv->s, "SECP256K1") && !strcmp(CURVES[i].crv, "P-256K")))
                c = &CURVES[i];
        if (!c) {
            set_why(why, whysz, "unsupported EC curve");
            goto out;
        }
        if (!member(jwk, "x", &a) || !member(jwk, "y", &b) || a.len > c->size || b.len > c->size) {
            set_why(why, whysz, "the EC key lacks x or y");
            goto out;
        }
        /* BIT STRING: 0 unused bits, 0x04, x and y left-padded to the coordinate size. */
        e = cf_buf_putc(&bits, 0);
        if (!e)
            e = cf_buf_putc(&bits, 4);
        for (size_t i = a.len; !e && i < c->size; i++)
            e = cf_buf_putc(&bits, 0);
        if (!e)
            e = cf_buf_append(&bits, a.data, a.len);
        for (size_t i = b.len; !e && i < c->size; i++)
            e = cf_buf_putc(&bits, 0);
        if (!e)
            e = cf_buf_append(&bits, b.data, b.len);
        if (e || (e = der_tlv(&alg, 0x06, OID_EC, sizeof(OID_EC))) ||
            (e = der_tlv(&alg, 0x06, c->oid, c->oidlen)))
            goto out;
    } else {
        set_why(why, whysz, "only RSA and EC keys have a public key to download");
        goto out;
    }
    /* SEQUENCE { SEQUENCE alg, BIT STRING bits } */
    cf_buf_release(&inner);
    cf_buf_init(&inner, 64 * 1024);
    if ((e = der_tlv(&inner, 0x30, alg.data, alg.len)) ||
        (e = der_tlv(&inner, 0x03, bits.data, bits.len)) ||
        (e = der_tlv(der, 0x30, inner.data, inner.len)))
        goto out;
out:
    cf_buf_release(&a);
    cf_buf_release(&b);
    cf_buf_release(&inner);
    cf_buf_release(&bits);
    cf_buf_release(&alg);
    return e;
}

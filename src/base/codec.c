/* codec.c - base64, hex and percent encodings. */
#include "base/cf.h"
#include "base/codec.h"

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static cf_err b64_encode(struct cf_buf *out, const unsigned char *p, size_t n, const char *alpha,
                         bool pad)
{
    size_t olen = (n + 2) / 3 * 4;
    cf_err e = cf_buf_reserve(out, olen);
    char *o;
    size_t i;

    if (e)
        return e;
    o = out->data + out->len;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        *o++ = alpha[(v >> 6) & 63];
        *o++ = alpha[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        if (i + 1 < n)
            *o++ = alpha[(v >> 6) & 63];
        else if (pad)
            *o++ = '=';
        if (pad)
            *o++ = '=';
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return CF_OK;
}

cf_err cf_b64url_encode(struct cf_buf *out, const void *p, size_t n)
{
    return b64_encode(out, p, n, b64url, false);
}

cf_err cf_b64_encode(struct cf_buf *out, const void *p, size_t n)
{
    return b64_encode(out, p, n, b64std, true);
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

cf_err cf_b64_decode(struct cf_buf *out, struct cf_str in)
{
    size_t n = in.len, i;
    uint32_t acc = 0;
    int bits = 0;
    cf_err e;

    while (n > 0 && in.p[n - 1] == '=')
        n--;
    if (in.len - n > 2 || n % 4 == 1)
        return CF_EINVAL;
    e = cf_buf_reserve(out, n / 4 * 3 + 3);
    if (e)
        return e;
    for (i = 0; i < n; i++) {
        int v = b64_val(in.p[i]);
        if (v < 0)
            return CF_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xff);
        }
    }
    out->data[out->len] = '\0';
    return CF_OK;
}

void cf_hex_encode(char *out, const void *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

cf_err cf_pct_decode(struct cf_buf *out, struct cf_str in, bool plus_is_space)
{
    cf_err e = cf_buf_reserve(out, in.len);
    if (e)
        return e;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= in.len)
                return CF_EINVAL;
            hi = hexval(in.p[i + 1]);
            lo = hexval(in.p[i + 2]);
            if (hi < 0 || lo < 0)
                return CF_EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        out->data[out->len++] = c;
    }
    out->data[out->len] = '\0';
    return CF_OK;
}

cf_err cf_pct_encode(struct cf_buf *out, struct cf_str in)
{
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        cf_err e;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            e = cf_buf_putc(out, (char)c);
        } else {
            char t[3] = {'%', hx[c >> 4], hx[c & 15]};
            e = cf_buf_append(out, t, 3);
        }
        if (e)
            return e;
    }
    return CF_OK;
}

/* buf.c - bounded buffers. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cf_buf_init(struct cf_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

cf_err cf_buf_reserve(struct cf_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return CF_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return CF_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->data, cap);
    if (!p)
        return CF_ENOMEM;
    b->data = p;
    b->cap = cap;
    return CF_OK;
}

cf_err cf_buf_append(struct cf_buf *b, const void *p, size_t n)
{
    cf_err e = cf_buf_reserve(b, n);
    if (e)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return CF_OK;
}

cf_err cf_buf_append_str(struct cf_buf *b, struct cf_str s)
{
    return cf_buf_append(b, s.p, s.len);
}

cf_err cf_buf_puts(struct cf_buf *b, const char *s)
{
    return cf_buf_append(b, s, strlen(s));
}

cf_err cf_buf_putc(struct cf_buf *b, char c)
{
    return cf_buf_append(b, &c, 1);
}

cf_err cf_buf_printf(struct cf_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    cf_err e;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CF_EINVAL;
    e = cf_buf_reserve(b, (size_t)n);
    if (e)
        return e;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CF_OK;
}

struct cf_str cf_buf_str(const struct cf_buf *b)
{
    return (struct cf_str){b->data ? b->data : "", b->len};
}

void cf_buf_reset(struct cf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *cf_buf_detach(struct cf_buf *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void cf_buf_release(struct cf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void cf_buf_wipe(struct cf_buf *b)
{
    if (b->data)
        cf_wipe(b->data, b->cap);
    cf_buf_release(b);
}

/* secret.c - wiping allocation for secret bytes. */
#include "base/cf.h"
#include "base/secret.h"

#include <stdlib.h>

void cf_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

struct cf_secret *cf_secret_new(size_t len)
{
    struct cf_secret *s = calloc(1, sizeof(*s) + len + 1);
    if (!s)
        return NULL;
    s->len = len;
    s->p = (unsigned char *)(s + 1);
    return s;
}

struct cf_secret *cf_secret_from(const void *p, size_t len)
{
    struct cf_secret *s = cf_secret_new(len);
    if (s && len)
        memcpy(s->p, p, len);
    return s;
}

void cf_secret_free(struct cf_secret *s)
{
    if (!s)
        return;
    cf_wipe(s, sizeof(*s) + s->len + 1);
    free(s);
}

bool cf_ct_eq(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

/* secret.h - secret bytes in memory: a value that is wiped when freed, and constant-time
 * comparison. Secret plaintext never lives in a request arena or a plain cf_buf; it lives in a
 * cf_secret (or a cf_buf released with cf_buf_wipe). */
#ifndef CF_SECRET_H
#define CF_SECRET_H

#include "base/cf.h"

struct cf_secret {
    size_t len;
    unsigned char *p; /* len bytes followed by one NUL, so text secrets can be used as C strings */
};

/* Zeroed secret of len bytes; NULL on allocation failure. */
struct cf_secret *cf_secret_new(size_t len);
/* Copy of p[0..len); NULL on allocation failure. */
struct cf_secret *cf_secret_from(const void *p, size_t len);
/* Wipes and frees; accepts NULL. */
void cf_secret_free(struct cf_secret *s);
/* Zeroes memory in a way the compiler may not drop. */
void cf_wipe(void *p, size_t n);
/* Constant-time equality of two equal-length byte strings. */
bool cf_ct_eq(const void *a, const void *b, size_t n);

#endif

/* buf.h - growable byte buffers with a maximum fixed at creation (curl's dynbuf idea).
 *
 * The content is always NUL-terminated (not counted in len) so it can be handed to C APIs.
 * Appending past max fails with CF_ETOOBIG and leaves the buffer as it was. A buffer that held
 * secret bytes is released with cf_buf_wipe, which zeroes before freeing. */
#ifndef CF_BUF_H
#define CF_BUF_H

#include "base/cf.h"
#include "base/str.h"

struct cf_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void cf_buf_init(struct cf_buf *b, size_t max);
cf_err cf_buf_append(struct cf_buf *b, const void *p, size_t n) CF_NODISCARD;
cf_err cf_buf_append_str(struct cf_buf *b, struct cf_str s) CF_NODISCARD;
cf_err cf_buf_puts(struct cf_buf *b, const char *s) CF_NODISCARD;
cf_err cf_buf_putc(struct cf_buf *b, char c) CF_NODISCARD;
cf_err cf_buf_printf(struct cf_buf *b, const char *fmt, ...) CF_PRINTF(2, 3) CF_NODISCARD;
cf_err cf_buf_reserve(struct cf_buf *b, size_t extra) CF_NODISCARD;
struct cf_str cf_buf_str(const struct cf_buf *b);
/* Empties the buffer, keeping its memory. */
void cf_buf_reset(struct cf_buf *b);
/* Hands the malloc'd data to the caller (NULL if never allocated) and empties b. */
char *cf_buf_detach(struct cf_buf *b, size_t *len);
void cf_buf_release(struct cf_buf *b);
void cf_buf_wipe(struct cf_buf *b);

#endif

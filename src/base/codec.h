/* codec.h - text encodings: base64 (standard and url-safe, no padding on output for url),
 * hex, percent-decoding (URL query and form bodies). Pure functions, no allocation except
 * where an output buffer is passed in. */
#ifndef CF_CODEC_H
#define CF_CODEC_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/str.h"

/* Appends base64url without padding. */
cf_err cf_b64url_encode(struct cf_buf *out, const void *p, size_t n) CF_NODISCARD;
/* Appends standard base64 with padding. */
cf_err cf_b64_encode(struct cf_buf *out, const void *p, size_t n) CF_NODISCARD;
/* Decodes base64url or standard base64, padded or not (both alphabets accepted). Appends bytes
 * to out. CF_EINVAL on any other character or an impossible length. */
cf_err cf_b64_decode(struct cf_buf *out, struct cf_str in) CF_NODISCARD;
/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void cf_hex_encode(char *out, const void *p, size_t n);
/* Percent-decodes in ('+' becomes ' ' when plus_is_space) and appends. CF_EINVAL on a bad
 * escape. */
cf_err cf_pct_decode(struct cf_buf *out, struct cf_str in, bool plus_is_space) CF_NODISCARD;
/* Appends in percent-encoded for a URL query value (unreserved characters kept). */
cf_err cf_pct_encode(struct cf_buf *out, struct cf_str in) CF_NODISCARD;

#endif

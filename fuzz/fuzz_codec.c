/* libFuzzer target: base64/base64url and percent decoding of untrusted query strings, forms and
 * backup blobs; whatever decodes must re-encode and decode to the same bytes. */
#include "base/cf.h"
#include "base/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_buf a, b, c;
    struct cf_str in = {(const char *)data, size};

    cf_buf_init(&a, 1 << 20);
    cf_buf_init(&b, 1 << 21);
    cf_buf_init(&c, 1 << 20);
    if (cf_b64_decode(&a, in) == CF_OK && cf_b64url_encode(&b, a.data, a.len) == CF_OK &&
        cf_b64_decode(&c, cf_buf_str(&b)) == CF_OK) {
        if (a.len != c.len || (a.len && memcmp(a.data, c.data, a.len) != 0))
            __builtin_trap();
    }
    cf_buf_reset(&a);
    if (cf_pct_decode(&a, in, true) == CF_OK && a.len > size)
        __builtin_trap();
    cf_buf_release(&a);
    cf_buf_release(&b);
    cf_buf_release(&c);
    return 0;
}

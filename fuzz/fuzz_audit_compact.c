/* libFuzzer target: the audit outbox's compact row form (src/audit/compact.c). A row is read
 * back from the database file, so expand sees whatever the file holds.
 * Checks: expand never crashes and stays within its buffer's max; on any input without a byte
 * below 0x20, compact succeeds, is never longer than its input, and expands back to exactly
 * the input (both through cf_audit_compact and cf_audit_compact_raw, which must agree). */
#include "base/cf.h"
#include "fuzz_check.h"
#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_str in = {(const char *)data, size};
    struct cf_buf c, x;
    bool plain = true;
    cf_err e;

    cf_buf_init(&c, CF_AUDIT_MAX_LINE);
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    e = cf_audit_expand(in, &x);
    CHECK(e == CF_OK || e == CF_EINVAL || e == CF_ETOOBIG);
    CHECK(x.len <= CF_AUDIT_MAX_LINE);
    if (e == CF_EINVAL)
        CHECK(x.len == 0); /* out unchanged on a refusal */

    for (size_t i = 0; i < size; i++)
        plain = plain && data[i] >= 0x20;
    cf_buf_reset(&c);
    e = cf_audit_compact(in, &c);
    if (!plain) {
        CHECK(e == CF_EINVAL && c.len == 0);
    } else if (e == CF_OK) {
        char *raw = malloc(size ? size : 1);
        size_t m = 0;
        CHECK(raw);
        CHECK(c.len <= size);
        CHECK(cf_audit_compact_raw((const char *)data, size, raw, &m));
        CHECK(m == c.len && (m == 0 || memcmp(raw, c.data, m) == 0));
        free(raw);
        cf_buf_reset(&x);
        CHECK(cf_audit_expand(cf_buf_str(&c), &x) == CF_OK);
        CHECK(x.len == size && (size == 0 || memcmp(x.data, data, size) == 0));
    } else {
        CHECK(e == CF_ETOOBIG || e == CF_ENOMEM); /* past the buffer's max only */
    }
    cf_buf_release(&c);
    cf_buf_release(&x);
    return 0;
}

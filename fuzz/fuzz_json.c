/* libFuzzer target: the strict JSON reader every request body goes through, and the writer
 * round trip of whatever it accepts. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cf_json *j = NULL;
    struct cf_buf b;
    char why[128];

    if (cf_json_parse((const char *)data, size, &j, why, sizeof(why)) != CF_OK)
        return 0;
    cf_buf_init(&b, 1 << 20);
    if (cf_json_dump(j, &b) == CF_OK) {
        struct cf_json *again = NULL;
        if (cf_json_parse(b.data, b.len, &again, NULL, 0) != CF_OK)
            __builtin_trap(); /* what we wrote must parse */
        cf_json_free(again);
    }
    cf_buf_release(&b);
    cf_json_free(j);
    return 0;
}

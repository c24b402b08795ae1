/* test_monitor.c - `coffer monitor diagnostic-settings`: the PUT body from --logs/--metrics/
 * --stream (JSON lists required, at least one of them) and the flattened result shape. */
#include "base/cf.h"
#include "base/buf.h"
#include "cli/cmd_monitor.h"

#include <setjmp.h>
#include <cmocka.h>

static void body_from_arguments(void **state)
{
    char err[256];
    struct cf_val *b;
    struct cf_buf out;
    (void)state;
    cf_buf_init(&out, 1 << 16);
    b = cf_cli_diag_body("[{\"category\":\"AuditEvent\",\"enabled\":true}]", NULL, "siem", err,
                         sizeof(err));
    assert_non_null(b);
    assert_int_equal(cf_val_dump(b, &out), CF_OK);
    assert_string_equal(out.data, "{\"properties\":{\"logs\":[{\"category\":\"AuditEvent\","
                                  "\"enabled\":true}],\"streamName\":\"siem\"}}");
    cf_val_unref(b);

    assert_null(cf_cli_diag_body(NULL, NULL, "siem", err, sizeof(err)));
    assert_non_null(strstr(err, "--logs and/or --metrics"));
    assert_null(cf_cli_diag_body("{\"category\":\"AuditEvent\"}", NULL, "s", err, sizeof(err)));
    assert_non_null(strstr(err, "--logs"));
    assert_null(cf_cli_diag_body(NULL, "[oops", "s", err, sizeof(err)));
    assert_non_null(strstr(err, "--metrics"));
    cf_buf_release(&out);
}

static void shape_flattens_properties(void **state)
{
    const char *arm = "{\"id\":\"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/"
                      "vaults/v/providers/microsoft.insights/diagnosticSettings/d\",\"type\":"
                      "\"Microsoft.Insights/diagnosticSettings\",\"name\":\"d\",\"properties\":"
                      "{\"logs\":[],\"metrics\":[],\"streamName\":\"siem\"}}";
    struct cf_val *a = NULL, *o;
    (void)state;
    assert_int_equal(cf_val_parse(arm, strlen(arm), &a), CF_OK);
    o = cf_cli_shape_diag(a);
    assert_non_null(o);
    assert_string_equal(cf_val_get(o, "streamName")->s, "siem");
    assert_string_equal(cf_val_get(o, "name")->s, "d");
    assert_int_equal(cf_val_get(o, "logs")->type, CF_VAL_ARR);
    cf_val_unref(o);
    cf_val_unref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_from_arguments),
        cmocka_unit_test(shape_flattens_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_output.c - json/table/tsv rendering against expectations produced by knack's own
 * formatters (az 2.45), the table transformer, the resourceGroup transform and times. */
#include "base/cf.h"
#include "cli/cli.h"

#include <setjmp.h>
#include <cmocka.h>

#include "output_cases.inc"

static char *render(const struct cf_val *v, enum cf_cli_fmt f, bool q, const struct cf_cli_col *c)
{
    struct cf_buf b;
    char err[128];
    cf_buf_init(&b, 1 << 20);
    assert_int_equal(cf_cli_render(&b, v, f, q, c, err, sizeof(err)), CF_OK);
    if (!b.data)
        return strdup("");
    return cf_buf_detach(&b, NULL);
}

static void check(const char *what, const char *name, const char *want, char *got)
{
    if (strcmp(want, got) != 0)
        fail_msg("%s of %s:\n--- want\n%s--- got\n%s---", what, name, want, got);
    free(got);
}

static void test_knack_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(FMT); i++) {
        struct cf_val *v;
        assert_int_equal(cf_val_parse(FMT[i].in, strlen(FMT[i].in), &v), CF_OK);
        if (FMT[i].query)
            for (size_t k = 0; k < v->n; k++)
                v->items[k]->ordered = true;
        check("json", FMT[i].name, FMT[i].json, render(v, CF_FMT_JSON, FMT[i].query, NULL));
        check("table", FMT[i].name, FMT[i].table, render(v, CF_FMT_TABLE, FMT[i].query, NULL));
        if (!FMT[i].query)
            check("tsv", FMT[i].name, FMT[i].tsv, render(v, CF_FMT_TSV, false, NULL));
        cf_val_unref(v);
    }
}

static void test_ordered_tsv(void **state)
{
    struct cf_val *o = cf_val_obj();
    (void)state;
    assert_int_equal(cf_val_set(o, "n", cf_val_str("Your-Vault")), CF_OK);
    assert_int_equal(cf_val_set(o, "l", cf_val_str("westus")), CF_OK);
    check("tsv", "plain", "westus\tYour-Vault\n", render(o, CF_FMT_TSV, false, NULL));
    o->ordered = true;
    check("tsv", "ordered", "Your-Vault\twestus\n", render(o, CF_FMT_TSV, true, NULL));
    cf_val_unref(o);
}

static void test_null_and_none_print_nothing(void **state)
{
    struct cf_val *n = cf_val_null(), *s = cf_val_str("x");
    (void)state;
    check("json", "null", "", render(n, CF_FMT_JSON, false, NULL));
    check("json", "NULL", "", render(NULL, CF_FMT_JSON, false, NULL));
    check("none", "str", "", render(s, CF_FMT_NONE, false, NULL));
    cf_val_unref(n);
    cf_val_unref(s);
}

static void test_table_transformer(void **state)
{
    static const struct cf_cli_col cols[] = {{"Name", "name", true},
                                             {"Enabled", "attributes.enabled", true},
                                             {"Expires", "attributes.expires", true},
                                             {NULL, NULL, false}};
    const char *in = "[{\"name\":\"a\",\"attributes\":{\"enabled\":true,\"expires\":null}},"
                     "{\"name\":\"bb\",\"attributes\":{\"enabled\":false,"
                     "\"expires\":\"2030-01-01T00:00:00+00:00\"}}]";
    struct cf_val *v;
    (void)state;
    assert_int_equal(cf_val_parse(in, strlen(in), &v), CF_OK);
    /* az's `value or ' '`: false and null print blank. */
    check("table", "cols",
          "Name    Enabled    Expires\n"
          "------  ---------  -------------------------\n"
          "a       True\n"
          "bb                 2030-01-01T00:00:00+00:00\n",
          render(v, CF_FMT_TABLE, false, cols));
    /* With --query the transformer is not used. */
    check("table", "cols+query", "Name\n------\na\nbb\n", render(v, CF_FMT_TABLE, true, cols));
    cf_val_unref(v);
}

static void test_resource_group_transform(void **state)
{
    const char *in =
        "[{\"id\":\"/subscriptions/s/resourceGroups/RG1/providers/Microsoft.KeyVault/vaults/v\","
        "\"properties\":{\"id\":\"/subscriptions/s/resourcegroups/Inner/providers/a/b/c\"}},"
        "{\"id\":\"/subscriptions/s/resourceGroups/g\"},"
        "{\"id\":\"/subscriptions/s/resourceGroups/RG2/providers/a/b/c\",\"resourceGroup\":\"keep\"},"
        "{\"id\":\"/subscriptions/s/providers/Microsoft.KeyVault/locations/l/deletedVaults/v\"},"
        "{\"id\":5}]";
    struct cf_val *v;
    (void)state;
    assert_int_equal(cf_val_parse(in, strlen(in), &v), CF_OK);
    assert_int_equal(cf_cli_add_resource_group(v), CF_OK);
    assert_true(cf_val_is_str(cf_val_get(v->items[0], "resourceGroup"), "RG1"));
    assert_true(cf_val_is_str(cf_val_path(v->items[0], "properties.resourceGroup"), "Inner"));
    assert_null(cf_val_get(v->items[1], "resourceGroup")); /* a group id has < 9 parts */
    assert_true(cf_val_is_str(cf_val_get(v->items[2], "resourceGroup"), "keep"));
    assert_null(cf_val_get(v->items[3], "resourceGroup"));
    assert_null(cf_val_get(v->items[4], "resourceGroup"));
    cf_val_unref(v);
}

static void test_times(void **state)
{
    char t[40];
    int64_t s;
    (void)state;
    cf_cli_iso_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00+00:00");
    cf_cli_iso_time(1893456000, t);
    assert_string_equal(t, "2030-01-01T00:00:00+00:00");
    assert_true(cf_cli_parse_time("2030-01-01T00:00:00Z", &s));
    assert_int_equal(s, 1893456000);
    assert_true(cf_cli_parse_time("2030-01-01", &s));
    assert_int_equal(s, 1893456000);
    assert_true(cf_cli_parse_time("2030-01-01T02:00:00+02:00", &s));
    assert_int_equal(s, 1893456000);
    assert_true(cf_cli_parse_time("2030-01-01T00:00:00.532Z", &s));
    assert_int_equal(s, 1893456000);
    assert_true(cf_cli_parse_time("2030-01-01T00:00Z", &s));
    assert_false(cf_cli_parse_time("2030-13-01", &s));
    assert_false(cf_cli_parse_time("tomorrow", &s));
    assert_false(cf_cli_parse_time("2030-01-01T00:00:00Zjunk", &s));
    assert_false(cf_cli_parse_time(NULL, &s));
}

static void test_reals(void **state)
{
    char t[40];
    (void)state;
    cf_val_fmt_real(1.5, t, sizeof(t));
    assert_string_equal(t, "1.5");
    cf_val_fmt_real(2.0, t, sizeof(t));
    assert_string_equal(t, "2.0");
    cf_val_fmt_real(0.1, t, sizeof(t));
    assert_string_equal(t, "0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knack_cases),
        cmocka_unit_test(test_ordered_tsv),
        cmocka_unit_test(test_null_and_none_print_nothing),
        cmocka_unit_test(test_table_transformer),
        cmocka_unit_test(test_resource_group_transform),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_reals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

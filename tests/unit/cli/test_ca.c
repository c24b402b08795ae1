/* test_ca.c - the pure parts of cmd_ca.c: the shape `coffer ca create/show` print from the CA
 * resource (absent members null, nothing else copied), and the command rows (ca create with
 * its options, ca show) in the command table. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>

#include "cli/cmd_ca.h"

static void test_shape(void **state)
{
    struct cf_val *arm = NULL, *o;
    struct cf_buf b;
    static const char *const in =
        "{\"id\":\"/providers/Microsoft.Coffer/certificateAuthority\",\"name\":\"default\","
        "\"properties\":{\"issuerName\":\"CofferCA\",\"subject\":\"CN=R\",\"kty\":\"EC\","
        "\"crv\":\"P-256\",\"created\":\"2026-12-05T00:00:00Z\",\"x5t\":\"abc\","
        "\"pem\":\"-----BEGIN CERTIFICATE-----\\n\",\"cer\":\"MII\"}}";

    (void)state;
    assert_int_equal(cf_val_parse(in, strlen(in), &arm), CF_OK);
    o = cf_cli_shape_ca(arm);
    assert_non_null(o);
    cf_buf_init(&b, 1 << 16);
    assert_int_equal(cf_val_dump(o, &b), CF_OK);
    assert_string_equal(b.data, "{\"issuerName\":\"CofferCA\",\"subject\":\"CN=R\",\"kty\":\"EC\","
                                "\"keySize\":null,\"crv\":\"P-256\",\"created\":"
                                "\"2026-12-05T00:00:00Z\",\"notBefore\":null,\"notAfter\":null,"
                                "\"x5t\":\"abc\",\"pem\":\"-----BEGIN CERTIFICATE-----\\n\"}");
    cf_buf_release(&b);
    cf_val_unref(o);
    cf_val_unref(arm);
    /* not an object: every member null, still a shape */
    assert_int_equal(cf_val_parse("[]", 2, &arm), CF_OK);
    o = cf_cli_shape_ca(arm);
    assert_non_null(o);
    assert_int_equal(cf_val_get(o, "subject")->type, CF_VAL_NULL);
    cf_val_unref(o);
    cf_val_unref(arm);
}

static void test_rows(void **state)
{
    bool create = false, show = false;
    (void)state;
    for (size_t i = 0; i < cf_cli_ncommands; i++) {
        const struct cf_cli_cmd *c = &cf_cli_commands[i];
        if (strcmp(c->group, "ca") != 0)
            continue;
        if (strcmp(c->name, "create") == 0) {
            create = true;
            assert_ptr_equal(c->opts, cf_cli_o_ca_create);
            assert_true(c->flags & CMD_LOGIN);
        }
        if (strcmp(c->name, "show") == 0) {
            show = true;
            assert_true(c->flags & CMD_SHOW);
        }
    }
    assert_true(create && show);
    for (const struct cf_cli_opt *o = cf_cli_o_ca_create; o->name; o++)
        assert_true(strcmp(o->name, "--subject") == 0 || strcmp(o->name, "--validity-months") == 0 ||
                    strcmp(o->name, "--kty") == 0 || strcmp(o->name, "--size") == 0 ||
                    strcmp(o->name, "--curve") == 0 || strcmp(o->name, "--file") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

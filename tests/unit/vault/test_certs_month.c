/* test_certs_month.c - the test-only certificate month (cf_vault_certs_set_month, cofferd
 * --dev dev_month_seconds): validity_months and days_before_expiry (a day = 12/365 of the
 * month) count in that month, issued certificates are not backdated, and the janitor's
 * AutoRenew fires at exactly the percentage / days of such a certificate; 0 restores 365/12
 * days. Driven by the fake clock through cf_vault_certs_renew_due. */
#include "base/cf.h"

#include "base/json.h"
#include "fixture.h"

static void create(struct fx *f, const char *name, const char *policy)
{
    struct cf_json *p = NULL;
    struct cf_cert_op op;
    char why[256] = "";

    assert_int_equal(cf_json_parse(policy, strlen(policy), &p, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_create(f->svc, &f->ref, cf_str_from(name), p, NULL, &op, why,
                                    sizeof(why)),
                     CF_OK);
    assert_string_equal(op.status, "completed");
    cf_cert_op_release(&op);
    cf_json_free(p);
}

static void latest(struct fx *f, const char *name, struct cf_cert_meta *m)
{
    assert_int_equal(cf_cert_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), m), CF_OK);
}

static int renew(struct fx *f)
{
    int n = -1;
    assert_int_equal(cf_vault_certs_renew_due(f->svc, &n), CF_OK);
    return n;
}

#define PCT50                                                                                      \
    "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC\"},\"x509_props\":{"             \
    "\"subject\":\"CN=m\",\"validity_months\":1},\"lifetime_actions\":[{\"trigger\":"              \
    "{\"lifetime_percentage\":50},\"action\":{\"action_type\":\"AutoRenew\"}}]}"

static void percentage_in_test_months(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m;
    char v1[33], v2[33];

    cf_vault_certs_set_month(f->svc, 40);
    create(f, "m40", PCT50);
    latest(f, "m40", &m);
    assert_int_equal(m.nbf, T0); /* no backdating */
    assert_int_equal(m.exp, T0 + 40);
    memcpy(v1, m.version, sizeof(v1));
    cf_cert_meta_release(&m);

    fx_advance(f, 19);
    assert_int_equal(renew(f), 0);
    fx_advance(f, 1); /* T0 + 20: half of its life */
    assert_int_equal(renew(f), 1);
    latest(f, "m40", &m);
    assert_string_not_equal(m.version, v1);
    assert_int_equal(m.nbf, T0 + 20);
    assert_int_equal(m.exp, T0 + 60);
    memcpy(v2, m.version, sizeof(v2));
    cf_cert_meta_release(&m);
    /* the new version is due at half of its own life, not before */
    assert_int_equal(renew(f), 0);
    fx_advance(f, 19);
    assert_int_equal(renew(f), 0);
    fx_advance(f, 1);
    assert_int_equal(renew(f), 1);
    latest(f, "m40", &m);
    assert_string_not_equal(m.version, v2);
    assert_int_equal(m.exp, T0 + 80);
    cf_cert_meta_release(&m);
}

static void days_in_test_months(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m;

    /* a 365 s month: a day is 12 s; validity 2 months, renew 10 "days" (120 s) before exp */
    cf_vault_certs_set_month(f->svc, 365);
    create(f, "d365",
           "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC\"},\"x509_props\":{"
           "\"subject\":\"CN=d\",\"validity_months\":2},\"lifetime_actions\":[{\"trigger\":"
           "{\"days_before_expiry\":10},\"action\":{\"action_type\":\"AutoRenew\"}}]}");
    latest(f, "d365", &m);
    assert_int_equal(m.exp, T0 + 730);
    cf_cert_meta_release(&m);
    fx_advance(f, 609);
    assert_int_equal(renew(f), 0);
    fx_advance(f, 1); /* exp - 120 */
    assert_int_equal(renew(f), 1);
    latest(f, "d365", &m);
    assert_int_equal(m.nbf, T0 + 610);
    assert_int_equal(m.exp, T0 + 610 + 730);
    cf_cert_meta_release(&m);
}

static void zero_restores_the_real_month(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m;

    cf_vault_certs_set_month(f->svc, 40);
    cf_vault_certs_set_month(f->svc, 0);
    create(f, "real", PCT50);
    latest(f, "real", &m);
    assert_int_equal(m.nbf, T0 - 600);
    assert_int_equal(m.exp, T0 + 2628000);
    cf_cert_meta_release(&m);
    fx_advance(f, 40);
    assert_int_equal(renew(f), 0);
    cf_vault_certs_set_month(f->svc, -5); /* negative: off as well */
    create(f, "real2", PCT50);
    latest(f, "real2", &m);
    assert_int_equal(m.exp, T0 + 40 + 2628000);
    cf_cert_meta_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(percentage_in_test_months, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(days_in_test_months, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(zero_restores_the_real_month, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

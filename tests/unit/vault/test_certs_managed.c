/* test_certs_managed.c - a certificate's key and secret are "managed" (azure-kv-certificates.md
 * §2): the secrets API's set/update/delete/recover/purge and the keys API's create/import/
 * rotate/update/delete/recover/purge refuse them with CF_EFORBIDDEN, while the certificate's
 * own operations (update cascade, delete/recover/purge) keep working and plain keys and
 * secrets are untouched. */
#include "base/cf.h"

#include "base/json.h"
#include "fixture.h"

#define SELF "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC\"},"                    \
             "\"x509_props\":{\"subject\":\"CN=m\"}}"

static void make_cert(struct fx *f, const char *name)
{
    struct cf_json *p = NULL;
    struct cf_cert_op op;
    assert_int_equal(cf_json_parse(SELF, strlen(SELF), &p, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_create(f->svc, &f->ref, cf_str_from(name), p, NULL, &op, NULL, 0),
                     CF_OK);
    cf_json_free(p);
    cf_cert_op_release(&op);
}

static void secrets_refused(void **state)
{
    struct fx *f = *state;
    struct cf_secret_meta sm;
    struct cf_secret_input in = {.has_enabled = true, .enabled = false};
    struct cf_cert_meta m;
    char val[64];

    make_cert(f, "m1");
    assert_int_equal(fx_set(f, &f->ref, "M1", "overwrite", NULL), CF_EFORBIDDEN);
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("m1"), CF_STR(""), &in, &sm),
                     CF_EFORBIDDEN);
    cf_secret_meta_release(&sm);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("m1"), &sm), CF_EFORBIDDEN);
    cf_secret_meta_release(&sm);
    /* a secret backup would restore as a managed secret no certificate owns (undeletable):
     * the certificate's backup carries it instead */
    {
        struct cf_buf blob;
        cf_buf_init(&blob, 1 << 20);
        assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("m1"), &blob), CF_EFORBIDDEN);
        cf_buf_release(&blob);
    }
    /* still served, still enabled, one version */
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("m1"), CF_STR(""), &sm, NULL), CF_OK);
    assert_true(sm.managed);
    assert_true(sm.attrs.enabled);
    assert_string_equal(sm.prev_version, "");
    cf_secret_meta_release(&sm);

    /* the certificate's own update still cascades */
    {
        struct cf_cert_input ci = {.has_enabled = true, .enabled = false};
        assert_int_equal(cf_cert_update(f->svc, &f->ref, CF_STR("m1"), CF_STR(""), &ci, NULL, &m,
                                        NULL, 0),
                         CF_OK);
        cf_cert_meta_release(&m);
        assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("m1"), CF_STR(""), &sm, NULL),
                         CF_EDISABLED);
        cf_secret_meta_release(&sm);
    }
    /* soft-deleted with its certificate: direct recover / purge refused */
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("m1"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_secret_recover(f->svc, &f->ref, CF_STR("m1"), &sm), CF_EFORBIDDEN);
    cf_secret_meta_release(&sm);
    assert_int_equal(cf_secret_purge(f->svc, &f->ref, CF_STR("m1")), CF_EFORBIDDEN);
    assert_int_equal(cf_cert_recover(f->svc, &f->ref, CF_STR("m1"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("m1"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("m1")), CF_OK);
    /* the name is free again, for a plain secret too */
    assert_int_equal(fx_set(f, &f->ref, "m1", "plain", NULL), CF_OK);
    assert_int_equal(fx_get(f, &f->ref, "m1", NULL, val, sizeof(val)), CF_OK);
    assert_string_equal(val, "plain");
    assert_int_equal(fx_set(f, &f->ref, "m1", "plain2", NULL), CF_OK);
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("m1"), CF_STR(""), &in, &sm), CF_OK);
    cf_secret_meta_release(&sm);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("m1"), &sm), CF_OK);
    cf_secret_meta_release(&sm);
    assert_int_equal(cf_secret_purge(f->svc, &f->ref, CF_STR("m1")), CF_OK);
}

static void keys_refused(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta km;
    struct cf_key_spec spec = {.kty = "EC"};
    struct cf_key_input in = {.has_enabled = true, .enabled = false};
    struct cf_cert_meta m;
    struct cf_json *jwk = NULL;
    char why[160], version[33];
    static const char *const jwk_text =
        "{\"kty\":\"EC\",\"crv\":\"P-256\","
        "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
        "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\","
        "\"d\":\"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE\"}";

    make_cert(f, "k1");
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("k1"), CF_STR(""), &km), CF_OK);
    memcpy(version, km.version, sizeof(version));
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_create(f->svc, &f->ref, CF_STR("K1"), &spec, NULL, &km, why,
                                   sizeof(why)),
                     CF_EFORBIDDEN);
    cf_key_meta_release(&km);
    assert_int_equal(cf_json_parse(jwk_text, strlen(jwk_text), &jwk, NULL, 0), CF_OK);
    assert_int_equal(cf_key_import(f->svc, &f->ref, CF_STR("k1"), jwk, false, NULL, &km, why,
                                   sizeof(why)),
                     CF_EFORBIDDEN);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, CF_STR("k1"), &km), CF_EFORBIDDEN);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_update(f->svc, &f->ref, CF_STR("k1"), CF_STR(""), &in, &km, why,
                                   sizeof(why)),
                     CF_EFORBIDDEN);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, CF_STR("k1"), &km), CF_EFORBIDDEN);
    cf_key_meta_release(&km);
    /* unchanged: same version, enabled */
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("k1"), CF_STR(""), &km), CF_OK);
    assert_string_equal(km.version, version);
    assert_true(km.attrs.enabled);
    cf_key_meta_release(&km);

    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("k1"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_key_recover(f->svc, &f->ref, CF_STR("k1"), &km), CF_EFORBIDDEN);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, CF_STR("k1")), CF_EFORBIDDEN);
    assert_int_equal(cf_cert_recover(f->svc, &f->ref, CF_STR("k1"), &m), CF_OK);
    cf_cert_meta_release(&m);

    /* plain keys are untouched by the guard */
    assert_int_equal(cf_key_import(f->svc, &f->ref, CF_STR("plain"), jwk, false, NULL, &km, why,
                                   sizeof(why)),
                     CF_OK);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, CF_STR("plain"), &km), CF_OK);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_update(f->svc, &f->ref, CF_STR("plain"), CF_STR(""), &in, &km, why,
                                   sizeof(why)),
                     CF_OK);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, CF_STR("plain"), &km), CF_OK);
    cf_key_meta_release(&km);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, CF_STR("plain")), CF_OK);
    cf_json_free(jwk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(secrets_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(keys_refused, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

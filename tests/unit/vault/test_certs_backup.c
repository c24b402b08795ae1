/* test_certs_backup.c - certificate backup/restore (certs_backup.c): every version with its
 * policy, key and secret restores into another vault of the same server with the same ids and
 * values (the key still signs, the secret's PFX is the same bytes); conflicts (live, deleted,
 * a plain key or secret of the name); foreign, tampered and other-type blobs refused; nothing
 * to back up for an unknown name or a pending-only certificate. */
#include "base/cf.h"

#include "base/codec.h"
#include "base/json.h"
#include "fixture.h"

static struct cf_json *J(const char *text)
{
    struct cf_json *j = NULL;
    assert_int_equal(cf_json_parse(text, strlen(text), &j, NULL, 0), CF_OK);
    return j;
}

static cf_err create(struct fx *f, const struct cf_vault_ref *ref, const char *name,
                     const char *policy)
{
    struct cf_json *p = J(policy);
    struct cf_cert_op op;
    char why[256] = "";
    cf_err e = cf_cert_create(f->svc, ref, cf_str_from(name), p, NULL, &op, why, sizeof(why));
    cf_json_free(p);
    cf_cert_op_release(&op);
    return e;
}

#define SELF "{\"issuer\":{\"name\":\"Self\"},\"x509_props\":{\"subject\":\"CN=bk\"}}"
#define SELF_EC                                                                                    \
    "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC\"},"                              \
    "\"secret_props\":{\"contentType\":\"application/x-pem-file\"},"                               \
    "\"x509_props\":{\"subject\":\"CN=bk2\",\"validity_months\":3}}"

static cf_err count_cb(const struct cf_cert_meta *m, void *arg)
{
    (void)m;
    (*(int *)arg)++;
    return CF_OK;
}

static void backup_blob(struct fx *f, const struct cf_vault_ref *ref, const char *name,
                        struct cf_buf *blob)
{
    cf_buf_init(blob, 4 * 1024 * 1024);
    assert_int_equal(cf_cert_backup(f->svc, ref, cf_str_from(name), blob), CF_OK);
    assert_true(blob->len > 100);
}

static void round_trip(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref other;
    struct cf_cert_meta m, m1, m2;
    struct cf_cert_input in = {.has_tags = true, .tags_json = "{\"env\":\"dev\"}"};
    struct cf_secret_meta sm1, sm2;
    struct cf_secret *val1 = NULL, *val2 = NULL;
    struct cf_key_meta km;
    struct cf_key_op_args a = {.op = CF_KEY_SIGN, .alg = "ES256"};
    struct cf_key_op_result res;
    unsigned char digest[32] = {7};
    char next[CF_PAGE_TOKEN_MAX], why[128];
    struct cf_buf blob;
    int n = 0;

    assert_int_equal(create(f, &f->ref, "BkCert", SELF), CF_OK);
    fx_advance(f, 60);
    assert_int_equal(create(f, &f->ref, "bkcert", SELF_EC), CF_OK);
    assert_int_equal(cf_cert_update(f->svc, &f->ref, CF_STR("bkcert"), CF_STR(""), &in, NULL, &m,
                                    why, sizeof(why)),
                     CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("bkcert"), CF_STR(""), &m1), CF_OK);
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("bkcert"), CF_STR(""), &sm1, &val1),
                     CF_OK);
    backup_blob(f, &f->ref, "bkcert", &blob);

    /* into another vault of the same server */
    fx_make_vault(f, "othervault", 90, false, &other);
    assert_int_equal(cf_cert_restore(f->svc, &other, cf_str_from(blob.data), &m2), CF_OK);
    assert_string_equal(m2.name, "BkCert"); /* the case of the first creation */
    assert_string_equal(m2.version, m1.version);
    assert_int_equal(m2.cer.len, m1.cer.len);
    assert_memory_equal(m2.cer.data, m1.cer.data, m1.cer.len);
    assert_string_equal(m2.x5t, m1.x5t);
    assert_int_equal(m2.exp, m1.exp);
    assert_non_null(m2.tags_json);
    assert_string_equal(m2.tags_json, "{\"env\":\"dev\"}");
    assert_non_null(m2.policy);
    assert_string_equal(m2.policy->kty, "EC");
    assert_true(m2.policy->pem);
    assert_string_equal(m2.policy->subject, "CN=bk2");
    cf_cert_meta_release(&m2);
    assert_int_equal(cf_cert_list_versions(f->svc, &other, CF_STR("bkcert"), CF_STR(""), 25,
                                           count_cb, &n, next),
                     CF_OK);
    assert_int_equal(n, 2);

    /* the secret: same version, same bytes, still managed */
    assert_int_equal(cf_secret_get(f->svc, &other, CF_STR("bkcert"), CF_STR(""), &sm2, &val2),
                     CF_OK);
    assert_string_equal(sm2.version, sm1.version);
    assert_true(sm2.managed);
    assert_string_equal(sm2.content_type, "application/x-pem-file");
    assert_int_equal(val2->len, val1->len);
    assert_memory_equal(val2->p, val1->p, val1->len);
    cf_secret_free(val1);
    cf_secret_free(val2);
    cf_secret_meta_release(&sm1);
    cf_secret_meta_release(&sm2);

    /* the key: managed, the same version, signs in the new vault */
    assert_int_equal(cf_key_get(f->svc, &other, CF_STR("bkcert"), CF_STR(""), &km), CF_OK);
    assert_string_equal(km.version, m1.version);
    assert_true(km.managed);
    cf_key_meta_release(&km);
    memset(&res, 0, sizeof(res));
    cf_buf_init(&res.out, 1024);
    a.value = (struct cf_str){(const char *)digest, 32};
    assert_int_equal(cf_key_operate(f->svc, &other, CF_STR("bkcert"), CF_STR(""), &a, &res, why,
                                    sizeof(why)),
                     CF_OK);
    assert_int_equal(res.out.len, 64);
    cf_buf_release(&res.out);

    /* the restored certificate lives on: delete cascades, recover, renew through create */
    assert_int_equal(cf_cert_delete(f->svc, &other, CF_STR("bkcert"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_recover(f->svc, &other, CF_STR("bkcert"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(create(f, &other, "bkcert", SELF), CF_OK);

    cf_cert_meta_release(&m1);
    cf_buf_release(&blob);
}

static void conflicts(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref other;
    struct cf_cert_meta m;
    struct cf_key_meta km;
    struct cf_key_spec spec = {.kty = "EC"};
    struct cf_buf blob;
    char why[128];

    assert_int_equal(create(f, &f->ref, "cx", SELF), CF_OK);
    backup_blob(f, &f->ref, "cx", &blob);
    /* the name is live */
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, cf_str_from(blob.data), &m), CF_EEXISTS);
    assert_string_equal(m.name, "cx");
    cf_cert_meta_release(&m);
    /* soft-deleted */
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("cx"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, cf_str_from(blob.data), &m), CF_EDELETED);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_backup(f->svc, &f->ref, CF_STR("cx"), &blob), CF_ENOTFOUND);
    /* purged: restorable again */
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("cx")), CF_OK);
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, cf_str_from(blob.data), &m), CF_OK);
    cf_cert_meta_release(&m);

    /* a plain key of the name in the target vault */
    fx_make_vault(f, "keyvault2", 90, false, &other);
    assert_int_equal(cf_key_create(f->svc, &other, CF_STR("CX"), &spec, NULL, &km, why,
                                   sizeof(why)),
                     CF_OK);
    cf_key_meta_release(&km);
    assert_int_equal(cf_cert_restore(f->svc, &other, cf_str_from(blob.data), &m), CF_EEXISTS);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_get(f->svc, &other, CF_STR("cx"), CF_STR(""), &m), CF_ENOTFOUND);
    cf_cert_meta_release(&m);
    /* and a plain secret */
    fx_make_vault(f, "secvault3", 90, false, &other);
    assert_int_equal(fx_set(f, &other, "Cx", "v", NULL), CF_OK);
    assert_int_equal(cf_cert_restore(f->svc, &other, cf_str_from(blob.data), &m), CF_EEXISTS);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_key_get(f->svc, &other, CF_STR("cx"), CF_STR(""), &km), CF_ENOTFOUND);
    cf_key_meta_release(&km);
    cf_buf_release(&blob);
}

static void bad_blobs(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m;
    struct cf_buf blob, sblob, raw, enc;
    struct cf_json *p;
    struct cf_cert_op op;

    /* nothing to back up */
    cf_buf_init(&blob, 4 * 1024 * 1024);
    assert_int_equal(cf_cert_backup(f->svc, &f->ref, CF_STR("none"), &blob), CF_ENOTFOUND);
    assert_int_equal(cf_cert_backup(f->svc, &f->ref, CF_STR("bad name!"), &blob), CF_EBADNAME);
    p = J("{\"issuer\":{\"name\":\"Unknown\"},\"x509_props\":{\"subject\":\"CN=p\"}}");
    assert_int_equal(cf_cert_create(f->svc, &f->ref, CF_STR("pend"), p, NULL, &op, NULL, 0),
                     CF_OK);
    cf_json_free(p);
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_backup(f->svc, &f->ref, CF_STR("pend"), &blob), CF_ENOTFOUND);
    assert_int_equal(blob.len, 0);

    assert_int_equal(create(f, &f->ref, "good", SELF), CF_OK);
    assert_int_equal(cf_cert_backup(f->svc, &f->ref, CF_STR("good"), &blob), CF_OK);
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("good")), CF_ENOTFOUND);
    assert_int_equal(cf_cert_delete(f->svc, &f->ref, CF_STR("good"), &m), CF_OK);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_purge(f->svc, &f->ref, CF_STR("good")), CF_OK);

    /* garbage, empty, a flipped byte, a truncated blob */
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, CF_STR("not base64 !!"), &m), CF_EBADPARAM);
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, CF_STR(""), &m), CF_EBADPARAM);
    cf_cert_meta_release(&m);
    cf_buf_init(&raw, 4 * 1024 * 1024);
    cf_buf_init(&enc, 4 * 1024 * 1024);
    assert_int_equal(cf_b64_decode(&raw, (struct cf_str){blob.data, blob.len}), CF_OK);
    raw.data[raw.len / 2] ^= 1;
    assert_int_equal(cf_b64url_encode(&enc, raw.data, raw.len), CF_OK);
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, (struct cf_str){enc.data, enc.len}, &m),
                     CF_EBADPARAM);
    cf_cert_meta_release(&m);
    raw.data[raw.len / 2] ^= 1;
    cf_buf_reset(&enc);
    assert_int_equal(cf_b64url_encode(&enc, raw.data, raw.len - 1), CF_OK);
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, (struct cf_str){enc.data, enc.len}, &m),
                     CF_EBADPARAM);
    cf_cert_meta_release(&m);

    /* a secret's and a key's backup are not certificate backups, nor the reverse */
    assert_int_equal(fx_set(f, &f->ref, "plain", "v", NULL), CF_OK);
    cf_buf_init(&sblob, 4 * 1024 * 1024);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("plain"), &sblob), CF_OK);
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, (struct cf_str){sblob.data, sblob.len}, &m),
                     CF_EBADPARAM);
    cf_cert_meta_release(&m);
    {
        struct cf_secret_meta sm;
        struct cf_key_meta km;
        assert_int_equal(cf_secret_restore(f->svc, &f->ref, (struct cf_str){blob.data, blob.len},
                                           &sm),
                         CF_EBADPARAM);
        cf_secret_meta_release(&sm);
        assert_int_equal(cf_key_restore(f->svc, &f->ref, (struct cf_str){blob.data, blob.len},
                                        &km),
                         CF_EBADPARAM);
        cf_key_meta_release(&km);
    }
    /* the untouched blob still restores */
    assert_int_equal(cf_cert_restore(f->svc, &f->ref, (struct cf_str){blob.data, blob.len}, &m),
                     CF_OK);
    assert_string_equal(m.name, "good");
    cf_cert_meta_release(&m);

    /* a blob from another server (another master key) */
    {
        unsigned char mk2[32];
        cf_err e;
        struct cf_vault_svc *svc2;
        assert_int_equal(cf_random(mk2, sizeof(mk2)), CF_OK);
        svc2 = cf_vault_svc_new(f->store, &f->clock.c, mk2, &e);
        assert_non_null(svc2);
        assert_int_equal(cf_cert_restore(svc2, &f->ref, (struct cf_str){blob.data, blob.len}, &m),
                         CF_EBADPARAM);
        cf_cert_meta_release(&m);
        cf_vault_svc_free(svc2);
    }
    cf_buf_release(&raw);
    cf_buf_release(&enc);
    cf_buf_release(&sblob);
    cf_buf_release(&blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(conflicts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(bad_blobs, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_certs_acme.c - the vault's side of the ACME issuer (certs_acme.c, certs.c): a create
 * with an Acme issuer stays inProgress with a CSR; the walk hands the order over with the
 * issuer's directory, options and the domains (CN + DNS SANs, unique); a client merge is
 * forbidden; completion with a chain on the pending key issues the version and completes the
 * operation (a wrong key or request id is refused); failure reads "failed"; the account key
 * is made once and kept, its URL stored; AutoRenew starts a new order. */
#include "base/cf.h"

#include "base/json.h"
#include "fixture.h"

static struct cf_json *J(const char *text)
{
    struct cf_json *j = NULL;
    assert_int_equal(cf_json_parse(text, strlen(text), &j, NULL, 0), CF_OK);
    return j;
}

#define ACME_POLICY                                                                                \
    "{\"issuer\":{\"name\":\"le\"},\"key_props\":{\"kty\":\"EC\"},\"x509_props\":{\"subject\":"  \
    "\"CN=a.example\",\"sans\":{\"dns_names\":[\"a.example\",\"b.example\"]},"                   \
    "\"validity_months\":1},\"lifetime_actions\":[{\"trigger\":{\"lifetime_percentage\":50},"      \
    "\"action\":{\"action_type\":\"AutoRenew\"}}]}"

struct got {
    int n;
    struct cf_acme_order o;
};

static cf_err collect(const struct cf_acme_order *o, void *arg)
{
    struct got *g = arg;
    struct cf_buf keep = g->o.csr;
    g->n++;
    g->o = *o;
    g->o.csr = keep;
    cf_buf_reset(&g->o.csr);
    return cf_buf_append(&g->o.csr, o->csr.data, o->csr.len);
}

static void setup_issuer(struct fx *f)
{
    struct cf_json *b = J("{\"provider\":\"acme\",\"credentials\":{\"account_id\":"
                          "\"https://acme.test:14000/dir\"},\"org_details\":{\"acme\":"
                          "{\"ca_file\":\"/tmp/pebble-ca.pem\",\"email\":\"ops@a.example\"}}}");
    struct cf_cert_issuer is;
    char why[128];
    assert_int_equal(cf_cert_issuer_set(f->svc, &f->ref, CF_STR("le"), b, false, &is, why,
                                        sizeof(why)),
                     CF_OK);
    cf_cert_issuer_release(&is);
    cf_json_free(b);
}

/* A chain for the order's CSR signed by a throw-away CA. */
static void sign_order(const struct cf_acme_order *o, int64_t now, struct cf_buf *chain)
{
    struct cf_kvkey *ca = NULL;
    struct cf_cert_req req = {.subject = "CN=Test ACME CA", .not_before = now - 60,
                              .not_after = now + 365 * 86400};
    struct cf_buf ca_der;
    cf_buf_init(&ca_der, 16384);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &ca), CF_OK);
    assert_int_equal(cf_cert_self_signed(ca, &req, &ca_der, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_sign_csr(ca, ca_der.data, ca_der.len, o->csr.data, o->csr.len,
                                      now - 60, now + 30 * 86400, chain),
                     CF_OK);
    assert_int_equal(cf_buf_append(chain, ca_der.data, ca_der.len), CF_OK);
    cf_buf_release(&ca_der);
    cf_kvkey_free(ca);
}

static void order_flow(void **state)
{
    struct fx *f = *state;
    struct cf_json *p = J(ACME_POLICY);
    struct cf_cert_op op;
    struct cf_cert_meta m;
    struct got g;
    struct cf_buf chain, wrong;
    char why[256] = "";

    setup_issuer(f);
    memset(&g, 0, sizeof(g));
    cf_buf_init(&g.o.csr, 16384);
    assert_int_equal(cf_cert_create(f->svc, &f->ref, CF_STR("web"), p, NULL, &op, why,
                                    sizeof(why)),
                     CF_OK);
    assert_string_equal(op.status, "inProgress");
    assert_string_equal(op.issuer, "le");
    assert_non_null(op.status_details);
    cf_cert_op_release(&op);
    /* no version yet: by name it reads as pending (disabled, no cer) */
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("web"), CF_STR(""), &m), CF_OK);
    assert_false(m.enabled);
    assert_int_equal(m.cer.len, 0);
    cf_cert_meta_release(&m);

    /* the walk */
    assert_int_equal(cf_cert_acme_orders(f->svc, collect, &g), CF_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.o.vault, "testvault");
    assert_string_equal(g.o.name, "web");
    assert_string_equal(g.o.directory, "https://acme.test:14000/dir");
    assert_string_equal(g.o.ca_file, "/tmp/pebble-ca.pem");
    assert_string_equal(g.o.challenge, "http-01");
    assert_string_equal(g.o.email, "ops@a.example");
    assert_int_equal(g.o.ndomains, 2);
    assert_string_equal(g.o.domains[0], "a.example");
    assert_string_equal(g.o.domains[1], "b.example");
    assert_true(g.o.csr.len > 100);

    /* clients cannot merge an issuer-backed operation */
    cf_buf_init(&chain, 65536);
    sign_order(&g.o, T0, &chain);
    assert_int_equal(cf_cert_merge(f->svc, &f->ref, CF_STR("web"),
                                   (struct cf_str){chain.data, chain.len}, NULL, &m, why,
                                   sizeof(why)),
                     CF_EFORBIDDEN);
    cf_cert_meta_release(&m);
    /* a chain for another key, a stale request id */
    {
        struct cf_kvkey *other = NULL;
        struct cf_cert_req req = {.subject = "CN=x", .not_before = T0, .not_after = T0 + 86400};
        cf_buf_init(&wrong, 16384);
        assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &other), CF_OK);
        assert_int_equal(cf_cert_self_signed(other, &req, &wrong, NULL, 0), CF_OK);
        cf_kvkey_free(other);
    }
    assert_int_equal(cf_cert_acme_complete(f->svc, "testvault", "web", g.o.request_id,
                                           (struct cf_str){wrong.data, wrong.len}, why,
                                           sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_cert_acme_complete(f->svc, "testvault", "web",
                                           "00000000000000000000000000000000",
                                           (struct cf_str){chain.data, chain.len}, why,
                                           sizeof(why)),
                     CF_ENOTFOUND);
    assert_int_equal(cf_cert_acme_complete(f->svc, "testvault", "web", g.o.request_id,
                                           (struct cf_str){chain.data, chain.len}, why,
                                           sizeof(why)),
                     CF_OK);
    assert_int_equal(cf_cert_op_get(f->svc, &f->ref, CF_STR("web"), &op), CF_OK);
    assert_string_equal(op.status, "completed");
    assert_true(op.completed);
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("web"), CF_STR(""), &m), CF_OK);
    assert_true(m.enabled);
    cf_cert_meta_release(&m);
    /* nothing left to walk */
    g.n = 0;
    assert_int_equal(cf_cert_acme_orders(f->svc, collect, &g), CF_OK);
    assert_int_equal(g.n, 0);

    /* AutoRenew at 50 %: a new order, the current version stays */
    fx_advance(f, 16 * 86400);
    {
        int renewed = -1;
        assert_int_equal(cf_vault_certs_renew_due(f->svc, &renewed), CF_OK);
    }
    assert_int_equal(cf_cert_op_get(f->svc, &f->ref, CF_STR("web"), &op), CF_OK);
    assert_string_equal(op.status, "inProgress");
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_acme_orders(f->svc, collect, &g), CF_OK);
    assert_int_equal(g.n, 1);
    /* and a failure */
    assert_int_equal(cf_cert_acme_fail(f->svc, "testvault", "web", g.o.request_id,
                                       "urn:ietf:params:acme:error:rejectedIdentifier"),
                     CF_OK);
    assert_int_equal(cf_cert_op_get(f->svc, &f->ref, CF_STR("web"), &op), CF_OK);
    assert_string_equal(op.status, "failed");
    assert_non_null(op.error_json);
    assert_non_null(strstr(op.error_json, "rejectedIdentifier"));
    cf_cert_op_release(&op);
    assert_int_equal(cf_cert_acme_fail(f->svc, "testvault", "web", g.o.request_id, "again"),
                     CF_ENOTFOUND);
    cf_buf_release(&chain);
    cf_buf_release(&wrong);
    cf_buf_release(&g.o.csr);
    cf_json_free(p);
}

static void account(void **state)
{
    struct fx *f = *state;
    struct cf_kvkey *k1 = NULL, *k2 = NULL;
    char url[CF_ACME_URL_MAX];
    struct cf_buf j1, j2;
    struct cf_jw w;

    assert_int_equal(cf_cert_acme_account(f->svc, "testvault", "LE", &k1, url), CF_OK);
    assert_string_equal(url, "");
    assert_int_equal(cf_kvkey_type(k1), CF_KTY_EC);
    assert_int_equal(cf_cert_acme_account_set_url(f->svc, "testvault", "le",
                                                  "https://acme.test/acct/1"),
                     CF_OK);
    assert_int_equal(cf_cert_acme_account(f->svc, "testvault", "le", &k2, url), CF_OK);
    assert_string_equal(url, "https://acme.test/acct/1");
    cf_buf_init(&j1, 1024);
    cf_buf_init(&j2, 1024);
    cf_jw_init(&w, &j1);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_kvkey_write_public_jwk(k1, true, &w), CF_OK);
    cf_jw_obj_end(&w);
    cf_jw_init(&w, &j2);
    cf_jw_obj_begin(&w);
    assert_int_equal(cf_kvkey_write_public_jwk(k2, true, &w), CF_OK);
    cf_jw_obj_end(&w);
    assert_string_equal(j1.data, j2.data); /* the same key, kept */
    cf_buf_release(&j1);
    cf_buf_release(&j2);
    cf_kvkey_free(k1);
    cf_kvkey_free(k2);
    assert_int_equal(cf_cert_acme_account(f->svc, "novault", "le", &k1, url), CF_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(order_flow, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(account, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

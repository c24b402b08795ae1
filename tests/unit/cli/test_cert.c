/* test_cert.c - `coffer keyvault certificate`: the policy conversion (az's camelCase output, its
 * snake model names and the wire's, nulls, bad types), the az shapes of bundles, items, deleted
 * certificates, operations, contacts and issuers (thumbprints, names from ids, the password
 * never shown), get-default-policy feeding create, the PEM writer and the merge file reader. */
#include "base/cf.h"
#include "base/codec.h"
#include "cli/cmd_cert.h"

#include <setjmp.h>
#include <cmocka.h>

static struct cf_val *parse(const char *txt)
{
    struct cf_val *v = NULL;
    assert_int_equal(cf_val_parse(txt, strlen(txt), &v), CF_OK);
    assert_non_null(v);
    return v;
}

/* compact JSON text of v (sorted keys, as the tree prints) */
static char *dump(const struct cf_val *v)
{
    struct cf_buf b;
    cf_buf_init(&b, 1 << 20);
    assert_int_equal(cf_val_dump(v, &b), CF_OK);
    assert_int_equal(cf_buf_putc(&b, '\0'), CF_OK);
    return cf_buf_detach(&b, NULL);
}

static const char *str_at(const struct cf_val *v, const char *path)
{
    const struct cf_val *x = cf_val_path(v, path);
    return x && x->type == CF_VAL_STR ? x->s : NULL;
}

static void assert_json(const struct cf_val *v, const char *want)
{
    struct cf_val *w = parse(want);
    if (!cf_val_equal(v, w)) {
        char *got = dump(v);
        fail_msg("got %s\nwant %s", got, want);
    }
    cf_val_unref(w);
}

static void policy_from_default_policy(void **state)
{
    (void)state;
    struct cf_val *def = cf_cli_cert_default_policy(), *wire;
    char why[128];
    assert_non_null(def);
    assert_string_equal(str_at(def, "x509CertificateProperties.subject"), "CN=CLIGetDefaultPolicy");
    wire = cf_cli_cert_policy_body(def, why, sizeof(why));
    assert_non_null(wire);
    assert_string_equal(why, "");
    /* nulls (certificateTransparency, curve) are dropped */
    assert_json(wire,
                "{\"issuer\":{\"name\":\"Self\"},"
                "\"key_props\":{\"exportable\":true,\"key_size\":2048,\"kty\":\"RSA\",\"reuse_key\":true},"
                "\"lifetime_actions\":[{\"action\":{\"action_type\":\"AutoRenew\"},"
                "\"trigger\":{\"days_before_expiry\":90}}],"
                "\"secret_props\":{\"contentType\":\"application/x-pkcs12\"},"
                "\"x509_props\":{\"key_usage\":[\"cRLSign\",\"dataEncipherment\",\"digitalSignature\","
                "\"keyEncipherment\",\"keyAgreement\",\"keyCertSign\"],"
                "\"subject\":\"CN=CLIGetDefaultPolicy\",\"validity_months\":12}}");
    cf_val_unref(wire);
    cf_val_unref(def);
}

static void policy_spellings(void **state)
{
    (void)state;
    char why[128];
    /* az's snake model attributes */
    struct cf_val *in = parse(
        "{\"issuer_parameters\":{\"name\":\"Unknown\",\"certificate_type\":\"OV-SSL\"},"
        "\"key_properties\":{\"key_type\":\"EC\",\"curve\":\"P-384\",\"exportable\":false},"
        "\"x509_certificate_properties\":{\"subject\":\"CN=a\",\"validity_in_months\":3,"
        "\"subject_alternative_names\":{\"dns_names\":[\"a.test\"],\"user_principal_names\":[\"u@t\"]}},"
        "\"lifetime_actions\":[{\"trigger\":{\"lifetime_percentage\":80},\"action\":{\"action_type\":\"EmailContacts\"}}],"
        "\"id\":\"https://x/certificates/a/policy\",\"attributes\":{\"enabled\":true,\"created\":5},"
        "\"unknown_member\":1}");
    struct cf_val *w = cf_cli_cert_policy_body(in, why, sizeof(why));
    assert_non_null(w);
    /* read-only id and created go, unknown members are ignored (as msrest) */
    assert_json(w, "{\"attributes\":{\"enabled\":true},"
                   "\"issuer\":{\"cty\":\"OV-SSL\",\"name\":\"Unknown\"},"
                   "\"key_props\":{\"crv\":\"P-384\",\"exportable\":false,\"kty\":\"EC\"},"
                   "\"lifetime_actions\":[{\"action\":{\"action_type\":\"EmailContacts\"},"
                   "\"trigger\":{\"lifetime_percentage\":80}}],"
                   "\"x509_props\":{\"sans\":{\"dns_names\":[\"a.test\"],\"upns\":[\"u@t\"]},"
                   "\"subject\":\"CN=a\",\"validity_months\":3}}");
    cf_val_unref(in);
    /* the wire's own names pass unchanged, whatever the case */
    in = parse("{\"Key_Props\":{\"kty\":\"RSA\",\"key_size\":4096},\"x509_props\":{\"subject\":\"CN=b\","
               "\"ekus\":[\"1.3.6.1.5.5.7.3.1\"],\"basic_constraints\":{\"ca\":false}},"
               "\"issuer\":{\"name\":\"Self\",\"cert_transparency\":false}}");
    cf_val_unref(w);
    w = cf_cli_cert_policy_body(in, why, sizeof(why));
    assert_json(w, "{\"issuer\":{\"cert_transparency\":false,\"name\":\"Self\"},"
                   "\"key_props\":{\"key_size\":4096,\"kty\":\"RSA\"},"
                   "\"x509_props\":{\"ekus\":[\"1.3.6.1.5.5.7.3.1\"],\"subject\":\"CN=b\"}}");
    cf_val_unref(w);
    cf_val_unref(in);
}

static void policy_bad_input(void **state)
{
    (void)state;
    char why[128];
    struct cf_val *in = parse("[1]");
    assert_null(cf_cli_cert_policy_body(in, why, sizeof(why)));
    assert_string_equal(why, "the policy must be a JSON object");
    cf_val_unref(in);
    in = parse("{\"key_props\":\"RSA\"}");
    assert_null(cf_cli_cert_policy_body(in, why, sizeof(why)));
    assert_string_equal(why, "policy member 'key_props' must be an object");
    cf_val_unref(in);
    in = parse("{\"lifetime_actions\":{\"trigger\":{}}}");
    assert_null(cf_cli_cert_policy_body(in, why, sizeof(why)));
    assert_string_equal(why, "policy member 'lifetime_actions' must be a list");
    cf_val_unref(in);
    in = parse("{\"lifetime_actions\":[5]}");
    assert_null(cf_cli_cert_policy_body(in, why, sizeof(why)));
    cf_val_unref(in);
    assert_null(cf_cli_cert_policy_body(NULL, why, sizeof(why)));
}

#define BUNDLE                                                                                     \
    "{\"id\":\"https://v.vault.localhost:8443/certificates/c1/0123456789abcdef0123456789abcdef\","  \
    "\"kid\":\"https://v.vault.localhost:8443/keys/c1/0123456789abcdef0123456789abcdef\","          \
    "\"sid\":\"https://v.vault.localhost:8443/secrets/c1/0123456789abcdef0123456789abcdef\","       \
    "\"x5t\":\"X3amtD34PDzLVN1yklsoLfi-Qko\",\"cer\":\"MIIB\","                                     \
    "\"attributes\":{\"enabled\":true,\"nbf\":1631560453,\"exp\":1663097053,\"created\":1631561053," \
    "\"updated\":1631561053,\"recoveryLevel\":\"Recoverable+Purgeable\",\"recoverableDays\":90},"   \
    "\"tags\":{\"env\":\"dev\"},"                                                                    \
    "\"policy\":{\"id\":\"https://v.vault.localhost:8443/certificates/c1/policy\","                  \
    "\"key_props\":{\"exportable\":true,\"kty\":\"RSA\",\"key_size\":2048,\"reuse_key\":false},"     \
    "\"secret_props\":{\"contentType\":\"application/x-pem-file\"},"                                 \
    "\"x509_props\":{\"subject\":\"CN=c1\",\"sans\":{\"dns_names\":[\"c1.test\"]},\"ekus\":[],"      \
    "\"key_usage\":[\"digitalSignature\"],\"validity_months\":12,\"basic_constraints\":{\"ca\":false}}," \
    "\"lifetime_actions\":[{\"trigger\":{\"lifetime_percentage\":80},\"action\":{\"action_type\":\"AutoRenew\"}}]," \
    "\"issuer\":{\"name\":\"Self\"},\"attributes\":{\"enabled\":true,\"created\":1631561047,\"updated\":1631561047}}," \
    "\"pending\":{\"id\":\"https://v.vault.localhost:8443/certificates/c1/pending\"}"

static void shape_bundle(void **state)
{
    (void)state;
    struct cf_val *b = parse(BUNDLE "}");
    struct cf_val *o = cf_cli_shape_cert(b, CF_CLI_CERT_BUNDLE);
    char *keys;
    assert_non_null(o);
    keys = dump(cf_val_get(o, "attributes"));
    assert_json(cf_val_get(o, "attributes"),
                "{\"created\":\"2021-09-13T19:24:13+00:00\",\"enabled\":true,"
                "\"expires\":\"2022-09-13T19:24:13+00:00\",\"notBefore\":\"2021-09-13T19:14:13+00:00\","
                "\"recoverableDays\":90,\"recoveryLevel\":\"Recoverable+Purgeable\","
                "\"updated\":\"2021-09-13T19:24:13+00:00\"}");
    free(keys);
    assert_string_equal(str_at(o, "name"), "c1");
    assert_string_equal(str_at(o, "cer"), "MIIB");
    /* the bundle has no contentType: the policy's secret content type */
    assert_string_equal(str_at(o, "contentType"), "application/x-pem-file");
    /* x5t = base64url(SHA-1): the same 20 bytes as standard base64 and as hex */
    assert_string_equal(str_at(o, "x509Thumbprint"), "X3amtD34PDzLVN1yklsoLfi+Qko=");
    assert_string_equal(str_at(o, "x509ThumbprintHex"), "5F76A6B43DF83C3CCB54DD72925B282DF8BE424A");
    assert_string_equal(str_at(o, "kid"), "https://v.vault.localhost:8443/keys/c1/0123456789abcdef0123456789abcdef");
    assert_string_equal(str_at(o, "tags.env"), "dev");
    assert_json(cf_val_get(o, "policy"),
                "{\"attributes\":{\"created\":\"2021-09-13T19:24:07+00:00\",\"enabled\":true,"
                "\"expires\":null,\"notBefore\":null,\"recoverableDays\":null,\"recoveryLevel\":null,"
                "\"updated\":\"2021-09-13T19:24:07+00:00\"},"
                "\"id\":\"https://v.vault.localhost:8443/certificates/c1/policy\","
                "\"issuerParameters\":{\"certificateTransparency\":null,\"certificateType\":null,\"name\":\"Self\"},"
                "\"keyProperties\":{\"curve\":null,\"exportable\":true,\"keySize\":2048,\"keyType\":\"RSA\",\"reuseKey\":false},"
                "\"lifetimeActions\":[{\"action\":{\"actionType\":\"AutoRenew\"},"
                "\"trigger\":{\"daysBeforeExpiry\":null,\"lifetimePercentage\":80}}],"
                "\"secretProperties\":{\"contentType\":\"application/x-pem-file\"},"
                "\"x509CertificateProperties\":{\"ekus\":[],\"keyUsage\":[\"digitalSignature\"],"
                "\"subject\":\"CN=c1\",\"subjectAlternativeNames\":{\"dnsNames\":[\"c1.test\"],"
                "\"emails\":null,\"upns\":null},\"validityInMonths\":12}}");
    /* no deleted members on a live bundle; the exact member set */
    keys = dump(o);
    assert_null(strstr(keys, "recoveryId"));
    free(keys);
    assert_int_equal(o->n, 11);
    /* the az policy output goes back to the same wire policy */
    {
        char why[64];
        struct cf_val *w = cf_cli_cert_policy_body(cf_val_get(o, "policy"), why, sizeof(why));
        assert_non_null(w);
        const struct cf_val *dns = cf_val_path(w, "x509_props.sans.dns_names");
        assert_non_null(dns);
        assert_int_equal(dns->n, 1);
        assert_string_equal(dns->items[0]->s, "c1.test");
        assert_null(cf_val_get(w, "id"));
        assert_null(cf_val_get(cf_val_get(w, "attributes"), "created"));
        cf_val_unref(w);
    }
    cf_val_unref(o);
    cf_val_unref(b);
}

static void shape_items_and_deleted(void **state)
{
    (void)state;
    struct cf_val *b = parse(BUNDLE ",\"recoveryId\":\"https://v/deletedcertificates/c1\","
                                    "\"deletedDate\":1700000000,\"scheduledPurgeDate\":1707776000}");
    struct cf_val *o = cf_cli_shape_cert(b, CF_CLI_CERT_DELETED);
    assert_string_equal(str_at(o, "recoveryId"), "https://v/deletedcertificates/c1");
    assert_string_equal(str_at(o, "deletedDate"), "2023-11-14T22:13:20+00:00");
    assert_non_null(str_at(o, "scheduledPurgeDate"));
    assert_int_equal(o->n, 14);
    cf_val_unref(o);
    o = cf_cli_shape_cert(b, CF_CLI_CERT_ITEM);
    assert_null(cf_val_get(o, "cer"));
    assert_null(cf_val_get(o, "policy"));
    assert_null(cf_val_get(o, "recoveryId"));
    assert_string_equal(str_at(o, "name"), "c1");
    assert_int_equal(o->n, 6); /* attributes id name tags x509Thumbprint x509ThumbprintHex */
    cf_val_unref(o);
    o = cf_cli_shape_cert(b, CF_CLI_CERT_DELETED_ITEM);
    assert_int_equal(o->n, 9);
    cf_val_unref(o);
    cf_val_unref(b);
    /* no x5t (a pending certificate): null thumbprints; a bad x5t too */
    b = parse("{\"id\":\"https://v/certificates/p\",\"x5t\":\"***\"}");
    o = cf_cli_shape_cert(b, CF_CLI_CERT_BUNDLE);
    assert_int_equal(cf_val_get(o, "x509ThumbprintHex")->type, CF_VAL_NULL);
    assert_int_equal(cf_val_get(o, "policy")->type, CF_VAL_NULL);
    assert_int_equal(cf_val_get(o, "attributes")->type, CF_VAL_NULL);
    cf_val_unref(o);
    cf_val_unref(b);
}

static void shape_op_contacts_issuer(void **state)
{
    (void)state;
    struct cf_val *op = parse("{\"id\":\"https://v/certificates/c1/pending\",\"issuer\":{\"name\":\"Unknown\"},"
                              "\"csr\":\"MIIC\",\"cancellation_requested\":false,\"status\":\"inProgress\","
                              "\"status_details\":\"Please Perform Merge\",\"request_id\":\"abc\"}");
    struct cf_val *o = cf_cli_shape_cert_op(op);
    assert_json(o, "{\"cancellationRequested\":false,\"csr\":\"MIIC\",\"error\":null,"
                   "\"id\":\"https://v/certificates/c1/pending\",\"issuerParameters\":{"
                   "\"certificateTransparency\":null,\"certificateType\":null,\"name\":\"Unknown\"},"
                   "\"name\":\"c1\",\"requestId\":\"abc\",\"status\":\"inProgress\","
                   "\"statusDetails\":\"Please Perform Merge\",\"target\":null}");
    cf_val_unref(o);
    cf_val_unref(op);

    op = parse("{\"id\":\"https://v/certificates/contacts\",\"contacts\":[{\"email\":\"a@b\",\"name\":\"A\"}]}");
    o = cf_cli_shape_cert_contacts(op);
    assert_json(o, "{\"contactList\":[{\"emailAddress\":\"a@b\",\"name\":\"A\",\"phone\":null}],"
                   "\"id\":\"https://v/certificates/contacts\"}");
    cf_val_unref(o);
    cf_val_unref(op);
    op = parse("{\"id\":\"https://v/certificates/contacts\",\"contacts\":[]}");
    o = cf_cli_shape_cert_contacts(op);
    assert_int_equal(cf_val_get(o, "contactList")->n, 0);
    cf_val_unref(o);
    cf_val_unref(op);

    op = parse("{\"id\":\"https://v/certificates/issuers/i1\",\"provider\":\"Test\","
               "\"credentials\":{\"account_id\":\"acct\",\"pwd\":\"must-not-show\"},"
               "\"org_details\":{\"id\":\"o1\",\"admin_details\":[{\"first_name\":\"J\",\"last_name\":\"D\","
               "\"email\":\"j@d\",\"phone\":\"1\"}]},"
               "\"attributes\":{\"enabled\":true,\"created\":0,\"updated\":1}}");
    o = cf_cli_shape_cert_issuer(op, false);
    assert_json(o, "{\"attributes\":{\"created\":\"1970-01-01T00:00:00+00:00\",\"enabled\":true,"
                   "\"updated\":\"1970-01-01T00:00:01+00:00\"},"
                   "\"credentials\":{\"accountId\":\"acct\",\"password\":null},"
                   "\"id\":\"https://v/certificates/issuers/i1\","
                   "\"organizationDetails\":{\"adminDetails\":[{\"emailAddress\":\"j@d\",\"firstName\":\"J\","
                   "\"lastName\":\"D\",\"phone\":\"1\"}],\"id\":\"o1\"},\"provider\":\"Test\"}");
    cf_val_unref(o);
    o = cf_cli_shape_cert_issuer(op, true);
    assert_json(o, "{\"id\":\"https://v/certificates/issuers/i1\",\"provider\":\"Test\"}");
    cf_val_unref(o);
    cf_val_unref(op);
}

static void pem_writer(void **state)
{
    (void)state;
    unsigned char der[200];
    struct cf_buf pem, back;
    const char *body, *end;
    for (size_t i = 0; i < sizeof(der); i++)
        der[i] = (unsigned char)(i * 7);
    cf_buf_init(&pem, 4096);
    cf_buf_init(&back, 4096);
    assert_int_equal(cf_cli_cert_pem(der, sizeof(der), &pem), CF_OK);
    assert_int_equal(cf_buf_putc(&pem, '\0'), CF_OK);
    assert_true(strncmp(pem.data, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    body = pem.data + 28;
    /* 200 bytes -> 268 base64 chars: lines of 76, 76, 76, 40 (base64.encodebytes) */
    assert_int_equal(strchr(body, '\n') - body, 76);
    end = strstr(body, "-----END CERTIFICATE-----\n");
    assert_non_null(end);
    assert_string_equal(end, "-----END CERTIFICATE-----\n");
    assert_int_equal(end - body, 268 + 4);
    {
        struct cf_val *x = cf_cli_cert_x5c(pem.data, strlen(pem.data));
        assert_non_null(x);
        assert_int_equal(x->n, 1);
        assert_int_equal(cf_b64_decode(&back, cf_str_from(x->items[0]->s)), CF_OK);
        assert_int_equal(back.len, sizeof(der));
        assert_memory_equal(back.data, der, sizeof(der));
        cf_val_unref(x);
    }
    cf_buf_release(&pem);
    cf_buf_release(&back);
}

static void merge_file(void **state)
{
    (void)state;
    const char *chain = "junk before\n-----BEGIN CERTIFICATE-----\nMIIB\nAAA=\n-----END CERTIFICATE-----\n"
                        "-----BEGIN CERTIFICATE-----\r\nMIIC\r\n-----END CERTIFICATE-----\r\n";
    struct cf_val *x = cf_cli_cert_x5c(chain, strlen(chain));
    assert_non_null(x);
    assert_int_equal(x->n, 2);
    assert_string_equal(x->items[0]->s, "MIIBAAA=");
    assert_string_equal(x->items[1]->s, "MIIC");
    cf_val_unref(x);
    /* DER: one certificate, re-encoded */
    {
        const char der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
        x = cf_cli_cert_x5c(der, sizeof(der));
        assert_non_null(x);
        assert_int_equal(x->n, 1);
        assert_string_equal(x->items[0]->s, "MAMCAQU=");
        cf_val_unref(x);
    }
    /* neither: refused; an unterminated or empty block too */
    assert_null(cf_cli_cert_x5c("hello", 5));
    assert_null(cf_cli_cert_x5c("", 0));
    chain = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    assert_null(cf_cli_cert_x5c(chain, strlen(chain)));
    chain = "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n";
    assert_null(cf_cli_cert_x5c(chain, strlen(chain)));
    chain = "-----BEGIN CERTIFICATE-----\n*not base64*\n-----END CERTIFICATE-----\n";
    assert_null(cf_cli_cert_x5c(chain, strlen(chain)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_from_default_policy),
        cmocka_unit_test(policy_spellings),
        cmocka_unit_test(policy_bad_input),
        cmocka_unit_test(shape_bundle),
        cmocka_unit_test(shape_items_and_deleted),
        cmocka_unit_test(shape_op_contacts_issuer),
        cmocka_unit_test(pem_writer),
        cmocka_unit_test(merge_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_certs.c - the certificates data plane through cf_api_handle with the real route table,
 * handlers, vault, auth, RBAC and a SQLite store in a temp dir; only the HTTP layer is
 * replaced (the harness is fake_http.h).
 *
 * Covers: create with Self (202, Location, operation; the poller's GET .../pending reads
 * completed with target; request_id filter), the bundle (id/kid/sid same version, x5t, cer,
 * policy with defaults, pending.id), the key usable through /keys/{name}/sign, the secret
 * (managed, PFX, kid with the host), Unknown issuer + merge with a CSR signed by a test CA
 * (201), conflicts (409 while inProgress), cancel (403 afterwards), import of PEM, update,
 * policy get/patch, lists, the delete/recover/purge cycle, contacts, issuers (no pwd back),
 * bad input (names, policies, x5c, values). */
#include "base/cf.h"
#include "api/api.h"
#include "auth/auth.h"
#include "auth/rbac.h"
#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "store/store.h"
#include "vault/vault.h"

#include <pthread.h>
#include <setjmp.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_http.h"

#define BASE1 "https://vone." SUFFIX PORT
#define AV "api-version=7.6"

/* A P-256 private JWK (generated for these tests). */
#define EC_JWK                                                                                     \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"ujgoG_433ui3YNwcLceLm02-c-E7xCBhfaYMBnyyLEY\","     \
    "\"y\":\"uvWq2tohl_VhxnOl7NmV5I54cdqdbxrBgiFKRe_IEKo\","                                       \
    "\"d\":\"jKEg2LoT-osxgDf1a-8lefZK814nGnsMSQIE1wzuOAw\",\"key_ops\":[\"sign\",\"verify\"]}"
/* base64url of 32 bytes 0x01..0x20 (a SHA-256-sized digest) */
#define DIGEST "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"

static int setup(void **state)
{
    return fx_setup(
        state,
        &(struct fx_opts){.tag = "apicerts", .vaults = {"vone", "vtwo"}, .host = V1, .query = AV});
}

/* ---------------- tests ---------------- */

#define SELF_POLICY "{\"policy\":{\"issuer\":{\"name\":\"Self\"},\"x509_props\":{\"subject\":\"cn=MyCert\"}}}"

static void self_create_and_read(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char kid[512], sid[512], id[512], body[1024];

    r = call(f, CF_HTTP_POST, "/certificates/c1/create", SELF_POLICY);
    if (r->status != 202)
        fail_msg("%d %s", r->status, r->body);
    assert_string_equal(jstr(r, "id"), BASE1 "/certificates/c1/pending");
    assert_string_equal(jstr(r, "issuer.name"), "Self");
    assert_true(strlen(jstr(r, "csr")) > 100);
    /* issued already, but the 202 reads inProgress without a target (Python's poller fetches
     * the certificate only after it has seen inProgress) */
    assert_string_equal(jstr(r, "status"), "inProgress");
    assert_non_null(strstr(jstr(r, "status_details"), "in progress"));
    assert_null(strstr(r->body, "\"target\""));
    snprintf(body, sizeof(body), "request_id=%s&" AV, jstr(r, "request_id"));
    done(r);
    /* the poller: GET .../pending (with the request_id filter of the Location) */
    r = call_on(f, V1, CF_HTTP_GET, "/certificates/c1/pending", body, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "status"), "completed");
    assert_string_equal(jstr(r, "target"), BASE1 "/certificates/c1");
    assert_null(strstr(r->body, "status_details"));
    done(r);
    expect(call_on(f, V1, CF_HTTP_GET, "/certificates/c1/pending",
                   "request_id=00000000000000000000000000000000&" AV, NULL),
           404, "PendingCertificateNotFound", NULL);

    r = call(f, CF_HTTP_GET, "/certificates/c1/", NULL);
    assert_int_equal(r->status, 200);
    snprintf(id, sizeof(id), "%s", jstr(r, "id"));
    snprintf(kid, sizeof(kid), "%s", jstr(r, "kid"));
    snprintf(sid, sizeof(sid), "%s", jstr(r, "sid"));
    assert_string_equal(ver_of(id), ver_of(kid));
    assert_string_equal(ver_of(id), ver_of(sid));
    assert_int_equal(strlen(jstr(r, "x5t")), 27);
    assert_true(strlen(jstr(r, "cer")) > 400);
    assert_string_equal(jstr(r, "policy.id"), BASE1 "/certificates/c1/policy");
    assert_string_equal(jstr(r, "policy.key_props.kty"), "RSA");
    assert_string_equal(jstr(r, "policy.secret_props.contentType"), "application/x-pkcs12");
    assert_string_equal(jstr(r, "policy.issuer.name"), "Self");
    assert_string_equal(jstr(r, "pending.id"), BASE1 "/certificates/c1/pending");
    assert_string_equal(jstr(r, "attributes.recoveryLevel"), "Recoverable+Purgeable");
    done(r);

    /* the key signs */
    r = call(f, CF_HTTP_POST, "/keys/c1/sign", "{\"alg\":\"RS256\",\"value\":\"" DIGEST "\"}");
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "kid"), kid);
    done(r);
    r = call(f, CF_HTTP_GET, "/keys/c1", NULL);
    assert_int_equal(r->status, 200);
    assert_true(cf_json_type(jget(r, "managed")) == CF_JSON_TRUE);
    done(r);
    /* the secret is the PFX, managed, with the key's id */
    r = call(f, CF_HTTP_GET, "/secrets/c1/", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "contentType"), "application/x-pkcs12");
    assert_string_equal(jstr(r, "kid"), kid);
    assert_string_equal(jstr(r, "id"), sid);
    assert_true(cf_json_type(jget(r, "managed")) == CF_JSON_TRUE);
    assert_true(strlen(jstr(r, "value")) > 1000);
    done(r);

    /* versioned get, unknown version, policy */
    snprintf(body, sizeof(body), "/certificates/c1/%s", ver_of(id));
    expect(call(f, CF_HTTP_GET, body, NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_GET, "/certificates/c1/0123456789abcdef0123456789abcdef", NULL), 404,
           "CertificateNotFound", NULL);
    expect(call(f, CF_HTTP_GET, "/certificates/nope", NULL), 404, "CertificateNotFound", NULL);
    r = call(f, CF_HTTP_GET, "/certificates/c1/policy", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(cf_json_size(jget(r, "lifetime_actions")), 1);
    done(r);
    r = call(f, CF_HTTP_PATCH, "/certificates/c1/policy",
             "{\"x509_props\":{\"validity_months\":6},\"secret_props\":{\"contentType\":"
             "\"application/x-pem-file\"}}");
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "secret_props.contentType"), "application/x-pem-file");
    assert_string_equal(jstr(r, "x509_props.subject"), "cn=MyCert");
    done(r);
    /* update: disabled, tags */
    r = call(f, CF_HTTP_PATCH, "/certificates/c1",
             "{\"attributes\":{\"enabled\":false},\"tags\":{\"t\":\"v\"}}");
    assert_int_equal(r->status, 200);
    assert_true(cf_json_type(jget(r, "attributes.enabled")) == CF_JSON_FALSE);
    assert_string_equal(jstr(r, "tags.t"), "v");
    done(r);
    expect(call(f, CF_HTTP_GET, "/secrets/c1", NULL), 403, "Forbidden", "SecretDisabled");

    /* lists */
    r = call(f, CF_HTTP_GET, "/certificates", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(cf_json_size(jget(r, "value")), 1);
    assert_string_equal(cf_json_str(cf_json_get(cf_json_at(jget(r, "value"), 0), "id"), NULL),
                        BASE1 "/certificates/c1");
    assert_true(cf_json_type(jget(r, "nextLink")) == CF_JSON_NULL);
    done(r);
    r = call(f, CF_HTTP_GET, "/certificates/c1/versions", NULL);
    assert_int_equal(cf_json_size(jget(r, "value")), 1);
    done(r);
}

static void bad_input(void **state)
{
    struct fx *f = *state;

    expect(call(f, CF_HTTP_POST, "/certificates/a_b/create", SELF_POLICY), 400, "BadParameter",
           NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/create", "{}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/create", "{\"policy\":[]}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/create",
                "{\"policy\":{\"key_props\":{\"kty\":\"RSA-HSM\"},\"x509_props\":{\"subject\":"
                "\"CN=a\"}}}"),
           400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/create", "{bad json"), 400, "BadParameter",
           NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/import", "{\"value\":\"AAAA\"}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/import", "{}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/pending/merge", "{\"x5c\":[]}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/c2/pending/merge", "{\"x5c\":[\"AAAA\"]}"), 404,
           "PendingCertificateNotFound", NULL);
    expect(call(f, CF_HTTP_GET, "/certificates/c2/pending", NULL), 404,
           "PendingCertificateNotFound", NULL);
    expect(call_on(f, V1, CF_HTTP_GET, "/certificates", "maxresults=26&" AV, NULL), 400, "BadParameter",
           NULL);
    expect(call_on(f, V1, CF_HTTP_GET, "/certificates", "maxresults=0&" AV, NULL), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/certificates/issuers/Self", "{\"provider\":\"x\"}"), 400,
           "BadParameter", NULL);
    expect(call(f, CF_HTTP_PUT, "/certificates/issuers/i1", "{}"), 400, "BadParameter", NULL);
    expect(call(f, CF_HTTP_GET, "/certificates/issuers/i1", NULL), 404,
           "CertificateIssuerNotFound", NULL);
    expect(call(f, CF_HTTP_PUT, "/certificates/contacts", "{\"contacts\":[{\"name\":\"x\"}]}"),
           400, "BadParameter", NULL);
}

static void unknown_merge_flow(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    struct cf_buf csr, ca_der, leaf, b64ca, b64leaf;
    struct cf_kvkey *ca = NULL;
    char body[16384];
    struct cf_cert_req careq = {.subject = "CN=Test CA", .key_usage = 1u << 5,
                                .not_before = 1700000000, .not_after = 2000000000};

    r = call(f, CF_HTTP_POST, "/certificates/u1/create",
             "{\"policy\":{\"issuer\":{\"name\":\"Unknown\"},\"key_props\":{\"kty\":\"EC\"},"
             "\"x509_props\":{\"subject\":\"CN=u1\",\"sans\":{\"dns_names\":[\"u1.example\"]}}},"
             "\"tags\":{\"from\":\"create\"}}");
    if (r->status != 202)
        fail_msg("%d %s", r->status, r->body);
    assert_string_equal(jstr(r, "status"), "inProgress");
    assert_string_equal(jstr(r, "status_details"),
                        "Pending certificate created. Please Perform Merge to complete the "
                        "request.");
    cf_buf_init(&csr, 16384);
    assert_int_equal(cf_b64_decode(&csr, cf_str_from(jstr(r, "csr"))), CF_OK);
    done(r);
    expect(call(f, CF_HTTP_POST, "/certificates/u1/create", SELF_POLICY), 409, "Conflict", NULL);
    /* before the merge the certificate reads by name: disabled, no version, cer or x5t, with
     * its policy and pending id (JS getCertificateOperation starts with this GET) */
    r = call(f, CF_HTTP_GET, "/certificates/u1/", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "id"), BASE1 "/certificates/u1");
    assert_string_equal(jstr(r, "pending.id"), BASE1 "/certificates/u1/pending");
    assert_string_equal(jstr(r, "policy.issuer.name"), "Unknown");
    assert_null(strstr(r->body, "\"cer\""));
    assert_null(strstr(r->body, "\"x5t\""));
    assert_null(strstr(r->body, "\"kid\":\"" BASE1 "/keys/u1/"));
    assert_non_null(strstr(r->body, "\"enabled\":false"));
    done(r);
    /* a version, the versions list and updates still know no version */
    expect(call(f, CF_HTTP_GET, "/certificates/u1/0123456789abcdef0123456789abcdef", NULL), 404,
           "CertificateNotFound", NULL);
    expect(call(f, CF_HTTP_PATCH, "/certificates/u1/", "{\"tags\":{}}"), 404,
           "CertificateNotFound", NULL);

    /* a CA signs the CSR */
    cf_buf_init(&ca_der, 16384);
    cf_buf_init(&leaf, 16384);
    cf_buf_init(&b64ca, 32768);
    cf_buf_init(&b64leaf, 32768);
    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &ca), CF_OK);
    assert_int_equal(cf_cert_self_signed(ca, &careq, &ca_der, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_sign_csr(ca, ca_der.data, ca_der.len, csr.data, csr.len, 1700000000,
                                      1900000000, &leaf),
                     CF_OK);
    assert_int_equal(cf_b64_encode(&b64leaf, leaf.data, leaf.len), CF_OK);
    assert_int_equal(cf_b64_encode(&b64ca, ca_der.data, ca_der.len), CF_OK);
    /* the CA certificate alone does not match the pending key */
    snprintf(body, sizeof(body), "{\"x5c\":[\"%s\"]}", b64ca.data);
    expect(call(f, CF_HTTP_POST, "/certificates/u1/pending/merge", body), 400, "BadParameter",
           NULL);
    snprintf(body, sizeof(body), "{\"x5c\":[\"%s\",\"%s\"]}", b64leaf.data, b64ca.data);
    r = call(f, CF_HTTP_POST, "/certificates/u1/pending/merge", body);
    if (r->status != 201)
        fail_msg("%d %s", r->status, r->body);
    assert_string_equal(jstr(r, "cer"), b64leaf.data);
    assert_string_equal(jstr(r, "tags.from"), "create");
    assert_int_equal(cf_json_int(jget(r, "attributes.exp"), &(int64_t){0}), true);
    done(r);
    r = call(f, CF_HTTP_GET, "/certificates/u1/pending", NULL);
    assert_string_equal(jstr(r, "status"), "completed");
    assert_string_equal(jstr(r, "target"), BASE1 "/certificates/u1");
    done(r);
    /* a merge again: nothing in progress */
    expect(call(f, CF_HTTP_POST, "/certificates/u1/pending/merge", body), 404,
           "PendingCertificateNotFound", NULL);
    /* cancel is refused when not in progress; delete removes the operation */
    expect(call(f, CF_HTTP_PATCH, "/certificates/u1/pending", "{\"cancellation_requested\":true}"),
           403, "Forbidden", NULL);
    expect(call(f, CF_HTTP_DELETE, "/certificates/u1/pending", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_GET, "/certificates/u1/pending", NULL), 404,
           "PendingCertificateNotFound", NULL);

    /* the secret is a PEM-importable chain? import it back under another name as PFX */
    r = call(f, CF_HTTP_GET, "/secrets/u1", NULL);
    assert_int_equal(r->status, 200);
    snprintf(body, sizeof(body), "{\"value\":\"%s\"}", jstr(r, "value"));
    done(r);
    r = call(f, CF_HTTP_POST, "/certificates/u2/import", body);
    if (r->status != 200)
        fail_msg("%d %s", r->status, r->body);
    assert_string_equal(jstr(r, "cer"), b64leaf.data);
    assert_string_equal(jstr(r, "policy.issuer.name"), "Unknown");
    assert_string_equal(cf_json_str(cf_json_at(jget(r, "policy.x509_props.sans.dns_names"), 0),
                                    NULL),
                        "u1.example");
    done(r);
    cf_kvkey_free(ca);
    cf_buf_release(&csr);
    cf_buf_release(&ca_der);
    cf_buf_release(&leaf);
    cf_buf_release(&b64ca);
    cf_buf_release(&b64leaf);
}

static void lifecycle_contacts_issuers(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;

    expect(call(f, CF_HTTP_POST, "/certificates/d1/create", SELF_POLICY), 202, NULL, NULL);
    r = call(f, CF_HTTP_DELETE, "/certificates/d1", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "recoveryId"), BASE1 "/deletedcertificates/d1");
    assert_string_equal(jstr(r, "policy.issuer.name"), "Self");
    done(r);
    expect(call(f, CF_HTTP_GET, "/keys/d1", NULL), 404, NULL, NULL);
    expect(call(f, CF_HTTP_GET, "/secrets/d1", NULL), 404, NULL, NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/d1/create", SELF_POLICY), 409, "Conflict",
           "ObjectIsDeletedButRecoverable");
    r = call(f, CF_HTTP_GET, "/deletedcertificates", NULL);
    assert_int_equal(cf_json_size(jget(r, "value")), 1);
    done(r);
    expect(call(f, CF_HTTP_GET, "/deletedcertificates/d1", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_POST, "/deletedcertificates/d1/recover", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_GET, "/keys/d1", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_DELETE, "/certificates/d1", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_DELETE, "/deletedcertificates/d1", NULL), 204, NULL, NULL);
    expect(call(f, CF_HTTP_GET, "/deletedcertificates/d1", NULL), 404, "CertificateNotFound",
           NULL);
    expect(call(f, CF_HTTP_GET, "/deletedkeys/d1", NULL), 404, NULL, NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/d1/backup", NULL), 404, "CertificateNotFound",
           NULL);

    /* backup / restore: 200 with a blob; 409 while the name exists; restores after purge */
    {
        char body[64 * 1024];
        expect(call(f, CF_HTTP_POST, "/certificates/b1/create", SELF_POLICY), 202, NULL, NULL);
        r = call(f, CF_HTTP_POST, "/certificates/b1/backup", NULL);
        assert_int_equal(r->status, 200);
        assert_true(strlen(jstr(r, "value")) > 1000);
        snprintf(body, sizeof(body), "{\"value\":\"%s\"}", jstr(r, "value"));
        done(r);
        expect(call(f, CF_HTTP_POST, "/certificates/restore", body), 409, "Conflict", NULL);
        expect(call(f, CF_HTTP_DELETE, "/certificates/b1", NULL), 200, NULL, NULL);
        expect(call(f, CF_HTTP_POST, "/certificates/restore", body), 409, "Conflict",
               "ObjectIsDeletedButRecoverable");
        expect(call(f, CF_HTTP_DELETE, "/deletedcertificates/b1", NULL), 204, NULL, NULL);
        r = call(f, CF_HTTP_POST, "/certificates/restore", body);
        assert_int_equal(r->status, 200);
        assert_true(strstr(jstr(r, "id"), BASE1 "/certificates/b1/") != NULL);
        assert_true(strlen(jstr(r, "cer")) > 100);
        assert_string_equal(jstr(r, "policy.issuer.name"), "Self");
        done(r);
        expect(call(f, CF_HTTP_GET, "/keys/b1", NULL), 200, NULL, NULL);
        expect(call(f, CF_HTTP_GET, "/secrets/b1", NULL), 200, NULL, NULL);
        /* the certificate's key and secret are managed: the keys/secrets APIs refuse writes */
        expect(call(f, CF_HTTP_PUT, "/secrets/b1", "{\"value\":\"x\"}"), 403, "Forbidden", NULL);
        expect(call(f, CF_HTTP_PATCH, "/secrets/b1", "{\"contentType\":\"x\"}"), 403,
               "Forbidden", NULL);
        expect(call(f, CF_HTTP_DELETE, "/secrets/b1", NULL), 403, "Forbidden", NULL);
        expect(call(f, CF_HTTP_DELETE, "/keys/b1", NULL), 403, "Forbidden", NULL);
        expect(call(f, CF_HTTP_PATCH, "/keys/b1", "{\"attributes\":{\"enabled\":false}}"), 403,
               "Forbidden", NULL);
        expect(call(f, CF_HTTP_POST, "/keys/b1/create", "{\"kty\":\"EC\"}"), 403, "Forbidden",
               NULL);
        expect(call(f, CF_HTTP_POST, "/keys/b1/rotate", NULL), 403, "Forbidden", NULL);
        expect(call(f, CF_HTTP_POST, "/certificates/restore", "{\"value\":\"AAAA\"}"), 400,
               "BadParameter", NULL);
    }

    r = call(f, CF_HTTP_GET, "/certificates/contacts", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "id"), BASE1 "/certificates/contacts");
    assert_int_equal(cf_json_size(jget(r, "contacts")), 0);
    done(r);
    r = call(f, CF_HTTP_PUT, "/certificates/contacts",
             "{\"contacts\":[{\"email\":\"admin@contoso.com\",\"name\":\"John Doe\","
             "\"phone\":\"1111111111\"}]}");
    assert_int_equal(r->status, 200);
    assert_int_equal(cf_json_size(jget(r, "contacts")), 1);
    done(r);
    r = call(f, CF_HTTP_DELETE, "/certificates/contacts", NULL);
    assert_int_equal(cf_json_size(jget(r, "contacts")), 1);
    done(r);

    r = call(f, CF_HTTP_PUT, "/certificates/issuers/issuer01",
             "{\"provider\":\"Test\",\"credentials\":{\"account_id\":\"keyvaultuser\","
             "\"pwd\":\"hunter2\"}}");
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "id"), BASE1 "/certificates/issuers/issuer01");
    assert_string_equal(jstr(r, "credentials.account_id"), "keyvaultuser");
    assert_null(strstr(r->body, "hunter2"));
    assert_null(strstr(r->body, "pwd"));
    done(r);
    r = call(f, CF_HTTP_PATCH, "/certificates/issuers/issuer01", "{\"provider\":\"DigiCert\"}");
    assert_string_equal(jstr(r, "provider"), "DigiCert");
    done(r);
    r = call(f, CF_HTTP_GET, "/certificates/issuers", NULL);
    assert_int_equal(cf_json_size(jget(r, "value")), 1);
    done(r);
    expect(call(f, CF_HTTP_DELETE, "/certificates/issuers/issuer01", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_GET, "/certificates/issuers/issuer01", NULL), 404, NULL, NULL);
}

/* The private CA on the management host, then a certificate issued by it in a vault. */
static void private_ca(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    struct cf_token_request tr;
    struct cf_token_error te;
    struct cf_buf tok;
    int64_t exp_in;
    char vault_bearer[2048], pem_head[64], ca_x5t[32];
    const char *mg = "management.localhost" PORT, *path = "/providers/Microsoft.Coffer/certificateAuthority";
    const char *q = "api-version=2024-01-01";

    assert_int_equal(cf_rbac_ensure_assignment(f->rbac, "/", CF_ROLE_OWNER, f->oid,
                                               "ServicePrincipal"),
                     CF_OK);
    tr = (struct cf_token_request){.tenant = cf_str_from(f->tenant),
                                   .grant_type = CF_STR("client_credentials"),
                                   .client_id = cf_str_from(f->client_id),
                                   .client_secret = cf_str_from(f->secret),
                                   .scope = CF_STR("https://management.localhost/.default")};
    cf_buf_init(&tok, 8192);
    assert_int_equal(cf_auth_issue_token(f->auth, &tr, &tok, &exp_in, &te), CF_OK);
    memcpy(vault_bearer, f->bearer, sizeof(vault_bearer));
    snprintf(f->bearer, sizeof(f->bearer), "Bearer %s", tok.data);
    cf_buf_release(&tok);

    expect(call_on(f, mg, CF_HTTP_GET, path, q, NULL), 404, "CertificateAuthorityNotFound", NULL);
    expect(call_on(f, mg, CF_HTTP_PUT, path, q, "{\"properties\":{\"kty\":\"DSA\"}}"), 400,
           "BadParameter", NULL);
    expect(call_on(f, mg, CF_HTTP_PUT, path, q, "{\"properties\":{\"validityMonths\":0}}"), 400,
           "BadParameter", NULL);
    r = call_on(f, mg, CF_HTTP_PUT, path, q,
                "{\"properties\":{\"subject\":\"CN=Api Root\",\"kty\":\"EC\","
                "\"validityMonths\":24}}");
    if (r->status != 201)
        fail_msg("%d %s", r->status, r->body);
    assert_string_equal(jstr(r, "properties.subject"), "CN=Api Root");
    assert_string_equal(jstr(r, "properties.kty"), "EC");
    assert_string_equal(jstr(r, "properties.crv"), "P-256");
    assert_string_equal(jstr(r, "properties.issuerName"), "CofferCA");
    snprintf(pem_head, sizeof(pem_head), "%.27s", jstr(r, "properties.pem"));
    assert_string_equal(pem_head, "-----BEGIN CERTIFICATE-----");
    snprintf(ca_x5t, sizeof(ca_x5t), "%s", jstr(r, "properties.x5t"));
    assert_int_equal(strlen(ca_x5t), 27);
    done(r);
    expect(call_on(f, mg, CF_HTTP_PUT, path, q, NULL), 409, "Conflict", NULL);
    r = call_on(f, mg, CF_HTTP_GET, path, q, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "properties.x5t"), ca_x5t);
    done(r);

    /* a vault certificate from the CA: issued at once (the 202 reads inProgress, the first
     * GET .../pending completed), the chain is in the secret */
    memcpy(f->bearer, vault_bearer, sizeof(vault_bearer));
    r = call(f, CF_HTTP_POST, "/certificates/ca1/create",
             "{\"policy\":{\"issuer\":{\"name\":\"CofferCA\"},\"x509_props\":{\"subject\":"
             "\"CN=ca1.internal\"}}}");
    if (r->status != 202)
        fail_msg("%d %s", r->status, r->body);
    assert_string_equal(jstr(r, "status"), "inProgress");
    assert_string_equal(jstr(r, "issuer.name"), "CofferCA");
    done(r);
    r = call(f, CF_HTTP_GET, "/certificates/ca1/pending", NULL);
    assert_string_equal(jstr(r, "status"), "completed");
    done(r);
    expect(call(f, CF_HTTP_GET, "/certificates/ca1", NULL), 200, NULL, NULL);
    expect(call(f, CF_HTTP_POST, "/certificates/ca2/create",
                "{\"policy\":{\"issuer\":{\"name\":\"NoSuchIssuer\"},\"x509_props\":"
                "{\"subject\":\"CN=x\"}}}"),
           400, "BadParameter", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(self_create_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_merge_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(lifecycle_contacts_issuers, setup, teardown),
        cmocka_unit_test_setup_teardown(private_ca, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

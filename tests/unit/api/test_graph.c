/* test_graph.c - the Graph v1.0 directory routes (h_graph.c) through cf_api_handle with the
 * real route table, dispatch, auth and a SQLite store; only the HTTP layer is faked
 * (fake_http.h). Every route: applications (create, list with $filter, get by id and by
 * applications(appId='...'), PATCH displayName and keyCredentials, addPassword and a token
 * with the new secret, removePassword, delete), servicePrincipals (list, get, memberOf),
 * groups (create, list, get, members add/list/remove, delete), and Graph's error shapes. */
#include "base/cf.h"
#include "api/api.h"
#include "auth/auth.h"
#include "auth/rbac.h"
#include "auth/throttle.h"
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

static int setup(void **state)
{
    return fx_setup(state, &(struct fx_opts){.tag = "graph", .vaults = {"vone"}});
}


#define MG "management.localhost" PORT

static struct cf_json *json_of(struct fake_req *r)
{
    struct cf_json *j = NULL;
    assert_int_equal(cf_json_parse(r->body, r->body_len, &j, NULL, 0), CF_OK);
    return j;
}

static const char *jmember(const struct cf_json *j, const char *k)
{
    const char *s = cf_json_str(cf_json_get(j, k), NULL);
    assert_non_null(s);
    return s;
}

static void expect_error(struct fake_req *r, int status, const char *code)
{
    struct cf_json *j;
    if (r->status != status)
        fail_msg("want %d, got %d: %s", status, r->status, r->body);
    j = json_of(r);
    assert_string_equal(jmember(cf_json_get(j, "error"), "code"), code);
    cf_json_free(j);
    done(r);
}

static struct fake_req *ok(struct fake_req *r, int status)
{
    if (r->status != status)
        fail_msg("want %d, got %d: %s", status, r->status, r->body);
    return r;
}

static void graph_applications(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    struct cf_json *j;
    char path[300], app[37], cid[37], kid[37], secret[64], body[8192], q[200];
    struct cf_buf der, b64;
    struct cf_pkey *key = NULL;
    struct cf_token_request tr;
    struct cf_token_error te;
    struct cf_buf tok;
    int64_t ei;

    /* create */
    r = ok(call_as(f, CF_HTTP_POST, MG, "/v1.0/applications", NULL, f->mgmt_bearer,
                   "{\"displayName\":\"graph-app\"}"),
           201);
    j = json_of(r);
    snprintf(app, sizeof(app), "%s", jmember(j, "id"));
    snprintf(cid, sizeof(cid), "%s", jmember(j, "appId"));
    assert_string_equal(jmember(j, "displayName"), "graph-app");
    assert_int_equal(cf_json_size(cf_json_get(j, "passwordCredentials")), 0);
    assert_non_null(strstr(jmember(j, "@odata.context"), "https://" MG "/v1.0/$metadata#"));
    cf_json_free(j);
    done(r);
    expect_error(call_as(f, CF_HTTP_POST, MG, "/v1.0/applications", NULL, f->mgmt_bearer, "{}"),
                 400, "Request_BadRequest");
    expect_error(call_as(f, CF_HTTP_POST, MG, "/v1.0/applications", NULL, f->mgmt_bearer, "[1"),
                 400, "Request_BadRequest");
    /* no token: 401 as for every management route */
    r = call_as(f, CF_HTTP_GET, MG, "/v1.0/applications", NULL, NULL, NULL);
    assert_int_equal(r->status, 401);
    done(r);

    /* list, with and without $filter; the dev principal is there too */
    r = ok(call_as(f, CF_HTTP_GET, MG, "/v1.0/applications", NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 2);
    cf_json_free(j);
    done(r);
    snprintf(q, sizeof(q), "$filter=appId%%20eq%%20'%s'", cid);
    r = ok(call_as(f, CF_HTTP_GET, MG, "/v1.0/applications", q, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    cf_json_free(j);
    done(r);
    r = ok(call_as(f, CF_HTTP_GET, MG, "/v1.0/applications",
                   "$filter=startswith(displayName,'GRAPH')", f->mgmt_bearer, NULL),
           200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    cf_json_free(j);
    done(r);
    expect_error(call_as(f, CF_HTTP_GET, MG, "/v1.0/applications", "$filter=secret%20eq%20'x'",
                         f->mgmt_bearer, NULL),
                 400, "Request_UnsupportedQuery");

    /* get by object id and by the keyed appId form */
    snprintf(path, sizeof(path), "/v1.0/applications/%s", app);
    done(ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));
    snprintf(path, sizeof(path), "/v1.0/applications(appId='%s')", cid);
    r = ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_string_equal(jmember(j, "id"), app);
    cf_json_free(j);
    done(r);
    expect_error(call_as(f, CF_HTTP_GET, MG,
                         "/v1.0/applications/00000000-0000-4000-8000-000000000000", NULL,
                         f->mgmt_bearer, NULL),
                 404, "Request_ResourceNotFound");

    /* addPassword: the secret once, then a token with it */
    snprintf(path, sizeof(path), "/v1.0/applications/%s/addPassword", app);
    r = ok(call_as(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer,
                   "{\"passwordCredential\":{\"displayName\":\"ci\",\"endDateTime\":"
                   "\"2099-01-01T00:00:00.0000000+00:00\"}}"),
           200);
    j = json_of(r);
    snprintf(secret, sizeof(secret), "%s", jmember(j, "secretText"));
    snprintf(kid, sizeof(kid), "%s", jmember(j, "keyId"));
    assert_int_equal(strlen(secret), 40);
    assert_string_equal(jmember(j, "endDateTime"), "2099-01-01T00:00:00Z");
    cf_json_free(j);
    done(r);
    expect_error(call_as(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer,
                         "{\"passwordCredential\":{\"endDateTime\":\"yesterday\"}}"),
                 400, "Request_BadRequest");
    memset(&tr, 0, sizeof(tr));
    tr.tenant = cf_str_from(f->tenant);
    tr.grant_type = CF_STR("client_credentials");
    tr.client_id = cf_str_from(cid);
    tr.client_secret = cf_str_from(secret);
    tr.scope = CF_STR("https://" SUFFIX PORT "/.default");
    cf_buf_init(&tok, 8192);
    assert_int_equal(cf_auth_issue_token(f->auth, &tr, &tok, &ei, &te), CF_OK);
    /* the listing never shows a secret */
    snprintf(path, sizeof(path), "/v1.0/applications/%s", app);
    r = ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    assert_null(strstr(r->body, secret));
    assert_non_null(strstr(r->body, kid));
    done(r);

    /* PATCH displayName + keyCredentials */
    cf_buf_init(&der, 1 << 16);
    cf_buf_init(&b64, 1 << 17);
    assert_int_equal(cf_x509_cred_self_signed(false, "graph", 5, &der, &key), CF_OK);
    assert_int_equal(cf_b64_encode(&b64, der.data, der.len), CF_OK);
    snprintf(body, sizeof(body),
             "{\"displayName\":\"renamed\",\"keyCredentials\":[{\"type\":\"AsymmetricX509Cert\","
             "\"usage\":\"Verify\",\"key\":\"%s\",\"displayName\":\"c1\"}]}", b64.data);
    done(ok(call_as(f, CF_HTTP_PATCH, MG, path, NULL, f->mgmt_bearer, body), 204));
    r = ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_string_equal(jmember(j, "displayName"), "renamed");
    assert_int_equal(cf_json_size(cf_json_get(j, "keyCredentials")), 1);
    assert_string_equal(jmember(cf_json_at(cf_json_get(j, "keyCredentials"), 0), "type"),
                        "AsymmetricX509Cert");
    assert_int_equal(
        strlen(jmember(cf_json_at(cf_json_get(j, "keyCredentials"), 0), "customKeyIdentifier")),
        40);
    cf_json_free(j);
    done(r);
    expect_error(
        call_as(f, CF_HTTP_PATCH, MG, path, NULL, f->mgmt_bearer,
                "{\"keyCredentials\":[{\"type\":\"AsymmetricX509Cert\",\"key\":\"AAAA\"}]}"),
        400, "Request_BadRequest");
    cf_pkey_free(key);
    cf_buf_release(&der);
    cf_buf_release(&b64);

    /* removePassword: 204, then the secret no longer works; unknown keyId 400 */
    snprintf(path, sizeof(path), "/v1.0/applications/%s/removePassword", app);
    snprintf(body, sizeof(body), "{\"keyId\":\"%s\"}", kid);
    done(ok(call_as(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 204));
    expect_error(call_as(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 400,
                 "Request_BadRequest");
    cf_buf_reset(&tok);
    assert_int_equal(cf_auth_issue_token(f->auth, &tr, &tok, &ei, &te), CF_EBADCLIENT);
    cf_buf_release(&tok);

    /* delete through the keyed form */
    snprintf(path, sizeof(path), "/v1.0/applications(appId='%s')", cid);
    done(ok(call_as(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 204));
    expect_error(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 404,
                 "Request_ResourceNotFound");
    expect_error(call_as(f, CF_HTTP_GET, MG, "/v1.0/somethingElse", NULL, f->mgmt_bearer, NULL),
                 400, "Request_BadRequest");
}

static void graph_sps_and_groups(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    struct cf_json *j;
    char path[300], sp[37], grp[37], body[400], q[200];

    snprintf(q, sizeof(q), "$filter=appId%%20eq%%20'%s'", f->client_id);
    r = ok(call_as(f, CF_HTTP_GET, MG, "/v1.0/servicePrincipals", q, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    snprintf(sp, sizeof(sp), "%s", jmember(cf_json_at(cf_json_get(j, "value"), 0), "id"));
    assert_string_equal(jmember(cf_json_at(cf_json_get(j, "value"), 0), "servicePrincipalType"),
                        "Application");
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/servicePrincipals/%s", sp);
    done(ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));
    snprintf(path, sizeof(path), "/v1.0/servicePrincipals(appId='%s')", f->client_id);
    done(ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));

    r = ok(call_as(f, CF_HTTP_POST, MG, "/v1.0/groups", NULL, f->mgmt_bearer,
                   "{\"displayName\":\"ops\",\"mailNickname\":\"ops\",\"securityEnabled\":true}"),
           201);
    j = json_of(r);
    snprintf(grp, sizeof(grp), "%s", jmember(j, "id"));
    cf_json_free(j);
    done(r);
    expect_error(call_as(f, CF_HTTP_POST, MG, "/v1.0/groups", NULL, f->mgmt_bearer,
                         "{\"displayName\":\"m\",\"securityEnabled\":false}"),
                 400, "Request_BadRequest");
    r = ok(call_as(f, CF_HTTP_GET, MG, "/v1.0/groups", "$filter=displayName%20eq%20'OPS'",
                   f->mgmt_bearer, NULL),
           200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/groups/%s", grp);
    done(ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));

    snprintf(path, sizeof(path), "/v1.0/groups/%s/members/$ref", grp);
    snprintf(body, sizeof(body),
             "{\"@odata.id\":\"https://" MG "/v1.0/directoryObjects/%s\"}", sp);
    done(ok(call_as(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 204));
    expect_error(call_as(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 400,
                 "Request_BadRequest");
    expect_error(call_as(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer,
                         "{\"@odata.id\":\"https://x/v1.0/directoryObjects/"
                         "00000000-0000-4000-8000-000000000000\"}"),
                 404, "Request_ResourceNotFound");
    snprintf(path, sizeof(path), "/v1.0/groups/%s/members", grp);
    r = ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    assert_string_equal(jmember(cf_json_at(cf_json_get(j, "value"), 0), "@odata.type"),
                        "#microsoft.graph.servicePrincipal");
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/servicePrincipals/%s/memberOf", sp);
    r = ok(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    assert_string_equal(jmember(cf_json_at(cf_json_get(j, "value"), 0), "id"), grp);
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/groups/%s/members/%s/$ref", grp, sp);
    done(ok(call_as(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 204));
    expect_error(call_as(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 404,
                 "Request_ResourceNotFound");
    snprintf(path, sizeof(path), "/v1.0/groups/%s", grp);
    done(ok(call_as(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 204));
    expect_error(call_as(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 404,
                 "Request_ResourceNotFound");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(graph_applications, setup, teardown),
        cmocka_unit_test_setup_teardown(graph_sps_and_groups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

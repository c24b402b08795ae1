/* test_graph.c - the Graph v1.0 directory routes (h_graph.c) through cf_api_handle with the
 * real route table, dispatch, auth and a SQLite store; only the HTTP layer is faked (as in
 * test_dispatch.c). Every route: applications (create, list with $filter, get by id and by
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

#define SUFFIX "vault.localhost"
#define PORT ":8443"

/* ---------------- the fake HTTP layer ---------------- */

struct fake_req {
    struct cf_http_req req;
    const char *hdr_names[8];
    const char *hdr_values[8];
    size_t nhdr;
    /* the response */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool answered;
    int answers;
    int status;
    char body[1 << 20];
    size_t body_len;
    char headers[4096];
};

const char *cf_http_header(const struct cf_http_req *req, const char *name)
{
    const struct fake_req *f = (const struct fake_req *)(const void *)req;
    for (size_t i = 0; i < f->nhdr; i++)
        if (strcasecmp(f->hdr_names[i], name) == 0)
            return f->hdr_values[i];
    return NULL;
}

void cf_http_respond(struct cf_http_req *req, int status, const struct cf_http_hdr *hdrs,
                     size_t nhdrs, const char *body, size_t len)
{
    struct fake_req *f = (struct fake_req *)(void *)req;
    size_t off = 0;

    pthread_mutex_lock(&f->mu);
    f->answers++;
    f->status = status;
    f->body_len = CF_MIN(len, sizeof(f->body) - 1);
    if (body && len)
        memcpy(f->body, body, f->body_len);
    f->body[f->body_len] = '\0';
    for (size_t i = 0; i < nhdrs; i++) {
        int n = snprintf(f->headers + off, sizeof(f->headers) - off, "%s: %s\n", hdrs[i].name,
                         hdrs[i].value);
        if (n > 0 && (size_t)n < sizeof(f->headers) - off)
            off += (size_t)n;
    }
    f->answered = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* ---------------- fixture ---------------- */

struct fx {
    char dir[64];
    struct cf_clock clock;
    unsigned char master[32];
    struct cf_store *store;
    struct cf_auth *auth;
    struct cf_vault_svc *vault;
    struct cf_api *api;
    struct cf_rbac *rbac;
    char tenant[37], sub[37], client_id[64], secret[128], oid[37];
    char bearer[2048];      /* "Bearer <token for the vault audience>" */
    char mgmt_bearer[2048]; /* for the management audience */
};

static void mint_as(struct fx *f, const char *client_id, const char *secret, const char *scope,
                    char *out, size_t outlen)
{
    struct cf_token_request tr = {
        .tenant = cf_str_from(f->tenant),
        .grant_type = CF_STR("client_credentials"),
        .client_id = cf_str_from(client_id),
        .client_secret = cf_str_from(secret),
        .scope = cf_str_from(scope),
    };
    struct cf_buf tok;
    struct cf_token_error te;
    int64_t exp_in;

    cf_buf_init(&tok, 8192);
    assert_int_equal(cf_auth_issue_token(f->auth, &tr, &tok, &exp_in, &te), CF_OK);
    snprintf(out, outlen, "Bearer %s", tok.data);
    cf_buf_release(&tok);
}

static void mint(struct fx *f, const char *scope, char *out, size_t outlen)
{
    mint_as(f, f->client_id, f->secret, scope, out, outlen);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts so = {0};
    char db[128];
    struct cf_vault in, out;
    bool created;
    cf_err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-dispatch-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(db, sizeof(db), "%s/db", f->dir);
    so.path = db;
    f->store = cf_store_open_sqlite(&so, &e);
    assert_non_null(f->store);
    f->clock = cf_clock_system();
    assert_int_equal(cf_random(f->master, sizeof(f->master)), CF_OK);
    f->auth = cf_auth_new(f->store, &f->clock, f->master,
                          &(struct cf_auth_opts){.issuer = "https://login.localhost:8443"}, &e);
    assert_non_null(f->auth);
    assert_int_equal(cf_uuid4(f->tenant), CF_OK);
    assert_int_equal(cf_uuid4(f->sub), CF_OK);
    assert_int_equal(cf_auth_set_default_tenant(f->auth, f->tenant), CF_OK);
    assert_int_equal(cf_auth_sp_create(f->auth, f->tenant, "t", NULL, f->client_id, f->oid,
                                       f->secret, sizeof(f->secret)),
                     CF_OK);
    f->vault = cf_vault_svc_new(f->store, &f->clock, f->master, &e);
    assert_non_null(f->vault);
    memset(&in, 0, sizeof(in));
    snprintf(in.name, sizeof(in.name), "vone");
    snprintf(in.subscription, sizeof(in.subscription), "%s", f->sub);
    snprintf(in.resource_group, sizeof(in.resource_group), "rg");
    snprintf(in.location, sizeof(in.location), "local");
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", f->tenant);
    snprintf(in.sku, sizeof(in.sku), "standard");
    in.retention_days = 90;
    in.soft_delete = true;
    in.rbac = true;
    assert_int_equal(cf_vault_put(f->vault, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
    f->rbac = cf_rbac_new(f->store, &f->clock, &e);
    assert_non_null(f->rbac);
    /* the test's principal is the server's administrator, as the bootstrap admin is */
    assert_int_equal(cf_rbac_ensure_assignment(f->rbac, "/", CF_ROLE_OWNER, f->oid,
                                               "ServicePrincipal"),
                     CF_OK);
    assert_int_equal(cf_rbac_ensure_assignment(f->rbac, "/", CF_ROLE_KV_ADMINISTRATOR, f->oid,
                                               "ServicePrincipal"),
                     CF_OK);
    f->api = cf_api_new(&(struct cf_api_config){.vault = f->vault,
                                                .auth = f->auth,
                                                .rbac = f->rbac,
                                                .clock = &f->clock,
                                                .dns_suffix = SUFFIX,
                                                .login_host = "login.localhost",
                                                .management_host = "management.localhost",
                                                .subscription_id = f->sub,
                                                .tenant_id = f->tenant,
                                                .pool_threads = 2},
                        &e);
    assert_non_null(f->api);
    mint(f, "https://" SUFFIX PORT "/.default", f->bearer, sizeof(f->bearer));
    mint(f, "https://management.localhost" PORT "/.default", f->mgmt_bearer,
         sizeof(f->mgmt_bearer));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cf_api_free(f->api);
    cf_rbac_free(f->rbac);
    cf_vault_svc_free(f->vault);
    cf_auth_free(f->auth);
    cf_store_close(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Sends one request and waits for its one answer (set is answered from another thread). */
static struct fake_req *call(struct fx *f, enum cf_http_method m, const char *host,
                             const char *path, const char *query, const char *auth,
                             const char *body)
{
    struct fake_req *r = calloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->req.method = m;
    r->req.path = cf_str_from(path);
    r->req.query = cf_str_from(query ? query : "");
    r->req.host = cf_str_from(host);
    r->req.body = cf_str_from(body ? body : "");
    snprintf(r->req.peer_ip, sizeof(r->req.peer_ip), "127.0.0.1");
    if (auth) {
        r->hdr_names[r->nhdr] = "Authorization";
        r->hdr_values[r->nhdr++] = auth;
    }
    r->hdr_names[r->nhdr] = "x-ms-client-request-id";
    r->hdr_values[r->nhdr++] = "11111111-2222-3333-4444-555555555555";
    cf_api_handle(&r->req, f->api);
    pthread_mutex_lock(&r->mu);
    while (!r->answered)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    usleep(1000); /* a second answer would arrive now: checked by the caller */
    assert_int_equal(r->answers, 1);
    return r;
}

static void done(struct fake_req *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}


#define MG "management.localhost" PORT

static struct cf_json *json_of(struct fake_req *r)
{
    struct cf_json *j = NULL;
    assert_int_equal(cf_json_parse(r->body, r->body_len, &j, NULL, 0), CF_OK);
    return j;
}

static const char *jstr(const struct cf_json *j, const char *k)
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
    assert_string_equal(jstr(cf_json_get(j, "error"), "code"), code);
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
    r = ok(call(f, CF_HTTP_POST, MG, "/v1.0/applications", NULL, f->mgmt_bearer,
                "{\"displayName\":\"graph-app\"}"), 201);
    j = json_of(r);
    snprintf(app, sizeof(app), "%s", jstr(j, "id"));
    snprintf(cid, sizeof(cid), "%s", jstr(j, "appId"));
    assert_string_equal(jstr(j, "displayName"), "graph-app");
    assert_int_equal(cf_json_size(cf_json_get(j, "passwordCredentials")), 0);
    assert_non_null(strstr(jstr(j, "@odata.context"), "https://" MG "/v1.0/$metadata#"));
    cf_json_free(j);
    done(r);
    expect_error(call(f, CF_HTTP_POST, MG, "/v1.0/applications", NULL, f->mgmt_bearer, "{}"),
                 400, "Request_BadRequest");
    expect_error(call(f, CF_HTTP_POST, MG, "/v1.0/applications", NULL, f->mgmt_bearer, "[1"),
                 400, "Request_BadRequest");
    /* no token: 401 as for every management route */
    r = call(f, CF_HTTP_GET, MG, "/v1.0/applications", NULL, NULL, NULL);
    assert_int_equal(r->status, 401);
    done(r);

    /* list, with and without $filter; the dev principal is there too */
    r = ok(call(f, CF_HTTP_GET, MG, "/v1.0/applications", NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 2);
    cf_json_free(j);
    done(r);
    snprintf(q, sizeof(q), "$filter=appId%%20eq%%20'%s'", cid);
    r = ok(call(f, CF_HTTP_GET, MG, "/v1.0/applications", q, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    cf_json_free(j);
    done(r);
    r = ok(call(f, CF_HTTP_GET, MG, "/v1.0/applications",
                "$filter=startswith(displayName,'GRAPH')", f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    cf_json_free(j);
    done(r);
    expect_error(call(f, CF_HTTP_GET, MG, "/v1.0/applications", "$filter=secret%20eq%20'x'",
                      f->mgmt_bearer, NULL),
                 400, "Request_UnsupportedQuery");

    /* get by object id and by the keyed appId form */
    snprintf(path, sizeof(path), "/v1.0/applications/%s", app);
    done(ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));
    snprintf(path, sizeof(path), "/v1.0/applications(appId='%s')", cid);
    r = ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_string_equal(jstr(j, "id"), app);
    cf_json_free(j);
    done(r);
    expect_error(call(f, CF_HTTP_GET, MG, "/v1.0/applications/00000000-0000-4000-8000-000000000000",
                      NULL, f->mgmt_bearer, NULL),
                 404, "Request_ResourceNotFound");

    /* addPassword: the secret once, then a token with it */
    snprintf(path, sizeof(path), "/v1.0/applications/%s/addPassword", app);
    r = ok(call(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer,
                "{\"passwordCredential\":{\"displayName\":\"ci\",\"endDateTime\":"
                "\"2099-01-01T00:00:00.0000000+00:00\"}}"), 200);
    j = json_of(r);
    snprintf(secret, sizeof(secret), "%s", jstr(j, "secretText"));
    snprintf(kid, sizeof(kid), "%s", jstr(j, "keyId"));
    assert_int_equal(strlen(secret), 40);
    assert_string_equal(jstr(j, "endDateTime"), "2099-01-01T00:00:00Z");
    cf_json_free(j);
    done(r);
    expect_error(call(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer,
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
    r = ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
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
    done(ok(call(f, CF_HTTP_PATCH, MG, path, NULL, f->mgmt_bearer, body), 204));
    r = ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_string_equal(jstr(j, "displayName"), "renamed");
    assert_int_equal(cf_json_size(cf_json_get(j, "keyCredentials")), 1);
    assert_string_equal(jstr(cf_json_at(cf_json_get(j, "keyCredentials"), 0), "type"),
                        "AsymmetricX509Cert");
    assert_int_equal(strlen(jstr(cf_json_at(cf_json_get(j, "keyCredentials"), 0),
                                 "customKeyIdentifier")), 40);
    cf_json_free(j);
    done(r);
    expect_error(call(f, CF_HTTP_PATCH, MG, path, NULL, f->mgmt_bearer,
                      "{\"keyCredentials\":[{\"type\":\"AsymmetricX509Cert\",\"key\":\"AAAA\"}]}"),
                 400, "Request_BadRequest");
    cf_pkey_free(key);
    cf_buf_release(&der);
    cf_buf_release(&b64);

    /* removePassword: 204, then the secret no longer works; unknown keyId 400 */
    snprintf(path, sizeof(path), "/v1.0/applications/%s/removePassword", app);
    snprintf(body, sizeof(body), "{\"keyId\":\"%s\"}", kid);
    done(ok(call(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 204));
    expect_error(call(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 400,
                 "Request_BadRequest");
    cf_buf_reset(&tok);
    assert_int_equal(cf_auth_issue_token(f->auth, &tr, &tok, &ei, &te), CF_EBADCLIENT);
    cf_buf_release(&tok);

    /* delete through the keyed form */
    snprintf(path, sizeof(path), "/v1.0/applications(appId='%s')", cid);
    done(ok(call(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 204));
    expect_error(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 404,
                 "Request_ResourceNotFound");
    expect_error(call(f, CF_HTTP_GET, MG, "/v1.0/somethingElse", NULL, f->mgmt_bearer, NULL),
                 400, "Request_BadRequest");
}

static void graph_sps_and_groups(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    struct cf_json *j;
    char path[300], sp[37], grp[37], body[400], q[200];

    snprintf(q, sizeof(q), "$filter=appId%%20eq%%20'%s'", f->client_id);
    r = ok(call(f, CF_HTTP_GET, MG, "/v1.0/servicePrincipals", q, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    snprintf(sp, sizeof(sp), "%s", jstr(cf_json_at(cf_json_get(j, "value"), 0), "id"));
    assert_string_equal(jstr(cf_json_at(cf_json_get(j, "value"), 0), "servicePrincipalType"),
                        "Application");
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/servicePrincipals/%s", sp);
    done(ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));
    snprintf(path, sizeof(path), "/v1.0/servicePrincipals(appId='%s')", f->client_id);
    done(ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));

    r = ok(call(f, CF_HTTP_POST, MG, "/v1.0/groups", NULL, f->mgmt_bearer,
                "{\"displayName\":\"ops\",\"mailNickname\":\"ops\",\"securityEnabled\":true}"),
           201);
    j = json_of(r);
    snprintf(grp, sizeof(grp), "%s", jstr(j, "id"));
    cf_json_free(j);
    done(r);
    expect_error(call(f, CF_HTTP_POST, MG, "/v1.0/groups", NULL, f->mgmt_bearer,
                      "{\"displayName\":\"m\",\"securityEnabled\":false}"),
                 400, "Request_BadRequest");
    r = ok(call(f, CF_HTTP_GET, MG, "/v1.0/groups", "$filter=displayName%20eq%20'OPS'",
                f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/groups/%s", grp);
    done(ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200));

    snprintf(path, sizeof(path), "/v1.0/groups/%s/members/$ref", grp);
    snprintf(body, sizeof(body),
             "{\"@odata.id\":\"https://" MG "/v1.0/directoryObjects/%s\"}", sp);
    done(ok(call(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 204));
    expect_error(call(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer, body), 400,
                 "Request_BadRequest");
    expect_error(call(f, CF_HTTP_POST, MG, path, NULL, f->mgmt_bearer,
                      "{\"@odata.id\":\"https://x/v1.0/directoryObjects/"
                      "00000000-0000-4000-8000-000000000000\"}"),
                 404, "Request_ResourceNotFound");
    snprintf(path, sizeof(path), "/v1.0/groups/%s/members", grp);
    r = ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    assert_string_equal(jstr(cf_json_at(cf_json_get(j, "value"), 0), "@odata.type"),
                        "#microsoft.graph.servicePrincipal");
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/servicePrincipals/%s/memberOf", sp);
    r = ok(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 200);
    j = json_of(r);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 1);
    assert_string_equal(jstr(cf_json_at(cf_json_get(j, "value"), 0), "id"), grp);
    cf_json_free(j);
    done(r);
    snprintf(path, sizeof(path), "/v1.0/groups/%s/members/%s/$ref", grp, sp);
    done(ok(call(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 204));
    expect_error(call(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 404,
                 "Request_ResourceNotFound");
    snprintf(path, sizeof(path), "/v1.0/groups/%s", grp);
    done(ok(call(f, CF_HTTP_DELETE, MG, path, NULL, f->mgmt_bearer, NULL), 204));
    expect_error(call(f, CF_HTTP_GET, MG, path, NULL, f->mgmt_bearer, NULL), 404,
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

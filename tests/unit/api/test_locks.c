/* test_locks.c - management locks and incremental access policies through the API's public
 * entry, cf_api_handle, with the real route table, dispatch authorization, handlers, vault,
 * auth and a SQLite store in a temp dir (the fake HTTP layer is test_dispatch.c's).
 *
 * Covers: lock PUT (201/200, canonical names in ids) / GET / DELETE (200 then 204) at a group,
 * a vault and the subscription; list with and without $filter=atScope(); bad names, levels,
 * scopes and missing resources; ScopeLocked on vault PATCH / DELETE / accessPolicies and
 * group DELETE while the data plane stays writable; locks/write refused to a Contributor
 * (403); accessPolicies/add and /remove changing what a principal may do on the data plane. */
#include "base/cf.h"
#include "api/api.h"
#include "auth/auth.h"
#include "auth/rbac.h"
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
#define MGMT "management.localhost" PORT

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

/* error.code of a JSON error body, "" when there is none. */
static void error_code(const struct fake_req *r, char *out, size_t n)
{
    struct cf_json *j = NULL;
    const char *c;
    out[0] = '\0';
    if (cf_json_parse(r->body, r->body_len, &j, NULL, 0) != CF_OK)
        return;
    c = cf_json_str(cf_json_get(cf_json_get(j, "error"), "code"), NULL);
    snprintf(out, n, "%s", c ? c : "");
    cf_json_free(j);
}

static void expect(struct fake_req *r, int status, const char *code)
{
    char got[64];
    error_code(r, got, sizeof(got));
    if (r->status != status || (code && strcmp(got, code) != 0))
        fail_msg("expected %d %s, got %d %s: %s", status, code ? code : "", r->status, got,
                 r->body);
    done(r);
}

/* ---------------- helpers ---------------- */

#define API20 "api-version=2020-05-01"
#define KVAPI "api-version=2023-07-01"

/* The path fmt (a literal with the subscription's %s, then the tail's) in a shared buffer:
 * one request at a time uses it. */
static char path_buf[1024];
#define path_of(f, fmt, tail) (snprintf(path_buf, sizeof(path_buf), fmt, (f)->sub, tail), path_buf)

#define RG_PATH "/subscriptions/%s/resourceGroups/rg%s"
#define VONE_PATH "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone%s"
#define LOCKS "/providers/Microsoft.Authorization/locks"

static struct fake_req *mgmt(struct fx *f, enum cf_http_method m, const char *path,
                             const char *query, const char *body)
{
    return call(f, m, MGMT, path, query, f->mgmt_bearer, body);
}

/* A JSON value of the last body by a dotted path of object keys ("properties.level"). */
static void body_str(const struct fake_req *r, const char *k1, const char *k2, char *out, size_t n)
{
    struct cf_json *j = NULL;
    const struct cf_json *v;
    out[0] = '\0';
    if (cf_json_parse(r->body, r->body_len, &j, NULL, 0) != CF_OK)
        return;
    v = cf_json_get(j, k1);
    if (k2)
        v = cf_json_get(v, k2);
    snprintf(out, n, "%s", cf_json_str(v, NULL) ? cf_json_str(v, NULL) : "");
    cf_json_free(j);
}

static size_t list_len(const struct fake_req *r)
{
    struct cf_json *j = NULL;
    size_t n;
    assert_int_equal(cf_json_parse(r->body, r->body_len, &j, NULL, 0), CF_OK);
    n = cf_json_size(cf_json_get(j, "value"));
    cf_json_free(j);
    return n;
}

/* ---------------- tests ---------------- */

static void lock_crud(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char got[512], want[512];

    /* PUT at the group, under another spelling of it: ids carry the names as created */
    r = mgmt(f, CF_HTTP_PUT, path_of(f, "/subscriptions/%s/resourcegroups/RG%s", LOCKS "/NoDel"),
             API20, "{\"properties\":{\"level\":\"canNotDelete\",\"notes\":\"keep\"}}");
    body_str(r, "id", NULL, got, sizeof(got));
    snprintf(want, sizeof(want),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Authorization/locks/NoDel",
             f->sub);
    assert_string_equal(got, want);
    body_str(r, "properties", "level", got, sizeof(got));
    assert_string_equal(got, "CanNotDelete");
    body_str(r, "properties", "notes", got, sizeof(got));
    assert_string_equal(got, "keep");
    body_str(r, "type", NULL, got, sizeof(got));
    assert_string_equal(got, "Microsoft.Authorization/locks");
    expect(r, 201, NULL);
    /* update: 200, name as first created */
    r = mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/nodel"), API20,
             "{\"properties\":{\"level\":\"ReadOnly\",\"owners\":[{\"applicationId\":\"x\"}]}}");
    body_str(r, "name", NULL, got, sizeof(got));
    assert_string_equal(got, "NoDel");
    assert_non_null(strstr(r->body, "\"owners\":[{\"applicationId\":\"x\"}]"));
    assert_null(strstr(r->body, "notes"));
    expect(r, 200, NULL);
    r = mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS "/NODEL"), API20, NULL);
    body_str(r, "properties", "level", got, sizeof(got));
    assert_string_equal(got, "ReadOnly");
    expect(r, 200, NULL);

    /* a vault lock and a subscription lock */
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, VONE_PATH, LOCKS "/v"), API20,
                "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
           201, NULL);
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, "/subscriptions/%s%s", LOCKS "/s"), "api-version=2016-09-01",
                "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
           201, NULL);
    /* lists: at the vault, all three apply; at the group with atScope() only two; the
     * subscription without a filter sees everything below it */
    r = mgmt(f, CF_HTTP_GET, path_of(f, VONE_PATH, LOCKS), API20, NULL);
    assert_int_equal(list_len(r), 3);
    snprintf(want, sizeof(want),
             "\"id\":\"/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/"
             "vone/providers/Microsoft.Authorization/locks/v\"",
             f->sub);
    assert_non_null(strstr(r->body, want));
    expect(r, 200, NULL);
    r = mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS), API20 "&$filter=atScope()", NULL);
    assert_int_equal(list_len(r), 2);
    expect(r, 200, NULL);
    r = mgmt(f, CF_HTTP_GET, path_of(f, "/subscriptions/%s%s", LOCKS), API20, NULL);
    assert_int_equal(list_len(r), 3);
    expect(r, 200, NULL);
    expect(mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS), API20 "&$filter=name eq 'x'", NULL),
           400, "InvalidFilterInQueryString");

    /* bad input */
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/x"), API20,
                "{\"properties\":{\"level\":\"NotSpecified\"}}"),
           400, "LockLevelInvalid");
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/x"), API20, "{\"properties\":{}}"),
           400, "InvalidRequestContent");
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/a%3Ab"), API20,
                "{\"properties\":{\"level\":\"ReadOnly\"}}"),
           400, "LockNameInvalid");
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, "/subscriptions/%s/resourceGroups/nope%s", LOCKS "/x"),
                API20, "{\"properties\":{\"level\":\"ReadOnly\"}}"),
           404, "ResourceGroupNotFound");
    expect(mgmt(f, CF_HTTP_PUT,
                path_of(f, "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/"
                           "vaults/vtwo%s",
                        LOCKS "/x"),
                API20, "{\"properties\":{\"level\":\"ReadOnly\"}}"),
           404, "ResourceNotFound");
    expect(mgmt(f, CF_HTTP_PUT, LOCKS "/x", API20, "{\"properties\":{\"level\":\"ReadOnly\"}}"),
           400, "InvalidScope");
    expect(mgmt(f, CF_HTTP_PUT,
                "/subscriptions/00000000-0000-0000-0000-000000000000" LOCKS "/x", API20,
                "{\"properties\":{\"level\":\"ReadOnly\"}}"),
           404, "SubscriptionNotFound");
    expect(mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS "/missing"), API20, NULL), 404,
           "LockNotFound");

    /* delete: 200, then 204 */
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, LOCKS "/nodel"), API20, NULL), 200, NULL);
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, LOCKS "/nodel"), API20, NULL), 204, NULL);
    expect(mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS "/NoDel"), API20, NULL), 404,
           "LockNotFound");
}

static void lock_enforced(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char want[600];

    expect(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/ro"), API20,
                "{\"properties\":{\"level\":\"ReadOnly\"}}"),
           201, NULL);
    r = mgmt(f, CF_HTTP_PATCH, path_of(f, VONE_PATH, ""), KVAPI, "{\"tags\":{\"a\":\"b\"}}");
    snprintf(want, sizeof(want),
             "The scope '/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/"
             "vone' cannot perform write operation because following scope(s) are locked: "
             "'/subscriptions/%s/resourceGroups/rg'. Please remove the lock and try again.",
             f->sub, f->sub);
    assert_non_null(strstr(r->body, want));
    expect(r, 409, "ScopeLocked");
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, VONE_PATH, "/accessPolicies/add"), KVAPI,
                "{\"properties\":{\"accessPolicies\":[]}}"),
           409, "ScopeLocked");
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, ""), KVAPI, NULL), 409, "ScopeLocked");
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, ""), KVAPI, NULL), 409, "ScopeLocked");
    /* the data plane is not frozen */
    expect(call(f, CF_HTTP_PUT, "vone." SUFFIX PORT, "/secrets/s1", "api-version=7.5", f->bearer,
                "{\"value\":\"v\"}"),
           200, NULL);
    expect(mgmt(f, CF_HTTP_GET, path_of(f, VONE_PATH, ""), KVAPI, NULL), 200, NULL);

    /* CanNotDelete on the vault instead: updates pass, deletion still refused */
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, LOCKS "/ro"), API20, NULL), 200, NULL);
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, VONE_PATH, LOCKS "/cnd"), API20,
                "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
           201, NULL);
    expect(mgmt(f, CF_HTTP_PATCH, path_of(f, VONE_PATH, ""), KVAPI, "{\"tags\":{\"a\":\"b\"}}"),
           200, NULL);
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, ""), KVAPI, NULL), 409, "ScopeLocked");
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, ""), KVAPI, NULL), 409, "ScopeLocked");
    /* gone with the lock */
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, LOCKS "/cnd"), API20, NULL), 200, NULL);
    expect(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, ""), KVAPI, NULL), 200, NULL);
}

static void lock_needs_authorization(void **state)
{
    struct fx *f = *state;
    char cid[64], oid[37], secret[128], bearer[2048];

    assert_int_equal(cf_auth_sp_create(f->auth, f->tenant, "contrib", NULL, cid, oid, secret,
                                       sizeof(secret)),
                     CF_OK);
    assert_int_equal(cf_rbac_ensure_assignment(f->rbac, "/", CF_ROLE_CONTRIBUTOR, oid,
                                               "ServicePrincipal"),
                     CF_OK);
    mint_as(f, cid, secret, "https://management.localhost" PORT "/.default", bearer,
            sizeof(bearer));
    /* Contributor: NotActions Microsoft.Authorization/ * /Write and Delete */
    expect(call(f, CF_HTTP_PUT, MGMT, path_of(f, RG_PATH, LOCKS "/x"), API20, bearer,
                "{\"properties\":{\"level\":\"ReadOnly\"}}"),
           403, "AuthorizationFailed");
    expect(call(f, CF_HTTP_GET, MGMT, path_of(f, RG_PATH, LOCKS), API20, bearer, NULL), 200,
           NULL);
    expect(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/x"), API20,
                "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
           201, NULL);
    expect(call(f, CF_HTTP_DELETE, MGMT, path_of(f, RG_PATH, LOCKS "/x"), API20, bearer, NULL),
           403, "AuthorizationFailed");
    /* the Contributor may update the vault, not delete it while it is locked */
    expect(call(f, CF_HTTP_DELETE, MGMT, path_of(f, VONE_PATH, ""), KVAPI, bearer, NULL), 409,
           "ScopeLocked");
}

static void policies_incremental(void **state)
{
    struct fx *f = *state;
    char cid[64], oid[37], secret[128], bearer[2048], body[1024], path[512];

    assert_int_equal(cf_auth_sp_create(f->auth, f->tenant, "reader", NULL, cid, oid, secret,
                                       sizeof(secret)),
                     CF_OK);
    mint_as(f, cid, secret, "https://" SUFFIX PORT "/.default", bearer, sizeof(bearer));
    /* an access-policy vault where the admin may do everything */
    snprintf(body, sizeof(body),
             "{\"location\":\"local\",\"properties\":{\"tenantId\":\"%s\",\"sku\":{\"family\":"
             "\"A\",\"name\":\"standard\"},\"enableRbacAuthorization\":false,\"accessPolicies\":"
             "[{\"tenantId\":\"%s\",\"objectId\":\"%s\",\"permissions\":{\"secrets\":[\"all\"]}}]}}",
             f->tenant, f->tenant, f->oid);
    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vpol",
             f->sub);
    expect(mgmt(f, CF_HTTP_PUT, path, KVAPI, body), 201, NULL);
    expect(call(f, CF_HTTP_PUT, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", f->bearer,
                "{\"value\":\"v\"}"),
           200, NULL);
    expect(call(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", bearer,
                NULL),
           403, "Forbidden");

    /* add get for the second principal: it reads, it cannot set */
    snprintf(body, sizeof(body),
             "{\"properties\":{\"accessPolicies\":[{\"tenantId\":\"%s\",\"objectId\":\"%s\","
             "\"permissions\":{\"secrets\":[\"Get\"]}}]}}",
             f->tenant, oid);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/accessPolicies/add");
    {
        struct fake_req *r = mgmt(f, CF_HTTP_PUT, path, KVAPI, body);
        assert_non_null(strstr(r->body, "\"secrets\":[\"get\"]"));
        assert_non_null(strstr(r->body, "\"secrets\":[\"all\"]"));
        expect(r, 200, NULL);
    }
    expect(call(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", bearer,
                NULL),
           200, NULL);
    expect(call(f, CF_HTTP_PUT, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", bearer,
                "{\"value\":\"w\"}"),
           403, "Forbidden");
    /* remove it again */
    snprintf(path + strlen(path) - 3, 8, "remove");
    expect(mgmt(f, CF_HTTP_PUT, path, KVAPI, body), 200, NULL);
    expect(call(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", bearer,
                NULL),
           403, "Forbidden");
    /* an old api-version has no such operation */
    expect(mgmt(f, CF_HTTP_PUT, path, "api-version=2018-02-14", body), 400,
           "InvalidApiVersionParameter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lock_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(lock_enforced, setup, teardown),
        cmocka_unit_test_setup_teardown(lock_needs_authorization, setup, teardown),
        cmocka_unit_test_setup_teardown(policies_incremental, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_locks.c - management locks and incremental access policies through the API's public
 * entry, cf_api_handle, with the real route table, dispatch authorization, handlers, vault,
 * auth and a SQLite store in a temp dir (the fake HTTP layer is fake_http.h).
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

#include "fake_http.h"

#define MGMT "management.localhost" PORT

static int setup(void **state)
{
    return fx_setup(state, &(struct fx_opts){.tag = "locks", .vaults = {"vone"}});
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
    return call_as(f, m, MGMT, path, query, f->mgmt_bearer, body);
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
    expect_code(r, 201, NULL);
    /* update: 200, name as first created */
    r = mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/nodel"), API20,
             "{\"properties\":{\"level\":\"ReadOnly\",\"owners\":[{\"applicationId\":\"x\"}]}}");
    body_str(r, "name", NULL, got, sizeof(got));
    assert_string_equal(got, "NoDel");
    assert_non_null(strstr(r->body, "\"owners\":[{\"applicationId\":\"x\"}]"));
    assert_null(strstr(r->body, "notes"));
    expect_code(r, 200, NULL);
    r = mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS "/NODEL"), API20, NULL);
    body_str(r, "properties", "level", got, sizeof(got));
    assert_string_equal(got, "ReadOnly");
    expect_code(r, 200, NULL);

    /* a vault lock and a subscription lock */
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, VONE_PATH, LOCKS "/v"), API20,
                     "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
                201, NULL);
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, "/subscriptions/%s%s", LOCKS "/s"),
                     "api-version=2016-09-01", "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
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
    expect_code(r, 200, NULL);
    r = mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS), API20 "&$filter=atScope()", NULL);
    assert_int_equal(list_len(r), 2);
    expect_code(r, 200, NULL);
    r = mgmt(f, CF_HTTP_GET, path_of(f, "/subscriptions/%s%s", LOCKS), API20, NULL);
    assert_int_equal(list_len(r), 3);
    expect_code(r, 200, NULL);
    expect_code(
        mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS), API20 "&$filter=name eq 'x'", NULL), 400,
        "InvalidFilterInQueryString");

    /* bad input */
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/x"), API20,
                     "{\"properties\":{\"level\":\"NotSpecified\"}}"),
                400, "LockLevelInvalid");
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/x"), API20, "{\"properties\":{}}"),
                400, "InvalidRequestContent");
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/a%3Ab"), API20,
                     "{\"properties\":{\"level\":\"ReadOnly\"}}"),
                400, "LockNameInvalid");
    expect_code(mgmt(f, CF_HTTP_PUT,
                     path_of(f, "/subscriptions/%s/resourceGroups/nope%s", LOCKS "/x"), API20,
                     "{\"properties\":{\"level\":\"ReadOnly\"}}"),
                404, "ResourceGroupNotFound");
    expect_code(mgmt(f, CF_HTTP_PUT,
                     path_of(f,
                             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/"
                             "vaults/vtwo%s",
                             LOCKS "/x"),
                     API20, "{\"properties\":{\"level\":\"ReadOnly\"}}"),
                404, "ResourceNotFound");
    expect_code(
        mgmt(f, CF_HTTP_PUT, LOCKS "/x", API20, "{\"properties\":{\"level\":\"ReadOnly\"}}"), 400,
        "InvalidScope");
    expect_code(mgmt(f, CF_HTTP_PUT,
                     "/subscriptions/00000000-0000-0000-0000-000000000000" LOCKS "/x", API20,
                     "{\"properties\":{\"level\":\"ReadOnly\"}}"),
                404, "SubscriptionNotFound");
    expect_code(mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS "/missing"), API20, NULL), 404,
                "LockNotFound");

    /* delete: 200, then 204 */
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, LOCKS "/nodel"), API20, NULL), 200,
                NULL);
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, LOCKS "/nodel"), API20, NULL), 204,
                NULL);
    expect_code(mgmt(f, CF_HTTP_GET, path_of(f, RG_PATH, LOCKS "/NoDel"), API20, NULL), 404,
                "LockNotFound");
}

static void lock_enforced(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char want[600];

    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/ro"), API20,
                     "{\"properties\":{\"level\":\"ReadOnly\"}}"),
                201, NULL);
    r = mgmt(f, CF_HTTP_PATCH, path_of(f, VONE_PATH, ""), KVAPI, "{\"tags\":{\"a\":\"b\"}}");
    snprintf(want, sizeof(want),
             "The scope '/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/"
             "vone' cannot perform write operation because following scope(s) are locked: "
             "'/subscriptions/%s/resourceGroups/rg'. Please remove the lock and try again.",
             f->sub, f->sub);
    assert_non_null(strstr(r->body, want));
    expect_code(r, 409, "ScopeLocked");
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, VONE_PATH, "/accessPolicies/add"), KVAPI,
                     "{\"properties\":{\"accessPolicies\":[]}}"),
                409, "ScopeLocked");
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, ""), KVAPI, NULL), 409,
                "ScopeLocked");
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, ""), KVAPI, NULL), 409, "ScopeLocked");
    /* the data plane is not frozen */
    expect_code(call_as(f, CF_HTTP_PUT, "vone." SUFFIX PORT, "/secrets/s1", "api-version=7.5",
                        f->bearer, "{\"value\":\"v\"}"),
                200, NULL);
    expect_code(mgmt(f, CF_HTTP_GET, path_of(f, VONE_PATH, ""), KVAPI, NULL), 200, NULL);

    /* CanNotDelete on the vault instead: updates pass, deletion still refused */
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, LOCKS "/ro"), API20, NULL), 200, NULL);
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, VONE_PATH, LOCKS "/cnd"), API20,
                     "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
                201, NULL);
    expect_code(
        mgmt(f, CF_HTTP_PATCH, path_of(f, VONE_PATH, ""), KVAPI, "{\"tags\":{\"a\":\"b\"}}"), 200,
        NULL);
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, ""), KVAPI, NULL), 409,
                "ScopeLocked");
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, RG_PATH, ""), KVAPI, NULL), 409, "ScopeLocked");
    /* gone with the lock */
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, LOCKS "/cnd"), API20, NULL), 200,
                NULL);
    expect_code(mgmt(f, CF_HTTP_DELETE, path_of(f, VONE_PATH, ""), KVAPI, NULL), 200, NULL);
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
    expect_code(call_as(f, CF_HTTP_PUT, MGMT, path_of(f, RG_PATH, LOCKS "/x"), API20, bearer,
                        "{\"properties\":{\"level\":\"ReadOnly\"}}"),
                403, "AuthorizationFailed");
    expect_code(call_as(f, CF_HTTP_GET, MGMT, path_of(f, RG_PATH, LOCKS), API20, bearer, NULL), 200,
                NULL);
    expect_code(mgmt(f, CF_HTTP_PUT, path_of(f, RG_PATH, LOCKS "/x"), API20,
                     "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
                201, NULL);
    expect_code(
        call_as(f, CF_HTTP_DELETE, MGMT, path_of(f, RG_PATH, LOCKS "/x"), API20, bearer, NULL), 403,
        "AuthorizationFailed");
    /* the Contributor may update the vault, not delete it while it is locked */
    expect_code(call_as(f, CF_HTTP_DELETE, MGMT, path_of(f, VONE_PATH, ""), KVAPI, bearer, NULL),
                409, "ScopeLocked");
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
    expect_code(mgmt(f, CF_HTTP_PUT, path, KVAPI, body), 201, NULL);
    expect_code(call_as(f, CF_HTTP_PUT, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5",
                        f->bearer, "{\"value\":\"v\"}"),
                200, NULL);
    expect_code(
        call_as(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", bearer, NULL),
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
        expect_code(r, 200, NULL);
    }
    expect_code(
        call_as(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", bearer, NULL),
        200, NULL);
    expect_code(call_as(f, CF_HTTP_PUT, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5",
                        bearer, "{\"value\":\"w\"}"),
                403, "Forbidden");
    /* remove it again */
    snprintf(path + strlen(path) - 3, 8, "remove");
    expect_code(mgmt(f, CF_HTTP_PUT, path, KVAPI, body), 200, NULL);
    expect_code(
        call_as(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", bearer, NULL),
        403, "Forbidden");
    /* an old api-version has no such operation */
    expect_code(mgmt(f, CF_HTTP_PUT, path, "api-version=2018-02-14", body), 400,
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

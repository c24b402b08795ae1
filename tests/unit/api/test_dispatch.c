/* test_dispatch.c - the API's routing module through its public entry, cf_api_handle, with the
 * real route table, handlers, vault, auth and a SQLite store in a temp dir; only the HTTP layer
 * is replaced (fake_http.h's cf_http_respond and cf_http_header, so the linker never pulls
 * src/http's). Covers: host classification, the 401 challenge before anything else, the
 * api-version rule (missing, malformed, percent-encoded key, unknown well-formed), trailing and
 * double slashes, 405 vs 404, unknown vault, cross-tenant tokens, the standard headers, and an
 * asynchronous set answered from the store's writer thread. */
#include "base/cf.h"
#include "api/api.h"
#include "auth/auth.h"
#include "auth/rbac.h"
#include "auth/throttle.h"
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
#include "api/internal.h" /* the request pool (recycled_requests_hold_nothing) */

static int setup(void **state)
{
    return fx_setup(state, &(struct fx_opts){.tag = "dispatch", .vaults = {"vone"}});
}

/* ---------------- tests ---------------- */

static void challenge_comes_first(void **state)
{
    struct fx *f = *state;
    char want[512];
    /* a bodyless PUT with a bad name and no api-version: still the challenge */
    struct fake_req *r = call_as(f, CF_HTTP_PUT, V1, "/secrets/bad_name", "", NULL, NULL);
    snprintf(want, sizeof(want),
             "WWW-Authenticate: Bearer authorization=\"https://login.localhost:8443/%s\", "
             "resource=\"https://vault.localhost:8443\"\n",
             f->tenant);
    assert_non_null(strstr(r->headers, want));
    assert_non_null(strstr(r->headers, "x-ms-client-request-id: 11111111-2222"));
    assert_non_null(strstr(r->headers, "Cache-Control: no-cache"));
    expect_code(r, 401, "Unauthorized");
    /* a garbage token and a management token get it too */
    expect_code(
        call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5", "Bearer abc.def.ghi", NULL), 401,
        "Unauthorized");
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5", f->mgmt_bearer, NULL),
                401, "Unauthorized");
}

static void api_version_rule(void **state)
{
    struct fx *f = *state;
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "", f->bearer, NULL), 400, "BadParameter");
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=abc", f->bearer, NULL), 400,
                "BadParameter");
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.", f->bearer, NULL), 400,
                "BadParameter");
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=2025-7-01", f->bearer, NULL),
                400, "BadParameter");
    /* well-formed versions are all served, heard of or not */
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.9", f->bearer, NULL), 200,
                NULL);
    expect_code(
        call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.4-preview.1", f->bearer, NULL), 200,
        NULL);
    expect_code(
        call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=2031-01-01-preview", f->bearer, NULL),
        200, NULL);
    expect_code(
        call_as(f, CF_HTTP_GET, V1, "/secrets", "api%2Dversion=2025-07-01", f->bearer, NULL), 200,
        NULL);
    /* management: dated versions only, ARM's codes */
    expect_code(call_as(f, CF_HTTP_GET, "management.localhost" PORT, "/subscriptions", "",
                        f->mgmt_bearer, NULL),
                400, "MissingApiVersionParameter");
    expect_code(call_as(f, CF_HTTP_GET, "management.localhost" PORT, "/subscriptions",
                        "api-version=7.4", f->mgmt_bearer, NULL),
                400, "InvalidApiVersionParameter");
}

static void hosts_and_routes(void **state)
{
    struct fx *f = *state;
    expect_code(call_as(f, CF_HTTP_GET, "elsewhere.example" PORT, "/secrets", "api-version=7.5",
                        f->bearer, NULL),
                404, "NotFound");
    expect_code(
        call_as(f, CF_HTTP_GET, "a.b." SUFFIX PORT, "/secrets", "api-version=7.5", f->bearer, NULL),
        404, "NotFound");
    /* a port that is not digits is never echoed into ids or the challenge (fuzz finding) */
    expect_code(call_as(f, CF_HTTP_GET, "vone." SUFFIX ":8443\rx", "/secrets", "api-version=7.5",
                        f->bearer, NULL),
                404, "NotFound");
    expect_code(
        call_as(f, CF_HTTP_GET, "vone." SUFFIX ":", "/secrets", "api-version=7.5", f->bearer, NULL),
        404, "NotFound");
    expect_code(call_as(f, CF_HTTP_GET, "nosuchvault." SUFFIX PORT, "/secrets", "api-version=7.5",
                        f->bearer, NULL),
                404, "VaultNotFound");
    expect_code(call_as(f, CF_HTTP_GET, V1, "/nothing/here", "api-version=7.5", f->bearer, NULL),
                404, "NotFound");
    expect_code(call_as(f, CF_HTTP_POST, V1, "/secrets", "api-version=7.5", f->bearer, NULL), 405,
                "MethodNotAllowed");
    /* the vault host is case-insensitive; so is the suffix */
    expect_code(call_as(f, CF_HTTP_GET, "VONE.Vault.LocalHost" PORT, "/secrets", "api-version=7.5",
                        f->bearer, NULL),
                200, NULL);
}

static void set_then_get_with_slashes(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    char id[256];

    r = call_as(f, CF_HTTP_PUT, V1, "/secrets/Greeting", "api-version=7.5", f->bearer,
                "{\"value\":\"hello\"}");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"value\":\"hello\""));
    /* ids carry the scheme, host and port the client used */
    snprintf(id, sizeof(id), "\"id\":\"https://" V1 "/secrets/Greeting/");
    assert_non_null(strstr(r->body, id));
    done(r);
    r = call_as(f, CF_HTTP_GET, V1, "/secrets/greeting/", "api-version=7.5", f->bearer, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"value\":\"hello\""));
    done(r);
    r = call_as(f, CF_HTTP_GET, V1, "//secrets//GREETING", "api-version=7.5", f->bearer, NULL);
    assert_int_equal(r->status, 200);
    done(r);
    /* a bodyless PUT with a valid token: now the body is validated */
    expect_code(call_as(f, CF_HTTP_PUT, V1, "/secrets/x", "api-version=7.5", f->bearer, ""), 400,
                "BadParameter");
    expect_code(
        call_as(f, CF_HTTP_PUT, V1, "/secrets/x", "api-version=7.5", f->bearer, "{\"value\":"), 400,
        "BadParameter");
    expect_code(call_as(f, CF_HTTP_PUT, V1, "/secrets/a%5Fb", "api-version=7.5", f->bearer,
                        "{\"value\":\"x\"}"),
                400, "BadParameter");
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets/x", "api-version=7.5", f->bearer, NULL), 404,
                "SecretNotFound");
}

static void cross_tenant_token_refused(void **state)
{
    struct fx *f = *state;
    char tenant2[37], cid[64], oid[37], sec[128], bearer[2048];
    struct cf_token_request tr;
    struct cf_buf tok;
    struct cf_token_error te;
    int64_t exp_in;

    assert_int_equal(cf_uuid4(tenant2), CF_OK);
    assert_int_equal(cf_auth_sp_create(f->auth, tenant2, "other", NULL, cid, oid, sec, sizeof(sec)),
                     CF_OK);
    tr = (struct cf_token_request){.tenant = cf_str_from(tenant2),
                                   .grant_type = CF_STR("client_credentials"),
                                   .client_id = cf_str_from(cid),
                                   .client_secret = cf_str_from(sec),
                                   .scope = CF_STR("https://" SUFFIX PORT "/.default")};
    cf_buf_init(&tok, 8192);
    assert_int_equal(cf_auth_issue_token(f->auth, &tr, &tok, &exp_in, &te), CF_OK);
    snprintf(bearer, sizeof(bearer), "Bearer %s", tok.data);
    cf_buf_release(&tok);
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5", bearer, NULL), 401,
                "Unauthorized");
}

/* ---------------- Microsoft.Authorization: the "**" scope routes ---------------- */

#define MG "management.localhost" PORT
#define AV "api-version=2022-04-01"
#define RA_BODY(role, pid)                                                                         \
    "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/x/providers/"                         \
    "Microsoft.Authorization/roleDefinitions/" role "\",\"principalId\":\"" pid "\","              \
    "\"principalType\":\"ServicePrincipal\"}}"
#define SU "4633458b-17de-408a-b874-0445c86b69e6"
#define P1 "9a2b0c3d-0000-4000-8000-000000000002"

static void role_assignments_at_every_scope(void **state)
{
    struct fx *f = *state;
    char path[512], scope[300], want[600];
    /* appended to "/subscriptions/{sub}" except the first ("/", the server) */
    const char *scopes[] = {NULL, "", "/resourceGroups/rg",
                            "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone",
                            "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone/secrets/db-pass",
                            "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone/keys/k1"};
    struct fake_req *r;

    for (size_t i = 0; i < CF_ARRAY_LEN(scopes); i++) {
        if (scopes[i])
            snprintf(scope, sizeof(scope), "/subscriptions/%s%s", f->sub, scopes[i]);
        else
            scope[0] = '\0';
        snprintf(path, sizeof(path),
                 "%s/providers/Microsoft.Authorization/roleAssignments/"
                 "6f1c2d3e-0000-4000-8000-00000000000%zu",
                 scope, i);
        r = call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, RA_BODY(SU, P1));
        if (r->status != 201)
            fail_msg("PUT %s: %d %s", path, r->status, r->body);
        snprintf(want, sizeof(want), "\"id\":\"%s\"", path);
        assert_non_null(strstr(r->body, want));
        snprintf(want, sizeof(want), "\"scope\":\"%s\"", i == 0 ? "/" : scope);
        if (!strstr(r->body, want))
            fail_msg("want %s in %s", want, r->body);
        snprintf(want, sizeof(want),
                 "\"roleDefinitionId\":\"/subscriptions/%s/providers/Microsoft.Authorization/"
                 "roleDefinitions/" SU "\"",
                 f->sub);
        assert_non_null(strstr(r->body, want));
        assert_non_null(strstr(r->body, "\"type\":\"Microsoft.Authorization/roleAssignments\""));
        assert_non_null(strstr(r->body, "\"principalId\":\"" P1 "\""));
        done(r);
        /* GET answers the same; a second identical PUT is 200 */
        expect_code(call_as(f, CF_HTTP_GET, MG, path, AV, f->mgmt_bearer, NULL), 200, NULL);
        expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, RA_BODY(SU, P1)), 200,
                    NULL);
    }
    /* listing at the vault: "/", sub, rg, vault (at and above) + the two objects below, and
     * the administrator's two at "/" */
    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone/"
             "providers/Microsoft.Authorization/roleAssignments",
             f->sub);
    r = call_as(f, CF_HTTP_GET, MG, path, AV, f->mgmt_bearer, NULL);
    assert_int_equal(r->status, 200);
    {
        int n = 0;
        for (const char *p = r->body; (p = strstr(p, "\"principalId\"")); p++)
            n++;
        assert_int_equal(n, 8);
    }
    done(r);
    r = call_as(f, CF_HTTP_GET, MG, path, AV "&%24filter=atScope%28%29", f->mgmt_bearer, NULL);
    assert_int_equal(r->status, 200);
    assert_null(strstr(r->body, "db-pass"));
    assert_non_null(strstr(r->body, "00000000003"));
    done(r);
    r = call_as(f, CF_HTTP_GET, MG, path,
                AV "&%24filter=principalId+eq+%27"
                   "11111111-0000-4000-8000-000000000000"
                   "%27",
                f->mgmt_bearer, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "{\"value\":[]}");
    done(r);
    expect_code(call_as(f, CF_HTTP_GET, MG, path, AV "&%24filter=nonsense", f->mgmt_bearer, NULL),
                400, "InvalidFilterInQueryString");
    /* delete: 200 with the body, then 204 */
    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone/"
             "secrets/db-pass/providers/Microsoft.Authorization/roleAssignments/"
             "6f1c2d3e-0000-4000-8000-000000000004",
             f->sub);
    expect_code(call_as(f, CF_HTTP_DELETE, MG, path, AV, f->mgmt_bearer, NULL), 200, NULL);
    expect_code(call_as(f, CF_HTTP_DELETE, MG, path, AV, f->mgmt_bearer, NULL), 204, NULL);
    expect_code(call_as(f, CF_HTTP_GET, MG, path, AV, f->mgmt_bearer, NULL), 404,
                "RoleAssignmentNotFound");
}

static void role_assignment_errors(void **state)
{
    struct fx *f = *state;
    char path[512];

    snprintf(path, sizeof(path),
             "/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments/"
             "6f1c2d3e-0000-4000-8000-000000000001",
             f->sub);
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer,
                        RA_BODY("00000000-0000-4000-8000-00000000dead", P1)),
                400, "RoleDefinitionDoesNotExist");
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, RA_BODY(SU, "not-a-guid")),
                400, "InvalidPrincipalId");
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, "{}"), 400,
                "InvalidRequestContent");
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, RA_BODY(SU, P1)), 201, NULL);
    /* the same name with another role; another name with the same triple */
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer,
                        RA_BODY("21090545-7ca7-4776-b22c-e363652d74d2", P1)),
                400, "RoleAssignmentUpdateNotPermitted");
    snprintf(path, sizeof(path),
             "/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments/"
             "6f1c2d3e-0000-4000-8000-000000000002",
             f->sub);
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, RA_BODY(SU, P1)), 409,
                "RoleAssignmentExists");
    /* the name is found only at its own scope */
    expect_code(call_as(f, CF_HTTP_GET, MG,
                        "/providers/Microsoft.Authorization/roleAssignments/"
                        "6f1c2d3e-0000-4000-8000-000000000001",
                        AV, f->mgmt_bearer, NULL),
                404, "RoleAssignmentNotFound");
    expect_code(call_as(f, CF_HTTP_PUT, MG,
                        "/providers/Microsoft.Authorization/roleAssignments/nope", AV,
                        f->mgmt_bearer, RA_BODY(SU, P1)),
                400, "InvalidRoleAssignmentId");
    /* scopes: another subscription, shapes Coffer does not have */
    expect_code(call_as(f, CF_HTTP_GET, MG,
                        "/subscriptions/00000000-0000-4000-8000-000000000000/providers/"
                        "Microsoft.Authorization/roleAssignments",
                        AV, f->mgmt_bearer, NULL),
                404, "SubscriptionNotFound");
    snprintf(path, sizeof(path), "/subscriptions/%s/foo/providers/Microsoft.Authorization/roleAssignments",
             f->sub);
    expect_code(call_as(f, CF_HTTP_GET, MG, path, AV, f->mgmt_bearer, NULL), 400, "InvalidScope");
    expect_code(call_as(f, CF_HTTP_GET, MG, "/x/providers/Microsoft.Authorization/roleAssignments",
                        AV, f->mgmt_bearer, NULL),
                400, "InvalidScope");
    /* method, token and api-version rules as everywhere */
    expect_code(call_as(f, CF_HTTP_POST, MG, "/providers/Microsoft.Authorization/roleAssignments",
                        AV, f->mgmt_bearer, NULL),
                405, "MethodNotAllowed");
    expect_code(call_as(f, CF_HTTP_GET, MG, "/providers/Microsoft.Authorization/roleAssignments",
                        AV, NULL, NULL),
                401, "AuthenticationFailed");
    expect_code(call_as(f, CF_HTTP_GET, MG, "/providers/Microsoft.Authorization/roleAssignments",
                        "", f->mgmt_bearer, NULL),
                400, "MissingApiVersionParameter");
    /* the "**" rows never take a path an older row serves */
    expect_code(call_as(f, CF_HTTP_GET, MG, "/subscriptions", AV, f->mgmt_bearer, NULL), 200, NULL);
    expect_code(
        call_as(f, CF_HTTP_GET, MG, "/providers/Microsoft.Authorization", AV, f->mgmt_bearer, NULL),
        404, "InvalidResourceType");
    expect_code(call_as(f, CF_HTTP_GET, MG,
                        "/providers/Microsoft.Authorization/roleAssignments/a/b", AV,
                        f->mgmt_bearer, NULL),
                404, "InvalidResourceType");
}

#define CUSTOM "77777777-0000-4000-8000-000000000001"
#define ROLE_BODY(name)                                                                            \
    "{\"properties\":{\"roleName\":\"" name "\",\"description\":\"d\",\"type\":\"CustomRole\","   \
    "\"assignableScopes\":[\"/\"],\"permissions\":[{\"actions\":[],\"dataActions\":["              \
    "\"Microsoft.KeyVault/vaults/secrets/*\"],\"notDataActions\":["                                \
    "\"Microsoft.KeyVault/vaults/secrets/purge/action\"]}]}}"

static void role_definitions(void **state)
{
    struct fx *f = *state;
    char path[512];
    struct fake_req *r;

    snprintf(path, sizeof(path), "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions",
             f->sub);
    r = call_as(f, CF_HTTP_GET, MG, path, AV "&%24filter=roleName+eq+%27Key+Vault+Secrets+User%27",
                f->mgmt_bearer, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"name\":\"" SU "\""));
    assert_non_null(strstr(r->body, "\"type\":\"BuiltInRole\""));
    assert_non_null(strstr(r->body, "Microsoft.KeyVault/vaults/secrets/getSecret/action"));
    assert_null(strstr(r->body, "Owner"));
    done(r);
    expect_code(call_as(f, CF_HTTP_GET, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/" SU, AV,
                        f->mgmt_bearer, NULL),
                200, NULL);
    expect_code(call_as(f, CF_HTTP_GET, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/"
                        "00000000-0000-4000-8000-000000000000",
                        AV, f->mgmt_bearer, NULL),
                404, "RoleDefinitionDoesNotExist");
    /* custom role: create, read, refuse a name clash, delete */
    snprintf(path, sizeof(path),
             "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/" CUSTOM, f->sub);
    r = call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, ROLE_BODY("Rotator"));
    if (r->status != 201)
        fail_msg("%d %s", r->status, r->body);
    assert_non_null(strstr(r->body, "\"type\":\"CustomRole\""));
    assert_non_null(strstr(r->body, "\"notDataActions\":[\"Microsoft.KeyVault/vaults/secrets/purge/action\"]"));
    done(r);
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, ROLE_BODY("Rotator")), 200,
                NULL);
    expect_code(call_as(f, CF_HTTP_PUT, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/"
                        "77777777-0000-4000-8000-000000000002",
                        AV, f->mgmt_bearer, ROLE_BODY("rotator")),
                409, "RoleDefinitionWithSameNameExists");
    expect_code(call_as(f, CF_HTTP_PUT, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/" SU, AV,
                        f->mgmt_bearer, ROLE_BODY("Mine")),
                400, "RoleDefinitionUpdateNotPermitted");
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, "{\"properties\":{}}"), 400,
                "InvalidRoleDefinition");
    /* in use: 409; then deletable */
    snprintf(path, sizeof(path),
             "/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments/"
             "6f1c2d3e-0000-4000-8000-000000000009",
             f->sub);
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, f->mgmt_bearer, RA_BODY(CUSTOM, P1)), 201,
                NULL);
    expect_code(call_as(f, CF_HTTP_DELETE, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/" CUSTOM, AV,
                        f->mgmt_bearer, NULL),
                409, "RoleDefinitionHasAssignments");
    expect_code(call_as(f, CF_HTTP_DELETE, MG, path, AV, f->mgmt_bearer, NULL), 200, NULL);
    expect_code(call_as(f, CF_HTTP_DELETE, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/" CUSTOM, AV,
                        f->mgmt_bearer, NULL),
                200, NULL);
    expect_code(call_as(f, CF_HTTP_DELETE, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/" CUSTOM, AV,
                        f->mgmt_bearer, NULL),
                204, NULL);
    expect_code(call_as(f, CF_HTTP_DELETE, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/" SU, AV,
                        f->mgmt_bearer, NULL),
                400, "RoleDefinitionUpdateNotPermitted");
}

/* Without an rbac object (the server before the lead wires it) the paths answer as before. */
static void rbac_routes_absent_without_rbac(void **state)
{
    struct fx *f = *state;
    struct cf_api *with = f->api;
    cf_err e;

    f->api = cf_api_new(&(struct cf_api_config){.vault = f->vault,
                                                .auth = f->auth,
                                                .clock = &f->clock,
                                                .dns_suffix = SUFFIX,
                                                .login_host = "login.localhost",
                                                .management_host = "management.localhost",
                                                .subscription_id = f->sub,
                                                .tenant_id = f->tenant,
                                                .pool_threads = 1},
                        &e);
    assert_non_null(f->api);
    expect_code(call_as(f, CF_HTTP_GET, MG, "/providers/Microsoft.Authorization/roleAssignments",
                        AV, f->mgmt_bearer, NULL),
                404, "InvalidResourceType");
    expect_code(call_as(f, CF_HTTP_GET, MG,
                        "/providers/Microsoft.Authorization/roleDefinitions/" SU, AV,
                        f->mgmt_bearer, NULL),
                404, "InvalidResourceType");
    cf_api_free(f->api);
    f->api = with;
}

/* Management lists page by 200 when the client gives no $top, with a nextLink that continues. */
static void arm_lists_page_by_default(void **state)
{
    struct fx *f = *state;
    struct cf_vault in, out;
    struct fake_req *r;
    struct cf_json *j = NULL;
    char path[256], query[512];
    const char *next;
    bool created;

    for (int i = 0; i < 205; i++) {
        memset(&in, 0, sizeof(in));
        snprintf(in.name, sizeof(in.name), "pv%03d", i);
        snprintf(in.subscription, sizeof(in.subscription), "%s", f->sub);
        snprintf(in.resource_group, sizeof(in.resource_group), "rg");
        snprintf(in.location, sizeof(in.location), "local");
        snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", f->tenant);
        snprintf(in.sku, sizeof(in.sku), "standard");
        in.retention_days = 90;
        in.soft_delete = true;
        assert_int_equal(cf_vault_put(f->vault, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
        cf_vault_release(&out);
    }
    snprintf(path, sizeof(path), "/subscriptions/%s/providers/Microsoft.KeyVault/vaults", f->sub);
    r = call_as(f, CF_HTTP_GET, "management.localhost" PORT, path, "api-version=2023-07-01",
                f->mgmt_bearer, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(cf_json_parse(r->body, r->body_len, &j, NULL, 0), CF_OK);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 200);
    next = cf_json_str(cf_json_get(j, "nextLink"), NULL);
    assert_non_null(next);
    assert_non_null(strstr(next, "$skiptoken=200"));
    snprintf(query, sizeof(query), "%s", strchr(next, '?') + 1);
    cf_json_free(j);
    done(r);
    r = call_as(f, CF_HTTP_GET, "management.localhost" PORT, path, query, f->mgmt_bearer, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(cf_json_parse(r->body, r->body_len, &j, NULL, 0), CF_OK);
    assert_int_equal(cf_json_size(cf_json_get(j, "value")), 6); /* 205 + the fixture's vault */
    assert_null(cf_json_get(j, "nextLink"));
    cf_json_free(j);
    done(r);
}


/* ---------------- authorization (authz.c) ---------------- */

/* A second principal with no role anywhere, and tokens for both planes. */
struct other {
    char client_id[64], oid[37], secret[128];
    char bearer[2048], mgmt_bearer[2048];
};

static void other_principal(struct fx *f, struct other *o)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(cf_auth_sp_create(f->auth, f->tenant, "app", NULL, o->client_id, o->oid,
                                       o->secret, sizeof(o->secret)),
                     CF_OK);
    mint_as(f, o->client_id, o->secret, "https://" SUFFIX PORT "/.default", o->bearer,
            sizeof(o->bearer));
    mint_as(f, o->client_id, o->secret, "https://management.localhost" PORT "/.default",
            o->mgmt_bearer, sizeof(o->mgmt_bearer));
}

static void assign(struct fx *f, const char *scope, const char *role, const char *oid)
{
    assert_int_equal(cf_rbac_ensure_assignment(f->rbac, scope, role, oid, "ServicePrincipal"),
                     CF_OK);
}

/* error.innererror.code */
static void expect_inner(struct fake_req *r, int status, const char *inner)
{
    struct cf_json *j = NULL;
    const char *c = NULL;
    if (cf_json_parse(r->body, r->body_len, &j, NULL, 0) == CF_OK)
        c = cf_json_str(cf_json_get(cf_json_get(cf_json_get(j, "error"), "innererror"), "code"),
                        NULL);
    if (r->status != status || !c || strcmp(c, inner) != 0)
        fail_msg("expected %d %s, got %d: %s", status, inner, r->status, r->body);
    cf_json_free(j);
    done(r);
}

static void vault_with(struct fx *f, const char *name, bool rbac, const char *policies,
                       const char *acls)
{
    struct cf_vault in, out;
    bool created;

    memset(&in, 0, sizeof(in));
    snprintf(in.name, sizeof(in.name), "%s", name);
    snprintf(in.subscription, sizeof(in.subscription), "%s", f->sub);
    snprintf(in.resource_group, sizeof(in.resource_group), "rg");
    snprintf(in.location, sizeof(in.location), "local");
    snprintf(in.tenant_id, sizeof(in.tenant_id), "%s", f->tenant);
    snprintf(in.sku, sizeof(in.sku), "standard");
    snprintf(in.public_network_access, sizeof(in.public_network_access), "Enabled");
    in.retention_days = 90;
    in.soft_delete = true;
    in.rbac = rbac;
    in.access_policies_json = (char *)(uintptr_t)policies;
    in.network_acls_json = (char *)(uintptr_t)acls;
    assert_int_equal(cf_vault_put(f->vault, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
}

/* RBAC vault: no role is 403 ForbiddenByRbac naming action and resource; a Secrets User
 * assignment on one secret opens that secret only, for reading only. */
static void rbac_data_plane(void **state)
{
    struct fx *f = *state;
    struct other o, p;
    struct fake_req *r;
    char scope[300], want[400];

    other_principal(f, &o);
    expect_code(call_as(f, CF_HTTP_PUT, V1, "/secrets/a", "api-version=7.5", f->bearer,
                        "{\"value\":\"x\"}"),
                200, NULL);
    expect_code(call_as(f, CF_HTTP_PUT, V1, "/secrets/b", "api-version=7.5", f->bearer,
                        "{\"value\":\"y\"}"),
                200, NULL);
    r = call_as(f, CF_HTTP_GET, V1, "/secrets/a", "api-version=7.5", o.bearer, NULL);
    snprintf(want, sizeof(want),
             "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\\r\\nResource: "
             "'/subscriptions/%s/resourcegroups/rg/providers/microsoft.keyvault/vaults/vone/"
             "secrets/a'",
             f->sub);
    if (!strstr(r->body, want) || !strstr(r->body, o.oid) || strstr(r->body, "\"x\""))
        fail_msg("403 body: %s", r->body);
    expect_inner(r, 403, "ForbiddenByRbac");
    /* refused before the lookup: an unknown name is 403 too, not 404 */
    expect_inner(call_as(f, CF_HTTP_GET, V1, "/secrets/nope", "api-version=7.5", o.bearer, NULL),
                 403, "ForbiddenByRbac");
    snprintf(scope, sizeof(scope),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone/"
             "secrets/A",
             f->sub);
    assign(f, scope, CF_ROLE_KV_SECRETS_USER, o.oid);
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets/a", "api-version=7.5", o.bearer, NULL), 200,
                NULL);
    expect_inner(call_as(f, CF_HTTP_GET, V1, "/secrets/b", "api-version=7.5", o.bearer, NULL), 403,
                 "ForbiddenByRbac");
    expect_inner(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5", o.bearer, NULL), 403,
                 "ForbiddenByRbac");
    expect_inner(
        call_as(f, CF_HTTP_PUT, V1, "/secrets/a", "api-version=7.5", o.bearer, "{\"value\":\"z\"}"),
        403, "ForbiddenByRbac");
    expect_inner(call_as(f, CF_HTTP_DELETE, V1, "/secrets/a", "api-version=7.5", o.bearer, NULL),
                 403, "ForbiddenByRbac");
    /* Secrets Officer at the resource group: everything on secrets, in every vault of it */
    snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/rg", f->sub);
    assign(f, scope, CF_ROLE_KV_SECRETS_OFFICER, o.oid);
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5", o.bearer, NULL), 200,
                NULL);
    expect_code(
        call_as(f, CF_HTTP_PUT, V1, "/secrets/b", "api-version=7.5", o.bearer, "{\"value\":\"z\"}"),
        200, NULL);
    /* Owner's "*" Actions never grant data actions */
    vault_with(f, "vtwo", true, NULL, NULL);
    other_principal(f, &p);
    assign(f, "/", CF_ROLE_OWNER, p.oid);
    expect_inner(
        call_as(f, CF_HTTP_GET, "vtwo." SUFFIX PORT, "/secrets", "api-version=7.5", p.bearer, NULL),
        403, "ForbiddenByRbac");
}

/* Access-policy vault (enableRbacAuthorization false): the policies decide, RBAC data roles
 * do not; an applicationId entry matches only that application. */
static void access_policies(void **state)
{
    struct fx *f = *state;
    struct other o;
    struct fake_req *r;
    char pol[1024];

    other_principal(f, &o);
    snprintf(pol, sizeof(pol),
             "[{\"tenantId\":\"%s\",\"objectId\":\"%s\",\"permissions\":{\"secrets\":[\"all\"]}},"
             "{\"tenantId\":\"%s\",\"objectId\":\"%s\",\"permissions\":{\"secrets\":[\"Get\","
             "\"LIST\"],\"keys\":[\"get\"]}},"
             "{\"tenantId\":\"%s\",\"objectId\":\"%s\",\"applicationId\":\"00000000-0000-4000-"
             "8000-000000000000\",\"permissions\":{\"secrets\":[\"set\"]}}]",
             f->tenant, f->oid, f->tenant, o.oid, f->tenant, o.oid);
    vault_with(f, "vpol", false, pol, NULL);
    expect_code(call_as(f, CF_HTTP_PUT, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5",
                        f->bearer, "{\"value\":\"v\"}"),
                200, NULL);
    expect_code(call_as(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5",
                        o.bearer, NULL),
                200, NULL);
    expect_code(
        call_as(f, CF_HTTP_GET, "vpol." SUFFIX PORT, "/secrets", "api-version=7.5", o.bearer, NULL),
        200, NULL);
    r = call_as(f, CF_HTTP_PUT, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5", o.bearer,
                "{\"value\":\"w\"}");
    if (!strstr(r->body, "does not have secrets set permission on key vault 'vpol;"))
        fail_msg("policy 403: %s", r->body);
    expect_inner(r, 403, "ForbiddenByPolicy");
    /* an RBAC data role does not count on a policy vault */
    assign(f, "/", CF_ROLE_KV_SECRETS_OFFICER, o.oid);
    expect_inner(call_as(f, CF_HTTP_DELETE, "vpol." SUFFIX PORT, "/secrets/s", "api-version=7.5",
                         o.bearer, NULL),
                 403, "ForbiddenByPolicy");
}

/* Network rules: a Deny default refuses addresses outside ipRules before any permission
 * check; an ipRule or an Allow default lets the caller through. */
static void network_rules(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;

    vault_with(f, "vfw", true, NULL,
               "{\"bypass\":\"None\",\"defaultAction\":\"Deny\",\"ipRules\":[{\"value\":"
               "\"10.0.0.0/8\"},{\"value\":\"2001:db8::/32\"}],\"virtualNetworkRules\":[]}");
    r = call_as(f, CF_HTTP_GET, "vfw." SUFFIX PORT, "/secrets", "api-version=7.5", f->bearer, NULL);
    if (!strstr(r->body, "Client address: 127.0.0.1"))
        fail_msg("firewall 403: %s", r->body);
    expect_inner(r, 403, "ForbiddenByFirewall");
    vault_with(f, "vfw", true, NULL,
               "{\"bypass\":\"None\",\"defaultAction\":\"Deny\",\"ipRules\":[{\"value\":"
               "\"10.0.0.0/8\"},{\"value\":\"127.0.0.0/30\"}],\"virtualNetworkRules\":[]}");
    expect_code(
        call_as(f, CF_HTTP_GET, "vfw." SUFFIX PORT, "/secrets", "api-version=7.5", f->bearer, NULL),
        200, NULL);
    vault_with(f, "vfw", true, NULL,
               "{\"bypass\":\"None\",\"defaultAction\":\"Allow\",\"ipRules\":[],"
               "\"virtualNetworkRules\":[]}");
    expect_code(
        call_as(f, CF_HTTP_GET, "vfw." SUFFIX PORT, "/secrets", "api-version=7.5", f->bearer, NULL),
        200, NULL);
}

static void ip_rules_parse(void **state)
{
    int fam, pre;
    unsigned char a[16];
    (void)state;
    assert_true(cf_vault_ip_rule_parse(CF_STR("203.0.113.0/24"), &fam, a, &pre));
    assert_int_equal(pre, 24);
    assert_true(cf_vault_ip_rule_parse(CF_STR("198.51.100.7"), &fam, a, &pre));
    assert_int_equal(pre, 32);
    assert_true(cf_vault_ip_rule_parse(CF_STR("2001:db8::/48"), &fam, a, &pre));
    assert_int_equal(pre, 48);
    assert_false(cf_vault_ip_rule_parse(CF_STR("203.0.113.0/33"), &fam, a, &pre));
    assert_false(cf_vault_ip_rule_parse(CF_STR("203.0.113.0/"), &fam, a, &pre));
    assert_false(cf_vault_ip_rule_parse(CF_STR("203.0.113.0/+8"), &fam, a, &pre));
    assert_false(cf_vault_ip_rule_parse(CF_STR("300.0.113.0"), &fam, a, &pre));
    assert_false(cf_vault_ip_rule_parse(CF_STR(""), &fam, a, &pre));
    assert_false(cf_vault_ip_rule_parse(CF_STR("example.com"), &fam, a, &pre));
}

/* Management: no role is AuthorizationFailed; Reader at the group reads the vault but cannot
 * change it; the Data Access Administrator may hand out Key Vault data roles only; a delete of
 * an unknown assignment by a caller without rights is 403, not 204. */
static void rbac_management_plane(void **state)
{
    struct fx *f = *state;
    struct other o, p;
    char path[512], scope[300];

    other_principal(f, &o);
    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone",
             f->sub);
    expect_code(call_as(f, CF_HTTP_GET, MG, path, "api-version=2023-07-01", o.mgmt_bearer, NULL),
                403, "AuthorizationFailed");
    expect_code(call_as(f, CF_HTTP_GET, MG, "/subscriptions", "api-version=2022-12-01",
                        o.mgmt_bearer, NULL),
                200, NULL);
    snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/rg", f->sub);
    assign(f, scope, CF_ROLE_READER, o.oid);
    expect_code(call_as(f, CF_HTTP_GET, MG, path, "api-version=2023-07-01", o.mgmt_bearer, NULL),
                200, NULL);
    expect_code(call_as(f, CF_HTTP_PATCH, MG, path, "api-version=2023-07-01", o.mgmt_bearer,
                        "{\"tags\":{\"a\":\"b\"}}"),
                403, "AuthorizationFailed");
    assign(f, scope, "8b54135c-b56d-4d72-a534-26097cfdc8d8", o.oid);
    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone/"
             "providers/Microsoft.Authorization/roleAssignments/"
             "6f1c2d3e-0000-4000-8000-0000000000a1",
             f->sub);
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, o.mgmt_bearer, RA_BODY(SU, P1)), 201, NULL);
    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone/"
             "providers/Microsoft.Authorization/roleAssignments/"
             "6f1c2d3e-0000-4000-8000-0000000000a2",
             f->sub);
    expect_code(call_as(f, CF_HTTP_PUT, MG, path, AV, o.mgmt_bearer,
                        RA_BODY("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", P1)),
                403, "AuthorizationFailed");
    other_principal(f, &p);
    expect_code(call_as(f, CF_HTTP_DELETE, MG, path, AV, p.mgmt_bearer, NULL), 403,
                "AuthorizationFailed");
}

/* Group membership counts: a role assigned to a group reaches its members, for RBAC and for
 * access policies, and leaving the group takes it away at the next request. */
static void groups_grant(void **state)
{
    struct fx *f = *state;
    struct other o;
    struct cf_auth_group g;
    char scope[300], pol[512];

    other_principal(f, &o);
    assert_int_equal(cf_auth_group_create(f->auth, f->tenant, "readers", "readers", NULL, &g),
                     CF_OK);
    assert_int_equal(cf_auth_group_member_add(f->auth, f->tenant, g.object_id, o.oid), CF_OK);
    expect_code(call_as(f, CF_HTTP_PUT, V1, "/secrets/g", "api-version=7.5", f->bearer,
                        "{\"value\":\"v\"}"),
                200, NULL);
    snprintf(scope, sizeof(scope),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone",
             f->sub);
    assert_int_equal(cf_rbac_ensure_assignment(f->rbac, scope, CF_ROLE_KV_SECRETS_USER,
                                               g.object_id, "Group"),
                     CF_OK);
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets/g", "api-version=7.5", o.bearer, NULL), 200,
                NULL);
    snprintf(pol, sizeof(pol),
             "[{\"tenantId\":\"%s\",\"objectId\":\"%s\",\"permissions\":{\"secrets\":"
             "[\"get\"]}}]",
             f->tenant, g.object_id);
    vault_with(f, "vgrp", false, pol, NULL);
    expect_code(call_as(f, CF_HTTP_GET, "vgrp." SUFFIX PORT, "/secrets/none", "api-version=7.5",
                        o.bearer, NULL),
                404, "SecretNotFound");
    assert_int_equal(cf_auth_group_member_remove(f->auth, f->tenant, g.object_id, o.oid), CF_OK);
    expect_inner(call_as(f, CF_HTTP_GET, V1, "/secrets/g", "api-version=7.5", o.bearer, NULL), 403,
                 "ForbiddenByRbac");
    expect_inner(call_as(f, CF_HTTP_GET, "vgrp." SUFFIX PORT, "/secrets/none", "api-version=7.5",
                         o.bearer, NULL),
                 403, "ForbiddenByPolicy");
}

static cf_err count_asg(const struct cf_rec_role_asg *a, void *arg)
{
    int *n = arg; /* [0]: under vaults/vdel, [1]: elsewhere */
    if (strstr(a->scope, "/vaults/vdel/") || (strstr(a->scope, "/vaults/vdel") &&
                                               strstr(a->scope, "/vaults/vdel")[12] == '\0'))
        n[0]++;
    else
        n[1]++;
    return CF_OK;
}

/* Deleting a vault removes the role assignments at and below it (and only those). */
static void vault_delete_forgets_assignments(void **state)
{
    struct fx *f = *state;
    char path[300], scope[400];
    int n[2] = {0, 0};

    vault_with(f, "vdel", true, NULL, NULL);
    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vdel",
             f->sub);
    assign(f, path, CF_ROLE_KV_SECRETS_USER, P1);
    snprintf(scope, sizeof(scope), "%s/secrets/s1", path);
    assign(f, scope, CF_ROLE_KV_SECRETS_OFFICER, P1);
    snprintf(scope, sizeof(scope),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vdelx",
             f->sub); /* a sibling whose name starts the same */
    assign(f, scope, CF_ROLE_KV_SECRETS_USER, P1);
    expect_code(
        call_as(f, CF_HTTP_DELETE, MG, path, "api-version=2023-07-01", f->mgmt_bearer, NULL), 200,
        NULL);
    snprintf(scope, sizeof(scope), "/subscriptions/%s", f->sub);
    assert_int_equal(cf_rbac_assignment_list(f->rbac, scope, CF_RBAC_LIST_ABOVE_AND_BELOW, P1,
                                             count_asg, n),
                     CF_OK);
    assert_int_equal(n[0], 0);
    assert_int_equal(n[1], 1);
}

/* Service limits on the data plane: past the vault's budget a request is 429 Throttled with
 * Retry-After, charges nothing, and other classes go on. */
static void throttled_past_the_budget(void **state)
{
    struct fx *f = *state;
    struct cf_api *with = f->api;
    struct cf_throttle_limits lim;
    struct cf_throttle *t;
    struct fake_req *r;
    cf_err e;

    cf_throttle_limits_default(&lim);
    lim.per_10s[CF_THROTTLE_SECRET_CREATE] = 3;
    t = cf_throttle_new(&lim, &f->clock, &e);
    assert_non_null(t);
    f->api = cf_api_new(&(struct cf_api_config){.vault = f->vault,
                                                .auth = f->auth,
                                                .rbac = f->rbac,
                                                .throttle = t,
                                                .clock = &f->clock,
                                                .dns_suffix = SUFFIX,
                                                .login_host = "login.localhost",
                                                .management_host = "management.localhost",
                                                .subscription_id = f->sub,
                                                .tenant_id = f->tenant,
                                                .pool_threads = 1},
                        &e);
    assert_non_null(f->api);
    for (int i = 0; i < 3; i++)
        expect_code(call_as(f, CF_HTTP_PUT, V1, "/secrets/t", "api-version=7.5", f->bearer,
                            "{\"value\":\"v\"}"),
                    200, NULL);
    r = call_as(f, CF_HTTP_PUT, V1, "/secrets/t", "api-version=7.5", f->bearer,
                "{\"value\":\"v\"}");
    assert_non_null(strstr(r->headers, "Retry-After: "));
    assert_non_null(strstr(r->body, "VaultRequestTypeLimitReached"));
    expect_code(r, 429, "Throttled");
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets/t", "api-version=7.5", f->bearer, NULL), 200,
                NULL);
    cf_api_free(f->api);
    cf_throttle_free(t);
    f->api = with;
}

/* A recycled request's response buffer is all zero over its whole capacity once the request is
 * put back: the secret value a set echoed and a get returned, a token-bearing error, anything.
 * (req_clear wipes only out's used bytes: this holds it to "nothing written lies past them".) */
static void recycled_requests_hold_nothing(void **state)
{
    struct fx *f = *state;
    struct fake_req *r;
    enum { VLEN = 3000 };
    char *body = malloc(VLEN + 32);
    size_t n = 0;

    assert_non_null(body);
    n += (size_t)snprintf(body, 16, "{\"value\":\"");
    for (size_t i = 0; i < VLEN; i++)
        body[n++] = (char)('A' + i % 26);
    memcpy(body + n, "\"}", 3);
    r = call_as(f, CF_HTTP_PUT, V1, "/secrets/wiped", "api-version=7.5", f->bearer, body);
    assert_int_equal(r->status, 200);
    done(r);
    r = call_as(f, CF_HTTP_GET, V1, "/secrets/wiped", "api-version=7.5", f->bearer, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "ABCDEFGHIJKLMNOPQRSTUVWXYZABC"));
    done(r);
    /* an error after a big body in the same recycled buffers, then a short answer */
    expect_code(call_as(f, CF_HTTP_GET, V1, "/secrets/nope", "api-version=7.5", f->bearer, NULL),
                404, "SecretNotFound");
    r = call_as(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5", f->bearer, NULL);
    assert_int_equal(r->status, 200);
    done(r);
    free(body);

    /* checked under free_mu, asserted after it (teardown takes it too) */
    size_t seen = 0, big = 0, dirty = 0, dirty_at = 0, dirty_cap = 0, lens = 0;
    pthread_mutex_lock(&f->api->free_mu);
    while (f->api->live > 0) /* the set was answered from the store's acker thread */
        pthread_cond_wait(&f->api->idle_cv, &f->api->free_mu);
    for (struct api_req *q = f->api->free_list; q; q = q->next_free) {
        seen++;
        big += q->out.cap > VLEN;
        lens += q->out.len;
        for (size_t i = 0; q->out.data && i < q->out.cap; i++) {
            if (q->out.data[i] != 0 && dirty++ == 0) {
                dirty_at = i;
                dirty_cap = q->out.cap;
            }
        }
    }
    pthread_mutex_unlock(&f->api->free_mu);
    if (dirty)
        fail_msg("%zu bytes left in recycled response buffers, first at %zu of %zu", dirty,
                 dirty_at, dirty_cap);
    assert_int_equal(lens, 0);
    assert_true(seen >= 1);
    assert_true(big >= 1); /* the buffer that held the value is among them */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(challenge_comes_first), T(api_version_rule), T(hosts_and_routes),
        T(set_then_get_with_slashes), T(cross_tenant_token_refused),
        T(recycled_requests_hold_nothing),
        T(arm_lists_page_by_default),
        T(role_assignments_at_every_scope), T(role_assignment_errors), T(role_definitions),
        T(rbac_routes_absent_without_rbac),
        T(rbac_data_plane), T(access_policies), T(network_rules), T(ip_rules_parse),
        T(rbac_management_plane), T(throttled_past_the_budget), T(groups_grant),
        T(vault_delete_forgets_assignments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

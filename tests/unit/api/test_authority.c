/* The token authority handlers without a server: h_authority.c is compiled into this test, with
 * the reply functions (reply.c), the request helpers (dispatch.c), the HTTP header lookup and
 * the auth calls replaced by recording fakes below, so only base and crypto come from the
 * libraries whatever state the other modules are in.
 *
 * Covers: form parsing (decoding, unknown parameters, duplicates, bad escapes, HTTP Basic and
 * its conflicts), the Content-Type rule, the request handed to auth (tenant from the path or
 * "adfs"), the token response and its Cache-Control, the Entra error shape (status, codes,
 * timestamp format, correlation id), that the secret never reaches a response, and the
 * discovery documents (tenant, alias, unknown tenant, ADFS) and JWKS. */
#include "base/cf.h"

#include "api/h_authority.c"

#include <setjmp.h>
#include <cmocka.h>

/* ---------------- captured reply ---------------- */

static struct {
    int status;
    bool replied;
    char *body;
    char cache_control[64];
} got;

static void capture(struct api_req *r, int status, bool with_body)
{
    assert_false(got.replied); /* exactly one reply per request */
    got.replied = true;
    got.status = status;
    free(got.body);
    got.body = strdup(with_body && r->out.data ? r->out.data : "");
    got.cache_control[0] = '\0';
    for (size_t i = 0; i < r->nextra; i++)
        if (strcasecmp(r->extra[i].name, "Cache-Control") == 0)
            snprintf(got.cache_control, sizeof(got.cache_control), "%s", r->extra[i].value);
    cf_json_free(r->body);
    cf_buf_release(&r->scratch);
    cf_buf_release(&r->out);
    free(r);
}

void api_reply(struct api_req *r, int status)
{
    capture(r, status, true);
}

void api_reply_empty(struct api_req *r, int status)
{
    capture(r, status, false);
}

void api_error(struct api_req *r, int status, const char *code, const char *inner, const char *fmt,
               ...)
{
    char msg[1024];
    va_list ap;
    struct cf_jw w;

    (void)inner;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cf_buf_reset(&r->out);
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "error");
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "code", code);
    cf_jw_kstr(&w, "message", msg);
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    capture(r, status, true);
}

void api_error_err(struct api_req *r, cf_err e)
{
    api_error(r, 500, "InternalServerError", NULL, "%s", cf_err_msg(e));
}

void api_add_header(struct api_req *r, const char *name, const char *value)
{
    if (r->nextra < CF_ARRAY_LEN(r->extra))
        r->extra[r->nextra++] = (struct cf_http_hdr){name, value};
}

cf_err api_base_url(const struct api_req *r, struct cf_buf *out)
{
    cf_err e = cf_buf_puts(out, "https://");
    if (!e)
        e = cf_buf_append_str(out, r->hostname);
    if (!e)
        e = cf_buf_append_str(out, r->port);
    return e;
}

struct cf_str api_query(const struct api_req *r, const char *key)
{
    for (size_t i = 0; i < r->nq; i++)
        if (cf_str_eq_cstr(r->q[i].key, key))
            return r->q[i].val;
    return CF_STR_NULL;
}

/* ---------------- fake http headers ---------------- */

static struct {
    const char *content_type;
    const char *authorization;
    const char *client_request_id;
} hdr;

const char *cf_http_header(const struct cf_http_req *req, const char *name)
{
    (void)req;
    if (strcasecmp(name, "Content-Type") == 0)
        return hdr.content_type;
    if (strcasecmp(name, "Authorization") == 0)
        return hdr.authorization;
    if (strcasecmp(name, "client-request-id") == 0)
        return hdr.client_request_id;
    return NULL;
}

/* ---------------- fake auth ---------------- */

static struct {
    int calls;
    char tenant[80], grant[80], client_id[80], secret[80], scope[200];
    char assertion[80], assertion_type[120], endpoint[200];
    cf_err err;
    struct cf_token_error te;
    const char *default_tenant;
} fa;

static void cpy(char *dst, size_t n, struct cf_str s)
{
    snprintf(dst, n, "%.*s", (int)s.len, s.p ? s.p : "");
}

cf_err cf_auth_issue_token(struct cf_auth *a, const struct cf_token_request *req,
                           struct cf_buf *token_out, int64_t *expires_in,
                           struct cf_token_error *err_out)
{
    (void)a;
    fa.calls++;
    cpy(fa.tenant, sizeof(fa.tenant), req->tenant);
    cpy(fa.grant, sizeof(fa.grant), req->grant_type);
    cpy(fa.client_id, sizeof(fa.client_id), req->client_id);
    cpy(fa.secret, sizeof(fa.secret), req->client_secret);
    cpy(fa.scope, sizeof(fa.scope), req->scope);
    cpy(fa.assertion, sizeof(fa.assertion), req->client_assertion);
    cpy(fa.assertion_type, sizeof(fa.assertion_type), req->client_assertion_type);
    cpy(fa.endpoint, sizeof(fa.endpoint), req->endpoint);
    if (fa.err) {
        *err_out = fa.te;
        return fa.err;
    }
    *expires_in = 3599;
    return cf_buf_puts(token_out, "eyJ.fake.jwt");
}

const char *cf_auth_default_tenant(const struct cf_auth *a)
{
    (void)a;
    return fa.default_tenant;
}

bool cf_auth_tenant_known(const struct cf_auth *a, struct cf_str t)
{
    (void)a;
    if (cf_str_eq_ci(t, CF_STR("organizations")) || cf_str_eq_ci(t, CF_STR("common")))
        return fa.default_tenant != NULL;
    return cf_str_eq_ci(t, CF_STR("T")) || cf_str_eq_ci(t, CF_STR("t2"));
}

cf_err cf_auth_write_jwks(struct cf_auth *a, struct cf_jw *w)
{
    (void)a;
    cf_jw_obj_begin(w);
    cf_jw_key(w, "keys");
    cf_jw_arr_begin(w);
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "kty", "EC");
    cf_jw_obj_end(w);
    cf_jw_arr_end(w);
    cf_jw_obj_end(w);
    return cf_jw_err(w);
}

static struct {
    int rotations;
    cf_err rotate_err;
    size_t nkeys; /* as the ring reports it (may exceed what the handler asks for) */
} fk;

static void fake_key(struct cf_auth_signing_key *k, int i)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->kid, sizeof(k->kid), "kid-%d", i);
    snprintf(k->alg, sizeof(k->alg), "ES256");
    k->created = 1796423024 - 100 * i;
    k->active = i == 0;
    k->retired = i ? 1796423024 - 10 * i : 0;
    k->retire_after = i ? 1796423024 + 3900 : 0;
}

size_t cf_auth_signing_keys(struct cf_auth *a, struct cf_auth_signing_key *out, size_t max)
{
    (void)a;
    for (size_t i = 0; i < fk.nkeys && i < max; i++)
        fake_key(&out[i], (int)i);
    return fk.nkeys;
}

cf_err cf_auth_rotate_signing_key(struct cf_auth *a, struct cf_auth_signing_key *out)
{
    (void)a;
    if (fk.rotate_err)
        return fk.rotate_err;
    fk.rotations++;
    fake_key(out, 0);
    snprintf(out->kid, sizeof(out->kid), "new-kid");
    return CF_OK;
}

/* ---------------- requests ---------------- */

static int64_t fixed_now(const struct cf_clock *c)
{
    (void)c;
    return 1796423024000; /* 2026-12-04 22:23:44Z */
}

static struct cf_clock the_clock = {fixed_now, 0};
static struct cf_api the_api;
static struct cf_http_req the_http;

static int setup(void **state)
{
    (void)state;
    memset(&got, 0, sizeof(got));
    memset(&hdr, 0, sizeof(hdr));
    memset(&fa, 0, sizeof(fa));
    memset(&fk, 0, sizeof(fk));
    memset(&the_api, 0, sizeof(the_api));
    memset(&the_http, 0, sizeof(the_http));
    the_api.cfg.clock = &the_clock;
    the_api.cfg.login_host = "login.localhost";
    the_api.cfg.tenant_id = "T";
    hdr.content_type = "application/x-www-form-urlencoded";
    fa.default_tenant = "T";
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(got.body);
    got.body = NULL;
    return 0;
}

static struct api_req *req(const char *cap0, const char *body)
{
    struct api_req *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->api = &the_api;
    r->http = &the_http;
    the_http.body = body ? cf_str_from(body) : CF_STR("");
    r->host = CF_STR("login.localhost:8443");
    r->hostname = CF_STR("login.localhost");
    r->port = CF_STR(":8443");
    if (cap0)
        r->cap[r->ncap++] = cf_str_from(cap0);
    cf_buf_init(&r->scratch, 1024);
    cf_buf_init(&r->out, 4 * CF_MAX_BODY_BYTES);
    return r;
}

/* ---------------- form parsing ---------------- */

static cf_err parse(const char *body, const char *authz, struct authority_form *f,
                    struct cf_token_error *te, struct cf_buf *s, struct cf_buf *b)
{
    size_t room = strlen(body) + (authz ? strlen(authz) : 0) + 16;
    cf_buf_init(s, room);
    cf_buf_init(b, room);
    memset(te, 0, sizeof(*te));
    return form_parse(cf_str_from(body), authz, s, b, f, te);
}

static void form_js_body(void **state)
{
    (void)state;
    struct authority_form f;
    struct cf_token_error te;
    struct cf_buf s, b;
    const char *body = "client_id=app-id-1&scope=https%3A%2F%2Fvault.localhost%2F.default"
                       "&grant_type=client_credentials&x-client-SKU=msal.js.node&x-client-VER=5.6.0"
                       "&x-ms-lib-capability=retry-after%2C%20h429&client-request-id=abc"
                       "&client_secret=s3cr%2Bt+x&claims=%7B%22access_token%22%7D&&=&novalue";

    assert_int_equal(parse(body, NULL, &f, &te, &s, &b), CF_OK);
    assert_true(cf_str_eq_cstr(f.client_id, "app-id-1"));
    assert_true(cf_str_eq_cstr(f.scope, "https://vault.localhost/.default"));
    assert_true(cf_str_eq_cstr(f.grant_type, "client_credentials"));
    assert_true(cf_str_eq_cstr(f.client_secret, "s3cr+t x"));
    assert_null(f.client_assertion.p);
    assert_false(f.basic);
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);
}

static void form_rejects_duplicates_and_bad_escapes(void **state)
{
    (void)state;
    struct authority_form f;
    struct cf_token_error te;
    struct cf_buf s, b;

    assert_int_equal(parse("scope=a&scope=b", NULL, &f, &te, &s, &b), CF_EBADPARAM);
    assert_string_equal(te.error, "invalid_request");
    assert_int_equal(te.http_status, 400);
    assert_non_null(strstr(te.description, "'scope' is given more than once"));
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    assert_int_equal(parse("client_secret=ab%zz", NULL, &f, &te, &s, &b), CF_EBADPARAM);
    assert_non_null(strstr(te.description, "client_secret"));
    assert_null(strstr(te.description, "ab")); /* the value is never echoed */
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    assert_int_equal(parse("a%2=b", NULL, &f, &te, &s, &b), CF_EBADPARAM);
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    /* unknown parameters may repeat */
    assert_int_equal(parse("x=1&x=2&client_id=c", NULL, &f, &te, &s, &b), CF_OK);
    assert_true(cf_str_eq_cstr(f.client_id, "c"));
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);
}

static void form_http_basic(void **state)
{
    (void)state;
    struct authority_form f;
    struct cf_token_error te;
    struct cf_buf s, b;

    /* base64("app%3A1:s3%3Acr3t") : both halves percent-decoded */
    assert_int_equal(parse("grant_type=client_credentials&scope=x%2F.default",
                           "Basic YXBwJTNBMTpzMyUzQWNyM3Q=", &f, &te, &s, &b),
                     CF_OK);
    assert_true(f.basic);
    assert_true(cf_str_eq_cstr(f.client_id, "app:1"));
    assert_true(cf_str_eq_cstr(f.client_secret, "s3:cr3t"));
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    /* a matching client_id in the body is fine */
    assert_int_equal(parse("client_id=app%3A1", "basic YXBwJTNBMTpzMyUzQWNyM3Q=", &f, &te, &s, &b),
                     CF_OK);
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    /* a different one is not */
    assert_int_equal(parse("client_id=other", "Basic YXBwJTNBMTpzMyUzQWNyM3Q=", &f, &te, &s, &b),
                     CF_EBADCLIENT);
    assert_string_equal(te.error, "invalid_client");
    assert_int_equal(te.http_status, 401);
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    /* credentials both ways */
    assert_int_equal(parse("client_secret=x", "Basic YXBwJTNBMTpzMyUzQWNyM3Q=", &f, &te, &s, &b),
                     CF_EBADPARAM);
    assert_int_equal(te.http_status, 400);
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    /* no colon, and not base64 */
    assert_int_equal(parse("", "Basic YWJj", &f, &te, &s, &b), CF_EBADCLIENT); /* "abc" */
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);
    assert_int_equal(parse("", "Basic !!!", &f, &te, &s, &b), CF_EBADCLIENT);
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);

    /* a Bearer header is not client authentication */
    assert_int_equal(parse("client_id=c", "Bearer abc", &f, &te, &s, &b), CF_OK);
    assert_false(f.basic);
    cf_buf_wipe(&s);
    cf_buf_wipe(&b);
}

static void content_types(void **state)
{
    (void)state;
    assert_true(content_type_is_form("application/x-www-form-urlencoded"));
    assert_true(content_type_is_form("application/x-www-form-urlencoded;charset=utf-8"));
    assert_true(content_type_is_form("Application/X-WWW-Form-Urlencoded ; charset=UTF-8"));
    assert_false(content_type_is_form(NULL));
    assert_false(content_type_is_form("application/json"));
    assert_false(content_type_is_form("application/x-www-form-urlencodedx"));
    assert_false(content_type_is_form(""));
}

/* ---------------- token endpoint ---------------- */

static const char *const GOOD_BODY =
    "client_id=app-id-1&grant_type=client_credentials&client_info=1&client_secret=s3cr3t"
    "&scope=https%3A%2F%2Fmanagement.localhost%2F%2F.default";

static void token_success(void **state)
{
    (void)state;
    api_token(req("T", GOOD_BODY));
    assert_int_equal(got.status, 200);
    assert_string_equal(got.body, "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                                  "\"ext_expires_in\":3599,\"access_token\":\"eyJ.fake.jwt\"}");
    assert_string_equal(got.cache_control, "no-store");
    assert_int_equal(fa.calls, 1);
    assert_string_equal(fa.tenant, "T");
    assert_string_equal(fa.grant, "client_credentials");
    assert_string_equal(fa.client_id, "app-id-1");
    assert_string_equal(fa.secret, "s3cr3t");
    assert_string_equal(fa.scope, "https://management.localhost//.default");
}

static void token_adfs_route_uses_adfs_tenant(void **state)
{
    (void)state;
    hdr.authorization = "Basic YXBwLWlkLTE6czNjcjN0"; /* app-id-1:s3cr3t */
    api_token(req(NULL, "grant_type=client_credentials&scope=https%3A%2F%2Fv%2F.default"));
    assert_int_equal(got.status, 200);
    assert_string_equal(fa.tenant, "adfs");
    assert_string_equal(fa.client_id, "app-id-1");
    assert_string_equal(fa.secret, "s3cr3t");
}

static void token_requires_form_content_type(void **state)
{
    (void)state;
    hdr.content_type = NULL;
    api_token(req("T", GOOD_BODY));
    assert_int_equal(got.status, 400);
    assert_non_null(strstr(got.body, "\"error\":\"invalid_request\""));
    assert_int_equal(fa.calls, 0);

    got.replied = false;
    hdr.content_type = "application/json";
    api_token(req("T", "{\"client_id\":\"a\",\"client_secret\":\"s3cr3t\"}"));
    assert_int_equal(got.status, 400);
    assert_non_null(strstr(got.body, "\"error\":\"invalid_request\""));
    assert_null(strstr(got.body, "s3cr3t"));
    assert_int_equal(fa.calls, 0);
}

static void token_auth_error_entra_shape(void **state)
{
    (void)state;
    struct cf_json *j = NULL;
    const char *ts, *trace, *corr;
    int64_t code;

    fa.err = CF_EBADCLIENT;
    fa.te.error = "invalid_client";
    fa.te.http_status = 401;
    fa.te.aadsts = 7000215;
    snprintf(fa.te.description, sizeof(fa.te.description),
             "AADSTS7000215: Invalid client secret provided.");
    hdr.client_request_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    api_token(req("T", GOOD_BODY));
    assert_int_equal(got.status, 401);
    assert_string_equal(got.cache_control, "no-store");
    assert_null(strstr(got.body, "s3cr3t"));
    assert_int_equal(cf_json_parse(got.body, strlen(got.body), &j, NULL, 0), CF_OK);
    assert_string_equal(cf_json_str(cf_json_get(j, "error"), NULL), "invalid_client");
    assert_string_equal(cf_json_str(cf_json_get(j, "error_description"), NULL),
                        "AADSTS7000215: Invalid client secret provided.");
    assert_int_equal(cf_json_size(cf_json_get(j, "error_codes")), 1);
    assert_true(cf_json_int(cf_json_at(cf_json_get(j, "error_codes"), 0), &code));
    assert_int_equal(code, 7000215);
    ts = cf_json_str(cf_json_get(j, "timestamp"), NULL);
    assert_string_equal(ts, "2026-12-04 22:23:44Z");
    trace = cf_json_str(cf_json_get(j, "trace_id"), NULL);
    assert_true(looks_like_uuid(trace));
    corr = cf_json_str(cf_json_get(j, "correlation_id"), NULL);
    assert_string_equal(corr, "0f8fad5b-d9cb-469f-a165-70867728950e");
    cf_json_free(j);
}

static void token_error_status_and_fallbacks(void **state)
{
    (void)state;
    /* A client assertion goes to auth with its type and the endpoint URL the client used
     * (https + Host + path, never the query). */
    the_http.path = CF_STR("/T/oauth2/v2.0/token");
    the_http.query = CF_STR("client-request-id=x");
    api_token(req("T", "client_id=a&client_assertion=eyJ&client_assertion_type=jwt-bearer&"
                       "grant_type=client_credentials&scope=x%2F.default"));
    assert_int_equal(got.status, 200);
    assert_int_equal(fa.calls, 1);
    assert_string_equal(fa.assertion, "eyJ");
    assert_string_equal(fa.assertion_type, "jwt-bearer");
    assert_string_equal(fa.secret, "");
    assert_string_equal(fa.endpoint, "https://login.localhost:8443/T/oauth2/v2.0/token");
    fa.calls = 0;
    the_http.query = CF_STR("");

    /* A junk client-request-id is not echoed. */
    got.replied = false;
    hdr.client_request_id = "not-a-uuid\"<>";
    fa.err = CF_EBADPARAM;
    fa.te.error = "unsupported_grant_type";
    fa.te.http_status = 400;
    fa.te.aadsts = 70003;
    snprintf(fa.te.description, sizeof(fa.te.description), "AADSTS70003: nope");
    api_token(req("T", "grant_type=password&client_secret=s3cr3t"));
    assert_int_equal(got.status, 400);
    assert_null(strstr(got.body, "not-a-uuid"));
    assert_null(strstr(got.body, "s3cr3t"));
    assert_non_null(strstr(got.body, "\"error_codes\":[70003]"));
}

/* ---------------- discovery and keys ---------------- */

static void discovery_tenant(void **state)
{
    (void)state;
    api_oidc_config(req("T", NULL));
    assert_int_equal(got.status, 200);
    assert_string_equal(
        got.body,
        "{\"issuer\":\"https://login.localhost:8443/T/v2.0\","
        "\"authorization_endpoint\":\"https://login.localhost:8443/T/oauth2/v2.0/authorize\","
        "\"token_endpoint\":\"https://login.localhost:8443/T/oauth2/v2.0/token\","
        "\"device_authorization_endpoint\":\"https://login.localhost:8443/T/oauth2/v2.0/"
        "devicecode\","
        "\"jwks_uri\":\"https://login.localhost:8443/T/discovery/v2.0/keys\","
        "\"token_endpoint_auth_methods_supported\":[\"client_secret_post\",\"private_key_jwt\","
        "\"client_secret_basic\"],"
        "\"response_types_supported\":[\"code\",\"id_token\",\"code id_token\",\"id_token "
        "token\"],"
        "\"response_modes_supported\":[\"query\",\"fragment\",\"form_post\"],"
        "\"subject_types_supported\":[\"pairwise\"],"
        "\"id_token_signing_alg_values_supported\":[\"RS256\"],"
        "\"scopes_supported\":[\"openid\",\"profile\",\"email\",\"offline_access\"],"
        "\"claims_supported\":[\"sub\",\"iss\",\"aud\",\"exp\",\"iat\",\"tid\",\"oid\"],"
        "\"tenant_region_scope\":\"NA\",\"cloud_instance_name\":\"localhost\"}");
}

static void discovery_alias_and_unknown(void **state)
{
    (void)state;
    fa.default_tenant = "72f988bf-0000-4000-8000-000000000001";
    api_oidc_config(req("organizations", NULL));
    assert_int_equal(got.status, 200);
    assert_non_null(strstr(got.body, "\"issuer\":\"https://login.localhost:8443/"
                                     "72f988bf-0000-4000-8000-000000000001/v2.0\""));
    assert_non_null(strstr(got.body, "\"token_endpoint\":\"https://login.localhost:8443/"
                                     "72f988bf-0000-4000-8000-000000000001/oauth2/v2.0/token\""));

    got.replied = false;
    api_oidc_config(req("nobody", NULL));
    assert_int_equal(got.status, 400);
    assert_non_null(strstr(got.body, "\"error\":\"invalid_tenant\""));
    assert_non_null(strstr(got.body, "AADSTS90002: Tenant 'nobody' not found"));
    assert_non_null(strstr(got.body, "\"error_codes\":[90002]"));

    /* no default tenant: the alias is unknown */
    got.replied = false;
    fa.default_tenant = NULL;
    api_oidc_config(req("common", NULL));
    assert_int_equal(got.status, 400);

    /* odd characters are not echoed */
    got.replied = false;
    api_oidc_config(req("a\"<b>", NULL));
    assert_int_equal(got.status, 400);
    assert_null(strstr(got.body, "<b>"));
}

static void discovery_adfs(void **state)
{
    (void)state;
    api_oidc_config_adfs(req(NULL, NULL));
    assert_int_equal(got.status, 200);
    assert_non_null(strstr(got.body, "{\"issuer\":\"https://login.localhost:8443/adfs\","
                                     "\"authorization_endpoint\":\"https://login.localhost:8443/"
                                     "adfs/oauth2/authorize\","
                                     "\"token_endpoint\":\"https://login.localhost:8443/adfs/"
                                     "oauth2/token\","));
    assert_non_null(strstr(got.body, "\"jwks_uri\":\"https://login.localhost:8443/adfs/"
                                     "discovery/keys\""));
    assert_null(strstr(got.body, "v2.0"));

    /* /adfs/{anything}/... serves the same document */
    got.replied = false;
    api_oidc_config_adfs(req("whatever", NULL));
    assert_int_equal(got.status, 200);
    assert_non_null(strstr(got.body, "\"token_endpoint\":\"https://login.localhost:8443/adfs/"
                                     "oauth2/token\""));
}

static void discovery_without_port(void **state)
{
    (void)state;
    struct api_req *r = req("T", NULL);
    r->hostname = CF_STR("login.example.test");
    r->port = CF_STR("");
    api_oidc_config(r);
    assert_non_null(strstr(got.body, "\"issuer\":\"https://login.example.test/T/v2.0\""));
}

static void jwks(void **state)
{
    (void)state;
    api_jwks(req("T", NULL));
    assert_int_equal(got.status, 200);
    assert_string_equal(got.body, "{\"keys\":[{\"kty\":\"EC\"}]}");
}

static void signing_key_list(void **state)
{
    struct cf_json *root = NULL;
    const struct cf_json *v, *p;

    (void)state;
    fk.nkeys = 2;
    api_signing_key_list(req(NULL, NULL));
    assert_int_equal(got.status, 200);
    assert_int_equal(cf_json_parse(got.body, strlen(got.body), &root, NULL, 0), CF_OK);
    v = cf_json_get(root, "value");
    assert_int_equal(cf_json_size(v), 2);
    assert_string_equal(cf_json_str(cf_json_get(cf_json_at(v, 0), "id"), NULL),
                        "/providers/Microsoft.Coffer/signingKeys/kid-0");
    assert_string_equal(cf_json_str(cf_json_get(cf_json_at(v, 0), "type"), NULL),
                        "Microsoft.Coffer/signingKeys");
    p = cf_json_get(cf_json_at(v, 0), "properties");
    assert_int_equal(cf_json_type(cf_json_get(p, "active")), CF_JSON_TRUE);
    assert_int_equal(cf_json_type(cf_json_get(p, "retired")), CF_JSON_NULL);
    assert_int_equal(cf_json_type(cf_json_get(p, "retireAfter")), CF_JSON_NULL);
    assert_string_equal(cf_json_str(cf_json_get(p, "alg"), NULL), "ES256");
    assert_string_equal(cf_json_str(cf_json_get(p, "created"), NULL), "2026-12-04T22:23:44Z");
    p = cf_json_get(cf_json_at(v, 1), "properties");
    assert_int_equal(cf_json_type(cf_json_get(p, "active")), CF_JSON_FALSE);
    assert_string_equal(cf_json_str(cf_json_get(p, "retired"), NULL), "2026-12-04T22:23:34Z");
    assert_string_equal(cf_json_str(cf_json_get(p, "retireAfter"), NULL),
                        "2026-12-04T23:28:44Z");
    cf_json_free(root);
    /* more keys than the handler's array: it lists what it has room for */
    teardown(state);
    setup(state);
    fk.nkeys = 40;
    api_signing_key_list(req(NULL, NULL));
    assert_int_equal(got.status, 200);
    assert_int_equal(cf_json_parse(got.body, strlen(got.body), &root, NULL, 0), CF_OK);
    assert_int_equal(cf_json_size(cf_json_get(root, "value")), 16);
    cf_json_free(root);
}

static void signing_key_rotate(void **state)
{
    struct cf_json *root = NULL;

    (void)state;
    api_signing_key_rotate(req(NULL, NULL));
    assert_int_equal(got.status, 200);
    assert_int_equal(fk.rotations, 1);
    assert_int_equal(cf_json_parse(got.body, strlen(got.body), &root, NULL, 0), CF_OK);
    assert_string_equal(cf_json_str(cf_json_get(root, "name"), NULL), "new-kid");
    cf_json_free(root);
    teardown(state);
    setup(state);
    fk.rotate_err = CF_ESTORE;
    api_signing_key_rotate(req(NULL, NULL));
    assert_int_equal(got.status, 500);
    assert_int_equal(fk.rotations, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(form_js_body, setup, teardown),
        cmocka_unit_test_setup_teardown(form_rejects_duplicates_and_bad_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(form_http_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(content_types, setup, teardown),
        cmocka_unit_test_setup_teardown(token_success, setup, teardown),
        cmocka_unit_test_setup_teardown(token_adfs_route_uses_adfs_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(token_requires_form_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(token_auth_error_entra_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(token_error_status_and_fallbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(discovery_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(discovery_alias_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(discovery_adfs, setup, teardown),
        cmocka_unit_test_setup_teardown(discovery_without_port, setup, teardown),
        cmocka_unit_test_setup_teardown(jwks, setup, teardown),
        cmocka_unit_test_setup_teardown(signing_key_list, setup, teardown),
        cmocka_unit_test_setup_teardown(signing_key_rotate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

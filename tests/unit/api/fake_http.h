/* fake_http.h - the harness the api unit tests share: a fake HTTP layer and a fixture that runs
 * cf_api_handle with the real route table, handlers, vault, auth, RBAC and a SQLite store in a
 * temp dir.
 *
 * Map: struct fake_req and the two HTTP functions the API calls (cf_http_header,
 * cf_http_respond: defined here, so the linker never pulls src/http's - include this header
 * from exactly one .c of a test executable, which every tests/unit/api/test_*.c is); struct fx
 * with fx_setup()/teardown(); mint()/mint_as() for tokens; fake_req_new()/fake_req_send() to
 * build and send a request, call_as() for any request, call_on() and call() for the data
 * plane's shorthand; done(); jget()/jstr() on the parsed body; expect()
 * and expect_code() to check a status and Azure error code.
 *
 * The helpers are static inline so a test file that uses only some of them still builds with
 * -Werror (-Wunused-function does not fire on inline functions). */
#ifndef CF_TEST_API_FAKE_HTTP_H
#define CF_TEST_API_FAKE_HTTP_H

#include "base/cf.h"
#include "api/api.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/rbac.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "store/store.h"
#include "vault/vault.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#define SUFFIX "vault.localhost"
#define PORT ":8443"
#define V1 "vone." SUFFIX PORT /* the vaults most tests make */
#define V2 "vtwo." SUFFIX PORT

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
    char *body; /* NUL-terminated copy, body_len bytes before the NUL */
    size_t body_len;
    char headers[4096];   /* "Name: value\n" per response header */
    struct cf_json *json; /* the parsed body, when it is JSON */
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
    free(f->body);
    f->body = malloc(len + 1);
    assert_non_null(f->body);
    if (body && len)
        memcpy(f->body, body, len);
    f->body[len] = '\0';
    f->body_len = len;
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
    const char *host;       /* call()'s host and call_on()'s default query (fx_opts) */
    const char *query;
    /* an audit log, for the tests that make one (fx_opts.make_api); closed by teardown() */
    char adir[96];
    unsigned char mac[32];
    struct cf_audit *audit;
};

/* What differs between the test files' fixtures. */
struct fx_opts {
    const char *tag;                /* names the temp dir: /tmp/cf-<tag>-XXXXXX */
    const char *vaults[4];          /* created in the test's subscription (rg, RBAC, soft delete) */
    const char *host;               /* for call() */
    const char *query;              /* for call_on() and call() when they are given none */
    void (*make_api)(struct fx *f); /* makes f->api instead of the plain one (NULL: plain) */
};

static inline void mint_as(struct fx *f, const char *client_id, const char *secret,
                           const char *scope, char *out, size_t outlen)
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

static inline void mint(struct fx *f, const char *scope, char *out, size_t outlen)
{
    mint_as(f, f->client_id, f->secret, scope, out, outlen);
}

static inline void make_vault(struct fx *f, const char *name)
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
    in.retention_days = 90;
    in.soft_delete = true;
    in.rbac = true;
    assert_int_equal(cf_vault_put(f->vault, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
}

/* The members of the api config every fixture uses (pool of 2), for a compound literal that
 * may add more: &(struct cf_api_config){FX_API_CONFIG(f), .audit = ...}. */
#define FX_API_CONFIG(f)                                                                           \
    .vault = (f)->vault, .auth = (f)->auth, .rbac = (f)->rbac, .clock = &(f)->clock,               \
    .dns_suffix = SUFFIX, .login_host = "login.localhost",                                         \
    .management_host = "management.localhost", .subscription_id = (f)->sub,                        \
    .tenant_id = (f)->tenant, .pool_threads = 2

/* A cmocka setup: a fresh store, auth with one service principal that is the server's
 * administrator (as the bootstrap admin is), the vaults of o, the API, and both bearers. */
static inline int fx_setup(void **state, const struct fx_opts *o)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts so = {0};
    char db[128];
    cf_err e;

    assert_non_null(f);
    f->host = o->host;
    f->query = o->query;
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-%s-XXXXXX", o->tag);
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
    for (size_t i = 0; i < CF_ARRAY_LEN(o->vaults) && o->vaults[i]; i++)
        make_vault(f, o->vaults[i]);
    f->rbac = cf_rbac_new(f->store, &f->clock, &e);
    assert_non_null(f->rbac);
    assert_int_equal(
        cf_rbac_ensure_assignment(f->rbac, "/", CF_ROLE_OWNER, f->oid, "ServicePrincipal"), CF_OK);
    assert_int_equal(cf_rbac_ensure_assignment(f->rbac, "/", CF_ROLE_KV_ADMINISTRATOR, f->oid,
                                               "ServicePrincipal"),
                     CF_OK);
    if (o->make_api)
        o->make_api(f);
    else
        f->api = cf_api_new(&(struct cf_api_config){FX_API_CONFIG(f)}, &e);
    assert_non_null(f->api);
    mint(f, "https://" SUFFIX PORT "/.default", f->bearer, sizeof(f->bearer));
    mint(f, "https://management.localhost" PORT "/.default", f->mgmt_bearer,
         sizeof(f->mgmt_bearer));
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cf_api_free(f->api);
    cf_rbac_free(f->rbac);
    cf_vault_svc_free(f->vault);
    cf_auth_free(f->auth);
    cf_store_close(f->store);
    cf_audit_close(f->audit); /* NULL-safe */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---------------- requests ---------------- */

/* A request from 127.0.0.1 with the Authorization header (none when auth is NULL) and an
 * x-ms-client-request-id; query "" when NULL. Room for six more headers. */
static inline struct fake_req *fake_req_new(enum cf_http_method m, const char *host,
                                            const char *path, const char *query, const char *auth,
                                            const char *body)
{
    struct fake_req *r = calloc(1, sizeof(*r));
    assert_non_null(r);
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
    return r;
}

/* Hands r to the API and waits for its first answer (it may come from another thread). */
static inline void fake_req_send(struct fx *f, struct fake_req *r)
{
    cf_api_handle(&r->req, f->api);
    pthread_mutex_lock(&r->mu);
    while (!r->answered)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

/* Sends one request and waits for its one answer, parsing a JSON body. auth is the
 * Authorization header (none when NULL); query "" when NULL. */
static inline struct fake_req *call_as(struct fx *f, enum cf_http_method m, const char *host,
                                       const char *path, const char *query, const char *auth,
                                       const char *body)
{
    struct fake_req *r = fake_req_new(m, host, path, query, auth, body);
    fake_req_send(f, r);
    usleep(1000); /* a second answer would arrive now */
    assert_int_equal(r->answers, 1);
    if (r->body_len && cf_json_parse(r->body, r->body_len, &r->json, NULL, 0) != CF_OK)
        r->json = NULL;
    return r;
}

/* The data plane's shorthand: f->bearer, and the fixture's query when query is NULL. */
static inline struct fake_req *call_on(struct fx *f, const char *host, enum cf_http_method m,
                                       const char *path, const char *query, const char *body)
{
    return call_as(f, m, host, path, query ? query : f->query, f->bearer, body);
}

/* ... and the fixture's host. */
static inline struct fake_req *call(struct fx *f, enum cf_http_method m, const char *path,
                                    const char *body)
{
    return call_on(f, f->host, m, path, NULL, body);
}

static inline void done(struct fake_req *r)
{
    cf_json_free(r->json);
    free(r->body);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* ---------------- checks ---------------- */

/* The JSON value at a dotted path ("key.kid", "error.innererror.code"), NULL when absent. */
static inline const struct cf_json *jget(const struct fake_req *r, const char *path)
{
    const struct cf_json *j = r->json;
    char part[64];

    while (j && *path) {
        size_t n = strcspn(path, ".");
        snprintf(part, sizeof(part), "%.*s", (int)n, path);
        j = cf_json_get(j, part);
        path += n + (path[n] == '.');
    }
    return j;
}

/* The string at a dotted path, "" when there is none. */
static inline const char *jstr(const struct fake_req *r, const char *path)
{
    const char *s = cf_json_str(jget(r, path), NULL);
    return s ? s : "";
}

/* Checks status and (when given) error.code and innererror.code, then frees r. */
static inline void expect(struct fake_req *r, int status, const char *code, const char *inner)
{
    if (r->status != status || (code && strcmp(jstr(r, "error.code"), code) != 0) ||
        (inner && strcmp(jstr(r, "error.innererror.code"), inner) != 0))
        fail_msg("expected %d %s/%s, got %d: %s", status, code ? code : "", inner ? inner : "",
                 r->status, r->body);
    done(r);
}

/* Checks status and (when given) error.code, then frees r. */
static inline void expect_code(struct fake_req *r, int status, const char *code)
{
    expect(r, status, code, NULL);
}

/* The version at the end of a kid / id. */
static inline const char *ver_of(const char *kid)
{
    const char *s = strrchr(kid, '/');
    return s ? s + 1 : "";
}

#endif

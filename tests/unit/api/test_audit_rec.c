/* test_audit_rec.c - the audit record of every request (audit_rec.c) through the api's public
 * entry, cf_api_handle, with the real route table, handlers, vault, auth, RBAC, a SQLite store
 * and a real audit log in a temp dir; only the HTTP layer is replaced (as test_dispatch.c).
 * Covers: the fields of read, write, refused (401, 403, 404, 400) and management records; the
 * write record carried by the store's outbox and drained into the log; no secret value, query,
 * body excerpt, client secret or token in any record; fail closed (an unwritable log turns a
 * read into 503, refuses writes with 503 and changes nothing, and recovers); outbox rows of an
 * earlier run drained at start-up, idempotently; rows kept compact in the outbox and chained
 * as full JSON (older full-JSON rows too; a row that does not expand is skipped); the chain
 * verifies afterwards. */
#include "base/cf.h"
#include "api/internal.h"
#include "audit/audit.h"
#include "base/codec.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fake_http.h"

#define MGMT "management.localhost" PORT
#define LOGIN "login.localhost" PORT
#define CRID "11111111-2222-3333-4444-555555555555" /* fake_req_new()'s request id */
#define MARK "Zq8pLmN3vX7tR2wK9sJ4hF6d" /* stands for a secret: must appear in no record */

/* ---------------- audit I/O that can be made to fail ---------------- */

static int g_fail_writes; /* atomic: the audit log's writes fail with ENOSPC */
static int g_worker;      /* the HTTP worker the next request arrives on */

static ssize_t io_pwrite(void *ctx, int fd, const void *p, size_t n, off_t off)
{
    (void)ctx;
    if (__atomic_load_n(&g_fail_writes, __ATOMIC_ACQUIRE)) {
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, p, n, off);
}

static int io_fsync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd);
}

static const struct cf_audit_io fail_io = {io_pwrite, io_fsync, NULL};

static void open_audit(struct fx *f)
{
    struct cf_audit_config ac = {
        .dir = f->adir, .mac_key = f->mac, .node_id = "n1", .io = &fail_io};
    cf_err e;
    f->audit = cf_audit_open(&ac, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(f->audit);
}

static void new_api(struct fx *f)
{
    cf_err e;
    f->api = cf_api_new(&(struct cf_api_config){FX_API_CONFIG(f), .audit = &f->audit,
                                                .audit_lanes = 1, .store = f->store},
                        &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(f->api);
}

/* fx_setup()'s make_api: the audit log in <dir>/audit (writes through fail_io) and the API
 * that records into it. */
static void audit_api(struct fx *f)
{
    snprintf(f->adir, sizeof(f->adir), "%s/audit", f->dir);
    assert_int_equal(mkdir(f->adir, 0700), 0);
    assert_int_equal(cf_random(f->mac, sizeof(f->mac)), CF_OK);
    open_audit(f);
    new_api(f);
}

static int setup(void **state)
{
    __atomic_store_n(&g_fail_writes, 0, __ATOMIC_RELEASE);
    return fx_setup(
        state, &(struct fx_opts){.tag = "auditrec", .vaults = {"vone"}, .make_api = audit_api});
}

static int audit_teardown(void **state)
{
    __atomic_store_n(&g_fail_writes, 0, __ATOMIC_RELEASE);
    return teardown(state);
}

/* ---------------- requests ---------------- */

/* Sends one request and waits for its answer; returns the status, body in out (optional). */
static int call_h(struct fx *f, enum cf_http_method m, const char *host, const char *path,
                  const char *query, const char *auth, const char *body, const char *ua, char *out,
                  size_t outn)
{
    struct fake_req *r = fake_req_new(m, host, path, query, auth, body);
    int status;

    snprintf(r->req.peer_ip, sizeof(r->req.peer_ip), "192.0.2.7");
    r->req.worker = g_worker;
    r->hdr_names[r->nhdr] = "User-Agent";
    r->hdr_values[r->nhdr++] = ua ? ua : "unit-test/1.0";
    r->hdr_names[r->nhdr] = "Content-Type";
    r->hdr_values[r->nhdr++] =
        strstr(host, "login.") == host ? "application/x-www-form-urlencoded" : "application/json";
    fake_req_send(f, r);
    status = r->status;
    if (out) {
        size_t n = CF_MIN(strlen(r->body), outn - 1);
        memcpy(out, r->body, n);
        out[n] = '\0';
    }
    done(r);
    return status;
}

/* call_h() with the default User-Agent, for the status only (fake_http.h has call()). */
static int call_st(struct fx *f, enum cf_http_method m, const char *host, const char *path,
                   const char *query, const char *auth, const char *body)
{
    return call_h(f, m, host, path, query, auth, body, NULL, NULL, 0);
}

/* ---------------- reading the log ---------------- */

#define MAX_RECS 256
struct recs {
    size_t n;
    char *line[MAX_RECS];
};

static bool collect(void *ctx, const char *line, size_t len, const struct cf_json *rec)
{
    struct recs *rs = ctx;
    (void)rec;
    if (rs->n < MAX_RECS)
        rs->line[rs->n++] = cf_str_dup((struct cf_str){line, len});
    return true;
}

static void recs_free(struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->line[i]);
    rs->n = 0;
}

static void read_recs(struct fx *f, struct recs *rs)
{
    memset(rs, 0, sizeof(*rs));
    assert_int_equal(cf_audit_read(f->adir, NULL, collect, rs), CF_OK);
}

static const char *sget(const struct cf_json *j, const char *path1, const char *path2)
{
    const struct cf_json *v = cf_json_get(j, path1);
    if (path2)
        v = cf_json_get(v, path2);
    return cf_json_str(v, NULL);
}

static int64_t status_of(const struct cf_json *j)
{
    int64_t s = 0;
    (void)cf_json_int(cf_json_get(cf_json_get(j, "properties"), "httpStatusCode"), &s);
    return s;
}

/* The newest record with this operationName and status, waiting up to 3 s (write records
 * reach the log through the drainer). The caller frees the result. */
static struct cf_json *find(struct fx *f, const char *op, int status)
{
    for (int tries = 0; tries < 300; tries++) {
        struct recs rs;
        struct cf_json *hit = NULL;
        read_recs(f, &rs);
        for (size_t i = rs.n; i-- > 0 && !hit;) {
            struct cf_json *j = NULL;
            if (cf_json_parse(rs.line[i], strlen(rs.line[i]), &j, NULL, 0) != CF_OK)
                continue;
            if (strcmp(sget(j, "operationName", NULL), op) == 0 && status_of(j) == status)
                hit = j;
            else
                cf_json_free(j);
        }
        recs_free(&rs);
        if (hit)
            return hit;
        usleep(10000);
    }
    fail_msg("no %s record with status %d", op, status);
    return NULL;
}

static size_t count_op(struct fx *f, const char *op)
{
    struct recs rs;
    size_t n = 0;
    char want[96];
    snprintf(want, sizeof(want), "\"operationName\":\"%s\"", op);
    read_recs(f, &rs);
    for (size_t i = 0; i < rs.n; i++)
        n += strstr(rs.line[i], want) != NULL;
    recs_free(&rs);
    return n;
}

/* Every byte of every file in the audit dir, for the "never in a record" checks. */
static bool log_contains(struct fx *f, const char *needle)
{
    DIR *d = opendir(f->adir);
    struct dirent *de;
    bool found = false;
    assert_non_null(d);
    while (!found && (de = readdir(d))) {
        char path[512], buf[1 << 16];
        size_t n;
        FILE *fp;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", f->adir, de->d_name);
        fp = fopen(path, "rb");
        assert_non_null(fp);
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        found = memmem(buf, n, needle, strlen(needle)) != NULL;
    }
    closedir(d);
    return found;
}

static void wait_outbox_empty(struct fx *f)
{
    int64_t n = -1;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(cf_store_outbox_count(f->store, &n), CF_OK);
        if (n == 0)
            return;
        usleep(10000);
    }
    fail_msg("the outbox still holds %lld rows", (long long)n);
}

/* ---------------- tests ---------------- */

static void read_record_fields(void **state)
{
    struct fx *f = *state;
    char want_rid[256], want_id[128];
    struct cf_json *j;
    bool b = false;

    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/alpha", "api-version=7.5", f->bearer,
                             "{\"value\":\"v1\"}"),
                     200);
    assert_int_equal(call_h(f, CF_HTTP_GET, V1, "/secrets/alpha", "api-version=7.5", f->bearer,
                            NULL, "azsdk-python-keyvault-secrets/4.8.0", NULL, 0),
                     200);
    j = find(f, "SecretGet", 200);
    snprintf(want_rid, sizeof(want_rid),
             "/SUBSCRIPTIONS/%s/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/VONE",
             f->sub);
    for (char *p = want_rid; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    assert_string_equal(sget(j, "resourceId", NULL), want_rid);
    assert_string_equal(sget(j, "operationVersion", NULL), "7.5");
    assert_string_equal(sget(j, "category", NULL), "AuditEvent");
    assert_string_equal(sget(j, "resultType", NULL), "Success");
    assert_string_equal(sget(j, "resultSignature", NULL), "OK");
    assert_string_equal(sget(j, "resultDescription", NULL), "");
    assert_string_equal(sget(j, "callerIpAddress", NULL), "192.0.2.7");
    assert_string_equal(sget(j, "correlationId", NULL), CRID);
    assert_non_null(sget(j, "durationMs", NULL));
    assert_string_equal(sget(cf_json_get(j, "identity"), "claim",
                             "http://schemas.microsoft.com/identity/claims/objectidentifier"),
                        f->oid);
    assert_string_equal(sget(cf_json_get(j, "identity"), "claim", "appid"), f->client_id);
    /* Azure's claims: objectidentifier, upn, appid - no tenantid (reference §5.4) */
    assert_null(sget(cf_json_get(j, "identity"), "claim",
                     "http://schemas.microsoft.com/identity/claims/tenantid"));
    snprintf(want_id, sizeof(want_id), "https://" V1 "/secrets/alpha");
    assert_string_equal(sget(j, "properties", "id"), want_id);
    assert_string_equal(sget(j, "properties", "requestUri"), want_id); /* no query */
    assert_string_equal(sget(j, "properties", "clientInfo"), "azsdk-python-keyvault-secrets/4.8.0");
    assert_true(cf_json_bool(cf_json_get(cf_json_get(j, "properties"), "isRbacAuthorized"), &b));
    assert_true(b);
    cf_json_free(j);

    /* a version in the path is part of the object id */
    {
        char body[4096], path[128], ver[64] = "";
        const char *id;
        struct cf_json *g = NULL;
        assert_int_equal(call_h(f, CF_HTTP_GET, V1, "/secrets/alpha", "api-version=7.5", f->bearer,
                                NULL, NULL, body, sizeof(body)),
                         200);
        assert_int_equal(cf_json_parse(body, strlen(body), &g, NULL, 0), CF_OK);
        id = cf_json_str(cf_json_get(g, "id"), NULL);
        snprintf(ver, sizeof(ver), "%s", strrchr(id, '/') + 1);
        cf_json_free(g);
        snprintf(path, sizeof(path), "/secrets/alpha/%s", ver);
        assert_int_equal(call_st(f, CF_HTTP_GET, V1, path, "api-version=7.5", f->bearer, NULL),
                         200);
        j = find(f, "SecretGet", 200);
        snprintf(want_id, sizeof(want_id), "https://" V1 "/secrets/alpha/%s", ver);
        assert_string_equal(sget(j, "properties", "id"), want_id);
        cf_json_free(j);
    }
    /* a list: the vault's URI */
    assert_int_equal(
        call_st(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5&maxresults=5", f->bearer, NULL),
        200);
    j = find(f, "SecretList", 200);
    assert_string_equal(sget(j, "properties", "id"), "https://" V1 "/");
    assert_string_equal(sget(j, "properties", "requestUri"), "https://" V1 "/secrets");
    cf_json_free(j);
}

static void write_record_through_outbox(void **state)
{
    struct fx *f = *state;
    struct cf_json *j;
    struct cf_audit_stats st;

    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/beta", "api-version=7.5", f->bearer,
                             "{\"value\":\"" MARK "\"}"),
                     200);
    j = find(f, "SecretSet", 200);
    assert_string_equal(sget(j, "resultSignature", NULL), "OK");
    assert_string_equal(sget(j, "properties", "id"), "https://" V1 "/secrets/beta");
    assert_string_equal(sget(cf_json_get(j, "identity"), "claim", "appid"), f->client_id);
    /* it went through the outbox: its chain entry names the outbox id */
    assert_non_null(cf_json_get(cf_json_get(j, "chain"), "outbox"));
    cf_json_free(j);
    wait_outbox_empty(f);
    cf_audit_get_stats(f->audit, &st);
    assert_true(st.synced_seq >= st.seq - 1); /* drained records are synced */
    /* pool writes (delete, purge 204) too, exactly one record each */
    assert_int_equal(
        call_st(f, CF_HTTP_DELETE, V1, "/secrets/beta", "api-version=7.5", f->bearer, NULL), 200);
    j = find(f, "SecretDelete", 200);
    assert_non_null(cf_json_get(cf_json_get(j, "chain"), "outbox"));
    cf_json_free(j);
    assert_int_equal(
        call_st(f, CF_HTTP_DELETE, V1, "/deletedsecrets/beta", "api-version=7.5", f->bearer, NULL),
        204);
    j = find(f, "SecretPurge", 204);
    assert_string_equal(sget(j, "resultSignature", NULL), "NoContent");
    cf_json_free(j);
    wait_outbox_empty(f);
    assert_int_equal(count_op(f, "SecretSet"), 1);
    assert_int_equal(count_op(f, "SecretDelete"), 1);
    assert_int_equal(count_op(f, "SecretPurge"), 1);
    assert_false(log_contains(f, MARK));
}

static void refused_and_failed_requests(void **state)
{
    struct fx *f = *state;
    char cid[64], coid[37], csecret[128], cbearer[2048];
    struct cf_json *j;
    bool b = true;

    /* 401 without a token: Authentication, no identity */
    assert_int_equal(call_st(f, CF_HTTP_GET, V1, "/secrets/alpha", "api-version=7.5", NULL, NULL),
                     401);
    j = find(f, "Authentication", 401);
    assert_string_equal(sget(j, "resultSignature", NULL), "Unauthorized");
    assert_string_equal(sget(j, "resultType", NULL), "Failure");
    assert_null(cf_json_get(j, "identity"));
    assert_non_null(strstr(sget(j, "resultDescription", NULL), "AKV10000"));
    assert_true(strlen(sget(j, "resourceId", NULL)) > 0); /* the vault, resolved by name */
    cf_json_free(j);
    /* 403 for a principal without roles: its identity, isRbacAuthorized false */
    assert_int_equal(
        cf_auth_sp_create(f->auth, f->tenant, "noroles", NULL, cid, coid, csecret, sizeof(csecret)),
        CF_OK);
    mint_as(f, cid, csecret, "https://" SUFFIX PORT "/.default", cbearer, sizeof(cbearer));
    assert_int_equal(
        call_st(f, CF_HTTP_GET, V1, "/secrets/alpha", "api-version=7.5", cbearer, NULL), 403);
    j = find(f, "SecretGet", 403);
    assert_string_equal(sget(j, "resultSignature", NULL), "Forbidden");
    assert_string_equal(sget(cf_json_get(j, "identity"), "claim", "appid"), cid);
    assert_true(cf_json_bool(cf_json_get(cf_json_get(j, "properties"), "isRbacAuthorized"), &b));
    assert_false(b);
    cf_json_free(j);
    /* a refused write: one record, no outbox row, nothing written */
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/gamma", "api-version=7.5", cbearer,
                             "{\"value\":\"x\"}"),
                     403);
    j = find(f, "SecretSet", 403);
    cf_json_free(j);
    /* 404 */
    assert_int_equal(
        call_st(f, CF_HTTP_GET, V1, "/secrets/nope", "api-version=7.5", f->bearer, NULL), 404);
    j = find(f, "SecretGet", 404);
    assert_string_equal(sget(j, "resultSignature", NULL), "NotFound");
    cf_json_free(j);
    /* a write that fails validation: its record says why, never the body */
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/bad_name", "api-version=7.5", f->bearer,
                             "{\"value\":\"" MARK "\"}"),
                     400);
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/delta", "api-version=7.5", f->bearer,
                             "{\"value\":\"" MARK),
                     400);
    j = find(f, "SecretSet", 400);
    assert_string_equal(sget(j, "resultSignature", NULL), "BadRequest");
    assert_non_null(strstr(sget(j, "resultDescription", NULL), "not valid JSON"));
    cf_json_free(j);
    /* an unknown route */
    assert_int_equal(
        call_st(f, CF_HTTP_GET, V1, "/nothing/here", "api-version=7.5", f->bearer, NULL), 404);
    cf_json_free(find(f, "Unknown", 404));
    wait_outbox_empty(f);
    assert_false(log_contains(f, MARK));
}

static void management_and_token_records(void **state)
{
    struct fx *f = *state;
    char path[256], want[256], form[512], basic[256];
    struct cf_json *j;

    snprintf(path, sizeof(path),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vone",
             f->sub);
    assert_int_equal(
        call_st(f, CF_HTTP_GET, MGMT, path, "api-version=2023-07-01", f->mgmt_bearer, NULL), 200);
    j = find(f, "VaultGet", 200);
    snprintf(want, sizeof(want),
             "/SUBSCRIPTIONS/%s/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/VONE",
             f->sub);
    for (char *p = want; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    assert_string_equal(sget(j, "resourceId", NULL), want);
    assert_string_equal(sget(j, "operationVersion", NULL), "2023-07-01");
    assert_string_equal(sget(j, "properties", "id"), path);
    cf_json_free(j);

    /* the token endpoint: the client id, never the secret, the query or the token */
    snprintf(form, sizeof(form),
             "client_id=%s&client_secret=%s&grant_type=client_credentials&scope=https%%3A%%2F%%2F"
             "vault.localhost%%3A8443%%2F.default",
             f->client_id, f->secret);
    snprintf(path, sizeof(path), "/%s/oauth2/v2.0/token", f->tenant);
    {
        char body[8192];
        const char *tok;
        struct cf_json *t = NULL;
        assert_int_equal(call_h(f, CF_HTTP_POST, LOGIN, path, "client_secret=" MARK, NULL, form,
                                NULL, body, sizeof(body)),
                         200);
        assert_int_equal(cf_json_parse(body, strlen(body), &t, NULL, 0), CF_OK);
        tok = cf_json_str(cf_json_get(t, "access_token"), NULL);
        assert_non_null(tok);
        j = find(f, "TokenIssue", 200);
        assert_string_equal(sget(cf_json_get(j, "identity"), "claim", "appid"), f->client_id);
        cf_json_free(j);
        assert_false(log_contains(f, tok + 20)); /* any part of it */
        cf_json_free(t);
    }
    /* a wrong secret in HTTP Basic: the client id still named */
    {
        struct cf_buf b64;
        char cred[256];
        cf_buf_init(&b64, 1024);
        snprintf(cred, sizeof(cred), "%s:%s", f->client_id, MARK);
        assert_int_equal(cf_b64_encode(&b64, cred, strlen(cred)), CF_OK);
        snprintf(basic, sizeof(basic), "Basic %s", b64.data);
        cf_buf_release(&b64);
    }
    assert_int_equal(call_st(f, CF_HTTP_POST, LOGIN, path, NULL, basic,
                             "grant_type=client_credentials&scope=https%3A%2F%2Fvault.localhost%3A"
                             "8443%2F.default"),
                     401);
    j = find(f, "TokenIssue", 401);
    assert_string_equal(sget(cf_json_get(j, "identity"), "claim", "appid"), f->client_id);
    cf_json_free(j);
    wait_outbox_empty(f);
    assert_false(log_contains(f, f->secret));
    assert_false(log_contains(f, MARK));
    assert_false(log_contains(f, "eyJ"));
    assert_false(log_contains(f, "api-version="));
}

/* Create-or-update routes: the record carried by the write says what the reply said - 201
 * when the PUT created, 200 when it updated (audit_rec.c patches the line before it is
 * chained); a refused PUT leaves its own record and blocks nothing; the chain verifies. */
static void create_or_update_status(void **state)
{
    struct fx *f = *state;
    char rg[256], lock[320];
    struct cf_json *j;

    snprintf(rg, sizeof(rg), "/subscriptions/%s/resourcegroups/rgnew", f->sub);
    snprintf(lock, sizeof(lock),
             "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Authorization/locks/NoDel",
             f->sub);
    assert_int_equal(call_st(f, CF_HTTP_PUT, MGMT, rg, "api-version=2021-04-01", f->mgmt_bearer,
                             "{\"location\":\"westeurope\"}"),
                     201);
    assert_int_equal(call_st(f, CF_HTTP_PUT, MGMT, rg, "api-version=2021-04-01", f->mgmt_bearer,
                             "{\"location\":\"westeurope\",\"tags\":{\"a\":\"b\"}}"),
                     200);
    assert_int_equal(call_st(f, CF_HTTP_PUT, MGMT, lock, "api-version=2020-05-01", f->mgmt_bearer,
                             "{\"properties\":{\"level\":\"CanNotDelete\"}}"),
                     201);
    /* refused before any write: its own (400) record; the next create is not held up */
    assert_int_equal(call_st(f, CF_HTTP_PUT, MGMT, lock, "api-version=2020-05-01", f->mgmt_bearer,
                             "{\"properties\":{\"level\":\"Nope\"}}"),
                     400);
    assert_int_equal(call_st(f, CF_HTTP_PUT, MGMT, lock, "api-version=2020-05-01", f->mgmt_bearer,
                             "{\"properties\":{\"level\":\"ReadOnly\"}}"),
                     200);
    wait_outbox_empty(f);

    j = find(f, "ResourceGroupWrite", 201);
    assert_string_equal(sget(j, "resultSignature", NULL), "Created");
    assert_string_equal(sget(j, "resultType", NULL), "Success");
    cf_json_free(j);
    j = find(f, "ResourceGroupWrite", 200);
    assert_string_equal(sget(j, "resultSignature", NULL), "OK");
    cf_json_free(j);
    j = find(f, "ManagementLockWrite", 201);
    assert_string_equal(sget(j, "resultSignature", NULL), "Created");
    cf_json_free(j);
    j = find(f, "ManagementLockWrite", 200);
    assert_string_equal(sget(j, "resultSignature", NULL), "OK");
    cf_json_free(j);
    j = find(f, "ManagementLockWrite", 400);
    cf_json_free(j);
    assert_int_equal(count_op(f, "ResourceGroupWrite"), 2);
    assert_int_equal(count_op(f, "ManagementLockWrite"), 3);
    {
        struct cf_audit_verify_report rep;
        assert_int_equal(cf_audit_sync(f->audit), CF_OK);
        assert_int_equal(cf_audit_verify_dir(f->adir, f->mac, NULL, NULL, NULL, &rep), CF_OK);
        assert_int_equal(rep.brk, CF_AUDIT_INTACT);
    }
}

static void read_fails_closed(void **state)
{
    struct fx *f = *state;
    char body[4096];

    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/eps", "api-version=7.5", f->bearer,
                             "{\"value\":\"old\"}"),
                     200);
    wait_outbox_empty(f);
    __atomic_store_n(&g_fail_writes, 1, __ATOMIC_RELEASE);
    assert_int_equal(call_h(f, CF_HTTP_GET, V1, "/secrets/eps", "api-version=7.5", f->bearer, NULL,
                            NULL, body, sizeof(body)),
                     503);
    assert_non_null(strstr(body, "ServiceUnavailable"));
    assert_null(strstr(body, "old")); /* the value never left */
    /* a 401 is refused the same way: nothing is answered unrecorded */
    assert_int_equal(call_st(f, CF_HTTP_GET, V1, "/secrets/eps", "api-version=7.5", NULL, NULL),
                     503);
    __atomic_store_n(&g_fail_writes, 0, __ATOMIC_RELEASE);
    assert_int_equal(call_h(f, CF_HTTP_GET, V1, "/secrets/eps", "api-version=7.5", f->bearer, NULL,
                            NULL, body, sizeof(body)),
                     200);
    assert_non_null(strstr(body, "\"value\":\"old\""));
    assert_int_equal(cf_audit_sync(f->audit), CF_OK);
    {
        struct cf_audit_verify_report rep;
        assert_int_equal(cf_audit_verify_dir(f->adir, f->mac, NULL, NULL, NULL, &rep), CF_OK);
        assert_int_equal(rep.brk, CF_AUDIT_INTACT);
    }
}

static void write_fails_closed(void **state)
{
    struct fx *f = *state;
    char body[4096];
    int64_t n = -1;

    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/zeta", "api-version=7.5", f->bearer,
                             "{\"value\":\"old\"}"),
                     200);
    wait_outbox_empty(f);
    __atomic_store_n(&g_fail_writes, 1, __ATOMIC_RELEASE);
    /* the log is found failing (a read's append) ... */
    assert_int_equal(
        call_st(f, CF_HTTP_GET, V1, "/secrets/zeta", "api-version=7.5", f->bearer, NULL), 503);
    /* ... and writes are refused before they run: asynchronous set and pool writes */
    assert_int_equal(call_h(f, CF_HTTP_PUT, V1, "/secrets/zeta", "api-version=7.5", f->bearer,
                            "{\"value\":\"new\"}", NULL, body, sizeof(body)),
                     503);
    assert_non_null(strstr(body, "ServiceUnavailable"));
    assert_int_equal(
        call_st(f, CF_HTTP_DELETE, V1, "/secrets/zeta", "api-version=7.5", f->bearer, NULL), 503);
    assert_int_equal(cf_store_outbox_count(f->store, &n), CF_OK);
    assert_int_equal(n, 0);
    __atomic_store_n(&g_fail_writes, 0, __ATOMIC_RELEASE);
    /* the first request after recovery is answered and clears the state */
    assert_int_equal(call_h(f, CF_HTTP_GET, V1, "/secrets/zeta", "api-version=7.5", f->bearer, NULL,
                            NULL, body, sizeof(body)),
                     200);
    assert_non_null(strstr(body, "\"value\":\"old\""));
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/zeta", "api-version=7.5", f->bearer,
                             "{\"value\":\"new\"}"),
                     200);
    assert_int_equal(call_h(f, CF_HTTP_GET, V1, "/secrets/zeta", "api-version=7.5", f->bearer, NULL,
                            NULL, body, sizeof(body)),
                     200);
    assert_non_null(strstr(body, "\"value\":\"new\""));
    wait_outbox_empty(f);
    assert_int_equal(count_op(f, "SecretSet"), 2);
}

/* A write committed while the log could not take its record: the row waits in the outbox and
 * reaches the log when it recovers. */
static void drain_waits_for_the_log(void **state)
{
    struct fx *f = *state;
    int64_t n = -1;

    __atomic_store_n(&g_fail_writes, 1, __ATOMIC_RELEASE);
    /* not yet known to be failing: the write commits with its record */
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/eta", "api-version=7.5", f->bearer,
                             "{\"value\":\"v\"}"),
                     200);
    usleep(100000);
    assert_int_equal(cf_store_outbox_count(f->store, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(count_op(f, "SecretSet"), 0);
    /* the drainer found the log failing: writes are refused now */
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/eta", "api-version=7.5", f->bearer,
                             "{\"value\":\"w\"}"),
                     503);
    __atomic_store_n(&g_fail_writes, 0, __ATOMIC_RELEASE);
    wait_outbox_empty(f); /* the drainer retries on its own */
    assert_int_equal(count_op(f, "SecretSet"), 1);
}

/* Rows an earlier run left (one of them already in the log: a crash between the append and
 * the delete) are moved at start-up, each exactly once; later ids are above them. */
static cf_err meta_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_meta_put(t, arg, "x", 1);
}

struct ids {
    size_t n;
    int64_t id[8];
};

static bool ids_cb(void *ctx, int64_t id, struct cf_str line)
{
    struct ids *v = ctx;
    (void)line;
    if (v->n < 8)
        v->id[v->n++] = id;
    return true;
}

static void leftovers_drained_at_start(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit a = {CF_STR("{\"operationName\":\"LeftA\",\"category\":\"AuditEvent\"}"),
                               false},
                          b = {CF_STR("{\"operationName\":\"LeftB\",\"category\":\"AuditEvent\"}"),
                               false};
    struct ids v = {0};
    int64_t n = -1;

    cf_api_free(f->api); /* the earlier run ends */
    f->api = NULL;
    cf_store_audit_bind(&a);
    assert_int_equal(cf_store_write(f->store, meta_fn, "left.a"), CF_OK);
    cf_store_audit_bind(&b);
    assert_int_equal(cf_store_write(f->store, meta_fn, "left.b"), CF_OK);
    cf_store_audit_bind(NULL);
    assert_true(a.committed && b.committed);
    assert_int_equal(cf_store_outbox_read(f->store, 0, 8, ids_cb, &v), CF_OK);
    assert_int_equal(v.n, 2);
    /* the first one reached the log before the "crash" */
    assert_int_equal(cf_audit_append_outbox(f->audit, a.line, v.id[0], true), CF_OK);
    new_api(f); /* start-up: moved before it returns */
    assert_int_equal(cf_store_outbox_count(f->store, &n), CF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(count_op(f, "LeftA"), 1);
    assert_int_equal(count_op(f, "LeftB"), 1);
    assert_true(cf_audit_last_outbox_id(f->audit) >= v.id[1]);
    /* and a new write's record follows them */
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/theta", "api-version=7.5", f->bearer,
                             "{\"value\":\"v\"}"),
                     200);
    wait_outbox_empty(f);
    assert_int_equal(count_op(f, "SecretSet"), 1);
    assert_true(cf_audit_last_outbox_id(f->audit) > v.id[1]);
}

/* The outbox keeps a write's record compact (audit.h, cf_audit_compact) and the log gets the
 * full line: a create's 201 is patched into a compact row and chained as full JSON; a row left
 * by a stopped run is compact in the store and drained at start-up as full JSON, along with a
 * full-JSON row of an older build; a row that does not expand (a token byte this build does
 * not know) is skipped and does not hold up the rows after it; the chain verifies. */
static bool row_cb(void *ctx, int64_t id, struct cf_str line)
{
    struct recs *rs = ctx;
    (void)id;
    if (rs->n < MAX_RECS)
        rs->line[rs->n++] = cf_str_dup(line);
    return true;
}

static void outbox_rows_compact(void **state)
{
    struct fx *f = *state;
    char rg[256];
    struct cf_json *j;
    struct recs rows = {0};
    struct cf_buf x, after;
    struct cf_audit_event ev = {0};
    struct cf_store_audit legacy = {CF_STR("{\"operationName\":\"LegacyOp\","
                                           "\"category\":\"AuditEvent\"}"),
                                    false},
                          bad = {CF_STR("{\"operationName\":\"BadTok\x1f\","
                                        "\"category\":\"AuditEvent\"}"),
                                 false},
                          good = {CF_STR(""), false};
    int64_t n = -1;

    /* live: a create's compact row is patched to 201 and chained in full */
    snprintf(rg, sizeof(rg), "/subscriptions/%s/resourcegroups/rgcompact", f->sub);
    assert_int_equal(call_st(f, CF_HTTP_PUT, MGMT, rg, "api-version=2021-04-01", f->mgmt_bearer,
                             "{\"location\":\"westeurope\"}"),
                     201);
    wait_outbox_empty(f);
    j = find(f, "ResourceGroupWrite", 201);
    assert_string_equal(sget(j, "resultSignature", NULL), "Created");
    assert_string_equal(sget(j, "category", NULL), "AuditEvent");
    assert_non_null(strstr(sget(j, "resourceId", NULL), "/RESOURCEGROUPS/RGCOMPACT"));
    assert_non_null(sget(cf_json_get(j, "identity"), "claim",
                         "http://schemas.microsoft.com/identity/claims/objectidentifier"));
    cf_json_free(j);

    /* a write committed while the log fails; the run stops with its row in the outbox */
    __atomic_store_n(&g_fail_writes, 1, __ATOMIC_RELEASE);
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/iota", "api-version=7.5", f->bearer,
                             "{\"value\":\"v\"}"),
                     200);
    usleep(100000);
    cf_api_free(f->api);
    f->api = NULL;
    __atomic_store_n(&g_fail_writes, 0, __ATOMIC_RELEASE);
    assert_int_equal(cf_store_outbox_read(f->store, 0, 8, row_cb, &rows), CF_OK);
    assert_int_equal(rows.n, 1);
    cf_buf_init(&x, CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_audit_expand(cf_str_from(rows.line[0]), &x), CF_OK);
    assert_true(strlen(rows.line[0]) * 10 < x.len * 6); /* stored compact: < 60 % */
    assert_non_null(strpbrk(rows.line[0], "\x01\x02\x03\x04\x05\x13\x1c"));
    assert_non_null(strstr(x.data, "\"operationName\":\"SecretSet\""));
    assert_non_null(strstr(x.data, "\"requestUri\":\"https://" V1 "/secrets/iota\""));
    recs_free(&rows);

    /* then rows as an older build (full JSON) and a newer one (an unknown token) left them,
     * and a compact one after those */
    ev.operation_name = "AfterBad";
    ev.resource_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v";
    ev.id = "https://v.vault.example/secrets/after";
    ev.request_uri = ev.id;
    ev.identity.oid = "o";
    ev.http_status = 200;
    cf_buf_init(&after, CF_AUDIT_MAX_LINE);
    cf_buf_reset(&x);
    assert_int_equal(api_audit_format(&ev, &x), CF_OK);
    assert_int_equal(cf_audit_compact(cf_buf_str(&x), &after), CF_OK);
    assert_true(after.len < x.len);
    good.line = cf_buf_str(&after);
    cf_store_audit_bind(&legacy);
    assert_int_equal(cf_store_write(f->store, meta_fn, "c.legacy"), CF_OK);
    cf_store_audit_bind(&bad);
    assert_int_equal(cf_store_write(f->store, meta_fn, "c.bad"), CF_OK);
    cf_store_audit_bind(&good);
    assert_int_equal(cf_store_write(f->store, meta_fn, "c.good"), CF_OK);
    cf_store_audit_bind(NULL);

    new_api(f); /* start-up drain */
    assert_int_equal(cf_store_outbox_count(f->store, &n), CF_OK);
    assert_int_equal(n, 0);
    j = find(f, "SecretSet", 200);
    assert_string_equal(sget(j, "properties", "requestUri"), "https://" V1 "/secrets/iota");
    assert_string_equal(sget(j, "properties", "id"), "https://" V1 "/secrets/iota");
    cf_json_free(j);
    assert_int_equal(count_op(f, "LegacyOp"), 1);
    assert_int_equal(count_op(f, "AfterBad"), 1);
    assert_false(log_contains(f, "BadTok"));
    {
        /* the chained line is the full line, byte for byte (up to its closing brace) */
        struct recs rs;
        bool seen = false;
        read_recs(f, &rs);
        for (size_t i = 0; i < rs.n; i++)
            if (strncmp(rs.line[i], x.data, x.len - 1) == 0)
                seen = true;
        recs_free(&rs);
        assert_true(seen);
    }
    for (char k = 1; k < 0x20; k++) /* no token byte in the files (but the lines' \n) */
        assert_true(k == '\n' || !log_contains(f, (char[]){k, '\0'}));
    assert_int_equal(cf_audit_sync(f->audit), CF_OK);
    {
        struct cf_audit_verify_report rep;
        assert_int_equal(cf_audit_verify_dir(f->adir, f->mac, NULL, NULL, NULL, &rep), CF_OK);
        assert_int_equal(rep.brk, CF_AUDIT_INTACT);
    }
    cf_buf_release(&x);
    cf_buf_release(&after);
}

/* The outbox ids continue above what the log holds even for a new, empty database. */
static void floor_after_new_store(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit a = {CF_STR("{\"operationName\":\"Hi\",\"category\":\"AuditEvent\"}"),
                               false};
    struct ids v = {0};

    /* records with outbox ids up to 50 already in the log */
    assert_int_equal(cf_audit_append_outbox(f->audit, a.line, 50, true), CF_OK);
    cf_api_free(f->api);
    f->api = NULL;
    new_api(f); /* raises the store's sequence to 50 */
    cf_api_free(f->api);
    f->api = NULL;
    cf_store_audit_bind(&a);
    assert_int_equal(cf_store_write(f->store, meta_fn, "floor"), CF_OK);
    cf_store_audit_bind(NULL);
    assert_int_equal(cf_store_outbox_read(f->store, 0, 8, ids_cb, &v), CF_OK);
    assert_int_equal(v.n, 1);
    assert_true(v.id[0] > 50);
    new_api(f);
    assert_int_equal(count_op(f, "Hi"), 2); /* not mistaken for one the log holds */
}

/* Two lanes: a request's record goes to the chain of the worker that received it. */
static size_t count_node(struct fx *f, const char *node, const char *op)
{
    struct cf_audit_filter flt = {.node = node, .operation = op};
    struct recs rs;
    size_t n;
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(cf_audit_read(f->adir, &flt, collect, &rs), CF_OK);
    n = rs.n;
    recs_free(&rs);
    return n;
}

static void lanes_by_worker(void **state)
{
    struct fx *f = *state;
    struct cf_audit_config ac = {
        .dir = f->adir, .mac_key = f->mac, .node_id = "n1.w1", .io = &fail_io};
    struct cf_audit *lanes[2];
    struct cf_api *api2;
    cf_err e;

    lanes[0] = f->audit;
    lanes[1] = cf_audit_open(&ac, &e);
    assert_non_null(lanes[1]);
    cf_api_free(f->api);
    api2 = cf_api_new(&(struct cf_api_config){.vault = f->vault,
                                              .auth = f->auth,
                                              .rbac = f->rbac,
                                              .clock = &f->clock,
                                              .dns_suffix = SUFFIX,
                                              .login_host = "login.localhost",
                                              .management_host = "management.localhost",
                                              .subscription_id = f->sub,
                                              .tenant_id = f->tenant,
                                              .pool_threads = 2,
                                              .audit = lanes,
                                              .audit_lanes = 2,
                                              .store = f->store},
                      &e);
    assert_non_null(api2);
    f->api = api2;
    g_worker = 1;
    assert_int_equal(call_st(f, CF_HTTP_GET, V1, "/secrets", "api-version=7.5", f->bearer, NULL),
                     200);
    g_worker = 2; /* 2 % 2: lane 0 */
    assert_int_equal(
        call_st(f, CF_HTTP_GET, V1, "/secrets/none", "api-version=7.5", f->bearer, NULL), 404);
    /* a write's record (outbox) goes to lane 0 whatever the worker */
    g_worker = 1;
    assert_int_equal(call_st(f, CF_HTTP_PUT, V1, "/secrets/iota", "api-version=7.5", f->bearer,
                             "{\"value\":\"v\"}"),
                     200);
    g_worker = 0;
    wait_outbox_empty(f);
    assert_int_equal(count_node(f, "n1.w1", "SecretList"), 1);
    assert_int_equal(count_node(f, "n1", "SecretList"), 0);
    assert_int_equal(count_node(f, "n1", "SecretGet"), 1);
    assert_int_equal(count_node(f, "n1", "SecretSet"), 1);
    assert_int_equal(count_node(f, "n1.w1", "SecretSet"), 0);
    cf_api_free(f->api);
    f->api = NULL;
    cf_audit_close(lanes[1]);
    new_api(f);
    {
        struct cf_audit_verify_report rep;
        assert_int_equal(cf_audit_sync(f->audit), CF_OK);
        assert_int_equal(cf_audit_verify_dir(f->adir, f->mac, NULL, NULL, NULL, &rep), CF_OK);
        assert_int_equal(rep.brk, CF_AUDIT_INTACT);
    }
}

/* api_audit_format writes what cf_audit_format writes, byte for byte, on its fast path and
 * when it falls back (quotes, control characters, UTF-8, over-long fields, odd statuses). */
static void check_same(const struct cf_audit_event *ev)
{
    struct cf_buf a, b;
    cf_buf_init(&a, 1 << 18);
    cf_buf_init(&b, 1 << 18);
    assert_int_equal(cf_buf_puts(&a, "prefix:"), CF_OK); /* appends, as the reference does */
    assert_int_equal(cf_buf_puts(&b, "prefix:"), CF_OK);
    assert_int_equal(api_audit_format(ev, &a), CF_OK);
    assert_int_equal(cf_audit_format(ev, &b), CF_OK);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        fail_msg("fast:\n%s\nreference:\n%s", a.data, b.data);
    assert_int_equal(a.data[a.len], '\0');
    cf_buf_release(&a);
    cf_buf_release(&b);
}

static void fast_format_matches_reference(void **state)
{
    static const int statuses[] = {0,   200, 201, 202, 204, 400, 401, 403, 404,
                                   405, 409, 413, 429, 500, 501, 503, 418, 302};
    static const enum cf_audit_flag flags[] = {CF_AUDIT_UNSET, CF_AUDIT_NO, CF_AUDIT_YES};
    char longs[3000];
    struct cf_audit_event ev;
    (void)state;

    memset(&ev, 0, sizeof(ev));
    check_same(&ev); /* the empty event */
    ev = (struct cf_audit_event){.time_ms = 1764900000123,
                                 .resource_id = "/subscriptions/abc/resourcegroups/rg/providers/"
                                                "microsoft.keyvault/vaults/v1",
                                 .operation_name = "SecretGet",
                                 .operation_version = "7.5",
                                 .duration_ms = 12,
                                 .caller_ip = "::1",
                                 .correlation_id = CRID,
                                 .identity = {.oid = "o-1", .appid = "a-1"},
                                 .id = "https://v1.vault.localhost:8443/secrets/x",
                                 .client_info = "azsdk/1.0 (x; y)",
                                 .request_uri = "https://v1.vault.localhost:8443/secrets/x",
                                 .http_status = 200,
                                 .is_rbac_authorized = CF_AUDIT_YES};
    for (size_t i = 0; i < CF_ARRAY_LEN(statuses); i++) {
        ev.http_status = statuses[i];
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++) {
                ev.is_access_policy_match = flags[a];
                ev.is_rbac_authorized = flags[b];
                check_same(&ev);
            }
    }
    ev.http_status = 403;
    ev.result_type = "Denied";
    ev.result_signature = "ForbiddenByRbac";
    ev.result_description = "Caller is not authorized: 'x' (y)";
    check_same(&ev);
    ev.duration_ms = -5;
    check_same(&ev);
    ev.identity = (struct cf_audit_event){0}.identity;
    check_same(&ev); /* no identity block */
    ev.identity.upn = "someone@example.com";
    check_same(&ev); /* only a upn */
    ev.identity.appid = "";
    check_same(&ev);
    ev.id = NULL;
    check_same(&ev); /* properties start with clientInfo */
    ev.client_info = NULL;
    ev.request_uri = NULL;
    ev.http_status = 0;
    check_same(&ev); /* properties start with a flag */
    ev.is_access_policy_match = CF_AUDIT_UNSET;
    ev.is_rbac_authorized = CF_AUDIT_UNSET;
    check_same(&ev); /* empty properties */
    ev.applied_assignment_id = "/providers/Microsoft.Authorization/roleAssignments/1";
    ev.tls_version = "TLS1_3";
    check_same(&ev);
    /* what takes the slow path */
    ev.result_description = "AKV: a \"quoted\" name\r\nnext line\ttab \\ back";
    check_same(&ev);
    ev.result_description = "caf\xc3\xa9 and a bad byte \xff";
    check_same(&ev);
    ev.client_info = "\x01\x1f control";
    check_same(&ev);
    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    ev.client_info = NULL;
    ev.result_description = NULL;
    ev.request_uri = longs; /* over its 2048 cap: cut by the reference */
    check_same(&ev);
    longs[2048] = '\0'; /* exactly the cap */
    check_same(&ev);
    longs[2048] = 'a';
    ev.request_uri = NULL;
    ev.resource_id = longs; /* upper-cased and cut at 512 */
    check_same(&ev);
    ev.resource_id = "/subscriptions/Mixed/Case";
    ev.time_ms = 0;
    check_same(&ev);
    ev.time_ms = -1500;
    check_same(&ev);
}

/* The fast writer checks and upper-cases eight bytes at a time: every byte value at every
 * position of a word (and in the tail after the last whole word) goes the way the reference
 * goes, in a plain field and in the upper-cased resourceId; the case boundaries ('`' 'a' 'z'
 * '{' '@' 'A' 'Z' '[') in every position. */
static void fast_format_every_byte(void **state)
{
    static const char edges[] = "`az{@AZ[";
    char buf[32];
    struct cf_audit_event ev = {.time_ms = 1764900000123,
                                .operation_name = "SecretGet",
                                .http_status = 200};
    (void)state;

    for (size_t pos = 0; pos < 19; pos++) {
        for (unsigned c = 1; c < 256; c++) {
            memset(buf, 'm', 19);
            buf[19] = '\0';
            buf[pos] = (char)c;
            ev.resource_id = buf;
            ev.client_info = NULL;
            check_same(&ev);
            ev.resource_id = "r";
            ev.client_info = buf;
            check_same(&ev);
        }
        for (size_t k = 0; k + 1 < sizeof(edges); k++) {
            for (size_t i = 0; i < 19; i++)
                buf[i] = edges[(i + k + pos) % (sizeof(edges) - 1)];
            buf[19 - pos % 3] = '\0'; /* lengths 17..19: a whole word and tails */
            ev.resource_id = buf;
            check_same(&ev);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(read_record_fields, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(write_record_through_outbox, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(refused_and_failed_requests, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(management_and_token_records, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(create_or_update_status, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(read_fails_closed, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(write_fails_closed, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(drain_waits_for_the_log, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(leftovers_drained_at_start, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(floor_after_new_store, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(outbox_rows_compact, setup, audit_teardown),
        cmocka_unit_test_setup_teardown(lanes_by_worker, setup, audit_teardown),
        cmocka_unit_test(fast_format_matches_reference),
        cmocka_unit_test(fast_format_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

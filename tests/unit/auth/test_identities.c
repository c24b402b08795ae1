/* test_identities.c - the directory of auth.h against a real SQLite store with a clock the tests
 * move: applications and service principals, several password credentials with expiry,
 * credential removal and app deletion revoking tokens, client assertions (RS256, PS256, ES256;
 * each refusal), jti replay, group membership in cf_principal and its refresh. */
#include "base/cf.h"
#include "auth/auth.h"
#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#define ISSUER "https://login.localhost:8443"
#define TENANT "72f988bf-0000-4000-8000-000000000001"
#define SCOPE "https://vault.localhost:8443/.default"
#define AUD "https://vault.localhost:8443"
#define ENDPOINT "https://login.localhost:8443/" TENANT "/oauth2/v2.0/token"
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct fake_clock {
    struct cf_clock c;
    int64_t now_ms;
};

static int64_t fake_now(const struct cf_clock *c)
{
    return ((const struct fake_clock *)c)->now_ms;
}

/* Keys are slow to make: one RSA and one EC certificate for the whole file. */
static struct cf_pkey *rsa_key, *ec_key, *other_rsa;
/* the certificates are made with the real clock, so the fake one starts there */
static int64_t T0;
static struct cf_buf rsa_cert, ec_cert;

struct fx {
    char dir[64];
    struct fake_clock clock;
    unsigned char master[32];
    struct cf_store *store;
    struct cf_auth *auth;
    struct cf_auth_app app;
};

static int group_setup(void **state)
{
    struct cf_buf junk;
    (void)state;
    T0 = (int64_t)time(NULL);
    cf_buf_init(&rsa_cert, 1 << 16);
    cf_buf_init(&ec_cert, 1 << 16);
    cf_buf_init(&junk, 1 << 16);
    assert_int_equal(cf_x509_cred_self_signed(true, "rsa app", 30, &rsa_cert, &rsa_key), CF_OK);
    assert_int_equal(cf_x509_cred_self_signed(false, "ec app", 30, &ec_cert, &ec_key), CF_OK);
    assert_int_equal(cf_x509_cred_self_signed(true, "other", 30, &junk, &other_rsa), CF_OK);
    cf_buf_release(&junk);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cf_pkey_free(rsa_key);
    cf_pkey_free(ec_key);
    cf_pkey_free(other_rsa);
    cf_buf_release(&rsa_cert);
    cf_buf_release(&ec_cert);
    return 0;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts so = {0};
    char db[128];
    cf_err e;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-ident-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(db, sizeof(db), "%s/coffer.db", f->dir);
    f->clock.c.now_ms = fake_now;
    f->clock.now_ms = (int64_t)T0 * 1000;
    memset(f->master, 7, sizeof(f->master));
    so.path = db;
    f->store = cf_store_open_sqlite(&so, &e);
    assert_non_null(f->store);
    f->auth = cf_auth_new(f->store, &f->clock.c, f->master,
                          &(struct cf_auth_opts){.issuer = ISSUER}, &e);
    assert_non_null(f->auth);
    assert_int_equal(cf_auth_set_default_tenant(f->auth, TENANT), CF_OK);
    assert_int_equal(cf_auth_app_create(f->auth, TENANT, "payments", &f->app), CF_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cf_auth_free(f->auth);
    cf_store_close(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void advance(struct fx *f, int64_t s)
{
    f->clock.now_ms += s * 1000;
}

/* ---------------------------------------------------------------- helpers */

static cf_err issue(struct fx *f, const char *cid, const char *secret, const char *assertion,
                    struct cf_buf *tok, struct cf_token_error *te)
{
    struct cf_token_request r = {
        .tenant = CF_STR(TENANT),
        .grant_type = CF_STR("client_credentials"),
        .client_id = cf_str_from(cid),
        .client_secret = cf_str_from(secret ? secret : ""),
        .scope = CF_STR(SCOPE),
        .client_assertion_type = CF_STR(JWT_BEARER),
        .client_assertion = cf_str_from(assertion ? assertion : ""),
        .endpoint = CF_STR(ENDPOINT),
    };
    int64_t exp_in;
    cf_buf_reset(tok);
    return cf_auth_issue_token(f->auth, &r, tok, &exp_in, te);
}

static enum cf_auth_fail verify(struct fx *f, const struct cf_buf *tok, struct cf_principal *who)
{
    struct cf_str aud = CF_STR(AUD);
    enum cf_auth_fail why = CF_AUTH_OK;
    cf_err e = cf_auth_verify(f->auth, cf_buf_str(tok), &aud, 1, who, &why);
    assert_true(e == CF_OK || e == CF_EUNAUTH);
    return why;
}

/* b64url of a hash of the DER; padded adds '=' like Python's x5t. */
static void thumb(const struct cf_buf *der, bool sha256, bool padded, char *out, size_t n)
{
    unsigned char h[32];
    struct cf_buf b;
    cf_buf_init(&b, 128);
    if (sha256)
        assert_int_equal(cf_sha256(der->data, der->len, h), CF_OK);
    else
        assert_int_equal(cf_sha1(der->data, der->len, h), CF_OK);
    assert_int_equal(cf_b64url_encode(&b, h, sha256 ? 32 : 20), CF_OK);
    snprintf(out, n, "%s%s", b.data, padded && !sha256 ? "=" : "");
    cf_buf_release(&b);
}

struct assertion_opts {
    const char *alg;        /* default RS256 */
    const char *thumb_hdr;  /* "x5t" (default), "x5t#S256", or "none" */
    bool padded;
    const struct cf_pkey *key;   /* default rsa_key */
    const struct cf_buf *cert;   /* default rsa_cert (for the thumbprint) */
    const char *aud;        /* default ENDPOINT */
    const char *iss, *sub;  /* default the client id */
    int64_t exp_off;        /* default +600 */
    int64_t nbf_off;        /* 0: none */
    bool float_times;
    const char *jti;        /* default a fresh uuid; "" none */
};

static void make_assertion(struct fx *f, const char *cid, const struct assertion_opts *o,
                           struct cf_buf *out)
{
    char hdr[300], claims[800], tp[80], jti[37], times[120];
    const char *h = o->thumb_hdr ? o->thumb_hdr : "x5t";
    int64_t now = f->clock.now_ms / 1000;

    thumb(o->cert ? o->cert : &rsa_cert, strcmp(h, "x5t#S256") == 0, o->padded, tp, sizeof(tp));
    if (strcmp(h, "none") == 0)
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", o->alg ? o->alg : "RS256");
    else
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"%s\":\"%s\"}",
                 o->alg ? o->alg : "RS256", h, tp);
    assert_int_equal(cf_uuid4(jti), CF_OK);
    if (o->float_times)
        snprintf(times, sizeof(times), "\"iat\":%lld.7989619,\"exp\":%lld.7989619",
                 (long long)now, (long long)(now + (o->exp_off ? o->exp_off : 600)));
    else
        snprintf(times, sizeof(times), "\"iat\":%lld,\"exp\":%lld", (long long)now,
                 (long long)(now + (o->exp_off ? o->exp_off : 600)));
    {
        int k = snprintf(claims, sizeof(claims), "{\"aud\":\"%s\",\"iss\":\"%s\",\"sub\":\"%s\",%s",
                         o->aud ? o->aud : ENDPOINT, o->iss ? o->iss : cid,
                         o->sub ? o->sub : cid, times);
        if (o->nbf_off)
            k += snprintf(claims + k, sizeof(claims) - (size_t)k, ",\"nbf\":%lld",
                          (long long)(now + o->nbf_off));
        if (!o->jti || o->jti[0])
            k += snprintf(claims + k, sizeof(claims) - (size_t)k, ",\"jti\":\"%s\"",
                          o->jti ? o->jti : jti);
        snprintf(claims + k, sizeof(claims) - (size_t)k, "}");
    }
    cf_buf_reset(out);
    assert_int_equal(cf_jws_sign(o->key ? o->key : rsa_key, o->alg ? o->alg : "RS256", hdr,
                                 claims, out),
                     CF_OK);
}

static void set_certs(struct fx *f, bool rsa, bool ec)
{
    struct cf_auth_key_in k[2];
    size_t n = 0;
    memset(k, 0, sizeof(k));
    if (rsa)
        k[n++] = (struct cf_auth_key_in){rsa_cert.data, rsa_cert.len, "rsa", NULL};
    if (ec)
        k[n++] = (struct cf_auth_key_in){ec_cert.data, ec_cert.len, "ec", NULL};
    assert_int_equal(cf_auth_keys_set(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                      f->app.app_object_id, k, n),
                     CF_OK);
}

static void expect_refused(struct fx *f, const struct cf_buf *assertion, int aadsts)
{
    struct cf_buf tok;
    struct cf_token_error te;
    cf_buf_init(&tok, 16384);
    assert_int_equal(issue(f, f->app.client_id, NULL, assertion->data, &tok, &te), CF_EBADCLIENT);
    assert_string_equal(te.error, "invalid_client");
    assert_int_equal(te.http_status, 401);
    if (te.aadsts != aadsts)
        fail_msg("want AADSTS%d, got %s", aadsts, te.description);
    cf_buf_release(&tok);
}

/* ---------------------------------------------------------------- applications */

static void app_lookups(void **state)
{
    struct fx *f = *state;
    struct cf_auth_app got;
    char oid[37], upper[40];

    assert_string_not_equal(f->app.app_object_id, f->app.sp_object_id);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                     f->app.app_object_id, &got), CF_OK);
    assert_string_equal(got.client_id, f->app.client_id);
    assert_string_equal(got.sp_object_id, f->app.sp_object_id);
    assert_true(got.enabled);
    assert_int_equal(got.ncreds, 0);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_SP_OBJECT, f->app.sp_object_id,
                                     &got), CF_OK);
    assert_string_equal(got.app_object_id, f->app.app_object_id);
    /* ids in upper case are the same ids */
    for (size_t i = 0; i < 37; i++)
        upper[i] = (char)((f->app.client_id[i] >= 'a' && f->app.client_id[i] <= 'f')
                              ? f->app.client_id[i] - 32 : f->app.client_id[i]);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, upper, &got), CF_OK);
    assert_int_equal(cf_auth_principal_oid(f->auth, TENANT, f->app.client_id, oid), CF_OK);
    assert_string_equal(oid, f->app.sp_object_id);
    /* not across kinds, not in another tenant, not garbage */
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_SP_OBJECT, f->app.app_object_id,
                                     &got), CF_ENOTFOUND);
    assert_int_equal(cf_auth_app_get(f->auth, "other", CF_AUTH_ID_APP_OBJECT,
                                     f->app.app_object_id, &got), CF_ENOTFOUND);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT, "x'--", &got),
                     CF_ENOTFOUND);
    assert_int_equal(cf_auth_app_rename(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id,
                                        "billing"), CF_OK);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id, &got),
                     CF_OK);
    assert_string_equal(got.display_name, "billing");
    assert_int_equal(cf_auth_app_create(f->auth, TENANT, "", &got), CF_EBADPARAM);
    assert_int_equal(cf_auth_app_create(f->auth, TENANT, "a\nb", &got), CF_EBADPARAM);
}

static cf_err count_cb(const struct cf_auth_app *app, void *arg)
{
    (void)app;
    (*(int *)arg)++;
    return CF_OK;
}

static void app_list_filters(void **state)
{
    struct fx *f = *state;
    struct cf_auth_app other;
    int n = 0;

    assert_int_equal(cf_auth_app_create(f->auth, TENANT, "Orders", &other), CF_OK);
    assert_int_equal(cf_auth_app_list(f->auth, TENANT, NULL, NULL, count_cb, &n), CF_OK);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(cf_auth_app_list(f->auth, TENANT, "orders", NULL, count_cb, &n), CF_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(cf_auth_app_list(f->auth, TENANT, NULL, f->app.client_id, count_cb, &n),
                     CF_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(cf_auth_app_list(f->auth, TENANT, "nope", NULL, count_cb, &n), CF_OK);
    assert_int_equal(n, 0);
}

/* ---------------------------------------------------------------- passwords */

static void passwords_several_and_expiry(void **state)
{
    struct fx *f = *state;
    struct cf_auth_cred c1, c2;
    char s1[41], s2[41];
    struct cf_buf tok;
    struct cf_token_error te;
    struct cf_principal who;
    struct cf_auth_app got;

    cf_buf_init(&tok, 16384);
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, "short", T0 + 3600, &c1, s1),
                     CF_OK);
    assert_int_equal(strlen(s1), 40);
    assert_memory_equal(c1.hint, s1, 3);
    assert_int_equal(c1.end, T0 + 3600);
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, NULL, 0, &c2, s2),
                     CF_OK);
    assert_int_equal(c2.end, T0 + 365 * 86400);
    assert_string_not_equal(s1, s2);
    /* the list shows both, never a secret */
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id, &got),
                     CF_OK);
    assert_int_equal(got.ncreds, 2);
    assert_false(got.creds[0].is_key);
    assert_false(got.creds[1].is_key);
    /* same second: listed in key id order */
    assert_string_equal(got.creds[strcmp(got.creds[0].key_id, c1.key_id) == 0 ? 0 : 1]
                            .display_name, "short");
    /* each secret works */
    assert_int_equal(issue(f, f->app.client_id, s1, NULL, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_string_equal(who.object_id, f->app.sp_object_id);
    assert_int_equal(who.ngroups, 0);
    assert_int_equal(issue(f, f->app.client_id, s2, NULL, &tok, &te), CF_OK);
    assert_int_equal(issue(f, f->app.client_id, "wrong-secret", NULL, &tok, &te), CF_EBADCLIENT);
    assert_int_equal(te.aadsts, 7000215);
    /* an hour later the first has expired: AADSTS7000222; the second still works */
    advance(f, 3601);
    assert_int_equal(issue(f, f->app.client_id, s1, NULL, &tok, &te), CF_EBADCLIENT);
    assert_int_equal(te.aadsts, 7000222);
    assert_int_equal(te.http_status, 401);
    assert_non_null(strstr(te.description, f->app.client_id));
    assert_null(strstr(te.description, s1));
    assert_int_equal(issue(f, f->app.client_id, s2, NULL, &tok, &te), CF_OK);
    /* an end in the past is refused */
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, NULL, T0, &c1, s1),
                     CF_EBADPARAM);
    cf_buf_release(&tok);
}

static void password_remove_revokes(void **state)
{
    struct fx *f = *state;
    struct cf_auth_cred c1, c2;
    char s1[41], s2[41];
    struct cf_buf tok;
    struct cf_token_error te;
    struct cf_principal who;

    cf_buf_init(&tok, 16384);
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, "a", 0, &c1, s1), CF_OK);
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, "b", 0, &c2, s2), CF_OK);
    assert_int_equal(issue(f, f->app.client_id, s1, NULL, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK); /* now cached */
    assert_int_equal(cf_auth_password_remove(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                             f->app.app_object_id, c1.key_id), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_PRINCIPAL_GONE);
    assert_int_equal(issue(f, f->app.client_id, s1, NULL, &tok, &te), CF_EBADCLIENT);
    assert_int_equal(te.aadsts, 7000215);
    assert_int_equal(issue(f, f->app.client_id, s2, NULL, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    /* twice, or a key id that is no password: not found */
    assert_int_equal(cf_auth_password_remove(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                             f->app.app_object_id, c1.key_id), CF_ENOTFOUND);
    set_certs(f, true, false);
    {
        struct cf_auth_app got;
        assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id,
                                         &got), CF_OK);
        size_t k = got.creds[0].is_key ? 0 : 1;
        assert_int_equal(got.ncreds, 2);
        assert_true(got.creds[k].is_key);
        assert_false(got.creds[1 - k].is_key);
        assert_int_equal(strlen(got.creds[k].thumbprint), 40);
        assert_int_equal(cf_auth_password_remove(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                                 f->app.app_object_id, got.creds[k].key_id),
                         CF_ENOTFOUND);
    }
    cf_buf_release(&tok);
}

static void app_delete_revokes(void **state)
{
    struct fx *f = *state;
    struct cf_auth_cred c;
    char s[41];
    struct cf_buf tok;
    struct cf_token_error te;
    struct cf_principal who;
    struct cf_auth_app got;

    cf_buf_init(&tok, 16384);
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, NULL, 0, &c, s), CF_OK);
    assert_int_equal(issue(f, f->app.client_id, s, NULL, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_int_equal(cf_auth_app_delete(f->auth, TENANT, CF_AUTH_ID_SP_OBJECT,
                                        f->app.sp_object_id), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_PRINCIPAL_GONE);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id, &got),
                     CF_ENOTFOUND);
    assert_int_equal(issue(f, f->app.client_id, s, NULL, &tok, &te), CF_EBADCLIENT);
    assert_int_equal(cf_auth_app_delete(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                        f->app.app_object_id), CF_ENOTFOUND);
    cf_buf_release(&tok);
}

static void legacy_sp_create_is_an_application(void **state)
{
    struct fx *f = *state;
    char cid[64], oid[37], secret[64], again[64];
    struct cf_auth_app got;
    struct cf_buf tok;
    struct cf_token_error te;

    cf_buf_init(&tok, 16384);
    assert_int_equal(cf_auth_sp_create(f->auth, TENANT, "coffer-dev-admin", NULL, cid, oid,
                                       secret, sizeof(secret)), CF_OK);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, cid, &got), CF_OK);
    assert_string_equal(got.sp_object_id, oid);
    assert_int_equal(got.ncreds, 1);
    assert_int_equal(got.creds[0].end, CF_AUTH_NEVER);
    assert_int_equal(issue(f, cid, secret, NULL, &tok, &te), CF_OK);
    /* a reset replaces every password credential */
    assert_int_equal(cf_auth_sp_reset_secret(f->auth, TENANT, cid, NULL, again, sizeof(again)),
                     CF_OK);
    assert_int_equal(issue(f, cid, secret, NULL, &tok, &te), CF_EBADCLIENT);
    assert_int_equal(issue(f, cid, again, NULL, &tok, &te), CF_OK);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, cid, &got), CF_OK);
    assert_int_equal(got.ncreds, 1);
    cf_buf_release(&tok);
}

/* ---------------------------------------------------------------- client assertions */

static void assertion_accepted_each_alg(void **state)
{
    struct fx *f = *state;
    struct assertion_opts rs = {0}, ps = {.alg = "PS256", .thumb_hdr = "x5t#S256"},
                          es = {.alg = "ES256", .key = NULL, .cert = &ec_cert},
                          py = {.padded = true, .float_times = true};
    struct cf_buf a, tok;
    struct cf_token_error te;
    struct cf_principal who;

    es.key = ec_key;
    cf_buf_init(&a, 16384);
    cf_buf_init(&tok, 16384);
    set_certs(f, true, true);
    make_assertion(f, f->app.client_id, &rs, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_string_equal(who.object_id, f->app.sp_object_id);
    make_assertion(f, f->app.client_id, &ps, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    make_assertion(f, f->app.client_id, &es, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    /* Python's shape: padded x5t, float iat/exp, no nbf */
    make_assertion(f, f->app.client_id, &py, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    /* az's audience: the adfs token URL under the issuer */
    py.aud = ISSUER "/adfs/oauth2/token";
    make_assertion(f, f->app.client_id, &py, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    cf_buf_release(&a);
    cf_buf_release(&tok);
}

static void assertion_refused(void **state)
{
    struct fx *f = *state;
    struct cf_buf a, tok;
    struct cf_token_error te;
    struct assertion_opts o;
    char other_cid[64];

    cf_buf_init(&a, 16384);
    cf_buf_init(&tok, 16384);
    set_certs(f, true, false);

    /* a certificate not registered (the EC one) */
    o = (struct assertion_opts){.alg = "ES256", .key = ec_key, .cert = &ec_cert};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700027);
    /* the registered thumbprint, another key's signature */
    o = (struct assertion_opts){.key = other_rsa};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700027);
    /* a tampered payload */
    o = (struct assertion_opts){0};
    make_assertion(f, f->app.client_id, &o, &a);
    {
        char *dot = strchr(a.data, '.');
        dot[3] = dot[3] == 'A' ? 'B' : 'A';
    }
    expect_refused(f, &a, 700027);
    /* no thumbprint header */
    o = (struct assertion_opts){.thumb_hdr = "none"};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700027);
    /* wrong audience: another server, the vault, the right host with another path */
    o = (struct assertion_opts){.aud = "https://login.microsoftonline.com/" TENANT
                                       "/oauth2/v2.0/token"};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700212);
    o.aud = AUD;
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700212);
    o.aud = ISSUER "/other-tenant/oauth2/v2.0/token";
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700212);
    /* iss / sub not the client */
    assert_int_equal(cf_uuid4(other_cid), CF_OK);
    o = (struct assertion_opts){.iss = other_cid};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700021);
    o = (struct assertion_opts){.sub = other_cid};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700021);
    /* expired (past the 5 min skew), not yet valid, too long-lived */
    o = (struct assertion_opts){.exp_off = -301};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700024);
    o = (struct assertion_opts){.nbf_off = 400};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700024);
    o = (struct assertion_opts){.exp_off = 2 * 3600};
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700024);
    /* within the skew is fine */
    o = (struct assertion_opts){.exp_off = -200};
    make_assertion(f, f->app.client_id, &o, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    /* an algorithm outside the list */
    o = (struct assertion_opts){0};
    make_assertion(f, f->app.client_id, &o, &a);
    {
        /* rewrite the header to alg none and drop the signature */
        char *dot = strchr(a.data, '.');
        struct cf_buf h;
        cf_buf_init(&h, 1024);
        assert_int_equal(cf_b64url_encode(&h, "{\"alg\":\"none\",\"x5t\":\"x\"}", 24), CF_OK);
        assert_int_equal(cf_buf_append(&h, dot, strlen(dot)), CF_OK);
        expect_refused(f, &h, 5002738);
        cf_buf_release(&h);
    }
    /* garbage */
    cf_buf_reset(&a);
    assert_int_equal(cf_buf_puts(&a, "not.a-jwt"), CF_OK);
    expect_refused(f, &a, 50027);
    /* an unknown client looks like an unknown certificate */
    o = (struct assertion_opts){.iss = other_cid, .sub = other_cid};
    make_assertion(f, other_cid, &o, &a);
    {
        struct cf_token_request r = {.tenant = CF_STR(TENANT),
                                     .grant_type = CF_STR("client_credentials"),
                                     .client_id = cf_str_from(other_cid),
                                     .scope = CF_STR(SCOPE),
                                     .client_assertion_type = CF_STR(JWT_BEARER),
                                     .client_assertion = cf_buf_str(&a),
                                     .endpoint = CF_STR(ENDPOINT)};
        int64_t ei;
        assert_int_equal(cf_auth_issue_token(f->auth, &r, &tok, &ei, &te), CF_EBADCLIENT);
        assert_int_equal(te.aadsts, 700027);
        /* wrong assertion type; secret and assertion together */
        r.client_id = cf_str_from(f->app.client_id);
        r.client_assertion_type = CF_STR("jwt-bearer");
        assert_int_equal(cf_auth_issue_token(f->auth, &r, &tok, &ei, &te), CF_EBADPARAM);
        assert_int_equal(te.http_status, 400);
        r.client_assertion_type = CF_STR(JWT_BEARER);
        r.client_secret = CF_STR("s");
        assert_int_equal(cf_auth_issue_token(f->auth, &r, &tok, &ei, &te), CF_EBADPARAM);
    }
    /* a certificate whose validity ended: refused though the signature is right */
    o = (struct assertion_opts){0};
    advance(f, 31 * 86400);
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700027);
    cf_buf_release(&a);
    cf_buf_release(&tok);
}

static void assertion_replay(void **state)
{
    struct fx *f = *state;
    struct cf_buf a, b, tok;
    struct cf_token_error te;
    struct assertion_opts o = {0}, nojti = {.jti = ""};

    cf_buf_init(&a, 16384);
    cf_buf_init(&b, 16384);
    cf_buf_init(&tok, 16384);
    set_certs(f, true, false);
    make_assertion(f, f->app.client_id, &o, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    expect_refused(f, &a, 50012);
    /* a different jti is a new assertion */
    make_assertion(f, f->app.client_id, &o, &b);
    assert_int_equal(issue(f, f->app.client_id, NULL, b.data, &tok, &te), CF_OK);
    /* without jti the assertion itself is the key */
    make_assertion(f, f->app.client_id, &nojti, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    expect_refused(f, &a, 50012);
    /* a refused assertion is not remembered: fixing the cause lets the same jti through */
    o.jti = "fixed-jti";
    o.aud = AUD;
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700212);
    o.aud = NULL;
    make_assertion(f, f->app.client_id, &o, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    cf_buf_release(&a);
    cf_buf_release(&b);
    cf_buf_release(&tok);
}

static void key_replacement_revokes(void **state)
{
    struct fx *f = *state;
    struct cf_buf a, tok;
    struct cf_token_error te;
    struct cf_principal who;
    struct assertion_opts o = {0};
    struct cf_auth_app got;
    struct cf_auth_key_in keep;
    struct cf_auth_key_in bad = {"junk", 4, NULL, NULL};

    cf_buf_init(&a, 16384);
    cf_buf_init(&tok, 16384);
    set_certs(f, true, true);
    make_assertion(f, f->app.client_id, &o, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    /* keep the RSA key by its id: nothing removed, the token stays good */
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id, &got),
                     CF_OK);
    assert_int_equal(got.ncreds, 2);
    keep = (struct cf_auth_key_in){NULL, 0, NULL,
                                   strcmp(got.creds[0].display_name, "rsa") == 0
                                       ? got.creds[0].key_id
                                       : got.creds[1].key_id};
    assert_int_equal(cf_auth_keys_set(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id,
                                      &keep, 1), CF_OK);
    /* the EC key went away: revocation */
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_PRINCIPAL_GONE);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id, &got),
                     CF_OK);
    assert_int_equal(got.ncreds, 1);
    assert_string_equal(got.creds[0].display_name, "rsa");
    make_assertion(f, f->app.client_id, &o, &a);
    assert_int_equal(issue(f, f->app.client_id, NULL, a.data, &tok, &te), CF_OK);
    /* bad input changes nothing */
    assert_int_equal(cf_auth_keys_set(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id,
                                      &bad, 1), CF_EBADPARAM);
    keep.key_id = "00000000-0000-4000-8000-000000000000";
    assert_int_equal(cf_auth_keys_set(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id,
                                      &keep, 1), CF_EBADPARAM);
    assert_int_equal(cf_auth_app_get(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id, &got),
                     CF_OK);
    assert_int_equal(got.ncreds, 1);
    /* an empty set removes all */
    assert_int_equal(cf_auth_keys_set(f->auth, TENANT, CF_AUTH_ID_CLIENT, f->app.client_id,
                                      NULL, 0), CF_OK);
    make_assertion(f, f->app.client_id, &o, &a);
    expect_refused(f, &a, 700027);
    cf_buf_release(&a);
    cf_buf_release(&tok);
}

/* ---------------------------------------------------------------- groups */

static cf_err group_count(const struct cf_auth_group *g, void *arg)
{
    (void)g;
    (*(int *)arg)++;
    return CF_OK;
}

static cf_err member_count(const struct cf_auth_app *sp, const struct cf_auth_group *g,
                           void *arg)
{
    int *n = arg;
    n[sp ? 0 : 1]++;
    (void)g;
    return CF_OK;
}

static void groups_in_principal(void **state)
{
    struct fx *f = *state;
    struct cf_auth_group g1, g2, got;
    struct cf_auth_cred c;
    char s[41];
    struct cf_buf tok;
    struct cf_token_error te;
    struct cf_principal who;
    int n = 0, m[2] = {0, 0};

    cf_buf_init(&tok, 16384);
    assert_int_equal(cf_auth_group_create(f->auth, TENANT, "readers", "readers", "read all",
                                          &g1), CF_OK);
    assert_int_equal(cf_auth_group_create(f->auth, TENANT, "writers", "writers", NULL, &g2),
                     CF_OK);
    assert_int_equal(cf_auth_group_get(f->auth, TENANT, g1.object_id, &got), CF_OK);
    assert_string_equal(got.description, "read all");
    assert_int_equal(cf_auth_group_list(f->auth, TENANT, "WRITERS", group_count, &n), CF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, NULL, 0, &c, s), CF_OK);
    assert_int_equal(issue(f, f->app.client_id, s, NULL, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_int_equal(who.ngroups, 0);

    /* added: the cached verification refreshes, the token keeps working */
    assert_int_equal(cf_auth_group_member_add(f->auth, TENANT, g1.object_id,
                                              f->app.sp_object_id), CF_OK);
    assert_int_equal(cf_auth_group_member_add(f->auth, TENANT, g1.object_id,
                                              f->app.sp_object_id), CF_EEXISTS);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_int_equal(who.ngroups, 1);
    assert_string_equal(who.groups[0], g1.object_id);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK); /* from the cache: still there */
    assert_int_equal(who.ngroups, 1);
    /* a group in a group; the app's memberOf; the members */
    assert_int_equal(cf_auth_group_member_add(f->auth, TENANT, g1.object_id, g2.object_id),
                     CF_OK);
    assert_int_equal(cf_auth_group_member_add(f->auth, TENANT, g1.object_id, g1.object_id),
                     CF_EBADPARAM);
    assert_int_equal(cf_auth_group_member_add(f->auth, TENANT, g1.object_id,
                                              f->app.app_object_id), CF_ENOTFOUND);
    assert_int_equal(cf_auth_group_members(f->auth, TENANT, g1.object_id, member_count, m),
                     CF_OK);
    assert_int_equal(m[0], 1);
    assert_int_equal(m[1], 1);
    n = 0;
    assert_int_equal(cf_auth_member_of(f->auth, TENANT, f->app.sp_object_id, group_count, &n),
                     CF_OK);
    assert_int_equal(n, 1);
    /* removed */
    assert_int_equal(cf_auth_group_member_remove(f->auth, TENANT, g1.object_id,
                                                 f->app.sp_object_id), CF_OK);
    assert_int_equal(cf_auth_group_member_remove(f->auth, TENANT, g1.object_id,
                                                 f->app.sp_object_id), CF_ENOTFOUND);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_int_equal(who.ngroups, 0);
    /* group deletion drops the membership */
    assert_int_equal(cf_auth_group_member_add(f->auth, TENANT, g2.object_id,
                                              f->app.sp_object_id), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_int_equal(who.ngroups, 1);
    assert_int_equal(cf_auth_group_delete(f->auth, TENANT, g2.object_id), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_int_equal(who.ngroups, 0);
    assert_int_equal(cf_auth_group_delete(f->auth, TENANT, g2.object_id), CF_ENOTFOUND);
    m[0] = m[1] = 0;
    assert_int_equal(cf_auth_group_members(f->auth, TENANT, g1.object_id, member_count, m),
                     CF_OK);
    assert_int_equal(m[0] + m[1], 0);
    cf_buf_release(&tok);
}

static void many_groups_only_first_count(void **state)
{
    struct fx *f = *state;
    struct cf_auth_group g;
    struct cf_auth_cred c;
    char s[41];
    struct cf_buf tok;
    struct cf_token_error te;
    struct cf_principal who;

    cf_buf_init(&tok, 16384);
    for (int i = 0; i < CF_AUTH_MAX_GROUPS + 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "g%d", i);
        assert_int_equal(cf_auth_group_create(f->auth, TENANT, name, name, NULL, &g), CF_OK);
        assert_int_equal(cf_auth_group_member_add(f->auth, TENANT, g.object_id,
                                                  f->app.sp_object_id), CF_OK);
    }
    assert_int_equal(cf_auth_password_add(f->auth, TENANT, CF_AUTH_ID_APP_OBJECT,
                                          f->app.app_object_id, NULL, 0, &c, s), CF_OK);
    assert_int_equal(issue(f, f->app.client_id, s, NULL, &tok, &te), CF_OK);
    assert_int_equal(verify(f, &tok, &who), CF_AUTH_OK);
    assert_int_equal(who.ngroups, CF_AUTH_MAX_GROUPS);
    cf_buf_release(&tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(app_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(app_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(passwords_several_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(password_remove_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(app_delete_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(legacy_sp_create_is_an_application, setup, teardown),
        cmocka_unit_test_setup_teardown(assertion_accepted_each_alg, setup, teardown),
        cmocka_unit_test_setup_teardown(assertion_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(assertion_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(key_replacement_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(groups_in_principal, setup, teardown),
        cmocka_unit_test_setup_teardown(many_groups_only_first_count, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

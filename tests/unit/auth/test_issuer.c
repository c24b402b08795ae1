/* test_issuer.c - trusted external OIDC issuers: the test plays an issuer (an RSA and an EC key,
 * a JWKS made from them, tokens signed with cf_jws_sign) and checks what cf_auth_verify
 * accepts and refuses: algorithms, kid, iss, aud, exp/nbf, oid/sub, groups, the unknown-kid
 * hook and a JWKS refresh, bad JWKS documents, and that the server's own tokens still work. */
#include "base/cf.h"
#include "auth/auth.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "crypto/jwk_pub.h"
#include "store/store.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define ISSUER "https://login.localhost:8443"
#define TENANT "72f988bf-0000-4000-8000-000000000001"
#define SECRET "s3cr3t-Value-for-tests-0123456789"
#define VAULT_AUD "https://vault.localhost:8443"
#define EXT_ISS "https://idp.example.test/realms/corp"
#define EXT_AUD "api://coffer"
#define OID "0b9a5d36-1111-4222-8333-444455556666"
#define GROUP "9f1c2b3a-aaaa-4bbb-8ccc-dddddddddddd"
#define T0 1700000000

struct fake_clock {
    struct cf_clock c;
    int64_t now_ms;
};

static int64_t fake_now(const struct cf_clock *c)
{
    return ((const struct fake_clock *)c)->now_ms;
}

struct fx {
    char dir[64];
    char dbpath[128];
    struct fake_clock clock;
    unsigned char master[32];
    struct cf_store *store;
    struct cf_auth *auth;
    struct cf_pkey *rsa, *ec, *other;
    int hook_calls;
    char hook_iss[256];
};

/* Keys are slow to make (RSA): once for the whole file. */
static struct cf_pkey *g_rsa, *g_ec, *g_other;

static int group_setup(void **state)
{
    struct cf_buf der;
    (void)state;
    cf_buf_init(&der, 16384);
    if (cf_x509_cred_self_signed(true, "idp", 1, &der, &g_rsa) != CF_OK)
        return -1;
    cf_buf_release(&der);
    if (cf_pkey_generate_ec_p256(&g_ec) != CF_OK || cf_pkey_generate_ec_p256(&g_other) != CF_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cf_pkey_free(g_rsa);
    cf_pkey_free(g_ec);
    cf_pkey_free(g_other);
    return 0;
}

/* {"keys":[rsa "r1", ec "e1"]} plus, when extra, an oct key and an "enc" key to skip. */
static void make_jwks(struct cf_buf *out, const struct cf_pkey *rsa, const char *rsa_alg,
                      const struct cf_pkey *ec, bool extra)
{
    struct cf_jw w;
    cf_buf_init(out, 16384);
    cf_jw_init(&w, out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "keys");
    cf_jw_arr_begin(&w);
    if (extra) {
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "kty", "oct");
        cf_jw_kstr(&w, "kid", "o1");
        cf_jw_kstr(&w, "k", "AAAA");
        cf_jw_obj_end(&w);
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "kty", "EC");
        cf_jw_kstr(&w, "use", "enc");
        cf_jw_kstr(&w, "kid", "x1");
        cf_jw_obj_end(&w);
    }
    if (rsa)
        assert_int_equal(cf_pkey_write_public_jwk(rsa, "r1", rsa_alg, &w), CF_OK);
    if (ec)
        assert_int_equal(cf_pkey_write_public_jwk(ec, "e1", NULL, &w), CF_OK);
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
}

static void hook(void *ctx, const char *issuer)
{
    struct fx *f = ctx;
    f->hook_calls++;
    snprintf(f->hook_iss, sizeof(f->hook_iss), "%s", issuer);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts so = {0};
    struct cf_auth_opts o = {.issuer = ISSUER};
    struct cf_buf jwks;
    cf_err e;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-iss-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->dbpath, sizeof(f->dbpath), "%s/coffer.db", f->dir);
    f->clock.c.now_ms = fake_now;
    f->clock.now_ms = (int64_t)T0 * 1000;
    for (size_t i = 0; i < sizeof(f->master); i++)
        f->master[i] = (unsigned char)(i * 3 + 1);
    so.path = f->dbpath;
    f->store = cf_store_open_sqlite(&so, &e);
    assert_non_null(f->store);
    f->auth = cf_auth_new(f->store, &f->clock.c, f->master, &o, &e);
    assert_non_null(f->auth);
    assert_int_equal(cf_auth_set_default_tenant(f->auth, TENANT), CF_OK);
    f->rsa = g_rsa;
    f->ec = g_ec;
    f->other = g_other;
    cf_auth_set_issuer_hook(f->auth, hook, f);
    make_jwks(&jwks, f->rsa, NULL, f->ec, true);
    assert_int_equal(cf_auth_trust_issuer(f->auth, EXT_ISS, EXT_AUD, NULL, jwks.data, jwks.len),
                     CF_OK);
    cf_buf_release(&jwks);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d;
    struct dirent *de;
    char path[512];

    cf_auth_free(f->auth);
    cf_store_close(f->store);
    d = opendir(f->dir);
    if (d) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- tokens */

struct tok_opts {
    const char *alg;     /* default RS256 */
    const char *kid;     /* default "r1"; "" = none */
    const struct cf_pkey *key; /* default by alg */
    const char *iss;     /* default EXT_ISS */
    const char *aud_json; /* default "\"api://coffer\"" */
    int64_t exp;         /* default T0 + 3600; -1 = absent */
    int64_t nbf;         /* default absent (0) */
    const char *oid;     /* default OID; "" = absent */
    const char *sub;     /* default absent */
    const char *extra;   /* raw JSON members appended */
};

static void make_token(const struct tok_opts *o, struct cf_buf *tok)
{
    const char *alg = o->alg ? o->alg : "RS256";
    const char *kid = o->kid ? o->kid : (strcmp(alg, "ES256") == 0 ? "e1" : "r1");
    const struct cf_pkey *key = o->key ? o->key : strcmp(alg, "ES256") == 0 ? g_ec : g_rsa;
    char hdr[256], pl[2048];
    int n;

    if (kid[0])
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    else
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    n = snprintf(pl, sizeof(pl), "{\"iss\":\"%s\",\"aud\":%s,\"iat\":%d,\"tid\":\"ext-tenant\"",
                 o->iss ? o->iss : EXT_ISS, o->aud_json ? o->aud_json : "\"" EXT_AUD "\"", T0);
    if (o->exp != -1)
        n += snprintf(pl + n, sizeof(pl) - (size_t)n, ",\"exp\":%lld",
                      (long long)(o->exp ? o->exp : T0 + 3600));
    if (o->nbf)
        n += snprintf(pl + n, sizeof(pl) - (size_t)n, ",\"nbf\":%lld", (long long)o->nbf);
    if (!o->oid || o->oid[0])
        n += snprintf(pl + n, sizeof(pl) - (size_t)n, ",\"oid\":\"%s\"", o->oid ? o->oid : OID);
    if (o->sub)
        n += snprintf(pl + n, sizeof(pl) - (size_t)n, ",\"sub\":\"%s\"", o->sub);
    if (o->extra)
        n += snprintf(pl + n, sizeof(pl) - (size_t)n, ",%s", o->extra);
    snprintf(pl + n, sizeof(pl) - (size_t)n, "}");
    cf_buf_init(tok, 16384);
    assert_int_equal(cf_jws_sign(key, alg, hdr, pl, tok), CF_OK);
}

static enum cf_auth_fail check(struct fx *f, const struct tok_opts *o, struct cf_principal *who)
{
    struct cf_buf tok;
    struct cf_str aud = CF_STR(VAULT_AUD);
    struct cf_principal dummy;
    enum cf_auth_fail why = CF_AUTH_OK;
    cf_err e;

    make_token(o, &tok);
    e = cf_auth_verify(f->auth, cf_buf_str(&tok), &aud, 1, who ? who : &dummy, &why);
    cf_buf_release(&tok);
    if (e == CF_OK)
        return CF_AUTH_OK;
    assert_int_equal(e, CF_EUNAUTH);
    assert_int_not_equal(why, CF_AUTH_OK);
    return why;
}

/* ---------------------------------------------------------------- tests */

static void test_algorithms_accepted(void **state)
{
    struct fx *f = *state;
    struct cf_principal who;
    static const char *const algs[] = {"RS256", "PS256", "ES256"};

    for (size_t i = 0; i < CF_ARRAY_LEN(algs); i++) {
        memset(&who, 0x5a, sizeof(who));
        assert_int_equal(check(f, &(struct tok_opts){.alg = algs[i]}, &who), CF_AUTH_OK);
        assert_string_equal(who.object_id, OID);
        assert_string_equal(who.tenant_id, TENANT);
        assert_string_equal(who.client_id, OID);
        assert_true(who.external);
        assert_int_equal(who.expires, T0 + 3600);
        assert_int_equal(who.ngroups, 0);
    }
}

static void test_claims_mapped(void **state)
{
    struct fx *f = *state;
    struct cf_principal who;

    assert_int_equal(check(f,
                           &(struct tok_opts){.extra = "\"azp\":\"my-app\",\"groups\":[\"" GROUP
                                                       "\",7,\"this-group-id-is-far-too-long-to-be-"
                                                       "an-object-id\",\"g2\"]"},
                           &who),
                     CF_AUTH_OK);
    assert_string_equal(who.client_id, "my-app");
    assert_int_equal(who.ngroups, 2);
    assert_string_equal(who.groups[0], GROUP);
    assert_string_equal(who.groups[1], "g2");
    /* sub when there is no oid */
    assert_int_equal(check(f, &(struct tok_opts){.oid = "", .sub = "user-17"}, &who), CF_AUTH_OK);
    assert_string_equal(who.object_id, "user-17");
    /* neither, or too long to be an object id: refused */
    assert_int_equal(check(f, &(struct tok_opts){.oid = ""}, NULL), CF_AUTH_MALFORMED);
    assert_int_equal(
        check(f, &(struct tok_opts){.oid = "", .sub = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
              NULL),
        CF_AUTH_MALFORMED);
    /* aud as an array, and case / trailing '/' ignored */
    assert_int_equal(check(f, &(struct tok_opts){.aud_json = "[\"x\",\"API://coffer/\"]"}, NULL),
                     CF_AUTH_OK);
}

static void test_claims_refused(void **state)
{
    struct fx *f = *state;

    assert_int_equal(check(f, &(struct tok_opts){.aud_json = "\"api://other\""}, NULL),
                     CF_AUTH_BAD_AUDIENCE);
    assert_int_equal(check(f, &(struct tok_opts){.aud_json = "[\"api://other\"]"}, NULL),
                     CF_AUTH_BAD_AUDIENCE);
    assert_int_equal(check(f, &(struct tok_opts){.aud_json = "\"" VAULT_AUD "\""}, NULL),
                     CF_AUTH_BAD_AUDIENCE);
    assert_int_equal(check(f, &(struct tok_opts){.exp = T0 - 61}, NULL), CF_AUTH_EXPIRED);
    assert_int_equal(check(f, &(struct tok_opts){.exp = T0 - 59}, NULL), CF_AUTH_OK);
    assert_int_equal(check(f, &(struct tok_opts){.exp = -1}, NULL), CF_AUTH_MALFORMED);
    assert_int_equal(check(f, &(struct tok_opts){.nbf = T0 + 61}, NULL), CF_AUTH_NOT_YET);
    assert_int_equal(check(f, &(struct tok_opts){.nbf = T0 + 59}, NULL), CF_AUTH_OK);
    assert_int_equal(check(f, &(struct tok_opts){.iss = "https://evil.example.test/realms/corp"},
                           NULL),
                     CF_AUTH_MALFORMED);
    assert_int_equal(check(f, &(struct tok_opts){.iss = EXT_ISS "/"}, NULL), CF_AUTH_MALFORMED);
}

static void test_signatures_refused(void **state)
{
    struct fx *f = *state;
    struct cf_buf tok;
    struct cf_str aud = CF_STR(VAULT_AUD);
    struct cf_principal who;
    enum cf_auth_fail why;

    /* right kid, another key */
    assert_int_equal(check(f, &(struct tok_opts){.alg = "ES256", .key = g_other}, NULL),
                     CF_AUTH_MALFORMED);
    /* an RSA kid with an EC algorithm, an EC kid with an RSA algorithm */
    assert_int_equal(check(f, &(struct tok_opts){.alg = "ES256", .kid = "r1", .key = g_ec}, NULL),
                     CF_AUTH_MALFORMED);
    assert_int_equal(check(f, &(struct tok_opts){.alg = "RS256", .kid = "e1", .key = g_rsa},
                           NULL),
                     CF_AUTH_MALFORMED);
    /* no kid */
    assert_int_equal(check(f, &(struct tok_opts){.kid = ""}, NULL), CF_AUTH_MALFORMED);
    assert_int_equal(f->hook_calls, 0);
    /* alg none: header and payload, empty signature */
    cf_buf_init(&tok, 4096);
    assert_int_equal(cf_buf_puts(&tok, "eyJhbGciOiJub25lIiwia2lkIjoicjEifQ."
                                       "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLnRlc3QvcmVhbG1zL2Nv"
                                       "cnAiLCJhdWQiOiJhcGk6Ly9jb2ZmZXIiLCJleHAiOjk5OTk5OTk5OTks"
                                       "Im9pZCI6IngifQ."),
                     CF_OK);
    assert_int_equal(cf_auth_verify(f->auth, cf_buf_str(&tok), &aud, 1, &who, &why), CF_EUNAUTH);
    cf_buf_release(&tok);
}

static void test_jwk_alg_pins(void **state)
{
    struct fx *f = *state;
    struct cf_buf jwks;

    make_jwks(&jwks, f->rsa, "RS256", f->ec, false);
    assert_int_equal(cf_auth_trust_issuer(f->auth, EXT_ISS, EXT_AUD, NULL, jwks.data, jwks.len),
                     CF_OK);
    cf_buf_release(&jwks);
    assert_int_equal(check(f, &(struct tok_opts){.alg = "RS256"}, NULL), CF_AUTH_OK);
    assert_int_equal(check(f, &(struct tok_opts){.alg = "PS256"}, NULL), CF_AUTH_MALFORMED);
}

static void test_unknown_kid_hook_and_refresh(void **state)
{
    struct fx *f = *state;
    struct cf_buf jwks;
    struct cf_jw w;

    assert_int_equal(check(f, &(struct tok_opts){.alg = "ES256", .kid = "e2", .key = g_other},
                           NULL),
                     CF_AUTH_MALFORMED);
    assert_int_equal(f->hook_calls, 1);
    assert_string_equal(f->hook_iss, EXT_ISS);
    /* the server refreshes: the new JWKS has e2 (and no longer r1) */
    cf_buf_init(&jwks, 16384);
    cf_jw_init(&w, &jwks);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "keys");
    cf_jw_arr_begin(&w);
    assert_int_equal(cf_pkey_write_public_jwk(g_other, "e2", "ES256", &w), CF_OK);
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_auth_trust_issuer(f->auth, EXT_ISS, EXT_AUD, TENANT, jwks.data, jwks.len),
                     CF_OK);
    cf_buf_release(&jwks);
    assert_int_equal(check(f, &(struct tok_opts){.alg = "ES256", .kid = "e2", .key = g_other},
                           NULL),
                     CF_AUTH_OK);
    assert_int_equal(check(f, &(struct tok_opts){.alg = NULL}, NULL), CF_AUTH_MALFORMED);
    assert_int_equal(f->hook_calls, 2);
    /* a token of an untrusted issuer does not call the hook */
    assert_int_equal(check(f, &(struct tok_opts){.iss = "https://nobody"}, NULL),
                     CF_AUTH_MALFORMED);
    assert_int_equal(f->hook_calls, 2);
}

static void test_trust_bad_input(void **state)
{
    struct fx *f = *state;
    struct cf_buf jwks;
    static const char *const bad[] = {
        "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"AAAA\"}]}",
        /* no kid */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
        /* RSA modulus too small */
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        /* point not on the curve */
        "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"a\",\"crv\":\"P-256\","
        "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}",
    };
    char name[64];

    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++)
        assert_int_equal(cf_auth_trust_issuer(f->auth, "https://x", EXT_AUD, NULL, bad[i],
                                              strlen(bad[i])),
                         CF_EINVAL);
    make_jwks(&jwks, NULL, NULL, f->ec, false);
    assert_int_equal(cf_auth_trust_issuer(f->auth, "", EXT_AUD, NULL, jwks.data, jwks.len),
                     CF_EINVAL);
    assert_int_equal(cf_auth_trust_issuer(f->auth, "https://x", "", NULL, jwks.data, jwks.len),
                     CF_EINVAL);
    assert_int_equal(cf_auth_trust_issuer(f->auth, "https://x", EXT_AUD, "no-such-tenant",
                                          jwks.data, jwks.len),
                     CF_ENOTFOUND);
    /* 8 issuers at most (one is the fixture's) */
    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof(name), "https://idp%d", i);
        assert_int_equal(cf_auth_trust_issuer(f->auth, name, EXT_AUD, NULL, jwks.data, jwks.len),
                         CF_OK);
    }
    assert_int_equal(cf_auth_trust_issuer(f->auth, "https://one-too-many", EXT_AUD, NULL,
                                          jwks.data, jwks.len),
                     CF_ETOOBIG);
    /* replacing an existing one still works */
    assert_int_equal(cf_auth_trust_issuer(f->auth, "https://idp3", EXT_AUD, NULL, jwks.data,
                                          jwks.len),
                     CF_OK);
    cf_buf_release(&jwks);
    assert_int_equal(check(f, &(struct tok_opts){.alg = NULL}, NULL), CF_AUTH_OK);
}

static void test_own_tokens_unaffected(void **state)
{
    struct fx *f = *state;
    char cid[64], oid[37];
    struct cf_token_request r = {.tenant = CF_STR(TENANT),
                                 .grant_type = CF_STR("client_credentials"),
                                 .client_secret = CF_STR(SECRET),
                                 .scope = CF_STR(VAULT_AUD "/.default")};
    struct cf_token_error te;
    struct cf_buf tok;
    struct cf_str aud = CF_STR(VAULT_AUD);
    struct cf_principal who;
    enum cf_auth_fail why;
    int64_t exp_in;

    assert_int_equal(cf_auth_sp_create(f->auth, TENANT, "app", SECRET, cid, oid, NULL, 0), CF_OK);
    r.client_id = cf_str_from(cid);
    cf_buf_init(&tok, 16384);
    assert_int_equal(cf_auth_issue_token(f->auth, &r, &tok, &exp_in, &te), CF_OK);
    assert_int_equal(cf_auth_verify(f->auth, cf_buf_str(&tok), &aud, 1, &who, &why), CF_OK);
    assert_string_equal(who.object_id, oid);
    assert_false(who.external);
    cf_buf_release(&tok);
    /* a token claiming our own issuer but signed by the external key is not ours */
    assert_int_equal(check(f, &(struct tok_opts){.iss = ISSUER "/" TENANT "/v2.0"}, NULL),
                     CF_AUTH_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_algorithms_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signatures_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwk_alg_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_kid_hook_and_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trust_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_tokens_unaffected, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

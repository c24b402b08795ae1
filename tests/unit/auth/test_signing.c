/* test_signing.c - the token signing key ring: rotation on demand and when due, retired keys
 * verifying until their window ends, JWKS contents, restart, migration of the version 1 record,
 * a full ring. Real SQLite store in a temp dir, a clock the tests move. */
#include "base/cf.h"
#include "auth/auth.h"
#include "base/json.h"
#include "crypto/crypto.h"
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
#define VAULT_SCOPE "https://vault.localhost:8443/.default"
#define T0 1700000000
#define LIFETIME 600
#define WINDOW (LIFETIME + 300)
#define META "auth.signing_key"

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
    int rotate_days;
    char client_id[64];
    char object_id[37];
};

static struct cf_auth *auth_open(struct fx *f)
{
    struct cf_auth_opts o = {.token_lifetime_s = LIFETIME,
                             .issuer = ISSUER,
                             .signing_key_rotate_days = f->rotate_days};
    cf_err e = CF_EINTERNAL;
    struct cf_auth *a = cf_auth_new(f->store, &f->clock.c, f->master, &o, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(a);
    return a;
}

static void reopen(struct fx *f)
{
    struct cf_store_opts so = {.path = f->dbpath};
    cf_err e;
    cf_auth_free(f->auth);
    cf_store_close(f->store);
    f->store = cf_store_open_sqlite(&so, &e);
    assert_non_null(f->store);
    f->auth = auth_open(f);
}

static int setup_days(void **state, int days)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts so = {0};
    cf_err e;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-sign-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->dbpath, sizeof(f->dbpath), "%s/coffer.db", f->dir);
    f->clock.c.now_ms = fake_now;
    f->clock.now_ms = (int64_t)T0 * 1000;
    for (size_t i = 0; i < sizeof(f->master); i++)
        f->master[i] = (unsigned char)(i * 5 + 3);
    f->rotate_days = days;
    so.path = f->dbpath;
    f->store = cf_store_open_sqlite(&so, &e);
    assert_non_null(f->store);
    f->auth = auth_open(f);
    assert_int_equal(cf_auth_set_default_tenant(f->auth, TENANT), CF_OK);
    assert_int_equal(cf_auth_sp_create(f->auth, TENANT, "app", SECRET, f->client_id,
                                       f->object_id, NULL, 0),
                     CF_OK);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_days(state, 0);
}

static int setup_30(void **state)
{
    return setup_days(state, 30);
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

/* ---------------------------------------------------------------- helpers */

static void set_time(struct fx *f, int64_t s)
{
    f->clock.now_ms = s * 1000;
}

static void issue(struct fx *f, struct cf_buf *tok)
{
    struct cf_token_request r = {.tenant = cf_str_from(TENANT),
                                 .grant_type = CF_STR("client_credentials"),
                                 .client_id = cf_str_from(f->client_id),
                                 .client_secret = CF_STR(SECRET),
                                 .scope = CF_STR(VAULT_SCOPE)};
    struct cf_token_error te;
    int64_t exp_in = 0;

    cf_buf_init(tok, 16384);
    assert_int_equal(cf_auth_issue_token(f->auth, &r, tok, &exp_in, &te), CF_OK);
    assert_int_equal(exp_in, LIFETIME);
}

static enum cf_auth_fail verify(struct cf_auth *a, const struct cf_buf *tok)
{
    struct cf_str aud = CF_STR(VAULT_AUD);
    struct cf_principal who;
    enum cf_auth_fail why = CF_AUTH_OK;
    cf_err e = cf_auth_verify(a, cf_buf_str(tok), &aud, 1, &who, &why);
    if (e == CF_OK)
        return CF_AUTH_OK;
    assert_int_equal(e, CF_EUNAUTH);
    assert_int_not_equal(why, CF_AUTH_OK);
    return why;
}

static void kid_of(const struct cf_buf *tok, char kid[128])
{
    struct cf_jwt jwt;
    memset(&jwt, 0, sizeof(jwt));
    assert_int_equal(cf_jwt_decode(cf_buf_str(tok), &jwt), CF_OK);
    memcpy(kid, jwt.kid, sizeof(jwt.kid));
    cf_jwt_release(&jwt);
}

/* The kids JWKS lists, in order, joined with ','. */
static void jwks_kids(struct cf_auth *a, char *out, size_t cap)
{
    struct cf_buf b;
    struct cf_jw w;
    struct cf_json *root = NULL;
    const struct cf_json *keys;
    size_t n = 0;

    cf_buf_init(&b, 16384);
    cf_jw_init(&w, &b);
    assert_int_equal(cf_auth_write_jwks(a, &w), CF_OK);
    assert_int_equal(cf_json_parse(b.data, b.len, &root, NULL, 0), CF_OK);
    keys = cf_json_get(root, "keys");
    out[0] = '\0';
    for (size_t i = 0; i < cf_json_size(keys); i++) {
        const char *kid = cf_json_str(cf_json_get(cf_json_at(keys, i), "kid"), NULL);
        assert_non_null(kid);
        assert_string_equal(cf_json_str(cf_json_get(cf_json_at(keys, i), "alg"), NULL), "ES256");
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", kid);
    }
    cf_json_free(root);
    cf_buf_release(&b);
}

struct meta_arg {
    struct cf_buf *buf;
    bool put;
};

static cf_err meta_fn(struct cf_store_txn *t, void *arg)
{
    struct meta_arg *m = arg;
    if (m->put)
        return cf_store_meta_put(t, META, m->buf->data, m->buf->len);
    cf_buf_reset(m->buf);
    return cf_store_meta_get(t, META, m->buf);
}

static struct cf_json *stored_doc(struct fx *f)
{
    struct cf_buf b;
    struct meta_arg m = {&b, false};
    struct cf_json *root = NULL;

    cf_buf_init(&b, 65536);
    assert_int_equal(cf_store_read(f->store, meta_fn, &m), CF_OK);
    assert_int_equal(cf_json_parse(b.data, b.len, &root, NULL, 0), CF_OK);
    cf_buf_release(&b);
    return root;
}

/* ---------------------------------------------------------------- tests */

static void test_first_start_one_key(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key k[4];
    struct cf_buf tok;
    char kid[128], kids[512];
    struct cf_json *doc;

    assert_int_equal(cf_auth_signing_keys(f->auth, k, 4), 1);
    assert_true(k[0].active);
    assert_string_equal(k[0].alg, "ES256");
    assert_int_equal(k[0].created, T0);
    assert_int_equal(k[0].retired, 0);
    assert_int_equal(k[0].retire_after, 0);
    issue(f, &tok);
    kid_of(&tok, kid);
    assert_string_equal(kid, k[0].kid);
    jwks_kids(f->auth, kids, sizeof(kids));
    assert_string_equal(kids, k[0].kid);
    doc = stored_doc(f);
    assert_int_equal(cf_json_size(cf_json_get(doc, "keys")), 1);
    {
        int64_t v = 0;
        assert_true(cf_json_int(cf_json_get(doc, "v"), &v));
        assert_int_equal(v, 2);
    }
    cf_json_free(doc);
    cf_buf_release(&tok);
}

static void test_rotate_old_token_verifies_new_kid(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key before[2], now[4], nk;
    struct cf_buf old_tok, new_tok, old_tok2;
    char kid_old[128], kid_new[128], kids[512], want[512];

    assert_int_equal(cf_auth_signing_keys(f->auth, before, 2), 1);
    issue(f, &old_tok);
    assert_int_equal(verify(f->auth, &old_tok), CF_AUTH_OK); /* now cached */
    set_time(f, T0 + 10);
    issue(f, &old_tok2); /* never verified before the rotation: not cached */
    set_time(f, T0 + 100);
    assert_int_equal(cf_auth_rotate_signing_key(f->auth, &nk), CF_OK);
    assert_true(nk.active);
    assert_string_not_equal(nk.kid, before[0].kid);
    assert_int_equal(nk.created, T0 + 100);

    /* the old tokens still verify, cached or not */
    assert_int_equal(verify(f->auth, &old_tok), CF_AUTH_OK);
    assert_int_equal(verify(f->auth, &old_tok2), CF_AUTH_OK);
    /* new tokens carry the new kid and verify */
    issue(f, &new_tok);
    kid_of(&old_tok, kid_old);
    kid_of(&new_tok, kid_new);
    assert_string_equal(kid_old, before[0].kid);
    assert_string_equal(kid_new, nk.kid);
    assert_int_equal(verify(f->auth, &new_tok), CF_AUTH_OK);

    /* both in JWKS, the signer first; the list says which retires when */
    jwks_kids(f->auth, kids, sizeof(kids));
    snprintf(want, sizeof(want), "%s,%s", nk.kid, before[0].kid);
    assert_string_equal(kids, want);
    assert_int_equal(cf_auth_signing_keys(f->auth, now, 4), 2);
    assert_true(now[0].active);
    assert_false(now[1].active);
    assert_string_equal(now[1].kid, before[0].kid);
    assert_int_equal(now[1].retired, T0 + 100);
    assert_int_equal(now[1].retire_after, T0 + 100 + WINDOW);

    /* a restart keeps the ring: same answers from a fresh object (nothing cached) */
    reopen(f);
    assert_int_equal(verify(f->auth, &old_tok), CF_AUTH_OK);
    assert_int_equal(verify(f->auth, &new_tok), CF_AUTH_OK);
    jwks_kids(f->auth, kids, sizeof(kids));
    assert_string_equal(kids, want);
    cf_buf_release(&old_tok);
    cf_buf_release(&old_tok2);
    cf_buf_release(&new_tok);
}

static void test_retirement_window(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key nk, k[4];
    struct cf_buf old_tok, new_tok;
    char kids[512];
    struct cf_json *doc;

    issue(f, &old_tok);
    assert_int_equal(verify(f->auth, &old_tok), CF_AUTH_OK);
    assert_int_equal(cf_auth_rotate_signing_key(f->auth, &nk), CF_OK);
    /* the last second of the window: old kid still listed (the token itself has expired) */
    set_time(f, T0 + WINDOW - 1);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 4), 2);
    assert_int_equal(verify(f->auth, &old_tok), CF_AUTH_EXPIRED);
    issue(f, &new_tok);
    /* window over: the kid is refused before any time check, cached or not, and gone from
     * JWKS at once (before the periodic check drops it from the store) */
    set_time(f, T0 + WINDOW);
    assert_int_equal(verify(f->auth, &old_tok), CF_AUTH_MALFORMED);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 4), 1);
    assert_string_equal(k[0].kid, nk.kid);
    jwks_kids(f->auth, kids, sizeof(kids));
    assert_string_equal(kids, nk.kid);
    assert_int_equal(verify(f->auth, &new_tok), CF_AUTH_OK);
    doc = stored_doc(f);
    assert_int_equal(cf_json_size(cf_json_get(doc, "keys")), 2);
    cf_json_free(doc);
    /* the periodic check drops it from the store too */
    assert_int_equal(cf_auth_rotate_due(f->auth), CF_OK);
    doc = stored_doc(f);
    assert_int_equal(cf_json_size(cf_json_get(doc, "keys")), 1);
    cf_json_free(doc);
    reopen(f);
    assert_int_equal(verify(f->auth, &old_tok), CF_AUTH_MALFORMED);
    assert_int_equal(verify(f->auth, &new_tok), CF_AUTH_OK);
    jwks_kids(f->auth, kids, sizeof(kids));
    assert_string_equal(kids, nk.kid);
    cf_buf_release(&old_tok);
    cf_buf_release(&new_tok);
}

static void test_never_rotates_when_zero(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key k[2];
    struct cf_buf tok;
    char kid[128];

    assert_int_equal(cf_auth_signing_keys(f->auth, k, 2), 1);
    set_time(f, T0 + 1000 * 86400);
    assert_int_equal(cf_auth_rotate_due(f->auth), CF_OK);
    issue(f, &tok);
    kid_of(&tok, kid);
    assert_string_equal(kid, k[0].kid);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 2), 1);
    cf_buf_release(&tok);
}

static void test_due_rotation_periodic(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key k0[2], k[4];

    assert_int_equal(cf_auth_signing_keys(f->auth, k0, 2), 1);
    set_time(f, T0 + 30 * 86400 - 1);
    assert_int_equal(cf_auth_rotate_due(f->auth), CF_OK);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 4), 1);
    set_time(f, T0 + 30 * 86400);
    assert_int_equal(cf_auth_rotate_due(f->auth), CF_OK);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 4), 2);
    assert_string_not_equal(k[0].kid, k0[0].kid);
    assert_int_equal(k[0].created, T0 + 30 * 86400);
    /* not due again right away */
    assert_int_equal(cf_auth_rotate_due(f->auth), CF_OK);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 4), 2);
}

static void test_due_rotation_at_issuance(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key k0[2], k[4];
    struct cf_buf tok;
    char kid[128];

    assert_int_equal(cf_auth_signing_keys(f->auth, k0, 2), 1);
    set_time(f, T0 + 31 * 86400);
    issue(f, &tok); /* no periodic call: the issuance check rotates */
    kid_of(&tok, kid);
    assert_string_not_equal(kid, k0[0].kid);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 4), 2);
    assert_string_equal(k[0].kid, kid);
    assert_int_equal(verify(f->auth, &tok), CF_AUTH_OK);
    cf_buf_release(&tok);
}

static void test_migrates_v1_record(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key k[2];
    struct cf_json *doc = stored_doc(f);
    const struct cf_json *k0 = cf_json_at(cf_json_get(doc, "keys"), 0);
    struct cf_buf v1, tok;
    struct cf_jw w;
    struct meta_arg m = {&v1, true};
    char kid[128];
    int64_t v = 0;

    /* rewrite the record as a version 1 server stored it */
    cf_buf_init(&v1, 65536);
    cf_jw_init(&w, &v1);
    cf_jw_obj_begin(&w);
    cf_jw_kint(&w, "v", 1);
    cf_jw_kstr(&w, "active", cf_json_str(cf_json_get(k0, "kid"), NULL));
    cf_jw_key(&w, "keys");
    cf_jw_arr_begin(&w);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "kid", cf_json_str(cf_json_get(k0, "kid"), NULL));
    cf_jw_kstr(&w, "alg", "ES256");
    cf_jw_kint(&w, "created", T0);
    cf_jw_kstr(&w, "sealed", cf_json_str(cf_json_get(k0, "sealed"), NULL));
    cf_jw_obj_end(&w);
    cf_jw_arr_end(&w);
    cf_jw_obj_end(&w);
    assert_int_equal(cf_jw_err(&w), CF_OK);
    assert_int_equal(cf_store_write(f->store, meta_fn, &m), CF_OK);
    issue(f, &tok);
    reopen(f);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 2), 1);
    assert_string_equal(k[0].kid, cf_json_str(cf_json_get(k0, "kid"), NULL));
    assert_true(k[0].active);
    assert_int_equal(verify(f->auth, &tok), CF_AUTH_OK);
    cf_json_free(doc);
    doc = stored_doc(f);
    assert_true(cf_json_int(cf_json_get(doc, "v"), &v));
    assert_int_equal(v, 2);
    cf_json_free(doc);
    cf_buf_release(&tok);
    issue(f, &tok);
    kid_of(&tok, kid);
    assert_string_equal(kid, k[0].kid);
    cf_buf_release(&tok);
    cf_buf_release(&v1);
}

static void test_damaged_record_refused(void **state)
{
    struct fx *f = *state;
    struct cf_buf b;
    struct meta_arg m = {&b, true};
    struct cf_auth_opts o = {.issuer = ISSUER};
    cf_err e = CF_OK;
    static const char *const bad[] = {
        "not json",
        "{\"v\":3,\"keys\":[]}",
        "{\"v\":2,\"keys\":[]}",
        /* two signers */
        "{\"v\":2,\"keys\":[{\"kid\":\"a\",\"alg\":\"ES256\",\"created\":1,\"retired\":0,"
        "\"retire_after\":0,\"sealed\":\"AA\"},{\"kid\":\"b\",\"alg\":\"ES256\",\"created\":1,"
        "\"retired\":0,\"retire_after\":0,\"sealed\":\"AA\"}]}",
        /* a kid whose sealed key does not open */
        "{\"v\":2,\"keys\":[{\"kid\":\"a\",\"alg\":\"ES256\",\"created\":1,\"retired\":0,"
        "\"retire_after\":0,\"sealed\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
        "{\"v\":1,\"active\":\"zz\",\"keys\":[{\"kid\":\"a\",\"alg\":\"ES256\",\"created\":1,"
        "\"sealed\":\"AA\"}]}",
    };

    cf_buf_init(&b, 4096);
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        struct cf_auth *a;
        cf_buf_reset(&b);
        assert_int_equal(cf_buf_puts(&b, bad[i]), CF_OK);
        assert_int_equal(cf_store_write(f->store, meta_fn, &m), CF_OK);
        a = cf_auth_new(f->store, &f->clock.c, f->master, &o, &e);
        assert_null(a);
        assert_int_not_equal(e, CF_OK);
    }
    cf_buf_release(&b);
}

static void test_ring_full_drops_oldest(void **state)
{
    struct fx *f = *state;
    struct cf_auth_signing_key first[1], k[16], nk;
    struct cf_buf tok;

    assert_int_equal(cf_auth_signing_keys(f->auth, first, 1), 1);
    issue(f, &tok);
    for (int i = 0; i < 7; i++)
        assert_int_equal(cf_auth_rotate_signing_key(f->auth, &nk), CF_OK);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 16), 8);
    assert_string_equal(k[7].kid, first[0].kid);
    assert_int_equal(verify(f->auth, &tok), CF_AUTH_OK);
    assert_int_equal(cf_auth_rotate_signing_key(f->auth, &nk), CF_OK);
    assert_int_equal(cf_auth_signing_keys(f->auth, k, 16), 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_not_equal(k[i].kid, first[0].kid);
    assert_string_equal(k[0].kid, nk.kid);
    assert_int_equal(verify(f->auth, &tok), CF_AUTH_MALFORMED);
    cf_buf_release(&tok);
}

static void test_bad_rotate_days(void **state)
{
    struct fx *f = *state;
    struct cf_auth_opts o = {.issuer = ISSUER, .signing_key_rotate_days = -1};
    cf_err e = CF_OK;
    assert_null(cf_auth_new(f->store, &f->clock.c, f->master, &o, &e));
    assert_int_equal(e, CF_EINVAL);
    o.signing_key_rotate_days = 3651;
    assert_null(cf_auth_new(f->store, &f->clock.c, f->master, &o, &e));
    assert_int_equal(e, CF_EINVAL);
    assert_int_equal(cf_auth_rotate_due(NULL), CF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_start_one_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_old_token_verifies_new_kid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retirement_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_rotates_when_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_rotation_periodic, setup_30, teardown),
        cmocka_unit_test_setup_teardown(test_due_rotation_at_issuance, setup_30, teardown),
        cmocka_unit_test_setup_teardown(test_migrates_v1_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_full_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_rotate_days, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

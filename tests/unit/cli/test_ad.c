/* test_ad.c - `coffer ad ...` and `login --certificate`: argument checks before any network
 * call, the credential output shape, --years arithmetic, --cert parsing (PEM, @file, base64
 * DER), and the client_assertion JWT (RS256, x5t = SHA-1 thumbprint, MSAL's claims) checked
 * against the certificate with the openssl tool. */
#include "base/cf.h"
#include "base/codec.h"
#include "cli/cmd_identity.h"
#include "crypto/crypto.h"

#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct env {
    const char *config_dir;
};

static const char *fake_getenv(void *ctx, const char *name)
{
    struct env *e = ctx;
    if (!strcmp(name, "COFFER_CONFIG_DIR"))
        return e->config_dir;
    return NULL; /* nothing else: no credentials leak in from the test environment */
}

struct result {
    int rc;
    char out[16384];
    char err[4096];
};

static void run(struct result *res, const char *config_dir, int argc, char **argv)
{
    struct env e = {config_dir};
    FILE *o = fmemopen(res->out, sizeof(res->out) - 1, "w");
    FILE *er = fmemopen(res->err, sizeof(res->err) - 1, "w");
    struct cf_cli_ctx ctx = {.out = o, .err = er, .getenv = fake_getenv, .env_ctx = &e};
    memset(res->out, 0, sizeof(res->out));
    memset(res->err, 0, sizeof(res->err));
    res->rc = cf_cli_run(&ctx, argc, argv);
    fclose(o);
    fclose(er);
}

#define RUN(res, dir, ...)                                                                         \
    do {                                                                                           \
        char *av_[] = {"coffer", __VA_ARGS__};                                                     \
        run(res, dir, (int)CF_ARRAY_LEN(av_), av_);                                                \
    } while (0)

static char tmpdir[256];

/* A temp config dir with a profile whose server cannot be reached (127.0.0.1:1): a command
 * that reaches the network fails with exit 1, so exit 2 proves a usage check came first. */
static int setup(void **state)
{
    struct cf_cli_profile p = {0};
    cf_err e;
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/coffer-cli-id-test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(p.tenant_id, sizeof(p.tenant_id), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    snprintf(p.client_id, sizeof(p.client_id), "c-1");
    p.client_secret = strdup("s3cr3t");
    snprintf(p.authority, sizeof(p.authority), "https://127.0.0.1:1");
    snprintf(p.management_url, sizeof(p.management_url), "https://127.0.0.1:1");
    snprintf(p.dns_suffix, sizeof(p.dns_suffix), "vault.localhost");
    p.port = 1;
    snprintf(p.subscription_id, sizeof(p.subscription_id), "sub-1");
    e = cf_cli_profile_save(tmpdir, &p);
    cf_cli_profile_release(&p);
    return e == CF_OK ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* exit code 2, one stderr line containing want, nothing on stdout */
#define ASSERT_USAGE(res, want)                                                                    \
    do {                                                                                           \
        assert_int_equal((res)->rc, 2);                                                            \
        assert_int_equal(lines((res)->err), 1);                                                    \
        assert_string_equal((res)->out, "");                                                       \
        if (!strstr((res)->err, (want)))                                                           \
            fail_msg("stderr '%s' lacks '%s'", (res)->err, (want));                                \
    } while (0)

static char pem_path[300], cert_only_path[300];

/* One RSA certificate + key, made once (openssl req: ~0.2 s). */
static bool make_cert(void)
{
    char cmd[2400];
    if (pem_path[0])
        return true;
    snprintf(pem_path, sizeof(pem_path), "%s/sp.pem", tmpdir);
    snprintf(cert_only_path, sizeof(cert_only_path), "%s/cert.pem", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s/k.pem' -out '%s' -subj "
             "/CN=coffer-test -days 2 2>/dev/null && cat '%s/k.pem' '%s' > '%s'",
             tmpdir, cert_only_path, tmpdir, cert_only_path, pem_path);
    return system(cmd) == 0;
}

static char *slurp(const char *path, size_t *len)
{
    struct cf_buf b;
    assert_int_equal(cf_cli_read_file(path, 1 << 20, &b), CF_OK);
    *len = b.len;
    return b.data; /* the buffer's storage, freed by the caller */
}

static void test_usage(void **state)
{
    struct result r;
    (void)state;
    RUN(&r, tmpdir, "ad", "sp", "create-for-rbac", "--name", "x", "--role", "Reader");
    ASSERT_USAGE(&r, "specify both --role and --scopes");
    RUN(&r, tmpdir, "ad", "sp", "create-for-rbac", "--name", "x", "--scopes", "/");
    ASSERT_USAGE(&r, "specify both --role and --scopes");
    RUN(&r, tmpdir, "ad", "sp", "create-for-rbac", "--create-cert");
    ASSERT_USAGE(&r, "--create-cert is not supported");
    RUN(&r, tmpdir, "ad", "sp", "create-for-rbac", "--years", "many");
    ASSERT_USAGE(&r, "invalid int value");
    RUN(&r, tmpdir, "ad", "sp", "create-for-rbac", "--years", "0");
    ASSERT_USAGE(&r, "argument --years: invalid value");
    RUN(&r, tmpdir, "ad", "sp", "credential", "reset");
    ASSERT_USAGE(&r, "required: --id");
    RUN(&r, tmpdir, "ad", "sp", "credential", "reset", "--id", "x", "--years", "1", "--end-date",
        "2030-01-01");
    ASSERT_USAGE(&r, "usage error: --years | --end-date");
    RUN(&r, tmpdir, "ad", "group", "create", "--display-name", "g");
    ASSERT_USAGE(&r, "required: --mail-nickname");
    RUN(&r, tmpdir, "ad", "group", "member", "add", "--group", "g", "--member-id", "bob");
    ASSERT_USAGE(&r, "is not an object id");
    RUN(&r, tmpdir, "ad", "group", "member", "check", "-g", "g");
    ASSERT_USAGE(&r, "required: --member-id");
    RUN(&r, tmpdir, "ad", "sp", "show");
    ASSERT_USAGE(&r, "required: --id");
    RUN(&r, tmpdir, "ad", "app", "create");
    ASSERT_USAGE(&r, "required: --display-name");
    /* login: a service principal needs a secret or a certificate */
    RUN(&r, tmpdir, "login", "--service-principal", "-u", "a", "--tenant", "t");
    ASSERT_USAGE(&r, "--certificate FILE");
    /* and commands that pass their checks reach the (unreachable) server: exit 1, not 2 */
    RUN(&r, tmpdir, "ad", "sp", "list");
    assert_int_equal(r.rc, 1);
    assert_int_equal(lines(r.err), 1);
    assert_string_equal(r.out, "");
}

static void test_login_certificate_file_checks(void **state)
{
    struct result r;
    char cfg[300], junk[300];
    FILE *f;
    (void)state;
    snprintf(cfg, sizeof(cfg), "%s/login-cfg", tmpdir);
    RUN(&r, cfg, "login", "--service-principal", "-u", "a", "--tenant", "t", "--certificate",
        "/nonexistent/sp.pem");
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "cannot read the certificate file"));
    snprintf(junk, sizeof(junk), "%s/junk.pem", tmpdir);
    f = fopen(junk, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    RUN(&r, cfg, "login", "--service-principal", "-u", "a", "--tenant", "t", "--certificate",
        junk);
    assert_int_equal(r.rc, 1);
    assert_int_equal(lines(r.err), 1);
    assert_non_null(strstr(r.err, "holds no PEM certificate"));
    /* no profile was written */
    {
        char p[400];
        snprintf(p, sizeof(p), "%s/profile.json", cfg);
        assert_int_not_equal(access(p, F_OK), 0);
    }
}

static void test_credentials_shape(void **state)
{
    struct cf_val *o;
    struct cf_buf b;
    (void)state;
    o = cf_cli_shape_sp_credentials("app-1", "name-1", "pw", "t-1");
    assert_non_null(o);
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_cli_render(&b, o, CF_FMT_JSON, false, NULL, NULL, 0), CF_OK);
    assert_string_equal(b.data, "{\n  \"appId\": \"app-1\",\n  \"displayName\": \"name-1\",\n"
                                "  \"password\": \"pw\",\n  \"tenant\": \"t-1\"\n}\n");
    cf_buf_release(&b);
    cf_val_unref(o);
    /* credential reset: no displayName; certificate: password null */
    o = cf_cli_shape_sp_credentials("app-1", NULL, NULL, "t-1");
    assert_null(cf_val_get(o, "displayName"));
    assert_int_equal(cf_val_get(o, "password")->type, CF_VAL_NULL);
    assert_int_equal(o->n, 3);
    cf_val_unref(o);
}

static void test_years(void **state)
{
    char out[32];
    (void)state;
    /* 2024-05-01T10:20:30Z */
    assert_true(cf_cli_years_from(1714558830, 1, out));
    assert_string_equal(out, "2025-05-01T10:20:30Z");
    assert_true(cf_cli_years_from(1714558830, 10, out));
    assert_string_equal(out, "2034-05-01T10:20:30Z");
    /* 2024-02-29T00:00:00Z + 1 year: Feb 28 (relativedelta), + 4 years: Feb 29 */
    assert_true(cf_cli_years_from(1709164800, 1, out));
    assert_string_equal(out, "2025-02-28T00:00:00Z");
    assert_true(cf_cli_years_from(1709164800, 4, out));
    assert_string_equal(out, "2028-02-29T00:00:00Z");
    assert_false(cf_cli_years_from(1709164800, 0, out));
    assert_false(cf_cli_years_from(1709164800, -1, out));
}

static void test_cert_arg(void **state)
{
    char *b64 = NULL, err[200], arg[420], *pem, *b64b = NULL;
    size_t len;
    struct cf_buf der, enc;
    (void)state;
    assert_true(make_cert());
    /* @file of the PEM with the key in it: only the certificate is taken */
    snprintf(arg, sizeof(arg), "@%s", pem_path);
    assert_int_equal(cf_cli_cert_arg(arg, &b64, err, sizeof(err)), CF_OK);
    assert_null(strstr(b64, "PRIVATE"));
    pem = slurp(cert_only_path, &len);
    cf_buf_init(&der, 1 << 16);
    assert_int_equal(cf_cli_pem_cert_der(pem, len, &der), CF_OK);
    cf_buf_init(&enc, 1 << 17);
    assert_int_equal(cf_b64_encode(&enc, der.data, der.len), CF_OK);
    assert_string_equal(b64, enc.data);
    /* the PEM text itself, and the base64 DER itself, give the same */
    assert_int_equal(cf_cli_cert_arg(pem, &b64b, err, sizeof(err)), CF_OK);
    assert_string_equal(b64b, enc.data);
    free(b64b);
    assert_int_equal(cf_cli_cert_arg(enc.data, &b64b, err, sizeof(err)), CF_OK);
    assert_string_equal(b64b, enc.data);
    free(b64b);
    b64b = NULL;
    assert_int_equal(cf_cli_cert_arg("hello", &b64b, err, sizeof(err)), CF_EINVAL);
    assert_null(b64b);
    assert_int_equal(cf_cli_cert_arg("@/nonexistent", &b64b, err, sizeof(err)), CF_EINVAL);
    assert_non_null(strstr(err, "cannot read"));
    assert_int_equal(cf_cli_cert_arg("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                                     &b64b, err, sizeof(err)), CF_EINVAL);
    free(b64);
    free(pem);
    cf_buf_release(&der);
    cf_buf_release(&enc);
}

/* base64url part i (0 header, 1 claims, 2 signature) of a compact JWT, decoded */
static void jwt_part(const char *jwt, int i, struct cf_buf *out)
{
    const char *p = jwt, *e;
    for (int k = 0; k < i; k++)
        p = strchr(p, '.') + 1;
    e = strchr(p, '.');
    assert_int_equal(cf_b64_decode(out, (struct cf_str){p, e ? (size_t)(e - p) : strlen(p)}),
                     CF_OK);
}

static void test_client_assertion(void **state)
{
    struct cf_buf jwt, part, der, x5t;
    struct cf_val *h = NULL, *c = NULL;
    unsigned char sha1[20];
    char *pem, why[200], cmd[2000], path[500];
    size_t len;
    FILE *f;
    (void)state;
    assert_true(make_cert());
    pem = slurp(pem_path, &len);
    cf_buf_init(&jwt, 1 << 16);
    assert_int_equal(cf_cli_client_assertion(pem, len, "app-1",
                                             "https://login.localhost:8443/t/oauth2/v2.0/token",
                                             1714558830, &jwt, why, sizeof(why)),
                     CF_OK);
    cf_buf_init(&part, 1 << 16);
    jwt_part(jwt.data, 0, &part);
    assert_int_equal(cf_val_parse(part.data, part.len, &h), CF_OK);
    assert_true(cf_val_is_str(cf_val_get(h, "alg"), "RS256"));
    assert_true(cf_val_is_str(cf_val_get(h, "typ"), "JWT"));
    cf_buf_init(&der, 1 << 16);
    assert_int_equal(cf_cli_pem_cert_der(pem, len, &der), CF_OK);
    assert_int_equal(cf_sha1(der.data, der.len, sha1), CF_OK);
    cf_buf_init(&x5t, 64);
    assert_int_equal(cf_b64url_encode(&x5t, sha1, 20), CF_OK);
    assert_true(cf_val_is_str(cf_val_get(h, "x5t"), x5t.data));
    part.len = 0;
    jwt_part(jwt.data, 1, &part);
    assert_int_equal(cf_val_parse(part.data, part.len, &c), CF_OK);
    assert_true(cf_val_is_str(cf_val_get(c, "aud"), "https://login.localhost:8443/t/oauth2/v2.0/token"));
    assert_true(cf_val_is_str(cf_val_get(c, "iss"), "app-1"));
    assert_true(cf_val_is_str(cf_val_get(c, "sub"), "app-1"));
    assert_true(cf_cli_is_guid(cf_val_get(c, "jti")->s));
    assert_int_equal(cf_val_get(c, "nbf")->i, 1714558830);
    assert_int_equal(cf_val_get(c, "exp")->i, 1714558830 + 600);
    /* the signature verifies with the certificate's public key (openssl, RS256 = sha256) */
    part.len = 0;
    jwt_part(jwt.data, 2, &part);
    assert_int_equal(part.len, 256);
    snprintf(path, sizeof(path), "%s/sig.bin", tmpdir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(part.data, 1, part.len, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/input.txt", tmpdir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(jwt.data, 1, (size_t)(strrchr(jwt.data, '.') - jwt.data), f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl x509 -in cert.pem -pubkey -noout > pub.pem && "
             "openssl dgst -sha256 -verify pub.pem -signature sig.bin input.txt >/dev/null 2>&1",
             tmpdir);
    assert_int_equal(system(cmd), 0);
    /* a changed byte does not verify */
    f = fopen(path, "ab");
    fputc('x', f);
    fclose(f);
    assert_int_not_equal(system(cmd), 0);

    /* a certificate without its key, and no certificate at all, fail with a reason */
    free(pem);
    pem = slurp(cert_only_path, &len);
    jwt.len = 0;
    assert_int_equal(cf_cli_client_assertion(pem, len, "a", "u", 1, &jwt, why, sizeof(why)),
                     CF_EINVAL);
    assert_non_null(strstr(why, "no unencrypted RSA private key"));
    assert_int_equal(jwt.len, 0);
    assert_int_equal(cf_cli_client_assertion("x", 1, "a", "u", 1, &jwt, why, sizeof(why)),
                     CF_EINVAL);
    assert_non_null(strstr(why, "no PEM certificate"));
    free(pem);
    cf_val_unref(h);
    cf_val_unref(c);
    cf_buf_release(&x5t);
    cf_buf_release(&der);
    cf_buf_release(&part);
    cf_buf_wipe(&jwt);
}

static void test_ec_key_refused(void **state)
{
    char cmd[2400], p[300], why[200];
    struct cf_buf jwt;
    char *pem;
    size_t len;
    (void)state;
    snprintf(p, sizeof(p), "%s/ec.pem", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
             "'%s/eck.pem' -out '%s/ecc.pem' -subj /CN=ec -days 1 2>/dev/null && cat "
             "'%s/ecc.pem' '%s/eck.pem' > '%s'",
             tmpdir, tmpdir, tmpdir, tmpdir, p);
    assert_int_equal(system(cmd), 0);
    pem = slurp(p, &len);
    cf_buf_init(&jwt, 1 << 16);
    /* the certificate comes first here: the key is still found, and refused (not RSA) */
    assert_int_equal(cf_cli_client_assertion(pem, len, "a", "u", 1, &jwt, why, sizeof(why)),
                     CF_EINVAL);
    assert_int_equal(jwt.len, 0);
    free(pem);
    cf_buf_release(&jwt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_login_certificate_file_checks),
        cmocka_unit_test(test_credentials_shape),
        cmocka_unit_test(test_years),
        cmocka_unit_test(test_cert_arg),
        cmocka_unit_test(test_client_assertion),
        cmocka_unit_test(test_ec_key_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

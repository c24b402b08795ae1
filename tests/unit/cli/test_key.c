/* test_key.c - `coffer keyvault key`: PEM private keys to JWK (PKCS#8, PKCS#1, SEC1; every
 * supported curve; refusals), public JWK to SubjectPublicKeyInfo checked against openssl's
 * DER, PEM armour, az result shapes (bundle, item, deleted, rotation policy), the rotation
 * policy input forms, and argument errors that end before the network. Fixtures were made with
 * openssl and their expected values with python3-cryptography (key_fixtures.inc). */
#include "base/cf.h"
#include "base/codec.h"
#include "cli/cmd_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "key_fixtures.inc"

static const char *mem(const struct cf_val *o, const char *k)
{
    const struct cf_val *v = cf_val_get(o, k);
    return v && v->type == CF_VAL_STR ? v->s : NULL;
}

static struct cf_val *jwk_of(const char *pem)
{
    struct cf_val *j = NULL;
    char why[200];
    assert_int_equal(cf_cli_pem_to_jwk(pem, strlen(pem), &j, why, sizeof(why)), CF_OK);
    assert_string_equal(why, "");
    assert_non_null(j);
    return j;
}

/* jwk -> SPKI must equal openssl's DER of the same key. */
static void check_spki(const struct cf_val *jwk, const char *want_b64)
{
    struct cf_buf der, want;
    char why[200];
    cf_buf_init(&der, 65536);
    cf_buf_init(&want, 65536);
    assert_int_equal(cf_b64_decode(&want, cf_str_from(want_b64)), CF_OK);
    assert_int_equal(cf_cli_jwk_to_spki(jwk, &der, why, sizeof(why)), CF_OK);
    assert_int_equal(der.len, want.len);
    assert_memory_equal(der.data, want.data, der.len);
    cf_buf_release(&der);
    cf_buf_release(&want);
}

static void check_ec(const char *pem, const char *crv, const char *x, const char *y, const char *d,
                     const char *spki)
{
    struct cf_val *j = jwk_of(pem);
    assert_string_equal(mem(j, "kty"), "EC");
    assert_string_equal(mem(j, "crv"), crv);
    assert_string_equal(mem(j, "x"), x);
    assert_string_equal(mem(j, "y"), y);
    assert_string_equal(mem(j, "d"), d);
    assert_null(cf_val_get(j, "n"));
    check_spki(j, spki);
    cf_val_unref(j);
}

static void test_pem_ec(void **state)
{
    (void)state;
    check_ec(EC256_P8, "P-256", EC256_P8_X, EC256_P8_Y, EC256_P8_D, EC256_P8_SPKI_B64);
    /* The same key as SEC1 "EC PRIVATE KEY": identical JWK. */
    check_ec(EC256_SEC1, "P-256", EC256_P8_X, EC256_P8_Y, EC256_P8_D, EC256_P8_SPKI_B64);
    check_ec(EC521_P8, "P-521", EC521_P8_X, EC521_P8_Y, EC521_P8_D, EC521_P8_SPKI_B64);
    check_ec(EC256K_P8, "P-256K", EC256K_P8_X, EC256K_P8_Y, EC256K_P8_D, EC256K_P8_SPKI_B64);
    /* P-521 members are 66 bytes: 88 base64url characters. */
    assert_int_equal(strlen(EC521_P8_X), 88);
}

static void check_rsa(const char *pem)
{
    struct cf_val *j = jwk_of(pem);
    assert_string_equal(mem(j, "kty"), "RSA");
    assert_string_equal(mem(j, "n"), RSA_P8_N);
    assert_string_equal(mem(j, "e"), RSA_P8_E);
    assert_string_equal(mem(j, "e"), "AQAB");
    assert_string_equal(mem(j, "d"), RSA_P8_D);
    assert_string_equal(mem(j, "p"), RSA_P8_P);
    assert_string_equal(mem(j, "q"), RSA_P8_Q);
    assert_string_equal(mem(j, "dp"), RSA_P8_DP);
    assert_string_equal(mem(j, "dq"), RSA_P8_DQ);
    assert_string_equal(mem(j, "qi"), RSA_P8_QI);
    check_spki(j, RSA_P8_SPKI_B64);
    cf_val_unref(j);
}

static void test_pem_rsa(void **state)
{
    (void)state;
    check_rsa(RSA_P8);
    check_rsa(RSA_P1); /* PKCS#1 "RSA PRIVATE KEY" of the same key */
    {
        /* Other PEM blocks before the key (a certificate, EC PARAMETERS) are skipped. */
        char buf[8192];
        snprintf(buf, sizeof(buf),
                 "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n%s",
                 RSA_P8);
        check_rsa(buf);
    }
}

static void expect_refusal(const char *pem, const char *reason_part)
{
    struct cf_val *j = (struct cf_val *)1;
    char why[200];
    assert_int_equal(cf_cli_pem_to_jwk(pem, strlen(pem), &j, why, sizeof(why)), CF_EINVAL);
    assert_null(j);
    if (!strstr(why, reason_part))
        fail_msg("reason '%s' lacks '%s'", why, reason_part);
}

static void test_pem_refusals(void **state)
{
    char buf[8192];
    size_t n;
    (void)state;
    expect_refusal(ED25519_P8, "unsupported key type");
    expect_refusal(EC256_ENC, "encrypted PEM is not supported");
    expect_refusal("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: "
                   "AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                   "encrypted PEM is not supported");
    expect_refusal("", "no private key found");
    expect_refusal("hello world", "no private key found");
    expect_refusal("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
                   "no private key found");
    expect_refusal("-----BEGIN PRIVATE KEY-----\nMIIB\n", "unterminated");
    expect_refusal("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
                   "not valid base64");
    expect_refusal("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
                   "malformed PKCS#8");
    /* A truncated body: the DER lengths run past the end. */
    n = strlen(RSA_P1);
    snprintf(buf, sizeof(buf), "%.*s\n-----END RSA PRIVATE KEY-----\n", (int)(n / 2), RSA_P1);
    expect_refusal(buf, "malformed RSA private key");
    /* SEC1 without its public point (openssl ec -no_public). */
    expect_refusal("-----BEGIN EC PRIVATE KEY-----\n"
                   "MDECAQEEIH0N0jRwwCG2K41cwyjjjdfD65o7i+SA6lGVPYOLEE+KoAoGCCqGSM49\n"
                   "AwEH\n-----END EC PRIVATE KEY-----\n",
                   "carries no public key");
    /* SEC1 naming a curve we do not support (secp224r1, 1.3.132.0.33). */
    expect_refusal("-----BEGIN EC PRIVATE KEY-----\n"
                   "MBQCAQEEAQGgBwYFK4EEACGhAwMBAA==\n-----END EC PRIVATE KEY-----\n",
                   "unsupported or inconsistent EC curve");
}

static void test_spki_refusals_and_pem(void **state)
{
    struct cf_val *j = NULL;
    struct cf_buf der, pem;
    char why[200];
    (void)state;
    cf_buf_init(&der, 4096);
    cf_buf_init(&pem, 8192);
    assert_int_equal(cf_val_parse("{\"kty\":\"oct\"}", strlen("{\"kty\":\"oct\"}"), &j), CF_OK);
    assert_int_equal(cf_cli_jwk_to_spki(j, &der, why, sizeof(why)), CF_EINVAL);
    assert_non_null(strstr(why, "only RSA and EC"));
    cf_val_unref(j);
    assert_int_equal(cf_val_parse("{\"kty\":\"RSA-HSM\",\"n\":\"AQAB\"}",
                                  strlen("{\"kty\":\"RSA-HSM\",\"n\":\"AQAB\"}"), &j),
                     CF_OK);
    assert_int_equal(cf_cli_jwk_to_spki(j, &der, why, sizeof(why)), CF_EINVAL);
    assert_non_null(strstr(why, "lacks n or e"));
    cf_val_unref(j);
    assert_int_equal(
        cf_val_parse("{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"AQ\",\"y\":\"AQ\"}",
                     strlen("{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"AQ\",\"y\":\"AQ\"}"), &j),
        CF_OK);
    assert_int_equal(cf_cli_jwk_to_spki(j, &der, why, sizeof(why)), CF_EINVAL);
    assert_non_null(strstr(why, "unsupported EC curve"));
    cf_val_unref(j);
    assert_int_equal(der.len, 0);

    /* PEM armour: 64-column lines, the label on both ends, base64 of the DER. */
    j = jwk_of(RSA_P8);
    assert_int_equal(cf_cli_jwk_to_spki(j, &der, why, sizeof(why)), CF_OK);
    assert_int_equal(cf_cli_pem_wrap("PUBLIC KEY", der.data, der.len, &pem), CF_OK);
    assert_int_equal(cf_buf_append(&pem, "", 1), CF_OK);
    assert_int_equal(strncmp(pem.data, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
    assert_non_null(strstr(pem.data, "\n-----END PUBLIC KEY-----\n"));
    {
        const char *l = pem.data + 27;
        assert_int_equal(strchr(l, '\n') - l, 64);
        assert_int_equal(strncmp(l, RSA_P8_SPKI_B64, 64), 0);
    }
    cf_val_unref(j);
    cf_buf_release(&der);
    cf_buf_release(&pem);
}

static struct cf_val *parse(const char *s)
{
    struct cf_val *v = NULL;
    assert_int_equal(cf_val_parse(s, strlen(s), &v), CF_OK);
    return v;
}

static char *dump(const struct cf_val *v)
{
    struct cf_buf b;
    cf_buf_init(&b, 1 << 20);
    assert_int_equal(cf_val_dump(v, &b), CF_OK);
    assert_int_equal(cf_buf_append(&b, "", 1), CF_OK);
    return b.data;
}

static void test_shape_key(void **state)
{
    struct cf_val *b, *o;
    char *s;
    (void)state;
    b = parse("{\"key\":{\"kid\":\"https://v.vault.localhost:8443/keys/k1/0123\",\"kty\":\"RSA\","
              "\"key_ops\":[\"sign\",\"verify\"],\"n\":\"3o9oUmr_DA\",\"e\":\"AQAB\"},"
              "\"attributes\":{\"enabled\":true,\"created\":1700000000,\"updated\":1700000001,"
              "\"exp\":1893456000,\"recoveryLevel\":\"Recoverable+Purgeable\","
              "\"recoverableDays\":90},\"tags\":{\"a\":\"1\"}}");
    o = cf_cli_shape_key(b, false, false);
    s = dump(o);
    assert_string_equal(
        s, "{\"attributes\":{\"created\":\"2023-11-14T22:13:20+00:00\",\"enabled\":true,"
           "\"expires\":\"2030-01-01T00:00:00+00:00\",\"exportable\":null,\"notBefore\":null,"
           "\"recoverableDays\":90,\"recoveryLevel\":\"Recoverable+Purgeable\","
           "\"updated\":\"2023-11-14T22:13:21+00:00\"},"
           "\"key\":{\"crv\":null,\"keyOps\":[\"sign\",\"verify\"],"
           "\"kid\":\"https://v.vault.localhost:8443/keys/k1/0123\",\"kty\":\"RSA\",\"d\":null,"
           "\"dp\":null,\"dq\":null,\"e\":\"AQAB\",\"k\":null,\"n\":\"3o9oUmr/DA==\",\"p\":null,"
           "\"q\":null,\"qi\":null,\"t\":null,\"x\":null,\"y\":null},"
           "\"managed\":null,\"releasePolicy\":null,\"tags\":{\"a\":\"1\"}}");
    free(s);
    cf_val_unref(o);
    /* A list item: kid and the name from it, no key. */
    cf_val_unref(b);
    b = parse("{\"kid\":\"https://v.vault.localhost:8443/keys/k1\","
              "\"attributes\":{\"enabled\":false},\"managed\":true}");
    o = cf_cli_shape_key(b, false, true);
    assert_string_equal(mem(o, "name"), "k1");
    assert_string_equal(mem(o, "kid"), "https://v.vault.localhost:8443/keys/k1");
    assert_null(cf_val_get(o, "key"));
    assert_true(cf_val_get(o, "managed")->b);
    assert_false(cf_val_get(cf_val_get(o, "attributes"), "enabled")->b);
    cf_val_unref(o);
    cf_val_unref(b);
    /* Deleted bundle: recoveryId and the two dates as ISO strings. */
    b = parse("{\"key\":{\"kid\":\"x\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQ\",\"y\":\"Ag\"},"
              "\"recoveryId\":\"https://v/deletedkeys/k1\",\"deletedDate\":0,"
              "\"scheduledPurgeDate\":86400}");
    o = cf_cli_shape_key(b, true, false);
    assert_string_equal(mem(o, "recoveryId"), "https://v/deletedkeys/k1");
    assert_string_equal(mem(o, "deletedDate"), "1970-01-01T00:00:00+00:00");
    assert_string_equal(mem(o, "scheduledPurgeDate"), "1970-01-02T00:00:00+00:00");
    assert_string_equal(mem(cf_val_get(o, "key"), "x"), "AQ==");
    assert_string_equal(mem(cf_val_get(o, "key"), "crv"), "P-256");
    assert_int_equal(cf_val_get(o, "tags")->type, CF_VAL_NULL);
    cf_val_unref(o);
    cf_val_unref(b);
}

static void test_rotation_policy(void **state)
{
    struct cf_val *in, *o;
    char why[200], *s;
    (void)state;
    /* Wire -> az shape. */
    in = parse("{\"id\":\"https://v/keys/k/rotationpolicy\",\"lifetimeActions\":["
               "{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"Rotate\"}},"
               "{\"trigger\":{\"timeBeforeExpiry\":\"P30D\"},\"action\":{\"type\":\"Notify\"}}],"
               "\"attributes\":{\"expiryTime\":\"P2Y\",\"created\":0,\"updated\":60}}");
    o = cf_cli_shape_rotation_policy(in);
    s = dump(o);
    assert_string_equal(
        s, "{\"createdOn\":\"1970-01-01T00:00:00+00:00\",\"expiresIn\":\"P2Y\","
           "\"id\":\"https://v/keys/k/rotationpolicy\",\"lifetimeActions\":["
           "{\"action\":\"Rotate\",\"timeAfterCreate\":\"P90D\",\"timeBeforeExpiry\":null},"
           "{\"action\":\"Notify\",\"timeAfterCreate\":null,\"timeBeforeExpiry\":\"P30D\"}],"
           "\"updatedOn\":\"1970-01-01T00:01:00+00:00\"}");
    free(s);
    cf_val_unref(o);
    /* The REST form given to update passes through unchanged in meaning. */
    o = cf_cli_rotation_policy_body(in, why, sizeof(why));
    s = dump(o);
    assert_string_equal(
        s, "{\"lifetimeActions\":["
           "{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"Rotate\"}},"
           "{\"trigger\":{\"timeBeforeExpiry\":\"P30D\"},\"action\":{\"type\":\"Notify\"}}],"
           "\"attributes\":{\"expiryTime\":\"P2Y\"}}");
    free(s);
    cf_val_unref(o);
    cf_val_unref(in);
    /* az's documented snake_case form, action as a string and as {type}, flat triggers. */
    in = parse(
        "{\"lifetime_actions\":[{\"trigger\":{\"time_after_create\":\"P1M\"},"
        "\"action\":{\"type\":\"rotate\"}},{\"time_before_expiry\":\"P7D\",\"action\":\"Notify\"}],"
        "\"attributes\":{\"expiry_time\":\"P3M\"}}");
    o = cf_cli_rotation_policy_body(in, why, sizeof(why));
    s = dump(o);
    assert_string_equal(
        s, "{\"lifetimeActions\":["
           "{\"trigger\":{\"timeAfterCreate\":\"P1M\"},\"action\":{\"type\":\"rotate\"}},"
           "{\"trigger\":{\"timeBeforeExpiry\":\"P7D\"},\"action\":{\"type\":\"Notify\"}}],"
           "\"attributes\":{\"expiryTime\":\"P3M\"}}");
    free(s);
    cf_val_unref(o);
    cf_val_unref(in);
    in = parse("{\"expires_in\":\"P1Y\"}");
    o = cf_cli_rotation_policy_body(in, why, sizeof(why));
    s = dump(o);
    assert_string_equal(s, "{\"lifetimeActions\":[],\"attributes\":{\"expiryTime\":\"P1Y\"}}");
    free(s);
    cf_val_unref(o);
    cf_val_unref(in);
    /* Not a policy. */
    in = parse("{}");
    assert_null(cf_cli_rotation_policy_body(in, why, sizeof(why)));
    assert_string_equal(why, "Please specify a valid policy");
    cf_val_unref(in);
    in = parse("{\"lifetime_actions\":[{\"trigger\":{\"time_after_create\":\"P1M\"}}]}");
    assert_null(cf_cli_rotation_policy_body(in, why, sizeof(why)));
    assert_non_null(strstr(why, "no action type"));
    cf_val_unref(in);
    in = parse("{\"lifetime_actions\":7}");
    assert_null(cf_cli_rotation_policy_body(in, why, sizeof(why)));
    cf_val_unref(in);
}

/* ---- argument errors through cf_cli_run (a profile exists; nothing reaches the network) ---- */

static char tmpdir[256];

static const char *fake_getenv(void *ctx, const char *name)
{
    return !strcmp(name, "COFFER_CONFIG_DIR") ? ctx : NULL;
}

struct result {
    int rc;
    char out[16384];
    char err[4096];
};

static void run(struct result *res, int argc, char **argv)
{
    FILE *o = fmemopen(res->out, sizeof(res->out) - 1, "w");
    FILE *er = fmemopen(res->err, sizeof(res->err) - 1, "w");
    struct cf_cli_ctx ctx = {.out = o, .err = er, .getenv = fake_getenv, .env_ctx = tmpdir};
    memset(res->out, 0, sizeof(res->out));
    memset(res->err, 0, sizeof(res->err));
    res->rc = cf_cli_run(&ctx, argc, argv);
    fclose(o);
    fclose(er);
}

#define RUN(res, ...)                                                                              \
    do {                                                                                           \
        char *av_[] = {"coffer", __VA_ARGS__};                                                     \
        run(res, (int)CF_ARRAY_LEN(av_), av_);                                                     \
    } while (0)

/* Usage error: exit code, one "ERROR:" line naming what, nothing on stdout. */
#define EXPECT(res, code, what)                                                                    \
    do {                                                                                           \
        assert_int_equal((res)->rc, code);                                                         \
        if (!strstr((res)->err, what))                                                             \
            fail_msg("stderr '%s' lacks '%s'", (res)->err, what);                                  \
        assert_string_equal((res)->out, "");                                                       \
        assert_int_equal(strncmp((res)->err, "ERROR: ", 7), 0);                                    \
        assert_ptr_equal(strchr((res)->err, '\n'), (res)->err + strlen((res)->err) - 1);           \
    } while (0)

static int setup(void **state)
{
    struct cf_cli_profile p = {0};
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/coffer-key-test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(p.tenant_id, sizeof(p.tenant_id), "t-1");
    snprintf(p.client_id, sizeof(p.client_id), "c-1");
    p.client_secret = strdup("s3cr3t");
    /* Port 1 on loopback: anything that did reach the network would fail, not hang. */
    snprintf(p.authority, sizeof(p.authority), "https://127.0.0.1:1");
    snprintf(p.management_url, sizeof(p.management_url), "https://127.0.0.1:1");
    snprintf(p.dns_suffix, sizeof(p.dns_suffix), "vault.localhost");
    p.port = 1;
    if (cf_cli_profile_save(tmpdir, &p) != CF_OK)
        return -1;
    cf_cli_profile_release(&p);
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_help(void **state)
{
    struct result r;
    (void)state;
    RUN(&r, "keyvault", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "key "));
    RUN(&r, "keyvault", "key");
    assert_int_equal(r.rc, 0);
    for (const char *c = "create import show list list-versions set-attributes delete recover "
                         "purge backup restore rotate encrypt decrypt sign verify download";
         *c;) {
        char w[32];
        size_t l = strcspn(c, " ");
        snprintf(w, sizeof(w), "    %.*s ", (int)l, c);
        if (!strstr(r.out, w))
            fail_msg("keyvault key help lacks %s", w);
        c += l + (c[l] == ' ');
    }
    assert_non_null(strstr(r.out, "rotation-policy"));
    RUN(&r, "keyvault", "key", "rotation-policy", "update", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--value"));
    RUN(&r, "keyvault", "key", "sign", "-h");
    assert_non_null(strstr(r.out, "--digest"));
    assert_non_null(strstr(r.out, "--algorithm -a"));
}

static void test_usage_errors(void **state)
{
    struct result r;
    char path[400];
    FILE *f;
    (void)state;
    RUN(&r, "keyvault", "key", "create", "--vault-name", "v", "--name", "k", "--kty", "DSA");
    EXPECT(&r, 2, "argument --kty: invalid choice: 'DSA'");
    RUN(&r, "keyvault", "key", "create", "--vault-name", "v", "--name", "k", "--curve", "P-999");
    EXPECT(&r, 2, "argument --curve: invalid choice: 'P-999'");
    RUN(&r, "keyvault", "key", "create", "--vault-name", "v", "--name", "k", "--ops", "sign",
        "fly");
    EXPECT(&r, 2, "argument --ops: invalid choice: 'fly'");
    RUN(&r, "keyvault", "key", "create", "--vault-name", "v", "--name", "k", "-p", "cloud");
    EXPECT(&r, 2, "argument --protection: invalid choice: 'cloud'");
    RUN(&r, "keyvault", "key", "create", "--vault-name", "v", "--name", "k", "--kty", "RSA-HSM",
        "--protection", "software");
    EXPECT(&r, 1, "invalid for software protected keys");
    RUN(&r, "keyvault", "key", "create", "--vault-name", "v", "--size", "big");
    EXPECT(&r, 2, "argument --size: invalid int value: 'big'");
    RUN(&r, "keyvault", "key", "create", "--vault-name", "v");
    EXPECT(&r, 2, "usage error: --id ID | --vault-name VAULT --name NAME");
    RUN(&r, "keyvault", "key", "show", "--id", "https://v.vault.localhost/secrets/x");
    EXPECT(&r, 2, "invalid key id");
    RUN(&r, "keyvault", "key", "show", "--id", "https://v.vault.localhost/keys/x", "--name", "x");
    EXPECT(&r, 2, "usage error");
    RUN(&r, "keyvault", "key", "import", "--vault-name", "v", "--name", "k");
    EXPECT(&r, 2, "supply exactly one: --byok-file, --byok-string, --pem-file, --pem-string");
    RUN(&r, "keyvault", "key", "import", "--vault-name", "v", "--name", "k", "--pem-file", "a",
        "--pem-string", "b");
    EXPECT(&r, 2, "supply exactly one");
    RUN(&r, "keyvault", "key", "import", "--vault-name", "v", "--name", "k", "--byok-file", "a");
    EXPECT(&r, 1, "BYOK");
    RUN(&r, "keyvault", "key", "import", "--vault-name", "v", "--name", "k", "--pem-file", "a",
        "--pem-password", "pw");
    EXPECT(&r, 1, "encrypted PEM is not supported");
    RUN(&r, "keyvault", "key", "import", "--vault-name", "v", "--name", "k", "--pem-string",
        "not a key");
    EXPECT(&r, 1, "Import failed: no private key found");
    RUN(&r, "keyvault", "key", "import", "--vault-name", "v", "--name", "k", "--pem-file",
        "/nonexistent/key.pem");
    EXPECT(&r, 1, "No such file or directory");
    RUN(&r, "keyvault", "key", "sign", "--vault-name", "v", "--name", "k", "-a", "RS256");
    EXPECT(&r, 2, "the following arguments are required: --digest");
    RUN(&r, "keyvault", "key", "sign", "--vault-name", "v", "--name", "k", "-a", "RS256",
        "--digest", "***");
    EXPECT(&r, 2, "argument --digest: invalid base64 value");
    RUN(&r, "keyvault", "key", "verify", "--vault-name", "v", "--name", "k", "-a", "RS256",
        "--digest", "AAAA", "--signature", "@@");
    EXPECT(&r, 2, "argument --signature: invalid base64 value");
    RUN(&r, "keyvault", "key", "encrypt", "--vault-name", "v", "--name", "k", "-a", "RSA-OAEP",
        "--value", "aGk=", "--data-type", "hex");
    EXPECT(&r, 2, "argument --data-type: invalid choice: 'hex'");
    RUN(&r, "keyvault", "key", "encrypt", "--vault-name", "v", "--name", "k", "-a", "A128GCM",
        "--value", "aGk=", "--aad", "abc");
    EXPECT(&r, 2, "argument --aad: Odd-length string");
    RUN(&r, "keyvault", "key", "decrypt", "--vault-name", "v", "--name", "k", "-a", "RSA-OAEP",
        "--value", "%%%");
    EXPECT(&r, 2, "argument --value: invalid base64 value");
    RUN(&r, "keyvault", "key", "rotation-policy", "update", "--vault-name", "v", "--name", "k",
        "--value", "[1,2]");
    EXPECT(&r, 2, "argument --value: the value is not a JSON object");
    RUN(&r, "keyvault", "key", "rotation-policy", "update", "--vault-name", "v", "--name", "k",
        "--value", "{}");
    EXPECT(&r, 2, "Please specify a valid policy");
    RUN(&r, "keyvault", "key", "download", "--vault-name", "v", "--name", "k", "-f", "x", "-e",
        "JWK");
    EXPECT(&r, 2, "argument --encoding: invalid choice: 'JWK'");
    snprintf(path, sizeof(path), "%s/exists.pem", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    RUN(&r, "keyvault", "key", "download", "--vault-name", "v", "--name", "k", "--file", path);
    EXPECT(&r, 1, "already exists");
    RUN(&r, "keyvault", "key", "backup", "--vault-name", "v", "--name", "k");
    EXPECT(&r, 2, "the following arguments are required: --file/-f");
    RUN(&r, "keyvault", "key", "random", "--vault-name", "v");
    EXPECT(&r, 2, "the following arguments are required: --count");
    /* A well-formed command does reach for the network: the failure is a transport error, exit
     * 1, never a usage error (so the cases above really stopped at the arguments). */
    RUN(&r, "keyvault", "key", "show", "--vault-name", "v", "--name", "k");
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pem_ec),       cmocka_unit_test(test_pem_rsa),
        cmocka_unit_test(test_pem_refusals), cmocka_unit_test(test_spki_refusals_and_pem),
        cmocka_unit_test(test_shape_key),    cmocka_unit_test(test_rotation_policy),
        cmocka_unit_test(test_help),         cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

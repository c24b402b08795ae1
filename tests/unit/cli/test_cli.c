/* test_cli.c - argument parsing and exit codes through cf_cli_run (no server needed: every
 * case fails or finishes before the network), the command table, profile and token cache
 * files and their permissions, the env file reader, error formatting, and result shaping. */
#include "base/cf.h"
#include "cli/cli_int.h"

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

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/coffer-cli-test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_help_levels(void **state)
{
    struct result r;
    (void)state;
    RUN(&r, tmpdir, "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "keyvault"));
    RUN(&r, tmpdir, "keyvault");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "secret"));
    assert_non_null(strstr(r.out, "create"));
    RUN(&r, tmpdir, "keyvault", "secret", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "set-attributes"));
    RUN(&r, tmpdir, "keyvault", "secret", "show", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--vault-name"));
    assert_non_null(strstr(r.out, "--query"));
    RUN(&r, tmpdir, "keyvault", "create", "-h");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "[Required]"));
}

static void test_usage_errors(void **state)
{
    struct result r;
    (void)state;
    RUN(&r, tmpdir, "keyvault", "secret", "nonsense-command");
    assert_int_equal(r.rc, 2);
    assert_int_equal(lines(r.err), 1);
    assert_string_equal(r.out, "");

    RUN(&r, tmpdir, "keyvault", "create", "--name", "v");
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "ERROR: the following arguments are required: --resource-group/-g"));

    RUN(&r, tmpdir, "keyvault", "secret", "show", "--name", "x", "--bogus", "1");
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "unrecognized arguments: --bogus"));

    RUN(&r, tmpdir, "keyvault", "secret", "show", "--name");
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "expected one argument"));

    RUN(&r, tmpdir, "keyvault", "secret", "list", "--vault-name", "v", "-o", "xml");
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "invalid choice: 'xml'"));

    RUN(&r, tmpdir, "keyvault", "secret", "set-attributes", "--enabled", "maybe");
    assert_int_equal(r.rc, 2);

    RUN(&r, tmpdir, "keyvault", "secret", "set", "--expires", "next week");
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "invalid datetime_type value"));

    RUN(&r, tmpdir, "keyvault", "create", "-n", "v", "-g", "g", "--retention-days", "x");
    assert_int_equal(r.rc, 2);
    /* ambiguous prefix: --enable matches several options */
    RUN(&r, tmpdir, "keyvault", "create", "-n", "v", "-g", "g", "--enable");
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "ambiguous option"));
}

static void test_not_logged_in(void **state)
{
    struct result r;
    char dir[300];
    (void)state;
    snprintf(dir, sizeof(dir), "%s/empty", tmpdir);
    RUN(&r, dir, "keyvault", "secret", "show", "--name", "x", "--vault-name", "coffer");
    assert_int_equal(r.rc, 1);
    assert_int_equal(lines(r.err), 1);
    assert_string_equal(r.err, "ERROR: Please run 'coffer login' to setup account.\n");
    assert_string_equal(r.out, "");
    RUN(&r, dir, "logout");
    assert_int_equal(r.rc, 1);
    RUN(&r, dir, "login");
    /* no credentials anywhere (the fake environment is empty, no env file here) */
    assert_int_equal(r.rc, 1);
    assert_int_equal(lines(r.err), 1);
}

static void test_table_is_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < cf_cli_ncommands; i++) {
        const struct cf_cli_cmd *c = &cf_cli_commands[i];
        bool group_ok = false;
        size_t nopts = 0;
        assert_non_null(c->fn);
        assert_non_null(c->summary);
        for (size_t g = 0; g < cf_cli_ngroups; g++)
            group_ok |= !strcmp(cf_cli_groups[g].name, c->group);
        if (!group_ok)
            fail_msg("command %s %s: unknown group", c->group, c->name);
        for (size_t k = 0; c->opts[k].name; k++, nopts++) {
            assert_non_null(c->opts[k].help);
            assert_true(strncmp(c->opts[k].name, "--", 2) == 0);
            for (size_t m = 0; m < k; m++)
                assert_string_not_equal(c->opts[k].name, c->opts[m].name);
        }
        assert_true(nopts < CF_CLI_MAX_OPTS);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->group, cf_cli_commands[j].group) &&
                !strcmp(c->name, cf_cli_commands[j].name))
                fail_msg("duplicate command %s %s", c->group, c->name);
    }
}

static void test_profile_files(void **state)
{
    struct cf_cli_profile p = {0}, q;
    struct stat st;
    char dir[300], path[400], *tok = NULL;
    (void)state;
    snprintf(dir, sizeof(dir), "%s/cfg", tmpdir);
    snprintf(p.tenant_id, sizeof(p.tenant_id), "t-1");
    snprintf(p.client_id, sizeof(p.client_id), "c-1");
    p.client_secret = strdup("s3cr3t");
    snprintf(p.authority, sizeof(p.authority), "https://login.localhost:8443");
    snprintf(p.management_url, sizeof(p.management_url), "https://management.localhost:8443");
    snprintf(p.dns_suffix, sizeof(p.dns_suffix), "vault.localhost");
    p.port = 8443;
    snprintf(p.ca_file, sizeof(p.ca_file), "/x/ca.pem");
    snprintf(p.subscription_id, sizeof(p.subscription_id), "sub");
    assert_int_equal(cf_cli_profile_save(dir, &p), CF_OK);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/profile.json", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cf_cli_profile_load(dir, &q), CF_OK);
    assert_string_equal(q.client_secret, "s3cr3t");
    assert_string_equal(q.management_url, p.management_url);
    assert_int_equal(q.port, 8443);
    cf_cli_profile_release(&q);
    cf_cli_profile_release(&p);

    /* token cache: valid until 5 minutes before expiry */
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(cf_cli_token_cache_put(dir, "https://a", "tok-a", now + 10000), CF_OK);
    assert_int_equal(cf_cli_token_cache_put(dir, "https://b", "tok-b", now + 20000), CF_OK);
    /* an expired entry is dropped when the cache is rewritten */
    assert_int_equal(cf_cli_token_cache_put(dir, "https://old", "tok-old", now - 1), CF_OK);
    assert_int_equal(cf_cli_token_cache_put(dir, "https://b", "tok-b", now + 20000), CF_OK);
    assert_int_equal(cf_cli_token_cache_get(dir, "https://old", 0, &tok), CF_ENOTFOUND);
    snprintf(path, sizeof(path), "%s/tokens.json", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cf_cli_token_cache_get(dir, "https://a", now + 9000, &tok), CF_OK);
    assert_string_equal(tok, "tok-a");
    free(tok);
    assert_int_equal(cf_cli_token_cache_get(dir, "https://a", now + 9701, &tok), CF_ENOTFOUND);
    assert_null(tok);
    assert_int_equal(cf_cli_token_cache_get(dir, "https://c", 0, &tok), CF_ENOTFOUND);
    assert_int_equal(cf_cli_token_cache_get(dir, "https://b", now + 9701, &tok), CF_OK);
    free(tok);

    /* account show reads the profile back; the secret never appears */
    {
        struct result r;
        struct cf_cli_profile p2 = {0};
        snprintf(p2.tenant_id, sizeof(p2.tenant_id), "t-1");
        snprintf(p2.client_id, sizeof(p2.client_id), "c-1");
        p2.client_secret = strdup("s3cr3t");
        snprintf(p2.subscription_id, sizeof(p2.subscription_id), "sub");
        snprintf(p2.subscription_name, sizeof(p2.subscription_name), "Coffer");
        assert_int_equal(cf_cli_profile_save(dir, &p2), CF_OK);
        cf_cli_profile_release(&p2);
        RUN(&r, dir, "account", "show", "--query", "[id, user.name, environmentName]", "-o",
            "tsv");
        assert_int_equal(r.rc, 0);
        assert_string_equal(r.out, "sub\nc-1\nCoffer\n"); /* a list: one row per element */
        RUN(&r, dir, "account", "show");
        assert_null(strstr(r.out, "s3cr3t"));
        RUN(&r, dir, "account", "show", "--query", "length(");
        assert_int_equal(r.rc, 2);
        assert_int_equal(lines(r.err), 1);
        assert_string_equal(r.out, "");
        RUN(&r, dir, "logout");
        assert_int_equal(r.rc, 0);
        assert_int_not_equal(stat(path, &st), 0);
        RUN(&r, dir, "account", "show");
        assert_int_equal(r.rc, 1);
    }
    /* damaged profile */
    snprintf(path, sizeof(path), "%s/profile.json", dir);
    {
        FILE *f = fopen(path, "w");
        fputs("{not json", f);
        fclose(f);
    }
    assert_int_not_equal(cf_cli_profile_load(dir, &q), CF_OK);
}

static void env_cb(void *ctx, const char *name, const char *value)
{
    struct cf_buf *b = ctx;
    assert_int_equal(cf_buf_printf(b, "%s=[%s];", name, value), CF_OK);
}

static void test_env_file(void **state)
{
    char path[300];
    struct cf_buf b;
    FILE *f;
    (void)state;
    snprintf(path, sizeof(path), "%s/env", tmpdir);
    f = fopen(path, "w");
    fputs("# comment\nexport A=\"x y\"\nB=plain\nexport C=\"q\\\"uote\"\n\nexport D='s'\r\n", f);
    fclose(f);
    cf_buf_init(&b, 4096);
    assert_int_equal(cf_cli_read_env_file(path, env_cb, &b), CF_OK);
    assert_string_equal(b.data, "A=[x y];B=[plain];C=[q\"uote];D=[s];");
    cf_buf_release(&b);
    assert_int_equal(cf_cli_read_env_file("/nonexistent/env", env_cb, &b), CF_ENOTFOUND);
}

static void test_error_format(void **state)
{
    char out[512];
    const char *kv = "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) x "
                     "was not found in this key vault.\"}}";
    const char *oauth = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: bad\\nsecret\"}";
    (void)state;
    cf_cli_format_service_error(404, kv, strlen(kv), out, sizeof(out));
    assert_string_equal(out, "(SecretNotFound) A secret with (name/id) x was not found in this key vault.");
    cf_cli_format_service_error(401, oauth, strlen(oauth), out, sizeof(out));
    assert_string_equal(out, "(invalid_client) AADSTS7000215: bad secret");
    cf_cli_format_service_error(502, "<html>", 6, out, sizeof(out));
    assert_string_equal(out, "Operation returned an invalid status 'Bad Gateway'");
    cf_cli_format_service_error(404, NULL, 0, out, sizeof(out));
    assert_string_equal(out, "Operation returned an invalid status 'Not Found'");
}

static void test_shape_secret(void **state)
{
    const char *in = "{\"value\":\"v\",\"id\":\"https://x.vault.localhost:8443/secrets/n1/abc\","
                     "\"attributes\":{\"enabled\":true,\"exp\":1893456000,\"created\":0,"
                     "\"updated\":0,\"recoveryLevel\":\"Recoverable+Purgeable\","
                     "\"recoverableDays\":90},\"tags\":{\"a\":\"1\"}}";
    const char *want = "{\"value\":\"v\",\"id\":\"https://x.vault.localhost:8443/secrets/n1/abc\","
                       "\"contentType\":null,\"attributes\":{\"enabled\":true,\"notBefore\":null,"
                       "\"expires\":\"2030-01-01T00:00:00+00:00\",\"created\":\"1970-01-01T00:00:00+00:00\","
                       "\"updated\":\"1970-01-01T00:00:00+00:00\",\"recoverableDays\":90,"
                       "\"recoveryLevel\":\"Recoverable+Purgeable\"},\"tags\":{\"a\":\"1\"},"
                       "\"kid\":null,\"managed\":null,\"name\":\"n1\"}";
    struct cf_val *v, *s;
    struct cf_buf b;
    (void)state;
    assert_int_equal(cf_val_parse(in, strlen(in), &v), CF_OK);
    s = cf_cli_shape_secret(v, false, false);
    cf_buf_init(&b, 1 << 16);
    assert_int_equal(cf_val_dump(s, &b), CF_OK);
    assert_string_equal(b.data, want);
    cf_val_unref(s);
    /* items have no value/kid; deleted ones carry the deletion fields */
    s = cf_cli_shape_secret(v, true, true);
    assert_null(cf_val_get(s, "value"));
    assert_null(cf_val_get(s, "kid"));
    assert_non_null(cf_val_get(s, "recoveryId"));
    assert_non_null(cf_val_get(s, "scheduledPurgeDate"));
    cf_val_unref(s);
    cf_val_unref(v);
    cf_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_levels),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_not_logged_in),
        cmocka_unit_test(test_table_is_consistent),
        cmocka_unit_test(test_profile_files),
        cmocka_unit_test(test_env_file),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_shape_secret),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_config.c - cofferd's configuration: defaults, the INI file, flags overriding the file,
 * derived host names, and every kind of bad input refused with CF_EINVAL. */
#include "base/cf.h"
#include "server/config.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

static cf_err load(struct cf_config *c, int argc, const char **argv)
{
    return cf_config_load(c, argc, (char **)(uintptr_t)argv);
}

static void defaults_in_dev_mode(void **state)
{
    struct cf_config c;
    const char *argv[] = {"cofferd", "--dev"};
    (void)state;
    assert_int_equal(load(&c, 2, argv), CF_OK);
    assert_true(c.dev);
    assert_int_equal(c.port, 8443);
    assert_string_equal(c.data_dir, "coffer-data");
    assert_string_equal(c.listen, "127.0.0.1,::1");
    assert_string_equal(c.dns_suffix, "vault.localhost");
    assert_string_equal(c.login_host, "login.localhost");
    assert_string_equal(c.management_host, "management.localhost");
    assert_int_equal(c.max_body_bytes, 256 * 1024);
    assert_int_equal(c.max_header_bytes, 16 * 1024);
    assert_int_equal(c.max_connections, 10000);
    assert_int_equal(c.header_timeout_s, 10);
    assert_int_equal(c.idle_timeout_s, 120);
    /* service limits: off in dev mode, Azure's table otherwise */
    assert_string_equal(c.throttle, "off");
    assert_int_equal(c.throttle_secret_create, 300);
    assert_int_equal(c.throttle_key_create, 20);
    assert_int_equal(c.throttle_key_other, 4000);
    assert_int_equal(c.throttle_other, 4000);
    assert_int_equal(c.throttle_principal_factor, 5);
}

static void flags_forms(void **state)
{
    struct cf_config c;
    const char *argv[] = {"cofferd", "--dev", "--port", "9443", "--data-dir=/tmp/x",
                          "--dns_suffix", "kv.example.test", "--threads=3"};
    (void)state;
    assert_int_equal(load(&c, 8, argv), CF_OK);
    assert_int_equal(c.port, 9443);
    assert_string_equal(c.data_dir, "/tmp/x");
    assert_string_equal(c.dns_suffix, "kv.example.test");
    assert_string_equal(c.login_host, "login.example.test");
    assert_string_equal(c.management_host, "management.example.test");
    assert_int_equal(c.threads, 3);
}

static void ini_then_flags(void **state)
{
    char path[] = "/tmp/cf-config-XXXXXX";
    int fd = mkstemp(path);
    struct cf_config c;
    const char *ini = "; comment\n[server]\nport = 7000\ntls_cert = /etc/c.pem\n"
                      "tls_key = /etc/k.pem\nlogin_host = auth.example.test\n"
                      "idle_timeout_s = 30\n";
    const char *argv[] = {"cofferd", "--config", path, "--port", "7001"};
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
    close(fd);
    assert_int_equal(load(&c, 5, argv), CF_OK);
    assert_false(c.dev);
    assert_int_equal(c.port, 7001); /* the flag wins over the file */
    assert_string_equal(c.tls_cert, "/etc/c.pem");
    assert_string_equal(c.login_host, "auth.example.test");
    assert_string_equal(c.management_host, "management.localhost");
    assert_int_equal(c.idle_timeout_s, 30);
    assert_string_equal(c.throttle, "on"); /* production default */
    unlink(path);
}

static void bad_input(void **state)
{
    struct cf_config c;
    const char *a1[] = {"cofferd", "--dev", "--port", "0"};
    const char *a2[] = {"cofferd", "--dev", "--port", "70000"};
    const char *a3[] = {"cofferd", "--dev", "--port", "12ab"};
    const char *a4[] = {"cofferd", "--dev", "--nope", "1"};
    const char *a5[] = {"cofferd", "--dev", "--port"};
    const char *a6[] = {"cofferd"}; /* production without a certificate */
    const char *a7[] = {"cofferd", "--config", "/nonexistent/cofferd.ini", "--dev"};
    const char *a8[] = {"cofferd", "--dev", "stray"};
    const char *a9[] = {"cofferd", "--dev=maybe"};
    char longv[600];
    const char *a10[] = {"cofferd", "--dev", "--dns-suffix", longv};
    (void)state;
    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    assert_int_equal(load(&c, 4, a1), CF_EINVAL);
    assert_int_equal(load(&c, 4, a2), CF_EINVAL);
    assert_int_equal(load(&c, 4, a3), CF_EINVAL);
    assert_int_equal(load(&c, 4, a4), CF_EINVAL);
    assert_int_equal(load(&c, 3, a5), CF_EINVAL);
    assert_int_equal(load(&c, 1, a6), CF_EINVAL);
    assert_int_equal(load(&c, 4, a7), CF_EINVAL);
    assert_int_equal(load(&c, 3, a8), CF_EINVAL);
    assert_int_equal(load(&c, 2, a9), CF_EINVAL);
    assert_int_equal(load(&c, 4, a10), CF_EINVAL);
    {
        const char *b1[] = {"cofferd", "--dev", "--throttle", "sometimes"};
        const char *b2[] = {"cofferd", "--dev", "--throttle-principal-factor", "0"};
        const char *ok[] = {"cofferd", "--dev", "--throttle", "on", "--throttle-other", "50"};
        assert_int_equal(load(&c, 4, b1), CF_EINVAL);
        assert_int_equal(load(&c, 4, b2), CF_EINVAL);
        assert_int_equal(load(&c, 6, ok), CF_OK);
        assert_string_equal(c.throttle, "on");
        assert_int_equal(c.throttle_other, 50);
    }
}

static void help_is_not_an_error(void **state)
{
    struct cf_config c;
    const char *argv[] = {"cofferd", "--help"};
    (void)state;
    assert_int_equal(load(&c, 2, argv), CF_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_in_dev_mode), cmocka_unit_test(flags_forms),
        cmocka_unit_test(ini_then_flags),       cmocka_unit_test(bad_input),
        cmocka_unit_test(help_is_not_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

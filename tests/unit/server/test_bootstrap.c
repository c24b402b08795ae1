/* test_bootstrap.c - the dev data directory: absolute paths, a stale env file removed at start,
 * the master key file created 0600 and stable across starts (and a damaged one refused), dev
 * TLS material kept across starts and regenerated when the names change, and the env file's
 * exact lines. */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"
#include "server/bootstrap.h"
#include "server/config.h"

#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char dir[64];
    struct cf_config cfg;
    struct cf_paths p;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *argv[] = {"cofferd", "--dev", "--port", "9555"};
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-boot-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(cf_config_load(&f->cfg, 4, (char **)(uintptr_t)argv), CF_OK);
    snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 0777;
}

static void read_all(const char *path, struct cf_buf *out)
{
    char chunk[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        assert_int_equal(cf_buf_append(out, chunk, (size_t)n), CF_OK);
    close(fd);
}

static void paths_and_master_key(void **state)
{
    struct fx *f = *state;
    unsigned char k1[32], k2[32];
    int fd;

    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    assert_int_equal(f->p.db[0], '/');
    assert_int_equal(mode_of(f->cfg.data_dir), 0700);
    /* a stale env file from an earlier run is removed before anything else */
    fd = open(f->p.env, O_WRONLY | O_CREAT, 0600);
    close(fd);
    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    assert_int_equal(access(f->p.env, F_OK), -1);

    assert_int_equal(cf_boot_master_key(&f->p, k1), CF_OK);
    assert_int_equal(mode_of(f->p.master_key), 0600);
    assert_int_equal(cf_boot_master_key(&f->p, k2), CF_OK);
    assert_memory_equal(k1, k2, 32);
    fd = open(f->p.master_key, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "short", 5), 5);
    close(fd);
    assert_int_equal(cf_boot_master_key(&f->p, k2), CF_ECORRUPT);
}

static void dev_tls_kept_and_renewed(void **state)
{
    struct fx *f = *state;
    struct cf_buf ca1, ca2, leaf1, leaf2, leaf3;

    cf_buf_init(&ca1, 1 << 16);
    cf_buf_init(&ca2, 1 << 16);
    cf_buf_init(&leaf1, 1 << 16);
    cf_buf_init(&leaf2, 1 << 16);
    cf_buf_init(&leaf3, 1 << 16);
    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    assert_int_equal(mode_of(f->p.ca_key), 0600);
    assert_int_equal(mode_of(f->p.key), 0600);
    read_all(f->p.ca_cert, &ca1);
    read_all(f->p.cert, &leaf1);
    /* a restart keeps both */
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    read_all(f->p.ca_cert, &ca2);
    read_all(f->p.cert, &leaf2);
    assert_true(cf_str_eq(cf_buf_str(&ca1), cf_buf_str(&ca2)));
    assert_true(cf_str_eq(cf_buf_str(&leaf1), cf_buf_str(&leaf2)));
    /* another suffix: same CA, new server certificate */
    snprintf(f->cfg.dns_suffix, sizeof(f->cfg.dns_suffix), "kv.example.test");
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    read_all(f->p.cert, &leaf3);
    assert_false(cf_str_eq(cf_buf_str(&leaf1), cf_buf_str(&leaf3)));
    cf_buf_reset(&ca2);
    read_all(f->p.ca_cert, &ca2);
    assert_true(cf_str_eq(cf_buf_str(&ca1), cf_buf_str(&ca2)));
    cf_buf_release(&ca1);
    cf_buf_release(&ca2);
    cf_buf_release(&leaf1);
    cf_buf_release(&leaf2);
    cf_buf_release(&leaf3);
}

/* A leaf close to expiry is replaced on start; the CA stays. */
static void dev_tls_renews_expiring_leaf(void **state)
{
    struct fx *f = *state;
    struct cf_buf ca, cakey, cert, key, now_cert;
    const char *dns[] = {"login.localhost"};
    int64_t t = 0;
    int fd;

    cf_buf_init(&ca, 1 << 16);
    cf_buf_init(&cakey, 1 << 16);
    cf_buf_init(&cert, 1 << 16);
    cf_buf_init(&key, 1 << 16);
    cf_buf_init(&now_cert, 1 << 16);
    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    read_all(f->p.ca_cert, &ca);
    read_all(f->p.ca_key, &cakey);
    /* replace the leaf by one that expires in 5 days */
    assert_int_equal(cf_x509_make_server(ca.data, cakey.data, dns, 1, NULL, 0, 5, NULL, &cert, &key),
                     CF_OK);
    fd = open(f->p.cert, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, cert.data, cert.len), (ssize_t)cert.len);
    close(fd);
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    read_all(f->p.cert, &now_cert);
    assert_false(cf_str_eq(cf_buf_str(&cert), cf_buf_str(&now_cert)));
    assert_int_equal(cf_x509_not_after(now_cert.data, &t), CF_OK);
    assert_true(t > (int64_t)time(NULL) + 300 * 86400);
    cf_buf_release(&ca);
    cf_buf_wipe(&cakey);
    cf_buf_release(&cert);
    cf_buf_wipe(&key);
    cf_buf_release(&now_cert);
}

static void env_file_lines(void **state)
{
    struct fx *f = *state;
    struct cf_buf env;
    char want[20000];
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);

    cf_buf_init(&env, 1 << 16);
    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    dup2(devnull, 1); /* the banner goes to stdout */
    assert_int_equal(cf_boot_write_env(&f->cfg, &f->p, "sub-1", "tenant-1", "client-1", "s3cr3t"),
                     CF_OK);
    fflush(stdout);
    dup2(saved, 1);
    close(devnull);
    close(saved);
    assert_int_equal(mode_of(f->p.env), 0600);
    read_all(f->p.env, &env);
    snprintf(want, sizeof(want),
             "export COFFER_VAULT_URL=\"https://coffer.vault.localhost:9555\"\n"
             "export COFFER_VAULT_NAME=\"coffer\"\n"
             "export COFFER_RESOURCE_GROUP=\"coffer-dev\"\n"
             "export COFFER_DNS_SUFFIX=\"vault.localhost\"\n"
             "export COFFER_PORT=\"9555\"\n"
             "export COFFER_MANAGEMENT_URL=\"https://management.localhost:9555\"\n"
             "export COFFER_SUBSCRIPTION_ID=\"sub-1\"\n"
             "export COFFER_CA_FILE=\"%s\"\n"
             "export AZURE_TENANT_ID=\"tenant-1\"\n"
             "export AZURE_CLIENT_ID=\"client-1\"\n"
             "export AZURE_CLIENT_SECRET=\"s3cr3t\"\n"
             "export AZURE_AUTHORITY_HOST=\"https://login.localhost:9555\"\n"
             "export NODE_EXTRA_CA_CERTS=\"%s\"\n"
             "export REQUESTS_CA_BUNDLE=\"%s\"\n"
             "export SSL_CERT_FILE=\"%s\"\n",
             f->p.ca_cert, f->p.ca_cert, f->p.ca_cert, f->p.ca_cert);
    assert_string_equal(env.data, want);
    cf_buf_release(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(paths_and_master_key, setup, teardown),
        cmocka_unit_test_setup_teardown(dev_tls_kept_and_renewed, setup, teardown),
        cmocka_unit_test_setup_teardown(dev_tls_renews_expiring_leaf, setup, teardown),
        cmocka_unit_test_setup_teardown(env_file_lines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

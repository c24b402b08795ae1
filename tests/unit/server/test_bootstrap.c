/* test_bootstrap.c - the dev data directory: absolute paths, a stale env file removed at start,
 * the master key file created 0600 and stable across starts (and a damaged one refused), dev
 * TLS material kept across starts and regenerated when the names change, the dev CA's CRL
 * (its URL from metrics_listen, the leaf's distribution point, a leaf from before CRLs remade
 * with the CA kept, the operator's tls_cert never written, the served CRL refreshed daily),
 * and the env file's exact lines. */
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

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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
    assert_int_equal(
        cf_x509_make_server(ca.data, cakey.data, dns, 1, NULL, 0, 5, NULL, &cert, &key), CF_OK);
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

static void crl_url_from_metrics_listen(void **state)
{
    struct fx *f = *state;
    char url[256];
    struct {
        const char *listen, *tls, *want; /* want NULL: no URL */
    } cases[] = {
        {"127.0.0.1:9464", "off", "http://127.0.0.1:9464/crl/dev-ca.crl"},
        {"0.0.0.0:8080", "off", "http://127.0.0.1:8080/crl/dev-ca.crl"},
        {"[::]:9000", "off", "http://[::1]:9000/crl/dev-ca.crl"},
        {"[::1]:9000", "off", "http://[::1]:9000/crl/dev-ca.crl"},
        {"10.1.2.3:1", "off", "http://10.1.2.3:1/crl/dev-ca.crl"},
        {"127.0.0.1:9464", "on", NULL}, /* https: no http: URL to give */
        {"", "off", NULL},              /* no listener */
        {"127.0.0.1:0", "off", NULL},   /* port unknown until bound */
        {"127.0.0.1:65536", "off", NULL},
        {"127.0.0.1", "off", NULL},
        {":9464", "off", NULL},
        {"127.0.0.1:94x", "off", NULL},
    };

    for (size_t i = 0; i < CF_ARRAY_LEN(cases); i++) {
        snprintf(f->cfg.metrics_listen, sizeof(f->cfg.metrics_listen), "%s", cases[i].listen);
        snprintf(f->cfg.metrics_tls, sizeof(f->cfg.metrics_tls), "%s", cases[i].tls);
        assert_int_equal(cf_boot_crl_url(&f->cfg, url, sizeof(url)), cases[i].want != NULL);
        assert_string_equal(url, cases[i].want ? cases[i].want : "");
    }
    /* too small a buffer: no truncated URL */
    snprintf(f->cfg.metrics_listen, sizeof(f->cfg.metrics_listen), "127.0.0.1:9464");
    assert_false(cf_boot_crl_url(&f->cfg, url, 20));
    assert_string_equal(url, "");
}

/* The one URI of the leaf's CRL distribution points ("" when there is none). */
static void leaf_crl_uri(const char *cert_path, char *out, size_t cap)
{
    FILE *fp = fopen(cert_path, "r");
    X509 *x;
    CRL_DIST_POINTS *dps;

    out[0] = '\0';
    assert_non_null(fp);
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    if (dps) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, 0);
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
        assert_int_equal(sk_DIST_POINT_num(dps), 1);
        assert_int_equal(gn->type, GEN_URI);
        snprintf(out, cap, "%.*s", ASN1_STRING_length(gn->d.uniformResourceIdentifier),
                 (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier));
        CRL_DIST_POINTS_free(dps);
    }
    X509_free(x);
}

/* A data dir from before CRLs (leaf without a distribution point, server.sans without the
 * "crl" line) gets a new leaf naming the CRL at start; the CA is kept. Another metrics
 * address, or metrics over TLS, remakes the leaf with the new URL or none. */
static void dev_tls_crl_dp_and_upgrade(void **state)
{
    struct fx *f = *state;
    struct cf_buf ca1, ca2, cakey, cert, key, sans;
    char uri[256], sans_path[PATH_MAX + 16];
    const char *dns[] = {"login.localhost"};
    char *crl_line;
    int fd;

    cf_buf_init(&ca1, 1 << 16);
    cf_buf_init(&ca2, 1 << 16);
    cf_buf_init(&cakey, 1 << 16);
    cf_buf_init(&cert, 1 << 16);
    cf_buf_init(&key, 1 << 16);
    cf_buf_init(&sans, 4096);
    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    leaf_crl_uri(f->p.cert, uri, sizeof(uri));
    assert_string_equal(uri, "http://127.0.0.1:9464/crl/dev-ca.crl");
    read_all(f->p.ca_cert, &ca1);
    read_all(f->p.ca_key, &cakey);

    /* what an older version left: a leaf without the extension and the names-only sans file */
    assert_int_equal(cf_x509_make_server(ca1.data, cakey.data, dns, 1, NULL, 0, 300, NULL, &cert,
                                         &key),
                     CF_OK);
    fd = open(f->p.cert, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, cert.data, cert.len), (ssize_t)cert.len);
    close(fd);
    snprintf(sans_path, sizeof(sans_path), "%s/server.sans", f->p.tls_dir);
    read_all(sans_path, &sans);
    crl_line = strstr(sans.data, "crl ");
    assert_non_null(crl_line);
    fd = open(sans_path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, sans.data, (size_t)(crl_line - sans.data)),
                     (ssize_t)(crl_line - sans.data));
    close(fd);
    leaf_crl_uri(f->p.cert, uri, sizeof(uri));
    assert_string_equal(uri, "");
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    leaf_crl_uri(f->p.cert, uri, sizeof(uri));
    assert_string_equal(uri, "http://127.0.0.1:9464/crl/dev-ca.crl");
    read_all(f->p.ca_cert, &ca2);
    assert_true(cf_str_eq(cf_buf_str(&ca1), cf_buf_str(&ca2)));

    /* another metrics address: the leaf follows it */
    snprintf(f->cfg.metrics_listen, sizeof(f->cfg.metrics_listen), "127.0.0.1:19999");
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    leaf_crl_uri(f->p.cert, uri, sizeof(uri));
    assert_string_equal(uri, "http://127.0.0.1:19999/crl/dev-ca.crl");
    /* metrics over TLS: no http: listener, so no distribution point */
    snprintf(f->cfg.metrics_tls, sizeof(f->cfg.metrics_tls), "on");
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    leaf_crl_uri(f->p.cert, uri, sizeof(uri));
    assert_string_equal(uri, "");
    cf_buf_reset(&ca2);
    read_all(f->p.ca_cert, &ca2);
    assert_true(cf_str_eq(cf_buf_str(&ca1), cf_buf_str(&ca2)));
    cf_buf_release(&ca1);
    cf_buf_release(&ca2);
    cf_buf_wipe(&cakey);
    cf_buf_release(&cert);
    cf_buf_wipe(&key);
    cf_buf_release(&sans);
}

/* --dev with the operator's tls_cert/tls_key: the CA is made (the env file names it), the
 * operator's files are neither created nor rewritten. */
static void dev_tls_operator_cert_untouched(void **state)
{
    struct fx *f = *state;
    char cert_path[128], key_path[128];
    struct stat st;
    int fd;

    snprintf(cert_path, sizeof(cert_path), "%s/op.pem", f->dir);
    snprintf(key_path, sizeof(key_path), "%s/op.key", f->dir);
    snprintf(f->cfg.tls_cert, sizeof(f->cfg.tls_cert), "%s", cert_path);
    snprintf(f->cfg.tls_key, sizeof(f->cfg.tls_key), "%s", key_path);
    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    assert_int_equal(access(f->p.ca_cert, R_OK), 0);
    assert_int_equal(access(cert_path, F_OK), -1);
    assert_int_equal(access(key_path, F_OK), -1);
    fd = open(cert_path, O_WRONLY | O_CREAT, 0644);
    assert_int_equal(write(fd, "operator\n", 9), 9);
    close(fd);
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    assert_int_equal(stat(cert_path, &st), 0);
    assert_int_equal(st.st_size, 9);
    assert_int_equal(access(key_path, F_OK), -1);
}

static X509_CRL *crl_of(const struct cf_buf *b)
{
    const unsigned char *p = (const unsigned char *)b->data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)b->len);
    assert_non_null(crl);
    return crl;
}

static uint64_t crl_number(const struct cf_buf *b)
{
    X509_CRL *crl = crl_of(b);
    ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    uint64_t v = 0;
    assert_non_null(n);
    assert_int_equal(ASN1_INTEGER_get_uint64(&v, n), 1);
    ASN1_INTEGER_free(n);
    X509_CRL_free(crl);
    return v;
}

/* The served CRL: signed by the data dir's CA, valid at the time asked, the same bytes until a
 * day has passed, then a new one with a larger number; a clock gone back remakes it; when the
 * CA cannot be read the current CRL is served while valid, then an error. */
static void crl_served_and_refreshed(void **state)
{
    struct fx *f = *state;
    struct cf_boot_crl *c = NULL;
    struct cf_buf a, b, ca, cakey;
    X509_CRL *crl;
    X509 *cax;
    FILE *fp;
    int64_t t0 = (int64_t)time(NULL);

    cf_buf_init(&a, 1 << 16);
    cf_buf_init(&b, 1 << 16);
    cf_buf_init(&ca, 1 << 16);
    cf_buf_init(&cakey, 1 << 16);
    assert_int_equal(cf_boot_paths(&f->cfg, &f->p), CF_OK);
    assert_int_equal(cf_boot_crl_new(&f->p, t0, &c), CF_ENOTFOUND); /* no CA yet */
    assert_null(c);
    assert_int_equal(cf_boot_dev_tls(&f->cfg, &f->p), CF_OK);
    assert_int_equal(cf_boot_crl_new(&f->p, t0, &c), CF_OK);
    assert_int_equal(cf_boot_crl_get(c, t0, &a), CF_OK);
    crl = crl_of(&a);
    fp = fopen(f->p.ca_cert, "r");
    cax = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(cax);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(cax)), 1);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(cax)), 0);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_lastUpdate(crl), (time_t)t0), -1);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), (time_t)(t0 + 6 * 86400)),
                     1);
    X509_CRL_free(crl);
    X509_free(cax);
    assert_true(crl_number(&a) == (uint64_t)t0);

    /* within the day: the same CRL */
    assert_int_equal(cf_boot_crl_get(c, t0 + 86399, &b), CF_OK);
    assert_true(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* a day later: a new one, numbered higher, valid a week from then */
    cf_buf_reset(&b);
    assert_int_equal(cf_boot_crl_get(c, t0 + 86400, &b), CF_OK);
    assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    assert_true(crl_number(&b) == (uint64_t)(t0 + 86400));
    crl = crl_of(&b);
    assert_int_equal(
        ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), (time_t)(t0 + 86400 + 7 * 86400)), 0);
    X509_CRL_free(crl);
    /* the clock went back two hours past the last making: remade */
    cf_buf_reset(&b);
    assert_int_equal(cf_boot_crl_get(c, t0 + 86400 - 7200, &b), CF_OK);
    assert_true(crl_number(&b) == (uint64_t)(t0 + 86400 - 7200));

    /* the CA key gone: the current CRL is still served while valid, then an error */
    read_all(f->p.ca_key, &cakey);
    assert_int_equal(unlink(f->p.ca_key), 0);
    cf_buf_reset(&a);
    assert_int_equal(cf_boot_crl_get(c, t0 + 3 * 86400, &a), CF_OK);
    assert_true(crl_number(&a) == (uint64_t)(t0 + 86400 - 7200));
    cf_buf_reset(&a);
    assert_int_not_equal(cf_boot_crl_get(c, t0 + 86400 - 7200 + 7 * 86400, &a), CF_OK);
    assert_int_equal(a.len, 0);
    cf_boot_crl_free(c);
    cf_boot_crl_free(NULL);
    cf_buf_release(&a);
    cf_buf_release(&b);
    cf_buf_release(&ca);
    cf_buf_wipe(&cakey);
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
        cmocka_unit_test_setup_teardown(crl_url_from_metrics_listen, setup, teardown),
        cmocka_unit_test_setup_teardown(dev_tls_crl_dp_and_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(dev_tls_operator_cert_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(crl_served_and_refreshed, setup, teardown),
        cmocka_unit_test_setup_teardown(env_file_lines, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

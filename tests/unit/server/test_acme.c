/* test_acme.c - the ACME driver (server/acme.c) against Debian's pebble on loopback (skipped
 * when /usr/bin/pebble is absent): pebble with PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0,
 * pebble-challtestsrv as its DNS (every name -> 127.0.0.1, no AAAA), pebble's httpPort = the
 * driver's http-01 listener. A certificate with an Acme issuer is issued through http-01 (the
 * operation completes, the chain's leaf carries the operation's key and the names), the
 * account is registered once and reused, dns-01 works through a hook that feeds challtestsrv,
 * and a failing hook fails the operation with the reason. */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "http/fetch.h"
#include "server/acme.h"
#include "store/store.h"
#include "vault/vault.h"

#define PEBBLE "/usr/bin/pebble"
#define CHALLSRV "/usr/bin/pebble-challtestsrv"

struct fx {
    char dir[64];
    struct cf_store *store;
    struct cf_clock clock;
    unsigned char mk[32];
    struct cf_vault_svc *svc;
    struct cf_vault_ref ref;
    struct cf_acme *acme;
    pid_t pebble, challsrv;
    int pebble_port, dns_port, mgmt_port;
    char ca_file[128], directory[128], hook[128];
};

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        (void)f;
        dup2(STDOUT_FILENO, STDERR_FILENO);
        setenv("PEBBLE_VA_NOSLEEP", "1", 1);
        setenv("PEBBLE_WFE_NONCEREJECT", "0", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static int setup(void **state)
{
    struct fx *f;
    struct cf_store_opts so = {0};
    struct cf_vault in, out;
    bool created;
    char cmd[512], path[128], cfg[512], a1[64], a2[64], a3[64], lp[128], lg[160];
    cf_err e;

    if (access(PEBBLE, X_OK) != 0 || access(CHALLSRV, X_OK) != 0) {
        *state = NULL;
        return 0;
    }
    f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-acme-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* pebble's TLS certificate for 127.0.0.1, which the driver trusts through ca_file */
    snprintf(f->ca_file, sizeof(f->ca_file), "%s/pebble.pem", f->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
             "-keyout %s/pebble.key -out %s >/dev/null 2>&1",
             f->dir, f->ca_file);
    assert_int_equal(system(cmd), 0);

    snprintf(path, sizeof(path), "%s/db", f->dir);
    so.path = path;
    f->store = cf_store_open_sqlite(&so, &e);
    assert_non_null(f->store);
    f->clock = cf_clock_system();
    assert_int_equal(cf_random(f->mk, sizeof(f->mk)), CF_OK);
    f->svc = cf_vault_svc_new(f->store, &f->clock, f->mk, &e);
    assert_non_null(f->svc);
    memset(&in, 0, sizeof(in));
    snprintf(in.name, sizeof(in.name), "acmevault");
    snprintf(in.subscription, sizeof(in.subscription), "00000000-0000-0000-0000-0000000000aa");
    snprintf(in.resource_group, sizeof(in.resource_group), "rg");
    snprintf(in.location, sizeof(in.location), "local");
    snprintf(in.tenant_id, sizeof(in.tenant_id), "11111111-1111-1111-1111-111111111111");
    snprintf(in.sku, sizeof(in.sku), "standard");
    in.retention_days = 7;
    in.rbac = true;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
    assert_int_equal(cf_vault_resolve(f->svc, CF_STR("acmevault"), &f->ref), CF_OK);

    f->acme = cf_acme_new(f->svc, &(struct cf_acme_opts){.timeout_s = 10}, &e);
    assert_non_null(f->acme);
    assert_int_equal(cf_acme_serve(f->acme), CF_OK);

    f->pebble_port = free_port();
    f->dns_port = free_port();
    f->mgmt_port = free_port();
    snprintf(cfg, sizeof(cfg),
             "{\"pebble\":{\"listenAddress\":\"127.0.0.1:%d\",\"managementListenAddress\":"
             "\"127.0.0.1:%d\",\"certificate\":\"%s\",\"privateKey\":\"%s/pebble.key\","
             "\"httpPort\":%d,\"tlsPort\":%d,\"ocspResponderURL\":\"\","
             "\"externalAccountBindingRequired\":false}}",
             f->pebble_port, free_port(), f->ca_file, f->dir, cf_acme_http01_port(f->acme),
             free_port());
    snprintf(path, sizeof(path), "%s/pebble.json", f->dir);
    write_file(path, cfg, 0600);
    snprintf(a1, sizeof(a1), "127.0.0.1:%d", f->dns_port);
    snprintf(a2, sizeof(a2), "127.0.0.1:%d", f->mgmt_port);
    snprintf(lg, sizeof(lg), "%s/challtestsrv.log", f->dir);
    f->challsrv = spawn((char *[]){CHALLSRV, "-http01", "", "-https01", "", "-tlsalpn01", "",
                                   "-dns01", a1, "-management", a2, "-defaultIPv6", "",
                                   "-defaultIPv4", "127.0.0.1", NULL},
                        lg);
    snprintf(a3, sizeof(a3), "127.0.0.1:%d", f->dns_port);
    snprintf(lp, sizeof(lp), "%s", path);
    snprintf(lg, sizeof(lg), "%s/pebble.log", f->dir);
    f->pebble = spawn((char *[]){PEBBLE, "-config", lp, "-dnsserver", a3, NULL}, lg);
    snprintf(f->directory, sizeof(f->directory), "https://127.0.0.1:%d/dir", f->pebble_port);
    /* up within 10 s */
    for (int i = 0; i < 100; i++) {
        struct cf_http_fetch_resp r;
        e = cf_http_fetch("GET", f->directory, NULL, NULL, 0, f->ca_file, 2, &r);
        bool up = !e && r.status == 200;
        cf_http_fetch_resp_release(&r);
        if (up)
            break;
        usleep(100 * 1000);
    }
    /* the dns-01 hook: "set|clear <domain> <value>" -> challtestsrv's TXT records */
    snprintf(f->hook, sizeof(f->hook), "%s/dnshook.sh", f->dir);
    snprintf(cfg, sizeof(cfg),
             "#!/bin/sh\n"
             "if [ \"$1\" = set ]; then\n"
             "  exec curl -sf -o /dev/null -d \"{\\\"host\\\":\\\"_acme-challenge.$2.\\\","
             "\\\"value\\\":\\\"$3\\\"}\" http://127.0.0.1:%d/set-txt\n"
             "fi\n"
             "exec curl -sf -o /dev/null -d \"{\\\"host\\\":\\\"_acme-challenge.$2.\\\"}\" "
             "http://127.0.0.1:%d/clear-txt\n",
             f->mgmt_port, f->mgmt_port);
    write_file(f->hook, cfg, 0700);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    if (!f)
        return 0;
    if (f->pebble > 0) {
        kill(f->pebble, SIGTERM);
        waitpid(f->pebble, NULL, 0);
    }
    if (f->challsrv > 0) {
        kill(f->challsrv, SIGTERM);
        waitpid(f->challsrv, NULL, 0);
    }
    cf_acme_free(f->acme);
    cf_vault_svc_free(f->svc);
    cf_store_close(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static void make_issuer(struct fx *f, const char *name, const char *challenge, const char *hook)
{
    char body[1024], why[160];
    struct cf_json *j = NULL;
    struct cf_cert_issuer is;
    snprintf(body, sizeof(body),
             "{\"provider\":\"Acme\",\"credentials\":{\"account_id\":\"%s\"},\"org_details\":"
             "{\"acme\":{\"ca_file\":\"%s\",\"challenge\":\"%s\",\"dns_hook\":\"%s\","
             "\"email\":\"ops@coffer.test\"}}}",
             f->directory, f->ca_file, challenge, hook);
    assert_int_equal(cf_json_parse(body, strlen(body), &j, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_issuer_set(f->svc, &f->ref, cf_str_from(name), j, false, &is, why,
                                        sizeof(why)),
                     CF_OK);
    cf_cert_issuer_release(&is);
    cf_json_free(j);
}

static void create(struct fx *f, const char *name, const char *issuer, const char *domain)
{
    char body[1024], why[160] = "";
    struct cf_json *j = NULL;
    struct cf_cert_op op;
    snprintf(body, sizeof(body),
             "{\"issuer\":{\"name\":\"%s\"},\"key_props\":{\"kty\":\"EC\"},\"x509_props\":"
             "{\"subject\":\"CN=%s\",\"sans\":{\"dns_names\":[\"%s\",\"www.%s\"]}}}",
             issuer, domain, domain, domain);
    assert_int_equal(cf_json_parse(body, strlen(body), &j, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_create(f->svc, &f->ref, cf_str_from(name), j, NULL, &op, why,
                                    sizeof(why)),
                     CF_OK);
    assert_string_equal(op.status, "inProgress");
    cf_cert_op_release(&op);
    cf_json_free(j);
}

static void expect_status(struct fx *f, const char *name, const char *status)
{
    struct cf_cert_op op;
    assert_int_equal(cf_cert_op_get(f->svc, &f->ref, cf_str_from(name), &op), CF_OK);
    if (strcmp(op.status, status) != 0)
        fail_msg("%s: operation %s (%s)", name, op.status,
                 op.error_json ? op.error_json : op.status_details ? op.status_details : "");
    cf_cert_op_release(&op);
}

static void http01_and_dns01(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m;
    struct cf_secret_meta sm;
    struct cf_secret *val = NULL;
    struct cf_kvkey *k = NULL;
    struct cf_buf pfx, chain;
    const unsigned char *der;
    size_t off = 0, len, n = 0;
    char url1[CF_ACME_URL_MAX], url2[CF_ACME_URL_MAX];
    int done = -1;

    if (!f)
        skip();
    make_issuer(f, "pebble", "http-01", "");
    create(f, "web", "pebble", "web.coffer.test");
    assert_int_equal(cf_acme_run_once(f->acme, &done), CF_OK);
    expect_status(f, "web", "completed");
    assert_int_equal(done, 1);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("web"), CF_STR(""), &m), CF_OK);
    assert_true(m.exp > m.nbf);
    cf_cert_meta_release(&m);
    /* the secret: leaf (with the operation's key) and pebble's intermediate */
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("web"), CF_STR(""), &sm, &val), CF_OK);
    cf_buf_init(&pfx, 64 * 1024);
    cf_buf_init(&chain, 64 * 1024);
    assert_int_equal(cf_b64_decode(&pfx, (struct cf_str){(const char *)val->p, val->len}), CF_OK);
    assert_int_equal(cf_cert_from_pkcs12(pfx.data, pfx.len, NULL, false, &k, &chain, NULL, 0),
                     CF_OK);
    while (cf_cert_chain_next(chain.data, chain.len, &off, &der, &len)) {
        bool match = false;
        if (n++ == 0) {
            assert_int_equal(cf_cert_key_matches(der, len, k, &match), CF_OK);
            assert_true(match);
        }
    }
    assert_true(n >= 2);
    cf_kvkey_free(k);
    cf_buf_release(&pfx);
    cf_buf_release(&chain);
    cf_secret_free(val);
    cf_secret_meta_release(&sm);
    /* nothing left; the account is kept and reused */
    assert_int_equal(cf_acme_run_once(f->acme, &done), CF_OK);
    assert_int_equal(done, 0);
    assert_int_equal(cf_cert_acme_account(f->svc, "acmevault", "pebble", &k, url1), CF_OK);
    cf_kvkey_free(k);
    assert_true(strncmp(url1, "https://127.0.0.1:", 18) == 0);
    create(f, "web2", "pebble", "two.coffer.test");
    assert_int_equal(cf_acme_run_once(f->acme, &done), CF_OK);
    assert_int_equal(done, 1);
    expect_status(f, "web2", "completed");
    assert_int_equal(cf_cert_acme_account(f->svc, "acmevault", "pebble", &k, url2), CF_OK);
    cf_kvkey_free(k);
    assert_string_equal(url1, url2);

    /* dns-01 through the hook */
    make_issuer(f, "pebbledns", "dns-01", f->hook);
    create(f, "dnscert", "pebbledns", "dns.coffer.test");
    assert_int_equal(cf_acme_run_once(f->acme, &done), CF_OK);
    expect_status(f, "dnscert", "completed");
    assert_int_equal(done, 1);

    /* a hook that fails: the operation fails with the reason */
    make_issuer(f, "broken", "dns-01", "/bin/false");
    create(f, "bad", "broken", "bad.coffer.test");
    assert_int_equal(cf_acme_run_once(f->acme, &done), CF_OK);
    assert_int_equal(done, 0);
    expect_status(f, "bad", "failed");
}

/* The listener as the config gives it (no pebble needed). */
static void listen_spec(void **state)
{
    int dummy = 0;
    struct cf_vault_svc *svc = (struct cf_vault_svc *)(void *)&dummy; /* never dereferenced */
    static const char *const bad[] = {"nonsense", "127.0.0.1:", "127.0.0.1:0", ":80",
                                      "127.0.0.1:70000", "127.0.0.1:8x"};
    struct cf_acme *a;
    char spec[64];
    int port = free_port();
    cf_err e;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = cf_acme_new(svc, &(struct cf_acme_opts){.http01_listen = bad[i]}, &e);
        assert_null(a);
        assert_int_equal(e, CF_EINVAL);
    }
    a = cf_acme_new(svc, &(struct cf_acme_opts){.http01_listen = ""}, &e);
    assert_non_null(a);
    assert_int_equal(cf_acme_http01_port(a), -1);
    cf_acme_free(a);
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
    a = cf_acme_new(svc, &(struct cf_acme_opts){.http01_listen = spec}, &e);
    assert_non_null(a);
    assert_int_equal(cf_acme_http01_port(a), port);
    cf_acme_free(a);
    snprintf(spec, sizeof(spec), "[::1]:%d", port);
    a = cf_acme_new(svc, &(struct cf_acme_opts){.http01_listen = spec}, &e);
    assert_non_null(a);
    cf_acme_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listen_spec),
        cmocka_unit_test_setup_teardown(http01_and_dns01, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

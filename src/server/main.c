/* main.c - cofferd: configuration, ordered start-up, serving, and teardown in reverse.
 *
 * Start-up order: config -> logging -> core dumps off -> data dir -> store -> custody (master
 * key, checked against the store's derivation root) -> TLS material -> derivation root (opened
 * with the master key; the audit, auth and backup keys come from it, so they survive a
 * master-key rotation) -> audit log -> auth
 * (signing key, tenant) -> vault service (registered with custody for rotations) -> dev
 * identities -> api (moves the audit outbox an earlier run left into the log) -> HTTP
 * listeners bound -> env file (ready) -> serve. Signals (SIGINT/SIGTERM) stop the HTTP loops;
 * everything is then released in reverse order (the audit log after the api and the store:
 * nothing appends any more) and the master key wiped. */
#include "base/cf.h"
#include "api/api.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/rbac.h"
#include "auth/throttle.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "server/acme.h"
#include "server/auditstream.h"
#include "server/authkeep.h"
#include "server/bootstrap.h"
#include "server/config.h"
#include "server/eventsup.h"
#include "server/metricsup.h"
#include "server/sealgate.h"
#include "store/store.h"
#include "vault/vault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/* The one global: the signal handler needs the server to stop. Set before signals are
 * installed, cleared before the server is freed. */
static struct cf_http_server *volatile g_srv;

static void on_signal(int sig)
{
    (void)sig;
    if (g_srv)
        cf_http_server_stop(g_srv);
}

static enum cf_log_level parse_level(const char *s)
{
    if (strcmp(s, "debug") == 0)
        return CF_LOG_DEBUG;
    if (strcmp(s, "warn") == 0)
        return CF_LOG_WARN;
    if (strcmp(s, "error") == 0)
        return CF_LOG_ERROR;
    return CF_LOG_INFO;
}

/* Secrets must never end up in a core file (DESIGN.md §4). */
static void no_core_dumps(void)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Every connection is a file descriptor: raise the soft open-file limit to the hard one and keep
 * max_connections under it (with room for the store, logs and listeners), so the server sheds
 * connections above its own cap instead of failing accept() with EMFILE at the usual 1024. */
#define FD_RESERVE 256

static void fit_open_files(struct cf_config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->max_connections + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        int fit = rl.rlim_cur > 2 * FD_RESERVE ? (int)(rl.rlim_cur - FD_RESERVE)
                                               : (int)(rl.rlim_cur / 2);
        cf_warn("open-file limit is %llu: serving at most %d connections (max_connections %d); "
                "raise the limit (ulimit -n / LimitNOFILE) for more",
                (unsigned long long)rl.rlim_cur, fit, cfg->max_connections);
        cfg->max_connections = fit;
    }
}

/* Background housekeeping: purge soft-deleted objects whose purge date has passed. */
struct janitor {
    struct cf_vault_svc *vault;
    int interval_s; /* between runs (config janitor_interval_s) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *janitor_main(void *arg)
{
    struct janitor *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += j->interval_s;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (j->stop)
            break;
        pthread_mutex_unlock(&j->mu);
        if (cf_vault_purge_expired(j->vault) != CF_OK)
            cf_warn("scheduled purge failed; will retry");
        /* keys: due rotations (rotation policies) and purges of soft-deleted keys */
        if (cf_vault_keys_rotate_due(j->vault) != CF_OK)
            cf_warn("scheduled key rotation or purge failed; will retry");
        {
            int renewed = 0; /* certificates: AutoRenew / EmailContacts lifetime actions */
            if (cf_vault_certs_renew_due(j->vault, &renewed) != CF_OK)
                cf_warn("scheduled certificate renewal failed; will retry");
            else if (renewed)
                cf_info("renewed %d certificate(s)", renewed);
        }
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static size_t split_addrs(char *list, const char **addrs, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ", ", &save); t && n < max; t = strtok_r(NULL, ", ", &save))
        addrs[n++] = t;
    return n;
}

int main(int argc, char **argv)
{
    struct cf_config cfg;
    struct cf_paths paths;
    struct cf_clock clock = cf_clock_system();
    unsigned char master[32], root[32];
    struct cf_store *store = NULL;
    struct cf_auth *auth = NULL;
    struct cf_vault_svc *vault = NULL;
    struct cf_http_server *srv = NULL;
    struct cf_rbac *rbac = NULL;
    struct cf_sealgate *gate = NULL; /* custody: provider, socket, seal */
    struct cf_authkeep *keep = NULL; /* signing key checks, trusted issuers' JWKS */
    struct cf_throttle *throttle = NULL;
    struct cf_api *api = NULL;
    struct cf_metricsup *mup = NULL; /* /metrics, /healthz, /readyz, alert rules */
    struct cf_boot_crl *dev_crl = NULL; /* the dev CA's CRL, served by metrics */
    struct cf_acme *acme = NULL;     /* the Acme certificate issuer's orders */
    struct cf_auditstream *astream = NULL; /* [stream.NAME] shippers, time rotation */
    struct cf_eventsup *evs = NULL;  /* Event Grid: subscriptions, webhook deliveries */
    struct cf_audit *audit[CF_BOOT_AUDIT_LANES_MAX] = {0};
    size_t audit_lanes = 0;
    struct cf_pkey *audit_key = NULL;
    struct janitor jan = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t jan_thread;
    bool jan_started = false;
    char sub[37], tenant[37] = "", client_id[64] = "", secret[128] = "", listen_buf[256];
    char issuer[256];
    const char *addrs[8];
    struct sigaction sa;
    int rc = 1;
    cf_err e;

    e = cf_config_load(&cfg, argc, argv);
    if (e == CF_ENOTFOUND)
        return 0;
    if (e)
        return 2;
    cf_log_setup(parse_level(cfg.log_level), 2);
    no_core_dumps();
    fit_open_files(&cfg);
    signal(SIGPIPE, SIG_IGN);

    if ((e = cf_boot_paths(&cfg, &paths)))
        goto out;
    /* the store before custody: custody checks its key against the store's derivation root
     * (and finishes a master-key rotation a crash interrupted) before anything uses it */
    store = cf_store_open_sqlite(&(struct cf_store_opts){.path = paths.db}, &e);
    if (!store)
        goto out;
    if ((e = cf_boot_custody(&cfg, &paths, store, &gate, master))) {
        rc = e == CF_ENOTFOUND ? 0 : 1; /* stopped while sealed */
        goto out;
    }
    if (cfg.dev && (e = cf_boot_dev_tls(&cfg, &paths)))
        goto out;
    if (cfg.dev && !cfg.tls_cert[0] &&
        (e = cf_boot_crl_new(&paths, (int64_t)time(NULL), &dev_crl)))
        goto out;
    if ((e = cf_vault_derive_root(store, master, cf_sealgate_rotatable(gate), root)))
        goto out;
    if (strcmp(cfg.audit, "on") == 0) {
        /* one chain per HTTP worker (as many as the server will start), up to the maximum */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        audit_lanes = cfg.threads > 0 ? (size_t)cfg.threads : (size_t)(ncpu > 0 ? ncpu : 1);
        if (audit_lanes > CF_BOOT_AUDIT_LANES_MAX)
            audit_lanes = CF_BOOT_AUDIT_LANES_MAX;
        if ((e = cf_boot_audit(&cfg, &paths, store, root, audit_lanes, audit, &audit_key))) {
            audit_lanes = 0;
            goto out;
        }
    } else {
        cf_warn("audit log off (audit = off): requests leave no audit record");
    }
    snprintf(issuer, sizeof(issuer), "https://%s%s%d", cfg.login_host, cfg.port == 443 ? "" : ":",
             cfg.port);
    if (cfg.port == 443)
        snprintf(issuer, sizeof(issuer), "https://%s", cfg.login_host);
    auth = cf_auth_new(store, &clock, root,
                       &(struct cf_auth_opts){.token_lifetime_s = cfg.token_lifetime_s,
                                              .issuer = issuer,
                                              .signing_key_rotate_days =
                                                  cfg.signing_key_rotate_days},
                       &e);
    if (!auth)
        goto out;
    if (cf_auth_default_tenant(auth) && cf_auth_default_tenant(auth)[0]) {
        snprintf(tenant, sizeof(tenant), "%s", cf_auth_default_tenant(auth));
    } else {
        if ((e = cf_uuid4(tenant)) || (e = cf_auth_set_default_tenant(auth, tenant)))
            goto out;
    }
    if ((e = cf_boot_meta_uuid(store, "server.subscription", sub)))
        goto out;
    vault = cf_vault_svc_new_rooted(store, &clock, master, root, &e);
    if (!vault)
        goto out;
    cf_sealgate_set_vault(gate, vault);
    cf_vault_keys_set_notify_lead(vault, cfg.events_near_expiry_days);
    if (cfg.dev_month_seconds) { /* test only: config.c allows it with --dev alone */
        cf_vault_certs_set_month(vault, cfg.dev_month_seconds);
        cf_warn("cofferd: TEST ONLY: a certificate policy month lasts %d s (dev_month_seconds)",
                cfg.dev_month_seconds);
    }
    if (cfg.dev && ((e = cf_boot_dev_admin(auth, &paths, tenant, client_id, secret)) ||
                    (e = cf_boot_dev_vault(vault, sub, tenant))))
        goto out;
    if (!cfg.dev && (e = cf_boot_prod_admin(store, auth, tenant)))
        goto out;
    if (!(keep = cf_authkeep_start(&cfg, auth, &e)))
        goto out;
    rbac = cf_rbac_new(store, &clock, &e);
    if (!rbac)
        goto out;
    if (strcmp(cfg.throttle, "on") == 0) {
        struct cf_throttle_limits lim = {
            .per_10s = {[CF_THROTTLE_SECRET_CREATE] = cfg.throttle_secret_create,
                        [CF_THROTTLE_KEY_CREATE] = cfg.throttle_key_create,
                        [CF_THROTTLE_KEY_OTHER] = cfg.throttle_key_other,
                        [CF_THROTTLE_OTHER] = cfg.throttle_other},
            .principal_factor = cfg.throttle_principal_factor};
        throttle = cf_throttle_new(&lim, &clock, &e);
        if (!throttle)
            goto out;
    }
    if ((e = cf_boot_admin_roles(store, rbac, tenant, cfg.dev ? client_id : NULL)))
        goto out;

    mup = cf_metricsup_start(&cfg,
                             &(struct cf_metricsup_deps){.store = store,
                                                         .audit = audit,
                                                         .audit_lanes = audit_lanes,
                                                         .audit_dir = paths.audit_dir,
                                                         .cert_file = paths.cert,
                                                         .key_file = paths.key,
                                                         .crl = dev_crl},
                             &e);
    if (!mup)
        goto out;
    /* events before the api (its subscription routes) and after metrics (alert events) */
    if (!(evs = cf_eventsup_start(&cfg, store, vault, cf_metricsup_metrics(mup), root, &e)))
        goto out;

    api = cf_api_new(&(struct cf_api_config){.vault = vault,
                                             .auth = auth,
                                             .rbac = rbac,
                                             .throttle = throttle,
                                             .metrics = cf_metricsup_metrics(mup),
                                             .clock = &clock,
                                             .dns_suffix = cfg.dns_suffix,
                                             .login_host = cfg.login_host,
                                             .management_host = cfg.management_host,
                                             .subscription_id = sub,
                                             .tenant_id = tenant,
                                             .region = "local",
                                             .pool_threads = cfg.pool_threads,
                                             .audit = audit,
                                             .audit_lanes = audit_lanes,
                                             .store = store,
                                             .events = cf_eventsup_events(evs)},
                     &e);
    if (!api)
        goto out;
    astream = cf_auditstream_start(
        &(struct cf_auditstream_deps){
            .config_file = cfg.config_file,
            .audit_dir = paths.audit_dir,
            .audit = audit,
            .audit_lanes = audit_lanes,
            .store = store,
            .metrics = cf_metricsup_metrics(mup),
            .rotate_s = cfg.audit_rotate_seconds > 0 ? (unsigned)cfg.audit_rotate_seconds
                                                     : (unsigned)cfg.audit_rotate_hours * 3600u},
        &e);
    if (!astream)
        goto out;
    snprintf(listen_buf, sizeof(listen_buf), "%s", cfg.listen);
    srv = cf_http_server_new(
        &(struct cf_http_opts){.addrs = addrs,
                               .naddrs = split_addrs(listen_buf, addrs, CF_ARRAY_LEN(addrs)),
                               .port = cfg.port,
                               .cert_file = paths.cert,
                               .key_file = paths.key,
                               .threads = cfg.threads,
                               .max_header_bytes = (size_t)cfg.max_header_bytes,
                               .max_body_bytes = (size_t)cfg.max_body_bytes,
                               .max_connections = cfg.max_connections,
                               .header_timeout_s = cfg.header_timeout_s,
                               .idle_timeout_s = cfg.idle_timeout_s},
        cf_api_handle, api, &e);
    if (!srv)
        goto out;
    cf_sealgate_serving(gate, srv);

    jan.vault = vault;
    jan.interval_s = cfg.janitor_interval_s;
    jan_started = pthread_create(&jan_thread, NULL, janitor_main, &jan) == 0;
    acme = cf_acme_new(vault, &(struct cf_acme_opts){.http01_listen = cfg.acme_http01_listen}, &e);
    if (!acme || (e = cf_acme_start(acme)) != CF_OK)
        goto out;
    g_srv = srv;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (cfg.dev && (e = cf_boot_write_env(&cfg, &paths, sub, tenant, client_id, secret)))
        goto out;
    cf_wipe(secret, sizeof(secret));
    cf_info("cofferd serving on port %d (%s), tenant %s, subscription %s", cfg.port, cfg.listen,
            tenant, sub);
    e = cf_http_server_run(srv);
    cf_info("cofferd stopping");
    rc = e ? 1 : 0;
out:
    if (e && rc)
        cf_error("cofferd: start-up failed: %s (%s)", cf_err_msg(e), cf_err_name(e));
    if (jan_started) {
        pthread_mutex_lock(&jan.mu);
        jan.stop = true;
        pthread_cond_signal(&jan.cv);
        pthread_mutex_unlock(&jan.mu);
        pthread_join(jan_thread, NULL);
    }
    g_srv = NULL;
    cf_acme_free(acme); /* before the vault service it drives */
    cf_http_server_free(srv);
    cf_api_free(api);
    cf_eventsup_stop(evs); /* unhooks the vault and alert sinks: before metrics and the vault */
    cf_metricsup_stop(mup); /* after the api (nothing records), before the store and audit */
    cf_boot_crl_free(dev_crl); /* after metrics, which serves it */
    cf_auditstream_stop(astream); /* after metrics (its counters), before the store and audit */
    cf_rbac_free(rbac);
    cf_throttle_free(throttle);
    cf_sealgate_set_vault(gate, NULL); /* waits for a rotation in progress */
    cf_vault_svc_free(vault);
    cf_authkeep_stop(keep); /* before auth: it holds auth's issuer hook */
    cf_auth_free(auth);
    cf_store_close(store);
    for (size_t i = 0; i < audit_lanes; i++)
        cf_audit_close(audit[i]); /* after the HTTP server and the api: nothing appends now */
    cf_pkey_free(audit_key);
    cf_wipe(master, sizeof(master));
    cf_wipe(root, sizeof(root));
    cf_wipe(secret, sizeof(secret));
    if (cf_sealgate_resealed(gate)) { /* sealed by an operator: start again, sealed */
        cf_sealgate_free(gate);
        fflush(NULL);
        execv("/proc/self/exe", argv);
        cf_error("cofferd: cannot restart sealed: %s", strerror(errno));
        return 1;
    }
    cf_sealgate_free(gate);
    return rc;
}

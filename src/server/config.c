/* config.c - defaults, INI file and flags, driven by one table of keys. */
#include "base/cf.h"
#include "server/config.h"

#include <ctype.h>
#include <ini.h>

enum kind { K_STR, K_INT, K_BOOL };

struct key {
    const char *name;
    enum kind kind;
    size_t off;
    size_t size;
    const char *help;
};

#define S(f, h) {#f, K_STR, offsetof(struct cf_config, f), sizeof(((struct cf_config *)0)->f), h}
#define I(f, h) {#f, K_INT, offsetof(struct cf_config, f), sizeof(int), h}

static const struct key keys[] = {
    {"dev", K_BOOL, offsetof(struct cf_config, dev), sizeof(bool),
     "development mode: generated CA and certificate, dev tenant, admin and vault"},
    S(config_file, "INI file to read ([server] section)"),
    S(data_dir, "data directory (database, keys, certificates)"),
    S(listen, "comma-separated listen addresses"),
    I(port, "HTTPS port"),
    S(tls_cert, "PEM certificate chain (production)"),
    S(tls_key, "PEM private key (production)"),
    S(dns_suffix, "vault DNS suffix: vaults are {name}.{suffix}"),
    S(login_host, "token authority host name"),
    S(management_host, "management (ARM) host name"),
    I(threads, "event-loop threads (0: one per core)"),
    S(log_level, "debug, info, warn or error"),
    I(max_body_bytes, "largest request body"),
    I(max_header_bytes, "largest request head"),
    I(max_connections, "most open connections"),
    I(header_timeout_s, "seconds allowed to send the request head"),
    I(idle_timeout_s, "keep-alive idle timeout in seconds"),
    I(token_lifetime_s, "access token lifetime in seconds"),
    I(pool_threads, "threads that wait for durable writes"),
    I(janitor_interval_s, "seconds between runs of purges, key rotations and certificate renewals"),
    I(dev_month_seconds, "TEST ONLY, needs --dev: a certificate policy month lasts this many seconds"),
    I(signing_key_rotate_days, "rotate the token signing key after this many days (0: never)"),
    S(trusted_issuer, "trust tokens of this external OIDC issuer (exact iss)"),
    S(trusted_issuer_jwks, "the trusted issuer's JWKS: a file path or an https URL"),
    S(trusted_issuer_audience, "audience the trusted issuer's tokens must carry"),
    S(trusted_issuer_tenant, "tenant the trusted issuer's principals belong to (default: the server's)"),
    S(trusted_issuer_ca_file, "CA bundle for an https JWKS URL (default: the system's)"),
    S(throttle, "service limits: on, off (default: on, off with --dev)"),
    I(throttle_secret_create, "secret sets + key/certificate imports per vault per 10 s"),
    I(throttle_key_create, "key creations per vault per 10 s"),
    I(throttle_key_other, "other key operations per vault per 10 s"),
    I(throttle_other, "other operations per vault per 10 s"),
    I(throttle_principal_factor, "a principal's budget as a multiple of a vault's"),
    S(audit, "audit log: on (default) or off"),
    S(audit_dir, "audit log directory (default <data_dir>/audit)"),
    S(node_id, "this node's name in the audit log (letters, digits, '.', '_')"),
    I(audit_rotate_mb, "start a new audit file past this many MiB"),
    I(audit_keep_files, "audit files kept (the newest; 0: all)"),
    I(audit_rotate_hours, "also rotate audit files this many hours old (0: by size only)"),
    I(audit_rotate_seconds, "rotate audit files this many seconds old (overrides the hours)"),
    S(metrics_listen, "ADDRESS:PORT of /metrics, /healthz, /readyz (\"\" = off)"),
    S(metrics_tls, "serve metrics over TLS with the server's certificate: on or off"),
    I(alert_interval_s, "seconds between checks of the [alert.NAME] rules"),
    S(acme_http01_listen, "ADDRESS:PORT answering ACME http-01 challenges (\"\" = off)"),
    I(events_near_expiry_days, "days before exp that NearExpiry events fire"),
    I(events_retry_base_ms, "first webhook retry wait in ms (Event Grid's schedule scales)"),
    I(events_scan_interval_s, "seconds between NearExpiry/Expired scans"),
    I(events_timeout_s, "seconds a webhook has to answer"),
    S(events_ca_file, "CA bundle for https webhooks (default: the system's)"),
};

static const struct key *find_key(const char *name)
{
    char norm[64];
    size_t i;
    for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    norm[i] = '\0';
    if (strcmp(norm, "config") == 0)
        return &keys[1];
    for (i = 0; i < CF_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].name, norm) == 0)
            return &keys[i];
    return NULL;
}

static cf_err set_value(struct cf_config *c, const struct key *k, const char *v)
{
    char *base = (char *)c;
    if (k->kind == K_STR) {
        if (strlen(v) >= k->size)
            return CF_ETOOBIG;
        snprintf(base + k->off, k->size, "%s", v);
    } else if (k->kind == K_INT) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n < 0 || n > INT32_MAX)
            return CF_EINVAL;
        *(int *)(void *)(base + k->off) = (int)n;
    } else {
        bool b = strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0;
        if (!b && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0)
            return CF_EINVAL;
        *(bool *)(void *)(base + k->off) = b;
    }
    return CF_OK;
}

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    const struct key *k;
    if (strcmp(section, "server") != 0 && section[0] != '\0')
        return 1;
    k = find_key(name);
    if (!k || set_value(user, k, value) != CF_OK) {
        fprintf(stderr, "cofferd: config: bad key or value: %s\n", name);
        return 0;
    }
    return 1;
}

static void usage(void)
{
    printf("usage: cofferd --dev [--data-dir DIR] [--port N] [--flag value ...]\n"
           "       cofferd --config FILE [--flag value ...]\n\nflags (also INI keys in [server]):\n");
    for (size_t i = 0; i < CF_ARRAY_LEN(keys); i++)
        printf("  --%-18s %s\n", keys[i].name, keys[i].help);
}

static bool node_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 60) /* room for the worker lanes' ".w<k>" */
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_')
            return false;
    return true;
}

/* Host names under the suffix's parent: "vault.localhost" -> "login.localhost". */
static void derive_host(char *out, size_t n, const char *label, const char *suffix)
{
    const char *dot = strchr(suffix, '.');
    snprintf(out, n, "%s.%s", label, dot ? dot + 1 : suffix);
}

cf_err cf_config_load(struct cf_config *c, int argc, char **argv)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->data_dir, sizeof(c->data_dir), "coffer-data");
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1,::1");
    c->port = 8443;
    snprintf(c->dns_suffix, sizeof(c->dns_suffix), "vault.localhost");
    snprintf(c->log_level, sizeof(c->log_level), "info");
    c->max_body_bytes = CF_MAX_BODY_BYTES;
    c->max_header_bytes = CF_MAX_HEADER_BYTES;
    c->max_connections = 10000;
    c->header_timeout_s = 10;
    c->idle_timeout_s = 120;
    c->token_lifetime_s = 3600;
    c->pool_threads = 64;
    c->janitor_interval_s = 60;
    c->signing_key_rotate_days = 30;
    c->throttle_secret_create = 300;
    c->throttle_key_create = 20;
    c->throttle_key_other = 4000;
    c->throttle_other = 4000;
    c->throttle_principal_factor = 5;
    snprintf(c->audit, sizeof(c->audit), "on");
    /* "node-1" would be the obvious name, but the audit log's file names use '-' as their
     * separator, so node ids are [A-Za-z0-9._] */
    snprintf(c->node_id, sizeof(c->node_id), "node_1");
    c->audit_rotate_mb = 64;
    c->audit_keep_files = 30;
    c->audit_rotate_hours = 24;
    snprintf(c->metrics_listen, sizeof(c->metrics_listen), "127.0.0.1:9464");
    snprintf(c->metrics_tls, sizeof(c->metrics_tls), "off");
    c->alert_interval_s = 15;
    c->events_near_expiry_days = 30;
    c->events_retry_base_ms = 10000;
    c->events_scan_interval_s = 60;
    c->events_timeout_s = 30;

    /* First pass finds --config so that flags override the file. */
    for (int i = 1; i < argc - 1; i++)
        if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--config-file") == 0)
            snprintf(c->config_file, sizeof(c->config_file), "%s", argv[i + 1]);
    if (c->config_file[0]) {
        int rc = ini_parse(c->config_file, ini_cb, c);
        if (rc != 0) {
            fprintf(stderr, "cofferd: cannot read config file %s (line %d)\n", c->config_file,
                    rc);
            return CF_EINVAL;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[64];
        const struct key *k;
        const char *eq;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return CF_ENOTFOUND;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "cofferd: unexpected argument: %s (try --help)\n", a);
            return CF_EINVAL;
        }
        eq = strchr(a, '=');
        snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)),
                 a + 2);
        k = find_key(name);
        if (!k) {
            fprintf(stderr, "cofferd: unknown flag: --%s (try --help)\n", name);
            return CF_EINVAL;
        }
        if (eq)
            val = eq + 1;
        else if (k->kind == K_BOOL)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "cofferd: --%s needs a value\n", name);
            return CF_EINVAL;
        }
        if (set_value(c, k, val) != CF_OK) {
            fprintf(stderr, "cofferd: bad value for --%s\n", name);
            return CF_EINVAL;
        }
    }
    if (c->port <= 0 || c->port > 65535) {
        fprintf(stderr, "cofferd: port out of range\n");
        return CF_EINVAL;
    }
    if (c->throttle[0] && strcmp(c->throttle, "on") != 0 && strcmp(c->throttle, "off") != 0) {
        fprintf(stderr, "cofferd: throttle must be on or off\n");
        return CF_EINVAL;
    }
    if (!c->throttle[0])
        snprintf(c->throttle, sizeof(c->throttle), "%s", c->dev ? "off" : "on");
    if (c->janitor_interval_s < 1) {
        fprintf(stderr, "cofferd: janitor_interval_s must be at least 1\n");
        return CF_EINVAL;
    }
    /* a test knob that shortens every certificate: refused where real certificates live */
    if (c->dev_month_seconds && !c->dev) {
        fprintf(stderr, "cofferd: dev_month_seconds is a test-only setting and needs --dev\n");
        return CF_EINVAL;
    }
    if (c->dev_month_seconds && (c->dev_month_seconds < 10 || c->dev_month_seconds > 2628000)) {
        fprintf(stderr, "cofferd: dev_month_seconds must be 10 to 2628000 (0: off)\n");
        return CF_EINVAL;
    }
    if (c->throttle_principal_factor < 1) {
        fprintf(stderr, "cofferd: throttle_principal_factor must be at least 1\n");
        return CF_EINVAL;
    }
    if (strcmp(c->audit, "on") != 0 && strcmp(c->audit, "off") != 0) {
        fprintf(stderr, "cofferd: audit must be on or off\n");
        return CF_EINVAL;
    }
    if (!node_id_ok(c->node_id)) {
        fprintf(stderr, "cofferd: node_id must be 1-60 letters, digits, '.' or '_'\n");
        return CF_EINVAL;
    }
    if (c->audit_rotate_mb < 1 || c->audit_rotate_mb > 1024 * 1024) {
        fprintf(stderr, "cofferd: audit_rotate_mb must be 1 to 1048576\n");
        return CF_EINVAL;
    }
    if (c->audit_rotate_hours > 87600 || c->audit_rotate_seconds > 315360000) {
        fprintf(stderr, "cofferd: audit_rotate_hours must be 0 to 87600 (seconds: 315360000)\n");
        return CF_EINVAL;
    }
    if (strcmp(c->metrics_tls, "on") != 0 && strcmp(c->metrics_tls, "off") != 0) {
        fprintf(stderr, "cofferd: metrics_tls must be on or off\n");
        return CF_EINVAL;
    }
    if (c->alert_interval_s < 1 || c->alert_interval_s > 3600) {
        fprintf(stderr, "cofferd: alert_interval_s must be 1 to 3600\n");
        return CF_EINVAL;
    }
    if (c->events_near_expiry_days < 0 || c->events_near_expiry_days > 3650 ||
        c->events_retry_base_ms < 1 || c->events_retry_base_ms > 3600000 ||
        c->events_scan_interval_s < 1 || c->events_scan_interval_s > 86400 ||
        c->events_timeout_s < 1 || c->events_timeout_s > 300) {
        fprintf(stderr, "cofferd: events_near_expiry_days 0-3650, events_retry_base_ms "
                        "1-3600000, events_scan_interval_s 1-86400, events_timeout_s 1-300\n");
        return CF_EINVAL;
    }
    if (!c->login_host[0])
        derive_host(c->login_host, sizeof(c->login_host), "login", c->dns_suffix);
    if (!c->management_host[0])
        derive_host(c->management_host, sizeof(c->management_host), "management", c->dns_suffix);
    if (!c->dev && (!c->tls_cert[0] || !c->tls_key[0])) {
        fprintf(stderr, "cofferd: production mode needs tls_cert and tls_key (or use --dev)\n");
        return CF_EINVAL;
    }
    return CF_OK;
}

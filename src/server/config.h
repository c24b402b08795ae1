/* config.h - cofferd's configuration: one immutable snapshot built at start-up from defaults,
 * then the INI file (--config FILE, section [server]), then command-line flags (every INI key is
 * also a --flag, with '_' or '-'). */
#ifndef CF_SERVER_CONFIG_H
#define CF_SERVER_CONFIG_H

#include "base/cf.h"

#include <limits.h>

struct cf_config {
    bool dev;
    char config_file[PATH_MAX];
    char data_dir[PATH_MAX];
    char listen[256];          /* comma-separated addresses */
    int port;
    char tls_cert[PATH_MAX];   /* empty in dev mode: generated under data_dir/tls */
    char tls_key[PATH_MAX];
    char dns_suffix[128];
    char login_host[160];      /* default "login." + suffix minus its first label */
    char management_host[160]; /* default "management." + the same */
    int threads;
    char log_level[16];
    int max_body_bytes;
    int max_header_bytes;
    int max_connections;
    int header_timeout_s;
    int idle_timeout_s;
    int token_lifetime_s;
    int pool_threads;
    int janitor_interval_s; /* purges, key rotations, certificate renewals (default 60) */
    int dev_month_seconds;  /* TEST ONLY, --dev only: a certificate policy month in seconds
                               (cf_vault_certs_set_month); 0 (default): 365/12 days */
    /* Token signing key rotation (auth.h) and trusted external OIDC issuers; more issuers as
     * [issuer.NAME] sections of the config file (server/authkeep.h). */
    int signing_key_rotate_days; /* default 30; 0: never */
    char trusted_issuer[256];    /* exact "iss" of the issuer's tokens */
    char trusted_issuer_jwks[PATH_MAX]; /* JWKS file path or https URL */
    char trusted_issuer_audience[256];
    char trusted_issuer_tenant[64];     /* served tenant it maps to; "" = the default */
    char trusted_issuer_ca_file[PATH_MAX]; /* CA bundle for an https JWKS ("" = system) */
    /* Service limits (azure-kv-common.md §11): "on", "off", or "" = on except in dev mode. */
    char throttle[8];
    int throttle_secret_create; /* per vault per 10 s: secret set + key/cert import */
    int throttle_key_create;
    int throttle_key_other;
    int throttle_other;
    int throttle_principal_factor; /* a principal's budget = factor x a vault's */
    /* The audit log (DESIGN.md §6): one record per request, fail closed. */
    char audit[8];             /* "on" (default) or "off" */
    char audit_dir[PATH_MAX];  /* default <data_dir>/audit */
    char node_id[65];          /* this node's name in the log: 1-60 of [A-Za-z0-9._] */
    int audit_rotate_mb;       /* start a new file past this size (default 64) */
    int audit_keep_files;      /* newest files kept (default 30; 0: all) */
    int audit_rotate_hours;    /* also start a new file when the active one is this old
                                  (default 24; 0: size only) */
    int audit_rotate_seconds;  /* the same in seconds, overriding the hours when > 0 */
    /* Metrics and health (server/metricsup.h): /metrics, /healthz, /readyz on their own
     * listener; alert rules in [alert.NAME] sections of the config file. */
    char metrics_listen[128];  /* ADDRESS:PORT, default "127.0.0.1:9464"; "" = off */
    char metrics_tls[8];       /* "off" (default: plain HTTP) or "on" (the server's cert) */
    int alert_interval_s;      /* alert rules are checked this often (default 15) */
    /* The Acme certificate issuer (server/acme.h): where its http-01 challenges are answered. */
    char acme_http01_listen[128]; /* ADDRESS:PORT, default "" = no http-01 listener */
    /* Event Grid for vaults (server/eventsup.h, events/events.h). */
    int events_near_expiry_days; /* NearExpiry this long before exp (default 30) */
    int events_retry_base_ms;    /* first retry step; the schedule scales (default 10000) */
    int events_scan_interval_s;  /* NearExpiry/Expired scan period (default 60) */
    int events_timeout_s;        /* per webhook request (default 30) */
    char events_ca_file[PATH_MAX]; /* CA bundle for https webhooks ("" = the system's) */
};

/* Fills *c from defaults, the config file and argv. On a usage error prints one line to stderr
 * and returns CF_EINVAL; for --help prints usage and returns CF_ENOTFOUND (exit 0). */
cf_err cf_config_load(struct cf_config *c, int argc, char **argv);

#endif

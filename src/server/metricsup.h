/* metricsup.h - cofferd's metrics wiring: the metrics object (metrics/metrics.h) with the
 * server's gauges (store queue, audit queue and errors), the store's commit hook, the alert
 * rules of the config file's [alert.NAME] sections, the tick thread, and the admin listener
 * (http/ cf_http_admin_*) serving /metrics, /healthz and /readyz on metrics_listen, and in dev
 * mode the dev CA's CRL at /crl/dev-ca.crl (server/bootstrap.h: application/pkix-crl, DER).
 *
 * [alert.NAME] keys: expr (metrics.h's language), for (a duration: 90s, 1m; default 0). A bad
 * rule stops start-up with one line on stderr naming the section and the position.
 * /readyz: 200 {"ready":true,...} when the store answers a trivial read, the server is
 * unsealed, and (audit on) every audit lane's active file exists in a writable directory and
 * is writable; else 503 {"ready":false,"reason":"..."}.
 * metrics_listen "" turns the listener off (the metrics object still exists). When the default
 * address's port is taken (another cofferd on this machine) start-up goes on with a warning
 * and no listener; any other address that cannot be bound stops start-up. */
#ifndef CF_SERVER_METRICSUP_H
#define CF_SERVER_METRICSUP_H

#include "base/cf.h"
#include "audit/audit.h"
#include "metrics/metrics.h"
#include "server/config.h"
#include "store/store.h"

struct cf_metricsup;
struct cf_boot_crl;

struct cf_metricsup_deps {
    struct cf_store *store;
    struct cf_audit *const *audit; /* lanes; NULL/0 when audit is off */
    size_t audit_lanes;
    const char *audit_dir;
    const char *cert_file, *key_file; /* for metrics_tls = on */
    struct cf_boot_crl *crl; /* dev CA's CRL to serve at CF_BOOT_CRL_PATH; NULL: none */
};

struct cf_metricsup *cf_metricsup_start(const struct cf_config *cfg,
                                        const struct cf_metricsup_deps *deps, cf_err *err);
/* The metrics object: for the api (request recording) and the audit path (first reads). */
struct cf_metrics *cf_metricsup_metrics(struct cf_metricsup *mu);
/* Stops the listener and the tick thread and frees; before the store and audit are closed.
 * Accepts NULL. */
void cf_metricsup_stop(struct cf_metricsup *mu);

#endif

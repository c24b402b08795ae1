/* acme.h - the ACME (RFC 8555) protocol driver of the Acme certificate issuer (acme.c).
 *
 * The vault keeps the orders (vault.h "the ACME issuer"): a create or AutoRenew with an Acme
 * issuer leaves the certificate's operation inProgress with its key and CSR. This driver walks
 * those orders, talks to the issuer's ACME directory over HTTPS (http/fetch.h), proves control
 * of each domain by http-01 - answered by its own plain-HTTP listener (the admin listener of
 * http.h, GET /.well-known/acme-challenge/<token>) - or by dns-01 through the issuer's hook
 * command, finalizes with the operation's CSR, downloads the chain and hands it to the vault,
 * which issues the version and completes the operation (the SDK pollers finish). An ACME
 * problem (4xx with a problem document) fails the operation with its detail; a transport
 * failure leaves the order for the next pass.
 *
 * Thread rules: cf_acme_start runs the passes on the driver's own thread every interval;
 * cf_acme_run_once runs one pass on the caller's thread (tests, tools) and must not be used
 * while the thread runs. Key material never reaches a log line. */
#ifndef CF_SERVER_ACME_H
#define CF_SERVER_ACME_H

#include "base/cf.h"
#include "vault/vault.h"

struct cf_acme_opts {
    /* The http-01 listener as the config gives it: "ADDRESS:PORT" ("[::1]:5002"), "" for none;
     * NULL: http01_addr and http01_port below. */
    const char *http01_listen;
    const char *http01_addr; /* numeric address of the http-01 listener; NULL: "127.0.0.1" */
    int http01_port;         /* 0: the kernel picks (cf_acme_http01_port); -1: no listener */
    int interval_ms;         /* between passes on the driver thread; 0: 2000 */
    int timeout_s;           /* per HTTP request; 0: 30 */
};
struct cf_acme;

/* Binds the http-01 listener (not serving yet). NULL and *err on failure (CF_EINVAL: a
 * malformed http01_listen). */
struct cf_acme *cf_acme_new(struct cf_vault_svc *svc, const struct cf_acme_opts *opts, cf_err *err);
/* The http-01 listener's port (-1 when none). */
int cf_acme_http01_port(const struct cf_acme *a);
/* Starts the listener's thread and the driver's. */
cf_err cf_acme_start(struct cf_acme *a);
/* One pass over every inProgress order; *completed (may be NULL) counts the certificates
 * issued. The listener must be serving (cf_acme_serve) for http-01. */
cf_err cf_acme_run_once(struct cf_acme *a, int *completed);
/* Starts only the http-01 listener's thread (for cf_acme_run_once). */
cf_err cf_acme_serve(struct cf_acme *a);
/* Stops the threads and frees everything. Accepts NULL. */
void cf_acme_free(struct cf_acme *a);

#endif

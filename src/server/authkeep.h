/* authkeep.h - the token authority's housekeeping thread (cofferd): the periodic signing key
 * check (cf_auth_rotate_due, every minute) and the JWKS of trusted external OIDC issuers
 * (read or fetched at start, refreshed periodically and when a token names an unknown kid).
 *
 * Issuers come from the [server] keys trusted_issuer, trusted_issuer_jwks,
 * trusted_issuer_audience, trusted_issuer_tenant, trusted_issuer_ca_file, and from sections
 * [issuer.NAME] of the config file with the keys issuer, jwks, audience, tenant, ca_file (8
 * issuers at most). jwks is a file path (re-read every 5 minutes) or an https:// URL (fetched
 * with the curl program - TLS verification on, ca_file as the only trust anchor when set -
 * every hour, and at most once a minute when a token names a kid the JWKS lacks). A file that
 * cannot be read or a JWKS without a usable key stops start-up; a URL that cannot be fetched
 * at start is retried every minute (its tokens are refused until then). */
#ifndef CF_SERVER_AUTHKEEP_H
#define CF_SERVER_AUTHKEEP_H

#include "base/cf.h"
#include "auth/auth.h"
#include "server/config.h"

struct cf_authkeep;

/* Reads the issuer configuration, loads every issuer's JWKS into auth and starts the thread.
 * Prints one line to stderr and returns NULL (CF_EINVAL...) on a configuration error. */
struct cf_authkeep *cf_authkeep_start(const struct cf_config *cfg, struct cf_auth *auth,
                                      cf_err *err);
/* Stops the thread and frees; NULL is fine. */
void cf_authkeep_stop(struct cf_authkeep *k);

#endif

/* sealgate.h - custody in cofferd: open the provider, serve the custody socket, stay sealed
 * (503 on every HTTPS request) until unsealed, and restart sealed when an operator seals. */
#ifndef CF_SERVER_SEALGATE_H
#define CF_SERVER_SEALGATE_H

#include "base/cf.h"
#include "server/bootstrap.h"
#include "server/config.h"

struct cf_sealgate;
struct cf_http_server;

/* Replaces cf_boot_master_key: returns the master key once custody is unsealed (blocking while
 * sealed, serving 503 on the HTTPS port) and settled against store (custody.h
 * cf_custody_settle: a rotation a crash interrupted is finished or forgotten; CF_ECORRUPT when
 * custody's key opens nothing). CF_ENOTFOUND when SIGINT/SIGTERM came while sealed (exit
 * quietly). *out lives until cf_sealgate_free (after the HTTP server is freed); store must
 * stay open until cf_sealgate_set_vault(g, NULL). */
struct cf_store;
cf_err cf_boot_custody(const struct cf_config *c, struct cf_paths *p, struct cf_store *store,
                       struct cf_sealgate **out, unsigned char master[32]);
/* The full server, so an operator's seal can stop it. */
void cf_sealgate_serving(struct cf_sealgate *g, struct cf_http_server *srv);
/* The vault service that re-wraps the data keys at a master-key rotation (without it the
 * rotation is refused with CF_ESEALED); NULL before freeing it (waits for a rotation running;
 * also lets go of the store, which may then close). */
struct cf_vault_svc;
void cf_sealgate_set_vault(struct cf_sealgate *g, struct cf_vault_svc *v);
/* Whether the master key can be rotated here (shamir, pkcs11; not dev, which has no custody
 * socket): a new store then gets a random derivation root (cf_vault_derive_root). */
bool cf_sealgate_rotatable(const struct cf_sealgate *g);
/* True when the server stopped because it was sealed: main re-executes itself after teardown. */
bool cf_sealgate_resealed(struct cf_sealgate *g);
void cf_sealgate_free(struct cf_sealgate *g);

#endif

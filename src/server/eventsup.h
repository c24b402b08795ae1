/* eventsup.h - cofferd's wiring of Event Grid for vaults (events/events.h): the events object
 * with its seal key (HKDF of the derivation root, "coffer events v1": signing secrets survive
 * a master-key rotation), the webhook transport (http/fetch.h, CA from events_ca_file), the
 * vault layer's event sink, the metrics' alert sink (alerts naming "vault=V" in their detail go
 * to V's subscriptions), and the worker thread. */
#ifndef CF_SERVER_EVENTSUP_H
#define CF_SERVER_EVENTSUP_H

#include "base/cf.h"
#include "events/events.h"
#include "metrics/metrics.h"
#include "server/config.h"
#include "store/store.h"
#include "vault/vault.h"

struct cf_eventsup;

struct cf_eventsup *cf_eventsup_start(const struct cf_config *cfg, struct cf_store *store,
                                      struct cf_vault_svc *vault, struct cf_metrics *metrics,
                                      const unsigned char root[32], cf_err *err);
struct cf_events *cf_eventsup_events(struct cf_eventsup *es);
/* Unhooks the sinks, stops the worker, frees. After the api and the HTTP server (nothing
 * writes), before the vault service and the store. Accepts NULL. */
void cf_eventsup_stop(struct cf_eventsup *es);

#endif

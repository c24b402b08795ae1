/* events.c - the vault side of change events (vault.h "change events"): the sink's setter and
 * cf_vault_emit, which the writes that create versions or change access policies call inside
 * their store write fn. The vault knows nothing of subscriptions or delivery (events/). */
#include "base/cf.h"

#include "vault/vault_int.h"

void cf_vault_set_event_sink(struct cf_vault_svc *svc, cf_vault_event_fn fn, void *ctx)
{
    if (!svc)
        return;
    svc->event_fn = fn;
    svc->event_ctx = ctx;
}

cf_err cf_vault_emit(struct cf_vault_svc *svc, struct cf_store_txn *t, const char *type,
                     int64_t vault_id, const char *vault_name, const char *object_type,
                     const char *object_name, const char *version, int64_t nbf, int64_t exp)
{
    struct cf_vault_event ev = {type,        vault_id, vault_name, object_type,
                                object_name, version,  nbf,        exp};

    if (!svc || !svc->event_fn)
        return CF_OK;
    return svc->event_fn(svc->event_ctx, t, &ev);
}

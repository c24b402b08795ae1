/* store_diag.h - the store's part of diagnostic settings (Microsoft.Insights/
 * diagnosticSettings on a vault or the subscription; azure-kv-security-ops.md §5.1, issue 11).
 * Called from src/api/h_diag.c (management requests) and src/server/auditstream.c (the
 * shippers read them), always inside cf_store_read/cf_store_write (writes need a txn of
 * cf_store_write: CF_EINVAL otherwise). Table `diag_settings` (migration "diagnostic
 * settings" in sqlite.c).
 *
 * A setting is keyed by (scope, name_lc): scope is the normalised resource id it sits on, lower
 * case, no trailing slash ("/subscriptions/{s}" or ".../providers/microsoft.keyvault/vaults/
 * {v}"); the caller builds it. stream is the Coffer stream it feeds ([stream.NAME]); cats the
 * enabled log categories as bits (auditstream.h CF_AS_CAT_*, decided by the API from
 * properties.logs); props_json the normalised properties object returned by GET.
 *
 * Records: props_json is malloc'd and owned by the record (cf_rec_diag_release accepts a
 * zeroed record). A record handed to a list callback is valid only during the callback. */
#ifndef CF_STORE_DIAG_H
#define CF_STORE_DIAG_H

#include "base/cf.h"
#include "store/store.h"

#define CF_STORE_DIAG_SCOPE_MAX 224
#define CF_STORE_DIAG_NAME_MAX 260
#define CF_STORE_DIAG_STREAM_MAX 64

struct cf_rec_diag {
    char scope[CF_STORE_DIAG_SCOPE_MAX];
    char name[CF_STORE_DIAG_NAME_MAX + 1]; /* as first created */
    char stream[CF_STORE_DIAG_STREAM_MAX + 1];
    unsigned cats;
    char *props_json; /* owned; NULL is stored as "{}" */
    int64_t created, updated;
};
void cf_rec_diag_release(struct cf_rec_diag *d);

/* Insert, or replace stream, cats, props and updated of an existing setting (name case and
 * created kept). *created (optional) tells which. */
cf_err cf_store_diag_put(struct cf_store_txn *t, const struct cf_rec_diag *d, bool *created);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_diag_get(struct cf_store_txn *t, const char *scope, const char *name_lc,
                         struct cf_rec_diag *out);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_diag_delete(struct cf_store_txn *t, const char *scope, const char *name_lc);

typedef cf_err (*cf_store_diag_cb)(const struct cf_rec_diag *d, void *arg);
/* Settings at scope (NULL: every setting), in (scope, name) order. A cb error stops the walk
 * and is returned. */
cf_err cf_store_diag_list(struct cf_store_txn *t, const char *scope, cf_store_diag_cb cb,
                          void *arg);

#endif

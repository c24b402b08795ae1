/* store_events.h - the store's part of Event Grid for vaults (events/events.h): event
 * subscriptions, the event outbox, deliveries with their retry state, dead letters, and the
 * near-expiry / expired state of current versions. Migration "events" in sqlite.c; SQL in
 * sqlite_events.c.
 *
 * The outbox is how no event of a committed change is lost: cf_store_event_add runs inside the
 * write fn that makes the change (the vault layer's event sink calls it), so the row commits
 * with the change or rolls back with it (the job's SAVEPOINT). The delivery worker fans rows
 * out into event_deliveries (one per matching subscription) and deletes them, in one write.
 *
 * Records follow store_vault.h's rules: fixed fields are arrays, variable text is malloc'd
 * and owned by the record (released by the matching _release, which accepts a zeroed record);
 * inputs are read, never taken over; a record handed to a list callback is valid only during
 * the callback. Writes need a txn of cf_store_write (CF_EINVAL otherwise). */
#ifndef CF_STORE_EVENTS_H
#define CF_STORE_EVENTS_H

#include "base/cf.h"
#include "base/buf.h"
#include "store/store.h"

#define CF_EVENT_SUB_NAME_MAX 64

/* ---------------- subscriptions (name unique per vault, case-insensitive) ---------------- */
struct cf_rec_event_sub {
    int64_t id; /* assigned by insert; never reused */
    int64_t vault_id;
    char name[CF_EVENT_SUB_NAME_MAX + 1];
    char name_lc[CF_EVENT_SUB_NAME_MAX + 1];
    char schema[32]; /* "EventGridSchema" | "CloudEventSchemaV1_0" */
    char state[32];  /* provisioningState: "Creating" (handshake pending), "Succeeded", "Failed" */
    int max_attempts, ttl_min;
    char *topic;       /* owned: the vault's ARM id */
    char *endpoint;    /* owned: webhook URL */
    char *types;       /* owned: "" = every type, else ",T1,T2," */
    char *dead_letter; /* owned, may be NULL: deadLetterDestination JSON as given */
    struct cf_buf secret; /* the signing secret, sealed by events/ (nonce||ct||tag) */
    int64_t created, updated;
};
void cf_rec_event_sub_release(struct cf_rec_event_sub *s);
/* Inserts s (s->id ignored), sets *id. CF_EEXISTS if the vault has that name. */
cf_err cf_store_event_sub_insert(struct cf_store_txn *t, const struct cf_rec_event_sub *s,
                                 int64_t *id);
/* Rewrites every column of row s->id but vault_id, name_lc, created. CF_ENOTFOUND if absent. */
cf_err cf_store_event_sub_update(struct cf_store_txn *t, const struct cf_rec_event_sub *s);
/* CF_ENOTFOUND if absent. out->secret must be initialised (cf_buf_init) by the caller. */
cf_err cf_store_event_sub_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                              struct cf_rec_event_sub *out);
cf_err cf_store_event_sub_get_id(struct cf_store_txn *t, int64_t id, struct cf_rec_event_sub *out);
typedef cf_err (*cf_store_event_sub_cb)(const struct cf_rec_event_sub *s, void *arg);
/* Subscriptions of vault_id (0: of every vault) in name order (then vault); a cb error stops
 * the walk and is returned. */
cf_err cf_store_event_sub_list(struct cf_store_txn *t, int64_t vault_id, cf_store_event_sub_cb cb,
                               void *arg);
/* Deletes the subscription, its pending deliveries and its dead letters. CF_ENOTFOUND if
 * absent. */
cf_err cf_store_event_sub_delete(struct cf_store_txn *t, int64_t id);
/* Sets state and updated of row id. CF_ENOTFOUND if absent. */
cf_err cf_store_event_sub_set_state(struct cf_store_txn *t, int64_t id, const char *state,
                                    int64_t updated);

/* ---------------- the outbox ---------------- */
struct cf_rec_event {
    int64_t seq;       /* outbox row id (set by reads) */
    char event_id[37]; /* the event's id (a UUID), the same in every delivery */
    int64_t vault_id;  /* 0: no vault (a server-wide alert) */
    char type[96];     /* "Microsoft.KeyVault.SecretNewVersionCreated", "Coffer.Alert.Fired" */
    char *subject;     /* owned by the record (reads); borrowed on add */
    char *data;        /* the event's data object, JSON; owned (reads), borrowed on add */
    int64_t time_ms;   /* eventTime */
};
void cf_rec_event_release(struct cf_rec_event *e);
cf_err cf_store_event_add(struct cf_store_txn *t, const struct cf_rec_event *ev);
typedef cf_err (*cf_store_event_cb)(const struct cf_rec_event *ev, void *arg);
/* Up to max outbox rows in seq order. */
cf_err cf_store_event_outbox_list(struct cf_store_txn *t, size_t max, cf_store_event_cb cb,
                                  void *arg);
/* Deletes outbox rows with seq <= upto. */
cf_err cf_store_event_outbox_delete(struct cf_store_txn *t, int64_t upto);

/* ---------------- deliveries ---------------- */
struct cf_rec_event_delivery {
    int64_t id; /* assigned by insert */
    int64_t sub_id;
    char event_id[37];
    char type[96];
    char *body;         /* owned (reads), borrowed on add: one event in the sub's schema */
    int64_t publish_ms; /* when the event was published (TTL counts from here) */
    int attempts;       /* attempts made so far */
    int64_t next_ms;    /* next attempt due */
    char last_outcome[32];
    int64_t last_ms;
};
void cf_rec_event_delivery_release(struct cf_rec_event_delivery *d);
cf_err cf_store_event_delivery_add(struct cf_store_txn *t, const struct cf_rec_event_delivery *d);
typedef cf_err (*cf_store_event_delivery_cb)(const struct cf_rec_event_delivery *d, void *arg);
/* Up to max deliveries with next_ms <= now, earliest first (then id). */
cf_err cf_store_event_delivery_due(struct cf_store_txn *t, int64_t now_ms, size_t max,
                                   cf_store_event_delivery_cb cb, void *arg);
/* The earliest next_ms of any delivery; CF_ENOTFOUND when there is none. */
cf_err cf_store_event_delivery_next(struct cf_store_txn *t, int64_t *next_ms);
/* Rewrites attempts, next_ms, last_outcome, last_ms of row d->id. CF_ENOTFOUND if absent (the
 * subscription was deleted meanwhile). */
cf_err cf_store_event_delivery_update(struct cf_store_txn *t,
                                      const struct cf_rec_event_delivery *d);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_event_delivery_delete(struct cf_store_txn *t, int64_t id);
/* Deliveries pending for sub_id (tests, the CLI's list). */
cf_err cf_store_event_delivery_count(struct cf_store_txn *t, int64_t sub_id, int64_t *n);

/* ---------------- dead letters ---------------- */
struct cf_rec_event_deadletter {
    int64_t id;
    int64_t sub_id;
    char event_id[37];
    char type[96];
    char *body; /* owned (reads), borrowed on add */
    char reason[48];       /* "MaxDeliveryAttemptsExceeded" | "TimeToLiveExceeded" | ... */
    int attempts;
    char last_outcome[32]; /* "Busy", "NotFound", "SocketError", "BadRequest", ... */
    int64_t publish_ms, last_ms;
};
void cf_rec_event_deadletter_release(struct cf_rec_event_deadletter *d);
cf_err cf_store_event_deadletter_add(struct cf_store_txn *t,
                                     const struct cf_rec_event_deadletter *d);
typedef cf_err (*cf_store_event_deadletter_cb)(const struct cf_rec_event_deadletter *d,
                                               void *arg);
/* Dead letters of sub_id with id > after, in id order, at most max. */
cf_err cf_store_event_deadletter_list(struct cf_store_txn *t, int64_t sub_id, int64_t after,
                                      size_t max, cf_store_event_deadletter_cb cb, void *arg);

/* ---------------- near-expiry / expired state of current versions ---------------- */
enum cf_event_kind { CF_EVENT_KIND_SECRET = 0, CF_EVENT_KIND_KEY = 1, CF_EVENT_KIND_CERT = 2 };
struct cf_rec_expiry {
    enum cf_event_kind kind;
    int64_t object_id, vault_id;
    char vault_name[25];
    char name[128];
    char version[33];
    int64_t nbf, exp;
    bool near_done, expired_done; /* already emitted for this version */
};
typedef cf_err (*cf_store_expiry_cb)(const struct cf_rec_expiry *x, void *arg);
/* Current versions of live objects in live vaults (certificates' own secret and key excluded:
 * the certificate speaks for them) with exp set and either exp <= now + lead_s and no
 * near-expiry recorded, or exp <= now and no expiry recorded; at most max of them. A key with
 * a rotation policy never comes up for near-expiry: the policy's Notify action (or its
 * absence) decides that key's KeyNearExpiry (vault janitor); it still comes up once expired. */
cf_err cf_store_expiry_due(struct cf_store_txn *t, int64_t now, int64_t lead_s, size_t max,
                           cf_store_expiry_cb cb, void *arg);
/* Records near and/or expired as done for (kind, object, version); *was_near / *was_expired
 * (may be NULL) tell what was already recorded before this call. */
cf_err cf_store_expiry_mark(struct cf_store_txn *t, enum cf_event_kind kind, int64_t object_id,
                            const char *version, bool near, bool expired, bool *was_near,
                            bool *was_expired);
/* Forgets the state of versions that are no longer the current version of their object (a
 * soft-deleted object keeps it: a recovered one does not fire again). */
cf_err cf_store_expiry_prune(struct cf_store_txn *t);

#endif

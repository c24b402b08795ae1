/* events.h - Event Grid for vaults (azure-kv-security-ops.md §7, §3.3): Key Vault event types
 * in the EventGridSchema and CloudEventSchemaV1_0 shapes, per-vault event subscriptions that
 * deliver to webhooks, retries with Event Grid's backoff, a dead-letter store, and Coffer's own
 * alert events. docs/internals/events.md has the operator's view (types, headers, signature).
 *
 * No event of a committed change is lost: cf_events_emit runs INSIDE the store write fn that
 * makes the change (the vault layer's sink, vault.h) and inserts an outbox row there, so the
 * row commits with the change or not at all. Only vaults that have a subscription get rows
 * (an in-memory set kept by this module; a vault without one pays one lookup per write).
 * One worker thread: fans outbox rows out into one delivery row per matching subscription
 * (one write: insert deliveries, delete the rows), performs validation handshakes of new
 * subscriptions, delivers due rows, records each outcome, and every scan_interval_s scans the
 * current versions for NearExpiry / Expired (once per version: state in the store). Every
 * step's state is in the store, so a restart resumes where the last commit left it
 * (at-least-once: a delivery answered but not yet recorded is sent again).
 *
 * Types: Microsoft.KeyVault.{Secret,Key,Certificate}{NewVersionCreated,NearExpiry,Expired},
 * Microsoft.KeyVault.VaultAccessPolicyChanged, Coffer.Alert.Fired, Coffer.Alert.Resolved.
 * Validation handshake of a new subscription (or a changed endpoint): EventGridSchema POSTs a
 * Microsoft.EventGrid.SubscriptionValidationEvent and wants 200 {"validationResponse": code};
 * CloudEventSchemaV1_0 sends the CloudEvents webhook OPTIONS request with
 * "WebHook-Request-Origin: eventgrid.azure.net" and wants 200 with WebHook-Allowed-Origin
 * naming that origin or "*" (no WebHook-Request-Callback is offered).
 * Webhook requests: POST, aeg-event-type (Notification | SubscriptionValidation),
 * aeg-subscription-name (upper case), aeg-delivery-count (0 on the first attempt),
 * aeg-data-version, aeg-metadata-version, and aeg-signature: "sha256=" + lowercase hex of
 * HMAC-SHA256 over the exact body bytes, keyed with the subscription's signing secret (the
 * ASCII string returned once, when the subscription is created).
 *
 * Thread rules: everything is thread-safe. cf_events_emit runs on the store's writer thread
 * (it must not call cf_store_write); the management calls block on store writes. */
#ifndef CF_EVENTS_H
#define CF_EVENTS_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "store/store.h"
#include "store/store_events.h"

#define CF_EVENTS_SCHEMA_EG "EventGridSchema"
#define CF_EVENTS_SCHEMA_CE "CloudEventSchemaV1_0"
#define CF_EVENTS_TYPE_PREFIX "Microsoft.KeyVault."
#define CF_EVENTS_ALERT_FIRED "Coffer.Alert.Fired"
#define CF_EVENTS_ALERT_RESOLVED "Coffer.Alert.Resolved"
#define CF_EVENTS_SECRET_LEN 43 /* the signing secret: base64url of 32 random bytes */
#define CF_EVENTS_MAX_TYPES 25  /* includedEventTypes */
#define CF_EVENTS_URL_MAX 2048

/* ---- the webhook transport (the server wires http/fetch.h; tests a fake) ---- */
struct cf_events_http_req {
    const char *method; /* NULL: POST; "OPTIONS" for the CloudEvents handshake (no body) */
    const char *url;
    const char *content_type;
    const char *const *headers; /* NULL-terminated "Name: value" strings */
    const char *body;
    size_t body_len;
    int timeout_s;
};
struct cf_events_http_resp {
    int status;
    struct cf_buf body; /* initialised by the caller (max 64 KiB) */
    char allowed_origin[256]; /* the WebHook-Allowed-Origin header answered, "" when none */
};
/* Sends the request (POST unless req->method says otherwise). CF_OK with status for any HTTP
 * answer; CF_EIO when no answer came (refused, reset, TLS, timeout). */
typedef cf_err (*cf_events_send_fn)(void *ctx, const struct cf_events_http_req *req,
                                    struct cf_events_http_resp *resp);

struct cf_events_opts {
    struct cf_store *store;
    const struct cf_clock *clock;      /* NULL: the system's; borrowed */
    const unsigned char *seal_key;     /* 32 bytes sealing signing secrets; copied */
    const char *dns_suffix;            /* data.Id: https://{vault}.{suffix}[:port]/... */
    int port;                          /* 443: no port in data.Id */
    int near_expiry_days;              /* NearExpiry lead (default 30); <0 not allowed.
                                          Keys with a rotation policy follow its Notify
                                          action instead (events.c, the expiry scan) */
    int64_t near_expiry_s;             /* overrides the days when > 0 (tests) */
    int64_t retry_base_ms;             /* the schedule's first step (default 10000): the
                                          whole schedule scales with it */
    int scan_interval_s;               /* expiry scan period (default 60) */
    int timeout_s;                     /* per webhook request (default 30) */
    int validate_tries;                /* handshake attempts before Failed (default 10) */
    cf_events_send_fn send;
    void *send_ctx;
};

struct cf_events;

struct cf_events *cf_events_new(const struct cf_events_opts *o, cf_err *err);
/* Starts the worker thread. */
cf_err cf_events_start(struct cf_events *ev);
/* Stops the worker (an attempt in flight finishes) and frees. Before the store closes.
 * Accepts NULL. */
void cf_events_free(struct cf_events *ev);
/* Wakes the worker now (tests; writes that emitted wake it themselves). */
void cf_events_kick(struct cf_events *ev);
/* One pass of the worker's work on the calling thread: fan out, handshakes, due deliveries,
 * and (scan) the expiry scan. For tests with a stopped worker. */
cf_err cf_events_run_once(struct cf_events *ev, bool scan);

/* ---- emission ---- */
struct cf_events_kv {
    const char *type;        /* without the prefix: "SecretNewVersionCreated" ... */
    int64_t vault_id;
    const char *vault_name;
    const char *object_type; /* "Secret" | "Key" | "Certificate" | "Vault" */
    const char *object_name;
    const char *version;     /* "" for the vault */
    int64_t nbf, exp;        /* 0: null */
};
/* Inside a write fn (t): the event's outbox row, when the vault has a subscription. */
cf_err cf_events_emit(struct cf_events *ev, struct cf_store_txn *t, const struct cf_events_kv *kv);
/* An alert rule fired or resolved (metrics.h's sink). Does not block: the row is written by
 * an asynchronous store write. vault: the vault the alert names ("" or NULL: server-wide,
 * delivered only to subscriptions that list the type explicitly). */
void cf_events_alert(struct cf_events *ev, const char *rule, const char *expr, bool firing,
                     double value, const char *detail, const char *vault, int64_t time_ms);

/* ---- subscriptions (the api's management routes) ----
 * in: endpoint, types (",A,B," or ""), schema ("" = EventGridSchema), max_attempts (0 = 30),
 * ttl_min (0 = 1440), dead_letter (JSON or NULL). A new subscription (and one whose endpoint
 * changed) is "Creating" until its handshake succeeds ("Succeeded") or gives up ("Failed").
 * secret_out: the signing secret on create (NUL-terminated), "" on update.
 * CF_EBADPARAM (why) for bad input. out: the stored record (release it). */
cf_err cf_events_sub_put(struct cf_events *ev, int64_t vault_id, const char *topic,
                         const char *name, const struct cf_rec_event_sub *in, bool *created,
                         char secret_out[CF_EVENTS_SECRET_LEN + 1], struct cf_rec_event_sub *out,
                         char *why, size_t whysz);
cf_err cf_events_sub_get(struct cf_events *ev, int64_t vault_id, const char *name,
                         struct cf_rec_event_sub *out);
cf_err cf_events_sub_list(struct cf_events *ev, int64_t vault_id, cf_store_event_sub_cb cb,
                          void *arg);
/* CF_ENOTFOUND if absent. Its pending deliveries and dead letters go with it. */
cf_err cf_events_sub_delete(struct cf_events *ev, int64_t vault_id, const char *name);
cf_err cf_events_deadletters(struct cf_events *ev, int64_t vault_id, const char *name,
                             cf_store_event_deadletter_cb cb, void *arg);
/* Pending deliveries of a subscription. */
cf_err cf_events_pending(struct cf_events *ev, int64_t vault_id, const char *name, int64_t *n);

/* ---- pure parts (exposed for tests) ---- */
/* A type name a filter may list: a Key Vault type, a Coffer alert type. */
bool cf_events_type_known(const char *type);
/* Validates an endpoint: https://, or http:// to a loopback host (127.0.0.0/8, ::1,
 * localhost). */
bool cf_events_endpoint_ok(const char *url);
/* data of a Key Vault event ({Id, VaultName, ObjectType, ObjectName, Version, NBF, EXP}). */
cf_err cf_events_render_data(const struct cf_events_kv *kv, const char *dns_suffix, int port,
                             struct cf_buf *out) CF_NODISCARD;
/* One event in schema (EventGridSchema or CloudEventSchemaV1_0): data is raw JSON. */
cf_err cf_events_render_event(const char *schema, const char *id, const char *topic,
                              const char *subject, const char *type, int64_t time_ms,
                              const char *data, struct cf_buf *out) CF_NODISCARD;
/* "2025-05-01T00:00:12.3450000Z" */
void cf_events_time(int64_t time_ms, char out[40]);
/* The wait before attempt number `attempt` + 1 after `attempt` failed attempts (1-based):
 * Event Grid's schedule 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then 12 h,
 * scaled by base_ms / 10000; no jitter. */
int64_t cf_events_backoff_ms(int attempt, int64_t base_ms);
/* What an answer means: true = acknowledged (200-204). Else *retry says whether to try again
 * (400, 401, 403, 413: no), *min_ms a floor on the wait (408: 2 min, 503: 30 s, others 10 s;
 * scaled like the schedule), and *outcome Event Grid's lastDeliveryOutcome. status 0: no
 * answer (SocketError). */
bool cf_events_classify(int status, int64_t base_ms, bool *retry, int64_t *min_ms,
                        const char **outcome);
/* "sha256=" + hex HMAC-SHA256(secret, body) into out (>= 72 bytes). */
cf_err cf_events_sign(const char *secret, const void *body, size_t n, char out[80]);

#endif

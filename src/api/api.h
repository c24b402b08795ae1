/* api.h - the Azure Key Vault REST surface: the one route table, request dispatch, JSON <->
 * domain, and the single error -> (HTTP status, Azure code) map. The only module that knows
 * HTTP semantics and Azure's wire shapes; it sits between http/ and vault/, auth/.
 *
 * cf_api_handle is the cf_http_handler: it classifies the request by Host (vault data plane,
 * token authority, management), authenticates (401 challenge before anything else), checks
 * api-version, matches the route, and runs the handler - inline on the event loop for reads,
 * on the api's blocking pool for writes (they wait for the store's group commit). */
#ifndef CF_API_H
#define CF_API_H

#include "base/cf.h"
#include "base/clock.h"
#include "http/http.h"

struct cf_vault_svc;
struct cf_auth;
struct cf_rbac;
struct cf_throttle;
struct cf_metrics;
struct cf_audit;
struct cf_store;
struct cf_events;
struct cf_api;

struct cf_api_config {
    struct cf_vault_svc *vault;
    struct cf_auth *auth;
    struct cf_rbac *rbac;        /* role assignments and definitions; NULL: their routes 404 */
    struct cf_throttle *throttle; /* data-plane service limits; NULL: not limited */
    struct cf_metrics *metrics;   /* request counts and latencies; NULL: not recorded */
    const struct cf_clock *clock;
    const char *dns_suffix;      /* "vault.localhost" */
    const char *login_host;      /* "login.localhost" */
    const char *management_host; /* "management.localhost" */
    const char *subscription_id; /* the server's one subscription */
    const char *tenant_id;       /* the server's default tenant */
    const char *region;          /* location label for x-ms-keyvault-region, "local" */
    int pool_threads;            /* blocking pool size (default 64) */
    /* The audit log (audit_rec.c, DESIGN.md §6): one AuditEvent record per request, fail
     * closed. audit_lanes logs (chains) of this node; 0: no records. A request's record goes
     * to audit[worker % audit_lanes] (the HTTP worker that received it), so event loops never
     * wait for one another's appends (measured on 2 cores: one shared log cost GET 30-40 %
     * of its throughput, mostly lock contention; one lane per worker about 20 %, the CPU of
     * formatting, MAC and write). audit[0] also takes the records
     * of the store's outbox (the records that commit with writes), which cf_api_new drains
     * first and then on a thread of its own; cf_api_free drains once more and stops it. The
     * logs and store must outlive the api. */
    struct cf_audit *const *audit;
    size_t audit_lanes;
    struct cf_store *store;
    /* Event Grid subscriptions (h_events.c); NULL: their routes answer 404. Must outlive the
     * api. */
    struct cf_events *events;
};

struct cf_api *cf_api_new(const struct cf_api_config *cfg, cf_err *err);
void cf_api_free(struct cf_api *api);
/* The cf_http_handler; ctx is the struct cf_api. */
void cf_api_handle(struct cf_http_req *req, void *ctx);

#endif

/* internal.h - what the api/ files share: the per-request context, the route table type, and
 * the reply helpers. Not used outside src/api/.
 *
 * Request lifetime: dispatch.c allocates one struct api_req per request and runs the matched
 * route's handler with it (inline on the event loop, or on the blocking pool for API_WRITE
 * routes). Every handler path ends in exactly one api_reply / api_reply_empty / api_error*
 * call, which sends the response and frees r: the handler must not touch r afterwards. */
#ifndef CF_API_INTERNAL_H
#define CF_API_INTERNAL_H

#include "base/cf.h"

#include <pthread.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/str.h"
#include "api/api.h"
#include "auth/auth.h"
#include "http/http.h"
#include "store/store.h"
#include "vault/vault.h"

enum api_plane { API_PLANE_NONE, API_PLANE_DATA, API_PLANE_AUTHORITY, API_PLANE_MGMT };

/* Route flags. */
#define API_WRITE 1u  /* runs on the blocking pool (waits for a durable commit) */
#define API_NOAUTH 2u /* no bearer token needed (token authority, metadata) */
#define API_NOVERSION 4u /* no api-version (Microsoft Graph-shaped routes, which have none) */
#define API_AUTHZ_HANDLER 8u /* the handler authorizes (it needs the body or a stored object) */

/* 16: an object-scoped role assignment has 14 (.../vaults/V/secrets/N/providers/
 * Microsoft.Authorization/roleAssignments/ID) */
#define API_MAX_SEGS 16
#define API_MAX_QUERY 16
#define API_MAX_CAPS 4

struct api_req;
typedef void (*api_handler)(struct api_req *r);

struct api_route {
    enum api_plane plane;
    enum cf_http_method method;
    const char *pattern;    /* '/'-separated segments; "*" captures one; literals match
                               case-insensitively; the path's empty segments are ignored;
                               a leading "**" matches zero or more segments (span_n) */
    api_handler handler;
    unsigned flags;
    const char *operation;  /* audit operation name (Azure's), e.g. "SecretGet" */
    const char *permission; /* what authorization will require, e.g. "secrets/get" */
};

struct api_kv {
    struct cf_str key, val;
};

struct api_audit_log; /* audit_rec.c: the log, its failing state and the outbox drainer */

struct cf_api {
    struct cf_api_config cfg;
    struct api_audit_log *alog; /* NULL when cfg.audit is */
    /* x-ms-request-id = random per-process prefix + a counter: unique without a CSPRNG call
     * per response (measured at 3 % of a GET). */
    uint64_t rid_prefix;
    uint64_t rid_counter; /* atomic */
    /* Finished requests kept for reuse with their buffers' capacity, so a request costs no
     * malloc in the steady state (api_req_get / api_req_put in dispatch.c). */
    pthread_mutex_t free_mu;
    struct api_req *free_list;
    size_t free_count;
    /* Requests handed out and not yet put back (under free_mu): a write's answer can come
     * from the store's acker thread after the HTTP server has stopped, so cf_api_free waits
     * for this to reach 0 (idle_cv) before it frees what those answers touch. */
    size_t live;
    pthread_cond_t idle_cv;
    struct api_pool *pool;
    /* CPU-bound work (api_defer): one thread per core, so a burst of RSA signatures neither
     * thrashes 64 threads over 2 cores nor waits behind the write pool's sleepers. */
    struct api_pool *cpool;
};

struct api_req {
    struct api_req *next_free;
    struct cf_api *api;
    struct cf_http_req *http;
    enum api_plane plane;
    const struct api_route *route;
    struct cf_str host;     /* Host header as sent: "v.vault.localhost:8443" */
    struct cf_str hostname; /* without the port */
    struct cf_str port;     /* ":8443", or "" when absent or 443 */
    struct cf_vault_ref vault;  /* data plane: the addressed live vault */
    struct cf_principal who;    /* the authenticated caller (not on API_NOAUTH routes) */
    struct cf_str seg[API_MAX_SEGS]; /* decoded, non-empty path segments */
    size_t nseg;
    struct cf_str cap[API_MAX_CAPS]; /* the segments matched by "*" */
    size_t ncap;
    size_t span_n; /* segments matched by a leading "**": seg[0..span_n) */
    struct api_kv q[API_MAX_QUERY]; /* decoded query parameters */
    size_t nq;
    char api_version[48];
    double api_version_key; /* api_version's place in the version order (dispatch.c) */
    char request_id[37];
    struct cf_buf scratch;  /* backing store of seg[] and q[]; never grows after parsing */
    struct cf_buf out;      /* the response body */
    size_t out_clean; /* out's bytes past len + 1 are zero up to here (req_clear, dispatch.c) */
    struct cf_json *body;   /* parsed request body, after api_body_json */
    struct cf_http_hdr extra[4]; /* handler-supplied extra response headers */
    char challenge[400];    /* WWW-Authenticate value, when one is sent */
    char location[512];     /* Location value, when one is sent */
    size_t nextra;
    int64_t start_ms;
    int64_t start_us; /* for the metrics' latency histogram (sub-millisecond buckets) */
    bool deferred;    /* the handler runs (again) on the CPU pool: api_defer was called */
    /* The request's audit record (audit_rec.c). line is kept with the request like out. */
    struct {
        struct cf_buf line;          /* the formatted record */
        struct cf_store_audit slot;  /* a write route's success record, carried by its write */
        const char *desc, *inner;    /* the error being sent: message and inner code */
        bool authed;                 /* the bearer token verified (identity is known) */
        bool authz_checked, authorized; /* api_authorize ran / let the request through */
        bool recorded;               /* the record is written or carried by a commit */
    } audit;
};

/* ---- the audit record of a request (audit_rec.c) ----
 * Every response leaves through api_audit_reply (reply.c) before it is sent: the request's
 * AuditEvent record is appended (written, synced in groups within 10 ms) unless a write
 * already committed it through the store's outbox. A write route's handler runs inside
 * api_audit_run, which binds the write's success record to the thread so the store commits
 * it with the write (store.h). */
/* What becomes of a response (reply.c's send asks before anything leaves):
 *   SEND    answer as is (recorded, carried by the write's commit, or no log)
 *   FAILED  the record could not be written: answer 503 instead (with no record: the log is
 *           failing)
 *   HELD    on an HTTP worker thread the record waits for the end of the loop's pass and is
 *           written with that pass's others in one write; audit_rec.c then calls
 *           api_send_recorded (r, r->out and r->extra stay as they are until then; extra
 *           header values point into r or at static strings). */
enum api_audit_verdict { API_AUDIT_SEND, API_AUDIT_FAILED, API_AUDIT_HELD };
enum api_audit_verdict api_audit_reply(struct api_req *r, int status, bool with_body);
/* reply.c: sends r (and frees it): as asked when recorded, else as 503. */
void api_send_recorded(struct api_req *r, int status, bool with_body, bool recorded);
/* Routes that write: refused with 503 (and false) while the audit log is failing, so a
 * broken log changes nothing. True for every other route and when there is no log. */
bool api_audit_write_ok(struct api_req *r);
/* Runs r's handler (with the write's record bound to the thread for write routes). */
void api_audit_run(struct api_req *r);
/* cf_audit_format's output (byte for byte), cheaper for the plain strings of a typical record
 * (exposed for the unit test that holds the two together). */
struct cf_audit_event;
cf_err api_audit_format(const struct cf_audit_event *ev, struct cf_buf *line) CF_NODISCARD;
/* Life cycle (cf_api_new / cf_api_free): drains the outbox left by an earlier run, then
 * starts the drainer; stop drains once more. */
cf_err api_audit_start(struct cf_api *api);
void api_audit_stop(struct cf_api *api);

/* ---- the one route table (routes.c) ---- */
extern const struct api_route api_routes[];
extern const size_t api_routes_count;

/* ---- request helpers (dispatch.c) ---- */
/* Takes a cleared request (recycled or new); NULL when out of memory. */
struct api_req *api_req_get(struct cf_api *api);
/* Clears r (wiping what its response held) and keeps it for reuse, or frees it. */
void api_req_put(struct api_req *r);
/* Runs r's route handler again on the CPU pool with r->deferred set, for work too heavy for an
 * event loop (an RSA private-key operation: 0.25-5 ms). The handler must return at once after
 * the call and must not have replied or parsed the body. A full queue answers 503. */
void api_defer(struct api_req *r);
/* Decoded value of a query parameter, or NULL-pointer view (p == NULL) when absent. */
struct cf_str api_query(const struct api_req *r, const char *key);
/* Parses the request body as a JSON object into r->body. On failure it has already replied 400
 * (BadParameter) and returns the error: the handler must return at once. An empty body is
 * parsed as {} when allow_empty. */
cf_err api_body_json(struct api_req *r, bool allow_empty);
/* True when api-version is >= the given dated or numbered version (ordering of azure-kv-common
 * §3: 2016-10-01 < 7.0 < ... < 7.6 < 2025-06-01-preview < 2025-07-01 ...). */
bool api_version_at_least(const struct api_req *r, const char *v);

/* ---- authorization (authz.c) ---- */
/* The route's permission for the caller: network rules, then RBAC or access policies (data
 * plane), RBAC Actions (management). False: it has replied (403, or 5xx when the rules could
 * not be read) and the request is over. */
bool api_authorize(struct api_req *r);
/* For API_AUTHZ_HANDLER role-assignment routes: roleAssignments/write (write) or /delete at
 * scope, with the role the assignment names (the Data Access Administrator's condition). */
bool api_authorize_role_assignment(struct api_req *r, const char *scope, bool write,
                                   const char *role_id);

/* ---- replies (reply.c) ---- */
/* Sends r->out as JSON with status and the standard headers, then frees r. */
void api_reply(struct api_req *r, int status);
/* Sends no body (204, or 200/202 with empty body). Frees r. */
void api_reply_empty(struct api_req *r, int status);
/* Azure error envelope {"error":{"code":code,"message":msg[,"innererror":{"code":inner}]}}.
 * inner may be NULL. The message is formatted from fmt; never pass secret values. Frees r. */
void api_error(struct api_req *r, int status, const char *code, const char *inner,
               const char *fmt, ...) CF_PRINTF(5, 6);
/* Generic mapping of a cf_err to status and code with the table's message. Frees r. */
void api_error_err(struct api_req *r, cf_err e);
/* Adds a response header (name and value must outlive the reply: literals or r->scratch...). */
void api_add_header(struct api_req *r, const char *name, const char *value);

/* The error map (errmap.c): status and Azure code for each cf_err. */
struct api_errmap {
    int status;
    const char *code;
};
const struct api_errmap *api_errmap_get(cf_err e);
/* False for a code the table forgot (the unit test's check). */
bool api_errmap_is_mapped(cf_err e);

/* Writes "https://<host as sent>" to out (ids carry the client's scheme://host:port). */
cf_err api_base_url(const struct api_req *r, struct cf_buf *out) CF_NODISCARD;

/* ---- handlers: h_secrets.c ---- */
void api_secret_set(struct api_req *r);
void api_secret_get(struct api_req *r);
void api_secret_update(struct api_req *r);
void api_secret_list(struct api_req *r);
void api_secret_list_versions(struct api_req *r);
void api_secret_delete(struct api_req *r);
void api_secret_get_deleted(struct api_req *r);
void api_secret_list_deleted(struct api_req *r);
void api_secret_recover(struct api_req *r);
void api_secret_purge(struct api_req *r);
void api_secret_backup(struct api_req *r);
void api_secret_restore(struct api_req *r);

/* ---- handlers: h_keys.c ---- */
void api_key_create(struct api_req *r);
void api_key_import(struct api_req *r);
void api_key_get(struct api_req *r);
void api_key_update(struct api_req *r);
void api_key_list(struct api_req *r);
void api_key_list_versions(struct api_req *r);
void api_key_delete(struct api_req *r);
void api_key_get_deleted(struct api_req *r);
void api_key_list_deleted(struct api_req *r);
void api_key_recover(struct api_req *r);
void api_key_purge(struct api_req *r);
void api_key_backup(struct api_req *r);
void api_key_restore(struct api_req *r);
void api_key_rotate(struct api_req *r);
void api_key_policy_get(struct api_req *r);
void api_key_policy_set(struct api_req *r);
void api_key_sign(struct api_req *r);
void api_key_verify(struct api_req *r);
void api_key_encrypt(struct api_req *r);
void api_key_decrypt(struct api_req *r);
void api_key_wrap(struct api_req *r);
void api_key_unwrap(struct api_req *r);
void api_key_release(struct api_req *r);
void api_key_random(struct api_req *r); /* POST /rng */

/* ---- handlers: h_authority.c (token authority) ---- */
void api_oidc_config(struct api_req *r);      /* /{tenant}/v2.0/.well-known/openid-configuration */
void api_oidc_config_adfs(struct api_req *r); /* /adfs[/x]/.well-known/openid-configuration */
void api_jwks(struct api_req *r);
/* management: the token signing key ring (h_authority.c) */
void api_signing_key_list(struct api_req *r);
void api_signing_key_rotate(struct api_req *r);
void api_token(struct api_req *r);            /* /{tenant}/oauth2/v2.0/token, /adfs/oauth2/token */

/* ---- handlers: h_arm.c (management) ---- */
void api_arm_metadata(struct api_req *r);
void api_arm_sub_list(struct api_req *r);
void api_arm_sub_get(struct api_req *r);
void api_arm_group_put(struct api_req *r);
void api_arm_group_get(struct api_req *r);
void api_arm_group_list(struct api_req *r);
void api_arm_group_delete(struct api_req *r);
void api_arm_vault_put(struct api_req *r);
void api_arm_vault_patch(struct api_req *r);
void api_arm_vault_get(struct api_req *r);
void api_arm_vault_delete(struct api_req *r);
void api_arm_vault_list_rg(struct api_req *r);
void api_arm_vault_list_sub(struct api_req *r);
void api_arm_resources_list(struct api_req *r); /* legacy /resources?$filter=... */
void api_arm_deleted_list(struct api_req *r);
/* Coffer has no managed HSMs: an empty list, so `az keyvault list-deleted` works. */
void api_arm_deleted_hsm_list(struct api_req *r);
void api_arm_deleted_get(struct api_req *r);
void api_arm_deleted_purge(struct api_req *r);
void api_arm_check_name(struct api_req *r);
/* PUT .../vaults/{v}/accessPolicies/{add|replace|remove} (Vaults_UpdateAccessPolicy) */
void api_arm_vault_policy(struct api_req *r);

/* ---- handlers: h_events.c (Microsoft.EventGrid/eventSubscriptions on a vault: cap[0..3] are
 * the subscription, group, vault and subscription name) ---- */
void api_event_sub_put(struct api_req *r);
void api_event_sub_get(struct api_req *r);
void api_event_sub_list(struct api_req *r);
void api_event_sub_delete(struct api_req *r);
void api_event_sub_deadletters(struct api_req *r); /* Coffer's dead-letter store */

/* ---- handlers: h_locks.c (Microsoft.Authorization/locks at a subscription, a group or a
 * vault: the "**" span is the scope, cap[0] the name) ---- */
void api_lock_put(struct api_req *r);
void api_lock_get(struct api_req *r);
void api_lock_delete(struct api_req *r);
void api_lock_list(struct api_req *r);

/* ---- handlers: h_rbac.c (Microsoft.Authorization role assignments and definitions at any
 * scope: the "**" span is the scope, cap[0] the name). Answer 404 InvalidResourceType, as
 * before they existed, while cfg.rbac is NULL. Not yet authorized beyond "a valid token of
 * the server's tenant", like every route this phase. ---- */
void api_rbac_assignment_put(struct api_req *r);
void api_rbac_assignment_get(struct api_req *r);
void api_rbac_assignment_delete(struct api_req *r);
void api_rbac_assignment_list(struct api_req *r);
void api_rbac_definition_put(struct api_req *r);
void api_rbac_definition_get(struct api_req *r);
void api_rbac_definition_delete(struct api_req *r);
void api_rbac_definition_list(struct api_req *r);

/* ---- handlers: h_graph.c (the directory in Microsoft Graph v1.0 shapes on the management
 * host, identity-contract.md; objects of the caller's tenant) ---- */
void api_graph_app_create(struct api_req *r);
void api_graph_app_list(struct api_req *r);
void api_graph_app_get(struct api_req *r);
void api_graph_app_patch(struct api_req *r);
void api_graph_app_delete(struct api_req *r);
void api_graph_add_password(struct api_req *r);
void api_graph_remove_password(struct api_req *r);
void api_graph_sp_list(struct api_req *r);
void api_graph_sp_get(struct api_req *r);
void api_graph_sp_member_of(struct api_req *r);
void api_graph_group_create(struct api_req *r);
void api_graph_group_list(struct api_req *r);
void api_graph_group_get(struct api_req *r);
void api_graph_group_delete(struct api_req *r);
void api_graph_group_members(struct api_req *r);
void api_graph_group_member_add(struct api_req *r);
void api_graph_group_member_remove(struct api_req *r);
/* applications(appId='X') and servicePrincipals(appId='X') segments (GET/PATCH/DELETE) */
void api_graph_keyed(struct api_req *r);

#endif

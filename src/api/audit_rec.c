/* audit_rec.c - one AuditEvent record per request, fail closed (DESIGN.md §6, issue 11,
 * azure-kv-security-ops.md §5), and the drainer of the store's audit outbox.
 *
 *   api_audit_reply     builds the request's record and appends it before the response is
 *                       sent (non-durable: the log syncs in groups within 10 ms), unless the
 *                       request's write already committed it through the outbox
 *   api_audit_run       runs a handler; a write route's success record is formatted first and
 *                       bound to the thread, so the store commits it with the write (store.h)
 *   api_audit_write_ok  refuses write routes with 503 while the log is failing
 *   drainer             moves outbox rows into the log in id order; deletes them in bulk once
 *                       the log has synced them (flush); at start-up the rows an earlier
 *                       run left are moved first
 *   compact rows        the outbox keeps a write's record in its compact form (audit.h,
 *                       cf_audit_compact: a SET's 880 bytes as ~330, so fewer WAL pages per
 *                       commit); drain_row expands each row before anything reads it, and a
 *                       row of an older build (full JSON) expands to itself. What is chained in
 *                       the log, and every record a worker writes itself, is the full line.
 *                       Measured (session 5, same-run A/B, SET): WAL pwrites per SET 3.8 ->
 *                       3.3, checkpointer pwrites per SET 0.28 -> 0.15, cf-writer CPU per SET
 *                       -12 %; compact costs the worker ~0.35 us, expand the drainer ~0.3 us.
 *   pending statuses    create-or-update routes (200 or 201): the drainer chains their row
 *                       with the status the reply decided (see "create or update" below)
 *
 * Fail closed: a record that cannot be appended turns the response into 503 (nothing else
 * changes: a read changed nothing, a failed write rolled back); a write's record is in the
 * same transaction as the write, so it exists iff the write committed, and reaches the log
 * (idempotently, by outbox id) even across a crash. "Failing" is the state after an append
 * (direct or drained) failed and until one succeeds; the 503 a refused write gets is itself
 * an append attempt, so the first request after the disk recovers clears it.
 *
 * What a record never holds: a secret value, a token, a client secret, a request body or a
 * query string. id and requestUri are https://host + path; the token endpoint's identity is
 * the client_id of its form (or the HTTP Basic user name) and nothing else of it;
 * resultDescription is the error message sent, cut before the JSON parser's "near '...'"
 * excerpt of the body and dropped when it holds anything JWT-like.
 *
 * Cost on the read path: the event is a struct of borrowed pointers; two URIs are built on
 * the stack; the line is formatted into the request's own buffer (kept with the recycled
 * request, so no malloc in the steady state) and appended under the mutex of the receiving
 * event loop's own lane (chain), which no other loop takes.
 * Measured (issue 11, session 4; GET of a ~1.1 KB record, 2 cores): cofferd CPU per GET 28 us
 * with --audit off, 4-5 us more with the log on: hashing the line (SHA-256 of ~1.1 KB, HMAC of
 * the digest, the unkeyed chain step: 1.3-1.4 us), the kernel's share of the batched pwrite
 * (0.7 us; about 13 records per write under load, so the syscall is not the cost - the page
 * cache per byte is, which an mmap of the file would pay too), the group fdatasyncs of the
 * lanes' sync threads (0.75 us), formatting and the rest (1 us). What is left of the cost is
 * per byte of record, not per call. A SET's record costs more (~18 us CPU): formatted before
 * the write, inserted with it into the outbox, drained, synced and deleted; the drain's own
 * share is 1.6-2.0 us a record in batches of 64 (3.1-3.5 us one write per row).
 *
 * Batching (issue 11: one write(2) per record was most of a read record's cost): on an HTTP
 * worker thread the formatted record and its response are held in that worker's batch and
 * cf_http_later schedules flush_later for the end of the loop's current pass; the flush
 * writes every record of the batch with one cf_audit_append_batch and only then hands each
 * response to http (or, when the write failed, a 503 in its place) - so no response leaves
 * before its record is in the file, whatever order libevent writes sockets in. A batch that
 * reaches CF_AUDIT_MAX_BATCH is flushed at once. Off the worker threads (a pool thread's
 * answer) the record is appended directly as before. */
#include "base/cf.h"
#include "api/internal.h"
#include "audit/audit.h"
#include "base/codec.h"
#include "base/log.h"
#include "base/secret.h"
#include "store/store.h"

#include <pthread.h>
#include <time.h>

#define DRAIN_BATCH 256
#define DRAIN_IDLE_MS 500 /* re-check period: retries after a failure, rows of a lost wakeup */
/* Drained rows leave the outbox in bulk: after the log has synced them (the audit module's
 * group sync runs every 10 ms anyway), at most every FLUSH_MS or FLUSH_ROWS rows. Deleting per
 * drain cost every group commit of SETs a second store job and an audit fsync; the rows are
 * safe to keep meanwhile (a later drain skips ids the log already holds). */
#define FLUSH_MS 200
#define FLUSH_ROWS 4096
#define URI_MAX 2100      /* cf_audit_format caps id and requestUri at 2048 */
/* Create-or-update records in flight at once (more: the extra ones keep 200, as before) and
 * how long an undecided one may hold the drain (a reply that never comes: 200). */
#define PEND_MAX 32
#define PEND_WAIT_MS 2000

/* One HTTP worker's held responses of the current loop pass (touched on its thread only). */
struct audit_held {
    struct api_req *r;
    int status;
    bool with_body;
};
struct audit_batch {
    struct audit_held held[CF_AUDIT_MAX_BATCH];
    struct cf_str lines[CF_AUDIT_MAX_BATCH]; /* held[i].r's record, in its audit.line */
    size_t n;
};

/* A create-or-update route's outbox row, identified by its bytes (hash and length: the row is a
 * copy of the line the request bound), and the status its reply decided. */
struct pend {
    uint64_t hash;
    size_t len;
    uint64_t tag;     /* this entry (entries move in the array; lines may be equal) */
    const char *line; /* the request's line buffer: which request, until the reply decides */
    int status;       /* 0: the reply has not decided yet */
    int64_t since_ms; /* registered (monotonic) */
};

struct api_audit_log {
    struct cf_audit *const *lanes; /* lanes[0] also takes the outbox's records */
    size_t nlanes;
    struct audit_batch *batches; /* [nlanes]: worker k < nlanes batches into lane k */
    struct cf_store *store;
    int failing; /* atomic: the last append (direct or drained) failed */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool stop, kick, started;
    pthread_t thr;
    int64_t last;    /* highest outbox id appended to the log (maybe not yet synced) */
    int64_t flushed; /* highest outbox id synced in the log and deleted from the outbox */
    int64_t flush_ms; /* when flush last ran (monotonic) */
    /* create-or-update records awaiting their status (under mu; npend also read atomically) */
    struct pend pend[PEND_MAX];
    size_t npend;
    uint64_t pend_tags;
    struct cf_buf expanded; /* the drainer's full line of the row at hand (drain_row) */
    struct cf_buf patched;  /* the drainer's copy of a row with its status patched */
    struct cf_buf rows;     /* the drainer's copies of the rows of one append (drain_ctx) */
};

/* ---------------- failing state ---------------- */

static bool is_failing(const struct api_audit_log *al)
{
    return __atomic_load_n(&al->failing, __ATOMIC_ACQUIRE) != 0;
}

/* Logged once per transition, not per request: a full disk would flood the log otherwise. */
static void set_failing(struct api_audit_log *al, cf_err e, const char *what)
{
    if (__atomic_exchange_n(&al->failing, 1, __ATOMIC_ACQ_REL) == 0)
        cf_error("audit: %s failed (%s): requests answer 503 until the audit log can be "
                 "written again",
                 what, cf_err_name(e));
}

static void clear_failing(struct api_audit_log *al)
{
    if (__atomic_load_n(&al->failing, __ATOMIC_RELAXED) &&
        __atomic_exchange_n(&al->failing, 0, __ATOMIC_ACQ_REL))
        cf_info("audit: the audit log is writable again");
}

/* ---------------- building the record ---------------- */

/* Routes whose handler may commit to the store: their success record rides on the write. */
static bool route_writes(const struct api_route *rt)
{
    return rt && ((rt->flags & API_WRITE) || rt->handler == api_secret_set);
}

/* The status a write route answers when it succeeds, recorded in its outbox line before the
 * handler runs (it commits before the reply exists). Where a route answers 200 or 201
 * (may_create) the line says 200 and the drainer patches it to what the reply decided. */
static int success_status(const char *op)
{
    static const struct {
        const char *op;
        int status;
    } t[] = {
        {"SecretPurge", 204},       {"KeyPurge", 204},
        {"ApplicationCreate", 201}, {"GroupCreate", 201},
        {"ApplicationUpdate", 204}, {"ApplicationDelete", 204},
        {"GroupDelete", 204},       {"GroupMemberAdd", 204},
        {"GroupMemberRemove", 204}, {"ApplicationRemovePassword", 204},
        {"CertificateCreate", 202}, {"CertificatePendingMerge", 201},
        {"CertificateAuthorityWrite", 201},
    };
    for (size_t i = 0; i < CF_ARRAY_LEN(t); i++)
        if (strcmp(t[i].op, op) == 0)
            return t[i].status;
    return 200;
}

/* Routes that answer 201 when they create and 200 when they update (h_arm.c, h_locks.c,
 * h_rbac.c, h_events.c): which one is decided inside the write's transaction. */
static bool may_create(const char *op)
{
    static const char *const t[] = {"ResourceGroupWrite",  "VaultPut",
                                    "ManagementLockWrite", "RoleAssignmentWrite",
                                    "RoleDefinitionWrite", "EventSubscriptionWrite"};
    for (size_t i = 0; i < CF_ARRAY_LEN(t); i++)
        if (strcmp(t[i], op) == 0)
            return true;
    return false;
}

/* The error message as a record may carry it: never an excerpt of the request body. */
static const char *description(const struct api_req *r, char *buf, size_t n)
{
    const char *d = r->audit.desc, *near;
    if (!d || !*d)
        return "";
    if (strstr(d, "eyJ"))
        return "(message withheld from the audit log)";
    near = strstr(d, " near '");
    if (!near)
        return d;
    snprintf(buf, n, "%.*s", (int)(near - d), d);
    return buf;
}

/* The vault being addressed: resolved by dispatch, or (401 before resolution) by name. */
static const char *vault_scope(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    size_t sl = strlen(c->dns_suffix);
    struct cf_str hn = r->hostname, name;

    if (r->vault.id)
        return r->vault.scope;
    if (hn.len <= sl + 1)
        return NULL;
    name = (struct cf_str){hn.p, hn.len - sl - 1};
    if (cf_vault_resolve(c->vault, name, &r->vault) != CF_OK) {
        memset(&r->vault, 0, sizeof(r->vault));
        return NULL;
    }
    return r->vault.scope;
}

/* Appends p[0..len) to out at *at, cut at n - 1 and NUL-terminated like snprintf (n >= 1,
 * *at < n): the record's URIs are plain concatenations, built without printf on every
 * request. */
static void cat(char *out, size_t n, size_t *at, const char *p, size_t len)
{
    size_t room = n - 1 - *at;
    if (len > room)
        len = room;
    memcpy(out + *at, p, len);
    *at += len;
    out[*at] = '\0';
}

#define CAT_STR(out, n, at, s) cat((out), (n), (at), (s).p, (s).len)
#define CAT_LIT(out, n, at, lit) cat((out), (n), (at), (lit), sizeof(lit) - 1)

/* properties.id: the object the request touched - https://host/{kind}/{name}[/{version}] on
 * the data plane (the vault's URI for lists and vault-wide operations), the ARM path on the
 * management host; NULL for the token authority. */
static const char *object_id(const struct api_req *r, char *out, size_t n)
{
    const char *p;
    size_t k = 0;

    if (r->plane == API_PLANE_MGMT) {
        CAT_STR(out, n, &k, r->http->path);
        return out;
    }
    if (r->plane != API_PLANE_DATA)
        return NULL;
    CAT_LIT(out, n, &k, "https://");
    CAT_STR(out, n, &k, r->hostname);
    CAT_STR(out, n, &k, r->port);
    CAT_LIT(out, n, &k, "/");
    p = r->route ? r->route->pattern : "";
    /* patterns "secrets/NAME", "keys/NAME/VERSION/sign", "deletedsecrets/NAME" (with "*" for
     * NAME and VERSION): a kind literal, then the name (a cut prefix stays cut: cat appends
     * nothing once the buffer is full) */
    if (r->ncap > 0 && r->nseg > 1 && strncmp(p, "**", 2) != 0 && strchr(p, '/') &&
        strncmp(strchr(p, '/'), "/*", 2) == 0) {
        CAT_STR(out, n, &k, r->seg[0]);
        CAT_LIT(out, n, &k, "/");
        CAT_STR(out, n, &k, r->cap[0]);
        if (r->ncap > 1) {
            CAT_LIT(out, n, &k, "/");
            CAT_STR(out, n, &k, r->cap[1]);
        }
    }
    return out;
}

/* The token endpoint's caller: the client_id field of the form, else the HTTP Basic user.
 * Only that field is decoded; the rest of the body (the client secret) is never looked at. */
static const char *token_client(const struct api_req *r, char *out, size_t n)
{
    struct cf_str body = r->http->body, rest = body, kv, k, v;
    const char *authz = cf_http_header(r->http, "Authorization");
    struct cf_buf b;
    const char *res = NULL;

    cf_buf_init(&b, 512);
    while (rest.len) {
        if (!cf_str_split(rest, '&', &kv, &rest)) {
            kv = rest;
            rest = CF_STR("");
        }
        if (cf_str_split(kv, '=', &k, &v) && cf_str_eq_cstr(k, "client_id")) {
            if (cf_pct_decode(&b, v, true) == CF_OK && b.len)
                res = b.data;
            break;
        }
    }
    if (!res && authz && strncasecmp(authz, "Basic ", 6) == 0 &&
        cf_b64_decode(&b, cf_str_from(authz + 6)) == CF_OK) {
        const char *colon = memchr(b.data, ':', b.len);
        if (colon) {
            b.data[colon - b.data] = '\0';
            res = b.data;
        }
    }
    if (res) {
        snprintf(out, n, "%s", res);
        res = out;
    }
    cf_buf_wipe(&b); /* the Basic form held the secret after the colon */
    return res;
}

/* Fills ev from r; the strings live in the caller's buffers or in r. */
struct rec_bufs {
    char uri[URI_MAX], id[URI_MAX], desc[1024], client[128], tid[64];
};

static void build(struct api_req *r, int status, struct cf_audit_event *ev, struct rec_bufs *b)
{
    const struct cf_api_config *c = &r->api->cfg;
    int64_t dur = cf_mono_ms() - r->start_ms;
    enum cf_audit_flag *model = NULL;

    memset(ev, 0, sizeof(*ev));
    ev->time_ms = cf_clock_ms(c->clock) - dur; /* when the request arrived */
    ev->duration_ms = dur < 0 ? 0 : dur;
    ev->http_status = status;
    /* A refused bearer token is Azure's "Authentication"; the token endpoint's own 401 (a bad
     * client credential) stays TokenIssue. */
    if (status == 401 && !(r->route && (r->route->flags & API_NOAUTH)))
        ev->operation_name = "Authentication";
    else
        ev->operation_name = r->route ? r->route->operation : "Unknown";
    ev->operation_version = r->api_version;
    ev->result_description = description(r, b->desc, sizeof(b->desc));
    ev->caller_ip = r->http->peer_ip;
    ev->correlation_id = cf_http_header(r->http, "x-ms-client-request-id");
    ev->client_info = cf_http_header(r->http, "User-Agent");
    {
        size_t k = 0;
        CAT_LIT(b->uri, sizeof(b->uri), &k, "https://");
        CAT_STR(b->uri, sizeof(b->uri), &k, r->hostname);
        CAT_STR(b->uri, sizeof(b->uri), &k, r->port);
        CAT_STR(b->uri, sizeof(b->uri), &k, r->http->path);
    }
    ev->request_uri = b->uri;
    ev->id = object_id(r, b->id, sizeof(b->id));

    switch (r->plane) {
    case API_PLANE_DATA:
        ev->resource_id = vault_scope(r);
        model =
            r->vault.id && !r->vault.rbac ? &ev->is_access_policy_match : &ev->is_rbac_authorized;
        break;
    case API_PLANE_MGMT:
        /* the ARM id of what the path addresses (a collection's path for lists) */
        ev->resource_id = b->id;
        model = &ev->is_rbac_authorized;
        break;
    case API_PLANE_AUTHORITY:
        /* /{tenant}/oauth2/v2.0/token; /adfs/... serves the server's tenant */
        if (r->nseg && !cf_str_eq_ci(r->seg[0], CF_STR("adfs")))
            snprintf(b->tid, sizeof(b->tid), "/TENANTS/%.*s", (int)CF_MIN(r->seg[0].len, 40),
                     r->seg[0].p);
        else
            snprintf(b->tid, sizeof(b->tid), "/TENANTS/%s", c->tenant_id);
        ev->resource_id = b->tid;
        if (r->route && r->route->handler == api_token)
            ev->identity.appid = token_client(r, b->client, sizeof(b->client));
        break;
    default:
        break;
    }
    if (r->audit.authed) {
        ev->identity.oid = r->who.object_id;
        ev->identity.appid = r->who.client_id;
    }
    /* What authorization decided, where it is known: let through (any status but a 403 the
     * handler itself chose for role assignments) or refused by the model in force. A
     * network-rule refusal says nothing about RBAC or policies. */
    if (model && c->rbac && r->route && !(r->route->flags & API_NOAUTH) && r->audit.authed) {
        bool net = r->audit.inner && (strcmp(r->audit.inner, "ForbiddenByFirewall") == 0 ||
                                      strcmp(r->audit.inner, "ForbiddenByConnection") == 0);
        if (status == 403 && !net && (r->audit.authz_checked || r->audit.authorized))
            *model = CF_AUDIT_NO;
        else if (r->audit.authorized && status != 403)
            *model = CF_AUDIT_YES;
    }
}

/* ---------------- the fast writer ---------------- */

/* Byte for byte what cf_audit_format writes, without its general JSON writer (measured: 2.7 us
 * a record; this path about a fifth of it): a typical record's strings are plain ASCII that
 * need no escaping and fit their caps, so they are copied; anything else (a quote, a control
 * character, UTF-8, an over-long field, a status without a reason word here) takes
 * cf_audit_format. The unit test holds both to the same output. */
#define F_URI 2048
#define F_DESC 1024
#define F_MID 512
#define F_FIELD 256

struct fw {
    char *p, *end;
    bool ok;
};

static void fw_raw(struct fw *w, const char *s, size_t n)
{
    if (!w->ok || (size_t)(w->end - w->p) < n) {
        w->ok = false;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

#define FW_LIT(w, lit) fw_raw((w), (lit), sizeof(lit) - 1)

/* Eight bytes at a time (SWAR): nonzero when a byte of v is below 0x20, 0x7f or above, '"' or
 * '\\' - a byte a JSON string would escape (or that the fast path leaves to format.c). */
#define SWAR_ONES 0x0101010101010101ull
#define SWAR_HIGH 0x8080808080808080ull
static uint64_t swar_zero(uint64_t v)
{
    return (v - SWAR_ONES) & ~v & SWAR_HIGH;
}

static uint64_t swar_special(uint64_t v)
{
    return ((v - SWAR_ONES * 0x20) & ~v & SWAR_HIGH) | (v & SWAR_HIGH) |
           swar_zero(v ^ (SWAR_ONES * 0x7f)) | swar_zero(v ^ (SWAR_ONES * '"')) |
           swar_zero(v ^ (SWAR_ONES * '\\'));
}

/* a..z to A..Z in eight plain ASCII bytes (no byte of v >= 0x80: swar_special passed) */
static uint64_t swar_upper(uint64_t v)
{
    uint64_t ge_a = v + SWAR_ONES * (0x80 - 'a'), gt_z = v + SWAR_ONES * (0x80 - 'z' - 1);
    return v ^ (((ge_a & ~gt_z) & SWAR_HIGH) >> 2);
}

/* A JSON string value needing no escape, within cap (else the slow path): checked and copied
 * eight bytes at a time (upper: ASCII upper-cased, as format.c's toupper does for these
 * bytes). The bytes checked are those strlen counted: nothing past the NUL is read. */
static void fw_str(struct fw *w, const char *s, size_t cap, bool upper)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)u), i = 0;
    char *o = w->p;

    if (!w->ok || n > cap || (size_t)(w->end - o) < n + 2) {
        w->ok = false;
        return;
    }
    *o++ = '"';
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, u + i, 8);
        if (swar_special(v)) {
            w->ok = false;
            return;
        }
        if (upper)
            v = swar_upper(v);
        memcpy(o + i, &v, 8);
    }
    for (; i < n; i++) {
        unsigned c = u[i];
        /* printable ASCII but the quote and the backslash */
        if (c - 0x20u > 0x5eu || c == '"' || c == '\\') {
            w->ok = false;
            return;
        }
        if (upper && c - 'a' < 26u)
            c -= 'a' - 'A';
        o[i] = (char)c;
    }
    o += n;
    *o++ = '"';
    w->p = o;
}

/* "key":"value" with a literal key (keys are plain). */
#define FW_KSTR(w, key, s, cap) (FW_LIT((w), ",\"" key "\":"), fw_str((w), (s), (cap), false))
#define FW_KOPT(w, key, s, cap)                                                                    \
    do {                                                                                           \
        if (s)                                                                                     \
            FW_KSTR((w), key, (s), (cap));                                                         \
    } while (0)

static void fw_int(struct fw *w, int64_t v)
{
    char t[24];
    char *e = t + sizeof(t), *q = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    fw_raw(w, q, (size_t)(e - q));
}

static void fw_flag(struct fw *w, const char *kq, size_t kn, enum cf_audit_flag f)
{
    if (f == CF_AUDIT_UNSET)
        return;
    fw_raw(w, kq, kn - 1);
    if (f == CF_AUDIT_YES)
        FW_LIT(w, "true");
    else
        FW_LIT(w, "false");
}

/* format.c's reason words for the statuses Coffer answers (NULL: take the slow path). */
static const char *fw_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "NoContent";
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "Conflict";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalServerError";
    case 503:
        return "ServiceUnavailable";
    default:
        return NULL;
    }
}

static bool fast_format(const struct cf_audit_event *ev, struct cf_buf *line)
{
    const char *rt = ev->result_type, *rs = ev->result_signature;
    char tbuf[32];
    struct fw w;

    if (!rs && !(rs = fw_reason(ev->http_status)))
        return false;
    if (!rt)
        rt = ev->http_status > 0 && ev->http_status < 400 ? "Success" : "Failure";
    if (cf_buf_reserve(line, 8192) != CF_OK)
        return false;
    w = (struct fw){line->data + line->len, line->data + line->cap - 1, true};
    cf_audit_time(ev->time_ms, tbuf);
    FW_LIT(&w, "{\"time\":");
    fw_str(&w, tbuf, 32, false);
    FW_LIT(&w, ",\"resourceId\":");
    fw_str(&w, ev->resource_id, F_MID, true);
    FW_KSTR(&w, "operationName", ev->operation_name, F_FIELD);
    FW_KSTR(&w, "operationVersion", ev->operation_version, F_FIELD);
    FW_LIT(&w, ",\"category\":\"AuditEvent\"");
    FW_KSTR(&w, "resultType", rt, F_FIELD);
    FW_KSTR(&w, "resultSignature", rs, F_FIELD);
    FW_KSTR(&w, "resultDescription", ev->result_description, F_DESC);
    FW_LIT(&w, ",\"durationMs\":\"");
    fw_int(&w, ev->duration_ms);
    FW_LIT(&w, "\"");
    FW_KSTR(&w, "callerIpAddress", ev->caller_ip, F_FIELD);
    FW_KSTR(&w, "correlationId", ev->correlation_id, F_FIELD);
    if (ev->identity.oid || ev->identity.appid || ev->identity.upn) {
        bool first = true;
        FW_LIT(&w, ",\"identity\":{\"claim\":{");
#define CLAIM(key, s, cap)                                                                         \
    if (s) {                                                                                       \
        if (first)                                                                                 \
            FW_LIT(&w, "\"" key "\":");                                                            \
        else                                                                                       \
            FW_LIT(&w, ",\"" key "\":");                                                           \
        fw_str(&w, (s), (cap), false);                                                             \
        first = false;                                                                             \
    }
        CLAIM("http://schemas.microsoft.com/identity/claims/objectidentifier", ev->identity.oid,
              F_FIELD)
        CLAIM("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", ev->identity.upn, F_MID)
        CLAIM("appid", ev->identity.appid, F_FIELD)
#undef CLAIM
        FW_LIT(&w, "}}");
    }
    FW_LIT(&w, ",\"properties\":{");
    {
        /* the first property has no leading comma: write them all with one, drop the first */
        char *start = w.p;
        FW_KOPT(&w, "id", ev->id, F_URI);
        FW_KOPT(&w, "clientInfo", ev->client_info, F_MID);
        FW_KOPT(&w, "requestUri", ev->request_uri, F_URI);
        if (ev->http_status) {
            FW_LIT(&w, ",\"httpStatusCode\":");
            fw_int(&w, ev->http_status);
        }
        fw_flag(&w, ",\"isAccessPolicyMatch\":", sizeof(",\"isAccessPolicyMatch\":"),
                ev->is_access_policy_match);
        fw_flag(&w, ",\"isRbacAuthorized\":", sizeof(",\"isRbacAuthorized\":"),
                ev->is_rbac_authorized);
        FW_KOPT(&w, "appliedAssignmentId", ev->applied_assignment_id, F_MID);
        FW_KOPT(&w, "tlsVersion", ev->tls_version, F_FIELD);
        if (w.ok && w.p > start) {
            memmove(start, start + 1, (size_t)(w.p - start - 1));
            w.p--;
        }
    }
    FW_LIT(&w, "}}");
    if (!w.ok)
        return false;
    *w.p = '\0';
    line->len = (size_t)(w.p - line->data);
    return true;
}

cf_err api_audit_format(const struct cf_audit_event *ev, struct cf_buf *line)
{
    size_t start = line->len;
    if (fast_format(ev, line))
        return CF_OK;
    line->len = start;
    if (line->data)
        line->data[start] = '\0';
    return cf_audit_format(ev, line);
}

static cf_err format(struct api_req *r, int status)
{
    struct rec_bufs b;
    struct cf_audit_event ev;

    build(r, status, &ev, &b);
    cf_buf_reset(&r->audit.line);
    return api_audit_format(&ev, &r->audit.line);
}

/* The formatted line as the outbox row: its compact form, written into the buffer's spare
 * room and moved to its start, so line->data (which pend_add and pend_decide identify the
 * request by) stays put. No room to grow: the full line is a valid row too (it expands to
 * itself). CF_EINVAL for a line holding a byte below 0x20 - never a formatted one, but such a
 * row would not expand to itself, so the write must not carry it. */
static cf_err compact_line(struct cf_buf *line)
{
    size_t n = line->len, m;

    if (cf_buf_reserve(line, n) != CF_OK)
        return CF_OK;
    if (!cf_audit_compact_raw(line->data, n, line->data + n, &m))
        return CF_EINVAL;
    memmove(line->data, line->data + n, m);
    line->len = m;
    line->data[m] = '\0';
    return CF_OK;
}

/* ---------------- create or update: the status of a carried record ----------------
 *
 * A create-or-update route's record is formatted (with 200) and bound to its write before the
 * handler runs, and only the write's transaction knows whether it created. The store commits
 * the line as bound; the status is patched in before the line is chained:
 *   api_audit_run     registers the line (pend_add) before the handler writes
 *   api_audit_reply   decides it (pend_decide): the reply's status when the write committed
 *                     and the reply is a success; dropped when nothing committed
 *   drain_row         a row equal to a registered line waits (the drain stops before it and is
 *                     kicked by the decision) until decided, then is chained with the decided
 *                     status (patch_status) and the entry dropped
 * Invariant: the reply is sent only after pend_decide, so a client that saw 201 has its 201 in
 * memory before the drainer can chain the row. Limits: an entry undecided for PEND_WAIT_MS, a
 * full table, or a crash between the reply and the drain (the row is drained at the next
 * start as committed) leave 200 - what every such record said before. */

/* FNV-1a over the line: identifies a row as a registered line (with its length). */
static uint64_t line_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

/* Under al->mu (npend is written only there; read without it, atomically, as a hint). */
static void pend_drop(struct api_audit_log *al, size_t i)
{
    size_t n = al->npend - 1;
    al->pend[i] = al->pend[n];
    __atomic_store_n(&al->npend, n, __ATOMIC_RELEASE);
}

/* Registers the request's bound line (again when a deferred handler re-runs). */
static void pend_add(struct api_audit_log *al, const struct cf_buf *line)
{
    uint64_t h = line_hash(line->data, line->len);
    size_t i;

    pthread_mutex_lock(&al->mu);
    /* Entries that can no longer match a row: undecided past the wait (a line re-formatted
     * into a moved buffer by a re-run handler, a reply that never came). */
    for (i = al->npend; i-- > 0;)
        if (al->pend[i].status == 0 && cf_mono_ms() - al->pend[i].since_ms >= PEND_WAIT_MS)
            pend_drop(al, i);
    for (i = 0; i < al->npend; i++)
        if (al->pend[i].status == 0 && al->pend[i].line == line->data)
            break;
    if (i == al->npend && al->npend < PEND_MAX)
        __atomic_store_n(&al->npend, al->npend + 1, __ATOMIC_RELEASE);
    if (i < al->npend)
        al->pend[i] = (struct pend){h, line->len, ++al->pend_tags, line->data, 0, cf_mono_ms()};
    pthread_mutex_unlock(&al->mu);
}

/* The reply of a registered request: status when its write committed, else no row exists. */
static void pend_decide(struct api_audit_log *al, const struct api_req *r, int status)
{
    if (!__atomic_load_n(&al->npend, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&al->mu);
    for (size_t i = 0; i < al->npend; i++) {
        if (al->pend[i].status != 0 || al->pend[i].line != r->audit.line.data)
            continue;
        if (!r->audit.slot.committed) {
            pend_drop(al, i);
        } else {
            al->pend[i].status = status >= 200 && status < 300 ? status : 200;
            al->pend[i].line = NULL; /* the request may be recycled from now on */
            al->kick = true;
            pthread_cond_signal(&al->cv);
        }
        break;
    }
    pthread_mutex_unlock(&al->mu);
}

enum pend_verdict { PEND_NONE, PEND_WAIT, PEND_DECIDED };

/* For a drained row (h: its line_hash): PEND_DECIDED with *status and the entry's *tag, or
 * PEND_WAIT while its request has not replied, PEND_NONE when the row was never registered.
 * Equal lines (two requests alike to the millisecond) are not told apart: any decided entry
 * among them serves, each once, so together they still say what the replies said. The entry
 * stays until pend_forget (the row is in the log). */
static enum pend_verdict pend_take(struct api_audit_log *al, struct cf_str row, uint64_t h,
                                   int *status, uint64_t *tag)
{
    enum pend_verdict v = PEND_NONE;
    int64_t now = cf_mono_ms();

    pthread_mutex_lock(&al->mu);
    for (size_t i = 0; i < al->npend; i++) {
        struct pend *p = &al->pend[i];
        if (p->len != row.len || p->hash != h)
            continue;
        if (p->status == 0 && now - p->since_ms < PEND_WAIT_MS) {
            v = PEND_WAIT; /* unless a decided one comes later in the table */
            continue;
        }
        *status = p->status ? p->status : 200;
        *tag = p->tag;
        v = PEND_DECIDED;
        break;
    }
    pthread_mutex_unlock(&al->mu);
    return v;
}

static void pend_forget(struct api_audit_log *al, uint64_t tag)
{
    pthread_mutex_lock(&al->mu);
    for (size_t i = 0; i < al->npend; i++) {
        if (al->pend[i].tag == tag) {
            pend_drop(al, i);
            break;
        }
    }
    pthread_mutex_unlock(&al->mu);
}

/* Replaces ,"resultSignature":"OK" and ,"httpStatusCode":200 of a 200 line (as build() and
 * the formatters write it) by the reason and code of status into out. False (line unchanged)
 * when the line does not hold them or status has no reason word. */
static bool patch_status(struct cf_str line, int status, struct cf_buf *out)
{
    static const char sig[] = ",\"resultSignature\":\"OK\"",
                      code[] = ",\"httpStatusCode\":200";
    const char *reason = status == 201 ? "Created" : status == 202 ? "Accepted"
                                                   : status == 204 ? "NoContent" : NULL;
    const char *a, *b, *end = line.p + line.len;
    char num[8];

    if (!reason)
        return false;
    a = memmem(line.p, line.len, sig, sizeof(sig) - 1);
    b = a ? memmem(a, (size_t)(end - a), code, sizeof(code) - 1) : NULL;
    if (!b)
        return false;
    snprintf(num, sizeof(num), "%d", status);
    cf_buf_reset(out);
    return cf_buf_append(out, line.p, (size_t)(a - line.p)) == CF_OK &&
           cf_buf_puts(out, ",\"resultSignature\":\"") == CF_OK &&
           cf_buf_puts(out, reason) == CF_OK && cf_buf_putc(out, '"') == CF_OK &&
           cf_buf_append(out, a + sizeof(sig) - 1, (size_t)(b - a - (sizeof(sig) - 1))) == CF_OK &&
           cf_buf_puts(out, ",\"httpStatusCode\":") == CF_OK && cf_buf_puts(out, num) == CF_OK &&
           cf_buf_append(out, b + sizeof(code) - 1, (size_t)(end - b - (sizeof(code) - 1))) ==
               CF_OK;
}

/* ---------------- the request path ---------------- */

/* Writes worker w's batch (one write) and then sends its held responses, each as asked or,
 * when its record could not be written, as 503. */
static void flush_batch(struct api_audit_log *al, int w)
{
    struct audit_batch *b = &al->batches[w];
    struct audit_held held[CF_AUDIT_MAX_BATCH];
    bool ok[CF_AUDIT_MAX_BATCH];
    size_t n = b->n;
    cf_err e, first = CF_OK;

    if (n == 0)
        return;
    e = cf_audit_append_batch(al->lanes[w], b->lines, n);
    for (size_t i = 0; i < n; i++)
        ok[i] = e == CF_OK;
    if (e == CF_EINVAL || e == CF_ETOOBIG) {
        /* a line the log refuses (never cf_audit_format's) fails its own request only */
        for (size_t i = 0; i < n; i++) {
            cf_err ei = cf_audit_append(al->lanes[w], b->lines[i], false);
            ok[i] = ei == CF_OK;
            if (ei && !first)
                first = ei;
        }
    } else {
        first = e;
    }
    if (first)
        set_failing(al, first, "appending a record");
    else
        clear_failing(al);
    /* Sending may run code that holds the next response: start the next batch first. */
    memcpy(held, b->held, n * sizeof(held[0]));
    b->n = 0;
    for (size_t i = 0; i < n; i++)
        api_send_recorded(held[i].r, held[i].status, held[i].with_body, ok[i]);
}

static void flush_later(void *ctx, int worker)
{
    struct api_audit_log *al = ctx;
    if (worker >= 0 && (size_t)worker < al->nlanes)
        flush_batch(al, worker);
}

enum api_audit_verdict api_audit_reply(struct api_req *r, int status, bool with_body)
{
    struct api_audit_log *al = r->api->alog;
    int w;
    cf_err e;

    if (!al || r->audit.recorded)
        return API_AUDIT_SEND;
    r->audit.recorded = true;
    pend_decide(al, r, status); /* before the line buffer is reused, and before sending */
    /* Committed with the write: the outbox line says what a success answers. */
    if (r->audit.slot.committed && status >= 200 && status < 300)
        return API_AUDIT_SEND;
    e = format(r, status);
    if (!e) {
        /* On a worker thread (the batch is that thread's own): hold it for the pass's flush. */
        w = cf_http_later(flush_later, al);
        if (w >= 0 && (size_t)w < al->nlanes) {
            struct audit_batch *b = &al->batches[w];
            b->held[b->n] = (struct audit_held){r, status, with_body};
            b->lines[b->n] = cf_buf_str(&r->audit.line);
            if (++b->n == CF_AUDIT_MAX_BATCH)
                flush_batch(al, w); /* sends r too */
            return API_AUDIT_HELD;
        }
        e = cf_audit_append(
            al->lanes[(size_t)(r->http->worker < 0 ? 0 : r->http->worker) % al->nlanes],
            cf_buf_str(&r->audit.line), false);
    }
    if (e) {
        set_failing(al, e, "appending a record");
        return API_AUDIT_FAILED;
    }
    clear_failing(al);
    return API_AUDIT_SEND;
}

bool api_audit_write_ok(struct api_req *r)
{
    struct api_audit_log *al = r->api->alog;
    if (!al || !route_writes(r->route) || !is_failing(al))
        return true;
    api_error(r, 503, "ServiceUnavailable", NULL,
              "The audit log cannot be written: the request was not processed. Retry later.");
    return false;
}

void api_audit_run(struct api_req *r)
{
    const struct api_route *rt = r->route;
    bool bind = r->api->alog && route_writes(rt);

    if (bind) {
        /* fail closed: a write whose record cannot even be formatted does not run. The bound
         * line is the compact row: pend_add hashes the bytes drain_row's pend_take will see;
         * api_audit_reply formats the full line again for any record it writes itself. */
        if (format(r, success_status(rt->operation)) != CF_OK ||
            compact_line(&r->audit.line) != CF_OK) {
            api_error(r, 503, "ServiceUnavailable", NULL,
                      "The audit record could not be prepared. Retry later.");
            return;
        }
        r->audit.slot = (struct cf_store_audit){cf_buf_str(&r->audit.line), false};
        if (may_create(rt->operation))
            pend_add(r->api->alog, &r->audit.line);
        cf_store_audit_bind(&r->audit.slot);
    }
    rt->handler(r); /* r may be answered and recycled from here on */
    if (bind)
        cf_store_audit_bind(NULL);
}

/* ---------------- the drainer ---------------- */

/* Rows of one cf_store_outbox_read, appended CF_AUDIT_MAX_BATCH at a time with one write each
 * (one write per row was most of what the log spent on a SET's record). The store's row memory
 * is valid during its callback only: the lines are copied into al->rows. */
struct drain_ctx {
    struct api_audit_log *al;
    int64_t last; /* highest id appended */
    size_t n;     /* rows appended */
    cf_err e;
    bool blocked; /* stopped before a row whose request has not replied yet */
    size_t k;     /* rows held */
    int64_t id[CF_AUDIT_MAX_BATCH];
    size_t off[CF_AUDIT_MAX_BATCH], len[CF_AUDIT_MAX_BATCH];
    uint64_t tag[CF_AUDIT_MAX_BATCH]; /* the pend entry of a registered row (pend[i]) */
    bool pend[CF_AUDIT_MAX_BATCH];
};

/* One row alone (a row the batch could not hold, or the rows of a batch the log refused as
 * invalid: only the bad row is left out, said so - it would block every later one). */
static bool drain_one(struct drain_ctx *d, struct cf_str line, int64_t id, bool pend, uint64_t tag)
{
    d->e = cf_audit_append_outbox(d->al->lanes[0], line, id, false);
    if (d->e == CF_EINVAL || d->e == CF_ETOOBIG) {
        cf_error("audit: outbox row %lld is not a valid record; skipped", (long long)id);
        d->e = CF_OK;
    }
    if (d->e)
        return false;
    if (pend)
        pend_forget(d->al, tag);
    d->last = id;
    d->n++;
    return true;
}

/* Appends the held rows with one write. */
static bool drain_flush(struct drain_ctx *d)
{
    struct api_audit_log *al = d->al;
    struct cf_str lines[CF_AUDIT_MAX_BATCH];
    size_t k = d->k;

    if (k == 0)
        return true;
    d->k = 0;
    for (size_t i = 0; i < k; i++)
        lines[i] = (struct cf_str){al->rows.data + d->off[i], d->len[i]};
    d->e = cf_audit_append_outbox_batch(al->lanes[0], lines, d->id, k);
    if (d->e == CF_EINVAL || d->e == CF_ETOOBIG) {
        for (size_t i = 0; i < k; i++)
            if (!drain_one(d, lines[i], d->id[i], d->pend[i], d->tag[i]))
                return false; /* rows before i are in; d->last says so */
        return true;
    }
    if (d->e)
        return false;
    for (size_t i = 0; i < k; i++)
        if (d->pend[i])
            pend_forget(al, d->tag[i]);
    d->last = d->id[k - 1];
    d->n += k;
    return true;
}

/* line is the row as stored (compact, or full JSON from an older build): it is expanded into
 * al->expanded first (patch_status and the log want the full line), while the pend table is
 * matched on the stored bytes (what api_audit_run registered). A row that does not expand is
 * skipped like a row the log refuses (it would block every later one); only a memory failure
 * stops the drain to retry. */
static bool drain_row(void *ctx, int64_t id, struct cf_str line)
{
    struct drain_ctx *d = ctx;
    struct api_audit_log *al = d->al;
    struct cf_str rec;
    bool pend = __atomic_load_n(&al->npend, __ATOMIC_ACQUIRE) != 0;
    uint64_t tag = 0;
    int status = 200;
    cf_err e;

    cf_buf_reset(&al->expanded);
    if ((e = cf_audit_expand(line, &al->expanded)) != CF_OK) {
        if (e != CF_EINVAL && e != CF_ETOOBIG) {
            d->e = e;
            return false;
        }
        if (!drain_flush(d)) /* the rows before it first: d->last only grows */
            return false;
        cf_error("audit: outbox row %lld is not a valid record; skipped", (long long)id);
        d->last = id;
        d->n++;
        return true;
    }
    rec = cf_buf_str(&al->expanded);
    if (pend) {
        enum pend_verdict v = pend_take(al, line, line_hash(line.p, line.len), &status, &tag);
        if (v == PEND_WAIT) {
            d->blocked = true;
            return false;
        }
        pend = v == PEND_DECIDED;
        if (pend && status != 200 && patch_status(rec, status, &al->patched))
            rec = cf_buf_str(&al->patched);
    }
    if (d->k == 0)
        cf_buf_reset(&al->rows);
    d->off[d->k] = al->rows.len;
    if (cf_buf_append(&al->rows, rec.p, rec.len) != CF_OK)
        return drain_flush(d) && drain_one(d, rec, id, pend, tag); /* no room to hold it */
    d->id[d->k] = id;
    d->len[d->k] = rec.len;
    d->tag[d->k] = tag;
    d->pend[d->k] = pend;
    if (++d->k == CF_AUDIT_MAX_BATCH)
        return drain_flush(d);
    return true;
}

/* Appends what the outbox holds beyond al->last to the log (not yet synced: see flush).
 * Returns true when a full batch was moved (more may wait). */
static bool drain_once(struct api_audit_log *al)
{
    struct drain_ctx d = {.al = al};
    cf_err e = cf_store_outbox_read(al->store, al->last, DRAIN_BATCH, drain_row, &d);

    if (!d.e)
        (void)drain_flush(&d); /* the rows still held at the end (or before a stop) */
    if (e) {
        cf_warn("audit: reading the outbox failed (%s); will retry", cf_err_name(e));
        return false;
    }
    if (d.n)
        al->last = d.last; /* appended (a failed write stops the drain after the good rows) */
    if (d.e) {
        set_failing(al, d.e, "moving write records from the outbox");
        return false;
    }
    if (!d.n)
        return false;
    clear_failing(al);
    return !d.blocked && d.n == DRAIN_BATCH;
}

/* Syncs the log and deletes the rows it now durably holds: when forced, or FLUSH_MS after the
 * last flush, or past FLUSH_ROWS pending rows. Only durable records leave the outbox; a failed
 * delete is redone next time (the log skips ids it holds). */
static void flush(struct api_audit_log *al, bool force)
{
    int64_t now = cf_mono_ms();
    cf_err e;

    if (al->last <= al->flushed ||
        (!force && now - al->flush_ms < FLUSH_MS && al->last - al->flushed < FLUSH_ROWS))
        return;
    al->flush_ms = now;
    e = cf_audit_sync(al->lanes[0]);
    if (e) {
        set_failing(al, e, "syncing write records moved from the outbox");
        return;
    }
    e = cf_store_outbox_delete(al->store, al->last);
    if (e) {
        cf_warn("audit: deleting drained outbox rows failed (%s); will retry", cf_err_name(e));
        return;
    }
    al->flushed = al->last;
}

static void on_commit(void *ctx)
{
    struct api_audit_log *al = ctx;
    pthread_mutex_lock(&al->mu);
    al->kick = true;
    pthread_cond_signal(&al->cv);
    pthread_mutex_unlock(&al->mu);
}

static void *drain_main(void *arg)
{
    struct api_audit_log *al = arg;

    pthread_mutex_lock(&al->mu);
    while (!al->stop) {
        if (!al->kick) {
            /* rows awaiting their flush: wake up in time for it */
            int64_t wait_ms = al->last > al->flushed ? FLUSH_MS : DRAIN_IDLE_MS;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&al->cv, &al->mu, &ts);
            if (al->stop)
                break;
        }
        al->kick = false;
        pthread_mutex_unlock(&al->mu);
        while (drain_once(al))
            ;
        flush(al, false);
        pthread_mutex_lock(&al->mu);
    }
    pthread_mutex_unlock(&al->mu);
    return NULL;
}

cf_err api_audit_start(struct cf_api *api)
{
    struct api_audit_log *al;
    pthread_condattr_t ca;
    int64_t floor;
    cf_err e;

    if (!api->cfg.audit || !api->cfg.audit_lanes)
        return CF_OK;
    if (!api->cfg.store)
        return CF_EINVAL;
    for (size_t i = 0; i < api->cfg.audit_lanes; i++)
        if (!api->cfg.audit[i])
            return CF_EINVAL;
    al = calloc(1, sizeof(*al));
    if (!al)
        return CF_ENOMEM;
    al->lanes = api->cfg.audit;
    al->nlanes = api->cfg.audit_lanes;
    al->batches = calloc(al->nlanes, sizeof(*al->batches));
    if (!al->batches) {
        free(al);
        return CF_ENOMEM;
    }
    al->store = api->cfg.store;
    cf_buf_init(&al->expanded, CF_AUDIT_MAX_LINE);
    cf_buf_init(&al->patched, CF_AUDIT_MAX_LINE);
    cf_buf_init(&al->rows, (size_t)CF_AUDIT_MAX_BATCH * 4096);
    pthread_mutex_init(&al->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&al->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Rows of an earlier run first (ids the log holds are skipped), then make sure the store
     * never hands out an id the log already has (a replaced or restored database). */
    while (drain_once(al))
        ;
    flush(al, true);
    if (is_failing(al))
        cf_error("audit: the outbox could not be moved into the audit log at start-up; "
                 "writes are refused until it can");
    floor = cf_audit_last_outbox_id(al->lanes[0]);
    if ((e = cf_store_outbox_floor(al->store, floor)))
        goto fail;
    cf_store_outbox_notify(al->store, on_commit, al);
    if (pthread_create(&al->thr, NULL, drain_main, al) != 0) {
        cf_store_outbox_notify(al->store, NULL, NULL);
        e = CF_ENOMEM;
        goto fail;
    }
    pthread_setname_np(al->thr, "cf-audit-drain"); /* top -H, perf */
    al->started = true;
    api->alog = al;
    return CF_OK;
fail:
    pthread_cond_destroy(&al->cv);
    pthread_mutex_destroy(&al->mu);
    cf_buf_release(&al->expanded);
    cf_buf_release(&al->patched);
    cf_buf_release(&al->rows);
    free(al->batches);
    free(al);
    return e;
}

void api_audit_stop(struct cf_api *api)
{
    struct api_audit_log *al = api->alog;

    if (!al)
        return;
    cf_store_outbox_notify(al->store, NULL, NULL);
    pthread_mutex_lock(&al->mu);
    al->stop = true;
    pthread_cond_signal(&al->cv);
    pthread_mutex_unlock(&al->mu);
    if (al->started)
        pthread_join(al->thr, NULL);
    while (drain_once(al)) /* what committed while it stopped; the rest waits for the next run */
        ;
    flush(al, true);
    pthread_cond_destroy(&al->cv);
    pthread_mutex_destroy(&al->mu);
    cf_buf_release(&al->expanded);
    cf_buf_release(&al->patched);
    cf_buf_release(&al->rows);
    free(al->batches);
    free(al);
    api->alog = NULL;
}

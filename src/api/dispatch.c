/* dispatch.c - from an HTTP request to a route handler.
 *
 * Order of checks (azure-kv-common.md §12): classify by Host; on the data plane a request
 * without a valid bearer token gets the 401 challenge before its path, query or body are looked
 * at (the SDKs' first request is bodyless); then api-version; then the route; then the
 * vault. Handlers of API_WRITE routes run on a blocking pool because they wait for the
 * store's group commit; everything else runs inline on the event loop that received it, and a
 * handler with CPU-heavy work (a key operation with an RSA private key, a P-384/P-521 curve, an
 * HSM, a key not cached yet) hands itself to the CPU pool with api_defer: one thread per core.
 * Measured (bench/results, 2 cores): the crypto routes used to hop to the 64-thread write pool
 * - 64 threads each waking for one signature and sleeping again; ES256 paid the hop for a
 * 25 us signature and cost ~40 % more CPU per request than inline.
 * The CPU pool wakes the workers in batches while it has a backlog (pool_main): under a sign
 * flood every answer used to wake its worker's loop on its own, and the wakes and the
 * preemptions they caused were ~20 % of an RS256 sign's CPU, more than the HTTP work.
 *
 * Also here: query/path decoding into one scratch buffer that is sized once and never
 * reallocated (so the cf_str views into it stay valid), and the blocking pool. */
#include "base/cf.h"
#include "api/internal.h"
#include "base/clock.h"
#include "base/codec.h"
#include "base/log.h"
#include "auth/throttle.h"
#include "metrics/metrics.h"
#include "crypto/crypto.h"

#include <pthread.h>
#include <unistd.h>

/* ---------------- blocking pool ---------------- */

struct api_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct api_req **ring; /* FIFO of pending requests */
    size_t cap, head, len;
    bool stop;
    size_t nthreads;
    size_t wake_batch; /* 0: each answer wakes its worker; else see pool_main */
    pthread_t *threads;
};

/* Wake batching (wake_batch > 0, the CPU pool): a thread that takes a job while more are
 * queued holds the wakes of the workers it answers (cf_http_hold_wakes) and fires them after
 * wake_batch jobs, once the first held answer has waited API_WAKE_HOLD_US, or as soon as it
 * finds the queue empty - so an answer waits for at most wake_batch - 1 further jobs of its
 * thread and no longer than the bound plus one job, and only while the pool is saturated (the
 * queue's own wait is then longer); with no backlog each answer wakes its worker at once.
 * The time bound keeps slow jobs (RSA-4096: ~5 ms) from holding an answer for several.
 * Measured on 2 cores, RS256 flood on 64 connections: a worker slept/woke 1.45 times per sign
 * and the pool threads were preempted 1.1 times; with batches of 4, 0.7 and 0.45. */
#define API_WAKE_BATCH 4
#define API_WAKE_HOLD_US 1000

static void *pool_main(void *arg)
{
    struct api_pool *p = arg;
    size_t held = 0;        /* jobs answered since this thread's wakes were last fired */
    int64_t held_since = 0; /* when the first of them was answered (us) */

    for (;;) {
        struct api_req *r;
        bool more;

        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->len == 0) {
            if (held) { /* never sleep on held wakes */
                pthread_mutex_unlock(&p->mu);
                cf_http_wake_held();
                held = 0;
                pthread_mutex_lock(&p->mu);
                continue;
            }
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (p->len == 0) {
            pthread_mutex_unlock(&p->mu);
            if (held)
                cf_http_wake_held();
            return NULL;
        }
        r = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        more = p->len > 0;
        pthread_mutex_unlock(&p->mu);
        if (p->wake_batch && (more || held))
            cf_http_hold_wakes();
        if (r->deferred)
            r->route->handler(r); /* api_defer: not a write, no record to bind */
        else
            api_audit_run(r);
        if (p->wake_batch && (more || held)) {
            int64_t now = cf_metrics_now_us();
            if (held++ == 0)
                held_since = now;
            if (held >= p->wake_batch || !more || now - held_since >= API_WAKE_HOLD_US) {
                cf_http_wake_held();
                held = 0;
            }
        }
    }
}

static struct api_pool *pool_new(size_t nthreads, size_t cap, size_t wake_batch)
{
    struct api_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->cap = cap;
    p->wake_batch = wake_batch;
    p->ring = calloc(cap, sizeof(*p->ring));
    p->threads = calloc(nthreads, sizeof(*p->threads));
    if (!p->ring || !p->threads)
        goto fail;
    for (; p->nthreads < nthreads; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, pool_main, p) != 0)
            goto fail;
        else
            pthread_setname_np(p->threads[p->nthreads], "cf-cpu-pool"); /* top -H, perf */
    return p;
fail:
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->ring);
    free(p->threads);
    free(p);
    return NULL;
}

/* False when the queue is full: the caller sheds the request with 503. */
static bool pool_submit(struct api_pool *p, struct api_req *r)
{
    bool ok = false;
    pthread_mutex_lock(&p->mu);
    if (!p->stop && p->len < p->cap) {
        p->ring[(p->head + p->len) % p->cap] = r;
        p->len++;
        ok = true;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static void pool_free(struct api_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->ring);
    free(p->threads);
    free(p);
}

/* ---------------- request objects ---------------- */

#define API_FREE_MAX 1024
#define API_AUDIT_LINE_MAX (128 * 1024) /* above CF_AUDIT_MAX_LINE, which format stays under */

static void req_clear(struct api_req *r)
{
    struct cf_buf scratch = r->scratch, out = r->out, aline = r->audit.line;
    size_t out_clean = r->out_clean;

    cf_json_free(r->body);
    /* out may have held a secret value or a token. Bytes enter out by appending (cf_buf,
     * cf_jw), and the one shrink that can follow a secret (error_body in reply.c) wipes what it
     * drops (the handlers that reset out themselves, in h_arm.c and h_rbac.c, drop only
     * metadata), so this request left nothing secret past len + 1 in the part that was zero
     * before it (out_clean). Past that, out grew this request (malloc/realloc'd memory holds whatever
     * was there): wipe it all, once. Steady state, a recycled buffer is wiped over its used
     * length only: the whole 8 KB a bundle reserves cost a SET 0.7 µs of the acker. */
    if (out.data) {
        if (out.cap > out_clean) {
            cf_wipe(out.data, out.cap);
            out_clean = out.cap;
        } else {
            cf_wipe(out.data, CF_MIN(out.len + 1, out.cap));
        }
    }
    cf_buf_reset(&scratch);
    cf_buf_reset(&out);
    cf_buf_reset(&aline); /* a record holds nothing secret */
    memset(r, 0, sizeof(*r));
    r->scratch = scratch;
    r->out = out;
    r->out_clean = out_clean;
    r->audit.line = aline;
}

struct api_req *api_req_get(struct cf_api *api)
{
    struct api_req *r;

    pthread_mutex_lock(&api->free_mu);
    r = api->free_list;
    if (r) {
        api->free_list = r->next_free;
        api->free_count--;
    }
    api->live++;
    pthread_mutex_unlock(&api->free_mu);
    if (r) {
        r->next_free = NULL;
    } else {
        r = calloc(1, sizeof(*r));
        if (!r) {
            pthread_mutex_lock(&api->free_mu);
            api->live--;
            pthread_mutex_unlock(&api->free_mu);
            return NULL;
        }
        cf_buf_init(&r->scratch, CF_MAX_HEADER_BYTES * 2);
        cf_buf_init(&r->out, 4 * CF_MAX_BODY_BYTES);
        cf_buf_init(&r->audit.line, API_AUDIT_LINE_MAX);
    }
    r->api = api;
    return r;
}

void api_req_put(struct api_req *r)
{
    struct cf_api *api = r->api;

    req_clear(r);
    /* Oversized buffers (a 25 KB secret, a long list) are not kept. */
    if (r->out.cap > 16384 || r->scratch.cap > 16384 || r->audit.line.cap > 16384) {
        cf_buf_release(&r->out);
        cf_buf_release(&r->scratch);
        cf_buf_release(&r->audit.line);
        r->out_clean = 0;
        cf_buf_init(&r->scratch, CF_MAX_HEADER_BYTES * 2);
        cf_buf_init(&r->out, 4 * CF_MAX_BODY_BYTES);
        cf_buf_init(&r->audit.line, API_AUDIT_LINE_MAX);
    }
    pthread_mutex_lock(&api->free_mu);
    if (api->free_count < API_FREE_MAX) {
        r->next_free = api->free_list;
        api->free_list = r;
        api->free_count++;
        r = NULL;
    }
    if (--api->live == 0)
        pthread_cond_broadcast(&api->idle_cv);
    pthread_mutex_unlock(&api->free_mu);
    if (r) {
        cf_buf_release(&r->out);
        cf_buf_release(&r->scratch);
        cf_buf_release(&r->audit.line);
        free(r);
    }
}

/* ---------------- life cycle ---------------- */

struct cf_api *cf_api_new(const struct cf_api_config *cfg, cf_err *err)
{
    struct cf_api *api = calloc(1, sizeof(*api));
    long ncpu;

    if (!api) {
        *err = CF_ENOMEM;
        return NULL;
    }
    api->cfg = *cfg;
    pthread_mutex_init(&api->free_mu, NULL);
    pthread_cond_init(&api->idle_cv, NULL);
    if (cf_random(&api->rid_prefix, sizeof(api->rid_prefix)) != CF_OK) {
        free(api);
        *err = CF_ECRYPTO;
        return NULL;
    }
    if (!api->cfg.region)
        api->cfg.region = "local";
    api->pool = pool_new(cfg->pool_threads > 0 ? (size_t)cfg->pool_threads : 64, 4096, 0);
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    api->cpool = api->pool ? pool_new(ncpu > 0 ? (size_t)ncpu : 1, 4096, API_WAKE_BATCH) : NULL;
    if (!api->cpool) {
        pool_free(api->pool);
        free(api);
        *err = CF_ENOMEM;
        return NULL;
    }
    if ((*err = api_audit_start(api)) != CF_OK) {
        pool_free(api->cpool);
        pool_free(api->pool);
        free(api);
        return NULL;
    }
    /* The store's acker answers a committed batch of SETs in a row: one wake per worker. */
    if (cfg->store)
        cf_store_set_ack_hooks(cfg->store, cf_http_hold_wakes, cf_http_wake_held);
    return api;
}

/* Waits until every request handed out has been answered and put back: the pools are
 * joined, but an asynchronous write answers from the store's acker thread. Bounded, so a
 * request that is never answered cannot hang shutdown; false then (the caller must not free). */
static bool wait_idle(struct cf_api *api)
{
    struct timespec until;
    int rc = 0;
    bool idle;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&api->free_mu);
    while (api->live > 0 && rc == 0)
        rc = pthread_cond_timedwait(&api->idle_cv, &api->free_mu, &until);
    idle = api->live == 0;
    pthread_mutex_unlock(&api->free_mu);
    return idle;
}

void cf_api_free(struct cf_api *api)
{
    if (!api)
        return;
    pool_free(api->cpool);
    pool_free(api->pool);
    if (api->cfg.store)
        cf_store_set_ack_hooks(api->cfg.store, NULL, NULL);
    if (!wait_idle(api)) {
        /* leaked on purpose: freeing under a late answer would be a use after free */
        cf_warn("api: requests still unanswered at shutdown; not freeing their state");
        return;
    }
    api_audit_stop(api); /* after the last handler: one more drain of the outbox */
    while (api->free_list) {
        struct api_req *r = api->free_list;
        api->free_list = r->next_free;
        cf_buf_release(&r->out);
        cf_buf_release(&r->scratch);
        cf_buf_release(&r->audit.line);
        free(r);
    }
    pthread_cond_destroy(&api->idle_cv);
    pthread_mutex_destroy(&api->free_mu);
    free(api);
}

/* ---------------- parsing ---------------- */

/* Splits Host into name and port; a ":443" port is dropped (ids omit it, as Azure's do). */
static void split_host(struct api_req *r)
{
    struct cf_str h = r->host;
    size_t i = h.len;

    r->hostname = h;
    r->port = CF_STR("");
    if (h.len && h.p[0] == '[') { /* [::1]:8443 */
        const char *close = memchr(h.p, ']', h.len);
        if (close) {
            r->hostname = (struct cf_str){h.p, (size_t)(close - h.p) + 1};
            if ((size_t)(close - h.p) + 1 < h.len)
                r->port = (struct cf_str){close + 1, h.len - r->hostname.len};
        }
    } else {
        while (i > 0 && h.p[i - 1] != ':')
            i--;
        if (i > 0) {
            r->hostname = (struct cf_str){h.p, i - 1};
            r->port = (struct cf_str){h.p + i - 1, h.len - i + 1};
        }
    }
    if (cf_str_eq_cstr(r->port, ":443"))
        r->port = CF_STR("");
}

/* The port is echoed into ids, nextLinks and the challenge: only ":" and 1-5 digits may be. */
static bool port_ok(struct cf_str port)
{
    if (port.len == 0)
        return true;
    if (port.len < 2 || port.len > 6 || port.p[0] != ':')
        return false;
    for (size_t i = 1; i < port.len; i++)
        if (port.p[i] < '0' || port.p[i] > '9')
            return false;
    return true;
}

static bool host_is(struct cf_str hostname, const char *want)
{
    return cf_str_eq_ci(hostname, cf_str_from(want));
}

static enum api_plane classify(struct api_req *r, struct cf_str *vault_name)
{
    const struct cf_api_config *c = &r->api->cfg;
    struct cf_str suffix = cf_str_from(c->dns_suffix);
    struct cf_str hn = r->hostname;

    if (host_is(hn, c->login_host))
        return API_PLANE_AUTHORITY;
    if (host_is(hn, c->management_host))
        return API_PLANE_MGMT;
    if (hn.len > suffix.len + 1 && hn.p[hn.len - suffix.len - 1] == '.' &&
        cf_str_eq_ci((struct cf_str){hn.p + hn.len - suffix.len, suffix.len}, suffix)) {
        *vault_name = (struct cf_str){hn.p, hn.len - suffix.len - 1};
        if (memchr(vault_name->p, '.', vault_name->len) == NULL)
            return API_PLANE_DATA;
    }
    return API_PLANE_NONE;
}

/* Decodes path segments and query parameters into r->scratch (reserved once: decoding never
 * grows text, so views into scratch stay valid). */
static cf_err parse_target(struct api_req *r)
{
    struct cf_str path = r->http->path, query = r->http->query;
    cf_err e;
    size_t i = 0;

    e = cf_buf_reserve(&r->scratch, path.len + query.len + 16);
    if (e)
        return e;
    while (i < path.len) {
        size_t j = i, start;
        while (j < path.len && path.p[j] != '/')
            j++;
        if (j > i) {
            if (r->nseg == API_MAX_SEGS)
                return CF_EBADPARAM;
            start = r->scratch.len;
            e = cf_pct_decode(&r->scratch, (struct cf_str){path.p + i, j - i}, false);
            if (e)
                return CF_EBADPARAM;
            r->seg[r->nseg++] = (struct cf_str){r->scratch.data + start, r->scratch.len - start};
        }
        i = j + 1;
    }
    i = 0;
    while (i < query.len) {
        size_t j = i, eq, ks, vs;
        while (j < query.len && query.p[j] != '&')
            j++;
        if (j > i) {
            struct cf_str kv = {query.p + i, j - i}, k, v;
            if (r->nq == API_MAX_QUERY)
                return CF_EBADPARAM;
            if (!cf_str_split(kv, '=', &k, &v))
                v = CF_STR("");
            (void)eq;
            ks = r->scratch.len;
            if (cf_pct_decode(&r->scratch, k, true))
                return CF_EBADPARAM;
            vs = r->scratch.len;
            if (cf_pct_decode(&r->scratch, v, true))
                return CF_EBADPARAM;
            r->q[r->nq].key = (struct cf_str){r->scratch.data + ks, vs - ks};
            r->q[r->nq].val = (struct cf_str){r->scratch.data + vs, r->scratch.len - vs};
            r->nq++;
        }
        i = j + 1;
    }
    return CF_OK;
}

struct cf_str api_query(const struct api_req *r, const char *key)
{
    for (size_t i = 0; i < r->nq; i++)
        if (cf_str_eq_cstr(r->q[i].key, key))
            return r->q[i].val;
    return CF_STR_NULL;
}

cf_err api_body_json(struct api_req *r, bool allow_empty)
{
    char why[160];
    struct cf_str b = r->http->body;
    cf_err e;

    if (b.len == 0 && allow_empty)
        b = CF_STR("{}");
    e = cf_json_parse(b.p ? b.p : "", b.len, &r->body, why, sizeof(why));
    if (e) {
        api_error(r, 400, "BadParameter", NULL, "The request body is not valid JSON: %s", why);
        return e;
    }
    if (cf_json_type(r->body) != CF_JSON_OBJECT) {
        api_error(r, 400, "BadParameter", NULL, "The request body must be a JSON object.");
        return CF_EBADJSON;
    }
    return CF_OK;
}

/* ---------------- api-version ---------------- */

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* Dated form: YYYY-MM-DD with an optional "-preview". */
static bool dated_version(const char *v, size_t n)
{
    if (n != 10 && !(n == 18 && memcmp(v + 10, "-preview", 8) == 0))
        return false;
    return all_digits(v, 4) && v[4] == '-' && all_digits(v + 5, 2) && v[7] == '-' &&
           all_digits(v + 8, 2);
}

/* N.N, N.N-preview, N.N-preview.N, or the dated form (azure-kv-common.md §3). */
static bool data_version_ok(const char *v, size_t n)
{
    size_t i = 0, j;
    if (dated_version(v, n))
        return true;
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++;
    if (i == 0 || i > 3 || i >= n || v[i] != '.')
        return false;
    j = ++i;
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++;
    if (i == j || i - j > 3)
        return false;
    if (i == n)
        return true;
    if (n - i < 8 || memcmp(v + i, "-preview", 8) != 0)
        return false;
    i += 8;
    if (i == n)
        return true;
    return v[i] == '.' && all_digits(v + i + 1, n - i - 1) && n - i - 1 <= 3;
}

/* Total order over the accepted forms: numbered versions before dated ones ("7.6" <
 * "2025-06-01-preview"), 2016-10-01 before 7.0. Returns a sortable key. */
static double version_key(const char *v)
{
    size_t n = strlen(v);
    if (dated_version(v, n)) {
        double y = strtod(v, NULL), m = strtod(v + 5, NULL), d = strtod(v + 8, NULL);
        if (y < 2017)
            return 6.0; /* 2016-10-01 predates 7.0 */
        return 100.0 + (y - 2000) * 400 + m * 32 + d - (n > 10 ? 0.5 : 0);
    }
    return strtod(v, NULL) - (strstr(v, "preview") ? 0.01 : 0);
}

bool api_version_at_least(const struct api_req *r, const char *v)
{
    return r->api_version_key >= version_key(v);
}

/* ---------------- authentication ---------------- */

static void challenge_header(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    snprintf(r->challenge, sizeof(r->challenge),
             "Bearer authorization=\"https://%s%.*s/%s\", resource=\"https://%s%.*s\"",
             c->login_host, CF_STR_FMT(r->port), c->tenant_id, c->dns_suffix,
             CF_STR_FMT(r->port));
    api_add_header(r, "WWW-Authenticate", r->challenge);
}

/* out = "https://" host port, cut at n - 1 like snprintf (n > 8). */
static struct cf_str audience(char *out, size_t n, struct cf_str host, struct cf_str port)
{
    size_t k = 8, h = CF_MIN(host.len, n - 1 - k), p;

    memcpy(out, "https://", 8);
    memcpy(out + k, host.p, h);
    k += h;
    p = CF_MIN(port.len, n - 1 - k);
    memcpy(out + k, port.p, p);
    k += p;
    out[k] = '\0';
    return (struct cf_str){out, k};
}

static bool authenticate(struct api_req *r)
{
    const struct cf_api_config *c = &r->api->cfg;
    const char *authz = cf_http_header(r->http, "Authorization");
    char aud[2][300];
    struct cf_str auds[2];
    enum cf_auth_fail why = CF_AUTH_OK;
    struct cf_str token;
    cf_err e;

    if (!authz || strncasecmp(authz, "Bearer ", 7) != 0 || authz[7] == '\0') {
        if (r->plane == API_PLANE_DATA) {
            challenge_header(r);
            api_error(r, 401, "Unauthorized", NULL,
                      "AKV10000: Request is missing a Bearer or PoP token.");
        } else {
            api_add_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
            api_error(r, 401, "AuthenticationFailed", NULL,
                      "Authentication failed. The 'Authorization' header is missing.");
        }
        return false;
    }
    token = cf_str_from(authz + 7);
    /* "https://HOST:PORT" and "https://HOST" (every request: concatenated, not printf'd) */
    auds[1] = audience(aud[1], sizeof(aud[1]),
                       cf_str_from(r->plane == API_PLANE_DATA ? c->dns_suffix : c->management_host),
                       CF_STR(""));
    auds[0] = audience(aud[0], sizeof(aud[0]),
                       cf_str_from(r->plane == API_PLANE_DATA ? c->dns_suffix : c->management_host),
                       r->port);
    e = cf_auth_verify(c->auth, token, auds, 2, &r->who, &why);
    if (e == CF_OK) {
        r->audit.authed = true;
        return true;
    }
    if (e != CF_EUNAUTH) { /* the store could not be read: not the caller's fault */
        api_error_err(r, e);
        return false;
    }
    if (r->plane == API_PLANE_DATA) {
        challenge_header(r);
        if (why == CF_AUTH_BAD_AUDIENCE)
            api_error(r, 401, "Unauthorized", NULL,
                      "AKV10022: Invalid audience. Expected %s.", aud[0]);
        else if (why == CF_AUTH_EXPIRED)
            api_error(r, 401, "Unauthorized", NULL, "AKV10032: Token expired.");
        else if (why == CF_AUTH_BAD_ISSUER)
            api_error(r, 401, "Unauthorized", NULL, "AKV10032: Invalid issuer.");
        else
            api_error(r, 401, "Unauthorized", NULL, "AKV10000: Request is missing a valid Bearer token.");
    } else {
        api_add_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        api_error(r, 401, why == CF_AUTH_EXPIRED ? "ExpiredAuthenticationToken" : "InvalidAuthenticationToken",
                  NULL, "The access token is invalid.");
    }
    return false;
}

/* ---------------- routing ---------------- */

/* A pattern may start with "**": zero or more segments (the variable-length scope of
 * Microsoft.Authorization resources). The rest of the pattern must then match the path's
 * last segments, and the ones before them are the span, seg[0..span_n). Other patterns
 * match exactly as they always did. */
static bool match(struct api_req *r, const struct api_route *rt)
{
    const char *p = rt->pattern;
    size_t i = 0;

    r->ncap = 0;
    r->span_n = 0;
    if (strncmp(p, "**/", 3) == 0) {
        size_t rest = 1;
        p += 3;
        for (const char *q = p; *q; q++)
            rest += *q == '/';
        if (r->nseg < rest)
            return false;
        r->span_n = r->nseg - rest;
        i = r->span_n;
    }
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (i == r->nseg)
            return false;
        if (n == 1 && p[0] == '*') {
            if (r->ncap == API_MAX_CAPS)
                return false;
            r->cap[r->ncap++] = r->seg[i];
        } else if (!cf_str_eq_ci(r->seg[i], (struct cf_str){p, n})) {
            return false;
        }
        i++;
        p += n;
        if (*p == '/')
            p++;
    }
    return i == r->nseg;
}

static const struct api_route *find_route(struct api_req *r, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < api_routes_count; i++) {
        const struct api_route *rt = &api_routes[i];
        if (rt->plane != r->plane || !match(r, rt))
            continue;
        *path_known = true;
        if (rt->method == r->http->method)
            return rt;
    }
    return NULL;
}

static bool check_api_version(struct api_req *r)
{
    struct cf_str v = api_query(r, "api-version");

    if (r->plane == API_PLANE_AUTHORITY || (r->route && (r->route->flags & API_NOVERSION)) ||
        (r->route && (r->route->flags & API_NOAUTH) && r->plane != API_PLANE_MGMT))
        return true;
    if (!v.p || v.len == 0) {
        if (r->plane == API_PLANE_MGMT)
            api_error(r, 400, "MissingApiVersionParameter", NULL,
                      "The api-version query parameter (?api-version=) is required for all "
                      "requests.");
        else
            api_error(r, 400, "BadParameter", NULL,
                      "The api-version query parameter is required for all requests.");
        return false;
    }
    if (v.len >= sizeof(r->api_version) ||
        !(r->plane == API_PLANE_MGMT ? dated_version(v.p, v.len) : data_version_ok(v.p, v.len))) {
        if (r->plane == API_PLANE_MGMT)
            api_error(r, 400, "InvalidApiVersionParameter", NULL,
                      "The api-version '%.*s' is invalid. The supported versions are "
                      "'2026-02-01,2025-05-01,2024-11-01,2023-07-01,2023-02-01,2022-07-01'.",
                      (int)CF_MIN(v.len, 64), v.p);
        else
            api_error(r, 400, "BadParameter", NULL,
                      "The specified version (%.*s) is not recognized. Consider using the "
                      "latest supported version (2026-04-01).",
                      (int)CF_MIN(v.len, 64), v.p);
        return false;
    }
    memcpy(r->api_version, v.p, v.len);
    r->api_version[v.len] = '\0';
    r->api_version_key = version_key(r->api_version);
    return true;
}

/* ---------------- service limits ---------------- */

/* Data plane, after authorization (a refused caller spends no one's budget). */
static bool admit(struct api_req *r)
{
    static const char *const secs[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"};
    int wait_s;

    if (cf_throttle_admit(r->api->cfg.throttle, r->vault.id, r->who.object_id,
                          cf_throttle_class_of(r->route->operation), 1, &wait_s))
        return true;
    wait_s = wait_s < 1 ? 1 : wait_s > 10 ? 10 : wait_s;
    api_add_header(r, "Retry-After", secs[wait_s - 1]);
    api_error(r, 429, "Throttled", NULL,
              "Request was not processed because too many requests were received. Reason: "
              "VaultRequestTypeLimitReached");
    return false;
}

void cf_api_handle(struct cf_http_req *http, void *ctx)
{
    struct cf_api *api = ctx;
    struct api_req *r = api_req_get(api);
    struct cf_str vault_name = CF_STR_NULL;
    bool path_known;
    cf_err e;

    if (!r) {
        static const struct cf_http_hdr h[] = {{"Content-Type", "application/json; charset=utf-8"},
                                               {"Retry-After", "1"}};
        static const char body[] =
            "{\"error\":{\"code\":\"ServiceUnavailable\",\"message\":\"Out of memory.\"}}";
        cf_http_respond(http, 503, h, 2, body, sizeof(body) - 1);
        return;
    }
    r->http = http;
    r->start_ms = cf_mono_ms();
    r->start_us = cf_metrics_now_us();
    r->host = http->host;
    split_host(r);
    r->plane = port_ok(r->port) ? classify(r, &vault_name) : API_PLANE_NONE;
    if (r->plane == API_PLANE_NONE) {
        api_error(r, 404, "NotFound", NULL, "No vault, token authority or management endpoint "
                                            "is served under this host name.");
        return;
    }
    /* The data plane challenges before looking at anything else (azure-kv-common.md §4.1). */
    if (r->plane == API_PLANE_DATA && !authenticate(r))
        return;
    e = parse_target(r);
    if (e) {
        api_error(r, 400, "BadParameter", NULL, "The request URI is malformed.");
        return;
    }
    r->route = find_route(r, &path_known);
    if (r->plane == API_PLANE_MGMT && !(r->route && (r->route->flags & API_NOAUTH)) &&
        !authenticate(r))
        return;
    if (!check_api_version(r))
        return;
    if (!r->route) {
        if (path_known)
            api_error(r, 405, "MethodNotAllowed", NULL, "The requested method is not allowed "
                                                        "on this resource.");
        else if (r->plane == API_PLANE_MGMT)
            api_error(r, 404, "InvalidResourceType", NULL, "The resource type could not be "
                                                           "found.");
        else
            api_error(r, 404, "NotFound", NULL, "The requested resource was not found.");
        return;
    }
    if (r->plane == API_PLANE_DATA) {
        e = cf_vault_resolve(api->cfg.vault, vault_name, &r->vault);
        if (e == CF_ENOTFOUND) {
            api_error(r, 404, "VaultNotFound", NULL, "Vault not found: %.*s",
                      (int)CF_MIN(vault_name.len, 64), vault_name.p);
            return;
        }
        if (e) {
            api_error_err(r, e);
            return;
        }
        if (strcmp(r->vault.tenant_id, r->who.tenant_id) != 0) {
            challenge_header(r);
            api_error(r, 401, "Unauthorized", NULL,
                      "AKV10032: Invalid issuer. The token's tenant does not own this vault.");
            return;
        }
    }
    r->audit.authz_checked = true;
    if (!api_authorize(r))
        return;
    r->audit.authorized = true;
    if (r->plane == API_PLANE_DATA && api->cfg.throttle && !admit(r))
        return;
    if (!api_audit_write_ok(r))
        return;
    if (r->route->flags & API_WRITE) {
        if (!pool_submit(api->pool, r)) {
            api_add_header(r, "Retry-After", "1");
            api_error(r, 503, "ServiceUnavailable", NULL, "The server is busy; retry later.");
        }
        return;
    }
    api_audit_run(r);
}

void api_defer(struct api_req *r)
{
    r->deferred = true;
    if (!pool_submit(r->api->cpool, r)) {
        api_add_header(r, "Retry-After", "1");
        api_error(r, 503, "ServiceUnavailable", NULL, "The server is busy; retry later.");
    }
}

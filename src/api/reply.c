/* reply.c - every response leaves through here: its audit record (audit_rec.c: written
 * before the response, or the response becomes 503), the standard Key Vault headers
 * (azure-kv-common.md §6), the JSON error envelope (§5), then the request is freed. */
#include "base/cf.h"
#include "api/internal.h"
#include "metrics/metrics.h"
#include "base/codec.h"
#include "base/log.h"
#include "base/secret.h"
#include "crypto/crypto.h"

#define MAX_HDRS 16

static void request_free(struct api_req *r)
{
    api_req_put(r);
}

void api_add_header(struct api_req *r, const char *name, const char *value)
{
    if (r->nextra < CF_ARRAY_LEN(r->extra))
        r->extra[r->nextra++] = (struct cf_http_hdr){name, value};
}

cf_err api_base_url(const struct api_req *r, struct cf_buf *out)
{
    cf_err e = cf_buf_puts(out, "https://");
    if (!e)
        e = cf_buf_append_str(out, r->hostname);
    if (!e)
        e = cf_buf_append_str(out, r->port);
    return e;
}

/* A UUID-shaped id from the per-process prefix and a counter. */
static void request_id(struct api_req *r)
{
    uint64_t n = __atomic_add_fetch(&r->api->rid_counter, 1, __ATOMIC_RELAXED);
    unsigned char b[16];
    char hex[33], *o = r->request_id;

    memcpy(b, &r->api->rid_prefix, 8);
    for (int i = 0; i < 8; i++)
        b[8 + i] = (unsigned char)(n >> (56 - 8 * i));
    cf_hex_encode(hex, b, 16);
    memcpy(o, hex, 8);
    o[8] = '-';
    memcpy(o + 9, hex + 8, 4);
    o[13] = '-';
    memcpy(o + 14, hex + 12, 4);
    o[18] = '-';
    memcpy(o + 19, hex + 16, 4);
    o[23] = '-';
    memcpy(o + 24, hex + 20, 12);
    o[36] = '\0';
}

/* r->out = the Azure error envelope (wiping what it held: it may have been a secret). */
static void error_body(struct api_req *r, const char *code, const char *inner, const char *msg)
{
    struct cf_jw w;

    if (r->out.data)
        cf_wipe(r->out.data, r->out.len);
    cf_buf_reset(&r->out);
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "error");
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "code", code);
    cf_jw_kstr(&w, "message", msg);
    if (inner) {
        cf_jw_key(&w, "innererror");
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "code", inner);
        cf_jw_obj_end(&w);
    }
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
}

/* The request in /metrics; a successful secret read also feeds first_read alert rules. */
static void record_metrics(const struct api_req *r, int status)
{
    struct cf_metrics *m = r->api->cfg.metrics;
    const char *vault = r->plane == API_PLANE_DATA ? r->vault.name : "";

    if (!m)
        return;
    cf_metrics_request(m, vault, r->route ? r->route->operation : NULL, status,
                       cf_metrics_now_us() - r->start_us);
    if (status == 200 && r->route && r->ncap > 0 && r->cap[0].len <= CF_MAX_NAME_LEN &&
        strcmp(r->route->operation, "SecretGet") == 0) {
        char name[CF_MAX_NAME_LEN + 1];
        memcpy(name, r->cap[0].p, r->cap[0].len);
        name[r->cap[0].len] = '\0';
        cf_metrics_note_read(m, r->who.object_id, vault, name);
    }
}

static void send(struct api_req *r, int status, bool with_body)
{
    enum api_audit_verdict v = api_audit_reply(r, status, with_body);

    if (v != API_AUDIT_HELD) /* held: sent once its record is written (audit_rec.c) */
        api_send_recorded(r, status, with_body, v == API_AUDIT_SEND);
}

void api_send_recorded(struct api_req *r, int status, bool with_body, bool recorded)
{
    struct cf_http_hdr h[MAX_HDRS];
    size_t n = 0;
    const char *client_rid = cf_http_header(r->http, "x-ms-client-request-id");
    char crid[80];

    /* Fail closed: no record, no answer - a 503 instead (nothing else changes: a read changed
     * nothing, a failed write rolled back). */
    if (!recorded) {
        error_body(r, "ServiceUnavailable", NULL,
                   "The audit log cannot be written: the request was not processed. Retry "
                   "later.");
        status = 503;
        with_body = true;
        r->nextra = 0; /* no Location, challenge or Retry-After of the answer it replaces */
        api_add_header(r, "Retry-After", "1");
    }
    request_id(r);
    if (with_body)
        h[n++] = (struct cf_http_hdr){"Content-Type", "application/json; charset=utf-8"};
    bool own_cache_control = false;
    for (size_t i = 0; i < r->nextra; i++)
        own_cache_control |= strcasecmp(r->extra[i].name, "Cache-Control") == 0;
    if (!own_cache_control) /* the token endpoint sends no-store instead */
        h[n++] = (struct cf_http_hdr){"Cache-Control", "no-cache"};
    h[n++] = (struct cf_http_hdr){"Pragma", "no-cache"};
    h[n++] = (struct cf_http_hdr){"Expires", "-1"};
    h[n++] = (struct cf_http_hdr){"x-ms-request-id", r->request_id};
    if (client_rid && strlen(client_rid) < sizeof(crid)) {
        snprintf(crid, sizeof(crid), "%s", client_rid);
        h[n++] = (struct cf_http_hdr){"x-ms-client-request-id", crid};
    }
    if (r->plane == API_PLANE_DATA) {
        h[n++] = (struct cf_http_hdr){"x-ms-keyvault-service-version", "coffer/0.1"};
        h[n++] = (struct cf_http_hdr){"x-ms-keyvault-region", r->api->cfg.region};
    }
    h[n++] = (struct cf_http_hdr){"Strict-Transport-Security", "max-age=31536000;includeSubDomains"};
    h[n++] = (struct cf_http_hdr){"X-Content-Type-Options", "nosniff"};
    for (size_t i = 0; i < r->nextra && n < MAX_HDRS; i++)
        h[n++] = r->extra[i];
    if (cf_log_enabled(CF_LOG_DEBUG))
        cf_debug("%s %.*s -> %d (%lld ms)", r->route ? r->route->operation : "-",
                 CF_STR_FMT(r->http->path), status, (long long)(cf_mono_ms() - r->start_ms));
    record_metrics(r, status);
    cf_http_respond(r->http, status, h, n, with_body ? r->out.data : NULL,
                    with_body ? r->out.len : 0);
    request_free(r);
}

void api_reply(struct api_req *r, int status)
{
    send(r, status, true);
}

void api_reply_empty(struct api_req *r, int status)
{
    send(r, status, false);
}

void api_error(struct api_req *r, int status, const char *code, const char *inner,
               const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    error_body(r, code, inner, msg);
    /* the record's resultDescription (audit_rec.c; valid while send runs) */
    r->audit.desc = msg;
    r->audit.inner = inner;
    if (status == 429 || status == 503) {
        bool has = false;
        for (size_t i = 0; i < r->nextra; i++)
            has |= strcasecmp(r->extra[i].name, "Retry-After") == 0;
        if (!has)
            api_add_header(r, "Retry-After", "1");
    }
    send(r, status, true);
}

void api_error_err(struct api_req *r, cf_err e)
{
    const struct api_errmap *m = api_errmap_get(e);
    if (m->status >= 500)
        cf_warn("%s failed: %s", r->route ? r->route->operation : "request", cf_err_name(e));
    api_error(r, m->status, m->code, NULL, "%s", cf_err_msg(e));
}

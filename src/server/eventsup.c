/* eventsup.c - see eventsup.h. Map: the transport over cf_http_fetch_ex, the vault sink
 * adapter, the alert sink adapter, start and stop. */
#include "base/cf.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "http/fetch.h"
#include "server/eventsup.h"

#define EVENTS_SEAL_INFO "coffer events v1"

struct cf_eventsup {
    struct cf_events *ev;
    struct cf_vault_svc *vault;
    struct cf_metrics *metrics;
    char ca_file[PATH_MAX];
};

static cf_err send_fetch(void *ctx, const struct cf_events_http_req *req,
                         struct cf_events_http_resp *resp)
{
    struct cf_eventsup *es = ctx;
    struct cf_http_fetch_resp r;
    cf_err e;

    e = cf_http_fetch_ex(req->method ? req->method : "POST", req->url, req->content_type,
                         req->headers, req->body, req->body_len,
                         es->ca_file[0] ? es->ca_file : NULL, req->timeout_s, &r);
    if (e)
        return CF_EIO;
    resp->status = r.status;
    snprintf(resp->allowed_origin, sizeof(resp->allowed_origin), "%s", r.allowed_origin);
    if (r.body.len && cf_buf_append(&resp->body, r.body.data, r.body.len) != CF_OK)
        cf_buf_reset(&resp->body); /* a reply too large to read is still an answer */
    cf_http_fetch_resp_release(&r);
    return CF_OK;
}

static cf_err vault_sink(void *ctx, struct cf_store_txn *t, const struct cf_vault_event *v)
{
    struct cf_events_kv kv = {v->type,        v->vault_id, v->vault_name, v->object_type,
                              v->object_name, v->version,  v->nbf,        v->exp};
    return cf_events_emit(ctx, t, &kv);
}

/* detail "oid=... vault=v1 secret=s1" -> "v1" */
static void detail_vault(const char *detail, char out[25])
{
    const char *p = detail, *q;
    size_t n = 0;

    out[0] = '\0';
    while (p && (q = strstr(p, "vault=")) != NULL) {
        if (q == detail || q[-1] == ' ') {
            q += 6;
            while (q[n] && q[n] != ' ' && n < 24)
                n++;
            memcpy(out, q, n);
            out[n] = '\0';
            return;
        }
        p = q + 6;
    }
}

static void alert_sink(void *arg, const struct cf_metrics_alert *a)
{
    char vault[25];

    detail_vault(a->detail, vault);
    cf_events_alert(arg, a->rule, a->expr, a->firing, a->value, a->detail, vault, a->time_ms);
}

struct cf_eventsup *cf_eventsup_start(const struct cf_config *cfg, struct cf_store *store,
                                      struct cf_vault_svc *vault, struct cf_metrics *metrics,
                                      const unsigned char root[32], cf_err *err)
{
    struct cf_eventsup *es = calloc(1, sizeof(*es));
    unsigned char key[32];
    cf_err e = CF_ENOMEM;

    if (!es)
        goto fail;
    snprintf(es->ca_file, sizeof(es->ca_file), "%s", cfg->events_ca_file);
    if ((e = cf_hkdf_sha256(root, 32, NULL, 0, EVENTS_SEAL_INFO, strlen(EVENTS_SEAL_INFO), key,
                            sizeof(key))))
        goto fail;
    es->ev = cf_events_new(&(struct cf_events_opts){.store = store,
                                                    .seal_key = key,
                                                    .dns_suffix = cfg->dns_suffix,
                                                    .port = cfg->port,
                                                    .near_expiry_days =
                                                        cfg->events_near_expiry_days,
                                                    .retry_base_ms = cfg->events_retry_base_ms,
                                                    .scan_interval_s = cfg->events_scan_interval_s,
                                                    .timeout_s = cfg->events_timeout_s,
                                                    .send = send_fetch,
                                                    .send_ctx = es},
                           &e);
    cf_wipe(key, sizeof(key));
    if (!es->ev)
        goto fail;
    es->vault = vault;
    es->metrics = metrics;
    cf_vault_set_event_sink(vault, vault_sink, es->ev);
    if (metrics)
        cf_metrics_set_alert_sink(metrics, alert_sink, es->ev);
    if ((e = cf_events_start(es->ev)))
        goto fail;
    *err = CF_OK;
    return es;
fail:
    cf_eventsup_stop(es);
    *err = e;
    return NULL;
}

struct cf_events *cf_eventsup_events(struct cf_eventsup *es)
{
    return es ? es->ev : NULL;
}

void cf_eventsup_stop(struct cf_eventsup *es)
{
    if (!es)
        return;
    if (es->metrics)
        cf_metrics_set_alert_sink(es->metrics, NULL, NULL);
    if (es->vault)
        cf_vault_set_event_sink(es->vault, NULL, NULL);
    cf_events_free(es->ev);
    free(es);
}

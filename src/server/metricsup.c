/* metricsup.c - see metricsup.h. Map: gauges (store/audit callbacks), alert rules from the
 * config file (inih), readiness checks, the admin handler, start/stop. */
#include "base/cf.h"
#include "server/metricsup.h"

#include "base/json.h"
#include "base/log.h"
#include "http/http.h"
#include "server/bootstrap.h"
#include "store/store_debug.h"

#include <errno.h>
#include <ini.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LISTEN "127.0.0.1:9464"

struct cf_metricsup {
    struct cf_metrics *m;
    struct cf_http_admin *admin;
    struct cf_metricsup_deps d;
    bool audit_on;
};

/* ---- gauges ---- */

static double g_store_queue(void *arg)
{
    struct cf_metricsup *mu = arg;
    struct cf_store_stats st;
    cf_store_stats(mu->d.store, &st);
    return (double)st.queue_len;
}

/* Audit records not yet durable: written but not fdatasync'd, plus write records waiting in
 * the store's outbox for the drainer. */
static double g_audit_queue(void *arg)
{
    struct cf_metricsup *mu = arg;
    double n = 0;
    int64_t outbox = 0;

    for (size_t i = 0; i < mu->d.audit_lanes; i++) {
        struct cf_audit_stats st;
        cf_audit_get_stats(mu->d.audit[i], &st);
        n += (double)(st.seq - st.synced_seq);
    }
    if (cf_store_outbox_count(mu->d.store, &outbox) == CF_OK)
        n += (double)outbox;
    return n;
}

static double g_audit_errors(void *arg)
{
    struct cf_metricsup *mu = arg;
    double n = 0;
    for (size_t i = 0; i < mu->d.audit_lanes; i++) {
        struct cf_audit_stats st;
        cf_audit_get_stats(mu->d.audit[i], &st);
        n += (double)st.write_errors;
    }
    return n;
}

static double g_sealed(void *arg)
{
    (void)arg;
    return 0; /* this process serves only once unsealed (sealgate.c answers 503 before) */
}

/* ---- alert rules from [alert.NAME] ---- */

struct rule_cfg {
    char name[64];
    char expr[256];
    char for_s[32];
};
struct rules_ctx {
    struct rule_cfg r[CF_METRICS_MAX_RULES];
    size_t n;
    bool bad;
};

static int ini_alert_cb(void *user, const char *section, const char *name, const char *value)
{
    struct rules_ctx *c = user;
    struct rule_cfg *r = NULL;

    if (strncmp(section, "alert.", 6) != 0)
        return 1;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].name, section + 6) == 0)
            r = &c->r[i];
    if (!r) {
        if (c->n == CF_METRICS_MAX_RULES || strlen(section + 6) >= sizeof(r->name)) {
            fprintf(stderr, "cofferd: config: [%s]: too many rules or name too long\n", section);
            c->bad = true;
            return 0;
        }
        r = &c->r[c->n++];
        snprintf(r->name, sizeof(r->name), "%s", section + 6);
    }
    if (strcmp(name, "expr") == 0 && strlen(value) < sizeof(r->expr)) {
        snprintf(r->expr, sizeof(r->expr), "%s", value);
    } else if (strcmp(name, "for") == 0 && strlen(value) < sizeof(r->for_s)) {
        snprintf(r->for_s, sizeof(r->for_s), "%s", value);
    } else {
        fprintf(stderr, "cofferd: config: [%s]: bad key or value: %s (keys: expr, for)\n", section,
                name);
        c->bad = true;
        return 0;
    }
    return 1;
}

static cf_err load_rules(const struct cf_config *cfg, struct cf_metrics *m)
{
    struct rules_ctx *c;
    cf_err e = CF_OK;

    if (!cfg->config_file[0])
        return CF_OK;
    c = calloc(1, sizeof(*c));
    if (!c)
        return CF_ENOMEM;
    if (ini_parse(cfg->config_file, ini_alert_cb, c) != 0 || c->bad) {
        e = CF_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < c->n && !e; i++) {
        int64_t for_ms = 0;
        char err[160];
        if (!c->r[i].expr[0]) {
            fprintf(stderr, "cofferd: config: [alert.%s]: expr is missing\n", c->r[i].name);
            e = CF_EINVAL;
        } else if (c->r[i].for_s[0] && cf_metrics_parse_duration(c->r[i].for_s, &for_ms)) {
            fprintf(stderr, "cofferd: config: [alert.%s]: for: not a duration (90s, 1m, 2h)\n",
                    c->r[i].name);
            e = CF_EINVAL;
        } else if (cf_metrics_add_rule(m, c->r[i].name, c->r[i].expr, for_ms, err, sizeof(err))) {
            fprintf(stderr, "cofferd: config: [alert.%s]: expr: %s\n", c->r[i].name, err);
            e = CF_EINVAL;
        } else {
            cf_info("alert rule %s: %s (for %lld s)", c->r[i].name, c->r[i].expr,
                    (long long)(for_ms / 1000));
        }
    }
out:
    free(c);
    return e;
}

/* ---- readiness ---- */

static cf_err probe_read(struct cf_store_txn *t, void *arg)
{
    struct cf_buf *b = arg;
    cf_err e = cf_store_meta_get(t, "server.subscription", b);
    return e == CF_ENOTFOUND ? CF_OK : e;
}

/* NULL when ready; else why not (static or in why[]). */
static const char *not_ready(struct cf_metricsup *mu, char *why, size_t cap)
{
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 4096);
    e = cf_store_read(mu->d.store, probe_read, &b);
    cf_buf_release(&b);
    if (e) {
        snprintf(why, cap, "store: a trivial read failed (%s)", cf_err_name(e));
        return why;
    }
    if (g_sealed(mu) != 0)
        return "sealed";
    if (!mu->audit_on)
        return NULL;
    if (access(mu->d.audit_dir, W_OK) != 0) {
        snprintf(why, cap, "audit: the directory is not writable (%s)", strerror(errno));
        return why;
    }
    for (size_t i = 0; i < mu->d.audit_lanes; i++) {
        char name[256], path[PATH_MAX + 260];
        cf_audit_active_file(mu->d.audit[i], name, sizeof(name));
        if (!name[0]) {
            snprintf(why, cap, "audit: lane %zu has no active file", i);
            return why;
        }
        snprintf(path, sizeof(path), "%s/%s", mu->d.audit_dir, name);
        if (access(path, W_OK) != 0) {
            snprintf(why, cap, "audit: the active file %s is not writable (%s)", name,
                     strerror(errno));
            return why;
        }
    }
    return NULL;
}

static void admin_handler(void *ctx, enum cf_http_method method, struct cf_str path,
                          struct cf_http_admin_reply *out)
{
    struct cf_metricsup *mu = ctx;
    (void)method;

    if (cf_str_eq_cstr(path, "/metrics")) {
        if (cf_metrics_render(mu->m, &out->body) == CF_OK) {
            out->status = 200;
            out->content_type = "text/plain; version=0.0.4; charset=utf-8";
        } else {
            cf_buf_reset(&out->body);
            out->status = 500;
        }
    } else if (cf_str_eq_cstr(path, "/healthz")) {
        out->status = 200;
        if (cf_buf_puts(&out->body, "ok\n"))
            out->status = 500;
    } else if (cf_str_eq_cstr(path, "/readyz")) {
        char why[512];
        const char *r = not_ready(mu, why, sizeof(why));
        struct cf_jw w;
        cf_jw_init(&w, &out->body);
        cf_jw_obj_begin(&w);
        cf_jw_kbool(&w, "ready", r == NULL);
        if (r)
            cf_jw_kstr(&w, "reason", r);
        cf_jw_obj_end(&w);
        out->status = cf_jw_err(&w) ? 500 : r ? 503 : 200;
        out->content_type = "application/json; charset=utf-8";
    } else if (mu->d.crl && cf_str_eq_cstr(path, CF_BOOT_CRL_PATH)) {
        /* RFC 5280 §4.2.1.13 / RFC 2585: a DER CRL as application/pkix-crl */
        if (cf_boot_crl_get(mu->d.crl, (int64_t)time(NULL), &out->body) == CF_OK) {
            out->status = 200;
            out->content_type = "application/pkix-crl";
        } else {
            cf_buf_reset(&out->body);
            out->status = 500;
        }
    } else {
        out->status = 404;
        if (cf_buf_puts(&out->body, "not found: /metrics, /healthz, /readyz\n"))
            out->status = 500;
    }
}

/* "127.0.0.1:9464", "[::1]:9464" -> address and port. */
static bool split_listen(const char *s, char *addr, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long p;

    if (!colon || (size_t)(colon - s) >= cap || colon == s)
        return false;
    memcpy(addr, s, (size_t)(colon - s));
    addr[colon - s] = '\0';
    p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

struct cf_metricsup *cf_metricsup_start(const struct cf_config *cfg,
                                        const struct cf_metricsup_deps *deps, cf_err *err)
{
    struct cf_metricsup *mu = calloc(1, sizeof(*mu));
    cf_err e = CF_ENOMEM;

    if (!mu)
        goto fail;
    mu->d = *deps;
    mu->audit_on = deps->audit_lanes > 0;
    mu->m = cf_metrics_new(
        &(struct cf_metrics_opts){.tick_ms = (int64_t)cfg->alert_interval_s * 1000,
                                  .saturation_capacity =
                                      strcmp(cfg->throttle, "on") == 0 ? cfg->throttle_other : 0},
        &e);
    if (!mu->m)
        goto fail;
    if ((e = cf_metrics_add_gauge(mu->m, "coffer_store_queue_depth",
                                  "Write jobs queued for the store's writer.", CF_METRICS_GAUGE,
                                  g_store_queue, mu)) ||
        (e = cf_metrics_add_gauge(mu->m, "coffer_sealed", "1 while the server is sealed.",
                                  CF_METRICS_GAUGE, g_sealed, mu)))
        goto fail;
    if (mu->audit_on &&
        ((e = cf_metrics_add_gauge(mu->m, "coffer_audit_queue_depth",
                                   "Audit records not yet durable in the log (unsynced, or "
                                   "waiting in the store's outbox).",
                                   CF_METRICS_GAUGE, g_audit_queue, mu)) ||
         (e = cf_metrics_add_gauge(mu->m, "coffer_audit_write_errors_total",
                                   "Audit appends that failed.", CF_METRICS_COUNTER, g_audit_errors,
                                   mu))))
        goto fail;
    if ((e = load_rules(cfg, mu->m)))
        goto fail;
    cf_store_debug_on_commit(deps->store, cf_metrics_store_commit, mu->m);
    if ((e = cf_metrics_start(mu->m)))
        goto fail;
    if (cfg->metrics_listen[0]) {
        char addr[128];
        int port;
        bool tls = strcmp(cfg->metrics_tls, "on") == 0;
        if (!split_listen(cfg->metrics_listen, addr, sizeof(addr), &port)) {
            fprintf(stderr, "cofferd: metrics_listen must be ADDRESS:PORT (e.g. %s)\n",
                    DEFAULT_LISTEN);
            e = CF_EINVAL;
            goto fail;
        }
        mu->admin = cf_http_admin_new(
            &(struct cf_http_admin_opts){.addr = addr,
                                         .port = port,
                                         .cert_file = tls ? deps->cert_file : NULL,
                                         .key_file = tls ? deps->key_file : NULL},
            admin_handler, mu, &e);
        if (!mu->admin && e == CF_EEXISTS && strcmp(cfg->metrics_listen, DEFAULT_LISTEN) == 0) {
            cf_warn("metrics: %s is taken (another cofferd?): no /metrics listener%s; set "
                    "metrics_listen to serve one",
                    DEFAULT_LISTEN,
                    deps->crl ? " and the dev certificate's CRL is not served here" : "");
        } else if (!mu->admin) {
            goto fail;
        } else if ((e = cf_http_admin_start(mu->admin))) {
            goto fail;
        } else {
            /* this line's form is read by tests/e2e/lib.sh (srv_scrape): keep it */
            cf_info("metrics: /metrics, /healthz, /readyz on %s%s:%d", tls ? "https://" : "", addr,
                    cf_http_admin_port(mu->admin));
            if (deps->crl)
                cf_info("metrics: the dev CA's CRL at %s%s:%d%s", tls ? "https://" : "http://",
                        addr, cf_http_admin_port(mu->admin), CF_BOOT_CRL_PATH);
        }
    }
    *err = CF_OK;
    return mu;
fail:
    cf_metricsup_stop(mu);
    *err = e;
    return NULL;
}

struct cf_metrics *cf_metricsup_metrics(struct cf_metricsup *mu)
{
    return mu ? mu->m : NULL;
}

void cf_metricsup_stop(struct cf_metricsup *mu)
{
    if (!mu)
        return;
    cf_http_admin_free(mu->admin);
    if (mu->d.store)
        cf_store_debug_on_commit(mu->d.store, NULL, NULL);
    cf_metrics_free(mu->m);
    free(mu);
}

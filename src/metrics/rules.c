/* rules.c - alert rules: the expression parser, evaluation on every tick (snapshots, windows,
 * the for-duration), events (log line, sink, coffer_alerts_* series), and the tick thread.
 *
 * Map
 *   parsing      lexer helpers, parse_selector, parse_value, cf_metrics_add_rule,
 *                cf_metrics_parse_duration
 *   evaluation   current (a rule's raw figure now), windowed (against its own ring of
 *                samples), eval_rule (condition + for-duration), first_read
 *   ticking      cf_metrics_tick, tick_main, cf_metrics_start, m_rules_free
 *   exposition   m_rules_render
 * Everything here runs under m->mu. */
#include "base/cf.h"
#include "metrics/metrics_int.h"

#include "base/log.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

enum src {
    SRC_REQ, /* coffer_api_requests_total */
    SRC_LAT, /* coffer_api_latency_seconds (avg only) */
    SRC_LAT_SUM,
    SRC_LAT_COUNT,
    SRC_AVAIL,
    SRC_SAT,
    SRC_TOKENS,
    SRC_COMMIT, /* coffer_store_commit_seconds (avg only) */
    SRC_COMMIT_SUM,
    SRC_COMMIT_COUNT,
    SRC_COMMIT_JOBS,
    SRC_UPTIME,
    SRC_PROC,  /* proc_field says which */
    SRC_GAUGE, /* gauge_name */
    SRC_FIRST_READ,
};
enum fn { FN_NONE, FN_RATE, FN_INCREASE, FN_AVG };
enum cmp { CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_EQ, CMP_NE };
enum label { L_VAULT, L_OPERATION, L_STATUS };

#define MAX_MATCHERS 4
#define MAX_WINDOW_MS (3600 * 1000)
#define RING_MAX 4096

struct matcher {
    enum label label;
    bool neg;
    char val[CF_METRICS_MAX_VAULT];
};

struct m_rule {
    char name[64];
    char expr[256];
    enum src src;
    enum fn fn;
    int proc_field;
    char gauge_name[96];
    struct matcher mt[MAX_MATCHERS];
    size_t nmt;
    int64_t window_ms;
    enum cmp cmp;
    double threshold;
    int64_t for_ms;
    /* state */
    int64_t pending_since; /* -1: condition not holding */
    bool firing;
    uint64_t fired;
    /* samples of (a, b) for windows */
    int64_t *rt;
    double *ra, *rb;
    size_t rcap, rhead, rlen;
};

/* ---------------- parsing ---------------- */

struct lex {
    const char *s, *p;
    char *err;
    size_t errcap;
    bool failed;
};

static void lex_fail(struct lex *l, const char *what)
{
    if (!l->failed && l->err && l->errcap)
        snprintf(l->err, l->errcap, "position %d: %s", (int)(l->p - l->s) + 1, what);
    l->failed = true;
}

static void skip_ws(struct lex *l)
{
    while (*l->p == ' ' || *l->p == '\t')
        l->p++;
}

static bool eat(struct lex *l, const char *tok)
{
    size_t n = strlen(tok);
    skip_ws(l);
    if (strncmp(l->p, tok, n) == 0) {
        l->p += n;
        return true;
    }
    return false;
}

static bool expect(struct lex *l, const char *tok)
{
    char msg[48];
    if (eat(l, tok))
        return true;
    snprintf(msg, sizeof(msg), "expected '%s'", tok);
    lex_fail(l, msg);
    return false;
}

static size_t ident(struct lex *l, char *out, size_t cap)
{
    size_t n = 0;
    skip_ws(l);
    while ((isalnum((unsigned char)l->p[n]) || l->p[n] == '_' || l->p[n] == ':') &&
           !(n == 0 && isdigit((unsigned char)l->p[n])))
        n++;
    if (n == 0 || n >= cap) {
        lex_fail(l, n ? "name too long" : "expected a name");
        return 0;
    }
    memcpy(out, l->p, n);
    out[n] = '\0';
    l->p += n;
    return n;
}

static bool parse_string(struct lex *l, char *out, size_t cap)
{
    size_t n = 0;
    if (!expect(l, "\""))
        return false;
    while (*l->p && *l->p != '"') {
        char c = *l->p++;
        if (c == '\\' && (*l->p == '"' || *l->p == '\\'))
            c = *l->p++;
        if (n + 1 >= cap) {
            lex_fail(l, "label value too long");
            return false;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return expect(l, "\"");
}

cf_err cf_metrics_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    double v;
    double unit;

    if (!s)
        return CF_EINVAL;
    while (*s == ' ')
        s++;
    v = strtod(s, &end);
    if (end == s || v < 0 || !isfinite(v))
        return CF_EINVAL;
    while (*end == ' ')
        end++;
    switch (*end) {
    case 's':
        unit = 1000;
        end++;
        break;
    case 'm':
        unit = 60000;
        end++;
        break;
    case 'h':
        unit = 3600000;
        end++;
        break;
    case '\0':
        unit = 1000;
        break; /* a bare number is seconds */
    default:
        return CF_EINVAL;
    }
    while (*end == ' ')
        end++;
    if (*end || v * unit > 366.0 * 86400000.0)
        return CF_EINVAL;
    *ms = (int64_t)(v * unit);
    return CF_OK;
}

static bool parse_dur(struct lex *l, int64_t *ms)
{
    char tmp[32];
    size_t n = 0;
    skip_ws(l);
    while (n + 1 < sizeof(tmp) && (isdigit((unsigned char)l->p[n]) || l->p[n] == '.'))
        n++;
    if (n > 0 && strchr("smh", l->p[n]) && l->p[n]) {
        n++;
        memcpy(tmp, l->p, n);
        tmp[n] = '\0';
        if (cf_metrics_parse_duration(tmp, ms) == CF_OK && *ms > 0 && *ms <= MAX_WINDOW_MS) {
            l->p += n;
            return true;
        }
    }
    lex_fail(l, "expected a duration such as 30s, 5m or 1h (at most 1h)");
    return false;
}

static bool labels_allowed(enum src s, enum label lb)
{
    switch (s) {
    case SRC_REQ:
    case SRC_LAT:
    case SRC_LAT_SUM:
    case SRC_LAT_COUNT:
        return true;
    case SRC_AVAIL:
    case SRC_SAT:
        return lb == L_VAULT;
    default:
        return false;
    }
}

static bool parse_selector(struct lex *l, struct m_rule *r)
{
    const char *at;

    skip_ws(l);
    if (!eat(l, "{"))
        return true;
    while (!eat(l, "}")) {
        char name[16];
        struct matcher *mt;
        if (r->nmt == MAX_MATCHERS) {
            lex_fail(l, "too many label matchers (at most 4)");
            return false;
        }
        mt = &r->mt[r->nmt];
        skip_ws(l);
        at = l->p;
        if (!ident(l, name, sizeof(name)))
            return false;
        if (strcmp(name, "vault") == 0)
            mt->label = L_VAULT;
        else if (strcmp(name, "operation") == 0)
            mt->label = L_OPERATION;
        else if (strcmp(name, "status") == 0)
            mt->label = L_STATUS;
        else {
            l->p = at;
            lex_fail(l, "unknown label (vault, operation, status)");
            return false;
        }
        if (!labels_allowed(r->src, mt->label)) {
            l->p = at;
            lex_fail(l, "this metric has no such label");
            return false;
        }
        if (eat(l, "!="))
            mt->neg = true;
        else if (!expect(l, "="))
            return false;
        if (!parse_string(l, mt->val, sizeof(mt->val)))
            return false;
        r->nmt++;
        if (!eat(l, ",")) {
            if (!expect(l, "}"))
                return false;
            break;
        }
    }
    return true;
}

static const char *const proc_names[] = {"process_cpu_seconds_total",
                                         "process_resident_memory_bytes",
                                         "process_virtual_memory_bytes",
                                         "process_open_fds",
                                         "process_max_fds",
                                         "process_threads",
                                         "process_start_time_seconds"};

static bool resolve_metric(struct cf_metrics *m, struct m_rule *r, const char *name)
{
    static const struct {
        const char *name;
        enum src src;
    } fixed[] = {
        {"coffer_api_requests_total", SRC_REQ},
        {"coffer_api_latency_seconds", SRC_LAT},
        {"coffer_api_latency_seconds_sum", SRC_LAT_SUM},
        {"coffer_api_latency_seconds_count", SRC_LAT_COUNT},
        {"availability", SRC_AVAIL},
        {"coffer_availability_ratio", SRC_AVAIL},
        {"saturation", SRC_SAT},
        {"coffer_saturation_ratio", SRC_SAT},
        {"coffer_tokens_issued_total", SRC_TOKENS},
        {"coffer_store_commit_seconds", SRC_COMMIT},
        {"coffer_store_commit_seconds_sum", SRC_COMMIT_SUM},
        {"coffer_store_commit_seconds_count", SRC_COMMIT_COUNT},
        {"coffer_store_commit_jobs_total", SRC_COMMIT_JOBS},
        {"coffer_uptime_seconds", SRC_UPTIME},
    };
    for (size_t i = 0; i < CF_ARRAY_LEN(fixed); i++) {
        if (strcmp(fixed[i].name, name) == 0) {
            r->src = fixed[i].src;
            return true;
        }
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(proc_names); i++) {
        if (strcmp(proc_names[i], name) == 0) {
            r->src = SRC_PROC;
            r->proc_field = (int)i;
            return true;
        }
    }
    for (size_t i = 0; i < m->ngauges; i++) {
        if (strcmp(m->gauges[i].name, name) == 0) {
            r->src = SRC_GAUGE;
            snprintf(r->gauge_name, sizeof(r->gauge_name), "%s", name);
            return true;
        }
    }
    return false;
}

static bool is_counter(struct cf_metrics *m, const struct m_rule *r)
{
    switch (r->src) {
    case SRC_REQ:
    case SRC_LAT_SUM:
    case SRC_LAT_COUNT:
    case SRC_TOKENS:
    case SRC_COMMIT_SUM:
    case SRC_COMMIT_COUNT:
    case SRC_COMMIT_JOBS:
        return true;
    case SRC_PROC:
        return r->proc_field == 0;
    case SRC_GAUGE:
        for (size_t i = 0; i < m->ngauges; i++)
            if (strcmp(m->gauges[i].name, r->gauge_name) == 0)
                return m->gauges[i].type == CF_METRICS_COUNTER;
        return false;
    default:
        return false;
    }
}

static bool parse_value(struct cf_metrics *m, struct lex *l, struct m_rule *r)
{
    char name[96];
    const char *at;

    skip_ws(l);
    if (strncmp(l->p, "rate(", 5) == 0 || strncmp(l->p, "rate (", 6) == 0)
        r->fn = FN_RATE;
    else if (strncmp(l->p, "increase(", 9) == 0 || strncmp(l->p, "increase (", 10) == 0)
        r->fn = FN_INCREASE;
    else if (strncmp(l->p, "avg(", 4) == 0 || strncmp(l->p, "avg (", 5) == 0)
        r->fn = FN_AVG;
    if (r->fn != FN_NONE) {
        l->p = strchr(l->p, '(') + 1;
    }
    skip_ws(l);
    at = l->p;
    if (!ident(l, name, sizeof(name)))
        return false;
    if (!resolve_metric(m, r, name)) {
        l->p = at;
        lex_fail(l, "unknown metric");
        return false;
    }
    if (r->fn == FN_AVG && r->src != SRC_LAT && r->src != SRC_COMMIT) {
        l->p = at;
        lex_fail(l, "avg() takes a histogram (coffer_api_latency_seconds, "
                    "coffer_store_commit_seconds)");
        return false;
    }
    if ((r->src == SRC_LAT || r->src == SRC_COMMIT) && r->fn != FN_AVG) {
        l->p = at;
        lex_fail(l, "a histogram needs avg(NAME[DUR])");
        return false;
    }
    if ((r->fn == FN_RATE || r->fn == FN_INCREASE) && !is_counter(m, r)) {
        l->p = at;
        lex_fail(l, "rate() and increase() take a counter");
        return false;
    }
    if (!parse_selector(l, r))
        return false;
    if (r->fn != FN_NONE) {
        if (!expect(l, "[") || !parse_dur(l, &r->window_ms) || !expect(l, "]") || !expect(l, ")"))
            return false;
    }
    return true;
}

static bool parse_cond(struct cf_metrics *m, struct lex *l, struct m_rule *r)
{
    static const struct {
        const char *tok;
        enum cmp cmp;
    } ops[] = {{"<=", CMP_LE}, {">=", CMP_GE}, {"==", CMP_EQ},
               {"!=", CMP_NE}, {"<", CMP_LT},  {">", CMP_GT}};
    char *end;
    size_t i;

    skip_ws(l);
    if (strncmp(l->p, "first_read", 10) == 0 &&
        !(isalnum((unsigned char)l->p[10]) || l->p[10] == '_')) {
        l->p += 10;
        r->src = SRC_FIRST_READ;
    } else {
        if (!parse_value(m, l, r))
            return false;
        skip_ws(l);
        for (i = 0; i < CF_ARRAY_LEN(ops); i++)
            if (eat(l, ops[i].tok))
                break;
        if (i == CF_ARRAY_LEN(ops)) {
            lex_fail(l, "expected a comparison (< <= > >= == !=)");
            return false;
        }
        r->cmp = ops[i].cmp;
        skip_ws(l);
        r->threshold = strtod(l->p, &end);
        if (end == l->p || !isfinite(r->threshold)) {
            lex_fail(l, "expected a number");
            return false;
        }
        l->p = end;
        if (*l->p == '%') {
            r->threshold /= 100.0;
            l->p++;
        }
    }
    skip_ws(l);
    if (*l->p) {
        lex_fail(l, "unexpected text after the expression");
        return false;
    }
    return true;
}

static void rule_free(struct m_rule *r)
{
    if (!r)
        return;
    free(r->rt);
    free(r->ra);
    free(r->rb);
    free(r);
}

static void current(struct cf_metrics *m, struct m_rule *r, int64_t now, double *a, double *b,
                    char *detail, size_t dcap);
static void ring_push(struct m_rule *r, int64_t t, double a, double b);

cf_err cf_metrics_add_rule(struct cf_metrics *m, const char *name, const char *expr, int64_t for_ms,
                           char *err, size_t errcap)
{
    struct m_rule *r;
    struct lex l = {expr, expr, err, errcap, false};
    cf_err e = CF_OK;

    if (err && errcap)
        err[0] = '\0';
    if (!m || !name || !*name || strlen(name) >= sizeof(r->name) || !expr ||
        strlen(expr) >= sizeof(r->expr) || for_ms < 0) {
        if (err && errcap)
            snprintf(err, errcap, "bad rule name, expression length or for");
        return CF_EINVAL;
    }
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
            if (err && errcap)
                snprintf(err, errcap, "rule names are letters, digits, '_', '-', '.'");
            return CF_EINVAL;
        }
    }
    r = calloc(1, sizeof(*r));
    if (!r)
        return CF_ENOMEM;
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->expr, sizeof(r->expr), "%s", expr);
    r->for_ms = for_ms;
    r->pending_since = -1;
    pthread_mutex_lock(&m->mu);
    if (!parse_cond(m, &l, r)) {
        e = CF_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < m->nrules; i++) {
        if (strcmp(m->rules[i]->name, name) == 0) {
            if (err && errcap)
                snprintf(err, errcap, "a rule named '%s' exists", name);
            e = CF_EEXISTS;
            goto out;
        }
    }
    if (m->nrules == CF_METRICS_MAX_RULES) {
        if (err && errcap)
            snprintf(err, errcap, "too many rules (at most %d)", CF_METRICS_MAX_RULES);
        e = CF_EFULL;
        goto out;
    }
    if (r->src == SRC_FIRST_READ)
        atomic_store(&m->wants_reads, true);
    if (r->fn != FN_NONE) {
        r->rcap = (size_t)(r->window_ms / m->tick_ms) + 2;
        if (r->rcap > RING_MAX)
            r->rcap = RING_MAX;
        r->rt = calloc(r->rcap, sizeof(*r->rt));
        r->ra = calloc(r->rcap, sizeof(*r->ra));
        r->rb = calloc(r->rcap, sizeof(*r->rb));
        if (!r->rt || !r->ra || !r->rb) {
            e = CF_ENOMEM;
            goto out;
        }
        /* the first baseline: the figure as it is now */
        double a, b;
        int64_t now = m_now(m);
        m_collect(m);
        current(m, r, now, &a, &b, NULL, 0);
        ring_push(r, now, a, b);
    }
    m->rules[m->nrules++] = r;
    r = NULL;
out:
    pthread_mutex_unlock(&m->mu);
    rule_free(r);
    return e;
}

/* ---------------- evaluation ---------------- */

static bool match(const struct m_rule *r, const char *vault, const char *op, unsigned status)
{
    for (size_t i = 0; i < r->nmt; i++) {
        const struct matcher *mt = &r->mt[i];
        bool eq;
        if (mt->label == L_VAULT) {
            eq = strcmp(mt->val, vault) == 0;
        } else if (mt->label == L_OPERATION) {
            eq = strcmp(mt->val, op) == 0;
        } else {
            char code[8];
            snprintf(code, sizeof(code), "%u", status);
            eq = strcmp(mt->val, code) == 0 || (strlen(mt->val) == 3 && mt->val[0] == code[0] &&
                                                code[0] && strcmp(mt->val + 1, "xx") == 0);
        }
        if (eq == mt->neg)
            return false;
    }
    return true;
}

/* The raw figure now: a (and b, the count, for avg); detail names the worst vault of a ratio.
 * Under mu, after m_collect. */
static void current(struct cf_metrics *m, struct m_rule *r, int64_t now, double *a, double *b,
                    char *detail, size_t dcap)
{
    const struct m_agg *g = m->agg;
    uint64_t w[M_WORDS];

    *a = 0;
    *b = 0;
    switch (r->src) {
    case SRC_REQ:
    case SRC_LAT:
    case SRC_LAT_SUM:
    case SRC_LAT_COUNT:
        for (uint32_t s = 0; s < NSERIES; s++) {
            if (!g->count[s])
                continue;
            const struct m_series_info *si = &g->info[s];
            if (!match(r, g->vname[si->vault], si->op, si->status))
                continue;
            if (r->src == SRC_LAT_SUM || r->src == SRC_LAT)
                *a += (double)g->w[s][M_SUM] / 1e6;
            if (r->src == SRC_REQ || r->src == SRC_LAT_COUNT)
                *a += (double)g->count[s];
            if (r->src == SRC_LAT)
                *b += (double)g->count[s];
        }
        break;
    case SRC_AVAIL:
    case SRC_SAT: {
        bool any = false;
        for (uint32_t v = 0; v < NVAULTS; v++) {
            if (!m_vault_used(m, v) || !match(r, g->vname[v], "", 0))
                continue;
            double x = r->src == SRC_AVAIL ? m_availability(m, v, now) : m_saturation(m, v, now);
            if (isnan(x))
                continue;
            if (!any || (r->src == SRC_AVAIL ? x < *a : x > *a)) {
                *a = x;
                if (detail)
                    snprintf(detail, dcap, "vault=%s", g->vname[v]);
            }
            any = true;
        }
        if (!any)
            *a = NAN;
        break;
    }
    case SRC_TOKENS:
        *a = (double)g->tokens;
        break;
    case SRC_COMMIT:
    case SRC_COMMIT_SUM:
    case SRC_COMMIT_COUNT:
        for (int i = 0; i < M_WORDS; i++)
            w[i] = atomic_load_explicit(&m->commit[i], memory_order_relaxed);
        for (int i = 0; i < CF_METRICS_NBUCKETS; i++)
            *b += (double)w[i];
        *a = r->src == SRC_COMMIT_COUNT ? *b : (double)w[M_SUM] / 1e6;
        break;
    case SRC_COMMIT_JOBS:
        *a = (double)atomic_load_explicit(&m->commit_jobs, memory_order_relaxed);
        break;
    case SRC_UPTIME:
        *a = (double)(cf_mono_ms() - m->t0_mono_ms) / 1000.0;
        break;
    case SRC_PROC: {
        struct m_proc p;
        const double *f[] = {&p.cpu_s,   &p.rss_bytes, &p.vsize_bytes, &p.open_fds,
                             &p.max_fds, &p.threads,   &p.start_time_s};
        m_proc_read(&p);
        *a = *f[r->proc_field];
        break;
    }
    case SRC_GAUGE:
        if (!m_gauge_value(m, r->gauge_name, a))
            *a = NAN;
        break;
    case SRC_FIRST_READ:
        *a = NAN;
        break;
    }
}

static void ring_push(struct m_rule *r, int64_t t, double a, double b)
{
    size_t slot;
    if (r->rlen == r->rcap) {
        slot = r->rhead;
        r->rhead = (r->rhead + 1) % r->rcap;
    } else {
        slot = (r->rhead + r->rlen) % r->rcap;
        r->rlen++;
    }
    r->rt[slot] = t;
    r->ra[slot] = a;
    r->rb[slot] = b;
}

/* The rule's value now (NaN: no value, the condition does not hold). */
static double value_of(struct cf_metrics *m, struct m_rule *r, int64_t now, char *detail,
                       size_t dcap)
{
    double a, b;
    size_t base;

    current(m, r, now, &a, &b, detail, dcap);
    if (r->fn == FN_NONE)
        return a;
    /* newest sample at least a window old, else the oldest */
    base = r->rhead;
    for (size_t i = 0; i < r->rlen; i++) {
        size_t k = (r->rhead + i) % r->rcap;
        if (r->rt[k] > now - r->window_ms)
            break;
        base = k;
    }
    double da = a - r->ra[base], db = b - r->rb[base];
    int64_t dt = now - r->rt[base];
    ring_push(r, now, a, b);
    switch (r->fn) {
    case FN_INCREASE:
        return da;
    case FN_RATE:
        return dt > 0 ? da / ((double)dt / 1000.0) : NAN;
    case FN_AVG:
        return db > 0 ? da / db : NAN;
    default:
        return NAN;
    }
}

static bool holds(const struct m_rule *r, double v)
{
    if (isnan(v))
        return false;
    switch (r->cmp) {
    case CMP_LT:
        return v < r->threshold;
    case CMP_LE:
        return v <= r->threshold;
    case CMP_GT:
        return v > r->threshold;
    case CMP_GE:
        return v >= r->threshold;
    case CMP_EQ:
        return v == r->threshold;
    case CMP_NE:
        return v != r->threshold;
    }
    return false;
}

static void emit(struct cf_metrics *m, struct m_rule *r, bool firing, double v, const char *detail,
                 int64_t now)
{
    struct cf_metrics_alert a = {r->name, r->expr, firing, v, detail ? detail : "", now};

    if (firing) {
        r->fired++;
        cf_warn("alert firing: %s (%s) value %g%s%s", r->name, r->expr, v, a.detail[0] ? " " : "",
                a.detail);
    } else {
        cf_info("alert resolved: %s (%s) value %g", r->name, r->expr, v);
    }
    if (m->sink)
        m->sink(m->sink_arg, &a);
}

static void eval_first_read(struct cf_metrics *m, struct m_rule *r, int64_t now,
                            const struct m_first_read *fr, size_t nfr, uint64_t fr_new)
{
    char detail[FR_KEEP * 180 + 48];
    size_t off = 0;

    r->firing = fr_new > 0;
    if (!r->firing)
        return;
    detail[0] = '\0';
    for (size_t i = 0; i < nfr && off < sizeof(detail); i++) {
        int n = snprintf(detail + off, sizeof(detail) - off, "%soid=%s vault=%s secret=%s",
                         i ? "; " : "", fr[i].oid, fr[i].vault, fr[i].name);
        if (n > 0)
            off += (size_t)n;
    }
    if (fr_new > nfr && off < sizeof(detail))
        snprintf(detail + off, sizeof(detail) - off, " (+%llu more)",
                 (unsigned long long)(fr_new - nfr));
    emit(m, r, true, NAN, detail, now);
}

void cf_metrics_tick(struct cf_metrics *m)
{
    struct m_first_read fr[FR_KEEP];
    size_t nfr;
    uint64_t fr_new;
    int64_t now;

    pthread_mutex_lock(&m->fr_mu);
    nfr = m->nfr;
    fr_new = m->fr_new;
    memcpy(fr, m->fr, sizeof(fr));
    m->nfr = 0;
    m->fr_new = 0;
    pthread_mutex_unlock(&m->fr_mu);

    pthread_mutex_lock(&m->mu);
    now = m_now(m);
    m_collect(m);
    for (size_t i = 0; i < m->nrules; i++) {
        struct m_rule *r = m->rules[i];
        char detail[128] = "";
        double v;
        if (r->src == SRC_FIRST_READ) {
            eval_first_read(m, r, now, fr, nfr, fr_new);
            continue;
        }
        v = value_of(m, r, now, detail, sizeof(detail));
        if (holds(r, v)) {
            if (r->pending_since < 0)
                r->pending_since = now;
            if (!r->firing && now - r->pending_since >= r->for_ms) {
                r->firing = true;
                emit(m, r, true, v, detail, now);
            }
        } else {
            r->pending_since = -1;
            if (r->firing) {
                r->firing = false;
                emit(m, r, false, v, detail, now);
            }
        }
    }
    /* after the rules: a window's baseline is never the tick being evaluated */
    m_push_snapshot(m, now);
    pthread_mutex_unlock(&m->mu);
}

/* ---------------- the tick thread ---------------- */

static void *tick_main(void *arg)
{
    struct cf_metrics *m = arg;
    struct timespec ts;

    pthread_mutex_lock(&m->mu);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    while (!m->stop) {
        ts.tv_sec += m->tick_ms / 1000;
        ts.tv_nsec += (m->tick_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0)
            ;
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->mu);
        cf_metrics_tick(m);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

cf_err cf_metrics_start(struct cf_metrics *m)
{
    cf_err e = CF_OK;

    pthread_mutex_lock(&m->mu);
    if (m->running)
        e = CF_EINVAL;
    else if (pthread_create(&m->thread, NULL, tick_main, m) != 0)
        e = CF_EINTERNAL;
    else
        m->running = true;
    pthread_mutex_unlock(&m->mu);
    return e;
}

void m_rules_free(struct cf_metrics *m)
{
    bool join;

    pthread_mutex_lock(&m->mu);
    m->stop = true;
    join = m->running;
    m->running = false;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (join)
        pthread_join(m->thread, NULL);
    for (size_t i = 0; i < m->nrules; i++)
        rule_free(m->rules[i]);
    m->nrules = 0;
}

/* ---------------- exposition ---------------- */

cf_err m_rules_render(struct cf_metrics *m, struct cf_buf *out)
{
    cf_err e = CF_OK;

    if (m->nrules == 0)
        return CF_OK;
    e = cf_buf_puts(out, "# HELP coffer_alerts_firing 1 while the alert rule fires.\n"
                         "# TYPE coffer_alerts_firing gauge\n");
    for (size_t i = 0; !e && i < m->nrules; i++)
        e = cf_buf_printf(out, "coffer_alerts_firing{rule=\"%s\"} %d\n", m->rules[i]->name,
                          m->rules[i]->firing ? 1 : 0);
    if (!e)
        e = cf_buf_puts(out, "# HELP coffer_alerts_fired_total Firing events of the alert rule.\n"
                             "# TYPE coffer_alerts_fired_total counter\n");
    for (size_t i = 0; !e && i < m->nrules; i++)
        e = cf_buf_printf(out, "coffer_alerts_fired_total{rule=\"%s\"} %llu\n", m->rules[i]->name,
                          (unsigned long long)m->rules[i]->fired);
    return e;
}

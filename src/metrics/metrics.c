/* metrics.c - the request tables, recording, snapshots and the text exposition.
 *
 * Map
 *   life cycle     cf_metrics_new / cf_metrics_free (rules.c owns the tick thread)
 *   tables         vault_index, series_index (lock-free insert-once open addressing)
 *   recording      cf_metrics_request, cf_metrics_store_commit
 *   aggregation    m_collect (shards -> agg), snapshots, m_availability, m_saturation
 *   exposition     cf_metrics_render and its helpers (labels escaped, families in a fixed order)
 *
 * Invariant: a dense index is handed out at most once and its key never changes, so a scrape
 * that sees a series published may read its key without a lock. */
#include "base/cf.h"
#include "metrics/metrics_int.h"

#include "base/log.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static const double bucket_le[] = CF_METRICS_BUCKETS_LE;
static const char *const bucket_le_text[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                             "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                             "1",      "2.5",   "5",      "10",    "+Inf"};
_Static_assert(CF_ARRAY_LEN(bucket_le) + 1 == CF_METRICS_NBUCKETS, "bucket table");
_Static_assert(CF_ARRAY_LEN(bucket_le_text) == CF_METRICS_NBUCKETS, "bucket labels");

/* ---------------- helpers ---------------- */

uint32_t m_hash(const char *a, const char *b, uint32_t extra)
{
    uint32_t h = 2166136261u;
    for (const char *p = a; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    for (const char *p = b; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h ^= extra * 0x9e3779b1u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

int64_t m_now(const struct cf_metrics *m)
{
    return cf_clock_ms(m->clock);
}

/* Bucket of a duration: the first whose bound holds it (bounds are inclusive, as le says). */
static int bucket_of(int64_t dur_us)
{
    static const int64_t le_us[] = {500,    1000,   2500,   5000,    10000,   25000,   50000,
                                    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
    int i = 0;
    while (i < (int)CF_ARRAY_LEN(le_us) && dur_us > le_us[i])
        i++;
    return i;
}

/* A shard per thread, without thread-local state: pthread ids are addresses, spread by a
 * multiplicative hash. Two threads sharing a shard only contend; counts stay exact. */
static size_t shard_of(const struct cf_metrics *m)
{
    uint64_t x = (uint64_t)(uintptr_t)pthread_self();
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)((x >> 32) % (uint64_t)m->nshards);
}

static void spin_while_writing(_Atomic uint32_t *state)
{
    while (atomic_load_explicit(state, memory_order_acquire) == 1)
        sched_yield();
}

/* ---------------- tables ---------------- */

static uint32_t vault_index(struct cf_metrics *m, const char *name)
{
    size_t n = strlen(name);
    uint32_t h, i;

    if (n >= CF_METRICS_MAX_VAULT)
        return OTHER_VAULT;
    h = m_hash(name, NULL, 0);
    i = h & (VAULT_SLOTS - 1);
    for (size_t probe = 0; probe < VAULT_SLOTS; probe++, i = (i + 1) & (VAULT_SLOTS - 1)) {
        struct m_vault_key *k = &m->vkeys[i];
        uint32_t st = atomic_load_explicit(&k->state, memory_order_acquire);
        if (st == 0) {
            uint32_t zero = 0;
            if (atomic_compare_exchange_strong_explicit(&k->state, &zero, 1, memory_order_acq_rel,
                                                        memory_order_acquire)) {
                uint32_t idx = atomic_fetch_add_explicit(&m->nvaults, 1, memory_order_relaxed);
                k->hash = h;
                memcpy(k->name, name, n + 1);
                k->idx = idx < CF_METRICS_MAX_VAULTS ? idx : OTHER_VAULT;
                idx = k->idx;
                atomic_store_explicit(&k->state, 2, memory_order_release);
                return idx;
            }
            st = zero;
        }
        if (st == 1) {
            spin_while_writing(&k->state);
            st = 2;
        }
        if (k->hash == h && strcmp(k->name, name) == 0)
            return k->idx;
    }
    return OTHER_VAULT;
}

static uint32_t series_index(struct cf_metrics *m, uint32_t vault, const char *op, int status)
{
    size_t n = strlen(op);
    uint32_t h, i;

    if (n >= CF_METRICS_MAX_OP || vault == OTHER_VAULT)
        return OVERFLOW_BASE + (uint32_t)status;
    h = m_hash(op, NULL, vault * 1000u + (uint32_t)status);
    i = h & (SERIES_SLOTS - 1);
    for (size_t probe = 0; probe < 64; probe++, i = (i + 1) & (SERIES_SLOTS - 1)) {
        struct m_series_key *k = &m->skeys[i];
        uint32_t st = atomic_load_explicit(&k->state, memory_order_acquire);
        if (st == 0) {
            uint32_t zero = 0;
            if (atomic_compare_exchange_strong_explicit(&k->state, &zero, 1, memory_order_acq_rel,
                                                        memory_order_acquire)) {
                uint32_t idx = atomic_fetch_add_explicit(&m->nseries, 1, memory_order_relaxed);
                k->hash = h;
                k->vault = (uint16_t)vault;
                k->status = (uint16_t)status;
                memcpy(k->op, op, n + 1);
                k->idx = idx < CF_METRICS_MAX_SERIES ? idx : OVERFLOW_BASE + (uint32_t)status;
                idx = k->idx;
                atomic_store_explicit(&k->state, 2, memory_order_release);
                return idx;
            }
            st = zero;
        }
        if (st == 1)
            spin_while_writing(&k->state);
        if (k->hash == h && k->vault == vault && k->status == status && strcmp(k->op, op) == 0)
            return k->idx;
    }
    /* 64 probes without a free slot: the table is effectively full around here. */
    return OVERFLOW_BASE + (uint32_t)status;
}

/* ---------------- life cycle ---------------- */

struct cf_metrics *cf_metrics_new(const struct cf_metrics_opts *opts, cf_err *err)
{
    struct cf_metrics_opts o = opts ? *opts : (struct cf_metrics_opts){0};
    struct cf_metrics *m = calloc(1, sizeof(*m));
    cf_err e = CF_ENOMEM;
    long ncpu;
    pthread_condattr_t ca;

    if (!m)
        goto fail;
    if (o.window_ms < 0 || o.tick_ms < 0 || o.shards < 0 || o.saturation_capacity < 0) {
        e = CF_EINVAL;
        goto fail_free;
    }
    m->sysclock = cf_clock_system();
    m->clock = o.clock ? o.clock : &m->sysclock;
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    m->nshards = o.shards ? o.shards : (int)(2 * (ncpu > 0 ? ncpu : 1));
    if (m->nshards > CF_METRICS_MAX_SHARDS)
        m->nshards = CF_METRICS_MAX_SHARDS;
    m->window_ms = o.window_ms ? o.window_ms : 300000;
    m->tick_ms = o.tick_ms ? o.tick_ms : 15000;
    m->sat_capacity = o.saturation_capacity;
    m->t0_mono_ms = cf_mono_ms();
    m->skeys = calloc(SERIES_SLOTS, sizeof(*m->skeys));
    m->counts = calloc((size_t)m->nshards * NSERIES * M_WORDS, sizeof(*m->counts));
    m->agg = calloc(1, sizeof(*m->agg));
    m->nsnaps = (size_t)(m->window_ms / m->tick_ms) + 2;
    if (m->nsnaps > 1024)
        m->nsnaps = 1024;
    m->snaps = calloc(m->nsnaps, sizeof(*m->snaps));
    if (!m->skeys || !m->counts || !m->agg || !m->snaps)
        goto fail_free;
    if ((e = m_seen_init(m, o.seen_capacity)) != CF_OK)
        goto fail_free;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->fr_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The first baseline: nothing answered before the module existed. */
    m->snaps[0].t_ms = m_now(m);
    m->snap_len = 1;
    *err = CF_OK;
    return m;

fail_free:
    m_seen_free(m);
    free(m->skeys);
    free(m->counts);
    free(m->agg);
    free(m->snaps);
    free(m);
fail:
    *err = e;
    return NULL;
}

void cf_metrics_free(struct cf_metrics *m)
{
    if (!m)
        return;
    m_rules_free(m); /* stops the tick thread first */
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->fr_mu);
    m_seen_free(m);
    free(m->skeys);
    free(m->counts);
    free(m->agg);
    free(m->snaps);
    free(m);
}

/* ---------------- recording ---------------- */

void cf_metrics_request(struct cf_metrics *m, const char *vault, const char *operation, int status,
                        int64_t dur_us)
{
    uint32_t v, s;
    _Atomic uint64_t *c;

    if (!m)
        return;
    if (status < 0 || status >= NSTATUS)
        status = 0;
    if (dur_us < 0)
        dur_us = 0;
    v = vault_index(m, vault ? vault : "");
    s = series_index(m, v, operation && operation[0] ? operation : "_none", status);
    c = m->counts + ((size_t)shard_of(m) * NSERIES + s) * M_WORDS;
    atomic_fetch_add_explicit(&c[bucket_of(dur_us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c[M_SUM], (uint64_t)dur_us, memory_order_relaxed);
    if (m->sat_capacity > 0) {
        /* A one-second slot tagged with its second: a stale tag is replaced, a current one
         * counted (one CAS; lock-free). */
        uint64_t sec = (uint64_t)(m_now(m) / 1000);
        _Atomic uint64_t *slot = &m->sat[v][sec % SAT_SLOTS];
        uint64_t old = atomic_load_explicit(slot, memory_order_relaxed), want;
        do {
            want = (old >> 24) == sec ? old + 1 : (sec << 24) | 1;
        } while (!atomic_compare_exchange_weak_explicit(slot, &old, want, memory_order_relaxed,
                                                        memory_order_relaxed));
    }
}

void cf_metrics_store_commit(void *ctx, int64_t dur_us, size_t jobs)
{
    struct cf_metrics *m = ctx;

    if (!m)
        return;
    if (dur_us < 0)
        dur_us = 0;
    atomic_fetch_add_explicit(&m->commit[bucket_of(dur_us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commit[M_SUM], (uint64_t)dur_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commit_jobs, jobs, memory_order_relaxed);
}

/* ---------------- aggregation (under mu) ---------------- */

void m_collect(struct cf_metrics *m)
{
    struct m_agg *a = m->agg;

    memset(a, 0, sizeof(*a));
    /* What is published: only those series are summed (a count is added only after its key
     * was published, so one published after this scan is simply seen next time). */
    for (size_t i = 0; i < VAULT_SLOTS; i++) {
        const struct m_vault_key *k = &m->vkeys[i];
        if (atomic_load_explicit(&m->vkeys[i].state, memory_order_acquire) == 2 &&
            k->idx < CF_METRICS_MAX_VAULTS) {
            a->vname[k->idx] = k->name;
            a->vused[k->idx] = true;
        }
    }
    a->vname[OTHER_VAULT] = "_other";
    for (size_t i = 0; i < SERIES_SLOTS; i++) {
        const struct m_series_key *k = &m->skeys[i];
        if (atomic_load_explicit(&m->skeys[i].state, memory_order_acquire) == 2 &&
            k->idx < CF_METRICS_MAX_SERIES) {
            a->info[k->idx] = (struct m_series_info){k->vault, k->status, k->op};
            a->sused[k->idx] = true;
        }
    }
    for (uint32_t s = 0; s < NSTATUS; s++) {
        a->info[OVERFLOW_BASE + s] = (struct m_series_info){OTHER_VAULT, (uint16_t)s, "_other"};
        a->sused[OVERFLOW_BASE + s] = true;
    }
    for (int sh = 0; sh < m->nshards; sh++) {
        const _Atomic uint64_t *base = m->counts + (size_t)sh * NSERIES * M_WORDS;
        for (uint32_t s = 0; s < NSERIES; s++) {
            if (!a->sused[s])
                continue;
            for (int w = 0; w < M_WORDS; w++)
                a->w[s][w] +=
                    atomic_load_explicit(&base[(size_t)s * M_WORDS + w], memory_order_relaxed);
        }
    }
    for (uint32_t s = 0; s < NSERIES; s++) {
        uint64_t n = 0;
        if (!a->sused[s])
            continue;
        for (int b = 0; b < CF_METRICS_NBUCKETS; b++)
            n += a->w[s][b];
        a->count[s] = n;
        if (n == 0)
            continue;
        const struct m_series_info *si = &a->info[s];
        a->vtotal[si->vault] += n;
        if (si->status < 500)
            a->vok[si->vault] += n;
        if (si->status == 200 && strcmp(si->op, "TokenIssue") == 0)
            a->tokens += n;
    }
}

bool m_vault_used(const struct cf_metrics *m, uint32_t v)
{
    return m->agg->vused[v] || (v == OTHER_VAULT && m->agg->vtotal[OTHER_VAULT] > 0);
}

void m_push_snapshot(struct cf_metrics *m, int64_t now)
{
    size_t slot = (m->snap_head + m->snap_len) % m->nsnaps;
    struct m_snap *s;

    if (m->snap_len == m->nsnaps) {
        slot = m->snap_head;
        m->snap_head = (m->snap_head + 1) % m->nsnaps;
    } else {
        m->snap_len++;
    }
    s = &m->snaps[slot];
    s->t_ms = now;
    memcpy(s->total, m->agg->vtotal, sizeof(s->total));
    memcpy(s->ok, m->agg->vok, sizeof(s->ok));
}

double m_availability(struct cf_metrics *m, uint32_t v, int64_t now)
{
    const struct m_snap *base = &m->snaps[m->snap_head];
    uint64_t total, ok;

    /* the newest snapshot at least a window old, else the oldest */
    for (size_t i = 0; i < m->snap_len; i++) {
        const struct m_snap *s = &m->snaps[(m->snap_head + i) % m->nsnaps];
        if (s->t_ms > now - m->window_ms)
            break;
        base = s;
    }
    total = m->agg->vtotal[v] - base->total[v];
    ok = m->agg->vok[v] - base->ok[v];
    return total == 0 ? 1.0 : (double)ok / (double)total;
}

double m_saturation(struct cf_metrics *m, uint32_t v, int64_t now)
{
    uint64_t sec = (uint64_t)(now / 1000), n = 0;

    if (m->sat_fn)
        return m->sat_fn(m->sat_arg, m->agg->vname[v]);
    if (m->sat_capacity <= 0)
        return NAN;
    for (int i = 0; i < SAT_SLOTS; i++) {
        uint64_t x = atomic_load_explicit(&m->sat[v][i], memory_order_relaxed);
        if ((x >> 24) + SAT_SLOTS > sec && (x >> 24) <= sec)
            n += x & 0xffffffu;
    }
    return (double)n / m->sat_capacity;
}

/* ---------------- exposition ---------------- */

cf_err m_put_num(struct cf_buf *b, double v)
{
    if (isinf(v))
        return cf_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    char tmp[40];
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return cf_buf_printf(b, "%.0f", v);
    /* the shortest of %.15g / %.17g that reads back as the same double */
    snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    return cf_buf_puts(b, tmp);
}

/* A label value with \, " and newline escaped (text format 0.0.4). */
static cf_err put_label(struct cf_buf *b, const char *name, const char *val, bool first)
{
    cf_err e = cf_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = val; !e && *p; p++) {
        if (*p == '\\')
            e = cf_buf_puts(b, "\\\\");
        else if (*p == '"')
            e = cf_buf_puts(b, "\\\"");
        else if (*p == '\n')
            e = cf_buf_puts(b, "\\n");
        else
            e = cf_buf_putc(b, *p);
    }
    return e ? e : cf_buf_putc(b, '"');
}

static cf_err put_family(struct cf_buf *b, const char *name, const char *type, const char *help)
{
    return cf_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static cf_err put_plain(struct cf_buf *b, const char *name, const char *type, const char *help,
                        double v)
{
    cf_err e;
    if (isnan(v))
        return CF_OK;
    e = put_family(b, name, type, help);
    if (!e)
        e = cf_buf_printf(b, "%s ", name);
    if (!e)
        e = m_put_num(b, v);
    return e ? e : cf_buf_putc(b, '\n');
}

/* Sort order of series: vault name, operation, status. */
struct sorted {
    uint32_t idx;
    const char *vault, *op;
    uint16_t status;
};

static int cmp_sorted(const void *pa, const void *pb)
{
    const struct sorted *a = pa, *b = pb;
    int c = strcmp(a->vault, b->vault);
    if (!c)
        c = strcmp(a->op, b->op);
    if (!c)
        c = (int)a->status - (int)b->status;
    return c;
}

/* A histogram's lines from non-cumulative bucket counts w[0..NBUCKETS) and w[M_SUM] (us). */
static cf_err put_hist(struct cf_buf *b, const char *name, const char *labels, const uint64_t *w)
{
    uint64_t cum = 0;
    cf_err e = CF_OK;
    bool any = labels && labels[0];

    for (int i = 0; !e && i < CF_METRICS_NBUCKETS; i++) {
        cum += w[i];
        e = cf_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, any ? labels : "",
                          any ? "," : "", bucket_le_text[i], (unsigned long long)cum);
    }
    if (!e)
        e = cf_buf_printf(b, "%s_sum%s%s%s ", name, any ? "{" : "", any ? labels : "",
                          any ? "}" : "");
    if (!e)
        e = m_put_num(b, (double)w[M_SUM] / 1e6);
    if (!e)
        e = cf_buf_printf(b, "\n%s_count%s%s%s %llu\n", name, any ? "{" : "", any ? labels : "",
                          any ? "}" : "", (unsigned long long)cum);
    return e;
}

static cf_err render_requests(struct cf_metrics *m, struct cf_buf *out)
{
    struct m_agg *a = m->agg;
    struct sorted *v = malloc(NSERIES * sizeof(*v));
    struct cf_buf lab;
    size_t n = 0;
    cf_err e;

    if (!v)
        return CF_ENOMEM;
    cf_buf_init(&lab, 4 * CF_METRICS_MAX_VAULT + 4 * CF_METRICS_MAX_OP + 64);
    for (uint32_t s = 0; s < NSERIES; s++) {
        if (a->count[s] == 0)
            continue;
        v[n++] = (struct sorted){s, a->vname[a->info[s].vault], a->info[s].op, a->info[s].status};
    }
    qsort(v, n, sizeof(*v), cmp_sorted);
    e = put_family(out, "coffer_api_requests_total", "counter",
                   "Requests answered, by vault, operation and HTTP status.");
    for (size_t i = 0; !e && i < n; i++) {
        cf_buf_reset(&lab);
        e = put_label(&lab, "vault", v[i].vault, true);
        if (!e)
            e = put_label(&lab, "operation", v[i].op, false);
        if (!e)
            e = cf_buf_printf(out, "coffer_api_requests_total{%s,status=\"%u\"} %llu\n", lab.data,
                              (unsigned)v[i].status, (unsigned long long)a->count[v[i].idx]);
    }
    if (!e)
        e = put_family(out, "coffer_api_latency_seconds", "histogram",
                       "Server-side time to answer, by vault and operation.");
    /* one histogram per (vault, operation): the sorted runs */
    for (size_t i = 0; !e && i < n;) {
        uint64_t w[M_WORDS] = {0};
        size_t j = i;
        for (; j < n && strcmp(v[j].vault, v[i].vault) == 0 && strcmp(v[j].op, v[i].op) == 0; j++)
            for (int k = 0; k < M_WORDS; k++)
                w[k] += a->w[v[j].idx][k];
        cf_buf_reset(&lab);
        e = put_label(&lab, "vault", v[i].vault, true);
        if (!e)
            e = put_label(&lab, "operation", v[i].op, false);
        if (!e)
            e = put_hist(out, "coffer_api_latency_seconds", lab.data, w);
        i = j;
    }
    cf_buf_release(&lab);
    free(v);
    return e;
}

/* Dense vault indexes in name order (for availability and saturation). */
static size_t vaults_sorted(struct cf_metrics *m, uint32_t *order)
{
    size_t n = 0;
    for (uint32_t v = 0; v < NVAULTS; v++)
        if (m_vault_used(m, v))
            order[n++] = v;
    for (size_t i = 1; i < n; i++) /* insertion sort: at most 257 */
        for (size_t j = i;
             j > 0 && strcmp(m->agg->vname[order[j - 1]], m->agg->vname[order[j]]) > 0; j--) {
            uint32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    return n;
}

static cf_err render_vaults(struct cf_metrics *m, struct cf_buf *out, int64_t now)
{
    uint32_t order[NVAULTS];
    size_t n = vaults_sorted(m, order);
    cf_err e = put_family(out, "coffer_availability_ratio", "gauge",
                          "Share of answers that were not 5xx over the window, per vault.");
    bool head = false;

    for (size_t i = 0; !e && i < n; i++) {
        e = cf_buf_puts(out, "coffer_availability_ratio{");
        if (!e)
            e = put_label(out, "vault", m->agg->vname[order[i]], true);
        if (!e)
            e = cf_buf_puts(out, "} ");
        if (!e)
            e = m_put_num(out, m_availability(m, order[i], now));
        if (!e)
            e = cf_buf_putc(out, '\n');
    }
    for (size_t i = 0; !e && i < n; i++) {
        double s = m_saturation(m, order[i], now);
        if (isnan(s))
            continue;
        if (!head) {
            e = put_family(out, "coffer_saturation_ratio", "gauge",
                           "Share of the vault's throttling capacity in use.");
            head = true;
        }
        if (!e)
            e = cf_buf_puts(out, "coffer_saturation_ratio{");
        if (!e)
            e = put_label(out, "vault", m->agg->vname[order[i]], true);
        if (!e)
            e = cf_buf_puts(out, "} ");
        if (!e)
            e = m_put_num(out, s);
        if (!e)
            e = cf_buf_putc(out, '\n');
    }
    return e;
}

static cf_err render_process(struct cf_metrics *m, struct cf_buf *out)
{
    struct m_proc p;
    cf_err e;

    m_proc_read(&p);
    e = put_plain(out, "coffer_uptime_seconds", "gauge", "Seconds since the metrics started.",
                  (double)(cf_mono_ms() - m->t0_mono_ms) / 1000.0);
    if (!e)
        e = put_plain(out, "process_cpu_seconds_total", "counter",
                      "Total user and system CPU time spent in seconds.", p.cpu_s);
    if (!e)
        e = put_plain(out, "process_resident_memory_bytes", "gauge",
                      "Resident memory size in bytes.", p.rss_bytes);
    if (!e)
        e = put_plain(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                      p.vsize_bytes);
    if (!e)
        e = put_plain(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                      p.open_fds);
    if (!e)
        e = put_plain(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                      p.max_fds);
    if (!e)
        e = put_plain(out, "process_threads", "gauge", "Number of OS threads.", p.threads);
    if (!e)
        e = put_plain(out, "process_start_time_seconds", "gauge",
                      "Start time of the process since unix epoch in seconds.", p.start_time_s);
    return e;
}

cf_err cf_metrics_render(struct cf_metrics *m, struct cf_buf *out)
{
    uint64_t w[M_WORDS];
    cf_err e;
    int64_t now;

    pthread_mutex_lock(&m->mu);
    now = m_now(m);
    m_collect(m);
    e = render_requests(m, out);
    if (!e)
        e = render_vaults(m, out, now);
    if (!e)
        e = put_plain(out, "coffer_tokens_issued_total", "counter",
                      "Access tokens issued by the token authority.", (double)m->agg->tokens);
    for (int i = 0; i < M_WORDS; i++)
        w[i] = atomic_load_explicit(&m->commit[i], memory_order_relaxed);
    if (!e)
        e = put_family(out, "coffer_store_commit_seconds", "histogram",
                       "Duration of store write transactions (one fsync each).");
    if (!e)
        e = put_hist(out, "coffer_store_commit_seconds", NULL, w);
    if (!e)
        e = put_plain(out, "coffer_store_commit_jobs_total", "counter",
                      "Write jobs committed by the store.",
                      (double)atomic_load_explicit(&m->commit_jobs, memory_order_relaxed));
    for (size_t i = 0; !e && i < m->ngauges; i++) {
        const struct m_gauge *g = &m->gauges[i];
        e = put_plain(out, g->name, g->type == CF_METRICS_COUNTER ? "counter" : "gauge", g->help,
                      g->fn(g->arg));
    }
    if (!e)
        e = m_rules_render(m, out);
    if (!e)
        e = render_process(m, out);
    pthread_mutex_unlock(&m->mu);
    return e;
}

/* ---------------- gauges and callbacks ---------------- */

static bool name_ok(const char *s)
{
    if (!s || !*s || strlen(s) >= sizeof(((struct m_gauge *)0)->name))
        return false;
    for (const char *p = s; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        if (!alpha && !(p != s && *p >= '0' && *p <= '9'))
            return false;
    }
    return true;
}

static bool name_reserved(const char *s)
{
    static const char *const prefixes[] = {
        "coffer_api_",         "coffer_availability", "coffer_saturation", "coffer_tokens_issued",
        "coffer_store_commit", "coffer_alerts_",      "coffer_uptime",     "process_"};
    for (size_t i = 0; i < CF_ARRAY_LEN(prefixes); i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

cf_err cf_metrics_add_gauge(struct cf_metrics *m, const char *name, const char *help,
                            enum cf_metrics_type type, cf_metrics_value_fn fn, void *arg)
{
    cf_err e = CF_OK;
    size_t n = name ? strlen(name) : 0;

    if (!m || !fn || !name_ok(name) || name_reserved(name) ||
        (type == CF_METRICS_COUNTER && (n < 6 || strcmp(name + n - 6, "_total") != 0)))
        return CF_EINVAL;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->ngauges; i++)
        if (strcmp(m->gauges[i].name, name) == 0)
            e = CF_EINVAL;
    if (!e && m->ngauges == CF_METRICS_MAX_GAUGES)
        e = CF_EFULL;
    if (!e) {
        struct m_gauge *g = &m->gauges[m->ngauges++];
        snprintf(g->name, sizeof(g->name), "%s", name);
        /* HELP text: one line, backslashes escaped by replacement (keeps the format valid) */
        snprintf(g->help, sizeof(g->help), "%s", help && *help ? help : name);
        for (char *p = g->help; *p; p++)
            if (*p == '\n' || *p == '\\')
                *p = ' ';
        g->type = type;
        g->fn = fn;
        g->arg = arg;
    }
    pthread_mutex_unlock(&m->mu);
    return e;
}

bool m_gauge_value(struct cf_metrics *m, const char *name, double *v)
{
    for (size_t i = 0; i < m->ngauges; i++) {
        if (strcmp(m->gauges[i].name, name) == 0) {
            *v = m->gauges[i].fn(m->gauges[i].arg);
            return true;
        }
    }
    return false;
}

void cf_metrics_set_saturation_fn(struct cf_metrics *m, cf_metrics_saturation_fn fn, void *arg)
{
    pthread_mutex_lock(&m->mu);
    m->sat_fn = fn;
    m->sat_arg = arg;
    pthread_mutex_unlock(&m->mu);
}

void cf_metrics_set_alert_sink(struct cf_metrics *m, cf_metrics_alert_fn fn, void *arg)
{
    pthread_mutex_lock(&m->mu);
    m->sink = fn;
    m->sink_arg = arg;
    pthread_mutex_unlock(&m->mu);
}

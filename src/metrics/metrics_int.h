/* metrics_int.h - what the files of metrics/ share; not part of the contract.
 *
 * Tables (fixed at creation, never shrink, never move):
 *   vaults  VAULT_SLOTS open-addressed key slots; each claimed slot gets a dense index
 *           0..MAX_VAULTS-1 (or OTHER_VAULT when the table is full).
 *   series  SERIES_SLOTS key slots (vault index, operation, status) -> dense index
 *           0..MAX_SERIES-1; past that the overflow series OVERFLOW_BASE + status.
 *   counts  per shard, per dense series: M_WORDS relaxed atomics (the latency buckets, not
 *           cumulative, then the sum of durations in microseconds); a series' request count
 *           is the sum of its buckets.
 * A key slot's state goes 0 (empty) -> 1 (being written, by the one thread whose CAS won) ->
 * 2 (ready, published with release); readers act on a slot only after an acquire load of 2.
 *
 * Everything under mu: the aggregate scratch (agg), snapshots, rules and their rings, gauges,
 * callbacks. The first-read pending list has its own small lock (fr_mu), the seen set striped
 * locks. */
#ifndef CF_METRICS_INT_H
#define CF_METRICS_INT_H

#include "base/cf.h"
#include "metrics/metrics.h"

#include <pthread.h>
#include <stdatomic.h>

#define VAULT_SLOTS (2 * CF_METRICS_MAX_VAULTS)
#define OTHER_VAULT CF_METRICS_MAX_VAULTS /* dense index of vault "_other" */
#define NVAULTS (CF_METRICS_MAX_VAULTS + 1)
#define SERIES_SLOTS (2 * CF_METRICS_MAX_SERIES)
#define NSTATUS 600
#define OVERFLOW_BASE CF_METRICS_MAX_SERIES
#define NSERIES (CF_METRICS_MAX_SERIES + NSTATUS)
#define M_WORDS (CF_METRICS_NBUCKETS + 1)
#define M_SUM CF_METRICS_NBUCKETS /* word holding the duration sum (us) */
#define IDX_NONE UINT32_MAX
#define SAT_SLOTS 10 /* one-second slots of the saturation fallback */
#define SEEN_WAYS 8
#define SEEN_LOCKS 64
#define FR_KEEP 8 /* first reads named per event */

struct m_vault_key {
    _Atomic uint32_t state;
    uint32_t hash;
    uint32_t idx;
    char name[CF_METRICS_MAX_VAULT];
};

struct m_series_key {
    _Atomic uint32_t state;
    uint32_t hash;
    uint32_t idx;
    uint16_t vault;
    uint16_t status;
    char op[CF_METRICS_MAX_OP];
};

/* What a dense series index means (from its published key slot, or "_other"). */
struct m_series_info {
    uint16_t vault, status;
    const char *op;
};

/* A vault snapshot: cumulative answers and non-5xx answers per dense vault index. */
struct m_snap {
    int64_t t_ms;
    uint64_t total[NVAULTS], ok[NVAULTS];
};

/* Aggregated counts over shards (scratch, under mu). */
struct m_agg {
    uint64_t w[NSERIES][M_WORDS];
    uint64_t count[NSERIES]; /* sum of buckets */
    uint64_t vtotal[NVAULTS], vok[NVAULTS];
    uint64_t tokens;
    /* from the key tables, read with acquire loads so the names are safely visible */
    struct m_series_info info[NSERIES];
    bool sused[NSERIES];
    const char *vname[NVAULTS];
    bool vused[NVAULTS];
};

struct m_gauge {
    char name[96];
    char help[160];
    enum cf_metrics_type type;
    cf_metrics_value_fn fn;
    void *arg;
};

struct m_rule; /* rules.c */

struct m_first_read {
    char oid[40], vault[CF_METRICS_MAX_VAULT], name[64];
};

struct cf_metrics {
    const struct cf_clock *clock;
    struct cf_clock sysclock;
    int nshards;
    int64_t window_ms, tick_ms;
    double sat_capacity;
    int64_t t0_mono_ms;

    struct m_vault_key vkeys[VAULT_SLOTS];
    _Atomic uint32_t nvaults;
    _Atomic uint64_t sat[NVAULTS][SAT_SLOTS]; /* (unix second << 24) | answers */

    struct m_series_key *skeys; /* SERIES_SLOTS */
    _Atomic uint32_t nseries;
    _Atomic uint64_t *counts; /* nshards * NSERIES * M_WORDS */

    _Atomic uint64_t commit[M_WORDS];
    _Atomic uint64_t commit_jobs;

    pthread_mutex_t mu;
    struct m_agg *agg;
    struct m_snap *snaps; /* ring of nsnaps */
    size_t nsnaps, snap_head, snap_len;
    struct m_gauge gauges[CF_METRICS_MAX_GAUGES];
    size_t ngauges;
    cf_metrics_saturation_fn sat_fn;
    void *sat_arg;
    cf_metrics_alert_fn sink;
    void *sink_arg;
    struct m_rule *rules[CF_METRICS_MAX_RULES];
    size_t nrules;

    /* first reads */
    _Atomic bool wants_reads; /* a first_read rule exists: only then is the seen-set fed */
    pthread_mutex_t fr_mu;
    struct m_first_read fr[FR_KEEP];
    size_t nfr;         /* kept in fr[] since the last tick */
    uint64_t fr_new;    /* first reads since the last tick */
    uint64_t *seen;     /* nsets * SEEN_WAYS fingerprints, 0 = empty */
    uint8_t *seen_next; /* per set: the way replaced next (FIFO) */
    size_t nsets;
    pthread_mutex_t seen_mu[SEEN_LOCKS];

    /* tick thread */
    pthread_t thread;
    pthread_cond_t cv;
    bool running, stop;
};

/* metrics.c */
uint32_t m_hash(const char *a, const char *b, uint32_t extra);
/* Sums the shards into m->agg (under mu). */
void m_collect(struct cf_metrics *m);
/* Availability of dense vault v over the window, from m->agg and the snapshots (under mu). */
double m_availability(struct cf_metrics *m, uint32_t v, int64_t now);
/* Saturation of dense vault v (under mu); NaN when unknown. */
double m_saturation(struct cf_metrics *m, uint32_t v, int64_t now);
bool m_vault_used(const struct cf_metrics *m, uint32_t v);
int64_t m_now(const struct cf_metrics *m);
void m_push_snapshot(struct cf_metrics *m, int64_t now);
/* Appends "%g"-like text for a sample value: integers without exponent, NaN never. */
cf_err m_put_num(struct cf_buf *b, double v);

/* proc.c: process figures from /proc/self; false fields are NaN. */
struct m_proc {
    double cpu_s, rss_bytes, vsize_bytes, threads, start_time_s, open_fds, max_fds;
};
void m_proc_read(struct m_proc *p);

/* rules.c */
void m_rules_free(struct cf_metrics *m);
cf_err m_rules_render(struct cf_metrics *m, struct cf_buf *out);
/* The value of a plain gauge (by name) for rules; false when unknown. */
bool m_gauge_value(struct cf_metrics *m, const char *name, double *v);

/* seen.c */
cf_err m_seen_init(struct cf_metrics *m, size_t capacity);
void m_seen_free(struct cf_metrics *m);

#endif

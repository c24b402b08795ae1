/* metrics.h - how the service is doing (issue 11, azure-kv-security-ops.md §6): request
 * counters and latency histograms per vault and operation, availability and saturation per
 * vault, process figures, gauges fed by callbacks, the Prometheus text exposition (format
 * 0.0.4), and alert rules evaluated over the same figures. Depends on base only: the HTTP
 * listener that serves it lives in http/ (cf_http_admin_*), the wiring in server/.
 *
 * Recording (cf_metrics_request) is lock-free and allocates nothing: a request lands in a
 * series keyed by (vault, operation, HTTP status) found in fixed open-addressed tables, and is
 * counted with two relaxed atomic adds in one of a few per-thread shards (summed when scraped).
 * Cardinality is bounded: at most CF_METRICS_MAX_VAULTS vaults and CF_METRICS_MAX_SERIES
 * series; past that, requests are counted under vault="_other" / operation="_other" (with their
 * real status), never dropped. An operation name longer than CF_METRICS_MAX_OP - 1 also counts
 * as "_other"; a vault name longer than CF_METRICS_MAX_VAULT - 1 as vault "_other".
 *
 * Exposed (names fixed; label values escaped as the format requires):
 *   coffer_api_requests_total{vault,operation,status}     counter
 *   coffer_api_latency_seconds{vault,operation}           histogram (_bucket{le} _sum _count)
 *   coffer_availability_ratio{vault}    gauge: non-5xx / all answers over the last window
 *                                       (default 5 min; 1 with no answers, as Azure's sits at
 *                                       100 %); 429 counts as available
 *   coffer_saturation_ratio{vault}      gauge: the saturation callback's value, else answers
 *                                       in the last 10 s / saturation_capacity (omitted when
 *                                       neither is set)
 *   coffer_tokens_issued_total          counter: TokenIssue answers with status 200
 *   coffer_store_commit_seconds         histogram (cf_metrics_store_commit)
 *   coffer_store_commit_jobs_total      counter
 *   coffer_alerts_firing{rule}          gauge: 1 while the rule fires
 *   coffer_alerts_fired_total{rule}     counter: firing events emitted
 *   coffer_uptime_seconds, process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_virtual_memory_bytes, process_open_fds, process_max_fds, process_threads,
 *   process_start_time_seconds (from /proc/self)
 *   every gauge or counter added with cf_metrics_add_gauge (coffer_audit_queue_depth,
 *   coffer_sealed, coffer_store_queue_depth ... as the server wires them).
 *
 * Alert rules (cf_metrics_add_rule; the expression language is documented there) are checked
 * by cf_metrics_tick: every tick_ms on the thread cf_metrics_start starts, or by hand in tests.
 * The tick also takes the snapshots that windows (availability, rate, increase, avg) compare
 * against, so windows have the tick's resolution.
 *
 * Threads: everything is thread-safe. Recording never blocks; scrape, tick and rule set-up
 * share one mutex. Callbacks (gauges, saturation, the alert sink) run under that mutex on the
 * scraping or ticking thread: they must not call back into this module and should be quick. */
#ifndef CF_METRICS_H
#define CF_METRICS_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"

#include <time.h>

#define CF_METRICS_MAX_VAULTS 256
#define CF_METRICS_MAX_SERIES 2048
#define CF_METRICS_MAX_OP 40
#define CF_METRICS_MAX_VAULT 64
#define CF_METRICS_MAX_GAUGES 32
#define CF_METRICS_MAX_RULES 64
#define CF_METRICS_MAX_SHARDS 16
/* Latency buckets (seconds; +Inf is implied): */
#define CF_METRICS_BUCKETS_LE                                                                      \
    {                                                                                              \
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10             \
    }
#define CF_METRICS_NBUCKETS 15 /* the 14 above and +Inf */

struct cf_metrics_opts {
    const struct cf_clock *clock; /* wall clock for windows and alerts; NULL: the system's.
                                     Borrowed: must outlive the metrics */
    int shards;                   /* counter shards; 0: twice the cores (max MAX_SHARDS) */
    int64_t window_ms;            /* availability window; 0: 300000 (5 min) */
    int64_t tick_ms;              /* snapshot and rule period; 0: 15000 */
    double saturation_capacity;   /* answers per vault per 10 s counted as saturation 1.0
                                     when no saturation callback is set; 0: none */
    size_t seen_capacity;         /* first-read set entries (rounded up to a power of two,
                                     >= 1024); 0: 65536 (512 KiB) */
};

struct cf_metrics;

struct cf_metrics *cf_metrics_new(const struct cf_metrics_opts *opts, cf_err *err);
/* Stops the tick thread if running. Accepts NULL. */
void cf_metrics_free(struct cf_metrics *m);

/* Monotonic microseconds, for the durations given to cf_metrics_request. */
static inline int64_t cf_metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One answered request: vault name ("" or NULL off the data plane), the route's operation
 * name ("SecretGet"; NULL or "": "_none"), the HTTP status sent, its server-side duration.
 * m NULL: nothing. Lock-free, allocation-free. */
void cf_metrics_request(struct cf_metrics *m, const char *vault, const char *operation, int status,
                        int64_t dur_us);

/* One store commit (the shape of store_debug.h's commit hook: ctx is the struct
 * cf_metrics). */
void cf_metrics_store_commit(void *m, int64_t dur_us, size_t jobs);

enum cf_metrics_type { CF_METRICS_GAUGE, CF_METRICS_COUNTER };
/* A figure read at scrape and tick time; NaN: omitted from that scrape. */
typedef double (*cf_metrics_value_fn)(void *arg);
/* Adds a label-less metric (name [a-zA-Z_:][a-zA-Z0-9_:]*, a counter's ending in _total) that
 * rules may use too. CF_EINVAL for a bad or taken name, CF_EFULL past MAX_GAUGES. Before
 * cf_metrics_start. */
cf_err cf_metrics_add_gauge(struct cf_metrics *m, const char *name, const char *help,
                            enum cf_metrics_type type, cf_metrics_value_fn fn, void *arg);
/* The share of a vault's throttling capacity in use (0..1), e.g. 1 - min over its buckets of
 * tokens left / capacity; NaN: unknown (omitted). */
typedef double (*cf_metrics_saturation_fn)(void *arg, const char *vault);
void cf_metrics_set_saturation_fn(struct cf_metrics *m, cf_metrics_saturation_fn fn, void *arg);

/* Appends the whole exposition (Content-Type "text/plain; version=0.0.4; charset=utf-8"). */
cf_err cf_metrics_render(struct cf_metrics *m, struct cf_buf *out);

/* ---- alert rules ----
 * expr, one of:
 *   VALUE CMP NUMBER     CMP: < <= > >= == !=; NUMBER: decimal, may end in % (/100)
 *   first_read           a principal read a secret it had not read before (cf_metrics_note_read)
 * VALUE, one of:
 *   METRIC[SEL]                      the current value, summed over the matching series
 *   availability[SEL]                = coffer_availability_ratio (the lowest matching vault)
 *   saturation[SEL]                  = coffer_saturation_ratio (the highest matching vault)
 *   rate(METRIC[SEL][DUR])           per-second increase over the last DUR
 *   increase(METRIC[SEL][DUR])       increase over the last DUR
 *   avg(HISTOGRAM[SEL][DUR])         mean observation over the last DUR (seconds; NaN, i.e. not
 *                                    firing, when there was none)
 * METRIC is any counter or gauge above (coffer_availability_ratio and coffer_saturation_ratio
 * take the lowest / highest vault like their aliases); HISTOGRAM is coffer_api_latency_seconds
 * or coffer_store_commit_seconds. SEL is {label="value",label!="value",...} over the labels
 * vault, operation, status; status="4xx" matches a class. DUR is a number and s, m or h (at
 * most 1h). Windows compare with the newest snapshot at least DUR old (or the oldest one).
 * A condition must hold on every tick for for_ms before the rule fires (0: at once); it
 * resolves at the first tick where it does not hold. first_read fires once per tick that saw
 * new first reads, with up to 8 of them named. Errors: CF_EINVAL and a message in err
 * ("position 12: expected ')'"); CF_EEXISTS for a taken name; CF_EFULL past MAX_RULES. */
cf_err cf_metrics_add_rule(struct cf_metrics *m, const char *name, const char *expr, int64_t for_ms,
                           char *err, size_t errcap);

/* "90s", "1m", "2h", "15" (seconds) -> milliseconds (for the config's for = 1m). */
cf_err cf_metrics_parse_duration(const char *s, int64_t *ms);

struct cf_metrics_alert {
    const char *rule;
    const char *expr;
    bool firing;        /* false: resolved */
    double value;       /* the value that crossed (NaN for first_read) */
    const char *detail; /* "vault=v1", "oid=... vault=v1 secret=s1", ... ("" if none) */
    int64_t time_ms;    /* the clock's time of the tick */
};
/* Receives every firing and resolved event (besides the log line "alert firing: NAME ...").
 * Runs on the ticking thread under the module's lock. */
typedef void (*cf_metrics_alert_fn)(void *arg, const struct cf_metrics_alert *a);
void cf_metrics_set_alert_sink(struct cf_metrics *m, cf_metrics_alert_fn fn, void *arg);

/* Takes a snapshot and evaluates every rule (the tick thread's body; tests call it with a
 * test clock). */
void cf_metrics_tick(struct cf_metrics *m);
/* Starts the thread that ticks every tick_ms; cf_metrics_free stops it. */
cf_err cf_metrics_start(struct cf_metrics *m);

/* A successful read of a secret by a principal (the API feeds it; a no-op returning false
 * unless a first_read rule was added). The set of seen
 * (oid, vault, name) is bounded (seen_capacity 64-bit fingerprints, 8-way sets, the oldest of
 * a full set forgotten: a forgotten pair counts as a first read again). True when this was
 * the first read in memory. Thread-safe (striped locks), allocation-free. */
bool cf_metrics_note_read(struct cf_metrics *m, const char *oid, const char *vault,
                          const char *name);

#endif

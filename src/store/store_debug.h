/* store_debug.h - counters and failure injection for tests, benchmarks and /metrics.
 * Not needed by the domain; kept apart from store.h so the contract stays small. */
#ifndef CF_STORE_DEBUG_H
#define CF_STORE_DEBUG_H

#include "base/cf.h"
#include "store/store.h"

struct cf_store_stats {
    uint64_t commits;   /* write transactions committed (one fsync each) */
    uint64_t jobs;      /* write jobs run */
    uint64_t max_batch; /* largest number of jobs in one transaction */
    uint64_t failed_commits;
    uint64_t queue_len; /* write jobs queued now, not yet taken into a batch */
    uint64_t checkpoints; /* checkpoints run (the checkpointer's and the writer's catch-ups) */
};
void cf_store_stats(struct cf_store *s, struct cf_store_stats *out);

/* fn(ctx, dur_us, jobs) runs on the writer thread after every batch (committed or failed) with
 * its duration and number of jobs, before the batch's waiters wake: it must be quick and must
 * not block (metrics: cf_metrics_store_commit). NULL (the default): no hook, and the writer
 * reads no clock. */
void cf_store_debug_on_commit(struct cf_store *s,
                              void (*fn)(void *ctx, int64_t dur_us, size_t jobs), void *ctx);

/* The next n write transactions are rolled back instead of committed and fail every job of
 * their batch with CF_ESTORE (tests of the "a failed commit fails the batch" rule). */
void cf_store_debug_fail_commits(struct cf_store *s, int n);

#endif

/* store.h - durable storage of ciphertext and metadata (DESIGN.md §2, §6, §8).
 *
 * The store never sees plaintext secrets and never does crypto: callers hand it sealed blobs.
 * Backends sit behind struct cf_store_ops (SQLite now; PostgreSQL later; every backend passes
 * the one conformance suite in tests/store/).
 *
 * Transactions are callbacks: the caller passes fn(txn, arg); txn is valid only during fn, as is
 * every pointer the store hands out inside it (copy what you keep).
 *   cf_store_read  - runs fn on the calling thread in a read transaction (a snapshot), using a
 *                    pooled read connection. Never blocks on writers (WAL).
 *   cf_store_write - queues fn to the single writer thread and blocks until the batch holding
 *                    it is durable. The writer runs every queued fn of a batch inside one
 *                    transaction, each inside its own SAVEPOINT: an fn that returns an error has
 *                    its own changes rolled back and the others commit (group commit, one fsync
 *                    per batch). Returns fn's error, or the commit's (CF_EFULL for a full disk,
 *                    CF_ESTORE otherwise), and the write is then not visible.
 * Thread-safe: any thread may call cf_store_read/write concurrently. Do not call cf_store_write
 * from inside fn. */
#ifndef CF_STORE_H
#define CF_STORE_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/str.h"

struct cf_store;
struct cf_store_txn;

struct cf_store_opts {
    const char *path;      /* SQLite database file */
    int read_conns;        /* pooled read connections (default 8) */
    int max_batch;         /* most write jobs per transaction (default 256) */
};

/* Opens (creating and migrating the schema as needed). NULL and *err set on failure. */
struct cf_store *cf_store_open_sqlite(const struct cf_store_opts *opts, cf_err *err);
void cf_store_close(struct cf_store *s);

typedef cf_err (*cf_store_fn)(struct cf_store_txn *txn, void *arg);
cf_err cf_store_read(struct cf_store *s, cf_store_fn fn, void *arg);
cf_err cf_store_write(struct cf_store *s, cf_store_fn fn, void *arg);
/* The asynchronous form of cf_store_write, for callers that must not block (the event loop):
 * queues fn and returns at once. When the batch holding it is durable (or failed), the store's
 * acker thread calls done(result, done_arg) - outside the store's locks, in submission order,
 * while the writer goes on with later batches - so done may answer a client, but it must not
 * block (it delays every later done) and must not call cf_store_write. arg and done_arg must stay
 * valid until done runs. On CF_OK from this call done is guaranteed to run exactly once;
 * otherwise it never runs. */
typedef void (*cf_store_done_fn)(cf_err result, void *done_arg);
cf_err cf_store_write_async(struct cf_store *s, cf_store_fn fn, void *arg, cf_store_done_fn done,
                            void *done_arg);
/* Calls begin() on the acker thread before it runs the done callbacks of a run of finished
 * batches and end() after them (NULL: none), so the caller can batch what the callbacks do:
 * the API holds the HTTP workers' wake-ups and wakes each worker once per run instead of once
 * per answer. end() must not be skipped by begin(): both run on every non-empty run. */
void cf_store_set_ack_hooks(struct cf_store *s, void (*begin)(void), void (*end)(void));
/* Runs SQLite's integrity check (tests, crash harness). */
cf_err cf_store_check(struct cf_store *s);

/* ---- server metadata: small named blobs (sealed signing keys, CA, wrapped data keys) ---- */
/* Appends the value to out; CF_ENOTFOUND if absent. */
cf_err cf_store_meta_get(struct cf_store_txn *t, const char *key, struct cf_buf *out);
cf_err cf_store_meta_put(struct cf_store_txn *t, const char *key, const void *val, size_t len);
/* CF_ENOTFOUND if absent. */
cf_err cf_store_meta_del(struct cf_store_txn *t, const char *key);

/* ---- principals (service principals of the token authority) ---- */
struct cf_rec_principal {
    char tenant_id[37];
    char client_id[64];    /* appId */
    char object_id[37];    /* oid */
    char display_name[128];
    char secret_hash[160]; /* cf_pwhash form */
    bool enabled;
    int64_t generation;    /* bumped on any change that must invalidate cached tokens */
    int64_t created;       /* unix s */
};
cf_err cf_store_principal_put(struct cf_store_txn *t, const struct cf_rec_principal *p);
cf_err cf_store_principal_get(struct cf_store_txn *t, const char *tenant_id,
                              const char *client_id, struct cf_rec_principal *out);

/* ---- audit outbox (DESIGN.md §6: "a write's audit record commits with the write") ----
 * A caller that wants its writes to carry an audit record binds the record to its thread with
 * cf_store_audit_bind before it calls into the layers that write (the vault service knows
 * nothing of audit). cf_store_write and cf_store_write_async capture the bound record at
 * submission; the writer inserts it into the audit_outbox table inside the job's SAVEPOINT,
 * after fn succeeded, so the row exists iff the job's changes committed. An insert that fails
 * fails the job (its changes roll back: fail closed). After the COMMIT the writer sets
 * committed (before the job's waiter returns or its done callback runs) and a later write of
 * the same thread no longer captures the record: one row per record even when a request
 * writes several times. A job that fails, or a batch whose COMMIT fails, leaves committed
 * false and no row.
 * The binding is the store's one piece of per-thread state (a _Thread_local pointer in
 * sqlite.c, allowed by this header): bind right before the call, unbind (NULL) right after,
 * on the same thread. The record (and its line) must stay valid until the write that carries
 * it returned or its done callback ran. Writes from threads without a binding carry nothing. */
struct cf_store_audit {
    struct cf_str line; /* one formatted record (JSON, no newline); empty: nothing to insert */
    bool committed;     /* set by the writer once a write carrying line committed */
};
void cf_store_audit_bind(struct cf_store_audit *rec);

/* The outbox, for the one drainer that moves rows to the audit log (in id order) and deletes
 * them once they are durable there. Ids only grow (AUTOINCREMENT), also across deletes.
 * cf_store_outbox_read and cf_store_outbox_delete are called from one thread at a time (the
 * drainer): reads are served from the rows the writer just committed, kept in memory until
 * their delete. */
typedef bool (*cf_store_outbox_fn)(void *ctx, int64_t id, struct cf_str line);
/* Calls fn for up to max rows with id > after, in id order, in one read snapshot; fn returns
 * false to stop early. CF_OK, or the read's error. */
cf_err cf_store_outbox_read(struct cf_store *s, int64_t after, size_t max, cf_store_outbox_fn fn,
                            void *ctx);
/* Deletes every row with id <= upto (a durable write). */
cf_err cf_store_outbox_delete(struct cf_store *s, int64_t upto);
/* Makes the next row's id greater than floor (the audit log's last outbox id: a store that
 * was replaced or restored must not hand out ids the log would take for ones it has). */
cf_err cf_store_outbox_floor(struct cf_store *s, int64_t floor);
/* Rows waiting (tests, metrics). */
cf_err cf_store_outbox_count(struct cf_store *s, int64_t *n);
/* fn(ctx) runs on the writer thread after every COMMIT that added outbox rows, outside the
 * store's locks; it must not block (wake a drainer) nor call this function. NULL: none.
 * Returns once no call of the previous hook is running (its ctx may then be freed). */
void cf_store_outbox_notify(struct cf_store *s, void (*fn)(void *ctx), void *ctx);

/* ---- resource groups, vaults, secrets: declared in store_vault.h (the vault domain's part) */

#endif

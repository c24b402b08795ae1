/* sqlite.c - the SQLite backend of store.h: connections and their statement cache, schema
 * creation and migration, the single writer thread with group commit, the read-connection pool,
 * meta records and principals. Vault-domain records are in sqlite_vault.c, access-control
 * records in sqlite_auth.c.
 *
 * Write path: cf_store_write queues a job (on the caller's stack) and sleeps on its own cv. The
 * writer thread takes up to max_batch queued jobs, runs them in one BEGIN IMMEDIATE .. COMMIT,
 * each inside SAVEPOINT job .. RELEASE job (ROLLBACK TO job when its fn fails), then marks
 * every job done and broadcasts. With synchronous=FULL in WAL mode the COMMIT is the one fsync
 * of the batch; jobs that queue while it runs form the next batch (group commit).
 * Read path: a fixed pool of connections (query_only) on a free list; BEGIN .. COMMIT around fn
 * gives fn one snapshot; WAL readers never wait for the writer. */
#include "base/cf.h"
#include "base/log.h"

#include <pthread.h>
#include <sys/statvfs.h>

#include "store/sqlite_int.h"
#include "store/store.h"
#include "store/store_debug.h"

/* Bounds the memory queued writes can take when clients write faster than the disk syncs:
 * past it cf_store_write_async answers CF_EBUSY (the API sheds with 503 + Retry-After). */
#define CF_STORE_MAX_QUEUE 16384

struct write_job {
    cf_store_fn fn;
    void *arg;
    cf_err result;
    bool done;
    struct write_job *next;
    /* Each waiter sleeps on its own condition: one broadcast per batch woke every waiting
     * thread (most of them for later batches) and was measured as the top cost of SET. */
    pthread_cond_t cv;
    /* Asynchronous jobs (cf_store_write_async): heap-allocated, nobody waits; the acker thread
     * calls done after the batch is durable (or failed), then frees the job. */
    cf_store_done_fn done_fn;
    void *done_arg;
    /* The audit record bound to the submitting thread (cf_store_audit_bind), inserted into
     * audit_outbox in the job's savepoint; audit_row: that insert happened (and survives iff
     * the batch commits). */
    struct cf_store_audit *audit;
    bool audit_row;
    int64_t audit_id; /* the outbox row's id (when audit_row) */
};

/* A committed outbox row kept in memory for the drainer (see "recent outbox rows"). */
struct outbox_mem_row {
    int64_t id;
    size_t len;
    char *line;
};

/* The thread's bound audit record (store.h allows this one piece of per-thread state). */
static _Thread_local struct cf_store_audit *tl_audit;

struct cf_store {
    int max_batch;
    struct cf_sq_conn wconn;

    /* read pool */
    struct cf_sq_conn *rconns;
    int nread;
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    struct cf_sq_conn *rfree;

    /* writer: queue, stop flag, counters and fail_commits are guarded by wmu */
    pthread_mutex_t wmu;
    pthread_cond_t work_cv;
    struct write_job *qhead, *qtail;
    bool stop;
    size_t qlen; /* queued jobs; asynchronous writers are refused past CF_STORE_MAX_QUEUE */
    bool writer_running;
    pthread_t writer;
    struct cf_store_stats stats;
    int fail_commits;

    /* checkpointer: copies the WAL back into the database on its own thread and connection,
     * so the writer never stops to do it (it was ~16 % of the writer's time under SET load).
     * The writer's WAL hook wakes it every CKPT_FRAMES frames appended since the last
     * checkpoint; between those it checkpoints when a tick passed without a commit and frames
     * wait to be copied (see CKPT_FRAMES). */
    struct cf_sq_conn ckconn;
    pthread_mutex_t ckmu;
    pthread_cond_t ckcv;
    bool ck_pending, ck_stop, ck_running;
    int wal_frames;      /* frames in the WAL after the last commit (written under ckmu) */
    int ck_base;         /* wal_frames when the last checkpoint started (0 after a restart) */
    bool ck_dirty;       /* frames may wait to be copied: an idle tick checkpoints them */
    int ck_limit;        /* checkpoint threshold now: CKPT_FRAMES, lower on a filling disk */
    int ck_probe_at;     /* frames count at which the writer next looks at the free space */
    bool ck_catchup;     /* the WAL is past its bound: the writer checkpoints (writer only) */
    char *path;          /* the database file (statvfs of its file system) */
    uint64_t wal_commits; /* commits seen by the WAL hook (under ckmu) */
    uint64_t checkpoints; /* checkpoints run (under ckmu) */
    pthread_t ckpt;

    /* audit outbox: the insert is prepared on the writer connection and used only by the
     * writer thread; the notify hook is set before writes start */
    sqlite3_stmt *outbox_ins;
    void (*outbox_fn)(void *ctx); /* guarded by wmu */
    void *outbox_ctx;
    bool outbox_busy; /* the writer is calling outbox_fn (wmu) */
    /* commit hook (store_debug.h): guarded by wmu, read by the writer with each batch */
    void (*commit_fn)(void *ctx, int64_t dur_us, size_t jobs);
    void *commit_ctx;
    pthread_cond_t outbox_cv; /* outbox_busy went false */

    /* acker: runs the done callbacks of finished asynchronous jobs on its own thread, so the
     * writer starts its next batch as soon as a commit returns instead of after every reply of
     * the batch was built (JSON, response hand-off). The writer appends each batch's
     * asynchronous jobs in submission order, one signal per batch; the acker runs them in that
     * order. Guarded by amu; ack_stop is set only after the writer has exited, and the acker
     * drains its queue before it exits. */
    pthread_mutex_t amu;
    pthread_cond_t acv;
    struct write_job *ahead, *atail;
    bool ack_stop, ack_running;
    void (*ack_begin)(void), (*ack_end)(void); /* cf_store_set_ack_hooks (amu) */
    pthread_t acker;

    /* recent outbox rows: a ring of the rows the writer committed, so the drainer takes them
     * from memory instead of a read transaction per batch (which re-read the outbox's pages
     * from the WAL each time: every commit invalidates a reader's page cache). Guarded by omu;
     * the writer appends (after COMMIT), the one drainer reads and drops (outbox delete). */
    pthread_mutex_t omu;
    struct outbox_mem_row *orows; /* [OUTBOX_MEM_ROWS] */
    size_t ostart, on;            /* ring: first row, rows held */
    int64_t ocover; /* every committed row with id >= ocover still in the table is in the ring
                     * (INT64_MAX: no such claim yet) */
    bool ooverflow; /* rows committed after the ring's last are missing from it (full, or no
                     * memory): appends stop until the drainer empties the ring */
};

/* Rows the ring holds at most (~6 MB of typical records); the drainer deletes every 200 ms
 * or 4,096 rows, so under load it holds a few thousand. Past it the drainer reads SQL. */
#define OUTBOX_MEM_ROWS 8192

/* Checkpoint policy. A checkpoint copies each page the WAL holds once (its latest frame) and
 * syncs the database file, so its cost follows the distinct pages written since the last one,
 * not the frames: under sustained writes the same hot pages (index leaves, the tail pages of
 * the version and outbox tables) are rewritten by every batch, and checkpointing every 2,000
 * frames copied nearly one page per SET back (~12 us of CPU, 10 % of a SET). So: a checkpoint
 * when the WAL reaches CKPT_FRAMES (~16 MB at 4 KiB pages; larger saved a little more CPU but
 * let the WAL take most of a small data dir's disk: tests/reliability/diskfull.sh), and when the writer has been idle
 * for a tick (CKPT_IDLE_MS without a commit) while the WAL holds frames - the WAL is folded back
 * soon after a burst ends. Durability does not depend on checkpoints (synchronous=FULL: a
 * commit is durable once its WAL frames are synced). */
#define CKPT_FRAMES 4096
#define CKPT_IDLE_MS 200
/* On a filling disk the threshold drops to a quarter of the free space (in 4 KiB pages, at
 * least CKPT_MIN_FRAMES), looked up with statvfs every CKPT_PROBE_FRAMES frames: a checkpoint
 * must be able to grow the database by the new pages the WAL holds, and a WAL of thousands of
 * new pages on an almost full disk left no way back once space returned - the checkpoint
 * failed for want of room, the WAL could not restart, every write failed again
 * (tests/reliability/diskfull.sh, about one run in two). */
#define CKPT_MIN_FRAMES 64
#define CKPT_PROBE_FRAMES 64
/* Under sustained writes the checkpointer's PASSIVE checkpoints never catch up entirely (the
 * writer appends while they copy), so the WAL never starts over and keeps growing. Past this
 * many frames (~64 MB; four thresholds on a filling disk) the writer itself checkpoints after
 * its commit, between batches: it copies only what the checkpointer has not yet, and its next
 * transaction starts the WAL from the beginning. A RESTART checkpoint on the checkpointer's
 * connection did this before, but under load it starved for the write lock for its whole
 * 5 s busy timeout while no checkpoint ran at all: WAL files of 700 MB. */
#define CKPT_RESTART_FRAMES 16384

static const char *const sql_text[CF_SQ_COUNT] = {
#define CF_SQL_TEXT(id, sql) sql,
    CF_SQL_TABLE(CF_SQL_TEXT)
#undef CF_SQL_TEXT
};

/* ---------------- helpers shared with sqlite_vault.c ---------------- */

cf_err cf_sq_err(sqlite3 *db, int rc, const char *what)
{
    int prim = rc & 0xff;
    cf_err e;

    if (prim == SQLITE_FULL)
        e = CF_EFULL;
    else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        e = CF_EEXISTS;
    else if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        e = CF_EBUSY;
    else if (prim == SQLITE_NOMEM)
        e = CF_ENOMEM;
    else
        e = CF_ESTORE;
    /* SQLite messages name tables and columns, never bound values. */
    if (e != CF_EEXISTS)
        cf_error("store: %s: %s (%d)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    return e;
}

sqlite3_stmt *cf_sq_prepare(struct cf_store_txn *t, const char *sql, const char *what,
                            cf_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(CF_SQ_DB(t), sql, -1, &st, NULL);

    if (rc != SQLITE_OK) {
        *err = cf_sq_err(CF_SQ_DB(t), rc, what);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

cf_err cf_sq_change(struct cf_store_txn *t, sqlite3_stmt *st, const char *what, bool need_row)
{
    int rc = sqlite3_step(st);
    cf_err e = CF_OK;

    if (rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, what);
    else if (need_row && sqlite3_changes(CF_SQ_DB(t)) == 0)
        e = CF_ENOTFOUND;
    sqlite3_finalize(st);
    return e;
}

static sqlite3_stmt *conn_stmt(struct cf_sq_conn *c, enum cf_sq_id id, cf_err *err)
{
    int rc;

    if (!c->stmts[id]) {
        rc = sqlite3_prepare_v3(c->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[id],
                                NULL);
        if (rc != SQLITE_OK) {
            *err = cf_sq_err(c->db, rc, "prepare");
            c->stmts[id] = NULL;
            return NULL;
        }
    }
    return c->stmts[id];
}

sqlite3_stmt *cf_sq_stmt(struct cf_store_txn *t, enum cf_sq_id id, cf_err *err)
{
    return conn_stmt(t->conn, id, err);
}

void cf_sq_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

int cf_sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (!s)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

cf_err cf_sq_step_change(struct cf_store_txn *t, sqlite3_stmt *st, const char *what, bool need_row)
{
    int rc = sqlite3_step(st);
    cf_err e = CF_OK;

    if (rc != SQLITE_DONE)
        e = cf_sq_err(t->conn->db, rc, what);
    else if (need_row && sqlite3_changes(t->conn->db) == 0)
        e = CF_ENOTFOUND;
    cf_sq_done(st);
    return e;
}

void cf_sq_lower_copy(const char *in, char *out, size_t outsz)
{
    size_t i;

    for (i = 0; in[i] && i + 1 < outsz; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
}

void cf_sq_col_cpy(sqlite3_stmt *st, int i, char *out, size_t outsz)
{
    const unsigned char *p = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);

    if (!p)
        n = 0;
    if (n >= outsz)
        n = outsz - 1;
    if (n)
        memcpy(out, p, n);
    out[n] = '\0';
}

char *cf_sq_col_dup(sqlite3_stmt *st, int i, cf_err *err)
{
    const unsigned char *p;
    size_t n;
    char *d;

    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    p = sqlite3_column_text(st, i);
    n = (size_t)sqlite3_column_bytes(st, i);
    d = malloc(n + 1);
    if (!d) {
        *err = CF_ENOMEM;
        return NULL;
    }
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* Steps a transaction-control statement of the cache. */
static int conn_run(struct cf_sq_conn *c, enum cf_sq_id id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = conn_stmt(c, id, &e);
    int rc;

    if (!st)
        return SQLITE_ERROR;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---------------- connections and schema ---------------- */

/* Schema history: each entry moves the database from version i to i+1. Never edit an entry
 * once released; append a new one. */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE principals(tenant_id TEXT NOT NULL, client_id TEXT NOT NULL,"
    " object_id TEXT NOT NULL, display_name TEXT NOT NULL, secret_hash TEXT NOT NULL,"
    " enabled INTEGER NOT NULL, generation INTEGER NOT NULL, created INTEGER NOT NULL,"
    " PRIMARY KEY(tenant_id, client_id)) WITHOUT ROWID;"
    "CREATE TABLE groups(subscription TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL,"
    " location TEXT NOT NULL, tags_json TEXT NOT NULL, created INTEGER NOT NULL,"
    " PRIMARY KEY(subscription, name_lc)) WITHOUT ROWID;"
    "CREATE TABLE vaults(id INTEGER PRIMARY KEY AUTOINCREMENT, name_lc TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, subscription TEXT NOT NULL, rg_lc TEXT NOT NULL,"
    " resource_group TEXT NOT NULL, location TEXT NOT NULL, tenant_id TEXT NOT NULL,"
    " sku TEXT NOT NULL, retention_days INTEGER NOT NULL, soft_delete INTEGER NOT NULL,"
    " purge_protection INTEGER NOT NULL, rbac INTEGER NOT NULL, for_deployment INTEGER NOT NULL,"
    " for_disk_encryption INTEGER NOT NULL, for_template_deployment INTEGER NOT NULL,"
    " public_network_access TEXT NOT NULL, tags_json TEXT NOT NULL,"
    " access_policies_json TEXT NOT NULL, network_acls_json TEXT, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL, deleted INTEGER NOT NULL, deleted_date INTEGER NOT NULL,"
    " scheduled_purge INTEGER NOT NULL, dek BLOB NOT NULL);"
    "CREATE INDEX vaults_by_rg ON vaults(subscription, rg_lc, deleted, name_lc);"
    "CREATE INDEX vaults_by_purge ON vaults(deleted, scheduled_purge);"
    "CREATE TABLE secret_objects(id INTEGER PRIMARY KEY,"
    " vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    " name_lc TEXT NOT NULL, name TEXT NOT NULL, latest_seq INTEGER NOT NULL,"
    " latest_version TEXT NOT NULL, deleted INTEGER NOT NULL, deleted_date INTEGER NOT NULL,"
    " scheduled_purge INTEGER NOT NULL, UNIQUE(vault_id, name_lc));"
    /* listing live or deleted names in order, O(page) whatever the other state holds */
    "CREATE INDEX secret_objects_by_state ON secret_objects(vault_id, deleted, name_lc);"
    "CREATE INDEX secret_objects_by_purge ON secret_objects(deleted, scheduled_purge);"
    "CREATE TABLE secret_versions(id INTEGER PRIMARY KEY,"
    " object_id INTEGER NOT NULL REFERENCES secret_objects(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, version TEXT NOT NULL, prev_version TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, enabled INTEGER NOT NULL,"
    " nbf INTEGER NOT NULL, exp INTEGER NOT NULL, content_type TEXT, tags_json TEXT,"
    " managed INTEGER NOT NULL, kid TEXT NOT NULL, value BLOB NOT NULL,"
    " UNIQUE(object_id, seq), UNIQUE(object_id, version));",
    /* 2: access control (sqlite_auth.c): custom role definitions and role assignments. An
     * access check reads a principal's assignments (by principal_id); the management API lists
     * a scope and its subtree (by scope: subtree = one range of the index). */
    "CREATE TABLE role_definitions(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " name_lc TEXT NOT NULL UNIQUE, description TEXT NOT NULL, assignable_scopes TEXT NOT NULL,"
    " permissions TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE role_assignments(id TEXT PRIMARY KEY, scope TEXT NOT NULL,"
    " role_definition_id TEXT NOT NULL, principal_id TEXT NOT NULL,"
    " principal_type TEXT NOT NULL, created INTEGER NOT NULL, created_by TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX role_assignments_by_principal ON role_assignments(principal_id);"
    "CREATE INDEX role_assignments_by_scope ON role_assignments(scope);",
    /* keys (sqlite_keys.c): objects and versions as secrets have them, the private key sealed
     * in key_versions.priv, the public JWK in clear; rotation policies one per object, listed
     * by the janitor through the rotate index */
    "CREATE TABLE key_objects(id INTEGER PRIMARY KEY,"
    " vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    " name_lc TEXT NOT NULL, name TEXT NOT NULL, latest_seq INTEGER NOT NULL,"
    " latest_version TEXT NOT NULL, deleted INTEGER NOT NULL, deleted_date INTEGER NOT NULL,"
    " scheduled_purge INTEGER NOT NULL, UNIQUE(vault_id, name_lc));"
    "CREATE INDEX key_objects_by_state ON key_objects(vault_id, deleted, name_lc);"
    "CREATE INDEX key_objects_by_purge ON key_objects(deleted, scheduled_purge);"
    "CREATE TABLE key_versions(id INTEGER PRIMARY KEY,"
    " object_id INTEGER NOT NULL REFERENCES key_objects(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, version TEXT NOT NULL, kty TEXT NOT NULL, key_size INTEGER NOT NULL,"
    " crv TEXT NOT NULL, key_ops INTEGER NOT NULL, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL, enabled INTEGER NOT NULL, exportable INTEGER NOT NULL,"
    " managed INTEGER NOT NULL, imported INTEGER NOT NULL, nbf INTEGER NOT NULL,"
    " exp INTEGER NOT NULL, public_jwk TEXT NOT NULL, tags_json TEXT, release_policy TEXT,"
    " priv BLOB NOT NULL, UNIQUE(object_id, seq), UNIQUE(object_id, version));"
    "CREATE TABLE key_policies(object_id INTEGER PRIMARY KEY"
    " REFERENCES key_objects(id) ON DELETE CASCADE, rotate INTEGER NOT NULL,"
    " rotate_dur TEXT NOT NULL, notify_dur TEXT NOT NULL, expiry_time TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX key_policies_by_rotate ON key_policies(rotate, object_id);",
    /* identities (sqlite_auth.c): the Graph-shaped directory. An application row pairs with
     * the principals row (its servicePrincipal) of the same (tenant_id, client_id); credentials
     * are the app's passwordCredentials (kind 0: PBKDF2 hash, hint) and keyCredentials (kind 1:
     * DER certificate and its SHA-1/SHA-256 thumbprints, validity from the certificate);
     * directory groups and their members (object ids of service principals or groups; the
     * member index serves memberOf at token verification). The one secret_hash a principal
     * had becomes its first password credential (no expiry: 9999-12-31), so existing data
     * dirs keep logging in; principals.secret_hash is left empty from here on. */
    "CREATE TABLE applications(object_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,"
    " client_id TEXT NOT NULL, display_name TEXT NOT NULL, created INTEGER NOT NULL,"
    " UNIQUE(tenant_id, client_id)) WITHOUT ROWID;"
    "CREATE TABLE credentials(tenant_id TEXT NOT NULL, client_id TEXT NOT NULL,"
    " key_id TEXT NOT NULL, kind INTEGER NOT NULL, display_name TEXT NOT NULL,"
    " hint TEXT NOT NULL, secret_hash TEXT NOT NULL, thumb_sha1 TEXT NOT NULL,"
    " thumb_sha256 TEXT NOT NULL, cert BLOB, start_time INTEGER NOT NULL,"
    " end_time INTEGER NOT NULL, created INTEGER NOT NULL,"
    " PRIMARY KEY(tenant_id, client_id, key_id)) WITHOUT ROWID;"
    "CREATE TABLE dir_groups(object_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,"
    " display_name TEXT NOT NULL, display_name_lc TEXT NOT NULL, mail_nickname TEXT NOT NULL,"
    " description TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX dir_groups_by_name ON dir_groups(tenant_id, display_name_lc);"
    "CREATE TABLE dir_group_members(group_id TEXT NOT NULL"
    " REFERENCES dir_groups(object_id) ON DELETE CASCADE, member_id TEXT NOT NULL,"
    " member_type TEXT NOT NULL, PRIMARY KEY(group_id, member_id)) WITHOUT ROWID;"
    "CREATE INDEX dir_group_members_by_member ON dir_group_members(member_id);"
    "CREATE INDEX principals_by_oid ON principals(object_id);"
    "INSERT INTO applications(object_id,tenant_id,client_id,display_name,created)"
    " SELECT lower(hex(randomblob(4))||'-'||hex(randomblob(2))||'-4'||"
    "substr(hex(randomblob(2)),2)||'-'||substr('89ab',1+abs(random())%4,1)||"
    "substr(hex(randomblob(2)),2)||'-'||hex(randomblob(6))),"
    " tenant_id, client_id, display_name, created FROM principals;"
    "INSERT INTO credentials(tenant_id,client_id,key_id,kind,display_name,hint,secret_hash,"
    "thumb_sha1,thumb_sha256,cert,start_time,end_time,created)"
    " SELECT tenant_id, client_id, lower(hex(randomblob(4))||'-'||hex(randomblob(2))||'-4'||"
    "substr(hex(randomblob(2)),2)||'-'||substr('89ab',1+abs(random())%4,1)||"
    "substr(hex(randomblob(2)),2)||'-'||hex(randomblob(6))), 0, 'secret', '', secret_hash,"
    " '', '', NULL, created, 253402300799, created FROM principals WHERE secret_hash<>'';"
    "UPDATE principals SET secret_hash='';",
    /* locks (sqlite_locks.c): management locks, keyed by the normalised lower-case scope they
     * sit on and the lower-cased name; the primary key also serves the subtree range scan. */
    "CREATE TABLE locks(scope TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL,"
    " level INTEGER NOT NULL, notes TEXT NOT NULL, owners_json TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(scope, name_lc))"
    " WITHOUT ROWID;",
    /* audit outbox (store.h): a write's audit record, inserted in the write's own savepoint
     * and deleted once the drainer has it durable in the audit log. AUTOINCREMENT: ids never
     * come back after a delete (the log skips an id it already holds). */
    "CREATE TABLE audit_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);",
    /* certificates (sqlite_certs.c): objects with their policy JSON, versions with the X.509
     * DER, its chain and the key/secret versions they own, one pending operation per object
     * (CSR, sealed pending key), the vault's contacts and issuers (credentials sealed) */
    "CREATE TABLE cert_objects(id INTEGER PRIMARY KEY,"
    " vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    " name_lc TEXT NOT NULL, name TEXT NOT NULL, latest_seq INTEGER NOT NULL,"
    " latest_version TEXT NOT NULL, deleted INTEGER NOT NULL, deleted_date INTEGER NOT NULL,"
    " scheduled_purge INTEGER NOT NULL, policy TEXT NOT NULL, policy_created INTEGER NOT NULL,"
    " policy_updated INTEGER NOT NULL, UNIQUE(vault_id, name_lc));"
    "CREATE INDEX cert_objects_by_state ON cert_objects(vault_id, deleted, name_lc);"
    "CREATE INDEX cert_objects_by_purge ON cert_objects(deleted, scheduled_purge);"
    "CREATE TABLE cert_versions(id INTEGER PRIMARY KEY,"
    " object_id INTEGER NOT NULL REFERENCES cert_objects(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, version TEXT NOT NULL, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL, enabled INTEGER NOT NULL, nbf INTEGER NOT NULL,"
    " exp INTEGER NOT NULL, x5t TEXT NOT NULL, cer BLOB NOT NULL, chain BLOB NOT NULL,"
    " tags_json TEXT, key_version TEXT NOT NULL, secret_version TEXT NOT NULL,"
    " preserve_order INTEGER NOT NULL, UNIQUE(object_id, seq), UNIQUE(object_id, version));"
    "CREATE TABLE cert_pending(object_id INTEGER PRIMARY KEY"
    " REFERENCES cert_objects(id) ON DELETE CASCADE, request_id TEXT NOT NULL,"
    " status TEXT NOT NULL, status_details TEXT, error_json TEXT, cancel INTEGER NOT NULL,"
    " issuer_json TEXT NOT NULL, csr BLOB NOT NULL, priv BLOB NOT NULL, input_json TEXT,"
    " target_version TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE cert_contacts(vault_id INTEGER PRIMARY KEY"
    " REFERENCES vaults(id) ON DELETE CASCADE, contacts_json TEXT NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE cert_issuers(vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    " name_lc TEXT NOT NULL, name TEXT NOT NULL, provider TEXT NOT NULL,"
    " account_id TEXT NOT NULL, creds BLOB NOT NULL, org_json TEXT, enabled INTEGER NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(vault_id, name_lc));",
    /* events (sqlite_events.c, events/events.h): Event Grid subscriptions per vault (the
     * webhook signing secret sealed), the event outbox (rows inserted inside the write that
     * made the change, fanned out by the delivery worker), one delivery row per (event,
     * subscription) with its retry state, the dead letters, and which current versions have
     * had their NearExpiry / Expired event (kind 0 secret, 1 key, 2 certificate). */
    "CREATE TABLE event_subs(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    " name_lc TEXT NOT NULL, name TEXT NOT NULL, topic TEXT NOT NULL, endpoint TEXT NOT NULL,"
    " types TEXT NOT NULL, schema TEXT NOT NULL, max_attempts INTEGER NOT NULL,"
    " ttl_min INTEGER NOT NULL, dead_letter TEXT, state TEXT NOT NULL, secret BLOB NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, UNIQUE(vault_id, name_lc));"
    "CREATE TABLE event_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,"
    " vault_id INTEGER NOT NULL, type TEXT NOT NULL, subject TEXT NOT NULL,"
    " data TEXT NOT NULL, time_ms INTEGER NOT NULL);"
    "CREATE TABLE event_deliveries(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sub_id INTEGER NOT NULL REFERENCES event_subs(id) ON DELETE CASCADE,"
    " event_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,"
    " publish_ms INTEGER NOT NULL, attempts INTEGER NOT NULL, next_ms INTEGER NOT NULL,"
    " last_outcome TEXT NOT NULL, last_ms INTEGER NOT NULL);"
    "CREATE INDEX event_deliveries_by_due ON event_deliveries(next_ms);"
    "CREATE TABLE event_deadletters(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sub_id INTEGER NOT NULL REFERENCES event_subs(id) ON DELETE CASCADE,"
    " event_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, last_outcome TEXT NOT NULL, publish_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL);"
    "CREATE INDEX event_deadletters_by_sub ON event_deadletters(sub_id, id);"
    "CREATE TABLE event_expiry(kind INTEGER NOT NULL, object_id INTEGER NOT NULL,"
    " version TEXT NOT NULL, near INTEGER NOT NULL, expired INTEGER NOT NULL,"
    " PRIMARY KEY(kind, object_id, version)) WITHOUT ROWID;",
    /* diagnostic settings (store_diag.h): Microsoft.Insights/diagnosticSettings on a vault or
     * the subscription, naming the audit stream they feed */
    "CREATE TABLE diag_settings(scope TEXT NOT NULL, name_lc TEXT NOT NULL, name TEXT NOT NULL,"
    " stream TEXT NOT NULL, cats INTEGER NOT NULL, props_json TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(scope, name_lc))"
    " WITHOUT ROWID;",
    /* 10: secret_versions' version index leads with the version: UNIQUE(version, object_id)
     * instead of UNIQUE(object_id, version) - the same constraint, and lookups by (object,
     * version) use it the same way. New version ids start with their creation time (secrets.c
     * new_version), so every new entry lands at the index's growing edge, where a batch of
     * SETs shares one or two leaves; led by the object, each SET dirtied the leaf at the end of
     * its own object's range: ~70 of the ~140 WAL frames of a 45-SET commit (measured from the
     * WAL, bench/set.lua), i.e. half the bytes every SET commit writes and the checkpoint
     * copies back. An autoindex cannot be dropped, so the table is rebuilt (nothing references
     * it; its columns, rowids and the (object_id, seq) index are as before). */
    "CREATE TABLE secret_versions_v10(id INTEGER PRIMARY KEY,"
    " object_id INTEGER NOT NULL REFERENCES secret_objects(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, version TEXT NOT NULL, prev_version TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, enabled INTEGER NOT NULL,"
    " nbf INTEGER NOT NULL, exp INTEGER NOT NULL, content_type TEXT, tags_json TEXT,"
    " managed INTEGER NOT NULL, kid TEXT NOT NULL, value BLOB NOT NULL,"
    " UNIQUE(object_id, seq), UNIQUE(version, object_id));"
    "INSERT INTO secret_versions_v10(id,object_id,seq,version,prev_version,created,updated,"
    " enabled,nbf,exp,content_type,tags_json,managed,kid,value)"
    " SELECT id,object_id,seq,version,prev_version,created,updated,enabled,nbf,exp,"
    " content_type,tags_json,managed,kid,value FROM secret_versions;"
    "DROP TABLE secret_versions;"
    "ALTER TABLE secret_versions_v10 RENAME TO secret_versions;",
};
#define SCHEMA_VERSION ((int)CF_ARRAY_LEN(migrations))

static cf_err exec_sql(sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        cf_error("store: %s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return cf_sq_err(NULL, rc, what);
    }
    return CF_OK;
}

static cf_err conn_open(struct cf_sq_conn *c, const char *path, bool writer)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc;
    cf_err e;

    memset(c, 0, sizeof(*c));
    rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        e = cf_sq_err(c->db, rc, "open");
        goto fail_close;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 5000);
    if (writer) {
        /* journal_mode answers with the mode in force: insist on WAL */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc != SQLITE_ROW || strcasecmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
            sqlite3_finalize(st);
            cf_error("store: cannot enable WAL mode");
            e = CF_ESTORE;
            goto fail_close;
        }
        sqlite3_finalize(st);
        /* Checkpoints run on their own thread (ckpt_main); a larger page cache keeps the index
         * pages a burst of writes touches in memory. */
        e = exec_sql(c->db,
                     "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768;"
                     " PRAGMA journal_size_limit=67108864;",
                     "pragmas");
    } else {
        e = exec_sql(c->db,
                     "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                     " PRAGMA query_only=1;",
                     "pragmas");
    }
    if (e)
        goto fail_close;
    return CF_OK;

fail_close:
    sqlite3_close(c->db);
    c->db = NULL;
    return e;
}

static void conn_close(struct cf_sq_conn *c)
{
    if (!c->db)
        return;
    for (int i = 0; i < CF_SQ_COUNT; i++)
        sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
    memset(c, 0, sizeof(*c));
}

static cf_err schema_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL);
    cf_err e = CF_OK;

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        e = cf_sq_err(db, rc, "schema version");
    else
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return e;
}

static cf_err migrate(sqlite3 *db)
{
    int v = 0;
    char sql[96];
    cf_err e;

    e = exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                 "schema");
    if (e)
        return e;
    e = schema_version(db, &v);
    if (e)
        return e;
    if (v > SCHEMA_VERSION) {
        cf_error("store: database schema %d is newer than this build (%d)", v, SCHEMA_VERSION);
        return CF_ESTORE;
    }
    for (; v < SCHEMA_VERSION; v++) {
        e = exec_sql(db, "BEGIN IMMEDIATE", "migrate");
        if (e)
            return e;
        e = exec_sql(db, migrations[v], "migrate");
        if (!e) {
            snprintf(sql, sizeof(sql),
                     "DELETE FROM schema_version;"
                     "INSERT INTO schema_version VALUES(%d)",
                     v + 1);
            e = exec_sql(db, sql, "migrate");
        }
        if (!e)
            e = exec_sql(db, "COMMIT", "migrate");
        if (e) {
            exec_sql(db, "ROLLBACK", "migrate");
            return e;
        }
        cf_info("store: schema migrated to version %d", v + 1);
    }
    return CF_OK;
}

/* ---------------- writer thread ---------------- */

/* Inserts the job's audit record into the outbox (inside the job's savepoint). */
static cf_err outbox_insert(struct cf_store *s, struct write_job *j)
{
    struct cf_sq_conn *c = &s->wconn;
    int rc;

    if (!s->outbox_ins) {
        rc = sqlite3_prepare_v3(c->db, "INSERT INTO audit_outbox(line) VALUES(?1)", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->outbox_ins, NULL);
        if (rc != SQLITE_OK) {
            s->outbox_ins = NULL;
            return cf_sq_err(c->db, rc, "outbox prepare");
        }
    }
    sqlite3_bind_text64(s->outbox_ins, 1, j->audit->line.p, (sqlite3_uint64)j->audit->line.len,
                        SQLITE_STATIC, SQLITE_UTF8);
    rc = sqlite3_step(s->outbox_ins);
    sqlite3_reset(s->outbox_ins);
    sqlite3_clear_bindings(s->outbox_ins);
    if (rc != SQLITE_DONE)
        return cf_sq_err(c->db, rc, "outbox insert");
    j->audit_row = true;
    j->audit_id = sqlite3_last_insert_rowid(c->db);
    return CF_OK;
}

/* Appends the committed batch's outbox rows to the ring (writer thread, after COMMIT). A row
 * that cannot be kept (ring full, no memory) sets ooverflow: from then on the ring claims
 * nothing past its last row and the drainer reads those rows with SQL. */
static void outbox_mem_push(struct cf_store *s, struct write_job *batch)
{
    pthread_mutex_lock(&s->omu);
    for (struct write_job *j = batch; j && !s->ooverflow; j = j->next) {
        struct outbox_mem_row *r;
        if (!j->audit_row)
            continue;
        if (s->on == OUTBOX_MEM_ROWS) {
            s->ooverflow = true;
            break;
        }
        r = &s->orows[(s->ostart + s->on) % OUTBOX_MEM_ROWS];
        r->line = malloc(j->audit->line.len ? j->audit->line.len : 1);
        if (!r->line) {
            s->ooverflow = true;
            break;
        }
        memcpy(r->line, j->audit->line.p, j->audit->line.len);
        r->len = j->audit->line.len;
        r->id = j->audit_id;
        if (s->on == 0 && s->ocover == INT64_MAX)
            s->ocover = r->id;
        s->on++;
    }
    pthread_mutex_unlock(&s->omu);
}

/* Drops the ring's rows with id <= upto (they left the table). An emptied ring that had
 * overflowed starts over: its claim begins again with the next row appended. */
static void outbox_mem_drop(struct cf_store *s, int64_t upto)
{
    pthread_mutex_lock(&s->omu);
    while (s->on && s->orows[s->ostart].id <= upto) {
        free(s->orows[s->ostart].line);
        s->orows[s->ostart].line = NULL;
        s->ostart = (s->ostart + 1) % OUTBOX_MEM_ROWS;
        s->on--;
    }
    if (s->on == 0 && s->ooverflow) {
        s->ooverflow = false;
        s->ocover = INT64_MAX;
    }
    pthread_mutex_unlock(&s->omu);
}

/* Runs one batch; true when it committed outbox rows. */
static bool run_batch(struct cf_store *s, struct write_job *batch, bool fail_commit)
{
    struct cf_sq_conn *c = &s->wconn;
    struct cf_store_txn txn = {c, true};
    struct write_job *j, *k;
    cf_err abort_err = CF_OK;
    bool rows = false;
    int rc;

    for (j = batch; j; j = j->next) {
        j->result = CF_OK; /* also what a job never run looks like: failed below on abort */
        j->audit_row = false;
    }
    rc = conn_run(c, CF_SQ_TX_BEGIN_IMMEDIATE);
    if (rc != SQLITE_OK) {
        abort_err = cf_sq_err(c->db, rc, "begin");
        for (j = batch; j; j = j->next)
            j->result = abort_err;
        return false;
    }
    for (j = batch; j; j = j->next) {
        rc = conn_run(c, CF_SQ_TX_SAVEPOINT);
        if (rc != SQLITE_OK) {
            abort_err = cf_sq_err(c->db, rc, "savepoint");
            break;
        }
        j->result = j->fn(&txn, j->arg);
        /* The record commits with the job's changes or not at all. */
        if (j->result == CF_OK && j->audit && !sqlite3_get_autocommit(c->db))
            j->result = outbox_insert(s, j);
        if (sqlite3_get_autocommit(c->db)) {
            /* SQLite rolled the whole transaction back (disk full, I/O error): every job
             * before this one is lost with it. */
            abort_err = j->result ? j->result : CF_ESTORE;
            break;
        }
        if (j->result) {
            j->audit_row = false;
            rc = conn_run(c, CF_SQ_TX_ROLLBACK_TO);
        }
        if (rc == SQLITE_OK)
            rc = conn_run(c, CF_SQ_TX_RELEASE);
        if (rc != SQLITE_OK) {
            abort_err = cf_sq_err(c->db, rc, "release");
            break;
        }
    }
    if (!abort_err && fail_commit) {
        cf_warn("store: commit failure injected");
        abort_err = CF_ESTORE;
    }
    if (!abort_err) {
        rc = conn_run(c, CF_SQ_TX_COMMIT);
        if (rc != SQLITE_OK)
            abort_err = cf_sq_err(c->db, rc, "commit");
    }
    if (abort_err) {
        if (!sqlite3_get_autocommit(c->db))
            conn_run(c, CF_SQ_TX_ROLLBACK);
        /* Nothing of the batch is visible: every job that had succeeded fails now; the jobs
         * never run (after a break) fail as well. */
        for (k = batch; k; k = k->next) {
            if (k->result == CF_OK)
                k->result = abort_err;
        }
        return false;
    }
    /* Committed: tell the owners of the records before their waiters wake (under wmu) or
     * their done callbacks run (later, on the acker thread). */
    for (j = batch; j; j = j->next) {
        if (j->audit_row) {
            j->audit->committed = true;
            rows = true;
        }
    }
    if (rows)
        outbox_mem_push(s, batch);
    return rows;
}

/* Calls the notify hook outside wmu; cf_store_outbox_notify waits for a call in progress, so
 * its caller may free the hook's context once it returns. */
static void outbox_hook(struct cf_store *s)
{
    void (*fn)(void *ctx);
    void *ctx;

    pthread_mutex_lock(&s->wmu);
    fn = s->outbox_fn;
    ctx = s->outbox_ctx;
    s->outbox_busy = fn != NULL;
    pthread_mutex_unlock(&s->wmu);
    if (!fn)
        return;
    fn(ctx);
    pthread_mutex_lock(&s->wmu);
    s->outbox_busy = false;
    pthread_cond_broadcast(&s->outbox_cv);
    pthread_mutex_unlock(&s->wmu);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The acker thread (see struct cf_store): done callbacks of finished batches, in order. */
static void *acker_main(void *arg)
{
    struct cf_store *s = arg;
    struct write_job *list, *j, *next;
    void (*begin)(void), (*end)(void);

    for (;;) {
        pthread_mutex_lock(&s->amu);
        while (!s->ahead && !s->ack_stop)
            pthread_cond_wait(&s->acv, &s->amu);
        list = s->ahead;
        s->ahead = s->atail = NULL;
        begin = s->ack_begin;
        end = s->ack_end;
        pthread_mutex_unlock(&s->amu);
        if (!list)
            break; /* stopping, and nothing left to answer */
        if (begin)
            begin();
        for (j = list; j; j = next) {
            next = j->next;
            j->done_fn(j->result, j->done_arg);
            free(j);
        }
        if (end)
            end();
    }
    return NULL;
}

/* The writer takes whatever is queued when it is free, with no wait for a fuller batch: while
 * it commits one batch (the fsync), the next one queues, so batches grow with the load by
 * themselves, and a closed loop of clients stays pipelined - half of them being answered and
 * sending their next write while the other half's batch commits. Waiting for a fuller batch
 * (up to 1 ms in 250 us slices, removed in 2026-12) saved ~7 % CPU per write but lined every
 * client up behind one batch and left the CPUs idle meanwhile: bench SET, 64 connections, same
 * run: 15,990/s with a 300 us wait, 17,324/s without. */
/* The WAL is past its bound (wal_hook): copy what the checkpointer has not, so that the next
 * write transaction starts the WAL over. Runs after the batch's waiters and acks were handed
 * on; a checkpoint in progress on the checkpointer's connection is waited for (busy timeout). */
static void writer_checkpoint(struct cf_store *s)
{
    int nlog = 0, nckpt = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->wconn.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog,
                                       &nckpt);

    s->ck_catchup = false;
    pthread_mutex_lock(&s->ckmu);
    s->checkpoints++;
    pthread_mutex_unlock(&s->ckmu);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        cf_warn("store: checkpoint failed (%d); will retry", rc);
}

static void *writer_main(void *arg)
{
    struct cf_store *s = arg;
    void (*commit_fn)(void *ctx, int64_t dur_us, size_t jobs);
    void *commit_ctx;
    int64_t t0_us;
    struct write_job *batch, *last, *j, *next, *async, *alast;
    bool fail, rows;
    int n;

    for (;;) {
        pthread_mutex_lock(&s->wmu);
        while (!s->qhead && !s->stop)
            pthread_cond_wait(&s->work_cv, &s->wmu);
        if (!s->qhead) {
            pthread_mutex_unlock(&s->wmu);
            break;
        }
        batch = last = s->qhead;
        for (n = 1; n < s->max_batch && last->next; n++)
            last = last->next;
        s->qhead = last->next;
        s->qlen -= (size_t)n;
        if (!s->qhead)
            s->qtail = NULL;
        last->next = NULL;
        fail = s->fail_commits > 0;
        if (fail)
            s->fail_commits--;
        commit_fn = s->commit_fn;
        commit_ctx = s->commit_ctx;
        pthread_mutex_unlock(&s->wmu);

        t0_us = commit_fn ? mono_us() : 0; /* no clock read without a hook */
        rows = run_batch(s, batch, fail);
        if (commit_fn)
            commit_fn(commit_ctx, mono_us() - t0_us, (size_t)n);

        pthread_mutex_lock(&s->wmu);
        s->stats.jobs += (uint64_t)n;
        if (fail)
            s->stats.failed_commits++;
        else
            s->stats.commits++;
        if ((uint64_t)n > s->stats.max_batch)
            s->stats.max_batch = (uint64_t)n;
        /* read next before done: a finished job's memory returns to its waiter */
        async = alast = NULL;
        for (j = batch; j; j = next) {
            next = j->next;
            if (j->done_fn) {
                /* in submission order: the acker answers the batch oldest first */
                j->next = NULL;
                if (alast)
                    alast->next = j;
                else
                    async = j;
                alast = j;
                continue;
            }
            j->done = true;
            pthread_cond_signal(&j->cv); /* the waiter needs wmu, held here, before it returns */
        }
        pthread_mutex_unlock(&s->wmu);
        if (async) {
            pthread_mutex_lock(&s->amu);
            if (s->atail)
                s->atail->next = async;
            else
                s->ahead = async;
            s->atail = alast;
            pthread_cond_signal(&s->acv);
            pthread_mutex_unlock(&s->amu);
        }
        if (rows)
            outbox_hook(s);
        if (s->ck_catchup)
            writer_checkpoint(s);
    }
    return NULL;
}

/* The thread's bound record, if a write should still carry it. */
static struct cf_store_audit *audit_capture(void)
{
    struct cf_store_audit *a = tl_audit;
    return a && !a->committed && a->line.p && a->line.len ? a : NULL;
}

void cf_store_audit_bind(struct cf_store_audit *rec)
{
    tl_audit = rec;
}

cf_err cf_store_write(struct cf_store *s, cf_store_fn fn, void *arg)
{
    struct write_job job = {fn,   arg,  CF_OK,           false, NULL, PTHREAD_COND_INITIALIZER,
                            NULL, NULL, audit_capture(), false, 0};

    if (!s || !fn)
        return CF_EINVAL;
    /* fn runs on the writer thread: a nested write would wait for itself forever */
    if (pthread_equal(pthread_self(), s->writer))
        return CF_EINVAL;
    pthread_mutex_lock(&s->wmu);
    if (s->stop) {
        pthread_mutex_unlock(&s->wmu);
        return CF_ESTORE;
    }
    if (s->qtail)
        s->qtail->next = &job;
    else
        s->qhead = &job;
    s->qtail = &job;
    s->qlen++;
    pthread_cond_signal(&s->work_cv);
    while (!job.done)
        pthread_cond_wait(&job.cv, &s->wmu);
    pthread_mutex_unlock(&s->wmu);
    pthread_cond_destroy(&job.cv);
    return job.result;
}

/* The writer connection's WAL hook (replaces SQLite's autocheckpoint): runs after each commit
 * with the number of frames in the WAL. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct cf_store *s = arg;
    (void)db;
    (void)name;
    if (frames >= s->ck_probe_at || frames < s->ck_probe_at - CKPT_PROBE_FRAMES) {
        /* writer thread only: ck_limit and ck_probe_at are not shared */
        struct statvfs fs;
        s->ck_probe_at = frames + CKPT_PROBE_FRAMES;
        if (statvfs(s->path, &fs) == 0) {
            uint64_t free_frames = (uint64_t)fs.f_bavail * fs.f_frsize / 4096 / 4;
            s->ck_limit = free_frames < CKPT_MIN_FRAMES   ? CKPT_MIN_FRAMES
                          : free_frames > CKPT_FRAMES ? CKPT_FRAMES
                                                      : (int)free_frames;
        }
    }
    s->ck_catchup = frames >= CKPT_RESTART_FRAMES || frames >= 4 * s->ck_limit;
    pthread_mutex_lock(&s->ckmu);
    if (frames < s->ck_base)
        s->ck_base = 0; /* the WAL started over from its beginning */
    s->wal_frames = frames;
    s->wal_commits++;
    s->ck_dirty = true;
    /* Counted from the last checkpoint, not from the WAL's start: under sustained writes a
     * PASSIVE checkpoint rarely lets the WAL restart, and a threshold on its total length
     * then woke the checkpointer after nearly every commit once the WAL had passed it - 250
     * checkpoints a second, each syncing the database file twice (measured: 2,500 of the
     * checkpointer's fdatasyncs in a 5 s SET run, 6 us of CPU a SET). */
    if (frames - s->ck_base >= s->ck_limit && !s->ck_pending) {
        s->ck_pending = true;
        pthread_cond_signal(&s->ckcv);
    }
    pthread_mutex_unlock(&s->ckmu);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    struct cf_store *s = arg;
    uint64_t seen = 0; /* wal_commits at the previous tick */
    for (;;) {
        struct timespec ts;
        int rc;
        bool run;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += CKPT_IDLE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->ckmu);
        while (!s->ck_pending && !s->ck_stop)
            if (pthread_cond_timedwait(&s->ckcv, &s->ckmu, &ts) != 0)
                break;
        if (s->ck_stop) {
            pthread_mutex_unlock(&s->ckmu);
            return NULL;
        }
        /* woken by the hook (CKPT_FRAMES more frames), or a tick with no commit in it while
         * frames wait to be copied */
        run = s->ck_pending || (s->wal_commits == seen && s->ck_dirty);
        seen = s->wal_commits;
        s->ck_pending = false;
        if (run) {
            s->ck_base = s->wal_frames;
            s->ck_dirty = false;
            s->checkpoints++;
        }
        pthread_mutex_unlock(&s->ckmu);
        if (!run)
            continue;
        /* PASSIVE copies what it can without blocking the writer or readers. */
        {
            int nlog = 0, nckpt = 0;
            rc = sqlite3_wal_checkpoint_v2(s->ckconn.db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                           &nlog, &nckpt);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY)
                cf_warn("store: checkpoint failed (%d); will retry", rc);
            if (rc != SQLITE_OK || nckpt < nlog) {
                /* not all copied (a reader's snapshot, no room): the next idle tick retries
                 * even without a commit in between */
                pthread_mutex_lock(&s->ckmu);
                s->ck_dirty = true;
                pthread_mutex_unlock(&s->ckmu);
            }
        }
    }
}

void cf_store_set_ack_hooks(struct cf_store *s, void (*begin)(void), void (*end)(void))
{
    pthread_mutex_lock(&s->amu);
    s->ack_begin = begin;
    s->ack_end = end;
    pthread_mutex_unlock(&s->amu);
}

cf_err cf_store_write_async(struct cf_store *s, cf_store_fn fn, void *arg, cf_store_done_fn done,
                            void *done_arg)
{
    struct write_job *job;

    if (!s || !fn || !done)
        return CF_EINVAL;
    job = calloc(1, sizeof(*job));
    if (!job)
        return CF_ENOMEM;
    job->fn = fn;
    job->arg = arg;
    job->done_fn = done;
    job->done_arg = done_arg;
    job->audit = audit_capture();
    pthread_mutex_lock(&s->wmu);
    if (s->stop || s->qlen >= CF_STORE_MAX_QUEUE) {
        bool busy = !s->stop;
        pthread_mutex_unlock(&s->wmu);
        free(job);
        return busy ? CF_EBUSY : CF_ESTORE;
    }
    s->qlen++;
    if (s->qtail)
        s->qtail->next = job;
    else
        s->qhead = job;
    s->qtail = job;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->wmu);
    return CF_OK;
}

/* ---------------- reads ---------------- */

cf_err cf_store_read(struct cf_store *s, cf_store_fn fn, void *arg)
{
    struct cf_sq_conn *c;
    struct cf_store_txn txn;
    cf_err e;
    int rc;

    if (!s || !fn)
        return CF_EINVAL;
    pthread_mutex_lock(&s->rmu);
    while (!s->rfree)
        pthread_cond_wait(&s->rcv, &s->rmu);
    c = s->rfree;
    s->rfree = c->next_free;
    pthread_mutex_unlock(&s->rmu);

    txn.conn = c;
    txn.writable = false;
    rc = conn_run(c, CF_SQ_TX_BEGIN);
    if (rc != SQLITE_OK) {
        e = cf_sq_err(c->db, rc, "begin read");
        goto out_release;
    }
    e = fn(&txn, arg);
    rc = conn_run(c, CF_SQ_TX_COMMIT);
    if (rc != SQLITE_OK) {
        cf_err ce = cf_sq_err(c->db, rc, "end read");
        if (!sqlite3_get_autocommit(c->db))
            conn_run(c, CF_SQ_TX_ROLLBACK);
        if (!e)
            e = ce;
    }

out_release:
    pthread_mutex_lock(&s->rmu);
    c->next_free = s->rfree;
    s->rfree = c;
    pthread_cond_signal(&s->rcv);
    pthread_mutex_unlock(&s->rmu);
    return e;
}

/* ---------------- open / close ---------------- */

struct cf_store *cf_store_open_sqlite(const struct cf_store_opts *opts, cf_err *err)
{
    struct cf_store *s;
    cf_err e;
    int i;

    if (!opts || !opts->path || !*opts->path) {
        *err = CF_EINVAL;
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        *err = CF_ENOMEM;
        return NULL;
    }
    s->max_batch = opts->max_batch > 0 ? opts->max_batch : 256;
    s->ck_limit = CKPT_FRAMES;
    s->path = strdup(opts->path);
    if (!s->path) {
        free(s);
        *err = CF_ENOMEM;
        return NULL;
    }
    s->nread = opts->read_conns > 0 ? opts->read_conns : 8;
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rcv, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->outbox_cv, NULL);
    pthread_mutex_init(&s->ckmu, NULL);
    pthread_cond_init(&s->ckcv, NULL);
    pthread_mutex_init(&s->omu, NULL);
    pthread_mutex_init(&s->amu, NULL);
    pthread_cond_init(&s->acv, NULL);
    s->ocover = INT64_MAX;
    s->orows = calloc(OUTBOX_MEM_ROWS, sizeof(*s->orows));
    if (!s->orows) {
        e = CF_ENOMEM;
        goto fail;
    }

    e = conn_open(&s->wconn, opts->path, true);
    if (e)
        goto fail;
    e = migrate(s->wconn.db);
    if (e)
        goto fail;
    e = conn_open(&s->ckconn, opts->path, true);
    if (e)
        goto fail;
    sqlite3_wal_hook(s->wconn.db, wal_hook, s); /* also turns off the writer's autocheckpoint */
    if (pthread_create(&s->ckpt, NULL, ckpt_main, s) != 0) {
        e = CF_EINTERNAL;
        goto fail;
    }
    s->ck_running = true;
    pthread_setname_np(s->ckpt, "cf-checkpoint"); /* names show in top -H and perf */
    s->rconns = calloc((size_t)s->nread, sizeof(*s->rconns));
    if (!s->rconns) {
        e = CF_ENOMEM;
        goto fail;
    }
    for (i = 0; i < s->nread; i++) {
        e = conn_open(&s->rconns[i], opts->path, false);
        if (e)
            goto fail;
        s->rconns[i].next_free = s->rfree;
        s->rfree = &s->rconns[i];
    }
    if (pthread_create(&s->acker, NULL, acker_main, s) != 0) {
        e = CF_EINTERNAL;
        goto fail;
    }
    s->ack_running = true;
    pthread_setname_np(s->acker, "cf-acker");
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        e = CF_EINTERNAL;
        goto fail;
    }
    s->writer_running = true;
    pthread_setname_np(s->writer, "cf-writer");
    *err = CF_OK;
    return s;

fail:
    cf_store_close(s);
    *err = e;
    return NULL;
}

void cf_store_close(struct cf_store *s)
{
    if (!s)
        return;
    if (s->writer_running) {
        pthread_mutex_lock(&s->wmu);
        if (s->stats.commits)
            cf_info("store: %llu writes in %llu commits (%.1f per commit, largest %llu)",
                    (unsigned long long)s->stats.jobs, (unsigned long long)s->stats.commits,
                    (double)s->stats.jobs / (double)s->stats.commits,
                    (unsigned long long)s->stats.max_batch);
        s->stop = true;
        pthread_cond_broadcast(&s->work_cv);
        pthread_mutex_unlock(&s->wmu);
        pthread_join(s->writer, NULL);
    }
    if (s->ack_running) {
        /* after the writer: every job it ran is on the acker's queue by now */
        pthread_mutex_lock(&s->amu);
        s->ack_stop = true;
        pthread_cond_signal(&s->acv);
        pthread_mutex_unlock(&s->amu);
        pthread_join(s->acker, NULL);
    }
    if (s->ck_running) {
        pthread_mutex_lock(&s->ckmu);
        s->ck_stop = true;
        pthread_cond_signal(&s->ckcv);
        pthread_mutex_unlock(&s->ckmu);
        pthread_join(s->ckpt, NULL);
    }
    conn_close(&s->ckconn);
    if (s->rconns) {
        for (int i = 0; i < s->nread; i++)
            conn_close(&s->rconns[i]);
        free(s->rconns);
    }
    sqlite3_finalize(s->outbox_ins); /* before its connection closes */
    conn_close(&s->wconn);           /* last connection: checkpoints the WAL */
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->rcv);
    pthread_mutex_destroy(&s->wmu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->outbox_cv);
    pthread_mutex_destroy(&s->ckmu);
    pthread_cond_destroy(&s->ckcv);
    if (s->orows) {
        for (size_t i = 0; i < OUTBOX_MEM_ROWS; i++)
            free(s->orows[i].line);
        free(s->orows);
    }
    pthread_mutex_destroy(&s->omu);
    pthread_mutex_destroy(&s->amu);
    pthread_cond_destroy(&s->acv);
    free(s->path);
    free(s);
}

static cf_err check_fn(struct cf_store_txn *t, void *arg)
{
    static const char *const checks[] = {"PRAGMA integrity_check", "PRAGMA foreign_key_check"};
    sqlite3 *db = t->conn->db;
    cf_err e = CF_OK;

    (void)arg;
    for (size_t i = 0; i < CF_ARRAY_LEN(checks) && !e; i++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, checks[i], -1, &st, NULL);
        if (rc != SQLITE_OK) {
            e = cf_sq_err(db, rc, "check");
            break;
        }
        rc = sqlite3_step(st);
        if (i == 0) {
            if (rc != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
                cf_error("store: integrity check failed");
                e = CF_ECORRUPT;
            }
        } else if (rc == SQLITE_ROW) {
            cf_error("store: foreign key check failed");
            e = CF_ECORRUPT;
        } else if (rc != SQLITE_DONE) {
            e = cf_sq_err(db, rc, "check");
        }
        sqlite3_finalize(st);
    }
    return e;
}

cf_err cf_store_check(struct cf_store *s)
{
    return cf_store_read(s, check_fn, NULL);
}

void cf_store_stats(struct cf_store *s, struct cf_store_stats *out)
{
    pthread_mutex_lock(&s->wmu);
    *out = s->stats;
    out->queue_len = s->qlen;
    pthread_mutex_unlock(&s->wmu);
    pthread_mutex_lock(&s->ckmu);
    out->checkpoints = s->checkpoints;
    pthread_mutex_unlock(&s->ckmu);
}

void cf_store_debug_on_commit(struct cf_store *s,
                              void (*fn)(void *ctx, int64_t dur_us, size_t jobs), void *ctx)
{
    pthread_mutex_lock(&s->wmu);
    s->commit_fn = fn;
    s->commit_ctx = ctx;
    pthread_mutex_unlock(&s->wmu);
}

void cf_store_debug_fail_commits(struct cf_store *s, int n)
{
    pthread_mutex_lock(&s->wmu);
    s->fail_commits = n;
    pthread_mutex_unlock(&s->wmu);
}

/* ---------------- meta ---------------- */

cf_err cf_store_meta_get(struct cf_store_txn *t, const char *key, struct cf_buf *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_META_GET, &e);
    int rc;

    if (!st)
        return e;
    cf_sq_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = cf_buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    else if (rc == SQLITE_DONE)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(t->conn->db, rc, "meta get");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_meta_put(struct cf_store_txn *t, const char *key, const void *val, size_t len)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    if (!t->writable || !key)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_META_PUT, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, key);
    /* a zero-length blob, not NULL: the column is NOT NULL */
    sqlite3_bind_blob64(st, 2, len ? val : "", (sqlite3_uint64)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        e = cf_sq_err(t->conn->db, rc, "meta put");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_meta_del(struct cf_store_txn *t, const char *key)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    if (!t->writable || !key)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_META_DEL, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        e = cf_sq_err(t->conn->db, rc, "meta del");
    else if (sqlite3_changes(t->conn->db) == 0)
        e = CF_ENOTFOUND;
    cf_sq_done(st);
    return e;
}

/* ---------------- principals ---------------- */

cf_err cf_store_principal_put(struct cf_store_txn *t, const struct cf_rec_principal *p)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    if (!t->writable)
        return CF_EINVAL;
    st = cf_sq_stmt(t, CF_SQ_PRINCIPAL_PUT, &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, p->tenant_id);
    cf_sq_bind_text(st, 2, p->client_id);
    cf_sq_bind_text(st, 3, p->object_id);
    cf_sq_bind_text(st, 4, p->display_name);
    cf_sq_bind_text(st, 5, p->secret_hash);
    sqlite3_bind_int(st, 6, p->enabled);
    sqlite3_bind_int64(st, 7, p->generation);
    sqlite3_bind_int64(st, 8, p->created);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        e = cf_sq_err(t->conn->db, rc, "principal put");
    cf_sq_done(st);
    return e;
}

cf_err cf_store_principal_get(struct cf_store_txn *t, const char *tenant_id, const char *client_id,
                              struct cf_rec_principal *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_PRINCIPAL_GET, &e);
    int rc;

    if (!st)
        return e;
    cf_sq_bind_text(st, 1, tenant_id);
    cf_sq_bind_text(st, 2, client_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        cf_sq_col_cpy(st, 0, out->tenant_id, sizeof(out->tenant_id));
        cf_sq_col_cpy(st, 1, out->client_id, sizeof(out->client_id));
        cf_sq_col_cpy(st, 2, out->object_id, sizeof(out->object_id));
        cf_sq_col_cpy(st, 3, out->display_name, sizeof(out->display_name));
        cf_sq_col_cpy(st, 4, out->secret_hash, sizeof(out->secret_hash));
        out->enabled = sqlite3_column_int(st, 5) != 0;
        out->generation = sqlite3_column_int64(st, 6);
        out->created = sqlite3_column_int64(st, 7);
    } else if (rc == SQLITE_DONE) {
        e = CF_ENOTFOUND;
    } else {
        e = cf_sq_err(t->conn->db, rc, "principal get");
    }
    cf_sq_done(st);
    return e;
}

/* ---------------- audit outbox (store.h) ---------------- */

struct outbox_read_arg {
    int64_t after;
    size_t max;
    cf_store_outbox_fn fn;
    void *ctx;
};

/* The SQL read: rows the ring does not hold (an earlier run's, or past its size). */
static cf_err outbox_read_fn(struct cf_store_txn *t, void *arg)
{
    struct outbox_read_arg *a = arg;
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_OUTBOX_READ, &e);
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, a->after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(a->max > INT64_MAX ? INT64_MAX : (int64_t)a->max));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cf_str line = {(const char *)sqlite3_column_text(st, 1),
                              (size_t)sqlite3_column_bytes(st, 1)};
        if (!line.p)
            line = CF_STR("");
        if (!a->fn(a->ctx, sqlite3_column_int64(st, 0), line)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "outbox read");
    cf_sq_done(st);
    return e;
}

/* Serves the read from the ring when it covers every row after `after`: true when it did.
 * The rows it hands to fn stay put outside omu: the writer only appends to other slots, and
 * only outbox delete - the same (one) drainer thread - frees rows. */
static bool outbox_mem_read(struct cf_store *s, int64_t after, size_t max, cf_store_outbox_fn fn,
                            void *ctx)
{
    size_t i, first, n, on;

    pthread_mutex_lock(&s->omu);
    on = s->on;
    if (s->ocover == INT64_MAX || after < s->ocover - 1) {
        pthread_mutex_unlock(&s->omu);
        return false;
    }
    for (first = 0; first < on; first++)
        if (s->orows[(s->ostart + first) % OUTBOX_MEM_ROWS].id > after)
            break;
    if (first == on && s->ooverflow) { /* the rows after the ring's last are in SQL only */
        pthread_mutex_unlock(&s->omu);
        return false;
    }
    first = (s->ostart + first) % OUTBOX_MEM_ROWS;
    n = on - (first + OUTBOX_MEM_ROWS - s->ostart) % OUTBOX_MEM_ROWS;
    pthread_mutex_unlock(&s->omu);
    for (i = 0; i < n && i < max; i++) {
        const struct outbox_mem_row *r = &s->orows[(first + i) % OUTBOX_MEM_ROWS];
        if (!fn(ctx, r->id, (struct cf_str){r->line, r->len}))
            break;
    }
    return true;
}

cf_err cf_store_outbox_read(struct cf_store *s, int64_t after, size_t max, cf_store_outbox_fn fn,
                            void *ctx)
{
    struct outbox_read_arg a = {after, max, fn, ctx};
    if (!s || !fn)
        return CF_EINVAL;
    if (max == 0)
        return CF_OK;
    if (outbox_mem_read(s, after, max, fn, ctx))
        return CF_OK;
    return cf_store_read(s, outbox_read_fn, &a);
}

/* One statement with one int64 parameter, run in a write job. */
struct outbox_exec_arg {
    const char *sql;
    int64_t v;
};

static cf_err outbox_exec_fn(struct cf_store_txn *t, void *arg)
{
    struct outbox_exec_arg *a = arg;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(CF_SQ_DB(t), a->sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return cf_sq_err(CF_SQ_DB(t), rc, "outbox");
    sqlite3_bind_int64(st, 1, a->v);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? CF_OK : cf_sq_err(CF_SQ_DB(t), rc, "outbox");
}

/* Debian's SQLite is built with SECURE_DELETE: a freed page is zeroed and written to the WAL
 * like any change. Drained outbox rows are audit lines that the log already holds (never a
 * value or key), so their pages are freed without that: the bulk delete of a few thousand
 * rows wrote ~700 zeroed pages, a third of the outbox's share of the WAL under SET load.
 * secure_delete is a flag of the connection, read as each page is freed: it is back on before
 * the next job of the batch runs. */
static cf_err outbox_delete_fn(struct cf_store_txn *t, void *arg)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_OUTBOX_DELETE, &e);

    if (!st)
        return e;
    if ((e = exec_sql(CF_SQ_DB(t), "PRAGMA secure_delete=0", "outbox delete")))
        return e;
    sqlite3_bind_int64(st, 1, *(const int64_t *)arg);
    e = cf_sq_step_change(t, st, "outbox delete", false);
    if (exec_sql(CF_SQ_DB(t), "PRAGMA secure_delete=1", "outbox delete") && !e)
        e = CF_ESTORE; /* the job fails and its savepoint rolls back; the drainer retries */
    return e;
}

cf_err cf_store_outbox_delete(struct cf_store *s, int64_t upto)
{
    cf_err e = cf_store_write(s, outbox_delete_fn, &upto);
    if (!e)
        outbox_mem_drop(s, upto);
    return e;
}

static cf_err outbox_floor_fn(struct cf_store_txn *t, void *arg)
{
    /* sqlite_sequence holds AUTOINCREMENT's high-water mark; its row for the table appears
     * with the first insert, so create it when missing. */
    struct outbox_exec_arg up = {"UPDATE sqlite_sequence SET seq=max(seq,?1) "
                                 "WHERE name='audit_outbox'",
                                 *(int64_t *)arg};
    struct outbox_exec_arg ins = {"INSERT INTO sqlite_sequence(name,seq) SELECT 'audit_outbox',?1 "
                                  "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence "
                                  "WHERE name='audit_outbox')",
                                  *(int64_t *)arg};
    cf_err e = outbox_exec_fn(t, &up);
    return e ? e : outbox_exec_fn(t, &ins);
}

cf_err cf_store_outbox_floor(struct cf_store *s, int64_t floor)
{
    if (floor <= 0)
        return CF_OK;
    return cf_store_write(s, outbox_floor_fn, &floor);
}

static cf_err outbox_count_fn(struct cf_store_txn *t, void *arg)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = cf_sq_stmt(t, CF_SQ_OUTBOX_COUNT, &e);
    int rc;

    if (!st)
        return e;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *(int64_t *)arg = sqlite3_column_int64(st, 0);
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "outbox count");
    cf_sq_done(st);
    return e;
}


cf_err cf_store_outbox_count(struct cf_store *s, int64_t *n)
{
    *n = 0;
    return cf_store_read(s, outbox_count_fn, n);
}

void cf_store_outbox_notify(struct cf_store *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->wmu);
    while (s->outbox_busy) /* a call with the old hook must end before its context goes */
        pthread_cond_wait(&s->outbox_cv, &s->wmu);
    s->outbox_fn = fn;
    s->outbox_ctx = ctx;
    pthread_mutex_unlock(&s->wmu);
}

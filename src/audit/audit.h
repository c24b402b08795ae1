/* audit.h - the tamper-evident audit log (DESIGN.md §6, issue 11, security-ops reference §5).
 *
 * One JSON line per request in Azure's AuditEvent shape, appended to per-node files in a
 * directory and chained:
 *
 *   line = <record object without its closing '}'>
 *          ,"chain":{"seq":N,"node":"n1","prev":"<hex mac of seq N-1>"[,"outbox":K],
 *                    "mac":"<hex>"}}
 *   canon = the line's bytes up to ,"mac":
 *   v2 (current):  d = SHA256(canon), mac = HMAC-SHA256(mac_key, d)
 *   v1 (older):    mac = HMAC-SHA256(mac_key, prev_mac(32 raw bytes) || canon)
 *
 * so an edited, deleted, inserted or reordered line breaks the chain for anyone holding the MAC
 * key (canon holds seq, node and prev: each MAC binds its place). Each file starts with a
 * header record naming its format ("version":2 or 1; verify, read and the tail handle both)
 * whose chain.prev is the previous file's last MAC; every checkpoint_every records, at
 * rotation (then "final":true) and at close a checkpoint record is written. With a signing key
 * the checkpoint carries an ES256 JWS over {node, seq, mac, hash, time} where hash is SHA-256
 * chained over every line of the file (h0 = 32 zero bytes; v2: h = SHA256(h || d || mac), v1:
 * h = SHA256(h || line)); an auditor holding only the public key can thus verify a rotated file
 * on its own, up to its last checkpoint. v2 reads each line's bytes once where v1 read them
 * twice (issue 11). Opening a log whose newest file is v1 closes that file with its final
 * checkpoint and goes on in a v2 file. Header and checkpoint records
 * have "category":"CofferAudit" so readers of AuditEvent records can skip them.
 *
 * Files: <dir>/audit-<node>-<first seq, 20 digits>-<YYYYMMDDTHHMMSSZ>.jsonl, mode 0600; names
 * sort in chain order. Blocks are reserved ahead of the end (fallocate KEEP_SIZE, 1 MiB
 * chunks; st_size stays the end of the last line) and given back when the file is closed.
 * Retention keeps the newest keep_files files of the node.
 *
 * Threads: a struct cf_audit is used by any number of threads (one mutex around the chain
 * state and the write). A background thread fdatasyncs non-durable records in groups at most
 * every sync_interval_ms; a durable append returns after an fdatasync that covers it (concurrent
 * durable appenders share one: the first waiter syncs for everyone written so far). In steady
 * state an append allocates nothing in this module (the line buffer is reused).
 *
 * Failure: an append that cannot be written returns CF_EFULL (ENOSPC, EDQUOT) or CF_EIO
 * (anything else, including an active file that was removed or a failed fsync) and the chain
 * state is not advanced: a torn partial line is cut off before the next attempt, so the file
 * stays verifiable and appends resume once the disk accepts writes again. The caller fails the
 * request (fail closed).
 *
 * Security: records never contain a secret value, key material or token; struct
 * cf_audit_event has no field for one. requestUri is written as given: the caller must not
 * pass a query string that contains a secret (Key Vault URIs carry none; strip anything else).
 * The MAC key is copied and wiped at close. */
#ifndef CF_AUDIT_H
#define CF_AUDIT_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/str.h"

#include <sys/types.h>

struct cf_pkey; /* crypto/crypto.h */

#define CF_AUDIT_KEY_LEN 32
#define CF_AUDIT_MAC_LEN 32
/* Longest record line accepted by cf_audit_append (cf_audit_format caps every field so its
 * output always fits). */
#define CF_AUDIT_MAX_LINE (64 * 1024)
#define CF_AUDIT_MAX_NODE 64 /* node id: 1..64 of [A-Za-z0-9._] */
#define CF_AUDIT_DEFAULT_ROTATE_BYTES (64u * 1024 * 1024)
#define CF_AUDIT_DEFAULT_SYNC_MS 10
/* Synced pages of the active file leave the page cache except the newest this many bytes,
 * which a shipper (server/auditstream.c, polling every 250 ms) is about to read: at 40k GET
 * records/s over two lanes that is ~400 ms of records per lane. */
#define CF_AUDIT_DEFAULT_CACHE_KEEP (8u * 1024 * 1024)
#define CF_AUDIT_DEFAULT_CHECKPOINT_EVERY 1000

/* ---- the record ---- */

/* A three-state flag whose zero value means "not known, omit the field". */
enum cf_audit_flag { CF_AUDIT_UNSET = 0, CF_AUDIT_NO, CF_AUDIT_YES };

/* Azure AuditEvent fields. Everything is borrowed for the duration of cf_audit_format; a NULL
 * string is written as "" for the top-level string fields and omitted inside identity and
 * properties. A zero-initialised struct is a valid (empty) event. */
struct cf_audit_event {
    int64_t time_ms;               /* UTC ms; "time" gets 7 fractional digits as Azure's */
    const char *resource_id;       /* vault ARM id; written upper-cased as Azure's exports */
    const char *operation_name;    /* "SecretGet", "Authentication", ... (reference §5.3) */
    const char *operation_version; /* the request's api-version */
    const char *result_type;       /* NULL: "Success" below HTTP 400, else "Failure" */
    const char *result_signature;  /* NULL: the reason phrase of http_status ("Forbidden") */
    const char *result_description;
    int64_t duration_ms;           /* written as a string, as in Azure's exports */
    const char *caller_ip;
    const char *correlation_id;    /* x-ms-client-request-id */
    struct {
        /* identity.claim, the claims Azure's records carry (objectidentifier, upn, appid; no
         * tenantid: the object id names the principal, the request URI the token's tenant);
         * all NULL: no identity */
        const char *oid, *appid, *upn;
    } identity;
    /* properties */
    const char *id;                /* object or vault URI touched */
    const char *client_info;       /* User-Agent */
    const char *request_uri;       /* as given: see the security note above */
    int http_status;               /* 0: omitted */
    enum cf_audit_flag is_access_policy_match;
    enum cf_audit_flag is_rbac_authorized;
    const char *applied_assignment_id;
    const char *tls_version;       /* "TLS1_2", "TLS1_3" */
};

/* Appends one JSON object (no newline, no chain fields) to line. Strings are escaped by the
 * JSON writer (invalid UTF-8 becomes U+FFFD) and capped (id and requestUri 2048 bytes, resultDescription 1024, resourceId, upn, clientInfo
 * and appliedAssignmentId 512, the rest 256)
 * so the result is always shorter than CF_AUDIT_MAX_LINE. On failure line keeps its previous
 * content. */
cf_err cf_audit_format(const struct cf_audit_event *ev, struct cf_buf *line) CF_NODISCARD;
/* "2025-03-02T10:15:42.1230000Z" from Unix ms (out >= 32 bytes). */
void cf_audit_time(int64_t ms, char out[32]);
/* Parses the "time" form above (any 0..9 fractional digits, 'Z') back to Unix ms. */
bool cf_audit_parse_time(const char *s, int64_t *ms);

/* ---- the writer ---- */

/* File operations, replaceable by tests to inject failures. Return values as the syscalls'
 * (-1 with errno set on failure). */
struct cf_audit_io {
    ssize_t (*pwrite)(void *ctx, int fd, const void *p, size_t n, off_t off);
    int (*fsync)(void *ctx, int fd);
    void *ctx;
};

struct cf_audit_config {
    const char *dir;                       /* must exist; files are created 0600 */
    const unsigned char *mac_key;          /* CF_AUDIT_KEY_LEN bytes, copied */
    const char *node_id;                   /* NULL: "node0" */
    uint64_t rotate_bytes;                 /* 0: CF_AUDIT_DEFAULT_ROTATE_BYTES */
    unsigned keep_files;                   /* newest files kept per node; 0: keep all */
    unsigned sync_interval_ms;             /* 0: CF_AUDIT_DEFAULT_SYNC_MS */
    uint64_t cache_keep_bytes;             /* 0: CF_AUDIT_DEFAULT_CACHE_KEEP (log.c do_sync) */
    unsigned checkpoint_every;             /* records between checkpoints; 0: default */
    const struct cf_pkey *sign_key;        /* ES256 key for checkpoints or NULL; borrowed,
                                              must outlive the log */
    const char *sign_kid;                  /* "kid" of the checkpoint JWS, or NULL */
    const struct cf_clock *clock;          /* NULL: the system clock; borrowed */
    const struct cf_audit_io *io;          /* test-only failure injection; NULL: real calls */
    unsigned format_version;               /* 0: the current format (2); 1: write v1 files as
                                              before v2 (tests of old files; both verify) */
};

struct cf_audit_stats {
    uint64_t records;      /* lines written by this process (incl. headers, checkpoints) */
    uint64_t bytes;
    uint64_t fsyncs;       /* successful fdatasyncs of audit files */
    uint64_t write_errors; /* appends that failed */
    uint64_t rotations;
    uint64_t checkpoints;
    uint64_t outbox_skipped; /* outbox records already in the file */
    int64_t seq;           /* last sequence number in the chain */
    int64_t synced_seq;    /* last sequence number known durable */
};

struct cf_audit;

/* Opens the log: continues the node's newest file (cutting a torn last line left by a crash),
 * or starts a new one. CF_ECORRUPT when the newest file's last record does not carry a valid
 * MAC under the key (a wrong key, or tampering: run verify), CF_EIO/CF_EFULL for file errors,
 * CF_EINVAL for a bad config. NULL on failure with *err set. */
struct cf_audit *cf_audit_open(const struct cf_audit_config *cfg, cf_err *err);
/* Writes a closing checkpoint, syncs, stops the sync thread, wipes the key. Accepts NULL. */
void cf_audit_close(struct cf_audit *a);

/* Appends one record line (a non-empty JSON object without newline, e.g. cf_audit_format's
 * output; it must not have a top-level "chain" key). durable: return only after an fdatasync
 * covering the record; otherwise return after write(2) (synced within sync_interval_ms).
 * CF_EINVAL for a line that is not "{...}", holds a newline, or starts like the log's own
 * header and checkpoint records ({"category":"CofferAudit" - readers skip those by that
 * prefix); CF_ETOOBIG above CF_AUDIT_MAX_LINE. */
cf_err cf_audit_append(struct cf_audit *a, struct cf_str line, bool durable) CF_NODISCARD;
/* Most lines one cf_audit_append_batch takes. */
#define CF_AUDIT_MAX_BATCH 64
/* Appends n (<= CF_AUDIT_MAX_BATCH) record lines, each as cf_audit_append's (non-durable),
 * in order with one write(2): the per-record write is most of what a read's record costs
 * (issue 11). All or nothing: on any error no line of the batch is in the chain (a partial
 * write is cut off), so the caller fails every request of the batch. CF_EINVAL / CF_ETOOBIG
 * when a line is invalid (nothing written). A checkpoint due within the batch is written
 * after it. */
cf_err cf_audit_append_batch(struct cf_audit *a, const struct cf_str *lines,
                             size_t n) CF_NODISCARD;
/* For a record drained from the store's outbox: outbox_id (> 0, increasing) is kept in the
 * chain record. When outbox_id <= cf_audit_last_outbox_id the record is already in the log
 * (a drain repeated after a crash) and the call returns CF_OK without writing. Delete the
 * outbox row only after a durable append (or cf_audit_sync). */
cf_err cf_audit_append_outbox(struct cf_audit *a, struct cf_str line, int64_t outbox_id,
                              bool durable) CF_NODISCARD;
/* cf_audit_append_outbox for n (<= CF_AUDIT_MAX_BATCH) drained rows at once, non-durable, with
 * one write(2) (the drainer: one write per row was most of what a SET's record cost the log).
 * ids[i] > 0, strictly increasing; rows with ids[i] <= cf_audit_last_outbox_id are skipped.
 * All or nothing as cf_audit_append_batch; CF_EINVAL / CF_ETOOBIG for an invalid line or ids
 * (nothing written: append the rows one by one to find the bad one). */
cf_err cf_audit_append_outbox_batch(struct cf_audit *a, const struct cf_str *lines,
                                    const int64_t *ids, size_t n) CF_NODISCARD;
int64_t cf_audit_last_outbox_id(struct cf_audit *a);
/* Returns after everything appended so far is durable. */
cf_err cf_audit_sync(struct cf_audit *a) CF_NODISCARD;
/* Closes the active file with a final checkpoint and starts the next one. */
cf_err cf_audit_rotate(struct cf_audit *a) CF_NODISCARD;
void cf_audit_get_stats(struct cf_audit *a, struct cf_audit_stats *out);
/* Name of the active file (no directory) into out; "" when none is open. */
void cf_audit_active_file(struct cf_audit *a, char *out, size_t n);

/* ---- verification ---- */

enum cf_audit_break {
    CF_AUDIT_INTACT = 0,
    CF_AUDIT_EDITED,      /* a line's MAC (or the signed hash) does not match its content */
    CF_AUDIT_DELETED,     /* records (or a whole file) missing from the chain */
    CF_AUDIT_INSERTED,    /* a line that does not belong: forged, copied or from elsewhere */
    CF_AUDIT_REORDERED,   /* records present but out of order */
    CF_AUDIT_TRUNCATED,   /* the end is missing: a cut line, or a rotated file without its
                             final checkpoint */
    CF_AUDIT_BAD_CHECKPOINT, /* a checkpoint whose signature does not verify */
};
const char *cf_audit_break_name(enum cf_audit_break b); /* "edited", ... */

struct cf_audit_verify_report {
    enum cf_audit_break brk;
    char file[256];         /* file of the first break (verify_dir) */
    uint64_t line;          /* 1-based line of the first break; 0 if intact */
    char detail[200];
    /* what was checked (up to the break) */
    uint64_t lines;
    uint64_t checkpoints;   /* checkpoints whose signature and hash verified */
    uint64_t unsigned_tail; /* lines after the last verified checkpoint */
    uint64_t files;
    int64_t first_seq, last_seq;
    bool final;             /* the (last) file ends with a final checkpoint */
    bool mac_checked;       /* a MAC key was given: every line's MAC was checked */
    bool sig_checked;       /* a public key was given: checkpoint signatures were checked */
    char node[CF_AUDIT_MAX_NODE + 1];
    unsigned char first_prev[CF_AUDIT_MAC_LEN]; /* chain.prev of the first line */
    unsigned char last_mac[CF_AUDIT_MAC_LEN];
};

/* Verifies one file on its own. mac_key (CF_AUDIT_KEY_LEN bytes) and pub (the checkpoint
 * signer's public key) are each optional; with neither only the seq/prev links are checked.
 * Returns CF_OK when the file was read (r->brk tells whether it is intact), CF_ENOTFOUND /
 * CF_EIO when it could not be read, CF_ENOMEM. */
cf_err cf_audit_verify_file(const char *path, const unsigned char *mac_key,
                            const struct cf_pkey *pub,
                            struct cf_audit_verify_report *r) CF_NODISCARD;
/* Verifies every node's chain in dir: each file, and the links between consecutive files (a
 * missing middle file is "deleted", a non-last file without its final checkpoint
 * "truncated"). Files removed by retention before the oldest present file are not a break.
 * cb (optional) is called once per node with that node's report; r gets the first break (or
 * the totals when intact). */
cf_err cf_audit_verify_dir(const char *dir, const unsigned char *mac_key,
                           const struct cf_pkey *pub,
                           void (*cb)(void *ctx, const struct cf_audit_verify_report *node),
                           void *ctx, struct cf_audit_verify_report *r) CF_NODISCARD;

/* ---- reading back ---- */

struct cf_audit_filter {
    const char *vault;     /* vault name (last segment of resourceId), case-insensitive */
    int64_t since_ms;      /* 0: no bound; records with time >= since_ms */
    int64_t until_ms;      /* 0: no bound; records with time < until_ms */
    const char *operation; /* operationName, case-insensitive */
    const char *caller;    /* identity oid, appid, upn or callerIpAddress, exact */
    const char *node;      /* only this node's files */
};

/* Calls cb for every AuditEvent record (headers and checkpoints skipped) in dir that matches
 * f, files in name order (per node, chain order). rec is the parsed line, valid during the
 * call; line/len its raw text. cb returns false to stop. Lines that do not parse are skipped
 * (verify reports them). */
cf_err cf_audit_read(const char *dir, const struct cf_audit_filter *f,
                     bool (*cb)(void *ctx, const char *line, size_t len,
                                const struct cf_json *rec),
                     void *ctx) CF_NODISCARD;

/* ---- compact record lines (compact.c; the store's audit outbox) ----
 * A record line with its constant text (JSON keys, the ARM path's fixed parts, the identity
 * claim URIs, "category":"AuditEvent"...) replaced by token bytes 0x01..0x1F, which a record
 * line never holds (JSON escapes them; cf_audit_append refuses \n and \r). The token table is
 * a persistent format (outbox rows outlive the process that wrote them): entries are appended,
 * never changed. A line without token bytes (a row of an older build) expands to itself. The
 * compact form is never longer than the line. Neither function allocates beyond out. */
/* Appends the compact form of line to out. CF_EINVAL (out unchanged) when line holds a byte
 * below 0x20 (never one of cf_audit_format's lines); CF_ETOOBIG / CF_ENOMEM from out. */
cf_err cf_audit_compact(struct cf_str line, struct cf_buf *out) CF_NODISCARD;
/* The same into raw memory: out has room for n bytes and does not overlap in; *outlen gets the
 * compact length (<= n). False when in holds a byte below 0x20. */
bool cf_audit_compact_raw(const char *in, size_t n, char *out, size_t *outlen);
/* Appends the line a compact form stands for to out. CF_EINVAL (out unchanged) for a token
 * byte the table does not have or a token that refers to text the line lacks; CF_ETOOBIG /
 * CF_ENOMEM from out (its max bounds what a hostile row can expand to). */
cf_err cf_audit_expand(struct cf_str in, struct cf_buf *out) CF_NODISCARD;

#endif

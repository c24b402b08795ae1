/* auditstream.h - shipping the audit log to syslog and HTTPS receivers, and rotating it by time
 * (issue 11: "streaming to syslog ... and to an HTTPS endpoint with retry and a bounded on-disk
 * queue (nothing dropped silently)"; "rotation by size/time with retention").
 *
 * Design: the audit files ARE the queue. A shipper thread per configured stream ([stream.NAME]
 * in the config file) follows every node's ("lane's") files in chain order, a separate reader
 * of what the log wrote (src/audit is not changed by streaming: no hook on the append path).
 * Its place - per lane: file name, byte offset, last chain seq - is saved after each delivery
 * in <audit_dir>/.stream.NAME/position (write, fsync, rename), so a restart resumes where the
 * last acknowledged delivery ended: nothing lost, nothing sent twice after a clean stop (after
 * a crash between a delivery and the save, that batch is sent again: each record carries its
 * chain node+seq for receivers that deduplicate).
 *
 * Bounded queue: while a destination is down its position lags. Retention (keep_files) would
 * delete files the shipper still needs, so the shipper pins every file it has not finished with
 * a hard link in <audit_dir>/.stream.NAME/ (unlinked once shipped); retention's unlink then only
 * drops the directory entry. The pins held only by the shipper are bounded by queue_max_mb:
 * past it the oldest pinned file is given up. A file given up, or one retention removed before
 * the shipper could pin it, is an explicit gap: a JSON line in .stream.NAME/gaps.jsonl, an error
 * log line, the counter coffer_auditstream_gap_records_total, and a CofferAudit "gap" record sent
 * to the destination in place of the missing ones. Nothing is dropped silently.
 *
 * Ordering: per lane strictly in chain order; across lanes each batch is merged by record time
 * (lanes are independent chains: two records of different workers have no stronger order).
 * Only records the log has made durable (synced seq of this process's lanes) are shipped.
 *
 * Selection: a stream ships records of its `categories` (default AuditEvent). With scope
 * "settings" (default) a vault's records go only when a diagnostic setting of that vault
 * (store_diag.h, Microsoft.Insights/diagnosticSettings, properties.streamName) enables the
 * record's category for this stream; records not about a vault (tenant, subscription, group
 * operations) need such a setting on the subscription ("server-wide"). The settings in force
 * when the shipper reads a record apply (re-read at most every second). scope "all" ships every
 * record of the categories.
 *
 * Wire formats:
 *  syslog  RFC 5424: <PRI>1 TIMESTAMP HOSTNAME cofferd PROCID MSGID [coffer@32473 category=..
 *          operation=.. resultType=.. node=.. seq=..] BOM + the JSON line as written (chain
 *          included). PRI = facility*8 + severity (6 info for Success, 5 notice otherwise);
 *          TIMESTAMP = the record's time cut to 6 fractional digits; MSGID = operationName.
 *          Over a unix datagram socket (/dev/log style) one message per datagram; over a unix
 *          stream socket or TCP, RFC 6587 octet-counting ("LEN SP MSG").
 *  https   POST of a JSON array of the records (as written), Content-Type application/json,
 *          optional "Authorization: Bearer <token read from bearer_file>"; any 2xx is
 *          delivered; anything else (or no answer) is retried with exponential backoff
 *          (1 s doubling to retry_max_s).
 *
 * Time rotation: every lane whose active file is older than rotate_s and holds records besides
 * its header is rotated with cf_audit_rotate (retention as configured applies). */
#ifndef CF_SERVER_AUDITSTREAM_H
#define CF_SERVER_AUDITSTREAM_H

#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"

#include <limits.h>

struct cf_audit;
struct cf_store;
struct cf_metrics;

#define CF_AS_MAX_STREAMS 8
#define CF_AS_NAME_MAX 32
#define CF_AS_MAX_LANES 256 /* nodes followed per stream */
/* The structured-data id: "coffer" at the documentation enterprise number of RFC 5612 (Coffer
 * has no IANA number of its own). */
#define CF_AS_SD_ID "coffer@32473"

enum cf_as_type { CF_AS_SYSLOG = 1, CF_AS_HTTPS };

/* Category bits (diagnostic settings and stream filters). */
#define CF_AS_CAT_AUDIT 1u  /* AuditEvent */
#define CF_AS_CAT_POLICY 2u /* AzurePolicyEvaluationDetails */
#define CF_AS_CAT_COFFER 4u /* CofferAudit: headers and checkpoints (off unless listed) */

struct cf_as_stream_cfg {
    char name[CF_AS_NAME_MAX + 1]; /* [A-Za-z0-9_.-] */
    enum cf_as_type type;
    char target[512];           /* syslog: unix:PATH, /PATH or tcp:HOST:PORT; https: the URL */
    char ca_file[PATH_MAX];     /* https: CA bundle ("" = the system's) */
    char bearer_file[PATH_MAX]; /* https: file holding the bearer token ("" = none) */
    unsigned categories;        /* CF_AS_CAT_* (default AuditEvent) */
    bool scope_all;             /* scope = all: no diagnostic setting needed */
    bool start_end;             /* start = end: a new stream skips what is already written */
    int batch;                  /* records per delivery (default 200, 1..5000) */
    int retry_max_s;            /* backoff cap (default 60) */
    int queue_max_mb;           /* pinned files held only by this stream (default 1024) */
    int facility;               /* syslog facility (default 13, "log audit") */
    char hostname[256];         /* syslog HOSTNAME ("" = gethostname) */
};

/* Reads the [stream.NAME] sections of an INI file (keys: type, target, ca_file, bearer_file,
 * categories, scope, start, batch, retry_max_s, queue_max_mb, facility, hostname). Prints one
 * line to stderr and returns CF_EINVAL on a bad section. No file: CF_OK, *n = 0. */
cf_err cf_auditstream_config(const char *config_file, struct cf_as_stream_cfg *out, size_t max,
                             size_t *n) CF_NODISCARD;

/* ---- pieces, public for the unit tests ---- */

struct cf_as_syslog_opts {
    int facility;
    const char *hostname; /* NULL/"" : "-" */
    const char *app;      /* NULL: "cofferd" */
    long procid;          /* <= 0: "-" */
    bool octet_count;     /* RFC 6587 framing: "LEN SP" before the message */
};
/* Appends one RFC 5424 message for the audit line (rec: its parsed JSON, may be NULL).
 * node/seq go to the structured data. */
cf_err cf_as_syslog_frame(struct cf_buf *out, const struct cf_as_syslog_opts *o, const char *line,
                          size_t len, const struct cf_json *rec, const char *node,
                          int64_t seq) CF_NODISCARD;

/* A shipper's place in one lane. */
struct cf_as_lane_pos {
    char node[65];
    char file[160]; /* the file being read ("" = not started) */
    uint64_t off;   /* next line to read in it */
    int64_t seq;    /* last chain seq consumed (0: none) */
};
struct cf_as_pos {
    struct cf_as_lane_pos lane[CF_AS_MAX_LANES];
    size_t n;
};
cf_err cf_as_pos_save(const char *path, const struct cf_as_pos *p) CF_NODISCARD;
/* CF_ENOTFOUND when there is no file (a new stream); CF_ECORRUPT for a malformed one. */
cf_err cf_as_pos_load(const char *path, struct cf_as_pos *p) CF_NODISCARD;

/* One item handed to a sink: an audit line (or a synthetic gap record). */
struct cf_as_item {
    char *line;
    size_t len;
    struct cf_json *rec; /* parsed line */
    const char *node;
    int64_t seq;
};
/* Delivers items[0..n) in order; *sent = how many were delivered (a prefix). An error with
 * *sent < n makes the shipper back off and retry from items[*sent]. */
typedef cf_err (*cf_as_send_fn)(void *ctx, const struct cf_as_item *items, size_t n, size_t *sent);

struct cf_as_stats {
    uint64_t records;     /* delivered */
    uint64_t gap_records; /* given up (gap events) */
    uint64_t gaps;
    uint64_t failures; /* failed deliveries */
    uint64_t skipped;  /* read but not selected (category, settings) */
};

struct cf_as_shipper;
struct cf_as_shipper_deps {
    const char *audit_dir;
    struct cf_audit *const *audit; /* this process's lanes (synced seq), may be NULL */
    size_t audit_lanes;
    struct cf_store *store; /* diagnostic settings (scope settings) */
    cf_as_send_fn send;     /* NULL: the stream's own transport */
    void *send_ctx;
};
struct cf_as_shipper *cf_as_shipper_new(const struct cf_as_stream_cfg *c,
                                        const struct cf_as_shipper_deps *d, cf_err *err);
void cf_as_shipper_free(struct cf_as_shipper *s);
/* One round: follow the files, pin, give up over the bound, read, select, deliver one batch,
 * save the position. *progress: something was consumed (call again soon). Errors: the
 * delivery failed (back off). */
cf_err cf_as_shipper_pump(struct cf_as_shipper *s, bool *progress) CF_NODISCARD;
void cf_as_shipper_stats(struct cf_as_shipper *s, struct cf_as_stats *out);

/* ---- the service ---- */

struct cf_auditstream_deps {
    const char *config_file; /* [stream.NAME] sections; "" / NULL: none */
    const char *audit_dir;
    struct cf_audit *const *audit;
    size_t audit_lanes; /* 0: audit off (nothing starts) */
    struct cf_store *store;
    struct cf_metrics *metrics; /* counters; optional */
    unsigned rotate_s;          /* time rotation; 0: off */
};
struct cf_auditstream;
/* Starts the shippers and the rotation timer. NULL with *err on a bad [stream.NAME] section or
 * a failed start. */
struct cf_auditstream *cf_auditstream_start(const struct cf_auditstream_deps *d, cf_err *err);
/* Stops and joins every thread (a delivery in progress finishes or times out). NULL ok. */
void cf_auditstream_stop(struct cf_auditstream *s);

#endif

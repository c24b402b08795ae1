/* tail.h - reading the audit files while they grow, for shippers (server/auditstream.c).
 *
 * A shipper follows each node's ("lane's") files in chain order and keeps its place as
 * (file name, byte offset, last chain seq). These calls expose just what that needs from the
 * log's file format (audit.h): the file names with their node and first seq, and the whole
 * lines of a file from an offset with each line's chain seq and kind. A line still being
 * written (no newline yet) is never returned: the next read starts at it again.
 *
 * Files may live in more than one directory (a shipper's hard-link pins, see auditstream.h):
 * cf_audit_tail_list takes one directory; callers merge. */
#ifndef CF_AUDIT_TAIL_H
#define CF_AUDIT_TAIL_H

#include "base/cf.h"
#include "audit/audit.h"

#define CF_AUDIT_FILE_NAME_MAX 160

struct cf_audit_file_ref {
    char name[CF_AUDIT_FILE_NAME_MAX]; /* no directory */
    char node[CF_AUDIT_MAX_NODE + 1];
    int64_t first_seq; /* chain seq of the file's header line */
};

/* Parses "audit-<node>-<20 digit seq>-<YYYYMMDDTHHMMSSZ>.jsonl". */
bool cf_audit_tail_parse_name(const char *name, struct cf_audit_file_ref *f);
/* The audit files of dir (of node only, when not NULL), sorted by node then first seq. *out is
 * malloc'd (free it; NULL when none). CF_ENOTFOUND when dir cannot be opened. */
cf_err cf_audit_tail_list(const char *dir, const char *node, struct cf_audit_file_ref **out,
                          size_t *n) CF_NODISCARD;

enum cf_audit_line_kind {
    CF_AUDIT_LINE_RECORD,     /* an AuditEvent (or other category) record */
    CF_AUDIT_LINE_HEADER,     /* a file's first line ("category":"CofferAudit") */
    CF_AUDIT_LINE_CHECKPOINT, /* periodic, closing or final ("category":"CofferAudit") */
};

struct cf_audit_tail_line {
    const char *line; /* without newline, NUL-terminated; valid during the callback */
    size_t len;
    uint64_t off, next_off; /* byte range in the file, newline included */
    bool valid;             /* the chain tail parsed (seq and node are meaningful) */
    int64_t seq;
    enum cf_audit_line_kind kind;
    bool final; /* a final checkpoint: the file is complete */
};

/* Calls cb for every whole line of path from byte off (which must be a line start), in order,
 * until the end of the file, a line without its newline (still being written), or cb returning
 * false. *lines (optional) gets the number of lines passed to cb. CF_ENOTFOUND when the file
 * is gone, CF_EIO. */
cf_err cf_audit_tail_read(const char *path, uint64_t off,
                          bool (*cb)(void *ctx, const struct cf_audit_tail_line *l), void *ctx,
                          size_t *lines) CF_NODISCARD;

#endif

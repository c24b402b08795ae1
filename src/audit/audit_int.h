/* audit_int.h - what the audit module's files share: the chain tail of a line, record kinds,
 * file names and listing, and a bounded line reader. */
#ifndef CF_AUDIT_INT_H
#define CF_AUDIT_INT_H

#include "base/cf.h"
#include "audit/audit.h"

/* Every line ends with this tail; MAC covers the line up to (not including) MAC_KEY. */
#define AUDIT_CHAIN_KEY ",\"chain\":{\"seq\":"
#define AUDIT_MAC_KEY ",\"mac\":\""
/* ,"mac":"<64 hex>"}}  */
#define AUDIT_MAC_TAIL_LEN (sizeof(AUDIT_MAC_KEY) - 1 + 2 * CF_AUDIT_MAC_LEN + 3)
/* Room for the whole chain tail: key, seq, node, prev, outbox, mac. */
#define AUDIT_TAIL_MAX 512

#define AUDIT_HEADER_PREFIX "{\"category\":\"CofferAudit\",\"kind\":\"header\""
#define AUDIT_CKPT_PREFIX "{\"category\":\"CofferAudit\",\"kind\":\"checkpoint\""

enum audit_kind { AUDIT_KIND_RECORD, AUDIT_KIND_HEADER, AUDIT_KIND_CHECKPOINT };

struct audit_tail {
    int64_t seq;
    char node[CF_AUDIT_MAX_NODE + 1];
    unsigned char prev[CF_AUDIT_MAC_LEN];
    int64_t outbox; /* 0: none */
    unsigned char mac[CF_AUDIT_MAC_LEN];
    size_t canon_len; /* bytes covered by the MAC (the line up to ,"mac":) */
    size_t body_len;  /* bytes before ,"chain": (the record object minus its closing '}') */
};

/* File formats (the header's "version"): both are read and verified; the writer writes
 * AUDIT_VERSION (cf_audit_config.format_version 1 writes v1, for tests of old files).
 *   v1  mac = HMAC(key, prev(32 raw bytes) || line[0..canon_len))
 *       h   = SHA256(h || line)                    (whole line, no newline)
 *   v2  d   = SHA256(line[0..canon_len))           (one pass over the line's bytes)
 *       mac = HMAC(key, d)
 *       h   = SHA256(h || d || mac)
 * v2 hashes the line once instead of twice. Each MAC still covers every byte of its line up to
 * ,"mac": - and through the text of seq, node and prev its place in the chain - and depends on
 * no other line, so verify still names the first bad line; h still covers every byte of every
 * line (the canonical part through d, the MAC itself), so a checkpoint signs the whole file. */
#define AUDIT_V1 1
#define AUDIT_V2 2
#define AUDIT_VERSION AUDIT_V2

/* Parses the chain tail of line[0..len) (no newline). False when it is not exactly the form
 * the writer produces. */
bool audit_parse_tail(const char *line, size_t len, struct audit_tail *t);
enum audit_kind audit_line_kind(const char *line, size_t len);
/* The "version" of a header line (line 1 of a file): AUDIT_V1, AUDIT_V2, or 0 when line is not
 * a header or names no version this code knows. */
int audit_header_version(const char *line, size_t len);
/* The MAC of a parsed line (t from audit_parse_tail) in format ver (see above). scratch is
 * reused. */
cf_err audit_mac(int ver, const unsigned char *key, const struct audit_tail *t, const char *line,
                 struct cf_buf *scratch, unsigned char out[CF_AUDIT_MAC_LEN]);
/* One step of the unkeyed chain of format ver over a line (no newline). A v2 line that does not
 * parse (never written by the writer; verify breaks on it) counts as d = SHA256(line), mac = 0. */
cf_err audit_hash_step(int ver, unsigned char h[CF_AUDIT_MAC_LEN], const char *line, size_t len,
                       struct cf_buf *scratch);
/* The v2 step h = SHA256(h || d || mac). */
cf_err audit_hash_step_v2(unsigned char h[CF_AUDIT_MAC_LEN], const unsigned char d[32],
                          const unsigned char mac[CF_AUDIT_MAC_LEN]);
bool audit_unhex32(const char *hex, unsigned char out[32]);
bool audit_node_valid(const char *node);

/* ---- files ---- */
#define AUDIT_NAME_MAX 160
struct audit_file {
    char name[AUDIT_NAME_MAX];
    char node[CF_AUDIT_MAX_NODE + 1];
    int64_t first_seq;
};
/* Lists the audit files of dir (of node only, when node is not NULL), sorted by node then
 * first seq. *out is malloc'd (free it). CF_ENOTFOUND when dir cannot be opened. */
cf_err audit_list(const char *dir, const char *node, struct audit_file **out, size_t *n);
bool audit_parse_name(const char *name, struct audit_file *f);

/* ---- line reader ---- */
struct audit_reader {
    FILE *f;
    char *line;
    size_t cap;
    size_t len;
    bool nl;      /* the line ended with a newline */
    uint64_t off; /* file offset of the current line */
    uint64_t next_off;
};
cf_err audit_reader_open(struct audit_reader *r, const char *path);
/* Next line without its newline; false at end of file. */
bool audit_reader_next(struct audit_reader *r);
void audit_reader_close(struct audit_reader *r);

#endif

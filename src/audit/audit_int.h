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

/* Parses the chain tail of line[0..len) (no newline). False when it is not exactly the form
 * the writer produces. */
bool audit_parse_tail(const char *line, size_t len, struct audit_tail *t);
enum audit_kind audit_line_kind(const char *line, size_t len);
/* The MAC of a line: HMAC(key, prev || line[0..canon_len)). scratch is reused (prefix room). */
cf_err audit_mac(const unsigned char *key, const unsigned char prev[CF_AUDIT_MAC_LEN],
                 const char *line, size_t canon_len, struct cf_buf *scratch,
                 unsigned char out[CF_AUDIT_MAC_LEN]);
/* h = SHA256(h || line). */
cf_err audit_hash_step(unsigned char h[CF_AUDIT_MAC_LEN], const char *line, size_t len,
                       struct cf_buf *scratch);
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

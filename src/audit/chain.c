/* chain.c - pieces shared by the writer, the verifier and the reader:
 *
 *   audit_parse_tail   the ,"chain":{...}} tail of a line, parsed strictly (the writer's form)
 *   audit_line_kind    record, header or checkpoint (by the writer's fixed prefixes)
 *   audit_header_version  the format of a file (its header's "version": 1 or 2)
 *   audit_mac          a line's MAC in format v1 or v2 (audit_int.h)
 *   audit_hash_step    the unkeyed chain signed by checkpoints, v1 or v2
 *   audit_list         the audit files of a directory in chain order
 *   audit_reader_*     a line reader that reports whether the last line was cut */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"
#include "audit/audit_int.h"

#include <dirent.h>
#include <errno.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* the writer emits lowercase only */
}

bool audit_unhex32(const char *hex, unsigned char out[32])
{
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

bool audit_node_valid(const char *node)
{
    size_t n = node ? strlen(node) : 0;
    if (n == 0 || n > CF_AUDIT_MAX_NODE)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = node[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_'))
            return false;
    }
    return true;
}

/* Parses a decimal int64 >= 0 at *p, advancing it. */
static bool parse_num(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] >= '0' &&
                                             s[1] <= '9'))
        return false;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *p = s;
    *out = v;
    return true;
}

static bool expect(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

bool audit_parse_tail(const char *line, size_t len, struct audit_tail *t)
{
    const size_t klen = sizeof(AUDIT_CHAIN_KEY) - 1;
    const char *end = line + len, *p = NULL, *q;
    size_t from = len > AUDIT_TAIL_MAX ? len - AUDIT_TAIL_MAX : 0;

    memset(t, 0, sizeof(*t));
    if (len < 2 + klen + AUDIT_MAC_TAIL_LEN || line[0] != '{')
        return false;
    /* The tail is the last occurrence: a chain key inside a string value would have its quotes
     * escaped, so only the writer's own tail can match here. */
    for (size_t i = len - klen; i + 1 > from; i--) {
        if (memcmp(line + i, AUDIT_CHAIN_KEY, klen) == 0) {
            p = line + i;
            break;
        }
        if (i == 0)
            break;
    }
    if (!p || p == line + 1)
        return false;
    t->body_len = (size_t)(p - line);
    p += klen;
    if (!parse_num(&p, end, &t->seq) || t->seq < 1 || !expect(&p, end, ",\"node\":\""))
        return false;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q || q - p > CF_AUDIT_MAX_NODE)
        return false;
    memcpy(t->node, p, (size_t)(q - p));
    t->node[q - p] = '\0';
    if (!audit_node_valid(t->node))
        return false;
    p = q + 1;
    if (!expect(&p, end, ",\"prev\":\"") || end - p < 64 || !audit_unhex32(p, t->prev))
        return false;
    p += 64;
    if (!expect(&p, end, "\""))
        return false;
    if (expect(&p, end, ",\"outbox\":") && (!parse_num(&p, end, &t->outbox) || t->outbox < 1))
        return false;
    t->canon_len = (size_t)(p - line);
    if (!expect(&p, end, AUDIT_MAC_KEY) || end - p < 64 || !audit_unhex32(p, t->mac))
        return false;
    p += 64;
    return expect(&p, end, "\"}}") && p == end;
}

enum audit_kind audit_line_kind(const char *line, size_t len)
{
    if (len >= sizeof(AUDIT_HEADER_PREFIX) - 1 &&
        memcmp(line, AUDIT_HEADER_PREFIX, sizeof(AUDIT_HEADER_PREFIX) - 1) == 0)
        return AUDIT_KIND_HEADER;
    if (len >= sizeof(AUDIT_CKPT_PREFIX) - 1 &&
        memcmp(line, AUDIT_CKPT_PREFIX, sizeof(AUDIT_CKPT_PREFIX) - 1) == 0)
        return AUDIT_KIND_CHECKPOINT;
    return AUDIT_KIND_RECORD;
}

int audit_header_version(const char *line, size_t len)
{
    static const char key[] = ",\"version\":";
    const size_t kl = sizeof(key) - 1, pl = sizeof(AUDIT_HEADER_PREFIX) - 1;

    if (audit_line_kind(line, len) != AUDIT_KIND_HEADER)
        return 0;
    /* The writer puts "version" right after the fixed-width "time": its first occurrence past
     * the prefix is the header's own (a file name later on could not hold the quote). */
    for (size_t i = pl; i + kl + 1 < len; i++) {
        if (memcmp(line + i, key, kl) != 0)
            continue;
        if ((line[i + kl] == '1' || line[i + kl] == '2') && line[i + kl + 1] == ',')
            return line[i + kl] - '0';
        return 0;
    }
    return 0;
}

cf_err audit_mac(int ver, const unsigned char *key, const struct audit_tail *t, const char *line,
                 struct cf_buf *scratch, unsigned char out[CF_AUDIT_MAC_LEN])
{
    unsigned char d[CF_SHA256_LEN];
    cf_err e;

    if (ver == AUDIT_V2) {
        if ((e = cf_sha256(line, t->canon_len, d)))
            return e;
        return cf_hmac_sha256(key, CF_AUDIT_KEY_LEN, d, sizeof(d), out);
    }
    cf_buf_reset(scratch);
    if ((e = cf_buf_append(scratch, t->prev, CF_AUDIT_MAC_LEN)) ||
        (e = cf_buf_append(scratch, line, t->canon_len)))
        return e;
    return cf_hmac_sha256(key, CF_AUDIT_KEY_LEN, scratch->data, scratch->len, out);
}

cf_err audit_hash_step_v2(unsigned char h[CF_AUDIT_MAC_LEN], const unsigned char d[32],
                          const unsigned char mac[CF_AUDIT_MAC_LEN])
{
    unsigned char m[3 * 32];
    memcpy(m, h, 32);
    memcpy(m + 32, d, 32);
    memcpy(m + 64, mac, 32);
    return cf_sha256(m, sizeof(m), h);
}

cf_err audit_hash_step(int ver, unsigned char h[CF_AUDIT_MAC_LEN], const char *line, size_t len,
                       struct cf_buf *scratch)
{
    cf_err e;

    if (ver == AUDIT_V2) {
        static const unsigned char zero[CF_AUDIT_MAC_LEN];
        unsigned char d[CF_SHA256_LEN];
        struct audit_tail t;
        bool ok = audit_parse_tail(line, len, &t);
        if ((e = cf_sha256(line, ok ? t.canon_len : len, d)))
            return e;
        return audit_hash_step_v2(h, d, ok ? t.mac : zero);
    }
    cf_buf_reset(scratch);
    if ((e = cf_buf_append(scratch, h, CF_AUDIT_MAC_LEN)) ||
        (e = cf_buf_append(scratch, line, len)))
        return e;
    return cf_sha256(scratch->data, scratch->len, h);
}

/* ---- file names: audit-<node>-<seq:20>-<YYYYMMDDTHHMMSSZ>.jsonl ---- */

bool audit_parse_name(const char *name, struct audit_file *f)
{
    size_t n = strlen(name);
    const size_t tail = 1 + 20 + 1 + 16 + 6; /* -seq-time.jsonl */
    const char *s;
    size_t nodelen;
    int64_t seq;

    if (n >= AUDIT_NAME_MAX || n < 6 + 1 + tail || strncmp(name, "audit-", 6) != 0 ||
        strcmp(name + n - 6, ".jsonl") != 0)
        return false;
    nodelen = n - 6 - tail;
    if (nodelen > CF_AUDIT_MAX_NODE)
        return false;
    memcpy(f->node, name + 6, nodelen);
    f->node[nodelen] = '\0';
    if (!audit_node_valid(f->node))
        return false;
    s = name + 6 + nodelen;
    if (s[0] != '-' || s[21] != '-')
        return false;
    if (!cf_str_to_i64((struct cf_str){s + 1, 20}, &seq) || seq < 1)
        return false;
    for (size_t i = 0; i < 16; i++) {
        char c = s[22 + i];
        if (!((c >= '0' && c <= '9') || (i == 8 && c == 'T') || (i == 15 && c == 'Z')))
            return false;
    }
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->first_seq = seq;
    return true;
}

static int cmp_file(const void *a, const void *b)
{
    const struct audit_file *x = a, *y = b;
    int c = strcmp(x->node, y->node);
    if (c)
        return c;
    if (x->first_seq != y->first_seq)
        return x->first_seq < y->first_seq ? -1 : 1;
    return strcmp(x->name, y->name);
}

cf_err audit_list(const char *dir, const char *node, struct audit_file **out, size_t *n)
{
    struct audit_file *v = NULL, f;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    cf_err e = CF_OK;

    *out = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? CF_ENOTFOUND : CF_EIO;
    while ((de = readdir(d)) != NULL) {
        if (!audit_parse_name(de->d_name, &f) || (node && strcmp(node, f.node) != 0))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct audit_file *nv = realloc(v, nc * sizeof(*v));
            if (!nv) {
                e = CF_ENOMEM;
                goto close_dir;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = f;
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_file);
    *out = v;
    *n = cnt;
    v = NULL;
close_dir:
    free(v);
    closedir(d);
    return e;
}

/* ---- line reader ---- */

cf_err audit_reader_open(struct audit_reader *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->f = fopen(path, "re");
    if (!r->f)
        return errno == ENOENT ? CF_ENOTFOUND : CF_EIO;
    return CF_OK;
}

bool audit_reader_next(struct audit_reader *r)
{
    ssize_t n = getline(&r->line, &r->cap, r->f);
    if (n <= 0)
        return false;
    r->off = r->next_off;
    r->next_off += (uint64_t)n;
    r->nl = r->line[n - 1] == '\n';
    r->len = (size_t)n - (r->nl ? 1 : 0);
    r->line[r->len] = '\0';
    return true;
}

void audit_reader_close(struct audit_reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->line);
    memset(r, 0, sizeof(*r));
}

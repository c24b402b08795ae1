/* verify.c - checking files and directories of the chained log.
 *
 *   cf_audit_verify_file   pass 1 reads every line (MAC under the key, checkpoint signature
 *                          and signed hash under the public key, both in the format its
 *                          header names: v1 or v2); pass 2 walks seq/prev links
 *                          and names the first break, looking around it to tell a deleted
 *                          record from a reordered or inserted one
 *   cf_audit_verify_dir    every node's files in order, and the links between them
 *
 * Classification of the first bad line i (expected seq E and prev P from line i-1):
 *   line cut (no newline at end of file)            truncated
 *   MAC fails / not a chained line                  inserted if line i+1 continues E/P, else
 *                                                   edited
 *   seq E, wrong prev                               inserted (a genuine record of another
 *                                                   chain) with the key, edited without
 *   seq > E                                         reordered if E appears later, else deleted
 *   seq < E                                         inserted (a copy) if its MAC appeared
 *                                                   before, else reordered
 *   checkpoint signature bad / missing              bad checkpoint
 *   signed hash differs                             edited (somewhere since the file start) */
#include "base/cf.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "audit/audit_int.h"

#include <limits.h>

enum ckpt_state { CK_NONE, CK_OK, CK_BADSIG, CK_NOSIG, CK_MISMATCH };

struct vline {
    int64_t seq;
    unsigned char prev[CF_AUDIT_MAC_LEN], mac[CF_AUDIT_MAC_LEN];
    char node[CF_AUDIT_MAX_NODE + 1];
    bool parsed, mac_ok, nl, final;
    enum audit_kind kind;
    enum ckpt_state ck;
};

const char *cf_audit_break_name(enum cf_audit_break b)
{
    switch (b) {
    case CF_AUDIT_INTACT: return "intact";
    case CF_AUDIT_EDITED: return "edited";
    case CF_AUDIT_DELETED: return "deleted";
    case CF_AUDIT_INSERTED: return "inserted";
    case CF_AUDIT_REORDERED: return "reordered";
    case CF_AUDIT_TRUNCATED: return "truncated";
    case CF_AUDIT_BAD_CHECKPOINT: return "bad checkpoint";
    }
    return "?";
}

/* Checks a checkpoint line against the state before it: the previous line's seq and MAC and
 * the running hash over the lines before it. */
static enum ckpt_state check_ckpt(const char *line, size_t len, const struct cf_pkey *pub,
                                  const struct vline *before, const unsigned char hash[32])
{
    static const char key[] = ",\"jws\":\"";
    const char *p = NULL, *q;
    struct cf_jwt jwt;
    struct cf_json *pl = NULL;
    enum ckpt_state st = CK_BADSIG;
    char mh[65], hh[65];
    const char *s;
    size_t sl;
    int64_t seq;

    for (size_t i = 0; i + sizeof(key) - 1 <= len; i++)
        if (memcmp(line + i, key, sizeof(key) - 1) == 0) {
            p = line + i + sizeof(key) - 1;
            break;
        }
    if (!p)
        return CK_NOSIG;
    q = memchr(p, '"', (size_t)(line + len - p));
    if (!q)
        return CK_BADSIG;
    if (cf_jwt_decode((struct cf_str){p, (size_t)(q - p)}, &jwt) != CF_OK)
        return CK_BADSIG;
    if (cf_jwt_verify_es256(pub, &jwt) != CF_OK ||
        cf_json_parse(jwt.payload.data, jwt.payload.len, &pl, NULL, 0) != CF_OK)
        goto release;
    st = CK_MISMATCH;
    if (!before)
        goto release;
    cf_hex_encode(mh, before->mac, CF_AUDIT_MAC_LEN);
    cf_hex_encode(hh, hash, CF_AUDIT_MAC_LEN);
    if (!cf_json_int(cf_json_get(pl, "seq"), &seq) || seq != before->seq)
        goto release;
    s = cf_json_str(cf_json_get(pl, "mac"), &sl);
    if (!s || sl != 64 || memcmp(s, mh, 64) != 0)
        goto release;
    s = cf_json_str(cf_json_get(pl, "hash"), &sl);
    if (!s || sl != 64 || memcmp(s, hh, 64) != 0)
        goto release;
    s = cf_json_str(cf_json_get(pl, "node"), &sl);
    if (!s || strcmp(s, before->node) != 0)
        goto release;
    st = CK_OK;
release:
    cf_json_free(pl);
    cf_jwt_release(&jwt);
    return st;
}

static void brk(struct cf_audit_verify_report *r, enum cf_audit_break b, uint64_t line,
                const char *fmt, ...) CF_PRINTF(4, 5);
static void brk(struct cf_audit_verify_report *r, enum cf_audit_break b, uint64_t line,
                const char *fmt, ...)
{
    va_list ap;
    r->brk = b;
    r->line = line;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
}

static bool continues(const struct vline *l, int64_t seq, const unsigned char *prev, bool key)
{
    return l->parsed && (!key || l->mac_ok) && l->seq == seq &&
           memcmp(l->prev, prev, CF_AUDIT_MAC_LEN) == 0;
}

static void walk(const struct vline *v, size_t n, bool key, struct cf_audit_verify_report *r)
{
    int64_t expect = 0;
    const unsigned char *eprev = NULL;
    size_t last_ck = SIZE_MAX;

    for (size_t i = 0; i < n; i++) {
        const struct vline *l = &v[i];
        uint64_t ln = i + 1;
        if (!l->nl) {
            brk(r, CF_AUDIT_TRUNCATED, ln, "the last line is incomplete");
            return;
        }
        if (!l->parsed || (key && !l->mac_ok)) {
            if (i > 0 && i + 1 < n && continues(&v[i + 1], expect, eprev, key))
                brk(r, CF_AUDIT_INSERTED, ln, "a line that is not part of the chain");
            else
                brk(r, CF_AUDIT_EDITED, ln, "%s", l->parsed ? "the MAC does not match the content"
                                                            : "not a chained record");
            return;
        }
        if (i == 0) {
            if (l->kind != AUDIT_KIND_HEADER) {
                brk(r, CF_AUDIT_DELETED, ln, "the file does not start with its header record");
                return;
            }
            r->first_seq = l->seq;
            memcpy(r->first_prev, l->prev, CF_AUDIT_MAC_LEN);
            snprintf(r->node, sizeof(r->node), "%s", l->node);
        } else if (strcmp(l->node, r->node) != 0) {
            brk(r, CF_AUDIT_INSERTED, ln, "a record of node %s in the chain of %s", l->node,
                r->node);
            return;
        } else if (l->seq == expect && memcmp(l->prev, eprev, CF_AUDIT_MAC_LEN) != 0) {
            if (key)
                brk(r, CF_AUDIT_INSERTED, ln, "seq %lld belongs to another chain",
                    (long long)l->seq);
            else
                brk(r, CF_AUDIT_EDITED, ln, "prev does not match the line before");
            return;
        } else if (l->seq > expect) {
            bool later = false;
            for (size_t j = i + 1; j < n && !later; j++)
                later = v[j].parsed && v[j].seq == expect;
            if (later)
                brk(r, CF_AUDIT_REORDERED, ln, "seq %lld found where %lld was expected",
                    (long long)l->seq, (long long)expect);
            else
                brk(r, CF_AUDIT_DELETED, ln, "seq %lld..%lld missing", (long long)expect,
                    (long long)(l->seq - 1));
            return;
        } else if (l->seq < expect) {
            bool copy = false;
            for (size_t j = 0; j < i && !copy; j++)
                copy = v[j].parsed && memcmp(v[j].mac, l->mac, CF_AUDIT_MAC_LEN) == 0;
            brk(r, copy ? CF_AUDIT_INSERTED : CF_AUDIT_REORDERED, ln, "seq %lld after %lld%s",
                (long long)l->seq, (long long)(expect - 1), copy ? " (a copy of an earlier line)"
                                                                : "");
            return;
        }
        switch (l->ck) {
        case CK_BADSIG:
            brk(r, CF_AUDIT_BAD_CHECKPOINT, ln, "the checkpoint signature does not verify");
            return;
        case CK_NOSIG:
            brk(r, CF_AUDIT_BAD_CHECKPOINT, ln, "the checkpoint is not signed");
            return;
        case CK_MISMATCH:
            brk(r, CF_AUDIT_EDITED, ln, "lines 1..%llu do not match the signed checkpoint",
                (unsigned long long)i);
            return;
        case CK_OK:
            r->checkpoints++;
            last_ck = i;
            break;
        case CK_NONE:
            break;
        }
        expect = l->seq + 1;
        eprev = l->mac;
        r->lines = ln;
        r->last_seq = l->seq;
        memcpy(r->last_mac, l->mac, CF_AUDIT_MAC_LEN);
        r->final = l->kind == AUDIT_KIND_CHECKPOINT && l->final;
    }
    r->unsigned_tail = last_ck == SIZE_MAX ? n : n - 1 - last_ck;
}

cf_err cf_audit_verify_file(const char *path, const unsigned char *mac_key,
                            const struct cf_pkey *pub, struct cf_audit_verify_report *r)
{
    struct audit_reader rd;
    struct vline *v = NULL;
    size_t n = 0, cap = 0;
    unsigned char hash[CF_AUDIT_MAC_LEN] = {0};
    struct cf_buf scratch;
    const char *base = strrchr(path, '/');
    int ver = 0; /* the file's format, from its header; 0: no header (any format's MAC) */
    cf_err e;

    memset(r, 0, sizeof(*r));
    snprintf(r->file, sizeof(r->file), "%s", base ? base + 1 : path);
    r->mac_checked = mac_key != NULL;
    r->sig_checked = pub != NULL;
    r->files = 1;
    cf_buf_init(&scratch, CF_AUDIT_MAX_LINE + 4096);
    if ((e = audit_reader_open(&rd, path)))
        goto release;
    while (audit_reader_next(&rd)) {
        struct audit_tail t;
        struct vline *l;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            struct vline *nv = realloc(v, nc * sizeof(*v));
            if (!nv) {
                e = CF_ENOMEM;
                goto close_reader;
            }
            v = nv;
            cap = nc;
        }
        l = &v[n];
        memset(l, 0, sizeof(*l));
        l->nl = rd.nl;
        l->parsed = audit_parse_tail(rd.line, rd.len, &t);
        l->kind = audit_line_kind(rd.line, rd.len);
        if (n == 0)
            ver = audit_header_version(rd.line, rd.len);
        if (l->parsed) {
            l->seq = t.seq;
            memcpy(l->prev, t.prev, sizeof(l->prev));
            memcpy(l->mac, t.mac, sizeof(l->mac));
            snprintf(l->node, sizeof(l->node), "%s", t.node);
            if (mac_key) {
                unsigned char mac[CF_AUDIT_MAC_LEN];
                if ((e = audit_mac(ver ? ver : AUDIT_V2, mac_key, &t, rd.line, &scratch, mac)))
                    goto close_reader;
                l->mac_ok = cf_ct_eq(mac, t.mac, sizeof(mac));
                /* Without a (known) header the walk breaks at line 1 whatever; a line of
                 * either format still counts as chained so the break is named right. */
                if (!l->mac_ok && !ver) {
                    if ((e = audit_mac(AUDIT_V1, mac_key, &t, rd.line, &scratch, mac)))
                        goto close_reader;
                    l->mac_ok = cf_ct_eq(mac, t.mac, sizeof(mac));
                }
            }
            if (l->kind == AUDIT_KIND_CHECKPOINT) {
                l->final = strncmp(rd.line + sizeof(AUDIT_CKPT_PREFIX) - 1, ",\"final\":true",
                                   13) == 0;
                if (pub)
                    l->ck = check_ckpt(rd.line, rd.len, pub, n ? &v[n - 1] : NULL, hash);
            }
        }
        if ((e = audit_hash_step(ver ? ver : AUDIT_V2, hash, rd.line, rd.len, &scratch)))
            goto close_reader;
        n++;
    }
    walk(v, n, mac_key != NULL, r);
close_reader:
    audit_reader_close(&rd);
release:
    cf_buf_release(&scratch);
    free(v);
    return e;
}

static void add_totals(struct cf_audit_verify_report *tot, const struct cf_audit_verify_report *f,
                       bool first)
{
    if (first) {
        tot->first_seq = f->first_seq;
        memcpy(tot->first_prev, f->first_prev, CF_AUDIT_MAC_LEN);
        snprintf(tot->node, sizeof(tot->node), "%s", f->node);
    }
    tot->lines += f->lines;
    tot->checkpoints += f->checkpoints;
    tot->unsigned_tail = f->unsigned_tail;
    tot->last_seq = f->last_seq;
    memcpy(tot->last_mac, f->last_mac, CF_AUDIT_MAC_LEN);
    tot->final = f->final;
    tot->files++;
}

cf_err cf_audit_verify_dir(const char *dir, const unsigned char *mac_key,
                           const struct cf_pkey *pub,
                           void (*cb)(void *ctx, const struct cf_audit_verify_report *node),
                           void *ctx, struct cf_audit_verify_report *r)
{
    struct audit_file *v = NULL;
    struct cf_audit_verify_report fr, node;
    char path[PATH_MAX + AUDIT_NAME_MAX];
    size_t n, i = 0;
    cf_err e;

    memset(r, 0, sizeof(*r));
    r->mac_checked = mac_key != NULL;
    r->sig_checked = pub != NULL;
    if ((e = audit_list(dir, NULL, &v, &n)))
        return e;
    if (n == 0) {
        e = CF_ENOTFOUND;
        goto free_list;
    }
    while (i < n && r->brk == CF_AUDIT_INTACT) {
        size_t start = i;
        memset(&node, 0, sizeof(node));
        node.mac_checked = r->mac_checked;
        node.sig_checked = r->sig_checked;
        for (; i < n && strcmp(v[i].node, v[start].node) == 0; i++) {
            bool last = i + 1 == n || strcmp(v[i + 1].node, v[start].node) != 0;
            snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
            if ((e = cf_audit_verify_file(path, mac_key, pub, &fr)))
                goto free_list;
            if (fr.brk == CF_AUDIT_INTACT && i > start &&
                (fr.first_seq != node.last_seq + 1 ||
                 memcmp(fr.first_prev, node.last_mac, CF_AUDIT_MAC_LEN) != 0)) {
                if (fr.first_seq > node.last_seq + 1)
                    brk(&fr, CF_AUDIT_DELETED, 1, "file(s) missing before this one: seq %lld..%lld",
                        (long long)(node.last_seq + 1), (long long)(fr.first_seq - 1));
                else
                    brk(&fr, CF_AUDIT_INSERTED, 1, "the file does not continue %s",
                        v[i - 1].name);
            }
            if (fr.brk == CF_AUDIT_INTACT && !last && !fr.final)
                brk(&fr, CF_AUDIT_TRUNCATED, fr.lines + 1,
                    "a rotated file without its final checkpoint");
            if (fr.brk != CF_AUDIT_INTACT) {
                node.brk = fr.brk;
                node.line = fr.line;
                snprintf(node.file, sizeof(node.file), "%s", fr.file);
                snprintf(node.detail, sizeof(node.detail), "%s", fr.detail);
                if (!node.node[0])
                    snprintf(node.node, sizeof(node.node), "%s", v[start].node);
                *r = node;
                r->files = node.files + 1;
                break;
            }
            add_totals(&node, &fr, i == start);
        }
        if (cb)
            cb(ctx, r->brk != CF_AUDIT_INTACT ? r : &node);
        if (r->brk == CF_AUDIT_INTACT) {
            bool first = r->files == 0;
            uint64_t files = r->files;
            add_totals(r, &node, first);
            r->files = files + node.files;
        }
        while (i < n && strcmp(v[i].node, v[start].node) == 0)
            i++;
    }
free_list:
    free(v);
    return e;
}

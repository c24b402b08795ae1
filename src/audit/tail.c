/* tail.c - tail.h: file names and whole lines from an offset, for shippers.
 *
 *   cf_audit_tail_parse_name / list   the audit_int.h helpers behind a public record
 *   cf_audit_tail_read                lines from an offset with seq, kind and "final" */
#include "base/cf.h"
#include "audit/audit_int.h"
#include "audit/tail.h"

#include <errno.h>

static void ref_of(const struct audit_file *a, struct cf_audit_file_ref *f)
{
    snprintf(f->name, sizeof(f->name), "%s", a->name);
    snprintf(f->node, sizeof(f->node), "%s", a->node);
    f->first_seq = a->first_seq;
}

bool cf_audit_tail_parse_name(const char *name, struct cf_audit_file_ref *f)
{
    struct audit_file a;
    if (!name || !audit_parse_name(name, &a))
        return false;
    ref_of(&a, f);
    return true;
}

cf_err cf_audit_tail_list(const char *dir, const char *node, struct cf_audit_file_ref **out,
                          size_t *n)
{
    struct audit_file *v = NULL;
    struct cf_audit_file_ref *r = NULL;
    size_t cnt = 0;
    cf_err e;

    *out = NULL;
    *n = 0;
    if ((e = audit_list(dir, node, &v, &cnt)))
        return e;
    if (cnt) {
        if (!(r = calloc(cnt, sizeof(*r)))) {
            free(v);
            return CF_ENOMEM;
        }
        for (size_t i = 0; i < cnt; i++)
            ref_of(&v[i], &r[i]);
    }
    free(v);
    *out = r;
    *n = cnt;
    return CF_OK;
}

cf_err cf_audit_tail_read(const char *path, uint64_t off,
                          bool (*cb)(void *ctx, const struct cf_audit_tail_line *l), void *ctx,
                          size_t *lines)
{
    struct audit_reader rd;
    struct audit_tail t;
    size_t count = 0;
    cf_err e;

    if (lines)
        *lines = 0;
    if (!path || !cb || off > (uint64_t)INT64_MAX)
        return CF_EINVAL;
    if ((e = audit_reader_open(&rd, path)))
        return e;
    if (fseeko(rd.f, (off_t)off, SEEK_SET) != 0) {
        e = CF_EIO;
        goto close_reader;
    }
    rd.next_off = off;
    while (audit_reader_next(&rd)) {
        struct cf_audit_tail_line l;
        enum audit_kind k;
        if (!rd.nl)
            break; /* being written: not ours yet */
        memset(&l, 0, sizeof(l));
        l.line = rd.line;
        l.len = rd.len;
        l.off = rd.off;
        l.next_off = rd.next_off;
        l.valid = audit_parse_tail(rd.line, rd.len, &t);
        l.seq = l.valid ? t.seq : 0;
        k = audit_line_kind(rd.line, rd.len);
        l.kind = k == AUDIT_KIND_HEADER       ? CF_AUDIT_LINE_HEADER
                 : k == AUDIT_KIND_CHECKPOINT ? CF_AUDIT_LINE_CHECKPOINT
                                              : CF_AUDIT_LINE_RECORD;
        l.final = k == AUDIT_KIND_CHECKPOINT && rd.len > sizeof(AUDIT_CKPT_PREFIX) - 1 + 13 &&
                  strncmp(rd.line + sizeof(AUDIT_CKPT_PREFIX) - 1, ",\"final\":true", 13) == 0;
        count++;
        if (!cb(ctx, &l))
            break;
    }
    if (ferror(rd.f))
        e = CF_EIO;
close_reader:
    audit_reader_close(&rd);
    if (lines)
        *lines = count;
    return e;
}

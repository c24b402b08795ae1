/* read.c - reading records back with a filter (`coffer audit show`).
 *
 *   cf_audit_read  every AuditEvent line of the directory's files, in file order, that
 *                  matches vault / time range / operation / caller */
#include "base/cf.h"
#include "base/json.h"
#include "audit/audit_int.h"

#include <limits.h>

static const char *jstr(const struct cf_json *o, const char *k)
{
    size_t n;
    return cf_json_str(cf_json_get(o, k), &n);
}

static bool eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool matches(const struct cf_json *rec, const struct cf_audit_filter *f)
{
    const char *cat = jstr(rec, "category");
    if (!eq(cat, "AuditEvent"))
        return false;
    if (f->vault) {
        const char *rid = jstr(rec, "resourceId"), *slash;
        if (!rid)
            return false;
        slash = strrchr(rid, '/');
        if (strcasecmp(slash ? slash + 1 : rid, f->vault) != 0)
            return false;
    }
    if (f->operation && (!jstr(rec, "operationName") ||
                         strcasecmp(jstr(rec, "operationName"), f->operation) != 0))
        return false;
    if (f->since_ms || f->until_ms) {
        int64_t t;
        if (!cf_audit_parse_time(jstr(rec, "time"), &t))
            return false;
        if ((f->since_ms && t < f->since_ms) || (f->until_ms && t >= f->until_ms))
            return false;
    }
    if (f->caller) {
        const struct cf_json *claim = cf_json_get(cf_json_get(rec, "identity"), "claim");
        if (!eq(jstr(rec, "callerIpAddress"), f->caller) &&
            !eq(jstr(claim, "http://schemas.microsoft.com/identity/claims/objectidentifier"),
                f->caller) &&
            !eq(jstr(claim, "appid"), f->caller) &&
            !eq(jstr(claim, "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"),
                f->caller))
            return false;
    }
    return true;
}

cf_err cf_audit_read(const char *dir, const struct cf_audit_filter *f,
                     bool (*cb)(void *ctx, const char *line, size_t len,
                                const struct cf_json *rec),
                     void *ctx)
{
    static const struct cf_audit_filter none = {0};
    struct audit_file *v = NULL;
    char path[PATH_MAX + AUDIT_NAME_MAX];
    size_t n;
    bool go = true;
    cf_err e;

    if (!f)
        f = &none;
    if ((e = audit_list(dir, f->node, &v, &n)))
        return e;
    for (size_t i = 0; i < n && go; i++) {
        struct audit_reader rd;
        snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
        if ((e = audit_reader_open(&rd, path))) {
            if (e == CF_ENOTFOUND) { /* removed by retention meanwhile */
                e = CF_OK;
                continue;
            }
            break;
        }
        while (go && audit_reader_next(&rd)) {
            struct cf_json *rec = NULL;
            if (!rd.nl || audit_line_kind(rd.line, rd.len) != AUDIT_KIND_RECORD ||
                cf_json_parse(rd.line, rd.len, &rec, NULL, 0) != CF_OK)
                continue;
            if (matches(rec, f))
                go = cb(ctx, rd.line, rd.len, rec);
            cf_json_free(rec);
        }
        audit_reader_close(&rd);
    }
    free(v);
    return e;
}

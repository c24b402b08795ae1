/* format.c - one AuditEvent record as one JSON line, in Azure's field order (reference §5.4).
 *
 *   cf_audit_format      the record (no chain fields)
 *   cf_audit_time        "2025-03-02T10:15:42.1230000Z" (Azure's 7 fractional digits)
 *   cf_audit_parse_time  the reverse, for the reader's --since */
#include "base/cf.h"
#include "base/json.h"
#include "audit/audit.h"

#include <ctype.h>
#include <time.h>

/* Caps per field: the worst case (every byte escaped as \u00XX, 6x) of all fields together
 * stays well under CF_AUDIT_MAX_LINE. */
#define CAP_URI 2048   /* id, requestUri */
#define CAP_DESC 1024  /* resultDescription */
#define CAP_MID 512    /* resourceId, upn, clientInfo, appliedAssignmentId */
#define CAP_FIELD 256  /* names, versions, words, addresses, GUIDs */

/* Two decimal digits of v (0..99) at p. */
static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* Every record carries one: plain arithmetic (days to civil date, H. Hinnant's algorithm)
 * instead of gmtime_r + strftime, which take glibc's time-zone lock on every call - shared
 * by all event loops - and cost more than the rest of the record's formatting. */
void cf_audit_time(int64_t ms, char out[32])
{
    int64_t t = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int frac = (int)(ms - t * 1000);
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int sod = (int)(t - days * 86400);
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);

    if (y < 0 || y > 9999) { /* keep the shape, not the value */
        snprintf(out, 32, "%s", y < 0 ? "0000-01-01T00:00:00.0000000Z"
                                      : "9999-12-31T23:59:59.9990000Z");
        return;
    }
    put2(out, (int)(y / 100));
    put2(out + 2, (int)(y % 100));
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, sod / 3600);
    out[13] = ':';
    put2(out + 14, sod / 60 % 60);
    out[16] = ':';
    put2(out + 17, sod % 60);
    /* frac is 0..999 by construction; seven digits as Azure's, the last four always 0. */
    out[19] = '.';
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
    memcpy(out + 23, "0000Z", 6);
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool cf_audit_parse_time(const char *s, int64_t *ms)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, frac = 0, nfrac = 0;
    time_t t;

    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return false;
    s += 19;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            if (nfrac < 3)
                frac = frac * 10 + (*s - '0');
            nfrac++;
            s++;
        }
        if (nfrac == 0 || nfrac > 9)
            return false;
        for (int i = nfrac; i < 3; i++)
            frac *= 10;
    }
    if (strcmp(s, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    *ms = (int64_t)t * 1000 + frac;
    return true;
}

/* Azure's resultSignature words are the HTTP reason phrases without spaces. */
static const char *reason(int status)
{
    static const struct {
        int code;
        const char *word;
    } t[] = {
        {200, "OK"},           {201, "Created"},        {202, "Accepted"},
        {204, "NoContent"},    {400, "BadRequest"},     {401, "Unauthorized"},
        {403, "Forbidden"},    {404, "NotFound"},       {405, "MethodNotAllowed"},
        {409, "Conflict"},     {413, "RequestEntityTooLarge"}, {429, "TooManyRequests"},
        {500, "InternalServerError"}, {501, "NotImplemented"}, {503, "ServiceUnavailable"},
    };
    for (size_t i = 0; i < CF_ARRAY_LEN(t); i++)
        if (t[i].code == status)
            return t[i].word;
    return "";
}

static void kstr_cap(struct cf_jw *w, const char *key, const char *s, size_t cap)
{
    cf_jw_key(w, key);
    if (!s)
        s = "";
    cf_jw_strn(w, s, strnlen(s, cap));
}

static void kopt(struct cf_jw *w, const char *key, const char *s, size_t cap)
{
    if (s)
        kstr_cap(w, key, s, cap);
}

static void kflag(struct cf_jw *w, const char *key, enum cf_audit_flag f)
{
    if (f != CF_AUDIT_UNSET)
        cf_jw_kbool(w, key, f == CF_AUDIT_YES);
}

cf_err cf_audit_format(const struct cf_audit_event *ev, struct cf_buf *line)
{
    size_t start = line->len;
    char tbuf[32], rid[CAP_MID + 1], dur[24];
    const char *rt = ev->result_type, *rs = ev->result_signature;
    size_t n = 0;
    struct cf_jw w;
    cf_err e;

    cf_audit_time(ev->time_ms, tbuf);
    /* Azure's exports upper-case the resource id; filters compare case-insensitively. */
    if (ev->resource_id)
        for (; ev->resource_id[n] && n < CAP_MID; n++)
            rid[n] = (char)toupper((unsigned char)ev->resource_id[n]);
    rid[n] = '\0';
    if (!rt)
        rt = ev->http_status > 0 && ev->http_status < 400 ? "Success" : "Failure";
    if (!rs)
        rs = reason(ev->http_status);
    snprintf(dur, sizeof(dur), "%lld", (long long)ev->duration_ms);

    cf_jw_init(&w, line);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "time", tbuf);
    kstr_cap(&w, "resourceId", rid, CAP_MID);
    kstr_cap(&w, "operationName", ev->operation_name, CAP_FIELD);
    kstr_cap(&w, "operationVersion", ev->operation_version, CAP_FIELD);
    cf_jw_kstr(&w, "category", "AuditEvent");
    kstr_cap(&w, "resultType", rt, CAP_FIELD);
    kstr_cap(&w, "resultSignature", rs, CAP_FIELD);
    kstr_cap(&w, "resultDescription", ev->result_description, CAP_DESC);
    cf_jw_kstr(&w, "durationMs", dur);
    kstr_cap(&w, "callerIpAddress", ev->caller_ip, CAP_FIELD);
    kstr_cap(&w, "correlationId", ev->correlation_id, CAP_FIELD);
    if (ev->identity.oid || ev->identity.appid || ev->identity.upn) {
        cf_jw_key(&w, "identity");
        cf_jw_obj_begin(&w);
        cf_jw_key(&w, "claim");
        cf_jw_obj_begin(&w);
        kopt(&w, "http://schemas.microsoft.com/identity/claims/objectidentifier",
             ev->identity.oid, CAP_FIELD);
        kopt(&w, "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", ev->identity.upn,
             CAP_MID);
        kopt(&w, "appid", ev->identity.appid, CAP_FIELD);
        cf_jw_obj_end(&w);
        cf_jw_obj_end(&w);
    }
    cf_jw_key(&w, "properties");
    cf_jw_obj_begin(&w);
    kopt(&w, "id", ev->id, CAP_URI);
    kopt(&w, "clientInfo", ev->client_info, CAP_MID);
    kopt(&w, "requestUri", ev->request_uri, CAP_URI);
    if (ev->http_status)
        cf_jw_kint(&w, "httpStatusCode", ev->http_status);
    kflag(&w, "isAccessPolicyMatch", ev->is_access_policy_match);
    kflag(&w, "isRbacAuthorized", ev->is_rbac_authorized);
    kopt(&w, "appliedAssignmentId", ev->applied_assignment_id, CAP_MID);
    kopt(&w, "tlsVersion", ev->tls_version, CAP_FIELD);
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
    if (e == CF_OK && line->len - start > CF_AUDIT_MAX_LINE)
        e = CF_ETOOBIG; /* unreachable with the caps above; kept as the invariant's check */
    if (e != CF_OK) {
        line->len = start;
        if (line->data)
            line->data[start] = '\0';
    }
    return e;
}

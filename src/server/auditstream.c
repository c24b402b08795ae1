/* auditstream.c - auditstream.h: shippers that follow the audit files to syslog and HTTPS
 * receivers, and the time-based rotation of the audit lanes.
 *
 * Map:
 *   config        [stream.NAME] sections (inih)
 *   syslog frame  RFC 5424 message of one record (+ RFC 6587 octet count)
 *   position      the per-lane place, saved atomically after every delivery
 *   settings      diagnostic settings from the store, cached for a second
 *   shipper       one round: list files (audit dir + pins), pin, bound, read, select, merge by
 *                 time, deliver, advance, save; gap events
 *   transports    syslog over unix dgram/stream or TCP; HTTPS POST of a JSON array
 *   service       a thread per shipper with backoff; the rotation timer; metrics
 *
 * Invariants: a lane's saved position only moves past lines that were delivered, deliberately
 * skipped (not selected, headers, checkpoints), or declared lost in a gap event first; a pin is
 * removed only after the saved position has moved past its file. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "audit/audit.h"
#include "audit/tail.h"
#include "http/fetch.h"
#include "metrics/metrics.h"
#include "server/auditstream.h"
#include "store/store.h"
#include "store/store_diag.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define POS_MAGIC "coffer-auditstream-position 1"
#define SETTINGS_TTL_MS 1000
#define HTTPS_TIMEOUT_S 15 /* also bounds how long a stop waits for a delivery */
#define HTTPS_BODY_MAX (4u * 1024 * 1024)

/* ---- config ---- */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CF_AS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* "AuditEvent, AzurePolicyEvaluationDetails" -> bits; false on an unknown name. */
static bool parse_cats(const char *s, unsigned *out)
{
    char buf[256], *save = NULL;
    unsigned c = 0;
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (strcasecmp(t, "AuditEvent") == 0)
            c |= CF_AS_CAT_AUDIT;
        else if (strcasecmp(t, "AzurePolicyEvaluationDetails") == 0)
            c |= CF_AS_CAT_POLICY;
        else if (strcasecmp(t, "CofferAudit") == 0)
            c |= CF_AS_CAT_COFFER;
        else if (strcasecmp(t, "allLogs") == 0)
            c |= CF_AS_CAT_AUDIT | CF_AS_CAT_POLICY;
        else
            return false;
    }
    *out = c;
    return c != 0;
}

static bool int_in(const char *v, int lo, int hi, int *out)
{
    int64_t n;
    if (!cf_str_to_i64(cf_str_from(v), &n) || n < lo || n > hi)
        return false;
    *out = (int)n;
    return true;
}

struct cfg_ctx {
    struct cf_as_stream_cfg *out;
    size_t max, n;
    bool bad;
};

static struct cf_as_stream_cfg *cfg_section(struct cfg_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->out[i].name, name) == 0)
            return &c->out[i];
    if (c->n == c->max || !name_ok(name))
        return NULL;
    struct cf_as_stream_cfg *s = &c->out[c->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->categories = CF_AS_CAT_AUDIT;
    s->batch = 200;
    s->retry_max_s = 60;
    s->queue_max_mb = 1024;
    s->facility = 13;
    return s;
}

#define SET_STR(field)                                                                             \
    do {                                                                                           \
        if (strlen(value) >= sizeof(s->field))                                                     \
            goto bad;                                                                              \
        snprintf(s->field, sizeof(s->field), "%s", value);                                         \
    } while (0)

static int ini_stream_cb(void *user, const char *section, const char *key, const char *value)
{
    struct cfg_ctx *c = user;
    struct cf_as_stream_cfg *s;

    if (strncmp(section, "stream.", 7) != 0)
        return 1;
    if (!(s = cfg_section(c, section + 7)))
        goto bad;
    if (strcmp(key, "type") == 0) {
        if (strcmp(value, "syslog") == 0)
            s->type = CF_AS_SYSLOG;
        else if (strcmp(value, "https") == 0)
            s->type = CF_AS_HTTPS;
        else
            goto bad;
    } else if (strcmp(key, "target") == 0) {
        SET_STR(target);
    } else if (strcmp(key, "ca_file") == 0) {
        SET_STR(ca_file);
    } else if (strcmp(key, "bearer_file") == 0) {
        SET_STR(bearer_file);
    } else if (strcmp(key, "hostname") == 0) {
        SET_STR(hostname);
    } else if (strcmp(key, "categories") == 0) {
        if (!parse_cats(value, &s->categories))
            goto bad;
    } else if (strcmp(key, "scope") == 0) {
        if (strcmp(value, "all") != 0 && strcmp(value, "settings") != 0)
            goto bad;
        s->scope_all = strcmp(value, "all") == 0;
    } else if (strcmp(key, "start") == 0) {
        if (strcmp(value, "end") != 0 && strcmp(value, "beginning") != 0)
            goto bad;
        s->start_end = strcmp(value, "end") == 0;
    } else if (strcmp(key, "batch") == 0) {
        if (!int_in(value, 1, 5000, &s->batch))
            goto bad;
    } else if (strcmp(key, "retry_max_s") == 0) {
        if (!int_in(value, 1, 3600, &s->retry_max_s))
            goto bad;
    } else if (strcmp(key, "queue_max_mb") == 0) {
        if (!int_in(value, 1, 1024 * 1024, &s->queue_max_mb))
            goto bad;
    } else if (strcmp(key, "facility") == 0) {
        if (!int_in(value, 0, 23, &s->facility))
            goto bad;
    } else {
        goto bad;
    }
    return 1;
bad:
    fprintf(stderr, "cofferd: config: [%s] bad key or value: %s\n", section, key);
    c->bad = true;
    return 1;
}

cf_err cf_auditstream_config(const char *config_file, struct cf_as_stream_cfg *out, size_t max,
                             size_t *n)
{
    struct cfg_ctx c = {.out = out, .max = max};

    *n = 0;
    if (!config_file || !config_file[0])
        return CF_OK;
    if (ini_parse(config_file, ini_stream_cb, &c) != 0 || c.bad)
        return CF_EINVAL;
    for (size_t i = 0; i < c.n; i++) {
        if (!c.out[i].type || !c.out[i].target[0]) {
            fprintf(stderr, "cofferd: config: [stream.%s] needs type (syslog|https) and target\n",
                    c.out[i].name);
            return CF_EINVAL;
        }
        if (c.out[i].type == CF_AS_HTTPS && strncmp(c.out[i].target, "https://", 8) != 0) {
            fprintf(stderr, "cofferd: config: [stream.%s] target must be an https:// URL\n",
                    c.out[i].name);
            return CF_EINVAL;
        }
    }
    *n = c.n;
    return CF_OK;
}

/* ---- syslog frame (RFC 5424) ---- */

static const char *jstr(const struct cf_json *o, const char *k)
{
    return cf_json_str(cf_json_get(o, k), NULL);
}

/* PRINTUSASCII (33..126) only, at most max bytes; "-" when empty. */
static cf_err put_token(struct cf_buf *b, const char *s, size_t max)
{
    size_t n = 0;
    cf_err e = CF_OK;
    for (; s && s[n] && n < max && !e; n++)
        e = cf_buf_putc(b, s[n] > 32 && s[n] < 127 ? s[n] : '_');
    if (!e && n == 0)
        e = cf_buf_putc(b, '-');
    return e;
}

/* PARAM-VALUE: '"', '\' and ']' escaped with a backslash (RFC 5424 §6.3.3). */
static cf_err put_param(struct cf_buf *b, const char *name, const char *v)
{
    cf_err e = cf_buf_printf(b, " %s=\"", name);
    for (size_t i = 0; v && v[i] && !e; i++) {
        if (v[i] == '"' || v[i] == '\\' || v[i] == ']')
            e = cf_buf_putc(b, '\\');
        if (!e)
            e = cf_buf_putc(b, v[i]);
    }
    return e ? e : cf_buf_putc(b, '"');
}

/* "2025-03-02T10:15:42.1234567Z" -> "2025-03-02T10:15:42.123456Z" (TIME-SECFRAC has at most
 * 6 digits); anything not of that form -> "-". */
static void syslog_time(const char *t, char out[40])
{
    size_t n = t ? strlen(t) : 0, i, frac = 0;
    snprintf(out, 40, "-");
    if (n < 20 || n > 36 || t[n - 1] != 'Z' || t[4] != '-' || t[10] != 'T' || t[19] == '\0')
        return;
    for (i = 0; i < 19; i++)
        if (!(isdigit((unsigned char)t[i]) || i == 4 || i == 7 || i == 10 || i == 13 || i == 16))
            return;
    if (t[19] == 'Z') {
        snprintf(out, 40, "%.19sZ", t);
        return;
    }
    if (t[19] != '.')
        return;
    for (i = 20; i < n - 1; i++, frac++)
        if (!isdigit((unsigned char)t[i]))
            return;
    if (frac == 0)
        return;
    snprintf(out, 40, "%.19s.%.*sZ", t, (int)(frac > 6 ? 6 : frac), t + 20);
}

cf_err cf_as_syslog_frame(struct cf_buf *out, const struct cf_as_syslog_opts *o, const char *line,
                          size_t len, const struct cf_json *rec, const char *node, int64_t seq)
{
    struct cf_buf m;
    char ts[40], seqs[24];
    const char *cat = jstr(rec, "category"), *res = jstr(rec, "resultType");
    int sev = !res || strcmp(res, "Success") == 0 ? 6 : 5;
    cf_err e;

    cf_buf_init(&m, CF_AUDIT_MAX_LINE + 4096);
    syslog_time(jstr(rec, "time"), ts);
    snprintf(seqs, sizeof(seqs), "%lld", (long long)seq);
    if ((e = cf_buf_printf(&m, "<%d>1 %s ", o->facility * 8 + sev, ts)) ||
        (e = put_token(&m, o->hostname, 255)) || (e = cf_buf_putc(&m, ' ')) ||
        (e = put_token(&m, o->app ? o->app : "cofferd", 48)) ||
        (e = o->procid > 0 ? cf_buf_printf(&m, " %ld ", o->procid) : cf_buf_puts(&m, " - ")) ||
        (e = put_token(&m, jstr(rec, "operationName"), 32)) ||
        (e = cf_buf_puts(&m, " [" CF_AS_SD_ID)) ||
        (e = put_param(&m, "category", cat ? cat : "")) ||
        (e = put_param(&m, "operation", jstr(rec, "operationName"))) ||
        (e = put_param(&m, "resultType", res ? res : "")) ||
        (e = put_param(&m, "node", node ? node : "")) || (e = put_param(&m, "seq", seqs)) ||
        (e = cf_buf_puts(&m, "] \xEF\xBB\xBF")) || (e = cf_buf_append(&m, line, len)))
        goto release;
    if (o->octet_count && (e = cf_buf_printf(out, "%zu ", m.len)))
        goto release;
    e = cf_buf_append(out, m.data, m.len);
release:
    cf_buf_release(&m);
    return e;
}

/* ---- position ---- */

static cf_err sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return CF_EIO;
    (void)fsync(fd);
    close(fd);
    return CF_OK;
}

cf_err cf_as_pos_save(const char *path, const struct cf_as_pos *p)
{
    char tmp[PATH_MAX + 8];
    struct cf_buf b;
    int fd = -1;
    cf_err e;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return CF_EINVAL;
    cf_buf_init(&b, 1024 * 1024);
    e = cf_buf_puts(&b, POS_MAGIC "\n");
    for (size_t i = 0; i < p->n && !e; i++)
        e = cf_buf_printf(&b, "%s %s %llu %lld\n", p->lane[i].node,
                          p->lane[i].file[0] ? p->lane[i].file : "-",
                          (unsigned long long)p->lane[i].off, (long long)p->lane[i].seq);
    if (e)
        goto release;
    e = CF_EIO;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        goto release;
    if (write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        goto release;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        goto release;
    }
    e = sync_parent(path);
release:
    cf_buf_release(&b);
    return e;
}

cf_err cf_as_pos_load(const char *path, struct cf_as_pos *p)
{
    FILE *f = fopen(path, "re");
    char line[512];
    cf_err e = CF_OK;

    memset(p, 0, sizeof(*p));
    if (!f)
        return errno == ENOENT ? CF_ENOTFOUND : CF_EIO;
    if (!fgets(line, sizeof(line), f) || strcmp(line, POS_MAGIC "\n") != 0) {
        e = CF_ECORRUPT;
        goto close_file;
    }
    while (fgets(line, sizeof(line), f)) {
        struct cf_as_lane_pos *l;
        char node[80], file[200];
        unsigned long long off;
        long long seq;
        if (p->n == CF_AS_MAX_LANES ||
            sscanf(line, "%79s %199s %llu %lld", node, file, &off, &seq) != 4 ||
            strlen(node) > CF_AUDIT_MAX_NODE || strlen(file) >= sizeof(l->file) || seq < 0) {
            e = CF_ECORRUPT;
            goto close_file;
        }
        l = &p->lane[p->n++];
        /* lengths checked above */
        memcpy(l->node, node, strlen(node) + 1);
        if (strcmp(file, "-") == 0)
            l->file[0] = '\0';
        else
            memcpy(l->file, file, strlen(file) + 1);
        l->off = off;
        l->seq = seq;
    }
    if (ferror(f))
        e = CF_EIO;
close_file:
    fclose(f);
    if (e)
        memset(p, 0, sizeof(*p));
    return e;
}

/* ---- diagnostic settings ---- */

struct rule {
    char scope[CF_STORE_DIAG_SCOPE_MAX];
    unsigned cats;
};

struct rules {
    struct rule *v;
    size_t n, cap;
    const char *stream;
};

static cf_err rules_cb(const struct cf_rec_diag *d, void *arg)
{
    struct rules *r = arg;
    if (strcmp(d->stream, r->stream) != 0)
        return CF_OK;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        struct rule *nv = realloc(r->v, nc * sizeof(*nv));
        if (!nv)
            return CF_ENOMEM;
        r->v = nv;
        r->cap = nc;
    }
    snprintf(r->v[r->n].scope, sizeof(r->v[r->n].scope), "%s", d->scope);
    r->v[r->n].cats = d->cats;
    r->n++;
    return CF_OK;
}

static cf_err rules_read(struct cf_store_txn *t, void *arg)
{
    return cf_store_diag_list(t, NULL, rules_cb, arg);
}

/* The lower-case vault scope of a resourceId ("/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/
 * MICROSOFT.KEYVAULT/VAULTS/V[/...]"), or "" when the record is not about a vault. */
static void vault_scope_of(const char *rid, char *out, size_t n)
{
    static const char *const kw[] = {
        "subscriptions", NULL, "resourcegroups", NULL, "providers", "microsoft.keyvault",
        "vaults",        NULL};
    const char *p = rid;
    size_t used = 0;

    out[0] = '\0';
    if (!rid)
        return;
    for (size_t i = 0; i < CF_ARRAY_LEN(kw); i++) {
        const char *s, *end;
        size_t len;
        if (*p != '/')
            return;
        s = p + 1;
        end = strchr(s, '/');
        len = end ? (size_t)(end - s) : strlen(s);
        if (len == 0 || (kw[i] && (strlen(kw[i]) != len || strncasecmp(s, kw[i], len) != 0)) ||
            used + len + 2 > n)
            return;
        out[used++] = '/';
        for (size_t k = 0; k < len; k++)
            out[used++] = (char)tolower((unsigned char)s[k]);
        p = s + len;
    }
    out[used] = '\0';
}

static bool is_sub_scope(const char *scope)
{
    /* "/subscriptions/{s}" - one more '/' after the keyword, none after the id */
    const char *id;
    if (strncmp(scope, "/subscriptions/", 15) != 0)
        return false;
    id = scope + 15;
    return *id && !strchr(id, '/');
}

/* ---- the shipper ---- */

struct fileent {
    char name[CF_AUDIT_FILE_NAME_MAX];
    char node[CF_AUDIT_MAX_NODE + 1];
    int64_t first_seq;
    bool in_dir, in_pin;
    uint64_t size; /* of the pin (pinned-only files count against the bound) */
};

struct cand {
    struct cf_as_item it;
    size_t lane;
    char time[40];
    char file[CF_AUDIT_FILE_NAME_MAX]; /* position after this record */
    uint64_t next_off;
};

struct laneread {
    struct cf_as_lane_pos end; /* after everything scanned this round */
    size_t first, count;       /* its candidates in the round's array (before the merge) */
    size_t sent;
};

struct cf_as_shipper {
    struct cf_as_stream_cfg c;
    struct cf_as_shipper_deps d;
    char dir[PATH_MAX], pin[PATH_MAX];
    char pos_path[PATH_MAX + 32], gaps_path[PATH_MAX + 32];
    struct cf_as_pos pos;

    struct rules rules;
    int64_t rules_ms;
    bool rules_ok;

    struct cf_as_item *gaps; /* gap records not yet delivered */
    size_t ngaps;

    /* transport */
    int fd;
    bool dgram, stream_framing;
    char host[256];
    struct cf_buf out;

    pthread_mutex_t mu; /* st */
    struct cf_as_stats st;
};

static void item_free(struct cf_as_item *it)
{
    free(it->line);
    cf_json_free(it->rec);
    it->line = NULL;
    it->rec = NULL;
}

static void path_in(const char *dir, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static struct cf_as_lane_pos *lane_of(struct cf_as_shipper *s, const char *node)
{
    for (size_t i = 0; i < s->pos.n; i++)
        if (strcmp(s->pos.lane[i].node, node) == 0)
            return &s->pos.lane[i];
    if (s->pos.n == CF_AS_MAX_LANES)
        return NULL;
    struct cf_as_lane_pos *l = &s->pos.lane[s->pos.n++];
    memset(l, 0, sizeof(*l));
    snprintf(l->node, sizeof(l->node), "%s", node);
    return l;
}

static int cmp_ent(const void *a, const void *b)
{
    const struct fileent *x = a, *y = b;
    int c = strcmp(x->node, y->node);
    if (c)
        return c;
    return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* Every file of the audit dir and the pin dir, merged by name, sorted by node and seq. */
static cf_err list_files(struct cf_as_shipper *s, struct fileent **out, size_t *n)
{
    struct cf_audit_file_ref *a = NULL, *p = NULL;
    size_t na = 0, np = 0, cnt = 0;
    struct fileent *v;
    cf_err e;

    *out = NULL;
    *n = 0;
    if ((e = cf_audit_tail_list(s->dir, NULL, &a, &na)))
        return e;
    if ((e = cf_audit_tail_list(s->pin, NULL, &p, &np)) && e != CF_ENOTFOUND)
        goto free_lists;
    e = CF_OK;
    if (!(v = calloc(na + np + 1, sizeof(*v)))) {
        e = CF_ENOMEM;
        goto free_lists;
    }
    for (size_t i = 0; i < na; i++) {
        snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", a[i].name);
        snprintf(v[cnt].node, sizeof(v[cnt].node), "%s", a[i].node);
        v[cnt].first_seq = a[i].first_seq;
        v[cnt++].in_dir = true;
    }
    for (size_t i = 0; i < np; i++) {
        char path[PATH_MAX + CF_AUDIT_FILE_NAME_MAX];
        struct stat st;
        size_t k;
        for (k = 0; k < cnt && strcmp(v[k].name, p[i].name) != 0; k++)
            ;
        if (k == cnt) {
            snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", p[i].name);
            snprintf(v[cnt].node, sizeof(v[cnt].node), "%s", p[i].node);
            v[cnt].first_seq = p[i].first_seq;
            cnt++;
        }
        v[k].in_pin = true;
        path_in(s->pin, p[i].name, path, sizeof(path));
        if (stat(path, &st) == 0)
            v[k].size = (uint64_t)st.st_size;
    }
    qsort(v, cnt, sizeof(*v), cmp_ent);
    *out = v;
    *n = cnt;
free_lists:
    free(a);
    free(p);
    return e;
}

static void stat_add(struct cf_as_shipper *s, uint64_t *field, uint64_t v)
{
    pthread_mutex_lock(&s->mu);
    *field += v;
    pthread_mutex_unlock(&s->mu);
}

/* Records a gap [from, to] of node: the stream's own log, the error log, the counters, and a
 * CofferAudit record queued for the destination. */
static void record_gap(struct cf_as_shipper *s, const char *node, int64_t from, int64_t to,
                       const char *reason, const char *file)
{
    char t[32];
    struct cf_buf b;
    struct cf_jw w;
    struct cf_as_item *nv;
    int fd;

    if (to < from)
        return;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cf_audit_time((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, t);
    }
    cf_error("auditstream %s: gap: records %lld..%lld of node %s (%s, file %s) will not be "
             "delivered",
             s->c.name, (long long)from, (long long)to, node, reason, file ? file : "-");
    pthread_mutex_lock(&s->mu);
    s->st.gaps++;
    s->st.gap_records += (uint64_t)(to - from + 1);
    pthread_mutex_unlock(&s->mu);
    cf_buf_init(&b, 4096);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "time", t);
    cf_jw_kstr(&w, "category", "CofferAudit");
    cf_jw_kstr(&w, "kind", "gap");
    cf_jw_kstr(&w, "operationName", "AuditStreamGap");
    cf_jw_kstr(&w, "resultType", "Failure");
    cf_jw_kstr(&w, "stream", s->c.name);
    cf_jw_kstr(&w, "node", node);
    cf_jw_kint(&w, "fromSeq", from);
    cf_jw_kint(&w, "toSeq", to);
    cf_jw_kint(&w, "records", to - from + 1);
    cf_jw_kstr(&w, "reason", reason);
    cf_jw_kstr(&w, "file", file ? file : "");
    cf_jw_obj_end(&w);
    if (cf_jw_err(&w) || cf_buf_putc(&b, '\n'))
        goto release;
    if ((fd = open(s->gaps_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0) {
        if (write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) != 0)
            cf_error("auditstream %s: cannot write %s", s->c.name, s->gaps_path);
        close(fd);
    }
    b.len--; /* the queued record has no newline */
    nv = realloc(s->gaps, (s->ngaps + 1) * sizeof(*nv));
    if (!nv)
        goto release;
    s->gaps = nv;
    memset(&nv[s->ngaps], 0, sizeof(nv[0]));
    if (!(nv[s->ngaps].line = strndup(b.data, b.len)))
        goto release;
    nv[s->ngaps].len = b.len;
    if (cf_json_parse(b.data, b.len, &nv[s->ngaps].rec, NULL, 0) != CF_OK)
        nv[s->ngaps].rec = NULL;
    nv[s->ngaps].node = "";
    nv[s->ngaps].seq = 0;
    s->ngaps++;
release:
    cf_buf_release(&b);
}

/* Position of a lane that has not started: the beginning of its oldest file (files removed
 * before the stream existed are not a gap), or with start = end after its last whole line. */
struct endscan {
    uint64_t off;
    int64_t seq;
};

static bool endscan_cb(void *ctx, const struct cf_audit_tail_line *l)
{
    struct endscan *e = ctx;
    e->off = l->next_off;
    if (l->valid)
        e->seq = l->seq;
    return true;
}

static void lane_init(struct cf_as_shipper *s, struct cf_as_lane_pos *l, const struct fileent *f,
                      size_t n)
{
    const struct fileent *pick = s->c.start_end ? &f[n - 1] : &f[0];
    snprintf(l->file, sizeof(l->file), "%s", pick->name);
    l->off = 0;
    l->seq = pick->first_seq - 1;
    if (s->c.start_end) {
        char path[PATH_MAX + CF_AUDIT_FILE_NAME_MAX];
        struct endscan es = {0, l->seq};
        path_in(pick->in_pin ? s->pin : s->dir, pick->name, path, sizeof(path));
        if (cf_audit_tail_read(path, 0, endscan_cb, &es, NULL) == CF_OK) {
            l->off = es.off;
            l->seq = es.seq;
        }
    }
}

/* Index of the lane's current file in f[0..n) (one node's files), or n. */
static size_t cur_index(const struct cf_as_lane_pos *l, const struct fileent *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, l->file) == 0)
            return i;
    return n;
}

/* The first file after the current one (by seq): the current file's first seq comes from its
 * name even when the file is gone. */
static size_t next_index(const struct cf_as_lane_pos *l, const struct fileent *f, size_t n)
{
    struct cf_audit_file_ref r;
    int64_t first = cf_audit_tail_parse_name(l->file, &r) ? r.first_seq : l->seq;
    for (size_t i = 0; i < n; i++)
        if (f[i].first_seq > first)
            return i;
    return n;
}

/* Pins every file of the lane from its current one on; unpins the files before it (their
 * records are behind the saved position). */
static void pin_lane(struct cf_as_shipper *s, const struct cf_as_lane_pos *l, struct fileent *f,
                     size_t n)
{
    struct cf_audit_file_ref r;
    int64_t first = cf_audit_tail_parse_name(l->file, &r) ? r.first_seq : INT64_MAX;
    char a[PATH_MAX + CF_AUDIT_FILE_NAME_MAX], b[PATH_MAX + CF_AUDIT_FILE_NAME_MAX];

    for (size_t i = 0; i < n; i++) {
        path_in(s->pin, f[i].name, b, sizeof(b));
        if (f[i].first_seq < first) {
            if (f[i].in_pin && unlink(b) == 0)
                f[i].in_pin = false;
            continue;
        }
        if (f[i].in_dir && !f[i].in_pin) {
            path_in(s->dir, f[i].name, a, sizeof(a));
            if (link(a, b) == 0 || errno == EEXIST)
                f[i].in_pin = true;
            else if (errno != ENOENT)
                cf_warn("auditstream %s: cannot pin %s (errno %d)", s->c.name, f[i].name, errno);
        }
    }
}

/* Gives up the oldest pinned-only files while they hold more than queue_max_mb. */
static void enforce_bound(struct cf_as_shipper *s, struct fileent *f, size_t n)
{
    uint64_t max = (uint64_t)s->c.queue_max_mb * 1024 * 1024, held = 0;

    for (size_t i = 0; i < n; i++)
        if (f[i].in_pin && !f[i].in_dir)
            held += f[i].size;
    while (held > max) {
        /* oldest by the time in the name (the last 16 characters before ".jsonl") */
        size_t pick = n;
        for (size_t i = 0; i < n; i++) {
            size_t ln = strlen(f[i].name);
            if (!f[i].in_pin || f[i].in_dir)
                continue;
            if (pick == n ||
                strcmp(f[i].name + ln - 22, f[pick].name + strlen(f[pick].name) - 22) < 0)
                pick = i;
        }
        if (pick == n)
            break;
        struct cf_as_lane_pos *l = lane_of(s, f[pick].node);
        char path[PATH_MAX + CF_AUDIT_FILE_NAME_MAX];
        size_t j = pick + 1;
        int64_t to;
        /* the next file of the same node bounds the gap (one always exists: a pinned-only file
         * was rotated away, so a newer one was started) */
        to = j < n && strcmp(f[j].node, f[pick].node) == 0 ? f[j].first_seq - 1 : INT64_MAX;
        if (l && strcmp(l->file, f[pick].name) == 0) {
            record_gap(s, l->node, l->seq + 1, to == INT64_MAX ? l->seq + 1 : to,
                       "queue bound (queue_max_mb) reached", f[pick].name);
            if (j < n && strcmp(f[j].node, f[pick].node) == 0) {
                snprintf(l->file, sizeof(l->file), "%s", f[j].name);
                l->off = 0;
                l->seq = f[j].first_seq - 1;
            }
        }
        /* (a pinned-only file past the current one: retention removes the oldest first, so the
         * current file is then gone too; the reader reports the hole when it gets there) */
        path_in(s->pin, f[pick].name, path, sizeof(path));
        unlink(path);
        f[pick].in_pin = false;
        held -= f[pick].size;
    }
}

/* Categories of a record and whether the settings select it for this stream. */
static bool selected(struct cf_as_shipper *s, const struct cf_json *rec)
{
    const char *cat = jstr(rec, "category");
    unsigned bit = 0;
    char scope[CF_STORE_DIAG_SCOPE_MAX];

    if (cat && strcmp(cat, "AuditEvent") == 0)
        bit = CF_AS_CAT_AUDIT;
    else if (cat && strcmp(cat, "AzurePolicyEvaluationDetails") == 0)
        bit = CF_AS_CAT_POLICY;
    else if (cat && strcmp(cat, "CofferAudit") == 0)
        bit = CF_AS_CAT_COFFER;
    if (!(bit & s->c.categories))
        return false;
    if (s->c.scope_all || bit == CF_AS_CAT_COFFER)
        return true;
    vault_scope_of(jstr(rec, "resourceId"), scope, sizeof(scope));
    for (size_t i = 0; i < s->rules.n; i++) {
        const struct rule *r = &s->rules.v[i];
        if (!(r->cats & bit))
            continue;
        if (scope[0] ? strcmp(r->scope, scope) == 0 : is_sub_scope(r->scope))
            return true;
    }
    return false;
}

static void refresh_rules(struct cf_as_shipper *s)
{
    int64_t now = cf_mono_ms();
    if (s->c.scope_all || !s->d.store || (s->rules_ok && now - s->rules_ms < SETTINGS_TTL_MS))
        return;
    s->rules.n = 0;
    s->rules.stream = s->c.name;
    if (cf_store_read(s->d.store, rules_read, &s->rules) != CF_OK) {
        /* keep selecting with what is known: an empty set ships nothing, never too much */
        cf_warn("auditstream %s: cannot read the diagnostic settings", s->c.name);
        s->rules.n = 0;
    }
    s->rules_ms = now;
    s->rules_ok = true;
}

/* The durable seq of this process's lane named node, or INT64_MAX when it is not ours. */
static int64_t synced_of(struct cf_as_shipper *s, const char *node)
{
    for (size_t i = 0; s->d.audit && i < s->d.audit_lanes; i++) {
        char name[CF_AUDIT_FILE_NAME_MAX];
        struct cf_audit_file_ref r;
        struct cf_audit_stats st;
        if (!s->d.audit[i])
            continue;
        cf_audit_active_file(s->d.audit[i], name, sizeof(name));
        if (!cf_audit_tail_parse_name(name, &r) || strcmp(r.node, node) != 0)
            continue;
        cf_audit_get_stats(s->d.audit[i], &st);
        return st.synced_seq;
    }
    return INT64_MAX;
}

/* Reading one lane's current file for a round. */
struct readctx {
    struct cf_as_shipper *s;
    struct laneread *lr;
    size_t lane;
    struct cand **cands;
    size_t *ncands, *capcands;
    size_t budget, scanned;
    int64_t synced;
    bool stopped; /* budget or synced limit: not at the end of the file */
    bool final;   /* saw the final checkpoint */
    cf_err err;
};

static bool read_cb(void *ctx, const struct cf_audit_tail_line *l)
{
    struct readctx *r = ctx;
    struct cf_as_shipper *s = r->s;
    struct cf_as_lane_pos *end = &r->lr->end;
    struct cf_json *rec = NULL;

    if (l->valid && l->seq > r->synced) {
        r->stopped = true;
        return false;
    }
    if (r->lr->count >= r->budget || r->scanned >= 8 * r->budget) {
        r->stopped = true;
        return false;
    }
    r->scanned++;
    if (l->final)
        r->final = true;
    if (!l->valid) {
        cf_warn("auditstream %s: %s offset %llu is not a chained record; skipped (run coffer "
                "audit verify)",
                s->c.name, end->file, (unsigned long long)l->off);
        end->off = l->next_off;
        return true;
    }
    if (l->seq <= end->seq) { /* never twice */
        end->off = l->next_off;
        return true;
    }
    if (l->seq > end->seq + 1) {
        /* a gap is declared only at the lane's committed position: with records before it
         * still undelivered, stop here and come back once they are */
        if (r->lr->count > 0) {
            r->stopped = true;
            return false;
        }
        record_gap(s, end->node, end->seq + 1, l->seq - 1, "records missing from the file",
                   end->file);
        end->seq = l->seq - 1;
        end->off = l->off;
        s->pos.lane[r->lane] = *end;
    }
    if (cf_json_parse(l->line, l->len, &rec, NULL, 0) != CF_OK || !selected(s, rec)) {
        cf_json_free(rec);
        stat_add(s, &s->st.skipped, l->kind == CF_AUDIT_LINE_RECORD ? 1 : 0);
        end->off = l->next_off;
        end->seq = l->seq;
        return true;
    }
    if (*r->ncands == *r->capcands) {
        size_t nc = *r->capcands ? *r->capcands * 2 : 64;
        struct cand *nv = realloc(*r->cands, nc * sizeof(*nv));
        if (!nv) {
            cf_json_free(rec);
            r->err = CF_ENOMEM;
            return false;
        }
        *r->cands = nv;
        *r->capcands = nc;
    }
    struct cand *c = &(*r->cands)[(*r->ncands)++];
    memset(c, 0, sizeof(*c));
    c->it.line = strndup(l->line, l->len);
    c->it.len = l->len;
    c->it.rec = rec;
    c->it.node = end->node;
    c->it.seq = l->seq;
    c->lane = r->lane;
    snprintf(c->time, sizeof(c->time), "%s", jstr(rec, "time") ? jstr(rec, "time") : "");
    snprintf(c->file, sizeof(c->file), "%s", end->file);
    c->next_off = l->next_off;
    if (!c->it.line) {
        (*r->ncands)--;
        cf_json_free(rec);
        r->err = CF_ENOMEM;
        return false;
    }
    r->lr->count++;
    end->off = l->next_off;
    end->seq = l->seq;
    return true;
}

/* Reads the lane from its position (moving on to later files at their ends) into cands. */
static cf_err read_lane(struct cf_as_shipper *s, size_t lane, struct fileent *f, size_t n,
                        struct laneread *lr, struct cand **cands, size_t *ncands, size_t *capcands)
{
    struct cf_as_lane_pos *end = &lr->end;
    int64_t synced = synced_of(s, end->node);

    for (int hops = 0; hops < 64; hops++) {
        char path[PATH_MAX + CF_AUDIT_FILE_NAME_MAX];
        size_t ci = cur_index(end, f, n), ni;
        struct readctx r = {.s = s,
                            .lr = lr,
                            .lane = lane,
                            .cands = cands,
                            .ncands = ncands,
                            .capcands = capcands,
                            .budget = (size_t)s->c.batch,
                            .synced = synced};
        cf_err e = CF_OK;

        if (ci < n) {
            path_in(f[ci].in_pin ? s->pin : s->dir, f[ci].name, path, sizeof(path));
            e = cf_audit_tail_read(path, end->off, read_cb, &r, NULL);
            if (e == CF_ENOTFOUND && f[ci].in_pin) { /* pin lost: try the original */
                path_in(s->dir, f[ci].name, path, sizeof(path));
                e = cf_audit_tail_read(path, end->off, read_cb, &r, NULL);
            }
            if (r.err)
                return r.err;
            if (e && e != CF_ENOTFOUND)
                return e;
            if (!e && r.stopped)
                return CF_OK;
            /* at the end of the file: a newer file of the node means this one is complete
             * (the listing came before the read, and the writer finishes a file before it
             * starts the next); otherwise it is the active file and more may come */
            ni = ci + 1;
            if (ni == n)
                return CF_OK;
        } else {
            ni = next_index(end, f, n);
        }
        if (ni >= n)
            return CF_OK; /* gone and nothing newer yet: wait */
        if (f[ni].first_seq > end->seq + 1) {
            /* records in no file: declared at the committed position only (see read_cb) */
            if (lr->count > 0)
                return CF_OK;
            record_gap(s, end->node, end->seq + 1, f[ni].first_seq - 1,
                       "no file holds them (removed by retention before the stream pinned it)",
                       end->file);
        }
        snprintf(end->file, sizeof(end->file), "%s", f[ni].name);
        end->off = 0;
        if (f[ni].first_seq - 1 > end->seq)
            end->seq = f[ni].first_seq - 1;
        if (lr->count == 0)
            s->pos.lane[lane] = *end; /* nothing undelivered before: commit the move */
    }
    return CF_OK;
}

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    int c = strcmp(x->time, y->time);
    if (c)
        return c;
    if (x->lane != y->lane)
        return x->lane < y->lane ? -1 : 1;
    return x->it.seq < y->it.seq ? -1 : x->it.seq > y->it.seq;
}

static cf_err deliver(struct cf_as_shipper *s, const struct cf_as_item *items, size_t n,
                      size_t *sent);

cf_err cf_as_shipper_pump(struct cf_as_shipper *s, bool *progress)
{
    struct fileent *f = NULL;
    struct cand *cands = NULL;
    struct laneread *lr = NULL;
    struct cf_as_item *items = NULL;
    size_t nf = 0, ncands = 0, capcands = 0, nitems = 0, sent = 0, take;
    struct cf_as_pos before = s->pos;
    cf_err e;

    *progress = false;
    if ((e = list_files(s, &f, &nf)))
        return e == CF_ENOTFOUND ? CF_OK : e;
    refresh_rules(s);
    /* lanes: start new ones, pin, then bound the pins */
    for (size_t i = 0; i < nf;) {
        size_t j = i;
        while (j < nf && strcmp(f[j].node, f[i].node) == 0)
            j++;
        struct cf_as_lane_pos *l = lane_of(s, f[i].node);
        if (l) {
            if (!l->file[0])
                lane_init(s, l, f + i, j - i);
            pin_lane(s, l, f + i, j - i);
        }
        i = j;
    }
    enforce_bound(s, f, nf);
    if (!(lr = calloc(s->pos.n ? s->pos.n : 1, sizeof(*lr)))) {
        e = CF_ENOMEM;
        goto release;
    }
    for (size_t k = 0; k < s->pos.n; k++) {
        size_t i = 0, j;
        lr[k].end = s->pos.lane[k];
        lr[k].first = ncands;
        while (i < nf && strcmp(f[i].node, lr[k].end.node) != 0)
            i++;
        for (j = i; j < nf && strcmp(f[j].node, lr[k].end.node) == 0; j++)
            ;
        if ((e = read_lane(s, k, f + i, j - i, &lr[k], &cands, &ncands, &capcands)))
            goto release;
    }
    /* the batch: pending gap records first, then the merged candidates */
    if (ncands)
        qsort(cands, ncands, sizeof(*cands), cmp_cand);
    take = CF_MIN(ncands, (size_t)s->c.batch);
    if (!(items = calloc(s->ngaps + take + 1, sizeof(*items)))) {
        e = CF_ENOMEM;
        goto release;
    }
    for (size_t i = 0; i < s->ngaps; i++)
        items[nitems++] = s->gaps[i];
    for (size_t i = 0; i < take; i++)
        items[nitems++] = cands[i].it;
    if (nitems)
        e = deliver(s, items, nitems, &sent);
    if (sent > nitems)
        sent = nitems;
    /* gap records delivered leave the queue */
    {
        size_t g = CF_MIN(sent, s->ngaps);
        for (size_t i = 0; i < g; i++)
            item_free(&s->gaps[i]);
        if (g)
            memmove(s->gaps, s->gaps + g, (s->ngaps - g) * sizeof(*s->gaps));
        s->ngaps -= g;
        sent -= g;
    }
    stat_add(s, &s->st.records, sent);
    if (e)
        stat_add(s, &s->st.failures, 1);
    /* positions: a lane all of whose candidates were taken and delivered moves to the end of
     * what was scanned; otherwise to just after its last delivered record */
    for (size_t i = 0; i < sent; i++)
        lr[cands[i].lane].sent++;
    for (size_t k = 0; k < s->pos.n; k++) {
        if (lr[k].sent == lr[k].count) {
            s->pos.lane[k] = lr[k].end;
            continue;
        }
        for (size_t i = sent; i-- > 0;) {
            if (cands[i].lane != k)
                continue;
            snprintf(s->pos.lane[k].file, sizeof(s->pos.lane[k].file), "%s", cands[i].file);
            s->pos.lane[k].off = cands[i].next_off;
            s->pos.lane[k].seq = cands[i].it.seq;
            break;
        }
    }
    if (memcmp(&before, &s->pos, sizeof(before)) != 0) {
        cf_err se = cf_as_pos_save(s->pos_path, &s->pos);
        if (se) {
            cf_error("auditstream %s: cannot save the position in %s", s->c.name, s->pos_path);
            if (!e)
                e = se;
        }
        *progress = true;
    }
release:
    for (size_t i = 0; i < ncands; i++)
        item_free(&cands[i].it);
    free(cands);
    free(items);
    free(lr);
    free(f);
    return e;
}

void cf_as_shipper_stats(struct cf_as_shipper *s, struct cf_as_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

/* ---- transports ---- */

static void close_fd(struct cf_as_shipper *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void set_timeouts(int fd)
{
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static cf_err syslog_connect(struct cf_as_shipper *s)
{
    const char *t = s->c.target;

    if (s->fd >= 0) {
        /* a stream peer that hung up shows as readable with EOF: reconnect before writing into
         * a dead connection (TCP would accept one write and lose it) */
        struct pollfd p = {s->fd, POLLIN, 0};
        char c;
        if (s->dgram || poll(&p, 1, 0) == 0 ||
            (recv(s->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN))
            return CF_OK;
        close_fd(s);
    }
    if (strncmp(t, "unix:", 5) == 0 || t[0] == '/') {
        struct sockaddr_un sa;
        const char *path = t[0] == '/' ? t : t + 5;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa.sun_path))
            return CF_EINVAL;
        memcpy(sa.sun_path, path, strlen(path));
        for (int type = SOCK_DGRAM; type; type = type == SOCK_DGRAM ? SOCK_STREAM : 0) {
            int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
            if (fd < 0)
                return CF_EIO;
            set_timeouts(fd);
            if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                s->fd = fd;
                s->dgram = type == SOCK_DGRAM;
                s->stream_framing = !s->dgram;
                return CF_OK;
            }
            close(fd);
            if (errno != EPROTOTYPE)
                return CF_EIO;
        }
        return CF_EIO;
    }
    if (strncmp(t, "tcp:", 4) == 0) {
        char host[256], port[16];
        const char *p = t + 4, *colon = strrchr(p, ':');
        struct addrinfo hints, *res = NULL;
        cf_err e = CF_EIO;
        if (!colon || colon == p || (size_t)(colon - p) >= sizeof(host) ||
            strlen(colon + 1) >= sizeof(port))
            return CF_EINVAL;
        if (p[0] == '[' && colon[-1] == ']')
            snprintf(host, sizeof(host), "%.*s", (int)(colon - p - 2), p + 1);
        else
            snprintf(host, sizeof(host), "%.*s", (int)(colon - p), p);
        snprintf(port, sizeof(port), "%s", colon + 1);
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, port, &hints, &res) != 0)
            return CF_EIO;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0)
                continue;
            set_timeouts(fd);
            if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
                s->fd = fd;
                s->dgram = false;
                s->stream_framing = true;
                e = CF_OK;
                break;
            }
            close(fd);
        }
        freeaddrinfo(res);
        return e;
    }
    return CF_EINVAL;
}

static cf_err send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return CF_EIO;
        p += w;
        n -= (size_t)w;
    }
    return CF_OK;
}

static cf_err syslog_send(struct cf_as_shipper *s, const struct cf_as_item *items, size_t n,
                          size_t *sent)
{
    struct cf_as_syslog_opts o = {
        .facility = s->c.facility, .hostname = s->host, .procid = (long)getpid()};
    cf_err e;

    *sent = 0;
    if ((e = syslog_connect(s)))
        return e;
    o.octet_count = s->stream_framing;
    for (size_t i = 0; i < n; i++) {
        cf_buf_reset(&s->out);
        if ((e = cf_as_syslog_frame(&s->out, &o, items[i].line, items[i].len, items[i].rec,
                                    items[i].node, items[i].seq)))
            return e;
        if (s->dgram) {
            if (send(s->fd, s->out.data, s->out.len, MSG_NOSIGNAL) != (ssize_t)s->out.len)
                e = CF_EIO;
        } else {
            e = send_all(s->fd, s->out.data, s->out.len);
        }
        if (e) {
            close_fd(s);
            return e;
        }
        (*sent)++;
    }
    return CF_OK;
}

/* The bearer token from its file (first line, trimmed) into out; "" when none. */
static cf_err read_bearer(const char *path, char *out, size_t n)
{
    FILE *f;
    size_t len;
    out[0] = '\0';
    if (!path[0])
        return CF_OK;
    if (!(f = fopen(path, "re")))
        return CF_EIO;
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    fclose(f);
    len = strlen(out);
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
        out[--len] = '\0';
    return CF_OK;
}

static cf_err https_send(struct cf_as_shipper *s, const struct cf_as_item *items, size_t n,
                         size_t *sent)
{
    char token[4096], auth[4200];
    const char *hdrs[2] = {NULL, NULL};
    struct cf_http_fetch_resp resp;
    cf_err e;

    size_t k = 0;

    *sent = 0;
    cf_buf_reset(&s->out);
    e = cf_buf_putc(&s->out, '[');
    /* at most HTTPS_BODY_MAX per POST (always one record): the rest goes in the next one */
    for (; k < n && !e; k++) {
        if (k && s->out.len + items[k].len + 2 > HTTPS_BODY_MAX)
            break;
        if (k)
            e = cf_buf_putc(&s->out, ',');
        if (!e)
            e = cf_buf_append(&s->out, items[k].line, items[k].len);
    }
    if (!e)
        e = cf_buf_putc(&s->out, ']');
    if (e)
        return e;
    n = k;
    if ((e = read_bearer(s->c.bearer_file, token, sizeof(token)))) {
        cf_warn("auditstream %s: cannot read the bearer file %s", s->c.name, s->c.bearer_file);
        return e;
    }
    if (token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs[0] = auth;
    }
    e = cf_http_fetch_ex("POST", s->c.target, "application/json", hdrs, s->out.data, s->out.len,
                         s->c.ca_file[0] ? s->c.ca_file : NULL, HTTPS_TIMEOUT_S, &resp);
    cf_wipe(token, sizeof(token));
    cf_wipe(auth, sizeof(auth));
    if (!e && (resp.status < 200 || resp.status > 299)) {
        cf_warn("auditstream %s: the receiver answered %d", s->c.name, resp.status);
        e = CF_EIO;
    }
    cf_http_fetch_resp_release(&resp);
    if (!e)
        *sent = n;
    return e;
}

static cf_err deliver(struct cf_as_shipper *s, const struct cf_as_item *items, size_t n,
                      size_t *sent)
{
    *sent = 0;
    if (s->d.send)
        return s->d.send(s->d.send_ctx, items, n, sent);
    return s->c.type == CF_AS_SYSLOG ? syslog_send(s, items, n, sent)
                                     : https_send(s, items, n, sent);
}

struct cf_as_shipper *cf_as_shipper_new(const struct cf_as_stream_cfg *c,
                                        const struct cf_as_shipper_deps *d, cf_err *err)
{
    struct cf_as_shipper *s = NULL;
    cf_err e = CF_EINVAL;

    if (!c || !d || !d->audit_dir || !name_ok(c->name) || c->batch < 1)
        goto out;
    e = CF_ENOMEM;
    if (!(s = calloc(1, sizeof(*s))))
        goto out;
    s->c = *c;
    s->d = *d;
    s->fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    cf_buf_init(&s->out, HTTPS_BODY_MAX + CF_AUDIT_MAX_LINE + 4096);
    snprintf(s->dir, sizeof(s->dir), "%s", d->audit_dir);
    e = CF_EINVAL;
    if (snprintf(s->pin, sizeof(s->pin), "%s/.stream.%s", d->audit_dir, c->name) >=
        (int)sizeof(s->pin))
        goto free_s;
    snprintf(s->pos_path, sizeof(s->pos_path), "%s/position", s->pin);
    snprintf(s->gaps_path, sizeof(s->gaps_path), "%s/gaps.jsonl", s->pin);
    if (c->hostname[0])
        snprintf(s->host, sizeof(s->host), "%s", c->hostname);
    else if (gethostname(s->host, sizeof(s->host) - 1) != 0)
        snprintf(s->host, sizeof(s->host), "-");
    e = CF_EIO;
    if (mkdir(s->pin, 0700) != 0 && errno != EEXIST) {
        cf_error("auditstream %s: cannot create %s", c->name, s->pin);
        goto free_s;
    }
    e = cf_as_pos_load(s->pos_path, &s->pos);
    if (e == CF_ECORRUPT)
        cf_error("auditstream %s: %s is malformed; move it aside to start the stream anew", c->name,
                 s->pos_path);
    if (e && e != CF_ENOTFOUND)
        goto free_s;
    e = CF_OK;
    goto out;
free_s:
    cf_as_shipper_free(s);
    s = NULL;
out:
    if (err)
        *err = e;
    return s;
}

void cf_as_shipper_free(struct cf_as_shipper *s)
{
    if (!s)
        return;
    close_fd(s);
    for (size_t i = 0; i < s->ngaps; i++)
        item_free(&s->gaps[i]);
    free(s->gaps);
    free(s->rules.v);
    cf_buf_release(&s->out);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- the service ---- */

struct runner {
    struct cf_auditstream *svc;
    struct cf_as_shipper *sh;
    pthread_t thr;
    bool started;
};

struct cf_auditstream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    struct runner run[CF_AS_MAX_STREAMS];
    size_t n;
    struct cf_audit *const *audit;
    size_t lanes;
    unsigned rotate_s;
    pthread_t rot;
    bool rot_started;
};

/* Sleeps up to ms unless stopped; true when stopping. */
static bool nap(struct cf_auditstream *a, int64_t ms)
{
    struct timespec ts;
    bool stop;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    if (!a->stop)
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    stop = a->stop;
    pthread_mutex_unlock(&a->mu);
    return stop;
}

static void *runner_main(void *arg)
{
    struct runner *r = arg;
    int64_t backoff = 0, max = (int64_t)r->sh->c.retry_max_s * 1000, logged = 0;

    for (;;) {
        bool progress = false;
        cf_err e = cf_as_shipper_pump(r->sh, &progress);
        int64_t wait = 250;
        if (e) {
            backoff = backoff ? CF_MIN(backoff * 2, max) : CF_MIN((int64_t)1000, max);
            /* the first failure of an outage, then once a minute */
            if (!logged || cf_mono_ms() - logged >= 60000) {
                cf_warn("auditstream %s: delivery failed (%s); retrying with backoff up to "
                        "%d s, records queue in the audit files",
                        r->sh->c.name, cf_err_name(e), r->sh->c.retry_max_s);
                logged = cf_mono_ms();
            }
            wait = backoff;
        } else {
            if (logged)
                cf_info("auditstream %s: delivering again", r->sh->c.name);
            backoff = 0;
            logged = 0;
            if (progress)
                wait = 0;
        }
        if (nap(r->svc, wait))
            break;
    }
    return NULL;
}

/* Rotates every lane whose active file is older than rotate_s and holds a record past its
 * header. The file's start time is in its name (YYYYMMDDTHHMMSSZ). */
static void rotate_due(struct cf_auditstream *a)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (size_t i = 0; i < a->lanes; i++) {
        char name[CF_AUDIT_FILE_NAME_MAX];
        struct cf_audit_file_ref r;
        struct cf_audit_stats st;
        struct tm tm;
        const char *ts;
        time_t t0;
        if (!a->audit[i])
            continue;
        cf_audit_active_file(a->audit[i], name, sizeof(name));
        if (!cf_audit_tail_parse_name(name, &r))
            continue;
        ts = name + strlen(name) - 22; /* YYYYMMDDTHHMMSSZ.jsonl */
        memset(&tm, 0, sizeof(tm));
        if (sscanf(ts, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec) != 6)
            continue;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t0 = timegm(&tm);
        if (now.tv_sec - t0 < (time_t)a->rotate_s)
            continue;
        cf_audit_get_stats(a->audit[i], &st);
        if (st.seq <= r.first_seq)
            continue; /* only the header: an idle lane keeps its file */
        if (cf_audit_rotate(a->audit[i]) != CF_OK)
            cf_warn("audit: time rotation of %s failed; retried", name);
    }
}

static void *rot_main(void *arg)
{
    struct cf_auditstream *a = arg;
    int64_t step = a->rotate_s < 10 ? 250 : 1000;
    while (!nap(a, step))
        rotate_due(a);
    return NULL;
}

static double sum_stat(struct cf_auditstream *a, size_t off)
{
    double v = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct cf_as_stats st;
        cf_as_shipper_stats(a->run[i].sh, &st);
        v += (double)*(const uint64_t *)(const void *)((const char *)&st + off);
    }
    return v;
}

static double m_records(void *arg)
{
    return sum_stat(arg, offsetof(struct cf_as_stats, records));
}

static double m_gaps(void *arg)
{
    return sum_stat(arg, offsetof(struct cf_as_stats, gap_records));
}

static double m_failures(void *arg)
{
    return sum_stat(arg, offsetof(struct cf_as_stats, failures));
}

struct cf_auditstream *cf_auditstream_start(const struct cf_auditstream_deps *d, cf_err *err)
{
    struct cf_as_stream_cfg cfgs[CF_AS_MAX_STREAMS];
    struct cf_auditstream *a;
    size_t n = 0;
    cf_err e;

    if ((e = cf_auditstream_config(d->config_file, cfgs, CF_AS_MAX_STREAMS, &n)))
        goto fail;
    e = CF_ENOMEM;
    if (!(a = calloc(1, sizeof(*a))))
        goto fail;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->audit = d->audit;
    a->lanes = d->audit_lanes;
    a->rotate_s = d->rotate_s;
    if (d->audit_lanes == 0) {
        if (n)
            cf_warn("auditstream: audit log off: the %zu [stream.*] section(s) ship nothing", n);
        goto ok;
    }
    for (size_t i = 0; i < n; i++) {
        struct cf_as_shipper_deps sd = {.audit_dir = d->audit_dir,
                                        .audit = d->audit,
                                        .audit_lanes = d->audit_lanes,
                                        .store = d->store};
        a->run[i].svc = a;
        if (!(a->run[i].sh = cf_as_shipper_new(&cfgs[i], &sd, &e)))
            goto stop;
        a->n++;
        if (pthread_create(&a->run[i].thr, NULL, runner_main, &a->run[i]) != 0) {
            e = CF_ENOMEM;
            goto stop;
        }
        a->run[i].started = true;
        cf_info("auditstream %s: %s to %s (%s)", cfgs[i].name,
                cfgs[i].type == CF_AS_SYSLOG ? "syslog" : "https", cfgs[i].target,
                cfgs[i].scope_all ? "every record" : "per diagnostic settings");
    }
    if (d->metrics && a->n &&
        (cf_metrics_add_gauge(d->metrics, "coffer_auditstream_records_total",
                              "Audit records delivered to the configured streams.",
                              CF_METRICS_COUNTER, m_records, a) ||
         cf_metrics_add_gauge(d->metrics, "coffer_auditstream_gap_records_total",
                              "Audit records the streams gave up (gap events).", CF_METRICS_COUNTER,
                              m_gaps, a) ||
         cf_metrics_add_gauge(d->metrics, "coffer_auditstream_failures_total",
                              "Failed deliveries to the audit streams (retried).",
                              CF_METRICS_COUNTER, m_failures, a)))
        cf_warn("auditstream: cannot add the stream counters to /metrics");
    if (d->rotate_s) {
        if (pthread_create(&a->rot, NULL, rot_main, a) != 0) {
            e = CF_ENOMEM;
            goto stop;
        }
        a->rot_started = true;
    }
ok:
    if (err)
        *err = CF_OK;
    return a;
stop:
    cf_auditstream_stop(a);
fail:
    if (err)
        *err = e;
    return NULL;
}

void cf_auditstream_stop(struct cf_auditstream *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->rot_started)
        pthread_join(a->rot, NULL);
    for (size_t i = 0; i < a->n; i++) {
        if (a->run[i].started)
            pthread_join(a->run[i].thr, NULL);
        cf_as_shipper_free(a->run[i].sh);
    }
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

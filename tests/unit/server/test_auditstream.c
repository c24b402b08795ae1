/* test_auditstream.c - the audit shipper (server/auditstream.h) against real audit logs in a
 * temporary directory and a fake sink: RFC 5424 framing byte for byte, the position file,
 * in-order delivery without loss or duplicates across failures and restarts, pins that keep
 * rotated-away files while the destination is down, explicit gaps (a file removed before it
 * was pinned, the queue bound), lanes merged by time, and the [stream.NAME] config. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "audit/audit.h"
#include "server/auditstream.h"
#include "store/store.h"
#include "store/store_diag.h"

#include <dirent.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char key[CF_AUDIT_KEY_LEN] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                                    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

/* ---- framing ---- */

static cf_err frame(struct cf_buf *out, const char *line, const struct cf_as_syslog_opts *o,
                    const char *node, int64_t seq)
{
    struct cf_json *rec = NULL;
    cf_err e;
    if (cf_json_parse(line, strlen(line), &rec, NULL, 0) != CF_OK)
        return CF_EINVAL;
    e = cf_as_syslog_frame(out, o, line, strlen(line), rec, node, seq);
    cf_json_free(rec);
    return e;
}

static void syslog_frame_exact(void **state)
{
    const char *line = "{\"time\":\"2025-03-02T10:15:42.1234567Z\",\"operationName\":\"SecretGet\","
                       "\"category\":\"AuditEvent\",\"resultType\":\"Success\"}";
    struct cf_as_syslog_opts o = {.facility = 13, .hostname = "kv1.example", .procid = 4242};
    struct cf_buf b;
    (void)state;
    cf_buf_init(&b, 1 << 20);
    assert_int_equal(frame(&b, line, &o, "node_1.w1", 17), CF_OK);
    const char *want = "<110>1 2025-03-02T10:15:42.123456Z kv1.example cofferd 4242 SecretGet "
                       "[coffer@32473 category=\"AuditEvent\" operation=\"SecretGet\" "
                       "resultType=\"Success\" node=\"node_1.w1\" seq=\"17\"] \xEF\xBB\xBF";
    assert_int_equal(b.len, strlen(want) + strlen(line));
    assert_memory_equal(b.data, want, strlen(want));
    assert_memory_equal(b.data + strlen(want), line, strlen(line));

    /* octet counting: "LEN SP" + the same message */
    {
        struct cf_buf c;
        char pre[16];
        cf_buf_init(&c, 1 << 20);
        o.octet_count = true;
        assert_int_equal(frame(&c, line, &o, "node_1.w1", 17), CF_OK);
        snprintf(pre, sizeof(pre), "%zu ", b.len);
        assert_int_equal(c.len, strlen(pre) + b.len);
        assert_memory_equal(c.data, pre, strlen(pre));
        assert_memory_equal(c.data + strlen(pre), b.data, b.len);
        cf_buf_release(&c);
    }
    cf_buf_release(&b);
}

static void syslog_frame_edges(void **state)
{
    /* a failure is notice (5): 13*8+5 = 109; no time -> "-"; no host or pid -> "-"; a long
     * operation is cut to 32 characters; '"', '\' and ']' escaped in parameter values; a
     * space in the host name is not PRINTUSASCII */
    const char *line = "{\"operationName\":\"A]\\\"b\\\\cdefghijklmnopqrstuvwxyz0123456789\","
                       "\"category\":\"Audit]Event\",\"resultType\":\"Failure\"}";
    struct cf_as_syslog_opts o = {.facility = 13};
    struct cf_buf b;
    (void)state;
    cf_buf_init(&b, 1 << 20);
    assert_int_equal(frame(&b, line, &o, "n", 1), CF_OK);
    const char *want = "<109>1 - - cofferd - A]\"b\\cdefghijklmnopqrstuvwxyz012 [coffer@32473 "
                       "category=\"Audit\\]Event\" operation=\"A\\]\\\"b\\\\cdefghijklmnopqrstu"
                       "vwxyz0123456789\" resultType=\"Failure\" node=\"n\" seq=\"1\"] ";
    assert_true(b.len > strlen(want));
    assert_memory_equal(b.data, want, strlen(want));

    cf_buf_reset(&b);
    o.hostname = "my host";
    o.facility = 16;
    line = "{\"time\":\"2025-03-02T10:15:42Z\",\"operationName\":\"VaultGet\"}";
    assert_int_equal(frame(&b, line, &o, "n", 2), CF_OK);
    want = "<134>1 2025-03-02T10:15:42Z my_host cofferd - VaultGet [coffer@32473 category=\"\" "
           "operation=\"VaultGet\" resultType=\"\" node=\"n\" seq=\"2\"] ";
    assert_memory_equal(b.data, want, strlen(want));

    cf_buf_reset(&b); /* a malformed time is "-" */
    line = "{\"time\":\"yesterday\",\"operationName\":\"VaultGet\"}";
    assert_int_equal(frame(&b, line, &o, "n", 2), CF_OK);
    assert_memory_equal(b.data, "<134>1 - my_host", 16);
    cf_buf_release(&b);
}

/* ---- fixtures: a temp audit dir, a log, a fake sink ---- */

struct sink {
    char *lines[20000];
    char nodes[20000][16];
    int64_t seqs[20000];
    size_t n;
    size_t fail_after; /* accept this many more, then fail (SIZE_MAX: never) */
    bool down;
};

static cf_err sink_send(void *ctx, const struct cf_as_item *items, size_t n, size_t *sent)
{
    struct sink *k = ctx;
    *sent = 0;
    if (k->down)
        return CF_EIO;
    for (size_t i = 0; i < n; i++) {
        if (k->fail_after == 0)
            return CF_EIO;
        if (k->fail_after != SIZE_MAX)
            k->fail_after--;
        k->lines[k->n] = strndup(items[i].line, items[i].len);
        snprintf(k->nodes[k->n], sizeof(k->nodes[0]), "%s", items[i].node);
        k->seqs[k->n] = items[i].seq;
        k->n++;
        (*sent)++;
    }
    return CF_OK;
}

struct fx {
    char dir[64];
    struct sink *sink;
};

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];
    struct stat st;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf_as_test_XXXXXX");
    if (!mkdtemp(f->dir))
        abort();
    f->sink = calloc(1, sizeof(*f->sink));
    f->sink->fail_after = SIZE_MAX;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rm_rf(f->dir);
    for (size_t i = 0; i < f->sink->n; i++)
        free(f->sink->lines[i]);
    free(f->sink);
    free(f);
    return 0;
}

static struct cf_audit *open_log(struct fx *f, const char *node, uint64_t rotate, unsigned keep)
{
    struct cf_audit_config c = {0};
    cf_err e;
    c.dir = f->dir;
    c.mac_key = key;
    c.node_id = node;
    c.rotate_bytes = rotate;
    c.keep_files = keep;
    struct cf_audit *a = cf_audit_open(&c, &e);
    assert_int_equal(e, CF_OK);
    return a;
}

static void append_r(struct cf_audit *a, int i, int64_t t_ms, bool durable, const char *rid)
{
    struct cf_audit_event ev;
    struct cf_buf b;
    char uri[96];
    memset(&ev, 0, sizeof(ev));
    ev.time_ms = t_ms;
    ev.resource_id = rid;
    ev.operation_name = "SecretGet";
    ev.http_status = 200;
    snprintf(uri, sizeof(uri), "https://kv1.vault.localhost/secrets/s%d", i);
    ev.request_uri = uri;
    cf_buf_init(&b, CF_AUDIT_MAX_LINE);
    assert_int_equal(cf_audit_format(&ev, &b), CF_OK);
    assert_int_equal(cf_audit_append(a, cf_buf_str(&b), durable), CF_OK);
    cf_buf_release(&b);
}

#define KV1 "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
#define KV2 "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv2"

static void append_d(struct cf_audit *a, int i, int64_t t_ms, bool durable)
{
    append_r(a, i, t_ms, durable, KV1);
}

static void append(struct cf_audit *a, int i, int64_t t_ms)
{
    append_d(a, i, t_ms, true);
}

static struct cf_as_shipper *shipper_s(struct fx *f, int batch, int queue_mb,
                                       struct cf_store *store)
{
    struct cf_as_stream_cfg c;
    cf_err e;
    memset(&c, 0, sizeof(c));
    snprintf(c.name, sizeof(c.name), "t1");
    c.type = CF_AS_SYSLOG;
    snprintf(c.target, sizeof(c.target), "unix:/nonexistent");
    c.categories = CF_AS_CAT_AUDIT;
    c.scope_all = store == NULL;
    c.batch = batch;
    c.retry_max_s = 1;
    c.queue_max_mb = queue_mb;
    struct cf_as_shipper *s = cf_as_shipper_new(
        &c,
        &(struct cf_as_shipper_deps){
            .audit_dir = f->dir, .store = store, .send = sink_send, .send_ctx = f->sink},
        &e);
    assert_int_equal(e, CF_OK);
    return s;
}

static struct cf_as_shipper *shipper(struct fx *f, int batch, int queue_mb)
{
    return shipper_s(f, batch, queue_mb, NULL);
}

/* Pumps until nothing moves (or an error); returns the last error. */
static cf_err drain(struct cf_as_shipper *s)
{
    bool progress = true;
    cf_err e = CF_OK;
    for (int i = 0; i < 1000 && progress && !e; i++)
        e = cf_as_shipper_pump(s, &progress);
    return e;
}

/* The i in ".../secrets/s<i>" of delivered AuditEvent line k, or -1 for other records. */
static int rec_index(const struct sink *k, size_t i)
{
    const char *p = strstr(k->lines[i], "/secrets/s");
    return p && strstr(k->lines[i], "\"AuditEvent\"") ? (int)strtol(p + 10, NULL, 10) : -1;
}

/* Every AuditEvent record 0..n-1 delivered exactly once and in order. */
static void assert_all_once(const struct sink *k, int n)
{
    int next = 0;
    for (size_t i = 0; i < k->n; i++) {
        int r = rec_index(k, i);
        if (getenv("AS_DEBUG"))
            fprintf(stderr, "%zu: %s %lld %d\n", i, k->nodes[i], (long long)k->seqs[i], r);
        if (r < 0)
            continue;
        assert_int_equal(r, next);
        next++;
    }
    assert_int_equal(next, n);
}

/* ---- position file ---- */

static void position_roundtrip(void **state)
{
    struct fx *f = *state;
    struct cf_as_pos p, q;
    char path[128];
    memset(&p, 0, sizeof(p));
    p.n = 2;
    snprintf(p.lane[0].node, sizeof(p.lane[0].node), "n1");
    snprintf(p.lane[0].file, sizeof(p.lane[0].file),
             "audit-n1-00000000000000000001-20250302T101542Z.jsonl");
    p.lane[0].off = 12345;
    p.lane[0].seq = 99;
    snprintf(p.lane[1].node, sizeof(p.lane[1].node), "n1.w1");
    snprintf(path, sizeof(path), "%s/pos", f->dir);
    assert_int_equal(cf_as_pos_load(path, &q), CF_ENOTFOUND);
    assert_int_equal(cf_as_pos_save(path, &p), CF_OK);
    assert_int_equal(cf_as_pos_load(path, &q), CF_OK);
    assert_int_equal(q.n, 2);
    assert_string_equal(q.lane[0].file, p.lane[0].file);
    assert_int_equal(q.lane[0].off, 12345);
    assert_int_equal(q.lane[0].seq, 99);
    assert_string_equal(q.lane[1].node, "n1.w1");
    assert_string_equal(q.lane[1].file, "");
    {
        FILE *w = fopen(path, "w");
        fputs("coffer-auditstream-position 1\nn1 file notanumber 3\n", w);
        fclose(w);
    }
    assert_int_equal(cf_as_pos_load(path, &q), CF_ECORRUPT);
    {
        FILE *w = fopen(path, "w");
        fputs("something else\n", w);
        fclose(w);
    }
    assert_int_equal(cf_as_pos_load(path, &q), CF_ECORRUPT);
}

/* ---- delivery ---- */

static void in_order_resume_no_duplicates(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, "n1", 0, 0);
    struct cf_as_shipper *s;
    struct cf_as_stats st;

    for (int i = 0; i < 10; i++)
        append(a, i, 1740910542000 + i);
    s = shipper(f, 4, 1024);
    assert_int_equal(drain(s), CF_OK);
    assert_all_once(f->sink, 10);
    assert_int_equal(f->sink->seqs[0], 2); /* seq 1 is the header */
    cf_as_shipper_stats(s, &st);
    assert_int_equal(st.records, 10);
    assert_int_equal(st.gap_records, 0);
    cf_as_shipper_free(s);

    /* restart: the saved position resumes after the last delivered record */
    for (int i = 10; i < 15; i++)
        append(a, i, 1740910542000 + i);
    s = shipper(f, 4, 1024);
    assert_int_equal(drain(s), CF_OK);
    assert_all_once(f->sink, 15);

    /* a destination that takes 2 of a batch then fails: the rest follows on the retry */
    for (int i = 15; i < 25; i++)
        append(a, i, 1740910542000 + i);
    f->sink->fail_after = 2;
    assert_int_not_equal(drain(s), CF_OK);
    f->sink->down = true;
    assert_int_not_equal(drain(s), CF_OK);
    f->sink->down = false;
    f->sink->fail_after = SIZE_MAX;
    assert_int_equal(drain(s), CF_OK);
    assert_all_once(f->sink, 25);
    cf_as_shipper_stats(s, &st);
    assert_true(st.failures >= 2);
    cf_as_shipper_free(s);
    cf_audit_close(a);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    while (d && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "audit-", 6) == 0;
    if (d)
        closedir(d);
    return n;
}

static void pins_hold_rotated_files_while_down(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, "n1", 4096, 1); /* retention keeps one file */
    struct cf_as_shipper *s = shipper(f, 50, 1024);
    char pin[128];
    struct cf_as_stats st;

    append(a, 0, 1740910542000);
    f->sink->down = true;
    assert_int_not_equal(drain(s), CF_OK); /* pins the first file */
    for (int i = 1; i < 60; i++) {
        append(a, i, 1740910542000 + i);
        if (i % 3 == 0) /* a file holds ~9 records: every file gets pinned */
            assert_int_not_equal(drain(s), CF_OK); /* down: pins, delivers nothing */
    }
    assert_int_equal(count_files(f->dir), 1);
    snprintf(pin, sizeof(pin), "%s/.stream.t1", f->dir);
    assert_true(count_files(pin) > 1);
    f->sink->down = false;
    assert_int_equal(drain(s), CF_OK);
    assert_all_once(f->sink, 60);
    cf_as_shipper_stats(s, &st);
    assert_int_equal(st.gap_records, 0);
    /* shipped files are unpinned: only the current one stays */
    assert_true(count_files(pin) <= 1);
    cf_as_shipper_free(s);
    cf_audit_close(a);
}

static void gap_when_removed_before_pinned(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, "n1", 1 << 20, 1);
    struct cf_as_shipper *s = shipper(f, 100, 1024);
    struct cf_as_stats st;
    char path[128];
    struct stat sb;
    bool gap = false;

    append(a, 0, 1740910542000);
    assert_int_equal(drain(s), CF_OK);
    /* the shipper is not running while three rotations happen with keep_files 1 */
    append(a, 1, 1740910542001);
    assert_int_equal(cf_audit_rotate(a), CF_OK);
    append(a, 2, 1740910542002);
    assert_int_equal(cf_audit_rotate(a), CF_OK);
    append(a, 3, 1740910542003);
    assert_int_equal(drain(s), CF_OK);
    cf_as_shipper_stats(s, &st);
    assert_int_equal(st.gaps, 1);
    assert_true(st.gap_records >= 2); /* at least records 1 and 2 */
    for (size_t i = 0; i < f->sink->n; i++)
        gap = gap || strstr(f->sink->lines[i], "\"kind\":\"gap\"") != NULL;
    assert_true(gap);
    assert_int_equal(rec_index(f->sink, 0), 0);
    assert_int_equal(rec_index(f->sink, f->sink->n - 1), 3);
    snprintf(path, sizeof(path), "%s/.stream.t1/gaps.jsonl", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 0);
    cf_as_shipper_free(s);
    cf_audit_close(a);
}

static void gap_at_queue_bound(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, "n1", 256 * 1024, 1);
    struct cf_as_shipper *s = shipper(f, 500, 1); /* 1 MiB of pins at most */
    struct cf_as_stats st;
    int n = 0;

    append(a, n++, 1740910542000);
    f->sink->down = true;
    (void)drain(s);
    while (n < 9000) { /* ~3 MiB */
        append_d(a, n, 1740910542000 + n, false);
        n++;
        if (n % 500 == 0)
            (void)drain(s);
    }
    (void)drain(s);
    f->sink->down = false;
    assert_int_equal(drain(s), CF_OK);
    cf_as_shipper_stats(s, &st);
    assert_true(st.gaps >= 1);
    assert_true(st.gap_records > 0);
    /* delivered + given up = everything, and what was delivered is in order */
    {
        int prev = -1;
        uint64_t got = 0;
        for (size_t i = 0; i < f->sink->n; i++) {
            int r = rec_index(f->sink, i);
            if (r < 0)
                continue;
            assert_true(r > prev);
            prev = r;
            got++;
        }
        assert_int_equal(prev, n - 1);
        assert_true(got < (uint64_t)n);
    }
    cf_as_shipper_free(s);
    cf_audit_close(a);
}

static void lanes_merged_by_time(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, "n1", 0, 0), *b = open_log(f, "n1.w1", 0, 0);
    struct cf_as_shipper *s = shipper(f, 100, 1024);

    for (int i = 0; i < 20; i++)
        append(i % 2 ? b : a, i, 1740910542000 + i * 10);
    assert_int_equal(drain(s), CF_OK);
    assert_all_once(f->sink, 20);
    cf_as_shipper_free(s);
    cf_audit_close(a);
    cf_audit_close(b);
}

struct setting {
    const char *scope, *stream;
    unsigned cats;
};

static cf_err put_setting(struct cf_store_txn *t, void *arg)
{
    const struct setting *s = arg;
    struct cf_rec_diag d;
    memset(&d, 0, sizeof(d));
    snprintf(d.scope, sizeof(d.scope), "%s", s->scope);
    snprintf(d.name, sizeof(d.name), "d");
    snprintf(d.stream, sizeof(d.stream), "%s", s->stream);
    d.cats = s->cats;
    return cf_store_diag_put(t, &d, NULL);
}

static void setting(struct cf_store *st, const char *scope, const char *stream, unsigned cats)
{
    struct setting s = {scope, stream, cats};
    assert_int_equal(cf_store_write(st, put_setting, &s), CF_OK);
}

/* The indexes of the delivered AuditEvent records, "0,3,5". */
static void delivered(const struct sink *k, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < k->n; i++) {
        int r = rec_index(k, i);
        if (r >= 0)
            snprintf(out + strlen(out), n - strlen(out), "%s%d", out[0] ? "," : "", r);
    }
}

static void settings_select_records(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, "n1", 0, 0);
    struct cf_store_opts so;
    struct cf_store *st;
    struct cf_as_shipper *s;
    char db[128], got[128];
    cf_err e;

    snprintf(db, sizeof(db), "%s/db.sqlite", f->dir);
    so = (struct cf_store_opts){db, 2, 0};
    st = cf_store_open_sqlite(&so, &e);
    assert_int_equal(e, CF_OK);
    /* kv1 -> this stream; kv2 -> another stream; nothing server-wide yet */
    setting(st, "/subscriptions/s1/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1", "t1",
            CF_AS_CAT_AUDIT);
    setting(st, "/subscriptions/s1/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv2",
            "other", CF_AS_CAT_AUDIT);
    append_r(a, 0, 1740910542000, true, KV1);
    append_r(a, 1, 1740910542001, true, KV2);
    append_r(a, 2, 1740910542002, true, "/TENANTS/t1");
    s = shipper_s(f, 50, 1024, st);
    assert_int_equal(drain(s), CF_OK);
    cf_as_shipper_free(s);
    delivered(f->sink, got, sizeof(got));
    assert_string_equal(got, "0");

    /* a server-wide setting (the subscription) takes the records about no vault */
    setting(st, "/subscriptions/s1", "t1", CF_AS_CAT_AUDIT);
    append_r(a, 3, 1740910542003, true, KV1);
    append_r(a, 4, 1740910542004, true, KV2);
    append_r(a, 5, 1740910542005, true, "/TENANTS/t1");
    s = shipper_s(f, 50, 1024, st);
    assert_int_equal(drain(s), CF_OK);
    cf_as_shipper_free(s);
    delivered(f->sink, got, sizeof(got));
    assert_string_equal(got, "0,3,5");

    /* AuditEvent disabled for kv1: its records stop (skipped, not queued) */
    setting(st, "/subscriptions/s1/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1", "t1",
            0);
    append_r(a, 6, 1740910542006, true, KV1);
    append_r(a, 7, 1740910542007, true, "/TENANTS/t1");
    s = shipper_s(f, 50, 1024, st);
    assert_int_equal(drain(s), CF_OK);
    cf_as_shipper_free(s);
    delivered(f->sink, got, sizeof(got));
    assert_string_equal(got, "0,3,5,7");
    cf_store_close(st);
    cf_audit_close(a);
}

static void stream_config(void **state)
{
    struct fx *f = *state;
    struct cf_as_stream_cfg c[4];
    char path[128];
    size_t n;
    FILE *w;
    (void)state;
    snprintf(path, sizeof(path), "%s/cfg.ini", f->dir);
    w = fopen(path, "w");
    fputs("[server]\nport = 1\n[stream.siem]\ntype = syslog\ntarget = tcp:127.0.0.1:514\n"
          "categories = AuditEvent, CofferAudit\nfacility = 16\n"
          "[stream.hook]\ntype = https\ntarget = https://127.0.0.1:9/x\nscope = all\n"
          "batch = 10\nretry_max_s = 2\n",
          w);
    fclose(w);
    assert_int_equal(cf_auditstream_config(path, c, 4, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].name, "siem");
    assert_int_equal(c[0].type, CF_AS_SYSLOG);
    assert_int_equal(c[0].categories, CF_AS_CAT_AUDIT | CF_AS_CAT_COFFER);
    assert_int_equal(c[0].facility, 16);
    assert_false(c[0].scope_all);
    assert_int_equal(c[1].type, CF_AS_HTTPS);
    assert_true(c[1].scope_all);
    assert_int_equal(c[1].batch, 10);
    assert_int_equal(c[1].queue_max_mb, 1024);

    const char *bad[] = {"[stream.x]\ntype = kafka\ntarget = y\n",
                         "[stream.x]\ntype = syslog\n",
                         "[stream.x]\ntype = https\ntarget = http://plain/\n",
                         "[stream.x]\ntype = syslog\ntarget = /dev/log\ncategories = Nope\n",
                         "[stream.x]\ntype = syslog\ntarget = /dev/log\nbatch = 0\n",
                         "[stream.bad/name]\ntype = syslog\ntarget = /dev/log\n",
                         "[stream.x]\ntype = syslog\ntarget = /dev/log\nunknown = 1\n"};
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        w = fopen(path, "w");
        fputs(bad[i], w);
        fclose(w);
        assert_int_equal(cf_auditstream_config(path, c, 4, &n), CF_EINVAL);
    }
    assert_int_equal(cf_auditstream_config(NULL, c, 4, &n), CF_OK);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syslog_frame_exact),
        cmocka_unit_test(syslog_frame_edges),
        cmocka_unit_test_setup_teardown(position_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(in_order_resume_no_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(pins_hold_rotated_files_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(gap_when_removed_before_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(gap_at_queue_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(lanes_merged_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(settings_select_records, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

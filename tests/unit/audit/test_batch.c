/* test_batch.c - cf_audit_append_batch (issue 11: one write for one loop pass's records) and
 * the line validator: a batch chains like single appends (verify intact, checkpoints signed,
 * records in order, one write per batch); bad input writes nothing; a failed write (torn, then
 * ENOSPC) leaves none of the batch in the chain and the log resumes; batches from several
 * threads interleave whole; lines shaped like the log's own header or checkpoint are refused. */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"
#include "audit/audit.h"
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <cmocka.h>

struct hook {
    int full;       /* atomic: fail writes (first a torn one, then ENOSPC) */
    bool short_done;
    int writes;     /* atomic: pwrite calls */
};

static ssize_t h_pwrite(void *ctx, int fd, const void *p, size_t n, off_t off)
{
    struct hook *h = ctx;
    __atomic_add_fetch(&h->writes, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&h->full, __ATOMIC_RELAXED)) {
        if (!h->short_done && n > 100) {
            h->short_done = true;
            return pwrite(fd, p, n / 2, off); /* half the batch on disk */
        }
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, p, n, off);
}

static int h_fsync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd);
}

struct fx {
    char dir[64];
    struct hook h;
    struct cf_audit_io io;
    struct cf_pkey *sk, *pub;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    test_mkdtemp(f->dir);
    f->io = (struct cf_audit_io){h_pwrite, h_fsync, &f->h};
    assert_int_equal(cf_pkey_generate_ec_p256(&f->sk), CF_OK);
    f->pub = test_pubkey(f->sk);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    test_rmdir(f->dir);
    cf_pkey_free(f->sk);
    cf_pkey_free(f->pub);
    free(f);
    return 0;
}

static struct cf_audit *open_log(struct fx *f, unsigned ckpt_every)
{
    struct cf_audit_config c = {0};
    struct cf_audit *a;
    cf_err e;
    c.dir = f->dir;
    c.mac_key = test_key;
    c.node_id = "n1";
    c.io = &f->io;
    c.sign_key = f->sk;
    c.checkpoint_every = ckpt_every;
    a = cf_audit_open(&c, &e);
    assert_int_equal(e, CF_OK);
    return a;
}

/* n formatted events from event number from: lines[i] points into bufs[i]. */
static void make_lines(struct cf_buf *bufs, struct cf_str *lines, int from, size_t n)
{
    struct cf_audit_event ev;
    for (size_t i = 0; i < n; i++) {
        cf_buf_init(&bufs[i], CF_AUDIT_MAX_LINE);
        test_event(&ev, from + (int)i);
        assert_int_equal(cf_audit_format(&ev, &bufs[i]), CF_OK);
        lines[i] = cf_buf_str(&bufs[i]);
    }
}

static void free_lines(struct cf_buf *bufs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_buf_release(&bufs[i]);
}

static void expect_intact(struct fx *f, int64_t last_seq)
{
    struct cf_audit_verify_report r;
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, f->pub, NULL, NULL, &r), CF_OK);
    if (r.brk != CF_AUDIT_INTACT)
        fail_msg("break %s at line %llu: %s", cf_audit_break_name(r.brk),
                 (unsigned long long)r.line, r.detail);
    assert_int_equal(r.last_seq, last_seq);
}

struct seen {
    int n;
    char uris[256][96];
};

static bool on_rec(void *ctx, const char *line, size_t len, const struct cf_json *rec)
{
    struct seen *s = ctx;
    size_t ul;
    const char *u = cf_json_str(cf_json_get(cf_json_get(rec, "properties"), "requestUri"), &ul);
    (void)line;
    (void)len;
    if (s->n < 256 && u)
        snprintf(s->uris[s->n], sizeof(s->uris[0]), "%.*s", (int)ul, u);
    s->n++;
    return true;
}

static void test_batch_chains(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 5);
    struct cf_buf bufs[CF_AUDIT_MAX_BATCH];
    struct cf_str lines[CF_AUDIT_MAX_BATCH];
    struct cf_audit_stats st;
    struct seen *s = calloc(1, sizeof(*s));
    int writes;

    make_lines(bufs, lines, 0, 7);
    writes = f->h.writes;
    assert_int_equal(cf_audit_append_batch(a, lines, 7), CF_OK);
    /* one write for the seven lines, one for the checkpoint due after the fifth */
    assert_int_equal(f->h.writes - writes, 2);
    free_lines(bufs, 7);
    assert_int_equal(test_append_n(a, 7, 3, false), CF_OK);
    make_lines(bufs, lines, 10, CF_AUDIT_MAX_BATCH);
    assert_int_equal(cf_audit_append_batch(a, lines, CF_AUDIT_MAX_BATCH), CF_OK);
    free_lines(bufs, CF_AUDIT_MAX_BATCH);
    assert_int_equal(cf_audit_append_batch(a, lines, 0), CF_OK);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.checkpoints, 2); /* after the 7th and after the 74th record */
    assert_int_equal(st.seq, 1 + 74 + 2); /* header, records, checkpoints */
    assert_int_equal(cf_audit_sync(a), CF_OK);
    cf_audit_close(a); /* no closing checkpoint: the last batch ended with one */
    expect_intact(f, 1 + 74 + 2);
    /* every record once, in order */
    assert_int_equal(cf_audit_read(f->dir, NULL, on_rec, s), CF_OK);
    assert_int_equal(s->n, 74);
    for (int i = 0; i < 74; i++) {
        char want[96];
        snprintf(want, sizeof(want), "https://contoso-kv.vault.azure.net/secrets/s%d?api-version=7.4", i);
        assert_string_equal(s->uris[i], want);
    }
    free(s);
}

static void test_batch_bad_input(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0);
    struct cf_buf bufs[3];
    struct cf_str lines[CF_AUDIT_MAX_BATCH + 1];
    struct cf_audit_stats st0, st;

    make_lines(bufs, lines, 0, 3);
    cf_audit_get_stats(a, &st0);
    lines[1] = CF_STR("{\"a\":1}\n{\"b\":2}");
    assert_int_equal(cf_audit_append_batch(a, lines, 3), CF_EINVAL);
    lines[1] = CF_STR("{\"category\":\"CofferAudit\",\"kind\":\"checkpoint\",\"final\":true}");
    assert_int_equal(cf_audit_append_batch(a, lines, 3), CF_EINVAL);
    for (size_t i = 0; i < CF_ARRAY_LEN(lines); i++)
        lines[i] = cf_buf_str(&bufs[0]);
    assert_int_equal(cf_audit_append_batch(a, lines, CF_AUDIT_MAX_BATCH + 1), CF_EINVAL);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.seq, st0.seq); /* nothing of any of them was written */
    assert_int_equal(st.bytes, st0.bytes);
    assert_int_equal(cf_audit_append_batch(a, lines, 2), CF_OK);
    free_lines(bufs, 3);
    cf_audit_close(a);
    expect_intact(f, st0.seq + 2 + 1);
}

static void test_batch_write_fails_whole(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0);
    struct cf_buf bufs[10];
    struct cf_str lines[10];
    struct cf_audit_stats st0, st;
    struct seen *s = calloc(1, sizeof(*s));

    make_lines(bufs, lines, 0, 10);
    assert_int_equal(cf_audit_append_batch(a, lines, 3), CF_OK); /* records 0..2 */
    cf_audit_get_stats(a, &st0);
    __atomic_store_n(&f->h.full, 1, __ATOMIC_RELAXED);
    /* torn (half of the batch reached the file), then nothing at all */
    assert_int_equal(cf_audit_append_batch(a, lines + 3, 4), CF_EFULL);
    assert_true(f->h.short_done);
    assert_int_equal(cf_audit_append_batch(a, lines + 3, 4), CF_EFULL);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.seq, st0.seq);
    assert_int_equal(st.write_errors, 2);
    /* space returns: the next batch continues the chain where the last good one ended */
    __atomic_store_n(&f->h.full, 0, __ATOMIC_RELAXED);
    assert_int_equal(cf_audit_append_batch(a, lines + 7, 3), CF_OK); /* records 7..9 */
    cf_audit_close(a);
    free_lines(bufs, 10);
    expect_intact(f, st0.seq + 3 + 1);
    assert_int_equal(cf_audit_read(f->dir, NULL, on_rec, s), CF_OK);
    assert_int_equal(s->n, 6);
    assert_non_null(strstr(s->uris[2], "/secrets/s2?"));
    assert_non_null(strstr(s->uris[3], "/secrets/s7?"));
    free(s);
}

struct thr {
    struct cf_audit *a;
    int id;
    cf_err e;
};

static void *batch_thread(void *arg)
{
    struct thr *t = arg;
    struct cf_buf bufs[8];
    struct cf_str lines[8];
    struct cf_audit_event ev;

    for (int round = 0; round < 25 && !t->e; round++) {
        for (size_t i = 0; i < 8; i++) {
            cf_buf_init(&bufs[i], CF_AUDIT_MAX_LINE);
            test_event(&ev, t->id * 1000 + round * 8 + (int)i);
            if ((t->e = cf_audit_format(&ev, &bufs[i])))
                return NULL;
            lines[i] = cf_buf_str(&bufs[i]);
        }
        t->e = cf_audit_append_batch(t->a, lines, 8);
        for (size_t i = 0; i < 8; i++)
            cf_buf_release(&bufs[i]);
    }
    return NULL;
}

struct order {
    int n;
    int last[4]; /* each thread's last record number seen */
    int prev_id; /* the thread of the record read before */
    bool ok;
};

/* Each thread's records appear in its own order, each batch of 8 contiguous. */
static bool on_order(void *ctx, const char *line, size_t len, const struct cf_json *rec)
{
    struct order *o = ctx;
    size_t ul;
    const char *u = cf_json_str(cf_json_get(cf_json_get(rec, "properties"), "requestUri"), &ul);
    const char *p = u ? strstr(u, "/secrets/s") : NULL;
    long v = p ? strtol(p + 10, NULL, 10) : -1;
    int id = (int)(v / 1000), k = (int)(v % 1000);

    (void)line;
    (void)len;
    if (v < 0 || id > 3) {
        o->ok = false;
        return false;
    }
    if (k != o->last[id] + 1 || (k % 8 != 0 && o->prev_id != id))
        o->ok = false;
    o->last[id] = k;
    o->prev_id = id;
    o->n++;
    return true;
}

static void test_batch_threads(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 50);
    pthread_t th[4];
    struct thr t[4];
    struct order o = {0, {-1, -1, -1, -1}, -1, true};

    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){a, i, CF_OK};
        assert_int_equal(pthread_create(&th[i], NULL, batch_thread, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].e, CF_OK);
    }
    cf_audit_close(a);
    {
        struct cf_audit_verify_report r;
        assert_int_equal(cf_audit_verify_dir(f->dir, test_key, f->pub, NULL, NULL, &r), CF_OK);
        assert_int_equal(r.brk, CF_AUDIT_INTACT);
    }
    assert_int_equal(cf_audit_read(f->dir, NULL, on_order, &o), CF_OK);
    assert_int_equal(o.n, 4 * 25 * 8);
    assert_true(o.ok);
}

/* The finding of the fuzz run (closing2.md #5): a line shaped like the log's own records. */
static void test_own_shapes_refused(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0);
    struct cf_audit_stats st0, st;

    cf_audit_get_stats(a, &st0);
    assert_int_equal(cf_audit_append(a,
                                     CF_STR("{\"category\":\"CofferAudit\",\"kind\":\"header\","
                                            "\"time\":\"x\",\"version\":1}"),
                                     false),
                     CF_EINVAL);
    assert_int_equal(cf_audit_append(a,
                                     CF_STR("{\"category\":\"CofferAudit\",\"kind\":\"checkpoint\","
                                            "\"final\":true}"),
                                     false),
                     CF_EINVAL);
    assert_int_equal(cf_audit_append(a, CF_STR("{\"category\":\"CofferAudit\"}"), false),
                     CF_EINVAL);
    assert_int_equal(cf_audit_append_outbox(
                         a, CF_STR("{\"category\":\"CofferAudit\",\"kind\":\"header\"}"), 5, false),
                     CF_EINVAL);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.seq, st0.seq);
    /* the same words elsewhere in a record are just data */
    assert_int_equal(cf_audit_append(a,
                                     CF_STR("{\"category\":\"AuditEvent\",\"resultDescription\":"
                                            "\"{\\\"category\\\":\\\"CofferAudit\\\"\"}"),
                                     false),
                     CF_OK);
    assert_int_equal(cf_audit_append(a, CF_STR("{\"kind\":\"header\",\"category\":\"x\"}"), false),
                     CF_OK);
    cf_audit_close(a);
    expect_intact(f, st0.seq + 2 + 1);
}

/* cf_audit_append_outbox_batch (the drainer's): one write for the rows, each chained with its
 * outbox id; ids the log holds are skipped (a drain repeated after a crash), a batch of only
 * those writes nothing; ids must be positive and increasing; the chain verifies. */
static bool has_outbox(const char *line, size_t len, int64_t id)
{
    char want[48];
    int n = snprintf(want, sizeof(want), ",\"outbox\":%lld,", (long long)id);
    return memmem(line, len, want, (size_t)n) != NULL;
}

struct ob_seen {
    int n;
    bool ok;
};

static bool on_outbox_rec(void *ctx, const char *line, size_t len, const struct cf_json *rec)
{
    struct ob_seen *o = ctx;
    static const int64_t want[] = {3, 5, 9, 10, 11};
    (void)rec;
    if (o->n < 5 && !has_outbox(line, len, want[o->n]))
        o->ok = false;
    o->n++;
    return true;
}

static void test_outbox_batch(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0);
#define OB_REC(x) CF_STR("{\"category\":\"AuditEvent\",\"r\":\"" x "\"}")
    struct cf_str lines[4] = {OB_REC("a"), OB_REC("b"), OB_REC("c"), OB_REC("d")};
#undef OB_REC
    int64_t ids[4] = {3, 5, 9, 0}, bad_order[2] = {7, 7}, again[3] = {5, 9, 10};
    struct cf_audit_stats st0, st;
    struct ob_seen o = {0, true};
    int writes;

    cf_audit_get_stats(a, &st0);
    writes = f->h.writes;
    assert_int_equal(cf_audit_append_outbox_batch(a, lines, ids, 3), CF_OK);
    assert_int_equal(f->h.writes - writes, 1);
    assert_int_equal(cf_audit_last_outbox_id(a), 9);
    /* invalid ids: nothing written */
    assert_int_equal(cf_audit_append_outbox_batch(a, lines, ids, 4), CF_EINVAL); /* id 0 */
    assert_int_equal(cf_audit_append_outbox_batch(a, lines, bad_order, 2), CF_EINVAL);
    assert_int_equal(cf_audit_append_outbox_batch(a, lines, NULL, 2), CF_EINVAL);
    /* a repeated drain: 5 and 9 skipped, 10 written */
    writes = f->h.writes;
    assert_int_equal(cf_audit_append_outbox_batch(a, lines, again, 3), CF_OK);
    assert_int_equal(f->h.writes - writes, 1);
    assert_int_equal(cf_audit_append_outbox_batch(a, lines, again, 2), CF_OK); /* all held */
    assert_int_equal(f->h.writes - writes, 1);
    assert_int_equal(cf_audit_last_outbox_id(a), 10);
    /* and the single form after it */
    assert_int_equal(cf_audit_append_outbox(a, lines[3], 11, false), CF_OK);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.seq, st0.seq + 5);
    assert_int_equal(st.outbox_skipped - st0.outbox_skipped, 4);
    cf_audit_close(a);
    expect_intact(f, st0.seq + 5 + 1);
    assert_int_equal(cf_audit_read(f->dir, NULL, on_outbox_rec, &o), CF_OK);
    assert_int_equal(o.n, 5);
    assert_true(o.ok);
}

int main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_batch_chains),          T(test_batch_bad_input),
        T(test_batch_write_fails_whole), T(test_batch_threads),
        T(test_own_shapes_refused),    T(test_outbox_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_outbox.c - the audit outbox of the SQLite store (store.h): a write's record is inserted
 * in the write's own savepoint, so it exists iff the write committed (fn failure, a failed
 * commit, a job beside it failing); one row per bound record even over several writes; async
 * writes carry it and see committed before their done callback; the notify hook; reads in id
 * order with a limit and early stop; deletes; ids that never come back (AUTOINCREMENT) and the
 * floor; rows surviving a reopen; reads that agree whether the rows come from the in-memory
 * ring of committed rows or the table (past the ring's size, after it emptied, after a reopen). */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_debug.h"

struct fx {
    char dir[64];
    char path[128];
    struct cf_store *s;
};

static struct cf_store *open_store(const char *path)
{
    struct cf_store_opts o = {path, 4, 0};
    cf_err e = CF_EINTERNAL;
    struct cf_store *s = cf_store_open_sqlite(&o, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-outbox-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    f->s = open_store(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[160];
    cf_store_close(f->s);
    cf_store_audit_bind(NULL);
    snprintf(p, sizeof(p), "%s", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---- */

struct put {
    const char *key;
    cf_err ret; /* returned by the fn after its meta put */
};

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct put *p = arg;
    cf_err e = cf_store_meta_put(t, p->key, "v", 1);
    return e ? e : p->ret;
}

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct cf_buf b;
    cf_err e;
    cf_buf_init(&b, 64);
    e = cf_store_meta_get(t, arg, &b);
    cf_buf_release(&b);
    return e;
}

static bool has_meta(struct cf_store *s, const char *key)
{
    return cf_store_read(s, get_fn, (void *)(uintptr_t)key) == CF_OK;
}

#define MAX_ROWS 64
struct rows {
    size_t n, stop_after;
    int64_t id[MAX_ROWS];
    char line[MAX_ROWS][128];
};

static bool collect(void *ctx, int64_t id, struct cf_str line)
{
    struct rows *r = ctx;
    assert_true(r->n < MAX_ROWS);
    r->id[r->n] = id;
    snprintf(r->line[r->n], sizeof(r->line[0]), "%.*s", CF_STR_FMT(line));
    r->n++;
    return r->stop_after == 0 || r->n < r->stop_after;
}

static struct rows read_all(struct cf_store *s, int64_t after)
{
    struct rows r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(cf_store_outbox_read(s, after, MAX_ROWS, collect, &r), CF_OK);
    return r;
}

static int64_t count(struct cf_store *s)
{
    int64_t n = -1;
    assert_int_equal(cf_store_outbox_count(s, &n), CF_OK);
    return n;
}

/* Writes key with rec bound to this thread. */
static cf_err bound_write(struct cf_store *s, struct cf_store_audit *rec, const char *key,
                          cf_err ret)
{
    struct put p = {key, ret};
    cf_err e;
    cf_store_audit_bind(rec);
    e = cf_store_write(s, put_fn, &p);
    cf_store_audit_bind(NULL);
    return e;
}

/* ---- tests ---- */

static void test_record_commits_with_write(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit rec = {CF_STR("{\"op\":\"a\"}"), false};
    struct rows r;

    assert_int_equal(count(f->s), 0);
    assert_int_equal(bound_write(f->s, &rec, "k1", CF_OK), CF_OK);
    assert_true(rec.committed);
    assert_true(has_meta(f->s, "k1"));
    r = read_all(f->s, 0);
    assert_int_equal(r.n, 1);
    assert_true(r.id[0] > 0);
    assert_string_equal(r.line[0], "{\"op\":\"a\"}");
}

static void test_failed_fn_leaves_no_record(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit rec = {CF_STR("{\"op\":\"fail\"}"), false};

    assert_int_equal(bound_write(f->s, &rec, "k1", CF_ENOTFOUND), CF_ENOTFOUND);
    assert_false(rec.committed);
    assert_false(has_meta(f->s, "k1"));
    assert_int_equal(count(f->s), 0);
    /* the same record rides on the retry that succeeds */
    assert_int_equal(bound_write(f->s, &rec, "k1", CF_OK), CF_OK);
    assert_true(rec.committed);
    assert_int_equal(count(f->s), 1);
}

static void test_failed_commit_leaves_no_record(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit rec = {CF_STR("{\"op\":\"x\"}"), false};

    cf_store_debug_fail_commits(f->s, 1);
    assert_int_equal(bound_write(f->s, &rec, "k1", CF_OK), CF_ESTORE);
    assert_false(rec.committed);
    assert_false(has_meta(f->s, "k1"));
    assert_int_equal(count(f->s), 0);
}

static void test_one_row_per_record(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit rec = {CF_STR("{\"op\":\"multi\"}"), false};
    struct put p1 = {"a", CF_OK}, p2 = {"b", CF_OK};

    cf_store_audit_bind(&rec);
    assert_int_equal(cf_store_write(f->s, put_fn, &p1), CF_OK);
    assert_int_equal(cf_store_write(f->s, put_fn, &p2), CF_OK);
    cf_store_audit_bind(NULL);
    assert_true(rec.committed);
    assert_true(has_meta(f->s, "a") && has_meta(f->s, "b"));
    assert_int_equal(count(f->s), 1);
}

static void test_unbound_and_empty_carry_nothing(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit empty = {CF_STR_NULL, false};
    struct put p = {"u", CF_OK};

    assert_int_equal(cf_store_write(f->s, put_fn, &p), CF_OK);
    assert_int_equal(bound_write(f->s, &empty, "e", CF_OK), CF_OK);
    assert_false(empty.committed);
    /* unbinding really unbinds */
    {
        struct cf_store_audit rec = {CF_STR("{}"), false};
        cf_store_audit_bind(&rec);
        cf_store_audit_bind(NULL);
        assert_int_equal(cf_store_write(f->s, put_fn, &p), CF_OK);
        assert_false(rec.committed);
    }
    assert_int_equal(count(f->s), 0);
}

/* ---- several threads, one batch: a failing job's record is rolled back with it ---- */

struct worker {
    struct cf_store *s;
    struct cf_store_audit rec;
    char line[32], key[16];
    bool fail;
    cf_err result;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->result = bound_write(w->s, &w->rec, w->key, w->fail ? CF_EEXISTS : CF_OK);
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct fx *f = *state;
    enum { N = 16 };
    struct worker w[N];
    pthread_t t[N];
    struct rows r;
    int ok = 0;

    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].s = f->s;
        w[i].fail = i % 4 == 1;
        snprintf(w[i].line, sizeof(w[i].line), "{\"n\":%d}", i);
        snprintf(w[i].key, sizeof(w[i].key), "w%d", i);
        w[i].rec.line = cf_str_from(w[i].line);
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(w[i].result, w[i].fail ? CF_EEXISTS : CF_OK);
        assert_int_equal(w[i].rec.committed, !w[i].fail);
        assert_int_equal(has_meta(f->s, w[i].key), !w[i].fail);
        ok += !w[i].fail;
    }
    r = read_all(f->s, 0);
    assert_int_equal(r.n, (size_t)ok);
    for (size_t i = 1; i < r.n; i++)
        assert_true(r.id[i] > r.id[i - 1]);
    /* every row is one of the committed writers' lines, each once */
    for (int i = 0; i < N; i++) {
        int seen = 0;
        for (size_t k = 0; k < r.n; k++)
            seen += strcmp(r.line[k], w[i].line) == 0;
        assert_int_equal(seen, w[i].fail ? 0 : 1);
    }
}

/* ---- async ---- */

struct async_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, notified;
    bool committed_in_done;
    cf_err result;
    struct cf_store_audit *rec;
};

static void async_done(cf_err result, void *arg)
{
    struct async_state *a = arg;
    pthread_mutex_lock(&a->mu);
    a->result = result;
    a->committed_in_done = a->rec->committed;
    a->done++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void on_notify(void *ctx)
{
    struct async_state *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->notified++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void test_async_and_notify(void **state)
{
    struct fx *f = *state;
    struct cf_store_audit rec = {CF_STR("{\"op\":\"async\"}"), false};
    struct async_state a = {
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false, CF_EINTERNAL, &rec};
    struct put p = {"as", CF_OK};

    cf_store_outbox_notify(f->s, on_notify, &a);
    cf_store_audit_bind(&rec);
    assert_int_equal(cf_store_write_async(f->s, put_fn, &p, async_done, &a), CF_OK);
    cf_store_audit_bind(NULL);
    pthread_mutex_lock(&a.mu);
    while (a.done == 0 || a.notified == 0)
        pthread_cond_wait(&a.cv, &a.mu);
    pthread_mutex_unlock(&a.mu);
    assert_int_equal(a.result, CF_OK);
    assert_true(a.committed_in_done);
    assert_int_equal(count(f->s), 1);

    /* a write without a record does not notify */
    {
        struct put q = {"plain", CF_OK};
        assert_int_equal(cf_store_write(f->s, put_fn, &q), CF_OK);
        pthread_mutex_lock(&a.mu);
        assert_int_equal(a.notified, 1);
        pthread_mutex_unlock(&a.mu);
    }
    cf_store_outbox_notify(f->s, NULL, NULL);
}

/* ---- read, delete, ids, floor, reopen ---- */

static void add_rows(struct cf_store *s, int n, const char *tag)
{
    for (int i = 0; i < n; i++) {
        char line[64], key[64];
        struct cf_store_audit rec;
        snprintf(line, sizeof(line), "{\"%s\":%d}", tag, i);
        snprintf(key, sizeof(key), "%s%d", tag, i);
        rec = (struct cf_store_audit){cf_str_from(line), false};
        assert_int_equal(bound_write(s, &rec, key, CF_OK), CF_OK);
    }
}

static void test_read_limit_and_stop(void **state)
{
    struct fx *f = *state;
    struct rows r;

    add_rows(f->s, 5, "r");
    memset(&r, 0, sizeof(r));
    assert_int_equal(cf_store_outbox_read(f->s, 0, 3, collect, &r), CF_OK);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.line[0], "{\"r\":0}");
    assert_string_equal(r.line[2], "{\"r\":2}");
    r = read_all(f->s, r.id[2]);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.line[0], "{\"r\":3}");
    memset(&r, 0, sizeof(r));
    r.stop_after = 2;
    assert_int_equal(cf_store_outbox_read(f->s, 0, 100, collect, &r), CF_OK);
    assert_int_equal(r.n, 2);
    memset(&r, 0, sizeof(r));
    assert_int_equal(cf_store_outbox_read(f->s, 0, 0, collect, &r), CF_OK);
    assert_int_equal(r.n, 0);
    assert_int_equal(cf_store_outbox_read(f->s, 0, 1, NULL, NULL), CF_EINVAL);
}

static void test_delete_ids_never_return(void **state)
{
    struct fx *f = *state;
    struct rows r;
    int64_t last;

    add_rows(f->s, 4, "d");
    r = read_all(f->s, 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(cf_store_outbox_delete(f->s, r.id[1]), CF_OK);
    r = read_all(f->s, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.line[0], "{\"d\":2}");
    last = r.id[1];
    assert_int_equal(cf_store_outbox_delete(f->s, last), CF_OK);
    assert_int_equal(count(f->s), 0);
    /* an empty table must not hand out an id the audit log already holds */
    add_rows(f->s, 1, "n");
    r = read_all(f->s, 0);
    assert_int_equal(r.n, 1);
    assert_true(r.id[0] > last);
}

static void test_floor(void **state)
{
    struct fx *f = *state;
    struct rows r;

    /* on a fresh table (no sqlite_sequence row yet) */
    assert_int_equal(cf_store_outbox_floor(f->s, 1000), CF_OK);
    add_rows(f->s, 1, "f");
    r = read_all(f->s, 0);
    assert_int_equal(r.n, 1);
    assert_true(r.id[0] > 1000);
    /* a lower floor does not lower the sequence */
    assert_int_equal(cf_store_outbox_floor(f->s, 10), CF_OK);
    assert_int_equal(cf_store_outbox_floor(f->s, 0), CF_OK);
    add_rows(f->s, 1, "g");
    r = read_all(f->s, 0);
    assert_int_equal(r.n, 2);
    assert_true(r.id[1] > r.id[0]);
    /* a higher one raises it with rows present */
    assert_int_equal(cf_store_outbox_floor(f->s, 5000), CF_OK);
    add_rows(f->s, 1, "h");
    r = read_all(f->s, 0);
    assert_true(r.id[2] > 5000);
}

static void test_rows_survive_reopen(void **state)
{
    struct fx *f = *state;
    struct rows r;

    add_rows(f->s, 3, "o");
    cf_store_close(f->s);
    f->s = open_store(f->path);
    r = read_all(f->s, 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.line[2], "{\"o\":2}");
}

/* ---- the in-memory ring of committed rows (sqlite.c OUTBOX_MEM_ROWS = 8192) ---- */

#define RING_ROWS 8192
struct many {
    struct cf_store_audit *rec;
    char (*line)[32];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, failed;
};

static void many_done(cf_err result, void *arg)
{
    struct many *m = arg;
    pthread_mutex_lock(&m->mu);
    m->done++;
    m->failed += result != CF_OK;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* n asynchronous writes (large batches), each with its record {"<tag>":i}. */
static void add_many(struct cf_store *s, int n, const char *tag)
{
    static struct put p = {"many", CF_OK};
    struct many m = {calloc((size_t)n, sizeof(*m.rec)), calloc((size_t)n, sizeof(*m.line)),
                     PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    assert_non_null(m.rec);
    assert_non_null(m.line);
    for (int i = 0; i < n; i++) {
        snprintf(m.line[i], sizeof(m.line[i]), "{\"%s\":%d}", tag, i);
        m.rec[i] = (struct cf_store_audit){cf_str_from(m.line[i]), false};
        cf_store_audit_bind(&m.rec[i]);
        assert_int_equal(cf_store_write_async(s, put_fn, &p, many_done, &m), CF_OK);
        cf_store_audit_bind(NULL);
    }
    pthread_mutex_lock(&m.mu);
    while (m.done < n)
        pthread_cond_wait(&m.cv, &m.mu);
    pthread_mutex_unlock(&m.mu);
    assert_int_equal(m.failed, 0);
    free(m.rec);
    free(m.line);
}

struct scan {
    int64_t last;
    int next, n;
    const char *tag;
    bool ok;
    int switch_at; /* after this many rows the lines are {"<tag2>":0}, ... (0: never) */
    const char *tag2;
};

static bool scan_row(void *ctx, int64_t id, struct cf_str line)
{
    struct scan *sc = ctx;
    char want[32];
    if (sc->switch_at && sc->n == sc->switch_at) {
        sc->tag = sc->tag2;
        sc->next = 0;
    }
    snprintf(want, sizeof(want), "{\"%s\":%d}", sc->tag, sc->next);
    if (sc->ok && !(id > sc->last && cf_str_eq(line, cf_str_from(want))))
        print_message("row %lld after %lld: %.*s, want %s\n", (long long)id, (long long)sc->last,
                      CF_STR_FMT(line), want);
    sc->ok = sc->ok && id > sc->last && cf_str_eq(line, cf_str_from(want));
    sc->last = id;
    sc->next++;
    sc->n++;
    return true;
}

/* Reads every row after `after` the way the drainer does (batches of 256) and checks they are
 * {"tag":first}, {"tag":first+1}, ... in increasing id order; returns the count. */
static int scan_then(struct cf_store *s, int64_t after, const char *tag, int first,
                     int64_t *last, int switch_at, const char *tag2)
{
    struct scan sc = {after, first, 0, tag, true, switch_at, tag2};
    int before;
    do {
        before = sc.n;
        assert_int_equal(cf_store_outbox_read(s, sc.last, 256, scan_row, &sc), CF_OK);
        assert_true(sc.ok);
    } while (sc.n > before);
    if (last)
        *last = sc.last;
    return sc.n;
}

static int scan_all(struct cf_store *s, int64_t after, const char *tag, int first,
                    int64_t *last)
{
    return scan_then(s, after, tag, first, last, 0, NULL);
}

/* Reads must not depend on where the rows come from: the ring, the table past the ring's
 * size, the table again after the ring overflowed and was emptied, an earlier run's rows. */
static void test_ring_and_table_agree(void **state)
{
    struct fx *f = *state;
    int64_t last, mid;

    add_many(f->s, RING_ROWS + 300, "r"); /* overflows the ring */
    assert_int_equal(scan_all(f->s, 0, "r", 0, &last), RING_ROWS + 300);
    assert_int_equal(count(f->s), RING_ROWS + 300);
    /* from a point inside the ring and from one past it */
    {
        struct rows r = read_all(f->s, last - 5);
        assert_int_equal(r.n, 5);
        assert_string_equal(r.line[4], "{\"r\":8491}");
    }
    /* drop part of it: rows after the overflow still come from the table */
    assert_int_equal(scan_all(f->s, 0, "r", 0, &mid) >= 100, true);
    {
        struct scan sc = {0, 0, 0, "r", true, 0, NULL};
        assert_int_equal(cf_store_outbox_read(f->s, 0, 100, scan_row, &sc), CF_OK);
        mid = sc.last;
    }
    assert_int_equal(cf_store_outbox_delete(f->s, mid), CF_OK);
    add_many(f->s, 50, "s");
    assert_int_equal(scan_then(f->s, mid, "r", 100, NULL, RING_ROWS + 200, "s"),
                     RING_ROWS + 200 + 50);
    assert_int_equal(scan_all(f->s, last, "s", 0, NULL), 50);
    /* empty everything: the ring starts over and holds what follows */
    assert_int_equal(scan_all(f->s, last, "s", 0, &last), 50);
    assert_int_equal(cf_store_outbox_delete(f->s, last), CF_OK);
    assert_int_equal(count(f->s), 0);
    assert_int_equal(scan_all(f->s, 0, "t", 0, NULL), 0);
    add_many(f->s, 600, "t");
    assert_int_equal(scan_all(f->s, last, "t", 0, &mid), 600);
    assert_int_equal(scan_all(f->s, 0, "t", 0, NULL), 600);
    /* a failed commit adds nothing to the ring either */
    cf_store_debug_fail_commits(f->s, 1);
    {
        struct cf_store_audit rec = {CF_STR("{\"x\":0}"), false};
        assert_int_equal(bound_write(f->s, &rec, "x", CF_OK), CF_ESTORE);
        assert_false(rec.committed);
    }
    assert_int_equal(scan_all(f->s, mid, "t", 600, NULL), 0);
    /* and a reopened store reads the earlier run's rows from the table */
    cf_store_close(f->s);
    f->s = open_store(f->path);
    assert_int_equal(scan_all(f->s, 0, "t", 0, NULL), 600);
    add_many(f->s, 10, "u");
    assert_int_equal(scan_all(f->s, mid, "u", 0, NULL), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_commits_with_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_fn_leaves_no_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_leaves_no_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_row_per_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbound_and_empty_carry_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_and_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_limit_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_ids_never_return, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_and_table_agree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

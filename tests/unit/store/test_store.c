/* test_store.c - the SQLite store's transaction model: schema at open and reopen, meta,
 * principals, group commit under concurrency, savepoint isolation inside a batch, a failed
 * commit failing its whole batch, read snapshots, and misuse (writes in a read txn, nested
 * writes). */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_debug.h"

struct fx {
    char dir[64];
    char path[128];
    struct cf_store *s;
};

static struct cf_store *open_store(const char *path, int max_batch)
{
    struct cf_store_opts o = {path, 4, max_batch};
    cf_err e = CF_EINTERNAL;
    struct cf_store *s = cf_store_open_sqlite(&o, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    f->s = open_store(f->path, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[160];
    cf_store_close(f->s);
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

/* ---- meta ---- */
struct kv {
    const char *key;
    const char *val;
    struct cf_buf out;
    cf_err ret; /* what a write fn returns after its work */
};

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct kv *kv = arg;
    cf_err e = cf_store_meta_put(t, kv->key, kv->val, strlen(kv->val));
    return e ? e : kv->ret;
}

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct kv *kv = arg;
    cf_buf_reset(&kv->out);
    return cf_store_meta_get(t, kv->key, &kv->out);
}

static cf_err meta_get(struct cf_store *s, const char *key, struct cf_buf *out)
{
    struct kv kv = {key, NULL, {0}, CF_OK};
    cf_buf_init(&kv.out, 1 << 20);
    cf_err e = cf_store_read(s, get_fn, &kv);
    cf_buf_reset(out);
    if (!e)
        assert_int_equal(cf_buf_append(out, kv.out.data, kv.out.len), CF_OK);
    cf_buf_release(&kv.out);
    return e;
}

static cf_err meta_put(struct cf_store *s, const char *key, const char *val)
{
    struct kv kv = {key, val, {0}, CF_OK};
    return cf_store_write(s, put_fn, &kv);
}

static cf_err del_fn(struct cf_store_txn *t, void *arg)
{
    struct kv *kv = arg;
    return cf_store_meta_del(t, kv->key);
}

static cf_err read_del_fn(struct cf_store_txn *t, void *arg)
{
    struct kv *kv = arg;
    return cf_store_meta_del(t, kv->key); /* a read transaction cannot delete */
}

static cf_err meta_del(struct cf_store *s, const char *key)
{
    struct kv kv = {key, NULL, {0}, CF_OK};
    return cf_store_write(s, del_fn, &kv);
}

static void test_meta(void **state)
{
    struct fx *f = *state;
    struct cf_buf b;
    cf_buf_init(&b, 4096);

    assert_int_equal(meta_get(f->s, "k", &b), CF_ENOTFOUND);
    assert_int_equal(meta_put(f->s, "k", "v1"), CF_OK);
    assert_int_equal(meta_get(f->s, "k", &b), CF_OK);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "v1", 2);
    assert_int_equal(meta_put(f->s, "k", "value-two"), CF_OK);
    assert_int_equal(meta_get(f->s, "k", &b), CF_OK);
    assert_string_equal(b.data, "value-two");
    assert_int_equal(meta_put(f->s, "empty", ""), CF_OK);
    assert_int_equal(meta_get(f->s, "empty", &b), CF_OK);
    assert_int_equal(b.len, 0);

    /* delete: gone, a second delete says so, other keys stay; a read txn cannot */
    {
        struct kv kv = {"empty", NULL, {0}, CF_OK};
        assert_int_equal(cf_store_read(f->s, read_del_fn, &kv), CF_EINVAL);
    }
    assert_int_equal(meta_del(f->s, "empty"), CF_OK);
    assert_int_equal(meta_get(f->s, "empty", &b), CF_ENOTFOUND);
    assert_int_equal(meta_del(f->s, "empty"), CF_ENOTFOUND);
    assert_int_equal(meta_get(f->s, "k", &b), CF_OK);

    /* survives close and reopen (schema already there: no migration error) */
    cf_store_close(f->s);
    f->s = open_store(f->path, 0);
    assert_int_equal(meta_get(f->s, "k", &b), CF_OK);
    assert_string_equal(b.data, "value-two");
    assert_int_equal(meta_get(f->s, "empty", &b), CF_ENOTFOUND);
    assert_int_equal(cf_store_check(f->s), CF_OK);
    cf_buf_release(&b);
}

struct bin {
    const unsigned char *p;
    size_t n;
    struct cf_buf out;
};

static cf_err bin_put_fn(struct cf_store_txn *t, void *arg)
{
    struct bin *b = arg;
    return cf_store_meta_put(t, "bin", b->p, b->n);
}

static cf_err bin_get_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_meta_get(t, "bin", &((struct bin *)arg)->out);
}

static void test_meta_binary(void **state)
{
    struct fx *f = *state;
    unsigned char val[300];
    struct bin b = {val, sizeof(val), {0}};

    for (size_t i = 0; i < sizeof(val); i++)
        val[i] = (unsigned char)i; /* includes NUL bytes */
    cf_buf_init(&b.out, 4096);
    assert_int_equal(cf_store_write(f->s, bin_put_fn, &b), CF_OK);
    assert_int_equal(cf_store_read(f->s, bin_get_fn, &b), CF_OK);
    assert_int_equal(b.out.len, sizeof(val));
    assert_memory_equal(b.out.data, val, sizeof(val));
    /* the out buffer's limit is honoured */
    b.out.max = 10;
    cf_buf_reset(&b.out);
    assert_int_equal(cf_store_read(f->s, bin_get_fn, &b), CF_ETOOBIG);
    cf_buf_release(&b.out);
    assert_int_equal(cf_store_write(f->s, NULL, NULL), CF_EINVAL);
}

/* ---- principals ---- */
struct pr {
    struct cf_rec_principal p;
    const char *tenant, *client;
};

static cf_err pput_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_principal_put(t, &((struct pr *)arg)->p);
}

static cf_err pget_fn(struct cf_store_txn *t, void *arg)
{
    struct pr *pr = arg;
    return cf_store_principal_get(t, pr->tenant, pr->client, &pr->p);
}

static void test_principals(void **state)
{
    struct fx *f = *state;
    struct pr in = {0}, out = {0};

    snprintf(in.p.tenant_id, sizeof(in.p.tenant_id), "11111111-1111-1111-1111-111111111111");
    snprintf(in.p.client_id, sizeof(in.p.client_id), "app-1");
    snprintf(in.p.object_id, sizeof(in.p.object_id), "22222222-2222-2222-2222-222222222222");
    snprintf(in.p.display_name, sizeof(in.p.display_name), "admin");
    snprintf(in.p.secret_hash, sizeof(in.p.secret_hash), "pbkdf2-sha256$1$a$b");
    in.p.enabled = true;
    in.p.generation = 1;
    in.p.created = 1700000000;

    out.tenant = in.p.tenant_id;
    out.client = "app-1";
    assert_int_equal(cf_store_read(f->s, pget_fn, &out), CF_ENOTFOUND);
    assert_int_equal(cf_store_write(f->s, pput_fn, &in), CF_OK);
    assert_int_equal(cf_store_read(f->s, pget_fn, &out), CF_OK);
    assert_string_equal(out.p.object_id, in.p.object_id);
    assert_string_equal(out.p.display_name, "admin");
    assert_string_equal(out.p.secret_hash, in.p.secret_hash);
    assert_true(out.p.enabled);
    assert_int_equal(out.p.generation, 1);
    assert_int_equal(out.p.created, 1700000000);

    /* update in place: same key, new generation and state */
    in.p.enabled = false;
    in.p.generation = 2;
    assert_int_equal(cf_store_write(f->s, pput_fn, &in), CF_OK);
    assert_int_equal(cf_store_read(f->s, pget_fn, &out), CF_OK);
    assert_false(out.p.enabled);
    assert_int_equal(out.p.generation, 2);

    /* the key is (tenant, client): another tenant does not see it */
    out.tenant = "33333333-3333-3333-3333-333333333333";
    assert_int_equal(cf_store_read(f->s, pget_fn, &out), CF_ENOTFOUND);
}

/* ---- misuse ---- */
static void test_write_in_read_txn(void **state)
{
    struct fx *f = *state;
    struct kv kv = {"x", "y", {0}, CF_OK};
    struct cf_buf b;

    /* put_fn through cf_store_read: the txn is read-only */
    assert_int_equal(cf_store_read(f->s, put_fn, &kv), CF_EINVAL);
    cf_buf_init(&b, 64);
    assert_int_equal(meta_get(f->s, "x", &b), CF_ENOTFOUND);
    cf_buf_release(&b);
}

struct nested {
    struct cf_store *s;
    cf_err inner;
};

static cf_err nested_fn(struct cf_store_txn *t, void *arg)
{
    struct nested *n = arg;
    (void)t;
    n->inner = meta_put(n->s, "nested", "x");
    return CF_OK;
}

static void test_nested_write_refused(void **state)
{
    struct fx *f = *state;
    struct nested n = {f->s, CF_OK};
    assert_int_equal(cf_store_write(f->s, nested_fn, &n), CF_OK);
    assert_int_equal(n.inner, CF_EINVAL);
}

/* ---- group commit ---- */
#define NTHREADS 16
#define NWRITES 200

struct worker {
    struct cf_store *s;
    int id;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char key[32], val[32];
    for (int i = 0; i < NWRITES; i++) {
        snprintf(key, sizeof(key), "w%d-%d", w->id, i);
        snprintf(val, sizeof(val), "v%d", i);
        if (meta_put(w->s, key, val) != CF_OK)
            w->failures++;
    }
    return NULL;
}

struct count_arg {
    int found;
};

static cf_err count_fn(struct cf_store_txn *t, void *arg)
{
    struct count_arg *c = arg;
    char key[32], want[32];
    struct cf_buf b;
    cf_err e = CF_OK;

    cf_buf_init(&b, 64);
    for (int w = 0; w < NTHREADS && !e; w++) {
        for (int i = 0; i < NWRITES; i++) {
            snprintf(key, sizeof(key), "w%d-%d", w, i);
            snprintf(want, sizeof(want), "v%d", i);
            cf_buf_reset(&b);
            e = cf_store_meta_get(t, key, &b);
            if (e)
                break;
            if (strcmp(b.data, want) == 0)
                c->found++;
        }
    }
    cf_buf_release(&b);
    return e;
}

static void test_group_commit(void **state)
{
    struct fx *f = *state;
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    struct count_arg c = {0};
    struct cf_store_stats st;

    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){f->s, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(cf_store_read(f->s, count_fn, &c), CF_OK);
    assert_int_equal(c.found, NTHREADS * NWRITES);
    cf_store_stats(f->s, &st);
    assert_int_equal(st.jobs, NTHREADS * NWRITES);
    /* concurrent writers shared transactions: fewer commits than writes */
    assert_true(st.max_batch > 1);
    assert_true(st.commits < st.jobs);
    assert_int_equal(cf_store_check(f->s), CF_OK);
}

/* ---- asynchronous writes: done runs once per job, after the write is durable ---- */
#define NASYNC 500

struct async_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, failed;
    struct kv kv[NASYNC];
    char keys[NASYNC][16];
    struct cf_store *s;
    int visible_at_done; /* jobs whose row a fresh read could see when done ran */
};

static cf_err visible_fn(struct cf_store_txn *t, void *arg)
{
    struct kv *kv = arg;
    cf_buf_reset(&kv->out);
    return cf_store_meta_get(t, kv->key, &kv->out);
}

struct async_job {
    struct async_state *st;
    int i;
};

static void async_done2(cf_err e, void *arg)
{
    struct async_job *j = arg;
    struct async_state *st = j->st;
    struct kv probe = {st->kv[j->i].key, NULL, {0}, CF_OK};
    bool visible;

    cf_buf_init(&probe.out, 64);
    visible = e == CF_OK && cf_store_read(st->s, visible_fn, &probe) == CF_OK;
    cf_buf_release(&probe.out);
    pthread_mutex_lock(&st->mu);
    st->done++;
    st->failed += e != CF_OK;
    st->visible_at_done += visible;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    free(j);
}

static void test_async_writes(void **state)
{
    struct fx *f = *state;
    struct async_state *st = calloc(1, sizeof(*st));

    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->s = f->s;
    for (int i = 0; i < NASYNC; i++) {
        struct async_job *j = calloc(1, sizeof(*j));
        snprintf(st->keys[i], sizeof(st->keys[i]), "a%d", i);
        st->kv[i] = (struct kv){st->keys[i], "async", {0}, i % 50 == 7 ? CF_EBADPARAM : CF_OK};
        j->st = st;
        j->i = i;
        assert_int_equal(cf_store_write_async(f->s, put_fn, &st->kv[i], async_done2, j), CF_OK);
    }
    pthread_mutex_lock(&st->mu);
    while (st->done < NASYNC)
        pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    /* every job reported once; the ones whose fn failed report that error and left nothing */
    assert_int_equal(st->failed, NASYNC / 50);
    assert_int_equal(st->visible_at_done, NASYNC - NASYNC / 50);
    assert_int_equal(cf_store_write_async(f->s, put_fn, &st->kv[0], NULL, NULL), CF_EINVAL);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* ---- the acker: done callbacks run in submission order, off the writer thread, and a slow
 * one does not hold up later commits; close answers every accepted job ---- */
#define NORDER 300

struct order_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int next;             /* index the next done should carry */
    int out_of_order;     /* dones that came early or late */
    int ran;              /* dones run */
    int failed;           /* dones reporting an error */
    bool later_committed; /* a job queued after the slow one committed while it waited */
    bool on_writer;       /* some done ran on the thread that ran the fns */
    pthread_t writer;     /* the thread the fns ran on */
    struct kv kv[NORDER];
    char keys[NORDER][16];
};

struct order_job {
    struct order_state *st;
    int i;
};

static cf_err order_put_fn(struct cf_store_txn *t, void *arg)
{
    struct order_job *j = arg;
    struct order_state *st = j->st;
    pthread_mutex_lock(&st->mu);
    st->writer = pthread_self();
    if (j->i == NORDER - 1) { /* the last job: its fn runs while job 0's done still waits */
        st->later_committed = true;
        pthread_cond_broadcast(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
    return put_fn(t, &st->kv[j->i]);
}

static void order_done(cf_err e, void *arg)
{
    struct order_job *j = arg;
    struct order_state *st = j->st;
    struct timespec ts;

    /* no cmocka asserts here: they cannot fail a test from the acker thread */
    pthread_mutex_lock(&st->mu);
    st->failed += e != CF_OK;
    if (j->i == 0) {
        /* slow done: waits (bounded) until the writer ran the last job's fn */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        while (!st->later_committed)
            if (pthread_cond_timedwait(&st->cv, &st->mu, &ts) != 0)
                break;
    }
    st->on_writer |= pthread_equal(pthread_self(), st->writer) != 0;
    st->out_of_order += j->i != st->next;
    st->next = j->i + 1;
    st->ran++;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void test_async_done_order(void **state)
{
    struct fx *f = *state;
    struct order_state *st = calloc(1, sizeof(*st));
    struct order_job *jobs = calloc(NORDER, sizeof(*jobs));
    struct cf_store_stats stats;

    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    /* job 0 alone in its batch: its done blocks until the later jobs have been run */
    for (int i = 0; i < NORDER; i++) {
        snprintf(st->keys[i], sizeof(st->keys[i]), "o%d", i);
        st->kv[i] = (struct kv){st->keys[i], "ordered", {0}, CF_OK};
        jobs[i] = (struct order_job){st, i};
        assert_int_equal(cf_store_write_async(f->s, order_put_fn, &jobs[i], order_done, &jobs[i]),
                         CF_OK);
        if (i == 0) {
            struct cf_buf out;
            cf_buf_init(&out, 64);
            /* wait until job 0 is committed, so the rest land in later batches */
            for (int k = 0; k < 500 && meta_get(f->s, "o0", &out) != CF_OK; k++)
                usleep(2000);
            cf_buf_release(&out);
        }
    }
    pthread_mutex_lock(&st->mu);
    while (st->ran < NORDER)
        pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    assert_true(st->later_committed); /* the slow done did not stall the writer */
    assert_int_equal(st->out_of_order, 0);
    assert_int_equal(st->failed, 0);
    assert_false(st->on_writer);
    cf_store_stats(f->s, &stats);
    assert_true(stats.commits >= 2);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(jobs);
    free(st);
}

struct count_done {
    pthread_mutex_t mu;
    int ran, ok;
};

static void count_done_fn(cf_err e, void *arg)
{
    struct count_done *c = arg;
    pthread_mutex_lock(&c->mu);
    c->ran++;
    c->ok += e == CF_OK;
    pthread_mutex_unlock(&c->mu);
}

static void test_close_answers_async(void **state)
{
    struct fx *f = *state;
    struct count_done c = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    struct kv kv[64];
    char keys[64][16];
    struct cf_buf out;

    for (int i = 0; i < 64; i++) {
        snprintf(keys[i], sizeof(keys[i]), "c%d", i);
        kv[i] = (struct kv){keys[i], "closing", {0}, CF_OK};
        assert_int_equal(cf_store_write_async(f->s, put_fn, &kv[i], count_done_fn, &c), CF_OK);
    }
    cf_store_close(f->s); /* returns only once every accepted job was answered */
    assert_int_equal(c.ran, 64);
    assert_int_equal(c.ok, 64);
    f->s = open_store(f->path, 0);
    cf_buf_init(&out, 64);
    assert_int_equal(meta_get(f->s, "c63", &out), CF_OK);
    cf_buf_release(&out);
}

/* ---- ack hooks: begin/end bracket every run of done callbacks, on the acker thread ---- */
static _Thread_local bool hook_open; /* between begin and end on this thread */
static int hook_begins, hook_ends, hook_nested; /* touched by the acker thread only */

static void hook_begin(void)
{
    hook_nested += hook_open;
    hook_open = true;
    hook_begins++;
}

static void hook_end(void)
{
    hook_nested += !hook_open;
    hook_open = false;
    hook_ends++;
}

struct hooked_done {
    pthread_mutex_t mu;
    int ran, inside;
};

static void hooked_done_fn(cf_err e, void *arg)
{
    struct hooked_done *c = arg;
    (void)e;
    pthread_mutex_lock(&c->mu);
    c->ran++;
    c->inside += hook_open;
    pthread_mutex_unlock(&c->mu);
}

static void test_ack_hooks_bracket_done(void **state)
{
    struct fx *f = *state;
    struct hooked_done c = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    struct kv kv[100];
    char keys[100][16];

    hook_begins = hook_ends = hook_nested = 0;
    cf_store_set_ack_hooks(f->s, hook_begin, hook_end);
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof(keys[i]), "h%d", i);
        kv[i] = (struct kv){keys[i], "hooked", {0}, CF_OK};
        assert_int_equal(cf_store_write_async(f->s, put_fn, &kv[i], hooked_done_fn, &c), CF_OK);
    }
    cf_store_close(f->s); /* joins the acker: its counters are ours to read now */
    f->s = open_store(f->path, 0);
    assert_int_equal(c.ran, 100);
    assert_int_equal(c.inside, 100); /* every answer ran inside a begin/end pair */
    assert_true(hook_begins >= 1);
    assert_true(hook_begins <= 100); /* runs group answers: at most one pair per answer */
    assert_int_equal(hook_begins, hook_ends);
    assert_int_equal(hook_nested, 0);
    assert_false(hook_open); /* never on the test's own thread */

    /* set, then unset: no more calls */
    cf_store_set_ack_hooks(f->s, hook_begin, hook_end);
    cf_store_set_ack_hooks(f->s, NULL, NULL);
    hook_begins = 0;
    c.ran = 0;
    assert_int_equal(cf_store_write_async(f->s, put_fn, &kv[0], hooked_done_fn, &c), CF_OK);
    cf_store_close(f->s);
    f->s = open_store(f->path, 0);
    assert_int_equal(c.ran, 1);
    assert_int_equal(hook_begins, 0);
}

/* ---- savepoints: a failing job in a batch does not undo the others ---- */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, release;
};

static cf_err blocking_fn(struct cf_store_txn *t, void *arg)
{
    struct gate *g = arg;
    (void)t;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->release)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return CF_OK;
}

struct blocker {
    struct cf_store *s;
    struct gate *g;
};

static void *blocker_main(void *arg)
{
    struct blocker *b = arg;
    cf_err e = cf_store_write(b->s, blocking_fn, b->g);
    assert_int_equal(e, CF_OK);
    return NULL;
}

struct job_thread {
    struct cf_store *s;
    struct kv kv;
    cf_err result;
};

static void *job_main(void *arg)
{
    struct job_thread *j = arg;
    j->result = cf_store_write(j->s, put_fn, &j->kv);
    return NULL;
}

/* Holds the writer in a job, queues `n` jobs (odd ones fail after writing), releases it:
 * the queued jobs then run as one batch. */
static void run_held_batch(struct cf_store *s, struct job_thread *jobs, int n)
{
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    struct blocker b = {s, &g};
    pthread_t bt, th[32];
    struct cf_store_stats st0, st;

    pthread_create(&bt, NULL, blocker_main, &b);
    pthread_mutex_lock(&g.mu);
    while (!g.entered)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    cf_store_stats(s, &st0);
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, job_main, &jobs[i]);
    usleep(200 * 1000); /* let every job reach the queue */
    pthread_mutex_lock(&g.mu);
    g.release = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(bt, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    cf_store_stats(s, &st);
    assert_true(st.max_batch >= (uint64_t)n); /* they did share one transaction */
}

static void test_savepoint_isolation(void **state)
{
    struct fx *f = *state;
    struct job_thread jobs[10];
    char keys[10][16];
    struct cf_buf b;

    for (int i = 0; i < 10; i++) {
        snprintf(keys[i], sizeof(keys[i]), "sp%d", i);
        jobs[i] = (struct job_thread){
            f->s, {keys[i], "val", {0}, i % 2 ? CF_EBADPARAM : CF_OK}, CF_EINTERNAL};
    }
    run_held_batch(f->s, jobs, 10);
    cf_buf_init(&b, 64);
    for (int i = 0; i < 10; i++) {
        if (i % 2) {
            /* the failing job gets its own error and its write is undone */
            assert_int_equal(jobs[i].result, CF_EBADPARAM);
            assert_int_equal(meta_get(f->s, keys[i], &b), CF_ENOTFOUND);
        } else {
            assert_int_equal(jobs[i].result, CF_OK);
            assert_int_equal(meta_get(f->s, keys[i], &b), CF_OK);
            assert_string_equal(b.data, "val");
        }
    }
    cf_buf_release(&b);
}

static void test_failed_commit_fails_batch(void **state)
{
    struct fx *f = *state;
    struct job_thread jobs[6];
    char keys[6][16];
    struct cf_buf b;
    struct cf_store_stats st;

    for (int i = 0; i < 6; i++) {
        snprintf(keys[i], sizeof(keys[i]), "fc%d", i);
        jobs[i] = (struct job_thread){
            f->s, {keys[i], "val", {0}, i == 3 ? CF_EBADPARAM : CF_OK}, CF_EINTERNAL};
    }
    /* the blocker's own batch commits; the next one (the 6 jobs) fails */
    struct gate g2 = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    struct blocker bl = {f->s, &g2};
    pthread_t bt, th[6];
    pthread_create(&bt, NULL, blocker_main, &bl);
    pthread_mutex_lock(&g2.mu);
    while (!g2.entered)
        pthread_cond_wait(&g2.cv, &g2.mu);
    pthread_mutex_unlock(&g2.mu);
    /* the blocker's batch was taken before this: only the next batch fails */
    cf_store_debug_fail_commits(f->s, 1);
    for (int i = 0; i < 6; i++)
        pthread_create(&th[i], NULL, job_main, &jobs[i]);
    usleep(200 * 1000);
    pthread_mutex_lock(&g2.mu);
    g2.release = true;
    pthread_cond_broadcast(&g2.cv);
    pthread_mutex_unlock(&g2.mu);
    pthread_join(bt, NULL);
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);

    cf_buf_init(&b, 64);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(jobs[i].result, i == 3 ? CF_EBADPARAM : CF_ESTORE);
        assert_int_equal(meta_get(f->s, keys[i], &b), CF_ENOTFOUND);
    }
    cf_store_stats(f->s, &st);
    assert_int_equal(st.failed_commits, 1);
    /* the store keeps working afterwards */
    assert_int_equal(meta_put(f->s, "after", "ok"), CF_OK);
    assert_int_equal(meta_get(f->s, "after", &b), CF_OK);
    cf_buf_release(&b);
}

/* ---- read snapshot ---- */
struct snap {
    struct cf_store *s;
    char first[16], second[16];
    cf_err write_err;
};

static cf_err snap_fn(struct cf_store_txn *t, void *arg)
{
    struct snap *sn = arg;
    struct cf_buf b;
    cf_err e;

    cf_buf_init(&b, 64);
    e = cf_store_meta_get(t, "snap", &b);
    if (!e)
        snprintf(sn->first, sizeof(sn->first), "%s", b.data);
    /* a write commits while this read transaction is open: WAL lets it through and the
     * snapshot does not see it */
    sn->write_err = meta_put(sn->s, "snap", "new");
    cf_buf_reset(&b);
    if (!e)
        e = cf_store_meta_get(t, "snap", &b);
    if (!e)
        snprintf(sn->second, sizeof(sn->second), "%s", b.data);
    cf_buf_release(&b);
    return e;
}

static void test_read_snapshot(void **state)
{
    struct fx *f = *state;
    struct snap sn = {f->s, "", "", CF_EINTERNAL};
    struct cf_buf b;

    assert_int_equal(meta_put(f->s, "snap", "old"), CF_OK);
    assert_int_equal(cf_store_read(f->s, snap_fn, &sn), CF_OK);
    assert_int_equal(sn.write_err, CF_OK);
    assert_string_equal(sn.first, "old");
    assert_string_equal(sn.second, "old");
    cf_buf_init(&b, 64);
    assert_int_equal(meta_get(f->s, "snap", &b), CF_OK);
    assert_string_equal(b.data, "new");
    cf_buf_release(&b);
}

/* ---- checkpoint policy: under back-to-back commits the checkpointer runs about once per
 * CKPT_FRAMES (4,096) frames appended, not after every commit once the WAL has grown past
 * that (it did: 250 checkpoints a second under SET load, each syncing the database twice);
 * and the WAL still starts over once it passes CKPT_RESTART_FRAMES (16,384), although the
 * checkpointer's PASSIVE checkpoints never catch up with a writer that never pauses ---- */
#define NCKPT 1800
#define CKPT_VAL (64 * 1024) /* ~17 frames a commit: ~30,000 frames in all */
#define WAL_BOUND ((off_t)(16384 + 2048) * (4096 + 24)) /* restart bound plus slack */

struct ckpt_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int failed;
    struct kv kv[NCKPT];
    char keys[NCKPT][16];
};

static void ckpt_done(cf_err e, void *arg)
{
    struct ckpt_state *st = arg;
    pthread_mutex_lock(&st->mu);
    st->failed += e != CF_OK;
    st->done++;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void test_checkpoints_follow_frames(void **state)
{
    struct fx *f = *state;
    struct ckpt_state *st = calloc(1, sizeof(*st));
    char *val = malloc(CKPT_VAL + 1);
    struct cf_store_stats stats;
    struct cf_store *s;
    struct stat sb;
    char wal[160];

    assert_non_null(st);
    assert_non_null(val);
    cf_store_close(f->s);
    f->s = s = open_store(f->path, 1); /* one job a commit, so NCKPT commits back to back */
    memset(val, 'v', CKPT_VAL);
    val[CKPT_VAL] = '\0';
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    for (int i = 0; i < NCKPT; i++) {
        snprintf(st->keys[i], sizeof(st->keys[i]), "c%d", i);
        st->kv[i] = (struct kv){st->keys[i], val, {0}, CF_OK};
        assert_int_equal(cf_store_write_async(s, put_fn, &st->kv[i], ckpt_done, st), CF_OK);
    }
    pthread_mutex_lock(&st->mu);
    while (st->done < NCKPT)
        pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    assert_int_equal(st->failed, 0);
    cf_store_stats(s, &stats);
    assert_int_equal(stats.commits, NCKPT);
    /* ~30,000 frames: seven or so by the threshold, the writer's catch-ups, an idle tick's */
    assert_true(stats.checkpoints >= 2);
    assert_true(stats.checkpoints <= 40);
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size <= WAL_BOUND);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(val);
    free(st);
}

static void test_open_bad_path(void **state)
{
    struct cf_store_opts o = {"/nonexistent-dir/x/y.db", 2, 8};
    cf_err e = CF_OK;
    (void)state;
    assert_null(cf_store_open_sqlite(&o, &e));
    assert_int_not_equal(e, CF_OK);
    o.path = NULL;
    assert_null(cf_store_open_sqlite(&o, &e));
    assert_int_equal(e, CF_EINVAL);
    cf_store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_principals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_in_read_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_write_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_done_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_answers_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_hooks_bracket_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoint_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_follow_frames, setup, teardown),
        cmocka_unit_test(test_open_bad_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

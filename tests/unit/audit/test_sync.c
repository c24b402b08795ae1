/* test_sync.c - durability and failure: non-durable appends are fast and synced in groups
 * within the interval; concurrent durable appends share fsyncs; a full disk (injected through
 * the io hooks: a short write, then ENOSPC), a failed fsync and a removed active file fail the
 * append, leave the log verifiable, and appends resume afterwards. Prints a small benchmark. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "crypto/crypto.h"
#include "audit/audit.h"
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/statfs.h>

#include <setjmp.h>
#include <cmocka.h>

struct hook {
    bool full;         /* writes fail with ENOSPC, after one short write */
    bool short_done;
    int fsync_fail;    /* fail this many fsyncs with EIO */
    int fsync_delay_us;
    int fsync_calls;
};

static ssize_t h_pwrite(void *ctx, int fd, const void *p, size_t n, off_t off)
{
    struct hook *h = ctx;
    if (h->full) {
        if (!h->short_done && n > 17) {
            h->short_done = true;
            return pwrite(fd, p, 17, off); /* a torn line on disk */
        }
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, p, n, off);
}

static int h_fsync(void *ctx, int fd)
{
    struct hook *h = ctx;
    __atomic_add_fetch(&h->fsync_calls, 1, __ATOMIC_RELAXED);
    if (h->fsync_delay_us)
        usleep((useconds_t)h->fsync_delay_us);
    if (h->fsync_fail > 0) {
        h->fsync_fail--;
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

struct fx {
    char dir[64];
    struct hook h;
    struct cf_audit_io io;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    test_mkdtemp(f->dir);
    f->io = (struct cf_audit_io){h_pwrite, h_fsync, &f->h};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    test_rmdir(f->dir);
    free(f);
    return 0;
}

static struct cf_audit *open_log(struct fx *f)
{
    struct cf_audit_config c = {0};
    struct cf_audit *a;
    cf_err e;
    c.dir = f->dir;
    c.mac_key = test_key;
    c.node_id = "n1";
    c.io = &f->io;
    a = cf_audit_open(&c, &e);
    assert_int_equal(e, CF_OK);
    return a;
}

static void expect_intact(struct fx *f, int64_t min_last_seq)
{
    struct cf_audit_verify_report r;
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, NULL, NULL, NULL, &r), CF_OK);
    if (r.brk != CF_AUDIT_INTACT)
        fail_msg("%s at %s:%llu: %s", cf_audit_break_name(r.brk), r.file,
                 (unsigned long long)r.line, r.detail);
    assert_true(r.last_seq >= min_last_seq);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_nondurable_fast_and_grouped(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f);
    struct cf_audit_stats st;
    double t0 = now_s(), dt;

    assert_int_equal(test_append_n(a, 0, 10000, false), CF_OK);
    dt = now_s() - t0;
    cf_audit_get_stats(a, &st);
    print_message("  non-durable: 10000 appends in %.3f s = %.0f appends/s, %llu fsyncs\n", dt,
                  10000 / dt, (unsigned long long)st.fsyncs);
    assert_true(dt < 2.0);
    /* Group sync: at most one per interval (plus open/header ones). */
    assert_true(st.fsyncs <= (uint64_t)(dt * 1000 / CF_AUDIT_DEFAULT_SYNC_MS) + 4);
    /* Within a few intervals the background thread has made everything durable. */
    for (int i = 0; i < 100 && st.synced_seq < st.seq; i++) {
        usleep(5000);
        cf_audit_get_stats(a, &st);
    }
    assert_int_equal(st.synced_seq, st.seq);
    cf_audit_close(a);
    expect_intact(f, 10001);
}

struct worker {
    struct cf_audit *a;
    int from, n;
    cf_err e;
};

static void *durable_worker(void *arg)
{
    struct worker *w = arg;
    w->e = test_append_n(w->a, w->from, w->n, true);
    return NULL;
}

static void run_durable_threads(struct cf_audit *a, int nthreads, int per, double *dt)
{
    pthread_t th[8];
    struct worker w[8];
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){a, i * per, per, CF_OK};
        assert_int_equal(pthread_create(&th[i], NULL, durable_worker, &w[i]), 0);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].e, CF_OK);
    }
    *dt = now_s() - t0;
}

static void test_durable_group_commit(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f);
    struct cf_audit_stats s0, s1;
    double dt;

    /* A slow disk (1 ms per fsync) makes the sharing visible and deterministic. */
    f->h.fsync_delay_us = 1000;
    cf_audit_get_stats(a, &s0);
    run_durable_threads(a, 4, 100, &dt);
    cf_audit_get_stats(a, &s1);
    print_message("  durable, 4 threads, 1 ms fsync: 400 appends in %.3f s, %llu fsyncs\n", dt,
                  (unsigned long long)(s1.fsyncs - s0.fsyncs));
    assert_int_equal(s1.synced_seq, s1.seq);
    assert_true(s1.fsyncs - s0.fsyncs <= 400 / 2);
    assert_true(s1.fsyncs - s0.fsyncs >= 400 / 8); /* and each durable append did wait */

    /* Figures on the real disk. */
    f->h.fsync_delay_us = 0;
    {
        double t0 = now_s();
        cf_audit_get_stats(a, &s0);
        assert_int_equal(test_append_n(a, 1000, 300, true), CF_OK);
        dt = now_s() - t0;
        cf_audit_get_stats(a, &s1);
        print_message("  durable, 1 thread: %.0f appends/s (%llu fsyncs for 300)\n", 300 / dt,
                      (unsigned long long)(s1.fsyncs - s0.fsyncs));
        assert_true(s1.fsyncs - s0.fsyncs >= 300);
    }
    cf_audit_get_stats(a, &s0);
    run_durable_threads(a, 4, 300, &dt);
    cf_audit_get_stats(a, &s1);
    print_message("  durable, 4 threads: %.0f appends/s (%llu fsyncs for 1200)\n", 1200 / dt,
                  (unsigned long long)(s1.fsyncs - s0.fsyncs));
    cf_audit_close(a);
    expect_intact(f, 1 + 400 + 300 + 1200);
}

static void test_disk_full_then_resume(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f);
    struct cf_audit_stats st;

    assert_int_equal(test_append_n(a, 0, 5, true), CF_OK);
    f->h.full = true;
    assert_int_equal(test_append_n(a, 5, 1, false), CF_EFULL); /* short write, then ENOSPC */
    assert_int_equal(test_append_n(a, 6, 1, true), CF_EFULL);
    assert_int_equal(cf_audit_rotate(a), CF_EFULL);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.seq, 6);
    assert_true(st.write_errors >= 2);
    /* Nothing torn stays on disk: the file verifies while the disk is still full. */
    expect_intact(f, 6);
    f->h.full = false;
    assert_int_equal(test_append_n(a, 7, 5, true), CF_OK);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.seq, 11);
    cf_audit_close(a);
    expect_intact(f, 11);
}

static void test_fsync_failure(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f);
    assert_int_equal(test_append_n(a, 0, 3, true), CF_OK);
    f->h.fsync_fail = 1;
    assert_int_equal(test_append_n(a, 3, 1, true), CF_EIO);
    /* The next append rereads the file and goes on. */
    assert_int_equal(test_append_n(a, 4, 3, true), CF_OK);
    assert_int_equal(cf_audit_sync(a), CF_OK);
    cf_audit_close(a);
    expect_intact(f, 7);
}

static void test_active_file_removed(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f);
    struct cf_audit_verify_report r;
    char active[160], p[256];
    assert_int_equal(test_append_n(a, 0, 3, true), CF_OK);
    assert_int_equal(cf_audit_rotate(a), CF_OK);
    assert_int_equal(test_append_n(a, 3, 3, true), CF_OK);
    cf_audit_active_file(a, active, sizeof(active));
    snprintf(p, sizeof(p), "%s/%s", f->dir, active);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(test_append_n(a, 6, 1, true), CF_EIO);
    assert_int_equal(test_append_n(a, 7, 2, true), CF_OK); /* in a new file */
    cf_audit_close(a);
    /* The removal shows: the new file does not continue the first one. */
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, NULL, NULL, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_DELETED);
}

static void test_sync_interval(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f);
    struct cf_audit_stats st;
    int64_t t0;
    assert_int_equal(test_append_n(a, 0, 1, false), CF_OK);
    t0 = cf_mono_ms();
    do {
        usleep(1000);
        cf_audit_get_stats(a, &st);
    } while (st.synced_seq < st.seq && cf_mono_ms() - t0 < 1000);
    print_message("  one non-durable record synced after %lld ms\n",
                  (long long)(cf_mono_ms() - t0));
    assert_true(cf_mono_ms() - t0 < 200);
    cf_audit_close(a);
}

/* Synced pages leave the page cache (log.c, do_sync): after a sync only the newest
 * cache_keep_bytes (64 KiB here: 16 pages) and the page they start in stay resident. On tmpfs
 * the cache is the file: skipped. */
static void test_synced_pages_leave_cache(void **state)
{
    struct fx *f = *state;
    struct cf_audit_config c = {0};
    struct cf_audit *a;
    char name[160], path[256];
    unsigned char vec[1024];
    struct statfs sf;
    struct stat st;
    size_t pages, resident = 0;
    void *m;
    int fd;
    cf_err e;

    c.dir = f->dir;
    c.mac_key = test_key;
    c.node_id = "n1";
    c.cache_keep_bytes = 64 * 1024;
    a = cf_audit_open(&c, &e);
    assert_int_equal(e, CF_OK);
    assert_int_equal(statfs(f->dir, &sf), 0);
    if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC) {
        cf_audit_close(a);
        skip();
    }
    assert_int_equal(test_append_n(a, 0, 3000, false), CF_OK);
    assert_int_equal(cf_audit_sync(a), CF_OK);
    cf_audit_active_file(a, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    pages = ((size_t)st.st_size + 4095) / 4096;
    assert_true(pages > 64 && pages <= sizeof(vec));
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mincore(m, (size_t)st.st_size, vec), 0);
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    print_message("  %zu of %zu pages of a synced %lld-byte file still cached\n", resident, pages,
                  (long long)st.st_size);
    assert_true(resident <= 17);
    for (size_t i = 0; i + 17 < pages; i++)
        assert_int_equal(vec[i] & 1, 0);
    munmap(m, (size_t)st.st_size);
    close(fd);
    cf_audit_close(a);
    expect_intact(f, 3001);
}

int main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_nondurable_fast_and_grouped), T(test_durable_group_commit),
        T(test_disk_full_then_resume),       T(test_fsync_failure),
        T(test_active_file_removed),         T(test_sync_interval),
        T(test_synced_pages_leave_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_seen.c - the first-read set: the first note of a triple is "first", later ones are
 * not; the parts are kept apart ("a"+"bc" != "ab"+"c"); memory is bounded - after many more
 * distinct triples than the capacity the oldest are forgotten (first again) while the most
 * recent are remembered; concurrent notes of one new triple yield exactly one first. */
#include "base/cf.h"
#include "metrics/metrics.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>

#include <cmocka.h>

static struct cf_metrics *mk(size_t cap)
{
    cf_err e;
    char err[128];
    struct cf_metrics *m = cf_metrics_new(&(struct cf_metrics_opts){.seen_capacity = cap}, &e);
    assert_non_null(m);
    /* the set is fed only when some rule wants first reads */
    assert_int_equal(cf_metrics_add_rule(m, "fr", "first_read", 0, err, sizeof(err)), CF_OK);
    return m;
}

/* Without a first_read rule the set is not fed at all (the GET path pays nothing). */
static void off_without_a_rule(void **state)
{
    cf_err e;
    struct cf_metrics *m = cf_metrics_new(&(struct cf_metrics_opts){.seen_capacity = 0}, &e);
    (void)state;
    assert_non_null(m);
    assert_false(cf_metrics_note_read(m, "o", "v", "s"));
    assert_false(cf_metrics_note_read(m, "o", "v", "s"));
    cf_metrics_free(m);
}

static void first_then_seen(void **state)
{
    struct cf_metrics *m = mk(0);
    (void)state;

    assert_true(cf_metrics_note_read(m, "o", "v", "s"));
    assert_false(cf_metrics_note_read(m, "o", "v", "s"));
    assert_true(cf_metrics_note_read(m, "o", "v", "s2"));
    assert_true(cf_metrics_note_read(m, "o", "v2", "s"));
    assert_true(cf_metrics_note_read(m, "o2", "v", "s"));
    /* field boundaries matter */
    assert_true(cf_metrics_note_read(m, "a", "bc", "d"));
    assert_true(cf_metrics_note_read(m, "ab", "c", "d"));
    assert_true(cf_metrics_note_read(m, "ab", "", "cd"));
    assert_false(cf_metrics_note_read(m, "", "v", "s")); /* no principal: not counted */
    assert_false(cf_metrics_note_read(NULL, "o", "v", "s"));
    cf_metrics_free(m);
}

static void bounded(void **state)
{
    struct cf_metrics *m = mk(1024);
    char name[32];
    size_t forgotten = 0, remembered = 0;
    (void)state;

    for (int i = 0; i < 1024 * 16; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        assert_true(cf_metrics_note_read(m, "oid", "v", name));
    }
    /* the most recent 64 are still there (each set keeps its 8 newest) */
    for (int i = 1024 * 16 - 64; i < 1024 * 16; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        remembered += !cf_metrics_note_read(m, "oid", "v", name);
    }
    assert_true(remembered >= 60);
    /* most of the first 1024 are forgotten: 16 x the capacity went through */
    for (int i = 0; i < 1024; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        forgotten += cf_metrics_note_read(m, "oid", "v", name);
    }
    assert_true(forgotten > 1000);
    cf_metrics_free(m);
}

static struct cf_metrics *shared;
static int firsts;
static pthread_mutex_t firsts_mu = PTHREAD_MUTEX_INITIALIZER;

static void *reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        if (cf_metrics_note_read(shared, "o", "v", name)) {
            pthread_mutex_lock(&firsts_mu);
            firsts++;
            pthread_mutex_unlock(&firsts_mu);
        }
    }
    return NULL;
}

static void concurrent_one_first(void **state)
{
    pthread_t t[4];
    (void)state;

    shared = mk(0);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(firsts, 2000);
    cf_metrics_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(off_without_a_rule),
        cmocka_unit_test(first_then_seen),
        cmocka_unit_test(bounded),
        cmocka_unit_test(concurrent_one_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

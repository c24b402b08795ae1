/* test_scache.c - the secret read cache never serves stale data: every write to a name is seen
 * by the next read (new version, update, disable, delete, recover, purge, restore), versioned
 * reads of older versions bypass it, and many threads reading while one writes always see a
 * version at least as new as the last acknowledged write. */
#include "fixture.h"

#include <pthread.h>

static void get_value(struct fx *f, const char *name, const char *version, const char *want,
                      cf_err want_e)
{
    struct cf_secret_meta m;
    struct cf_secret *val = NULL;
    cf_err e = cf_secret_get(f->svc, &f->ref, cf_str_from(name), cf_str_from(version), &m, &val);
    assert_int_equal(e, want_e);
    if (want) {
        assert_non_null(val);
        assert_string_equal((const char *)val->p, want);
    }
    cf_secret_free(val);
    cf_secret_meta_release(&m);
}

static void test_writes_invalidate(void **state)
{
    struct fx *f = *state;
    struct cf_secret_meta m, m1;
    struct cf_secret_input in = {0};
    struct cf_buf blob;

    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("Hot"), CF_STR("one"), NULL, &m1),
                     CF_OK);
    get_value(f, "hot", "", "one", CF_OK);
    get_value(f, "hot", "", "one", CF_OK); /* from the cache */
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("hot"), CF_STR("two"), NULL, &m),
                     CF_OK);
    cf_secret_meta_release(&m);
    get_value(f, "HOT", "", "two", CF_OK);
    get_value(f, "hot", m1.version, "one", CF_OK); /* an older version, by id */
    in.has_enabled = true;
    in.enabled = false;
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("hot"), CF_STR(""), &in, &m), CF_OK);
    cf_secret_meta_release(&m);
    get_value(f, "hot", "", NULL, CF_EDISABLED);
    in.enabled = true;
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("hot"), CF_STR(""), &in, &m), CF_OK);
    cf_secret_meta_release(&m);
    get_value(f, "hot", "", "two", CF_OK);
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("hot"), &blob), CF_OK);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("hot"), &m), CF_OK);
    cf_secret_meta_release(&m);
    get_value(f, "hot", "", NULL, CF_ENOTFOUND);
    assert_int_equal(cf_secret_recover(f->svc, &f->ref, CF_STR("hot"), &m), CF_OK);
    cf_secret_meta_release(&m);
    get_value(f, "hot", "", "two", CF_OK);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("hot"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_purge(f->svc, &f->ref, CF_STR("hot")), CF_OK);
    get_value(f, "hot", "", NULL, CF_ENOTFOUND);
    assert_int_equal(cf_secret_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_OK);
    cf_secret_meta_release(&m);
    get_value(f, "hot", "", "two", CF_OK);
    cf_buf_release(&blob);
    cf_secret_meta_release(&m1);
}

static int atoi_safe(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

struct race {
    struct fx *f;
    int acked; /* last value number whose set returned (atomic) */
    bool stop; /* atomic */
    int stale;
};

static void *reader(void *arg)
{
    struct race *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
        int before = __atomic_load_n(&r->acked, __ATOMIC_SEQ_CST);
        struct cf_secret_meta m;
        struct cf_secret *val = NULL;
        if (cf_secret_get(r->f->svc, &r->f->ref, CF_STR("race"), CF_STR(""), &m, &val) == CF_OK) {
            if (atoi_safe((const char *)val->p) < before)
                __atomic_add_fetch(&r->stale, 1, __ATOMIC_RELAXED);
        }
        cf_secret_free(val);
        cf_secret_meta_release(&m);
    }
    return NULL;
}

static void test_no_stale_reads_under_writes(void **state)
{
    struct fx *f = *state;
    struct race r = {.f = f};
    pthread_t th[3];
    char v[16];
    struct cf_secret_meta m;

    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("race"), CF_STR("0"), NULL, &m), CF_OK);
    cf_secret_meta_release(&m);
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, &r);
    for (int i = 1; i <= 150; i++) {
        snprintf(v, sizeof(v), "%d", i);
        assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("race"), cf_str_from(v), NULL, &m),
                         CF_OK);
        cf_secret_meta_release(&m);
        __atomic_store_n(&r.acked, i, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&r.stop, true, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r.stale, 0);
    get_value(f, "race", "", "150", CF_OK);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_writes_invalidate),
        T(test_no_stale_reads_under_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

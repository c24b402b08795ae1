/* test_throttle.c - the token buckets with a hand-driven clock: a vault's budget per class,
 * refill over 10 s, the principal's larger budget shared across vaults, refusals that charge
 * nothing and say when to retry, classes that do not touch each other, weights, bounded
 * memory under many callers, and concurrent admission never over-admitting. */
#include "base/cf.h"
#include "auth/throttle.h"

#include <pthread.h>
#include <setjmp.h>

#include <cmocka.h>

struct fake_clock {
    struct cf_clock c;
    int64_t ms;
};

static int64_t fake_now(const struct cf_clock *c)
{
    return ((const struct fake_clock *)(const void *)c)->ms;
}

static struct fake_clock clk;

static struct cf_throttle *mk(int secret_create, int other, int factor)
{
    struct cf_throttle_limits l;
    struct cf_throttle *t;
    cf_err e;

    cf_throttle_limits_default(&l);
    l.per_10s[CF_THROTTLE_SECRET_CREATE] = secret_create;
    l.per_10s[CF_THROTTLE_OTHER] = other;
    l.principal_factor = factor;
    clk.c.now_ms = fake_now;
    clk.ms = 1000000;
    t = cf_throttle_new(&l, &clk.c, &e);
    assert_non_null(t);
    return t;
}

static int admit_n(struct cf_throttle *t, int64_t vault, const char *who,
                   enum cf_throttle_class cls, int n)
{
    int ok = 0, ra;
    for (int i = 0; i < n; i++)
        ok += cf_throttle_admit(t, vault, who, cls, 1, &ra);
    return ok;
}

static void defaults_are_azures(void **state)
{
    struct cf_throttle_limits l;
    (void)state;
    cf_throttle_limits_default(&l);
    assert_int_equal(l.per_10s[CF_THROTTLE_SECRET_CREATE], 300);
    assert_int_equal(l.per_10s[CF_THROTTLE_KEY_CREATE], 20);
    assert_int_equal(l.per_10s[CF_THROTTLE_KEY_OTHER], 4000);
    assert_int_equal(l.per_10s[CF_THROTTLE_OTHER], 4000);
    assert_int_equal(cf_throttle_class_of("SecretSet"), CF_THROTTLE_SECRET_CREATE);
    assert_int_equal(cf_throttle_class_of("KeyImport"), CF_THROTTLE_SECRET_CREATE);
    assert_int_equal(cf_throttle_class_of("CertificateImport"), CF_THROTTLE_SECRET_CREATE);
    assert_int_equal(cf_throttle_class_of("KeyCreate"), CF_THROTTLE_KEY_CREATE);
    assert_int_equal(cf_throttle_class_of("KeySign"), CF_THROTTLE_KEY_OTHER);
    assert_int_equal(cf_throttle_class_of("SecretGet"), CF_THROTTLE_OTHER);
    assert_int_equal(cf_throttle_class_of(NULL), CF_THROTTLE_OTHER);
}

static void vault_budget_and_refill(void **state)
{
    struct cf_throttle *t = mk(300, 4000, 5);
    int ra = 0;
    (void)state;
    assert_int_equal(admit_n(t, 1, "p1", CF_THROTTLE_SECRET_CREATE, 300), 300);
    assert_false(cf_throttle_admit(t, 1, "p1", CF_THROTTLE_SECRET_CREATE, 1, &ra));
    assert_true(ra >= 1);
    /* refused requests charge nothing: after 1/300 of the window exactly one more fits */
    for (int i = 0; i < 50; i++)
        assert_false(cf_throttle_admit(t, 1, "p1", CF_THROTTLE_SECRET_CREATE, 1, &ra));
    clk.ms += 34;
    assert_true(cf_throttle_admit(t, 1, "p1", CF_THROTTLE_SECRET_CREATE, 1, &ra));
    assert_false(cf_throttle_admit(t, 1, "p1", CF_THROTTLE_SECRET_CREATE, 1, &ra));
    /* other classes and other vaults are untouched */
    assert_int_equal(admit_n(t, 1, "p1", CF_THROTTLE_OTHER, 100), 100);
    assert_int_equal(admit_n(t, 2, "p1", CF_THROTTLE_SECRET_CREATE, 300), 300);
    /* after a whole window the budget is full again, not more */
    clk.ms += 10000;
    assert_int_equal(admit_n(t, 1, "p1", CF_THROTTLE_SECRET_CREATE, 400), 300);
    cf_throttle_free(t);
}

static void principal_budget_spans_vaults(void **state)
{
    struct cf_throttle *t = mk(10, 4000, 3);
    int ok = 0, ra = 0;
    (void)state;
    /* 10 per vault, 30 per principal: five vaults give the principal only 30 */
    for (int64_t v = 1; v <= 5; v++)
        ok += admit_n(t, v, "busy", CF_THROTTLE_SECRET_CREATE, 10);
    assert_int_equal(ok, 30);
    assert_false(cf_throttle_admit(t, 6, "busy", CF_THROTTLE_SECRET_CREATE, 1, &ra));
    assert_true(ra >= 1 && ra <= 10);
    /* another principal still has vault 6 (and the unused budget of 4 and 5) */
    assert_int_equal(admit_n(t, 6, "quiet", CF_THROTTLE_SECRET_CREATE, 10), 10);
    cf_throttle_free(t);
}

static void weights_and_retry_after(void **state)
{
    struct cf_throttle *t = mk(300, 4000, 5);
    int ra = 0;
    (void)state;
    /* an RSA-4096 operation weighs 8 */
    for (int i = 0; i < 500; i++)
        assert_true(cf_throttle_admit(t, 1, "p", CF_THROTTLE_KEY_OTHER, 8, &ra));
    assert_false(cf_throttle_admit(t, 1, "p", CF_THROTTLE_KEY_OTHER, 8, &ra));
    assert_int_equal(ra, 1); /* 8 tokens come back in 20 ms */
    assert_int_equal(admit_n(t, 1, "p", CF_THROTTLE_SECRET_CREATE, 300), 300);
    assert_false(cf_throttle_admit(t, 1, "p", CF_THROTTLE_SECRET_CREATE, 300, &ra));
    assert_int_equal(ra, 10); /* the whole budget takes the whole window */
    /* limit 0: not limited */
    cf_throttle_free(t);
    t = mk(0, 4000, 5);
    assert_int_equal(admit_n(t, 1, "p", CF_THROTTLE_SECRET_CREATE, 5000), 5000);
    cf_throttle_free(t);
}

static void many_callers_bounded(void **state)
{
    struct cf_throttle *t = mk(300, 4000, 1);
    char who[40];
    int ra;
    (void)state;
    /* 100,000 distinct principals in one instant: every one is admitted once (no one is
     * refused for another's budget), and memory stays the fixed table */
    for (int i = 0; i < 100000; i++) {
        snprintf(who, sizeof(who), "p-%d", i);
        assert_true(cf_throttle_admit(t, 1000 + i, who, CF_THROTTLE_OTHER, 1, &ra));
    }
    cf_throttle_free(t);
}

struct race {
    struct cf_throttle *t;
    int admitted;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    int ra;
    for (int i = 0; i < 5000; i++)
        if (cf_throttle_admit(r->t, 7, "shared", CF_THROTTLE_OTHER, 1, &ra))
            r->admitted++;
    return NULL;
}

static void concurrent_never_over_admits(void **state)
{
    struct cf_throttle *t = mk(300, 4000, 1);
    struct race rs[4];
    pthread_t th[4];
    int total = 0;
    (void)state;
    for (int i = 0; i < 4; i++) {
        rs[i] = (struct race){t, 0};
        assert_int_equal(pthread_create(&th[i], NULL, racer, &rs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += rs[i].admitted;
    }
    assert_int_equal(total, 4000); /* the clock does not move: exactly the budget */
    cf_throttle_free(t);
}

static void bad_limits_refused(void **state)
{
    struct cf_throttle_limits l;
    cf_err e;
    (void)state;
    cf_throttle_limits_default(&l);
    l.principal_factor = 0;
    clk.c.now_ms = fake_now;
    assert_null(cf_throttle_new(&l, &clk.c, &e));
    assert_int_equal(e, CF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_azures),
        cmocka_unit_test(vault_budget_and_refill),
        cmocka_unit_test(principal_budget_spans_vaults),
        cmocka_unit_test(weights_and_retry_after),
        cmocka_unit_test(many_callers_bounded),
        cmocka_unit_test(concurrent_never_over_admits),
        cmocka_unit_test(bad_limits_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

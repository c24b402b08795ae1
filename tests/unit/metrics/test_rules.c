/* test_rules.c - alert rules: what parses and what is refused (with the position), evaluation
 * of each form (plain value, rate, increase, avg, availability, saturation, gauges, label
 * matchers incl. status classes and !=), the for-duration on the tick grid, resolve events,
 * first_read events, the coffer_alerts_* series, durations, and the tick thread. */
#include "base/cf.h"
#include "metrics/metrics.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* What the sink received. */
struct events {
    int fired, resolved;
    char last_rule[64], last_detail[512];
    double last_value;
    int64_t last_time;
};

static void sink(void *arg, const struct cf_metrics_alert *a)
{
    struct events *ev = arg;
    if (a->firing)
        ev->fired++;
    else
        ev->resolved++;
    snprintf(ev->last_rule, sizeof(ev->last_rule), "%s", a->rule);
    snprintf(ev->last_detail, sizeof(ev->last_detail), "%s", a->detail);
    ev->last_value = a->value;
    ev->last_time = a->time_ms;
}

static struct cf_metrics *mk(struct events *ev, int64_t tick_ms)
{
    cf_err e;
    struct cf_metrics *m;

    clk.c.now_ms = fake_now;
    clk.ms = 1700000000000;
    m = cf_metrics_new(&(struct cf_metrics_opts){.clock = &clk.c, .tick_ms = tick_ms}, &e);
    assert_non_null(m);
    memset(ev, 0, sizeof(*ev));
    cf_metrics_set_alert_sink(m, sink, ev);
    return m;
}

static double sealed_value;
static double g_sealed(void *arg)
{
    (void)arg;
    return sealed_value;
}

static void parse_good_and_bad(void **state)
{
    static const char *const good[] = {
        "availability < 0.99",
        "availability{vault=\"v1\"} < 99%",
        "coffer_availability_ratio <= 0.5",
        "saturation > 0.75",
        "rate(coffer_api_requests_total{status=\"403\"}[1m]) > 10",
        "increase(coffer_api_requests_total{status=\"5xx\",vault!=\"x\"}[5m]) >= 1",
        "rate ( coffer_api_requests_total { operation = \"SecretGet\" , } [ 30s ] ) != 0",
        "avg(coffer_api_latency_seconds{operation=\"SecretGet\"}[5m]) > 1",
        "avg(coffer_store_commit_seconds[1m]) > 0.05",
        "coffer_api_requests_total > 1e6",
        "coffer_sealed == 1",
        "coffer_tokens_issued_total > 100",
        "rate(process_cpu_seconds_total[1m]) > 1.5",
        "process_open_fds > 1000",
        "first_read",
        "  first_read  ",
    };
    static const struct {
        const char *expr, *err;
    } bad[] = {
        {"", "position 1: expected a name"},
        {"availability", "position 13: expected a comparison (< <= > >= == !=)"},
        {"availability <", "position 15: expected a number"},
        {"availability < x", "position 16: expected a number"},
        {"availabilty < 1", "position 1: unknown metric"},
        {"availability{status=\"500\"} < 1", "position 14: this metric has no such label"},
        {"availability{foo=\"x\"} < 1", "position 14: unknown label (vault, operation, status)"},
        {"rate(coffer_api_requests_total[1m] > 1", "position 36: expected ')'"},
        {"rate(coffer_api_requests_total) > 1", "position 31: expected '['"},
        {"rate(coffer_api_requests_total[2h]) > 1",
         "position 32: expected a duration such as 30s, 5m or 1h (at most 1h)"},
        {"rate(coffer_api_requests_total[10]) > 1",
         "position 32: expected a duration such as 30s, 5m or 1h (at most 1h)"},
        {"rate(availability[1m]) > 1", "position 6: rate() and increase() take a counter"},
        {"rate(coffer_sealed[1m]) > 1", "position 6: rate() and increase() take a counter"},
        {"coffer_api_latency_seconds > 1", "position 1: a histogram needs avg(NAME[DUR])"},
        {"avg(coffer_api_requests_total[1m]) > 1",
         "position 5: avg() takes a histogram (coffer_api_latency_seconds, "
         "coffer_store_commit_seconds)"},
        {"coffer_api_requests_total{status=403} > 1", "position 34: expected '\"'"},
        {"coffer_api_requests_total{status=\"403} > 1", "position 43: expected '\"'"},
        {"availability < 1 and more", "position 18: unexpected text after the expression"},
        {"first_read > 1", "position 12: unexpected text after the expression"},
        {"coffer_api_requests_total{a=\"1\",b=\"2\"} > 1",
         "position 27: unknown label (vault, operation, status)"},
        {"coffer_api_requests_total{vault=\"a\",vault=\"b\",vault=\"c\",vault=\"d\",vault=\"e\"} > "
         "1",
         "position 67: too many label matchers (at most 4)"},
    };
    struct events ev;
    struct cf_metrics *m = mk(&ev, 0);
    char err[200], name[16];
    (void)state;

    assert_int_equal(cf_metrics_add_gauge(m, "coffer_sealed", "", CF_METRICS_GAUGE, g_sealed, NULL),
                     CF_OK);
    for (size_t i = 0; i < CF_ARRAY_LEN(good); i++) {
        snprintf(name, sizeof(name), "g%zu", i);
        cf_err e = cf_metrics_add_rule(m, name, good[i], 0, err, sizeof(err));
        if (e != CF_OK)
            fail_msg("'%s' refused: %s", good[i], err);
    }
    for (size_t i = 0; i < CF_ARRAY_LEN(bad); i++) {
        snprintf(name, sizeof(name), "b%zu", i);
        assert_int_equal(cf_metrics_add_rule(m, name, bad[i].expr, 0, err, sizeof(err)), CF_EINVAL);
        if (strcmp(err, bad[i].err) != 0)
            fail_msg("'%s': got '%s', want '%s'", bad[i].expr, err, bad[i].err);
    }
    assert_int_equal(cf_metrics_add_rule(m, "g0", "availability < 1", 0, err, sizeof(err)),
                     CF_EEXISTS);
    assert_int_equal(cf_metrics_add_rule(m, "bad name", "availability < 1", 0, err, sizeof(err)),
                     CF_EINVAL);
    assert_int_equal(cf_metrics_add_rule(m, "neg", "availability < 1", -1, err, sizeof(err)),
                     CF_EINVAL);
    for (size_t i = CF_ARRAY_LEN(good); i < CF_METRICS_MAX_RULES; i++) {
        snprintf(name, sizeof(name), "f%zu", i);
        assert_int_equal(cf_metrics_add_rule(m, name, "availability < 1", 0, err, sizeof(err)),
                         CF_OK);
    }
    assert_int_equal(cf_metrics_add_rule(m, "full", "availability < 1", 0, err, sizeof(err)),
                     CF_EFULL);
    cf_metrics_free(m);
}

static void increase_fires_and_resolves(void **state)
{
    struct events ev;
    struct cf_metrics *m = mk(&ev, 15000);
    char err[200];
    (void)state;

    assert_int_equal(cf_metrics_add_rule(m, "forbidden",
                                         "increase(coffer_api_requests_total{status=\"403\"}[1m])"
                                         " > 3",
                                         0, err, sizeof(err)),
                     CF_OK);
    for (int i = 0; i < 3; i++)
        cf_metrics_request(m, "v", "SecretGet", 403, 10);
    for (int i = 0; i < 10; i++)
        cf_metrics_request(m, "v", "SecretGet", 200, 10);
    clk.ms += 15000;
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 0); /* 3 is not > 3 */
    cf_metrics_request(m, "w", "SecretSet", 403, 10);
    clk.ms += 15000;
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 1);
    assert_string_equal(ev.last_rule, "forbidden");
    assert_true(ev.last_value == 4);
    assert_int_equal(ev.last_time, clk.ms);
    /* still firing: no second event */
    clk.ms += 15000;
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 1);
    /* a minute later the 403s left the window */
    for (int i = 0; i < 4; i++) {
        clk.ms += 15000;
        cf_metrics_tick(m);
    }
    assert_int_equal(ev.resolved, 1);
    assert_int_equal(ev.fired, 1);
    struct cf_buf b;
    cf_buf_init(&b, 1 << 24);
    assert_int_equal(cf_metrics_render(m, &b), CF_OK);
    assert_non_null(strstr(b.data, "\ncoffer_alerts_firing{rule=\"forbidden\"} 0\n"));
    assert_non_null(strstr(b.data, "\ncoffer_alerts_fired_total{rule=\"forbidden\"} 1\n"));
    cf_buf_release(&b);
    cf_metrics_free(m);
}

static void for_duration(void **state)
{
    struct events ev;
    struct cf_metrics *m = mk(&ev, 15000);
    char err[200];
    int64_t t0 = clk.ms;
    (void)state;

    assert_int_equal(cf_metrics_add_rule(m, "avail", "availability < 99%", 60000, err, sizeof(err)),
                     CF_OK);
    for (int i = 0; i < 98; i++)
        cf_metrics_request(m, "good", "SecretGet", 200, 10);
    for (int i = 0; i < 2; i++)
        cf_metrics_request(m, "bad", "SecretGet", i ? 500 : 200, 10);
    /* holds from the first tick (15 s) on; fires at the first tick >= 60 s later (75 s) */
    for (int s = 15; s <= 60; s += 15) {
        clk.ms = t0 + s * 1000;
        cf_metrics_tick(m);
        assert_int_equal(ev.fired, 0);
    }
    clk.ms = t0 + 75000;
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 1);
    assert_true(ev.last_value == 0.5);
    assert_string_equal(ev.last_detail, "vault=bad");
    cf_metrics_free(m);

    /* an interruption restarts the clock */
    m = mk(&ev, 15000);
    t0 = clk.ms;
    sealed_value = 1;
    assert_int_equal(cf_metrics_add_gauge(m, "coffer_sealed", "", CF_METRICS_GAUGE, g_sealed, NULL),
                     CF_OK);
    assert_int_equal(
        cf_metrics_add_rule(m, "sealed", "coffer_sealed == 1", 30000, err, sizeof(err)), CF_OK);
    clk.ms = t0 + 15000;
    cf_metrics_tick(m); /* pending since 15 */
    sealed_value = 0;
    clk.ms = t0 + 30000;
    cf_metrics_tick(m);
    sealed_value = 1;
    clk.ms = t0 + 45000;
    cf_metrics_tick(m); /* pending since 45 */
    clk.ms = t0 + 60000;
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 0);
    clk.ms = t0 + 75000;
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 1);
    assert_int_equal(ev.resolved, 0);
    cf_metrics_free(m);
}

static void rate_avg_matchers(void **state)
{
    struct events ev;
    struct cf_metrics *m = mk(&ev, 15000);
    char err[200];
    (void)state;

    assert_int_equal(cf_metrics_add_rule(m, "rate",
                                         "rate(coffer_api_requests_total{vault=\"v\"}[1m]) > 1", 0,
                                         err, sizeof(err)),
                     CF_OK);
    assert_int_equal(cf_metrics_add_rule(m, "slow",
                                         "avg(coffer_api_latency_seconds{operation=\"KeySign\"}"
                                         "[1m]) > 0.5",
                                         0, err, sizeof(err)),
                     CF_OK);
    assert_int_equal(cf_metrics_add_rule(m, "c4xx",
                                         "increase(coffer_api_requests_total{status=\"4xx\","
                                         "operation!=\"SecretGet\"}[1m]) >= 2",
                                         0, err, sizeof(err)),
                     CF_OK);
    /* 60 requests in a minute: rate 1/s is not > 1 */
    for (int i = 0; i < 60; i++)
        cf_metrics_request(m, "v", "SecretGet", 404, 10);
    cf_metrics_request(m, "w", "SecretGet", 200, 10); /* other vault */
    cf_metrics_request(m, "v", "KeySign", 200, 400000);
    cf_metrics_request(m, "v", "KeySign", 200, 500000);
    clk.ms += 60000;
    cf_metrics_tick(m);
    /* 62 from v in 60 s: fires; KeySign average 0.45 s: not; 4xx outside SecretGet: none */
    assert_int_equal(ev.fired, 1);
    assert_string_equal(ev.last_rule, "rate");
    assert_true(fabs(ev.last_value - 62.0 / 60.0) < 1e-9);
    cf_metrics_request(m, "v", "KeySign", 403, 900000);
    cf_metrics_request(m, "v", "KeySign", 401, 900000);
    clk.ms += 15000;
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 3); /* slow (avg (0.4+0.5+0.9+0.9)/4 = 0.675) and c4xx */
    cf_metrics_free(m);
}

static void first_read_events(void **state)
{
    struct events ev;
    struct cf_metrics *m = mk(&ev, 15000);
    char err[200];
    (void)state;

    assert_int_equal(cf_metrics_add_rule(m, "newreader", "first_read", 0, err, sizeof(err)), CF_OK);
    assert_true(cf_metrics_note_read(m, "oid-1", "v", "db-password"));
    assert_false(cf_metrics_note_read(m, "oid-1", "v", "db-password"));
    assert_true(cf_metrics_note_read(m, "oid-2", "v", "db-password"));
    assert_false(cf_metrics_note_read(m, NULL, "v", "x"));
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 1);
    assert_string_equal(
        ev.last_detail,
        "oid=oid-1 vault=v secret=db-password; oid=oid-2 vault=v secret=db-password");
    assert_true(isnan(ev.last_value));
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 1); /* nothing new */
    for (int i = 0; i < 20; i++) {
        char oid[16];
        snprintf(oid, sizeof(oid), "o%d", i);
        cf_metrics_note_read(m, oid, "v", "s");
    }
    cf_metrics_tick(m);
    assert_int_equal(ev.fired, 2);
    assert_non_null(strstr(ev.last_detail, "oid=o7 vault=v secret=s (+12 more)"));
    assert_null(strstr(ev.last_detail, "oid=o8 "));
    cf_metrics_free(m);
}

static void durations(void **state)
{
    int64_t ms;
    (void)state;
    assert_int_equal(cf_metrics_parse_duration("1m", &ms), CF_OK);
    assert_int_equal(ms, 60000);
    assert_int_equal(cf_metrics_parse_duration("90s", &ms), CF_OK);
    assert_int_equal(ms, 90000);
    assert_int_equal(cf_metrics_parse_duration("15", &ms), CF_OK);
    assert_int_equal(ms, 15000);
    assert_int_equal(cf_metrics_parse_duration("1.5h", &ms), CF_OK);
    assert_int_equal(ms, 5400000);
    assert_int_equal(cf_metrics_parse_duration(" 0 ", &ms), CF_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(cf_metrics_parse_duration("1d", &ms), CF_EINVAL);
    assert_int_equal(cf_metrics_parse_duration("-1s", &ms), CF_EINVAL);
    assert_int_equal(cf_metrics_parse_duration("", &ms), CF_EINVAL);
    assert_int_equal(cf_metrics_parse_duration("m", &ms), CF_EINVAL);
    assert_int_equal(cf_metrics_parse_duration("5mm", &ms), CF_EINVAL);
    assert_int_equal(cf_metrics_parse_duration(NULL, &ms), CF_EINVAL);
}

static void tick_thread(void **state)
{
    struct events ev;
    struct cf_metrics *m;
    cf_err e;
    char err[200];
    (void)state;

    memset(&ev, 0, sizeof(ev));
    m = cf_metrics_new(&(struct cf_metrics_opts){.tick_ms = 20}, &e); /* the real clock */
    assert_non_null(m);
    cf_metrics_set_alert_sink(m, sink, &ev);
    assert_int_equal(cf_metrics_add_rule(m, "any5xx",
                                         "increase(coffer_api_requests_total{status=\"5xx\"}[1m])"
                                         " > 0",
                                         0, err, sizeof(err)),
                     CF_OK);
    assert_int_equal(cf_metrics_start(m), CF_OK);
    assert_int_equal(cf_metrics_start(m), CF_EINVAL);
    cf_metrics_request(m, "v", "SecretGet", 503, 10);
    for (int i = 0; i < 200; i++) {
        struct cf_buf b;
        bool fired;
        cf_buf_init(&b, 1 << 24);
        assert_int_equal(cf_metrics_render(m, &b), CF_OK);
        fired = strstr(b.data, "coffer_alerts_fired_total{rule=\"any5xx\"} 1\n") != NULL;
        cf_buf_release(&b);
        if (fired)
            break;
        usleep(10000);
    }
    cf_metrics_free(m); /* joins the thread */
    assert_int_equal(ev.fired, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_good_and_bad), cmocka_unit_test(increase_fires_and_resolves),
        cmocka_unit_test(for_duration),       cmocka_unit_test(rate_avg_matchers),
        cmocka_unit_test(first_read_events),  cmocka_unit_test(durations),
        cmocka_unit_test(tick_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_metrics.c - recording and exposition: the exact text of the request, latency,
 * availability and token families, a structural check of the whole document (HELP then TYPE,
 * samples of the family just typed, numeric values, no duplicate series), histogram bucket
 * edges, the cardinality bound ("_other"), exact totals under concurrent recording, callback
 * gauges (names checked, NaN omitted), process figures, the availability window and the
 * saturation fallback with a hand-driven clock, and the store commit histogram. */
#include "base/cf.h"
#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

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

static struct cf_metrics *mk(int64_t tick_ms, double sat_capacity)
{
    cf_err e;
    struct cf_metrics *m;

    clk.c.now_ms = fake_now;
    clk.ms = 1700000000000;
    m = cf_metrics_new(&(struct cf_metrics_opts){.clock = &clk.c,
                                                 .tick_ms = tick_ms,
                                                 .saturation_capacity = sat_capacity},
                       &e);
    assert_non_null(m);
    assert_int_equal(e, CF_OK);
    return m;
}

/* The exposition into a malloc'd string. */
static char *render(struct cf_metrics *m)
{
    struct cf_buf b;
    char *s;
    size_t n;

    cf_buf_init(&b, 64 << 20);
    assert_int_equal(cf_metrics_render(m, &b), CF_OK);
    s = cf_buf_detach(&b, &n);
    assert_non_null(s);
    return s;
}

/* The text of one family: from its "# HELP name " line up to the next "# HELP". */
static char *family(const char *doc, const char *name)
{
    char key[160];
    const char *p, *q;
    char *out;

    snprintf(key, sizeof(key), "# HELP %s ", name);
    p = strstr(doc, key);
    if (!p)
        return NULL;
    q = strstr(p + 1, "# HELP ");
    if (!q)
        q = p + strlen(p);
    out = malloc((size_t)(q - p) + 1);
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return out;
}

/* The value of the sample line starting with "series " (NaN if absent). */
static double sample(const char *doc, const char *series)
{
    char key[300];
    const char *p;

    snprintf(key, sizeof(key), "\n%s ", series);
    p = strstr(doc, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

static void exact_text(void **state)
{
    struct cf_metrics *m = mk(0, 0);
    char *doc, *f;
    (void)state;

    cf_metrics_request(m, "v1", "SecretGet", 200, 300);
    cf_metrics_request(m, "v1", "SecretGet", 200, 1500);
    cf_metrics_request(m, "v1", "SecretGet", 404, 20000);
    cf_metrics_request(m, "", "TokenIssue", 200, 10);
    cf_metrics_request(m, "", "TokenIssue", 401, 10);
    cf_metrics_request(m, "v\"2\\", "SecretSet", 503, 20000000);
    doc = render(m);

    f = family(doc, "coffer_api_requests_total");
    assert_non_null(f);
    assert_string_equal(
        f, "# HELP coffer_api_requests_total Requests answered, by vault, operation and HTTP "
           "status.\n"
           "# TYPE coffer_api_requests_total counter\n"
           "coffer_api_requests_total{vault=\"\",operation=\"TokenIssue\",status=\"200\"} 1\n"
           "coffer_api_requests_total{vault=\"\",operation=\"TokenIssue\",status=\"401\"} 1\n"
           "coffer_api_requests_total{vault=\"v\\\"2\\\\\",operation=\"SecretSet\",status=\"503\"}"
           " 1\n"
           "coffer_api_requests_total{vault=\"v1\",operation=\"SecretGet\",status=\"200\"} 2\n"
           "coffer_api_requests_total{vault=\"v1\",operation=\"SecretGet\",status=\"404\"} 1\n");
    free(f);

    /* v1/SecretGet: 300 us, 1500 us, 20 ms in one histogram over both statuses */
    const char *hist =
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.0005\"} 1\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.001\"} 1\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.0025\"} 2\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.005\"} 2\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.01\"} 2\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.025\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.05\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.1\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.25\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"0.5\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"1\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"2.5\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"5\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"10\"} 3\n"
        "coffer_api_latency_seconds_bucket{vault=\"v1\",operation=\"SecretGet\",le=\"+Inf\"} 3\n"
        "coffer_api_latency_seconds_sum{vault=\"v1\",operation=\"SecretGet\"} 0.0218\n"
        "coffer_api_latency_seconds_count{vault=\"v1\",operation=\"SecretGet\"} 3\n";
    assert_non_null(strstr(doc, hist));
    assert_non_null(strstr(doc, "# HELP coffer_api_latency_seconds Server-side time to answer, "
                                "by vault and operation.\n"
                                "# TYPE coffer_api_latency_seconds histogram\n"
                                "coffer_api_latency_seconds_bucket{vault=\"\",operation="
                                "\"TokenIssue\",le=\"0.0005\"} 2\n"));
    /* 20 s is past the last bound: only +Inf holds it */
    assert_non_null(strstr(doc, "{vault=\"v\\\"2\\\\\",operation=\"SecretSet\",le=\"10\"} 0\n"));
    assert_non_null(strstr(doc, "{vault=\"v\\\"2\\\\\",operation=\"SecretSet\",le=\"+Inf\"} 1\n"));

    f = family(doc, "coffer_availability_ratio");
    assert_non_null(f);
    assert_string_equal(f, "# HELP coffer_availability_ratio Share of answers that were not 5xx "
                           "over the window, per vault.\n"
                           "# TYPE coffer_availability_ratio gauge\n"
                           "coffer_availability_ratio{vault=\"\"} 1\n"
                           "coffer_availability_ratio{vault=\"v\\\"2\\\\\"} 0\n"
                           "coffer_availability_ratio{vault=\"v1\"} 1\n");
    free(f);
    f = family(doc, "coffer_tokens_issued_total");
    assert_string_equal(f, "# HELP coffer_tokens_issued_total Access tokens issued by the token "
                           "authority.\n# TYPE coffer_tokens_issued_total counter\n"
                           "coffer_tokens_issued_total 1\n");
    free(f);
    /* no saturation family without a capacity or callback */
    assert_null(strstr(doc, "coffer_saturation_ratio"));
    assert_null(strstr(doc, "coffer_alerts_"));
    free(doc);
    cf_metrics_free(m);
}

/* Every line of the document: comments "# HELP n text" then "# TYPE n type" once per family;
 * samples named for the family just typed (histograms: _bucket/_sum/_count), a float value,
 * no series twice. */
static void check_format(const char *doc)
{
    char fam[128] = "", type[16] = "", last_help[128] = "";
    const char *p = doc;
    char **seen = calloc(100000, sizeof(char *));
    size_t nseen = 0;

    assert_true(doc[0] != '\0');
    assert_int_equal(doc[strlen(doc) - 1], '\n');
    while (*p) {
        const char *nl = strchr(p, '\n');
        char line[1024];
        size_t n;
        assert_non_null(nl);
        n = (size_t)(nl - p);
        assert_true(n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            assert_int_equal(sscanf(line + 7, "%127s", last_help), 1);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_int_equal(sscanf(line + 7, "%127s %15s", fam, type), 2);
            assert_string_equal(fam, last_help); /* HELP right before its TYPE */
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                        strcmp(type, "histogram") == 0);
            continue;
        }
        assert_true(line[0] != '#');
        /* name */
        size_t k = 0;
        while (line[k] && line[k] != '{' && line[k] != ' ')
            k++;
        char name[160];
        memcpy(name, line, k);
        name[k] = '\0';
        if (strcmp(type, "histogram") == 0) {
            size_t fl = strlen(fam);
            assert_int_equal(strncmp(name, fam, fl), 0);
            assert_true(strcmp(name + fl, "_bucket") == 0 || strcmp(name + fl, "_sum") == 0 ||
                        strcmp(name + fl, "_count") == 0);
        } else {
            assert_string_equal(name, fam);
        }
        /* labels: name="value" pairs with escapes, then one space and a number */
        const char *q = line + k;
        if (*q == '{') {
            q++;
            while (*q != '}') {
                while ((*q >= 'a' && *q <= 'z') || *q == '_')
                    q++;
                assert_int_equal(*q++, '=');
                assert_int_equal(*q++, '"');
                while (*q != '"') {
                    assert_true(*q != '\0' && *q != '\n');
                    if (*q == '\\') {
                        q++;
                        assert_true(*q == '\\' || *q == '"' || *q == 'n');
                    }
                    q++;
                }
                q++;
                if (*q == ',')
                    q++;
                else
                    assert_int_equal(*q, '}');
            }
            q++;
        }
        assert_int_equal(*q++, ' ');
        char *end;
        double v = strtod(q, &end);
        (void)v;
        assert_true(end != q && *end == '\0');
        /* no duplicate series */
        size_t sl = (size_t)(q - 1 - line);
        for (size_t i = 0; i < nseen; i++)
            assert_false(strlen(seen[i]) == sl && memcmp(seen[i], line, sl) == 0);
        seen[nseen] = strndup(line, sl);
        nseen++;
        assert_true(nseen < 100000);
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
}

static double g_const(void *arg)
{
    return *(double *)arg;
}

static void whole_document_is_valid(void **state)
{
    struct cf_metrics *m = mk(0, 100);
    double seven = 7, nan = NAN;
    char err[128];
    char *doc;
    (void)state;

    assert_int_equal(cf_metrics_add_gauge(m, "coffer_audit_queue_depth", "Records waiting.",
                                          CF_METRICS_GAUGE, g_const, &seven),
                     CF_OK);
    assert_int_equal(
        cf_metrics_add_gauge(m, "coffer_unknown_now", "x", CF_METRICS_GAUGE, g_const, &nan), CF_OK);
    assert_int_equal(cf_metrics_add_rule(m, "r1", "availability < 0.99", 0, err, sizeof(err)),
                     CF_OK);
    for (int i = 0; i < 50; i++)
        cf_metrics_request(m, i % 2 ? "a" : "b", i % 3 ? "SecretGet" : "KeySign", i % 5 ? 200 : 403,
                           i * 1000);
    cf_metrics_store_commit(m, 3000, 4);
    doc = render(m);
    check_format(doc);
    assert_true(sample(doc, "coffer_audit_queue_depth") == 7);
    assert_null(strstr(doc, "coffer_unknown_now")); /* NaN: left out */
    assert_true(sample(doc, "coffer_saturation_ratio{vault=\"a\"}") == 0.25);
    assert_true(sample(doc, "coffer_store_commit_seconds_count") == 1);
    assert_true(sample(doc, "coffer_store_commit_seconds_bucket{le=\"0.0025\"}") == 0);
    assert_true(sample(doc, "coffer_store_commit_seconds_bucket{le=\"0.005\"}") == 1);
    assert_true(sample(doc, "coffer_store_commit_seconds_sum") == 0.003);
    assert_true(sample(doc, "coffer_store_commit_jobs_total") == 4);
    assert_true(sample(doc, "coffer_alerts_firing{rule=\"r1\"}") == 0);
    assert_true(sample(doc, "coffer_alerts_fired_total{rule=\"r1\"}") == 0);
    /* process figures of this very process */
    assert_true(sample(doc, "process_open_fds") >= 3);
    assert_true(sample(doc, "process_threads") >= 1);
    assert_true(sample(doc, "process_resident_memory_bytes") > 1e5);
    assert_true(sample(doc, "process_max_fds") >= 64);
    assert_true(sample(doc, "process_cpu_seconds_total") >= 0);
    assert_true(sample(doc, "process_start_time_seconds") > 1.5e9);
    assert_true(sample(doc, "coffer_uptime_seconds") >= 0);
    free(doc);
    cf_metrics_free(m);
}

static void bucket_edges(void **state)
{
    static const int64_t us[] = {0, 500, 501, 1000, 1001, 10000000, 10000001};
    /* cumulative count at le 0.0005, 0.001, 10, +Inf */
    struct cf_metrics *m = mk(0, 0);
    char *doc;
    (void)state;

    for (size_t i = 0; i < CF_ARRAY_LEN(us); i++)
        cf_metrics_request(m, "v", "Op", 200, us[i]);
    cf_metrics_request(m, "v", "Op", 200, -5); /* clock went backwards: counted as 0 */
    doc = render(m);
    assert_true(sample(doc, "coffer_api_latency_seconds_bucket{vault=\"v\",operation=\"Op\","
                            "le=\"0.0005\"}") == 3);
    assert_true(sample(doc, "coffer_api_latency_seconds_bucket{vault=\"v\",operation=\"Op\","
                            "le=\"0.001\"}") == 5);
    assert_true(sample(doc, "coffer_api_latency_seconds_bucket{vault=\"v\",operation=\"Op\","
                            "le=\"0.0025\"}") == 6);
    assert_true(sample(doc, "coffer_api_latency_seconds_bucket{vault=\"v\",operation=\"Op\","
                            "le=\"10\"}") == 7);
    assert_true(sample(doc, "coffer_api_latency_seconds_bucket{vault=\"v\",operation=\"Op\","
                            "le=\"+Inf\"}") == 8);
    assert_true(sample(doc, "coffer_api_latency_seconds_count{vault=\"v\",operation=\"Op\"}") == 8);
    assert_true(fabs(sample(doc, "coffer_api_latency_seconds_sum{vault=\"v\",operation=\"Op\"}") -
                     20.003003) < 1e-9);
    free(doc);
    cf_metrics_free(m);
}

static size_t count_lines(const char *doc, const char *prefix)
{
    size_t n = 0;
    for (const char *p = doc; (p = strstr(p, prefix)); p++)
        if (p == doc || p[-1] == '\n')
            n++;
    return n;
}

static void cardinality_bound(void **state)
{
    struct cf_metrics *m = mk(0, 0);
    char name[64], op[64], *doc;
    double total = 0;
    (void)state;

    /* 300 vaults: 256 get their own series, the rest count as "_other" */
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "vault%03d", i);
        cf_metrics_request(m, name, "SecretGet", 200, 100);
    }
    /* a vault name or operation too long for the table */
    memset(name, 'x', 63);
    name[63] = '\0';
    cf_metrics_request(m, name, "SecretGet", 200, 100);
    memset(op, 'y', 50);
    op[50] = '\0';
    cf_metrics_request(m, "vault000", op, 200, 100);
    /* 3000 distinct operations in one vault: past CF_METRICS_MAX_SERIES they overflow */
    for (int i = 0; i < 3000; i++) {
        snprintf(op, sizeof(op), "Op%04d", i);
        cf_metrics_request(m, "vault001", op, 201, 100);
    }
    doc = render(m);
    check_format(doc);
    size_t lines = count_lines(doc, "coffer_api_requests_total{");
    assert_true(lines <= CF_METRICS_MAX_SERIES + 2);
    assert_true(lines >= CF_METRICS_MAX_SERIES - 10);
    assert_true(count_lines(doc, "coffer_availability_ratio{") <= CF_METRICS_MAX_VAULTS + 1);
    /* the overflow series keeps the status */
    assert_true(sample(doc, "coffer_api_requests_total{vault=\"_other\",operation=\"_other\","
                            "status=\"200\"}") == 300 - 256 + 1 + 1);
    assert_true(sample(doc, "coffer_api_requests_total{vault=\"_other\",operation=\"_other\","
                            "status=\"201\"}") > 900);
    /* nothing lost */
    for (const char *p = doc; (p = strstr(p, "\ncoffer_api_requests_total{")); p++)
        total += strtod(strchr(p + 1, ' ') + 1, NULL);
    assert_true(total == 300 + 2 + 3000);
    /* a known series keeps counting after the table is full */
    cf_metrics_request(m, "vault000", "SecretGet", 200, 100);
    free(doc);
    doc = render(m);
    assert_true(sample(doc, "coffer_api_requests_total{vault=\"vault000\",operation=\"SecretGet\","
                            "status=\"200\"}") == 2);
    free(doc);
    cf_metrics_free(m);
}

#define NTHREADS 8
#define PER_THREAD 50000

static void *hammer(void *arg)
{
    struct cf_metrics *m = arg;
    static const char *const vaults[] = {"a", "b", "c"};
    static const char *const ops[] = {"SecretGet", "SecretSet", "KeySign", "VaultGet"};
    for (int i = 0; i < PER_THREAD; i++)
        cf_metrics_request(m, vaults[i % 3], ops[i % 4], i % 7 ? 200 : 500, i % 3000);
    return NULL;
}

static void *scraper(void *arg)
{
    struct cf_metrics *m = arg;
    for (int i = 0; i < 20; i++) {
        struct cf_buf b;
        cf_buf_init(&b, 64 << 20);
        assert_int_equal(cf_metrics_render(m, &b), CF_OK);
        cf_buf_release(&b);
        cf_metrics_tick(m);
    }
    return NULL;
}

static void concurrent_totals(void **state)
{
    struct cf_metrics *m = mk(0, 1000);
    pthread_t t[NTHREADS + 1];
    char *doc;
    double total = 0, count = 0;
    (void)state;

    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
    assert_int_equal(pthread_create(&t[NTHREADS], NULL, scraper, m), 0);
    for (int i = 0; i <= NTHREADS; i++)
        pthread_join(t[i], NULL);
    doc = render(m);
    for (const char *p = doc; (p = strstr(p, "\ncoffer_api_requests_total{")); p++)
        total += strtod(strchr(p + 1, ' ') + 1, NULL);
    for (const char *p = doc; (p = strstr(p, "\ncoffer_api_latency_seconds_count{")); p++)
        count += strtod(strchr(p + 1, ' ') + 1, NULL);
    assert_true(total == (double)NTHREADS * PER_THREAD);
    assert_true(count == total);
    /* 12 (vault, op) pairs x 2 statuses at most */
    assert_true(count_lines(doc, "coffer_api_requests_total{") <= 24);
    free(doc);
    cf_metrics_free(m);
}

static void gauge_names(void **state)
{
    struct cf_metrics *m = mk(0, 0);
    double one = 1;
    (void)state;

    assert_int_equal(cf_metrics_add_gauge(m, "coffer_sealed", "1 while sealed.", CF_METRICS_GAUGE,
                                          g_const, &one),
                     CF_OK);
    assert_int_equal(
        cf_metrics_add_gauge(m, "coffer_sealed", "again", CF_METRICS_GAUGE, g_const, &one),
        CF_EINVAL);
    assert_int_equal(cf_metrics_add_gauge(m, "9bad", "x", CF_METRICS_GAUGE, g_const, &one),
                     CF_EINVAL);
    assert_int_equal(cf_metrics_add_gauge(m, "bad-name", "x", CF_METRICS_GAUGE, g_const, &one),
                     CF_EINVAL);
    assert_int_equal(
        cf_metrics_add_gauge(m, "coffer_writes", "x", CF_METRICS_COUNTER, g_const, &one),
        CF_EINVAL); /* a counter ends in _total */
    assert_int_equal(cf_metrics_add_gauge(m, "process_foo", "x", CF_METRICS_GAUGE, g_const, &one),
                     CF_EINVAL); /* reserved */
    assert_int_equal(cf_metrics_add_gauge(m, "coffer_x", "x", CF_METRICS_GAUGE, NULL, NULL),
                     CF_EINVAL);
    assert_int_equal(cf_metrics_add_gauge(m, "coffer_writes_total", "two\nlines\\",
                                          CF_METRICS_COUNTER, g_const, &one),
                     CF_OK);
    char *doc = render(m);
    check_format(doc);
    assert_non_null(strstr(doc, "# HELP coffer_writes_total two lines \n# TYPE "
                                "coffer_writes_total counter\ncoffer_writes_total 1\n"));
    free(doc);
    cf_metrics_free(m);
    cf_metrics_request(NULL, "v", "op", 200, 1); /* NULL metrics: nothing */
}

static void availability_window(void **state)
{
    struct cf_metrics *m = mk(60000, 0); /* window 5 min, a snapshot a minute */
    int64_t t0 = clk.ms;
    char *doc;
    (void)state;

#define AT(s) (clk.ms = t0 + (int64_t)(s)*1000)
#define AVAIL()                                                                                    \
    (doc = render(m), avail = sample(doc, "coffer_availability_ratio{vault=\"v\"}"), free(doc),    \
     avail)
    double avail;
    for (int i = 0; i < 10; i++)
        cf_metrics_request(m, "v", "SecretGet", 200, 100);
    assert_true(AVAIL() == 1);
    AT(60);
    cf_metrics_tick(m);
    AT(120);
    for (int i = 0; i < 10; i++)
        cf_metrics_request(m, "v", "SecretGet", 503, 100);
    cf_metrics_request(m, "v", "SecretGet", 429, 100); /* throttled is available */
    cf_metrics_tick(m);
    assert_true(fabs(AVAIL() - 11.0 / 21.0) < 1e-9);
    for (int s = 180; s <= 360; s += 60) {
        AT(s);
        cf_metrics_tick(m);
    }
    /* at 6 min the baseline is the 1-minute snapshot: only the 5xx (and the 429) remain */
    assert_true(fabs(AVAIL() - 1.0 / 11.0) < 1e-9);
    AT(480);
    cf_metrics_tick(m);
    /* at 8 min the window holds nothing: 100 % */
    assert_true(AVAIL() == 1);
    cf_metrics_free(m);
#undef AT
#undef AVAIL
}

static double sat_cb(void *arg, const char *vault)
{
    (void)arg;
    return strcmp(vault, "a") == 0 ? 0.75 : NAN;
}

static void saturation(void **state)
{
    struct cf_metrics *m = mk(0, 10);
    char *doc;
    (void)state;

    for (int i = 0; i < 5; i++)
        cf_metrics_request(m, "a", "SecretGet", 200, 1);
    clk.ms += 3000;
    cf_metrics_request(m, "a", "SecretGet", 429, 1);
    doc = render(m);
    assert_true(sample(doc, "coffer_saturation_ratio{vault=\"a\"}") == 0.6);
    free(doc);
    clk.ms += 9000; /* the first five are now over 10 s old */
    doc = render(m);
    assert_true(sample(doc, "coffer_saturation_ratio{vault=\"a\"}") == 0.1);
    free(doc);
    clk.ms += 20000;
    cf_metrics_request(m, "b", "SecretGet", 200, 1);
    doc = render(m);
    assert_true(sample(doc, "coffer_saturation_ratio{vault=\"a\"}") == 0);
    assert_true(sample(doc, "coffer_saturation_ratio{vault=\"b\"}") == 0.1);
    free(doc);
    /* a callback replaces the estimate; NaN leaves the vault out */
    cf_metrics_set_saturation_fn(m, sat_cb, NULL);
    doc = render(m);
    assert_true(sample(doc, "coffer_saturation_ratio{vault=\"a\"}") == 0.75);
    assert_null(strstr(doc, "coffer_saturation_ratio{vault=\"b\"}"));
    free(doc);
    cf_metrics_free(m);
}

static void bad_options(void **state)
{
    cf_err e;
    (void)state;
    assert_null(cf_metrics_new(&(struct cf_metrics_opts){.window_ms = -1}, &e));
    assert_int_equal(e, CF_EINVAL);
    assert_null(cf_metrics_new(&(struct cf_metrics_opts){.seen_capacity = (size_t)1 << 40}, &e));
    assert_int_equal(e, CF_EINVAL);
    struct cf_metrics *m = cf_metrics_new(NULL, &e);
    assert_non_null(m);
    cf_metrics_free(m);
    cf_metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_text),          cmocka_unit_test(whole_document_is_valid),
        cmocka_unit_test(bucket_edges),        cmocka_unit_test(cardinality_bound),
        cmocka_unit_test(concurrent_totals),   cmocka_unit_test(gauge_names),
        cmocka_unit_test(availability_window), cmocka_unit_test(saturation),
        cmocka_unit_test(bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

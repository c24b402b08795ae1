/* test_defer.c - the CPU pool behind api_defer (dispatch.c) and its wake batching.
 *
 * What is checked: every deferred request runs its handler on a pool thread (r->deferred set)
 * and is answered; with no backlog no answer's wake is held (each wakes its worker at once);
 * with a backlog wakes are held (batched) and every held wake is still fired after its answer
 * - while the pool runs, and when cf_api_free stops a pool that still has a backlog.
 *
 * The HTTP side is faked the way server.c answers off a worker's thread: cf_http_respond
 * counts the answer for its fake worker, then fires the worker's wake event unless the
 * calling thread holds its wakes (http_hold_wake: the real src/http/later.c, as the server
 * uses it). Each fake worker's event is on one event_base whose loop runs in a thread of the
 * test; its callback notes how many answers the worker had when it was woken. A held wake
 * that is never fired leaves that note behind the answer count. */
#include "base/cf.h"
#include "api/internal.h"
#include "http/http_int.h"

#include <event2/event.h>
#include <event2/thread.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* One fake worker per request of a burst: a wake one answer needs cannot be covered by
 * another answer's. Odd, so the pool threads cannot all run a multiple of the wake batch. */
#define BURST 49
#define NWORKERS BURST

struct tworker {
    struct event *ev;
    int answered;                  /* answers queued for this worker (cf_http_respond) */
    int woken_at;                  /* answered as the wake callback last saw it */
    int wakes;                     /* wake callbacks run */
    int64_t answered_us, woken_us; /* the last answer and the last wake (monotonic) */
};

struct treq {
    struct cf_http_req req; /* first: the api hands this back to cf_http_respond */
    int worker;
};

/* The test's one state (the pool threads reach it through the route handler). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct event_base *base;
    pthread_t loop;
    struct event *stop_ev;
    struct tworker w[NWORKERS];
    struct treq reqs[BURST];
    int answers;      /* all workers */
    int responded;    /* cf_http_respond calls finished (held counted) */
    int held;         /* answers whose wake was held */
    int ran_deferred; /* handler runs with r->deferred set */
    bool gate_open;   /* the handler waits for this */
    int job_us;       /* the handler's work: it sleeps this long after the gate */
} T;

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *cf_http_header(const struct cf_http_req *req, const char *name)
{
    (void)req;
    (void)name;
    return NULL;
}

void cf_http_respond(struct cf_http_req *req, int status, const struct cf_http_hdr *hdrs,
                     size_t nhdrs, const char *body, size_t len)
{
    struct treq *q = (struct treq *)(void *)req;
    struct tworker *w = &T.w[q->worker];
    bool held;

    (void)status;
    (void)hdrs;
    (void)nhdrs;
    (void)body;
    (void)len;
    pthread_mutex_lock(&T.mu);
    w->answered++;
    w->answered_us = now_us();
    T.answers++;
    pthread_mutex_unlock(&T.mu);
    held = http_hold_wake(w->ev); /* as server.c's cf_http_respond */
    if (!held)
        event_active(w->ev, EV_READ, 0);
    pthread_mutex_lock(&T.mu);
    T.held += held;
    T.responded++;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct tworker *w = arg;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&T.mu);
    w->wakes++;
    w->woken_at = w->answered;
    w->woken_us = now_us();
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(T.base);
}

static void *loop_main(void *arg)
{
    (void)arg;
    event_base_loop(T.base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* The route's handler, on a pool thread: waits for the gate, then answers. */
static void gated_handler(struct api_req *r)
{
    pthread_mutex_lock(&T.mu);
    T.ran_deferred += r->deferred;
    while (!T.gate_open)
        pthread_cond_wait(&T.cv, &T.mu);
    pthread_mutex_unlock(&T.mu);
    if (T.job_us)
        usleep((useconds_t)T.job_us);
    cf_http_respond(r->http, 200, NULL, 0, "", 0);
    api_req_put(r);
}

static const struct api_route route = {
    API_PLANE_DATA, CF_HTTP_POST, "keys/*/sign", gated_handler, 0, "KeySign", "keys/sign"};

static struct cf_api *setup_api(void)
{
    struct cf_api_config cfg = {.dns_suffix = "vault.localhost", .pool_threads = 2};
    struct cf_api *api;
    cf_err e = CF_OK;

    memset(&T, 0, sizeof(T));
    pthread_mutex_init(&T.mu, NULL);
    pthread_cond_init(&T.cv, NULL);
    assert_int_equal(evthread_use_pthreads(), 0);
    T.base = event_base_new();
    assert_non_null(T.base);
    for (int i = 0; i < NWORKERS; i++) {
        T.w[i].ev = event_new(T.base, -1, 0, on_wake, &T.w[i]);
        assert_non_null(T.w[i].ev);
    }
    T.stop_ev = event_new(T.base, -1, 0, on_stop, NULL);
    assert_non_null(T.stop_ev);
    assert_int_equal(pthread_create(&T.loop, NULL, loop_main, NULL), 0);
    api = cf_api_new(&cfg, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(api);
    return api;
}

static void teardown_loop(void)
{
    event_active(T.stop_ev, EV_READ, 0);
    pthread_join(T.loop, NULL);
    for (int i = 0; i < NWORKERS; i++)
        event_free(T.w[i].ev);
    event_free(T.stop_ev);
    event_base_free(T.base);
    pthread_mutex_destroy(&T.mu);
    pthread_cond_destroy(&T.cv);
}

static void defer_one(struct cf_api *api, int i, int worker)
{
    struct api_req *r = api_req_get(api);

    assert_non_null(r);
    T.reqs[i].worker = worker;
    r->http = &T.reqs[i].req;
    r->route = &route;
    api_defer(r);
}

static void wait_locked(bool (*done)(void), const char *what)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    while (!done())
        if (pthread_cond_timedwait(&T.cv, &T.mu, &until) != 0 && !done())
            fail_msg("timed out waiting for %s", what);
}

static int want_answers;

static bool all_answered(void)
{
    return T.responded >= want_answers;
}

/* Every worker has been woken after its last answer. */
static bool all_woken(void)
{
    for (int i = 0; i < NWORKERS; i++)
        if (T.w[i].woken_at != T.w[i].answered)
            return false;
    return true;
}

/* No backlog: one request at a time, each answered and its wake fired at once (none held). */
static void test_no_backlog_wakes_at_once(void **state)
{
    struct cf_api *api = setup_api();

    (void)state;
    T.gate_open = true;
    for (int i = 0; i < 8; i++) {
        defer_one(api, i, i % NWORKERS);
        pthread_mutex_lock(&T.mu);
        want_answers = i + 1;
        wait_locked(all_answered, "the answer");
        wait_locked(all_woken, "the wake");
        pthread_mutex_unlock(&T.mu);
    }
    assert_int_equal(T.answers, 8);
    assert_int_equal(T.ran_deferred, 8);
    assert_int_equal(T.held, 0);
    cf_api_free(api);
    teardown_loop();
}

/* A backlog (the gate holds the pool threads while BURST requests queue up): wakes are held
 * (batched), and still every worker is woken after its answer. Three bursts: how the jobs fall
 * to the pool threads varies from run to run. */
static void test_backlog_batches_and_fires_every_wake(void **state)
{
    struct cf_api *api = setup_api();

    (void)state;
    for (int round = 1; round <= 3; round++) {
        pthread_mutex_lock(&T.mu);
        T.gate_open = false;
        pthread_mutex_unlock(&T.mu);
        for (int i = 0; i < BURST; i++)
            defer_one(api, i, i % NWORKERS);
        pthread_mutex_lock(&T.mu);
        T.gate_open = true;
        pthread_cond_broadcast(&T.cv);
        want_answers = round * BURST;
        wait_locked(all_answered, "the answers");
        wait_locked(all_woken, "the held wakes");
        for (int i = 0; i < NWORKERS; i++) {
            assert_int_equal(T.w[i].answered, round);
            assert_int_equal(T.w[i].wakes, round);
        }
        pthread_mutex_unlock(&T.mu);
    }
    assert_int_equal(T.ran_deferred, 3 * BURST);
    assert_true(T.held > 0);
    /* the pool is idle again: a lone request is not held */
    T.held = 0;
    defer_one(api, 0, 1);
    pthread_mutex_lock(&T.mu);
    want_answers = 3 * BURST + 1;
    wait_locked(all_answered, "the answer");
    wait_locked(all_woken, "the wake");
    pthread_mutex_unlock(&T.mu);
    assert_int_equal(T.held, 0);
    cf_api_free(api);
    teardown_loop();
}

/* Slow jobs (20 ms each, as an RSA-4096 signature is a few ms): a held answer is not kept
 * for a whole batch of them - its wake fires once it has waited the 1 ms bound, that is after
 * the thread's next job at the latest (a batch of 4 would keep the first for three more). */
static void test_slow_jobs_hold_one_job_at_most(void **state)
{
    struct cf_api *api = setup_api();
    int64_t worst = 0;
    const int n = 12;

    (void)state;
    T.job_us = 20000;
    for (int i = 0; i < n; i++)
        defer_one(api, i, i);
    pthread_mutex_lock(&T.mu);
    T.gate_open = true;
    pthread_cond_broadcast(&T.cv);
    want_answers = n;
    wait_locked(all_answered, "the answers");
    wait_locked(all_woken, "the held wakes");
    for (int i = 0; i < n; i++)
        worst = CF_MAX(worst, T.w[i].woken_us - T.w[i].answered_us);
    pthread_mutex_unlock(&T.mu);
    assert_true(T.held > 0);
    /* one job (20 ms) plus scheduling slack; three jobs would be 60 ms */
    assert_in_range(worst, 0, 45000);
    cf_api_free(api);
    teardown_loop();
}

/* cf_api_free with a backlog: the pool drains it, and the last held wakes fire before its
 * threads end. */
static void test_free_with_backlog_fires_held_wakes(void **state)
{
    struct cf_api *api = setup_api();

    (void)state;
    for (int i = 0; i < BURST; i++)
        defer_one(api, i, i % NWORKERS);
    pthread_mutex_lock(&T.mu);
    T.gate_open = true;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
    cf_api_free(api); /* joins the pool threads: every job ran */
    pthread_mutex_lock(&T.mu);
    assert_int_equal(T.answers, BURST);
    wait_locked(all_woken, "the held wakes");
    pthread_mutex_unlock(&T.mu);
    teardown_loop();
}

/* The hold itself (later.c): held wakes are remembered once per event and fired by
 * cf_http_wake_held, which ends the hold; without a hold nothing is held. */
static void test_hold_api(void **state)
{
    struct cf_api *api = setup_api();

    (void)state;
    assert_false(http_hold_wake(T.w[0].ev));
    cf_http_hold_wakes();
    assert_true(http_hold_wake(T.w[0].ev));
    assert_true(http_hold_wake(T.w[0].ev));
    assert_true(http_hold_wake(T.w[2].ev));
    pthread_mutex_lock(&T.mu);
    T.w[0].answered = T.w[2].answered = 1; /* as if answered: the wake must come */
    pthread_mutex_unlock(&T.mu);
    cf_http_wake_held();
    assert_false(http_hold_wake(T.w[1].ev)); /* the hold ended */
    pthread_mutex_lock(&T.mu);
    wait_locked(all_woken, "the fired wakes");
    assert_int_equal(T.w[0].wakes, 1);
    assert_int_equal(T.w[1].wakes, 0);
    assert_int_equal(T.w[2].wakes, 1);
    pthread_mutex_unlock(&T.mu);
    cf_http_wake_held(); /* nothing held: harmless */
    cf_api_free(api);
    teardown_loop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_backlog_wakes_at_once),
        cmocka_unit_test(test_backlog_batches_and_fires_every_wake),
        cmocka_unit_test(test_slow_jobs_hold_one_job_at_most),
        cmocka_unit_test(test_free_with_backlog_fires_held_wakes),
        cmocka_unit_test(test_hold_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

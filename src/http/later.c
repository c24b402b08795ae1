/* later.c - cf_http_later: run a function on the calling worker's loop after the callbacks it
 * has ready now (the audit log batches one loop pass's records into one write with it).
 *
 *   http_later_attach / detach   server.c's worker_main, around its loop
 *   cf_http_later                from code running on a worker thread
 *
 * Kept apart from server.c so a caller linked without the server (the API unit tests, which
 * supply their own cf_http_respond) gets this file alone: off a worker thread - and so in
 * those tests - cf_http_later answers -1 and the caller does the work itself.
 *
 * Invariant: tl_later is set only on a worker thread while its loop runs, and the event is
 * on that worker's base, so fn always runs on the thread that scheduled it. */
#include "base/cf.h"
#include "http/http.h"
#include "http/http_int.h"

#include <event2/event.h>

struct http_later {
    struct event *ev;
    int worker;
    cf_http_later_fn fn;
    void *ctx;
};

/* The one per-thread pointer of this file: the running worker's slot (NULL elsewhere). */
static _Thread_local struct http_later *tl_later;

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    struct http_later *l = arg;
    cf_http_later_fn fn = l->fn;
    void *ctx = l->ctx;

    (void)fd;
    (void)what;
    l->fn = NULL; /* fn may schedule the next run */
    l->ctx = NULL;
    if (fn != NULL)
        fn(ctx, l->worker);
}

struct http_later *http_later_attach(struct event_base *base, int worker)
{
    struct http_later *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->worker = worker;
    l->ev = event_new(base, -1, 0, on_later, l);
    if (l->ev == NULL) {
        free(l);
        return NULL;
    }
    tl_later = l;
    return l;
}

void http_later_detach(struct http_later *l)
{
    if (l == NULL)
        return;
    tl_later = NULL;
    /* A pending run is still owed to its caller: run it now, on this thread. */
    on_later(-1, 0, l);
    event_free(l->ev);
    free(l);
}

int cf_http_later(cf_http_later_fn fn, void *ctx)
{
    struct http_later *l = tl_later;

    if (l == NULL || fn == NULL)
        return -1;
    if (l->fn != NULL)
        return l->fn == fn && l->ctx == ctx ? l->worker : -1;
    l->fn = fn;
    l->ctx = ctx;
    /* Activated events of the loop's one priority run in order, this one after every
     * callback already queued for the current pass. */
    event_active(l->ev, EV_READ, 0);
    return l->worker;
}

/* ---- held wakes (cf_http_hold_wakes) ----
 * The one other per-thread state of this file: the wake events cf_http_respond did not fire
 * from this thread while it held them (each worker once). */
#define HTTP_HOLD_MAX 16

struct http_hold {
    bool on;
    size_t n;
    struct event *ev[HTTP_HOLD_MAX];
};

static _Thread_local struct http_hold tl_hold;

void cf_http_hold_wakes(void)
{
    tl_hold.on = true;
}

bool http_hold_wake(struct event *wake_ev)
{
    struct http_hold *h = &tl_hold;

    if (!h->on)
        return false;
    for (size_t i = 0; i < h->n; i++)
        if (h->ev[i] == wake_ev)
            return true;
    if (h->n == HTTP_HOLD_MAX)
        return false;
    h->ev[h->n++] = wake_ev;
    return true;
}

void cf_http_wake_held(void)
{
    struct http_hold *h = &tl_hold;

    for (size_t i = 0; i < h->n; i++)
        event_active(h->ev[i], EV_READ, 0);
    h->n = 0;
    h->on = false;
}

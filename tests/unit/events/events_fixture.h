/* events_fixture.h - the store fixture test_events.c and test_expiry.c share: a SQLite store in
 * a temp file holding one vault "V1", a test clock the test moves, and a cf_events with a
 * 30-day NearExpiry lead and a 10 s retry base whose webhook transport is the test's fake_send
 * (on fx->fake). Include after the test defines struct fake and fake_send. */
#ifndef CF_TEST_EVENTS_FIXTURE_H
#define CF_TEST_EVENTS_FIXTURE_H

#include "base/cf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "events/events.h"
#include "store/store_vault.h"

struct tclock {
    struct cf_clock c;
    int64_t now;
};

static inline int64_t tclock_now(const struct cf_clock *c)
{
    return ((const struct tclock *)(const void *)c)->now;
}

struct fixture {
    char path[64];
    struct cf_store *store;
    struct cf_events *ev;
    struct tclock clk;
    struct fake fake;
    int64_t vault_id;
    char secret[CF_EVENTS_SECRET_LEN + 1];
};

static inline cf_err vault_fn(struct cf_store_txn *t, void *arg)
{
    struct fixture *fx = arg;
    struct cf_rec_vault v;

    memset(&v, 0, sizeof(v));
    snprintf(v.name, sizeof(v.name), "V1");
    snprintf(v.subscription, sizeof(v.subscription), "sub");
    snprintf(v.resource_group, sizeof(v.resource_group), "rg");
    snprintf(v.location, sizeof(v.location), "local");
    snprintf(v.sku, sizeof(v.sku), "standard");
    snprintf(v.public_network_access, sizeof(v.public_network_access), "Enabled");
    cf_buf_init(&v.dek, 16);
    assert_int_equal(cf_buf_append(&v.dek, "x", 1), CF_OK);
    cf_err e = cf_store_vault_insert(t, &v, &fx->vault_id);
    cf_buf_release(&v.dek);
    return e;
}

/* A fixture in a temp file named from tmpl ("/tmp/cf-<tag>-XXXXXX"), the clock at now_ms. */
static inline struct fixture *fixture_new(const char *tmpl, int64_t now_ms)
{
    static const unsigned char key[32] = {1, 2, 3};
    struct fixture *fx = calloc(1, sizeof(*fx));
    int fd;
    cf_err e;

    assert_non_null(fx);
    snprintf(fx->path, sizeof(fx->path), "%s", tmpl);
    fd = mkstemp(fx->path);
    assert_true(fd >= 0);
    close(fd);
    fx->store = cf_store_open_sqlite(&(struct cf_store_opts){.path = fx->path}, &e);
    assert_non_null(fx->store);
    assert_int_equal(cf_store_write(fx->store, vault_fn, fx), CF_OK);
    fx->clk.c.now_ms = tclock_now;
    fx->clk.now = now_ms;
    fx->ev = cf_events_new(&(struct cf_events_opts){.store = fx->store,
                                                    .clock = &fx->clk.c,
                                                    .seal_key = key,
                                                    .dns_suffix = "vault.localhost",
                                                    .port = 8443,
                                                    .near_expiry_days = 30,
                                                    .retry_base_ms = 10000,
                                                    .send = fake_send,
                                                    .send_ctx = &fx->fake},
                           &e);
    assert_non_null(fx->ev);
    return fx;
}

static inline int teardown(void **state)
{
    struct fixture *fx = *state;
    char p[80];

    cf_events_free(fx->ev);
    cf_store_close(fx->store);
    unlink(fx->path);
    snprintf(p, sizeof(p), "%s-wal", fx->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", fx->path);
    unlink(p);
    free(fx);
    return 0;
}

#endif

/* test_events.c - vault/events.c (the event sink and cf_vault_emit) and KeyNearExpiry across
 * its two paths with the real janitor (cf_vault_keys_rotate_due): a key's rotation policy
 * owns the event (Notify timeBeforeExpiry; no Notify action: none) and the events module's
 * expiry scan takes only keys without a policy, at its configured lead; one event per
 * version whichever path fires first. The scan lives in events/ (not linked here): scan()
 * below does what its write does - the store's due query at the 30-day lead, the shared
 * per-version mark, an emit unless already marked (tests/unit/events/test_expiry.c runs the
 * real one). */
#include "base/cf.h"

#include "fixture.h"

#include "store/store_events.h"
#include "vault/vault_int.h" /* cf_vault_emit */

#define S(x) cf_str_from(x)
#define DAY 86400LL
#define LEAD (30 * DAY)

struct seen {
    int n;
    char log[1024]; /* "Type:name;" per event but KeyNewVersionCreated */
    char last_version[33];
};

static cf_err seen_event(void *ctx, struct cf_store_txn *t, const struct cf_vault_event *ev)
{
    struct seen *s = ctx;
    size_t len = strlen(s->log);

    assert_non_null(t);
    if (strcmp(ev->type, "KeyNewVersionCreated") == 0)
        return CF_OK;
    s->n++;
    snprintf(s->log + len, sizeof(s->log) - len, "%s:%s;", ev->type, ev->object_name);
    snprintf(s->last_version, sizeof(s->last_version), "%s", ev->version);
    return CF_OK;
}

static const char *take(struct seen *s)
{
    static char out[1024]; /* test-only: read before the next call */

    snprintf(out, sizeof(out), "%s", s->log);
    s->log[0] = '\0';
    return out;
}

struct scan_arg {
    struct fx *f;
    struct cf_rec_expiry x[64];
    size_t n;
};

static cf_err scan_cb(const struct cf_rec_expiry *x, void *arg)
{
    struct scan_arg *a = arg;

    assert_true(a->n < 64);
    a->x[a->n++] = *x;
    return CF_OK;
}

static cf_err scan_read_fn(struct cf_store_txn *t, void *arg)
{
    struct scan_arg *a = arg;
    return cf_store_expiry_due(t, cf_clock_s(&a->f->clock.c), LEAD, 64, scan_cb, a);
}

static cf_err scan_write_fn(struct cf_store_txn *t, void *arg)
{
    static const char *const kind[] = {"Secret", "Key", "Certificate"};
    struct scan_arg *a = arg;
    cf_err e = CF_OK;

    for (size_t i = 0; i < a->n && !e; i++) {
        const struct cf_rec_expiry *x = &a->x[i];
        bool expired = x->exp <= cf_clock_s(&a->f->clock.c), was_near = false, was_exp = false;
        char type[48];

        e = cf_store_expiry_mark(t, x->kind, x->object_id, x->version, true, expired, &was_near,
                                 &was_exp);
        if (e || (expired ? was_exp : was_near))
            continue;
        snprintf(type, sizeof(type), "%s%s", kind[x->kind], expired ? "Expired" : "NearExpiry");
        e = cf_vault_emit(a->f->svc, t, type, x->vault_id, x->vault_name, kind[x->kind], x->name,
                          x->version, x->nbf, x->exp);
    }
    return e;
}

static void scan(struct fx *f)
{
    struct scan_arg *a = calloc(1, sizeof(*a));

    assert_non_null(a);
    a->f = f;
    assert_int_equal(cf_store_read(f->store, scan_read_fn, a), CF_OK);
    if (a->n)
        assert_int_equal(cf_store_write(f->store, scan_write_fn, a), CF_OK);
    free(a);
}

/* Both paths, the janitor first as the server's threads may run them. */
static const char *tick(struct fx *f, struct seen *s)
{
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    scan(f);
    return take(s);
}

static void new_key(struct fx *f, const char *name, int64_t exp, char version[33])
{
    struct cf_key_spec spec = {"EC", 0, 0, NULL};
    struct cf_key_input in = {.has_exp = true, .exp = exp};
    struct cf_key_meta m;
    char why[256];

    assert_int_equal(cf_key_create(f->svc, &f->ref, S(name), &spec, &in, &m, why, sizeof(why)),
                     CF_OK);
    if (version)
        memcpy(version, m.version, 33);
    cf_key_meta_release(&m);
}

static void set_policy(struct fx *f, const char *name, const char *notify, bool rotate,
                       const char *expiry_time)
{
    struct cf_key_policy in, out;
    char why[256];

    memset(&in, 0, sizeof(in));
    if (notify)
        snprintf(in.notify_dur, sizeof(in.notify_dur), "%s", notify);
    if (rotate) {
        in.rotate = CF_KEY_TRIGGER_AFTER_CREATE;
        snprintf(in.rotate_dur, sizeof(in.rotate_dur), "P1Y");
    }
    if (expiry_time)
        snprintf(in.expiry_time, sizeof(in.expiry_time), "%s", expiry_time);
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S(name), &in, &out, why, sizeof(why)),
                     CF_OK);
}

/* No sink: emitting is a no-op; the sink set gets the event inside the caller's write. */
static cf_err emit_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    return cf_vault_emit(f->svc, t, "KeyNearExpiry", 1, "testvault", "Key", "k", "v", 0, 9);
}

static void sink(void **state)
{
    struct fx *f = *state;
    struct seen s;

    memset(&s, 0, sizeof(s));
    assert_int_equal(cf_store_write(f->store, emit_fn, f), CF_OK);
    assert_int_equal(cf_vault_emit(NULL, NULL, "X", 0, "", "", "", "", 0, 0), CF_OK);
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    assert_int_equal(cf_store_write(f->store, emit_fn, f), CF_OK);
    assert_string_equal(take(&s), "KeyNearExpiry:k;");
    cf_vault_set_event_sink(NULL, seen_event, &s); /* accepted, nothing set */
    cf_vault_set_event_sink(f->svc, NULL, NULL);
    assert_int_equal(cf_store_write(f->store, emit_fn, f), CF_OK);
    assert_int_equal(s.n, 1);
}

/* Notify P7D: not at 30 days (the scan), at 7 days (the janitor), once; Expired at exp. A key
 * without a policy next to it gets the 30-day one from the scan. */
static void notify_policy_sets_the_time(void **state)
{
    struct fx *f = *state;
    int64_t exp = T0 + 20 * DAY;
    char v[33];
    struct seen s;

    memset(&s, 0, sizeof(s));
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    new_key(f, "p7", exp, v);
    new_key(f, "plain", exp, NULL);
    set_policy(f, "p7", "P7D", false, NULL);
    assert_string_equal(tick(f, &s), "KeyNearExpiry:plain;");
    fx_advance(f, 13 * DAY - 1);
    assert_string_equal(tick(f, &s), "");
    fx_advance(f, 1);
    assert_string_equal(tick(f, &s), "KeyNearExpiry:p7;");
    assert_string_equal(s.last_version, v);
    assert_string_equal(tick(f, &s), "");
    fx_advance(f, 7 * DAY);
    {
        const char *log = tick(f, &s);
        assert_non_null(strstr(log, "KeyExpired:p7;"));
        assert_non_null(strstr(log, "KeyExpired:plain;"));
        assert_null(strstr(log, "NearExpiry"));
    }
    assert_string_equal(tick(f, &s), "");
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* Notify P60D with exp 20 days away: the janitor fires at once, the scan never for it. */
static void notify_longer_than_default(void **state)
{
    struct fx *f = *state;
    struct seen s;

    memset(&s, 0, sizeof(s));
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    new_key(f, "p60", T0 + 40 * DAY, NULL);
    set_policy(f, "p60", "P60D", false, NULL);
    assert_string_equal(tick(f, &s), "KeyNearExpiry:p60;");
    fx_advance(f, 20 * DAY);
    assert_string_equal(tick(f, &s), "");
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* A policy without Notify (Rotate only, or no action) replaced Azure's default one: no
 * KeyNearExpiry at all; KeyExpired still. */
static void policy_without_notify(void **state)
{
    struct fx *f = *state;
    struct seen s;

    memset(&s, 0, sizeof(s));
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    new_key(f, "rot", T0 + 20 * DAY, NULL);
    new_key(f, "none", T0 + 20 * DAY, NULL);
    set_policy(f, "rot", NULL, true, NULL);
    set_policy(f, "none", NULL, false, NULL);
    assert_string_equal(tick(f, &s), "");
    fx_advance(f, 20 * DAY - 1);
    assert_string_equal(tick(f, &s), "");
    fx_advance(f, 1);
    {
        const char *log = tick(f, &s);
        assert_non_null(strstr(log, "KeyExpired:rot;"));
        assert_non_null(strstr(log, "KeyExpired:none;"));
        assert_int_equal(s.n, 2);
    }
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* Once per version across both paths: the scan notified the version at 30 days before the
 * policy existed; the policy's Notify at 7 days does not notify it again. A rotated version
 * (exp from the policy's expiryTime) is a new version and is notified by the policy. */
static void once_per_version_across_paths(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta r;
    int64_t exp = T0 + 20 * DAY;
    char v[33];
    struct seen s;

    memset(&s, 0, sizeof(s));
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    new_key(f, "k", exp, v);
    assert_string_equal(tick(f, &s), "KeyNearExpiry:k;");
    set_policy(f, "k", "P7D", false, "P28D");
    fx_advance(f, 13 * DAY);
    assert_string_equal(tick(f, &s), ""); /* the janitor finds the scan's mark */
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, S("k"), &r), CF_OK);
    assert_string_not_equal(r.version, v);
    assert_int_equal(r.attrs.exp, cf_clock_s(&f->clock.c) + 28 * DAY);
    assert_string_equal(tick(f, &s), "");
    fx_advance(f, 21 * DAY - 1);
    assert_string_equal(tick(f, &s), ""); /* inside 30 days since the rotation: not the scan's */
    fx_advance(f, 1);
    assert_string_equal(tick(f, &s), "KeyNearExpiry:k;");
    assert_string_equal(s.last_version, r.version);
    assert_string_equal(tick(f, &s), "");
    cf_key_meta_release(&r);
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sink, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(notify_policy_sets_the_time, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(notify_longer_than_default, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(policy_without_notify, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(once_per_version_across_paths, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

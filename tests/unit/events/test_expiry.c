/* test_expiry.c - the expiry scan (events.c) against a real SQLite store, a fake webhook and a
 * test clock: NearExpiry at the configured lead and Expired at exp, once per version; a key
 * with a rotation policy gets no NearExpiry from the scan (the policy's Notify action, run by
 * the vault janitor, owns it; a policy with no Notify action means none), still gets Expired;
 * the once-per-version mark shared with the janitor's Notify path (the janitor's store write
 * is reproduced here call for call: cf_store_expiry_mark then emit unless already marked);
 * and keys with a policy never fill the scan's batch so that others starve.
 * The real janitor with this rule is tested in tests/unit/vault/test_events.c. */
#include "base/cf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "events/events.h"
#include "store/store_events.h"
#include "store/store_keys.h"
#include "store/store_vault.h"

#define DAY 86400LL
#define T0 1746057600LL /* 2025-05-01, unix s */

/* The webhook: grants the CloudEvents handshake, records "Type:subject;" per event. */
struct fake {
    int notifications;
    char log[4096];
};

static void copy_field(const char *body, const char *key, char *out, size_t n)
{
    const char *p = strstr(body, key), *q;

    out[0] = '\0';
    if (!p)
        return;
    p += strlen(key);
    q = strchr(p, '"');
    if (q)
        snprintf(out, n, "%.*s", (int)(q - p), p);
}

static cf_err fake_send(void *ctx, const struct cf_events_http_req *req,
                        struct cf_events_http_resp *resp)
{
    struct fake *f = ctx;
    char body[8192], type[96], subject[128];
    size_t len = strlen(f->log);

    if (req->method && strcmp(req->method, "OPTIONS") == 0) {
        resp->status = 200;
        snprintf(resp->allowed_origin, sizeof(resp->allowed_origin), "*");
        return CF_OK;
    }
    snprintf(body, sizeof(body), "%.*s", (int)req->body_len, req->body);
    copy_field(body, "\"type\":\"Microsoft.KeyVault.", type, sizeof(type));
    copy_field(body, "\"subject\":\"", subject, sizeof(subject));
    assert_true(type[0] && subject[0]);
    snprintf(f->log + len, sizeof(f->log) - len, "%s:%s;", type, subject);
    f->notifications++;
    resp->status = 200;
    return CF_OK;
}

#include "events_fixture.h"

static int setup(void **state)
{
    struct fixture *fx = fixture_new("/tmp/cf-expiry-XXXXXX", T0 * 1000);
    struct cf_rec_event_sub in, out;
    char secret[CF_EVENTS_SECRET_LEN + 1], why[200] = "";
    bool created = false;

    memset(&in, 0, sizeof(in));
    in.endpoint = (char *)(uintptr_t)"https://hooks.example/x";
    in.types = (char *)(uintptr_t)"";
    snprintf(in.schema, sizeof(in.schema), "CloudEventSchemaV1_0");
    assert_int_equal(cf_events_sub_put(fx->ev, fx->vault_id,
                                       "/subscriptions/sub/resourceGroups/rg/providers/"
                                       "Microsoft.KeyVault/vaults/V1",
                                       "Sub-1", &in, &created, secret, &out, why, sizeof(why)),
                     CF_OK);
    cf_rec_event_sub_release(&out);
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK); /* the handshake */
    assert_int_equal(cf_events_sub_get(fx->ev, fx->vault_id, "sub-1", &out), CF_OK);
    assert_string_equal(out.state, "Succeeded");
    cf_rec_event_sub_release(&out);
    *state = fx;
    return 0;
}

static void advance(struct fixture *fx, int64_t s)
{
    fx->clk.now += s * 1000;
}

/* One scan and the deliveries it causes; returns the log of this round and clears it. */
static const char *scan(struct fixture *fx)
{
    static char last[4096]; /* test-only: one round's log, read before the next call */

    fx->fake.log[0] = '\0';
    assert_int_equal(cf_events_run_once(fx->ev, true), CF_OK);
    snprintf(last, sizeof(last), "%s", fx->fake.log);
    return last;
}

/* ---------------- store set-up: a key with one version, maybe a rotation policy ---------- */

enum pol { NO_POLICY, NOTIFY, ROTATE_ONLY, EMPTY_POLICY };

struct key_arg {
    struct fixture *fx;
    const char *name;
    int64_t exp;
    enum pol pol;
    const char *notify; /* the Notify duration when pol == NOTIFY */
    int64_t id;         /* out */
    char version[33];   /* out */
};

static cf_err key_fn(struct cf_store_txn *t, void *arg)
{
    struct key_arg *a = arg;
    struct cf_rec_key_obj o;
    struct cf_rec_key_ver v;
    struct cf_rec_key_policy p;
    cf_err e;

    memset(&o, 0, sizeof(o));
    o.vault_id = a->fx->vault_id;
    snprintf(o.name, sizeof(o.name), "%s", a->name);
    snprintf(o.name_lc, sizeof(o.name_lc), "%s", a->name);
    o.latest_seq = 1;
    snprintf(a->version, sizeof(a->version), "%032lld", (long long)(a->exp ^ (int64_t)a->pol));
    memcpy(o.latest_version, a->version, sizeof(o.latest_version));
    if ((e = cf_store_key_obj_insert(t, &o)) != CF_OK)
        return e;
    a->id = o.id;
    memset(&v, 0, sizeof(v));
    v.object_id = o.id;
    v.seq = 1;
    memcpy(v.version, a->version, sizeof(v.version));
    snprintf(v.kty, sizeof(v.kty), "EC");
    snprintf(v.crv, sizeof(v.crv), "P-256");
    v.created = v.updated = a->fx->clk.now / 1000;
    v.enabled = true;
    v.exp = a->exp;
    if ((e = cf_store_key_ver_insert(t, &v)) != CF_OK || a->pol == NO_POLICY)
        return e;
    memset(&p, 0, sizeof(p));
    p.object_id = o.id;
    p.created = p.updated = v.created;
    if (a->pol == NOTIFY)
        snprintf(p.notify_dur, sizeof(p.notify_dur), "%s", a->notify);
    if (a->pol == ROTATE_ONLY) {
        p.rotate = CF_REC_ROTATE_AFTER_CREATE;
        snprintf(p.rotate_dur, sizeof(p.rotate_dur), "P1Y");
    }
    return cf_store_key_policy_put(t, &p);
}

static int64_t add_key(struct fixture *fx, const char *name, int64_t exp, enum pol pol,
                       const char *notify, char version[33])
{
    struct key_arg a = {fx, name, exp, pol, notify, 0, ""};

    assert_int_equal(cf_store_write(fx->store, key_fn, &a), CF_OK);
    if (version)
        memcpy(version, a.version, 33);
    return a.id;
}

struct pol_arg {
    int64_t id;
    const char *notify;
};

static cf_err set_policy_fn(struct cf_store_txn *t, void *arg)
{
    struct pol_arg *a = arg;
    struct cf_rec_key_policy p;

    memset(&p, 0, sizeof(p));
    p.object_id = a->id;
    p.created = p.updated = T0;
    snprintf(p.notify_dur, sizeof(p.notify_dur), "%s", a->notify);
    return cf_store_key_policy_put(t, &p);
}

/* The janitor's Notify write (src/vault/keys.c notify_fn), call for call. */
struct janitor_arg {
    struct fixture *fx;
    int64_t id;
    const char *name, *version;
    int64_t exp;
    bool sent;
};

static cf_err janitor_notify_fn(struct cf_store_txn *t, void *arg)
{
    struct janitor_arg *a = arg;
    bool was_near = false;
    cf_err e = cf_store_expiry_mark(t, CF_EVENT_KIND_KEY, a->id, a->version, true, false,
                                    &was_near, NULL);

    a->sent = false;
    if (!e && !was_near) {
        struct cf_events_kv kv = {"KeyNearExpiry", a->fx->vault_id, "V1", "Key",
                                  a->name,         a->version,      0,    a->exp};
        e = cf_events_emit(a->fx->ev, t, &kv);
        a->sent = !e;
    }
    return e;
}

static bool janitor_notify(struct fixture *fx, int64_t id, const char *name, const char *version,
                           int64_t exp)
{
    struct janitor_arg a = {fx, id, name, version, exp, false};

    assert_int_equal(cf_store_write(fx->store, janitor_notify_fn, &a), CF_OK);
    return a.sent;
}

/* ---------------------------------------------------------------- tests */

/* A key without a policy: NearExpiry at the configured lead (30 days), once; Expired at exp. */
static void test_default_lead(void **state)
{
    struct fixture *fx = *state;
    int64_t now = T0;

    add_key(fx, "plain", now + 20 * DAY, NO_POLICY, NULL, NULL);
    add_key(fx, "far", now + 40 * DAY, NO_POLICY, NULL, NULL);
    assert_string_equal(scan(fx), "KeyNearExpiry:plain;");
    assert_string_equal(scan(fx), "");
    advance(fx, 10 * DAY - 1);
    assert_string_equal(scan(fx), ""); /* far: 30 days and 1 s before exp */
    advance(fx, 1);
    assert_string_equal(scan(fx), "KeyNearExpiry:far;");
    advance(fx, 10 * DAY);
    assert_string_equal(scan(fx), "KeyExpired:plain;");
    assert_string_equal(scan(fx), "");
    advance(fx, 20 * DAY - 1);
    assert_string_equal(scan(fx), "");
    advance(fx, 1);
    assert_string_equal(scan(fx), "KeyExpired:far;");
    assert_int_equal(fx->fake.notifications, 4);
}

/* A policy with a Notify action owns the key's NearExpiry, whatever its duration: the scan
 * sends none at 30 days (P7D) nor for a P60D that is due (the janitor's), still Expired. */
static void test_policy_notify_owns_near(void **state)
{
    struct fixture *fx = *state;
    int64_t exp = T0 + 20 * DAY, id7, id60;
    char v7[33], v60[33];

    id7 = add_key(fx, "p7", exp, NOTIFY, "P7D", v7);
    id60 = add_key(fx, "p60", exp, NOTIFY, "P60D", v60);
    assert_string_equal(scan(fx), "");
    /* the janitor's P60D Notify is due now */
    assert_true(janitor_notify(fx, id60, "p60", v60, exp));
    assert_string_equal(scan(fx), "KeyNearExpiry:p60;");
    advance(fx, 13 * DAY);
    assert_string_equal(scan(fx), ""); /* 7 days before exp: still not the scan's */
    assert_true(janitor_notify(fx, id7, "p7", v7, exp));
    assert_string_equal(scan(fx), "KeyNearExpiry:p7;");
    assert_false(janitor_notify(fx, id7, "p7", v7, exp)); /* once per version */
    advance(fx, 7 * DAY);
    {
        const char *log = scan(fx);
        assert_non_null(strstr(log, "KeyExpired:p7;"));
        assert_non_null(strstr(log, "KeyExpired:p60;"));
        assert_int_equal(strlen(log), strlen("KeyExpired:p7;KeyExpired:p60;"));
    }
    assert_string_equal(scan(fx), "");
}

/* A policy without a Notify action (a Rotate only, or no action at all) replaced the default
 * one: no NearExpiry from anyone; Expired still fires. */
static void test_policy_without_notify(void **state)
{
    struct fixture *fx = *state;
    int64_t exp = T0 + 20 * DAY;

    add_key(fx, "rot", exp, ROTATE_ONLY, NULL, NULL);
    add_key(fx, "empty", exp, EMPTY_POLICY, NULL, NULL);
    add_key(fx, "plain", exp, NO_POLICY, NULL, NULL);
    assert_string_equal(scan(fx), "KeyNearExpiry:plain;");
    advance(fx, 19 * DAY);
    assert_string_equal(scan(fx), "");
    advance(fx, DAY);
    {
        const char *log = scan(fx);
        assert_non_null(strstr(log, "KeyExpired:rot;"));
        assert_non_null(strstr(log, "KeyExpired:empty;"));
        assert_non_null(strstr(log, "KeyExpired:plain;"));
        assert_null(strstr(log, "NearExpiry"));
    }
    assert_string_equal(scan(fx), "");
}

/* One KeyNearExpiry per version across both paths: notified by the scan at the default lead,
 * a policy set afterwards does not notify the same version again (the janitor finds the
 * mark); and a version the janitor marked is not notified again by the scan. */
static void test_once_across_paths(void **state)
{
    struct fixture *fx = *state;
    int64_t exp = T0 + 20 * DAY, id, id2;
    char v[33], v2[33];

    id = add_key(fx, "k", exp, NO_POLICY, NULL, v);
    assert_string_equal(scan(fx), "KeyNearExpiry:k;");
    assert_int_equal(cf_store_write(fx->store, set_policy_fn, &(struct pol_arg){id, "P7D"}),
                     CF_OK);
    advance(fx, 13 * DAY);
    assert_false(janitor_notify(fx, id, "k", v, exp));
    assert_string_equal(scan(fx), "");

    /* the other way round: the janitor's mark first (a key with no policy row, so that the
     * scan's near-expiry branch would otherwise take it) */
    id2 = add_key(fx, "k2", exp, NO_POLICY, NULL, v2);
    assert_true(janitor_notify(fx, id2, "k2", v2, exp));
    assert_string_equal(scan(fx), "KeyNearExpiry:k2;"); /* the janitor's event, delivered */
    assert_string_equal(scan(fx), "");
    advance(fx, 7 * DAY);
    {
        const char *log = scan(fx);
        assert_non_null(strstr(log, "KeyExpired:k;"));
        assert_non_null(strstr(log, "KeyExpired:k2;"));
        assert_null(strstr(log, "NearExpiry"));
    }
    /* expired: the janitor's write finds the version marked too */
    assert_false(janitor_notify(fx, id, "k", v, exp));
}

/* More keys with a Notify policy inside the lead than the scan takes in one batch (256): the
 * store leaves them out of the query, so a key without a policy is still notified at once. */
static void test_policy_keys_do_not_starve(void **state)
{
    struct fixture *fx = *state;
    char name[32];

    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "pol%03d", i);
        add_key(fx, name, T0 + 20 * DAY + i, NOTIFY, "P7D", NULL);
    }
    add_key(fx, "zz-plain", T0 + 25 * DAY, NO_POLICY, NULL, NULL);
    assert_string_equal(scan(fx), "KeyNearExpiry:zz-plain;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_lead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_notify_owns_near, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_without_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_once_across_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_keys_do_not_starve, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

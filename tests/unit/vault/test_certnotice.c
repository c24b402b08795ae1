/* test_certnotice.c - a certificate policy's EmailContacts action (the janitor,
 * cf_vault_certs_renew_due) sends Microsoft.KeyVault.CertificateNearExpiry through the event
 * sink at its trigger (lifetime_percentage or days_before_expiry, in the test-only month), once
 * per version, with the data the events scan sends (Certificate, name, version, vault, NBF,
 * EXP), and shares the scan's per-version mark: a version the scan already notified gets no
 * second event, one the janitor notified no longer comes up in the scan's near-expiry query;
 * an expired version gets none; AutoRenew sends none. Driven by the fake clock. */
#include "base/cf.h"

#include "base/json.h"
#include "fixture.h"
#include "store/store_certs.h"
#include "store/store_events.h"

struct seen {
    int n, others;
    char type[48], otype[16], name[64], version[33], vault[32];
    int64_t vault_id, nbf, exp;
};

static cf_err seen_event(void *ctx, struct cf_store_txn *t, const struct cf_vault_event *ev)
{
    struct seen *s = ctx;
    (void)t;
    if (strcmp(ev->type, "CertificateNearExpiry") != 0) {
        s->others++;
        return CF_OK;
    }
    s->n++;
    snprintf(s->type, sizeof(s->type), "%s", ev->type);
    snprintf(s->otype, sizeof(s->otype), "%s", ev->object_type);
    snprintf(s->name, sizeof(s->name), "%s", ev->object_name);
    snprintf(s->version, sizeof(s->version), "%s", ev->version);
    snprintf(s->vault, sizeof(s->vault), "%s", ev->vault_name);
    s->vault_id = ev->vault_id;
    s->nbf = ev->nbf;
    s->exp = ev->exp;
    return CF_OK;
}

static void create(struct fx *f, const char *name, const char *policy)
{
    struct cf_json *p = NULL;
    struct cf_cert_op op;
    char why[256] = "";

    assert_int_equal(cf_json_parse(policy, strlen(policy), &p, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_create(f->svc, &f->ref, cf_str_from(name), p, NULL, &op, why,
                                    sizeof(why)),
                     CF_OK);
    assert_string_equal(op.status, "completed");
    cf_cert_op_release(&op);
    cf_json_free(p);
}

static void latest(struct fx *f, const char *name, struct cf_cert_meta *m)
{
    assert_int_equal(cf_cert_get(f->svc, &f->ref, cf_str_from(name), CF_STR(""), m), CF_OK);
}

static void janitor(struct fx *f)
{
    int n = -1;
    assert_int_equal(cf_vault_certs_renew_due(f->svc, &n), CF_OK);
    assert_int_equal(n, 0); /* EmailContacts never renews */
}

#define POLICY(trigger, action)                                                                    \
    "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC\"},\"x509_props\":{"             \
    "\"subject\":\"CN=n\",\"validity_months\":1},\"lifetime_actions\":[{\"trigger\":{" trigger    \
    "},\"action\":{\"action_type\":\"" action "\"}}]}"
#define PCT50_EMAIL POLICY("\"lifetime_percentage\":50", "EmailContacts")

/* ---- the scan's side: its mark and its near-expiry query ---- */

struct probe {
    int64_t vault_id, now, lead;
    const char *name;
    int64_t object_id;
    bool listed_near; /* the scan's query still offers the version for NearExpiry */
};

static cf_err probe_cb(const struct cf_rec_expiry *x, void *arg)
{
    struct probe *p = arg;
    if (x->kind == CF_EVENT_KIND_CERT && strcmp(x->name, p->name) == 0 && !x->near_done)
        p->listed_near = true;
    return CF_OK;
}

static cf_err probe_fn(struct cf_store_txn *t, void *arg)
{
    struct probe *p = arg;
    struct cf_rec_cert_obj o;
    char lc[CF_MAX_NAME_LEN + 1];
    cf_err e;

    cf_str_lower(cf_str_from(p->name), lc);
    if ((e = cf_store_cert_obj_get(t, p->vault_id, lc, &o)) != CF_OK)
        return e;
    p->object_id = o.id;
    cf_rec_cert_obj_release(&o);
    p->listed_near = false;
    return cf_store_expiry_due(t, p->now, p->lead, 1000, probe_cb, p);
}

/* Whether the events scan (lead: a year) would still send a NearExpiry for name. */
static bool scan_would_send(struct fx *f, const char *name)
{
    struct probe p = {f->ref.id, cf_clock_s(&f->clock.c), 365 * 86400, name, 0, false};
    assert_int_equal(cf_store_read(f->store, probe_fn, &p), CF_OK);
    return p.listed_near;
}

struct scan_mark {
    int64_t object_id;
    const char *version;
};

static cf_err scan_mark_fn(struct cf_store_txn *t, void *arg)
{
    struct scan_mark *m = arg;
    bool was_near = true;
    cf_err e = cf_store_expiry_mark(t, CF_EVENT_KIND_CERT, m->object_id, m->version, true, false,
                                    &was_near, NULL);
    assert_false(was_near);
    return e;
}

/* ---- tests ---- */

static void percentage_once_per_version(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m, m2;
    struct seen s;

    memset(&s, 0, sizeof(s));
    cf_vault_certs_set_month(f->svc, 40);
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    create(f, "note", PCT50_EMAIL);
    latest(f, "note", &m);
    assert_int_equal(m.exp, T0 + 40);
    assert_true(scan_would_send(f, "note"));

    fx_advance(f, 19);
    janitor(f);
    assert_int_equal(s.n, 0); /* one second early */
    fx_advance(f, 1);         /* T0 + 20: half of its life */
    janitor(f);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.type, "CertificateNearExpiry");
    assert_string_equal(s.otype, "Certificate");
    assert_string_equal(s.name, "note");
    assert_string_equal(s.version, m.version);
    assert_string_equal(s.vault, "testvault");
    assert_int_equal(s.vault_id, f->ref.id);
    assert_int_equal(s.nbf, m.nbf);
    assert_int_equal(s.exp, m.exp);
    /* the scan's mark is set: it will not send a second one for this version */
    assert_false(scan_would_send(f, "note"));
    for (int i = 0; i < 5; i++) {
        fx_advance(f, 3);
        janitor(f);
    }
    assert_int_equal(s.n, 1); /* once per version */

    /* a new version (T0 + 35) is notified at half of its own life, once */
    create(f, "note", PCT50_EMAIL);
    latest(f, "note", &m2);
    assert_string_not_equal(m2.version, m.version);
    janitor(f);
    assert_int_equal(s.n, 1);
    assert_true(scan_would_send(f, "note"));
    fx_advance(f, 20);
    janitor(f);
    janitor(f);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.version, m2.version);
    assert_int_equal(s.exp, m2.exp);
    cf_cert_meta_release(&m);
    cf_cert_meta_release(&m2);
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

static void days_before_expiry(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m;
    struct seen s;

    /* a 365 s month: a day is 12 s; 10 "days" before exp = exp - 120 */
    memset(&s, 0, sizeof(s));
    cf_vault_certs_set_month(f->svc, 365);
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    create(f, "dd", POLICY("\"days_before_expiry\":10", "EmailContacts"));
    latest(f, "dd", &m);
    assert_int_equal(m.exp, T0 + 365);
    fx_advance(f, 244);
    janitor(f);
    assert_int_equal(s.n, 0);
    fx_advance(f, 1); /* exp - 120 */
    janitor(f);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.version, m.version);
    assert_int_equal(s.exp, T0 + 365);
    cf_cert_meta_release(&m);
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* The events scan came first (its lead ran out before the policy's trigger): its mark is
 * there, so the janitor's notice adds no second CertificateNearExpiry. */
static void scan_first_no_second_event(void **state)
{
    struct fx *f = *state;
    struct cf_cert_meta m;
    struct seen s;
    struct probe p = {0};

    memset(&s, 0, sizeof(s));
    cf_vault_certs_set_month(f->svc, 40);
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    create(f, "late", POLICY("\"lifetime_percentage\":90", "EmailContacts"));
    latest(f, "late", &m);
    p = (struct probe){f->ref.id, T0, 0, "late", 0, false};
    assert_int_equal(cf_store_read(f->store, probe_fn, &p), CF_OK);
    struct scan_mark sm = {p.object_id, m.version};
    assert_int_equal(cf_store_write(f->store, scan_mark_fn, &sm), CF_OK);
    fx_advance(f, 36);
    janitor(f);
    janitor(f);
    assert_int_equal(s.n, 0);
    cf_cert_meta_release(&m);
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* The janitor first sees the version after its exp (cofferd was down): no late NearExpiry;
 * the scan's CertificateExpired speaks for it (its mark stays untouched). AutoRenew sends no
 * near-expiry event either. */
static void expired_and_autorenew_quiet(void **state)
{
    struct fx *f = *state;
    struct seen s;
    int n = -1;

    memset(&s, 0, sizeof(s));
    cf_vault_certs_set_month(f->svc, 40);
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    create(f, "gone", PCT50_EMAIL);
    create(f, "auto", POLICY("\"lifetime_percentage\":50", "AutoRenew"));
    fx_advance(f, 41);
    assert_int_equal(cf_vault_certs_renew_due(f->svc, &n), CF_OK);
    assert_int_equal(n, 1); /* "auto" renewed */
    assert_int_equal(s.n, 0);
    assert_int_equal(s.others, 3); /* NewVersionCreated: two creates and the renewal */
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* Without a sink (no events module) the notice still works and the mark is still set. */
static void no_sink(void **state)
{
    struct fx *f = *state;

    cf_vault_certs_set_month(f->svc, 40);
    create(f, "quiet", PCT50_EMAIL);
    fx_advance(f, 20);
    janitor(f);
    assert_false(scan_would_send(f, "quiet"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(percentage_once_per_version, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(days_before_expiry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(scan_first_no_second_event, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(expired_and_autorenew_quiet, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(no_sink, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

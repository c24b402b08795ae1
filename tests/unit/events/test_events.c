/* test_events.c - events.h: exact event shapes in both schemas, the retry schedule and the
 * meaning of answers, the signature, endpoint rules; and against a real SQLite store with a
 * fake webhook transport and a test clock: the handshake, outbox atomicity (a failed write
 * emits nothing), delivery with the signature header, retries, dead-lettering after
 * maxDeliveryAttempts, and the NearExpiry/Expired scan firing once per version. */
#include "base/cf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "events/events.h"
#include "store/store_vault.h"

/* ---------------------------------------------------------------- pure parts */

static void test_data_shape(void **state)
{
    struct cf_events_kv kv = {"SecretNearExpiry", 1, "Contoso-KV", "Secret", "db-pass",
                              "ee059b2bb5bc48398a53b168c6cdcb10", 1743465600, 1748736000};
    struct cf_buf b;
    (void)state;

    cf_buf_init(&b, 4096);
    assert_int_equal(cf_events_render_data(&kv, "vault.azure.net", 443, &b), CF_OK);
    assert_string_equal(b.data,
                        "{\"Id\":\"https://contoso-kv.vault.azure.net/secrets/db-pass/"
                        "ee059b2bb5bc48398a53b168c6cdcb10\",\"VaultName\":\"Contoso-KV\","
                        "\"ObjectType\":\"Secret\",\"ObjectName\":\"db-pass\",\"Version\":"
                        "\"ee059b2bb5bc48398a53b168c6cdcb10\",\"NBF\":1743465600,\"EXP\":1748736000}");
    cf_buf_reset(&b);
    kv = (struct cf_events_kv){"VaultAccessPolicyChanged", 1, "v1", "Vault", "v1", "", 0, 0};
    assert_int_equal(cf_events_render_data(&kv, "vault.localhost", 8443, &b), CF_OK);
    assert_string_equal(b.data, "{\"Id\":\"https://v1.vault.localhost:8443/\",\"VaultName\":\"v1\","
                                "\"ObjectType\":\"Vault\",\"ObjectName\":\"v1\",\"Version\":\"\","
                                "\"NBF\":null,\"EXP\":null}");
    cf_buf_release(&b);
}

static void test_envelopes(void **state)
{
    struct cf_buf b;
    (void)state;

    cf_buf_init(&b, 4096);
    assert_int_equal(cf_events_render_event(CF_EVENTS_SCHEMA_EG, "id-1", "/t", "s",
                                            "Microsoft.KeyVault.SecretExpired", 1746057612345LL,
                                            "{\"a\":1}", &b),
                     CF_OK);
    assert_string_equal(b.data, "{\"id\":\"id-1\",\"topic\":\"/t\",\"subject\":\"s\",\"eventType\":"
                                "\"Microsoft.KeyVault.SecretExpired\",\"eventTime\":"
                                "\"2025-05-01T00:00:12.3450000Z\",\"data\":{\"a\":1},"
                                "\"dataVersion\":\"1\",\"metadataVersion\":\"1\"}");
    cf_buf_reset(&b);
    assert_int_equal(cf_events_render_event(CF_EVENTS_SCHEMA_CE, "id-1", "/t", "s",
                                            "Microsoft.KeyVault.SecretExpired", 1746057612005LL,
                                            "{\"a\":1}", &b),
                     CF_OK);
    assert_string_equal(b.data, "{\"specversion\":\"1.0\",\"id\":\"id-1\",\"source\":\"/t\","
                                "\"subject\":\"s\",\"type\":\"Microsoft.KeyVault.SecretExpired\","
                                "\"time\":\"2025-05-01T00:00:12.0050000Z\",\"data\":{\"a\":1}}");
    cf_buf_release(&b);
}

static void test_backoff_and_classify(void **state)
{
    static const int64_t want_s[] = {10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 43200};
    bool retry;
    int64_t min_ms;
    const char *outcome;
    (void)state;

    for (int i = 0; i < (int)CF_ARRAY_LEN(want_s); i++)
        assert_int_equal(cf_events_backoff_ms(i + 1, 10000), want_s[i] * 1000);
    assert_int_equal(cf_events_backoff_ms(40, 10000), 43200000);
    assert_int_equal(cf_events_backoff_ms(1, 200), 200); /* scaled: 10 s -> 0.2 s */
    assert_int_equal(cf_events_backoff_ms(2, 200), 600);
    assert_int_equal(cf_events_backoff_ms(4, 200), 6000);

    for (int s = 200; s <= 204; s++)
        assert_true(cf_events_classify(s, 10000, &retry, &min_ms, &outcome));
    assert_false(cf_events_classify(205, 10000, &retry, &min_ms, &outcome));
    assert_true(retry);
    assert_false(cf_events_classify(400, 10000, &retry, &min_ms, &outcome));
    assert_false(retry);
    assert_string_equal(outcome, "BadRequest");
    assert_false(cf_events_classify(401, 10000, &retry, &min_ms, &outcome));
    assert_false(retry);
    assert_false(cf_events_classify(403, 10000, &retry, &min_ms, &outcome));
    assert_false(retry);
    assert_false(cf_events_classify(413, 10000, &retry, &min_ms, &outcome));
    assert_false(retry);
    assert_false(cf_events_classify(404, 10000, &retry, &min_ms, &outcome));
    assert_true(retry);
    assert_false(cf_events_classify(408, 10000, &retry, &min_ms, &outcome));
    assert_true(retry);
    assert_int_equal(min_ms, 120000);
    assert_false(cf_events_classify(503, 10000, &retry, &min_ms, &outcome));
    assert_int_equal(min_ms, 30000);
    assert_string_equal(outcome, "Busy");
    assert_false(cf_events_classify(0, 200, &retry, &min_ms, &outcome));
    assert_true(retry);
    assert_int_equal(min_ms, 200);
    assert_string_equal(outcome, "SocketError");
}

static void test_sign_and_rules(void **state)
{
    char secret[44], sig[80];
    (void)state;

    memset(secret, 'k', 43);
    secret[43] = '\0';
    assert_int_equal(cf_events_sign(secret, "[{}]", 4, sig), CF_OK);
    assert_string_equal(
        sig, "sha256=5faf39692dd5f688038d9e69f52ccbe0ba2113269bf16e19cfe1bb7267c1791c");

    assert_true(cf_events_endpoint_ok("https://example.com/hook"));
    assert_true(cf_events_endpoint_ok("http://127.0.0.1:8080/x"));
    assert_true(cf_events_endpoint_ok("http://127.1.2.3/x"));
    assert_true(cf_events_endpoint_ok("http://[::1]:99/x"));
    assert_true(cf_events_endpoint_ok("http://localhost/x"));
    assert_false(cf_events_endpoint_ok("http://192.0.2.1/x"));
    assert_false(cf_events_endpoint_ok("http://127.0.0.1.evil.com/x"));
    assert_false(cf_events_endpoint_ok("http://user@127.0.0.1/x"));
    assert_false(cf_events_endpoint_ok("ftp://127.0.0.1/x"));
    assert_false(cf_events_endpoint_ok("https://"));
    assert_false(cf_events_endpoint_ok("https://a b/"));
    assert_false(cf_events_endpoint_ok(NULL));

    assert_true(cf_events_type_known("Microsoft.KeyVault.CertificateNearExpiry"));
    assert_true(cf_events_type_known("Coffer.Alert.Fired"));
    assert_false(cf_events_type_known("Microsoft.KeyVault.Bogus"));
    assert_false(cf_events_type_known("SecretExpired"));
}

/* ---------------------------------------------------------------- with a store */

struct fake {
    int answer;        /* status for notifications */
    int options;       /* OPTIONS requests (the CloudEvents handshake) */
    int options_status;        /* its answer: 0 = 200 */
    const char *allowed;       /* WebHook-Allowed-Origin answered; NULL: echo the origin */
    char origin[64];           /* the WebHook-Request-Origin seen */
    int calls, validations, notifications;
    char last_sig[100];
    char last_body[8192];
    int last_count;
};

static cf_err fake_send(void *ctx, const struct cf_events_http_req *req,
                        struct cf_events_http_resp *resp)
{
    struct fake *f = ctx;
    bool validation = false;

    f->calls++;
    if (req->method && strcmp(req->method, "OPTIONS") == 0) {
        f->options++;
        f->validations++;
        assert_int_equal(req->body_len, 0);
        f->origin[0] = '\0';
        for (size_t i = 0; req->headers[i]; i++) {
            assert_null(strstr(req->headers[i], "aeg-signature")); /* nothing to sign */
            if (strncmp(req->headers[i], "WebHook-Request-Origin: ", 24) == 0)
                snprintf(f->origin, sizeof(f->origin), "%s", req->headers[i] + 24);
        }
        resp->status = f->options_status ? f->options_status : 200;
        snprintf(resp->allowed_origin, sizeof(resp->allowed_origin), "%s",
                 f->allowed ? f->allowed : f->origin);
        return CF_OK;
    }
    assert_true(!req->method || strcmp(req->method, "POST") == 0);
    for (size_t i = 0; req->headers[i]; i++) {
        if (strcmp(req->headers[i], "aeg-event-type: SubscriptionValidation") == 0)
            validation = true;
        if (strncmp(req->headers[i], "aeg-signature: ", 15) == 0)
            snprintf(f->last_sig, sizeof(f->last_sig), "%s", req->headers[i] + 15);
        if (strncmp(req->headers[i], "aeg-delivery-count: ", 20) == 0)
            f->last_count = (int)strtol(req->headers[i] + 20, NULL, 10);
    }
    snprintf(f->last_body, sizeof(f->last_body), "%.*s", (int)req->body_len, req->body);
    if (validation) {
        const char *p = strstr(f->last_body, "\"validationCode\":\"");
        f->validations++;
        assert_non_null(p);
        p += 18;
        resp->status = 200;
        return cf_buf_printf(&resp->body, "{\"validationResponse\":\"%.36s\"}", p);
    }
    f->notifications++;
    resp->status = f->answer;
    return CF_OK;
}

#include "events_fixture.h"

static int setup(void **state)
{
    struct fixture *fx = fixture_new("/tmp/cf-events-XXXXXX", 1746057600000LL);
    fx->fake.answer = 200;
    *state = fx;
    return 0;
}

static void subscribe(struct fixture *fx, int max_attempts, const char *schema)
{
    struct cf_rec_event_sub in, out;
    char why[200] = "";
    bool created = false;

    memset(&in, 0, sizeof(in));
    in.endpoint = (char *)(uintptr_t)"https://hooks.example/x";
    in.types = (char *)(uintptr_t)"";
    snprintf(in.schema, sizeof(in.schema), "%s", schema);
    in.max_attempts = max_attempts;
    assert_int_equal(cf_events_sub_put(fx->ev, fx->vault_id, "/subscriptions/sub/resourceGroups/"
                                       "rg/providers/Microsoft.KeyVault/vaults/V1",
                                       "Sub-1", &in, &created, fx->secret, &out, why, sizeof(why)),
                     CF_OK);
    assert_true(created);
    assert_int_equal(strlen(fx->secret), CF_EVENTS_SECRET_LEN);
    assert_string_equal(out.state, "Creating");
    cf_rec_event_sub_release(&out);
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.validations, 1);
    assert_int_equal(cf_events_sub_get(fx->ev, fx->vault_id, "sub-1", &out), CF_OK);
    assert_string_equal(out.state, "Succeeded");
    cf_rec_event_sub_release(&out);
}

struct emit_arg {
    struct fixture *fx;
    cf_err fail_with;
};

static cf_err emit_fn(struct cf_store_txn *t, void *arg)
{
    struct emit_arg *a = arg;
    struct cf_events_kv kv = {"SecretNewVersionCreated", a->fx->vault_id, "V1", "Secret", "s1",
                              "0123456789abcdef0123456789abcdef", 0, 0};
    cf_err e = cf_events_emit(a->fx->ev, t, &kv);
    return e ? e : a->fail_with;
}

static void test_outbox_atomic_and_delivery(void **state)
{
    struct fixture *fx = *state;
    struct emit_arg a = {fx, CF_EEXISTS};
    char want[80];

    subscribe(fx, 0, "");
    /* the write fails after emitting: the event rolls back with it */
    assert_int_equal(cf_store_write(fx->store, emit_fn, &a), CF_EEXISTS);
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 0);
    /* a committed write's event is delivered, signed with the secret the create returned */
    a.fail_with = CF_OK;
    assert_int_equal(cf_store_write(fx->store, emit_fn, &a), CF_OK);
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 1);
    assert_int_equal(fx->fake.last_count, 0);
    assert_non_null(strstr(fx->fake.last_body, "\"eventType\":\"Microsoft.KeyVault."
                                                "SecretNewVersionCreated\""));
    assert_non_null(strstr(fx->fake.last_body,
                           "\"Id\":\"https://v1.vault.localhost:8443/secrets/s1/"
                           "0123456789abcdef0123456789abcdef\""));
    assert_true(fx->fake.last_body[0] == '[');
    assert_int_equal(cf_events_sign(fx->secret, fx->fake.last_body, strlen(fx->fake.last_body),
                                    want),
                     CF_OK);
    assert_string_equal(fx->fake.last_sig, want);
    /* acknowledged: nothing more to send */
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 1);
}

struct dl_count {
    int n;
    char reason[48];
    int attempts;
};

static cf_err dl_cb(const struct cf_rec_event_deadletter *d, void *arg)
{
    struct dl_count *c = arg;
    c->n++;
    snprintf(c->reason, sizeof(c->reason), "%s", d->reason);
    c->attempts = d->attempts;
    return CF_OK;
}

static void test_retry_then_dead_letter(void **state)
{
    struct fixture *fx = *state;
    struct emit_arg a = {fx, CF_OK};
    struct dl_count dl = {0};
    int64_t pending = 0;

    subscribe(fx, 3, CF_EVENTS_SCHEMA_CE);
    fx->fake.answer = 500;
    assert_int_equal(cf_store_write(fx->store, emit_fn, &a), CF_OK);
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 1);
    assert_true(fx->fake.last_body[0] == '{'); /* CloudEvents: one event, no array */
    /* not due before the first step of the schedule (10 s) */
    fx->clk.now += 9000;
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 1);
    fx->clk.now += 1000;
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 2);
    assert_int_equal(fx->fake.last_count, 1);
    assert_int_equal(cf_events_pending(fx->ev, fx->vault_id, "sub-1", &pending), CF_OK);
    assert_int_equal(pending, 1);
    fx->clk.now += 30000; /* second step */
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 3);
    /* maxDeliveryAttempts 3 reached: in the dead-letter store, nothing pending */
    assert_int_equal(cf_events_deadletters(fx->ev, fx->vault_id, "sub-1", dl_cb, &dl), CF_OK);
    assert_int_equal(dl.n, 1);
    assert_string_equal(dl.reason, "MaxDeliveryAttemptsExceeded");
    assert_int_equal(dl.attempts, 3);
    assert_int_equal(cf_events_pending(fx->ev, fx->vault_id, "sub-1", &pending), CF_OK);
    assert_int_equal(pending, 0);
    fx->clk.now += 3600000;
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 3);
}

/* CloudEventSchemaV1_0 validates with the OPTIONS handshake, EventGridSchema never does:
 * granted by an echo of the origin or "*"; a wrong origin, none, or a non-200 is not a grant
 * (retried, then Failed); a Failed subscription gets no deliveries. */
static cf_err ce_sub(struct fixture *fx, const char *name, const char *schema, char *state,
                     size_t n)
{
    struct cf_rec_event_sub in, out;
    char why[200] = "";
    bool created = false;
    cf_err e;

    memset(&in, 0, sizeof(in));
    in.endpoint = (char *)(uintptr_t)"https://hooks.example/ce";
    in.types = (char *)(uintptr_t)"";
    snprintf(in.schema, sizeof(in.schema), "%s", schema);
    e = cf_events_sub_put(fx->ev, fx->vault_id, "/subscriptions/sub/resourceGroups/rg/providers/"
                          "Microsoft.KeyVault/vaults/V1", name, &in, &created, fx->secret, &out,
                          why, sizeof(why));
    if (e)
        return e;
    cf_rec_event_sub_release(&out);
    if ((e = cf_events_run_once(fx->ev, false)))
        return e;
    if ((e = cf_events_sub_get(fx->ev, fx->vault_id, name, &out)))
        return e;
    snprintf(state, n, "%s", out.state);
    cf_rec_event_sub_release(&out);
    return CF_OK;
}

static void test_ce_options_handshake(void **state)
{
    struct fixture *fx = *state;
    struct emit_arg a = {fx, CF_OK};
    char st[32];

    /* granted by echoing the origin */
    assert_int_equal(ce_sub(fx, "ce-echo", CF_EVENTS_SCHEMA_CE, st, sizeof(st)), CF_OK);
    assert_string_equal(st, "Succeeded");
    assert_int_equal(fx->fake.options, 1);
    assert_string_equal(fx->fake.origin, "eventgrid.azure.net");
    /* granted by "*" */
    fx->fake.allowed = "*";
    assert_int_equal(ce_sub(fx, "ce-star", CF_EVENTS_SCHEMA_CE, st, sizeof(st)), CF_OK);
    assert_string_equal(st, "Succeeded");
    assert_int_equal(fx->fake.options, 2);
    /* the Event Grid schema posts its validation event instead */
    assert_int_equal(ce_sub(fx, "eg-sub", CF_EVENTS_SCHEMA_EG, st, sizeof(st)), CF_OK);
    assert_string_equal(st, "Succeeded");
    assert_int_equal(fx->fake.options, 2);
    /* another origin, no header, a 204 or a 403: not granted */
    fx->fake.allowed = "evil.example";
    assert_int_equal(ce_sub(fx, "ce-wrong", CF_EVENTS_SCHEMA_CE, st, sizeof(st)), CF_OK);
    assert_string_equal(st, "Creating");
    fx->fake.allowed = "";
    assert_int_equal(ce_sub(fx, "ce-none", CF_EVENTS_SCHEMA_CE, st, sizeof(st)), CF_OK);
    assert_string_equal(st, "Creating");
    fx->fake.allowed = NULL;
    fx->fake.options_status = 403;
    assert_int_equal(ce_sub(fx, "ce-403", CF_EVENTS_SCHEMA_CE, st, sizeof(st)), CF_OK);
    assert_string_equal(st, "Creating");
    /* retried every half step until validate_tries (10), then Failed */
    for (int i = 0; i < 12; i++) {
        fx->clk.now += 5000;
        assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    }
    struct cf_rec_event_sub out;
    assert_int_equal(cf_events_sub_get(fx->ev, fx->vault_id, "ce-403", &out), CF_OK);
    assert_string_equal(out.state, "Failed");
    cf_rec_event_sub_release(&out);
    assert_int_equal(cf_events_sub_get(fx->ev, fx->vault_id, "ce-wrong", &out), CF_OK);
    assert_string_equal(out.state, "Failed");
    cf_rec_event_sub_release(&out);
    /* an event reaches the three granted subscriptions only */
    fx->fake.notifications = 0;
    assert_int_equal(cf_store_write(fx->store, emit_fn, &a), CF_OK);
    assert_int_equal(cf_events_run_once(fx->ev, false), CF_OK);
    assert_int_equal(fx->fake.notifications, 3);
}

static void test_bad_input(void **state)
{
    struct fixture *fx = *state;
    struct cf_rec_event_sub in, out;
    char why[200] = "", secret[CF_EVENTS_SECRET_LEN + 1];

    memset(&in, 0, sizeof(in));
    in.endpoint = (char *)(uintptr_t)"http://192.0.2.1/";
    assert_int_equal(cf_events_sub_put(fx->ev, fx->vault_id, "/t", "abc", &in, NULL, secret, &out,
                                       why, sizeof(why)),
                     CF_EBADPARAM);
    assert_string_equal(secret, "");
    in.endpoint = (char *)(uintptr_t)"https://x/";
    in.types = (char *)(uintptr_t)",Microsoft.KeyVault.Nope,";
    assert_int_equal(cf_events_sub_put(fx->ev, fx->vault_id, "/t", "abc", &in, NULL, secret, &out,
                                       why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "Nope"));
    in.types = NULL;
    assert_int_equal(cf_events_sub_put(fx->ev, fx->vault_id, "/t", "-ab", &in, NULL, secret, &out,
                                       why, sizeof(why)),
                     CF_EBADPARAM);
    in.max_attempts = 31;
    assert_int_equal(cf_events_sub_put(fx->ev, fx->vault_id, "/t", "abc", &in, NULL, secret, &out,
                                       why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_events_sub_delete(fx->ev, fx->vault_id, "abc"), CF_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_shape),
        cmocka_unit_test(test_envelopes),
        cmocka_unit_test(test_backoff_and_classify),
        cmocka_unit_test(test_sign_and_rules),
        cmocka_unit_test_setup_teardown(test_outbox_atomic_and_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_then_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ce_options_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

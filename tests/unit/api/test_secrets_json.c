/* The secrets handlers without a server: h_secrets.c is compiled into this test, with the
 * reply functions (reply.c), the request helpers (dispatch.c) and the vault's secret calls
 * replaced by recording fakes defined below. Because this object defines every symbol
 * h_secrets.c needs from cf_api and cf_vault, the linker pulls only base (and the error map)
 * from the libraries, so the test runs whatever state the other modules are in.
 *
 * Covers: the text helpers, body validation (value, contentType, attributes, tags and their
 * limits), the four output shapes byte for byte in Azure's field order, and each handler's
 * statuses, error codes and messages, paging links, and that a value never reaches an error. */
#include "base/cf.h"

#include "api/h_secrets.c"

#include <setjmp.h>
#include <cmocka.h>

/* ---------------- captured reply ---------------- */

static struct {
    int status;
    bool has_body;
    bool replied;
    char *body;
} got;

static void request_free(struct api_req *r)
{
    cf_json_free(r->body);
    cf_buf_release(&r->scratch);
    cf_buf_release(&r->out);
    free(r);
}

static void capture(struct api_req *r, int status, bool with_body)
{
    assert_false(got.replied); /* exactly one reply per request */
    got.replied = true;
    got.status = status;
    got.has_body = with_body;
    free(got.body);
    got.body = strdup(with_body && r->out.data ? r->out.data : "");
    request_free(r);
}

void api_reply(struct api_req *r, int status)
{
    capture(r, status, true);
}

void api_reply_empty(struct api_req *r, int status)
{
    capture(r, status, false);
}

void api_error(struct api_req *r, int status, const char *code, const char *inner, const char *fmt,
               ...)
{
    char msg[1024];
    va_list ap;
    struct cf_jw w;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cf_buf_reset(&r->out);
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_key(&w, "error");
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "code", code);
    cf_jw_kstr(&w, "message", msg);
    if (inner) {
        cf_jw_key(&w, "innererror");
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "code", inner);
        cf_jw_obj_end(&w);
    }
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    capture(r, status, true);
}

void api_error_err(struct api_req *r, cf_err e)
{
    const struct api_errmap *m = api_errmap_get(e);
    api_error(r, m->status, m->code, NULL, "%s", cf_err_msg(e));
}

cf_err api_base_url(const struct api_req *r, struct cf_buf *out)
{
    cf_err e = cf_buf_puts(out, "https://");
    if (!e)
        e = cf_buf_append_str(out, r->hostname);
    if (!e)
        e = cf_buf_append_str(out, r->port);
    return e;
}

struct cf_str api_query(const struct api_req *r, const char *key)
{
    for (size_t i = 0; i < r->nq; i++)
        if (cf_str_eq_cstr(r->q[i].key, key))
            return r->q[i].val;
    return CF_STR_NULL;
}

cf_err api_body_json(struct api_req *r, bool allow_empty)
{
    struct cf_str b = r->http->body;
    cf_err e;

    if (b.len == 0 && allow_empty)
        b = CF_STR("{}");
    e = cf_json_parse(b.p ? b.p : "", b.len, &r->body, NULL, 0);
    if (e) {
        api_error(r, 400, "BadParameter", NULL, "The request body is not valid JSON.");
        return e;
    }
    if (cf_json_type(r->body) != CF_JSON_OBJECT) {
        api_error(r, 400, "BadParameter", NULL, "The request body must be a JSON object.");
        return CF_EBADJSON;
    }
    return CF_OK;
}

/* Enough of the ordering for these tests: dated versions compare as text, numbered ones are
 * older than every dated one used here. */
bool api_version_at_least(const struct api_req *r, const char *v)
{
    return strlen(r->api_version) >= 10 && strcmp(r->api_version, v) >= 0;
}

/* ---------------- fake vault ---------------- */

bool cf_name_valid_object(struct cf_str name)
{
    if (name.len < 1 || name.len > CF_MAX_NAME_LEN)
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-'))
            return false;
    }
    return true;
}

const char *cf_recovery_level(const struct cf_vault_ref *v)
{
    if (v->retention_days < 90)
        return v->purge_protection ? "CustomizedRecoverable" : "CustomizedRecoverable+Purgeable";
    return v->purge_protection ? "Recoverable" : "Recoverable+Purgeable";
}

static struct {
    cf_err err; /* what the next vault call returns */
    int calls;
    char op[32]; /* which call */
    char name[300];
    char version[64];
    char value[64];
    size_t value_len;
    struct cf_secret_input in;
    char ct[300];
    char tags[4096];
    char after[300];
    int max;
    struct cf_secret_meta meta; /* returned (content_type/tags duplicated per call) */
    const char *secret;         /* get's value */
    int nitems;                 /* lists: items produced */
    const char *next;           /* lists: continuation token */
    const char *blob;           /* backup's blob */
    int live_metas;             /* metas filled minus released */
} fake;

void cf_secret_meta_release(struct cf_secret_meta *m)
{
    if (m->content_type || m->tags_json || m->version[0])
        fake.live_metas--;
    free(m->content_type);
    free(m->tags_json);
    memset(m, 0, sizeof(*m));
}

static void record(const char *op, struct cf_str name)
{
    fake.calls++;
    snprintf(fake.op, sizeof(fake.op), "%s", op);
    snprintf(fake.name, sizeof(fake.name), "%.*s", (int)name.len, name.p ? name.p : "");
}

static void fill(struct cf_secret_meta *out)
{
    *out = fake.meta;
    out->content_type = fake.meta.content_type ? strdup(fake.meta.content_type) : NULL;
    out->tags_json = fake.meta.tags_json ? strdup(fake.meta.tags_json) : NULL;
    fake.live_metas++;
}

static void record_input(const struct cf_secret_input *in)
{
    fake.in = *in;
    snprintf(fake.ct, sizeof(fake.ct), "%s", in->content_type ? in->content_type : "");
    snprintf(fake.tags, sizeof(fake.tags), "%s", in->tags_json ? in->tags_json : "");
    fake.in.content_type = NULL;
    fake.in.tags_json = NULL;
}

cf_err cf_secret_set(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str value, const struct cf_secret_input *in,
                     struct cf_secret_meta *out)
{
    (void)s;
    (void)v;
    record("set", name);
    fake.value_len = value.len;
    snprintf(fake.value, sizeof(fake.value), "%.*s", (int)value.len, value.p);
    record_input(in);
    if (!fake.err)
        fill(out);
    return fake.err;
}

/* The handler uses the asynchronous form; the fake completes at once (on the caller's thread),
 * with the outcome the test chose reported through the callback, as a failed commit would be. */
cf_err cf_secret_set_async(struct cf_vault_svc *s, const struct cf_vault_ref *v,
                           struct cf_str name, struct cf_str value,
                           const struct cf_secret_input *in, cf_secret_done_fn done, void *arg)
{
    struct cf_secret_meta m;
    cf_err e;

    memset(&m, 0, sizeof(m));
    e = cf_secret_set(s, v, name, value, in, &m);
    done(e, &m, arg);
    return CF_OK;
}

cf_err cf_secret_get(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str version, struct cf_secret_meta *out, struct cf_secret **value)
{
    (void)s;
    (void)v;
    record("get", name);
    snprintf(fake.version, sizeof(fake.version), "%.*s", (int)version.len, version.p);
    if (fake.err && fake.err != CF_EDISABLED)
        return fake.err;
    fill(out);
    if (!fake.err && value)
        *value = cf_secret_from(fake.secret, strlen(fake.secret));
    return fake.err;
}

cf_err cf_secret_update(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str name,
                        struct cf_str version, const struct cf_secret_input *in,
                        struct cf_secret_meta *out)
{
    (void)s;
    (void)v;
    record("update", name);
    snprintf(fake.version, sizeof(fake.version), "%.*s", (int)version.len, version.p);
    record_input(in);
    if (!fake.err)
        fill(out);
    return fake.err;
}

static cf_err fake_list(const char *op, struct cf_str name, struct cf_str after, int max,
                        cf_secret_cb cb, void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    record(op, name);
    snprintf(fake.after, sizeof(fake.after), "%.*s", (int)after.len, after.p);
    fake.max = max;
    if (fake.err)
        return fake.err;
    for (int i = 0; i < fake.nitems; i++) {
        struct cf_secret_meta m = fake.meta;
        cf_err e;
        snprintf(m.name, sizeof(m.name), "s%d", i);
        e = cb(&m, arg);
        if (e)
            return e;
    }
    snprintf(next, CF_PAGE_TOKEN_MAX, "%s", fake.next ? fake.next : "");
    return CF_OK;
}

cf_err cf_secret_list(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str after,
                      int max, cf_secret_cb cb, void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    (void)s;
    (void)v;
    return fake_list("list", CF_STR(""), after, max, cb, arg, next);
}

cf_err cf_secret_list_versions(struct cf_vault_svc *s, const struct cf_vault_ref *v,
                               struct cf_str name, struct cf_str after, int max, cf_secret_cb cb,
                               void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    (void)s;
    (void)v;
    return fake_list("versions", name, after, max, cb, arg, next);
}

cf_err cf_secret_list_deleted(struct cf_vault_svc *s, const struct cf_vault_ref *v,
                              struct cf_str after, int max, cf_secret_cb cb, void *arg,
                              char next[CF_PAGE_TOKEN_MAX])
{
    (void)s;
    (void)v;
    return fake_list("list_deleted", CF_STR(""), after, max, cb, arg, next);
}

static cf_err fake_meta_op(const char *op, struct cf_str name, struct cf_secret_meta *out)
{
    record(op, name);
    if (!fake.err)
        fill(out);
    return fake.err;
}

cf_err cf_secret_delete(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str name,
                        struct cf_secret_meta *out)
{
    (void)s;
    (void)v;
    return fake_meta_op("delete", name, out);
}

cf_err cf_secret_get_deleted(struct cf_vault_svc *s, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_secret_meta *out)
{
    (void)s;
    (void)v;
    return fake_meta_op("get_deleted", name, out);
}

cf_err cf_secret_recover(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str name,
                         struct cf_secret_meta *out)
{
    (void)s;
    (void)v;
    return fake_meta_op("recover", name, out);
}

cf_err cf_secret_purge(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str name)
{
    (void)s;
    (void)v;
    record("purge", name);
    return fake.err;
}

cf_err cf_secret_backup(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str name,
                        struct cf_buf *out)
{
    (void)s;
    (void)v;
    record("backup", name);
    if (fake.err)
        return fake.err;
    return cf_buf_puts(out, fake.blob);
}

cf_err cf_secret_restore(struct cf_vault_svc *s, const struct cf_vault_ref *v, struct cf_str blob,
                         struct cf_secret_meta *out)
{
    (void)s;
    (void)v;
    record("restore", CF_STR(""));
    fake.value_len = blob.len;
    snprintf(fake.value, sizeof(fake.value), "%.*s", (int)blob.len, blob.p);
    if (fake.err == CF_EEXISTS) /* what a vault that knows the name reports */
        snprintf(out->name, sizeof(out->name), "%s", fake.meta.name);
    if (!fake.err)
        fill(out);
    return fake.err;
}

/* ---------------- requests ---------------- */

#define V1 "0123456789abcdef0123456789abcdef"
#define V0 "fedcba9876543210fedcba9876543210"
#define BASE "https://v.vault.localhost:8443"

static struct cf_api the_api;
static struct cf_http_req the_http;

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    memset(&got, 0, sizeof(got));
    the_api.cfg.region = "local";
    snprintf(fake.meta.name, sizeof(fake.meta.name), "MyName");
    snprintf(fake.meta.version, sizeof(fake.meta.version), V1);
    fake.meta.attrs = (struct cf_secret_attrs){true, 0, 0, 1700000000, 1700000001};
    fake.secret = "hunter2";
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(got.body);
    got.body = NULL;
    assert_int_equal(fake.live_metas, 0); /* every filled meta was released */
    return 0;
}

/* A request as dispatch.c hands it over: api-version checked, vault resolved. */
static struct api_req *req(const char *api_version, const char *cap0, const char *cap1,
                           const char *body)
{
    struct api_req *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->api = &the_api;
    r->http = &the_http;
    the_http.body = body ? cf_str_from(body) : CF_STR("");
    r->host = CF_STR("v.vault.localhost:8443");
    r->hostname = CF_STR("v.vault.localhost");
    r->port = CF_STR(":8443");
    snprintf(r->vault.name, sizeof(r->vault.name), "v");
    r->vault.retention_days = 90;
    snprintf(r->api_version, sizeof(r->api_version), "%s", api_version);
    if (cap0)
        r->cap[r->ncap++] = cf_str_from(cap0);
    if (cap1)
        r->cap[r->ncap++] = cf_str_from(cap1);
    cf_buf_init(&r->scratch, 1024);
    cf_buf_init(&r->out, 4 * CF_MAX_BODY_BYTES);
    return r;
}

static void add_query(struct api_req *r, const char *k, const char *v)
{
    r->q[r->nq].key = cf_str_from(k);
    r->q[r->nq].val = cf_str_from(v);
    r->nq++;
}

static void expect(int status, const char *body)
{
    assert_true(got.replied);
    assert_int_equal(got.status, status);
    if (body)
        assert_string_equal(got.body, body);
}

#define NOT_FOUND_TAIL                                                                             \
    " was not found in this key vault. If you recently deleted this secret you may be able to "    \
    "recover it using the correct recovery command. For help resolving this issue, please see "    \
    "https://go.microsoft.com/fwlink/?linkid=2125182"

#define ATTRS                                                                                      \
    "\"attributes\":{\"enabled\":true,\"created\":1700000000,\"updated\":1700000001,"              \
    "\"recoveryLevel\":\"Recoverable+Purgeable\",\"recoverableDays\":90}"

/* ---------------- text helpers ---------------- */

static void counts_utf8_characters(void **state)
{
    (void)state;
    assert_int_equal(utf8_chars("", 0), 0);
    assert_int_equal(utf8_chars("abc", 3), 3);
    assert_int_equal(utf8_chars("\xc3\xa9t\xc3\xa9", 5), 3); /* "été" */
    assert_int_equal(utf8_chars("\xf0\x9f\x98\x80x", 5), 2); /* U+1F600 x */
    assert_int_equal(utf8_chars("\xe2\x82\xac\0z", 5), 3);   /* "€", NUL, "z" */
}

static void escaped_length_matches_the_writer(void **state)
{
    static const char *const cases[] = {"",
                                        "plain",
                                        "q\"uote",
                                        "back\\slash",
                                        "nl\nx\t\r",
                                        "\x01\x1f ctl",
                                        "\xc3\xa9\xf0\x9f\x98\x80"};
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(cases); i++) {
        struct cf_buf b;
        struct cf_jw w;
        cf_buf_init(&b, 1024);
        cf_jw_init(&w, &b);
        cf_jw_str(&w, cases[i]);
        assert_int_equal(cf_jw_err(&w), CF_OK);
        assert_int_equal(json_escaped_len(cases[i], strlen(cases[i])), b.len);
        cf_buf_release(&b);
    }
}

static void versions_are_32_hex(void **state)
{
    (void)state;
    assert_true(version_valid(CF_STR(V1)));
    assert_true(version_valid(CF_STR("0123456789ABCDEF0123456789abcdef")));
    assert_false(version_valid(CF_STR("0123456789abcdef0123456789abcde")));
    assert_false(version_valid(CF_STR("0123456789abcdef0123456789abcdef0")));
    assert_false(version_valid(CF_STR("0123456789abcdef0123456789abcdeg")));
    assert_false(version_valid(CF_STR("")));
    assert_false(version_valid(CF_STR("versions")));
}

/* ---------------- body validation ---------------- */

/* Parses text and runs sec_body_parse; returns its result, why filled on failure. */
static cf_err parse(const char *text, bool want_value, struct sec_body *b, struct cf_json **root,
                    char *why, size_t n)
{
    assert_int_equal(cf_json_parse(text, strlen(text), root, NULL, 0), CF_OK);
    sec_body_init(b);
    why[0] = '\0';
    return sec_body_parse(*root, want_value, b, why, n);
}

static cf_err parse_msg(const char *text, bool want_value, char *why, size_t n)
{
    struct sec_body b;
    struct cf_json *root;
    cf_err e = parse(text, want_value, &b, &root, why, n);
    sec_body_release(&b);
    cf_json_free(root);
    return e;
}

static void parses_a_full_set_body(void **state)
{
    struct sec_body b;
    struct cf_json *root;
    char why[256];
    (void)state;
    assert_int_equal(parse("{\"value\":\"s\\u00e9cret\",\"contentType\":\"text/plain\","
                           "\"attributes\":{\"enabled\":false,\"nbf\":1600000000.9,"
                           "\"exp\":32503680000,\"created\":5,\"recoveryLevel\":\"x\"},"
                           "\"tags\":{\"b\":\"2\",\"a\":\"\\\"q\\\"\"},\"unknown\":[1]}",
                           true, &b, &root, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(b.value.len, 7);
    assert_memory_equal(b.value.p,
                        "s\xc3\xa9"
                        "cret",
                        7);
    assert_true(b.in.has_content_type);
    assert_string_equal(b.in.content_type, "text/plain");
    assert_true(b.in.has_enabled);
    assert_false(b.in.enabled);
    assert_true(b.in.has_nbf);
    assert_int_equal(b.in.nbf, 1600000000); /* float times are truncated */
    assert_true(b.in.has_exp);
    assert_int_equal(b.in.exp, 32503680000LL);
    assert_true(b.in.has_tags);
    assert_string_equal(b.in.tags_json, "{\"b\":\"2\",\"a\":\"\\\"q\\\"\"}"); /* input order */
    sec_body_release(&b);
    cf_json_free(root);
}

static void optional_fields_may_be_absent_or_null(void **state)
{
    struct sec_body b;
    struct cf_json *root;
    char why[256];
    (void)state;
    assert_int_equal(parse("{\"value\":\"\",\"contentType\":null,\"attributes\":{},\"tags\":null}",
                           true, &b, &root, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(b.value.len, 0);
    assert_non_null(b.value.p);
    assert_false(b.in.has_content_type || b.in.has_enabled || b.in.has_nbf || b.in.has_exp ||
                 b.in.has_tags);
    sec_body_release(&b);
    cf_json_free(root);

    /* an empty tags map is stored as such ({} comes back on output) */
    assert_int_equal(parse("{\"tags\":{}}", false, &b, &root, why, sizeof(why)), CF_OK);
    assert_true(b.in.has_tags);
    assert_string_equal(b.in.tags_json, "{}");
    sec_body_release(&b);
    cf_json_free(root);
}

static void update_bodies_ignore_value(void **state)
{
    char why[256];
    (void)state;
    assert_int_equal(parse_msg("{}", false, why, sizeof(why)), CF_OK);
    assert_int_equal(parse_msg("{\"value\":12}", false, why, sizeof(why)), CF_OK);
}

static void rejects_a_missing_or_non_string_value(void **state)
{
    static const char *const bodies[] = {"{}",
                                         "{\"value\":null}",
                                         "{\"value\":1}",
                                         "{\"value\":[\"x\"]}",
                                         "{\"value\":{}}",
                                         "{\"Value\":\"x\"}"};
    char why[256];
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bodies); i++) {
        assert_int_equal(parse_msg(bodies[i], true, why, sizeof(why)), CF_EBADPARAM);
        assert_non_null(strstr(why, "'value'"));
    }
}

/* {"value":"<n copies of unit>"} */
static char *value_body(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(n * ul + 16), *p = s;
    assert_non_null(s);
    memcpy(p, "{\"value\":\"", 10);
    p += 10;
    for (size_t i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    memcpy(p, "\"}", 3);
    return s;
}

static void value_limit_counts_characters(void **state)
{
    char why[256];
    char *s;
    (void)state;
    s = value_body("a", CF_MAX_SECRET_VALUE_CHARS);
    assert_int_equal(parse_msg(s, true, why, sizeof(why)), CF_OK);
    free(s);
    s = value_body("a", CF_MAX_SECRET_VALUE_CHARS + 1);
    assert_int_equal(parse_msg(s, true, why, sizeof(why)), CF_EBADPARAM);
    assert_string_equal(why, "Secret is beyond the maximum permitted length of 25600 characters.");
    free(s);
    /* 25600 two-byte characters are 51200 bytes and still allowed */
    s = value_body("\xc3\xa9", CF_MAX_SECRET_VALUE_CHARS);
    assert_int_equal(parse_msg(s, true, why, sizeof(why)), CF_OK);
    free(s);
    s = value_body("\xc3\xa9", CF_MAX_SECRET_VALUE_CHARS + 1);
    assert_int_equal(parse_msg(s, true, why, sizeof(why)), CF_EBADPARAM);
    free(s);
}

static void content_type_rules(void **state)
{
    char why[256], body[600];
    char ct[300];
    (void)state;
    memset(ct, 'c', 255);
    ct[255] = '\0';
    snprintf(body, sizeof(body), "{\"contentType\":\"%s\"}", ct);
    assert_int_equal(parse_msg(body, false, why, sizeof(why)), CF_OK);
    snprintf(body, sizeof(body), "{\"contentType\":\"%sc\"}", ct);
    assert_int_equal(parse_msg(body, false, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "255"));
    assert_int_equal(parse_msg("{\"contentType\":5}", false, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(parse_msg("{\"contentType\":\"a\\u0000b\"}", false, why, sizeof(why)),
                     CF_EBADPARAM);
}

static void attribute_types_are_checked(void **state)
{
    static const char *const bad_bodies[] = {
        "{\"attributes\":[]}",
        "{\"attributes\":\"x\"}",
        "{\"attributes\":{\"enabled\":\"true\"}}",
        "{\"attributes\":{\"enabled\":1}}",
        "{\"attributes\":{\"nbf\":\"1600000000\"}}",
        "{\"attributes\":{\"exp\":true}}",
        "{\"attributes\":{\"exp\":1e300}}",
    };
    char why[256];
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad_bodies); i++)
        assert_int_equal(parse_msg(bad_bodies[i], false, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(parse_msg("{\"attributes\":{\"enabled\":null,\"nbf\":null,\"foo\":1}}", false,
                               why, sizeof(why)),
                     CF_OK);
}

/* {"tags":{"k0":"v",...}} with n tags, the first one's key and value of the given lengths */
static char *tags_body(size_t n, size_t klen, size_t vlen)
{
    struct cf_buf b;
    cf_buf_init(&b, 1 << 20);
    assert_int_equal(cf_buf_puts(&b, "{\"tags\":{\""), CF_OK);
    for (size_t i = 0; i < klen; i++)
        assert_int_equal(cf_buf_putc(&b, 'k'), CF_OK);
    assert_int_equal(cf_buf_puts(&b, "\":\""), CF_OK);
    for (size_t i = 0; i < vlen; i++)
        assert_int_equal(cf_buf_putc(&b, 'v'), CF_OK);
    assert_int_equal(cf_buf_puts(&b, "\""), CF_OK);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(cf_buf_printf(&b, ",\"t%zu\":\"x\"", i), CF_OK);
    assert_int_equal(cf_buf_puts(&b, "}}"), CF_OK);
    return cf_buf_detach(&b, NULL);
}

static void tag_limits(void **state)
{
    struct {
        size_t n, klen, vlen;
        cf_err want;
    } cases[] = {
        {15, 1, 1, CF_OK},         {16, 1, 1, CF_EBADPARAM},  {1, 512, 512, CF_OK},
        {1, 513, 1, CF_EBADPARAM}, {1, 1, 513, CF_EBADPARAM},
    };
    char why[256];
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(cases); i++) {
        char *s = tags_body(cases[i].n, cases[i].klen, cases[i].vlen);
        assert_int_equal(parse_msg(s, false, why, sizeof(why)), cases[i].want);
        free(s);
    }
    assert_int_equal(parse_msg("{\"tags\":{\"a\":1}}", false, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(parse_msg("{\"tags\":{\"a\":null}}", false, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(parse_msg("{\"tags\":[\"a\"]}", false, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(parse_msg("{\"tags\":\"a=b\"}", false, why, sizeof(why)), CF_EBADPARAM);
}

/* ---------------- output shapes ---------------- */

static char *shape(enum sec_shape s, const struct cf_secret_meta *m, struct cf_str value,
                   bool with_prev)
{
    struct cf_buf out;
    struct sec_writer sw;
    char *text;

    cf_buf_init(&out, 1 << 20);
    sw_init_raw(&sw, &out, CF_STR(BASE), "Recoverable+Purgeable", 90, with_prev);
    put_secret(&sw, s, m, value);
    assert_int_equal(sw_err(&sw), CF_OK);
    sw_release(&sw);
    text = cf_buf_detach(&out, NULL);
    return text;
}

static void full_meta(struct cf_secret_meta *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "MyName");
    snprintf(m->version, sizeof(m->version), V1);
    snprintf(m->prev_version, sizeof(m->prev_version), V0);
    m->attrs = (struct cf_secret_attrs){true, 100, 200, 10, 11};
    m->content_type = (char *)(uintptr_t) "text/plain";
    m->tags_json = (char *)(uintptr_t) "{\"a\":\"b\"}";
    m->managed = true;
    snprintf(m->kid, sizeof(m->kid), BASE "/keys/MyName/" V1);
    m->deleted_date = 1000;
    m->scheduled_purge = 1000 + 90 * 86400;
}

#define FULL_ATTRS                                                                                 \
    "\"attributes\":{\"enabled\":true,\"nbf\":100,\"exp\":200,\"created\":10,\"updated\":11,"      \
    "\"recoveryLevel\":\"Recoverable+Purgeable\",\"recoverableDays\":90}"

static void bundle_field_order(void **state)
{
    struct cf_secret_meta m;
    char *t;
    (void)state;
    full_meta(&m);
    t = shape(SHAPE_BUNDLE, &m, CF_STR("v\"al"), true);
    assert_string_equal(t, "{\"value\":\"v\\\"al\",\"contentType\":\"text/plain\",\"id\":\"" BASE
                           "/secrets/MyName/" V1 "\",\"previousVersion\":\"" V0 "\","
                           "\"managed\":true," FULL_ATTRS ",\"tags\":{\"a\":\"b\"},\"kid\":\"" BASE
                           "/keys/MyName/" V1 "\"}");
    free(t);
    /* older api-versions have no previousVersion; no value for update/recover/restore */
    t = shape(SHAPE_BUNDLE, &m, CF_STR_NULL, false);
    assert_string_equal(t, "{\"contentType\":\"text/plain\",\"id\":\"" BASE "/secrets/MyName/" V1
                           "\",\"managed\":true," FULL_ATTRS
                           ",\"tags\":{\"a\":\"b\"},\"kid\":\"" BASE "/keys/MyName/" V1 "\"}");
    free(t);
}

static void bundle_omits_absent_fields(void **state)
{
    struct cf_secret_meta m;
    char *t;
    (void)state;
    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "n");
    snprintf(m.version, sizeof(m.version), V1);
    m.attrs = (struct cf_secret_attrs){false, 0, 0, 10, 11};
    t = shape(SHAPE_BUNDLE, &m, CF_STR(""), true);
    assert_string_equal(t, "{\"value\":\"\",\"id\":\"" BASE "/secrets/n/" V1 "\",\"attributes\":"
                           "{\"enabled\":false,\"created\":10,\"updated\":11,\"recoveryLevel\":"
                           "\"Recoverable+Purgeable\",\"recoverableDays\":90}}");
    free(t);
}

static void deleted_bundle_and_items(void **state)
{
    struct cf_secret_meta m;
    char *t;
    (void)state;
    full_meta(&m);
    t = shape(SHAPE_DELETED_BUNDLE, &m, CF_STR("never"), true);
    assert_string_equal(t,
                        "{\"recoveryId\":\"" BASE "/deletedsecrets/MyName\",\"deletedDate\":1000,"
                        "\"scheduledPurgeDate\":7777000,\"contentType\":\"text/plain\","
                        "\"id\":\"" BASE "/secrets/MyName/" V1 "\",\"previousVersion\":\"" V0
                        "\",\"managed\":true," FULL_ATTRS ",\"tags\":{\"a\":\"b\"},\"kid\":\"" BASE
                        "/keys/MyName/" V1 "\"}");
    free(t);
    t = shape(SHAPE_DELETED_ITEM, &m, CF_STR("never"), true);
    assert_string_equal(t,
                        "{\"recoveryId\":\"" BASE "/deletedsecrets/MyName\",\"deletedDate\":1000,"
                        "\"scheduledPurgeDate\":7777000,\"contentType\":\"text/plain\","
                        "\"id\":\"" BASE "/secrets/MyName\",\"managed\":true," FULL_ATTRS
                        ",\"tags\":{\"a\":\"b\"}}");
    free(t);
    t = shape(SHAPE_ITEM, &m, CF_STR("never"), true);
    assert_string_equal(t, "{\"contentType\":\"text/plain\",\"id\":\"" BASE "/secrets/MyName\","
                           "\"managed\":true," FULL_ATTRS ",\"tags\":{\"a\":\"b\"}}");
    free(t);
    t = shape(SHAPE_VERSION_ITEM, &m, CF_STR("never"), true);
    assert_string_equal(t, "{\"contentType\":\"text/plain\",\"id\":\"" BASE "/secrets/MyName/" V1
                           "\",\"managed\":true," FULL_ATTRS ",\"tags\":{\"a\":\"b\"}}");
    free(t);
}

/* ---------------- handlers ---------------- */

/* Ids are the same whether they fit the writer's stack buffers or take the heap: every host
 * length across both boundaries (base 256, id 512), with the longest name. */
static void ids_across_buffer_sizes(void **state)
{
    char host[700], name[CF_MAX_NAME_LEN + 1], want[1600];
    struct cf_secret_meta m;
    (void)state;

    memset(name, 'n', CF_MAX_NAME_LEN);
    name[CF_MAX_NAME_LEN] = '\0';
    for (size_t hl = 1; hl < 600; hl++) {
        struct api_req *r = req("7.5", NULL, NULL, NULL);
        struct sec_writer sw;
        char *text;

        memset(host, 'h', hl);
        host[hl] = '\0';
        r->hostname = (struct cf_str){host, hl};
        memset(&m, 0, sizeof(m));
        snprintf(m.name, sizeof(m.name), "%s", hl % 2 ? name : "short");
        snprintf(m.version, sizeof(m.version), V1);
        sw_init(&sw, r);
        put_secret(&sw, SHAPE_DELETED_BUNDLE, &m, CF_STR_NULL);
        assert_int_equal(sw_err(&sw), CF_OK);
        sw_release(&sw);
        text = r->out.data;
        assert_non_null(text);
        snprintf(want, sizeof(want), "{\"recoveryId\":\"https://%s:8443/deletedsecrets/%s\",", host,
                 m.name);
        assert_memory_equal(text, want, strlen(want));
        snprintf(want, sizeof(want), "\"id\":\"https://%s:8443/secrets/%s/" V1 "\",", host, m.name);
        assert_non_null(strstr(text, want));
        cf_buf_release(&r->scratch);
        cf_buf_release(&r->out);
        free(r);
    }
}

static void set_creates_and_echoes_the_value(void **state)
{
    (void)state;
    api_secret_set(req("2025-07-01", "MyName", NULL,
                       "{\"value\":\"hunter2\",\"contentType\":\"ct\",\"attributes\":{\"exp\":99},"
                       "\"tags\":{\"k\":\"v\"}}"));
    assert_string_equal(fake.op, "set");
    assert_string_equal(fake.name, "MyName");
    assert_string_equal(fake.value, "hunter2");
    assert_true(fake.in.has_content_type && fake.in.has_exp && fake.in.has_tags);
    assert_false(fake.in.has_enabled || fake.in.has_nbf);
    assert_string_equal(fake.ct, "ct");
    assert_string_equal(fake.tags, "{\"k\":\"v\"}");
    expect(200, "{\"value\":\"hunter2\",\"id\":\"" BASE "/secrets/MyName/" V1 "\"," ATTRS "}");
}

static void set_rejects_a_bad_name_before_the_store(void **state)
{
    (void)state;
    api_secret_set(req("7.4", "bad_name", NULL, "{\"value\":\"x\"}"));
    expect(400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"The request URI contains an "
                "invalid name: bad_name\"}}");
    assert_int_equal(fake.calls, 0);
}

static void set_errors_never_echo_the_value(void **state)
{
    (void)state;
    api_secret_set(req("7.4", "n", NULL, "{\"value\":\"TOPSECRET\",\"contentType\":7}"));
    expect(400, NULL);
    assert_null(strstr(got.body, "TOPSECRET"));
    assert_non_null(strstr(got.body, "\"BadParameter\""));
    assert_int_equal(fake.calls, 0);
    teardown(NULL);
    setup(NULL);
    api_secret_set(req("7.4", "n", NULL, ""));
    expect(400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"Property 'value' is required "
                "and must be a string.\"}}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_ESTORE;
    api_secret_set(req("7.4", "n", NULL, "{\"value\":\"TOPSECRET\"}"));
    expect(500, NULL);
    assert_null(strstr(got.body, "TOPSECRET"));
}

static void set_on_a_deleted_name_conflicts(void **state)
{
    (void)state;
    fake.err = CF_EDELETED;
    api_secret_set(req("7.4", "Gone", NULL, "{\"value\":\"x\"}"));
    expect(409, "{\"error\":{\"code\":\"Conflict\",\"message\":\"Secret Gone is currently in a "
                "deleted but recoverable state, and its name cannot be reused; in this state, the "
                "secret can only be recovered or purged.\",\"innererror\":{\"code\":"
                "\"ObjectIsDeletedButRecoverable\"}}}");
}

static void get_latest_and_by_version(void **state)
{
    (void)state;
    api_secret_get(req("7.4", "MyName", NULL, NULL));
    assert_string_equal(fake.version, "");
    expect(200, "{\"value\":\"hunter2\",\"id\":\"" BASE "/secrets/MyName/" V1 "\"," ATTRS "}");
    teardown(NULL);
    setup(NULL);
    api_secret_get(req("7.4", "MyName", "0123456789ABCDEF0123456789ABCDEF", NULL));
    assert_string_equal(fake.version, V1); /* lower-cased for the store */
    expect(200, NULL);
}

static void get_reports_previous_version_from_2025_06(void **state)
{
    (void)state;
    snprintf(fake.meta.prev_version, sizeof(fake.meta.prev_version), V0);
    api_secret_get(req("2025-07-01", "MyName", NULL, NULL));
    expect(200, "{\"value\":\"hunter2\",\"id\":\"" BASE "/secrets/MyName/" V1 "\","
                "\"previousVersion\":\"" V0 "\"," ATTRS "}");
    teardown(NULL);
    setup(NULL);
    snprintf(fake.meta.prev_version, sizeof(fake.meta.prev_version), V0);
    api_secret_get(req("7.6", "MyName", NULL, NULL));
    expect(200, "{\"value\":\"hunter2\",\"id\":\"" BASE "/secrets/MyName/" V1 "\"," ATTRS "}");
}

static void get_not_found_disabled_and_bad_versions(void **state)
{
    (void)state;
    fake.err = CF_ENOTFOUND;
    api_secret_get(req("7.4", "Nope", NULL, NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) "
                "Nope" NOT_FOUND_TAIL "\"}}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_ENOTFOUND;
    api_secret_get(req("7.4", "Nope", V1, NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) "
                "Nope/" V1 NOT_FOUND_TAIL "\"}}");
    teardown(NULL);
    setup(NULL);
    /* a malformed version cannot exist: 404 without asking the store */
    api_secret_get(req("7.4", "n", "xyz", NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) "
                "n/xyz" NOT_FOUND_TAIL "\"}}");
    assert_int_equal(fake.calls, 0);
    teardown(NULL);
    setup(NULL);
    fake.err = CF_EDISABLED; /* the fake fills the meta, as the vault does */
    api_secret_get(req("7.4", "Off", NULL, NULL));
    expect(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation get is not allowed on "
                "a disabled secret.\",\"innererror\":{\"code\":\"SecretDisabled\"}}}");
    teardown(NULL);
    setup(NULL);
    api_secret_get(req("7.4", "a.b", NULL, NULL));
    expect(400, NULL);
    assert_int_equal(fake.calls, 0);
}

static void get_checks_out_content_type(void **state)
{
    struct api_req *r;
    (void)state;
    r = req("2025-07-01", "n", NULL, NULL);
    add_query(r, "outContentType", "application/json");
    api_secret_get(r);
    expect(400, NULL);
    assert_int_equal(fake.calls, 0);
    teardown(NULL);
    setup(NULL);
    r = req("2025-07-01", "n", NULL, NULL);
    add_query(r, "outContentType", "application/x-pem-file");
    api_secret_get(r);
    expect(200, NULL);
}

static void update_replies_without_value(void **state)
{
    (void)state;
    fake.meta.content_type = (char *)(uintptr_t) "ct2";
    fake.meta.tags_json = (char *)(uintptr_t) "{}";
    api_secret_update(req("7.4", "MyName", V1,
                          "{\"attributes\":{\"enabled\":true},"
                          "\"value\":\"ignored\"}"));
    assert_string_equal(fake.op, "update");
    assert_string_equal(fake.version, V1);
    assert_true(fake.in.has_enabled && fake.in.enabled);
    expect(200, "{\"contentType\":\"ct2\",\"id\":\"" BASE "/secrets/MyName/" V1 "\"," ATTRS
                ",\"tags\":{}}");
    teardown(NULL);
    setup(NULL);
    api_secret_update(req("7.4", "MyName", NULL, ""));
    assert_string_equal(fake.version, "");
    expect(200, NULL);
    teardown(NULL);
    setup(NULL);
    api_secret_update(req("7.4", "MyName", NULL, "{\"tags\":{\"a\":5}}"));
    expect(400, NULL);
    assert_int_equal(fake.calls, 0);
    teardown(NULL);
    setup(NULL);
    fake.err = CF_ENOTFOUND;
    api_secret_update(req("7.4", "x", V1, "{}"));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) "
                "x/" V1 NOT_FOUND_TAIL "\"}}");
}

static void delete_replies_the_deleted_bundle(void **state)
{
    (void)state;
    fake.meta.deleted_date = 1493938433;
    fake.meta.scheduled_purge = 1501714433;
    api_secret_delete(req("7.4", "MyName", NULL, NULL));
    expect(200, "{\"recoveryId\":\"" BASE "/deletedsecrets/MyName\",\"deletedDate\":1493938433,"
                "\"scheduledPurgeDate\":1501714433,\"id\":\"" BASE "/secrets/MyName/" V1 "\"," ATTRS
                "}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_ENOTFOUND;
    api_secret_delete(req("7.4", "x", NULL, NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) "
                "x" NOT_FOUND_TAIL "\"}}");
}

static void deleted_secret_errors(void **state)
{
    (void)state;
    fake.err = CF_ENOTFOUND;
    api_secret_get_deleted(req("7.4", "x", NULL, NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"Deleted Secret not found: "
                "x\"}}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_EDISABLED;
    api_secret_get_deleted(req("7.4", "x", NULL, NULL));
    expect(403, NULL);
    assert_non_null(strstr(got.body, "SecretDisabled"));
    teardown(NULL);
    setup(NULL);
    fake.err = CF_ENOTFOUND;
    api_secret_recover(req("7.4", "x", NULL, NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) "
                "x" NOT_FOUND_TAIL "\"}}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_ENOTFOUND;
    api_secret_purge(req("7.4", "x", NULL, NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"Deleted Secret not found: "
                "x\"}}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_EPURGEPROTECT;
    api_secret_purge(req("7.4", "x", NULL, NULL));
    expect(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation \\\"purge\\\" is not "
                "allowed because purge protection is enabled for this vault. Key Vault service "
                "will automatically purge it after the retention period has passed.\\r\\nVault: "
                "v;location=local\"}}");
}

static void recover_and_purge_succeed(void **state)
{
    (void)state;
    api_secret_recover(req("7.4", "MyName", NULL, NULL));
    assert_string_equal(fake.op, "recover");
    expect(200, "{\"id\":\"" BASE "/secrets/MyName/" V1 "\"," ATTRS "}");
    teardown(NULL);
    setup(NULL);
    api_secret_purge(req("7.4", "MyName", NULL, NULL));
    assert_string_equal(fake.op, "purge");
    assert_true(got.replied);
    assert_int_equal(got.status, 204);
    assert_false(got.has_body);
}

static void list_pages_with_next_links(void **state)
{
    struct api_req *r;
    (void)state;
    fake.nitems = 2;
    fake.next = "tok-en_1";
    r = req("7.4", NULL, NULL, NULL);
    add_query(r, "maxresults", "2");
    add_query(r, "$skiptoken", "prev");
    api_secret_list(r);
    assert_int_equal(fake.max, 2);
    assert_string_equal(fake.after, "prev");
    expect(200, "{\"value\":[{\"id\":\"" BASE "/secrets/s0\"," ATTRS "},{\"id\":\"" BASE
                "/secrets/s1\"," ATTRS "}],\"nextLink\":\"" BASE "/secrets?api-version=7.4&"
                "$skiptoken=tok-en_1&maxresults=2\"}");
    teardown(NULL);
    setup(NULL);
    api_secret_list(req("7.4", NULL, NULL, NULL));
    assert_int_equal(fake.max, 25);
    assert_string_equal(fake.after, "");
    expect(200, "{\"value\":[],\"nextLink\":null}");
}

static void list_rejects_bad_maxresults(void **state)
{
    static const char *const bad_values[] = {"0", "26", "-1", "abc", "", "2x"};
    (void)state;
    for (size_t i = 0; i < CF_ARRAY_LEN(bad_values); i++) {
        struct api_req *r = req("7.4", NULL, NULL, NULL);
        add_query(r, "maxresults", bad_values[i]);
        api_secret_list(r);
        expect(400, NULL);
        assert_non_null(strstr(got.body, "\"BadParameter\""));
        assert_int_equal(fake.calls, 0);
        got.replied = false;
    }
}

static void list_versions_and_deleted(void **state)
{
    struct api_req *r;
    (void)state;
    fake.nitems = 1;
    fake.next = "n";
    r = req("2025-07-01", "MyName", NULL, NULL);
    add_query(r, "maxresults", "1");
    api_secret_list_versions(r);
    assert_string_equal(fake.name, "MyName");
    expect(200,
           "{\"value\":[{\"id\":\"" BASE "/secrets/s0/" V1 "\"," ATTRS "}],\"nextLink\":\"" BASE
           "/secrets/MyName/versions?api-version=2025-07-01&$skiptoken=n&"
           "maxresults=1\"}");
    teardown(NULL);
    setup(NULL);
    fake.nitems = 1;
    fake.meta.deleted_date = 5;
    fake.meta.scheduled_purge = 6;
    api_secret_list_deleted(req("7.4", NULL, NULL, NULL));
    expect(200, "{\"value\":[{\"recoveryId\":\"" BASE "/deletedsecrets/s0\",\"deletedDate\":5,"
                "\"scheduledPurgeDate\":6,\"id\":\"" BASE "/secrets/s0\"," ATTRS "}],"
                "\"nextLink\":null}");
    teardown(NULL);
    setup(NULL);
    api_secret_list_versions(req("7.4", "bad!", NULL, NULL));
    expect(400, NULL);
    assert_int_equal(fake.calls, 0);
    teardown(NULL);
    setup(NULL);
    fake.err = CF_EBADPARAM; /* a token the vault does not accept */
    api_secret_list_deleted(req("7.4", NULL, NULL, NULL));
    expect(400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"The $skiptoken is invalid or "
                "expired.\"}}");
}

static void backup_and_restore(void **state)
{
    (void)state;
    fake.blob = "QUJD-_x";
    api_secret_backup(req("7.4", "MyName", NULL, NULL));
    expect(200, "{\"value\":\"QUJD-_x\"}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_ENOTFOUND;
    api_secret_backup(req("7.4", "x", NULL, NULL));
    expect(404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) "
                "x" NOT_FOUND_TAIL "\"}}");
    teardown(NULL);
    setup(NULL);
    api_secret_restore(req("7.4", NULL, NULL, "{\"value\":\"QUJD\"}"));
    assert_string_equal(fake.value, "QUJD");
    expect(200, "{\"id\":\"" BASE "/secrets/MyName/" V1 "\"," ATTRS "}");
    teardown(NULL);
    setup(NULL);
    api_secret_restore(req("7.4", NULL, NULL, "{}"));
    expect(400, NULL);
    assert_int_equal(fake.calls, 0);
    teardown(NULL);
    setup(NULL);
    api_secret_restore(req("7.4", NULL, NULL, "{\"value\":\"\"}"));
    expect(400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"Backup blob contains invalid "
                "or corrupt version.\"}}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_EBADPARAM;
    api_secret_restore(req("7.4", NULL, NULL, "{\"value\":\"garbage\"}"));
    expect(400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"Backup blob contains invalid "
                "or corrupt version.\"}}");
    teardown(NULL);
    setup(NULL);
    fake.err = CF_EEXISTS;
    api_secret_restore(req("7.4", NULL, NULL, "{\"value\":\"QUJD\"}"));
    expect(409, NULL);
    assert_non_null(strstr(got.body, "\"Conflict\""));
    assert_non_null(strstr(got.body, "Secret MyName already exists."));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_utf8_characters),
        cmocka_unit_test(escaped_length_matches_the_writer),
        cmocka_unit_test(versions_are_32_hex),
        cmocka_unit_test(parses_a_full_set_body),
        cmocka_unit_test(optional_fields_may_be_absent_or_null),
        cmocka_unit_test(update_bodies_ignore_value),
        cmocka_unit_test(rejects_a_missing_or_non_string_value),
        cmocka_unit_test(value_limit_counts_characters),
        cmocka_unit_test(content_type_rules),
        cmocka_unit_test(attribute_types_are_checked),
        cmocka_unit_test(tag_limits),
        cmocka_unit_test(bundle_field_order),
        cmocka_unit_test(bundle_omits_absent_fields),
        cmocka_unit_test(deleted_bundle_and_items),
        cmocka_unit_test(ids_across_buffer_sizes),
        cmocka_unit_test_setup_teardown(set_creates_and_echoes_the_value, setup, teardown),
        cmocka_unit_test_setup_teardown(set_rejects_a_bad_name_before_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(set_errors_never_echo_the_value, setup, teardown),
        cmocka_unit_test_setup_teardown(set_on_a_deleted_name_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(get_latest_and_by_version, setup, teardown),
        cmocka_unit_test_setup_teardown(get_reports_previous_version_from_2025_06, setup, teardown),
        cmocka_unit_test_setup_teardown(get_not_found_disabled_and_bad_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(get_checks_out_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(update_replies_without_value, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_replies_the_deleted_bundle, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_secret_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(recover_and_purge_succeed, setup, teardown),
        cmocka_unit_test_setup_teardown(list_pages_with_next_links, setup, teardown),
        cmocka_unit_test_setup_teardown(list_rejects_bad_maxresults, setup, teardown),
        cmocka_unit_test_setup_teardown(list_versions_and_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(backup_and_restore, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

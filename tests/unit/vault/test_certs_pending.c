/* test_certs_pending.c - includePending on the certificate list (azure-kv-certificates §9):
 * certificates whose first version is still pending (Unknown issuer before the merge) are
 * left out unless asked for; with includePending they come in name order among the issued
 * ones, on every page size, read as GET reads them (disabled, no version or x5t, the
 * operation's times); a name with versions and a new pending operation is listed once; other
 * vaults' pending certificates and merged or deleted operations are not listed. A pending-only
 * certificate whose operation was cancelled or failed is still "not completely provisioned"
 * and keeps its pending object (Learn, create-certificate-scenarios), so includePending lists
 * it too, on every page size, as GET reads it; deleting that operation drops it. */
#include "base/cf.h"

#include "base/json.h"
#include "fixture.h"
#include "vault/certs_int.h" /* cf_cert_fail_order: how an issuer-backed order fails */

#define SELF "{\"issuer\":{\"name\":\"Self\"},\"key_props\":{\"kty\":\"EC\"},"                    \
             "\"x509_props\":{\"subject\":\"CN=s\"}}"
#define UNKNOWN "{\"issuer\":{\"name\":\"Unknown\"},\"key_props\":{\"kty\":\"EC\"},"              \
                "\"x509_props\":{\"subject\":\"CN=u\"}}"

/* Creates name from policy; the operation's request id into rid when rid is not NULL. */
static void create_rid(struct fx *f, const struct cf_vault_ref *ref, const char *name,
                       const char *policy, char rid[33])
{
    struct cf_json *p = NULL;
    struct cf_cert_op op;
    char why[256] = "";

    assert_int_equal(cf_json_parse(policy, strlen(policy), &p, NULL, 0), CF_OK);
    assert_int_equal(cf_cert_create(f->svc, ref, cf_str_from(name), p, NULL, &op, why,
                                    sizeof(why)),
                     CF_OK);
    if (rid)
        snprintf(rid, 33, "%s", op.request_id);
    cf_cert_op_release(&op);
    cf_json_free(p);
}

static void create_in(struct fx *f, const struct cf_vault_ref *ref, const char *name,
                      const char *policy)
{
    create_rid(f, ref, name, policy, NULL);
}

struct seen {
    char text[64][CF_MAX_NAME_LEN + 2];
    int n;
};

static cf_err seen_cb(const struct cf_cert_meta *m, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 64);
    if (m->pending && !m->version[0]) {
        /* as GET reads a pending-only certificate */
        assert_false(m->enabled);
        assert_string_equal(m->x5t, "");
        assert_int_equal(m->nbf, 0);
        assert_int_equal(m->exp, 0);
        assert_true(m->created >= T0 && m->updated >= m->created);
        snprintf(s->text[s->n++], sizeof(s->text[0]), "%s*", m->name);
    } else {
        assert_true(m->version[0] != '\0');
        assert_true(m->x5t[0] != '\0');
        snprintf(s->text[s->n++], sizeof(s->text[0]), "%s", m->name);
    }
    return CF_OK;
}

/* Lists the whole vault in pages of max; *pages = the number of calls. */
static void list_all(struct fx *f, const struct cf_vault_ref *ref, int max, bool pending,
                     struct seen *s, int *pages)
{
    char next[CF_PAGE_TOKEN_MAX] = "", tok[CF_PAGE_TOKEN_MAX] = "";

    memset(s, 0, sizeof(*s));
    *pages = 0;
    do {
        int before = s->n;
        snprintf(tok, sizeof(tok), "%s", next);
        assert_int_equal(cf_cert_list(f->svc, ref, cf_str_from(tok), max, pending, seen_cb, s,
                                      next),
                         CF_OK);
        assert_true(s->n - before <= max);
        assert_true(next[0] == '\0' || s->n - before == max);
        (*pages)++;
        assert_true(*pages < 40);
    } while (next[0]);
}

static void join(const struct seen *s, char *out, size_t n)
{
    out[0] = '\0';
    for (int i = 0; i < s->n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s", i ? " " : "", s->text[i]);
    }
}

static void merged_in_name_order(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref other;
    struct seen s;
    char got[2048];
    int pages;
    static const char *const self_names[] = {"b", "d", "e", "h"};
    static const char *const pend_names[] = {"a", "c", "f", "g", "i", "j"};

    for (size_t i = 0; i < CF_ARRAY_LEN(self_names); i++)
        create_in(f, &f->ref, self_names[i], SELF);
    for (size_t i = 0; i < CF_ARRAY_LEN(pend_names); i++)
        create_in(f, &f->ref, pend_names[i], UNKNOWN);
    /* d gets a new pending operation on top of its version: listed once, as issued */
    create_in(f, &f->ref, "d", UNKNOWN);
    /* another vault's pending certificate is not this vault's */
    fx_make_vault(f, "othervault", 90, false, &other);
    create_in(f, &other, "bb", UNKNOWN);

    list_all(f, &f->ref, 25, false, &s, &pages);
    join(&s, got, sizeof(got));
    assert_string_equal(got, "b d e h");
    for (int max = 1; max <= 11; max++) {
        list_all(f, &f->ref, max, true, &s, &pages);
        join(&s, got, sizeof(got));
        assert_string_equal(got, "a* b c* d e f* g* h i* j*");
        assert_int_equal(pages, (10 + max - 1) / max); /* no empty last page */
    }
    list_all(f, &other, 25, true, &s, &pages);
    join(&s, got, sizeof(got));
    assert_string_equal(got, "bb*");
    list_all(f, &other, 25, false, &s, &pages);
    assert_int_equal(s.n, 0);

    /* an operation deleted: the name has nothing left to list */
    {
        struct cf_cert_op op;
        assert_int_equal(cf_cert_op_delete(f->svc, &f->ref, CF_STR("c"), &op), CF_OK);
        cf_cert_op_release(&op);
    }
    list_all(f, &f->ref, 4, true, &s, &pages);
    join(&s, got, sizeof(got));
    assert_string_equal(got, "a* b d e f* g* h i* j*");
}

/* Only pending certificates, more of them than a page: every page full but the last. */
static void pending_only_pages(void **state)
{
    struct fx *f = *state;
    struct seen s;
    char name[8], got[2048], want[2048] = "";
    int pages;

    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof(name), "p%02d", 29 - i);
        create_in(f, &f->ref, name, UNKNOWN);
    }
    for (int i = 0; i < 30; i++) {
        size_t l = strlen(want);
        snprintf(want + l, sizeof(want) - l, "%sp%02d*", i ? " " : "", i);
    }
    list_all(f, &f->ref, 25, true, &s, &pages);
    join(&s, got, sizeof(got));
    assert_string_equal(got, want);
    assert_int_equal(pages, 2);
    list_all(f, &f->ref, 7, true, &s, &pages);
    join(&s, got, sizeof(got));
    assert_string_equal(got, want);
    assert_int_equal(pages, 5);
    list_all(f, &f->ref, 25, false, &s, &pages);
    assert_int_equal(s.n, 0);
    assert_int_equal(pages, 1);
}

static void op_status(struct fx *f, const char *name, const char *want)
{
    struct cf_cert_op op;
    assert_int_equal(cf_cert_op_get(f->svc, &f->ref, cf_str_from(name), &op), CF_OK);
    assert_string_equal(op.status, want);
    cf_cert_op_release(&op);
}

static void cancel(struct fx *f, const char *name)
{
    struct cf_cert_op op;
    assert_int_equal(cf_cert_op_cancel(f->svc, &f->ref, cf_str_from(name), &op), CF_OK);
    cf_cert_op_release(&op);
}

/* Pending-only certificates whose operation ended without a version (cancelled, failed) are
 * listed with includePending like the in-progress ones; ones that got a version since, or whose
 * operation was deleted, are not listed as pending. */
static void cancelled_and_failed(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct cf_cert_meta m;
    char got[2048], rid[33];
    int pages;

    create_in(f, &f->ref, "a", UNKNOWN); /* inProgress */
    create_in(f, &f->ref, "b", SELF);    /* issued */
    create_in(f, &f->ref, "c", UNKNOWN);
    cancel(f, "c"); /* cancelled */
    create_rid(f, &f->ref, "d", UNKNOWN, rid);
    assert_int_equal(cf_cert_fail_order(f->svc, &f->ref, CF_STR("d"), rid, "refused"), CF_OK);
    create_in(f, &f->ref, "e", UNKNOWN);
    cancel(f, "e");
    {
        /* e: the cancelled operation deleted - nothing left to list */
        struct cf_cert_op op;
        assert_int_equal(cf_cert_op_delete(f->svc, &f->ref, CF_STR("e"), &op), CF_OK);
        cf_cert_op_release(&op);
    }
    create_in(f, &f->ref, "f", SELF); /* issued, then a new operation cancelled: listed once */
    create_in(f, &f->ref, "f", UNKNOWN);
    cancel(f, "f");
    create_in(f, &f->ref, "g", UNKNOWN); /* cancelled, then issued by a new Self create */
    cancel(f, "g");
    create_in(f, &f->ref, "g", SELF);
    create_in(f, &f->ref, "h", UNKNOWN); /* cancelled, then a new Unknown create: inProgress */
    cancel(f, "h");
    create_in(f, &f->ref, "h", UNKNOWN);
    create_rid(f, &f->ref, "i", UNKNOWN, rid); /* failed, last name of the vault */
    assert_int_equal(cf_cert_fail_order(f->svc, &f->ref, CF_STR("i"), rid, NULL), CF_OK);

    op_status(f, "c", "cancelled");
    op_status(f, "d", "failed");
    op_status(f, "h", "inProgress");
    op_status(f, "i", "failed");
    list_all(f, &f->ref, 25, false, &s, &pages);
    join(&s, got, sizeof(got));
    assert_string_equal(got, "b f g");
    for (int max = 1; max <= 9; max++) {
        list_all(f, &f->ref, max, true, &s, &pages);
        join(&s, got, sizeof(got));
        assert_string_equal(got, "a* b c* d* f g h* i*");
        assert_int_equal(pages, (8 + max - 1) / max); /* no empty last page */
    }
    /* the list shows what GET by name shows: a disabled bundle without a version */
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("c"), CF_STR(""), &m), CF_OK);
    assert_true(m.pending);
    assert_false(m.enabled);
    assert_string_equal(m.version, "");
    cf_cert_meta_release(&m);
    assert_int_equal(cf_cert_get(f->svc, &f->ref, CF_STR("e"), CF_STR(""), &m), CF_ENOTFOUND);
    cf_cert_meta_release(&m);
}

/* Only cancelled ones, more than a page, created in reverse name order. */
static void cancelled_pages(void **state)
{
    struct fx *f = *state;
    struct seen s;
    char name[8], got[2048], want[2048] = "";
    int pages;

    for (int i = 0; i < 27; i++) {
        snprintf(name, sizeof(name), "q%02d", 26 - i);
        create_in(f, &f->ref, name, UNKNOWN);
        if (i % 3 != 1)
            cancel(f, name);
    }
    for (int i = 0; i < 27; i++) {
        size_t l = strlen(want);
        snprintf(want + l, sizeof(want) - l, "%sq%02d*", i ? " " : "", i);
    }
    for (int max = 1; max <= 25; max += 3) { /* 25: CF_PAGE_MAX */
        list_all(f, &f->ref, max, true, &s, &pages);
        join(&s, got, sizeof(got));
        assert_string_equal(got, want);
        assert_int_equal(pages, (27 + max - 1) / max);
    }
    list_all(f, &f->ref, 25, false, &s, &pages);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(merged_in_name_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(pending_only_pages, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(cancelled_and_failed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(cancelled_pages, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_secrets.c - secrets semantics (azure-kv-secrets.md §2-§14): every cell of the state x
 * operation table, versions and prev_version, attributes, update rules, paging, case-
 * insensitive names, soft delete dates, recover, purge and purge protection, bad input. */
#include "fixture.h"

#include "base/codec.h"
#include "vault/vault_int.h"

#include <pthread.h>

/* ---------------- the state x operation table (§14) ---------------- */

enum state { ABSENT, LIVE, DISABLED, DELETED, DELETED_DISABLED, NSTATES };
static const char *const state_name[NSTATES] = {"absent", "live", "disabled", "deleted",
                                                "deleted-disabled"};

static void make_state(struct fx *f, const struct cf_vault_ref *ref, const char *name, enum state s)
{
    struct cf_secret_input in = {0};
    struct cf_secret_meta m;

    if (s == ABSENT)
        return;
    assert_int_equal(fx_set(f, ref, name, "v1", NULL), CF_OK);
    if (s == DISABLED || s == DELETED_DISABLED) {
        in.has_enabled = true;
        in.enabled = false;
        assert_int_equal(cf_secret_set(f->svc, ref, cf_str_from(name), CF_STR("v2"), &in, &m),
                         CF_OK);
        cf_secret_meta_release(&m);
    }
    if (s == DELETED || s == DELETED_DISABLED) {
        assert_int_equal(cf_secret_delete(f->svc, ref, cf_str_from(name), &m), CF_OK);
        cf_secret_meta_release(&m);
    }
}

struct found {
    const char *name;
    int hits;
};

static cf_err find_cb(const struct cf_secret_meta *m, void *arg)
{
    struct found *fd = arg;
    if (strcasecmp(m->name, fd->name) == 0)
        fd->hits++;
    return CF_OK;
}

static int count_listed(struct fx *f, const char *name, int which)
{
    struct found fd = {name, 0};
    char next[CF_PAGE_TOKEN_MAX];
    cf_err e;
    if (which == 0)
        e = cf_secret_list(f->svc, &f->ref, CF_STR_NULL, 25, find_cb, &fd, next);
    else if (which == 1)
        e = cf_secret_list_versions(f->svc, &f->ref, cf_str_from(name), CF_STR_NULL, 25, find_cb,
                                    &fd, next);
    else
        e = cf_secret_list_deleted(f->svc, &f->ref, CF_STR_NULL, 25, find_cb, &fd, next);
    assert_int_equal(e, CF_OK);
    return fd.hits;
}

static void test_state_table(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref other;
    struct cf_secret_meta m;
    char name[64];
    cf_err e;
    /* expected results per state: absent, live, disabled, deleted, deleted-disabled */
    static const cf_err set_x[] = {CF_OK, CF_OK, CF_OK, CF_EDELETED, CF_EDELETED};
    static const cf_err get_x[] = {CF_ENOTFOUND, CF_OK, CF_EDISABLED, CF_ENOTFOUND, CF_ENOTFOUND};
    static const cf_err upd_x[] = {CF_ENOTFOUND, CF_OK, CF_OK, CF_ENOTFOUND, CF_ENOTFOUND};
    static const int list_x[] = {0, 1, 1, 0, 0};
    static const int vers_x[] = {0, 1, 2, 0, 0};
    static const int ldel_x[] = {0, 0, 0, 1, 1};
    static const cf_err del_x[] = {CF_ENOTFOUND, CF_OK, CF_OK, CF_ENOTFOUND, CF_ENOTFOUND};
    static const cf_err gdel_x[] = {CF_ENOTFOUND, CF_ENOTFOUND, CF_ENOTFOUND, CF_OK, CF_EDISABLED};
    static const cf_err rec_x[] = {CF_ENOTFOUND, CF_ENOTFOUND, CF_ENOTFOUND, CF_OK, CF_OK};
    static const cf_err purge_x[] = {CF_ENOTFOUND, CF_ENOTFOUND, CF_ENOTFOUND, CF_OK, CF_OK};
    static const cf_err bak_x[] = {CF_ENOTFOUND, CF_OK, CF_OK, CF_ENOTFOUND, CF_ENOTFOUND};
    static const cf_err rest_x[] = {CF_OK, CF_EEXISTS, CF_EEXISTS, CF_EEXISTS, CF_EEXISTS};

    fx_make_vault(f, "othervault", 90, false, &other);
    for (int s = 0; s < NSTATES; s++) {
        struct cf_secret_input upd = {0};
        struct cf_buf blob;

#define CELL(op)                                                                                   \
    snprintf(name, sizeof(name), "%s-%s", op, state_name[s]),                                      \
        make_state(f, &f->ref, name, (enum state)s)
        print_message("state %s\n", state_name[s]);

        CELL("set");
        e = cf_secret_set(f->svc, &f->ref, cf_str_from(name), CF_STR("new"), NULL, &m);
        assert_int_equal(e, set_x[s]);
        if (!e)
            cf_secret_meta_release(&m);

        CELL("get");
        assert_int_equal(fx_get(f, &f->ref, name, NULL, NULL, 0), get_x[s]);

        CELL("upd");
        upd.has_content_type = true;
        upd.content_type = "text/plain";
        e = cf_secret_update(f->svc, &f->ref, cf_str_from(name), CF_STR_NULL, &upd, &m);
        assert_int_equal(e, upd_x[s]);
        if (!e)
            cf_secret_meta_release(&m);

        CELL("list");
        assert_int_equal(count_listed(f, name, 0), list_x[s]);
        assert_int_equal(count_listed(f, name, 1), vers_x[s]);
        assert_int_equal(count_listed(f, name, 2), ldel_x[s]);

        CELL("del");
        e = cf_secret_delete(f->svc, &f->ref, cf_str_from(name), &m);
        assert_int_equal(e, del_x[s]);
        if (!e)
            cf_secret_meta_release(&m);

        CELL("gdel");
        e = cf_secret_get_deleted(f->svc, &f->ref, cf_str_from(name), &m);
        assert_int_equal(e, gdel_x[s]);
        if (!e || e == CF_EDISABLED) {
            assert_true(m.deleted_date > 0);
            cf_secret_meta_release(&m);
        }

        CELL("rec");
        e = cf_secret_recover(f->svc, &f->ref, cf_str_from(name), &m);
        assert_int_equal(e, rec_x[s]);
        if (!e) {
            cf_secret_meta_release(&m);
            /* recovered: live again */
            assert_int_equal(fx_get(f, &f->ref, name, NULL, NULL, 0),
                             s == DELETED ? CF_OK : CF_EDISABLED);
        }

        CELL("purge");
        assert_int_equal(cf_secret_purge(f->svc, &f->ref, cf_str_from(name)), purge_x[s]);
        if (purge_x[s] == CF_OK) /* the name is free at once */
            assert_int_equal(fx_set(f, &f->ref, name, "again", NULL), CF_OK);

        CELL("bak");
        cf_buf_init(&blob, 1 << 20);
        assert_int_equal(cf_secret_backup(f->svc, &f->ref, cf_str_from(name), &blob), bak_x[s]);
        cf_buf_release(&blob);

        CELL("rest");
        /* a blob for the same name, made in another vault */
        assert_int_equal(fx_set(f, &other, name, "from-other", NULL), CF_OK);
        cf_buf_init(&blob, 1 << 20);
        assert_int_equal(cf_secret_backup(f->svc, &other, cf_str_from(name), &blob), CF_OK);
        e = cf_secret_restore(f->svc, &f->ref, cf_buf_str(&blob), &m);
        assert_int_equal(e, rest_x[s]);
        if (!e)
            cf_secret_meta_release(&m);
        cf_buf_release(&blob);
#undef CELL
    }
}

/* ---------------- versions and attributes ---------------- */

static void test_versions(void **state)
{
    struct fx *f = *state;
    char v1[33], v2[33], v3[33], buf[64], upper[33];
    struct cf_secret_meta m;

    assert_int_equal(fx_set(f, &f->ref, "multi", "one", v1), CF_OK);
    assert_int_equal(fx_set(f, &f->ref, "multi", "two", v2), CF_OK);
    assert_int_equal(fx_set(f, &f->ref, "multi", "two", v3), CF_OK); /* same value: new version */
    assert_int_equal(strlen(v1), 32);
    assert_string_not_equal(v1, v2);
    assert_string_not_equal(v2, v3);
    for (int i = 0; i < 32; i++)
        assert_true(strchr("0123456789abcdef", v1[i]) != NULL);

    assert_int_equal(fx_get(f, &f->ref, "multi", NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "two");
    assert_int_equal(fx_get(f, &f->ref, "multi", v1, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "one");
    /* versions are identifiers: case-insensitive */
    for (int i = 0; i < 33; i++)
        upper[i] = (char)((v1[i] >= 'a' && v1[i] <= 'f') ? v1[i] - 32 : v1[i]);
    assert_int_equal(fx_get(f, &f->ref, "multi", upper, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "one");
    assert_int_equal(fx_get(f, &f->ref, "multi", "0123456789abcdef0123456789abcdef", NULL, 0),
                     CF_ENOTFOUND);
    assert_int_equal(fx_get(f, &f->ref, "multi", "not-a-version", NULL, 0), CF_ENOTFOUND);

    /* prev_version chains to the version that was latest before */
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("multi"), cf_str_from(v3), &m, NULL),
                     CF_OK);
    assert_string_equal(m.prev_version, v2);
    assert_string_equal(m.name, "multi");
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("multi"), cf_str_from(v1), &m, NULL),
                     CF_OK);
    assert_string_equal(m.prev_version, "");
    cf_secret_meta_release(&m);
}

static void test_attributes_and_disabled(void **state)
{
    struct fx *f = *state;
    struct cf_secret_input in = {0};
    struct cf_secret_meta m;
    struct cf_secret *val = (struct cf_secret *)1;

    in.has_enabled = true;
    in.enabled = false;
    in.has_nbf = in.has_exp = true;
    in.nbf = T0 - 10;
    in.exp = 32503680000LL; /* year 3000 */
    in.has_content_type = true;
    in.content_type = "application/json";
    in.has_tags = true;
    in.tags_json = "{\"env\":\"prod\"}";
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("attrs"), CF_STR("val"), &in, &m),
                     CF_OK);
    assert_false(m.attrs.enabled);
    assert_int_equal(m.attrs.created, T0);
    assert_int_equal(m.attrs.updated, T0);
    cf_secret_meta_release(&m);

    /* disabled: 403 SecretDisabled, but the metadata comes back and no value */
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("attrs"), CF_STR_NULL, &m, &val),
                     CF_EDISABLED);
    assert_null(val);
    assert_false(m.attrs.enabled);
    assert_int_equal(m.attrs.nbf, T0 - 10);
    assert_int_equal(m.attrs.exp, 32503680000LL);
    assert_string_equal(m.content_type, "application/json");
    assert_string_equal(m.tags_json, "{\"env\":\"prod\"}");
    assert_false(m.managed);
    assert_string_equal(m.kid, "");
    cf_secret_meta_release(&m);

    /* defaults: enabled, no nbf/exp, no content type, tags never set */
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("plain"), CF_STR(""), NULL, &m), CF_OK);
    assert_true(m.attrs.enabled);
    assert_int_equal(m.attrs.nbf, 0);
    assert_int_equal(m.attrs.exp, 0);
    assert_null(m.content_type);
    assert_null(m.tags_json);
    cf_secret_meta_release(&m);
    /* empty value round-trips; expiry is informational (an expired secret still reads) */
    in = (struct cf_secret_input){0};
    in.has_exp = true;
    in.exp = T0 - 1;
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("expired"), CF_STR("x"), &in, &m),
                     CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("plain"), CF_STR_NULL, &m, &val), CF_OK);
    assert_int_equal(val->len, 0);
    cf_secret_free(val);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_get(f, &f->ref, "expired", NULL, NULL, 0), CF_OK);
}

static void test_update(void **state)
{
    struct fx *f = *state;
    struct cf_secret_input in = {0}, up = {0};
    struct cf_secret_meta m;
    char v1[33], v2[33];

    in.has_content_type = true;
    in.content_type = "ct1";
    in.has_tags = true;
    in.tags_json = "{\"a\":\"1\",\"b\":\"2\"}";
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("upd"), CF_STR("x"), &in, &m), CF_OK);
    memcpy(v1, m.version, 33);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_set(f, &f->ref, "upd", "y", v2), CF_OK);

    fx_advance(f, 100);
    /* empty version = latest; only enabled given: the rest unchanged */
    up.has_enabled = true;
    up.enabled = false;
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("upd"), CF_STR_NULL, &up, &m), CF_OK);
    assert_string_equal(m.version, v2);
    assert_false(m.attrs.enabled);
    assert_int_equal(m.attrs.created, T0);
    assert_int_equal(m.attrs.updated, T0 + 100);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_get(f, &f->ref, "upd", NULL, NULL, 0), CF_EDISABLED);
    /* an older version is still readable */
    assert_int_equal(fx_get(f, &f->ref, "upd", v1, NULL, 0), CF_OK);

    /* update the old version by id: tags replace the whole map; content type kept */
    up = (struct cf_secret_input){0};
    up.has_tags = true;
    up.tags_json = "{\"c\":\"3\"}";
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("UPD"), cf_str_from(v1), &up, &m),
                     CF_OK);
    assert_string_equal(m.version, v1);
    assert_string_equal(m.tags_json, "{\"c\":\"3\"}");
    assert_string_equal(m.content_type, "ct1");
    assert_true(m.attrs.enabled);
    cf_secret_meta_release(&m);

    /* re-enable the latest, and clear its content type */
    up = (struct cf_secret_input){0};
    up.has_enabled = true;
    up.enabled = true;
    up.has_content_type = true;
    up.content_type = NULL;
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("upd"), CF_STR_NULL, &up, &m), CF_OK);
    assert_null(m.content_type);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_get(f, &f->ref, "upd", NULL, NULL, 0), CF_OK);
    /* unknown version; NULL input changes nothing but still succeeds */
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("upd"),
                                      CF_STR("ffffffffffffffffffffffffffffffff"), &up, &m),
                     CF_ENOTFOUND);
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("upd"), CF_STR_NULL, NULL, &m),
                     CF_OK);
    cf_secret_meta_release(&m);
    /* content type too long */
    char ct[300];
    memset(ct, 'c', sizeof(ct) - 1);
    ct[sizeof(ct) - 1] = '\0';
    up = (struct cf_secret_input){0};
    up.has_content_type = true;
    up.content_type = ct;
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("upd"), CF_STR_NULL, &up, &m),
                     CF_EBADPARAM);
}

/* ---------------- paging ---------------- */

struct page {
    char names[64][CF_MAX_NAME_LEN + 1];
    char ct[64][16];
    int n;
};

static cf_err page_cb(const struct cf_secret_meta *m, void *arg)
{
    struct page *p = arg;
    assert_true(p->n < 64);
    snprintf(p->names[p->n], sizeof(p->names[p->n]), "%s", m->name);
    snprintf(p->ct[p->n], sizeof(p->ct[p->n]), "%s", m->content_type ? m->content_type : "");
    p->n++;
    return CF_OK;
}

static bool url_safe(const char *s)
{
    for (; *s; s++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *s))
            return false;
    }
    return true;
}

static int list_all(struct fx *f, bool deleted, struct page *all, int *pages)
{
    char next[CF_PAGE_TOKEN_MAX] = "";
    struct page p;

    all->n = 0;
    *pages = 0;
    do {
        char after[CF_PAGE_TOKEN_MAX];
        memcpy(after, next, sizeof(after));
        memset(&p, 0, sizeof(p));
        cf_err e =
            deleted
                ? cf_secret_list_deleted(f->svc, &f->ref, cf_str_from(after), 25, page_cb, &p, next)
                : cf_secret_list(f->svc, &f->ref, cf_str_from(after), 25, page_cb, &p, next);
        assert_int_equal(e, CF_OK);
        assert_true(p.n <= 25);
        assert_true(url_safe(next));
        assert_true(strlen(next) < 200);
        for (int i = 0; i < p.n; i++) {
            memcpy(all->names[all->n], p.names[i], sizeof(p.names[i]));
            memcpy(all->ct[all->n], p.ct[i], sizeof(p.ct[i]));
            all->n++;
        }
        (*pages)++;
        if (next[0])
            assert_int_equal(p.n, 25);
    } while (next[0]);
    return all->n;
}

static void test_paging(void **state)
{
    struct fx *f = *state;
    struct page all;
    struct cf_secret_meta m;
    char name[32];
    int pages;

    /* other vaults' secrets must not show */
    struct cf_vault_ref other;
    fx_make_vault(f, "noisevault", 90, false, &other);
    assert_int_equal(fx_set(f, &other, "noise", "x", NULL), CF_OK);

    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof(name), "Page-%02d", 59 - i); /* inserted out of order */
        assert_int_equal(fx_set(f, &f->ref, name, "x", NULL), CF_OK);
    }
    assert_int_equal(list_all(f, false, &all, &pages), 60);
    assert_int_equal(pages, 3);
    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof(name), "Page-%02d", i);
        assert_string_equal(all.names[i], name); /* name order, first case kept */
    }
    /* deleted objects are not listed, and appear in the deleted list */
    for (int i = 0; i < 60; i += 6) {
        snprintf(name, sizeof(name), "page-%02d", i);
        assert_int_equal(cf_secret_delete(f->svc, &f->ref, cf_str_from(name), &m), CF_OK);
        cf_secret_meta_release(&m);
    }
    assert_int_equal(list_all(f, false, &all, &pages), 50);
    assert_int_equal(pages, 2);
    for (int i = 0; i < 50; i++) {
        long num = strtol(all.names[i] + 5, NULL, 10);
        assert_int_not_equal(num % 6, 0); /* none of the deleted */
        if (i)
            assert_true(strcmp(all.names[i - 1], all.names[i]) < 0);
    }
    assert_int_equal(list_all(f, true, &all, &pages), 10);
    assert_string_equal(all.names[0], "Page-00");
    assert_string_equal(all.names[9], "Page-54");

    /* a bad token */
    char next[CF_PAGE_TOKEN_MAX];
    struct page p = {0};
    assert_int_equal(cf_secret_list(f->svc, &f->ref, CF_STR("!!!"), 25, page_cb, &p, next),
                     CF_EBADPARAM);
    assert_int_equal(cf_secret_list(f->svc, &f->ref, CF_STR("QUJD"), 25, page_cb, &p, next),
                     CF_EBADPARAM); /* "ABC": upper case is never issued */
    /* the token is just a position: one after page-58 yields page-59 */
    struct cf_buf tok;
    cf_buf_init(&tok, 64);
    assert_int_equal(cf_b64url_encode(&tok, "page-58", 7), CF_OK);
    assert_int_equal(cf_secret_list(f->svc, &f->ref, cf_buf_str(&tok), 25, page_cb, &p, next),
                     CF_OK);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.names[0], "Page-59");
    assert_string_equal(next, "");
    cf_buf_release(&tok);
}

static void test_list_shows_latest(void **state)
{
    struct fx *f = *state;
    struct cf_secret_input in = {0};
    struct cf_secret_meta m;
    struct page all;
    int pages;

    in.has_content_type = true;
    in.content_type = "first";
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("lat"), CF_STR("1"), &in, &m), CF_OK);
    cf_secret_meta_release(&m);
    in.content_type = "second";
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("lat"), CF_STR("2"), &in, &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(list_all(f, false, &all, &pages), 1);
    assert_string_equal(all.ct[0], "second");
}

struct vcollect {
    char v[40][33];
    int n;
};

static cf_err vcollect_cb(const struct cf_secret_meta *m, void *arg)
{
    struct vcollect *vc = arg;
    assert_true(vc->n < 40);
    memcpy(vc->v[vc->n++], m->version, 33);
    return CF_OK;
}

static void test_list_versions_paging(void **state)
{
    struct fx *f = *state;
    char vers[30][33], next[CF_PAGE_TOKEN_MAX], after[CF_PAGE_TOKEN_MAX];
    struct vcollect vc;
    struct page p;

    for (int i = 0; i < 30; i++)
        assert_int_equal(fx_set(f, &f->ref, "many", "x", vers[i]), CF_OK);
    memset(&vc, 0, sizeof(vc));
    /* max beyond 25 is clamped to the page limit */
    assert_int_equal(cf_secret_list_versions(f->svc, &f->ref, CF_STR("many"), CF_STR_NULL, 100,
                                             vcollect_cb, &vc, next),
                     CF_OK);
    assert_int_equal(vc.n, 25);
    assert_true(next[0] != '\0');
    assert_true(url_safe(next));
    memcpy(after, next, sizeof(after));
    assert_int_equal(cf_secret_list_versions(f->svc, &f->ref, CF_STR("MANY"), cf_str_from(after),
                                             25, vcollect_cb, &vc, next),
                     CF_OK);
    assert_int_equal(vc.n, 30);
    assert_string_equal(next, "");
    for (int i = 0; i < 30; i++)
        assert_string_equal(vc.v[i], vers[i]); /* oldest first, across pages */
    /* unknown name: empty, OK */
    memset(&p, 0, sizeof(p));
    assert_int_equal(cf_secret_list_versions(f->svc, &f->ref, CF_STR("nope"), CF_STR_NULL, 25,
                                             page_cb, &p, next),
                     CF_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(cf_secret_list_versions(f->svc, &f->ref, CF_STR("many"), CF_STR("%%"), 25,
                                             page_cb, &p, next),
                     CF_EBADPARAM);
}

/* ---------------- names ---------------- */

static void test_case_insensitive_names(void **state)
{
    struct fx *f = *state;
    struct cf_secret_meta m;
    char buf[16];

    assert_int_equal(fx_set(f, &f->ref, "MySecret", "a", NULL), CF_OK);
    assert_int_equal(fx_get(f, &f->ref, "mysecret", NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "a");
    /* a set under another case is a new version of the same secret; the first case stays */
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("MYSECRET"), CF_STR("b"), NULL, &m),
                     CF_OK);
    assert_string_equal(m.name, "MySecret");
    assert_true(m.prev_version[0] != '\0');
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("mySECRET"), &m), CF_OK);
    assert_string_equal(m.name, "MySecret");
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_recover(f->svc, &f->ref, CF_STR("mysecret"), &m), CF_OK);
    assert_string_equal(m.name, "MySecret");
    cf_secret_meta_release(&m);
    assert_int_equal(fx_get(f, &f->ref, "MYSECRET", NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "b");
}

static void test_bad_input(void **state)
{
    struct fx *f = *state;
    struct cf_secret_meta m;
    struct page p = {0};
    char next[CF_PAGE_TOKEN_MAX], big[CF_MAX_NAME_LEN + 2];

    assert_int_equal(fx_set(f, &f->ref, "bad name", "x", NULL), CF_EBADNAME);
    assert_int_equal(fx_set(f, &f->ref, "", "x", NULL), CF_EBADNAME);
    assert_int_equal(fx_set(f, &f->ref, "a_b", "x", NULL), CF_EBADNAME);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(fx_set(f, &f->ref, big, "x", NULL), CF_EBADNAME);
    assert_int_equal(fx_get(f, &f->ref, "a/b", NULL, NULL, 0), CF_EBADNAME);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("a.b"), &m), CF_EBADNAME);
    assert_int_equal(
        cf_secret_list_versions(f->svc, &f->ref, CF_STR("a b"), CF_STR_NULL, 25, page_cb, &p, next),
        CF_EBADNAME);
    /* value above the limit */
    size_t n = 4 * CF_MAX_SECRET_VALUE_CHARS + 1;
    char *huge = malloc(n);
    memset(huge, 'v', n);
    assert_int_equal(
        cf_secret_set(f->svc, &f->ref, CF_STR("huge"), (struct cf_str){huge, n}, NULL, &m),
        CF_ETOOBIG);
    /* the largest allowed value round-trips */
    assert_int_equal(
        cf_secret_set(f->svc, &f->ref, CF_STR("huge"), (struct cf_str){huge, n - 1}, NULL, &m),
        CF_OK);
    cf_secret_meta_release(&m);
    struct cf_secret *val = NULL;
    assert_int_equal(cf_secret_get(f->svc, &f->ref, CF_STR("huge"), CF_STR_NULL, &m, &val), CF_OK);
    assert_int_equal(val->len, n - 1);
    assert_memory_equal(val->p, huge, n - 1);
    cf_secret_free(val);
    cf_secret_meta_release(&m);
    free(huge);
}

/* ---------------- delete dates, purge protection ---------------- */

static void test_delete_dates_and_retention(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref short_ret;
    struct cf_secret_meta m;

    fx_advance(f, 50);
    assert_int_equal(fx_set(f, &f->ref, "d1", "x", NULL), CF_OK);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("d1"), &m), CF_OK);
    assert_int_equal(m.deleted_date, T0 + 50);
    assert_int_equal(m.scheduled_purge, T0 + 50 + 90 * 86400LL);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_get_deleted(f->svc, &f->ref, CF_STR("D1"), &m), CF_OK);
    assert_int_equal(m.deleted_date, T0 + 50);
    assert_string_equal(m.name, "d1");
    cf_secret_meta_release(&m);

    fx_make_vault(f, "shortvault", 7, false, &short_ret);
    assert_int_equal(fx_set(f, &short_ret, "d1", "x", NULL), CF_OK); /* another vault: free */
    assert_int_equal(cf_secret_delete(f->svc, &short_ret, CF_STR("d1"), &m), CF_OK);
    assert_int_equal(m.scheduled_purge, T0 + 50 + 7 * 86400LL);
    cf_secret_meta_release(&m);
}

static void test_recover_keeps_versions(void **state)
{
    struct fx *f = *state;
    char v1[33], v2[33], buf[16];
    struct cf_secret_meta m;
    struct page p = {0};
    char next[CF_PAGE_TOKEN_MAX];

    assert_int_equal(fx_set(f, &f->ref, "rk", "one", v1), CF_OK);
    fx_advance(f, 5);
    assert_int_equal(fx_set(f, &f->ref, "rk", "two", v2), CF_OK);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("rk"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_get(f, &f->ref, "rk", v1, NULL, 0), CF_ENOTFOUND);
    assert_int_equal(cf_secret_recover(f->svc, &f->ref, CF_STR("rk"), &m), CF_OK);
    assert_string_equal(m.version, v2);
    assert_int_equal(m.deleted_date, 0);
    assert_int_equal(m.attrs.created, T0 + 5);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_get(f, &f->ref, "rk", v1, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "one");
    assert_int_equal(
        cf_secret_list_versions(f->svc, &f->ref, CF_STR("rk"), CF_STR_NULL, 25, page_cb, &p, next),
        CF_OK);
    assert_int_equal(p.n, 2);
}

static void test_purge_protection(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref pp;
    struct cf_secret_meta m;

    fx_make_vault(f, "ppvault", 90, true, &pp);
    assert_true(pp.purge_protection);
    assert_int_equal(fx_set(f, &pp, "p", "x", NULL), CF_OK);
    /* live: 404 comes before 403 */
    assert_int_equal(cf_secret_purge(f->svc, &pp, CF_STR("p")), CF_ENOTFOUND);
    assert_int_equal(cf_secret_delete(f->svc, &pp, CF_STR("p"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_purge(f->svc, &pp, CF_STR("p")), CF_EPURGEPROTECT);
    /* still there, still recoverable */
    assert_int_equal(cf_secret_recover(f->svc, &pp, CF_STR("p"), &m), CF_OK);
    cf_secret_meta_release(&m);
}

/* ---------------- version ids (drawn from the svc's random pool) ---------------- */

#define IDS_PER_THREAD 1000 /* > 6 pools of 160: refills under contention */

struct id_run {
    struct cf_vault_svc *svc;
    int64_t now_ms;
    char ids[IDS_PER_THREAD][CF_VERSION_HEX_LEN + 1];
    cf_err e;
};

static void *id_thread(void *arg)
{
    struct id_run *r = arg;
    for (int i = 0; i < IDS_PER_THREAD && !r->e; i++)
        r->e = cf_vault_version_id(r->svc, r->now_ms, r->ids[i]);
    return NULL;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CF_VERSION_HEX_LEN);
}

static void test_version_ids(void **state)
{
    struct fx *f = *state;
    struct id_run *r = calloc(2, sizeof(*r));
    char(*all)[CF_VERSION_HEX_LEN + 1] = calloc(2 * IDS_PER_THREAD, sizeof(*all));
    pthread_t th[2];
    char ver[CF_VERSION_HEX_LEN + 1], prev[CF_VERSION_HEX_LEN + 1];
    int zero_tails = 0;

    assert_non_null(r);
    assert_non_null(all);
    for (int i = 0; i < 2; i++) {
        r[i].svc = f->svc;
        r[i].now_ms = 0x0123456789abLL + i;
        assert_int_equal(pthread_create(&th[i], NULL, id_thread, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(r[i].e, CF_OK);
        for (int k = 0; k < IDS_PER_THREAD; k++) {
            const char *id = r[i].ids[k];
            assert_int_equal(strlen(id), CF_VERSION_HEX_LEN);
            assert_memory_equal(id, i ? "0123456789ac" : "0123456789ab", 12);
            for (int c = 0; c < CF_VERSION_HEX_LEN; c++)
                assert_true((id[c] >= '0' && id[c] <= '9') || (id[c] >= 'a' && id[c] <= 'f'));
            zero_tails += strcmp(id + 12, "00000000000000000000") == 0;
            memcpy(all[i * IDS_PER_THREAD + k], id, CF_VERSION_HEX_LEN + 1);
            /* the random part alone is unique too (each pool byte is handed out once) */
            memcpy(all[i * IDS_PER_THREAD + k], "000000000000", 12);
        }
    }
    assert_int_equal(zero_tails, 0);
    qsort(all, 2 * IDS_PER_THREAD, sizeof(*all), id_cmp);
    for (int k = 1; k < 2 * IDS_PER_THREAD; k++)
        assert_true(memcmp(all[k - 1], all[k], CF_VERSION_HEX_LEN) != 0);
    free(all);
    free(r);

    /* sets use them: time-ordered by the fake clock, distinct */
    assert_int_equal(fx_set(f, &f->ref, "ids", "a", prev), CF_OK);
    f->clock.now_ms += 1;
    assert_int_equal(fx_set(f, &f->ref, "ids", "b", ver), CF_OK);
    assert_true(strcmp(prev, ver) < 0);
    assert_memory_not_equal(prev + 12, ver + 12, 20);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_state_table),
        T(test_versions),
        T(test_attributes_and_disabled),
        T(test_update),
        T(test_paging),
        T(test_list_shows_latest),
        T(test_list_versions_paging),
        T(test_case_insensitive_names),
        T(test_bad_input),
        T(test_delete_dates_and_retention),
        T(test_recover_keeps_versions),
        T(test_purge_protection),
        T(test_version_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

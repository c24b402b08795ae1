/* test_certs.c - store_certs.h on SQLite: objects (insert, duplicate name, get by lower-case
 * name, update of policy and deletion state), versions with DER and chain (by seq and by
 * version, with and without DER, update), lists (live vs deleted, name order, paging, objects
 * without versions skipped, list_all across vaults), the pending operation (put replaces, get,
 * delete), contacts, issuers (upsert keeps created, list, delete), purge of expired objects by
 * cascade, writes refused in a read transaction; the pending-only list (objects without a
 * version that have an operation in any status, one vault, name order, paging). */
#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <ctype.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_certs.h"
#include "store/store_vault.h"

struct fx {
    char dir[64], path[128];
    struct cf_store *s;
    int64_t vault;
};

static cf_err mkvault(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_vault v;
    memset(&v, 0, sizeof(v));
    snprintf(v.name, sizeof(v.name), "v1");
    snprintf(v.subscription, sizeof(v.subscription), "s");
    snprintf(v.resource_group, sizeof(v.resource_group), "rg");
    snprintf(v.location, sizeof(v.location), "l");
    snprintf(v.tenant_id, sizeof(v.tenant_id), "t");
    snprintf(v.sku, sizeof(v.sku), "standard");
    snprintf(v.public_network_access, sizeof(v.public_network_access), "Enabled");
    v.retention_days = 90;
    cf_buf_init(&v.dek, 64);
    assert_int_equal(cf_buf_append(&v.dek, "dek", 3), CF_OK);
    cf_err e = cf_store_vault_insert(t, &v, &f->vault);
    cf_buf_release(&v.dek);
    return e;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts o;
    cf_err e = CF_EINTERNAL;

    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-scert-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    o = (struct cf_store_opts){f->path, 2, 0};
    f->s = cf_store_open_sqlite(&o, &e);
    assert_int_equal(e, CF_OK);
    assert_int_equal(cf_store_write(f->s, mkvault, f), CF_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cf_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Inserts object name (with nver versions) in one write. */
struct mk {
    struct fx *f;
    const char *name;
    int nver;
    int64_t id;
};

static cf_err mk_fn(struct cf_store_txn *t, void *arg)
{
    struct mk *m = arg;
    struct cf_rec_cert_obj o;
    cf_err e;

    memset(&o, 0, sizeof(o));
    o.vault_id = m->f->vault;
    snprintf(o.name, sizeof(o.name), "%s", m->name);
    for (size_t i = 0; m->name[i]; i++)
        o.name_lc[i] = (char)tolower((unsigned char)m->name[i]);
    o.policy = (char *)(uintptr_t)"{\"p\":1}";
    if ((e = cf_store_cert_obj_insert(t, &o)) != CF_OK)
        return e;
    m->id = o.id;
    for (int s = 1; s <= m->nver; s++) {
        struct cf_rec_cert_ver v;
        cf_rec_cert_ver_init(&v);
        v.object_id = o.id;
        v.seq = s;
        snprintf(v.version, sizeof(v.version), "%032d", s);
        snprintf(v.key_version, sizeof(v.key_version), "%032d", s);
        snprintf(v.x5t, sizeof(v.x5t), "x5t%d", s);
        v.enabled = true;
        v.nbf = 10;
        v.exp = 20;
        assert_int_equal(cf_buf_append(&v.cer, "\x30\x00", 2), CF_OK);
        assert_int_equal(cf_buf_append(&v.chain, "\x30\x00\x30\x00", 4), CF_OK);
        e = cf_store_cert_ver_insert(t, &v);
        cf_rec_cert_ver_release(&v);
        if (e)
            return e;
        o.latest_seq = s;
        snprintf(o.latest_version, sizeof(o.latest_version), "%032d", s);
    }
    return cf_store_cert_obj_update(t, &o);
}

static int64_t mk(struct fx *f, const char *name, int nver, cf_err want)
{
    struct mk m = {f, name, nver, 0};
    assert_int_equal(cf_store_write(f->s, mk_fn, &m), want);
    return m.id;
}

struct rd {
    struct fx *f;
    const char *name_lc;
    const char *version;
    bool with_der, deleted;
    struct cf_rec_cert_obj o;
    struct cf_rec_cert_ver v;
    char seen[256];
    bool more;
    int max;
};

static cf_err rd_fn(struct cf_store_txn *t, void *arg)
{
    struct rd *r = arg;
    cf_err e = cf_store_cert_obj_get(t, r->f->vault, r->name_lc, &r->o);
    if (!e)
        e = cf_store_cert_ver_get(t, r->o.id, r->o.latest_seq, r->version, r->with_der, &r->v);
    return e;
}

static cf_err seen_cb(const struct cf_rec_cert_obj *o, const struct cf_rec_cert_ver *v, void *arg)
{
    struct rd *r = arg;
    size_t n = strlen(r->seen);
    snprintf(r->seen + n, sizeof(r->seen) - n, "%s:%lld ", o ? o->name : "-", (long long)v->seq);
    return CF_OK;
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct rd *r = arg;
    return cf_store_cert_list(t, r->f->vault, r->deleted, r->name_lc, r->max, seen_cb, r, &r->more);
}

static void objects_versions_lists(void **state)
{
    struct fx *f = *state;
    struct rd r;
    int64_t id;

    id = mk(f, "Alpha", 2, CF_OK);
    mk(f, "alpha", 0, CF_EEXISTS);
    mk(f, "beta", 1, CF_OK);
    mk(f, "gamma", 0, CF_OK); /* no version: not listed */

    memset(&r, 0, sizeof(r));
    r.f = f;
    r.name_lc = "alpha";
    r.with_der = true;
    assert_int_equal(cf_store_read(f->s, rd_fn, &r), CF_OK);
    assert_int_equal(r.o.id, id);
    assert_string_equal(r.o.name, "Alpha");
    assert_string_equal(r.o.policy, "{\"p\":1}");
    assert_int_equal(r.v.seq, 2);
    assert_int_equal(r.v.chain.len, 4);
    assert_int_equal(r.v.cer.len, 2);
    assert_string_equal(r.v.x5t, "x5t2");
    cf_rec_cert_obj_release(&r.o);
    cf_rec_cert_ver_release(&r.v);
    r.version = "00000000000000000000000000000001";
    r.with_der = false;
    assert_int_equal(cf_store_read(f->s, rd_fn, &r), CF_OK);
    assert_int_equal(r.v.seq, 1);
    assert_int_equal(r.v.cer.len, 0);
    cf_rec_cert_obj_release(&r.o);
    cf_rec_cert_ver_release(&r.v);
    r.version = "ffffffffffffffffffffffffffffffff";
    assert_int_equal(cf_store_read(f->s, rd_fn, &r), CF_ENOTFOUND);
    cf_rec_cert_obj_release(&r.o);
    cf_rec_cert_ver_release(&r.v);
    r.name_lc = "nope";
    r.version = NULL;
    assert_int_equal(cf_store_read(f->s, rd_fn, &r), CF_ENOTFOUND);
    cf_rec_cert_obj_release(&r.o);
    cf_rec_cert_ver_release(&r.v);

    memset(&r, 0, sizeof(r));
    r.f = f;
    r.name_lc = "";
    r.max = 1;
    assert_int_equal(cf_store_read(f->s, list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "Alpha:2 ");
    assert_true(r.more);
    r.name_lc = "alpha";
    r.seen[0] = '\0';
    r.max = 25;
    assert_int_equal(cf_store_read(f->s, list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "beta:1 ");
    assert_false(r.more);
    r.deleted = true;
    r.seen[0] = '\0';
    assert_int_equal(cf_store_read(f->s, list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "");
    /* a write in a read transaction is refused */
    assert_int_equal(cf_store_read(f->s, mk_fn, &(struct mk){f, "zz", 0, 0}), CF_EINVAL);
}

struct misc {
    struct fx *f;
    int step;
    char *json;
    struct cf_rec_cert_pending p;
    struct cf_rec_cert_issuer i;
    int n;
    int64_t id;
};

static cf_err misc_fn(struct cf_store_txn *t, void *arg)
{
    struct misc *m = arg;
    cf_err e;

    switch (m->step) {
    case 0: /* pending put twice (replace), contacts, issuer */
        cf_rec_cert_pending_init(&m->p);
        m->p.object_id = m->id;
        snprintf(m->p.request_id, sizeof(m->p.request_id), "r1");
        snprintf(m->p.status, sizeof(m->p.status), "inProgress");
        m->p.issuer_json = (char *)(uintptr_t)"{\"name\":\"Unknown\"}";
        assert_int_equal(cf_buf_append(&m->p.csr, "csr", 3), CF_OK);
        assert_int_equal(cf_buf_append(&m->p.priv, "sealed", 6), CF_OK);
        e = cf_store_cert_pending_put(t, &m->p);
        snprintf(m->p.status, sizeof(m->p.status), "completed");
        if (!e)
            e = cf_store_cert_pending_put(t, &m->p);
        m->p.issuer_json = NULL;
        cf_rec_cert_pending_release(&m->p);
        if (!e)
            e = cf_store_cert_contacts_put(t, m->f->vault, "[1]", 5);
        if (!e)
            e = cf_store_cert_contacts_put(t, m->f->vault, "[2]", 6);
        cf_rec_cert_issuer_init(&m->i);
        m->i.vault_id = m->f->vault;
        snprintf(m->i.name, sizeof(m->i.name), "Iss");
        snprintf(m->i.provider, sizeof(m->i.provider), "P1");
        m->i.created = 100;
        if (!e)
            e = cf_store_cert_issuer_put(t, &m->i);
        snprintf(m->i.provider, sizeof(m->i.provider), "P2");
        m->i.created = 200;
        if (!e)
            e = cf_store_cert_issuer_put(t, &m->i);
        cf_rec_cert_issuer_release(&m->i);
        return e;
    case 1:
        e = cf_store_cert_pending_get(t, m->id, &m->p);
        if (!e)
            e = cf_store_cert_contacts_get(t, m->f->vault, &m->json);
        if (!e)
            e = cf_store_cert_issuer_get(t, m->f->vault, "iss", &m->i);
        return e;
    case 2: /* deletes */
        e = cf_store_cert_pending_delete(t, m->id);
        if (!e)
            e = cf_store_cert_contacts_delete(t, m->f->vault);
        if (!e)
            e = cf_store_cert_issuer_delete(t, m->f->vault, "iss");
        if (!e && cf_store_cert_issuer_delete(t, m->f->vault, "iss") != CF_ENOTFOUND)
            e = CF_EINTERNAL;
        if (!e && cf_store_cert_pending_delete(t, m->id) != CF_ENOTFOUND)
            e = CF_EINTERNAL;
        return e;
    default: { /* soft-delete then purge expired */
        struct cf_rec_cert_obj o;
        e = cf_store_cert_obj_get(t, m->f->vault, "one", &o);
        o.deleted_date = 50;
        o.scheduled_purge = 60;
        if (!e)
            e = cf_store_cert_obj_update(t, &o);
        cf_rec_cert_obj_release(&o);
        if (!e)
            e = cf_store_cert_purge_expired(t, 59, 10, &m->n);
        if (!e && m->n != 0)
            e = CF_EINTERNAL;
        if (!e)
            e = cf_store_cert_purge_expired(t, 60, 10, &m->n);
        return e;
    }
    }
}

static void pending_contacts_issuers_purge(void **state)
{
    struct fx *f = *state;
    struct misc m;

    memset(&m, 0, sizeof(m));
    m.f = f;
    m.id = mk(f, "one", 1, CF_OK);
    assert_int_equal(cf_store_write(f->s, misc_fn, &m), CF_OK);
    m.step = 1;
    assert_int_equal(cf_store_read(f->s, misc_fn, &m), CF_OK);
    assert_string_equal(m.p.status, "completed");
    assert_int_equal(m.p.priv.len, 6);
    assert_string_equal(m.p.issuer_json, "{\"name\":\"Unknown\"}");
    assert_string_equal(m.json, "[2]");
    assert_string_equal(m.i.provider, "P2");
    assert_int_equal(m.i.created, 100); /* kept from the first insert */
    cf_rec_cert_pending_release(&m.p);
    cf_rec_cert_issuer_release(&m.i);
    free(m.json);
    m.step = 2;
    assert_int_equal(cf_store_write(f->s, misc_fn, &m), CF_OK);
    m.step = 1;
    assert_int_equal(cf_store_read(f->s, misc_fn, &m), CF_ENOTFOUND);
    cf_rec_cert_pending_release(&m.p);
    m.step = 3;
    assert_int_equal(cf_store_write(f->s, misc_fn, &m), CF_OK);
    assert_int_equal(m.n, 1);
}

struct pend {
    struct fx *f;
    int64_t vault;
    const char *after;
    int max;
    bool more;
    char seen[256];
};

/* Gives object id an operation in status (a version-less object until then). */
static cf_err pend_put_fn(struct cf_store_txn *t, void *arg)
{
    const struct cf_rec_cert_pending *p = arg;
    return cf_store_cert_pending_put(t, p);
}

static void pend_put(struct fx *f, int64_t id, const char *status)
{
    struct cf_rec_cert_pending p;
    cf_rec_cert_pending_init(&p);
    p.object_id = id;
    snprintf(p.request_id, sizeof(p.request_id), "r%lld", (long long)id);
    snprintf(p.status, sizeof(p.status), "%s", status);
    assert_int_equal(cf_store_write(f->s, pend_put_fn, &p), CF_OK);
    cf_rec_cert_pending_release(&p);
}

static cf_err pend_seen_cb(const struct cf_rec_cert_obj *o, void *arg)
{
    struct pend *r = arg;
    size_t n = strlen(r->seen);
    snprintf(r->seen + n, sizeof(r->seen) - n, "%s ", o->name);
    return CF_OK;
}

static cf_err pend_list_fn(struct cf_store_txn *t, void *arg)
{
    struct pend *r = arg;
    return cf_store_cert_list_pending_only(t, r->vault, r->after, r->max, pend_seen_cb, r,
                                           &r->more);
}

static cf_err soft_delete_fn(struct cf_store_txn *t, void *arg)
{
    struct fx *f = arg;
    struct cf_rec_cert_obj o;
    cf_err e = cf_store_cert_obj_get(t, f->vault, "g", &o);
    o.deleted_date = 50;
    o.scheduled_purge = 1000;
    if (!e)
        e = cf_store_cert_obj_update(t, &o);
    cf_rec_cert_obj_release(&o);
    return e;
}

static void pending_only_list(void **state)
{
    struct fx *f = *state;
    struct pend r;

    pend_put(f, mk(f, "E", 0, CF_OK), "failed");
    pend_put(f, mk(f, "b", 1, CF_OK), "cancelled"); /* has a version */
    pend_put(f, mk(f, "A", 0, CF_OK), "inProgress");
    (void)mk(f, "d", 0, CF_OK); /* no operation (deleted) */
    pend_put(f, mk(f, "C", 0, CF_OK), "cancelled");
    pend_put(f, mk(f, "g", 0, CF_OK), "inProgress");
    assert_int_equal(cf_store_write(f->s, soft_delete_fn, f), CF_OK); /* g soft-deleted */
    pend_put(f, mk(f, "h", 0, CF_OK), "completed");

    memset(&r, 0, sizeof(r));
    r.f = f;
    r.vault = f->vault;
    r.after = "";
    r.max = 25;
    assert_int_equal(cf_store_read(f->s, pend_list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "A C E h ");
    assert_false(r.more);
    /* pages of 2 from a token */
    r.seen[0] = '\0';
    r.max = 2;
    assert_int_equal(cf_store_read(f->s, pend_list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "A C ");
    assert_true(r.more);
    r.seen[0] = '\0';
    r.after = "c";
    assert_int_equal(cf_store_read(f->s, pend_list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "E h ");
    assert_false(r.more);
    r.seen[0] = '\0';
    r.after = "h";
    assert_int_equal(cf_store_read(f->s, pend_list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "");
    assert_false(r.more);
    /* another vault sees none of them */
    r.seen[0] = '\0';
    r.after = NULL;
    r.vault = f->vault + 1;
    assert_int_equal(cf_store_read(f->s, pend_list_fn, &r), CF_OK);
    assert_string_equal(r.seen, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(objects_versions_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(pending_contacts_issuers_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(pending_only_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

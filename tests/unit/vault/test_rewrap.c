/* test_rewrap.c - master-key rotation (cf_vault_svc_rewrap) and the derivation root
 * (cf_vault_derive_root): every vault's data key, live and deleted, is re-wrapped under the new
 * key in one write and the stored root re-sealed; secrets, recoveries, new vaults and backups
 * taken before keep working - through the running service (cached data keys) and through a
 * fresh service on the new key (unwrapped from the store) - while the old key opens nothing; a
 * row that opens under neither key in the middle, or a failed commit, changes nothing (bytes,
 * root, the service's key); readers that keep missing the cache and a writer that keeps
 * creating vaults during repeated rotations never fail (run under TSan). */
#include "fixture.h"

#include <pthread.h>
#include <stdatomic.h>

#include "store/store_debug.h"
#include "store/store_vault.h"
#include "vault/vault_int.h"

/* ---------------- helpers ---------------- */

struct row {
    int64_t id;
    unsigned char blob[128];
    size_t len;
};

struct rows {
    struct row r[64];
    size_t n;
};

static cf_err rows_cb(const struct cf_rec_vault *v, void *arg)
{
    struct rows *rs = arg;
    if (rs->n >= CF_ARRAY_LEN(rs->r) || v->dek.len > sizeof(rs->r[0].blob))
        return CF_ETOOBIG;
    rs->r[rs->n].id = v->id;
    memcpy(rs->r[rs->n].blob, v->dek.data, v->dek.len);
    rs->r[rs->n].len = v->dek.len;
    rs->n++;
    return CF_OK;
}

static cf_err rows_fn(struct cf_store_txn *t, void *arg)
{
    cf_err e = cf_store_vault_list(t, false, NULL, NULL, rows_cb, arg);
    return e ? e : cf_store_vault_list(t, true, NULL, NULL, rows_cb, arg);
}

/* Every vault row (live and deleted). */
static void read_rows(struct fx *f, struct rows *rs)
{
    memset(rs, 0, sizeof(*rs));
    assert_int_equal(cf_store_read(f->store, rows_fn, rs), CF_OK);
}

static bool opens(const unsigned char key[32], const struct row *r)
{
    char aad[32];
    int n = snprintf(aad + 4, sizeof(aad) - 4, "%lld", (long long)r->id);
    struct cf_secret *pt = NULL;
    cf_err e;

    memcpy(aad, "dek", 4);
    e = cf_aead_open(key, aad, 4 + (size_t)n, r->blob, r->len, &pt);
    cf_secret_free(pt);
    return e == CF_OK;
}

/* Asserts that every row opens under key and none under not_key; returns the row count. */
static size_t all_under(struct fx *f, const unsigned char key[32], const unsigned char not_key[32])
{
    struct rows rs;

    read_rows(f, &rs);
    for (size_t i = 0; i < rs.n; i++) {
        assert_true(opens(key, &rs.r[i]));
        assert_false(opens(not_key, &rs.r[i]));
    }
    return rs.n;
}

struct meta_arg {
    const char *key;
    struct cf_buf *out;
};

static cf_err meta_fn(struct cf_store_txn *t, void *arg)
{
    struct meta_arg *m = arg;
    return cf_store_meta_get(t, m->key, m->out);
}

struct dek_put {
    int64_t id;
    const void *p;
    size_t n;
};

static cf_err dek_put_fn(struct cf_store_txn *t, void *arg)
{
    struct dek_put *d = arg;
    return cf_store_vault_set_dek(t, d->id, d->p, d->n);
}

static void expect_secret(struct fx *f, struct cf_vault_svc *svc, const char *vault,
                          const char *name, const char *want)
{
    struct cf_vault_ref ref;
    struct cf_secret_meta m;
    struct cf_secret *val = NULL;

    assert_int_equal(cf_vault_resolve(svc, cf_str_from(vault), &ref), CF_OK);
    assert_int_equal(
        cf_secret_get(svc, &ref, cf_str_from(name), cf_str_from(""), &m, &val), CF_OK);
    assert_string_equal((const char *)val->p, want);
    cf_secret_free(val);
    cf_secret_meta_release(&m);
    (void)f;
}

static cf_err try_secret(struct cf_vault_svc *svc, const char *vault, const char *name)
{
    struct cf_vault_ref ref;
    struct cf_secret_meta m;
    struct cf_secret *val = NULL;
    cf_err e = cf_vault_resolve(svc, cf_str_from(vault), &ref);

    if (!e)
        e = cf_secret_get(svc, &ref, cf_str_from(name), cf_str_from(""), &m, &val);
    if (!e)
        cf_secret_meta_release(&m);
    cf_secret_free(val);
    return e;
}

static struct cf_vault_svc *svc_on(struct fx *f, const unsigned char mk[32],
                                   const unsigned char root[32])
{
    cf_err e;
    struct cf_vault_svc *s = cf_vault_svc_new_rooted(f->store, &f->clock.c, mk, root, &e);
    assert_int_equal(e, CF_OK);
    return s;
}

/* The fixture's service replaced by one on the stored derivation root (the server's way). */
static void use_root(struct fx *f, unsigned char root[32])
{
    assert_int_equal(cf_vault_derive_root(f->store, f->mk, true, root), CF_OK);
    cf_vault_svc_free(f->svc);
    f->svc = svc_on(f, f->mk, root);
    assert_int_equal(cf_vault_resolve(f->svc, cf_str_from("testvault"), &f->ref), CF_OK);
}

/* ---------------- the derivation root ---------------- */

static void test_root_fresh_store_random(void **state)
{
    struct fx *f = *state;
    char path[200];
    struct cf_store *s;
    struct cf_store_opts o;
    unsigned char r1[32], r2[32], other[32];
    cf_err e;

    snprintf(path, sizeof(path), "%s/fresh.db", f->dir);
    o = (struct cf_store_opts){path, 2, 8};
    s = cf_store_open_sqlite(&o, &e);
    assert_non_null(s);
    assert_int_equal(cf_vault_derive_root(s, f->mk, true, r1), CF_OK);
    assert_memory_not_equal(r1, f->mk, 32); /* a new store gets a random root */
    assert_int_equal(cf_vault_derive_root(s, f->mk, true, r2), CF_OK);
    assert_memory_equal(r1, r2, 32); /* made once */
    assert_int_equal(cf_vault_derive_root(s, f->mk, false, r2), CF_OK);
    assert_memory_equal(r1, r2, 32); /* the flag only matters at creation */
    assert_int_equal(cf_random(other, sizeof(other)), CF_OK);
    assert_int_equal(cf_vault_derive_root(s, other, true, r2), CF_ECORRUPT);
    cf_store_close(s);
    for (size_t i = 0; i < 3; i++) {
        static const char *const sfx[] = {"", "-wal", "-shm"};
        char p[220];
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static void test_root_used_store_is_master(void **state)
{
    struct fx *f = *state; /* the fixture's store holds a vault already */
    unsigned char root[32];
    struct cf_buf b;

    assert_int_equal(cf_vault_derive_root(f->store, f->mk, true, root), CF_OK);
    assert_memory_equal(root, f->mk, 32); /* backups and sealed keys of before stay valid */
    cf_buf_init(&b, 256);
    assert_int_equal(
        cf_store_read(f->store, meta_fn, &(struct meta_arg){CF_VAULT_META_DERIVE_ROOT, &b}),
        CF_OK);
    assert_int_equal(b.len, 32 + CF_AEAD_OVERHEAD); /* sealed, never in clear */
    assert_null(memmem(b.data, b.len, f->mk, 32));
    cf_buf_release(&b);
}

/* ---------------- rotation ---------------- */

static void test_rewrap_every_key(void **state)
{
    struct fx *f = *state;
    unsigned char root[32], root2[32], mk2[32], mk3[32];
    struct cf_vault_ref a, d, late;
    struct cf_vault got;
    struct cf_buf blob;
    struct cf_secret_meta m;
    struct cf_vault_svc *fresh;
    struct cf_vault in;
    bool created;

    use_root(f, root);
    fx_make_vault(f, "alpha", 90, false, &a);
    fx_make_vault(f, "doomed", 90, false, &d);
    assert_int_equal(fx_set(f, &f->ref, "s0", "zero", NULL), CF_OK);
    assert_int_equal(fx_set(f, &a, "s1", "one", NULL), CF_OK);
    assert_int_equal(fx_set(f, &d, "s2", "two", NULL), CF_OK);
    cf_buf_init(&blob, 1 << 16);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, cf_str_from("s0"), &blob), CF_OK);
    assert_int_equal(cf_vault_delete(f->svc, SUB, "rg1", "doomed"), CF_OK); /* a deleted vault */
    assert_int_equal(all_under(f, f->mk, (unsigned char[32]){0}), 3);

    assert_int_equal(cf_random(mk2, sizeof(mk2)), CF_OK);
    /* the caller must name the service's key */
    assert_int_equal(cf_vault_svc_rewrap(f->svc, mk2, mk2), CF_EINVAL);
    assert_int_equal(all_under(f, f->mk, mk2), 3);

    assert_int_equal(cf_vault_svc_rewrap(f->svc, f->mk, mk2), CF_OK);
    assert_int_equal(all_under(f, mk2, f->mk), 3); /* live and deleted */
    /* the running service: cached and uncached data keys */
    expect_secret(f, f->svc, "testvault", "s0", "zero");
    cf_vault_cache_invalidate(f->svc, "alpha");
    expect_secret(f, f->svc, "alpha", "s1", "one");
    /* the root moved with the key; the old key opens nothing any more */
    assert_int_equal(cf_vault_derive_root(f->store, mk2, true, root2), CF_OK);
    assert_memory_equal(root, root2, 32);
    assert_int_equal(cf_vault_derive_root(f->store, f->mk, true, root2), CF_ECORRUPT);
    fresh = svc_on(f, f->mk, root);
    assert_int_not_equal(try_secret(fresh, "alpha", "s1"), CF_OK);
    cf_vault_svc_free(fresh);

    /* a fresh service on the new key: everything unwraps from the store */
    fresh = svc_on(f, mk2, root);
    expect_secret(f, fresh, "testvault", "s0", "zero");
    expect_secret(f, fresh, "alpha", "s1", "one");
    /* a new vault after the rotation is wrapped under the new key */
    fx_vault_in(&in, "late", "rg1");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &got), CF_OK);
    cf_vault_release(&got);
    assert_int_equal(all_under(f, mk2, f->mk), 4);
    assert_int_equal(cf_vault_resolve(fresh, cf_str_from("late"), &late), CF_OK);
    /* the deleted vault recovers with its contents */
    fx_vault_in(&in, "doomed", "rg1");
    assert_int_equal(cf_vault_put(fresh, &in, CF_VAULT_PUT_RECOVER, &created, &got), CF_OK);
    cf_vault_release(&got);
    expect_secret(f, fresh, "doomed", "s2", "two");
    /* the backup taken before the rotation restores (the backup key comes from the root) */
    assert_int_equal(cf_secret_restore(fresh, &late, cf_buf_str(&blob), &m), CF_OK);
    cf_secret_meta_release(&m);
    expect_secret(f, fresh, "late", "s0", "zero");
    cf_vault_svc_free(fresh);

    /* and again: a second rotation from the new key */
    assert_int_equal(cf_random(mk3, sizeof(mk3)), CF_OK);
    assert_int_equal(cf_vault_svc_rewrap(f->svc, f->mk, mk3), CF_EINVAL); /* no longer current */
    assert_int_equal(cf_vault_svc_rewrap(f->svc, mk2, mk3), CF_OK);
    assert_int_equal(all_under(f, mk3, mk2), 4);
    fresh = svc_on(f, mk3, root);
    expect_secret(f, fresh, "late", "s0", "zero");
    expect_secret(f, fresh, "doomed", "s2", "two");
    cf_vault_svc_free(fresh);
    /* undo (what custody does when it cannot make the new key durable) */
    assert_int_equal(cf_vault_svc_rewrap(f->svc, mk3, mk2), CF_OK);
    assert_int_equal(all_under(f, mk2, mk3), 4);
    cf_buf_release(&blob);
}

static void test_rewrap_failure_in_middle_changes_nothing(void **state)
{
    struct fx *f = *state;
    unsigned char root[32], mk2[32], junk[CF_AEAD_OVERHEAD + 32];
    struct rows before0, before, after;
    struct cf_buf rb, ra;
    struct cf_vault_ref v[3];
    struct cf_vault_svc *fresh;
    const char *names[] = {"aaa", "mmm", "zzz"};
    int64_t mid = 0;

    use_root(f, root);
    for (int i = 0; i < 3; i++) {
        fx_make_vault(f, names[i], 90, false, &v[i]);
        assert_int_equal(fx_set(f, &v[i], "s", names[i], NULL), CF_OK);
    }
    mid = v[1].id;
    read_rows(f, &before0); /* aaa, mmm, testvault, zzz: name order */
    assert_int_equal(before0.r[1].id, mid);
    /* the middle vault's wrapped key becomes garbage: it opens under neither key */
    assert_int_equal(cf_random(junk, sizeof(junk)), CF_OK);
    assert_int_equal(cf_store_write(f->store, dek_put_fn, &(struct dek_put){mid, junk, sizeof(junk)}),
                     CF_OK);
    read_rows(f, &before);
    cf_buf_init(&rb, 256);
    cf_buf_init(&ra, 256);
    assert_int_equal(
        cf_store_read(f->store, meta_fn, &(struct meta_arg){CF_VAULT_META_DERIVE_ROOT, &rb}),
        CF_OK);

    assert_int_equal(cf_random(mk2, sizeof(mk2)), CF_OK);
    assert_int_equal(cf_vault_svc_rewrap(f->svc, f->mk, mk2), CF_ECORRUPT);
    read_rows(f, &after);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < after.n; i++) { /* byte for byte: "aaa" was re-wrapped, rolled back */
        assert_int_equal(after.r[i].len, before.r[i].len);
        assert_memory_equal(after.r[i].blob, before.r[i].blob, after.r[i].len);
    }
    assert_int_equal(
        cf_store_read(f->store, meta_fn, &(struct meta_arg){CF_VAULT_META_DERIVE_ROOT, &ra}),
        CF_OK);
    assert_true(cf_str_eq(cf_buf_str(&ra), cf_buf_str(&rb)));
    /* the service still wraps under the old key: a new vault, then a fresh service */
    fx_make_vault(f, "after", 90, false, &v[0]);
    read_rows(f, &after);
    assert_int_equal(after.n, before.n + 1);
    for (size_t i = 0; i < after.n; i++) {
        assert_false(opens(mk2, &after.r[i]));
        assert_true(after.r[i].id == mid || opens(f->mk, &after.r[i]));
    }
    fresh = svc_on(f, f->mk, root);
    expect_secret(f, fresh, "aaa", "s", "aaa");
    expect_secret(f, fresh, "zzz", "s", "zzz");
    assert_int_not_equal(try_secret(fresh, "mmm", "s"), CF_OK);
    cf_vault_svc_free(fresh);
    /* once the bad row is repaired the rotation goes through */
    assert_int_equal(cf_store_write(f->store, dek_put_fn,
                                    &(struct dek_put){mid, before0.r[1].blob, before0.r[1].len}),
                     CF_OK);
    assert_int_equal(cf_vault_svc_rewrap(f->svc, f->mk, mk2), CF_OK);
    assert_int_equal(all_under(f, mk2, f->mk), after.n);
    fresh = svc_on(f, mk2, root);
    expect_secret(f, fresh, "mmm", "s", "mmm");
    cf_vault_svc_free(fresh);
    cf_buf_release(&rb);
    cf_buf_release(&ra);
}

static void test_rewrap_commit_failure_changes_nothing(void **state)
{
    struct fx *f = *state;
    unsigned char root[32], mk2[32];
    struct rows before, after;
    struct cf_vault_ref v;
    struct cf_vault_svc *fresh;

    use_root(f, root);
    fx_make_vault(f, "second", 90, false, &v);
    assert_int_equal(fx_set(f, &v, "s", "kept", NULL), CF_OK);
    read_rows(f, &before);
    assert_int_equal(cf_random(mk2, sizeof(mk2)), CF_OK);
    /* the rotation's write runs to its end, then its commit fails: the service had switched
     * to the new key and must switch back (wrapping back anything wrapped meanwhile) */
    cf_store_debug_fail_commits(f->store, 1);
    assert_int_equal(cf_vault_svc_rewrap(f->svc, f->mk, mk2), CF_ESTORE);
    read_rows(f, &after);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < after.n; i++) {
        assert_int_equal(after.r[i].len, before.r[i].len);
        assert_memory_equal(after.r[i].blob, before.r[i].blob, after.r[i].len);
    }
    fx_make_vault(f, "third", 90, false, &v); /* wrapped under the key still current */
    assert_int_equal(all_under(f, f->mk, mk2), before.n + 1);
    fresh = svc_on(f, f->mk, root);
    expect_secret(f, fresh, "second", "s", "kept");
    cf_vault_svc_free(fresh);
    /* nothing is stuck: the next rotation succeeds */
    assert_int_equal(cf_vault_svc_rewrap(f->svc, f->mk, mk2), CF_OK);
    assert_int_equal(all_under(f, mk2, f->mk), before.n + 1);
}

/* ---------------- rotation under load ---------------- */

#define NVAULTS 4
#define NREADERS 2
#define NLATE 12
#define NROT 6

struct load {
    struct fx *f;
    atomic_bool stop;
    atomic_int fails, reads, made;
};

static void *reader_main(void *arg)
{
    struct load *l = arg;
    char name[16];

    while (!atomic_load(&l->stop)) {
        for (int i = 0; i < NVAULTS; i++) {
            snprintf(name, sizeof(name), "load%d", i);
            /* drop the cached data key: the next read unwraps it from the store */
            cf_vault_cache_invalidate(l->f->svc, name);
            if (try_secret(l->f->svc, name, "s") != CF_OK)
                atomic_fetch_add(&l->fails, 1);
            atomic_fetch_add(&l->reads, 1);
        }
    }
    return NULL;
}

static void *maker_main(void *arg)
{
    struct load *l = arg;
    struct cf_vault in, out;
    struct cf_vault_ref ref;
    char name[16];
    bool created;

    for (int i = 0; i < NLATE && !atomic_load(&l->stop); i++) {
        snprintf(name, sizeof(name), "late%02d", i);
        fx_vault_in(&in, name, "rg1");
        if (cf_vault_put(l->f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out) != CF_OK) {
            atomic_fetch_add(&l->fails, 1);
            continue;
        }
        cf_vault_release(&out);
        if (cf_vault_resolve(l->f->svc, cf_str_from(name), &ref) != CF_OK ||
            fx_set(l->f, &ref, "s", name, NULL) != CF_OK || try_secret(l->f->svc, name, "s"))
            atomic_fetch_add(&l->fails, 1);
        else
            atomic_fetch_add(&l->made, 1);
    }
    return NULL;
}

static void test_rewrap_under_load(void **state)
{
    struct fx *f = *state;
    unsigned char root[32], keys[NROT + 1][32];
    pthread_t readers[NREADERS], maker;
    struct cf_vault_ref ref;
    struct cf_vault_svc *fresh;
    struct load l = {.f = f};
    char name[16];

    use_root(f, root);
    for (int i = 0; i < NVAULTS; i++) {
        snprintf(name, sizeof(name), "load%d", i);
        fx_make_vault(f, name, 90, false, &ref);
        assert_int_equal(fx_set(f, &ref, "s", name, NULL), CF_OK);
    }
    memcpy(keys[0], f->mk, 32);
    for (int i = 0; i < NREADERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &l), 0);
    assert_int_equal(pthread_create(&maker, NULL, maker_main, &l), 0);
    for (int r = 1; r <= NROT; r++) {
        usleep(20 * 1000);
        assert_int_equal(cf_random(keys[r], 32), CF_OK);
        assert_int_equal(cf_vault_svc_rewrap(f->svc, keys[r - 1], keys[r]), CF_OK);
    }
    pthread_join(maker, NULL);
    usleep(20 * 1000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < NREADERS; i++)
        pthread_join(readers[i], NULL);
    assert_int_equal(atomic_load(&l.fails), 0);
    assert_true(atomic_load(&l.reads) > NVAULTS);
    assert_int_equal(atomic_load(&l.made), NLATE);
    /* every row - the first vaults and those made during the rotations - is under the last key */
    assert_int_equal(all_under(f, keys[NROT], keys[NROT - 1]), 1 + NVAULTS + NLATE);
    fresh = svc_on(f, keys[NROT], root);
    for (int i = 0; i < NVAULTS; i++) {
        snprintf(name, sizeof(name), "load%d", i);
        expect_secret(f, fresh, name, "s", name);
    }
    for (int i = 0; i < NLATE; i++) {
        snprintf(name, sizeof(name), "late%02d", i);
        expect_secret(f, fresh, name, "s", name);
    }
    cf_vault_svc_free(fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root_fresh_store_random, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_root_used_store_is_master, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rewrap_every_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rewrap_failure_in_middle_changes_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_rewrap_commit_failure_changes_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_rewrap_under_load, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

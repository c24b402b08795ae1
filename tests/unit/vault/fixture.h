/* fixture.h - shared set-up for the vault tests: a fresh SQLite store in a temp dir, a fake
 * clock the test moves, a random master key, the service, and helpers to make vaults. */
#ifndef CF_TEST_VAULT_FIXTURE_H
#define CF_TEST_VAULT_FIXTURE_H

#include "base/cf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "vault/vault.h"

#define T0 1700000000LL /* fake "now", unix s */
#define SUB "00000000-0000-0000-0000-0000000000aa"
#define TENANT "11111111-1111-1111-1111-111111111111"

struct fake_clock {
    struct cf_clock c; /* first: the clock pointer is the fake_clock pointer */
    int64_t now_ms;
};

static inline int64_t fake_now(const struct cf_clock *c)
{
    return ((const struct fake_clock *)(const void *)c)->now_ms;
}

struct fx {
    char dir[64];
    char path[128];
    struct fake_clock clock;
    unsigned char mk[32];
    struct cf_store *store;
    struct cf_vault_svc *svc;
    struct cf_vault_ref ref; /* "testvault", retention 90, no purge protection */
};

static inline void fx_advance(struct fx *f, int64_t seconds)
{
    f->clock.now_ms += seconds * 1000;
}

static inline void fx_vault_in(struct cf_vault *v, const char *name, const char *rg)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", name);
    snprintf(v->subscription, sizeof(v->subscription), "%s", SUB);
    snprintf(v->resource_group, sizeof(v->resource_group), "%s", rg);
    snprintf(v->location, sizeof(v->location), "westeurope");
    snprintf(v->tenant_id, sizeof(v->tenant_id), "%s", TENANT);
    snprintf(v->sku, sizeof(v->sku), "standard");
    v->retention_days = 90;
    v->rbac = true;
}

/* Creates a vault and resolves it. */
static inline void fx_make_vault(struct fx *f, const char *name, int retention, bool pp,
                                 struct cf_vault_ref *ref)
{
    struct cf_vault in, out;
    bool created = false;

    fx_vault_in(&in, name, "rg1");
    in.retention_days = retention;
    in.purge_protection = pp;
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    assert_true(created);
    cf_vault_release(&out);
    assert_int_equal(cf_vault_resolve(f->svc, cf_str_from(name), ref), CF_OK);
}

static inline int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cf_store_opts o;
    cf_err e = CF_EINTERNAL;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cf-vault-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/coffer.db", f->dir);
    o = (struct cf_store_opts){f->path, 4, 64};
    f->store = cf_store_open_sqlite(&o, &e);
    assert_int_equal(e, CF_OK);
    f->clock.c.now_ms = fake_now;
    f->clock.now_ms = T0 * 1000;
    assert_int_equal(cf_random(f->mk, sizeof(f->mk)), CF_OK);
    f->svc = cf_vault_svc_new(f->store, &f->clock.c, f->mk, &e);
    assert_int_equal(e, CF_OK);
    fx_make_vault(f, "testvault", 90, false, &f->ref);
    *state = f;
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    char p[200];
    static const char *const sfx[] = {"", "-wal", "-shm"};

    cf_vault_svc_free(f->svc);
    cf_store_close(f->store);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Sets name=value with default attributes; returns the new version in ver (33 bytes). */
static inline cf_err fx_set(struct fx *f, const struct cf_vault_ref *ref, const char *name,
                            const char *value, char *ver)
{
    struct cf_secret_meta m;
    struct cf_secret_input in = {0};
    cf_err e = cf_secret_set(f->svc, ref, cf_str_from(name), cf_str_from(value), &in, &m);
    if (!e) {
        if (ver)
            memcpy(ver, m.version, 33);
        cf_secret_meta_release(&m);
    }
    return e;
}

/* Gets the latest value of name into buf; returns the error. */
static inline cf_err fx_get(struct fx *f, const struct cf_vault_ref *ref, const char *name,
                            const char *version, char *buf, size_t bufsz)
{
    struct cf_secret_meta m;
    struct cf_secret *val = NULL;
    cf_err e = cf_secret_get(f->svc, ref, cf_str_from(name), cf_str_from(version ? version : ""),
                             &m, &val);
    if (buf)
        buf[0] = '\0';
    if (!e && buf)
        snprintf(buf, bufsz, "%s", (const char *)val->p);
    if (!e || e == CF_EDISABLED)
        cf_secret_meta_release(&m);
    cf_secret_free(val);
    return e;
}

#endif

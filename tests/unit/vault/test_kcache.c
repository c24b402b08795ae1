/* test_kcache.c - the key cache (kcache.c) never serves a stale key or stale metadata: a
 * repeated operation is a hit on the same shared entry; every change to a key (update of each
 * state-rule attribute and of tags, new version by create/import/rotate/janitor, delete,
 * recover, purge, restore) is seen by the next operation and the next GET; a vault change
 * drops the vault's entries; an entry read before a racing invalidation is never inserted
 * after it; eviction keeps the cache bounded and never frees a key still in use; and many
 * threads signing while one rotates never see a version older than the last acknowledged one
 * (run under TSan in CI). */
#include "fixture.h"

#include <pthread.h>

#include "vault/keys_int.h"

#define EC_JWK                                                                                     \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"ujgoG_433ui3YNwcLceLm02-c-E7xCBhfaYMBnyyLEY\","     \
    "\"y\":\"uvWq2tohl_VhxnOl7NmV5I54cdqdbxrBgiFKRe_IEKo\","                                       \
    "\"d\":\"jKEg2LoT-osxgDf1a-8lefZK814nGnsMSQIE1wzuOAw\"}"

static const unsigned char digest32[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static cf_err make_key(struct fx *f, const char *name, const char *kty, char version[33])
{
    struct cf_key_spec spec = {kty, 0, 0, NULL};
    struct cf_key_meta m;
    char why[200];
    cf_err e = cf_key_create(f->svc, &f->ref, cf_str_from(name), &spec, NULL, &m, why, sizeof(why));
    if (!e && version)
        memcpy(version, m.version, 33);
    cf_key_meta_release(&m);
    return e;
}

/* Signs digest32 with the latest version (ES256 or RS256 by type); the version used into
 * version when given. */
static cf_err sign(struct fx *f, const char *name, const char *alg, char version[33],
                   enum cf_key_refusal *refused)
{
    struct cf_key_op_args a;
    struct cf_key_op_result res;
    char why[200];
    cf_err e;

    memset(&a, 0, sizeof(a));
    memset(&res, 0, sizeof(res));
    a.op = CF_KEY_SIGN;
    a.alg = alg;
    a.value = (struct cf_str){(const char *)digest32, sizeof(digest32)};
    cf_buf_init(&res.out, 1024);
    e = cf_key_operate(f->svc, &f->ref, cf_str_from(name), CF_STR(""), &a, &res, why, sizeof(why));
    if (!e)
        assert_true(res.out.len == 64 || res.out.len == 256);
    if (version)
        memcpy(version, res.version, 33);
    if (refused)
        *refused = res.refused;
    cf_buf_release(&res.out);
    return e;
}

/* The cached entry serving operations on name's latest version, or NULL (no reference kept:
 * only its identity is compared). */
static const struct cf_kcache_ent *cached(struct fx *f, const char *name, enum cf_kcache_want w)
{
    uint64_t gen;
    struct cf_kcache_ent *e = cf_kcache_get(f->svc->kcache, f->ref.id, name, "", w, &gen);
    cf_kcache_unref(e);
    return e;
}

static void update(struct fx *f, const char *name, const struct cf_key_input *in)
{
    struct cf_key_meta m;
    char why[200];
    assert_int_equal(
        cf_key_update(f->svc, &f->ref, cf_str_from(name), CF_STR(""), in, &m, why, sizeof(why)),
        CF_OK);
    cf_key_meta_release(&m);
}

static void test_hit_and_get(void **state)
{
    struct fx *f = *state;
    const struct cf_kcache_ent *e1, *e2;
    struct cf_key_meta m, fresh;
    char v[33], used[33];

    assert_int_equal(make_key(f, "Hot", "EC", v), CF_OK);
    assert_null(cached(f, "hot", CF_KCACHE_KEY));
    assert_int_equal(sign(f, "hot", "ES256", used, NULL), CF_OK);
    assert_string_equal(used, v);
    e1 = cached(f, "hot", CF_KCACHE_KEY);
    assert_non_null(e1);
    assert_non_null(e1->key);
    assert_int_equal(sign(f, "HOT", "ES256", used, NULL), CF_OK);
    e2 = cached(f, "hot", CF_KCACHE_KEY);
    assert_ptr_equal(e1, e2); /* served by the same entry, not reopened */
    assert_int_equal(cf_kcache_count(f->svc->kcache), 1);

    /* GET from the cache equals what the store holds */
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("hot"), CF_STR(""), &m), CF_OK);
    assert_ptr_equal(cached(f, "hot", CF_KCACHE_META), e1);
    assert_string_equal(m.name, "Hot");
    assert_string_equal(m.version, v);
    assert_string_equal(m.kty, "EC");
    assert_string_equal(m.crv, "P-256");
    assert_true(m.attrs.enabled);
    assert_non_null(m.public_jwk);
    assert_non_null(strstr(m.public_jwk, "\"x\""));
    cf_kcache_forget(f->svc->kcache, f->ref.id, "hot"); /* force a store read to compare */
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("hot"), CF_STR(v), &fresh), CF_OK);
    assert_string_equal(fresh.public_jwk, m.public_jwk);
    assert_int_equal(fresh.key_ops, m.key_ops);
    assert_int_equal(fresh.attrs.created, m.attrs.created);
    cf_key_meta_release(&m);
    cf_key_meta_release(&fresh);

    /* a GET miss caches metadata only; the next sign upgrades the entry to one with the key */
    assert_null(cached(f, "hot", CF_KCACHE_KEY));
    assert_non_null(cached(f, "hot", CF_KCACHE_META)); /* the GET by version cached it */
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("hot"), CF_STR(""), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_null(cached(f, "hot", CF_KCACHE_KEY));
    assert_int_equal(sign(f, "hot", "ES256", NULL, NULL), CF_OK);
    e1 = cached(f, "hot", CF_KCACHE_KEY);
    assert_non_null(e1);
    assert_ptr_equal(cached(f, "hot", CF_KCACHE_META), e1);
    assert_int_equal(cf_kcache_count(f->svc->kcache), 1);

    /* unknown names and versions are not cached */
    assert_int_equal(sign(f, "cold", "ES256", NULL, NULL), CF_ENOTFOUND);
    assert_int_equal(
        cf_key_get(f->svc, &f->ref, CF_STR("hot"), CF_STR("0123456789abcdef0123456789abcdef"), &m),
        CF_ENOTFOUND);
    assert_int_equal(cf_kcache_count(f->svc->kcache), 1);
}

/* Metadata beyond the cache's bound: the key is still cached for operations, GET reads the
 * store and answers in full. */
static void test_large_metadata(void **state)
{
    struct fx *f = *state;
    struct cf_key_input in;
    struct cf_key_meta m;
    char *tags = malloc(6000);

    assert_non_null(tags);
    memset(tags, 'x', 5999);
    memcpy(tags, "{\"t\":\"", 6);
    memcpy(tags + 5996, "\"}", 3);
    assert_int_equal(make_key(f, "big", "EC", NULL), CF_OK);
    memset(&in, 0, sizeof(in));
    in.has_tags = true;
    in.tags_json = tags;
    update(f, "big", &in);
    assert_int_equal(sign(f, "big", "ES256", NULL, NULL), CF_OK);
    assert_non_null(cached(f, "big", CF_KCACHE_KEY));
    assert_null(cached(f, "big", CF_KCACHE_META));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("big"), CF_STR(""), &m), CF_OK);
        assert_string_equal(m.tags_json, tags);
        cf_key_meta_release(&m);
    }
    assert_int_equal(cf_kcache_count(f->svc->kcache), 1);
    assert_non_null(cached(f, "big", CF_KCACHE_KEY));
    free(tags);
}

static void test_every_change_invalidates(void **state)
{
    struct fx *f = *state;
    struct cf_key_input in;
    struct cf_key_meta m;
    struct cf_key_policy pol, pout;
    enum cf_key_refusal why_no;
    struct cf_json *jwk = NULL;
    struct cf_buf blob;
    char v1[33], v2[33], used[33], why[200];

    assert_int_equal(make_key(f, "k", "EC", v1), CF_OK);
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);

    /* update: enabled, key_ops, exp, nbf - each seen at once */
    memset(&in, 0, sizeof(in));
    in.has_enabled = true;
    in.enabled = false;
    update(f, "k", &in);
    assert_int_equal(sign(f, "k", "ES256", NULL, NULL), CF_EDISABLED);
    in.enabled = true;
    update(f, "k", &in);
    assert_int_equal(sign(f, "k", "ES256", NULL, NULL), CF_OK);
    memset(&in, 0, sizeof(in));
    in.has_key_ops = true;
    in.key_ops = CF_KEY_OP_VERIFY;
    update(f, "k", &in);
    assert_int_equal(sign(f, "k", "ES256", NULL, &why_no), CF_EFORBIDDEN);
    assert_int_equal(why_no, CF_KEY_REFUSED_OP);
    in.key_ops = CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY;
    update(f, "k", &in);
    assert_int_equal(sign(f, "k", "ES256", NULL, NULL), CF_OK);
    memset(&in, 0, sizeof(in));
    in.has_exp = true;
    in.exp = T0 - 10;
    update(f, "k", &in);
    assert_int_equal(sign(f, "k", "ES256", NULL, &why_no), CF_EFORBIDDEN);
    assert_int_equal(why_no, CF_KEY_REFUSED_EXPIRED);
    in.exp = 0;
    in.has_nbf = true;
    in.nbf = T0 + 3600;
    update(f, "k", &in);
    assert_int_equal(sign(f, "k", "ES256", NULL, &why_no), CF_EFORBIDDEN);
    assert_int_equal(why_no, CF_KEY_REFUSED_NOT_YET_VALID);
    in.nbf = 0;
    update(f, "k", &in);
    assert_int_equal(sign(f, "k", "ES256", NULL, NULL), CF_OK);
    /* tags: GET (served from the cache) shows the new ones */
    memset(&in, 0, sizeof(in));
    in.has_tags = true;
    in.tags_json = "{\"team\":\"blue\"}";
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("k"), CF_STR(""), &m), CF_OK);
    cf_key_meta_release(&m);
    update(f, "k", &in);
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("k"), CF_STR(""), &m), CF_OK);
    assert_string_equal(m.tags_json, "{\"team\":\"blue\"}");
    cf_key_meta_release(&m);

    /* new versions: create, import, rotate, the janitor's rotation */
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);
    assert_int_equal(make_key(f, "k", "EC", v2), CF_OK);
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);
    assert_string_equal(used, v2);
    assert_int_equal(cf_json_parse(EC_JWK, strlen(EC_JWK), &jwk, NULL, 0), CF_OK);
    assert_int_equal(
        cf_key_import(f->svc, &f->ref, CF_STR("k"), jwk, false, NULL, &m, why, sizeof(why)), CF_OK);
    cf_json_free(jwk);
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);
    assert_string_equal(used, m.version);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("k"), CF_STR(""), &m), CF_OK);
    assert_string_equal(m.version, used);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, CF_STR("k"), &m), CF_OK);
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);
    assert_string_equal(used, m.version);
    cf_key_meta_release(&m);
    memset(&pol, 0, sizeof(pol));
    pol.rotate = CF_KEY_TRIGGER_AFTER_CREATE;
    snprintf(pol.rotate_dur, sizeof(pol.rotate_dur), "P30D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, CF_STR("k"), &pol, &pout, why, sizeof(why)),
                     CF_OK);
    memcpy(v1, used, 33);
    fx_advance(f, 31 * 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);
    assert_string_not_equal(used, v1);

    /* delete, recover, purge, restore */
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_key_backup(f->svc, &f->ref, CF_STR("k"), &blob), CF_OK);
    memcpy(v1, used, 33);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, CF_STR("k"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(sign(f, "k", "ES256", NULL, NULL), CF_ENOTFOUND);
    assert_int_equal(cf_key_get(f->svc, &f->ref, CF_STR("k"), CF_STR(""), &m), CF_ENOTFOUND);
    assert_int_equal(cf_key_recover(f->svc, &f->ref, CF_STR("k"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);
    assert_string_equal(used, v1);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, CF_STR("k"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, CF_STR("k")), CF_OK);
    assert_int_equal(sign(f, "k", "ES256", NULL, NULL), CF_ENOTFOUND);
    assert_int_equal(cf_key_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(sign(f, "k", "ES256", used, NULL), CF_OK);
    assert_string_equal(used, v1);
    cf_buf_release(&blob);
}

static void test_vault_change_drops(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref other;
    struct cf_vault in, out;
    bool created;

    fx_make_vault(f, "othervault", 90, false, &other);
    assert_int_equal(make_key(f, "a", "EC", NULL), CF_OK);
    assert_int_equal(make_key(f, "b", "EC", NULL), CF_OK);
    assert_int_equal(sign(f, "a", "ES256", NULL, NULL), CF_OK);
    assert_int_equal(sign(f, "b", "ES256", NULL, NULL), CF_OK);
    assert_int_equal(cf_kcache_count(f->svc->kcache), 2);
    /* an update of the vault (its cache entry and data key go) drops its keys */
    fx_vault_in(&in, "testvault", "rg1");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
    assert_int_equal(cf_kcache_count(f->svc->kcache), 0);
    assert_int_equal(sign(f, "a", "ES256", NULL, NULL), CF_OK);
    assert_int_equal(cf_kcache_count(f->svc->kcache), 1);
    /* another vault's change leaves them */
    fx_vault_in(&in, "othervault", "rg1");
    assert_int_equal(cf_vault_put(f->svc, &in, CF_VAULT_PUT_DEFAULT, &created, &out), CF_OK);
    cf_vault_release(&out);
    assert_int_equal(cf_kcache_count(f->svc->kcache), 1);
    /* delete drops them */
    assert_int_equal(cf_vault_delete(f->svc, SUB, "rg1", "TestVault"), CF_OK);
    assert_int_equal(cf_kcache_count(f->svc->kcache), 0);
}

/* Builds an entry for (vault, name) with a fresh EC key (from blob) or none. */
static struct cf_kcache_ent *ent_for(const struct cf_vault_ref *v, const char *name,
                                     const char *version, const struct cf_secret *blob)
{
    struct cf_rec_key_obj obj;
    struct cf_rec_key_ver ver;
    struct cf_kcache_ent *e = NULL;
    struct cf_kvkey *k = NULL;

    memset(&obj, 0, sizeof(obj));
    memset(&ver, 0, sizeof(ver));
    obj.vault_id = v->id;
    snprintf(obj.name, sizeof(obj.name), "%s", name);
    snprintf(obj.name_lc, sizeof(obj.name_lc), "%s", name);
    obj.latest_seq = ver.seq = 1;
    snprintf(ver.version, sizeof(ver.version), "%s", version);
    snprintf(ver.kty, sizeof(ver.kty), "EC");
    ver.enabled = true;
    ver.key_ops = CF_KEY_OP_SIGN;
    ver.public_jwk = "{}"; /* copied by cf_kcache_ent_new */
    if (blob)
        assert_int_equal(cf_kvkey_from_blob(blob->p, blob->len, &k), CF_OK);
    assert_int_equal(cf_kcache_ent_new(v, &obj, &ver, k, &e), CF_OK);
    return e;
}

static void test_race_rule(void **state)
{
    struct fx *f = *state;
    struct cf_kcache *c = cf_kcache_new(64);
    struct cf_kcache_ent *e;
    uint64_t gen, gen2;

    assert_non_null(c);
    /* a miss, then a write commits and forgets the name, then the stale read is offered */
    assert_null(cf_kcache_get(c, f->ref.id, "n", "", CF_KCACHE_META, &gen));
    cf_kcache_forget(c, f->ref.id, "n");
    e = ent_for(&f->ref, "n", "00000000000000000000000000000001", NULL);
    cf_kcache_put(c, gen, e);
    cf_kcache_unref(e);
    assert_int_equal(cf_kcache_count(c), 0);
    assert_null(cf_kcache_get(c, f->ref.id, "n", "", CF_KCACHE_META, &gen));
    /* the same with the vault's entries dropped */
    cf_kcache_drop_vault(c, "testvault");
    e = ent_for(&f->ref, "n", "00000000000000000000000000000001", NULL);
    cf_kcache_put(c, gen, e);
    assert_int_equal(cf_kcache_count(c), 0);
    /* without a racing write it goes in, and is found by version and as the latest */
    assert_null(cf_kcache_get(c, f->ref.id, "n", "", CF_KCACHE_META, &gen));
    cf_kcache_put(c, gen, e);
    cf_kcache_unref(e);
    assert_int_equal(cf_kcache_count(c), 1);
    e = cf_kcache_get(c, f->ref.id, "n", "00000000000000000000000000000001", CF_KCACHE_META, &gen2);
    assert_non_null(e);
    assert_int_equal(gen2, gen);
    cf_kcache_unref(e);
    /* a metadata-only entry does not serve an operation; other vaults and names miss */
    assert_null(cf_kcache_get(c, f->ref.id, "n", "", CF_KCACHE_KEY, &gen));
    assert_null(cf_kcache_get(c, f->ref.id + 1, "n", "", CF_KCACHE_META, &gen));
    assert_null(cf_kcache_get(c, f->ref.id, "m", "", CF_KCACHE_META, &gen));
    /* a forget of another name in the same set leaves it (and still bumps the generation) */
    cf_kcache_forget(c, f->ref.id, "other");
    assert_int_equal(cf_kcache_count(c), 1);
    cf_kcache_forget(c, f->ref.id, "n");
    assert_int_equal(cf_kcache_count(c), 0);
    cf_kcache_free(c);
}

static void test_eviction_keeps_keys_in_use(void **state)
{
    struct fx *f = *state;
    struct cf_kcache *c = cf_kcache_new(64); /* 16 sets x 4 */
    struct cf_kcache_ent *held, *e;
    struct cf_kvkey *k = NULL;
    struct cf_secret *blob = NULL;
    struct cf_buf sig;
    char name[32], why[100];
    uint64_t gen;

    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &k), CF_OK);
    assert_int_equal(cf_kvkey_to_blob(k, &blob), CF_OK);
    cf_kvkey_free(k);
    assert_null(cf_kcache_get(c, f->ref.id, "held", "", CF_KCACHE_KEY, &gen));
    held = ent_for(&f->ref, "held", "00000000000000000000000000000001", blob);
    cf_kcache_put(c, gen, held); /* held: the test's reference and the table's */
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        assert_null(cf_kcache_get(c, f->ref.id, name, "", CF_KCACHE_KEY, &gen));
        e = ent_for(&f->ref, name, "00000000000000000000000000000001", i % 8 ? NULL : blob);
        cf_kcache_put(c, gen, e);
        cf_kcache_unref(e);
        assert_true(cf_kcache_count(c) <= 64);
    }
    assert_int_equal(cf_kcache_count(c), 64); /* full, and bounded */
    /* "held" was evicted long ago; the reference still signs (ASan: no use after free) */
    assert_null(cf_kcache_get(c, f->ref.id, "held", "", CF_KCACHE_KEY, &gen));
    cf_buf_init(&sig, 256);
    assert_int_equal(cf_kvkey_sign(held->key, "ES256", digest32, 32, &sig, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(sig.len, 64);
    cf_buf_release(&sig);
    cf_kcache_unref(held);
    /* the most recently used survive: a hot name kept hot is never evicted */
    assert_null(cf_kcache_get(c, f->ref.id, "hot", "", CF_KCACHE_KEY, &gen));
    e = ent_for(&f->ref, "hot", "00000000000000000000000000000001", blob);
    cf_kcache_put(c, gen, e);
    cf_kcache_unref(e);
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "x%d", i);
        e = cf_kcache_get(c, f->ref.id, "hot", "", CF_KCACHE_KEY, &gen);
        assert_non_null(e);
        cf_kcache_unref(e);
        assert_null(cf_kcache_get(c, f->ref.id, name, "", CF_KCACHE_META, &gen));
        e = ent_for(&f->ref, name, "00000000000000000000000000000001", NULL);
        cf_kcache_put(c, gen, e);
        cf_kcache_unref(e);
    }
    cf_secret_free(blob);
    cf_kcache_free(c);
}

/* ---- concurrency: threads using and churning a small cache ---- */

struct churn {
    struct fx *f;
    struct cf_kcache *c;
    const struct cf_secret *blob;
    int seed;
    int signed_ok;
};

static void *churn_main(void *arg)
{
    struct churn *ch = arg;
    unsigned r = (unsigned)ch->seed * 2654435761u;
    char name[16], why[100];
    struct cf_buf sig;

    cf_buf_init(&sig, 256);
    for (int i = 0; i < 600; i++) {
        struct cf_kcache_ent *e;
        uint64_t gen;

        r = r * 1103515245u + 12345u;
        snprintf(name, sizeof(name), "n%u", (r >> 8) % 24); /* 24 names over 8 sets x 4 */
        switch ((r >> 20) % 8) {
        case 0:
            cf_kcache_forget(ch->c, ch->f->ref.id, name);
            break;
        case 1:
            if (i % 50 == 0)
                cf_kcache_drop_vault(ch->c, "testvault");
            break;
        default:
            e = cf_kcache_get(ch->c, ch->f->ref.id, name, "", CF_KCACHE_KEY, &gen);
            if (!e) {
                e = ent_for(&ch->f->ref, name, "00000000000000000000000000000001", ch->blob);
                cf_kcache_put(ch->c, gen, e);
            }
            cf_buf_reset(&sig);
            if (cf_kvkey_sign(e->key, "ES256", digest32, 32, &sig, why, sizeof(why)) == CF_OK)
                ch->signed_ok++;
            cf_kcache_unref(e);
        }
    }
    cf_buf_release(&sig);
    return NULL;
}

static void test_concurrent_churn(void **state)
{
    struct fx *f = *state;
    struct churn ch[4];
    pthread_t t[4];
    struct cf_kvkey *k = NULL;
    struct cf_secret *blob = NULL;
    struct cf_kcache *c = cf_kcache_new(32);

    assert_int_equal(cf_kvkey_generate_ec(CF_CRV_P256, &k), CF_OK);
    assert_int_equal(cf_kvkey_to_blob(k, &blob), CF_OK);
    cf_kvkey_free(k);
    for (int i = 0; i < 4; i++) {
        ch[i] = (struct churn){f, c, blob, i + 1, 0};
        assert_int_equal(pthread_create(&t[i], NULL, churn_main, &ch[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(ch[i].signed_ok > 300); /* every use signed: no key freed under it */
    }
    assert_true(cf_kcache_count(c) <= 32);
    cf_kcache_free(c);
    cf_secret_free(blob);
}

/* ---- concurrency through the service: signers never see a version older than the last
 * acknowledged rotation, nor a disabled key signing after the disable was acknowledged ---- */

#define ROTATIONS 12

struct race {
    struct fx *f;
    char versions[ROTATIONS + 1][33]; /* in order; [0] the first */
    int acked;                        /* atomic: versions[0..acked] are acknowledged */
    int disabled;                     /* atomic: the disable was acknowledged */
    int stop;                         /* atomic */
    int stale, ops;                   /* atomic */
};

static int version_index(struct race *r, const char *v, int upto)
{
    for (int i = upto; i >= 0; i--)
        if (strcmp(r->versions[i], v) == 0)
            return i;
    return -1;
}

static void *signer(void *arg)
{
    struct race *r = arg;
    char used[33];

    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        int before = __atomic_load_n(&r->acked, __ATOMIC_ACQUIRE);
        int off = __atomic_load_n(&r->disabled, __ATOMIC_ACQUIRE);
        cf_err e = sign(r->f, "race", "ES256", used, NULL);
        int after = __atomic_load_n(&r->acked, __ATOMIC_ACQUIRE), idx;

        __atomic_add_fetch(&r->ops, 1, __ATOMIC_RELAXED);
        if (off) {
            if (e != CF_EDISABLED)
                __atomic_add_fetch(&r->stale, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (e == CF_EDISABLED)
            continue; /* the disable is being written */
        /* not among the acknowledged versions: a rotation committed but not yet acknowledged
         * to this test, which is newer */
        idx = version_index(r, used, after);
        if (e != CF_OK || (idx >= 0 && idx < before))
            __atomic_add_fetch(&r->stale, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_no_stale_key_under_rotation(void **state)
{
    struct fx *f = *state;
    struct race r;
    struct cf_key_input in;
    struct cf_key_meta m;
    pthread_t t[3];
    int stale = 0, ops = 0;

    memset(&r, 0, sizeof(r));
    r.f = f;
    assert_int_equal(make_key(f, "race", "EC", r.versions[0]), CF_OK);
    assert_int_equal(sign(f, "race", "ES256", NULL, NULL), CF_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, signer, &r), 0);
    for (int i = 1; i <= ROTATIONS; i++) {
        assert_int_equal(cf_key_rotate(f->svc, &f->ref, CF_STR("race"), &m), CF_OK);
        memcpy(r.versions[i], m.version, 33);
        cf_key_meta_release(&m);
        __atomic_store_n(&r.acked, i, __ATOMIC_RELEASE);
        usleep(2000);
    }
    memset(&in, 0, sizeof(in));
    in.has_enabled = true;
    in.enabled = false;
    update(f, "race", &in);
    __atomic_store_n(&r.disabled, 1, __ATOMIC_RELEASE);
    usleep(5000);
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    stale = r.stale;
    ops = r.ops;
    assert_int_equal(stale, 0);
    assert_true(ops > ROTATIONS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hit_and_get, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_large_metadata, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_every_change_invalidates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_vault_change_drops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_race_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_keeps_keys_in_use, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_churn, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_stale_key_under_rotation, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

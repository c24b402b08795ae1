/* test_keys_hsm.c - HSM-protected keys through the vault service with a fake token (a table
 * of software keys behind struct cf_vault_hsm_ops; the real SoftHSM2 token is covered by
 * tests/unit/custody/test_hsm.c and the custody e2e suite): create RSA-HSM / EC-HSM / oct-HSM
 * (kty, defaults, public JWK from the token), the store row holds only the sealed handle,
 * operations go to the token (and the state rules still apply first), a failed write takes the
 * token object back, rotation makes a new token key, purge destroys every version's objects,
 * backup/restore carries the handle, and without a token the -HSM types stay refused.
 * Purge paths and shared objects: retention expiry (the janitor's bulk purge), a vault purge
 * (by hand and by expiry) destroy the token objects; a restored copy shares the source's
 * objects (reference counts), so purging one copy keeps the other working, and a backup whose
 * objects are gone no longer restores. Imports ("Hsm": true or an -HSM kty) go onto the token
 * through a fake cf_hsm_import and behave as generated keys from then on; oct-HSM, a token
 * without import, the token's refusal and no token at all are 400s. */
#include "base/cf.h"
#include "base/json.h"
#include "store/store_keys.h"

#include "fixture.h"
#include "fake_hsm.h"

static int setup(void **state)
{
    int r = fx_setup(state);
    struct fx *f = *state;
    memset(&g_tok, 0, sizeof(g_tok));
    if (!r)
        cf_vault_svc_set_hsm(f->svc, (struct cf_hsm *)&g_tok, &fake_ops);
    return r;
}

static int teardown(void **state)
{
    fake_tok_reset();
    return fx_teardown(state);
}

static cf_err create(struct fx *f, const char *name, const char *kty, int size, const char *crv,
                     struct cf_key_meta *m)
{
    struct cf_key_spec spec = {kty, size, 0, crv};
    char why[256];
    return cf_key_create(f->svc, &f->ref, cf_str_from(name), &spec, NULL, m, why, sizeof(why));
}

static cf_err op(struct fx *f, const char *name, enum cf_key_opkind kind, const char *alg,
                 const void *val, size_t n, const void *digest, struct cf_key_op_result *res)
{
    struct cf_key_op_args a;
    char why[256];
    memset(&a, 0, sizeof(a));
    a.op = kind;
    a.alg = alg;
    a.value = (struct cf_str){val, n};
    if (digest)
        a.digest = (struct cf_str){digest, 32};
    cf_buf_init(&res->out, 8192);
    return cf_key_operate(f->svc, &f->ref, cf_str_from(name), cf_str_from(""), &a, res, why,
                          sizeof(why));
}

struct row {
    const char *version;
    size_t priv_len;
    char kty[16];
};
static cf_err row_fn(struct cf_store_txn *t, void *arg)
{
    struct row *r = arg;
    struct cf_rec_key_obj o;
    struct cf_rec_key_ver v;
    cf_err e = cf_store_key_obj_get(t, 1, "h1", &o);
    (void)e;
    memset(&v, 0, sizeof(v));
    e = cf_store_key_ver_get(t, o.id, 0, r->version, true, &v);
    if (!e) {
        r->priv_len = v.priv.len;
        snprintf(r->kty, sizeof(r->kty), "%s", v.kty);
    }
    cf_rec_key_ver_release(&v);
    return e;
}

static void hsm_keys(void **state)
{
    struct fx *f = *state;
    static const unsigned char dg[32] = {9, 8, 7};
    struct cf_key_op_result res, res2;
    struct cf_key_meta m, m2;
    struct row r = {0};
    struct cf_buf blob;

    assert_int_equal(create(f, "h1", "RSA-HSM", 0, NULL, &m), CF_OK);
    assert_string_equal(m.kty, "RSA-HSM");
    assert_int_equal(m.key_size, 2048);
    assert_int_equal(m.key_ops, 0x3f);
    assert_non_null(strstr(m.public_jwk, "\"n\":"));
    assert_int_equal(g_tok.gens, 1);
    /* the row: kty RSA-HSM and a sealed 20-byte handle (48 bytes), no private key */
    r.version = m.version;
    assert_int_equal(cf_store_read(f->store, row_fn, &r), CF_OK);
    assert_string_equal(r.kty, "RSA-HSM");
    assert_int_equal(r.priv_len, 20 + 28);
    /* sign on the token, verify on the token */
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, "h1", CF_KEY_SIGN, "RS256", dg, 32, NULL, &res), CF_OK);
    assert_int_equal(res.out.len, 256);
    assert_string_equal(res.version, m.version);
    memset(&res2, 0, sizeof(res2));
    assert_int_equal(op(f, "h1", CF_KEY_VERIFY, "RS256", res.out.data, res.out.len, dg, &res2),
                     CF_OK);
    assert_true(res2.valid);
    cf_buf_release(&res2.out);
    /* wrap on the token, unwrap on the token */
    memset(&res2, 0, sizeof(res2));
    assert_int_equal(op(f, "h1", CF_KEY_WRAP, "RSA-OAEP-256", dg, 32, NULL, &res2), CF_OK);
    cf_buf_release(&res.out);
    memset(&res, 0, sizeof(res));
    assert_int_equal(
        op(f, "h1", CF_KEY_UNWRAP, "RSA-OAEP-256", res2.out.data, res2.out.len, NULL, &res), CF_OK);
    assert_memory_equal(res.plain->p, dg, 32);
    cf_secret_free(res.plain);
    cf_buf_release(&res.out);
    cf_buf_release(&res2.out);
    assert_int_equal(g_tok.ops, 4);
    /* state rules come first: a disabled key does not sign, and the token is not asked */
    {
        struct cf_key_input in = {.has_enabled = true, .enabled = false};
        char why[128];
        assert_int_equal(cf_key_update(f->svc, &f->ref, cf_str_from("h1"), cf_str_from(""), &in,
                                       &m2, why, sizeof(why)),
                         CF_OK);
        cf_key_meta_release(&m2);
        memset(&res, 0, sizeof(res));
        assert_int_equal(op(f, "h1", CF_KEY_SIGN, "RS256", dg, 32, NULL, &res), CF_EDISABLED);
        cf_buf_release(&res.out);
        assert_int_equal(g_tok.ops, 4);
        in.enabled = true;
        assert_int_equal(cf_key_update(f->svc, &f->ref, cf_str_from("h1"), cf_str_from(""), &in,
                                       &m2, why, sizeof(why)),
                         CF_OK);
        cf_key_meta_release(&m2);
    }
    /* get shows the -HSM type */
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from("h1"), cf_str_from(""), &m2), CF_OK);
    assert_string_equal(m2.kty, "RSA-HSM");
    cf_key_meta_release(&m2);
    /* rotation: a new key in the token */
    fx_advance(f, 5);
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, cf_str_from("h1"), &m2), CF_OK);
    assert_string_equal(m2.kty, "RSA-HSM");
    assert_string_not_equal(m2.version, m.version);
    assert_int_equal(g_tok.gens, 2);
    assert_int_equal(live(), 2);
    cf_key_meta_release(&m2);
    /* backup carries the handles: purge, restore, the restored key signs again... but the
     * token objects went with the purge, so restore is checked before purging */
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_key_backup(f->svc, &f->ref, cf_str_from("h1"), &blob), CF_OK);
    /* delete + purge destroy both versions' objects */
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("h1"), &m2), CF_OK);
    cf_key_meta_release(&m2);
    assert_int_equal(live(), 2); /* soft delete keeps them: recover must work */
    assert_int_equal(cf_key_purge(f->svc, &f->ref, cf_str_from("h1")), CF_OK);
    assert_int_equal(live(), 0);
    assert_int_equal(g_tok.destroys, 2);
    /* the token objects are gone: the backup no longer restores (it would make a dead key) */
    assert_int_equal(cf_key_restore(f->svc, &f->ref, cf_buf_str(&blob), &m2), CF_EBADPARAM);
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from("h1"), cf_str_from(""), &m2),
                     CF_ENOTFOUND);
    cf_buf_release(&blob);
    cf_key_meta_release(&m);
}

static void hsm_types(void **state)
{
    struct fx *f = *state;
    struct cf_key_op_result res;
    static const unsigned char dg[32] = {1};
    struct cf_key_meta m;

    assert_int_equal(create(f, "e1", "EC-HSM", 0, "P-384", &m), CF_OK);
    assert_string_equal(m.kty, "EC-HSM");
    assert_string_equal(m.crv, "P-384");
    assert_int_equal(m.key_ops, CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY);
    cf_key_meta_release(&m);
    assert_int_equal(create(f, "e2", "EC-HSM", 0, NULL, &m), CF_OK);
    assert_string_equal(m.crv, "P-256");
    cf_key_meta_release(&m);
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, "e2", CF_KEY_SIGN, "ES256", dg, 32, NULL, &res), CF_OK);
    assert_int_equal(res.out.len, 64);
    cf_buf_release(&res.out);
    assert_int_equal(create(f, "o1", "oct-HSM", 0, NULL, &m), CF_OK);
    assert_string_equal(m.kty, "oct-HSM");
    assert_int_equal(m.key_size, 256);
    assert_string_equal(m.public_jwk, "{}");
    assert_int_equal(m.key_ops,
                     CF_KEY_OP_ENCRYPT | CF_KEY_OP_DECRYPT | CF_KEY_OP_WRAP | CF_KEY_OP_UNWRAP);
    cf_key_meta_release(&m);
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, "o1", CF_KEY_ENCRYPT, "A256CBCPAD", dg, 32, NULL, &res), CF_OK);
    assert_int_equal(res.iv_len, 16); /* the IV made on the token comes back */
    cf_buf_release(&res.out);
    /* bad types and exponents answer 400 without touching the token */
    assert_int_equal(create(f, "x", "XYZ-HSM", 0, NULL, &m), CF_EBADPARAM);
    {
        struct cf_key_spec spec = {"RSA-HSM", 2048, 4, NULL};
        char why[128];
        assert_int_equal(
            cf_key_create(f->svc, &f->ref, cf_str_from("x"), &spec, NULL, &m, why, sizeof(why)),
            CF_EBADPARAM);
    }
    assert_int_equal(g_tok.gens, 3);
    /* a create on a soft-deleted name fails after generating: the object is taken back */
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("e1"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(create(f, "e1", "EC-HSM", 0, NULL, &m), CF_EDELETED);
    assert_int_equal(live(), 3);
    assert_int_equal(g_tok.destroys, 1);
}

static void no_hsm(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    cf_vault_svc_set_hsm(f->svc, NULL, NULL);
    assert_int_equal(create(f, "h", "RSA-HSM", 0, NULL, &m), CF_EBADPARAM);
    assert_int_equal(create(f, "h", "oct-HSM", 0, NULL, &m), CF_EBADPARAM);
    assert_int_equal(g_tok.gens, 0);
}

static const char *const SUBID = SUB;

/* Retention expiry: the janitor's bulk purge destroys the objects of expired HSM keys only. */
static void purge_by_expiry(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;

    assert_int_equal(create(f, "x1", "RSA-HSM", 0, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    fx_advance(f, 5);
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, cf_str_from("x1"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(create(f, "x2", "EC-HSM", 0, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(create(f, "soft", "EC", 0, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(live(), 3);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("x1"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("soft"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK); /* not due yet */
    assert_int_equal(live(), 3);
    fx_advance(f, 91 * 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(live(), 1); /* x1's two versions went; x2 (live) stays */
    assert_int_equal(g_tok.destroys, 2);
    assert_int_equal(cf_key_get_deleted(f->svc, &f->ref, cf_str_from("x1"), &m), CF_ENOTFOUND);
    assert_int_equal(cf_key_get_deleted(f->svc, &f->ref, cf_str_from("soft"), &m), CF_ENOTFOUND);
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from("x2"), cf_str_from(""), &m), CF_OK);
    cf_key_meta_release(&m);
}

/* A whole vault purged (by hand, then another by retention expiry) takes its keys' objects. */
static void purge_vault(void **state)
{
    struct fx *f = *state;
    struct cf_vault_ref v2, v3;
    struct cf_key_meta m;

    fx_make_vault(f, "second", 7, false, &v2);
    fx_make_vault(f, "third", 7, false, &v3);
    assert_int_equal(cf_key_create(f->svc, &v2, cf_str_from("a"),
                                   &(struct cf_key_spec){"RSA-HSM", 0, 0, NULL}, NULL, &m, NULL, 0),
                     CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_create(f->svc, &v2, cf_str_from("b"),
                                   &(struct cf_key_spec){"oct-HSM", 0, 0, NULL}, NULL, &m, NULL, 0),
                     CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_delete(f->svc, &v2, cf_str_from("b"), &m), CF_OK); /* deleted too */
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_create(f->svc, &v3, cf_str_from("c"),
                                   &(struct cf_key_spec){"EC-HSM", 0, 0, NULL}, NULL, &m, NULL, 0),
                     CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(create(f, "keep", "EC-HSM", 0, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(live(), 4);
    assert_int_equal(cf_vault_delete(f->svc, SUBID, "rg1", "second"), CF_OK);
    assert_int_equal(live(), 4); /* soft delete: recoverable */
    assert_int_equal(cf_vault_purge(f->svc, SUBID, "second"), CF_OK);
    assert_int_equal(live(), 2);
    assert_int_equal(cf_vault_delete(f->svc, SUBID, "rg1", "third"), CF_OK);
    fx_advance(f, 8 * 86400);
    assert_int_equal(cf_vault_purge_expired(f->svc), CF_OK);
    assert_int_equal(live(), 1); /* only the key of the vault that lives */
    assert_int_equal(g_tok.destroys, 3);
}

/* A restored copy shares the token object: purging either copy keeps the other working; the
 * last purge destroys it; then the backup no longer restores. */
static void restored_copy_shares(void **state)
{
    struct fx *f = *state;
    static const unsigned char dg[32] = {5};
    struct cf_key_op_result res;
    struct cf_vault_ref v2;
    struct cf_key_meta m;
    struct cf_buf blob;

    fx_make_vault(f, "copyvault", 90, false, &v2);
    assert_int_equal(create(f, "s1", "EC-HSM", 0, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_key_backup(f->svc, &f->ref, cf_str_from("s1"), &blob), CF_OK);
    assert_int_equal(cf_key_restore(f->svc, &v2, cf_buf_str(&blob), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(live(), 1); /* one object, two rows */
    /* purge the original: the copy still signs */
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("s1"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, cf_str_from("s1")), CF_OK);
    assert_int_equal(live(), 1);
    assert_int_equal(g_tok.destroys, 0);
    memset(&res, 0, sizeof(res));
    {
        struct cf_key_op_args a = {.op = CF_KEY_SIGN, .alg = "ES256"};
        char why[128];
        a.value = (struct cf_str){(const char *)dg, 32};
        cf_buf_init(&res.out, 512);
        assert_int_equal(cf_key_operate(f->svc, &v2, cf_str_from("s1"), cf_str_from(""), &a, &res,
                                        why, sizeof(why)),
                         CF_OK);
        cf_buf_release(&res.out);
    }
    /* a second copy, back into the first vault, then the copy in v2 goes by expiry */
    assert_int_equal(cf_key_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_delete(f->svc, &v2, cf_str_from("s1"), &m), CF_OK);
    cf_key_meta_release(&m);
    fx_advance(f, 91 * 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(live(), 1);
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, "s1", CF_KEY_SIGN, "ES256", dg, 32, NULL, &res), CF_OK);
    cf_buf_release(&res.out);
    /* the last copy purged: the object goes, and the backup no longer restores */
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("s1"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, cf_str_from("s1")), CF_OK);
    assert_int_equal(live(), 0);
    assert_int_equal(g_tok.destroys, 1);
    assert_int_equal(cf_key_restore(f->svc, &v2, cf_buf_str(&blob), &m), CF_EBADPARAM);
    cf_buf_release(&blob);
}

/* ---------------- imported HSM keys (issue 12) ---------------- */

/* An RSA-2048 and a P-256 private JWK (generated for this test). */
#define RSA_JWK                                                                                    \
    "{\"kty\":\"RSA\",\"n\":\"4lsLR5LbBjBG5i0RlJ9VTMAg7V_qB-21zDdGmCR2zlcDFL1qhd9AW2-3diwmNzZ7a"   \
    "7PPHiSOYU_BUySqZT7dmZpXmQtoeEd2rzYwz4BZdH-haDY6F8bWsN5AB9MhgiLXzGtvkgBllV2F5abSIw7hV2C007G"   \
    "TZYjoav_J5Jt948qrp0tIQIkcag5xWn2ZwHsXfRelykwD2gSWaWpvj-caUnUr5mV8MsbsHwqWQpIRwMwIMGKcxybd_"   \
    "Y1jk7wYu7R2dgf0Fl_UmB7rdAGj2gOp_onzqc1VKVbNjL3rDSpkOfoRE9-RY6yqLLfd6ZhgSxSJ-3mjRnb81vaKzap"   \
    "dAylA3w\",\"e\":\"AQAB\",\"d\":\"ZlITijonSefe1MPAs7dGvtgGymbWCtl4maTPA41QKzwIB4MMORHPLMYWX"   \
    "5Pbfo_hQLFaSdzqg7CiymvDntrJH1s2h9cxVVWwn8lWTSZOyau8EbiZkA_xEqiUtzTIa-RGOoDCQXRudxN8qHA9g12"   \
    "BnZb4hs05vOcjcOLJp85mHOax6li4B85ph03Ik2BAoa_jj8Xu6jhml3QIWhvwDMB6oMjcK6CCnPP2e0OXFLBbItLQ7"   \
    "-ZAvBYReXKnIGh_-OPCKtZc9Ryce8-QW0in4PnDPBe-6t9UnuaT3uypoda6vtYqfPfGzf2Ytav21FRaQxi7iIL7sQK"   \
    "TeGum8nkCuz3YyQ\",\"p\":\"-OnWyfa3lFrkajAr78C13otm_cTO2KmW2kvodQ2KY5qtQSzkVlKy0YGx3plXm-aE"   \
    "WEtJB8MNM5nQm2OxdWflljddSNsseUC6flYuOXZ_U47vFT41JgN6w0LSixLnYRhpH8mHfDCUcEAwjBU67uPsGzjjxU"   \
    "EObb0mWK8M1Saj1SU\",\"q\":\"6MzL7o-VvTS768MgH4WhCfj_EhWEEyQ9LBAPLUVtbD6U7u3C8Oz-DCfbrsiyRj"   \
    "Gt1qvOXvYg_0uIKyFuqIjk7Z3P3yT2JRz-XtVrfBJ21FMLo2uiskl6OxCYxHao1jwCbTTKTl9uEDojrjhng4Cxc_6h"   \
    "M_WcF4NiMmUhDxZ02LM\",\"dp\":\"egchrreOPmPk8Q4WrB48yxJqdmSCx4M0mmZ2WtQ9kSEmaPpaItu-IKnFioy"   \
    "Af8SeAy89aVm9Yhu5QkS4ngdGbcNMr0gL4JHUG9WiKbenKk67dR2fLrir-YgL8fRdjKNL_jJtgnvKedFuO265Cp6gh"   \
    "KP6Phzrtu7xGq8Oynx7-yU\",\"dq\":\"oChc2FfB_XQtIKqSC_2j57d8y9UvkveoegrmVg_gksqPLb03EwcIVBaL"   \
    "xThfpXkCDqEODjioRNqS6JFMjvf2_x5F50-HY8sJmPacxrPxOmuToy8mtB9mzwHBB9BWoWSRis35rGds0g8dgvtdA5"   \
    "RjANkZ0CRV6btCsEbwsm-RnY8\",\"qi\":\"SEn-dN1pKCh2xS809Dj2kuOVNi7yRklUPgSz-PB4nL-XeiOCtYgXO"   \
    "GC5DmEnekekmAEnBc3mSU5HqTpdWegH5Ddhry3Uixrm2hYVl6n4oV8GzVnLifLtF10CXF9Gr93JDCQ3p4_TTOcxqnY"   \
    "6kwoslsr_ktz9ESHwNcuvMmA_PTE\"}"
#define EC_HSM_JWK                                                                                 \
    "{\"kty\":\"EC-HSM\",\"crv\":\"P-256\",\"x\":\"ujgoG_433ui3YNwcLceLm02-c-E7xCBhfaYMBnyyLEY\"," \
    "\"y\":\"uvWq2tohl_VhxnOl7NmV5I54cdqdbxrBgiFKRe_IEKo\","                                       \
    "\"d\":\"jKEg2LoT-osxgDf1a-8lefZK814nGnsMSQIE1wzuOAw\"}"
#define OCT_JWK "{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}"

static int setup_imp(void **state)
{
    int r = setup(state);
    struct fx *f = *state;
    if (!r)
        cf_vault_svc_set_hsm_import(f->svc, f_import);
    return r;
}

static cf_err import(struct fx *f, const struct cf_vault_ref *v, const char *name, const char *jwk,
                     bool hsm, const struct cf_key_input *in, struct cf_key_meta *m, char *why,
                     size_t whysz)
{
    struct cf_json *j = NULL;
    cf_err e;
    assert_int_equal(cf_json_parse(jwk, strlen(jwk), &j, NULL, 0), CF_OK);
    memset(m, 0, sizeof(*m));
    why[0] = '\0';
    e = cf_key_import(f->svc, v, cf_str_from(name), j, hsm, in, m, why, whysz);
    cf_json_free(j);
    return e;
}

/* The software key of a JWK (to check what the token signs). */
static struct cf_kvkey *sw_key(const char *jwk)
{
    struct cf_json *j = NULL;
    struct cf_kvkey *k = NULL;
    char why[128];
    assert_int_equal(cf_json_parse(jwk, strlen(jwk), &j, NULL, 0), CF_OK);
    assert_int_equal(cf_kvkey_from_jwk(j, &k, why, sizeof(why)), CF_OK);
    cf_json_free(j);
    return k;
}

/* "Hsm": true puts an RSA key on the token: the answer, the row and the operations are those
 * of a generated RSA-HSM key; signatures verify with the imported key's public part. */
static void import_rsa_hsm(void **state)
{
    struct fx *f = *state;
    static const unsigned char dg[32] = {4, 2};
    struct cf_kvkey *sw = sw_key(RSA_JWK);
    struct cf_key_input in = {.has_key_ops = true, .key_ops = CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY};
    struct cf_key_op_result res;
    struct cf_key_meta m, m2;
    struct row r = {0};
    char why[256];
    bool valid = false;

    assert_int_equal(import(f, &f->ref, "h1", RSA_JWK, true, &in, &m, why, sizeof(why)), CF_OK);
    assert_string_equal(m.kty, "RSA-HSM");
    assert_int_equal(m.key_size, 2048);
    assert_int_equal(m.key_ops, CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY);
    assert_non_null(strstr(m.public_jwk, "\"n\":\"4lsLR5Lb"));
    assert_null(strstr(m.public_jwk, "\"d\""));
    assert_int_equal(g_tok.imports, 1);
    assert_int_equal(g_tok.gens, 0);
    assert_int_equal(live(), 1);
    /* the row: kty RSA-HSM and the sealed handle only (48 bytes), as a generated key */
    r.version = m.version;
    assert_int_equal(cf_store_read(f->store, row_fn, &r), CF_OK);
    assert_string_equal(r.kty, "RSA-HSM");
    assert_int_equal(r.priv_len, 20 + 28);
    /* signs on the token; the imported key's public part verifies it */
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, "h1", CF_KEY_SIGN, "RS256", dg, 32, NULL, &res), CF_OK);
    assert_int_equal(g_tok.ops, 1);
    assert_int_equal(
        cf_kvkey_verify(sw, "RS256", dg, 32, res.out.data, res.out.len, &valid, why, sizeof(why)),
        CF_OK);
    assert_true(valid);
    cf_buf_release(&res.out);
    /* key_ops still rule: no decrypt */
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, "h1", CF_KEY_DECRYPT, "RSA-OAEP", dg, 32, NULL, &res), CF_EFORBIDDEN);
    cf_buf_release(&res.out);
    assert_int_equal(g_tok.ops, 1);
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from("h1"), cf_str_from(""), &m2), CF_OK);
    assert_string_equal(m2.kty, "RSA-HSM");
    cf_key_meta_release(&m2);
    /* a second import is a new version with its own object; purge destroys both */
    assert_int_equal(import(f, &f->ref, "h1", RSA_JWK, true, NULL, &m2, why, sizeof(why)), CF_OK);
    assert_string_not_equal(m2.version, m.version);
    assert_int_equal(live(), 2);
    cf_key_meta_release(&m2);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("h1"), &m2), CF_OK);
    cf_key_meta_release(&m2);
    assert_int_equal(live(), 2);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, cf_str_from("h1")), CF_OK);
    assert_int_equal(live(), 0);
    assert_int_equal(g_tok.destroys, 2);
    cf_key_meta_release(&m);
    cf_kvkey_free(sw);
}

/* kty EC-HSM (without "Hsm") is an HSM import too; backup/restore shares the object with
 * reference counts exactly as for a generated key; rotation generates on the token. */
static void import_ec_hsm_backup(void **state)
{
    struct fx *f = *state;
    static const unsigned char dg[32] = {7};
    struct cf_key_op_result res;
    struct cf_vault_ref v2;
    struct cf_key_meta m;
    struct cf_buf blob;
    char why[256];

    fx_make_vault(f, "copyvault", 90, false, &v2);
    assert_int_equal(import(f, &f->ref, "e1", EC_HSM_JWK, false, NULL, &m, why, sizeof(why)),
                     CF_OK);
    assert_string_equal(m.kty, "EC-HSM");
    assert_string_equal(m.crv, "P-256");
    assert_int_equal(m.key_size, 0);
    assert_int_equal(m.key_ops, CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY);
    assert_non_null(strstr(m.public_jwk, "ujgoG_433ui3YNwcLceLm02"));
    cf_key_meta_release(&m);
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_key_backup(f->svc, &f->ref, cf_str_from("e1"), &blob), CF_OK);
    assert_int_equal(cf_key_restore(f->svc, &v2, cf_buf_str(&blob), &m), CF_OK);
    assert_string_equal(m.kty, "EC-HSM");
    cf_key_meta_release(&m);
    assert_int_equal(live(), 1);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("e1"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, cf_str_from("e1")), CF_OK);
    assert_int_equal(live(), 1); /* the copy holds it */
    memset(&res, 0, sizeof(res));
    {
        struct cf_key_op_args a = {.op = CF_KEY_SIGN, .alg = "ES256"};
        a.value = (struct cf_str){(const char *)dg, 32};
        cf_buf_init(&res.out, 512);
        assert_int_equal(cf_key_operate(f->svc, &v2, cf_str_from("e1"), cf_str_from(""), &a, &res,
                                        why, sizeof(why)),
                         CF_OK);
        assert_int_equal(res.out.len, 64);
        cf_buf_release(&res.out);
    }
    fx_advance(f, 5);
    assert_int_equal(cf_key_rotate(f->svc, &v2, cf_str_from("e1"), &m), CF_OK);
    assert_string_equal(m.kty, "EC-HSM");
    cf_key_meta_release(&m);
    assert_int_equal(g_tok.gens, 1);
    assert_int_equal(cf_key_delete(f->svc, &v2, cf_str_from("e1"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_purge(f->svc, &v2, cf_str_from("e1")), CF_OK);
    assert_int_equal(live(), 0);
    assert_int_equal(g_tok.destroys, 2);
    assert_int_equal(cf_key_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_EBADPARAM);
    cf_buf_release(&blob);
}

/* Refusals: oct-HSM, a token that cannot import, a token that refuses, a bad JWK, a
 * soft-deleted name (the object is taken back), no token (the create's message). */
static void import_hsm_refused(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    struct cf_key_spec spec = {"RSA-HSM", 0, 0, NULL};
    char why[256], cwhy[256];

    assert_int_equal(import(f, &f->ref, "o", OCT_JWK, true, NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "oct-HSM"));
    assert_int_equal(
        import(f, &f->ref, "o",
               "{\"kty\":\"oct-HSM\",\"k\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}", false,
               NULL, &m, why, sizeof(why)),
        CF_EBADPARAM);
    assert_int_equal(
        import(f, &f->ref, "x", "{\"kty\":\"DSA-HSM\"}", false, NULL, &m, why, sizeof(why)),
        CF_EBADPARAM);
    assert_int_equal(import(f, &f->ref, "x", "{\"kty\":\"RSA\",\"n\":\"AQAB\"}", true, NULL, &m,
                            why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(import(f, &f->ref, "x", "{\"kty\":\"RSA-HSM\",\"key_hsm\":\"AAAA\"}", false,
                            NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "BYOK"));
    /* the token refuses (a curve it lacks, say): its message, nothing written */
    g_tok.import_fail = CF_EBADPARAM;
    assert_int_equal(import(f, &f->ref, "x", EC_HSM_JWK, false, NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "not supported by this server's HSM"));
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from("x"), cf_str_from(""), &m),
                     CF_ENOTFOUND);
    assert_int_equal(g_tok.imports, 0);
    assert_int_equal(live(), 0);
    /* a soft-deleted name: the imported object goes again */
    assert_int_equal(import(f, &f->ref, "d", EC_HSM_JWK, false, NULL, &m, why, sizeof(why)), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, cf_str_from("d"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(import(f, &f->ref, "d", RSA_JWK, true, NULL, &m, why, sizeof(why)),
                     CF_EDELETED);
    assert_int_equal(g_tok.imports, 2);
    assert_int_equal(live(), 1);
    assert_int_equal(g_tok.destroys, 1);
    /* the software import of the same JWK stays software */
    assert_int_equal(import(f, &f->ref, "s", RSA_JWK, false, NULL, &m, why, sizeof(why)), CF_OK);
    assert_string_equal(m.kty, "RSA");
    cf_key_meta_release(&m);
    assert_int_equal(g_tok.imports, 2);
    /* a token that cannot import */
    cf_vault_svc_set_hsm_import(f->svc, NULL);
    assert_int_equal(import(f, &f->ref, "x", RSA_JWK, true, NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "cannot import keys"));
    /* no token: exactly the create's answer */
    cf_vault_svc_set_hsm(f->svc, NULL, NULL);
    assert_int_equal(
        cf_key_create(f->svc, &f->ref, cf_str_from("x"), &spec, NULL, &m, cwhy, sizeof(cwhy)),
        CF_EBADPARAM);
    assert_int_equal(import(f, &f->ref, "x", RSA_JWK, true, NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_string_equal(why, cwhy);
    assert_int_equal(
        import(f, &f->ref, "x", "{\"kty\":\"RSA-HSM\"}", false, NULL, &m, why, sizeof(why)),
        CF_EBADPARAM);
    assert_string_equal(why, cwhy);
    spec.kty = "EC-HSM";
    assert_int_equal(
        cf_key_create(f->svc, &f->ref, cf_str_from("x"), &spec, NULL, &m, cwhy, sizeof(cwhy)),
        CF_EBADPARAM);
    assert_int_equal(import(f, &f->ref, "x", EC_HSM_JWK, false, NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_string_equal(why, cwhy);
    assert_int_equal(cf_key_get(f->svc, &f->ref, cf_str_from("x"), cf_str_from(""), &m),
                     CF_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hsm_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(hsm_types, setup, teardown),
        cmocka_unit_test_setup_teardown(no_hsm, setup, teardown),
        cmocka_unit_test_setup_teardown(purge_by_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(purge_vault, setup, teardown),
        cmocka_unit_test_setup_teardown(restored_copy_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(import_rsa_hsm, setup_imp, teardown),
        cmocka_unit_test_setup_teardown(import_ec_hsm_backup, setup_imp, teardown),
        cmocka_unit_test_setup_teardown(import_hsm_refused, setup_imp, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

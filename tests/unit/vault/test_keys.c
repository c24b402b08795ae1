/* test_keys.c - the keys domain (keys.c) on a real store with a fake clock: create per type
 * with defaults, new versions, HSM types refused, bad sizes/curves/types, import (EC, oct, HSM
 * and public-only refused), get/update (release policy and exportability rules), lists with
 * paging, the soft-delete lifecycle with retention and purge protection, backup/restore into
 * another vault (the restored key signs what the original verifies), rotation by hand and by
 * the janitor under a moving clock, policy validation, every crypto operation, the state rules
 * of §7, and that the stored private part is sealed with the key's AAD. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/json.h"

#include "fixture.h"
#include "store/store_keys.h"

/* A P-256 private JWK (generated for this test). */
#define EC_JWK                                                                                     \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"ujgoG_433ui3YNwcLceLm02-c-E7xCBhfaYMBnyyLEY\","     \
    "\"y\":\"uvWq2tohl_VhxnOl7NmV5I54cdqdbxrBgiFKRe_IEKo\","                                       \
    "\"d\":\"jKEg2LoT-osxgDf1a-8lefZK814nGnsMSQIE1wzuOAw\"}"
#define OCT_JWK "{\"kty\":\"oct\",\"k\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}"

static const unsigned char zero64[64];
static const unsigned char digest32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static struct cf_str S(const char *s) {
    return cf_str_from(s);
}

static cf_err
create(struct fx *f, const struct cf_vault_ref *ref, const char *name, const char *kty, int size,
       const char *crv, const struct cf_key_input *in, struct cf_key_meta *m)
{
    struct cf_key_spec spec = {kty, size, 0, crv};
    char why[256];
    cf_err e = cf_key_create(f->svc, ref, S(name), &spec, in, m, why, sizeof(why));
    if (e == CF_EBADPARAM)
        assert_true(why[0] != '\0'); /* every 400 has its reason */
    return e;
}

static cf_err import(struct fx *f, const char *name, const char *jwk, bool hsm,
                     struct cf_key_meta *m, char *why, size_t whysz)
{
    struct cf_json *j = NULL;
    cf_err e;

    assert_int_equal(cf_json_parse(jwk, strlen(jwk), &j, NULL, 0), CF_OK);
    e = cf_key_import(f->svc, &f->ref, S(name), j, hsm, NULL, m, why, whysz);
    cf_json_free(j);
    return e;
}

/* Runs one crypto operation on the latest version; the result's buffers are the caller's. */
static cf_err op(struct fx *f, const struct cf_vault_ref *ref, const char *name,
                 enum cf_key_opkind kind, const char *alg, const void *val, size_t n,
                 struct cf_key_op_result *res)
{
    struct cf_key_op_args a;
    char why[256];

    memset(&a, 0, sizeof(a));
    a.op = kind;
    a.alg = alg;
    a.value = (struct cf_str){val, n};
    if (kind == CF_KEY_VERIFY) /* val is the signature of digest32 */
        a.digest = (struct cf_str){(const char *)digest32, sizeof(digest32)};
    cf_buf_init(&res->out, 8192);
    return cf_key_operate(f->svc, ref, S(name), S(""), &a, res, why, sizeof(why));
}

static void res_release(struct cf_key_op_result *res)
{
    cf_buf_release(&res->out);
    cf_secret_free(res->plain);
    res->plain = NULL;
}

/* ---------------- create ---------------- */

static void create_types_and_defaults(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m, m2;

    assert_int_equal(create(f, &f->ref, "Ec1", "EC", 0, NULL, NULL, &m), CF_OK);
    assert_string_equal(m.name, "Ec1");
    assert_string_equal(m.kty, "EC");
    assert_string_equal(m.crv, "P-256");
    assert_int_equal(m.key_ops, CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY);
    assert_true(m.attrs.enabled);
    assert_false(m.attrs.exportable);
    assert_int_equal(m.attrs.created, T0);
    assert_int_equal(strlen(m.version), 32);
    assert_non_null(strstr(m.public_jwk, "\"crv\":\"P-256\""));
    assert_non_null(strstr(m.public_jwk, "\"x\":"));
    assert_null(strstr(m.public_jwk, "\"d\"")); /* never the private part */
    cf_key_meta_release(&m);

    assert_int_equal(create(f, &f->ref, "ec384", "EC", 0, "P-384", NULL, &m), CF_OK);
    assert_string_equal(m.crv, "P-384");
    cf_key_meta_release(&m);
    assert_int_equal(create(f, &f->ref, "rsa1", "RSA", 0, NULL, NULL, &m), CF_OK);
    assert_string_equal(m.kty, "RSA");
    assert_int_equal(m.key_size, 2048);
    assert_int_equal(m.key_ops, 0x3f);
    assert_non_null(strstr(m.public_jwk, "\"e\":\"AQAB\""));
    cf_key_meta_release(&m);
    assert_int_equal(create(f, &f->ref, "oct1", "oct", 0, NULL, NULL, &m), CF_OK);
    assert_int_equal(m.key_size, 256);
    assert_int_equal(m.key_ops,
                     CF_KEY_OP_ENCRYPT | CF_KEY_OP_DECRYPT | CF_KEY_OP_WRAP | CF_KEY_OP_UNWRAP);
    assert_string_equal(m.public_jwk, "{}");
    cf_key_meta_release(&m);

    /* a second create is a new latest version; the name keeps its first casing */
    fx_advance(f, 10);
    struct cf_key_input in = {.has_tags = true,
                              .tags_json = "{\"a\":\"b\"}",
                              .has_key_ops = true,
                              .key_ops = CF_KEY_OP_SIGN};
    assert_int_equal(create(f, &f->ref, "EC1", "EC", 0, "P-256K", &in, &m), CF_OK);
    assert_string_equal(m.name, "Ec1");
    assert_string_equal(m.crv, "P-256K");
    assert_int_equal(m.key_ops, CF_KEY_OP_SIGN);
    assert_string_equal(m.tags_json, "{\"a\":\"b\"}");
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("ec1"), S(""), &m2), CF_OK);
    assert_string_equal(m2.version, m.version);
    assert_int_equal(m2.attrs.created, T0 + 10);
    cf_key_meta_release(&m2);
    cf_key_meta_release(&m);
}

static void create_refusals(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    struct cf_key_spec spec = {"RSA-HSM", 0, 0, NULL};
    char why[256];

    /* no HSM: never a silent software key */
    assert_int_equal(cf_key_create(f->svc, &f->ref, S("h"), &spec, NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "hardware security module"));
    assert_int_equal(create(f, &f->ref, "h", "EC-HSM", 0, NULL, NULL, &m), CF_EBADPARAM);
    assert_int_equal(create(f, &f->ref, "h", "oct-HSM", 0, NULL, NULL, &m), CF_EBADPARAM);
    assert_int_equal(create(f, &f->ref, "h", "RSA", 1024, NULL, NULL, &m), CF_EBADPARAM);
    assert_int_equal(create(f, &f->ref, "h", "oct", 512, NULL, NULL, &m), CF_EBADPARAM);
    assert_int_equal(create(f, &f->ref, "h", "EC", 0, "P-999", NULL, &m), CF_EBADPARAM);
    assert_int_equal(create(f, &f->ref, "h", "rsa", 0, NULL, NULL, &m), CF_EBADPARAM);
    assert_int_equal(create(f, &f->ref, "h", "", 0, NULL, NULL, &m), CF_EBADPARAM);
    spec = (struct cf_key_spec){"RSA", 2048, 4, NULL}; /* an even exponent */
    assert_int_equal(cf_key_create(f->svc, &f->ref, S("h"), &spec, NULL, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(create(f, &f->ref, "bad_name", "EC", 0, NULL, NULL, &m), CF_EBADNAME);
    /* exportable needs a release policy */
    struct cf_key_input in = {.has_exportable = true, .exportable = true};
    assert_int_equal(create(f, &f->ref, "h", "EC", 0, NULL, &in, &m), CF_EBADPARAM);
    in.has_release_policy = true;
    in.release_policy = "{\"data\":\"e30\",\"immutable\":true}";
    assert_int_equal(create(f, &f->ref, "h", "EC", 0, NULL, &in, &m), CF_OK);
    assert_true(m.attrs.exportable);
    cf_key_meta_release(&m);
    /* an immutable policy cannot change, an exportable key cannot stop being exportable */
    in = (struct cf_key_input){.has_release_policy = true, .release_policy = "{\"data\":\"e31\"}"};
    assert_int_equal(cf_key_update(f->svc, &f->ref, S("h"), S(""), &in, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "immutable"));
    in = (struct cf_key_input){.has_exportable = true, .exportable = false};
    assert_int_equal(cf_key_update(f->svc, &f->ref, S("h"), S(""), &in, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    /* nothing of the refused calls was stored */
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("bad_name"), S(""), &m), CF_EBADNAME);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("h"), S(""), &m), CF_OK);
    assert_string_equal(m.release_policy, "{\"data\":\"e30\",\"immutable\":true}");
    cf_key_meta_release(&m);
}

/* ---------------- import ---------------- */

static void import_keys(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    struct cf_key_op_result res;
    char why[256];

    assert_int_equal(import(f, "imp-ec", EC_JWK, false, &m, why, sizeof(why)), CF_OK);
    assert_string_equal(m.kty, "EC");
    assert_string_equal(m.crv, "P-256");
    assert_non_null(strstr(m.public_jwk, "ujgoG_433ui3YNwcLceLm02-c-E7xCBhfaYMBnyyLEY"));
    assert_null(strstr(m.public_jwk, "jKEg2LoT"));
    cf_key_meta_release(&m);
    assert_int_equal(import(f, "imp-oct", OCT_JWK, false, &m, why, sizeof(why)), CF_OK);
    assert_string_equal(m.kty, "oct");
    assert_int_equal(m.key_size, 256);
    assert_string_equal(m.public_jwk, "{}");
    cf_key_meta_release(&m);
    /* the imported oct key wraps (A256KW) */
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, &f->ref, "imp-oct", CF_KEY_WRAP, "A256KW", digest32, 32, &res), CF_OK);
    assert_int_equal(res.out.len, 40);
    res_release(&res);

    /* HSM, BYOK, public-only and garbage are refused */
    assert_int_equal(import(f, "x", EC_JWK, true, &m, why, sizeof(why)), CF_EBADPARAM);
    assert_non_null(strstr(why, "hardware security module"));
    assert_int_equal(
        import(f, "x", "{\"kty\":\"RSA-HSM\",\"key_hsm\":\"AAAA\"}", false, &m, why, sizeof(why)),
        CF_EBADPARAM);
    assert_int_equal(import(f, "x",
                            "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"ujgoG_433ui3YNwcLceLm02-c-"
                            "E7xCBhfaYMBnyyLEY\",\"y\":\"uvWq2tohl_VhxnOl7NmV5I54cdqdbxrBgiFKRe_"
                            "IEKo\"}",
                            false, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(import(f, "x", "{\"kty\":\"DSA\"}", false, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(import(f, "x", "{\"k\":\"AAAA\"}", false, &m, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(import(f, "x", "{\"kty\":\"oct\",\"k\":\"@@@\"}", false, &m, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("x"), S(""), &m), CF_ENOTFOUND);
}

/* ---------------- get, update, lists ---------------- */

static cf_err collect(const struct cf_key_meta *m, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 1024 - n, "%s%s", n ? "," : "", m->name);
    return CF_OK;
}

static void get_update_list(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m, first;
    char next[CF_PAGE_TOKEN_MAX], tok[CF_PAGE_TOKEN_MAX], got[1024] = "", why[256];
    struct cf_key_input in;

    assert_int_equal(create(f, &f->ref, "k1", "EC", 0, NULL, NULL, &first), CF_OK);
    fx_advance(f, 5);
    assert_int_equal(create(f, &f->ref, "k1", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(create(f, &f->ref, "k2", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(create(f, &f->ref, "k3", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);

    /* by version (any case), unknown and malformed versions */
    char upper[33];
    for (int i = 0; i < 33; i++)
        upper[i] =
            (char)((first.version[i] >= 'a' && first.version[i] <= 'f') ? first.version[i] - 32
                                                                        : first.version[i]);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("K1"), S(upper), &m), CF_OK);
    assert_string_equal(m.version, first.version);
    cf_key_meta_release(&m);
    assert_int_equal(
        cf_key_get(f->svc, &f->ref, S("k1"), S("00000000000000000000000000000000"), &m),
        CF_ENOTFOUND);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("k1"), S("xyz"), &m), CF_ENOTFOUND);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("nope"), S(""), &m), CF_ENOTFOUND);

    /* update the first version: disabled keys stay readable */
    in = (struct cf_key_input){.has_enabled = true,
                               .enabled = false,
                               .has_exp = true,
                               .exp = T0 + 1000,
                               .has_tags = true,
                               .tags_json = "{\"t\":\"1\"}",
                               .has_key_ops = true,
                               .key_ops = CF_KEY_OP_VERIFY};
    fx_advance(f, 5);
    assert_int_equal(
        cf_key_update(f->svc, &f->ref, S("k1"), S(first.version), &in, &m, why, sizeof(why)),
        CF_OK);
    assert_false(m.attrs.enabled);
    assert_int_equal(m.attrs.exp, T0 + 1000);
    assert_int_equal(m.attrs.updated, T0 + 10);
    assert_int_equal(m.attrs.created, T0);
    assert_int_equal(m.key_ops, CF_KEY_OP_VERIFY);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("k1"), S(first.version), &m), CF_OK);
    assert_false(m.attrs.enabled);
    assert_string_equal(m.tags_json, "{\"t\":\"1\"}");
    cf_key_meta_release(&m);
    in = (struct cf_key_input){.has_nbf = true, .nbf = T0 + 2000};
    assert_int_equal(
        cf_key_update(f->svc, &f->ref, S("k1"), S(first.version), &in, &m, why, sizeof(why)),
        CF_EBADPARAM); /* nbf after exp */
    assert_int_equal(cf_key_update(f->svc, &f->ref, S("zz"), S(""), &in, &m, why, sizeof(why)),
                     CF_ENOTFOUND);

    /* list pages of two; versions */
    assert_int_equal(cf_key_list(f->svc, &f->ref, S(""), 2, collect, got, next), CF_OK);
    assert_string_equal(got, "k1,k2");
    assert_true(next[0] != '\0');
    got[0] = '\0';
    snprintf(tok, sizeof(tok), "%s", next); /* the token and the next one are distinct buffers */
    assert_int_equal(cf_key_list(f->svc, &f->ref, S(tok), 2, collect, got, next), CF_OK);
    assert_string_equal(got, "k3");
    assert_string_equal(next, "");
    assert_int_equal(cf_key_list(f->svc, &f->ref, S("!!"), 2, collect, got, next), CF_EBADPARAM);
    got[0] = '\0';
    assert_int_equal(cf_key_list_versions(f->svc, &f->ref, S("k1"), S(""), 1, collect, got, next),
                     CF_OK);
    assert_string_equal(got, "k1");
    assert_true(next[0] != '\0');
    snprintf(tok, sizeof(tok), "%s", next);
    assert_int_equal(cf_key_list_versions(f->svc, &f->ref, S("k1"), S(tok), 1, collect, got, next),
                     CF_OK);
    assert_string_equal(got, "k1,k1");
    assert_string_equal(next, "");
    got[0] = '\0';
    assert_int_equal(cf_key_list_versions(f->svc, &f->ref, S("none"), S(""), 5, collect, got, next),
                     CF_OK);
    assert_string_equal(got, "");
    cf_key_meta_release(&first);
}

/* ---------------- soft delete ---------------- */

static void soft_delete_lifecycle(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    struct cf_vault_ref pp;
    char next[CF_PAGE_TOKEN_MAX], got[1024] = "";

    assert_int_equal(create(f, &f->ref, "del", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_get_deleted(f->svc, &f->ref, S("del"), &m), CF_ENOTFOUND);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, S("DEL"), &m), CF_OK);
    assert_int_equal(m.deleted_date, T0);
    assert_int_equal(m.scheduled_purge, T0 + 90 * 86400);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_delete(f->svc, &f->ref, S("del"), &m), CF_ENOTFOUND);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("del"), S(""), &m), CF_ENOTFOUND);
    assert_int_equal(create(f, &f->ref, "del", "EC", 0, NULL, NULL, &m), CF_EDELETED);
    assert_int_equal(cf_key_get_deleted(f->svc, &f->ref, S("del"), &m), CF_OK);
    assert_string_equal(m.name, "del");
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_list_deleted(f->svc, &f->ref, S(""), 25, collect, got, next), CF_OK);
    assert_string_equal(got, "del");
    got[0] = '\0';
    assert_int_equal(cf_key_list(f->svc, &f->ref, S(""), 25, collect, got, next), CF_OK);
    assert_string_equal(got, "");

    /* recover, delete again, purge */
    assert_int_equal(cf_key_recover(f->svc, &f->ref, S("del"), &m), CF_OK);
    assert_int_equal(m.deleted_date, 0);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_recover(f->svc, &f->ref, S("del"), &m), CF_ENOTFOUND);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, S("del")), CF_ENOTFOUND); /* live */
    assert_int_equal(cf_key_delete(f->svc, &f->ref, S("del"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_purge(f->svc, &f->ref, S("del")), CF_OK);
    assert_int_equal(cf_key_get_deleted(f->svc, &f->ref, S("del"), &m), CF_ENOTFOUND);
    assert_int_equal(create(f, &f->ref, "del", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);

    /* purge protection; the janitor purges after the retention */
    fx_make_vault(f, "ppvault", 7, true, &pp);
    assert_int_equal(create(f, &pp, "k", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_delete(f->svc, &pp, S("k"), &m), CF_OK);
    assert_int_equal(m.scheduled_purge, T0 + 7 * 86400);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_purge(f->svc, &pp, S("k")), CF_EPURGEPROTECT);
    fx_advance(f, 7 * 86400 - 1);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(cf_key_get_deleted(f->svc, &pp, S("k"), &m), CF_OK);
    cf_key_meta_release(&m);
    fx_advance(f, 1);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(cf_key_get_deleted(f->svc, &pp, S("k"), &m), CF_ENOTFOUND);
}

/* ---------------- rotation policy Notify ---------------- */

struct seen {
    int n;
    char type[48], name[64], version[33];
    int64_t exp;
};

static cf_err seen_event(void *ctx, struct cf_store_txn *t, const struct cf_vault_event *ev)
{
    struct seen *s = ctx;
    (void)t;
    if (strcmp(ev->type, "KeyNewVersionCreated") == 0)
        return CF_OK;
    s->n++;
    snprintf(s->type, sizeof(s->type), "%s", ev->type);
    snprintf(s->name, sizeof(s->name), "%s", ev->object_name);
    snprintf(s->version, sizeof(s->version), "%s", ev->version);
    s->exp = ev->exp;
    return CF_OK;
}

/* Notify fires KeyNearExpiry once, timeBeforeExpiry before the latest version's exp, for that
 * version; a Rotate of the same policy fires later and the new version (no exp) stays quiet. */
static void rotation_notify(void **state)
{
    struct fx *f = *state;
    struct cf_key_policy in, out;
    struct cf_key_meta m, r;
    struct seen s;
    char why[256];
    int64_t exp = cf_clock_s(&f->clock.c) + 20 * 86400;

    memset(&s, 0, sizeof(s));
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    assert_int_equal(create(f, &f->ref, "note", "EC", 0, NULL,
                            &(struct cf_key_input){.has_exp = true, .exp = exp}, &m),
                     CF_OK);
    memset(&in, 0, sizeof(in));
    in.rotate = CF_KEY_TRIGGER_BEFORE_EXPIRY;
    snprintf(in.rotate_dur, sizeof(in.rotate_dur), "P5D");
    snprintf(in.notify_dur, sizeof(in.notify_dur), "P10D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("note"), &in, &out, why, sizeof(why)),
                     CF_OK);
    fx_advance(f, 10 * 86400 - 1);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 0); /* one second early */
    fx_advance(f, 1);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.type, "KeyNearExpiry");
    assert_string_equal(s.name, "note");
    assert_string_equal(s.version, m.version);
    assert_int_equal(s.exp, exp);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    fx_advance(f, 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 1); /* once per version */
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("note"), S(""), &r), CF_OK);
    assert_string_equal(r.version, m.version); /* Rotate (P5D) is not due yet */
    cf_key_meta_release(&r);
    fx_advance(f, 4 * 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("note"), S(""), &r), CF_OK);
    assert_string_not_equal(r.version, m.version); /* rotated; the new one has no exp */
    cf_key_meta_release(&r);
    fx_advance(f, 30 * 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 1);
    cf_key_meta_release(&m);

    /* an expired version gets no late NearExpiry (the events scan sends KeyExpired) */
    exp = cf_clock_s(&f->clock.c) + 86400;
    assert_int_equal(create(f, &f->ref, "late", "EC", 0, NULL,
                            &(struct cf_key_input){.has_exp = true, .exp = exp}, &m),
                     CF_OK);
    cf_key_meta_release(&m);
    memset(&in, 0, sizeof(in));
    in.rotate = CF_KEY_TRIGGER_AFTER_CREATE;
    snprintf(in.rotate_dur, sizeof(in.rotate_dur), "P1Y");
    snprintf(in.notify_dur, sizeof(in.notify_dur), "PT1H");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("late"), &in, &out, why, sizeof(why)),
                     CF_OK);
    fx_advance(f, 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 1);
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* A policy whose only action is Notify (no Rotate) fires too: the janitor's policy walk must
 * list it (the store's walk once took only policies with a Rotate action). */
static void rotation_notify_only(void **state)
{
    struct fx *f = *state;
    struct cf_key_policy in, out;
    struct cf_key_meta m, r;
    struct seen s;
    char why[256];
    int64_t exp = cf_clock_s(&f->clock.c) + 3 * 86400;

    memset(&s, 0, sizeof(s));
    cf_vault_set_event_sink(f->svc, seen_event, &s);
    assert_int_equal(create(f, &f->ref, "quiet", "EC", 0, NULL,
                            &(struct cf_key_input){.has_exp = true, .exp = exp}, &m),
                     CF_OK);
    memset(&in, 0, sizeof(in));
    in.rotate = CF_KEY_TRIGGER_NONE;
    snprintf(in.notify_dur, sizeof(in.notify_dur), "P1D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("quiet"), &in, &out, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 0); /* two days before exp: not yet */
    fx_advance(f, 2 * 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.type, "KeyNearExpiry");
    assert_string_equal(s.name, "quiet");
    assert_string_equal(s.version, m.version);
    assert_int_equal(s.exp, exp);
    fx_advance(f, 3600);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(s.n, 1); /* once per version */
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("quiet"), S(""), &r), CF_OK);
    assert_string_equal(r.version, m.version); /* Notify never rotates */
    cf_key_meta_release(&r);
    cf_key_meta_release(&m);
    cf_vault_set_event_sink(f->svc, NULL, NULL);
}

/* ---------------- backup / restore ---------------- */

static void backup_restore(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m, orig;
    struct cf_vault_ref other;
    struct cf_key_op_result sig, ver;
    struct cf_key_policy pol = {.rotate = CF_KEY_TRIGGER_AFTER_CREATE,
                                .rotate_dur = "P90D",
                                .expiry_time = "P1Y"},
                         pout;
    struct cf_buf blob, sblob;
    struct cf_key_op_args a;
    char why[256], ver1[33];

    assert_int_equal(create(f, &f->ref, "bk", "EC", 0, NULL, NULL, &orig), CF_OK);
    memcpy(ver1, orig.version, 33);
    cf_key_meta_release(&orig);
    assert_int_equal(create(f, &f->ref, "bk", "EC", 0, NULL,
                            &(struct cf_key_input){.has_tags = true, .tags_json = "{}"}, &orig),
                     CF_OK);
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("bk"), &pol, &pout, why, sizeof(why)),
                     CF_OK);
    memset(&sig, 0, sizeof(sig));
    assert_int_equal(op(f, &f->ref, "bk", CF_KEY_SIGN, "ES256", digest32, 32, &sig), CF_OK);
    assert_int_equal(sig.out.len, 64);

    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_key_backup(f->svc, &f->ref, S("BK"), &blob), CF_OK);
    assert_int_equal(cf_key_backup(f->svc, &f->ref, S("nope"), &blob), CF_ENOTFOUND);
    /* into another vault: same name, versions, policy; the key verifies the old signature */
    fx_make_vault(f, "othervault", 90, false, &other);
    assert_int_equal(cf_key_restore(f->svc, &other, cf_buf_str(&blob), &m), CF_OK);
    assert_string_equal(m.name, "bk");
    assert_string_equal(m.version, orig.version);
    assert_string_equal(m.public_jwk, orig.public_jwk);
    assert_string_equal(m.tags_json, "{}");
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_get(f->svc, &other, S("bk"), S(ver1), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_policy_get(f->svc, &other, S("bk"), &pout), CF_OK);
    assert_string_equal(pout.rotate_dur, "P90D");
    assert_string_equal(pout.expiry_time, "P1Y");
    memset(&a, 0, sizeof(a));
    a.op = CF_KEY_VERIFY;
    a.alg = "ES256";
    a.digest = (struct cf_str){(const char *)digest32, 32};
    a.value = cf_buf_str(&sig.out);
    memset(&ver, 0, sizeof(ver));
    cf_buf_init(&ver.out, 64);
    assert_int_equal(cf_key_operate(f->svc, &other, S("bk"), S(""), &a, &ver, why, sizeof(why)),
                     CF_OK);
    assert_true(ver.valid);
    res_release(&ver);
    res_release(&sig);

    /* conflicts: live name, soft-deleted name; garbage; a secret's backup */
    assert_int_equal(cf_key_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_EEXISTS);
    assert_string_equal(m.name, "bk");
    assert_int_equal(cf_key_delete(f->svc, &f->ref, S("bk"), &m), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_EDELETED);
    assert_int_equal(cf_key_restore(f->svc, &f->ref, S("not*base64"), &m), CF_EBADPARAM);
    blob.data[20] = blob.data[20] == 'A' ? 'B' : 'A';
    assert_int_equal(cf_key_restore(f->svc, &other, cf_buf_str(&blob), &m), CF_EBADPARAM);
    assert_int_equal(fx_set(f, &f->ref, "sec", "value", NULL), CF_OK);
    cf_buf_init(&sblob, 1 << 20);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, S("sec"), &sblob), CF_OK);
    assert_int_equal(cf_key_restore(f->svc, &other, cf_buf_str(&sblob), &m), CF_EBADPARAM);
    cf_buf_release(&sblob);
    cf_buf_release(&blob);
    cf_key_meta_release(&orig);
}

/* ---------------- rotation ---------------- */

static void rotation(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m, r;
    struct cf_key_policy in, out;
    char why[256];

    assert_int_equal(create(f, &f->ref, "rot", "EC", 0, "P-384",
                            &(struct cf_key_input){.has_key_ops = true,
                                                   .key_ops = CF_KEY_OP_SIGN,
                                                   .has_tags = true,
                                                   .tags_json = "{\"x\":\"y\"}"},
                            &m),
                     CF_OK);
    /* by hand: same type, curve, ops, tags; a new version */
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, S("rot"), &r), CF_OK);
    assert_string_not_equal(r.version, m.version);
    assert_string_equal(r.crv, "P-384");
    assert_int_equal(r.key_ops, CF_KEY_OP_SIGN);
    assert_string_equal(r.tags_json, "{\"x\":\"y\"}");
    assert_int_equal(r.attrs.exp, 0);
    cf_key_meta_release(&r);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_rotate(f->svc, &f->ref, S("none"), &r), CF_ENOTFOUND);

    /* a key without a policy: Azure's default one, Notify 30 days before expiry (the lead the
     * events scan uses), or the configured lead (0 is the default, as in events.c), or none */
    assert_int_equal(cf_key_policy_get(f->svc, &f->ref, S("rot"), &out), CF_OK);
    assert_int_equal(out.rotate, CF_KEY_TRIGGER_NONE);
    assert_string_equal(out.notify_dur, "P30D");
    assert_int_equal(out.created, 0);
    cf_vault_keys_set_notify_lead(f->svc, 7);
    assert_int_equal(cf_key_policy_get(f->svc, &f->ref, S("rot"), &out), CF_OK);
    assert_string_equal(out.notify_dur, "P7D");
    cf_vault_keys_set_notify_lead(f->svc, -1);
    assert_int_equal(cf_key_policy_get(f->svc, &f->ref, S("rot"), &out), CF_OK);
    assert_string_equal(out.notify_dur, "");
    cf_vault_keys_set_notify_lead(f->svc, 0);
    assert_int_equal(cf_key_policy_get(f->svc, &f->ref, S("rot"), &out), CF_OK);
    assert_string_equal(out.notify_dur, "P30D");
    assert_int_equal(cf_key_policy_get(f->svc, &f->ref, S("none"), &out), CF_ENOTFOUND);

    /* validation */
    memset(&in, 0, sizeof(in));
    in.rotate = CF_KEY_TRIGGER_AFTER_CREATE;
    snprintf(in.rotate_dur, sizeof(in.rotate_dur), "30D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("rot"), &in, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    snprintf(in.rotate_dur, sizeof(in.rotate_dur), "P30D");
    snprintf(in.expiry_time, sizeof(in.expiry_time), "P27D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("rot"), &in, &out, why, sizeof(why)),
                     CF_EBADPARAM);
    assert_non_null(strstr(why, "28"));
    in.rotate = CF_KEY_TRIGGER_BEFORE_EXPIRY;
    snprintf(in.expiry_time, sizeof(in.expiry_time), "P30D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("rot"), &in, &out, why, sizeof(why)),
                     CF_EBADPARAM); /* would rotate forever */
    snprintf(in.notify_dur, sizeof(in.notify_dur), "PT");
    snprintf(in.rotate_dur, sizeof(in.rotate_dur), "P7D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("rot"), &in, &out, why, sizeof(why)),
                     CF_EBADPARAM);

    /* the janitor: rotate 30 days after creation, new versions expire after P2M */
    in.rotate = CF_KEY_TRIGGER_AFTER_CREATE;
    snprintf(in.rotate_dur, sizeof(in.rotate_dur), "P30D");
    snprintf(in.notify_dur, sizeof(in.notify_dur), "P7D");
    snprintf(in.expiry_time, sizeof(in.expiry_time), "P2M");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("rot"), &in, &out, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(out.created, T0);
    assert_string_equal(out.notify_dur, "P7D");
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("rot"), S(""), &m), CF_OK);
    fx_advance(f, 30 * 86400 - 1);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("rot"), S(""), &r), CF_OK);
    assert_string_equal(r.version, m.version); /* not yet */
    cf_key_meta_release(&r);
    fx_advance(f, 1);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("rot"), S(""), &r), CF_OK);
    assert_string_not_equal(r.version, m.version);
    assert_int_equal(r.attrs.created, T0 + 30 * 86400);
    /* 2023-12-14 + 2 months = 2024-02-14 (T0 + 30 days is 2023-12-14T22:13:20Z) */
    assert_int_equal(r.attrs.exp, T0 + 30 * 86400 + 62 * 86400);
    assert_string_equal(r.crv, "P-384");
    /* ... and only once */
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("rot"), S(""), &m), CF_OK);
    assert_string_equal(r.version, m.version);
    cf_key_meta_release(&m);
    cf_key_meta_release(&r);

    /* before expiry: due 10 days before exp; a deleted key is left alone */
    assert_int_equal(
        create(f, &f->ref, "rot2", "EC", 0, NULL,
               &(struct cf_key_input){.has_exp = true, .exp = cf_clock_s(&f->clock.c) + 20 * 86400},
               &m),
        CF_OK);
    memset(&in, 0, sizeof(in));
    in.rotate = CF_KEY_TRIGGER_BEFORE_EXPIRY;
    snprintf(in.rotate_dur, sizeof(in.rotate_dur), "P10D");
    assert_int_equal(cf_key_policy_set(f->svc, &f->ref, S("rot2"), &in, &out, why, sizeof(why)),
                     CF_OK);
    fx_advance(f, 10 * 86400);
    assert_int_equal(cf_vault_keys_rotate_due(f->svc), CF_OK);
    assert_int_equal(cf_key_get(f->svc, &f->ref, S("rot2"), S(""), &r), CF_OK);
    assert_string_not_equal(r.version, m.version);
    assert_int_equal(r.attrs.exp, 0); /* no expiryTime: the new version does not expire */
    cf_key_meta_release(&r);
    cf_key_meta_release(&m);
    assert_true(cf_key_duration_valid(S("P1Y2M3W4DT5H6M7S")));
    assert_true(cf_key_duration_valid(S("pt48h")));
    assert_false(cf_key_duration_valid(S("P0D")));
    assert_false(cf_key_duration_valid(S("P1D2Y")));
    assert_false(cf_key_duration_valid(S("P1.5D")));
    assert_false(cf_key_duration_valid(S("P1234567D")));
    assert_false(cf_key_duration_valid(S("P")));
}

/* ---------------- crypto and state rules ---------------- */

static void crypto_operations(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    struct cf_key_op_result res, res2;
    struct cf_key_op_args a;
    char why[256];

    assert_int_equal(create(f, &f->ref, "rsa", "RSA", 2048, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    /* encrypt / decrypt round trip; kid is the version used */
    memset(&res, 0, sizeof(res));
    assert_int_equal(op(f, &f->ref, "rsa", CF_KEY_ENCRYPT, "RSA-OAEP-256", "hello", 5, &res),
                     CF_OK);
    assert_int_equal(res.out.len, 256);
    assert_int_equal(res.iv_len, 0);
    memset(&res2, 0, sizeof(res2));
    assert_int_equal(
        op(f, &f->ref, "rsa", CF_KEY_DECRYPT, "RSA-OAEP-256", res.out.data, res.out.len, &res2),
        CF_OK);
    assert_int_equal(res2.plain->len, 5);
    assert_memory_equal(res2.plain->p, "hello", 5);
    assert_string_equal(res2.name, "rsa");
    assert_int_equal(strlen(res2.version), 32);
    res_release(&res2);
    /* a tampered ciphertext fails without detail */
    res.out.data[10] ^= 1;
    assert_int_equal(
        op(f, &f->ref, "rsa", CF_KEY_DECRYPT, "RSA-OAEP-256", res.out.data, res.out.len, &res2),
        CF_ECRYPTO);
    res_release(&res2);
    res_release(&res);
    /* sign and verify (RS256, PS256), wrong digest length, wrong alg for the type */
    assert_int_equal(op(f, &f->ref, "rsa", CF_KEY_SIGN, "PS256", digest32, 32, &res), CF_OK);
    memset(&a, 0, sizeof(a));
    a.op = CF_KEY_VERIFY;
    a.alg = "PS256";
    a.digest = (struct cf_str){(const char *)digest32, 32};
    a.value = cf_buf_str(&res.out);
    cf_buf_init(&res2.out, 64);
    assert_int_equal(cf_key_operate(f->svc, &f->ref, S("rsa"), S(""), &a, &res2, why, sizeof(why)),
                     CF_OK);
    assert_true(res2.valid);
    a.digest.len = 31;
    assert_int_equal(cf_key_operate(f->svc, &f->ref, S("rsa"), S(""), &a, &res2, why, sizeof(why)),
                     CF_EBADPARAM);
    a.digest.len = 32;
    a.value.len--; /* a wrong signature is a valid "false" */
    assert_int_equal(cf_key_operate(f->svc, &f->ref, S("rsa"), S(""), &a, &res2, why, sizeof(why)),
                     CF_OK);
    assert_false(res2.valid);
    res_release(&res2);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "rsa", CF_KEY_SIGN, "ES256", digest32, 32, &res), CF_EBADPARAM);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "rsa", CF_KEY_SIGN, "XX999", digest32, 32, &res), CF_EBADPARAM);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "rsa", CF_KEY_SIGN, "RS256", digest32, 20, &res), CF_EBADPARAM);
    res_release(&res);
    /* wrap / unwrap */
    assert_int_equal(op(f, &f->ref, "rsa", CF_KEY_WRAP, "RSA1_5", digest32, 32, &res), CF_OK);
    assert_int_equal(
        op(f, &f->ref, "rsa", CF_KEY_UNWRAP, "RSA1_5", res.out.data, res.out.len, &res2), CF_OK);
    assert_memory_equal(res2.plain->p, digest32, 32);
    res_release(&res2);
    res_release(&res);

    /* oct: GCM with a generated IV and a tag, decrypt with them; AAD */
    assert_int_equal(create(f, &f->ref, "aes", "oct", 256, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    memset(&a, 0, sizeof(a));
    a.op = CF_KEY_ENCRYPT;
    a.alg = "A256GCM";
    a.value = S("secret text");
    a.aad = S("context");
    memset(&res, 0, sizeof(res));
    cf_buf_init(&res.out, 1024);
    assert_int_equal(cf_key_operate(f->svc, &f->ref, S("aes"), S(""), &a, &res, why, sizeof(why)),
                     CF_OK);
    assert_int_equal(res.iv_len, 12);
    assert_int_equal(res.tag_len, 16);
    a.op = CF_KEY_DECRYPT;
    a.value = cf_buf_str(&res.out);
    a.iv = (struct cf_str){(const char *)res.iv, res.iv_len};
    a.tag = (struct cf_str){(const char *)res.tag, res.tag_len};
    memset(&res2, 0, sizeof(res2));
    cf_buf_init(&res2.out, 64);
    assert_int_equal(cf_key_operate(f->svc, &f->ref, S("aes"), S(""), &a, &res2, why, sizeof(why)),
                     CF_OK);
    assert_string_equal((const char *)res2.plain->p, "secret text");
    res_release(&res2);
    a.aad = S("other");
    assert_int_equal(cf_key_operate(f->svc, &f->ref, S("aes"), S(""), &a, &res2, why, sizeof(why)),
                     CF_ECRYPTO);
    a.tag.len = 5;
    assert_int_equal(cf_key_operate(f->svc, &f->ref, S("aes"), S(""), &a, &res2, why, sizeof(why)),
                     CF_EBADPARAM);
    res_release(&res2);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "aes", CF_KEY_SIGN, "ES256", digest32, 32, &res),
                     CF_EFORBIDDEN); /* oct keys do not sign by default: not in key_ops */
    assert_int_equal(res.refused, CF_KEY_REFUSED_OP);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "missing", CF_KEY_SIGN, "ES256", digest32, 32, &res),
                     CF_ENOTFOUND);
    res_release(&res);
}

static void state_rules(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    struct cf_key_op_result res;
    struct cf_key_input in;
    char why[256];

    assert_int_equal(create(f, &f->ref, "st", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    memset(&res, 0, sizeof(res));
    /* disabled: sign refused (KeyDisabled), verify still allowed */
    in = (struct cf_key_input){.has_enabled = true, .enabled = false};
    assert_int_equal(cf_key_update(f->svc, &f->ref, S("st"), S(""), &in, &m, why, sizeof(why)),
                     CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(op(f, &f->ref, "st", CF_KEY_SIGN, "ES256", digest32, 32, &res), CF_EDISABLED);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "st", CF_KEY_VERIFY, "ES256", zero64, 64, &res), CF_OK);
    assert_false(res.valid);
    res_release(&res);
    /* key_ops without sign */
    in = (struct cf_key_input){
        .has_enabled = true, .enabled = true, .has_key_ops = true, .key_ops = CF_KEY_OP_VERIFY};
    assert_int_equal(cf_key_update(f->svc, &f->ref, S("st"), S(""), &in, &m, why, sizeof(why)),
                     CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(op(f, &f->ref, "st", CF_KEY_SIGN, "ES256", digest32, 32, &res), CF_EFORBIDDEN);
    assert_int_equal(res.refused, CF_KEY_REFUSED_OP);
    res_release(&res);
    /* nbf in the future, exp in the past: sign refused */
    in = (struct cf_key_input){.has_key_ops = true,
                               .key_ops = CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY,
                               .has_nbf = true,
                               .nbf = T0 + 100};
    assert_int_equal(cf_key_update(f->svc, &f->ref, S("st"), S(""), &in, &m, why, sizeof(why)),
                     CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(op(f, &f->ref, "st", CF_KEY_SIGN, "ES256", digest32, 32, &res), CF_EFORBIDDEN);
    assert_int_equal(res.refused, CF_KEY_REFUSED_NOT_YET_VALID);
    res_release(&res);
    fx_advance(f, 100);
    assert_int_equal(op(f, &f->ref, "st", CF_KEY_SIGN, "ES256", digest32, 32, &res), CF_OK);
    res_release(&res);
    in = (struct cf_key_input){.has_exp = true, .exp = T0 + 200};
    assert_int_equal(cf_key_update(f->svc, &f->ref, S("st"), S(""), &in, &m, why, sizeof(why)),
                     CF_OK);
    cf_key_meta_release(&m);
    fx_advance(f, 100);
    assert_int_equal(op(f, &f->ref, "st", CF_KEY_SIGN, "ES256", digest32, 32, &res), CF_EFORBIDDEN);
    assert_int_equal(res.refused, CF_KEY_REFUSED_EXPIRED);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "st", CF_KEY_VERIFY, "ES256", zero64, 64, &res), CF_OK);
    res_release(&res);

    /* RSA past exp: decrypt of old data still works, encrypt does not */
    assert_int_equal(
        create(f, &f->ref, "rs", "RSA", 2048, NULL,
               &(struct cf_key_input){.has_exp = true, .exp = cf_clock_s(&f->clock.c) + 10}, &m),
        CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(op(f, &f->ref, "rs", CF_KEY_ENCRYPT, "RSA-OAEP", "x", 1, &res), CF_OK);
    fx_advance(f, 10);
    struct cf_key_op_result res2;
    memset(&res2, 0, sizeof(res2));
    assert_int_equal(
        op(f, &f->ref, "rs", CF_KEY_DECRYPT, "RSA-OAEP", res.out.data, res.out.len, &res2), CF_OK);
    res_release(&res2);
    res_release(&res);
    assert_int_equal(op(f, &f->ref, "rs", CF_KEY_ENCRYPT, "RSA-OAEP", "x", 1, &res), CF_EFORBIDDEN);
    res_release(&res);
    /* a disabled oct key does nothing at all */
    assert_int_equal(create(f, &f->ref, "o", "oct", 128, NULL,
                            &(struct cf_key_input){.has_enabled = true, .enabled = false}, &m),
                     CF_OK);
    cf_key_meta_release(&m);
    assert_int_equal(op(f, &f->ref, "o", CF_KEY_WRAP, "A128KW", digest32, 16, &res), CF_EDISABLED);
    res_release(&res);
}

/* ---------------- sealing ---------------- */

struct raw_ctx {
    int64_t vid;
    struct cf_rec_key_ver v;
    char name_lc[16];
};

static cf_err raw_fn(struct cf_store_txn *t, void *arg)
{
    struct raw_ctx *c = arg;
    struct cf_rec_key_obj o;
    cf_err e = cf_store_key_obj_get(t, c->vid, c->name_lc, &o);
    return e ? e : cf_store_key_ver_get(t, o.id, o.latest_seq, NULL, true, &c->v);
}

static void private_part_is_sealed(void **state)
{
    struct fx *f = *state;
    struct cf_key_meta m;
    struct raw_ctx c;
    struct cf_secret *pt = NULL;
    unsigned char dek[32];
    struct cf_kvkey *k = NULL;

    assert_int_equal(create(f, &f->ref, "sealed", "EC", 0, NULL, NULL, &m), CF_OK);
    cf_key_meta_release(&m);
    memset(&c, 0, sizeof(c));
    c.vid = f->ref.id;
    snprintf(c.name_lc, sizeof(c.name_lc), "sealed");
    assert_int_equal(cf_store_read(f->store, raw_fn, &c), CF_OK);
    assert_true(c.v.priv.len > CF_AEAD_OVERHEAD);
    /* not a key blob in clear */
    assert_int_equal(cf_kvkey_from_blob(c.v.priv.data, c.v.priv.len, &k), CF_ECORRUPT);
    assert_null(memmem(c.v.priv.data, c.v.priv.len, "CFK", 3));
    /* nor openable with the master key, or with the right key and another slot's AAD */
    assert_int_equal(cf_aead_open(f->mk, "key", 4, c.v.priv.data, c.v.priv.len, &pt), CF_ECORRUPT);
    memset(dek, 0, sizeof(dek));
    assert_int_equal(cf_aead_open(dek, "", 0, c.v.priv.data, c.v.priv.len, &pt), CF_ECORRUPT);
    cf_rec_key_ver_release(&c.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_types_and_defaults, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(create_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(import_keys, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(get_update_list, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(soft_delete_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(backup_restore, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(rotation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(rotation_notify, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(rotation_notify_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(crypto_operations, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(state_rules, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(private_part_is_sealed, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

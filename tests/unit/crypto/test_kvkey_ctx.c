/* test_kvkey_ctx.c - the prepared EVP_PKEY_CTX slots of a cf_kvkey (kvkey.c, struct ctx_slot):
 * one key used again and again with alternating algorithms and operations (every result still
 * right: a slot set up for RS256 never signs a PS256 request), a failing operation in between,
 * more threads than slots on one shared key (each signature verified; run under TSan too), and
 * a key freed while its slots hold contexts (ASan/LSan: nothing leaks, nothing is used after). */
#include "base/cf.h"
#include "base/buf.h"
#include "base/secret.h"
#include "crypto/crypto.h"

#include <openssl/evp.h>
#include <pthread.h>

#include <setjmp.h>
#include <cmocka.h>

static struct cf_kvkey *rsa, *ec;

static int setup(void **state)
{
    (void)state;
    if (cf_kvkey_generate_rsa(2048, 65537, &rsa) != CF_OK ||
        cf_kvkey_generate_ec(CF_CRV_P256, &ec) != CF_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cf_kvkey_free(rsa);
    cf_kvkey_free(ec);
    return 0;
}

/* sign with alg, verify with alg (true) and with other (false: a different padding). */
static void sign_verify(struct cf_kvkey *k, const char *alg, const char *other,
                        const unsigned char *dg, size_t n)
{
    struct cf_buf sig;
    bool valid = false;

    cf_buf_init(&sig, 1024);
    assert_int_equal(cf_kvkey_sign(k, alg, dg, n, &sig, NULL, 0), CF_OK);
    assert_int_equal(cf_kvkey_verify(k, alg, dg, n, sig.data, sig.len, &valid, NULL, 0), CF_OK);
    assert_true(valid);
    if (other) {
        assert_int_equal(cf_kvkey_verify(k, other, dg, n, sig.data, sig.len, &valid, NULL, 0),
                         CF_OK);
        assert_false(valid);
    }
    sig.data[sig.len / 2] ^= 1;
    assert_int_equal(cf_kvkey_verify(k, alg, dg, n, sig.data, sig.len, &valid, NULL, 0), CF_OK);
    assert_false(valid);
    cf_buf_release(&sig);
}

static void test_alternating_algs(void **state)
{
    unsigned char dg[64];
    (void)state;
    for (size_t i = 0; i < sizeof(dg); i++)
        dg[i] = (unsigned char)(i * 7 + 1);
    /* more distinct (alg, op) pairs than slots, twice over: slots are replaced and reused */
    for (int round = 0; round < 3; round++) {
        sign_verify(rsa, "RS256", "PS256", dg, 32);
        sign_verify(rsa, "PS256", "RS256", dg, 32);
        sign_verify(rsa, "RS384", "PS384", dg, 48);
        sign_verify(rsa, "PS512", "RS512", dg, 64);
        sign_verify(rsa, "RSNULL", NULL, dg, 20);
        sign_verify(ec, "ES256", NULL, dg, 32);
    }
}

static void test_encrypt_decrypt_reuse(void **state)
{
    static const char *const algs[] = {"RSA-OAEP-256", "RSA-OAEP", "RSA1_5"};
    const char msg[] = "slot reuse";
    (void)state;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 3; i++) {
            struct cf_buf ct;
            struct cf_secret *pt = NULL;

            cf_buf_init(&ct, 512);
            assert_int_equal(cf_kvkey_encrypt(rsa, algs[i], msg, sizeof(msg), &ct, NULL, 0), CF_OK);
            assert_int_equal(ct.len, 256);
            /* the wrong padding fails, and the same key's slots still decrypt right after */
            assert_int_equal(
                cf_kvkey_decrypt(rsa, algs[(i + 1) % 3], ct.data, ct.len, &pt, NULL, 0),
                CF_ECRYPTO);
            assert_null(pt);
            assert_int_equal(cf_kvkey_decrypt(rsa, algs[i], ct.data, ct.len, &pt, NULL, 0), CF_OK);
            assert_non_null(pt);
            assert_int_equal(pt->len, sizeof(msg));
            assert_memory_equal(pt->p, msg, sizeof(msg));
            cf_secret_free(pt);
            cf_buf_release(&ct);
        }
    }
}

/* A rejected input (wrong digest length, wrong alg for the key) between good signatures. */
static void test_errors_between(void **state)
{
    unsigned char dg[32] = {1, 2, 3};
    struct cf_buf sig;
    char why[256];
    (void)state;
    cf_buf_init(&sig, 512);
    sign_verify(rsa, "RS256", NULL, dg, 32);
    assert_int_equal(cf_kvkey_sign(rsa, "RS256", dg, 31, &sig, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(cf_kvkey_sign(rsa, "ES256", dg, 32, &sig, why, sizeof(why)), CF_EBADPARAM);
    assert_int_equal(sig.len, 0);
    sign_verify(rsa, "RS256", NULL, dg, 32);
    cf_buf_release(&sig);
}

#define THREADS 8
#define ROUNDS 24

struct worker {
    struct cf_kvkey *k;
    int id;
    int bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    static const char *const rsa_algs[] = {"RS256", "PS256"};
    unsigned char dg[32];
    struct cf_buf sig;

    cf_buf_init(&sig, 512);
    for (int i = 0; i < ROUNDS; i++) {
        const char *alg = w->k == ec ? "ES256" : rsa_algs[(w->id + i) % 2];
        bool valid = false;

        for (size_t j = 0; j < sizeof(dg); j++)
            dg[j] = (unsigned char)(w->id * 31 + i + j);
        sig.len = 0;
        if (cf_kvkey_sign(w->k, alg, dg, sizeof(dg), &sig, NULL, 0) != CF_OK ||
            cf_kvkey_verify(w->k, alg, dg, sizeof(dg), sig.data, sig.len, &valid, NULL, 0) !=
                CF_OK ||
            !valid)
            w->bad++;
    }
    cf_buf_release(&sig);
    return NULL;
}

/* More threads than slots on one key: every signature verifies (each context used by one
 * thread at a time; TSan build: no race reported). */
static void test_threads_share_key(void **state)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    (void)state;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){i % 3 == 2 ? ec : rsa, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
}

/* A key whose slots hold contexts of every kind is freed (LSan: nothing left behind), and a
 * fresh key at possibly the same address starts with no stale context. */
static void test_free_with_contexts(void **state)
{
    unsigned char dg[32] = {9};
    (void)state;
    for (int i = 0; i < 3; i++) {
        struct cf_kvkey *k = NULL;
        struct cf_buf ct;

        assert_int_equal(cf_kvkey_generate_rsa(2048, 65537, &k), CF_OK);
        sign_verify(k, "RS256", NULL, dg, 32);
        cf_buf_init(&ct, 512);
        assert_int_equal(cf_kvkey_encrypt(k, "RSA-OAEP", "x", 1, &ct, NULL, 0), CF_OK);
        cf_buf_release(&ct);
        cf_kvkey_free(k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alternating_algs),
        cmocka_unit_test(test_encrypt_decrypt_reuse),
        cmocka_unit_test(test_errors_between),
        cmocka_unit_test(test_threads_share_key),
        cmocka_unit_test(test_free_with_contexts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

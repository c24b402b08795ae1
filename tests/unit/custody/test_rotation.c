/* test_rotation.c - crash-safe master-key rotation through the message interface, with a fake
 * store kept in files (so it survives a crashed child): a "root" sealed under the master key
 * (what cf_vault_root_opens checks), the pending record, and a re-wrap that re-seals the root.
 * Each crash point (COFFER_TEST_CRASH_AT) is hit in a forked child, which must die with 137;
 * the parent then restarts custody as cofferd would (open, unseal with the shares the operators
 * have - the OLD ones - or let the token unseal) and checks that the key custody ends with opens
 * the store, that the right shares are shown (the same ones every time until confirmed), that
 * the new shares work, that the old ones stop working once confirmed, and that the pending
 * record goes when it should. Providers: shamir and dev always, pkcs11 with SoftHSM2. */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "custody/custody_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define SOFTHSM_LIB "/usr/lib/softhsm/libsofthsm2.so"
#define ROOT_AAD "fake root"

static char g_dir[64];
static enum cf_custody_provider g_prov;

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/cf-rot-XXXXXX");
    unsetenv("COFFER_TEST_CRASH_AT");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    unsetenv("COFFER_TEST_CRASH_AT");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the fake store: files in g_dir ---- */

static void path_of(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static cf_err root_opens(void *ctx, const unsigned char key[32], bool *opens)
{
    struct cf_buf b;
    struct cf_secret *pt = NULL;
    char p[128];
    cf_err e;
    (void)ctx;
    path_of("root.bin", p, sizeof(p));
    cf_buf_init(&b, 256);
    e = cf_custody__read_file(p, &b);
    if (!e) {
        *opens = cf_aead_open(key, ROOT_AAD, strlen(ROOT_AAD), b.data, b.len, &pt) == CF_OK;
        cf_secret_free(pt);
    }
    cf_buf_release(&b);
    return e;
}

static cf_err rewrap(void *ctx, const unsigned char o[32], const unsigned char n[32])
{
    struct cf_buf b, out;
    struct cf_secret *pt = NULL;
    char p[128];
    cf_err e;
    (void)ctx;
    path_of("root.bin", p, sizeof(p));
    cf_buf_init(&b, 256);
    cf_buf_init(&out, 256);
    e = cf_custody__read_file(p, &b);
    if (!e)
        e = cf_aead_open(o, ROOT_AAD, strlen(ROOT_AAD), b.data, b.len, &pt);
    if (!e)
        e = cf_aead_seal(n, ROOT_AAD, strlen(ROOT_AAD), pt->p, pt->len, &out);
    if (!e)
        e = cf_custody__write_file(p, out.data, out.len, 0600);
    cf_secret_free(pt);
    cf_buf_release(&b);
    cf_buf_release(&out);
    return e;
}

static cf_err pending_get(void *ctx, struct cf_buf *out)
{
    char p[128];
    (void)ctx;
    path_of("pending.bin", p, sizeof(p));
    return cf_custody__read_file(p, out);
}

static cf_err pending_put(void *ctx, const void *d, size_t n)
{
    char p[128];
    (void)ctx;
    path_of("pending.bin", p, sizeof(p));
    return cf_custody__write_file(p, d, n, 0600);
}

static cf_err pending_del(void *ctx)
{
    char p[128];
    (void)ctx;
    path_of("pending.bin", p, sizeof(p));
    return unlink(p) == 0 ? CF_OK : CF_ENOTFOUND;
}

static const struct cf_custody_hooks g_hooks = {.rewrap = rewrap,
                                                .root_opens = root_opens,
                                                .pending_get = pending_get,
                                                .pending_put = pending_put,
                                                .pending_del = pending_del};

static bool has_pending(void)
{
    char p[128];
    path_of("pending.bin", p, sizeof(p));
    return access(p, F_OK) == 0;
}

/* ---- custody as cofferd runs it ---- */

static bool token(void)
{
    char conf[160], cmd[512];
    FILE *f;
    if (access(SOFTHSM_LIB, R_OK) != 0 || system("command -v softhsm2-util >/dev/null") != 0)
        return false;
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", g_dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/tokens", g_dir);
    if (system(cmd) != 0 || !(f = fopen(conf, "w")))
        return false;
    fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
            g_dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", conf, 1);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label coffer-rot --so-pin 4321 --pin 1234 "
             ">/dev/null");
    return system(cmd) == 0;
}

static struct cf_custody *open_c(cf_err *e)
{
    struct cf_custody_cfg cfg = {.provider = g_prov,
                                 .dir = g_dir,
                                 .p11_module = SOFTHSM_LIB,
                                 .p11_token = "coffer-rot",
                                 .p11_pin = "1234"};
    return cf_custody_open(&cfg, e);
}

struct answer {
    cf_err e;
    char state[32];
    int nshares;
    char shares[CF_SHAMIR_MAX_SHARES][CF_SHARE_TEXT_MAX];
    bool unconfirmed;
};

static void ask(struct cf_custody *c, const char *req, struct answer *a)
{
    struct cf_buf resp;
    struct cf_json *j = NULL;
    const struct cf_json *arr;
    const char *st;
    bool b = false;

    memset(a, 0, sizeof(*a));
    cf_buf_init(&resp, 65536);
    a->e = cf_custody_handle_msg(c, &g_hooks, req, strlen(req), &resp);
    assert_int_equal(cf_json_parse(resp.data, resp.len, &j, NULL, 0), CF_OK);
    if ((st = cf_json_str(cf_json_get(j, "state"), NULL)))
        snprintf(a->state, sizeof(a->state), "%s", st);
    arr = cf_json_get(j, "shares");
    a->nshares = arr ? (int)cf_json_size(arr) : 0;
    for (int i = 0; i < a->nshares && i < CF_SHAMIR_MAX_SHARES; i++)
        snprintf(a->shares[i], CF_SHARE_TEXT_MAX, "%s",
                 cf_json_str(cf_json_at(arr, (size_t)i), NULL));
    a->unconfirmed = cf_json_bool(cf_json_get(j, "rotation_unconfirmed"), &b) && b;
    cf_json_free(j);
    cf_buf_wipe(&resp);
}

/* Unseals with shares[idx...] (shamir; the last answer in *a) or settles (dev, pkcs11: as
 * cf_boot_custody does at open). Returns custody's key in key. */
static cf_err start(struct cf_custody *c, char (*sh)[CF_SHARE_TEXT_MAX], int k, struct answer *a,
                    unsigned char key[32])
{
    char req[CF_SHARE_TEXT_MAX + 64];
    memset(a, 0, sizeof(*a));
    if (g_prov != CF_CUSTODY_SHAMIR) {
        a->e = cf_custody_settle(c, &g_hooks, NULL, NULL);
    } else {
        for (int i = 0; i < k; i++) {
            snprintf(req, sizeof(req), "{\"op\":\"unseal\",\"share\":\"%s\"}", sh[i]);
            ask(c, req, a);
            if (a->e)
                break;
        }
    }
    if (!a->e)
        a->e = cf_custody_master_key(c, key);
    return a->e;
}

/* A store under a fresh custody: init (shamir 5 of 3; the shares in sh), root sealed under the
 * master key. Closes custody. */
static void fresh(char (*sh)[CF_SHARE_TEXT_MAX], unsigned char key[32])
{
    struct cf_custody *c;
    struct cf_buf b;
    unsigned char root[32] = {7};
    struct answer a;
    char p[128];
    cf_err e;

    c = open_c(&e);
    assert_non_null(c);
    if (g_prov == CF_CUSTODY_SHAMIR)
        assert_int_equal(cf_custody_init_shamir(c, 5, 3, sh), CF_OK);
    cf_buf_init(&b, 256);
    if (g_prov == CF_CUSTODY_SHAMIR) { /* no root yet: the unseal settles nothing */
        assert_int_equal(start(c, sh, 3, &a, key), CF_OK);
    } else {
        assert_int_equal(cf_custody_master_key(c, key), CF_OK);
    }
    assert_int_equal(cf_aead_seal(key, ROOT_AAD, strlen(ROOT_AAD), root, 32, &b), CF_OK);
    path_of("root.bin", p, sizeof(p));
    assert_int_equal(cf_custody__write_file(p, b.data, b.len, 0600), CF_OK);
    cf_buf_release(&b);
    cf_custody_close(c);
}

/* Forks a child that restarts custody with sh (shamir) and sends req with the crash point set;
 * the child must die with 137. */
static void crash_child(const char *point, char (*sh)[CF_SHARE_TEXT_MAX], const char *req)
{
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct cf_custody *c;
        unsigned char k[32];
        struct answer a;
        cf_err e;
        setenv("COFFER_TEST_CRASH_AT", point, 1);
        c = open_c(&e);
        if (!c)
            _exit(2);
        if (start(c, sh, 3, &a, k)) /* may itself be the crash (settle-custody) */
            _exit(3);
        if (req)
            ask(c, req, &a);
        _exit(4); /* the crash point was not reached */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 137);
}

static bool opens(const unsigned char key[32])
{
    bool o = false;
    assert_int_equal(root_opens(NULL, key, &o), CF_OK);
    return o;
}

/* After a crash at point during a rotation: restart with the OLD shares (shamir) / the token /
 * the key file; custody must end with a key that opens the store. Returns whether the
 * rotation took effect (the key changed). */
static bool restart_and_check(const char *point, char (*old)[CF_SHARE_TEXT_MAX],
                              const unsigned char old_key[32])
{
    char shown[CF_SHAMIR_MAX_SHARES][CF_SHARE_TEXT_MAX], req[CF_SHARE_TEXT_MAX + 64];
    unsigned char k[32], k2[32];
    struct cf_custody *c;
    struct answer a;
    bool rotated;
    cf_err e;

    c = open_c(&e);
    assert_non_null(c);
    assert_int_equal(start(c, old, 3, &a, k), CF_OK);
    assert_true(opens(k));
    rotated = memcmp(k, old_key, 32) != 0;
    /* the rotation is done iff the store was re-wrapped */
    assert_int_equal(rotated, strcmp(point, "rotate-pending") != 0);
    if (g_prov != CF_CUSTODY_SHAMIR) {
        assert_false(has_pending());
        assert_int_equal(a.nshares, 0);
        cf_custody_close(c);
        /* and again: nothing left to do, same key */
        c = open_c(&e);
        assert_int_equal(start(c, old, 3, &a, k2), CF_OK);
        assert_memory_equal(k, k2, 32);
        cf_custody_close(c);
        return rotated;
    }
    if (!rotated) { /* the rotation never reached the store: forgotten */
        assert_int_equal(a.nshares, 0);
        assert_false(a.unconfirmed);
        assert_false(has_pending());
        cf_custody_close(c);
        return false;
    }
    /* the unseal with the old shares finished it and shows the new shares */
    assert_int_equal(a.nshares, 5);
    assert_true(a.unconfirmed);
    assert_true(has_pending());
    memcpy(shown, a.shares, sizeof(shown));
    cf_custody_close(c);
    /* a crash before they reached anyone: the old shares show the SAME new shares again */
    c = open_c(&e);
    assert_int_equal(start(c, old, 3, &a, k2), CF_OK);
    assert_memory_equal(k, k2, 32);
    assert_int_equal(a.nshares, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(a.shares[i], shown[i]);
    cf_custody_close(c);
    /* the new shares unseal (and confirm implicitly: they are in the operators' hands) */
    c = open_c(&e);
    {
        char pick[3][CF_SHARE_TEXT_MAX];
        memcpy(pick[0], shown[4], CF_SHARE_TEXT_MAX);
        memcpy(pick[1], shown[1], CF_SHARE_TEXT_MAX);
        memcpy(pick[2], shown[2], CF_SHARE_TEXT_MAX);
        assert_int_equal(start(c, pick, 3, &a, k2), CF_OK);
    }
    assert_memory_equal(k, k2, 32);
    assert_int_equal(a.nshares, 0);
    assert_false(a.unconfirmed);
    assert_false(has_pending());
    cf_custody_close(c);
    /* now the old shares are void */
    c = open_c(&e);
    snprintf(req, sizeof(req), "{\"op\":\"unseal\",\"share\":\"%.63s\"}", old[0]);
    ask(c, req, &a);
    assert_int_equal(a.e, CF_EBADPARAM);
    cf_custody_close(c);
    return true;
}

static void crash_points(enum cf_custody_provider prov)
{
    static const char *const points[] = {"rotate-pending", "rotate-rewrap", "rotate-custody"};
    char sh[5][CF_SHARE_TEXT_MAX];
    unsigned char k0[32];
    char cmd[320];

    g_prov = prov;
    for (size_t i = 0; i < CF_ARRAY_LEN(points); i++) {
        snprintf(cmd, sizeof(cmd), "rm -f %s/custody.json %s/master.key %s/*.bin", g_dir, g_dir,
                 g_dir);
        assert_int_equal(system(cmd), 0);
        fresh(sh, k0);
        crash_child(points[i], sh, "{\"op\":\"rotate\"}");
        assert_true(has_pending()); /* every point is after the record's commit */
        restart_and_check(points[i], sh, k0);
    }
}

static void test_shamir_crash_points(void **state)
{
    (void)state;
    crash_points(CF_CUSTODY_SHAMIR);
}

static void test_dev_crash_points(void **state)
{
    (void)state;
    crash_points(CF_CUSTODY_DEV);
}

static void test_pkcs11_crash_points(void **state)
{
    (void)state;
    if (!token()) {
        skip();
        return;
    }
    crash_points(CF_CUSTODY_PKCS11);
}

/* A crash while the start-up finishes an interrupted rotation (settle-custody), then while a
 * confirm drops the previous verifier (confirm-custody). */
static void test_crash_in_settle_and_confirm(void **state)
{
    char sh[5][CF_SHARE_TEXT_MAX], shown[CF_SHAMIR_MAX_SHARES][CF_SHARE_TEXT_MAX];
    unsigned char k0[32], k[32], k2[32];
    struct cf_custody *c;
    struct answer a;
    cf_err e;
    (void)state;
    g_prov = CF_CUSTODY_SHAMIR;
    fresh(sh, k0);
    crash_child("rotate-rewrap", sh, "{\"op\":\"rotate\"}");
    crash_child("settle-custody", sh, NULL); /* the unseal's settle dies after custody's commit */
    c = open_c(&e);
    assert_true(cf_custody_unconfirmed(c));
    assert_int_equal(start(c, sh, 3, &a, k), CF_OK);
    assert_memory_not_equal(k, k0, 32);
    assert_true(opens(k));
    assert_int_equal(a.nshares, 5);
    memcpy(shown, a.shares, sizeof(shown));
    /* confirm, dying between custody's commit and the record's delete */
    cf_custody_close(c);
    fflush(NULL);
    {
        int status = 0;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            setenv("COFFER_TEST_CRASH_AT", "confirm-custody", 1);
            c = open_c(&e);
            if (!c || start(c, sh, 3, &a, k2))
                _exit(3);
            ask(c, "{\"op\":\"confirm\"}", &a);
            _exit(4);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 137);
    }
    assert_true(has_pending()); /* stale: sealed under the old key */
    c = open_c(&e);
    assert_false(cf_custody_unconfirmed(c));
    {
        char req[CF_SHARE_TEXT_MAX + 64];
        snprintf(req, sizeof(req), "{\"op\":\"unseal\",\"share\":\"%s\"}", sh[1]);
        ask(c, req, &a);
        assert_int_equal(a.e, CF_EBADPARAM); /* old shares void */
    }
    assert_int_equal(start(c, shown, 3, &a, k2), CF_OK);
    assert_memory_equal(k, k2, 32);
    assert_false(has_pending()); /* the settle removed the stale record */
    cf_custody_close(c);
}

/* Shares that give a key opening nothing: the unseal is refused and custody seals again. */
static void test_unseal_wrong_store(void **state)
{
    char sh[5][CF_SHARE_TEXT_MAX];
    unsigned char k0[32], other[32] = {1}, root[32] = {2}, k[32];
    struct cf_custody *c;
    struct cf_buf b;
    struct answer a;
    char p[128];
    cf_err e;
    (void)state;
    g_prov = CF_CUSTODY_SHAMIR;
    fresh(sh, k0);
    cf_buf_init(&b, 256);
    assert_int_equal(cf_aead_seal(other, ROOT_AAD, strlen(ROOT_AAD), root, 32, &b), CF_OK);
    path_of("root.bin", p, sizeof(p));
    assert_int_equal(cf_custody__write_file(p, b.data, b.len, 0600), CF_OK);
    cf_buf_release(&b);
    c = open_c(&e);
    assert_int_equal(start(c, sh, 3, &a, k), CF_ECORRUPT);
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_SEALED);
    assert_int_equal(cf_custody_master_key(c, k), CF_ESEALED);
    cf_custody_close(c);
}

/* Seeded splits are deterministic and still Shamir: any t of them combine, t-1 do not. */
static void test_seeded_split(void **state)
{
    uint8_t key[32], seed[32], id[4] = {1, 2, 3, 4}, out[32];
    struct cf_share a[5], b[5];
    (void)state;
    assert_int_equal(cf_random(key, 32), CF_OK);
    assert_int_equal(cf_random(seed, 32), CF_OK);
    assert_int_equal(cf_shamir_split_seeded(key, id, 3, 5, seed, a), CF_OK);
    assert_int_equal(cf_shamir_split_seeded(key, id, 3, 5, seed, b), CF_OK);
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(cf_shamir_combine(a + 2, 3, out), CF_OK);
    assert_memory_equal(out, key, 32);
    assert_int_equal(cf_shamir_combine(a, 2, out), CF_OK);
    assert_memory_not_equal(out, key, 32);
    seed[0] ^= 1;
    assert_int_equal(cf_shamir_split_seeded(key, id, 3, 5, seed, b), CF_OK);
    assert_memory_not_equal(a[0].y, b[0].y, 32);
    assert_int_equal(cf_shamir_split_seeded(key, id, 1, 5, seed, b), CF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeded_split),
        cmocka_unit_test_setup_teardown(test_shamir_crash_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dev_crash_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pkcs11_crash_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_in_settle_and_confirm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unseal_wrong_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

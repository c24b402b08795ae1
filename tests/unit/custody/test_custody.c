/* test_custody.c - the custody object in a temp data dir: dev key file (kept as is), the
 * shamir state machine (uninitialised -> init -> sealed -> shares -> unsealed -> seal -> a
 * different subset), wrong / foreign / duplicate shares, restart, take-over of a dev key,
 * rotation (new shares; old ones refused), the message interface and the socket; pkcs11 with a
 * SoftHSM2 token the test initialises itself (skipped when softhsm2 is not installed). */
#include "base/cf.h"
#include "custody/custody.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "custody/custody_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "softhsm_fixture.h"

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/cf-custody-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct cf_custody *open_p(enum cf_custody_provider p, cf_err *e)
{
    struct cf_custody_cfg cfg = {.provider = p, .dir = g_dir};
    return cf_custody_open(&cfg, e);
}

static void test_dev_keeps_key_file(void **state)
{
    unsigned char k1[32], k2[32], raw[32];
    struct cf_custody *c;
    struct stat st;
    char path[128];
    FILE *f;
    cf_err e;
    (void)state;
    c = open_p(CF_CUSTODY_DEV, &e);
    assert_non_null(c);
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_UNSEALED);
    assert_int_equal(cf_custody_master_key(c, k1), CF_OK);
    assert_int_equal(cf_custody_seal(c), CF_EINVAL); /* dev cannot seal */
    cf_custody_close(c);
    snprintf(path, sizeof(path), "%s/master.key", g_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(raw, 1, 32, f), 32);
    fclose(f);
    assert_memory_equal(raw, k1, 32); /* the existing file format, unchanged */
    c = open_p(CF_CUSTODY_DEV, &e);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k1, k2, 32);
    cf_custody_close(c);
}

static void unseal_with(struct cf_custody *c, char (*sh)[CF_SHARE_TEXT_MAX], const int *idx, int k)
{
    struct cf_custody_progress p;
    for (int i = 0; i < k; i++) {
        assert_int_equal(cf_custody_unseal_share(c, sh[idx[i]], &p), CF_OK);
        assert_int_equal(p.threshold, 3);
        assert_int_equal(p.unsealed, i == k - 1);
        assert_int_equal(p.have, i == k - 1 ? 0 : i + 1);
    }
}

static void test_shamir_state_machine(void **state)
{
    char sh[5][CF_SHARE_TEXT_MAX], other[5][CF_SHARE_TEXT_MAX];
    unsigned char k1[32], k2[32];
    struct cf_custody_progress p;
    struct cf_custody *c;
    const int a[] = {0, 2, 4}, b[] = {3, 1, 2};
    char path[128];
    cf_err e;
    (void)state;
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    assert_non_null(c);
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_UNINITIALISED);
    assert_int_equal(cf_custody_master_key(c, k1), CF_ESEALED);
    assert_int_equal(cf_custody_unseal_share(c, "x", &p), CF_EINVAL);
    assert_int_equal(cf_custody_init_shamir(c, 5, 6, sh), CF_EINVAL);
    assert_int_equal(cf_custody_init_shamir(c, 5, 3, sh), CF_OK);
    assert_int_equal(cf_custody_init_shamir(c, 5, 3, other), CF_EEXISTS);
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_SEALED);
    assert_int_equal(cf_custody_master_key(c, k1), CF_ESEALED);
    /* malformed and duplicate shares change nothing */
    assert_int_equal(cf_custody_unseal_share(c, "garbage", &p), CF_EBADPARAM);
    assert_int_equal(p.have, 0);
    assert_int_equal(cf_custody_unseal_share(c, sh[0], &p), CF_OK);
    assert_int_equal(cf_custody_unseal_share(c, sh[0], &p), CF_EEXISTS);
    assert_int_equal(p.have, 1);
    assert_int_equal(cf_custody_unseal_share(c, sh[1], &p), CF_OK);
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_SEALED);
    assert_int_equal(cf_custody_unseal_share(c, sh[2], &p), CF_OK);
    assert_true(p.unsealed);
    assert_int_equal(cf_custody_master_key(c, k1), CF_OK);
    /* seal wipes; a different subset unseals to the same key */
    assert_int_equal(cf_custody_seal(c), CF_OK);
    assert_int_equal(cf_custody_master_key(c, k2), CF_ESEALED);
    unseal_with(c, sh, b, 3);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k1, k2, 32);
    cf_custody_close(c);

    /* restart: sealed; the state file has no key, only the verifier */
    snprintf(path, sizeof(path), "%s/custody.json", g_dir);
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    assert_non_null(c);
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_SEALED);
    unseal_with(c, sh, a, 3);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k1, k2, 32);
    cf_custody_close(c);
    cf_wipe(k1, 32);
}

static void test_shamir_wrong_and_foreign_shares(void **state)
{
    char sh[5][CF_SHARE_TEXT_MAX], foreign[5][CF_SHARE_TEXT_MAX];
    struct cf_custody_progress p;
    struct cf_custody *c, *c2;
    struct cf_share s;
    char dir2[64] = "/tmp/cf-custody2-XXXXXX", cmd[100];
    struct cf_custody_cfg cfg2 = {.provider = CF_CUSTODY_SHAMIR, .dir = dir2};
    cf_err e;
    (void)state;
    assert_non_null(mkdtemp(dir2));
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    assert_int_equal(cf_custody_init_shamir(c, 5, 3, sh), CF_OK);
    c2 = cf_custody_open(&cfg2, &e);
    assert_int_equal(cf_custody_init_shamir(c2, 5, 3, foreign), CF_OK);
    /* a share of another init is refused on its own */
    assert_int_equal(cf_custody_unseal_share(c, foreign[0], &p), CF_EBADPARAM);
    assert_int_equal(p.have, 0);
    /* a share that decodes and carries our key id but wrong y: found at the threshold */
    assert_int_equal(cf_share_decode(sh[2], &s), CF_OK);
    s.y[0] ^= 0x55;
    {
        char forged[CF_SHARE_TEXT_MAX];
        assert_int_equal(cf_share_encode(&s, forged), CF_OK);
        assert_int_equal(cf_custody_unseal_share(c, sh[0], &p), CF_OK);
        assert_int_equal(cf_custody_unseal_share(c, sh[1], &p), CF_OK);
        assert_int_equal(cf_custody_unseal_share(c, forged, &p), CF_EUNAUTH);
    }
    assert_int_equal(p.have, 0); /* dropped: start again */
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_SEALED);
    unseal_with(c, sh, (const int[]){4, 3, 2}, 3);
    cf_custody_close(c);
    cf_custody_close(c2);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir2);
    assert_int_equal(system(cmd), 0);
}

static void test_shamir_takes_over_dev_key(void **state)
{
    unsigned char dev[32], k[32];
    char sh[3][CF_SHARE_TEXT_MAX], path[128];
    struct cf_custody *c;
    cf_err e;
    (void)state;
    c = open_p(CF_CUSTODY_DEV, &e);
    assert_int_equal(cf_custody_master_key(c, dev), CF_OK);
    cf_custody_close(c);
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    assert_int_equal(cf_custody_init_shamir(c, 3, 3, sh), CF_OK);
    snprintf(path, sizeof(path), "%s/master.key", g_dir);
    assert_int_equal(access(path, F_OK), -1); /* the clear key is gone */
    unseal_with(c, sh, (const int[]){0, 1, 2}, 3);
    assert_int_equal(cf_custody_master_key(c, k), CF_OK);
    assert_memory_equal(dev, k, 32); /* same key: the data dir keeps its data */
    cf_custody_close(c);
}

static void test_shamir_rotate(void **state)
{
    char sh[5][CF_SHARE_TEXT_MAX], nsh[CF_SHAMIR_MAX_SHARES][CF_SHARE_TEXT_MAX];
    unsigned char k1[32], k2[32], nk[32];
    struct cf_custody_progress p;
    struct cf_custody *c;
    struct cf_buf pend;
    int n = 0;
    cf_err e;
    (void)state;
    cf_buf_init(&pend, 4096);
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    assert_int_equal(cf_custody_init_shamir(c, 5, 3, sh), CF_OK);
    assert_int_equal(cf_custody_rotate_begin(c, 0, 0, nk, &pend), CF_ESEALED);
    unseal_with(c, sh, (const int[]){0, 1, 2}, 3);
    assert_int_equal(cf_custody_master_key(c, k1), CF_OK);
    /* abort leaves everything as it was */
    assert_int_equal(cf_custody_rotate_begin(c, 0, 0, nk, &pend), CF_OK);
    assert_true(pend.len > 32); /* the pending record, sealed */
    assert_null(memmem(pend.data, pend.len, nk, 32));
    assert_int_equal(cf_custody_rotate_begin(c, 0, 0, nk, &pend), CF_EBUSY);
    cf_custody_rotate_abort(c);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k1, k2, 32);
    assert_int_equal(cf_custody_rotate_begin(c, 4, 1, nk, &pend), CF_EINVAL);
    /* commit: new key, new shares (4 of 2) */
    assert_int_equal(cf_custody_rotate_begin(c, 4, 2, nk, &pend), CF_OK);
    assert_memory_not_equal(nk, k1, 32);
    assert_int_equal(cf_custody_rotate_commit(c, nsh, &n), CF_OK);
    assert_int_equal(n, 4);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k2, nk, 32);
    assert_true(cf_custody_unconfirmed(c));
    /* unconfirmed: no other rotation */
    assert_int_equal(cf_custody_rotate_begin(c, 0, 0, nk, &pend), CF_EBUSY);
    cf_custody_close(c);
    /* restart: the old shares still unseal (to the old key: settle finishes from the store),
     * and so do the new ones; a mix of both is refused share by share */
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    assert_true(cf_custody_unconfirmed(c));
    assert_int_equal(cf_custody_unseal_share(c, sh[0], &p), CF_OK);
    assert_int_equal(p.threshold, 3);
    assert_int_equal(cf_custody_unseal_share(c, nsh[0], &p), CF_EBADPARAM);
    assert_int_equal(cf_custody_unseal_share(c, sh[3], &p), CF_OK);
    assert_int_equal(cf_custody_unseal_share(c, sh[4], &p), CF_OK);
    assert_true(p.unsealed);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k2, k1, 32);
    assert_int_equal(cf_custody_seal(c), CF_OK);
    assert_int_equal(cf_custody_unseal_share(c, nsh[3], &p), CF_OK);
    assert_int_equal(p.threshold, 2);
    assert_int_equal(cf_custody_unseal_share(c, nsh[1], &p), CF_OK);
    assert_true(p.unsealed);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k2, nk, 32);
    /* confirm: the old shares are void from now on, also after a restart */
    assert_int_equal(cf_custody_confirm(c, NULL), CF_OK);
    assert_false(cf_custody_unconfirmed(c));
    cf_custody_close(c);
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    assert_int_equal(cf_custody_unseal_share(c, sh[0], &p), CF_EBADPARAM);
    assert_int_equal(cf_custody_unseal_share(c, nsh[2], &p), CF_OK);
    assert_int_equal(cf_custody_unseal_share(c, nsh[0], &p), CF_OK);
    assert_true(p.unsealed);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k2, nk, 32);
    cf_custody_close(c);
    cf_buf_release(&pend);
}

/* ---- the message interface and the socket ---- */

struct hook_log {
    int unsealed, sealed, rewraps, puts, dels;
    cf_err rewrap_result;
    unsigned char last_new[32];
    struct cf_buf pending;
    bool has_pending;
};

static void on_unsealed(void *ctx)
{
    ((struct hook_log *)ctx)->unsealed++;
}
static void on_sealed(void *ctx)
{
    ((struct hook_log *)ctx)->sealed++;
}
static cf_err on_rewrap(void *ctx, const unsigned char o[32], const unsigned char n[32])
{
    struct hook_log *h = ctx;
    (void)o;
    h->rewraps++;
    memcpy(h->last_new, n, 32);
    return h->rewrap_result;
}
static cf_err on_put(void *ctx, const void *p, size_t n)
{
    struct hook_log *h = ctx;
    h->puts++;
    h->has_pending = true;
    cf_buf_reset(&h->pending);
    return cf_buf_append(&h->pending, p, n);
}
static cf_err on_del(void *ctx)
{
    struct hook_log *h = ctx;
    h->dels++;
    if (!h->has_pending)
        return CF_ENOTFOUND;
    h->has_pending = false;
    return CF_OK;
}

static struct cf_json *ask(struct cf_custody *c, const struct cf_custody_hooks *h, const char *req)
{
    struct cf_buf resp;
    struct cf_json *j = NULL;
    cf_buf_init(&resp, 65536);
    if (cf_custody_handle_msg(c, h, req, strlen(req), &resp) != CF_OK)
        assert_non_null(strstr(resp.data, "\"error\""));
    assert_int_equal(cf_json_parse(resp.data, resp.len, &j, NULL, 0), CF_OK);
    cf_buf_release(&resp);
    return j;
}

static bool is_true(const struct cf_json *j)
{
    bool b = false;
    return cf_json_bool(j, &b) && b;
}

static const char *err_code(const struct cf_json *j)
{
    return cf_json_str(cf_json_get(cf_json_get(j, "error"), "code"), NULL);
}

static void test_messages(void **state)
{
    struct hook_log log = {.rewrap_result = CF_OK};
    struct cf_custody_hooks h = {.ctx = &log,
                                 .unsealed = on_unsealed,
                                 .sealed = on_sealed,
                                 .rewrap = on_rewrap,
                                 .pending_put = on_put,
                                 .pending_del = on_del};
    char req[200], shares[5][CF_SHARE_TEXT_MAX];
    unsigned char k[32];
    struct cf_custody *c;
    struct cf_json *j;
    const struct cf_json *arr;
    cf_err e;
    (void)state;
    cf_buf_init(&log.pending, 4096);
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    j = ask(c, &h, "{\"op\":\"status\"}");
    assert_string_equal(cf_json_str(cf_json_get(j, "state"), NULL), "uninitialised");
    cf_json_free(j);
    j = ask(c, &h, "not json");
    assert_string_equal(err_code(j), "CF_EBADJSON");
    cf_json_free(j);
    j = ask(c, &h, "{\"op\":\"init\",\"shares\":5,\"threshold\":9}");
    assert_string_equal(err_code(j), "CF_EBADPARAM");
    cf_json_free(j);
    j = ask(c, &h, "{\"op\":\"init\",\"shares\":5,\"threshold\":3}");
    arr = cf_json_get(j, "shares");
    assert_int_equal(cf_json_size(arr), 5);
    for (int i = 0; i < 5; i++)
        snprintf(shares[i], sizeof(shares[i]), "%s", cf_json_str(cf_json_at(arr, (size_t)i), NULL));
    cf_json_free(j);
    j = ask(c, &h, "{\"op\":\"status\"}"); /* status never shows shares again */
    assert_null(cf_json_get(j, "shares"));
    assert_string_equal(cf_json_str(cf_json_get(j, "state"), NULL), "sealed");
    cf_json_free(j);
    for (int i = 1; i < 4; i++) {
        snprintf(req, sizeof(req), "{\"op\":\"unseal\",\"share\":\"%s\"}", shares[i]);
        j = ask(c, &h, req);
        assert_null(cf_json_get(j, "error"));
        cf_json_free(j);
    }
    assert_int_equal(log.unsealed, 1);
    /* rotation: the hook re-wraps, then the key changes; a failing hook changes nothing */
    log.rewrap_result = CF_ESTORE;
    j = ask(c, &h, "{\"op\":\"rotate\"}");
    assert_string_equal(err_code(j), "CF_ESTORE");
    cf_json_free(j);
    assert_int_equal(cf_custody_master_key(c, k), CF_OK);
    assert_memory_not_equal(k, log.last_new, 32);
    assert_int_equal(log.puts, 1); /* the record went first, and was taken back */
    assert_false(log.has_pending);
    log.rewrap_result = CF_OK;
    j = ask(c, &h, "{\"op\":\"rotate\"}");
    assert_int_equal(cf_json_size(cf_json_get(j, "shares")), 5);
    assert_true(is_true(cf_json_get(j, "rotation_unconfirmed")));
    cf_json_free(j);
    assert_int_equal(cf_custody_master_key(c, k), CF_OK);
    assert_memory_equal(k, log.last_new, 32);
    assert_true(log.has_pending); /* shamir: kept until confirmed */
    j = ask(c, &h, "{\"op\":\"rotate\"}");
    assert_string_equal(err_code(j), "CF_EBUSY");
    cf_json_free(j);
    j = ask(c, &h, "{\"op\":\"status\"}");
    assert_true(is_true(cf_json_get(j, "rotation_unconfirmed")));
    cf_json_free(j);
    j = ask(c, &h, "{\"op\":\"confirm\"}");
    assert_null(cf_json_get(j, "error"));
    assert_null(cf_json_get(j, "rotation_unconfirmed"));
    cf_json_free(j);
    assert_false(log.has_pending);
    j = ask(c, &h, "{\"op\":\"seal\"}");
    assert_string_equal(cf_json_str(cf_json_get(j, "state"), NULL), "sealed");
    cf_json_free(j);
    assert_int_equal(log.sealed, 1);
    assert_int_equal(cf_custody_master_key(c, k), CF_ESEALED);
    j = ask(c, &h, "{\"op\":\"frobnicate\"}");
    assert_string_equal(err_code(j), "CF_EBADPARAM");
    cf_json_free(j);
    cf_custody_close(c);
    cf_buf_release(&log.pending);
}

static void test_socket(void **state)
{
    struct cf_custody_sock *s;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct cf_custody *c;
    struct stat st;
    char buf[4096];
    ssize_t n;
    int fd;
    cf_err e;
    (void)state;
    c = open_p(CF_CUSTODY_SHAMIR, &e);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/custody.sock", g_dir);
    s = cf_custody_sock_start(c, a.sun_path, NULL, &e);
    assert_non_null(s);
    assert_int_equal(stat(a.sun_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(write(fd, "{\"op\":\"status\"}\n", 16), 16);
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"uninitialised\""));
    close(fd);
    cf_custody_sock_stop(s);
    assert_int_equal(access(a.sun_path, F_OK), -1);
    cf_custody_close(c);
}

/* ---- pkcs11 with SoftHSM2 ---- */

static void test_pkcs11(void **state)
{
    struct cf_custody_cfg cfg = {.provider = CF_CUSTODY_PKCS11,
                                 .dir = g_dir,
                                 .p11_module = SOFTHSM_LIB,
                                 .p11_token = "coffer-test",
                                 .p11_pin = "1234"};
    unsigned char dev[32], k1[32], k2[32], nk[32];
    struct cf_custody_progress p;
    struct cf_buf pend;
    struct cf_custody *c;
    struct cf_p11 *tok;
    struct cf_buf doc;
    char path[128];
    bool prot = false;
    int n;
    cf_err e;
    (void)state;
    if (!softhsm_token(g_dir, "coffer-test")) {
        skip();
        return;
    }
    /* an existing dev data dir: its key is taken over, wrapped by the token */
    c = open_p(CF_CUSTODY_DEV, &e);
    assert_int_equal(cf_custody_master_key(c, dev), CF_OK);
    cf_custody_close(c);
    c = cf_custody_open(&cfg, &e);
    assert_non_null(c);
    assert_int_equal(cf_custody_state(c), CF_CUSTODY_UNSEALED);
    assert_int_equal(cf_custody_master_key(c, k1), CF_OK);
    assert_memory_equal(k1, dev, 32);
    snprintf(path, sizeof(path), "%s/master.key", g_dir);
    assert_int_equal(access(path, F_OK), -1);
    /* seal, then the token unseals again */
    assert_int_equal(cf_custody_seal(c), CF_OK);
    assert_int_equal(cf_custody_master_key(c, k2), CF_ESEALED);
    assert_int_equal(cf_custody_unseal_share(c, NULL, &p), CF_OK);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k1, k2, 32);
    /* rotation re-encrypts under the token key */
    cf_buf_init(&pend, 4096);
    assert_int_equal(cf_custody_rotate_begin(c, 0, 0, nk, &pend), CF_OK);
    assert_int_equal(cf_custody_rotate_commit(c, NULL, &n), CF_OK);
    assert_int_equal(n, 0);
    assert_false(cf_custody_unconfirmed(c));
    cf_buf_release(&pend);
    cf_custody_close(c);
    /* restart: unseals itself, with the rotated key */
    c = cf_custody_open(&cfg, &e);
    assert_non_null(c);
    assert_int_equal(cf_custody_master_key(c, k2), CF_OK);
    assert_memory_equal(k2, nk, 32);
    cf_custody_close(c);
    /* the state file never holds the key, and the token key cannot leave the token */
    cf_buf_init(&doc, 65536);
    snprintf(path, sizeof(path), "%s/custody.json", g_dir);
    assert_int_equal(cf_custody__read_file(path, &doc), CF_OK);
    assert_null(memmem(doc.data, doc.len, nk, 32));
    cf_buf_release(&doc);
    tok = cf_p11_open(SOFTHSM_LIB, "coffer-test", "1234", &e);
    assert_non_null(tok);
    assert_int_equal(cf_p11_key_is_protected(tok, "coffer-master-wrap", &prot), CF_OK);
    assert_true(prot);
    cf_p11_close(tok);
    /* wrong PIN, unknown token */
    cfg.p11_pin = "9999";
    assert_null(cf_custody_open(&cfg, &e));
    assert_int_equal(e, CF_EUNAUTH);
    cfg.p11_pin = "1234";
    cfg.p11_token = "no-such-token";
    assert_null(cf_custody_open(&cfg, &e));
    assert_int_equal(e, CF_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dev_keeps_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shamir_state_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shamir_wrong_and_foreign_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shamir_takes_over_dev_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shamir_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pkcs11, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_chain.c - chained append and verification: an intact log verifies; an edited, deleted,
 * inserted, reordered or truncated record is found and named at the right line; reopen
 * continues the chain; a wrong key or a torn tail at open; outbox idempotency. The chain tests
 * run on both file formats (v2, and v1 as written before it); a v1 log is continued in a v2
 * file; a header's version is covered by the MAC and the signed hash; blocks reserved ahead of
 * the end never show in st_size and are given back at close. */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"
#include "audit/audit.h"
#include "helpers.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

struct fx {
    char dir[64];
    char path[256];
    struct cf_pkey *sk, *pub;
    unsigned ver; /* format_version of the logs written (0: current) */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    test_mkdtemp(f->dir);
    assert_int_equal(cf_pkey_generate_ec_p256(&f->sk), CF_OK);
    f->pub = test_pubkey(f->sk);
    *state = f;
    return 0;
}

static int setup_v1(void **state)
{
    setup(state);
    ((struct fx *)*state)->ver = 1;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    test_rmdir(f->dir);
    cf_pkey_free(f->sk);
    cf_pkey_free(f->pub);
    free(f);
    return 0;
}

static struct cf_audit *open_log(struct fx *f, bool sign)
{
    struct cf_audit_config c = {0};
    cf_err e;
    struct cf_audit *a;
    c.dir = f->dir;
    c.mac_key = test_key;
    c.node_id = "n1";
    c.sign_key = sign ? f->sk : NULL;
    c.format_version = f->ver;
    a = cf_audit_open(&c, &e);
    assert_int_equal(e, CF_OK);
    assert_non_null(a);
    return a;
}

/* A closed log of a header, 20 records and the closing checkpoint (22 lines). */
static void make_log(struct fx *f, bool sign)
{
    struct cf_audit *a = open_log(f, sign);
    char names[4][160];
    assert_int_equal(test_append_n(a, 0, 20, false), CF_OK);
    cf_audit_close(a);
    assert_int_equal(test_files(f->dir, names, 4), 1);
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, names[0]);
}

static void verify(struct fx *f, const unsigned char *key, const struct cf_pkey *pub,
                   enum cf_audit_break want, uint64_t line)
{
    struct cf_audit_verify_report r;
    assert_int_equal(cf_audit_verify_file(f->path, key, pub, &r), CF_OK);
    if (r.brk != want || r.line != line)
        fail_msg("got %s at line %llu (%s), want %s at %llu", cf_audit_break_name(r.brk),
                 (unsigned long long)r.line, r.detail, cf_audit_break_name(want),
                 (unsigned long long)line);
}

static void test_intact(void **state)
{
    struct fx *f = *state;
    struct cf_audit_verify_report r;
    struct test_lines t;
    make_log(f, true);
    test_read_lines(f->path, &t);
    assert_int_equal(t.n, 22);
    assert_non_null(strstr(t.l[0], "\"kind\":\"header\""));
    assert_non_null(strstr(t.l[0], f->ver == 1 ? "Z\",\"version\":1," : "Z\",\"version\":2,"));
    assert_non_null(strstr(t.l[1], "\"category\":\"AuditEvent\""));
    assert_non_null(strstr(t.l[1], ",\"chain\":{\"seq\":2,\"node\":\"n1\",\"prev\":\""));
    assert_non_null(strstr(t.l[21], "\"kind\":\"checkpoint\",\"final\":false"));
    assert_non_null(strstr(t.l[21], "\"jws\":\""));
    test_free_lines(&t);
    assert_int_equal(cf_audit_verify_file(f->path, test_key, f->pub, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_int_equal(r.lines, 22);
    assert_int_equal(r.first_seq, 1);
    assert_int_equal(r.last_seq, 22);
    assert_int_equal(r.checkpoints, 1);
    assert_int_equal(r.unsigned_tail, 0);
    assert_true(r.mac_checked && r.sig_checked);
    assert_false(r.final);
    /* The wrong key finds the very first line edited. */
    {
        unsigned char k2[CF_AUDIT_KEY_LEN];
        memcpy(k2, test_key, sizeof(k2));
        k2[0] ^= 1;
        verify(f, k2, NULL, CF_AUDIT_EDITED, 1);
    }
}

static void test_edited(void **state)
{
    struct fx *f = *state;
    struct test_lines t;
    char *p;
    make_log(f, true);
    test_read_lines(f->path, &t);
    p = strstr(t.l[4], "SecretSet");
    if (!p)
        p = strstr(t.l[4], "SecretGet");
    assert_non_null(p);
    p[6] = p[6] == 'G' ? 'S' : 'G'; /* one letter of operationName */
    test_write_lines(f->path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_EDITED, 5);
    /* Without the MAC key: the signed checkpoint still catches it (at the checkpoint). */
    verify(f, NULL, f->pub, CF_AUDIT_EDITED, 22);
    /* With neither, the links alone cannot see an edit of the content. */
    verify(f, NULL, NULL, CF_AUDIT_INTACT, 0);
}

static void test_deleted(void **state)
{
    struct fx *f = *state;
    struct test_lines t;
    make_log(f, false);
    test_read_lines(f->path, &t);
    free(t.l[4]);
    memmove(&t.l[4], &t.l[5], (t.n - 5) * sizeof(char *));
    t.n--;
    test_write_lines(f->path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_DELETED, 5);
    verify(f, NULL, NULL, CF_AUDIT_DELETED, 5);
}

static void test_deleted_header(void **state)
{
    struct fx *f = *state;
    struct test_lines t;
    make_log(f, false);
    test_read_lines(f->path, &t);
    free(t.l[0]);
    memmove(&t.l[0], &t.l[1], (t.n - 1) * sizeof(char *));
    t.n--;
    test_write_lines(f->path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_DELETED, 1);
}

static void test_inserted_copy(void **state)
{
    struct fx *f = *state;
    struct test_lines t;
    make_log(f, false);
    test_read_lines(f->path, &t);
    memmove(&t.l[8], &t.l[7], (t.n - 7) * sizeof(char *));
    t.l[7] = strdup(t.l[4]); /* replay of line 5 as line 8 */
    t.n++;
    test_write_lines(f->path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_INSERTED, 8);
}

static void test_inserted_forged(void **state)
{
    struct fx *f = *state;
    struct test_lines t;
    char *p;
    make_log(f, false);
    test_read_lines(f->path, &t);
    memmove(&t.l[6], &t.l[5], (t.n - 5) * sizeof(char *));
    t.l[5] = strdup(t.l[4]); /* a forged record claiming seq 6 */
    p = strstr(t.l[5], "\"seq\":5,");
    assert_non_null(p);
    p[6] = '6';
    t.n++;
    test_write_lines(f->path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_INSERTED, 6);
}

static void test_reordered(void **state)
{
    struct fx *f = *state;
    struct test_lines t;
    char *x;
    make_log(f, false);
    test_read_lines(f->path, &t);
    x = t.l[4];
    t.l[4] = t.l[5];
    t.l[5] = x;
    test_write_lines(f->path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_REORDERED, 5);
    verify(f, NULL, NULL, CF_AUDIT_REORDERED, 5);
}

static void test_truncated(void **state)
{
    struct fx *f = *state;
    struct test_lines t;
    make_log(f, false);
    test_read_lines(f->path, &t);
    t.l[t.n - 1][strlen(t.l[t.n - 1]) / 2] = '\0';
    t.last_nl = false;
    test_write_lines(f->path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_TRUNCATED, 22);
}

static void test_reopen_continues(void **state)
{
    struct fx *f = *state;
    struct cf_audit_verify_report r;
    struct cf_audit *a;
    struct cf_audit_stats st;
    make_log(f, true);
    a = open_log(f, true);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.seq, 22);
    assert_int_equal(test_append_n(a, 100, 5, true), CF_OK);
    cf_audit_close(a);
    assert_int_equal(cf_audit_verify_file(f->path, test_key, f->pub, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_int_equal(r.lines, 28); /* 22 + 5 + closing checkpoint */
    assert_int_equal(r.checkpoints, 2);
}

static void test_open_wrong_key_and_torn_tail(void **state)
{
    struct fx *f = *state;
    struct cf_audit_config c = {0};
    struct cf_audit_verify_report r;
    unsigned char k2[CF_AUDIT_KEY_LEN] = {0};
    struct cf_audit *a;
    FILE *fp;
    cf_err e;
    make_log(f, false);
    c.dir = f->dir;
    c.mac_key = k2;
    c.node_id = "n1";
    c.format_version = f->ver;
    assert_null(cf_audit_open(&c, &e));
    assert_int_equal(e, CF_ECORRUPT);
    /* A crash mid-write leaves half a line: open cuts it and the chain goes on. */
    fp = fopen(f->path, "a");
    fputs("{\"time\":\"2025-03-02T10:15:42.1230000Z\",\"resourceId\":\"/SUBSCR", fp);
    fclose(fp);
    verify(f, test_key, NULL, CF_AUDIT_TRUNCATED, 23);
    c.mac_key = test_key;
    a = cf_audit_open(&c, &e);
    assert_non_null(a);
    assert_int_equal(test_append_n(a, 0, 3, false), CF_OK);
    cf_audit_close(a);
    assert_int_equal(cf_audit_verify_file(f->path, test_key, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_int_equal(r.lines, 26);
}

static void test_bad_input(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, false);
    struct cf_audit_config c = {0};
    static char big[CF_AUDIT_MAX_LINE + 10];
    cf_err e;
    assert_int_equal(cf_audit_append(a, CF_STR("not json"), false), CF_EINVAL);
    assert_int_equal(cf_audit_append(a, CF_STR("{}"), false), CF_EINVAL);
    assert_int_equal(cf_audit_append(a, CF_STR("{\"a\":1}\n{\"b\":2}"), false), CF_EINVAL);
    assert_int_equal(cf_audit_append(a, CF_STR("{\"a\":\"\r\"}"), false), CF_EINVAL);
    memset(big, 'a', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    assert_int_equal(cf_audit_append(a, (struct cf_str){big, sizeof(big)}, false), CF_ETOOBIG);
    assert_int_equal(cf_audit_append_outbox(a, CF_STR("{\"a\":1}"), 0, false), CF_EINVAL);
    assert_int_equal(cf_audit_append(a, CF_STR("{\"a\":1}"), true), CF_OK);
    cf_audit_close(a);
    c.dir = f->dir;
    c.mac_key = test_key;
    c.node_id = "bad-node"; /* '-' would make file names ambiguous */
    assert_null(cf_audit_open(&c, &e));
    assert_int_equal(e, CF_EINVAL);
    c.node_id = "n1";
    c.dir = "/nonexistent/dir";
    assert_null(cf_audit_open(&c, &e));
    assert_int_equal(e, CF_ENOTFOUND);
    cf_audit_close(NULL);
}

static void test_outbox_idempotent(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, false);
    struct cf_audit_stats st;
    struct cf_audit_verify_report r;
    char names[4][160];
    assert_int_equal(cf_audit_last_outbox_id(a), 0);
    assert_int_equal(cf_audit_append_outbox(a, CF_STR("{\"w\":1}"), 1, false), CF_OK);
    assert_int_equal(cf_audit_append_outbox(a, CF_STR("{\"w\":2}"), 2, true), CF_OK);
    assert_int_equal(cf_audit_last_outbox_id(a), 2);
    cf_audit_close(a); /* "crash" after the drain wrote 1 and 2 but before it deleted them */
    a = open_log(f, false);
    assert_int_equal(cf_audit_last_outbox_id(a), 2);
    assert_int_equal(cf_audit_append_outbox(a, CF_STR("{\"w\":1}"), 1, false), CF_OK);
    assert_int_equal(cf_audit_append_outbox(a, CF_STR("{\"w\":2}"), 2, true), CF_OK);
    assert_int_equal(cf_audit_append_outbox(a, CF_STR("{\"w\":3}"), 3, true), CF_OK);
    cf_audit_get_stats(a, &st);
    assert_int_equal(st.outbox_skipped, 2);
    /* The id survives rotation: the new file's header carries it. */
    assert_int_equal(cf_audit_rotate(a), CF_OK);
    cf_audit_close(a);
    a = open_log(f, false);
    assert_int_equal(cf_audit_last_outbox_id(a), 3);
    assert_int_equal(cf_audit_append_outbox(a, CF_STR("{\"w\":3}"), 3, false), CF_OK);
    cf_audit_close(a);
    assert_int_equal(test_files(f->dir, names, 4), 2);
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, names[0]);
    assert_int_equal(cf_audit_verify_file(f->path, test_key, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_true(r.final);
    /* header, w1, w2, ckpt(close), w3, final ckpt: exactly one line per outbox id */
    assert_int_equal(r.lines, 6);
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, NULL, NULL, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_int_equal(r.files, 2);
}

/* A v1 log (as written before v2) still verifies, and opening it with the current writer
 * closes its file with a final checkpoint (v1) and goes on in a v2 file: one chain. */
static void test_v1_log_continued_in_v2(void **state)
{
    struct fx *f = *state;
    struct cf_audit_verify_report r;
    struct test_lines t;
    char names[4][160], path[256];
    struct cf_audit *a;

    f->ver = 1;
    make_log(f, true);
    verify(f, test_key, f->pub, CF_AUDIT_INTACT, 0);
    f->ver = 0;
    a = open_log(f, true);
    assert_int_equal(test_append_n(a, 100, 5, false), CF_OK);
    cf_audit_close(a);
    assert_int_equal(test_files(f->dir, names, 4), 2);
    test_read_lines(f->path, &t); /* the v1 file: its records, then the final checkpoint */
    assert_int_equal(t.n, 23);
    assert_non_null(strstr(t.l[0], "\"version\":1,"));
    assert_non_null(strstr(t.l[22], "\"kind\":\"checkpoint\",\"final\":true"));
    test_free_lines(&t);
    snprintf(path, sizeof(path), "%s/%s", f->dir, names[1]);
    test_read_lines(path, &t);
    assert_int_equal(t.n, 7); /* header, 5 records, closing checkpoint */
    assert_non_null(strstr(t.l[0], "\"version\":2,"));
    test_free_lines(&t);
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, f->pub, NULL, NULL, &r), CF_OK);
    if (r.brk != CF_AUDIT_INTACT)
        fail_msg("%s at %s:%llu (%s)", cf_audit_break_name(r.brk), r.file,
                 (unsigned long long)r.line, r.detail);
    assert_int_equal(r.files, 2);
    assert_int_equal(r.lines, 30);
    assert_int_equal(r.checkpoints, 3);
    assert_true(r.final == false);
    /* An edit in either file is still found with the key. */
    snprintf(f->path, sizeof(f->path), "%s", path);
    test_read_lines(path, &t);
    t.l[3][10] ^= 1;
    test_write_lines(path, &t);
    test_free_lines(&t);
    verify(f, test_key, NULL, CF_AUDIT_EDITED, 4);
}

/* The header's "version" decides how every line is checked: changing it breaks the header's
 * MAC (key) and the signed hash (public key). */
static void test_version_tampered(void **state)
{
    struct fx *f = *state;
    static const char *const to[] = {"1", "3"};

    for (size_t i = 0; i < 2; i++) {
        struct test_lines t;
        char *p;
        test_rmdir(f->dir);
        test_mkdtemp(f->dir);
        make_log(f, true);
        test_read_lines(f->path, &t);
        p = strstr(t.l[0], "\"version\":2,");
        assert_non_null(p);
        p[10] = to[i][0];
        test_write_lines(f->path, &t);
        test_free_lines(&t);
        verify(f, test_key, NULL, CF_AUDIT_EDITED, 1);
        verify(f, NULL, f->pub, CF_AUDIT_EDITED, 22);
    }
}

/* Blocks reserved ahead of the write position (fallocate KEEP_SIZE) never show in st_size - a
 * reader of the open file sees whole lines only - and are given back when the log closes. */
static void test_prealloc(void **state)
{
    struct fx *f = *state;
    struct cf_audit_verify_report r;
    char names[4][160];
    struct cf_audit *a = open_log(f, false);
    struct stat st;

    assert_int_equal(test_append_n(a, 0, 50, false), CF_OK);
    assert_int_equal(test_files(f->dir, names, 4), 1);
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, names[0]);
    assert_int_equal(stat(f->path, &st), 0);
    {
        struct cf_audit_stats s;
        cf_audit_get_stats(a, &s);
        assert_int_equal((uint64_t)st.st_size, s.bytes);
    }
    assert_int_equal(cf_audit_verify_file(f->path, test_key, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_int_equal(r.lines, 51);
    /* ext4 and tmpfs reserve: more blocks than the data needs while open */
    if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size + 128 * 1024)
        print_message("note: no preallocation on this file system\n");
    cf_audit_close(a);
    assert_int_equal(stat(f->path, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size + 64 * 1024);
    verify(f, test_key, NULL, CF_AUDIT_INTACT, 0);
}

int main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_intact),          T(test_edited),          T(test_deleted),
        T(test_deleted_header),  T(test_inserted_copy),   T(test_inserted_forged),
        T(test_reordered),       T(test_truncated),       T(test_reopen_continues),
        T(test_open_wrong_key_and_torn_tail), T(test_bad_input), T(test_outbox_idempotent),
        T(test_v1_log_continued_in_v2), T(test_version_tampered), T(test_prealloc),
#define T1(x) cmocka_unit_test_setup_teardown(x, setup_v1, teardown)
        T1(test_intact),         T1(test_edited),         T1(test_deleted),
        T1(test_deleted_header), T1(test_inserted_copy),  T1(test_inserted_forged),
        T1(test_reordered),      T1(test_truncated),      T1(test_reopen_continues),
        T1(test_open_wrong_key_and_torn_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_rotate.c - rotation by size and on request, retention, periodic signed checkpoints, and
 * verification of one rotated file on its own (public key only) and of a whole directory:
 * a missing middle file, a rotated file cut short, a forged checkpoint. */
#include "base/cf.h"
#include "base/buf.h"
#include "crypto/crypto.h"
#include "audit/audit.h"
#include "helpers.h"

#include <setjmp.h>
#include <cmocka.h>

struct fx {
    char dir[64];
    struct cf_pkey *sk, *pub;
    char names[64][160];
    size_t n;
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

static int teardown(void **state)
{
    struct fx *f = *state;
    test_rmdir(f->dir);
    cf_pkey_free(f->sk);
    cf_pkey_free(f->pub);
    free(f);
    return 0;
}

static struct cf_audit *open_log(struct fx *f, uint64_t rotate, unsigned keep, unsigned every)
{
    struct cf_audit_config c = {0};
    struct cf_audit *a;
    cf_err e;
    c.dir = f->dir;
    c.mac_key = test_key;
    c.node_id = "n1";
    c.rotate_bytes = rotate;
    c.keep_files = keep;
    c.checkpoint_every = every;
    c.sign_key = f->sk;
    c.sign_kid = "audit-key-1";
    a = cf_audit_open(&c, &e);
    assert_int_equal(e, CF_OK);
    return a;
}

static void path(struct fx *f, size_t i, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", f->dir, f->names[i]);
}

static void test_rotation_and_checkpoints(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 8 * 1024, 0, 5);
    struct cf_audit_stats st;
    struct cf_audit_verify_report r;
    char p[256];
    int64_t next_first = 1;

    assert_int_equal(test_append_n(a, 0, 100, false), CF_OK);
    cf_audit_get_stats(a, &st);
    assert_true(st.rotations >= 3);
    assert_true(st.checkpoints >= 20);
    cf_audit_close(a);
    f->n = test_files(f->dir, f->names, 64);
    assert_int_equal(f->n, st.rotations + 1);
    for (size_t i = 0; i < f->n; i++) {
        bool last = i + 1 == f->n;
        path(f, i, p, sizeof(p));
        /* Each file on its own with only the public key: every line up to the final
         * checkpoint is covered by a signature. */
        assert_int_equal(cf_audit_verify_file(p, NULL, f->pub, &r), CF_OK);
        assert_int_equal(r.brk, CF_AUDIT_INTACT);
        assert_true(r.checkpoints >= 1);
        assert_int_equal(r.first_seq, next_first);
        assert_int_equal(r.final, !last);
        if (!last) {
            struct stat sb;
            assert_int_equal(r.unsigned_tail, 0);
            assert_int_equal(stat(p, &sb), 0);
            assert_true(sb.st_size >= 8 * 1024 && sb.st_size < 8 * 1024 + 4096);
            assert_int_equal(sb.st_mode & 0777, 0600);
        }
        next_first = r.last_seq + 1;
        /* And with the MAC key as well. */
        assert_int_equal(cf_audit_verify_file(p, test_key, f->pub, &r), CF_OK);
        assert_int_equal(r.brk, CF_AUDIT_INTACT);
    }
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, f->pub, NULL, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_int_equal(r.files, f->n);
    assert_int_equal(r.first_seq, 1);
    assert_int_equal(r.last_seq, next_first - 1);
}

static void test_rotate_call_and_retention(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0, 3, 0);
    struct cf_audit_verify_report r;
    char active[160];

    for (int i = 0; i < 6; i++) {
        assert_int_equal(test_append_n(a, i * 10, 10, false), CF_OK);
        assert_int_equal(cf_audit_rotate(a), CF_OK);
    }
    cf_audit_active_file(a, active, sizeof(active));
    cf_audit_close(a);
    f->n = test_files(f->dir, f->names, 64);
    assert_int_equal(f->n, 3);
    assert_string_equal(f->names[2], active);
    /* The oldest present file starts after removed ones: not a break. */
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, f->pub, NULL, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    assert_true(r.first_seq > 1);
}

static void test_missing_middle_file(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0, 0, 0);
    struct cf_audit_verify_report r;
    char p[256];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(test_append_n(a, i * 10, 10, false), CF_OK);
        assert_int_equal(cf_audit_rotate(a), CF_OK);
    }
    cf_audit_close(a);
    f->n = test_files(f->dir, f->names, 64);
    assert_int_equal(f->n, 4);
    path(f, 1, p, sizeof(p));
    assert_int_equal(unlink(p), 0);
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, f->pub, NULL, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_DELETED);
    assert_string_equal(r.file, f->names[2]);
    assert_int_equal(r.line, 1);
}

static void test_rotated_file_cut_short(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0, 0, 0);
    struct cf_audit_verify_report r;
    struct test_lines t;
    char p[256];
    assert_int_equal(test_append_n(a, 0, 10, false), CF_OK);
    assert_int_equal(cf_audit_rotate(a), CF_OK);
    assert_int_equal(test_append_n(a, 10, 10, false), CF_OK);
    cf_audit_close(a);
    f->n = test_files(f->dir, f->names, 64);
    path(f, 0, p, sizeof(p));
    /* Drop the last three whole lines (final checkpoint included) of the rotated file. */
    test_read_lines(p, &t);
    for (int i = 0; i < 3; i++)
        free(t.l[--t.n]);
    test_write_lines(p, &t);
    test_free_lines(&t);
    assert_int_equal(cf_audit_verify_file(p, test_key, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT); /* on its own it looks like an active file */
    assert_false(r.final);
    assert_int_equal(cf_audit_verify_dir(f->dir, test_key, NULL, NULL, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_TRUNCATED);
    assert_string_equal(r.file, f->names[0]);
}

static void test_forged_checkpoint(void **state)
{
    struct fx *f = *state;
    struct cf_audit *a = open_log(f, 0, 0, 4);
    struct cf_audit_verify_report r;
    struct test_lines t;
    struct cf_pkey *other;
    char p[256], *sig;
    assert_int_equal(test_append_n(a, 0, 10, false), CF_OK);
    cf_audit_close(a);
    f->n = test_files(f->dir, f->names, 64);
    path(f, 0, p, sizeof(p));
    /* Another key's public half does not verify the checkpoints. */
    assert_int_equal(cf_pkey_generate_ec_p256(&other), CF_OK);
    {
        struct cf_pkey *opub = test_pubkey(other);
        assert_int_equal(cf_audit_verify_file(p, NULL, opub, &r), CF_OK);
        assert_int_equal(r.brk, CF_AUDIT_BAD_CHECKPOINT);
        assert_int_equal(r.line, 6); /* header + 4 records, then the first checkpoint */
        cf_pkey_free(opub);
    }
    cf_pkey_free(other);
    /* A flipped signature character. */
    test_read_lines(p, &t);
    sig = strrchr(t.l[5], '.');
    assert_non_null(sig);
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    test_write_lines(p, &t);
    test_free_lines(&t);
    assert_int_equal(cf_audit_verify_file(p, NULL, f->pub, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_BAD_CHECKPOINT);
    assert_int_equal(r.line, 6);
    /* The MAC catches the same edit without the public key. */
    assert_int_equal(cf_audit_verify_file(p, test_key, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_EDITED);
    assert_int_equal(r.line, 6);
}

static void test_unsigned_log_with_pubkey(void **state)
{
    struct fx *f = *state;
    struct cf_audit_config c = {0};
    struct cf_audit_verify_report r;
    struct cf_audit *a;
    char p[256];
    cf_err e;
    c.dir = f->dir;
    c.mac_key = test_key;
    c.checkpoint_every = 3;
    a = cf_audit_open(&c, &e);
    assert_non_null(a);
    assert_int_equal(test_append_n(a, 0, 5, false), CF_OK);
    cf_audit_close(a);
    f->n = test_files(f->dir, f->names, 64);
    assert_int_equal(f->n, 1);
    assert_non_null(strstr(f->names[0], "audit-node0-00000000000000000001-"));
    path(f, 0, p, sizeof(p));
    assert_int_equal(cf_audit_verify_file(p, test_key, NULL, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_INTACT);
    /* An auditor who expects signatures is told they are missing. */
    assert_int_equal(cf_audit_verify_file(p, NULL, f->pub, &r), CF_OK);
    assert_int_equal(r.brk, CF_AUDIT_BAD_CHECKPOINT);
}

int main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rotation_and_checkpoints), T(test_rotate_call_and_retention),
        T(test_missing_middle_file),      T(test_rotated_file_cut_short),
        T(test_forged_checkpoint),        T(test_unsigned_log_with_pubkey),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_tail.c - tail.h: file names parsed and listed per node in chain order; whole lines read
 * from an offset with their seq, kind and "final"; a line still being written (no newline) is
 * not returned; a missing file is CF_ENOTFOUND. */
#include "base/cf.h"
#include "base/buf.h"
#include "audit/audit.h"
#include "audit/tail.h"
#include "helpers.h"

#include <setjmp.h>
#include <cmocka.h>

struct got {
    int64_t seq[64];
    enum cf_audit_line_kind kind[64];
    bool final[64];
    uint64_t next_off[64];
    size_t n, stop_at;
};

static bool cb(void *ctx, const struct cf_audit_tail_line *l)
{
    struct got *g = ctx;
    assert_true(l->valid);
    assert_int_equal(strlen(l->line), l->len);
    g->seq[g->n] = l->seq;
    g->kind[g->n] = l->kind;
    g->final[g->n] = l->final;
    g->next_off[g->n] = l->next_off;
    g->n++;
    return g->n != g->stop_at;
}

static void names_lines_offsets(void **state)
{
    char dir[64], names[8][160], path[256];
    struct cf_audit_config c = {0};
    struct cf_audit_file_ref *v = NULL, r;
    struct cf_audit *a;
    struct got g;
    size_t n, lines;
    cf_err e;
    FILE *fp;
    (void)state;

    test_mkdtemp(dir);
    c.dir = dir;
    c.mac_key = test_key;
    c.node_id = "n1.w1";
    a = cf_audit_open(&c, &e);
    assert_int_equal(e, CF_OK);
    assert_int_equal(test_append_n(a, 0, 3, true), CF_OK);
    assert_int_equal(cf_audit_rotate(a), CF_OK);
    assert_int_equal(test_append_n(a, 3, 2, true), CF_OK);

    assert_int_equal(cf_audit_tail_list(dir, NULL, &v, &n), CF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].node, "n1.w1");
    assert_int_equal(v[0].first_seq, 1);
    assert_int_equal(v[1].first_seq, 6); /* header, 3 records, final checkpoint */
    assert_true(cf_audit_tail_parse_name(v[1].name, &r));
    assert_int_equal(r.first_seq, 6);
    assert_false(cf_audit_tail_parse_name("audit-x.jsonl", &r));
    free(v);
    assert_int_equal(cf_audit_tail_list(dir, "other", &v, &n), CF_OK);
    assert_int_equal(n, 0);
    free(v);

    /* the rotated file: header, records, final checkpoint */
    assert_int_equal(test_files(dir, names, 8), 2);
    snprintf(path, sizeof(path), "%s/%s", dir, names[0]);
    memset(&g, 0, sizeof(g));
    assert_int_equal(cf_audit_tail_read(path, 0, cb, &g, &lines), CF_OK);
    assert_int_equal(lines, 5);
    assert_int_equal(g.kind[0], CF_AUDIT_LINE_HEADER);
    assert_int_equal(g.kind[1], CF_AUDIT_LINE_RECORD);
    assert_int_equal(g.kind[4], CF_AUDIT_LINE_CHECKPOINT);
    assert_true(g.final[4]);
    assert_false(g.final[1]);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(g.seq[i], (int64_t)i + 1);

    /* from an offset, stopping early */
    {
        struct got h;
        memset(&h, 0, sizeof(h));
        h.stop_at = 2;
        assert_int_equal(cf_audit_tail_read(path, g.next_off[1], cb, &h, &lines), CF_OK);
        assert_int_equal(lines, 2);
        assert_int_equal(h.seq[0], 3);
        assert_int_equal(h.seq[1], 4);
    }

    /* the active file with a half-written line at its end: not returned */
    cf_audit_close(a);
    snprintf(path, sizeof(path), "%s/%s", dir, names[1]);
    fp = fopen(path, "a");
    fputs("{\"time\":\"2025", fp);
    fclose(fp);
    memset(&g, 0, sizeof(g));
    assert_int_equal(cf_audit_tail_read(path, 0, cb, &g, &lines), CF_OK);
    assert_int_equal(g.n, lines);
    assert_int_equal(g.seq[g.n - 1], 9); /* header 6, records 7-8, closing checkpoint 9 */

    snprintf(path, sizeof(path), "%s/nope.jsonl", dir);
    assert_int_equal(cf_audit_tail_read(path, 0, cb, &g, NULL), CF_ENOTFOUND);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_lines_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

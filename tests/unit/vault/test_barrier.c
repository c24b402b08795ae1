/* test_barrier.c - the barrier (DESIGN.md §4) and backup/restore (azure-kv-secrets.md §12-13):
 * no plaintext value in the database, WAL or shm files; a sealed value cannot be moved to
 * another slot; backups restore into another vault with every version and attribute; corrupt,
 * truncated and foreign blobs are refused; the 500-version limit. */
#include "fixture.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/codec.h"
#include "store/store_vault.h"

/* True if the file contains the byte string. A missing file contains nothing. */
static bool file_contains(const char *path, const void *needle, size_t n)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *data;
    struct stat st;
    bool found;

    if (!fp)
        return false;
    assert_int_equal(fstat(fileno(fp), &st), 0);
    data = malloc((size_t)st.st_size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
    fclose(fp);
    found = memmem(data, (size_t)st.st_size, needle, n) != NULL;
    free(data);
    return found;
}

static bool db_contains(struct fx *f, const char *needle)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char p[200];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        if (file_contains(p, needle, strlen(needle)))
            return true;
    }
    return false;
}

static void test_no_plaintext_on_disk(void **state)
{
    struct fx *f = *state;
    char marker[33], value[128], buf[128], ctmarker[33];
    struct cf_secret_input in = {0};
    struct cf_secret_meta m;
    struct cf_buf blob;

    assert_int_equal(cf_random_hex32(marker), CF_OK);
    snprintf(value, sizeof(value), "password=%s;", marker);
    assert_int_equal(fx_set(f, &f->ref, "plain-check", value, NULL), CF_OK);
    assert_int_equal(fx_set(f, &f->ref, "plain-check", value, NULL), CF_OK);
    /* metadata ops rewrite rows; backup/restore re-seal */
    in.has_enabled = true;
    in.enabled = true;
    assert_int_equal(cf_secret_update(f->svc, &f->ref, CF_STR("plain-check"), CF_STR_NULL, &in, &m),
                     CF_OK);
    cf_secret_meta_release(&m);
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("plain-check"), &blob), CF_OK);
    assert_null(strstr(blob.data, marker)); /* the blob is sealed too */
    struct cf_vault_ref other;
    fx_make_vault(f, "othervault", 90, false, &other);
    assert_int_equal(cf_secret_restore(f->svc, &other, cf_buf_str(&blob), &m), CF_OK);
    cf_secret_meta_release(&m);
    cf_buf_release(&blob);

    /* the value reads back (the marker is really what was stored) ... */
    assert_int_equal(fx_get(f, &f->ref, "plain-check", NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, value);
    assert_int_equal(fx_get(f, &other, "plain-check", NULL, buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, value);
    /* ... and is nowhere in the database files, WAL included (the store is still open) */
    assert_false(db_contains(f, marker));

    /* control: unsealed metadata (a content type) is found by the same scan */
    assert_int_equal(cf_random_hex32(ctmarker), CF_OK);
    in = (struct cf_secret_input){0};
    in.has_content_type = true;
    in.content_type = ctmarker;
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("ct-check"), CF_STR("x"), &in, &m),
                     CF_OK);
    cf_secret_meta_release(&m);
    assert_true(db_contains(f, ctmarker));

    /* after close (checkpoint into the main file) still nothing */
    cf_vault_svc_free(f->svc);
    f->svc = NULL;
    cf_store_close(f->store);
    f->store = NULL;
    assert_false(db_contains(f, marker));
    struct cf_store_opts o = {f->path, 2, 8};
    cf_err e;
    f->store = cf_store_open_sqlite(&o, &e);
    f->svc = cf_vault_svc_new(f->store, &f->clock.c, f->mk, &e);
    assert_non_null(f->svc);
}

/* A sealed value moved into another secret's version row does not open (AAD binds vault,
 * name and version). */
struct move_ctx {
    int64_t vault_id;
};

static cf_err move_fn(struct cf_store_txn *t, void *arg)
{
    struct move_ctx *c = arg;
    struct cf_rec_secret_obj a, b;
    struct cf_rec_secret_ver va;
    cf_err e;

    e = cf_store_secret_obj_get(t, c->vault_id, "source", &a);
    if (!e)
        e = cf_store_secret_obj_get(t, c->vault_id, "target", &b);
    if (!e)
        e = cf_store_secret_ver_get(t, a.id, a.latest_seq, NULL, true, &va);
    if (e)
        return e;
    va.object_id = b.id;
    va.seq = b.latest_seq + 1;
    e = cf_store_secret_ver_insert(t, &va);
    if (!e) {
        b.latest_seq = va.seq;
        memcpy(b.latest_version, va.version, sizeof(b.latest_version));
        e = cf_store_secret_obj_update(t, &b);
    }
    cf_rec_secret_ver_release(&va);
    return e;
}

static void test_sealed_value_bound_to_slot(void **state)
{
    struct fx *f = *state;
    struct move_ctx c = {f->ref.id};

    assert_int_equal(fx_set(f, &f->ref, "source", "secret-a", NULL), CF_OK);
    assert_int_equal(fx_set(f, &f->ref, "target", "secret-b", NULL), CF_OK);
    assert_int_equal(cf_store_write(f->store, move_fn, &c), CF_OK);
    assert_int_equal(fx_get(f, &f->ref, "target", NULL, NULL, 0), CF_ECORRUPT);
    assert_int_equal(fx_get(f, &f->ref, "source", NULL, NULL, 0), CF_OK);
}

static void test_backup_restore(void **state)
{
    struct fx *f = *state;
    struct cf_secret_input in = {0};
    struct cf_secret_meta m, m2;
    struct cf_vault_ref dst;
    char v[3][33], buf[64];
    struct cf_buf blob;

    in.has_content_type = true;
    in.content_type = "text/plain";
    in.has_tags = true;
    in.tags_json = "{\"a\":\"b\"}";
    in.has_nbf = in.has_exp = true;
    in.nbf = 1262332800;
    in.exp = 1893484800;
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("Backed-Up"), CF_STR("first"), &in, &m),
                     CF_OK);
    memcpy(v[0], m.version, 33);
    cf_secret_meta_release(&m);
    fx_advance(f, 10);
    assert_int_equal(fx_set(f, &f->ref, "backed-up", "second", v[1]), CF_OK);
    fx_advance(f, 10);
    in = (struct cf_secret_input){0};
    in.has_enabled = true;
    in.enabled = false;
    assert_int_equal(cf_secret_set(f->svc, &f->ref, CF_STR("backed-up"), CF_STR("third"), &in, &m),
                     CF_OK);
    memcpy(v[2], m.version, 33);
    cf_secret_meta_release(&m);

    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("BACKED-UP"), &blob), CF_OK);
    for (size_t i = 0; i < blob.len; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               blob.data[i]));

    /* into another vault */
    fx_make_vault(f, "restored", 7, false, &dst);
    fx_advance(f, 1000);
    assert_int_equal(cf_secret_restore(f->svc, &dst, cf_buf_str(&blob), &m), CF_OK);
    assert_string_equal(m.name, "Backed-Up");
    assert_string_equal(m.version, v[2]);
    assert_string_equal(m.prev_version, v[1]);
    assert_false(m.attrs.enabled);
    assert_int_equal(m.attrs.created, T0 + 20); /* times kept, not "now" */
    cf_secret_meta_release(&m);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            cf_secret_get(f->svc, &f->ref, CF_STR("backed-up"), cf_str_from(v[i]), &m, NULL),
            i == 2 ? CF_EDISABLED : CF_OK);
        assert_int_equal(
            cf_secret_get(f->svc, &dst, CF_STR("backed-up"), cf_str_from(v[i]), &m2, NULL),
            i == 2 ? CF_EDISABLED : CF_OK);
        assert_string_equal(m.version, m2.version);
        assert_string_equal(m.prev_version, m2.prev_version);
        assert_int_equal(m.attrs.enabled, m2.attrs.enabled);
        assert_int_equal(m.attrs.nbf, m2.attrs.nbf);
        assert_int_equal(m.attrs.exp, m2.attrs.exp);
        assert_int_equal(m.attrs.created, m2.attrs.created);
        assert_int_equal(m.attrs.updated, m2.attrs.updated);
        if (m.content_type)
            assert_string_equal(m.content_type, m2.content_type);
        else
            assert_null(m2.content_type);
        if (m.tags_json)
            assert_string_equal(m.tags_json, m2.tags_json);
        else
            assert_null(m2.tags_json);
        cf_secret_meta_release(&m);
        cf_secret_meta_release(&m2);
    }
    assert_int_equal(fx_get(f, &dst, "backed-up", v[0], buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "first");
    assert_int_equal(fx_get(f, &dst, "backed-up", v[1], buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "second");

    /* the name exists now (live, then deleted): 409 */
    assert_int_equal(cf_secret_restore(f->svc, &dst, cf_buf_str(&blob), &m), CF_EEXISTS);
    assert_int_equal(cf_secret_delete(f->svc, &dst, CF_STR("backed-up"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_restore(f->svc, &dst, cf_buf_str(&blob), &m), CF_EEXISTS);
    /* purged: free again; the source vault after its own purge too */
    assert_int_equal(cf_secret_purge(f->svc, &dst, CF_STR("backed-up")), CF_OK);
    assert_int_equal(cf_secret_restore(f->svc, &dst, cf_buf_str(&blob), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("backed-up"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_purge(f->svc, &f->ref, CF_STR("backed-up")), CF_OK);
    assert_int_equal(cf_secret_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_get(f, &f->ref, "backed-up", v[1], buf, sizeof(buf)), CF_OK);
    assert_string_equal(buf, "second");
    cf_buf_release(&blob);
}

static void test_corrupt_blobs(void **state)
{
    struct fx *f = *state;
    struct cf_secret_meta m;
    struct cf_buf blob, bad;
    struct cf_vault_ref dst;

    assert_int_equal(fx_set(f, &f->ref, "c1", "value", NULL), CF_OK);
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("c1"), &blob), CF_OK);
    fx_make_vault(f, "dest", 90, false, &dst);

    assert_int_equal(cf_secret_restore(f->svc, &dst, CF_STR(""), &m), CF_EBADPARAM);
    assert_int_equal(cf_secret_restore(f->svc, &dst, CF_STR("not base64 !"), &m), CF_EBADPARAM);
    assert_int_equal(cf_secret_restore(f->svc, &dst,
                                       CF_STR("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                                       &m),
                     CF_EBADPARAM);
    /* every single-character change anywhere is refused */
    cf_buf_init(&bad, 1 << 20);
    /* (the last character is skipped: some of its bits are padding the decoder ignores) */
    for (size_t pos = 0; pos + 1 < blob.len; pos += 7) {
        cf_buf_reset(&bad);
        assert_int_equal(cf_buf_append(&bad, blob.data, blob.len), CF_OK);
        bad.data[pos] = bad.data[pos] == 'A' ? 'B' : 'A';
        assert_int_equal(cf_secret_restore(f->svc, &dst, cf_buf_str(&bad), &m), CF_EBADPARAM);
    }
    /* truncated */
    struct cf_str half = {blob.data, blob.len / 2};
    assert_int_equal(cf_secret_restore(f->svc, &dst, half, &m), CF_EBADPARAM);
    cf_buf_release(&bad);

    /* a blob from another server (another master key) */
    void *st = NULL;
    fx_setup(&st);
    struct fx *o = st;
    assert_int_equal(fx_set(o, &o->ref, "c2", "value", NULL), CF_OK);
    struct cf_buf foreign;
    cf_buf_init(&foreign, 1 << 20);
    assert_int_equal(cf_secret_backup(o->svc, &o->ref, CF_STR("c2"), &foreign), CF_OK);
    assert_int_equal(cf_secret_restore(f->svc, &dst, cf_buf_str(&foreign), &m), CF_EBADPARAM);
    cf_buf_release(&foreign);
    fx_teardown(&st);

    /* nothing was created by all of that; the good blob still works */
    assert_int_equal(fx_get(f, &dst, "c1", NULL, NULL, 0), CF_ENOTFOUND);
    assert_int_equal(fx_get(f, &dst, "c2", NULL, NULL, 0), CF_ENOTFOUND);
    assert_int_equal(cf_secret_restore(f->svc, &dst, cf_buf_str(&blob), &m), CF_OK);
    cf_secret_meta_release(&m);
    cf_buf_release(&blob);

    /* backup of a deleted or unknown name */
    cf_buf_init(&blob, 1 << 20);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("unknown"), &blob), CF_ENOTFOUND);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("bad name"), &blob), CF_EBADNAME);
    cf_buf_release(&blob);
}

static void test_backup_version_limit(void **state)
{
    struct fx *f = *state;
    struct cf_secret_meta m;
    struct cf_buf blob;

    for (int i = 0; i < 500; i++)
        assert_int_equal(fx_set(f, &f->ref, "lots", "v", NULL), CF_OK);
    cf_buf_init(&blob, 64 << 20);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("lots"), &blob), CF_OK);
    assert_int_equal(cf_secret_delete(f->svc, &f->ref, CF_STR("lots"), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(cf_secret_purge(f->svc, &f->ref, CF_STR("lots")), CF_OK);
    assert_int_equal(cf_secret_restore(f->svc, &f->ref, cf_buf_str(&blob), &m), CF_OK);
    cf_secret_meta_release(&m);
    assert_int_equal(fx_set(f, &f->ref, "lots", "v", NULL), CF_OK); /* 501 */
    cf_buf_reset(&blob);
    assert_int_equal(cf_secret_backup(f->svc, &f->ref, CF_STR("lots"), &blob), CF_ETOOBIG);
    cf_buf_release(&blob);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_no_plaintext_on_disk), T(test_sealed_value_bound_to_slot), T(test_backup_restore),
        T(test_corrupt_blobs),        T(test_backup_version_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* libFuzzer target: the audit log's readers (src/audit/verify.c, read.c, chain.c) on file
 * contents they did not write, and the tamper evidence of what the writer (log.c) did write.
 * Files live in a fixed temp dir of the process (under /dev/shm when it exists), removed at
 * exit. MAC key fixed, checkpoint signing key made once.
 *
 * Input: byte 0 selects the mode.
 *   even  raw: the rest is one audit file's contents, written as
 *         raw/audit-n1-00000000000000000001-20260101T000000Z.jsonl; cf_audit_verify_file
 *         (with the key and public key, and with neither), cf_audit_verify_dir and
 *         cf_audit_read (no filter, and a filter on every field) run over it.
 *         Checks: never crash; the file is read (CF_OK); a file report breaks at line lines+1
 *         and a known kind; intact with the key implies intact without it; every record read
 *         back is an AuditEvent object.
 *   odd   chain: bytes 1-4 an offset (little-endian), byte 5 an xor mask (0 counts as 1), the
 *         rest '\n'-separated record lines appended with cf_audit_append to a fresh log (lines
 *         with a "chain" key skipped: see chain_mode; lines shaped like the writer's own
 *         records go to cf_audit_append, which must refuse them), in the v1 file format when
 *         bit 1 of byte 0 is set, else the current one
 *         (checkpoint every 3 records, signed) that is then closed.
 *         Checks: the writer's file verifies intact (key and signature) and reads back at most
 *         the accepted records; the file with the byte at offset % size xor-ed with the mask is
 *         never intact under the key - whichever byte, whatever change.
 * FUZZ_AUDIT_DUMP=DIR (seed making): each chain-mode file is also copied into DIR as a
 * raw-mode input. */
#include "base/cf.h"
#include "fuzz_check.h"
#include "audit/audit.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "fuzz_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* how the writer's own header and checkpoint records start */
#define RESERVED "{\"category\":\"CofferAudit\""
#define RESERVED_LEN (sizeof(RESERVED) - 1)
#define RAW_NAME "audit-n1-00000000000000000001-20260101T000000Z.jsonl"

static char root[128], raw_dir[160], chain_dir[160];
static unsigned char mac_key[CF_AUDIT_KEY_LEN];
static struct cf_pkey *sign_key;

static void cleanup(void)
{
    fuzz_rm_tree(root);
    cf_pkey_free(sign_key);
}

static void setup(void)
{
    cf_log_setup(getenv("FUZZ_LOG") ? CF_LOG_DEBUG : CF_LOG_ERROR, 2);
    fuzz_tmpdir(root, sizeof(root), "audit");
    snprintf(raw_dir, sizeof(raw_dir), "%s/raw", root);
    snprintf(chain_dir, sizeof(chain_dir), "%s/chain", root);
    if (mkdir(raw_dir, 0700) || mkdir(chain_dir, 0700))
        fuzz_die("mkdir", CF_EIO);
    for (size_t i = 0; i < sizeof(mac_key); i++)
        mac_key[i] = (unsigned char)(0x11 * i + 3);
    if (cf_pkey_generate_ec_p256(&sign_key) != CF_OK)
        fuzz_die("signing key", CF_ECRYPTO);
    atexit(cleanup);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || close(fd))
        abort();
}

static bool read_file(const char *path, struct cf_buf *out)
{
    char chunk[65536];
    ssize_t r;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    cf_buf_reset(out);
    while ((r = read(fd, chunk, sizeof(chunk))) > 0)
        if (cf_buf_append(out, chunk, (size_t)r) != CF_OK)
            abort();
    close(fd);
    return r == 0;
}

/* The one file in dir (chain mode writes exactly one), as a path. */
static bool only_file(const char *dir, char *path, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;

    if (!d)
        return false;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && found++ == 0)
            snprintf(path, n, "%s/%s", dir, de->d_name);
    closedir(d);
    return found == 1;
}

static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];

    if (!d)
        abort();
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(d);
}

struct rd {
    size_t n;
};

static bool read_cb(void *ctx, const char *line, size_t len, const struct cf_json *rec)
{
    struct rd *r = ctx;
    size_t cl = 0;
    const char *cat = cf_json_str(cf_json_get(rec, "category"), &cl);
    CHECK(line && len > 0 && cf_json_type(rec) == CF_JSON_OBJECT);
    CHECK(cat && cf_str_eq_cstr((struct cf_str){cat, cl}, "AuditEvent"));
    r->n++;
    return true;
}

static size_t read_all(const char *dir, bool filtered)
{
    static const struct cf_audit_filter f = {.vault = "v1",
                                             .since_ms = 1,
                                             .until_ms = 4102444800000LL,
                                             .operation = "SecretGet",
                                             .caller = "10.0.0.1",
                                             .node = "n1"};
    struct rd r = {0};
    CHECK(cf_audit_read(dir, filtered ? &f : NULL, read_cb, &r) == CF_OK);
    return r.n;
}

/* file: a cf_audit_verify_file report, whose lines count up to the break (a directory's
 * report counts only the files before the breaking one). */
static void check_report(const struct cf_audit_verify_report *r, bool file)
{
    CHECK(r->brk >= CF_AUDIT_INTACT && r->brk <= CF_AUDIT_BAD_CHECKPOINT);
    CHECK(strcmp(cf_audit_break_name(r->brk), "?") != 0);
    CHECK(r->brk == CF_AUDIT_INTACT ? r->line == 0 : r->line >= 1);
    CHECK(!file || r->brk == CF_AUDIT_INTACT || r->line == r->lines + 1);
    CHECK(memchr(r->detail, '\0', sizeof(r->detail)) && memchr(r->node, '\0', sizeof(r->node)));
}

static void raw_mode(const uint8_t *p, size_t n)
{
    struct cf_audit_verify_report rk, rn, rd;
    char path[256];

    snprintf(path, sizeof(path), "%s/" RAW_NAME, raw_dir);
    write_file(path, p, n);
    CHECK(cf_audit_verify_file(path, mac_key, sign_key, &rk) == CF_OK);
    check_report(&rk, true);
    CHECK(cf_audit_verify_file(path, NULL, NULL, &rn) == CF_OK);
    check_report(&rn, true);
    CHECK(rk.brk != CF_AUDIT_INTACT || rn.brk == CF_AUDIT_INTACT);
    CHECK(cf_audit_verify_dir(raw_dir, mac_key, sign_key, NULL, NULL, &rd) == CF_OK);
    check_report(&rd, false);
    CHECK(rd.brk == rk.brk);
    (void)read_all(raw_dir, false);
    (void)read_all(raw_dir, true);
}

static void chain_mode(const uint8_t *p, size_t n, unsigned ver)
{
    struct cf_audit_config cfg = {.dir = chain_dir,
                                  .mac_key = mac_key,
                                  .node_id = "n1",
                                  .checkpoint_every = 3,
                                  .sign_key = sign_key,
                                  .sign_kid = "fuzz",
                                  .format_version = ver};
    struct cf_audit_verify_report r;
    struct cf_audit *a;
    struct cf_buf file;
    char path[512];
    const char *s = (const char *)p + 5, *end = (const char *)p + n, *nl;
    uint32_t off;
    uint8_t mask;
    size_t accepted = 0;
    cf_err e;

    if (n < 5)
        return;
    off = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    mask = p[4] ? p[4] : 1;
    empty_dir(chain_dir);
    if (!(a = cf_audit_open(&cfg, &e)))
        fuzz_die("audit open", e);
    for (; s < end; s = nl + 1) {
        nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            nl = end;
        /* The caller's side of the contract: no top-level "chain" key (checked loosely). Lines
         * shaped like the writer's own header/checkpoint records are the validator's to refuse
         * (the verifier would take them for the real thing). */
        if (memmem(s, (size_t)(nl - s), "\"chain\"", 7))
            continue;
        e = cf_audit_append(a, (struct cf_str){s, (size_t)(nl - s)}, false);
        CHECK(e == CF_OK || e == CF_EINVAL || e == CF_ETOOBIG);
        CHECK(e != CF_OK || (size_t)(nl - s) < RESERVED_LEN ||
              memcmp(s, RESERVED, RESERVED_LEN) != 0);
        accepted += e == CF_OK;
    }
    cf_audit_close(a);

    CHECK(only_file(chain_dir, path, sizeof(path)));
    CHECK(cf_audit_verify_dir(chain_dir, mac_key, sign_key, NULL, NULL, &r) == CF_OK);
    check_report(&r, false);
    if (getenv("FUZZ_DEBUG"))
        fprintf(stderr, "fuzz_audit_line: written %s line %llu (%s), %llu lines, final %d\n",
                cf_audit_break_name(r.brk), (unsigned long long)r.line, r.detail,
                (unsigned long long)r.lines, r.final);
    CHECK(r.brk == CF_AUDIT_INTACT);
    CHECK(read_all(chain_dir, false) <= accepted);
    (void)read_all(chain_dir, true);

    cf_buf_init(&file, 64u << 20);
    CHECK(read_file(path, &file) && file.len > 0);
    if (getenv("FUZZ_AUDIT_DUMP")) {
        char out[512];
        int fd;
        snprintf(out, sizeof(out), "%s/raw-%zu-%zu", getenv("FUZZ_AUDIT_DUMP"), accepted, file.len);
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            (void)!write(fd, "\0", 1);
            (void)!write(fd, file.data, file.len);
            close(fd);
        }
    }
    file.data[off % file.len] ^= (char)mask;
    write_file(path, file.data, file.len);
    CHECK(cf_audit_verify_file(path, mac_key, NULL, &r) == CF_OK);
    check_report(&r, true);
    CHECK(r.brk != CF_AUDIT_INTACT);
    CHECK(cf_audit_verify_file(path, mac_key, sign_key, &r) == CF_OK);
    CHECK(r.brk != CF_AUDIT_INTACT);
    (void)read_all(chain_dir, true);
    cf_buf_release(&file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0])
        setup();
    if (size < 1 || size > 256 * 1024)
        return 0;
    if (data[0] & 1)
        chain_mode(data + 1, size - 1, data[0] & 2 ? 1 : 0);
    else
        raw_mode(data + 1, size - 1);
    return 0;
}

/* cmd_audit.c - `coffer audit verify` and `coffer audit show`: offline readers of an audit
 * directory (they need the files, not the service).
 *
 *   verify  every node's chain (audit/audit.h cf_audit_verify_dir); --key-file checks each
 *           record's MAC, --public-key each checkpoint's ES256 signature; a break is one
 *           ERROR line naming file, line and kind, exit 1
 *   show    AuditEvent records filtered by vault, time, operation, caller, node
 *
 * The MAC key file holds the 32-byte key raw or as 64 hex characters; its bytes are wiped after
 * use. The public key file is a JWK (or a JWKS whose first key is used) of an EC P-256 key. */
#include "base/cf.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "crypto/crypto.h"
#include "audit/audit.h"
#include "cli/cmd_audit.h"

#include <ctype.h>

const struct cf_cli_opt cf_cli_audit_verify_opts[] = {
    {"--dir", NULL, OPT_STR, true, "Audit directory (all nodes' files)."},
    {"--key-file", NULL, OPT_STR, false, "File with the 32-byte audit MAC key (raw or hex): check every record's MAC."},
    {"--public-key", NULL, OPT_STR, false, "JWK file of the checkpoint signing key: check every checkpoint's signature."},
    {NULL, NULL, OPT_STR, false, NULL}};
const struct cf_cli_opt cf_cli_audit_show_opts[] = {
    {"--dir", NULL, OPT_STR, true, "Audit directory."},
    {"--vault", NULL, OPT_STR, false, "Only records of this vault."},
    {"--since", NULL, OPT_TIME, false, "Only records at or after this UTC time (ISO-8601)."},
    {"--until", NULL, OPT_TIME, false, "Only records before this UTC time (ISO-8601)."},
    {"--operation", NULL, OPT_STR, false, "Only this operationName (e.g. SecretGet)."},
    {"--caller", NULL, OPT_STR, false, "Only this caller: object id, app id, UPN or IP address."},
    {"--node", NULL, OPT_STR, false, "Only this node's files."},
    {"--top", NULL, OPT_INT, false, "At most this many records."},
    {NULL, NULL, OPT_STR, false, NULL}};

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads a whole small file into b. */
static cf_err slurp(const char *path, struct cf_buf *b)
{
    char chunk[4096];
    size_t n;
    cf_err e = CF_OK;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return CF_ENOTFOUND;
    while (!e && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        e = cf_buf_append(b, chunk, n);
    if (!e && ferror(f))
        e = CF_EIO;
    fclose(f);
    cf_wipe(chunk, sizeof(chunk));
    return e;
}

static cf_err read_key(const char *path, unsigned char key[CF_AUDIT_KEY_LEN])
{
    struct cf_buf b;
    size_t n, k = 0;
    cf_err e;

    cf_buf_init(&b, 256);
    if ((e = slurp(path, &b)))
        goto wipe;
    e = CF_EINVAL;
    if (b.len == CF_AUDIT_KEY_LEN) {
        memcpy(key, b.data, CF_AUDIT_KEY_LEN);
        e = CF_OK;
        goto wipe;
    }
    n = b.len;
    while (n && isspace((unsigned char)b.data[n - 1]))
        n--;
    while (k < n && isspace((unsigned char)b.data[k]))
        k++;
    if (n - k != 2 * CF_AUDIT_KEY_LEN)
        goto wipe;
    for (size_t i = 0; i < CF_AUDIT_KEY_LEN; i++) {
        int hi = hexv(b.data[k + 2 * i]), lo = hexv(b.data[k + 2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto wipe;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    e = CF_OK;
wipe:
    cf_buf_wipe(&b);
    return e;
}

static cf_err read_pub(const char *path, struct cf_pkey **out)
{
    struct cf_buf b;
    struct cf_json *j = NULL;
    const struct cf_json *k;
    const char *x, *y;
    size_t xl, yl;
    cf_err e;

    cf_buf_init(&b, 64 * 1024);
    if ((e = slurp(path, &b)))
        goto release;
    if ((e = cf_json_parse(b.data, b.len, &j, NULL, 0)))
        goto release;
    k = cf_json_get(j, "keys") ? cf_json_at(cf_json_get(j, "keys"), 0) : j;
    x = cf_json_str(cf_json_get(k, "x"), &xl);
    y = cf_json_str(cf_json_get(k, "y"), &yl);
    e = x && y ? cf_pkey_from_jwk_ec((struct cf_str){x, xl}, (struct cf_str){y, yl}, out)
               : CF_EINVAL;
release:
    cf_json_free(j);
    cf_buf_release(&b);
    return e;
}

static struct cf_val *report_val(const struct cf_audit_verify_report *rep)
{
    struct cf_val *o = cf_val_obj();
    if (!o)
        return NULL;
    if (cf_val_set(o, "node", cf_val_str(rep->node)) ||
        cf_val_set(o, "files", cf_val_int((int64_t)rep->files)) ||
        cf_val_set(o, "records", cf_val_int((int64_t)rep->lines)) ||
        cf_val_set(o, "firstSeq", cf_val_int(rep->first_seq)) ||
        cf_val_set(o, "lastSeq", cf_val_int(rep->last_seq)) ||
        cf_val_set(o, "checkpointsVerified", cf_val_int((int64_t)rep->checkpoints)) ||
        cf_val_set(o, "unsignedTail", cf_val_int((int64_t)rep->unsigned_tail)) ||
        cf_val_set(o, "endsWithFinalCheckpoint", cf_val_bool(rep->final))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct verify_ctx {
    struct cf_val *nodes;
    bool oom;
};

static void on_node(void *ctx, const struct cf_audit_verify_report *rep)
{
    struct verify_ctx *v = ctx;
    if (rep->brk == CF_AUDIT_INTACT && cf_val_push(v->nodes, report_val(rep)) != CF_OK)
        v->oom = true;
}

int cf_cli_cmd_audit_verify(struct cf_cli_run *r)
{
    const char *dir = cf_cli_arg(r, "--dir"), *kf = cf_cli_arg(r, "--key-file");
    const char *pf = cf_cli_arg(r, "--public-key");
    unsigned char key[CF_AUDIT_KEY_LEN];
    struct cf_pkey *pub = NULL;
    struct cf_audit_verify_report rep;
    struct verify_ctx v = {cf_val_arr(), false};
    struct cf_val *res = NULL;
    int rc = 1;
    cf_err e;

    if (!v.nodes) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (kf && read_key(kf, key) != CF_OK) {
        rc = cf_cli_fail(r, 1, "cannot read the audit key from %s (32 bytes, raw or hex)", kf);
        goto out;
    }
    if (pf && read_pub(pf, &pub) != CF_OK) {
        rc = cf_cli_fail(r, 1, "cannot read an EC P-256 public JWK from %s", pf);
        goto out;
    }
    if (!kf && !pf)
        fprintf(r->ctx->err, "WARNING: no --key-file or --public-key: only the links between "
                             "records are checked, not their content\n");
    e = cf_audit_verify_dir(dir, kf ? key : NULL, pub, on_node, &v, &rep);
    if (e == CF_ENOTFOUND) {
        rc = cf_cli_fail(r, 1, "no audit files in %s", dir);
        goto out;
    }
    if (e != CF_OK || v.oom) {
        rc = cf_cli_fail(r, 1, "cannot read %s: %s", dir, cf_err_msg(e ? e : CF_ENOMEM));
        goto out;
    }
    if (rep.brk != CF_AUDIT_INTACT) {
        rc = cf_cli_fail(r, 1, "audit chain of node %s broken at %s line %llu: %s (%s)",
                         rep.node, rep.file, (unsigned long long)rep.line,
                         cf_audit_break_name(rep.brk), rep.detail);
        goto out;
    }
    res = cf_val_obj();
    if (!res || cf_val_set(res, "intact", cf_val_bool(true)) ||
        cf_val_set(res, "macChecked", cf_val_bool(kf != NULL)) ||
        cf_val_set(res, "signaturesChecked", cf_val_bool(pub != NULL)) ||
        cf_val_set(res, "files", cf_val_int((int64_t)rep.files)) ||
        cf_val_set(res, "records", cf_val_int((int64_t)rep.lines)) ||
        cf_val_set(res, "nodes", cf_val_ref(v.nodes))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    r->result = res;
    res = NULL;
    rc = 0;
out:
    cf_wipe(key, sizeof(key));
    cf_pkey_free(pub);
    cf_val_unref(v.nodes);
    cf_val_unref(res);
    return rc;
}

struct show_ctx {
    struct cf_val *arr;
    int64_t top, n;
    bool oom;
};

static bool on_record(void *ctx, const char *line, size_t len, const struct cf_json *rec)
{
    struct show_ctx *s = ctx;
    (void)line;
    (void)len;
    if (cf_val_push(s->arr, cf_val_from_json(rec)) != CF_OK) {
        s->oom = true;
        return false;
    }
    return !(s->top > 0 && ++s->n >= s->top);
}

int cf_cli_cmd_audit_show(struct cf_cli_run *r)
{
    struct cf_audit_filter f = {0};
    struct show_ctx s = {cf_val_arr(), 0, 0, false};
    const char *dir = cf_cli_arg(r, "--dir"), *v;
    int64_t t;
    cf_err e;

    if (!s.arr)
        return cf_cli_fail(r, 1, "out of memory");
    f.vault = cf_cli_arg(r, "--vault");
    f.operation = cf_cli_arg(r, "--operation");
    f.caller = cf_cli_arg(r, "--caller");
    f.node = cf_cli_arg(r, "--node");
    if ((v = cf_cli_arg(r, "--since")) && cf_cli_parse_time(v, &t))
        f.since_ms = t * 1000;
    if ((v = cf_cli_arg(r, "--until")) && cf_cli_parse_time(v, &t))
        f.until_ms = t * 1000;
    if ((v = cf_cli_arg(r, "--top")))
        (void)cf_str_to_i64(cf_str_from(v), &s.top);
    e = cf_audit_read(dir, &f, on_record, &s);
    if (e || s.oom) {
        cf_val_unref(s.arr);
        return cf_cli_fail(r, 1, "cannot read %s: %s", dir,
                           e == CF_ENOTFOUND ? "no such directory" : cf_err_msg(e ? e : CF_ENOMEM));
    }
    r->result = s.arr;
    return 0;
}

/* cmd_secret.c - `coffer keyvault secret ...`: the data-plane secret commands (api-version 7.5)
 * and the az shapes of their results (track-1 SecretBundle/SecretItem through knack's todict:
 * every model field present, null when unset, times as isoformat strings, plus "name").
 *
 * Map: addressing (cmd_common.c's SECRETS kind) - shaping - --file/--encoding values - handlers. */
#include "base/cf.h"
#include "base/codec.h"
#include "cli/cli_int.h"

#include <sys/stat.h>

#define API "api-version=7.5"

/* ---- addressing ---- */

static const struct cf_cli_kind SECRETS = {.coll = "secrets", .noun = "secret", .api = API};

/* The secret commands name --name in the usage line for --id given with --vault-name even where
 * they take no name (list, restore); the shared resolver (keys, certificates) does not. Kept so
 * the error text stays what it was. 0, or the exit code of the usage error. */
static int id_with_vault(struct cf_cli_run *r)
{
    if (cf_cli_arg(r, "--id") && cf_cli_arg(r, "--vault-name"))
        return cf_cli_fail(r, 2, "usage error: --id ID | --vault-name VAULT --name NAME");
    return 0;
}

static int resolve(struct cf_cli_run *r, struct cf_cli_addr *a, bool need_name)
{
    return cf_cli_resolve(r, &SECRETS, need_name, a);
}

/* ---- shaping ---- */

static cf_err set(struct cf_val *o, const char *k, struct cf_val *v)
{
    return cf_val_set(o, k, v);
}

static struct cf_val *shape_attributes(const struct cf_val *a)
{
    struct cf_val *o = cf_val_obj();
    if (!o)
        return NULL;
    if (set(o, "enabled", cf_cli_copy(cf_val_get(a, "enabled"))) ||
        set(o, "notBefore", cf_cli_time_val(cf_val_get(a, "nbf"))) ||
        set(o, "expires", cf_cli_time_val(cf_val_get(a, "exp"))) ||
        set(o, "created", cf_cli_time_val(cf_val_get(a, "created"))) ||
        set(o, "updated", cf_cli_time_val(cf_val_get(a, "updated"))) ||
        set(o, "recoverableDays", cf_cli_copy(cf_val_get(a, "recoverableDays"))) ||
        set(o, "recoveryLevel", cf_cli_copy(cf_val_get(a, "recoveryLevel")))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* The name az derives from an id: its fifth '/'-separated part. */
static struct cf_val *name_from_id(const struct cf_val *id)
{
    const char *p;
    int slashes = 0;
    if (!id || id->type != CF_VAL_STR)
        return cf_val_null();
    for (p = id->s; *p; p++) {
        if (*p == '/' && ++slashes == 4) {
            const char *e = strchr(p + 1, '/');
            return cf_val_strn(p + 1, e ? (size_t)(e - p - 1) : strlen(p + 1));
        }
    }
    return cf_val_null();
}

struct cf_val *cf_cli_shape_secret(const struct cf_val *b, bool deleted, bool item)
{
    struct cf_val *o = cf_val_obj();
    const struct cf_val *id = cf_val_get(b, "id");
    cf_err e = CF_OK;
    if (!o)
        return NULL;
    if (!item)
        e = set(o, "value", cf_cli_copy(cf_val_get(b, "value")));
    if (!e)
        e = set(o, "id", cf_cli_copy(id));
    if (!e)
        e = set(o, "contentType", cf_cli_copy(cf_val_get(b, "contentType")));
    if (!e)
        e = set(o, "attributes", shape_attributes(cf_val_get(b, "attributes")));
    if (!e)
        e = set(o, "tags", cf_cli_copy(cf_val_get(b, "tags")));
    if (!e && !item)
        e = set(o, "kid", cf_cli_copy(cf_val_get(b, "kid")));
    if (!e)
        e = set(o, "managed", cf_cli_copy(cf_val_get(b, "managed")));
    if (!e && deleted) {
        e = set(o, "recoveryId", cf_cli_copy(cf_val_get(b, "recoveryId")));
        if (!e)
            e = set(o, "scheduledPurgeDate", cf_cli_time_val(cf_val_get(b, "scheduledPurgeDate")));
        if (!e)
            e = set(o, "deletedDate", cf_cli_time_val(cf_val_get(b, "deletedDate")));
    }
    if (!e)
        e = set(o, "name", name_from_id(id));
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* Shapes h->body into r->result. */
static int result_secret(struct cf_cli_run *r, struct cf_cli_http *h, bool deleted)
{
    return cf_cli_set_result(r, h, cf_cli_shape_secret(h->body, deleted, false));
}

static cf_err add_secret_item(struct cf_cli_run *r, const struct cf_val *it, const void *deleted,
                              struct cf_val *out)
{
    if (cf_cli_managed_hidden(r, it))
        return CF_OK;
    return cf_val_push(out, cf_cli_shape_secret(it, *(const bool *)deleted, true));
}

static int list_secrets(struct cf_cli_run *r, const char *coll, bool named, const char *tail,
                        bool deleted)
{
    int rc;
    if (!named && (rc = id_with_vault(r)) != 0)
        return rc;
    return cf_cli_list_kind(r, &SECRETS, coll, named, tail, "", add_secret_item, &deleted);
}

/* ---- --file / --encoding ---- */

#define FILE_MAX (4 * 1024 * 1024)

static bool valid_encoding(const char *e)
{
    return !strcmp(e, "utf-8") || !strcmp(e, "ascii") || !strcmp(e, "base64") || !strcmp(e, "hex");
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!l || i + l > n || (l == 2 && c < 0xC2))
            return false;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += l;
    }
    return true;
}

/* Reads --file as az does for --encoding: text for utf-8/ascii, else base64 (76-column lines, as
 * Python's base64.encodebytes) or hex of the bytes. */
static int file_value(struct cf_cli_run *r, const char *path, const char *enc, struct cf_buf *out)
{
    struct cf_buf raw;
    int rc;
    cf_buf_init(&raw, FILE_MAX);
    if ((rc = cf_cli_read_whole(r, path, &raw)) != 0)
        goto out;
    if (!strcmp(enc, "utf-8") || !strcmp(enc, "ascii")) {
        bool ok = valid_utf8((const unsigned char *)raw.data, raw.len);
        for (size_t i = 0; ok && !strcmp(enc, "ascii") && i < raw.len; i++)
            ok = (unsigned char)raw.data[i] < 0x80;
        if (!ok) {
            rc = cf_cli_fail(r, 1, "Unable to decode file '%s' with '%s' encoding.", path, enc);
            goto out;
        }
        if (raw.len && cf_buf_append(out, raw.data, raw.len) != CF_OK)
            rc = cf_cli_fail(r, 1, "out of memory");
    } else if (!strcmp(enc, "base64")) {
        struct cf_buf b64;
        cf_buf_init(&b64, FILE_MAX * 2);
        if (cf_b64_encode(&b64, raw.data, raw.len) != CF_OK) {
            rc = cf_cli_fail(r, 1, "out of memory");
        } else {
            for (size_t i = 0; !rc && i < b64.len; i += 76) {
                size_t l = CF_MIN(76, b64.len - i);
                if (cf_buf_append(out, b64.data + i, l) != CF_OK || cf_buf_putc(out, '\n') != CF_OK)
                    rc = cf_cli_fail(r, 1, "out of memory");
            }
        }
        cf_buf_wipe(&b64);
    } else {
        for (size_t i = 0; !rc && i < raw.len; i++) {
            char hx[3];
            cf_hex_encode(hx, raw.data + i, 1);
            if (cf_buf_append(out, hx, 2) != CF_OK)
                rc = cf_cli_fail(r, 1, "out of memory");
        }
    }
out:
    cf_buf_wipe(&raw);
    return rc;
}

/* ---- handlers ---- */

static struct cf_val *attributes_body(struct cf_cli_run *r, bool set_cmd)
{
    struct cf_val *at = cf_val_obj();
    const char *en = set_cmd ? cf_cli_arg(r, "--disabled") : cf_cli_arg(r, "--enabled");
    const char *exp = cf_cli_arg(r, "--expires"), *nbf = cf_cli_arg(r, "--not-before");
    int64_t t;
    cf_err e = CF_OK;
    if (!at)
        return NULL;
    if (en)
        e = cf_val_set(at, "enabled", cf_val_bool(set_cmd ? strcmp(en, "true") != 0
                                                          : strcmp(en, "true") == 0));
    if (!e && exp && cf_cli_parse_time(exp, &t))
        e = cf_val_set(at, "exp", cf_val_int(t));
    if (!e && nbf && cf_cli_parse_time(nbf, &t))
        e = cf_val_set(at, "nbf", cf_val_int(t));
    if (e) {
        cf_val_unref(at);
        return NULL;
    }
    return at;
}

int cf_cli_cmd_secret_set(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL, *tags = NULL;
    struct cf_buf val;
    const char *value = cf_cli_arg(r, "--value"), *file = cf_cli_arg(r, "--file");
    const char *enc = cf_cli_arg(r, "--encoding");
    const char *ct = cf_cli_arg(r, "--description");
    char url[2048];
    int rc;

    if (!ct)
        ct = cf_cli_arg(r, "--content-type");
    if ((rc = resolve(r, &a, true)) != 0)
        return rc;
    if ((value && file) || (!value && !file))
        return cf_cli_fail(r, 2, "incorrect usage: [Required] --value VALUE | --file PATH");
    if (!enc)
        enc = "utf-8";
    if (!valid_encoding(enc))
        return cf_cli_fail(r, 2,
                           "argument --encoding/-e: invalid choice: '%s' (choose from 'ascii', "
                           "'base64', 'hex', 'utf-8')",
                           enc);
    cf_buf_init(&val, FILE_MAX * 2);
    if (file) {
        if ((rc = file_value(r, file, enc, &val)) != 0)
            goto out;
    } else if (cf_buf_puts(&val, value) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    /* az records how the value was encoded, so download can undo it. */
    tags = cf_cli_tags(cf_cli_argv(r, "--tags"));
    body = cf_val_obj();
    if (!tags || !body || cf_val_set(tags, "file-encoding", cf_val_str(enc)) ||
        cf_val_set(body, "value", cf_val_strn(val.data ? val.data : "", val.len)) ||
        (ct && cf_val_set(body, "contentType", cf_val_str(ct))) ||
        cf_val_set(body, "attributes", attributes_body(r, true)) ||
        cf_val_set(body, "tags", cf_val_ref(tags))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    snprintf(url, sizeof(url), "%s/secrets/%s?" API, a.base, a.name);
    if ((rc = cf_cli_data_call(r, "PUT", url, body, &h)) != 0)
        goto out;
    rc = result_secret(r, &h, false);
out:
    cf_val_unref(tags);
    cf_val_unref(body);
    cf_buf_wipe(&val);
    return rc;
}

int cf_cli_cmd_secret_show(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_show_call(r, &SECRETS, &h)) != 0)
        return rc;
    return result_secret(r, &h, false);
}

int cf_cli_cmd_secret_list(struct cf_cli_run *r)
{
    return list_secrets(r, "secrets", false, "", false);
}

int cf_cli_cmd_secret_list_versions(struct cf_cli_run *r)
{
    return list_secrets(r, "secrets", true, "/versions", false);
}

int cf_cli_cmd_secret_list_deleted(struct cf_cli_run *r)
{
    return list_secrets(r, "deletedsecrets", false, "", true);
}

int cf_cli_cmd_secret_set_attributes(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj(), *at = attributes_body(r, false);
    const char *ct = cf_cli_arg(r, "--content-type");
    const struct cf_cli_arg *tags = cf_cli_argv(r, "--tags");
    int rc;

    if (!body || !at) {
        cf_val_unref(body);
        cf_val_unref(at);
        return cf_cli_fail(r, 1, "out of memory");
    }
    if ((rc = resolve(r, &a, true)) != 0)
        goto out;
    if ((ct && cf_val_set(body, "contentType", cf_val_str(ct))) ||
        (at->n && cf_val_set(body, "attributes", cf_val_ref(at))) ||
        (tags && cf_val_set(body, "tags", cf_cli_tags(tags)))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = cf_cli_version_call(r, &SECRETS, &a, "PATCH", body, &h)) != 0)
        goto out;
    rc = result_secret(r, &h, false);
out:
    cf_val_unref(at);
    cf_val_unref(body);
    return rc;
}

/* A bodyless call on {base}{prefix}{name}{suffix}; shape: -1 none, 0 bundle, 1 deleted. */
static int simple(struct cf_cli_run *r, const char *method, const char *prefix, const char *suffix,
                  int shape)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_named_call(r, &SECRETS, method, prefix, suffix, &h)) != 0)
        return rc;
    if (shape < 0) {
        cf_cli_http_release(&h);
        return 0;
    }
    return result_secret(r, &h, shape == 1);
}

int cf_cli_cmd_secret_delete(struct cf_cli_run *r)
{
    return simple(r, "DELETE", "/secrets/", "", 1);
}

int cf_cli_cmd_secret_recover(struct cf_cli_run *r)
{
    return simple(r, "POST", "/deletedsecrets/", "/recover", 0);
}

int cf_cli_cmd_secret_purge(struct cf_cli_run *r)
{
    return simple(r, "DELETE", "/deletedsecrets/", "", -1);
}

int cf_cli_cmd_secret_show_deleted(struct cf_cli_run *r)
{
    return simple(r, "GET", "/deletedsecrets/", "", 1);
}

int cf_cli_cmd_secret_backup(struct cf_cli_run *r)
{
    return cf_cli_backup(r, &SECRETS);
}

int cf_cli_cmd_secret_restore(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = id_with_vault(r)) != 0 || (rc = cf_cli_restore(r, &SECRETS, &h)) != 0)
        return rc;
    return result_secret(r, &h, false);
}

int cf_cli_cmd_secret_download(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_buf dec;
    struct stat st;
    const char *file = cf_cli_arg(r, "--file"), *enc = cf_cli_arg(r, "--encoding");
    const struct cf_val *v, *tag;
    int rc;

    if ((rc = resolve(r, &a, true)) != 0)
        return rc;
    if (enc && !valid_encoding(enc))
        return cf_cli_fail(r, 2,
                           "argument --encoding/-e: invalid choice: '%s' (choose from 'ascii', "
                           "'base64', 'hex', 'utf-8')",
                           enc);
    if (stat(file, &st) == 0)
        return cf_cli_fail(r, 1, "File or directory named '%s' already exists.", file);
    if ((rc = cf_cli_version_call(r, &SECRETS, &a, "GET", NULL, &h)) != 0)
        return rc;
    v = cf_val_get(h.body, "value");
    tag = cf_val_get(cf_val_get(h.body, "tags"), "file-encoding");
    if (!enc)
        enc = tag && tag->type == CF_VAL_STR && valid_encoding(tag->s) ? tag->s : "utf-8";
    cf_buf_init(&dec, 64 * 1024 * 1024);
    if (!v || v->type != CF_VAL_STR) {
        rc = cf_cli_fail(r, 1, "The secret has no value.");
    } else if (!strcmp(enc, "base64")) {
        /* Python's b64decode skips the line breaks encodebytes put in. */
        struct cf_buf clean;
        cf_buf_init(&clean, v->slen + 1);
        for (size_t i = 0; i < v->slen; i++)
            if (v->s[i] != '\n' && v->s[i] != '\r' && v->s[i] != ' ' &&
                cf_buf_putc(&clean, v->s[i]) != CF_OK)
                break;
        if (cf_b64_decode(&dec, cf_buf_str(&clean)) != CF_OK)
            rc = cf_cli_fail(r, 1, "Incorrect padding");
        cf_buf_wipe(&clean);
    } else if (!strcmp(enc, "hex")) {
        for (size_t i = 0; !rc && i + 1 < v->slen + (v->slen & 1); i += 2) {
            char pair[3] = {v->s[i], v->s[i + 1], 0}, *end;
            long b = strtol(pair, &end, 16);
            if (v->slen & 1 || *end || !pair[1] || cf_buf_putc(&dec, (char)b) != CF_OK)
                rc = cf_cli_fail(r, 1, "Non-hexadecimal digit found");
        }
    } else if (cf_buf_append(&dec, v->s, v->slen) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
    }
    if (!rc)
        rc = cf_cli_write_whole(r, file, dec.data ? dec.data : "", dec.len, true);
    cf_buf_wipe(&dec);
    cf_cli_http_release(&h);
    return rc;
}

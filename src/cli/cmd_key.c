/* cmd_key.c - `coffer keyvault key ...`: the data-plane key commands (api-version 7.5) with az's
 * argument names and result shapes (az 2.45's transform_key_output for bundles: attributes,
 * key with every JWK member - binary members in standard base64, null when absent - managed,
 * releasePolicy, tags; track-1 items with "name" from the kid; SDK result objects through
 * todict for sign/verify and the rotation policy).
 *
 * Crypto commands always call the service (az's SDK may do public-key operations locally; the
 * result is the same). Key material only passes through cf_val trees (wiped on free) and wiped
 * buffers; nothing of it reaches an error line.
 *
 * Map: option tables - addressing - shaping - small helpers - handlers. The plumbing it shares
 * with the certificate commands (addressing, files, backup/restore, lists) is in cmd_common.c. */
#include "base/cf.h"
#include "base/codec.h"
#include "base/secret.h"
#include "cli/cmd_key.h"

#include <sys/stat.h>

#define API "api-version=7.5"
#define FILE_MAX (4 * 1024 * 1024)

/* ---- option tables ---- */

/* clang-format off */
#define O_VAULT {"--vault-name", NULL, OPT_STR, false, "Name of the Key Vault."}
#define O_NAME {"--name", "-n", OPT_STR, false, "Name of the key. Required if --id is not specified."}
#define O_ID {"--id", NULL, OPT_STR, false, "Id of the key. If specified all other 'Id' arguments should be omitted."}
#define O_VERSION {"--version", "-v", OPT_STR, false, "The key version. If omitted, uses the latest version."}
#define O_OPS {"--ops", NULL, OPT_LIST, false, "Space-separated list of permitted JSON web key operations: decrypt, encrypt, export, import, sign, unwrapKey, verify, wrapKey."}
#define O_TAGS {"--tags", NULL, OPT_LIST, false, "Space-separated tags: key[=value] [key[=value] ...]."}
#define O_EXPIRES {"--expires", NULL, OPT_TIME, false, "Expiration UTC datetime (Y-m-d'T'H:M:S'Z')."}
#define O_NBF {"--not-before", NULL, OPT_TIME, false, "Key not usable before the provided UTC datetime (Y-m-d'T'H:M:S'Z')."}
#define O_POLICY {"--policy", NULL, OPT_STR, false, "The release policy: JSON, or a path to a file containing it."}
#define O_IMMUTABLE {"--immutable", NULL, OPT_BOOL, false, "Mark the release policy as immutable."}
#define O_END {NULL, NULL, OPT_STR, false, NULL}

const struct cf_cli_opt cf_cli_o_key_create[] = {
    O_VAULT, O_NAME, O_ID,
    {"--kty", NULL, OPT_STR, false, "The type of key to create: EC, EC-HSM, RSA, RSA-HSM, oct, oct-HSM."},
    {"--size", NULL, OPT_INT, false, "The key size in bits: 2048, 3072 or 4096 for RSA; 128, 192 or 256 for oct."},
    {"--curve", NULL, OPT_STR, false, "Elliptic curve name: P-256, P-256K, P-384, P-521."},
    {"--protection", "-p", OPT_STR, false, "Specifies the type of key protection: hsm, software."},
    O_OPS,
    {"--disabled", NULL, OPT_BOOL, false, "Create key in disabled state."},
    O_EXPIRES, O_NBF, O_TAGS,
    {"--exportable", NULL, OPT_BOOL, false, "Whether the private key can be exported."},
    O_POLICY, O_IMMUTABLE, O_END};
const struct cf_cli_opt cf_cli_o_key_import[] = {
    O_VAULT, O_NAME, O_ID,
    {"--pem-file", NULL, OPT_STR, false, "PEM file containing the key to be imported."},
    {"--pem-string", NULL, OPT_STR, false, "PEM string containing the key to be imported."},
    {"--pem-password", NULL, OPT_STR, false, "Password of PEM file (not supported: decrypt the key first)."},
    {"--byok-file", NULL, OPT_STR, false, "BYOK file (not supported by Coffer)."},
    {"--byok-string", NULL, OPT_STR, false, "BYOK string (not supported by Coffer)."},
    {"--kty", NULL, OPT_STR, false, "The type of key to import (only for BYOK)."},
    {"--curve", NULL, OPT_STR, false, "The curve name of the key to import (only for BYOK)."},
    {"--protection", "-p", OPT_STR, false, "Specifies the type of key protection: hsm, software."},
    O_OPS,
    {"--disabled", NULL, OPT_BOOL, false, "Create key in disabled state."},
    O_EXPIRES, O_NBF, O_TAGS,
    {"--exportable", NULL, OPT_BOOL, false, "Whether the private key can be exported."},
    O_POLICY, O_IMMUTABLE, O_END};
const struct cf_cli_opt cf_cli_o_key_show[] = {O_VAULT, O_NAME, O_ID, O_VERSION, O_END};
const struct cf_cli_opt cf_cli_o_key_named[] = {O_VAULT, O_NAME, O_ID, O_END};
const struct cf_cli_opt cf_cli_o_key_list[] = {
    O_VAULT,
    {"--id", NULL, OPT_STR, false, "Full URI of the Vault. If specified all other 'Id' arguments should be omitted."},
    {"--maxresults", NULL, OPT_INT, false, "Maximum number of results to return."},
    {"--include-managed", NULL, OPT_BOOL, false, "Include managed keys. Default: false."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_list_versions[] = {
    O_VAULT, O_NAME, O_ID,
    {"--maxresults", NULL, OPT_INT, false, "Maximum number of results to return."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_set_attrs[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--enabled", NULL, OPT_BOOL, false, "Enable the key."},
    O_EXPIRES, O_NBF, O_OPS, O_TAGS, O_POLICY, O_IMMUTABLE, O_END};
const struct cf_cli_opt cf_cli_o_key_file[] = {
    O_VAULT, O_NAME, O_ID,
    {"--file", "-f", OPT_STR, true, "Local file path in which to store key backup."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_restore[] = {
    O_VAULT,
    {"--id", NULL, OPT_STR, false, "Full URI of the Vault. If specified all other 'Id' arguments should be omitted."},
    {"--file", "-f", OPT_STR, true, "Local key backup from which to restore key."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_policy_update[] = {
    O_VAULT, O_NAME, O_ID,
    {"--value", NULL, OPT_STR, true, "The rotation policy file definition as JSON, or a path to a file containing JSON policy definition."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_encrypt[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--algorithm", "-a", OPT_STR, true, "Algorithm identifier: RSA-OAEP, RSA-OAEP-256, RSA1_5, A128GCM ..."},
    {"--value", NULL, OPT_STR, true, "The value to be encrypted. Default data type is Base64 encoded string."},
    {"--data-type", NULL, OPT_STR, false, "The type of the original data: base64 (default), plaintext."},
    {"--iv", NULL, OPT_STR, false, "Initialization vector (hex). Required for only AES-CBC(PAD) encryption."},
    {"--aad", NULL, OPT_STR, false, "Optional data (hex) that is authenticated but not encrypted. For use with AES-GCM encryption."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_decrypt[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--algorithm", "-a", OPT_STR, true, "Algorithm identifier: RSA-OAEP, RSA-OAEP-256, RSA1_5, A128GCM ..."},
    {"--value", NULL, OPT_STR, true, "The value to be decrypted (base64), e.g. the result of \"keyvault key encrypt\"."},
    {"--data-type", NULL, OPT_STR, false, "The type of the original data: base64 (default), plaintext."},
    {"--iv", NULL, OPT_STR, false, "The initialization vector (hex) used during encryption. Required for AES decryption."},
    {"--aad", NULL, OPT_STR, false, "Optional data (hex) that is authenticated but not encrypted. For use with AES-GCM decryption."},
    {"--tag", NULL, OPT_STR, false, "The authentication tag (hex) generated during encryption. Required for only AES-GCM decryption."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_sign[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--algorithm", "-a", OPT_STR, true, "Algorithm identifier: ES256, ES256K, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512."},
    {"--digest", NULL, OPT_STR, true, "The value (base64) to sign, a digest of the data."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_verify[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--algorithm", "-a", OPT_STR, true, "Algorithm identifier: ES256, ES256K, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512."},
    {"--digest", NULL, OPT_STR, true, "The digest (base64) used for signing."},
    {"--signature", NULL, OPT_STR, true, "The signature (base64) to be verified."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_download[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--file", "-f", OPT_STR, true, "File to receive the key contents."},
    {"--encoding", "-e", OPT_STR, false, "Encoding of the key: DER, PEM (default)."},
    O_END};
const struct cf_cli_opt cf_cli_o_key_random[] = {
    O_VAULT,
    {"--id", NULL, OPT_STR, false, "Full URI of the Vault."},
    {"--count", NULL, OPT_INT, true, "The requested number of random bytes."},
    O_END};

const struct cf_cli_col cf_cli_t_key_list[] = {
    {"Name", "name", true},
    {"Kid", "kid", true},
    {"Enabled", "attributes.enabled", true},
    {"Expires", "attributes.expires", true},
    {NULL, NULL, false}};
/* clang-format on */

/* ---- addressing ---- */

static const struct cf_cli_kind KEYS = {.coll = "keys", .noun = "key", .api = API};

/* Resolves the vault base URL and (when need_name) the key name. Returns an exit code or 0. */
static int resolve(struct cf_cli_run *r, struct cf_cli_addr *a, bool need_name)
{
    return cf_cli_resolve(r, &KEYS, need_name, a);
}

/* ---- shaping ---- */

/* base64url (the wire) -> standard base64 with padding (az's b64encode); null when absent. */
static struct cf_val *std_b64(const struct cf_val *v)
{
    struct cf_buf raw, enc;
    struct cf_val *out = NULL;
    if (!v || v->type != CF_VAL_STR)
        return cf_val_null();
    cf_buf_init(&raw, FILE_MAX);
    cf_buf_init(&enc, 2 * FILE_MAX);
    if (cf_b64_decode(&raw, (struct cf_str){v->s, v->slen}) != CF_OK)
        out = cf_val_strn(v->s, v->slen); /* not base64: show what came */
    else if (cf_b64_encode(&enc, raw.data ? raw.data : "", raw.len) == CF_OK)
        out = cf_val_strn(enc.data ? enc.data : "", enc.len);
    cf_buf_wipe(&raw);
    cf_buf_wipe(&enc);
    return out;
}

static struct cf_val *shape_attributes(const struct cf_val *a)
{
    struct cf_val *o = cf_val_obj();
    if (!o)
        return NULL;
    if (!a)
        return o;
    if (cf_val_set(o, "created", cf_cli_time_val(cf_val_get(a, "created"))) ||
        cf_val_set(o, "enabled", cf_cli_copy(cf_val_get(a, "enabled"))) ||
        cf_val_set(o, "expires", cf_cli_time_val(cf_val_get(a, "exp"))) ||
        cf_val_set(o, "exportable", cf_cli_copy(cf_val_get(a, "exportable"))) ||
        cf_val_set(o, "notBefore", cf_cli_time_val(cf_val_get(a, "nbf"))) ||
        cf_val_set(o, "recoverableDays", cf_cli_copy(cf_val_get(a, "recoverableDays"))) ||
        cf_val_set(o, "recoveryLevel", cf_cli_copy(cf_val_get(a, "recoveryLevel"))) ||
        cf_val_set(o, "updated", cf_cli_time_val(cf_val_get(a, "updated")))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* The JWK as az prints it: every member of JsonWebKey._FIELDS, key_ops as keyOps. */
static struct cf_val *shape_jwk(const struct cf_val *k)
{
    static const char *const bin[] = {"d", "dp", "dq", "e", "k", "n",
                                      "p", "q",  "qi", "t", "x", "y"};
    struct cf_val *o = cf_val_obj();
    cf_err e;
    if (!o)
        return NULL;
    e = cf_val_set(o, "crv", cf_cli_copy(cf_val_get(k, "crv")));
    if (!e)
        e = cf_val_set(o, "keyOps", cf_cli_copy(cf_val_get(k, "key_ops")));
    if (!e)
        e = cf_val_set(o, "kid", cf_cli_copy(cf_val_get(k, "kid")));
    if (!e)
        e = cf_val_set(o, "kty", cf_cli_copy(cf_val_get(k, "kty")));
    for (size_t i = 0; !e && i < CF_ARRAY_LEN(bin); i++)
        e = cf_val_set(o, bin[i], std_b64(cf_val_get(k, bin[i])));
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

static struct cf_val *shape_release_policy(const struct cf_val *p)
{
    struct cf_val *o;
    if (!p || p->type != CF_VAL_OBJ)
        return cf_val_null();
    o = cf_val_obj();
    if (!o || cf_val_set(o, "contentType", cf_cli_copy(cf_val_get(p, "contentType"))) ||
        cf_val_set(o, "encodedPolicy", cf_cli_copy(cf_val_get(p, "data"))) ||
        cf_val_set(o, "immutable", cf_cli_copy(cf_val_get(p, "immutable")))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* The name az derives from an id: its fifth '/'-separated part. */
static struct cf_val *name_from_id(const struct cf_val *id)
{
    int slashes = 0;
    if (!id || id->type != CF_VAL_STR)
        return cf_val_null();
    for (const char *p = id->s; *p; p++) {
        if (*p == '/' && ++slashes == 4) {
            const char *e = strchr(p + 1, '/');
            return cf_val_strn(p + 1, e ? (size_t)(e - p - 1) : strlen(p + 1));
        }
    }
    return cf_val_null();
}

struct cf_val *cf_cli_shape_key(const struct cf_val *b, bool deleted, bool item)
{
    struct cf_val *o = cf_val_obj();
    cf_err e;
    if (!o)
        return NULL;
    e = cf_val_set(o, "attributes", shape_attributes(cf_val_get(b, "attributes")));
    if (!e && deleted)
        e = cf_val_set(o, "deletedDate", cf_cli_time_val(cf_val_get(b, "deletedDate")));
    if (!e && item)
        e = cf_val_set(o, "kid", cf_cli_copy(cf_val_get(b, "kid")));
    if (!e && !item)
        e = cf_val_set(o, "key", shape_jwk(cf_val_get(b, "key")));
    if (!e)
        e = cf_val_set(o, "managed", cf_cli_copy(cf_val_get(b, "managed")));
    if (!e && item)
        e = cf_val_set(o, "name", name_from_id(cf_val_get(b, "kid")));
    if (!e && deleted)
        e = cf_val_set(o, "recoveryId", cf_cli_copy(cf_val_get(b, "recoveryId")));
    if (!e && !item)
        e = cf_val_set(o, "releasePolicy", shape_release_policy(cf_val_get(b, "release_policy")));
    if (!e && deleted)
        e = cf_val_set(o, "scheduledPurgeDate",
                       cf_cli_time_val(cf_val_get(b, "scheduledPurgeDate")));
    if (!e)
        e = cf_val_set(o, "tags", cf_cli_copy(cf_val_get(b, "tags")));
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct cf_val *cf_cli_shape_rotation_policy(const struct cf_val *p)
{
    const struct cf_val *at = cf_val_get(p, "attributes"), *acts = cf_val_get(p, "lifetimeActions");
    struct cf_val *o = cf_val_obj(), *arr = cf_val_arr();
    cf_err e = (!o || !arr) ? CF_ENOMEM : CF_OK;
    for (size_t i = 0; !e && acts && acts->type == CF_VAL_ARR && i < acts->n; i++) {
        const struct cf_val *a = acts->items[i], *trig = cf_val_get(a, "trigger");
        const struct cf_val *type = cf_val_get(cf_val_get(a, "action"), "type");
        struct cf_val *x = cf_val_obj();
        e = x ? CF_OK : CF_ENOMEM;
        if (!e)
            e = cf_val_set(x, "action", cf_cli_copy(type));
        if (!e)
            e = cf_val_set(x, "timeAfterCreate", cf_cli_copy(cf_val_get(trig, "timeAfterCreate")));
        if (!e)
            e = cf_val_set(x, "timeBeforeExpiry",
                           cf_cli_copy(cf_val_get(trig, "timeBeforeExpiry")));
        if (e)
            cf_val_unref(x);
        else
            e = cf_val_push(arr, x);
    }
    if (!e)
        e = cf_val_set(o, "createdOn", cf_cli_time_val(cf_val_get(at, "created")));
    if (!e)
        e = cf_val_set(o, "expiresIn", cf_cli_copy(cf_val_get(at, "expiryTime")));
    if (!e)
        e = cf_val_set(o, "id", cf_cli_copy(cf_val_get(p, "id")));
    if (!e) {
        e = cf_val_set(o, "lifetimeActions", arr);
        arr = NULL;
    }
    if (!e)
        e = cf_val_set(o, "updatedOn", cf_cli_time_val(cf_val_get(at, "updated")));
    cf_val_unref(arr);
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

static const struct cf_val *first_of(const struct cf_val *o, const char *a, const char *b)
{
    const struct cf_val *v = cf_val_get(o, a);
    return v && v->type != CF_VAL_NULL ? v : cf_val_get(o, b);
}

static bool is_str(const struct cf_val *v)
{
    return v && v->type == CF_VAL_STR;
}

struct cf_val *cf_cli_rotation_policy_body(const struct cf_val *in, char *why, size_t whysz)
{
    const struct cf_val *acts, *exp, *attrs;
    struct cf_val *body = cf_val_obj(), *arr = cf_val_arr(), *at = cf_val_obj();
    cf_err e = (!body || !arr || !at) ? CF_ENOMEM : CF_OK;

    snprintf(why, whysz, "%s", "");
    if (!in || in->type != CF_VAL_OBJ || in->n == 0) {
        snprintf(why, whysz, "Please specify a valid policy");
        goto fail;
    }
    acts = first_of(in, "lifetime_actions", "lifetimeActions");
    if (acts && acts->type != CF_VAL_ARR && acts->type != CF_VAL_NULL) {
        snprintf(why, whysz, "lifetime_actions must be a list");
        goto fail;
    }
    for (size_t i = 0; !e && acts && acts->type == CF_VAL_ARR && i < acts->n; i++) {
        const struct cf_val *a = acts->items[i], *act = cf_val_get(a, "action"), *type;
        const struct cf_val *trig = cf_val_get(a, "trigger"), *src = trig ? trig : a, *tac, *tbe;
        struct cf_val *x = cf_val_obj(), *t = cf_val_obj(), *ac = cf_val_obj();
        type = act && act->type == CF_VAL_OBJ ? cf_val_get(act, "type") : act;
        tac = first_of(src, "time_after_create", "timeAfterCreate");
        tbe = first_of(src, "time_before_expiry", "timeBeforeExpiry");
        e = (!x || !t || !ac) ? CF_ENOMEM : CF_OK;
        if (!e && !is_str(type)) {
            snprintf(why, whysz, "lifetime action %zu has no action type", i + 1);
            e = CF_EINVAL;
        }
        if (!e && is_str(tac))
            e = cf_val_set(t, "timeAfterCreate", cf_val_str(tac->s));
        if (!e && is_str(tbe))
            e = cf_val_set(t, "timeBeforeExpiry", cf_val_str(tbe->s));
        if (!e)
            e = cf_val_set(ac, "type", cf_val_str(type->s));
        if (!e) {
            e = cf_val_set(x, "trigger", t);
            t = NULL;
        }
        if (!e) {
            e = cf_val_set(x, "action", ac);
            ac = NULL;
        }
        cf_val_unref(t);
        cf_val_unref(ac);
        if (e)
            cf_val_unref(x);
        else
            e = cf_val_push(arr, x);
    }
    if (e)
        goto fail;
    exp = first_of(in, "expires_in", "expiry_time");
    attrs = cf_val_get(in, "attributes");
    if (attrs && attrs->type == CF_VAL_OBJ) {
        const struct cf_val *x = first_of(attrs, "expires_in", "expiry_time");
        exp = x && x->type != CF_VAL_NULL ? x : cf_val_get(attrs, "expiryTime");
    }
    if (!exp || exp->type == CF_VAL_NULL)
        exp = cf_val_get(in, "expiryTime");
    if (is_str(exp) && cf_val_set(at, "expiryTime", cf_val_str(exp->s)))
        goto fail;
    if (cf_val_set(body, "lifetimeActions", arr)) {
        arr = NULL;
        goto fail;
    }
    arr = NULL;
    if (cf_val_set(body, "attributes", at)) {
        at = NULL;
        goto fail;
    }
    return body;
fail:
    if (!why[0])
        snprintf(why, whysz, "out of memory");
    cf_val_unref(arr);
    cf_val_unref(at);
    cf_val_unref(body);
    return NULL;
}

/* ---- small helpers ---- */

/* JSON given inline, or the path of a file holding it (az's file_type + get_json_object). */
static int json_arg(struct cf_cli_run *r, const char *opt, const char *v, struct cf_val **out)
{
    struct cf_buf b;
    struct stat st;
    int rc = 0;
    *out = NULL;
    cf_buf_init(&b, FILE_MAX);
    if (stat(v, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((rc = cf_cli_read_whole(r, v, &b)) != 0)
            goto out;
    } else if (cf_buf_puts(&b, v) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (cf_val_parse(b.data ? b.data : "", b.len, out) != CF_OK || !*out ||
        (*out)->type != CF_VAL_OBJ) {
        cf_val_unref(*out);
        *out = NULL;
        rc = cf_cli_fail(r, 2, "argument %s: the value is not a JSON object or a file holding one",
                         opt);
    }
out:
    cf_buf_release(&b);
    return rc;
}

static const char *const KEY_OPS[] = {"encrypt", "decrypt",   "sign",   "verify",
                                      "wrapKey", "unwrapKey", "import", "export"};

/* --ops a b c -> ["a","b","c"] in canonical case (az's enum type is case-insensitive). */
static int ops_arg(struct cf_cli_run *r, const struct cf_cli_arg *a, struct cf_val **out)
{
    *out = cf_val_arr();
    if (!*out)
        return cf_cli_fail(r, 1, "out of memory");
    for (size_t i = 0; i < a->nlist; i++) {
        const char *canon = NULL;
        for (size_t k = 0; k < CF_ARRAY_LEN(KEY_OPS); k++)
            if (!strcasecmp(a->list[i], KEY_OPS[k]))
                canon = KEY_OPS[k];
        if (!canon) {
            cf_val_unref(*out);
            *out = NULL;
            return cf_cli_fail(r, 2,
                               "argument --ops: invalid choice: '%s' (choose from 'decrypt', "
                               "'encrypt', 'export', 'import', 'sign', 'unwrapKey', 'verify', "
                               "'wrapKey')",
                               a->list[i]);
        }
        if (cf_val_push(*out, cf_val_str(canon)) != CF_OK)
            return cf_cli_fail(r, 1, "out of memory");
    }
    return 0;
}

/* Case-insensitive choice; *canon gets the table's spelling. */
static int choice(struct cf_cli_run *r, const char *opt, const char *v, const char *const *set,
                  size_t n, const char **canon)
{
    char list[512];
    size_t l = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(v, set[i])) {
            *canon = set[i];
            return 0;
        }
    }
    list[0] = '\0';
    for (size_t i = 0; i < n && l < sizeof(list); i++) {
        int w = snprintf(list + l, sizeof(list) - l, "%s'%s'", i ? ", " : "", set[i]);
        if (w > 0)
            l += (size_t)w;
    }
    return cf_cli_fail(r, 2, "argument %s: invalid choice: '%s' (choose from %s)", opt, v, list);
}

/* attributes {enabled, nbf, exp, exportable} from the options present. */
static int attributes_body(struct cf_cli_run *r, bool create, struct cf_val **out)
{
    const char *en = create ? cf_cli_arg(r, "--disabled") : cf_cli_arg(r, "--enabled");
    const char *exp = cf_cli_arg(r, "--expires"), *nbf = cf_cli_arg(r, "--not-before");
    const char *xp = create ? cf_cli_arg(r, "--exportable") : NULL;
    int64_t t;
    cf_err e = CF_OK;
    *out = cf_val_obj();
    if (!*out)
        return cf_cli_fail(r, 1, "out of memory");
    /* az create/import always sends enabled (= not --disabled). */
    if (create)
        e = cf_val_set(*out, "enabled", cf_val_bool(!(en && !strcmp(en, "true"))));
    else if (en)
        e = cf_val_set(*out, "enabled", cf_val_bool(!strcmp(en, "true")));
    if (!e && nbf && cf_cli_parse_time(nbf, &t))
        e = cf_val_set(*out, "nbf", cf_val_int(t));
    if (!e && exp && cf_cli_parse_time(exp, &t))
        e = cf_val_set(*out, "exp", cf_val_int(t));
    if (!e && xp)
        e = cf_val_set(*out, "exportable", cf_val_bool(!strcmp(xp, "true")));
    return e ? cf_cli_fail(r, 1, "out of memory") : 0;
}

/* The common body members of create, import and set-attributes: key_ops, attributes, tags,
 * release_policy. */
static int common_body(struct cf_cli_run *r, bool create, struct cf_val *body, const char *ops_key)
{
    const struct cf_cli_arg *ops = cf_cli_argv(r, "--ops"), *tags = cf_cli_argv(r, "--tags");
    const char *pol = cf_cli_arg(r, "--policy"), *imm = cf_cli_arg(r, "--immutable");
    struct cf_val *v = NULL;
    int rc;

    if (ops) {
        if ((rc = ops_arg(r, ops, &v)) != 0)
            return rc;
        if (ops_key && cf_val_set(body, ops_key, v))
            return cf_cli_fail(r, 1, "out of memory");
        if (!ops_key)
            cf_val_unref(v);
    }
    if ((rc = attributes_body(r, create, &v)) != 0)
        return rc;
    if (v->n == 0)
        cf_val_unref(v);
    else if (cf_val_set(body, "attributes", v))
        return cf_cli_fail(r, 1, "out of memory");
    if (tags && cf_val_set(body, "tags", cf_cli_tags(tags)))
        return cf_cli_fail(r, 1, "out of memory");
    if (pol) {
        struct cf_val *pv = NULL, *rp;
        struct cf_buf txt, enc;
        cf_err e;
        if ((rc = json_arg(r, "--policy", pol, &pv)) != 0)
            return rc;
        cf_buf_init(&txt, FILE_MAX);
        cf_buf_init(&enc, 2 * FILE_MAX);
        rp = cf_val_obj();
        e = rp ? cf_val_dump(pv, &txt) : CF_ENOMEM;
        if (!e)
            e = cf_b64url_encode(&enc, txt.data ? txt.data : "", txt.len);
        if (!e)
            e = cf_val_set(rp, "contentType", cf_val_str("application/json; charset=utf-8"));
        if (!e)
            e = cf_val_set(rp, "data", cf_val_strn(enc.data ? enc.data : "", enc.len));
        if (!e && imm)
            e = cf_val_set(rp, "immutable", cf_val_bool(!strcmp(imm, "true")));
        if (!e) {
            e = cf_val_set(body, "release_policy", rp);
            rp = NULL;
        }
        cf_val_unref(rp);
        cf_val_unref(pv);
        cf_buf_release(&txt);
        cf_buf_release(&enc);
        if (e)
            return cf_cli_fail(r, 1, "out of memory");
    }
    return 0;
}

static int result_key(struct cf_cli_run *r, struct cf_cli_http *h, bool deleted)
{
    return cf_cli_set_result(r, h, cf_cli_shape_key(h->body, deleted, false));
}

/* Decodes standard or url base64 from an argument into out. */
static int b64_arg(struct cf_cli_run *r, const char *opt, const char *v, struct cf_buf *out)
{
    if (cf_b64_decode(out, cf_str_from(v)) != CF_OK)
        return cf_cli_fail(r, 2, "argument %s: invalid base64 value", opt);
    return 0;
}

/* Sets body[key] to base64url of the hex argument v (az's --iv/--aad/--tag are hex). */
static int hex_member(struct cf_cli_run *r, const char *opt, const char *v, struct cf_val *body,
                      const char *key)
{
    struct cf_buf raw, enc;
    size_t n = strlen(v);
    int rc = 0;
    cf_buf_init(&raw, 4096);
    cf_buf_init(&enc, 8192);
    if (n % 2) {
        rc = cf_cli_fail(r, 2, "argument %s: Odd-length string", opt);
        goto out;
    }
    for (size_t i = 0; i < n; i += 2) {
        char pair[3] = {v[i], v[i + 1], 0}, *end;
        long b = strtol(pair, &end, 16);
        if (*end || cf_buf_putc(&raw, (char)b) != CF_OK) {
            rc = cf_cli_fail(r, 2, "argument %s: Non-hexadecimal digit found", opt);
            goto out;
        }
    }
    if (cf_b64url_encode(&enc, raw.data ? raw.data : "", raw.len) ||
        cf_val_set(body, key, cf_val_strn(enc.data ? enc.data : "", enc.len)))
        rc = cf_cli_fail(r, 1, "out of memory");
out:
    cf_buf_release(&raw);
    cf_buf_release(&enc);
    return rc;
}

/* A wire base64url member -> hex string value (null when absent). */
static struct cf_val *hex_val(const struct cf_val *v)
{
    struct cf_buf raw;
    struct cf_val *out;
    char *hx;
    if (!v || v->type != CF_VAL_STR)
        return cf_val_null();
    cf_buf_init(&raw, 64 * 1024);
    if (cf_b64_decode(&raw, (struct cf_str){v->s, v->slen}) != CF_OK || !raw.len) {
        cf_buf_release(&raw);
        return cf_val_null();
    }
    hx = malloc(2 * raw.len + 1);
    if (hx)
        cf_hex_encode(hx, raw.data, raw.len);
    out = hx ? cf_val_str(hx) : NULL;
    free(hx);
    cf_buf_release(&raw);
    return out;
}

/* ---- handlers ---- */

static const char *const KTYS[] = {"EC", "EC-HSM", "RSA", "RSA-HSM", "oct", "oct-HSM"};
static const char *const CURVES[] = {"P-256", "P-256K", "P-384", "P-521"};
static const char *const PROTECTIONS[] = {"hsm", "software"};

int cf_cli_cmd_key_create(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL;
    const char *kty = cf_cli_arg(r, "--kty"), *crv = cf_cli_arg(r, "--curve");
    const char *prot = cf_cli_arg(r, "--protection"), *size = cf_cli_arg(r, "--size");
    char ktybuf[16], url[2048];
    int rc;

    if ((rc = resolve(r, &a, true)) != 0)
        return rc;
    if (kty && (rc = choice(r, "--kty", kty, KTYS, CF_ARRAY_LEN(KTYS), &kty)) != 0)
        return rc;
    if (crv && (rc = choice(r, "--curve", crv, CURVES, CF_ARRAY_LEN(CURVES), &crv)) != 0)
        return rc;
    if (prot && (rc = choice(r, "--protection", prot, PROTECTIONS, 2, &prot)) != 0)
        return rc;
    /* az's validate_key_type: EC when a curve is given, else RSA; --protection hsm adds -HSM. */
    if (!kty)
        kty = crv ? "EC" : "RSA";
    snprintf(ktybuf, sizeof(ktybuf), "%s", kty);
    if (prot && !strcmp(prot, "hsm") && !strstr(ktybuf, "-HSM"))
        snprintf(ktybuf, sizeof(ktybuf), "%s-HSM", kty);
    else if (prot && !strcmp(prot, "software") && strstr(ktybuf, "-HSM"))
        return cf_cli_fail(r, 1,
                           "The key type %s is invalid for software protected keys. "
                           "Omit --protection",
                           ktybuf);
    body = cf_val_obj();
    if (!body || cf_val_set(body, "kty", cf_val_str(ktybuf))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (size) {
        int64_t n = 0;
        cf_str_to_i64(cf_str_from(size), &n);
        if (cf_val_set(body, "key_size", cf_val_int(n))) {
            rc = cf_cli_fail(r, 1, "out of memory");
            goto out;
        }
    }
    if (crv && cf_val_set(body, "crv", cf_val_str(crv))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = common_body(r, true, body, "key_ops")) != 0)
        goto out;
    snprintf(url, sizeof(url), "%s/keys/%s/create?" API, a.base, a.name);
    if ((rc = cf_cli_data_call(r, "POST", url, body, &h)) != 0)
        goto out;
    rc = result_key(r, &h, false);
out:
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_key_import(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL, *jwk = NULL, *ops = NULL;
    const char *file = cf_cli_arg(r, "--pem-file"), *str = cf_cli_arg(r, "--pem-string");
    const char *prot = cf_cli_arg(r, "--protection");
    int nsrc = (file != NULL) + (str != NULL) + cf_cli_has(r, "--byok-file") +
               cf_cli_has(r, "--byok-string");
    struct cf_buf pem;
    char url[2048], why[200];
    int rc;

    cf_buf_init(&pem, FILE_MAX);
    if ((rc = resolve(r, &a, true)) != 0)
        goto out;
    if (nsrc != 1) {
        rc = cf_cli_fail(r, 2,
                         "supply exactly one: --byok-file, --byok-string, --pem-file, "
                         "--pem-string");
        goto out;
    }
    if (cf_cli_has(r, "--byok-file") || cf_cli_has(r, "--byok-string")) {
        rc = cf_cli_fail(r, 1,
                         "BYOK import needs an HSM key exchange key, which Coffer does not "
                         "provide; import the key from PEM instead");
        goto out;
    }
    if (cf_cli_has(r, "--pem-password")) {
        rc = cf_cli_fail(r, 1,
                         "Import failed: encrypted PEM is not supported; decrypt the key "
                         "first (openssl pkey -in KEY.pem -out PLAIN.pem)");
        goto out;
    }
    if (prot && (rc = choice(r, "--protection", prot, PROTECTIONS, 2, &prot)) != 0)
        goto out;
    if (file) {
        if ((rc = cf_cli_read_whole(r, file, &pem)) != 0)
            goto out;
    } else if (cf_buf_puts(&pem, str) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (cf_cli_pem_to_jwk(pem.data ? pem.data : "", pem.len, &jwk, why, sizeof(why)) != CF_OK) {
        rc = cf_cli_fail(r, 1, "Import failed: %s", why);
        goto out;
    }
    if (cf_cli_has(r, "--ops")) {
        if ((rc = ops_arg(r, cf_cli_argv(r, "--ops"), &ops)) != 0)
            goto out;
        if (cf_val_set(jwk, "key_ops", ops)) {
            ops = NULL;
            rc = cf_cli_fail(r, 1, "out of memory");
            goto out;
        }
        ops = NULL;
    }
    body = cf_val_obj();
    if (!body || cf_val_set(body, "key", cf_val_ref(jwk)) ||
        cf_val_set(body, "Hsm", cf_val_bool(prot && !strcmp(prot, "hsm")))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = common_body(r, true, body, NULL)) != 0)
        goto out;
    snprintf(url, sizeof(url), "%s/keys/%s?" API, a.base, a.name);
    if ((rc = cf_cli_data_call(r, "PUT", url, body, &h)) != 0)
        goto out;
    rc = result_key(r, &h, false);
out:
    cf_val_unref(ops);
    cf_val_unref(jwk);
    cf_val_unref(body);
    cf_buf_wipe(&pem);
    return rc;
}

int cf_cli_cmd_key_show(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_show_call(r, &KEYS, &h)) != 0)
        return rc;
    return result_key(r, &h, false);
}

static cf_err add_key_item(struct cf_cli_run *r, const struct cf_val *it, const void *deleted,
                           struct cf_val *out)
{
    if (cf_cli_managed_hidden(r, it))
        return CF_OK;
    return cf_val_push(out, cf_cli_shape_key(it, *(const bool *)deleted, true));
}

int cf_cli_cmd_key_list(struct cf_cli_run *r)
{
    bool deleted = false;
    return cf_cli_list_kind(r, &KEYS, "keys", false, "", "", add_key_item, &deleted);
}

int cf_cli_cmd_key_list_versions(struct cf_cli_run *r)
{
    bool deleted = false;
    return cf_cli_list_kind(r, &KEYS, "keys", true, "/versions", "", add_key_item, &deleted);
}

int cf_cli_cmd_key_list_deleted(struct cf_cli_run *r)
{
    bool deleted = true;
    return cf_cli_list_kind(r, &KEYS, "deletedkeys", false, "", "", add_key_item, &deleted);
}

int cf_cli_cmd_key_set_attributes(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj();
    int rc;

    if (!body)
        return cf_cli_fail(r, 1, "out of memory");
    if ((rc = resolve(r, &a, true)) != 0 || (rc = common_body(r, false, body, "key_ops")) != 0)
        goto out;
    if ((rc = cf_cli_version_call(r, &KEYS, &a, "PATCH", body, &h)) != 0)
        goto out;
    rc = result_key(r, &h, false);
out:
    cf_val_unref(body);
    return rc;
}

/* A bodyless call on {base}{prefix}{name}{suffix}; shape: -1 none, 0 bundle, 1 deleted. */
static int simple(struct cf_cli_run *r, const char *method, const char *prefix, const char *suffix,
                  int shape)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_named_call(r, &KEYS, method, prefix, suffix, &h)) != 0)
        return rc;
    if (shape < 0) {
        cf_cli_http_release(&h);
        return 0;
    }
    return result_key(r, &h, shape == 1);
}

int cf_cli_cmd_key_delete(struct cf_cli_run *r)
{
    return simple(r, "DELETE", "/keys/", "", 1);
}

int cf_cli_cmd_key_recover(struct cf_cli_run *r)
{
    return simple(r, "POST", "/deletedkeys/", "/recover", 0);
}

int cf_cli_cmd_key_purge(struct cf_cli_run *r)
{
    return simple(r, "DELETE", "/deletedkeys/", "", -1);
}

int cf_cli_cmd_key_show_deleted(struct cf_cli_run *r)
{
    return simple(r, "GET", "/deletedkeys/", "", 1);
}

int cf_cli_cmd_key_rotate(struct cf_cli_run *r)
{
    return simple(r, "POST", "/keys/", "/rotate", 0);
}

int cf_cli_cmd_key_backup(struct cf_cli_run *r)
{
    return cf_cli_backup(r, &KEYS);
}

int cf_cli_cmd_key_restore(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_restore(r, &KEYS, &h)) != 0)
        return rc;
    return result_key(r, &h, false);
}

int cf_cli_cmd_key_policy_show(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    char url[2048];
    int rc;
    if ((rc = resolve(r, &a, true)) != 0)
        return rc;
    snprintf(url, sizeof(url), "%s/keys/%s/rotationpolicy?" API, a.base, a.name);
    if ((rc = cf_cli_data_call(r, "GET", url, NULL, &h)) != 0)
        return rc;
    r->result = cf_cli_shape_rotation_policy(h.body);
    cf_cli_http_release(&h);
    return r->result ? 0 : cf_cli_fail(r, 1, "out of memory");
}

int cf_cli_cmd_key_policy_update(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *in = NULL, *body = NULL;
    char url[2048], why[200];
    int rc;
    if ((rc = resolve(r, &a, true)) != 0 ||
        (rc = json_arg(r, "--value", cf_cli_arg(r, "--value"), &in)) != 0)
        return rc;
    body = cf_cli_rotation_policy_body(in, why, sizeof(why));
    cf_val_unref(in);
    if (!body)
        return cf_cli_fail(r, 2, "%s", why);
    snprintf(url, sizeof(url), "%s/keys/%s/rotationpolicy?" API, a.base, a.name);
    rc = cf_cli_data_call(r, "PUT", url, body, &h);
    cf_val_unref(body);
    if (rc)
        return rc;
    r->result = cf_cli_shape_rotation_policy(h.body);
    cf_cli_http_release(&h);
    return r->result ? 0 : cf_cli_fail(r, 1, "out of memory");
}

static bool plaintext_type(struct cf_cli_run *r, int *rc)
{
    const char *dt = cf_cli_arg(r, "--data-type");
    static const char *const types[] = {"base64", "plaintext"};
    *rc = 0;
    if (!dt)
        return false;
    *rc = choice(r, "--data-type", dt, types, 2, &dt);
    return !*rc && !strcmp(dt, "plaintext");
}

/* POST {base}/keys/{name}/{version}/{op} with body; h gets the answer. */
static int key_op(struct cf_cli_run *r, struct cf_cli_addr *a, const char *op, struct cf_val *body,
                  struct cf_cli_http *h)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s/keys/%s/%s/%s?" API, a->base, a->name, a->version, op);
    return cf_cli_data_call(r, "POST", url, body, h);
}

/* The key id the result names: the service's kid, else the id of what was addressed. */
static struct cf_val *kid_of(const struct cf_val *body, const struct cf_cli_addr *a)
{
    const struct cf_val *kid = cf_val_get(body, "kid");
    char id[1024];
    if (is_str(kid))
        return cf_val_str(kid->s);
    snprintf(id, sizeof(id), "%s/keys/%s%s%s", a->base, a->name, a->version[0] ? "/" : "",
             a->version);
    return cf_val_str(id);
}

int cf_cli_cmd_key_encrypt(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL, *o = NULL;
    const char *alg = cf_cli_arg(r, "--algorithm"), *val = cf_cli_arg(r, "--value");
    const char *iv = cf_cli_arg(r, "--iv"), *aad = cf_cli_arg(r, "--aad");
    struct cf_buf pt, enc;
    bool plain;
    int rc;

    cf_buf_init(&pt, FILE_MAX);
    cf_buf_init(&enc, 2 * FILE_MAX);
    if ((rc = resolve(r, &a, true)) != 0)
        goto out;
    plain = plaintext_type(r, &rc);
    if (rc)
        goto out;
    if (plain ? cf_buf_puts(&pt, val) != CF_OK : (rc = b64_arg(r, "--value", val, &pt)) != 0) {
        if (!rc)
            rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    body = cf_val_obj();
    if (!body || cf_val_set(body, "alg", cf_val_str(alg)) ||
        cf_b64url_encode(&enc, pt.data ? pt.data : "", pt.len) ||
        cf_val_set(body, "value", cf_val_strn(enc.data ? enc.data : "", enc.len))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((iv && (rc = hex_member(r, "--iv", iv, body, "iv")) != 0) ||
        (aad && (rc = hex_member(r, "--aad", aad, body, "aad")) != 0))
        goto out;
    if ((rc = key_op(r, &a, "encrypt", body, &h)) != 0)
        goto out;
    o = cf_val_obj();
    if (!o || cf_val_set(o, "aad", hex_val(cf_val_get(h.body, "aad"))) ||
        cf_val_set(o, "algorithm", cf_val_str(alg)) ||
        cf_val_set(o, "iv", hex_val(cf_val_get(h.body, "iv"))) ||
        cf_val_set(o, "kid", kid_of(h.body, &a)) ||
        cf_val_set(o, "result", std_b64(cf_val_get(h.body, "value"))) ||
        cf_val_set(o, "tag", hex_val(cf_val_get(h.body, "tag")))) {
        cf_val_unref(o);
        o = NULL;
        rc = cf_cli_fail(r, 1, "out of memory");
    }
    cf_cli_http_release(&h);
    r->result = o;
out:
    cf_val_unref(body);
    cf_buf_wipe(&pt);
    cf_buf_wipe(&enc);
    return rc;
}

int cf_cli_cmd_key_decrypt(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL, *o = NULL;
    const char *alg = cf_cli_arg(r, "--algorithm"), *val = cf_cli_arg(r, "--value");
    const char *iv = cf_cli_arg(r, "--iv"), *aad = cf_cli_arg(r, "--aad");
    const char *tag = cf_cli_arg(r, "--tag");
    const struct cf_val *res;
    struct cf_buf ct, enc, pt;
    bool plain;
    int rc;

    cf_buf_init(&ct, FILE_MAX);
    cf_buf_init(&enc, 2 * FILE_MAX);
    cf_buf_init(&pt, FILE_MAX);
    if ((rc = resolve(r, &a, true)) != 0)
        goto out;
    plain = plaintext_type(r, &rc);
    if (rc || (rc = b64_arg(r, "--value", val, &ct)) != 0)
        goto out;
    body = cf_val_obj();
    if (!body || cf_val_set(body, "alg", cf_val_str(alg)) ||
        cf_b64url_encode(&enc, ct.data ? ct.data : "", ct.len) ||
        cf_val_set(body, "value", cf_val_strn(enc.data ? enc.data : "", enc.len))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((iv && (rc = hex_member(r, "--iv", iv, body, "iv")) != 0) ||
        (aad && (rc = hex_member(r, "--aad", aad, body, "aad")) != 0) ||
        (tag && (rc = hex_member(r, "--tag", tag, body, "tag")) != 0))
        goto out;
    if ((rc = key_op(r, &a, "decrypt", body, &h)) != 0)
        goto out;
    res = cf_val_get(h.body, "value");
    o = cf_val_obj();
    if (!is_str(res) || cf_b64_decode(&pt, (struct cf_str){res->s, res->slen}) != CF_OK) {
        rc = cf_cli_fail(r, 1, "The server returned no plaintext.");
    } else if (!o || cf_val_set(o, "algorithm", cf_val_str(alg)) ||
               cf_val_set(o, "kid", kid_of(h.body, &a)) ||
               cf_val_set(o, "result",
                          plain ? cf_val_strn(pt.data ? pt.data : "", pt.len) : std_b64(res))) {
        rc = cf_cli_fail(r, 1, "out of memory");
    }
    cf_cli_http_release(&h);
    if (!rc) {
        r->result = o;
        o = NULL;
    }
out:
    cf_val_unref(o);
    cf_val_unref(body);
    cf_buf_wipe(&ct);
    cf_buf_wipe(&enc);
    cf_buf_wipe(&pt);
    return rc;
}

/* Puts base64url of the base64 argument opt into body[key]. */
static int b64_member(struct cf_cli_run *r, const char *opt, struct cf_val *body, const char *key)
{
    struct cf_buf raw, enc;
    int rc;
    cf_buf_init(&raw, FILE_MAX);
    cf_buf_init(&enc, 2 * FILE_MAX);
    if ((rc = b64_arg(r, opt, cf_cli_arg(r, opt), &raw)) == 0 &&
        (cf_b64url_encode(&enc, raw.data ? raw.data : "", raw.len) ||
         cf_val_set(body, key, cf_val_strn(enc.data ? enc.data : "", enc.len))))
        rc = cf_cli_fail(r, 1, "out of memory");
    cf_buf_release(&raw);
    cf_buf_release(&enc);
    return rc;
}

int cf_cli_cmd_key_sign(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj(), *o = NULL;
    const char *alg = cf_cli_arg(r, "--algorithm");
    int rc;

    if (!body)
        return cf_cli_fail(r, 1, "out of memory");
    if ((rc = resolve(r, &a, true)) != 0)
        goto out;
    if (cf_val_set(body, "alg", cf_val_str(alg))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = b64_member(r, "--digest", body, "value")) != 0 ||
        (rc = key_op(r, &a, "sign", body, &h)) != 0)
        goto out;
    o = cf_val_obj();
    if (!o || cf_val_set(o, "algorithm", cf_val_str(alg)) ||
        cf_val_set(o, "keyId", kid_of(h.body, &a)) ||
        cf_val_set(o, "signature", std_b64(cf_val_get(h.body, "value")))) {
        cf_val_unref(o);
        o = NULL;
        rc = cf_cli_fail(r, 1, "out of memory");
    }
    cf_cli_http_release(&h);
    r->result = o;
out:
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_key_verify(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj(), *o = NULL;
    const char *alg = cf_cli_arg(r, "--algorithm");
    const struct cf_val *v;
    int rc;

    if (!body)
        return cf_cli_fail(r, 1, "out of memory");
    if ((rc = resolve(r, &a, true)) != 0)
        goto out;
    if (cf_val_set(body, "alg", cf_val_str(alg))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = b64_member(r, "--digest", body, "digest")) != 0 ||
        (rc = b64_member(r, "--signature", body, "value")) != 0 ||
        (rc = key_op(r, &a, "verify", body, &h)) != 0)
        goto out;
    v = cf_val_get(h.body, "value");
    o = cf_val_obj();
    if (!v || v->type != CF_VAL_BOOL) {
        rc = cf_cli_fail(r, 1, "The server returned no verification result.");
    } else if (!o || cf_val_set(o, "algorithm", cf_val_str(alg)) ||
               cf_val_set(o, "isValid", cf_val_bool(v->b)) ||
               cf_val_set(o, "keyId", kid_of(h.body, &a))) {
        rc = cf_cli_fail(r, 1, "out of memory");
    }
    cf_cli_http_release(&h);
    if (!rc) {
        r->result = o;
        o = NULL;
    }
out:
    cf_val_unref(o);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_key_download(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_buf der, pem;
    struct stat st;
    const char *file = cf_cli_arg(r, "--file"), *enc = cf_cli_arg(r, "--encoding");
    static const char *const encs[] = {"DER", "PEM"};
    char why[200];
    int rc;

    if ((rc = resolve(r, &a, true)) != 0)
        return rc;
    if (enc && (rc = choice(r, "--encoding", enc, encs, 2, &enc)) != 0)
        return rc;
    if (!enc)
        enc = "PEM";
    if (stat(file, &st) == 0)
        return cf_cli_fail(r, 1, "File or directory named '%s' already exists.", file);
    if ((rc = cf_cli_version_call(r, &KEYS, &a, "GET", NULL, &h)) != 0)
        return rc;
    cf_buf_init(&der, 64 * 1024);
    cf_buf_init(&pem, 128 * 1024);
    if (cf_cli_jwk_to_spki(cf_val_get(h.body, "key"), &der, why, sizeof(why)) != CF_OK)
        rc = cf_cli_fail(r, 1, "%s", why[0] ? why : "out of memory");
    else if (!strcmp(enc, "DER"))
        rc = cf_cli_write_whole(r, file, der.data, der.len, true);
    else if (cf_cli_pem_wrap("PUBLIC KEY", der.data, der.len, &pem) != CF_OK)
        rc = cf_cli_fail(r, 1, "out of memory");
    else
        rc = cf_cli_write_whole(r, file, pem.data, pem.len, true);
    cf_buf_release(&der);
    cf_buf_release(&pem);
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_key_random(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj(), *o = NULL;
    int64_t count = 0;
    char url[2048];
    int rc;

    if (!body)
        return cf_cli_fail(r, 1, "out of memory");
    if ((rc = resolve(r, &a, false)) != 0)
        goto out;
    cf_str_to_i64(cf_str_from(cf_cli_arg(r, "--count")), &count);
    if (cf_val_set(body, "count", cf_val_int(count))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    snprintf(url, sizeof(url), "%s/rng?" API, a.base);
    if ((rc = cf_cli_data_call(r, "POST", url, body, &h)) != 0)
        goto out;
    o = cf_val_obj();
    if (!o || cf_val_set(o, "value", std_b64(cf_val_get(h.body, "value")))) {
        cf_val_unref(o);
        o = NULL;
        rc = cf_cli_fail(r, 1, "out of memory");
    }
    cf_cli_http_release(&h);
    r->result = o;
out:
    cf_val_unref(body);
    return rc;
}

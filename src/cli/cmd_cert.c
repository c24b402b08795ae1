/* cmd_cert.c - `coffer keyvault certificate ...`: the data-plane certificate commands
 * (api-version 7.5) with az 2.45's argument names and result shapes. az 2.45 drives these
 * through the track-1 SDK, so what it prints is the msrest model through knack's todict:
 * camelCase attribute names, every model member present (null when absent), "name" derived
 * from the id (extract_subresource_name). Thumbprints are printed both as standard base64 and
 * as upper-case hex (x509ThumbprintHex, as later az releases add).
 *
 * Policies: one table per policy object names each member three ways (wire, az's snake model
 * attribute, its camelCase output); the same tables turn a user's policy into the wire form and
 * the wire's into az's output.
 *
 * Map: option tables - policy tables and conversion - shapes - small helpers - handlers. The
 * plumbing it shares with the key commands (addressing, files, backup/restore, lists) is in
 * cmd_common.c. */
#include "base/cf.h"
#include "base/codec.h"
#include "cli/cmd_cert.h"
#include "crypto/crypto.h"

#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#define API "api-version=7.5"
#define FILE_MAX (4 * 1024 * 1024)
#define POLL_MAX 120 /* seconds create waits for a non-Unknown operation */

/* ---- option tables ---- */

/* clang-format off */
#define O_VAULT {"--vault-name", NULL, OPT_STR, false, "Name of the Key Vault."}
#define O_NAME {"--name", "-n", OPT_STR, false, "Name of the certificate. Required if --id is not specified."}
#define O_ID {"--id", NULL, OPT_STR, false, "Id of the certificate. If specified all other 'Id' arguments should be omitted."}
#define O_VERSION {"--version", "-v", OPT_STR, false, "The certificate version. If omitted, uses the latest version."}
#define O_TAGS {"--tags", NULL, OPT_LIST, false, "Space-separated tags: key[=value] [key[=value] ...]."}
#define O_POLICY {"--policy", "-p", OPT_STR, false, "JSON encoded policy definition. Use @{file} to load from a file (e.g. @my_policy.json)."}
#define O_VAULT_ID {"--id", NULL, OPT_STR, false, "Full URI of the Vault. If specified all other 'Id' arguments should be omitted."}
#define O_MAX {"--maxresults", NULL, OPT_INT, false, "Maximum number of results to return."}
#define O_END {NULL, NULL, OPT_STR, false, NULL}

const struct cf_cli_opt cf_cli_o_cert_create[] = {
    O_VAULT, O_NAME, O_ID,
    {"--policy", "-p", OPT_STR, true, "JSON encoded policy definition. Use @{file} to load from a file (e.g. @my_policy.json)."},
    {"--disabled", NULL, OPT_BOOL, false, "Create certificate in disabled state."},
    {"--validity", NULL, OPT_INT, false, "Number of months the certificate is valid for. Overrides the value specified with --policy/-p."},
    O_TAGS, O_END};
const struct cf_cli_opt cf_cli_o_cert_import[] = {
    O_VAULT, O_NAME, O_ID,
    {"--file", "-f", OPT_STR, true, "PKCS12 file or PEM file containing the certificate and private key."},
    {"--password", NULL, OPT_STR, false, "If the private key in certificate is encrypted, the password used for encryption."},
    {"--disabled", NULL, OPT_BOOL, false, "Import the certificate in disabled state."},
    O_POLICY, O_TAGS, O_END};
const struct cf_cli_opt cf_cli_o_cert_show[] = {O_VAULT, O_NAME, O_ID, O_VERSION, O_END};
const struct cf_cli_opt cf_cli_o_cert_named[] = {O_VAULT, O_NAME, O_ID, O_END};
const struct cf_cli_opt cf_cli_o_cert_list[] = {
    O_VAULT, O_VAULT_ID, O_MAX,
    {"--include-pending", NULL, OPT_BOOL, false, "Specifies whether to include certificates which are not completely provisioned."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_list_versions[] = {O_VAULT, O_NAME, O_ID, O_MAX, O_END};
const struct cf_cli_opt cf_cli_o_cert_set_attrs[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--enabled", NULL, OPT_BOOL, false, "Enable the certificate."},
    O_POLICY, O_TAGS, O_END};
const struct cf_cli_opt cf_cli_o_cert_file[] = {
    O_VAULT, O_NAME, O_ID,
    {"--file", "-f", OPT_STR, true, "Local file path in which to store certificate backup."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_restore[] = {
    O_VAULT, O_VAULT_ID,
    {"--file", "-f", OPT_STR, true, "Local certificate backup from which to restore certificate."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_download[] = {
    O_VAULT, O_NAME, O_ID, O_VERSION,
    {"--file", "-f", OPT_STR, true, "File to receive the binary certificate contents."},
    {"--encoding", "-e", OPT_STR, false, "Encoding of the certificate: DER or PEM (default)."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_default_policy[] = {
    {"--scaffold", NULL, OPT_FLAG, false, "Create a fully formed policy structure with default values."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_pending[] = {
    O_VAULT,
    {"--name", "-n", OPT_STR, false, "Name of the pending certificate."},
    O_ID, O_END};
const struct cf_cli_opt cf_cli_o_cert_merge[] = {
    O_VAULT,
    {"--name", "-n", OPT_STR, false, "Name of the pending certificate."},
    O_ID,
    {"--file", "-f", OPT_STR, true, "File containing the certificate or certificate chain to merge."},
    {"--disabled", NULL, OPT_BOOL, false, "Merge the certificate in disabled state."},
    O_TAGS, O_END};
const struct cf_cli_opt cf_cli_o_cert_vault[] = {O_VAULT, O_VAULT_ID, O_END};
const struct cf_cli_opt cf_cli_o_cert_contact_add[] = {
    O_VAULT, O_VAULT_ID,
    {"--email", NULL, OPT_STR, true, "Contact e-mail address. Must be unique."},
    {"--name", NULL, OPT_STR, false, "Full contact name."},
    {"--phone", NULL, OPT_STR, false, "Contact phone number."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_contact_delete[] = {
    O_VAULT, O_VAULT_ID,
    {"--email", NULL, OPT_STR, true, "Contact e-mail address. Must be unique."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_issuer_create[] = {
    O_VAULT, O_VAULT_ID,
    {"--issuer-name", NULL, OPT_STR, true, "Certificate issuer name."},
    {"--provider-name", NULL, OPT_STR, true, "The certificate provider name."},
    {"--account-id", NULL, OPT_STR, false, "The issuer account id/username/etc."},
    {"--password", NULL, OPT_STR, false, "The issuer account password/secret/etc."},
    {"--organization-id", NULL, OPT_STR, false, "The organization id."},
    {"--disabled", NULL, OPT_BOOL, false, "Set issuer to disabled state."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_issuer_update[] = {
    O_VAULT, O_VAULT_ID,
    {"--issuer-name", NULL, OPT_STR, true, "Certificate issuer name."},
    {"--provider-name", NULL, OPT_STR, false, "The certificate provider name."},
    {"--account-id", NULL, OPT_STR, false, "The issuer account id/username/etc."},
    {"--password", NULL, OPT_STR, false, "The issuer account password/secret/etc."},
    {"--organization-id", NULL, OPT_STR, false, "The organization id."},
    {"--enabled", NULL, OPT_BOOL, false, "Set issuer enabled state."},
    O_END};
const struct cf_cli_opt cf_cli_o_cert_issuer_named[] = {
    O_VAULT, O_VAULT_ID,
    {"--issuer-name", NULL, OPT_STR, true, "Certificate issuer name."},
    O_END};
/* clang-format on */

/* ---- policy tables ---- */

enum pkind { P_VAL, P_TIME, P_OBJ, P_ARR_OBJ };
struct pmem {
    const char *wire, *az;   /* the wire's and az's output member names */
    const char *alias;       /* one more accepted spelling (az's snake model attribute) */
    enum pkind kind;
    const struct pmem *sub;  /* P_OBJ / P_ARR_OBJ */
};

static const struct pmem T_KEY[] = {
    {"crv", "curve", NULL, P_VAL, NULL},
    {"exportable", "exportable", NULL, P_VAL, NULL},
    {"key_size", "keySize", NULL, P_VAL, NULL},
    {"kty", "keyType", NULL, P_VAL, NULL},
    {"reuse_key", "reuseKey", NULL, P_VAL, NULL},
    {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_SECRET[] = {
    {"contentType", "contentType", NULL, P_VAL, NULL}, {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_SANS[] = {
    {"dns_names", "dnsNames", NULL, P_VAL, NULL},
    {"emails", "emails", NULL, P_VAL, NULL},
    {"upns", "upns", "user_principal_names", P_VAL, NULL},
    {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_X509[] = {
    {"ekus", "ekus", NULL, P_VAL, NULL},
    {"key_usage", "keyUsage", NULL, P_VAL, NULL},
    {"subject", "subject", NULL, P_VAL, NULL},
    {"sans", "subjectAlternativeNames", NULL, P_OBJ, T_SANS},
    {"validity_months", "validityInMonths", NULL, P_VAL, NULL},
    {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_ACTION[] = {
    {"action_type", "actionType", NULL, P_VAL, NULL}, {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_TRIGGER[] = {
    {"days_before_expiry", "daysBeforeExpiry", NULL, P_VAL, NULL},
    {"lifetime_percentage", "lifetimePercentage", NULL, P_VAL, NULL},
    {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_LIFETIME[] = {
    {"action", "action", NULL, P_OBJ, T_ACTION},
    {"trigger", "trigger", NULL, P_OBJ, T_TRIGGER},
    {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_ISSUER[] = {
    {"cert_transparency", "certificateTransparency", NULL, P_VAL, NULL},
    {"cty", "certificateType", NULL, P_VAL, NULL},
    {"name", "name", NULL, P_VAL, NULL},
    {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_ATTR[] = {
    {"created", "created", NULL, P_TIME, NULL},
    {"enabled", "enabled", NULL, P_VAL, NULL},
    {"exp", "expires", NULL, P_TIME, NULL},
    {"nbf", "notBefore", NULL, P_TIME, NULL},
    {"recoverableDays", "recoverableDays", NULL, P_VAL, NULL},
    {"recoveryLevel", "recoveryLevel", NULL, P_VAL, NULL},
    {"updated", "updated", NULL, P_TIME, NULL},
    {NULL, NULL, NULL, P_VAL, NULL}};
static const struct pmem T_POLICY[] = {
    {"attributes", "attributes", NULL, P_OBJ, T_ATTR},
    {"id", "id", NULL, P_VAL, NULL},
    {"issuer", "issuerParameters", NULL, P_OBJ, T_ISSUER},
    {"key_props", "keyProperties", NULL, P_OBJ, T_KEY},
    {"lifetime_actions", "lifetimeActions", NULL, P_ARR_OBJ, T_LIFETIME},
    {"secret_props", "secretProperties", NULL, P_OBJ, T_SECRET},
    {"x509_props", "x509CertificateProperties", NULL, P_OBJ, T_X509},
    {NULL, NULL, NULL, P_VAL, NULL}};

/* a and b equal ignoring case and underscores */
static bool loose_eq(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    for (;;) {
        while (*a == '_')
            a++;
        while (*b == '_')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
        a++;
        b++;
    }
}

/* Matching without case and underscores makes az's camelCase output name also match its snake
 * model attribute (keyProperties ~ key_properties). */
static const struct pmem *find_mem(const struct pmem *t, const char *key)
{
    for (; t->wire; t++) {
        if (loose_eq(key, t->wire) || loose_eq(key, t->az) || loose_eq(key, t->alias))
            return t;
    }
    return NULL;
}

/* user -> wire (to_wire) or wire -> az (!to_wire); NULL with why on a type error */
static struct cf_val *convert(const struct cf_val *in, const struct pmem *t, bool to_wire,
                              const char *where, char *why, size_t whysz);

static struct cf_val *convert_mem(const struct cf_val *v, const struct pmem *m, bool to_wire,
                                  char *why, size_t whysz)
{
    const char *name = to_wire ? m->wire : m->az;
    if (!v || v->type == CF_VAL_NULL)
        return cf_val_null();
    if (m->kind == P_OBJ)
        return convert(v, m->sub, to_wire, name, why, whysz);
    if (m->kind == P_ARR_OBJ) {
        struct cf_val *arr;
        if (v->type != CF_VAL_ARR) {
            snprintf(why, whysz, "policy member '%s' must be a list", name);
            return NULL;
        }
        arr = cf_val_arr();
        for (size_t i = 0; arr && i < v->n; i++) {
            struct cf_val *x = convert(v->items[i], m->sub, to_wire, name, why, whysz);
            if (!x || cf_val_push(arr, x) != CF_OK) {
                cf_val_unref(arr);
                return NULL;
            }
        }
        return arr;
    }
    if (m->kind == P_TIME && !to_wire)
        return cf_cli_time_val(v);
    return cf_cli_copy(v);
}

static struct cf_val *convert(const struct cf_val *in, const struct pmem *t, bool to_wire,
                              const char *where, char *why, size_t whysz)
{
    struct cf_val *o;
    if (!in || in->type != CF_VAL_OBJ) {
        snprintf(why, whysz, "policy member '%s' must be an object", where);
        return NULL;
    }
    o = cf_val_obj();
    if (!o)
        return NULL;
    if (to_wire) {
        for (size_t i = 0; i < in->n; i++) {
            const struct pmem *m = find_mem(t, in->keys[i]);
            struct cf_val *x;
            if (!m || in->items[i]->type == CF_VAL_NULL)
                continue; /* msrest ignores what it does not know */
            if (m->kind == P_TIME || !strcmp(m->wire, "id"))
                continue; /* read-only members */
            x = convert_mem(in->items[i], m, true, why, whysz);
            if (!x || cf_val_set(o, m->wire, x) != CF_OK) {
                cf_val_unref(o);
                return NULL;
            }
        }
        return o;
    }
    for (; t->wire; t++) {
        struct cf_val *x = convert_mem(cf_val_get(in, t->wire), t, false, why, whysz);
        if (!x || cf_val_set(o, t->az, x) != CF_OK) {
            cf_val_unref(o);
            return NULL;
        }
    }
    return o;
}

struct cf_val *cf_cli_cert_policy_body(const struct cf_val *in, char *why, size_t whysz)
{
    snprintf(why, whysz, "%s", "");
    if (!in || in->type != CF_VAL_OBJ) {
        snprintf(why, whysz, "the policy must be a JSON object");
        return NULL;
    }
    struct cf_val *o = convert(in, T_POLICY, true, "policy", why, whysz);
    if (!o && !why[0])
        snprintf(why, whysz, "out of memory");
    return o;
}

struct cf_val *cf_cli_shape_cert_policy(const struct cf_val *p)
{
    char why[128];
    if (!p || p->type != CF_VAL_OBJ)
        return cf_val_null();
    return convert(p, T_POLICY, false, "policy", why, sizeof(why));
}

/* ---- shapes ---- */

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

/* x5t (base64url) -> standard base64 (hex=false) or upper-case hex (hex=true). */
static struct cf_val *thumb(const struct cf_val *x5t, bool hex)
{
    struct cf_buf raw, enc;
    struct cf_val *out = NULL;
    if (!x5t || x5t->type != CF_VAL_STR)
        return cf_val_null();
    cf_buf_init(&raw, 256);
    cf_buf_init(&enc, 512);
    if (cf_b64_decode(&raw, (struct cf_str){x5t->s, x5t->slen}) != CF_OK || !raw.len) {
        out = cf_val_null();
    } else if (hex) {
        char h[2 * 64 + 1];
        size_t n = CF_MIN(raw.len, (size_t)64);
        cf_hex_encode(h, raw.data, n);
        for (size_t i = 0; h[i]; i++)
            h[i] = (char)toupper((unsigned char)h[i]);
        out = cf_val_str(h);
    } else if (cf_b64_encode(&enc, raw.data, raw.len) == CF_OK) {
        out = cf_val_strn(enc.data ? enc.data : "", enc.len);
    }
    cf_buf_release(&raw);
    cf_buf_release(&enc);
    return out;
}

static struct cf_val *cert_attrs(const struct cf_val *a)
{
    char why[64];
    if (!a || a->type != CF_VAL_OBJ)
        return cf_val_null();
    return convert(a, T_ATTR, false, "attributes", why, sizeof(why));
}

struct cf_val *cf_cli_shape_cert(const struct cf_val *b, enum cf_cli_cert_shape s)
{
    bool deleted = s == CF_CLI_CERT_DELETED || s == CF_CLI_CERT_DELETED_ITEM;
    bool item = s == CF_CLI_CERT_ITEM || s == CF_CLI_CERT_DELETED_ITEM;
    const struct cf_val *x5t = cf_val_get(b, "x5t");
    struct cf_val *o = cf_val_obj();
    cf_err e;
    if (!o)
        return NULL;
    e = cf_val_set(o, "attributes", cert_attrs(cf_val_get(b, "attributes")));
    if (!e && !item)
        e = cf_val_set(o, "cer", cf_cli_copy(cf_val_get(b, "cer")));
    if (!e && !item) {
        const struct cf_val *pol = cf_val_get(b, "policy");
        const struct cf_val *ct = cf_val_get(b, "contentType");
        if (!ct || ct->type != CF_VAL_STR)
            ct = cf_val_get(cf_val_get(pol, "secret_props"), "contentType");
        e = cf_val_set(o, "contentType", cf_cli_copy(ct));
    }
    if (!e && deleted)
        e = cf_val_set(o, "deletedDate", cf_cli_time_val(cf_val_get(b, "deletedDate")));
    if (!e)
        e = cf_val_set(o, "id", cf_cli_copy(cf_val_get(b, "id")));
    if (!e && !item)
        e = cf_val_set(o, "kid", cf_cli_copy(cf_val_get(b, "kid")));
    if (!e)
        e = cf_val_set(o, "name", name_from_id(cf_val_get(b, "id")));
    if (!e && !item)
        e = cf_val_set(o, "policy", cf_cli_shape_cert_policy(cf_val_get(b, "policy")));
    if (!e && deleted)
        e = cf_val_set(o, "recoveryId", cf_cli_copy(cf_val_get(b, "recoveryId")));
    if (!e && deleted)
        e = cf_val_set(o, "scheduledPurgeDate",
                       cf_cli_time_val(cf_val_get(b, "scheduledPurgeDate")));
    if (!e && !item)
        e = cf_val_set(o, "sid", cf_cli_copy(cf_val_get(b, "sid")));
    if (!e)
        e = cf_val_set(o, "tags", cf_cli_copy(cf_val_get(b, "tags")));
    if (!e)
        e = cf_val_set(o, "x509Thumbprint", thumb(x5t, false));
    if (!e)
        e = cf_val_set(o, "x509ThumbprintHex", thumb(x5t, true));
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct cf_val *cf_cli_shape_cert_op(const struct cf_val *op)
{
    char why[64];
    const struct cf_val *iss = cf_val_get(op, "issuer");
    struct cf_val *o = cf_val_obj();
    cf_err e;
    if (!o)
        return NULL;
    e = cf_val_set(o, "cancellationRequested", cf_cli_copy(cf_val_get(op, "cancellation_requested")));
    if (!e)
        e = cf_val_set(o, "csr", cf_cli_copy(cf_val_get(op, "csr")));
    if (!e)
        e = cf_val_set(o, "error", cf_cli_copy(cf_val_get(op, "error")));
    if (!e)
        e = cf_val_set(o, "id", cf_cli_copy(cf_val_get(op, "id")));
    if (!e)
        e = cf_val_set(o, "issuerParameters",
                       iss && iss->type == CF_VAL_OBJ
                           ? convert(iss, T_ISSUER, false, "issuer", why, sizeof(why))
                           : cf_val_null());
    if (!e)
        e = cf_val_set(o, "name", name_from_id(cf_val_get(op, "id")));
    if (!e)
        e = cf_val_set(o, "requestId", cf_cli_copy(cf_val_get(op, "request_id")));
    if (!e)
        e = cf_val_set(o, "status", cf_cli_copy(cf_val_get(op, "status")));
    if (!e)
        e = cf_val_set(o, "statusDetails", cf_cli_copy(cf_val_get(op, "status_details")));
    if (!e)
        e = cf_val_set(o, "target", cf_cli_copy(cf_val_get(op, "target")));
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct cf_val *cf_cli_shape_cert_contacts(const struct cf_val *c)
{
    const struct cf_val *list = cf_val_get(c, "contacts");
    struct cf_val *o = cf_val_obj(), *arr = cf_val_arr();
    cf_err e = (!o || !arr) ? CF_ENOMEM : CF_OK;
    for (size_t i = 0; !e && list && list->type == CF_VAL_ARR && i < list->n; i++) {
        const struct cf_val *x = list->items[i];
        struct cf_val *y = cf_val_obj();
        e = y ? CF_OK : CF_ENOMEM;
        if (!e)
            e = cf_val_set(y, "emailAddress", cf_cli_copy(cf_val_get(x, "email")));
        if (!e)
            e = cf_val_set(y, "name", cf_cli_copy(cf_val_get(x, "name")));
        if (!e)
            e = cf_val_set(y, "phone", cf_cli_copy(cf_val_get(x, "phone")));
        if (e)
            cf_val_unref(y);
        else
            e = cf_val_push(arr, y);
    }
    if (!e) {
        e = cf_val_set(o, "contactList", arr);
        arr = NULL;
    }
    if (!e)
        e = cf_val_set(o, "id", cf_cli_copy(cf_val_get(c, "id")));
    cf_val_unref(arr);
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct cf_val *cf_cli_shape_cert_issuer(const struct cf_val *i, bool item)
{
    const struct cf_val *cred = cf_val_get(i, "credentials"), *org = cf_val_get(i, "org_details");
    const struct cf_val *at = cf_val_get(i, "attributes");
    struct cf_val *o = cf_val_obj(), *c = NULL, *od = NULL, *a = NULL, *adm = NULL;
    cf_err e = o ? CF_OK : CF_ENOMEM;
    if (!e)
        e = cf_val_set(o, "id", cf_cli_copy(cf_val_get(i, "id")));
    if (!e)
        e = cf_val_set(o, "provider", cf_cli_copy(cf_val_get(i, "provider")));
    if (e || item)
        goto out;
    a = cf_val_obj();
    c = cf_val_obj();
    od = cf_val_obj();
    adm = cf_val_arr();
    e = (!a || !c || !od || !adm) ? CF_ENOMEM : CF_OK;
    if (!e)
        e = cf_val_set(a, "created", cf_cli_time_val(cf_val_get(at, "created")));
    if (!e)
        e = cf_val_set(a, "enabled", cf_cli_copy(cf_val_get(at, "enabled")));
    if (!e)
        e = cf_val_set(a, "updated", cf_cli_time_val(cf_val_get(at, "updated")));
    if (!e)
        e = cf_val_set(c, "accountId", cf_cli_copy(cf_val_get(cred, "account_id")));
    if (!e)
        e = cf_val_set(c, "password", cf_val_null()); /* never returned */
    {
        const struct cf_val *ad = cf_val_get(org, "admin_details");
        for (size_t k = 0; !e && ad && ad->type == CF_VAL_ARR && k < ad->n; k++) {
            const struct cf_val *x = ad->items[k];
            struct cf_val *y = cf_val_obj();
            e = y ? CF_OK : CF_ENOMEM;
            if (!e)
                e = cf_val_set(y, "emailAddress", cf_cli_copy(cf_val_get(x, "email")));
            if (!e)
                e = cf_val_set(y, "firstName", cf_cli_copy(cf_val_get(x, "first_name")));
            if (!e)
                e = cf_val_set(y, "lastName", cf_cli_copy(cf_val_get(x, "last_name")));
            if (!e)
                e = cf_val_set(y, "phone", cf_cli_copy(cf_val_get(x, "phone")));
            if (e)
                cf_val_unref(y);
            else
                e = cf_val_push(adm, y);
        }
    }
    if (!e) {
        e = cf_val_set(od, "adminDetails", adm);
        adm = NULL;
    }
    if (!e)
        e = cf_val_set(od, "id", cf_cli_copy(cf_val_get(org, "id")));
    if (!e) {
        e = cf_val_set(o, "attributes", a);
        a = NULL;
    }
    if (!e) {
        e = cf_val_set(o, "credentials", c);
        c = NULL;
    }
    if (!e) {
        e = cf_val_set(o, "organizationDetails", od);
        od = NULL;
    }
out:
    cf_val_unref(a);
    cf_val_unref(c);
    cf_val_unref(od);
    cf_val_unref(adm);
    if (e) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

struct cf_val *cf_cli_cert_default_policy(void)
{
    static const char txt[] =
        "{\"issuerParameters\":{\"certificateTransparency\":null,\"name\":\"Self\"},"
        "\"keyProperties\":{\"curve\":null,\"exportable\":true,\"keySize\":2048,"
        "\"keyType\":\"RSA\",\"reuseKey\":true},"
        "\"lifetimeActions\":[{\"action\":{\"actionType\":\"AutoRenew\"},"
        "\"trigger\":{\"daysBeforeExpiry\":90}}],"
        "\"secretProperties\":{\"contentType\":\"application/x-pkcs12\"},"
        "\"x509CertificateProperties\":{\"keyUsage\":[\"cRLSign\",\"dataEncipherment\","
        "\"digitalSignature\",\"keyEncipherment\",\"keyAgreement\",\"keyCertSign\"],"
        "\"subject\":\"CN=CLIGetDefaultPolicy\",\"validityInMonths\":12}}";
    struct cf_val *v = NULL;
    if (cf_val_parse(txt, sizeof(txt) - 1, &v) != CF_OK)
        return NULL;
    return v;
}

cf_err cf_cli_cert_pem(const void *der, size_t n, struct cf_buf *out)
{
    struct cf_buf b;
    cf_err e;
    cf_buf_init(&b, 2 * n + 16);
    e = cf_b64_encode(&b, der, n);
    if (!e)
        e = cf_buf_puts(out, "-----BEGIN CERTIFICATE-----\n");
    for (size_t off = 0; !e && off < b.len; off += 76) {
        e = cf_buf_append(out, b.data + off, CF_MIN((size_t)76, b.len - off));
        if (!e)
            e = cf_buf_putc(out, '\n');
    }
    if (!e)
        e = cf_buf_puts(out, "-----END CERTIFICATE-----\n");
    cf_buf_release(&b);
    return e;
}

struct cf_val *cf_cli_cert_x5c(const char *data, size_t n)
{
    static const char BEGIN[] = "-----BEGIN CERTIFICATE-----", END[] = "-----END CERTIFICATE-----";
    struct cf_val *arr = cf_val_arr();
    struct cf_buf raw, enc;
    const char *p = data, *lim = data + n;
    bool pem = false;

    if (!arr)
        return NULL;
    cf_buf_init(&raw, FILE_MAX);
    cf_buf_init(&enc, 2 * FILE_MAX);
    while (p < lim) {
        const char *b = memmem(p, (size_t)(lim - p), BEGIN, sizeof(BEGIN) - 1), *e;
        if (!b)
            break;
        b += sizeof(BEGIN) - 1;
        e = memmem(b, (size_t)(lim - b), END, sizeof(END) - 1);
        if (!e)
            goto fail;
        pem = true;
        cf_buf_reset(&raw);
        cf_buf_reset(&enc);
        /* the body without whitespace, then a decode/encode round trip validates it */
        for (const char *q = b; q < e; q++)
            if (!isspace((unsigned char)*q) && cf_buf_putc(&enc, *q) != CF_OK)
                goto fail;
        if (cf_b64_decode(&raw, (struct cf_str){enc.data ? enc.data : "", enc.len}) != CF_OK ||
            !raw.len)
            goto fail;
        cf_buf_reset(&enc);
        if (cf_b64_encode(&enc, raw.data, raw.len) != CF_OK ||
            cf_val_push(arr, cf_val_strn(enc.data, enc.len)) != CF_OK)
            goto fail;
        p = e + sizeof(END) - 1;
    }
    if (!pem) {
        /* DER: one certificate (an ASN.1 SEQUENCE) */
        if (n < 2 || (unsigned char)data[0] != 0x30 || cf_b64_encode(&enc, data, n) != CF_OK ||
            cf_val_push(arr, cf_val_strn(enc.data, enc.len)) != CF_OK)
            goto fail;
    }
    cf_buf_release(&raw);
    cf_buf_release(&enc);
    return arr;
fail:
    cf_buf_release(&raw);
    cf_buf_release(&enc);
    cf_val_unref(arr);
    return NULL;
}

/* ---- small helpers ---- */

/* An id's ".../pending" names the certificate (its latest version), as the operation's id does. */
static const struct cf_cli_kind CERTS = {
    .coll = "certificates", .noun = "certificate", .api = API, .latest_alias = "pending"};

static int resolve(struct cf_cli_run *r, struct cf_cli_addr *a, bool need_name)
{
    return cf_cli_resolve(r, &CERTS, need_name, a);
}

/* --policy: JSON text, "@file", or the path of a file holding JSON -> wire policy. */
static int policy_arg(struct cf_cli_run *r, struct cf_val **out)
{
    const char *v = cf_cli_arg(r, "--policy");
    struct cf_val *in = NULL;
    struct cf_buf b;
    struct stat st;
    char why[200];
    int rc = 0;

    *out = NULL;
    if (!v)
        return 0;
    cf_buf_init(&b, FILE_MAX);
    if (v[0] == '@' || (v[0] != '{' && stat(v, &st) == 0 && S_ISREG(st.st_mode))) {
        if ((rc = cf_cli_read_whole(r, v[0] == '@' ? v + 1 : v, &b)) != 0)
            goto out;
    } else if (cf_buf_puts(&b, v) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (cf_val_parse(b.data ? b.data : "", b.len, &in) != CF_OK || !in) {
        rc = cf_cli_fail(r, 2, "argument --policy/-p: the value is not valid JSON");
        goto out;
    }
    *out = cf_cli_cert_policy_body(in, why, sizeof(why));
    if (!*out)
        rc = cf_cli_fail(r, 2, "argument --policy/-p: %s", why);
out:
    cf_val_unref(in);
    cf_buf_release(&b);
    return rc;
}

static bool flag_true(struct cf_cli_run *r, const char *opt)
{
    const char *v = cf_cli_arg(r, opt);
    return v && !strcmp(v, "true");
}

/* body.attributes.enabled and body.tags from --disabled / --enabled / --tags */
static int attrs_tags(struct cf_cli_run *r, struct cf_val *body, bool create)
{
    const struct cf_cli_arg *tags = cf_cli_argv(r, "--tags");
    struct cf_val *a = NULL;
    if (create || cf_cli_has(r, "--enabled")) {
        a = cf_val_obj();
        if (!a || cf_val_set(a, "enabled", cf_val_bool(create ? !flag_true(r, "--disabled")
                                                               : flag_true(r, "--enabled"))) ||
            cf_val_set(body, "attributes", a))
            return cf_cli_fail(r, 1, "out of memory");
    }
    if (tags && cf_val_set(body, "tags", cf_cli_tags(tags)))
        return cf_cli_fail(r, 1, "out of memory");
    return 0;
}

static int result(struct cf_cli_run *r, struct cf_cli_http *h, struct cf_val *v)
{
    return cf_cli_set_result(r, h, v);
}

static void sleep_s(int s)
{
    struct timespec ts = {s, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- handlers ---- */

int cf_cli_cmd_cert_create(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL, *pol = NULL;
    const struct cf_val *iss;
    const char *validity = cf_cli_arg(r, "--validity");
    char url[2048];
    bool unknown;
    int rc;

    if ((rc = resolve(r, &a, true)) != 0 || (rc = policy_arg(r, &pol)) != 0)
        return rc;
    if (validity) {
        int64_t m = 0;
        struct cf_val *x = cf_val_get(pol, "x509_props");
        if (!x) {
            if (cf_val_set(pol, "x509_props", cf_val_obj()) != CF_OK) {
                rc = cf_cli_fail(r, 1, "out of memory");
                goto out;
            }
            x = cf_val_get(pol, "x509_props");
        }
        if (!cf_str_to_i64(cf_str_from(validity), &m) || x->type != CF_VAL_OBJ ||
            cf_val_set(x, "validity_months", cf_val_int(m)) != CF_OK) {
            rc = cf_cli_fail(r, 2, "argument --validity: invalid int value: '%s'", validity);
            goto out;
        }
    }
    iss = cf_val_get(cf_val_get(pol, "issuer"), "name");
    unknown = !iss || iss->type != CF_VAL_STR || !strcasecmp(iss->s, "unknown");
    body = cf_val_obj();
    if (!body || cf_val_set(body, "policy", cf_val_ref(pol))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = attrs_tags(r, body, true)) != 0)
        goto out;
    snprintf(url, sizeof(url), "%s/certificates/%s/create?" API, a.base, a.name);
    if ((rc = cf_cli_data_call(r, "POST", url, body, &h)) != 0)
        goto out;
    cf_cli_http_release(&h);
    /* az: an Unknown issuer's operation at once; otherwise poll until it is not inProgress */
    snprintf(url, sizeof(url), "%s/certificates/%s/pending?" API, a.base, a.name);
    for (int i = 0;; i++) {
        const struct cf_val *st;
        if ((rc = cf_cli_data_call(r, "GET", url, NULL, &h)) != 0)
            goto out;
        st = cf_val_get(h.body, "status");
        if (unknown || !st || st->type != CF_VAL_STR || strcmp(st->s, "inProgress") != 0 ||
            i >= POLL_MAX)
            break;
        cf_cli_http_release(&h);
        sleep_s(1);
    }
    rc = result(r, &h, cf_cli_shape_cert_op(h.body));
out:
    cf_val_unref(pol);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_cert_import(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL, *pol = NULL, *sp = NULL;
    const char *pwd = cf_cli_arg(r, "--password");
    struct cf_buf data, b64;
    char url[2048];
    bool pem;
    int rc;

    cf_buf_init(&data, FILE_MAX);
    cf_buf_init(&b64, 2 * FILE_MAX);
    if ((rc = resolve(r, &a, true)) != 0 || (rc = policy_arg(r, &pol)) != 0 ||
        (rc = cf_cli_read_whole(r, cf_cli_arg(r, "--file"), &data)) != 0)
        goto out;
    pem = data.len && memmem(data.data, data.len, "-----BEGIN", 10) != NULL;
    if (!pem && cf_b64_encode(&b64, data.data ? data.data : "", data.len) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (!pol)
        pol = cf_val_obj();
    /* az: the content type follows the file, whatever the policy said */
    sp = cf_val_obj();
    body = cf_val_obj();
    if (!pol || !sp || !body ||
        cf_val_set(sp, "contentType",
                   cf_val_str(pem ? "application/x-pem-file" : "application/x-pkcs12")) ||
        cf_val_set(pol, "secret_props", sp) ||
        cf_val_set(body, "value",
                   pem ? cf_val_strn(data.data, data.len)
                       : cf_val_strn(b64.data ? b64.data : "", b64.len)) ||
        cf_val_set(body, "policy", cf_val_ref(pol)) ||
        (pwd && cf_val_set(body, "pwd", cf_val_str(pwd)))) {
        sp = NULL;
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    sp = NULL;
    if ((rc = attrs_tags(r, body, true)) != 0)
        goto out;
    snprintf(url, sizeof(url), "%s/certificates/%s/import?" API, a.base, a.name);
    if ((rc = cf_cli_data_call(r, "POST", url, body, &h)) != 0)
        goto out;
    rc = result(r, &h, cf_cli_shape_cert(h.body, CF_CLI_CERT_BUNDLE));
out:
    cf_val_unref(sp);
    cf_val_unref(pol);
    cf_val_unref(body); /* the value and password are wiped with the tree */
    cf_buf_wipe(&data);
    cf_buf_wipe(&b64);
    return rc;
}

int cf_cli_cmd_cert_show(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_show_call(r, &CERTS, &h)) != 0)
        return rc;
    return result(r, &h, cf_cli_shape_cert(h.body, CF_CLI_CERT_BUNDLE));
}

/* shape CF_CLI_CERT_BUNDLE: an issuer list */
static cf_err add_cert_item(struct cf_cli_run *r, const struct cf_val *it, const void *shape,
                            struct cf_val *out)
{
    enum cf_cli_cert_shape s = *(const enum cf_cli_cert_shape *)shape;
    (void)r;
    return cf_val_push(out, s == CF_CLI_CERT_BUNDLE ? cf_cli_shape_cert_issuer(it, true)
                                                    : cf_cli_shape_cert(it, s));
}

static int list(struct cf_cli_run *r, const char *coll, bool named, const char *tail,
                enum cf_cli_cert_shape shape)
{
    return cf_cli_list_kind(r, &CERTS, coll, named, tail,
                            flag_true(r, "--include-pending") ? "includePending=true&" : "",
                            add_cert_item, &shape);
}

int cf_cli_cmd_cert_list(struct cf_cli_run *r)
{
    return list(r, "certificates", false, "", CF_CLI_CERT_ITEM);
}

int cf_cli_cmd_cert_list_versions(struct cf_cli_run *r)
{
    return list(r, "certificates", true, "/versions", CF_CLI_CERT_ITEM);
}

int cf_cli_cmd_cert_list_deleted(struct cf_cli_run *r)
{
    return list(r, "deletedcertificates", false, "", CF_CLI_CERT_DELETED_ITEM);
}

int cf_cli_cmd_cert_issuer_list(struct cf_cli_run *r)
{
    return list(r, "certificates/issuers", false, "", CF_CLI_CERT_BUNDLE);
}

/* A bodyless call on {base}{prefix}{name}{suffix}; shape < 0: prints nothing. */
static int simple(struct cf_cli_run *r, const char *method, const char *prefix, const char *suffix,
                  int shape)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_named_call(r, &CERTS, method, prefix, suffix, &h)) != 0)
        return rc;
    if (shape < 0) {
        cf_cli_http_release(&h);
        return 0;
    }
    if (!strcmp(suffix, "/pending"))
        return result(r, &h, cf_cli_shape_cert_op(h.body));
    return result(r, &h, cf_cli_shape_cert(h.body, (enum cf_cli_cert_shape)shape));
}

int cf_cli_cmd_cert_show_deleted(struct cf_cli_run *r)
{
    return simple(r, "GET", "/deletedcertificates/", "", CF_CLI_CERT_DELETED);
}

int cf_cli_cmd_cert_delete(struct cf_cli_run *r)
{
    return simple(r, "DELETE", "/certificates/", "", CF_CLI_CERT_DELETED);
}

int cf_cli_cmd_cert_recover(struct cf_cli_run *r)
{
    return simple(r, "POST", "/deletedcertificates/", "/recover", CF_CLI_CERT_BUNDLE);
}

int cf_cli_cmd_cert_purge(struct cf_cli_run *r)
{
    return simple(r, "DELETE", "/deletedcertificates/", "", -1);
}

int cf_cli_cmd_cert_pending_show(struct cf_cli_run *r)
{
    return simple(r, "GET", "/certificates/", "/pending", 0);
}

int cf_cli_cmd_cert_pending_delete(struct cf_cli_run *r)
{
    return simple(r, "DELETE", "/certificates/", "/pending", 0);
}

int cf_cli_cmd_cert_set_attributes(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj(), *pol = NULL;
    int rc;

    if (!body)
        return cf_cli_fail(r, 1, "out of memory");
    if ((rc = resolve(r, &a, true)) != 0 || (rc = policy_arg(r, &pol)) != 0 ||
        (rc = attrs_tags(r, body, false)) != 0)
        goto out;
    if (pol && cf_val_set(body, "policy", cf_val_ref(pol))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = cf_cli_version_call(r, &CERTS, &a, "PATCH", body, &h)) != 0)
        goto out;
    rc = result(r, &h, cf_cli_shape_cert(h.body, CF_CLI_CERT_BUNDLE));
out:
    cf_val_unref(pol);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_cert_backup(struct cf_cli_run *r)
{
    return cf_cli_backup(r, &CERTS);
}

int cf_cli_cmd_cert_restore(struct cf_cli_run *r)
{
    struct cf_cli_http h;
    int rc;
    if ((rc = cf_cli_restore(r, &CERTS, &h)) != 0)
        return rc;
    return result(r, &h, cf_cli_shape_cert(h.body, CF_CLI_CERT_BUNDLE));
}

int cf_cli_cmd_cert_download(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_buf der, pem;
    struct stat st;
    const char *file = cf_cli_arg(r, "--file"), *enc = cf_cli_arg(r, "--encoding");
    const struct cf_val *cer;
    int rc;

    if ((rc = resolve(r, &a, true)) != 0)
        return rc;
    if (!enc)
        enc = "PEM";
    if (strcasecmp(enc, "PEM") != 0 && strcasecmp(enc, "DER") != 0)
        return cf_cli_fail(r, 2,
                           "argument --encoding/-e: invalid choice: '%s' (choose from 'DER', "
                           "'PEM')",
                           enc);
    if (stat(file, &st) == 0)
        return cf_cli_fail(r, 1, "File or directory named '%s' already exists.", file);
    if ((rc = cf_cli_version_call(r, &CERTS, &a, "GET", NULL, &h)) != 0)
        return rc;
    cf_buf_init(&der, 64 * 1024);
    cf_buf_init(&pem, 128 * 1024);
    cer = cf_val_get(h.body, "cer");
    if (!cer || cer->type != CF_VAL_STR ||
        cf_b64_decode(&der, (struct cf_str){cer->s, cer->slen}) != CF_OK || !der.len)
        rc = cf_cli_fail(r, 1, "The certificate has no X.509 content yet (is it pending?).");
    else if (!strcasecmp(enc, "DER"))
        rc = cf_cli_write_whole(r, file, der.data, der.len, true);
    else if (cf_cli_cert_pem(der.data, der.len, &pem) != CF_OK)
        rc = cf_cli_fail(r, 1, "out of memory");
    else
        rc = cf_cli_write_whole(r, file, pem.data, pem.len, true);
    cf_buf_release(&der);
    cf_buf_release(&pem);
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_cert_default_policy(struct cf_cli_run *r)
{
    r->result = cf_cli_cert_default_policy();
    return r->result ? 0 : cf_cli_fail(r, 1, "out of memory");
}

int cf_cli_cmd_cert_pending_merge(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = NULL, *x5c;
    struct cf_buf data;
    char url[2048];
    int rc;

    cf_buf_init(&data, FILE_MAX);
    if ((rc = resolve(r, &a, true)) != 0 ||
        (rc = cf_cli_read_whole(r, cf_cli_arg(r, "--file"), &data)) != 0)
        goto out;
    x5c = cf_cli_cert_x5c(data.data ? data.data : "", data.len);
    if (!x5c || x5c->n == 0) {
        cf_val_unref(x5c);
        rc = cf_cli_fail(r, 1, "'%s' holds no PEM or DER certificate", cf_cli_arg(r, "--file"));
        goto out;
    }
    body = cf_val_obj();
    if (!body || cf_val_set(body, "x5c", x5c)) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = attrs_tags(r, body, true)) != 0)
        goto out;
    snprintf(url, sizeof(url), "%s/certificates/%s/pending/merge?" API, a.base, a.name);
    if ((rc = cf_cli_data_call(r, "POST", url, body, &h)) != 0)
        goto out;
    rc = result(r, &h, cf_cli_shape_cert(h.body, CF_CLI_CERT_BUNDLE));
out:
    cf_val_unref(body);
    cf_buf_release(&data);
    return rc;
}

/* GET contacts; *list = a copy of its "contacts" array ([] when none or 404). */
static int get_contacts(struct cf_cli_run *r, const struct cf_cli_addr *a, struct cf_val **list)
{
    struct cf_cli_http h;
    char url[2048], aud[600];
    const struct cf_val *c;
    int rc;
    snprintf(url, sizeof(url), "%s/certificates/contacts?" API, a->base);
    cf_cli_data_audience(r, aud, sizeof(aud));
    if ((rc = cf_cli_call(r, "GET", url, aud, NULL, true, &h)) != 0)
        return rc;
    c = cf_val_get(h.body, "contacts");
    *list = c && c->type == CF_VAL_ARR ? cf_cli_copy(c) : cf_val_arr();
    cf_cli_http_release(&h);
    return *list ? 0 : cf_cli_fail(r, 1, "out of memory");
}

int cf_cli_cmd_cert_contact_list(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    char url[2048];
    int rc;
    if ((rc = resolve(r, &a, false)) != 0)
        return rc;
    snprintf(url, sizeof(url), "%s/certificates/contacts?" API, a.base);
    if ((rc = cf_cli_data_call(r, "GET", url, NULL, &h)) != 0)
        return rc;
    return result(r, &h, cf_cli_shape_cert_contacts(h.body));
}

static int put_contacts(struct cf_cli_run *r, const struct cf_cli_addr *a, struct cf_val *list)
{
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj();
    char url[2048];
    int rc;
    if (!body || cf_val_set(body, "contacts", list)) {
        cf_val_unref(body);
        return cf_cli_fail(r, 1, "out of memory");
    }
    snprintf(url, sizeof(url), "%s/certificates/contacts?" API, a->base);
    rc = cf_cli_data_call(r, list->n ? "PUT" : "DELETE", url, list->n ? body : NULL, &h);
    cf_val_unref(body);
    if (rc)
        return rc;
    return result(r, &h, cf_cli_shape_cert_contacts(h.body));
}

int cf_cli_cmd_cert_contact_add(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_val *list = NULL, *c = NULL;
    const char *email = cf_cli_arg(r, "--email"), *name = cf_cli_arg(r, "--name");
    const char *phone = cf_cli_arg(r, "--phone");
    int rc;

    if ((rc = resolve(r, &a, false)) != 0 || (rc = get_contacts(r, &a, &list)) != 0)
        return rc;
    for (size_t i = 0; i < list->n; i++) {
        const struct cf_val *e = cf_val_get(list->items[i], "email");
        if (e && e->type == CF_VAL_STR && !strcmp(e->s, email)) {
            cf_val_unref(list);
            return cf_cli_fail(r, 1, "contact '%s' already exists", email);
        }
    }
    c = cf_val_obj();
    if (!c || cf_val_set(c, "email", cf_val_str(email)) ||
        (name && cf_val_set(c, "name", cf_val_str(name))) ||
        (phone && cf_val_set(c, "phone", cf_val_str(phone))) || cf_val_push(list, c)) {
        cf_val_unref(list);
        return cf_cli_fail(r, 1, "out of memory");
    }
    return put_contacts(r, &a, list);
}

int cf_cli_cmd_cert_contact_delete(struct cf_cli_run *r)
{
    struct cf_cli_addr a;
    struct cf_val *list = NULL, *keep;
    const char *email = cf_cli_arg(r, "--email");
    int rc;

    if ((rc = resolve(r, &a, false)) != 0 || (rc = get_contacts(r, &a, &list)) != 0)
        return rc;
    keep = cf_val_arr();
    for (size_t i = 0; keep && i < list->n; i++) {
        const struct cf_val *e = cf_val_get(list->items[i], "email");
        if (e && e->type == CF_VAL_STR && !strcmp(e->s, email))
            continue;
        if (cf_val_push(keep, cf_val_ref(list->items[i])) != CF_OK) {
            cf_val_unref(keep);
            keep = NULL;
        }
    }
    if (!keep) {
        cf_val_unref(list);
        return cf_cli_fail(r, 1, "out of memory");
    }
    if (keep->n == list->n) {
        cf_val_unref(list);
        cf_val_unref(keep);
        return cf_cli_fail(r, 1, "contact '%s' not found in vault '%s'", email, a.base);
    }
    cf_val_unref(list);
    return put_contacts(r, &a, keep);
}

static int issuer_url(struct cf_cli_run *r, struct cf_cli_addr *a, char *url, size_t n)
{
    char enc[256];
    int rc = resolve(r, a, false);
    if (rc)
        return rc;
    cf_cli_pct(cf_cli_arg(r, "--issuer-name"), enc, sizeof(enc));
    snprintf(url, n, "%s/certificates/issuers/%s?" API, a->base, enc);
    return 0;
}

static int issuer_write(struct cf_cli_run *r, bool update)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    struct cf_val *body = cf_val_obj(), *cred = NULL, *org = NULL, *at = NULL;
    const char *prov = cf_cli_arg(r, "--provider-name"), *acct = cf_cli_arg(r, "--account-id");
    const char *pwd = cf_cli_arg(r, "--password"), *orgid = cf_cli_arg(r, "--organization-id");
    char url[2048];
    cf_err e = body ? CF_OK : CF_ENOMEM;
    int rc;

    if (e)
        return cf_cli_fail(r, 1, "out of memory");
    if ((rc = issuer_url(r, &a, url, sizeof(url))) != 0)
        goto out;
    if (prov)
        e = cf_val_set(body, "provider", cf_val_str(prov));
    if (!e && (acct || pwd)) {
        cred = cf_val_obj();
        e = cred ? CF_OK : CF_ENOMEM;
        if (!e && acct)
            e = cf_val_set(cred, "account_id", cf_val_str(acct));
        if (!e && pwd)
            e = cf_val_set(cred, "pwd", cf_val_str(pwd));
        if (!e) {
            e = cf_val_set(body, "credentials", cred);
            cred = NULL;
        }
    }
    if (!e && orgid) {
        org = cf_val_obj();
        e = org ? cf_val_set(org, "id", cf_val_str(orgid)) : CF_ENOMEM;
        if (!e) {
            e = cf_val_set(body, "org_details", org);
            org = NULL;
        }
    }
    if (!e && (!update || cf_cli_has(r, "--enabled"))) {
        at = cf_val_obj();
        e = at ? cf_val_set(at, "enabled", cf_val_bool(update ? flag_true(r, "--enabled")
                                                              : !flag_true(r, "--disabled")))
               : CF_ENOMEM;
        if (!e) {
            e = cf_val_set(body, "attributes", at);
            at = NULL;
        }
    }
    if (e) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if ((rc = cf_cli_data_call(r, update ? "PATCH" : "PUT", url, body, &h)) != 0)
        goto out;
    rc = result(r, &h, cf_cli_shape_cert_issuer(h.body, false));
out:
    cf_val_unref(cred);
    cf_val_unref(org);
    cf_val_unref(at);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_cert_issuer_create(struct cf_cli_run *r)
{
    return issuer_write(r, false);
}

int cf_cli_cmd_cert_issuer_update(struct cf_cli_run *r)
{
    return issuer_write(r, true);
}

static int issuer_simple(struct cf_cli_run *r, const char *method)
{
    struct cf_cli_addr a;
    struct cf_cli_http h;
    char url[2048];
    int rc;
    if ((rc = issuer_url(r, &a, url, sizeof(url))) != 0 ||
        (rc = cf_cli_data_call(r, method, url, NULL, &h)) != 0)
        return rc;
    return result(r, &h, cf_cli_shape_cert_issuer(h.body, false));
}

int cf_cli_cmd_cert_issuer_show(struct cf_cli_run *r)
{
    return issuer_simple(r, "GET");
}

int cf_cli_cmd_cert_issuer_delete(struct cf_cli_run *r)
{
    return issuer_simple(r, "DELETE");
}

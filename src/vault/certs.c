/* certs.c - Key Vault certificates (azure-kv-certificates.md): policies, issuance (Self,
 * Unknown + merge), import, reads, updates, lists, soft delete, contacts, issuers, renewal.
 *
 * Map:
 *   policy      defaults (§3.2), parse of the wire JSON (members present replace), validation
 *               (§3.1), the JSON written back; stored as that JSON text on the object
 *   issuance    issue(): key version + secret version + certificate version with one version
 *               id, written in ONE store transaction with the operation's new state, so a
 *               certificate never exists without its key and secret (or the reverse)
 *   create      Self: key, CSR, self-signed, issued at once (operation "completed");
 *               CofferCA: the same, signed by the server's private CA (ca.c);
 *               Unknown: key (sealed in the operation row) + CSR, op "inProgress" until merge
 *   merge / import, get / update / policy, lists, delete / recover / purge (key and secret
 *   go with the certificate), contacts, issuers, cf_vault_certs_renew_due.
 *
 * The key side (managed key versions) is written through keys_import_int.c; the secret side
 * directly through the store's secret records, sealed exactly as secrets.c seals them (AAD
 * "secret\0<vault>\0<name>\0<version>"), so GET /secrets/{name} serves the PFX/PEM unchanged.
 * Caches: every committed (or attempted) write forgets the name in kcache and scache.
 * The secret's "kid" is stored as the path "/keys/{name}/{version}" (the domain has no host);
 * api/ prefixes the request's base URL. */
#include "base/cf.h"
#include <ctype.h>

#include "base/codec.h"
#include "base/json.h"
#include "base/log.h"

#include "store/store_certs.h"
#include "store/store_events.h"
#include "vault/cert_hsm.h"
#include "vault/certs_int.h"

#define PENDING_DETAILS_UNKNOWN                                                                     \
    "Pending certificate created. Please Perform Merge to complete the request."
#define PENDING_DETAILS_ACME                                                                        \
    "Pending certificate created. Certificate request is in progress. This may take some time "   \
    "based on the issuer provider. Please check again later."
#define SECRET_MAX (64 * 1024)   /* PFX base64 / PEM of a long chain */
#define POLICY_MAX (32 * 1024)
#define MONTH_S 2628000LL        /* 365 days / 12: 12 months = 365 days as the service does */
#define BACKDATE_S 600           /* notBefore = now - 10 min (§11) */
#define DAY_S 86400LL
#define RENEW_BATCH 64
#define CERT_AAD_MAX (12 + 21 + CF_MAX_NAME_LEN + 1)

static cf_err bad(char *why, size_t n, const char *fmt, ...) CF_PRINTF(3, 4);
static cf_err bad(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (why && n) {
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return CF_EBADPARAM;
}

static cf_err new_version(char out[CF_VERSION_HEX_LEN + 1], int64_t now_ms)
{
    unsigned char b[16];
    uint64_t t = (uint64_t)(now_ms > 0 ? now_ms : 0);
    cf_err e;

    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(t >> (40 - 8 * i));
    e = cf_random(b + 6, 10);
    if (!e)
        cf_hex_encode(out, b, 16);
    return e;
}

static char *dup_opt(const char *s, cf_err *e)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *e = CF_ENOMEM;
    return d;
}

static bool given(const struct cf_json *j)
{
    enum cf_json_type t = cf_json_type(j);
    return t != CF_JSON_NONE && t != CF_JSON_NULL;
}

/* Copies a JSON string member into out; false when it is not a string that fits. */
static bool str_into(const struct cf_json *j, char *out, size_t outsz)
{
    size_t len;
    const char *s = cf_json_str(j, &len);
    if (!s || len >= outsz || memchr(s, '\0', len))
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

/* ---------------- page tokens (base64url of the last name, or the last seq) ---------------- */

static cf_err token_decode(struct cf_str tok, char out[CF_MAX_NAME_LEN + 1])
{
    struct cf_buf b;
    cf_err e;

    out[0] = '\0';
    if (tok.len == 0)
        return CF_OK;
    if (tok.len > 200)
        return CF_EBADPARAM;
    cf_buf_init(&b, 200);
    e = cf_b64_decode(&b, tok);
    if (e || b.len == 0 || b.len > CF_MAX_NAME_LEN)
        e = CF_EBADPARAM;
    else
        memcpy(out, b.data, b.len + 1);
    cf_buf_release(&b);
    return e;
}

static void token_encode(const char *text, char next[CF_PAGE_TOKEN_MAX])
{
    struct cf_buf b;

    cf_buf_init(&b, CF_PAGE_TOKEN_MAX - 1);
    next[0] = '\0';
    if (cf_b64url_encode(&b, text, strlen(text)) == CF_OK)
        memcpy(next, b.data, b.len + 1);
    cf_buf_release(&b);
}

static int page_max(int max)
{
    return max <= 0 || max > CF_PAGE_MAX ? CF_PAGE_MAX : max;
}

/* ---------------- policy ---------------- */

static const char *const san_keys[] = {"dns_names", "emails", "upns", "uris", "ipAddresses"};

static void policy_defaults(struct cf_cert_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->exportable = true;
    snprintf(p->kty, sizeof(p->kty), "RSA");
    p->key_size = 2048;
    p->nekus = 2;
    snprintf(p->ekus[0], sizeof(p->ekus[0]), "1.3.6.1.5.5.7.3.1");
    snprintf(p->ekus[1], sizeof(p->ekus[1]), "1.3.6.1.5.5.7.3.2");
    p->key_usage = cf_cert_ku_parse(CF_STR("digitalSignature")) |
                   cf_cert_ku_parse(CF_STR("keyEncipherment"));
    p->validity_months = 12;
    p->enabled = true;
}

static cf_err parse_key_props(const struct cf_json *k, struct cf_cert_policy *p, char *why,
                              size_t n)
{
    const struct cf_json *j;
    int64_t i;

    if (cf_json_type(k) != CF_JSON_OBJECT)
        return bad(why, n, "Property 'key_props' must be an object.");
    if (given(j = cf_json_get(k, "exportable")) && !cf_json_bool(j, &p->exportable))
        return bad(why, n, "Property 'key_props.exportable' must be a boolean.");
    if (given(j = cf_json_get(k, "reuse_key")) && !cf_json_bool(j, &p->reuse_key))
        return bad(why, n, "Property 'key_props.reuse_key' must be a boolean.");
    if (given(j = cf_json_get(k, "kty"))) {
        char kty[16];
        if (!str_into(j, kty, sizeof(kty)) ||
            (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0 && !cf_cert_hsm_kty(kty)))
            return bad(why, n, "Property 'key_props.kty' must be RSA, RSA-HSM, EC or EC-HSM.");
        if (strcmp(kty, p->kty) != 0) {
            bool rsa = strncmp(kty, "RSA", 3) == 0;
            if (rsa != (strncmp(p->kty, "RSA", 3) == 0)) {
                p->key_size = rsa ? 2048 : 0;
                snprintf(p->crv, sizeof(p->crv), "%s", rsa ? "" : "P-256");
            }
            snprintf(p->kty, sizeof(p->kty), "%s", kty);
        }
    }
    /* §3.1: an -HSM key never leaves the token, so such a policy is never exportable (the
     * secret then holds the certificates only); an explicit true is a 400 */
    if (cf_cert_hsm_kty(p->kty)) {
        if (given(cf_json_get(k, "exportable")) && p->exportable)
            return bad(why, n, "Property 'key_props.exportable' must be false for key type %s: "
                               "an HSM-protected key cannot be exported.", p->kty);
        p->exportable = false;
    }
    if (given(j = cf_json_get(k, "key_size"))) {
        if (!cf_json_int(j, &i) || i < 0 || i > 16384)
            return bad(why, n, "Property 'key_props.key_size' must be an integer.");
        p->key_size = (int)i;
    }
    if (given(j = cf_json_get(k, "crv"))) {
        char crv[16];
        enum cf_crv c;
        if (!str_into(j, crv, sizeof(crv)) || !cf_crv_parse(cf_str_from(crv), &c))
            return bad(why, n, "Property 'key_props.crv' must be P-256, P-384, P-521 or P-256K.");
        snprintf(p->crv, sizeof(p->crv), "%s", cf_crv_name(c));
        if (strncmp(p->kty, "RSA", 3) == 0 && !given(cf_json_get(k, "kty"))) {
            snprintf(p->kty, sizeof(p->kty), "%s", cf_cert_hsm_kty(p->kty) ? "EC-HSM" : "EC");
            p->key_size = 0;
        }
    }
    return CF_OK;
}

static cf_err parse_x509(const struct cf_json *x, struct cf_cert_policy *p, char *why, size_t n)
{
    const struct cf_json *j;
    int64_t i;

    if (cf_json_type(x) != CF_JSON_OBJECT)
        return bad(why, n, "Property 'x509_props' must be an object.");
    if (given(j = cf_json_get(x, "subject")) && !str_into(j, p->subject, sizeof(p->subject)))
        return bad(why, n, "Property 'x509_props.subject' must be a string (up to 511 bytes).");
    if (given(j = cf_json_get(x, "sans"))) {
        if (cf_json_type(j) != CF_JSON_OBJECT)
            return bad(why, n, "Property 'x509_props.sans' must be an object.");
        p->nsans = 0;
        for (size_t k = 0; k < CF_ARRAY_LEN(san_keys); k++) {
            const struct cf_json *arr = cf_json_get(j, san_keys[k]);
            if (!given(arr))
                continue;
            if (cf_json_type(arr) != CF_JSON_ARRAY)
                return bad(why, n, "Property 'x509_props.sans.%s' must be an array of strings.",
                           san_keys[k]);
            for (size_t a = 0; a < cf_json_size(arr); a++) {
                if (p->nsans == CF_CERT_MAX_SANS)
                    return bad(why, n, "A certificate policy can have at most %d SANs.",
                               CF_CERT_MAX_SANS);
                if (!str_into(cf_json_at(arr, a), p->sans[p->nsans].value,
                              sizeof(p->sans[0].value)) ||
                    !p->sans[p->nsans].value[0])
                    return bad(why, n, "Property 'x509_props.sans.%s' must hold non-empty "
                                       "strings of up to 255 bytes.", san_keys[k]);
                p->sans[p->nsans++].kind = (int)k; /* san_keys is in enum cf_cert_san_kind order */
            }
        }
    }
    if (given(j = cf_json_get(x, "ekus"))) {
        if (cf_json_type(j) != CF_JSON_ARRAY || cf_json_size(j) > CF_CERT_MAX_EKUS)
            return bad(why, n, "Property 'x509_props.ekus' must be an array of up to 16 OIDs.");
        p->nekus = 0;
        for (size_t a = 0; a < cf_json_size(j); a++) {
            char *o = p->ekus[p->nekus];
            if (!str_into(cf_json_at(j, a), o, sizeof(p->ekus[0])) || !o[0] ||
                strspn(o, "0123456789.") != strlen(o) || o[0] == '.' || strstr(o, "..") ||
                o[strlen(o) - 1] == '.' || !strchr(o, '.'))
                return bad(why, n, "Property 'x509_props.ekus' must hold dotted OIDs.");
            p->nekus++;
        }
    }
    if (given(j = cf_json_get(x, "key_usage"))) {
        if (cf_json_type(j) != CF_JSON_ARRAY)
            return bad(why, n, "Property 'x509_props.key_usage' must be an array.");
        p->key_usage = 0;
        for (size_t a = 0; a < cf_json_size(j); a++) {
            size_t len;
            const char *s = cf_json_str(cf_json_at(j, a), &len);
            unsigned bit = s ? cf_cert_ku_parse((struct cf_str){s, len}) : 0;
            if (!bit)
                return bad(why, n, "Invalid key usage %.*s.", s ? (int)CF_MIN(len, 32) : 0,
                           s ? s : "");
            p->key_usage |= bit;
        }
    }
    if (given(j = cf_json_get(x, "validity_months"))) {
        if (!cf_json_int(j, &i) || i < 1 || i > 1200)
            return bad(why, n, "Property 'x509_props.validity_months' must be 1 to 1200.");
        p->validity_months = (int)i;
    }
    return CF_OK;
}

static cf_err parse_actions(const struct cf_json *arr, struct cf_cert_policy *p, char *why,
                            size_t n)
{
    if (cf_json_type(arr) != CF_JSON_ARRAY || cf_json_size(arr) > CF_CERT_MAX_ACTIONS)
        return bad(why, n, "Property 'lifetime_actions' must be an array of up to %d actions.",
                   CF_CERT_MAX_ACTIONS);
    p->nactions = 0;
    for (size_t a = 0; a < cf_json_size(arr); a++) {
        const struct cf_json *la = cf_json_at(arr, a);
        const struct cf_json *tr = cf_json_get(la, "trigger"), *pct, *days;
        struct cf_cert_lifetime *l = &p->actions[p->nactions];
        char act[32];
        int64_t i;

        memset(l, 0, sizeof(*l));
        if (cf_json_type(tr) != CF_JSON_OBJECT ||
            !str_into(cf_json_get(cf_json_get(la, "action"), "action_type"), act, sizeof(act)))
            return bad(why, n, "Each lifetime action needs a trigger and an action_type.");
        if (strcmp(act, "AutoRenew") == 0)
            l->action = CF_CERT_AUTORENEW;
        else if (strcmp(act, "EmailContacts") == 0)
            l->action = CF_CERT_EMAIL;
        else
            return bad(why, n, "Invalid action_type %s: use AutoRenew or EmailContacts.", act);
        pct = cf_json_get(tr, "lifetime_percentage");
        days = cf_json_get(tr, "days_before_expiry");
        if (given(pct) == given(days))
            return bad(why, n, "A lifetime action's trigger needs exactly one of "
                               "lifetime_percentage and days_before_expiry.");
        if (given(pct)) {
            if (!cf_json_int(pct, &i) || i < 1 || i > 99)
                return bad(why, n, "lifetime_percentage must be between 1 and 99.");
            l->pct = (int)i;
        } else {
            if (!cf_json_int(days, &i) || i < 1 || i > 36500)
                return bad(why, n, "days_before_expiry must be a positive integer.");
            l->days = (int)i;
        }
        p->nactions++;
    }
    return CF_OK;
}

/* Applies the members of j to p. *actions_given tells whether lifetime_actions was there. */
static cf_err policy_apply(const struct cf_json *j, struct cf_cert_policy *p, bool *actions_given,
                           char *why, size_t n)
{
    const struct cf_json *m;
    cf_err e = CF_OK;

    if (actions_given)
        *actions_given = false;
    if (cf_json_type(j) != CF_JSON_OBJECT)
        return bad(why, n, "The certificate policy must be an object.");
    if (given(m = cf_json_get(j, "key_props")))
        e = parse_key_props(m, p, why, n);
    if (!e && given(m = cf_json_get(j, "secret_props"))) {
        char ct[64];
        const struct cf_json *c = cf_json_get(m, "contentType");
        if (cf_json_type(m) != CF_JSON_OBJECT)
            return bad(why, n, "Property 'secret_props' must be an object.");
        if (given(c)) {
            if (!str_into(c, ct, sizeof(ct)) || (strcmp(ct, "application/x-pkcs12") != 0 &&
                                                  strcmp(ct, "application/x-pem-file") != 0))
                return bad(why, n, "Property 'secret_props.contentType' must be "
                                   "application/x-pkcs12 or application/x-pem-file.");
            p->pem = strcmp(ct, "application/x-pem-file") == 0;
        }
    }
    if (!e && given(m = cf_json_get(j, "x509_props")))
        e = parse_x509(m, p, why, n);
    if (!e && given(m = cf_json_get(j, "lifetime_actions"))) {
        e = parse_actions(m, p, why, n);
        if (actions_given)
            *actions_given = true;
    }
    if (!e && given(m = cf_json_get(j, "issuer"))) {
        const struct cf_json *c;
        if (cf_json_type(m) != CF_JSON_OBJECT)
            return bad(why, n, "Property 'issuer' must be an object.");
        if (given(c = cf_json_get(m, "name"))) {
            if (!str_into(c, p->issuer, sizeof(p->issuer)) || !p->issuer[0])
                return bad(why, n, "Property 'issuer.name' must be a non-empty string.");
            if (strcasecmp(p->issuer, "self") == 0)
                snprintf(p->issuer, sizeof(p->issuer), "Self");
            else if (strcasecmp(p->issuer, "unknown") == 0)
                snprintf(p->issuer, sizeof(p->issuer), "Unknown");
        }
        if (given(c = cf_json_get(m, "cty")) && !str_into(c, p->cty, sizeof(p->cty)))
            return bad(why, n, "Property 'issuer.cty' must be a string.");
        if (given(c = cf_json_get(m, "cert_transparency"))) {
            if (!cf_json_bool(c, &p->cert_transparency))
                return bad(why, n, "Property 'issuer.cert_transparency' must be a boolean.");
            p->has_ct = true;
        }
    }
    if (!e && given(m = cf_json_get(j, "attributes"))) {
        const struct cf_json *en = cf_json_get(m, "enabled");
        if (given(en) && !cf_json_bool(en, &p->enabled))
            return bad(why, n, "Property 'attributes.enabled' must be a boolean.");
    }
    return e;
}

/* The rules of §3.1 over a complete policy. */
static cf_err policy_check(struct cf_cert_policy *p, char *why, size_t n)
{
    if (!p->issuer[0])
        snprintf(p->issuer, sizeof(p->issuer), "Unknown"); /* omitted issuer = Unknown (Learn) */
    if (strncmp(p->kty, "RSA", 3) == 0) { /* RSA, RSA-HSM */
        if (p->key_size != 2048 && p->key_size != 3072 && p->key_size != 4096)
            return bad(why, n, "RSA key size %d is not supported: use 2048, 3072 or 4096.",
                       p->key_size);
        p->crv[0] = '\0';
    } else {
        enum cf_crv c;
        if (!p->crv[0])
            snprintf(p->crv, sizeof(p->crv), "P-256");
        if (!cf_crv_parse(cf_str_from(p->crv), &c))
            return bad(why, n, "Property 'key_props.crv' must be P-256, P-384, P-521 or P-256K.");
        if (p->key_size) {
            int want = c == CF_CRV_P384 ? 384 : c == CF_CRV_P521 ? 521 : 256;
            if (p->key_size != want)
                return bad(why, n, "Key size %d does not match curve %s.", p->key_size, p->crv);
        }
    }
    if (!p->subject[0] && p->nsans == 0)
        return bad(why, n, "The certificate policy needs a subject or subject alternative names.");
    for (size_t i = 0; i < p->nactions; i++)
        if (p->actions[i].days && p->actions[i].days > p->validity_months * 27)
            return bad(why, n, "days_before_expiry must be at most validity_months x 27.");
    return CF_OK;
}

static cf_err policy_from_text(const char *text, struct cf_cert_policy *p)
{
    struct cf_json *j = NULL;
    cf_err e;

    policy_defaults(p);
    if (!text || cf_json_parse(text, strlen(text), &j, NULL, 0) != CF_OK)
        return CF_ECORRUPT;
    e = policy_apply(j, p, NULL, NULL, 0);
    if (!e) {
        const struct cf_json *a = cf_json_get(j, "attributes");
        int64_t t;
        if (cf_json_int(cf_json_get(a, "created"), &t))
            p->created = t;
        if (cf_json_int(cf_json_get(a, "updated"), &t))
            p->updated = t;
    }
    cf_json_free(j);
    return e ? CF_ECORRUPT : CF_OK;
}

void cf_cert_policy_write(const struct cf_cert_policy *p, const char *id, struct cf_jw *w)
{
    cf_jw_obj_begin(w);
    if (id)
        cf_jw_kstr(w, "id", id);
    cf_jw_key(w, "key_props");
    cf_jw_obj_begin(w);
    cf_jw_kbool(w, "exportable", p->exportable);
    cf_jw_kstr(w, "kty", p->kty);
    if (p->key_size)
        cf_jw_kint(w, "key_size", p->key_size);
    if (p->crv[0])
        cf_jw_kstr(w, "crv", p->crv);
    cf_jw_kbool(w, "reuse_key", p->reuse_key);
    cf_jw_obj_end(w);
    cf_jw_key(w, "secret_props");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "contentType", p->pem ? "application/x-pem-file" : "application/x-pkcs12");
    cf_jw_obj_end(w);
    cf_jw_key(w, "x509_props");
    cf_jw_obj_begin(w);
    if (p->subject[0])
        cf_jw_kstr(w, "subject", p->subject);
    cf_jw_key(w, "sans");
    cf_jw_obj_begin(w);
    for (size_t k = 0; k < CF_ARRAY_LEN(san_keys); k++) {
        bool any = false;
        for (size_t i = 0; i < p->nsans; i++) {
            if (p->sans[i].kind != (int)k)
                continue;
            if (!any) {
                cf_jw_key(w, san_keys[k]);
                cf_jw_arr_begin(w);
                any = true;
            }
            cf_jw_str(w, p->sans[i].value);
        }
        if (any)
            cf_jw_arr_end(w);
    }
    cf_jw_obj_end(w);
    cf_jw_key(w, "ekus");
    cf_jw_arr_begin(w);
    for (size_t i = 0; i < p->nekus; i++)
        cf_jw_str(w, p->ekus[i]);
    cf_jw_arr_end(w);
    cf_jw_key(w, "key_usage");
    cf_jw_arr_begin(w);
    for (int i = 0; i < CF_CERT_KU_COUNT; i++)
        if (p->key_usage & (1u << i))
            cf_jw_str(w, cf_cert_ku_name(i));
    cf_jw_arr_end(w);
    cf_jw_kint(w, "validity_months", p->validity_months);
    cf_jw_key(w, "basic_constraints");
    cf_jw_obj_begin(w);
    cf_jw_kbool(w, "ca", false);
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
    cf_jw_key(w, "lifetime_actions");
    cf_jw_arr_begin(w);
    for (size_t i = 0; i < p->nactions; i++) {
        cf_jw_obj_begin(w);
        cf_jw_key(w, "trigger");
        cf_jw_obj_begin(w);
        if (p->actions[i].pct)
            cf_jw_kint(w, "lifetime_percentage", p->actions[i].pct);
        else
            cf_jw_kint(w, "days_before_expiry", p->actions[i].days);
        cf_jw_obj_end(w);
        cf_jw_key(w, "action");
        cf_jw_obj_begin(w);
        cf_jw_kstr(w, "action_type",
                   p->actions[i].action == CF_CERT_AUTORENEW ? "AutoRenew" : "EmailContacts");
        cf_jw_obj_end(w);
        cf_jw_obj_end(w);
    }
    cf_jw_arr_end(w);
    cf_jw_key(w, "issuer");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "name", p->issuer);
    if (p->cty[0])
        cf_jw_kstr(w, "cty", p->cty);
    if (p->has_ct)
        cf_jw_kbool(w, "cert_transparency", p->cert_transparency);
    cf_jw_obj_end(w);
    cf_jw_key(w, "attributes");
    cf_jw_obj_begin(w);
    cf_jw_kbool(w, "enabled", p->enabled);
    if (p->created)
        cf_jw_kint(w, "created", p->created);
    if (p->updated)
        cf_jw_kint(w, "updated", p->updated);
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

static cf_err policy_text(const struct cf_cert_policy *p, char **out)
{
    struct cf_buf b;
    struct cf_jw w;
    cf_err e;

    cf_buf_init(&b, POLICY_MAX);
    cf_jw_init(&w, &b);
    cf_cert_policy_write(p, NULL, &w);
    e = cf_jw_err(&w);
    *out = e ? NULL : cf_buf_detach(&b, NULL);
    if (!e && !*out)
        e = CF_ENOMEM;
    cf_buf_release(&b);
    return e;
}

/* A create's policy: defaults, the request's members, issuer-dependent lifetime default. */
static cf_err policy_for_create(const struct cf_json *j, struct cf_cert_policy *p, char *why,
                                size_t n)
{
    bool actions = false;
    cf_err e;

    policy_defaults(p);
    if (!j)
        return bad(why, n, "Property 'policy' is required.");
    e = policy_apply(j, p, &actions, why, n);
    if (!e)
        e = policy_check(p, why, n);
    if (!e && !actions) {
        p->nactions = 1;
        p->actions[0].pct = 80;
        p->actions[0].action = strcmp(p->issuer, "Self") == 0 ? CF_CERT_AUTORENEW : CF_CERT_EMAIL;
    }
    return e;
}

/* key_ops of the certificate's key from key_usage (§2, suggested mapping). */
static unsigned key_ops_for(const struct cf_cert_policy *p, bool ec)
{
    unsigned ops = 0;
    if (p->key_usage & (cf_cert_ku_parse(CF_STR("digitalSignature")) |
                        cf_cert_ku_parse(CF_STR("nonRepudiation"))))
        ops |= CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY;
    if (!ec && (p->key_usage & cf_cert_ku_parse(CF_STR("keyEncipherment"))))
        ops |= CF_KEY_OP_WRAP | CF_KEY_OP_UNWRAP | CF_KEY_OP_ENCRYPT | CF_KEY_OP_DECRYPT;
    if (!ec && (p->key_usage & cf_cert_ku_parse(CF_STR("dataEncipherment"))))
        ops |= CF_KEY_OP_ENCRYPT | CF_KEY_OP_DECRYPT;
    return ops ? ops : CF_KEY_OP_SIGN | CF_KEY_OP_VERIFY;
}

static cf_err generate_key(const struct cf_cert_policy *p, struct cf_kvkey **k)
{
    if (strcmp(p->kty, "EC") == 0) {
        enum cf_crv c = CF_CRV_P256;
        (void)cf_crv_parse(cf_str_from(p->crv), &c);
        return cf_kvkey_generate_ec(c, k);
    }
    return cf_kvkey_generate_rsa(p->key_size, 0, k);
}

/* A policy month and day in seconds: 365/12 days and a day, or the test-only month of
 * cf_vault_certs_set_month (cofferd --dev, dev_month_seconds) with 12/365 of it as the day. */
static int64_t month_s(const struct cf_vault_svc *svc)
{
    return svc->cert_month_s > 0 ? svc->cert_month_s : MONTH_S;
}

static int64_t day_s(const struct cf_vault_svc *svc)
{
    return svc->cert_month_s > 0 ? (int64_t)svc->cert_month_s * 12 / 365 : DAY_S;
}

void cf_vault_certs_set_month(struct cf_vault_svc *svc, int seconds)
{
    svc->cert_month_s = seconds > 0 ? seconds : 0;
}

/* The X.509 request of p (pointers into p and sans, which must outlive it). With a test
 * month there is no backdating: ten minutes would be many such months. */
static void req_from_policy(const struct cf_vault_svc *svc, const struct cf_cert_policy *p,
                            struct cf_cert_san *sans, const char **ekus, int64_t now,
                            struct cf_cert_req *r)
{
    memset(r, 0, sizeof(*r));
    r->subject = p->subject;
    for (size_t i = 0; i < p->nsans; i++) {
        sans[i].kind = (enum cf_cert_san_kind)p->sans[i].kind;
        sans[i].value = p->sans[i].value;
    }
    r->sans = sans;
    r->nsans = p->nsans;
    for (size_t i = 0; i < p->nekus; i++)
        ekus[i] = p->ekus[i];
    r->ekus = ekus;
    r->nekus = p->nekus;
    r->key_usage = p->key_usage;
    r->not_before = now - (svc->cert_month_s > 0 ? 0 : BACKDATE_S);
    r->not_after = now + (int64_t)p->validity_months * month_s(svc);
}

/* ---------------- records -> results ---------------- */

void cf_cert_meta_release(struct cf_cert_meta *m)
{
    if (!m)
        return;
    free(m->tags_json);
    free(m->policy);
    m->tags_json = NULL;
    m->policy = NULL;
    cf_buf_release(&m->cer);
}

void cf_cert_op_release(struct cf_cert_op *o)
{
    if (!o)
        return;
    free(o->status_details);
    free(o->error_json);
    o->status_details = o->error_json = NULL;
    cf_buf_release(&o->csr);
}

static void meta_init(struct cf_cert_meta *m)
{
    memset(m, 0, sizeof(*m));
    cf_buf_init(&m->cer, CF_STORE_CERT_DER_MAX);
}

/* Fills m from records (copying); with_policy parses the object's policy too. */
static cf_err meta_fill(struct cf_cert_meta *m, const struct cf_rec_cert_obj *o,
                        const struct cf_rec_cert_ver *v, bool with_policy)
{
    cf_err e = CF_OK;

    cf_buf_release(&m->cer);
    free(m->tags_json);
    free(m->policy);
    meta_init(m);
    snprintf(m->name, sizeof(m->name), "%s", o->name);
    memcpy(m->version, v->version, sizeof(m->version));
    m->enabled = v->enabled;
    m->nbf = v->nbf;
    m->exp = v->exp;
    m->created = v->created;
    m->updated = v->updated;
    memcpy(m->x5t, v->x5t, sizeof(m->x5t));
    m->preserve_order = v->preserve_order;
    m->deleted_date = o->deleted_date;
    m->scheduled_purge = o->scheduled_purge;
    m->tags_json = dup_opt(v->tags_json, &e);
    if (!e && v->cer.len)
        e = cf_buf_append(&m->cer, v->cer.data, v->cer.len);
    if (!e && with_policy) {
        m->policy = malloc(sizeof(*m->policy));
        if (!m->policy)
            return CF_ENOMEM;
        e = policy_from_text(o->policy, m->policy);
    }
    return e;
}

static void op_init(struct cf_cert_op *o)
{
    memset(o, 0, sizeof(*o));
    cf_buf_init(&o->csr, CF_STORE_CERT_DER_MAX);
}

static cf_err op_fill(struct cf_cert_op *out, const struct cf_rec_cert_obj *o,
                      const struct cf_rec_cert_pending *p)
{
    struct cf_json *j = NULL;
    cf_err e = CF_OK;

    cf_cert_op_release(out);
    op_init(out);
    snprintf(out->name, sizeof(out->name), "%s", o->name);
    memcpy(out->request_id, p->request_id, sizeof(out->request_id));
    memcpy(out->status, p->status, sizeof(out->status));
    out->status_details = dup_opt(p->status_details, &e);
    if (!e)
        out->error_json = dup_opt(p->error_json, &e);
    out->cancel_requested = p->cancel_requested;
    out->completed = strcmp(p->status, "completed") == 0;
    if (!e && p->csr.len)
        e = cf_buf_append(&out->csr, p->csr.data, p->csr.len);
    if (!e && p->issuer_json &&
        cf_json_parse(p->issuer_json, strlen(p->issuer_json), &j, NULL, 0) == CF_OK) {
        (void)str_into(cf_json_get(j, "name"), out->issuer, sizeof(out->issuer));
        (void)str_into(cf_json_get(j, "cty"), out->cty, sizeof(out->cty));
        out->has_ct = cf_json_bool(cf_json_get(j, "cert_transparency"), &out->cert_transparency);
        cf_json_free(j);
    }
    return e;
}

static cf_err issuer_json_of(const struct cf_cert_policy *p, char **out)
{
    struct cf_buf b;
    struct cf_jw w;
    cf_err e;

    cf_buf_init(&b, 1024);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "name", p->issuer);
    if (p->cty[0])
        cf_jw_kstr(&w, "cty", p->cty);
    if (p->has_ct)
        cf_jw_kbool(&w, "cert_transparency", p->cert_transparency);
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
    *out = e ? NULL : cf_buf_detach(&b, NULL);
    if (!e && !*out)
        e = CF_ENOMEM;
    cf_buf_release(&b);
    return e;
}

/* ---------------- issuance ---------------- */

/* AAD of a pending (CSR flow) private key: "certpending\0<vault id>\0<name_lc>". */
static size_t pending_aad(char out[CERT_AAD_MAX], int64_t vault_id, const char *name_lc)
{
    int n = snprintf(out, CERT_AAD_MAX, "certpending%c%lld%c%s", 0, (long long)vault_id, 0,
                     name_lc);
    return n > 0 ? (size_t)CF_MIN(n, CERT_AAD_MAX - 1) : 0;
}

/* Everything one issuance writes, prepared outside the transaction. */
struct issue {
    struct cf_vault_svc *svc;
    const struct cf_vault_ref *v;
    char name[CF_MAX_NAME_LEN + 1];
    char name_lc[CF_MAX_NAME_LEN + 1];
    int64_t now;
    struct cf_cert_policy *pol;    /* the object's policy after this write */
    char *policy_json;
    bool new_policy;               /* write pol as the object's policy */
    struct cf_rec_key_ver kver;
    struct cf_cert_hsm *hsm;       /* the key is on the token (cert_hsm.h; the cf_kvkey is NULL) */
    struct cf_rec_secret_ver sver;
    struct cf_rec_cert_ver cver;
    bool has_version;              /* a version is issued (not for an Unknown create) */
    struct cf_rec_cert_pending pend;
    enum { PEND_KEEP, PEND_PUT, PEND_DELETE, PEND_COMPLETE } pend_mode;
    bool create;                   /* refuse while an operation is inProgress */
    bool merge;                    /* needs the inProgress Unknown operation */
    struct cf_rec_cert_obj obj;    /* out */
    char why[160];
};

static void issue_init(struct issue *s, struct cf_vault_svc *svc, const struct cf_vault_ref *v)
{
    memset(s, 0, sizeof(*s));
    s->svc = svc;
    s->v = v;
    s->now = cf_vault_now(svc);
    cf_buf_init(&s->kver.priv, 16 * 1024);
    cf_buf_init(&s->sver.value, SECRET_MAX + CF_AEAD_OVERHEAD);
    cf_rec_cert_ver_init(&s->cver);
    cf_rec_cert_pending_init(&s->pend);
}

static void issue_release(struct issue *s)
{
    free(s->policy_json);
    cf_rec_key_ver_release(&s->kver);
    cf_rec_secret_ver_release(&s->sver);
    cf_rec_cert_ver_release(&s->cver);
    cf_rec_cert_pending_release(&s->pend);
    cf_rec_cert_obj_release(&s->obj);
}

/* The leaf of chain: the first certificate, or with preserve (a preserveCertOrder import,
 * which may list the CA first) the one whose public key is k's - x5t, cer, the validity and
 * the derived policy are the leaf's, while the chain keeps the order it came in. Issued and
 * merged chains, and imports without preserve, are leaf first (cf_cert_from_*), so only a
 * preserve import pays for the key comparisons. False on an empty or malformed chain. */
static bool chain_leaf(const struct cf_kvkey *k, bool preserve, const void *chain, size_t n,
                       const unsigned char **leaf, size_t *leaf_len)
{
    const unsigned char *der;
    size_t off = 0, len;

    if (!cf_cert_chain_next(chain, n, &off, leaf, leaf_len))
        return false;
    for (off = 0; preserve && cf_cert_chain_next(chain, n, &off, &der, &len);) {
        bool match = false;
        if (cf_cert_key_matches(der, len, k, &match) == CF_OK && match) {
            *leaf = der;
            *leaf_len = len;
            break;
        }
    }
    return true;
}

/* Builds the three version records for key k and chain (leaf first unless in asks to
 * preserve the order: chain_leaf). */
static cf_err issue_prepare(struct issue *s, const struct cf_kvkey *k, const void *chain,
                            size_t chain_len, const struct cf_cert_input *in)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[CF_SECRET_AAD_MAX];
    const unsigned char *leaf;
    size_t leaf_len;
    struct cf_cert_info info;
    struct cf_buf secret, b64;
    char version[33];
    cf_err e;

    if (!chain_leaf(k, in && in->preserve_order, chain, chain_len, &leaf, &leaf_len))
        return CF_EBADPARAM;
    if ((e = cf_cert_info(leaf, leaf_len, &info)) != CF_OK)
        return e;
    if ((e = new_version(version, cf_clock_ms(s->svc->clock))) != CF_OK)
        return e;
    /* the key */
    cf_rec_key_ver_release(&s->kver);
    if (s->hsm)
        e = cf_cert_hsm_key_version(s->svc, s->v, s->name_lc, version, s->hsm,
                                    key_ops_for(s->pol, strcmp(s->hsm->kty, "EC-HSM") == 0),
                                    &s->kver);
    else
        e = cf_key_cert_version(s->svc, s->v, s->name_lc, version, k,
                                key_ops_for(s->pol, cf_kvkey_type(k) == CF_KTY_EC), &s->kver);
    if (e)
        return e;
    s->kver.created = s->kver.updated = s->now;
    s->kver.nbf = info.not_before;
    s->kver.exp = info.not_after;
    /* the certificate */
    memcpy(s->cver.version, version, sizeof(version));
    memcpy(s->cver.key_version, version, sizeof(version));
    memcpy(s->cver.secret_version, version, sizeof(version));
    s->cver.created = s->cver.updated = s->now;
    s->cver.enabled = true;
    s->cver.nbf = info.not_before;
    s->cver.exp = info.not_after;
    s->cver.preserve_order = in && in->preserve_order;
    {
        struct cf_buf t;
        cf_buf_init(&t, sizeof(s->cver.x5t) - 1);
        e = cf_b64url_encode(&t, info.sha1, sizeof(info.sha1));
        if (!e)
            memcpy(s->cver.x5t, t.data, t.len + 1);
        cf_buf_release(&t);
        if (e)
            return e;
    }
    if ((e = cf_buf_append(&s->cver.cer, leaf, leaf_len)) != CF_OK ||
        (e = cf_buf_append(&s->cver.chain, chain, chain_len)) != CF_OK)
        return e;
    if (in && in->has_enabled)
        s->cver.enabled = s->kver.enabled = in->enabled;
    s->kver.enabled = s->cver.enabled;
    if (in && in->has_tags) {
        s->cver.tags_json = dup_opt(in->tags_json, &e);
        if (!e)
            s->kver.tags_json = dup_opt(in->tags_json, &e);
        if (e)
            return e;
    }
    /* the secret: PFX (base64) or PEM, with the key when exportable */
    cf_buf_init(&secret, SECRET_MAX);
    cf_buf_init(&b64, SECRET_MAX);
    if (s->pol->pem) {
        e = cf_cert_to_pem(s->pol->exportable ? k : NULL, chain, chain_len, &secret);
    } else {
        e = cf_cert_to_pkcs12(s->pol->exportable ? k : NULL, chain, chain_len, &secret);
        if (!e)
            e = cf_b64_encode(&b64, secret.data, secret.len);
    }
    memcpy(s->sver.version, version, sizeof(version));
    s->sver.created = s->sver.updated = s->now;
    s->sver.enabled = s->cver.enabled;
    s->sver.nbf = info.not_before;
    s->sver.exp = info.not_after;
    s->sver.managed = true;
    snprintf(s->sver.kid, sizeof(s->sver.kid), "/keys/%s/%s", s->name, version);
    if (!e)
        s->sver.content_type =
            dup_opt(s->pol->pem ? "application/x-pem-file" : "application/x-pkcs12", &e);
    if (!e && s->cver.tags_json)
        s->sver.tags_json = dup_opt(s->cver.tags_json, &e);
    if (!e)
        e = cf_vault_dek(s->svc, s->v, dek);
    if (!e) {
        const struct cf_buf *val = s->pol->pem ? &secret : &b64;
        cf_buf_reset(&s->sver.value);
        e = cf_aead_seal(dek, aad, cf_secret_aad(aad, s->v->id, s->name_lc, version), val->data,
                         val->len, &s->sver.value);
        cf_wipe(dek, sizeof(dek));
    }
    cf_buf_wipe(&secret);
    cf_buf_wipe(&b64);
    cf_buf_release(&secret);
    cf_buf_release(&b64);
    s->has_version = e == CF_OK;
    return e;
}

/* The secret side of the one transaction (as secrets.c's set, with managed). */
static cf_err secret_insert_txn(struct cf_store_txn *t, struct issue *s)
{
    struct cf_rec_secret_obj o;
    struct cf_rec_secret_ver latest;
    bool exists;
    cf_err e = cf_store_secret_obj_get(t, s->v->id, s->name_lc, &o);

    if (e && e != CF_ENOTFOUND)
        return e;
    exists = e == CF_OK;
    if (exists && o.deleted_date)
        return CF_EDELETED;
    if (exists) {
        memset(&latest, 0, sizeof(latest));
        cf_buf_init(&latest.value, 64);
        e = cf_store_secret_ver_get(t, o.id, o.latest_seq, NULL, false, &latest);
        if (!e && !latest.managed)
            e = CF_EEXISTS;
        cf_rec_secret_ver_release(&latest);
        if (e)
            return e;
    } else {
        memset(&o, 0, sizeof(o));
        o.vault_id = s->v->id;
        snprintf(o.name, sizeof(o.name), "%s", s->name);
        memcpy(o.name_lc, s->name_lc, sizeof(o.name_lc));
    }
    s->sver.seq = exists ? o.latest_seq + 1 : 1;
    snprintf(s->sver.prev_version, sizeof(s->sver.prev_version), "%s",
             exists ? o.latest_version : "");
    o.latest_seq = s->sver.seq;
    memcpy(o.latest_version, s->sver.version, sizeof(o.latest_version));
    e = exists ? cf_store_secret_obj_update(t, &o) : cf_store_secret_obj_insert(t, &o);
    if (e)
        return e;
    s->sver.object_id = o.id;
    return cf_store_secret_ver_insert(t, &s->sver);
}

static cf_err issue_fn(struct cf_store_txn *t, void *arg)
{
    struct issue *s = arg;
    struct cf_rec_cert_pending cur;
    bool exists, has_op = false;
    cf_err e;

    cf_rec_cert_obj_release(&s->obj);
    e = cf_store_cert_obj_get(t, s->v->id, s->name_lc, &s->obj);
    if (e && e != CF_ENOTFOUND)
        return e;
    exists = e == CF_OK;
    if (exists && s->obj.deleted_date)
        return CF_EDELETED;
    if (!exists && s->merge)
        return CF_ENOTFOUND;
    if (exists) {
        e = cf_store_cert_pending_get(t, s->obj.id, &cur);
        has_op = e == CF_OK;
        bool busy = has_op && strcmp(cur.status, "inProgress") == 0;
        bool unknown = has_op && cur.priv.len > 0;
        cf_rec_cert_pending_release(&cur);
        if (e && e != CF_ENOTFOUND)
            return e;
        if (s->create && busy)
            return CF_EBUSY;
        if (s->merge && !busy)
            return CF_ENOTFOUND;
        if (s->merge && !unknown)
            return CF_EFORBIDDEN; /* an issuer-backed operation: merge is forbidden */
    } else {
        memset(&s->obj, 0, sizeof(s->obj));
        s->obj.vault_id = s->v->id;
        snprintf(s->obj.name, sizeof(s->obj.name), "%s", s->name);
        memcpy(s->obj.name_lc, s->name_lc, sizeof(s->obj.name_lc));
        s->new_policy = true;
    }
    if (s->new_policy) {
        free(s->obj.policy);
        s->obj.policy = strdup(s->policy_json);
        if (!s->obj.policy)
            return CF_ENOMEM;
        if (!s->obj.policy_created)
            s->obj.policy_created = s->now;
        s->obj.policy_updated = s->now;
    }
    if (s->has_version) {
        s->cver.seq = s->obj.latest_seq + 1;
        s->obj.latest_seq = s->cver.seq;
        memcpy(s->obj.latest_version, s->cver.version, sizeof(s->obj.latest_version));
    }
    e = exists ? cf_store_cert_obj_update(t, &s->obj) : cf_store_cert_obj_insert(t, &s->obj);
    if (e)
        return e;
    if (s->has_version) {
        s->cver.object_id = s->obj.id;
        if ((e = cf_key_cert_insert_txn(t, s->v->id, s->obj.name, s->name_lc, &s->kver)) != CF_OK ||
            (s->hsm && (e = cf_cert_hsm_ref_txn(t, s->hsm)) != CF_OK) ||
            (e = secret_insert_txn(t, s)) != CF_OK ||
            (e = cf_store_cert_ver_insert(t, &s->cver)) != CF_OK ||
            (e = cf_vault_emit(s->svc, t, "CertificateNewVersionCreated", s->v->id, s->v->name,
                               "Certificate", s->obj.name, s->cver.version, s->cver.nbf,
                               s->cver.exp)) != CF_OK)
            return e;
    }
    switch (s->pend_mode) {
    case PEND_PUT:
        s->pend.object_id = s->obj.id;
        return cf_store_cert_pending_put(t, &s->pend);
    case PEND_COMPLETE: {
        struct cf_rec_cert_pending p;
        e = cf_store_cert_pending_get(t, s->obj.id, &p);
        if (!e) {
            snprintf(p.status, sizeof(p.status), "completed");
            free(p.status_details);
            p.status_details = NULL;
            cf_buf_reset(&p.priv);
            memcpy(p.target_version, s->cver.version, sizeof(p.target_version));
            p.updated = s->now;
            e = cf_store_cert_pending_put(t, &p);
        }
        cf_rec_cert_pending_release(&p);
        return e == CF_ENOTFOUND ? CF_OK : e;
    }
    case PEND_DELETE:
        e = cf_store_cert_pending_delete(t, s->obj.id);
        return e == CF_ENOTFOUND ? CF_OK : e;
    case PEND_KEEP:
        break;
    }
    return CF_OK;
}

static cf_err issue_write(struct issue *s)
{
    cf_err e = cf_store_write(s->svc->store, issue_fn, s);
    cf_key_cert_forget(s->svc, s->v->id, s->name_lc);
    cf_scache_forget(s->svc->scache, s->v->id, s->name_lc);
    return e;
}

static cf_err name_setup(struct issue *s, struct cf_str name)
{
    cf_err e = cf_secret_name_lc(name, s->name_lc);
    if (!e)
        snprintf(s->name, sizeof(s->name), "%.*s", CF_STR_FMT(name));
    return e;
}

/* What signs a policy's certificates: Self and Unknown are built in; a configured issuer's
 * provider picks the rest (CofferCA: the server's private CA, ca.c); the name CofferCA also
 * works without an issuer object. */
enum issuer_kind { ISS_SELF, ISS_UNKNOWN, ISS_CA, ISS_ACME, ISS_OTHER };

struct kind_ctx {
    int64_t vault_id;
    char lc[CF_CERT_ISSUER_MAX + 1];
    char provider[128];
};

static cf_err kind_fn(struct cf_store_txn *t, void *arg)
{
    struct kind_ctx *c = arg;
    struct cf_rec_cert_issuer i;
    cf_err e;

    cf_rec_cert_issuer_init(&i);
    e = cf_store_cert_issuer_get(t, c->vault_id, c->lc, &i);
    if (!e)
        snprintf(c->provider, sizeof(c->provider), "%s", i.provider);
    cf_rec_cert_issuer_release(&i);
    return e;
}

/* CF_ENOTFOUND: a named issuer that is not configured in the vault. */
static cf_err issuer_kind(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          const char *issuer, enum issuer_kind *out)
{
    struct kind_ctx c;
    cf_err e;

    *out = ISS_OTHER;
    if (strcmp(issuer, "Self") == 0) {
        *out = ISS_SELF;
        return CF_OK;
    }
    if (strcmp(issuer, "Unknown") == 0) {
        *out = ISS_UNKNOWN;
        return CF_OK;
    }
    memset(&c, 0, sizeof(c));
    c.vault_id = v->id;
    cf_str_lower(cf_str_from(issuer), c.lc);
    e = cf_store_read(svc->store, kind_fn, &c);
    if (e == CF_ENOTFOUND && strcasecmp(issuer, CF_CA_ISSUER) == 0) {
        *out = ISS_CA;
        return CF_OK;
    }
    if (!e && strcasecmp(c.provider, CF_CA_ISSUER) == 0)
        *out = ISS_CA;
    if (!e && strcasecmp(c.provider, CF_ACME_PROVIDER) == 0)
        *out = ISS_ACME;
    return e;
}

/* The pending side of a CSR flow (Unknown: merge; Acme: the order the server drives): k sealed
 * into the operation (AAD certpending), the create's attributes and tags kept for the end. */
static cf_err pending_key(struct issue *s, const struct cf_kvkey *k, const struct cf_cert_input *in,
                          const char *details)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[CERT_AAD_MAX];
    struct cf_secret *blob = NULL;
    struct cf_buf inp;
    struct cf_jw w;
    cf_err e;

    snprintf(s->pend.status, sizeof(s->pend.status), "inProgress");
    free(s->pend.status_details);
    if (!(s->pend.status_details = strdup(details)))
        return CF_ENOMEM;
    e = s->hsm ? cf_cert_hsm_pending_blob(s->hsm, &blob) : cf_kvkey_to_blob(k, &blob);
    if (!e)
        e = cf_vault_dek(s->svc, s->v, dek);
    if (!e) {
        cf_buf_reset(&s->pend.priv);
        e = cf_aead_seal(dek, aad, pending_aad(aad, s->v->id, s->name_lc), blob->p, blob->len,
                         &s->pend.priv);
        cf_wipe(dek, sizeof(dek));
    }
    cf_secret_free(blob);
    if (e)
        return e;
    cf_buf_init(&inp, 64 * 1024);
    cf_jw_init(&w, &inp);
    cf_jw_obj_begin(&w);
    if (in && in->has_enabled)
        cf_jw_kbool(&w, "enabled", in->enabled);
    if (in && in->has_tags && in->tags_json) {
        cf_jw_key(&w, "tags");
        cf_jw_raw(&w, in->tags_json, strlen(in->tags_json));
    }
    if (in && in->preserve_order)
        cf_jw_kbool(&w, "preserveCertOrder", true);
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
    free(s->pend.input_json);
    s->pend.input_json = NULL;
    if (!e && !(s->pend.input_json = cf_buf_detach(&inp, NULL)))
        e = CF_ENOMEM;
    cf_buf_release(&inp);
    return e;
}

/* The request of k, or of the token key s->hsm (signed on the token, x509_assemble.c). */
static cf_err key_csr(struct issue *s, const struct cf_kvkey *k, const struct cf_cert_req *req,
                      struct cf_buf *csr, char *why, size_t whysz)
{
    struct cf_cert_signer sg;

    if (!s->hsm)
        return cf_cert_csr(k, req, csr, why, whysz);
    cf_cert_hsm_signer(s->hsm, &sg);
    return cf_cert_csr_signer(&sg, req, csr, why, whysz);
}

/* The chain of a new certificate for k (or the token key s->hsm): self-signed, or the private
 * CA's signature on csr. */
static cf_err sign_chain(struct issue *s, enum issuer_kind kind, const struct cf_kvkey *k,
                         const struct cf_cert_req *req, const struct cf_buf *csr,
                         struct cf_buf *chain, char *why, size_t whysz)
{
    struct cf_vault_svc *svc = s->svc;
    cf_err e;

    if (kind == ISS_SELF && s->hsm) {
        struct cf_cert_signer sg;
        cf_cert_hsm_signer(s->hsm, &sg);
        return cf_cert_self_signed_signer(&sg, req, chain, why, whysz);
    }
    if (kind == ISS_SELF)
        return cf_cert_self_signed(k, req, chain, why, whysz);
    e = cf_ca_issue(svc, csr->data, csr->len, req->not_before, req->not_after, chain);
    if (e == CF_ENOTFOUND)
        e = bad(why, whysz, "This server has no private CA yet: create it with `coffer ca create` "
                            "before issuing certificates with issuer " CF_CA_ISSUER ".");
    return e;
}

cf_err cf_cert_create(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      const struct cf_json *policy, const struct cf_cert_input *in,
                      struct cf_cert_op *out, char *why, size_t whysz)
{
    struct cf_cert_policy pol;
    struct cf_kvkey *k = NULL;
    struct cf_cert_hsm hsm;
    struct cf_buf csr, chain;
    struct cf_cert_san sans[CF_CERT_MAX_SANS];
    const char *ekus[CF_CERT_MAX_EKUS];
    struct cf_cert_req req;
    struct issue s;
    enum issuer_kind kind = ISS_OTHER;
    cf_err e;

    op_init(out);
    issue_init(&s, svc, v);
    cf_cert_hsm_init(&hsm, svc);
    cf_buf_init(&csr, CF_STORE_CERT_DER_MAX);
    cf_buf_init(&chain, CF_STORE_CERT_DER_MAX);
    if ((e = name_setup(&s, name)) != CF_OK)
        goto done;
    if ((e = policy_for_create(policy, &pol, why, whysz)) != CF_OK)
        goto done;
    pol.created = pol.updated = s.now;
    s.pol = &pol;
    e = issuer_kind(svc, v, pol.issuer, &kind);
    if (e == CF_ENOTFOUND) {
        e = bad(why, whysz, "Issuer %s is not configured in this vault.", pol.issuer);
        goto done;
    }
    if (e)
        goto done;
    if ((e = policy_text(&pol, &s.policy_json)) != CF_OK)
        goto done;
    s.new_policy = true;
    s.create = true;
    if (cf_cert_hsm_kty(pol.kty)) { /* generated and kept on the token (cert_hsm.h) */
        if ((e = cf_cert_hsm_generate(&hsm, pol.kty, pol.key_size, pol.crv, why, whysz)) != CF_OK)
            goto done;
        s.hsm = &hsm;
    } else if ((e = generate_key(&pol, &k)) != CF_OK) {
        goto done;
    }
    req_from_policy(svc, &pol, sans, ekus, s.now, &req);
    if ((e = key_csr(&s, k, &req, &csr, why, whysz)) != CF_OK)
        goto done;
    if ((e = cf_random_hex32(s.pend.request_id)) != CF_OK ||
        (e = issuer_json_of(&pol, &s.pend.issuer_json)) != CF_OK ||
        (e = cf_buf_append(&s.pend.csr, csr.data, csr.len)) != CF_OK)
        goto done;
    s.pend.created = s.pend.updated = s.now;
    s.pend_mode = PEND_PUT;
    if (kind == ISS_SELF || kind == ISS_CA) {
        /* issued at once: the operation reads "completed" from the first GET */
        if ((e = sign_chain(&s, kind, k, &req, &csr, &chain, why, whysz)) != CF_OK ||
            (e = issue_prepare(&s, k, chain.data, chain.len, in)) != CF_OK)
            goto done;
        snprintf(s.pend.status, sizeof(s.pend.status), "completed");
        memcpy(s.pend.target_version, s.cver.version, sizeof(s.pend.target_version));
    } else if (kind == ISS_UNKNOWN || kind == ISS_ACME) {
        /* Unknown waits for a merge; Acme for the order the server's ACME driver completes */
        e = pending_key(&s, k, in, kind == ISS_ACME ? PENDING_DETAILS_ACME : PENDING_DETAILS_UNKNOWN);
        if (e)
            goto done;
    } else {
        snprintf(s.pend.status, sizeof(s.pend.status), "failed");
        s.pend.error_json = strdup("{\"code\":\"CertificateIssuerError\",\"message\":\"Coffer "
                                   "cannot reach the provider of this issuer: only Self, "
                                   "Unknown and CofferCA issue certificates.\"}");
        if (!s.pend.error_json) {
            e = CF_ENOMEM;
            goto done;
        }
    }
    if ((e = issue_write(&s)) != CF_OK)
        goto done;
    if (kind != ISS_OTHER)
        hsm.made = false; /* a key version or the pending operation holds the token key now */
    e = op_fill(out, &s.obj, &s.pend);
done:
    cf_cert_hsm_release(&hsm, true);
    cf_kvkey_free(k);
    cf_buf_release(&csr);
    cf_buf_release(&chain);
    issue_release(&s);
    return e;
}

/* ---------------- the pending operation ---------------- */

struct op_ctx {
    struct cf_vault_svc *svc;
    struct cf_key_hsm_gone gone; /* a dropped operation's token key (cert_hsm.h) */
    const struct cf_vault_ref *v;
    char name_lc[CF_MAX_NAME_LEN + 1];
    int64_t now;
    int kind; /* 0 get, 1 cancel, 2 delete */
    struct cf_rec_cert_obj obj;
    struct cf_rec_cert_pending p;
};

static cf_err op_fn(struct cf_store_txn *t, void *arg)
{
    struct op_ctx *c = arg;
    cf_err e;

    cf_rec_cert_obj_release(&c->obj);
    cf_rec_cert_pending_release(&c->p);
    e = cf_store_cert_obj_get(t, c->v->id, c->name_lc, &c->obj);
    if (!e && c->obj.deleted_date)
        e = CF_ENOTFOUND;
    if (!e)
        e = cf_store_cert_pending_get(t, c->obj.id, &c->p);
    if (e || c->kind == 0)
        return e;
    if (c->kind == 1 && strcmp(c->p.status, "inProgress") != 0)
        return CF_EFORBIDDEN; /* "Pending status must be in progress to allow update." */
    {
        char aad[CERT_AAD_MAX];
        c->gone.n = 0;
        e = cf_cert_hsm_pending_drop_txn(t, c->svc, c->v->id, aad,
                                         pending_aad(aad, c->v->id, c->name_lc), &c->p.priv,
                                         &c->gone);
        if (e)
            return e;
    }
    if (c->kind == 2)
        return cf_store_cert_pending_delete(t, c->obj.id);
    c->p.cancel_requested = true;
    /* Self/Unknown have nobody to wait for: the cancellation takes effect at once */
    snprintf(c->p.status, sizeof(c->p.status), "cancelled");
    free(c->p.status_details);
    c->p.status_details = strdup("Pending certificate was cancelled.");
    cf_buf_reset(&c->p.priv);
    c->p.updated = c->now;
    return cf_store_cert_pending_put(t, &c->p);
}

static cf_err op_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                        int kind, struct cf_cert_op *out)
{
    struct op_ctx c;
    cf_err e;

    op_init(out);
    memset(&c, 0, sizeof(c));
    cf_rec_cert_pending_init(&c.p);
    c.svc = svc;
    c.v = v;
    c.kind = kind;
    c.now = cf_vault_now(svc);
    e = cf_secret_name_lc(name, c.name_lc);
    if (!e)
        e = kind == 0 ? cf_store_read(svc->store, op_fn, &c) : cf_store_write(svc->store, op_fn, &c);
    if (!e)
        cf_key_hsm_destroy_gone(svc, &c.gone); /* releases the list */
    cf_key_hsm_gone_release(&c.gone);
    if (!e)
        e = op_fill(out, &c.obj, &c.p);
    cf_rec_cert_obj_release(&c.obj);
    cf_rec_cert_pending_release(&c.p);
    return e;
}

cf_err cf_cert_op_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_cert_op *out)
{
    return op_common(svc, v, name, 0, out);
}

cf_err cf_cert_op_cancel(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str name, struct cf_cert_op *out)
{
    return op_common(svc, v, name, 1, out);
}

cf_err cf_cert_op_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                         struct cf_str name, struct cf_cert_op *out)
{
    return op_common(svc, v, name, 2, out);
}

/* An issuer-backed order that failed: the operation reads "failed" with the error. */
struct fail_ctx {
    struct cf_vault_svc *svc;
    struct cf_key_hsm_gone gone; /* the operation's token key (cert_hsm.h) */
    const struct cf_vault_ref *v;
    char name_lc[CF_MAX_NAME_LEN + 1];
    const char *request_id;
    char *error_json;
    int64_t now;
};

static cf_err fail_fn(struct cf_store_txn *t, void *arg)
{
    struct fail_ctx *c = arg;
    struct cf_rec_cert_obj o;
    struct cf_rec_cert_pending p;
    cf_err e;

    cf_rec_cert_pending_init(&p);
    e = cf_store_cert_obj_get(t, c->v->id, c->name_lc, &o);
    if (!e && o.deleted_date)
        e = CF_ENOTFOUND;
    if (!e)
        e = cf_store_cert_pending_get(t, o.id, &p);
    if (!e && (strcmp(p.status, "inProgress") != 0 || strcmp(p.request_id, c->request_id) != 0))
        e = CF_ENOTFOUND;
    if (!e) {
        char aad[CERT_AAD_MAX];
        c->gone.n = 0;
        e = cf_cert_hsm_pending_drop_txn(t, c->svc, c->v->id, aad,
                                         pending_aad(aad, c->v->id, c->name_lc), &p.priv,
                                         &c->gone);
    }
    if (!e) {
        snprintf(p.status, sizeof(p.status), "failed");
        free(p.status_details);
        p.status_details = NULL;
        free(p.error_json);
        p.error_json = c->error_json;
        c->error_json = NULL;
        cf_buf_wipe(&p.priv);
        p.updated = c->now;
        e = cf_store_cert_pending_put(t, &p);
    }
    cf_rec_cert_pending_release(&p);
    cf_rec_cert_obj_release(&o);
    return e;
}

cf_err cf_cert_fail_order(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, const char *request_id, const char *message)
{
    struct fail_ctx c;
    struct cf_buf b;
    struct cf_jw w;
    cf_err e;

    memset(&c, 0, sizeof(c));
    c.svc = svc;
    c.v = v;
    c.request_id = request_id;
    c.now = cf_vault_now(svc);
    if ((e = cf_secret_name_lc(name, c.name_lc)) != CF_OK)
        return e;
    cf_buf_init(&b, 4096);
    cf_jw_init(&w, &b);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "code", "CertificateIssuerError");
    cf_jw_kstr(&w, "message", message ? message : "The certificate issuer refused the request.");
    cf_jw_obj_end(&w);
    e = cf_jw_err(&w);
    if (!e && !(c.error_json = cf_buf_detach(&b, NULL)))
        e = CF_ENOMEM;
    cf_buf_release(&b);
    if (!e)
        e = cf_store_write(svc->store, fail_fn, &c);
    if (!e)
        cf_key_hsm_destroy_gone(svc, &c.gone); /* releases the list */
    cf_key_hsm_gone_release(&c.gone);
    free(c.error_json);
    return e;
}

cf_err cf_cert_policy_parse(const char *text, struct cf_cert_policy *p)
{
    return policy_from_text(text, p);
}

/* ---------------- merge, import ---------------- */

struct merge_read {
    struct issue *s;
    struct cf_rec_cert_pending p;
    struct cf_cert_policy *pol;
    const char *request_id; /* NULL: a client's merge (Unknown operations only) */
};

/* The issuer name of an operation's issuer_json ("" when unreadable). */
static void op_issuer_name(const char *issuer_json, char out[CF_CERT_ISSUER_MAX + 1])
{
    struct cf_json *j = NULL;
    out[0] = '\0';
    if (issuer_json && cf_json_parse(issuer_json, strlen(issuer_json), &j, NULL, 0) == CF_OK)
        (void)str_into(cf_json_get(j, "name"), out, CF_CERT_ISSUER_MAX + 1);
    cf_json_free(j);
}

static cf_err merge_read_fn(struct cf_store_txn *t, void *arg)
{
    struct merge_read *m = arg;
    struct cf_rec_cert_obj o;
    cf_err e = cf_store_cert_obj_get(t, m->s->v->id, m->s->name_lc, &o);

    if (!e && o.deleted_date)
        e = CF_ENOTFOUND;
    if (!e)
        e = cf_store_cert_pending_get(t, o.id, &m->p);
    if (!e && strcmp(m->p.status, "inProgress") != 0)
        e = CF_ENOTFOUND;
    if (!e && m->request_id && strcmp(m->request_id, m->p.request_id) != 0)
        e = CF_ENOTFOUND; /* the order of an operation that was replaced */
    if (!e && m->p.priv.len == 0)
        e = CF_EFORBIDDEN;
    if (!e && !m->request_id) {
        char iss[CF_CERT_ISSUER_MAX + 1];
        op_issuer_name(m->p.issuer_json, iss);
        if (strcmp(iss, "Unknown") != 0)
            e = CF_EFORBIDDEN; /* "Merge is forbidden on pending object created with issuer" */
    }
    if (!e)
        e = policy_from_text(o.policy, m->pol);
    cf_rec_cert_obj_release(&o);
    return e;
}

static cf_err apply_input_json(const char *text, struct cf_cert_input *in, char **tags)
{
    struct cf_json *j = NULL;
    const struct cf_json *t;
    struct cf_buf b;
    cf_err e = CF_OK;

    *tags = NULL;
    if (!text || cf_json_parse(text, strlen(text), &j, NULL, 0) != CF_OK)
        return CF_OK;
    in->has_enabled = cf_json_bool(cf_json_get(j, "enabled"), &in->enabled);
    (void)cf_json_bool(cf_json_get(j, "preserveCertOrder"), &in->preserve_order);
    t = cf_json_get(j, "tags");
    if (cf_json_type(t) == CF_JSON_OBJECT) {
        cf_buf_init(&b, 64 * 1024);
        e = cf_json_dump(t, &b);
        if (!e && (*tags = cf_buf_detach(&b, NULL)) != NULL) {
            in->has_tags = true;
            in->tags_json = *tags;
        }
        cf_buf_release(&b);
    }
    cf_json_free(j);
    return e;
}

static cf_err merge_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str name, struct cf_str chain, const struct cf_cert_input *in,
                           const char *request_id, struct cf_cert_meta *out, char *why,
                           size_t whysz);

cf_err cf_cert_merge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                     struct cf_str chain, const struct cf_cert_input *in,
                     struct cf_cert_meta *out, char *why, size_t whysz)
{
    return merge_common(svc, v, name, chain, in, NULL, out, why, whysz);
}

cf_err cf_cert_complete_order(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                              struct cf_str name, const char *request_id, struct cf_str chain,
                              char *why, size_t whysz)
{
    struct cf_cert_meta m;
    cf_err e = merge_common(svc, v, name, chain, NULL, request_id, &m, why, whysz);
    cf_cert_meta_release(&m);
    return e;
}

static cf_err merge_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str name, struct cf_str chain, const struct cf_cert_input *in,
                           const char *request_id, struct cf_cert_meta *out, char *why,
                           size_t whysz)
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[CERT_AAD_MAX];
    struct cf_cert_policy pol;
    struct cf_secret *blob = NULL;
    struct cf_kvkey *k = NULL;
    struct cf_cert_hsm hsm;
    struct merge_read m;
    struct cf_cert_input eff;
    const unsigned char *leaf;
    size_t off = 0, leaf_len;
    char *saved_tags = NULL;
    bool match = false;
    struct issue s;
    cf_err e;

    meta_init(out);
    issue_init(&s, svc, v);
    cf_cert_hsm_init(&hsm, svc);
    memset(&m, 0, sizeof(m));
    cf_rec_cert_pending_init(&m.p);
    m.s = &s;
    m.pol = &pol;
    m.request_id = request_id;
    if ((e = name_setup(&s, name)) != CF_OK)
        goto done;
    if ((e = cf_store_read(svc->store, merge_read_fn, &m)) != CF_OK)
        goto done;
    if (!cf_cert_chain_next(chain.p, chain.len, &off, &leaf, &leaf_len)) {
        e = bad(why, whysz, "Property 'x5c' must hold the certificate chain, leaf first.");
        goto done;
    }
    off = 0;
    while (off < chain.len)
        if (!cf_cert_chain_next(chain.p, chain.len, &off, &leaf, &leaf_len) ||
            cf_cert_info(leaf, leaf_len, &(struct cf_cert_info){0}) != CF_OK) {
            e = bad(why, whysz, "Property 'x5c' holds a certificate that does not parse.");
            goto done;
        }
    off = 0;
    (void)cf_cert_chain_next(chain.p, chain.len, &off, &leaf, &leaf_len);
    e = cf_vault_dek(svc, v, dek);
    if (!e) {
        e = cf_aead_open(dek, aad, pending_aad(aad, v->id, s.name_lc), m.p.priv.data,
                         m.p.priv.len, &blob);
        cf_wipe(dek, sizeof(dek));
    }
    if (!e && cf_cert_hsm_is_pending(blob->p, blob->len)) { /* a token key (cert_hsm.h) */
        e = cf_cert_hsm_from_pending(&hsm, blob->p, blob->len);
        s.hsm = e ? NULL : &hsm;
    } else if (!e) {
        e = cf_kvkey_from_blob(blob->p, blob->len, &k);
    }
    cf_secret_free(blob);
    if (e) {
        e = CF_ECORRUPT;
        goto done;
    }
    if ((e = s.hsm ? cf_cert_jwk_matches(leaf, leaf_len, hsm.public_jwk, &match)
                   : cf_cert_key_matches(leaf, leaf_len, k, &match)) != CF_OK ||
        !match) {
        e = bad(why, whysz, "The public key of the merged certificate does not match the "
                            "pending certificate's key.");
        goto done;
    }
    /* the create's attributes/tags, overridden by the merge's own */
    memset(&eff, 0, sizeof(eff));
    if ((e = apply_input_json(m.p.input_json, &eff, &saved_tags)) != CF_OK)
        goto done;
    if (in && in->has_enabled) {
        eff.has_enabled = true;
        eff.enabled = in->enabled;
    }
    if (in && in->has_tags) {
        eff.has_tags = true;
        eff.tags_json = in->tags_json;
    }
    s.pol = &pol;
    s.merge = true;
    s.pend_mode = PEND_COMPLETE;
    if ((e = issue_prepare(&s, k, chain.p, chain.len, &eff)) != CF_OK)
        goto done;
    if ((e = issue_write(&s)) != CF_OK)
        goto done;
    e = meta_fill(out, &s.obj, &s.cver, true);
    out->pending = true;
done:
    cf_cert_hsm_release(&hsm, false);
    free(saved_tags);
    cf_kvkey_free(k);
    cf_rec_cert_pending_release(&m.p);
    issue_release(&s);
    return e;
}

/* §3.1 ("kty/size/curve mismatch" is a 400 BadParameter) and §3.3 (an import's key_props
 * reflect the imported key): the key_props members an import request names - kty (its RSA/EC
 * family; -HSM only says where the key goes), key_size, crv - must describe the key it
 * carries; omitted ones take the key's values. Runs before anything is stored. The exact
 * Azure wording is unrecorded: the message follows the -HSM kty one of cert_hsm.c. */
static cf_err import_key_check(const struct cf_json *policy, const struct cf_kvkey *k, char *why,
                               size_t n)
{
    const struct cf_json *kp = cf_json_get(policy, "key_props"), *j;
    bool ec = cf_kvkey_type(k) == CF_KTY_EC;
    const char *have = ec ? "EC" : "RSA";
    int bits = cf_kvkey_bits(k);
    enum cf_crv c;
    char s[16];
    int64_t i;

    if (!given(kp))
        return CF_OK;
    if (given(j = cf_json_get(kp, "kty")) && str_into(j, s, sizeof(s)) &&
        (strncmp(s, "EC", 2) == 0) != ec)
        return bad(why, n, "Property 'key_props.kty' %s does not match the imported %s key.", s,
                   have);
    if (given(j = cf_json_get(kp, "key_size")) && cf_json_int(j, &i) && i != bits)
        return bad(why, n,
                   "Property 'key_props.key_size' %lld does not match the imported %s key "
                   "(%d bits).",
                   (long long)i, have, bits);
    if (given(j = cf_json_get(kp, "crv")) && str_into(j, s, sizeof(s)) &&
        cf_crv_parse(cf_str_from(s), &c) && (!ec || c != cf_kvkey_curve(k)))
        return bad(why, n, "Property 'key_props.crv' %s does not match the imported %s key%s%s.",
                   cf_crv_name(c), have, ec ? " on curve " : "",
                   ec ? cf_crv_name(cf_kvkey_curve(k)) : "");
    return CF_OK;
}

cf_err cf_cert_import(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_str value, const char *pwd, const struct cf_json *policy,
                      const struct cf_cert_input *in, struct cf_cert_meta *out, char *why,
                      size_t whysz)
{
    struct cf_cert_policy pol;
    struct cf_kvkey *k = NULL;
    struct cf_cert_hsm hsm;
    struct cf_buf chain, raw, props;
    struct cf_json *pj = NULL;
    const unsigned char *leaf = NULL;
    size_t leaf_len = 0;
    bool pem = false, actions = false;
    struct issue s;
    cf_err e;

    meta_init(out);
    issue_init(&s, svc, v);
    cf_cert_hsm_init(&hsm, svc);
    cf_buf_init(&chain, CF_STORE_CERT_CHAIN_MAX);
    cf_buf_init(&raw, 256 * 1024);
    cf_buf_init(&props, POLICY_MAX);
    if ((e = name_setup(&s, name)) != CF_OK)
        goto done;
    for (size_t i = 0; i + 10 <= value.len && !pem; i++)
        pem = memcmp(value.p + i, "-----BEGIN", 10) == 0;
    if (pem) {
        e = cf_cert_from_pem(value.p, value.len, pwd, in && in->preserve_order, &k, &chain, why,
                             whysz);
    } else if (cf_b64_decode(&raw, value) != CF_OK) {
        e = bad(why, whysz, "Property 'value' must be base64 PKCS#12 (PFX) data or PEM text.");
    } else {
        e = cf_cert_from_pkcs12(raw.data, raw.len, pwd, in && in->preserve_order, &k, &chain, why,
                                whysz);
    }
    cf_buf_wipe(&raw);
    if (e)
        goto done;
    /* the derived policy (§3.3): x509_props from the certificate, key_props from the key,
     * issuer Unknown, EmailContacts at 80 %; then the request's members */
    policy_defaults(&pol);
    pol.pem = pem;
    snprintf(pol.kty, sizeof(pol.kty), "%s", cf_kvkey_type(k) == CF_KTY_EC ? "EC" : "RSA");
    pol.key_size = cf_kvkey_type(k) == CF_KTY_EC ? 0 : cf_kvkey_bits(k);
    snprintf(pol.crv, sizeof(pol.crv), "%s",
             cf_kvkey_type(k) == CF_KTY_EC ? cf_crv_name(cf_kvkey_curve(k)) : "");
    snprintf(pol.issuer, sizeof(pol.issuer), "Unknown");
    (void)chain_leaf(k, in && in->preserve_order, chain.data, chain.len, &leaf, &leaf_len);
    {
        struct cf_jw w;
        struct cf_json *x = NULL;
        cf_jw_init(&w, &props);
        cf_jw_obj_begin(&w);
        e = cf_cert_write_props(leaf, leaf_len, &w);
        cf_jw_obj_end(&w);
        if (!e)
            e = cf_jw_err(&w);
        if (!e && cf_json_parse(props.data, props.len, &x, NULL, 0) == CF_OK) {
            /* a certificate's own values may exceed what a policy allows (a validity over
             * 100 years, an odd subject): keep what fits */
            struct cf_cert_policy tmp = pol;
            if (parse_x509(x, &tmp, NULL, 0) == CF_OK)
                pol = tmp;
            else
                (void)str_into(cf_json_get(x, "subject"), pol.subject, sizeof(pol.subject));
            cf_json_free(x);
        }
    }
    if (e)
        goto done;
    if (policy) {
        struct cf_cert_policy req = pol;
        if ((e = policy_apply(policy, &req, &actions, why, whysz)) != CF_OK ||
            (e = import_key_check(policy, k, why, whysz)) != CF_OK)
            goto done;
        /* the key is what it is: key_props describe it (checked above), not the other way
         * round - except an -HSM kty, which puts it on the token (below) */
        if (!cf_cert_hsm_kty(req.kty))
            memcpy(req.kty, pol.kty, sizeof(req.kty));
        req.key_size = pol.key_size;
        memcpy(req.crv, pol.crv, sizeof(req.crv));
        pol = req;
    }
    if (!pol.subject[0] && pol.nsans == 0)
        snprintf(pol.subject, sizeof(pol.subject), "CN=%s", s.name);
    if (!actions) {
        pol.nactions = 1;
        pol.actions[0].pct = 80;
        pol.actions[0].action = CF_CERT_EMAIL;
    }
    pol.created = pol.updated = s.now;
    s.pol = &pol;
    /* an -HSM policy (premium vault): the key goes onto the token, never extractable, and the
     * store keeps only its handle, as for a generated -HSM key; the secret has no key (the
     * policy is not exportable) and k is freed below */
    if (cf_cert_hsm_kty(pol.kty)) {
        if ((e = cf_cert_hsm_import(&hsm, pol.kty, k, why, whysz)) != CF_OK)
            goto done;
        s.hsm = &hsm;
    }
    if ((e = policy_text(&pol, &s.policy_json)) != CF_OK)
        goto done;
    s.new_policy = true;
    s.create = true;
    s.pend_mode = PEND_DELETE; /* an old completed operation no longer describes the name */
    if ((e = issue_prepare(&s, k, chain.data, chain.len, in)) != CF_OK)
        goto done;
    if ((e = issue_write(&s)) != CF_OK)
        goto done;
    hsm.made = false; /* the new key version holds the token key now */
    e = meta_fill(out, &s.obj, &s.cver, true);
done:
    cf_cert_hsm_release(&hsm, true);
    cf_json_free(pj);
    cf_kvkey_free(k);
    cf_buf_release(&chain);
    cf_buf_release(&raw);
    cf_buf_release(&props);
    issue_release(&s);
    return e;
}

/* ---------------- get, update, policy ---------------- */

struct get_ctx {
    struct cf_vault_svc *svc;
    const struct cf_vault_ref *v;
    char name_lc[CF_MAX_NAME_LEN + 1];
    char version[33];
    bool deleted;     /* want a soft-deleted object */
    bool policy_only;
    const struct cf_cert_input *in;
    struct cf_cert_policy *new_pol; /* update: replaces the policy */
    int64_t now;
    struct cf_rec_cert_obj obj;
    struct cf_rec_cert_ver ver;
    bool pending;
    bool pending_only_ok; /* cf_cert_get: a name with only its operation reads as pending */
};

static bool version_ok(struct cf_str v, char out[33])
{
    out[0] = '\0';
    if (v.len == 0)
        return true;
    if (v.len != CF_VERSION_HEX_LEN)
        return false;
    cf_str_lower(v, out);
    return strspn(out, "0123456789abcdef") == CF_VERSION_HEX_LEN;
}

static cf_err find_fn(struct cf_store_txn *t, struct get_ctx *c)
{
    struct cf_rec_cert_pending p;
    cf_err e;

    cf_rec_cert_obj_release(&c->obj);
    cf_rec_cert_ver_release(&c->ver);
    cf_rec_cert_ver_init(&c->ver);
    e = cf_store_cert_obj_get(t, c->v->id, c->name_lc, &c->obj);
    if (!e && (c->obj.deleted_date != 0) != c->deleted)
        e = CF_ENOTFOUND;
    if (e || c->policy_only)
        return e;
    if (c->obj.latest_seq == 0)
        return CF_ENOTFOUND; /* only a pending operation so far */
    e = cf_store_cert_ver_get(t, c->obj.id, c->obj.latest_seq, c->version[0] ? c->version : NULL,
                              true, &c->ver);
    if (e)
        return e;
    c->pending = cf_store_cert_pending_get(t, c->obj.id, &p) == CF_OK;
    cf_rec_cert_pending_release(&p);
    return CF_OK;
}

/* §6.1: until its first version is issued (Unknown issuer before the merge, a CA still
 * working) a certificate reads by name as a disabled bundle without cer, x5t or version, with
 * its policy and pending id: the SDK pollers start with GET /certificates/{name}/ (JS
 * getCertificateOperation) and fail on a 404. */
static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct get_ctx *c = arg;
    struct cf_rec_cert_pending p;
    cf_err e = find_fn(t, c);

    if (e != CF_ENOTFOUND || !c->pending_only_ok || c->version[0] || !c->obj.name_lc[0] ||
        c->obj.latest_seq != 0 || c->obj.deleted_date != 0)
        return e;
    cf_rec_cert_pending_init(&p);
    if (cf_store_cert_pending_get(t, c->obj.id, &p) == CF_OK) {
        c->ver.enabled = false;
        c->ver.created = p.created;
        c->ver.updated = p.updated;
        c->pending = true;
        e = CF_OK;
    }
    cf_rec_cert_pending_release(&p);
    return e;
}

static void get_init(struct get_ctx *c, struct cf_vault_svc *svc, const struct cf_vault_ref *v)
{
    memset(c, 0, sizeof(*c));
    c->svc = svc;
    c->v = v;
    c->now = cf_vault_now(svc);
    cf_rec_cert_ver_init(&c->ver);
}

static void get_release(struct get_ctx *c)
{
    cf_rec_cert_obj_release(&c->obj);
    cf_rec_cert_ver_release(&c->ver);
}

cf_err cf_cert_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                   struct cf_str version, struct cf_cert_meta *out)
{
    struct get_ctx c;
    cf_err e;

    meta_init(out);
    get_init(&c, svc, v);
    c.pending_only_ok = true;
    e = cf_secret_name_lc(name, c.name_lc);
    if (!e && !version_ok(version, c.version))
        e = CF_ENOTFOUND;
    if (!e)
        e = cf_store_read(svc->store, get_fn, &c);
    if (!e) {
        e = meta_fill(out, &c.obj, &c.ver, true);
        out->pending = c.pending;
    }
    get_release(&c);
    return e;
}

/* The key and secret versions follow the certificate's enabled flag and tags. */
static cf_err update_fn(struct cf_store_txn *t, void *arg)
{
    struct get_ctx *c = arg;
    struct cf_rec_key_obj ko;
    struct cf_rec_key_ver kv;
    struct cf_rec_secret_obj so;
    struct cf_rec_secret_ver sv;
    cf_err e = find_fn(t, c);

    if (e)
        return e;
    if (c->new_pol) {
        free(c->obj.policy);
        c->new_pol->created = c->obj.policy_created;
        c->new_pol->updated = c->now;
        if ((e = policy_text(c->new_pol, &c->obj.policy)) != CF_OK)
            return e;
        c->obj.policy_updated = c->now;
        if ((e = cf_store_cert_obj_update(t, &c->obj)) != CF_OK)
            return e;
    }
    if (!c->in || (!c->in->has_enabled && !c->in->has_tags))
        return CF_OK;
    if (c->in->has_enabled)
        c->ver.enabled = c->in->enabled;
    if (c->in->has_tags) {
        free(c->ver.tags_json);
        c->ver.tags_json = dup_opt(c->in->tags_json, &e);
        if (e)
            return e;
    }
    c->ver.updated = c->now;
    if ((e = cf_store_cert_ver_update(t, &c->ver)) != CF_OK)
        return e;
    if (cf_store_key_obj_get(t, c->v->id, c->name_lc, &ko) == CF_OK &&
        cf_store_key_ver_get(t, ko.id, 0, c->ver.key_version, false, &kv) == CF_OK) {
        kv.enabled = c->ver.enabled;
        kv.updated = c->now;
        if (c->in->has_tags) {
            free(kv.tags_json);
            kv.tags_json = dup_opt(c->ver.tags_json, &e);
        }
        if (!e)
            e = cf_store_key_ver_update(t, &kv);
        cf_rec_key_ver_release(&kv);
        if (e)
            return e;
    }
    memset(&sv, 0, sizeof(sv));
    cf_buf_init(&sv.value, 64);
    if (cf_store_secret_obj_get(t, c->v->id, c->name_lc, &so) == CF_OK &&
        cf_store_secret_ver_get(t, so.id, 0, c->ver.secret_version, false, &sv) == CF_OK) {
        sv.enabled = c->ver.enabled;
        sv.updated = c->now;
        if (c->in->has_tags) {
            free(sv.tags_json);
            sv.tags_json = dup_opt(c->ver.tags_json, &e);
        }
        if (!e)
            e = cf_store_secret_ver_update(t, &sv);
    }
    cf_rec_secret_ver_release(&sv);
    return e;
}

/* The stored policy with the members of j applied, validated. */
static cf_err policy_merge(const struct cf_vault_svc *svc, const char *stored,
                           const struct cf_json *j, struct cf_cert_policy *p, char *why,
                           size_t whysz)
{
    cf_err e = policy_from_text(stored, p);
    bool was_hsm = !e && cf_cert_hsm_kty(p->kty);
    if (!e)
        e = policy_apply(j, p, NULL, why, whysz);
    if (!e)
        e = policy_check(p, why, whysz);
    /* a move to an -HSM kty without a token would only fail at the next create or renewal:
     * refused now with the create's 400 (a policy that already was -HSM stays editable) */
    if (!e && !was_hsm)
        e = cf_cert_hsm_need(svc, p->kty, why, whysz);
    return e;
}

struct pol_read {
    struct get_ctx *c;
};

cf_err cf_cert_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_str version, const struct cf_cert_input *in,
                      const struct cf_json *policy, struct cf_cert_meta *out, char *why,
                      size_t whysz)
{
    struct cf_cert_policy pol;
    struct get_ctx c;
    cf_err e;

    meta_init(out);
    get_init(&c, svc, v);
    c.in = in;
    e = cf_secret_name_lc(name, c.name_lc);
    if (!e && !version_ok(version, c.version))
        e = CF_ENOTFOUND;
    if (!e && policy) {
        e = cf_store_read(svc->store, get_fn, &c);
        if (!e)
            e = policy_merge(svc, c.obj.policy, policy, &pol, why, whysz);
        c.new_pol = &pol;
    }
    if (!e) {
        e = cf_store_write(svc->store, update_fn, &c);
        cf_key_cert_forget(svc, v->id, c.name_lc);
        cf_scache_forget(svc->scache, v->id, c.name_lc);
    }
    if (!e) {
        e = meta_fill(out, &c.obj, &c.ver, true);
        out->pending = c.pending;
    }
    get_release(&c);
    return e;
}

cf_err cf_cert_policy_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, struct cf_cert_policy *out)
{
    struct get_ctx c;
    cf_err e;

    memset(out, 0, sizeof(*out));
    get_init(&c, svc, v);
    c.policy_only = true;
    e = cf_secret_name_lc(name, c.name_lc);
    if (!e)
        e = cf_store_read(svc->store, get_fn, &c);
    if (!e)
        e = policy_from_text(c.obj.policy, out);
    get_release(&c);
    return e;
}

static cf_err policy_update_fn(struct cf_store_txn *t, void *arg)
{
    struct get_ctx *c = arg;
    cf_err e = find_fn(t, c);

    if (e)
        return e;
    free(c->obj.policy);
    c->new_pol->created = c->obj.policy_created;
    c->new_pol->updated = c->now;
    if ((e = policy_text(c->new_pol, &c->obj.policy)) != CF_OK)
        return e;
    c->obj.policy_updated = c->now;
    return cf_store_cert_obj_update(t, &c->obj);
}

cf_err cf_cert_policy_update(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, const struct cf_json *policy,
                             struct cf_cert_policy *out, char *why, size_t whysz)
{
    struct get_ctx c;
    cf_err e;

    memset(out, 0, sizeof(*out));
    get_init(&c, svc, v);
    c.policy_only = true;
    e = cf_secret_name_lc(name, c.name_lc);
    if (!e)
        e = cf_store_read(svc->store, get_fn, &c);
    if (!e)
        e = policy_merge(svc, c.obj.policy, policy, out, why, whysz);
    if (!e) {
        c.new_pol = out;
        e = cf_store_write(svc->store, policy_update_fn, &c);
    }
    get_release(&c);
    return e;
}

/* ---------------- lists ---------------- */

/* includePending (§9): a certificate with no version yet - its first create still pending
 * (Unknown issuer before the merge, a CA order in progress) or ended without one (cancelled,
 * a failed order) - has no version row, so the store's name-ordered list does not see it.
 * Azure lists every certificate "not completely provisioned" with includePending, and its
 * pending object stays, in its final status, until Delete-operation (Learn, "Monitor and
 * manage certificate creation": get pending request - status "canceled" or "failed"); GET by
 * name reads it as the pending bundle (get_fn). So a list with includePending takes the
 * page's max smallest such names above the page token (cf_store_cert_list_pending_only) and
 * merges them into the name order. */
struct pend_item {
    int64_t object_id;
    char name[CF_MAX_NAME_LEN + 1];
    char name_lc[CF_MAX_NAME_LEN + 1];
    int64_t created, updated;
};

struct list_ctx {
    const struct cf_vault_ref *v;
    char after[CF_MAX_NAME_LEN + 1];
    int64_t after_seq;
    char name_lc[CF_MAX_NAME_LEN + 1];
    bool deleted;
    int max;
    cf_cert_cb cb;
    void *arg;
    char last[CF_MAX_NAME_LEN + 1];
    int64_t last_seq;
    bool more;
    const struct cf_rec_cert_obj *obj; /* versions: the object */
    struct cf_rec_cert_obj vobj;
    /* includePending: pend[0..npend) sorted by name_lc, next one to emit at ipend */
    bool include_pending;
    struct pend_item pend[CF_PAGE_MAX + 1];
    int npend, ipend, emitted;
    bool dropped; /* more pending-only names past the max kept ones */
};

static cf_err list_cb(const struct cf_rec_cert_obj *o, const struct cf_rec_cert_ver *v, void *arg)
{
    struct list_ctx *c = arg;
    struct cf_cert_meta m;
    cf_err e;

    meta_init(&m);
    e = meta_fill(&m, o ? o : c->obj, v, false);
    if (!e)
        e = c->cb(&m, c->arg);
    if (o)
        snprintf(c->last, sizeof(c->last), "%s", o->name_lc);
    c->last_seq = v->seq;
    cf_cert_meta_release(&m);
    return e;
}

/* Appends o, a pending-only certificate of this vault above the token; the store hands them
 * over in name order, at most max. */
static cf_err pend_walk_cb(const struct cf_rec_cert_obj *o, void *arg)
{
    struct list_ctx *c = arg;
    struct pend_item *p;

    if (c->npend >= c->max || o->vault_id != c->v->id || o->latest_seq != 0 || o->deleted_date)
        return CF_EINTERNAL; /* not what cf_store_cert_list_pending_only promises */
    p = &c->pend[c->npend++];
    memset(p, 0, sizeof(*p));
    p->object_id = o->id;
    snprintf(p->name, sizeof(p->name), "%s", o->name);
    snprintf(p->name_lc, sizeof(p->name_lc), "%s", o->name_lc);
    return CF_OK;
}

/* Emits the pending items that sort before bound (all of them when bound is NULL) while the
 * page has room; an item left over means another page. */
static cf_err pend_emit(struct list_ctx *c, const char *bound)
{
    cf_err e = CF_OK;

    for (; !e && c->ipend < c->npend; c->ipend++) {
        const struct pend_item *p = &c->pend[c->ipend];
        struct cf_cert_meta m;
        if (bound && strcmp(p->name_lc, bound) > 0)
            break;
        if (c->emitted >= c->max) {
            c->more = true;
            break;
        }
        /* as GET by name reads it (get_fn): disabled, no version, x5t or validity */
        meta_init(&m);
        snprintf(m.name, sizeof(m.name), "%s", p->name);
        m.created = p->created;
        m.updated = p->updated;
        m.pending = true;
        e = c->cb(&m, c->arg);
        cf_cert_meta_release(&m);
        snprintf(c->last, sizeof(c->last), "%s", p->name_lc);
        c->emitted++;
    }
    return e;
}

/* The live list with includePending: store rows and pending items in one name order, at most
 * max in all (a store row that no longer fits is left for the next page). */
static cf_err list_merge_cb(const struct cf_rec_cert_obj *o, const struct cf_rec_cert_ver *v,
                            void *arg)
{
    struct list_ctx *c = arg;
    cf_err e = pend_emit(c, o->name_lc);

    if (e)
        return e;
    if (c->emitted >= c->max) {
        c->more = true;
        return CF_OK;
    }
    c->emitted++;
    return list_cb(o, v, arg);
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct list_ctx *c = arg;
    bool more = false;
    cf_err e;

    if (!c->include_pending)
        return cf_store_cert_list(t, c->v->id, c->deleted, c->after, c->max, list_cb, c,
                                  &c->more);
    c->npend = c->ipend = c->emitted = 0;
    c->more = c->dropped = false;
    e = cf_store_cert_list_pending_only(t, c->v->id, c->after, c->max, pend_walk_cb, c,
                                        &c->dropped);
    for (int i = 0; !e && i < c->npend; i++) {
        struct cf_rec_cert_pending p;
        cf_rec_cert_pending_init(&p);
        e = cf_store_cert_pending_get(t, c->pend[i].object_id, &p);
        if (!e) {
            c->pend[i].created = p.created;
            c->pend[i].updated = p.updated;
        }
        cf_rec_cert_pending_release(&p);
    }
    if (!e)
        e = cf_store_cert_list(t, c->v->id, false, c->after, c->max, list_merge_cb, c, &more);
    if (!e)
        e = pend_emit(c, NULL);
    /* more pages: an item that did not fit, store rows beyond this page, or pending names
     * past the max kept ones */
    c->more = c->more || more || c->dropped;
    return e;
}

static cf_err list_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v, bool deleted,
                          bool include_pending, struct cf_str after, int max, cf_cert_cb cb,
                          void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    struct list_ctx *c = calloc(1, sizeof(*c));
    cf_err e;

    if (!c)
        return CF_ENOMEM;
    c->v = v;
    c->deleted = deleted;
    c->include_pending = include_pending && !deleted;
    c->max = page_max(max);
    c->cb = cb;
    c->arg = arg;
    e = token_decode(after, c->after);
    if (!e) {
        next[0] = '\0'; /* after may point into next: decoded first */
        e = cf_store_read(svc->store, list_fn, c);
    }
    if (!e && c->more)
        token_encode(c->last, next);
    free(c);
    return e;
}

cf_err cf_cert_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str after,
                    int max, bool include_pending, cf_cert_cb cb, void *arg,
                    char next[CF_PAGE_TOKEN_MAX])
{
    return list_common(svc, v, false, include_pending, after, max, cb, arg, next);
}

/* A certificate is soft-deleted only once it has a version (life_fn needs one), so a deleted
 * one is never pending-only: includePending changes nothing here. */
cf_err cf_cert_list_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                            struct cf_str after, int max, cf_cert_cb cb, void *arg,
                            char next[CF_PAGE_TOKEN_MAX])
{
    return list_common(svc, v, true, false, after, max, cb, arg, next);
}

static cf_err versions_fn(struct cf_store_txn *t, void *arg)
{
    struct list_ctx *c = arg;
    cf_err e = cf_store_cert_obj_get(t, c->v->id, c->name_lc, &c->vobj);

    if (e == CF_ENOTFOUND || (!e && c->vobj.deleted_date))
        return CF_OK;
    if (e)
        return e;
    c->obj = &c->vobj;
    return cf_store_cert_list_versions(t, c->vobj.id, c->after_seq, c->max, false, list_cb, c,
                                       &c->more);
}

cf_err cf_cert_list_versions(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_str after, int max, cf_cert_cb cb,
                             void *arg, char next[CF_PAGE_TOKEN_MAX])
{
    struct list_ctx c;
    char tok[CF_MAX_NAME_LEN + 1];
    cf_err e;

    memset(&c, 0, sizeof(c));
    c.v = v;
    c.max = page_max(max);
    c.cb = cb;
    c.arg = arg;
    if ((e = cf_secret_name_lc(name, c.name_lc)) != CF_OK)
        return e;
    if ((e = token_decode(after, tok)) != CF_OK)
        return e;
    next[0] = '\0';
    if (tok[0]) {
        int64_t n;
        if (!cf_str_to_i64(cf_str_from(tok), &n) || n < 0)
            return CF_EBADPARAM;
        c.after_seq = n;
    }
    e = cf_store_read(svc->store, versions_fn, &c);
    if (!e && c.more) {
        char num[24];
        snprintf(num, sizeof(num), "%lld", (long long)c.last_seq);
        token_encode(num, next);
    }
    cf_rec_cert_obj_release(&c.vobj);
    return e;
}

/* ---------------- delete, recover, purge ---------------- */

enum life { LIFE_DELETE, LIFE_RECOVER, LIFE_PURGE };

struct life_ctx {
    struct get_ctx g;
    enum life op;
    struct cf_key_hsm_gone gone;
};

static cf_err secret_mark_txn(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                              int64_t dd, int64_t sp, bool purge)
{
    struct cf_rec_secret_obj o;
    cf_err e = cf_store_secret_obj_get(t, vault_id, name_lc, &o);

    if (e == CF_ENOTFOUND)
        return CF_OK;
    if (e)
        return e;
    if (purge)
        return cf_store_secret_obj_delete(t, o.id);
    o.deleted_date = dd;
    o.scheduled_purge = sp;
    return cf_store_secret_obj_update(t, &o);
}

static cf_err life_fn(struct cf_store_txn *t, void *arg)
{
    struct life_ctx *l = arg;
    struct get_ctx *c = &l->g;
    int64_t dd = 0, sp = 0;
    cf_err e;

    c->deleted = l->op != LIFE_DELETE;
    c->policy_only = l->op == LIFE_PURGE;
    e = find_fn(t, c);
    if (e)
        return e;
    if (l->op == LIFE_PURGE) {
        if (c->v->purge_protection)
            return CF_EPURGEPROTECT;
        struct cf_rec_cert_pending p;
        char aad[CERT_AAD_MAX];
        l->gone.n = 0; /* token objects of HSM key versions (cert_hsm.h), destroyed after */
        cf_rec_cert_pending_init(&p);
        if (cf_store_cert_pending_get(t, c->obj.id, &p) == CF_OK) /* an Unknown op's key */
            e = cf_cert_hsm_pending_drop_txn(t, c->svc, c->v->id, aad,
                                             pending_aad(aad, c->v->id, c->name_lc), &p.priv,
                                             &l->gone);
        cf_rec_cert_pending_release(&p);
        if (e || (e = cf_cert_hsm_release_name_txn(t, c->svc, c->v->id, c->name_lc, &l->gone)) !=
                     CF_OK ||
            (e = cf_key_cert_mark_txn(t, c->v->id, c->name_lc, 0, 0, true)) != CF_OK ||
            (e = secret_mark_txn(t, c->v->id, c->name_lc, 0, 0, true)) != CF_OK)
            return e;
        return cf_store_cert_obj_delete(t, c->obj.id);
    }
    if (l->op == LIFE_DELETE) {
        dd = c->now;
        sp = c->now + (int64_t)c->v->retention_days * 86400;
    }
    c->obj.deleted_date = dd;
    c->obj.scheduled_purge = sp;
    if ((e = cf_key_cert_mark_txn(t, c->v->id, c->name_lc, dd, sp, false)) != CF_OK ||
        (e = secret_mark_txn(t, c->v->id, c->name_lc, dd, sp, false)) != CF_OK)
        return e;
    return cf_store_cert_obj_update(t, &c->obj);
}

static cf_err life_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, enum life op, struct cf_cert_meta *out)
{
    struct life_ctx l;
    cf_err e;

    if (out)
        meta_init(out);
    get_init(&l.g, svc, v);
    l.op = op;
    memset(&l.gone, 0, sizeof(l.gone));
    e = cf_secret_name_lc(name, l.g.name_lc);
    if (!e) {
        e = cf_store_write(svc->store, life_fn, &l);
        cf_key_cert_forget(svc, v->id, l.g.name_lc);
        cf_scache_forget(svc->scache, v->id, l.g.name_lc);
    }
    if (!e)
        cf_key_hsm_destroy_gone(svc, &l.gone); /* releases the list */
    cf_key_hsm_gone_release(&l.gone);
    if (!e && out) {
        e = meta_fill(out, &l.g.obj, &l.g.ver, true);
        out->pending = l.g.pending;
    }
    get_release(&l.g);
    return e;
}

cf_err cf_cert_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name,
                      struct cf_cert_meta *out)
{
    return life_common(svc, v, name, LIFE_DELETE, out);
}

cf_err cf_cert_recover(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                       struct cf_str name, struct cf_cert_meta *out)
{
    return life_common(svc, v, name, LIFE_RECOVER, out);
}

cf_err cf_cert_purge(struct cf_vault_svc *svc, const struct cf_vault_ref *v, struct cf_str name)
{
    return life_common(svc, v, name, LIFE_PURGE, NULL);
}

cf_err cf_cert_get_deleted(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str name, struct cf_cert_meta *out)
{
    struct get_ctx c;
    cf_err e;

    meta_init(out);
    get_init(&c, svc, v);
    c.deleted = true;
    e = cf_secret_name_lc(name, c.name_lc);
    if (!e)
        e = cf_store_read(svc->store, get_fn, &c);
    if (!e) {
        e = meta_fill(out, &c.obj, &c.ver, true);
        out->pending = c.pending;
    }
    get_release(&c);
    return e;
}

/* backup / restore: certs_backup.c */

/* ---------------- contacts ---------------- */

struct contacts_ctx {
    const struct cf_vault_ref *v;
    int64_t now;
    const char *set; /* put this; NULL: get (or delete when del) */
    bool del;
    char *json;
};

static cf_err contacts_fn(struct cf_store_txn *t, void *arg)
{
    struct contacts_ctx *c = arg;
    cf_err e;

    free(c->json);
    c->json = NULL;
    if (c->set)
        return cf_store_cert_contacts_put(t, c->v->id, c->set, c->now);
    e = cf_store_cert_contacts_get(t, c->v->id, &c->json);
    if (!e && c->del)
        e = cf_store_cert_contacts_delete(t, c->v->id);
    return e;
}

static cf_err contacts_run(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct contacts_ctx *c, bool write, char **json)
{
    cf_err e;

    c->v = v;
    c->now = cf_vault_now(svc);
    e = write ? cf_store_write(svc->store, contacts_fn, c) : cf_store_read(svc->store, contacts_fn, c);
    if (e == CF_ENOTFOUND && !c->set) {
        free(c->json);
        c->json = strdup("[]");
        e = c->json ? CF_OK : CF_ENOMEM;
    }
    *json = e ? NULL : c->json;
    if (e)
        free(c->json);
    return e;
}

cf_err cf_cert_contacts_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v, char **json)
{
    struct contacts_ctx c = {0};
    return contacts_run(svc, v, &c, false, json);
}

cf_err cf_cert_contacts_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v, char **json)
{
    struct contacts_ctx c = {0};
    c.del = true;
    return contacts_run(svc, v, &c, true, json);
}

cf_err cf_cert_contacts_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                            const struct cf_json *contacts, char **json, char *why, size_t whysz)
{
    struct contacts_ctx c = {0};
    struct cf_buf b;
    struct cf_jw w;
    cf_err e;

    *json = NULL;
    if (cf_json_type(contacts) != CF_JSON_ARRAY || cf_json_size(contacts) > 64)
        return bad(why, whysz, "Property 'contacts' must be an array of up to 64 contacts.");
    cf_buf_init(&b, 64 * 1024);
    cf_jw_init(&w, &b);
    cf_jw_arr_begin(&w);
    for (size_t i = 0; i < cf_json_size(contacts); i++) {
        const struct cf_json *ct = cf_json_at(contacts, i);
        static const char *const keys[] = {"email", "name", "phone"};
        char val[3][256];
        if (cf_json_type(ct) != CF_JSON_OBJECT) {
            cf_buf_release(&b);
            return bad(why, whysz, "Each contact must be an object.");
        }
        for (int k = 0; k < 3; k++) {
            const struct cf_json *m = cf_json_get(ct, keys[k]);
            val[k][0] = '\0';
            if (given(m) && !str_into(m, val[k], sizeof(val[k]))) {
                cf_buf_release(&b);
                return bad(why, whysz, "Contact property '%s' must be a string of up to 255 "
                                       "bytes.", keys[k]);
            }
        }
        if (!val[0][0] || !strchr(val[0], '@')) {
            cf_buf_release(&b);
            return bad(why, whysz, "Each contact needs an email address.");
        }
        cf_jw_obj_begin(&w);
        for (int k = 0; k < 3; k++)
            if (val[k][0])
                cf_jw_kstr(&w, keys[k], val[k]);
        cf_jw_obj_end(&w);
    }
    cf_jw_arr_end(&w);
    e = cf_jw_err(&w);
    if (!e) {
        c.set = b.data;
        e = contacts_run(svc, v, &c, true, json);
        if (!e)
            *json = cf_buf_detach(&b, NULL);
        if (!e && !*json)
            e = CF_ENOMEM;
    }
    cf_buf_release(&b);
    return e;
}

/* ---------------- issuers ---------------- */

#define ISSUER_AAD_MAX (10 + 21 + CF_CERT_ISSUER_MAX + 1)

void cf_cert_issuer_release(struct cf_cert_issuer *i)
{
    if (!i)
        return;
    free(i->org_json);
    i->org_json = NULL;
}

bool cf_cert_issuer_name_valid(struct cf_str name)
{
    if (name.len == 0 || name.len > CF_CERT_ISSUER_MAX)
        return false;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-'))
            return false;
    }
    return !(name.len == 4 && strncasecmp(name.p, "self", 4) == 0) &&
           !(name.len == 7 && strncasecmp(name.p, "unknown", 7) == 0);
}

static cf_err issuer_out(const struct cf_rec_cert_issuer *r, struct cf_cert_issuer *out)
{
    cf_err e = CF_OK;
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", r->name);
    snprintf(out->provider, sizeof(out->provider), "%s", r->provider);
    snprintf(out->account_id, sizeof(out->account_id), "%s", r->account_id);
    out->org_json = dup_opt(r->org_json, &e);
    out->enabled = r->enabled;
    out->created = r->created;
    out->updated = r->updated;
    return e;
}

struct issuer_ctx {
    const struct cf_vault_ref *v;
    char name_lc[CF_CERT_ISSUER_MAX + 1];
    int kind; /* 0 get, 1 put, 2 update, 3 delete */
    struct cf_rec_cert_issuer rec; /* get/delete: out; put/update: the new values */
    struct cf_rec_cert_issuer cur;
    bool has_provider, has_account, has_pwd, has_org, has_enabled;
    int64_t now;
};

static cf_err issuer_fn(struct cf_store_txn *t, void *arg)
{
    struct issuer_ctx *c = arg;
    cf_err e;

    cf_rec_cert_issuer_release(&c->cur);
    e = cf_store_cert_issuer_get(t, c->v->id, c->name_lc, &c->cur);
    if (c->kind == 1 && e == CF_ENOTFOUND) {
        c->rec.created = c->now;
        e = CF_OK;
    } else if (e) {
        return e;
    }
    if (c->kind == 0 || c->kind == 3) {
        if (c->kind == 3 && (e = cf_store_cert_issuer_delete(t, c->v->id, c->name_lc)) != CF_OK)
            return e;
        cf_rec_cert_issuer_release(&c->rec);
        c->rec = c->cur;
        cf_rec_cert_issuer_init(&c->cur);
        return CF_OK;
    }
    if (c->kind == 1 && c->cur.created)
        c->rec.created = c->cur.created;
    if (c->kind == 2) {
        /* PATCH: members given replace, the rest stays */
        c->rec.created = c->cur.created;
        if (!c->has_provider)
            memcpy(c->rec.provider, c->cur.provider, sizeof(c->rec.provider));
        if (!c->has_account)
            memcpy(c->rec.account_id, c->cur.account_id, sizeof(c->rec.account_id));
        if (!c->has_pwd && (e = cf_buf_append(&c->rec.creds, c->cur.creds.data,
                                              c->cur.creds.len)) != CF_OK)
            return e;
        if (!c->has_org) {
            free(c->rec.org_json);
            c->rec.org_json = dup_opt(c->cur.org_json, &e);
        }
        if (!c->has_enabled)
            c->rec.enabled = c->cur.enabled;
    }
    c->rec.updated = c->now;
    return e ? e : cf_store_cert_issuer_put(t, &c->rec);
}

static cf_err issuer_common(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                            struct issuer_ctx *c, struct cf_str name, struct cf_cert_issuer *out)
{
    cf_err e;

    memset(out, 0, sizeof(*out));
    if (!cf_cert_issuer_name_valid(name))
        return CF_EBADNAME;
    c->v = v;
    c->now = cf_vault_now(svc);
    cf_str_lower(name, c->name_lc);
    snprintf(c->rec.name, sizeof(c->rec.name), "%.*s", CF_STR_FMT(name));
    c->rec.vault_id = v->id;
    e = c->kind == 0 ? cf_store_read(svc->store, issuer_fn, c)
                     : cf_store_write(svc->store, issuer_fn, c);
    if (!e)
        e = issuer_out(&c->rec, out);
    cf_rec_cert_issuer_release(&c->rec);
    cf_rec_cert_issuer_release(&c->cur);
    return e;
}

cf_err cf_cert_issuer_get(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, struct cf_cert_issuer *out)
{
    struct issuer_ctx c;
    memset(&c, 0, sizeof(c));
    cf_rec_cert_issuer_init(&c.rec);
    cf_rec_cert_issuer_init(&c.cur);
    return issuer_common(svc, v, &c, name, out);
}

cf_err cf_cert_issuer_delete(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_cert_issuer *out)
{
    struct issuer_ctx c;
    memset(&c, 0, sizeof(c));
    cf_rec_cert_issuer_init(&c.rec);
    cf_rec_cert_issuer_init(&c.cur);
    c.kind = 3;
    return issuer_common(svc, v, &c, name, out);
}

cf_err cf_cert_issuer_set(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                          struct cf_str name, const struct cf_json *body, bool update,
                          struct cf_cert_issuer *out, char *why, size_t whysz)
{
    struct issuer_ctx c;
    const struct cf_json *j, *cr;
    cf_err e = CF_OK;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    cf_rec_cert_issuer_init(&c.rec);
    cf_rec_cert_issuer_init(&c.cur);
    c.kind = update ? 2 : 1;
    c.rec.enabled = true;
    if (cf_json_type(body) != CF_JSON_OBJECT) {
        e = bad(why, whysz, "The issuer must be an object.");
        goto fail;
    }
    if (given(j = cf_json_get(body, "provider"))) {
        if (!str_into(j, c.rec.provider, sizeof(c.rec.provider)) || !c.rec.provider[0]) {
            e = bad(why, whysz, "Property 'provider' must be a non-empty string.");
            goto fail;
        }
        c.has_provider = true;
    } else if (!update) {
        e = bad(why, whysz, "Property 'provider' is required.");
        goto fail;
    }
    if (given(cr = cf_json_get(body, "credentials"))) {
        size_t len;
        const char *pwd;
        if (cf_json_type(cr) != CF_JSON_OBJECT) {
            e = bad(why, whysz, "Property 'credentials' must be an object.");
            goto fail;
        }
        if (given(j = cf_json_get(cr, "account_id"))) {
            if (!str_into(j, c.rec.account_id, sizeof(c.rec.account_id))) {
                e = bad(why, whysz, "Property 'credentials.account_id' must be a string.");
                goto fail;
            }
        }
        c.has_account = true;
        if (given(j = cf_json_get(cr, "pwd"))) {
            unsigned char dek[CF_AEAD_KEY_LEN];
            char aad[ISSUER_AAD_MAX];
            int n;
            if (!(pwd = cf_json_str(j, &len)) || len > 4096) {
                e = bad(why, whysz, "Property 'credentials.pwd' must be a string.");
                goto fail;
            }
            n = snprintf(aad, sizeof(aad), "issuer%c%lld%c%.*s", 0, (long long)v->id, 0,
                         (int)CF_MIN(name.len, CF_CERT_ISSUER_MAX), name.p);
            for (int i = 0; i < n; i++)
                aad[i] = (char)tolower((unsigned char)aad[i]);
            e = cf_vault_dek(svc, v, dek);
            if (!e) {
                e = cf_aead_seal(dek, aad, (size_t)CF_MIN(n, (int)sizeof(aad) - 1), pwd, len,
                                 &c.rec.creds);
                cf_wipe(dek, sizeof(dek));
            }
            if (e)
                goto fail;
        }
        c.has_pwd = true;
    }
    if (given(j = cf_json_get(body, "org_details"))) {
        struct cf_buf b;
        if (cf_json_type(j) != CF_JSON_OBJECT) {
            e = bad(why, whysz, "Property 'org_details' must be an object.");
            goto fail;
        }
        cf_buf_init(&b, 32 * 1024);
        e = cf_json_dump(j, &b);
        if (!e && !(c.rec.org_json = cf_buf_detach(&b, NULL)))
            e = CF_ENOMEM;
        cf_buf_release(&b);
        if (e) {
            e = e == CF_ENOMEM ? e : bad(why, whysz, "Property 'org_details' is too large.");
            goto fail;
        }
        c.has_org = true;
    }
    if (given(j = cf_json_get(body, "attributes"))) {
        const struct cf_json *en = cf_json_get(j, "enabled");
        if (given(en)) {
            if (!cf_json_bool(en, &c.rec.enabled)) {
                e = bad(why, whysz, "Property 'attributes.enabled' must be a boolean.");
                goto fail;
            }
            c.has_enabled = true;
        }
    }
    return issuer_common(svc, v, &c, name, out);
fail:
    cf_rec_cert_issuer_release(&c.rec);
    cf_rec_cert_issuer_release(&c.cur);
    return e;
}

struct issuer_list_ctx {
    const struct cf_vault_ref *v;
    char after[CF_CERT_ISSUER_MAX + 1];
    int max;
    cf_cert_issuer_cb cb;
    void *arg;
    char last[CF_CERT_ISSUER_MAX + 1];
    bool more;
};

static cf_err issuer_list_cb(const struct cf_rec_cert_issuer *r, void *arg)
{
    struct issuer_list_ctx *c = arg;
    struct cf_cert_issuer i;
    cf_err e = issuer_out(r, &i);

    if (!e)
        e = c->cb(&i, c->arg);
    cf_str_lower(cf_str_from(r->name), c->last);
    cf_cert_issuer_release(&i);
    return e;
}

static cf_err issuer_list_fn(struct cf_store_txn *t, void *arg)
{
    struct issuer_list_ctx *c = arg;
    return cf_store_cert_issuer_list(t, c->v->id, c->after, c->max, issuer_list_cb, c, &c->more);
}

cf_err cf_cert_issuer_list(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                           struct cf_str after, int max, cf_cert_issuer_cb cb, void *arg,
                           char next[CF_PAGE_TOKEN_MAX])
{
    struct issuer_list_ctx c;
    char tok[CF_MAX_NAME_LEN + 1];
    cf_err e;

    memset(&c, 0, sizeof(c));
    c.v = v;
    c.max = page_max(max);
    c.cb = cb;
    c.arg = arg;
    if ((e = token_decode(after, tok)) != CF_OK)
        return e;
    next[0] = '\0';
    snprintf(c.after, sizeof(c.after), "%s", tok);
    e = cf_store_read(svc->store, issuer_list_fn, &c);
    if (!e && c.more)
        token_encode(c.last, next);
    return e;
}

/* ---------------- lifetime actions (the janitor) ---------------- */

struct due_item {
    int64_t vault_id, object_id;
    int64_t nbf, exp; /* the version's validity (CertificateNearExpiry's NBF/EXP) */
    char name[CF_MAX_NAME_LEN + 1];
    char version[33];
    int action; /* enum cf_cert_action */
};

struct due_ctx {
    int64_t now;
    int64_t day_s; /* day_s(svc) */
    int64_t after_id;
    bool more;
    struct due_item items[RENEW_BATCH];
    size_t n;
};

/* When action l of a version valid [nbf, exp) is due (day: day_s). */
static int64_t due_at(const struct cf_cert_lifetime *l, int64_t nbf, int64_t exp, int64_t day)
{
    if (l->pct)
        return nbf + (exp - nbf) * l->pct / 100;
    return exp - (int64_t)l->days * day;
}

static cf_err due_cb(const struct cf_rec_cert_obj *o, const struct cf_rec_cert_ver *v, void *arg)
{
    struct due_ctx *c = arg;
    struct cf_cert_policy p;

    c->after_id = o->id;
    if (policy_from_text(o->policy, &p) != CF_OK || v->exp <= v->nbf)
        return CF_OK;
    for (size_t i = 0; i < p.nactions && c->n < RENEW_BATCH; i++) {
        const struct cf_cert_lifetime *l = &p.actions[i];
        if (due_at(l, v->nbf, v->exp, c->day_s) > c->now)
            continue;
        if (l->action == CF_CERT_AUTORENEW && strcmp(p.issuer, "Unknown") == 0)
            continue; /* a CSR flow renews through its own merge; renew_one sorts the rest */
        struct due_item *it = &c->items[c->n++];
        it->vault_id = o->vault_id;
        it->object_id = o->id;
        it->nbf = v->nbf;
        it->exp = v->exp;
        snprintf(it->name, sizeof(it->name), "%s", o->name);
        memcpy(it->version, v->version, sizeof(it->version));
        it->action = l->action;
    }
    return CF_OK;
}

static cf_err due_fn(struct cf_store_txn *t, void *arg)
{
    struct due_ctx *c = arg;
    c->n = 0;
    return cf_store_cert_list_all(t, c->after_id, RENEW_BATCH, due_cb, c, &c->more);
}

struct vault_of {
    int64_t id;
    char name[CF_VAULT_NAME_MAX + 1];
    bool live;
};

static cf_err vault_of_fn(struct cf_store_txn *t, void *arg)
{
    struct vault_of *vo = arg;
    struct cf_rec_vault r;
    cf_err e = cf_store_vault_get_by_id(t, vo->id, &r);
    if (e)
        return e;
    snprintf(vo->name, sizeof(vo->name), "%s", r.name);
    vo->live = r.deleted_date == 0;
    cf_rec_vault_release(&r);
    return CF_OK;
}

/* EmailContacts notices are sent once per version: the meta table remembers the last one
 * (the log line's mark). The notice is also the certificate's CertificateNearExpiry
 * (azure-kv-security-ops.md 7.1), recorded in the events scan's own per-version mark
 * (cf_store_expiry_mark) in the same write: whichever of the two comes first - this trigger or
 * the scan's lead (events_near_expiry_days, Azure's 30 days) - sends the one event of the
 * version, the other stays quiet. Unlike a key's Notify, the policy does not replace the scan:
 * every certificate has a policy, most without EmailContacts (a self-issued one defaults to
 * AutoRenew at 80 %), and Azure sends the 30-day event for all of them; EmailContacts can only
 * bring it forward. None once the version has expired (the scan sends CertificateExpired). */
struct notice {
    char key[64 + CF_MAX_NAME_LEN];
    struct cf_vault_svc *svc;
    const struct due_item *it;
    const char *vault_name;
    int64_t now;
    bool sent;    /* the notice (log line) was already sent for this version */
    bool emitted; /* this write added the CertificateNearExpiry */
};

static cf_err notice_fn(struct cf_store_txn *t, void *arg)
{
    struct notice *n = arg;
    const struct due_item *it = n->it;
    bool was_near = false;
    struct cf_buf b;
    cf_err e;

    n->emitted = false;
    cf_buf_init(&b, 64);
    e = cf_store_meta_get(t, n->key, &b);
    n->sent = e == CF_OK && b.len == 32 && memcmp(b.data, it->version, 32) == 0;
    cf_buf_release(&b);
    if (n->sent)
        return CF_OK;
    e = cf_store_meta_put(t, n->key, it->version, 32);
    if (!e && n->now < it->exp)
        e = cf_store_expiry_mark(t, CF_EVENT_KIND_CERT, it->object_id, it->version, true, false,
                                 &was_near, NULL);
    if (!e && n->now < it->exp && !was_near) {
        e = cf_vault_emit(n->svc, t, "CertificateNearExpiry", it->vault_id, n->vault_name,
                          "Certificate", it->name, it->version, it->nbf, it->exp);
        n->emitted = !e;
    }
    return e;
}

struct renew_read {
    struct issue *s;
    struct cf_cert_policy *pol;
    const char *version;
    struct cf_kvkey *reuse; /* the current key when reuse_key */
    struct cf_cert_hsm *hsm; /* or the current token key (hsm->kty set) */
    char latest[33];
};

static cf_err renew_read_fn(struct cf_store_txn *t, void *arg)
{
    struct renew_read *r = arg;
    struct cf_rec_cert_obj o;
    struct cf_rec_cert_pending p;
    cf_err e = cf_store_cert_obj_get(t, r->s->v->id, r->s->name_lc, &o);

    if (!e && o.deleted_date)
        e = CF_ENOTFOUND;
    if (!e)
        e = policy_from_text(o.policy, r->pol);
    if (!e)
        memcpy(r->latest, o.latest_version, sizeof(r->latest));
    if (!e && cf_store_cert_pending_get(t, o.id, &p) == CF_OK) {
        if (strcmp(p.status, "inProgress") == 0)
            e = CF_EBUSY;
    }
    cf_rec_cert_pending_release(&p);
    if (!e && r->pol->reuse_key) {
        bool on_token = false;
        e = cf_cert_hsm_open_txn(t, r->hsm, r->s->v, r->s->name_lc, r->latest, &on_token);
        if (!e && !on_token)
            e = cf_key_cert_open_txn(t, r->s->svc, r->s->v, r->s->name_lc, r->latest, &r->reuse);
    }
    cf_rec_cert_obj_release(&o);
    return e;
}

/* A new version from the current policy (fresh key unless reuse_key), self-signed or signed
 * by the private CA; other issuers are not renewed here (CF_EBUSY: skipped quietly). */
static cf_err renew_one(struct cf_vault_svc *svc, const struct cf_vault_ref *v, const char *name,
                        const char *version)
{
    struct cf_cert_policy pol;
    struct cf_cert_san sans[CF_CERT_MAX_SANS];
    const char *ekus[CF_CERT_MAX_EKUS];
    struct cf_cert_req req;
    struct cf_kvkey *k = NULL;
    struct cf_cert_hsm hsm;
    struct renew_read r;
    struct cf_buf chain, csr;
    enum issuer_kind kind;
    char why[160];
    struct issue s;
    cf_err e;

    issue_init(&s, svc, v);
    cf_buf_init(&chain, CF_STORE_CERT_DER_MAX);
    cf_buf_init(&csr, CF_STORE_CERT_DER_MAX);
    memset(&r, 0, sizeof(r));
    cf_cert_hsm_init(&hsm, svc);
    r.hsm = &hsm;
    r.s = &s;
    r.pol = &pol;
    r.version = version;
    if ((e = name_setup(&s, cf_str_from(name))) != CF_OK ||
        (e = cf_store_read(svc->store, renew_read_fn, &r)) != CF_OK)
        goto done;
    if (strcmp(r.latest, version) != 0)
        goto done; /* renewed meanwhile */
    if ((e = issuer_kind(svc, v, pol.issuer, &kind)) != CF_OK)
        goto done;
    if (kind != ISS_SELF && kind != ISS_CA && kind != ISS_ACME) {
        e = CF_EBUSY;
        goto done;
    }
    k = r.reuse;
    r.reuse = NULL;
    if (hsm.kty[0]) { /* reuse_key with a token key */
        s.hsm = &hsm;
    } else if (!k && cf_cert_hsm_kty(pol.kty)) {
        if ((e = cf_cert_hsm_generate(&hsm, pol.kty, pol.key_size, pol.crv, why, sizeof(why))) !=
            CF_OK)
            goto done;
        s.hsm = &hsm;
    } else if (!k && (e = generate_key(&pol, &k)) != CF_OK) {
        goto done;
    }
    s.pol = &pol;
    s.pend_mode = PEND_KEEP;
    req_from_policy(svc, &pol, sans, ekus, s.now, &req);
    if (kind == ISS_ACME) {
        /* a new order: the operation goes inProgress until the ACME driver completes it */
        s.create = true;
        s.pend_mode = PEND_PUT;
        if ((e = key_csr(&s, k, &req, &csr, why, sizeof(why))) != CF_OK ||
            (e = cf_random_hex32(s.pend.request_id)) != CF_OK ||
            (e = issuer_json_of(&pol, &s.pend.issuer_json)) != CF_OK ||
            (e = cf_buf_append(&s.pend.csr, csr.data, csr.len)) != CF_OK ||
            (e = pending_key(&s, k, NULL, PENDING_DETAILS_ACME)) != CF_OK)
            goto done;
        s.pend.created = s.pend.updated = s.now;
        if ((e = issue_write(&s)) == CF_OK) {
            hsm.made = false; /* the operation holds it */
            cf_info("vault: certificate %s in vault %s: renewal order started (AutoRenew)", name,
                    v->name);
        }
        goto done;
    }
    if ((kind == ISS_CA && (e = key_csr(&s, k, &req, &csr, why, sizeof(why))) != CF_OK) ||
        (e = sign_chain(&s, kind, k, &req, &csr, &chain, why, sizeof(why))) != CF_OK ||
        (e = issue_prepare(&s, k, chain.data, chain.len, NULL)) != CF_OK)
        goto done;
    e = issue_write(&s);
    if (!e)
        hsm.made = false; /* the new key version holds it */
    if (!e)
        cf_info("vault: certificate %s in vault %s renewed (AutoRenew), new version %s", name,
                v->name, s.cver.version);
done:
    cf_cert_hsm_release(&hsm, true);
    cf_kvkey_free(k);
    cf_kvkey_free(r.reuse);
    cf_buf_release(&chain);
    cf_buf_release(&csr);
    issue_release(&s);
    return e;
}

static cf_err cert_purge_fn(struct cf_store_txn *t, void *arg)
{
    int n = 0;
    return cf_store_cert_purge_expired(t, *(const int64_t *)arg, 256, &n);
}

cf_err cf_vault_certs_renew_due(struct cf_vault_svc *svc, int *renewed)
{
    struct due_ctx *c = calloc(1, sizeof(*c));
    cf_err e = CF_OK;
    int done = 0;

    if (renewed)
        *renewed = 0;
    if (!c)
        return CF_ENOMEM;
    c->now = cf_vault_now(svc);
    c->day_s = day_s(svc);
    do {
        e = cf_store_read(svc->store, due_fn, c);
        for (size_t i = 0; !e && i < c->n; i++) {
            struct due_item *it = &c->items[i];
            struct vault_of vo = {.id = it->vault_id};
            struct cf_vault_ref ref;
            if (cf_store_read(svc->store, vault_of_fn, &vo) != CF_OK || !vo.live ||
                cf_vault_resolve(svc, cf_str_from(vo.name), &ref) != CF_OK)
                continue;
            if (it->action == CF_CERT_EMAIL) {
                struct notice n = {.svc = svc, .it = it, .vault_name = vo.name, .now = c->now};
                char *contacts = NULL;
                size_t count = 0;
                char lc[CF_MAX_NAME_LEN + 1];
                cf_str_lower(cf_str_from(it->name), lc);
                snprintf(n.key, sizeof(n.key), "certnotice:%lld:%s", (long long)it->vault_id, lc);
                if (cf_store_write(svc->store, notice_fn, &n) != CF_OK || n.sent)
                    continue;
                if (cf_cert_contacts_get(svc, &ref, &contacts) == CF_OK && contacts) {
                    for (const char *p = contacts; (p = strstr(p, "\"email\"")) != NULL; p++)
                        count++;
                }
                free(contacts);
                cf_warn("vault: certificate %s (version %s) in vault %s is near expiry "
                        "(EmailContacts: %zu contact%s; CertificateNearExpiry %s)",
                        it->name, it->version, vo.name, count, count == 1 ? "" : "s",
                        n.emitted           ? "sent"
                        : c->now >= it->exp ? "not sent: expired"
                                            : "already sent");
                continue;
            }
            cf_err r = renew_one(svc, &ref, it->name, it->version);
            if (r == CF_OK)
                done++;
            else if (r != CF_EBUSY && r != CF_ENOTFOUND)
                cf_warn("vault: renewing certificate %s in vault %s failed: %s", it->name,
                        vo.name, cf_err_name(r));
        }
    } while (!e && c->more);
    if (!e) {
        int64_t now = c->now;
        e = cf_store_write(svc->store, cert_purge_fn, &now);
    }
    free(c);
    if (renewed)
        *renewed = done;
    return e;
}

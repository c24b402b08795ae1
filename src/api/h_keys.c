/* h_keys.c - the keys data plane (azure-kv-keys.md §3-§9): request bodies in, KeyBundle /
 * DeletedKeyBundle / KeyItem / DeletedKeyItem, KeyRotationPolicy and the crypto results out.
 *
 * Map:
 *   body parsing   attributes, tags, key_ops, release_policy (shared by create, import,
 *                  update); rotation policies; base64url members of the crypto operations
 *   output         struct key_writer: ids from the request's host; the bundle and item shapes
 *                  (field order of §3-§4); the public JWK members copied from the vault's text
 *   errors         reply_err: cf_err -> KeyNotFound / KeyDisabled / KeyOperationForbidden ...
 *   handlers       create, import, get, update, delete, get/list deleted, recover, purge, list,
 *                  list versions, backup, restore, rotate, rotation policy get/set, the six
 *                  crypto operations, release (refused: no attestation service), rng
 *
 * Every handler validates the name before touching the vault, and every path ends in exactly
 * one api_reply / api_reply_empty / api_error* call (internal.h). Decoded crypto inputs live in
 * buffers wiped after use; decrypted output goes from the vault's cf_secret straight into
 * r->out, reserved up front so no realloc leaves a copy. No input bytes reach an error. */
#include "base/cf.h"
#include "api/internal.h"
#include "base/codec.h"
#include "base/secret.h"
#include "crypto/crypto.h"

#define NAME_SHOWN 256           /* longest part of a request name quoted back in an error */
#define OP_VALUE_MAX (64 * 1024) /* decoded bytes of a crypto operation's input */
#define RELEASE_MAX (16 * 1024)  /* a release policy's JSON */
#define TAGS_MAX (64 * 1024)
#define RNG_MAX 128
#define DEFAULT_POLICY_CT "application/json; charset=utf-8"

static struct cf_vault_svc *vault_svc(const struct api_req *r)
{
    return r->api->cfg.vault;
}

/* ---------------- text helpers ---------------- */

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static bool version_valid(struct cf_str v)
{
    if (v.len != CF_VERSION_HEX_LEN)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* Absent and JSON null both mean "not given" for optional fields. */
static bool given(const struct cf_json *j)
{
    enum cf_json_type t = cf_json_type(j);
    return t != CF_JSON_NONE && t != CF_JSON_NULL;
}

static cf_err bad(char *why, size_t n, const char *fmt, ...) CF_PRINTF(3, 4);
static cf_err bad(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return CF_EBADPARAM;
}

/* ---------------- request bodies: create, import, update ---------------- */

struct key_body {
    struct cf_key_input in;
    struct cf_buf tags;
    struct cf_buf release;
};

static void key_body_init(struct key_body *b)
{
    memset(b, 0, sizeof(*b));
    cf_buf_init(&b->tags, TAGS_MAX);
    cf_buf_init(&b->release, RELEASE_MAX);
}

static void key_body_release(struct key_body *b)
{
    cf_buf_release(&b->tags);
    cf_buf_release(&b->release);
}

static cf_err parse_tags(const struct cf_json *tags, struct key_body *b, char *why, size_t n)
{
    void *it = NULL;
    const char *key;
    const struct cf_json *val;

    if (cf_json_type(tags) != CF_JSON_OBJECT)
        return bad(why, n, "Property 'tags' must be an object of string values.");
    if (cf_json_size(tags) > CF_MAX_TAGS)
        return bad(why, n, "A key can have at most 15 tags.");
    while (cf_json_next(tags, &it, &key, &val)) {
        size_t vlen;
        const char *v = cf_json_str(val, &vlen);
        if (utf8_chars(key, strlen(key)) > CF_MAX_TAG_LEN)
            return bad(why, n, "Tag names are limited to 512 characters.");
        if (!v)
            return bad(why, n, "Property 'tags' must be an object of string values.");
        if (utf8_chars(v, vlen) > CF_MAX_TAG_LEN)
            return bad(why, n, "Tag values are limited to 512 characters.");
    }
    if (cf_json_dump(tags, &b->tags) != CF_OK)
        return bad(why, n, "Property 'tags' is too large.");
    b->in.has_tags = true;
    b->in.tags_json = b->tags.data;
    return CF_OK;
}

static cf_err parse_key_ops(const struct cf_json *ops, struct key_body *b, char *why, size_t n)
{
    unsigned set = 0;

    if (cf_json_type(ops) != CF_JSON_ARRAY)
        return bad(why, n, "Property 'key_ops' must be an array of strings.");
    for (size_t i = 0; i < cf_json_size(ops); i++) {
        size_t len;
        const char *s = cf_json_str(cf_json_at(ops, i), &len);
        unsigned bit = s ? cf_key_op_parse((struct cf_str){s, len}) : 0;
        if (!bit)
            return bad(why, n,
                       "Invalid key operation %.*s: use encrypt, decrypt, sign, verify, wrapKey, "
                       "unwrapKey, import or export.",
                       s ? (int)CF_MIN(len, 32) : 0, s ? s : "");
        set |= bit;
    }
    b->in.has_key_ops = true;
    b->in.key_ops = set; /* empty: the type's default operations */
    return CF_OK;
}

/* release_policy: {"contentType"?, "data": base64url, "immutable"?}, stored normalised. */
static cf_err parse_release(const struct cf_json *p, struct key_body *b, char *why, size_t n)
{
    size_t dlen = 0, clen = 0;
    const char *data = cf_json_str(cf_json_get(p, "data"), &dlen);
    const struct cf_json *ct = cf_json_get(p, "contentType"), *imm = cf_json_get(p, "immutable");
    const char *cts = DEFAULT_POLICY_CT;
    bool immutable = false;
    struct cf_buf dec;
    struct cf_jw w;
    cf_err e;

    if (cf_json_type(p) != CF_JSON_OBJECT || !data || dlen == 0)
        return bad(why, n, "Property 'release_policy' must be an object with a 'data' string.");
    cf_buf_init(&dec, RELEASE_MAX);
    e = cf_b64_decode(&dec, (struct cf_str){data, dlen});
    cf_buf_release(&dec);
    if (e)
        return bad(why, n, "Property 'release_policy.data' must be base64url.");
    if (given(ct) &&
        (!(cts = cf_json_str(ct, &clen)) || clen > CF_MAX_CONTENT_TYPE || memchr(cts, '\0', clen)))
        return bad(why, n, "Property 'release_policy.contentType' must be a short string.");
    if (given(imm) && !cf_json_bool(imm, &immutable))
        return bad(why, n, "Property 'release_policy.immutable' must be a boolean.");
    cf_jw_init(&w, &b->release);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "contentType", cts);
    cf_jw_key(&w, "data");
    cf_jw_strn(&w, data, dlen);
    cf_jw_kbool(&w, "immutable", immutable);
    cf_jw_obj_end(&w);
    if (cf_jw_err(&w))
        return bad(why, n, "Property 'release_policy' is too large.");
    b->in.has_release_policy = true;
    b->in.release_policy = b->release.data;
    return CF_OK;
}

static cf_err parse_time(const struct cf_json *j, const char *name, bool *has, int64_t *out,
                         char *why, size_t n)
{
    if (!given(j))
        return CF_OK;
    if (!cf_json_number(j, out))
        return bad(why, n,
                   "Property 'attributes.%s' must be a number of seconds since "
                   "1970-01-01T00:00:00Z.",
                   name);
    *has = true;
    return CF_OK;
}

/* The members create, import and update share. key_ops is read from ops_holder (the body, or
 * import's "key"). Unknown members are ignored. */
static cf_err key_body_parse(const struct cf_json *body, const struct cf_json *ops_holder,
                             struct key_body *b, char *why, size_t n)
{
    const struct cf_json *attrs = cf_json_get(body, "attributes");
    const struct cf_json *tags = cf_json_get(body, "tags");
    const struct cf_json *ops = cf_json_get(ops_holder, "key_ops");
    const struct cf_json *rp = cf_json_get(body, "release_policy");
    cf_err e = CF_OK;

    if (given(attrs)) {
        const struct cf_json *en = cf_json_get(attrs, "enabled");
        const struct cf_json *ex = cf_json_get(attrs, "exportable");
        if (cf_json_type(attrs) != CF_JSON_OBJECT)
            return bad(why, n, "Property 'attributes' must be an object.");
        if (given(en)) {
            if (!cf_json_bool(en, &b->in.enabled))
                return bad(why, n, "Property 'attributes.enabled' must be a boolean.");
            b->in.has_enabled = true;
        }
        if (given(ex)) {
            if (!cf_json_bool(ex, &b->in.exportable))
                return bad(why, n, "Property 'attributes.exportable' must be a boolean.");
            b->in.has_exportable = true;
        }
        e = parse_time(cf_json_get(attrs, "nbf"), "nbf", &b->in.has_nbf, &b->in.nbf, why, n);
        if (!e)
            e = parse_time(cf_json_get(attrs, "exp"), "exp", &b->in.has_exp, &b->in.exp, why, n);
    }
    if (!e && given(tags))
        e = parse_tags(tags, b, why, n);
    if (!e && given(ops))
        e = parse_key_ops(ops, b, why, n);
    if (!e && given(rp))
        e = parse_release(rp, b, why, n);
    return e;
}

/* ---------------- output ---------------- */

enum key_shape {
    SHAPE_BUNDLE,         /* KeyBundle: key (versioned kid), attributes, tags, release_policy */
    SHAPE_DELETED_BUNDLE, /* DeletedKeyBundle: recovery fields first */
    SHAPE_ITEM,           /* KeyItem of a list: base kid */
    SHAPE_VERSION_ITEM,   /* KeyItem of list-versions: versioned kid */
    SHAPE_DELETED_ITEM,   /* DeletedKeyItem: recovery fields, base kid */
};

struct key_writer {
    struct cf_jw w;
    struct cf_buf base; /* "https://host[:port]" as the client addressed us */
    struct cf_buf tmp;  /* one id or link at a time */
    cf_err err;
    const char *recovery_level;
    int recoverable_days;
};

static void kw_init(struct key_writer *kw, struct api_req *r)
{
    cf_jw_init(&kw->w, &r->out);
    cf_buf_init(&kw->base, CF_MAX_HEADER_BYTES + 16);
    cf_buf_init(&kw->tmp, 2 * CF_MAX_HEADER_BYTES + 1024);
    kw->recovery_level = cf_recovery_level(&r->vault);
    kw->recoverable_days = r->vault.retention_days;
    kw->err = api_base_url(r, &kw->base);
}

static void kw_release(struct key_writer *kw)
{
    cf_buf_release(&kw->base);
    cf_buf_release(&kw->tmp);
}

static cf_err kw_err(const struct key_writer *kw)
{
    return kw->err ? kw->err : cf_jw_err(&kw->w);
}

/* kw->tmp = base + "/" + coll + "/" + name [+ "/" + tail]. */
static void build_id(struct key_writer *kw, const char *coll, const char *name, const char *tail)
{
    cf_err e;

    cf_buf_reset(&kw->tmp);
    e = cf_buf_append_str(&kw->tmp, cf_buf_str(&kw->base));
    if (!e)
        e = cf_buf_printf(&kw->tmp, "/%s/%s", coll, name);
    if (!e && tail && tail[0])
        e = cf_buf_printf(&kw->tmp, "/%s", tail);
    if (e && !kw->err)
        kw->err = e;
}

static void put_id(struct key_writer *kw, const char *key, const char *coll, const char *name,
                   const char *tail)
{
    build_id(kw, coll, name, tail);
    cf_jw_key(&kw->w, key);
    cf_jw_strn(&kw->w, kw->tmp.data ? kw->tmp.data : "", kw->tmp.len);
}

static void put_attrs(struct key_writer *kw, const struct cf_key_attrs *a)
{
    struct cf_jw *w = &kw->w;

    cf_jw_key(w, "attributes");
    cf_jw_obj_begin(w);
    cf_jw_kbool(w, "enabled", a->enabled);
    if (a->nbf)
        cf_jw_kint(w, "nbf", a->nbf);
    if (a->exp)
        cf_jw_kint(w, "exp", a->exp);
    cf_jw_kint(w, "created", a->created);
    cf_jw_kint(w, "updated", a->updated);
    cf_jw_kstr(w, "recoveryLevel", kw->recovery_level);
    cf_jw_kint(w, "recoverableDays", kw->recoverable_days);
    cf_jw_kbool(w, "exportable", a->exportable);
    cf_jw_obj_end(w);
}

/* The JWK: kid, kty, key_ops, then the public members the vault kept (n, e / crv, x, y). */
static void put_jwk(struct key_writer *kw, const struct cf_key_meta *m)
{
    struct cf_jw *w = &kw->w;
    struct cf_json *pub = NULL;
    void *it = NULL;
    const char *k;
    const struct cf_json *val;

    cf_jw_key(w, "key");
    cf_jw_obj_begin(w);
    put_id(kw, "kid", "keys", m->name, m->version);
    cf_jw_kstr(w, "kty", m->kty);
    cf_jw_key(w, "key_ops");
    cf_jw_arr_begin(w);
    for (int i = 0; i < CF_KEY_OP_COUNT; i++) {
        if (m->key_ops & (1u << i))
            cf_jw_str(w, cf_key_op_name(i));
    }
    cf_jw_arr_end(w);
    if (m->public_jwk &&
        cf_json_parse(m->public_jwk, strlen(m->public_jwk), &pub, NULL, 0) == CF_OK) {
        while (cf_json_next(pub, &it, &k, &val)) {
            size_t len;
            const char *s = cf_json_str(val, &len);
            if (!s || strcmp(k, "kty") == 0)
                continue;
            cf_jw_key(w, k);
            cf_jw_strn(w, s, len);
        }
        cf_json_free(pub);
    } else if (m->public_jwk && !kw->err) {
        kw->err = CF_ECORRUPT;
    }
    cf_jw_obj_end(w);
}

static void put_key(struct key_writer *kw, enum key_shape s, const struct cf_key_meta *m)
{
    struct cf_jw *w = &kw->w;
    bool deleted = s == SHAPE_DELETED_BUNDLE || s == SHAPE_DELETED_ITEM;
    bool bundle = s == SHAPE_BUNDLE || s == SHAPE_DELETED_BUNDLE;

    cf_jw_obj_begin(w);
    if (deleted) {
        put_id(kw, "recoveryId", "deletedkeys", m->name, NULL);
        if (m->deleted_date)
            cf_jw_kint(w, "deletedDate", m->deleted_date);
        if (m->scheduled_purge)
            cf_jw_kint(w, "scheduledPurgeDate", m->scheduled_purge);
    }
    if (bundle)
        put_jwk(kw, m);
    else
        put_id(kw, "kid", "keys", m->name, s == SHAPE_VERSION_ITEM ? m->version : NULL);
    put_attrs(kw, &m->attrs);
    if (m->tags_json) {
        cf_jw_key(w, "tags");
        cf_jw_raw(w, m->tags_json, strlen(m->tags_json));
    }
    if (m->managed)
        cf_jw_kbool(w, "managed", true);
    if (bundle && m->release_policy) {
        cf_jw_key(w, "release_policy");
        cf_jw_raw(w, m->release_policy, strlen(m->release_policy));
    }
    cf_jw_obj_end(w);
}

/* ---------------- errors ---------------- */

enum key_ctx {
    CTX_LIVE,    /* an operation on a live name */
    CTX_DELETED, /* get-deleted, purge */
    CTX_RESTORE, /* restore: conflicts name the key in the blob; a bad blob */
    CTX_LIST,    /* lists: a bad skip token */
    CTX_OP,      /* crypto operations */
};

/* The one error reply. name/version as the client sent them; detail: why for 400s, the
 * restored name for restore conflicts; op: the operation's wire name for the state rules. */
static void reply_err(struct api_req *r, cf_err e, enum key_ctx ctx, struct cf_str name,
                      struct cf_str version, const char *detail, const char *op,
                      enum cf_key_refusal refused)
{
    int nl = (int)CF_MIN(name.len, NAME_SHOWN), vl = (int)CF_MIN(version.len, 64);
    const char *shown = ctx == CTX_RESTORE && detail && detail[0] ? detail : NULL;

    switch (e) {
    case CF_ENOTFOUND:
        if (ctx == CTX_DELETED)
            api_error(r, 404, "KeyNotFound", NULL, "Deleted Key not found: %.*s", nl,
                      name.p ? name.p : "");
        else
            api_error(r, 404, "KeyNotFound", NULL,
                      "A key with (name/id) %.*s%s%.*s was not found in this key vault. If you "
                      "recently deleted this key you may be able to recover it using the correct "
                      "recovery command. For help resolving this issue, please see "
                      "https://go.microsoft.com/fwlink/?linkid=2125182",
                      nl, name.p ? name.p : "", version.len ? "/" : "", vl,
                      version.len ? version.p : "");
        return;
    case CF_EDISABLED:
        api_error(r, 403, "Forbidden", "KeyDisabled",
                  "Operation %s is not allowed on a disabled key.", op ? op : "get");
        return;
    case CF_EFORBIDDEN:
        if (refused == CF_KEY_REFUSED_OP)
            api_error(r, 403, "Forbidden", "KeyOperationForbidden",
                      "Operation %s is not permitted on this key.", op ? op : "");
        else if (refused == CF_KEY_REFUSED_EXPIRED)
            api_error(r, 403, "Forbidden", "KeyExpired",
                      "Operation %s is not allowed on an expired key.", op ? op : "");
        else if (refused == CF_KEY_REFUSED_NOT_YET_VALID)
            api_error(r, 403, "Forbidden", "KeyNotYetValid",
                      "Operation %s is not allowed on a key before its activation date (nbf).",
                      op ? op : "");
        else
            break;
        return;
    case CF_EDELETED:
        api_error(r, 409, "Conflict", "ObjectIsDeletedButRecoverable",
                  "Key %.*s is currently in a deleted but recoverable state, and its name cannot "
                  "be reused; in this state, the key can only be recovered or purged.",
                  shown ? (int)strlen(shown) : nl, shown ? shown : (name.p ? name.p : ""));
        return;
    case CF_EPURGEPROTECT:
        api_error(r, 403, "Forbidden", NULL,
                  "Operation \"purge\" is not allowed because purge protection is enabled for "
                  "this vault. Key Vault service will automatically purge it after the retention "
                  "period has passed.\r\nVault: %s;location=%s",
                  r->vault.name, r->api && r->api->cfg.region ? r->api->cfg.region : "local");
        return;
    case CF_EEXISTS:
        if (ctx != CTX_RESTORE)
            break;
        api_error(r, 409, "Conflict", NULL,
                  "Key %s already exists. Delete and purge it before restoring it from a backup.",
                  shown ? shown : "in the backup");
        return;
    case CF_ECRYPTO:
        if (ctx != CTX_OP)
            break;
        api_error(r, 400, "BadParameter", NULL,
                  "The %s operation failed: the input does not match this key and algorithm.",
                  op ? op : "");
        return;
    case CF_EBADPARAM:
    case CF_ECORRUPT:
    case CF_EINVAL:
    case CF_ETOOBIG:
        if (ctx == CTX_RESTORE) {
            api_error(r, 400, "BadParameter", NULL, "Backup blob is invalid or corrupt.");
            return;
        }
        if (ctx == CTX_LIST && e == CF_EBADPARAM) {
            api_error(r, 400, "BadParameter", NULL, "The $skiptoken is invalid or expired.");
            return;
        }
        if (e == CF_EBADPARAM && detail && detail[0]) {
            api_error(r, 400, "BadParameter", NULL, "%s", detail);
            return;
        }
        break;
    default:
        break;
    }
    api_error_err(r, e);
}

/* ---------------- handler helpers ---------------- */

static bool name_ok(struct api_req *r, struct cf_str name)
{
    if (cf_name_valid_object(name))
        return true;
    api_error(r, 400, "BadParameter", NULL, "The request URI contains an invalid name: %.*s",
              (int)CF_MIN(name.len, NAME_SHOWN), name.p ? name.p : "");
    return false;
}

/* The optional version capture cap[1]. False (after a 404) when it cannot be one of ours. */
static bool version_arg(struct api_req *r, struct cf_str name, char buf[CF_VERSION_HEX_LEN + 1],
                        struct cf_str *version)
{
    *version = CF_STR("");
    if (r->ncap < 2)
        return true;
    if (!version_valid(r->cap[1])) {
        reply_err(r, CF_ENOTFOUND, CTX_LIVE, name, r->cap[1], NULL, NULL, 0);
        return false;
    }
    cf_str_lower(r->cap[1], buf);
    *version = (struct cf_str){buf, CF_VERSION_HEX_LEN};
    return true;
}

/* Ends the request with 200 and the bundle of m, or with the error of writing it. */
static void reply_bundle(struct api_req *r, enum key_shape s, const struct cf_key_meta *m)
{
    struct key_writer kw;
    cf_err e;

    kw_init(&kw, r);
    put_key(&kw, s, m);
    e = kw_err(&kw);
    kw_release(&kw);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
}

/* Parses the body (an empty one as {}) into b; false after replying 400. */
static bool body_or_400(struct api_req *r, const struct cf_json *ops_holder_of_body,
                        struct key_body *b, char *why, size_t n)
{
    cf_err e =
        key_body_parse(r->body, ops_holder_of_body ? ops_holder_of_body : r->body, b, why, n);
    if (e) {
        key_body_release(b);
        api_error(r, 400, "BadParameter", NULL, "%s", why);
        return false;
    }
    return true;
}

/* ---------------- create, import, get, update ---------------- */

void api_key_create(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    struct cf_key_spec spec;
    struct cf_key_meta m;
    struct key_body b;
    const struct cf_json *j;
    char why[256], crv[16] = "", kty[16] = "";
    int64_t n;
    size_t len;
    const char *s;
    cf_err e;

    memset(&m, 0, sizeof(m));
    memset(&spec, 0, sizeof(spec));
    if (!name_ok(r, name) || api_body_json(r, true))
        return;
    s = cf_json_str(cf_json_get(r->body, "kty"), &len);
    if (!s) {
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'kty' is required: RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM.");
        return;
    }
    snprintf(kty, sizeof(kty), "%.*s", (int)CF_MIN(len, sizeof(kty) - 1), s);
    if (len >= sizeof(kty) || memchr(s, '\0', len))
        kty[0] = '?'; /* not a type we know; the vault says so */
    spec.kty = kty;
    j = cf_json_get(r->body, "key_size");
    if (given(j)) {
        if (!cf_json_int(j, &n) || n < 0 || n > 65536) {
            api_error(r, 400, "BadParameter", NULL, "Property 'key_size' must be an integer.");
            return;
        }
        spec.key_size = (int)n;
    }
    j = cf_json_get(r->body, "public_exponent");
    if (given(j) && !cf_json_int(j, &spec.public_exponent)) {
        api_error(r, 400, "BadParameter", NULL, "Property 'public_exponent' must be an integer.");
        return;
    }
    j = cf_json_get(r->body, "crv");
    if (given(j)) {
        s = cf_json_str(j, &len);
        if (!s || len >= sizeof(crv) || memchr(s, '\0', len)) {
            api_error(r, 400, "BadParameter", NULL,
                      "Property 'crv' must be one of P-256, P-384, P-521, P-256K.");
            return;
        }
        memcpy(crv, s, len);
        crv[len] = '\0';
        spec.crv = crv;
    }
    key_body_init(&b);
    if (!body_or_400(r, NULL, &b, why, sizeof(why)))
        return;
    why[0] = '\0';
    e = cf_key_create(vault_svc(r), &r->vault, name, &spec, &b.in, &m, why, sizeof(why));
    key_body_release(&b);
    if (e)
        reply_err(r, e, CTX_LIVE, name, CF_STR(""), why, NULL, 0);
    else
        reply_bundle(r, SHAPE_BUNDLE, &m);
    cf_key_meta_release(&m);
}

void api_key_import(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    const struct cf_json *key, *hsm;
    struct cf_key_meta m;
    struct key_body b;
    bool is_hsm = false;
    char why[256];
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name) || api_body_json(r, true))
        return;
    key = cf_json_get(r->body, "key");
    if (cf_json_type(key) != CF_JSON_OBJECT) {
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'key' (the JSON Web Key to import) is required and must be an "
                  "object.");
        return;
    }
    /* the SDKs send "Hsm" (the spec's name); "hsm" (the client name) is taken as well */
    hsm = cf_json_get(r->body, "Hsm");
    if (!given(hsm))
        hsm = cf_json_get(r->body, "hsm");
    if (given(hsm) && !cf_json_bool(hsm, &is_hsm)) {
        api_error(r, 400, "BadParameter", NULL, "Property 'Hsm' must be a boolean.");
        return;
    }
    key_body_init(&b);
    if (!body_or_400(r, key, &b, why, sizeof(why)))
        return;
    why[0] = '\0';
    e = cf_key_import(vault_svc(r), &r->vault, name, key, is_hsm, &b.in, &m, why, sizeof(why));
    key_body_release(&b);
    if (e)
        reply_err(r, e, CTX_LIVE, name, CF_STR(""), why, NULL, 0);
    else
        reply_bundle(r, SHAPE_BUNDLE, &m);
    cf_key_meta_release(&m);
}

void api_key_get(struct api_req *r)
{
    struct cf_str name = r->cap[0], version;
    char vbuf[CF_VERSION_HEX_LEN + 1];
    struct cf_key_meta m;
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name) || !version_arg(r, name, vbuf, &version))
        return;
    e = cf_key_get(vault_svc(r), &r->vault, name, version, &m);
    if (e)
        reply_err(r, e, CTX_LIVE, name, r->ncap > 1 ? r->cap[1] : CF_STR(""), NULL, NULL, 0);
    else
        reply_bundle(r, SHAPE_BUNDLE, &m);
    cf_key_meta_release(&m);
}

void api_key_update(struct api_req *r)
{
    struct cf_str name = r->cap[0], version;
    char vbuf[CF_VERSION_HEX_LEN + 1], why[256];
    struct cf_key_meta m;
    struct key_body b;
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name) || !version_arg(r, name, vbuf, &version) || api_body_json(r, true))
        return;
    key_body_init(&b);
    if (!body_or_400(r, NULL, &b, why, sizeof(why)))
        return;
    why[0] = '\0';
    e = cf_key_update(vault_svc(r), &r->vault, name, version, &b.in, &m, why, sizeof(why));
    key_body_release(&b);
    if (e)
        reply_err(r, e, CTX_LIVE, name, r->ncap > 1 ? r->cap[1] : CF_STR(""), why, NULL, 0);
    else
        reply_bundle(r, SHAPE_BUNDLE, &m);
    cf_key_meta_release(&m);
}

/* ---------------- delete, deleted, recover, purge, rotate ---------------- */

typedef cf_err (*name_op_fn)(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_key_meta *out);

static void name_op(struct api_req *r, name_op_fn op, enum key_ctx ctx, enum key_shape shape)
{
    struct cf_str name = r->cap[0];
    struct cf_key_meta m;
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name))
        return;
    e = op(vault_svc(r), &r->vault, name, &m);
    if (e)
        reply_err(r, e, ctx, name, CF_STR(""), NULL, NULL, 0);
    else
        reply_bundle(r, shape, &m);
    cf_key_meta_release(&m);
}

void api_key_delete(struct api_req *r)
{
    name_op(r, cf_key_delete, CTX_LIVE, SHAPE_DELETED_BUNDLE);
}

void api_key_get_deleted(struct api_req *r)
{
    name_op(r, cf_key_get_deleted, CTX_DELETED, SHAPE_DELETED_BUNDLE);
}

void api_key_recover(struct api_req *r)
{
    name_op(r, cf_key_recover, CTX_LIVE, SHAPE_BUNDLE);
}

void api_key_rotate(struct api_req *r)
{
    name_op(r, cf_key_rotate, CTX_LIVE, SHAPE_BUNDLE);
}

void api_key_purge(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    cf_err e;

    if (!name_ok(r, name))
        return;
    e = cf_key_purge(vault_svc(r), &r->vault, name);
    if (e)
        reply_err(r, e, CTX_DELETED, name, CF_STR(""), NULL, NULL, 0);
    else
        api_reply_empty(r, 204);
}

/* ---------------- lists ---------------- */

enum key_list { LIST_LIVE, LIST_VERSIONS, LIST_DELETED };

struct list_ctx {
    struct key_writer *kw;
    enum key_shape shape;
};

static cf_err list_item(const struct cf_key_meta *m, void *arg)
{
    struct list_ctx *c = arg;
    put_key(c->kw, c->shape, m);
    return kw_err(c->kw);
}

static bool parse_maxresults(struct cf_str v, int *out)
{
    int64_t n;
    if (!v.p) {
        *out = CF_PAGE_MAX;
        return true;
    }
    if (!cf_str_to_i64(v, &n) || n < 1 || n > CF_PAGE_MAX)
        return false;
    *out = (int)n;
    return true;
}

static void put_next_link(struct key_writer *kw, const char *api_version, const char *path,
                          const char *next, int max)
{
    cf_err e;

    cf_jw_key(&kw->w, "nextLink");
    if (!next[0]) {
        cf_jw_null(&kw->w);
        return;
    }
    cf_buf_reset(&kw->tmp);
    e = cf_buf_append_str(&kw->tmp, cf_buf_str(&kw->base));
    if (!e)
        e = cf_buf_printf(&kw->tmp, "%s?api-version=%s&$skiptoken=", path, api_version);
    if (!e)
        e = cf_pct_encode(&kw->tmp, cf_str_from(next));
    if (!e)
        e = cf_buf_printf(&kw->tmp, "&maxresults=%d", max);
    if (e && !kw->err)
        kw->err = e;
    cf_jw_strn(&kw->w, kw->tmp.data ? kw->tmp.data : "", kw->tmp.len);
}

static void list_reply(struct api_req *r, enum key_list kind)
{
    struct cf_str name = kind == LIST_VERSIONS ? r->cap[0] : CF_STR("");
    struct cf_str after = api_query(r, "$skiptoken");
    char next[CF_PAGE_TOKEN_MAX] = "";
    char path[16 + CF_MAX_NAME_LEN];
    struct key_writer kw;
    struct list_ctx c;
    int max;
    cf_err e;

    if (kind == LIST_VERSIONS && !name_ok(r, name))
        return;
    if (!parse_maxresults(api_query(r, "maxresults"), &max)) {
        api_error(r, 400, "BadParameter", NULL,
                  "Invalid maxresults: it must be an integer between 1 and 25.");
        return;
    }
    if (!after.p)
        after = CF_STR("");
    if (after.len >= CF_PAGE_TOKEN_MAX) {
        reply_err(r, CF_EBADPARAM, CTX_LIST, name, CF_STR(""), NULL, NULL, 0);
        return;
    }
    if (kind == LIST_VERSIONS)
        snprintf(path, sizeof(path), "/keys/%.*s/versions", CF_STR_FMT(name));
    else
        snprintf(path, sizeof(path), "%s", kind == LIST_DELETED ? "/deletedkeys" : "/keys");

    kw_init(&kw, r);
    c.kw = &kw;
    c.shape = kind == LIST_LIVE      ? SHAPE_ITEM
              : kind == LIST_DELETED ? SHAPE_DELETED_ITEM
                                     : SHAPE_VERSION_ITEM;
    e = kw.err;
    if (!e) {
        cf_jw_obj_begin(&kw.w);
        cf_jw_key(&kw.w, "value");
        cf_jw_arr_begin(&kw.w);
        if (kind == LIST_LIVE)
            e = cf_key_list(vault_svc(r), &r->vault, after, max, list_item, &c, next);
        else if (kind == LIST_VERSIONS)
            e = cf_key_list_versions(vault_svc(r), &r->vault, name, after, max, list_item, &c,
                                     next);
        else
            e = cf_key_list_deleted(vault_svc(r), &r->vault, after, max, list_item, &c, next);
    }
    if (!e) {
        next[CF_PAGE_TOKEN_MAX - 1] = '\0';
        cf_jw_arr_end(&kw.w);
        put_next_link(&kw, r->api_version, path, next, max);
        cf_jw_obj_end(&kw.w);
        e = kw_err(&kw);
    }
    kw_release(&kw);
    if (e)
        reply_err(r, e, CTX_LIST, name, CF_STR(""), NULL, NULL, 0);
    else
        api_reply(r, 200);
}

void api_key_list(struct api_req *r)
{
    list_reply(r, LIST_LIVE);
}

void api_key_list_versions(struct api_req *r)
{
    list_reply(r, LIST_VERSIONS);
}

void api_key_list_deleted(struct api_req *r)
{
    list_reply(r, LIST_DELETED);
}

/* ---------------- backup, restore ---------------- */

void api_key_backup(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    cf_err e;

    if (!name_ok(r, name))
        return;
    cf_buf_reset(&r->out);
    e = cf_buf_puts(&r->out, "{\"value\":\"");
    if (!e)
        e = cf_key_backup(vault_svc(r), &r->vault, name, &r->out);
    if (!e)
        e = cf_buf_puts(&r->out, "\"}");
    if (e)
        reply_err(r, e, CTX_LIVE, name, CF_STR(""), NULL, NULL, 0);
    else
        api_reply(r, 200);
}

void api_key_restore(struct api_req *r)
{
    struct cf_key_meta m;
    const char *blob;
    size_t len = 0;
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (api_body_json(r, true))
        return;
    blob = cf_json_str(cf_json_get(r->body, "value"), &len);
    if (!blob) {
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'value' (the backup blob) is required and must be a string.");
        return;
    }
    e = len ? cf_key_restore(vault_svc(r), &r->vault, (struct cf_str){blob, len}, &m)
            : CF_EBADPARAM;
    if (e)
        reply_err(r, e, CTX_RESTORE, CF_STR(""), CF_STR(""), m.name, NULL, 0);
    else
        reply_bundle(r, SHAPE_BUNDLE, &m);
    cf_key_meta_release(&m);
}

/* ---------------- rotation policy ---------------- */

static void put_policy(struct key_writer *kw, const char *name, const struct cf_key_policy *p)
{
    struct cf_jw *w = &kw->w;

    cf_jw_obj_begin(w);
    put_id(kw, "id", "keys", name, "rotationpolicy");
    cf_jw_key(w, "lifetimeActions");
    cf_jw_arr_begin(w);
    if (p->rotate != CF_KEY_TRIGGER_NONE) {
        cf_jw_obj_begin(w);
        cf_jw_key(w, "trigger");
        cf_jw_obj_begin(w);
        cf_jw_kstr(
            w, p->rotate == CF_KEY_TRIGGER_AFTER_CREATE ? "timeAfterCreate" : "timeBeforeExpiry",
            p->rotate_dur);
        cf_jw_obj_end(w);
        cf_jw_key(w, "action");
        cf_jw_obj_begin(w);
        cf_jw_kstr(w, "type", "Rotate");
        cf_jw_obj_end(w);
        cf_jw_obj_end(w);
    }
    if (p->notify_dur[0]) {
        cf_jw_obj_begin(w);
        cf_jw_key(w, "trigger");
        cf_jw_obj_begin(w);
        cf_jw_kstr(w, "timeBeforeExpiry", p->notify_dur);
        cf_jw_obj_end(w);
        cf_jw_key(w, "action");
        cf_jw_obj_begin(w);
        cf_jw_kstr(w, "type", "Notify");
        cf_jw_obj_end(w);
        cf_jw_obj_end(w);
    }
    cf_jw_arr_end(w);
    cf_jw_key(w, "attributes");
    cf_jw_obj_begin(w);
    if (p->expiry_time[0])
        cf_jw_kstr(w, "expiryTime", p->expiry_time);
    if (p->created) {
        cf_jw_kint(w, "created", p->created);
        cf_jw_kint(w, "updated", p->updated);
    }
    cf_jw_obj_end(w);
    cf_jw_obj_end(w);
}

/* A duration member into out (at most 39 chars); false with why when it is not one. */
static bool duration_arg(const struct cf_json *j, const char *what, char out[40], char *why,
                         size_t n)
{
    size_t len;
    const char *s = cf_json_str(j, &len);

    if (!s || len >= 40 || !cf_key_duration_valid((struct cf_str){s, len})) {
        bad(why, n, "Property '%s' must be an ISO-8601 duration such as P90D, P1Y or PT48H.", what);
        return false;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static cf_err parse_policy(const struct cf_json *body, struct cf_key_policy *p, char *why, size_t n)
{
    const struct cf_json *acts = cf_json_get(body, "lifetimeActions");
    const struct cf_json *attrs = cf_json_get(body, "attributes");
    const struct cf_json *exp = cf_json_get(attrs, "expiryTime");
    bool seen_rotate = false;

    memset(p, 0, sizeof(*p));
    if (given(acts) && cf_json_type(acts) != CF_JSON_ARRAY)
        return bad(why, n, "Property 'lifetimeActions' must be an array.");
    for (size_t i = 0; given(acts) && i < cf_json_size(acts); i++) {
        const struct cf_json *a = cf_json_at(acts, i);
        const struct cf_json *trig = cf_json_get(a, "trigger");
        const struct cf_json *after = cf_json_get(trig, "timeAfterCreate");
        const struct cf_json *before = cf_json_get(trig, "timeBeforeExpiry");
        size_t tlen;
        const char *type = cf_json_str(cf_json_get(cf_json_get(a, "action"), "type"), &tlen);
        bool rotate = type && cf_str_eq_ci((struct cf_str){type, tlen}, CF_STR("Rotate"));
        bool notify = type && cf_str_eq_ci((struct cf_str){type, tlen}, CF_STR("Notify"));

        if (cf_json_type(a) != CF_JSON_OBJECT || (!rotate && !notify))
            return bad(why, n, "Each lifetime action needs an action type: Rotate or Notify.");
        if (given(after) == given(before))
            return bad(why, n,
                       "Each lifetime action's trigger needs exactly one of 'timeAfterCreate' "
                       "and 'timeBeforeExpiry'.");
        if (rotate) {
            if (seen_rotate)
                return bad(why, n, "A rotation policy can have only one Rotate action.");
            seen_rotate = true;
            p->rotate = given(after) ? CF_KEY_TRIGGER_AFTER_CREATE : CF_KEY_TRIGGER_BEFORE_EXPIRY;
            if (!duration_arg(given(after) ? after : before,
                              given(after) ? "timeAfterCreate" : "timeBeforeExpiry", p->rotate_dur,
                              why, n))
                return CF_EBADPARAM;
        } else {
            if (p->notify_dur[0])
                return bad(why, n, "A rotation policy can have only one Notify action.");
            if (given(after))
                return bad(why, n, "A Notify action's trigger must be 'timeBeforeExpiry'.");
            if (!duration_arg(before, "timeBeforeExpiry", p->notify_dur, why, n))
                return CF_EBADPARAM;
        }
    }
    if (given(attrs) && cf_json_type(attrs) != CF_JSON_OBJECT)
        return bad(why, n, "Property 'attributes' must be an object.");
    if (given(exp) && !duration_arg(exp, "attributes.expiryTime", p->expiry_time, why, n))
        return CF_EBADPARAM;
    return CF_OK;
}

static void reply_policy(struct api_req *r, const char *name, const struct cf_key_policy *p)
{
    struct key_writer kw;
    cf_err e;

    kw_init(&kw, r);
    put_policy(&kw, name, p);
    e = kw_err(&kw);
    kw_release(&kw);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
}

/* The key's stored name casing for the policy id (the request's when the lookup fails). */
static void stored_name(struct api_req *r, struct cf_str name, char out[CF_MAX_NAME_LEN + 1])
{
    struct cf_key_meta m;

    snprintf(out, CF_MAX_NAME_LEN + 1, "%.*s", CF_STR_FMT(name));
    if (cf_key_get(vault_svc(r), &r->vault, name, CF_STR(""), &m) == CF_OK)
        snprintf(out, CF_MAX_NAME_LEN + 1, "%s", m.name);
    cf_key_meta_release(&m);
}

void api_key_policy_get(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    char stored[CF_MAX_NAME_LEN + 1];
    struct cf_key_policy p;
    cf_err e;

    if (!name_ok(r, name))
        return;
    e = cf_key_policy_get(vault_svc(r), &r->vault, name, &p);
    if (e) {
        reply_err(r, e, CTX_LIVE, name, CF_STR(""), NULL, NULL, 0);
        return;
    }
    stored_name(r, name, stored);
    reply_policy(r, stored, &p);
}

void api_key_policy_set(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    char stored[CF_MAX_NAME_LEN + 1], why[256] = "";
    struct cf_key_policy in, out;
    cf_err e;

    if (!name_ok(r, name) || api_body_json(r, true))
        return;
    e = parse_policy(r->body, &in, why, sizeof(why));
    if (e) {
        api_error(r, 400, "BadParameter", NULL, "%s", why);
        return;
    }
    e = cf_key_policy_set(vault_svc(r), &r->vault, name, &in, &out, why, sizeof(why));
    if (e) {
        reply_err(r, e, CTX_LIVE, name, CF_STR(""), why, NULL, 0);
        return;
    }
    stored_name(r, name, stored);
    reply_policy(r, stored, &out);
}

/* ---------------- crypto operations ---------------- */

/* A base64url member into buf (wiped by the caller); absent: *out.p NULL (unless required). */
static cf_err b64_member(const struct cf_json *body, const char *key, bool required,
                         struct cf_buf *buf, struct cf_str *out, char *why, size_t n)
{
    const struct cf_json *j = cf_json_get(body, key);
    size_t len;
    const char *s;
    cf_err e;

    *out = CF_STR_NULL;
    if (!given(j)) {
        if (required)
            return bad(why, n, "Property '%s' is required.", key);
        return CF_OK;
    }
    s = cf_json_str(j, &len);
    if (!s)
        return bad(why, n, "Property '%s' must be a base64url string.", key);
    if (len > 4 * (OP_VALUE_MAX / 3) + 4)
        return bad(why, n, "Property '%s' is too large.", key);
    e = cf_b64_decode(buf, (struct cf_str){s, len});
    if (e == CF_ETOOBIG)
        return bad(why, n, "Property '%s' is too large.", key);
    if (e)
        return bad(why, n, "Property '%s' is not valid base64url.", key);
    *out = (struct cf_str){buf->data ? buf->data : "", buf->len};
    return CF_OK;
}

static const char *const op_wire[] = {"sign",    "verify",  "encrypt",
                                      "decrypt", "wrapKey", "unwrapKey"};

static void crypto_op(struct api_req *r, enum cf_key_opkind kind)
{
    struct cf_str name = r->cap[0], version;
    char vbuf[CF_VERSION_HEX_LEN + 1], why[256] = "", alg[32];
    struct cf_buf bv, bd, biv, baad, btag;
    struct cf_key_op_args a;
    struct cf_key_op_result res;
    struct key_writer kw;
    size_t alen = 0;
    const char *s;
    cf_err e;

    memset(&res, 0, sizeof(res));
    if (!name_ok(r, name) || !version_arg(r, name, vbuf, &version))
        return;
    /* On the event loop only what costs tens of microseconds; the rest moves to the CPU pool
     * (dispatch.c), which calls this handler again (r->deferred). */
    if (!r->deferred && !cf_key_op_cheap(vault_svc(r), &r->vault, name, version, kind)) {
        api_defer(r);
        return;
    }
    if (api_body_json(r, true))
        return;
    cf_buf_init(&bv, OP_VALUE_MAX);
    cf_buf_init(&bd, OP_VALUE_MAX);
    cf_buf_init(&biv, 64);
    cf_buf_init(&baad, OP_VALUE_MAX);
    cf_buf_init(&btag, 64);
    cf_buf_init(&res.out, 2 * OP_VALUE_MAX);
    memset(&a, 0, sizeof(a));
    a.op = kind;
    s = cf_json_str(cf_json_get(r->body, "alg"), &alen);
    if (!s || alen == 0 || alen >= sizeof(alg) || memchr(s, '\0', alen)) {
        e = bad(why, sizeof(why), "Property 'alg' is required and must be an algorithm name.");
        goto fail;
    }
    memcpy(alg, s, alen);
    alg[alen] = '\0';
    a.alg = alg;
    e = b64_member(r->body, "value", true, &bv, &a.value, why, sizeof(why));
    if (!e && kind == CF_KEY_VERIFY)
        e = b64_member(r->body, "digest", true, &bd, &a.digest, why, sizeof(why));
    if (!e && (kind == CF_KEY_ENCRYPT || kind == CF_KEY_DECRYPT)) {
        e = b64_member(r->body, "iv", false, &biv, &a.iv, why, sizeof(why));
        if (!e)
            e = b64_member(r->body, "aad", false, &baad, &a.aad, why, sizeof(why));
        if (!e && kind == CF_KEY_DECRYPT)
            e = b64_member(r->body, "tag", false, &btag, &a.tag, why, sizeof(why));
    }
    if (e)
        goto fail;
    e = cf_key_operate(vault_svc(r), &r->vault, name, version, &a, &res, why, sizeof(why));
    if (e)
        goto fail;

    /* {"kid", "value"[, "iv", "tag", "aad"]} or verify's {"value": bool}. A plaintext result is
     * written into r->out reserved for the whole body, so the buffer never moves after. */
    if (res.plain)
        e = cf_buf_reserve(&r->out, 4 * (res.plain->len / 3 + 1) + 4 * CF_MAX_HEADER_BYTES);
    kw_init(&kw, r);
    if (!e)
        e = kw.err;
    if (!e) {
        cf_jw_obj_begin(&kw.w);
        if (kind == CF_KEY_VERIFY) {
            cf_jw_kbool(&kw.w, "value", res.valid);
        } else {
            struct cf_buf enc;
            const void *p = res.plain ? (const void *)res.plain->p : res.out.data;
            size_t n = res.plain ? res.plain->len : res.out.len;

            put_id(&kw, "kid", "keys", res.name, res.version);
            cf_jw_key(&kw.w, "value");
            /* base64url straight into the body: cf_jw_raw of a quoted run */
            cf_buf_init(&enc, 4 * (n / 3 + 1) + 8);
            e = cf_buf_putc(&enc, '"');
            if (!e)
                e = cf_b64url_encode(&enc, p ? p : "", n);
            if (!e)
                e = cf_buf_putc(&enc, '"');
            if (!e)
                cf_jw_raw(&kw.w, enc.data, enc.len);
            cf_buf_wipe(&enc);
            if (!e && res.iv_len) {
                cf_buf_init(&enc, 64);
                if (cf_b64url_encode(&enc, res.iv, res.iv_len) == CF_OK)
                    cf_jw_kstr(&kw.w, "iv", enc.data);
                cf_buf_release(&enc);
            }
            if (!e && res.tag_len) {
                cf_buf_init(&enc, 64);
                if (cf_b64url_encode(&enc, res.tag, res.tag_len) == CF_OK)
                    cf_jw_kstr(&kw.w, "tag", enc.data);
                cf_buf_release(&enc);
            }
            if (!e && kind == CF_KEY_ENCRYPT && a.aad.p && res.tag_len) {
                s = cf_json_str(cf_json_get(r->body, "aad"), &alen);
                cf_jw_key(&kw.w, "aad");
                cf_jw_strn(&kw.w, s ? s : "", s ? alen : 0);
            }
        }
        cf_jw_obj_end(&kw.w);
        if (!e)
            e = kw_err(&kw);
    }
    kw_release(&kw);
    if (e)
        goto fail;
    api_reply(r, 200);
    goto out;

fail:
    reply_err(r, e, CTX_OP, name, r->ncap > 1 ? r->cap[1] : CF_STR(""), why, op_wire[kind],
              res.refused);
out:
    cf_buf_wipe(&bv);
    cf_buf_wipe(&bd);
    cf_buf_wipe(&biv);
    cf_buf_wipe(&baad);
    cf_buf_wipe(&btag);
    cf_buf_wipe(&res.out);
    cf_secret_free(res.plain);
}

void api_key_sign(struct api_req *r)
{
    crypto_op(r, CF_KEY_SIGN);
}

void api_key_verify(struct api_req *r)
{
    crypto_op(r, CF_KEY_VERIFY);
}

void api_key_encrypt(struct api_req *r)
{
    crypto_op(r, CF_KEY_ENCRYPT);
}

void api_key_decrypt(struct api_req *r)
{
    crypto_op(r, CF_KEY_DECRYPT);
}

void api_key_wrap(struct api_req *r)
{
    crypto_op(r, CF_KEY_WRAP);
}

void api_key_unwrap(struct api_req *r)
{
    crypto_op(r, CF_KEY_UNWRAP);
}

/* Secure key release needs an attestation service to check the caller's environment against
 * the key's release policy; Coffer has none, so every release is refused (§5.9 allows 403).
 * The key must exist: an unknown one is still 404. */
void api_key_release(struct api_req *r)
{
    struct cf_str name = r->cap[0], version;
    char vbuf[CF_VERSION_HEX_LEN + 1];
    struct cf_key_meta m;
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name) || !version_arg(r, name, vbuf, &version))
        return;
    e = cf_key_get(vault_svc(r), &r->vault, name, version, &m);
    cf_key_meta_release(&m);
    if (e)
        reply_err(r, e, CTX_LIVE, name, r->ncap > 1 ? r->cap[1] : CF_STR(""), NULL, NULL, 0);
    else
        api_error(r, 403, "Forbidden", NULL,
                  "Key release is not available: this server has no attestation service to "
                  "evaluate the key's release policy.");
}

/* POST /rng {"count": 1..128} -> {"value": base64url of count random bytes}. */
void api_key_random(struct api_req *r)
{
    unsigned char bytes[RNG_MAX];
    int64_t count = 0;
    struct cf_jw w;
    struct cf_buf enc;
    cf_err e;

    if (api_body_json(r, true))
        return;
    if (!cf_json_int(cf_json_get(r->body, "count"), &count) || count < 1 || count > RNG_MAX) {
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'count' is required and must be an integer from 1 to 128.");
        return;
    }
    e = cf_random(bytes, (size_t)count);
    cf_buf_init(&enc, 4 * RNG_MAX);
    if (!e)
        e = cf_b64url_encode(&enc, bytes, (size_t)count);
    cf_wipe(bytes, sizeof(bytes));
    if (!e) {
        cf_jw_init(&w, &r->out);
        cf_jw_obj_begin(&w);
        cf_jw_kstr(&w, "value", enc.data);
        cf_jw_obj_end(&w);
        e = cf_jw_err(&w);
    }
    cf_buf_wipe(&enc);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
}

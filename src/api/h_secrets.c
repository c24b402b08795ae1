/* h_secrets.c - the secrets data plane (azure-kv-secrets.md §2-§13): request bodies in,
 * SecretBundle / DeletedSecretBundle / SecretItem / DeletedSecretItem out.
 *
 * Map:
 *   text helpers       utf8_chars, json_escaped_len, version_valid
 *   body parsing       sec_body_parse (set and update bodies: value, contentType, attributes, tags)
 *   output             struct sec_writer: ids from the request's host, attributes, the four
 *                      shapes in the field order the real service emits (§1.2)
 *   errors             reply_err: cf_err -> SecretNotFound / SecretDisabled / Conflict ...
 *   handlers           set, get, update, delete, get/list deleted, recover, purge, list,
 *                      list versions, backup, restore
 *
 * Every handler validates the name before touching the store, and every path ends in exactly
 * one api_reply / api_reply_empty / api_error* call (internal.h). Locals that borrow from r (the
 * name view in r->scratch, the value view in r->body) are only used before that call.
 *
 * The secret value is never copied by this file: set passes the view into the parsed request
 * body to the vault and echoes it from there, get writes the vault's cf_secret (wiped on free)
 * straight into r->out, which is reserved up front so that no realloc leaves a stray copy. It
 * never appears in an error message. */
#include "base/cf.h"
#include "api/internal.h"
#include "base/codec.h"
#include "base/secret.h"

/* ---------------- text helpers ---------------- */

/* Characters of valid UTF-8 text (code points: bytes that are not continuation bytes). */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Bytes cf_jw_strn writes for s[0..n), quotes included (to reserve a reply buffer once). */
static size_t json_escaped_len(const char *s, size_t n)
{
    size_t l = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            l += 2;
        else
            l += c < 0x20 ? 6 : 1;
    }
    return l;
}

/* A version segment as Coffer issues them: 32 hex digits (either case; ids compare
 * case-insensitively). */
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

/* ---------------- request bodies ---------------- */

/* A parsed set/update body. value and in.content_type borrow from the parsed JSON (they live
 * as long as it does); in.tags_json points into tags. */
struct sec_body {
    struct cf_secret_input in;
    struct cf_str value; /* set only */
    struct cf_buf tags;
};

static void sec_body_init(struct sec_body *b)
{
    memset(b, 0, sizeof(*b));
    /* Tags are at most 15 x (512 + 512) characters; escaped, that stays well under this. */
    cf_buf_init(&b->tags, 64 * 1024);
}

static void sec_body_release(struct sec_body *b)
{
    cf_buf_release(&b->tags);
}

/* Absent and JSON null both mean "not given" for optional fields. */
static bool given(const struct cf_json *j)
{
    enum cf_json_type t = cf_json_type(j);
    return t != CF_JSON_NONE && t != CF_JSON_NULL;
}

static cf_err bad(char *why, size_t n, const char *msg)
{
    snprintf(why, n, "%s", msg);
    return CF_EBADPARAM;
}

static cf_err parse_tags(const struct cf_json *tags, struct sec_body *b, char *why, size_t n)
{
    void *it = NULL;
    const char *key;
    const struct cf_json *val;

    if (cf_json_type(tags) != CF_JSON_OBJECT)
        return bad(why, n, "Property 'tags' must be an object of string values.");
    if (cf_json_size(tags) > CF_MAX_TAGS)
        return bad(why, n, "A secret can have at most 15 tags.");
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

/* Validates a set (want_value) or update body into b. On CF_EBADPARAM, why holds a message for
 * the 400 that never quotes the secret value. Unknown fields are ignored. */
static cf_err sec_body_parse(const struct cf_json *body, bool want_value, struct sec_body *b,
                             char *why, size_t n)
{
    const struct cf_json *ct = cf_json_get(body, "contentType");
    const struct cf_json *attrs = cf_json_get(body, "attributes");
    const struct cf_json *tags = cf_json_get(body, "tags");
    cf_err e;

    if (want_value) {
        size_t len;
        const char *v = cf_json_str(cf_json_get(body, "value"), &len);
        if (!v)
            return bad(why, n, "Property 'value' is required and must be a string.");
        if (utf8_chars(v, len) > CF_MAX_SECRET_VALUE_CHARS)
            return bad(why, n,
                       "Secret is beyond the maximum permitted length of 25600 "
                       "characters.");
        b->value = (struct cf_str){v, len};
    }
    if (given(ct)) {
        size_t len;
        const char *s = cf_json_str(ct, &len);
        if (!s || memchr(s, '\0', len))
            return bad(why, n, "Property 'contentType' must be a string.");
        if (utf8_chars(s, len) > CF_MAX_CONTENT_TYPE)
            return bad(why, n, "Property 'contentType' is limited to 255 characters.");
        b->in.has_content_type = true;
        b->in.content_type = s;
    }
    if (given(attrs)) {
        const struct cf_json *en = cf_json_get(attrs, "enabled");
        const struct cf_json *nbf = cf_json_get(attrs, "nbf");
        const struct cf_json *exp = cf_json_get(attrs, "exp");
        if (cf_json_type(attrs) != CF_JSON_OBJECT)
            return bad(why, n, "Property 'attributes' must be an object.");
        if (given(en)) {
            if (!cf_json_bool(en, &b->in.enabled))
                return bad(why, n, "Property 'attributes.enabled' must be a boolean.");
            b->in.has_enabled = true;
        }
        if (given(nbf)) {
            if (!cf_json_number(nbf, &b->in.nbf))
                return bad(why, n,
                           "Property 'attributes.nbf' must be a number of seconds "
                           "since 1970-01-01T00:00:00Z.");
            b->in.has_nbf = true;
        }
        if (given(exp)) {
            if (!cf_json_number(exp, &b->in.exp))
                return bad(why, n,
                           "Property 'attributes.exp' must be a number of seconds "
                           "since 1970-01-01T00:00:00Z.");
            b->in.has_exp = true;
        }
    }
    if (given(tags)) {
        e = parse_tags(tags, b, why, n);
        if (e)
            return e;
    }
    return CF_OK;
}

/* ---------------- output ---------------- */

enum sec_shape {
    SHAPE_BUNDLE,         /* SecretBundle: versioned id, value when given */
    SHAPE_DELETED_BUNDLE, /* DeletedSecretBundle: recovery fields, versioned id */
    SHAPE_ITEM,           /* SecretItem of a list: base id */
    SHAPE_VERSION_ITEM,   /* SecretItem of list-versions: versioned id */
    SHAPE_DELETED_ITEM,   /* DeletedSecretItem: recovery fields, base id */
};

/* Ids are built in bounded buffers on the stack (base + "/" + collection + "/" + name + "/" +
 * version fits id_small whenever the Host does base_small); the heap buffers take only what
 * does not fit (a Host of up to CF_MAX_HEADER_BYTES, list links). Two allocations per bundle
 * were 0.4 µs of every SET's acker and every GET. */
#define SW_BASE_SMALL 256
#define SW_ID_SMALL (SW_BASE_SMALL + 256)

struct sec_writer {
    struct cf_jw w;
    struct cf_str base; /* "https://host[:port]", as the client addressed us: in base_small or
                           base_heap */
    struct cf_str id;   /* the id build_id made last: in id_small or tmp */
    char base_small[SW_BASE_SMALL];
    char id_small[SW_ID_SMALL];
    struct cf_buf base_heap;
    struct cf_buf tmp; /* an id too long for id_small, or a link; reused */
    cf_err err;        /* first failure building ids (the writer keeps its own) */
    const char *recovery_level;
    int recoverable_days;
    bool with_prev; /* the api-version has previousVersion */
};

/* sw->base = p1 + p2 + p3. */
static void sw_set_base(struct sec_writer *sw, struct cf_str p1, struct cf_str p2, struct cf_str p3)
{
    cf_err e;

    if (p1.len + p2.len + p3.len < sizeof(sw->base_small)) {
        char *o = sw->base_small;
        if (p1.len)
            memcpy(o, p1.p, p1.len);
        o += p1.len;
        if (p2.len)
            memcpy(o, p2.p, p2.len);
        o += p2.len;
        if (p3.len)
            memcpy(o, p3.p, p3.len);
        o += p3.len;
        *o = '\0';
        sw->base = (struct cf_str){sw->base_small, (size_t)(o - sw->base_small)};
        return;
    }
    cf_buf_reset(&sw->base_heap);
    e = cf_buf_append_str(&sw->base_heap, p1);
    if (!e)
        e = cf_buf_append_str(&sw->base_heap, p2);
    if (!e)
        e = cf_buf_append_str(&sw->base_heap, p3);
    if (e && !sw->err)
        sw->err = e;
    sw->base = cf_buf_str(&sw->base_heap);
}

static void sw_init_raw(struct sec_writer *sw, struct cf_buf *out, struct cf_str base,
                        const char *recovery_level, int recoverable_days, bool with_prev)
{
    cf_jw_init(&sw->w, out);
    cf_buf_init(&sw->base_heap, CF_MAX_HEADER_BYTES + 16);
    cf_buf_init(&sw->tmp, 2 * CF_MAX_HEADER_BYTES + 1024);
    sw->err = CF_OK;
    sw->id = CF_STR("");
    sw_set_base(sw, base, CF_STR(""), CF_STR(""));
    sw->recovery_level = recovery_level;
    sw->recoverable_days = recoverable_days;
    sw->with_prev = with_prev;
}

static void sw_init(struct sec_writer *sw, struct api_req *r)
{
    sw_init_raw(sw, &r->out, CF_STR(""), cf_recovery_level(&r->vault), r->vault.retention_days,
                api_version_at_least(r, "2025-06-01-preview"));
    /* api_base_url's pieces, without its buffer */
    sw_set_base(sw, CF_STR("https://"), r->hostname, r->port);
}

static void sw_release(struct sec_writer *sw)
{
    cf_buf_release(&sw->base_heap);
    cf_buf_release(&sw->tmp);
}

static cf_err sw_err(const struct sec_writer *sw)
{
    return sw->err ? sw->err : cf_jw_err(&sw->w);
}

/* sw->id = base + "/" + coll + "/" + name [+ "/" + version]. */
static void build_id(struct sec_writer *sw, const char *coll, const char *name, const char *version)
{
    size_t cl = strlen(coll), nl = strlen(name), vl = version ? strlen(version) : 0;
    cf_err e;

    if (sw->base.len + cl + nl + vl + 3 < sizeof(sw->id_small)) {
        char *o = sw->id_small;
        memcpy(o, sw->base.p, sw->base.len);
        o += sw->base.len;
        *o++ = '/';
        memcpy(o, coll, cl);
        o += cl;
        *o++ = '/';
        memcpy(o, name, nl);
        o += nl;
        if (vl) {
            *o++ = '/';
            memcpy(o, version, vl);
            o += vl;
        }
        *o = '\0';
        sw->id = (struct cf_str){sw->id_small, (size_t)(o - sw->id_small)};
        return;
    }
    cf_buf_reset(&sw->tmp);
    e = cf_buf_append_str(&sw->tmp, sw->base);
    if (!e)
        e = cf_buf_printf(&sw->tmp, "/%s/%s", coll, name);
    if (!e && vl)
        e = cf_buf_printf(&sw->tmp, "/%s", version);
    if (e && !sw->err)
        sw->err = e;
    sw->id = cf_buf_str(&sw->tmp);
}

static void put_id(struct sec_writer *sw, const char *key, const char *coll, const char *name,
                   const char *version)
{
    build_id(sw, coll, name, version);
    cf_jw_key(&sw->w, key);
    cf_jw_strn(&sw->w, sw->id.p, sw->id.len);
}

/* Output order of the real service: enabled, nbf, exp, created, updated, recoveryLevel,
 * recoverableDays; nbf/exp only when set. */
static void put_attrs(struct sec_writer *sw, const struct cf_secret_attrs *a)
{
    struct cf_jw *w = &sw->w;

    cf_jw_key(w, "attributes");
    cf_jw_obj_begin(w);
    cf_jw_kbool(w, "enabled", a->enabled);
    if (a->nbf)
        cf_jw_kint(w, "nbf", a->nbf);
    if (a->exp)
        cf_jw_kint(w, "exp", a->exp);
    cf_jw_kint(w, "created", a->created);
    cf_jw_kint(w, "updated", a->updated);
    cf_jw_kstr(w, "recoveryLevel", sw->recovery_level);
    cf_jw_kint(w, "recoverableDays", sw->recoverable_days);
    cf_jw_obj_end(w);
}

/* One object of the given shape (field order of azure-kv-secrets.md §1.2). value.p non-NULL
 * adds "value" (SHAPE_BUNDLE only). */
static void put_secret(struct sec_writer *sw, enum sec_shape s, const struct cf_secret_meta *m,
                       struct cf_str value)
{
    struct cf_jw *w = &sw->w;
    bool deleted = s == SHAPE_DELETED_BUNDLE || s == SHAPE_DELETED_ITEM;
    bool bundle = s == SHAPE_BUNDLE || s == SHAPE_DELETED_BUNDLE;
    bool versioned = bundle || s == SHAPE_VERSION_ITEM;

    cf_jw_obj_begin(w);
    if (deleted) {
        put_id(sw, "recoveryId", "deletedsecrets", m->name, NULL);
        if (m->deleted_date)
            cf_jw_kint(w, "deletedDate", m->deleted_date);
        if (m->scheduled_purge)
            cf_jw_kint(w, "scheduledPurgeDate", m->scheduled_purge);
    }
    if (s == SHAPE_BUNDLE && value.p) {
        cf_jw_key(w, "value");
        cf_jw_strn(w, value.p, value.len);
    }
    if (m->content_type)
        cf_jw_kstr(w, "contentType", m->content_type);
    put_id(sw, "id", "secrets", m->name, versioned ? m->version : NULL);
    if (bundle && sw->with_prev && m->prev_version[0])
        cf_jw_kstr(w, "previousVersion", m->prev_version);
    if (m->managed)
        cf_jw_kbool(w, "managed", true);
    put_attrs(sw, &m->attrs);
    if (m->tags_json) {
        cf_jw_key(w, "tags");
        cf_jw_raw(w, m->tags_json, strlen(m->tags_json));
    }
    if (bundle && m->kid[0] == '/') {
        /* a certificate's secret keeps its key as the path "/keys/{name}/{version}" (the
         * vault knows no host): the id takes the request's base URL like every other id */
        cf_buf_reset(&sw->tmp);
        if (cf_buf_append_str(&sw->tmp, sw->base) != CF_OK ||
            cf_buf_append_str(&sw->tmp, cf_str_from(m->kid)) != CF_OK) {
            if (!sw->err)
                sw->err = CF_ENOMEM;
        }
        cf_jw_key(w, "kid");
        cf_jw_strn(w, sw->tmp.data ? sw->tmp.data : "", sw->tmp.len);
    } else if (bundle && m->kid[0]) {
        cf_jw_kstr(w, "kid", m->kid);
    }
    cf_jw_obj_end(w);
}

/* Writes one bundle as the whole response body. With a value, r->out is first reserved for the
 * entire body so the buffer never moves (and leaves no unwiped copy) once the value is in. */
static cf_err write_bundle(struct api_req *r, enum sec_shape s, const struct cf_secret_meta *m,
                           struct cf_str value)
{
    struct sec_writer sw;
    cf_err e;

    sw_init(&sw, r);
    e = sw.err;
    if (!e && value.p) {
        size_t need =
            json_escaped_len(value.p, value.len) + 4 * sw.base.len + 4096 +
            (m->tags_json ? strlen(m->tags_json) : 0) +
            (m->content_type ? json_escaped_len(m->content_type, strlen(m->content_type)) : 0);
        e = cf_buf_reserve(&r->out, need);
    }
    if (!e) {
        put_secret(&sw, s, m, value);
        e = sw_err(&sw);
    }
    sw_release(&sw);
    return e;
}

/* ---------------- errors ---------------- */

enum sec_ctx {
    CTX_LIVE,    /* an operation on a live name: not found is the long SecretNotFound */
    CTX_DELETED, /* get-deleted, purge: "Deleted Secret not found" */
    CTX_RESTORE, /* restore: conflict and bad blob */
    CTX_LIST,    /* lists: a bad skip token */
};

#define NAME_SHOWN 256 /* longest part of a request name quoted back in an error */

/* The one error reply of the handlers. name and version are as the client sent them (version
 * may be empty); restored is the restored name when the vault reported it. */
static void reply_err(struct api_req *r, cf_err e, enum sec_ctx ctx, struct cf_str name,
                      struct cf_str version, const char *restored)
{
    int nl = (int)CF_MIN(name.len, NAME_SHOWN), vl = (int)CF_MIN(version.len, 64);

    switch (e) {
    case CF_ENOTFOUND:
        if (ctx == CTX_DELETED)
            api_error(r, 404, "SecretNotFound", NULL, "Deleted Secret not found: %.*s", nl, name.p);
        else
            api_error(r, 404, "SecretNotFound", NULL,
                      "A secret with (name/id) %.*s%s%.*s was not found in this key vault. If "
                      "you recently deleted this secret you may be able to recover it using the "
                      "correct recovery command. For help resolving this issue, please see "
                      "https://go.microsoft.com/fwlink/?linkid=2125182",
                      nl, name.p, version.len ? "/" : "", vl, version.len ? version.p : "");
        return;
    case CF_EDISABLED:
        api_error(r, 403, "Forbidden", "SecretDisabled",
                  "Operation get is not allowed on a disabled secret.");
        return;
    case CF_EDELETED:
        api_error(r, 409, "Conflict", "ObjectIsDeletedButRecoverable",
                  "Secret %.*s is currently in a deleted but recoverable state, and its name "
                  "cannot be reused; in this state, the secret can only be recovered or purged.",
                  ctx == CTX_RESTORE && restored && restored[0] ? (int)strlen(restored) : nl,
                  ctx == CTX_RESTORE && restored && restored[0] ? restored : name.p);
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
        if (restored && restored[0])
            api_error(r, 409, "Conflict", NULL,
                      "Secret %s already exists. Delete and purge it before restoring it from a "
                      "backup.",
                      restored);
        else
            api_error(r, 409, "Conflict", NULL,
                      "The secret in the backup already exists in this vault (possibly in the "
                      "deleted state). Delete and purge it before restoring it from a backup.");
        return;
    case CF_EBADPARAM:
    case CF_ECORRUPT:
    case CF_EINVAL:
        if (ctx == CTX_RESTORE) {
            api_error(r, 400, "BadParameter", NULL,
                      "Backup blob contains invalid or corrupt version.");
            return;
        }
        if (ctx == CTX_LIST && e == CF_EBADPARAM) {
            api_error(r, 400, "BadParameter", NULL, "The $skiptoken is invalid or expired.");
            return;
        }
        break;
    default:
        break;
    }
    api_error_err(r, e);
}

/* ---------------- handler helpers ---------------- */

static struct cf_vault_svc *vault_svc(const struct api_req *r)
{
    return r->api->cfg.vault;
}

/* Replies 400 and returns false for a name outside ^[0-9a-zA-Z-]{1,127}$. */
static bool name_ok(struct api_req *r, struct cf_str name)
{
    if (cf_name_valid_object(name))
        return true;
    api_error(r, 400, "BadParameter", NULL, "The request URI contains an invalid name: %.*s",
              (int)CF_MIN(name.len, NAME_SHOWN), name.p ? name.p : "");
    return false;
}

/* The optional version segment of "secrets/{name}/{version}", lower-cased into buf. False (after
 * replying 404) when it cannot be one of ours: such a version simply does not exist. */
static bool version_arg(struct api_req *r, struct cf_str name, char buf[CF_VERSION_HEX_LEN + 1],
                        struct cf_str *version, struct cf_str *as_sent)
{
    *version = CF_STR("");
    *as_sent = CF_STR("");
    if (r->ncap < 2)
        return true;
    *as_sent = r->cap[1];
    if (!version_valid(r->cap[1])) {
        reply_err(r, CF_ENOTFOUND, CTX_LIVE, name, *as_sent, NULL);
        return false;
    }
    cf_str_lower(r->cap[1], buf);
    *version = (struct cf_str){buf, CF_VERSION_HEX_LEN};
    return true;
}

/* Ends the request with 200 and the bundle of m, or with the error of writing it. */
static void reply_bundle(struct api_req *r, enum sec_shape s, const struct cf_secret_meta *m,
                         struct cf_str value)
{
    cf_err e = write_bundle(r, s, m, value);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
}

/* ---------------- set, get, update ---------------- */

/* Runs on the store's writer thread once the new version is durable (or failed). r is still
 * unanswered, so its body - where the value the reply echoes lives - is still there. */
static void set_done(cf_err e, struct cf_secret_meta *m, void *arg)
{
    struct api_req *r = arg;
    size_t len = 0;
    const char *value = cf_json_str(cf_json_get(r->body, "value"), &len);

    if (!e)
        e = write_bundle(r, SHAPE_BUNDLE, m, (struct cf_str){value ? value : "", len});
    if (e)
        reply_err(r, e, CTX_LIVE, r->cap[0], CF_STR(""), NULL);
    else
        api_reply(r, 200);
    cf_secret_meta_release(m);
}

/* Runs on the event loop and does not block: the write is queued for the store's group commit
 * and answered from set_done. */
void api_secret_set(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    struct sec_body b;
    char why[256];
    cf_err e;

    if (!name_ok(r, name))
        return;
    /* An empty body parses as {} so that its 400 names the missing value. */
    if (api_body_json(r, true))
        return;
    sec_body_init(&b);
    e = sec_body_parse(r->body, true, &b, why, sizeof(why));
    if (e) {
        sec_body_release(&b);
        api_error(r, 400, "BadParameter", NULL, "%s", why);
        return;
    }
    e = cf_secret_set_async(vault_svc(r), &r->vault, name, b.value, &b.in, set_done, r);
    sec_body_release(&b);
    if (e)
        reply_err(r, e, CTX_LIVE, name, CF_STR(""), NULL);
}

void api_secret_get(struct api_req *r)
{
    struct cf_str name = r->cap[0], version, as_sent;
    char vbuf[CF_VERSION_HEX_LEN + 1];
    struct cf_secret_meta m;
    struct cf_secret *value = NULL;
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name) || !version_arg(r, name, vbuf, &version, &as_sent))
        return;
    if (api_version_at_least(r, "2025-06-01-preview")) {
        /* Only PFX -> PEM conversion of certificate-backed secrets exists (§3); Coffer's
         * secrets are never certificate-backed, so a valid format leaves the value as is. */
        struct cf_str oct = api_query(r, "outContentType");
        if (oct.p && !cf_str_eq_ci(oct, CF_STR("application/x-pkcs12")) &&
            !cf_str_eq_ci(oct, CF_STR("application/x-pem-file"))) {
            api_error(r, 400, "BadParameter", NULL,
                      "The outContentType is not supported: only application/x-pkcs12 and "
                      "application/x-pem-file are.");
            return;
        }
    }
    e = cf_secret_get(vault_svc(r), &r->vault, name, version, &m, &value);
    if (!e && !value)
        e = CF_EINTERNAL;
    if (!e)
        e = write_bundle(r, SHAPE_BUNDLE, &m, (struct cf_str){(const char *)value->p, value->len});
    cf_secret_free(value);
    if (e)
        reply_err(r, e, CTX_LIVE, name, as_sent, NULL);
    else
        api_reply(r, 200);
    cf_secret_meta_release(&m);
}

void api_secret_update(struct api_req *r)
{
    struct cf_str name = r->cap[0], version, as_sent;
    char vbuf[CF_VERSION_HEX_LEN + 1];
    struct cf_secret_meta m;
    struct sec_body b;
    char why[256];
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name) || !version_arg(r, name, vbuf, &version, &as_sent))
        return;
    if (api_body_json(r, true))
        return;
    sec_body_init(&b);
    e = sec_body_parse(r->body, false, &b, why, sizeof(why));
    if (e) {
        sec_body_release(&b);
        api_error(r, 400, "BadParameter", NULL, "%s", why);
        return;
    }
    e = cf_secret_update(vault_svc(r), &r->vault, name, version, &b.in, &m);
    sec_body_release(&b);
    if (e)
        reply_err(r, e, CTX_LIVE, name, as_sent, NULL);
    else
        reply_bundle(r, SHAPE_BUNDLE, &m, CF_STR_NULL);
    cf_secret_meta_release(&m);
}

/* ---------------- delete, deleted, recover, purge ---------------- */

/* delete, get deleted and recover: one name in, one bundle (or an error) out. */
typedef cf_err (*name_op_fn)(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             struct cf_str name, struct cf_secret_meta *out);

static void name_op(struct api_req *r, name_op_fn op, enum sec_ctx ctx, enum sec_shape shape)
{
    struct cf_str name = r->cap[0];
    struct cf_secret_meta m;
    cf_err e;

    memset(&m, 0, sizeof(m));
    if (!name_ok(r, name))
        return;
    e = op(vault_svc(r), &r->vault, name, &m);
    if (e)
        reply_err(r, e, ctx, name, CF_STR(""), NULL);
    else
        reply_bundle(r, shape, &m, CF_STR_NULL);
    cf_secret_meta_release(&m);
}

void api_secret_delete(struct api_req *r)
{
    name_op(r, cf_secret_delete, CTX_LIVE, SHAPE_DELETED_BUNDLE);
}

void api_secret_get_deleted(struct api_req *r)
{
    name_op(r, cf_secret_get_deleted, CTX_DELETED, SHAPE_DELETED_BUNDLE);
}

void api_secret_recover(struct api_req *r)
{
    name_op(r, cf_secret_recover, CTX_LIVE, SHAPE_BUNDLE); /* §10: the long message */
}

void api_secret_purge(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    cf_err e;

    if (!name_ok(r, name))
        return;
    e = cf_secret_purge(vault_svc(r), &r->vault, name);
    if (e)
        reply_err(r, e, CTX_DELETED, name, CF_STR(""), NULL);
    else
        api_reply_empty(r, 204);
}

/* ---------------- lists ---------------- */

enum sec_list { LIST_LIVE, LIST_VERSIONS, LIST_DELETED };

struct list_ctx {
    struct sec_writer *sw;
    enum sec_shape shape;
};

static cf_err list_item(const struct cf_secret_meta *m, void *arg)
{
    struct list_ctx *c = arg;
    put_secret(c->sw, c->shape, m, CF_STR_NULL);
    return sw_err(c->sw);
}

/* maxresults: absent = 25, else an integer in 1..25. */
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

/* "nextLink": base + path + "?api-version=..&$skiptoken=..&maxresults=.." or null. */
static void put_next_link(struct sec_writer *sw, const char *api_version, const char *path,
                          const char *next, int max)
{
    cf_err e;

    cf_jw_key(&sw->w, "nextLink");
    if (!next[0]) {
        cf_jw_null(&sw->w);
        return;
    }
    cf_buf_reset(&sw->tmp);
    e = cf_buf_append_str(&sw->tmp, sw->base);
    if (!e)
        e = cf_buf_printf(&sw->tmp, "%s?api-version=%s&$skiptoken=", path, api_version);
    if (!e) /* the vault's token is URL-safe already; encoding keeps that an invariant here */
        e = cf_pct_encode(&sw->tmp, cf_str_from(next));
    if (!e)
        e = cf_buf_printf(&sw->tmp, "&maxresults=%d", max);
    if (e && !sw->err)
        sw->err = e;
    cf_jw_strn(&sw->w, sw->tmp.data ? sw->tmp.data : "", sw->tmp.len);
}

static void list_reply(struct api_req *r, enum sec_list kind)
{
    struct cf_str name = kind == LIST_VERSIONS ? r->cap[0] : CF_STR("");
    struct cf_str after = api_query(r, "$skiptoken");
    char next[CF_PAGE_TOKEN_MAX] = "";
    char path[16 + CF_MAX_NAME_LEN];
    struct sec_writer sw;
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
        reply_err(r, CF_EBADPARAM, CTX_LIST, name, CF_STR(""), NULL);
        return;
    }
    if (kind == LIST_VERSIONS)
        snprintf(path, sizeof(path), "/secrets/%.*s/versions", CF_STR_FMT(name));
    else
        snprintf(path, sizeof(path), "%s", kind == LIST_DELETED ? "/deletedsecrets" : "/secrets");

    sw_init(&sw, r);
    c.sw = &sw;
    c.shape = kind == LIST_LIVE      ? SHAPE_ITEM
              : kind == LIST_DELETED ? SHAPE_DELETED_ITEM
                                     : SHAPE_VERSION_ITEM;
    e = sw.err;
    if (!e) {
        cf_jw_obj_begin(&sw.w);
        cf_jw_key(&sw.w, "value");
        cf_jw_arr_begin(&sw.w);
        if (kind == LIST_LIVE)
            e = cf_secret_list(vault_svc(r), &r->vault, after, max, list_item, &c, next);
        else if (kind == LIST_VERSIONS)
            e = cf_secret_list_versions(vault_svc(r), &r->vault, name, after, max, list_item, &c,
                                        next);
        else
            e = cf_secret_list_deleted(vault_svc(r), &r->vault, after, max, list_item, &c, next);
    }
    if (!e) {
        next[CF_PAGE_TOKEN_MAX - 1] = '\0';
        cf_jw_arr_end(&sw.w);
        put_next_link(&sw, r->api_version, path, next, max);
        cf_jw_obj_end(&sw.w);
        e = sw_err(&sw);
    }
    sw_release(&sw);
    if (e)
        reply_err(r, e, CTX_LIST, name, CF_STR(""), NULL);
    else
        api_reply(r, 200);
}

void api_secret_list(struct api_req *r)
{
    list_reply(r, LIST_LIVE);
}

void api_secret_list_versions(struct api_req *r)
{
    list_reply(r, LIST_VERSIONS);
}

void api_secret_list_deleted(struct api_req *r)
{
    list_reply(r, LIST_DELETED);
}

/* ---------------- backup, restore ---------------- */

void api_secret_backup(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    cf_err e;

    if (!name_ok(r, name))
        return;
    /* The blob is base64url (JSON-safe), appended by the vault straight into the body. */
    cf_buf_reset(&r->out);
    e = cf_buf_puts(&r->out, "{\"value\":\"");
    if (!e)
        e = cf_secret_backup(vault_svc(r), &r->vault, name, &r->out);
    if (!e)
        e = cf_buf_puts(&r->out, "\"}");
    if (e)
        reply_err(r, e, CTX_LIVE, name, CF_STR(""), NULL);
    else
        api_reply(r, 200);
}

void api_secret_restore(struct api_req *r)
{
    struct cf_secret_meta m;
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
    e = len ? cf_secret_restore(vault_svc(r), &r->vault, (struct cf_str){blob, len}, &m)
            : CF_EBADPARAM;
    if (e)
        reply_err(r, e, CTX_RESTORE, CF_STR(""), CF_STR(""), m.name);
    else
        reply_bundle(r, SHAPE_BUNDLE, &m, CF_STR_NULL);
    cf_secret_meta_release(&m);
}

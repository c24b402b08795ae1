/* h_certs.c - the certificates data plane (azure-kv-certificates.md §4-§10): request bodies
 * in, CertificateBundle / DeletedCertificateBundle / CertificateItem, CertificateOperation,
 * CertificatePolicy, Contacts and IssuerBundle out.
 *
 * Map:
 *   output     struct cw: ids from the request's host; bundle, item, operation, policy,
 *              contacts and issuer shapes
 *   input      attributes/tags/preserveCertOrder (struct cf_cert_input); x5c; import value
 *   errors     reply_err: cf_err -> CertificateNotFound / PendingCertificateNotFound / the 409s
 *   handlers   one per route (routes.c "---- certificates ----")
 *   private CA PUT/GET /providers/Microsoft.Coffer/certificateAuthority (management host)
 *
 * Every path ends in exactly one api_reply / api_error* call (internal.h). Passwords and key
 * material never reach an error message. */
#include "base/cf.h"
#include "api/h_certs.h"
#include "base/codec.h"
#include "crypto/crypto.h"

#define NAME_SHOWN 128
#define TAGS_MAX (64 * 1024)
#define X5C_MAX (96 * 1024)
#define CF_STORE_CERT_DER_MAX_API (16 * 1024) /* one certificate (store_certs.h) */

static struct cf_vault_svc *svc_of(const struct api_req *r)
{
    return r->api->cfg.vault;
}

static bool given(const struct cf_json *j)
{
    enum cf_json_type t = cf_json_type(j);
    return t != CF_JSON_NONE && t != CF_JSON_NULL;
}

/* ---------------- output ---------------- */

struct cw {
    struct cf_jw w;
    struct cf_buf base;
    struct cf_buf tmp;
    cf_err err;
    struct api_req *r;
};

static void cw_init(struct cw *c, struct api_req *r)
{
    cf_jw_init(&c->w, &r->out);
    cf_buf_init(&c->base, CF_MAX_HEADER_BYTES + 16);
    cf_buf_init(&c->tmp, 2 * CF_MAX_HEADER_BYTES + 1024);
    c->r = r;
    c->err = api_base_url(r, &c->base);
}

static void cw_release(struct cw *c)
{
    cf_buf_release(&c->base);
    cf_buf_release(&c->tmp);
}

static cf_err cw_err(const struct cw *c)
{
    return c->err ? c->err : cf_jw_err(&c->w);
}

/* c->tmp = base/coll/name[/tail] */
static const char *build_id(struct cw *c, const char *coll, const char *name, const char *tail)
{
    cf_err e;
    cf_buf_reset(&c->tmp);
    e = cf_buf_append_str(&c->tmp, cf_buf_str(&c->base));
    if (!e)
        e = cf_buf_printf(&c->tmp, "/%s%s%s", coll, name ? "/" : "", name ? name : "");
    if (!e && tail && tail[0])
        e = cf_buf_printf(&c->tmp, "/%s", tail);
    if (e && !c->err)
        c->err = e;
    return c->tmp.data ? c->tmp.data : "";
}

static void put_id(struct cw *c, const char *key, const char *coll, const char *name,
                   const char *tail)
{
    build_id(c, coll, name, tail);
    cf_jw_key(&c->w, key);
    cf_jw_strn(&c->w, c->tmp.data ? c->tmp.data : "", c->tmp.len);
}

static void put_b64(struct cw *c, const char *key, const void *p, size_t n)
{
    cf_buf_reset(&c->tmp);
    if (cf_b64_encode(&c->tmp, p, n) != CF_OK && !c->err)
        c->err = CF_ENOMEM;
    cf_jw_key(&c->w, key);
    cf_jw_strn(&c->w, c->tmp.data ? c->tmp.data : "", c->tmp.len);
}

static void put_policy(struct cw *c, const char *name, const struct cf_cert_policy *p)
{
    char *id;
    build_id(c, "certificates", name, "policy");
    id = strdup(c->tmp.data ? c->tmp.data : "");
    if (!id) {
        c->err = CF_ENOMEM;
        return;
    }
    cf_cert_policy_write(p, id, &c->w);
    free(id);
}

enum shape { BUNDLE, DELETED_BUNDLE, ITEM, VERSION_ITEM, DELETED_ITEM };

static void put_cert(struct cw *c, enum shape s, const struct cf_cert_meta *m)
{
    struct cf_jw *w = &c->w;
    bool deleted = s == DELETED_BUNDLE || s == DELETED_ITEM;
    bool bundle = s == BUNDLE || s == DELETED_BUNDLE;

    cf_jw_obj_begin(w);
    if (deleted) {
        put_id(c, "recoveryId", "deletedcertificates", m->name, NULL);
        if (m->deleted_date)
            cf_jw_kint(w, "deletedDate", m->deleted_date);
        if (m->scheduled_purge)
            cf_jw_kint(w, "scheduledPurgeDate", m->scheduled_purge);
    }
    put_id(c, "id", "certificates", m->name, bundle || s == VERSION_ITEM ? m->version : NULL);
    if (bundle) {
        put_id(c, "kid", "keys", m->name, m->version);
        put_id(c, "sid", "secrets", m->name, m->version);
    }
    if (m->x5t[0]) /* "" while only a pending operation exists */
        cf_jw_kstr(w, "x5t", m->x5t);
    if (bundle && m->cer.len)
        put_b64(c, "cer", m->cer.data, m->cer.len);
    cf_jw_key(w, "attributes");
    cf_jw_obj_begin(w);
    cf_jw_kbool(w, "enabled", m->enabled);
    if (m->nbf)
        cf_jw_kint(w, "nbf", m->nbf);
    if (m->exp)
        cf_jw_kint(w, "exp", m->exp);
    cf_jw_kint(w, "created", m->created);
    cf_jw_kint(w, "updated", m->updated);
    cf_jw_kstr(w, "recoveryLevel", cf_recovery_level(&c->r->vault));
    cf_jw_kint(w, "recoverableDays", c->r->vault.retention_days);
    cf_jw_obj_end(w);
    if (m->tags_json) {
        cf_jw_key(w, "tags");
        cf_jw_raw(w, m->tags_json, strlen(m->tags_json));
    }
    if (bundle && m->policy) {
        cf_jw_key(w, "policy");
        put_policy(c, m->name, m->policy);
    }
    if (bundle && m->pending) {
        cf_jw_key(w, "pending");
        cf_jw_obj_begin(w);
        put_id(c, "id", "certificates", m->name, "pending");
        cf_jw_obj_end(w);
    }
    if (bundle && m->preserve_order)
        cf_jw_kbool(w, "preserveCertOrder", true);
    cf_jw_obj_end(w);
}

static void put_op(struct cw *c, const struct cf_cert_op *o)
{
    struct cf_jw *w = &c->w;

    cf_jw_obj_begin(w);
    put_id(c, "id", "certificates", o->name, "pending");
    cf_jw_key(w, "issuer");
    cf_jw_obj_begin(w);
    cf_jw_kstr(w, "name", o->issuer);
    if (o->cty[0])
        cf_jw_kstr(w, "cty", o->cty);
    if (o->has_ct)
        cf_jw_kbool(w, "cert_transparency", o->cert_transparency);
    cf_jw_obj_end(w);
    if (o->csr.len)
        put_b64(c, "csr", o->csr.data, o->csr.len);
    cf_jw_kbool(w, "cancellation_requested", o->cancel_requested);
    cf_jw_kstr(w, "status", o->status);
    if (o->status_details)
        cf_jw_kstr(w, "status_details", o->status_details);
    if (o->error_json) {
        cf_jw_key(w, "error");
        cf_jw_raw(w, o->error_json, strlen(o->error_json));
    }
    if (o->completed)
        put_id(c, "target", "certificates", o->name, NULL);
    cf_jw_kstr(w, "request_id", o->request_id);
    cf_jw_obj_end(w);
}

/* ---------------- errors ---------------- */

enum ctx { CTX_LIVE, CTX_DELETED, CTX_PENDING, CTX_LIST, CTX_ISSUER, CTX_CREATE };

static void reply_err(struct api_req *r, cf_err e, enum ctx ctx, struct cf_str name,
                      const char *why)
{
    int nl = (int)CF_MIN(name.len, NAME_SHOWN);
    const char *np = name.p ? name.p : "";

    switch (e) {
    case CF_ENOTFOUND:
        if (ctx == CTX_PENDING)
            api_error(r, 404, "PendingCertificateNotFound", NULL,
                      "Pending certificate not found: %.*s", nl, np);
        else if (ctx == CTX_ISSUER)
            api_error(r, 404, "CertificateIssuerNotFound", NULL, "Issuer not found: %.*s", nl,
                      np);
        else if (ctx == CTX_DELETED)
            api_error(r, 404, "CertificateNotFound", NULL, "Deleted Certificate not found: %.*s",
                      nl, np);
        else
            api_error(r, 404, "CertificateNotFound", NULL,
                      "A certificate with (name/id) %.*s was not found in this key vault. If you "
                      "recently deleted this certificate you may be able to recover it using the "
                      "correct recovery command. For help resolving this issue, please see "
                      "https://go.microsoft.com/fwlink/?linkid=2125182",
                      nl, np);
        return;
    case CF_EBUSY:
        if (ctx != CTX_CREATE)
            break;
        api_error(r, 409, "Conflict", NULL,
                  "A new key vault certificate can not be created or imported while a pending "
                  "key vault certificate's status is inProgress.");
        return;
    case CF_EFORBIDDEN:
        if (ctx == CTX_PENDING) {
            api_error(r, 403, "Forbidden", NULL,
                      "Pending status must be in progress to allow update.");
            return;
        }
        api_error(r, 403, "Forbidden", NULL,
                  "Merge is forbidden on pending object created with a certificate issuer.");
        return;
    case CF_EDELETED:
        api_error(r, 409, "Conflict", "ObjectIsDeletedButRecoverable",
                  "Certificate %.*s is currently in a deleted but recoverable state, and its name "
                  "cannot be reused; in this state, the certificate can only be recovered or "
                  "purged.",
                  nl, np);
        return;
    case CF_EEXISTS:
        api_error(r, 409, "Conflict", NULL,
                  "The name %.*s is used by a key or secret that is not this certificate's.", nl,
                  np);
        return;
    case CF_EPURGEPROTECT:
        api_error(r, 403, "Forbidden", NULL,
                  "Operation \"purge\" is not allowed because purge protection is enabled for "
                  "this vault. Key Vault service will automatically purge it after the retention "
                  "period has passed.\r\nVault: %s;location=%s",
                  r->vault.name, r->api->cfg.region ? r->api->cfg.region : "local");
        return;
    case CF_EBADNAME:
        api_error(r, 400, "BadParameter", NULL, "The request URI contains an invalid name: %.*s",
                  nl, np);
        return;
    case CF_EBADPARAM:
        if (ctx == CTX_LIST) {
            api_error(r, 400, "BadParameter", NULL, "The $skiptoken is invalid or expired.");
            return;
        }
        api_error(r, 400, "BadParameter", NULL, "%s",
                  why && why[0] ? why : "The request is invalid.");
        return;
    default:
        break;
    }
    api_error_err(r, e);
}

static bool name_ok(struct api_req *r, struct cf_str name)
{
    if (cf_name_valid_object(name))
        return true;
    reply_err(r, CF_EBADNAME, CTX_LIVE, name, NULL);
    return false;
}

static void reply_bundle(struct api_req *r, enum shape s, const struct cf_cert_meta *m,
                         int status)
{
    struct cw c;
    cf_err e;

    cw_init(&c, r);
    put_cert(&c, s, m);
    e = cw_err(&c);
    cw_release(&c);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, status);
}

static void reply_op(struct api_req *r, const struct cf_cert_op *o, int status)
{
    struct cw c;
    cf_err e;

    cw_init(&c, r);
    put_op(&c, o);
    e = cw_err(&c);
    if (!e && status == 202) {
        snprintf(r->location, sizeof(r->location), "%s?api-version=%s&request_id=%s",
                 build_id(&c, "certificates", o->name, "pending"), r->api_version, o->request_id);
        e = cw_err(&c);
        if (!e)
            api_add_header(r, "Location", r->location);
    }
    cw_release(&c);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, status);
}

/* ---------------- input ---------------- */

struct cert_body {
    struct cf_cert_input in;
    struct cf_buf tags;
};

static bool parse_input(struct api_req *r, struct cert_body *b)
{
    const struct cf_json *a = cf_json_get(r->body, "attributes");
    const struct cf_json *t = cf_json_get(r->body, "tags");
    const struct cf_json *p = cf_json_get(r->body, "preserveCertOrder");

    memset(b, 0, sizeof(*b));
    cf_buf_init(&b->tags, TAGS_MAX);
    if (given(a)) {
        const struct cf_json *en = cf_json_get(a, "enabled");
        if (cf_json_type(a) != CF_JSON_OBJECT ||
            (given(en) && !cf_json_bool(en, &b->in.enabled))) {
            api_error(r, 400, "BadParameter", NULL,
                      "Property 'attributes' must be an object with a boolean 'enabled'.");
            return false;
        }
        b->in.has_enabled = given(en);
    }
    if (given(t)) {
        void *it = NULL;
        const char *k;
        const struct cf_json *v;
        bool ok = cf_json_type(t) == CF_JSON_OBJECT && cf_json_size(t) <= CF_MAX_TAGS;
        while (ok && cf_json_next(t, &it, &k, &v)) {
            size_t len;
            ok = strlen(k) <= CF_MAX_TAG_LEN && cf_json_str(v, &len) && len <= CF_MAX_TAG_LEN;
        }
        if (!ok || cf_json_dump(t, &b->tags) != CF_OK) {
            api_error(r, 400, "BadParameter", NULL,
                      "Property 'tags' must be an object of at most 15 string values.");
            return false;
        }
        b->in.has_tags = true;
        b->in.tags_json = b->tags.data;
    }
    if (given(p) && !cf_json_bool(p, &b->in.preserve_order)) {
        api_error(r, 400, "BadParameter", NULL, "Property 'preserveCertOrder' must be a boolean.");
        return false;
    }
    return true;
}

static const struct cf_json *policy_arg(struct api_req *r, bool *bad)
{
    const struct cf_json *p = cf_json_get(r->body, "policy");
    *bad = given(p) && cf_json_type(p) != CF_JSON_OBJECT;
    return given(p) ? p : NULL;
}

/* ---------------- create, operation, merge, import ---------------- */

/* A Self certificate is issued before the 202 goes out, but the 202 body still reads
 * "inProgress" (no target), as the service's does (§6.1): Python's create poller treats an
 * initial operation that is already finished as done without ever fetching the certificate,
 * so its result() would be None. The first GET .../pending reads "completed". */
static cf_err as_in_progress(struct cf_cert_op *o)
{
    char *d = strdup("Pending certificate created. Certificate request is in progress. This may "
                     "take some time based on the issuer provider. Please check again later.");
    if (!d)
        return CF_ENOMEM;
    free(o->status_details);
    o->status_details = d;
    snprintf(o->status, sizeof(o->status), "inProgress");
    o->completed = false;
    return CF_OK;
}

void api_cert_create(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    struct cert_body b;
    struct cf_cert_op o;
    const struct cf_json *pol;
    char why[256] = "";
    bool badpol;
    cf_err e;

    if (!name_ok(r, name) || api_body_json(r, true))
        return;
    pol = policy_arg(r, &badpol);
    if (badpol) {
        api_error(r, 400, "BadParameter", NULL, "Property 'policy' must be an object.");
        return;
    }
    if (!parse_input(r, &b)) {
        cf_buf_release(&b.tags);
        return;
    }
    e = cf_cert_create(svc_of(r), &r->vault, name, pol, &b.in, &o, why, sizeof(why));
    cf_buf_release(&b.tags);
    if (!e && o.completed)
        e = as_in_progress(&o);
    if (e)
        reply_err(r, e, CTX_CREATE, name, why);
    else
        reply_op(r, &o, 202);
    cf_cert_op_release(&o);
}

typedef cf_err (*op_fn)(struct cf_vault_svc *, const struct cf_vault_ref *, struct cf_str,
                        struct cf_cert_op *);

static void op_common(struct api_req *r, op_fn fn, bool filter)
{
    struct cf_str name = r->cap[0], rid = api_query(r, "request_id");
    struct cf_cert_op o;
    cf_err e;

    if (!name_ok(r, name))
        return;
    e = fn(svc_of(r), &r->vault, name, &o);
    if (!e && filter && rid.p && rid.len && !cf_str_eq(rid, cf_str_from(o.request_id)))
        e = CF_ENOTFOUND;
    if (e)
        reply_err(r, e, CTX_PENDING, name, NULL);
    else
        reply_op(r, &o, 200);
    cf_cert_op_release(&o);
}

void api_cert_op_get(struct api_req *r)
{
    op_common(r, cf_cert_op_get, true);
}

void api_cert_op_delete(struct api_req *r)
{
    op_common(r, cf_cert_op_delete, false);
}

void api_cert_op_cancel(struct api_req *r)
{
    bool cancel = false;

    if (api_body_json(r, true))
        return;
    if (!cf_json_bool(cf_json_get(r->body, "cancellation_requested"), &cancel) || !cancel) {
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'cancellation_requested' must be true.");
        return;
    }
    op_common(r, cf_cert_op_cancel, false);
}

void api_cert_merge(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    const struct cf_json *x5c;
    struct cert_body b;
    struct cf_cert_meta m;
    struct cf_buf chain;
    char why[256] = "";
    cf_err e = CF_OK;

    if (!name_ok(r, name) || api_body_json(r, true))
        return;
    x5c = cf_json_get(r->body, "x5c");
    if (cf_json_type(x5c) != CF_JSON_ARRAY || cf_json_size(x5c) == 0 || cf_json_size(x5c) > 16) {
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'x5c' must be an array of base64 DER certificates, leaf first.");
        return;
    }
    cf_buf_init(&chain, X5C_MAX);
    for (size_t i = 0; i < cf_json_size(x5c) && !e; i++) {
        size_t len;
        const char *s = cf_json_str(cf_json_at(x5c, i), &len);
        e = s ? cf_b64_decode(&chain, (struct cf_str){s, len}) : CF_EINVAL;
    }
    if (e) {
        cf_buf_release(&chain);
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'x5c' must be an array of base64 DER certificates, leaf first.");
        return;
    }
    if (!parse_input(r, &b)) {
        cf_buf_release(&b.tags);
        cf_buf_release(&chain);
        return;
    }
    e = cf_cert_merge(svc_of(r), &r->vault, name,
                      (struct cf_str){chain.data ? chain.data : "", chain.len}, &b.in, &m, why,
                      sizeof(why));
    cf_buf_release(&b.tags);
    cf_buf_release(&chain);
    if (e) {
        reply_err(r, e, CTX_PENDING, name, why);
    } else {
        struct cw c;
        cw_init(&c, r);
        snprintf(r->location, sizeof(r->location), "%s",
                 build_id(&c, "certificates", m.name, NULL));
        cw_release(&c);
        api_add_header(r, "Location", r->location);
        reply_bundle(r, BUNDLE, &m, 201);
    }
    cf_cert_meta_release(&m);
}

void api_cert_import(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    const struct cf_json *pol;
    struct cert_body b;
    struct cf_cert_meta m;
    const char *value, *pwd = NULL;
    char why[256] = "";
    size_t vlen, plen;
    bool badpol;
    cf_err e;

    if (!name_ok(r, name) || api_body_json(r, true))
        return;
    value = cf_json_str(cf_json_get(r->body, "value"), &vlen);
    if (!value || vlen == 0) {
        api_error(r, 400, "BadParameter", NULL,
                  "Property 'value' (the base64 PFX or the PEM text) is required.");
        return;
    }
    if (given(cf_json_get(r->body, "pwd"))) {
        pwd = cf_json_str(cf_json_get(r->body, "pwd"), &plen);
        if (!pwd || memchr(pwd, '\0', plen)) {
            api_error(r, 400, "BadParameter", NULL, "Property 'pwd' must be a string.");
            return;
        }
    }
    pol = policy_arg(r, &badpol);
    if (badpol) {
        api_error(r, 400, "BadParameter", NULL, "Property 'policy' must be an object.");
        return;
    }
    if (!parse_input(r, &b)) {
        cf_buf_release(&b.tags);
        return;
    }
    e = cf_cert_import(svc_of(r), &r->vault, name, (struct cf_str){value, vlen}, pwd, pol, &b.in,
                       &m, why, sizeof(why));
    cf_buf_release(&b.tags);
    if (e)
        reply_err(r, e, CTX_CREATE, name, why);
    else
        reply_bundle(r, BUNDLE, &m, 200);
    cf_cert_meta_release(&m);
}

/* ---------------- get, update, policy ---------------- */

static struct cf_str version_of(const struct api_req *r)
{
    return r->ncap > 1 ? r->cap[1] : CF_STR("");
}

void api_cert_get(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    struct cf_cert_meta m;
    cf_err e;

    if (!name_ok(r, name))
        return;
    e = cf_cert_get(svc_of(r), &r->vault, name, version_of(r), &m);
    if (e)
        reply_err(r, e, CTX_LIVE, name, NULL);
    else
        reply_bundle(r, BUNDLE, &m, 200);
    cf_cert_meta_release(&m);
}

void api_cert_update(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    const struct cf_json *pol;
    struct cert_body b;
    struct cf_cert_meta m;
    char why[256] = "";
    bool badpol;
    cf_err e;

    if (!name_ok(r, name) || api_body_json(r, true))
        return;
    pol = policy_arg(r, &badpol);
    if (badpol) {
        api_error(r, 400, "BadParameter", NULL, "Property 'policy' must be an object.");
        return;
    }
    if (!parse_input(r, &b)) {
        cf_buf_release(&b.tags);
        return;
    }
    e = cf_cert_update(svc_of(r), &r->vault, name, version_of(r), &b.in, pol, &m, why,
                       sizeof(why));
    cf_buf_release(&b.tags);
    if (e)
        reply_err(r, e, CTX_LIVE, name, why);
    else
        reply_bundle(r, BUNDLE, &m, 200);
    cf_cert_meta_release(&m);
}

static void reply_policy(struct api_req *r, struct cf_str name, const struct cf_cert_policy *p)
{
    char n[CF_MAX_NAME_LEN + 1];
    struct cw c;
    cf_err e;

    snprintf(n, sizeof(n), "%.*s", CF_STR_FMT(name));
    cw_init(&c, r);
    put_policy(&c, n, p);
    e = cw_err(&c);
    cw_release(&c);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
}

void api_cert_policy_get(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    struct cf_cert_policy *p = malloc(sizeof(*p));
    cf_err e;

    if (!p) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    if (name_ok(r, name)) {
        e = cf_cert_policy_get(svc_of(r), &r->vault, name, p);
        if (e)
            reply_err(r, e, CTX_LIVE, name, NULL);
        else
            reply_policy(r, name, p);
    }
    free(p);
}

void api_cert_policy_update(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    struct cf_cert_policy *p;
    char why[256] = "";
    cf_err e;

    if (!name_ok(r, name) || api_body_json(r, false))
        return;
    p = malloc(sizeof(*p));
    if (!p) {
        api_error_err(r, CF_ENOMEM);
        return;
    }
    e = cf_cert_policy_update(svc_of(r), &r->vault, name, r->body, p, why, sizeof(why));
    if (e)
        reply_err(r, e, CTX_LIVE, name, why);
    else
        reply_policy(r, name, p);
    free(p);
}

/* ---------------- lists ---------------- */

struct list_ctx {
    struct cw *c;
    enum shape shape;
};

static cf_err list_item(const struct cf_cert_meta *m, void *arg)
{
    struct list_ctx *l = arg;
    put_cert(l->c, l->shape, m);
    return cw_err(l->c);
}

static cf_err issuer_item(const struct cf_cert_issuer *i, void *arg)
{
    struct list_ctx *l = arg;
    cf_jw_obj_begin(&l->c->w);
    put_id(l->c, "id", "certificates/issuers", i->name, NULL);
    cf_jw_kstr(&l->c->w, "provider", i->provider);
    cf_jw_obj_end(&l->c->w);
    return cw_err(l->c);
}

enum list_kind { L_LIVE, L_VERSIONS, L_DELETED, L_ISSUERS };

static void list_reply(struct api_req *r, enum list_kind kind)
{
    struct cf_str name = kind == L_VERSIONS ? r->cap[0] : CF_STR("");
    struct cf_str after = api_query(r, "$skiptoken"), mr = api_query(r, "maxresults");
    /* includePending (live list; accepted on the deleted list, where it changes nothing) */
    bool pending = cf_str_eq_ci(api_query(r, "includePending"), CF_STR("true"));
    char next[CF_PAGE_TOKEN_MAX] = "", path[32 + CF_MAX_NAME_LEN];
    struct list_ctx l;
    struct cw c;
    int64_t max = CF_PAGE_MAX;
    cf_err e;

    if (kind == L_VERSIONS && !name_ok(r, name))
        return;
    if (mr.p && (!cf_str_to_i64(mr, &max) || max < 1 || max > CF_PAGE_MAX)) {
        api_error(r, 400, "BadParameter", NULL,
                  "Invalid maxresults: it must be an integer between 1 and 25.");
        return;
    }
    if (!after.p)
        after = CF_STR("");
    if (kind == L_VERSIONS)
        snprintf(path, sizeof(path), "/certificates/%.*s/versions", CF_STR_FMT(name));
    else
        snprintf(path, sizeof(path), "%s",
                 kind == L_DELETED   ? "/deletedcertificates"
                 : kind == L_ISSUERS ? "/certificates/issuers"
                                     : "/certificates");
    cw_init(&c, r);
    l.c = &c;
    l.shape = kind == L_LIVE ? ITEM : kind == L_DELETED ? DELETED_ITEM : VERSION_ITEM;
    e = c.err;
    if (!e) {
        cf_jw_obj_begin(&c.w);
        cf_jw_key(&c.w, "value");
        cf_jw_arr_begin(&c.w);
        if (kind == L_LIVE)
            e = cf_cert_list(svc_of(r), &r->vault, after, (int)max, pending, list_item, &l,
                             next);
        else if (kind == L_VERSIONS)
            e = cf_cert_list_versions(svc_of(r), &r->vault, name, after, (int)max, list_item, &l,
                                      next);
        else if (kind == L_DELETED)
            e = cf_cert_list_deleted(svc_of(r), &r->vault, after, (int)max, list_item, &l, next);
        else
            e = cf_cert_issuer_list(svc_of(r), &r->vault, after, (int)max, issuer_item, &l, next);
    }
    if (!e) {
        cf_jw_arr_end(&c.w);
        cf_jw_key(&c.w, "nextLink");
        if (!next[0]) {
            cf_jw_null(&c.w);
        } else {
            cf_buf_reset(&c.tmp);
            e = cf_buf_append_str(&c.tmp, cf_buf_str(&c.base));
            if (!e)
                e = cf_buf_printf(&c.tmp, "%s?api-version=%s&$skiptoken=", path, r->api_version);
            if (!e)
                e = cf_pct_encode(&c.tmp, cf_str_from(next));
            if (!e)
                e = cf_buf_printf(&c.tmp, "&maxresults=%d", (int)max);
            if (!e && pending && kind == L_LIVE) /* the next page lists the same way */
                e = cf_buf_append_str(&c.tmp, CF_STR("&includePending=true"));
            cf_jw_strn(&c.w, c.tmp.data ? c.tmp.data : "", c.tmp.len);
        }
        cf_jw_obj_end(&c.w);
        if (!e)
            e = cw_err(&c);
    }
    cw_release(&c);
    if (e)
        reply_err(r, e, CTX_LIST, name, NULL);
    else
        api_reply(r, 200);
}

void api_cert_list(struct api_req *r)
{
    list_reply(r, L_LIVE);
}

void api_cert_list_versions(struct api_req *r)
{
    list_reply(r, L_VERSIONS);
}

void api_cert_list_deleted(struct api_req *r)
{
    list_reply(r, L_DELETED);
}

void api_cert_issuer_list(struct api_req *r)
{
    list_reply(r, L_ISSUERS);
}

/* ---------------- delete, deleted, recover, purge, backup ---------------- */

typedef cf_err (*name_fn)(struct cf_vault_svc *, const struct cf_vault_ref *, struct cf_str,
                          struct cf_cert_meta *);

static void name_op(struct api_req *r, name_fn fn, enum ctx ctx, enum shape shape)
{
    struct cf_str name = r->cap[0];
    struct cf_cert_meta m;
    cf_err e;

    if (!name_ok(r, name))
        return;
    e = fn(svc_of(r), &r->vault, name, &m);
    if (e)
        reply_err(r, e, ctx, name, NULL);
    else
        reply_bundle(r, shape, &m, 200);
    cf_cert_meta_release(&m);
}

void api_cert_delete(struct api_req *r)
{
    name_op(r, cf_cert_delete, CTX_LIVE, DELETED_BUNDLE);
}

void api_cert_get_deleted(struct api_req *r)
{
    name_op(r, cf_cert_get_deleted, CTX_DELETED, DELETED_BUNDLE);
}

void api_cert_recover(struct api_req *r)
{
    name_op(r, cf_cert_recover, CTX_DELETED, BUNDLE);
}

void api_cert_purge(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    cf_err e;

    if (!name_ok(r, name))
        return;
    e = cf_cert_purge(svc_of(r), &r->vault, name);
    if (e)
        reply_err(r, e, CTX_DELETED, name, NULL);
    else
        api_reply_empty(r, 204);
}

void api_cert_backup(struct api_req *r)
{
    struct cf_str name = r->cap[0];
    struct cf_buf blob;
    cf_err e;

    if (!name_ok(r, name))
        return;
    cf_buf_init(&blob, 4 * 1024 * 1024);
    e = cf_cert_backup(svc_of(r), &r->vault, name, &blob);
    if (e) {
        reply_err(r, e, CTX_LIVE, name, NULL);
    } else {
        struct cf_jw w;
        cf_jw_init(&w, &r->out);
        cf_jw_obj_begin(&w);
        cf_jw_key(&w, "value");
        cf_jw_strn(&w, blob.data ? blob.data : "", blob.len);
        cf_jw_obj_end(&w);
        if (cf_jw_err(&w))
            api_error_err(r, cf_jw_err(&w));
        else
            api_reply(r, 200);
    }
    cf_buf_release(&blob);
}

void api_cert_restore(struct api_req *r)
{
    struct cf_cert_meta m;
    size_t len;
    const char *v;
    cf_err e;

    if (api_body_json(r, false))
        return;
    v = cf_json_str(cf_json_get(r->body, "value"), &len);
    if (!v) {
        api_error(r, 400, "BadParameter", NULL, "Property 'value' (the backup blob) is required.");
        return;
    }
    e = cf_cert_restore(svc_of(r), &r->vault, (struct cf_str){v, len}, &m);
    if (e == CF_EEXISTS)
        api_error(r, 409, "Conflict", NULL,
                  "A certificate, key or secret with the name %.*s already exists in this vault.",
                  (int)CF_MIN(strlen(m.name), NAME_SHOWN), m.name);
    else if (e)
        reply_err(r, e, CTX_CREATE, cf_str_from(m.name), "Backup blob is invalid or corrupt.");
    else
        reply_bundle(r, BUNDLE, &m, 200);
    cf_cert_meta_release(&m);
}

/* ---------------- contacts ---------------- */

static void reply_contacts(struct api_req *r, const char *json)
{
    struct cw c;
    cf_err e;

    cw_init(&c, r);
    cf_jw_obj_begin(&c.w);
    put_id(&c, "id", "certificates/contacts", NULL, NULL);
    cf_jw_key(&c.w, "contacts");
    cf_jw_raw(&c.w, json, strlen(json));
    cf_jw_obj_end(&c.w);
    e = cw_err(&c);
    cw_release(&c);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
}

void api_cert_contacts_get(struct api_req *r)
{
    char *json = NULL;
    cf_err e = cf_cert_contacts_get(svc_of(r), &r->vault, &json);
    if (e)
        api_error_err(r, e);
    else
        reply_contacts(r, json);
    free(json);
}

void api_cert_contacts_delete(struct api_req *r)
{
    char *json = NULL;
    cf_err e = cf_cert_contacts_delete(svc_of(r), &r->vault, &json);
    if (e)
        api_error_err(r, e);
    else
        reply_contacts(r, json);
    free(json);
}

void api_cert_contacts_set(struct api_req *r)
{
    char *json = NULL, why[256] = "";
    cf_err e;

    if (api_body_json(r, false))
        return;
    e = cf_cert_contacts_set(svc_of(r), &r->vault, cf_json_get(r->body, "contacts"), &json, why,
                             sizeof(why));
    if (e)
        reply_err(r, e, CTX_LIVE, CF_STR(""), why);
    else
        reply_contacts(r, json);
    free(json);
}

/* ---------------- issuers ---------------- */

static void reply_issuer(struct api_req *r, const struct cf_cert_issuer *i)
{
    struct cw c;
    cf_err e;

    cw_init(&c, r);
    cf_jw_obj_begin(&c.w);
    put_id(&c, "id", "certificates/issuers", i->name, NULL);
    cf_jw_kstr(&c.w, "provider", i->provider);
    if (i->account_id[0]) {
        cf_jw_key(&c.w, "credentials");
        cf_jw_obj_begin(&c.w);
        cf_jw_kstr(&c.w, "account_id", i->account_id);
        cf_jw_obj_end(&c.w);
    }
    if (i->org_json) {
        cf_jw_key(&c.w, "org_details");
        cf_jw_raw(&c.w, i->org_json, strlen(i->org_json));
    }
    cf_jw_key(&c.w, "attributes");
    cf_jw_obj_begin(&c.w);
    cf_jw_kbool(&c.w, "enabled", i->enabled);
    cf_jw_kint(&c.w, "created", i->created);
    cf_jw_kint(&c.w, "updated", i->updated);
    cf_jw_obj_end(&c.w);
    cf_jw_obj_end(&c.w);
    e = cw_err(&c);
    cw_release(&c);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, 200);
}

static bool issuer_name_ok(struct api_req *r)
{
    if (cf_cert_issuer_name_valid(r->cap[0]))
        return true;
    api_error(r, 400, "BadParameter", NULL, "The request URI contains an invalid issuer name: %.*s",
              (int)CF_MIN(r->cap[0].len, NAME_SHOWN), r->cap[0].p ? r->cap[0].p : "");
    return false;
}

void api_cert_issuer_get(struct api_req *r)
{
    struct cf_cert_issuer i;
    cf_err e;

    if (!issuer_name_ok(r))
        return;
    e = cf_cert_issuer_get(svc_of(r), &r->vault, r->cap[0], &i);
    if (e)
        reply_err(r, e, CTX_ISSUER, r->cap[0], NULL);
    else
        reply_issuer(r, &i);
    cf_cert_issuer_release(&i);
}

void api_cert_issuer_delete(struct api_req *r)
{
    struct cf_cert_issuer i;
    cf_err e;

    if (!issuer_name_ok(r))
        return;
    e = cf_cert_issuer_delete(svc_of(r), &r->vault, r->cap[0], &i);
    if (e)
        reply_err(r, e, CTX_ISSUER, r->cap[0], NULL);
    else
        reply_issuer(r, &i);
    cf_cert_issuer_release(&i);
}

static void issuer_write(struct api_req *r, bool update)
{
    struct cf_cert_issuer i;
    char why[256] = "";
    cf_err e;

    if (!issuer_name_ok(r) || api_body_json(r, false))
        return;
    e = cf_cert_issuer_set(svc_of(r), &r->vault, r->cap[0], r->body, update, &i, why,
                           sizeof(why));
    if (e)
        reply_err(r, e, CTX_ISSUER, r->cap[0], why);
    else
        reply_issuer(r, &i);
    cf_cert_issuer_release(&i);
}

void api_cert_issuer_set(struct api_req *r)
{
    issuer_write(r, false);
}

void api_cert_issuer_update(struct api_req *r)
{
    issuer_write(r, true);
}

/* ---------------- the server's private CA (management host) ---------------- */

#define CA_ID "/providers/Microsoft.Coffer/certificateAuthority"

/* {"id","name","type","properties":{subject, kty, keySize?, crv?, created, notBefore,
 * notAfter, x5t, issuerName, cer (base64 DER), pem}} */
static void reply_ca(struct api_req *r, const struct cf_ca_info *ca, int status)
{
    struct cf_buf b64, pem;
    struct cf_jw w;
    char ts[32];
    cf_err e;

    cf_buf_init(&b64, 2 * CF_STORE_CERT_DER_MAX_API);
    cf_buf_init(&pem, 3 * CF_STORE_CERT_DER_MAX_API);
    e = cf_b64_encode(&b64, ca->cer.data, ca->cer.len);
    if (!e)
        e = cf_buf_append_str(&pem, CF_STR("-----BEGIN CERTIFICATE-----\n"));
    for (size_t i = 0; !e && i < b64.len; i += 64) {
        e = cf_buf_append(&pem, b64.data + i, CF_MIN((size_t)64, b64.len - i));
        if (!e)
            e = cf_buf_append_str(&pem, CF_STR("\n"));
    }
    if (!e)
        e = cf_buf_append_str(&pem, CF_STR("-----END CERTIFICATE-----\n"));
    cf_jw_init(&w, &r->out);
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "id", CA_ID);
    cf_jw_kstr(&w, "name", "default");
    cf_jw_kstr(&w, "type", "Microsoft.Coffer/certificateAuthority");
    cf_jw_key(&w, "properties");
    cf_jw_obj_begin(&w);
    cf_jw_kstr(&w, "issuerName", CF_CA_ISSUER);
    cf_jw_kstr(&w, "subject", ca->subject);
    cf_jw_kstr(&w, "kty", ca->kty);
    if (ca->key_size)
        cf_jw_kint(&w, "keySize", ca->key_size);
    if (ca->crv[0])
        cf_jw_kstr(&w, "crv", ca->crv);
    cf_time_iso8601(ca->created, ts);
    cf_jw_kstr(&w, "created", ts);
    cf_time_iso8601(ca->nbf, ts);
    cf_jw_kstr(&w, "notBefore", ts);
    cf_time_iso8601(ca->exp, ts);
    cf_jw_kstr(&w, "notAfter", ts);
    cf_jw_kstr(&w, "x5t", ca->x5t);
    cf_jw_key(&w, "cer");
    cf_jw_strn(&w, b64.data ? b64.data : "", b64.len);
    cf_jw_key(&w, "pem");
    cf_jw_strn(&w, pem.data ? pem.data : "", pem.len);
    cf_jw_obj_end(&w);
    cf_jw_obj_end(&w);
    cf_buf_release(&b64);
    cf_buf_release(&pem);
    if (!e)
        e = cf_jw_err(&w);
    if (e)
        api_error_err(r, e);
    else
        api_reply(r, status);
}

/* PUT: creates the CA once. Body (optional): {"properties":{"subject","validityMonths","kty",
 * "keySize","crv"}}. 201 with the CA; 409 when the server has one. */
void api_ca_put(struct api_req *r)
{
    struct cf_ca_spec spec;
    struct cf_ca_info ca;
    const struct cf_json *p, *j;
    char subject[CF_CERT_SUBJECT_MAX], kty[16], crv[16];
    char why[256] = "";
    int64_t n;
    size_t len;
    const char *s;
    cf_err e;

    if (api_body_json(r, true))
        return;
    memset(&spec, 0, sizeof(spec));
    p = cf_json_get(r->body, "properties");
    if (given(p) && cf_json_type(p) != CF_JSON_OBJECT) {
        api_error(r, 400, "BadParameter", NULL, "Property 'properties' must be an object.");
        return;
    }
#define CA_STR(key, buf)                                                                               if (given(j = cf_json_get(p, key))) {                                                                  if (!(s = cf_json_str(j, &len)) || len >= sizeof(buf) || memchr(s, 0, len)) {                          api_error(r, 400, "BadParameter", NULL, "Property '%s' must be a short string.", key);             return;                                                                                        }                                                                                                  memcpy(buf, s, len + 1);                                                                       } else {                                                                                               buf[0] = '\0';                                                                                 }
    CA_STR("subject", subject)
    CA_STR("kty", kty)
    CA_STR("crv", crv)
#undef CA_STR
    spec.subject = subject;
    spec.kty = kty;
    spec.crv = crv;
    if (given(j = cf_json_get(p, "validityMonths"))) {
        if (!cf_json_int(j, &n) || n < 1 || n > 1200) {
            api_error(r, 400, "BadParameter", NULL, "Property 'validityMonths' must be 1 to 1200.");
            return;
        }
        spec.validity_months = (int)n;
    }
    if (given(j = cf_json_get(p, "keySize"))) {
        if (!cf_json_int(j, &n) || (n != 2048 && n != 3072 && n != 4096)) {
            api_error(r, 400, "BadParameter", NULL, "Property 'keySize' must be 2048, 3072 or 4096.");
            return;
        }
        spec.key_size = (int)n;
    }
    e = cf_ca_create(svc_of(r), &spec, &ca, why, sizeof(why));
    if (e == CF_EEXISTS)
        api_error(r, 409, "Conflict", NULL,
                  "This server has a certificate authority already; it cannot be replaced.");
    else if (e == CF_EBADPARAM)
        api_error(r, 400, "BadParameter", NULL, "%s", why[0] ? why : "The request is invalid.");
    else if (e)
        api_error_err(r, e);
    else
        reply_ca(r, &ca, 201);
    cf_ca_info_release(&ca);
}

void api_ca_get(struct api_req *r)
{
    struct cf_ca_info ca;
    cf_err e = cf_ca_get(svc_of(r), &ca);

    if (e == CF_ENOTFOUND)
        api_error(r, 404, "CertificateAuthorityNotFound", NULL,
                  "This server has no certificate authority: create it with `coffer ca create`.");
    else if (e)
        api_error_err(r, e);
    else
        reply_ca(r, &ca, 200);
    cf_ca_info_release(&ca);
}

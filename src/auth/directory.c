/* directory.c - the Graph-shaped directory (auth.h "directory"): applications and their
 * service principals, password and key credentials, groups and members.
 *
 * Map:
 *   helpers        tenant resolution, id and name checks, generation bump
 *   app_find_t / app_fill_t   locate an application by any of its ids and load it (service
 *                  principal, credentials) inside one store transaction
 *   applications   create, get, list, rename, delete
 *   credentials    password add/remove, key credentials set
 *   groups         create, get, list, delete, members add/remove/list, memberOf
 *
 * Every change runs as one cf_store_write job; slow work (PBKDF2, certificate parsing) is done
 * before it, never on the writer thread. Changes that must revoke tokens bump the principal's
 * generation inside the same transaction, then drop its cached state (cf_auth_principal_changed)
 * whatever the outcome; membership changes only drop the cached state (auth.h). */
#include "base/cf.h"
#include "auth/auth_int.h"

#include "base/codec.h"
#include "base/secret.h"
#include "store/store_auth.h"

#define YEAR_S (365 * 86400)

/* ---------------------------------------------------------------- helpers */

static bool copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return false;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

static void lower_copy(char out[37], const char *in)
{
    for (size_t i = 0; i < 36; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[36] = '\0';
}

/* A display name: 1..CF_AUTH_NAME_MAX bytes, no control characters. */
static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > CF_AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static const char *tenant_of(struct cf_auth *a, const char *tenant_id)
{
    return tenant_id ? cf_auth__resolve_tenant(a, cf_str_from(tenant_id)) : NULL;
}

/* A lookup id normalised: GUIDs lower-cased; an appId that is no GUID (ids made elsewhere)
 * kept as given when it fits. */
static bool id_norm(enum cf_auth_id_kind kind, const char *id, char out[64])
{
    if (!id)
        return false;
    if (cf_auth__uuid_ok(id)) {
        lower_copy(out, id);
        return true;
    }
    return kind == CF_AUTH_ID_CLIENT && strlen(id) > 0 && strlen(id) <= AUTH_CLIENT_MAX &&
           copy_str(out, 64, id);
}

cf_err cf_auth__bump_generation(struct cf_store_txn *t, const char *tid, const char *appid)
{
    struct cf_rec_principal rec;
    cf_err e = cf_store_principal_get(t, tid, appid, &rec);

    if (!e) {
        rec.generation++;
        e = cf_store_principal_put(t, &rec);
    }
    cf_wipe(&rec, sizeof(rec));
    return e;
}

/* ---------------------------------------------------------------- loading */

static cf_err app_find_t(struct cf_store_txn *t, const char *tid, enum cf_auth_id_kind kind,
                         const char *id, struct cf_rec_app *out)
{
    struct cf_rec_principal p;
    cf_err e;

    switch (kind) {
    case CF_AUTH_ID_APP_OBJECT:
        return cf_store_app_get(t, tid, id, out);
    case CF_AUTH_ID_CLIENT:
        return cf_store_app_get_by_client(t, tid, id, out);
    case CF_AUTH_ID_SP_OBJECT:
        e = cf_store_principal_get_by_oid(t, tid, id, &p);
        if (!e)
            e = cf_store_app_get_by_client(t, tid, p.client_id, out);
        cf_wipe(&p, sizeof(p));
        return e;
    }
    return CF_EINVAL;
}

static cf_err cred_fill(const struct cf_rec_cred *c, void *arg)
{
    struct cf_auth_app *out = arg;
    struct cf_auth_cred *d;

    if (out->ncreds == CF_AUTH_MAX_CREDS)
        return CF_OK; /* cannot happen through this module; shown partially if it does */
    d = &out->creds[out->ncreds++];
    memset(d, 0, sizeof(*d));
    copy_str(d->key_id, sizeof(d->key_id), c->key_id);
    d->is_key = c->kind == CF_CRED_KEY;
    copy_str(d->display_name, sizeof(d->display_name), c->display_name);
    snprintf(d->hint, sizeof(d->hint), "%.3s", c->hint);
    copy_str(d->thumbprint, sizeof(d->thumbprint), c->thumb_sha1);
    d->start = c->start;
    d->end = c->end;
    return CF_OK;
}

/* Fills out from the application record: its service principal and credentials. */
static cf_err app_fill_t(struct cf_store_txn *t, const struct cf_rec_app *app,
                         struct cf_auth_app *out)
{
    struct cf_rec_principal p;
    cf_err e;

    memset(out, 0, sizeof(*out));
    memcpy(out->app_object_id, app->object_id, sizeof(out->app_object_id));
    memcpy(out->tenant_id, app->tenant_id, sizeof(out->tenant_id));
    memcpy(out->client_id, app->client_id, sizeof(out->client_id));
    memcpy(out->display_name, app->display_name, sizeof(out->display_name));
    out->created = app->created;
    e = cf_store_principal_get(t, app->tenant_id, app->client_id, &p);
    if (e == CF_OK) {
        memcpy(out->sp_object_id, p.object_id, sizeof(out->sp_object_id));
        out->enabled = p.enabled;
    } else if (e == CF_ENOTFOUND) {
        e = CF_OK; /* an application without a principal: shown, never authenticates */
    }
    cf_wipe(&p, sizeof(p));
    if (!e)
        e = cf_store_cred_list(t, app->tenant_id, app->client_id, cred_fill, out);
    return e;
}

/* ---------------------------------------------------------------- applications */

struct app_get_arg {
    const char *tid;
    enum cf_auth_id_kind kind;
    const char *id;
    struct cf_auth_app *out;
};

static cf_err app_get_fn(struct cf_store_txn *t, void *arg)
{
    struct app_get_arg *g = arg;
    struct cf_rec_app app;
    cf_err e = app_find_t(t, g->tid, g->kind, g->id, &app);
    if (!e)
        e = app_fill_t(t, &app, g->out);
    return e;
}

cf_err cf_auth_app_get(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                       const char *id, struct cf_auth_app *out)
{
    const char *tid = tenant_of(a, tenant_id);
    char nid[64];
    struct app_get_arg g = {tid, kind, nid, out};

    if (!tid)
        return CF_ENOTFOUND;
    if (!id_norm(kind, id, nid))
        return CF_ENOTFOUND;
    return cf_store_read(a->store, app_get_fn, &g);
}

struct app_create_arg {
    struct cf_rec_app *app;
    struct cf_rec_principal *sp;
};

static cf_err app_create_fn(struct cf_store_txn *t, void *arg)
{
    struct app_create_arg *c = arg;
    cf_err e = cf_store_app_insert(t, c->app);
    if (!e)
        e = cf_store_principal_put(t, c->sp);
    return e;
}

cf_err cf_auth_app_create(struct cf_auth *a, const char *tenant_id, const char *display_name,
                          struct cf_auth_app *out)
{
    const char *tid = tenant_of(a, tenant_id);
    struct cf_rec_app app;
    struct cf_rec_principal sp;
    struct app_create_arg c = {&app, &sp};
    cf_err e;

    if (!tid)
        return CF_ENOTFOUND;
    if (!name_ok(display_name) || !out)
        return CF_EBADPARAM;
    memset(&app, 0, sizeof(app));
    memset(&sp, 0, sizeof(sp));
    e = cf_uuid4(app.object_id);
    if (!e)
        e = cf_uuid4(app.client_id);
    if (!e)
        e = cf_uuid4(sp.object_id);
    if (e)
        return e;
    copy_str(app.tenant_id, sizeof(app.tenant_id), tid);
    copy_str(app.display_name, sizeof(app.display_name), display_name);
    app.created = cf_clock_s(a->clock);
    memcpy(sp.tenant_id, app.tenant_id, sizeof(sp.tenant_id));
    memcpy(sp.client_id, app.client_id, sizeof(sp.client_id));
    memcpy(sp.display_name, app.display_name, sizeof(sp.display_name));
    sp.enabled = true;
    sp.generation = 1;
    sp.created = app.created;
    e = cf_store_write(a->store, app_create_fn, &c);
    if (e)
        return e;
    memset(out, 0, sizeof(*out));
    memcpy(out->app_object_id, app.object_id, sizeof(out->app_object_id));
    memcpy(out->sp_object_id, sp.object_id, sizeof(out->sp_object_id));
    memcpy(out->tenant_id, app.tenant_id, sizeof(out->tenant_id));
    memcpy(out->client_id, app.client_id, sizeof(out->client_id));
    memcpy(out->display_name, app.display_name, sizeof(out->display_name));
    out->enabled = true;
    out->created = app.created;
    return CF_OK;
}

struct app_list_arg {
    const char *name;
    const char *client_id;
    cf_auth_app_cb cb;
    void *arg;
    struct cf_store_txn *t;
    struct cf_auth_app *buf; /* ~8 KB: on the heap */
};

static cf_err app_list_each(const struct cf_rec_app *app, void *arg)
{
    struct app_list_arg *l = arg;
    cf_err e;

    if (l->name && strcasecmp(l->name, app->display_name) != 0)
        return CF_OK;
    if (l->client_id && strcasecmp(l->client_id, app->client_id) != 0)
        return CF_OK;
    e = app_fill_t(l->t, app, l->buf);
    return e ? e : l->cb(l->buf, l->arg);
}

static cf_err app_list_fn(struct cf_store_txn *t, void *arg)
{
    struct app_list_arg *l = arg;
    l->t = t;
    return cf_store_app_list(t, l->buf->tenant_id, app_list_each, l);
}

cf_err cf_auth_app_list(struct cf_auth *a, const char *tenant_id, const char *name,
                        const char *client_id, cf_auth_app_cb cb, void *arg)
{
    const char *tid = tenant_of(a, tenant_id);
    struct app_list_arg l = {name, client_id, cb, arg, NULL, NULL};
    cf_err e;

    if (!tid)
        return CF_ENOTFOUND;
    l.buf = calloc(1, sizeof(*l.buf));
    if (!l.buf)
        return CF_ENOMEM;
    copy_str(l.buf->tenant_id, sizeof(l.buf->tenant_id), tid);
    e = cf_store_read(a->store, app_list_fn, &l);
    free(l.buf);
    return e;
}

/* One application change in a write transaction: find the app, then act. */
struct app_change_arg {
    const char *tid;
    enum cf_auth_id_kind kind;
    const char *id;
    cf_err (*act)(struct cf_store_txn *t, const struct cf_rec_app *app, void *arg);
    void *arg;
    char client_id[64]; /* out: the app's client id (for invalidation) */
};

static cf_err app_change_fn(struct cf_store_txn *t, void *arg)
{
    struct app_change_arg *c = arg;
    struct cf_rec_app app;
    cf_err e = app_find_t(t, c->tid, c->kind, c->id, &app);

    if (e)
        return e;
    memcpy(c->client_id, app.client_id, sizeof(c->client_id));
    return c->act(t, &app, c->arg);
}

static cf_err app_change(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                         const char *id,
                         cf_err (*act)(struct cf_store_txn *, const struct cf_rec_app *, void *),
                         void *arg, bool invalidate)
{
    char nid[64];
    struct app_change_arg c = {tenant_of(a, tenant_id), kind, nid, act, arg, ""};
    cf_err e;

    if (!c.tid || !id_norm(kind, id, nid))
        return CF_ENOTFOUND;
    e = cf_store_write(a->store, app_change_fn, &c);
    /* even on failure: the outcome of a failed commit is uncertain, and this is cheap */
    if (invalidate && c.client_id[0])
        cf_auth_principal_changed(a, c.tid, c.client_id);
    return e;
}

static cf_err rename_act(struct cf_store_txn *t, const struct cf_rec_app *app, void *arg)
{
    struct cf_rec_principal p;
    cf_err e = cf_store_app_rename(t, app->tenant_id, app->object_id, arg);

    if (e)
        return e;
    e = cf_store_principal_get(t, app->tenant_id, app->client_id, &p);
    if (!e) {
        copy_str(p.display_name, sizeof(p.display_name), arg);
        e = cf_store_principal_put(t, &p);
    } else if (e == CF_ENOTFOUND) {
        e = CF_OK;
    }
    cf_wipe(&p, sizeof(p));
    return e;
}

cf_err cf_auth_app_rename(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                          const char *id, const char *display_name)
{
    if (!name_ok(display_name))
        return CF_EBADPARAM;
    return app_change(a, tenant_id, kind, id, rename_act, (void *)(uintptr_t)display_name,
                      false);
}

static cf_err delete_act(struct cf_store_txn *t, const struct cf_rec_app *app, void *arg)
{
    struct cf_rec_principal p;
    cf_err e;

    (void)arg;
    e = cf_store_principal_get(t, app->tenant_id, app->client_id, &p);
    if (e == CF_OK)
        e = cf_store_dir_member_purge(t, p.object_id);
    if (e == CF_OK)
        e = cf_store_principal_delete(t, app->tenant_id, app->client_id);
    if (e == CF_ENOTFOUND)
        e = CF_OK;
    cf_wipe(&p, sizeof(p));
    if (!e)
        e = cf_store_cred_delete_all(t, app->tenant_id, app->client_id, -1, NULL);
    if (!e)
        e = cf_store_app_delete(t, app->tenant_id, app->object_id);
    return e;
}

cf_err cf_auth_app_delete(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                          const char *id)
{
    return app_change(a, tenant_id, kind, id, delete_act, NULL, true);
}

cf_err cf_auth_principal_oid(struct cf_auth *a, const char *tenant_id, const char *client_id,
                             char out[37])
{
    struct cf_rec_principal p;
    const char *tid = tenant_of(a, tenant_id);
    cf_err e;

    if (!tid || !client_id || strlen(client_id) > AUTH_CLIENT_MAX || !out)
        return CF_ENOTFOUND;
    e = cf_auth__principal_get(a, tid, client_id, &p);
    if (!e)
        memcpy(out, p.object_id, 37);
    cf_wipe(&p, sizeof(p));
    return e;
}

/* ---------------------------------------------------------------- credentials */

struct count_arg {
    size_t n;
    int kind;           /* -1: any */
    const char *key_id; /* when set: *found tells whether a credential of kind has it */
    bool found;
};

static cf_err count_cb(const struct cf_rec_cred *c, void *arg)
{
    struct count_arg *n = arg;
    n->n++;
    if (n->key_id && strcmp(c->key_id, n->key_id) == 0 && (n->kind < 0 || c->kind == n->kind))
        n->found = true;
    return CF_OK;
}

struct pw_add_arg {
    struct cf_rec_cred *cred;
};

static cf_err pw_add_act(struct cf_store_txn *t, const struct cf_rec_app *app, void *arg)
{
    struct pw_add_arg *p = arg;
    struct count_arg n = {0, -1, NULL, false};
    cf_err e = cf_store_cred_list(t, app->tenant_id, app->client_id, count_cb, &n);

    if (e)
        return e;
    if (n.n >= CF_AUTH_MAX_CREDS)
        return CF_ETOOBIG;
    memcpy(p->cred->tenant_id, app->tenant_id, sizeof(p->cred->tenant_id));
    memcpy(p->cred->client_id, app->client_id, sizeof(p->cred->client_id));
    return cf_store_cred_insert(t, p->cred);
}

cf_err cf_auth_password_add(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                            const char *id, const char *display_name, int64_t end,
                            struct cf_auth_cred *out,
                            char secret_out[CF_AUTH_SECRET_TEXT_LEN + 1])
{
    struct cf_rec_cred cred;
    struct pw_add_arg p = {&cred};
    char secret[64];
    int64_t now = cf_clock_s(a->clock);
    cf_err e;

    memset(&cred, 0, sizeof(cred));
    if (!out || !secret_out)
        return CF_EINVAL;
    if (display_name && (strlen(display_name) > CF_AUTH_NAME_MAX ||
                         (display_name[0] && !name_ok(display_name))))
        return CF_EBADPARAM;
    if (end == 0)
        end = now + YEAR_S;
    if (end <= now || end > CF_AUTH_NEVER)
        return CF_EBADPARAM;
    /* the slow hash before the write transaction, never on the writer thread */
    e = cf_auth__secret_prepare(NULL, secret, sizeof(secret), cred.secret_hash);
    if (!e)
        e = cf_uuid4(cred.key_id);
    if (e)
        goto wipe;
    cred.kind = CF_CRED_PASSWORD;
    copy_str(cred.display_name, sizeof(cred.display_name), display_name ? display_name : "");
    snprintf(cred.hint, sizeof(cred.hint), "%.3s", secret);
    cred.start = cred.created = now;
    cred.end = end;
    e = app_change(a, tenant_id, kind, id, pw_add_act, &p, false);
    if (e)
        goto wipe;
    memset(out, 0, sizeof(*out));
    memcpy(out->key_id, cred.key_id, sizeof(out->key_id));
    memcpy(out->display_name, cred.display_name, sizeof(out->display_name));
    memcpy(out->hint, cred.hint, sizeof(out->hint) - 1);
    out->start = cred.start;
    out->end = cred.end;
    memcpy(secret_out, secret, CF_AUTH_SECRET_TEXT_LEN);
    secret_out[CF_AUTH_SECRET_TEXT_LEN] = '\0';
wipe:
    cf_wipe(secret, sizeof(secret));
    cf_wipe(&cred, sizeof(cred));
    return e;
}

static cf_err pw_remove_act(struct cf_store_txn *t, const struct cf_rec_app *app, void *arg)
{
    struct count_arg n = {0, CF_CRED_PASSWORD, arg, false};
    cf_err e = cf_store_cred_list(t, app->tenant_id, app->client_id, count_cb, &n);

    if (e)
        return e;
    if (!n.found)
        return CF_ENOTFOUND;
    e = cf_store_cred_delete(t, app->tenant_id, app->client_id, arg);
    if (!e)
        e = cf_auth__bump_generation(t, app->tenant_id, app->client_id);
    return e == CF_ENOTFOUND ? CF_OK : e; /* no principal: nothing to revoke */
}

cf_err cf_auth_password_remove(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                               const char *id, const char *key_id)
{
    char kid[37];

    if (!cf_auth__uuid_ok(key_id))
        return CF_ENOTFOUND;
    lower_copy(kid, key_id);
    return app_change(a, tenant_id, kind, id, pw_remove_act, kid, true);
}

/* A key credential being set: parsed before the transaction, or kept from the store. */
struct key_slot {
    struct cf_rec_cred rec;
    unsigned char *der; /* owned copy for kept keys */
    bool keep;
    bool kept_found;
};

struct keys_set_arg {
    struct key_slot *slots;
    size_t n;
    int64_t now;
    bool removed; /* out: an existing key went away */
};

static cf_err keep_cb(const struct cf_rec_cred *c, void *arg)
{
    struct keys_set_arg *k = arg;
    bool kept = false;

    if (c->kind != CF_CRED_KEY)
        return CF_OK;
    for (size_t i = 0; i < k->n; i++) {
        struct key_slot *s = &k->slots[i];
        if (!s->keep || s->kept_found || strcmp(s->rec.key_id, c->key_id) != 0)
            continue;
        if (!c->cert || c->cert_len == 0)
            return CF_ECORRUPT;
        s->der = malloc(c->cert_len);
        if (!s->der)
            return CF_ENOMEM;
        memcpy(s->der, c->cert, c->cert_len);
        s->rec.cert = s->der;
        s->rec.cert_len = c->cert_len;
        memcpy(s->rec.thumb_sha1, c->thumb_sha1, sizeof(s->rec.thumb_sha1));
        memcpy(s->rec.thumb_sha256, c->thumb_sha256, sizeof(s->rec.thumb_sha256));
        if (!s->rec.display_name[0])
            memcpy(s->rec.display_name, c->display_name, sizeof(s->rec.display_name));
        s->rec.start = c->start;
        s->rec.end = c->end;
        s->rec.created = c->created;
        s->kept_found = true;
        kept = true;
        break;
    }
    if (!kept)
        k->removed = true;
    return CF_OK;
}

static cf_err keys_set_act(struct cf_store_txn *t, const struct cf_rec_app *app, void *arg)
{
    struct keys_set_arg *k = arg;
    struct count_arg n = {0, CF_CRED_PASSWORD, NULL, false};
    size_t pw = 0;
    cf_err e;

    k->removed = false;
    for (size_t i = 0; i < k->n; i++) {
        free(k->slots[i].der);
        k->slots[i].der = NULL;
        k->slots[i].kept_found = false;
    }
    e = cf_store_cred_list(t, app->tenant_id, app->client_id, keep_cb, k);
    if (e)
        return e;
    for (size_t i = 0; i < k->n; i++)
        if (k->slots[i].keep && !k->slots[i].kept_found)
            return CF_EBADPARAM;
    e = cf_store_cred_delete_all(t, app->tenant_id, app->client_id, CF_CRED_KEY, NULL);
    if (!e)
        e = cf_store_cred_list(t, app->tenant_id, app->client_id, count_cb, &n);
    if (e)
        return e;
    pw = n.n;
    if (pw + k->n > CF_AUTH_MAX_CREDS)
        return CF_ETOOBIG;
    for (size_t i = 0; i < k->n && !e; i++) {
        struct cf_rec_cred *r = &k->slots[i].rec;
        memcpy(r->tenant_id, app->tenant_id, sizeof(r->tenant_id));
        memcpy(r->client_id, app->client_id, sizeof(r->client_id));
        e = cf_store_cred_insert(t, r);
    }
    if (!e && k->removed) {
        e = cf_auth__bump_generation(t, app->tenant_id, app->client_id);
        if (e == CF_ENOTFOUND)
            e = CF_OK;
    }
    return e;
}

static void hex_upper(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

cf_err cf_auth_keys_set(struct cf_auth *a, const char *tenant_id, enum cf_auth_id_kind kind,
                        const char *id, const struct cf_auth_key_in *keys, size_t n)
{
    struct keys_set_arg k = {NULL, n, cf_clock_s(a->clock), false};
    cf_err e = CF_OK;

    if (n > CF_AUTH_MAX_CREDS)
        return CF_ETOOBIG;
    if (n && !keys)
        return CF_EINVAL;
    k.slots = calloc(n ? n : 1, sizeof(*k.slots));
    if (!k.slots)
        return CF_ENOMEM;
    for (size_t i = 0; i < n && !e; i++) {
        struct key_slot *s = &k.slots[i];
        const char *dn = keys[i].display_name ? keys[i].display_name : "";
        struct cf_x509_cred xc;

        if (strlen(dn) > CF_AUTH_NAME_MAX || (dn[0] && !name_ok(dn))) {
            e = CF_EBADPARAM;
            break;
        }
        copy_str(s->rec.display_name, sizeof(s->rec.display_name), dn);
        s->rec.kind = CF_CRED_KEY;
        if (keys[i].key_id && !cf_auth__uuid_ok(keys[i].key_id)) {
            e = CF_EBADPARAM;
            break;
        }
        if (!keys[i].der) {
            if (!keys[i].key_id) {
                e = CF_EBADPARAM;
                break;
            }
            lower_copy(s->rec.key_id, keys[i].key_id);
            s->keep = true;
            continue;
        }
        if (keys[i].key_id)
            lower_copy(s->rec.key_id, keys[i].key_id);
        else
            e = cf_uuid4(s->rec.key_id);
        if (e)
            break;
        if (cf_x509_cred_parse(keys[i].der, keys[i].der_len, &xc, NULL) != CF_OK) {
            e = CF_EBADPARAM;
            break;
        }
        hex_upper(s->rec.thumb_sha1, xc.sha1, sizeof(xc.sha1));
        hex_upper(s->rec.thumb_sha256, xc.sha256, sizeof(xc.sha256));
        s->rec.cert = keys[i].der;
        s->rec.cert_len = keys[i].der_len;
        s->rec.start = xc.not_before;
        s->rec.end = xc.not_after;
        s->rec.created = k.now;
    }
    /* one key id, one key; one certificate, one key credential */
    for (size_t i = 0; i < n && !e; i++)
        for (size_t j = i + 1; j < n && !e; j++)
            if (strcmp(k.slots[i].rec.key_id, k.slots[j].rec.key_id) == 0 ||
                (!k.slots[i].keep && !k.slots[j].keep &&
                 strcmp(k.slots[i].rec.thumb_sha1, k.slots[j].rec.thumb_sha1) == 0))
                e = CF_EBADPARAM;
    if (!e)
        e = app_change(a, tenant_id, kind, id, keys_set_act, &k, true);
    for (size_t i = 0; i < n; i++)
        free(k.slots[i].der);
    free(k.slots);
    return e;
}

/* ---------------------------------------------------------------- groups */

static void group_out(const struct cf_rec_dir_group *g, struct cf_auth_group *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->object_id, g->object_id, sizeof(out->object_id));
    memcpy(out->display_name, g->display_name, sizeof(out->display_name));
    memcpy(out->mail_nickname, g->mail_nickname, sizeof(out->mail_nickname));
    memcpy(out->description, g->description, sizeof(out->description));
    out->created = g->created;
}

static cf_err group_insert_fn(struct cf_store_txn *t, void *arg)
{
    return cf_store_dir_group_insert(t, arg);
}

cf_err cf_auth_group_create(struct cf_auth *a, const char *tenant_id, const char *display_name,
                            const char *mail_nickname, const char *description,
                            struct cf_auth_group *out)
{
    const char *tid = tenant_of(a, tenant_id);
    struct cf_rec_dir_group *g;
    cf_err e;

    if (!tid)
        return CF_ENOTFOUND;
    if (!name_ok(display_name) || !out)
        return CF_EBADPARAM;
    g = calloc(1, sizeof(*g));
    if (!g)
        return CF_ENOMEM;
    e = cf_uuid4(g->object_id);
    if (e)
        goto free;
    copy_str(g->tenant_id, sizeof(g->tenant_id), tid);
    copy_str(g->display_name, sizeof(g->display_name), display_name);
    if (!copy_str(g->mail_nickname, sizeof(g->mail_nickname),
                  mail_nickname ? mail_nickname : "") ||
        !copy_str(g->description, sizeof(g->description), description ? description : "")) {
        e = CF_EBADPARAM;
        goto free;
    }
    g->created = cf_clock_s(a->clock);
    e = cf_store_write(a->store, group_insert_fn, g);
    if (!e)
        group_out(g, out);
free:
    free(g);
    return e;
}

struct group_get_arg {
    const char *tid;
    const char *id;
    struct cf_rec_dir_group g;
};

static cf_err group_get_fn(struct cf_store_txn *t, void *arg)
{
    struct group_get_arg *g = arg;
    return cf_store_dir_group_get(t, g->tid, g->id, &g->g);
}

cf_err cf_auth_group_get(struct cf_auth *a, const char *tenant_id, const char *group_id,
                         struct cf_auth_group *out)
{
    struct group_get_arg *g;
    char id[37];
    cf_err e;

    if (!tenant_of(a, tenant_id) || !cf_auth__uuid_ok(group_id))
        return CF_ENOTFOUND;
    lower_copy(id, group_id);
    g = calloc(1, sizeof(*g));
    if (!g)
        return CF_ENOMEM;
    g->tid = tenant_of(a, tenant_id);
    g->id = id;
    e = cf_store_read(a->store, group_get_fn, g);
    if (!e)
        group_out(&g->g, out);
    free(g);
    return e;
}

struct group_list_arg {
    const char *tid;
    const char *name;
    cf_auth_group_cb cb;
    void *arg;
    struct cf_auth_group g;
};

static cf_err group_list_each(const struct cf_rec_dir_group *g, void *arg)
{
    struct group_list_arg *l = arg;
    if (l->name && strcasecmp(l->name, g->display_name) != 0)
        return CF_OK;
    group_out(g, &l->g);
    return l->cb(&l->g, l->arg);
}

static cf_err group_list_fn(struct cf_store_txn *t, void *arg)
{
    struct group_list_arg *l = arg;
    return cf_store_dir_group_list(t, l->tid, group_list_each, l);
}

cf_err cf_auth_group_list(struct cf_auth *a, const char *tenant_id, const char *name,
                          cf_auth_group_cb cb, void *arg)
{
    struct group_list_arg *l;
    cf_err e;

    if (!tenant_of(a, tenant_id))
        return CF_ENOTFOUND;
    l = calloc(1, sizeof(*l));
    if (!l)
        return CF_ENOMEM;
    l->tid = tenant_of(a, tenant_id);
    l->name = name;
    l->cb = cb;
    l->arg = arg;
    e = cf_store_read(a->store, group_list_fn, l);
    free(l);
    return e;
}

struct group_del_arg {
    const char *tid;
    const char *id;
};

static cf_err group_del_fn(struct cf_store_txn *t, void *arg)
{
    struct group_del_arg *d = arg;
    return cf_store_dir_group_delete(t, d->tid, d->id);
}

cf_err cf_auth_group_delete(struct cf_auth *a, const char *tenant_id, const char *group_id)
{
    char id[37];
    struct group_del_arg d = {tenant_of(a, tenant_id), id};
    cf_err e;

    if (!d.tid || !cf_auth__uuid_ok(group_id))
        return CF_ENOTFOUND;
    lower_copy(id, group_id);
    e = cf_store_write(a->store, group_del_fn, &d);
    /* Its members may be many: drop every cached principal state (rare operation). */
    cf_auth__pstate_invalidate_all(a);
    return e;
}

struct member_arg {
    const char *tid;
    const char *group;
    const char *member;
    bool add;
    char member_client[64]; /* out: the member's client id when it is a service principal */
    struct cf_rec_dir_group g; /* scratch */
};

static cf_err member_fn(struct cf_store_txn *t, void *arg)
{
    struct member_arg *m = arg;
    struct cf_rec_principal p;
    const char *type = NULL;
    cf_err e;

    m->member_client[0] = '\0';
    e = cf_store_dir_group_get(t, m->tid, m->group, &m->g);
    if (e)
        return e;
    e = cf_store_principal_get_by_oid(t, m->tid, m->member, &p);
    if (e == CF_OK) {
        type = "servicePrincipal";
        memcpy(m->member_client, p.client_id, sizeof(m->member_client));
    } else if (e == CF_ENOTFOUND && m->add) {
        if (strcmp(m->group, m->member) == 0)
            return CF_EBADPARAM;
        e = cf_store_dir_group_get(t, m->tid, m->member, &m->g);
        type = "group";
    } else if (e == CF_ENOTFOUND) {
        e = CF_OK; /* removing: the row is what matters */
    }
    cf_wipe(&p, sizeof(p));
    if (e)
        return e;
    if (m->add)
        return cf_store_dir_member_add(t, m->group, m->member, type);
    return cf_store_dir_member_remove(t, m->group, m->member);
}

static cf_err member_change(struct cf_auth *a, const char *tenant_id, const char *group_id,
                            const char *member_id, bool add)
{
    char g[37], mem[37];
    struct member_arg *m;
    cf_err e;

    if (!tenant_of(a, tenant_id) || !cf_auth__uuid_ok(group_id))
        return CF_ENOTFOUND;
    if (!cf_auth__uuid_ok(member_id))
        return add ? CF_EBADPARAM : CF_ENOTFOUND;
    lower_copy(g, group_id);
    lower_copy(mem, member_id);
    m = calloc(1, sizeof(*m));
    if (!m)
        return CF_ENOMEM;
    m->tid = tenant_of(a, tenant_id);
    m->group = g;
    m->member = mem;
    m->add = add;
    e = cf_store_write(a->store, member_fn, m);
    if (m->member_client[0])
        cf_auth_principal_changed(a, m->tid, m->member_client);
    free(m);
    return e;
}

cf_err cf_auth_group_member_add(struct cf_auth *a, const char *tenant_id, const char *group_id,
                                const char *member_id)
{
    return member_change(a, tenant_id, group_id, member_id, true);
}

cf_err cf_auth_group_member_remove(struct cf_auth *a, const char *tenant_id,
                                   const char *group_id, const char *member_id)
{
    return member_change(a, tenant_id, group_id, member_id, false);
}

struct members_arg {
    const char *tid;
    const char *group;
    cf_auth_member_cb cb;
    void *arg;
    struct cf_store_txn *t;
    struct cf_auth_app app;
    struct cf_auth_group grp;
    struct cf_rec_dir_group g;
};

static cf_err members_each(const char *group_id, const char *member_id, const char *member_type,
                           void *arg)
{
    struct members_arg *m = arg;
    struct cf_rec_principal p;
    struct cf_rec_app app;
    cf_err e;

    (void)group_id;
    if (strcmp(member_type, "group") == 0) {
        e = cf_store_dir_group_get(m->t, m->tid, member_id, &m->g);
        if (e)
            return e == CF_ENOTFOUND ? CF_OK : e;
        group_out(&m->g, &m->grp);
        return m->cb(NULL, &m->grp, m->arg);
    }
    e = cf_store_principal_get_by_oid(m->t, m->tid, member_id, &p);
    if (!e)
        e = cf_store_app_get_by_client(m->t, m->tid, p.client_id, &app);
    cf_wipe(&p, sizeof(p));
    if (!e)
        e = app_fill_t(m->t, &app, &m->app);
    if (e)
        return e == CF_ENOTFOUND ? CF_OK : e; /* a dangling row: not shown */
    return m->cb(&m->app, NULL, m->arg);
}

static cf_err members_fn(struct cf_store_txn *t, void *arg)
{
    struct members_arg *m = arg;
    cf_err e = cf_store_dir_group_get(t, m->tid, m->group, &m->g);

    m->t = t;
    if (!e)
        e = cf_store_dir_members(t, m->group, members_each, m);
    return e;
}

cf_err cf_auth_group_members(struct cf_auth *a, const char *tenant_id, const char *group_id,
                             cf_auth_member_cb cb, void *arg)
{
    char g[37];
    struct members_arg *m;
    cf_err e;

    if (!tenant_of(a, tenant_id) || !cf_auth__uuid_ok(group_id))
        return CF_ENOTFOUND;
    lower_copy(g, group_id);
    m = calloc(1, sizeof(*m));
    if (!m)
        return CF_ENOMEM;
    m->tid = tenant_of(a, tenant_id);
    m->group = g;
    m->cb = cb;
    m->arg = arg;
    e = cf_store_read(a->store, members_fn, m);
    free(m);
    return e;
}

struct member_of_arg {
    const char *tid;
    const char *member;
    cf_auth_group_cb cb;
    void *arg;
    struct cf_store_txn *t;
    struct cf_rec_dir_group g;
    struct cf_auth_group out;
};

static cf_err member_of_each(const char *group_id, const char *member_id, const char *type,
                             void *arg)
{
    struct member_of_arg *m = arg;
    cf_err e;

    (void)member_id;
    (void)type;
    e = cf_store_dir_group_get(m->t, m->tid, group_id, &m->g);
    if (e)
        return e == CF_ENOTFOUND ? CF_OK : e;
    group_out(&m->g, &m->out);
    return m->cb(&m->out, m->arg);
}

static cf_err member_of_fn(struct cf_store_txn *t, void *arg)
{
    struct member_of_arg *m = arg;
    struct cf_rec_principal p;
    cf_err e = cf_store_principal_get_by_oid(t, m->tid, m->member, &p);

    cf_wipe(&p, sizeof(p));
    if (e == CF_ENOTFOUND)
        e = cf_store_dir_group_get(t, m->tid, m->member, &m->g);
    if (e)
        return e;
    m->t = t;
    return cf_store_dir_member_of(t, m->member, member_of_each, m);
}

cf_err cf_auth_member_of(struct cf_auth *a, const char *tenant_id, const char *member_id,
                         cf_auth_group_cb cb, void *arg)
{
    char mem[37];
    struct member_of_arg *m;
    cf_err e;

    if (!tenant_of(a, tenant_id) || !cf_auth__uuid_ok(member_id))
        return CF_ENOTFOUND;
    lower_copy(mem, member_id);
    m = calloc(1, sizeof(*m));
    if (!m)
        return CF_ENOMEM;
    m->tid = tenant_of(a, tenant_id);
    m->member = mem;
    m->cb = cb;
    m->arg = arg;
    e = cf_store_read(a->store, member_of_fn, m);
    free(m);
    return e;
}

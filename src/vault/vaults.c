/* vaults.c - resource groups and vaults (the ARM resource, azure-kv-secrets.md §15): create or
 * update with the server-wide name rule, soft delete and recover, purge, listing, and the
 * periodic purge of everything whose scheduled purge date has passed.
 *
 * Each operation is one store transaction; the rules (name taken elsewhere, soft-deleted name,
 * retention fixed, purge protection irreversible) are checked inside the write fn, where the
 * single writer makes check-then-write atomic. Cache entries are dropped after the commit. */
#include "base/cf.h"
#include "base/log.h"

#include "vault/keys_int.h" /* HSM token references released by a vault purge */
#include "vault/vault_int.h"

#define SECONDS_PER_DAY 86400

static void lower_cstr(const char *in, char *out, size_t outsz)
{
    struct cf_str s = cf_str_from(in ? in : "");
    if (s.len >= outsz)
        s.len = outsz - 1;
    cf_str_lower(s, out);
}

/* ---------------- groups ---------------- */

void cf_group_release(struct cf_group *g)
{
    if (!g)
        return;
    free(g->tags_json);
    g->tags_json = NULL;
}

static void group_from_rec(struct cf_group *g, struct cf_rec_group *r)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->subscription, sizeof(g->subscription), "%s", r->subscription);
    snprintf(g->name, sizeof(g->name), "%s", r->name);
    snprintf(g->location, sizeof(g->location), "%s", r->location);
    g->created = r->created;
    g->tags_json = r->tags_json; /* moved */
    r->tags_json = NULL;
}

struct group_ctx {
    struct cf_vault_svc *svc;
    const struct cf_group *in;
    const char *sub;
    char name_lc[91];
    bool created;
    struct cf_rec_group rec;
    int64_t now;
};

static cf_err group_put_fn(struct cf_store_txn *t, void *arg)
{
    struct group_ctx *c = arg;
    struct cf_rec_group r;
    cf_err e;

    memset(&r, 0, sizeof(r));
    snprintf(r.subscription, sizeof(r.subscription), "%s", c->in->subscription);
    snprintf(r.name, sizeof(r.name), "%s", c->in->name);
    snprintf(r.location, sizeof(r.location), "%s", c->in->location);
    r.tags_json = c->in->tags_json; /* borrowed, never released here */
    r.created = c->now;
    e = cf_store_group_put(t, &r, &c->created);
    if (!e)
        e = cf_store_group_get(t, r.subscription, c->name_lc, &c->rec);
    return e;
}

cf_err cf_group_put(struct cf_vault_svc *svc, const struct cf_group *in, bool *created,
                    struct cf_group *out)
{
    struct group_ctx c;
    cf_err e;

    if (!in || !in->subscription[0])
        return CF_EINVAL;
    if (!cf_name_valid_group(cf_str_from(in->name)))
        return CF_EBADNAME;
    memset(&c, 0, sizeof(c));
    c.svc = svc;
    c.in = in;
    c.now = cf_vault_now(svc);
    lower_cstr(in->name, c.name_lc, sizeof(c.name_lc));
    e = cf_store_write(svc->store, group_put_fn, &c);
    if (e) {
        cf_rec_group_release(&c.rec);
        return e;
    }
    if (created)
        *created = c.created;
    group_from_rec(out, &c.rec);
    return CF_OK;
}

static cf_err group_get_fn(struct cf_store_txn *t, void *arg)
{
    struct group_ctx *c = arg;
    return cf_store_group_get(t, c->sub, c->name_lc, &c->rec);
}

cf_err cf_group_get(struct cf_vault_svc *svc, const char *sub, const char *name,
                    struct cf_group *out)
{
    struct group_ctx c;
    cf_err e;

    if (!sub || !name)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    c.sub = sub;
    lower_cstr(name, c.name_lc, sizeof(c.name_lc));
    e = cf_store_read(svc->store, group_get_fn, &c);
    if (e)
        return e;
    group_from_rec(out, &c.rec);
    return CF_OK;
}

struct group_list_ctx {
    const char *sub;
    cf_group_cb cb;
    void *arg;
};

static cf_err group_list_cb(const struct cf_rec_group *r, void *arg)
{
    struct group_list_ctx *c = arg;
    struct cf_group g;

    memset(&g, 0, sizeof(g));
    snprintf(g.subscription, sizeof(g.subscription), "%s", r->subscription);
    snprintf(g.name, sizeof(g.name), "%s", r->name);
    snprintf(g.location, sizeof(g.location), "%s", r->location);
    g.created = r->created;
    g.tags_json = r->tags_json; /* borrowed for the callback */
    return c->cb(&g, c->arg);
}

static cf_err group_list_fn(struct cf_store_txn *t, void *arg)
{
    struct group_list_ctx *c = arg;
    return cf_store_group_list(t, c->sub, group_list_cb, c);
}

cf_err cf_group_list(struct cf_vault_svc *svc, const char *sub, cf_group_cb cb, void *arg)
{
    struct group_list_ctx c = {sub, cb, arg};
    if (!sub || !cb)
        return CF_EINVAL;
    return cf_store_read(svc->store, group_list_fn, &c);
}

/* Collects (id, name) of the vaults a list walks, to change them after the walk. */
struct vault_ids {
    int64_t *ids;
    char (*names)[25];
    int *retention;
    size_t n, cap;
};

static cf_err collect_vault_cb(const struct cf_rec_vault *v, void *arg)
{
    struct vault_ids *l = arg;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        int64_t *ids = realloc(l->ids, cap * sizeof(*ids));
        if (ids)
            l->ids = ids;
        char(*names)[25] = realloc(l->names, cap * sizeof(*names));
        if (names)
            l->names = names;
        int *ret = realloc(l->retention, cap * sizeof(*ret));
        if (ret)
            l->retention = ret;
        if (!ids || !names || !ret)
            return CF_ENOMEM;
        l->cap = cap;
    }
    l->ids[l->n] = v->id;
    lower_cstr(v->name, l->names[l->n], sizeof(l->names[l->n]));
    l->retention[l->n] = v->retention_days;
    l->n++;
    return CF_OK;
}

static void vault_ids_release(struct vault_ids *l)
{
    free(l->ids);
    free(l->names);
    free(l->retention);
    memset(l, 0, sizeof(*l));
}

/* Soft-deletes the live vault `id` at `now`. */
static cf_err soft_delete_vault(struct cf_store_txn *t, int64_t id, int64_t now)
{
    struct cf_rec_vault r;
    cf_err e = cf_store_vault_get_by_id(t, id, &r);
    if (e)
        return e;
    r.deleted_date = now;
    r.scheduled_purge = now + (int64_t)r.retention_days * SECONDS_PER_DAY;
    r.updated = now;
    e = cf_store_vault_update(t, &r);
    cf_rec_vault_release(&r);
    return e;
}

struct group_del_ctx {
    const char *sub;
    char name_lc[91];
    int64_t now;
    struct vault_ids vaults;
};

static cf_err group_delete_fn(struct cf_store_txn *t, void *arg)
{
    struct group_del_ctx *c = arg;
    struct cf_rec_group g;
    cf_err e;

    e = cf_store_group_get(t, c->sub, c->name_lc, &g);
    if (e)
        return e;
    cf_rec_group_release(&g);
    c->vaults.n = 0; /* a retried fn starts over */
    e = cf_store_vault_list(t, false, c->sub, c->name_lc, collect_vault_cb, &c->vaults);
    for (size_t i = 0; !e && i < c->vaults.n; i++)
        e = soft_delete_vault(t, c->vaults.ids[i], c->now);
    if (!e)
        e = cf_store_group_delete(t, c->sub, c->name_lc);
    return e;
}

cf_err cf_group_delete(struct cf_vault_svc *svc, const char *sub, const char *name)
{
    struct group_del_ctx c;
    cf_err e;

    if (!sub || !name)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    c.sub = sub;
    c.now = cf_vault_now(svc);
    lower_cstr(name, c.name_lc, sizeof(c.name_lc));
    e = cf_store_write(svc->store, group_delete_fn, &c);
    if (!e) {
        for (size_t i = 0; i < c.vaults.n; i++)
            cf_vault_cache_invalidate(svc, c.vaults.names[i]);
    }
    vault_ids_release(&c.vaults);
    return e;
}

/* ---------------- vaults ---------------- */

void cf_vault_release(struct cf_vault *v)
{
    if (!v)
        return;
    free(v->tags_json);
    free(v->access_policies_json);
    free(v->network_acls_json);
    v->tags_json = v->access_policies_json = v->network_acls_json = NULL;
}

/* Fills v from r, borrowing r's strings (take: moving them). */
static void vault_from_rec(struct cf_vault *v, struct cf_rec_vault *r, bool take)
{
    memset(v, 0, sizeof(*v));
    v->id = r->id;
    snprintf(v->name, sizeof(v->name), "%s", r->name);
    snprintf(v->subscription, sizeof(v->subscription), "%s", r->subscription);
    snprintf(v->resource_group, sizeof(v->resource_group), "%s", r->resource_group);
    snprintf(v->location, sizeof(v->location), "%s", r->location);
    snprintf(v->tenant_id, sizeof(v->tenant_id), "%s", r->tenant_id);
    snprintf(v->sku, sizeof(v->sku), "%s", r->sku);
    v->retention_days = r->retention_days;
    v->soft_delete = r->soft_delete;
    v->purge_protection = r->purge_protection;
    v->rbac = r->rbac;
    v->for_deployment = r->for_deployment;
    v->for_disk_encryption = r->for_disk_encryption;
    v->for_template_deployment = r->for_template_deployment;
    snprintf(v->public_network_access, sizeof(v->public_network_access), "%s",
             r->public_network_access);
    v->tags_json = r->tags_json;
    v->access_policies_json = r->access_policies_json;
    v->network_acls_json = r->network_acls_json;
    v->created = r->created;
    v->updated = r->updated;
    v->deleted_date = r->deleted_date;
    v->scheduled_purge = r->scheduled_purge;
    if (take)
        r->tags_json = r->access_policies_json = r->network_acls_json = NULL;
}

struct vault_put_ctx {
    struct cf_vault_svc *svc;
    const struct cf_vault *in;
    enum cf_vault_put_mode mode;
    char name_lc[25], rg_lc[91];
    char sku[16], pna[16];
    int retention;
    int64_t now;
    bool created;
    struct cf_rec_vault out;
};

/* Copies the settable properties of the request into r (strings borrowed from in). */
static void apply_props(struct cf_rec_vault *r, const struct vault_put_ctx *c)
{
    const struct cf_vault *in = c->in;

    snprintf(r->subscription, sizeof(r->subscription), "%s", in->subscription);
    snprintf(r->resource_group, sizeof(r->resource_group), "%s", in->resource_group);
    snprintf(r->location, sizeof(r->location), "%s", in->location);
    snprintf(r->tenant_id, sizeof(r->tenant_id), "%s", in->tenant_id);
    snprintf(r->sku, sizeof(r->sku), "%s", c->sku);
    r->soft_delete = true; /* cannot be turned off (§15.3) */
    r->purge_protection = r->purge_protection || in->purge_protection;
    r->rbac = in->rbac;
    r->for_deployment = in->for_deployment;
    r->for_disk_encryption = in->for_disk_encryption;
    r->for_template_deployment = in->for_template_deployment;
    snprintf(r->public_network_access, sizeof(r->public_network_access), "%s", c->pna);
    r->tags_json = in->tags_json;
    r->access_policies_json = in->access_policies_json;
    r->network_acls_json = in->network_acls_json;
}

static cf_err ensure_group(struct cf_store_txn *t, const struct vault_put_ctx *c)
{
    struct cf_rec_group g;
    bool created;
    cf_err e = cf_store_group_get(t, c->in->subscription, c->rg_lc, &g);

    if (e == CF_OK) {
        cf_rec_group_release(&g);
        return CF_OK;
    }
    if (e != CF_ENOTFOUND)
        return e;
    memset(&g, 0, sizeof(g));
    snprintf(g.subscription, sizeof(g.subscription), "%s", c->in->subscription);
    snprintf(g.name, sizeof(g.name), "%s", c->in->resource_group);
    snprintf(g.location, sizeof(g.location), "%s", c->in->location);
    g.created = c->now;
    return cf_store_group_put(t, &g, &created);
}

static cf_err vault_create(struct cf_store_txn *t, struct vault_put_ctx *c)
{
    struct cf_rec_vault r;
    int64_t id = 0;
    cf_err e;

    memset(&r, 0, sizeof(r));
    cf_buf_init(&r.dek, 256);
    snprintf(r.name, sizeof(r.name), "%s", c->in->name);
    apply_props(&r, c);
    r.purge_protection = c->in->purge_protection;
    r.retention_days = c->retention;
    r.created = r.updated = c->now;
    /* the data key's AAD binds the vault id, known only after the insert */
    e = cf_store_vault_insert(t, &r, &id);
    if (!e) {
        r.id = id;
        e = cf_vault_dek_new(c->svc, id, &r.dek);
    }
    if (!e)
        e = cf_store_vault_update(t, &r);
    cf_buf_release(&r.dek); /* the other strings were borrowed */
    if (!e)
        c->created = true;
    return e;
}

static cf_err vault_put_fn(struct cf_store_txn *t, void *arg)
{
    struct vault_put_ctx *c = arg;
    struct cf_rec_vault cur;
    bool same_place;
    cf_err e;

    c->created = false;
    e = ensure_group(t, c);
    if (e)
        return e;
    e = cf_store_vault_get_by_name(t, c->name_lc, &cur);
    if (e == CF_ENOTFOUND) {
        if (c->mode == CF_VAULT_PUT_RECOVER)
            return CF_ENOTFOUND;
        e = vault_create(t, c);
        goto read_back;
    }
    if (e)
        return e;

    same_place = strcmp(cur.subscription, c->in->subscription) == 0;
    if (cur.deleted_date != 0) {
        if (c->mode == CF_VAULT_PUT_DEFAULT) {
            e = CF_EDELETED;
        } else if (!same_place) {
            e = CF_ENOTFOUND; /* nothing to recover in this subscription */
        } else {
            /* recover: original properties and contents, at the requested resource group */
            snprintf(cur.resource_group, sizeof(cur.resource_group), "%s", c->in->resource_group);
            cur.deleted_date = cur.scheduled_purge = 0;
            cur.updated = c->now;
            e = cf_store_vault_update(t, &cur);
        }
        cf_rec_vault_release(&cur);
        goto read_back;
    }

    {
        char cur_rg_lc[91];
        lower_cstr(cur.resource_group, cur_rg_lc, sizeof(cur_rg_lc));
        same_place = same_place && strcmp(cur_rg_lc, c->rg_lc) == 0;
    }
    if (!same_place) {
        e = CF_EEXISTS; /* VaultAlreadyExists: the name is global */
    } else if (c->mode == CF_VAULT_PUT_RECOVER) {
        e = CF_OK; /* already live: nothing to do (a retried recover) */
    } else if (c->in->retention_days != 0 && c->in->retention_days != cur.retention_days) {
        e = CF_EBADPARAM; /* softDeleteRetentionInDays is fixed after creation */
    } else if (cur.purge_protection && !c->in->purge_protection) {
        e = CF_EBADPARAM; /* enablePurgeProtection cannot go back to false */
    } else {
        /* update: the request replaces the properties; strings borrowed from in */
        char *tags = cur.tags_json, *pol = cur.access_policies_json, *acls = cur.network_acls_json;
        bool rbac = cur.rbac, pol_changed;
        apply_props(&cur, c);
        pol_changed = rbac != cur.rbac || strcmp(pol ? pol : "[]", cur.access_policies_json
                                                                       ? cur.access_policies_json
                                                                       : "[]") != 0;
        cur.updated = c->now;
        e = cf_store_vault_update(t, &cur);
        if (!e && pol_changed) /* policies or the permission model (§3.3) */
            e = cf_vault_emit(c->svc, t, "VaultAccessPolicyChanged", cur.id, cur.name, "Vault",
                              cur.name, "", 0, 0);
        cur.tags_json = tags;
        cur.access_policies_json = pol;
        cur.network_acls_json = acls;
    }
    cf_rec_vault_release(&cur);

read_back:
    if (!e)
        e = cf_store_vault_get_by_name(t, c->name_lc, &c->out);
    return e;
}

static bool sku_ok(const char *s)
{
    return !s || !*s || strcasecmp(s, "standard") == 0 || strcasecmp(s, "premium") == 0;
}

cf_err cf_vault_put(struct cf_vault_svc *svc, const struct cf_vault *in, enum cf_vault_put_mode m,
                    bool *created, struct cf_vault *out)
{
    struct vault_put_ctx c;
    cf_err e;

    if (!in || !in->subscription[0])
        return CF_EINVAL;
    if (!cf_name_valid_vault(cf_str_from(in->name)) ||
        !cf_name_valid_group(cf_str_from(in->resource_group)))
        return CF_EBADNAME;
    if (in->retention_days != 0 && (in->retention_days < 7 || in->retention_days > 90))
        return CF_EBADPARAM;
    if (!sku_ok(in->sku))
        return CF_EBADPARAM;
    memset(&c, 0, sizeof(c));
    if (!in->public_network_access[0] || strcasecmp(in->public_network_access, "enabled") == 0)
        snprintf(c.pna, sizeof(c.pna), "Enabled");
    else if (strcasecmp(in->public_network_access, "disabled") == 0)
        snprintf(c.pna, sizeof(c.pna), "Disabled");
    else
        return CF_EBADPARAM;
    lower_cstr(in->sku[0] ? in->sku : "standard", c.sku, sizeof(c.sku));
    c.svc = svc;
    c.in = in;
    c.mode = m;
    c.retention = in->retention_days ? in->retention_days : 90;
    c.now = cf_vault_now(svc);
    lower_cstr(in->name, c.name_lc, sizeof(c.name_lc));
    lower_cstr(in->resource_group, c.rg_lc, sizeof(c.rg_lc));
    e = cf_store_write(svc->store, vault_put_fn, &c);
    if (e) {
        cf_rec_vault_release(&c.out);
        return e;
    }
    /* settings (rbac, purge protection) or liveness changed: the cached ref is stale */
    cf_vault_cache_invalidate(svc, c.name_lc);
    if (created)
        *created = c.created;
    vault_from_rec(out, &c.out, true);
    cf_rec_vault_release(&c.out);
    return CF_OK;
}

struct vault_get_ctx {
    const char *sub, *rg;
    char name_lc[25];
    bool deleted;
    struct cf_rec_vault rec;
};

static cf_err vault_get_fn(struct cf_store_txn *t, void *arg)
{
    struct vault_get_ctx *c = arg;
    cf_err e = cf_store_vault_get_by_name(t, c->name_lc, &c->rec);

    if (e)
        return e;
    if ((c->rec.deleted_date != 0) != c->deleted ||
        (c->sub && strcmp(c->rec.subscription, c->sub) != 0) ||
        (c->rg && strcasecmp(c->rec.resource_group, c->rg) != 0)) {
        cf_rec_vault_release(&c->rec);
        return CF_ENOTFOUND;
    }
    return CF_OK;
}

static cf_err vault_get(struct cf_vault_svc *svc, const char *sub, const char *rg, const char *name,
                        bool deleted, struct cf_vault *out)
{
    struct vault_get_ctx c;
    cf_err e;

    if (!name)
        return CF_EINVAL;
    if (strlen(name) > CF_VAULT_NAME_MAX)
        return CF_ENOTFOUND;
    memset(&c, 0, sizeof(c));
    c.sub = sub;
    c.rg = rg;
    c.deleted = deleted;
    lower_cstr(name, c.name_lc, sizeof(c.name_lc));
    e = cf_store_read(svc->store, vault_get_fn, &c);
    if (e)
        return e;
    vault_from_rec(out, &c.rec, true);
    cf_rec_vault_release(&c.rec);
    return CF_OK;
}

cf_err cf_vault_get(struct cf_vault_svc *svc, const char *sub, const char *rg, const char *name,
                    struct cf_vault *out)
{
    if (!sub || !rg)
        return CF_EINVAL;
    return vault_get(svc, sub, rg, name, false, out);
}

cf_err cf_vault_get_deleted(struct cf_vault_svc *svc, const char *sub, const char *name,
                            struct cf_vault *out)
{
    return vault_get(svc, sub, NULL, name, true, out);
}

struct vault_list_ctx {
    bool deleted;
    const char *sub;
    char rg_lc[91];
    bool by_rg;
    cf_vault_cb cb;
    void *arg;
};

static cf_err vault_list_cb(const struct cf_rec_vault *r, void *arg)
{
    struct vault_list_ctx *c = arg;
    struct cf_rec_vault tmp = *r; /* shallow: strings stay the store's */
    struct cf_vault v;

    vault_from_rec(&v, &tmp, false);
    return c->cb(&v, c->arg);
}

static cf_err vault_list_fn(struct cf_store_txn *t, void *arg)
{
    struct vault_list_ctx *c = arg;
    return cf_store_vault_list(t, c->deleted, c->sub, c->by_rg ? c->rg_lc : NULL, vault_list_cb, c);
}

cf_err cf_vault_list(struct cf_vault_svc *svc, const char *sub, const char *rg, cf_vault_cb cb,
                     void *arg)
{
    struct vault_list_ctx c;

    if (!cb)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    c.sub = sub;
    c.by_rg = sub && rg;
    if (c.by_rg)
        lower_cstr(rg, c.rg_lc, sizeof(c.rg_lc));
    c.cb = cb;
    c.arg = arg;
    return cf_store_read(svc->store, vault_list_fn, &c);
}

cf_err cf_vault_list_deleted(struct cf_vault_svc *svc, const char *sub, cf_vault_cb cb, void *arg)
{
    struct vault_list_ctx c;

    if (!cb)
        return CF_EINVAL;
    memset(&c, 0, sizeof(c));
    c.deleted = true;
    c.sub = sub;
    c.cb = cb;
    c.arg = arg;
    return cf_store_read(svc->store, vault_list_fn, &c);
}

struct vault_del_ctx {
    struct vault_get_ctx get;
    struct cf_vault_svc *svc;
    int64_t now;
    bool purge;
    struct cf_key_hsm_gone gone; /* token objects to destroy after the purge commits */
};

static cf_err vault_delete_fn(struct cf_store_txn *t, void *arg)
{
    struct vault_del_ctx *c = arg;
    cf_err e = vault_get_fn(t, &c->get);

    if (e)
        return e;
    if (!c->purge) {
        c->get.rec.deleted_date = c->now;
        c->get.rec.scheduled_purge = c->now + (int64_t)c->get.rec.retention_days * SECONDS_PER_DAY;
        c->get.rec.updated = c->now;
        e = cf_store_vault_update(t, &c->get.rec);
    } else if (c->get.rec.purge_protection && c->now < c->get.rec.scheduled_purge) {
        e = CF_EPURGEPROTECT;
    } else {
        /* the keys' token references go with the rows, in this transaction */
        e = cf_key_hsm_release_vault(t, c->svc, c->get.rec.id, &c->gone);
        if (!e)
            e = cf_store_vault_delete(t, c->get.rec.id); /* cascades to secrets, keys... */
        if (e)
            c->gone.n = 0;
    }
    cf_rec_vault_release(&c->get.rec);
    return e;
}

static cf_err vault_delete(struct cf_vault_svc *svc, const char *sub, const char *rg,
                           const char *name, bool purge)
{
    struct vault_del_ctx c;
    cf_err e;

    if (!name)
        return CF_EINVAL;
    if (strlen(name) > CF_VAULT_NAME_MAX)
        return CF_ENOTFOUND;
    memset(&c, 0, sizeof(c));
    c.get.sub = sub;
    c.get.rg = rg;
    c.get.deleted = purge;
    c.purge = purge;
    c.svc = svc;
    c.now = cf_vault_now(svc);
    lower_cstr(name, c.get.name_lc, sizeof(c.get.name_lc));
    e = cf_store_write(svc->store, vault_delete_fn, &c);
    if (!e)
        cf_vault_cache_invalidate(svc, c.get.name_lc);
    if (!e)
        cf_key_hsm_destroy_gone(svc, &c.gone);
    else
        cf_key_hsm_gone_release(&c.gone);
    return e;
}

cf_err cf_vault_delete(struct cf_vault_svc *svc, const char *sub, const char *rg, const char *name)
{
    if (!sub || !rg)
        return CF_EINVAL;
    return vault_delete(svc, sub, rg, name, false);
}

cf_err cf_vault_purge(struct cf_vault_svc *svc, const char *sub, const char *name)
{
    return vault_delete(svc, sub, NULL, name, true);
}

/* ---------------- periodic purge ---------------- */

#define PURGE_BATCH 64

struct expired_ctx {
    struct cf_vault_svc *svc;
    struct cf_key_hsm_gone gone;
    int64_t now;
    int64_t ids[PURGE_BATCH];
    char names[PURGE_BATCH][25];
    size_t n;
    int secrets;
};

static cf_err expired_fn(struct cf_store_txn *t, void *arg)
{
    struct expired_ctx *c = arg;
    cf_err e;

    c->n = 0;
    e = cf_store_secret_purge_expired(t, c->now, 1000, &c->secrets);
    if (!e)
        e = cf_store_vault_expired(t, c->now, c->ids, c->names, PURGE_BATCH, &c->n);
    for (size_t i = 0; !e && i < c->n; i++) {
        e = cf_key_hsm_release_vault(t, c->svc, c->ids[i], &c->gone);
        if (!e)
            e = cf_store_vault_delete(t, c->ids[i]);
    }
    if (e)
        c->gone.n = 0;
    return e;
}

cf_err cf_vault_purge_expired(struct cf_vault_svc *svc)
{
    struct expired_ctx c;
    cf_err e;

    memset(&c, 0, sizeof(c));
    c.svc = svc;
    c.now = cf_vault_now(svc);
    /* bounded transactions, so a large backlog does not hold the writer for long */
    do {
        e = cf_store_write(svc->store, expired_fn, &c);
        if (!e && c.gone.n)
            cf_key_hsm_destroy_gone(svc, &c.gone); /* releases the list */
        for (size_t i = 0; !e && i < c.n; i++) {
            char lc[25];
            lower_cstr(c.names[i], lc, sizeof(lc));
            cf_vault_cache_invalidate(svc, lc);
            cf_info("vault: purged expired vault %s", c.names[i]);
        }
    } while (!e && (c.n == PURGE_BATCH || c.secrets == 1000));
    cf_key_hsm_gone_release(&c.gone);
    return e;
}

/* locks.c - management locks (azure-kv-security-ops.md §9): names, levels and scopes, create /
 * get / delete / list, and the check api/ runs before a vault or group write, delete or purge.
 *
 * Map: levels and names - scopes (build, ancestors) - record conversion - put/get/delete -
 * list (ancestors top-down, then the subtree) - cf_vault_lock_check / cf_vault_lock_level.
 *
 * Inheritance: a resource is covered by the locks on its own scope and on every scope above
 * it (its group, the subscription); the strongest level wins (ReadOnly > CanNotDelete). A
 * check reads at most three exact scopes (plus one subtree range for a group delete), each an
 * index lookup: locks are rare and checked only on management writes. */
#include "base/cf.h"

#include "store/store_locks.h"
#include "vault/vault_int.h"

_Static_assert(CF_LOCK_SCOPE_MAX == CF_STORE_LOCK_SCOPE_MAX, "a lock scope fits the store's");
_Static_assert(CF_LOCK_NAME_MAX == CF_STORE_LOCK_NAME_MAX, "one lock name limit");

/* ---------------- levels and names ---------------- */

const char *cf_lock_level_name(enum cf_lock_level l)
{
    switch (l) {
    case CF_LOCK_CAN_NOT_DELETE:
        return "CanNotDelete";
    case CF_LOCK_READ_ONLY:
        return "ReadOnly";
    case CF_LOCK_NONE:
        break;
    }
    return NULL;
}

bool cf_lock_level_parse(struct cf_str s, enum cf_lock_level *out)
{
    if (cf_str_eq_ci(s, CF_STR("CanNotDelete")))
        *out = CF_LOCK_CAN_NOT_DELETE;
    else if (cf_str_eq_ci(s, CF_STR("ReadOnly")))
        *out = CF_LOCK_READ_ONLY;
    else
        return false;
    return true;
}

bool cf_lock_name_valid(struct cf_str name)
{
    if (!name.p || name.len == 0 || name.len > CF_LOCK_NAME_MAX)
        return false;
    for (size_t i = 0; i < name.len; i++) {
        unsigned char c = (unsigned char)name.p[i];
        if (c < 0x20 || c == 0x7f || strchr("<>%&:\\?/", c))
            return false;
    }
    return true;
}

/* ---------------- scopes ---------------- */

cf_err cf_lock_scope(const char *sub, const char *rg, const char *vault,
                     char out[CF_LOCK_SCOPE_MAX])
{
    int n;

    if (!sub || !sub[0] || (vault && !rg))
        return CF_EINVAL;
    if (!rg)
        n = snprintf(out, CF_LOCK_SCOPE_MAX, "/subscriptions/%s", sub);
    else if (!vault)
        n = snprintf(out, CF_LOCK_SCOPE_MAX, "/subscriptions/%s/resourcegroups/%s", sub, rg);
    else
        n = snprintf(out, CF_LOCK_SCOPE_MAX,
                     "/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s",
                     sub, rg, vault);
    if (n < 0 || n >= CF_LOCK_SCOPE_MAX) {
        out[0] = '\0';
        return CF_EINVAL;
    }
    cf_str_lower((struct cf_str){out, (size_t)n}, out);
    return CF_OK;
}

/* The scopes at and above a normalised scope, top-down: "/subscriptions/s", then
 * ".../resourcegroups/g", then the vault. Cuts are made after the 2nd, 4th and 8th segment.
 * Returns how many (0 when scope is not a subscription, group or vault scope). */
static int ancestors(const char *scope, char out[3][CF_LOCK_SCOPE_MAX])
{
    static const int cuts[3] = {2, 4, 8};
    size_t len = strlen(scope);
    int segs = 0, n = 0;

    if (len == 0 || len >= CF_LOCK_SCOPE_MAX || scope[0] != '/')
        return 0;
    for (size_t i = 0; i <= len && n < 3; i++) {
        if (i > 0 && (scope[i] == '/' || scope[i] == '\0')) {
            segs++;
            if (segs == cuts[n]) {
                memcpy(out[n], scope, i);
                out[n][i] = '\0';
                n++;
            }
        }
    }
    return n;
}

/* ---------------- records ---------------- */

void cf_lock_release(struct cf_lock *l)
{
    if (!l)
        return;
    free(l->notes);
    free(l->owners_json);
    l->notes = l->owners_json = NULL;
}

/* Fills l from r, borrowing r's strings. */
static void lock_view(struct cf_lock *l, const struct cf_rec_lock *r)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->scope, sizeof(l->scope), "%s", r->scope);
    snprintf(l->name, sizeof(l->name), "%s", r->name);
    l->level = r->level == CF_LOCK_READ_ONLY ? CF_LOCK_READ_ONLY : CF_LOCK_CAN_NOT_DELETE;
    l->notes = r->notes ? r->notes : (char *)(uintptr_t) "";
    l->owners_json = r->owners_json ? r->owners_json : (char *)(uintptr_t) "[]";
    l->created = r->created;
    l->updated = r->updated;
}

/* Fills l from r, moving r's strings into l (r keeps none). */
static cf_err lock_take(struct cf_lock *l, struct cf_rec_lock *r)
{
    lock_view(l, r);
    l->notes = r->notes ? r->notes : cf_str_dup(CF_STR(""));
    l->owners_json = r->owners_json ? r->owners_json : cf_str_dup(CF_STR("[]"));
    r->notes = r->owners_json = NULL;
    if (!l->notes || !l->owners_json) {
        cf_lock_release(l);
        return CF_ENOMEM;
    }
    return CF_OK;
}

/* Characters of a UTF-8 text (bytes that do not continue a sequence). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void name_lc(struct cf_str name, char out[CF_LOCK_NAME_MAX + 1])
{
    size_t n = CF_MIN(name.len, (size_t)CF_LOCK_NAME_MAX);
    cf_str_lower((struct cf_str){name.p, n}, out);
    out[n] = '\0';
}

/* ---------------- put / get / delete ---------------- */

struct lock_ctx {
    const struct cf_lock *in;
    const char *scope;
    char name_lc[CF_LOCK_NAME_MAX + 1];
    int64_t now;
    bool created;
    struct cf_rec_lock rec;
};

static cf_err put_fn(struct cf_store_txn *t, void *arg)
{
    struct lock_ctx *c = arg;
    struct cf_rec_lock r;
    cf_err e;

    memset(&r, 0, sizeof(r));
    snprintf(r.scope, sizeof(r.scope), "%s", c->in->scope);
    snprintf(r.name, sizeof(r.name), "%s", c->in->name);
    r.level = (int)c->in->level;
    r.notes = c->in->notes;             /* borrowed */
    r.owners_json = c->in->owners_json; /* borrowed */
    r.created = r.updated = c->now;
    e = cf_store_lock_put(t, &r, &c->created);
    if (!e)
        e = cf_store_lock_get(t, r.scope, c->name_lc, &c->rec);
    return e;
}

cf_err cf_lock_put(struct cf_vault_svc *svc, const struct cf_lock *in, bool *created,
                   struct cf_lock *out)
{
    struct lock_ctx c;
    struct cf_str name;
    cf_err e;

    if (!svc || !in || !out || in->scope[0] != '/')
        return CF_EINVAL;
    name = cf_str_from(in->name);
    if (!cf_lock_name_valid(name))
        return CF_EBADNAME;
    if (!cf_lock_level_name(in->level) || (in->notes && utf8_chars(in->notes) > CF_LOCK_NOTES_MAX))
        return CF_EBADPARAM;
    memset(&c, 0, sizeof(c));
    c.in = in;
    c.now = cf_vault_now(svc);
    name_lc(name, c.name_lc);
    e = cf_store_write(svc->store, put_fn, &c);
    if (!e)
        e = lock_take(out, &c.rec);
    if (!e && created)
        *created = c.created;
    cf_rec_lock_release(&c.rec);
    return e;
}

static cf_err get_fn(struct cf_store_txn *t, void *arg)
{
    struct lock_ctx *c = arg;
    return cf_store_lock_get(t, c->scope, c->name_lc, &c->rec);
}

cf_err cf_lock_get(struct cf_vault_svc *svc, const char *scope, struct cf_str name,
                   struct cf_lock *out)
{
    struct lock_ctx c;
    cf_err e;

    if (!svc || !scope || !out)
        return CF_EINVAL;
    if (!cf_lock_name_valid(name))
        return CF_ENOTFOUND;
    memset(&c, 0, sizeof(c));
    c.scope = scope;
    name_lc(name, c.name_lc);
    e = cf_store_read(svc->store, get_fn, &c);
    if (!e)
        e = lock_take(out, &c.rec);
    cf_rec_lock_release(&c.rec);
    return e;
}

static cf_err delete_fn(struct cf_store_txn *t, void *arg)
{
    struct lock_ctx *c = arg;
    return cf_store_lock_delete(t, c->scope, c->name_lc);
}

cf_err cf_lock_delete(struct cf_vault_svc *svc, const char *scope, struct cf_str name)
{
    struct lock_ctx c;

    if (!svc || !scope)
        return CF_EINVAL;
    if (!cf_lock_name_valid(name))
        return CF_ENOTFOUND;
    memset(&c, 0, sizeof(c));
    c.scope = scope;
    name_lc(name, c.name_lc);
    return cf_store_write(svc->store, delete_fn, &c);
}

/* ---------------- list ---------------- */

struct list_ctx {
    const char *scope;
    bool below;
    cf_lock_cb cb;
    void *arg;
    /* the check's accumulator (when cb is NULL) */
    struct cf_lock_hit *hit;
};

static cf_err list_each(const struct cf_rec_lock *r, void *arg)
{
    struct list_ctx *c = arg;
    struct cf_lock l;

    if (!c->cb) {
        enum cf_lock_level lv =
            r->level == CF_LOCK_READ_ONLY ? CF_LOCK_READ_ONLY : CF_LOCK_CAN_NOT_DELETE;
        if (lv > c->hit->level) {
            c->hit->level = lv;
            snprintf(c->hit->scope, sizeof(c->hit->scope), "%s", r->scope);
        }
        return CF_OK;
    }
    lock_view(&l, r);
    return c->cb(&l, c->arg);
}

static cf_err list_fn(struct cf_store_txn *t, void *arg)
{
    struct list_ctx *c = arg;
    char up[3][CF_LOCK_SCOPE_MAX];
    int n = ancestors(c->scope, up);
    cf_err e = CF_OK;

    if (n == 0)
        return CF_EINVAL;
    /* the scope itself is the last ancestor; the subtree walk repeats it, so skip it there */
    for (int i = 0; i < n - (c->below ? 1 : 0) && !e; i++)
        e = cf_store_lock_list_at(t, up[i], list_each, c);
    if (!e && c->below)
        e = cf_store_lock_list_subtree(t, c->scope, list_each, c);
    return e;
}

cf_err cf_lock_list(struct cf_vault_svc *svc, const char *scope, bool below, cf_lock_cb cb,
                    void *arg)
{
    struct list_ctx c = {.scope = scope, .below = below, .cb = cb, .arg = arg};

    if (!svc || !scope || !cb)
        return CF_EINVAL;
    return cf_store_read(svc->store, list_fn, &c);
}

/* ---------------- the check ---------------- */

cf_err cf_vault_lock_check(struct cf_vault_svc *svc, const char *sub, const char *rg,
                           const char *vault, bool below, struct cf_lock_hit *out)
{
    char scope[CF_LOCK_SCOPE_MAX];
    struct list_ctx c;
    cf_err e;

    if (!svc || !out)
        return CF_EINVAL;
    memset(out, 0, sizeof(*out));
    e = cf_lock_scope(sub, rg, vault, scope);
    if (e)
        return e;
    memset(&c, 0, sizeof(c));
    c.scope = scope;
    c.below = below;
    c.hit = out;
    return cf_store_read(svc->store, list_fn, &c);
}

cf_err cf_vault_lock_level(struct cf_vault_svc *svc, const char *sub, const char *rg,
                           const char *vault, enum cf_lock_level *level)
{
    struct cf_lock_hit h;
    cf_err e = cf_vault_lock_check(svc, sub, rg, vault, false, &h);

    *level = e ? CF_LOCK_NONE : h.level;
    return e;
}

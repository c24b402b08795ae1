/* certs_acme.c - the vault's side of the ACME issuer (vault.h "the ACME issuer"): the walk of
 * inProgress orders for the server's driver, their completion and failure by vault name, and
 * the per-(vault, issuer) ACME account key.
 *
 * The account key lives in the store's meta as "acme.account.<vault id>.<issuer lc>", sealed
 * under the vault's data key with AAD "acmeaccount\0<vault id>\0<issuer lc>" (the barrier of
 * every key here); its URL at the ACME server in "acme.url.<vault id>.<issuer lc>". */
#include "base/cf.h"
#include "base/json.h"
#include "base/log.h"

#include "store/store_certs.h"
#include "vault/certs_int.h"

#define WALK_BATCH 32
#define META_KEY_MAX (32 + 21 + CF_CERT_ISSUER_MAX)
#define ACCOUNT_SEALED_MAX (4 * 1024)

/* ---------------- the walk ---------------- */

struct walk_item {
    int64_t vault_id;
    char name[CF_MAX_NAME_LEN + 1];
};

struct walk_ctx {
    int64_t after_id;
    bool more;
    struct walk_item items[WALK_BATCH];
    size_t n;
};

static cf_err walk_cb(const struct cf_rec_cert_obj *o, void *arg)
{
    struct walk_ctx *c = arg;
    c->after_id = o->id;
    if (c->n < WALK_BATCH) {
        c->items[c->n].vault_id = o->vault_id;
        snprintf(c->items[c->n].name, sizeof(c->items[0].name), "%s", o->name);
        c->n++;
    }
    return CF_OK;
}

static cf_err walk_fn(struct cf_store_txn *t, void *arg)
{
    struct walk_ctx *c = arg;
    c->n = 0;
    return cf_store_cert_list_in_progress(t, c->after_id, WALK_BATCH, walk_cb, c, &c->more);
}

static bool str_copy(const struct cf_json *j, char *out, size_t outsz)
{
    size_t len;
    const char *s = cf_json_str(j, &len);
    if (!s || len >= outsz || memchr(s, 0, len))
        return false;
    memcpy(out, s, len + 1);
    return true;
}

static void add_domain(struct cf_acme_order *o, const char *d)
{
    if (!d[0] || strlen(d) >= sizeof(o->domains[0]) || o->ndomains == CF_ARRAY_LEN(o->domains))
        return;
    for (size_t i = 0; i < o->ndomains; i++)
        if (strcasecmp(o->domains[i], d) == 0)
            return;
    snprintf(o->domains[o->ndomains++], sizeof(o->domains[0]), "%s", d);
}

/* The CN of a subject "CN=a, O=b" ("" when none). */
static void subject_cn(const char *subject, char *out, size_t n)
{
    const char *p = subject;
    out[0] = '\0';
    while (p && *p) {
        while (*p == ' ' || *p == ',' || *p == ';')
            p++;
        if (strncasecmp(p, "CN=", 3) == 0) {
            size_t len = strcspn(p + 3, ",;");
            while (len && p[3 + len - 1] == ' ')
                len--;
            if (len < n) {
                memcpy(out, p + 3, len);
                out[len] = '\0';
            }
            return;
        }
        p = strpbrk(p, ",;");
    }
}

struct order_read {
    int64_t vault_id;
    char name_lc[CF_MAX_NAME_LEN + 1];
    struct cf_acme_order *o;
    bool is_acme;
};

static cf_err order_fn(struct cf_store_txn *t, void *arg)
{
    struct order_read *r = arg;
    struct cf_acme_order *o = r->o;
    struct cf_rec_cert_obj obj;
    struct cf_rec_cert_pending p;
    struct cf_rec_cert_issuer is;
    struct cf_rec_vault vrec;
    struct cf_cert_policy pol;
    struct cf_json *j = NULL;
    char lc[CF_CERT_ISSUER_MAX + 1], cn[256];
    cf_err e;

    r->is_acme = false;
    memset(&obj, 0, sizeof(obj));
    cf_rec_cert_pending_init(&p);
    cf_rec_cert_issuer_init(&is);
    if ((e = cf_store_vault_get_by_id(t, r->vault_id, &vrec)) != CF_OK)
        goto out;
    snprintf(o->vault, sizeof(o->vault), "%s", vrec.name);
    if (vrec.deleted_date) {
        cf_rec_vault_release(&vrec);
        goto out;
    }
    cf_rec_vault_release(&vrec);
    if ((e = cf_store_cert_obj_get(t, r->vault_id, r->name_lc, &obj)) != CF_OK ||
        (e = cf_store_cert_pending_get(t, obj.id, &p)) != CF_OK)
        goto out;
    if (strcmp(p.status, "inProgress") != 0 || p.priv.len == 0 || !p.issuer_json ||
        cf_json_parse(p.issuer_json, strlen(p.issuer_json), &j, NULL, 0) != CF_OK ||
        !str_copy(cf_json_get(j, "name"), o->issuer, sizeof(o->issuer)))
        goto out;
    cf_str_lower(cf_str_from(o->issuer), lc);
    if (cf_store_cert_issuer_get(t, r->vault_id, lc, &is) != CF_OK ||
        strcasecmp(is.provider, CF_ACME_PROVIDER) != 0)
        goto out;
    snprintf(o->name, sizeof(o->name), "%s", obj.name);
    memcpy(o->request_id, p.request_id, sizeof(o->request_id));
    snprintf(o->directory, sizeof(o->directory), "%s", is.account_id);
    snprintf(o->challenge, sizeof(o->challenge), "http-01");
    if (is.org_json) {
        struct cf_json *org = NULL;
        if (cf_json_parse(is.org_json, strlen(is.org_json), &org, NULL, 0) == CF_OK) {
            const struct cf_json *a = cf_json_get(org, "acme");
            (void)str_copy(cf_json_get(a, "ca_file"), o->ca_file, sizeof(o->ca_file));
            (void)str_copy(cf_json_get(a, "challenge"), o->challenge, sizeof(o->challenge));
            (void)str_copy(cf_json_get(a, "dns_hook"), o->dns_hook, sizeof(o->dns_hook));
            (void)str_copy(cf_json_get(a, "email"), o->email, sizeof(o->email));
            cf_json_free(org);
        }
    }
    cf_buf_reset(&o->csr);
    if ((e = cf_buf_append(&o->csr, p.csr.data, p.csr.len)) != CF_OK)
        goto out;
    o->ndomains = 0;
    if (cf_cert_policy_parse(obj.policy, &pol) == CF_OK) {
        subject_cn(pol.subject, cn, sizeof(cn));
        if (cn[0])
            add_domain(o, cn);
        for (size_t i = 0; i < pol.nsans; i++)
            if (pol.sans[i].kind == CF_SAN_DNS)
                add_domain(o, pol.sans[i].value);
    }
    r->is_acme = o->ndomains > 0;
out:
    cf_json_free(j);
    cf_rec_cert_issuer_release(&is);
    cf_rec_cert_pending_release(&p);
    cf_rec_cert_obj_release(&obj);
    return e == CF_ENOTFOUND ? CF_OK : e;
}

cf_err cf_cert_acme_orders(struct cf_vault_svc *svc, cf_acme_order_cb cb, void *arg)
{
    struct walk_ctx *c = calloc(1, sizeof(*c));
    struct cf_acme_order *o = calloc(1, sizeof(*o));
    cf_err e = CF_OK;

    if (!c || !o) {
        free(c);
        free(o);
        return CF_ENOMEM;
    }
    cf_buf_init(&o->csr, CF_STORE_CERT_DER_MAX);
    do {
        e = cf_store_read(svc->store, walk_fn, c);
        for (size_t i = 0; !e && i < c->n; i++) {
            struct order_read r = {.vault_id = c->items[i].vault_id, .o = o};
            cf_str_lower(cf_str_from(c->items[i].name), r.name_lc);
            e = cf_store_read(svc->store, order_fn, &r);
            if (!e && r.is_acme)
                e = cb(o, arg);
        }
    } while (!e && c->more);
    cf_buf_release(&o->csr);
    free(o);
    free(c);
    return e;
}

cf_err cf_cert_acme_complete(struct cf_vault_svc *svc, const char *vault, const char *name,
                             const char *request_id, struct cf_str chain, char *why, size_t whysz)
{
    struct cf_vault_ref ref;
    cf_err e = cf_vault_resolve(svc, cf_str_from(vault), &ref);
    if (!e)
        e = cf_cert_complete_order(svc, &ref, cf_str_from(name), request_id, chain, why, whysz);
    if (!e)
        cf_info("vault: certificate %s in vault %s issued by its ACME issuer", name, vault);
    return e;
}

cf_err cf_cert_acme_fail(struct cf_vault_svc *svc, const char *vault, const char *name,
                         const char *request_id, const char *message)
{
    struct cf_vault_ref ref;
    cf_err e = cf_vault_resolve(svc, cf_str_from(vault), &ref);
    if (!e)
        e = cf_cert_fail_order(svc, &ref, cf_str_from(name), request_id, message);
    if (!e)
        cf_warn("vault: the ACME order of certificate %s in vault %s failed", name, vault);
    return e;
}

/* ---------------- the account ---------------- */

struct account_ctx {
    char key_name[META_KEY_MAX], url_name[META_KEY_MAX];
    struct cf_buf sealed, url;
    const struct cf_buf *put_sealed; /* write: store this key unless one exists */
    const char *put_url;
    bool have_key;
};

static cf_err account_fn(struct cf_store_txn *t, void *arg)
{
    struct account_ctx *c = arg;
    cf_err e;

    cf_buf_reset(&c->sealed);
    cf_buf_reset(&c->url);
    e = cf_store_meta_get(t, c->key_name, &c->sealed);
    c->have_key = e == CF_OK;
    if (e && e != CF_ENOTFOUND)
        return e;
    e = cf_store_meta_get(t, c->url_name, &c->url);
    if (e && e != CF_ENOTFOUND)
        return e;
    if (c->put_sealed && !c->have_key) {
        e = cf_store_meta_put(t, c->key_name, c->put_sealed->data, c->put_sealed->len);
        if (!e)
            e = cf_buf_append(&c->sealed, c->put_sealed->data, c->put_sealed->len);
        c->have_key = e == CF_OK;
        return e;
    }
    if (c->put_url)
        return cf_store_meta_put(t, c->url_name, c->put_url, strlen(c->put_url));
    return CF_OK;
}

static size_t account_aad(char *out, size_t n, int64_t vault_id, const char *issuer_lc)
{
    int len = snprintf(out, n, "acmeaccount%c%lld%c%s", 0, (long long)vault_id, 0, issuer_lc);
    return len > 0 ? (size_t)CF_MIN((size_t)len, n - 1) : 0;
}

static cf_err account_setup(struct cf_vault_svc *svc, const char *vault, const char *issuer,
                            struct cf_vault_ref *ref, struct account_ctx *c, char *lc)
{
    cf_err e = cf_vault_resolve(svc, cf_str_from(vault), ref);
    if (e)
        return e;
    if (!issuer || !issuer[0] || strlen(issuer) > CF_CERT_ISSUER_MAX)
        return CF_EINVAL;
    cf_str_lower(cf_str_from(issuer), lc);
    snprintf(c->key_name, sizeof(c->key_name), "acme.account.%lld.%s", (long long)ref->id, lc);
    snprintf(c->url_name, sizeof(c->url_name), "acme.url.%lld.%s", (long long)ref->id, lc);
    cf_buf_init(&c->sealed, ACCOUNT_SEALED_MAX);
    cf_buf_init(&c->url, CF_ACME_URL_MAX);
    return CF_OK;
}

cf_err cf_cert_acme_account(struct cf_vault_svc *svc, const char *vault, const char *issuer,
                            struct cf_kvkey **key, char url[CF_ACME_URL_MAX])
{
    unsigned char dek[CF_AEAD_KEY_LEN];
    char aad[16 + 21 + CF_CERT_ISSUER_MAX + 2], lc[CF_CERT_ISSUER_MAX + 1];
    struct cf_vault_ref ref;
    struct account_ctx c;
    struct cf_secret *blob = NULL;
    struct cf_kvkey *k = NULL;
    struct cf_buf fresh;
    size_t aadlen;
    cf_err e;

    *key = NULL;
    url[0] = '\0';
    memset(&c, 0, sizeof(c));
    cf_buf_init(&fresh, ACCOUNT_SEALED_MAX);
    if ((e = account_setup(svc, vault, issuer, &ref, &c, lc)) != CF_OK)
        goto out;
    aadlen = account_aad(aad, sizeof(aad), ref.id, lc);
    if ((e = cf_store_read(svc->store, account_fn, &c)) != CF_OK)
        goto out;
    if ((e = cf_vault_dek(svc, &ref, dek)) != CF_OK)
        goto out;
    if (!c.have_key) {
        /* first use: a new EC P-256 account key (ES256), sealed; a concurrent first use wins
         * the race in the write (the stored one is used either way) */
        e = cf_kvkey_generate_ec(CF_CRV_P256, &k);
        if (!e)
            e = cf_kvkey_to_blob(k, &blob);
        if (!e)
            e = cf_aead_seal(dek, aad, aadlen, blob->p, blob->len, &fresh);
        cf_secret_free(blob);
        blob = NULL;
        cf_kvkey_free(k);
        k = NULL;
        c.put_sealed = &fresh;
        if (!e)
            e = cf_store_write(svc->store, account_fn, &c);
    }
    if (!e)
        e = cf_aead_open(dek, aad, aadlen, c.sealed.data, c.sealed.len, &blob);
    cf_wipe(dek, sizeof(dek));
    if (!e)
        e = cf_kvkey_from_blob(blob->p, blob->len, key);
    if (e && e != CF_ENOMEM && e != CF_ENOTFOUND && e != CF_EINVAL && e != CF_ESTORE)
        e = CF_ECORRUPT;
    if (!e && c.url.len < CF_ACME_URL_MAX) {
        memcpy(url, c.url.data ? c.url.data : "", c.url.len);
        url[c.url.len] = '\0';
    }
out:
    cf_secret_free(blob);
    cf_buf_release(&fresh);
    cf_buf_release(&c.sealed);
    cf_buf_release(&c.url);
    return e;
}

cf_err cf_cert_acme_account_set_url(struct cf_vault_svc *svc, const char *vault, const char *issuer,
                                    const char *url)
{
    char lc[CF_CERT_ISSUER_MAX + 1];
    struct cf_vault_ref ref;
    struct account_ctx c;
    cf_err e;

    memset(&c, 0, sizeof(c));
    if (!url || strlen(url) >= CF_ACME_URL_MAX)
        return CF_EINVAL;
    e = account_setup(svc, vault, issuer, &ref, &c, lc);
    c.put_url = url;
    if (!e)
        e = cf_store_write(svc->store, account_fn, &c);
    cf_buf_release(&c.sealed);
    cf_buf_release(&c.url);
    return e;
}

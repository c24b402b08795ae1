/* keys_managed.c - the keys API's guard for certificate-owned keys (azure-kv-certificates.md
 * §2): a certificate's key versions are "managed"; they change only through the certificate
 * (certs.c writes them through keys_import_int.c, never through keys.c), so the keys API's
 * writes - create, import, rotate (a new version) and update, delete, recover, purge - refuse
 * a name whose latest key version is managed. keys.c calls this once at the top of its two
 * write paths (add_version, write_and_take); it lives here so keys.c gains only those calls.
 *
 * The check is its own read before the write: a certificate created on the name between the
 * two is still safe, because certs.c refuses a name that holds a key no certificate owns. */
#include "base/cf.h"

#include "store/store_keys.h"
#include "vault/certs_int.h"

struct managed_ctx {
    int64_t vault_id;
    const char *name_lc;
    bool managed;
};

static cf_err managed_fn(struct cf_store_txn *t, void *arg)
{
    struct managed_ctx *c = arg;
    struct cf_rec_key_obj obj;
    struct cf_rec_key_ver latest;
    cf_err e;

    c->managed = false;
    e = cf_store_key_obj_get(t, c->vault_id, c->name_lc, &obj);
    if (e == CF_ENOTFOUND || (!e && obj.latest_seq == 0))
        return CF_OK;
    if (e)
        return e;
    memset(&latest, 0, sizeof(latest));
    e = cf_store_key_ver_get(t, obj.id, obj.latest_seq, NULL, false, &latest);
    if (!e)
        c->managed = latest.managed;
    cf_rec_key_ver_release(&latest);
    return e == CF_ENOTFOUND ? CF_OK : e;
}

cf_err cf_key_refuse_managed(struct cf_vault_svc *svc, const struct cf_vault_ref *v,
                             const char *name_lc)
{
    struct managed_ctx c = {v->id, name_lc, false};
    cf_err e = cf_store_read(svc->store, managed_fn, &c);

    if (!e && c.managed)
        e = CF_EFORBIDDEN;
    return e;
}

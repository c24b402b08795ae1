/* cmd_lock.c - `coffer lock create / list / show / delete` with az lock's arguments and result
 * shape (azure-mgmt-resource ManagementLockObject through todict: id, level, name, notes,
 * owners, type; resourceGroup is added by the global transform), against the server's
 * Microsoft.Authorization/locks at the subscription, a resource group or a vault
 * (api-version 2016-09-01, what az uses).
 *
 * Map: options - shape - scope from the arguments - the four commands. */
#include "base/cf.h"
#include "cli/cmd_lock.h"

#define LOCK_API "api-version=2016-09-01"
#define LOCKS "/providers/Microsoft.Authorization/locks"

/* clang-format off */
#define O_RG {"--resource-group", "-g", OPT_STR, false, "Name of resource group (omit for a subscription lock)."}
#define O_RES {"--resource", NULL, OPT_STR, false, "Name or ID of the resource being locked (a Key Vault)."}
#define O_RTYPE {"--resource-type", NULL, OPT_STR, false, "The resource type of the resource being locked: Microsoft.KeyVault/vaults (or vaults with --namespace)."}
#define O_NS {"--namespace", NULL, OPT_STR, false, "Provider namespace (Microsoft.KeyVault)."}
#define O_PARENT {"--parent", NULL, OPT_STR, false, "The parent resource path (Key Vaults have none)."}
#define O_END {NULL, NULL, OPT_STR, false, NULL}

const struct cf_cli_opt cf_cli_o_lock_create[] = {
    {"--name", "-n", OPT_STR, true, "Name of the lock."},
    {"--lock-type", "-t", OPT_STR, true, "The type of lock restriction: CanNotDelete, ReadOnly."},
    O_RG, O_RES, O_RTYPE, O_NS, O_PARENT,
    {"--notes", NULL, OPT_STR, false, "Notes about this lock."},
    O_END};
const struct cf_cli_opt cf_cli_o_lock_list[] = {
    O_RG, O_RES, O_RTYPE, O_NS, O_PARENT,
    {"--filter-string", NULL, OPT_STR, false, "A query filter to use to restrict the results (atScope())."},
    O_END};
const struct cf_cli_opt cf_cli_o_lock_named[] = {
    {"--name", "-n", OPT_STR, false, "Name of the lock."},
    O_RG, O_RES, O_RTYPE, O_NS, O_PARENT,
    {"--ids", NULL, OPT_STR, false, "The ID of the lock. If provided, no other 'Resource Id' arguments should be specified."},
    O_END};
/* clang-format on */

/* ---- shape ---- */

struct cf_val *cf_cli_shape_lock(const struct cf_val *arm)
{
    const struct cf_val *p = cf_val_get(arm, "properties");
    struct cf_val *o = cf_val_obj();

    if (!o || cf_val_set(o, "id", cf_cli_copy(cf_val_get(arm, "id"))) ||
        cf_val_set(o, "level", cf_cli_copy(cf_val_get(p, "level"))) ||
        cf_val_set(o, "name", cf_cli_copy(cf_val_get(arm, "name"))) ||
        cf_val_set(o, "notes", cf_cli_copy(cf_val_get(p, "notes"))) ||
        cf_val_set(o, "owners", cf_cli_copy(cf_val_get(p, "owners"))) ||
        cf_val_set(o, "type", cf_cli_copy(cf_val_get(arm, "type")))) {
        cf_val_unref(o);
        return NULL;
    }
    return o;
}

/* ---- scope ---- */

cf_err cf_cli_lock_scope(const char *sub, const char *rg, const char *res, const char *rtype,
                         const char *ns, char *out, size_t n, char *err, size_t errlen)
{
    char type[256];
    int w;

    err[0] = '\0';
    if (res && res[0] == '/') { /* a resource id: the scope as given */
        w = snprintf(out, n, "%s", res);
        if (w < 0 || (size_t)w >= n || !strcasestr(res, "/providers/Microsoft.KeyVault/vaults/")) {
            snprintf(err, errlen, "--resource '%s' is not the id of a Key Vault.", res);
            return CF_EINVAL;
        }
        return CF_OK;
    }
    if (res) {
        if (!rg) {
            snprintf(err, errlen, "--resource-group is required with --resource.");
            return CF_EINVAL;
        }
        if (!rtype) {
            snprintf(err, errlen, "--resource-type is required with --resource.");
            return CF_EINVAL;
        }
        snprintf(type, sizeof(type), "%s%s%s", ns && !strchr(rtype, '/') ? ns : "",
                 ns && !strchr(rtype, '/') ? "/" : "", rtype);
        if (strcasecmp(type, "Microsoft.KeyVault/vaults") != 0) {
            snprintf(err, errlen,
                     "The resource type '%s' is not supported: only Microsoft.KeyVault/vaults "
                     "can be locked here.",
                     type);
            return CF_EINVAL;
        }
        w = snprintf(out, n,
                     "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s",
                     sub, rg, res);
    } else if (rg) {
        w = snprintf(out, n, "/subscriptions/%s/resourceGroups/%s", sub, rg);
    } else {
        w = snprintf(out, n, "/subscriptions/%s", sub);
    }
    if (w < 0 || (size_t)w >= n) {
        snprintf(err, errlen, "The lock's scope is too long.");
        return CF_EINVAL;
    }
    return CF_OK;
}

/* {mgmt}{scope}/providers/Microsoft.Authorization/locks[/name]?api-version; the scope's
 * names are percent-encoded segment by segment. Returns an exit code or 0. */
static int lock_url(struct cf_cli_run *r, const char *name, char *url, size_t n)
{
    char scope[1024], err[256], aud[600], enc[1536], seg[400], eseg[1200];
    const char *p;
    size_t k = 0;

    if (cf_cli_lock_scope(r->prof.subscription_id, cf_cli_arg(r, "--resource-group"),
                          cf_cli_arg(r, "--resource"), cf_cli_arg(r, "--resource-type"),
                          cf_cli_arg(r, "--namespace"), scope, sizeof(scope), err,
                          sizeof(err)) != CF_OK)
        return cf_cli_fail(r, 2, "%s", err);
    enc[0] = '\0';
    for (p = scope; *p == '/';) {
        size_t len = strcspn(p + 1, "/");
        snprintf(seg, sizeof(seg), "%.*s", (int)CF_MIN(len, sizeof(seg) - 1), p + 1);
        cf_cli_pct(seg, eseg, sizeof(eseg));
        k += (size_t)snprintf(enc + k, sizeof(enc) - CF_MIN(k, sizeof(enc)), "/%s", eseg);
        if (k >= sizeof(enc))
            return cf_cli_fail(r, 2, "The lock's scope is too long.");
        p += 1 + len;
    }
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    if (name) {
        cf_cli_pct(name, seg, sizeof(seg));
        snprintf(url, n, "%s%s" LOCKS "/%s?" LOCK_API, aud, enc, seg);
    } else {
        snprintf(url, n, "%s%s" LOCKS "?" LOCK_API, aud, enc);
    }
    return 0;
}

/* The URL of the lock show/delete address: --ids, or --name with the scope arguments. */
static int named_url(struct cf_cli_run *r, char *url, size_t n)
{
    const char *ids = cf_cli_arg(r, "--ids"), *name = cf_cli_arg(r, "--name");
    char aud[600];

    if (ids) {
        if (ids[0] != '/' || !strcasestr(ids, LOCKS "/"))
            return cf_cli_fail(r, 2, "--ids '%s' is not the id of a lock.", ids);
        cf_cli_mgmt_audience(r, aud, sizeof(aud));
        snprintf(url, n, "%s%s?" LOCK_API, aud, ids);
        return 0;
    }
    if (!name)
        return cf_cli_fail(r, 2, "the following arguments are required: --name (or --ids)");
    return lock_url(r, name, url, n);
}

/* ---- commands ---- */

int cf_cli_cmd_lock_create(struct cf_cli_run *r)
{
    const char *type = cf_cli_arg(r, "--lock-type"), *notes = cf_cli_arg(r, "--notes");
    struct cf_val *body = NULL, *props = NULL;
    char url[4096];
    const char *level;
    int rc;

    if (!strcasecmp(type, "CanNotDelete"))
        level = "CanNotDelete";
    else if (!strcasecmp(type, "ReadOnly"))
        level = "ReadOnly";
    else
        return cf_cli_fail(r, 2,
                           "argument --lock-type/-t: invalid choice: '%s' (choose from "
                           "'CanNotDelete', 'ReadOnly')",
                           type);
    if ((rc = lock_url(r, cf_cli_arg(r, "--name"), url, sizeof(url))) != 0)
        return rc;
    body = cf_val_obj();
    props = cf_val_obj();
    if (!body || !props || cf_val_set(props, "level", cf_val_str(level)) ||
        (notes && cf_val_set(props, "notes", cf_val_str(notes))) ||
        cf_val_set(body, "properties", cf_val_ref(props))) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    rc = cf_cli_mgmt_show(r, "PUT", url, body, cf_cli_shape_lock);
out:
    cf_val_unref(props);
    cf_val_unref(body);
    return rc;
}

int cf_cli_cmd_lock_list(struct cf_cli_run *r)
{
    const char *filter = cf_cli_arg(r, "--filter-string");
    char url[4096], ef[512];
    int rc;

    if ((rc = lock_url(r, NULL, url, sizeof(url))) != 0)
        return rc;
    if (filter) {
        cf_cli_pct(filter, ef, sizeof(ef));
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "&$filter=%s", ef);
    }
    return cf_cli_mgmt_list(r, url, cf_cli_shape_lock);
}

/* show (shape) and delete (NULL: prints nothing) of the lock --ids or --name names. */
static int named_call(struct cf_cli_run *r, const char *method, cf_cli_shape_fn shape)
{
    char url[4096];
    int rc;
    if ((rc = named_url(r, url, sizeof(url))) != 0)
        return rc;
    return cf_cli_mgmt_show(r, method, url, NULL, shape);
}

int cf_cli_cmd_lock_show(struct cf_cli_run *r)
{
    return named_call(r, "GET", cf_cli_shape_lock);
}

int cf_cli_cmd_lock_delete(struct cf_cli_run *r)
{
    return named_call(r, "DELETE", NULL);
}

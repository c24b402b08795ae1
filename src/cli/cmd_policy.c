/* cmd_policy.c - a vault's access rules from the command line, as az does them: `keyvault
 * set-policy` / `delete-policy` (access policies, azure-kv-security-ops.md §3.4) and `keyvault
 * network-rule add / remove / list` (§4).
 *
 * Every change is az's client-side read-modify-write: GET the vault, change its
 * accessPolicies or networkAcls, PUT the whole vault back (location, tags, properties), and
 * print the vault as `keyvault show` does. (The server's incremental accessPolicies/{kind}
 * route is not used: its `add` merges lists where az's set-policy replaces each given list.)
 *
 * Map: vault lookup (find its group, GET, PUT back) - policy merge (pure) - set-policy /
 * delete-policy - network rules. */
#include "base/cf.h"
#include "cli/cmd_identity.h"
#include "cli/cmd_lock.h"

#define VAULT_API CF_CLI_VAULT_API

/* clang-format off */
#define O_NAME {"--name", "-n", OPT_STR, true, "Name of the Key Vault."}
#define O_RG {"--resource-group", "-g", OPT_STR, false, "Proceed only if Key Vault belongs to the specified resource group."}
#define O_END {NULL, NULL, OPT_STR, false, NULL}

const struct cf_cli_opt cf_cli_o_set_policy[] = {
    O_NAME, O_RG,
    {"--object-id", NULL, OPT_STR, false, "A GUID that identifies the principal that will receive permissions."},
    {"--spn", NULL, OPT_STR, false, "Name (appId) of a service principal that will receive permissions."},
    {"--upn", NULL, OPT_STR, false, "Name of a user principal that will receive permissions (not supported: Coffer has no users)."},
    {"--application-id", NULL, OPT_STR, false, "Application ID of the client making request on behalf of a principal (compound identity)."},
    {"--key-permissions", NULL, OPT_LIST, false, "Space-separated list of key permissions to assign."},
    {"--secret-permissions", NULL, OPT_LIST, false, "Space-separated list of secret permissions to assign."},
    {"--certificate-permissions", NULL, OPT_LIST, false, "Space-separated list of certificate permissions to assign."},
    {"--storage-permissions", NULL, OPT_LIST, false, "Space-separated list of storage permissions to assign."},
    {"--no-wait", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    O_END};
const struct cf_cli_opt cf_cli_o_delete_policy[] = {
    O_NAME, O_RG,
    {"--object-id", NULL, OPT_STR, false, "A GUID that identifies the principal whose permissions are removed."},
    {"--spn", NULL, OPT_STR, false, "Name (appId) of a service principal whose permissions are removed."},
    {"--upn", NULL, OPT_STR, false, "Name of a user principal (not supported: Coffer has no users)."},
    {"--application-id", NULL, OPT_STR, false, "Application ID of a compound identity."},
    {"--no-wait", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    O_END};
const struct cf_cli_opt cf_cli_o_network_rule[] = {
    O_NAME, O_RG,
    {"--ip-address", NULL, OPT_LIST, false, "IPv4 address or CIDR range. Can supply a list: --ip-address ip1 [ip2]..."},
    {"--vnet-name", NULL, OPT_STR, false, "Name of a virtual network (not supported)."},
    {"--subnet", NULL, OPT_STR, false, "Name or ID of a subnet (not supported)."},
    {"--no-wait", NULL, OPT_FLAG, false, "Accepted for az compatibility."},
    O_END};
const struct cf_cli_opt cf_cli_o_network_rule_list[] = {O_NAME, O_RG, O_END};
/* clang-format on */

/* ---- vault lookup ---- */

static void vault_url(struct cf_cli_run *r, const char *rg, const char *name, char *url, size_t n)
{
    char aud[600], erg[400], en[200];
    cf_cli_mgmt_audience(r, aud, sizeof(aud));
    cf_cli_pct(rg, erg, sizeof(erg));
    cf_cli_pct(name, en, sizeof(en));
    snprintf(
        url, n,
        "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.KeyVault/vaults/%s?" VAULT_API,
        aud, r->prof.subscription_id, erg, en);
}

/* GETs vault --name (its group from -g, else found by listing the subscription's vaults) into
 * h; rg gets the group. Returns an exit code or 0. */
static int vault_get(struct cf_cli_run *r, char *rg, size_t rgn, struct cf_cli_http *h)
{
    const char *name = cf_cli_arg(r, "--name");
    char url[2048];
    int rc;

    if ((rc = cf_cli_vault_group(r, name, rg, rgn, 1)) != 0)
        return rc;
    vault_url(r, rg, name, url, sizeof(url));
    return cf_cli_mgmt_call(r, "GET", url, NULL, h);
}

/* PUTs the vault v (as read, changed) back whole and prints the result. */
static int vault_put_back(struct cf_cli_run *r, const char *rg, const struct cf_val *v)
{
    struct cf_val *body = cf_val_obj();
    char url[2048];
    int rc;

    if (!body || cf_val_set(body, "location", cf_cli_copy(cf_val_get(v, "location"))) ||
        cf_val_set(body, "tags", cf_cli_copy(cf_val_get(v, "tags"))) ||
        cf_val_set(body, "properties", cf_cli_copy(cf_val_get(v, "properties")))) {
        cf_val_unref(body);
        return cf_cli_fail(r, 1, "out of memory");
    }
    vault_url(r, rg, cf_cli_arg(r, "--name"), url, sizeof(url));
    rc = cf_cli_mgmt_show(r, "PUT", url, body, cf_cli_shape_vault);
    cf_val_unref(body);
    return rc;
}

/* properties.<key> of v, created as an empty value of type t when absent or null. */
static struct cf_val *prop_slot(struct cf_val *v, const char *key, enum cf_val_type t)
{
    struct cf_val *p = cf_val_get(v, "properties"), *s;

    if (!p || p->type != CF_VAL_OBJ)
        return NULL;
    s = cf_val_get(p, key);
    if (s && s->type == t)
        return s;
    if (cf_val_set(p, key, t == CF_VAL_ARR ? cf_val_arr() : cf_val_obj()) != CF_OK)
        return NULL;
    return cf_val_get(p, key);
}

/* ---- policy merge (pure) ---- */

static bool str_ci(const struct cf_val *v, const char *s)
{
    if (!s || !s[0])
        return !v || v->type == CF_VAL_NULL || (v->type == CF_VAL_STR && !v->s[0]);
    return v && v->type == CF_VAL_STR && strcasecmp(v->s, s) == 0;
}

static bool entry_matches(const struct cf_val *e, const char *tenant, const char *oid,
                          const char *appid)
{
    return str_ci(cf_val_get(e, "tenantId"), tenant) && str_ci(cf_val_get(e, "objectId"), oid) &&
           str_ci(cf_val_get(e, "applicationId"), appid);
}

/* The given values, de-duplicated case-insensitively (first spelling kept). */
static struct cf_val *perm_list(const struct cf_cli_arg *a)
{
    struct cf_val *l = cf_val_arr();
    for (size_t i = 0; l && i < a->nlist; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcasecmp(a->list[i], a->list[j]) == 0;
        if (!dup && cf_val_push(l, cf_val_str(a->list[i])) != CF_OK) {
            cf_val_unref(l);
            l = NULL;
        }
    }
    return l;
}

cf_err cf_cli_policy_set(struct cf_val *policies, const char *tenant, const char *oid,
                         const char *appid, const struct cf_cli_arg *const perms[4])
{
    static const char *const kinds[4] = {"keys", "secrets", "certificates", "storage"};
    struct cf_val *e = NULL, *p;

    if (!policies || policies->type != CF_VAL_ARR || !tenant || !oid)
        return CF_EINVAL;
    for (size_t i = 0; i < policies->n && !e; i++)
        if (entry_matches(policies->items[i], tenant, oid, appid))
            e = policies->items[i];
    if (!e) {
        e = cf_val_obj();
        if (!e)
            return CF_ENOMEM;
        if (cf_val_set(e, "tenantId", cf_val_str(tenant)) ||
            cf_val_set(e, "objectId", cf_val_str(oid)) ||
            (appid && appid[0] && cf_val_set(e, "applicationId", cf_val_str(appid))) ||
            cf_val_set(e, "permissions", cf_val_obj())) {
            cf_val_unref(e);
            return CF_ENOMEM;
        }
        if (cf_val_push(policies, e) != CF_OK) /* consumes e */
            return CF_ENOMEM;
    }
    p = cf_val_get(e, "permissions");
    if (!p || p->type != CF_VAL_OBJ) {
        if (cf_val_set(e, "permissions", cf_val_obj()) != CF_OK)
            return CF_ENOMEM;
        p = cf_val_get(e, "permissions");
    }
    for (size_t k = 0; k < 4; k++)
        if (perms[k] && perms[k]->present && cf_val_set(p, kinds[k], perm_list(perms[k])))
            return CF_ENOMEM;
    return CF_OK;
}

cf_err cf_cli_policy_delete(struct cf_val *policies, const char *tenant, const char *oid,
                            const char *appid, size_t *removed)
{
    size_t k = 0;

    *removed = 0;
    if (!policies || policies->type != CF_VAL_ARR || !tenant || !oid)
        return CF_EINVAL;
    for (size_t i = 0; i < policies->n; i++) {
        if (entry_matches(policies->items[i], tenant, oid, appid)) {
            cf_val_unref(policies->items[i]);
            (*removed)++;
        } else {
            policies->items[k++] = policies->items[i];
        }
    }
    policies->n = k;
    return CF_OK;
}

/* ---- set-policy / delete-policy ---- */

/* The principal's object id from --object-id or --spn (an appId, or an object id). */
static int principal_oid(struct cf_cli_run *r, char oid[37])
{
    const char *o = cf_cli_arg(r, "--object-id"), *spn = cf_cli_arg(r, "--spn");
    char ptype[32];
    int n = (o != NULL) + (spn != NULL) + (cf_cli_arg(r, "--upn") != NULL);

    if (n != 1)
        return cf_cli_fail(r, 2, "specify exactly one: --object-id, --spn, --upn");
    if (cf_cli_arg(r, "--upn"))
        return cf_cli_fail(r, 1,
                           "--upn is not supported: Coffer has no user principals. Use "
                           "--object-id or --spn.");
    if (o) {
        if (!cf_cli_is_guid(o))
            return cf_cli_fail(r, 2, "--object-id '%s' is not a GUID.", o);
        snprintf(oid, 37, "%s", o);
        return 0;
    }
    return cf_cli_resolve_assignee(r, spn, false, oid, ptype);
}

/* Shared by set-policy and delete-policy: GET, refuse RBAC vaults, change, PUT back. */
static int policy_cmd(struct cf_cli_run *r, bool set)
{
    const struct cf_cli_arg *perms[4] = {
        cf_cli_argv(r, "--key-permissions"), cf_cli_argv(r, "--secret-permissions"),
        cf_cli_argv(r, "--certificate-permissions"), cf_cli_argv(r, "--storage-permissions")};
    const char *appid = cf_cli_arg(r, "--application-id");
    struct cf_cli_http h = {0};
    const struct cf_val *tenant;
    struct cf_val *pols;
    char oid[37], rg[256];
    size_t removed = 0;
    int rc;

    if (set && !(perms[0] || perms[1] || perms[2] || perms[3]))
        return cf_cli_fail(r, 2,
                           "specify at least one: --key-permissions, --secret-permissions, "
                           "--certificate-permissions --storage-permissions");
    if ((rc = principal_oid(r, oid)) != 0 || (rc = vault_get(r, rg, sizeof(rg), &h)) != 0)
        return rc;
    if (cf_val_truthy(cf_val_path(h.body, "properties.enableRbacAuthorization"))) {
        rc = cf_cli_fail(r, 1,
                         "Cannot %s policies to a vault with "
                         "'--enable-rbac-authorization' specified",
                         set ? "set" : "delete");
        goto out;
    }
    tenant = cf_val_path(h.body, "properties.tenantId");
    pols = prop_slot(h.body, "accessPolicies", CF_VAL_ARR);
    if (!pols || !tenant || tenant->type != CF_VAL_STR) {
        rc = cf_cli_fail(r, 1, "the service answered a vault without properties.tenantId");
        goto out;
    }
    if (set ? cf_cli_policy_set(pols, tenant->s, oid, appid, perms) != CF_OK
            : cf_cli_policy_delete(pols, tenant->s, oid, appid, &removed) != CF_OK) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    if (!set && removed == 0) {
        rc = cf_cli_fail(r, 1, "No matching policies found");
        goto out;
    }
    rc = vault_put_back(r, rg, h.body);
out:
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_vault_set_policy(struct cf_cli_run *r)
{
    return policy_cmd(r, true);
}

int cf_cli_cmd_vault_delete_policy(struct cf_cli_run *r)
{
    return policy_cmd(r, false);
}

/* ---- network rules ---- */

/* "1.2.3.4/32" and "1.2.3.4" name the same rule (the service keeps single addresses bare). */
static bool same_ip(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 3 && !strcmp(a + la - 3, "/32"))
        la -= 3;
    if (lb > 3 && !strcmp(b + lb - 3, "/32"))
        lb -= 3;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static int network_rule_cmd(struct cf_cli_run *r, bool add)
{
    const struct cf_cli_arg *ips = cf_cli_argv(r, "--ip-address");
    struct cf_cli_http h = {0};
    struct cf_val *acls, *rules;
    char rg[256];
    int rc;

    if (cf_cli_arg(r, "--vnet-name") || cf_cli_arg(r, "--subnet"))
        return cf_cli_fail(r, 1,
                           "virtual network rules are not supported: Coffer has no "
                           "virtual networks. Use --ip-address.");
    if (!ips || ips->nlist == 0)
        return cf_cli_fail(r, 2, "the following arguments are required: --ip-address");
    if ((rc = vault_get(r, rg, sizeof(rg), &h)) != 0)
        return rc;
    acls = prop_slot(h.body, "networkAcls", CF_VAL_OBJ);
    rules = acls ? cf_val_get(acls, "ipRules") : NULL;
    if (acls && (!rules || rules->type != CF_VAL_ARR)) {
        if (cf_val_set(acls, "ipRules", cf_val_arr()) != CF_OK)
            acls = NULL;
        rules = cf_val_get(acls, "ipRules");
    }
    if (!acls || !rules) {
        rc = cf_cli_fail(r, 1, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ips->nlist; i++) {
        size_t k = 0;
        bool found = false;
        for (size_t j = 0; j < rules->n; j++) {
            const struct cf_val *v = cf_val_get(rules->items[j], "value");
            bool same = v && v->type == CF_VAL_STR && same_ip(v->s, ips->list[i]);
            found = found || same;
            if (!add && same)
                cf_val_unref(rules->items[j]);
            else
                rules->items[k++] = rules->items[j];
        }
        rules->n = k;
        if (add && !found) {
            struct cf_val *rule = cf_val_obj();
            if (!rule || cf_val_set(rule, "value", cf_val_str(ips->list[i])) ||
                cf_val_push(rules, rule)) {
                rc = cf_cli_fail(r, 1, "out of memory");
                goto out;
            }
        }
    }
    rc = vault_put_back(r, rg, h.body);
out:
    cf_cli_http_release(&h);
    return rc;
}

int cf_cli_cmd_network_rule_add(struct cf_cli_run *r)
{
    return network_rule_cmd(r, true);
}

int cf_cli_cmd_network_rule_remove(struct cf_cli_run *r)
{
    return network_rule_cmd(r, false);
}

int cf_cli_cmd_network_rule_list(struct cf_cli_run *r)
{
    struct cf_cli_http h = {0};
    const struct cf_val *acls;
    struct cf_val *o;
    char rg[256];
    int rc;

    if ((rc = vault_get(r, rg, sizeof(rg), &h)) != 0)
        return rc;
    acls = cf_val_path(h.body, "properties.networkAcls");
    o = cf_val_obj();
    if (!o || cf_val_set(o, "ipRules", cf_cli_copy(cf_val_get(acls, "ipRules"))) ||
        cf_val_set(o, "virtualNetworkRules",
                   cf_cli_copy(cf_val_get(acls, "virtualNetworkRules")))) {
        cf_val_unref(o);
        o = NULL;
    }
    cf_cli_http_release(&h);
    r->result = o;
    return o ? 0 : cf_cli_fail(r, 1, "out of memory");
}
